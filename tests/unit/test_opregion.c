/*
 * test_opregion.c - the IGD OpRegion copy (src/core/igd_opregion.c): the
 * check (signature, header size, extended VBT) on good and hostile
 * copies, the Alder Lake IGD dump of ../shared/pci-dumps given a synthetic
 * OpRegion through the image (image_set_opregion and the native format's
 * opregion lines, written and read back), ASLS (the guest's address for a
 * copy, the host's offset where the host's pages are mapped), and
 * vfio-user's region 9 as QEMU finds it: by the type capability in
 * GET_REGION_INFO, read-only, counted in num_regions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/image.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"

#define IGD "intel-46a6-alderlake-p-igd.lspci-x4.txt"
#define OPR 8192u

static void put(uint8_t *p, unsigned off, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

/* An OpRegion as vfio-pci shows it: 8 KiB, version 2.1 (major at 0x17),
 * and, with vbt bytes, the extended VBT right after it. */
static uint8_t *opregion(size_t vbt, size_t *len)
{
	uint8_t *p = calloc(1, OPR + vbt);

	assert_non_null(p);
	memcpy(p, "IntelGraphicsMem", 16);
	put(p, 0x10, OPR / 1024, 4);
	p[0x16] = 1; /* minor */
	p[0x17] = 2; /* major */
	if (vbt) {
		put(p, 0x3ba, OPR, 8);
		put(p, 0x3c2, vbt, 4);
		memcpy(p + OPR, "$VBT ALDERLAKE", 14);
	}
	p[0x100] = 0xa5; /* something in mailbox 1 to see in the copy */
	*len = OPR + vbt;
	return p;
}

static void check_fails(const uint8_t *p, size_t len, int rc, const char *in)
{
	struct ptdm_err err = { "" };

	assert_int_equal(ptdm_igd_opregion_check(p, len, &err), rc);
	if (!strstr(err.msg, in))
		fail_msg("\"%s\" not in \"%s\"", in, err.msg);
}

static void test_check(void **state)
{
	struct ptdm_err err = { "" };
	size_t len;
	uint8_t *p = opregion(0, &len), *v;

	(void)state;
	assert_int_equal(ptdm_igd_opregion_check(p, len, &err), 0);
	/* too short for what i915 maps, cut short of its header size */
	check_fails(p, 16, -EINVAL, "maps 8192");
	check_fails(p, OPR - 1, -EINVAL, "maps 8192");
	/* bad signature */
	p[3] = 'X';
	check_fails(p, len, -EINVAL, "signature");
	p[3] = 'e';
	/* the header says more than the copy has, or less than 8 KiB */
	put(p, 0x10, 16, 4);
	check_fails(p, len, -EINVAL, "header says 16384");
	put(p, 0x10, 4, 4);
	check_fails(p, len, -EINVAL, "header says 4096");
	put(p, 0x10, 0xffffffff, 4); /* KiB * 1024 must not wrap */
	check_fails(p, len, -EINVAL, "header says");
	put(p, 0x10, 8, 4);
	/* trailing bytes with no extended VBT to explain them */
	v = realloc(p, len + 16);
	assert_non_null(v);
	p = v;
	check_fails(p, len + 16, -EINVAL, "no extended VBT");
	free(p);
	/* too large to be an OpRegion */
	p = calloc(1, PTDM_IGD_OPREGION_MAX + 1);
	assert_non_null(p);
	memcpy(p, "IntelGraphicsMem", 16);
	check_fails(p, PTDM_IGD_OPREGION_MAX + 1, -EFBIG, "more than");
	free(p);

	/* an extended VBT after the OpRegion, RVDA relative (2.1) */
	p = opregion(0x1800, &len);
	assert_int_equal(ptdm_igd_opregion_check(p, len, &err), 0);
	/* 2.0: RVDA is the host's physical address */
	p[0x16] = 0;
	put(p, 0x3ba, 0x65a00000, 8);
	check_fails(p, len, -EINVAL, "host address 0x65a00000");
	p[0x16] = 1;
	/* RVDA inside the OpRegion, past the end, or wrapping */
	put(p, 0x3ba, 0x100, 8);
	check_fails(p, len, -EINVAL, "not the end");
	put(p, 0x3ba, OPR + 0x10, 8);
	check_fails(p, len, -EINVAL, "not the end");
	put(p, 0x3ba, ~0ull - 8, 8);
	check_fails(p, len, -EINVAL, "not the end");
	put(p, 0x3ba, OPR, 8);
	put(p, 0x3c2, 0x1900, 4); /* larger than what follows */
	check_fails(p, len, -EINVAL, "not the end");
	put(p, 0x3c2, 0x1800, 4);
	/* no VBT signature where RVDA points */
	p[OPR] = 'x';
	check_fails(p, len, -EINVAL, "$VBT");
	p[OPR] = '$';
	assert_int_equal(ptdm_igd_opregion_check(p, len, &err), 0);
	/* 1.x: RVDA/RVDS are not there, whatever the bytes say */
	p[0x17] = 1;
	check_fails(p, len, -EINVAL, "no extended VBT");
	assert_int_equal(ptdm_igd_opregion_check(p, OPR, &err), 0);
	free(p);
}

