/*
 * main.c - the `ptdm` command: one table of subcommands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ptdm/log.h"

static int cmd_help(int argc, char **argv);

static const struct cli_cmd cmds[] = {
	{ "list", cmd_list, "list [--json]",
	  "every PCI device: class, driver, IOMMU group, assignable or why not" },
	{ "inspect", cmd_inspect,
	  "inspect DEVICE [--json] [--permissive] [--dump guest|host] "
	  "[--sizes FILE]",
	  "host view and guest view of a device or an image, read-only" },
	{ "capture", cmd_capture, "capture DEVICE -o FILE|-",
	  "record a device (config, BAR sizes) into a native image" },
	{ "serve", cmd_serve,
	  "serve DEVICE --vfio-user PATH [...] | DEVICE --fd N | --config F"
	  " | DEVICE --xen-domid N [--xen-cf8]",
	  "give devices to VMMs (vfio-user, x-pci-proxy-dev, a Xen ioreq "
	  "server); SIGTERM ends it" },
	{ "client", cmd_client, "client PATH lspci|info|read|write|irq|dma ... | client --as VMM PATH [check]",
	  "talk to a vfio-user server the way a VMM does" },
	{ "bench", cmd_bench, "bench cfg|vfio-user [--seconds S]",
	  "ptdm's cost as ratios to the floor (config engine, vfio-user)" },
	{ "assignable-add", cmd_assignable, "assignable-add BDF",
	  "bind a device to vfio-pci, remembering its driver (root)" },
	{ "assignable-remove", cmd_assignable, "assignable-remove BDF",
	  "give a device back to the driver it had (root)" },
	{ "help", cmd_help, "help", "this text" },
};

static int cmd_help(int argc, char **argv)
{
	printf("usage: ptdm COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  ptdm %-62s\n      %s\n", cmds[i].usage, cmds[i].help);
	printf("\nDEVICE is an xl PCI spec string: [DDDD:]BB:DD.F[,key=value]...,"
	       "\nor an image (an lspci -x/-xxx/-xxxx dump or a native image) "
	       "path,\nwith keys permissive, power_mgmt, msitranslate, seize, "
	       "rdm_policy,\nvslot, name, image, sizes, vendor, device, "
	       "subvendor, subdevice.\n");
	return 0;
}

/* PTDM_LOG=error|warning|info|debug: how much ptdm says (default warning) */
static void log_level_from_env(void)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };
	const char *v = getenv("PTDM_LOG");

	for (int i = 0; v && i < 4; i++)
		if (!strcmp(v, names[i]))
			ptdm_log_set_level((enum ptdm_log_level)i);
}

int main(int argc, char **argv)
{
	log_level_from_env();
	if (argc < 2) {
		cmd_help(0, NULL);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(0, NULL);
	if (!strcmp(argv[1], "--version")) {
		printf("ptdm 0.1.0\n");
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ptdm: unknown command \"%s\" (try ptdm help)\n",
		argv[1]);
	return EXIT_USAGE;
}
