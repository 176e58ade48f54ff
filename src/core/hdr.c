/*
 * hdr.c - the type-0 header: one const table and the BAR/ROM/COMMAND hooks.
 *
 * Nearly the whole header is virtual: IDs, class and revision come from the
 * host snapshot (with per-device overrides) and are read-only; BARs and the
 * ROM BAR are fully virtual and sized from the sizes the backend recorded at
 * attach; interrupt line, cache line, latency and the multifunction bit are
 * the guest's own.  Only bus master and INTx-disable in COMMAND and the
 * status bits in STATUS touch the host.  The guest's I/O and memory decode
 * bits are virtual: the host keeps decode on for the BAR types it has
 * (XSA-120/126), and what the guest sets decides what the owner maps.
 */
#include <string.h>

#include "core/dev_priv.h"

/* Guest-private COMMAND bits: decode, and bits with host-wide effect. */
#define CMD_VIRT                                                         \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_SPECIAL |     \
	 PCI_COMMAND_INVALIDATE | PCI_COMMAND_VGA_PALETTE |              \
	 PCI_COMMAND_PARITY | PCI_COMMAND_WAIT | PCI_COMMAND_SERR |      \
	 PCI_COMMAND_FAST_BACK)
/* Bits that reach the host: DMA on/off and INTx masking. */
#define CMD_HOST (PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)
#define CMD_RSVD ((uint16_t)~(CMD_VIRT | CMD_HOST))

/* Error bits the guest may clear on the host (write 1 to clear). */
#define STATUS_RW1C                                                      \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |               \
	 PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT |     \
	 PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

static cfg_write_hook cmd_write, bar_write, rom_write;

#define BAR_ROW(n)                                                       \
	{ "bar" #n, PCI_BASE_ADDRESS_##n, 4, .virt = ~0u, .write = ~0u,  \
	  .on_write = bar_write }

const struct cfg_reg hdr_type0_regs[] = {
	/* identity: the host's, or the device's overrides; never written */
	{ "vendor id", PCI_VENDOR_ID, 2, .virt = 0xffff },
	{ "device id", PCI_DEVICE_ID, 2, .virt = 0xffff },
	{ "command", PCI_COMMAND, 2, .virt = CMD_VIRT,
	  .write = CMD_VIRT | CMD_HOST, .rsvd = CMD_RSVD,
	  .on_write = cmd_write },
	/* capability-list bit follows the virtual chain; errors are RW1C */
	{ "status", PCI_STATUS, 2, .virt = PCI_STATUS_CAP_LIST,
	  .write = STATUS_RW1C, .rw1c = STATUS_RW1C },
	{ "class/revision", PCI_CLASS_REVISION, 4, .virt = ~0u },
	/* guest-private: no effect on the host's fabric */
	{ "cache line size", PCI_CACHE_LINE_SIZE, 1, .virt = 0xff,
	  .write = 0xff },
	{ "latency timer", PCI_LATENCY_TIMER, 1, .virt = 0xff, .write = 0xff },
	/* multifunction bit is the device model's, not the host's */
	{ "header type", PCI_HEADER_TYPE, 1, .virt = 0xff },
	/* BIST hidden: a self-test could reset the device behind us */
	{ "bist", PCI_BIST, 1, .virt = 0xff },
	BAR_ROW(0), BAR_ROW(1), BAR_ROW(2), BAR_ROW(3), BAR_ROW(4),
	BAR_ROW(5),
	{ "cardbus cis", PCI_CARDBUS_CIS, 4, .virt = ~0u },
	{ "subsystem vendor id", PCI_SUBSYSTEM_VENDOR_ID, 2, .virt = 0xffff },
	{ "subsystem id", PCI_SUBSYSTEM_ID, 2, .virt = 0xffff },
	{ "rom address", PCI_ROM_ADDRESS, 4, .virt = ~0u, .write = ~0u,
	  .on_write = rom_write },
	/* the rebuilt chain's head; 0x35..0x3b reserved, read 0 */
	{ "capability pointer", PCI_CAPABILITY_LIST, 1, .virt = 0xff },
	{ "reserved 0x35", PCI_CAPABILITY_LIST + 1, 1, .virt = 0xff },
	{ "reserved 0x36", PCI_CAPABILITY_LIST + 2, 2, .virt = 0xffff },
	{ "reserved 0x38", PCI_CAPABILITY_LIST + 4, 4, .virt = ~0u },
	/* routing is the guest's; the pin is the device's */
	{ "interrupt line", PCI_INTERRUPT_LINE, 1, .virt = 0xff,
	  .write = 0xff },
	{ "interrupt pin", PCI_INTERRUPT_PIN, 1, .virt = 0xff },
	{ "min gnt", PCI_MIN_GNT, 1, .virt = 0xff },
	{ "max lat", PCI_MAX_LAT, 1, .virt = 0xff },
	CFG_REG_END,
};

