/*
 * host.h - the one interface between the core and a host backend.
 *
 * A backend (image, sysfs, later vfio) fills a struct host_dev at open
 * time with what the core must know and never re-reads: config size, BAR
 * sizes and types (XSA-337: the core caches them at attach).  Afterwards
 * the core only calls the ops: config bytes, BAR bytes, reset, close.
 * Every op returns 0 or a negative errno; config accesses are plain byte
 * ranges (pread/pwrite style) so backends need no alignment logic.
 *
 * Front ends reach the host through the same ops and never through a
 * backend's own header: DMA mappings, interrupt eventfds (routed straight
 * from the device to the VMM where the backend can), INTx unmask and its
 * eventfd, interrupt counts.  An op a backend cannot do is NULL; the
 * host_*() wrappers below turn that into -ENOTSUP, and host_can_*() says
 * whether a front end has to care (an image needs no IOMMU mapping).
 */
#ifndef PTDM_HOST_H
#define PTDM_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PTDM_CFG_SPACE_SIZE 4096u
#define PTDM_CFG_LEGACY_SIZE 256u
#define PTDM_NUM_BARS 6
#define PTDM_ROM_INDEX 6 /* struct host_dev.bars[PTDM_ROM_INDEX] is the ROM */
/* the largest IGD OpRegion copy: 8 KiB and an extended VBT (64 KiB) */
#define PTDM_IGD_OPREGION_MAX (128u << 10)

/* BAR kinds as the host has them (the low flag bits come from config). */
enum host_bar_kind {
	HOST_BAR_NONE = 0, /* unimplemented */
	HOST_BAR_IO,
	HOST_BAR_MEM32,
	HOST_BAR_MEM64,    /* lower half; index+1 is HOST_BAR_MEM64_HI */
	HOST_BAR_MEM64_HI,
	HOST_BAR_ROM,
};

struct host_bar {
	enum host_bar_kind kind;
	bool prefetch;
	bool size_known; /* false: image without sizes (inspect only) */
	uint64_t size;   /* bytes, power of two, 0 when unimplemented */
};

/* Interrupt kinds, numbered like VFIO's IRQ indexes (VFIO_PCI_*_IRQ_INDEX). */
enum host_irq_kind {
	HOST_IRQ_INTX = 0,
	HOST_IRQ_MSI = 1,
	HOST_IRQ_MSIX = 2,
	HOST_IRQ_ERR = 3, /* AER error notification */
	HOST_IRQ_REQ = 4, /* the host asks for the device back */
};
#define HOST_IRQ_NUM 5

/* DMA access a mapping grants the device (host_ops.dma_map prot). */
#define HOST_DMA_READ  (1u << 0) /* the device may read the memory */
#define HOST_DMA_WRITE (1u << 1) /* the device may write it */

/* One IOVA range, for dirty tracking. */
struct host_dma_range {
	uint64_t iova, size;
};

struct host_dev;

