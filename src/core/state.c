/*
 * state.c - a device's migration state: what the guest programmed (the
 * virtual registers, the MSI-X table and PBA) and what the backend holds
 * (its own blob: for an image, config bytes and BAR memory).
 *
 *   "PTDMDEV1", u32 cfg_size, u32 msix_nvec, u32 host_len, u32 0,
 *   shadow[cfg_size], table[16 * nvec], pba[8 * ceil(nvec / 64)],
 *   host[host_len]
 *
 * A stream is untrusted input.  Loading checks sizes and identity first,
 * lets the backend validate its blob, then starts from power-on and
 * replays only the bits a guest could have written itself, through the
 * normal write path with host writes off: every rule (BAR masks, MSI
 * clamps, read-only bits) applies to what a stream says exactly as to
 * what a guest writes.
 *
 * Migration v2 (ptdm_mig_*) is VFIO's state machine wrapped around the
 * backend's (host_ops.mig_*: the VFIO kernel driver's, or an image's
 * blob through host_blob_mig_*): one path for every device.  The core
 * finds the path between two states (the kernel's rules: never through a
 * saving state or RESUMING unless it is the end), moves the backend one
 * arc at a time and frames one stream of records, u32 type + u32 len:
 *
 *   HEAD  "PTDMMIG2", backend name[16], u32 cfg_size, u32 msix_nvec
 *   HOST  backend bytes, in the order the backend gave them (PRE_COPY
 *         data first, then stop-copy), each record <= 64 KiB out, 1 MiB in
 *   CORE  the core section above (host_len 0), taken entering STOP_COPY
 *   END   u64 FNV-1a (by 8-byte words) of every byte before it (a stream damaged on
 *         the way fails; a hostile one still meets every check above)
 *
 * Loading parses records as bytes come, in any split: HEAD must match
 * this device, HOST goes straight to the backend, CORE is buffered (its
 * size is known), anything else or out of order breaks the stream.  At
 * RESUMING->STOP the core section is checked, then the backend loads
 * (and validates) its part, and only then the core replays its own: a
 * truncated, foreign or mutated stream fails the transition and leaves
 * the device as it was (state ERROR, as VFIO has it, until a reset).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/vfio.h>

#include "ptdm/log.h"

#include "core/dev_priv.h"

#define MAGIC "PTDMDEV1"

struct state_head {
	char magic[8];
	uint32_t cfg_size, nvec, host_len, zero;
};

static size_t pba_len(unsigned nvec)
{
	return (size_t)msix_pba_bytes(nvec);
}

static bool blob_capable(const struct ptdm_dev *d)
{
	return d->host->ops->state_save && d->host->ops->state_load &&
	       d->host->ops->state_max;
}

bool ptdm_dev_migratable(const struct ptdm_dev *d)
{
	uint64_t flags = 0;

	return host_mig_flags(d->host, &flags) == 0 &&
	       (flags & VFIO_MIGRATION_STOP_COPY);
}

static size_t core_len(const struct ptdm_dev *d)
{
	return sizeof(struct state_head) + d->cfg_size +
	       (size_t)msix_table_bytes(d->msix.nvec) + pba_len(d->msix.nvec);
}

uint64_t ptdm_dev_state_max(const struct ptdm_dev *d)
{
	uint64_t host;

	if (!blob_capable(d))
		return 0;
	host = d->host->ops->state_max(d->host);
	if (host > UINT32_MAX)
		host = UINT32_MAX; /* host_len is a u32: save refuses more */
	return core_len(d) + host;
}

