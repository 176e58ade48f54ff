/*
 * host.c - small helpers shared by every host backend: BAR kind names,
 * the one decoder of a BAR register's kind bits, and migration v2 for a
 * backend that saves and loads its state as one blob (an image): the
 * blob is the whole backend stream, taken at STOP->STOP_COPY, collected
 * in RESUMING up to the backend's state_max and loaded (validated by the
 * backend first) at RESUMING->STOP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "ptdm/host.h"
#include "util/bigbuf.h"

const char *host_bar_kind_name(enum host_bar_kind k)
{
	switch (k) {
	case HOST_BAR_IO:
		return "io";
	case HOST_BAR_MEM32:
		return "mem32";
	case HOST_BAR_MEM64:
		return "mem64";
	case HOST_BAR_MEM64_HI:
		return "mem64-upper";
	case HOST_BAR_ROM:
		return "rom";
	case HOST_BAR_NONE:
		break;
	}
	return "none";
}

enum host_bar_kind host_bar_decode(uint32_t reg, int bar, bool *prefetch)
{
	*prefetch = false;
	if (reg & PCI_BASE_ADDRESS_SPACE_IO)
		return HOST_BAR_IO;
	*prefetch = reg & PCI_BASE_ADDRESS_MEM_PREFETCH;
	switch (reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) {
	case PCI_BASE_ADDRESS_MEM_TYPE_32:
	case PCI_BASE_ADDRESS_MEM_TYPE_1M:
		return HOST_BAR_MEM32;
	case PCI_BASE_ADDRESS_MEM_TYPE_64:
		if (bar >= 0 && bar + 1 < PTDM_NUM_BARS)
			return HOST_BAR_MEM64;
		break;
	default:
		break;
	}
	*prefetch = false;
	return HOST_BAR_NONE;
}

/*
 * The stream of a whole-blob backend, u32 little-endian fields:
 *   header  "BLM1", u32 0, u64 pre_len; then pre_len bytes: the blob as
 *           saved entering PRE_COPY (nothing without PRE_COPY)
 *   ops     COPY {1, len, u64 off}: len bytes of that pre-copy blob at off
 *           LIT  {2, len} + len bytes
 *           END  {3, 0}
 * The ops build the blob saved entering STOP_COPY: with PRE_COPY, every
 * 4 KiB block equal to the same block of the pre-copy blob is a COPY, so
 * what moves while the device is stopped is only what changed.  Loading
 * checks every op against what it has (bounded by state_max) and loads
 * the rebuilt blob (the backend validates it) at RESUMING->STOP.
 */
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2) /* Linux 6.2 */
#endif
#define PRE_COPY 6 /* VFIO_DEVICE_STATE_PRE_COPY */
#define BLOB_MAGIC 0x314d4c42u /* "BLM1" */
#define OP_COPY 1u
#define OP_LIT 2u
#define OP_END 3u
#define BLOCK 4096u
#define HDR_LEN 16u

struct host_blob_mig {
	uint32_t state;
	/* saving: what is handed out, from pos; the pre-copy blob */
	uint8_t *out, *pre;
	size_t out_len, out_pos, pre_len;
	/* resuming */
	uint8_t hdr[HDR_LEN];
	unsigned hdr_have, op_have;
	uint8_t op[16];
	uint8_t *p, *s;     /* pre-copy blob received, blob being rebuilt */
	uint64_t p_len;
	size_t p_have, s_len;
	uint32_t lit_left;
	bool done, broken;
};

static bool blob_capable(const struct host_dev *h)
{
	return h->ops->state_save && h->ops->state_load && h->ops->state_max;
}

static struct host_blob_mig *blob_get(struct host_dev *h)
{
	if (!h->blob_mig) {
		h->blob_mig = calloc(1, sizeof(*h->blob_mig));
		if (h->blob_mig)
			h->blob_mig->state = VFIO_DEVICE_STATE_RUNNING;
	}
	return h->blob_mig;
}

static void out_drop(struct host_blob_mig *b)
{
	free(b->out);
	free(b->pre);
	b->out = b->pre = NULL;
	b->out_len = b->out_pos = b->pre_len = 0;
}

