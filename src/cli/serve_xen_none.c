/*
 * serve_xen_none.c - `ptdm serve ... --xen-domid N` in a ptdm built
 * without the Xen front end (meson -Dxen=disabled, or libxen-dev absent
 * when it was configured): one sentence that says so and how to get it,
 * instead of an unknown option.
 */
#include <stdio.h>

#include "cli/cli.h"

int serve_xen(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ptdm serve: --xen-domid: this ptdm was built without "
			"Xen; install libxen-dev (scripts/deps.sh build) and "
			"configure again (meson setup --reconfigure build, or "
			"-Dxen=enabled to insist)\n");
	return EXIT_USAGE;
}