/* The core section into p (core_len bytes), saying host_len follows. */
static void core_put(const struct ptdm_dev *d, uint8_t *p, uint32_t host_len)
{
	struct state_head hd = { .cfg_size = d->cfg_size,
				 .nvec = d->msix.nvec,
				 .host_len = host_len };
	size_t tlen = (size_t)msix_table_bytes(d->msix.nvec);

	memcpy(hd.magic, MAGIC, 8);
	memcpy(p, &hd, sizeof(hd));
	p += sizeof(hd);
	memcpy(p, d->shadow, d->cfg_size);
	p += d->cfg_size;
	if (tlen) {
		memcpy(p, d->msix.table, tlen);
		p += tlen;
		memcpy(p, d->msix.pba, pba_len(d->msix.nvec));
	}
}

int ptdm_dev_save(struct ptdm_dev *d, uint8_t **out, size_t *out_len)
{
	uint8_t *host = NULL, *buf;
	size_t host_len = 0, len;
	int rc;

	if (!blob_capable(d))
		return -ENOTSUP;
	rc = d->host->ops->state_save(d->host, &host, &host_len);
	if (rc)
		return rc;
	if (host_len > UINT32_MAX) {
		free(host);
		return -EFBIG;
	}
	len = core_len(d) + host_len;
	buf = malloc(len);
	if (!buf) {
		free(host);
		return -ENOMEM;
	}
	core_put(d, buf, (uint32_t)host_len);
	if (host_len)
		memcpy(buf + core_len(d), host, host_len);
	free(host);
	*out = buf;
	*out_len = len;
	return 0;
}

static const unsigned identity[][2] = {
	{ PCI_VENDOR_ID, 4 }, { PCI_CLASS_REVISION, 4 },
	{ PCI_SUBSYSTEM_VENDOR_ID, 4 }, { PCI_HEADER_TYPE, 1 },
};

/* Check a core section (and the host_len it announces) against this
 * device without changing anything. */
static int core_check(const struct ptdm_dev *d, const uint8_t *buf,
		      size_t len, uint32_t *host_len)
{
	struct state_head hd;
	const uint8_t *shadow = buf + sizeof(hd);

	if (len < sizeof(hd))
		return -EINVAL;
	memcpy(&hd, buf, sizeof(hd));
	if (memcmp(hd.magic, MAGIC, 8) || hd.zero || hd.cfg_size != d->cfg_size ||
	    hd.nvec != d->msix.nvec)
		return -EINVAL;
	if (len != core_len(d) + hd.host_len)
		return -EINVAL;
	/* the same device as here, as the guest sees it */
	for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++)
		if (memcmp(shadow + identity[i][0], d->shadow + identity[i][0],
			   identity[i][1]))
			return -ENODEV;
	*host_len = hd.host_len;
	return 0;
}

/* Replay a checked core section: cannot fail. */
static void core_apply(struct ptdm_dev *d, const uint8_t *buf)
{
	const uint8_t *shadow, *table, *pba;
	size_t tlen = (size_t)msix_table_bytes(d->msix.nvec);

	shadow = buf + sizeof(struct state_head);
	table = shadow + d->cfg_size;
	pba = table + tlen;
	/* from power-on, replay what a guest could have written */
	dev_reset_shadow(d);
	d->loading = true;
	for (unsigned i = 0; i < d->nslots; i++) {
		const struct cfg_slot *s = &d->slots[i];
		const struct cfg_reg *r = s->reg;
		uint32_t bits = r->write & r->virt & ~r->rw1c;
		uint32_t wm = r->size >= 4 ? ~0u : (1u << (8 * r->size)) - 1;

		if (!bits)
			continue;
		cfg_slot_write(d, s, cfg_le_get(shadow + s->base, r->size) & bits,
			       wm);
	}
	d->loading = false;
	/* MSI pending bits are state the guest cannot write: restore them,
	 * bounded to the vectors the device has */
	if (d->cap_msi >= 0) {
		struct ptdm_msi_state ms;
		unsigned pos = d->caps[d->cap_msi].info.pos;

		ptdm_msi_get(d, &ms);
		if (ms.maskable) {
			unsigned off = pos + (ms.is64 ? PCI_MSI_PENDING_64
						      : PCI_MSI_PENDING_32);
			uint32_t p = cfg_le_get(shadow + off, 4);

			for (unsigned v = 0; v < ms.nvec_max && v < 32; v++)
				ptdm_msi_set_pending(d, v, p & (1u << v));
		}
	}
	if (tlen) {
		/* vector control has only the mask bit; addresses are dword
		 * aligned: as the table write path would leave them */
		for (unsigned v = 0; v < d->msix.nvec; v++) {
			uint32_t e[4];

			memcpy(e, table + 16 * v, 16);
			e[0] &= ~3u;
			e[3] &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
			memcpy(&d->msix.table[4 * v], e, 16);
		}
		memcpy(d->msix.pba, pba, pba_len(d->msix.nvec));
		memset(d->msix.latched, 0, d->msix.nvec);
		dev_notify_msix(d, -1);
	}
}

