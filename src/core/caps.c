/*
 * caps.c - capability chains: walk the host's, keep the allowlisted ones,
 * unlink the rest.
 *
 * The host chains are walked from the snapshot taken at attach with every
 * pointer checked: into the header, past the end, misaligned, a loop, two
 * capabilities overlapping.  A bad pointer ends the walk (what came before
 * is kept) and is recorded as a problem.  Each capability found is either
 * kept - an allowlisted module's table placed at its offset - or hidden:
 * its bytes up to the next capability read as 0 and the guest's chain
 * (virtual NEXT pointers, the capability pointer, STATUS.CAP_LIST and the
 * extended header at 0x100) skips it.  A module whose init fails hides its
 * capability instead of failing the device.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dev_priv.h"
#include "util/pci.h"

#define STD_CAP_MIN PCI_STD_HEADER_SIZEOF
#define STD_CAP_END PTDM_CFG_LEGACY_SIZE
#define EXT_CAP_MIN PTDM_CFG_LEGACY_SIZE

/* The allowlist: everything else is hidden. */
static const struct cap_ops *const allowlist[] = {
	&cap_pm_ops,	&cap_msi_ops,  &cap_msix_ops,  &cap_exp_ops,
	&cap_vndr_ops,	&ecap_aer_ops, &ecap_dsn_ops,  &ecap_vndr_ops,
};

static const char *const std_names[PCI_CAP_ID_MAX + 1] = {
	[PCI_CAP_ID_PM] = "Power Management",
	[PCI_CAP_ID_AGP] = "AGP",
	[PCI_CAP_ID_VPD] = "Vital Product Data",
	[PCI_CAP_ID_SLOTID] = "Slot Identification",
	[PCI_CAP_ID_MSI] = "MSI",
	[PCI_CAP_ID_CHSWP] = "CompactPCI Hot Swap",
	[PCI_CAP_ID_PCIX] = "PCI-X",
	[PCI_CAP_ID_HT] = "HyperTransport",
	[PCI_CAP_ID_VNDR] = "Vendor Specific",
	[PCI_CAP_ID_DBG] = "Debug port",
	[PCI_CAP_ID_CCRC] = "CompactPCI Central Resource Control",
	[PCI_CAP_ID_SHPC] = "PCI Standard Hot-Plug Controller",
	[PCI_CAP_ID_SSVID] = "Bridge Subsystem Vendor/Device ID",
	[PCI_CAP_ID_AGP3] = "AGP 8x",
	[PCI_CAP_ID_SECDEV] = "Secure Device",
	[PCI_CAP_ID_EXP] = "PCI Express",
	[PCI_CAP_ID_MSIX] = "MSI-X",
	[PCI_CAP_ID_SATA] = "SATA HBA",
	[PCI_CAP_ID_AF] = "PCI Advanced Features",
	[PCI_CAP_ID_EA] = "Enhanced Allocation",
};

