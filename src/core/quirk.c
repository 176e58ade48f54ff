/*
 * quirk.c - the quirk registry and its dispatcher.
 *
 * At attach (after the capabilities) every quirk in quirk_registry[] whose
 * match list names the host device is recorded; unless quirks=off it is
 * applied: windows whose BAR is missing, of the wrong kind or too small are
 * dropped, the module's init may refuse, its config rows are placed only
 * over bytes no rule owns (never over a capability, kept or hidden), and
 * its windows become trapped ranges (PTDM_TRAP_QUIRK) - all checked before
 * anything is changed, so a quirk that cannot apply leaves the device as
 * it was and says why.  Matching uses the host's IDs from the attach
 * snapshot, not the guest's overrides: quirks are about the hardware.
 *
 * A trapped BAR access is cut at window edges by dev.c; quirk_window_at()
 * says which window a piece is in.  Mirror windows are the guest's
 * virtual config (ptdm_cfg_rw), so a driver that reaches config space
 * through a BAR sees what it would through config cycles and changes only
 * what a config write may change; other windows go to the module.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dev_priv.h"

const struct quirk_ops *const quirk_registry[] = {
	&quirk_nvidia_ops,
	&quirk_ati_ops,
	&quirk_rtl8168_ops,
	&quirk_igd_ops,
	&quirk_no_flr_ops,
	&quirk_ati_no_soft_reset_ops,
	&quirk_edu_test_ops,
	NULL,
};

bool quirk_matches(const struct ptdm_dev *d, const struct quirk_match *m)
{
	uint32_t vendor = cfg_host_init(d, PCI_VENDOR_ID, 2);
	uint32_t device = cfg_host_init(d, PCI_DEVICE_ID, 2);
	uint32_t class24 = cfg_host_init(d, PCI_CLASS_REVISION, 4) >> 8;
	uint8_t rev = d->host_init[PCI_REVISION_ID];

	for (; m->vendor; m++)
		if ((m->vendor == QUIRK_ANY || (uint32_t)m->vendor == vendor) &&
		    (m->device == QUIRK_ANY || (uint32_t)m->device == device) &&
		    (class24 & m->class_mask) == m->class_val &&
		    rev >= m->rev_min && rev <= m->rev_max)
			return true;
	return false;
}

/* NULL when window w fits the host's BAR, else why not. */
static const char *window_unfit(const struct ptdm_dev *d,
				const struct quirk_window *w)
{
	const struct host_bar *b;

	if (w->need == QUIRK_BAR_VGA)
		return w->bar != QUIRK_VGA ? "a VGA window outside VGA"
		       : !ptdm_dev_vga_size(d) ? "the host offers no VGA ranges"
					       : NULL;
	if (w->bar < 0 || w->bar >= PTDM_NUM_BARS)
		return "a window outside BARs 0-5";
	b = &d->bars[w->bar].host;
	switch (w->need) {
	case QUIRK_BAR_IO:
		if (b->kind != HOST_BAR_IO)
			return "its BAR is not an I/O BAR";
		break;
	case QUIRK_BAR_MEM64:
		if (b->kind != HOST_BAR_MEM64)
			return "its BAR is not a 64-bit memory BAR";
		break;
	case QUIRK_BAR_MEM:
		if (b->kind != HOST_BAR_MEM32 && b->kind != HOST_BAR_MEM64)
			return "its BAR is not a memory BAR";
		break;
	case QUIRK_BAR_VGA:
		break;
	}
	if (!b->size_known)
		return "its BAR's size is unknown";
	if (b->size < (uint64_t)w->off + w->len)
		return "its BAR is too small";
	return NULL;
}

static void inactive(struct quirk_inst *q, const char *reason)
{
	q->info.active = false;
	q->info.reason = reason;
	q->info.nranges = 0;
	q->windows = 0;
	q->regs = NULL;
}

static unsigned count_windows(const struct quirk_ops *o)
{
	unsigned n = 0;

	for (const struct quirk_window *w = o->windows; w && w->what; w++)
		n++;
	return n;
}

