/*
 * vfio.h - the Linux VFIO host backend: opening a device, and what tools
 * and tests inspect or drive beyond struct host_ops.
 *
 * vfio_open() returns a struct host_dev the core attaches to like any
 * other backend.  Front ends use only struct host_ops (DMA map/unmap,
 * interrupt eventfds, INTx unmask and its eventfd, interrupt counts are
 * ops wrapping the calls below) and never include this header.  The other
 * calls here take that host_dev and fail with -EINVAL on a device of
 * another backend:
 *   - regions with their capability chain (sparse mmap areas, MSI-X
 *     mappable, region type), the device fd and each region's offset in it;
 *   - BAR mappings that never cover the MSI-X table and PBA pages;
 *   - interrupts as eventfds (INTx with unmask, MSI, MSI-X, ERR, REQ): the
 *     caller's eventfds go to the kernel as they are and stay the caller's;
 *   - DMA mappings, checked against the IOVA ranges and page sizes the
 *     IOMMU reports.
 *
 * DMA address spaces are per process and named.  vfio_open() puts every
 * device in the space "default": one type1 container holding all groups
 * (or one iommufd IOAS on the cdev path).  Devices given to different VMs
 * belong in different spaces (vfio_open_space()); all devices of one IOMMU
 * group necessarily share one.  Mappings are counted per device: two
 * devices of one space may map the same range (same IOVA, address, size
 * and flags) and it stays mapped until both have unmapped or closed.
 *
 * The cdev + iommufd path is written from the kernel's uapi headers and
 * untested: the Debian 12 kernels the VM tests boot have no CONFIG_IOMMUFD
 * (tests/vm/README.md).  One device is driven from one thread at a time;
 * different devices may be used from different threads.
 *
 * Every call returns 0 (or a count) or a negative errno; where a person
 * reads the failure, err says what went wrong and what to do.
 */
#ifndef PTDM_VFIO_H
#define PTDM_VFIO_H

#include <linux/vfio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptdm/err.h"
#include "ptdm/host.h"

/* Which kernel interface vfio_open() uses. */
enum ptdm_vfio_mode {
	/* cdev + iommufd when /dev/iommu and the device's vfio-dev node
	 * exist, else container/group; PTDM_VFIO_API=group|cdev in the
	 * environment overrides */
	PTDM_VFIO_AUTO,
	PTDM_VFIO_GROUP, /* type1 container + group */
	PTDM_VFIO_CDEV,  /* /dev/vfio/devices/vfioN + /dev/iommu */
};

void vfio_set_mode(enum ptdm_vfio_mode mode);
/* Where sysfs is ("/sys" unless a test points it at a fake tree). */
void vfio_set_sysfs_root(const char *root);

/*
 * bdf: "DDDD:BB:DD.F" or "BB:DD.F".  The device must be bound to vfio-pci
 * and every device of its IOMMU group to vfio-pci or to no driver.
 */
int vfio_open(struct host_dev **out, const char *bdf, struct ptdm_err *err);
int vfio_open_space(struct host_dev **out, const char *bdf, const char *space,
		    struct ptdm_err *err);
bool vfio_is(const struct host_dev *h);

/* ---- what was opened ---- */
struct ptdm_vfio_info {
	const char *api;   /* "group" or "cdev" */
	const char *space; /* DMA address space name */
	int device_fd;     /* stays the backend's: dup() it to pass it on */
	int group_id;      /* IOMMU group number */
	int group_fd;      /* -1 on the cdev path */
	int container_fd;  /* type1 container, or the iommufd */
	uint32_t flags;    /* VFIO_DEVICE_FLAGS_* */
	uint32_t num_regions, num_irqs;
	uint64_t iova_pgsizes; /* bitmap of IOMMU page sizes */
	bool msix;             /* an MSI-X capability was found at open */
	int msix_table_bar, msix_pba_bar;
	uint64_t msix_table_off, msix_table_len, msix_pba_off, msix_pba_len;
	/* how the last reset was done: "device" (VFIO_DEVICE_RESET), "hot"
	 * (bus/slot hot reset), or "none" */
	const char *last_reset;
};

int vfio_get_info(struct host_dev *h, struct ptdm_vfio_info *out);

struct ptdm_vfio_iova_range {
	uint64_t start, last; /* inclusive */
};

/* The IOVA ranges the IOMMU accepts, at most max of them into out;
 * returns how many there are (0: the kernel reports no restriction). */
int vfio_iova_ranges(struct host_dev *h, struct ptdm_vfio_iova_range *out,
		     size_t max);

/* ---- regions ---- */
#define PTDM_VFIO_MAX_AREAS 16

struct ptdm_vfio_area {
	uint64_t offset, size;
};

