/*
 * xen.c - the Xen ioreq-server front end (ptdm/xen.h).
 *
 * Flow: Xen puts a guest access to our device in the vCPU's slot of the
 * shared ioreq page and signals that vCPU's event channel.  We copy the
 * request out, check it (size, count, pointer range), run it through the
 * core element by element (rep ins/outs/movs with data_is_ptr go through
 * one bounded bounce buffer of guest memory), write the answer back and
 * hand the slot to Xen.  Buffered ioreqs (writes only) come through their
 * own ring.  Everything the guest programs reaches Xen through the owner:
 * the sink below registers trapped windows with the server, or maps real
 * BARs into the p2m and binds pirqs.
 *
 * Hostile requests (wrong size, huge counts, pointers outside the guest,
 * addresses that are not ours) are answered with all-ones or dropped,
 * counted, and logged once a second at most; the server never stops for
 * them.
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include <xen/hvm/ioreq.h> /* after stdint.h: it uses the types bare */

#include "ptdm/log.h"
#include "ptdm/owner.h"
#include "ptdm/xen.h"

#define MAX_VCPUS 128       /* one ioreq page */
#define MAX_REP_BYTES 65536 /* one rep ioreq: bounce buffer bound */
#define PAGE 4096ull
#define CF8_PORT 0xcf8

struct window {
	bool on, mmio, trapped;
	uint64_t gpa, size;
	/* real MMIO BARs: the trapped sub-ranges (MSI-X table / PBA pages) */
	uint64_t trap_lo[PTDM_MAX_TRAPPED], trap_hi[PTDM_MAX_TRAPPED];
	unsigned ntrap;
};

struct xen_server {
	struct xen_hv *hv;
	struct ptdm_dev *dev;
	struct ptdm_owner *owner;
	struct xen_host_res res;
	struct xen_server_opts opts;

	uint16_t id;
	bool created, enabled, pcidev, cf8_range, assigned;
	ioreq_t *slots;
	buffered_iopage_t *buf;
	unsigned nvcpu;
	uint32_t port[MAX_VCPUS];
	uint32_t buf_port; /* local, 0: none */
	uint32_t cf8;      /* CONFIG_ADDRESS latch */

	struct window win[PTDM_NUM_BARS + 1];
	int *vec_pirq;           /* real devices: pirq bound per vector, -1 */
	int *vec_map;            /* the pirq mapped for it (MSI: in the block) */
	uint32_t *vec_gvec;
	unsigned nvec_pirq;
	int intx_pirq;
	int msi_pirq;            /* MSI: first pirq of the mapped block, -1 */
	unsigned msi_nr;         /* MSI: vectors in that block */
	bool multi_msi_warned;
	bool host_msi_on, host_msix_on; /* the device's own enable bits */
	uint64_t opregion_gfn;          /* IGD: where the host's OpRegion is
					 * mapped in the guest, 0: nowhere */
	unsigned vga_mapped;            /* IGD gfx_passthru: bit i, VGA
					 * range i is mapped (igd_vga_*) */

	uint8_t *bounce;
	uint64_t vcpu_seen[MAX_VCPUS / 64];
	struct timespec last_alive;
	struct xen_server_stats st;
	struct ptdm_ratelimit rl;
};

#define hv_call(s, fn, ...) ((s)->hv->ops->fn((s)->hv, __VA_ARGS__))

/* A request we refuse: counted, logged at most 10 times a second. */
#define bad(s, fmt, a, b)                                                  \
	do {                                                               \
		(s)->st.bad++;                                             \
		ptdm_log_ratelimited(&(s)->rl, PTDM_LOG_WARN, "xen: " fmt, \
				     (unsigned long long)(a),              \
				     (unsigned long long)(b));             \
	} while (0)

static unsigned sbdf_devfn(unsigned sbdf)
{
	return sbdf & 0xff;
}

/* ---- the owner's sink ---- */

/*
 * Real MMIO BAR: the ranges the core traps (MSI-X table / PBA pages) stay
 * trapped; they come sorted, merged and page aligned.  The p2m works in
 * Xen's 4 KiB pages: a host page is a multiple of that.
 */
static void msix_holes(struct xen_server *s, int bar, struct window *w)
{
	struct ptdm_range t[PTDM_MAX_TRAPPED];
	int n = ptdm_dev_trapped(s->dev, bar, t, PTDM_MAX_TRAPPED);

	w->ntrap = 0;
	if (n > PTDM_MAX_TRAPPED) { /* more than the core promises: trap all */
		w->trap_lo[0] = 0;
		w->trap_hi[0] = w->size;
		w->ntrap = 1;
		return;
	}
	for (int i = 0; i < n; i++) {
		uint64_t hi = t[i].off + t[i].len;

		if (t[i].off >= w->size)
			break;
		w->trap_lo[w->ntrap] = t[i].off;
		w->trap_hi[w->ntrap++] = hi < w->size ? hi : w->size;
	}
}

