/*
 * vfio_user.c - one vfio-user connection: read a message, check it, act on
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
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ptdm/vfio.h"
#include "ptdm/vfio_user.h"
#include "ptdm/vfu_server.h"
#include "util/sockio.h"

#define PAGE 4096u
#define MAX_PAYLOAD (VFU_SERVER_MAX_XFER + 4096u)
#define MAX_DRAIN (64u << 20)
#define NUM_REGIONS VFIO_PCI_NUM_REGIONS
#define MAX_SPARSE 4

struct msg {
	const struct vfu_hdr *hdr;
	uint8_t *p;     /* payload */
	uint32_t len;
	int *fds;
	unsigned nfds;
	uint8_t *r;     /* reply payload */
	uint32_t rlen;
	int rfd;        /* fd to send with the reply, -1 for none */
};

static void mig_drop(struct vfu_conn *c);

static void conn_warn(struct vfu_conn *c, const char *what, int err)
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

/* ---- DMA ---- */

static struct host_dev *vfio_host(const struct vfu_conn *c)
{
	struct host_dev *h = ptdm_dev_host(c->dev);

	return vfio_is(h) ? h : NULL;
}

static void dma_unmap_one(struct vfu_conn *c, struct vfu_dma *m)
{
	struct host_dev *h = vfio_host(c);

	if (h && m->map)
		vfio_dma_unmap(h, m->iova, m->size, NULL);
	if (m->map)
		munmap(m->map, m->maplen);
	m->map = NULL;
}

static int h_dma_map(struct vfu_conn *c, struct msg *m)
{
	struct vfu_dma_map r;
	struct vfu_dma *n;
	unsigned at;
	int prot = 0;

	memcpy(&r, m->p, sizeof(r));
	if (r.flags & ~(VFU_DMA_READ_OK | VFU_DMA_WRITE_OK) || !r.size ||
	    (r.addr | r.size | r.offset) % PAGE ||
	    r.addr + r.size < r.addr || r.offset + r.size < r.offset ||
	    r.size > SIZE_MAX)
		return -EINVAL;
	if (c->ndma >= VFU_SERVER_MAX_DMA_MAPS)
		return -ENOSPC;
	for (at = 0; at < c->ndma && c->dma[at].iova < r.addr; at++)
		;
	if ((at < c->ndma && c->dma[at].iova < r.addr + r.size) ||
	    (at > 0 && c->dma[at - 1].iova + c->dma[at - 1].size > r.addr))
		return -EEXIST;
	if (r.flags & VFU_DMA_READ_OK)
		prot |= PROT_READ;
	if (r.flags & VFU_DMA_WRITE_OK)
		prot |= PROT_WRITE;
	n = realloc(c->dma, (c->ndma + 1) * sizeof(*c->dma));
	if (!n)
		return -ENOMEM;
	c->dma = n;
	memmove(&c->dma[at + 1], &c->dma[at], (c->ndma - at) * sizeof(*n));
	c->dma[at] = (struct vfu_dma){ .iova = r.addr, .size = r.size,
				       .prot = r.flags };
	if (!m->nfds && vfio_host(c)) {
		memmove(&c->dma[at], &c->dma[at + 1], (c->ndma - at) * sizeof(*n));
		conn_warn(c, "DMA_MAP without an fd: a VFIO device needs guest "
			     "memory it can reach (share guest RAM)", EINVAL);
		return -EINVAL;
	}
	if (m->nfds == 1) {
		void *p = mmap(NULL, r.size, prot ? prot : PROT_NONE, MAP_SHARED,
			       m->fds[0], (off_t)r.offset);
		struct host_dev *h = vfio_host(c);

		if (p == MAP_FAILED) {
			int e = -errno;

			memmove(&c->dma[at], &c->dma[at + 1],
				(c->ndma - at) * sizeof(*n));
			return e;
		}
		if (h) {
			int e = vfio_dma_map(h, r.addr, p, r.size,
					     (r.flags & VFU_DMA_READ_OK
						      ? PTDM_DMA_READ : 0) |
					     (r.flags & VFU_DMA_WRITE_OK
						      ? PTDM_DMA_WRITE : 0),
					     NULL);

			if (e) {
				munmap(p, r.size);
				memmove(&c->dma[at], &c->dma[at + 1],
					(c->ndma - at) * sizeof(*n));
				return e;
			}
		}
		c->dma[at].map = p;
		c->dma[at].maplen = r.size;
	}
	c->ndma++;
	return 0;
}

static int h_dma_unmap(struct vfu_conn *c, struct msg *m)
{
	struct vfu_dma_unmap r;

	memcpy(&r, m->p, sizeof(r));
	if (r.flags & ~VFU_DMA_UNMAP_ALL)
		return -EINVAL;
	if (r.flags & VFU_DMA_UNMAP_ALL) {
		if (r.addr || r.size)
			return -EINVAL;
		for (unsigned i = 0; i < c->ndma; i++)
			dma_unmap_one(c, &c->dma[i]);
		c->ndma = 0;
	} else {
		unsigned i;

		for (i = 0; i < c->ndma; i++)
			if (c->dma[i].iova == r.addr && c->dma[i].size == r.size)
				break;
		if (i == c->ndma)
			return -ENOENT;
		dma_unmap_one(c, &c->dma[i]);
		memmove(&c->dma[i], &c->dma[i + 1],
			(c->ndma - i - 1) * sizeof(*c->dma));
		c->ndma--;
	}
	memcpy(m->r, &r, sizeof(r));
	m->rlen = sizeof(r);
	return 0;
}

