/*
 * cmd_list.c - `ptdm list [--json]`: every PCI device with its class,
 * driver, IOMMU group and whether ptdm could assign it, like
 * `xl pci-assignable-list` plus the reasons.  Reads sysfs only.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ptdm/sysfs.h"

struct entry {
	char bdf[16], driver[64], group[32], verdict[96];
	unsigned vendor, device, class24, header_type;
};

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
	char path[4200], target[4096];
	ssize_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, link);
	len = readlink(path, target, sizeof(target) - 1);
	if (len <= 0) {
		snprintf(out, n, "-");
		return;
	}
	target[len] = 0;
	snprintf(out, n, "%s", basename(target));
}

static void fill(struct entry *e, const char *bdf)
{
	char dir[4200], path[4300];
	unsigned char hdr = 0xff;
	FILE *f;

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
}

int cmd_list(int argc, char **argv)
{
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	char (*bdfs)[16] = NULL;
	struct ptdm_err err = { "" };
	int n;

	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: ptdm list [--json]\n");
		return EXIT_USAGE;
	}
	n = sysfs_list(&bdfs, &err);
	if (n < 0) {
		fprintf(stderr, "ptdm list: %s\n", err.msg);
		return 1;
	}
	struct json_object *arr = json ? json_object_new_array() : NULL;

	if (!json)
		printf("%-13s %-9s %-28s %-12s %-6s %s\n", "BDF", "ID", "class",
		       "driver", "group", "assignable");
	for (int i = 0; i < n; i++) {
		struct entry e;
		char cls[64];

		fill(&e, bdfs[i]);
		cli_class_name(cls, sizeof(cls), e.class24);
		if (!json) {
			printf("%-13s %04x:%04x %-28.28s %-12s %-6s %s\n", e.bdf,
			       e.vendor, e.device, cls, e.driver, e.group,
			       e.verdict);
			continue;
		}
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "bdf", json_object_new_string(e.bdf));
		json_object_object_add(o, "vendor_id",
				       json_object_new_int((int)e.vendor));
		json_object_object_add(o, "device_id",
				       json_object_new_int((int)e.device));
		json_object_object_add(o, "class",
				       json_object_new_int((int)e.class24));
		json_object_object_add(o, "class_name",
				       json_object_new_string(cls));
		json_object_object_add(o, "driver",
				       strcmp(e.driver, "-")
					       ? json_object_new_string(e.driver)
					       : NULL);
		json_object_object_add(o, "iommu_group",
				       strcmp(e.group, "-")
					       ? json_object_new_string(e.group)
					       : NULL);
		json_object_object_add(o, "header_type",
				       json_object_new_int((int)e.header_type));
		json_object_object_add(o, "assignable",
				       json_object_new_boolean(
					       !strncmp(e.verdict, "yes", 3)));
		json_object_object_add(o, "reason",
				       json_object_new_string(e.verdict));
		json_object_array_add(arr, o);
	}
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(
				       arr, JSON_C_TO_STRING_PRETTY |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	free(bdfs);
	return 0;
}
