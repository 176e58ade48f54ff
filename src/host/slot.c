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
 *
 * The rule (issue 15): a group is assigned whole.  Its devices cannot be
 * split between processes anyway (the kernel gives a group, or with
 * iommufd its devices' DMA ownership, to one owner), so a device left out
 * of a ptdm that serves its group mate is lost to every guest until that
 * ptdm stops; ptdm says so, naming every one left out, rather than serve
 * half a group silently.  group=partial allows what QEMU's vfio-pci does:
 * the others stay unused on vfio-pci, pci-stub or no driver.  A device on
 * a host driver is refused either way, with its driver named: the kernel
 * would not open the group (vfio_sysfs.c's rule, vfio_driver_allowed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/vfio_priv.h"
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
	for (unsigned i = 0; bdfs && i < n; i++)
		if (!strcmp(bdfs[i], bdf))
			return true;
	return false;
}

/* 1 with the driver's name, 0 when bound to none, -errno. */
static int driver_of(const char *bdf, char *drv, size_t len)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/%s", sysfs_root(), bdf);
	return sysfs_link_base(dir, "driver", drv, len);
}

/* May a device on drv stay out of a served group?  VFIO's drivers (no
 * DMA owner of their own) and Xen's pciback, which holds devices for
 * guests. */
static bool driver_frees_group(const char *drv)
{
	return vfio_driver_allowed(drv) || strstr(drv, "pciback");
}

/* ", BDF (driver)" onto list, as far as it fits (it always ends). */
static void add_name(char *list, size_t len, const char *bdf, const char *drv)
{
	size_t used = strlen(list);

	snprintf(list + used, len - used, "%s%s (%s)", used ? ", " : "", bdf,
		 drv);
}

int slot_group_check(const char (*bdfs)[16], unsigned n,
		     const char (*served)[16], unsigned nserved, bool partial,
		     struct ptdm_err *err)
{
	char (*all)[16] = NULL;
	int nall = sysfs_list(&all, err), rc = 0;

	if (nall < 0)
		return nall;
	for (unsigned i = 0; i < n && !rc; i++) {
		char g[64], h[64], drv[64], missing[512] = "", busy[512] = "";
		char one[16] = "BDF";
		unsigned nmissing = 0, nbusy = 0;
		int r = group_of(bdfs[i], g, sizeof(g));

		if (r < 0) {
			rc = ptdm_errf(err, r, "%s: its IOMMU group: %s",
				       bdfs[i], strerror(-r));
			break;
		}
		if (!r)
			continue; /* no group: VFIO refuses it on its own */
		for (int j = 0; j < nall; j++) {
			int d;

			if (listed(bdfs, n, all[j]) ||
			    listed(served, nserved, all[j]) ||
			    group_of(all[j], h, sizeof(h)) != 1 ||
			    strcmp(g, h) || is_bridge(all[j]))
				continue;
			d = driver_of(all[j], drv, sizeof(drv));
			if (d <= 0)
				snprintf(drv, sizeof(drv), "no driver");
			if (d > 0 && !driver_frees_group(drv)) {
				add_name(busy, sizeof(busy), all[j], drv);
				if (!nbusy++)
					snprintf(one, sizeof(one), "%s",
						 all[j]);
			} else if (!partial) {
				add_name(missing, sizeof(missing), all[j], drv);
				nmissing++;
			}
		}
		if (nbusy)
			rc = ptdm_errf(err, -EBUSY, "%s: IOMMU group %s also "
				       "holds %s, in use by the host: the "
				       "kernel gives no device of a group "
				       "while one is on a host driver. Hand "
				       "%s to vfio-pci (`ptdm assignable-add "
				       "%s`%s) and serve %s too, or leave %s "
				       "unused there with group=partial",
				       bdfs[i], g, busy,
				       nbusy > 1 ? "them" : "it",
				       nbusy > 1 ? "BDF" : one,
				       nbusy > 1 ? " for each" : "",
				       nbusy > 1 ? "them" : "it",
				       nbusy > 1 ? "them" : "it");
		else if (nmissing)
			rc = ptdm_errf(err, -EBUSY, "%s: IOMMU group %s also "
				       "holds %s, not served with it: a group "
				       "is assigned whole. Serve %s in the "
				       "same ptdm (name the slot as BB:DD.*, "
				       "or each device in one `ptdm serve`), "
				       "or give group=partial to leave %s "
				       "unused, as QEMU's vfio-pci allows",
				       bdfs[i], g, missing,
				       nmissing > 1 ? "them" : "it",
				       nmissing > 1 ? "them" : "it");
	}
	free(all);
	return rc;
}
