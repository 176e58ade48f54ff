/*
 * vfio_priv.h - what the files of the VFIO backend (src/host/vfio*.c)
 * share: the iommufd/cdev uapi older headers lack, the process-wide
 * state (DMA spaces, groups, open devices) and the per-device struct,
 * and the functions one concern offers another.  Nothing here is for
 * the rest of ptdm: front ends use struct host_ops, tools ptdm/vfio.h.
 *
 * Locking: vfio_mu guards spaces, groups, the device list and every
 * space's mappings; functions that need it held say so.
 */
#ifndef PTDM_HOST_VFIO_PRIV_H
#define PTDM_HOST_VFIO_PRIV_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "ptdm/log.h"
#include "ptdm/vfio.h"

/* ---- iommufd and cdev uapi (Linux 6.6+), absent from older headers ---- */
#define PTDM_IOMMUFD_TYPE ';'
#define PTDM_IOMMU_DESTROY _IO(PTDM_IOMMUFD_TYPE, 0x80)
#define PTDM_IOMMU_IOAS_ALLOC _IO(PTDM_IOMMUFD_TYPE, 0x81)
#define PTDM_IOMMU_IOAS_IOVA_RANGES _IO(PTDM_IOMMUFD_TYPE, 0x84)
#define PTDM_IOMMU_IOAS_MAP _IO(PTDM_IOMMUFD_TYPE, 0x85)
#define PTDM_IOMMU_IOAS_UNMAP _IO(PTDM_IOMMUFD_TYPE, 0x86)
#define PTDM_IOMMU_IOAS_MAP_FIXED_IOVA (1u << 0)
#define PTDM_IOMMU_IOAS_MAP_WRITEABLE (1u << 1)
#define PTDM_IOMMU_IOAS_MAP_READABLE (1u << 2)

struct ptdm_iommu_destroy {
	uint32_t size;
	uint32_t id;
};

struct ptdm_iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};

struct ptdm_iommu_iova_range {
	uint64_t start;
	uint64_t last;
};

struct ptdm_iommu_ioas_iova_ranges {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas;
	uint32_t reserved;
	uint64_t allowed_iovas;
	uint64_t out_iova_alignment;
};

struct ptdm_iommu_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t reserved;
	uint64_t user_va;
	uint64_t length;
	uint64_t iova;
};

struct ptdm_iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	uint64_t iova;
	uint64_t length;
};

#define PTDM_VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
#define PTDM_VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
#define PTDM_VFIO_DEVICE_DETACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 20)
#define PTDM_VFIO_PCI_HOT_RESET_FLAG_DEV_ID (1u << 0)
#define PTDM_VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED (1u << 1)
#define DEVFN_SLOT(devfn) (((devfn) >> 3) & 0x1f)
#define DEVFN_FUNC(devfn) ((devfn) & 7)

/* The 6.6 layouts (argsz tells newer kernels which one we speak). */
struct ptdm_vfio_bind_iommufd {
	uint32_t argsz;
	uint32_t flags;
	int32_t iommufd;
	uint32_t out_devid;
};

struct ptdm_vfio_attach_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pt_id;
};

struct ptdm_vfio_detach_pt {
	uint32_t argsz;
	uint32_t flags;
};

#define NUM_IRQ_INDEX VFIO_PCI_NUM_IRQS
#define MAX_INFO_SIZE (1u << 20) /* bound for kernel-sized info buffers */
#define CAP_WALK_MAX 64

/* ---- what the files share ---- */
#define NUM_IRQ_INDEX VFIO_PCI_NUM_IRQS
#define MAX_INFO_SIZE (1u << 20) /* bound for kernel-sized info buffers */
#define CAP_WALK_MAX 64
#define VFIO_SPACE_NAME_MAX 32 /* with the NUL */

/* One IOVA range mapped in a space, and the devices that hold it. */
struct dma_map {
	uint64_t iova, size, vaddr;
	unsigned flags;
	struct vfio_dev **owners;
	size_t nowners;
};

