/*
 * quirk_edu_test.c - a config mirror on QEMU's edu device, for tests.
 *
 * edu (1234:11e8) is QEMU's teaching device: no real hardware has those
 * IDs.  The VM tests (tests/vm) pass it through real VFIO and need a quirk
 * window to reach: BAR0 0x8000-0x8fff, where edu decodes nothing, is made
 * a mirror of the guest's virtual config, as NVIDIA's 0x88000 is.  A read
 * there must show the guest's view (an ID override, say), never the
 * device's bytes.
 */
#include "core/dev_priv.h"

static const struct quirk_match edu[] = {
	{ 0x1234, 0x11e8, 0, 0, 0, 0xff },
	{ 0 },
};

static const struct quirk_window edu_windows[] = {
	{ "config mirror (test)", 0, 0x8000, 0x1000, QUIRK_BAR_MEM,
	  .mirror = true, .cfg_base = 0 },
	{ NULL },
};

const struct quirk_ops quirk_edu_test_ops = {
	.name = "edu-test-mirror",
	.what = "test only: BAR0 0x8000 mirrors the guest's virtual config",
	.match = edu,
	.windows = edu_windows,
};
