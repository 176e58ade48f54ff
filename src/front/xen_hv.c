/*
 * xen_hv.c - struct xen_hv_ops on the real Xen 4.17 libraries: the only
 * file that links libxendevicemodel, libxenforeignmemory, libxenevtchn and
 * libxenctrl, so the front end's logic (xen.c) is testable without them.
 * libxencall carries the one call libxenctrl has no wrapper for:
 * PHYSDEVOP_map_pirq with MAP_PIRQ_TYPE_MULTI_MSI (a block of pirqs for a
 * multi-message MSI; xc_physdev_map_pirq_msi maps one vector only).
 *
 * The ioreq pages are mapped with the resource API
 * (XENMEM_resource_ioreq_server); hypervisors or dom0 kernels without it
 * fall back to the legacy path (the gfns get_ioreq_server_info returns,
 * mapped as foreign pages).  Guest memory for rep ioreqs is mapped per
 * request and unmapped at once: no cache to go stale when the guest
 * balloons.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xencall.h>
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>

#include "ptdm/xen.h"

#define PAGE 4096ull
#define MAX_GUEST_PAGES 17 /* 64 KiB rep buffer, unaligned */

struct real_hv {
	struct xen_hv hv;
	xendevicemodel_handle *dm;
	xenforeignmemory_handle *fm;
	xenevtchn_handle *ev;
	xc_interface *xc;
	xencall_handle *call;
	xenforeignmemory_resource_handle *res;
	void *legacy_ioreq, *legacy_buf; /* foreign maps on the legacy path */
};

static struct real_hv *to_real(struct xen_hv *hv)
{
	return (struct real_hv *)hv;
}

static int neg_errno(int rc)
{
	return rc < 0 ? (errno ? -errno : -EIO) : 0;
}

static int hv_nr_vcpus(struct xen_hv *hv, unsigned *n)
{
	return neg_errno(xendevicemodel_nr_vcpus(to_real(hv)->dm, hv->domid, n));
}

static bool hv_domain_alive(struct xen_hv *hv)
{
	xc_dominfo_t info;

	if (xc_domain_getinfo(to_real(hv)->xc, hv->domid, 1, &info) != 1)
		return false;
	/* a domain shut down for suspend (xl save, xl migrate) is still
	 * there: libxl saves the device model after it, and resumes it if
	 * the save fails */
	return info.domid == hv->domid && !info.dying &&
	       (!info.shutdown || info.shutdown_reason == SHUTDOWN_suspend);
}

static int hv_server_create(struct xen_hv *hv, uint16_t *id, void **ioreq_page,
			    void **buf_page, uint32_t *buf_port)
{
	struct real_hv *r = to_real(hv);
	xen_pfn_t ioreq_gfn = 0, buf_gfn = 0;
	evtchn_port_t port = 0;
	void *addr = NULL;
	ioservid_t sid;

	if (xendevicemodel_create_ioreq_server(r->dm, hv->domid,
					       HVM_IOREQSRV_BUFIOREQ_ATOMIC,
					       &sid))
		return neg_errno(-1);
	*id = sid;
	/* frame 0: the buffered page, frame 1: the synchronous one */
	r->res = xenforeignmemory_map_resource(
		r->fm, hv->domid, XENMEM_resource_ioreq_server, sid,
		XENMEM_resource_ioreq_server_frame_bufioreq, 2, &addr,
		PROT_READ | PROT_WRITE, 0);
	if (r->res) {
		*buf_page = addr;
		*ioreq_page = (uint8_t *)addr + PAGE;
		if (xendevicemodel_get_ioreq_server_info(r->dm, hv->domid, sid,
							 NULL, NULL, &port))
			return neg_errno(-1);
		*buf_port = port;
		return 0;
	}
	/* legacy: the server's pages are guest frames */
	if (xendevicemodel_get_ioreq_server_info(r->dm, hv->domid, sid,
						 &ioreq_gfn, &buf_gfn, &port))
		return neg_errno(-1);
	r->legacy_ioreq = xenforeignmemory_map(r->fm, hv->domid,
					       PROT_READ | PROT_WRITE, 1,
					       &ioreq_gfn, NULL);
	r->legacy_buf = xenforeignmemory_map(r->fm, hv->domid,
					     PROT_READ | PROT_WRITE, 1,
					     &buf_gfn, NULL);
	if (!r->legacy_ioreq || !r->legacy_buf)
		return -EIO;
	*ioreq_page = r->legacy_ioreq;
	*buf_page = r->legacy_buf;
	*buf_port = port;
	return 0;
}

