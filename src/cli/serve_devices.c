/*
 * serve_devices.c - the served-device list and the loop of `ptdm serve`
 * (see serve.h).  Adding a device opens and checks everything before the
 * device joins the loop, so a bad add changes nothing.  A front end that
 * ends by itself only marks its device; the device is removed after the
 * loop round, never from inside the callback that is still running.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/serve.h"
#include "cli/view.h"
#include "ptdm/image.h"
#include "ptdm/log.h"
#include "ptdm/mpqemu.h"
#include "ptdm/slot.h"
#include "ptdm/spec.h"
#include "ptdm/vfu_server.h"

int server_init(struct server *s, volatile sig_atomic_t *stop)
{
	memset(s, 0, sizeof(*s));
	s->stop = stop;
	return ptdm_loop_init(&s->loop);
}

struct served *server_find(struct server *s, const char *id)
{
	for (struct served *d = s->devs; d; d = d->next)
		if (!strcmp(d->id, id))
			return d;
	return NULL;
}

static void front_done(struct ptdm_front *f)
{
	((struct served *)f->opaque)->gone = true;
}

/* An inherited fd must be an open stream socket. */
static int check_socket_fd(int fd, struct ptdm_err *err)
{
	struct stat st;
	int type;
	socklen_t len = sizeof(type);

	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return ptdm_errf(err, -EBADF, "fd %d is not open", fd);
	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return ptdm_errf(err, -ENOTSOCK, "fd %d is not a socket", fd);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) ||
	    type != SOCK_STREAM)
		return ptdm_errf(err, -EPROTOTYPE, "fd %d is not a stream "
				 "socket", fd);
	return 0;
}

static int make_front(struct served *d, const struct serve_where *w,
		      struct ptdm_err *err)
{
	const char *name = d->od.host->name;
	int rc;

	switch (w->kind) {
	case SERVE_VFIO_USER: {
		struct vfu_endpoint *e = malloc(sizeof(*e));
		int fd;

		if (!e)
			return ptdm_errf(err, -ENOMEM, "out of memory");
		fd = vfu_listen_unix(w->path, err);
		if (fd < 0) {
			free(e);
			return fd;
		}
		vfu_endpoint_init(e, d->dev, name, fd, false);
		snprintf(d->path, sizeof(d->path), "%s", w->path);
		snprintf(d->where, sizeof(d->where), "%s", w->path);
		d->front = &e->front;
		return 0;
	}
	case SERVE_FD:
	case SERVE_MPQEMU_FD:
		rc = check_socket_fd(w->fd, err);
		if (rc)
			return rc;
		snprintf(d->where, sizeof(d->where), "fd %d", w->fd);
		if (w->kind == SERVE_FD) {
			struct vfu_endpoint *e = malloc(sizeof(*e));

			if (!e)
				return ptdm_errf(err, -ENOMEM, "out of memory");
			vfu_endpoint_init(e, d->dev, name, w->fd, true);
			d->front = &e->front;
		} else {
			struct mpq_endpoint *e = malloc(sizeof(*e));

			if (!e)
				return ptdm_errf(err, -ENOMEM, "out of memory");
			mpq_endpoint_init(e, d->dev, name, w->fd);
			d->front = &e->front;
		}
		return 0;
	case SERVE_XEN:
		snprintf(d->where, sizeof(d->where), "domain %ld", w->domid);
		return serve_xen_front(d, w, &d->front, err);
	}
	return ptdm_errf(err, -EINVAL, "no such front end");
}

/* Once per vfio-user device: may the VMM map the BARs itself, and what
 * that means (docs/security.md). */
static void say_bar_policy(const struct served *d)
{
	const char *name = d->od.host->name;

	if (d->od.opts.mmap_trap)
		fprintf(stderr, "ptdm serve: %s: mmap=trap: no BAR fd is handed "
				"to the VMM; every BAR access goes through ptdm "
				"(slower, and the VMM never holds a device fd)\n",
			name);
	else if (!strcmp(d->od.backend, "vfio"))
		fprintf(stderr, "ptdm serve: %s: mmap=fd: the VMM maps the BARs "
				"from the VFIO device fd, which also lets it issue "
				"VFIO ioctls and write config space past ptdm's "
				"policy (docs/security.md); mmap=trap keeps the fd "
				"from the VMM\n", name);
	else
		fprintf(stderr, "ptdm serve: %s: mmap=fd: the VMM maps BAR memory "
				"from sealed memfds\n", name);
}

