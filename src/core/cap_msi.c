/*
 * cap_msi.c - MSI: the whole capability is the device model's.
 *
 * Enable, vector count, address, data and the per-vector mask are virtual:
 * the host's MSI registers are only ever programmed by the owner through
 * the backend from ptdm_msi_get(), never by raw guest bytes, so no write of
 * any width overlapping control, address or data produces a host write
 * (XSA-128), and mask/pending never reach the host (XSA-129).  The guest
 * sees the device's capabilities (64-bit, multi-message, per-vector
 * masking) read-only and gets a mask it fully controls; pending bits are
 * set by the owner (ptdm_msi_set_pending) when a masked vector fires.
 *
 * Four layouts, four const tables.  The 10- and 14-byte layouts are owned
 * up to their dword (12 and 16 bytes): the two bytes after Message Data are
 * where a PCIe 6 device has Extended Message Data, and left without a rule
 * they would reach the host in permissive mode.  ptdm offers no extended
 * data: they read 0 and are never written.
 */
#include <errno.h>

#include "core/dev_priv.h"

static cfg_write_hook msi_ctrl_write, msi_msg_write, msi_mask_write;

/* Message Address is dword aligned: bits 1:0 are reserved, read 0 */
#define MSI_ADDR_LO_WRITE 0xfffffffcu

/* enable and vector count the guest's; QMASK/64BIT/MASKBIT the device's */
#define CTRL_ROW                                                          \
	{ "msi control", PCI_MSI_FLAGS, 2, .virt = 0xffff,                \
	  .write = PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE,            \
	  .on_write = msi_ctrl_write }
/* message address: dword aligned, its low two bits read 0 */
#define ADDR_LO_ROW                                                       \
	{ "msi address", PCI_MSI_ADDRESS_LO, 4, .virt = ~0u,              \
	  .write = MSI_ADDR_LO_WRITE, .on_write = msi_msg_write }
/* upper address: the guest's, given to the owner only */
#define ADDR_HI_ROW                                                       \
	{ "msi upper address", PCI_MSI_ADDRESS_HI, 4, .virt = ~0u,        \
	  .write = ~0u, .on_write = msi_msg_write }
/* data: the guest's; extended data: not offered, reads 0 */
#define DATA_ROWS(off)                                                    \
	{ "msi data", (off), 2, .virt = 0xffff, .write = 0xffff,          \
	  .on_write = msi_msg_write },                                    \
	{ "msi extended data", (off) + 2, 2, .virt = 0xffff }
/* mask: the guest's own (never the host's, XSA-129); pending: owner's */
#define MASK_ROWS(off)                                                    \
	{ "msi mask", (off), 4, .virt = ~0u, .write = ~0u,                \
	  .on_write = msi_mask_write },                                   \
	{ "msi pending", (off) + 4, 4, .virt = ~0u }

static const struct cfg_reg msi32_regs[] = {
	CTRL_ROW, ADDR_LO_ROW, DATA_ROWS(PCI_MSI_DATA_32), CFG_REG_END,
};

static const struct cfg_reg msi64_regs[] = {
	CTRL_ROW, ADDR_LO_ROW, ADDR_HI_ROW, DATA_ROWS(PCI_MSI_DATA_64),
	CFG_REG_END,
};

static const struct cfg_reg msi32_mask_regs[] = {
	CTRL_ROW, ADDR_LO_ROW, DATA_ROWS(PCI_MSI_DATA_32),
	MASK_ROWS(PCI_MSI_MASK_32), CFG_REG_END,
};

static const struct cfg_reg msi64_mask_regs[] = {
	CTRL_ROW, ADDR_LO_ROW, ADDR_HI_ROW, DATA_ROWS(PCI_MSI_DATA_64),
	MASK_ROWS(PCI_MSI_MASK_64), CFG_REG_END,
};

static uint16_t host_flags(const struct ptdm_dev *d, unsigned pos)
{
	return (uint16_t)cfg_host_init(d, pos + PCI_MSI_FLAGS, 2);
}

static int msi_length(struct ptdm_dev *d, unsigned pos)
{
	uint16_t f = host_flags(d, pos);
	bool is64 = f & PCI_MSI_FLAGS_64BIT;

	if (((f & PCI_MSI_FLAGS_QMASK) >> 1) > 5)
		return -EINVAL; /* more than 32 vectors: reserved encoding */
	if (f & PCI_MSI_FLAGS_MASKBIT)
		return is64 ? PCI_MSI_PENDING_64 + 4 : PCI_MSI_PENDING_32 + 4;
	/* data, then the extended data this module owns (see above) */
	return is64 ? PCI_MSI_DATA_64 + 4 : PCI_MSI_DATA_32 + 4;
}

static int msi_init(struct ptdm_dev *d, struct cap_inst *c)
{
	uint16_t f = host_flags(d, c->info.pos);
	bool is64 = f & PCI_MSI_FLAGS_64BIT;

	if (f & PCI_MSI_FLAGS_MASKBIT)
		c->table = is64 ? msi64_mask_regs : msi32_mask_regs;
	else
		c->table = is64 ? msi64_regs : msi32_regs;
	return 0;
}

static unsigned msi_pos(const struct ptdm_dev *d)
{
	return d->caps[d->cap_msi].info.pos;
}

