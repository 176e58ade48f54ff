/*
 * vfu_mig.c - vfio-user DEVICE_FEATURE (migration v2 and DMA logging) and
 * MIG_DATA_READ/WRITE.  Migration has one path for every device: the
 * core's state machine and stream (ptdm_mig_*, src/core/state.c) around
 * the backend's (host_ops.mig_*: an image's blob, a VFIO driver's
 * migration v2).  DMA logging: an image's DMA goes through this front end
 * (vfu_conn_dma_rw), so the 4K pages it writes are recorded here; a
 * device that reaches memory through the host's IOMMU (VFIO) is logged by
 * the host (host_ops.dirty_*: the device's own DMA logging), and when the
 * host cannot log it, DMA logging is refused with ENOTTY, never answered
 * with an empty bitmap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/vfu_priv.h"
#include "ptdm/host.h"

#define FEAT_MASK 0xffffu
#define FEAT_GET (1u << 16)
#define FEAT_SET (1u << 17)
#define FEAT_PROBE (1u << 18)
#define FEAT_MIG_DATA_SIZE 9 /* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, 6.2 */

/* The VMM is gone or reset the device: migration back to RUNNING. */
void vfu_mig_drop(struct vfu_conn *c)
{
	if (c->dev)
		ptdm_mig_reset(c->dev);
}

/* ---- DMA logging ---- */

void vfu_log_drop(struct vfu_conn *c)
{
	struct host_dev *h = c->logging ? vfu_dma_host(c) : NULL;

	if (h) {
		int rc = host_dirty_stop(h);

		if (rc)
			vfu_conn_warn(c, "DMA logging stop", -rc);
	}
	free(c->log_ranges);
	free(c->dirty);
	c->log_ranges = NULL;
	c->dirty = NULL;
	c->nlog = c->ndirty = c->dirty_cap = 0;
	c->logging = c->log_all_dirty = false;
}

static bool logged(const struct vfu_conn *c, uint64_t page)
{
	uint64_t a = page * PAGE;

	if (!c->nlog)
		return true;
	for (unsigned i = 0; i < c->nlog; i++)
		if (a >= c->log_ranges[i].iova &&
		    a - c->log_ranges[i].iova < c->log_ranges[i].len)
			return true;
	return false;
}

