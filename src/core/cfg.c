/*
 * cfg.c - the config-space dispatcher: one read merge, one write path.
 *
 * Every byte of the 4 KiB space has an owner in d->owner[]: a register slot
 * placed from a capability's const table, OWNER_RAW (no rule: host bytes,
 * written only in permissive mode), OWNER_ZERO (hidden: reads 0) or
 * OWNER_ABSENT (past the host's config size: reads all-ones).  An access of
 * 1, 2 or 4 bytes at any offset is cut into pieces at owner boundaries; a
 * piece inside a register is applied to the whole register with a byte mask.
 * The read path allocates nothing and walks no list: one owner load, one
 * slot, a host read only when the register has pass-through bits.
 *
 * Masks and their meaning are documented in cfg_priv.h.
 *
 * This file links against nothing else of the core (only the log): what
 * a register does beyond the generic merge is reached through the hooks in
 * its table row, and building the map (header, capabilities) is dev.c's.
 * test_dispatch builds it alone to keep it that way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/dev_priv.h"

static inline uint32_t width_mask(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

uint32_t cfg_shadow_get(const struct ptdm_dev *d, unsigned off, unsigned size)
{
	return cfg_le_get(d->shadow + off, size);
}

void cfg_shadow_set(struct ptdm_dev *d, unsigned off, unsigned size,
		    uint32_t val)
{
	cfg_le_put(d->shadow + off, size, val);
}

uint32_t cfg_host_init(const struct ptdm_dev *d, unsigned off, unsigned size)
{
	return cfg_le_get(d->host_init + off, size);
}

int cfg_host_read(struct ptdm_dev *d, unsigned off, unsigned size,
		  uint32_t *val)
{
	uint8_t b[4];
	int rc;

	if (size > 4 || off + size > d->cfg_size)
		return -EINVAL;
	rc = host_cfg_read(d->host, off, b, size);
	if (rc)
		return rc;
	*val = cfg_le_get(b, size);
	return 0;
}

static void host_write_failed(struct ptdm_dev *d, unsigned off, int rc);

int cfg_host_write(struct ptdm_dev *d, unsigned off, unsigned size,
		   uint32_t val)
{
	uint8_t b[4];
	int rc;

	if (size > 4 || off + size > d->cfg_size)
		return -EINVAL;
	cfg_le_put(b, size, val);
	rc = host_cfg_write(d->host, off, b, size);
	if (rc)
		host_write_failed(d, off, rc);
	return rc;
}

unsigned cfg_slot_cap_pos(const struct ptdm_dev *d, const struct cfg_slot *s)
{
	return s->cap < 0 ? 0 : d->caps[s->cap].info.pos;
}

/* ---- placement ---- */

int cfg_place(struct ptdm_dev *d, const struct cfg_reg *table, unsigned base,
	      int cap, unsigned limit)
{
	unsigned n = 0;

	if (limit > d->cfg_size)
		limit = d->cfg_size;
	/* validate every row before taking any byte: all or nothing */
	for (const struct cfg_reg *r = table; r->name; r++, n++) {
		unsigned at = base + r->off;
		uint32_t wm = width_mask(r->size);

		if ((r->size != 1 && r->size != 2 && r->size != 4) ||
		    at % r->size || at + r->size > limit)
			return -ERANGE;
		if ((r->virt | r->write | r->rw1c | r->rsvd) & ~wm ||
		    r->rw1c & ~r->write || r->rsvd & r->write)
			return -EINVAL; /* a table bug: caught by unit tests */
		for (unsigned i = 0; i < r->size; i++)
			if (d->owner[at + i] != OWNER_RAW &&
			    d->owner[at + i] != OWNER_ZERO)
				return -EEXIST;
	}
	if (d->nslots + n > CFG_MAX_SLOTS)
		return -ENOSPC;
	for (const struct cfg_reg *r = table; r->name; r++) {
		unsigned at = base + r->off;
		struct cfg_slot *s = &d->slots[d->nslots];

		s->reg = r;
		s->base = (uint16_t)at;
		s->cap = (int16_t)cap;
		for (unsigned i = 0; i < r->size; i++)
			d->owner[at + i] = (uint16_t)d->nslots;
		d->nslots++;
	}
	return 0;
}