/* p2m-map [off, end) of a real MMIO BAR, or undo it. */
static int map_piece(struct xen_server *s, int bar, struct window *w,
		     uint64_t off, uint64_t end, bool map)
{
	if (end <= off)
		return 0;
	return hv_call(s, map_mmio, (w->gpa + off) / PAGE,
		       (s->res.phys[bar] + off) / PAGE, (end - off) / PAGE, map);
}

static int real_mmio(struct xen_server *s, int bar, struct window *w, bool map)
{
	uint64_t at = 0;
	int rc = 0, r;

	if (map)
		msix_holes(s, bar, w);
	for (unsigned i = 0; i <= w->ntrap; i++) {
		uint64_t end = i < w->ntrap ? w->trap_lo[i] : w->size;

		r = map_piece(s, bar, w, at, end, map);
		rc = rc ? rc : r;
		if (i < w->ntrap) {
			r = hv_call(s, map_range, s->id, true,
				    w->gpa + w->trap_lo[i],
				    w->gpa + w->trap_hi[i] - 1, map);
			rc = rc ? rc : r;
			at = w->trap_hi[i];
		}
	}
	return rc;
}

static int sink_bar_map(void *opaque, int bar, uint64_t gpa, uint64_t size,
			enum host_bar_kind kind, bool map)
{
	struct xen_server *s = opaque;
	struct window *w = &s->win[bar];
	bool mmio = kind != HOST_BAR_IO;
	bool real = s->res.real && s->res.phys[bar] && bar != PTDM_ROM_INDEX;
	int rc;

	if (map) {
		*w = (struct window){ .on = true, .mmio = mmio, .gpa = gpa,
				      .size = size };
		/* a real BAR smaller than a page cannot be mapped safely: the
		 * rest of the page would be another device's */
		w->trapped = !real || (mmio && (size < PAGE || gpa % PAGE ||
						s->res.phys[bar] % PAGE));
	} else if (!w->on) {
		return 0;
	}
	if (w->trapped)
		rc = hv_call(s, map_range, s->id, mmio, gpa, gpa + size - 1,
			     map);
	else if (mmio)
		rc = real_mmio(s, bar, w, map);
	else
		rc = hv_call(s, map_ioport, (uint32_t)gpa,
			     (uint32_t)s->res.phys[bar], (uint32_t)size, map);
	ptdm_log(PTDM_LOG_DEBUG, "xen: BAR%d %s at %#llx+%#llx %s: %s", bar,
		 w->trapped ? "trapped" : "mapped", (unsigned long long)gpa,
		 (unsigned long long)size, map ? "on" : "off",
		 rc ? strerror(-rc) : "ok");
	if (!map)
		w->on = false;
	return rc;
}

static int sink_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct xen_server *s = opaque;

	return hv_call(s, inject_msi, addr, data);
}

static int sink_intx(void *opaque, unsigned pin, bool level)
{
	struct xen_server *s = opaque;

	if (pin < 1 || pin > 4)
		return -EINVAL;
	return hv_call(s, set_intx, s->opts.guest_sbdf, pin - 1, level);
}

/* Xen's gflags for a guest MSI address/data pair (XEN_DOMCTL_VMSI_X86_*). */
static uint32_t msi_gflags(uint64_t addr, uint32_t data, bool masked)
{
	uint32_t dest = (addr >> 12) & 0xff;
	uint32_t rh = (addr >> 3) & 1, dm = (addr >> 2) & 1;
	uint32_t deliv = (data >> 8) & 7, trig = (data >> 15) & 1;

	return dest | rh << 8 | dm << 9 | deliv << 12 | trig << 15 |
	       (masked ? 0 : 0x10000u);
}

