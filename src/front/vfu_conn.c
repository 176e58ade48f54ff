/*
 * vfu_conn.c - one vfio-user connection: frame messages without blocking,
 * check each against the command table, act on the device, queue the
 * reply.
 *
 * Every message is checked against a const table {command, payload size
 * bounds, fds allowed} before a handler sees it, and handlers check every
 * field before allocating or touching the device.  A bad message gets an
 * error reply (header only, errno in `error`) and the connection stays
 * usable; only a stream that cannot be resynchronised (a size below the
 * header, a payload too large to drain) is dropped.  Received fds that a
 * handler does not keep are closed.  Log lines a client can trigger are
 * rate-limited per connection.
 *
 * Nothing here blocks (src/util/msgio.c): a partial header or payload is
 * kept until the rest arrives, a reply the socket does not take is queued
 * (bounded by VFU_OUT_MAX: a client that does not read is dropped), and
 * one wake-up handles at most `budget` messages so a busy client cannot
 * starve the others in the loop.  The receive and reply buffers are
 * mmap'ed at their full size and only touched as far as messages go, so
 * an idle connection costs a few pages.
 *
 * Server-to-client DMA_READ/WRITE (for a device that reaches guest memory
 * the client gave without an fd) is a request whose reply arrives among
 * the client's commands; vfu_conn_dma_start() completes it by callback,
 * so the loop never waits for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "front/vfu_priv.h"

#define HDR sizeof(struct vfu_hdr)
#define MAX_DRAIN (64u << 20)
#define BUF_SIZE (HDR + MAX_PAYLOAD)
#define BUF_KEEP (64u << 10) /* resident bytes kept when idle */
#define TRIM_AFTER 64u /* small messages after a big one before its pages go */

void vfu_conn_warn(struct vfu_conn *c, const char *what, int err)
{
	ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN, "vfio-user: %s: %s", what,
			     strerror(err));
}

/* ---- transport ---- */

/* A reply's payload in c->tx is sent without a copy (msgio_send_ref). */
static int send_msg(struct vfu_conn *c, const struct vfu_hdr *h,
		    const void *payload, uint32_t len, int fd)
{
	struct iovec iov[2] = { { (void *)h, HDR }, { (void *)payload, len } };
	int rc = len && payload == c->tx
			 ? msgio_send_ref(&c->io, iov, 2, fd)
			 : msgio_send(&c->io, iov, len ? 2 : 1, fd);

	if (rc == -ENOBUFS)
		ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN, "vfio-user: the "
				     "client does not read its replies (%zu "
				     "bytes queued): dropping it",
				     c->io.out_bytes);
	return rc;
}

static int send_reply(struct vfu_conn *c, const struct vfu_hdr *req,
		      int error, const void *payload, uint32_t len, int fd)
{
	struct vfu_hdr h = {
		.msg_id = req->msg_id,
		.cmd = req->cmd,
		.msg_size = (uint32_t)HDR + (error ? 0 : len),
		.flags = VFU_F_REPLY | (error ? VFU_F_ERROR : 0),
		.error = (uint32_t)error,
	};

	return send_msg(c, &h, payload, error ? 0 : len,
			error ? -1 : fd);
}

/* ---- dispatch ---- */

static int h_server_only(struct vfu_conn *c, struct msg *m)
{
	return -EINVAL; /* DMA_READ/WRITE go from server to client */
}

struct cmd_desc {
	const char *name;
	uint32_t min, max; /* payload bytes */
	uint8_t max_fds;
	int (*fn)(struct vfu_conn *c, struct msg *m);
};

