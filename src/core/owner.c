/*
 * owner.c - turns what the guest programs into host actions (owner.h).
 *
 * State is "what was applied": per BAR the mapped window, for interrupts
 * the kind and vector count the host has on, their eventfds (relay) or
 * the vectors bound (bind), and a pending bitmap for vectors that fired
 * while masked.  Each core event recomputes the wanted state from the
 * core's getters and applies the difference, so events can come in any
 * order, twice, or not at all before ptdm_owner_sync().
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ptdm/log.h"
#include "ptdm/owner.h"

#define MAX_VECS 2048 /* MSI-X table size limit */

struct applied_bar {
	bool mapped;
	uint64_t gpa, size;
	enum host_bar_kind kind;
};

struct ptdm_owner {
	struct ptdm_dev *dev;
	struct ptdm_owner_ops ops;
	struct applied_bar bar[PTDM_NUM_BARS + 1];

	int kind;            /* enum host_irq_kind on in the host, -1: none */
	unsigned nvec;       /* vectors of kind on */
	int *fds;            /* relay: eventfd per vector */
	struct ptdm_owner_vec *bound; /* bind: what each vector is bound to */
	uint64_t pending[MAX_VECS / 64];
	bool intx_asserted;
	unsigned pin; /* 1..4 = INTA..INTD, 0 none */
	int epfd;

	struct ptdm_owner_stats st;
	struct ptdm_ratelimit rl;
};

static bool relay(const struct ptdm_owner *o)
{
	return !o->ops.vec_bind;
}

static void warn(struct ptdm_owner *o, const char *what, int rc)
{
	ptdm_log_ratelimited(&o->rl, PTDM_LOG_WARN, "%s: %s: %s",
			     ptdm_dev_host(o->dev)->name, what, strerror(-rc));
}

/* ---- BARs ---- */

static void bar_apply(struct ptdm_owner *o, int bar)
{
	struct applied_bar *a = &o->bar[bar];
	struct ptdm_bar_info bi;
	int rc;

	ptdm_dev_bar(o->dev, bar, &bi);
	if (bi.kind == HOST_BAR_MEM64_HI)
		return;
	if (a->mapped && (!bi.guest_enabled || a->gpa != bi.guest_addr ||
			  a->size != bi.size)) {
		rc = o->ops.bar_map(o->ops.opaque, bar, a->gpa, a->size,
				    a->kind, false);
		if (rc)
			warn(o, "unmapping a BAR", rc);
		a->mapped = false;
		o->st.bar_unmaps++;
	}
	if (!a->mapped && bi.guest_enabled && bi.size) {
		rc = o->ops.bar_map(o->ops.opaque, bar, bi.guest_addr, bi.size,
				    bi.kind, true);
		if (rc) {
			warn(o, "mapping a BAR", rc);
			return;
		}
		*a = (struct applied_bar){ true, bi.guest_addr, bi.size,
					   bi.kind };
		o->st.bar_maps++;
	}
}

/* ---- the guest's vectors ---- */

/* Vector vec of kind as the guest has it now; false when it is off. */
static bool guest_vec(struct ptdm_owner *o, int kind, unsigned vec,
		      struct ptdm_owner_vec *v)
{
	struct ptdm_msi_state msi;
	struct ptdm_msix_info mx;
	struct ptdm_msix_entry e;

	memset(v, 0, sizeof(*v));
	switch (kind) {
	case HOST_IRQ_MSI:
		ptdm_msi_get(o->dev, &msi);
		if (!msi.enabled || vec >= msi.nvec)
			return false;
		v->addr = msi.addr;
		/* multiple-message: the low bits of data carry the vector */
		v->data = (msi.data & ~(msi.nvec - 1u)) | vec;
		v->masked = msi.maskable && (msi.mask >> vec & 1);
		return true;
	case HOST_IRQ_MSIX:
		ptdm_msix_get(o->dev, &mx);
		if (!mx.enabled || vec >= mx.nvec ||
		    ptdm_msix_entry_get(o->dev, vec, &e))
			return false;
		v->addr = e.addr;
		v->data = e.data;
		v->masked = e.masked || mx.function_masked;
		return true;
	case HOST_IRQ_INTX: {
		uint32_t cmd = 0;

		ptdm_cfg_read(o->dev, PCI_COMMAND, 2, &cmd);
		v->masked = cmd & PCI_COMMAND_INTX_DISABLE;
		return o->pin != 0;
	}
	}
	return false;
}

