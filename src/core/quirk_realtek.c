/*
 * quirk_realtek.c - the RTL8168's and RTL8125's BAR2 backdoor into their
 * MSI-X table.
 *
 * Facts from QEMU's hw/vfio/pci-quirks.c (and the r8169 driver): BAR2
 * offset 0x70 is a data register and 0x74 an address register; an address
 * whose bits 30:16 are 1 selects the MSI-X table, bits 11:0 the offset in
 * it, and bit 31 set means "write the data there" (reading the address
 * back shows bit 31 flipped: done).  Without this quirk a guest reaches
 * the host's real MSI-X table behind the emulated one (XSA-164's rule
 * broken through a side door).  Here table accesses go to ptdm's emulated
 * table and a table write never reaches the device; anything else passes
 * through.  Only aligned 4-byte accesses, as the device defines them;
 * others are dropped (reads all-ones), warned rate-limited.
 *
 * QEMU matches the RTL8168 (10ec:8168) only.  The RTL8125 has the same
 * door: Realtek's own r8125 driver maps its registers from BAR 2, names
 * 0x70/0x74 ERIDR/ERIAR with type 1 (bits 16+) ERIAR_MSIX, and reads each
 * vector's table entry through it (offset vector * 16), so this matches
 * 10ec:8125 too.
 */
#include <string.h>

#include "core/caps_priv.h"
#include "core/dev_priv.h"

#define RTL_DATA 0x0u /* 0x70 in BAR2 */
#define RTL_ADDR 0x4u /* 0x74 */
#define RTL_WINDOW 0x70u
#define RTL_TYPE_MASK 0x7fff0000u
#define RTL_TYPE_MSIX 0x00010000u
#define RTL_DO_WRITE 0x80000000u

enum { ST_ON, ST_ADDR, ST_DATA };

static const struct quirk_match rtl8168[] = {
	{ 0x10ec, 0x8168, 0, 0, 0, 0xff },
	{ 0x10ec, 0x8125, 0, 0, 0, 0xff },
	{ 0 },
};

static const struct quirk_window rtl_windows[] = {
	{ "MSI-X table backdoor (data 0x70, address 0x74)", 2, RTL_WINDOW, 8,
	  QUIRK_BAR_MEM },
	{ NULL },
};

/* One dword of ptdm's emulated MSI-X table at offset off. */
static void table_rw(struct ptdm_dev *d, uint32_t off, uint8_t *v, bool write)
{
	bool handled = false;

	if (d->cap_msix < 0 || !d->msix.nvec ||
	    msix_bar_rw(d, d->msix.table_bar, d->msix.table_off + (off & ~3u),
			v, 4, write, &handled) || !handled) {
		if (!write)
			memset(v, 0, 4); /* no table: reads 0, as QEMU */
	}
}

static int rtl_rw(struct ptdm_dev *d, struct quirk_inst *q, unsigned w,
		  uint64_t off, void *buf, size_t len, bool write)
{
	uint8_t *p = buf;
	uint32_t v;

	(void)w;
	if (len != 4 || off % 4) {
		dev_guest_warn(d, "Realtek BAR2 %#llx: %zu-byte access dropped "
			       "(the MSI-X backdoor takes aligned dwords)",
			       (unsigned long long)(RTL_WINDOW + off), len);
		if (!write)
			memset(buf, 0xff, len);
		return 0;
	}
	if (off == RTL_ADDR) {
		if (!write) {
			if (!q->st[ST_ON])
				return quirk_host_rw(d, 2, RTL_WINDOW + off,
						     buf, 4, false);
			cfg_le_put(p, 4, q->st[ST_ADDR] ^ RTL_DO_WRITE);
			return 0;
		}
		v = cfg_le_get(p, 4);
		if ((v & RTL_TYPE_MASK) == RTL_TYPE_MSIX) {
			q->st[ST_ON] = 1;
			q->st[ST_ADDR] = v;
			if (v & RTL_DO_WRITE) {
				uint8_t data[4];

				cfg_le_put(data, 4, q->st[ST_DATA]);
				table_rw(d, v & 0xfff, data, true);
				return 0; /* never the device's table */
			}
		} else {
			q->st[ST_ON] = 0;
		}
		return quirk_host_rw(d, 2, RTL_WINDOW + off, buf, 4, true);
	}
	/* data */
	if (!write) {
		if (!q->st[ST_ON])
			return quirk_host_rw(d, 2, RTL_WINDOW + off, buf, 4,
					     false);
		table_rw(d, q->st[ST_ADDR] & 0xfff, p, false);
		return 0;
	}
	q->st[ST_DATA] = cfg_le_get(p, 4);
	return quirk_host_rw(d, 2, RTL_WINDOW + off, buf, 4, true);
}

const struct quirk_ops quirk_rtl8168_ops = {
	.name = "rtl8168-msix-backdoor",
	.what = "the BAR2 0x70/0x74 window into the MSI-X table reaches the "
		"emulated table, never the device's",
	.match = rtl8168,
	.windows = rtl_windows,
	.rw = rtl_rw,
};
