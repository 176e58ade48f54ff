/*
 * serve_control.c - the control socket of `ptdm serve --control PATH`:
 * QMP-style JSON over a UNIX stream socket, in the same loop as the
 * devices and just as non-blocking.
 *
 * On connect the server greets ({"QMP": {...}}).  Each request is one JSON
 * object {"execute": NAME, "arguments": {...}, "id": any}; each gets one
 * reply {"return": ...} or {"error": {"class", "desc"}} (with the request's
 * "id" echoed), one per line.  Requests are parsed by json-c in strict
 * mode as a stream, so they may arrive in any pieces; one larger than
 * CTL_MAX_REQ, or bytes that are not JSON, get an error and the
 * connection is closed (a stream that is not JSON cannot be resynchronised).
 * Replies are queued without blocking and bounded: a client that does not
 * read is dropped.  At most CTL_MAX_CONNS clients at once; the socket is
 * created 0600.  Trace lines of a device go, as {"event": "TRACE"}, to the
 * connection that turned its trace on.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/serve.h"
#include "ptdm/log.h"
#include "ptdm/vfu_server.h"
#include "util/msgio.h"

#define CTL_MAX_REQ (64u << 10)
#define CTL_MAX_CONNS 16
#define CTL_OUT_MAX (1u << 20)

struct ctl_conn {
	struct ctl_conn *next;
	struct ctl_server *cs;
	struct ptdm_watch w;
	struct msgio io;
	struct json_tokener *tok;
	size_t req_bytes; /* of the request being parsed */
	bool closing;
	uint8_t rx[1];    /* msgio wants a buffer; input is read below */
};

struct ctl_server {
	struct server *srv;
	struct ptdm_watch lw;
	int fd;
	char path[108];
	struct ctl_conn *conns;
	unsigned nconns;
	struct ptdm_ratelimit rl;
};

/*
 * Unread input makes close() reset the connection, and the peer may lose
 * the last reply: throw away what is there (bounded) first.
 */
static void discard_input(int fd)
{
	char buf[4096];

	for (int k = 0; k < 64 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	     k++)
		;
}

static void conn_free(struct ctl_conn *c)
{
	struct ctl_server *cs = c->cs;

	for (struct served *d = cs->srv->devs; d; d = d->next)
		if (d->trace_to == c) {
			ptdm_dev_set_trace(d->dev, NULL, NULL);
			d->trace_to = NULL;
		}
	for (struct ctl_conn **p = &cs->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			cs->nconns--;
			break;
		}
	ptdm_loop_del(&cs->srv->loop, &c->w);
	msgio_flush(&c->io);
	discard_input(c->io.fd);
	msgio_fini(&c->io);
	close(c->io.fd);
	json_tokener_free(c->tok);
	free(c);
}

static int send_json(struct ctl_conn *c, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	struct iovec iov[2] = { { (void *)s, strlen(s) }, { (void *)"\n", 1 } };
	int rc = msgio_send(&c->io, iov, 2, -1);

	if (!rc)
		ptdm_loop_mod(&c->cs->srv->loop, &c->w,
			      EPOLLIN | (msgio_pending(&c->io) ? EPOLLOUT : 0));
	else
		c->closing = true;
	return rc;
}

static struct json_object *error_obj(const char *cls, const char *desc)
{
	struct json_object *o = json_object_new_object(), *e;

	e = json_object_new_object();
	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	return o;
}

/* ---- arguments ---- */

