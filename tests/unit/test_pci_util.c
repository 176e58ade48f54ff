/*
 * test_pci_util.c - the helpers the core and every host backend share:
 * the BDF parser (util/pci.h), the validated capability walker, the BAR
 * kind decoder (host.h) and the sysfs link reader (sysfs.h).  The walker
 * gets hostile chains: loops, pointers into the header and past the end,
 * reserved bits, all-ones and below-0x100 extended pointers.
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/sysfs.h"
#include "util/pci.h"

static void test_bdf(void **state)
{
	static const char *const bad[] = {
		"", "00:1g.0", "0000:100:00.0", "00000:00:00.0", "0:0:0:0.0",
		"00:20.0", "00:00.8", "00:00.", ".0", "00.0", "0000:00:00.0x",
		"0000:00:00.00", "00:000.0", ":00:00.0", "0000::00.0",
		"0000:00:00.*", " 00:00.0",
	};
	struct bdf b;
	const char *end;
	char out[16];

	(void)state;
	assert_true(bdf_canon("0000:01:00.0", out));
	assert_string_equal(out, "0000:01:00.0");
	assert_true(bdf_canon("01:00.0", out));
	assert_string_equal(out, "0000:01:00.0");
	assert_true(bdf_canon("ABCD:eF:1f.7", out));
	assert_string_equal(out, "abcd:ef:1f.7");
	assert_true(bdf_canon("1:2:3.4", out));
	assert_string_equal(out, "0001:02:03.4");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (bdf_canon(bad[i], out))
			fail_msg("\"%s\" parsed as %s", bad[i], out);
	assert_false(bdf_canon(NULL, out));
	/* a wildcard function only where the caller allows it */
	assert_true(bdf_parse("0000:03:00.*", &b, BDF_ALLOW_ALL_FUNCS, NULL));
	assert_int_equal(b.func, BDF_FUNC_ALL);
	assert_int_equal(b.bus, 3);
	assert_true(bdf_parse("03:1f.2", &b, BDF_ALLOW_ALL_FUNCS, NULL));
	assert_int_equal(b.func, 2);
	assert_int_equal(b.dev, 0x1f);
	/* at the start of a line, up to a blank */
	assert_true(bdf_parse("00:03.0 Ethernet controller", &b, 0, &end));
	assert_string_equal(end, " Ethernet controller");
	assert_false(bdf_parse("00:03.0x Ethernet", &b, 0, &end));
	assert_false(bdf_parse("00:03.0 Ethernet", &b, 0, NULL));
}

/* Walk a chain to its stop, collecting positions. */
static enum capwalk_stop walk(struct capwalk *w, unsigned *pos, unsigned max,
			      unsigned *n)
{
	struct capwalk_cap c;
	enum capwalk_stop why;

	*n = 0;
	while ((why = capwalk_next(w, &c)) == CAPWALK_CAP) {
		assert_true(*n < max);
		pos[(*n)++] = c.pos;
	}
	return why;
}

