/*
 * vfu_region.c - vfio-user device, region and region-access commands:
 * DEVICE_GET_INFO, GET_REGION_INFO (with the sparse-mmap areas around the
 * MSI-X table and PBA), REGION_READ/WRITE, REGION_WRITE_MULTI,
 * GET_REGION_IO_FDS and DEVICE_RESET.  Regions follow VFIO's PCI layout:
 * 0-5 BARs, 6 ROM (the device's or a romfile's, read-only; none with
 * rombar=0), 7 config, 8 VGA (the legacy ranges of a VGA device whose host
 * offers them, trapped: ptdm_vga_rw), and for an IGD with an OpRegion copy
 * (igd_opregion.c) region 9 as vfio-pci offers it: read-only, its type
 * capability (VFIO_REGION_INFO_CAP_TYPE: VFIO_REGION_TYPE_PCI_VENDOR_TYPE |
 * 0x8086, VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION) the one QEMU's
 * vfio_device_get_region_info_type() looks for, num_regions 10.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/vfu_priv.h"

/* The regions this device has: VFIO's, and the OpRegion after them. */
static unsigned num_regions(const struct vfu_conn *c)
{
	return ptdm_dev_igd_opregion_size(c->dev) ? VFU_IGD_OPREGION_INDEX + 1
						  : NUM_REGIONS;
}

int vfu_h_device_info(struct vfu_conn *c, struct msg *m)
{
	struct vfu_device_info r = {
		.argsz = sizeof(r),
		.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET,
		.num_regions = num_regions(c),
		.num_irqs = VFU_NUM_IRQ_INDEX,
	};
	uint32_t argsz;

	memcpy(&argsz, m->p, 4);
	if (argsz < sizeof(r))
		return -EINVAL;
	/* RESET only where a reset exists: QEMU otherwise resets at every
	 * system reset and prints the ENOTTY it gets */
	if (ptdm_dev_host(c->dev)->reset_none)
		r.flags &= ~VFIO_DEVICE_FLAGS_RESET;
	memcpy(m->r, &r, sizeof(r));
	m->rlen = sizeof(r);
	return 0;
}

static uint64_t region_size(struct vfu_conn *c, unsigned index)
{
	struct ptdm_bar_info b;

	if (index == VFIO_PCI_CONFIG_REGION_INDEX)
		return ptdm_cfg_size(c->dev);
	if (index == VFIO_PCI_VGA_REGION_INDEX)
		return ptdm_dev_vga_size(c->dev);
	if (index == VFU_IGD_OPREGION_INDEX)
		return ptdm_dev_igd_opregion_size(c->dev);
	if (index > VFIO_PCI_ROM_REGION_INDEX)
		return 0;
	ptdm_dev_bar(c->dev, (int)index, &b);
	if (b.kind == HOST_BAR_NONE || b.kind == HOST_BAR_MEM64_HI ||
	    !b.size_known)
		return 0;
	return b.size;
}

/* Mappable parts of a BAR: everything but the ranges the core traps. */
static unsigned sparse_areas(struct vfu_conn *c, unsigned bar, uint64_t size,
			     struct vfio_region_sparse_mmap_area *a)
{
	struct ptdm_range t[PTDM_MAX_TRAPPED];
	int nt = ptdm_dev_trapped(c->dev, (int)bar, t, PTDM_MAX_TRAPPED);
	unsigned n = 0;
	uint64_t at = 0;

	if (nt <= 0)
		return 0; /* nothing trapped: the whole BAR maps */
	if (nt > PTDM_MAX_TRAPPED)
		return MAX_SPARSE + 1; /* cannot say it: trap everything */
	/* the gaps between the sorted, merged ranges */
	for (int i = 0; i <= nt; i++) {
		uint64_t end = i < nt ? t[i].off : size;

		if (end > at) {
			if (n == MAX_SPARSE)
				return MAX_SPARSE + 1;
			a[n].offset = at;
			a[n].size = end - at;
			n++;
		}
		if (i < nt && t[i].off + t[i].len > at)
			at = t[i].off + t[i].len;
	}
	if (n > 1 && c->one_area_per_bar) {
		/* a client that maps area i with fd i: the largest area only */
		unsigned big = 0;

		for (unsigned i = 1; i < n; i++)
			if (a[i].size > a[big].size)
				big = i;
		a[0] = a[big];
		n = 1;
	}
	return n ? n : MAX_SPARSE + 1; /* all trapped: nothing mappable */
}

