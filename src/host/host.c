/*
 * host.c - small helpers shared by every host backend.
 */
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