static void in_drop(struct host_blob_mig *b)
{
	free(b->p);
	free(b->s);
	b->p = b->s = NULL;
	b->p_len = 0;
	b->p_have = b->s_len = 0;
	b->hdr_have = b->op_have = 0;
	b->lit_left = 0;
	b->done = b->broken = false;
}

void host_blob_mig_free(struct host_dev *h)
{
	if (h && h->blob_mig) {
		out_drop(h->blob_mig);
		in_drop(h->blob_mig);
		free(h->blob_mig);
		h->blob_mig = NULL;
	}
}

int host_blob_mig_flags(struct host_dev *h, uint64_t *flags)
{
	if (!blob_capable(h))
		return -ENOTSUP;
	*flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY;
	return 0;
}

/* The output buffer: grow and append. */
struct sink {
	uint8_t *p;
	size_t len, cap;
};

static int put(struct sink *k, const void *data, size_t len)
{
	if (k->cap - k->len < len) {
		size_t cap = k->cap ? k->cap : 4096;
		uint8_t *n;

		while (cap - k->len < len)
			cap *= 2;
		n = realloc(k->p, cap);
		if (!n)
			return -ENOMEM;
		k->p = n;
		k->cap = cap;
	}
	memcpy(k->p + k->len, data, len);
	k->len += len;
	return 0;
}

/* Room for len more bytes at once (no doubling copies of a large blob). */
static int reserve(struct sink *k, size_t len)
{
	uint8_t *n = realloc(k->p, k->len + len);

	if (!n)
		return -ENOMEM;
	k->p = n;
	k->cap = k->len + len;
	bigbuf_advise(n, k->cap);
	return 0;
}

static int put_op(struct sink *k, uint32_t op, uint32_t len, uint64_t off,
		  const uint8_t *lit)
{
	uint32_t w[2] = { op, len };
	int rc = put(k, w, 8);

	if (!rc && op == OP_COPY)
		rc = put(k, &off, 8);
	if (!rc && op == OP_LIT)
		rc = put(k, lit, len);
	return rc;
}

/* Is the block of s at at the same in the pre-copy blob? */
static bool block_eq(const uint8_t *s, size_t n, const uint8_t *pre,
		     size_t pre_len, size_t at)
{
	size_t blk = n - at < BLOCK ? n - at : BLOCK;

	return at < pre_len && blk <= pre_len - at &&
	       !memcmp(s + at, pre + at, blk);
}

/* ops that rebuild blob s (len n) from the pre-copy blob, END last */
static int put_delta(struct sink *k, const uint8_t *pre, size_t pre_len,
		     const uint8_t *s, size_t n)
{
	size_t at = 0;
	int rc = 0;

	while (!rc && at < n) {
		bool same = block_eq(s, n, pre, pre_len, at);
		size_t run = 0;

		/* a run of blocks that are all equal, or all not */
		while (at + run < n && run < (1u << 30) &&
		       block_eq(s, n, pre, pre_len, at + run) == same)
			run += n - at - run < BLOCK ? n - at - run : BLOCK;
		rc = same ? put_op(k, OP_COPY, (uint32_t)run, at, NULL)
			  : put_op(k, OP_LIT, (uint32_t)run, 0, s + at);
		at += run;
	}
	return rc ? rc : put_op(k, OP_END, 0, 0, NULL);
}

static int save(struct host_dev *h, uint8_t **buf, size_t *len)
{
	int rc = h->ops->state_save(h, buf, len);

	if (!rc && *len > h->ops->state_max(h)) {
		free(*buf);
		return -EFBIG;
	}
	return rc;
}

/* Entering PRE_COPY: the blob now, handed out with the header. */
static int start_pre(struct host_dev *h, struct host_blob_mig *b)
{
	struct sink k = { 0 };
	uint32_t w[2] = { BLOB_MAGIC, 0 };
	uint64_t plen;
	int rc;

	out_drop(b);
	rc = save(h, &b->pre, &b->pre_len);
	if (rc)
		return rc;
	plen = b->pre_len;
	rc = reserve(&k, HDR_LEN + b->pre_len);
	rc = rc ? rc : put(&k, w, 8);
	rc = rc ? rc : put(&k, &plen, 8);
	rc = rc ? rc : put(&k, b->pre, b->pre_len);
	if (rc) {
		free(k.p);
		out_drop(b);
		return rc;
	}
	b->out = k.p;
	b->out_len = k.len;
	return 0;
}