/* ---- device info, regions, IRQs ---- */

static int h_device_info(struct vfu_conn *c, struct msg *m)
{
	struct vfu_device_info r = {
		.argsz = sizeof(r),
		.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET,
		.num_regions = NUM_REGIONS,
		.num_irqs = VFU_NUM_IRQ_INDEX,
	};
	uint32_t argsz;

	memcpy(&argsz, m->p, 4);
	if (argsz < sizeof(r))
		return -EINVAL;
	memcpy(m->r, &r, sizeof(r));
	m->rlen = sizeof(r);
	return 0;
}

static uint64_t region_size(struct vfu_conn *c, unsigned index)
{
	struct ptdm_bar_info b;

	if (index == VFIO_PCI_CONFIG_REGION_INDEX)
		return ptdm_cfg_size(c->dev);
	if (index > VFIO_PCI_ROM_REGION_INDEX)
		return 0;
	ptdm_dev_bar(c->dev, (int)index, &b);
	if (b.kind == HOST_BAR_NONE || b.kind == HOST_BAR_MEM64_HI ||
	    !b.size_known)
		return 0;
	return b.size;
}

/* Mappable parts of a BAR: everything but the MSI-X table and PBA pages. */
static unsigned sparse_areas(struct vfu_conn *c, unsigned bar, uint64_t size,
			     struct vfio_region_sparse_mmap_area *a)
{
	struct ptdm_msix_info mi;
	uint64_t hole[2][2];
	unsigned nh = 0, n = 0;
	uint64_t at = 0;

	ptdm_msix_get(c->dev, &mi);
	if (!mi.present)
		return 0;
	if ((unsigned)mi.table_bar == bar) {
		hole[nh][0] = mi.table_off & ~(uint64_t)(PAGE - 1);
		hole[nh][1] = ((uint64_t)mi.table_off + 16ull * mi.nvec + PAGE - 1) &
			      ~(uint64_t)(PAGE - 1);
		nh++;
	}
	if ((unsigned)mi.pba_bar == bar) {
		hole[nh][0] = mi.pba_off & ~(uint64_t)(PAGE - 1);
		hole[nh][1] = ((uint64_t)mi.pba_off + (mi.nvec + 63) / 64 * 8 +
			       PAGE - 1) & ~(uint64_t)(PAGE - 1);
		nh++;
	}
	if (!nh)
		return 0;
	if (nh == 2 && hole[1][0] < hole[0][0]) {
		uint64_t t0 = hole[0][0], t1 = hole[0][1];

		hole[0][0] = hole[1][0];
		hole[0][1] = hole[1][1];
		hole[1][0] = t0;
		hole[1][1] = t1;
	}
	for (unsigned i = 0; i < nh; i++) {
		if (hole[i][0] > at) {
			a[n].offset = at;
			a[n].size = hole[i][0] - at;
			n++;
		}
		if (hole[i][1] > at)
			at = hole[i][1];
	}
	if (at < size) {
		a[n].offset = at;
		a[n].size = size - at;
		n++;
	}
	return n ? n : MAX_SPARSE + 1; /* all holes: nothing mappable */
}

static int h_region_info(struct vfu_conn *c, struct msg *m)
{
	struct vfu_region_info q, r;
	struct vfio_region_sparse_mmap_area areas[MAX_SPARSE];
	struct vfio_region_info_cap_sparse_mmap cap;
	struct ptdm_bar_info b;
	unsigned nareas = 0;
	uint32_t need = sizeof(r);
	uint64_t off = 0;
	int fd = -1;

	memcpy(&q, m->p, sizeof(q));
	if (q.index >= NUM_REGIONS || q.argsz < sizeof(r))
		return -EINVAL;
	r = (struct vfu_region_info){ .argsz = sizeof(r), .index = q.index,
				      .size = region_size(c, q.index) };
	if (q.index == VFIO_PCI_CONFIG_REGION_INDEX) {
		r.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	} else if (r.size && q.index == VFIO_PCI_ROM_REGION_INDEX) {
		r.flags = VFIO_REGION_INFO_FLAG_READ;
	} else if (r.size) {
		struct host_dev *h = ptdm_dev_host(c->dev);

		r.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		ptdm_dev_bar(c->dev, (int)q.index, &b);
		if (b.kind != HOST_BAR_IO && h->ops->bar_fd && c->peer_max_fds)
			fd = h->ops->bar_fd(h, (int)q.index, &off);
		if (fd >= 0) {
			nareas = sparse_areas(c, q.index, r.size, areas);
			if (nareas > MAX_SPARSE) {
				fd = -1; /* the table fills the BAR */
				nareas = 0;
			}
		}
		if (fd >= 0) {
			r.flags |= VFIO_REGION_INFO_FLAG_MMAP;
			r.offset = off;
		}
	}
	if (nareas) {
		r.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		need += (uint32_t)(sizeof(cap) + nareas * sizeof(areas[0]));
	}
	r.argsz = need;
	if (q.argsz < need) {
		/* too small: say how much is needed, send no fd */
		memcpy(m->r, &r, sizeof(r));
		m->rlen = sizeof(r);
		return 0;
	}
	if (nareas) {
		r.cap_offset = sizeof(r);
		memset(&cap, 0, sizeof(cap));
		cap.header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
		cap.header.version = 1;
		cap.nr_areas = nareas;
		memcpy(m->r + sizeof(r), &cap, sizeof(cap));
		memcpy(m->r + sizeof(r) + sizeof(cap), areas,
		       nareas * sizeof(areas[0]));
	}
	memcpy(m->r, &r, sizeof(r));
	m->rlen = need;
	m->rfd = fd;
	return 0;
}

