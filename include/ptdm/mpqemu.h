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
#include "ptdm/log.h"

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
};

void mpq_conn_init(struct mpq_conn *c, int fd, struct ptdm_dev *dev);
/* One message: 0, -ECONNRESET when the proxy is gone, or another
 * negative errno when the stream cannot be trusted (then close). */
int mpq_conn_handle(struct mpq_conn *c);
void mpq_conn_close(struct mpq_conn *c);
/* Device DMA into guest RAM (guest-physical addresses). */
int mpq_conn_dma_rw(struct mpq_conn *c, uint64_t gpa, void *buf, size_t len,
		    bool write);
int mpq_conn_raise_intx(struct mpq_conn *c);

#endif
