/*
 * vfio.c - the Linux VFIO host backend.
 *
 * Open checks sysfs before touching /dev: the device exists, has an IOMMU
 * group, is bound to vfio-pci and every other device of its group is on a
 * vfio driver, pci-stub, pcieport or nothing - so the usual mistakes get a
 * sentence naming the device, its driver and the fix before any fd exists.
 * Then one of two kernel interfaces:
 *   - type1 container + group (every kernel since 3.6): VFIO_GET_API_VERSION,
 *     CHECK_EXTENSION(TYPE1v2), GROUP_GET_STATUS, SET_CONTAINER, SET_IOMMU,
 *     IOMMU_GET_INFO (page sizes, the IOVA-range capability),
 *     GROUP_GET_DEVICE_FD;
 *   - cdev + iommufd (/dev/vfio/devices/vfioN, /dev/iommu; Linux 6.6+):
 *     BIND_IOMMUFD, IOAS_ALLOC, ATTACH_IOMMUFD_PT, IOAS_IOVA_RANGES,
 *     IOAS_MAP/UNMAP, hot reset by iommufd ownership.  Written from
 *     include/uapi/linux/{vfio,iommufd}.h; the Debian 12 kernels the VM tests
 *     boot (6.1, 6.12) have no CONFIG_IOMMUFD, so this path is untested.
 *
 * DMA address spaces ("spaces": one container, or one iommufd + IOAS) and
 * groups are process-wide, named and reference counted, under one mutex:
 * a second group joins the container of its space, a second device of a
 * group reuses the group fd.  A space's mappings remember which devices
 * hold them, so closing one device never unmaps what another still uses.
 *
 * Region info is read once at open (config size, BAR kinds and sizes, ROM)
 * and the MSI-X table and PBA are located through the config region, so
 * vfio_bar_mmap() can leave their pages out.  Config and trapped BAR
 * accesses are pread/pwrite on the device fd; a BAR mapped with
 * vfio_bar_mmap() is used for aligned accesses inside its windows instead.
 *
 * Close follows the XSA-302 order: interrupts off, bus master off, reset
 * when there is one (and master off again: a reset restores COMMAND), DMA
 * unmapped, BARs unmapped, fds closed, group and space released when their
 * last user goes.  Every open error path undoes exactly what it did.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* ---- process-wide state ---- */
#define NUM_IRQ_INDEX VFIO_PCI_NUM_IRQS
#define MAX_INFO_SIZE (1u << 20) /* bound for kernel-sized info buffers */
#define CAP_WALK_MAX 64

struct dma_map {
	uint64_t iova, size, vaddr;
	unsigned flags;
	struct vfio_dev **owners;
	size_t nowners;
};

struct space {
	struct space *next;
	char name[32];
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
	struct ptdm_ratelimit rl; /* host_ops failures a client can repeat */
};

static pthread_mutex_t vfio_mu = PTHREAD_MUTEX_INITIALIZER;
static struct space *spaces;
static struct group *groups;
static struct vfio_dev *devs;
static enum ptdm_vfio_mode vfio_mode = PTDM_VFIO_AUTO;
static char sys_root[PATH_MAX] = "/sys";

static const struct host_ops vfio_ops;

void vfio_set_mode(enum ptdm_vfio_mode mode)
{
	vfio_mode = mode;
}

void vfio_set_sysfs_root(const char *root)
{
	snprintf(sys_root, sizeof(sys_root), "%s", root ? root : "/sys");
}

bool vfio_is(const struct host_dev *h)
{
	return h && h->ops == &vfio_ops;
}

static struct vfio_dev *to_vfio(struct host_dev *h)
{
	return vfio_is(h) ? (struct vfio_dev *)h : NULL;
}

__attribute__((format(printf, 3, 4)))
static int path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (uint64_t)p : 4096;
}

