/*
 * cli.h - the `ptdm` command: one table of subcommands (main.c), each in
 * its own file, sharing the device opener and the host/guest view.
 */
#ifndef PTDM_CLI_H
#define PTDM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "ptdm/dev.h"
#include "ptdm/err.h"
#include "ptdm/host.h"
#include "ptdm/spec.h"

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};

int cmd_list(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_client(int argc, char **argv);
/* client_migrate.c: `ptdm client SRC migrate DST` and what it does, for
 * the benchmark too */
struct vfu_client;
struct client_mig_result {
	bool pre_copy;               /* both ends offered it, it was used */
	uint64_t pre_copy_bytes, stop_copy_bytes;
	double downtime_s;           /* STOP_COPY -> destination running */
};
int client_migrate(struct vfu_client *src, struct vfu_client *dst,
		   bool pre_copy, struct client_mig_result *res,
		   struct ptdm_err *err);
int cmd_client_migrate(int argc, char **argv);
/* bench_migration.c: `ptdm bench migration` */
int bench_migration(void);
int cmd_ctl(int argc, char **argv);
int cmd_assignable(int argc, char **argv);

/* help.c: one entry per subcommand (synopsis lines, summary, options) */
struct cli_help {
	const char *name;
	const char *synopsis; /* "ptdm ..." lines, '\n'-separated */
	const char *summary;
	const char *options;  /* NULL: none */
};

extern const struct cli_help cli_helps[];
extern const size_t cli_nhelps;
const struct cli_help *cli_help_find(const char *name);
/* the synopsis, summary and options of one command */
void cli_help_print(FILE *f, const struct cli_help *h);
/* the synopsis on stderr for a usage error; returns EXIT_USAGE */
int cli_usage(const char *name);

/* meson's project version (version.c, generated) */
extern const char ptdm_version[];

/* Exit codes: 0 ok, 1 the operation failed, 2 bad usage. */
#define EXIT_USAGE 2

struct opened_dev {
	struct ptdm_spec spec;
	struct host_dev *host;
	struct ptdm_dev_opts opts;
	const char *backend; /* "sysfs", "vfio" or "image" */
};

/*
 * Open what a spec string names: a BDF through sysfs when readonly (to
 * look at it) or through VFIO (to give it to a guest), an image file.  sizes: a -vvv file for an image (NULL: the
 * spec's sizes= or the one beside the dump).
 */
int open_device(const char *spec, const char *sizes, bool readonly,
		struct opened_dev *od, struct ptdm_err *err);
/* The same with the backend for a BDF chosen: read-only sysfs, VFIO, or
 * read-write sysfs (a Xen dom0, where Xen itself maps and interrupts). */
enum open_mode { OPEN_READONLY, OPEN_VFIO, OPEN_SYSFS };
int open_device_as(const char *spec, const char *sizes, enum open_mode mode,
		   struct opened_dev *od, struct ptdm_err *err);

/* Lookups through libpci's pci.ids; fall back to hex. */
void cli_vendor_name(char *buf, size_t n, unsigned vendor);
void cli_device_name(char *buf, size_t n, unsigned vendor, unsigned device);
void cli_class_name(char *buf, size_t n, unsigned class24);

#endif