struct host_ops {
	const char *name;
	/* config space bytes [off, off+len), off+len <= host_dev.cfg_size */
	int (*cfg_read)(struct host_dev *h, unsigned off, void *buf, size_t len);
	int (*cfg_write)(struct host_dev *h, unsigned off, const void *buf,
			 size_t len);
	/* trapped BAR access, bar 0..5 (or PTDM_ROM_INDEX, read only) */
	int (*bar_read)(struct host_dev *h, int bar, uint64_t off, void *buf,
			size_t len);
	int (*bar_write)(struct host_dev *h, int bar, uint64_t off,
			 const void *buf, size_t len);
	int (*reset)(struct host_dev *h); /* optional: NULL = no reset */
	/*
	 * Optional: an fd a VMM may mmap for BAR bar, at *offset in it (the
	 * backend keeps the fd; callers dup it to pass it on).  -ENOTSUP when
	 * the BAR cannot be mapped.
	 */
	int (*bar_fd)(struct host_dev *h, int bar, uint64_t *offset);
	/*
	 * Optional, for migration: the device's own state (what a guest
	 * cannot see in config space: memory behind BARs, internal
	 * registers) as a malloc'ed blob, and back.  load must validate
	 * everything and change nothing on error.
	 */
	int (*state_save)(struct host_dev *h, uint8_t **buf, size_t *len);
	int (*state_load)(struct host_dev *h, const uint8_t *buf, size_t len);
	/* the largest blob state_save can return for this device (a bound
	 * on what a migration stream may make ptdm buffer) */
	uint64_t (*state_max)(struct host_dev *h);
	/*
	 * Optional, for owners that relay interrupts (include/ptdm/owner.h)
	 * and front ends that hand a VMM's eventfds to the host (SET_IRQS
	 * style): vectors [start, start+count) of kind signal fds
	 * (eventfds; -1: none).  count 0 turns kind off; turning one of
	 * INTx/MSI/MSI-X on turns the other two off.  The fds stay the
	 * caller's and must stay open while set.  INTx is masked each time
	 * it fires until intx_unmask.
	 */
	int (*irq_set)(struct host_dev *h, enum host_irq_kind kind,
		       unsigned start, unsigned count, const int *fds);
	int (*intx_unmask)(struct host_dev *h);
	/* Optional: a write to fd unmasks INTx (resample); -1 stops it.
	 * INTx must be routed (irq_set) first.  The fd stays the caller's. */
	int (*intx_unmask_fd)(struct host_dev *h, int fd);
	/*
	 * Optional: how many vectors of kind the host device has (what the
	 * host offers, not what the guest sees; ERR and REQ exist only
	 * here).  NULL: the core's view is all there is.
	 */
	int (*irq_count)(struct host_dev *h, enum host_irq_kind kind,
			 unsigned *count);
	/*
	 * Optional: the device reaches memory only through an IOMMU the
	 * backend programs.  Map size bytes at vaddr to iova with prot
	 * (HOST_DMA_*); iova, vaddr and size aligned to the host's smallest
	 * IOMMU page.  unmap drops the mappings inside [iova, iova+size)
	 * (one only partly inside: -EINVAL; none: -ENOENT).  NULL: the
	 * device needs no mapping (an image reaches memory through its front
	 * end, or not at all).
	 */
	int (*dma_map)(struct host_dev *h, uint64_t iova, void *vaddr,
		       uint64_t size, unsigned prot);
	int (*dma_unmap)(struct host_dev *h, uint64_t iova, uint64_t size);
	/*
	 * Dirty tracking and migration of the device itself (issue #12).
	 * All optional; the host_*() wrappers answer -ENOTSUP for NULL.
	 *   dirty_start   log the device's DMA writes into ranges, at
	 *                 page_size granularity; (0, NULL, 0) only probes:
	 *                 0 when the device can log its DMA, -ENOTSUP when
	 *                 nothing can (never "logging" an empty bitmap);
	 *   dirty_report  bitmap (one bit a page, ceil(size/page_size)
	 *                 bits) of the pages of [iova, iova+size) written
	 *                 since the last report, and clear them;
	 *   dirty_stop    stop logging.
	 *   mig_flags     VFIO_MIGRATION_* the device offers (STOP_COPY at
	 *                 least), -ENOTSUP when it cannot migrate;
	 *   mig_set_state one arc of VFIO's migration v2 state machine
	 *                 (states numbered like enum vfio_device_mig_state;
	 *                 the core finds the path).  On error the backend is
	 *                 still in the state it was in, or says -EIO when it
	 *                 fell into ERROR.  RESUMING->STOP validates the
	 *                 stream before it changes anything;
	 *   mig_data_read the next bytes of the state stream in a saving
	 *                 state, *got = 0 at its end (PRE_COPY: for now);
	 *   mig_data_write the next bytes of a stream being loaded;
	 *   mig_data_size  the bytes left to stop-copy, an estimate.
	 * A backend that can only save and load its state whole
	 * (state_save/state_load above) gets all of mig_* from the
	 * host_blob_mig_*() helpers below.
	 */
	int (*dirty_start)(struct host_dev *h, uint64_t page_size,
			   const struct host_dma_range *ranges, size_t n);
	int (*dirty_report)(struct host_dev *h, uint64_t iova, uint64_t size,
			    uint64_t page_size, uint64_t *bitmap);
	int (*dirty_stop)(struct host_dev *h);
	int (*mig_flags)(struct host_dev *h, uint64_t *flags);
	int (*mig_set_state)(struct host_dev *h, uint32_t state);
	int (*mig_data_read)(struct host_dev *h, void *buf, size_t len,
			     size_t *got);
	int (*mig_data_write)(struct host_dev *h, const void *buf, size_t len);
	int (*mig_data_size)(struct host_dev *h, uint64_t *bytes);
	/*
	 * Optional: the legacy VGA ranges of a VGA device, laid out as
	 * VFIO's VGA region (offset = address: memory 0xa0000-0xbffff, I/O
	 * 0x3b0-0x3bb and 0x3c0-0x3df), host_dev.vga_size bytes.  NULL, or
	 * vga_size 0: the host offers none.
	 */
	int (*vga_rw)(struct host_dev *h, uint64_t off, void *buf, size_t len,
		      bool write);
	/*
	 * Optional: a malloc'ed copy of an Intel IGD's OpRegion as the host
	 * offers it (vfio-pci's OpRegion region, the file an image
	 * recorded), *len at most PTDM_IGD_OPREGION_MAX; the core
	 * checks it.  -ENOENT: the host has none.
	 */
	int (*igd_opregion)(struct host_dev *h, uint8_t **buf, size_t *len);
	void (*close)(struct host_dev *h);
};