static const char *const ext_names[PTDM_EXT_CAP_ID_LAST + 1] = {
	[0] = "Null",
	[PCI_EXT_CAP_ID_ERR] = "Advanced Error Reporting",
	[PCI_EXT_CAP_ID_VC] = "Virtual Channel",
	[PCI_EXT_CAP_ID_DSN] = "Device Serial Number",
	[PCI_EXT_CAP_ID_PWR] = "Power Budgeting",
	[PCI_EXT_CAP_ID_RCLD] = "Root Complex Link Declaration",
	[PCI_EXT_CAP_ID_RCILC] = "Root Complex Internal Link Control",
	[PCI_EXT_CAP_ID_RCEC] = "Root Complex Event Collector",
	[PCI_EXT_CAP_ID_MFVC] = "Multi-Function Virtual Channel",
	[PCI_EXT_CAP_ID_VC9] = "Virtual Channel (MFVC)",
	[PCI_EXT_CAP_ID_RCRB] = "Root Complex Register Block",
	[PCI_EXT_CAP_ID_VNDR] = "Vendor Specific (extended)",
	[PCI_EXT_CAP_ID_CAC] = "Config Access Correlation",
	[PCI_EXT_CAP_ID_ACS] = "Access Control Services",
	[PCI_EXT_CAP_ID_ARI] = "Alternative Routing-ID Interpretation",
	[PCI_EXT_CAP_ID_ATS] = "Address Translation Services",
	[PCI_EXT_CAP_ID_SRIOV] = "Single Root I/O Virtualization",
	[PCI_EXT_CAP_ID_MRIOV] = "Multi Root I/O Virtualization",
	[PCI_EXT_CAP_ID_MCAST] = "Multicast",
	[PCI_EXT_CAP_ID_PRI] = "Page Request Interface",
	[PCI_EXT_CAP_ID_AMD_XXX] = "Reserved for AMD",
	[PCI_EXT_CAP_ID_REBAR] = "Resizable BAR",
	[PCI_EXT_CAP_ID_DPA] = "Dynamic Power Allocation",
	[PCI_EXT_CAP_ID_TPH] = "TPH Requester",
	[PCI_EXT_CAP_ID_LTR] = "Latency Tolerance Reporting",
	[PCI_EXT_CAP_ID_SECPCI] = "Secondary PCI Express",
	[PCI_EXT_CAP_ID_PMUX] = "Protocol Multiplexing",
	[PCI_EXT_CAP_ID_PASID] = "Process Address Space ID",
	[PCI_EXT_CAP_ID_DPC] = "Downstream Port Containment",
	[PCI_EXT_CAP_ID_L1SS] = "L1 PM Substates",
	[PCI_EXT_CAP_ID_PTM] = "Precision Time Measurement",
	[PCI_EXT_CAP_ID_DVSEC] = "Designated Vendor-Specific",
	[PCI_EXT_CAP_ID_DLF] = "Data Link Feature",
	[PCI_EXT_CAP_ID_PL_16GT] = "Physical Layer 16.0 GT/s",
	[PCI_EXT_CAP_ID_PL_32GT] = "Physical Layer 32.0 GT/s",
	[PCI_EXT_CAP_ID_DOE] = "Data Object Exchange",
	[PCI_EXT_CAP_ID_LMR] = "Lane Margining at the Receiver",
	[PCI_EXT_CAP_ID_HIER_ID] = "Hierarchy ID",
	[PCI_EXT_CAP_ID_NPEM] = "Native PCIe Enclosure Management",
	[PCI_EXT_CAP_ID_PL_64GT] = "Physical Layer 64.0 GT/s",
};

/* Why each well-known capability is not given to a guest. */
static const char *const std_reasons[PCI_CAP_ID_MAX + 1] = {
	[PCI_CAP_ID_VPD] = "VPD writes can reach device firmware storage",
	[PCI_CAP_ID_PCIX] = "PCI-X bus settings are the host's",
	[PCI_CAP_ID_HT] = "HyperTransport link settings are the host's",
	[PCI_CAP_ID_SHPC] = "hot-plug control belongs to the host",
	[PCI_CAP_ID_SSVID] = "bridge capability on an endpoint",
	[PCI_CAP_ID_AGP] = "AGP is not supported in a guest",
	[PCI_CAP_ID_AGP3] = "AGP is not supported in a guest",
	[PCI_CAP_ID_AF] = "its FLR is handled through the PCIe capability",
	[PCI_CAP_ID_EA] = "BAR locations are the device model's",
	[PCI_CAP_ID_DBG] = "a debug port is the host's",
};

