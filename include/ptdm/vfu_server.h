/*
 * vfu_server.h - the vfio-user front end: one connection's protocol
 * (vfu_conn_*) and the server loop that owns listeners and connections
 * (vfu_serve).  A device outlives its connections: a client that goes away
 * loses its DMA maps and interrupt fds, the device keeps its state.
 */
#ifndef PTDM_VFU_SERVER_H
#define PTDM_VFU_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptdm/dev.h"
#include "ptdm/log.h"

#define VFU_SERVER_MAX_FDS 16           /* fds per message (cloud-hypervisor: 16) */
#define VFU_SERVER_MAX_XFER (1u << 20)  /* max data in one read/write */
#define VFU_SERVER_MAX_DMA_MAPS 4096u
#define VFU_NUM_IRQ_INDEX 5             /* INTx, MSI, MSI-X, ERR, REQ */

struct vfu_dma {
	uint64_t iova, size;
	uint32_t prot;
	void *map;      /* NULL: no fd, reachable via DMA_READ/WRITE only */
	size_t maplen;
};

#define VFU_LOG_MAX_RANGES 256u
#define VFU_LOG_MAX_DIRTY (1u << 20) /* pages remembered, then "all" */

struct vfu_log_range {
	uint64_t iova, len;
};

struct vfu_conn {
	int fd;
	struct ptdm_dev *dev;
	bool versioned;
	/* what the client said it accepts */
	uint32_t peer_max_fds;
	uint64_t peer_max_xfer;
	bool write_multiple;
	bool one_area_per_bar; /* no VERSION JSON (SPDK maps area i with fd i) */
	struct vfu_dma *dma;
	unsigned ndma;
	int *irq_fds[VFU_NUM_IRQ_INDEX];
	unsigned nirq_fds[VFU_NUM_IRQ_INDEX];
	bool intx_masked;
	bool fdless_dma_noted; /* VFIO: a DMA_MAP without an fd was logged */
	int intx_unmask_fd; /* VFIO: the client's INTx resample eventfd */
	uint16_t next_dma_id;
	/* migration (VFIO v2 state machine over vfio-user) */
	uint32_t mig_state;
	uint8_t *mig_buf;
	size_t mig_len, mig_pos;
	/* DMA logging: dirty 4K pages written by the device */
	bool logging, log_all_dirty;
	uint64_t log_page;
	struct vfu_log_range *log_ranges; /* NULL with nlog 0: everything */
	unsigned nlog;
	uint64_t *dirty; /* sorted page numbers (iova / 4096) */
	unsigned ndirty, dirty_cap;
	uint8_t *buf;       /* one message: header + payload */
	size_t buf_size;
	struct ptdm_ratelimit rl;
	/* counters for tests and the benchmark */
	unsigned long messages, errors;
};

/* Take over fd (a connected AF_UNIX stream socket) for dev. */
int vfu_conn_init(struct vfu_conn *c, int fd, struct ptdm_dev *dev);
/*
 * Read one message, act on it, reply.  0 on success (also when the
 * message got an error reply), -ECONNRESET when the peer went away, or
 * another negative errno when the stream cannot be trusted any more; the
 * caller then calls vfu_conn_close().
 */
int vfu_conn_handle(struct vfu_conn *c);
/* Unmap DMA, close interrupt fds and the socket; dev is untouched. */
void vfu_conn_close(struct vfu_conn *c);

/*
 * The device reads or writes guest memory at iova: straight through the
 * mapping when the client gave an fd for it, else with a DMA_READ/WRITE
 * message to the client (commands arriving meanwhile are served).
 * -EFAULT outside every map, -EPERM against the map's protection.
 */
int vfu_conn_dma_rw(struct vfu_conn *c, uint64_t iova, void *buf, size_t len,
		    bool write);

/* Signal the interrupt fds of an index (image devices fire through this). */
int vfu_conn_trigger(struct vfu_conn *c, unsigned index, unsigned vec);

struct vfu_listener {
	int fd;              /* listening socket, or a connected one (--fd) */
	bool connected;      /* fd is already a connection */
	struct ptdm_dev *dev;
	const char *name;
};

/* Serve until *stop (set by SIGTERM/SIGINT) or a fatal error. */
int vfu_serve(struct vfu_listener *l, unsigned n, volatile sig_atomic_t *stop);
/* Bind and listen on a UNIX socket path (a stale socket is replaced). */
int vfu_listen_unix(const char *path, struct ptdm_err *err);

#endif