static unsigned irq_count(struct vfu_conn *c, unsigned index)
{
	struct ptdm_msi_state msi;
	struct ptdm_msix_info msix;
	uint32_t pin = 0;

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		ptdm_cfg_read(c->dev, 0x3d, 1, &pin);
		return pin ? 1 : 0;
	case VFIO_PCI_MSI_IRQ_INDEX:
		ptdm_msi_get(c->dev, &msi);
		return msi.present ? msi.nvec_max : 0;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		ptdm_msix_get(c->dev, &msix);
		return msix.present ? msix.nvec : 0;
	default: {
		struct host_dev *h = vfio_host(c);
		struct ptdm_vfio_irq vi;

		/* ERR and REQ: what the kernel offers; an image has neither */
		if (h && !vfio_irq_info(h, index, &vi))
			return vi.count;
		return 0;
	}
	}
}

static int h_irq_info(struct vfu_conn *c, struct msg *m)
{
	struct vfu_irq_info q, r;

	memcpy(&q, m->p, sizeof(q));
	if (q.index >= VFU_NUM_IRQ_INDEX || q.argsz < sizeof(r))
		return -EINVAL;
	r = (struct vfu_irq_info){ .argsz = sizeof(r), .index = q.index,
				   .count = irq_count(c, q.index),
				   .flags = VFIO_IRQ_INFO_EVENTFD };
	if (q.index == VFIO_PCI_INTX_IRQ_INDEX)
		r.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		r.flags |= VFIO_IRQ_INFO_NORESIZE;
	memcpy(m->r, &r, sizeof(r));
	m->rlen = sizeof(r);
	return 0;
}

static void close_irq_range(struct vfu_conn *c, unsigned index,
			    unsigned start, unsigned count)
{
	for (unsigned v = start; v < start + count && v < c->nirq_fds[index];
	     v++) {
		if (c->irq_fds[index][v] >= 0)
			close(c->irq_fds[index][v]);
		c->irq_fds[index][v] = -1;
	}
}

static int grow_irq(struct vfu_conn *c, unsigned index, unsigned n)
{
	int *p;

	if (n <= c->nirq_fds[index])
		return 0;
	p = realloc(c->irq_fds[index], n * sizeof(int));
	if (!p)
		return -ENOMEM;
	for (unsigned v = c->nirq_fds[index]; v < n; v++)
		p[v] = -1;
	c->irq_fds[index] = p;
	c->nirq_fds[index] = n;
	return 0;
}

int vfu_conn_trigger(struct vfu_conn *c, unsigned index, unsigned vec)
{
	uint64_t one = 1;

	if (index >= VFU_NUM_IRQ_INDEX || vec >= c->nirq_fds[index] ||
	    c->irq_fds[index][vec] < 0)
		return -ENOENT;
	if (index == VFIO_PCI_INTX_IRQ_INDEX && c->intx_masked)
		return -EAGAIN;
	if (write(c->irq_fds[index][vec], &one, sizeof(one)) != sizeof(one))
		return -errno;
	if (index == VFIO_PCI_INTX_IRQ_INDEX)
		c->intx_masked = true; /* automasked until unmasked */
	return 0;
}

/* Hand the kept eventfds of [start, start+count) to VFIO. */
static int vfio_route(struct vfu_conn *c, unsigned index, unsigned start,
		      unsigned count)
{
	struct host_dev *h = vfio_host(c);

	if (!h)
		return 0;
	if (!count)
		return vfio_set_irq_eventfds(h, index, 0, 0, NULL, NULL);
	return vfio_set_irq_eventfds(h, index, start, count,
				     c->irq_fds[index] + start, NULL);
}

