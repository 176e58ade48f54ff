/*
 * vfio_open.c - a device's life: open through the group or the cdev API
 * (device info, regions, IRQ info, config size, BARs, MSI-X), and close in
 * the XSA-302 order: interrupts off, bus master off, reset when there is
 * one (and master off again: a reset restores COMMAND), DMA unmapped, BARs
 * unmapped, fds closed, group and space released when their last user
 * goes.  Every open error path undoes exactly what it did.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "host/vfio_priv.h"
#include "util/pci.h"

static struct vfio_dev *devs; /* open devices, under vfio_mu */
static enum ptdm_vfio_mode vfio_mode = PTDM_VFIO_AUTO;

void vfio_set_mode(enum ptdm_vfio_mode mode)
{
	vfio_mode = mode;
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
	if (!(v->info.flags & VFIO_DEVICE_FLAGS_RESET)) {
		/* no function reset: a bus reset, if the kernel has one */
		struct vfio_pci_hot_reset_info hi = { .argsz = sizeof(hi) };

		if (ioctl(v->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hi) &&
		    errno != ENOSPC)
			v->h.reset_none = true;
	}
	for (unsigned i = 0; i < VFIO_PCI_NUM_REGIONS &&
			     i < v->info.num_regions; i++) {
		rc = vfio_region_query(v->fd, i, &v->reg[i]);
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
	/* BAR mappings (vfio_bar_mmap, the VMM's mmap of vfio_bar_fd) are in
	 * pages of the system's size: the core rounds trapped ranges to it */
	v->h.page_size = (unsigned)page_size();
	/* the legacy VGA ranges, when vfio-pci offers them (a VGA device,
	 * the kernel built with VFIO_PCI_VGA) */
	if (VFIO_PCI_VGA_REGION_INDEX < v->info.num_regions &&
	    (v->reg[VFIO_PCI_VGA_REGION_INDEX].flags &
	     (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)) ==
		    (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE))
		v->h.vga_size = v->reg[VFIO_PCI_VGA_REGION_INDEX].size;
	rc = vfio_fill_bars(v);
	if (rc)
		return ptdm_errf(err, rc, "%s: reading the BAR registers: %s",
				 bdf, strerror(-rc));
	vfio_find_msix(v);
	return 0;
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
	if (vfio_cdev_node(bdf, node, len))
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
				 vfio_sys_root, bdf);
	v->fd = open(node, O_RDWR | O_CLOEXEC);
	if (v->fd < 0)
		return vfio_open_error(bdf, node, errno, err);
	rc = vfio_iommufd_space_get(bdf, name, &s, err);
	if (rc)
		return rc;
	v->space = s;
	b.iommufd = s->fd;
	if (ioctl(v->fd, PTDM_VFIO_DEVICE_BIND_IOMMUFD, &b)) {
		int e = errno;
		char list[256], one[16];

		if (e == EBUSY && vfio_group_blockers(v->group_id, list,
						      sizeof(list), one) > 0)
			return vfio_not_viable_error(bdf, v->group_id, err);
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
	rc = vfio_space_iommufd_info(s);
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
	int rc = vfio_group_get(bdf, v->group_id, name, &v->group, err);

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
		vfio_group_put(v->group);
	else if (v->space)
		vfio_space_put(v->space);
	v->group = NULL;
	v->space = NULL;
}

int vfio_open_space(struct host_dev **out, const char *bdf_in,
		    const char *space, struct ptdm_err *err)
{
	char bdf[16], node[PATH_MAX];
	struct vfio_dev *v;
	int gid = -1, rc;

	if (!bdf_canon(bdf_in, bdf))
		return ptdm_errf(err, -EINVAL,
				 "\"%s\": not a PCI address (want "
				 "DDDD:BB:DD.F, e.g. 0000:01:00.0)",
				 bdf_in ? bdf_in : "");
	if (!space || !space[0] || strlen(space) >= VFIO_SPACE_NAME_MAX)
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
	rc = vfio_check_sysfs(bdf, &gid, err);
	if (rc)
		goto out;
	v = calloc(1, sizeof(*v));
	if (!v) {
		rc = ptdm_errf(err, -ENOMEM, "%s: out of memory", bdf);
		goto out;
	}
	v->fd = -1;
	v->mig_fd = -1;
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

void vfio_close(struct host_dev *h)
{
	static const unsigned order[] = { VFIO_PCI_REQ_IRQ_INDEX,
					  VFIO_PCI_ERR_IRQ_INDEX,
					  VFIO_PCI_MSIX_IRQ_INDEX,
					  VFIO_PCI_MSI_IRQ_INDEX,
					  VFIO_PCI_INTX_IRQ_INDEX };
	struct vfio_dev *v = to_vfio(h), **pp;
	struct space *s;
	int rc;

	vfio_mig_close(v);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i] >= v->info.num_irqs)
			continue;
		rc = vfio_irq_off(v, order[i]);
		if (rc)
			ptdm_log(PTDM_LOG_WARN, "%s: turning %s off: %s",
				 h->name, vfio_irq_name(order[i]),
				 strerror(-rc));
	}
	vfio_master_off(v);
	rc = vfio_reset(h);
	if (rc && rc != -ENOTTY)
		ptdm_log(PTDM_LOG_WARN, "%s: reset at close: %s", h->name,
			 strerror(-rc));
	vfio_master_off(v); /* whatever the reset path restored */
	pthread_mutex_lock(&vfio_mu);
	s = v->space;
	vfio_dma_release_all(v);
	for (int i = 0; i < PTDM_NUM_BARS; i++)
		vfio_unmap_bar(&v->maps[i]);
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