struct space {
	struct space *next;
	char name[VFIO_SPACE_NAME_MAX];
	bool iommufd;     /* else a type1 container */
	int fd;           /* container, or /dev/iommu */
	uint32_t ioas;    /* iommufd only */
	unsigned users;   /* groups (type1) or devices (iommufd) */
	bool iommu_set;   /* type1: VFIO_SET_IOMMU done */
	uint64_t pgsizes; /* IOMMU page sizes (iommufd: the alignment) */
	struct ptdm_vfio_iova_range *ranges;
	size_t nranges;
	struct dma_map *maps;
	size_t nmaps;
};

struct group {
	struct group *next;
	int id;
	int fd;
	struct space *space;
	unsigned users; /* open devices */
};

struct irq_state {
	struct vfio_irq_info info;
	uint32_t nvec;      /* vectors enabled */
	int32_t *fds;       /* info.count entries, -1 when none */
	bool intx_unmask_fd; /* INTx: an unmask eventfd is set */
};

struct bar_mapping {
	void *base;
	size_t span; /* reserved bytes (size rounded up to pages) */
	uint64_t size;
	struct ptdm_vfio_area *win;
	size_t nwin;
};

struct msix_loc {
	bool present;
	int table_bar, pba_bar;
	uint64_t table_off, table_len, pba_off, pba_len;
};

struct vfio_dev {
	struct host_dev h; /* first: host_dev pointers are vfio_dev pointers */
	struct vfio_dev *next;
	int fd;
	bool cdev;
	uint32_t devid; /* cdev: the iommufd device id */
	int group_id;
	struct group *group; /* type1 only */
	struct space *space;
	struct vfio_device_info info;
	struct ptdm_vfio_region reg[VFIO_PCI_NUM_REGIONS];
	struct irq_state irq[NUM_IRQ_INDEX];
	struct msix_loc msix;
	struct bar_mapping maps[PTDM_NUM_BARS];
	uint64_t n_mapped, n_trapped;
	const char *last_reset;
	int mig_fd;   /* the kernel's migration data fd, -1 none */
	bool logging; /* device DMA logging started */
	struct ptdm_ratelimit rl; /* host_ops failures a client can repeat */
};

extern const struct host_ops vfio_ops;

/* h as a VFIO device, NULL when it is another backend's */
static inline struct vfio_dev *to_vfio(struct host_dev *h)
{
	return vfio_is(h) ? (struct vfio_dev *)h : NULL;
}

static inline uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (uint64_t)p : 4096;
}

static inline uint64_t round_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

static inline uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* ---- process-wide state (vfio.c, vfio_open.c) ---- */
extern pthread_mutex_t vfio_mu;
extern char vfio_sys_root[PATH_MAX];

/* ---- vfio.c: small helpers ---- */
__attribute__((format(printf, 3, 4)))
int vfio_path_fmt(char *buf, size_t len, const char *fmt, ...);
/* Full pread/pwrite at a device fd offset. */
int vfio_fd_rw(int fd, uint64_t off, void *buf, size_t len, bool write);
int vfio_igd_opregion(struct host_dev *h, uint8_t **buf, size_t *len);
int vfio_vga_rw(struct host_dev *h, uint64_t off, void *buf, size_t len,
		bool write);
/*
 * Next capability header at *off inside buf[0, len): copies it to hdr and
 * advances *off, or returns false at the end or on a malformed chain (a
 * pointer outside, backwards, or too many).
 */
bool vfio_cap_next(const void *buf, size_t len, size_t min_off, uint32_t *off,
		   unsigned *guard, struct vfio_info_cap_header *hdr,
		   size_t *at);
/* ioctl with a struct whose argsz the kernel may ask to grow: the
 * malloc'ed buffer in *bufp, its size returned. */
int vfio_ioctl_sized(int fd, unsigned long req, void **bufp, size_t base,
		     const void *init);

/* ---- vfio_sysfs.c: what sysfs says before /dev is touched ---- */
int vfio_check_sysfs(const char *bdf, int *gid, struct ptdm_err *err);
int vfio_group_blockers(int gid, char *list, size_t len, char one[16]);
int vfio_not_viable_error(const char *bdf, int gid, struct ptdm_err *err);
/* Does a device on driver drv leave its group viable (a vfio driver,
 * pci-stub, pcieport: drivers with driver_managed_dma)? */
