/*
 * ptdm-xen-dm.c - the device model libxl starts for a domain whose PCI
 * passthrough devices ptdm serves: one line in the domain's config,
 *   device_model_override = "/usr/libexec/ptdm/ptdm-xen-dm"
 * and pci=[...], xl pci-attach and xl pci-detach work as with QEMU's own
 * xen-pci-passthrough (docs/xen.md).
 *
 * libxl execs it with QEMU's arguments.  It starts Debian's qemu-xen with
 * the same arguments, for everything else in the machine, except libxl's
 * QMP monitor (-chardev socket,id=libxl-cmd,path=P or fd=N): the wrapper
 * listens there itself and gives QEMU a private socket.  Each libxl
 * connection gets its own connection to QEMU, and JSON objects pass
 * through in order, one command at a time:
 *   device_add, driver xen-pci-passthrough   served by ptdm: `device-add`
 *                                            on the control socket of the
 *                                            domain's one `ptdm serve`
 *                                            (started at the first)
 *   device_del of such a device              `device-del`: reset, release
 *   query-pci                                QEMU's answer plus ptdm's
 *                                            devices on bus 0
 *   anything else, QEMU's greeting, events   untouched; fds libxl passes
 *                                            (SCM_RIGHTS, add-fd) go along
 * Every object from either side is parsed by json-c in strict mode and
 * bounded (MAX_OBJ from libxl, MAX_QOBJ from QEMU); output is queued
 * without blocking and bounded (MAX_OUT); a peer that breaks a bound is
 * dropped with one log line.  Talking to ptdm is one request and its reply
 * with a time limit (PTDM_WAIT_MS): ptdm is the wrapper's own child and
 * answers at once.  SIGHUP/SIGTERM/SIGINT (libxl stops its device model
 * with SIGHUP) go on to QEMU; when QEMU has ended, every ptdm device is
 * removed, ptdm is told to quit, and the wrapper exits as QEMU did.
 *
 *
 * Image devices (-ptdm-image /PATH@SLOT in device_model_args_hvm, taken
 * out of QEMU's arguments) are added to ptdm before QEMU starts.  Their
 * state travels in the device model's save record: after QEMU answers
 * xen-save-devices-state, their ptdm_dev_save blobs are appended to the
 * same file as one section (dmrec.h); on restore (-incoming fd:N) the
 * section is split off and checked before anything starts, QEMU gets a
 * memfd with only its own bytes, and each image is added with its state
 * loaded (a refused section or state: the wrapper exits, nothing runs).
 * Both are synchronous: the domain is paused and libxl waits.
 *
 * QEMU's private monitor is RUNDIR/ptdm-dm-qmp-DOMID and ptdm's control
 * socket RUNDIR/ptdm-dm-ctl-DOMID (RUNDIR /var/run/xen; `ptdm ctl` works
 * on it).  PTDM_XEN_DM_QEMU, PTDM_XEN_DM_PTDM and PTDM_XEN_DM_RUNDIR name
 * other binaries and another directory (tests).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dmrec.h"
#include "util/fileio.h"

#ifndef PTDM_BIN
#define PTDM_BIN "/usr/bin/ptdm"
#endif
#define QEMU_BIN "/usr/libexec/xen-qemu-system-i386"

#define MAX_CONNS 8
#define MAX_OBJ (64u << 10)   /* one object from libxl */
#define MAX_QOBJ (1u << 20)   /* one from QEMU or ptdm */
#define MAX_OUT (2u << 20)    /* queued towards one peer */
#define MAX_FDS 8             /* passed along with one command */
#define MAX_DEVS 32
#define PTDM_WAIT_MS 30000
#define STOP_WAIT_MS 10000

struct buf {
	char *p;
	size_t len, cap;
};

/* one end of a proxied connection: what came in, what goes out */
struct side {
	int fd;
	struct json_tokener *tok;
	size_t obj_bytes;     /* of the object being parsed */
	struct buf in, out;
};

enum waiting {
	WAIT_NONE,
	WAIT_REPLY,           /* a forwarded command: pass QEMU's reply on */
	WAIT_QUERY_PCI,       /* forwarded query-pci: add ptdm's devices */
	WAIT_ADD_SLOTS,       /* our own query-pci before a device_add */
	WAIT_ADD_FD,          /* add-fd: note the fdset QEMU puts it in */
	WAIT_SAVE,            /* xen-save-devices-state: then ptdm's section */
};

struct conn {
	struct side c, q;     /* libxl's side, QEMU's side */
	int fds[MAX_FDS];     /* received from libxl, not yet passed on */
	unsigned nfds;
	enum waiting wait;
	struct json_object *held; /* the device_add waiting for the slots */
	int save_fd;          /* our copy of the last add-fd's fd, or -1 */
	long save_fdset;      /* its fdset (QEMU's reply), or -1 */
	int save_to;          /* the file xen-save-devices-state writes */
	bool dead;
};

/* an image device of -ptdm-image, served from the start */
struct ptimg {
	char id[DMREC_ID_LEN]; /* ptdm-img-SS */
	char spec[1024];      /* for ptdm: /PATH,vslot=SLOT[,OPT...] */
	unsigned slot;
	char state[128];      /* the state file to load, "" none */
};

struct ptdev {
	char id[32];          /* libxl's qdev id, also ptdm's device id */
	char host[16];        /* SSSS:BB:DD.F */
	unsigned slot, fn;
	unsigned vendor, device, class_, svendor, sdevice;
};

static struct {
	long domid;
	pid_t qemu, ptdm;
	int qemu_status;
	int lfd;              /* libxl's monitor socket, ours now */
	struct side ctl;      /* ptdm's control socket, fd -1 until started */
	char qmp_path[108], ctl_path[108];
	struct conn *conns[MAX_CONNS];
	struct ptdev dev[MAX_DEVS];
	unsigned ndev;
	struct ptimg img[DMREC_MAX_DEVS];
	unsigned nimg, nimg_added;
	char rundir[72];
	unsigned long internal_id;
	bool igd_passthru; /* -machine ...,igd-passthru=on: xl's gfx_passthru */
} g = { .lfd = -1, .ctl = { .fd = -1 } };

/* libxl asks for IGD passthrough (gfx_passthru) with "igd-passthru=on" in
 * QEMU's -machine options (libxl_dm.c); QEMU's booleans also take yes,
 * true and y. */
