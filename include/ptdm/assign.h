/*
 * assign.h - making a device assignable and giving it back, like
 * `xl pci-assignable-add/-remove`: bind to vfio-pci through
 * driver_override, remembering the driver it had so that remove can
 * return it.  Bridges are refused.  The sysfs tree is sysfs_root()'s; the
 * remembered drivers live in $PTDM_STATE_DIR (default /run/ptdm).
 */
#ifndef PTDM_ASSIGN_H
#define PTDM_ASSIGN_H

#include "ptdm/err.h"

int assign_add(const char *bdf, struct ptdm_err *err);
int assign_remove(const char *bdf, struct ptdm_err *err);

#endif
