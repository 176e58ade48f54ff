/*
 * pci.h - PCI addressing and config-space walking that the core and the
 * host backends share: one BDF parser and one capability-chain walker.
 *
 * The walker reads a config-space snapshot (bytes in PCI's little-endian
 * order) and never trusts it: every pointer is bounded (standard
 * capabilities inside [0x40, 0xfc], extended ones inside [0x100, size)),
 * aligned (the reserved low bits are masked off, and said so), and a
 * position seen twice ends the walk, so a hostile chain costs at most one
 * visit per dword.  It stops with a reason the caller can word its own
 * way; the capabilities it found up to there stay valid.
 */
#ifndef PTDM_UTIL_PCI_H
#define PTDM_UTIL_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "ptdm/host.h"

/* ---- BDF ---- */

#define BDF_FUNC_ALL (-1) /* "BB:DD.*" where the caller allows it */
#define BDF_ALLOW_ALL_FUNCS (1u << 0)

struct bdf {
	unsigned domain, bus, dev;
	int func; /* 0-7, or BDF_FUNC_ALL */
};

/*
 * "[DDDD:]BB:DD.F" as lspci -D prints it (hex, either case; domain up to 4
 * digits, bus and device up to 2, function one digit 0-7, or '*' with
 * BDF_ALLOW_ALL_FUNCS).  With end, parsing stops at the first blank or the
 * end of s and *end points there; without, the whole string must be a BDF.
 */
bool bdf_parse(const char *s, struct bdf *out, unsigned flags,
	       const char **end);
/* The canonical "DDDD:BB:DD.F" of a BDF without a wildcard. */
void bdf_format(const struct bdf *b, char out[16]);
/* Parse the whole of s and write its canonical form. */
bool bdf_canon(const char *s, char out[16]);

/* ---- capability chains ---- */

enum capwalk_stop {
	CAPWALK_CAP = 0,      /* *cap holds the next capability */
	CAPWALK_END,          /* the chain ends here, cleanly */
	CAPWALK_OUT_OF_RANGE, /* std: a pointer into the header or past 0xfc */
	CAPWALK_LOOP,         /* a position seen before */
	CAPWALK_ALL_ONES,     /* ext: a header past the first reads ~0 */
	CAPWALK_BELOW_EXT,    /* ext: a next pointer below 0x100 */
};

struct capwalk_cap {
	unsigned pos;       /* offset of its header */
	unsigned next;      /* its next pointer, reserved bits masked off */
	uint16_t id;
	uint8_t version;    /* extended capabilities only */
	bool next_reserved; /* std: its next pointer had reserved bits set */
};

struct capwalk {
	const uint8_t *cfg;
	unsigned size;
	bool ext;
	/* after a stop: the pointer that stopped it and where it came from
	 * (std: the byte holding it, 0x34 or cap+1; ext: the capability
	 * holding it, 0 for the start) */
	unsigned pos, from;
	bool ptr_reserved; /* std: the capability pointer had reserved bits */
	bool done;
	uint8_t seen[PTDM_CFG_SPACE_SIZE / 4 / 8];
};

/* Walk the standard chain of cfg[0, size) (size >= 64; nothing when the
 * status register says there is no list). */
void capwalk_std(struct capwalk *w, const uint8_t *cfg, unsigned size);
/* Walk the extended chain (nothing unless size is 4096). */
void capwalk_ext(struct capwalk *w, const uint8_t *cfg, unsigned size);
/* The next capability (CAPWALK_CAP) or why the walk stopped; once stopped
 * it stays stopped. */
enum capwalk_stop capwalk_next(struct capwalk *w, struct capwalk_cap *cap);
/* Offset of the first capability id in the validated chain, 0 for none. */
unsigned capwalk_find(const uint8_t *cfg, unsigned size, bool ext,
		      uint16_t id);

#endif