static const char *arg_str(struct json_object *args, const char *key)
{
	struct json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool arg_present(struct json_object *args, const char *key)
{
	return args && json_object_object_get_ex(args, key, NULL);
}

/* Only the keys a command knows: a typo is an error, not ignored. */
static const char *unknown_key(struct json_object *args,
			       const char *const *known)
{
	if (!args)
		return NULL;
	json_object_object_foreach(args, k, v) {
		bool ok = false;

		(void)v;
		for (unsigned i = 0; known[i] && !ok; i++)
			ok = !strcmp(k, known[i]);
		if (!ok)
			return k;
	}
	return NULL;
}

/* A failed command's reason; a path the sandbox keeps out says so. */
static void why_of(const struct ctl_conn *c, char *why, size_t n,
		   const struct ptdm_err *err, int rc)
{
	const char *hint = c->cs->srv->fs_hint;

	snprintf(why, n, "%s%s", err->msg, rc == -EACCES && hint ? hint : "");
}

/* ---- commands ---- */

static struct json_object *stats_obj(struct served *d)
{
	struct json_object *o = json_object_new_object();
	struct ptdm_front_stats fs;
	struct ptdm_dev_stats ds;

	d->front->ops->stats(d->front, &fs);
	ptdm_dev_stats(d->dev, &ds);
	json_object_object_add(o, "messages", json_object_new_int64((int64_t)fs.messages));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)fs.errors));
	json_object_object_add(o, "clients", json_object_new_int64((int64_t)fs.clients));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)fs.refused));
	json_object_object_add(o, "irqs-delivered", json_object_new_int64((int64_t)fs.irqs));
	json_object_object_add(o, "dma-maps", json_object_new_int64((int64_t)fs.dma_maps));
	json_object_object_add(o, "cfg-reads", json_object_new_int64((int64_t)ds.cfg_reads));
	json_object_object_add(o, "cfg-writes", json_object_new_int64((int64_t)ds.cfg_writes));
	json_object_object_add(o, "bar-reads", json_object_new_int64((int64_t)ds.bar_reads));
	json_object_object_add(o, "bar-writes", json_object_new_int64((int64_t)ds.bar_writes));
	json_object_object_add(o, "writes-dropped", json_object_new_int64((int64_t)ds.dropped));
	{
		struct json_object *why = json_object_new_object();

		for (int r = 0; r < PTDM_DROP_NR; r++)
			if (ds.dropped_by[r])
				json_object_object_add(why,
					ptdm_drop_reason_name((enum ptdm_drop_reason)r),
					json_object_new_int64((int64_t)ds.dropped_by[r]));
		json_object_object_add(o, "dropped-by", why);
	}
	json_object_object_add(o, "host-write-errors", json_object_new_int64((int64_t)ds.host_cfg_write_errors));
	json_object_object_add(o, "reset-errors", json_object_new_int64((int64_t)ds.reset_errors));
	return o;
}

static struct json_object *cmd_query(struct ctl_conn *c,
				     struct json_object *args, char *why,
				     size_t n)
{
	struct json_object *list = json_object_new_array();

	for (struct served *d = c->cs->srv->devs; d; d = d->next) {
		struct json_object *o = json_object_new_object();
		struct ptdm_front_stats fs;

		d->front->ops->stats(d->front, &fs);
		json_object_object_add(o, "id", json_object_new_string(d->id));
		json_object_object_add(o, "spec", json_object_new_string(d->spec));
		json_object_object_add(o, "device", json_object_new_string(d->od.host->name));
		json_object_object_add(o, "backend", json_object_new_string(d->od.backend));
		json_object_object_add(o, "front-end", json_object_new_string(d->front->ops->kind));
		json_object_object_add(o, "where", json_object_new_string(d->where));
		json_object_object_add(o, "client-connected", json_object_new_boolean(fs.connected));
		json_object_object_add(o, "trace", json_object_new_boolean(d->trace_to != NULL));
		json_object_object_add(o, "counters", stats_obj(d));
		json_object_array_add(list, o);
	}
	return list;
}