/* Vectors the device can do (Multiple Message Capable). */
static unsigned nvec_max(const struct ptdm_dev *d, unsigned pos)
{
	return 1u << ((host_flags(d, pos) & PCI_MSI_FLAGS_QMASK) >> 1);
}

static void msi_reset(struct ptdm_dev *d, struct cap_inst *c)
{
	unsigned pos = c->info.pos;
	uint16_t f = host_flags(d, pos);
	int len = msi_length(d, pos);

	/* power-on: disabled, one vector, no address, all unmasked */
	for (int i = PCI_MSI_FLAGS; i < len; i++)
		d->shadow[pos + i] = 0;
	cfg_shadow_set(d, pos + PCI_MSI_FLAGS, 2,
		       f & (PCI_MSI_FLAGS_QMASK | PCI_MSI_FLAGS_64BIT |
			    PCI_MSI_FLAGS_MASKBIT));
}

static void msi_ctrl_write(struct ptdm_dev *d, const struct cfg_slot *s,
			   uint32_t old, uint32_t val, uint32_t mask)
{
	uint32_t now = cfg_shadow_get(d, s->base, 2);
	uint32_t qmask = (now & PCI_MSI_FLAGS_QMASK) >> 1;
	uint32_t qsize = (now & PCI_MSI_FLAGS_QSIZE) >> 4;

	/* more vectors than the device has: it gets what it has */
	if (qsize > qmask) {
		now = (now & ~PCI_MSI_FLAGS_QSIZE) | qmask << 4;
		cfg_shadow_set(d, s->base, 2, now);
	}
	if ((old ^ now) & (PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE))
		dev_notify_msi(d);
}

/* Address or data changed: the owner reprograms only a live MSI. */
static void msi_msg_write(struct ptdm_dev *d, const struct cfg_slot *s,
			  uint32_t old, uint32_t val, uint32_t mask)
{
	unsigned pos = cfg_slot_cap_pos(d, s);

	if (cfg_shadow_get(d, s->base, s->reg->size) != old &&
	    (cfg_shadow_get(d, pos + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE))
		dev_notify_msi(d);
}

static void msi_mask_write(struct ptdm_dev *d, const struct cfg_slot *s,
			   uint32_t old, uint32_t val, uint32_t mask)
{
	unsigned n = nvec_max(d, cfg_slot_cap_pos(d, s));
	uint32_t valid = n >= 32 ? ~0u : (1u << n) - 1;
	uint32_t now = cfg_shadow_get(d, s->base, 4) & valid;

	/* bits for vectors the device does not have stay 0 */
	cfg_shadow_set(d, s->base, 4, now);
	if (now != old)
		dev_notify_msi(d);
}

void ptdm_msi_get(const struct ptdm_dev *d, struct ptdm_msi_state *out)
{
	unsigned pos;
	uint16_t f;

	*out = (struct ptdm_msi_state){ 0 };
	if (d->cap_msi < 0)
		return;
	pos = msi_pos(d);
	f = (uint16_t)cfg_shadow_get(d, pos + PCI_MSI_FLAGS, 2);
	out->present = true;
	out->enabled = f & PCI_MSI_FLAGS_ENABLE;
	out->is64 = f & PCI_MSI_FLAGS_64BIT;
	out->maskable = f & PCI_MSI_FLAGS_MASKBIT;
	out->nvec_max = 1u << ((f & PCI_MSI_FLAGS_QMASK) >> 1);
	out->nvec = 1u << ((f & PCI_MSI_FLAGS_QSIZE) >> 4);
	out->addr = cfg_shadow_get(d, pos + PCI_MSI_ADDRESS_LO, 4);
	if (out->is64) {
		out->addr |= (uint64_t)cfg_shadow_get(d, pos + PCI_MSI_ADDRESS_HI,
						      4) << 32;
		out->data = (uint16_t)cfg_shadow_get(d, pos + PCI_MSI_DATA_64, 2);
	} else {
		out->data = (uint16_t)cfg_shadow_get(d, pos + PCI_MSI_DATA_32, 2);
	}
	if (out->maskable) {
		unsigned m = out->is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;

		out->mask = cfg_shadow_get(d, pos + m, 4);
		out->pending = cfg_shadow_get(d, pos + m + 4, 4);
	}
}

int ptdm_msi_set_pending(struct ptdm_dev *d, unsigned vec, bool pending)
{
	unsigned pos, off;
	uint32_t p;
	uint16_t f;

	if (d->cap_msi < 0)
		return -ENODEV;
	pos = msi_pos(d);
	f = host_flags(d, pos);
	if (!(f & PCI_MSI_FLAGS_MASKBIT))
		return -ENOTSUP;
	if (vec >= nvec_max(d, pos))
		return -EINVAL;
	off = pos + ((f & PCI_MSI_FLAGS_64BIT) ? PCI_MSI_PENDING_64
					       : PCI_MSI_PENDING_32);
	p = cfg_shadow_get(d, off, 4);
	p = pending ? p | 1u << vec : p & ~(1u << vec);
	cfg_shadow_set(d, off, 4, p);
	return 0;
}

const struct cap_ops cap_msi_ops = {
	.id = PCI_CAP_ID_MSI,
	.name = "MSI",
	.length = msi_length,
	.init = msi_init,
	.reset = msi_reset,
};