static struct host_dev *igd(void)
{
	struct ptdm_err err = { "" };
	struct host_dev *h = NULL;

	if (image_open(&h, th_dump(IGD), NULL, &err))
		fail_msg("%s", err.msg);
	return h;
}

static void test_copy_and_asls(void **state)
{
	struct ptdm_err err = { "" };
	struct host_dev *h = igd();
	struct ptdm_dev *d;
	uint8_t sig[16], b[8];
	size_t len;
	uint8_t *p = opregion(0x1000, &len);

	(void)state;
	/* the image refuses a hostile copy and keeps none */
	p[0] = 'i';
	assert_int_equal(image_set_opregion(h, p, len, &err), -EINVAL);
	d = th_attach(h, NULL);
	assert_int_equal(ptdm_dev_igd_opregion_size(d), 0);
	assert_int_equal(ptdm_igd_opregion_read(d, 0, sig, 16), -ENXIO);
	th_free(d, h);

	h = igd();
	p[0] = 'I';
	assert_int_equal(image_set_opregion(h, p, len, &err), 0);
	p[0x100] = 0; /* the image has its own copy */
	d = th_attach(h, NULL);
	assert_int_equal(ptdm_dev_igd_opregion_size(d), len);
	assert_int_equal(ptdm_igd_opregion_read(d, 0, sig, 16), 0);
	assert_memory_equal(sig, "IntelGraphicsMem", 16);
	assert_int_equal(ptdm_igd_opregion_read(d, 0x100, b, 1), 0);
	assert_int_equal(b[0], 0xa5);
	assert_int_equal(ptdm_igd_opregion_read(d, OPR, b, 4), 0);
	assert_memory_equal(b, "$VBT", 4);
	/* reads past the end, wrapping or empty */
	assert_int_equal(ptdm_igd_opregion_read(d, len - 4, b, 8), -EINVAL);
	assert_int_equal(ptdm_igd_opregion_read(d, len + 1, b, 1), -EINVAL);
	assert_int_equal(ptdm_igd_opregion_read(d, ~0ull, b, 2), -EINVAL);
	assert_int_equal(ptdm_igd_opregion_read(d, 0, b, 0), -EINVAL);
	assert_int_equal(ptdm_igd_opregion_read(d, len - 1, b, 1), 0);
	/* a copy: ASLS is the guest's address (the host's offset 0x18 is
	 * not in it: the copy starts where the firmware put it) */
	assert_int_equal(th_rd(d, 0xfc, 4), 0);
	th_wr(d, 0xfc, 4, 0x7f000000);
	assert_int_equal(th_rd(d, 0xfc, 4), 0x7f000000);
	assert_int_equal(th_host(h, 0xfc, 4), 0x65940018);
	/* a front end that maps the host's pages: the host's offset */
	ptdm_dev_igd_map_host_opregion(d);
	th_wr(d, 0xfc, 4, 0x7e000000);
	assert_int_equal(th_rd(d, 0xfc, 4), 0x7e000018);
	th_free(d, h);

	/* quirks=off: no IGD quirk, no copy, no region */
	{
		struct ptdm_dev_opts o;

		h = igd();
		assert_int_equal(image_set_opregion(h, p, len, &err), 0);
		ptdm_dev_opts_init(&o);
		o.no_quirks = true;
		d = th_attach(h, &o);
		assert_int_equal(ptdm_dev_igd_opregion_size(d), 0);
		th_free(d, h);
	}
	free(p);
}

/* The native format: opregion lines written by image_write, read back. */
static char *write_image(struct host_dev *h, size_t *len)
{
	struct ptdm_err err = { "" };
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	assert_non_null(f);
	assert_int_equal(image_write(f, h, &err), 0);
	fclose(f);
	return text;
}

static int open_text(const char *text, struct host_dev **h,
		     struct ptdm_err *err)
{
	return image_open_mem(h, "t.img", text, strlen(text), NULL, 0, err);
}

/* text with the line that starts with what replaced by with ("" drops) */
static char *edit(const char *text, const char *what, const char *with)
{
	const char *at = strstr(text, what), *eol;
	char *out;

	assert_non_null(at);
	eol = strchr(at, '\n');
	assert_non_null(eol);
	out = malloc(strlen(text) + strlen(with) + 2);
	assert_non_null(out);
	sprintf(out, "%.*s%s%s", (int)(at - text), text, with,
		*with ? eol : eol + 1);
	return out;
}