static int h_set_irqs(struct vfu_conn *c, struct msg *m)
{
	const uint32_t data = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL |
			      VFIO_IRQ_SET_DATA_EVENTFD;
	const uint32_t action = VFIO_IRQ_SET_ACTION_MASK |
				VFIO_IRQ_SET_ACTION_UNMASK |
				VFIO_IRQ_SET_ACTION_TRIGGER;
	struct vfu_irq_set q;
	uint32_t d, a, max;
	int rc;

	memcpy(&q, m->p, sizeof(q));
	d = q.flags & data;
	a = q.flags & action;
	if (q.flags & ~(data | action) || __builtin_popcount(d) != 1 ||
	    __builtin_popcount(a) != 1 || q.index >= VFU_NUM_IRQ_INDEX)
		return -EINVAL;
	max = irq_count(c, q.index);
	/* count 0 with DATA_NONE|TRIGGER: the whole index off */
	if (!q.count) {
		if (d != VFIO_IRQ_SET_DATA_NONE || a != VFIO_IRQ_SET_ACTION_TRIGGER ||
		    m->nfds)
			return -EINVAL;
		rc = vfio_route(c, q.index, 0, 0);
		close_irq_range(c, q.index, 0, c->nirq_fds[q.index]);
		return rc;
	}
	if (q.start >= max || q.count > max - q.start)
		return -EINVAL;
	if (a != VFIO_IRQ_SET_ACTION_TRIGGER) {
		/* masking exists for INTx only */
		if (q.index != VFIO_PCI_INTX_IRQ_INDEX || m->nfds > 1 ||
		    (m->nfds && (d != VFIO_IRQ_SET_DATA_EVENTFD ||
				 a != VFIO_IRQ_SET_ACTION_UNMASK)))
			return -EINVAL;
		c->intx_masked = a == VFIO_IRQ_SET_ACTION_MASK;
		if (vfio_host(c) && a == VFIO_IRQ_SET_ACTION_UNMASK) {
			/* an unmask eventfd (resample), or unmask now */
			int rc2;

			if (!m->nfds)
				return vfio_irq_unmask_intx(vfio_host(c));
			rc2 = vfio_set_intx_unmask_eventfd(vfio_host(c),
							   m->fds[0], NULL);
			if (rc2)
				return rc2;
			if (c->intx_unmask_fd >= 0)
				close(c->intx_unmask_fd);
			c->intx_unmask_fd = m->fds[0];
			m->fds[0] = -1; /* kept while the kernel uses it */
			return 0;
		}
		return 0;
	}
	switch (d) {
	case VFIO_IRQ_SET_DATA_EVENTFD:
		/* the fds travel as SCM_RIGHTS; the payload may carry s32s */
		if (m->len != sizeof(q) && m->len != sizeof(q) + 4 * q.count)
			return -EINVAL;
		if (m->nfds && m->nfds != q.count)
			return -EINVAL;
		rc = grow_irq(c, q.index, q.start + q.count);
		if (rc)
			return rc;
		close_irq_range(c, q.index, q.start, q.count);
		for (unsigned i = 0; i < m->nfds; i++) {
			c->irq_fds[q.index][q.start + i] = m->fds[i];
			m->fds[i] = -1; /* kept */
		}
		/* with VFIO the kernel signals these fds itself */
		return vfio_route(c, q.index, q.start, q.count);
	case VFIO_IRQ_SET_DATA_BOOL:
		if (m->len != sizeof(q) + q.count || m->nfds)
			return -EINVAL;
		for (unsigned i = 0; i < q.count; i++)
			if (m->p[sizeof(q) + i])
				vfu_conn_trigger(c, q.index, q.start + i);
		return 0;
	default:
		if (m->len != sizeof(q) || m->nfds)
			return -EINVAL;
		for (unsigned i = 0; i < q.count; i++)
			vfu_conn_trigger(c, q.index, q.start + i);
		return 0;
	}
}

/* ---- region access ---- */

static int region_rw(struct vfu_conn *c, unsigned region, uint64_t off,
		     uint8_t *buf, uint32_t count, bool write)
{
	uint64_t size = region_size(c, region);

	if (region >= NUM_REGIONS || !count || off > size || count > size - off)
		return -EINVAL;
	if (region == VFIO_PCI_CONFIG_REGION_INDEX)
		return ptdm_cfg_rw(c->dev, (unsigned)off, buf, count, write);
	if (region == VFIO_PCI_ROM_REGION_INDEX && write)
		return -EINVAL;
	while (count) {
		/* small pieces keep MSI-X table accesses exact */
		uint32_t n = count > 4096 ? 4096 : count;
		int rc = ptdm_bar_rw(c->dev, (int)region, off, buf, n, write);

		if (rc)
			return rc;
		off += n;
		buf += n;
		count -= n;
	}
	return 0;
}

static int h_region_read(struct vfu_conn *c, struct msg *m)
{
	struct vfu_region_rw q;
	int rc;

	memcpy(&q, m->p, sizeof(q));
	if (q.count > VFU_SERVER_MAX_XFER)
		return -E2BIG;
	rc = region_rw(c, q.region, q.offset, m->r + sizeof(q), q.count, false);
	if (rc)
		return rc;
	memcpy(m->r, &q, sizeof(q));
	m->rlen = (uint32_t)sizeof(q) + q.count;
	return 0;
}

static int h_region_write(struct vfu_conn *c, struct msg *m)
{
	struct vfu_region_rw q;
	int rc;

	memcpy(&q, m->p, sizeof(q));
	if (q.count != m->len - sizeof(q))
		return -EINVAL;
	rc = region_rw(c, q.region, q.offset, m->p + sizeof(q), q.count, true);
	if (rc)
		return rc;
	memcpy(m->r, &q, sizeof(q));
	m->rlen = sizeof(q);
	return 0;
}