void cfg_map_init(struct ptdm_dev *d)
{
	for (unsigned i = 0; i < PTDM_CFG_SPACE_SIZE; i++)
		d->owner[i] = i < d->cfg_size ? OWNER_RAW : OWNER_ABSENT;
	d->nslots = 0;
}

/* ---- access ---- */

/* Whole register value as the guest sees it.  Inlined by force: the read
 * fast path and the trace both use it, and as a call it costs ptdm bench
 * cfg about 15 %. */
static inline __attribute__((always_inline)) uint32_t
slot_read(struct ptdm_dev *d, const struct cfg_slot *s)
{
	const struct cfg_reg *r = s->reg;
	uint32_t wm = width_mask(r->size);
	uint32_t val = cfg_shadow_get(d, s->base, r->size) & r->virt;

	if (~r->virt & wm) {
		uint32_t host;

		if (cfg_host_read(d, s->base, r->size, &host))
			host = wm; /* a device that fails reads looks absent */
		val |= host & ~r->virt;
	}
	if (r->read)
		val = r->read(d, s, val);
	return val & wm;
}

/* Write bytes of new whose byte in bytes_mask is set, in contiguous runs. */
static int host_write_runs(struct ptdm_dev *d, unsigned base, unsigned size,
			   uint32_t val, uint32_t bits)
{
	uint8_t b[4];
	unsigned i = 0;

	cfg_le_put(b, size, val);
	while (i < size) {
		unsigned j;
		int rc;

		if (!((bits >> (8 * i)) & 0xff)) {
			i++;
			continue;
		}
		for (j = i; j < size && ((bits >> (8 * j)) & 0xff); j++)
			;
		rc = host_cfg_write(d->host, base + i, b + i, j - i);
		if (rc)
			return rc;
		i = j;
	}
	return 0;
}

static void warn_inhibited(struct ptdm_dev *d, unsigned off, const char *what)
{
	PTDM_LOG_ONCE(d->warned_unknown_write, PTDM_LOG_WARN,
		      "%s: guest write to %s at config offset %#05x dropped; "
		      "if the device does not work, try permissive=1 "
		      "(further such writes are dropped silently)",
		      d->host->name, what, off);
}

static void host_write_failed(struct ptdm_dev *d, unsigned off, int rc)
{
	d->st.host_cfg_write_errors++;
	ptdm_log_ratelimited(&d->host_rl, PTDM_LOG_WARN,
			     "%s: host config write at %#05x failed: %s",
			     d->host->name, off, strerror(-rc));
}

/*
 * What one register's part of a guest write did: PTDM_TRACE_* in the low
 * byte, one bit per enum ptdm_drop_reason above it.
 */
#define RES_DROP(r) (1u << (8 + (r)))
#define RES_DROPS(res) ((res) >> 8)

