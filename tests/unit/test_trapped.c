/*
 * test_trapped.c - the core's one answer to "which ranges of a BAR are
 * trapped" (trap.c): ptdm_dev_trapped() and ptdm_dev_is_trapped() on the
 * real dumps in ../shared/pci-dumps, and on real dumps with their MSI-X
 * registers moved to the layouts no dump has (table and PBA in different
 * BARs, a table that fills its BAR).  Ranges are sorted, merged, rounded
 * to the host page and clipped to the BAR; with a 64 KiB host page the
 * emulation still answers only for the 4 KiB MSI-X pages and the rest of
 * the trapped page reaches the device.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ptdm/image.h"
#include <linux/pci_regs.h>

#define TABLE PTDM_TRAP_MSIX_TABLE
#define PBA PTDM_TRAP_MSIX_PBA

/* A dump as a host device, sizes from its -vvv file. */
static struct host_dev *dump(const char *base)
{
	char name[256];
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };

	snprintf(name, sizeof(name), "%s.lspci-x4.txt", base);
	if (image_open(&h, th_dump(name), NULL, &err)) {
		snprintf(name, sizeof(name), "%s.lspci-x3.txt", base);
		if (image_open(&h, th_dump(name), NULL, &err))
			fail_msg("%s: %s", base, err.msg);
	}
	return h;
}

/* Offset of the host's MSI-X capability, from the host bytes. */
static unsigned host_msix_cap(struct host_dev *h)
{
	unsigned pos = th_host(h, PCI_CAPABILITY_LIST, 1) & ~3u;

	for (unsigned n = 0; pos && n < 48; n++) {
		if (th_host(h, pos, 1) == PCI_CAP_ID_MSIX)
			return pos;
		pos = th_host(h, pos + 1, 1) & ~3u;
	}
	fail_msg("no MSI-X capability");
	return 0;
}

/* Rewrite the host's MSI-X registers before attach (a crafted layout). */
static void host_msix_set(struct host_dev *h, unsigned nvec, uint32_t table,
			  uint32_t pba)
{
	unsigned cap = host_msix_cap(h);
	uint16_t ctrl = (uint16_t)(nvec - 1);

	assert_int_equal(h->ops->cfg_write(h, cap + PCI_MSIX_FLAGS, &ctrl, 2),
			 0);
	assert_int_equal(h->ops->cfg_write(h, cap + PCI_MSIX_TABLE, &table, 4),
			 0);
	assert_int_equal(h->ops->cfg_write(h, cap + PCI_MSIX_PBA, &pba, 4), 0);
}

struct want {
	uint64_t off, len;
	unsigned why;
};

/* BAR bar's trapped ranges are exactly want[0..n). */
static void expect_ranges(struct ptdm_dev *d, int bar, const struct want *w,
			  int n)
{
	struct ptdm_range r[PTDM_MAX_TRAPPED];
	int got = ptdm_dev_trapped(d, bar, r, PTDM_MAX_TRAPPED);

	if (got != n)
		fail_msg("BAR %d: %d ranges, want %d", bar, got, n);
	for (int i = 0; i < n; i++)
		if (r[i].off != w[i].off || r[i].len != w[i].len ||
		    r[i].why != w[i].why)
			fail_msg("BAR %d range %d: %#llx+%#llx why %u, want "
				 "%#llx+%#llx why %u", bar, i,
				 (unsigned long long)r[i].off,
				 (unsigned long long)r[i].len, r[i].why,
				 (unsigned long long)w[i].off,
				 (unsigned long long)w[i].len, w[i].why);
}

static struct ptdm_dev *attach_paged(struct host_dev *h, unsigned page)
{
	h->page_size = page;
	return th_attach(h, NULL);
}

