/*
 * test_spec.c - xl PCI spec strings: the man page's examples, every key,
 * images, and every error naming its token.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "ptdm/spec.h"

static struct ptdm_spec parse_ok(const char *str)
{
	struct ptdm_spec s;
	struct ptdm_err e = { "" };

	if (ptdm_spec_parse(&s, str, &e))
		fail_msg("\"%s\": %s", str, e.msg);
	return s;
}

static void test_xl_examples_equivalent(void **state)
{
	/* xl-pci-configuration(5)'s example, with a slot a bus can hold */
	const char *forms[] = { "36:00.0@1a,seize=1", "36:00.0,vslot=1a,seize=1",
				"bdf=36:00.0,vslot=1a,seize=1" };

	for (int i = 0; i < 3; i++) {
		struct ptdm_spec s = parse_ok(forms[i]);
		char bdf[16];

		assert_true(s.has_bdf);
		assert_int_equal(s.bus, 0x36);
		assert_int_equal(s.dev, 0);
		assert_int_equal(s.func, 0);
		assert_int_equal(s.vslot, 0x1a);
		assert_int_equal(s.seize, 1);
		assert_int_equal(s.permissive, -1);
		ptdm_spec_bdf_str(&s, bdf, sizeof(bdf));
		assert_string_equal(bdf, "0000:36:00.0");
	}
}

static void test_keys(void **state)
{
	struct ptdm_spec s = parse_ok(
		"0001:02:1f.7@1f,permissive=1,msitranslate=yes,power_mgmt=0,"
		"rdm_policy=relaxed,vendor=8086,device=0x10c9,subvendor=1af4,"
		"subdevice=ffff");

	assert_int_equal(s.domain, 1);
	assert_int_equal(s.bus, 2);
	assert_int_equal(s.dev, 0x1f);
	assert_int_equal(s.func, 7);
	assert_int_equal(s.vslot, 0x1f);
	assert_int_equal(s.permissive, 1);
	assert_int_equal(s.msitranslate, 1);
	assert_int_equal(s.power_mgmt, 0);
	assert_int_equal(s.rdm_policy, PTDM_RDM_RELAXED);
	assert_int_equal(s.vendor_id, 0x8086);
	assert_int_equal(s.device_id, 0x10c9);
	assert_int_equal(s.subsystem_vendor_id, 0x1af4);
	assert_int_equal(s.subsystem_id, 0xffff);

	assert_int_equal(s.mmap, PTDM_MMAP_DEFAULT);
	s = parse_ok("01:00.0,mmap=trap");
	assert_int_equal(s.mmap, PTDM_MMAP_TRAP);
	s = parse_ok("dump.txt,mmap=fd");
	assert_int_equal(s.mmap, PTDM_MMAP_FD);
	assert_int_equal(s.quirks, -1);
	s = parse_ok("01:00.0,quirks=off");
	assert_int_equal(s.quirks, 0);
	s = parse_ok("dump.txt,quirks=on");
	assert_int_equal(s.quirks, 1);
	s = parse_ok("dump.txt,quirks=0");
	assert_int_equal(s.quirks, 0);
	assert_int_equal(s.rombar, -1);
	assert_string_equal(s.romfile, "");
	s = parse_ok("01:00.0,romfile=/srv/vbios.rom");
	assert_string_equal(s.romfile, "/srv/vbios.rom");
	s = parse_ok("01:00.0,rombar=0");
	assert_int_equal(s.rombar, 0);
	assert_int_equal(s.multifunction, -1);
	s = parse_ok("01:00.1,multifunction=1");
	assert_int_equal(s.multifunction, 1);
	s = parse_ok("01:00.*");
	assert_int_equal(s.func, PTDM_SPEC_FUNC_ALL);
	s = parse_ok("name=gpu0,permissive=0");
	assert_string_equal(s.name, "gpu0");
	assert_false(s.has_bdf);
}

static void test_images(void **state)
{
	struct ptdm_spec s =
		parse_ok("../shared/pci-dumps/x.lspci-x4.txt,permissive=1");

	assert_string_equal(s.image, "../shared/pci-dumps/x.lspci-x4.txt");
	assert_false(s.has_bdf);
	assert_int_equal(s.permissive, 1);
	s = parse_ok("image=dev.ptdm,sizes=dev.lspci-vvv.txt");
	assert_string_equal(s.image, "dev.ptdm");
	assert_string_equal(s.sizes, "dev.lspci-vvv.txt");
	s = parse_ok("dump.txt");
	assert_string_equal(s.image, "dump.txt");
}