static int h_write_multi(struct vfu_conn *c, struct msg *m)
{
	uint64_t n;

	memcpy(&n, m->p, 8);
	if (!n || n > (m->len - 8) / sizeof(struct vfu_write_multi_entry) ||
	    m->len != 8 + n * sizeof(struct vfu_write_multi_entry))
		return -EINVAL;
	for (uint64_t i = 0; i < n; i++) {
		struct vfu_write_multi_entry e;
		int rc;

		memcpy(&e, m->p + 8 + i * sizeof(e), sizeof(e));
		if (!e.count || e.count > VFU_WRITE_MULTI_DATA)
			return -EINVAL;
		rc = region_rw(c, e.region, e.offset, e.data, e.count, true);
		if (rc)
			return rc;
	}
	memcpy(m->r, &n, 8);
	m->rlen = 8;
	return 0;
}

static int h_reset(struct vfu_conn *c, struct msg *m)
{
	/* also the way out of the migration ERROR state */
	mig_drop(c);
	c->mig_state = VFIO_DEVICE_STATE_RUNNING;
	return ptdm_dev_reset(c->dev);
}

static int h_io_fds(struct vfu_conn *c, struct msg *m)
{
	uint32_t q[4];

	memcpy(q, m->p, sizeof(q));
	if (q[2] >= NUM_REGIONS || q[0] < sizeof(q))
		return -EINVAL;
	/* no ioeventfds offered: count 0 */
	q[0] = sizeof(q);
	q[1] = 0;
	q[3] = 0;
	memcpy(m->r, q, sizeof(q));
	m->rlen = sizeof(q);
	return 0;
}

/* ---- migration: the VFIO v2 state machine ---- */

#define FEAT_MASK 0xffffu
#define FEAT_GET (1u << 16)
#define FEAT_SET (1u << 17)
#define FEAT_PROBE (1u << 18)
#define MIG_MAX (1u << 30)

static void mig_drop(struct vfu_conn *c)
{
	free(c->mig_buf);
	c->mig_buf = NULL;
	c->mig_len = c->mig_pos = 0;
}

/* One arc of the state machine (the spec's direct transitions). */
static int mig_arc(struct vfu_conn *c, uint32_t to)
{
	uint32_t from = c->mig_state;
	int rc = 0;

	if (from == VFIO_DEVICE_STATE_STOP && to == VFIO_DEVICE_STATE_STOP_COPY) {
		mig_drop(c);
		rc = ptdm_dev_save(c->dev, &c->mig_buf, &c->mig_len);
	} else if (from == VFIO_DEVICE_STATE_STOP_COPY &&
		   to == VFIO_DEVICE_STATE_STOP) {
		mig_drop(c);
	} else if (from == VFIO_DEVICE_STATE_STOP &&
		   to == VFIO_DEVICE_STATE_RESUMING) {
		mig_drop(c);
	} else if (from == VFIO_DEVICE_STATE_RESUMING &&
		   to == VFIO_DEVICE_STATE_STOP) {
		rc = ptdm_dev_load(c->dev, c->mig_buf, c->mig_len);
		mig_drop(c);
		if (rc) {
			/* the stream was bad: the device needs a reset */
			c->mig_state = VFIO_DEVICE_STATE_ERROR;
			return rc;
		}
	} else if (!((from == VFIO_DEVICE_STATE_RUNNING &&
		      to == VFIO_DEVICE_STATE_STOP) ||
		     (from == VFIO_DEVICE_STATE_STOP &&
		      to == VFIO_DEVICE_STATE_RUNNING))) {
		return -EINVAL;
	}
	if (!rc)
		c->mig_state = to;
	return rc;
}

/*
 * Every supported state reaches every other through STOP, the one state
 * that is not in the saving group, so the shortest path is at most two
 * arcs.  PRE_COPY and the P2P states are not offered.
 */
static int mig_set(struct vfu_conn *c, uint32_t to)
{
	int rc;

	if (to != VFIO_DEVICE_STATE_STOP && to != VFIO_DEVICE_STATE_RUNNING &&
	    to != VFIO_DEVICE_STATE_STOP_COPY &&
	    to != VFIO_DEVICE_STATE_RESUMING)
		return -EINVAL;
	if (c->mig_state == VFIO_DEVICE_STATE_ERROR)
		return -EINVAL; /* only DEVICE_RESET leaves ERROR */
	if (c->mig_state == to)
		return 0;
	if (c->mig_state != VFIO_DEVICE_STATE_STOP &&
	    to != VFIO_DEVICE_STATE_STOP) {
		rc = mig_arc(c, VFIO_DEVICE_STATE_STOP);
		if (rc)
			return rc;
	}
	return mig_arc(c, to);
}

/* ---- DMA logging ---- */

static void log_drop(struct vfu_conn *c)
{
	free(c->log_ranges);
	free(c->dirty);
	c->log_ranges = NULL;
	c->dirty = NULL;
	c->nlog = c->ndirty = c->dirty_cap = 0;
	c->logging = c->log_all_dirty = false;
}

