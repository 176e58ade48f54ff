// SPDX-License-Identifier: GPL-2.0
/*
 * edu_mig.c - a VFIO variant driver for QEMU's edu device (1234:11e8),
 * for ptdm's VM tests only: no Debian kernel ships a migration-capable
 * VFIO driver for a device QEMU can emulate, so this one gives edu
 * migration v2 and device DMA logging.  Everything else is vfio-pci-core.
 *
 * Migration state (one record, struct edu_state): edu's liveness value
 * (0x04), the last factorial input written (0x08, captured here because
 * writing 0x08 starts a computation: the destination recomputes it and
 * checks the result), the factorial-IRQ bit of status (0x20), the
 * interrupt status (0x24, raised again through 0x60 when the destination
 * runs), and the DMA engine's source, destination and count (0x80, 0x88,
 * 0x90; the command register 0x98 cannot be set without starting a DMA,
 * so it is only carried).  edu's 4 KiB DMA buffer is reachable only by
 * the device's own DMA, never by the CPU, so it is not part of the state.
 * RUNNING->STOP waits for a computation or a DMA
 * in flight to finish (edu's DMA timer is 100 ms), so what is saved is
 * quiet.  STOP_COPY hands out the record through a read fd, RESUMING
 * takes it through a write fd and RESUMING->STOP checks it whole before
 * touching the device; a bad one fails the arc and leaves the device and
 * the state (RESUMING, with an empty buffer) as they were.
 *
 * DMA logging: BAR0 is not offered for mmap (region info without the
 * MMAP flag, mmap refused), so every register write comes through
 * .write; a write that starts a DMA towards RAM (0x98, RUN and the
 * EDU->RAM direction) marks the pages [dst, dst + cnt) dirty before the
 * device starts.  log_read_and_clear reports and forgets them; past
 * EDU_MAX_DIRTY pages every page asked about is reported dirty.  Debian's
 * 6.12 has no CONFIG_IOMMUFD_DRIVER, so its vfio core cannot fill a
 * dirty bitmap for any driver (iova_bitmap is a stub): log_ops are set
 * only where the bitmap works, and 6.12 answers ENOTTY.
 *
 * Parameters for the negative cases of the test: mig_flags (0 makes
 * registration fail on both kernels), no_data_size (6.12 refuses a
 * driver without migration_get_data_size).
 */
#include <linux/anon_inodes.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#define EDU_MAGIC 0x4d554445u /* "EDUM" */
#define EDU_VERSION 1u
#define EDU_MAX_DIRTY 256

#define R_LIVE 0x04
#define R_FACT 0x08
#define R_STATUS 0x20
#define R_IRQ_STATUS 0x24
#define R_IRQ_RAISE 0x60
#define R_DMA_SRC 0x80
#define R_DMA_DST 0x88
#define R_DMA_CNT 0x90
#define R_DMA_CMD 0x98
#define ST_COMPUTING 0x01
#define ST_IRQFACT 0x80
#define DMA_RUN 0x1
#define DMA_TO_RAM 0x2

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0) || \
	IS_ENABLED(CONFIG_IOMMUFD_DRIVER)
#define EDU_LOGGING 1
#endif

static uint mig_flags = VFIO_MIGRATION_STOP_COPY;
module_param(mig_flags, uint, 0444);
static bool no_data_size;
module_param(no_data_size, bool, 0444);

struct edu_state {
	u32 magic, version;
	u32 live, fact_in, fact_out, status, irq_status, dma_cmd;
	u64 dma_src, dma_dst, dma_cnt;
};

struct edu_file {
	struct mutex lock;
	bool disabled;
	bool resuming;
	size_t len, pos;
	struct edu_state st;
};

struct edu_dev {
	struct vfio_pci_core_device core; /* first */
	struct mutex lock;
	void __iomem *bar;
	enum vfio_device_mig_state state;
	struct file *save, *resume;
	u32 fact_in;
	u32 pending_irq; /* raised when a resumed device runs */
	bool logging, overflow;
	u64 page_size;
	unsigned int ndirty;
	u64 dirty[EDU_MAX_DIRTY]; /* page numbers */
};

static struct edu_dev *to_edu(struct vfio_device *vdev)
{
	return container_of(vdev, struct edu_dev, core.vdev);
}

