/*
 * vfu_priv.h - what the files of the vfio-user server share: one received
 * message (struct msg), the command handlers the dispatch table in
 * vfu_conn.c names, and the few helpers more than one handler file needs.
 * Handlers take a checked message (size within the table's bounds, fds
 * within its limit) and return 0 or a negative errno; the reply payload
 * goes to m->r / m->rlen (and m->rfd), an error reply is sent for them.
 */
#ifndef PTDM_FRONT_VFU_PRIV_H
#define PTDM_FRONT_VFU_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "ptdm/vfio_user.h"
#include "ptdm/vfu_server.h"

#define PAGE 4096u
#define MAX_PAYLOAD (VFU_SERVER_MAX_XFER + 4096u)
#define NUM_REGIONS VFIO_PCI_NUM_REGIONS
/* an IGD's OpRegion copy: the first device-specific region, when present */
#define VFU_IGD_OPREGION_INDEX VFIO_PCI_NUM_REGIONS
#define MAX_SPARSE 4

struct msg {
	const struct vfu_hdr *hdr;
	uint8_t *p;     /* payload */
	uint32_t len;
	int *fds;
	unsigned nfds;
	uint8_t *r;     /* reply payload */
	uint32_t rlen;
	int rfd;        /* fd to send with the reply, -1 for none */
};

/* a rate-limited warning on the connection's behalf */
void vfu_conn_warn(struct vfu_conn *c, const char *what, int err);
/* the connection's host when it reaches guest memory only through
 * host_ops.dma_map (an IOMMU), NULL when it needs no mapping */
struct host_dev *vfu_dma_host(const struct vfu_conn *c);

/* vfu_dma.c */
int vfu_h_dma_map(struct vfu_conn *c, struct msg *m);
int vfu_h_dma_unmap(struct vfu_conn *c, struct msg *m);
void vfu_dma_unmap_one(struct vfu_conn *c, struct vfu_dma *m);
const struct vfu_dma *vfu_dma_find(const struct vfu_conn *c, uint64_t iova,
				   uint64_t len);
/* vfu_region.c */
int vfu_h_device_info(struct vfu_conn *c, struct msg *m);
int vfu_h_region_info(struct vfu_conn *c, struct msg *m);
int vfu_h_region_read(struct vfu_conn *c, struct msg *m);
int vfu_h_region_write(struct vfu_conn *c, struct msg *m);
int vfu_h_write_multi(struct vfu_conn *c, struct msg *m);
int vfu_h_io_fds(struct vfu_conn *c, struct msg *m);
int vfu_h_reset(struct vfu_conn *c, struct msg *m);
/* vfu_irq.c */
int vfu_h_irq_info(struct vfu_conn *c, struct msg *m);
int vfu_h_set_irqs(struct vfu_conn *c, struct msg *m);
void vfu_irq_release(struct vfu_conn *c);
/* vfu_mig.c */
int vfu_h_feature(struct vfu_conn *c, struct msg *m);
int vfu_h_mig_read(struct vfu_conn *c, struct msg *m);
int vfu_h_mig_write(struct vfu_conn *c, struct msg *m);
void vfu_mig_drop(struct vfu_conn *c);
void vfu_log_drop(struct vfu_conn *c);
void vfu_log_write(struct vfu_conn *c, uint64_t iova, size_t len);
/* vfu_version.c */
int vfu_h_version(struct vfu_conn *c, struct msg *m);

#endif
