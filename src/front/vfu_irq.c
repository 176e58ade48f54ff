/*
 * vfu_irq.c - vfio-user GET_IRQ_INFO and SET_IRQS: the client's eventfds
 * per interrupt index.  They go to the host as they are (host_ops.irq_set:
 * VFIO hands them to VFIO_DEVICE_SET_IRQS, so the kernel signals the VMM
 * without ptdm); the front end keeps them too and signals them itself when
 * asked (vfu_conn_trigger), for a host that cannot.  Every fd must be an
 * eventfd (util/evfd.c) before anything is kept, and ptdm signals them only
 * through evfd_signal(), which cannot block on a counter the client
 * filled.
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/vfu_priv.h"
#include "util/evfd.h"

/* The guest sees a PCI Express capability (vfio-pci's test for ERR). */
static bool guest_is_pcie(struct vfu_conn *c)
{
	for (size_t i = 0; i < ptdm_dev_ncaps(c->dev); i++) {
		const struct ptdm_cap_info *ci = ptdm_dev_cap(c->dev, i);

		if (!ci->ext && !ci->hidden && ci->id == PCI_CAP_ID_EXP)
			return true;
	}
	return false;
}

static unsigned irq_count(struct vfu_conn *c, unsigned index)
{
	struct ptdm_msi_state msi;
	struct ptdm_msix_info msix;
	uint32_t pin = 0;

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		ptdm_cfg_read(c->dev, 0x3d, 1, &pin);
		return pin ? 1 : 0;
	case VFIO_PCI_MSI_IRQ_INDEX:
		ptdm_msi_get(c->dev, &msi);
		return msi.present ? msi.nvec_max : 0;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		ptdm_msix_get(c->dev, &msix);
		return msix.present ? msix.nvec : 0;
	default: {
		unsigned n;

		/*
		 * ERR and REQ: what the host offers (VFIO: the kernel's
		 * count); elsewhere as vfio-pci has them: REQ always, ERR for
		 * PCI Express devices (QEMU warns "Could not enable error
		 * recovery" when a PCIe device has none).  ptdm never signals
		 * them for an image; the client's eventfds are kept until it
		 * goes.
		 */
		if (!host_irq_count(ptdm_dev_host(c->dev),
				    (enum host_irq_kind)index, &n))
			return n;
		if (index == VFIO_PCI_ERR_IRQ_INDEX)
			return guest_is_pcie(c) ? 1 : 0;
		return index == VFIO_PCI_REQ_IRQ_INDEX ? 1 : 0;
	}
	}
}

int vfu_h_irq_info(struct vfu_conn *c, struct msg *m)
{
	struct vfu_irq_info q, r;

	memcpy(&q, m->p, sizeof(q));
	if (q.index >= VFU_NUM_IRQ_INDEX || q.argsz < sizeof(r))
		return -EINVAL;
	r = (struct vfu_irq_info){ .argsz = sizeof(r), .index = q.index,
				   .count = irq_count(c, q.index),
				   .flags = VFIO_IRQ_INFO_EVENTFD };
	if (q.index == VFIO_PCI_INTX_IRQ_INDEX)
		r.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		r.flags |= VFIO_IRQ_INFO_NORESIZE;
	memcpy(m->r, &r, sizeof(r));
	m->rlen = sizeof(r);
	return 0;
}

static void close_irq_range(struct vfu_conn *c, unsigned index,
			    unsigned start, unsigned count)
{
	for (unsigned v = start; v < start + count && v < c->nirq_fds[index];
	     v++) {
		if (c->irq_fds[index][v] >= 0)
			close(c->irq_fds[index][v]);
		c->irq_fds[index][v] = -1;
	}
}