/* Every byte of the rows is free (no capability, no header rule). */
static int rows_free(const struct ptdm_dev *d, const struct cfg_reg *regs)
{
	for (const struct cfg_reg *r = regs; r->name; r++)
		for (unsigned i = 0; i < r->size; i++) {
			unsigned at = r->off + i;

			if (at >= d->cfg_size)
				return -ERANGE;
			if (d->owner[at] != OWNER_RAW)
				return -EEXIST;
		}
	return 0;
}

static void add_range(struct quirk_inst *q, int bar, uint64_t off,
		      uint64_t len, const char *what)
{
	if (q->info.nranges < PTDM_QUIRK_MAX_RANGES)
		q->info.range[q->info.nranges++] =
			(struct ptdm_quirk_range){ bar, off, len, what };
}

static void apply(struct ptdm_dev *d, struct quirk_inst *q)
{
	const struct quirk_ops *o = q->ops;
	unsigned nw = count_windows(o), need = 0;
	const char *unfit = NULL, *problem = NULL;
	int rc;

	q->windows = nw ? (1u << nw) - 1 : 0;
	for (unsigned i = 0; i < nw; i++) {
		const char *why = window_unfit(d, &o->windows[i]);

		if (why) {
			q->windows &= ~(1u << i);
			unfit = why;
			/* no VGA ranges is the usual case, not a problem */
			if (o->windows[i].need != QUIRK_BAR_VGA)
				problem = why;
		}
	}
	if (o->init && (rc = o->init(d, q))) {
		inactive(q, q->info.reason ? q->info.reason
					   : "the device does not fit it");
		return;
	}
	if (!q->windows && !q->regs && !o->reset) {
		inactive(q, unfit ? unfit : "nothing of it applies");
		return;
	}
	for (unsigned i = 0; i < nw; i++)
		if ((q->windows & (1u << i)) && o->windows[i].bar != QUIRK_VGA)
			need++;
	if (d->ntraps + need > DEV_MAX_TRAPS) {
		inactive(q, "the trapped-range table is full");
		return;
	}
	if (q->regs) {
		rc = rows_free(d, q->regs);
		if (!rc)
			rc = cfg_place(d, q->regs, 0, -1, d->cfg_size);
		if (rc) {
			inactive(q, rc == -EEXIST
					    ? "its config registers belong to a "
					      "capability"
					    : "its config registers do not fit");
			return;
		}
	}
	for (unsigned i = 0; i < nw; i++) {
		const struct quirk_window *w = &o->windows[i];

		if (!(q->windows & (1u << i)))
			continue;
		/* cannot fail: bar and range checked, room counted */
		if (w->bar != QUIRK_VGA)
			dev_trap_add(d, w->bar, w->off, w->len,
				     PTDM_TRAP_QUIRK);
		add_range(q, w->bar, w->off, w->len, w->what);
	}
	for (const struct cfg_reg *r = q->regs; r && r->name; r++)
		add_range(q, -1, r->off, r->size, r->name);
	q->info.active = true;
	q->info.reason = NULL;
	if (problem)
		dev_problem(d, "quirk %s: a window is left out: %s", o->name,
			    problem);
}

int quirks_attach(struct ptdm_dev *d, struct ptdm_err *err)
{
	unsigned n = 0;

	d->nquirks = 0;
	/* most devices match none: they carry no quirk array at all */
	for (const struct quirk_ops *const *op = quirk_registry; *op; op++)
		n += quirk_matches(d, (*op)->match);
	if (!n)
		return 0;
	if (n > DEV_MAX_QUIRKS)
		n = DEV_MAX_QUIRKS;
	d->quirks = calloc(n, sizeof(*d->quirks));
	if (!d->quirks)
		return ptdm_errf(err, -ENOMEM, "%s: out of memory",
				 d->host->name);
	for (const struct quirk_ops *const *op = quirk_registry; *op; op++) {
		const struct quirk_ops *o = *op;
		struct quirk_inst *q;

		if (!quirk_matches(d, o->match))
			continue;
		if (d->nquirks == n) {
			dev_problem(d, "more than %u quirks match: %s left out",
				    n, o->name);
			continue;
		}
		q = &d->quirks[d->nquirks++];
		memset(q, 0, sizeof(*q));
		q->ops = o;
		q->regs = o->regs;
		q->info.name = o->name;
		q->info.what = o->what;
		q->info.reset = o->reset;
		if (d->opts.no_quirks)
			inactive(q, "quirks=off");
		else
			apply(d, q);
	}
	return 0;
}