static bool logged(const struct vfu_conn *c, uint64_t page)
{
	uint64_t a = page * PAGE;

	if (!c->nlog)
		return true;
	for (unsigned i = 0; i < c->nlog; i++)
		if (a >= c->log_ranges[i].iova &&
		    a - c->log_ranges[i].iova < c->log_ranges[i].len)
			return true;
	return false;
}

/* Index of the first dirty page >= page. */
static unsigned dirty_lower(const struct vfu_conn *c, uint64_t page)
{
	unsigned lo = 0, hi = c->ndirty;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (c->dirty[mid] < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void log_write(struct vfu_conn *c, uint64_t iova, size_t len)
{
	if (!c->logging || !len)
		return;
	for (uint64_t p = iova / PAGE; p <= (iova + len - 1) / PAGE; p++) {
		unsigned at;

		if (!logged(c, p) || c->log_all_dirty)
			continue;
		at = dirty_lower(c, p);
		if (at < c->ndirty && c->dirty[at] == p)
			continue;
		if (c->ndirty == c->dirty_cap) {
			unsigned cap = c->dirty_cap ? c->dirty_cap * 2 : 256;
			uint64_t *n;

			if (cap > VFU_LOG_MAX_DIRTY ||
			    !(n = realloc(c->dirty, cap * sizeof(*n)))) {
				/* out of room: report everything as dirty */
				c->log_all_dirty = true;
				continue;
			}
			c->dirty = n;
			c->dirty_cap = cap;
		}
		memmove(&c->dirty[at + 1], &c->dirty[at],
			(c->ndirty - at) * sizeof(*c->dirty));
		c->dirty[at] = p;
		c->ndirty++;
	}
}

static bool pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static int log_start(struct vfu_conn *c, struct msg *m, uint32_t dlen)
{
	const uint8_t *d = m->p + 8;
	uint64_t page;
	uint32_t n;

	if (dlen < 16)
		return -EINVAL;
	memcpy(&page, d, 8);
	memcpy(&n, d + 8, 4);
	if (n > VFU_LOG_MAX_RANGES || dlen != 16 + 16ull * n)
		return -EINVAL;
	if (c->logging)
		return -EBUSY;
	if (n) {
		c->log_ranges = calloc(n, sizeof(*c->log_ranges));
		if (!c->log_ranges)
			return -ENOMEM;
		memcpy(c->log_ranges, d + 16, 16ull * n);
		for (unsigned i = 0; i < n; i++) {
			struct vfu_log_range *r = &c->log_ranges[i];

			if (!r->len || r->iova + r->len < r->iova) {
				log_drop(c);
				return -EINVAL;
			}
		}
	}
	c->nlog = n;
	c->logging = true;
	/* ptdm tracks 4K pages; it says so when asked for another size */
	c->log_page = pow2(page) && page >= PAGE ? page : PAGE;
	memcpy(m->r, m->p, 8 + dlen);
	memcpy(m->r + 8, &c->log_page, 8);
	m->rlen = 8 + dlen;
	return 0;
}

static int log_report(struct vfu_conn *c, struct msg *m, uint32_t dlen,
		      uint32_t argsz)
{
	uint64_t q[3], bits, words;
	uint64_t *bm;

	if (dlen != 24 || !c->logging)
		return -EINVAL;
	memcpy(q, m->p + 8, 24);
	/* iova, length, page_size: whole pages of a power-of-two size */
	if (!pow2(q[2]) || q[2] < PAGE || !q[1] || q[0] % q[2] || q[1] % q[2] ||
	    q[0] + q[1] < q[0])
		return -EINVAL;
	bits = q[1] / q[2];
	words = (bits + 63) / 64;
	if (words * 8 > VFU_SERVER_MAX_XFER)
		return -E2BIG;
	if (argsz < 8 + 24 + words * 8)
		return -EINVAL;
	bm = (uint64_t *)(m->r + 8 + 24);
	memset(bm, 0, words * 8);
	for (uint64_t b = 0; b < bits; b++) {
		uint64_t first = (q[0] + b * q[2]) / PAGE;
		uint64_t last = (q[0] + (b + 1) * q[2] - 1) / PAGE;
		unsigned at = dirty_lower(c, first);
		bool dirty = c->log_all_dirty;

		/* report clears what it reports */
		while (at < c->ndirty && c->dirty[at] <= last) {
			dirty = true;
			memmove(&c->dirty[at], &c->dirty[at + 1],
				(c->ndirty - at - 1) * sizeof(*c->dirty));
			c->ndirty--;
		}
		if (dirty)
			bm[b / 64] |= 1ull << (b % 64);
	}
	memcpy(m->r, m->p, 8 + 24);
	argsz = (uint32_t)(8 + 24 + words * 8);
	memcpy(m->r, &argsz, 4);
	m->rlen = argsz;
	return 0;
}

static int h_feature(struct vfu_conn *c, struct msg *m)
{
	uint32_t argsz, flags, idx, dlen = m->len - 8;
	bool get, set, probe, mig = ptdm_dev_migratable(c->dev);
	uint64_t mflags = VFIO_MIGRATION_STOP_COPY;
	int rc;

	memcpy(&argsz, m->p, 4);
	memcpy(&flags, m->p + 4, 4);
	idx = flags & FEAT_MASK;
	get = flags & FEAT_GET;
	set = flags & FEAT_SET;
	probe = flags & FEAT_PROBE;
	if ((flags & ~(FEAT_MASK | FEAT_GET | FEAT_SET | FEAT_PROBE)) ||
	    (get && set && !probe) || (!get && !set && !probe) ||
	    argsz < 8)
		return -EINVAL;
	/* the reply starts as the request; GETs append their data */
	memcpy(m->r, m->p, 8);
	m->rlen = 8;
	switch (idx) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
		if (!mig)
			return -ENOTTY;
		if (set)
			return -EINVAL;
		if (probe)
			return 0;
		if (argsz < 16)
			return -EINVAL;
		memcpy(m->r + 8, &mflags, 8);
		m->rlen = 16;
		return 0;
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: {
		uint32_t st[2];

		if (!mig)
			return -ENOTTY;
		if (probe)
			return 0;
		if (set) {
			if (dlen != 8)
				return -EINVAL;
			memcpy(st, m->p + 8, 8);
			rc = mig_set(c, st[0]);
			if (rc)
				return rc;
		}
		if (argsz < 16)
			return -EINVAL;
		st[0] = c->mig_state;
		st[1] = (uint32_t)-1; /* data_fd: unused in vfio-user */
		memcpy(m->r + 8, st, 8);
		m->rlen = 16;
		return 0;
	}
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
		if (get)
			return -EINVAL;
		if (probe)
			return 0;
		return log_start(c, m, dlen);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		if (get)
			return -EINVAL;
		if (probe)
			return 0;
		if (!c->logging)
			return -EINVAL;
		log_drop(c);
		return 0;
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		if (set)
			return -EINVAL;
		if (probe)
			return 0;
		return log_report(c, m, dlen, argsz);
	default:
		return -ENOTTY;
	}
}

static int h_mig_read(struct vfu_conn *c, struct msg *m)
{
	uint32_t q[2];
	size_t n;

	memcpy(q, m->p, 8);
	if (c->mig_state != VFIO_DEVICE_STATE_STOP_COPY)
		return -EINVAL;
	n = c->mig_len - c->mig_pos;
	if (n > q[1])
		n = q[1];
	if (n > VFU_SERVER_MAX_XFER)
		n = VFU_SERVER_MAX_XFER;
	q[1] = (uint32_t)n; /* short: the end of the stream */
	q[0] = (uint32_t)(8 + n);
	memcpy(m->r, q, 8);
	if (n)
		memcpy(m->r + 8, c->mig_buf + c->mig_pos, n);
	c->mig_pos += n;
	m->rlen = (uint32_t)(8 + n);
	return 0;
}

static int h_mig_write(struct vfu_conn *c, struct msg *m)
{
	uint32_t q[2];
	uint8_t *n;

	memcpy(q, m->p, 8);
	if (c->mig_state != VFIO_DEVICE_STATE_RESUMING)
		return -EINVAL;
	if (q[1] != m->len - 8)
		return -EINVAL;
	if (c->mig_len + q[1] > MIG_MAX)
		return -EFBIG;
	n = realloc(c->mig_buf, c->mig_len + q[1] + 1);
	if (!n)
		return -ENOMEM;
	c->mig_buf = n;
	memcpy(c->mig_buf + c->mig_len, m->p + 8, q[1]);
	c->mig_len += q[1];
	memcpy(m->r, q, 8);
	m->rlen = 8;
	return 0;
}

static int h_server_only(struct vfu_conn *c, struct msg *m)
{
	return -EINVAL; /* DMA_READ/WRITE go from server to client */
}

/* ---- version ---- */

static int cap_uint(struct json_object *caps, const char *key, uint64_t max,
		    uint64_t *out)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(caps, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x > max)
		return -EINVAL;
	*out = (uint64_t)x;
	return 0;
}

