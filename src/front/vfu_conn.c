/*
 * vfu_conn.c - one vfio-user connection: read a message, check it, act on
 * the device, reply.
 *
 * Every message is checked against a const table {command, payload size
 * bounds, fds allowed} before a handler sees it, and handlers check every
 * field before allocating or touching the device.  A bad message gets an
 * error reply (header only, errno in `error`) and the connection stays
 * usable; only a stream that cannot be resynchronised (a header shorter
 * than 16 bytes, a size below the header, a payload too large to drain) is
 * dropped.  Received fds that a handler does not keep are closed.  Log
 * lines a client can trigger are rate-limited per connection.
 *
 * Regions follow VFIO's PCI layout: 0-5 BARs, 6 ROM, 7 config, 8 VGA.
 *
 * With a VFIO host the fast paths skip ptdm: the region fd is the VFIO
 * device fd (the VMM maps BARs itself), the client's eventfds go to
 * VFIO_DEVICE_SET_IRQS as they are (the kernel signals the VMM), and
 * DMA_MAP of an fd maps it into the host IOMMU; a DMA_MAP without an fd is
 * refused, since a real device needs memory it can reach.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "front/vfu_priv.h"
#include "util/sockio.h"

#define MAX_DRAIN (64u << 20)

void vfu_conn_warn(struct vfu_conn *c, const char *what, int err)
{
	ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN, "vfio-user: %s: %s", what,
			     strerror(err));
}

/* ---- transport ---- */

