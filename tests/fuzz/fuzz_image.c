/*
 * fuzz_image.c - libFuzzer target: a hostile image file (an lspci -x/-xxx/
 * -xxxx dump, an lspci -vvv file for BAR sizes, or ptdm's native format)
 * as `ptdm serve`, `inspect` and device-add open it.  The input up to its
 * first NUL is the image, the rest the sizes file.  An image that opens is
 * attached as a device, written back in the native format, and that text
 * must open again with the same config space.  Must never crash, leak or
 * trip a sanitizer.  (fuzz_cfg also parses image text, then drives guest
 * accesses; this target is about the file formats.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptdm/dev.h"
#include "ptdm/host.h"
#include "ptdm/image.h"
#include "ptdm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void silent(enum ptdm_log_level lvl, const char *line, void *o)
{
	(void)lvl;
	(void)line;
	(void)o;
}

static void check_roundtrip(struct host_dev *h)
{
	struct ptdm_err err = { "" };
	struct host_dev *again = NULL;
	uint8_t a[256], b[256];
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	if (image_write(f, h, &err)) {
		fclose(f);
		free(text);
		return; /* e.g. a BAR too large to write: refused, said why */
	}
	fclose(f);
	if (image_open_mem(&again, "again", text, len, NULL, 0, &err))
		abort(); /* ptdm cannot read what it wrote */
	if (host_cfg_read(h, 0, a, sizeof(a)) == 0 &&
	    host_cfg_read(again, 0, b, sizeof(b)) == 0 &&
	    memcmp(a, b, sizeof(a)))
		abort(); /* what it wrote is not what it read */
	host_close(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *sizes = NULL;
	const uint8_t *nul = memchr(data, 0, size);
	size_t text_len = size, sizes_len = 0;
	struct ptdm_err err = { "" };
	struct host_dev *h = NULL;

	ptdm_log_set_sink(silent, NULL);
	if (size > 512 * 1024)
		return 0;
	if (nul) {
		text_len = (size_t)(nul - data);
		sizes = (const char *)nul + 1;
		sizes_len = size - text_len - 1;
	}
	if (image_open_mem(&h, "fuzz", text, text_len, sizes, sizes_len,
			   &err)) {
		if (!err.msg[0])
			abort(); /* refused without a reason */
		return 0;
	}
	if (image_sizes_complete(h)) {
		struct ptdm_dev_opts o;
		struct ptdm_dev *d = NULL;

		ptdm_dev_opts_init(&o);
		if (!ptdm_dev_attach(&d, h, &o, &err))
			ptdm_dev_free(d);
	}
	check_roundtrip(h);
	host_close(h);
	return 0;
}
