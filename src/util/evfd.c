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
 * again whenever it finds it cleared and asks poll() first; and because a
 * peer can still clear the flag and fill the counter between those calls
 * and the write, the write itself runs under a one-shot timer of this
 * thread (a real-time signal whose handler does nothing, installed
 * without SA_RESTART): a write that blocks returns EINTR after GUARD_NS
 * and counts as a full counter.  A write that does not block is done long
 * before the timer, which is disarmed right after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
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

#define GUARD_NS 20000000L /* 20 ms: far beyond a write that does not block */
#define GUARD_SIGNAL (SIGRTMIN + 4)

static void guard_handler(int sig)
{
	(void)sig; /* only there to interrupt a blocked write */
}

static __thread timer_t guard_timer;
static __thread bool guard_ready;

/* This thread's timer, created on first use; 0 or -errno. */
static int guard_init(void)
{
	struct sigaction sa = { .sa_handler = guard_handler };
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID };
	sigset_t set;

	if (guard_ready)
		return 0;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the blocked write returns EINTR */
	if (sigaction(GUARD_SIGNAL, &sa, NULL))
		return -errno;
	sigemptyset(&set);
	sigaddset(&set, GUARD_SIGNAL);
	if (pthread_sigmask(SIG_UNBLOCK, &set, NULL))
		return -EINVAL;
	sev.sigev_signo = GUARD_SIGNAL;
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &guard_timer))
		return -errno;
	guard_ready = true;
	return 0;
}

int evfd_write_guarded(int fd)
{
	const uint64_t one = 1;
	const struct itimerspec arm = { .it_value = { 0, GUARD_NS } };
	const struct itimerspec off = { { 0, 0 }, { 0, 0 } };
	ssize_t n;
	int e, rc = guard_init();

	if (rc)
		return rc; /* without the guard, do not risk the write */
	if (timer_settime(guard_timer, 0, &arm, NULL))
		return -errno;
	n = write(fd, &one, sizeof(one));
	e = errno;
	timer_settime(guard_timer, 0, &off, NULL);
	if (n == (ssize_t)sizeof(one))
		return 0;
	if (n >= 0)
		return -EIO;
	return e == EINTR || e == EWOULDBLOCK ? -EAGAIN : -e;
}

int evfd_signal(int fd)
{
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
	return evfd_write_guarded(fd);
}
