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

int cfg_host_write(struct ptdm_dev *d, unsigned off, unsigned size,
		   uint32_t val)
{
	uint8_t b[4];

	if (size > 4 || off + size > d->cfg_size)
		return -EINVAL;
	cfg_le_put(b, size, val);
	return host_cfg_write(d->host, off, b, size);
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

int cfg_build(struct ptdm_dev *d, struct ptdm_err *err)
{
	int rc;

	for (unsigned i = 0; i < PTDM_CFG_SPACE_SIZE; i++)
		d->owner[i] = i < d->cfg_size ? OWNER_RAW : OWNER_ABSENT;
	d->nslots = 0;
	rc = cfg_place(d, hdr_type0_regs, 0, -1, PCI_STD_HEADER_SIZEOF);
	if (rc)
		return ptdm_errf(err, rc, "%s: header table: %s", d->host->name,
				 strerror(-rc));
	return caps_build(d, err);
}

void cfg_reset_shadow(struct ptdm_dev *d)
{
	memcpy(d->shadow, d->host_init, sizeof(d->shadow));
	hdr_reset(d);
	caps_relink(d);
	for (unsigned i = 0; i < d->ncaps; i++) {
		struct cap_inst *c = &d->caps[i];

		if (!c->info.hidden && c->ops && c->ops->reset)
			c->ops->reset(d, c);
	}
}

/* ---- access ---- */

/* Whole register value as the guest sees it. */
static uint32_t slot_read(struct ptdm_dev *d, const struct cfg_slot *s)
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

/* val, mask: at register position. */
void cfg_slot_write(struct ptdm_dev *d, const struct cfg_slot *s,
		       uint32_t val, uint32_t mask)
{
	const struct cfg_reg *r = s->reg;
	uint32_t old = cfg_shadow_get(d, s->base, r->size);
	uint32_t wmask = r->write & mask & (r->filter ? r->filter(d, s, val)
						      : ~0u);
	uint32_t vw = wmask & r->virt;
	uint32_t hw = wmask & ~r->virt;
	uint32_t rs = r->rsvd & ~r->virt & mask;

	/* virtual part: plain bits take the value, RW1C bits clear on 1 */
	if (vw) {
		uint32_t nv = (old & ~(vw & ~r->rw1c)) | (val & vw & ~r->rw1c);

		nv &= ~(val & vw & r->rw1c);
		cfg_shadow_set(d, s->base, r->size, nv);
	}
	if (rs && d->opts.permissive)
		hw |= rs;
	/* an RW1C bit written as 0 changes nothing: no reason to write */
	hw &= ~r->rw1c | val;
	if ((hw || rs) && !d->loading) {
		uint32_t cur;

		/* XSA-128: no fresh host value, no host write */
		if (cfg_host_read(d, s->base, r->size, &cur) == 0) {
			if (rs && !d->opts.permissive && ((val ^ cur) & rs))
				warn_inhibited(d, s->base, "reserved bits");
			if (hw) {
				uint32_t nv = (cur & ~(hw | r->rw1c)) |
					      (val & hw);

				host_write_runs(d, s->base, r->size, nv, hw);
			}
		}
	}
	if (r->on_write)
		r->on_write(d, s, old, val, mask);
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

int ptdm_cfg_read(struct ptdm_dev *d, unsigned off, unsigned size,
		  uint32_t *val)
{
	uint32_t out = 0;
	unsigned done = 0;
	int rc = check_access(off, size);

	if (rc)
		return rc;
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

int ptdm_cfg_write(struct ptdm_dev *d, unsigned off, unsigned size,
		   uint32_t val)
{
	unsigned done = 0;
	int rc = check_access(off, size);

	if (rc)
		return rc;
	while (done < size) {
		unsigned pos = off + done, n;
		uint16_t o = d->owner[pos];
		uint32_t piece = (val >> (8 * done)) & 0xffffffffu;

		if (o < OWNER_ABSENT) {
			const struct cfg_slot *s = &d->slots[o];
			unsigned shift = 8 * (pos - s->base);

			n = s->base + s->reg->size - pos;
			if (n > size - done)
				n = size - done;
			cfg_slot_write(d, s, (piece & width_mask(n)) << shift,
				   width_mask(n) << shift);
		} else {
			n = run_len(d, pos, size - done, o);
			if (o == OWNER_RAW) {
				if (d->opts.permissive) {
					uint8_t b[4];

					cfg_le_put(b, n, piece);
					host_cfg_write(d->host, pos, b, n);
				} else {
					warn_inhibited(d, pos,
						       "a field no rule covers");
				}
			}
		}
		done += n;
	}
	return 0;
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