static bool pending_test(const struct ptdm_owner *o, unsigned v)
{
	return o->pending[v / 64] >> (v % 64) & 1;
}

static void pending_set(struct ptdm_owner *o, unsigned v, bool on)
{
	if (on)
		o->pending[v / 64] |= 1ull << (v % 64);
	else
		o->pending[v / 64] &= ~(1ull << (v % 64));
	if (o->kind == HOST_IRQ_MSI)
		ptdm_msi_set_pending(o->dev, v, on);
	else if (o->kind == HOST_IRQ_MSIX)
		ptdm_msix_set_pending(o->dev, v, on);
}

static void deliver(struct ptdm_owner *o, const struct ptdm_owner_vec *v)
{
	int rc;

	if (o->kind == HOST_IRQ_INTX) {
		if (o->intx_asserted)
			return;
		rc = o->ops.intx_level(o->ops.opaque, o->pin, true);
		o->intx_asserted = !rc;
	} else {
		rc = o->ops.msi_deliver(o->ops.opaque, v->addr, v->data);
	}
	if (rc)
		warn(o, "delivering an interrupt", rc);
	else
		o->st.delivered++;
}

/* One host vector fired. */
static void fired(struct ptdm_owner *o, unsigned vec)
{
	struct ptdm_owner_vec v;

	o->st.fired++;
	if (!guest_vec(o, o->kind, vec, &v)) {
		struct host_dev *h = ptdm_dev_host(o->dev);

		o->st.dropped++;
		if (o->kind == HOST_IRQ_INTX && h->ops->intx_unmask)
			h->ops->intx_unmask(h);
		return;
	}
	if (v.masked) {
		if (!pending_test(o, vec))
			o->st.pended++;
		pending_set(o, vec, true);
		return;
	}
	deliver(o, &v);
}

/* Pending vectors the guest has unmasked go out now. */
static void flush_pending(struct ptdm_owner *o)
{
	struct ptdm_owner_vec v;

	for (unsigned i = 0; i < o->nvec; i++) {
		if (!pending_test(o, i) || !guest_vec(o, o->kind, i, &v) ||
		    v.masked)
			continue;
		pending_set(o, i, false);
		deliver(o, &v);
	}
}

/* ---- turning host interrupts on and off ---- */

static void irq_off(struct ptdm_owner *o)
{
	struct host_dev *h = ptdm_dev_host(o->dev);

	if (o->kind < 0)
		return;
	if (relay(o)) {
		if (h->ops->irq_set)
			h->ops->irq_set(h, o->kind, 0, 0, NULL);
		if (o->intx_asserted)
			o->ops.intx_level(o->ops.opaque, o->pin, false);
		for (unsigned i = 0; i < o->nvec; i++)
			if (o->fds[i] >= 0)
				close(o->fds[i]);
	} else {
		for (unsigned i = 0; i < o->nvec; i++)
			o->ops.vec_bind(o->ops.opaque, o->kind, i, NULL);
	}
	free(o->fds);
	free(o->bound);
	o->fds = NULL;
	o->bound = NULL;
	o->kind = -1;
	o->nvec = 0;
	o->intx_asserted = false;
	memset(o->pending, 0, sizeof(o->pending));
}

