/*
 * vfio_sysfs.c - what sysfs tells before /dev is touched: the device
 * exists, has an IOMMU group, is bound to vfio-pci, and every other device
 * of its group is on a vfio driver, pci-stub, pcieport or nothing.  Each
 * mistake gets a sentence naming the device, its driver and the fix; open
 * errors of the /dev nodes get the same treatment.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/vfio_priv.h"
#include "ptdm/sysfs.h"

/* 1 and the driver's name when bound, 0 when not, -errno on error. */
static int driver_of(const char *bdf, char *drv, size_t len)
{
	char dir[PATH_MAX];

	if (vfio_path_fmt(dir, sizeof(dir), "%s/bus/pci/devices/%s",
			  vfio_sys_root, bdf))
		return -ENAMETOOLONG;
	return sysfs_link_base(dir, "driver", drv, len);
}

static bool driver_is_vfio(const char *drv)
{
	return strstr(drv, "vfio") != NULL;
}

/* Drivers that leave DMA ownership to VFIO (driver_managed_dma). */
bool vfio_driver_allowed(const char *drv)
{
	return driver_is_vfio(drv) || !strcmp(drv, "pci-stub") ||
	       !strcmp(drv, "pcieport");
}

/* The IOMMU group number; -ENOENT when the device has none. */
static int group_of(const char *bdf, int *gid)
{
	char dir[PATH_MAX], name[32];
	char *end;
	long g;
	int rc;

	if (vfio_path_fmt(dir, sizeof(dir), "%s/bus/pci/devices/%s",
			  vfio_sys_root, bdf))
		return -ENAMETOOLONG;
	rc = sysfs_link_base(dir, "iommu_group", name, sizeof(name));
	if (rc <= 0)
		return rc ? rc : -ENOENT;
	errno = 0;
	g = strtol(name, &end, 10);
	if (errno || *end || end == name || g < 0 || g > INT_MAX)
		return -EINVAL;
	*gid = (int)g;
	return 0;
}

/*
 * The devices of group gid bound to a driver that keeps the group from
 * being viable, as "BDF (driver), ..." in list; *one set to the single
 * culprit's BDF when there is exactly one.  Returns how many.
 */
int vfio_group_blockers(int gid, char *list, size_t len, char one[16])
{
	char p[PATH_MAX], drv[64];
	struct dirent *e;
	size_t used = 0;
	int n = 0;
	DIR *d;

	list[0] = 0;
	one[0] = 0;
	if (vfio_path_fmt(p, sizeof(p), "%s/kernel/iommu_groups/%d/devices",
			  vfio_sys_root, gid))
		return -ENAMETOOLONG;
	d = opendir(p);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		int rc;

		if (e->d_name[0] == '.')
			continue;
		rc = driver_of(e->d_name, drv, sizeof(drv));
		if (rc <= 0 || vfio_driver_allowed(drv))
			continue;
		if (used < len) {
			int w = snprintf(list + used, len - used, "%s%s (%s)",
					 n ? ", " : "", e->d_name, drv);

			used += w > 0 ? (size_t)w : 0;
		}
		if (!n)
			snprintf(one, 16, "%.15s", e->d_name);
		n++;
	}
	closedir(d);
	if (n > 1)
		one[0] = 0;
	return n;
}

int vfio_not_viable_error(const char *bdf, int gid, struct ptdm_err *err)
{
	char list[256], one[16];
	int n = vfio_group_blockers(gid, list, sizeof(list), one);

	if (n < 0)
		return ptdm_errf(err, -EBUSY,
				 "%s: IOMMU group %d is not viable (the kernel "
				 "says so; its device list cannot be read: %s)",
				 bdf, gid, strerror(-n));
	if (n == 0)
		return ptdm_errf(err, -EBUSY,
				 "%s: IOMMU group %d is not viable: a device of "
				 "the group is in use by a host driver (see "
				 "%s/kernel/iommu_groups/%d/devices); bind each "
				 "to vfio-pci with `ptdm assignable-add BDF`",
				 bdf, gid, vfio_sys_root, gid);
	if (n == 1)
		return ptdm_errf(err, -EBUSY,
				 "%s: IOMMU group %d is not viable: %s is bound "
				 "to a host driver. Every device of the group "
				 "must be bound to vfio-pci or to no driver: run "
				 "`ptdm assignable-add %s`",
				 bdf, gid, list, one);
	return ptdm_errf(err, -EBUSY,
			 "%s: IOMMU group %d is not viable: %s are bound to "
			 "host drivers. Every device of the group must be "
			 "bound to vfio-pci or to no driver: run `ptdm "
			 "assignable-add BDF` for each of them",
			 bdf, gid, list);
}

