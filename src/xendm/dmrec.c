/*
 * dmrec.c - build and parse ptdm's section of a device model save record
 * (the format is in dmrec.h).  Parsing never trusts a length before it
 * has checked it against what is there, and refuses anything it would
 * not have written itself.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmrec.h"

#define HEAD_MAGIC DMREC_HEAD_MAGIC
#define FOOT_MAGIC "PTDMXEND"
#define HEAD_LEN 16u
#define DEV_LEN (DMREC_ID_LEN + 16u)

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static size_t pad8(size_t n)
{
	return (8 - n % 8) % 8;
}

/* an id as the wrapper makes them: a letter, then [A-Za-z0-9._-] */
static bool id_ok(const char *id, size_t max)
{
	size_t n = strnlen(id, max);

	if (!n || n == max ||
	    !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	for (size_t i = n; i < max; i++) /* NUL padding, nothing hidden */
		if (id[i])
			return false;
	return true;
}

int dmrec_build(const struct dmrec_dev *devs, unsigned n, uint8_t **out,
		size_t *len)
{
	size_t total = HEAD_LEN, at;
	uint8_t *p;

	if (n > DMREC_MAX_DEVS)
		return -E2BIG;
	for (unsigned i = 0; i < n; i++) {
		if (devs[i].len > DMREC_MAX || !id_ok(devs[i].id, DMREC_ID_LEN) ||
		    devs[i].slot > 31 || devs[i].fn > 7)
			return -EINVAL;
		total += DEV_LEN + devs[i].len + pad8(devs[i].len);
		if (total > DMREC_MAX)
			return -EFBIG;
	}
	p = calloc(1, total + DMREC_FOOT_LEN);
	if (!p)
		return -ENOMEM;
	memcpy(p, HEAD_MAGIC, 8);
	put32(p + 8, n);
	at = HEAD_LEN;
	for (unsigned i = 0; i < n; i++) {
		memcpy(p + at, devs[i].id, strnlen(devs[i].id, DMREC_ID_LEN));
		put32(p + at + DMREC_ID_LEN, devs[i].slot);
		put32(p + at + DMREC_ID_LEN + 4, devs[i].fn);
		put64(p + at + DMREC_ID_LEN + 8, devs[i].len);
		at += DEV_LEN;
		if (devs[i].len)
			memcpy(p + at, devs[i].blob, devs[i].len);
		at += devs[i].len + pad8(devs[i].len);
	}
	put64(p + at, total);
	put64(p + at + 8, fnv1a(p, total));
	memcpy(p + at + 16, FOOT_MAGIC, 8);
	*out = p;
	*len = total + DMREC_FOOT_LEN;
	return 0;
}

int dmrec_footer(const uint8_t *foot, uint64_t total, uint64_t *sec_len)
{
	uint64_t n;

	if (total < DMREC_FOOT_LEN || memcmp(foot + 16, FOOT_MAGIC, 8))
		return 0;
	n = get64(foot);
	if (n < HEAD_LEN || n > DMREC_MAX || n > total - DMREC_FOOT_LEN)
		return -EINVAL;
	*sec_len = n;
	return 1;
}

static int bad(char *why, size_t wn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t wn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, wn, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int dmrec_parse(const uint8_t *sec, size_t sec_len, const uint8_t *foot,
		struct dmrec_dev devs[DMREC_MAX_DEVS], unsigned *n,
		char *why, size_t wn)
{
	size_t at = HEAD_LEN;
	uint32_t ndev;

	if (sec_len < HEAD_LEN || sec_len > DMREC_MAX ||
	    get64(foot) != sec_len)
		return bad(why, wn, "ptdm section: bad length");
	if (fnv1a(sec, sec_len) != get64(foot + 8))
		return bad(why, wn, "ptdm section damaged (checksum mismatch)");
	if (memcmp(sec, HEAD_MAGIC, 8) || get32(sec + 12))
		return bad(why, wn, "ptdm section: not a PTDMXDM1 header");
	ndev = get32(sec + 8);
	if (ndev > DMREC_MAX_DEVS)
		return bad(why, wn, "ptdm section: %u devices (at most %u)",
			   ndev, DMREC_MAX_DEVS);
	for (uint32_t i = 0; i < ndev; i++) {
		struct dmrec_dev *d = &devs[i];
		uint64_t len;

		if (sec_len - at < DEV_LEN)
			return bad(why, wn, "ptdm section: device %u truncated",
				   i);
		memcpy(d->id, sec + at, DMREC_ID_LEN);
		if (!id_ok(d->id, DMREC_ID_LEN))
			return bad(why, wn, "ptdm section: device %u: bad id",
				   i);
		d->slot = get32(sec + at + DMREC_ID_LEN);
		d->fn = get32(sec + at + DMREC_ID_LEN + 4);
		len = get64(sec + at + DMREC_ID_LEN + 8);
		if (d->slot > 31 || d->fn > 7)
			return bad(why, wn, "ptdm section: %s: bad slot", d->id);
		at += DEV_LEN;
		if (len > sec_len - at || pad8(len) > sec_len - at - len)
			return bad(why, wn, "ptdm section: %s: state truncated",
				   d->id);
		d->blob = sec + at;
		d->len = (size_t)len;
		at += d->len;
		for (size_t k = 0; k < pad8(len); k++)
			if (sec[at + k])
				return bad(why, wn, "ptdm section: %s: padding "
					   "not zero", d->id);
		at += pad8(len);
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(devs[k].id, d->id) ||
			    (devs[k].slot == d->slot && devs[k].fn == d->fn))
				return bad(why, wn, "ptdm section: %s twice",
					   d->id);
	}
	if (at != sec_len)
		return bad(why, wn, "ptdm section: %zu bytes after its devices",
			   sec_len - at);
	*n = ndev;
	return 0;
}