/* NEC uPD720200: 8 vectors at 0x1000, PBA at 0x1080: one page. */
static void test_table_and_pba_same_page(void **state)
{
	struct host_dev *h = dump("nec-0194-upd720200-xhci");
	struct ptdm_dev *d = th_attach(h, NULL);
	const struct want w[] = { { 0x1000, 0x1000, TABLE | PBA } };

	assert_int_equal(ptdm_dev_page_size(d), 4096);
	assert_int_equal(h->bars[0].size, 0x2000);
	expect_ranges(d, 0, w, 1);
	for (int b = 1; b <= PTDM_ROM_INDEX; b++)
		expect_ranges(d, b, NULL, 0);
	assert_true(ptdm_dev_is_trapped(d, 0, 0x1000, 4));
	assert_true(ptdm_dev_is_trapped(d, 0, 0x1ffc, 4));
	assert_true(ptdm_dev_is_trapped(d, 0, 0xffc, 8)); /* straddles */
	assert_true(ptdm_dev_is_trapped(d, 0, 0, 0x2000));
	assert_false(ptdm_dev_is_trapped(d, 0, 0, 0x1000));
	assert_false(ptdm_dev_is_trapped(d, 0, 0xffc, 4));
	assert_false(ptdm_dev_is_trapped(d, 0, 0x1000, 0));
	assert_false(ptdm_dev_is_trapped(d, 2, 0x1000, 4));
	assert_false(ptdm_dev_is_trapped(d, 7, 0x1000, 4));
	assert_false(ptdm_dev_is_trapped(d, -1, 0x1000, 4));
	th_free(d, h);
}

/* Intel 82576: BAR3 16 KiB, table at 0, PBA at 0x2000: two pages, a
 * mappable page between them; a 64 KiB host page traps the whole BAR. */
static void test_two_pages_and_host_page(void **state)
{
	struct host_dev *h = dump("intel-10c9-82576-sriov-nic");
	struct ptdm_dev *d = th_attach(h, NULL);
	const struct want w4k[] = { { 0, 0x1000, TABLE },
				    { 0x2000, 0x1000, PBA } };
	const struct want w64k[] = { { 0, 0x4000, TABLE | PBA } };
	uint32_t v = 0x12345678, back = 0;

	expect_ranges(d, 3, w4k, 2);
	expect_ranges(d, 0, NULL, 0);
	assert_false(ptdm_dev_is_trapped(d, 3, 0x1000, 0x1000));
	assert_true(ptdm_dev_is_trapped(d, 3, 0x1000, 0x1001));
	th_free(d, h);

	h = dump("intel-10c9-82576-sriov-nic");
	d = attach_paged(h, 65536);
	assert_int_equal(ptdm_dev_page_size(d), 65536);
	expect_ranges(d, 3, w64k, 1);
	assert_true(ptdm_dev_is_trapped(d, 3, 0x1000, 4));
	/* the emulation answers for its 4 KiB pages only: the rest of the
	 * trapped host page is the device's */
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(ptdm_bar_rw(d, 3, 0x1000, &v, 4, true), 0);
	assert_int_equal(h->ops->bar_read(h, 3, 0x1000, &back, 4), 0);
	assert_int_equal(back, 0x12345678);
	v = 0xfee00000;
	assert_int_equal(ptdm_bar_rw(d, 3, 0, &v, 4, true), 0);
	back = 0;
	assert_int_equal(h->ops->bar_read(h, 3, 0, &back, 4), 0);
	assert_int_equal(back, 0); /* the table is emulated */
	th_free(d, h);
}

/* Samsung PM174x: PBA at 0x3000 before the table at 0x4000 (129 vectors,
 * 0x810 bytes): sorted, and touching ranges merged. */
static void test_pba_before_table_merged(void **state)
{
	struct host_dev *h = dump("samsung-a826-pm174x-nvme");
	struct ptdm_dev *d = th_attach(h, NULL);
	const struct want w[] = { { 0x3000, 0x2000, TABLE | PBA } };
	struct ptdm_range r[1];

	expect_ranges(d, 0, w, 1);
	/* max bounds what is written, not the count */
	assert_int_equal(ptdm_dev_trapped(d, 0, r, 0), 1);
	assert_int_equal(ptdm_dev_trapped(d, 7, r, 1), -EINVAL);
	assert_int_equal(ptdm_dev_trapped(d, -1, r, 1), -EINVAL);
	th_free(d, h);
}

