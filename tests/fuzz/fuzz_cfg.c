/*
 * fuzz_cfg.c - libFuzzer target: random image text, then random guest
 * accesses against the device it describes.
 *
 * Input: image text up to the first NUL byte (an lspci dump or a native
 * image, parsed by image_open_mem; implemented BARs of unknown size get a
 * fixed one so the MSI-X emulation is reachable), then 8-byte operations:
 *   byte 0: op (config read/write, BAR read/write, reset)
 *   byte 1-2: offset (12 bits for config; BAR offset otherwise)
 *   byte 3: size selector, byte 4-7: value
 * The text also goes through the spec-string parser.  Must never crash,
 * leak or trip a sanitizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptdm/dev.h"
#include "ptdm/image.h"
#include "ptdm/log.h"
#include "ptdm/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void silent(enum ptdm_log_level lvl, const char *line, void *o)
{
	(void)lvl;
	(void)line;
	(void)o;
}

static void run_ops(struct ptdm_dev *d, const uint8_t *p, size_t n)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };

	for (size_t i = 0; i + 8 <= n && i < 8 * 4096; i += 8) {
		unsigned op = p[i] % 6, off = p[i + 1] | p[i + 2] << 8;
		unsigned sz = sizes[p[i + 3] & 3];
		int bar = (p[i + 3] >> 2) % 7;
		uint64_t val = 0;
		uint32_t v32;

		memcpy(&val, p + i + 4, 4);
		switch (op) {
		case 0:
			ptdm_cfg_read(d, off & 0xfff, sz > 4 ? 4 : sz, &v32);
			break;
		case 1:
			ptdm_cfg_write(d, off & 0xfff, sz > 4 ? 4 : sz,
				       (uint32_t)val);
			break;
		case 2:
			ptdm_bar_rw(d, bar, off, &val, sz, false);
			break;
		case 3:
			ptdm_bar_rw(d, bar, off, &val, sz, true);
			break;
		case 4: /* program a BAR and turn decode on, as firmware does */
			ptdm_cfg_write(d, 0x10 + 4 * (unsigned)(bar % 6), 4,
				       (uint32_t)val);
			ptdm_cfg_write(d, 0x04, 2, 0x0007);
			break;
		default:
			if (p[i + 1] == 0xa5)
				ptdm_dev_reset(d);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	char *text = malloc(tlen + 1);
	struct host_dev *h = NULL;
	struct ptdm_dev *d = NULL;
	struct ptdm_dev_opts o;
	struct ptdm_spec spec;
	struct ptdm_err err;

	ptdm_log_set_sink(silent, NULL);
	if (!text)
		return 0;
	memcpy(text, data, tlen);
	text[tlen] = 0;
	ptdm_spec_parse(&spec, text, &err);
	if (image_open_mem(&h, "fuzz", text, tlen, NULL, 0, &err) == 0) {
		for (int i = 0; i <= PTDM_ROM_INDEX; i++)
			if (!h->bars[i].size_known)
				image_set_bar_size(h, i, i == PTDM_ROM_INDEX
							       ? 0x10000
							       : 0x4000, &err);
		ptdm_dev_opts_init(&o);
		o.permissive = size & 1;
		o.power_mgmt = size & 2;
		if (ptdm_dev_attach(&d, h, &o, &err) == 0) {
			if (nul)
				run_ops(d, nul + 1, size - tlen - 1);
			ptdm_dev_free(d);
		}
		host_close(h);
	}
	free(text);
	return 0;
}