static int hv_server_destroy(struct xen_hv *hv, uint16_t id)
{
	struct real_hv *r = to_real(hv);

	if (r->res)
		xenforeignmemory_unmap_resource(r->fm, r->res);
	if (r->legacy_ioreq)
		xenforeignmemory_unmap(r->fm, r->legacy_ioreq, 1);
	if (r->legacy_buf)
		xenforeignmemory_unmap(r->fm, r->legacy_buf, 1);
	r->res = NULL;
	r->legacy_ioreq = r->legacy_buf = NULL;
	return neg_errno(
		xendevicemodel_destroy_ioreq_server(r->dm, hv->domid, id));
}

static int hv_server_enable(struct xen_hv *hv, uint16_t id, bool on)
{
	return neg_errno(xendevicemodel_set_ioreq_server_state(
		to_real(hv)->dm, hv->domid, id, on));
}

static int hv_map_pcidev(struct xen_hv *hv, uint16_t id, unsigned sbdf,
			 bool map)
{
	struct real_hv *r = to_real(hv);
	uint16_t seg = sbdf >> 16;
	uint8_t bus = sbdf >> 8, dev = (sbdf >> 3) & 0x1f, fn = sbdf & 7;

	return neg_errno(
		map ? xendevicemodel_map_pcidev_to_ioreq_server(
			      r->dm, hv->domid, id, seg, bus, dev, fn)
		    : xendevicemodel_unmap_pcidev_from_ioreq_server(
			      r->dm, hv->domid, id, seg, bus, dev, fn));
}

static int hv_map_range(struct xen_hv *hv, uint16_t id, bool mmio,
			uint64_t start, uint64_t end, bool map)
{
	struct real_hv *r = to_real(hv);

	return neg_errno(
		map ? xendevicemodel_map_io_range_to_ioreq_server(
			      r->dm, hv->domid, id, mmio, start, end)
		    : xendevicemodel_unmap_io_range_from_ioreq_server(
			      r->dm, hv->domid, id, mmio, start, end));
}

static int hv_evtchn_fd(struct xen_hv *hv)
{
	return xenevtchn_fd(to_real(hv)->ev);
}

static int hv_evtchn_bind(struct xen_hv *hv, uint32_t remote, uint32_t *local)
{
	xenevtchn_port_or_error_t p =
		xenevtchn_bind_interdomain(to_real(hv)->ev, hv->domid, remote);

	if (p < 0)
		return neg_errno(-1);
	*local = (uint32_t)p;
	return 0;
}

static int hv_evtchn_pending(struct xen_hv *hv, uint32_t *local)
{
	xenevtchn_port_or_error_t p = xenevtchn_pending(to_real(hv)->ev);

	if (p < 0)
		return -EAGAIN;
	*local = (uint32_t)p;
	return 0;
}

static int hv_evtchn_unmask(struct xen_hv *hv, uint32_t local)
{
	return neg_errno(xenevtchn_unmask(to_real(hv)->ev, local));
}

static int hv_evtchn_notify(struct xen_hv *hv, uint32_t local)
{
	return neg_errno(xenevtchn_notify(to_real(hv)->ev, local));
}

static int hv_guest_rw(struct xen_hv *hv, uint64_t gpa, void *buf, size_t len,
		       bool write)
{
	struct real_hv *r = to_real(hv);
	xen_pfn_t pfn[MAX_GUEST_PAGES];
	int err[MAX_GUEST_PAGES];
	uint64_t first = gpa / PAGE, off = gpa % PAGE;
	size_t n = (off + len + PAGE - 1) / PAGE;
	uint8_t *p;
	int rc = 0;

	if (!len)
		return 0;
	if (n > MAX_GUEST_PAGES || gpa + len < gpa)
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		pfn[i] = first + i;
	p = xenforeignmemory_map(r->fm, hv->domid,
				 write ? PROT_READ | PROT_WRITE : PROT_READ, n,
				 pfn, err);
	if (!p)
		return neg_errno(-1);
	for (size_t i = 0; i < n; i++)
		if (err[i])
			rc = -EFAULT;
	if (!rc) {
		if (write)
			memcpy(p + off, buf, len);
		else
			memcpy(buf, p + off, len);
	}
	xenforeignmemory_unmap(r->fm, p, n);
	return rc;
}

static int hv_inject_msi(struct xen_hv *hv, uint64_t addr, uint32_t data)
{
	return neg_errno(
		xendevicemodel_inject_msi(to_real(hv)->dm, hv->domid, addr, data));
}

static int hv_set_intx(struct xen_hv *hv, unsigned sbdf, unsigned pin0,
		       bool level)
{
	return neg_errno(xendevicemodel_set_pci_intx_level(
		to_real(hv)->dm, hv->domid, sbdf >> 16, (sbdf >> 8) & 0xff,
		(sbdf >> 3) & 0x1f, (uint8_t)pin0, level));
}