static void test_capwalk_std(void **state)
{
	struct th_cfg c;
	struct capwalk w;
	struct capwalk_cap cap;
	unsigned pos[64], n;

	(void)state;
	th_cfg_init(&c, 0x8086, 0x10d3, 256);
	/* no capability list bit: nothing, even with a pointer */
	c.b[PCI_CAPABILITY_LIST] = 0x40;
	capwalk_std(&w, c.b, 256);
	assert_int_equal(walk(&w, pos, 64, &n), CAPWALK_END);
	assert_int_equal(n, 0);

	th_cfg_init(&c, 0x8086, 0x10d3, 256);
	th_add_cap(&c, 0x40, PCI_CAP_ID_PM, NULL, 0);
	th_add_cap(&c, 0x50, PCI_CAP_ID_MSI, NULL, 0);
	th_add_cap(&c, 0x70, PCI_CAP_ID_MSIX, NULL, 0);
	capwalk_std(&w, c.b, 256);
	assert_int_equal(capwalk_next(&w, &cap), CAPWALK_CAP);
	assert_int_equal(cap.pos, 0x40);
	assert_int_equal(cap.id, PCI_CAP_ID_PM);
	assert_int_equal(cap.next, 0x50);
	assert_false(cap.next_reserved);
	assert_int_equal(walk(&w, pos, 64, &n), CAPWALK_END);
	assert_int_equal(n, 2);
	assert_int_equal(capwalk_find(c.b, 256, false, PCI_CAP_ID_MSIX), 0x70);
	assert_int_equal(capwalk_find(c.b, 256, false, PCI_CAP_ID_EXP), 0);

	/* reserved bits: masked off and said so */
	c.b[PCI_CAPABILITY_LIST] = 0x42;
	c.b[0x51] = 0x73;
	capwalk_std(&w, c.b, 256);
	assert_true(w.ptr_reserved);
	assert_int_equal(walk(&w, pos, 64, &n), CAPWALK_END);
	assert_int_equal(n, 3);
	capwalk_std(&w, c.b, 256);
	capwalk_next(&w, &cap);
	capwalk_next(&w, &cap);
	assert_int_equal(cap.pos, 0x50);
	assert_int_equal(cap.next, 0x70);
	assert_true(cap.next_reserved);

	/* a loop back to the start: cut at the second visit */
	c.b[PCI_CAPABILITY_LIST] = 0x40;
	c.b[0x51] = 0x70;
	c.b[0x71] = 0x40;
	capwalk_std(&w, c.b, 256);
	assert_int_equal(walk(&w, pos, 64, &n), CAPWALK_LOOP);
	assert_int_equal(n, 3);
	assert_int_equal(w.pos, 0x40);
	assert_int_equal(w.from, 0x71);
	/* once stopped, stays stopped */
	assert_int_equal(capwalk_next(&w, &cap), CAPWALK_END);
	/* a self loop */
	c.b[0x41] = 0x40;
	capwalk_std(&w, c.b, 256);
	assert_int_equal(walk(&w, pos, 64, &n), CAPWALK_LOOP);
	assert_int_equal(n, 1);

	/* into the header, and past the end */
	c.b[0x41] = 0x20;
	capwalk_std(&w, c.b, 256);
	assert_int_equal(walk(&w, pos, 64, &n), CAPWALK_OUT_OF_RANGE);
	assert_int_equal(n, 1);
	assert_int_equal(w.pos, 0x20);
	assert_int_equal(w.from, 0x41);
	c.b[PCI_CAPABILITY_LIST] = 0xff; /* 0xfc once masked: fine */
	c.b[0xfc] = PCI_CAP_ID_VNDR;
	c.b[0xfd] = 0;
	capwalk_std(&w, c.b, 256);
	assert_int_equal(walk(&w, pos, 64, &n), CAPWALK_END);
	assert_int_equal(n, 1);
	assert_int_equal(pos[0], 0xfc);
	/* the longest chain there can be: every dword once, then the end */
	for (unsigned p = 0x40; p <= 0xfc; p += 4) {
		c.b[p] = PCI_CAP_ID_VNDR;
		c.b[p + 1] = (uint8_t)(p == 0xfc ? 0 : p + 4);
	}
	c.b[PCI_CAPABILITY_LIST] = 0x40;
	capwalk_std(&w, c.b, 256);
	assert_int_equal(walk(&w, pos, 64, &n), CAPWALK_END);
	assert_int_equal(n, 48);
	/* a 64-byte snapshot (lspci -x) holds no capability */
	capwalk_std(&w, c.b, 64);
	assert_int_equal(walk(&w, pos, 64, &n), CAPWALK_OUT_OF_RANGE);
	assert_int_equal(n, 0);
}