/* Entering STOP_COPY: whatever of the pre-copy part is not read yet, then
 * the ops for the blob now. */
static int start_stop_copy(struct host_dev *h, struct host_blob_mig *b,
			   bool pre)
{
	struct sink k = { 0 };
	uint8_t *now = NULL;
	size_t len = 0;
	int rc = save(h, &now, &len);

	if (rc)
		return rc;
	/* at most: what is left of pre-copy, the header, every block a LIT */
	rc = reserve(&k, (pre ? b->out_len - b->out_pos : 0) + HDR_LEN + len +
			      (len / BLOCK + 2) * 16);
	if (rc) {
		free(now);
		return rc;
	}
	if (pre) {
		rc = put(&k, b->out + b->out_pos, b->out_len - b->out_pos);
	} else {
		uint32_t w[2] = { BLOB_MAGIC, 0 };
		uint64_t zero = 0;

		out_drop(b);
		rc = put(&k, w, 8);
		rc = rc ? rc : put(&k, &zero, 8);
	}
	rc = rc ? rc : put_delta(&k, b->pre, b->pre_len, now, len);
	free(now);
	if (rc) {
		free(k.p);
		return rc;
	}
	free(b->out);
	b->out = k.p;
	b->out_len = k.len;
	b->out_pos = 0;
	return 0;
}

int host_blob_mig_set_state(struct host_dev *h, uint32_t to)
{
	struct host_blob_mig *b;
	uint32_t from;
	int rc = 0;

	if (!blob_capable(h))
		return -ENOTSUP;
	b = blob_get(h);
	if (!b)
		return -ENOMEM;
	from = b->state;
	if (to == VFIO_DEVICE_STATE_RUNNING && from != VFIO_DEVICE_STATE_STOP) {
		/* out of PRE_COPY, or a reset: whatever was being saved or
		 * loaded is dropped, nothing of it reaches the device */
		out_drop(b);
		in_drop(b);
	} else if (from == VFIO_DEVICE_STATE_RUNNING && to == PRE_COPY) {
		rc = start_pre(h, b);
	} else if ((from == PRE_COPY || from == VFIO_DEVICE_STATE_STOP) &&
		   to == VFIO_DEVICE_STATE_STOP_COPY) {
		rc = start_stop_copy(h, b, from == PRE_COPY);
	} else if (from == VFIO_DEVICE_STATE_RESUMING &&
		   to == VFIO_DEVICE_STATE_STOP) {
		if (!b->done || b->broken)
			rc = -EINVAL;
		else
			rc = h->ops->state_load(h, b->s, b->s_len);
		in_drop(b);
		if (rc)
			return rc; /* still RESUMING: a fresh stream may come */
	} else if (from == VFIO_DEVICE_STATE_STOP_COPY &&
		   to == VFIO_DEVICE_STATE_STOP) {
		out_drop(b);
	} else if (from == VFIO_DEVICE_STATE_STOP &&
		   to == VFIO_DEVICE_STATE_RESUMING) {
		in_drop(b);
	} else if (!((from == VFIO_DEVICE_STATE_RUNNING &&
		      to == VFIO_DEVICE_STATE_STOP) ||
		     (from == VFIO_DEVICE_STATE_STOP &&
		      to == VFIO_DEVICE_STATE_RUNNING) || from == to)) {
		return -EINVAL;
	}
	if (rc)
		return rc;
	b->state = to;
	return 0;
}

