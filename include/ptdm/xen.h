/*
 * xen.h - ptdm as a Xen ioreq server: one device for one HVM/PVH domain.
 *
 * The server claims the device's guest BDF and, as the guest programs
 * them, its BAR windows; Xen forwards the guest's config, port and MMIO
 * accesses there as ioreqs, which the core answers.  The generic owner
 * (owner.h) turns the guest's programming into Xen calls:
 *   image devices   BARs trapped (registered with the server), INTx and
 *                   MSI/MSI-X injected with device-model calls;
 *   real devices    memory BARs mapped into the p2m except the MSI-X
 *                   table/PBA pages, which stay trapped; I/O BARs mapped;
 *                   INTx, MSI (every vector the guest enabled) and
 *                   MSI-X bound as pirqs.
 *
 * Every hypervisor call goes through struct xen_hv_ops, so the request
 * sequence can be tested without Xen (tests/unit/test_xen.c);
 * xen_hv_open() is the real one (libxendevicemodel, libxenforeignmemory,
 * libxenevtchn, libxenctrl 4.17).
 */
#ifndef PTDM_XEN_H
#define PTDM_XEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptdm/dev.h"
#include "ptdm/err.h"

struct xen_hv;

/* Everything ptdm asks of Xen for one domain.  0 or -errno. */
struct xen_hv_ops {
	int (*nr_vcpus)(struct xen_hv *hv, unsigned *n);
	bool (*domain_alive)(struct xen_hv *hv);
	/* ioreq server lifecycle; pages are the synchronous ioreq page
	 * (one ioreq_t per vCPU) and the buffered page (NULL: none) */
	int (*server_create)(struct xen_hv *hv, uint16_t *id, void **ioreq_page,
			     void **buf_page, uint32_t *buf_port);
	int (*server_destroy)(struct xen_hv *hv, uint16_t id);
	int (*server_enable)(struct xen_hv *hv, uint16_t id, bool on);
	int (*map_pcidev)(struct xen_hv *hv, uint16_t id, unsigned sbdf,
			  bool map);
	/* [start, end] inclusive, like Xen */
	int (*map_range)(struct xen_hv *hv, uint16_t id, bool mmio,
			 uint64_t start, uint64_t end, bool map);
	/* event channels: one fd, bind a guest port to a local one */
	int (*evtchn_fd)(struct xen_hv *hv);
	int (*evtchn_bind)(struct xen_hv *hv, uint32_t remote, uint32_t *local);
	int (*evtchn_pending)(struct xen_hv *hv, uint32_t *local);
	int (*evtchn_unmask)(struct xen_hv *hv, uint32_t local);
	int (*evtchn_notify)(struct xen_hv *hv, uint32_t local);
	/* guest memory, for ioreqs with data_is_ptr */
	int (*guest_rw)(struct xen_hv *hv, uint64_t gpa, void *buf, size_t len,
			bool write);
	/* emulated interrupts (image devices) */
	int (*inject_msi)(struct xen_hv *hv, uint64_t addr, uint32_t data);
	int (*set_intx)(struct xen_hv *hv, unsigned sbdf, unsigned pin0,
			bool level);
	/* real devices: the IOMMU context (the device then DMAs into the
	 * guest's memory), p2m and pirqs */
	int (*assign_device)(struct xen_hv *hv, unsigned host_sbdf, bool on);
	int (*map_mmio)(struct xen_hv *hv, uint64_t gfn, uint64_t mfn,
			uint64_t nr, bool map);
	int (*map_ioport)(struct xen_hv *hv, uint32_t gport, uint32_t mport,
			  uint32_t nr, bool map);
	int (*pirq_map_msi)(struct xen_hv *hv, unsigned host_sbdf, int entry,
			    uint64_t table_base, int *pirq);
	int (*pirq_map_gsi)(struct xen_hv *hv, int gsi, int *pirq);
	/* a multi-message MSI: *nr (a power of 2) vectors as the pirqs
	 * *pirq .. *pirq + *nr - 1, unmapped by unmapping *pirq; on failure
	 * *nr may say how many Xen could give */
	int (*pirq_map_multi_msi)(struct xen_hv *hv, unsigned host_sbdf,
				  unsigned *nr, int *pirq);
	int (*pirq_unmap)(struct xen_hv *hv, int pirq);
	int (*msi_bind)(struct xen_hv *hv, uint32_t gvec, int pirq,
			uint32_t gflags, uint64_t gtable, bool bind);
	/* pirq: the one pirq_map_gsi gave */
	int (*intx_bind)(struct xen_hv *hv, int pirq, unsigned guest_sbdf,
			 unsigned pin0, bool bind);
	void (*close)(struct xen_hv *hv);
};

struct xen_hv {
	const struct xen_hv_ops *ops;
	uint32_t domid;
};

/* The real hypervisor, for domain domid. */
int xen_hv_open(struct xen_hv **out, uint32_t domid, struct ptdm_err *err);

/* What a real device needs beyond the core: where it is on the host. */
struct xen_host_res {
	bool real;                   /* false: an image, everything emulated */
	unsigned sbdf;               /* host seg:bus:dev.fn, PCI_SBDF layout */
	int gsi;                     /* host INTx line, -1 none */
	uint64_t phys[PTDM_NUM_BARS + 1]; /* host BAR addresses, 0 unknown */
};

struct xen_server_opts {
	unsigned guest_sbdf; /* (seg << 16) | (bus << 8) | (dev << 3) | fn */
	bool cf8;            /* emulate CONFIG_ADDRESS: ptdm is the only DM */
	bool toolstack_assigns; /* libxl assigns/deassigns a real device (it
				 * does after the device model's device_add) */
	bool gfx_passthru;   /* xl's gfx_passthru: a real Intel VGA device
			      * also gets the legacy VGA ranges, as xen_pt's
			      * xen_pt_register_vga_regions maps them */
};

struct xen_server;

int xen_server_new(struct xen_server **out, struct xen_hv *hv,
		   struct ptdm_dev *dev, const struct xen_host_res *res,
		   const struct xen_server_opts *opts, struct ptdm_err *err);
/* Disable and destroy the server, unmap, unbind.  hv stays the caller's. */
void xen_server_free(struct xen_server *s);

/* fds to poll: the event channel and the owner's interrupt fd. */
unsigned xen_server_fds(const struct xen_server *s, int fds[2]);
/*
 * Serve whatever is ready.  0, or -ESRCH when the domain is gone and
 * the server should be freed; other errors are logged and answered.
 */
int xen_server_handle(struct xen_server *s);

struct xen_server_stats {
	unsigned long ioreqs, cfg, pio, mmio, bad, buffered;
	unsigned long irq_fired, irq_delivered, irq_pended; /* the owner's */
	unsigned vcpus; /* how many different vCPUs sent ioreqs */
};
void xen_server_get_stats(const struct xen_server *s,
			  struct xen_server_stats *out);

#endif
