/*
 * vga.c - the legacy VGA ranges of a VGA device (vfio-user region 8).
 *
 * A device of class 0x0300 whose host offers the VGA region (VFIO's
 * layout: the offset is the address) is given to the front end as that
 * region: memory 0xa0000-0xbffff and the I/O ports 0x3b0-0x3bb and
 * 0x3c0-0x3df, everything else in it refused.  An access stays inside one
 * of those ranges and is gated like a BAR access: the guest's memory or
 * I/O decode, D0.  Nothing of it is mapped: every access comes here.
 */
#include <errno.h>
#include <string.h>

#include "core/dev_priv.h"

#define VGA_MEM_LO 0xa0000u
#define VGA_MEM_HI 0xc0000u
#define CLASS_DISPLAY_VGA 0x0300u /* base 03, sub 00 */

/* The VGA range [off, off+len) is all in: DEV_VGA_MEM / IO, 0 none. */
static int vga_space(uint64_t off, size_t len)
{
	uint64_t end = off + len;

	if (off >= VGA_MEM_LO && end <= VGA_MEM_HI)
		return DEV_VGA_MEM;
	if ((off >= 0x3b0 && end <= 0x3bc) || (off >= 0x3c0 && end <= 0x3e0))
		return DEV_VGA_IO;
	return 0;
}

uint64_t ptdm_dev_vga_size(const struct ptdm_dev *d)
{
	uint32_t class24 = cfg_host_init(d, PCI_CLASS_REVISION, 4) >> 8;

	if ((class24 >> 8) != CLASS_DISPLAY_VGA || !d->host->ops->vga_rw ||
	    d->host->vga_size < PTDM_VGA_SIZE)
		return 0;
	return PTDM_VGA_SIZE;
}

int ptdm_vga_rw(struct ptdm_dev *d, uint64_t off, void *buf, size_t len,
		bool write)
{
	int space, blocked;

	if (!ptdm_dev_vga_size(d))
		return -ENXIO;
	if (!len || len > 4096 || off >= PTDM_VGA_SIZE ||
	    len > PTDM_VGA_SIZE - off)
		return -ERANGE;
	space = vga_space(off, len);
	if (!space)
		return -EINVAL; /* not a VGA range, or across two */
	if (write)
		d->st.bar_writes++;
	else
		d->st.bar_reads++;
	blocked = dev_guest_blocks(d, space);
	if (blocked) {
		if (write)
			dev_count_drop(d, (enum ptdm_drop_reason)blocked);
		else
			memset(buf, 0xff, len);
		return 0;
	}
	/* cut at quirk windows (NVIDIA 0x3d0, ATI 0x3c3), as BARs are */
	while (len) {
		size_t n = len;
		unsigned w = 0;
		uint64_t woff = 0;
		struct quirk_inst *q = d->nquirks ? quirk_window_at(d, QUIRK_VGA,
								    off, &n, &w,
								    &woff)
						  : NULL;
		int rc = q ? quirk_window_rw(d, q, w, woff, buf, n, write)
			   : quirk_host_rw(d, QUIRK_VGA, off, buf, n, write);

		if (rc)
			return rc;
		off += n;
		buf = (uint8_t *)buf + n;
		len -= n;
	}
	return 0;
}
