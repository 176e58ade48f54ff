/*
 * caps_priv.h - functions the capability modules export to the rest of the
 * core (dev.c).
 */
#ifndef PTDM_CAPS_PRIV_H
#define PTDM_CAPS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ptdm_dev;

/* Emulated MSI-X table and PBA; *handled when the range touches them. */
int msix_bar_rw(struct ptdm_dev *d, int bar, uint64_t off, void *buf,
		size_t len, bool write, bool *handled);

#endif
