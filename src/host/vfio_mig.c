/*
 * vfio_mig.c - migration v2 and device DMA logging of a VFIO device, as
 * the kernel defines them (include/uapi/linux/vfio.h), behind
 * host_ops.mig_* and host_ops.dirty_*:
 *
 *   VFIO_DEVICE_FEATURE_MIGRATION (GET)   what the driver offers
 *                                         (STOP_COPY, P2P, PRE_COPY);
 *                                         vfio-pci itself: ENOTTY
 *   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE  one arc; the kernel hands a
 *                                         data fd entering STOP_COPY,
 *                                         PRE_COPY or RESUMING, read()
 *                                         or write() it for the stream
 *   VFIO_DEVICE_FEATURE_MIG_DATA_SIZE (9) the stop-copy estimate (6.2+;
 *                                         6.1 answers ENOTTY)
 *   VFIO_DEVICE_FEATURE_DMA_LOGGING_*     the device's own DMA logging
 *                                         (the driver's log_ops; else
 *                                         ENOTTY)
 *
 * When the driver cannot log its device's DMA, dirty_start says -ENOTSUP
 * and ptdm refuses DMA logging: the VMM must then treat everything the
 * device may write as dirty.  Type1's VFIO_IOMMU_DIRTY_PAGES is not used
 * as a fallback: on Debian's 6.1 and 6.12 it reports every mapped page
 * dirty on every read (tests/vm/README.md), which is the same answer a
 * VMM gets from "refused" without ptdm pinning and walking a bitmap of
 * all of guest memory on each report.
 *
 * The data fd is the backend's: replaced when the kernel hands a new one,
 * closed when the device leaves the saving and resuming states, and at
 * close.  A failed SET leaves the kernel in some state on the path; the
 * backend asks which, and says -EIO when it is ERROR.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "host/vfio_priv.h"
#include "util/fileio.h"

#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2) /* Linux 6.2 */
#endif
#define FEAT_MIG_DATA_SIZE 9 /* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, 6.2 */
#define MIG_PRE_COPY 6
#define MIG_PRE_COPY_P2P 7
#define LOG_MAX_RANGES 1024u

/* One VFIO_DEVICE_FEATURE ioctl: flags, data in and out (dlen bytes). */
static int feature(struct vfio_dev *v, uint32_t flags, void *data, size_t dlen)
{
	/* the header, then its data (no variable-sized member mid-struct) */
	uint64_t q[(sizeof(struct vfio_device_feature) + 32) / 8];
	struct vfio_device_feature *f = (struct vfio_device_feature *)q;
	uint8_t *qdata = (uint8_t *)q + sizeof(*f);

	if (dlen > sizeof(q) - sizeof(*f))
		return -EINVAL;
	memset(q, 0, sizeof(q));
	f->argsz = (uint32_t)(sizeof(*f) + dlen);
	f->flags = flags;
	if (dlen)
		memcpy(qdata, data, dlen);
	if (ioctl(v->fd, VFIO_DEVICE_FEATURE, q))
		return -errno;
	if (dlen)
		memcpy(data, qdata, dlen);
	return 0;
}

static int not_offered(int rc)
{
	return rc == -ENOTTY ? -ENOTSUP : rc;
}

int vfio_mig_flags(struct host_dev *h, uint64_t *flags)
{
	struct vfio_dev *v = to_vfio(h);
	struct vfio_device_feature_migration m = { 0 };
	int rc;

	if (!v)
		return -EINVAL;
	rc = feature(v, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
		     &m, sizeof(m));
	if (rc)
		return not_offered(rc);
	*flags = m.flags;
	return 0;
}

static bool has_data_fd(uint32_t s)
{
	return s == VFIO_DEVICE_STATE_STOP_COPY ||
	       s == VFIO_DEVICE_STATE_RESUMING || s == MIG_PRE_COPY ||
	       s == MIG_PRE_COPY_P2P;
}

static int get_state(struct vfio_dev *v, uint32_t *state)
{
	struct vfio_device_feature_mig_state st = { 0 };
	int rc = feature(v, VFIO_DEVICE_FEATURE_GET |
				    VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			 &st, sizeof(st));

	if (!rc)
		*state = st.device_state;
	return rc;
}