static int hv_assign_device(struct xen_hv *hv, unsigned host_sbdf, bool on)
{
	struct real_hv *r = to_real(hv);

	if (on)
		return neg_errno(xc_assign_device(r->xc, hv->domid, host_sbdf,
						  XEN_DOMCTL_DEV_RDM_RELAXED));
	return neg_errno(xc_deassign_device(r->xc, hv->domid, host_sbdf));
}

static int hv_map_mmio(struct xen_hv *hv, uint64_t gfn, uint64_t mfn,
		       uint64_t nr, bool map)
{
	struct real_hv *r = to_real(hv);

	if (map && xc_domain_iomem_permission(r->xc, hv->domid, mfn, nr, 1))
		return neg_errno(-1);
	return neg_errno(xc_domain_memory_mapping(
		r->xc, hv->domid, gfn, mfn, nr,
		map ? DPCI_ADD_MAPPING : DPCI_REMOVE_MAPPING));
}

static int hv_map_ioport(struct xen_hv *hv, uint32_t gport, uint32_t mport,
			 uint32_t nr, bool map)
{
	struct real_hv *r = to_real(hv);

	if (map && xc_domain_ioport_permission(r->xc, hv->domid, mport, nr, 1))
		return neg_errno(-1);
	return neg_errno(xc_domain_ioport_mapping(
		r->xc, hv->domid, gport, mport, nr,
		map ? DPCI_ADD_MAPPING : DPCI_REMOVE_MAPPING));
}

static int hv_pirq_map_msi(struct xen_hv *hv, unsigned host_sbdf, int entry,
			   uint64_t table_base, int *pirq)
{
	*pirq = -1; /* let Xen choose */
	return neg_errno(xc_physdev_map_pirq_msi(
		to_real(hv)->xc, hv->domid, -1, pirq, host_sbdf & 0xff,
		(host_sbdf >> 8) & 0xff, entry, table_base));
}

/*
 * The GSI's pirq: the one libxl mapped (pirq == GSI, its
 * xc_physdev_map_pirq(domid, irq, &irq)) when there is one, so that its
 * own unmap at detach finds it; else whichever Xen picks.  Permission is
 * for the GSI as dom0 numbers it (a PV dom0: pirq == GSI), as libxl
 * grants it.
 */
static int hv_pirq_map_gsi(struct xen_hv *hv, int gsi, int *pirq)
{
	struct real_hv *r = to_real(hv);

	*pirq = gsi;
	if (xc_physdev_map_pirq(r->xc, hv->domid, gsi, pirq)) {
		*pirq = -1; /* GSI's number taken by another pirq: any */
		if (xc_physdev_map_pirq(r->xc, hv->domid, gsi, pirq))
			return neg_errno(-1);
	}
	return neg_errno(xc_domain_irq_permission(r->xc, hv->domid,
						  (uint32_t)gsi, true));
}

/*
 * A block of *nr pirqs for the device's MSI (Xen 4.17 physdev.c: index
 * ignored, table_base 0, entry_nr in: vectors, out: the block's size, or
 * on failure what the device or the free pirqs allow); *pirq is the first.
 */
static int hv_pirq_map_multi_msi(struct xen_hv *hv, unsigned host_sbdf,
				 unsigned *nr, int *pirq)
{
	struct real_hv *r = to_real(hv);
	struct physdev_map_pirq *m;
	int rc;

	*pirq = -1;
	if (!r->call)
		return -ENOSYS; /* xencall_open failed: one vector only */
	m = xencall_alloc_buffer(r->call, sizeof(*m)); /* hypercall-safe */
	if (!m)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	m->domid = (domid_t)hv->domid;
	m->type = MAP_PIRQ_TYPE_MULTI_MSI;
	m->index = -1;
	m->pirq = -1;
	m->bus = (int)((host_sbdf >> 16) << 16 | ((host_sbdf >> 8) & 0xff));
	m->devfn = (int)(host_sbdf & 0xff);
	m->entry_nr = (int)*nr;
	m->table_base = 0;
	rc = neg_errno(xencall2(r->call, __HYPERVISOR_physdev_op,
				PHYSDEVOP_map_pirq, (uint64_t)(uintptr_t)m));
	if (m->entry_nr > 0)
		*nr = (unsigned)m->entry_nr;
	if (!rc)
		*pirq = m->pirq;
	xencall_free_buffer(r->call, m);
	return rc;
}

static int hv_pirq_unmap(struct xen_hv *hv, int pirq)
{
	return neg_errno(
		xc_physdev_unmap_pirq(to_real(hv)->xc, hv->domid, pirq));
}