static const struct cmd_desc cmds[VFU_CMD_MAX] = {
	[VFU_VERSION] = { "VERSION", 4, 4096, 0, vfu_h_version },
	[VFU_DMA_MAP] = { "DMA_MAP", 32, 32, 1, vfu_h_dma_map },
	[VFU_DMA_UNMAP] = { "DMA_UNMAP", 24, 24, 1, vfu_h_dma_unmap },
	[VFU_DEVICE_GET_INFO] = { "DEVICE_GET_INFO", 16, 16, 0,
				  vfu_h_device_info },
	[VFU_DEVICE_GET_REGION_INFO] = { "GET_REGION_INFO", 32, 4096, 0,
					 vfu_h_region_info },
	[VFU_DEVICE_GET_REGION_IO_FDS] = { "GET_REGION_IO_FDS", 16, 16, 0,
					   vfu_h_io_fds },
	[VFU_DEVICE_GET_IRQ_INFO] = { "GET_IRQ_INFO", 16, 16, 0, vfu_h_irq_info },
	[VFU_DEVICE_SET_IRQS] = { "SET_IRQS", 20, 20 + 4 * 2048,
				  VFU_SERVER_MAX_FDS, vfu_h_set_irqs },
	[VFU_REGION_READ] = { "REGION_READ", 16, 16, 0, vfu_h_region_read },
	[VFU_REGION_WRITE] = { "REGION_WRITE", 17,
			       16 + VFU_SERVER_MAX_XFER, 0, vfu_h_region_write },
	[VFU_DMA_READ] = { "DMA_READ", 0, MAX_PAYLOAD, 0, h_server_only },
	[VFU_DMA_WRITE] = { "DMA_WRITE", 0, MAX_PAYLOAD, 0, h_server_only },
	[VFU_DEVICE_RESET] = { "DEVICE_RESET", 0, 0, 0, vfu_h_reset },
	[VFU_REGION_WRITE_MULTI] = { "REGION_WRITE_MULTI", 8 + 24,
				     8 + 24 * 4096, 0, vfu_h_write_multi },
	[VFU_DEVICE_FEATURE] = { "DEVICE_FEATURE", 8,
				 8 + 16 + 16 * VFU_LOG_MAX_RANGES, 0,
				 vfu_h_feature },
	[VFU_MIG_DATA_READ] = { "MIG_DATA_READ", 8, 8, 0, vfu_h_mig_read },
	[VFU_MIG_DATA_WRITE] = { "MIG_DATA_WRITE", 8, MAX_PAYLOAD, 0,
				 vfu_h_mig_write },
};

static void *buf_map(void)
{
	void *p = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int vfu_conn_init(struct vfu_conn *c, int fd, struct ptdm_dev *dev)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->dev = dev;
	c->peer_max_fds = 1;
	c->peer_max_xfer = VFU_SERVER_MAX_XFER;
	c->intx_unmask_fd = -1;
	c->rx = buf_map();
	c->tx = buf_map();
	if (!c->rx || !c->tx) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = msgio_nonblock(fd);
	if (rc)
		goto fail;
	msgio_init(&c->io, fd, c->rx, BUF_SIZE, VFU_OUT_MAX);
	return 0;
fail:
	if (c->rx)
		munmap(c->rx, BUF_SIZE);
	if (c->tx)
		munmap(c->tx, BUF_SIZE);
	c->rx = c->tx = NULL;
	c->fd = -1;
	return rc;
}

static void dma_req_done(struct vfu_conn *c, int rc)
{
	struct vfu_dma_req r = c->dma_req;

	c->dma_req.busy = false;
	if (r.cb)
		r.cb(c, rc, r.opaque);
}

void vfu_conn_close(struct vfu_conn *c)
{
	if (c->dma_req.busy)
		dma_req_done(c, -ECONNRESET);
	for (unsigned i = 0; i < c->ndma; i++)
		vfu_dma_unmap_one(c, &c->dma[i]);
	free(c->dma);
	c->dma = NULL;
	c->ndma = 0;
	vfu_irq_release(c);
	vfu_mig_drop(c);
	vfu_log_drop(c);
	msgio_fini(&c->io);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->rx)
		munmap(c->rx, BUF_SIZE);
	if (c->tx)
		munmap(c->tx, BUF_SIZE);
	c->rx = c->tx = NULL;
}

/*
 * Give back the pages large messages touched - but not after each one: a
 * migration or a big region access comes as a run of 1 MiB messages, and
 * faulting 2 MiB of buffers in again for every one of them costs more
 * than the copy itself.  The pages go after TRIM_AFTER small messages in
 * a row (and never while a reply still sends from tx).
 */
static void note_size(struct vfu_conn *c, size_t rx_used, size_t tx_used)
{
	if (rx_used > BUF_KEEP || tx_used > BUF_KEEP) {
		c->hot = TRIM_AFTER;
		return;
	}
	if (!c->hot || --c->hot)
		return;
	if (msgio_ref_busy(&c->io)) {
		c->hot = 1; /* next time */
		return;
	}
	madvise(c->rx + BUF_KEEP, BUF_SIZE - BUF_KEEP, MADV_DONTNEED);
	madvise(c->tx + BUF_KEEP, BUF_SIZE - BUF_KEEP, MADV_DONTNEED);
}

