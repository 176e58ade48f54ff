/*
 * evfd.c - checking and signalling a peer's eventfds (see evfd.h).
 *
 * The type test is the kernel's own name for the file:
 * /proc/self/fd/N reads "anon_inode:[eventfd]" for an eventfd and for
 * nothing else.  Where /proc is not mounted (a sandbox), the fallback is
 * weaker but still safe: the fd must sit on the anonymous inode every
 * eventfd shares (compared with an eventfd of our own), so pipes, sockets
 * and files are refused; any other anonymous-inode file rejects an 8-byte
 * write or is the peer's own object.
 *
 * O_NONBLOCK lives in the open file description, which the peer shares:
 * it could clear it again with fcntl().  evfd_signal() therefore sets it
 * again whenever it finds it cleared and asks poll() first, so the only
 * window left is a peer that clears the flag and fills the counter
 * between those calls and the write (docs/security.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/evfd.h"

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* the anonymous inode all eventfds share, as ours has it */
static int same_inode_as_eventfd(const struct stat *st)
{
	struct stat ref;
	int e = eventfd(0, EFD_CLOEXEC), rc;

	if (e < 0)
		return -errno;
	rc = fstat(e, &ref) ? -errno : 0;
	close(e);
	if (rc)
		return rc;
	return st->st_dev == ref.st_dev && st->st_ino == ref.st_ino ? 0
								    : -EINVAL;
}

int evfd_check(int fd)
{
	static const char want[] = "anon_inode:[eventfd]";
	char path[64], name[sizeof(want) + 1];
	struct stat st;
	ssize_t n;
	int rc;

	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st))
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, name, sizeof(name) - 1);
	if (n >= 0) {
		name[n] = 0;
		if (strcmp(name, want))
			return -EINVAL;
	} else {
		rc = same_inode_as_eventfd(&st);
		if (rc)
			return rc;
	}
	return set_nonblock(fd);
}

int evfd_signal(int fd)
{
	const uint64_t one = 1;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int rc = set_nonblock(fd);

	if (rc)
		return rc;
	/* POLLOUT: the counter has room for at least 1 */
	if (poll(&p, 1, 0) < 0)
		return -errno;
	if (p.revents & (POLLERR | POLLNVAL))
		return -EBADF;
	if (!(p.revents & POLLOUT))
		return -EAGAIN;
	if (write(fd, &one, sizeof(one)) == (ssize_t)sizeof(one))
		return 0;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}