static void test_native_format(void **state)
{
	struct ptdm_err err = { "" };
	struct host_dev *h = igd(), *h2 = NULL;
	struct ptdm_dev *d;
	size_t len, tlen;
	uint8_t *p = opregion(0x107, &len), sig[16], *back;
	char *text, *bad;

	(void)state;
	assert_int_equal(image_set_opregion(h, p, len, &err), 0);
	text = write_image(h, &tlen);
	host_close(h);
	assert_non_null(strstr(text, "opregion 0000: 49 6e 74 65 6c 47"));
	assert_non_null(strstr(text, "opregion 2100: 00 00 00 00 00 00 00\n"));
	if (open_text(text, &h2, &err))
		fail_msg("%s", err.msg);
	d = th_attach(h2, NULL);
	assert_int_equal(ptdm_dev_igd_opregion_size(d), len);
	back = malloc(len);
	assert_non_null(back);
	assert_int_equal(ptdm_igd_opregion_read(d, 0, back, len), 0);
	assert_memory_equal(back, p, len);
	free(back);
	assert_int_equal(ptdm_igd_opregion_read(d, 0, sig, 16), 0);
	th_free(d, h2);

	/* hostile lines */
	bad = edit(text, "opregion 0010:", "opregion 0020: 00");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "want 0x10"));
	free(bad);
	bad = edit(text, "opregion 0010:", "");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	free(bad);
	bad = edit(text, "opregion 0010:", "opregion 0010: 0g 00");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "two hex digits"));
	free(bad);
	bad = edit(text, "opregion 0010:", "opregion 0010: 100 00");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	free(bad);
	bad = edit(text, "opregion 0010:", "opregion 0010: 00 00 00 00 00 00 "
		   "00 00 00 00 00 00 00 00 00 00 00");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "more than 16"));
	free(bad);
	bad = edit(text, "opregion 0010:", "opregion 0010:");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	free(bad);
	bad = edit(text, "opregion 0010:", "opregion0010: 08");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	free(bad);
	/* a short line that is not the last */
	bad = edit(text, "opregion 0010:", "opregion 0010: 08 00");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	free(bad);
	/* the header says 16 KiB, the image has 8 KiB and the VBT */
	bad = edit(text, "opregion 0010:", "opregion 0010: 10 00 00 00 00 00 "
		   "01 02 00 00 00 00 00 00 00 00");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "header says 16384"));
	free(bad);
	/* the bytes cut short: RVDS says more than there is */
	bad = edit(text, "opregion 2100:", "");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "opregion"));
	free(bad);
	/* bad signature */
	bad = edit(text, "opregion 0000:", "opregion 0000: 49 6e 74 65 6c 47 "
		   "72 61 70 68 69 63 73 4d 65 6e");
	assert_int_equal(open_text(bad, &h2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "signature"));
	free(bad);
	free(text);
	free(p);
}

/* vfio-user: region 9, found by type and subtype, read-only. */
static void fx_open(struct th_vfu *f, bool with_opregion)
{
	struct ptdm_err err = { "" };
	size_t len;
	uint8_t *p = opregion(0x800, &len);

	f->h = igd();
	if (with_opregion)
		assert_int_equal(image_set_opregion(f->h, p, len, &err), 0);
	free(p);
	f->d = th_attach(f->h, NULL);
	th_vfu_open(f, f->h, f->d, true);
}

static uint32_t num_regions(struct th_vfu *f)
{
	struct vfu_device_info di = { .argsz = sizeof(di) }, dr;
	size_t len = 0;

	assert_int_equal(vfu_client_call(&f->cli, VFU_DEVICE_GET_INFO, &di,
					 sizeof(di), NULL, 0, &dr, sizeof(dr),
					 &len, NULL), 0);
	return dr.num_regions;
}

/* What QEMU's vfio_device_get_region_info_type does: the regions from 9
 * on, each one's capability chain walked for VFIO_REGION_INFO_CAP_TYPE. */
static int find_typed(struct th_vfu *f, uint32_t type, uint32_t subtype,
		      struct vfu_region_info *out)
{
	uint32_t n = num_regions(f);

