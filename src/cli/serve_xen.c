/*
 * serve_xen.c - the Xen front end of `ptdm serve DEVICE --xen-domid N
 * [--xen-cf8]`: one ioreq server per device, any number of devices and
 * domains in one process.
 *
 * Runs in dom0 beside the domain's QEMU (a second ioreq server that only
 * claims its device) or alone for a guest with no other emulation
 * (--xen-cf8: ptdm also answers the CONFIG_ADDRESS port).  The guest slot
 * is the spec's @VSLOT (default 3); the function 0, device-add's
 * "xen-function", or for the functions of a slot passed together
 * (BB:DD.*) the host's function number.  A BDF is opened through sysfs
 * as Xen's own passthrough does: Xen maps its BARs and binds its
 * interrupts.  The event channel and
 * the owner's interrupt fd are watched in the loop, and a 500 ms timer
 * notices the domain's death; then the front end is done (on_done) and the
 * device leaves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cli/serve.h"
#include "ptdm/log.h"
#include "ptdm/xen.h"

struct xen_front {
	struct ptdm_front front;
	struct xen_hv *hv;
	struct xen_server *srv;
	long domid;
	struct ptdm_watch w[2], tick;
	unsigned nw;
	int timer_fd;
	bool ended;
};

static void host_res(const struct opened_dev *od, struct xen_host_res *r)
{
	unsigned dom, bus, dev, fn;

	memset(r, 0, sizeof(*r));
	if (!strcmp(od->backend, "image"))
		return;
	r->real = true;
	if (sscanf(od->host->bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) == 4)
		r->sbdf = (dom << 16) | (bus << 8) | (dev << 3) | fn;
	r->gsi = (int)od->host->irq;
	memcpy(r->phys, od->host->bar_phys, sizeof(r->phys));
}

static void serve_now(struct xen_front *x)
{
	if (x->ended || xen_server_handle(x->srv) != -ESRCH)
		return;
	ptdm_log(PTDM_LOG_INFO, "xen: domain %ld is gone", x->domid);
	x->ended = true;
	if (x->front.on_done)
		x->front.on_done(&x->front);
}

static void on_fd0(struct ptdm_watch *w, uint32_t events)
{
	serve_now(container_of(w, struct xen_front, w[0]));
}

static void on_fd1(struct ptdm_watch *w, uint32_t events)
{
	serve_now(container_of(w, struct xen_front, w[1]));
}

static void on_tick(struct ptdm_watch *w, uint32_t events)
{
	struct xen_front *x = container_of(w, struct xen_front, tick);
	uint64_t n;

	if (read(x->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		ptdm_log(PTDM_LOG_WARN, "xen: timer: %s", strerror(errno));
	serve_now(x);
}

static int xf_start(struct ptdm_front *f, struct ptdm_loop *l)
{
	struct xen_front *x = container_of(f, struct xen_front, front);
	struct itimerspec its = { { 0, 500000000 }, { 0, 500000000 } };
	int fds[2], rc;

	f->loop = l;
	x->nw = xen_server_fds(x->srv, fds);
	for (unsigned i = 0; i < x->nw; i++) {
		rc = ptdm_loop_add(l, &x->w[i], fds[i], EPOLLIN,
				   i ? on_fd1 : on_fd0);
		if (rc)
			return rc;
	}
	x->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (x->timer_fd < 0 || timerfd_settime(x->timer_fd, 0, &its, NULL))
		return -errno;
	return ptdm_loop_add(l, &x->tick, x->timer_fd, EPOLLIN, on_tick);
}

static void xf_stop(struct ptdm_front *f)
{
	struct xen_front *x = container_of(f, struct xen_front, front);
	struct xen_server_stats st;

	for (unsigned i = 0; i < x->nw; i++)
		ptdm_loop_del(f->loop, &x->w[i]);
	ptdm_loop_del(f->loop, &x->tick);
	if (x->timer_fd >= 0)
		close(x->timer_fd);
	x->timer_fd = -1;
	x->nw = 0;
	if (x->srv) {
		xen_server_get_stats(x->srv, &st);
		fprintf(stderr, "ptdm serve: %lu ioreqs (%lu config, %lu "
				"port, %lu mmio, %lu buffered) from %u vCPUs, "
				"%lu refused; interrupts: %lu fired, %lu "
				"delivered, %lu held while masked [%s]\n",
			st.ioreqs, st.cfg, st.pio, st.mmio, st.buffered,
			st.vcpus, st.bad, st.irq_fired, st.irq_delivered,
			st.irq_pended, f->name);
		xen_server_free(x->srv);
		x->srv = NULL;
	}
	if (x->hv)
		x->hv->ops->close(x->hv);
	x->hv = NULL;
}

static void xf_stats(struct ptdm_front *f, struct ptdm_front_stats *out)
{
	struct xen_front *x = container_of(f, struct xen_front, front);
	struct xen_server_stats st = { 0 };

	if (x->srv)
		xen_server_get_stats(x->srv, &st);
	*out = (struct ptdm_front_stats){ .connected = !x->ended,
					  .clients = 1, .messages = st.ioreqs,
					  .errors = st.bad,
					  .irqs = st.irq_delivered };
}

static const struct front_ops xen_front_ops = {
	.kind = "xen",
	.start = xf_start,
	.stop = xf_stop,
	.stats = xf_stats,
};

int serve_xen_front(struct served *d, const struct serve_where *w,
		    struct ptdm_front **out, struct ptdm_err *err)
{
	struct xen_front *x = calloc(1, sizeof(*x));
	struct xen_server_opts xo = { .cf8 = w->xen_cf8,
		.toolstack_assigns = w->xen_toolstack_assigns,
		.gfx_passthru = w->xen_gfx_passthru };
	struct xen_host_res res;
	int vslot = d->od.spec.vslot >= 0 ? d->od.spec.vslot : 3;
	int rc;

	if (!x)
		return ptdm_errf(err, -ENOMEM, "out of memory");
	x->front = (struct ptdm_front){ .ops = &xen_front_ops, .dev = d->dev,
					.name = d->od.host->name };
	x->domid = w->domid;
	x->timer_fd = -1;
	/* the function: the caller's, or for a function of a multi-function
	 * slot its own number */
	xo.guest_sbdf = (unsigned)vslot << 3 |
			(w->xen_fn ? (unsigned)(w->xen_fn & 7)
			 : d->od.spec.multifunction == 1 && d->od.spec.func > 0
				 ? (unsigned)d->od.spec.func : 0);
	rc = xen_hv_open(&x->hv, (uint32_t)w->domid, err);
	if (!rc) {
		host_res(&d->od, &res);
		rc = xen_server_new(&x->srv, x->hv, d->dev, &res, &xo, err);
	}
	if (rc) {
		xf_stop(&x->front);
		free(x);
		return rc;
	}
	snprintf(d->where, sizeof(d->where), "00:%02x.%x of domain %ld%s",
		 vslot, w->xen_fn & 7, w->domid,
		 w->xen_cf8 ? " (with the 0xcf8 latch)" : "");
	*out = &x->front;
	return 0;
}
