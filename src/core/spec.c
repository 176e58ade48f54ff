/*
 * spec.c - xl-compatible PCI spec strings (xl-pci-configuration(5)).
 *
 * Tokens are comma-separated.  The first may be positional: a BDF with an
 * optional @VSLOT, or - ptdm's extension - an image path (any first token
 * that is not key=value and does not look like a BDF: it has a character
 * other than hex digits, ':', '.', '*' and '@').  Every other token is
 * key=value.  A token that looks like a BDF but is not one is an error,
 * never a path, so a typo cannot silently open a file.  Errors quote the
 * offending token.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptdm/spec.h"

#define MAX_SPEC 8192

static bool bdf_like(const char *t)
{
	bool colon = false;

	for (const char *p = t; *p; p++) {
		if (*p == ':')
			colon = true;
		else if (!isxdigit((unsigned char)*p) && *p != '.' && *p != '*' &&
			 *p != '@')
			return false;
	}
	return colon;
}

/*
 * Shaped like a BDF with a typo ("0000:zz:00.0"): [DDDD:]BB:DD.F[@S] with
 * letters or digits where hex belongs, no '/'.  Such a token is reported
 * as a bad address instead of being opened as an image file.
 */
static bool bdf_shaped(const char *t)
{
	size_t len[4] = { 0 }, f = 0;
	unsigned colons = 0;

	for (const char *p = t; *p && *p != '@'; p++) {
		if (*p == ':' && !f && colons < 2) {
			colons++;
		} else if (*p == '.' && !f && colons) {
			f = 1;
		} else if (isalnum((unsigned char)*p) || *p == '*') {
			if (f)
				len[3]++;
			else
				len[colons]++;
		} else {
			return false;
		}
	}
	if (colons == 1) { /* BB:DD.F: no domain */
		len[2] = len[1];
		len[1] = len[0];
		len[0] = 1;
	}
	return colons && f && len[0] && len[0] <= 4 && len[1] && len[1] <= 2 &&
	       len[2] && len[2] <= 2 && len[3] == 1;
}

/* Hex number of at most maxd digits, whole string, value <= max. */
static bool parse_hex(const char *s, size_t n, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (!n || n > 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		v = v * 16 + (unsigned)(isdigit((unsigned char)s[i])
						? s[i] - '0'
						: tolower((unsigned char)s[i]) -
							  'a' + 10);
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/* [DDDD:]BB:DD.F ; F may be '*' */
static bool parse_bdf(struct ptdm_spec *s, const char *t)
{
	const char *c1 = strchr(t, ':'), *c2, *dot;
	unsigned dom = 0, bus, dev, fn;

	if (!c1)
		return false;
	c2 = strchr(c1 + 1, ':');
	if (c2) {
		if (!parse_hex(t, (size_t)(c1 - t), 0xffff, &dom))
			return false;
		t = c1 + 1;
		c1 = c2;
	}
	dot = strchr(c1 + 1, '.');
	if (!dot || strchr(dot + 1, '.') || strchr(c1 + 1, ':'))
		return false;
	if (!parse_hex(t, (size_t)(c1 - t), 0xff, &bus) || c1 - t > 2 ||
	    !parse_hex(c1 + 1, (size_t)(dot - c1 - 1), 0x1f, &dev) ||
	    dot - c1 - 1 > 2)
		return false;
	if (!strcmp(dot + 1, "*")) {
		s->func = PTDM_SPEC_FUNC_ALL;
	} else {
		if (!parse_hex(dot + 1, strlen(dot + 1), 7, &fn) ||
		    strlen(dot + 1) != 1)
			return false;
		s->func = (int)fn;
	}
	s->has_bdf = true;
	s->domain = dom;
	s->bus = bus;
	s->dev = dev;
	return true;
}

static bool parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i])) {
			*out = 1;
			return true;
		}
		if (!strcmp(v, no[i])) {
			*out = 0;
			return true;
		}
	}
	return false;
}

static bool parse_vslot(const char *v, int *out)
{
	unsigned x;

	if (!strncmp(v, "0x", 2) || !strncmp(v, "0X", 2))
		v += 2;
	if (!parse_hex(v, strlen(v), 0x1f, &x))
		return false;
	*out = (int)x;
	return true;
}

static bool parse_id(const char *v, int32_t *out)
{
	unsigned x;

	if (!strncmp(v, "0x", 2) || !strncmp(v, "0X", 2))
		v += 2;
	if (strlen(v) > 4 || !parse_hex(v, strlen(v), 0xffff, &x))
		return false;
	*out = (int32_t)x;
	return true;
}

