/*
 * owner.h - the generic owner of a device's guest side, for front ends
 * whose VMM does not program the host itself (Xen's ioreq server).
 *
 * vfio-user needs none of this: its VMM maps BARs and hands eventfds to
 * VFIO.  Here the owner takes the core's events, remembers what it has
 * applied and on each change does the least it can:
 *
 *   BARs    the guest moved or (un)decoded a BAR: the sink unmaps the old
 *           place, then maps the new one.
 *   relay   the guest enabled INTx / MSI / MSI-X: the owner turns the same
 *           kind on in the host (host_ops.irq_set) with its own eventfds.
 *           A vector that fires is delivered with the address and data the
 *           guest programmed, or left pending (PBA, MSI pending bits) while
 *           the guest masks it and delivered when it unmasks.  INTx is
 *           asserted and stays so until the front end reports the guest's
 *           EOI, when the host line is unmasked.
 *   bind    a sink with vec_bind (Xen pirqs of a real device) connects
 *           host vectors to guest vectors in the hypervisor itself; the
 *           owner only says which vector changed to what.
 *
 * Everything runs on the caller's thread: ptdm_owner_fd() is one fd to
 * poll, ptdm_owner_handle() delivers what fired.
 */
#ifndef PTDM_OWNER_H
#define PTDM_OWNER_H

#include <stdbool.h>
#include <stdint.h>

#include "ptdm/dev.h"
#include "ptdm/err.h"
#include "ptdm/host.h"

struct ptdm_owner;

/* One guest vector as programmed: where the message goes and with what. */
struct ptdm_owner_vec {
	uint64_t addr;
	uint32_t data;
	bool masked;
};

struct ptdm_owner_ops {
	void *opaque;
	/* BAR bar ([gpa, gpa+size), kind) appears (map) or goes (!map). */
	int (*bar_map)(void *opaque, int bar, uint64_t gpa, uint64_t size,
		       enum host_bar_kind kind, bool map);
	/* relay: one message-signalled interrupt, as the guest wrote it. */
	int (*msi_deliver)(void *opaque, uint64_t addr, uint32_t data);
	/* relay: the INTx line (pin from the Interrupt Pin register). */
	int (*intx_level)(void *opaque, unsigned pin, bool level);
	/*
	 * Optional; set it to bind instead of relay.  kind INTx (vec 0, v
	 * NULL-able), MSI or MSI-X vector vec now is *v; v NULL: unbind it.
	 */
	int (*vec_bind)(void *opaque, enum host_irq_kind kind, unsigned vec,
			const struct ptdm_owner_vec *v);
};

struct ptdm_owner_stats {
	unsigned long fired;     /* host vectors seen */
	unsigned long delivered; /* messages / INTx assertions sent */
	unsigned long pended;    /* fired while the guest masked them */
	unsigned long dropped;   /* fired while the guest had it off */
	unsigned long bar_maps, bar_unmaps, binds;
};

/*
 * Take over d's events and apply what the guest has programmed so far.
 * ops is copied.  The device must outlive the owner.
 */
int ptdm_owner_new(struct ptdm_owner **out, struct ptdm_dev *d,
		   const struct ptdm_owner_ops *ops, struct ptdm_err *err);
/* Unmap, unbind, host interrupts off, events released. */
void ptdm_owner_free(struct ptdm_owner *o);

/* Readable when a relayed vector fired (-1 for a binding owner). */
int ptdm_owner_fd(const struct ptdm_owner *o);
/* Deliver everything that fired; never blocks.  Returns how many. */
int ptdm_owner_handle(struct ptdm_owner *o);
/* The guest has serviced INTx (the front end saw it touch the device). */
void ptdm_owner_intx_eoi(struct ptdm_owner *o);
/* Re-read everything and re-apply (after a reset or a migration load). */
void ptdm_owner_sync(struct ptdm_owner *o);

void ptdm_owner_get_stats(const struct ptdm_owner *o,
			  struct ptdm_owner_stats *out);

/*
 * For a binding sink: turn the host device's own MSI or MSI-X (kind)
 * enable on or off.  A hypervisor that binds host vectors itself (Xen's
 * pirqs) leaves that bit to the device model; the guest's bit stays
 * virtual.  -ENOENT: the device has no such capability.
 */
int ptdm_owner_host_msi_enable(struct ptdm_dev *d, enum host_irq_kind kind,
			       bool on);

#endif
