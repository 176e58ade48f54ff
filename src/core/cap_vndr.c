/*
 * cap_vndr.c - vendor-specific capability: kept, its length byte read-only,
 * its body without rules (host bytes; written only in permissive mode).
 */
#include <errno.h>

#include "core/dev_priv.h"

static const struct cfg_reg vndr_regs[] = {
	/* the length is the device's: read-only snapshot; no body rows */
	{ "vendor cap length", PCI_CAP_FLAGS, 1, .virt = 0xff },
	CFG_REG_END,
};

static int vndr_length(struct ptdm_dev *d, unsigned pos)
{
	unsigned len = d->host_init[pos + PCI_CAP_FLAGS];

	if (len < 3 || pos + len > PTDM_CFG_LEGACY_SIZE)
		return -EINVAL;
	return (int)len;
}

static int vndr_init(struct ptdm_dev *d, struct cap_inst *c)
{
	c->table = vndr_regs;
	return 0;
}

const struct cap_ops cap_vndr_ops = {
	.id = PCI_CAP_ID_VNDR,
	.name = "Vendor Specific",
	.length = vndr_length,
	.init = vndr_init,
};
