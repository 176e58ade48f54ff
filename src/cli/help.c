/*
 * help.c - every subcommand's usage and options in one table, so that
 * `ptdm SUB --help`, `ptdm help SUB` and `ptdm help` print the same text,
 * the commands' own usage errors can print it (cli_usage), and the man
 * page test (tests/package) can check the page names every command and
 * option listed here.  A command file never needs its own help text.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* synopsis: one or more "ptdm ..." lines; options: "  -x, --xx ARG  text"
 * lines, or NULL when the command has none. */
const struct cli_help cli_helps[] = {
	{ "list",
	  "ptdm list [--json]",
	  "every PCI device: class, driver, IOMMU group, assignable or why "
	  "not",
	  "  --json             JSON (schema ptdm-list/1, docs/json.md)\n" },
	{ "inspect",
	  "ptdm inspect DEVICE [--json] [--permissive] [--dump guest|host] "
	  "[--sizes FILE]",
	  "host view and guest view of a device or an image, read-only",
	  "  -j, --json         JSON (schema ptdm-inspect/1, docs/json.md)\n"
	  "  -p, --permissive   show the guest view of a permissive device\n"
	  "  -d, --dump guest|host\n"
	  "                     the config space as an lspci -xxxx dump "
	  "(for lspci -F)\n"
	  "  -s, --sizes FILE   BAR sizes of an image from an lspci -vvv "
	  "file\n" },
	{ "capture",
	  "ptdm capture DEVICE -o FILE|-",
	  "record a device (config, BAR sizes) into a native image, "
	  "read-only",
	  "  -o FILE|-          the image to write (- for standard output); "
	  "written whole or not at all\n" },
	{ "serve",
	  "ptdm serve [--control PATH] DEVICE WHERE [--dump-guest FILE] "
	  "[--dump-host FILE] [DEVICE WHERE ...]\n"
	  "ptdm serve --config FILE [--control PATH]\n"
	  "ptdm serve --control PATH\n"
	  "ptdm serve DEVICE [--dump-guest FILE] --mpqemu-exec CMD ARG...",
	  "give devices to VMMs (vfio-user, x-pci-proxy-dev, a Xen ioreq "
	  "server) from one process; SIGTERM ends it",
	  "  WHERE is one of:\n"
	  "  --vfio-user PATH   listen on a vfio-user UNIX socket at PATH\n"
	  "  --fd N             serve the connected vfio-user socket N\n"
	  "  --mpqemu-fd N      serve QEMU's x-pci-proxy-dev on socket N\n"
	  "  --xen-domid N      be an ioreq server for Xen domain N\n"
	  "  --xen-cf8          also claim port 0xcf8 (a guest with no "
	  "other device model)\n"
	  "  --xen-gfx-passthru an Intel VGA device also gets the legacy VGA "
	  "ranges (xl's gfx_passthru)\n"
	  "  --dump-guest FILE  when the device goes, the guest's view as an "
	  "lspci dump\n"
	  "  --dump-host FILE   when the device goes, the host's view as an "
	  "lspci dump\n"
	  "  --mpqemu-exec CMD ARG...\n"
	  "                     start QEMU on a socketpair; {fd} in an ARG "
	  "becomes its end\n"
	  "                     (DEVICE BB:DD.*: one socketpair a function, "
	  "{fd.F} is function F's)\n"
	  "  --config FILE      one \"DEVICE WHERE\" a line; # comments\n"
	  "  --control PATH     a control socket (ptdm ctl): add and remove "
	  "devices while serving\n"
	  "  --user NAME        after setup, run as NAME (its groups too)\n"
	  "  --sandbox on|off   the sandbox after setup (default on: no "
	  "capabilities, no new privileges, Landlock file rules, a seccomp "
	  "filter); off is for "
	  "debugging\n" },
	{ "ctl",
	  "ptdm ctl PATH device-add SPEC (--vfio-user SOCK | --xen-domid N "
	  "[--xen-cf8]) [--id ID]\n"
	  "ptdm ctl PATH device-del ID\n"
	  "ptdm ctl PATH query-devices\n"
	  "ptdm ctl PATH trace ID on|off\n"
	  "ptdm ctl PATH quit\n"
	  "ptdm ctl PATH raw JSON",
	  "talk to the control socket of `ptdm serve --control PATH`",
	  "  --json             print the server's replies as JSON\n"
	  "  --id ID            device-add: the id to give the device\n" },
	{ "client",
	  "ptdm client PATH lspci|info\n"
	  "ptdm client PATH read REGION OFFSET SIZE\n"
	  "ptdm client PATH write REGION OFFSET SIZE VALUE\n"
	  "ptdm client PATH irq INDEX VECTOR\n"
	  "ptdm client PATH dma IOVA SIZE\n"
	  "ptdm client --as qemu|cloud-hypervisor|libvfio-user|spdk PATH "
	  "[check]\n"
	  "ptdm client SRC migrate DST [--no-pre-copy]",
	  "talk to a vfio-user server the way a VMM does",
	  "  lspci              the guest's config space as an lspci dump\n"
	  "  info               regions and interrupts\n"
	  "  read, write        a region access (SIZE 1, 2, 4 or 8)\n"
	  "  irq                set an eventfd, trigger it, wait for it\n"
	  "  dma                map and unmap SIZE bytes at IOVA\n"
	  "  --as VMM           replay that VMM's messages and judge the "
	  "replies\n"
	  "                     as it does (check: its warnings fail too)\n"
	  "  migrate            move the device's state from server SRC to "
	  "server DST\n"
	  "                     (migration v2; PRE_COPY when both offer it)\n" },
	{ "bench",
	  "ptdm bench cfg|vfio-user [--seconds S]\n"
	  "ptdm bench migration",
	  "ptdm's cost as ratios to the floor (config engine, vfio-user, "
	  "migration)",
	  "  --seconds S        how long each measurement runs\n" },
	{ "assignable-add",
	  "ptdm assignable-add BDF",
	  "bind a device to vfio-pci, remembering its driver (root)",
	  NULL },
	{ "assignable-remove",
	  "ptdm assignable-remove BDF",
	  "give a device assignable-add took back to its driver (root)",
	  NULL },
	{ "version",
	  "ptdm version | ptdm --version | ptdm -V",
	  "print ptdm's version",
	  NULL },
	{ "help",
	  "ptdm help [COMMAND] | ptdm COMMAND --help",
	  "this text, or one command's",
	  NULL },
};

const size_t cli_nhelps = sizeof(cli_helps) / sizeof(cli_helps[0]);

const struct cli_help *cli_help_find(const char *name)
{
	for (size_t i = 0; i < cli_nhelps; i++)
		if (!strcmp(cli_helps[i].name, name))
			return &cli_helps[i];
	return NULL;
}

/* each synopsis line, the first after "usage: ", the rest indented */
static void print_synopsis(FILE *f, const char *syn)
{
	const char *p = syn;
	bool first = true;

	while (*p) {
		size_t n = strcspn(p, "\n");

		fprintf(f, "%s%.*s\n", first ? "usage: " : "       ", (int)n, p);
		first = false;
		p += n;
		if (*p)
			p++;
	}
}

void cli_help_print(FILE *f, const struct cli_help *h)
{
	print_synopsis(f, h->synopsis);
	fprintf(f, "\n%s\n", h->summary);
	if (h->options)
		fprintf(f, "\n%s", h->options);
}

int cli_usage(const char *name)
{
	const struct cli_help *h = cli_help_find(name);

	if (h)
		print_synopsis(stderr, h->synopsis);
	fprintf(stderr, "(ptdm %s --help for the options)\n", name);
	return EXIT_USAGE;
}
