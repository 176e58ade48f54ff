/*
 * quirk_nvidia.c - NVIDIA GPUs reach their own config space through BARs.
 *
 * Facts from QEMU's hw/vfio/pci-quirks.c and envytools: BAR0 holds a
 * mirror of all 4 KiB of config space at 0x88000 and of the first 256
 * bytes at 0x1800; I/O BAR5 is a window into BAR0 (register 0x0 master
 * enable, 0x4 enable, 0x8 the BAR0 address, 0xc data).  A guest driver
 * that reads config through them would see the host's config (real BAR
 * addresses, MSI state) and could write it past every rule.  Here the
 * mirrors are the guest's virtual config, and a BAR5 data access whose
 * address (read back from the device, so a partial or earlier write
 * cannot fool it) points at a mirror goes there too; every other BAR5
 * access reaches the device.  One exception, as QEMU has it: NVIDIA
 * acknowledges MSI by writing the MSI capability's ID/next bytes through
 * the 0x88000 mirror; those read-only bytes also reach the device.
 *
 * The legacy VGA backdoor (QEMU's "3d0" quirk, found on NV46): write 0x338
 * to port 0x3d4, the 0x1800-mirror offset to 0x3d0, then 0x538 (read) or
 * 0x738 (write) to 0x3d4, and 0x3d0 is that config byte range.  In the VGA
 * ranges (when the host offers them) the sequence is followed on the
 * registers as the device composes them from the bytes written (a guest
 * may write 0x3d4/0x3d5 as two bytes, CRTC style), every access reaches
 * the device except the data of a config write, which goes to the virtual
 * config; and while 0x3d4 holds a read or write command the data port
 * never reaches the device unless the sequence led there (a read gives
 * all-ones), so no order of writes reaches the device's real config.
 */
#include <string.h>

#include "core/dev_priv.h"

#define NV_MIRROR_FULL 0x88000u
#define NV_MIRROR_LEGACY 0x1800u
#define NV_BAR5_ADDR 0x8u
#define NV_BAR5_DATA 0xcu

enum { W_FULL, W_LEGACY, W_BAR5, W_3D0 };

/* the 3d0 backdoor: ports 0x3d0-0x3d3 data, 0x3d4-0x3d5 command */
#define NV_3D0_CMD 4u
#define NV_CMD_SELECT 0x338u
#define NV_CMD_READ 0x538u
#define NV_CMD_WRITE 0x738u
enum { S_NONE, S_SELECT, S_WINDOW, S_READ, S_WRITE };
enum { ST_STATE, ST_OFFSET, ST_CMD, ST_DATA }; /* q->st[] */

static const struct quirk_match nvidia_display[] = {
	/* any NVIDIA display controller (VGA or 3D) */
	{ 0x10de, QUIRK_ANY, 0xff0000, 0x030000, 0, 0xff },
	{ 0 },
};

static const struct quirk_window nvidia_windows[] = {
	[W_FULL] = { "config mirror", 0, NV_MIRROR_FULL, 0x1000,
		     QUIRK_BAR_MEM },
	[W_LEGACY] = { "legacy config mirror", 0, NV_MIRROR_LEGACY, 0x100,
		       QUIRK_BAR_MEM, .mirror = true, .cfg_base = 0 },
	[W_BAR5] = { "BAR0 window (config through it)", 5, 0, 0x10,
		     QUIRK_BAR_IO },
	[W_3D0] = { "VGA 0x3d0/0x3d4 config backdoor", QUIRK_VGA, 0x3d0, 6,
		    QUIRK_BAR_VGA },
	{ NULL },
};

/* The config offset BAR0 address addr stands for, or -1. */
static int mirror_of(uint32_t addr)
{
	if ((addr & ~0xfffu) == NV_MIRROR_FULL)
		return (int)(addr & 0xfff);
	if ((addr & ~0xffu) == NV_MIRROR_LEGACY)
		return (int)(addr & 0xff);
	return -1;
}

static int full_mirror_rw(struct ptdm_dev *d, uint64_t off, void *buf,
			  size_t len, bool write)
{
	int rc = quirk_cfg_rw(d, (unsigned)off, buf, len, write);
	unsigned msi;

	if (rc || !write || d->cap_msi < 0)
		return rc;
	/* the MSI acknowledge: a write inside the capability's ID/next */
	msi = d->caps[d->cap_msi].info.pos;
	if (off >= msi && off + len <= msi + PCI_MSI_FLAGS)
		return quirk_host_rw(d, 0, NV_MIRROR_FULL + off, buf, len, true);
	return 0;
}

