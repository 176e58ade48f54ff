/*
 * lspci_text.c - lspci's text formats, read strictly.
 *
 * A dump is an optional device header line ("[DDDD:]BB:DD.F text"), then
 * hex lines "OFF: hh hh ... (16 bytes)" with offsets 16-aligned,
 * contiguous from 0: 4 lines (-x), 16 (-xxx) or 256 (-xxxx).  Blank lines
 * and CR are tolerated; a blank line after the hex ends the first device
 * (a file of several devices yields the first).  Anything else is handed
 * to the caller's line callback (the native image's directives) or is an
 * error naming the line.
 *
 * A -vvv listing gives BAR sizes: "Region N: ... [size=32K]" and
 * "Expansion ROM at ... [size=...]" lines before the first
 * "Capabilities:" line (later "Region" lines belong to SR-IOV and are
 * ignored).  A region listed without [size=] has an unknown size.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/lspci_text.h"
#include "util/pci.h"

#define MAX_LINE 1024

struct line_iter {
	const char *p, *end;
	unsigned no;
	char buf[MAX_LINE + 1];
	bool too_long;
};

/* Next line without CR/LF and trailing blanks; false at the end. */
static bool next_line(struct line_iter *it)
{
	const char *nl;
	size_t n;

	if (it->p >= it->end)
		return false;
	nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	n = (size_t)((nl ? nl : it->end) - it->p);
	it->too_long = n > MAX_LINE;
	if (it->too_long)
		n = MAX_LINE;
	memcpy(it->buf, it->p, n);
	it->buf[n] = 0;
	while (n && (it->buf[n - 1] == '\r' || it->buf[n - 1] == ' ' ||
		     it->buf[n - 1] == '\t'))
		it->buf[--n] = 0;
	it->p = nl ? nl + 1 : it->end;
	it->no++;
	return true;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A device header line: a BDF, then a blank or the end. */
static bool header_bdf(const char *s, char out[16])
{
	const char *end;
	struct bdf b;

	if (!bdf_parse(s, &b, 0, &end))
		return false;
	bdf_format(&b, out);
	return true;
}

/* "OFF: hh x16"; returns 1 for a hex line, 0 for not-hex, -1 malformed. */
static int parse_hex_line(const char *s, unsigned *off, uint8_t bytes[16])
{
	unsigned o = 0, nd = 0;
	const char *p = s;

	while (hexval((unsigned char)*p) >= 0 && nd < 4) {
		o = o * 16 + (unsigned)hexval((unsigned char)*p++);
		nd++;
	}
	if (nd < 2 || *p != ':')
		return 0;
	p++;
	for (int i = 0; i < 16; i++) {
		int hi, lo;

		if (*p != ' ')
			return -1;
		p++;
		hi = hexval((unsigned char)p[0]);
		lo = hi < 0 ? -1 : hexval((unsigned char)p[1]);
		if (hi < 0 || lo < 0)
			return -1;
		bytes[i] = (uint8_t)(hi * 16 + lo);
		p += 2;
	}
	if (*p)
		return -1;
	*off = o;
	return 1;
}

int lspci_parse_dump(const char *name, const char *text, size_t len,
		     lspci_line_fn *other, void *opaque, struct lspci_dump *out,
		     struct ptdm_err *err)
{
	struct line_iter it = { .p = text, .end = text + len };
	unsigned expect = 0;
	bool seen_header = false;
	int rc;

	memset(out, 0, sizeof(*out));
	while (next_line(&it)) {
		const char *s = it.buf;
		uint8_t bytes[16];
		unsigned off;
		int h;

		if (it.too_long)
			return ptdm_errf(err, -EINVAL, "%s:%u: line too long",
					 name, it.no);
		if (!*s) {
			if (expect)
				break; /* end of the first device */
			continue;
		}
		if (!seen_header && !expect &&
		    header_bdf(s, out->bdf)) {
			seen_header = true;
			continue;
		}
		h = parse_hex_line(s, &off, bytes);
		if (h < 0)
			return ptdm_errf(err, -EINVAL,
					 "%s:%u: malformed hex line: want "
					 "\"OFF: \" and 16 two-digit hex bytes",
					 name, it.no);
		if (h > 0) {
			if (off != expect)
				return ptdm_errf(err, -EINVAL,
						 "%s:%u: offset %#x where %#x "
						 "was expected", name, it.no,
						 off, expect);
			if (expect >= PTDM_CFG_SPACE_SIZE)
				return ptdm_errf(err, -EINVAL,
						 "%s:%u: more than 4096 bytes",
						 name, it.no);
			memcpy(out->cfg + off, bytes, 16);
			expect += 16;
			continue;
		}
		if (expect)
			return ptdm_errf(err, -EINVAL,
					 "%s:%u: unexpected text after the hex "
					 "lines", name, it.no);
		if (!other)
			return ptdm_errf(err, -EINVAL,
					 "%s:%u: not an lspci dump line", name,
					 it.no);
		rc = other(opaque, s, it.no, err);
		if (rc)
			return rc;
	}
	if (expect != 64 && expect != PTDM_CFG_LEGACY_SIZE &&
	    expect != PTDM_CFG_SPACE_SIZE)
		return ptdm_errf(err, -EINVAL,
				 "%s: %u bytes of config space; want 64 "
				 "(lspci -x), 256 (-xxx) or 4096 (-xxxx)",
				 name, expect);
	out->size = expect;
	return 0;
}

/* "32K" etc.  Returns false on junk or overflow. */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	switch (*end) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end != ']' || (shift && v > (~0ull >> shift)))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

int lspci_parse_sizes(const char *name, const char *text, size_t len,
		      struct lspci_sizes *out, struct ptdm_err *err)
{
	struct line_iter it = { .p = text, .end = text + len };
	char bdf[16];

	memset(out, 0, sizeof(*out));
	while (next_line(&it)) {
		const char *s = it.buf, *sz;
		int idx;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			continue;
		if (s == it.buf && header_bdf(s, bdf)) {
			if (out->header)
				break; /* the next device */
			out->header = true;
			continue;
		}
		if (!strncmp(s, "Capabilities:", 13))
			break;
		if (!strncmp(s, "Region ", 7) && s[7] >= '0' && s[7] <= '5' &&
		    s[8] == ':')
			idx = s[7] - '0';
		else if (!strncmp(s, "Expansion ROM at ", 17))
			idx = PTDM_ROM_INDEX;
		else
			continue;
		if (out->listed[idx])
			return ptdm_errf(err, -EINVAL,
					 "%s:%u: BAR %d listed twice", name,
					 it.no, idx);
		out->listed[idx] = true;
		out->line[idx] = it.no;
		sz = strstr(s, "[size=");
		if (!sz)
			continue;
		if (!parse_size(sz + 6, &out->size[idx]))
			return ptdm_errf(err, -EINVAL, "%s:%u: bad size in "
					 "\"%s\"", name, it.no, sz);
		out->known[idx] = true;
	}
	return 0;
}