	for (unsigned i = VFIO_PCI_NUM_REGIONS; i < n; i++) {
		uint8_t caps[256];
		struct vfu_region_info ri;
		uint32_t off;
		int fd = -1;

		assert_int_equal(vfu_client_region_info(&f->cli, i, &ri, caps,
							sizeof(caps), &fd), 0);
		assert_int_equal(fd, -1);
		if (!(ri.flags & VFIO_REGION_INFO_FLAG_CAPS))
			continue;
		for (off = ri.cap_offset; off;) {
			struct vfio_info_cap_header h;
			struct vfio_region_info_cap_type t;

			assert_true(off >= sizeof(ri));
			assert_true(off - sizeof(ri) + sizeof(t) <= sizeof(caps));
			assert_true(off + sizeof(t) <= ri.argsz);
			memcpy(&h, caps + off - sizeof(ri), sizeof(h));
			memcpy(&t, caps + off - sizeof(ri), sizeof(t));
			if (h.id == VFIO_REGION_INFO_CAP_TYPE &&
			    t.type == type && t.subtype == subtype) {
				assert_int_equal(h.version, 1);
				*out = ri;
				return (int)i;
			}
			off = h.next;
		}
	}
	return -1;
}

static void test_vfio_user_region(void **state)
{
	const uint32_t type = (uint32_t)VFIO_REGION_TYPE_PCI_VENDOR_TYPE |
			      0x8086u;
	struct th_vfu f;
	struct vfu_region_info ri, small;
	uint8_t buf[64];
	int fd = -1;

	(void)state;
	fx_open(&f, true);
	assert_int_equal(num_regions(&f), 10);
	assert_int_equal(find_typed(&f, type,
				    VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION, &ri),
			 9);
	assert_int_equal(ri.index, 9);
	assert_int_equal(ri.size, OPR + 0x800);
	assert_int_equal(ri.flags, VFIO_REGION_INFO_FLAG_READ |
					   VFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(ri.cap_offset, sizeof(ri));
	assert_int_equal(ri.argsz, sizeof(ri) +
				   sizeof(struct vfio_region_info_cap_type));
	/* another subtype is not there */
	assert_int_equal(find_typed(&f, type,
				    VFIO_REGION_SUBTYPE_INTEL_IGD_HOST_CFG, &small),
			 -1);
	/* QEMU's first ask (argsz 32): the size needed, no CAPS yet */
	assert_int_equal(vfu_client_region_info(&f.cli, 9, &small, NULL, 0,
						&fd), 0);
	assert_int_equal(small.argsz, ri.argsz);
	assert_false(small.flags & VFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(small.cap_offset, 0);
	/* the signature, the mailbox byte, the VBT */
	assert_int_equal(vfu_client_region_rw(&f.cli, 9, 0, buf, 16, false), 0);
	assert_memory_equal(buf, "IntelGraphicsMem", 16);
	assert_int_equal(vfu_client_region_rw(&f.cli, 9, OPR, buf, 4, false),
			 0);
	assert_memory_equal(buf, "$VBT", 4);
	/* hostile: write, past the end, across it, wrapping, region 10 */
	assert_int_equal(vfu_client_region_rw(&f.cli, 9, 0, buf, 4, true),
			 -EINVAL);
	assert_int_equal(vfu_client_region_rw(&f.cli, 9, ri.size, buf, 1,
					      false), -EINVAL);
	assert_int_equal(vfu_client_region_rw(&f.cli, 9, ri.size - 2, buf, 4,
					      false), -EINVAL);
	assert_int_equal(vfu_client_region_rw(&f.cli, 9, ~0ull, buf, 2,
					      false), -EINVAL);
	assert_int_equal(vfu_client_region_rw(&f.cli, 10, 0, buf, 4, false),
			 -EINVAL);
	assert_int_equal(vfu_client_region_info(&f.cli, 10, &small, NULL, 0,
						&fd), -EINVAL);
	assert_int_equal(vfu_client_region_rw(&f.cli, 9, ri.size - 1, buf, 1,
					      false), 0);
	/* the firmware's ASLS write: the device says the same address */
	{
		uint32_t v = 0x7f000000;

		assert_int_equal(vfu_client_region_rw(&f.cli,
						      VFIO_PCI_CONFIG_REGION_INDEX,
						      0xfc, &v, 4, true), 0);
		v = 0;
		assert_int_equal(vfu_client_region_rw(&f.cli,
						      VFIO_PCI_CONFIG_REGION_INDEX,
						      0xfc, &v, 4, false), 0);
		assert_int_equal(v, 0x7f000000);
	}
	th_vfu_close(&f);

	/* no OpRegion: VFIO's 9 regions, region 9 refused */
	fx_open(&f, false);
	assert_int_equal(num_regions(&f), 9);
	assert_int_equal(vfu_client_region_info(&f.cli, 9, &small, NULL, 0,
						&fd), -EINVAL);
	assert_int_equal(vfu_client_region_rw(&f.cli, 9, 0, buf, 4, false),
			 -EINVAL);
	th_vfu_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_copy_and_asls),
		cmocka_unit_test(test_native_format),
		cmocka_unit_test(test_vfio_user_region),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