static int grow_irq(struct vfu_conn *c, unsigned index, unsigned n)
{
	int *p;

	if (n <= c->nirq_fds[index])
		return 0;
	p = realloc(c->irq_fds[index], n * sizeof(int));
	if (!p)
		return -ENOMEM;
	for (unsigned v = c->nirq_fds[index]; v < n; v++)
		p[v] = -1;
	c->irq_fds[index] = p;
	c->nirq_fds[index] = n;
	return 0;
}

int vfu_conn_trigger(struct vfu_conn *c, unsigned index, unsigned vec)
{
	int rc;

	if (index >= VFU_NUM_IRQ_INDEX || vec >= c->nirq_fds[index] ||
	    c->irq_fds[index][vec] < 0)
		return -ENOENT;
	if (index == VFIO_PCI_INTX_IRQ_INDEX && c->intx_masked)
		return -EAGAIN;
	rc = evfd_signal(c->irq_fds[index][vec]);
	if (rc == -EAGAIN) {
		/* a full counter: the client has a signal pending already */
		c->irq_full++;
		rc = 0;
	}
	if (rc) {
		vfu_conn_warn(c, "signalling an interrupt eventfd", -rc);
		return rc;
	}
	c->irqs++;
	if (index == VFIO_PCI_INTX_IRQ_INDEX)
		c->intx_masked = true; /* automasked until unmasked */
	return 0;
}

/* Every fd of the message an eventfd (made non-blocking), or nothing. */
static int check_eventfds(struct vfu_conn *c, struct msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++) {
		int rc = evfd_check(m->fds[i]);

		if (rc) {
			vfu_conn_warn(c, "SET_IRQS: an interrupt fd that is not "
				      "an eventfd", -rc);
			return rc;
		}
	}
	return 0;
}

/*
 * Hand the kept eventfds of [start, start+count) to the host (count 0: the
 * index off).  A host without irq_set, or an index the device does not
 * have, leaves it to the front end.
 */
static int host_route(struct vfu_conn *c, unsigned index, unsigned start,
		      unsigned count)
{
	struct host_dev *h = ptdm_dev_host(c->dev);
	unsigned n;

	if (!h->ops->irq_set || !irq_count(c, index))
		return 0;
	/* ERR/REQ the host does not have (an image's): the fds stay here */
	if (index >= VFIO_PCI_ERR_IRQ_INDEX &&
	    host_irq_count(h, (enum host_irq_kind)index, &n))
		return 0;
	if (!count)
		return host_irq_set(h, (enum host_irq_kind)index, 0, 0, NULL);
	return host_irq_set(h, (enum host_irq_kind)index, start, count,
			    c->irq_fds[index] + start);
}

/* The host when it unmasks INTx itself (and can take an unmask eventfd);
 * NULL: the front end's own mask is all there is. */
static struct host_dev *vfu_intx_host(const struct vfu_conn *c)
{
	struct host_dev *h = ptdm_dev_host(c->dev);

	return h->ops->intx_unmask && h->ops->intx_unmask_fd ? h : NULL;
}

