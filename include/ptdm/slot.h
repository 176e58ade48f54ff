/*
 * slot.h - several functions of one slot passed together.
 *
 * "BB:DD.*" names every function of a slot: slot_expand() turns such a
 * spec into one spec per function present on the host (under
 * sysfs_root()), each with multifunction=1 so the guest sees the header's
 * multifunction bit, and the other keys kept.  A front end serves each as
 * its own device at its own function number (vfio-user: one server per
 * function, the VMM places them; Xen: the functions of one virtual slot).
 * slot_group_check() enforces the IOMMU-group rule: every device of the
 * groups of the functions given is among them (bridges, which cannot be
 * assigned, excepted), or the assignment is refused naming the missing one.
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
 * bdfs[0..n): canonical BDFs to be assigned together.  0, or -EBUSY when
 * an IOMMU group of one of them holds a device not among them ("group 17
 * also holds 0000:01:00.1 ..."), -errno when sysfs cannot say.
 */
int slot_group_check(const char (*bdfs)[16], unsigned n, struct ptdm_err *err);

#endif