int ptdm_dev_load(struct ptdm_dev *d, const uint8_t *buf, size_t len)
{
	uint32_t host_len = 0;
	int rc;

	if (!blob_capable(d))
		return -ENOTSUP;
	rc = core_check(d, buf, len, &host_len);
	if (rc)
		return rc;
	rc = d->host->ops->state_load(d->host, buf + core_len(d), host_len);
	if (rc)
		return rc;
	core_apply(d, buf);
	return 0;
}

/* ---- migration v2: the state machine and the framed stream ---- */

#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2) /* Linux 6.2 */
#endif
#define MIG_MAGIC "PTDMMIG2"
#define REC_HEAD 1u
#define REC_HOST 2u
#define REC_CORE 3u
#define REC_END 4u
#define REC_OUT_MAX (64u << 10)  /* HOST bytes per record we write */
#define REC_IN_MAX (1u << 20)    /* and accept */
#define HEAD_LEN 32u
#define SEEN_HEAD 1u
#define SEEN_CORE 2u
#define SEEN_END 4u

#define FNV_BASIS 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

/*
 * FNV-1a over 8-byte words (the bytes left over at the end one by one),
 * fed in any split.  Each step is a bijection of the running value, so
 * changing any one word of the stream always changes the sum.
 */
struct sum {
	uint64_t h;
	uint8_t tail[8];
	unsigned n;
};

static void sum_init(struct sum *s)
{
	s->h = FNV_BASIS;
	s->n = 0;
}

static void sum_feed(struct sum *s, const uint8_t *p, size_t len)
{
	uint64_t w;

	while (len && s->n) {
		s->tail[s->n++] = *p++;
		len--;
		if (s->n == 8) {
			memcpy(&w, s->tail, 8);
			s->h = (s->h ^ w) * FNV_PRIME;
			s->n = 0;
		}
	}
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		s->h = (s->h ^ w) * FNV_PRIME;
	}
	memcpy(s->tail, p, len);
	s->n = (unsigned)len;
}

static uint64_t sum_final(const struct sum *s)
{
	uint64_t h = s->h;

	for (unsigned i = 0; i < s->n; i++)
		h = (h ^ s->tail[i]) * FNV_PRIME;
	return h;
}

enum out_phase { OUT_HEAD, OUT_HOST, OUT_CORE, OUT_END, OUT_DONE };

struct dev_mig {
	uint32_t state;
	/* saving: the record being handed out, and what comes next */
	enum out_phase phase;
	uint8_t *out;          /* 8 + REC_OUT_MAX (or the core section) */
	size_t out_len, out_pos;
	uint8_t *core;         /* core section, taken entering STOP_COPY */
	/* resuming: the record being parsed */
	uint8_t hdr[8];
	unsigned hdr_have, seen;
	uint32_t type, left;
	bool broken;
	uint8_t *in;           /* HEAD or CORE payload */
	size_t in_len;
	uint8_t end[8];        /* END payload */
	unsigned end_have;
	struct sum sum;        /* of what went out, or came in, so far */
};

