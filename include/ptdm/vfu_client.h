/*
 * vfu_client.h - a small vfio-user client, for tests, the benchmark and
 * `ptdm client`.  Calls are synchronous: send one command, read its reply.
 * A pump hook (tests) runs between the two so a server in the same thread
 * can answer.
 */
#ifndef PTDM_VFU_CLIENT_H
#define PTDM_VFU_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptdm/err.h"
#include "ptdm/vfio_user.h"

struct vfu_client {
	int fd;
	uint16_t next_id;
	uint32_t server_max_fds;
	uint64_t server_max_xfer;
	bool server_write_multiple;
	int (*pump)(void *opaque); /* NULL for a real server */
	void *pump_opaque;
	char server_caps[1100];
};

int vfu_client_connect(struct vfu_client *c, const char *path,
		       struct ptdm_err *err);
void vfu_client_init_fd(struct vfu_client *c, int fd);
void vfu_client_close(struct vfu_client *c);

/*
 * One command.  reply/rmax: where the reply payload goes; *rlen its length;
 * rfd: an fd that came with the reply (or -1).  Returns 0, the server's
 * error as a negative errno, or a transport error.
 */
int vfu_client_call(struct vfu_client *c, uint16_t cmd, const void *req,
		    size_t len, const int *fds, unsigned nfds, void *reply,
		    size_t rmax, size_t *rlen, int *rfd);
/* Send raw bytes (tests of malformed messages). */
int vfu_client_send_raw(struct vfu_client *c, const void *buf, size_t len,
			const int *fds, unsigned nfds);
/* Read one reply: header into *hdr, payload into buf (up to max). */
int vfu_client_recv(struct vfu_client *c, struct vfu_hdr *hdr, void *buf,
		    size_t max, size_t *len, int *rfd);

int vfu_client_version(struct vfu_client *c, const char *caps_json,
		       struct ptdm_err *err);
int vfu_client_region_info(struct vfu_client *c, unsigned index,
			   struct vfu_region_info *info, void *caps,
			   size_t caps_max, int *fd);
int vfu_client_irq_info(struct vfu_client *c, unsigned index,
			struct vfu_irq_info *info);
int vfu_client_region_rw(struct vfu_client *c, unsigned region,
			 uint64_t offset, void *buf, uint32_t count, bool write);
int vfu_client_set_irqs(struct vfu_client *c, unsigned index, uint32_t flags,
			unsigned start, unsigned count, const int *fds);
int vfu_client_dma_map(struct vfu_client *c, uint64_t iova, uint64_t size,
		       int fd, uint64_t offset, uint32_t prot);
int vfu_client_dma_unmap(struct vfu_client *c, uint64_t iova, uint64_t size,
			 uint32_t flags);
/*
 * DEVICE_FEATURE: flags (the feature and GET/SET/PROBE) with dlen bytes
 * of data; argsz covers the larger of data and out.  Up to omax bytes of
 * the reply's data (after its argsz/flags) go to out, *got (may be NULL)
 * how many came.
 */
int vfu_client_feature(struct vfu_client *c, uint32_t flags, const void *data,
		       size_t dlen, void *out, size_t omax, size_t *got);

#endif
