/*
 * cmd_serve.c - `ptdm serve`: give devices to VMMs over vfio-user.
 *
 *   ptdm serve DEVICE --vfio-user PATH [DEVICE --vfio-user PATH]...
 *   ptdm serve DEVICE --fd N          (an already connected socket)
 *   ptdm serve --config FILE          (lines "DEVICE --vfio-user PATH")
 *   ptdm serve DEVICE --mpqemu-fd N   (QEMU 7.2's x-pci-proxy-dev socket)
 *   ptdm serve DEVICE --xen-domid N ... (a Xen ioreq server: serve_xen.c)
 *   ptdm serve DEVICE [--dump-guest FILE] --mpqemu-exec CMD ARG...
 *       run CMD (a QEMU with -device x-pci-proxy-dev,...,fd={fd}) on one
 *       end of a socketpair, serve the other, exit with CMD's status;
 *       --dump-guest writes the guest's config view when it is over
 *
 * One process, one poll loop, one socket per device.  It does not
 * daemonize; SIGTERM or SIGINT end it cleanly (sockets removed, devices
 * detached).  A device is opened for real (not read-only); an image needs
 * every BAR size to be served.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ptdm/image.h"
#include "ptdm/mpqemu.h"
#include "ptdm/vfio.h"
#include "ptdm/vfu_server.h"
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cli/view.h"

#define MAX_DEVICES 64

struct served {
	struct opened_dev od;
	struct ptdm_dev *dev;
	char path[4096];
	int fd;
	bool connected;
	bool mpqemu;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int add(struct served *s, unsigned *n, const char *spec,
	       const char *how, const char *arg)
{
	struct ptdm_err err = { "" };
	struct served *x;
	char *end;

	if (*n >= MAX_DEVICES) {
		fprintf(stderr, "ptdm serve: at most %d devices\n", MAX_DEVICES);
		return -1;
	}
	x = &s[*n];
	memset(x, 0, sizeof(*x));
	x->fd = -1;
	if (strcmp(how, "--vfio-user") && strcmp(how, "--fd") &&
	    strcmp(how, "--mpqemu-fd")) {
		fprintf(stderr, "ptdm serve: \"%s\": want --vfio-user PATH, "
				"--fd N or --mpqemu-fd N\n", how);
		return -1;
	}
	if (open_device(spec, NULL, false, &x->od, &err)) {
		fprintf(stderr, "ptdm serve: %s\n", err.msg);
		return -1;
	}
	(*n)++;
	if (!strcmp(x->od.backend, "image") && !image_sizes_complete(x->od.host)) {
		fprintf(stderr, "ptdm serve: %s: BAR sizes unknown; serving an "
				"image needs them (give an lspci -vvv file with "
				"sizes=FILE)\n", spec);
		return -1;
	}
	if (ptdm_dev_attach(&x->dev, x->od.host, &x->od.opts, &err)) {
		fprintf(stderr, "ptdm serve: %s\n", err.msg);
		return -1;
	}
	if (!strcmp(how, "--fd") || !strcmp(how, "--mpqemu-fd")) {
		long v = strtol(arg, &end, 10);

		if (*end || v < 0 || v > 65535) {
			fprintf(stderr, "ptdm serve: --fd \"%s\": not a file "
					"descriptor number\n", arg);
			return -1;
		}
		x->fd = (int)v;
		x->connected = true;
		x->mpqemu = !strcmp(how, "--mpqemu-fd");
		return 0;
	}
	snprintf(x->path, sizeof(x->path), "%s", arg);
	x->fd = vfu_listen_unix(arg, &err);
	if (x->fd < 0) {
		x->path[0] = 0;
		fprintf(stderr, "ptdm serve: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Once per device: may the VMM map the BARs itself, and what that means. */
static void say_bar_policy(const struct served *x)
{
	const char *name = x->od.host->name;

	if (x->od.opts.mmap_trap)
		fprintf(stderr, "ptdm serve: %s: mmap=trap: no BAR fd is handed "
				"to the VMM; every BAR access goes through ptdm "
				"(slower, and the VMM never holds a device fd)\n",
			name);
	else if (vfio_is(x->od.host))
		fprintf(stderr, "ptdm serve: %s: mmap=fd: the VMM maps the BARs "
				"from the VFIO device fd, which also lets it issue "
				"VFIO ioctls and write config space past ptdm's "
				"policy (docs/security.md); mmap=trap keeps the fd "
				"from the VMM\n", name);
	else
		fprintf(stderr, "ptdm serve: %s: mmap=fd: the VMM maps BAR memory "
				"from sealed memfds\n", name);
}

