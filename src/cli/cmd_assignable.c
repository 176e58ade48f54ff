/*
 * cmd_assignable.c - `ptdm assignable-add BDF` / `ptdm assignable-remove
 * BDF`: bind a device to vfio-pci and give it back to the driver it had
 * (xl pci-assignable-add/-remove).  These write to sysfs: root only, and
 * only for devices you mean to give to a guest.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "ptdm/assign.h"

int cmd_assignable(int argc, char **argv)
{
	bool add = !strcmp(argv[0], "assignable-add");
	struct ptdm_err err = { "" };

	if (argc != 2)
		return cli_usage(argv[0]);
	if ((add ? assign_add : assign_remove)(argv[1], &err)) {
		fprintf(stderr, "ptdm %s: %s\n", argv[0], err.msg);
		return 1;
	}
	printf("%s: %s\n", argv[1], add ? "bound to vfio-pci, assignable"
				       : "given back to its driver");
	return 0;
}