static int hv_msi_bind(struct xen_hv *hv, uint32_t gvec, int pirq,
		       uint32_t gflags, uint64_t gtable, bool bind)
{
	struct real_hv *r = to_real(hv);

	if (bind)
		return neg_errno(xc_domain_update_msi_irq(
			r->xc, hv->domid, gvec, (uint32_t)pirq, gflags, gtable));
	return neg_errno(xc_domain_unbind_msi_irq(r->xc, hv->domid, gvec,
						  (uint32_t)pirq, gflags));
}

/* pirq: the domain's pirq of the GSI (xen_pt binds the one
 * xc_physdev_map_pirq returned: Xen's pt_irq_create_bind takes
 * machine_irq as a pirq of the domain) */
static int hv_intx_bind(struct xen_hv *hv, int pirq, unsigned guest_sbdf,
			unsigned pin0, bool bind)
{
	struct real_hv *r = to_real(hv);
	uint8_t bus = (guest_sbdf >> 8) & 0xff, dev = (guest_sbdf >> 3) & 0x1f;

	if (bind)
		return neg_errno(xc_domain_bind_pt_pci_irq(
			r->xc, hv->domid, (uint8_t)pirq, bus, dev, (uint8_t)pin0));
	return neg_errno(xc_domain_unbind_pt_irq(r->xc, hv->domid,
						 (uint8_t)pirq, PT_IRQ_TYPE_PCI,
						 bus, dev, (uint8_t)pin0, 0));
}

static void hv_close(struct xen_hv *hv)
{
	struct real_hv *r = to_real(hv);

	if (r->ev)
		xenevtchn_close(r->ev);
	if (r->fm)
		xenforeignmemory_close(r->fm);
	if (r->dm)
		xendevicemodel_close(r->dm);
	if (r->xc)
		xc_interface_close(r->xc);
	if (r->call)
		xencall_close(r->call);
	free(r);
}

static const struct xen_hv_ops real_ops = {
	.nr_vcpus = hv_nr_vcpus,
	.domain_alive = hv_domain_alive,
	.server_create = hv_server_create,
	.server_destroy = hv_server_destroy,
	.server_enable = hv_server_enable,
	.map_pcidev = hv_map_pcidev,
	.map_range = hv_map_range,
	.evtchn_fd = hv_evtchn_fd,
	.evtchn_bind = hv_evtchn_bind,
	.evtchn_pending = hv_evtchn_pending,
	.evtchn_unmask = hv_evtchn_unmask,
	.evtchn_notify = hv_evtchn_notify,
	.guest_rw = hv_guest_rw,
	.inject_msi = hv_inject_msi,
	.set_intx = hv_set_intx,
	.assign_device = hv_assign_device,
	.map_mmio = hv_map_mmio,
	.map_ioport = hv_map_ioport,
	.pirq_map_msi = hv_pirq_map_msi,
	.pirq_map_gsi = hv_pirq_map_gsi,
	.pirq_map_multi_msi = hv_pirq_map_multi_msi,
	.pirq_unmap = hv_pirq_unmap,
	.msi_bind = hv_msi_bind,
	.intx_bind = hv_intx_bind,
	.close = hv_close,
};

int xen_hv_open(struct xen_hv **out, uint32_t domid, struct ptdm_err *err)
{
	struct real_hv *r = calloc(1, sizeof(*r));
	int fl;

	*out = NULL;
	if (!r)
		return ptdm_errf(err, -ENOMEM, "xen: out of memory");
	r->hv.ops = &real_ops;
	r->hv.domid = domid;
	r->dm = xendevicemodel_open(NULL, 0);
	r->fm = xenforeignmemory_open(NULL, 0);
	r->ev = xenevtchn_open(NULL, 0);
	r->xc = xc_interface_open(NULL, NULL, 0);
	/* opened now (a sandbox may forbid opening later); without it a
	 * multi-message MSI is bound as its first vector */
	r->call = xencall_open(NULL, 0);
	if (!r->dm || !r->fm || !r->ev || !r->xc) {
		int e = errno;

		hv_close(&r->hv);
		return ptdm_errf(err, e ? -e : -ENODEV,
				 "xen: cannot open the Xen interfaces (%s): "
				 "ptdm must run in dom0 with xenfs mounted "
				 "and the xen-evtchn, xen-privcmd modules "
				 "loaded", strerror(e ? e : ENODEV));
	}
	/* ioreqs are drained until none is left: never block on reading */
	fl = fcntl(xenevtchn_fd(r->ev), F_GETFL);
	if (fl >= 0)
		fcntl(xenevtchn_fd(r->ev), F_SETFL, fl | O_NONBLOCK);
	*out = &r->hv;
	return 0;
}
