/*
 * vfu_dma.c - vfio-user DMA_MAP / DMA_UNMAP: the client's guest memory as
 * a sorted table of ranges.  A range that comes with an fd is mmap'ed (and,
 * for a host that reaches memory through an IOMMU, host_ops.dma_map'ed at
 * its IOVA); one without is reachable only through DMA_READ/WRITE messages
 * to the client.
 *
 * The fd is the client's, so it is checked before anything is mapped
 * (util/guestmem.h): a regular file that covers [offset, offset+size),
 * within the connection's and the process's budget of mapped bytes.  ptdm
 * touches a mapping itself (an image device's DMA, vfu_conn_dma_rw) only
 * when the client cannot shrink the file under it (a memfd sealed with
 * F_SEAL_SHRINK); an image device's range with an unsealed fd is kept
 * unmapped and served through DMA_READ/WRITE messages instead, so a later
 * ftruncate cannot turn a device DMA into SIGBUS.  A VFIO device needs the
 * mapping for its IOMMU whatever the seals: the kernel pins the pages, and
 * ptdm does not touch them.  The mapping is the process's
 * (guestmem_map): another connection that maps the same range of the same
 * file gets the same address, so two functions of one VMM in one DMA
 * space share one IOMMU mapping (vfio_dma.c counts them) instead of the
 * second's DMA_MAP failing on an IOVA the first holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "front/vfu_priv.h"
#include "util/guestmem.h"

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
	/* after the IOMMU let go: another connection may still use it */
	if (m->map && guestmem_unmap(m->map))
		vfu_conn_warn(c, "DMA unmap: not a guest memory mapping",
			      ENOENT);
	m->map = NULL;
}

/* Bytes this connection has mapped now. */
static uint64_t conn_mapped(const struct vfu_conn *c)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < c->ndma; i++)
		if (c->dma[i].map)
			sum += c->dma[i].maplen;
	return sum;
}

/*
 * Should the range with this fd be mapped, and may ptdm touch it?  0 and
 * *map_it, or an error the client is told about (logged, rate-limited).
 */
static int check_fd(struct vfu_conn *c, int fd, uint64_t offset,
		    uint64_t size, bool *map_it)
{
	bool touchable;
	int rc = guestmem_check(fd, offset, size, &touchable);

	if (rc) {
		vfu_conn_warn(c, "DMA_MAP: the fd is not a regular file that "
			      "holds [offset, offset+size)", -rc);
		return rc;
	}
	*map_it = touchable || vfu_dma_host(c);
	if (!*map_it) {
		vfu_conn_warn(c, "DMA_MAP: the fd is not a memfd sealed with "
			      "F_SEAL_SHRINK; the device reaches this range "
			      "through DMA_READ/WRITE messages", EPERM);
		return 0;
	}
	if (size > GUESTMEM_MAX_PER_CONN - conn_mapped(c)) {
		vfu_conn_warn(c, "DMA_MAP: over the connection's budget of "
			      "mapped guest memory", ENOSPC);
		return -ENOSPC;
	}
	return 0;
}

int vfu_h_dma_map(struct vfu_conn *c, struct msg *m)
{
	struct vfu_dma_map r;
	struct vfu_dma *n;
	unsigned at;
	int prot = 0, rc;
	bool map_it = false;

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
	if (m->nfds == 1) {
		rc = check_fd(c, m->fds[0], r.offset, r.size, &map_it);
		if (rc)
			return rc;
	}
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
	if (!m->nfds && vfu_dma_host(c) && !c->fdless_dma_noted) {
		/*
		 * QEMU maps its ROM and BIOS ranges without an fd, and a VM
		 * whose RAM is not shared maps RAM that way.  The range is
		 * kept (DMA_READ/WRITE reach it) but the device cannot DMA to
		 * it: said once per client, since a device that DMAs there
		 * faults in the IOMMU, while refusing would make QEMU print
		 * an error per range for memory a device never uses.
		 */
		c->fdless_dma_noted = true;
		ptdm_log(PTDM_LOG_WARN, "vfio-user: DMA_MAP without an fd at "
			 "%#llx+%#llx: kept, but the device cannot reach it "
			 "(share guest RAM: memory-backend-memfd,share=on)",
			 (unsigned long long)r.addr, (unsigned long long)r.size);
	}
	if (map_it) {
		struct host_dev *h = vfu_dma_host(c);
		void *p = NULL;

		rc = guestmem_map(m->fds[0], r.offset, r.size,
				  prot ? prot : PROT_NONE, &p);
		if (rc == -ENOSPC)
			vfu_conn_warn(c, "DMA_MAP: over the process's budget of "
				      "mapped guest memory", -rc);
		if (rc) {
			memmove(&c->dma[at], &c->dma[at + 1],
				(c->ndma - at) * sizeof(*n));
			return rc;
		}
		if (h) {
			int e = host_dma_map(h, r.addr, p, r.size,
					     (r.flags & VFU_DMA_READ_OK
						      ? HOST_DMA_READ : 0) |
					     (r.flags & VFU_DMA_WRITE_OK
						      ? HOST_DMA_WRITE : 0));

			if (e) {
				guestmem_unmap(p);
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
