/*
 * client_qemu.c - QEMU >= 10.1 `vfio-user-pci` (hw/vfio-user/{proxy,
 * device,container,pci}.c over hw/vfio/{device,region,pci}.c), from
 * connect to a guest that has enumerated the device:
 *
 *   VERSION (its JSON) - DMA_MAP of guest RAM and ROM/BIOS (no fd, sent
 *   without waiting) - GET_INFO argsz 16 - GET_REGION_INFO 0-5, 7 (argsz
 *   32, then the size asked for) - GET_IRQ_INFO ERR - REGION_READ of the
 *   whole config space - MSI-X cap reads, GET_IRQ_INFO MSI-X - ROM BAR
 *   sizing, GET_REGION_INFO 6 - an Intel VGA device's OpRegion region
 *   (found by type, read, ASLS written) - SET_IRQS INTx, ERR, (IRQ_INFO) REQ -
 *   the guest: BAR sizing, decode on, MSI-X on (SET_IRQS in chunks of
 *   max_msg_fds) - posted writes when nothing is mmap'ed - DEVICE_RESET.
 *
 * Replies are judged by QEMU's checks (5 s timeout, reply no larger than
 * the buffer it allocated, fds only where it expects them, CAPS with a
 * cap_offset inside the reply, ...); what QEMU only prints is a warning.
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

#define QEMU_TIMEOUT_MS 5000 /* x-msg-timeout */
#define QEMU_MAX_FDS 16      /* VFIO_USER_MAX_MAX_FDS */
#define QEMU_MAX_XFER (64ull << 20)

static const char qemu_caps[] =
	"{\"capabilities\":{\"migration\":{\"pgsize\":4096,"
	"\"max_bitmap_size\":268435456},\"max_msg_fds\":16,"
	"\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"
	"\"max_dma_maps\":65535,\"write_multiple\":true}}";

/* A reply QEMU reads into a buffer of rsize bytes (header included). */
static int fits(struct pc *p, const struct pc_reply *r, size_t rsize)
{
	if (r->h.msg_size > rsize)
		return pc_fail(p, "reply larger than recv buffer (%u > %zu, "
			       "command %u)", r->h.msg_size, rsize, r->h.cmd);
	if (r->nfds || r->ctrunc)
		return pc_fail(p, "unexpected FDs in the reply to command %u",
			       r->h.cmd);
	return 0;
}

static bool uint_cap(struct json_object *o, const char *k, uint64_t max,
		     uint64_t align)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, k, &v))
		return true;
	if (!json_object_is_type(v, json_type_int))
		return false;
	x = json_object_get_int64(v);
	return x >= 0 && (uint64_t)x <= max && !((uint64_t)x % align);
}

static int version(struct pc *p)
{
	uint8_t req[4 + sizeof(qemu_caps)] = { 0 };
	struct json_object *root, *caps, *v;
	struct pc_reply r;
	uint16_t vr[2];
	int rc;

	memcpy(req + 4, qemu_caps, sizeof(qemu_caps));
	rc = pc_call(p, VFU_VERSION, req, sizeof(req), NULL, 0, 0, &r);
	if (rc || (rc = fits(p, &r, 16 + sizeof(req))))
		return rc;
	if (pc_reply_errno(&r))
		return pc_fail(p, "version reply: %s",
			       strerror(-pc_reply_errno(&r)));
	if (r.len < 4)
		return pc_fail(p, "version reply too short");
	memcpy(vr, r.p, 4);
	if (vr[0] != 0 || vr[1] > 0)
		return pc_fail(p, "incompatible server version %u.%u", vr[0],
			       vr[1]);
	if (r.len < 5 || r.p[r.len - 1])
		return pc_fail(p, r.len < 5 ? "malformed capabilities (none)"
					    : "corrupt version reply");
	root = json_tokener_parse((char *)r.p + 4);
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return pc_fail(p, "capabilities %s not an object",
			       (char *)r.p + 4);
	}
	rc = 0;
	if (json_object_object_get_ex(root, "capabilities", &caps)) {
		struct json_object *mig;

		if (!json_object_is_type(caps, json_type_object) ||
		    !uint_cap(caps, "max_msg_fds", QEMU_MAX_FDS, 1) ||
		    !uint_cap(caps, "max_data_xfer_size", QEMU_MAX_XFER, 1) ||
		    !uint_cap(caps, "pgsizes", UINT64_MAX, 4096) ||
		    !uint_cap(caps, "max_dma_maps", 65535, 1))
			rc = pc_fail(p, "malformed capabilities %s",
				     (char *)r.p + 4);
		if (!rc && json_object_object_get_ex(caps, "migration", &mig) &&
		    (!json_object_is_type(mig, json_type_object) ||
		     !uint_cap(mig, "pgsize", UINT64_MAX, 4096) ||
		     !uint_cap(mig, "max_bitmap_size", 256u << 20, 1)))
			rc = pc_fail(p, "malformed migration capabilities");
		if (!rc && json_object_object_get_ex(caps, "write_multiple", &v) &&
		    !json_object_is_type(v, json_type_boolean))
			rc = pc_fail(p, "malformed write_multiple");
		if (!rc && json_object_object_get_ex(caps, "max_msg_fds", &v))
			p->max_fds = (uint32_t)json_object_get_int64(v);
		else if (!rc)
			p->max_fds = 8; /* VFIO_USER_DEF_MAX_FDS */
		if (!rc && json_object_object_get_ex(caps, "max_data_xfer_size",
						     &v))
			p->max_xfer = (uint64_t)json_object_get_int64(v);
		if (!rc && json_object_object_get_ex(caps, "write_multiple", &v))
			p->write_multiple = json_object_get_boolean(v);
	}
	json_object_put(root);
	return rc;
}

