/*
 * quirk_ati.c - ATI/AMD GPUs reach their config space through BARs.
 *
 * Facts from QEMU's hw/vfio/pci-quirks.c: newer Radeons (BAR2 64-bit)
 * mirror config space in BAR2 at 0x4000, and I/O BAR4 is an address/data
 * window (address at 0x0, data at 0x4) into that space: an address of
 * 0x4000-0x4fff reaches config.  The BAR2 mirror is the guest's virtual
 * config; a BAR4 data access goes there when the address the device holds
 * (read back, so partial writes cannot fool it) points at the mirror, and
 * to the device otherwise.  The address register itself is the device's.
 *
 * Radeons also report the upper byte of the I/O BAR4 address through the
 * VGA port 0x3c3; in the VGA ranges (when the host offers them) a read of
 * it is the guest's virtual BAR4 byte, as QEMU returns it unconditionally.
 * Writes there are the device's.
 */
#include "core/dev_priv.h"

#define ATI_MIRROR 0x4000u
#define ATI_BAR4_DATA 0x4u

enum { W_BAR2, W_BAR4, W_3C3 };

static const struct quirk_match ati_display[] = {
	{ 0x1002, QUIRK_ANY, 0xff0000, 0x030000, 0, 0xff },
	{ 0 },
};

static const struct quirk_window ati_windows[] = {
	[W_BAR2] = { "config mirror", 2, ATI_MIRROR, 0x1000, QUIRK_BAR_MEM64,
		     .mirror = true, .cfg_base = 0 },
	[W_BAR4] = { "config window (address/data)", 4, 0, 8, QUIRK_BAR_IO },
	[W_3C3] = { "VGA 0x3c3: BAR4's address byte", QUIRK_VGA, 0x3c3, 1,
		    QUIRK_BAR_VGA },
	{ NULL },
};

static int ati_rw(struct ptdm_dev *d, struct quirk_inst *q, unsigned w,
		  uint64_t off, void *buf, size_t len, bool write)
{
	uint8_t reg[4];
	uint32_t addr;
	int rc;

	(void)q;
	if (w == W_3C3) /* one byte: the BAR4 register's second */
		return write ? quirk_host_rw(d, QUIRK_VGA, 0x3c3, buf, len,
					     true)
			     : quirk_cfg_rw(d, PCI_BASE_ADDRESS_4 + 1, buf,
					    len, false);
	/* BAR4 (BAR2 is a plain mirror) */
	if (off + len <= ATI_BAR4_DATA)
		return quirk_host_rw(d, 4, off, buf, len, write);
	if (off < ATI_BAR4_DATA) { /* across into data: one piece at a time */
		size_t n = ATI_BAR4_DATA - off;

		rc = ati_rw(d, q, w, off, buf, n, write);
		return rc ? rc : ati_rw(d, q, w, ATI_BAR4_DATA,
					(uint8_t *)buf + n, len - n, write);
	}
	rc = quirk_host_rw(d, 4, 0, reg, 4, false);
	if (rc)
		return rc;
	addr = cfg_le_get(reg, 4);
	if ((addr & ~0xfffu) != ATI_MIRROR)
		return quirk_host_rw(d, 4, off, buf, len, write);
	return quirk_cfg_rw(d, (addr & 0xfff) + (unsigned)(off - ATI_BAR4_DATA),
			    buf, len, write);
}

/* 0x3c3 stands for BAR4's second byte only when BAR4 is an I/O BAR of at
 * least 256 bytes (its low byte is then 0), as QEMU checks. */
static int ati_init(struct ptdm_dev *d, struct quirk_inst *q)
{
	const struct host_bar *b = &d->bars[4].host;

	if (b->kind != HOST_BAR_IO || !b->size_known || b->size < 256)
		q->windows &= ~(1u << W_3C3);
	return 0;
}

const struct quirk_ops quirk_ati_ops = {
	.name = "ati-config-mirrors",
	.what = "BAR2 0x4000 config mirror, the BAR4 address/data window and "
		"VGA 0x3c3 show the guest's virtual config",
	.match = ati_display,
	.windows = ati_windows,
	.init = ati_init,
	.rw = ati_rw,
};
