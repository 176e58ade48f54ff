/*
 * host.c - small helpers shared by every host backend: BAR kind names
 * and the one decoder of a BAR register's kind bits.
 */
#include <linux/pci_regs.h>

#include "ptdm/host.h"

const char *host_bar_kind_name(enum host_bar_kind k)
{
	switch (k) {
	case HOST_BAR_IO:
		return "io";
	case HOST_BAR_MEM32:
		return "mem32";
	case HOST_BAR_MEM64:
		return "mem64";
	case HOST_BAR_MEM64_HI:
		return "mem64-upper";
	case HOST_BAR_ROM:
		return "rom";
	case HOST_BAR_NONE:
		break;
	}
	return "none";
}

enum host_bar_kind host_bar_decode(uint32_t reg, int bar, bool *prefetch)
{
	*prefetch = false;
	if (reg & PCI_BASE_ADDRESS_SPACE_IO)
		return HOST_BAR_IO;
	*prefetch = reg & PCI_BASE_ADDRESS_MEM_PREFETCH;
	switch (reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) {
	case PCI_BASE_ADDRESS_MEM_TYPE_32:
	case PCI_BASE_ADDRESS_MEM_TYPE_1M:
		return HOST_BAR_MEM32;
	case PCI_BASE_ADDRESS_MEM_TYPE_64:
		if (bar >= 0 && bar + 1 < PTDM_NUM_BARS)
			return HOST_BAR_MEM64;
		break;
	default:
		break;
	}
	*prefetch = false;
	return HOST_BAR_NONE;
}
