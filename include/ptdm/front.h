/*
 * front.h - what every front end looks like to the serving process: one
 * struct ptdm_front embedded in the front end's own object, and one const
 * struct front_ops per kind (vfio-user, mpqemu, xen).
 *
 * start() puts the front end's fds into the loop; from then on it runs
 * from the loop's callbacks alone.  A front end that ends by itself (an
 * inherited connection closed, its domain died) calls f->on_done(f); the
 * owner then stop()s and frees it, outside the callback if it likes.
 * stop() takes every fd out of the loop and releases what the peer held
 * (DMA maps, interrupt fds, mappings); the device itself is the owner's.
 */
#ifndef PTDM_FRONT_H
#define PTDM_FRONT_H

#include <stdbool.h>

#include "ptdm/dev.h"
#include "ptdm/loop.h"

struct ptdm_front_stats {
	bool connected;         /* a peer is there now */
	unsigned long clients;  /* peers served so far */
	unsigned long refused;  /* peers turned away */
	unsigned long messages; /* requests handled */
	unsigned long errors;   /* requests refused */
	unsigned long irqs;     /* interrupts delivered */
	unsigned long dma_maps; /* guest memory ranges the peer gave */
};

struct ptdm_front;

struct front_ops {
	const char *kind;
	int (*start)(struct ptdm_front *f, struct ptdm_loop *l);
	void (*stop)(struct ptdm_front *f);
	void (*stats)(struct ptdm_front *f, struct ptdm_front_stats *out);
};

struct ptdm_front {
	const struct front_ops *ops;
	struct ptdm_dev *dev;
	const char *name;
	void (*on_done)(struct ptdm_front *f);
	void *opaque;
	struct ptdm_loop *loop;
};

#endif