static bool saving(uint32_t s)
{
	return s == VFIO_DEVICE_STATE_STOP_COPY || s == PTDM_MIG_PRE_COPY ||
	       s == PTDM_MIG_PRE_COPY_P2P;
}

static bool precopy(uint32_t s)
{
	return s == PTDM_MIG_PRE_COPY || s == PTDM_MIG_PRE_COPY_P2P;
}

static struct dev_mig *mig_get(struct ptdm_dev *d)
{
	if (!d->mig) {
		d->mig = calloc(1, sizeof(*d->mig));
		if (d->mig)
			d->mig->state = VFIO_DEVICE_STATE_RUNNING;
	}
	return d->mig;
}

static void mig_out_drop(struct dev_mig *m)
{
	free(m->out);
	free(m->core);
	m->out = m->core = NULL;
	m->out_len = m->out_pos = 0;
	m->phase = OUT_HEAD;
	sum_init(&m->sum);
}

static void mig_in_drop(struct dev_mig *m)
{
	free(m->in);
	m->in = NULL;
	m->in_len = 0;
	m->hdr_have = m->seen = 0;
	m->type = m->left = 0;
	m->broken = false;
	sum_init(&m->sum);
}

void dev_mig_free(struct ptdm_dev *d)
{
	if (d->mig) {
		mig_out_drop(d->mig);
		mig_in_drop(d->mig);
		free(d->mig);
		d->mig = NULL;
	}
}

uint32_t ptdm_mig_state(const struct ptdm_dev *d)
{
	return d->mig ? d->mig->state : VFIO_DEVICE_STATE_RUNNING;
}

int ptdm_mig_flags(struct ptdm_dev *d, uint64_t *flags)
{
	uint64_t f = 0;
	int rc = host_mig_flags(d->host, &f);

	if (rc)
		return rc == PTDM_HOST_ENOTSUP ? -ENOTSUP : rc;
	if (!(f & VFIO_MIGRATION_STOP_COPY))
		return -ENOTSUP;
	*flags = f & (VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		      VFIO_MIGRATION_PRE_COPY);
	return 0;
}

static bool state_offered(uint32_t s, uint64_t f)
{
	switch (s) {
	case VFIO_DEVICE_STATE_STOP:
	case VFIO_DEVICE_STATE_RUNNING:
	case VFIO_DEVICE_STATE_STOP_COPY:
	case VFIO_DEVICE_STATE_RESUMING:
		return true;
	case VFIO_DEVICE_STATE_RUNNING_P2P:
		return f & VFIO_MIGRATION_P2P;
	case PTDM_MIG_PRE_COPY:
		return f & VFIO_MIGRATION_PRE_COPY;
	case PTDM_MIG_PRE_COPY_P2P:
		return (f & VFIO_MIGRATION_PRE_COPY) && (f & VFIO_MIGRATION_P2P);
	default:
		return false;
	}
}

/* The direct arcs of VFIO's migration v2 FSM (include/uapi/linux/vfio.h),
 * with RUNNING_P2P collapsed when the device has no P2P. */
static bool arc(uint32_t a, uint32_t b, uint64_t f)
{
	bool p2p = f & VFIO_MIGRATION_P2P;

	switch (a) {
	case VFIO_DEVICE_STATE_RUNNING:
		return b == PTDM_MIG_PRE_COPY ||
		       (p2p ? b == VFIO_DEVICE_STATE_RUNNING_P2P
			    : b == VFIO_DEVICE_STATE_STOP);
	case VFIO_DEVICE_STATE_RUNNING_P2P:
		return b == VFIO_DEVICE_STATE_STOP ||
		       b == VFIO_DEVICE_STATE_RUNNING ||
		       b == PTDM_MIG_PRE_COPY_P2P;
	case VFIO_DEVICE_STATE_STOP:
		return b == VFIO_DEVICE_STATE_STOP_COPY ||
		       b == VFIO_DEVICE_STATE_RESUMING ||
		       (p2p ? b == VFIO_DEVICE_STATE_RUNNING_P2P
			    : b == VFIO_DEVICE_STATE_RUNNING);
	case PTDM_MIG_PRE_COPY:
		return b == VFIO_DEVICE_STATE_RUNNING ||
		       (p2p ? b == PTDM_MIG_PRE_COPY_P2P
			    : b == VFIO_DEVICE_STATE_STOP_COPY);
	case PTDM_MIG_PRE_COPY_P2P:
		return b == PTDM_MIG_PRE_COPY ||
		       b == VFIO_DEVICE_STATE_RUNNING_P2P ||
		       b == VFIO_DEVICE_STATE_STOP_COPY;
	case VFIO_DEVICE_STATE_STOP_COPY:
	case VFIO_DEVICE_STATE_RESUMING:
		return b == VFIO_DEVICE_STATE_STOP;
	default:
		return false;
	}
}

