/*
 * fileio.c - see fileio.h.  One loop for the three calls: off < 0 means
 * "at the file position" (write only; a negative offset is never valid
 * for pread/pwrite, which is why it can mean that).
 */
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "util/fileio.h"

static int transfer(int fd, void *buf, size_t len, off_t off, bool out)
{
	size_t done = 0;

	while (done < len) {
		char *p = (char *)buf + done;
		size_t left = len - done;
		ssize_t n;

		if (!out)
			n = pread(fd, p, left, off + (off_t)done);
		else if (off < 0)
			n = write(fd, p, left);
		else
			n = pwrite(fd, p, left, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int fileio_pread_full(int fd, void *buf, size_t len, off_t off)
{
	return off < 0 ? -EINVAL : transfer(fd, buf, len, off, false);
}

int fileio_pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	return off < 0 ? -EINVAL : transfer(fd, (void *)buf, len, off, true);
}

int fileio_write_full(int fd, const void *buf, size_t len)
{
	return transfer(fd, (void *)buf, len, -1, true);
}
