/*
 * host.h - the one interface between the core and a host backend.
 *
 * A backend (image, sysfs, later vfio) fills a struct host_dev at open
 * time with what the core must know and never re-reads: config size, BAR
 * sizes and types (XSA-337: the core caches them at attach).  Afterwards
 * the core only calls the ops: config bytes, BAR bytes, reset, close.
 * Every op returns 0 or a negative errno; config accesses are plain byte
 * ranges (pread/pwrite style) so backends need no alignment logic.
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

/* Interrupt kinds, numbered like VFIO's IRQ indexes. */
enum host_irq_kind { HOST_IRQ_INTX = 0, HOST_IRQ_MSI = 1, HOST_IRQ_MSIX = 2 };

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
	 * Optional, for owners that relay interrupts (include/ptdm/owner.h):
	 * vectors [start, start+count) of kind signal fds (eventfds; -1:
	 * none).  count 0 turns kind off; turning one kind on turns the
	 * others off.  The fds stay the caller's.  INTx is masked each time
	 * it fires until intx_unmask.
	 */
	int (*irq_set)(struct host_dev *h, enum host_irq_kind kind,
		       unsigned start, unsigned count, const int *fds);
	int (*intx_unmask)(struct host_dev *h);
	void (*close)(struct host_dev *h);
};

struct host_dev {
	const struct host_ops *ops;
	char name[64];     /* "0000:01:00.0" or the image file's base name */
	char bdf[16];      /* host address if known, "" otherwise */
	unsigned cfg_size; /* 256 or 4096 */
	bool readonly;     /* every write op fails with -EROFS */
	struct host_bar bars[PTDM_NUM_BARS + 1];
	/* where the device sits on the host, for hypervisors that map it
	 * themselves (Xen): BAR bus addresses and the INTx line, 0 unknown */
	uint64_t bar_phys[PTDM_NUM_BARS + 1];
	unsigned irq;
	/* the host's page size (mmap, IOMMU): what a trapped range is
	 * rounded to.  0: 4096.  Else a power of two, 4 KiB..64 KiB. */
	unsigned page_size;
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

static inline void host_close(struct host_dev *h)
{
	if (h)
		h->ops->close(h);
}

/* "mem64, prefetchable" style text for a BAR kind */
const char *host_bar_kind_name(enum host_bar_kind k);

#endif