/*
 * The first arc of the shortest path from -> to over the offered states
 * (breadth first over at most 8).  Intermediate states are never saving
 * states or RESUMING, except PRE_COPY_P2P on the way from a pre-copy
 * state to another saving state: the kernel's own rule
 * (vfio_mig_get_next_state), so no stream is made or dropped on the way.
 */
static int next_state(uint32_t from, uint32_t to, uint64_t f, uint32_t *next)
{
	uint32_t prev[8], queue[8];
	bool seen[8] = { false };
	unsigned qh = 0, qt = 0;
	bool pre_end = precopy(from) && saving(to);

	seen[from] = true;
	queue[qt++] = from;
	while (qh < qt) {
		uint32_t a = queue[qh++];

		for (uint32_t b = 1; b < 8; b++) {
			bool mid_ok = b == to || (!saving(b) &&
				      b != VFIO_DEVICE_STATE_RESUMING) ||
				      (pre_end && b == PTDM_MIG_PRE_COPY_P2P);

			if (seen[b] || !state_offered(b, f) || !arc(a, b, f) ||
			    !mid_ok)
				continue;
			seen[b] = true;
			prev[b] = a;
			if (b == to) {
				while (prev[b] != from)
					b = prev[b];
				*next = b;
				return 0;
			}
			queue[qt++] = b;
		}
	}
	return -EINVAL;
}

/* Start handing out a stream (entering PRE_COPY, or STOP_COPY from STOP). */
static int out_start(struct dev_mig *m)
{
	mig_out_drop(m);
	m->out = malloc(8 + REC_OUT_MAX);
	return m->out ? 0 : -ENOMEM;
}

static int take_core(struct ptdm_dev *d, struct dev_mig *m)
{
	free(m->core);
	m->core = malloc(core_len(d));
	if (!m->core)
		return -ENOMEM;
	core_put(d, m->core, 0);
	return 0;
}

/* One arc: the backend first, then what the core keeps. */
static int mig_arc(struct ptdm_dev *d, struct dev_mig *m, uint32_t to)
{
	uint32_t from = m->state;
	uint32_t host_len = 0;
	int rc;

	if (to == VFIO_DEVICE_STATE_STOP_COPY || precopy(to)) {
		if (!saving(from))
			rc = out_start(m);
		else
			rc = 0;
		if (!rc && to == VFIO_DEVICE_STATE_STOP_COPY)
			rc = take_core(d, m);
		if (rc)
			return rc;
	}
	if (from == VFIO_DEVICE_STATE_RESUMING) {
		/* the whole stream, and a core section for this device,
		 * before the backend loads anything */
		if (m->broken || !(m->seen & SEEN_END))
			rc = -EINVAL;
		else
			rc = core_check(d, m->in, m->in_len, &host_len);
		if (!rc && host_len)
			rc = -EINVAL;
		if (rc) {
			ptdm_log_ratelimited(&d->guest_rl, PTDM_LOG_WARN,
					     "%s: migration stream refused "
					     "(%s): the device is unchanged",
					     d->host->name,
					     m->broken ? "malformed"
					     : !(m->seen & SEEN_END) ? "truncated"
					     : strerror(-rc));
			return rc;
		}
	}
	rc = host_mig_set_state(d->host, to);
	if (rc) {
		if (rc == PTDM_HOST_ENOTSUP)
			rc = -ENOTSUP;
		if (!saving(from) && saving(to))
			mig_out_drop(m);
		return rc;
	}
	if (from == VFIO_DEVICE_STATE_RESUMING) {
		core_apply(d, m->in);
		mig_in_drop(m);
	}
	if (to == VFIO_DEVICE_STATE_RESUMING)
		mig_in_drop(m);
	if (saving(from) && !saving(to))
		mig_out_drop(m);
	m->state = to;
	return 0;
}

