/*
 * image_priv.h - the image backend's object, shared by image.c (the
 * backend) and image_file.c (the file formats) and visible to tests.
 */
#ifndef PTDM_IMAGE_PRIV_H
#define PTDM_IMAGE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "ptdm/host.h"

struct image_dev {
	struct host_dev h; /* first: a struct host_dev * is a struct image_dev * */
	uint8_t cfg[PTDM_CFG_SPACE_SIZE];         /* host-side config bytes */
	uint8_t cfg_initial[PTDM_CFG_SPACE_SIZE]; /* restored by reset */
	void *bar_mem[PTDM_NUM_BARS + 1];
	uint64_t bar_maplen[PTDM_NUM_BARS + 1];
	int bar_fd[PTDM_NUM_BARS + 1]; /* memfd per BAR, -1 until used */
	uint8_t rw1c[PTDM_CFG_SPACE_SIZE]; /* write-1-to-clear bits, per byte */
	int *irq_fds[3];     /* per enum host_irq_kind, from irq_set */
	unsigned irq_n[3];   /* vectors connected */
	bool intx_masked;    /* INTx fired and was not unmasked yet */
	unsigned cfg_writes; /* host config writes, for tests */
	unsigned resets;
	uint8_t *opregion;   /* IGD OpRegion recorded (image_set_opregion) */
	size_t opregion_len;
};

bool image_is_image(const struct host_dev *h);

#endif
