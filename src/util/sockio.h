/*
 * sockio.h - whole-message socket I/O shared by the front ends and the
 * client: read or send exactly n bytes, and receive a header together
 * with the fds that travel with it (SCM_RIGHTS; extras beyond the caller's
 * room are closed, never leaked).  A peer that went away is -ECONNRESET.
 */
#ifndef PTDM_SOCKIO_H
#define PTDM_SOCKIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

int sockio_read_full(int fd, void *buf, size_t len);
int sockio_send_full(int fd, const void *buf, size_t len);
/* The same, with nfds (at most SOCKIO_MAX_FDS) fds riding on the first byte. */
#define SOCKIO_MAX_FDS 16
int sockio_send_fds(int fd, const void *buf, size_t len, const int *fds,
		    unsigned nfds);
/*
 * recvmsg of up to len header bytes with MSG_WAITALL; fds collected into
 * fds[0..max).  Returns the bytes read (0: the peer closed) or -errno;
 * *ctrunc tells whether the kernel truncated the control data.
 */
ssize_t sockio_recv_fds(int fd, void *buf, size_t len, int *fds,
			unsigned max, unsigned *nfds, bool *ctrunc);

#endif
