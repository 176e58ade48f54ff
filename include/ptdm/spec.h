/*
 * spec.h - xl-compatible PCI spec strings (xl-pci-configuration(5)).
 *
 *   [DDDD:]BB:DD.F[@VSLOT][,key=value]...    or    key=value[,key=value]...
 *
 * Keys: bdf, vslot (hex), permissive, msitranslate, power_mgmt, seize,
 * rdm_policy (strict|relaxed), name; ptdm adds image=PATH, sizes=PATH (an
 * lspci -vvv file), the ID overrides vendor, device, subvendor,
 * subdevice (hex), and mmap=fd|trap (may a VMM get an fd to map the
 * BARs itself, or is every BAR access trapped: docs/security.md), and
 * quirks=on|off (device quirks, docs/quirks.md), romfile=PATH (a ROM
 * image the guest gets instead of the device's) and rombar=0|1 (0: no ROM
 * BAR), multifunction=0|1 (the guest sees the header's multifunction
 * bit; slot_expand() adds it for BB:DD.*), group=whole|partial (whole, the
 * default: every other device of the VFIO device's IOMMU group is served
 * by the same ptdm; partial: the others may stay unused on vfio-pci,
 * pci-stub or no driver, as QEMU's vfio-pci allows; slot.h).  A first
 * token that is not a BDF is an image path.
 * Errors name the offending token.
 */
#ifndef PTDM_SPEC_H
#define PTDM_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "ptdm/err.h"

#define PTDM_SPEC_FUNC_ALL (-2) /* F = '*' */

enum ptdm_rdm_policy { PTDM_RDM_DEFAULT, PTDM_RDM_STRICT, PTDM_RDM_RELAXED };
/* mmap=: not given (= fd), fd, trap */
enum ptdm_mmap_policy { PTDM_MMAP_DEFAULT, PTDM_MMAP_FD, PTDM_MMAP_TRAP };
/* group=: not given (= whole), whole, partial */
enum ptdm_group_policy { PTDM_GROUP_DEFAULT, PTDM_GROUP_WHOLE,
			 PTDM_GROUP_PARTIAL };

struct ptdm_spec {
	bool has_bdf;
	unsigned domain, bus, dev; /* domain 0..0xffff, bus 0..0xff, dev 0..0x1f */
	int func;                  /* 0..7 or PTDM_SPEC_FUNC_ALL */
	int vslot;                 /* -1: not given, else 0..0x1f */
	int permissive;            /* -1: not given, else 0/1 */
	int msitranslate;
	int power_mgmt;
	int seize;
	enum ptdm_rdm_policy rdm_policy;
	enum ptdm_mmap_policy mmap;
	int quirks;                /* -1: not given (= on), 0 off, 1 on */
	int rombar;                /* -1: not given (= 1), 0, 1 */
	int multifunction;         /* -1: not given (= 0), 0, 1 */
	enum ptdm_group_policy group;
	char romfile[4096];        /* "" if none */
	char name[64];
	char image[4096]; /* image path, "" if none */
	char sizes[4096]; /* -vvv file for BAR sizes, "" if none */
	int32_t vendor_id, device_id, subsystem_vendor_id, subsystem_id; /* -1 */
};

int ptdm_spec_parse(struct ptdm_spec *s, const char *str, struct ptdm_err *err);
/* Canonical "DDDD:BB:DD.F" of the spec's BDF into buf (>= 13 bytes). */
void ptdm_spec_bdf_str(const struct ptdm_spec *s, char *buf, unsigned len);

#endif
