/*
 * image_file.c - device images from files: lspci dumps and ptdm's native
 * format (see image.h for the grammar), and image_write to record any host
 * device in the native format.
 *
 * Native images are lspci -xxxx dumps with directive lines before the hex:
 *   # ptdm-image 1                          (first line; '#' lines comment)
 *   device DDDD:BB:DD.F                     (optional)
 *   bar N KIND [prefetch] size 0xHEX|unknown    KIND: io mem32 mem64
 *   rom size 0xHEX|unknown
 *   opregion OFFS: XX XX ...                (an IGD's OpRegion, optional)
 * A directive must agree with the BAR registers.  opregion lines carry the
 * OpRegion an IGD's host offered (vfio-pci's region), 16 bytes a line (the
 * last may be shorter), offsets in hex from 0 in order; the whole is
 * checked as the core checks any OpRegion (ptdm_igd_opregion_check).  For a dump, BAR sizes
 * come from a -vvv file: the one named, or NAME.lspci-vvv.txt beside
 * NAME.lspci-x4.txt / -x3.txt / -x.txt; without one, sizes stay unknown.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/image_priv.h"
#include "host/lspci_text.h"
#include "util/pci.h"
#include "ptdm/dev.h"
#include "ptdm/image.h"

#define MAX_FILE (1u << 20) /* a -xxxx dump is ~13 KB; -vvv a few KB */
#define NATIVE_MAGIC "# ptdm-image 1"

struct directive {
	bool set;
	enum host_bar_kind kind;
	bool prefetch, known;
	uint64_t size;
	unsigned line;
};

struct native {
	const char *name;
	bool native;
	struct directive bar[PTDM_NUM_BARS + 1];
	char device[16];
	uint8_t *op; /* opregion lines, PTDM_IGD_OPREGION_MAX bytes */
	size_t oplen;
	bool op_short; /* a line of fewer than 16 bytes: it was the last */
};

/* "opregion OFFS: XX XX ...": the next (at most 16) OpRegion bytes. */
static int on_opregion(struct native *nv, const char *line, unsigned no,
		       struct ptdm_err *err)
{
	const char *p = line + strlen("opregion");
	unsigned long off;
	unsigned n = 0;
	char *end;

	errno = 0;
	off = strtoul(p, &end, 16);
	if (errno || end == p || *end != ':' || !(*p == ' ' || *p == '\t'))
		return ptdm_errf(err, -EINVAL, "%s:%u: want \"opregion OFFS: "
				 "XX ...\"", nv->name, no);
	if (nv->op_short || off != nv->oplen)
		return ptdm_errf(err, -EINVAL, "%s:%u: OpRegion offset %#lx: "
				 "want %#zx (16 bytes a line, in order)",
				 nv->name, no, off, nv->oplen);
	if (!nv->op && !(nv->op = malloc(PTDM_IGD_OPREGION_MAX)))
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", nv->name);
	for (p = end + 1;;) {
		unsigned long b;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		errno = 0;
		b = strtoul(p, &end, 16);
		if (errno || end != p + 2 || b > 0xff ||
		    (*end && *end != ' ' && *end != '\t'))
			return ptdm_errf(err, -EINVAL, "%s:%u: OpRegion byte "
					 "\"%.8s\": want two hex digits",
					 nv->name, no, p);
		if (n == 16 || nv->oplen == PTDM_IGD_OPREGION_MAX)
			return ptdm_errf(err, -EINVAL, "%s:%u: more than 16 "
					 "bytes on a line, or an OpRegion of "
					 "more than %u", nv->name, no,
					 PTDM_IGD_OPREGION_MAX);
		nv->op[nv->oplen++] = (uint8_t)b;
		n++;
		p = end;
	}
	if (!n)
		return ptdm_errf(err, -EINVAL, "%s:%u: an opregion line with "
				 "no bytes", nv->name, no);
	nv->op_short = n < 16;
	return 0;
}

static int parse_size_token(const char *t, bool *known, uint64_t *size)
{
	char *end;

	if (!strcmp(t, "unknown")) {
		*known = false;
		*size = 0;
		return 0;
	}
	if (strncmp(t, "0x", 2))
		return -EINVAL;
	errno = 0;
	*size = strtoull(t, &end, 16);
	if (errno || *end || end == t + 2)
		return -EINVAL;
	*known = true;
	return 0;
}