int vfu_h_set_irqs(struct vfu_conn *c, struct msg *m)
{
	const uint32_t data = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL |
			      VFIO_IRQ_SET_DATA_EVENTFD;
	const uint32_t action = VFIO_IRQ_SET_ACTION_MASK |
				VFIO_IRQ_SET_ACTION_UNMASK |
				VFIO_IRQ_SET_ACTION_TRIGGER;
	struct vfu_irq_set q;
	uint32_t d, a, max;
	int rc;

	memcpy(&q, m->p, sizeof(q));
	d = q.flags & data;
	a = q.flags & action;
	if (q.flags & ~(data | action) || __builtin_popcount(d) != 1 ||
	    __builtin_popcount(a) != 1 || q.index >= VFU_NUM_IRQ_INDEX)
		return -EINVAL;
	max = irq_count(c, q.index);
	/* count 0 with DATA_NONE|TRIGGER: the whole index off */
	if (!q.count) {
		if (d != VFIO_IRQ_SET_DATA_NONE || a != VFIO_IRQ_SET_ACTION_TRIGGER ||
		    m->nfds)
			return -EINVAL;
		rc = host_route(c, q.index, 0, 0);
		close_irq_range(c, q.index, 0, c->nirq_fds[q.index]);
		return rc;
	}
	if (q.start >= max || q.count > max - q.start)
		return -EINVAL;
	if (a != VFIO_IRQ_SET_ACTION_TRIGGER) {
		/* masking exists for INTx only */
		if (q.index != VFIO_PCI_INTX_IRQ_INDEX || m->nfds > 1 ||
		    (m->nfds && (d != VFIO_IRQ_SET_DATA_EVENTFD ||
				 a != VFIO_IRQ_SET_ACTION_UNMASK)))
			return -EINVAL;
		c->intx_masked = a == VFIO_IRQ_SET_ACTION_MASK;
		if (vfu_intx_host(c) && a == VFIO_IRQ_SET_ACTION_UNMASK) {
			/* an unmask eventfd (resample), or unmask now */
			int rc2;

			if (!m->nfds)
				return host_intx_unmask(vfu_intx_host(c));
			rc2 = check_eventfds(c, m);
			if (rc2)
				return rc2;
			rc2 = host_intx_unmask_fd(vfu_intx_host(c), m->fds[0]);
			if (rc2)
				return rc2;
			if (c->intx_unmask_fd >= 0)
				close(c->intx_unmask_fd);
			c->intx_unmask_fd = m->fds[0];
			m->fds[0] = -1; /* kept while the kernel uses it */
			return 0;
		}
		return 0;
	}
	switch (d) {
	case VFIO_IRQ_SET_DATA_EVENTFD:
		/* the fds travel as SCM_RIGHTS; the payload may carry s32s */
		if (m->len != sizeof(q) && m->len != sizeof(q) + 4 * q.count)
			return -EINVAL;
		if (m->nfds && m->nfds != q.count)
			return -EINVAL;
		rc = check_eventfds(c, m);
		if (rc)
			return rc;
		rc = grow_irq(c, q.index, q.start + q.count);
		if (rc)
			return rc;
		close_irq_range(c, q.index, q.start, q.count);
		for (unsigned i = 0; i < m->nfds; i++) {
			c->irq_fds[q.index][q.start + i] = m->fds[i];
			m->fds[i] = -1; /* kept */
		}
		/* with VFIO the kernel signals these fds itself */
		return host_route(c, q.index, q.start, q.count);
	case VFIO_IRQ_SET_DATA_BOOL:
		if (m->len != sizeof(q) + q.count || m->nfds)
			return -EINVAL;
		for (unsigned i = 0; i < q.count; i++)
			if (m->p[sizeof(q) + i])
				vfu_conn_trigger(c, q.index, q.start + i);
		return 0;
	default:
		if (m->len != sizeof(q) || m->nfds)
			return -EINVAL;
		for (unsigned i = 0; i < q.count; i++)
			vfu_conn_trigger(c, q.index, q.start + i);
		return 0;
	}
}

/* The client is gone: the kernel lets go of its eventfds first. */
void vfu_irq_release(struct vfu_conn *c)
{
	int rc;

	if (c->intx_unmask_fd >= 0) {
		if (vfu_intx_host(c) &&
		    (rc = host_intx_unmask_fd(vfu_intx_host(c), -1)))
			vfu_conn_warn(c, "INTx unmask eventfd off", -rc);
		close(c->intx_unmask_fd);
		c->intx_unmask_fd = -1;
	}
	for (unsigned i = 0; i < VFU_NUM_IRQ_INDEX; i++) {
		if (c->nirq_fds[i] && (rc = host_route(c, i, 0, 0)))
			vfu_conn_warn(c, "interrupts off in the host", -rc);
		close_irq_range(c, i, 0, c->nirq_fds[i]);
		free(c->irq_fds[i]);
		c->irq_fds[i] = NULL;
		c->nirq_fds[i] = 0;
	}
}