static const char *const ext_reasons[PTDM_EXT_CAP_ID_LAST + 1] = {
	[0] = "null placeholder",
	[PCI_EXT_CAP_ID_SRIOV] = "a guest must not create virtual functions",
	[PCI_EXT_CAP_ID_MRIOV] = "a guest must not create virtual functions",
	[PCI_EXT_CAP_ID_ATS] =
		"translated requests would bypass the host IOMMU",
	[PCI_EXT_CAP_ID_PRI] = "page requests need host IOMMU support",
	[PCI_EXT_CAP_ID_PASID] = "PASIDs need host IOMMU support",
	[PCI_EXT_CAP_ID_ACS] = "isolation is the host's to configure",
	[PCI_EXT_CAP_ID_ARI] = "routing IDs are the host's",
	[PCI_EXT_CAP_ID_REBAR] = "BAR sizes are fixed at attach",
	[PCI_EXT_CAP_ID_VC] = "link arbitration is the host's",
	[PCI_EXT_CAP_ID_VC9] = "link arbitration is the host's",
	[PCI_EXT_CAP_ID_MFVC] = "link arbitration is the host's",
	[PCI_EXT_CAP_ID_LTR] = "link power management is the host's",
	[PCI_EXT_CAP_ID_L1SS] = "link power management is the host's",
	[PCI_EXT_CAP_ID_PWR] = "power budgeting is the host's",
	[PCI_EXT_CAP_ID_DPA] = "power allocation is the host's",
	[PCI_EXT_CAP_ID_SECPCI] = "link equalization is the host's",
	[PCI_EXT_CAP_ID_PL_16GT] = "link equalization is the host's",
	[PCI_EXT_CAP_ID_PL_32GT] = "link equalization is the host's",
	[PCI_EXT_CAP_ID_DLF] = "link features are the host's",
	[PCI_EXT_CAP_ID_PTM] = "time measurement is the host's",
	[PCI_EXT_CAP_ID_TPH] = "steering tags need host support",
	[PCI_EXT_CAP_ID_DPC] = "containment belongs to the host",
	[PCI_EXT_CAP_ID_DOE] = "mailbox to device firmware not proven safe",
	[PCI_EXT_CAP_ID_MCAST] = "multicast windows are the host's",
	[PCI_EXT_CAP_ID_LMR] = "link margining is the host's",
	[PCI_EXT_CAP_ID_PL_64GT] = "link equalization is the host's",
	[PCI_EXT_CAP_ID_NPEM] = "enclosure management is the host's",
	[PCI_EXT_CAP_ID_DVSEC] = "designated vendor-specific: not proven safe",
	[PCI_EXT_CAP_ID_RCRB] = "root complex register block is the host's",
};

const struct cap_ops *cap_find_ops(uint16_t id, bool ext)
{
	for (size_t i = 0; i < sizeof(allowlist) / sizeof(allowlist[0]); i++)
		if (allowlist[i]->id == id && allowlist[i]->ext == ext)
			return allowlist[i];
	return NULL;
}

const char *cap_name(uint16_t id, bool ext)
{
	const char *n = NULL;

	if (!ext && id <= PCI_CAP_ID_MAX)
		n = std_names[id];
	else if (ext && id <= PTDM_EXT_CAP_ID_LAST)
		n = ext_names[id];
	return n ? n : "Unknown";
}

const char *cap_hide_reason(uint16_t id, bool ext)
{
	const char *r = NULL;

	if (!ext && id <= PCI_CAP_ID_MAX)
		r = std_reasons[id];
	else if (ext && id <= PTDM_EXT_CAP_ID_LAST)
		r = ext_reasons[id];
	return r ? r : "not on the allowlist";
}

/* Generic headers: the engine owns ID/NEXT; both read-only to the guest. */
static const struct cfg_reg std_hdr_regs[] = {
	{ "cap id", PCI_CAP_LIST_ID, 1, .virt = 0xff },
	{ "cap next", PCI_CAP_LIST_NEXT, 1, .virt = 0xff },
	CFG_REG_END,
};

static const struct cfg_reg ext_hdr_regs[] = {
	{ "ext cap header", 0, 4, .virt = ~0u },
	CFG_REG_END,
};