static void free_served(struct served *d)
{
	if (d->front) {
		d->front->ops->stop(d->front);
		free(d->front);
	}
	if (d->path[0])
		unlink(d->path);
	ptdm_dev_free(d->dev);
	host_close(d->od.host);
	free(d->dump_guest);
	free(d->dump_host);
	free(d);
}

/*
 * A device's saved state from a file (device-add "state"; ptdm-xen-dm
 * restoring a domain): at most what this device can save, read whole,
 * then ptdm_dev_load, which checks it all before it changes anything.
 * Called before the front end starts, so a refused state adds nothing.
 */
static int load_state_file(struct served *d, const char *path,
			   struct ptdm_err *err)
{
	uint64_t max = ptdm_dev_state_max(d->dev);
	uint8_t *buf = NULL;
	struct stat st;
	size_t have = 0;
	int fd, rc;

	if (!max)
		return ptdm_errf(err, -ENOTSUP, "%s: this device (%s backend) "
				 "has no saved state to load", d->spec,
				 d->od.backend);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return ptdm_errf(err, -errno, "state %s: %s", path,
				 strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return ptdm_errf(err, -EINVAL, "state %s: not a file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return ptdm_errf(err, -EFBIG, "state %s: %lld bytes, more than "
				 "this device's state can be (%llu)", path,
				 (long long)st.st_size,
				 (unsigned long long)max);
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return ptdm_errf(err, -ENOMEM, "out of memory");
	}
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);

		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	if (have != (size_t)st.st_size) {
		free(buf);
		return ptdm_errf(err, -EIO, "state %s: short read", path);
	}
	rc = ptdm_dev_load(d->dev, buf, have);
	free(buf);
	if (rc)
		return ptdm_errf(err, rc, "state %s: %s", path,
				 rc == -ENODEV ? "the state of another device"
				 : rc == -EINVAL ? "malformed for this device "
						   "(truncated, damaged, or "
						   "another model's)"
				 : strerror(-rc));
	ptdm_log(PTDM_LOG_INFO, "%s: state loaded from %s (%zu bytes)",
		 d->id, path, have);
	return 0;
}

long server_save_state(struct served *d, const char *path,
		       struct ptdm_err *err)
{
	uint8_t *buf = NULL;
	size_t len = 0, off = 0;
	int fd, rc = ptdm_dev_save(d->dev, &buf, &len);

	if (rc)
		return ptdm_errf(err, rc, "%s: cannot save its state: %s",
				 d->id, rc == -ENOTSUP ? "this backend has "
				 "none to save" : strerror(-rc));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		rc = -errno;
		free(buf);
		return ptdm_errf(err, rc, "%s: %s", path, strerror(-rc));
	}
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	free(buf);
	if (close(fd) && !rc)
		rc = -errno;
	if (rc) {
		unlink(path);
		return ptdm_errf(err, rc, "%s: %s", path, strerror(-rc));
	}
	return (long)len;
}

int server_write_view(struct served *d, const char *path, bool guest,
		      struct ptdm_err *err)
{
	FILE *f = fopen(path, "we");
	int rc;

	if (!f)
		return ptdm_errf(err, -errno, "%s: %s", path, strerror(errno));
	rc = view_dump(f, d->dev, guest);
	if (fclose(f) && !rc)
		rc = -errno;
	return rc ? ptdm_errf(err, rc < 0 ? rc : -EIO, "%s: cannot write",
			      path) : 0;
}

/* Does spec, served at w, open a device through VFIO? */
static bool spec_is_vfio(const struct ptdm_spec *ps,
			 const struct serve_where *w)
{
	return ps->has_bdf && !ps->image[0] && w->kind != SERVE_XEN;
}

