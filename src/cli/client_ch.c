/*
 * client_ch.c - cloud-hypervisor `--user-device` (the vfio_user crate's
 * Client and pci/src/vfio_user.rs): VERSION (minor 1, max_msg_fds 1) -
 * GET_INFO with argsz 32 (it counts the header) - GET_REGION_INFO for
 * every region (argsz 32, then the size asked for, the capability data
 * read after a 48-byte reply) - config dword reads and GET_IRQ_INFO -
 * SET_IRQS INTx + UNMASK - BAR sizing - DMA_MAP of guest RAM (always an
 * fd) - mmap of the sparse areas - MSI-X eventfds in batches of 16 -
 * DMA_UNMAP.
 *
 * The crate reads a fixed number of bytes for every reply and never looks
 * at the error flag: an error reply, or one of another size, desyncs the
 * stream (a hang or garbage), so here it fails.  No timeouts.
 */
#include <errno.h>
#include <json-c/json.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/client_persona.h"

static const char ch_caps[] =
	"{\"capabilities\":{\"max_msg_fds\":1,\"max_data_xfer_size\":1048576,"
	"\"migration\":{\"pgsize\":4096}}}";

/* read_exact(want): the reply must be exactly that long, and no error. */
static int exact(struct pc *p, struct pc_reply *r, size_t want,
		 const char *what)
{
	if (r->h.flags & VFU_F_ERROR)
		return pc_fail(p, "%s: error reply (%s); cloud-hypervisor ignores "
			       "the error flag and reads %zu bytes: the stream "
			       "desyncs", what, strerror(-pc_reply_errno(r)),
			       want);
	if (r->h.msg_size != want)
		return pc_fail(p, "%s: reply of %u bytes, cloud-hypervisor reads "
			       "exactly %zu", what, r->h.msg_size, want);
	return 0;
}

static int call(struct pc *p, uint16_t cmd, const void *q, size_t len,
		const int *fds, unsigned nfds, size_t want, const char *what,
		struct pc_reply *r)
{
	int rc = pc_call(p, cmd, q, len, fds, nfds, 1, r);

	if (!rc && (rc = exact(p, r, want, what)))
		pc_reply_close_fds(r);
	return rc;
}

static int rd(struct pc *p, unsigned region, uint64_t off, void *buf,
	      uint32_t n)
{
	struct vfu_region_rw q = { .offset = off, .region = region, .count = n };
	struct pc_reply r;
	int rc = call(p, VFU_REGION_READ, &q, sizeof(q), NULL, 0, 32 + n,
		      "REGION_READ", &r);

	if (!rc)
		memcpy(buf, r.p + 16, n);
	return rc;
}

static int wr(struct pc *p, unsigned region, uint64_t off, uint32_t v,
	      uint32_t n)
{
	uint8_t q[16 + 4];
	struct vfu_region_rw h = { .offset = off, .region = region, .count = n };
	struct pc_reply r;

	memcpy(q, &h, 16);
	memcpy(q + 16, &v, 4);
	return call(p, VFU_REGION_WRITE, q, 16 + n, NULL, 0, 32,
		    "REGION_WRITE", &r);
}

static int version(struct pc *p)
{
	uint8_t req[4 + sizeof(ch_caps)];
	uint16_t mm[2] = { 0, 1 };
	struct json_object *root, *caps;
	struct pc_reply r;
	int rc;

	memcpy(req, mm, 4);
	memcpy(req + 4, ch_caps, sizeof(ch_caps));
	if ((rc = pc_call(p, VFU_VERSION, req, sizeof(req), NULL, 0, 0, &r)))
		return rc;
	if (r.h.flags & VFU_F_ERROR)
		return pc_fail(p, "VERSION refused (%s): cloud-hypervisor reads "
			       "a capabilities string anyway",
			       strerror(-pc_reply_errno(&r)));
	if (r.len < 5)
		return pc_fail(p, "Error deserializing capabilities: no JSON");
	/* serde_json::from_slice(data[..len - 1]): the NUL is dropped */
	r.p[r.len - 1] = 0;
	root = json_tokener_parse((char *)r.p + 4);
	rc = 0;
	if (!root || !json_object_object_get_ex(root, "capabilities", &caps) ||
	    !json_object_is_type(caps, json_type_object))
		rc = pc_fail(p, "Error deserializing capabilities: %s",
			     (char *)r.p + 4);
	json_object_put(root);
	return rc;
}