static struct cap_inst *cap_add(struct ptdm_dev *d, uint16_t id, bool ext,
				unsigned pos, unsigned next, uint8_t ver)
{
	struct cap_inst *c;

	if (d->ncaps >= DEV_MAX_CAPS)
		return NULL;
	c = &d->caps[d->ncaps++];
	memset(c, 0, sizeof(*c));
	c->info.id = id;
	c->info.ext = ext;
	c->info.pos = (uint16_t)pos;
	c->info.version = ver;
	c->info.name = cap_name(id, ext);
	c->next_pos = (uint16_t)next;
	return c;
}

/* Walk the standard chain from the snapshot, recording every entry. */
static void walk_std(struct ptdm_dev *d)
{
	struct capwalk w;
	struct capwalk_cap c;
	enum capwalk_stop why;

	capwalk_std(&w, d->host_init, d->cfg_size);
	if (w.ptr_reserved) /* low bits are reserved: ignore them, note it */
		dev_problem(d, "capability pointer %#04x: reserved bits set",
			    d->host_init[PCI_CAPABILITY_LIST]);
	while ((why = capwalk_next(&w, &c)) == CAPWALK_CAP) {
		if (!cap_add(d, c.id, false, c.pos, c.next, 0))
			return;
		if (c.next_reserved) /* ignored, noted */
			dev_problem(d, "capability at %#04x: reserved bits set "
				    "in next pointer %#04x", c.pos,
				    d->host_init[c.pos + PCI_CAP_LIST_NEXT]);
	}
	if (why == CAPWALK_OUT_OF_RANGE)
		dev_problem(d, "capability pointer %#04x at %#04x points %s; "
			    "chain cut there", w.pos, w.from,
			    w.pos < STD_CAP_MIN ? "into the header"
						: "past the end");
	else if (why == CAPWALK_LOOP)
		dev_problem(d, "capability chain loops back to %#04x (from "
			    "%#04x); chain cut there", w.pos, w.from);
}

static void walk_ext(struct ptdm_dev *d)
{
	struct capwalk w;
	struct capwalk_cap c;
	enum capwalk_stop why;

	capwalk_ext(&w, d->host_init, d->cfg_size);
	while ((why = capwalk_next(&w, &c)) == CAPWALK_CAP)
		if (!cap_add(d, c.id, true, c.pos, c.next, c.version))
			return;
	if (why == CAPWALK_ALL_ONES)
		dev_problem(d, "extended capability at %#05x reads all-ones; "
			    "chain cut there", w.pos);
	else if (why == CAPWALK_LOOP)
		dev_problem(d, "extended capability chain loops back to %#05x "
			    "(from %#05x); chain cut there", w.pos, w.from);
	else if (why == CAPWALK_BELOW_EXT) {
		dev_problem(d, "extended capability at %#05x points to %#05x, "
			    "below 0x100; chain cut there", w.from, w.pos);
		d->caps[d->ncaps - 1].next_pos = 0;
	}
}

/* Start of the next capability after c by address in the same space. */
static unsigned next_by_address(const struct ptdm_dev *d,
				const struct cap_inst *c)
{
	unsigned end = c->info.ext ? d->cfg_size : STD_CAP_END;

	for (unsigned i = 0; i < d->ncaps; i++) {
		const struct cap_inst *o = &d->caps[i];

		if (o->info.ext == c->info.ext && o->info.pos > c->info.pos &&
		    o->info.pos < end)
			end = o->info.pos;
	}
	return end;
}

static void hide(struct cap_inst *c, const char *reason)
{
	c->info.hidden = true;
	c->info.reason = reason;
	c->table = NULL;
}

/* Is a module with this id already kept (only vendor caps may repeat)? */
static bool kept_before(const struct ptdm_dev *d, const struct cap_inst *c)
{
	for (const struct cap_inst *o = d->caps; o < c; o++)
		if (!o->info.hidden && o->info.ext == c->info.ext &&
		    o->info.id == c->info.id)
			return true;
	return false;
}

