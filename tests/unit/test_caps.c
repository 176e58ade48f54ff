/*
 * test_caps.c - the capability chains: allowlist, unlinking (also of the
 * first capability), hidden bytes, hostile host chains, extended chain.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include <linux/pci_regs.h>

/* Walk the guest's standard chain; returns the count, ids/pos in arrays. */
static unsigned guest_chain(struct ptdm_dev *d, uint8_t *ids, uint8_t *pos)
{
	unsigned n = 0, p;

	if (!(th_rd(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	p = th_rd(d, PCI_CAPABILITY_LIST, 1);
	while (p && n < 64) {
		ids[n] = (uint8_t)th_rd(d, p, 1);
		pos[n++] = (uint8_t)p;
		p = th_rd(d, p + 1, 1);
	}
	return n;
}

static unsigned guest_ext_chain(struct ptdm_dev *d, uint16_t *ids,
				uint16_t *pos)
{
	unsigned n = 0, p = 0x100;

	while (p && n < 64) {
		uint32_t h = th_rd(d, p, 4);

		if (!h || h == 0xffffffff)
			break;
		ids[n] = PCI_EXT_CAP_ID(h);
		pos[n++] = (uint16_t)p;
		p = PCI_EXT_CAP_NEXT(h);
	}
	return n;
}

static const struct ptdm_cap_info *find_cap(struct ptdm_dev *d, unsigned pos)
{
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++)
		if (ptdm_dev_cap(d, i)->pos == pos)
			return ptdm_dev_cap(d, i);
	return NULL;
}

static bool has_problem(struct ptdm_dev *d, const char *word)
{
	for (size_t i = 0; i < ptdm_dev_nproblems(d); i++)
		if (strstr(ptdm_dev_problem(d, i), word))
			return true;
	return false;
}

static void add_pm(struct th_cfg *c, unsigned pos)
{
	uint8_t pm[6] = { 0x03, 0x00, 0x08, 0x00, 0x00, 0x00 };

	th_add_cap(c, pos, PCI_CAP_ID_PM, pm, sizeof(pm));
}

static void add_vndr(struct th_cfg *c, unsigned pos, uint8_t len)
{
	uint8_t v[14] = { len, 0xaa, 0xbb, 0xcc };

	th_add_cap(c, pos, PCI_CAP_ID_VNDR, v, len - 2);
}

static void test_allowlist_and_unlink(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint8_t ids[64], pos[64];
	uint8_t vpd[6] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc };
	uint8_t pcix[6] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 };

	th_cfg_init(&c, 0x8086, 0x1234, 256);
	th_add_cap(&c, 0x40, PCI_CAP_ID_VPD, vpd, sizeof(vpd)); /* first */
	add_pm(&c, 0x50);
	th_add_cap(&c, 0x60, PCI_CAP_ID_PCIX, pcix, sizeof(pcix));
	add_vndr(&c, 0x70, 8);
	d = th_dev(&c, NULL, &h);

	assert_int_equal(guest_chain(d, ids, pos), 2);
	assert_int_equal(ids[0], PCI_CAP_ID_PM);
	assert_int_equal(pos[0], 0x50);
	assert_int_equal(ids[1], PCI_CAP_ID_VNDR);
	assert_int_equal(pos[1], 0x70);
	/* hidden capabilities: read 0 all the way to the next one */
	for (unsigned b = 0x40; b < 0x50; b++)
		assert_int_equal(th_rd(d, b, 1), 0);
	for (unsigned b = 0x60; b < 0x70; b++)
		assert_int_equal(th_rd(d, b, 1), 0);
	/* and their reasons are recorded */
	assert_true(find_cap(d, 0x40)->hidden);
	assert_non_null(find_cap(d, 0x40)->reason);
	assert_string_equal(find_cap(d, 0x40)->name, "Vital Product Data");
	assert_true(find_cap(d, 0x60)->hidden);
	assert_false(find_cap(d, 0x50)->hidden);
	assert_null(find_cap(d, 0x50)->reason);
	/* vendor cap: length byte RO, body raw */
	assert_int_equal(th_rd(d, 0x72, 4), 0xccbbaa08);
	th_free(d, h);
}

