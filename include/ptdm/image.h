/*
 * image.h - recorded devices as a host backend.
 *
 * An image is config space plus BAR sizes; its BARs are plain memory.  It
 * loads from lspci -x / -xxx / -xxxx text dumps (BAR sizes from a matching
 * lspci -vvv file, found beside the dump as NAME.lspci-vvv.txt, or named)
 * and from ptdm's native image format, which `ptdm capture` writes:
 *
 *   # ptdm-image 1
 *   device 0000:01:00.0
 *   bar 0 mem64 prefetch size 0x10000000
 *   bar 2 io size 0x20
 *   rom size 0x40000
 *   opregion 0000: 49 6e 74 ...  (optional: an IGD's OpRegion, 16 bytes a
 *                                 line, offsets in order from 0)
 *   00: 86 80 ...      (lspci -xxxx hex lines; 16 or 256 of them)
 */
#ifndef PTDM_IMAGE_H
#define PTDM_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ptdm/err.h"
#include "ptdm/host.h"

/*
 * Open path.  sizes_path: a -vvv file to take BAR sizes from; NULL looks
 * beside the dump by name and goes on without sizes when there is none.
 */
int image_open(struct host_dev **out, const char *path, const char *sizes_path,
	       struct ptdm_err *err);
/* Same from a buffer (tests, fuzzing); name is used in messages. */
int image_open_mem(struct host_dev **out, const char *name, const char *text,
		   size_t len, const char *sizes_text, size_t sizes_len,
		   struct ptdm_err *err);
/*
 * A fresh image from raw config bytes (cfg_size 256 or 4096).  BAR kinds
 * come from the BAR registers; sizes are unknown until image_set_bar_size().
 */
int image_new(struct host_dev **out, const char *name, const uint8_t *cfg,
	      unsigned cfg_size, struct ptdm_err *err);
/* Give or change one BAR's size by hand (bar 0..5 or PTDM_ROM_INDEX). */
int image_set_bar_size(struct host_dev *h, int bar, uint64_t size,
		       struct ptdm_err *err);
/*
 * Record an Intel IGD's OpRegion with the image (what vfio-pci's OpRegion
 * region holds; checked by ptdm_igd_opregion_check): ptdm then offers the
 * guest a copy of it, as vfio-pci does.  Replaces one given before.
 */
int image_set_opregion(struct host_dev *h, const uint8_t *op, size_t len,
		       struct ptdm_err *err);
/* Write any host device (config + BARs, an IGD's OpRegion) in the native
 * format. */
int image_write(FILE *f, struct host_dev *h, struct ptdm_err *err);
/* True when every implemented BAR has a known size (needed to serve). */
bool image_sizes_complete(const struct host_dev *h);
/*
 * An image has no hardware to interrupt, so this stands in for it: raise
 * vector vec of whichever kind the owner connected (MSI-X, else MSI, else
 * INTx, which then stays masked until unmasked).  -ENOENT when nothing is
 * connected there.
 */
int image_irq_raise(struct host_dev *h, unsigned vec);

#endif