static void expect_bad(const char *str, const char *token)
{
	struct ptdm_spec s;
	struct ptdm_err e = { "" };

	if (!ptdm_spec_parse(&s, str, &e))
		fail_msg("\"%s\" accepted", str);
	if (!strstr(e.msg, token))
		fail_msg("\"%s\": message \"%s\" does not name \"%s\"", str,
			 e.msg, token);
}

static void test_errors_name_token(void **state)
{
	expect_bad("01:00", "\"01:00\"");
	expect_bad("1:2:3.9", "\"1:2:3.9\"");
	expect_bad("01:20.0", "\"01:20.0\"");      /* device > 0x1f */
	expect_bad("100:00.0", "\"100:00.0\"");    /* bus > 0xff */
	expect_bad("01:00.0@20", "\"01:00.0@20\""); /* vslot > 0x1f */
	expect_bad("01:00.0,bogus=1", "\"bogus=1\"");
	expect_bad("01:00.0,permissive=2", "\"permissive=2\"");
	expect_bad("01:00.0,permissive=", "\"permissive=\"");
	expect_bad("01:00.0,permissive=1,permissive=0", "\"permissive=0\"");
	expect_bad("01:00.0,rdm_policy=loose", "\"rdm_policy=loose\"");
	expect_bad("01:00.0,vendor=12345", "\"vendor=12345\"");
	expect_bad("01:00.0,bdf=02:00.0", "\"bdf=02:00.0\"");
	expect_bad("01:00.0,seize", "\"seize\"");
	expect_bad("01:00.0,mmap=yes", "\"mmap=yes\"");
	expect_bad("01:00.0,mmap=trap,mmap=fd", "\"mmap=fd\"");
	expect_bad("01:00.0,quirks=maybe", "\"quirks=maybe\"");
	expect_bad("01:00.0,rombar=2", "\"rombar=2\"");
	expect_bad("01:00.0,romfile=", "\"romfile=\"");
	expect_bad("01:00.0,romfile=a,romfile=b", "\"romfile=b\"");
	expect_bad("01:00.0,romfile=a.rom,rombar=0", "exclude");
	expect_bad("01:00.0,quirks=off,quirks=on", "\"quirks=on\"");
	expect_bad("01:00.0,,seize=1", "empty token");
	expect_bad("01:00.0,", "empty token");
	expect_bad("", "empty");
	expect_bad("name=x,bdf=01:00.0", "exclude");
	expect_bad("permissive=1", "names no device");
}

/* a near miss names the key meant; a far one lists the keys */
static void test_unknown_key_suggests(void **state)
{
	expect_bad("01:00.0,permisive=1",
		   "unknown key 'permisive': did you mean 'permissive'?");
	expect_bad("01:00.0,powr_mgmt=1", "did you mean 'power_mgmt'?");
	expect_bad("01:00.0,vlsot=3", "did you mean 'vslot'?"); /* 2 edits */
	expect_bad("x.txt,imgae=y", "did you mean 'image'?");
	expect_bad("01:00.0,frobnicate=1", "unknown key 'frobnicate' (keys:");
	expect_bad("01:00.0,frobnicate=1", "permissive");
	expect_bad("01:00.0,permissive_mode=1", "(keys:"); /* 5 edits away */
}

/* a typo in a BDF is a bad address, never an image path to open */
static void test_bdf_typo_is_bad_address(void **state)
{
	struct ptdm_spec s;

	expect_bad("0000:zz:00.0", "\"0000:zz:00.0\": not a PCI address");
	expect_bad("zz:00.0", "not a PCI address");
	expect_bad("0000:0g:1f.0@3", "not a PCI address");
	expect_bad("0000:00:0x.0,permissive=1", "not a PCI address");
	/* file names that only look a little like one stay images */
	s = parse_ok("dump:1.txt");
	assert_string_equal(s.image, "dump:1.txt");
	s = parse_ok("./0000:zz:00.0");
	assert_string_equal(s.image, "./0000:zz:00.0");
	s = parse_ok("image=0000:zz:00.0");
	assert_string_equal(s.image, "0000:zz:00.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xl_examples_equivalent),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_errors_name_token),
		cmocka_unit_test(test_unknown_key_suggests),
		cmocka_unit_test(test_bdf_typo_is_bad_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