/* val, mask: at register position. */
static unsigned slot_write(struct ptdm_dev *d, const struct cfg_slot *s,
			   uint32_t val, uint32_t mask)
{
	const struct cfg_reg *r = s->reg;
	uint32_t old = cfg_shadow_get(d, s->base, r->size);
	uint32_t wmask = r->write & mask & (r->filter ? r->filter(d, s, val)
						      : ~0u);
	uint32_t vw = wmask & r->virt;
	uint32_t hw = wmask & ~r->virt;
	uint32_t rs = r->rsvd & ~r->virt & mask;
	/* read-only: neither writable nor host-reserved */
	uint32_t ro = mask & width_mask(r->size) & ~r->write & ~rs;
	uint32_t ro_host = ro & ~r->virt;
	unsigned res = 0;

	/* virtual part: plain bits take the value, RW1C bits clear on 1 */
	if (vw) {
		uint32_t nv = (old & ~(vw & ~r->rw1c)) | (val & vw & ~r->rw1c);

		nv &= ~(val & vw & r->rw1c);
		cfg_shadow_set(d, s->base, r->size, nv);
		res |= PTDM_TRACE_VIRTUAL;
	}
	/* a register with RW1C bits is a status register: 0 written to its
	 * read-only bits is how software leaves them alone */
	if ((val ^ old) & ro & r->virt & (r->rw1c ? val : ~0u))
		res |= RES_DROP(PTDM_DROP_READONLY);
	if (rs && d->opts.permissive)
		hw |= rs;
	/* an RW1C bit written as 0 changes nothing: no reason to write */
	hw &= ~r->rw1c | val;
	if ((hw || rs || ro_host) && !d->loading) {
		uint32_t cur;

		/* XSA-128: no fresh host value, no host write */
		if (cfg_host_read(d, s->base, r->size, &cur) == 0) {
			uint32_t ro_changed = (val ^ cur) & ro_host;

			if (r->rw1c) /* a status register, as above */
				ro_changed &= val;
			if (ro_changed)
				res |= RES_DROP(PTDM_DROP_READONLY);
			if (rs && !d->opts.permissive && ((val ^ cur) & rs)) {
				warn_inhibited(d, s->base, "reserved bits");
				res |= RES_DROP(PTDM_DROP_RESERVED);
			}
			if (hw) {
				uint32_t nv = (cur & ~(hw | r->rw1c)) |
					      (val & hw);
				int rc = host_write_runs(d, s->base, r->size,
							 nv, hw);

				if (rc) {
					host_write_failed(d, s->base, rc);
					res |= PTDM_TRACE_HOST_ERROR;
				} else {
					res |= PTDM_TRACE_HOST;
				}
			}
		} else if (hw || rs) {
			res |= RES_DROP(PTDM_DROP_NO_HOST_VALUE);
		}
	}
	if (r->on_write) {
		r->on_write(d, s, old, val, mask);
		res |= PTDM_TRACE_VIRTUAL;
	}
	return res;
}

void cfg_slot_write(struct ptdm_dev *d, const struct cfg_slot *s,
		    uint32_t val, uint32_t mask)
{
	slot_write(d, s, val, mask);
}

static int check_access(unsigned off, unsigned size)
{
	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;
	if (off >= PTDM_CFG_SPACE_SIZE || size > PTDM_CFG_SPACE_SIZE - off)
		return -EINVAL;
	return 0;
}

/* Length of the run of bytes from pos (inside the access) with owner o. */
static unsigned run_len(const struct ptdm_dev *d, unsigned pos, unsigned left,
			uint16_t o)
{
	unsigned n = 1;

	while (n < left && d->owner[pos + n] == o)
		n++;
	return n;
}

/* The guest's view of the bytes from pos with one owner (at most left of
 * them; *n says how many), at bit 0. */
static uint32_t read_piece(struct ptdm_dev *d, unsigned pos,
				  unsigned left, unsigned *n)
{
	uint16_t o = d->owner[pos];
	uint32_t piece;

	if (o < OWNER_ABSENT) {
		const struct cfg_slot *s = &d->slots[o];

		*n = s->base + s->reg->size - pos;
		if (*n > left)
			*n = left;
		piece = slot_read(d, s) >> (8 * (pos - s->base));
	} else {
		*n = run_len(d, pos, left, o);
		if (o == OWNER_RAW) {
			uint8_t b[4];

			if (host_cfg_read(d->host, pos, b, *n))
				memset(b, 0xff, *n);
			piece = cfg_le_get(b, *n);
		} else {
			piece = o == OWNER_ZERO ? 0 : 0xffffffffu;
		}
	}
	return piece & width_mask(*n);
}