static int relay_on(struct ptdm_owner *o, int kind, unsigned n)
{
	struct host_dev *h = ptdm_dev_host(o->dev);
	int rc;

	if (!h->ops->irq_set)
		return -EOPNOTSUPP;
	o->fds = malloc(n * sizeof(*o->fds));
	if (!o->fds)
		return -ENOMEM;
	o->kind = kind;
	o->nvec = n;
	for (unsigned i = 0; i < n; i++)
		o->fds[i] = -1;
	for (unsigned i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		o->fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (o->fds[i] < 0)
			return -errno;
		if (epoll_ctl(o->epfd, EPOLL_CTL_ADD, o->fds[i], &ev))
			return -errno;
	}
	rc = h->ops->irq_set(h, kind, 0, n, o->fds);
	return rc;
}

static int bind_on(struct ptdm_owner *o, int kind, unsigned n)
{
	o->bound = malloc(n * sizeof(*o->bound));
	if (!o->bound)
		return -ENOMEM;
	memset(o->bound, 0xff, n * sizeof(*o->bound)); /* nothing bound yet */
	o->kind = kind;
	o->nvec = n;
	return 0;
}

/* Bind mode: tell the sink about every vector that changed. */
static void bind_update(struct ptdm_owner *o)
{
	struct ptdm_owner_vec v;

	for (unsigned i = 0; i < o->nvec; i++) {
		bool on = guest_vec(o, o->kind, i, &v);
		int rc;

		if (!on)
			v = (struct ptdm_owner_vec){ .masked = true };
		if (!memcmp(&v, &o->bound[i], sizeof(v)))
			continue;
		rc = o->ops.vec_bind(o->ops.opaque, o->kind, i, &v);
		if (rc)
			warn(o, "binding a vector", rc);
		o->bound[i] = v;
		o->st.binds++;
	}
}

static void irq_apply(struct ptdm_owner *o)
{
	struct ptdm_msi_state msi;
	struct ptdm_msix_info mx;
	int kind = -1, rc;
	unsigned n = 0;

	ptdm_msix_get(o->dev, &mx);
	ptdm_msi_get(o->dev, &msi);
	if (mx.present && mx.enabled && mx.nvec) {
		kind = HOST_IRQ_MSIX;
		n = mx.nvec;
	} else if (msi.present && msi.enabled && msi.nvec) {
		kind = HOST_IRQ_MSI;
		n = msi.nvec;
	} else if (o->pin) {
		kind = HOST_IRQ_INTX;
		n = 1;
	}
	if (kind != o->kind || n != o->nvec) {
		irq_off(o);
		if (kind >= 0) {
			rc = relay(o) ? relay_on(o, kind, n) : bind_on(o, kind, n);
			if (rc) {
				warn(o, "turning host interrupts on", rc);
				irq_off(o);
				return;
			}
		}
	}
	if (o->kind < 0)
		return;
	if (relay(o))
		flush_pending(o);
	else
		bind_update(o);
}

/* ---- core events ---- */

static void ev_bar(void *opaque, int bar)
{
	bar_apply(opaque, bar);
}

static void ev_msi(void *opaque)
{
	irq_apply(opaque);
}

static void ev_msix(void *opaque, int vector)
{
	(void)vector;
	irq_apply(opaque);
}

static int ev_reset(void *opaque, enum ptdm_reset_kind kind)
{
	struct ptdm_owner *o = opaque;
	int rc;

	(void)kind;
	irq_off(o);
	rc = ptdm_dev_reset(o->dev);
	ptdm_owner_sync(o);
	return rc;
}

void ptdm_owner_sync(struct ptdm_owner *o)
{
	uint32_t pin = 0;

	ptdm_cfg_read(o->dev, PCI_INTERRUPT_PIN, 1, &pin);
	o->pin = pin <= 4 ? pin : 0;
	for (int i = 0; i <= PTDM_NUM_BARS; i++)
		bar_apply(o, i);
	irq_apply(o);
}

