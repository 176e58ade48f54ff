/*
 * igd_opregion.c - a copy of an Intel IGD's OpRegion for the guest.
 *
 * The OpRegion is the firmware's table the IGD's driver finds through ASLS
 * (0xfc).  A VMM that does not map the host's pages (everything but Xen)
 * gives the guest a copy: QEMU reads vfio-pci's read-only device-specific
 * region (type VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086, subtype
 * VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION) into fw_cfg "etc/igd-opregion",
 * the guest's firmware copies it into guest memory and writes that address
 * to ASLS.  ptdm offers the same region (vfu_region.c), from a copy taken
 * once at attach from the host backend (host_ops.igd_opregion: vfio-pci's
 * own region, or the file an image recorded) and checked here first.
 *
 * The copy is laid out as vfio-pci's region has it (Linux
 * drivers/vfio/pci/vfio_pci_igd.c; header from i915's intel_opregion.c):
 *   0x000 16  signature "IntelGraphicsMem"
 *   0x010  4  size of the OpRegion in KiB (8: what i915 maps)
 *   0x016  2  version (minor, major): 2.0 and later have RVDA/RVDS
 *   0x3ba  8  RVDA: the extended VBT (when the VBT outgrows mailbox 4);
 *             2.0: a host physical address, 2.1+: an offset from the start
 *   0x3c2  4  RVDS: its size
 * vfio-pci shows any extended VBT right after the OpRegion, as 2.1 with
 * RVDA relative.  A copy must be whole: the signature, a header size of at
 * least 8 KiB and no larger than the copy, and an extended VBT (if any) at
 * a relative RVDA inside the copy, starting with "$VBT" and ending it.  A
 * 2.0 RVDA is a host address the guest cannot use and is refused.  What
 * fails is a problem on the device (inspect); the device attaches without
 * the region.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/dev_priv.h"

#define OPR_SIG "IntelGraphicsMem"
#define OPR_SIZE_KB 0x10
#define OPR_VERSION 0x16
#define OPR_RVDA 0x3ba
#define OPR_RVDS 0x3c2
#define OPR_MIN (8u << 10)

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

int ptdm_igd_opregion_check(const uint8_t *op, size_t len,
			    struct ptdm_err *err)
{
	uint64_t size, rvda, rvds;
	unsigned version;

	if (len < OPR_MIN)
		return ptdm_errf(err, -EINVAL, "OpRegion of %zu bytes: the "
				 "guest's driver maps %u", len, OPR_MIN);
	if (len > PTDM_IGD_OPREGION_MAX)
		return ptdm_errf(err, -EFBIG, "OpRegion of %zu bytes: more "
				 "than %u", len, PTDM_IGD_OPREGION_MAX);
	if (memcmp(op, OPR_SIG, 16))
		return ptdm_errf(err, -EINVAL, "no OpRegion signature (\"%s\")",
				 OPR_SIG);
	size = le(op + OPR_SIZE_KB, 4) * 1024;
	if (size < OPR_MIN || size > len)
		return ptdm_errf(err, -EINVAL, "OpRegion header says %llu "
				 "bytes; the copy has %zu (and %u are the "
				 "least)", (unsigned long long)size, len,
				 OPR_MIN);
	version = (unsigned)le(op + OPR_VERSION, 2);
	rvda = le(op + OPR_RVDA, 8);
	rvds = le(op + OPR_RVDS, 4);
	if (version < 0x0200 || !rvda || !rvds) {
		if (size != len)
			return ptdm_errf(err, -EINVAL, "OpRegion of %llu bytes "
					 "with %zu bytes after it and no "
					 "extended VBT",
					 (unsigned long long)size, len);
		return 0;
	}
	if (version == 0x0200)
		return ptdm_errf(err, -EINVAL, "OpRegion 2.0 with an extended "
				 "VBT at host address %#llx: the guest cannot "
				 "reach it (vfio-pci's region shows it as 2.1 "
				 "after the OpRegion)",
				 (unsigned long long)rvda);
	if (rvda < size || rvda > len || rvds > len - rvda ||
	    rvda + rvds != len)
		return ptdm_errf(err, -EINVAL, "extended VBT at %#llx+%#llx: "
				 "not the end of the %zu-byte copy after the "
				 "%llu-byte OpRegion",
				 (unsigned long long)rvda,
				 (unsigned long long)rvds, len,
				 (unsigned long long)size);
	if (rvds < 4 || memcmp(op + rvda, "$VBT", 4))
		return ptdm_errf(err, -EINVAL, "extended VBT at %#llx has no "
				 "\"$VBT\" signature", (unsigned long long)rvda);
	return 0;
}

int igd_opregion_load(struct ptdm_dev *d)
{
	struct host_dev *h = d->host;
	struct ptdm_err err = { { 0 } };
	uint8_t *op = NULL;
	size_t len = 0;
	int rc;

	if (!h->ops->igd_opregion)
		return -ENOENT;
	rc = h->ops->igd_opregion(h, &op, &len);
	if (rc == -ENOENT)
		return rc;
	if (rc) {
		dev_problem(d, "IGD OpRegion: the host's cannot be read (%s): "
			    "no OpRegion region", strerror(-rc));
		return rc;
	}
	rc = ptdm_igd_opregion_check(op, len, &err);
	if (rc) {
		dev_problem(d, "IGD OpRegion: %s: no OpRegion region", err.msg);
		free(op);
		return rc;
	}
	d->opregion = op;
	d->opregion_len = len;
	return 0;
}

uint64_t ptdm_dev_igd_opregion_size(const struct ptdm_dev *d)
{
	return d->opregion ? d->opregion_len : 0;
}

int ptdm_igd_opregion_read(const struct ptdm_dev *d, uint64_t off, void *buf,
			   size_t len)
{
	if (!d->opregion)
		return -ENXIO;
	if (!len || off > d->opregion_len || len > d->opregion_len - off)
		return -EINVAL;
	memcpy(buf, d->opregion + off, len);
	return 0;
}

void ptdm_dev_igd_map_host_opregion(struct ptdm_dev *d)
{
	d->igd_asls_host_offset = true;
}
