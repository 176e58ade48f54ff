/*
 * view.h - one device seen twice: as the host has it and as ptdm shows it
 * to a guest.  Gathered once, printed as text, JSON or an lspci dump.
 */
#ifndef PTDM_CLI_VIEW_H
#define PTDM_CLI_VIEW_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "ptdm/dev.h"

struct view_ids {
	uint16_t vendor, device, subvendor, subdevice, command, status;
	uint32_t class24;
	uint8_t revision, header_type, pin;
};

struct view_bar {
	struct ptdm_bar_info info; /* host kind/size */
	uint64_t host_addr;        /* the host's BAR register(s) */
	bool guest_sized;          /* sizing through the engine worked */
	uint64_t guest_size;
};

struct view {
	struct view_ids host, guest;
	struct view_bar bar[PTDM_NUM_BARS + 1];
};

/* Read both views; sizes the guest BARs the way firmware does. */
int view_collect(struct ptdm_dev *d, struct view *v);
void view_print_text(FILE *f, struct ptdm_dev *d, const struct view *v,
		     const char *backend);
struct json_object *view_json(struct ptdm_dev *d, const struct view *v,
			      const char *backend);
/* lspci -xxxx form of the guest (or host) config, for lspci -F. */
int view_dump(FILE *f, struct ptdm_dev *d, bool guest);

#endif