/* One directive line of a native image. */
static int on_directive(void *opaque, const char *line, unsigned no,
			struct ptdm_err *err)
{
	struct native *nv = opaque;
	char w[6][32];
	int n, idx, k = 0;
	struct directive *dv;

	if (line[0] == '#') {
		if (no == 1 && !strcmp(line, NATIVE_MAGIC))
			nv->native = true;
		return 0;
	}
	if (!nv->native)
		return ptdm_errf(err, -EINVAL, "%s:%u: not an lspci dump line",
				 nv->name, no);
	if (!strncmp(line, "opregion", strlen("opregion")))
		return on_opregion(nv, line, no, err);
	n = sscanf(line, "%31s %31s %31s %31s %31s %31s", w[0], w[1], w[2],
		   w[3], w[4], w[5]);
	if (n == 2 && !strcmp(w[0], "device")) {
		if (!bdf_canon(w[1], nv->device))
			return ptdm_errf(err, -EINVAL, "%s:%u: bad BDF \"%s\"",
					 nv->name, no, w[1]);
		return 0;
	}
	if (n >= 3 && !strcmp(w[0], "rom")) {
		idx = PTDM_ROM_INDEX;
		k = 1;
	} else if (n >= 4 && !strcmp(w[0], "bar") && strlen(w[1]) == 1 &&
		   w[1][0] >= '0' && w[1][0] <= '5') {
		idx = w[1][0] - '0';
		k = 2;
	} else {
		return ptdm_errf(err, -EINVAL, "%s:%u: unknown directive \"%s\"",
				 nv->name, no, w[0]);
	}
	dv = &nv->bar[idx];
	if (dv->set)
		return ptdm_errf(err, -EINVAL, "%s:%u: BAR %d given twice",
				 nv->name, no, idx);
	dv->set = true;
	dv->line = no;
	dv->kind = HOST_BAR_ROM;
	if (idx != PTDM_ROM_INDEX) {
		if (!strcmp(w[k], "io"))
			dv->kind = HOST_BAR_IO;
		else if (!strcmp(w[k], "mem32"))
			dv->kind = HOST_BAR_MEM32;
		else if (!strcmp(w[k], "mem64"))
			dv->kind = HOST_BAR_MEM64;
		else
			return ptdm_errf(err, -EINVAL, "%s:%u: BAR kind \"%s\" "
					 "(want io, mem32 or mem64)",
					 nv->name, no, w[k]);
		k++;
		if (k < n && !strcmp(w[k], "prefetch")) {
			dv->prefetch = true;
			k++;
		}
	}
	if (k + 2 != n || strcmp(w[k], "size") ||
	    parse_size_token(w[k + 1], &dv->known, &dv->size))
		return ptdm_errf(err, -EINVAL,
				 "%s:%u: want \"size 0xHEX\" or \"size unknown\"",
				 nv->name, no);
	return 0;
}

static int apply_native(struct host_dev *h, const struct native *nv,
			struct ptdm_err *err)
{
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		const struct directive *dv = &nv->bar[i];
		const struct host_bar *b = &h->bars[i];
		struct ptdm_err e = { "" };
		int rc;

		if (!dv->set) {
			if (b->kind != HOST_BAR_NONE &&
			    b->kind != HOST_BAR_MEM64_HI)
				return ptdm_errf(err, -EINVAL,
						 "%s: BAR %d is implemented but "
						 "has no \"bar\" line", nv->name,
						 i);
			continue;
		}
		/* an unprogrammed ROM BAR reads 0 but may have a size */
		if (i == PTDM_ROM_INDEX && b->kind == HOST_BAR_NONE &&
		    dv->known && dv->size) {
			rc = image_set_bar_size(h, i, dv->size, &e);
			if (rc)
				return ptdm_errf(err, rc, "%s:%u: %s", nv->name,
						 dv->line, e.msg);
			continue;
		}
		if (dv->kind != b->kind || (dv->prefetch && !b->prefetch) ||
		    (!dv->prefetch && b->prefetch))
			return ptdm_errf(err, -EINVAL,
					 "%s:%u: BAR %d is %s%s in the config "
					 "bytes", nv->name, dv->line, i,
					 host_bar_kind_name(b->kind),
					 b->prefetch ? " prefetch" : "");
		if (!dv->known)
			continue;
		/* size 0 drops the BAR but would keep its register's bytes:
		 * an image ptdm could not write back (the ROM too: an
		 * unprogrammed one was handled above) */
		if (!dv->size)
			return ptdm_errf(err, -EINVAL, "%s:%u: BAR %d is "
					 "implemented in the config bytes but "
					 "has size 0", nv->name, dv->line, i);
		rc = image_set_bar_size(h, i, dv->size, &e);
		if (rc)
			return ptdm_errf(err, rc, "%s:%u: %s", nv->name,
					 dv->line, e.msg);
	}
	return 0;
}