static int send_reply(struct vfu_conn *c, const struct vfu_hdr *req,
		      int error, const void *payload, uint32_t len, int fd)
{
	struct vfu_hdr h = {
		.msg_id = req->msg_id,
		.cmd = req->cmd,
		.msg_size = (uint32_t)sizeof(h) + (error ? 0 : len),
		.flags = VFU_F_REPLY | (error ? VFU_F_ERROR : 0),
		.error = (uint32_t)error,
	};
	struct iovec iov[2] = { { &h, sizeof(h) },
				{ (void *)payload, error ? 0 : len } };
	char ctrl[CMSG_SPACE(sizeof(int))];
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t total = h.msg_size, sent = 0;

	if (fd >= 0 && !error) {
		struct cmsghdr *cm;

		memset(ctrl, 0, sizeof(ctrl));
		m.msg_control = ctrl;
		m.msg_controllen = sizeof(ctrl);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (sent < total) {
		ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EPIPE ? -ECONNRESET : -errno;
		sent += (size_t)n;
		m.msg_control = NULL;
		m.msg_controllen = 0;
		/* advance the iovecs past what went out */
		for (size_t left = (size_t)n; left;) {
			struct iovec *v = m.msg_iov;
			size_t k = left < v->iov_len ? left : v->iov_len;

			v->iov_base = (char *)v->iov_base + k;
			v->iov_len -= k;
			left -= k;
			if (!v->iov_len && m.msg_iovlen > 1) {
				m.msg_iov++;
				m.msg_iovlen--;
			}
		}
	}
	return 0;
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

int vfu_conn_init(struct vfu_conn *c, int fd, struct ptdm_dev *dev)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->dev = dev;
	c->peer_max_fds = 1;
	c->peer_max_xfer = VFU_SERVER_MAX_XFER;
	c->mig_state = VFIO_DEVICE_STATE_RUNNING;
	c->intx_unmask_fd = -1;
	c->buf_size = sizeof(struct vfu_hdr) + MAX_PAYLOAD;
	c->buf = malloc(2 * c->buf_size); /* request, then reply */
	return c->buf ? 0 : -ENOMEM;
}

void vfu_conn_close(struct vfu_conn *c)
{
	for (unsigned i = 0; i < c->ndma; i++)
		vfu_dma_unmap_one(c, &c->dma[i]);
	free(c->dma);
	c->dma = NULL;
	c->ndma = 0;
	vfu_irq_release(c);
	vfu_mig_drop(c);
	vfu_log_drop(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

/* Throw away a payload we will not process, to stay in step. */
static int drain(struct vfu_conn *c, uint64_t len)
{
	while (len) {
		size_t n = len > c->buf_size ? c->buf_size : len;
		int rc = sockio_read_full(c->fd, c->buf, n);

		if (rc)
			return rc;
		len -= n;
	}
	return 0;
}

/* Read one message (header, fds, payload) into m; payload in c->buf. */
static int read_msg(struct vfu_conn *c, struct vfu_hdr *hdr, struct msg *m,
		    int *fds, bool *ctrunc)
{
	uint32_t plen;
	ssize_t n;
	int rc;

	memset(m, 0, sizeof(*m));
	m->hdr = hdr;
	m->fds = fds;
	m->rfd = -1;
	n = sockio_recv_fds(c->fd, hdr, sizeof(*hdr), fds, VFU_SERVER_MAX_FDS,
			    &m->nfds, ctrunc);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return (int)n;
	c->messages++;
	if ((size_t)n < sizeof(*hdr) || hdr->msg_size < sizeof(*hdr))
		return -EPROTO; /* cannot find the next message: drop */
	plen = hdr->msg_size - (uint32_t)sizeof(*hdr);
	if (plen > MAX_PAYLOAD) {
		vfu_conn_warn(c, "message too large", E2BIG);
		c->errors++;
		if (plen > MAX_DRAIN)
			return -EPROTO;
		rc = drain(c, plen);
		if (!rc && !(hdr->flags & VFU_F_NO_REPLY))
			rc = send_reply(c, hdr, E2BIG, NULL, 0, -1);
		return rc ? rc : 1; /* handled */
	}
	m->p = c->buf;
	m->len = plen;
	m->r = c->buf + c->buf_size;
	return sockio_read_full(c->fd, m->p, plen);
}

static void close_fds(struct msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

/* Act on one command and reply to it. */
static int process(struct vfu_conn *c, struct msg *m, bool ctrunc)
{
	const struct vfu_hdr *hdr = m->hdr;
	const struct cmd_desc *cd = NULL;
	int rc;

	if (ctrunc)
		rc = -EMSGSIZE;
	else if ((hdr->flags & VFU_F_TYPE_MASK) != VFU_F_COMMAND)
		rc = -EINVAL;
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
	if (!(hdr->flags & VFU_F_NO_REPLY))
		rc = send_reply(c, hdr, rc < 0 ? -rc : 0, m->r, m->rlen, m->rfd);
	else
		rc = 0;
	close_fds(m);
	return rc;
}

int vfu_conn_handle(struct vfu_conn *c)
{
	int fds[VFU_SERVER_MAX_FDS];
	struct vfu_hdr hdr;
	struct msg m;
	bool ctrunc = false;
	int rc = read_msg(c, &hdr, &m, fds, &ctrunc);

	if (rc) {
		close_fds(&m);
		return rc > 0 ? 0 : rc;
	}
	return process(c, &m, ctrunc);
}

/* ---- server to client DMA ---- */

/*
 * QEMU 10.1's layout (hw/vfio-user/protocol.h VFIOUserDMARW), which the
 * spec's table does not match: {u64 address; u32 count; data at 12 after
 * the header}, a request at least 32 bytes long, a DMA_READ reply of 32 +
 * count bytes.  ptdm speaks QEMU's layout (see vfio_user.h).
 */
#define DMARW_HDR 12u
#define DMARW_MIN 32u

int vfu_conn_dma_rw(struct vfu_conn *c, uint64_t iova, void *buf, size_t len,
		    bool write)
{
	const struct vfu_dma *map = vfu_dma_find(c, iova, len);
	uint16_t id = (uint16_t)(0x8000u | (c->next_dma_id++ & 0x7fffu));
	size_t total = DMARW_MIN + (write ? len : 0);
	uint8_t *req;
	int rc;

	if (!len || len > VFU_SERVER_MAX_XFER || len > c->peer_max_xfer)
		return -E2BIG;
	if (!map)
		return -EFAULT; /* outside every map the client gave */
	if (!(map->prot & (write ? VFU_DMA_WRITE_OK : VFU_DMA_READ_OK)))
		return -EPERM;
	if (write)
		vfu_log_write(c, iova, len); /* dirty even if the write fails late */
	if (map->map) {
		uint8_t *p = (uint8_t *)map->map + (iova - map->iova);

		if (write)
			memcpy(p, buf, len);
		else
			memcpy(buf, p, len);
		return 0;
	}
	req = calloc(1, total);
	if (!req)
		return -ENOMEM;
	*(struct vfu_hdr *)req = (struct vfu_hdr){
		.msg_id = id, .cmd = write ? VFU_DMA_WRITE : VFU_DMA_READ,
		.msg_size = (uint32_t)total, .flags = VFU_F_COMMAND,
	};
	memcpy(req + sizeof(struct vfu_hdr), &iova, 8);
	memcpy(req + sizeof(struct vfu_hdr) + 8, &(uint32_t){ (uint32_t)len }, 4);
	if (write)
		memcpy(req + sizeof(struct vfu_hdr) + DMARW_HDR, buf, len);
	rc = sockio_send_full(c->fd, req, total);
	free(req);
	/* wait for the reply; commands that arrive meanwhile are served */
	while (!rc) {
		int fds[VFU_SERVER_MAX_FDS];
		struct vfu_hdr hdr;
		struct msg m;
		bool ctrunc = false;

		rc = read_msg(c, &hdr, &m, fds, &ctrunc);
		if (rc) {
			close_fds(&m);
			rc = rc > 0 ? 0 : rc;
			continue;
		}
		if ((hdr.flags & VFU_F_TYPE_MASK) == VFU_F_COMMAND) {
			rc = process(c, &m, ctrunc);
			continue;
		}
		close_fds(&m);
		if (hdr.msg_id != id || hdr.cmd != (write ? VFU_DMA_WRITE
							  : VFU_DMA_READ))
			return -EPROTO; /* a reply to nothing we asked */
		if (hdr.flags & VFU_F_ERROR)
			return hdr.error && hdr.error < 4096 ? -(int)hdr.error
							     : -EIO;
		if (!write) {
			if (m.len < DMARW_HDR + len)
				return -EPROTO;
			memcpy(buf, m.p + DMARW_HDR, len);
		}
		return 0;
	}
	return rc;
}