static int bar5_rw(struct ptdm_dev *d, uint64_t off, void *buf, size_t len,
		   bool write)
{
	uint8_t reg[4];
	uint32_t addr;
	int at, rc;

	if (off + len <= NV_BAR5_DATA)
		return quirk_host_rw(d, 5, off, buf, len, write);
	if (off < NV_BAR5_DATA) { /* across into data: one piece at a time */
		size_t n = NV_BAR5_DATA - off;

		rc = bar5_rw(d, off, buf, n, write);
		return rc ? rc : bar5_rw(d, NV_BAR5_DATA, (uint8_t *)buf + n,
					 len - n, write);
	}
	/* the window's address as the device has it now */
	rc = quirk_host_rw(d, 5, NV_BAR5_ADDR, reg, 4, false);
	if (rc)
		return rc;
	addr = cfg_le_get(reg, 4);
	at = mirror_of(addr);
	if (at < 0)
		return quirk_host_rw(d, 5, off, buf, len, write);
	at += (int)(off - NV_BAR5_DATA);
	if (addr >= NV_MIRROR_FULL)
		return full_mirror_rw(d, (uint64_t)at, buf, len, write);
	/* the 256-byte mirror ends where it ends */
	return quirk_cfg_rw(d, at < 0x100 ? (unsigned)at : PTDM_CFG_SPACE_SIZE,
			    buf, len, write);
}

static int vga_3d0_rw(struct ptdm_dev *d, struct quirk_inst *q,
		      uint64_t off, void *buf, size_t len, bool write)
{
	uint32_t *st = q->st;
	bool cmd = off + len > NV_3D0_CMD, data = off < NV_3D0_CMD;
	int state = (int)st[ST_STATE];

	if (!write) {
		int rc = quirk_host_rw(d, QUIRK_VGA, 0x3d0 + off, buf, len,
				       false);

		if (rc)
			return rc;
		if (data && state == S_READ && off == 0) {
			rc = quirk_cfg_rw(d, st[ST_OFFSET], buf, len, false);
		} else if (data && st[ST_CMD] == NV_CMD_READ) {
			memset(buf, 0xff, len); /* never the device's config */
		}
		st[ST_STATE] = S_NONE; /* any read ends a sequence (QEMU) */
		return rc;
	}
	if (cmd && data) { /* one access over both ports: no order known */
		dev_guest_warn(d, "NVIDIA VGA 0x3d0: a write across the data "
			       "and command ports dropped");
		return 0;
	}
	if (cmd) {
		uint32_t c = st[ST_CMD];

		quirk_reg_update(&c, NV_3D0_CMD, off, buf, len);
		st[ST_CMD] = c & 0xffff;
		st[ST_STATE] = state == S_NONE && st[ST_CMD] == NV_CMD_SELECT
				       ? S_SELECT
			       : state == S_WINDOW && st[ST_CMD] == NV_CMD_READ
				       ? S_READ
			       : state == S_WINDOW && st[ST_CMD] == NV_CMD_WRITE
				       ? S_WRITE
				       : S_NONE;
	}
	if (data) {
		quirk_reg_update(&st[ST_DATA], 0, off, buf, len);
		if (state == S_WRITE && off == 0) {
			st[ST_STATE] = S_NONE;
			return quirk_cfg_rw(d, st[ST_OFFSET], buf, len, true);
		}
		if (st[ST_CMD] == NV_CMD_WRITE) {
			st[ST_STATE] = S_NONE;
			dev_guest_warn(d, "NVIDIA VGA 0x3d0: a config write out "
				       "of sequence dropped");
			return 0; /* the device is set to write its config */
		}
		if (state == S_SELECT &&
		    (st[ST_DATA] & ~0xffu) == NV_MIRROR_LEGACY) {
			st[ST_OFFSET] = st[ST_DATA] & 0xff;
			st[ST_STATE] = S_WINDOW;
		} else {
			st[ST_STATE] = S_NONE;
		}
	}
	return quirk_host_rw(d, QUIRK_VGA, 0x3d0 + off, buf, len, true);
}

static int nvidia_rw(struct ptdm_dev *d, struct quirk_inst *q, unsigned w,
		     uint64_t off, void *buf, size_t len, bool write)
{
	if (w == W_FULL)
		return full_mirror_rw(d, off, buf, len, write);
	if (w == W_3D0)
		return vga_3d0_rw(d, q, off, buf, len, write);
	return bar5_rw(d, off, buf, len, write);
}

/* The command the device's ports hold now (firmware may have left one). */
static void nvidia_reset(struct ptdm_dev *d, struct quirk_inst *q)
{
	uint8_t cmd[2];

	if (!(q->windows & (1u << W_3D0)))
		return;
	if (quirk_host_rw(d, QUIRK_VGA, 0x3d0 + NV_3D0_CMD, cmd, 2, false))
		q->st[ST_CMD] = NV_CMD_WRITE; /* unknown: assume the worst */
	else
		q->st[ST_CMD] = cfg_le_get(cmd, 2);
}

const struct quirk_ops quirk_nvidia_ops = {
	.name = "nvidia-config-mirrors",
	.what = "BAR0 0x88000/0x1800 config mirrors, the BAR5 window and the "
		"VGA 0x3d0 backdoor show the guest's virtual config",
	.match = nvidia_display,
	.windows = nvidia_windows,
	.reset_state = nvidia_reset,
	.rw = nvidia_rw,
};
