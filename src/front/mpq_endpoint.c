/*
 * mpq_endpoint.c - an x-pci-proxy-dev connection as a front end in the
 * loop: one inherited socket, served until the proxy goes away (then
 * on_done).  The protocol is in mpqemu.c.
 */
#include <errno.h>
#include <string.h>

#include "ptdm/mpqemu.h"

static void on_proxy(struct ptdm_watch *w, uint32_t events)
{
	struct mpq_endpoint *e = container_of(w, struct mpq_endpoint, w);
	int rc = 0;

	if (events & EPOLLOUT)
		rc = mpq_conn_output(&e->conn);
	if (!rc && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		rc = mpq_conn_input(&e->conn, MPQ_BUDGET);
		rc = rc > 0 ? 0 : rc;
	}
	if (!rc)
		rc = ptdm_loop_mod(e->front.loop, w,
				   EPOLLIN | (msgio_pending(&e->conn.io)
						      ? EPOLLOUT : 0));
	if (!rc)
		return;
	ptdm_log(PTDM_LOG_INFO, "%s: proxy gone (%s)", e->front.name,
		 strerror(-rc));
	ptdm_loop_del(e->front.loop, w);
	e->live = false;
	if (e->front.on_done)
		e->front.on_done(&e->front);
}

static int ep_start(struct ptdm_front *f, struct ptdm_loop *l)
{
	struct mpq_endpoint *e = container_of(f, struct mpq_endpoint, front);
	int rc = mpq_conn_init(&e->conn, e->fd, f->dev);

	f->loop = l;
	if (!rc)
		rc = ptdm_loop_add(l, &e->w, e->fd, EPOLLIN, on_proxy);
	if (rc)
		return rc;
	e->fd = -1; /* the connection owns it */
	e->live = e->started = true;
	return 0;
}

static void ep_stop(struct ptdm_front *f)
{
	struct mpq_endpoint *e = container_of(f, struct mpq_endpoint, front);

	if (e->live)
		ptdm_loop_del(f->loop, &e->w);
	if (e->started)
		mpq_conn_close(&e->conn);
	e->live = e->started = false;
}

static void ep_stats(struct ptdm_front *f, struct ptdm_front_stats *out)
{
	struct mpq_endpoint *e = container_of(f, struct mpq_endpoint, front);

	*out = (struct ptdm_front_stats){
		.connected = e->live, .clients = 1,
		.messages = e->conn.messages, .errors = e->conn.errors,
		.dma_maps = e->conn.nram,
	};
}

const struct front_ops mpq_front_ops = {
	.kind = "mpqemu",
	.start = ep_start,
	.stop = ep_stop,
	.stats = ep_stats,
};

void mpq_endpoint_init(struct mpq_endpoint *e, struct ptdm_dev *dev,
		       const char *name, int fd)
{
	memset(e, 0, sizeof(*e));
	e->front = (struct ptdm_front){ .ops = &mpq_front_ops, .dev = dev,
					.name = name };
	e->fd = fd;
}
