/*
 * cap_exp.c - the PCI Express capability of an endpoint.
 *
 * What the guest may touch is what only affects this function's own
 * requests: relaxed ordering, no-snoop, extended tags and the completion
 * timeout reach the device.  Fabric-wide settings stay the host's and the
 * guest gets its own copy: error reporting enables (the host's AER policy),
 * Max_Payload_Size (must match the link partner), Max_Read_Request, AUX
 * power, all of Link Control and Link Control 2, and the rest of Device
 * Control 2.  Initiate-FLR is a command: it reads 0 and becomes a reset
 * request to the owner when the device has FLR.  Status error bits are
 * RW1C on the device; capabilities and link status are the device's.
 * Slot and root registers belong to ports: they read 0 (also for a root
 * complex event collector, whose root controls are the host's).
 *
 * Lengths follow Linux vfio: v1 endpoints 0x14, v2 endpoints 0x3c (slot-2
 * registers owned so they read 0), RC-integrated endpoints 0x0c / 0x2c
 * (no link).  Type-1 headers are refused at attach; a type-0 function
 * whose PCIe type is a port (root, switch, bridge) has its capability
 * hidden with the reason.
 */
#include <errno.h>

#include "core/dev_priv.h"

/* end of a v2 capability with the slot-2 registers */
#define EXP_V2_SIZEOF 0x3c

static cfg_write_hook devctl_write, lnkctl_write;

/* DEVCTL bits with fabric-wide effect: the guest gets its own copy */
#define DEVCTL_VIRT                                                       \
	(PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE | PCI_EXP_DEVCTL_FERE | \
	 PCI_EXP_DEVCTL_URRE | PCI_EXP_DEVCTL_PAYLOAD |                    \
	 PCI_EXP_DEVCTL_READRQ | PCI_EXP_DEVCTL_AUX_PME |                  \
	 PCI_EXP_DEVCTL_BCR_FLR)
/* DEVCTL bits that only shape this function's own requests */
#define DEVCTL_HOST                                                       \
	(PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN |            \
	 PCI_EXP_DEVCTL_EXT_TAG)
#define DEVSTA_RW1C                                                       \
	(PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | PCI_EXP_DEVSTA_FED |   \
	 PCI_EXP_DEVSTA_URD)
#define LNKCTL_ALL                                                        \
	(PCI_EXP_LNKCTL_ASPMC | PCI_EXP_LNKCTL_RCB | PCI_EXP_LNKCTL_LD |   \
	 PCI_EXP_LNKCTL_RL | PCI_EXP_LNKCTL_CCC | PCI_EXP_LNKCTL_ES |      \
	 PCI_EXP_LNKCTL_CLKREQ_EN | PCI_EXP_LNKCTL_HAWD |                  \
	 PCI_EXP_LNKCTL_LBMIE | PCI_EXP_LNKCTL_LABIE)
/* DEVCTL2 bits that reach the device: its own completion timeout */
#define DEVCTL2_HOST                                                      \
	(PCI_EXP_DEVCTL2_COMP_TIMEOUT | PCI_EXP_DEVCTL2_COMP_TMOUT_DIS)

#define COMMON_ROWS                                                         \
	/* version, type, interrupt number: read-only snapshot */           \
	{ "pcie flags", PCI_EXP_FLAGS, 2, .virt = 0xffff },                 \
	/* what the device can do: read-only snapshot */                    \
	{ "devcap", PCI_EXP_DEVCAP, 4, .virt = ~0u },                       \
	/* own-request bits to the device, fabric bits virtual, FLR hook */ \
	{ "devctl", PCI_EXP_DEVCTL, 2, .virt = DEVCTL_VIRT,                 \
	  .write = DEVCTL_VIRT | DEVCTL_HOST, .on_write = devctl_write },   \
	/* error detected bits: the guest clears them on the device */      \
	{ "devsta", PCI_EXP_DEVSTA, 2, .write = DEVSTA_RW1C,                \
	  .rw1c = DEVSTA_RW1C }
#define LINK_ROWS                                                           \
	/* link capabilities: read-only snapshot */                         \
	{ "lnkcap", PCI_EXP_LNKCAP, 4, .virt = ~0u },                       \
	/* the link is shared with the host's port: all virtual */          \
	{ "lnkctl", PCI_EXP_LNKCTL, 2, .virt = 0xffff, .write = LNKCTL_ALL, \
	  .on_write = lnkctl_write },                                       \
	/* live speed and width, read-only */                               \
	{ "lnksta", PCI_EXP_LNKSTA, 2 }