static struct json_object *cmd_add(struct ctl_conn *c,
				   struct json_object *args, char *why,
				   size_t n)
{
	static const char *const known[] = { "spec", "id", "vfio-user",
		"xen-domid", "xen-cf8", "xen-toolstack-assigns", "xen-function",
		"xen-gfx-passthru", "dump-guest", "dump-host", "state", NULL };
	struct serve_where w = { .fd = -1 };
	struct ptdm_err err = { "" };
	const char *spec = arg_str(args, "spec"), *bad;
	struct json_object *v, *r;
	struct served *d;
	int rc;

	if ((bad = unknown_key(args, known))) {
		snprintf(why, n, "device-add: unknown argument \"%s\"", bad);
		return NULL;
	}
	if (!spec) {
		snprintf(why, n, "device-add: want \"spec\" (a string)");
		return NULL;
	}
	if (arg_present(args, "vfio-user") == arg_present(args, "xen-domid")) {
		snprintf(why, n, "device-add: want one of \"vfio-user\" (a "
			 "socket path) or \"xen-domid\"");
		return NULL;
	}
	if (arg_present(args, "vfio-user")) {
		w.kind = SERVE_VFIO_USER;
		if (!(w.path = arg_str(args, "vfio-user"))) {
			snprintf(why, n, "device-add: \"vfio-user\" is a path");
			return NULL;
		}
	} else {
		json_object_object_get_ex(args, "xen-domid", &v);
		w.kind = SERVE_XEN;
		w.domid = json_object_is_type(v, json_type_int)
				  ? (long)json_object_get_int64(v) : -1;
		if (w.domid < 1 || w.domid >= 0x7ff0) {
			snprintf(why, n, "device-add: \"xen-domid\" is a guest "
				 "domain id");
			return NULL;
		}
		if (json_object_object_get_ex(args, "xen-cf8", &v))
			w.xen_cf8 = json_object_get_boolean(v);
		if (json_object_object_get_ex(args, "xen-toolstack-assigns",
					      &v))
			w.xen_toolstack_assigns = json_object_get_boolean(v);
		if (json_object_object_get_ex(args, "xen-gfx-passthru", &v))
			w.xen_gfx_passthru = json_object_get_boolean(v);
		if (json_object_object_get_ex(args, "xen-function", &v)) {
			w.xen_fn = json_object_is_type(v, json_type_int)
					   ? (int)json_object_get_int64(v) : -1;
			if (w.xen_fn < 0 || w.xen_fn > 7 ||
			    json_object_get_int64(v) != w.xen_fn) {
				snprintf(why, n, "device-add: \"xen-function\" "
					 "is 0 to 7");
				return NULL;
			}
		}
	}
	w.dump_guest = arg_str(args, "dump-guest");
	w.dump_host = arg_str(args, "dump-host");
	w.state = arg_str(args, "state");
	if (arg_present(args, "state") && !w.state) {
		snprintf(why, n, "device-add: \"state\" is a file path");
		return NULL;
	}
	rc = server_add_slot(c->cs->srv, spec, arg_str(args, "id"), &w, &d,
			     &err);
	if (rc < 0) {
		why_of(c, why, n, &err, rc);
		return NULL;
	}
	r = json_object_new_object();
	json_object_object_add(r, "id", json_object_new_string(d->id));
	json_object_object_add(r, "where", json_object_new_string(d->where));
	return r;
}

static struct served *find_arg(struct ctl_conn *c, struct json_object *args,
			       char *why, size_t n)
{
	const char *id = arg_str(args, "id");
	struct served *d = id ? server_find(c->cs->srv, id) : NULL;

	if (!id)
		snprintf(why, n, "want \"id\" (a string)");
	else if (!d)
		snprintf(why, n, "no device \"%s\"", id);
	return d;
}

/* device-save {"id", "file"}: the device's state into a new file (what
 * device-add "state" loads) */
static struct json_object *cmd_save(struct ctl_conn *c,
				    struct json_object *args, char *why,
				    size_t n)
{
	static const char *const known[] = { "id", "file", NULL };
	struct ptdm_err err = { "" };
	struct served *d;
	const char *file, *bad;
	struct json_object *r;
	long len;

	if ((bad = unknown_key(args, known))) {
		snprintf(why, n, "device-save: unknown argument \"%s\"", bad);
		return NULL;
	}
	if (!(d = find_arg(c, args, why, n)))
		return NULL;
	if (!(file = arg_str(args, "file"))) {
		snprintf(why, n, "device-save: want \"file\" (a path)");
		return NULL;
	}
	len = server_save_state(d, file, &err);
	if (len < 0) {
		why_of(c, why, n, &err, (int)len);
		return NULL;
	}
	r = json_object_new_object();
	json_object_object_add(r, "bytes", json_object_new_int64(len));
	return r;
}

