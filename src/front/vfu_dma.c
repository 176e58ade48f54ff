/*
 * vfu_dma.c - vfio-user DMA_MAP / DMA_UNMAP: the client's guest memory as
 * a sorted table of ranges.  A range that comes with an fd is mmap'ed (and,
 * for a host that reaches memory through an IOMMU, host_ops.dma_map'ed at
 * its IOVA); one without is reachable only through DMA_READ/WRITE messages
 * to the client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "front/vfu_priv.h"

struct host_dev *vfu_dma_host(const struct vfu_conn *c)
{
	struct host_dev *h = ptdm_dev_host(c->dev);

	return host_can_dma_map(h) ? h : NULL;
}

void vfu_dma_unmap_one(struct vfu_conn *c, struct vfu_dma *m)
{
	struct host_dev *h = vfu_dma_host(c);
	int rc;

	if (h && m->map && (rc = host_dma_unmap(h, m->iova, m->size)))
		vfu_conn_warn(c, "DMA unmap in the host IOMMU", -rc);
	if (m->map)
		munmap(m->map, m->maplen);
	m->map = NULL;
}

int vfu_h_dma_map(struct vfu_conn *c, struct msg *m)
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
	if (!m->nfds && vfu_dma_host(c)) {
		memmove(&c->dma[at], &c->dma[at + 1], (c->ndma - at) * sizeof(*n));
		vfu_conn_warn(c, "DMA_MAP without an fd: a VFIO device needs guest "
			     "memory it can reach (share guest RAM)", EINVAL);
		return -EINVAL;
	}
	if (m->nfds == 1) {
		void *p = mmap(NULL, r.size, prot ? prot : PROT_NONE, MAP_SHARED,
			       m->fds[0], (off_t)r.offset);
		struct host_dev *h = vfu_dma_host(c);

		if (p == MAP_FAILED) {
			int e = -errno;

			memmove(&c->dma[at], &c->dma[at + 1],
				(c->ndma - at) * sizeof(*n));
			return e;
		}
		if (h) {
			int e = host_dma_map(h, r.addr, p, r.size,
					     (r.flags & VFU_DMA_READ_OK
						      ? HOST_DMA_READ : 0) |
					     (r.flags & VFU_DMA_WRITE_OK
						      ? HOST_DMA_WRITE : 0));

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

int vfu_h_dma_unmap(struct vfu_conn *c, struct msg *m)
{
	struct vfu_dma_unmap r;

	memcpy(&r, m->p, sizeof(r));
	if (r.flags & ~VFU_DMA_UNMAP_ALL)
		return -EINVAL;
	if (r.flags & VFU_DMA_UNMAP_ALL) {
		if (r.addr || r.size)
			return -EINVAL;
		for (unsigned i = 0; i < c->ndma; i++)
			vfu_dma_unmap_one(c, &c->dma[i]);
		c->ndma = 0;
	} else {
		unsigned i;

		for (i = 0; i < c->ndma; i++)
			if (c->dma[i].iova == r.addr && c->dma[i].size == r.size)
				break;
		if (i == c->ndma)
			return -ENOENT;
		vfu_dma_unmap_one(c, &c->dma[i]);
		memmove(&c->dma[i], &c->dma[i + 1],
			(c->ndma - i - 1) * sizeof(*c->dma));
		c->ndma--;
	}
	memcpy(m->r, &r, sizeof(r));
	m->rlen = sizeof(r);
	return 0;
}

const struct vfu_dma *vfu_dma_find(const struct vfu_conn *c, uint64_t iova,
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
