/*
 * fakedm.c - a test stand-in for QEMU as libxl's device model, so an HVM
 * guest runs with ptdm as its only device model.  Not part of ptdm.
 *
 * libxl starts it (device_model_override) with QEMU's arguments.  It
 * listens on every "-chardev socket,...,path=P,server=on" socket and
 * answers QMP there the least libxl accepts (greeting, qmp_capabilities,
 * query-chardev -> [], anything else -> {}); starts, for each line K of
 * /etc/xen/ptdm.args, one
 *   ptdm serve LINE --xen-domid N          (stderr to /var/log/ptdm-K.log)
 * - one ioreq server per device - waits for each "ptdm: ready" line, and
 * only then reports the device model "running" in xenstore, as QEMU does
 * once its ioreq server is up.  It stays until libxl kills it
 * (SIGTERM/SIGHUP/SIGINT are passed on) or every ptdm has ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXFD 16
#define MAXDEV 8

static pid_t ptdm[MAXDEV];
static int nptdm;

static void on_signal(int sig)
{
	for (int i = 0; i < nptdm; i++)
		if (ptdm[i] > 0)
			kill(ptdm[i], SIGTERM);
	_exit(0);
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "fakedm: %s: path too long\n", path);
		exit(1);
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(fd, 4)) {
		perror(path);
		exit(1);
	}
	return fd;
}

static void say(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		perror("fakedm: write");
}

/* One QMP command (a JSON object on a line): answer with its id. */
static void answer(int fd, const char *cmd)
{
	char id[64] = "", out[256];
	const char *p = strstr(cmd, "\"id\"");

	if (p && (p = strchr(p, ':'))) {
		size_t n = strcspn(p + 1, ",}");

		snprintf(id, sizeof(id), ", \"id\":%.*s", (int)n, p + 1);
	}
	snprintf(out, sizeof(out), "{\"return\": %s%s}\r\n",
		 strstr(cmd, "query-chardev") ? "[]" : "{}", id);
	say(fd, out);
}

/* Start one ptdm and wait for it to say it is ready. */
static void start_ptdm(const char *args, const char *domid)
{
	char cmd[4300], line[256];
	FILE *out;
	int p[2];

	snprintf(cmd, sizeof(cmd), "exec /bin/ptdm serve %s --xen-domid %s "
		 "2>>/var/log/ptdm-%d.log", args, domid, nptdm + 1);
	if (pipe(p))
		exit(1);
	ptdm[nptdm] = fork();
	if (ptdm[nptdm] == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	nptdm++;
	close(p[1]);
	out = fdopen(p[0], "r");
	while (fgets(line, sizeof(line), out))
		if (!strncmp(line, "ptdm: ready", 11))
			return;
	fprintf(stderr, "fakedm: ptdm %s ended before it was ready\n", args);
	exit(1);
}

static void start_all(const char *domid)
{
	char args[4096];
	FILE *f = fopen("/etc/xen/ptdm.args", "r");

	if (!f) {
		fprintf(stderr, "fakedm: /etc/xen/ptdm.args is missing\n");
		exit(1);
	}
	while (nptdm < MAXDEV && fgets(args, sizeof(args), f)) {
		args[strcspn(args, "\n")] = 0;
		if (args[0])
			start_ptdm(args, domid);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	struct pollfd pf[MAXFD];
	int lfd[MAXFD], nl = 0, n;
	const char *domid = NULL;
	char path[256], cmd[512];
	struct sigaction sa = { .sa_handler = on_signal };

	for (int i = 1; i < argc; i++) {
		const char *p;

		if (!strcmp(argv[i], "-xen-domid") && i + 1 < argc)
			domid = argv[++i];
		if (!strcmp(argv[i], "-chardev") && i + 1 < argc &&
		    (p = strstr(argv[i + 1], "path=")) && nl < MAXFD / 2) {
			snprintf(path, sizeof(path), "%.*s",
				 (int)strcspn(p + 5, ","), p + 5);
			lfd[nl++] = listen_on(path);
		}
	}
	if (!domid) {
		fprintf(stderr, "fakedm: no -xen-domid\n");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	start_all(domid);
	snprintf(cmd, sizeof(cmd), "xenstore-write "
		 "/local/domain/0/device-model/%s/state running", domid);
	if (system(cmd))
		fprintf(stderr, "fakedm: %s failed\n", cmd);
	for (int i = 0; i < nl; i++)
		pf[i] = (struct pollfd){ .fd = lfd[i], .events = POLLIN };
	n = nl;
	for (;;) {
		int st, live = 0;

		for (int i = 0; i < nptdm; i++) {
			if (ptdm[i] > 0 && waitpid(ptdm[i], &st, WNOHANG) == ptdm[i])
				ptdm[i] = -1;
			live += ptdm[i] > 0;
		}
		if (!live)
			return 0; /* every ptdm is gone: so are the devices */
		if (poll(pf, n, 500) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			char buf[4096];
			ssize_t r;

			if (!pf[i].revents)
				continue;
			if (i < nl) { /* a new QMP client */
				int c = accept(pf[i].fd, NULL, NULL);

				if (c < 0 || n >= MAXFD) {
					if (c >= 0)
						close(c);
					continue;
				}
				say(c, "{\"QMP\": {\"version\": {\"qemu\": "
				       "{\"micro\": 0, \"minor\": 2, \"major\": "
				       "7}, \"package\": \"\"}, "
				       "\"capabilities\": []}}\r\n");
				pf[n++] = (struct pollfd){ .fd = c,
							   .events = POLLIN };
				continue;
			}
			r = read(pf[i].fd, buf, sizeof(buf) - 1);
			if (r <= 0) {
				close(pf[i].fd);
				pf[i--] = pf[--n];
				continue;
			}
			buf[r] = 0;
			for (char *c = buf; (c = strstr(c, "\"execute\""));
			     c++)
				answer(pf[i].fd, c);
		}
	}
}