struct host_dev {
	const struct host_ops *ops;
	char name[64];     /* "0000:01:00.0" or the image file's base name */
	char bdf[16];      /* host address if known, "" otherwise */
	unsigned cfg_size; /* 256 or 4096 */
	bool readonly;     /* every write op fails with -EROFS */
	bool reset_none;   /* the device has no reset at all (VFIO said so) */
	struct host_bar bars[PTDM_NUM_BARS + 1];
	/* where the device sits on the host, for hypervisors that map it
	 * themselves (Xen): BAR bus addresses and the INTx line, 0 unknown */
	uint64_t bar_phys[PTDM_NUM_BARS + 1];
	unsigned irq;
	/* the host's page size (mmap, IOMMU): what a trapped range is
	 * rounded to.  0: 4096.  Else a power of two, 4 KiB..64 KiB. */
	unsigned page_size;
	/* host_blob_mig_*(): the stream of a whole-blob backend */
	struct host_blob_mig *blob_mig;
	uint64_t vga_size; /* the VGA region's size, 0: none (ops.vga_rw) */
};

static inline int host_cfg_read(struct host_dev *h, unsigned off, void *buf,
				size_t len)
{
	return h->ops->cfg_read(h, off, buf, len);
}

static inline int host_cfg_write(struct host_dev *h, unsigned off,
				 const void *buf, size_t len)
{
	if (h->readonly)
		return -30; /* -EROFS, without dragging errno.h into headers */
	return h->ops->cfg_write(h, off, buf, len);
}

#define PTDM_HOST_ENOTSUP (-95) /* -ENOTSUP (= -EOPNOTSUPP on Linux) */

static inline int host_irq_set(struct host_dev *h, enum host_irq_kind kind,
			       unsigned start, unsigned count, const int *fds)
{
	return h->ops->irq_set ? h->ops->irq_set(h, kind, start, count, fds)
			       : PTDM_HOST_ENOTSUP;
}

static inline int host_intx_unmask(struct host_dev *h)
{
	return h->ops->intx_unmask ? h->ops->intx_unmask(h)
				   : PTDM_HOST_ENOTSUP;
}

static inline int host_intx_unmask_fd(struct host_dev *h, int fd)
{
	return h->ops->intx_unmask_fd ? h->ops->intx_unmask_fd(h, fd)
				      : PTDM_HOST_ENOTSUP;
}

static inline int host_irq_count(struct host_dev *h, enum host_irq_kind kind,
				 unsigned *count)
{
	return h->ops->irq_count ? h->ops->irq_count(h, kind, count)
				 : PTDM_HOST_ENOTSUP;
}

/* Does the device reach guest memory only through mappings made here? */
static inline bool host_can_dma_map(const struct host_dev *h)
{
	return h && h->ops->dma_map && h->ops->dma_unmap;
}

