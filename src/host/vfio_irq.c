/*
 * vfio_irq.c - interrupts as eventfds through VFIO_DEVICE_SET_IRQS: INTx
 * (with unmask and its eventfd), MSI, MSI-X, ERR and REQ.  The fds set per
 * index are remembered so an index the kernel cannot resize is grown by
 * turning it off and on with every vector, and restored when that fails.
 * The host_ops wrappers log the reason rate-limited: a VMM can repeat them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "host/vfio_priv.h"

static int set_irqs(struct vfio_dev *v, uint32_t flags, unsigned index,
		    unsigned start, unsigned count, const int32_t *fds)
{
	size_t data = (flags & VFIO_IRQ_SET_DATA_EVENTFD) ? count * 4u : 0;
	struct vfio_irq_set *s = calloc(1, sizeof(*s) + data);
	int rc = 0;

	if (!s)
		return -ENOMEM;
	s->argsz = (uint32_t)(sizeof(*s) + data);
	s->flags = flags;
	s->index = index;
	s->start = start;
	s->count = count;
	if (data)
		memcpy(s->data, fds, data);
	if (ioctl(v->fd, VFIO_DEVICE_SET_IRQS, s))
		rc = -errno;
	free(s);
	return rc;
}

const char *vfio_irq_name(unsigned index)
{
	static const char *const names[] = { "INTx", "MSI", "MSI-X", "ERR",
					     "REQ" };

	return index < NUM_IRQ_INDEX ? names[index] : "?";
}

int vfio_irq_off(struct vfio_dev *v, unsigned index)
{
	struct irq_state *st = &v->irq[index];
	int rc;

	if (!st->nvec)
		return 0;
	rc = set_irqs(v, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		      index, 0, 0, NULL);
	if (rc)
		return rc;
	st->nvec = 0;
	st->intx_unmask_fd = false;
	for (uint32_t i = 0; st->fds && i < st->info.count; i++)
		st->fds[i] = -1;
	return 0;
}

int vfio_irq_info(struct host_dev *h, unsigned index,
		  struct ptdm_vfio_irq *out)
{
	struct vfio_dev *v = to_vfio(h);

	if (!v || index >= NUM_IRQ_INDEX || index >= v->info.num_irqs)
		return -EINVAL;
	out->index = index;
	out->flags = v->irq[index].info.flags;
	out->count = v->irq[index].info.count;
	out->enabled = v->irq[index].nvec;
	return 0;
}

int vfio_set_irq_eventfds(struct host_dev *h, unsigned index, unsigned start,
			  unsigned count, const int *fds, struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	struct irq_state *st;
	uint32_t newn, flags;
	int32_t *all;
	int rc;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (index >= NUM_IRQ_INDEX || index >= v->info.num_irqs)
		return ptdm_errf(err, -EINVAL, "%s: no IRQ index %u", h->name,
				 index);
	st = &v->irq[index];
	if (!count) {
		rc = vfio_irq_off(v, index);
		return rc ? ptdm_errf(err, rc, "%s: turning %s off: %s",
				      h->name, vfio_irq_name(index),
				      strerror(-rc))
			  : 0;
	}
	if (!st->info.count)
		return ptdm_errf(err, -EOPNOTSUPP, "%s: the device has no %s "
				 "interrupt", h->name, vfio_irq_name(index));
	if (!(st->info.flags & VFIO_IRQ_INFO_EVENTFD))
		return ptdm_errf(err, -EOPNOTSUPP, "%s: %s cannot signal an "
				 "eventfd", h->name, vfio_irq_name(index));
	if (start >= st->info.count || count > st->info.count - start)
		return ptdm_errf(err, -EINVAL,
				 "%s: %s vectors %u..%u: the device has %u",
				 h->name, vfio_irq_name(index), start,
				 start + count - 1, st->info.count);
	if (!st->fds) {
		st->fds = malloc(st->info.count * sizeof(*st->fds));
		if (!st->fds)
			return ptdm_errf(err, -ENOMEM, "%s: out of memory",
					 h->name);
		for (uint32_t i = 0; i < st->info.count; i++)
			st->fds[i] = -1;
	}
	if (index <= VFIO_PCI_MSIX_IRQ_INDEX) {
		/* INTx, MSI and MSI-X exclude each other */
		for (unsigned o = 0; o <= VFIO_PCI_MSIX_IRQ_INDEX; o++) {
			if (o == index)
				continue;
			rc = vfio_irq_off(v, o);
			if (rc)
				return ptdm_errf(err, rc, "%s: turning %s off "
						 "before enabling %s: %s",
						 h->name, vfio_irq_name(o),
						 vfio_irq_name(index),
						 strerror(-rc));
		}
	}
	flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	newn = start + count > st->nvec ? start + count : st->nvec;
	if (!st->nvec || newn == st->nvec ||
	    !(st->info.flags & VFIO_IRQ_INFO_NORESIZE)) {
		rc = set_irqs(v, flags, index, start, count,
			      (const int32_t *)fds);
		if (!rc) {
			memcpy(st->fds + start, fds, count * sizeof(*fds));
			if (!st->nvec)
				for (uint32_t i = 0; i < start; i++)
					st->fds[i] = -1;
			st->nvec = newn;
			return 0;
		}
		if (rc != -EINVAL || !st->nvec || newn == st->nvec)
			return ptdm_errf(err, rc, "%s: routing %s vectors "
					 "%u..%u to eventfds: %s", h->name,
					 vfio_irq_name(index), start,
					 start + count - 1, strerror(-rc));
	}
	/* grow an index the kernel cannot resize: off, then on with all */
	all = malloc(newn * sizeof(*all));
	if (!all)
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", h->name);
	memcpy(all, st->fds, newn * sizeof(*all));
	memcpy(all + start, fds, count * sizeof(*fds));
	rc = set_irqs(v, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		      index, 0, 0, NULL);
	if (!rc) {
		rc = set_irqs(v, flags, index, 0, newn, all);
		if (rc) {
			/* back to what was there */
			int rb = set_irqs(v, flags, index, 0, st->nvec,
					  st->fds);

			if (rb) {
				st->nvec = 0;
				for (uint32_t i = 0; i < st->info.count; i++)
					st->fds[i] = -1;
			}
		}
	}
	if (rc) {
		free(all);
		return ptdm_errf(err, rc, "%s: growing %s to %u vectors: %s",
				 h->name, vfio_irq_name(index), newn,
				 strerror(-rc));
	}
	memcpy(st->fds, all, newn * sizeof(*all));
	st->nvec = newn;
	free(all);
	return 0;
}