/*
 * The memory listener's replay, sent without waiting (nowait) and waited
 * for at the commit: RAM from a shared memfd, pc.rom / isa-bios / pc.bios
 * read-only without an fd.  An error reply is only printed by QEMU.
 */
static int dma_maps(struct pc *p, int ram)
{
	static const struct { uint64_t iova, size, off; bool fd, ro; } m[] = {
		{ 0, 0xa0000, 0, true, false },
		{ 0xc0000, 0x20000, 0, false, true },   /* pc.rom */
		{ 0xe0000, 0x20000, 0, false, true },   /* isa-bios */
		{ 0x100000, 0xf00000, 0x100000, true, false },
		{ 0xfffc0000, 0x40000, 0, false, true }, /* pc.bios */
	};
	uint16_t ids[5];
	int rc;

	for (unsigned i = 0; i < 5; i++) {
		struct vfu_dma_map q = {
			.argsz = sizeof(q), .offset = m[i].off,
			.addr = m[i].iova, .size = m[i].size,
			.flags = VFU_DMA_READ_OK |
				 (m[i].ro ? 0 : VFU_DMA_WRITE_OK) };

		rc = pc_send(p, VFU_DMA_MAP, 0, &q, sizeof(q), &ram,
			     m[i].fd ? 1 : 0, &ids[i]);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; i < 5; i++) {
		struct pc_reply r;

		rc = pc_recv(p, &r, 0);
		if (rc)
			return rc;
		if (r.h.msg_id != ids[i] || (r.h.flags & VFU_F_TYPE_MASK) !=
						    VFU_F_REPLY)
			return pc_fail(p, "unexpected reply to DMA_MAP");
		if ((rc = fits(p, &r, 16 + sizeof(struct vfu_dma_map))))
			return rc;
		if (pc_reply_errno(&r) &&
		    (rc = pc_warn(p, "vfio_user_process: error reply on async "
				  "request command 2 error %s (DMA_MAP %#llx+"
				  "%#llx%s)", strerror(-pc_reply_errno(&r)),
				  (unsigned long long)m[i].iova,
				  (unsigned long long)m[i].size,
				  m[i].fd ? "" : ", no fd")))
			return rc;
	}
	return 0;
}

static int device_info(struct pc *p)
{
	struct vfu_device_info q = { .argsz = sizeof(q) }, d;
	struct pc_reply r;
	int rc = pc_call(p, VFU_DEVICE_GET_INFO, &q, sizeof(q), NULL, 0, 0, &r);

	if (rc || (rc = fits(p, &r, 16 + sizeof(q))))
		return rc;
	if (pc_reply_errno(&r))
		return pc_fail(p, "VFIO_USER_DEVICE_GET_INFO failed: %s",
			       strerror(-pc_reply_errno(&r)));
	memset(&d, 0, sizeof(d));
	memcpy(&d, r.p, r.len < sizeof(d) ? r.len : sizeof(d));
	if (d.num_regions > 100 || d.num_irqs > 50)
		return pc_fail(p, "invalid reply");
	if (!(d.flags & VFIO_DEVICE_FLAGS_PCI))
		return pc_fail(p, "this isn't a PCI device");
	if (d.num_regions < VFIO_PCI_CONFIG_REGION_INDEX + 1)
		return pc_fail(p, "unexpected number of io regions %u",
			       d.num_regions);
	if (d.num_irqs < VFIO_PCI_MSIX_IRQ_INDEX + 1)
		return pc_fail(p, "unexpected number of irqs %u", d.num_irqs);
	p->dev_flags = d.flags;
	p->num_regions = d.num_regions;
	p->num_irqs = d.num_irqs;
	return 0;
}