static int *module_index(struct ptdm_dev *d, const struct cap_inst *c)
{
	if (c->info.ext)
		return c->info.id == PCI_EXT_CAP_ID_ERR ? &d->cap_aer : NULL;
	switch (c->info.id) {
	case PCI_CAP_ID_PM:
		return &d->cap_pm;
	case PCI_CAP_ID_MSI:
		return &d->cap_msi;
	case PCI_CAP_ID_MSIX:
		return &d->cap_msix;
	case PCI_CAP_ID_EXP:
		return &d->cap_exp;
	default:
		return NULL;
	}
}

/* Decide one capability: place its tables, or hide it with a reason. */
static void cap_setup(struct ptdm_dev *d, struct cap_inst *c)
{
	unsigned idx = (unsigned)(c - d->caps);
	unsigned space_end = c->info.ext ? d->cfg_size : STD_CAP_END;
	bool vendor = c->info.ext ? c->info.id == PCI_EXT_CAP_ID_VNDR
				  : c->info.id == PCI_CAP_ID_VNDR;
	int len, rc;
	int *slot;

	c->ops = cap_find_ops(c->info.id, c->info.ext);
	if (!c->ops) {
		hide(c, cap_hide_reason(c->info.id, c->info.ext));
		return;
	}
	if (!vendor && kept_before(d, c)) {
		dev_problem(d, "second %s capability at %#05x hidden",
			    c->info.name, c->info.pos);
		hide(c, "duplicate of an earlier capability");
		return;
	}
	len = c->ops->length(d, c->info.pos);
	if (len <= 0) {
		dev_problem(d, "%s capability at %#05x: impossible layout",
			    c->info.name, c->info.pos);
		hide(c, "malformed: impossible length or layout");
		return;
	}
	if ((unsigned)len > space_end - c->info.pos) {
		dev_problem(d, "%s capability at %#05x runs past %#05x",
			    c->info.name, c->info.pos, space_end);
		hide(c, "runs past the end of config space");
		return;
	}
	c->info.len = (uint16_t)len;
	for (unsigned b = c->info.pos; b < c->info.pos + (unsigned)len; b++) {
		uint16_t o = d->owner[b];

		if (o < OWNER_ABSENT || o == OWNER_ZERO) {
			dev_problem(d, "%s capability at %#05x overlaps "
				    "another at %#05x", c->info.name,
				    c->info.pos, b);
			hide(c, "overlaps another capability");
			return;
		}
	}
	for (const struct cap_inst *o = d->caps; o < d->caps + d->ncaps; o++) {
		if (o != c && o->info.ext == c->info.ext &&
		    o->info.pos > c->info.pos &&
		    o->info.pos < c->info.pos + (unsigned)len) {
			dev_problem(d, "%s capability at %#05x (%d bytes) "
				    "overlaps the capability at %#05x",
				    c->info.name, c->info.pos, len,
				    o->info.pos);
			hide(c, "overlaps another capability");
			return;
		}
	}
	rc = c->ops->init(d, c);
	if (rc) {
		if (!c->info.reason)
			c->info.reason = "its setup failed";
		c->info.hidden = true;
		return;
	}
	rc = cfg_place(d, c->info.ext ? ext_hdr_regs : std_hdr_regs,
		       c->info.pos, (int)idx, c->info.pos + (unsigned)len);
	if (!rc && c->table)
		rc = cfg_place(d, c->table, c->info.pos, (int)idx,
			       c->info.pos + (unsigned)len);
	if (rc) {
		/* a module table that does not fit its own length: a bug */
		dev_problem(d, "%s capability at %#05x: register table does "
			    "not fit (%s)", c->info.name, c->info.pos,
			    strerror(-rc));
		if (c->ops->fini)
			c->ops->fini(d, c);
		hide(c, "register table does not fit");
		/* slots already placed stay owned by it but are unreachable */
		return;
	}
	slot = module_index(d, c);
	if (slot)
		*slot = (int)idx;
}