/* ---- the data fds ---- */

static int edu_file_release(struct inode *inode, struct file *f)
{
	kfree(f->private_data);
	return 0;
}

static ssize_t edu_file_read(struct file *f, char __user *buf, size_t len,
			     loff_t *pos)
{
	struct edu_file *ef = f->private_data;
	ssize_t n;

	mutex_lock(&ef->lock);
	if (ef->disabled || ef->resuming) {
		n = -ENODEV;
		goto out;
	}
	n = min_t(size_t, len, ef->len - ef->pos);
	if (n && copy_to_user(buf, (u8 *)&ef->st + ef->pos, n)) {
		n = -EFAULT;
		goto out;
	}
	ef->pos += n;
out:
	mutex_unlock(&ef->lock);
	return n;
}

static ssize_t edu_file_write(struct file *f, const char __user *buf,
			      size_t len, loff_t *pos)
{
	struct edu_file *ef = f->private_data;
	ssize_t n;

	mutex_lock(&ef->lock);
	if (ef->disabled || !ef->resuming) {
		n = -ENODEV;
		goto out;
	}
	if (len > sizeof(ef->st) - ef->len) {
		n = -ENOSPC; /* more than any edu state */
		goto out;
	}
	if (copy_from_user((u8 *)&ef->st + ef->len, buf, len)) {
		n = -EFAULT;
		goto out;
	}
	ef->len += len;
	n = len;
out:
	mutex_unlock(&ef->lock);
	return n;
}

static const struct file_operations edu_file_fops = {
	.owner = THIS_MODULE,
	.read = edu_file_read,
	.write = edu_file_write,
	.release = edu_file_release,
};

static struct file *edu_file_new(bool resuming, struct edu_file **out)
{
	struct edu_file *ef = kzalloc(sizeof(*ef), GFP_KERNEL);
	struct file *f;

	if (!ef)
		return ERR_PTR(-ENOMEM);
	mutex_init(&ef->lock);
	ef->resuming = resuming;
	f = anon_inode_getfile("edu_mig", &edu_file_fops, ef,
			       resuming ? O_WRONLY : O_RDONLY);
	if (IS_ERR(f)) {
		kfree(ef);
		return f;
	}
	stream_open(f->f_inode, f);
	*out = ef;
	return f;
}

/* The device no longer hands out or takes data through f. */
static void edu_file_disable(struct file **fp)
{
	struct edu_file *ef;

	if (!*fp)
		return;
	ef = (*fp)->private_data;
	mutex_lock(&ef->lock);
	ef->disabled = true;
	mutex_unlock(&ef->lock);
	fput(*fp);
	*fp = NULL;
}

/* ---- the state machine ---- */

static bool edu_wait_idle(struct edu_dev *e)
{
	for (int i = 0; i < 400; i++) {
		if (!(ioread32(e->bar + R_STATUS) & ST_COMPUTING) &&
		    !(ioread32(e->bar + R_DMA_CMD) & DMA_RUN))
			return true;
		msleep(5);
	}
	return false;
}

static void edu_snapshot(struct edu_dev *e, struct edu_state *st)
{
	memset(st, 0, sizeof(*st));
	st->magic = EDU_MAGIC;
	st->version = EDU_VERSION;
	st->live = ioread32(e->bar + R_LIVE);
	st->fact_in = e->fact_in;
	st->fact_out = ioread32(e->bar + R_FACT);
	st->status = ioread32(e->bar + R_STATUS) & ST_IRQFACT;
	st->irq_status = ioread32(e->bar + R_IRQ_STATUS);
	st->dma_src = ioread32(e->bar + R_DMA_SRC);
	st->dma_dst = ioread32(e->bar + R_DMA_DST);
	st->dma_cnt = ioread32(e->bar + R_DMA_CNT);
	st->dma_cmd = ioread32(e->bar + R_DMA_CMD);
}

