/*
 * msgio.h - non-blocking framed message I/O over a stream socket, shared
 * by the vfio-user and mpqemu front ends.
 *
 * Input: the caller asks msgio_fill() for "the first N bytes of the current
 * message" (first the header, then header + payload once it has decoded
 * the length); it returns 1 when they are there, 0 when the socket has no
 * more for now (call again on the next wake-up: partial data is kept), or
 * a negative errno (-ECONNRESET: the peer went away).  fds (SCM_RIGHTS)
 * are collected while the header is read; reads never go past the
 * requested size, so the fds of the next message are never mixed in.
 * msgio_skip() discards a payload the caller will not keep, without
 * buffering it.  msgio_next() ends the message (its fds must have been
 * taken or are closed).
 *
 * Output: msgio_send() tries to write at once; what the socket does not
 * take is copied to a queue bounded by out_max (-ENOBUFS when it would
 * overflow: the peer is not reading, drop it) and written by msgio_flush()
 * when the socket is writable (msgio_send_ref: without copying the
 * payload, below).  An fd goes with the first byte of its message.
 * Nothing here ever blocks.
 */
#ifndef PTDM_MSGIO_H
#define PTDM_MSGIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define MSGIO_MAX_FDS 16

struct msgio_chunk {
	struct msgio_chunk *next;
	size_t len, off;
	int fd; /* sent with byte 0 of the chunk, then closed; -1: none */
	const uint8_t *data; /* own, or the caller's buffer (msgio_send_ref) */
	uint8_t own[];
};

struct msgio {
	int fd;
	/* input */
	uint8_t *rx;       /* the caller's buffer */
	size_t rx_cap;
	size_t rx_have;    /* bytes of the current message read so far */
	uint64_t skip;     /* payload bytes still to discard */
	int rx_fds[MSGIO_MAX_FDS];
	unsigned rx_nfds;
	bool rx_ctrunc;    /* the kernel dropped fds: the message is bad */
	/* output */
	struct msgio_chunk *out, *out_tail;
	struct msgio_chunk *out_ref; /* the queued chunk in the caller's buffer */
	size_t out_bytes, out_max;
	unsigned long bytes_in, bytes_out;
};

void msgio_init(struct msgio *m, int fd, uint8_t *rx, size_t rx_cap,
		size_t out_max);
/* Close queued fds, received fds, free the queue; the socket is left. */
void msgio_fini(struct msgio *m);
int msgio_fill(struct msgio *m, size_t want);
/* Start discarding len payload bytes; msgio_fill(m, 0) drains them. */
void msgio_skip(struct msgio *m, uint64_t len);
void msgio_next(struct msgio *m);
int msgio_send(struct msgio *m, const struct iovec *iov, unsigned niov,
	       int fd);
/*
 * msgio_send() without the copy of the last piece: what the socket does
 * not take of it stays in the caller's buffer, which must not change
 * until msgio_ref_busy() is false (the flush wrote it) or msgio_unref()
 * copied it into the queue.  One such buffer at a time (-EBUSY).  The
 * common case - a peer that reads its replies - never copies a large
 * reply; a peer that sends more before reading costs one copy, bounded
 * like every queued byte.
 */
int msgio_send_ref(struct msgio *m, const struct iovec *iov, unsigned niov,
		   int fd);
int msgio_unref(struct msgio *m);
static inline bool msgio_ref_busy(const struct msgio *m)
{
	return m->out_ref != NULL;
}
/* 0: all written, 1: some left (wait for EPOLLOUT), or -errno */
int msgio_flush(struct msgio *m);
static inline bool msgio_pending(const struct msgio *m)
{
	return m->out != NULL;
}

/*
 * For tools and tests that own one connection (never the serving loop):
 * wait until the socket is readable, or write out everything queued,
 * waiting for the socket.  0 or -errno.
 */
int msgio_wait_readable(const struct msgio *m);
int msgio_flush_wait(struct msgio *m);

/* Put a socket or pipe in non-blocking mode; 0 or -errno. */
int msgio_nonblock(int fd);

#endif