int vfu_h_region_info(struct vfu_conn *c, struct msg *m)
{
	struct vfu_region_info q, r;
	struct vfio_region_sparse_mmap_area areas[MAX_SPARSE];
	struct vfio_region_info_cap_sparse_mmap cap;
	struct vfio_region_info_cap_type tcap;
	struct ptdm_bar_info b;
	bool typed = false;
	unsigned nareas = 0;
	uint32_t need = sizeof(r);
	uint64_t off = 0;
	int fd = -1;

	memcpy(&q, m->p, sizeof(q));
	if (q.index >= num_regions(c) || q.argsz < sizeof(r))
		return -EINVAL;
	r = (struct vfu_region_info){ .argsz = sizeof(r), .index = q.index,
				      .size = region_size(c, q.index) };
	if (q.index == VFIO_PCI_CONFIG_REGION_INDEX) {
		r.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	} else if (r.size && q.index == VFIO_PCI_ROM_REGION_INDEX) {
		r.flags = VFIO_REGION_INFO_FLAG_READ;
	} else if (r.size && q.index == VFIO_PCI_VGA_REGION_INDEX) {
		/* the legacy VGA ranges: never mapped, every access here */
		r.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	} else if (q.index == VFU_IGD_OPREGION_INDEX) {
		/* the OpRegion copy: read-only, found by its type */
		r.flags = VFIO_REGION_INFO_FLAG_READ;
		typed = true;
	} else if (r.size) {
		struct host_dev *h = ptdm_dev_host(c->dev);

		r.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		ptdm_dev_bar(c->dev, (int)q.index, &b);
		/* mmap=trap: no fd, no MMAP flag: REGION_READ/WRITE only */
		if (b.kind != HOST_BAR_IO && h->ops->bar_fd && c->peer_max_fds &&
		    !ptdm_dev_opts(c->dev)->mmap_trap)
			fd = h->ops->bar_fd(h, (int)q.index, &off);
		if (fd >= 0) {
			nareas = sparse_areas(c, q.index, r.size, areas);
			if (nareas > MAX_SPARSE) {
				fd = -1; /* the table fills the BAR */
				nareas = 0;
			} else if (!nareas) {
				/*
				 * All of it mappable: still one area, as
				 * libvfio-user does, so the fd only ever comes
				 * with the capability, in the reply to the
				 * second ask (its client has no room for an fd
				 * in the first).
				 */
				areas[0].offset = 0;
				areas[0].size = r.size;
				nareas = 1;
			}
		}
		if (fd >= 0) {
			r.flags |= VFIO_REGION_INFO_FLAG_MMAP;
			r.offset = off;
		}
	}
	if (nareas)
		need += (uint32_t)(sizeof(cap) + nareas * sizeof(areas[0]));
	if (typed)
		need += sizeof(tcap);
	r.argsz = need;
	if (q.argsz < need) {
		/*
		 * Too small: say how much is needed, send no fd.  CAPS and
		 * cap_offset mean "capabilities in this reply" (QEMU asks with
		 * argsz 32 first and rejects CAPS with a cap_offset below 32).
		 */
		memcpy(m->r, &r, sizeof(r));
		m->rlen = sizeof(r);
		return 0;
	}
	if (nareas) {
		r.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		r.cap_offset = sizeof(r);
		memset(&cap, 0, sizeof(cap));
		cap.header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
		cap.header.version = 1;
		cap.nr_areas = nareas;
		memcpy(m->r + sizeof(r), &cap, sizeof(cap));
		memcpy(m->r + sizeof(r) + sizeof(cap), areas,
		       nareas * sizeof(areas[0]));
	}
	if (typed) {
		/* the only capability: next 0 ends the chain (offsets are
		 * from the start of the region info, as in VFIO) */
		r.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		r.cap_offset = sizeof(r);
		memset(&tcap, 0, sizeof(tcap));
		tcap.header.id = VFIO_REGION_INFO_CAP_TYPE;
		tcap.header.version = 1;
		tcap.type = (uint32_t)VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086u;
		tcap.subtype = VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION;
		memcpy(m->r + sizeof(r), &tcap, sizeof(tcap));
	}
	memcpy(m->r, &r, sizeof(r));
	m->rlen = need;
	m->rfd = fd;
	return 0;
}

static int region_rw(struct vfu_conn *c, unsigned region, uint64_t off,
		     uint8_t *buf, uint32_t count, bool write)
{
	uint64_t size = region_size(c, region);

	if (region >= num_regions(c) || !count || off > size ||
	    count > size - off)
		return -EINVAL;
	if (region == VFU_IGD_OPREGION_INDEX)
		return write ? -EINVAL
			     : ptdm_igd_opregion_read(c->dev, off, buf, count);
	if (region == VFIO_PCI_CONFIG_REGION_INDEX)
		return ptdm_cfg_rw(c->dev, (unsigned)off, buf, count, write);
	if (region == VFIO_PCI_ROM_REGION_INDEX && write)
		return -EINVAL;
	if (region == VFIO_PCI_VGA_REGION_INDEX) /* VMMs use small pieces */
		return count > 4096 ? -EINVAL
				    : ptdm_vga_rw(c->dev, off, buf, count, write);
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

int vfu_h_region_read(struct vfu_conn *c, struct msg *m)
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

int vfu_h_region_write(struct vfu_conn *c, struct msg *m)
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

int vfu_h_write_multi(struct vfu_conn *c, struct msg *m)
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

int vfu_h_reset(struct vfu_conn *c, struct msg *m)
{
	int rc;

	/* also the way out of the migration ERROR state */
	vfu_mig_drop(c);
	rc = ptdm_dev_reset(c->dev);
	/*
	 * A device with no reset at all is offered no RESET flag, but
	 * cloud-hypervisor resets exactly then (its test is inverted) and
	 * loses the stream on an error reply.  What can be reset was (the
	 * device model's state, bus mastering off): say so once and succeed,
	 * as QEMU's vfio-pci goes on without a reset mechanism.
	 */
	if (rc == -ENOTTY && ptdm_dev_host(c->dev)->reset_none) {
		if (!c->reset_none_noted)
			ptdm_log(PTDM_LOG_WARN, "vfio-user: DEVICE_RESET of a "
				 "device with no function or bus reset: only "
				 "the device model's state was reset");
		c->reset_none_noted = true;
		rc = 0;
	}
	return rc;
}

int vfu_h_io_fds(struct vfu_conn *c, struct msg *m)
{
	uint32_t q[4];

	memcpy(q, m->p, sizeof(q));
	if (q[2] >= num_regions(c) || q[0] < sizeof(q))
		return -EINVAL;
	/* no ioeventfds offered: count 0 */
	q[0] = sizeof(q);
	q[1] = 0;
	q[3] = 0;
	memcpy(m->r, q, sizeof(q));
	m->rlen = sizeof(q);
	return 0;
}