static int regions(struct pc *p)
{
	struct vfu_device_info q = { .argsz = 32 }, d;
	struct pc_reply r;
	int rc = call(p, VFU_DEVICE_GET_INFO, &q, sizeof(q), NULL, 0, 32,
		      "DEVICE_GET_INFO", &r);

	if (rc)
		return rc;
	memcpy(&d, r.p, sizeof(d));
	if (!(d.flags & VFIO_DEVICE_FLAGS_PCI))
		return pc_fail(p, "Not a PCI device");
	if (d.num_regions > PC_NUM_REGIONS)
		return pc_fail(p, "%u regions: more than the persona models",
			       d.num_regions);
	p->dev_flags = d.flags;
	p->num_regions = d.num_regions;
	for (unsigned i = 0; i < d.num_regions; i++) {
		struct pc_region *g = &p->reg[i];
		struct vfu_region_info ri = { .argsz = 32, .index = i };

		/* recv_with_fd into 48 bytes */
		if ((rc = call(p, VFU_DEVICE_GET_REGION_INFO, &ri, 32, NULL, 0,
			       48, "GET_REGION_INFO", &r)))
			return rc;
		memcpy(&g->ri, r.p, 32);
		g->fd = r.nfds ? r.fds[0] : -1;
		if (g->ri.argsz > 32) {
			uint32_t argsz = g->ri.argsz;

			if (g->fd >= 0)
				close(g->fd);
			g->fd = -1;
			ri.argsz = argsz;
			if ((rc = call(p, VFU_DEVICE_GET_REGION_INFO, &ri, 32, NULL,
				       0, 16 + argsz, "GET_REGION_INFO (caps)",
				       &r)))
				return rc;
			memcpy(&g->ri, r.p, 32);
			g->fd = r.nfds ? r.fds[0] : -1;
			if (g->ri.argsz != argsz)
				return pc_fail(p, "region %u: assertion cap_size "
					       "== message_size - 48 failed "
					       "(panic)", i);
			if (g->ri.cap_offset && g->ri.cap_offset < 32)
				return pc_fail(p, "region %u: cap_offset %u "
					       "underflows (panic)", i,
					       g->ri.cap_offset);
		}
		g->info_len = r.len;
		g->info = malloc(g->info_len);
		if (!g->info)
			return pc_fail(p, "out of memory");
		memcpy(g->info, r.p, g->info_len);
		g->asked = true;
	}
	return 0;
}