static uint64_t round_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Full pread/pwrite at a device fd offset. */
static int fd_rw(int fd, uint64_t off, void *buf, size_t len, bool write)
{
	size_t done = 0;

	if (off > (uint64_t)INT64_MAX - len)
		return -EOVERFLOW;
	while (done < len) {
		ssize_t n = write ? pwrite(fd, (const char *)buf + done,
					   len - done, (off_t)(off + done))
				  : pread(fd, (char *)buf + done, len - done,
					  (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* "DDDD:BB:DD.F" or "BB:DD.F" to the canonical form. */
static int canon_bdf(const char *in, char out[16])
{
	unsigned v[4] = { 0 }, n = 0, first = 0;
	const char *p = in;
	const char seps2[] = ":.", seps3[] = "::.";
	const char *seps;
	size_t colons = 0;

	for (const char *q = in; *q; q++)
		colons += *q == ':';
	if (colons == 1) {
		seps = seps2;
		first = 1;
	} else if (colons == 2) {
		seps = seps3;
	} else {
		return -EINVAL;
	}
	for (unsigned i = first; i < 4; i++) {
		unsigned val = 0, digits = 0;

		while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		       (*p >= 'A' && *p <= 'F')) {
			unsigned d = *p <= '9'
					     ? (unsigned)(*p - '0')
					     : (unsigned)((*p | 0x20) - 'a' + 10);

			if (++digits > 4)
				return -EINVAL;
			val = val * 16 + d;
			p++;
		}
		if (!digits)
			return -EINVAL;
		v[i] = val;
		if (i < 3) {
			if (*p != seps[n++])
				return -EINVAL;
			p++;
		}
	}
	if (*p || v[1] > 0xff || v[2] > 0x1f || v[3] > 7)
		return -EINVAL;
	snprintf(out, 16, "%04x:%02x:%02x.%x", v[0] & 0xffff, v[1], v[2], v[3]);
	return 0;
}

/* ---- sysfs: existence, group, drivers ---- */

/* 1 and the driver's name when bound, 0 when not, -errno on error. */
static int driver_of(const char *bdf, char *drv, size_t len)
{
	char p[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	if (path_fmt(p, sizeof(p), "%s/bus/pci/devices/%s/driver", sys_root,
		     bdf))
		return -ENAMETOOLONG;
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	link[n] = 0;
	base = strrchr(link, '/');
	if (path_fmt(drv, len, "%s", base ? base + 1 : link))
		return -ENAMETOOLONG;
	return 1;
}

static bool driver_is_vfio(const char *drv)
{
	return strstr(drv, "vfio") != NULL;
}

/* Drivers that leave DMA ownership to VFIO (driver_managed_dma). */
static bool driver_allowed(const char *drv)
{
	return driver_is_vfio(drv) || !strcmp(drv, "pci-stub") ||
	       !strcmp(drv, "pcieport");
}

static int group_of(const char *bdf, int *gid)
{
	char p[PATH_MAX], link[PATH_MAX];
	const char *base;
	char *end;
	ssize_t n;
	long g;

	if (path_fmt(p, sizeof(p), "%s/bus/pci/devices/%s/iommu_group",
		     sys_root, bdf))
		return -ENAMETOOLONG;
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = 0;
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	errno = 0;
	g = strtol(base, &end, 10);
	if (errno || *end || end == base || g < 0 || g > INT_MAX)
		return -EINVAL;
	*gid = (int)g;
	return 0;
}

/*
 * The devices of group gid bound to a driver that keeps the group from
 * being viable, as "BDF (driver), ..." in list; *one set to the single
 * culprit's BDF when there is exactly one.  Returns how many.
 */
static int group_blockers(int gid, char *list, size_t len, char one[16])
{
	char p[PATH_MAX], drv[64];
	struct dirent *e;
	size_t used = 0;
	int n = 0;
	DIR *d;

	list[0] = 0;
	one[0] = 0;
	if (path_fmt(p, sizeof(p), "%s/kernel/iommu_groups/%d/devices",
		     sys_root, gid))
		return -ENAMETOOLONG;
	d = opendir(p);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		int rc;

		if (e->d_name[0] == '.')
			continue;
		rc = driver_of(e->d_name, drv, sizeof(drv));
		if (rc <= 0 || driver_allowed(drv))
			continue;
		if (used < len) {
			int w = snprintf(list + used, len - used, "%s%s (%s)",
					 n ? ", " : "", e->d_name, drv);

			used += w > 0 ? (size_t)w : 0;
		}
		if (!n)
			snprintf(one, 16, "%.15s", e->d_name);
		n++;
	}
	closedir(d);
	if (n > 1)
		one[0] = 0;
	return n;
}

static int not_viable_error(const char *bdf, int gid, struct ptdm_err *err)
{
	char list[256], one[16];
	int n = group_blockers(gid, list, sizeof(list), one);

	if (n < 0)
		return ptdm_errf(err, -EBUSY,
				 "%s: IOMMU group %d is not viable (the kernel "
				 "says so; its device list cannot be read: %s)",
				 bdf, gid, strerror(-n));
	if (n == 0)
		return ptdm_errf(err, -EBUSY,
				 "%s: IOMMU group %d is not viable: a device of "
				 "the group is in use by a host driver (see "
				 "%s/kernel/iommu_groups/%d/devices); bind each "
				 "to vfio-pci with `ptdm assignable-add BDF`",
				 bdf, gid, sys_root, gid);
	if (n == 1)
		return ptdm_errf(err, -EBUSY,
				 "%s: IOMMU group %d is not viable: %s is bound "
				 "to a host driver. Every device of the group "
				 "must be bound to vfio-pci or to no driver: run "
				 "`ptdm assignable-add %s`",
				 bdf, gid, list, one);
	return ptdm_errf(err, -EBUSY,
			 "%s: IOMMU group %d is not viable: %s are bound to "
			 "host drivers. Every device of the group must be "
			 "bound to vfio-pci or to no driver: run `ptdm "
			 "assignable-add BDF` for each of them",
			 bdf, gid, list);
}

/* Everything sysfs can tell before /dev is touched. */
static int check_sysfs(const char *bdf, int *gid, struct ptdm_err *err)
{
	char p[PATH_MAX], drv[64], list[256], one[16];
	struct stat st;
	int rc;

	if (path_fmt(p, sizeof(p), "%s/bus/pci/devices/%s", sys_root, bdf))
		return ptdm_errf(err, -ENAMETOOLONG, "%s: sysfs path too long",
				 bdf);
	if (stat(p, &st))
		return errno == ENOENT
			       ? ptdm_errf(err, -ENOENT,
					   "%s: no such PCI device (nothing at "
					   "%s); `ptdm list` or `lspci -D` "
					   "shows the addresses there are",
					   bdf, p)
			       : ptdm_errf(err, -errno, "%s: %s: %s", bdf, p,
					   strerror(errno));
	rc = group_of(bdf, gid);
	if (rc == -ENOENT)
		return ptdm_errf(err, -ENXIO,
				 "%s: has no IOMMU group: the IOMMU is off or "
				 "does not cover this device. Turn VT-d/AMD-Vi "
				 "on in the firmware and boot with "
				 "intel_iommu=on (or amd_iommu=on); VFIO needs "
				 "an IOMMU", bdf);
	if (rc)
		return ptdm_errf(err, rc, "%s: cannot read its IOMMU group: %s",
				 bdf, strerror(-rc));
	rc = driver_of(bdf, drv, sizeof(drv));
	if (rc < 0)
		return ptdm_errf(err, rc, "%s: cannot read its driver: %s",
				 bdf, strerror(-rc));
	if (rc == 0)
		return ptdm_errf(err, -ENODEV,
				 "%s: not bound to any driver, so VFIO has no "
				 "device for it: run `ptdm assignable-add %s` "
				 "to bind it to vfio-pci", bdf, bdf);
	if (!driver_is_vfio(drv))
		return ptdm_errf(err, -EBUSY,
				 "%s: bound to the host driver %s, not to "
				 "vfio-pci: run `ptdm assignable-add %s` to hand "
				 "it to vfio-pci (the host stops using it)",
				 bdf, drv, bdf);
	if (group_blockers(*gid, list, sizeof(list), one) > 0)
		return not_viable_error(bdf, *gid, err);
	return 0;
}

static int open_error(const char *bdf, const char *path, int e,
		      struct ptdm_err *err)
{
	if (e == EACCES || e == EPERM)
		return ptdm_errf(err, -e,
				 "%s: no permission to open %s: run ptdm as "
				 "root, or give its user the device node (a "
				 "udev rule or chown) and a locked-memory limit "
				 "(ulimit -l) as large as the guest's RAM",
				 bdf, path);
	if (e == ENOENT || e == ENODEV || e == ENXIO)
		return ptdm_errf(err, -e,
				 "%s: %s does not exist: load the vfio-pci "
				 "module (modprobe vfio-pci) and bind the "
				 "device with `ptdm assignable-add %s`",
				 bdf, path, bdf);
	if (e == EBUSY)
		return ptdm_errf(err, -e,
				 "%s: %s is busy: another process (a VMM or "
				 "another ptdm) has the device or its IOMMU "
				 "group open", bdf, path);
	return ptdm_errf(err, -e, "%s: cannot open %s: %s", bdf, path,
			 strerror(e));
}

/* ---- capability chains in kernel info buffers ---- */

/*
 * Next capability header at *off inside buf[0, len): copies it to hdr and
 * advances *off, or returns false at the end or on a malformed chain (a
 * pointer outside, backwards, or too many).
 */
static bool cap_next(const void *buf, size_t len, size_t min_off,
		     uint32_t *off, unsigned *guard,
		     struct vfio_info_cap_header *hdr, size_t *at)
{
	if (!*off || ++*guard > CAP_WALK_MAX || *off < min_off ||
	    *off > len || len - *off < sizeof(*hdr))
		return false;
	memcpy(hdr, (const char *)buf + *off, sizeof(*hdr));
	*at = *off;
	*off = hdr->next && hdr->next > *at ? hdr->next : 0;
	return true;
}

/* ioctl with a struct whose argsz the kernel may ask to grow. */
static int ioctl_sized(int fd, unsigned long req, void **bufp, size_t base,
		       const void *init)
{
	uint32_t argsz = (uint32_t)base, want;
	void *buf = NULL;

	for (int tries = 0; tries < 4; tries++) {
		void *nb = realloc(buf, argsz);

		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		memset(buf, 0, argsz);
		memcpy(buf, init, base);
		memcpy(buf, &argsz, sizeof(argsz));
		if (ioctl(fd, req, buf)) {
			int rc = -errno;

			free(buf);
			return rc;
		}
		memcpy(&want, buf, sizeof(want));
		if (want <= argsz) {
			*bufp = buf;
			return (int)argsz;
		}
		if (want > MAX_INFO_SIZE)
			break;
		argsz = want;
	}
	free(buf);
	return -E2BIG;
}

/* ---- spaces ---- */

static int space_type1_info(struct space *s)
{
	struct vfio_iommu_type1_info init = { .argsz = sizeof(init) }, info;
	struct ptdm_vfio_iova_range *ranges = NULL;
	struct vfio_info_cap_header hdr;
	unsigned guard = 0;
	size_t nranges = 0, at;
	uint32_t off;
	void *buf;
	int len;

	len = ioctl_sized(s->fd, VFIO_IOMMU_GET_INFO, &buf, sizeof(init),
			  &init);
	if (len < 0)
		return len;
	memcpy(&info, buf, sizeof(info));
	off = (info.flags & VFIO_IOMMU_INFO_CAPS) ? info.cap_offset : 0;
	while (cap_next(buf, (size_t)len, sizeof(info), &off, &guard, &hdr,
			&at)) {
		struct vfio_iommu_type1_info_cap_iova_range cr;
		size_t room;

		if (hdr.id != VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE ||
		    (size_t)len - at < sizeof(cr))
			continue;
		memcpy(&cr, (char *)buf + at, sizeof(cr));
		room = ((size_t)len - at - sizeof(cr)) /
		       sizeof(struct vfio_iova_range);
		nranges = cr.nr_iovas < room ? cr.nr_iovas : room;
		free(ranges);
		ranges = nranges ? calloc(nranges, sizeof(*ranges)) : NULL;
		if (nranges && !ranges) {
			free(buf);
			return -ENOMEM;
		}
		for (size_t i = 0; i < nranges; i++) {
			struct vfio_iova_range r;

			memcpy(&r, (char *)buf + at + sizeof(cr) +
				       i * sizeof(r), sizeof(r));
			ranges[i].start = r.start;
			ranges[i].last = r.end;
		}
	}
	free(buf);
	s->pgsizes = (info.flags & VFIO_IOMMU_INFO_PGSIZES) && info.iova_pgsizes
			     ? info.iova_pgsizes
			     : page_size();
	free(s->ranges);
	s->ranges = ranges;
	s->nranges = nranges;
	return 0;
}

static int space_iommufd_info(struct space *s)
{
	struct ptdm_iommu_ioas_iova_ranges q = { .size = sizeof(q),
						 .ioas_id = s->ioas };
	struct ptdm_iommu_iova_range *kr = NULL;
	struct ptdm_vfio_iova_range *ranges = NULL;
	uint32_t n = 0;

	for (int tries = 0; tries < 4; tries++) {
		q.num_iovas = n;
		q.allowed_iovas = (uint64_t)(uintptr_t)kr;
		if (!ioctl(s->fd, PTDM_IOMMU_IOAS_IOVA_RANGES, &q))
			break;
		if (errno != EMSGSIZE || q.num_iovas > 4096) {
			int rc = -errno;

			free(kr);
			return errno == EMSGSIZE ? -E2BIG : rc;
		}
		n = q.num_iovas;
		free(kr);
		kr = calloc(n, sizeof(*kr));
		if (!kr)
			return -ENOMEM;
	}
	if (q.num_iovas > n) {
		free(kr);
		return -EAGAIN;
	}
	if (q.num_iovas) {
		ranges = calloc(q.num_iovas, sizeof(*ranges));
		if (!ranges) {
			free(kr);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < q.num_iovas; i++) {
			ranges[i].start = kr[i].start;
			ranges[i].last = kr[i].last;
		}
	}
	free(kr);
	s->pgsizes = q.out_iova_alignment ? q.out_iova_alignment : page_size();
	free(s->ranges);
	s->ranges = ranges;
	s->nranges = q.num_iovas;
	return 0;
}

static struct space *space_find(const char *name)
{
	for (struct space *s = spaces; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

static int kernel_unmap(struct space *s, uint64_t iova, uint64_t size)
{
	struct ptdm_iommu_ioas_unmap iu = { .size = sizeof(iu),
					    .ioas_id = s->ioas,
					    .iova = iova,
					    .length = size };
	struct vfio_iommu_type1_dma_unmap tu = { .argsz = sizeof(tu),
						 .iova = iova,
						 .size = size };

	if (s->iommufd)
		return ioctl(s->fd, PTDM_IOMMU_IOAS_UNMAP, &iu) ? -errno : 0;
	return ioctl(s->fd, VFIO_IOMMU_UNMAP_DMA, &tu) ? -errno : 0;
}

static void space_free(struct space *s)
{
	for (size_t i = 0; i < s->nmaps; i++)
		free(s->maps[i].owners);
	free(s->maps);
	free(s->ranges);
	free(s);
}

/*
 * Last user gone: unlink, drop the IOAS (and with it any mapping), close.
 * Every device released its mappings at close, so none is left here.
 */
static void space_put(struct space *s)
{
	struct space **pp;

	if (--s->users)
		return;
	for (pp = &spaces; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->iommufd) {
		struct ptdm_iommu_destroy d = { .size = sizeof(d),
						.id = s->ioas };

		if (ioctl(s->fd, PTDM_IOMMU_DESTROY, &d))
			ptdm_log(PTDM_LOG_WARN, "vfio: space %s: destroying "
				 "IOAS %u: %s", s->name, s->ioas,
				 strerror(errno));
	}
	close(s->fd);
	space_free(s);
}

static struct space *space_new(const char *name, bool iommufd, int fd)
{
	struct space *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->iommufd = iommufd;
	s->fd = fd;
	return s;
}

/* A fresh type1 container: not linked until a group is in it. */
static int container_open(const char *bdf, const char *name,
			  struct space **out, struct ptdm_err *err)
{
	const char *path = "/dev/vfio/vfio";
	struct space *s;
	int fd, v;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return open_error(bdf, path, errno, err);
	v = ioctl(fd, VFIO_GET_API_VERSION);
	if (v != VFIO_API_VERSION) {
		close(fd);
		return ptdm_errf(err, -EPROTO,
				 "%s: %s speaks VFIO API version %d, ptdm "
				 "speaks %d", bdf, path, v, VFIO_API_VERSION);
	}
	if (ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		close(fd);
		return ptdm_errf(err, -EOPNOTSUPP,
				 "%s: the kernel offers no type1v2 IOMMU for "
				 "VFIO: load the vfio_iommu_type1 module "
				 "(modprobe vfio_iommu_type1)", bdf);
	}
	s = space_new(name, false, fd);
	if (!s) {
		close(fd);
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", bdf);
	}
	*out = s;
	return 0;
}

static int iommufd_space_get(const char *bdf, const char *name,
			     struct space **out, struct ptdm_err *err)
{
	struct ptdm_iommu_ioas_alloc a = { .size = sizeof(a) };
	struct space *s = space_find(name);
	int fd;

	if (s) {
		if (!s->iommufd)
			return ptdm_errf(err, -EINVAL,
					 "%s: DMA space \"%s\" is a type1 "
					 "container; a cdev device needs an "
					 "iommufd space: open it in another "
					 "space", bdf, name);
		s->users++;
		*out = s;
		return 0;
	}
	fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return open_error(bdf, "/dev/iommu", errno, err);
	if (ioctl(fd, PTDM_IOMMU_IOAS_ALLOC, &a)) {
		int e = errno;

		close(fd);
		return ptdm_errf(err, -e, "%s: IOMMU_IOAS_ALLOC: %s", bdf,
				 strerror(e));
	}
	s = space_new(name, true, fd);
	if (!s) {
		struct ptdm_iommu_destroy d = { .size = sizeof(d),
						.id = a.out_ioas_id };

		if (ioctl(fd, PTDM_IOMMU_DESTROY, &d))
			ptdm_log(PTDM_LOG_WARN, "%s: destroying IOAS %u: %s",
				 bdf, a.out_ioas_id, strerror(errno));
		close(fd);
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", bdf);
	}
	s->ioas = a.out_ioas_id;
	s->users = 1;
	s->next = spaces;
	spaces = s;
	*out = s;
	return 0;
}

/* ---- groups ---- */

static struct group *group_find(int id)
{
	for (struct group *g = groups; g; g = g->next)
		if (g->id == id)
			return g;
	return NULL;
}

static void group_put(struct group *g)
{
	struct group **pp;

	if (--g->users)
		return;
	for (pp = &groups; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	if (ioctl(g->fd, VFIO_GROUP_UNSET_CONTAINER))
		ptdm_log(PTDM_LOG_WARN, "vfio: group %d: unset container: %s",
			 g->id, strerror(errno));
	close(g->fd);
	space_put(g->space);
	free(g);
}

/*
 * The group, opened and put in the space's container if this process has
 * not done so yet.  On success the caller holds one user reference.
 */
static int group_get(const char *bdf, int gid, const char *name,
		     struct group **out, struct ptdm_err *err)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct group *g = group_find(gid);
	struct space *s, *fresh = NULL;
	char path[64];
	int fd, rc;

	if (g) {
		if (strcmp(g->space->name, name))
			return ptdm_errf(err, -EBUSY,
					 "%s: IOMMU group %d is already in DMA "
					 "space \"%s\"; all devices of one group "
					 "share one space", bdf, gid,
					 g->space->name);
		g->users++;
		*out = g;
		return 0;
	}
	s = space_find(name);
	if (s && s->iommufd)
		return ptdm_errf(err, -EINVAL,
				 "%s: DMA space \"%s\" is an iommufd space; a "
				 "group device needs a type1 container: open it "
				 "in another space", bdf, name);
	snprintf(path, sizeof(path), "/dev/vfio/%d", gid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return open_error(bdf, path, errno, err);
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st)) {
		rc = ptdm_errf(err, -errno, "%s: VFIO_GROUP_GET_STATUS on %s: "
			       "%s", bdf, path, strerror(errno));
		goto fail_fd;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		rc = not_viable_error(bdf, gid, err);
		goto fail_fd;
	}
	if (!s) {
		rc = container_open(bdf, name, &fresh, err);
		if (rc)
			goto fail_fd;
		s = fresh;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &s->fd)) {
		rc = ptdm_errf(err, -errno,
			       "%s: cannot put IOMMU group %d in the container "
			       "of DMA space \"%s\": %s%s", bdf, gid, name,
			       strerror(errno),
			       fresh ? "" : " (its IOMMU differs: open the "
					    "device in another space)");
		goto fail_space;
	}
	if (!s->iommu_set) {
		if (ioctl(s->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
			int e = errno;

			if (e == EPERM)
				rc = ptdm_errf(err, -e,
					       "%s: the type1 IOMMU refuses "
					       "group %d (EPERM): the host has "
					       "no interrupt remapping. Enable "
					       "it (intremap/x2APIC in the "
					       "firmware), or accept the risk "
					       "with the vfio_iommu_type1 "
					       "parameter "
					       "allow_unsafe_interrupts=1",
					       bdf, gid);
			else
				rc = ptdm_errf(err, -e,
					       "%s: VFIO_SET_IOMMU(type1v2): %s",
					       bdf, strerror(e));
			goto fail_unset;
		}
		s->iommu_set = true;
	}
	rc = space_type1_info(s);
	if (rc) {
		ptdm_errf(err, rc, "%s: VFIO_IOMMU_GET_INFO: %s", bdf,
			  strerror(-rc));
		goto fail_unset;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		rc = ptdm_errf(err, -ENOMEM, "%s: out of memory", bdf);
		goto fail_unset;
	}
	g->id = gid;
	g->fd = fd;
	g->space = s;
	g->users = 1;
	g->next = groups;
	groups = g;
	if (fresh) {
		fresh->next = spaces;
		spaces = fresh;
	}
	s->users++;
	*out = g;
	return 0;
fail_unset:
	if (ioctl(fd, VFIO_GROUP_UNSET_CONTAINER))
		ptdm_log(PTDM_LOG_WARN, "%s: group %d: unset container: %s",
			 bdf, gid, strerror(errno));
	/* the IOVA ranges of the groups still in an existing container */
	if (!fresh && space_type1_info(s))
		ptdm_log(PTDM_LOG_WARN, "%s: DMA space \"%s\": cannot re-read "
			 "its IOMMU info", bdf, name);
fail_space:
	if (fresh) {
		close(fresh->fd);
		space_free(fresh);
	}
fail_fd:
	close(fd);
	return rc;
}

/* ---- device open ---- */

static int region_query(int fd, unsigned index, struct ptdm_vfio_region *out)
{
	struct vfio_region_info init = { .argsz = sizeof(init),
					 .index = index };
	struct vfio_region_info ri;
	struct vfio_info_cap_header hdr;
	unsigned guard = 0;
	uint32_t off;
	size_t at;
	void *buf;
	int len;

	len = ioctl_sized(fd, VFIO_DEVICE_GET_REGION_INFO, &buf,
			  sizeof(init), &init);
	if (len < 0)
		return len;
	memcpy(&ri, buf, sizeof(ri));
	memset(out, 0, sizeof(*out));
	out->index = index;
	out->flags = ri.flags;
	out->size = ri.size;
	out->offset = ri.offset;
	off = (ri.flags & VFIO_REGION_INFO_FLAG_CAPS) ? ri.cap_offset : 0;
	while (cap_next(buf, (size_t)len, sizeof(ri), &off, &guard, &hdr,
			&at)) {
		size_t room = (size_t)len - at;

		if (hdr.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			struct vfio_region_info_cap_sparse_mmap sm;
			size_t fit;

			if (room < sizeof(sm))
				continue;
			memcpy(&sm, (char *)buf + at, sizeof(sm));
			fit = (room - sizeof(sm)) /
			      sizeof(struct vfio_region_sparse_mmap_area);
			out->sparse = true;
			out->nr_areas = 0;
			for (size_t i = 0; i < sm.nr_areas && i < fit; i++) {
				struct vfio_region_sparse_mmap_area a;

				if (out->nr_areas == PTDM_VFIO_MAX_AREAS) {
					out->areas_truncated = true;
					break;
				}
				memcpy(&a, (char *)buf + at + sizeof(sm) +
					       i * sizeof(a), sizeof(a));
				if (!a.size || a.offset > ri.size ||
				    a.size > ri.size - a.offset)
					continue; /* outside: not mappable */
				out->areas[out->nr_areas].offset = a.offset;
				out->areas[out->nr_areas].size = a.size;
				out->nr_areas++;
			}
			if (sm.nr_areas > fit)
				out->areas_truncated = true;
		} else if (hdr.id == VFIO_REGION_INFO_CAP_TYPE) {
			struct vfio_region_info_cap_type t;

			if (room < sizeof(t))
				continue;
			memcpy(&t, (char *)buf + at, sizeof(t));
			out->has_type = true;
			out->type = t.type;
			out->subtype = t.subtype;
		} else if (hdr.id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
			out->msix_mappable = true;
		}
	}
	free(buf);
	return 0;
}

static int cfg_rw(struct vfio_dev *v, unsigned off, void *buf, size_t len,
		  bool write)
{
	if (off > v->h.cfg_size || len > v->h.cfg_size - off)
		return -EINVAL;
	return fd_rw(v->fd, v->reg[VFIO_PCI_CONFIG_REGION_INDEX].offset + off,
		     buf, len, write);
}

static int cfg_read32(struct vfio_dev *v, unsigned off, uint32_t *val)
{
	uint32_t le;
	int rc = cfg_rw(v, off, &le, 4, false);

	*val = le32toh(le);
	return rc;
}

/* Find the MSI-X table and PBA (bounded walk; a bad chain finds none). */
static void find_msix(struct vfio_dev *v)
{
	uint8_t b[2];
	uint16_t status;
	unsigned pos, n;

	memset(&v->msix, 0, sizeof(v->msix));
	if (cfg_rw(v, PCI_STATUS, &status, 2, false) ||
	    !(le16toh(status) & PCI_STATUS_CAP_LIST) ||
	    cfg_rw(v, PCI_CAPABILITY_LIST, b, 1, false))
		return;
	for (pos = b[0] & ~3u, n = 0; pos >= 0x40 && pos < 0x100 && n < 48;
	     n++) {
		uint32_t ctrl, table, pba;
		unsigned nvec;

		if (cfg_rw(v, pos, b, 2, false))
			return;
		if (b[0] != PCI_CAP_ID_MSIX) {
			pos = b[1] & ~3u;
			continue;
		}
		if (cfg_read32(v, pos, &ctrl) ||
		    cfg_read32(v, pos + PCI_MSIX_TABLE, &table) ||
		    cfg_read32(v, pos + PCI_MSIX_PBA, &pba))
			return;
		nvec = ((ctrl >> 16) & PCI_MSIX_FLAGS_QSIZE) + 1;
		v->msix.table_bar = (int)(table & PCI_MSIX_TABLE_BIR);
		v->msix.table_off = table & PCI_MSIX_TABLE_OFFSET;
		v->msix.table_len = (uint64_t)nvec * PCI_MSIX_ENTRY_SIZE;
		v->msix.pba_bar = (int)(pba & PCI_MSIX_PBA_BIR);
		v->msix.pba_off = pba & PCI_MSIX_PBA_OFFSET;
		v->msix.pba_len = (uint64_t)(nvec + 63) / 64 * 8;
		v->msix.present = true;
		return;
	}
}

/* BAR kinds and sizes from region info and the BAR registers. */
static int fill_bars(struct vfio_dev *v)
{
	struct host_bar *bars = v->h.bars;

	memset(bars, 0, sizeof(v->h.bars));
	for (int i = 0; i < PTDM_NUM_BARS; i++) {
		const struct ptdm_vfio_region *r = &v->reg[i];
		uint32_t reg;
		int rc;

		bars[i].size_known = true;
		if (!r->size)
			continue;
		rc = cfg_read32(v, PCI_BASE_ADDRESS_0 + 4u * (unsigned)i, &reg);
		if (rc)
			return rc;
		bars[i].size = r->size;
		if (reg & PCI_BASE_ADDRESS_SPACE_IO) {
			bars[i].kind = HOST_BAR_IO;
			continue;
		}
		bars[i].prefetch = reg & PCI_BASE_ADDRESS_MEM_PREFETCH;
		if ((reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) ==
			    PCI_BASE_ADDRESS_MEM_TYPE_64 &&
		    i + 1 < PTDM_NUM_BARS) {
			bars[i].kind = HOST_BAR_MEM64;
			bars[i + 1].kind = HOST_BAR_MEM64_HI;
			bars[i + 1].size_known = true;
			i++;
			continue;
		}
		bars[i].kind = HOST_BAR_MEM32;
	}
	bars[PTDM_ROM_INDEX].size_known = true;
	if (v->reg[VFIO_PCI_ROM_REGION_INDEX].size) {
		bars[PTDM_ROM_INDEX].kind = HOST_BAR_ROM;
		bars[PTDM_ROM_INDEX].size =
			v->reg[VFIO_PCI_ROM_REGION_INDEX].size;
	}
	return 0;
}

/* Device info, regions, IRQs, config size, BARs, MSI-X. */
static int dev_setup(struct vfio_dev *v, struct ptdm_err *err)
{
	const char *bdf = v->h.bdf;
	const struct ptdm_vfio_region *cfg;
	int rc;

	v->info.argsz = sizeof(v->info);
	if (ioctl(v->fd, VFIO_DEVICE_GET_INFO, &v->info))
		return ptdm_errf(err, -errno, "%s: VFIO_DEVICE_GET_INFO: %s",
				 bdf, strerror(errno));
	if (!(v->info.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    v->info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		return ptdm_errf(err, -ENODEV,
				 "%s: VFIO says this is not a PCI device "
				 "(flags %#x, %u regions)", bdf,
				 v->info.flags, v->info.num_regions);
	for (unsigned i = 0; i < VFIO_PCI_NUM_REGIONS &&
			     i < v->info.num_regions; i++) {
		rc = region_query(v->fd, i, &v->reg[i]);
		if (rc == -EINVAL) {
			/* vfio-pci's answer for a region the device lacks
			 * (the VGA region of anything but a VGA device) */
			memset(&v->reg[i], 0, sizeof(v->reg[i]));
			v->reg[i].index = i;
			continue;
		}
		if (rc)
			return ptdm_errf(err, rc, "%s: region %u info: %s",
					 bdf, i, strerror(-rc));
	}
	for (unsigned i = 0; i < NUM_IRQ_INDEX && i < v->info.num_irqs; i++) {
		struct vfio_irq_info *ii = &v->irq[i].info;

		ii->argsz = sizeof(*ii);
		ii->index = i;
		if (!ioctl(v->fd, VFIO_DEVICE_GET_IRQ_INFO, ii))
			continue;
		if (errno != EINVAL)
			return ptdm_errf(err, -errno, "%s: IRQ index %u info: "
					 "%s", bdf, i, strerror(errno));
		/* vfio-pci's answer for an index the device lacks (ERR
		 * on a conventional PCI device): no vectors */
		ii->flags = 0;
		ii->count = 0;
	}
	cfg = &v->reg[VFIO_PCI_CONFIG_REGION_INDEX];
	if (!(cfg->flags & VFIO_REGION_INFO_FLAG_READ) ||
	    cfg->size < PTDM_CFG_LEGACY_SIZE)
		return ptdm_errf(err, -EIO,
				 "%s: the config region is unusable (size %#llx, "
				 "flags %#x)", bdf,
				 (unsigned long long)cfg->size, cfg->flags);
	v->h.cfg_size = cfg->size >= PTDM_CFG_SPACE_SIZE ? PTDM_CFG_SPACE_SIZE
							 : PTDM_CFG_LEGACY_SIZE;
	rc = fill_bars(v);
	if (rc)
		return ptdm_errf(err, rc, "%s: reading the BAR registers: %s",
				 bdf, strerror(-rc));
	find_msix(v);
	return 0;
}

/* The cdev node of the device, from /sys/.../vfio-dev/vfioN. */
static int cdev_node(const char *bdf, char *path, size_t len)
{
	char p[PATH_MAX];
	struct dirent *e;
	int rc = -ENOENT;
	DIR *d;

	if (path_fmt(p, sizeof(p), "%s/bus/pci/devices/%s/vfio-dev", sys_root,
		     bdf))
		return -ENAMETOOLONG;
	d = opendir(p);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vfio", 4)) {
			rc = path_fmt(path, len, "/dev/vfio/devices/%s",
				      e->d_name);
			break;
		}
	closedir(d);
	return rc;
}

static bool want_cdev(const char *bdf, char *node, size_t len)
{
	enum ptdm_vfio_mode m = vfio_mode;
	const char *env = getenv("PTDM_VFIO_API");

	if (m == PTDM_VFIO_AUTO && env)
		m = !strcmp(env, "cdev") ? PTDM_VFIO_CDEV
		    : !strcmp(env, "group") ? PTDM_VFIO_GROUP
					    : PTDM_VFIO_AUTO;
	if (m == PTDM_VFIO_GROUP)
		return false;
	if (cdev_node(bdf, node, len))
		node[0] = 0;
	if (m == PTDM_VFIO_CDEV)
		return true;
	return node[0] && !access("/dev/iommu", F_OK);
}

static int open_cdev(struct vfio_dev *v, const char *node, const char *name,
		     struct ptdm_err *err)
{
	const char *bdf = v->h.bdf;
	struct ptdm_vfio_bind_iommufd b = { .argsz = sizeof(b) };
	struct ptdm_vfio_attach_pt a = { .argsz = sizeof(a) };
	struct space *s = NULL;
	int rc;

	if (!node[0])
		return ptdm_errf(err, -EOPNOTSUPP,
				 "%s: the kernel has no VFIO device cdev for "
				 "it (no %s/bus/pci/devices/%s/vfio-dev): it "
				 "needs CONFIG_VFIO_DEVICE_CDEV and "
				 "CONFIG_IOMMUFD; use the group API", bdf,
				 sys_root, bdf);
	v->fd = open(node, O_RDWR | O_CLOEXEC);
	if (v->fd < 0)
		return open_error(bdf, node, errno, err);
	rc = iommufd_space_get(bdf, name, &s, err);
	if (rc)
		return rc;
	v->space = s;
	b.iommufd = s->fd;
	if (ioctl(v->fd, PTDM_VFIO_DEVICE_BIND_IOMMUFD, &b)) {
		int e = errno;
		char list[256], one[16];

		if (e == EBUSY && group_blockers(v->group_id, list,
						 sizeof(list), one) > 0)
			return not_viable_error(bdf, v->group_id, err);
		if (e == EBUSY)
			return ptdm_errf(err, -e,
					 "%s: VFIO_DEVICE_BIND_IOMMUFD: busy: "
					 "another process (a VMM or another "
					 "ptdm) has the device or its IOMMU "
					 "group open", bdf);
		return ptdm_errf(err, -e, "%s: VFIO_DEVICE_BIND_IOMMUFD: %s",
				 bdf, strerror(e));
	}
	v->devid = b.out_devid;
	a.pt_id = s->ioas;
	if (ioctl(v->fd, PTDM_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a))
		return ptdm_errf(err, -errno,
				 "%s: attaching to IOAS %u of space \"%s\": %s",
				 bdf, s->ioas, name, strerror(errno));
	rc = space_iommufd_info(s);
	if (rc)
		return ptdm_errf(err, rc, "%s: IOMMU_IOAS_IOVA_RANGES: %s",
				 bdf, strerror(-rc));
	v->cdev = true;
	return 0;
}

static int open_group_dev(struct vfio_dev *v, const char *name,
			  struct ptdm_err *err)
{
	const char *bdf = v->h.bdf;
	int rc = group_get(bdf, v->group_id, name, &v->group, err);

	if (rc)
		return rc;
	v->space = v->group->space;
	v->fd = ioctl(v->group->fd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (v->fd < 0) {
		int e = errno;

		v->fd = -1;
		if (e == EBUSY)
			return ptdm_errf(err, -e,
					 "%s: VFIO_GROUP_GET_DEVICE_FD: the "
					 "device is busy (open elsewhere?)",
					 bdf);
		return ptdm_errf(err, -e, "%s: VFIO_GROUP_GET_DEVICE_FD: %s",
				 bdf, strerror(e));
	}
	return 0;
}

/* Undo what open did so far (called with vfio_mu held). */
static void release(struct vfio_dev *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	if (v->group)
		group_put(v->group);
	else if (v->space)
		space_put(v->space);
	v->group = NULL;
	v->space = NULL;
}

int vfio_open_space(struct host_dev **out, const char *bdf_in,
		    const char *space, struct ptdm_err *err)
{
	char bdf[16], node[PATH_MAX];
	struct vfio_dev *v;
	int gid = -1, rc;

	if (!bdf_in || canon_bdf(bdf_in, bdf))
		return ptdm_errf(err, -EINVAL,
				 "\"%s\": not a PCI address (want "
				 "DDDD:BB:DD.F, e.g. 0000:01:00.0)",
				 bdf_in ? bdf_in : "");
	if (!space || !space[0] || strlen(space) >= sizeof(spaces->name))
		return ptdm_errf(err, -EINVAL,
				 "%s: DMA space name \"%s\": want 1 to 31 "
				 "characters", bdf, space ? space : "");
	pthread_mutex_lock(&vfio_mu);
	for (v = devs; v; v = v->next)
		if (!strcmp(v->h.bdf, bdf)) {
			pthread_mutex_unlock(&vfio_mu);
			return ptdm_errf(err, -EBUSY, "%s: already opened by "
					 "this process", bdf);
		}
	rc = check_sysfs(bdf, &gid, err);
	if (rc)
		goto out;
	v = calloc(1, sizeof(*v));
	if (!v) {
		rc = ptdm_errf(err, -ENOMEM, "%s: out of memory", bdf);
		goto out;
	}
	v->fd = -1;
	v->group_id = gid;
	v->h.ops = &vfio_ops;
	v->last_reset = "none";
	snprintf(v->h.name, sizeof(v->h.name), "%s", bdf);
	snprintf(v->h.bdf, sizeof(v->h.bdf), "%s", bdf);
	if (want_cdev(bdf, node, sizeof(node)))
		rc = open_cdev(v, node, space, err);
	else
		rc = open_group_dev(v, space, err);
	if (!rc)
		rc = dev_setup(v, err);
	if (rc) {
		release(v);
		free(v);
		goto out;
	}
	v->next = devs;
	devs = v;
	*out = &v->h;
out:
	pthread_mutex_unlock(&vfio_mu);
	return rc;
}

int vfio_open(struct host_dev **out, const char *bdf, struct ptdm_err *err)
{
	return vfio_open_space(out, bdf, "default", err);
}

/* ---- host_ops ---- */

static int vfio_cfg_read(struct host_dev *h, unsigned off, void *buf,
			 size_t len)
{
	return cfg_rw(to_vfio(h), off, buf, len, false);
}

static int vfio_cfg_write(struct host_dev *h, unsigned off, const void *buf,
			  size_t len)
{
	return cfg_rw(to_vfio(h), off, (void *)buf, len, true);
}

static bool wins_cover(const struct ptdm_vfio_area *win, size_t nwin,
		       uint64_t off, uint64_t len)
{
	for (size_t i = 0; i < nwin; i++)
		if (off >= win[i].offset &&
		    off - win[i].offset <= win[i].size &&
		    len <= win[i].size - (off - win[i].offset))
			return true;
	return false;
}

/* An aligned access through the mapping, if the BAR has one there. */
static bool map_access(struct vfio_dev *v, int bar, uint64_t off, void *buf,
		       size_t len, bool write)
{
	const struct bar_mapping *m;
	volatile void *p;

	if (bar < 0 || bar >= PTDM_NUM_BARS)
		return false;
	m = &v->maps[bar];
	if (!m->base || (len != 1 && len != 2 && len != 4 && len != 8) ||
	    off % len || !wins_cover(m->win, m->nwin, off, len))
		return false;
	p = (volatile char *)m->base + off;
	switch (len) {
	case 1:
		if (write)
			*(volatile uint8_t *)p = *(const uint8_t *)buf;
		else
			*(uint8_t *)buf = *(volatile uint8_t *)p;
		break;
	case 2: {
		uint16_t x;

		if (write) {
			memcpy(&x, buf, 2);
			*(volatile uint16_t *)p = x;
		} else {
			x = *(volatile uint16_t *)p;
			memcpy(buf, &x, 2);
		}
		break;
	}
	case 4: {
		uint32_t x;

		if (write) {
			memcpy(&x, buf, 4);
			*(volatile uint32_t *)p = x;
		} else {
			x = *(volatile uint32_t *)p;
			memcpy(buf, &x, 4);
		}
		break;
	}
	default: {
		uint64_t x;

		if (write) {
			memcpy(&x, buf, 8);
			*(volatile uint64_t *)p = x;
		} else {
			x = *(volatile uint64_t *)p;
			memcpy(buf, &x, 8);
		}
		break;
	}
	}
	return true;
}

static int bar_rw(struct host_dev *h, int bar, uint64_t off, void *buf,
		  size_t len, bool write)
{
	struct vfio_dev *v = to_vfio(h);
	const struct ptdm_vfio_region *r;

	if (bar < 0 || bar > PTDM_ROM_INDEX)
		return -EINVAL;
	if (write && bar == PTDM_ROM_INDEX)
		return -EPERM;
	r = &v->reg[bar];
	if (!r->size || h->bars[bar].kind == HOST_BAR_NONE ||
	    h->bars[bar].kind == HOST_BAR_MEM64_HI)
		return -ENXIO;
	if (off > r->size || len > r->size - off)
		return -ERANGE;
	if (map_access(v, bar, off, buf, len, write)) {
		__atomic_fetch_add(&v->n_mapped, 1, __ATOMIC_RELAXED);
		return 0;
	}
	__atomic_fetch_add(&v->n_trapped, 1, __ATOMIC_RELAXED);
	return fd_rw(v->fd, r->offset + off, buf, len, write);
}

static int vfio_bar_read(struct host_dev *h, int bar, uint64_t off, void *buf,
			 size_t len)
{
	return bar_rw(h, bar, off, buf, len, false);
}

static int vfio_bar_write(struct host_dev *h, int bar, uint64_t off,
			  const void *buf, size_t len)
{
	return bar_rw(h, bar, off, (void *)buf, len, true);
}

/* The pages of bar that hold the MSI-X table or PBA, as up to 2 holes. */
static size_t msix_holes(const struct vfio_dev *v, int bar,
			 struct ptdm_vfio_area hole[2])
{
	uint64_t pg = page_size();
	size_t n = 0;

	if (!v->msix.present)
		return 0;
	if (v->msix.table_bar == bar) {
		hole[n].offset = round_down(v->msix.table_off, pg);
		hole[n].size = round_up(v->msix.table_off + v->msix.table_len,
					pg) - hole[n].offset;
		n++;
	}
	if (v->msix.pba_bar == bar) {
		hole[n].offset = round_down(v->msix.pba_off, pg);
		hole[n].size = round_up(v->msix.pba_off + v->msix.pba_len, pg) -
			       hole[n].offset;
		n++;
	}
	if (n == 2 && hole[1].offset < hole[0].offset) {
		struct ptdm_vfio_area t = hole[0];

		hole[0] = hole[1];
		hole[1] = t;
	}
	return n;
}

/*
 * The windows of bar that may be mapped: the kernel's areas (the whole BAR
 * without a sparse capability) minus the MSI-X pages, page aligned.
 * Returns a malloc'ed array or NULL with *n 0 when nothing is mappable.
 */
static struct ptdm_vfio_area *bar_windows(const struct vfio_dev *v, int bar,
					  size_t *n, int *rc)
{
	const struct ptdm_vfio_region *r = &v->reg[bar];
	struct ptdm_vfio_area whole = { 0, r->size }, hole[2], *win;
	const struct ptdm_vfio_area *areas = r->sparse ? r->areas : &whole;
	size_t nareas = r->sparse ? r->nr_areas : 1;
	size_t nholes = msix_holes(v, bar, hole), cnt = 0;
	uint64_t pg = page_size();

	*n = 0;
	*rc = 0;
	win = calloc(nareas * (nholes + 1) + 1, sizeof(*win));
	if (!win) {
		*rc = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < nareas; i++) {
		uint64_t at = round_up(areas[i].offset, pg);
		uint64_t end = round_down(areas[i].offset + areas[i].size, pg);

		for (size_t j = 0; j <= nholes && at < end; j++) {
			uint64_t stop = j < nholes ? hole[j].offset : end;

			if (stop > end)
				stop = end;
			if (stop > at) {
				win[cnt].offset = at;
				win[cnt].size = stop - at;
				cnt++;
			}
			if (j < nholes &&
			    hole[j].offset + hole[j].size > at)
				at = hole[j].offset + hole[j].size;
		}
	}
	if (!cnt) {
		free(win);
		return NULL;
	}
	*n = cnt;
	return win;
}

static int vfio_bar_fd(struct host_dev *h, int bar, uint64_t *offset)
{
	struct vfio_dev *v = to_vfio(h);
	struct ptdm_vfio_area hole[2], *win;
	const struct ptdm_vfio_region *r;
	size_t nwin, nholes;
	uint64_t at = 0;
	int rc;

	if (bar < 0 || bar >= PTDM_NUM_BARS)
		return -ENOTSUP;
	r = &v->reg[bar];
	if (!r->size || !(r->flags & VFIO_REGION_INFO_FLAG_MMAP) ||
	    h->bars[bar].kind == HOST_BAR_IO)
		return -ENOTSUP;
	/*
	 * A front end maps everything but the MSI-X table and PBA: only hand
	 * the fd out if the kernel allows exactly that much (or more).
	 */
	win = bar_windows(v, bar, &nwin, &rc);
	if (!win)
		return rc ? rc : -ENOTSUP;
	nholes = msix_holes(v, bar, hole);
	for (size_t i = 0; i <= nholes; i++) {
		uint64_t stop = i < nholes ? hole[i].offset
					   : round_up(r->size, page_size());

		if (stop > at && !wins_cover(win, nwin, at, stop - at)) {
			free(win);
			return -ENOTSUP;
		}
		if (i < nholes && hole[i].offset + hole[i].size > at)
			at = hole[i].offset + hole[i].size;
	}
	free(win);
	*offset = r->offset;
	return v->fd;
}

/* ---- interrupts ---- */

static int set_irqs(struct vfio_dev *v, uint32_t flags, unsigned index,
		    unsigned start, unsigned count, const int32_t *fds)
{
	size_t data = (flags & VFIO_IRQ_SET_DATA_EVENTFD) ? count * 4u : 0;
	struct vfio_irq_set *s = calloc(1, sizeof(*s) + data);
	int rc = 0;

	if (!s)
		return -ENOMEM;
	s->argsz = (uint32_t)(sizeof(*s) + data);
	s->flags = flags;
	s->index = index;
	s->start = start;
	s->count = count;
	if (data)
		memcpy(s->data, fds, data);
	if (ioctl(v->fd, VFIO_DEVICE_SET_IRQS, s))
		rc = -errno;
	free(s);
	return rc;
}

static const char *irq_name(unsigned index)
{
	static const char *const names[] = { "INTx", "MSI", "MSI-X", "ERR",
					     "REQ" };

	return index < NUM_IRQ_INDEX ? names[index] : "?";
}

static int irq_off(struct vfio_dev *v, unsigned index)
{
	struct irq_state *st = &v->irq[index];
	int rc;

	if (!st->nvec)
		return 0;
	rc = set_irqs(v, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		      index, 0, 0, NULL);
	if (rc)
		return rc;
	st->nvec = 0;
	st->intx_unmask_fd = false;
	for (uint32_t i = 0; st->fds && i < st->info.count; i++)
		st->fds[i] = -1;
	return 0;
}

int vfio_irq_info(struct host_dev *h, unsigned index,
		  struct ptdm_vfio_irq *out)
{
	struct vfio_dev *v = to_vfio(h);

	if (!v || index >= NUM_IRQ_INDEX || index >= v->info.num_irqs)
		return -EINVAL;
	out->index = index;
	out->flags = v->irq[index].info.flags;
	out->count = v->irq[index].info.count;
	out->enabled = v->irq[index].nvec;
	return 0;
}

int vfio_set_irq_eventfds(struct host_dev *h, unsigned index, unsigned start,
			  unsigned count, const int *fds, struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	struct irq_state *st;
	uint32_t newn, flags;
	int32_t *all;
	int rc;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (index >= NUM_IRQ_INDEX || index >= v->info.num_irqs)
		return ptdm_errf(err, -EINVAL, "%s: no IRQ index %u", h->name,
				 index);
	st = &v->irq[index];
	if (!count) {
		rc = irq_off(v, index);
		return rc ? ptdm_errf(err, rc, "%s: turning %s off: %s",
				      h->name, irq_name(index), strerror(-rc))
			  : 0;
	}
	if (!st->info.count)
		return ptdm_errf(err, -EOPNOTSUPP, "%s: the device has no %s "
				 "interrupt", h->name, irq_name(index));
	if (!(st->info.flags & VFIO_IRQ_INFO_EVENTFD))
		return ptdm_errf(err, -EOPNOTSUPP, "%s: %s cannot signal an "
				 "eventfd", h->name, irq_name(index));
	if (start >= st->info.count || count > st->info.count - start)
		return ptdm_errf(err, -EINVAL,
				 "%s: %s vectors %u..%u: the device has %u",
				 h->name, irq_name(index), start,
				 start + count - 1, st->info.count);
	if (!st->fds) {
		st->fds = malloc(st->info.count * sizeof(*st->fds));
		if (!st->fds)
			return ptdm_errf(err, -ENOMEM, "%s: out of memory",
					 h->name);
		for (uint32_t i = 0; i < st->info.count; i++)
			st->fds[i] = -1;
	}
	if (index <= VFIO_PCI_MSIX_IRQ_INDEX) {
		/* INTx, MSI and MSI-X exclude each other */
		for (unsigned o = 0; o <= VFIO_PCI_MSIX_IRQ_INDEX; o++) {
			if (o == index)
				continue;
			rc = irq_off(v, o);
			if (rc)
				return ptdm_errf(err, rc, "%s: turning %s off "
						 "before enabling %s: %s",
						 h->name, irq_name(o),
						 irq_name(index), strerror(-rc));
		}
	}
	flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	newn = start + count > st->nvec ? start + count : st->nvec;
	if (!st->nvec || newn == st->nvec ||
	    !(st->info.flags & VFIO_IRQ_INFO_NORESIZE)) {
		rc = set_irqs(v, flags, index, start, count,
			      (const int32_t *)fds);
		if (!rc) {
			memcpy(st->fds + start, fds, count * sizeof(*fds));
			if (!st->nvec)
				for (uint32_t i = 0; i < start; i++)
					st->fds[i] = -1;
			st->nvec = newn;
			return 0;
		}
		if (rc != -EINVAL || !st->nvec || newn == st->nvec)
			return ptdm_errf(err, rc, "%s: routing %s vectors "
					 "%u..%u to eventfds: %s", h->name,
					 irq_name(index), start,
					 start + count - 1, strerror(-rc));
	}
	/* grow an index the kernel cannot resize: off, then on with all */
	all = malloc(newn * sizeof(*all));
	if (!all)
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", h->name);
	memcpy(all, st->fds, newn * sizeof(*all));
	memcpy(all + start, fds, count * sizeof(*fds));
	rc = set_irqs(v, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		      index, 0, 0, NULL);
	if (!rc) {
		rc = set_irqs(v, flags, index, 0, newn, all);
		if (rc) {
			/* back to what was there */
			int rb = set_irqs(v, flags, index, 0, st->nvec,
					  st->fds);

			if (rb) {
				st->nvec = 0;
				for (uint32_t i = 0; i < st->info.count; i++)
					st->fds[i] = -1;
			}
		}
	}
	if (rc) {
		free(all);
		return ptdm_errf(err, rc, "%s: growing %s to %u vectors: %s",
				 h->name, irq_name(index), newn, strerror(-rc));
	}
	memcpy(st->fds, all, newn * sizeof(*all));
	st->nvec = newn;
	free(all);
	return 0;
}

int vfio_irq_unmask_intx(struct host_dev *h)
{
	struct vfio_dev *v = to_vfio(h);

	if (!v || v->info.num_irqs <= VFIO_PCI_INTX_IRQ_INDEX)
		return -EINVAL;
	if (!v->irq[VFIO_PCI_INTX_IRQ_INDEX].nvec)
		return -ENOTCONN;
	return set_irqs(v, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL);
}

int vfio_set_intx_unmask_eventfd(struct host_dev *h, int fd,
				 struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	int32_t f = fd;
	int rc;

	if (!v || v->info.num_irqs <= VFIO_PCI_INTX_IRQ_INDEX)
		return ptdm_errf(err, -EINVAL, "not a VFIO device with INTx");
	if (!v->irq[VFIO_PCI_INTX_IRQ_INDEX].nvec)
		return ptdm_errf(err, -ENOTCONN, "%s: INTx is off: route it "
				 "to an eventfd first", h->name);
	rc = set_irqs(v, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
		      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &f);
	if (rc)
		return ptdm_errf(err, rc, "%s: INTx unmask eventfd: %s",
				 h->name, strerror(-rc));
	v->irq[VFIO_PCI_INTX_IRQ_INDEX].intx_unmask_fd = fd >= 0;
	return 0;
}

/* ---- reset ---- */

static void master_off(struct vfio_dev *v)
{
	uint16_t cmd;

	if (cfg_rw(v, PCI_COMMAND, &cmd, 2, false)) {
		ptdm_log(PTDM_LOG_WARN, "%s: cannot read COMMAND to turn bus "
			 "mastering off", v->h.name);
		return;
	}
	if (!(le16toh(cmd) & PCI_COMMAND_MASTER))
		return;
	cmd = htole16(le16toh(cmd) & ~PCI_COMMAND_MASTER);
	if (cfg_rw(v, PCI_COMMAND, &cmd, 2, true))
		ptdm_log(PTDM_LOG_WARN, "%s: cannot turn bus mastering off",
			 v->h.name);
}


static int hot_reset(struct vfio_dev *v)
{
	struct vfio_pci_hot_reset_info init = { .argsz = sizeof(init) };
	struct vfio_pci_hot_reset none = { .argsz = sizeof(none) };
	struct vfio_pci_hot_reset_info *info;
	struct vfio_pci_hot_reset *hr;
	uint32_t owned;
	size_t sz;
	int rc, nfd = 0;

	/* too small on purpose: the kernel says how many (ENOSPC) */
	if (ioctl(v->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &init)) {
		if (errno == ENODEV || errno == ENOTTY)
			return -ENOTTY; /* no bus or slot reset here */
		if (errno != ENOSPC)
			return -errno;
	}
	if (!init.count)
		return -ENOTTY;
	if (init.count > 256)
		return -E2BIG;
	sz = sizeof(*info) + init.count * sizeof(info->devices[0]);
	info = calloc(1, sz);
	if (!info)
		return -ENOMEM;
	info->argsz = (uint32_t)sz;
	if (ioctl(v->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info)) {
		rc = errno == ENODEV ? -ENOTTY : -errno;
		free(info);
		return rc;
	}
	if (v->cdev) {
		/* iommufd proves ownership: an empty group fd array */
		owned = info->flags & PTDM_VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
		free(info);
		if (!owned)
			return -ENOTTY;
		master_off(v);
		return ioctl(v->fd, VFIO_DEVICE_PCI_HOT_RESET, &none) ? -errno
								      : 0;
	}
	hr = calloc(1, sizeof(*hr) + info->count * sizeof(int32_t));
	if (!hr) {
		free(info);
		return -ENOMEM;
	}
	pthread_mutex_lock(&vfio_mu);
	rc = 0;
	for (uint32_t i = 0; i < info->count && !rc; i++) {
		struct group *g = group_find((int)info->devices[i].group_id);
		bool dup = false;

		if (!g) {
			ptdm_log(PTDM_LOG_INFO, "%s: no hot reset: it also "
				 "resets %04x:%02x:%02x.%x of IOMMU group %u, "
				 "which this process does not own", v->h.name,
				 info->devices[i].segment,
				 info->devices[i].bus,
				 DEVFN_SLOT(info->devices[i].devfn),
				 DEVFN_FUNC(info->devices[i].devfn),
				 info->devices[i].group_id);
			rc = -ENOTTY;
			break;
		}
		for (int j = 0; j < nfd; j++)
			dup |= hr->group_fds[j] == g->fd;
		if (!dup)
			hr->group_fds[nfd++] = g->fd;
	}
	if (!rc) {
		hr->argsz = (uint32_t)(sizeof(*hr) + (size_t)nfd * 4);
		hr->count = (uint32_t)nfd;
		master_off(v);
		rc = ioctl(v->fd, VFIO_DEVICE_PCI_HOT_RESET, hr) ? -errno : 0;
	}
	pthread_mutex_unlock(&vfio_mu);
	free(hr);
	free(info);
	return rc;
}

/*
 * The kernel saves config space before a reset and restores it after, so
 * bus mastering would come back on: right before a reset that will happen
 * it is turned off, as QEMU's vfio-pci does, and the device leaves the
 * reset with mastering off, as real hardware does.  (Decode is the core's:
 * it turns it back on.)
 */
static int vfio_reset(struct host_dev *h)
{
	struct vfio_dev *v = to_vfio(h);
	int rc;

	if (v->info.flags & VFIO_DEVICE_FLAGS_RESET) {
		master_off(v);
		if (ioctl(v->fd, VFIO_DEVICE_RESET))
			return -errno;
		v->last_reset = "device";
		return 0;
	}
	rc = hot_reset(v);
	if (!rc)
		v->last_reset = "hot";
	return rc;
}

/* ---- DMA ---- */

static bool iova_allowed(const struct space *s, uint64_t iova, uint64_t last)
{
	if (!s->nranges)
		return true;
	for (size_t i = 0; i < s->nranges; i++)
		if (iova >= s->ranges[i].start && last <= s->ranges[i].last)
			return true;
	return false;
}

static bool owns(const struct dma_map *m, const struct vfio_dev *v)
{
	for (size_t i = 0; i < m->nowners; i++)
		if (m->owners[i] == v)
			return true;
	return false;
}

static int add_owner(struct dma_map *m, struct vfio_dev *v)
{
	struct vfio_dev **o = realloc(m->owners,
				      (m->nowners + 1) * sizeof(*o));

	if (!o)
		return -ENOMEM;
	o[m->nowners++] = v;
	m->owners = o;
	return 0;
}

static void drop_owner(struct dma_map *m, const struct vfio_dev *v)
{
	for (size_t i = 0; i < m->nowners; i++)
		if (m->owners[i] == v) {
			m->owners[i] = m->owners[--m->nowners];
			return;
		}
}

static void remove_map(struct space *s, size_t i)
{
	free(s->maps[i].owners);
	s->maps[i] = s->maps[--s->nmaps];
}

static int dma_map_error(struct vfio_dev *v, int rc, uint64_t iova,
			 uint64_t size, struct ptdm_err *err)
{
	const char *why;

	switch (-rc) {
	case ENOMEM:
		why = "out of locked memory: raise ptdm's locked-memory "
		      "limit (ulimit -l, LimitMEMLOCK=) to the guest's RAM";
		break;
	case ENOSPC:
		why = "too many mappings (vfio_iommu_type1 dma_entry_limit)";
		break;
	case EFAULT:
		why = "the address range is not mapped in this process";
		break;
	case EEXIST:
		why = "the IOVA range is already mapped";
		break;
	default:
		why = strerror(-rc);
		break;
	}
	return ptdm_errf(err, rc, "%s: DMA map [%#llx, %#llx]: %s", v->h.name,
			 (unsigned long long)iova,
			 (unsigned long long)(iova + size - 1), why);
}

int vfio_dma_map(struct host_dev *h, uint64_t iova, void *vaddr, uint64_t size,
		 unsigned flags, struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	uint64_t va = (uint64_t)(uintptr_t)vaddr, pg, last;
	struct dma_map *m;
	struct space *s;
	int rc;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (!size || !flags || flags & ~(PTDM_DMA_READ | PTDM_DMA_WRITE))
		return ptdm_errf(err, -EINVAL, "%s: DMA map: size %#llx, flags "
				 "%#x (want size > 0 and READ and/or WRITE)",
				 h->name, (unsigned long long)size, flags);
	pthread_mutex_lock(&vfio_mu);
	s = v->space;
	pg = s->pgsizes & -s->pgsizes;
	last = iova + size - 1;
	if ((iova | va | size) & (pg - 1)) {
		rc = ptdm_errf(err, -EINVAL, "%s: DMA map iova %#llx vaddr %p "
			       "size %#llx: not aligned to the IOMMU page size "
			       "%#llx", h->name, (unsigned long long)iova,
			       vaddr, (unsigned long long)size,
			       (unsigned long long)pg);
		goto out;
	}
	if (last < iova || va + size - 1 < va) {
		rc = ptdm_errf(err, -EOVERFLOW, "%s: DMA map iova %#llx size "
			       "%#llx wraps around", h->name,
			       (unsigned long long)iova,
			       (unsigned long long)size);
		goto out;
	}
	if (!iova_allowed(s, iova, last)) {
		rc = ptdm_errf(err, -ERANGE, "%s: DMA map [%#llx, %#llx]: "
			       "outside the IOVA ranges the IOMMU accepts (%zu "
			       "ranges, first [%#llx, %#llx]; vfio_iova_ranges "
			       "lists them)", h->name,
			       (unsigned long long)iova,
			       (unsigned long long)last, s->nranges,
			       (unsigned long long)s->ranges[0].start,
			       (unsigned long long)s->ranges[0].last);
		goto out;
	}
	for (size_t i = 0; i < s->nmaps; i++) {
		m = &s->maps[i];
		if (m->iova > last || m->iova + m->size - 1 < iova)
			continue;
		if (m->iova == iova && m->size == size && m->vaddr == va &&
		    m->flags == flags && !owns(m, v)) {
			rc = add_owner(m, v);
			if (rc)
				ptdm_errf(err, rc, "%s: out of memory",
					  h->name);
			goto out;
		}
		rc = ptdm_errf(err, -EEXIST, "%s: DMA map [%#llx, %#llx] "
			       "overlaps [%#llx, %#llx], mapped %s",
			       h->name, (unsigned long long)iova,
			       (unsigned long long)last,
			       (unsigned long long)m->iova,
			       (unsigned long long)(m->iova + m->size - 1),
			       owns(m, v) ? "by this device"
					  : "in the same DMA space by another "
					    "device");
		goto out;
	}
	m = realloc(s->maps, (s->nmaps + 1) * sizeof(*m));
	if (!m) {
		rc = ptdm_errf(err, -ENOMEM, "%s: out of memory", h->name);
		goto out;
	}
	s->maps = m;
	m = &s->maps[s->nmaps];
	memset(m, 0, sizeof(*m));
	if (add_owner(m, v)) {
		rc = ptdm_errf(err, -ENOMEM, "%s: out of memory", h->name);
		goto out;
	}
	if (s->iommufd) {
		struct ptdm_iommu_ioas_map im = {
			.size = sizeof(im),
			.flags = PTDM_IOMMU_IOAS_MAP_FIXED_IOVA |
				 (flags & PTDM_DMA_READ
					  ? PTDM_IOMMU_IOAS_MAP_READABLE : 0) |
				 (flags & PTDM_DMA_WRITE
					  ? PTDM_IOMMU_IOAS_MAP_WRITEABLE : 0),
			.ioas_id = s->ioas,
			.user_va = va,
			.length = size,
			.iova = iova,
		};

		rc = ioctl(s->fd, PTDM_IOMMU_IOAS_MAP, &im) ? -errno : 0;
	} else {
		struct vfio_iommu_type1_dma_map dm = {
			.argsz = sizeof(dm),
			.flags = (flags & PTDM_DMA_READ
					  ? VFIO_DMA_MAP_FLAG_READ : 0) |
				 (flags & PTDM_DMA_WRITE
					  ? VFIO_DMA_MAP_FLAG_WRITE : 0),
			.vaddr = va,
			.iova = iova,
			.size = size,
		};

		rc = ioctl(s->fd, VFIO_IOMMU_MAP_DMA, &dm) ? -errno : 0;
	}
	if (rc) {
		free(m->owners);
		dma_map_error(v, rc, iova, size, err);
		goto out;
	}
	m->iova = iova;
	m->size = size;
	m->vaddr = va;
	m->flags = flags;
	s->nmaps++;
out:
	pthread_mutex_unlock(&vfio_mu);
	return rc;
}

/* Drop v's hold on map i; unmap it when nobody holds it. */
static int release_map(struct space *s, size_t i, struct vfio_dev *v)
{
	struct dma_map *m = &s->maps[i];
	int rc;

	if (m->nowners > 1) {
		drop_owner(m, v);
		return 0;
	}
	rc = kernel_unmap(s, m->iova, m->size);
	if (rc)
		return rc;
	remove_map(s, i);
	return 0;
}

int vfio_dma_unmap(struct host_dev *h, uint64_t iova, uint64_t size,
		   struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	uint64_t last = iova + size - 1;
	struct space *s;
	size_t found = 0;
	int rc = 0;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (!size || last < iova)
		return ptdm_errf(err, -EINVAL, "%s: DMA unmap iova %#llx size "
				 "%#llx: empty or wrapping range", h->name,
				 (unsigned long long)iova,
				 (unsigned long long)size);
	pthread_mutex_lock(&vfio_mu);
	s = v->space;
	for (size_t i = 0; i < s->nmaps; i++) {
		const struct dma_map *m = &s->maps[i];
		uint64_t mlast = m->iova + m->size - 1;

		if (!owns(m, v) || m->iova > last || mlast < iova)
			continue;
		if (m->iova < iova || mlast > last) {
			rc = ptdm_errf(err, -EINVAL, "%s: DMA unmap [%#llx, "
				       "%#llx] would split the mapping [%#llx, "
				       "%#llx]", h->name,
				       (unsigned long long)iova,
				       (unsigned long long)last,
				       (unsigned long long)m->iova,
				       (unsigned long long)mlast);
			goto out;
		}
		found++;
	}
	if (!found) {
		rc = ptdm_errf(err, -ENOENT, "%s: DMA unmap [%#llx, %#llx]: "
			       "this device mapped nothing there", h->name,
			       (unsigned long long)iova,
			       (unsigned long long)last);
		goto out;
	}
	for (size_t i = 0; i < s->nmaps;) {
		const struct dma_map *m = &s->maps[i];
		size_t before = s->nmaps;

		if (!owns(m, v) || m->iova < iova || m->iova > last) {
			i++;
			continue;
		}
		rc = release_map(s, i, v);
		if (rc) {
			ptdm_errf(err, rc, "%s: DMA unmap [%#llx, +%#llx]: %s",
				  h->name, (unsigned long long)m->iova,
				  (unsigned long long)m->size, strerror(-rc));
			goto out;
		}
		if (s->nmaps == before)
			i++; /* still held by another device */
	}
out:
	pthread_mutex_unlock(&vfio_mu);
	return rc;
}

/* ---- BAR mappings ---- */

static void unmap_bar(struct bar_mapping *m)
{
	if (m->base)
		munmap(m->base, m->span);
	free(m->win);
	memset(m, 0, sizeof(*m));
}

static void fill_map_out(const struct bar_mapping *m,
			 struct ptdm_vfio_bar_map *out)
{
	out->base = m->base;
	out->size = m->size;
	out->nwin = m->nwin;
	out->win = m->win;
}

int vfio_bar_mmap(struct host_dev *h, int bar, struct ptdm_vfio_bar_map *out,
		  struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	const struct ptdm_vfio_region *r;
	struct bar_mapping m = { 0 };
	int prot = 0, rc;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (bar < 0 || bar >= PTDM_NUM_BARS || !v->reg[bar].size ||
	    h->bars[bar].kind == HOST_BAR_MEM64_HI)
		return ptdm_errf(err, -EINVAL, "%s: BAR %d is not implemented",
				 h->name, bar);
	if (v->maps[bar].base) {
		fill_map_out(&v->maps[bar], out);
		return 0;
	}
	r = &v->reg[bar];
	if (h->bars[bar].kind == HOST_BAR_IO ||
	    !(r->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return ptdm_errf(err, -EOPNOTSUPP,
				 "%s: BAR %d cannot be mapped (%s; region flags "
				 "%#x): its accesses stay trapped", h->name,
				 bar, h->bars[bar].kind == HOST_BAR_IO
					      ? "an I/O BAR"
					      : "the kernel offers no mmap",
				 r->flags);
	m.win = bar_windows(v, bar, &m.nwin, &rc);
	if (!m.win)
		return rc ? ptdm_errf(err, rc, "%s: out of memory", h->name)
			  : ptdm_errf(err, -EOPNOTSUPP,
				      "%s: BAR %d has no mappable page outside "
				      "the MSI-X table and PBA", h->name, bar);
	m.size = r->size;
	m.span = round_up(r->size, page_size());
	m.base = mmap(NULL, m.span, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m.base == MAP_FAILED) {
		m.base = NULL;
		rc = -errno;
		unmap_bar(&m);
		return ptdm_errf(err, rc, "%s: reserving %#zx bytes for BAR "
				 "%d: %s", h->name, m.span, bar,
				 strerror(-rc));
	}
	if (r->flags & VFIO_REGION_INFO_FLAG_READ)
		prot |= PROT_READ;
	if (r->flags & VFIO_REGION_INFO_FLAG_WRITE)
		prot |= PROT_WRITE;
	for (size_t i = 0; i < m.nwin; i++) {
		void *want = (char *)m.base + m.win[i].offset;
		void *p = mmap(want, m.win[i].size, prot,
			       MAP_SHARED | MAP_FIXED, v->fd,
			       (off_t)(r->offset + m.win[i].offset));

		if (p == MAP_FAILED) {
			rc = -errno;
			ptdm_errf(err, rc, "%s: the kernel refuses to map BAR "
				  "%d [%#llx, +%#llx]: %s; use trapped "
				  "accesses (pread/pwrite) for it", h->name,
				  bar, (unsigned long long)m.win[i].offset,
				  (unsigned long long)m.win[i].size,
				  strerror(-rc));
			unmap_bar(&m);
			return rc;
		}
	}
	v->maps[bar] = m;
	fill_map_out(&v->maps[bar], out);
	return 0;
}

int vfio_bar_munmap(struct host_dev *h, int bar)
{
	struct vfio_dev *v = to_vfio(h);

	if (!v || bar < 0 || bar >= PTDM_NUM_BARS)
		return -EINVAL;
	if (!v->maps[bar].base)
		return -ENOENT;
	unmap_bar(&v->maps[bar]);
	return 0;
}

bool vfio_bar_map_covers(const struct ptdm_vfio_bar_map *m, uint64_t off,
			 uint64_t len)
{
	return m->base && len && wins_cover(m->win, m->nwin, off, len);
}

void vfio_get_stats(struct host_dev *h, struct ptdm_vfio_stats *out)
{
	struct vfio_dev *v = to_vfio(h);

	memset(out, 0, sizeof(*out));
	if (!v)
		return;
	out->mapped = __atomic_load_n(&v->n_mapped, __ATOMIC_RELAXED);
	out->trapped = __atomic_load_n(&v->n_trapped, __ATOMIC_RELAXED);
}

/* ---- information ---- */

int vfio_get_info(struct host_dev *h, struct ptdm_vfio_info *out)
{
	struct vfio_dev *v = to_vfio(h);

	if (!v)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&vfio_mu);
	out->api = v->cdev ? "cdev" : "group";
	out->space = v->space->name;
	out->device_fd = v->fd;
	out->group_id = v->group_id;
	out->group_fd = v->group ? v->group->fd : -1;
	out->container_fd = v->space->fd;
	out->flags = v->info.flags;
	out->num_regions = v->info.num_regions;
	out->num_irqs = v->info.num_irqs;
	out->iova_pgsizes = v->space->pgsizes;
	pthread_mutex_unlock(&vfio_mu);
	out->msix = v->msix.present;
	out->msix_table_bar = v->msix.table_bar;
	out->msix_pba_bar = v->msix.pba_bar;
	out->msix_table_off = v->msix.table_off;
	out->msix_table_len = v->msix.table_len;
	out->msix_pba_off = v->msix.pba_off;
	out->msix_pba_len = v->msix.pba_len;
	out->last_reset = v->last_reset;
	return 0;
}

int vfio_iova_ranges(struct host_dev *h, struct ptdm_vfio_iova_range *out,
		     size_t max)
{
	struct vfio_dev *v = to_vfio(h);
	size_t n;

	if (!v)
		return -EINVAL;
	pthread_mutex_lock(&vfio_mu);
	n = v->space->nranges;
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = v->space->ranges[i];
	pthread_mutex_unlock(&vfio_mu);
	return n > INT_MAX ? INT_MAX : (int)n;
}

int vfio_region_get(struct host_dev *h, unsigned index,
		    struct ptdm_vfio_region *out, struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	int rc;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (index >= v->info.num_regions)
		return ptdm_errf(err, -EINVAL, "%s: no region %u (the device "
				 "has %u)", h->name, index,
				 v->info.num_regions);
	if (index < VFIO_PCI_NUM_REGIONS) {
		*out = v->reg[index];
		return 0;
	}
	rc = region_query(v->fd, index, out);
	if (rc)
		return ptdm_errf(err, rc, "%s: region %u info: %s", h->name,
				 index, strerror(-rc));
	return 0;
}

/* ---- close ---- */

static void vfio_close(struct host_dev *h)
{
	static const unsigned order[] = { VFIO_PCI_REQ_IRQ_INDEX,
					  VFIO_PCI_ERR_IRQ_INDEX,
					  VFIO_PCI_MSIX_IRQ_INDEX,
					  VFIO_PCI_MSI_IRQ_INDEX,
					  VFIO_PCI_INTX_IRQ_INDEX };
	struct vfio_dev *v = to_vfio(h), **pp;
	struct space *s;
	int rc;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i] >= v->info.num_irqs)
			continue;
		rc = irq_off(v, order[i]);
		if (rc)
			ptdm_log(PTDM_LOG_WARN, "%s: turning %s off: %s",
				 h->name, irq_name(order[i]), strerror(-rc));
	}
	master_off(v);
	rc = vfio_reset(h);
	if (rc && rc != -ENOTTY)
		ptdm_log(PTDM_LOG_WARN, "%s: reset at close: %s", h->name,
			 strerror(-rc));
	master_off(v); /* whatever the reset path restored */
	pthread_mutex_lock(&vfio_mu);
	s = v->space;
	for (size_t i = 0; i < s->nmaps;) {
		size_t before = s->nmaps;

		if (!owns(&s->maps[i], v)) {
			i++;
			continue;
		}
		rc = release_map(s, i, v);
		if (rc) {
			ptdm_log(PTDM_LOG_WARN, "%s: DMA unmap [%#llx, +%#llx] "
				 "at close: %s", h->name,
				 (unsigned long long)s->maps[i].iova,
				 (unsigned long long)s->maps[i].size,
				 strerror(-rc));
			drop_owner(&s->maps[i], v);
			if (!s->maps[i].nowners)
				remove_map(s, i);
			continue;
		}
		if (s->nmaps == before)
			i++;
	}
	for (int i = 0; i < PTDM_NUM_BARS; i++)
		unmap_bar(&v->maps[i]);
	for (pp = &devs; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	if (v->cdev && v->fd >= 0) {
		struct ptdm_vfio_detach_pt d = { .argsz = sizeof(d) };

		if (ioctl(v->fd, PTDM_VFIO_DEVICE_DETACH_IOMMUFD_PT, &d))
			ptdm_log(PTDM_LOG_WARN, "%s: detaching from IOAS %u: "
				 "%s", h->name, s->ioas, strerror(errno));
	}
	release(v);
	pthread_mutex_unlock(&vfio_mu);
	for (unsigned i = 0; i < NUM_IRQ_INDEX; i++)
		free(v->irq[i].fds);
	free(v);
}

/*
 * host_ops wrappers for front ends and owners: the same calls as above,
 * with the sentence a person reads logged (rate-limited: a VMM can repeat
 * any of them) and the errno returned.
 */
static int vfio_host_irq_set(struct host_dev *h, enum host_irq_kind kind,
			     unsigned start, unsigned count, const int *fds)
{
	struct ptdm_err err = { "" };
	int rc = vfio_set_irq_eventfds(h, (unsigned)kind, start, count, fds,
				       &err);

	if (rc)
		ptdm_log_ratelimited(&to_vfio(h)->rl, PTDM_LOG_WARN, "%s",
				     err.msg);
	return rc;
}

static int vfio_host_intx_unmask_fd(struct host_dev *h, int fd)
{
	struct ptdm_err err = { "" };
	int rc = vfio_set_intx_unmask_eventfd(h, fd, &err);

	if (rc)
		ptdm_log_ratelimited(&to_vfio(h)->rl, PTDM_LOG_WARN, "%s",
				     err.msg);
	return rc;
}

static int vfio_host_irq_count(struct host_dev *h, enum host_irq_kind kind,
			       unsigned *count)
{
	struct ptdm_vfio_irq vi;
	int rc = vfio_irq_info(h, (unsigned)kind, &vi);

	if (rc)
		return rc;
	*count = vi.count;
	return 0;
}

static int vfio_host_dma_map(struct host_dev *h, uint64_t iova, void *vaddr,
			     uint64_t size, unsigned prot)
{
	struct ptdm_err err = { "" };
	int rc = vfio_dma_map(h, iova, vaddr, size, prot, &err);

	if (rc)
		ptdm_log_ratelimited(&to_vfio(h)->rl, PTDM_LOG_WARN, "%s",
				     err.msg);
	return rc;
}

static int vfio_host_dma_unmap(struct host_dev *h, uint64_t iova,
			       uint64_t size)
{
	struct ptdm_err err = { "" };
	int rc = vfio_dma_unmap(h, iova, size, &err);

	if (rc)
		ptdm_log_ratelimited(&to_vfio(h)->rl, PTDM_LOG_WARN, "%s",
				     err.msg);
	return rc;
}

static const struct host_ops vfio_ops = {
	.name = "vfio",
	.cfg_read = vfio_cfg_read,
	.cfg_write = vfio_cfg_write,
	.bar_read = vfio_bar_read,
	.bar_write = vfio_bar_write,
	.reset = vfio_reset,
	.bar_fd = vfio_bar_fd,
	.irq_set = vfio_host_irq_set,
	.intx_unmask = vfio_irq_unmask_intx,
	.intx_unmask_fd = vfio_host_intx_unmask_fd,
	.irq_count = vfio_host_irq_count,
	.dma_map = vfio_host_dma_map,
	.dma_unmap = vfio_host_dma_unmap,
	/* dirty tracking and migration: issue #12 */
	.close = vfio_close,
};
