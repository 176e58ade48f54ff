/*
 * cap_pm.c - Power Management capability.
 *
 * The guest's D-state is virtual unless the device has power_mgmt=1: a
 * guest putting the device in D3hot would otherwise make it drop its BARs
 * under the host's feet.  PME enable, data select and PME status are the
 * guest's own; capabilities and No_Soft_Reset are the device's.
 */
#include "core/dev_priv.h"

static cfg_write_hook pmcsr_write;

/* D-state bits are ignored by the guest-visible row here; the table used
 * depends on power_mgmt. */
#define PMCSR_VIRT                                                     \
	(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_DATA_SEL_MASK |          \
	 PCI_PM_CTRL_PME_STATUS)

static const struct cfg_reg pm_regs_virtual[] = {
	{ "pm capabilities", PCI_PM_PMC, 2, .virt = 0xffff },
	/* power state virtual: reads back what the guest wrote */
	{ "pm control/status", PCI_PM_CTRL, 2,
	  .virt = PCI_PM_CTRL_STATE_MASK | PMCSR_VIRT | PCI_PM_CTRL_NO_SOFT_RESET,
	  .write = PCI_PM_CTRL_STATE_MASK | PMCSR_VIRT,
	  .rw1c = PCI_PM_CTRL_PME_STATUS, .on_write = pmcsr_write },
	{ "pm bridge ext", PCI_PM_PPB_EXTENSIONS, 1, .virt = 0xff },
	{ "pm data", PCI_PM_DATA_REGISTER, 1, .virt = 0xff },
	CFG_REG_END,
};

static const struct cfg_reg pm_regs_power_mgmt[] = {
	{ "pm capabilities", PCI_PM_PMC, 2, .virt = 0xffff },
	/* power_mgmt=1: the D-state reaches the device */
	{ "pm control/status", PCI_PM_CTRL, 2,
	  .virt = PMCSR_VIRT | PCI_PM_CTRL_NO_SOFT_RESET,
	  .write = PCI_PM_CTRL_STATE_MASK | PMCSR_VIRT,
	  .rw1c = PCI_PM_CTRL_PME_STATUS, .on_write = pmcsr_write },
	{ "pm bridge ext", PCI_PM_PPB_EXTENSIONS, 1, .virt = 0xff },
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

	/* power-on: D0, PME disabled, status clear, data select 0 */
	v &= PCI_PM_CTRL_NO_SOFT_RESET;
	cfg_shadow_set(d, ctrl, 2, v);
}

static void pmcsr_write(struct ptdm_dev *d, const struct cfg_slot *s,
			uint32_t old, uint32_t val, uint32_t mask)
{
	uint32_t now;

	if (!(mask & PCI_PM_CTRL_STATE_MASK))
		return;
	if (d->opts.power_mgmt) {
		if (cfg_host_read(d, s->base, 2, &now))
			return;
	} else {
		now = cfg_shadow_get(d, s->base, 2);
	}
	if ((old ^ now) & PCI_PM_CTRL_STATE_MASK || d->opts.power_mgmt)
		dev_notify_power(d, (int)(now & PCI_PM_CTRL_STATE_MASK));
}

const struct cap_ops cap_pm_ops = {
	.id = PCI_CAP_ID_PM,
	.name = "Power Management",
	.length = pm_length,
	.init = pm_init,
	.reset = pm_reset,
};