static int h_version(struct vfu_conn *c, struct msg *m)
{
	struct vfu_version v;
	struct json_object *root, *caps = NULL, *wm;
	uint64_t fds = 1, xfer = VFU_SERVER_MAX_XFER;
	const char *reply;
	size_t jlen;
	int rc = 0;

	if (c->versioned)
		return -EINVAL;
	memcpy(&v, m->p, sizeof(v));
	if (v.major != VFU_MAJOR)
		return -ENOTSUP;
	jlen = m->len - sizeof(v);
	if (!jlen || m->p[m->len - 1] != 0 || strlen((char *)m->p + 4) != jlen - 1)
		return -EINVAL; /* the JSON must be one NUL-terminated string */
	root = json_tokener_parse((char *)m->p + sizeof(v));
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return -EINVAL;
	}
	if (json_object_object_get_ex(root, "capabilities", &caps) &&
	    !json_object_is_type(caps, json_type_object))
		rc = -EINVAL;
	if (!rc && caps) {
		rc = cap_uint(caps, "max_msg_fds", 1024, &fds);
		rc = rc ? rc : cap_uint(caps, "max_data_xfer_size", 1u << 30,
					&xfer);
		if (!rc && json_object_object_get_ex(caps, "write_multiple",
						     &wm)) {
			if (!json_object_is_type(wm, json_type_boolean))
				rc = -EINVAL;
			else
				c->write_multiple = json_object_get_boolean(wm);
		}
	}
	json_object_put(root);
	if (rc || !xfer)
		return -EINVAL;
	c->peer_max_fds = (uint32_t)fds;
	c->peer_max_xfer = xfer;
	c->versioned = true;
	v.major = VFU_MAJOR;
	v.minor = VFU_MINOR;
	reply = "{\"capabilities\":{\"max_msg_fds\":8,"
		"\"max_data_xfer_size\":1048576,\"max_dma_maps\":4096,"
		"\"pgsizes\":4096,\"write_multiple\":true}}";
	memcpy(m->r, &v, sizeof(v));
	memcpy(m->r + sizeof(v), reply, strlen(reply) + 1);
	m->rlen = (uint32_t)(sizeof(v) + strlen(reply) + 1);
	return 0;
}