/* map_mmio_regions: sparse areas, else the whole region; READ/WRITE. */
static int map_bars(struct pc *p)
{
	for (unsigned i = 0; i < 6 && i < p->num_regions; i++) {
		struct pc_region *g = &p->reg[i];
		int prot = (g->ri.flags & VFIO_REGION_INFO_FLAG_READ ? PROT_READ
								     : 0) |
			   (g->ri.flags & VFIO_REGION_INFO_FLAG_WRITE ? PROT_WRITE
								      : 0);
		long cap = g->ri.argsz > 32 && g->ri.cap_offset
				   ? pc_region_cap(g,
						   VFIO_REGION_INFO_CAP_SPARSE_MMAP)
				   : 0;
		int rc;

		if (!g->ri.size || !(g->ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
			continue;
		if (g->fd < 0)
			return pc_fail(p, "region %u: MMAP without an fd: "
				       "file_offset.unwrap() panics", i);
		if (cap < 0)
			return pc_fail(p, "region %u: Unexpected end of cap data",
				       i);
		if (!cap) {
			if ((rc = pc_map(p, g->fd, g->ri.offset, g->ri.size, prot,
					 "Could not mmap regions")))
				return rc;
			continue;
		}
		{
			struct vfio_region_info_cap_sparse_mmap sp;

			if ((size_t)cap + sizeof(sp) > g->info_len)
				return pc_fail(p, "sparse-mmap capability cut short");
			memcpy(&sp, g->info + cap, sizeof(sp));
			if ((size_t)cap + sizeof(sp) + 16ull * sp.nr_areas >
			    g->info_len)
				return pc_fail(p, "region %u: Unexpected end of "
					       "cap data", i);
			for (unsigned a = 0; a < sp.nr_areas; a++) {
				uint64_t ar[2];

				memcpy(ar, g->info + cap + sizeof(sp) + 16 * a, 16);
				if ((rc = pc_map(p, g->fd, g->ri.offset + ar[0],
						 ar[1], prot,
						 "Could not mmap regions")))
					return rc;
			}
		}
	}
	return 0;
}

static int irq_info(struct pc *p, unsigned index, struct vfu_irq_info *ii)
{
	struct vfu_irq_info q = { .argsz = 16, .index = index };
	struct pc_reply r;
	int rc = call(p, VFU_DEVICE_GET_IRQ_INFO, &q, 16, NULL, 0, 32,
		      "GET_IRQ_INFO", &r);

	if (!rc)
		memcpy(ii, r.p, 16);
	return rc;
}

static int set_irqs(struct pc *p, unsigned index, uint32_t flags,
		    unsigned start, unsigned count, unsigned nfds)
{
	struct vfu_irq_set q = { .argsz = 20, .flags = flags, .index = index,
				 .start = start, .count = count };
	int fds[16];
	struct pc_reply r;

	for (unsigned i = 0; i < nfds; i++)
		if ((fds[i] = pc_eventfd(p)) < 0)
			return fds[i];
	return call(p, VFU_DEVICE_SET_IRQS, &q, 20, fds, nfds, 16, "SET_IRQS",
		    &r);
}

int persona_cloud_hypervisor(struct pc *p)
{
	struct vfu_irq_info ii;
	struct pc_reply r;
	uint32_t v;
	unsigned msix;
	int ram, rc;

	if ((rc = version(p)) || (rc = regions(p)))
		return rc;
	/* the crate's resettable() is inverted: it resets without RESET */
	if (!(p->dev_flags & VFIO_DEVICE_FLAGS_RESET) &&
	    (rc = call(p, VFU_DEVICE_RESET, NULL, 0, NULL, 0, 16, "RESET", &r)))
		return rc;
	/* VfioCommon::parse_capabilities: dword reads of the chain */
	p->cfg_size = 256;
	for (unsigned off = 0; off < 256; off += 4)
		if ((rc = rd(p, VFIO_PCI_CONFIG_REGION_INDEX, off, p->cfg + off,
			     4)))
			return rc;
	if (pc_cfg_cap(p, PCI_CAP_ID_MSI) &&
	    (rc = irq_info(p, VFIO_PCI_MSI_IRQ_INDEX, &ii)))
		return rc;
	msix = pc_cfg_cap(p, PCI_CAP_ID_MSIX);
	if (msix && (rc = irq_info(p, VFIO_PCI_MSIX_IRQ_INDEX, &ii)))
		return rc;
	/* initialize_legacy_interrupt */
	if ((rc = irq_info(p, VFIO_PCI_INTX_IRQ_INDEX, &ii)))
		return rc;
	if (ii.count &&
	    ((rc = set_irqs(p, VFIO_PCI_INTX_IRQ_INDEX,
			    VFIO_IRQ_SET_DATA_EVENTFD |
				    VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, 1)) ||
	     (rc = set_irqs(p, VFIO_PCI_INTX_IRQ_INDEX,
			    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			    0, 1, 0))))
		return rc;
	/* allocate_bars: sizing through config writes */
	for (unsigned i = 0; i < 7; i++) {
		unsigned reg = i == 6 ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * i;
		uint32_t orig;

		if ((rc = rd(p, VFIO_PCI_CONFIG_REGION_INDEX, reg, &orig, 4)) ||
		    (rc = wr(p, VFIO_PCI_CONFIG_REGION_INDEX, reg, 0xffffffff,
			     4)) ||
		    (rc = rd(p, VFIO_PCI_CONFIG_REGION_INDEX, reg, &v, 4)) ||
		    (rc = wr(p, VFIO_PCI_CONFIG_REGION_INDEX, reg, orig, 4)))
			return rc;
	}
	/* guest RAM: one shared memfd region */
	ram = pc_memfd("ch-ram", 16u << 20);
	if (ram < 0)
		return pc_fail(p, "guest RAM: %s", strerror(-ram));
	{
		struct vfu_dma_map q = { .argsz = 32, .flags = 3, .offset = 0,
					 .addr = 0, .size = 16u << 20 };

		rc = call(p, VFU_DMA_MAP, &q, 32, &ram, 1, 16, "DMA_MAP", &r);
		close(ram);
		if (rc)
			return rc;
	}
	if ((rc = map_bars(p)))
		return rc;
	/* the guest turns MSI-X on: enable_irq in batches of 16 fds */
	if (msix) {
		uint16_t ctrl = p->cfg[msix + 2] | p->cfg[msix + 3] << 8;
		unsigned n = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;

		for (unsigned sent = 0; sent < n;) {
			unsigned c = n - sent > 16 ? 16 : n - sent;

			if ((rc = set_irqs(p, VFIO_PCI_MSIX_IRQ_INDEX,
					   VFIO_IRQ_SET_DATA_EVENTFD |
						   VFIO_IRQ_SET_ACTION_TRIGGER,
					   sent, c, c)))
				return rc;
			sent += c;
		}
		if ((rc = set_irqs(p, VFIO_PCI_MSIX_IRQ_INDEX,
				   VFIO_IRQ_SET_DATA_NONE |
					   VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, 0)))
			return rc;
	}
	{
		struct vfu_dma_unmap q = { .argsz = 24, .addr = 0,
					   .size = 16u << 20 };

		return call(p, VFU_DMA_UNMAP, &q, 24, NULL, 0, 40, "DMA_UNMAP",
			    &r);
	}
}