static bool machine_igd_passthru(const char *opts)
{
	static const char *const on[] = { "on", "yes", "true", "y" };
	const char *p = opts;

	while ((p = strstr(p, "igd-passthru="))) {
		bool start = p == opts || p[-1] == ',';

		p += strlen("igd-passthru=");
		for (unsigned i = 0; start && i < sizeof(on) / sizeof(on[0]);
		     i++) {
			size_t n = strlen(on[i]);

			if (!strncmp(p, on[i], n) && (!p[n] || p[n] == ','))
				return true;
		}
	}
	return false;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "ptdm-xen-dm: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* ---- buffers ---- */

static int buf_add(struct buf *b, const void *p, size_t n, size_t max)
{
	if (b->len + n > max)
		return -ENOBUFS;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *q;

		while (cap < b->len + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void buf_eat(struct buf *b, size_t n)
{
	if (!n)
		return;
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

/* Write what is queued; never blocks.  0, or -errno: drop the peer. */
static int side_flush(struct side *s)
{
	while (s->out.len) {
		ssize_t n = send(s->fd, s->out.p, s->out.len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		buf_eat(&s->out, (size_t)n);
	}
	return 0;
}

/* Queue one object and a line end; fds (if any) go with its first byte. */
static int side_send(struct side *s, struct json_object *o, int *fds,
		     unsigned nfds)
{
	const char *txt = json_object_to_json_string_ext(o,
						JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(txt);
	int rc;

	if (nfds) {
		char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct iovec iov = { (void *)txt, 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = CMSG_SPACE(sizeof(int) *
								 nfds) };
		struct cmsghdr *c;

		/* fds go only with a message that starts a clean stream */
		if (s->out.len)
			return -EBUSY;
		memset(cbuf, 0, sizeof(cbuf));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		if (sendmsg(s->fd, &m, MSG_NOSIGNAL) != 1)
			return -errno;
		txt++;
		len--;
	}
	rc = buf_add(&s->out, txt, len, MAX_OUT);
	if (!rc)
		rc = buf_add(&s->out, "\r\n", 2, MAX_OUT);
	return rc ? rc : side_flush(s);
}

/*
 * The next whole object in s->in, strictly parsed: 1 with *out, 0 when
 * more bytes are needed, -EMSGSIZE past max, -EPROTO for anything that is
 * not a JSON object.
 */
static int side_next(struct side *s, size_t max, struct json_object **out)
{
	size_t used = 0;
	int rc = 0;

	*out = NULL;
	while (used < s->in.len && !rc) {
		const char *p = s->in.p + used;
		size_t n = s->in.len - used, k;
		struct json_object *o;
		enum json_tokener_error e;

		if (!s->obj_bytes && strchr(" \t\r\n", *p)) {
			used++;
			continue;
		}
		/* strict json-c refuses bytes after a value in the same
		 * call, and QEMU writes a reply and an event (STOP after
		 * "stop") in one go: feed up to each '}', one object at a
		 * time (as serve_control.c does) */
		{
			const char *close_at = memchr(p, '}', n);

			if (close_at)
				n = (size_t)(close_at - p) + 1;
		}
		if (n > INT_MAX)
			n = INT_MAX;
		o = json_tokener_parse_ex(s->tok, p, (int)n);
		e = json_tokener_get_error(s->tok);
		k = e == json_tokener_continue ? n
					       : json_tokener_get_parse_end(s->tok);
		used += k;
		s->obj_bytes += k;
		if (s->obj_bytes > max) {
			json_object_put(o);
			rc = -EMSGSIZE;
		} else if (e == json_tokener_continue) {
			continue;
		} else if (e != json_tokener_success || !o ||
			   !json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			rc = -EPROTO;
		} else {
			*out = o;
			rc = 1;
		}
		s->obj_bytes = 0;
		json_tokener_reset(s->tok);
	}
	buf_eat(&s->in, used);
	return rc;
}

static int side_init(struct side *s, int fd)
{
	s->fd = fd;
	s->tok = json_tokener_new_ex(32);
	if (!s->tok)
		return -ENOMEM;
	json_tokener_set_flags(s->tok, JSON_TOKENER_STRICT);
	return 0;
}

static void side_fini(struct side *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->tok)
		json_tokener_free(s->tok);
	s->tok = NULL;
	free(s->in.p);
	free(s->out.p);
	memset(&s->in, 0, sizeof(s->in));
	memset(&s->out, 0, sizeof(s->out));
}

/* ---- replies in QMP's shape ---- */

static struct json_object *error_reply(const char *desc,
				       struct json_object *id)
{
	struct json_object *o = json_object_new_object(),
			   *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(
					       "GenericError"));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
	return o;
}

static struct json_object *return_reply(struct json_object *ret,
					struct json_object *id)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "return", ret ? ret
						: json_object_new_object());
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
	return o;
}

static void reply(struct conn *c, struct json_object *o)
{
	if (side_send(&c->c, o, NULL, 0)) {
		say("a QMP client does not read its replies: dropped");
		c->dead = true;
	}
	json_object_put(o);
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* ---- ptdm: one `ptdm serve --control` for the domain ---- */

/* Wait for the next object from ptdm (a reply; events are skipped). */
static struct json_object *ctl_read(long deadline)
{
	struct json_object *o;
	char buf[4096];

	for (;;) {
		int rc = side_next(&g.ctl, MAX_QOBJ, &o);
		struct pollfd pf = { g.ctl.fd, POLLIN, 0 };
		ssize_t n;
		long left = deadline - now_ms();

		if (rc < 0) {
			say("ptdm's control socket sent %s",
			    rc == -EMSGSIZE ? "too much" : "something not JSON");
			return NULL;
		}
		if (rc > 0) {
			if (!json_object_object_get_ex(o, "event", NULL))
				return o;
			json_object_put(o);
			continue;
		}
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0) {
			say("ptdm did not answer in %d ms", PTDM_WAIT_MS);
			return NULL;
		}
		n = recv(g.ctl.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			say("ptdm's control socket closed");
			return NULL;
		}
		if (n > 0 && buf_add(&g.ctl.in, buf, (size_t)n, MAX_QOBJ + 4096))
			return NULL;
	}
}

static void ctl_close(void)
{
	side_fini(&g.ctl);
}

/*
 * One request to ptdm: its "return" (a new reference), or NULL with why
 * set ("error" desc, or what went wrong talking to it).
 */
static struct json_object *ctl_call(const char *cmd, struct json_object *args,
				    char *why, size_t n)
{
	struct json_object *req = json_object_new_object(), *r, *v;
	const char *txt;
	long deadline = now_ms() + PTDM_WAIT_MS;
	size_t off = 0, len;

	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	txt = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(txt);
	while (off < len) {
		struct pollfd pf = { g.ctl.fd, POLLOUT, 0 };
		ssize_t k = send(g.ctl.fd, txt + off, len - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k > 0) {
			off += (size_t)k;
			continue;
		}
		if ((k < 0 && errno != EAGAIN && errno != EINTR) ||
		    poll(&pf, 1, (int)(deadline - now_ms())) <= 0) {
			json_object_put(req);
			snprintf(why, n, "ptdm: cannot send %s", cmd);
			return NULL;
		}
	}
	json_object_put(req);
	if (send(g.ctl.fd, "\n", 1, MSG_NOSIGNAL) != 1 ||
	    !(r = ctl_read(deadline))) {
		snprintf(why, n, "ptdm: no answer to %s", cmd);
		ctl_close(); /* the stream is no longer in step */
		return NULL;
	}
	if (json_object_object_get_ex(r, "return", &v)) {
		json_object_get(v);
		json_object_put(r);
		return v;
	}
	if (json_object_object_get_ex(r, "error", &v) && str_member(v, "desc"))
		snprintf(why, n, "ptdm: %s", str_member(v, "desc"));
	else
		snprintf(why, n, "ptdm: a reply that is neither return nor "
			 "error");
	json_object_put(r);
	return NULL;
}

/* Start ptdm (once) and connect to its control socket. */
static int ptdm_start(char *why, size_t n)
{
	const char *bin = getenv("PTDM_XEN_DM_PTDM");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	long deadline = now_ms() + PTDM_WAIT_MS;
	struct json_object *greet;
	int rc = 0;

	if (g.ctl.fd >= 0)
		return 0;
	if (g.ptdm > 0) {
		snprintf(why, n, "ptdm (pid %d) no longer answers", g.ptdm);
		return -EIO;
	}
	if (!bin || !bin[0])
		bin = PTDM_BIN;
	unlink(g.ctl_path);
	g.ptdm = fork();
	if (g.ptdm < 0) {
		snprintf(why, n, "cannot start ptdm: %s", strerror(errno));
		g.ptdm = 0;
		return -errno;
	}
	if (g.ptdm == 0) {
		sigset_t all;
		int nul = open("/dev/null", O_RDWR);

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(2, 1); /* "ptdm: ready" and its like: the log */
		}
		/* nothing of libxl's or QEMU's (the -incoming record) */
		close_range(3, ~0u, 0);
		execl(bin, bin, "serve", "--control", g.ctl_path,
		      (char *)NULL);
		fprintf(stderr, "ptdm-xen-dm: %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	memcpy(a.sun_path, g.ctl_path, strlen(g.ctl_path) + 1);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			rc = side_init(&g.ctl, fd);
			break;
		}
		if (fd >= 0)
			close(fd);
		if (now_ms() > deadline || waitpid(g.ptdm, NULL, WNOHANG)) {
			snprintf(why, n, "%s serve --control %s did not come "
				 "up", bin, g.ctl_path);
			return -EIO;
		}
		usleep(20000);
	}
	if (rc) {
		ctl_close();
		snprintf(why, n, "out of memory");
		return -ENOMEM;
	}
	greet = ctl_read(deadline);
	if (!greet || !json_object_object_get_ex(greet, "QMP", NULL)) {
		json_object_put(greet);
		ctl_close();
		snprintf(why, n, "ptdm's control socket did not greet");
		return -EIO;
	}
	json_object_put(greet);
	say("ptdm (pid %d) serves domain %ld's passthrough devices, control "
	    "socket %s", g.ptdm, g.domid, g.ctl_path);
	return 0;
}

static struct ptdev *dev_find(const char *id)
{
	for (unsigned i = 0; i < g.ndev; i++)
		if (!strcmp(g.dev[i].id, id))
			return &g.dev[i];
	return NULL;
}

static int dev_del(struct ptdev *d, char *why, size_t n)
{
	struct json_object *args = json_object_new_object(), *r;

	json_object_object_add(args, "id", json_object_new_string(d->id));
	r = g.ctl.fd >= 0 ? ctl_call("device-del", args, why, n) : NULL;
	if (g.ctl.fd < 0) {
		json_object_put(args);
		snprintf(why, n, "ptdm is gone");
	}
	say("%s (%s at slot %u): %s%s", d->id, d->host, d->slot,
	    r ? "removed, reset and released by ptdm" : "", r ? "" : why);
	json_object_put(r);
	*d = g.dev[--g.ndev];
	return r ? 0 : -EIO;
}

static unsigned sysfs_hex(const char *host, const char *file)
{
	char path[128], txt[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", host,
		 file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(txt, sizeof(txt), f))
		txt[0] = 0;
	fclose(f);
	return (unsigned)strtoul(txt, NULL, 16);
}

/* ---- image devices (-ptdm-image) and their state in the save record ---- */

/*
 * Take every "-ptdm-image /PATH@SLOT[,OPT...]" out of argv (QEMU never
 * sees them); argc afterwards, or -1 with why.
 */
static int take_images(int argc, char **argv, char *why, size_t n)
{
	int out = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i + 1], *at;
		char *end;
		unsigned long slot;

		if (strcmp(argv[i], "-ptdm-image")) {
			argv[out++] = argv[i];
			continue;
		}
		if (i + 1 >= argc || a[0] != '/' || !(at = strrchr(a, '@')) ||
		    strlen(a) > 900) {
			snprintf(why, n, "-ptdm-image wants /PATH@SLOT (an image "
				 "file, absolute, and its guest slot in hex)");
			return -1;
		}
		slot = strtoul(at + 1, &end, 16);
		if (end == at + 1 || !isxdigit((unsigned char)at[1]) ||
		    (*end && *end != ',') || slot < 3 || slot > 31) {
			snprintf(why, n, "-ptdm-image %s: the slot is 3 to 1f "
				 "(hex; 0-2 are the host bridge, PIIX3 and "
				 "Xen's platform device)", a);
			return -1;
		}
		if (g.nimg >= DMREC_MAX_DEVS) {
			snprintf(why, n, "-ptdm-image: at most %u", DMREC_MAX_DEVS);
			return -1;
		}
		for (unsigned k = 0; k < g.nimg; k++)
			if (g.img[k].slot == slot) {
				snprintf(why, n, "-ptdm-image: slot %lx twice", slot);
				return -1;
			}
		/* ptdm's spec takes an image's slot as vslot= (a path's
		 * '@' is part of the path) */
		snprintf(g.img[g.nimg].spec, sizeof(g.img[g.nimg].spec),
			 "%.*s,vslot=%lx%s", (int)(at - a), a, slot, end);
		g.img[g.nimg].slot = (unsigned)slot;
		snprintf(g.img[g.nimg].id, DMREC_ID_LEN, "ptdm-img-%02lx", slot);
		g.nimg++;
		i++;
	}
	argv[out] = NULL;
	return out;
}

