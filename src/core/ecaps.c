/*
 * ecaps.c - the extended capabilities a guest keeps: AER, Device Serial
 * Number and vendor-specific.
 *
 * AER: the guest may clear error status on the device (RW1C) and read the
 * header log; masks, severities and ECRC enables are its own copies - the
 * host's AER driver keeps the real ones.  DSN is read-only.  A VSEC keeps
 * its header read-only and its body without rules.
 */
#include <errno.h>

#include "core/dev_priv.h"

#define AER_CAP_GUEST (PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE)
/* endpoint AER ends after the header log (root registers are ports') */
#define AER_ENDPOINT_SIZEOF (PCI_ERR_HEADER_LOG + 16)

static const struct cfg_reg aer_regs[] = {
	/* error status: the guest clears what it handled */
	{ "aer uncorrectable status", PCI_ERR_UNCOR_STATUS, 4, .write = ~0u,
	  .rw1c = ~0u },
	/* masks and severity: the guest's own view */
	{ "aer uncorrectable mask", PCI_ERR_UNCOR_MASK, 4, .virt = ~0u,
	  .write = ~0u },
	{ "aer uncorrectable severity", PCI_ERR_UNCOR_SEVER, 4, .virt = ~0u,
	  .write = ~0u },
	{ "aer correctable status", PCI_ERR_COR_STATUS, 4, .write = ~0u,
	  .rw1c = ~0u },
	{ "aer correctable mask", PCI_ERR_COR_MASK, 4, .virt = ~0u,
	  .write = ~0u },
	/* first error pointer and capability bits RO, ECRC enables virtual */
	{ "aer capabilities", PCI_ERR_CAP, 4, .virt = AER_CAP_GUEST,
	  .write = AER_CAP_GUEST },
	{ "aer header log 0", PCI_ERR_HEADER_LOG, 4 },
	{ "aer header log 1", PCI_ERR_HEADER_LOG + 4, 4 },
	{ "aer header log 2", PCI_ERR_HEADER_LOG + 8, 4 },
	{ "aer header log 3", PCI_ERR_HEADER_LOG + 12, 4 },
	CFG_REG_END,
};

static int aer_length(struct ptdm_dev *d, unsigned pos)
{
	return AER_ENDPOINT_SIZEOF;
}

static int aer_init(struct ptdm_dev *d, struct cap_inst *c)
{
	c->table = aer_regs;
	return 0;
}

static void aer_reset(struct ptdm_dev *d, struct cap_inst *c)
{
	unsigned pos = c->info.pos;

	/* the guest's copies start as the host has them, ECRC off */
	cfg_shadow_set(d, pos + PCI_ERR_CAP, 4,
		       cfg_host_init(d, pos + PCI_ERR_CAP, 4) & ~AER_CAP_GUEST);
}

static const struct cfg_reg dsn_regs[] = {
	{ "dsn low", 4, 4, .virt = ~0u },
	{ "dsn high", 8, 4, .virt = ~0u },
	CFG_REG_END,
};

static int dsn_length(struct ptdm_dev *d, unsigned pos)
{
	return PCI_EXT_CAP_DSN_SIZEOF;
}

static int dsn_init(struct ptdm_dev *d, struct cap_inst *c)
{
	c->table = dsn_regs;
	return 0;
}

static const struct cfg_reg vsec_regs[] = {
	{ "vsec header", PCI_VNDR_HEADER, 4, .virt = ~0u },
	CFG_REG_END,
};

static int vsec_length(struct ptdm_dev *d, unsigned pos)
{
	unsigned len = PCI_VNDR_HEADER_LEN(cfg_host_init(d, pos +
							 PCI_VNDR_HEADER, 4));

	if (len < 8 || pos + len > PTDM_CFG_SPACE_SIZE)
		return -EINVAL;
	return (int)len;
}

static int vsec_init(struct ptdm_dev *d, struct cap_inst *c)
{
	c->table = vsec_regs;
	return 0;
}

const struct cap_ops ecap_aer_ops = {
	.id = PCI_EXT_CAP_ID_ERR,
	.ext = true,
	.name = "Advanced Error Reporting",
	.length = aer_length,
	.init = aer_init,
	.reset = aer_reset,
};

const struct cap_ops ecap_dsn_ops = {
	.id = PCI_EXT_CAP_ID_DSN,
	.ext = true,
	.name = "Device Serial Number",
	.length = dsn_length,
	.init = dsn_init,
};

const struct cap_ops ecap_vndr_ops = {
	.id = PCI_EXT_CAP_ID_VNDR,
	.ext = true,
	.name = "Vendor Specific (extended)",
	.length = vsec_length,
	.init = vsec_init,
};
