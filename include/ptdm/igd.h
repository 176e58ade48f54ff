/*
 * igd.h - what an Intel IGD's driver and VBIOS read besides the IGD: the
 * host bridge (00:00.0) and the LPC/ISA bridge (00:1f.0).  A VMM gives
 * the guest bridges with these values (QEMU's vfio-pci IGD legacy mode
 * copies the host bridge's revision and subsystem IDs, and makes an LPC
 * bridge with all five; xen_pt_graphics does the same): ptdm reads them
 * from the host (sysfs_root()) for `ptdm inspect` to say.
 */
#ifndef PTDM_IGD_H
#define PTDM_IGD_H

#include <stdbool.h>
#include <stdint.h>

#include "ptdm/err.h"

struct igd_bridge {
	bool present;
	char bdf[16];
	uint16_t vendor, device, subvendor, subdevice;
	uint8_t revision;
};

/* The host bridge (out[0], 0000:00:00.0) and the LPC/ISA bridge (out[1],
 * 0000:00:1f.0, class 0x0601) as the host has them; an absent one (or
 * 00:1f.0 that is no ISA bridge) has present false.  0 or -errno. */
int igd_bridges(struct igd_bridge out[2], struct ptdm_err *err);

#endif
