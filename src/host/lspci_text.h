/*
 * lspci_text.h - parsers for lspci's text: hex dumps (-x, -xxx, -xxxx,
 * and ptdm's native image, which is a hex dump with directive lines) and
 * the BAR sizes of a -vvv listing.  Internal to src/host.
 */
#ifndef PTDM_LSPCI_TEXT_H
#define PTDM_LSPCI_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptdm/err.h"
#include "ptdm/host.h"

/* Called for every line that is neither the device header nor hex;
 * return 0 to accept it, or a negative errno (with err filled). */
typedef int lspci_line_fn(void *opaque, const char *line, unsigned lineno,
			  struct ptdm_err *err);

struct lspci_dump {
	uint8_t cfg[PTDM_CFG_SPACE_SIZE];
	unsigned size; /* 64, 256 or 4096 */
	char bdf[16];  /* "DDDD:BB:DD.F" from the header line, or "" */
};

/*
 * Parse the first device of a dump.  other: directive lines (NULL: any
 * such line is an error).  Errors read "NAME:LINE: what".
 */
int lspci_parse_dump(const char *name, const char *text, size_t len,
		     lspci_line_fn *other, void *opaque, struct lspci_dump *out,
		     struct ptdm_err *err);

struct lspci_sizes {
	bool header;                        /* a device header line was seen */
	bool listed[PTDM_NUM_BARS + 1];     /* Region N / Expansion ROM line */
	bool known[PTDM_NUM_BARS + 1];      /* with [size=...] */
	uint64_t size[PTDM_NUM_BARS + 1];
	unsigned line[PTDM_NUM_BARS + 1];
};

int lspci_parse_sizes(const char *name, const char *text, size_t len,
		      struct lspci_sizes *out, struct ptdm_err *err);

#endif