int vfio_mig_set_state(struct host_dev *h, uint32_t state)
{
	struct vfio_dev *v = to_vfio(h);
	struct vfio_device_feature_mig_state st = { .device_state = state,
						    .data_fd = -1 };
	uint32_t now = VFIO_DEVICE_STATE_ERROR;
	int rc;

	if (!v)
		return -EINVAL;
	rc = feature(v, VFIO_DEVICE_FEATURE_SET |
				VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		     &st, sizeof(st));
	if (rc) {
		ptdm_log_ratelimited(&v->rl, PTDM_LOG_WARN, "%s: migration "
				     "state %u: %s", h->name, state,
				     strerror(-rc));
		if (get_state(v, &now) || now == VFIO_DEVICE_STATE_ERROR)
			return -EIO;
		if (!has_data_fd(now) && v->mig_fd >= 0) {
			close(v->mig_fd);
			v->mig_fd = -1;
		}
		return not_offered(rc);
	}
	if (st.data_fd >= 0) {
		if (v->mig_fd >= 0)
			close(v->mig_fd);
		v->mig_fd = st.data_fd;
	} else if (!has_data_fd(state) && v->mig_fd >= 0) {
		close(v->mig_fd);
		v->mig_fd = -1;
	}
	return 0;
}

int vfio_mig_data_read(struct host_dev *h, void *buf, size_t len, size_t *got)
{
	struct vfio_dev *v = to_vfio(h);
	ssize_t n;

	*got = 0;
	if (!v || v->mig_fd < 0)
		return -EINVAL;
	do
		n = read(v->mig_fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ENOMSG ? 0 : -errno; /* PRE_COPY: none now */
	*got = (size_t)n;
	return 0;
}

int vfio_mig_data_write(struct host_dev *h, const void *buf, size_t len)
{
	struct vfio_dev *v = to_vfio(h);

	if (!v || v->mig_fd < 0)
		return -EINVAL;
	return fileio_write_full(v->mig_fd, buf, len);
}

int vfio_mig_data_size(struct host_dev *h, uint64_t *bytes)
{
	struct vfio_dev *v = to_vfio(h);
	uint64_t n = 0;
	int rc;

	if (!v)
		return -EINVAL;
	rc = feature(v, VFIO_DEVICE_FEATURE_GET | FEAT_MIG_DATA_SIZE, &n,
		     sizeof(n));
	if (rc)
		return not_offered(rc);
	*bytes = n;
	return 0;
}

void vfio_mig_close(struct vfio_dev *v)
{
	if (v->mig_fd >= 0)
		close(v->mig_fd);
	v->mig_fd = -1;
	if (v->logging) {
		(void)feature(v, VFIO_DEVICE_FEATURE_SET |
				      VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
			      NULL, 0);
		v->logging = false;
	}
}

/* ---- device DMA logging ---- */

int vfio_dirty_start(struct host_dev *h, uint64_t page_size,
		     const struct host_dma_range *ranges, size_t n)
{
	struct vfio_dev *v = to_vfio(h);
	struct vfio_device_feature_dma_logging_control c = { 0 };
	struct vfio_device_feature_dma_logging_range *r;
	int rc;

	if (!v)
		return -EINVAL;
	if (!page_size && !ranges && !n) {
		rc = feature(v, VFIO_DEVICE_FEATURE_PROBE |
					VFIO_DEVICE_FEATURE_SET |
					VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			     NULL, 0);
		return not_offered(rc);
	}
	if (!n || n > LOG_MAX_RANGES)
		return -EINVAL;
	r = calloc(n, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r[i].iova = ranges[i].iova;
		r[i].length = ranges[i].size;
	}
	c.page_size = page_size;
	c.num_ranges = (uint32_t)n;
	c.ranges = (uintptr_t)r;
	rc = feature(v, VFIO_DEVICE_FEATURE_SET |
				VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
		     &c, sizeof(c));
	free(r);
	if (!rc)
		v->logging = true;
	return not_offered(rc);
}

int vfio_dirty_report(struct host_dev *h, uint64_t iova, uint64_t size,
		      uint64_t page_size, uint64_t *bitmap)
{
	struct vfio_dev *v = to_vfio(h);
	struct vfio_device_feature_dma_logging_report r = {
		.iova = iova, .length = size, .page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	if (!v)
		return -EINVAL;
	return not_offered(feature(v, VFIO_DEVICE_FEATURE_GET |
					      VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				   &r, sizeof(r)));
}

int vfio_dirty_stop(struct host_dev *h)
{
	struct vfio_dev *v = to_vfio(h);
	int rc;

	if (!v)
		return -EINVAL;
	rc = feature(v, VFIO_DEVICE_FEATURE_SET |
				VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
		     NULL, 0);
	if (!rc)
		v->logging = false;
	return not_offered(rc);
}
