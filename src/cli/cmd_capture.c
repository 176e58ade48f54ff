/*
 * cmd_capture.c - `ptdm capture DEVICE -o FILE`: record a device (config
 * bytes, BAR kinds and sizes, ROM size) into a native image.  The device
 * is opened read-only; the file is written whole or not at all.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ptdm/image.h"
#include "ptdm/sysfs.h"

int cmd_capture(int argc, char **argv)
{
	const char *out = NULL;
	struct opened_dev od;
	struct ptdm_err err = { "" };
	char tmp[4096];
	FILE *f;
	int c, rc;

	optind = 1;
	while ((c = getopt(argc, argv, "o:h")) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h':
			cli_help_print(stdout, cli_help_find("capture"));
			return 0;
		default:
			return cli_usage("capture");
		}
	}
	if (optind != argc - 1 || !out)
		return cli_usage("capture");
	if (open_device(argv[optind], NULL, true, &od, &err)) {
		fprintf(stderr, "ptdm capture: %s\n", err.msg);
		return 1;
	}
	if (sysfs_readable(od.host) < od.host->cfg_size) {
		fprintf(stderr, "ptdm capture: %s: an image holds the whole "
			"config space, and a user who is not root may read "
			"only its first %u bytes (run as root)\n",
			od.host->name, sysfs_readable(od.host));
		host_close(od.host);
		return 1;
	}
	if (!strcmp(out, "-")) {
		rc = image_write(stdout, od.host, &err);
	} else {
		snprintf(tmp, sizeof(tmp), "%s.tmp", out);
		f = fopen(tmp, "we");
		if (!f) {
			fprintf(stderr, "ptdm capture: %s: %s\n", tmp,
				strerror(errno));
			host_close(od.host);
			return 1;
		}
		rc = image_write(f, od.host, &err);
		if (fclose(f) && !rc)
			rc = ptdm_errf(&err, -EIO, "%s: %s", tmp,
				       strerror(errno));
		if (!rc && rename(tmp, out))
			rc = ptdm_errf(&err, -errno, "%s: %s", out,
				       strerror(errno));
		if (rc)
			unlink(tmp);
	}
	if (rc)
		fprintf(stderr, "ptdm capture: %s\n", err.msg);
	host_close(od.host);
	return rc ? 1 : 0;
}