bool vfio_driver_allowed(const char *drv);
int vfio_open_error(const char *bdf, const char *path, int e,
		    struct ptdm_err *err);
/* The cdev node of the device, from /sys/.../vfio-dev/vfioN. */
int vfio_cdev_node(const char *bdf, char *path, size_t len);

/* ---- vfio_space.c: DMA spaces and groups (vfio_mu held) ---- */
int vfio_iommufd_space_get(const char *bdf, const char *name,
			   struct space **out, struct ptdm_err *err);
int vfio_space_iommufd_info(struct space *s);
void vfio_space_put(struct space *s);
int vfio_kernel_unmap(struct space *s, uint64_t iova, uint64_t size);
int vfio_group_get(const char *bdf, int gid, const char *name,
		   struct group **out, struct ptdm_err *err);
void vfio_group_put(struct group *g);
struct group *vfio_group_find(int id);

/* ---- vfio_config.c: config space ---- */
int vfio_cfg_rw(struct vfio_dev *v, unsigned off, void *buf, size_t len,
		bool write);
int vfio_cfg_read(struct host_dev *h, unsigned off, void *buf, size_t len);
int vfio_cfg_write(struct host_dev *h, unsigned off, const void *buf,
		   size_t len);
void vfio_master_off(struct vfio_dev *v);
void vfio_find_msix(struct vfio_dev *v);
int vfio_fill_bars(struct vfio_dev *v);

/* ---- vfio_region.c: regions, trapped BAR access, BAR mappings ---- */
int vfio_region_query(int fd, unsigned index, struct ptdm_vfio_region *out);
int vfio_bar_read(struct host_dev *h, int bar, uint64_t off, void *buf,
		  size_t len);
int vfio_bar_write(struct host_dev *h, int bar, uint64_t off, const void *buf,
		   size_t len);
int vfio_bar_fd(struct host_dev *h, int bar, uint64_t *offset);
void vfio_unmap_bar(struct bar_mapping *m);

/* ---- vfio_irq.c: interrupts ---- */
const char *vfio_irq_name(unsigned index);
int vfio_irq_off(struct vfio_dev *v, unsigned index);
int vfio_host_irq_set(struct host_dev *h, enum host_irq_kind kind,
		      unsigned start, unsigned count, const int *fds);
int vfio_host_intx_unmask_fd(struct host_dev *h, int fd);
int vfio_host_irq_count(struct host_dev *h, enum host_irq_kind kind,
			unsigned *count);

/* ---- vfio_reset.c ---- */
int vfio_reset(struct host_dev *h);

/* ---- vfio_dma.c ---- */
int vfio_host_dma_map(struct host_dev *h, uint64_t iova, void *vaddr,
		      uint64_t size, unsigned prot);
int vfio_host_dma_unmap(struct host_dev *h, uint64_t iova, uint64_t size);
/* Drop every hold v has on its space's mappings (vfio_mu held). */
void vfio_dma_release_all(struct vfio_dev *v);

/* ---- vfio_mig.c: migration v2 and device DMA logging ---- */
int vfio_mig_flags(struct host_dev *h, uint64_t *flags);
int vfio_mig_set_state(struct host_dev *h, uint32_t state);
int vfio_mig_data_read(struct host_dev *h, void *buf, size_t len,
		       size_t *got);
int vfio_mig_data_write(struct host_dev *h, const void *buf, size_t len);
int vfio_mig_data_size(struct host_dev *h, uint64_t *bytes);
int vfio_dirty_start(struct host_dev *h, uint64_t page_size,
		     const struct host_dma_range *ranges, size_t n);
int vfio_dirty_report(struct host_dev *h, uint64_t iova, uint64_t size,
		      uint64_t page_size, uint64_t *bitmap);
int vfio_dirty_stop(struct host_dev *h);
/* the data fd closed, logging stopped (close) */
void vfio_mig_close(struct vfio_dev *v);
/* ---- vfio_open.c ---- */
void vfio_close(struct host_dev *h);

#endif
