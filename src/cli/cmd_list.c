/*
 * cmd_list.c - `ptdm list [--json]`: every PCI device with its class,
 * driver, IOMMU group and whether ptdm could assign it, like
 * `xl pci-assignable-list` plus the reasons (src/host/devlist.c).
 * Reads sysfs only.  --json: {"schema": "ptdm-list/1", "devices": [...]}
 * (docs/json.md).
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ptdm/devlist.h"
#include "ptdm/sysfs.h"

int cmd_list(int argc, char **argv)
{
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	char (*bdfs)[16] = NULL;
	struct ptdm_err err = { "" };
	int n;

	if (argc > 2 || (argc == 2 && !json))
		return cli_usage("list");
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
		struct ptdm_devinfo e;
		char cls[64];

		devinfo_read(&e, bdfs[i]);
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
				       json_object_new_boolean(e.assignable));
		json_object_object_add(o, "reason",
				       json_object_new_string(e.verdict));
		json_object_array_add(arr, o);
	}
	if (json) {
		struct json_object *top = json_object_new_object();

		json_object_object_add(top, "schema",
				       json_object_new_string("ptdm-list/1"));
		json_object_object_add(top, "devices", arr);
		printf("%s\n", json_object_to_json_string_ext(
				       top, JSON_C_TO_STRING_PRETTY |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(top);
	}
	free(bdfs);
	return 0;
}