int ptdm_owner_new(struct ptdm_owner **out, struct ptdm_dev *d,
		   const struct ptdm_owner_ops *ops, struct ptdm_err *err)
{
	struct ptdm_owner *o;
	struct ptdm_dev_events ev = {
		.bar_changed = ev_bar,
		.msi_changed = ev_msi,
		.msix_changed = ev_msix,
		.reset_request = ev_reset,
	};

	*out = NULL;
	if (!ops->bar_map ||
	    (!ops->vec_bind && (!ops->msi_deliver || !ops->intx_level)))
		return ptdm_errf(err, -EINVAL, "owner: incomplete sink");
	o = calloc(1, sizeof(*o));
	if (!o)
		return ptdm_errf(err, -ENOMEM, "owner: out of memory");
	o->dev = d;
	o->ops = *ops;
	o->kind = -1;
	o->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (o->epfd < 0) {
		free(o);
		return ptdm_errf(err, -errno, "owner: epoll: %s",
				 strerror(errno));
	}
	ev.opaque = o;
	ptdm_dev_set_events(d, &ev);
	ptdm_owner_sync(o);
	*out = o;
	return 0;
}

void ptdm_owner_free(struct ptdm_owner *o)
{
	if (!o)
		return;
	ptdm_dev_set_events(o->dev, NULL);
	irq_off(o);
	for (int i = 0; i <= PTDM_NUM_BARS; i++)
		if (o->bar[i].mapped)
			o->ops.bar_map(o->ops.opaque, i, o->bar[i].gpa,
				       o->bar[i].size, o->bar[i].kind, false);
	close(o->epfd);
	free(o);
}

int ptdm_owner_fd(const struct ptdm_owner *o)
{
	return relay(o) ? o->epfd : -1;
}

int ptdm_owner_handle(struct ptdm_owner *o)
{
	struct epoll_event ev[32];
	int n, done = 0;

	while ((n = epoll_wait(o->epfd, ev, 32, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			unsigned vec = ev[i].data.u32;
			uint64_t cnt;

			if (vec >= o->nvec ||
			    read(o->fds[vec], &cnt, sizeof(cnt)) != sizeof(cnt))
				continue;
			fired(o, vec);
			done++;
		}
	}
	return done;
}

void ptdm_owner_intx_eoi(struct ptdm_owner *o)
{
	struct host_dev *h = ptdm_dev_host(o->dev);

	if (o->kind != HOST_IRQ_INTX || !o->intx_asserted || !relay(o))
		return;
	o->ops.intx_level(o->ops.opaque, o->pin, false);
	o->intx_asserted = false;
	if (h->ops->intx_unmask)
		h->ops->intx_unmask(h);
}

void ptdm_owner_get_stats(const struct ptdm_owner *o,
			  struct ptdm_owner_stats *out)
{
	*out = o->st;
}

/*
 * The device's own MSI / MSI-X enable bit.  The guest's bit is virtual in
 * the core (cap_msi.c, cap_msix.c); a hypervisor that binds host vectors
 * itself (Xen maps a pirq and programs address and data) leaves the
 * enable to the device model, as xen_pt does.  MSI-X: the function mask
 * is cleared too, masks being per vector.
 */
int ptdm_owner_host_msi_enable(struct ptdm_dev *d, enum host_irq_kind kind,
			       bool on)
{
	struct host_dev *h = ptdm_dev_host(d);
	uint8_t id = kind == HOST_IRQ_MSIX ? PCI_CAP_ID_MSIX : PCI_CAP_ID_MSI;
	uint16_t ctl, bit = kind == HOST_IRQ_MSIX ? PCI_MSIX_FLAGS_ENABLE
						 : PCI_MSI_FLAGS_ENABLE;

	if (kind != HOST_IRQ_MSI && kind != HOST_IRQ_MSIX)
		return -EINVAL;
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++) {
		const struct ptdm_cap_info *c = ptdm_dev_cap(d, i);
		int rc;

		if (c->ext || c->id != id)
			continue;
		rc = host_cfg_read(h, c->pos + 2u, &ctl, 2);
		if (rc)
			return rc;
		ctl = on ? (ctl | bit) : (ctl & ~bit);
		if (kind == HOST_IRQ_MSIX)
			ctl &= ~PCI_MSIX_FLAGS_MASKALL;
		return host_cfg_write(h, c->pos + 2u, &ctl, 2);
	}
	return -ENOENT;
}
