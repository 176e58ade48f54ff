/*
 * devlist.c - one PCI device as `ptdm list` shows it, from sysfs alone
 * (read-only): vendor/device/class files, the driver and iommu_group links
 * and the header type byte of config.  The verdict says what stands in the
 * way of assigning it, in the order a person would fix things.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptdm/devlist.h"
#include "ptdm/sysfs.h"

static unsigned read_hex(const char *dir, const char *file)
{
	char path[4200], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return (unsigned)strtoul(buf, NULL, 16);
}

static void link_name(const char *dir, const char *link, char *out, size_t n)
{
	if (sysfs_link_base(dir, link, out, n) <= 0)
		snprintf(out, n, "-");
}

void devinfo_read(struct ptdm_devinfo *e, const char *bdf)
{
	char dir[4200], path[4300];
	unsigned char hdr = 0xff;
	FILE *f;

	memset(e, 0, sizeof(*e));
	snprintf(e->bdf, sizeof(e->bdf), "%s", bdf);
	snprintf(dir, sizeof(dir), "%s/%s", sysfs_root(), bdf);
	e->vendor = read_hex(dir, "vendor");
	e->device = read_hex(dir, "device");
	e->class24 = read_hex(dir, "class");
	link_name(dir, "driver", e->driver, sizeof(e->driver));
	link_name(dir, "iommu_group", e->group, sizeof(e->group));
	snprintf(path, sizeof(path), "%s/config", dir);
	f = fopen(path, "re");
	if (f) {
		if (fseek(f, 0x0e, SEEK_SET) || fread(&hdr, 1, 1, f) != 1)
			hdr = 0xff;
		fclose(f);
	}
	e->header_type = hdr & 0x7f;
	if (e->header_type == 1)
		snprintf(e->verdict, sizeof(e->verdict), "no: PCI bridge");
	else if (e->header_type == 2)
		snprintf(e->verdict, sizeof(e->verdict), "no: CardBus bridge");
	else if (e->header_type != 0)
		snprintf(e->verdict, sizeof(e->verdict),
			 "no: unreadable config");
	else if ((e->class24 >> 8) == 0x0600)
		snprintf(e->verdict, sizeof(e->verdict), "no: host bridge");
	else if (!strcmp(e->group, "-"))
		snprintf(e->verdict, sizeof(e->verdict),
			 "no: no IOMMU group (enable the IOMMU)");
	else if (!strcmp(e->driver, "vfio-pci") || !strcmp(e->driver, "-"))
		snprintf(e->verdict, sizeof(e->verdict), "yes");
	else
		snprintf(e->verdict, sizeof(e->verdict),
			 "yes, once unbound from %s", e->driver);
	e->assignable = !strncmp(e->verdict, "yes", 3);
}
