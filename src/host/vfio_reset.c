/*
 * vfio_reset.c - reset: VFIO_DEVICE_RESET when the device has one, else a
 * bus or slot hot reset when this process owns every group it touches
 * (type1: their group fds; cdev: iommufd ownership).  Bus mastering goes
 * off right before, as QEMU's vfio-pci does.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "host/vfio_priv.h"

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
		vfio_master_off(v);
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
		struct group *g =
			vfio_group_find((int)info->devices[i].group_id);
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
		vfio_master_off(v);
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
int vfio_reset(struct host_dev *h)
{
	struct vfio_dev *v = to_vfio(h);
	int rc;

	if (v->info.flags & VFIO_DEVICE_FLAGS_RESET) {
		vfio_master_off(v);
		if (ioctl(v->fd, VFIO_DEVICE_RESET))
			return -errno;
		v->last_reset = "device";
		return 0;
	}
	rc = hot_reset(v);
	if (!rc)
		v->last_reset = "hot";
	else if (rc == -ENOTTY)
		vfio_master_off(v); /* no reset: at least its DMA stops */
	return rc;
}