/* Act on one command and queue the reply. */
static int process(struct vfu_conn *c, struct msg *m)
{
	const struct vfu_hdr *hdr = m->hdr;
	const struct cmd_desc *cd = NULL;
	int rc;

	if (c->io.rx_ctrunc)
		rc = -EMSGSIZE;
	else if (hdr->cmd >= VFU_CMD_MAX || !cmds[hdr->cmd].fn)
		rc = -ENOSYS;
	else if (!c->versioned && hdr->cmd != VFU_VERSION)
		rc = -EINVAL;
	else {
		cd = &cmds[hdr->cmd];
		if (m->len < cd->min || m->len > cd->max)
			rc = -EINVAL;
		else if (m->nfds > cd->max_fds)
			rc = -EINVAL;
		else
			rc = cd->fn(c, m);
	}
	if (rc) {
		c->errors++;
		vfu_conn_warn(c, cd ? cd->name : "bad message", -rc);
	}
	if (hdr->flags & VFU_F_NO_REPLY)
		rc = 0;
	else
		rc = send_reply(c, hdr, rc < 0 ? -rc : 0, m->r, m->rlen,
				m->rfd);
	note_size(c, HDR + m->len, m->rlen);
	return rc;
}

/*
 * QEMU 10.1's layout (hw/vfio-user/protocol.h VFIOUserDMARW), which the
 * spec's table does not match: {u64 address; u32 count; data at 12 after
 * the header}, a request at least 32 bytes long, a DMA_READ reply of 32 +
 * count bytes.  ptdm speaks QEMU's layout (see vfio_user.h).
 */
#define DMARW_HDR 12u
#define DMARW_MIN 32u

/* A reply from the client while a DMA request is in flight: to it. */
static int client_reply(struct vfu_conn *c, const struct vfu_hdr *h,
			const uint8_t *p, uint32_t len)
{
	struct vfu_dma_req *r = &c->dma_req;

	if (h->msg_id != r->id ||
	    h->cmd != (r->write ? VFU_DMA_WRITE : VFU_DMA_READ))
		return -EPROTO; /* a reply to nothing we asked */
	if (h->flags & VFU_F_ERROR)
		dma_req_done(c, h->error && h->error < 4096 ? -(int)h->error
							   : -EIO);
	else if (!r->write && len < DMARW_HDR + r->len)
		dma_req_done(c, -EPROTO);
	else {
		if (!r->write)
			memcpy(r->buf, p + DMARW_HDR, r->len);
		dma_req_done(c, 0);
	}
	return 0;
}

int vfu_conn_input(struct vfu_conn *c, unsigned budget)
{
	int done = 0;

	while ((unsigned)done < budget) {
		const struct vfu_hdr *hdr = (const struct vfu_hdr *)c->rx;
		struct vfu_hdr h;
		struct msg m;
		uint32_t plen;
		int rc = msgio_fill(&c->io, HDR);

		if (rc == -ECONNRESET && c->io.rx_have)
			return -EPROTO; /* gone in the middle of a header */
		if (rc <= 0)
			return rc ? rc : done;
		if (hdr->msg_size < HDR)
			return -EPROTO; /* cannot find the next message */
		plen = hdr->msg_size - (uint32_t)HDR;
		if (plen > MAX_PAYLOAD) {
			if (!c->draining) {
				/* first sight: drain it, then say E2BIG */
				if (plen > MAX_DRAIN)
					return -EPROTO;
				vfu_conn_warn(c, "message too large", E2BIG);
				c->errors++;
				msgio_skip(&c->io, plen);
				c->draining = true;
			}
			rc = msgio_fill(&c->io, 0);
			if (rc <= 0)
				return rc ? rc : done;
			h = *hdr;
			c->draining = false;
			msgio_next(&c->io);
			c->messages++;
			done++;
			if (!(h.flags & VFU_F_NO_REPLY) &&
			    (rc = send_reply(c, &h, E2BIG, NULL, 0, -1)))
				return rc;
			continue;
		}
		rc = msgio_fill(&c->io, HDR + plen);
		if (rc <= 0)
			return rc ? rc : done;
		h = *hdr;
		c->messages++;
		done++;
		if ((h.flags & VFU_F_TYPE_MASK) == VFU_F_REPLY &&
		    c->dma_req.busy) {
			rc = client_reply(c, &h, c->rx + HDR, plen);
			msgio_next(&c->io);
			if (rc)
				return rc;
			continue;
		}
		m = (struct msg){ .hdr = &h, .p = c->rx + HDR, .len = plen,
				  .fds = c->io.rx_fds, .nfds = c->io.rx_nfds,
				  .r = c->tx, .rfd = -1 };
		if ((h.flags & VFU_F_TYPE_MASK) != VFU_F_COMMAND) {
			c->errors++;
			vfu_conn_warn(c, "neither command nor reply", EINVAL);
			rc = h.flags & VFU_F_NO_REPLY
				     ? 0 : send_reply(c, &h, EINVAL, NULL, 0, -1);
		} else if (!(rc = msgio_unref(&c->io))) {
			/* tx is the handler's again: the reply still sending
			 * from it (a client that sent before reading) is
			 * copied into the queue first */
			rc = process(c, &m);
		}
		/* fds a handler kept are -1 now; msgio closes the rest */
		msgio_next(&c->io);
		if (rc)
			return rc;
	}
	return done;
}

