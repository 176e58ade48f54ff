/*
 * main.c - the `ptdm` command: one table of subcommands; their usage
 * texts live in help.c, which also answers `ptdm SUB --help`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ptdm/log.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

/* usage and help NULL: the text is help.c's (cli_helps) */
static const struct cli_cmd cmds[] = {
	{ "list", cmd_list, NULL, NULL },
	{ "inspect", cmd_inspect, NULL, NULL },
	{ "capture", cmd_capture, NULL, NULL },
	{ "serve", cmd_serve, NULL, NULL },
	{ "ctl", cmd_ctl, NULL, NULL },
	{ "client", cmd_client, NULL, NULL },
	{ "bench", cmd_bench, NULL, NULL },
	{ "assignable-add", cmd_assignable, NULL, NULL },
	{ "assignable-remove", cmd_assignable, NULL, NULL },
	{ "version", cmd_version, NULL, NULL },
	{ "help", cmd_help, NULL, NULL },
};

static const struct cli_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(name, cmds[i].name))
			return &cmds[i];
	return NULL;
}

/* One command's help: help.c's entry, else the table's own strings. */
static int help_for(const char *name)
{
	const struct cli_help *h = cli_help_find(name);
	const struct cli_cmd *c = find_cmd(name);

	if (h) {
		cli_help_print(stdout, h);
		return 0;
	}
	if (c && c->usage) {
		printf("usage: ptdm %s\n\n%s\n", c->usage,
		       c->help ? c->help : "");
		return 0;
	}
	fprintf(stderr, "ptdm help: unknown command \"%s\"\n", name);
	return EXIT_USAGE;
}

static int cmd_help(int argc, char **argv)
{
	if (argc == 2)
		return help_for(argv[1]);
	if (argc > 2) {
		fprintf(stderr, "usage: ptdm help [COMMAND]\n");
		return EXIT_USAGE;
	}
	printf("usage: ptdm COMMAND [ARGS]    (ptdm COMMAND --help: its "
	       "options)\n\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const struct cli_help *h = cli_help_find(cmds[i].name);
		const char *syn = h ? h->synopsis : cmds[i].usage;
		size_t n = syn ? strcspn(syn, "\n") : 0;

		printf("  %.*s%s\n      %s\n", (int)n, syn ? syn : cmds[i].name,
		       syn && syn[n] ? " ..." : "",
		       h ? h->summary : cmds[i].help ? cmds[i].help : "");
	}
	printf("\nDEVICE is an xl PCI spec string: [DDDD:]BB:DD.F[,key=value]...,"
	       "\nor an image (an lspci -x/-xxx/-xxxx dump or a native image) "
	       "path,\nwith keys permissive, power_mgmt, msitranslate, seize, "
	       "rdm_policy,\nvslot, name, image, sizes, vendor, device, "
	       "subvendor, subdevice,\nmmap (fd|trap).\n");
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 1)
		return cli_usage("version");
	printf("ptdm %s\n", ptdm_version);
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
		return cmd_help(1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cmd_version(1, argv + 1);
	const struct cli_cmd *c = find_cmd(argv[1]);

	if (!c) {
		fprintf(stderr, "ptdm: unknown command \"%s\" (try ptdm "
			"help)\n", argv[1]);
		return EXIT_USAGE;
	}
	/* SUB --help answers here, whatever SUB's own parsing does */
	if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))
		return help_for(c->name);
	return c->fn(argc - 1, argv + 1);
}
