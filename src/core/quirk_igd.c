/*
 * quirk_igd.c - Intel integrated graphics (IGD).
 *
 * Facts from QEMU's hw/vfio/igd.c and xen_pt_graphics.c.  Three config
 * registers hold host physical addresses or host memory sizes a guest must
 * not act on:
 *   ASLS (0xfc)   the host's OpRegion address.  Virtual, guest-writable,
 *                 power-on 0: the guest's firmware writes where its
 *                 OpRegion is (the host's address never shows).  A copy
 *                 (igd_opregion.c: the vfio-user region QEMU puts in
 *                 fw_cfg) sits where the firmware put it, so ASLS is what
 *                 it wrote.  Where the front end maps the host's pages
 *                 instead (Xen: ptdm_dev_igd_map_host_opregion), the
 *                 offset inside the page stays the host's, as
 *                 xen_pt_graphics does, so the OpRegion appears where
 *                 ASLS says.
 *   BDSM          base of the host's stolen memory: 0x5c (32-bit) before
 *                 gen 11, 0xc0 (64-bit) from gen 11.  Virtual,
 *                 guest-writable, power-on 0 (the guest's firmware
 *                 reserves its own).  From gen 11 it is also mirrored in
 *                 BAR0 at 0x1080c0, where the Windows driver reads it: that
 *                 mirror is the virtual register too.
 *   GGC/GMCH (0x50) graphics control, with the stolen-memory size (GMS:
 *                 bits 7:3 before gen 8, 15:8 from gen 8).  Virtual,
 *                 read-only, GMS 0: no stolen memory is given to the guest,
 *                 as QEMU does without x-igd-gms.
 * The generation comes from the device ID as QEMU's igd_gen() has it
 * (linux:include/drm/i915_pciids.h); an ID it does not know leaves the
 * quirk inactive, since the registers moved between generations.
 *
 * Not here (docs/quirks.md): the host/LPC bridge IDs and the VBIOS need
 * the VMM.
 */
#include <errno.h>

#include "core/dev_priv.h"

#define IGD_GGC 0x50
#define IGD_BDSM 0x5c
#define IGD_BDSM_GEN11 0xc0
#define IGD_ASLS 0xfc
#define IGD_BDSM_MMIO 0x1080c0u
#define PTDM_PAGE_MASK_4K 0xfffff000u

static const struct quirk_match intel_vga[] = {
	{ 0x8086, QUIRK_ANY, 0xffff00, 0x030000, 0, 0xff },
	{ 0 },
};

static const struct quirk_window igd_windows[] = {
	{ "BDSM mirror", 0, IGD_BDSM_MMIO, 8, QUIRK_BAR_MEM, .mirror = true,
	  .cfg_base = IGD_BDSM_GEN11 },
	{ NULL },
};

static cfg_write_hook asls_write;

static const struct cfg_reg igd_regs[] = {
	{ "ggc (igd)", IGD_GGC, 2, .virt = 0xffff },
	{ "bdsm (igd)", IGD_BDSM, 4, .virt = ~0u, .write = ~0u },
	{ "asls (igd)", IGD_ASLS, 4, .virt = ~0u, .write = ~0u,
	  .on_write = asls_write },
	CFG_REG_END,
};

static const struct cfg_reg igd_gen11_regs[] = {
	{ "ggc (igd)", IGD_GGC, 2, .virt = 0xffff },
	{ "bdsm lo (igd)", IGD_BDSM_GEN11, 4, .virt = ~0u, .write = ~0u },
	{ "bdsm hi (igd)", IGD_BDSM_GEN11 + 4, 4, .virt = ~0u, .write = ~0u },
	{ "asls (igd)", IGD_ASLS, 4, .virt = ~0u, .write = ~0u,
	  .on_write = asls_write },
	CFG_REG_END,
};

