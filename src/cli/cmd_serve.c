/*
 * cmd_serve.c - `ptdm serve`: give devices to VMMs.
 *
 *   ptdm serve [--control PATH] [DEVICE WHERE [--dump-guest F]
 *              [--dump-host F]]...
 *     WHERE is one of
 *       --vfio-user PATH   a vfio-user socket (QEMU >= 10.1 vfio-user-pci,
 *                          cloud-hypervisor, SPDK)
 *       --fd N             an already connected vfio-user socket
 *       --mpqemu-fd N      QEMU 7.2's x-pci-proxy-dev socket
 *       --xen-domid N [--xen-cf8]   a Xen ioreq server (serve_xen.c)
 *   ptdm serve --config FILE [--control PATH]   (lines "DEVICE WHERE...")
 *   ptdm serve DEVICE [--dump-guest FILE] --mpqemu-exec CMD ARG...
 *       run CMD (a QEMU with -device x-pci-proxy-dev,...,fd={fd}) on one
 *       end of a socketpair, serve the other, exit with CMD's status;
 *       DEVICE BB:DD.*: one socketpair a function, {fd.F} in CMD
 *       (exec_fds.c)
 *
 * One process, one loop (serve_devices.c), any mix of devices and front
 * ends; --control adds a control socket (serve_control.c, `ptdm ctl`)
 * that adds and removes devices while the others serve, and keeps the
 * process alive with no device.  Prints "ptdm: ready" on stdout once every
 * device is served.  It does not daemonize; SIGTERM or SIGINT end it
 * cleanly (sockets removed, devices detached); SIGHUP is ignored with a
 * log line (there is nothing to reload: use the control socket); SIGUSR1
 * raises an image device's interrupt (an image has no hardware to do it).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/exec_fds.h"
#include "cli/sandbox.h"
#include "cli/serve.h"
#include "cli/view.h"
#include "ptdm/image.h"
#include "ptdm/log.h"
#include "ptdm/mpqemu.h"
#include "ptdm/slot.h"
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

static volatile sig_atomic_t stop, raise_irq, hup;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		raise_irq = 1;
	else if (sig == SIGHUP)
		hup = 1;
	else
		stop = 1;
}

static void signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int usage(void)
{
	fprintf(stderr, "usage: ptdm serve [--control PATH] DEVICE WHERE "
			"[--dump-guest F] [--dump-host F] [DEVICE WHERE ...]\n"
			"  WHERE: --vfio-user PATH | --fd N | --mpqemu-fd N | "
			"--xen-domid N [--xen-cf8] [--xen-gfx-passthru]\n"
			"       ptdm serve --config FILE [--control PATH]\n"
			"       ptdm serve --control PATH\n"
			"       ptdm serve DEVICE [--dump-guest FILE] "
			"--mpqemu-exec CMD ARG...\n");
	return EXIT_USAGE;
}

static int parse_fd(const char *opt, const char *arg, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < 0 || v > 65535) {
		fprintf(stderr, "ptdm serve: %s \"%s\": not a file descriptor "
				"number\n", opt, arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/*
 * One device's words: DEVICE, then its WHERE and options up to the next
 * word that is not an option.  Returns the words used, or -1 (said why).
 */
static int parse_device(char **v, int n, struct serve_where *w)
{
	int i = 1;
	bool have = false;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	while (i < n && !strncmp(v[i], "--", 2)) {
		const char *o = v[i];

		if (!strcmp(o, "--xen-cf8")) {
			w->xen_cf8 = true;
			i++;
			continue;
		}
		if (!strcmp(o, "--xen-gfx-passthru")) {
			w->xen_gfx_passthru = true;
			i++;
			continue;
		}
		if (i + 1 >= n) {
			fprintf(stderr, "ptdm serve: %s: wants a value\n", o);
			return -1;
		}
		if (!strcmp(o, "--dump-guest")) {
			w->dump_guest = v[i + 1];
		} else if (!strcmp(o, "--dump-host")) {
			w->dump_host = v[i + 1];
		} else if (have) {
			fprintf(stderr, "ptdm serve: %s: %s: one WHERE a "
					"device\n", v[0], o);
			return -1;
		} else if (!strcmp(o, "--vfio-user")) {
			w->kind = SERVE_VFIO_USER;
			w->path = v[i + 1];
			have = true;
		} else if (!strcmp(o, "--fd") || !strcmp(o, "--mpqemu-fd")) {
			w->kind = o[2] == 'f' ? SERVE_FD : SERVE_MPQEMU_FD;
			if (parse_fd(o, v[i + 1], &w->fd))
				return -1;
			have = true;
		} else if (!strcmp(o, "--xen-domid")) {
			char *end;

			w->kind = SERVE_XEN;
			w->domid = strtol(v[i + 1], &end, 10);
			if (*end || w->domid < 1 || w->domid >= 0x7ff0) {
				fprintf(stderr, "ptdm serve: --xen-domid %s: "
						"want a guest domain id\n",
					v[i + 1]);
				return -1;
			}
			have = true;
		} else {
			fprintf(stderr, "ptdm serve: \"%s\": want --vfio-user "
					"PATH, --fd N, --mpqemu-fd N or "
					"--xen-domid N\n", o);
			return -1;
		}
		i += 2;
	}
	if (!have) {
		fprintf(stderr, "ptdm serve: %s: where to serve it? (--vfio-user "
				"PATH, --fd N, --mpqemu-fd N, --xen-domid N)\n",
			v[0]);
		return -1;
	}
	if (w->xen_cf8 && w->kind != SERVE_XEN) {
		fprintf(stderr, "ptdm serve: --xen-cf8 is for --xen-domid\n");
		return -1;
	}
	if (w->xen_gfx_passthru && w->kind != SERVE_XEN) {
		fprintf(stderr, "ptdm serve: --xen-gfx-passthru is for "
			"--xen-domid\n");
		return -1;
	}
	return i;
}