int ptdm_cfg_read(struct ptdm_dev *d, unsigned off, unsigned size,
		  uint32_t *val)
{
	uint32_t out = 0;
	unsigned done = 0;
	int rc = check_access(off, size);

	if (rc)
		return rc;
	d->st.cfg_reads++;
	/* the fast path: read_piece() written out, without the call */
	while (done < size) {
		unsigned pos = off + done, n, shift;
		uint16_t o = d->owner[pos];
		uint32_t piece;

		if (o < OWNER_ABSENT) {
			const struct cfg_slot *s = &d->slots[o];

			n = s->base + s->reg->size - pos;
			if (n > size - done)
				n = size - done;
			shift = 8 * (pos - s->base);
			piece = slot_read(d, s) >> shift;
		} else {
			n = run_len(d, pos, size - done, o);
			if (o == OWNER_RAW) {
				uint8_t b[4];

				if (host_cfg_read(d->host, pos, b, n))
					memset(b, 0xff, n);
				piece = cfg_le_get(b, n);
			} else {
				piece = o == OWNER_ZERO ? 0 : 0xffffffffu;
			}
		}
		out |= (piece & width_mask(n)) << (8 * done);
		done += n;
	}
	*val = out;
	return 0;
}

/* Write the bytes from pos with one owner (piece at bit 0); *n as for
 * read_piece.  Returns what happened (slot_write's bits). */
static unsigned write_piece(struct ptdm_dev *d, unsigned pos, unsigned left,
			    uint32_t piece, unsigned *n)
{
	uint16_t o = d->owner[pos];

	if (o < OWNER_ABSENT) {
		const struct cfg_slot *s = &d->slots[o];
		unsigned shift = 8 * (pos - s->base);

		*n = s->base + s->reg->size - pos;
		if (*n > left)
			*n = left;
		return slot_write(d, s, (piece & width_mask(*n)) << shift,
				  width_mask(*n) << shift);
	}
	*n = run_len(d, pos, left, o);
	piece &= width_mask(*n);
	if (o == OWNER_RAW) {
		uint8_t b[4];
		int rc;

		if (!d->opts.permissive) {
			warn_inhibited(d, pos, "a field no rule covers");
			return RES_DROP(PTDM_DROP_NO_RULE);
		}
		cfg_le_put(b, *n, piece);
		rc = host_cfg_write(d->host, pos, b, *n);
		if (rc) {
			host_write_failed(d, pos, rc);
			return PTDM_TRACE_HOST_ERROR;
		}
		return PTDM_TRACE_HOST;
	}
	/* hidden reads 0, absent all-ones: writing that changes nothing */
	if (piece != (o == OWNER_ZERO ? 0 : width_mask(*n)))
		return RES_DROP(PTDM_DROP_HIDDEN);
	return 0;
}

static void count_drops(struct ptdm_dev *d, unsigned drops)
{
	d->st.dropped++;
	for (unsigned r = 0; r < PTDM_DROP_NR; r++)
		if (drops & (1u << r))
			d->st.dropped_by[r]++;
}

/* The rule each reason stands for, as the trace names it. */
static const char *const drop_rules[PTDM_DROP_NR] = {
	[PTDM_DROP_READONLY] = "read-only bits: writes ignored",
	[PTDM_DROP_RESERVED] = "reserved bits reach the host only in "
			       "permissive mode",
	[PTDM_DROP_NO_RULE] = "no rule covers this field: read-only unless "
			      "permissive (XSA-131)",
	[PTDM_DROP_HIDDEN] = "hidden capability or past config space: "
			     "reads 0 / all-ones",
	[PTDM_DROP_NO_HOST_VALUE] = "host read failed: no write without a "
				    "fresh value (XSA-128)",
	[PTDM_DROP_DECODE_OFF] = "guest decode off: nothing reaches the device",
	[PTDM_DROP_D3] = "device not in D0: nothing reaches the device",
	[PTDM_DROP_MSIX_PAGE] = "MSI-X page: only aligned table accesses "
				"(XSA-164)",
};

static const char *const drop_names[PTDM_DROP_NR] = {
	[PTDM_DROP_READONLY] = "read-only",
	[PTDM_DROP_RESERVED] = "reserved",
	[PTDM_DROP_NO_RULE] = "no rule",
	[PTDM_DROP_HIDDEN] = "hidden",
	[PTDM_DROP_NO_HOST_VALUE] = "no host value",
	[PTDM_DROP_DECODE_OFF] = "decode off",
	[PTDM_DROP_D3] = "not in D0",
	[PTDM_DROP_MSIX_PAGE] = "MSI-X page",
};