/* Everything sysfs can tell before /dev is touched. */
int vfio_check_sysfs(const char *bdf, int *gid, struct ptdm_err *err)
{
	char p[PATH_MAX], drv[64], list[256], one[16];
	struct stat st;
	int rc;

	if (vfio_path_fmt(p, sizeof(p), "%s/bus/pci/devices/%s", vfio_sys_root,
			  bdf))
		return ptdm_errf(err, -ENAMETOOLONG, "%s: sysfs path too long",
				 bdf);
	if (stat(p, &st))
		return errno == ENOENT
			       ? ptdm_errf(err, -ENOENT,
					   "%s: no such PCI device (nothing at "
					   "%s); `ptdm list` or `lspci -D` "
					   "shows the addresses there are",
					   bdf, p)
			       : ptdm_errf(err, -errno, "%s: %s: %s", bdf, p,
					   strerror(errno));
	rc = group_of(bdf, gid);
	if (rc == -ENOENT)
		return ptdm_errf(err, -ENXIO,
				 "%s: has no IOMMU group: the IOMMU is off or "
				 "does not cover this device. Turn VT-d/AMD-Vi "
				 "on in the firmware and boot with "
				 "intel_iommu=on (or amd_iommu=on); VFIO needs "
				 "an IOMMU", bdf);
	if (rc)
		return ptdm_errf(err, rc, "%s: cannot read its IOMMU group: %s",
				 bdf, strerror(-rc));
	rc = driver_of(bdf, drv, sizeof(drv));
	if (rc < 0)
		return ptdm_errf(err, rc, "%s: cannot read its driver: %s",
				 bdf, strerror(-rc));
	if (rc == 0)
		return ptdm_errf(err, -ENODEV,
				 "%s: not bound to any driver, so VFIO has no "
				 "device for it: run `ptdm assignable-add %s` "
				 "to bind it to vfio-pci", bdf, bdf);
	if (!driver_is_vfio(drv))
		return ptdm_errf(err, -EBUSY,
				 "%s: bound to the host driver %s, not to "
				 "vfio-pci: run `ptdm assignable-add %s` to hand "
				 "it to vfio-pci (the host stops using it)",
				 bdf, drv, bdf);
	if (vfio_group_blockers(*gid, list, sizeof(list), one) > 0)
		return vfio_not_viable_error(bdf, *gid, err);
	return 0;
}

int vfio_open_error(const char *bdf, const char *path, int e,
		    struct ptdm_err *err)
{
	if (e == EACCES || e == EPERM)
		return ptdm_errf(err, -e,
				 "%s: no permission to open %s: run ptdm as "
				 "root, or give its user the device node (a "
				 "udev rule or chown) and a locked-memory limit "
				 "(ulimit -l) as large as the guest's RAM",
				 bdf, path);
	if (e == ENOENT || e == ENODEV || e == ENXIO)
		return ptdm_errf(err, -e,
				 "%s: %s does not exist: load the vfio-pci "
				 "module (modprobe vfio-pci) and bind the "
				 "device with `ptdm assignable-add %s`",
				 bdf, path, bdf);
	if (e == EBUSY)
		return ptdm_errf(err, -e,
				 "%s: %s is busy: another process (a VMM or "
				 "another ptdm) has the device or its IOMMU "
				 "group open", bdf, path);
	return ptdm_errf(err, -e, "%s: cannot open %s: %s", bdf, path,
			 strerror(e));
}

/* The cdev node of the device, from /sys/.../vfio-dev/vfioN. */
int vfio_cdev_node(const char *bdf, char *path, size_t len)
{
	char p[PATH_MAX];
	struct dirent *e;
	int rc = -ENOENT;
	DIR *d;

	if (vfio_path_fmt(p, sizeof(p), "%s/bus/pci/devices/%s/vfio-dev",
			  vfio_sys_root, bdf))
		return -ENAMETOOLONG;
	d = opendir(p);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vfio", 4)) {
			rc = vfio_path_fmt(path, len, "/dev/vfio/devices/%s",
					   e->d_name);
			break;
		}
	closedir(d);
	return rc;
}
