/*
 * client_persona.h - `ptdm client --as NAME SOCKET [check]`: replay what a
 * real vfio-user client (QEMU, cloud-hypervisor, libvfio-user's client,
 * SPDK) sends from connect to a running guest, with its argsz values, fds
 * and order, and judge every reply the way that client's code does.  The
 * sequences and checks are written down per client in docs/vfio-user.md;
 * each client is one file (client_qemu.c, client_ch.c, client_lvu.c,
 * client_spdk.c) over the blocking transport and helpers here.
 *
 * A reply the real client would reject is a failure (pc_fail: the message
 * says what that client would do).  A reply it accepts but warns about
 * (QEMU's "Could not enable error recovery") is a warning (pc_warn), a
 * failure under `check`.
 */
#ifndef PTDM_CLI_CLIENT_PERSONA_H
#define PTDM_CLI_CLIENT_PERSONA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptdm/vfio_user.h"

#define PC_MAX_FDS 32
#define PC_MAX_REPLY (64u * 1024)
#define PC_NUM_REGIONS 10 /* VFIO's 9 and an IGD's OpRegion */

struct pc_reply {
	struct vfu_hdr h;
	uint8_t *p;     /* payload (h.msg_size - 16 bytes), pc-owned buffer */
	size_t len;
	int fds[PC_MAX_FDS];
	unsigned nfds;
	bool ctrunc;    /* more fds came than the client had room for */
};

struct pc_region {
	struct vfu_region_info ri;
	uint8_t *info;  /* the whole reply: info and capabilities */
	size_t info_len;
	int fd;
	bool asked;
};

struct pc {
	const char *who;         /* "QEMU", as the messages name it */
	int sock;
	uint16_t next_id;
	int timeout_ms;          /* the client's own reply timeout */
	bool waits_forever;      /* no timeout: the guard below is ours */
	bool check;              /* warnings fail too */
	unsigned messages, warnings;
	uint8_t buf[PC_MAX_REPLY];
	/* what the server said */
	uint32_t max_fds;
	uint64_t max_xfer;
	bool write_multiple;
	uint32_t dev_flags, num_regions, num_irqs;
	bool igd_opregion;       /* QEMU: found and read the OpRegion */
	struct pc_region reg[PC_NUM_REGIONS];
	uint8_t cfg[4096];
	unsigned cfg_size;
	/* what the client mapped (BAR areas), unmapped at the end */
	struct { void *p; size_t len; } maps[64];
	unsigned nmaps;
	int efds[2048];
	unsigned nefds;
};

int pc_open(struct pc *p, const char *who, const char *path, int timeout_ms);
/* The same over an already connected socket, which pc_close closes. */
int pc_attach(struct pc *p, const char *who, int sock);
void pc_close(struct pc *p);
/* A failure as the real client reports it; returns -EPROTO. */
int pc_fail(struct pc *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Something the client prints and goes on; -EPROTO under check. */
int pc_warn(struct pc *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Send one command (flags: VFU_F_NO_REPLY for posted ones); *id its id. */
int pc_send(struct pc *p, uint16_t cmd, uint32_t flags, const void *payload,
	    size_t len, const int *fds, unsigned nfds, uint16_t *id);
/* Read one message, at most room_fds fds (the client's cmsg space). */
int pc_recv(struct pc *p, struct pc_reply *r, unsigned room_fds);
/* send + recv, and the reply must answer it (id, command, type). */
int pc_call(struct pc *p, uint16_t cmd, const void *payload, size_t len,
	    const int *fds, unsigned nfds, unsigned room_fds,
	    struct pc_reply *r);
void pc_reply_close_fds(struct pc_reply *r);
/* The server's error of an error reply as a negative errno, 0 otherwise. */
int pc_reply_errno(const struct pc_reply *r);

/* A memfd of size bytes (guest RAM, DMA buffers); -errno on failure. */
int pc_memfd(const char *name, size_t size);
/* An eventfd the persona keeps until pc_close. */
int pc_eventfd(struct pc *p);
/* mmap fd like a VMM maps a BAR area; the map is undone at pc_close. */
int pc_map(struct pc *p, int fd, uint64_t off, uint64_t len, int prot,
	   const char *what);
/* Find capability id in a region info reply (offsets from its start):
 * the cap's offset, 0 when absent, -EPROTO when the chain leaves the
 * reply or loops. */
long pc_region_cap(const struct pc_region *r, uint16_t id);
/* The PCI capability id's offset in p->cfg, 0 when absent. */
unsigned pc_cfg_cap(const struct pc *p, uint8_t id);

int persona_qemu(struct pc *p);
int persona_cloud_hypervisor(struct pc *p);
int persona_libvfio_user(struct pc *p);
int persona_spdk(struct pc *p);

#endif