int vfu_conn_output(struct vfu_conn *c)
{
	int rc = msgio_flush(&c->io);

	return rc < 0 ? rc : 0;
}

int vfu_conn_handle(struct vfu_conn *c)
{
	for (;;) {
		int rc = vfu_conn_input(c, 1);

		if (rc < 0)
			return rc;
		if (rc > 0)
			return msgio_flush_wait(&c->io);
		rc = msgio_wait_readable(&c->io);
		if (rc)
			return rc;
	}
}

/* ---- server to client DMA ---- */

int vfu_conn_dma_start(struct vfu_conn *c, uint64_t iova, void *buf,
		       size_t len, bool write, vfu_dma_done_fn *cb,
		       void *opaque)
{
	const struct vfu_dma *map = vfu_dma_find(c, iova, len);
	size_t total = DMARW_MIN + (write ? len : 0);
	struct vfu_hdr h;
	uint8_t head[DMARW_MIN - HDR] = { 0 };
	int rc;

	if (!len || len > VFU_SERVER_MAX_XFER || len > c->peer_max_xfer)
		return -E2BIG;
	if (!map)
		return -EFAULT; /* outside every map the client gave */
	if (!(map->prot & (write ? VFU_DMA_WRITE_OK : VFU_DMA_READ_OK)))
		return -EPERM;
	if (write)
		vfu_log_write(c, iova, len); /* dirty even if it fails late */
	if (map->map) {
		uint8_t *p = (uint8_t *)map->map + (iova - map->iova);

		if (write)
			memcpy(p, buf, len);
		else
			memcpy(buf, p, len);
		return 0;
	}
	if (c->dma_req.busy)
		return -EBUSY;
	h = (struct vfu_hdr){
		.msg_id = (uint16_t)(0x8000u | (c->next_dma_id++ & 0x7fffu)),
		.cmd = write ? VFU_DMA_WRITE : VFU_DMA_READ,
		.msg_size = (uint32_t)total, .flags = VFU_F_COMMAND,
	};
	memcpy(head, &iova, 8);
	memcpy(head + 8, &(uint32_t){ (uint32_t)len }, 4);
	{
		/* {address, count} then the data at 12; zero padding to 32 */
		struct iovec iov[3] = { { &h, HDR }, { head, DMARW_HDR },
					{ buf, write ? len : 0 } };
		uint8_t pad[DMARW_MIN] = { 0 };
		struct iovec iovp[4] = { iov[0], iov[1], iov[2],
					 { pad, 0 } };
		size_t body = DMARW_HDR + (write ? len : 0);

		if (HDR + body < total)
			iovp[3].iov_len = total - HDR - body;
		rc = msgio_send(&c->io, iovp, 4, -1);
	}
	if (rc)
		return rc;
	c->dma_req = (struct vfu_dma_req){ .busy = true, .id = h.msg_id,
					   .buf = buf, .len = len,
					   .write = write, .cb = cb,
					   .opaque = opaque };
	return 1; /* in flight: cb tells */
}

struct dma_wait {
	bool done;
	int rc;
};

static void dma_waited(struct vfu_conn *c, int rc, void *opaque)
{
	struct dma_wait *w = opaque;

	w->done = true;
	w->rc = rc;
}

int vfu_conn_dma_rw(struct vfu_conn *c, uint64_t iova, void *buf, size_t len,
		    bool write)
{
	struct dma_wait w = { false, 0 };
	int rc = vfu_conn_dma_start(c, iova, buf, len, write, dma_waited, &w);

	if (rc <= 0)
		return rc;
	/* commands that arrive meanwhile are served */
	while (!w.done) {
		rc = msgio_flush_wait(&c->io);
		if (!rc)
			rc = vfu_conn_handle(c);
		if (rc && !w.done) {
			c->dma_req.cb = NULL;
			c->dma_req.busy = false;
			return rc;
		}
	}
	return w.rc;
}