static int apply_sizes(struct host_dev *h, const char *vname,
		       const struct lspci_sizes *sz, struct ptdm_err *err)
{
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		const struct host_bar *b = &h->bars[i];
		struct ptdm_err e = { "" };
		int rc;

		if (!sz->listed[i]) {
			/* not listed: unimplemented, or a BAR lspci did not
			 * show (its size stays unknown) */
			continue;
		}
		/* an unprogrammed ROM BAR reads 0 (lspci: "[virtual]") */
		if (b->kind == HOST_BAR_NONE && i != PTDM_ROM_INDEX)
			return ptdm_errf(err, -EINVAL,
					 "%s:%u: BAR %d has a size but its "
					 "register reads 0", vname,
					 sz->line[i], i);
		if (b->kind == HOST_BAR_MEM64_HI)
			return ptdm_errf(err, -EINVAL,
					 "%s:%u: BAR %d is the upper half of "
					 "64-bit BAR %d", vname, sz->line[i],
					 i, i - 1);
		if (!sz->known[i])
			continue;
		/* size 0 for a BAR the config implements would drop the BAR
		 * but keep its bytes: an image ptdm could not write back */
		if (!sz->size[i] && b->kind != HOST_BAR_NONE)
			return ptdm_errf(err, -EINVAL, "%s:%u: BAR %d is "
					 "implemented in the config bytes but "
					 "the sizes give it size 0", vname,
					 sz->line[i], i);
		rc = image_set_bar_size(h, i, sz->size[i], &e);
		if (rc)
			return ptdm_errf(err, rc, "%s:%u: %s", vname,
					 sz->line[i], e.msg);
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int image_open_mem(struct host_dev **out, const char *name, const char *text,
		   size_t len, const char *sizes_text, size_t sizes_len,
		   struct ptdm_err *err)
{
	struct native nv = { .name = name };
	struct lspci_dump *dump;
	struct host_dev *h = NULL;
	int rc;

	dump = malloc(sizeof(*dump));
	if (!dump)
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", name);
	rc = lspci_parse_dump(name, text, len, on_directive, &nv, dump, err);
	if (rc)
		goto out;
	rc = image_new(&h, name, dump->cfg, dump->size, err);
	if (rc)
		goto out;
	snprintf(h->bdf, sizeof(h->bdf), "%s", nv.device[0] ? nv.device
							    : dump->bdf);
	if (nv.native) {
		if (sizes_text) {
			rc = ptdm_errf(err, -EINVAL, "%s: a native image "
				       "carries its own sizes", name);
			goto out;
		}
		rc = apply_native(h, &nv, err);
		if (!rc && nv.op) {
			struct ptdm_err e = { "" };

			rc = image_set_opregion(h, nv.op, nv.oplen, &e);
			if (rc)
				ptdm_errf(err, rc, "%s: opregion: %s", name,
					  e.msg);
		}
	} else if (sizes_text) {
		struct lspci_sizes sz;

		rc = lspci_parse_sizes(name, sizes_text, sizes_len, &sz, err);
		if (!rc)
			rc = apply_sizes(h, name, &sz, err);
	}
out:
	free(dump);
	free(nv.op);
	if (rc) {
		host_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* Read a whole (small) file; *buf is malloc'ed and NUL-terminated. */
static int slurp(const char *path, char **buf, size_t *len,
		 struct ptdm_err *err)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ptdm_errf(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
		close(fd);
		return ptdm_errf(err, -EINVAL, "%s: not a regular file of at "
				 "most %u bytes", path, MAX_FILE);
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", path);
	}
	while (got < (size_t)st.st_size &&
	       (n = read(fd, *buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	(*buf)[got] = 0;
	*len = got;
	return 0;
}

/* NAME.lspci-vvv.txt beside NAME.lspci-x4.txt and friends. */
static bool sizes_beside(const char *path, char *out, size_t n)
{
	static const char *const sfx[] = { ".lspci-x4.txt", ".lspci-x3.txt",
					   ".lspci-x.txt" };
	size_t pl = strlen(path);

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t sl = strlen(sfx[i]);

		if (pl > sl && !strcmp(path + pl - sl, sfx[i]) &&
		    pl - sl + sizeof(".lspci-vvv.txt") <= n) {
			snprintf(out, n, "%.*s.lspci-vvv.txt", (int)(pl - sl),
				 path);
			return access(out, R_OK) == 0;
		}
	}
	return false;
}

int image_open(struct host_dev **out, const char *path, const char *sizes_path,
	       struct ptdm_err *err)
{
	char beside[4096];
	char *text = NULL, *sizes = NULL;
	size_t len = 0, slen = 0;
	int rc;

	rc = slurp(path, &text, &len, err);
	if (rc)
		return rc;
	if (!sizes_path && strncmp(text, NATIVE_MAGIC, strlen(NATIVE_MAGIC)) &&
	    sizes_beside(path, beside, sizeof(beside)))
		sizes_path = beside;
	if (sizes_path) {
		rc = slurp(sizes_path, &sizes, &slen, err);
		if (rc)
			goto out;
	}
	rc = image_open_mem(out, base_name(path), text, len, sizes, slen, err);
out:
	free(text);
	free(sizes);
	return rc;
}

/* The IGD OpRegion the host offers (vfio-pci's region), checked first. */
static int write_opregion(FILE *f, struct host_dev *h, struct ptdm_err *err)
{
	struct ptdm_err e = { "" };
	uint8_t *op = NULL;
	size_t len = 0;
	int rc;

	if (!h->ops->igd_opregion)
		return 0;
	rc = h->ops->igd_opregion(h, &op, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return ptdm_errf(err, rc, "%s: cannot read the IGD OpRegion: "
				 "%s", h->name, strerror(-rc));
	rc = ptdm_igd_opregion_check(op, len, &e);
	if (rc) {
		free(op);
		return ptdm_errf(err, rc, "%s: the host's IGD OpRegion: %s",
				 h->name, e.msg);
	}
	for (size_t off = 0; off < len; off += 16) {
		fprintf(f, "opregion %04zx:", off);
		for (size_t i = off; i < len && i < off + 16; i++)
			fprintf(f, " %02x", op[i]);
		fprintf(f, "\n");
	}
	free(op);
	return 0;
}

int image_write(FILE *f, struct host_dev *h, struct ptdm_err *err)
{
	uint8_t cfg[PTDM_CFG_SPACE_SIZE];
	int rc = host_cfg_read(h, 0, cfg, h->cfg_size);

	if (rc)
		return ptdm_errf(err, rc, "%s: cannot read config: %s", h->name,
				 strerror(-rc));
	fprintf(f, "%s\n", NATIVE_MAGIC);
	if (h->bdf[0])
		fprintf(f, "device %s\n", h->bdf);
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		const struct host_bar *b = &h->bars[i];

		if (b->kind == HOST_BAR_NONE || b->kind == HOST_BAR_MEM64_HI)
			continue;
		if (i == PTDM_ROM_INDEX)
			fprintf(f, "rom size ");
		else
			fprintf(f, "bar %d %s%s size ", i,
				host_bar_kind_name(b->kind),
				b->prefetch ? " prefetch" : "");
		if (b->size_known)
			fprintf(f, "%#" PRIx64 "\n", b->size);
		else
			fprintf(f, "unknown\n");
	}
	rc = write_opregion(f, h, err);
	if (rc)
		return rc;
	for (unsigned off = 0; off < h->cfg_size; off += 16) {
		fprintf(f, "%02x:", off);
		for (unsigned i = 0; i < 16; i++)
			fprintf(f, " %02x", cfg[off + i]);
		fprintf(f, "\n");
	}
	if (fflush(f) || ferror(f))
		return ptdm_errf(err, -EIO, "%s: write failed", h->name);
	return 0;
}
