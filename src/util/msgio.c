/*
 * msgio.c - see msgio.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/msgio.h"

void msgio_init(struct msgio *m, int fd, uint8_t *rx, size_t rx_cap,
		size_t out_max)
{
	memset(m, 0, sizeof(*m));
	m->fd = fd;
	m->rx = rx;
	m->rx_cap = rx_cap;
	m->out_max = out_max;
}

static void close_rx_fds(struct msgio *m)
{
	for (unsigned i = 0; i < m->rx_nfds; i++)
		if (m->rx_fds[i] >= 0)
			close(m->rx_fds[i]);
	m->rx_nfds = 0;
}

void msgio_fini(struct msgio *m)
{
	close_rx_fds(m);
	while (m->out) {
		struct msgio_chunk *c = m->out;

		m->out = c->next;
		if (c->fd >= 0)
			close(c->fd);
		free(c);
	}
	m->out_tail = m->out_ref = NULL;
	m->out_bytes = 0;
}

int msgio_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	return 0;
}

static int rx_error(int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		return 0;
	return e == EPIPE || e == ECONNRESET ? -ECONNRESET : -e;
}

/* One recvmsg into [at, at+len), collecting fds. */
static ssize_t recv_with_fds(struct msgio *m, void *at, size_t len)
{
	char ctrl[CMSG_SPACE(sizeof(int) * MSGIO_MAX_FDS)];
	struct iovec iov = { at, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctrl,
			     .msg_controllen = sizeof(ctrl) };
	ssize_t n;

	do
		n = recvmsg(m->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
	     cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
			if (m->rx_nfds < MSGIO_MAX_FDS) {
				m->rx_fds[m->rx_nfds++] = f;
			} else {
				close(f);
				m->rx_ctrunc = true;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		m->rx_ctrunc = true;
	return n;
}

int msgio_fill(struct msgio *m, size_t want)
{
	uint8_t scratch[4096];

	while (m->skip) {
		size_t k = m->skip > sizeof(scratch) ? sizeof(scratch)
						     : (size_t)m->skip;
		ssize_t n = recv(m->fd, scratch, k, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rx_error(errno);
		if (n == 0)
			return -ECONNRESET;
		m->skip -= (uint64_t)n;
		m->bytes_in += (unsigned long)n;
	}
	if (want > m->rx_cap)
		return -EMSGSIZE;
	while (m->rx_have < want) {
		ssize_t n;

		/* fds travel with the first bytes of a message */
		if (!m->rx_have)
			n = recv_with_fds(m, m->rx, want);
		else
			n = recv(m->fd, m->rx + m->rx_have, want - m->rx_have,
				 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rx_error(errno);
		if (n == 0)
			return -ECONNRESET;
		m->rx_have += (size_t)n;
		m->bytes_in += (unsigned long)n;
	}
	return 1;
}

void msgio_skip(struct msgio *m, uint64_t len)
{
	m->skip = len;
}

void msgio_next(struct msgio *m)
{
	close_rx_fds(m);
	m->rx_have = 0;
	m->rx_ctrunc = false;
}

static ssize_t send_iov(struct msgio *m, const struct iovec *iov,
			unsigned niov, int fd)
{
	char ctrl[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = niov };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl;
		mh.msg_controllen = sizeof(ctrl);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do
		n = sendmsg(m->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return errno == EPIPE ? -ECONNRESET : -errno;
	if (n < 0)
		return 0;
	m->bytes_out += (unsigned long)n;
	return n;
}

int msgio_flush(struct msgio *m)
{
	while (m->out) {
		struct msgio_chunk *c = m->out;
		struct iovec iov = { (void *)(c->data + c->off), c->len - c->off };
		ssize_t n = send_iov(m, &iov, 1, c->off ? -1 : c->fd);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return 1;
		if (c->fd >= 0) {
			close(c->fd); /* it went with the first byte */
			c->fd = -1;
		}
		c->off += (size_t)n;
		m->out_bytes -= (size_t)n;
		if (c->off < c->len)
			return 1;
		m->out = c->next;
		if (!m->out)
			m->out_tail = NULL;
		if (m->out_ref == c)
			m->out_ref = NULL;
		free(c);
	}
	return 0;
}

/* Queue len bytes: a copy, or (ref) a pointer into the caller's buffer. */
static int enqueue(struct msgio *m, const uint8_t *p, size_t len, int fd,
		   bool ref)
{
	struct msgio_chunk *c = malloc(sizeof(*c) + (ref ? 0 : len));

	if (!c)
		return -ENOMEM;
	c->next = NULL;
	c->len = len;
	c->off = 0;
	c->fd = -1;
	if (fd >= 0) {
		c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* ours until it goes */
		if (c->fd < 0) {
			int e = -errno;

			free(c);
			return e;
		}
	}
	if (ref) {
		c->data = p;
		m->out_ref = c;
	} else {
		memcpy(c->own, p, len);
		c->data = c->own;
	}
	if (m->out_tail)
		m->out_tail->next = c;
	else
		m->out = c;
	m->out_tail = c;
	m->out_bytes += len;
	return 0;
}

static int send_common(struct msgio *m, const struct iovec *iov,
		       unsigned niov, int fd, bool ref)
{
	size_t total = 0, sent = 0;
	int rc = 0;

	if (ref && m->out_ref)
		return -EBUSY; /* one referenced buffer at a time */
	for (unsigned i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if (!m->out) {
		ssize_t n = send_iov(m, iov, niov, fd);

		if (n < 0)
			return (int)n;
		sent = (size_t)n;
		if (sent == total)
			return 0;
		if (sent)
			fd = -1; /* it went with the first byte */
	}
	if (m->out_bytes + (total - sent) > m->out_max)
		return -ENOBUFS;
	/* what is left of each piece; only the last may stay referenced */
	for (unsigned i = 0; i < niov && !rc; i++) {
		size_t len = iov[i].iov_len;
		const uint8_t *p = iov[i].iov_base;

		if (sent >= len) {
			sent -= len;
			continue;
		}
		rc = enqueue(m, p + sent, len - sent, fd, ref && i == niov - 1);
		fd = -1;
		sent = 0;
	}
	return rc;
}

int msgio_send(struct msgio *m, const struct iovec *iov, unsigned niov,
	       int fd)
{
	return send_common(m, iov, niov, fd, false);
}

int msgio_send_ref(struct msgio *m, const struct iovec *iov, unsigned niov,
		   int fd)
{
	return send_common(m, iov, niov, fd, true);
}

int msgio_unref(struct msgio *m)
{
	struct msgio_chunk *r = m->out_ref, *c, **at = &m->out;
	size_t left;

	if (!r)
		return 0;
	left = r->len - r->off;
	c = malloc(sizeof(*c) + left);
	if (!c)
		return -ENOMEM;
	c->next = r->next;
	c->len = left;
	c->off = 0;
	c->fd = r->fd; /* -1 once its first byte went */
	c->data = c->own;
	memcpy(c->own, r->data + r->off, left);
	while (*at != r)
		at = &(*at)->next;
	*at = c;
	if (m->out_tail == r)
		m->out_tail = c;
	m->out_ref = NULL;
	free(r);
	return 0;
}

static int wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int msgio_wait_readable(const struct msgio *m)
{
	return wait_fd(m->fd, POLLIN);
}

int msgio_flush_wait(struct msgio *m)
{
	int rc;

	while ((rc = msgio_flush(m)) == 1)
		if ((rc = wait_fd(m->fd, POLLOUT)))
			return rc;
	return rc;
}