static void test_hidden_writes_dropped_even_permissive(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev_opts o;
	struct ptdm_dev *d;
	uint8_t vpd[6] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc };

	th_cfg_init(&c, 0x8086, 0x1234, 256);
	th_add_cap(&c, 0x40, PCI_CAP_ID_VPD, vpd, sizeof(vpd));
	ptdm_dev_opts_init(&o);
	o.permissive = true;
	d = th_dev(&c, &o, &h);
	th_wr(d, 0x42, 2, 0xffff);
	th_wr(d, 0x44, 4, 0xffffffff);
	assert_int_equal(th_host(h, 0x42, 2), 0x3412);
	assert_int_equal(th_host(h, 0x44, 4), 0xbc9a7856);
	th_free(d, h);
}

static void test_duplicate_cap_hidden(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint8_t ids[64], pos[64];

	th_cfg_init(&c, 0x8086, 0x1234, 256);
	add_pm(&c, 0x40);
	add_pm(&c, 0x48);
	add_vndr(&c, 0x50, 4);
	add_vndr(&c, 0x54, 4); /* vendor caps may repeat */
	d = th_dev(&c, NULL, &h);
	assert_int_equal(guest_chain(d, ids, pos), 3);
	assert_int_equal(pos[0], 0x40);
	assert_int_equal(pos[1], 0x50);
	assert_int_equal(pos[2], 0x54);
	assert_true(find_cap(d, 0x48)->hidden);
	assert_true(has_problem(d, "second"));
	th_free(d, h);
}

static void test_hostile_loop(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint8_t ids[64], pos[64];

	th_cfg_init(&c, 0x8086, 0x1234, 256);
	add_pm(&c, 0x40);
	add_vndr(&c, 0x50, 4);
	th_put(&c, 0x51, 1, 0x40); /* 0x50 -> 0x40: a loop */
	d = th_dev(&c, NULL, &h);
	assert_int_equal(guest_chain(d, ids, pos), 2);
	assert_int_equal(th_rd(d, 0x51, 1), 0);
	assert_true(has_problem(d, "loop"));
	th_free(d, h);
}

static void test_hostile_pointers(void **state)
{
	static const struct {
		uint8_t ptr;
		const char *word;
		unsigned kept;
	} cases[] = {
		{ 0x10, "into the header", 1 },
		{ 0x3c, "into the header", 1 },
		{ 0x42, "loop", 1 },          /* reserved bits masked: 0x40 */
		{ 0xff, "reserved bits", 1 }, /* 0xfc: an empty cap */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct th_cfg c;
		struct host_dev *h;
		struct ptdm_dev *d;
		uint8_t ids[64], pos[64];

		th_cfg_init(&c, 0x8086, 0x1234, 256);
		add_pm(&c, 0x40);
		th_put(&c, 0x41, 1, cases[i].ptr);
		d = th_dev(&c, NULL, &h);
		assert_int_equal(guest_chain(d, ids, pos), cases[i].kept);
		assert_true(has_problem(d, cases[i].word));
		th_free(d, h);
	}
}

static void test_hostile_first_pointer(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint8_t ids[64], pos[64];

	th_cfg_init(&c, 0x8086, 0x1234, 256);
	add_pm(&c, 0x40);
	th_put(&c, PCI_CAPABILITY_LIST, 1, 0x04);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(guest_chain(d, ids, pos), 0);
	assert_true(has_problem(d, "header"));
	th_free(d, h);

	th_put(&c, PCI_CAPABILITY_LIST, 1, 0x41);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(guest_chain(d, ids, pos), 1);
	assert_true(has_problem(d, "reserved bits"));
	th_free(d, h);
}

