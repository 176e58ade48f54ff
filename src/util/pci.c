/*
 * pci.c - the BDF parser and the capability-chain walker (util/pci.h).
 *
 * The walker is an iterator over a snapshot so each user keeps its own
 * words for a broken chain (the core records a problem per device; the
 * VFIO backend only wants the MSI-X capability) while the rules are
 * written once: bounds, alignment, one visit per dword.
 */
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>

#include "util/pci.h"

#define STD_CAP_MIN PCI_STD_HEADER_SIZEOF /* 0x40 */
#define STD_CAP_MAX (PTDM_CFG_LEGACY_SIZE - 4)
#define EXT_CAP_MIN PTDM_CFG_LEGACY_SIZE

/* ---- BDF ---- */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The hex digits at *p (at most 4) as *out; advances *p.  Returns how
 * many there were, 0 for none or too many. */
static unsigned hex_field(const char **p, unsigned *out)
{
	unsigned v = 0, n = 0;
	int d;

	while ((d = hex_digit(**p)) >= 0) {
		if (++n > 4)
			return 0;
		v = v * 16 + (unsigned)d;
		(*p)++;
	}
	*out = v;
	return n;
}

bool bdf_parse(const char *s, struct bdf *out, unsigned flags,
	       const char **end)
{
	unsigned val[3], digits[3], n = 0;
	const char *p = s;
	struct bdf b;
	int d;

	if (!s)
		return false;
	/* two or three fields separated by ':', then '.' and the function */
	for (;;) {
		digits[n] = hex_field(&p, &val[n]);
		if (!digits[n++])
			return false;
		if (*p == '.' && n >= 2)
			break;
		if (*p != ':' || n == 3)
			return false;
		p++;
	}
	p++;
	if (*p == '*' && (flags & BDF_ALLOW_ALL_FUNCS)) {
		b.func = BDF_FUNC_ALL;
	} else {
		d = hex_digit(*p);
		if (d < 0 || d > 7)
			return false;
		b.func = d;
	}
	p++;
	/* bus and device: two digits at most, as lspci prints them */
	if (digits[n - 2] > 2 || digits[n - 1] > 2 || val[n - 1] > 0x1f)
		return false;
	b.domain = n == 3 ? val[0] : 0;
	b.bus = val[n - 2];
	b.dev = val[n - 1];
	if (end) {
		if (*p && *p != ' ' && *p != '\t' && *p != '\n')
			return false;
		*end = p;
	} else if (*p) {
		return false;
	}
	*out = b;
	return true;
}

void bdf_format(const struct bdf *b, char out[16])
{
	snprintf(out, 16, "%04x:%02x:%02x.%x", b->domain & 0xffff,
		 b->bus & 0xff, b->dev & 0x1f, (unsigned)b->func & 7);
}

bool bdf_canon(const char *s, char out[16])
{
	struct bdf b;

	if (!bdf_parse(s, &b, 0, NULL))
		return false;
	bdf_format(&b, out);
	return true;
}

/* ---- capability chains ---- */

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static bool seen_test_set(struct capwalk *w, unsigned pos)
{
	unsigned i = pos / 4;
	bool was = w->seen[i / 8] & (1u << (i % 8));

	w->seen[i / 8] |= (uint8_t)(1u << (i % 8));
	return was;
}

void capwalk_std(struct capwalk *w, const uint8_t *cfg, unsigned size)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->size = size;
	w->from = PCI_CAPABILITY_LIST;
	if (size < PCI_STD_HEADER_SIZEOF ||
	    !(cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST)) {
		w->done = true;
		return;
	}
	w->pos = cfg[PCI_CAPABILITY_LIST];
	w->ptr_reserved = w->pos & 3;
	w->pos &= ~3u;
}

void capwalk_ext(struct capwalk *w, const uint8_t *cfg, unsigned size)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->size = size;
	w->ext = true;
	w->pos = EXT_CAP_MIN;
	w->done = size < PTDM_CFG_SPACE_SIZE;
}

static enum capwalk_stop stop(struct capwalk *w, enum capwalk_stop why)
{
	w->done = true;
	return why;
}

static enum capwalk_stop next_std(struct capwalk *w, struct capwalk_cap *cap)
{
	unsigned next;

	if (!w->pos)
		return stop(w, CAPWALK_END);
	if (w->pos < STD_CAP_MIN || w->pos > STD_CAP_MAX ||
	    w->pos + 2 > w->size)
		return stop(w, CAPWALK_OUT_OF_RANGE);
	if (seen_test_set(w, w->pos))
		return stop(w, CAPWALK_LOOP);
	next = w->cfg[w->pos + PCI_CAP_LIST_NEXT];
	*cap = (struct capwalk_cap){ .pos = w->pos, .next = next & ~3u,
				     .id = w->cfg[w->pos],
				     .next_reserved = next & 3 };
	w->from = w->pos + PCI_CAP_LIST_NEXT;
	w->pos = next & ~3u;
	return CAPWALK_CAP;
}

static enum capwalk_stop next_ext(struct capwalk *w, struct capwalk_cap *cap)
{
	uint32_t h;

	if (!w->pos)
		return stop(w, CAPWALK_END);
	if (w->pos < EXT_CAP_MIN)
		return stop(w, CAPWALK_BELOW_EXT);
	/* PCI_EXT_CAP_NEXT keeps pointers dword aligned and below 0x1000 */
	h = le32_at(w->cfg + w->pos);
	if (h == 0xffffffff)
		return stop(w, w->pos == EXT_CAP_MIN ? CAPWALK_END
						     : CAPWALK_ALL_ONES);
	if (h == 0 && w->pos == EXT_CAP_MIN)
		return stop(w, CAPWALK_END); /* no extended capabilities */
	if (seen_test_set(w, w->pos))
		return stop(w, CAPWALK_LOOP);
	*cap = (struct capwalk_cap){ .pos = w->pos, .next = PCI_EXT_CAP_NEXT(h),
				     .id = PCI_EXT_CAP_ID(h),
				     .version = PCI_EXT_CAP_VER(h) };
	w->from = w->pos;
	w->pos = cap->next;
	return CAPWALK_CAP;
}

enum capwalk_stop capwalk_next(struct capwalk *w, struct capwalk_cap *cap)
{
	if (w->done)
		return CAPWALK_END;
	return w->ext ? next_ext(w, cap) : next_std(w, cap);
}

unsigned capwalk_find(const uint8_t *cfg, unsigned size, bool ext,
		      uint16_t id)
{
	struct capwalk w;
	struct capwalk_cap c;

	if (ext)
		capwalk_ext(&w, cfg, size);
	else
		capwalk_std(&w, cfg, size);
	while (capwalk_next(&w, &c) == CAPWALK_CAP)
		if (c.id == id)
			return c.pos;
	return 0;
}
