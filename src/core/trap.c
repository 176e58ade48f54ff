/*
 * trap.c - which ranges of a BAR the core must see: one answer for every
 * front end and backend.
 *
 * Sources register the exact bytes they emulate while the device is built
 * (MSI-X its table and PBA; a device quirk its register window) in a small
 * fixed table in the device; nothing is allocated and nothing is cached,
 * so a source that goes away (a capability hidden after its init) just
 * removes its rows.  A query rounds each source of the BAR out to the
 * host's page (start down, end up, clipped to the BAR's end when the size
 * is known), sorts them and merges what overlaps or touches: the result is
 * what a VMM must leave unmapped.  dev_trap_hit() is the same rounding at
 * any granule, for the emulation's own decisions (MSI-X answers for its
 * 4 KiB pages whatever the host page is).
 */
#include <errno.h>

#include "core/dev_priv.h"

int dev_trap_add(struct ptdm_dev *d, int bar, uint64_t off, uint64_t len,
		 unsigned why)
{
	if (bar < 0 || bar > PTDM_ROM_INDEX || !len || off + len < off)
		return -EINVAL;
	if (d->ntraps >= DEV_MAX_TRAPS)
		return -ENOSPC;
	d->traps[d->ntraps++] = (struct trap_src){ off, len, bar, why };
	return 0;
}

void dev_trap_remove(struct ptdm_dev *d, unsigned why)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->ntraps; i++)
		if (!(d->traps[i].why & why))
			d->traps[n++] = d->traps[i];
	d->ntraps = n;
}

/* [*lo, *hi) of source t rounded out to granule; false if it is empty. */
static bool rounded(const struct ptdm_dev *d, const struct trap_src *t,
		    uint64_t granule, uint64_t *lo, uint64_t *hi)
{
	const struct host_bar *b = &d->bars[t->bar].host;
	uint64_t end = t->off + t->len; /* no wrap: checked at add */

	*lo = t->off & ~(granule - 1);
	*hi = end > UINT64_MAX - (granule - 1) ? UINT64_MAX
					       : (end + granule - 1) &
							 ~(granule - 1);
	if (b->size_known && *hi > b->size)
		*hi = b->size;
	return *lo < *hi;
}

unsigned dev_trap_hit(const struct ptdm_dev *d, int bar, uint64_t off,
		      uint64_t len, unsigned why_mask, uint64_t granule)
{
	unsigned hit = 0;

	if (!len)
		return 0;
	for (unsigned i = 0; i < d->ntraps; i++) {
		const struct trap_src *t = &d->traps[i];
		uint64_t lo, hi;

		if (t->bar != bar || !(t->why & why_mask) ||
		    !rounded(d, t, granule, &lo, &hi))
			continue;
		/* [off, off+len) and [lo, hi) overlap; off+len may wrap */
		if (off < hi && (off + len > lo || off + len < off))
			hit |= t->why;
	}
	return hit;
}

int ptdm_dev_trapped(const struct ptdm_dev *d, int bar, struct ptdm_range *out,
		     unsigned max)
{
	struct ptdm_range r[DEV_MAX_TRAPS];
	unsigned n = 0, m = 0;

	if (bar < 0 || bar > PTDM_ROM_INDEX)
		return -EINVAL;
	for (unsigned i = 0; i < d->ntraps; i++) {
		const struct trap_src *t = &d->traps[i];
		uint64_t lo, hi;
		unsigned j;

		if (t->bar != bar || !rounded(d, t, d->page_size, &lo, &hi))
			continue;
		/* insertion sort by start: a handful of rows */
		for (j = n; j > 0 && r[j - 1].off > lo; j--)
			r[j] = r[j - 1];
		r[j] = (struct ptdm_range){ lo, hi - lo, t->why };
		n++;
	}
	/* merge what overlaps or touches */
	for (unsigned i = 0; i < n; i++) {
		if (m && r[i].off <= r[m - 1].off + r[m - 1].len) {
			struct ptdm_range *p = &r[m - 1];
			uint64_t end = r[i].off + r[i].len;

			if (end > p->off + p->len)
				p->len = end - p->off;
			p->why |= r[i].why;
		} else {
			r[m++] = r[i];
		}
	}
	for (unsigned i = 0; i < m && i < max; i++)
		out[i] = r[i];
	return (int)m;
}

bool ptdm_dev_is_trapped(const struct ptdm_dev *d, int bar, uint64_t off,
			 uint64_t len)
{
	if (bar < 0 || bar > PTDM_ROM_INDEX)
		return false;
	return dev_trap_hit(d, bar, off, len, ~0u, d->page_size) != 0;
}

unsigned ptdm_dev_page_size(const struct ptdm_dev *d)
{
	return d->page_size;
}