/* ---- dispatch ---- */

struct cmd_desc {
	const char *name;
	uint32_t min, max; /* payload bytes */
	uint8_t max_fds;
	int (*fn)(struct vfu_conn *c, struct msg *m);
};

static const struct cmd_desc cmds[VFU_CMD_MAX] = {
	[VFU_VERSION] = { "VERSION", 5, 4096, 0, h_version },
	[VFU_DMA_MAP] = { "DMA_MAP", 32, 32, 1, h_dma_map },
	[VFU_DMA_UNMAP] = { "DMA_UNMAP", 24, 24, 0, h_dma_unmap },
	[VFU_DEVICE_GET_INFO] = { "DEVICE_GET_INFO", 16, 16, 0,
				  h_device_info },
	[VFU_DEVICE_GET_REGION_INFO] = { "GET_REGION_INFO", 32, 32, 0,
					 h_region_info },
	[VFU_DEVICE_GET_REGION_IO_FDS] = { "GET_REGION_IO_FDS", 16, 16, 0,
					   h_io_fds },
	[VFU_DEVICE_GET_IRQ_INFO] = { "GET_IRQ_INFO", 16, 16, 0, h_irq_info },
	[VFU_DEVICE_SET_IRQS] = { "SET_IRQS", 20, 20 + 4 * 2048,
				  VFU_SERVER_MAX_FDS, h_set_irqs },
	[VFU_REGION_READ] = { "REGION_READ", 16, 16, 0, h_region_read },
	[VFU_REGION_WRITE] = { "REGION_WRITE", 17,
			       16 + VFU_SERVER_MAX_XFER, 0, h_region_write },
	[VFU_DMA_READ] = { "DMA_READ", 0, MAX_PAYLOAD, 0, h_server_only },
	[VFU_DMA_WRITE] = { "DMA_WRITE", 0, MAX_PAYLOAD, 0, h_server_only },
	[VFU_DEVICE_RESET] = { "DEVICE_RESET", 0, 0, 0, h_reset },
	[VFU_REGION_WRITE_MULTI] = { "REGION_WRITE_MULTI", 8 + 24,
				     8 + 24 * 4096, 0, h_write_multi },
	[VFU_DEVICE_FEATURE] = { "DEVICE_FEATURE", 8,
				 8 + 16 + 16 * VFU_LOG_MAX_RANGES, 0,
				 h_feature },
	[VFU_MIG_DATA_READ] = { "MIG_DATA_READ", 8, 8, 0, h_mig_read },
	[VFU_MIG_DATA_WRITE] = { "MIG_DATA_WRITE", 8, MAX_PAYLOAD, 0,
				 h_mig_write },
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
		dma_unmap_one(c, &c->dma[i]);
	free(c->dma);
	c->dma = NULL;
	c->ndma = 0;
	if (c->intx_unmask_fd >= 0) {
		if (vfio_host(c))
			vfio_set_intx_unmask_eventfd(vfio_host(c), -1, NULL);
		close(c->intx_unmask_fd);
		c->intx_unmask_fd = -1;
	}
	for (unsigned i = 0; i < VFU_NUM_IRQ_INDEX; i++) {
		if (c->nirq_fds[i])
			vfio_route(c, i, 0, 0); /* the kernel lets go first */
		close_irq_range(c, i, 0, c->nirq_fds[i]);
		free(c->irq_fds[i]);
		c->irq_fds[i] = NULL;
		c->nirq_fds[i] = 0;
	}
	mig_drop(c);
	log_drop(c);
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
		conn_warn(c, "message too large", E2BIG);
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
		conn_warn(c, cd ? cd->name : "bad message", -rc);
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

static const struct vfu_dma *dma_find(const struct vfu_conn *c, uint64_t iova,
				      uint64_t len)
{
	for (unsigned i = 0; i < c->ndma; i++) {
		const struct vfu_dma *m = &c->dma[i];

		if (iova >= m->iova && len <= m->size &&
		    iova - m->iova <= m->size - len)
			return m;
	}
	return NULL;
}

int vfu_conn_dma_rw(struct vfu_conn *c, uint64_t iova, void *buf, size_t len,
		    bool write)
{
	const struct vfu_dma *map = dma_find(c, iova, len);
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
		log_write(c, iova, len); /* dirty even if the write fails late */
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