static inline int host_dma_map(struct host_dev *h, uint64_t iova, void *vaddr,
			       uint64_t size, unsigned prot)
{
	return h->ops->dma_map ? h->ops->dma_map(h, iova, vaddr, size, prot)
			       : PTDM_HOST_ENOTSUP;
}

static inline int host_dma_unmap(struct host_dev *h, uint64_t iova,
				 uint64_t size)
{
	return h->ops->dma_unmap ? h->ops->dma_unmap(h, iova, size)
				 : PTDM_HOST_ENOTSUP;
}

static inline int host_dirty_start(struct host_dev *h, uint64_t page_size,
				   const struct host_dma_range *ranges,
				   size_t n)
{
	return h->ops->dirty_start ? h->ops->dirty_start(h, page_size, ranges, n)
				   : PTDM_HOST_ENOTSUP;
}

static inline int host_dirty_report(struct host_dev *h, uint64_t iova,
				    uint64_t size, uint64_t page_size,
				    uint64_t *bitmap)
{
	return h->ops->dirty_report
		       ? h->ops->dirty_report(h, iova, size, page_size, bitmap)
		       : PTDM_HOST_ENOTSUP;
}

static inline int host_dirty_stop(struct host_dev *h)
{
	return h->ops->dirty_stop ? h->ops->dirty_stop(h) : PTDM_HOST_ENOTSUP;
}

static inline int host_mig_flags(struct host_dev *h, uint64_t *flags)
{
	return h->ops->mig_flags ? h->ops->mig_flags(h, flags)
				 : PTDM_HOST_ENOTSUP;
}

static inline int host_mig_set_state(struct host_dev *h, uint32_t state)
{
	return h->ops->mig_set_state ? h->ops->mig_set_state(h, state)
				     : PTDM_HOST_ENOTSUP;
}

static inline int host_mig_data_read(struct host_dev *h, void *buf,
				     size_t len, size_t *got)
{
	return h->ops->mig_data_read ? h->ops->mig_data_read(h, buf, len, got)
				     : PTDM_HOST_ENOTSUP;
}

static inline int host_mig_data_write(struct host_dev *h, const void *buf,
				      size_t len)
{
	return h->ops->mig_data_write ? h->ops->mig_data_write(h, buf, len)
				      : PTDM_HOST_ENOTSUP;
}

static inline int host_mig_data_size(struct host_dev *h, uint64_t *bytes)
{
	return h->ops->mig_data_size ? h->ops->mig_data_size(h, bytes)
				     : PTDM_HOST_ENOTSUP;
}

/*
 * migration ops for a backend with state_save/state_load/state_max: the
 * blob is saved at STOP->STOP_COPY and handed out by data_read, collected
 * by data_write (bounded by state_max) and loaded at RESUMING->STOP.  No
 * PRE_COPY, no P2P.  ->RUNNING from any state is a reset: what was being
 * saved or loaded is dropped.
 */
int host_blob_mig_flags(struct host_dev *h, uint64_t *flags);
int host_blob_mig_set_state(struct host_dev *h, uint32_t state);
int host_blob_mig_data_read(struct host_dev *h, void *buf, size_t len,
			    size_t *got);
int host_blob_mig_data_write(struct host_dev *h, const void *buf, size_t len);
int host_blob_mig_data_size(struct host_dev *h, uint64_t *bytes);
void host_blob_mig_free(struct host_dev *h);

static inline void host_close(struct host_dev *h)
{
	if (h) {
		host_blob_mig_free(h);
		h->ops->close(h);
	}
}

/* "mem64, prefetchable" style text for a BAR kind */
const char *host_bar_kind_name(enum host_bar_kind k);

/*
 * The kind of BAR bar (0-5) from the low bits of its register: I/O,
 * 32-bit memory (also the legacy "below 1M" type), 64-bit memory (the
 * lower half: bar+1 is its HOST_BAR_MEM64_HI), or HOST_BAR_NONE for the
 * reserved type and a 64-bit BAR 5, which has no upper half.  *prefetch
 * says whether a memory BAR is prefetchable.  Whether the BAR exists at
 * all (size, a zero register) is the caller's to know.
 */
enum host_bar_kind host_bar_decode(uint32_t reg, int bar, bool *prefetch);

#endif
