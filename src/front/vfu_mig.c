/*
 * vfu_mig.c - vfio-user DEVICE_FEATURE (migration v2 and DMA logging) and
 * MIG_DATA_READ/WRITE.  The state machine is VFIO's (STOP_COPY only); a
 * stream is buffered whole and handed to the core, which validates it and
 * replays it through the guest-write rules.  DMA logging records the 4K
 * pages the device wrote through vfu_conn_dma_rw.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/vfu_priv.h"

#define FEAT_MASK 0xffffu
#define FEAT_GET (1u << 16)
#define FEAT_SET (1u << 17)
#define FEAT_PROBE (1u << 18)
#define MIG_MAX (1u << 30)

void vfu_mig_drop(struct vfu_conn *c)
{
	free(c->mig_buf);
	c->mig_buf = NULL;
	c->mig_len = c->mig_pos = 0;
}

/* One arc of the state machine (the spec's direct transitions). */
static int mig_arc(struct vfu_conn *c, uint32_t to)
{
	uint32_t from = c->mig_state;
	int rc = 0;

	if (from == VFIO_DEVICE_STATE_STOP && to == VFIO_DEVICE_STATE_STOP_COPY) {
		vfu_mig_drop(c);
		rc = ptdm_dev_save(c->dev, &c->mig_buf, &c->mig_len);
	} else if (from == VFIO_DEVICE_STATE_STOP_COPY &&
		   to == VFIO_DEVICE_STATE_STOP) {
		vfu_mig_drop(c);
	} else if (from == VFIO_DEVICE_STATE_STOP &&
		   to == VFIO_DEVICE_STATE_RESUMING) {
		vfu_mig_drop(c);
	} else if (from == VFIO_DEVICE_STATE_RESUMING &&
		   to == VFIO_DEVICE_STATE_STOP) {
		rc = ptdm_dev_load(c->dev, c->mig_buf, c->mig_len);
		vfu_mig_drop(c);
		if (rc) {
			/* the stream was bad: the device needs a reset */
			c->mig_state = VFIO_DEVICE_STATE_ERROR;
			return rc;
		}
	} else if (!((from == VFIO_DEVICE_STATE_RUNNING &&
		      to == VFIO_DEVICE_STATE_STOP) ||
		     (from == VFIO_DEVICE_STATE_STOP &&
		      to == VFIO_DEVICE_STATE_RUNNING))) {
		return -EINVAL;
	}
	if (!rc)
		c->mig_state = to;
	return rc;
}

/*
 * Every supported state reaches every other through STOP, the one state
 * that is not in the saving group, so the shortest path is at most two
 * arcs.  PRE_COPY and the P2P states are not offered.
 */
static int mig_set(struct vfu_conn *c, uint32_t to)
{
	int rc;

	if (to != VFIO_DEVICE_STATE_STOP && to != VFIO_DEVICE_STATE_RUNNING &&
	    to != VFIO_DEVICE_STATE_STOP_COPY &&
	    to != VFIO_DEVICE_STATE_RESUMING)
		return -EINVAL;
	if (c->mig_state == VFIO_DEVICE_STATE_ERROR)
		return -EINVAL; /* only DEVICE_RESET leaves ERROR */
	if (c->mig_state == to)
		return 0;
	if (c->mig_state != VFIO_DEVICE_STATE_STOP &&
	    to != VFIO_DEVICE_STATE_STOP) {
		rc = mig_arc(c, VFIO_DEVICE_STATE_STOP);
		if (rc)
			return rc;
	}
	return mig_arc(c, to);
}

/* ---- DMA logging ---- */