struct ptdm_vfio_region {
	uint32_t index;
	uint32_t flags;  /* VFIO_REGION_INFO_FLAG_* */
	uint64_t size;
	uint64_t offset; /* in the device fd */
	bool sparse;     /* a sparse mmap capability was given: only the
			    areas below may be mapped */
	bool areas_truncated; /* more than PTDM_VFIO_MAX_AREAS: the rest are
				 treated as not mappable */
	unsigned nr_areas;
	struct ptdm_vfio_area areas[PTDM_VFIO_MAX_AREAS];
	bool msix_mappable; /* VFIO_REGION_INFO_CAP_MSIX_MAPPABLE */
	bool has_type;
	uint32_t type, subtype; /* VFIO_REGION_INFO_CAP_TYPE */
};

/* Region index (VFIO_PCI_*_REGION_INDEX or a device-specific one). */
int vfio_region_get(struct host_dev *h, unsigned index,
		    struct ptdm_vfio_region *out, struct ptdm_err *err);

/* ---- BAR mappings ---- */
struct ptdm_vfio_bar_map {
	void *base;   /* BAR offset 0; the whole BAR is reserved, holes
			 are PROT_NONE */
	uint64_t size;
	size_t nwin;  /* mapped windows, ascending, page aligned */
	const struct ptdm_vfio_area *win;
};

/*
 * Map BAR bar (0-5) with the kernel's sparse areas, minus the pages of the
 * MSI-X table and PBA.  Mapping a mapped BAR returns the same mapping.  The
 * mapping lasts until vfio_bar_munmap() or close; while it exists the
 * backend's bar_read/bar_write use it for naturally aligned 1/2/4/8-byte
 * accesses inside a window (counted as mapped), pread/pwrite otherwise
 * (counted as trapped).
 */
int vfio_bar_mmap(struct host_dev *h, int bar, struct ptdm_vfio_bar_map *out,
		  struct ptdm_err *err);
int vfio_bar_munmap(struct host_dev *h, int bar);
/* Is [off, off+len) of the BAR inside one mapped window? */
bool vfio_bar_map_covers(const struct ptdm_vfio_bar_map *m, uint64_t off,
			 uint64_t len);

struct ptdm_vfio_stats {
	uint64_t mapped;  /* backend BAR accesses served by a mapping */
	uint64_t trapped; /* backend BAR accesses done with pread/pwrite */
};

void vfio_get_stats(struct host_dev *h, struct ptdm_vfio_stats *out);

/* ---- interrupts ---- */
struct ptdm_vfio_irq {
	uint32_t index;   /* VFIO_PCI_*_IRQ_INDEX */
	uint32_t flags;   /* VFIO_IRQ_INFO_* */
	uint32_t count;   /* vectors the device has */
	uint32_t enabled; /* vectors set up now (0: index off) */
};

int vfio_irq_info(struct host_dev *h, unsigned index,
		  struct ptdm_vfio_irq *out);

/*
 * Route vectors [start, start+count) of index to fds (fd -1: that vector
 * has no eventfd).  count 0 turns the whole index off.  MSI and MSI-X grow
 * as needed: on a kernel that cannot add vectors to an enabled index the
 * index is re-enabled with the vectors set so far.  INTx, MSI and MSI-X
 * exclude each other: enabling one turns the other two off.  The fds stay
 * the caller's and must stay open while set.
 */
int vfio_set_irq_eventfds(struct host_dev *h, unsigned index, unsigned start,
			  unsigned count, const int *fds, struct ptdm_err *err);
/* INTx is masked by the kernel when it fires; unmask after handling it. */
int vfio_irq_unmask_intx(struct host_dev *h);
/* Or let a write to fd unmask it (-1: stop).  INTx must be on. */
int vfio_set_intx_unmask_eventfd(struct host_dev *h, int fd,
				 struct ptdm_err *err);

/* ---- DMA ---- */
#define PTDM_DMA_READ  HOST_DMA_READ  /* the device may read the memory */
#define PTDM_DMA_WRITE HOST_DMA_WRITE /* the device may write it */

/*
 * Map size bytes at vaddr to iova for the device's DMA.  iova, vaddr and
 * size must be aligned to the smallest IOMMU page size and [iova,
 * iova+size) must lie inside one reported IOVA range.
 */
int vfio_dma_map(struct host_dev *h, uint64_t iova, void *vaddr, uint64_t size,
		 unsigned flags, struct ptdm_err *err);
/* Drop this device's mappings inside [iova, iova+size); a mapping that is
 * only partly inside is refused (-EINVAL), nothing there is -ENOENT. */
int vfio_dma_unmap(struct host_dev *h, uint64_t iova, uint64_t size,
		   struct ptdm_err *err);

#endif
