/*
 * cmd_inspect.c - `ptdm inspect DEVICE [--json] [--permissive]
 * [--dump guest|host] [--sizes FILE]`: attach read-only and show what the
 * host has and what a guest would see.  A live device is opened read-only:
 * inspect never writes to hardware.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/view.h"

int cmd_inspect(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "permissive", no_argument, NULL, 'p' },
		{ "dump", required_argument, NULL, 'd' },
		{ "sizes", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false, permissive = false;
	const char *dump = NULL, *sizes = NULL;
	struct opened_dev od;
	struct ptdm_err err = { "" };
	struct ptdm_dev *d = NULL;
	struct view v;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jpd:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'p': permissive = true; break;
		case 'd': dump = optarg; break;
		case 's': sizes = optarg; break;
		case 'h':
			printf("usage: ptdm inspect DEVICE [--json] "
			       "[--permissive] [--dump guest|host] "
			       "[--sizes FILE]\n");
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 ||
	    (dump && strcmp(dump, "guest") && strcmp(dump, "host"))) {
		fprintf(stderr, "usage: ptdm inspect DEVICE [--json] "
				"[--permissive] [--dump guest|host] "
				"[--sizes FILE]\n");
		return EXIT_USAGE;
	}
	if (open_device(argv[optind], sizes, true, &od, &err)) {
		fprintf(stderr, "ptdm inspect: %s\n", err.msg);
		return 1;
	}
	if (permissive)
		od.opts.permissive = true;
	if (ptdm_dev_attach(&d, od.host, &od.opts, &err)) {
		fprintf(stderr, "ptdm inspect: %s\n", err.msg);
		host_close(od.host);
		return 1;
	}
	if (dump) {
		rc = view_dump(stdout, d, !strcmp(dump, "guest"));
	} else {
		rc = view_collect(d, &v);
		if (!rc && json) {
			struct json_object *o = view_json(d, &v, od.backend);

			printf("%s\n", json_object_to_json_string_ext(
					       o, JSON_C_TO_STRING_PRETTY |
						  JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		} else if (!rc) {
			view_print_text(stdout, d, &v, od.backend);
		}
	}
	if (rc)
		fprintf(stderr, "ptdm inspect: %s: cannot read the device\n",
			od.host->name);
	ptdm_dev_free(d);
	host_close(od.host);
	return rc ? 1 : 0;
}