/* slot and root registers are ports': read 0, writes dropped */
#define SLOT_ROOT_ROWS                                                      \
	{ "sltcap", PCI_EXP_SLTCAP, 4, .virt = ~0u },                       \
	{ "sltctl", PCI_EXP_SLTCTL, 2, .virt = 0xffff },                    \
	{ "sltsta", PCI_EXP_SLTSTA, 2, .virt = 0xffff },                    \
	{ "rtctl", PCI_EXP_RTCTL, 2, .virt = 0xffff },                      \
	{ "rtcap", PCI_EXP_RTCAP, 2, .virt = 0xffff },                      \
	{ "rtsta", PCI_EXP_RTSTA, 4, .virt = ~0u }
#define V2_DEV_ROWS                                                         \
	/* capabilities 2: read-only snapshot */                            \
	{ "devcap2", PCI_EXP_DEVCAP2, 4, .virt = ~0u },                     \
	/* completion timeout to the device, ARI read-only, rest virtual */ \
	{ "devctl2", PCI_EXP_DEVCTL2, 2,                                    \
	  .virt = (uint16_t)~(DEVCTL2_HOST | PCI_EXP_DEVCTL2_ARI),          \
	  .write = (uint16_t)~PCI_EXP_DEVCTL2_ARI },                        \
	/* no status 2 bits defined: read-only snapshot */                  \
	{ "devsta2", PCI_EXP_DEVSTA2, 2, .virt = 0xffff }
#define V2_LINK_ROWS                                                        \
	/* supported speeds: read-only snapshot */                          \
	{ "lnkcap2", PCI_EXP_LNKCAP2, 4, .virt = ~0u },                     \
	/* target speed, compliance: the host port's business, virtual */  \
	{ "lnkctl2", PCI_EXP_LNKCTL2, 2, .virt = 0xffff, .write = 0xffff }, \
	/* live equalization status, read-only */                           \
	{ "lnksta2", PCI_EXP_LNKSTA2, 2 },                                  \
	/* slot 2 registers are ports': read 0 */                           \
	{ "sltcap2", PCI_EXP_SLTCAP2, 4, .virt = ~0u },                     \
	{ "sltctl2", PCI_EXP_SLTCTL2, 2, .virt = 0xffff },                  \
	{ "sltsta2", PCI_EXP_SLTSTA2, 2, .virt = 0xffff }

/* v1 endpoint (0x14 bytes), v1 RC-integrated endpoint (0x0c) */
static const struct cfg_reg exp_v1_regs[] = {
	COMMON_ROWS, LINK_ROWS, CFG_REG_END,
};
static const struct cfg_reg exp_v1_rc_regs[] = {
	COMMON_ROWS, CFG_REG_END,
};
/* v2 endpoint (0x3c bytes), v2 RC-integrated endpoint (0x2c: no link) */
static const struct cfg_reg exp_v2_regs[] = {
	COMMON_ROWS, LINK_ROWS, SLOT_ROOT_ROWS, V2_DEV_ROWS, V2_LINK_ROWS,
	CFG_REG_END,
};
static const struct cfg_reg exp_v2_rc_regs[] = {
	COMMON_ROWS,
	/* an RC-integrated endpoint has no link: read 0 */
	{ "lnkcap", PCI_EXP_LNKCAP, 4, .virt = ~0u },
	{ "lnkctl", PCI_EXP_LNKCTL, 2, .virt = 0xffff },
	{ "lnksta", PCI_EXP_LNKSTA, 2, .virt = 0xffff },
	SLOT_ROOT_ROWS, V2_DEV_ROWS, CFG_REG_END,
};

static uint16_t exp_flags(const struct ptdm_dev *d, unsigned pos)
{
	return (uint16_t)cfg_host_init(d, pos + PCI_EXP_FLAGS, 2);
}

static unsigned exp_type(const struct ptdm_dev *d, unsigned pos)
{
	return (exp_flags(d, pos) & PCI_EXP_FLAGS_TYPE) >> 4;
}

static unsigned exp_version(const struct ptdm_dev *d, unsigned pos)
{
	return exp_flags(d, pos) & PCI_EXP_FLAGS_VERS;
}

static int exp_length(struct ptdm_dev *d, unsigned pos)
{
	bool rc = exp_type(d, pos) == PCI_EXP_TYPE_RC_END;

	if (exp_version(d, pos) == 1)
		return rc ? PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V1
			  : PCI_CAP_EXP_ENDPOINT_SIZEOF_V1;
	return rc ? PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V2 : EXP_V2_SIZEOF;
}

