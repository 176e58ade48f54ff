/*
 * client_persona.c - the blocking transport and the helpers the client
 * personalities share (client_persona.h): one message out, one in, with
 * the client's own timeout (QEMU's 5 s) or, for clients that wait
 * forever, a guard that says so instead of hanging the test.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/client_persona.h"
#include "util/sockio.h"

#define GUARD_MS 20000 /* for clients without a timeout of their own */

int pc_open(struct pc *p, const char *who, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(p, 0, sizeof(*p));
	p->who = who;
	p->sock = -1;
	p->timeout_ms = timeout_ms > 0 ? timeout_ms : GUARD_MS;
	p->waits_forever = timeout_ms <= 0;
	p->max_fds = 1;
	p->max_xfer = 1 << 20;
	for (unsigned i = 0; i < PC_NUM_REGIONS; i++)
		p->reg[i].fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return pc_fail(p, "%s: socket path too long", path);
	strcpy(sa.sun_path, path);
	p->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->sock < 0 ||
	    connect(p->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		pc_fail(p, "cannot connect to %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

int pc_attach(struct pc *p, const char *who, int sock)
{
	memset(p, 0, sizeof(*p));
	p->who = who;
	p->sock = sock;
	p->timeout_ms = GUARD_MS;
	p->waits_forever = true;
	p->max_fds = 1;
	p->max_xfer = 1 << 20;
	for (unsigned i = 0; i < PC_NUM_REGIONS; i++)
		p->reg[i].fd = -1;
	return 0;
}

void pc_close(struct pc *p)
{
	for (unsigned i = 0; i < p->nmaps; i++)
		munmap(p->maps[i].p, p->maps[i].len);
	for (unsigned i = 0; i < p->nefds; i++)
		close(p->efds[i]);
	for (unsigned i = 0; i < PC_NUM_REGIONS; i++) {
		if (p->reg[i].fd >= 0)
			close(p->reg[i].fd);
		free(p->reg[i].info);
	}
	if (p->sock >= 0)
		close(p->sock);
	p->nmaps = p->nefds = 0;
	p->sock = -1;
}

__attribute__((format(printf, 3, 0)))
static void say(struct pc *p, const char *kind, const char *fmt, va_list ap)
{
	fprintf(stderr, "ptdm client --as %s: %s: ", p->who, kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int pc_fail(struct pc *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(p, "FAIL", fmt, ap);
	va_end(ap);
	return -EPROTO;
}

int pc_warn(struct pc *p, const char *fmt, ...)
{
	va_list ap;

	p->warnings++;
	va_start(ap, fmt);
	say(p, p->check ? "FAIL (warning)" : "warning", fmt, ap);
	va_end(ap);
	return p->check ? -EPROTO : 0;
}

int pc_send(struct pc *p, uint16_t cmd, uint32_t flags, const void *payload,
	    size_t len, const int *fds, unsigned nfds, uint16_t *id)
{
	uint8_t *msg = malloc(sizeof(struct vfu_hdr) + len);
	struct vfu_hdr h = { .msg_id = p->next_id++, .cmd = cmd,
			     .msg_size = (uint32_t)(sizeof(h) + len),
			     .flags = VFU_F_COMMAND | flags };
	int rc;

	if (!msg || nfds > PC_MAX_FDS) {
		free(msg);
		return pc_fail(p, "cannot build a message");
	}
	memcpy(msg, &h, sizeof(h));
	if (len)
		memcpy(msg + sizeof(h), payload, len);
	rc = sockio_send_fds(p->sock, msg, h.msg_size, fds, nfds);
	if (rc) {
		free(msg);
		return pc_fail(p, "sending command %u: %s (the server "
			       "closed the socket?)", cmd, strerror(-rc));
	}
	free(msg);
	p->messages++;
	if (id)
		*id = h.msg_id;
	return 0;
}

int pc_recv(struct pc *p, struct pc_reply *r, unsigned room_fds)
{
	struct pollfd pf = { .fd = p->sock, .events = POLLIN };
	int fds[PC_MAX_FDS];
	unsigned nfds = 0;
	ssize_t n;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = poll(&pf, 1, p->timeout_ms);
	if (rc == 0) {
		if (p->waits_forever)
			return pc_fail(p, "no reply in %d ms: %s has no timeout "
				       "and would wait forever",
				       p->timeout_ms, p->who);
		return pc_fail(p, "timed out waiting for reply (%d ms)",
			       p->timeout_ms);
	}
	if (rc < 0)
		return pc_fail(p, "poll: %s", strerror(errno));
	n = sockio_recv_fds(p->sock, &r->h, sizeof(r->h), fds, PC_MAX_FDS,
			    &nfds, &r->ctrunc);
	/* fds beyond the client's cmsg room: the kernel would truncate */
	while (nfds > room_fds) {
		close(fds[--nfds]);
		r->ctrunc = true;
	}
	if (n == 0)
		return pc_fail(p, "server closed socket");
	if (n < 0 || (size_t)n < sizeof(r->h)) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return pc_fail(p, "short read of header");
	}
	memcpy(r->fds, fds, nfds * sizeof(int));
	r->nfds = nfds;
	if (r->h.msg_size < sizeof(r->h) ||
	    r->h.msg_size - sizeof(r->h) > sizeof(p->buf)) {
		pc_reply_close_fds(r);
		return pc_fail(p, "bad header size %u", r->h.msg_size);
	}
	r->len = r->h.msg_size - sizeof(r->h);
	r->p = p->buf;
	if (r->len && sockio_read_full(p->sock, r->p, r->len)) {
		pc_reply_close_fds(r);
		return pc_fail(p, "server closed socket mid-message");
	}
	return 0;
}

int pc_call(struct pc *p, uint16_t cmd, const void *payload, size_t len,
	    const int *fds, unsigned nfds, unsigned room_fds,
	    struct pc_reply *r)
{
	uint16_t id;
	int rc = pc_send(p, cmd, 0, payload, len, fds, nfds, &id);

	if (rc)
		return rc;
	rc = pc_recv(p, r, room_fds);
	if (rc)
		return rc;
	if ((r->h.flags & VFU_F_TYPE_MASK) != VFU_F_REPLY ||
	    r->h.msg_id != id || r->h.cmd != cmd) {
		pc_reply_close_fds(r);
		return pc_fail(p, "unexpected reply (id %u command %u flags "
			       "%#x to our id %u command %u)", r->h.msg_id,
			       r->h.cmd, r->h.flags, id, cmd);
	}
	return 0;
}

void pc_reply_close_fds(struct pc_reply *r)
{
	for (unsigned i = 0; i < r->nfds; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	r->nfds = 0;
}

int pc_reply_errno(const struct pc_reply *r)
{
	if (!(r->h.flags & VFU_F_ERROR))
		return 0;
	return r->h.error ? -(int)r->h.error : -EIO;
}

int pc_memfd(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int pc_eventfd(struct pc *p)
{
	int fd;

	if (p->nefds == sizeof(p->efds) / sizeof(p->efds[0]))
		return pc_fail(p, "too many eventfds");
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return pc_fail(p, "eventfd: %s", strerror(errno));
	p->efds[p->nefds++] = fd;
	return fd;
}

int pc_map(struct pc *p, int fd, uint64_t off, uint64_t len, int prot,
	   const char *what)
{
	void *m;

	if (p->nmaps == sizeof(p->maps) / sizeof(p->maps[0]))
		return pc_fail(p, "too many maps");
	m = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)off);
	if (m == MAP_FAILED)
		return pc_fail(p, "%s: mmap of fd %d at %#llx+%#llx: %s", what,
			       fd, (unsigned long long)off,
			       (unsigned long long)len, strerror(errno));
	p->maps[p->nmaps].p = m;
	p->maps[p->nmaps].len = len;
	p->nmaps++;
	return 0;
}

long pc_region_cap(const struct pc_region *r, uint16_t id)
{
	size_t off = r->ri.cap_offset;

	for (unsigned hops = 0; off; hops++) {
		struct vfio_info_cap_header h;

		if (hops > 64 || off < sizeof(r->ri) ||
		    off + sizeof(h) > r->info_len)
			return -EPROTO;
		memcpy(&h, r->info + off, sizeof(h));
		if (h.id == id)
			return (long)off;
		off = h.next;
	}
	return 0;
}

unsigned pc_cfg_cap(const struct pc *p, uint8_t id)
{
	unsigned pos = p->cfg[0x34] & 0xfc;

	if (!(p->cfg[6] & 0x10))
		return 0;
	for (unsigned hops = 0; pos >= 0x40 && pos < 256 && hops < 48; hops++) {
		if (p->cfg[pos] == id)
			return pos;
		pos = p->cfg[pos + 1] & 0xfc;
	}
	return 0;
}