static void state_path(char *out, size_t n, const char *id)
{
	char idc[DMREC_ID_LEN];

	snprintf(idc, sizeof(idc), "%s", id); /* id may be inside g */
	snprintf(out, n, "%s/ptdm-dm-state-%ld-%s", g.rundir, g.domid, idc);
}

/* Add every image to ptdm (its state loaded if restoring): all or none. */
static int add_images(char *why, size_t n)
{
	for (unsigned i = 0; i < g.nimg; i++) {
		struct ptimg *m = &g.img[i];
		struct json_object *a, *r;

		if (ptdm_start(why, n))
			return -1;
		a = json_object_new_object();
		json_object_object_add(a, "spec", json_object_new_string(m->spec));
		json_object_object_add(a, "id", json_object_new_string(m->id));
		json_object_object_add(a, "xen-domid",
				       json_object_new_int64(g.domid));
		if (m->state[0])
			json_object_object_add(a, "state",
					       json_object_new_string(m->state));
		r = ctl_call("device-add", a, why, n);
		if (m->state[0])
			unlink(m->state);
		if (!r)
			return -1;
		json_object_put(r);
		g.nimg_added = i + 1;
		say("%s: ptdm serves the image %s at the guest's 00:%02x.0%s",
		    m->id, m->spec, m->slot,
		    m->state[0] ? ", its saved state loaded" : "");
	}
	return 0;
}

/* A state file ptdm wrote: whole, at most DMREC_MAX bytes. */
static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	uint8_t *p = NULL;

	if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) &&
	    st.st_size <= DMREC_MAX && (p = malloc(st.st_size + 1)) &&
	    fileio_pread_full(fd, p, (size_t)st.st_size, 0)) {
		free(p);
		p = NULL;
	}
	if (p)
		*len = (size_t)st.st_size;
	if (fd >= 0)
		close(fd);
	unlink(path);
	return p;
}

/*
 * QEMU has written its record into fd (from offset 0, its end at the
 * shared file offset, or the file's size for a path): ptdm's section goes
 * after it.  0, or -1 with why (libxl then fails the save and resumes).
 */