void quirks_reset(struct ptdm_dev *d)
{
	for (unsigned i = 0; i < d->nquirks; i++) {
		struct quirk_inst *q = &d->quirks[i];

		if (!q->info.active)
			continue;
		memset(q->st, 0, sizeof(q->st));
		if (q->ops->reset_state)
			q->ops->reset_state(d, q);
	}
}

struct quirk_inst *quirk_window_at(struct ptdm_dev *d, int bar, uint64_t off,
				   size_t *n, unsigned *w, uint64_t *woff)
{
	for (unsigned i = 0; i < d->nquirks; i++) {
		struct quirk_inst *q = &d->quirks[i];

		for (unsigned j = 0; q->windows >> j; j++) {
			const struct quirk_window *win = &q->ops->windows[j];
			uint64_t end = (uint64_t)win->off + win->len;

			if (!(q->windows & (1u << j)) || win->bar != bar)
				continue;
			if (off >= win->off && off < end) {
				if (*n > end - off)
					*n = (size_t)(end - off);
				*w = j;
				*woff = off - win->off;
				return q;
			}
		}
	}
	/* in no window: stop at the next one */
	for (unsigned i = 0; i < d->nquirks; i++) {
		struct quirk_inst *q = &d->quirks[i];

		for (unsigned j = 0; q->windows >> j; j++) {
			const struct quirk_window *win = &q->ops->windows[j];

			if ((q->windows & (1u << j)) && win->bar == bar &&
			    win->off > off && win->off - off < *n)
				*n = (size_t)(win->off - off);
		}
	}
	return NULL;
}

int quirk_window_rw(struct ptdm_dev *d, struct quirk_inst *q, unsigned w,
		    uint64_t woff, void *buf, size_t len, bool write)
{
	const struct quirk_window *win = &q->ops->windows[w];

	if (win->mirror)
		return quirk_cfg_rw(d, (unsigned)(win->cfg_base + woff), buf,
				    len, write);
	return q->ops->rw(d, q, w, woff, buf, len, write);
}

int quirk_host_rw(struct ptdm_dev *d, int bar, uint64_t off, void *buf,
		  size_t len, bool write)
{
	if (bar == QUIRK_VGA) {
		if (write && d->host->readonly)
			return -EROFS;
		return d->host->ops->vga_rw(d->host, off, buf, len, write);
	}
	if (bar < 0 || bar >= PTDM_NUM_BARS)
		return -EINVAL;
	if (!write)
		return d->host->ops->bar_read(d->host, bar, off, buf, len);
	if (d->host->readonly)
		return -EROFS;
	return d->host->ops->bar_write(d->host, bar, off, buf, len);
}

int quirk_cfg_rw(struct ptdm_dev *d, unsigned off, void *buf, size_t len,
		 bool write)
{
	size_t in = len;

	/* past config space a mirror reads all-ones and drops writes */
	if (off >= PTDM_CFG_SPACE_SIZE)
		in = 0;
	else if (len > PTDM_CFG_SPACE_SIZE - off)
		in = PTDM_CFG_SPACE_SIZE - off;
	if (!write && in < len)
		memset((uint8_t *)buf + in, 0xff, len - in);
	return in ? ptdm_cfg_rw(d, off, buf, in, write) : 0;
}

bool quirk_reg_update(uint32_t *reg, unsigned reg_off, uint64_t off,
		      const void *buf, size_t len)
{
	const uint8_t *p = buf;
	bool touched = false;

	for (size_t i = 0; i < len; i++) {
		uint64_t at = off + i;

		if (at < reg_off || at >= reg_off + 4u)
			continue;
		*reg = (*reg & ~(0xffu << (8 * (at - reg_off)))) |
		       (uint32_t)p[i] << (8 * (at - reg_off));
		touched = true;
	}
	return touched;
}

size_t ptdm_dev_nquirks(const struct ptdm_dev *d)
{
	return d->nquirks;
}

const struct ptdm_quirk_info *ptdm_dev_quirk(const struct ptdm_dev *d,
					     size_t i)
{
	return i < d->nquirks ? &d->quirks[i].info : NULL;
}
