/*
 * helpers.h - shared fixtures for the unit tests: a builder for crafted
 * config spaces, image devices from it, and short access wrappers that
 * fail the test on error.  Include after <cmocka.h>'s prerequisites.
 */
#ifndef PTDM_TEST_HELPERS_H
#define PTDM_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ptdm/dev.h"
#include "ptdm/host.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"

struct th_cfg {
	uint8_t b[PTDM_CFG_SPACE_SIZE];
	unsigned size;     /* 256 or 4096 */
	uint8_t last_cap;  /* for chaining std caps */
	uint16_t last_ecap;
	uint64_t bar_size[PTDM_NUM_BARS + 1]; /* 0: unimplemented */
};

/* Type-0 header vendor:device, class 0x020000, no caps, no BARs. */
void th_cfg_init(struct th_cfg *c, uint16_t vendor, uint16_t device,
		 unsigned size);
void th_put(struct th_cfg *c, unsigned off, unsigned size, uint32_t v);
uint32_t th_get(const struct th_cfg *c, unsigned off, unsigned size);
/* Append a std cap at pos (links it after the last one); body after the
 * 2-byte header, may be NULL (zeros).  Returns pos. */
unsigned th_add_cap(struct th_cfg *c, unsigned pos, uint8_t id,
		    const uint8_t *body, size_t body_len);
/* Append an ext cap at pos with version ver. */
unsigned th_add_ecap(struct th_cfg *c, unsigned pos, uint16_t id, uint8_t ver,
		     const uint8_t *body, size_t body_len);
/* BAR i: kind by flags in the register, size in bar_size (also ROM=6). */
void th_set_bar(struct th_cfg *c, int i, uint32_t reg, uint64_t size);

/* An image host device from c (asserts on failure). */
struct host_dev *th_image(const struct th_cfg *c);
/* Attach with opts (NULL: defaults); asserts success. */
struct ptdm_dev *th_attach(struct host_dev *h, const struct ptdm_dev_opts *o);
/* Build, image, attach in one go. */
struct ptdm_dev *th_dev(const struct th_cfg *c, const struct ptdm_dev_opts *o,
			struct host_dev **host_out);
void th_free(struct ptdm_dev *d, struct host_dev *h);

uint32_t th_rd(struct ptdm_dev *d, unsigned off, unsigned size);
void th_wr(struct ptdm_dev *d, unsigned off, unsigned size, uint32_t v);
/* Host-side bytes, straight from the backend. */
uint32_t th_host(struct host_dev *h, unsigned off, unsigned size);
/* Host config writes the backend has seen (image backend). */
unsigned th_host_writes(struct host_dev *h);

/*
 * A device with every interrupt kind, for the owner and the front ends:
 * BAR0 mem32 16 KiB with the MSI-X table at 0x2000 and the PBA at 0x3000
 * (8 vectors), BAR2 I/O 32 bytes, 64-bit MSI with per-vector masks able to
 * do 2^msi_mmc vectors, INTA.  Attached with default options.
 */
#define TH_IRQ_MSI_CAP 0x50
#define TH_IRQ_MSIX_CAP 0x70
struct ptdm_dev *th_irq_dev(struct host_dev **host_out, unsigned msi_mmc);

/* Guest RAM as QEMU's memory-backend-memfd makes it: a memfd of size
 * bytes sealed against shrinking and growing (asserts on failure). */
int th_guest_ram(uint64_t size);
/*
 * A host with the ops an image leaves NULL (DMA map/unmap, interrupt
 * counts, INTx unmask and its eventfd) and a recording irq_set:
 * th_fake_host(h) turns image h into one (its other ops stay the
 * image's), clears th_fake, and each call is recorded there.  The *_rc
 * fields are what the fake returns.  One fake at a time.
 */
struct th_fake_host {
	unsigned vectors[HOST_IRQ_NUM]; /* what irq_count answers */
	unsigned irq_sets, irq_start, irq_count;
	int irq_kind, irq_fd0, irq_set_rc;
	unsigned intx_unmasks, unmask_fd_calls;
	int unmask_fd;
	unsigned dma_maps, dma_unmaps, dma_prot;
	uint64_t dma_iova, dma_size;
	void *dma_vaddr;
	int dma_map_rc, dma_unmap_rc;
	/* dirty tracking, after th_fake_dirty(): what start got, what
	 * report answers (bits of the first 64 pages) */
	unsigned dirty_starts, dirty_stops, dirty_n;
	struct host_dma_range dirty_r[4];
	uint64_t dirty_page, dirty_bits;
	/* migration, after th_fake_mig(): the arcs asked for, in order */
	uint64_t mig_flags;
	uint32_t arcs[16];
	unsigned narcs;
	int mig_rc; /* what mig_set_state answers */
};
extern struct th_fake_host th_fake;
void th_fake_host(struct host_dev *h);
/* The fake host can also log its device's DMA (host_ops.dirty_*). */
void th_fake_dirty(void);
/* The fake host migrates with these VFIO_MIGRATION_* flags and records
 * every arc (no data: a stream of nothing). */
void th_fake_mig(uint64_t flags);

/*
 * A device served over vfio-user to the project's client through a
 * socketpair, in one thread: the client's pump lets the server handle
 * each message between send and receive.  th_vfu_open serves d and, with
 * negotiate, runs VERSION first; given its host h, the fixture owns both
 * and th_vfu_close frees them with the two ends (h NULL: the test keeps
 * d, to serve it again).
 */
struct th_vfu {
	struct host_dev *h;
	struct ptdm_dev *d;
	struct vfu_conn srv;
	struct vfu_client cli;
};
void th_vfu_open(struct th_vfu *f, struct host_dev *h, struct ptdm_dev *d,
		 bool negotiate);
void th_vfu_close(struct th_vfu *f);
/* DEVICE_FEATURE with flags and request data; the reply's data (after
 * argsz and flags) into out, at most omax bytes.  0 or -errno. */
#define F_GET (1u << 16)
#define F_SET (1u << 17)
#define F_PROBE (1u << 18)
int th_feature(struct th_vfu *f, uint32_t flags, const void *data,
		   size_t dlen, void *out, size_t omax);

/* Path of a shared dump: $PTDM_DUMPS/name. */
const char *th_dump(const char *name);

/* Capture log output: lines and bytes since the last reset. */
void th_log_capture(void);
unsigned th_log_lines(void);
size_t th_log_bytes(void);
const char *th_log_last(void);

#endif