static int append_section(int fd, bool at_offset, char *why, size_t n)
{
	struct dmrec_dev d[DMREC_MAX_DEVS];
	uint8_t *blob[DMREC_MAX_DEVS] = { 0 }, *sec = NULL;
	size_t sec_len = 0;
	struct stat st;
	off_t end = at_offset ? lseek(fd, 0, SEEK_CUR) : -1;
	int rc = -1;

	if (!at_offset && !fstat(fd, &st))
		end = st.st_size;
	if (end < 0) {
		snprintf(why, n, "ptdm: cannot find the end of QEMU's record: %s",
			 strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < g.nimg_added; i++) {
		struct json_object *a = json_object_new_object(), *r;
		char path[160];

		state_path(path, sizeof(path), g.img[i].id);
		json_object_object_add(a, "id",
				       json_object_new_string(g.img[i].id));
		json_object_object_add(a, "file", json_object_new_string(path));
		r = ctl_call("device-save", a, why, n);
		json_object_put(r);
		if (!r)
			goto out;
		memset(&d[i], 0, sizeof(d[i]));
		snprintf(d[i].id, sizeof(d[i].id), "%s", g.img[i].id);
		d[i].slot = g.img[i].slot;
		if (!(blob[i] = slurp(path, &d[i].len))) {
			snprintf(why, n, "ptdm: %s: its saved state is unreadable "
				 "or over %u bytes", g.img[i].id, DMREC_MAX);
			goto out;
		}
		d[i].blob = blob[i];
	}
	if (dmrec_build(d, g.nimg_added, &sec, &sec_len)) {
		snprintf(why, n, "ptdm: the devices' state is over %u bytes",
			 DMREC_MAX);
		goto out;
	}
	if (fileio_pwrite_full(fd, sec, sec_len, end) ||
	    ftruncate(fd, end + (off_t)sec_len)) {
		snprintf(why, n, "ptdm: cannot append its section to the record: "
			 "%s", strerror(errno));
		goto out;
	}
	say("save: ptdm's section (%u devices, %zu bytes) after QEMU's %lld",
	    g.nimg_added, sec_len, (long long)end);
	rc = 0;
out:
	for (unsigned i = 0; i < DMREC_MAX_DEVS; i++)
		free(blob[i]);
	free(sec);
	return rc;
}

/* Does the file hold a section header (the footer being gone)? */
static bool has_head_magic(int fd, off_t size)
{
	static char b[65536 + 8];
	off_t at = 0;

	while (at < size) {
		size_t k = size - at < 65536 ? (size_t)(size - at) : 65536;
		size_t ov = at ? 7 : 0;

		if (fileio_pread_full(fd, b + ov, k, at))
			return false;
		if (memmem(b, k + ov, DMREC_HEAD_MAGIC, 8))
			return true;
		at += (off_t)k;
		if (at < size) /* k is a whole chunk: keep its tail for a
				* magic across two */
			memmove(b, b + ov + k - 7, 7);
	}
	return false;
}

/*
 * Restore: argv has -incoming fd:N, the record libxl kept.  Split ptdm's
 * section off (checked whole, matched to the images configured, each
 * state into a file for device-add) and give QEMU a memfd with only its
 * own bytes.  0, or -1 with why: then nothing has started.
 */
static int split_incoming(int argc, char **argv, char *why, size_t n)
{
	struct dmrec_dev d[DMREC_MAX_DEVS];
	unsigned nd = 0;
	uint8_t foot[DMREC_FOOT_LEN], *sec = NULL;
	uint64_t sec_len = 0, qlen;
	struct stat st;
	int in = -1, mfd = -1, at = -1, found, rc = -1;
	char *end, *nv = NULL, pwhy[200];
	static char buf[65536];

	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "-incoming") &&
		    !strncmp(argv[i + 1], "fd:", 3)) {
			long v = strtol(argv[i + 1] + 3, &end, 10);

			if (*end || v < 0 || v > INT_MAX)
				break;
			in = (int)v;
			at = i + 1;
		}
	if (at < 0)
		return 0;
	if (fstat(in, &st) || !S_ISREG(st.st_mode)) {
		if (!g.nimg)
			return 0; /* nothing of ours can be in it */
		snprintf(why, n, "restore: -incoming fd:%d is not a file: ptdm's "
			 "devices' state cannot be found in it", in);
		return -1;
	}
	found = st.st_size >= DMREC_FOOT_LEN
		? fileio_pread_full(in, foot, sizeof(foot), st.st_size - DMREC_FOOT_LEN)
			  ? -EIO
			  : dmrec_footer(foot, (uint64_t)st.st_size, &sec_len)
		: 0;
	if (found < 0) {
		snprintf(why, n, "restore refused: ptdm section damaged (its "
			 "footer gives an impossible length)");
		return -1;
	}
	if (!found && g.nimg && has_head_magic(in, st.st_size)) {
		snprintf(why, n, "restore refused: the record has the start of "
			 "a ptdm section but not its end (truncated)");
		return -1;
	}
	if (!found) {
		if (g.nimg)
			say("restore: the record has no ptdm section (a stock "
			    "qemu-xen record): the image devices start from "
			    "power-on");
		return 0; /* QEMU reads the file as it is */
	}
	qlen = (uint64_t)st.st_size - DMREC_FOOT_LEN - sec_len;
	if (!(sec = malloc(sec_len)) ||
	    fileio_pread_full(in, sec, sec_len, (off_t)qlen)) {
		snprintf(why, n, "restore: cannot read ptdm's section");
		goto out;
	}
	if (dmrec_parse(sec, sec_len, foot, d, &nd, pwhy, sizeof(pwhy))) {
		snprintf(why, n, "restore refused: %s", pwhy);
		goto out;
	}
	for (unsigned i = 0; i < nd; i++) {
		bool ok = false;

		for (unsigned k = 0; k < g.nimg && !ok; k++)
			ok = !strcmp(g.img[k].id, d[i].id) &&
			     g.img[k].slot == d[i].slot && !d[i].fn;
		if (!ok) {
			snprintf(why, n, "restore refused: the record has state "
				 "for %s (slot %x.%x), which this domain's "
				 "-ptdm-image arguments do not have", d[i].id,
				 d[i].slot, d[i].fn);
			goto out;
		}
	}
	for (unsigned k = 0; k < g.nimg; k++) {
		unsigned i;

		for (i = 0; i < nd && strcmp(g.img[k].id, d[i].id); i++)
			;
		if (i == nd) {
			snprintf(why, n, "restore refused: the record has no state "
				 "for %s (%s)", g.img[k].id, g.img[k].spec);
			goto out;
		}
	}
	for (unsigned k = 0; k < g.nimg; k++)
		for (unsigned i = 0; i < nd; i++) {
			int fd;

			if (strcmp(g.img[k].id, d[i].id))
				continue;
			state_path(g.img[k].state, sizeof(g.img[k].state),
				   g.img[k].id);
			unlink(g.img[k].state);
			fd = open(g.img[k].state, O_WRONLY | O_CREAT | O_EXCL |
				  O_CLOEXEC, 0600);
			if (fd < 0 || fileio_pwrite_full(fd, d[i].blob, d[i].len, 0)) {
				snprintf(why, n, "restore: %s: %s", g.img[k].state,
					 strerror(errno));
				if (fd >= 0)
					close(fd);
				goto out;
			}
			close(fd);
		}
	/* QEMU's part, without ours, into a memfd QEMU inherits */
	mfd = memfd_create("ptdm-xen-dm-incoming", 0);
	if (mfd < 0) {
		snprintf(why, n, "restore: memfd: %s", strerror(errno));
		goto out;
	}
	for (uint64_t off = 0; off < qlen;) {
		size_t k = qlen - off < sizeof(buf) ? (size_t)(qlen - off)
						    : sizeof(buf);

		if (fileio_pread_full(in, buf, k, (off_t)off) ||
		    fileio_pwrite_full(mfd, buf, k, (off_t)off)) {
			snprintf(why, n, "restore: copying QEMU's record: %s",
				 strerror(errno));
			goto out;
		}
		off += k;
	}
	if (asprintf(&nv, "fd:%d", mfd) < 0)
		goto out;
	argv[at] = nv;
	close(in);
	say("restore: ptdm's section (%u devices) split off; QEMU reads its "
	    "%llu bytes from fd %d", nd, (unsigned long long)qlen, mfd);
	mfd = -1;
	rc = 0;
