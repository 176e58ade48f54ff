/*
 * dmrec.h - ptdm's section of a device model save record (ptdm-xen-dm).
 *
 * libxl asks the device model for its state with xen-save-devices-state
 * into a file and hands that file back on restore (-incoming fd:N).
 * ptdm-xen-dm appends one section after QEMU's bytes, little-endian:
 *
 *   "PTDMXDM1", u32 ndev, u32 0
 *   ndev x { char id[32] (NUL-padded), u32 slot, u32 fn, u64 len,
 *            blob[len] (ptdm_dev_save), zero pad to 8 }
 *   footer: u64 section_len (all of the above), u64 FNV-1a 64 of it,
 *           "PTDMXEND"
 *
 * so it is found from the end without parsing QEMU's stream, and a record
 * without the footer is a stock one.  A section is hostile input: the
 * footer and every length are bounded, the hash must match (damage on the
 * way), and the body must parse exactly (no trailing byte, no duplicate
 * id or slot); each blob is checked again by ptdm_dev_load.
 */
#ifndef PTDM_XENDM_DMREC_H
#define PTDM_XENDM_DMREC_H

#include <stddef.h>
#include <stdint.h>

#define DMREC_HEAD_MAGIC "PTDMXDM1"
#define DMREC_MAX_DEVS 8
#define DMREC_ID_LEN 32
#define DMREC_FOOT_LEN 24u
#define DMREC_MAX (64u << 20) /* section bytes, footer excluded */

struct dmrec_dev {
	char id[DMREC_ID_LEN];
	unsigned slot, fn;
	const uint8_t *blob;   /* into the section (parse) or the caller's */
	size_t len;
};

/* The section and its footer for n devices, malloc'ed; 0 or -errno. */
int dmrec_build(const struct dmrec_dev *devs, unsigned n, uint8_t **out,
		size_t *len);
/*
 * The last DMREC_FOOT_LEN bytes of a record of total bytes: 0 when there
 * is no section (no footer magic), 1 with *sec_len (the section, footer
 * excluded) when there is, -EINVAL when the footer's length cannot be.
 */
int dmrec_footer(const uint8_t *foot, uint64_t total, uint64_t *sec_len);
/*
 * Check and parse a section (sec_len bytes) with its footer (foot):
 * devs[] point into sec.  0, or -EINVAL with why.
 */
int dmrec_parse(const uint8_t *sec, size_t sec_len, const uint8_t *foot,
		struct dmrec_dev devs[DMREC_MAX_DEVS], unsigned *n,
		char *why, size_t wn);

#endif
