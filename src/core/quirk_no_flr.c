/*
 * quirk_no_flr.c - devices that advertise FLR but hang or misbehave on it.
 *
 * The list is Linux's quirk_no_flr (drivers/pci/quirks.c): the host kernel
 * already never uses FLR on them, but a guest reads the Function Level
 * Reset bit in DEVCAP and would.  The guest is shown no FLR (DEVCAP bit
 * cleared, and an Initiate-FLR write is then a no-op, like on a device
 * without it), so its reset goes through the VMM's device reset, which
 * ptdm does through the host backend: VFIO picks a method that works (a
 * PM or bus reset).  The SolidRun SNET DPU hangs only at revision 1: the
 * revision range of a match.
 */
#include <errno.h>

#include "core/dev_priv.h"

static const struct quirk_match no_flr[] = {
	{ 0x1022, 0x1486, 0, 0, 0, 0xff }, /* AMD Matisse crypto (PSPCPP) */
	{ 0x1022, 0x1487, 0, 0, 0, 0xff }, /* AMD Starship/Matisse HD audio */
	{ 0x1022, 0x148c, 0, 0, 0, 0xff }, /* AMD Starship USB 3.0 */
	{ 0x1022, 0x149c, 0, 0, 0, 0xff }, /* AMD Matisse USB 3.0 */
	{ 0x1022, 0x7901, 0, 0, 0, 0xff }, /* AMD FCH SATA */
	{ 0x8086, 0x1502, 0, 0, 0, 0xff }, /* Intel 82579LM */
	{ 0x8086, 0x1503, 0, 0, 0, 0xff }, /* Intel 82579V */
	{ 0x14c3, 0x0616, 0, 0, 0, 0xff }, /* MediaTek MT7922 */
	{ 0xd063, 0x1000, 0, 0, 0x01, 0x01 }, /* SolidRun SNET DPU rev 1 */
	{ 0 },
};

static int no_flr_init(struct ptdm_dev *d, struct quirk_inst *q)
{
	unsigned pos;

	if (d->cap_exp < 0) {
		q->info.reason = "no PCI Express capability (no FLR to hide)";
		return -ENODEV;
	}
	pos = d->caps[d->cap_exp].info.pos;
	if (!(cfg_host_init(d, pos + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR)) {
		q->info.reason = "the device does not advertise FLR";
		return -ENODEV;
	}
	return 0;
}

static void no_flr_reset(struct ptdm_dev *d, struct quirk_inst *q)
{
	unsigned at = d->caps[d->cap_exp].info.pos + PCI_EXP_DEVCAP;

	(void)q;
	cfg_shadow_set(d, at, 4, cfg_shadow_get(d, at, 4) & ~PCI_EXP_DEVCAP_FLR);
}

const struct quirk_ops quirk_no_flr_ops = {
	.name = "no-flr",
	.what = "FLR hangs this device: the guest is shown none and resets it "
		"through the host's device reset",
	.match = no_flr,
	.reset = "no FLR; device reset by the host (VFIO's PM or bus reset)",
	.init = no_flr_init,
	.reset_state = no_flr_reset,
};