static int vec_slots(struct xen_server *s, unsigned vec)
{
	unsigned n = vec + 1;
	int *p, *m;
	uint32_t *g;

	if (vec < s->nvec_pirq)
		return 0;
	p = realloc(s->vec_pirq, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->vec_pirq = p;
	m = realloc(s->vec_map, n * sizeof(*m));
	if (!m)
		return -ENOMEM;
	s->vec_map = m;
	g = realloc(s->vec_gvec, n * sizeof(*g));
	if (!g)
		return -ENOMEM;
	s->vec_gvec = g;
	for (unsigned i = s->nvec_pirq; i < n; i++)
		p[i] = m[i] = -1;
	s->nvec_pirq = n;
	return 0;
}

/*
 * Turn the device's own MSI / MSI-X enable on or off (through the core):
 * Xen programs the address and data when it maps a pirq but leaves the
 * enable bit to the device model, as xen_pt does.  A failure is logged
 * (rate-limited) and returned; the next bind tries again.
 */
static int host_msi_enable(struct xen_server *s, enum host_irq_kind kind,
			   bool on)
{
	bool *is_on = kind == HOST_IRQ_MSIX ? &s->host_msix_on
					    : &s->host_msi_on;
	const char *name = kind == HOST_IRQ_MSIX ? "MSI-X" : "MSI";
	int rc;

	if (*is_on == on)
		return 0;
	rc = ptdm_owner_host_msi_enable(s->dev, kind, on);
	if (rc) {
		ptdm_log_ratelimited(&s->rl, PTDM_LOG_WARN, "xen: turning the "
				     "device's %s %s: %s", name,
				     on ? "on" : "off", strerror(-rc));
		return rc;
	}
	*is_on = on;
	ptdm_log(PTDM_LOG_DEBUG, "xen: the device's %s %s", name,
		 on ? "on" : "off");
	return 0;
}

static bool any_pirq(const struct xen_server *s)
{
	for (unsigned i = 0; i < s->nvec_pirq; i++)
		if (s->vec_pirq[i] >= 0)
			return true;
	return false;
}

/*
 * GSIs are shared: two devices of one domain on the same line (the outer
 * QEMU's edu and xHCI in tests/xen) bind the same pirq, each to its own
 * guest INTx.  The pirq is mapped for the first and unmapped after the
 * last: unmapping it under another device's binding would force that
 * binding off (Xen leaves the irq marked -pirq) and no later map of the
 * GSI would succeed.  xen_pt counts the same per QEMU
 * (xen_pt_mapped_machine_irq); ptdm counts per domain for the process.
 */
#define MAX_GSI_REFS 64
static struct gsi_ref {
	uint32_t domid;
	int gsi, pirq;
	unsigned refs; /* 0: a free slot */
} gsi_refs[MAX_GSI_REFS];

static int gsi_get(struct xen_server *s, int *pirq)
{
	struct gsi_ref *free_slot = NULL;
	int rc;

	for (unsigned i = 0; i < MAX_GSI_REFS; i++) {
		struct gsi_ref *g = &gsi_refs[i];

		if (!g->refs) {
			if (!free_slot)
				free_slot = g;
		} else if (g->domid == s->hv->domid && g->gsi == s->res.gsi) {
			g->refs++;
			*pirq = g->pirq;
			return 0;
		}
	}
	if (!free_slot)
		return -ENOSPC;
	rc = hv_call(s, pirq_map_gsi, s->res.gsi, pirq);
	if (rc)
		return rc;
	*free_slot = (struct gsi_ref){ .domid = s->hv->domid,
				       .gsi = s->res.gsi, .pirq = *pirq,
				       .refs = 1 };
	return 0;
}

static void gsi_put(struct xen_server *s, int pirq)
{
	for (unsigned i = 0; i < MAX_GSI_REFS; i++) {
		struct gsi_ref *g = &gsi_refs[i];

		if (g->refs && g->domid == s->hv->domid && g->pirq == pirq) {
			if (--g->refs == 0)
				hv_call(s, pirq_unmap, pirq);
			return;
		}
	}
	hv_call(s, pirq_unmap, pirq); /* not counted: cannot happen */
}

/*
 * INTx of a real device: the GSI mapped as a pirq of the domain and that
 * pirq bound to the guest's INTx line of our slot.  Xen asserts the
 * guest's GSI when the line fires and, on the guest's EOI at its IOAPIC,
 * deasserts it and EOIs the machine IRQ itself (hvm_dpci_eoi): nothing for
 * ptdm to do on the EOI path.
 */
static int bind_intx(struct xen_server *s, const struct ptdm_owner_vec *v)
{
	unsigned pin = 0;
	int rc;

	ptdm_cfg_read(s->dev, PCI_INTERRUPT_PIN, 1, &pin);
	if (s->res.gsi <= 0 || pin < 1 || pin > 4)
		return 0;
	if (!v) {
		if (s->intx_pirq < 0)
			return 0;
		hv_call(s, intx_bind, s->intx_pirq, s->opts.guest_sbdf,
			pin - 1, false);
		gsi_put(s, s->intx_pirq);
		s->intx_pirq = -1;
		return 0;
	}
	if (s->intx_pirq >= 0)
		return 0;
	rc = gsi_get(s, &s->intx_pirq);
	if (rc) {
		s->intx_pirq = -1;
	} else {
		rc = hv_call(s, intx_bind, s->intx_pirq, s->opts.guest_sbdf,
			     pin - 1, true);
		if (rc) {
			gsi_put(s, s->intx_pirq);
			s->intx_pirq = -1;
		}
	}
	ptdm_log(PTDM_LOG_DEBUG, "xen: INTx (GSI %d) -> pirq %d -> guest "
		 "INT%c: %s", s->res.gsi, s->intx_pirq, 'A' + pin - 1,
		 rc ? strerror(-rc) : "ok");
	return rc;
}

/* Unbind one vector's pirq from its guest vector (the mapping stays). */
static void vec_unbind(struct xen_server *s, unsigned vec)
{
	if (s->vec_pirq[vec] < 0)
		return;
	hv_call(s, msi_bind, s->vec_gvec[vec], s->vec_pirq[vec], 0, 0, false);
	s->vec_pirq[vec] = -1;
}

/*
 * MSI: the vectors the guest enabled (Multiple Message Enable, which the
 * core keeps within what the device is capable of) are one block of pirqs,
 * mapped when the first vector is bound and unmapped, all at once through
 * its first pirq, when no vector is bound any more.  One vector is an
 * ordinary MSI pirq; more are MAP_PIRQ_TYPE_MULTI_MSI.  When Xen cannot
 * give the block (no interrupt remapping, no run of free pirqs), vector 0
 * alone is bound and the others are not delivered, said once.
 */
static int msi_block(struct xen_server *s)
{
	struct ptdm_msi_state msi;
	unsigned nr;
	int rc;

	if (s->msi_pirq >= 0)
		return 0;
	ptdm_msi_get(s->dev, &msi);
	nr = msi.nvec;
	if (nr > 1) {
		rc = hv_call(s, pirq_map_multi_msi, s->res.sbdf, &nr,
			     &s->msi_pirq);
		if (!rc && s->msi_pirq >= 0 && nr >= msi.nvec) {
			s->msi_nr = msi.nvec;
			ptdm_log(PTDM_LOG_DEBUG, "xen: MSI %u vectors -> pirqs "
				 "%d-%d", msi.nvec, s->msi_pirq,
				 s->msi_pirq + (int)msi.nvec - 1);
			return 0;
		}
		if (!rc && s->msi_pirq >= 0) { /* a smaller block: not ours */
			hv_call(s, pirq_unmap, s->msi_pirq);
			rc = -ENOSPC;
		}
		s->msi_pirq = -1;
		PTDM_LOG_ONCE(s->multi_msi_warned, PTDM_LOG_WARN,
			      "xen: the guest enabled %u MSI vectors, Xen "
			      "gave none as a block (%s, %u possible): only "
			      "vector 0 is delivered", msi.nvec,
			      strerror(-rc), nr);
	}
	rc = hv_call(s, pirq_map_msi, s->res.sbdf, 0, 0, &s->msi_pirq);
	if (rc) {
		s->msi_pirq = -1;
		return rc;
	}
	s->msi_nr = 1;
	return 0;
}

static void msi_block_free(struct xen_server *s)
{
	if (s->msi_pirq < 0 || any_pirq(s))
		return;
	hv_call(s, pirq_unmap, s->msi_pirq);
	s->msi_pirq = -1;
	s->msi_nr = 0;
}

/* Real devices: the guest's vectors become pirqs Xen delivers itself. */
static int sink_bind(void *opaque, enum host_irq_kind kind, unsigned vec,
		     const struct ptdm_owner_vec *v)
{
	struct xen_server *s = opaque;
	struct ptdm_msix_info mx;
	struct ptdm_bar_info bi;
	uint64_t gtable = 0, table_base = 0;
	int rc;

	if (kind == HOST_IRQ_INTX)
		return bind_intx(s, v);
	rc = vec_slots(s, vec);
	if (rc)
		return rc;
	if (!v || (!v->addr && v->masked)) { /* off, or never programmed */
		vec_unbind(s, vec);
		if (kind == HOST_IRQ_MSI)
			msi_block_free(s);
		else if (s->vec_map[vec] >= 0) {
			hv_call(s, pirq_unmap, s->vec_map[vec]);
			s->vec_map[vec] = -1;
		}
		if (!any_pirq(s) && s->msi_pirq < 0)
			return host_msi_enable(s, kind, false);
		return 0;
	}
	if (kind == HOST_IRQ_MSI) {
		rc = msi_block(s);
		if (rc)
			return rc;
		if (vec >= s->msi_nr)
			return 0; /* not in the block Xen gave: said once */
		s->vec_map[vec] = s->msi_pirq + (int)vec;
	} else {
		ptdm_msix_get(s->dev, &mx);
		ptdm_dev_bar(s->dev, mx.table_bar, &bi);
		gtable = bi.guest_addr + mx.table_off;
		table_base = s->res.phys[mx.table_bar];
		if (s->vec_map[vec] < 0) {
			rc = hv_call(s, pirq_map_msi, s->res.sbdf, (int)vec,
				     table_base, &s->vec_map[vec]);
			if (rc) {
				s->vec_map[vec] = -1;
				return rc;
			}
		}
	}
	/* binding a bound pirq again moves it to the new vector / flags */
	s->vec_pirq[vec] = s->vec_map[vec];
	s->vec_gvec[vec] = v->data & 0xff;
	rc = hv_call(s, msi_bind, v->data & 0xff, s->vec_pirq[vec],
		     msi_gflags(v->addr, v->data, v->masked), gtable, true);
	ptdm_log(PTDM_LOG_DEBUG, "xen: %s vector %u -> pirq %d -> guest "
		 "vector %#x (%s): %s", kind == HOST_IRQ_MSIX ? "MSI-X" : "MSI",
		 vec, s->vec_pirq[vec], v->data & 0xff,
		 v->masked ? "masked" : "unmasked", rc ? strerror(-rc) : "ok");
	if (rc) {
		s->vec_pirq[vec] = -1;
		return rc;
	}
	return host_msi_enable(s, kind, true);
}

/* ---- device access ---- */

static uint64_t ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static struct window *find_window(struct xen_server *s, bool mmio,
				  uint64_t addr, unsigned size, int *bar)
{
	for (int i = 0; i <= PTDM_NUM_BARS; i++) {
		struct window *w = &s->win[i];

		if (w->on && w->mmio == mmio && addr >= w->gpa &&
		    addr - w->gpa < w->size && size <= w->size - (addr - w->gpa)) {
			*bar = i;
			return w;
		}
	}
	return NULL;
}

/*
 * IGD (a real device): the guest wrote ASLS; map the host's OpRegion pages
 * at the page it names, and unmap the old ones, as xen_pt_graphics does
 * (xc_domain_iomem_permission + xc_domain_memory_mapping, 3 pages).
 */
static void opregion_sync(struct xen_server *s)
{
	uint64_t host, guest, gfn;
	int rc;

	if (!s->res.real || ptdm_dev_igd_opregion(s->dev, &host, &guest))
		return;
	gfn = guest / PAGE;
	if (gfn == s->opregion_gfn)
		return;
	if (s->opregion_gfn)
		hv_call(s, map_mmio, s->opregion_gfn, host / PAGE,
			PTDM_IGD_OPREGION_PAGES, false);
	s->opregion_gfn = 0;
	if (!gfn)
		return;
	rc = hv_call(s, map_mmio, gfn, host / PAGE, PTDM_IGD_OPREGION_PAGES,
		     true);
	if (rc)
		ptdm_log_ratelimited(&s->rl, PTDM_LOG_WARN, "xen: IGD OpRegion "
				     "at guest %#llx: %s",
				     (unsigned long long)guest, strerror(-rc));
	else
		s->opregion_gfn = gfn;
}

/*
 * IGD with gfx_passthru (a real Intel VGA-class device, xl's gfx_passthru):
 * the legacy VGA ranges go to the device, as xen_pt_graphics.c's
 * xen_pt_register_vga_regions maps them: ports 0x3b0-0x3bb and
 * 0x3c0-0x3df (xc_domain_ioport_mapping), memory 0xa0000-0xbffff
 * (xc_domain_memory_mapping, 0x20 pages), guest address = host address.
 * The real map_ioport/map_mmio grant the domain permission for the host
 * range first (xc_domain_ioport/iomem_permission: libxl's
 * libxl__grant_vga_iomem_permission does the memory one for QEMU).
 * Unmapped in the same order when the device goes.
 */
static const struct igd_vga_range {
	bool mmio;
	uint32_t base, nr; /* ports, or 4 KiB frames */
} igd_vga_ranges[] = {
	{ false, 0x3b0, 0xc },
	{ false, 0x3c0, 0x20 },
	{ true, 0xa0000 >> 12, 0x20 },
};
#define IGD_VGA_NRANGES (sizeof(igd_vga_ranges) / sizeof(igd_vga_ranges[0]))

/* xen_pt's is_igd_vga_passthrough: Intel, class VGA (any prog-if). */
static bool igd_vga_device(struct xen_server *s)
{
	struct host_dev *h = ptdm_dev_host(s->dev);
	uint8_t id[2], cls[2];

	return !host_cfg_read(h, PCI_VENDOR_ID, id, 2) &&
	       !host_cfg_read(h, PCI_CLASS_DEVICE, cls, 2) &&
	       (id[0] | id[1] << 8) == 0x8086 &&
	       (cls[0] | cls[1] << 8) == 0x0300;
}

static int igd_vga_range(struct xen_server *s, unsigned i, bool map)
{
	const struct igd_vga_range *g = &igd_vga_ranges[i];

	return g->mmio ? hv_call(s, map_mmio, g->base, g->base, g->nr, map)
		       : hv_call(s, map_ioport, g->base, g->base, g->nr, map);
}

static void igd_vga_unmap(struct xen_server *s)
{
	for (unsigned i = 0; i < IGD_VGA_NRANGES; i++)
		if (s->vga_mapped & 1u << i && igd_vga_range(s, i, false))
			ptdm_log(PTDM_LOG_WARN, "xen: unmapping the IGD's VGA "
				 "%s at %#x failed", igd_vga_ranges[i].mmio
				 ? "memory" : "ports", igd_vga_ranges[i].base);
	s->vga_mapped = 0;
}

static int igd_vga_map(struct xen_server *s, struct ptdm_err *err)
{
	if (!s->opts.gfx_passthru || !s->res.real)
		return 0;
	if (!igd_vga_device(s)) {
		ptdm_log(PTDM_LOG_INFO, "xen: gfx_passthru: %s is no Intel VGA "
			 "device; no VGA ranges", ptdm_dev_host(s->dev)->name);
		return 0;
	}
	for (unsigned i = 0; i < IGD_VGA_NRANGES; i++) {
		int rc = igd_vga_range(s, i, true);

		if (rc)
			return ptdm_errf(err, rc, "xen: gfx_passthru: mapping "
					 "the VGA %s at %#x: %s",
					 igd_vga_ranges[i].mmio ? "memory"
								: "ports",
					 igd_vga_ranges[i].base, strerror(-rc));
		s->vga_mapped |= 1u << i;
	}
	return 0;
}

/* One element: a port, MMIO or config access of size bytes. */
static void element(struct xen_server *s, unsigned type, uint64_t addr,
		    unsigned size, uint64_t *val, bool write)
{
	struct window *w;
	int bar, rc = -EINVAL;
	uint32_t v32;

	if (type == IOREQ_TYPE_PCI_CONFIG) {
		unsigned sbdf = (unsigned)(addr >> 32), reg = (uint32_t)addr;

		s->st.cfg++;
		if (sbdf != s->opts.guest_sbdf || size > 4 ||
		    reg >= ptdm_cfg_size(s->dev) ||
		    size > ptdm_cfg_size(s->dev) - reg) {
			bad(s, "config access %#llx size %llu not ours", addr,
			    size);
		} else if (write) {
			rc = ptdm_cfg_write(s->dev, reg, size, (uint32_t)*val);
			if (reg < 0x100 && reg + size > 0xfc) /* IGD ASLS */
				opregion_sync(s);
		} else {
			rc = ptdm_cfg_read(s->dev, reg, size, &v32);
			*val = v32;
		}
		if (rc && !write)
			*val = ones(size);
		return;
	}
	if (type == IOREQ_TYPE_PIO) {
		s->st.pio++;
		if (s->opts.cf8 && addr >= CF8_PORT && addr < CF8_PORT + 4 &&
		    size <= CF8_PORT + 4 - addr) {
			unsigned sh = (unsigned)(addr - CF8_PORT) * 8;
			uint64_t m = ones(size) << sh;

			if (write)
				s->cf8 = (uint32_t)((s->cf8 & ~m) |
						    ((*val << sh) & m));
			else
				*val = (s->cf8 & m) >> sh;
			return;
		}
	} else {
		s->st.mmio++;
	}
	w = find_window(s, type == IOREQ_TYPE_COPY, addr, size, &bar);
	if (!w) {
		bad(s, "access at %#llx size %llu outside the device", addr,
		    size);
		if (!write)
			*val = ones(size);
		return;
	}
	ptdm_owner_intx_eoi(s->owner); /* the guest is servicing the device */
	rc = ptdm_bar_rw(s->dev, bar, addr - w->gpa, val, size, write);
	if (rc && !write)
		*val = ones(size);
}

/*
 * A whole request.  count > 1 is a rep instruction: the device address
 * steps for MMIO (not for ports), the guest buffer steps when data is a
 * pointer; df makes both go down.
 */
static void do_ioreq(struct xen_server *s, ioreq_t *r)
{
	bool write = r->dir == IOREQ_WRITE;
	unsigned size = r->size;
	uint64_t n = r->count, span, lo = 0;
	uint8_t *buf = NULL;

	s->st.ioreqs++;
	if (r->type == IOREQ_TYPE_TIMEOFFSET || r->type == IOREQ_TYPE_INVALIDATE)
		return;
	if (r->type != IOREQ_TYPE_PIO && r->type != IOREQ_TYPE_COPY &&
	    r->type != IOREQ_TYPE_PCI_CONFIG) {
		bad(s, "ioreq type %llu size %llu", r->type, size);
		return;
	}
	if ((size != 1 && size != 2 && size != 4 && size != 8) || !n ||
	    n * size > MAX_REP_BYTES || (!r->data_is_ptr && n > 1 && !write)) {
		bad(s, "ioreq size %llu count %llu refused", size, n);
		if (!write && !r->data_is_ptr)
			r->data = ones(size);
		return;
	}
	if (r->data_is_ptr) {
		span = n * size;
		lo = r->df ? r->data - (span - size) : r->data;
		if (r->df ? r->data < span - size : lo + span < lo) {
			bad(s, "rep buffer at %#llx wraps (%llu bytes)",
			    r->data, span);
			return;
		}
		buf = s->bounce;
		if (write && hv_call(s, guest_rw, lo, buf, span, false)) {
			bad(s, "rep buffer at %#llx (%llu bytes) not in guest "
			       "memory", lo, span);
			return;
		}
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t step = r->df ? n - 1 - i : i; /* element's buffer slot */
		uint64_t addr = r->addr;
		uint64_t v = r->data_is_ptr || !write ? 0 : r->data;

		if (r->type == IOREQ_TYPE_COPY)
			addr = r->df ? r->addr - i * size : r->addr + i * size;
		if (buf && write)
			memcpy(&v, buf + step * size, size);
		element(s, r->type, addr, size, &v, write);
		if (buf && !write)
			memcpy(buf + step * size, &v, size);
		else if (!write)
			r->data = v;
	}
	if (buf && !write && hv_call(s, guest_rw, lo, buf, n * size, true))
		bad(s, "rep buffer at %#llx (%llu bytes) not in guest memory",
		    lo, n * size);
}

static void serve_slot(struct xen_server *s, unsigned vcpu)
{
	ioreq_t *slot = &s->slots[vcpu], r;

	if (slot->state != STATE_IOREQ_READY)
		return;
	s->vcpu_seen[vcpu / 64] |= 1ull << (vcpu % 64);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	memcpy(&r, slot, sizeof(r));
	slot->state = STATE_IOREQ_INPROCESS;
	do_ioreq(s, &r);
	slot->data = r.data;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	slot->state = STATE_IORESP_READY;
	hv_call(s, evtchn_notify, s->port[vcpu]);
}

/* Buffered ioreqs: writes Xen did not wait for, in a ring. */
static void serve_buffered(struct xen_server *s)
{
	buffered_iopage_t *b = s->buf;
	uint32_t rd, wr;

	if (!b)
		return;
	for (;;) {
		rd = __atomic_load_n(&b->read_pointer, __ATOMIC_ACQUIRE);
		wr = __atomic_load_n(&b->write_pointer, __ATOMIC_ACQUIRE);
		if (rd == wr)
			return;
		if (wr - rd > IOREQ_BUFFER_SLOT_NUM) {
			bad(s, "buffered ring pointers %llu/%llu", rd, wr);
			__atomic_store_n(&b->read_pointer, wr, __ATOMIC_RELEASE);
			return;
		}
		buf_ioreq_t *e = &b->buf_ioreq[rd % IOREQ_BUFFER_SLOT_NUM];
		ioreq_t r = { .addr = e->addr, .data = e->data, .count = 1,
			      .size = 1u << e->size, .dir = e->dir,
			      .type = e->type };
		unsigned used = 1;

		if (r.size == 8) {
			if (wr - rd < 2)
				return; /* second half not written yet */
			e = &b->buf_ioreq[(rd + 1) % IOREQ_BUFFER_SLOT_NUM];
			r.data |= (uint64_t)e->data << 32;
			used = 2;
		}
		s->st.buffered++;
		if (r.dir == IOREQ_WRITE)
			do_ioreq(s, &r);
		__atomic_fetch_add(&b->read_pointer, used, __ATOMIC_RELEASE);
	}
}

/* ---- lifecycle ---- */

int xen_server_new(struct xen_server **out, struct xen_hv *hv,
		   struct ptdm_dev *dev, const struct xen_host_res *res,
		   const struct xen_server_opts *opts, struct ptdm_err *err)
{
	struct ptdm_owner_ops ops = { .bar_map = sink_bar_map,
				      .msi_deliver = sink_msi,
				      .intx_level = sink_intx };
	struct xen_server *s;
	uint32_t remote;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->bounce = malloc(MAX_REP_BYTES))) {
		free(s);
		return ptdm_errf(err, -ENOMEM, "xen: out of memory");
	}
	s->hv = hv;
	s->dev = dev;
	s->res = *res;
	s->opts = *opts;
	s->intx_pirq = -1;
	s->msi_pirq = -1;
	rc = hv_call(s, nr_vcpus, &s->nvcpu);
	if (rc) {
		ptdm_errf(err, rc, "xen: domain %u: %s (is it running? is "
			  "this dom0?)", hv->domid, strerror(-rc));
		goto fail;
	}
	if (!s->nvcpu || s->nvcpu > MAX_VCPUS) {
		rc = ptdm_errf(err, -E2BIG, "xen: domain %u has %u vCPUs; "
			       "ptdm serves 1..%d", hv->domid, s->nvcpu,
			       MAX_VCPUS);
		goto fail;
	}
	rc = hv->ops->server_create(hv, &s->id, (void **)&s->slots,
				    (void **)&s->buf, &remote);
	if (rc) {
		ptdm_errf(err, rc, "xen: creating an ioreq server for domain "
			  "%u: %s", hv->domid, strerror(-rc));
		goto fail;
	}
	s->created = true;
	rc = hv_call(s, map_pcidev, s->id, opts->guest_sbdf, true);
	if (rc) {
		ptdm_errf(err, rc, "xen: claiming %02x:%02x.%x: %s",
			  opts->guest_sbdf >> 8 & 0xff,
			  sbdf_devfn(opts->guest_sbdf) >> 3,
			  opts->guest_sbdf & 7, strerror(-rc));
		goto fail;
	}
	s->pcidev = true;
	if (opts->cf8) {
		rc = hv_call(s, map_range, s->id, false, CF8_PORT,
			     CF8_PORT + 3, true);
		if (rc) {
			ptdm_errf(err, rc, "xen: claiming port 0xcf8: %s",
				  strerror(-rc));
			goto fail;
		}
		s->cf8_range = true;
	}
	if (res->real && !opts->toolstack_assigns) {
		/* like libxl's pci add: the device's DMA now goes through the
		 * guest's IOMMU context (XSA-302: dom0's is gone) */
		rc = hv_call(s, assign_device, res->sbdf, true);
		if (rc) {
			ptdm_errf(err, rc, "xen: assigning %04x:%02x:%02x.%x to "
				  "domain %u: %s (is it in pciback? xl "
				  "pci-assignable-add it first)",
				  res->sbdf >> 16, res->sbdf >> 8 & 0xff,
				  res->sbdf >> 3 & 0x1f, res->sbdf & 7,
				  hv->domid, strerror(-rc));
			goto fail;
		}
		s->assigned = true;
	}
	if (res->real) {
		/* the host's OpRegion pages go where ASLS says (opregion_sync) */
		ptdm_dev_igd_map_host_opregion(dev);
		rc = igd_vga_map(s, err);
		if (rc)
			goto fail;
	}
	ops.opaque = s;
	if (res->real) {
		ops.vec_bind = sink_bind;
		ops.msi_deliver = NULL;
		ops.intx_level = NULL;
	}
	rc = ptdm_owner_new(&s->owner, dev, &ops, err);
	if (rc)
		goto fail;
	rc = hv_call(s, server_enable, s->id, true);
	if (rc) {
		ptdm_errf(err, rc, "xen: enabling the ioreq server: %s",
			  strerror(-rc));
		goto fail;
	}
	s->enabled = true; /* last_alive 0: the first handle() checks */
	/* Xen writes each vCPU's port into its slot when the server is
	 * enabled; the domain is paused until we say ready, so nothing is
	 * lost before they are bound */
	for (unsigned i = 0; i < s->nvcpu; i++) {
		rc = hv_call(s, evtchn_bind, s->slots[i].vp_eport, &s->port[i]);
		if (rc) {
			ptdm_errf(err, rc, "xen: binding vCPU %u's event "
				  "channel %u: %s", i, s->slots[i].vp_eport,
				  strerror(-rc));
			goto fail;
		}
	}
	if (s->buf && hv_call(s, evtchn_bind, remote, &s->buf_port)) {
		rc = ptdm_errf(err, -EIO, "xen: binding the buffered ioreq "
			       "event channel");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	xen_server_free(s);
	return rc;
}