/* virtio-net transitional: BAR1 is 4 KiB, table at 0, PBA at 0x800: the
 * trapped range is the whole BAR, also with a host page bigger than it. */
static void test_trapped_range_fills_small_bar(void **state)
{
	struct host_dev *h = dump("redhat-1000-virtio-net-transitional-vm");
	struct ptdm_dev *d = th_attach(h, NULL);
	const struct want w[] = { { 0, 0x1000, TABLE | PBA } };

	expect_ranges(d, 1, w, 1);
	expect_ranges(d, 0, NULL, 0); /* the I/O BAR has no MSI-X */
	expect_ranges(d, 2, NULL, 0);
	th_free(d, h);

	h = dump("redhat-1000-virtio-net-transitional-vm");
	d = attach_paged(h, 16384);
	expect_ranges(d, 1, w, 1); /* clipped to the BAR's end */
	th_free(d, h);
}

/* The same dump with 256 vectors: the table fills BAR1 exactly and the
 * PBA moves to BAR2 (the layouts no dump has: different BARs, a table
 * that fills its BAR). */
static void test_table_fills_bar_pba_elsewhere(void **state)
{
	struct host_dev *h = dump("redhat-1000-virtio-net-transitional-vm");
	struct ptdm_dev *d;
	const struct want wt[] = { { 0, 0x1000, TABLE } };
	const struct want wp[] = { { 0x7f000, 0x1000, PBA } };
	struct ptdm_msix_info mi;

	host_msix_set(h, 256, 0x0 | 1, 0x7f000 | 2);
	d = th_attach(h, NULL);
	ptdm_msix_get(d, &mi);
	assert_true(mi.present);
	assert_int_equal(mi.nvec, 256);
	expect_ranges(d, 1, wt, 1);
	expect_ranges(d, 2, wp, 1);
	assert_true(ptdm_dev_is_trapped(d, 2, 0x7f000, 8));
	assert_false(ptdm_dev_is_trapped(d, 2, 0, 0x7f000));
	th_free(d, h);
}

/* Intel 82576 with the PBA moved to the end of BAR0 (128 KiB). */
static void test_table_and_pba_in_different_bars(void **state)
{
	struct host_dev *h = dump("intel-10c9-82576-sriov-nic");
	struct ptdm_dev *d;
	const struct want wt[] = { { 0, 0x1000, TABLE } };
	const struct want wp[] = { { 0x1f000, 0x1000, PBA } };

	host_msix_set(h, 10, 0x0 | 3, 0x1fff8 | 0);
	d = th_attach(h, NULL);
	expect_ranges(d, 3, wt, 1);
	expect_ranges(d, 0, wp, 1);
	expect_ranges(d, 1, NULL, 0);
	th_free(d, h);
}

/* A hidden MSI-X capability traps nothing. */
static void test_hidden_msix_traps_nothing(void **state)
{
	struct host_dev *h = dump("intel-10c9-82576-sriov-nic");
	struct ptdm_dev *d;
	struct ptdm_msix_info mi;

	host_msix_set(h, 10, 0x3ff0 | 3, 0x2000 | 3); /* runs past BAR3 */
	d = th_attach(h, NULL);
	ptdm_msix_get(d, &mi);
	assert_false(mi.present);
	for (int b = 0; b <= PTDM_ROM_INDEX; b++)
		expect_ranges(d, b, NULL, 0);
	th_free(d, h);
}

static void test_host_page_size_checked(void **state)
{
	static const unsigned bad[] = { 1, 2048, 6144, 131072, 0x80000000u };
	struct ptdm_err err = { "" };
	struct ptdm_dev_opts o;

	ptdm_dev_opts_init(&o);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct host_dev *h = dump("nec-0194-upd720200-xhci");
		struct ptdm_dev *d = NULL;

		h->page_size = bad[i];
		assert_int_equal(ptdm_dev_attach(&d, h, &o, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "page size"));
		host_close(h);
	}
}

/* Every dump: ranges sorted, disjoint, page aligned, inside the BAR, and
 * every byte of the table and PBA inside one; page by page, is_trapped
 * agrees with the list. */
