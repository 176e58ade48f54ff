/*
 * open_dev.c - from a spec string to a host device and its options, and
 * the pci.ids name lookups every subcommand shares.
 */
#include <errno.h>
#include <pci/pci.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ptdm/image.h"
#include "ptdm/sysfs.h"
#include "ptdm/vfio.h"

int open_device(const char *str, const char *sizes, bool readonly,
		struct opened_dev *od, struct ptdm_err *err)
{
	return open_device_as(str, sizes, readonly ? OPEN_READONLY : OPEN_VFIO,
			      od, err);
}

int open_device_as(const char *str, const char *sizes, enum open_mode mode,
		   struct opened_dev *od, struct ptdm_err *err)
{
	struct ptdm_spec *s = &od->spec;
	int rc;

	memset(od, 0, sizeof(*od));
	rc = ptdm_spec_parse(s, str, err);
	if (rc)
		return rc;
	ptdm_dev_opts_init(&od->opts);
	od->opts.permissive = s->permissive == 1;
	od->opts.power_mgmt = s->power_mgmt == 1;
	od->opts.msitranslate = s->msitranslate == 1;
	od->opts.mmap_trap = s->mmap == PTDM_MMAP_TRAP;
	od->opts.no_quirks = s->quirks == 0;
	od->opts.no_rombar = s->rombar == 0;
	od->opts.multifunction = s->multifunction == 1;
	od->opts.romfile = s->romfile[0] ? s->romfile : NULL;
	od->opts.vendor_id = s->vendor_id;
	od->opts.device_id = s->device_id;
	od->opts.subsystem_vendor_id = s->subsystem_vendor_id;
	od->opts.subsystem_id = s->subsystem_id;
	if (s->name[0])
		return ptdm_errf(err, -ENOENT,
				 "name=%s: ptdm keeps no list of named "
				 "assignable devices; name the device by its "
				 "BDF", s->name);
	if (s->image[0]) {
		od->backend = "image";
		return image_open(&od->host, s->image,
				  sizes ? sizes : (s->sizes[0] ? s->sizes : NULL),
				  err);
	}
	if (s->func == PTDM_SPEC_FUNC_ALL)
		return ptdm_errf(err, -EINVAL, "%s: name one function, not "
				 "all (.*)", str);
	if (sizes || s->sizes[0])
		return ptdm_errf(err, -EINVAL, "sizes= is for images; a live "
				 "device reports its own BAR sizes");
	char bdf[16];

	ptdm_spec_bdf_str(s, bdf, sizeof(bdf));
	if (mode == OPEN_VFIO) {
		/* a device given to a guest: through VFIO and the IOMMU */
		od->backend = "vfio";
		return vfio_open(&od->host, bdf, err);
	}
	od->backend = "sysfs";
	return sysfs_open(&od->host, bdf, mode == OPEN_READONLY, err);
}

/* libpci calls these when pci.ids is missing or odd; names just fall
 * back to hex, so they say nothing and never exit. */
__attribute__((format(printf, 1, 2)))
static void quiet(char *msg, ...)
{
	(void)msg;
}

/* libpci's fatal path (out of memory): it must not return */
__attribute__((noreturn, format(printf, 1, 2)))
static void names_error(char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	fprintf(stderr, "ptdm: pci.ids: ");
	vfprintf(stderr, msg, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static struct pci_access *pacc;

/* pci.ids and libpci's udev hwdb handle go away with the process */
static void names_cleanup(void)
{
	if (pacc)
		pci_cleanup(pacc);
	pacc = NULL;
}

/* libpci only for pci.ids: no access method is initialised or used. */
static struct pci_access *names(void)
{
	if (!pacc) {
		pacc = pci_alloc();
		if (pacc) {
			pacc->numeric_ids = 0;
			pacc->warning = quiet;
			pacc->debug = quiet;
			pacc->error = names_error;
			atexit(names_cleanup);
		}
	}
	return pacc;
}

void cli_vendor_name(char *buf, size_t n, unsigned vendor)
{
	struct pci_access *p = names();

	if (!p || !pci_lookup_name(p, buf, (int)n, PCI_LOOKUP_VENDOR |
				   PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, vendor))
		snprintf(buf, n, "%04x", vendor);
}

void cli_device_name(char *buf, size_t n, unsigned vendor, unsigned device)
{
	struct pci_access *p = names();

	if (!p || !pci_lookup_name(p, buf, (int)n, PCI_LOOKUP_DEVICE |
				   PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, vendor, device))
		snprintf(buf, n, "Device %04x", device);
}

void cli_class_name(char *buf, size_t n, unsigned class24)
{
	struct pci_access *p = names();

	if (!p || !pci_lookup_name(p, buf, (int)n, PCI_LOOKUP_CLASS |
				   PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, class24 >> 8))
		snprintf(buf, n, "Class %04x", class24 >> 8);
}
