/*
 * vfio.c - the Linux VFIO host backend: the process-wide state, the
 * helpers every concern uses, what tools read about an opened device, and
 * the host_ops table.  The backend is split by concern, one file each,
 * sharing host/vfio_priv.h:
 *   vfio_sysfs.c   checks before /dev is touched: the device exists, has an
 *                  IOMMU group, is bound to vfio-pci and every other device
 *                  of its group is on a vfio driver, pci-stub, pcieport or
 *                  nothing - so the usual mistakes get a sentence naming
 *                  the device, its driver and the fix before any fd exists;
 *   vfio_space.c   DMA address spaces (one type1 container, or one iommufd
 *                  + IOAS) and IOMMU groups;
 *   vfio_open.c    opening a device (type1 group or cdev + iommufd) and
 *                  closing it;
 *   vfio_config.c  config space, the MSI-X location, BAR kinds;
 *   vfio_region.c  regions, trapped BAR accesses, BAR mappings;
 *   vfio_irq.c     interrupts as eventfds;
 *   vfio_reset.c   device and hot reset;
 *   vfio_dma.c     DMA mappings, counted per device;
 *   vfio_mig.c     migration v2 and the device's own DMA logging.
 *
 * Two kernel interfaces:
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
 * DMA address spaces ("spaces") and groups are process-wide, named and
 * reference counted, under one mutex: a second group joins the container
 * of its space, a second device of a group reuses the group fd.  A space's
 * mappings remember which devices hold them, so closing one device never
 * unmaps what another still uses.
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
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "host/vfio_priv.h"

pthread_mutex_t vfio_mu = PTHREAD_MUTEX_INITIALIZER;
char vfio_sys_root[PATH_MAX] = "/sys";

void vfio_set_sysfs_root(const char *root)
{
	snprintf(vfio_sys_root, sizeof(vfio_sys_root), "%s",
		 root ? root : "/sys");
}

bool vfio_is(const struct host_dev *h)
{
	return h && h->ops == &vfio_ops;
}

__attribute__((format(printf, 3, 4)))
int vfio_path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Full pread/pwrite at a device fd offset. */
int vfio_fd_rw(int fd, uint64_t off, void *buf, size_t len, bool write)
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

/*
 * Next capability header at *off inside buf[0, len): copies it to hdr and
 * advances *off, or returns false at the end or on a malformed chain (a
 * pointer outside, backwards, or too many).
 */
bool vfio_cap_next(const void *buf, size_t len, size_t min_off,
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
int vfio_ioctl_sized(int fd, unsigned long req, void **bufp, size_t base,
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

const struct host_ops vfio_ops = {
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
	.dirty_start = vfio_dirty_start,
	.dirty_report = vfio_dirty_report,
	.dirty_stop = vfio_dirty_stop,
	.mig_flags = vfio_mig_flags,
	.mig_set_state = vfio_mig_set_state,
	.mig_data_read = vfio_mig_data_read,
	.mig_data_write = vfio_mig_data_write,
	.mig_data_size = vfio_mig_data_size,
	.vga_rw = vfio_vga_rw, /* when vga_size says the device has one */
	.igd_opregion = vfio_igd_opregion,
	.close = vfio_close,
};