static void check_dump(struct ptdm_dev *d, const char *f, unsigned page)
{
	struct ptdm_msix_info mi;

	ptdm_msix_get(d, &mi);
	for (int b = 0; b <= PTDM_ROM_INDEX; b++) {
		struct ptdm_range r[PTDM_MAX_TRAPPED];
		struct ptdm_bar_info bi;
		int n = ptdm_dev_trapped(d, b, r, PTDM_MAX_TRAPPED);

		ptdm_dev_bar(d, b, &bi);
		assert_true(n >= 0 && n <= PTDM_MAX_TRAPPED);
		if (!mi.present || (b != mi.table_bar && b != mi.pba_bar)) {
			/* only a device quirk's windows (test_quirks) */
			for (int i = 0; i < n && i < PTDM_MAX_TRAPPED; i++)
				if (r[i].why != PTDM_TRAP_QUIRK)
					fail_msg("%s: BAR %d: %d ranges, no "
						 "MSI-X", f, b, n);
			continue;
		}
		assert_true(n >= 1);
		for (int i = 0; i < n; i++) {
			uint64_t end = r[i].off + r[i].len;

			if (r[i].off % page || !r[i].len ||
			    (end % page && (!bi.size_known || end != bi.size)) ||
			    (bi.size_known && end > bi.size) ||
			    (i && r[i].off <= r[i - 1].off + r[i - 1].len))
				fail_msg("%s: BAR %d range %d %#llx+%#llx", f, b,
					 i, (unsigned long long)r[i].off,
					 (unsigned long long)r[i].len);
		}
		if (b == mi.table_bar)
			assert_true(ptdm_dev_is_trapped(d, b, mi.table_off,
							16ull * mi.nvec));
		if (b == mi.pba_bar)
			assert_true(ptdm_dev_is_trapped(d, b, mi.pba_off, 8));
		for (uint64_t p = 0; bi.size_known && p < bi.size; p += page) {
			bool in = false;

			for (int i = 0; i < n; i++)
				in |= p >= r[i].off && p < r[i].off + r[i].len;
			if (in != ptdm_dev_is_trapped(d, b, p, 1))
				fail_msg("%s: BAR %d page %#llx", f, b,
					 (unsigned long long)p);
		}
	}
}

static void test_every_dump(void **state)
{
	const char *dir = getenv("PTDM_DUMPS");
	struct dirent **ents;
	int n, with_msix = 0;

	n = scandir(dir ? dir : "../shared/pci-dumps", &ents, NULL, alphasort);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		const char *f = ents[i]->d_name;
		static const unsigned pages[] = { 4096, 65536 };

		if (!strstr(f, ".lspci-x3.txt") && !strstr(f, ".lspci-x4.txt"))
			continue;
		for (size_t p = 0; p < 2; p++) {
			char base[256];
			struct host_dev *h;
			struct ptdm_dev *d = NULL;
			struct ptdm_err err = { "" };
			struct ptdm_dev_opts o;
			struct ptdm_msix_info mi;

			snprintf(base, sizeof(base), "%.*s",
				 (int)(strstr(f, ".lspci-") - f), f);
			h = dump(base);
			h->page_size = pages[p];
			ptdm_dev_opts_init(&o);
			if (ptdm_dev_attach(&d, h, &o, &err)) {
				host_close(h); /* bridges */
				continue;
			}
			check_dump(d, f, pages[p]);
			ptdm_msix_get(d, &mi);
			with_msix += mi.present && p == 0;
			th_free(d, h);
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	print_message("%d dumps with MSI-X checked\n", with_msix);
	assert_true(with_msix >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_and_pba_same_page),
		cmocka_unit_test(test_two_pages_and_host_page),
		cmocka_unit_test(test_pba_before_table_merged),
		cmocka_unit_test(test_trapped_range_fills_small_bar),
		cmocka_unit_test(test_table_fills_bar_pba_elsewhere),
		cmocka_unit_test(test_table_and_pba_in_different_bars),
		cmocka_unit_test(test_hidden_msix_traps_nothing),
		cmocka_unit_test(test_host_page_size_checked),
		cmocka_unit_test(test_every_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