/* The graphics generation of an Intel VGA device ID, -1 unknown. */
int quirk_igd_gen(uint16_t device)
{
	if ((device & 0xfff) == 0xa84)
		return 8; /* Broxton */
	switch (device & 0xff00) {
	case 0x0100: /* Sandy Bridge, Ivy Bridge */
	case 0x0400: /* Haswell */
	case 0x0a00:
	case 0x0c00:
	case 0x0d00:
	case 0x0f00: /* Valleyview */
		return 6;
	case 0x1600: /* Broadwell */
	case 0x1900: /* Skylake */
	case 0x2200: /* Cherryview */
	case 0x5900: /* Kaby Lake */
		return 8;
	case 0x3e00: /* Coffee Lake */
	case 0x9b00: /* Comet Lake */
		return 9;
	case 0x8a00: /* Ice Lake */
	case 0x4500: /* Elkhart Lake */
	case 0x4e00: /* Jasper Lake */
		return 11;
	case 0x9a00: /* Tiger Lake */
	case 0x4c00: /* Rocket Lake */
	case 0x4600: /* Alder Lake */
	case 0xa700: /* Raptor Lake */
		return 12;
	}
	return -1;
}

static int igd_init(struct ptdm_dev *d, struct quirk_inst *q)
{
	q->gen = quirk_igd_gen((uint16_t)cfg_host_init(d, PCI_DEVICE_ID, 2));
	if (q->gen < 0) {
		q->info.reason = "an IGD generation ptdm does not know "
				 "(its registers moved between generations)";
		return -ENODEV;
	}
	if (q->gen < 11) {
		q->regs = igd_regs;
		q->windows = 0; /* the BAR0 mirror is gen 11's */
	} else {
		q->regs = igd_gen11_regs;
	}
	igd_opregion_load(d); /* a copy for the guest, when the host has one */
	return 0;
}

/* The host's pages mapped there: the guest's page, the host's offset in
 * it (0 stays 0: not placed).  A copy: what the guest wrote. */
static void asls_write(struct ptdm_dev *d, const struct cfg_slot *s,
		       uint32_t old, uint32_t val, uint32_t mask)
{
	uint32_t now = cfg_shadow_get(d, IGD_ASLS, 4);

	(void)s;
	(void)old;
	(void)val;
	(void)mask;
	if (!d->igd_asls_host_offset)
		return;
	if (now & PTDM_PAGE_MASK_4K)
		now = (now & PTDM_PAGE_MASK_4K) |
		      (cfg_host_init(d, IGD_ASLS, 4) & ~PTDM_PAGE_MASK_4K);
	else
		now = 0;
	cfg_shadow_set(d, IGD_ASLS, 4, now);
}

int ptdm_dev_igd_opregion(const struct ptdm_dev *d, uint64_t *host_addr,
			  uint64_t *guest_addr)
{
	for (unsigned i = 0; i < d->nquirks; i++) {
		const struct quirk_inst *q = &d->quirks[i];
		uint32_t host = cfg_host_init(d, IGD_ASLS, 4);

		if (q->ops != &quirk_igd_ops || !q->info.active || !host)
			continue;
		*host_addr = host;
		*guest_addr = cfg_shadow_get(d, IGD_ASLS, 4);
		return 0;
	}
	return -ENOENT;
}

static void igd_reset(struct ptdm_dev *d, struct quirk_inst *q)
{
	uint32_t ggc = cfg_host_init(d, IGD_GGC, 2);

	ggc &= q->gen < 8 ? ~0xf8u : ~0xff00u; /* GMS: no stolen memory */
	cfg_shadow_set(d, IGD_GGC, 2, ggc);
	if (q->gen < 11) {
		cfg_shadow_set(d, IGD_BDSM, 4, 0);
	} else {
		cfg_shadow_set(d, IGD_BDSM_GEN11, 4, 0);
		cfg_shadow_set(d, IGD_BDSM_GEN11 + 4, 4, 0);
	}
	cfg_shadow_set(d, IGD_ASLS, 4, 0);
}

const struct quirk_ops quirk_igd_ops = {
	.name = "intel-igd",
	.what = "OpRegion address (ASLS), stolen memory base (BDSM) and size "
		"(GGC) virtual: the host's addresses never reach the guest",
	.match = intel_vga,
	.regs = igd_gen11_regs,
	.windows = igd_windows,
	.init = igd_init,
	.reset_state = igd_reset,
};
