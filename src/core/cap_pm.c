/*
 * cap_pm.c - Power Management capability.
 *
 * The guest's D-state is virtual unless the device has power_mgmt=1: a
 * guest putting the device in D3hot would otherwise make it stop decoding
 * its BARs under the host's feet.  With power_mgmt=1 the two state bits
 * reach the device and the owner is told (dev_notify_power).  PME enable,
 * data select and PME status are the guest's own copies in either mode, so
 * a read-modify-write of PMCSR can never clear the host's PME status; the
 * capabilities register, No_Soft_Reset and bytes 6-7 are the device's,
 * read-only.  Two const tables, one per mode, chosen at init.
 *
 * A D1 or D2 the capabilities register does not offer is discarded (PCI PM
 * 1.2 §5.4.2: the write completes, the state does not change) in both
 * modes, before the write reaches the shadow or the device; the other
 * PMCSR bits of the same write still apply.
 */
#include "core/dev_priv.h"

static cfg_write_hook pmcsr_write;
static cfg_write_filter pmcsr_filter;

/* PMCSR bits that are the guest's copy in both modes */
#define PMCSR_GUEST                                                       \
	(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_DATA_SEL_MASK |             \
	 PCI_PM_CTRL_PME_STATUS)

static const struct cfg_reg pm_regs_virtual[] = {
	/* what the device supports: read-only, from the attach snapshot */
	{ "pm capabilities", PCI_PM_PMC, 2, .virt = 0xffff },
	/* power state virtual: the device stays in D0 whatever the guest says */
	{ "pm control/status", PCI_PM_CTRL, 2,
	  .virt = PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_NO_SOFT_RESET |
		  PMCSR_GUEST,
	  .write = PCI_PM_CTRL_STATE_MASK | PMCSR_GUEST,
	  .rw1c = PCI_PM_CTRL_PME_STATUS, .on_write = pmcsr_write,
	  .filter = pmcsr_filter },
	/* bridge extensions: meaningless for an endpoint, read-only */
	{ "pm bridge ext", PCI_PM_PPB_EXTENSIONS, 1, .virt = 0xff },
	/* data register follows the device's select, read-only snapshot */
	{ "pm data", PCI_PM_DATA_REGISTER, 1, .virt = 0xff },
	CFG_REG_END,
};

static const struct cfg_reg pm_regs_power_mgmt[] = {
	/* what the device supports: read-only, from the attach snapshot */
	{ "pm capabilities", PCI_PM_PMC, 2, .virt = 0xffff },
	/* power_mgmt=1: only the D-state bits reach the device */
	{ "pm control/status", PCI_PM_CTRL, 2,
	  .virt = PCI_PM_CTRL_NO_SOFT_RESET | PMCSR_GUEST,
	  .write = PCI_PM_CTRL_STATE_MASK | PMCSR_GUEST,
	  .rw1c = PCI_PM_CTRL_PME_STATUS, .on_write = pmcsr_write,
	  .filter = pmcsr_filter },
	/* bridge extensions: meaningless for an endpoint, read-only */
	{ "pm bridge ext", PCI_PM_PPB_EXTENSIONS, 1, .virt = 0xff },
	/* data register follows the device's select, read-only snapshot */
	{ "pm data", PCI_PM_DATA_REGISTER, 1, .virt = 0xff },
	CFG_REG_END,
};

static int pm_length(struct ptdm_dev *d, unsigned pos)
{
	return PCI_PM_SIZEOF;
}

static int pm_init(struct ptdm_dev *d, struct cap_inst *c)
{
	c->table = d->opts.power_mgmt ? pm_regs_power_mgmt : pm_regs_virtual;
	return 0;
}

static void pm_reset(struct ptdm_dev *d, struct cap_inst *c)
{
	unsigned ctrl = c->info.pos + PCI_PM_CTRL;
	uint32_t v = cfg_host_init(d, ctrl, 2);

	/* power-on: D0, PME disabled, PME status clear, data select 0 */
	cfg_shadow_set(d, ctrl, 2, v & PCI_PM_CTRL_NO_SOFT_RESET);
}

/* A D-state the function does not support (D1, D2 are optional)? */
static bool state_unsupported(struct ptdm_dev *d, const struct cfg_slot *s,
			      uint32_t val)
{
	uint32_t pmc = cfg_shadow_get(d, s->base - PCI_PM_CTRL + PCI_PM_PMC, 2);

	switch (val & PCI_PM_CTRL_STATE_MASK) {
	case 1: return !(pmc & PCI_PM_CAP_D1);
	case 2: return !(pmc & PCI_PM_CAP_D2);
	default: return false;
	}
}

static uint32_t pmcsr_filter(struct ptdm_dev *d, const struct cfg_slot *s,
			     uint32_t val)
{
	return state_unsupported(d, s, val) ? ~(uint32_t)PCI_PM_CTRL_STATE_MASK
					    : ~0u;
}

static void pmcsr_write(struct ptdm_dev *d, const struct cfg_slot *s,
			uint32_t old, uint32_t val, uint32_t mask)
{
	uint32_t now;

	if (!(mask & PCI_PM_CTRL_STATE_MASK) || state_unsupported(d, s, val))
		return; /* no state written, or one discarded */
	if (!d->opts.power_mgmt) {
		now = cfg_shadow_get(d, s->base, 2);
		if ((old ^ now) & PCI_PM_CTRL_STATE_MASK)
			dev_notify_power(d, (int)(now &
						  PCI_PM_CTRL_STATE_MASK));
		return;
	}
	/* the device may refuse a state it does not support: report its */
	if (cfg_host_read(d, s->base, 2, &now))
		now = val;
	dev_notify_power(d, (int)(now & PCI_PM_CTRL_STATE_MASK));
}

const struct cap_ops cap_pm_ops = {
	.id = PCI_CAP_ID_PM,
	.name = "Power Management",
	.length = pm_length,
	.init = pm_init,
	.reset = pm_reset,
};