const char *ptdm_drop_reason_name(enum ptdm_drop_reason r)
{
	return (unsigned)r < PTDM_DROP_NR ? drop_names[r] : "unknown";
}

/* The slow twin of the write loop: the guest view before and after each
 * piece, one trace call per register. */
static unsigned write_traced(struct ptdm_dev *d, unsigned off, unsigned size,
			     uint32_t val)
{
	unsigned done = 0, all = 0;

	while (done < size) {
		unsigned pos = off + done, n, res;
		uint16_t o = d->owner[pos];
		uint32_t piece = val >> (8 * done);
		struct ptdm_cfg_trace t = { .off = pos };

		t.old_val = read_piece(d, pos, size - done, &n);
		res = write_piece(d, pos, size - done, piece, &n);
		t.new_val = read_piece(d, pos, n, &n);
		t.len = n;
		t.val = piece & width_mask(n);
		if (o < OWNER_ABSENT) {
			const struct cfg_slot *s = &d->slots[o];

			t.reg = s->reg->name;
			t.cap = s->cap < 0 ? NULL : d->caps[s->cap].info.name;
		} else {
			t.reg = o == OWNER_RAW	   ? "(no rule)"
				: o == OWNER_ZERO ? "(hidden)"
						  : "(past config space)";
		}
		t.outcome = res & 0xff;
		if (RES_DROPS(res)) {
			t.outcome |= PTDM_TRACE_DROPPED;
			t.reason = (enum ptdm_drop_reason)__builtin_ctz(
				RES_DROPS(res));
			t.rule = drop_rules[t.reason];
		}
		if (!t.outcome)
			t.outcome = PTDM_TRACE_VIRTUAL; /* nothing to change */
		d->trace_fn(d->trace_opaque, &t);
		all |= res;
		done += n;
	}
	return all;
}

int ptdm_cfg_write(struct ptdm_dev *d, unsigned off, unsigned size,
		   uint32_t val)
{
	unsigned done = 0, res = 0;
	int rc = check_access(off, size);

	if (rc)
		return rc;
	d->st.cfg_writes++;
	if (__builtin_expect(d->trace_fn != NULL, 0)) {
		res = write_traced(d, off, size, val);
	} else {
		while (done < size) {
			unsigned n;

			res |= write_piece(d, off + done, size - done,
					   val >> (8 * done), &n);
			done += n;
		}
	}
	if (RES_DROPS(res))
		count_drops(d, RES_DROPS(res));
	return 0;
}

void ptdm_dev_set_trace(struct ptdm_dev *d, ptdm_trace_fn *fn, void *opaque)
{
	d->trace_fn = fn;
	d->trace_opaque = fn ? opaque : NULL;
}

void ptdm_dev_stats(const struct ptdm_dev *d, struct ptdm_dev_stats *out)
{
	*out = d->st;
}

int ptdm_cfg_rw(struct ptdm_dev *d, unsigned off, void *buf, size_t len,
		bool write)
{
	uint8_t *p = buf;

	if (off > PTDM_CFG_SPACE_SIZE || len > PTDM_CFG_SPACE_SIZE - off)
		return -EINVAL;
	while (len) {
		unsigned n = 1;
		uint32_t v;
		int rc;

		if (!(off & 3) && len >= 4)
			n = 4;
		else if (!(off & 1) && len >= 2)
			n = 2;
		if (write) {
			rc = ptdm_cfg_write(d, off, n, cfg_le_get(p, n));
		} else {
			rc = ptdm_cfg_read(d, off, n, &v);
			if (!rc)
				cfg_le_put(p, n, v);
		}
		if (rc)
			return rc;
		off += n;
		p += n;
		len -= n;
	}
	return 0;
}

unsigned ptdm_cfg_size(const struct ptdm_dev *d)
{
	return d->cfg_size;
}
