/*
 * ecaps.c - the extended capabilities a guest keeps: AER, Device Serial
 * Number and vendor-specific.
 *
 * AER: the guest clears error status on the device (RW1C) and reads the
 * header log; masks, severities and the ECRC enables are its own copies,
 * starting from the host's values - the host's AER driver keeps the real
 * ones.  An endpoint's AER ends after the header log (0x2c); a root complex
 * event collector also has the root error registers, given as the guest's
 * own copies that start cleared (error source IDs name host functions).
 * DSN is read-only.  A VSEC keeps its header read-only and its body without
 * rules (host bytes, written only in permissive mode).
 */
#include <errno.h>

#include "core/dev_priv.h"

static cfg_write_hook aer_cap_write;

#define AER_CAP_GUEST (PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE)
/* endpoint AER ends after the header log (root registers are ports') */
#define AER_ENDPOINT_SIZEOF PCI_ERR_ROOT_COMMAND
/* a root complex event collector has the root registers too */
#define AER_RCEC_SIZEOF (PCI_ERR_ROOT_ERR_SRC + 4)
#define AER_ROOT_CMD_ALL                                                  \
	(PCI_ERR_ROOT_CMD_COR_EN | PCI_ERR_ROOT_CMD_NONFATAL_EN |         \
	 PCI_ERR_ROOT_CMD_FATAL_EN)

#define AER_ROWS                                                           \
	/* error status: the guest clears what it handled (RsvdZ bits are  \
	 * harmless to write, and newer specs keep defining them) */       \
	{ "aer uncorrectable status", PCI_ERR_UNCOR_STATUS, 4,             \
	  .write = ~0u, .rw1c = ~0u },                                     \
	/* masks and severity: the guest's view, the host's stay */        \
	{ "aer uncorrectable mask", PCI_ERR_UNCOR_MASK, 4, .virt = ~0u,    \
	  .write = ~0u },                                                  \
	{ "aer uncorrectable severity", PCI_ERR_UNCOR_SEVER, 4,            \
	  .virt = ~0u, .write = ~0u },                                     \
	/* correctable status: RW1C on the device */                       \
	{ "aer correctable status", PCI_ERR_COR_STATUS, 4, .write = ~0u,   \
	  .rw1c = ~0u },                                                   \
	{ "aer correctable mask", PCI_ERR_COR_MASK, 4, .virt = ~0u,        \
	  .write = ~0u },                                                  \
	/* first error pointer, capable bits RO; ECRC enables virtual */   \
	{ "aer capabilities", PCI_ERR_CAP, 4, .virt = AER_CAP_GUEST,       \
	  .write = AER_CAP_GUEST, .on_write = aer_cap_write },             \
	/* the logged TLP header: read-only, live */                       \
	{ "aer header log 0", PCI_ERR_HEADER_LOG, 4 },                     \
	{ "aer header log 1", PCI_ERR_HEADER_LOG + 4, 4 },                 \
	{ "aer header log 2", PCI_ERR_HEADER_LOG + 8, 4 },                 \
	{ "aer header log 3", PCI_ERR_HEADER_LOG + 12, 4 }

static const struct cfg_reg aer_regs[] = {
	AER_ROWS, CFG_REG_END,
};

static const struct cfg_reg aer_rcec_regs[] = {
	AER_ROWS,
	/* root error interrupts: the guest's copy, the host's stay */
	{ "aer root command", PCI_ERR_ROOT_COMMAND, 4, .virt = ~0u,
	  .write = AER_ROOT_CMD_ALL },
	/* root error status: the guest's copy, nothing sets it */
	{ "aer root status", PCI_ERR_ROOT_STATUS, 4, .virt = ~0u },
	/* error source IDs would name host functions: read 0 */
	{ "aer error source", PCI_ERR_ROOT_ERR_SRC, 4, .virt = ~0u },
	CFG_REG_END,
};

/* The PCIe capability says this function is a root complex event
 * collector (kept or hidden: the type is the device's either way). */
static bool is_rcec(const struct ptdm_dev *d)
{
	for (unsigned i = 0; i < d->ncaps; i++) {
		const struct cap_inst *c = &d->caps[i];
		uint16_t flags;

		if (c->info.ext || c->info.id != PCI_CAP_ID_EXP)
			continue;
		flags = (uint16_t)cfg_host_init(d, c->info.pos + PCI_EXP_FLAGS,
						2);
		return ((flags & PCI_EXP_FLAGS_TYPE) >> 4) ==
		       PCI_EXP_TYPE_RC_EC;
	}
	return false;
}

static int aer_length(struct ptdm_dev *d, unsigned pos)
{
	return is_rcec(d) ? AER_RCEC_SIZEOF : AER_ENDPOINT_SIZEOF;
}

static int aer_init(struct ptdm_dev *d, struct cap_inst *c)
{
	c->table = is_rcec(d) ? aer_rcec_regs : aer_regs;
	return 0;
}

static void aer_reset(struct ptdm_dev *d, struct cap_inst *c)
{
	unsigned pos = c->info.pos;

	/* masks, severity, ECRC enables: the host's values (shadow copy) */
	if (c->table == aer_rcec_regs) {
		cfg_shadow_set(d, pos + PCI_ERR_ROOT_COMMAND, 4, 0);
		cfg_shadow_set(d, pos + PCI_ERR_ROOT_STATUS, 4, 0);
		cfg_shadow_set(d, pos + PCI_ERR_ROOT_ERR_SRC, 4, 0);
	}
}

/* An ECRC enable exists only where the device is capable of it. */
static void aer_cap_write(struct ptdm_dev *d, const struct cfg_slot *s,
			  uint32_t old, uint32_t val, uint32_t mask)
{
	uint32_t cap = cfg_host_init(d, s->base, 4);
	uint32_t now = cfg_shadow_get(d, s->base, 4);

	if (!(cap & PCI_ERR_CAP_ECRC_GENC))
		now &= ~PCI_ERR_CAP_ECRC_GENE;
	if (!(cap & PCI_ERR_CAP_ECRC_CHKC))
		now &= ~PCI_ERR_CAP_ECRC_CHKE;
	cfg_shadow_set(d, s->base, 4, now);
}

/* serial number dwords after the header */
#define DSN_LOWER 4
#define DSN_UPPER 8

static const struct cfg_reg dsn_regs[] = {
	/* the device's serial number: read-only snapshot */
	{ "dsn low", DSN_LOWER, 4, .virt = ~0u },
	{ "dsn high", DSN_UPPER, 4, .virt = ~0u },
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
	/* vendor ID, revision, length: read-only snapshot; no body rows */
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