int ptdm_mig_set_state(struct ptdm_dev *d, uint32_t to)
{
	struct dev_mig *m;
	uint64_t f;
	int rc = ptdm_mig_flags(d, &f);

	if (rc)
		return rc;
	if (to >= 8 || !state_offered(to, f))
		return -EINVAL;
	m = mig_get(d);
	if (!m)
		return -ENOMEM;
	if (m->state == VFIO_DEVICE_STATE_ERROR)
		return -EINVAL; /* only a reset leaves ERROR */
	while (m->state != to) {
		uint32_t next;
		bool loading = m->state == VFIO_DEVICE_STATE_RESUMING;

		rc = next_state(m->state, to, f, &next);
		if (!rc)
			rc = mig_arc(d, m, next);
		if (rc) {
			/* a refused stream, or a backend that fell into
			 * ERROR: the device is unchanged, a reset leaves */
			if (loading || rc == -EIO) {
				mig_in_drop(m);
				m->state = VFIO_DEVICE_STATE_ERROR;
			}
			return rc;
		}
	}
	return 0;
}

void ptdm_mig_reset(struct ptdm_dev *d)
{
	struct dev_mig *m = d->mig;
	int rc = 0;

	if (!m)
		return;
	/* the backend goes back to RUNNING the short way when it can (a
	 * reset of a VFIO device did that already) */
	if (m->state != VFIO_DEVICE_STATE_RUNNING &&
	    m->state != VFIO_DEVICE_STATE_ERROR &&
	    m->state != VFIO_DEVICE_STATE_RESUMING)
		(void)ptdm_mig_set_state(d, VFIO_DEVICE_STATE_RUNNING);
	if (m->state != VFIO_DEVICE_STATE_RUNNING)
		rc = host_mig_set_state(d->host, VFIO_DEVICE_STATE_RUNNING);
	mig_out_drop(m);
	mig_in_drop(m);
	/* a backend that cannot get back (a VFIO driver stuck in RESUMING
	 * or ERROR on a device with no reset) is not said to run */
	if (rc) {
		ptdm_log_ratelimited(&d->host_rl, PTDM_LOG_WARN, "%s: migration "
				     "state not back to RUNNING: %s",
				     d->host->name, strerror(rc < 0 ? -rc : rc));
		m->state = VFIO_DEVICE_STATE_ERROR;
		return;
	}
	m->state = VFIO_DEVICE_STATE_RUNNING;
}

static void rec_head(uint8_t *p, uint32_t type, uint32_t len)
{
	memcpy(p, &type, 4);
	memcpy(p + 4, &len, 4);
}

static void head_payload(const struct ptdm_dev *d, uint8_t *p)
{
	uint32_t v[2] = { d->cfg_size, d->msix.nvec };

	memset(p, 0, HEAD_LEN);
	memcpy(p, MIG_MAGIC, 8);
	strncpy((char *)p + 8, d->host->ops->name, 15);
	memcpy(p + 24, v, 8);
}

/*
 * One REC_HOST record at dst: the backend's next bytes (at most cap) after
 * its header, *n the record's length.  0 when the backend has none now;
 * at STOP_COPY that is the end of its data and the phase moves on.
 */