/* Check a received state whole, then program the device with it. */
static int edu_load(struct edu_dev *e, struct edu_file *ef)
{
	const struct edu_state *st = &ef->st;
	int rc = 0;

	mutex_lock(&ef->lock);
	if (ef->len != sizeof(*st) || st->magic != EDU_MAGIC ||
	    st->version != EDU_VERSION || (st->status & ~ST_IRQFACT) ||
	    st->dma_cnt > 4096 || st->dma_src >> 32 || st->dma_dst >> 32 ||
	    (st->dma_cmd & DMA_RUN) || st->fact_in > 12) {
		ef->len = 0; /* a fresh stream may come */
		rc = -EINVAL;
		goto out;
	}
	if (!edu_wait_idle(e)) {
		rc = -EBUSY;
		goto out;
	}
	/* the factorial recomputed with its interrupt off: the pending
	 * ones are raised once, when the destination runs */
	iowrite32(0, e->bar + R_STATUS);
	iowrite32(~st->live, e->bar + R_LIVE);
	iowrite32(st->fact_in, e->bar + R_FACT);
	iowrite32(st->dma_src, e->bar + R_DMA_SRC);
	iowrite32(st->dma_dst, e->bar + R_DMA_DST);
	iowrite32(st->dma_cnt, e->bar + R_DMA_CNT);
	if (!edu_wait_idle(e) || ioread32(e->bar + R_FACT) != st->fact_out) {
		rc = -EIO;
		goto out;
	}
	iowrite32(st->status, e->bar + R_STATUS);
	e->fact_in = st->fact_in;
	e->pending_irq = st->irq_status;
out:
	mutex_unlock(&ef->lock);
	return rc;
}

static struct file *edu_step(struct edu_dev *e, enum vfio_device_mig_state to)
{
	enum vfio_device_mig_state from = e->state;
	struct edu_file *ef;
	struct file *f;
	int rc;

	if (from == VFIO_DEVICE_STATE_RUNNING && to == VFIO_DEVICE_STATE_STOP) {
		if (!edu_wait_idle(e))
			return ERR_PTR(-EBUSY);
		return NULL;
	}
	if (from == VFIO_DEVICE_STATE_STOP && to == VFIO_DEVICE_STATE_RUNNING) {
		if (e->pending_irq)
			iowrite32(e->pending_irq, e->bar + R_IRQ_RAISE);
		e->pending_irq = 0;
		return NULL;
	}
	if (from == VFIO_DEVICE_STATE_STOP &&
	    to == VFIO_DEVICE_STATE_STOP_COPY) {
		f = edu_file_new(false, &ef);
		if (IS_ERR(f))
			return f;
		edu_snapshot(e, &ef->st);
		ef->len = sizeof(ef->st);
		get_file(f);
		e->save = f;
		return f;
	}
	if (from == VFIO_DEVICE_STATE_STOP_COPY &&
	    to == VFIO_DEVICE_STATE_STOP) {
		edu_file_disable(&e->save);
		return NULL;
	}
	if (from == VFIO_DEVICE_STATE_STOP &&
	    to == VFIO_DEVICE_STATE_RESUMING) {
		f = edu_file_new(true, &ef);
		if (IS_ERR(f))
			return f;
		get_file(f);
		e->resume = f;
		return f;
	}
	if (from == VFIO_DEVICE_STATE_RESUMING &&
	    to == VFIO_DEVICE_STATE_STOP) {
		rc = edu_load(e, e->resume->private_data);
		if (rc)
			return ERR_PTR(rc);
		edu_file_disable(&e->resume);
		return NULL;
	}
	return ERR_PTR(-EINVAL);
}

static struct file *edu_set_state(struct vfio_device *vdev,
				  enum vfio_device_mig_state new)
{
	struct edu_dev *e = to_edu(vdev);
	struct file *res = NULL;
	int rc;