/* The BDFs of the VFIO devices s serves (*out malloc'ed); how many. */
static int served_vfio(struct server *s, char (**out)[16])
{
	unsigned n = 0;

	*out = calloc(s->ndevs ? s->ndevs : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (struct served *d = s->devs; d; d = d->next)
		if (!strcmp(d->od.backend, "vfio"))
			ptdm_spec_bdf_str(&d->od.spec, (*out)[n++],
					  sizeof((*out)[0]));
	return (int)n;
}

/* The IOMMU-group rule for bdfs (n) against what s serves already. */
static int group_check(struct server *s, const char (*bdfs)[16], unsigned n,
		       bool partial, struct ptdm_err *err)
{
	char (*served)[16];
	int ns = served_vfio(s, &served), rc;

	if (ns < 0)
		return ptdm_errf(err, ns, "out of memory");
	rc = slot_group_check(bdfs, n, served, (unsigned)ns, partial, err);
	free(served);
	return rc;
}

int server_check_groups(struct server *s, struct ptdm_err *err)
{
	char (*served)[16];
	int ns = served_vfio(s, &served), rc = 0;

	s->group_check_at_end = false;
	if (ns < 0)
		return ptdm_errf(err, ns, "out of memory");
	for (struct served *d = s->devs; d && !rc; d = d->next) {
		char bdf[16];

		if (strcmp(d->od.backend, "vfio"))
			continue;
		ptdm_spec_bdf_str(&d->od.spec, bdf, sizeof(bdf));
		rc = slot_group_check((const char (*)[16])&bdf, 1,
				      served, (unsigned)ns,
				      d->od.spec.group == PTDM_GROUP_PARTIAL,
				      err);
	}
	free(served);
	return rc;
}

static int add_one(struct server *s, const char *spec, const char *id,
		   const struct serve_where *w, bool check_group,
		   struct served **out, struct ptdm_err *err);

int server_add(struct server *s, const char *spec, const char *id,
	       const struct serve_where *w, struct served **out,
	       struct ptdm_err *err)
{
	return add_one(s, spec, id, w, !s->group_check_at_end, out, err);
}

/*
 * One device; with check_group a VFIO device's IOMMU group is checked
 * first (slot.h), against the devices served already.
 */
static int add_one(struct server *s, const char *spec, const char *id,
		   const struct serve_where *w, bool check_group,
		   struct served **out, struct ptdm_err *err)
{
	struct served *d;
	int rc;

	if (check_group) {
		struct ptdm_spec *ps = malloc(sizeof(*ps));
		char bdf[16];

		if (!ps)
			return ptdm_errf(err, -ENOMEM, "out of memory");
		rc = ptdm_spec_parse(ps, spec, err);
		if (!rc && spec_is_vfio(ps, w)) {
			ptdm_spec_bdf_str(ps, bdf, sizeof(bdf));
			rc = group_check(s, (const char (*)[16])&bdf, 1,
					 ps->group == PTDM_GROUP_PARTIAL, err);
		}
		free(ps);
		if (rc)
			return rc;
	}

	if (id && (!id[0] || strlen(id) >= sizeof(d->id)))
		return ptdm_errf(err, -EINVAL, "id \"%s\": want 1 to %zu "
				 "characters", id, sizeof(d->id) - 1);
	if (id && server_find(s, id))
		return ptdm_errf(err, -EEXIST, "id %s is taken", id);
	if (strlen(spec) >= sizeof(d->spec))
		return ptdm_errf(err, -ENAMETOOLONG, "spec too long");
	d = calloc(1, sizeof(*d));
	if (!d)
		return ptdm_errf(err, -ENOMEM, "out of memory");
	d->srv = s;
	d->kind = w->kind;
	snprintf(d->spec, sizeof(d->spec), "%s", spec);
	if (id)
		snprintf(d->id, sizeof(d->id), "%s", id);
	else
		do
			snprintf(d->id, sizeof(d->id), "dev%u", s->next_id++);
		while (server_find(s, d->id));
	rc = open_device_as(spec, NULL, w->kind == SERVE_XEN ? OPEN_SYSFS
							     : OPEN_VFIO,
			    &d->od, err);
	if (rc)
		goto fail;
	if (!strcmp(d->od.backend, "image") &&
	    !image_sizes_complete(d->od.host)) {
		rc = ptdm_errf(err, -EINVAL, "%s: BAR sizes unknown; serving "
			       "an image needs them (give an lspci -vvv file "
			       "with sizes=FILE)", spec);
		goto fail;
	}
	rc = ptdm_dev_attach(&d->dev, d->od.host, &d->od.opts, err);
	if (rc)
		goto fail;
	if (w->state && (rc = load_state_file(d, w->state, err)))
		goto fail;
	if ((w->dump_guest && !(d->dump_guest = strdup(w->dump_guest))) ||
	    (w->dump_host && !(d->dump_host = strdup(w->dump_host)))) {
		rc = ptdm_errf(err, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = make_front(d, w, err);
	if (rc)
		goto fail;
	d->front->on_done = front_done;
	d->front->opaque = d;
	rc = d->front->ops->start(d->front, &s->loop);
	if (rc) {
		ptdm_errf(err, rc, "%s: cannot serve on %s: %s", spec,
			  d->where, strerror(-rc));
		goto fail;
	}
	d->next = s->devs;
	s->devs = d;
	s->ndevs++;
	ptdm_log(PTDM_LOG_INFO, "%s: %s serves %s on %s", d->id,
		 d->front->ops->kind, d->od.host->name, d->where);
	if (w->kind == SERVE_VFIO_USER || w->kind == SERVE_FD)
		say_bar_policy(d);
	if (out)
		*out = d;
	return 0;
fail:
	free_served(d);
	return rc;
}

/* PATH with {fn} replaced by fn, or PATH.fn */
static int fn_path(char *out, size_t n, const char *path, int fn)
{
	const char *at = strstr(path, "{fn}");
	int k = at ? snprintf(out, n, "%.*s%d%s", (int)(at - path), path, fn,
			      at + 4)
		   : snprintf(out, n, "%s.%d", path, fn);

	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

int server_add_slot(struct server *s, const char *spec, const char *id,
		    const struct serve_where *w, struct served **first,
		    struct ptdm_err *err)
{
	static char specs[SLOT_MAX_FUNCS][SLOT_SPEC_MAX];
	char bdfs[SLOT_MAX_FUNCS][16], paths[SLOT_MAX_FUNCS][108];
	char dumps[2][SLOT_MAX_FUNCS][1024]; /* guest, host */
	int fds[SLOT_MAX_FUNCS];
	struct served *added[SLOT_MAX_FUNCS];
	struct ptdm_spec ps;
	int n, rc;

	rc = ptdm_spec_parse(&ps, spec, err);
	if (rc)
		return rc;
	if (ps.func != PTDM_SPEC_FUNC_ALL) {
		rc = server_add(s, spec, id, w, first, err);
		return rc ? rc : 1;
	}
	if (w->kind != SERVE_VFIO_USER && w->kind != SERVE_XEN &&
	    !(w->kind == SERVE_MPQEMU_FD && w->fn_fd))
		return ptdm_errf(err, -EINVAL, "%s: the functions of a slot "
				 "need one socket each: --vfio-user PATH "
				 "(PATH.F or {fn} in PATH), --xen-domid, or "
				 "--mpqemu-exec with {fd.F}", spec);
	n = slot_expand(spec, specs, err);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct ptdm_spec one;

		rc = ptdm_spec_parse(&one, specs[i], err);
		if (rc)
			return rc;
		snprintf(bdfs[i], sizeof(bdfs[i]), "%04x:%02x:%02x.%d",
			 one.domain, one.bus, one.dev, one.func);
		if (w->kind == SERVE_VFIO_USER &&
		    fn_path(paths[i], sizeof(paths[i]), w->path, one.func))
			return ptdm_errf(err, -ENAMETOOLONG, "%s: socket path "
					 "too long", w->path);
		for (int g = 0; g < 2; g++) {
			const char *dump = g ? w->dump_host : w->dump_guest;

			if (dump && fn_path(dumps[g][i], sizeof(dumps[g][i]),
					    dump, one.func))
				return ptdm_errf(err, -ENAMETOOLONG, "%s: path "
						 "too long", dump);
		}
		fds[i] = w->fn_fd ? w->fn_fd[one.func] : -1;
		if (w->fn_fd && fds[i] < 0)
			return ptdm_errf(err, -EINVAL, "%s: no socket for "
					 "function %d", spec, one.func);
	}
	if (!s->group_check_at_end) {
		rc = w->kind == SERVE_XEN
			     ? slot_group_check(bdfs, (unsigned)n, NULL, 0,
						false, err)
			     : group_check(s, bdfs, (unsigned)n,
					   ps.group == PTDM_GROUP_PARTIAL, err);
		if (rc)
			return rc;
	}
	for (int i = 0; i < n; i++) {
		struct serve_where wi = *w;
		char idi[32];

		if (w->kind == SERVE_VFIO_USER)
			wi.path = paths[i];
		if (w->fn_fd)
			wi.fd = fds[i];
		if (w->dump_guest)
			wi.dump_guest = dumps[0][i];
		if (w->dump_host)
			wi.dump_host = dumps[1][i];
		if (id)
			snprintf(idi, sizeof(idi), "%.28s.%c", id,
				 bdfs[i][strlen(bdfs[i]) - 1]);
		rc = add_one(s, specs[i], id ? idi : NULL, &wi, false,
			     &added[i], err);
		if (rc) {
			while (i--)
				server_del(s, added[i]); /* all or none */
			return rc;
		}
	}
	if (first)
		*first = added[0];
	return n;
}

static void write_dumps(struct served *d)
{
	for (int g = 0; g < 2; g++) { /* what each side holds at the end */
		const char *path = g ? d->dump_host : d->dump_guest;
		FILE *f;

		if (!path)
			continue;
		f = fopen(path, "we");
		if (!f || view_dump(f, d->dev, !g))
			ptdm_log(PTDM_LOG_ERR, "%s: %s: cannot write", d->id,
				 path);
		if (f)
			fclose(f);
	}
}

static void unlink_served(struct server *s, struct served *d)
{
	for (struct served **p = &s->devs; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			s->ndevs--;
			return;
		}
}

/* A real device that leaves stops its DMA first: a reset may not exist
 * (or fail), and whoever gets the device next must not inherit it. */
static void bus_master_off(struct served *d)
{
	struct host_dev *h = d->od.host;
	uint16_t cmd;

	if (!strcmp(d->od.backend, "image") || h->readonly)
		return;
	if (host_cfg_read(h, PCI_COMMAND, &cmd, 2)) {
		ptdm_log(PTDM_LOG_WARN, "%s: cannot read COMMAND to turn bus "
			 "mastering off", d->id);
		return;
	}
	if (!(le16toh(cmd) & PCI_COMMAND_MASTER))
		return;
	cmd = htole16(le16toh(cmd) & ~PCI_COMMAND_MASTER);
	if (host_cfg_write(h, PCI_COMMAND, &cmd, 2))
		ptdm_log(PTDM_LOG_WARN, "%s: cannot turn bus mastering off",
			 d->id);
}

void server_del(struct server *s, struct served *d)
{
	int rc;

	unlink_served(s, d);
	d->front->ops->stop(d->front); /* the peer is told to go */
	write_dumps(d);
	bus_master_off(d);
	rc = ptdm_dev_reset(d->dev);
	if (rc && rc != -ENOTSUP && rc != -ENOTTY)
		ptdm_log(PTDM_LOG_WARN, "%s: reset on removal failed: %s",
			 d->id, strerror(-rc));
	ptdm_log(PTDM_LOG_INFO, "%s: removed", d->id);
	free_served(d);
}

void server_raise_irqs(struct server *s)
{
	for (struct served *d = s->devs; d; d = d->next) {
		int r;

		if (strcmp(d->od.backend, "image"))
			continue;
		r = image_irq_raise(d->od.host, 0);
		fprintf(stderr, "ptdm serve: SIGUSR1: %s raises its "
				"interrupt: %s\n", d->od.host->name,
			r ? strerror(-r) : "done");
	}
}

/* Devices whose front end ended: they leave with their dumps. */
static void reap(struct server *s)
{
	struct served *d = s->devs;

	while (d) {
		struct served *next = d->next;

		if (d->gone) {
			unlink_served(s, d);
			write_dumps(d);
			bus_master_off(d);
			free_served(d);
		}
		d = next;
	}
}

int server_run(struct server *s)
{
	while (!*s->stop && !s->quit) {
		int rc = ptdm_loop_once(&s->loop, 250);

		if (rc) {
			ptdm_log(PTDM_LOG_ERR, "serve: the loop failed: %s",
				 strerror(-rc));
			return 1;
		}
		if (s->hup && *s->hup) {
			*s->hup = 0;
			ptdm_log(PTDM_LOG_WARN, "SIGHUP ignored: there is nothing "
				 "to reload (add and remove devices through "
				 "--control)");
		}
		if (s->raise_irq && *s->raise_irq) {
			*s->raise_irq = 0;
			server_raise_irqs(s);
		}
		reap(s);
		if (!s->control && !s->ndevs)
			break;
	}
	return 0;
}

void server_fini(struct server *s)
{
	ctl_server_stop(s);
	while (s->devs) {
		struct served *d = s->devs;

		s->devs = d->next;
		write_dumps(d);
		free_served(d);
	}
	s->ndevs = 0;
	ptdm_loop_fini(&s->loop);
}