static int exp_init(struct ptdm_dev *d, struct cap_inst *c)
{
	unsigned pos = c->info.pos;
	bool rc;

	c->info.version = (uint8_t)exp_version(d, pos);
	switch (exp_type(d, pos)) {
	case PCI_EXP_TYPE_ENDPOINT:
	case PCI_EXP_TYPE_LEG_END:
	case PCI_EXP_TYPE_RC_END:
	case PCI_EXP_TYPE_RC_EC:
		break;
	case PCI_EXP_TYPE_ROOT_PORT:
	case PCI_EXP_TYPE_UPSTREAM:
	case PCI_EXP_TYPE_DOWNSTREAM:
	case PCI_EXP_TYPE_PCI_BRIDGE:
	case PCI_EXP_TYPE_PCIE_BRIDGE:
		c->info.reason = "a PCIe port or bridge cannot be assigned";
		return -EPERM;
	default:
		c->info.reason = "reserved PCIe device/port type";
		return -EINVAL;
	}
	rc = exp_type(d, pos) == PCI_EXP_TYPE_RC_END;
	if (exp_version(d, pos) == 1)
		c->table = rc ? exp_v1_rc_regs : exp_v1_regs;
	else
		c->table = rc ? exp_v2_rc_regs : exp_v2_regs;
	return 0;
}

static void exp_reset(struct ptdm_dev *d, struct cap_inst *c)
{
	unsigned pos = c->info.pos;
	int len = exp_length(d, pos);
	uint32_t devctl = cfg_host_init(d, pos + PCI_EXP_DEVCTL, 2);

	/* the guest starts from the host's settings, FLR never pending */
	cfg_shadow_set(d, pos + PCI_EXP_DEVCTL, 2,
		       devctl & ~PCI_EXP_DEVCTL_BCR_FLR);
	cfg_shadow_set(d, pos + PCI_EXP_LNKCTL, 2,
		       cfg_host_init(d, pos + PCI_EXP_LNKCTL, 2) &
			       ~PCI_EXP_LNKCTL_RL);
	/* slot and root registers do not exist for an endpoint */
	for (unsigned off = PCI_EXP_SLTCAP; off < PCI_EXP_DEVCAP2 &&
					    off < (unsigned)len; off++)
		d->shadow[pos + off] = 0;
	if (exp_version(d, pos) >= 2)
		for (unsigned off = PCI_EXP_SLTCAP2;
		     off < EXP_V2_SIZEOF && off < (unsigned)len; off++)
			d->shadow[pos + off] = 0;
	if (exp_type(d, pos) == PCI_EXP_TYPE_RC_END)
		for (unsigned off = PCI_EXP_LNKCAP; off < PCI_EXP_SLTCAP &&
						    off < (unsigned)len; off++)
			d->shadow[pos + off] = 0;
	/* the slot-implemented bit belongs to ports */
	cfg_shadow_set(d, pos + PCI_EXP_FLAGS, 2,
		       exp_flags(d, pos) & ~PCI_EXP_FLAGS_SLOT);
}

static void devctl_write(struct ptdm_dev *d, const struct cfg_slot *s,
			 uint32_t old, uint32_t val, uint32_t mask)
{
	uint32_t now = cfg_shadow_get(d, s->base, 2);
	unsigned pos = cfg_slot_cap_pos(d, s);
	/* the guest's DEVCAP: a reset quirk may have taken FLR away */
	uint32_t devcap = cfg_shadow_get(d, pos + PCI_EXP_DEVCAP, 4);

	if (!(now & PCI_EXP_DEVCTL_BCR_FLR))
		return;
	/* Initiate FLR reads as 0 */
	cfg_shadow_set(d, s->base, 2, now & ~PCI_EXP_DEVCTL_BCR_FLR);
	if (devcap & PCI_EXP_DEVCAP_FLR)
		dev_request_reset(d, PTDM_RESET_FLR);
}

static void lnkctl_write(struct ptdm_dev *d, const struct cfg_slot *s,
			 uint32_t old, uint32_t val, uint32_t mask)
{
	/* Retrain Link is a command, not state: it always reads 0 */
	cfg_shadow_set(d, s->base, 2,
		       cfg_shadow_get(d, s->base, 2) & ~PCI_EXP_LNKCTL_RL);
}

const struct cap_ops cap_exp_ops = {
	.id = PCI_CAP_ID_EXP,
	.name = "PCI Express",
	.length = exp_length,
	.init = exp_init,
	.reset = exp_reset,
};