static int add_words(struct server *s, char **v, int n)
{
	for (int i = 0; i < n;) {
		struct ptdm_err err = { "" };
		struct serve_where w;
		int k = parse_device(v + i, n - i, &w);

		if (k < 0)
			return -1;
		if (server_add_slot(s, v[i], NULL, &w, NULL, &err) < 0) {
			fprintf(stderr, "ptdm serve: %s\n", err.msg);
			return -1;
		}
		i += k;
	}
	return 0;
}

static int read_config(struct server *s, const char *file)
{
	FILE *f = fopen(file, "re");
	char line[8192];
	unsigned no = 0;

	if (!f) {
		fprintf(stderr, "ptdm serve: %s: %s\n", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *v[16], *save = NULL, *t;
		int n = 0;

		no++;
		for (t = strtok_r(line, " \t\r\n", &save); t && n < 16;
		     t = strtok_r(NULL, " \t\r\n", &save))
			v[n++] = t;
		if (!n || v[0][0] == '#')
			continue;
		if (t || add_words(s, v, n)) {
			fprintf(stderr, "ptdm serve: (at %s:%u: want \"DEVICE "
					"--vfio-user PATH\" or another WHERE)\n",
				file, no);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/*
 * The functions --mpqemu-exec serves for spec: a bit per function number
 * of BB:DD.* (*slot set), or 0 for one device.  0 or -1 (said why).
 */
static int exec_functions(const char *spec, bool *slot, unsigned *fns)
{
	static char specs[SLOT_MAX_FUNCS][SLOT_SPEC_MAX];
	struct ptdm_err err = { "" };
	struct ptdm_spec ps;
	int n;

	*slot = false;
	*fns = 0;
	if (ptdm_spec_parse(&ps, spec, &err))
		goto bad;
	if (ps.func != PTDM_SPEC_FUNC_ALL)
		return 0;
	*slot = true;
	n = slot_expand(spec, specs, &err);
	if (n < 0)
		goto bad;
	for (int i = 0; i < n; i++) {
		if (ptdm_spec_parse(&ps, specs[i], &err))
			goto bad;
		*fns |= 1u << ps.func;
	}
	return 0;
bad:
	fprintf(stderr, "ptdm serve: %s\n", err.msg);
	return -1;
}

static void close_pairs(int (*sv)[2], int n)
{
	for (int f = 0; f < n; f++)
		for (int e = 0; e < 2; e++)
			if (sv[f][e] >= 0)
				close(sv[f][e]);
}

/* the VMM's ends, one a function (-1 none) */
static void close_ends(const int *ends)
{
	for (int f = 0; f < SLOT_MAX_FUNCS; f++)
		if (ends[f] >= 0)
			close(ends[f]);
}

/*
 * ptdm serve DEVICE [--dump-guest F] --mpqemu-exec CMD ARG...: one
 * socketpair per device served (each function of BB:DD.*), the VMM's
 * ends named in CMD by exec_fds.c's placeholders, checked before anything
 * is opened.
 */
static int serve_exec(int argc, char **argv)
{
	struct serve_where w = { .kind = SERVE_MPQEMU_FD, .fd = -1 };
	struct ptdm_err err = { "" };
	int sv[SLOT_MAX_FUNCS][2], ours[SLOT_MAX_FUNCS], theirs[SLOT_MAX_FUNCS];
	int i = 2, status = 0, rc = 1;
	unsigned fns;
	bool slot;
	struct server s;
	pid_t pid;

	if (i + 1 < argc && !strcmp(argv[i], "--dump-guest")) {
		w.dump_guest = argv[i + 1];
		i += 2;
	}
	if (i >= argc || strcmp(argv[i], "--mpqemu-exec") || i + 1 >= argc) {
		fprintf(stderr, "usage: ptdm serve DEVICE [--dump-guest FILE] "
				"--mpqemu-exec CMD ARG...\n");
		return EXIT_USAGE;
	}
	i++;
	if (exec_functions(argv[1], &slot, &fns))
		return 1;
	if (exec_fds_check(argv + i, argc - i, slot, fns, &err)) {
		fprintf(stderr, "ptdm serve: %s\n", err.msg);
		return EXIT_USAGE;
	}
	memset(sv, -1, sizeof(sv));
	for (int f = 0; f < SLOT_MAX_FUNCS; f++) {
		ours[f] = theirs[f] = -1;
		if (slot ? !(fns & (1u << f)) : f > 0)
			continue;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[f])) {
			perror("ptdm serve: socketpair");
			close_pairs(sv, SLOT_MAX_FUNCS);
			return 1;
		}
		ours[f] = sv[f][0];
		theirs[f] = sv[f][1];
	}
	signals();
	if (server_init(&s, &stop)) {
		perror("ptdm serve: epoll");
		close_pairs(sv, SLOT_MAX_FUNCS);
		return 1;
	}
	s.raise_irq = &raise_irq;
	if (slot)
		w.fn_fd = ours;
	else
		w.fd = ours[0];
	if (server_add_slot(&s, argv[1], NULL, &w, NULL, &err) < 0) {
		/* our ends went with the devices removed (or go at exit) */
		fprintf(stderr, "ptdm serve: %s\n", err.msg);
		close_ends(theirs);
		server_fini(&s);
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("ptdm serve: fork");
		close_ends(theirs);
		server_fini(&s);
		return 1;
	}
	if (pid == 0) {
		char **args = exec_fds_apply(argv + i, argc - i, theirs[0],
					     slot ? theirs : NULL);

		for (int f = 0; f < SLOT_MAX_FUNCS; f++) {
			int fl;

			if (theirs[f] < 0)
				continue;
			fl = fcntl(theirs[f], F_GETFD);
			if (fl < 0 || fcntl(theirs[f], F_SETFD, fl & ~FD_CLOEXEC))
				_exit(127);
		}
		if (!args)
			_exit(127);
		execvp(args[0], args);
		fprintf(stderr, "ptdm serve: %s: %s\n", args[0], strerror(errno));
		_exit(127);
	}
	close_ends(theirs);
	if (sandbox_enter(&s, true)) /* sandbox.c: after setup, before the loop */
		stop = 1;
	/* serve until the VMM closes its ends (or we are told to stop); the
	 * devices leave with their --dump-guest written */
	server_run(&s);
	server_fini(&s);
	if (stop)
		kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return rc;
}

int cmd_serve(int argc, char **argv)
{
	const char *control = NULL, *config = NULL;
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	struct ptdm_err gerr = { "" };
	struct server s;
	int nwords = 0, rc = 1;

	if (sandbox_take_options(&argc, argv)) /* --sandbox, --user */
		return EXIT_USAGE;
	for (int i = 2; i < argc && i < 5; i++)
		if (!strcmp(argv[i], "--mpqemu-exec")) {
			free(words);
			return serve_exec(argc, argv);
		}
	if (!words)
		return 1;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--control") ||
		     !strcmp(argv[i], "--config")) && i + 1 < argc) {
			if (!strcmp(argv[i], "--control"))
				control = argv[i + 1];
			else
				config = argv[i + 1];
			i++;
			continue;
		}
		words[nwords++] = argv[i];
	}
	if ((config && nwords) || (!config && !nwords && !control) ||
	    (nwords && !strncmp(words[0], "--", 2))) {
		free(words);
		return usage();
	}
	signals();
	if (server_init(&s, &stop)) {
		perror("ptdm serve: epoll");
		free(words);
		return 1;
	}
	s.raise_irq = &raise_irq;
	s.hup = &hup;
	if (control) {
		struct ptdm_err err = { "" };

		if (ctl_server_start(&s, control, &err)) {
			fprintf(stderr, "ptdm serve: --control %s\n", err.msg);
			goto out;
		}
	}
	s.group_check_at_end = true; /* the devices named together */
	if (config ? read_config(&s, config) : add_words(&s, words, nwords))
		goto out;
	if (server_check_groups(&s, &gerr)) {
		fprintf(stderr, "ptdm serve: %s\n", gerr.msg);
		goto out;
	}
	if (sandbox_enter(&s, false)) /* sandbox.c: after setup, before the loop */
		goto out;
	for (struct served *d = s.devs; d; d = d->next)
		fprintf(stderr, "ptdm serve: %s on %s\n", d->od.host->name,
			d->where);
	if (control)
		fprintf(stderr, "ptdm serve: control socket %s\n", control);
	printf("ptdm: ready\n");
	fflush(stdout);
	rc = server_run(&s);
out:
	server_fini(&s);
	free(words);
	return rc;
}