int caps_build(struct ptdm_dev *d, struct ptdm_err *err)
{
	d->ncaps = 0;
	d->cap_pm = d->cap_msi = d->cap_msix = d->cap_exp = d->cap_aer = -1;
	walk_std(d);
	walk_ext(d);
	/* the PCIe capability decides things others look at: set it up first */
	for (unsigned i = 0; i < d->ncaps; i++)
		if (!d->caps[i].info.ext && d->caps[i].info.id == PCI_CAP_ID_EXP)
			cap_setup(d, &d->caps[i]);
	for (unsigned i = 0; i < d->ncaps; i++) {
		struct cap_inst *c = &d->caps[i];

		if (!(!c->info.ext && c->info.id == PCI_CAP_ID_EXP))
			cap_setup(d, c);
	}
	/* hidden capabilities read as 0 up to the next capability */
	for (unsigned i = 0; i < d->ncaps; i++) {
		struct cap_inst *c = &d->caps[i];
		unsigned end;

		if (!c->info.hidden)
			continue;
		end = next_by_address(d, c);
		if (!c->info.len)
			c->info.len = (uint16_t)(end - c->info.pos);
		for (unsigned b = c->info.pos; b < end; b++)
			if (d->owner[b] == OWNER_RAW)
				d->owner[b] = OWNER_ZERO;
	}
	/* first extended capability hidden: a Null header links the rest */
	if (d->cfg_size == PTDM_CFG_SPACE_SIZE && d->owner[EXT_CAP_MIN] >= OWNER_ABSENT) {
		static const struct cfg_reg null_hdr[] = {
			{ "ext null header", 0, 4, .virt = ~0u },
			CFG_REG_END,
		};
		for (unsigned b = EXT_CAP_MIN; b < EXT_CAP_MIN + 4; b++)
			d->owner[b] = OWNER_RAW;
		if (cfg_place(d, null_hdr, EXT_CAP_MIN, -1, EXT_CAP_MIN + 4))
			return ptdm_errf(err, -ENOSPC,
					 "%s: out of register slots",
					 d->host->name);
	}
	return 0;
}

/* Kept capabilities of one space in the host's chain order. */
static unsigned next_kept(const struct ptdm_dev *d, unsigned from, bool ext)
{
	for (unsigned i = from; i < d->ncaps; i++)
		if (d->caps[i].info.ext == ext && !d->caps[i].info.hidden)
			return i;
	return d->ncaps;
}

void caps_relink(struct ptdm_dev *d)
{
	unsigned i, j;
	uint16_t status;

	/* standard chain */
	i = next_kept(d, 0, false);
	d->first_cap = i < d->ncaps ? (uint8_t)d->caps[i].info.pos : 0;
	cfg_shadow_set(d, PCI_CAPABILITY_LIST, 1, d->first_cap);
	status = (uint16_t)cfg_shadow_get(d, PCI_STATUS, 2) &
		 ~PCI_STATUS_CAP_LIST;
	cfg_shadow_set(d, PCI_STATUS, 2,
		       status | (d->first_cap ? PCI_STATUS_CAP_LIST : 0));
	for (; i < d->ncaps; i = j) {
		j = next_kept(d, i + 1, false);
		cfg_shadow_set(d, d->caps[i].info.pos + PCI_CAP_LIST_NEXT, 1,
			       j < d->ncaps ? d->caps[j].info.pos : 0);
	}

	/* extended chain: ID and version from the host, next virtual */
	if (d->cfg_size < PTDM_CFG_SPACE_SIZE)
		return;
	i = next_kept(d, 0, true);
	d->first_ecap = i < d->ncaps ? d->caps[i].info.pos : 0;
	if (d->first_ecap != EXT_CAP_MIN)
		cfg_shadow_set(d, EXT_CAP_MIN, 4,
			       (uint32_t)d->first_ecap << 20);
	for (; i < d->ncaps; i = j) {
		struct cap_inst *c = &d->caps[i];
		uint32_t h = cfg_host_init(d, c->info.pos, 4) & 0xfffff;

		j = next_kept(d, i + 1, true);
		cfg_shadow_set(d, c->info.pos, 4,
			       h | (j < d->ncaps ? (uint32_t)d->caps[j].info.pos
							   << 20
						 : 0));
	}
}
