/*
 * slot.h - several functions of one slot passed together.
 *
 * "BB:DD.*" names every function of a slot: slot_expand() turns such a
 * spec into one spec per function present on the host (under
 * sysfs_root()), each with multifunction=1 so the guest sees the header's
 * multifunction bit, and the other keys kept.  A front end serves each as
 * its own device at its own function number (vfio-user: one server per
 * function, the VMM places them; Xen: the functions of one virtual slot).
 * slot_group_check() enforces the IOMMU-group rule for them and for a
 * single VFIO function alike: every device of the groups of the devices
 * given is among them or served already (bridges, which cannot be
 * assigned, excepted), or the assignment is refused naming the missing
 * ones; group=partial relaxes it to QEMU's rule (slot.c says why).
 */
#ifndef PTDM_SLOT_H
#define PTDM_SLOT_H

#include "ptdm/err.h"

#define SLOT_SPEC_MAX 8192 /* the longest spec string */
#define SLOT_MAX_FUNCS 8

/*
 * spec as one spec per function: its own (copied) when it names one
 * function, else one per function of the slot present, with
 * multifunction=1.  Returns how many (1-8) or -errno with err set
 * (a bad spec, no function of the slot present).
 */
int slot_expand(const char *spec, char (*out)[SLOT_SPEC_MAX],
		struct ptdm_err *err);
/*
 * bdfs[0..n): canonical BDFs of VFIO devices to be assigned now, served
 * [0..nserved): those this ptdm serves already (either may be NULL/0).
 * 0, or -EBUSY when an IOMMU group of one of bdfs holds a device in
 * neither list ("group 17 also holds 0000:01:00.1 (vfio-pci), not served
 * with it ..."; every such device named, with its driver); with partial,
 * only a device on a host driver (one that keeps the group from being
 * viable) is refused, one on vfio-pci, pci-stub or no driver stays
 * unused, as QEMU's vfio-pci allows.  -errno when sysfs cannot say.
 */
int slot_group_check(const char (*bdfs)[16], unsigned n,
		     const char (*served)[16], unsigned nserved, bool partial,
		     struct ptdm_err *err);

#endif