out:
	if (rc)
		for (unsigned k = 0; k < g.nimg; k++)
			if (g.img[k].state[0]) {
				unlink(g.img[k].state);
				g.img[k].state[0] = 0;
			}
	if (mfd >= 0)
		close(mfd);
	free(sec);
	return rc;
}

/* ---- device_add / device_del / query-pci ---- */

/* "SSSS:BB:DD.F" exactly, as libxl writes hostaddr */
static bool parse_hostaddr(const char *s, char out[16])
{
	unsigned dom, bus, dev, fn;
	char tail;

	if (strlen(s) != 12 ||
	    sscanf(s, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) != 4 ||
	    dev > 0x1f || fn > 7)
		return false;
	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
			return false;
	snprintf(out, 16, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return true;
}

/* QEMU's rule for an id: a letter, then letters, digits, '-', '.', '_' */
static bool id_wellformed(const char *id)
{
	if (!isalpha((unsigned char)id[0]))
		return false;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._", *p))
			return false;
	return true;
}

/* "S", "S.F" (hex), as QEMU's addr property */
static bool parse_addr(const char *s, unsigned *slot, unsigned *fn)
{
	char *end;
	unsigned long v = strtoul(s, &end, 16);

	if (end == s || v > 0x1f || !isxdigit((unsigned char)*s))
		return false;
	*slot = (unsigned)v;
	*fn = 0;
	if (*end == '.') {
		const char *f = end + 1;

		if (!isxdigit((unsigned char)*f))
			return false;
		v = strtoul(f, &end, 16);
		if (v > 7)
			return false;
		*fn = (unsigned)v;
	}
	return !*end;
}

/* The functions of each slot QEMU's bus 0 uses, from its query-pci
 * return: bit F of used[S] for 00:S.F. */
static void qemu_slots(struct json_object *ret, uint8_t used[32])
{
	memset(used, 0, 32);
	if (!json_object_is_type(ret, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(ret); i++) {
		struct json_object *bus = json_object_array_get_idx(ret, i),
				   *devs, *v;

		if (!json_object_object_get_ex(bus, "bus", &v) ||
		    json_object_get_int(v) != 0 ||
		    !json_object_object_get_ex(bus, "devices", &devs) ||
		    !json_object_is_type(devs, json_type_array))
			continue;
		for (size_t k = 0; k < json_object_array_length(devs); k++) {
			struct json_object *dv = json_object_array_get_idx(devs,
									   k),
					   *f;
			int sl, fn = 0;

			if (!json_object_object_get_ex(dv, "slot", &v) ||
			    !json_object_is_type(v, json_type_int))
				continue;
			sl = json_object_get_int(v);
			if (json_object_object_get_ex(dv, "function", &f) &&
			    json_object_is_type(f, json_type_int))
				fn = json_object_get_int(f);
			if (sl >= 0 && sl < 32 && fn >= 0 && fn < 8)
				used[sl] |= (uint8_t)(1u << fn);
		}
	}
}

/*
 * Serve a xen-pci-passthrough device_add through ptdm, QEMU's bus being
 * as its query-pci return says.  The reply is QEMU's: {} or an error.
 */
static struct json_object *do_device_add(struct json_object *args,
					 struct json_object *id,
					 struct json_object *qpci)
{
	static const char *const known[] = { "driver", "id", "hostaddr",
		"addr", "permissive", NULL };
	uint8_t used[32];
	const char *qid = str_member(args, "id"),
		   *hostaddr = str_member(args, "hostaddr"),
		   *addr = str_member(args, "addr");
	struct json_object *v, *a, *r;
	bool permissive = false;
	char why[600], spec[64], host[16];
	unsigned slot = 0, fn = 0;
	struct ptdev *d;

	json_object_object_foreach(args, k, val) {
		bool ok = false;

		(void)val;
		for (unsigned i = 0; known[i] && !ok; i++)
			ok = !strcmp(k, known[i]);
		if (!ok) {
			snprintf(why, sizeof(why), "Property "
				 "'xen-pci-passthrough.%.64s' not found (ptdm "
				 "serves this device)", k);
			return error_reply(why, id);
		}
	}
	if (!qid || !id_wellformed(qid) || strlen(qid) >= sizeof(d->id))
		return error_reply("Parameter 'id' expects an identifier (a "
				   "letter, then letters, digits, '-', '.', "
				   "'_'; at most 31 for ptdm)", id);
	if (dev_find(qid)) {
		snprintf(why, sizeof(why), "Duplicate device ID '%s'", qid);
		return error_reply(why, id);
	}
	if (g.ndev >= MAX_DEVS)
		return error_reply("ptdm: too many passthrough devices", id);
	if (!hostaddr || !parse_hostaddr(hostaddr, host))
		return error_reply("ptdm: \"hostaddr\" is SSSS:BB:DD.F", id);
	if (json_object_object_get_ex(args, "permissive", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return error_reply("ptdm: \"permissive\" is a boolean",
					   id);
		permissive = json_object_get_boolean(v);
	}
	qemu_slots(qpci, used);
	for (unsigned i = 0; i < g.ndev; i++)
		used[g.dev[i].slot] |= (uint8_t)(1u << g.dev[i].fn);
	for (unsigned i = 0; i < g.nimg; i++)
		used[g.img[i].slot] |= 1u;
	if (addr) {
		/* libxl gives S.F for each function of BB:DD.* */
		if (!parse_addr(addr, &slot, &fn))
			return error_reply("ptdm: \"addr\" is SLOT[.FN] in hex",
					   id);
		if (used[slot] & (1u << fn)) {
			snprintf(why, sizeof(why), "PCI: slot %u function %u "
				 "not available for xen-pci-passthrough, in use",
				 slot, fn);
			return error_reply(why, id);
		}
	} else {
		for (slot = 1; slot < 32 && used[slot]; slot++)
			;
		if (slot == 32)
			return error_reply("PCI: no slot available for "
					   "xen-pci-passthrough", id);
	}
	if (ptdm_start(why, sizeof(why)))
		return error_reply(why, id);
	snprintf(spec, sizeof(spec), "%s@%x,permissive=%d", host, slot,
		 permissive);
	a = json_object_new_object();
	json_object_object_add(a, "spec", json_object_new_string(spec));
	json_object_object_add(a, "id", json_object_new_string(qid));
	json_object_object_add(a, "xen-domid", json_object_new_int64(g.domid));
	json_object_object_add(a, "xen-toolstack-assigns",
			       json_object_new_boolean(true));
	if (fn)
		json_object_object_add(a, "xen-function",
				       json_object_new_int((int)fn));
	if (g.igd_passthru) /* ptdm maps the VGA ranges for an Intel VGA one */
		json_object_object_add(a, "xen-gfx-passthru",
				       json_object_new_boolean(true));
	r = ctl_call("device-add", a, why, sizeof(why));
	if (!r) {
		say("device_add %s (%s): %s", qid, spec, why);
		return error_reply(why, id);
	}
	json_object_put(r);
	d = &g.dev[g.ndev++];
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", qid);
	memcpy(d->host, host, sizeof(d->host));
	d->slot = slot;
	d->fn = fn;
	d->vendor = sysfs_hex(host, "vendor");
	d->device = sysfs_hex(host, "device");
	d->class_ = sysfs_hex(host, "class");
	d->svendor = sysfs_hex(host, "subsystem_vendor");
	d->sdevice = sysfs_hex(host, "subsystem_device");
	say("%s: ptdm serves %s at the guest's 00:%02x.%x", qid, spec, slot,
	    fn);
	return return_reply(NULL, id);
}

/* A device in query-pci's shape, as QEMU describes a passthrough one. */
static struct json_object *dev_json(const struct ptdev *d)
{
	struct json_object *o = json_object_new_object(),
			   *ci = json_object_new_object(),
			   *idj = json_object_new_object();

	json_object_object_add(o, "bus", json_object_new_int(0));
	json_object_object_add(o, "slot", json_object_new_int((int)d->slot));
	json_object_object_add(o, "function", json_object_new_int((int)d->fn));
	json_object_object_add(ci, "class", json_object_new_int(
						    (int)(d->class_ >> 8)));
	json_object_object_add(o, "class_info", ci);
	json_object_object_add(idj, "device", json_object_new_int(
						      (int)d->device));
	json_object_object_add(idj, "vendor", json_object_new_int(
						      (int)d->vendor));
	json_object_object_add(idj, "subsystem", json_object_new_int(
							 (int)d->sdevice));
	json_object_object_add(idj, "subsystem-vendor", json_object_new_int(
							(int)d->svendor));
	json_object_object_add(o, "id", idj);
	json_object_object_add(o, "regions", json_object_new_array());
	json_object_object_add(o, "qdev_id", json_object_new_string(d->id));
	return o;
}

/* QEMU's query-pci reply with ptdm's devices added to bus 0. */
static void merge_query_pci(struct json_object *rep)
{
	struct json_object *ret, *devs;

	if (!g.ndev || !json_object_object_get_ex(rep, "return", &ret) ||
	    !json_object_is_type(ret, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(ret); i++) {
		struct json_object *bus = json_object_array_get_idx(ret, i),
				   *v;

		if (!json_object_object_get_ex(bus, "bus", &v) ||
		    json_object_get_int(v) != 0 ||
		    !json_object_object_get_ex(bus, "devices", &devs) ||
		    !json_object_is_type(devs, json_type_array))
			continue;
		for (unsigned k = 0; k < g.ndev; k++)
			json_object_array_add(devs, dev_json(&g.dev[k]));
		return;
	}
}

/* ---- the proxy ---- */

static void conn_free(struct conn *c)
{
	for (unsigned i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	if (c->save_fd >= 0)
		close(c->save_fd);
	if (c->save_to >= 0 && c->save_to != c->save_fd)
		close(c->save_to);
	side_fini(&c->c);
	side_fini(&c->q);
	json_object_put(c->held);
	free(c);
}

static void forward(struct conn *c, struct json_object *o, enum waiting w)
{
	int rc = side_send(&c->q, o, c->fds, c->nfds);

	for (unsigned i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	c->nfds = 0;
	if (rc) {
		say("cannot pass a command on to QEMU: %s", strerror(-rc));
		c->dead = true;
		return;
	}
	c->wait = w;
}

static void ask_slots(struct conn *c, struct json_object *req)
{
	struct json_object *q = json_object_new_object();
	char idbuf[40];

	snprintf(idbuf, sizeof(idbuf), "ptdm-xen-dm-%lu", ++g.internal_id);
	json_object_object_add(q, "execute", json_object_new_string(
						     "query-pci"));
	json_object_object_add(q, "id", json_object_new_string(idbuf));
	c->held = json_object_get(req);
	if (side_send(&c->q, q, NULL, 0)) {
		c->dead = true;
	} else {
		c->wait = WAIT_ADD_SLOTS;
	}
	json_object_put(q);
}

/* One command from libxl: served here, or passed on to QEMU. */
static void client_command(struct conn *c, struct json_object *req)
{
	const char *ex = str_member(req, "execute");
	struct json_object *args = NULL, *id = NULL;

	json_object_object_get_ex(req, "id", &id);
	json_object_object_get_ex(req, "arguments", &args);
	if (ex && args && json_object_is_type(args, json_type_object)) {
		const char *drv = str_member(args, "driver");
		const char *devid = str_member(args, "id");
		struct ptdev *d = devid ? dev_find(devid) : NULL;

		if (!strcmp(ex, "device_add") && drv &&
		    !strcmp(drv, "xen-pci-passthrough")) {
			ask_slots(c, req); /* then do_device_add */
			return;
		}
		if (!strcmp(ex, "device_del") && d) {
			char why[600];
			struct json_object *ev, *data;
			char path[80];

			snprintf(path, sizeof(path), "/machine/peripheral/%s",
				 d->id);
			data = json_object_new_object();
			json_object_object_add(data, "device",
					       json_object_new_string(d->id));
			json_object_object_add(data, "path",
					       json_object_new_string(path));
			if (dev_del(d, why, sizeof(why))) {
				json_object_put(data);
				reply(c, error_reply(why, id));
				return;
			}
			reply(c, return_reply(NULL, id));
			ev = json_object_new_object();
			json_object_object_add(ev, "event", json_object_new_string(
							    "DEVICE_DELETED"));
			json_object_object_add(ev, "data", data);
			reply(c, ev);
			return;
		}
	}
	if (ex && !strcmp(ex, "add-fd") && c->nfds && g.nimg_added) {
		/* the save file, perhaps: keep a copy to append to */
		if (c->save_fd >= 0)
			close(c->save_fd);
		c->save_fd = fcntl(c->fds[0], F_DUPFD_CLOEXEC, 3);
		c->save_fdset = -1;
		forward(c, req, WAIT_ADD_FD);
		return;
	}
	if (ex && !strcmp(ex, "xen-save-devices-state") && g.nimg_added) {
		const char *file = args ? str_member(args, "filename") : NULL;
		char why[200];
		long set = -1;
		char *end;

		if (c->save_to >= 0 && c->save_to != c->save_fd)
			close(c->save_to);
		c->save_to = -1;
		if (file && !strncmp(file, "/dev/fdset/", 11)) {
			set = strtol(file + 11, &end, 10);
			if (end != file + 11 && !*end && set == c->save_fdset &&
			    set >= 0)
				c->save_to = c->save_fd;
		} else if (file && file[0] == '/') {
			c->save_to = -2; /* a path: opened once QEMU is done */
		}
		if (c->save_to == -1) {
			snprintf(why, sizeof(why), "ptdm: cannot add its image "
				 "devices' state to %s (not a file libxl passed "
				 "with add-fd on this connection)",
				 file ? file : "(no filename)");
			say("save: %s", why);
			reply(c, error_reply(why, id));
			return;
		}
		forward(c, req, WAIT_SAVE);
		if (c->save_to == -2)
			c->held = json_object_get(req);
		return;
	}
	forward(c, req, ex && !strcmp(ex, "query-pci") ? WAIT_QUERY_PCI
						      : WAIT_REPLY);
}

/* QEMU answered xen-save-devices-state: on success, ptdm's section. */
static void save_done(struct conn *c, struct json_object *o)
{
	struct json_object *id = NULL, *args = NULL;
	const char *file = NULL;
	char why[600];
	int fd = c->save_to;

	json_object_object_get_ex(o, "id", &id);
	if (!json_object_object_get_ex(o, "return", NULL)) {
		reply(c, json_object_get(o)); /* QEMU's refusal */
		goto out;
	}
	if (fd == -2) {
		json_object_object_get_ex(c->held, "arguments", &args);
		file = str_member(args, "filename");
		fd = file ? open(file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
		if (fd < 0) {
			snprintf(why, sizeof(why), "ptdm: %s: %s",
				 file ? file : "?", strerror(errno));
			say("save: %s", why);
			reply(c, error_reply(why, id));
			goto out;
		}
	}
	if (append_section(fd, fd == c->save_fd, why, sizeof(why))) {
		say("save: %s", why);
		reply(c, error_reply(why, id));
	} else {
		reply(c, json_object_get(o));
	}
out:
	if (fd >= 0 && fd != c->save_fd)
		close(fd);
	json_object_put(c->held);
	c->held = NULL;
	c->save_to = -1;
}

/* One object from QEMU: a greeting or event (passed on), or a reply. */
static void qemu_object(struct conn *c, struct json_object *o)
{
	bool is_reply = json_object_object_get_ex(o, "return", NULL) ||
			json_object_object_get_ex(o, "error", NULL);

	if (!is_reply || c->wait == WAIT_NONE) {
		if (is_reply)
			say("QEMU replied to nothing asked: passed on");
		reply(c, json_object_get(o));
		return;
	}
	if (c->wait == WAIT_ADD_SLOTS) {
		struct json_object *req = c->held, *args = NULL, *id = NULL,
				   *ret = NULL, *err;

		c->held = NULL;
		c->wait = WAIT_NONE;
		json_object_object_get_ex(req, "id", &id);
		json_object_object_get_ex(req, "arguments", &args);
		if (json_object_object_get_ex(o, "error", &err)) {
			/* QEMU refused (no qmp_capabilities yet, say): so
			 * would it have refused the device_add */
			struct json_object *r = json_object_new_object();

			json_object_object_add(r, "error", json_object_get(err));
			if (id)
				json_object_object_add(r, "id",
						       json_object_get(id));
			reply(c, r);
		} else {
			json_object_object_get_ex(o, "return", &ret);
			reply(c, do_device_add(args, id, ret));
		}
		json_object_put(req);
		return;
	}
	if (c->wait == WAIT_SAVE) {
		c->wait = WAIT_NONE;
		save_done(c, o);
		return;
	}
	if (c->wait == WAIT_ADD_FD) {
		struct json_object *ret, *v;

		if (json_object_object_get_ex(o, "return", &ret) &&
		    json_object_object_get_ex(ret, "fdset-id", &v) &&
		    json_object_is_type(v, json_type_int))
			c->save_fdset = (long)json_object_get_int64(v);
	}
	if (c->wait == WAIT_QUERY_PCI)
		merge_query_pci(o);
	c->wait = WAIT_NONE;
	reply(c, json_object_get(o));
}

/* Run every whole command libxl has sent, one at a time. */
static void client_drain(struct conn *c)
{
	while (!c->dead && c->wait == WAIT_NONE) {
		struct json_object *o;
		int rc = side_next(&c->c, MAX_OBJ, &o);

		if (rc < 0) {
			reply(c, error_reply(rc == -EPROTO
				? "not JSON (strict): the connection is closed"
				: "request too large: the connection is closed",
				NULL));
			side_flush(&c->c);
			c->dead = true;
		}
		if (rc <= 0)
			return;
		client_command(c, o);
		json_object_put(o);
	}
}

static void qemu_drain(struct conn *c)
{
	while (!c->dead) {
		struct json_object *o;
		int rc = side_next(&c->q, MAX_QOBJ, &o);

		if (rc < 0) {
			say("QEMU's monitor sent %s: connection dropped",
			    rc == -EPROTO ? "something not JSON" : "too much");
			c->dead = true;
		}
		if (rc <= 0)
			return;
		qemu_object(c, o);
		json_object_put(o);
	}
}

/* Read from libxl, with any fds it passes. */
static int client_read(struct conn *c)
{
	char data[8192], cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(c->c.fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[MAX_FDS];

			memcpy(fds, CMSG_DATA(h), k * sizeof(int));
			for (size_t i = 0; i < k; i++)
				if (c->nfds < MAX_FDS)
					c->fds[c->nfds++] = fds[i];
				else
					close(fds[i]);
		}
	if (m.msg_flags & MSG_CTRUNC)
		say("a QMP client passed more than %d fds: the rest closed",
		    MAX_FDS);
	if (n == 0)
		return -ECONNRESET;
	return buf_add(&c->c.in, data, (size_t)n, MAX_OBJ + sizeof(data));
}

static int qemu_read(struct conn *c)
{
	char data[16384];
	ssize_t n = recv(c->q.fd, data, sizeof(data), MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	return buf_add(&c->q.in, data, (size_t)n, MAX_QOBJ + sizeof(data));
}

static int connect_qemu(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(a.sun_path, g.qmp_path, strlen(g.qmp_path) + 1);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static void accept_client(void)
{
	int fd = accept4(g.lfd, NULL, NULL, SOCK_CLOEXEC), qfd, slot = -1;
	struct conn *c;

	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CONNS && slot < 0; i++)
		if (!g.conns[i])
			slot = i;
	if (slot < 0) {
		say("refused a QMP client: %d connected", MAX_CONNS);
		close(fd);
		return;
	}
	qfd = connect_qemu();
	if (qfd < 0) {
		say("cannot reach QEMU's monitor %s: %s", g.qmp_path,
		    strerror(-qfd));
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->save_fd = c->save_to = -1, c->save_fdset = -1;
	if (!c || side_init(&c->c, fd) || side_init(&c->q, qfd)) {
		if (c) {
			conn_free(c);
		} else {
			close(fd);
			close(qfd);
		}
		return;
	}
	g.conns[slot] = c;
}

/* ---- arguments and processes ---- */

/*
 * Take libxl's monitor: in QEMU's argv the libxl-cmd chardev gets our
 * private path; we listen on libxl's path (or its listening fd=N).
 */
static int take_monitor(char **argv, int argc)
{
	for (int i = 1; i + 1 < argc; i++) {
		char *a = argv[i + 1], *p, *rest, *nv;
		size_t cut;

		if (strcmp(argv[i], "-chardev") ||
		    strncmp(a, "socket,", 7) || !strstr(a, ",id=libxl-cmd"))
			continue;
		if ((p = strstr(a, ",path="))) {
			struct sockaddr_un s = { .sun_family = AF_UNIX };
			size_t n = strcspn(p + 6, ",");

			if (n >= sizeof(s.sun_path))
				return -ENAMETOOLONG;
			memcpy(s.sun_path, p + 6, n);
			unlink(s.sun_path);
			g.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (g.lfd < 0 ||
			    bind(g.lfd, (struct sockaddr *)&s, sizeof(s)) ||
			    listen(g.lfd, 8))
				return -errno;
			cut = 6 + n;
		} else if ((p = strstr(a, ",fd="))) {
			char *end;
			long fd = strtol(p + 4, &end, 10);

			if (end == p + 4 || fd < 3 || fd > INT_MAX)
				return -EINVAL;
			g.lfd = (int)fd;
			fcntl(g.lfd, F_SETFD, FD_CLOEXEC);
			cut = (size_t)(end - p);
		} else {
			return -EINVAL;
		}
		rest = p + cut;
		if (asprintf(&nv, "%.*s,path=%s%s", (int)(p - a), a,
			     g.qmp_path, rest) < 0)
			return -ENOMEM;
		argv[i + 1] = nv;
		return 0;
	}
	return -ENOENT;
}

static void stop_ptdm(void)
{
	char why[600];

	while (g.ndev)
		dev_del(&g.dev[g.ndev - 1], why, sizeof(why));
	while (g.nimg_added && g.ctl.fd >= 0) {
		struct json_object *a = json_object_new_object(), *r;

		json_object_object_add(a, "id", json_object_new_string(
					   g.img[--g.nimg_added].id));
		r = ctl_call("device-del", a, why, sizeof(why));
		if (!r)
			say("%s: %s", g.img[g.nimg_added].id, why);
		json_object_put(r);
	}
	if (g.ctl.fd >= 0) {
		struct json_object *r = ctl_call("quit", NULL, why,
						 sizeof(why));

		json_object_put(r);
		ctl_close();
	}
	if (g.ptdm > 0) {
		long deadline = now_ms() + STOP_WAIT_MS;

		while (waitpid(g.ptdm, NULL, WNOHANG) == 0) {
			if (now_ms() > deadline) {
				say("ptdm did not quit: SIGTERM");
				kill(g.ptdm, SIGTERM);
				waitpid(g.ptdm, NULL, 0);
				break;
			}
			usleep(20000);
		}
		g.ptdm = 0;
	}
	unlink(g.ctl_path);
}

/* A child ended: QEMU (we end too), or ptdm (its devices are gone). */
static bool reap_children(void)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == g.qemu) {
			g.qemu = 0;
			g.qemu_status = WIFEXITED(st) ? WEXITSTATUS(st)
						      : 128 + WTERMSIG(st);
			say("QEMU ended (%d)", g.qemu_status);
			return true;
		}
		if (p == g.ptdm) {
			say("ptdm ended unexpectedly: its %u devices are gone",
			    g.ndev);
			g.ptdm = 0;
			g.ndev = 0;
			ctl_close();
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *qemu = getenv("PTDM_XEN_DM_QEMU"),
		   *rundir = getenv("PTDM_XEN_DM_RUNDIR");
	struct pollfd pf[2 + 2 * MAX_CONNS];
	struct conn *pc[2 + 2 * MAX_CONNS];
	sigset_t sigs;
	int sfd, rc;
	long stop_at = 0;

	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "-xen-domid")) {
			char *end;

			g.domid = strtol(argv[i + 1], &end, 10);
			if (*end || end == argv[i + 1])
				g.domid = 0;
		}
		if ((!strcmp(argv[i], "-machine") || !strcmp(argv[i], "-M")) &&
		    machine_igd_passthru(argv[i + 1]))
			g.igd_passthru = true;
	}
	if (g.domid < 1 || g.domid >= 0x7ff0) {
		say("no -xen-domid N: libxl starts this as a domain's device "
		    "model (device_model_override)");
		return 2;
	}
	if (!qemu || !qemu[0])
		qemu = QEMU_BIN;
	if (!rundir || !rundir[0])
		rundir = "/var/run/xen";
	if (strlen(rundir) > 64) {
		say("PTDM_XEN_DM_RUNDIR: at most 64 characters");
		return 2;
	}
	snprintf(g.qmp_path, sizeof(g.qmp_path), "%s/ptdm-dm-qmp-%ld", rundir,
		 g.domid);
	snprintf(g.ctl_path, sizeof(g.ctl_path), "%s/ptdm-dm-ctl-%ld", rundir,
		 g.domid);
	rc = take_monitor(argv, argc);
	if (rc) {
		say("no usable -chardev socket,id=libxl-cmd in the arguments: "
		    "%s", strerror(-rc));
		return 2;
	}
	snprintf(g.rundir, sizeof(g.rundir), "%s", rundir);
	{
		char why[600];

		argc = take_images(argc, argv, why, sizeof(why));
		if (argc < 0) {
			say("%s", why);
			return 2;
		}
		if (split_incoming(argc, argv, why, sizeof(why))) {
			say("%s", why);
			return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		say("signalfd: %s", strerror(errno));
		return 1;
	}
	if (g.nimg) {
		char why[600];

		bool restoring = false;

		for (unsigned k = 0; k < g.nimg; k++)
			restoring |= g.img[k].state[0] != 0;
		if (add_images(why, sizeof(why))) {
			say("%s%s", restoring ? "restore refused: " : "", why);
			for (unsigned k = 0; k < g.nimg; k++)
				if (g.img[k].state[0])
					unlink(g.img[k].state);
			stop_ptdm();
			return 1;
		}
	}
	unlink(g.qmp_path);
	g.qemu = fork();
	if (g.qemu < 0) {
		say("fork: %s", strerror(errno));
		return 1;
	}
	if (g.qemu == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		argv[0] = (char *)qemu;
		execv(qemu, argv);
		fprintf(stderr, "ptdm-xen-dm: %s: %s\n", qemu, strerror(errno));
		_exit(127);
	}
	say("domain %ld: QEMU %s (pid %d), its monitor %s; passthrough devices "
	    "through ptdm", g.domid, qemu, g.qemu, g.qmp_path);

	while (g.qemu || stop_at) {
		unsigned n = 0;
		int tmo = stop_at ? 100 : -1;

		pf[n++] = (struct pollfd){ sfd, POLLIN, 0 };
		pf[n++] = (struct pollfd){ g.lfd, POLLIN, 0 };
		for (int i = 0; i < MAX_CONNS; i++) {
			struct conn *c = g.conns[i];

			if (!c)
				continue;
			pc[n] = c;
			pf[n++] = (struct pollfd){ c->c.fd, (short)(POLLIN |
				(c->c.out.len ? POLLOUT : 0)), 0 };
			pc[n] = c;
			pf[n++] = (struct pollfd){ c->q.fd, (short)(POLLIN |
				(c->q.out.len ? POLLOUT : 0)), 0 };
		}
		if (poll(pf, n, tmo) < 0 && errno != EINTR) {
			say("poll: %s", strerror(errno));
			break;
		}
		if (pf[0].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				say("signal %u: passed on to QEMU",
				    si.ssi_signo);
				if (g.qemu)
					kill(g.qemu, (int)si.ssi_signo);
				if (!stop_at)
					stop_at = now_ms() + STOP_WAIT_MS;
			}
			if (reap_children())
				break;
		}
		if (stop_at && now_ms() > stop_at && g.qemu) {
			say("QEMU did not end: SIGKILL");
			kill(g.qemu, SIGKILL);
			stop_at = 0;
		}
		if (pf[1].revents & POLLIN)
			accept_client();
		for (unsigned i = 2; i < n; i++) {
			struct conn *c = pc[i];
			bool qside = (i & 1) != 0;
			struct side *s = qside ? &c->q : &c->c;

			if (c->dead || !pf[i].revents)
				continue;
			if ((pf[i].revents & POLLOUT) && side_flush(s))
				c->dead = true;
			if (!c->dead &&
			    (pf[i].revents & (POLLIN | POLLHUP | POLLERR))) {
				rc = qside ? qemu_read(c) : client_read(c);
				if (rc == -ENOBUFS)
					say("a monitor peer sent too much: "
					    "dropped");
				if (rc)
					c->dead = true;
			}
			if (!c->dead)
				qside ? qemu_drain(c) : (void)0;
			if (!c->dead)
				client_drain(c);
		}
		for (int i = 0; i < MAX_CONNS; i++)
			if (g.conns[i] && g.conns[i]->dead) {
				side_flush(&g.conns[i]->c);
				conn_free(g.conns[i]);
				g.conns[i] = NULL;
			}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (g.conns[i])
			conn_free(g.conns[i]);
	stop_ptdm();
	unlink(g.qmp_path);
	return g.qemu_status;
}