static int read_config(struct served *s, unsigned *n, const char *file)
{
	FILE *f = fopen(file, "re");
	char line[8192];
	unsigned no = 0;

	if (!f) {
		fprintf(stderr, "ptdm serve: %s: %s\n", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char spec[4096], how[32], arg[4096], extra[2];
		int k;

		no++;
		if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
			continue;
		k = sscanf(line, "%4095s %31s %4095s %1s", spec, how, arg, extra);
		if (k != 3) {
			fprintf(stderr, "ptdm serve: %s:%u: want \"DEVICE "
					"--vfio-user PATH\"\n", file, no);
			fclose(f);
			return -1;
		}
		if (add(s, n, spec, how, arg)) {
			fprintf(stderr, "ptdm serve: (at %s:%u)\n", file, no);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* x-pci-proxy-dev peers: one connected socket each, served until gone. */
static int serve_mpqemu(struct served *s, unsigned n)
{
	struct mpq_conn c[MAX_DEVICES];
	struct pollfd p[MAX_DEVICES];
	unsigned live = n;

	for (unsigned i = 0; i < n; i++) {
		mpq_conn_init(&c[i], s[i].fd, s[i].dev);
		s[i].fd = -1; /* the connection owns it */
	}
	while (!stop && live) {
		for (unsigned i = 0; i < n; i++) {
			p[i].fd = c[i].fd;
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		if (poll(p, n, 500) < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; i < n; i++) {
			int rc;

			if (!p[i].revents || c[i].fd < 0)
				continue;
			rc = mpq_conn_handle(&c[i]);
			if (!rc)
				continue;
			ptdm_log(PTDM_LOG_INFO, "%s: proxy gone (%s)",
				 s[i].od.host->name, strerror(-rc));
			mpq_conn_close(&c[i]);
			live--;
		}
	}
	for (unsigned i = 0; i < n; i++)
		mpq_conn_close(&c[i]);
	return 0;
}

/* Put fd where {fd} is in each argument; NULL-terminated copy. */
static char **with_fd(char **argv, int n, int fd)
{
	char **out = calloc((size_t)n + 1, sizeof(*out));

	for (int i = 0; out && i < n; i++) {
		const char *at = strstr(argv[i], "{fd}");

		if (!at) {
			out[i] = argv[i];
			continue;
		}
		out[i] = malloc(strlen(argv[i]) + 16);
		if (!out[i])
			return NULL; /* the process exits right after */
		sprintf(out[i], "%.*s%d%s", (int)(at - argv[i]), argv[i], fd,
			at + 4);
	}
	return out;
}

static int serve_exec(int argc, char **argv)
{
	struct served *s = calloc(1, sizeof(*s));
	struct sigaction sa = { .sa_handler = on_signal };
	const char *dump = NULL;
	int sv[2], i = 2, status = 0, rc = 1;
	pid_t pid;

	if (!s)
		return 1;
	if (i + 1 < argc && !strcmp(argv[i], "--dump-guest")) {
		dump = argv[i + 1];
		i += 2;
	}
	if (i >= argc || strcmp(argv[i], "--mpqemu-exec") || i + 1 >= argc) {
		fprintf(stderr, "usage: ptdm serve DEVICE [--dump-guest FILE] "
				"--mpqemu-exec CMD ARG...\n");
		free(s);
		return EXIT_USAGE;
	}
	i++;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("ptdm serve: socketpair");
		free(s);
		return 1;
	}
	if (add(s, &(unsigned){ 0 }, argv[1], "--mpqemu-fd", "0"))
		goto out;
	s->fd = sv[0];
	pid = fork();
	if (pid < 0) {
		perror("ptdm serve: fork");
		goto out;
	}
	if (pid == 0) {
		char **args = with_fd(argv + i, argc - i, sv[1]);
		int fl = fcntl(sv[1], F_GETFD);

		if (!args || fl < 0 || fcntl(sv[1], F_SETFD, fl & ~FD_CLOEXEC))
			_exit(127);
		execvp(args[0], args);
		fprintf(stderr, "ptdm serve: %s: %s\n", args[0], strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	sv[1] = -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* serve until the VMM closes its end (or we are told to stop) */
	{
		struct mpq_conn c;

		mpq_conn_init(&c, s->fd, s->dev);
		while (!stop) {
			struct pollfd p = { .fd = c.fd, .events = POLLIN };

			if (poll(&p, 1, 500) < 0 && errno != EINTR)
				break;
			if (p.revents && mpq_conn_handle(&c))
				break;
		}
		c.fd = -1; /* s->fd is closed below */
		mpq_conn_close(&c);
	}
	if (stop)
		kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (dump) {
		FILE *f = fopen(dump, "we");

		if (!f || view_dump(f, s->dev, true)) {
			fprintf(stderr, "ptdm serve: %s: cannot write\n", dump);
			rc = rc ? rc : 1;
		}
		if (f)
			fclose(f);
	}
out:
	if (sv[1] >= 0)
		close(sv[1]);
	if (s->fd >= 0)
		close(s->fd);
	ptdm_dev_free(s->dev);
	host_close(s->od.host);
	free(s);
	return rc;
}

int cmd_serve(int argc, char **argv)
{
	struct served *s;

	for (int i = 2; i < argc && i < 5; i++)
		if (!strcmp(argv[i], "--mpqemu-exec"))
			return serve_exec(argc, argv);
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--xen-domid"))
			return serve_xen(argc, argv);
	s = calloc(MAX_DEVICES, sizeof(*s));
	struct vfu_listener l[MAX_DEVICES];
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned n = 0;
	int rc = 1;

	if (!s)
		return 1;
	if (argc == 3 && !strcmp(argv[1], "--config")) {
		if (read_config(s, &n, argv[2]))
			goto out;
	} else if (argc >= 4 && (argc - 1) % 3 == 0) {
		for (int i = 1; i + 2 < argc; i += 3)
			if (add(s, &n, argv[i], argv[i + 1], argv[i + 2]))
				goto out;
	} else {
		fprintf(stderr, "usage: ptdm serve DEVICE --vfio-user PATH "
				"[DEVICE --vfio-user PATH]...\n"
				"       ptdm serve DEVICE --fd N\n"
				"       ptdm serve DEVICE --mpqemu-fd N\n"
				"       ptdm serve DEVICE --xen-domid N "
				"[--xen-cf8] [--dump-guest F] [--dump-host F]\n"
				"       ptdm serve --config FILE\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (!n) {
		fprintf(stderr, "ptdm serve: no devices\n");
		goto out;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (s[0].mpqemu) {
		for (unsigned i = 1; i < n; i++)
			if (!s[i].mpqemu) {
				fprintf(stderr, "ptdm serve: --mpqemu-fd and "
						"vfio-user devices cannot be "
						"mixed in one process\n");
				goto out;
			}
		rc = serve_mpqemu(s, n);
		goto out;
	}
	for (unsigned i = 0; i < n; i++)
		if (s[i].mpqemu) {
			fprintf(stderr, "ptdm serve: --mpqemu-fd and vfio-user "
					"devices cannot be mixed in one "
					"process\n");
			goto out;
		}
	for (unsigned i = 0; i < n; i++) {
		l[i] = (struct vfu_listener){ .fd = s[i].fd,
					      .connected = s[i].connected,
					      .dev = s[i].dev,
					      .name = s[i].od.host->name };
		if (s[i].connected)
			s[i].fd = -1; /* the loop owns it now */
		fprintf(stderr, "ptdm serve: %s on %s\n", s[i].od.host->name,
			s[i].connected ? "an inherited socket" : s[i].path);
		say_bar_policy(&s[i]);
	}
	rc = vfu_serve(l, n, &stop) ? 1 : 0;
out:
	for (unsigned i = 0; i < n; i++) {
		if (s[i].fd >= 0)
			close(s[i].fd);
		if (s[i].path[0])
			unlink(s[i].path);
		ptdm_dev_free(s[i].dev);
		host_close(s[i].od.host);
	}
	free(s);
	return rc;
}
