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
#include "ptdm/front.h"
#include "ptdm/log.h"
#include "ptdm/loop.h"
#include "util/msgio.h"

#define VFU_SERVER_MAX_FDS 16           /* fds per message (cloud-hypervisor: 16) */
#define VFU_SERVER_MAX_XFER (1u << 20)  /* max data in one read/write */
#define VFU_SERVER_MAX_DMA_MAPS 4096u
#define VFU_NUM_IRQ_INDEX 5             /* INTx, MSI, MSI-X, ERR, REQ */
/* replies queued for a client that does not read: then it is dropped */
#define VFU_OUT_MAX (4u * VFU_SERVER_MAX_XFER)
/* messages one connection may handle per wake-up of the loop */
#define VFU_BUDGET 4u

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

struct vfu_conn;
typedef void vfu_dma_done_fn(struct vfu_conn *c, int rc, void *opaque);

/* the one server-to-client DMA_READ/WRITE in flight */
struct vfu_dma_req {
	bool busy, write;
	uint16_t id;
	void *buf;
	size_t len;
	vfu_dma_done_fn *cb;
	void *opaque;
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
	/* DMA logging: dirty 4K pages written by the device */
	bool logging, log_all_dirty;
	uint64_t log_page;
	struct vfu_log_range *log_ranges; /* NULL with nlog 0: everything */
	unsigned nlog;
	uint64_t *dirty; /* sorted page numbers (iova / 4096) */
	unsigned ndirty, dirty_cap;
	struct vfu_dma_req dma_req;
	struct msgio io;
	uint8_t *rx, *tx;   /* one message in, one reply out */
	unsigned hot;       /* small messages left before a big one's pages go */
	bool draining;      /* throwing away a payload too large to take */
	bool reset_none_noted; /* said once: this device has no reset */
	struct ptdm_ratelimit rl;
	/* counters for tests, the control socket and the benchmark */
	unsigned long messages, errors, irqs;
	unsigned long irq_full; /* signals onto a full eventfd counter */
};

/* Take over fd (a connected AF_UNIX stream socket) for dev. */
int vfu_conn_init(struct vfu_conn *c, int fd, struct ptdm_dev *dev);
/*
 * What the socket has: handle up to budget whole messages (partial ones
 * are kept for the next call), queue their replies.  Returns the number
 * handled (0: nothing complete yet), -ECONNRESET when the peer went away,
 * or another negative errno when the stream cannot be trusted or the
 * client does not read its replies; the caller then vfu_conn_close()s.
 */
int vfu_conn_input(struct vfu_conn *c, unsigned budget);
/* Write queued replies: 0 or -errno; vfu_conn_wants_output() says if
 * some are still waiting for the socket. */
int vfu_conn_output(struct vfu_conn *c);
static inline bool vfu_conn_wants_output(const struct vfu_conn *c)
{
	return msgio_pending(&c->io);
}
/*
 * For tools and tests that own one connection: wait for one message,
 * handle it, write its reply out.  0, or what vfu_conn_input() fails with.
 */
int vfu_conn_handle(struct vfu_conn *c);
/* Unmap DMA, close interrupt fds and the socket; dev is untouched. */
void vfu_conn_close(struct vfu_conn *c);

/*
 * The device reads or writes guest memory at iova: straight through the
 * mapping when the client gave an fd for it (returns 0, done), else with a
 * DMA_READ/WRITE message to the client (returns 1: cb(c, rc, opaque) runs
 * when the reply arrives through vfu_conn_input; buf must live until
 * then; one request at a time, -EBUSY otherwise).  -EFAULT outside every
 * map, -EPERM against the map's protection.
 */
int vfu_conn_dma_start(struct vfu_conn *c, uint64_t iova, void *buf,
		       size_t len, bool write, vfu_dma_done_fn *cb,
		       void *opaque);
/* The same, waiting for the reply (tools and tests: commands that arrive
 * meanwhile are served). */
int vfu_conn_dma_rw(struct vfu_conn *c, uint64_t iova, void *buf, size_t len,
		    bool write);

/* Signal the interrupt fds of an index (image devices fire through this). */
int vfu_conn_trigger(struct vfu_conn *c, unsigned index, unsigned vec);

/*
 * One device served over vfio-user in a loop: its listening socket (or one
 * inherited connection) and at most one client.  A second client while one
 * is connected is refused at once (accepted and closed, with a log line):
 * the protocol has one client per device, and a VMM must not wait for a
 * timeout to learn it.  When the process runs out of fds, one reserve fd is
 * given up to accept-and-close the waiting client, so the listener never
 * spins.
 */
struct vfu_endpoint {
	struct ptdm_front front; /* dev, name, on_done: the caller's */
	int fd;              /* listening socket, or a connected one (--fd) */
	bool connected;      /* fd is one connection: done when it ends */
	/* the loop's */
	struct ptdm_watch lw, cw;
	struct vfu_conn conn;
	bool live, done;
	unsigned long clients, refused, messages, errors, irqs, dma_maps;
	struct ptdm_ratelimit rl;
};

/*
 * vfu_front_ops: start watches e->fd (the endpoint owns it from then on);
 * stop drops the client (DMA maps, interrupt fds, socket) and closes
 * e->fd.  The device is untouched.
 */
extern const struct front_ops vfu_front_ops;
void vfu_endpoint_init(struct vfu_endpoint *e, struct ptdm_dev *dev,
		       const char *name, int fd, bool connected);

struct vfu_listener {
	int fd;              /* listening socket, or a connected one (--fd) */
	bool connected;      /* fd is already a connection */
	struct ptdm_dev *dev;
	const char *name;
};

/* Serve n endpoints in a loop of their own until *stop (set by SIGTERM/
 * SIGINT), a fatal error, or every --fd connection has ended. */
int vfu_serve(struct vfu_listener *l, unsigned n, volatile sig_atomic_t *stop);
/* Bind and listen on a UNIX socket path (a stale socket is replaced). */
int vfu_listen_unix(const char *path, struct ptdm_err *err);

#endif
