/*
 * quirk_ati_reset.c - ATI/AMD GPUs do not reset on D3hot -> D0.
 *
 * Linux's quirk_no_pm_reset (drivers/pci/quirks.c) marks every ATI VGA
 * device: they advertise No_Soft_Reset clear, yet a D3hot -> D0
 * transition leaves them as they were, so the host never uses it as a
 * reset.  A guest reads No_Soft_Reset in PMCSR and would (with
 * power_mgmt=0 ptdm's D-state is virtual, so that "reset" would reset
 * nothing at all).  The guest is shown No_Soft_Reset set - Linux then
 * refuses a PM reset - so it resets the device by a bus or device reset,
 * which ptdm does through the host backend.
 */
#include <errno.h>

#include "core/dev_priv.h"

static const struct quirk_match ati_vga[] = {
	{ 0x1002, QUIRK_ANY, 0xffff00, 0x030000, 0, 0xff },
	{ 0 },
};

static int no_pm_reset_init(struct ptdm_dev *d, struct quirk_inst *q)
{
	if (d->cap_pm < 0) {
		q->info.reason = "no Power Management capability";
		return -ENODEV;
	}
	return 0;
}

static void no_pm_reset_reset(struct ptdm_dev *d, struct quirk_inst *q)
{
	unsigned at = d->caps[d->cap_pm].info.pos + PCI_PM_CTRL;

	(void)q;
	cfg_shadow_set(d, at, 2,
		       cfg_shadow_get(d, at, 2) | PCI_PM_CTRL_NO_SOFT_RESET);
}

const struct quirk_ops quirk_ati_no_soft_reset_ops = {
	.name = "ati-no-pm-reset",
	.what = "D3hot->D0 does not reset the GPU: the guest is shown "
		"No_Soft_Reset so it uses a bus or device reset",
	.match = ati_vga,
	.reset = "no PM reset; bus or device reset by the host",
	.init = no_pm_reset_init,
	.reset_state = no_pm_reset_reset,
};