/* device-dump {"id", "guest"?, "host"?}: the views --dump-guest and
 * --dump-host write at removal, now */
static struct json_object *cmd_dump(struct ctl_conn *c,
				    struct json_object *args, char *why,
				    size_t n)
{
	static const char *const known[] = { "id", "guest", "host", NULL };
	struct ptdm_err err = { "" };
	struct served *d;
	const char *bad, *path[2];

	if ((bad = unknown_key(args, known))) {
		snprintf(why, n, "device-dump: unknown argument \"%s\"", bad);
		return NULL;
	}
	if (!(d = find_arg(c, args, why, n)))
		return NULL;
	path[0] = arg_str(args, "guest");
	path[1] = arg_str(args, "host");
	if ((!path[0] && arg_present(args, "guest")) ||
	    (!path[1] && arg_present(args, "host")) || (!path[0] && !path[1])) {
		snprintf(why, n, "device-dump: want \"guest\" and/or \"host\" "
			 "(file paths)");
		return NULL;
	}
	for (int i = 0; i < 2; i++) {
		int rc = path[i] ? server_write_view(d, path[i], i == 0, &err) : 0;

		if (rc) {
			why_of(c, why, n, &err, rc);
			return NULL;
		}
	}
	return json_object_new_object();
}

static struct json_object *cmd_del(struct ctl_conn *c,
				   struct json_object *args, char *why,
				   size_t n)
{
	struct served *d = find_arg(c, args, why, n);

	if (!d)
		return NULL;
	server_del(c->cs->srv, d);
	return json_object_new_object();
}

/* "COMMAND 0x0006 -> 0x0007: virtual" style, one line a register */
static void trace_sink(void *opaque, const struct ptdm_cfg_trace *t)
{
	struct served *d = opaque;
	char line[320], what[160] = "";
	int w = (int)t->len * 2;

	if (t->outcome & PTDM_TRACE_HOST)
		strcat(what, "reached the host");
	if (t->outcome & PTDM_TRACE_VIRTUAL)
		strcat(what, what[0] ? ", virtual" : "virtual");
	if (t->outcome & PTDM_TRACE_HOST_ERROR)
		strcat(what, what[0] ? ", host refused" : "host refused");
	if (t->outcome & PTDM_TRACE_DROPPED) {
		size_t k = strlen(what);

		snprintf(what + k, sizeof(what) - k, "%sdropped (%s: %s)",
			 k ? ", " : "", ptdm_drop_reason_name(t->reason),
			 t->rule ? t->rule : "no rule");
	}
	snprintf(line, sizeof(line), "[%03x] %s%s%s 0x%0*x -> 0x%0*x (wrote "
		 "0x%0*x): %s", t->off, t->cap ? t->cap : "",
		 t->cap ? " " : "", t->reg, w, t->old_val, w, t->new_val, w,
		 t->val, what[0] ? what : "nothing");
	ctl_trace_line(d, line);
}