static void test_hostile_overlap(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint8_t ids[64], pos[64];

	/* PM (8 bytes) at 0x40, a vendor cap inside it at 0x44 */
	th_cfg_init(&c, 0x8086, 0x1234, 256);
	add_pm(&c, 0x40);
	th_put(&c, 0x41, 1, 0x44);
	th_put(&c, 0x44, 4, 0x00040009);
	d = th_dev(&c, NULL, &h);
	assert_true(has_problem(d, "overlaps"));
	/* exactly one of the two survives, and the chain stays valid */
	assert_int_equal(guest_chain(d, ids, pos), 1);
	th_free(d, h);
}

static void test_vendor_cap_too_long(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint8_t ids[64], pos[64];

	th_cfg_init(&c, 0x8086, 0x1234, 256);
	add_vndr(&c, 0xf8, 4);
	th_put(&c, 0xfa, 1, 0x40); /* 64 bytes from 0xf8: past the end */
	d = th_dev(&c, NULL, &h);
	assert_int_equal(guest_chain(d, ids, pos), 0);
	assert_true(find_cap(d, 0xf8)->hidden);
	th_free(d, h);
}

static void ext_dev(struct th_cfg *c, bool sriov_first)
{
	uint8_t aer[0x28] = { 0 };
	uint8_t dsn[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t sriov[0x3c] = { 0 };
	uint8_t exp[0x3a] = { 0x02, 0x00 }; /* v2 endpoint */

	th_cfg_init(c, 0x144d, 0xa826, 4096);
	th_add_cap(c, 0x40, PCI_CAP_ID_EXP, exp, sizeof(exp));
	if (sriov_first)
		th_add_ecap(c, 0x100, PCI_EXT_CAP_ID_SRIOV, 1, sriov,
			    sizeof(sriov));
	th_add_ecap(c, sriov_first ? 0x140 : 0x100, PCI_EXT_CAP_ID_ERR, 2,
		    aer, sizeof(aer));
	th_add_ecap(c, 0x180, PCI_EXT_CAP_ID_ATS, 1, NULL, 4);
	th_add_ecap(c, 0x190, PCI_EXT_CAP_ID_DSN, 1, dsn, sizeof(dsn));
	th_add_ecap(c, 0x1a0, PCI_EXT_CAP_ID_ACS, 1, NULL, 4);
}

static void test_ext_chain(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint16_t ids[64], pos[64];

	ext_dev(&c, false);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(guest_ext_chain(d, ids, pos), 2);
	assert_int_equal(ids[0], PCI_EXT_CAP_ID_ERR);
	assert_int_equal(pos[0], 0x100);
	assert_int_equal(ids[1], PCI_EXT_CAP_ID_DSN);
	assert_int_equal(pos[1], 0x190);
	/* version kept */
	assert_int_equal(PCI_EXT_CAP_VER(th_rd(d, 0x100, 4)), 2);
	/* ATS and ACS hidden with reasons, bytes zero */
	assert_int_equal(th_rd(d, 0x180, 4), 0);
	assert_int_equal(th_rd(d, 0x1a0, 4), 0);
	assert_non_null(strstr(find_cap(d, 0x180)->reason, "IOMMU"));
	assert_int_equal(th_rd(d, 0x194, 4), 0x04030201);
	th_free(d, h);
}

static void test_ext_first_hidden(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint16_t ids[64], pos[64];
	uint32_t hdr;

	ext_dev(&c, true);
	d = th_dev(&c, NULL, &h);
	hdr = th_rd(d, 0x100, 4);
	/* a Null header that links the kept ones */
	assert_int_equal(PCI_EXT_CAP_ID(hdr), 0);
	assert_int_equal(PCI_EXT_CAP_NEXT(hdr), 0x140);
	assert_int_equal(guest_ext_chain(d, ids, pos), 3);
	assert_int_equal(ids[1], PCI_EXT_CAP_ID_ERR);
	assert_int_equal(ids[2], PCI_EXT_CAP_ID_DSN);
	assert_int_equal(th_rd(d, 0x104, 4), 0); /* SR-IOV body hidden */
	assert_non_null(strstr(find_cap(d, 0x100)->reason, "virtual functions"));
	th_free(d, h);
}

static void test_ext_all_hidden(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;

	th_cfg_init(&c, 0x144d, 0xa826, 4096);
	th_add_ecap(&c, 0x100, PCI_EXT_CAP_ID_SRIOV, 1, NULL, 0x3c);
	th_add_ecap(&c, 0x140, PCI_EXT_CAP_ID_LTR, 1, NULL, 4);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(th_rd(d, 0x100, 4), 0);
	assert_int_equal(th_rd(d, 0x140, 4), 0);
	th_free(d, h);
}

static void test_ext_hostile(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint16_t ids[64], pos[64];

	/* loop: 0x100 -> 0x140 -> 0x100 */
	th_cfg_init(&c, 0x144d, 0xa826, 4096);
	th_add_ecap(&c, 0x100, PCI_EXT_CAP_ID_DSN, 1, NULL, 8);
	th_add_ecap(&c, 0x140, PCI_EXT_CAP_ID_VNDR, 1, NULL, 4);
	th_put(&c, 0x144, 4, 0x00800001); /* VSEC: id 1, rev 0, len 8 */
	th_put(&c, 0x140, 4, th_get(&c, 0x140, 4) | 0x100u << 20);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(guest_ext_chain(d, ids, pos), 2);
	assert_true(has_problem(d, "loop"));
	th_free(d, h);

	/* next pointer into the standard space */
	th_cfg_init(&c, 0x144d, 0xa826, 4096);
	th_add_ecap(&c, 0x100, PCI_EXT_CAP_ID_DSN, 1, NULL, 8);
	th_put(&c, 0x100, 4, th_get(&c, 0x100, 4) | 0x40u << 20);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(guest_ext_chain(d, ids, pos), 1);
	assert_true(has_problem(d, "below 0x100"));
	th_free(d, h);

	/* all-ones in the middle of the chain */
	th_cfg_init(&c, 0x144d, 0xa826, 4096);
	th_add_ecap(&c, 0x100, PCI_EXT_CAP_ID_DSN, 1, NULL, 8);
	th_put(&c, 0x100, 4, th_get(&c, 0x100, 4) | 0x200u << 20);
	th_put(&c, 0x200, 4, 0xffffffff);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(guest_ext_chain(d, ids, pos), 1);
	assert_true(has_problem(d, "all-ones"));
	th_free(d, h);
}

static void test_long_chain_bounded(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint16_t ids[64], pos[64];

	/* 960 tiny hidden ext caps in a row: walks, hides, never hangs */
	th_cfg_init(&c, 0x144d, 0xa826, 4096);
	for (unsigned p = 0x100; p < 0x1000; p += 4)
		th_add_ecap(&c, p, PCI_EXT_CAP_ID_LTR, 1, NULL, 0);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(ptdm_dev_ncaps(d), 960);
	assert_int_equal(guest_ext_chain(d, ids, pos), 0);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowlist_and_unlink),
		cmocka_unit_test(test_hidden_writes_dropped_even_permissive),
		cmocka_unit_test(test_duplicate_cap_hidden),
		cmocka_unit_test(test_hostile_loop),
		cmocka_unit_test(test_hostile_pointers),
		cmocka_unit_test(test_hostile_first_pointer),
		cmocka_unit_test(test_hostile_overlap),
		cmocka_unit_test(test_vendor_cap_too_long),
		cmocka_unit_test(test_ext_chain),
		cmocka_unit_test(test_ext_first_hidden),
		cmocka_unit_test(test_ext_all_hidden),
		cmocka_unit_test(test_ext_hostile),
		cmocka_unit_test(test_long_chain_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