void xen_server_free(struct xen_server *s)
{
	if (!s)
		return;
	if (s->enabled)
		hv_call(s, server_enable, s->id, false);
	ptdm_owner_free(s->owner); /* unmaps windows, unbinds vectors */
	igd_vga_unmap(s);
	if (s->opregion_gfn) {
		uint64_t host, guest;

		if (!ptdm_dev_igd_opregion(s->dev, &host, &guest))
			hv_call(s, map_mmio, s->opregion_gfn, host / PAGE,
				PTDM_IGD_OPREGION_PAGES, false);
	}
	if (s->cf8_range)
		hv_call(s, map_range, s->id, false, CF8_PORT, CF8_PORT + 3,
			false);
	if (s->pcidev)
		hv_call(s, map_pcidev, s->id, s->opts.guest_sbdf, false);
	if (s->assigned)
		hv_call(s, assign_device, s->res.sbdf, false);
	if (s->created)
		hv_call(s, server_destroy, s->id);
	free(s->vec_pirq);
	free(s->vec_map);
	free(s->vec_gvec);
	free(s->bounce);
	free(s);
}

unsigned xen_server_fds(const struct xen_server *s, int fds[2])
{
	unsigned n = 0;

	fds[n++] = s->hv->ops->evtchn_fd(s->hv);
	if (ptdm_owner_fd(s->owner) >= 0)
		fds[n++] = ptdm_owner_fd(s->owner);
	return n;
}

