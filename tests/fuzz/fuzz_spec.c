/*
 * fuzz_spec.c - libFuzzer target: a hostile spec string (ptdm_spec_parse:
 * an xl PCI spec, key=value lists, image paths) from a config file or the
 * control socket's device-add.  The input, cut at its first NUL, is the
 * string.  A spec that parses must give a BDF string that parses back to
 * the same BDF; a refused one must say why.  Must never crash, overrun or
 * trip a sanitizer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptdm/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ptdm_spec s, back;
	struct ptdm_err err = { "" };
	char *str, bdf[16];

	if (size > 64 * 1024)
		return 0;
	str = malloc(size + 1);
	if (!str)
		abort();
	memcpy(str, data, size);
	str[size] = 0;
	if (ptdm_spec_parse(&s, str, &err)) {
		if (!err.msg[0])
			abort(); /* refused without a reason */
	} else if (s.has_bdf && s.func != PTDM_SPEC_FUNC_ALL) {
		ptdm_spec_bdf_str(&s, bdf, sizeof(bdf));
		if (ptdm_spec_parse(&back, bdf, &err) || !back.has_bdf ||
		    back.domain != s.domain || back.bus != s.bus ||
		    back.dev != s.dev || back.func != s.func)
			abort();
	}
	free(str);
	return 0;
}