int vfio_irq_unmask_intx(struct host_dev *h)
{
	struct vfio_dev *v = to_vfio(h);

	if (!v || v->info.num_irqs <= VFIO_PCI_INTX_IRQ_INDEX)
		return -EINVAL;
	if (!v->irq[VFIO_PCI_INTX_IRQ_INDEX].nvec)
		return -ENOTCONN;
	return set_irqs(v, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL);
}

int vfio_set_intx_unmask_eventfd(struct host_dev *h, int fd,
				 struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	int32_t f = fd;
	int rc;

	if (!v || v->info.num_irqs <= VFIO_PCI_INTX_IRQ_INDEX)
		return ptdm_errf(err, -EINVAL, "not a VFIO device with INTx");
	if (!v->irq[VFIO_PCI_INTX_IRQ_INDEX].nvec)
		return ptdm_errf(err, -ENOTCONN, "%s: INTx is off: route it "
				 "to an eventfd first", h->name);
	rc = set_irqs(v, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
		      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &f);
	if (rc)
		return ptdm_errf(err, rc, "%s: INTx unmask eventfd: %s",
				 h->name, strerror(-rc));
	v->irq[VFIO_PCI_INTX_IRQ_INDEX].intx_unmask_fd = fd >= 0;
	return 0;
}

/*
 * host_ops wrappers for front ends and owners: the same calls as above,
 * with the sentence a person reads logged (rate-limited: a VMM can repeat
 * any of them) and the errno returned.
 */
int vfio_host_irq_set(struct host_dev *h, enum host_irq_kind kind,
		      unsigned start, unsigned count, const int *fds)
{
	struct ptdm_err err = { "" };
	int rc = vfio_set_irq_eventfds(h, (unsigned)kind, start, count, fds,
				       &err);

	if (rc)
		ptdm_log_ratelimited(&to_vfio(h)->rl, PTDM_LOG_WARN, "%s",
				     err.msg);
	return rc;
}

int vfio_host_intx_unmask_fd(struct host_dev *h, int fd)
{
	struct ptdm_err err = { "" };
	int rc = vfio_set_intx_unmask_eventfd(h, fd, &err);

	if (rc)
		ptdm_log_ratelimited(&to_vfio(h)->rl, PTDM_LOG_WARN, "%s",
				     err.msg);
	return rc;
}

int vfio_host_irq_count(struct host_dev *h, enum host_irq_kind kind,
			unsigned *count)
{
	struct ptdm_vfio_irq vi;
	int rc = vfio_irq_info(h, (unsigned)kind, &vi);

	if (rc)
		return rc;
	*count = vi.count;
	return 0;
}