int xen_server_handle(struct xen_server *s)
{
	struct timespec now;
	uint32_t port;

	while (!hv_call(s, evtchn_pending, &port)) {
		hv_call(s, evtchn_unmask, port);
		if (s->buf_port && port == s->buf_port) {
			serve_buffered(s);
			continue;
		}
		for (unsigned i = 0; i < s->nvcpu; i++)
			if (s->port[i] == port)
				serve_slot(s, i);
	}
	serve_buffered(s);
	if (ptdm_owner_fd(s->owner) >= 0)
		ptdm_owner_handle(s->owner);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - s->last_alive.tv_sec >= 1) {
		s->last_alive = now;
		if (!s->hv->ops->domain_alive(s->hv))
			return -ESRCH;
	}
	return 0;
}

void xen_server_get_stats(const struct xen_server *s,
			  struct xen_server_stats *out)
{
	struct ptdm_owner_stats os;

	*out = s->st;
	ptdm_owner_get_stats(s->owner, &os);
	out->irq_fired = os.fired;
	out->irq_delivered = os.delivered;
	out->irq_pended = os.pended;
	out->vcpus = 0;
	for (unsigned i = 0; i < MAX_VCPUS / 64; i++)
		out->vcpus += (unsigned)__builtin_popcountll(s->vcpu_seen[i]);
}
