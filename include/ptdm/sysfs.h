/*
 * sysfs.h - a host device through /sys/bus/pci/devices/BDF, as Xen's
 * xen-host-pci-device does: config file, resource (sizes and flags),
 * resourceN for BAR access, reset.  Read-only mode never writes anything
 * (the default for `ptdm inspect`).
 */
#ifndef PTDM_SYSFS_H
#define PTDM_SYSFS_H

#include <stdbool.h>
#include <stddef.h>

#include "ptdm/err.h"
#include "ptdm/host.h"

/* Tests point this at a fake tree; default "/sys/bus/pci/devices". */
void sysfs_set_root(const char *root);
const char *sysfs_root(void);

/*
 * The last component of the symlink dir/link points to: the driver's name
 * for a device directory's "driver", the group number for "iommu_group".
 * 1 with the name in out, 0 when there is no such link, or -errno
 * (-ENAMETOOLONG when it does not fit).  The one reader of these links for
 * every backend and tool (vfio, assign, devlist).
 */
int sysfs_link_base(const char *dir, const char *link, char *out, size_t len);

/* bdf: "DDDD:BB:DD.F" (canonical form). */
int sysfs_open(struct host_dev **out, const char *bdf, bool readonly,
	       struct ptdm_err *err);
/* Config bytes this user may read: cfg_size as root; the kernel gives a
 * user without CAP_SYS_ADMIN the first 64 (what lspci shows), and config
 * reads past that fail with -EACCES.  cfg_size for other backends. */
unsigned sysfs_readable(const struct host_dev *h);
/* Every device under the root, sorted; returns the count or -errno.
 * *out is malloc'ed, an array of n canonical BDF strings of 16 bytes. */
int sysfs_list(char (**out)[16], struct ptdm_err *err);

#endif