static int host_record(struct ptdm_dev *d, struct dev_mig *m, uint8_t *dst,
		       size_t cap, size_t *n)
{
	size_t got = 0;
	int rc = host_mig_data_read(d->host, dst + 8, cap, &got);

	*n = 0;
	if (rc)
		return rc == PTDM_HOST_ENOTSUP ? -ENOTSUP : rc;
	if (got > cap)
		return -EIO;
	if (got) {
		rec_head(dst, REC_HOST, (uint32_t)got);
		*n = 8 + got;
	} else if (m->state == VFIO_DEVICE_STATE_STOP_COPY) {
		m->phase = OUT_CORE;
	}
	return 0;
}

/* The next record into m->out; false when there is none now. */
static int next_record(struct ptdm_dev *d, struct dev_mig *m, bool *more)
{
	uint64_t sum;
	int rc;

	*more = true;
	m->out_pos = 0;
	switch (m->phase) {
	case OUT_HEAD:
		rec_head(m->out, REC_HEAD, HEAD_LEN);
		head_payload(d, m->out + 8);
		m->out_len = 8 + HEAD_LEN;
		m->phase = OUT_HOST;
		return 0;
	case OUT_HOST:
		rc = host_record(d, m, m->out, REC_OUT_MAX, &m->out_len);
		if (rc || m->out_len)
			return rc;
		if (m->phase == OUT_HOST) {
			*more = false; /* pre-copy: nothing more for now */
			return 0;
		}
		/* fall through */
	case OUT_CORE:
		if (!m->core)
			return -EIO;
		rec_head(m->out, REC_CORE, (uint32_t)core_len(d));
		memcpy(m->out + 8, m->core, core_len(d));
		m->out_len = 8 + core_len(d);
		m->phase = OUT_END;
		return 0;
	case OUT_END:
		rec_head(m->out, REC_END, 8);
		sum = sum_final(&m->sum);
		memcpy(m->out + 8, &sum, 8);
		m->out_len = 16;
		m->phase = OUT_DONE;
		return 0;
	case OUT_DONE:
		break;
	}
	m->out_len = 0;
	*more = false;
	return 0;
}

int ptdm_mig_read(struct ptdm_dev *d, void *buf, size_t len, size_t *got)
{
	struct dev_mig *m = d->mig;
	size_t total = 0;
	int rc;

	*got = 0;
	if (!m || !saving(m->state) || !m->out)
		return -EINVAL;
	while (total < len) {
		size_t n;
		bool more;

		if (m->out_pos == m->out_len && m->phase == OUT_HOST &&
		    len - total > 8 + 4096) {
			/* the backend's bytes straight into the reply, one
			 * record as large as the reader takes */
			uint8_t *dst = (uint8_t *)buf + total;
			size_t cap = len - total - 8, n_host = 0;

			if (cap > REC_IN_MAX)
				cap = REC_IN_MAX;
			rc = host_record(d, m, dst, cap, &n_host);
			if (rc)
				return rc;
			if (n_host) {
				sum_feed(&m->sum, dst, n_host);
				total += n_host;
				continue;
			}
			if (m->phase == OUT_HOST)
				break; /* pre-copy: nothing more for now */
		}
		if (m->out_pos == m->out_len) {
			rc = next_record(d, m, &more);
			if (rc)
				return rc;
			if (!more)
				break;
			if (m->phase != OUT_DONE) /* END: the sum itself */
				sum_feed(&m->sum, m->out, m->out_len);
		}
		n = m->out_len - m->out_pos;
		if (n > len - total)
			n = len - total;
		memcpy((uint8_t *)buf + total, m->out + m->out_pos, n);
		m->out_pos += n;
		total += n;
	}
	*got = total;
	return 0;
}

