/*
 * devlist.h - what `ptdm list` says about one PCI device, read from
 * sysfs_root() only: IDs, class, driver, IOMMU group, header type and
 * whether ptdm could assign it (and if not, why).
 */
#ifndef PTDM_DEVLIST_H
#define PTDM_DEVLIST_H

#include <stdbool.h>

struct ptdm_devinfo {
	char bdf[16], driver[64], group[32], verdict[96];
	unsigned vendor, device, class24, header_type;
	bool assignable;
};

void devinfo_read(struct ptdm_devinfo *e, const char *bdf);

#endif