int host_blob_mig_data_read(struct host_dev *h, void *buf, size_t len,
			    size_t *got)
{
	struct host_blob_mig *b = h->blob_mig;
	size_t n;

	if (!b || (b->state != VFIO_DEVICE_STATE_STOP_COPY && b->state != PRE_COPY))
		return -EINVAL;
	n = b->out_len - b->out_pos < len ? b->out_len - b->out_pos : len;
	if (n)
		memcpy(buf, b->out + b->out_pos, n);
	b->out_pos += n;
	*got = n;
	return 0;
}

/* Take up to len bytes into a fixed-size part; true when it is full. */
static bool fill(uint8_t *dst, unsigned *have, unsigned want,
		 const uint8_t **p, size_t *len)
{
	size_t n = want - *have < *len ? want - *have : *len;

	memcpy(dst + *have, *p, n);
	*have += (unsigned)n;
	*p += n;
	*len -= n;
	return *have == want;
}

static int blob_write(struct host_dev *h, struct host_blob_mig *b,
		      const uint8_t *p, size_t len)
{
	uint64_t max = h->ops->state_max(h);

	while (len) {
		uint32_t op[2];
		uint64_t off;
		size_t n;

		if (b->done)
			return -EINVAL; /* data after END */
		if (b->hdr_have < HDR_LEN) {
			uint32_t w[2];

			if (!fill(b->hdr, &b->hdr_have, HDR_LEN, &p, &len))
				continue;
			memcpy(w, b->hdr, 8);
			memcpy(&b->p_len, b->hdr + 8, 8);
			if (w[0] != BLOB_MAGIC || w[1])
				return -EINVAL;
			if (b->p_len > max)
				return -EFBIG;
			b->p = malloc(b->p_len + 1);
			b->s = malloc(max + 1);
			if (!b->p || !b->s)
				return -ENOMEM;
			bigbuf_advise(b->p, b->p_len + 1);
			bigbuf_advise(b->s, max + 1);
			continue;
		}
		if (b->p_have < b->p_len) {
			n = b->p_len - b->p_have < len ? b->p_len - b->p_have : len;
			memcpy(b->p + b->p_have, p, n);
			b->p_have += n;
			p += n;
			len -= n;
			continue;
		}
		if (b->lit_left) {
			n = b->lit_left < len ? b->lit_left : len;
			memcpy(b->s + b->s_len, p, n);
			b->s_len += n;
			b->lit_left -= (uint32_t)n;
			p += n;
			len -= n;
			continue;
		}
		if (b->op_have < 8 && !fill(b->op, &b->op_have, 8, &p, &len))
			continue;
		memcpy(op, b->op, 8);
		if (op[0] == OP_COPY &&
		    !fill(b->op, &b->op_have, 16, &p, &len))
			continue;
		b->op_have = 0;
		if (op[0] == OP_END && !op[1]) {
			b->done = true;
			continue;
		}
		if ((op[0] != OP_COPY && op[0] != OP_LIT) || !op[1])
			return -EINVAL;
		/* nothing this device can save is larger than max */
		if (op[1] > max - b->s_len)
			return -EFBIG;
		if (op[0] == OP_LIT) {
			b->lit_left = op[1];
			continue;
		}
		memcpy(&off, b->op + 8, 8);
		if (off > b->p_len || op[1] > b->p_len - off)
			return -EINVAL;
		memcpy(b->s + b->s_len, b->p + off, op[1]);
		b->s_len += op[1];
	}
	return 0;
}

int host_blob_mig_data_write(struct host_dev *h, const void *buf, size_t len)
{
	struct host_blob_mig *b = h->blob_mig;
	int rc;

	if (!b || b->state != VFIO_DEVICE_STATE_RESUMING)
		return -EINVAL;
	if (b->broken)
		return -EINVAL;
	rc = blob_write(h, b, buf, len);
	if (rc)
		b->broken = true;
	return rc;
}

int host_blob_mig_data_size(struct host_dev *h, uint64_t *bytes)
{
	struct host_blob_mig *b = h->blob_mig;

	if (!blob_capable(h))
		return -ENOTSUP;
	if (b && b->state == VFIO_DEVICE_STATE_STOP_COPY)
		*bytes = b->out_len - b->out_pos;
	else
		*bytes = h->ops->state_max(h) + HDR_LEN + 16; /* at most */
	return 0;
}