/* vfio_device_get_region_info: argsz 32, then what the server asks. */
static int region_info(struct pc *p, unsigned index)
{
	struct pc_region *g = &p->reg[index];
	uint32_t argsz = sizeof(struct vfu_region_info);

	if (index > p->num_regions)
		return pc_fail(p, "region %u: invalid index", index);
	for (unsigned tries = 0;; tries++) {
		struct vfu_region_info q = { .argsz = argsz, .index = index };
		struct pc_reply r;
		int rc = pc_call(p, VFU_DEVICE_GET_REGION_INFO, &q, sizeof(q),
				 NULL, 0, 1, &r);

		if (rc)
			return rc;
		if (r.h.msg_size > 16 + argsz || r.ctrunc) {
			pc_reply_close_fds(&r);
			return pc_fail(p, "failed to get region %u info: reply "
				       "larger than recv buffer / unexpected "
				       "FDs", index);
		}
		if (pc_reply_errno(&r))
			return pc_fail(p, "failed to get region %u info: %s",
				       index, strerror(-pc_reply_errno(&r)));
		if (r.len < sizeof(g->ri)) {
			pc_reply_close_fds(&r);
			return pc_fail(p, "region %u info reply short", index);
		}
		memcpy(&g->ri, r.p, sizeof(g->ri));
		if ((g->ri.flags & VFIO_REGION_INFO_FLAG_CAPS) &&
		    (g->ri.cap_offset < sizeof(g->ri) ||
		     g->ri.cap_offset > g->ri.argsz)) {
			pc_reply_close_fds(&r);
			return pc_fail(p, "failed to get region %u info: "
				       "Invalid argument (CAPS with cap_offset "
				       "%u, argsz %u)", index, g->ri.cap_offset,
				       g->ri.argsz);
		}
		if (g->ri.argsz > argsz) {
			pc_reply_close_fds(&r); /* QEMU closes it, asks again */
			if (tries > 4)
				return pc_fail(p, "region %u: argsz keeps "
					       "growing", index);
			argsz = g->ri.argsz;
			continue;
		}
		free(g->info);
		g->info = malloc(argsz);
		if (!g->info)
			return pc_fail(p, "out of memory");
		memset(g->info, 0, argsz);
		memcpy(g->info, r.p, r.len < argsz ? r.len : argsz);
		g->info_len = argsz;
		g->fd = r.nfds ? r.fds[0] : -1;
		g->asked = true;
		return 0;
	}
}

/* Where the MSI-X table sits, page-aligned (vfio_pci_fixup_msix_region). */
struct msix_hole {
	int bar; /* -1: no MSI-X */
	uint64_t start, end;
};

/*
 * vfio_region_mmap: the sparse areas; without them the whole region, less
 * the MSI-X table pages QEMU cuts out itself (unless MSIX_MAPPABLE).
 */
