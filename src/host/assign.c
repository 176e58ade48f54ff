/*
 * assign.c - hand a device to vfio-pci and back (xl pci-assignable-add /
 * -remove).
 *
 * add: refuse bridges and devices without an IOMMU group, note the
 * current driver in $PTDM_STATE_DIR/assignable/BDF, write "vfio-pci" to
 * driver_override, unbind from the current driver, ask drivers_probe to
 * bind, and check that vfio-pci took it.  remove: unbind from vfio-pci,
 * clear driver_override, bind the noted driver (or let the kernel probe),
 * forget the note.  Every step that fails says which file and why; a
 * failed add puts driver_override back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/pci.h"
#include "ptdm/assign.h"
#include "ptdm/sysfs.h"

static int put(const char *path, const char *s, struct ptdm_err *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return ptdm_errf(err, -errno, "%s: %s", path, strerror(errno));
	n = write(fd, s, strlen(s));
	if (n != (ssize_t)strlen(s)) {
		int e = n < 0 ? errno : EIO;

		close(fd);
		return ptdm_errf(err, -e, "%s: writing \"%s\": %s", path, s,
				 strerror(e));
	}
	close(fd);
	return 0;
}

/* The driver dev is bound to, "" when none (or unreadable). */
static void driver_of(const char *dev, char *out, size_t n)
{
	if (sysfs_link_base(dev, "driver", out, n) <= 0)
		out[0] = 0;
}

static const char *state_dir(void)
{
	const char *d = getenv("PTDM_STATE_DIR");

	return d && *d ? d : "/run/ptdm";
}

/* mkdir -p, mode 0700 for what it creates */
static void mkdir_p(const char *path)
{
	char tmp[4400];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(tmp, 0700);
		*p = '/';
	}
	mkdir(tmp, 0700);
}

/* The bus directory: ROOT is .../devices, the bus is one level up. */
static void bus_path(char *out, size_t n, const char *what)
{
	snprintf(out, n, "%s/../%s", sysfs_root(), what);
}

int assign_add(const char *bdf, struct ptdm_err *err)
{
	char canon[16], dev[4200], p[4300], drv[256], note[4300];
	unsigned char hdr = 0xff;
	FILE *f;
	int rc;

	if (!bdf_canon(bdf, canon))
		return ptdm_errf(err, -EINVAL, "\"%s\" is not a PCI address",
				 bdf);
	snprintf(dev, sizeof(dev), "%s/%s", sysfs_root(), canon);
	snprintf(p, sizeof(p), "%s/config", dev);
	f = fopen(p, "re");
	if (!f)
		return ptdm_errf(err, -ENODEV, "no PCI device %s (%s)", canon,
				 strerror(errno));
	if (fseek(f, 0x0e, SEEK_SET) || fread(&hdr, 1, 1, f) != 1)
		hdr = 0xff;
	fclose(f);
	if ((hdr & 0x7f) == 1 || (hdr & 0x7f) == 2)
		return ptdm_errf(err, -EPERM, "%s is a %s bridge: bridges "
				 "cannot be assigned; assign the devices behind "
				 "it", canon, (hdr & 0x7f) == 1 ? "PCI"
								: "CardBus");
	snprintf(p, sizeof(p), "%s/iommu_group", dev);
	if (access(p, F_OK))
		return ptdm_errf(err, -ENODEV, "%s has no IOMMU group: enable "
				 "the IOMMU (intel_iommu=on / amd_iommu=on) "
				 "first", canon);
	driver_of(dev, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	/* remember what it had, for remove */
	snprintf(note, sizeof(note), "%s/assignable", state_dir());
	mkdir_p(note);
	snprintf(note, sizeof(note), "%s/assignable/%s", state_dir(), canon);
	f = fopen(note, "we");
	if (!f)
		return ptdm_errf(err, -errno, "%s: %s", note, strerror(errno));
	fprintf(f, "%s\n", drv);
	if (fclose(f))
		return ptdm_errf(err, -EIO, "%s: cannot write", note);
	snprintf(p, sizeof(p), "%s/driver_override", dev);
	rc = put(p, "vfio-pci", err);
	if (rc)
		goto undo_note;
	if (drv[0]) {
		snprintf(p, sizeof(p), "%s/driver/unbind", dev);
		rc = put(p, canon, err);
		if (rc)
			goto undo;
	}
	bus_path(p, sizeof(p), "drivers_probe");
	rc = put(p, canon, err);
	if (rc)
		goto undo;
	driver_of(dev, drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci")) {
		rc = ptdm_errf(err, -ENODEV, "%s: vfio-pci did not bind it "
			       "(modprobe vfio-pci?)", canon);
		goto undo;
	}
	return 0;
undo:
	snprintf(p, sizeof(p), "%s/driver_override", dev);
	put(p, "\n", NULL);
undo_note:
	unlink(note);
	return rc;
}

int assign_remove(const char *bdf, struct ptdm_err *err)
{
	char canon[16], dev[4200], p[4300], drv[256] = "", note[4300];
	FILE *f;
	int rc;

	if (!bdf_canon(bdf, canon))
		return ptdm_errf(err, -EINVAL, "\"%s\" is not a PCI address",
				 bdf);
	snprintf(dev, sizeof(dev), "%s/%s", sysfs_root(), canon);
	if (access(dev, F_OK))
		return ptdm_errf(err, -ENODEV, "no PCI device %s", canon);
	snprintf(note, sizeof(note), "%s/assignable/%s", state_dir(), canon);
	f = fopen(note, "re");
	bool noted = f != NULL;

	if (f) {
		if (!fgets(drv, sizeof(drv), f))
			drv[0] = 0;
		drv[strcspn(drv, "\n")] = 0;
		fclose(f);
	}
	if (strchr(drv, '/') || strstr(drv, ".."))
		drv[0] = 0; /* a note we did not write: let the kernel probe */
	driver_of(dev, p, sizeof(p));
	if (!noted && strcmp(p, "vfio-pci")) {
		/* no note, not on vfio-pci: was it ever made assignable?  Only
		 * a driver_override of vfio-pci says so; else touch nothing. */
		char ovr[64] = "", path[4300];
		FILE *o;

		snprintf(path, sizeof(path), "%s/driver_override", dev);
		o = fopen(path, "re");
		if (o) {
			if (!fgets(ovr, sizeof(ovr), o))
				ovr[0] = 0;
			fclose(o);
		}
		ovr[strcspn(ovr, "\n")] = 0;
		if (strcmp(ovr, "vfio-pci"))
			return ptdm_errf(err, -EINVAL, "%s is not assignable "
					 "(driver %s, no note in %s/assignable):"
					 " nothing to give back, nothing "
					 "changed", canon, p[0] ? p : "none",
					 state_dir());
	}
	if (!strcmp(p, "vfio-pci")) {
		snprintf(p, sizeof(p), "%s/driver/unbind", dev);
		rc = put(p, canon, err);
		if (rc)
			return rc;
	}
	snprintf(p, sizeof(p), "%s/driver_override", dev);
	rc = put(p, "\n", err);
	if (rc)
		return rc;
	if (drv[0]) {
		snprintf(p, sizeof(p), "%s/../drivers/%s/bind", sysfs_root(),
			 drv);
		rc = put(p, canon, err);
	} else {
		bus_path(p, sizeof(p), "drivers_probe");
		rc = put(p, canon, err);
	}
	if (!rc)
		unlink(note);
	return rc;
}