/* ---- BARs ---- */

/* Address bits the guest may set in the low dword (0 when no BAR). */
static uint32_t bar_lo_mask(const struct bar_state *b)
{
	uint64_t size = b->host.size;

	if (!size || !b->host.size_known)
		return 0;
	if (b->host.kind == HOST_BAR_IO)
		return (uint32_t)~(size - 1) & PCI_BASE_ADDRESS_IO_MASK;
	if (b->host.kind == HOST_BAR_ROM)
		return (uint32_t)~(size - 1) & PCI_ROM_ADDRESS_MASK;
	return (uint32_t)~(size - 1) & PCI_BASE_ADDRESS_MEM_MASK;
}

/* Read-only low bits: space, type and prefetch as the host has them. */
static uint32_t bar_flags(const struct ptdm_dev *d, int i)
{
	const struct bar_state *b = &d->bars[i];

	switch (b->host.kind) {
	case HOST_BAR_IO:
		return PCI_BASE_ADDRESS_SPACE_IO;
	case HOST_BAR_MEM32:
		return PCI_BASE_ADDRESS_MEM_TYPE_32 |
		       (b->host.prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
	case HOST_BAR_MEM64:
		return PCI_BASE_ADDRESS_MEM_TYPE_64 |
		       (b->host.prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
	default:
		return 0;
	}
}

static unsigned bar_reg(int i)
{
	return i == PTDM_ROM_INDEX ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4u * i;
}

/* Shadow value of BAR register i for a guest address. */
static void bar_store(struct ptdm_dev *d, int i, uint64_t addr)
{
	struct bar_state *b = &d->bars[i];

	switch (b->host.kind) {
	case HOST_BAR_MEM64: {
		uint64_t size = b->host.size_known ? b->host.size : 0;
		uint64_t mask = size ? ~(size - 1) & ~(uint64_t)0xf : 0;

		addr &= mask;
		cfg_shadow_set(d, bar_reg(i), 4,
			       (uint32_t)addr | bar_flags(d, i));
		cfg_shadow_set(d, bar_reg(i + 1), 4, (uint32_t)(addr >> 32));
		break;
	}
	case HOST_BAR_ROM: {
		uint32_t en = cfg_shadow_get(d, PCI_ROM_ADDRESS, 4) &
			      PCI_ROM_ADDRESS_ENABLE;

		addr &= bar_lo_mask(b);
		cfg_shadow_set(d, PCI_ROM_ADDRESS, 4,
			       (uint32_t)addr | (bar_lo_mask(b) ? en : 0));
		break;
	}
	case HOST_BAR_IO:
	case HOST_BAR_MEM32:
		addr &= bar_lo_mask(b);
		cfg_shadow_set(d, bar_reg(i), 4,
			       (uint32_t)addr | bar_flags(d, i));
		break;
	default:
		cfg_shadow_set(d, bar_reg(i), 4, 0);
		break;
	}
	b->guest_addr = addr;
}

/* Guest address of BAR i from the shadow. */
static uint64_t bar_guest_addr(const struct ptdm_dev *d, int i)
{
	const struct bar_state *b = &d->bars[i];
	uint64_t lo = cfg_shadow_get(d, bar_reg(i), 4);

	switch (b->host.kind) {
	case HOST_BAR_MEM64:
		return ((lo | (uint64_t)cfg_shadow_get(d, bar_reg(i + 1), 4)
				      << 32) &
			~(uint64_t)0xf);
	case HOST_BAR_IO:
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	case HOST_BAR_ROM:
		return lo & PCI_ROM_ADDRESS_MASK;
	case HOST_BAR_MEM32:
		return lo & PCI_BASE_ADDRESS_MEM_MASK;
	default:
		return 0;
	}
}

/*
 * Should the owner map BAR i?  Decode on, an address, and a range that does
 * not wrap: a BAR left all-ones after sizing ends at the top of its address
 * space and counts as unmapped (as QEMU treats it).
 */
bool hdr_bar_enabled(const struct ptdm_dev *d, int i)
{
	const struct bar_state *b = &d->bars[i];
	uint16_t cmd = (uint16_t)cfg_shadow_get(d, PCI_COMMAND, 2);
	uint64_t addr = b->guest_addr, size = b->host.size;
	uint64_t top;

	if (!b->host.size_known || !size)
		return false;
	switch (b->host.kind) {
	case HOST_BAR_IO:
		if (!(cmd & PCI_COMMAND_IO))
			return false;
		top = 0xffff; /* x86 port space */
		break;
	case HOST_BAR_MEM32:
		if (!(cmd & PCI_COMMAND_MEMORY))
			return false;
		top = 0xffffffff;
		break;
	case HOST_BAR_MEM64:
		if (!(cmd & PCI_COMMAND_MEMORY))
			return false;
		top = ~(uint64_t)0;
		break;
	case HOST_BAR_ROM:
		if (!(cmd & PCI_COMMAND_MEMORY) ||
		    !(cfg_shadow_get(d, PCI_ROM_ADDRESS, 4) &
		      PCI_ROM_ADDRESS_ENABLE))
			return false;
		top = 0xffffffff;
		break;
	default:
		return false;
	}
	return addr != 0 && addr <= top && size - 1 < top - addr;
}

/* Tell the owner when what it should map for BAR i changed. */
static void bar_update(struct ptdm_dev *d, int i)
{
	struct bar_state *b = &d->bars[i];
	bool en = hdr_bar_enabled(d, i);

	if (en == b->notified_enabled && (!en || b->guest_addr == b->notified_addr))
		return;
	b->notified_enabled = en;
	b->notified_addr = b->guest_addr;
	dev_notify_bar(d, i);
}

static int bar_index(const struct cfg_slot *s)
{
	return s->base == PCI_ROM_ADDRESS
		       ? PTDM_ROM_INDEX
		       : (int)(s->base - PCI_BASE_ADDRESS_0) / 4;
}

static void bar_write(struct ptdm_dev *d, const struct cfg_slot *s,
		      uint32_t old, uint32_t val, uint32_t mask)
{
	int i = bar_index(s);
	struct bar_state *b = &d->bars[i];

	if (b->host.kind == HOST_BAR_MEM64_HI) {
		/* the upper half belongs to the BAR below it */
		bar_store(d, i - 1, bar_guest_addr(d, i - 1));
		bar_update(d, i - 1);
		return;
	}
	bar_store(d, i, bar_guest_addr(d, i));
	b->sizing = bar_lo_mask(b) &&
		    (cfg_shadow_get(d, s->base, 4) & bar_lo_mask(b)) ==
			    bar_lo_mask(b);
	bar_update(d, i);
}

static void rom_write(struct ptdm_dev *d, const struct cfg_slot *s,
		      uint32_t old, uint32_t val, uint32_t mask)
{
	bar_store(d, PTDM_ROM_INDEX, bar_guest_addr(d, PTDM_ROM_INDEX));
	bar_update(d, PTDM_ROM_INDEX);
}

static void cmd_write(struct ptdm_dev *d, const struct cfg_slot *s,
		      uint32_t old, uint32_t val, uint32_t mask)
{
	uint32_t now = cfg_shadow_get(d, PCI_COMMAND, 2);

	if ((old ^ now) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY))
		for (int i = 0; i <= PTDM_ROM_INDEX; i++)
			bar_update(d, i);
}

/* Power-on values of the virtual header (attach and reset). */
void hdr_reset(struct ptdm_dev *d)
{
	const struct ptdm_dev_opts *o = &d->opts;
	uint8_t type = d->host_init[PCI_HEADER_TYPE] & 0x7f;

	if (o->vendor_id >= 0)
		cfg_shadow_set(d, PCI_VENDOR_ID, 2, (uint32_t)o->vendor_id);
	if (o->device_id >= 0)
		cfg_shadow_set(d, PCI_DEVICE_ID, 2, (uint32_t)o->device_id);
	if (o->subsystem_vendor_id >= 0)
		cfg_shadow_set(d, PCI_SUBSYSTEM_VENDOR_ID, 2,
			       (uint32_t)o->subsystem_vendor_id);
	if (o->subsystem_id >= 0)
		cfg_shadow_set(d, PCI_SUBSYSTEM_ID, 2,
			       (uint32_t)o->subsystem_id);
	cfg_shadow_set(d, PCI_COMMAND, 2, 0);
	cfg_shadow_set(d, PCI_STATUS, 2, 0);
	cfg_shadow_set(d, PCI_CACHE_LINE_SIZE, 1, 0);
	cfg_shadow_set(d, PCI_LATENCY_TIMER, 1, 0);
	cfg_shadow_set(d, PCI_HEADER_TYPE, 1,
		       type | (o->multifunction ? 0x80 : 0));
	cfg_shadow_set(d, PCI_BIST, 1, 0);
	cfg_shadow_set(d, PCI_INTERRUPT_LINE, 1, 0);
	memset(d->shadow + PCI_CAPABILITY_LIST, 0, 8);
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		if (d->bars[i].host.kind == HOST_BAR_MEM64_HI)
			continue;
		if (i == PTDM_ROM_INDEX)
			cfg_shadow_set(d, PCI_ROM_ADDRESS, 4, 0);
		bar_store(d, i, 0);
		d->bars[i].sizing = false;
		bar_update(d, i);
	}
}