static struct json_object *cmd_trace(struct ctl_conn *c,
				     struct json_object *args, char *why,
				     size_t n)
{
	struct served *d = find_arg(c, args, why, n);
	struct json_object *v;
	bool on;

	if (!d)
		return NULL;
	if (!json_object_object_get_ex(args, "enable", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		snprintf(why, n, "trace: want \"enable\" (true or false)");
		return NULL;
	}
	on = json_object_get_boolean(v);
	d->trace_to = on ? c : NULL;
	ptdm_dev_set_trace(d->dev, on ? trace_sink : NULL, on ? d : NULL);
	return json_object_new_object();
}

static struct json_object *cmd_quit(struct ctl_conn *c,
				    struct json_object *args, char *why,
				    size_t n)
{
	c->cs->srv->quit = true;
	return json_object_new_object();
}

static struct json_object *cmd_caps(struct ctl_conn *c,
				    struct json_object *args, char *why,
				    size_t n)
{
	return json_object_new_object(); /* QMP's handshake: nothing to do */
}

static const struct {
	const char *name;
	struct json_object *(*fn)(struct ctl_conn *c, struct json_object *args,
				  char *why, size_t n);
} commands[] = {
	{ "qmp_capabilities", cmd_caps },
	{ "device-add", cmd_add },
	{ "device-del", cmd_del },
	{ "device-save", cmd_save },
	{ "device-dump", cmd_dump },
	{ "query-devices", cmd_query },
	{ "trace", cmd_trace },
	{ "quit", cmd_quit },
};

static void execute(struct ctl_conn *c, struct json_object *req)
{
	struct json_object *ex, *args = NULL, *id = NULL, *ret = NULL, *out;
	char why[512] = "";
	const char *name;

	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "execute", &ex) ||
	    !json_object_is_type(ex, json_type_string)) {
		out = error_obj("GenericError", "want {\"execute\": NAME, "
			       "\"arguments\": {...}}");
		goto reply;
	}
	json_object_object_get_ex(req, "id", &id);
	if (json_object_object_get_ex(req, "arguments", &args) &&
	    !json_object_is_type(args, json_type_object)) {
		out = error_obj("GenericError", "\"arguments\" is an object");
		goto reply;
	}
	name = json_object_get_string(ex);
	for (unsigned i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name)) {
			ret = commands[i].fn(c, args, why, sizeof(why));
			if (ret) {
				out = json_object_new_object();
				json_object_object_add(out, "return", ret);
			} else {
				out = error_obj("GenericError", why);
			}
			goto reply;
		}
	snprintf(why, sizeof(why), "unknown command \"%s\"", name);
	out = error_obj("CommandNotFound", why);
reply:
	if (id)
		json_object_object_add(out, "id", json_object_get(id));
	send_json(c, out);
	json_object_put(out);
}

/* Feed what arrived to the tokener; whole objects are executed. */
static int feed(struct ctl_conn *c, const char *p, size_t len)
{
	while (len) {
		struct json_object *o;
		enum json_tokener_error e;
		const char *close_at;
		size_t used, chunk;

		/* whitespace between requests */
		if (!c->req_bytes && strchr(" \t\r\n", *p)) {
			p++;
			len--;
			continue;
		}
		/* strict json-c refuses bytes after a value in the same call,
		 * so two requests in one read would be "not JSON": feed it up
		 * to each '}' (a request is an object), one object at a time */
		close_at = memchr(p, '}', len);
		chunk = close_at ? (size_t)(close_at - p) + 1 : len;
		o = json_tokener_parse_ex(c->tok, p, (int)chunk);
		e = json_tokener_get_error(c->tok);
		used = e == json_tokener_continue ? chunk
						  : json_tokener_get_parse_end(c->tok);
		c->req_bytes += used;
		if (c->req_bytes > CTL_MAX_REQ) {
			json_object_put(o);
			return -EMSGSIZE;
		}
		if (e == json_tokener_continue) {
			p += chunk;
			len -= chunk;
			continue;
		}
		if (e != json_tokener_success)
			return -EPROTO;
		p += used;
		len -= used;
		c->req_bytes = 0;
		json_tokener_reset(c->tok);
		if (!o)
			return -EPROTO;
		execute(c, o);
		json_object_put(o);
		if (c->closing)
			return -ENOBUFS;
	}
	return 0;
}