/* Index of the first dirty page >= page. */
static unsigned dirty_lower(const struct vfu_conn *c, uint64_t page)
{
	unsigned lo = 0, hi = c->ndirty;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (c->dirty[mid] < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void vfu_log_write(struct vfu_conn *c, uint64_t iova, size_t len)
{
	if (!c->logging || !len)
		return;
	for (uint64_t p = iova / PAGE; p <= (iova + len - 1) / PAGE; p++) {
		unsigned at;

		if (!logged(c, p) || c->log_all_dirty)
			continue;
		at = dirty_lower(c, p);
		if (at < c->ndirty && c->dirty[at] == p)
			continue;
		if (c->ndirty == c->dirty_cap) {
			unsigned cap = c->dirty_cap ? c->dirty_cap * 2 : 256;
			uint64_t *n;

			if (cap > VFU_LOG_MAX_DIRTY ||
			    !(n = realloc(c->dirty, cap * sizeof(*n)))) {
				/* out of room: report everything as dirty */
				c->log_all_dirty = true;
				continue;
			}
			c->dirty = n;
			c->dirty_cap = cap;
		}
		memmove(&c->dirty[at + 1], &c->dirty[at],
			(c->ndirty - at) * sizeof(*c->dirty));
		c->dirty[at] = p;
		c->ndirty++;
	}
}

static bool pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* DMA logging by the host (the device's DMA does not pass through here). */
static int host_log_start(struct vfu_conn *c, struct host_dev *h,
			  uint64_t page, const struct vfu_log_range *r,
			  unsigned n)
{
	struct host_dma_range *ranges;
	unsigned count = n ? n : c->ndma;
	int rc;

	if (!count)
		return -EINVAL; /* "all of it" with nothing mapped */
	ranges = calloc(count, sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	for (unsigned i = 0; i < count; i++) {
		ranges[i].iova = n ? r[i].iova : c->dma[i].iova;
		ranges[i].size = n ? r[i].len : c->dma[i].size;
	}
	rc = host_dirty_start(h, page, ranges, count);
	free(ranges);
	if (rc == PTDM_HOST_ENOTSUP)
		return -ENOTTY;
	return rc;
}

static int log_start(struct vfu_conn *c, struct msg *m, uint32_t dlen)
{
	const uint8_t *d = m->p + 8;
	struct host_dev *h = vfu_dma_host(c);
	uint64_t page;
	uint32_t n;
	int rc;

	if (dlen < 16)
		return -EINVAL;
	memcpy(&page, d, 8);
	memcpy(&n, d + 8, 4);
	if (n > VFU_LOG_MAX_RANGES || dlen != 16 + 16ull * n)
		return -EINVAL;
	if (c->logging)
		return -EBUSY;
	if (n) {
		c->log_ranges = calloc(n, sizeof(*c->log_ranges));
		if (!c->log_ranges)
			return -ENOMEM;
		memcpy(c->log_ranges, d + 16, 16ull * n);
		for (unsigned i = 0; i < n; i++) {
			struct vfu_log_range *r = &c->log_ranges[i];

			if (!r->len || r->iova + r->len < r->iova) {
				vfu_log_drop(c);
				return -EINVAL;
			}
		}
	}
	/* ptdm tracks 4K pages; it says so when asked for another size */
	c->log_page = pow2(page) && page >= PAGE ? page : PAGE;
	if (h) {
		rc = host_log_start(c, h, c->log_page, c->log_ranges, n);
		if (rc) {
			if (rc == -ENOTTY)
				vfu_conn_warn(c, "DMA logging: the host cannot "
					      "track this device's DMA (treat "
					      "everything it may write as "
					      "dirty)", ENOTTY);
			vfu_log_drop(c);
			return rc;
		}
	}
	c->nlog = n;
	c->logging = true;
	memcpy(m->r, m->p, 8 + dlen);
	memcpy(m->r + 8, &c->log_page, 8);
	m->rlen = 8 + dlen;
	return 0;
}

static int log_report(struct vfu_conn *c, struct msg *m, uint32_t dlen,
		      uint32_t argsz)
{
	struct host_dev *h = vfu_dma_host(c);
	uint64_t q[3], bits, words;
	uint64_t *bm;

	if (dlen != 24 || !c->logging)
		return -EINVAL;
	memcpy(q, m->p + 8, 24);
	/* iova, length, page_size: whole pages of a power-of-two size */
	if (!pow2(q[2]) || q[2] < PAGE || !q[1] || q[0] % q[2] || q[1] % q[2] ||
	    q[0] + q[1] < q[0])
		return -EINVAL;
	bits = q[1] / q[2];
	words = (bits + 63) / 64;
	if (words * 8 > VFU_SERVER_MAX_XFER)
		return -E2BIG;
	if (argsz < 8 + 24 + words * 8)
		return -EINVAL;
	bm = (uint64_t *)(m->r + 8 + 24);
	memset(bm, 0, words * 8);
	if (h) {
		int rc = host_dirty_report(h, q[0], q[1], q[2], bm);

		if (rc)
			return rc == PTDM_HOST_ENOTSUP ? -ENOTTY : rc;
	}
	if (!h && c->log_all_dirty) {
		memset(bm, 0xff, words * 8);
		if (bits % 64)
			bm[words - 1] = (1ull << (bits % 64)) - 1;
	}
	if (!h) {
		/* the dirty pages inside the range, one pass; the report
		 * clears what it reports */
		uint64_t first = q[0] / PAGE, last = (q[0] + q[1] - 1) / PAGE;
		unsigned at = dirty_lower(c, first), end = at;

		for (; end < c->ndirty && c->dirty[end] <= last; end++) {
			uint64_t b = (c->dirty[end] * PAGE - q[0]) / q[2];

			bm[b / 64] |= 1ull << (b % 64);
		}
		memmove(&c->dirty[at], &c->dirty[end],
			(c->ndirty - end) * sizeof(*c->dirty));
		c->ndirty -= end - at;
	}
	memcpy(m->r, m->p, 8 + 24);
	argsz = (uint32_t)(8 + 24 + words * 8);
	memcpy(m->r, &argsz, 4);
	m->rlen = argsz;
	return 0;
}

/*
 * Dirty logging by this front end is only honest where every device write
 * passes through ptdm (vfu_conn_dma_rw): image devices.  A VFIO device
 * writes guest memory itself, through the IOMMU: the host logs it, or
 * nothing can.  A sysfs device writes it too and has no host logging: an
 * empty bitmap would make a VMM skip pages the device wrote, so those
 * answer ENOTTY (unsupported) instead.
 */
static bool log_sees_dma(const struct vfu_conn *c)
{
	const struct host_dev *h = ptdm_dev_host(c->dev);

	return h && h->ops && h->ops->name && !strcmp(h->ops->name, "image");
}

/* Can DMA logging be offered at all (PROBE)? */
static int log_probe(struct vfu_conn *c)
{
	struct host_dev *h = vfu_dma_host(c);
	int rc;

	if (!h)
		return 0; /* the device's DMA passes through here */
	rc = host_dirty_start(h, 0, NULL, 0);
	return rc == PTDM_HOST_ENOTSUP ? -ENOTTY : rc;
}

int vfu_h_feature(struct vfu_conn *c, struct msg *m)
{
	uint32_t argsz, flags, idx, dlen = m->len - 8;
	bool get, set, probe;
	uint64_t mflags = 0;
	bool mig;
	int rc;

	memcpy(&argsz, m->p, 4);
	memcpy(&flags, m->p + 4, 4);
	idx = flags & FEAT_MASK;
	get = flags & FEAT_GET;
	set = flags & FEAT_SET;
	probe = flags & FEAT_PROBE;
	if ((flags & ~(FEAT_MASK | FEAT_GET | FEAT_SET | FEAT_PROBE)) ||
	    (get && set && !probe) || (!get && !set && !probe) ||
	    argsz < 8)
		return -EINVAL;
	mig = ptdm_mig_flags(c->dev, &mflags) == 0;
	/* the reply starts as the request; GETs append their data */
	memcpy(m->r, m->p, 8);
	m->rlen = 8;
	if ((idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_START ||
	     idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP ||
	     idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT) &&
	    !log_sees_dma(c) && !vfu_dma_host(c))
		return -ENOTTY; /* nothing sees this device's DMA */
	switch (idx) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
		if (!mig)
			return -ENOTTY;
		if (set)
			return -EINVAL;
		if (probe)
			return 0;
		if (argsz < 16)
			return -EINVAL;
		memcpy(m->r + 8, &mflags, 8);
		m->rlen = 16;
		return 0;
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: {
		uint32_t st[2];

		if (!mig)
			return -ENOTTY;
		if (probe)
			return 0;
		/* everything checked before the state changes */
		if (argsz < 16 || (set && dlen != 8))
			return -EINVAL;
		if (set) {
			memcpy(st, m->p + 8, 8);
			rc = ptdm_mig_set_state(c->dev, st[0]);
			if (rc)
				return rc;
		}
		st[0] = ptdm_mig_state(c->dev);
		st[1] = (uint32_t)-1; /* data_fd: unused in vfio-user */
		memcpy(m->r + 8, st, 8);
		m->rlen = 16;
		return 0;
	}
	case FEAT_MIG_DATA_SIZE: {
		uint64_t bytes = 0;

		if (!mig || set)
			return mig ? -EINVAL : -ENOTTY;
		rc = ptdm_mig_data_size(c->dev, &bytes);
		if (rc)
			return rc == -ENOTSUP ? -ENOTTY : rc;
		if (probe)
			return 0;
		if (argsz < 16)
			return -EINVAL;
		memcpy(m->r + 8, &bytes, 8);
		m->rlen = 16;
		return 0;
	}
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
		if (get)
			return -EINVAL;
		if (probe)
			return log_probe(c);
		return log_start(c, m, dlen);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		if (get)
			return -EINVAL;
		if (probe)
			return log_probe(c);
		if (!c->logging)
			return -EINVAL;
		vfu_log_drop(c);
		return 0;
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		if (set)
			return -EINVAL;
		if (probe)
			return log_probe(c);
		return log_report(c, m, dlen, argsz);
	default:
		return -ENOTTY;
	}
}

int vfu_h_mig_read(struct vfu_conn *c, struct msg *m)
{
	uint32_t q[2];
	size_t n = 0;
	int rc;

	memcpy(q, m->p, 8);
	if (q[1] > VFU_SERVER_MAX_XFER)
		q[1] = VFU_SERVER_MAX_XFER;
	rc = ptdm_mig_read(c->dev, m->r + 8, q[1], &n);
	if (rc)
		return rc;
	q[1] = (uint32_t)n; /* short: the end of the stream (or of pre-copy) */
	q[0] = (uint32_t)(8 + n);
	memcpy(m->r, q, 8);
	m->rlen = (uint32_t)(8 + n);
	return 0;
}

int vfu_h_mig_write(struct vfu_conn *c, struct msg *m)
{
	uint32_t q[2];
	int rc;

	memcpy(q, m->p, 8);
	if (q[1] != m->len - 8)
		return -EINVAL;
	rc = ptdm_mig_write(c->dev, m->p + 8, q[1]);
	if (rc) {
		if (rc == -EFBIG)
			vfu_conn_warn(c, "MIG_DATA_WRITE: more data than this "
				      "device's state can be", EFBIG);
		return rc;
	}
	memcpy(m->r, q, 8);
	m->rlen = 8;
	return 0;
}