static int map_region(struct pc *p, unsigned index, bool *mapped,
		      const struct msix_hole *mh)
{
	struct pc_region *g = &p->reg[index];
	int prot = (g->ri.flags & VFIO_REGION_INFO_FLAG_READ ? PROT_READ : 0) |
		   (g->ri.flags & VFIO_REGION_INFO_FLAG_WRITE ? PROT_WRITE : 0);
	long cap;

	if (!g->ri.size || !(g->ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return 0;
	*mapped = true;
	if (g->fd < 0)
		return pc_warn(p, "Failed to mmap BAR %u (MMAP without an fd). "
			       "Performance may be slow", index);
	cap = (g->ri.flags & VFIO_REGION_INFO_FLAG_CAPS)
		      ? pc_region_cap(g, VFIO_REGION_INFO_CAP_SPARSE_MMAP) : 0;
	if (cap < 0)
		return pc_fail(p, "region %u: capability chain leaves the "
			       "reply (QEMU would read past its buffer)", index);
	if (!cap && mh->bar == (int)index && g->ri.flags & VFIO_REGION_INFO_FLAG_CAPS &&
	    pc_region_cap(g, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) > 0)
		return pc_map(p, g->fd, g->ri.offset, g->ri.size, prot, "BAR");
	if (!cap && mh->bar == (int)index) {
		int rc = 0;

		if (mh->start)
			rc = pc_map(p, g->fd, g->ri.offset, mh->start, prot,
				    "Failed to mmap BAR");
		if (!rc && mh->end < g->ri.size)
			rc = pc_map(p, g->fd, g->ri.offset + mh->end,
				    g->ri.size - mh->end, prot,
				    "Failed to mmap BAR");
		return rc;
	}
	if (!cap)
		return pc_map(p, g->fd, g->ri.offset, g->ri.size, prot,
			      "Failed to mmap BAR");
	{
		struct vfio_region_info_cap_sparse_mmap sp;
		size_t at = (size_t)cap + sizeof(sp);

		if ((size_t)cap + sizeof(sp) > g->info_len)
			return pc_fail(p, "sparse-mmap capability cut short");
		memcpy(&sp, g->info + cap, sizeof(sp));
		if (at + (size_t)sp.nr_areas * 16 > g->info_len)
			return pc_fail(p, "region %u: %u sparse areas past the "
				       "reply", index, sp.nr_areas);
		for (unsigned i = 0; i < sp.nr_areas; i++) {
			uint64_t a[2];
			int rc;

			memcpy(a, g->info + at + 16 * i, 16);
			if (!a[1])
				continue;
			if (a[0] > g->ri.size || a[1] > g->ri.size - a[0])
				return pc_fail(p, "region %u: sparse area %#llx+"
					       "%#llx outside the BAR", index,
					       (unsigned long long)a[0],
					       (unsigned long long)a[1]);
			rc = pc_map(p, g->fd, g->ri.offset + a[0], a[1], prot,
				    "Failed to mmap BAR area");
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* vfio_user_device_io_region_read/_write (not posted unless post). */
static int rw(struct pc *p, unsigned region, uint64_t off, void *buf,
	      uint32_t count, bool write)
{
	uint8_t req[16 + 4096];
	struct vfu_region_rw q = { .offset = off, .region = region,
				   .count = count };
	struct pc_reply r;
	int rc;

	if (count > p->max_xfer || count > 4096)
		return pc_fail(p, "access of %u bytes above max_data_xfer_size",
			       count);
	memcpy(req, &q, sizeof(q));
	if (write)
		memcpy(req + 16, buf, count);
	rc = pc_call(p, write ? VFU_REGION_WRITE : VFU_REGION_READ, req,
		     16 + (write ? count : 0), NULL, 0, 0, &r);
	if (rc || (rc = fits(p, &r, 32 + count)))
		return rc;
	if (pc_reply_errno(&r))
		return pc_reply_errno(&r);
	if (!write) {
		if (r.len < 16)
			return pc_fail(p, "region read reply short");
		memcpy(&q, r.p, sizeof(q));
		if (q.count > count)
			return -E2BIG;
		if (q.count < count || r.len < 16 + count)
			return pc_fail(p, "region %u read at %#llx: %u of %u "
				       "bytes", region, (unsigned long long)off,
				       q.count, count);
		memcpy(buf, r.p + 16, count);
	}
	return 0;
}

static int cfg_rd(struct pc *p, unsigned off, void *v, uint32_t n)
{
	int rc = rw(p, VFIO_PCI_CONFIG_REGION_INDEX, off, v, n, false);

	return rc < 0 && rc != -EPROTO
		       ? pc_fail(p, "config read at %#x: %s", off, strerror(-rc))
		       : rc;
}

static int cfg_wr(struct pc *p, unsigned off, uint32_t v, uint32_t n)
{
	int rc = rw(p, VFIO_PCI_CONFIG_REGION_INDEX, off, &v, n, true);

	return rc < 0 && rc != -EPROTO
		       ? pc_fail(p, "config write at %#x: %s", off, strerror(-rc))
		       : rc;
}

static int irq_info(struct pc *p, unsigned index, struct vfu_irq_info *out)
{
	struct vfu_irq_info q = { .argsz = sizeof(q), .index = index };
	struct pc_reply r;
	int rc = pc_call(p, VFU_DEVICE_GET_IRQ_INFO, &q, sizeof(q), NULL, 0, 0,
			 &r);

	if (rc || (rc = fits(p, &r, 16 + sizeof(q))))
		return rc;
	if (pc_reply_errno(&r))
		return pc_reply_errno(&r);
	memset(out, 0, sizeof(*out));
	memcpy(out, r.p, r.len < sizeof(*out) ? r.len : sizeof(*out));
	return 0;
}

/* SET_IRQS with eventfds: argsz 20, chunks of max_msg_fds. */
static int set_irqs(struct pc *p, unsigned index, unsigned start,
		    unsigned count, bool with_fds)
{
	unsigned max = p->max_fds ? p->max_fds : 1;

	for (unsigned sent = 0; sent < count;) {
		unsigned n = count - sent < max ? count - sent : max;
		struct vfu_irq_set q = {
			.argsz = sizeof(q), .index = index,
			.start = start + sent, .count = n,
			.flags = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER };
		int fds[PC_MAX_FDS];
		struct pc_reply r;
		int rc;

		for (unsigned i = 0; with_fds && i < n; i++)
			if ((fds[i] = pc_eventfd(p)) < 0)
				return fds[i];
		rc = pc_call(p, VFU_DEVICE_SET_IRQS, &q, sizeof(q), fds,
			     with_fds ? n : 0, 0, &r);
		if (rc || (rc = fits(p, &r, 16 + sizeof(q))))
			return rc;
		if (pc_reply_errno(&r))
			return pc_reply_errno(&r);
		sent += n;
	}
	return 0;
}

/*
 * vfio_enable_vectors: every vector 0..n-1, eventfds for the used ones,
 * -1 for the rest; the vfio-user layer sends runs of valid fds or runs
 * of -1 (no fds) in chunks of max_msg_fds.
 */
static int enable_vectors(struct pc *p, unsigned index, unsigned n)
{
	int rc = set_irqs(p, index, 0, n, true);

	if (rc && rc != -EPROTO)
		rc = pc_fail(p, "vfio: failed to enable vectors, %s",
			     strerror(-rc));
	return rc;
}

static int irq_disable(struct pc *p, unsigned index)
{
	struct vfu_irq_set q = { .argsz = sizeof(q), .index = index,
				 .flags = VFIO_IRQ_SET_DATA_NONE |
					  VFIO_IRQ_SET_ACTION_TRIGGER };
	struct pc_reply r;
	int rc = pc_call(p, VFU_DEVICE_SET_IRQS, &q, sizeof(q), NULL, 0, 0, &r);

	if (rc || (rc = fits(p, &r, 16 + sizeof(q))))
		return rc;
	return pc_reply_errno(&r)
		       ? pc_fail(p, "disabling IRQ index %u: %s", index,
				 strerror(-pc_reply_errno(&r)))
		       : 0;
}

/*
 * The guest turns MSI-X on with every vector masked (vfio_msix_enable:
 * vector 0 with no fd), then unmasks vectors one by one; with NORESIZE
 * each new vector disables the index and enables 0..k again.
 */
static int guest_msix(struct pc *p, unsigned pos, bool noresize)
{
	uint16_t ctrl;
	unsigned n;
	int rc;

	if ((rc = cfg_rd(p, pos + PCI_MSIX_FLAGS, &ctrl, 2)))
		return rc;
	n = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
	if ((rc = cfg_wr(p, pos + PCI_MSIX_FLAGS,
			 ctrl | PCI_MSIX_FLAGS_ENABLE, 2)))
		return rc;
	rc = set_irqs(p, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, false);
	if (rc)
		return rc == -EPROTO ? rc
				     : pc_fail(p, "vfio: failed to enable MSI-X, "
					       "%s", strerror(-rc));
	for (unsigned k = 1; k <= n && k <= 8; k++) {
		if (noresize && (rc = irq_disable(p, VFIO_PCI_MSIX_IRQ_INDEX)))
			return rc;
		rc = noresize ? enable_vectors(p, VFIO_PCI_MSIX_IRQ_INDEX, k)
			      : set_irqs(p, VFIO_PCI_MSIX_IRQ_INDEX, k - 1, 1, true);
		if (rc)
			return rc == -EPROTO ? rc
					     : pc_fail(p, "vfio: failed to set up "
						       "MSI-X vector %u: %s", k - 1,
						       strerror(-rc));
	}
	if (n > 8 && (rc = enable_vectors(p, VFIO_PCI_MSIX_IRQ_INDEX, n)))
		return rc; /* a driver using all of them */
	return 0;
}

/* The guest's firmware and driver: BARs placed, decode on, the option
 * ROM read (vfio_pci_load_rom), MSI-X on. */
static int guest(struct pc *p, uint32_t rom_size, bool noresize)
{
	uint64_t mem = 0xe0000000, io = 0xc000;
	uint32_t cmd = PCI_COMMAND_MASTER;
	unsigned msix = pc_cfg_cap(p, PCI_CAP_ID_MSIX);
	int rc;

	for (unsigned i = 0; i < 6; i++) {
		unsigned reg = PCI_BASE_ADDRESS_0 + 4 * i;
		uint32_t lo;
		uint64_t size = p->reg[i].ri.size;

		if (!size)
			continue;
		if ((rc = cfg_wr(p, reg, 0xffffffff, 4)) ||
		    (rc = cfg_rd(p, reg, &lo, 4)))
			return rc;
		if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
			io = (io + size - 1) & ~(size - 1);
			rc = cfg_wr(p, reg, (uint32_t)io, 4);
			io += size;
			cmd |= PCI_COMMAND_IO;
		} else {
			mem = (mem + size - 1) & ~(size - 1);
			rc = cfg_wr(p, reg, (uint32_t)mem, 4);
			if (!rc && (lo & PCI_BASE_ADDRESS_MEM_TYPE_64))
				rc = cfg_wr(p, reg + 4, (uint32_t)(mem >> 32), 4);
			mem += size;
			cmd |= PCI_COMMAND_MEMORY;
		}
		if (rc)
			return rc;
		if (lo & PCI_BASE_ADDRESS_MEM_TYPE_64)
			i++;
	}
	if ((rc = cfg_wr(p, PCI_COMMAND, cmd, 2)))
		return rc;
	if (rom_size) {
		struct pc_region *g = &p->reg[VFIO_PCI_ROM_REGION_INDEX];
		uint8_t buf[4096];

		if ((rc = region_info(p, VFIO_PCI_ROM_REGION_INDEX)))
			return rc == -EPROTO ? rc
					     : pc_fail(p, "vfio: Error getting ROM "
						       "info: %s", strerror(-rc));
		if (!g->ri.size &&
		    (rc = pc_warn(p, "vfio-pci: Cannot read device rom (the ROM "
				  "BAR says %u bytes, the ROM region 0)",
				  rom_size)))
			return rc;
		/* QEMU reads it whole; here the first page is enough */
		if (g->ri.size) {
			uint32_t n = g->ri.size < sizeof(buf) ? (uint32_t)g->ri.size
							      : sizeof(buf);

			rc = rw(p, VFIO_PCI_ROM_REGION_INDEX, 0, buf, n, false);
			if (rc && (rc == -EPROTO ||
				   (rc = pc_warn(p, "vfio: Error reading device "
						 "ROM: %s", strerror(-rc)))))
				return rc;
		}
	}
	return msix ? guest_msix(p, msix, noresize) : 0;
}

/* Posted writes (NO_REPLY) to a memory BAR when no region is mmap'ed:
 * a read after them must come back as the next reply. */
static int posted(struct pc *p)
{
	uint32_t v = 0, w, bar;
	uint16_t id;
	struct vfu_region_rw q = { .offset = 0, .region = 0, .count = 4 };
	uint8_t req[20];
	int rc;

	for (q.region = 0; q.region < 6; q.region++) {
		memcpy(&bar, p->cfg + PCI_BASE_ADDRESS_0 + 4 * q.region, 4);
		if (p->reg[q.region].ri.size >= 4 &&
		    !(bar & PCI_BASE_ADDRESS_SPACE_IO) &&
		    (p->reg[q.region].ri.flags & VFIO_REGION_INFO_FLAG_WRITE))
			break;
	}
	if (q.region == 6)
		return 0;
	if ((rc = rw(p, q.region, 0, &v, 4, false)) < 0)
		return rc == -EPROTO ? rc : 0; /* trapped and refused: fine */
	memcpy(req, &q, 16);
	memcpy(req + 16, &v, 4);
	if ((rc = pc_send(p, VFU_REGION_WRITE, VFU_F_NO_REPLY, req, 20, NULL, 0,
			  &id)))
		return rc;
	if (p->write_multiple) {
		/* a long queue: posted writes coalesced into WRITE_MULTI */
		uint8_t wm[8 + 2 * sizeof(struct vfu_write_multi_entry)] = { 0 };
		struct vfu_write_multi_entry e = { .offset = 0,
						   .region = q.region,
						   .count = 4 };
		uint64_t n = 2;

		memcpy(e.data, &v, 4);
		memcpy(wm, &n, 8);
		memcpy(wm + 8, &e, sizeof(e));
		memcpy(wm + 8 + sizeof(e), &e, sizeof(e));
		if ((rc = pc_send(p, VFU_REGION_WRITE_MULTI, VFU_F_NO_REPLY, wm,
				  sizeof(wm), NULL, 0, &id)))
			return rc;
	}
	if ((rc = rw(p, q.region, 0, &w, 4, false)) < 0)
		return rc == -EPROTO ? rc
				     : pc_fail(p, "read after a posted write: %s",
					       strerror(-rc));
	return 0;
}

/* vfio_setup_pcie_cap: only endpoints can be assigned. */
static int pcie_type(struct pc *p)
{
	unsigned pos = pc_cfg_cap(p, PCI_CAP_ID_EXP);
	unsigned type;

	if (!pos)
		return 0;
	type = (p->cfg[pos + PCI_EXP_FLAGS] & PCI_EXP_FLAGS_TYPE) >> 4;
	if (type != PCI_EXP_TYPE_ENDPOINT && type != PCI_EXP_TYPE_LEG_END &&
	    type != PCI_EXP_TYPE_RC_END)
		return pc_fail(p, "assignment of PCIe type 0x%x devices is not "
			       "currently supported", type);
	return 0;
}

/* vfio_msix_early_setup: the cap through config reads, IRQ_INFO MSI-X. */
/*
 * vfio_pci_igd_setup_opregion (x-igd-opregion=on, on by itself in legacy
 * mode): an Intel VGA device's OpRegion, found by type and subtype among
 * the device-specific regions (vfio_device_get_region_info_type: the
 * VFIO_REGION_INFO_CAP_TYPE capability of each region from 9 on), read
 * whole into fw_cfg "etc/igd-opregion" (QEMU reads it in one message; the
 * persona in 4 KiB pieces).  The guest's firmware copies it to its memory
 * and writes that address to ASLS (0xfc), which goes to the device too:
 * the device must then say the same address.
 */
#define IGD_ASLS 0xfc
#define IGD_GUEST_OPREGION 0x7f000000u

static int igd_opregion(struct pc *p)
{
	const uint32_t want_type = (uint32_t)VFIO_REGION_TYPE_PCI_VENDOR_TYPE |
				   0x8086u;
	struct pc_region *g = NULL;
	uint8_t *op;
	uint32_t asls;
	int rc;

	if ((p->cfg[0] | p->cfg[1] << 8) != 0x8086 ||
	    (p->cfg[0x0a] | p->cfg[0x0b] << 8) != 0x0300)
		return 0;
	for (unsigned i = VFIO_PCI_NUM_REGIONS;
	     i < p->num_regions && i < PC_NUM_REGIONS && !g; i++) {
		struct vfio_region_info_cap_type t;
		long cap;

		if ((rc = region_info(p, i)))
			return rc;
		if (!(p->reg[i].ri.flags & VFIO_REGION_INFO_FLAG_CAPS))
			continue;
		cap = pc_region_cap(&p->reg[i], VFIO_REGION_INFO_CAP_TYPE);
		if (cap < 0 || (cap && (size_t)cap + sizeof(t) >
					       p->reg[i].info_len))
			return pc_fail(p, "region %u: capability chain leaves "
				       "the reply", i);
		if (!cap)
			continue;
		memcpy(&t, p->reg[i].info + cap, sizeof(t));
		if (t.type == want_type &&
		    t.subtype == VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION)
			g = &p->reg[i];
	}
	if (!g)
		return 0; /* x-igd-opregion=on would fail; off: no OpRegion */
	if (!g->ri.size || g->ri.size > (1u << 20) ||
	    !(g->ri.flags & VFIO_REGION_INFO_FLAG_READ))
		return pc_fail(p, "IGD OpRegion region of %#llx bytes, flags "
			       "%#x", (unsigned long long)g->ri.size,
			       g->ri.flags);
	op = malloc(g->ri.size);
	if (!op)
		return pc_fail(p, "out of memory");
	for (uint64_t off = 0; off < g->ri.size; off += 4096) {
		uint64_t n = g->ri.size - off < 4096 ? g->ri.size - off : 4096;

		rc = rw(p, g->ri.index, off, op + off, (uint32_t)n, false);
		if (rc) {
			free(op);
			return rc == -EPROTO ? rc
					     : pc_fail(p, "failed to read IGD "
						       "OpRegion: %s",
						       strerror(-rc));
		}
	}
	rc = g->ri.size < 16 || memcmp(op, "IntelGraphicsMem", 16)
		     ? pc_fail(p, "IGD OpRegion without its signature") : 0;
	free(op);
	if (rc || (rc = cfg_wr(p, IGD_ASLS, IGD_GUEST_OPREGION, 4)) ||
	    (rc = cfg_rd(p, IGD_ASLS, &asls, 4)))
		return rc;
	if (asls != IGD_GUEST_OPREGION)
		return pc_fail(p, "ASLS %#x after the firmware wrote %#x (the "
			       "OpRegion copy is there)", asls,
			       IGD_GUEST_OPREGION);
	p->igd_opregion = true;
	return 0;
}

static int msix_early(struct pc *p, bool *noresize, struct msix_hole *mh)
{
	unsigned pos = pc_cfg_cap(p, PCI_CAP_ID_MSIX);
	struct vfu_irq_info ii;
	uint32_t table, pba;
	uint16_t ctrl;
	int rc;

	if (!pos)
		return 0;
	if ((rc = cfg_rd(p, pos + PCI_MSIX_FLAGS, &ctrl, 2)) ||
	    (rc = cfg_rd(p, pos + PCI_MSIX_TABLE, &table, 4)) ||
	    (rc = cfg_rd(p, pos + PCI_MSIX_PBA, &pba, 4)))
		return rc;
	rc = irq_info(p, VFIO_PCI_MSIX_IRQ_INDEX, &ii);
	if (rc)
		return rc == -EPROTO ? rc
				     : pc_fail(p, "failed to get MSI-X irq info: "
					       "%s", strerror(-rc));
	*noresize = ii.flags & VFIO_IRQ_INFO_NORESIZE;
	mh->bar = (int)(table & PCI_MSIX_FLAGS_BIRMASK);
	mh->start = (table & ~PCI_MSIX_FLAGS_BIRMASK) & ~4095ull;
	mh->end = ((table & ~PCI_MSIX_FLAGS_BIRMASK) +
		   16ull * ((ctrl & PCI_MSIX_FLAGS_QSIZE) + 1) + 4095) & ~4095ull;
	if ((pba & ~PCI_MSIX_FLAGS_BIRMASK) >=
	    p->reg[pba & PCI_MSIX_FLAGS_BIRMASK].ri.size)
		return pc_fail(p, "hardware reports invalid configuration, MSIX "
			       "PBA outside of specified BAR");
	return 0;
}

int persona_qemu(struct pc *p)
{
	struct vfu_irq_info ii;
	bool pci_aer = false, mapped = false, noresize = true;
	struct msix_hole mh = { .bar = -1 };
	unsigned err_count;
	uint32_t orig, rom, bar;
	int ram, rc;

	p->timeout_ms = QEMU_TIMEOUT_MS;
	p->waits_forever = false;
	if ((rc = version(p)))
		return rc;
	ram = pc_memfd("qemu-ram", 16u << 20);
	if (ram < 0)
		return pc_fail(p, "guest RAM: %s", strerror(-ram));
	rc = dma_maps(p, ram);
	close(ram);
	if (rc || (rc = device_info(p)))
		return rc;
	/* vfio_pci_populate_device */
	for (unsigned i = 0; i <= VFIO_PCI_BAR5_REGION_INDEX; i++)
		if ((rc = region_info(p, i)))
			return rc;
	if ((rc = region_info(p, VFIO_PCI_CONFIG_REGION_INDEX)))
		return rc;
	p->cfg_size = (unsigned)p->reg[VFIO_PCI_CONFIG_REGION_INDEX].ri.size;
	if (p->cfg_size != 256 && p->cfg_size != 4096)
		return pc_fail(p, "config region of %u bytes", p->cfg_size);
	/* an error here is only traced; a count other than 1 warned */
	rc = irq_info(p, VFIO_PCI_ERR_IRQ_INDEX, &ii);
	if (rc == -EPROTO)
		return rc;
	err_count = rc ? 1 : ii.count;
	pci_aer = !rc && ii.count == 1;
	/* vfio_pci_config_setup */
	if ((rc = rw(p, VFIO_PCI_CONFIG_REGION_INDEX, 0, p->cfg, p->cfg_size,
		     false)))
		return rc == -EPROTO ? rc
				     : pc_fail(p, "failed to read device config "
					       "space: %s", strerror(-rc));
	/*
	 * vfio-pci itself has ERR for PCI Express devices only, so QEMU
	 * prints this for a conventional device under any server: ptdm is
	 * judged on the PCIe ones.
	 */
	if (err_count != 1 && pc_cfg_cap(p, PCI_CAP_ID_EXP) &&
	    (rc = pc_warn(p, "Could not enable error recovery for the device "
			  "(ERR count %u)", err_count)))
		return rc;
	/* vfio_pci_size_rom */
	rom = PCI_ROM_ADDRESS_MASK;
	if ((rc = cfg_rd(p, PCI_ROM_ADDRESS, &orig, 4)) ||
	    (rc = cfg_wr(p, PCI_ROM_ADDRESS, rom, 4)) ||
	    (rc = cfg_rd(p, PCI_ROM_ADDRESS, &rom, 4)) ||
	    (rc = cfg_wr(p, PCI_ROM_ADDRESS, orig, 4)))
		return rc;
	rom = ~(rom & PCI_ROM_ADDRESS_MASK) + 1;
	/* vfio_bars_prepare: each BAR's type from config space */
	for (unsigned i = 0; i <= VFIO_PCI_BAR5_REGION_INDEX; i++)
		if (p->reg[i].ri.size &&
		    (rc = cfg_rd(p, PCI_BASE_ADDRESS_0 + 4 * i, &bar, 4)))
			return rc;
	if ((rc = msix_early(p, &noresize, &mh)))
		return rc;
	/* vfio_bars_register: mmap */
	for (unsigned i = 0; i <= VFIO_PCI_BAR5_REGION_INDEX; i++)
		if ((rc = map_region(p, i, &mapped, &mh)))
			return rc;
	/* vfio_pci_add_capabilities */
	if ((rc = pcie_type(p)))
		return rc;
	if ((rc = igd_opregion(p)))
		return rc;
	/* vfio_pci_interrupt_setup, the notifiers */
	if (p->cfg[PCI_INTERRUPT_PIN]) {
		rc = set_irqs(p, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, true);
		if (rc)
			return rc == -EPROTO ? rc
					     : pc_fail(p, "Failed to setup INTx "
						       "fd: %s", strerror(-rc));
	}
	if (pci_aer) {
		rc = set_irqs(p, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, true);
		if (rc == -EPROTO ||
		    (rc && (rc = pc_warn(p, "Failed to set up error "
					 "notification: %s", strerror(-rc)))))
			return rc;
	}
	rc = irq_info(p, VFIO_PCI_REQ_IRQ_INDEX, &ii);
	if (rc == -EPROTO)
		return rc;
	if (!rc && ii.count >= 1) {
		rc = set_irqs(p, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, true);
		if (rc == -EPROTO ||
		    (rc && (rc = pc_warn(p, "Fail to set up device request "
					 "notification: %s", strerror(-rc)))))
			return rc;
	}
	if ((rc = guest(p, rom, noresize)))
		return rc;
	if (!mapped && (rc = posted(p)))
		return rc;
	if (p->dev_flags & VFIO_DEVICE_FLAGS_RESET) {
		struct pc_reply r;

		rc = pc_call(p, VFU_DEVICE_RESET, NULL, 0, NULL, 0, 0, &r);
		if (rc || (rc = fits(p, &r, 16)))
			return rc;
		if (pc_reply_errno(&r) &&
		    (rc = pc_warn(p, "reset reply error %d", r.h.error)))
			return rc;
	}
	return 0;
}
