/*
 * vfu_server.c - vfio-user endpoints in the process's one event loop: a
 * device's listening socket and its one client connection, each a watch.
 *
 * A device serves one client at a time (the protocol's model).  A second
 * client is accepted and closed at once with a log line, so its VMM fails
 * fast instead of waiting out a timeout in the backlog.  A connection that
 * ends or breaks is closed with its DMA maps and interrupt fds; the device
 * keeps its state for the next client.  Connections are read with a
 * per-wake-up budget and written without blocking (vfu_conn.c), so one
 * client, however slow or busy, never holds up another device.
 *
 * Out of fds (EMFILE/ENFILE): the process keeps one reserve fd; it is
 * closed to accept and close the waiting client, then taken again, so a
 * full fd table costs one refused client and one log line, never a
 * spinning loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ptdm/vfu_server.h"

static int reserve_fd = -1;

static void take_reserve(void)
{
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Is a live server answering on path?  (A stale socket refuses.) */
static bool socket_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = !connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	return live;
}

int vfu_listen_unix(const char *path, struct ptdm_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ptdm_errf(err, -ENAMETOOLONG, "%s: path too long for a "
				 "UNIX socket", path);
	strcpy(sa.sun_path, path);
	if (!stat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return ptdm_errf(err, -EEXIST, "%s: exists and is not "
					 "a socket", path);
		if (socket_live(&sa))
			return ptdm_errf(err, -EADDRINUSE, "%s: a server is "
					 "listening there already", path);
		unlink(path); /* a stale socket from an earlier run */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ptdm_errf(err, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		int e = errno;

		close(fd);
		return ptdm_errf(err, -e, "%s: %s", path, strerror(e));
	}
	return fd;
}

static void conn_gone(struct vfu_endpoint *e, int why)
{
	ptdm_log(PTDM_LOG_INFO, "%s: client gone (%s)", e->front.name,
		 strerror(-why));
	ptdm_loop_del(e->front.loop, &e->cw);
	e->messages += e->conn.messages;
	e->errors += e->conn.errors;
	e->irqs += e->conn.irqs;
	vfu_conn_close(&e->conn);
	e->live = false;
	if (e->connected) { /* --fd: nothing to accept */
		e->done = true;
		if (e->front.on_done)
			e->front.on_done(&e->front);
	}
}

static void on_conn(struct ptdm_watch *w, uint32_t events)
{
	struct vfu_endpoint *e = container_of(w, struct vfu_endpoint, cw);
	int rc = 0;

	if (events & EPOLLOUT)
		rc = vfu_conn_output(&e->conn);
	if (!rc && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		rc = vfu_conn_input(&e->conn, VFU_BUDGET);
		rc = rc > 0 ? 0 : rc;
	}
	if (!rc)
		rc = ptdm_loop_mod(e->front.loop, &e->cw,
				   EPOLLIN | (vfu_conn_wants_output(&e->conn)
						      ? EPOLLOUT : 0));
	if (rc)
		conn_gone(e, rc);
}

static int conn_start(struct vfu_endpoint *e, int fd)
{
	int rc = vfu_conn_init(&e->conn, fd, e->front.dev);

	if (rc)
		return rc;
	rc = ptdm_loop_add(e->front.loop, &e->cw, fd, EPOLLIN, on_conn);
	if (rc) {
		vfu_conn_close(&e->conn);
		return rc;
	}
	e->live = true;
	e->clients++;
	return 0;
}

static void on_listen(struct ptdm_watch *w, uint32_t events)
{
	struct vfu_endpoint *e = container_of(w, struct vfu_endpoint, lw);
	int fd = accept4(e->fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0 && (errno == EMFILE || errno == ENFILE) &&
	    reserve_fd >= 0) {
		close(reserve_fd);
		reserve_fd = -1;
		fd = accept4(e->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		take_reserve();
		e->refused++;
		ptdm_log_ratelimited(&e->rl, PTDM_LOG_WARN, "%s: out of file "
				     "descriptors: a client was refused",
				     e->front.name);
		return;
	}
	if (fd < 0)
		return; /* EAGAIN, ECONNABORTED: nothing to do */
	if (e->live) {
		close(fd);
		e->refused++;
		ptdm_log_ratelimited(&e->rl, PTDM_LOG_WARN, "%s: refused a "
				     "second client: one is connected (a "
				     "vfio-user device serves one client)",
				     e->front.name);
		return;
	}
	if (conn_start(e, fd)) {
		close(fd);
		return;
	}
	ptdm_log(PTDM_LOG_INFO, "%s: client connected", e->front.name);
}

static int ep_start(struct ptdm_front *f, struct ptdm_loop *l)
{
	struct vfu_endpoint *e = container_of(f, struct vfu_endpoint, front);
	int rc;

	f->loop = l;
	e->live = e->done = false;
	take_reserve();
	if (e->connected) {
		rc = conn_start(e, e->fd);
		if (!rc)
			e->fd = -1; /* the connection owns it */
		return rc;
	}
	return ptdm_loop_add(l, &e->lw, e->fd, EPOLLIN, on_listen);
}

static void ep_stop(struct ptdm_front *f)
{
	struct vfu_endpoint *e = container_of(f, struct vfu_endpoint, front);

	if (e->live) {
		ptdm_loop_del(f->loop, &e->cw);
		vfu_conn_close(&e->conn);
		e->live = false;
	}
	if (e->fd >= 0) {
		ptdm_loop_del(f->loop, &e->lw);
		close(e->fd);
		e->fd = -1;
	}
}

static void ep_stats(struct ptdm_front *f, struct ptdm_front_stats *out)
{
	struct vfu_endpoint *e = container_of(f, struct vfu_endpoint, front);

	*out = (struct ptdm_front_stats){
		.connected = e->live, .clients = e->clients,
		.refused = e->refused, .messages = e->messages,
		.errors = e->errors, .irqs = e->irqs, .dma_maps = e->dma_maps,
	};
	if (e->live) {
		out->messages += e->conn.messages;
		out->errors += e->conn.errors;
		out->irqs += e->conn.irqs;
		out->dma_maps += e->conn.ndma;
	}
}

const struct front_ops vfu_front_ops = {
	.kind = "vfio-user",
	.start = ep_start,
	.stop = ep_stop,
	.stats = ep_stats,
};

void vfu_endpoint_init(struct vfu_endpoint *e, struct ptdm_dev *dev,
		       const char *name, int fd, bool connected)
{
	memset(e, 0, sizeof(*e));
	e->front = (struct ptdm_front){ .ops = &vfu_front_ops, .dev = dev,
					.name = name };
	e->fd = fd;
	e->connected = connected;
}

struct serve_ctx {
	unsigned left;
};

static void one_done(struct ptdm_front *f)
{
	((struct serve_ctx *)f->opaque)->left--;
}

int vfu_serve(struct vfu_listener *l, unsigned n, volatile sig_atomic_t *stop)
{
	struct vfu_endpoint *e = calloc(n, sizeof(*e));
	struct serve_ctx ctx = { n };
	struct ptdm_loop loop;
	unsigned started = 0;
	int rc;

	if (!e)
		return -ENOMEM;
	rc = ptdm_loop_init(&loop);
	for (unsigned i = 0; !rc && i < n; i++, started++) {
		vfu_endpoint_init(&e[i], l[i].dev, l[i].name, l[i].fd,
				  l[i].connected);
		e[i].front.on_done = one_done;
		e[i].front.opaque = &ctx;
		rc = vfu_front_ops.start(&e[i].front, &loop);
	}
	while (!rc && !*stop && ctx.left)
		rc = ptdm_loop_once(&loop, 250);
	for (unsigned i = 0; i < started; i++) {
		if (!e[i].connected)
			e[i].fd = -1; /* the listener stays the caller's */
		vfu_front_ops.stop(&e[i].front);
	}
	ptdm_loop_fini(&loop);
	free(e);
	return rc;
}