/* A complete record header: is it what may come now? */
static int rec_begin(const struct ptdm_dev *d, struct dev_mig *m)
{
	memcpy(&m->type, m->hdr, 4);
	memcpy(&m->left, m->hdr + 4, 4);
	switch (m->type) {
	case REC_HEAD:
		if (m->seen || m->left != HEAD_LEN)
			return -EINVAL;
		break;
	case REC_HOST:
		if (m->seen != SEEN_HEAD || !m->left || m->left > REC_IN_MAX)
			return -EINVAL;
		return 0;
	case REC_CORE:
		if (m->seen != SEEN_HEAD || m->left != core_len(d))
			return -EINVAL;
		break;
	case REC_END:
		if (m->seen != (SEEN_HEAD | SEEN_CORE) || m->left != 8)
			return -EINVAL;
		m->end_have = 0;
		return 0;
	default:
		return -EINVAL;
	}
	free(m->in);
	m->in = malloc(m->left);
	m->in_len = 0;
	return m->in ? 0 : -ENOMEM;
}

static int rec_end(const struct ptdm_dev *d, struct dev_mig *m)
{
	uint8_t want[HEAD_LEN];

	if (m->type == REC_HEAD) {
		head_payload(d, want);
		if (memcmp(m->in, want, 8))
			return -EINVAL;
		if (memcmp(m->in, want, HEAD_LEN))
			return -ENODEV; /* another backend, or device shape */
		m->seen |= SEEN_HEAD;
	} else if (m->type == REC_CORE) {
		m->seen |= SEEN_CORE; /* checked whole at RESUMING->STOP */
	} else if (m->type == REC_END) {
		uint64_t sum = sum_final(&m->sum);

		if (memcmp(m->end, &sum, 8))
			return -EINVAL; /* damaged on the way */
		m->seen |= SEEN_END;
	}
	return 0;
}

int ptdm_mig_write(struct ptdm_dev *d, const void *data, size_t len)
{
	struct dev_mig *m = d->mig;
	const uint8_t *p = data;
	int rc = 0;

	if (!m || m->state != VFIO_DEVICE_STATE_RESUMING)
		return -EINVAL;
	if (m->broken)
		return -EINVAL;
	while (len && !rc) {
		size_t n;

		if (m->hdr_have < 8) {
			n = 8 - m->hdr_have < len ? 8 - m->hdr_have : len;
			memcpy(m->hdr + m->hdr_have, p, n);
			m->hdr_have += (unsigned)n;
			p += n;
			len -= n;
			if (m->hdr_have == 8) {
				rc = rec_begin(d, m);
				if (!rc && m->type != REC_END)
					sum_feed(&m->sum, m->hdr, 8);
			}
			continue;
		}
		n = m->left < len ? m->left : len;
		if (m->type != REC_END)
			sum_feed(&m->sum, p, n);
		if (m->type == REC_END) {
			memcpy(m->end + m->end_have, p, n);
			m->end_have += (unsigned)n;
		} else if (m->type == REC_HOST) {
			rc = host_mig_data_write(d->host, p, n);
			if (rc == PTDM_HOST_ENOTSUP)
				rc = -ENOTSUP;
		} else {
			memcpy(m->in + m->in_len, p, n);
			m->in_len += n;
		}
		p += n;
		len -= n;
		m->left -= (uint32_t)n;
		if (!rc && !m->left) {
			rc = rec_end(d, m);
			m->hdr_have = 0;
		}
	}
	if (rc)
		m->broken = true; /* RESUMING->STOP will refuse it */
	return rc;
}

int ptdm_mig_data_size(struct ptdm_dev *d, uint64_t *bytes)
{
	uint64_t host = 0;
	int rc = host_mig_data_size(d->host, &host);

	if (rc)
		return rc == PTDM_HOST_ENOTSUP ? -ENOTSUP : rc;
	/* the backend's bytes, their record heads, HEAD, CORE, END */
	*bytes = host + (host / REC_OUT_MAX + 1) * 8 + 8 + HEAD_LEN + 8 +
		 core_len(d) + 16;
	return 0;
}