static int bad(struct ptdm_err *err, const char *tok, const char *why)
{
	return ptdm_errf(err, -EINVAL, "PCI spec: bad token \"%s\": %s", tok,
			 why);
}

/* Levenshtein distance of two short strings (keys; longer: "far") */
static unsigned edit_distance(const char *a, const char *b)
{
	enum { MAXLEN = 32 };
	unsigned row[MAXLEN + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > MAXLEN || lb > MAXLEN)
		return MAXLEN;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* "unknown key 'permisive': did you mean 'permissive'?" (distance <= 2),
 * else the list of keys */
static int unknown_key(struct ptdm_err *err, const char *shown,
		       const char *key, const char *const *keys, size_t n)
{
	char why[400];
	unsigned best = 3, d;
	size_t k = n, used;

	for (size_t i = 0; i < n; i++) {
		d = edit_distance(key, keys[i]);
		if (d < best) {
			best = d;
			k = i;
		}
	}
	if (k < n) {
		snprintf(why, sizeof(why), "unknown key '%.64s': did you mean "
			 "'%s'?", key, keys[k]);
		return bad(err, shown, why);
	}
	used = (size_t)snprintf(why, sizeof(why), "unknown key '%.64s' (keys:",
				key);
	for (size_t i = 0; i < n && used < sizeof(why); i++)
		used += (size_t)snprintf(why + used, sizeof(why) - used, " %s",
					 keys[i]);
	if (used < sizeof(why))
		snprintf(why + used, sizeof(why) - used, ")");
	return bad(err, shown, why);
}

static int copy_str(char *dst, size_t n, const char *v, const char *tok,
		    struct ptdm_err *err)
{
	if (strlen(v) >= n)
		return bad(err, tok, "too long");
	strcpy(dst, v);
	return 0;
}

static int key_value(struct ptdm_spec *s, char *tok, unsigned *seen,
		     struct ptdm_err *err)
{
	static const char *const keys[] = {
		"bdf", "vslot", "permissive", "msitranslate", "power_mgmt",
		"seize", "rdm_policy", "name", "image", "sizes", "vendor",
		"device", "subvendor", "subdevice", "mmap", "quirks",
		"romfile", "rombar", "multifunction", "group",
	};
	char *eq = strchr(tok, '=');
	const char *v = eq + 1;
	unsigned k;
	bool ok = true;
	char shown[128];

	snprintf(shown, sizeof(shown), "%s", tok);
	*eq = 0;
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (!strcmp(tok, keys[k]))
			break;
	if (k == sizeof(keys) / sizeof(keys[0]))
		return unknown_key(err, shown, tok, keys,
				   sizeof(keys) / sizeof(keys[0]));
	if (!*v)
		return bad(err, shown, "empty value");
	if (*seen & (1u << k))
		return bad(err, shown, "key given twice");
	*seen |= 1u << k;
	switch (k) {
	case 0:
		if (s->has_bdf)
			return bad(err, shown, "BDF given twice");
		ok = parse_bdf(s, v);
		break;
	case 1:
		if (s->vslot >= 0)
			return bad(err, shown, "vslot given twice");
		ok = parse_vslot(v, &s->vslot);
		break;
	case 2: ok = parse_bool(v, &s->permissive); break;
	case 3: ok = parse_bool(v, &s->msitranslate); break;
	case 4: ok = parse_bool(v, &s->power_mgmt); break;
	case 5: ok = parse_bool(v, &s->seize); break;
	case 6:
		if (!strcmp(v, "strict"))
			s->rdm_policy = PTDM_RDM_STRICT;
		else if (!strcmp(v, "relaxed"))
			s->rdm_policy = PTDM_RDM_RELAXED;
		else
			return bad(err, shown, "want strict or relaxed");
		break;
	case 7: return copy_str(s->name, sizeof(s->name), v, shown, err);
	case 8:
		if (s->image[0])
			return bad(err, shown, "image given twice");
		return copy_str(s->image, sizeof(s->image), v, shown, err);
	case 9: return copy_str(s->sizes, sizeof(s->sizes), v, shown, err);
	case 10: ok = parse_id(v, &s->vendor_id); break;
	case 11: ok = parse_id(v, &s->device_id); break;
	case 12: ok = parse_id(v, &s->subsystem_vendor_id); break;
	case 13: ok = parse_id(v, &s->subsystem_id); break;
	case 14:
		if (!strcmp(v, "fd"))
			s->mmap = PTDM_MMAP_FD;
		else if (!strcmp(v, "trap"))
			s->mmap = PTDM_MMAP_TRAP;
		else
			return bad(err, shown, "want fd or trap");
		break;
	case 15: ok = parse_bool(v, &s->quirks); break;
	case 16:
		return copy_str(s->romfile, sizeof(s->romfile), v, shown, err);
	case 17: ok = parse_bool(v, &s->rombar); break;
	case 18: ok = parse_bool(v, &s->multifunction); break;
	case 19:
		if (!strcmp(v, "whole"))
			s->group = PTDM_GROUP_WHOLE;
		else if (!strcmp(v, "partial"))
			s->group = PTDM_GROUP_PARTIAL;
		else
			return bad(err, shown, "want whole or partial");
		break;
	}
	if (!ok)
		return bad(err, shown, k == 0 ? "want [DDDD:]BB:DD.F"
				       : k == 1 ? "want a hex slot 0..1f"
				       : k >= 10 ? "want a hex ID 0..ffff"
						 : "want 0 or 1");
	return 0;
}

/* BDF[@VSLOT] or an image path. */
static int positional(struct ptdm_spec *s, char *tok, struct ptdm_err *err)
{
	char *at;

	if (!bdf_like(tok) && bdf_shaped(tok))
		return bad(err, tok, "not a PCI address (want hex "
			   "[DDDD:]BB:DD.F); an image file of that name: "
			   "./NAME or image=NAME");
	if (!bdf_like(tok))
		return copy_str(s->image, sizeof(s->image), tok, tok, err);
	at = strchr(tok, '@');
	if (at) {
		*at = 0;
		if (!parse_vslot(at + 1, &s->vslot)) {
			*at = '@';
			return bad(err, tok, "want BDF@VSLOT with a hex slot "
					     "0..1f");
		}
	}
	if (!parse_bdf(s, tok)) {
		if (at)
			*at = '@';
		return bad(err, tok, "want [DDDD:]BB:DD.F");
	}
	return 0;
}

int ptdm_spec_parse(struct ptdm_spec *s, const char *str, struct ptdm_err *err)
{
	char buf[MAX_SPEC];
	char *tok, *save = NULL;
	unsigned seen = 0, n = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	s->func = 0;
	s->vslot = -1;
	s->permissive = s->msitranslate = s->power_mgmt = s->seize = -1;
	s->quirks = s->rombar = s->multifunction = -1;
	s->vendor_id = s->device_id = -1;
	s->subsystem_vendor_id = s->subsystem_id = -1;
	if (!str || !*str)
		return ptdm_errf(err, -EINVAL, "PCI spec: empty");
	if (strlen(str) >= sizeof(buf))
		return ptdm_errf(err, -EINVAL, "PCI spec: longer than %d bytes",
				 MAX_SPEC - 1);
	strcpy(buf, str);
	if (buf[strlen(buf) - 1] == ',' || buf[0] == ',' || strstr(buf, ",,"))
		return ptdm_errf(err, -EINVAL,
				 "PCI spec \"%s\": empty token", str);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save), n++) {
		if (strchr(tok, '='))
			rc = key_value(s, tok, &seen, err);
		else if (n == 0)
			rc = positional(s, tok, err);
		else
			rc = bad(err, tok, "want key=value");
		if (rc)
			return rc;
	}
	if (s->name[0] && s->has_bdf)
		return ptdm_errf(err, -EINVAL, "PCI spec \"%s\": name and bdf "
				 "exclude each other", str);
	if (s->image[0] && s->has_bdf)
		return ptdm_errf(err, -EINVAL, "PCI spec \"%s\": an image and "
				 "a BDF exclude each other", str);
	if (s->romfile[0] && s->rombar == 0)
		return ptdm_errf(err, -EINVAL, "PCI spec \"%s\": romfile and "
				 "rombar=0 exclude each other", str);
	if (!s->has_bdf && !s->name[0] && !s->image[0])
		return ptdm_errf(err, -EINVAL, "PCI spec \"%s\": names no "
				 "device (want a BDF, name= or an image)", str);
	return 0;
}

void ptdm_spec_bdf_str(const struct ptdm_spec *s, char *buf, unsigned len)
{
	if (s->func == PTDM_SPEC_FUNC_ALL)
		snprintf(buf, len, "%04x:%02x:%02x.*", s->domain, s->bus,
			 s->dev);
	else
		snprintf(buf, len, "%04x:%02x:%02x.%d", s->domain, s->bus,
			 s->dev, s->func);
}
