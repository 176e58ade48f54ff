/*
 * mpqemu.h - the remote side of QEMU's multi-process proxy protocol
 * (-device x-pci-proxy-dev in QEMU 6.0-7.2), one connection per device.
 */
#ifndef PTDM_MPQEMU_H
#define PTDM_MPQEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptdm/dev.h"
#include "ptdm/front.h"
#include "ptdm/log.h"
#include "util/msgio.h"

#define MPQ_HDR 16u
#define MPQ_MAX_PAYLOAD 192u
/* RETs queued for a proxy that stopped reading: then it is dropped */
#define MPQ_OUT_MAX (64u << 10)
#define MPQ_BUDGET 8u

struct mpq_ram {
	uint64_t gpa, size;
	void *map;  /* NULL: not mapped (an image device, an unsealed fd) */
	bool iommu; /* also mapped for a VFIO device's DMA */
	bool touchable; /* ptdm may read/write it: the fd cannot shrink */
};

struct mpq_conn {
	int fd;
	struct ptdm_dev *dev;
	struct mpq_ram ram[8]; /* guest RAM from SYNC_SYSMEM */
	unsigned nram;
	int irq_fd, resample_fd; /* INTx eventfd and its resample fd */
	struct ptdm_ratelimit rl;
	unsigned long messages, errors;
	struct msgio io;
	uint8_t rx[MPQ_HDR + MPQ_MAX_PAYLOAD];
};

/* Take over fd (made non-blocking); 0 or -errno. */
int mpq_conn_init(struct mpq_conn *c, int fd, struct ptdm_dev *dev);
/*
 * Without blocking: handle up to budget whole messages from the socket
 * (a partial one is kept), queue the RETs.  The number handled,
 * -ECONNRESET when the proxy is gone, or another negative errno when the
 * stream cannot be trusted (then close).
 */
int mpq_conn_input(struct mpq_conn *c, unsigned budget);
/* Write queued RETs: 0 or -errno; msgio_pending(&c->io) if some wait. */
int mpq_conn_output(struct mpq_conn *c);
/* Tools and tests: wait for one message, handle it, write its RET. */
int mpq_conn_handle(struct mpq_conn *c);
void mpq_conn_close(struct mpq_conn *c);
/* Device DMA into guest RAM (guest-physical addresses). */
int mpq_conn_dma_rw(struct mpq_conn *c, uint64_t gpa, void *buf, size_t len,
		    bool write);
int mpq_conn_raise_intx(struct mpq_conn *c);

/* One proxy connection in a loop (mpq_endpoint.c): on_done when it ends. */
struct mpq_endpoint {
	struct ptdm_front front;
	int fd;
	struct ptdm_watch w;
	struct mpq_conn conn;
	bool live, started;
};
extern const struct front_ops mpq_front_ops;
void mpq_endpoint_init(struct mpq_endpoint *e, struct ptdm_dev *dev,
		       const char *name, int fd);

#endif