void vfu_log_drop(struct vfu_conn *c)
{
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

static int log_start(struct vfu_conn *c, struct msg *m, uint32_t dlen)
{
	const uint8_t *d = m->p + 8;
	uint64_t page;
	uint32_t n;

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
	c->nlog = n;
	c->logging = true;
	/* ptdm tracks 4K pages; it says so when asked for another size */
	c->log_page = pow2(page) && page >= PAGE ? page : PAGE;
	memcpy(m->r, m->p, 8 + dlen);
	memcpy(m->r + 8, &c->log_page, 8);
	m->rlen = 8 + dlen;
	return 0;
}

static int log_report(struct vfu_conn *c, struct msg *m, uint32_t dlen,
		      uint32_t argsz)
{
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
	for (uint64_t b = 0; b < bits; b++) {
		uint64_t first = (q[0] + b * q[2]) / PAGE;
		uint64_t last = (q[0] + (b + 1) * q[2] - 1) / PAGE;
		unsigned at = dirty_lower(c, first);
		bool dirty = c->log_all_dirty;

		/* report clears what it reports */
		while (at < c->ndirty && c->dirty[at] <= last) {
			dirty = true;
			memmove(&c->dirty[at], &c->dirty[at + 1],
				(c->ndirty - at - 1) * sizeof(*c->dirty));
			c->ndirty--;
		}
		if (dirty)
			bm[b / 64] |= 1ull << (b % 64);
	}
	memcpy(m->r, m->p, 8 + 24);
	argsz = (uint32_t)(8 + 24 + words * 8);
	memcpy(m->r, &argsz, 4);
	m->rlen = argsz;
	return 0;
}

/*
 * Dirty logging is only honest where every device write passes through
 * ptdm (vfu_conn_dma_rw): image devices.  A VFIO or sysfs device writes
 * guest memory itself, so an empty bitmap would make a VMM skip pages the
 * device wrote: those backends answer ENOTTY (unsupported) instead.
 */
static bool log_sees_dma(const struct vfu_conn *c)
{
	const struct host_dev *h = ptdm_dev_host(c->dev);

	return h && h->ops && h->ops->name && !strcmp(h->ops->name, "image");
}

int vfu_h_feature(struct vfu_conn *c, struct msg *m)
{
	uint32_t argsz, flags, idx, dlen = m->len - 8;
	bool get, set, probe, mig = ptdm_dev_migratable(c->dev);
	uint64_t mflags = VFIO_MIGRATION_STOP_COPY;
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
	/* the reply starts as the request; GETs append their data */
	memcpy(m->r, m->p, 8);
	m->rlen = 8;
	if ((idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_START ||
	     idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP ||
	     idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT) && !log_sees_dma(c))
		return -ENOTTY;
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
			rc = mig_set(c, st[0]);
			if (rc)
				return rc;
		}
		st[0] = c->mig_state;
		st[1] = (uint32_t)-1; /* data_fd: unused in vfio-user */
		memcpy(m->r + 8, st, 8);
		m->rlen = 16;
		return 0;
	}
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
		if (get)
			return -EINVAL;
		if (probe)
			return 0;
		return log_start(c, m, dlen);
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		if (get)
			return -EINVAL;
		if (probe)
			return 0;
		if (!c->logging)
			return -EINVAL;
		vfu_log_drop(c);
		return 0;
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		if (set)
			return -EINVAL;
		if (probe)
			return 0;
		return log_report(c, m, dlen, argsz);
	default:
		return -ENOTTY;
	}
}

int vfu_h_mig_read(struct vfu_conn *c, struct msg *m)
{
	uint32_t q[2];
	size_t n;

	memcpy(q, m->p, 8);
	if (c->mig_state != VFIO_DEVICE_STATE_STOP_COPY)
		return -EINVAL;
	n = c->mig_len - c->mig_pos;
	if (n > q[1])
		n = q[1];
	if (n > VFU_SERVER_MAX_XFER)
		n = VFU_SERVER_MAX_XFER;
	q[1] = (uint32_t)n; /* short: the end of the stream */
	q[0] = (uint32_t)(8 + n);
	memcpy(m->r, q, 8);
	if (n)
		memcpy(m->r + 8, c->mig_buf + c->mig_pos, n);
	c->mig_pos += n;
	m->rlen = (uint32_t)(8 + n);
	return 0;
}

int vfu_h_mig_write(struct vfu_conn *c, struct msg *m)
{
	uint32_t q[2];
	uint8_t *n;

	memcpy(q, m->p, 8);
	if (c->mig_state != VFIO_DEVICE_STATE_RESUMING)
		return -EINVAL;
	if (q[1] != m->len - 8)
		return -EINVAL;
	/* no device's state is larger than the core says: refuse the rest */
	if (c->mig_len + q[1] > MIG_MAX ||
	    c->mig_len + q[1] > ptdm_dev_state_max(c->dev)) {
		vfu_conn_warn(c, "MIG_DATA_WRITE: more data than this device's "
			      "state can be", EFBIG);
		return -EFBIG;
	}
	n = realloc(c->mig_buf, c->mig_len + q[1] + 1);
	if (!n)
		return -ENOMEM;
	c->mig_buf = n;
	memcpy(c->mig_buf + c->mig_len, m->p + 8, q[1]);
	c->mig_len += q[1];
	memcpy(m->r, q, 8);
	m->rlen = 8;
	return 0;
}
