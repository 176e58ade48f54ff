/*
 * fakedm.c - a test stand-in for QEMU as libxl's HVM device model, so that
 * ptdm can be a guest's only device model (tests/xen/README.md).  Not part
 * of ptdm.
 *
 * libxl (xl create with device_model_override="/bin/fakedm") runs it with
 * QEMU's arguments: -xen-domid N, -name NAME, and QMP control sockets as
 * "-chardev socket,id=...,path=P,server=on,wait=off".  It then waits for
 * xenstore /local/domain/0/device-model/N/state = "running", talks QMP on
 * the socket (qmp_capabilities, query-chardev) and, to unpause, "cont".
 *
 * fakedm:
 *   - listens on every QMP socket it is given and speaks minimal QMP: a
 *     greeting claiming QEMU 7.2.0, then {"return": {}} to every command
 *     ([] for query-chardev, a running status for query-status);
 *   - starts `ptdm serve ARGS --xen-domid N` with ptdm's stdout on a pipe
 *     and waits for the line "ptdm: ready" (ptdm's stderr goes where ours
 *     goes: libxl's /var/log/xen/qemu-dm-NAME.log);
 *   - only then writes state = running, as QEMU does once its ioreq server
 *     is up;
 *   - stays until ptdm ends (ptdm leaves when the domain is destroyed) or
 *     the domain is gone from xenstore, forwarding SIGTERM/SIGINT/SIGHUP
 *     (libxl kills a device model with SIGHUP) to ptdm as SIGTERM, and
 *     exits with ptdm's status.
 *
 * ARGS come from $FAKEDM_ARGS, else from the first line of the file
 * $FAKEDM_CONF (default /etc/xen/fakedm.conf): whitespace-separated, e.g.
 *   /images/nic.txt,sizes=/images/nic-vvv.txt,vslot=3 --dump-guest /tmp/g
 * The ptdm binary is $FAKEDM_PTDM, default /bin/ptdm.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#define MAX_LISTEN 8
#define MAX_CLIENTS 16
#define MAX_ARGS 64
#define READY_SECS 60

struct client {
	int fd;
	char buf[16384];
	size_t len;
};

static int sigpipe[2] = { -1, -1 };
static unsigned domid;
static const char *dmname = "?";

static void logf_(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "fakedm[%u %s] %ld.%03ld: ", domid, dmname,
		(long)ts.tv_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void on_signal(int sig)
{
	int e = errno;
	unsigned char c = (unsigned char)sig;

	if (write(sigpipe[1], &c, 1) < 0) {
		/* nothing to do: the pipe is full, a wakeup is pending */
	}
	errno = e;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		logf_("%s: path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 4)) {
		logf_("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* "socket,id=x,path=P,server=on,wait=off" or "unix:P,server,nowait" */
static bool socket_path(const char *opt, bool qmp, char *out, size_t n)
{
	const char *p, *end;

	if (qmp) {
		if (strncmp(opt, "unix:", 5))
			return false;
		p = opt + 5;
	} else {
		if (strncmp(opt, "socket,", 7) || !strstr(opt, ",server"))
			return false;
		p = strstr(opt, ",path=");
		if (!p)
			return false;
		p += 6;
	}
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	if ((size_t)(end - p) >= n)
		return false;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = 0;
	return true;
}

static void send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t w = write(fd, s, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		len -= (size_t)w;
	}
}

/* The raw JSON value after "key": (a number or a string), or "". */
static void json_raw(const char *obj, const char *key, char *out, size_t n)
{
	char pat[64];
	const char *p, *e;

	out[0] = 0;
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(obj, pat);
	if (!p)
		return;
	p += strlen(pat);
	while (*p == ' ' || *p == ':' || *p == '\t')
		p++;
	if (*p == '"') {
		e = strchr(p + 1, '"');
		if (!e)
			return;
		e++;
	} else {
		e = p;
		while (*e && *e != ',' && *e != '}' && *e != ' ')
			e++;
	}
	if ((size_t)(e - p) >= n)
		return;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = 0;
}

static void qmp_command(struct client *c, const char *obj)
{
	char cmd[128], id[128], reply[512];
	const char *ret = "{}";

	json_raw(obj, "execute", cmd, sizeof(cmd));
	json_raw(obj, "id", id, sizeof(id));
	if (!strcmp(cmd, "\"query-chardev\""))
		ret = "[]";
	else if (!strcmp(cmd, "\"query-status\""))
		ret = "{\"status\": \"running\", \"singlestep\": false, "
		      "\"running\": true}";
	logf_("qmp: %s (id %s)", cmd[0] ? cmd : "(no execute)",
	      id[0] ? id : "none");
	if (id[0])
		snprintf(reply, sizeof(reply), "{\"return\": %s, \"id\": %s}\r\n",
			 ret, id);
	else
		snprintf(reply, sizeof(reply), "{\"return\": %s}\r\n", ret);
	send_all(c->fd, reply);
}

/* Cut complete top-level JSON objects out of the buffer. */
static void qmp_input(struct client *c)
{
	size_t start = 0, i;
	int depth = 0;
	bool str = false, esc = false;

	for (i = 0; i < c->len; i++) {
		char ch = c->buf[i];

		if (str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				str = false;
			continue;
		}
		if (ch == '"') {
			str = true;
		} else if (ch == '{') {
			if (depth++ == 0)
				start = i;
		} else if (ch == '}' && depth > 0 && --depth == 0) {
			char obj[sizeof(c->buf) + 1];

			memcpy(obj, c->buf + start, i + 1 - start);
			obj[i + 1 - start] = 0;
			qmp_command(c, obj);
			memmove(c->buf, c->buf + i + 1, c->len - i - 1);
			c->len -= i + 1;
			i = (size_t)-1; /* rescan from the start */
			start = 0;
		}
	}
	if (c->len == sizeof(c->buf)) { /* garbage that never closes */
		logf_("qmp: oversized input dropped");
		c->len = 0;
	}
}

static int split_args(char *line, char **argv, int max)
{
	int n = 0;

	for (char *tok = strtok(line, " \t\r\n"); tok && n < max;
	     tok = strtok(NULL, " \t\r\n"))
		argv[n++] = tok;
	return n;
}

static pid_t start_ptdm(int *outfd)
{
	static char line[8192], dom[16];
	char *argv[MAX_ARGS + 6];
	const char *ptdm = getenv("FAKEDM_PTDM");
	const char *args = getenv("FAKEDM_ARGS");
	int n = 0, p[2];
	pid_t pid;

	if (!ptdm || !*ptdm)
		ptdm = "/bin/ptdm";
	if (args && *args) {
		snprintf(line, sizeof(line), "%s", args);
	} else {
		const char *conf = getenv("FAKEDM_CONF");
		FILE *f;

		if (!conf || !*conf)
			conf = "/etc/xen/fakedm.conf";
		f = fopen(conf, "re");
		if (!f || !fgets(line, sizeof(line), f)) {
			logf_("no ptdm arguments: FAKEDM_ARGS unset and %s "
			      "unreadable", conf);
			if (f)
				fclose(f);
			return -1;
		}
		fclose(f);
	}
	argv[n++] = (char *)ptdm;
	argv[n++] = (char *)"serve";
	n += split_args(line, argv + n, MAX_ARGS);
	snprintf(dom, sizeof(dom), "%u", domid);
	argv[n++] = (char *)"--xen-domid";
	argv[n++] = dom;
	argv[n] = NULL;
	{
		char shown[9000] = "";

		for (int i = 0; i < n; i++) {
			strncat(shown, argv[i], sizeof(shown) - strlen(shown) - 2);
			strcat(shown, " ");
		}
		logf_("starting %s", shown);
	}
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 1);
		signal(SIGPIPE, SIG_DFL);
		execv(ptdm, argv);
		fprintf(stderr, "fakedm: exec %s: %s\n", ptdm, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	*outfd = p[0];
	return pid;
}

int main(int argc, char **argv)
{
	struct client cl[MAX_CLIENTS];
	int lfd[MAX_LISTEN], nl = 0, nc = 0, outfd = -1, status = 0;
	char path[256], line[512], ready_at_fmt[32];
	size_t linelen = 0;
	bool ready = false, have_domid = false, term_sent = false;
	struct xs_handle *xs;
	struct sigaction sa = { .sa_handler = on_signal };
	time_t started = time(NULL), last_check = 0;
	pid_t pid;

	setvbuf(stderr, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-xen-domid") && i + 1 < argc) {
			domid = (unsigned)strtoul(argv[++i], NULL, 10);
			have_domid = true;
		} else if (!strcmp(argv[i], "-name") && i + 1 < argc) {
			dmname = argv[++i];
		} else if ((!strcmp(argv[i], "-chardev") ||
			    !strcmp(argv[i], "-qmp")) && i + 1 < argc) {
			bool qmp = !strcmp(argv[i], "-qmp");

			i++;
			if (socket_path(argv[i], qmp, path, sizeof(path)) &&
			    nl < MAX_LISTEN) {
				int fd = listen_unix(path);

				if (fd < 0)
					return 1;
				lfd[nl++] = fd;
			}
		}
	}
	{
		char all[4096] = "";

		for (int i = 1; i < argc; i++) {
			strncat(all, argv[i], sizeof(all) - strlen(all) - 2);
			strcat(all, " ");
		}
		logf_("args: %s", all);
	}
	if (!have_domid) {
		logf_("no -xen-domid: not started by libxl?");
		return 1;
	}
	if (nl == 0)
		logf_("warning: no QMP socket in the arguments");
	if (pipe2(sigpipe, O_CLOEXEC | O_NONBLOCK))
		return 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	xs = xs_open(0);
	if (!xs) {
		logf_("xs_open: %s", strerror(errno));
		return 1;
	}
	pid = start_ptdm(&outfd);
	if (pid < 0) {
		logf_("cannot start ptdm: %s", strerror(errno));
		return 1;
	}

	for (;;) {
		struct pollfd p[2 + MAX_LISTEN + MAX_CLIENTS];
		int n = 0, r;

		p[n++] = (struct pollfd){ .fd = sigpipe[0], .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = outfd, .events = POLLIN };
		for (int i = 0; i < nl; i++)
			p[n++] = (struct pollfd){ .fd = lfd[i], .events = POLLIN };
		for (int i = 0; i < nc; i++)
			p[n++] = (struct pollfd){ .fd = cl[i].fd, .events = POLLIN };
		r = poll(p, (nfds_t)n, 1000);
		if (r < 0 && errno != EINTR) {
			logf_("poll: %s", strerror(errno));
			break;
		}
		if (r > 0 && (p[0].revents & POLLIN)) {
			unsigned char c;

			while (read(sigpipe[0], &c, 1) == 1) {
				if (c == SIGCHLD)
					continue;
				logf_("signal %d: stopping ptdm", c);
				if (pid > 0 && !term_sent) {
					kill(pid, SIGTERM);
					term_sent = true;
				}
			}
		}
		if (pid > 0) {
			pid_t w = waitpid(pid, &status, WNOHANG);

			if (w == pid) {
				logf_("ptdm ended: %s %d", WIFEXITED(status) ?
				      "exit" : "signal", WIFEXITED(status) ?
				      WEXITSTATUS(status) : WTERMSIG(status));
				pid = 0;
				break;
			}
		}
		if (outfd >= 0 && p[1].revents & (POLLIN | POLLHUP)) {
			char buf[512];
			ssize_t got = read(outfd, buf, sizeof(buf));

			if (got <= 0) {
				close(outfd);
				outfd = -1;
			}
			for (ssize_t i = 0; i < got; i++) {
				if (buf[i] != '\n' && linelen < sizeof(line) - 1) {
					line[linelen++] = buf[i];
					continue;
				}
				line[linelen] = 0;
				linelen = 0;
				logf_("ptdm stdout: %s", line);
				if (!ready && !strcmp(line, "ptdm: ready")) {
					char xp[64];

					ready = true;
					snprintf(xp, sizeof(xp), "/local/domain/0/"
						 "device-model/%u/state", domid);
					if (!xs_write(xs, XBT_NULL, xp, "running",
						      7)) {
						logf_("xs_write %s: %s", xp,
						      strerror(errno));
						kill(pid, SIGTERM);
						term_sent = true;
					} else {
						snprintf(ready_at_fmt,
							 sizeof(ready_at_fmt),
							 "%lds",
							 (long)(time(NULL) -
								started));
						logf_("%s = running (ptdm ready "
						      "after %s)", xp,
						      ready_at_fmt);
					}
				}
			}
		}
		for (int i = 0; i < nl; i++) {
			if (!(p[2 + i].revents & POLLIN))
				continue;
			int fd = accept4(lfd[i], NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0)
				continue;
			if (nc == MAX_CLIENTS) {
				close(fd);
				continue;
			}
			cl[nc] = (struct client){ .fd = fd };
			send_all(fd, "{\"QMP\": {\"version\": {\"qemu\": "
				     "{\"micro\": 0, \"minor\": 2, \"major\": 7}, "
				     "\"package\": \"fakedm\"}, "
				     "\"capabilities\": []}}\r\n");
			logf_("qmp: connection %d", fd);
			nc++;
		}
		for (int i = 0; i < nc; i++) {
			struct pollfd *q = &p[2 + nl + i];
			ssize_t got;

			if (q->fd != cl[i].fd || !(q->revents & (POLLIN | POLLHUP)))
				continue;
			got = read(cl[i].fd, cl[i].buf + cl[i].len,
				   sizeof(cl[i].buf) - cl[i].len);
			if (got <= 0) {
				close(cl[i].fd);
				cl[i] = cl[--nc];
				/* the moved client is polled next round */
				break;
			}
			cl[i].len += (size_t)got;
			qmp_input(&cl[i]);
		}
		if (!ready && time(NULL) - started > READY_SECS && !term_sent) {
			logf_("ptdm not ready after %d s: stopping it", READY_SECS);
			kill(pid, SIGTERM);
			term_sent = true;
		}
		if (ready && time(NULL) != last_check) {
			last_check = time(NULL);
			if (!xs_is_domain_introduced(xs, domid) && !term_sent) {
				logf_("domain %u is gone: stopping ptdm", domid);
				kill(pid, SIGTERM);
				term_sent = true;
			}
		}
	}
	xs_close(xs);
	if (!ready)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