	mutex_lock(&e->lock);
	while (e->state != new) {
		enum vfio_device_mig_state next;

		rc = vfio_mig_get_next_state(vdev, e->state, new, &next);
		if (rc) {
			res = ERR_PTR(rc);
			break;
		}
		res = edu_step(e, next);
		if (IS_ERR(res))
			break;
		e->state = next;
		if (next != new && res) {
			fput(res); /* only the last arc's fd goes out */
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
	mutex_unlock(&e->lock);
	return res;
}

static int edu_get_state(struct vfio_device *vdev,
			 enum vfio_device_mig_state *state)
{
	struct edu_dev *e = to_edu(vdev);

	mutex_lock(&e->lock);
	*state = e->state;
	mutex_unlock(&e->lock);
	return 0;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
static int edu_data_size(struct vfio_device *vdev, unsigned long *len)
{
	*len = sizeof(struct edu_state);
	return 0;
}
#endif

static const struct vfio_migration_ops edu_mig_ops = {
	.migration_set_state = edu_set_state,
	.migration_get_state = edu_get_state,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	.migration_get_data_size = edu_data_size,
#endif
};

static const struct vfio_migration_ops edu_mig_ops_no_size = {
	.migration_set_state = edu_set_state,
	.migration_get_state = edu_get_state,
};

/* ---- DMA logging ---- */

#ifdef EDU_LOGGING
static int edu_log_start(struct vfio_device *vdev,
			 struct rb_root_cached *ranges, u32 nnodes,
			 u64 *page_size)
{
	struct edu_dev *e = to_edu(vdev);
	int rc = 0;

	mutex_lock(&e->lock);
	if (e->logging) {
		rc = -EBUSY;
	} else {
		if (*page_size < PAGE_SIZE || !is_power_of_2(*page_size))
			*page_size = PAGE_SIZE;
		e->page_size = *page_size;
		e->ndirty = 0;
		e->overflow = false;
		e->logging = true;
	}
	mutex_unlock(&e->lock);
	return rc;
}

static int edu_log_stop(struct vfio_device *vdev)
{
	struct edu_dev *e = to_edu(vdev);

	mutex_lock(&e->lock);
	e->logging = false;
	e->ndirty = 0;
	mutex_unlock(&e->lock);
	return 0;
}

static int edu_log_read(struct vfio_device *vdev, unsigned long iova,
			unsigned long length, struct iova_bitmap *dirty)
{
	struct edu_dev *e = to_edu(vdev);
	unsigned int i, kept = 0;

	mutex_lock(&e->lock);
	if (!e->logging) {
		mutex_unlock(&e->lock);
		return -EINVAL;
	}
	if (e->overflow) {
		iova_bitmap_set(dirty, iova, length);
		mutex_unlock(&e->lock);
		return 0;
	}
	for (i = 0; i < e->ndirty; i++) {
		u64 a = e->dirty[i] * e->page_size;

		if (a >= iova && a - iova < length)
			iova_bitmap_set(dirty, a, e->page_size);
		else
			e->dirty[kept++] = e->dirty[i];
	}
	e->ndirty = kept;
	mutex_unlock(&e->lock);
	return 0;
}

static const struct vfio_log_ops edu_log_ops = {
	.log_start = edu_log_start,
	.log_stop = edu_log_stop,
	.log_read_and_clear = edu_log_read,
};
#endif

/* A DMA towards RAM is about to start: its pages are dirty (e->lock). */
static void edu_mark_dma(struct edu_dev *e)
{
	u64 dst = ioread32(e->bar + R_DMA_DST);
	u64 cnt = ioread32(e->bar + R_DMA_CNT);
	u64 p;

	if (!e->logging || !cnt)
		return;
	for (p = dst / e->page_size; p <= (dst + cnt - 1) / e->page_size; p++) {
		unsigned int i;

		for (i = 0; i < e->ndirty && e->dirty[i] != p; i++)
			;
		if (i < e->ndirty)
			continue;
		if (e->ndirty == EDU_MAX_DIRTY) {
			e->overflow = true;
			return;
		}
		e->dirty[e->ndirty++] = p;
	}
}

/* ---- vfio_device_ops ---- */

static ssize_t edu_write(struct vfio_device *vdev, const char __user *buf,
			 size_t count, loff_t *ppos)
{
	struct edu_dev *e = to_edu(vdev);
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(*ppos);
	u64 off = *ppos & VFIO_PCI_OFFSET_MASK;

	if (index == VFIO_PCI_BAR0_REGION_INDEX && e->bar &&
	    (count == 4 || count == 8)) {
		u64 val = 0;

		if (copy_from_user(&val, buf, count))
			return -EFAULT;
		mutex_lock(&e->lock);
		if (off == R_FACT && !(ioread32(e->bar + R_STATUS) &
				       ST_COMPUTING))
			e->fact_in = (u32)val;
		if (off == R_DMA_CMD && (val & DMA_RUN) && (val & DMA_TO_RAM) &&
		    !(ioread32(e->bar + R_DMA_CMD) & DMA_RUN))
			edu_mark_dma(e);
		mutex_unlock(&e->lock);
	}
	return vfio_pci_core_write(vdev, buf, count, ppos);
}

static long edu_ioctl(struct vfio_device *vdev, unsigned int cmd,
		      unsigned long arg)
{
	long rc = vfio_pci_core_ioctl(vdev, cmd, arg);
	struct vfio_region_info info;
	void __user *uarg = (void __user *)arg;

	if (rc || cmd != VFIO_DEVICE_GET_REGION_INFO)
		return rc;
	/* BAR0 is trapped: every register write passes edu_write */
	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.index == VFIO_PCI_BAR0_REGION_INDEX) {
		info.flags &= ~VFIO_REGION_INFO_FLAG_MMAP;
		if (copy_to_user(uarg, &info, sizeof(info)))
			return -EFAULT;
	}
	return 0;
}

static int edu_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	if (VFIO_PCI_OFFSET_TO_INDEX((u64)vma->vm_pgoff << PAGE_SHIFT) ==
	    VFIO_PCI_BAR0_REGION_INDEX)
		return -EINVAL;
	return vfio_pci_core_mmap(vdev, vma);
}

static int edu_open(struct vfio_device *vdev)
{
	struct edu_dev *e = to_edu(vdev);
	int rc = vfio_pci_core_enable(&e->core);

	if (rc)
		return rc;
	e->bar = pci_iomap(e->core.pdev, 0, 0);
	if (!e->bar) {
		vfio_pci_core_disable(&e->core);
		return -ENOMEM;
	}
	e->state = VFIO_DEVICE_STATE_RUNNING;
	e->fact_in = 0;
	e->pending_irq = 0;
	e->logging = false;
	vfio_pci_core_finish_enable(&e->core);
	return 0;
}

static void edu_close(struct vfio_device *vdev)
{
	struct edu_dev *e = to_edu(vdev);

	mutex_lock(&e->lock);
	edu_file_disable(&e->save);
	edu_file_disable(&e->resume);
	e->logging = false;
	if (e->bar)
		pci_iounmap(e->core.pdev, e->bar);
	e->bar = NULL;
	mutex_unlock(&e->lock);
	vfio_pci_core_close_device(vdev);
}

static int edu_init(struct vfio_device *vdev)
{
	struct edu_dev *e = to_edu(vdev);

	mutex_init(&e->lock);
	vdev->migration_flags = mig_flags;
	vdev->mig_ops = no_data_size ? &edu_mig_ops_no_size : &edu_mig_ops;
#ifdef EDU_LOGGING
	vdev->log_ops = &edu_log_ops;
#endif
	return vfio_pci_core_init_dev(vdev);
}

static const struct vfio_device_ops edu_ops = {
	.name = "edu-mig",
	.init = edu_init,
	.release = vfio_pci_core_release_dev,
	.open_device = edu_open,
	.close_device = edu_close,
	.ioctl = edu_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = edu_write,
	.mmap = edu_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
#endif
};

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_dev *e;
	int rc;

	e = vfio_alloc_device(edu_dev, core.vdev, &pdev->dev, &edu_ops);
	if (IS_ERR(e))
		return PTR_ERR(e);
	dev_set_drvdata(&pdev->dev, &e->core);
	rc = vfio_pci_core_register_device(&e->core);
	if (rc)
		vfio_put_device(&e->core.vdev);
	return rc;
}

static void edu_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(core);
	vfio_put_device(&core->vdev);
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(0x1234, 0x11e8) },
	{}
};
MODULE_DEVICE_TABLE(pci, edu_ids);

/* "vfio" in the name: ptdm takes a driver by that (vfio_sysfs.c) */
static struct pci_driver edu_driver = {
	.name = "edu-vfio-mig",
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
	.err_handler = &vfio_pci_core_err_handlers,
	.driver_managed_dma = true,
};
module_pci_driver(edu_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFIO variant driver for QEMU's edu with migration v2 "
		   "and DMA logging (ptdm VM tests)");