static void test_capwalk_ext(void **state)
{
	struct th_cfg c;
	struct capwalk w;
	struct capwalk_cap cap;
	unsigned pos[1100], n;

	(void)state;
	th_cfg_init(&c, 0x8086, 0x10d3, 4096);
	capwalk_ext(&w, c.b, 4096); /* zero at 0x100: none */
	assert_int_equal(walk(&w, pos, 1100, &n), CAPWALK_END);
	assert_int_equal(n, 0);
	th_put(&c, 0x100, 4, ~0u); /* all-ones at 0x100: none either */
	capwalk_ext(&w, c.b, 4096);
	assert_int_equal(walk(&w, pos, 1100, &n), CAPWALK_END);
	assert_int_equal(n, 0);

	th_cfg_init(&c, 0x8086, 0x10d3, 4096);
	th_add_ecap(&c, 0x100, PCI_EXT_CAP_ID_ERR, 2, NULL, 0);
	th_add_ecap(&c, 0x150, PCI_EXT_CAP_ID_DSN, 1, NULL, 0);
	capwalk_ext(&w, c.b, 4096);
	assert_int_equal(capwalk_next(&w, &cap), CAPWALK_CAP);
	assert_int_equal(cap.id, PCI_EXT_CAP_ID_ERR);
	assert_int_equal(cap.version, 2);
	assert_int_equal(cap.next, 0x150);
	assert_int_equal(walk(&w, pos, 1100, &n), CAPWALK_END);
	assert_int_equal(n, 1);
	assert_int_equal(capwalk_find(c.b, 4096, true, PCI_EXT_CAP_ID_DSN),
			 0x150);
	/* a legacy-size device has no extended space */
	capwalk_ext(&w, c.b, 256);
	assert_int_equal(walk(&w, pos, 1100, &n), CAPWALK_END);
	assert_int_equal(n, 0);

	/* next pointing below 0x100 */
	th_put(&c, 0x150, 4, PCI_EXT_CAP_ID_DSN | 1u << 16 | 0x40u << 20);
	capwalk_ext(&w, c.b, 4096);
	assert_int_equal(walk(&w, pos, 1100, &n), CAPWALK_BELOW_EXT);
	assert_int_equal(n, 2);
	assert_int_equal(w.from, 0x150);
	assert_int_equal(w.pos, 0x40);
	/* all-ones past the first */
	th_put(&c, 0x150, 4, PCI_EXT_CAP_ID_DSN | 1u << 16 | 0x200u << 20);
	th_put(&c, 0x200, 4, ~0u);
	capwalk_ext(&w, c.b, 4096);
	assert_int_equal(walk(&w, pos, 1100, &n), CAPWALK_ALL_ONES);
	assert_int_equal(w.pos, 0x200);
	/* a loop */
	th_put(&c, 0x200, 4, 0x0b | 0x100u << 20);
	capwalk_ext(&w, c.b, 4096);
	assert_int_equal(walk(&w, pos, 1100, &n), CAPWALK_LOOP);
	assert_int_equal(n, 3);
	assert_int_equal(w.pos, 0x100);
	assert_int_equal(w.from, 0x200);
	/* every dword of the extended space once: bounded, then the end */
	for (unsigned p = 0x100; p <= 0xffc; p += 4)
		th_put(&c, p, 4, 0x0b | (p == 0xffc ? 0 : p + 4) << 20);
	capwalk_ext(&w, c.b, 4096);
	assert_int_equal(walk(&w, pos, 1100, &n), CAPWALK_END);
	assert_int_equal(n, 960);
}

static void test_bar_decode(void **state)
{
	bool pf;

	(void)state;
	assert_int_equal(host_bar_decode(0xc001, 0, &pf), HOST_BAR_IO);
	assert_false(pf);
	assert_int_equal(host_bar_decode(0xfe000000, 0, &pf), HOST_BAR_MEM32);
	assert_false(pf);
	assert_int_equal(host_bar_decode(0xfe000008, 1, &pf), HOST_BAR_MEM32);
	assert_true(pf);
	assert_int_equal(host_bar_decode(PCI_BASE_ADDRESS_MEM_TYPE_1M, 2, &pf),
			 HOST_BAR_MEM32);
	assert_int_equal(host_bar_decode(0xe000000c, 4, &pf), HOST_BAR_MEM64);
	assert_true(pf);
	/* a 64-bit BAR 5 has no upper half; the reserved type is nothing */
	assert_int_equal(host_bar_decode(0xe000000c, 5, &pf), HOST_BAR_NONE);
	assert_false(pf);
	assert_int_equal(host_bar_decode(0xe0000006, 0, &pf), HOST_BAR_NONE);
}

static void test_sysfs_link_base(void **state)
{
	char dir[] = "/tmp/ptdm-linkXXXXXX", p[300], out[32], tiny[4];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/driver", dir);
	assert_int_equal(symlink("../../../bus/pci/drivers/vfio-pci", p), 0);
	assert_int_equal(sysfs_link_base(dir, "driver", out, sizeof(out)), 1);
	assert_string_equal(out, "vfio-pci");
	assert_int_equal(sysfs_link_base(dir, "driver", tiny, sizeof(tiny)),
			 -ENAMETOOLONG);
	assert_int_equal(sysfs_link_base(dir, "iommu_group", out, sizeof(out)),
			 0);
	unlink(p);
	snprintf(p, sizeof(p), "%s/iommu_group", dir);
	assert_int_equal(symlink("12", p), 0); /* no slash at all */
	assert_int_equal(sysfs_link_base(dir, "iommu_group", out, sizeof(out)),
			 1);
	assert_string_equal(out, "12");
	unlink(p);
	/* not a link */
	snprintf(p, sizeof(p), "%s/vendor", dir);
	fclose(fopen(p, "w"));
	assert_int_equal(sysfs_link_base(dir, "vendor", out, sizeof(out)),
			 -EINVAL);
	unlink(p);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bdf),
		cmocka_unit_test(test_capwalk_std),
		cmocka_unit_test(test_capwalk_ext),
		cmocka_unit_test(test_bar_decode),
		cmocka_unit_test(test_sysfs_link_base),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