static void on_conn(struct ptdm_watch *w, uint32_t events)
{
	struct ctl_conn *c = container_of(w, struct ctl_conn, w);
	char buf[4096];
	int rc = 0;

	if (events & EPOLLOUT)
		rc = msgio_flush(&c->io) < 0 ? -EPIPE : 0;
	if (!rc && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		ssize_t n = recv(c->io.fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			rc = -ECONNRESET;
		else if (n > 0)
			rc = feed(c, buf, (size_t)n);
	}
	if (rc == -EMSGSIZE || rc == -EPROTO) {
		struct json_object *o = error_obj("GenericError", rc == -EPROTO
			? "not JSON (strict): the connection is closed"
			: "request too large: the connection is closed");

		discard_input(c->io.fd);
		send_json(c, o);
		json_object_put(o);
		msgio_flush(&c->io); /* best effort: the peer may read it */
	}
	if (!rc)
		ptdm_loop_mod(&c->cs->srv->loop, w,
			      EPOLLIN | (msgio_pending(&c->io) ? EPOLLOUT : 0));
	if (rc)
		conn_free(c);
}

static void on_listen(struct ptdm_watch *w, uint32_t events)
{
	struct ctl_server *cs = container_of(w, struct ctl_server, lw);
	int fd = accept4(cs->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct ctl_conn *c;
	struct json_object *g, *q, *v;

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE)
			ptdm_log_ratelimited(&cs->rl, PTDM_LOG_WARN, "control: "
					     "out of file descriptors");
		return;
	}
	if (cs->nconns >= CTL_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		ptdm_log_ratelimited(&cs->rl, PTDM_LOG_WARN, "control: refused "
				     "a client: %u connected",
				     cs->nconns);
		close(fd);
		return;
	}
	c->cs = cs;
	msgio_init(&c->io, fd, c->rx, sizeof(c->rx), CTL_OUT_MAX);
	c->tok = json_tokener_new_ex(16);
	if (!c->tok || ptdm_loop_add(&cs->srv->loop, &c->w, fd, EPOLLIN,
				     on_conn)) {
		json_tokener_free(c->tok);
		close(fd);
		free(c);
		return;
	}
	json_tokener_set_flags(c->tok, JSON_TOKENER_STRICT);
	c->next = cs->conns;
	cs->conns = c;
	cs->nconns++;
	g = json_object_new_object();
	q = json_object_new_object();
	v = json_object_new_object();
	json_object_object_add(v, "ptdm", json_object_new_string(ptdm_version));
	json_object_object_add(q, "version", v);
	json_object_object_add(q, "capabilities", json_object_new_array());
	json_object_object_add(g, "QMP", q);
	send_json(c, g);
	json_object_put(g);
}

int ctl_server_start(struct server *s, const char *path,
		     struct ptdm_err *err)
{
	struct ctl_server *cs = calloc(1, sizeof(*cs));
	mode_t old;
	int rc;

	if (!cs)
		return ptdm_errf(err, -ENOMEM, "out of memory");
	if (strlen(path) >= sizeof(cs->path)) {
		free(cs);
		return ptdm_errf(err, -ENAMETOOLONG, "%s: too long", path);
	}
	old = umask(0177); /* the socket file is 0600 */
	cs->fd = vfu_listen_unix(path, err);
	umask(old);
	if (cs->fd < 0) {
		rc = cs->fd;
		free(cs);
		return rc;
	}
	snprintf(cs->path, sizeof(cs->path), "%s", path);
	cs->srv = s;
	rc = ptdm_loop_add(&s->loop, &cs->lw, cs->fd, EPOLLIN, on_listen);
	if (rc) {
		close(cs->fd);
		unlink(path);
		free(cs);
		return ptdm_errf(err, rc, "control: %s", strerror(-rc));
	}
	s->ctl = cs;
	s->control = true;
	return 0;
}

const char *ctl_server_path(const struct server *s)
{
	return s->ctl ? s->ctl->path : NULL;
}

void ctl_server_stop(struct server *s)
{
	struct ctl_server *cs = s->ctl;

	if (!cs)
		return;
	while (cs->conns)
		conn_free(cs->conns);
	ptdm_loop_del(&s->loop, &cs->lw);
	close(cs->fd);
	unlink(cs->path);
	free(cs);
	s->ctl = NULL;
}

void ctl_trace_line(struct served *d, const char *line)
{
	struct ctl_conn *c = d->trace_to;
	struct json_object *o, *data;

	ptdm_log(PTDM_LOG_INFO, "%s: trace: %s", d->id, line);
	if (!c)
		return;
	o = json_object_new_object();
	data = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string("TRACE"));
	json_object_object_add(data, "id", json_object_new_string(d->id));
	json_object_object_add(data, "line", json_object_new_string(line));
	json_object_object_add(o, "data", data);
	send_json(c, o);
	json_object_put(o);
}
