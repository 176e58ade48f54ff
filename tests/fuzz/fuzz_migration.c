/*
 * fuzz_migration.c - libFuzzer target: a hostile incoming migration stream
 * (ptdm_dev_load) against an image device with a memory BAR, an I/O BAR
 * and MSI-X, after the guest has put some state in it.
 *
 * Input byte 0, bit 0 picks the form:
 *   0: the rest is the stream, as is;
 *   1: the device's own saved state (ptdm_dev_save), patched by the rest
 *      taken as 3-byte records {offset lo, offset hi, xor}, and cut to the
 *      length in the first record - a structure-aware way past the header
 *      and the checksums or sizes a blind stream rarely gets right.
 * A load that succeeds must leave a device that saves again and answers
 * config reads; one that fails must change nothing (the state saved
 * before and after compare equal).  Must never crash, leak or trip a
 * sanitizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptdm/dev.h"
#include "ptdm/image.h"
#include "ptdm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void silent(enum ptdm_log_level lvl, const char *line, void *o)
{
	(void)lvl;
	(void)line;
	(void)o;
}

static struct ptdm_dev *make_dev(struct host_dev **hp)
{
	static uint8_t cfg[4096];
	struct ptdm_dev_opts o;
	struct ptdm_dev *d = NULL;
	struct ptdm_err err;

	memset(cfg, 0, sizeof(cfg));
	memcpy(cfg, "\x86\x80\xd3\x10\x00\x00\x10\x00", 8);
	cfg[0x18] = 0x01;        /* BAR2 io */
	cfg[0x34] = 0x70;
	cfg[0x3d] = 1;
	memcpy(cfg + 0x70, "\x11\x00\x03\x00\x00\x20\x00\x00\x00\x30\x00\x00",
	       12);              /* MSI-X: 4 vectors, table 0x2000, PBA 0x3000 */
	if (image_new(hp, "fuzz", cfg, sizeof(cfg), &err) ||
	    image_set_bar_size(*hp, 0, 0x4000, &err) ||
	    image_set_bar_size(*hp, 2, 0x20, &err))
		abort();
	ptdm_dev_opts_init(&o);
	if (ptdm_dev_attach(&d, *hp, &o, &err))
		abort();
	/* some state worth migrating: BARs placed, decode on, MSI-X on */
	if (ptdm_cfg_write(d, 0x10, 4, 0xfe000000) ||
	    ptdm_cfg_write(d, 0x18, 4, 0xc000) ||
	    ptdm_cfg_write(d, 0x04, 2, 0x0007) ||
	    ptdm_cfg_write(d, 0x72, 2, 0x8000))
		abort();
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *own = NULL, *before = NULL, *after = NULL, *stream;
	size_t own_len = 0, before_len = 0, after_len = 0, len;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint32_t v;
	int rc;

	ptdm_log_set_sink(silent, NULL);
	if (size < 1 || size > 1024 * 1024)
		return 0;
	d = make_dev(&h);
	if (ptdm_dev_save(d, &own, &own_len))
		abort();
	if (data[0] & 1) {
		stream = own;
		len = own_len;
		for (size_t i = 1; i + 3 <= size; i += 3) {
			size_t off = (size_t)(data[i] | data[i + 1] << 8);

			if (i == 1) { /* the first record also cuts */
				if (off < len)
					len = off + (len - off) / 2;
				continue;
			}
			if (off < len)
				stream[off] ^= data[i + 2];
		}
	} else {
		stream = (uint8_t *)data + 1;
		len = size - 1;
	}
	if (ptdm_dev_save(d, &before, &before_len))
		abort();
	rc = ptdm_dev_load(d, stream, len);
	if (ptdm_dev_save(d, &after, &after_len))
		abort();
	/* nothing changes on error */
	if (rc && (before_len != after_len ||
		   memcmp(before, after, before_len)))
		abort();
	if (ptdm_cfg_read(d, 0, 4, &v))
		abort();
	free(own);
	free(before);
	free(after);
	ptdm_dev_free(d);
	host_close(h);
	return 0;
}
