/*
 * slot.c - the functions of one slot, and the IOMMU-group rule.
 *
 * Both read only sysfs_root() (tests point it at a fake tree): a slot's
 * functions are the directories DDDD:BB:DD.0-7 present there; a device's
 * group is the last component of its iommu_group link (sysfs_link_base),
 * and a group's members are the devices under the root whose link names
 * the same group.  A bridge (header type 1, from the first bytes of its
 * config file) is no member that must be assigned: VFIO lets a group with
 * a bridge be used, and a bridge cannot be given to a guest anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptdm/slot.h"
#include "ptdm/spec.h"
#include "ptdm/sysfs.h"

static bool present(const char *bdf)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/%s", sysfs_root(), bdf);
	return access(p, F_OK) == 0;
}

/* Append ",tok" for every token of spec but the one naming the BDF. */
static int rest_of(const char *spec, char *out, size_t len)
{
	const char *p = spec;
	size_t used = strlen(out);
	bool first = true;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		bool bdf_tok = (first && !memchr(p, '=', n)) ||
			       (n > 4 && !strncmp(p, "bdf=", 4));

		if (!bdf_tok) {
			if (used + 1 + n + 1 > len)
				return -E2BIG;
			out[used++] = ',';
			memcpy(out + used, p, n);
			used += n;
			out[used] = 0;
		}
		first = false;
		p = e ? e + 1 : p + n;
	}
	return 0;
}

/* Does the positional first token carry the vslot (BDF@VSLOT)? */
static bool at_vslot(const char *spec)
{
	const char *e = strchr(spec, ',');
	size_t n = e ? (size_t)(e - spec) : strlen(spec);

	return !memchr(spec, '=', n) && memchr(spec, '@', n);
}

int slot_expand(const char *spec, char (*out)[SLOT_SPEC_MAX],
		struct ptdm_err *err)
{
	struct ptdm_spec *s = malloc(sizeof(*s));
	int n = 0, rc;

	if (!s)
		return ptdm_errf(err, -ENOMEM, "out of memory");
	rc = ptdm_spec_parse(s, spec, err);
	if (rc)
		goto done;
	if (!s->has_bdf || s->func != PTDM_SPEC_FUNC_ALL) {
		if (strlen(spec) >= SLOT_SPEC_MAX) {
			rc = ptdm_errf(err, -E2BIG, "PCI spec too long");
			goto done;
		}
		snprintf(out[0], SLOT_SPEC_MAX, "%s", spec);
		n = 1;
		goto done;
	}
	for (int f = 0; f < SLOT_MAX_FUNCS; f++) {
		char bdf[16];

		snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%d", s->domain,
			 s->bus, s->dev, f);
		if (!present(bdf))
			continue;
		if (s->vslot >= 0 && at_vslot(spec))
			snprintf(out[n], SLOT_SPEC_MAX, "%s@%x", bdf, s->vslot);
		else
			snprintf(out[n], SLOT_SPEC_MAX, "%s", bdf);
		rc = rest_of(spec, out[n], SLOT_SPEC_MAX);
		if (!rc && strlen(out[n]) + sizeof(",multifunction=1") >
				   SLOT_SPEC_MAX)
			rc = -E2BIG;
		if (rc) {
			rc = ptdm_errf(err, rc, "PCI spec \"%.64s\": too long "
				       "to expand", spec);
			goto done;
		}
		strcat(out[n], ",multifunction=1");
		n++;
	}
	if (!n)
		rc = ptdm_errf(err, -ENOENT, "%04x:%02x:%02x.*: no function of "
			       "that slot is present", s->domain, s->bus,
			       s->dev);
done:
	free(s);
	return rc ? rc : n;
}

static int group_of(const char *bdf, char *grp, size_t len)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/%s", sysfs_root(), bdf);
	return sysfs_link_base(dir, "iommu_group", grp, len);
}

static bool is_bridge(const char *bdf)
{
	char p[4096];
	uint8_t hdr[16];
	int fd;
	bool bridge = false;

	snprintf(p, sizeof(p), "%s/%s/config", sysfs_root(), bdf);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr))
		bridge = (hdr[0x0e] & 0x7f) == 1;
	close(fd);
	return bridge;
}

static bool listed(const char (*bdfs)[16], unsigned n, const char *bdf)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(bdfs[i], bdf))
			return true;
	return false;
}

int slot_group_check(const char (*bdfs)[16], unsigned n, struct ptdm_err *err)
{
	char (*all)[16] = NULL;
	int nall = sysfs_list(&all, err), rc = 0;

	if (nall < 0)
		return nall;
	for (unsigned i = 0; i < n && !rc; i++) {
		char g[64], h[64];
		int r = group_of(bdfs[i], g, sizeof(g));

		if (r < 0) {
			rc = ptdm_errf(err, r, "%s: its IOMMU group: %s",
				       bdfs[i], strerror(-r));
			break;
		}
		if (!r)
			continue; /* no group: VFIO refuses it on its own */
		for (int j = 0; j < nall; j++) {
			if (listed(bdfs, n, all[j]) ||
			    group_of(all[j], h, sizeof(h)) != 1 ||
			    strcmp(g, h) || is_bridge(all[j]))
				continue;
			rc = ptdm_errf(err, -EBUSY, "%s: IOMMU group %s also "
				       "holds %s, which is not assigned with "
				       "it: a group is assigned whole (add "
				       "%s, or name the slot as BB:DD.*)",
				       bdfs[i], g, all[j], all[j]);
			break;
		}
	}
	free(all);
	return rc;
}
