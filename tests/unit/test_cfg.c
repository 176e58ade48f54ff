/*
 * test_cfg.c - the dispatcher: access checks, splitting at register
 * boundaries at every width and offset, raw gaps, permissive mode, the
 * region past a 256-byte device, whole-space transfers.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "ptdm/log.h"
#include <linux/pci_regs.h>

/* A device with a PM capability at 0x40 and a raw gap at 0x48..0xff. */
static struct ptdm_dev *pm_dev(struct host_dev **h,
			       const struct ptdm_dev_opts *o)
{
	struct th_cfg c;
	uint8_t pm[6] = { 0x03, 0x00, 0x08, 0x00, 0x00, 0x00 };

	th_cfg_init(&c, 0x1af4, 0x1041, 256);
	th_add_cap(&c, 0x40, PCI_CAP_ID_PM, pm, sizeof(pm));
	th_put(&c, 0x80, 4, 0xa5a5a5a5); /* vendor data in a gap */
	return th_dev(&c, o, h);
}

static void test_access_checks(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(&h, NULL);
	uint32_t v;

	assert_int_equal(ptdm_cfg_read(d, 0, 3, &v), -EINVAL);
	assert_int_equal(ptdm_cfg_read(d, 0, 0, &v), -EINVAL);
	assert_int_equal(ptdm_cfg_read(d, 0, 8, &v), -EINVAL);
	assert_int_equal(ptdm_cfg_read(d, 0xffe, 4, &v), -EINVAL);
	assert_int_equal(ptdm_cfg_read(d, 0x1000, 1, &v), -EINVAL);
	assert_int_equal(ptdm_cfg_write(d, 0xfff, 2, 0), -EINVAL);
	assert_int_equal(ptdm_cfg_read(d, 0xfff, 1, &v), 0);
	assert_int_equal(ptdm_cfg_read(d, 0xffc, 4, &v), 0);
	assert_int_equal(ptdm_cfg_rw(d, 0xff0, &v, 0x20, false), -EINVAL);
	th_free(d, h);
}

static void test_every_width_and_offset(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(&h, NULL);
	uint8_t bytes[PTDM_CFG_SPACE_SIZE];

	for (unsigned i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)th_rd(d, i, 1);
	/* every 2- and 4-byte read, aligned or not, is the bytes it covers */
	for (unsigned sz = 2; sz <= 4; sz += 2) {
		for (unsigned off = 0; off + sz <= sizeof(bytes); off++) {
			uint32_t want = 0;

			for (unsigned i = 0; i < sz; i++)
				want |= (uint32_t)bytes[off + i] << (8 * i);
			assert_int_equal(th_rd(d, off, sz), want);
		}
	}
	assert_int_equal(th_rd(d, 0, 4), 0x10411af4);
	assert_int_equal(th_rd(d, 1, 4), 0x0010411a | (bytes[4] << 24));
	th_free(d, h);
}

static void test_split_write(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(&h, NULL);

	/* one write spanning line (RW), pin (RO), min_gnt and max_lat (RO) */
	th_wr(d, PCI_INTERRUPT_LINE, 4, 0xffffff0a);
	assert_int_equal(th_rd(d, PCI_INTERRUPT_LINE, 4), 0x0000010a);
	/* unaligned across latency timer and header type */
	th_wr(d, PCI_LATENCY_TIMER, 2, 0xff40);
	assert_int_equal(th_rd(d, PCI_LATENCY_TIMER, 1), 0x40);
	assert_int_equal(th_rd(d, PCI_HEADER_TYPE, 1), 0);
	th_free(d, h);
}

static void test_whole_space_transfer(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(&h, NULL);
	uint8_t a[256], b[256];

	assert_int_equal(ptdm_cfg_rw(d, 0, a, sizeof(a), false), 0);
	for (unsigned i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)th_rd(d, i, 1);
	assert_memory_equal(a, b, sizeof(a));
	/* odd start and length */
	assert_int_equal(ptdm_cfg_rw(d, 3, a, 11, false), 0);
	assert_memory_equal(a, b + 3, 11);
	th_free(d, h);
}

static void test_past_legacy_space(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(&h, NULL);

	assert_int_equal(ptdm_cfg_size(d), 256);
	assert_int_equal(th_rd(d, 0x100, 4), 0xffffffff);
	assert_int_equal(th_rd(d, 0xffe, 2), 0xffff);
	th_wr(d, 0x100, 4, 0);
	assert_int_equal(th_rd(d, 0x100, 4), 0xffffffff);
	th_free(d, h);
}

static void test_raw_gap_dropped_and_warned_once(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(&h, NULL);
	unsigned writes = th_host_writes(h);

	th_log_capture();
	assert_int_equal(th_rd(d, 0x80, 4), 0xa5a5a5a5);
	for (int i = 0; i < 1000; i++)
		th_wr(d, 0x80, 4, 0x11223344);
	assert_int_equal(th_rd(d, 0x80, 4), 0xa5a5a5a5);
	assert_int_equal(th_host(h, 0x80, 4), 0xa5a5a5a5);
	assert_int_equal(th_host_writes(h), writes);
	assert_int_equal(th_log_lines(), 1);
	assert_non_null(strstr(th_log_last(), "0x080"));
	assert_non_null(strstr(th_log_last(), "permissive"));
	ptdm_log_set_sink(NULL, NULL);
	th_free(d, h);
}

static void test_permissive_passes_gaps(void **state)
{
	struct host_dev *h;
	struct ptdm_dev_opts o;
	struct ptdm_dev *d;

	ptdm_dev_opts_init(&o);
	o.permissive = true;
	d = pm_dev(&h, &o);
	th_wr(d, 0x81, 2, 0x1234);
	assert_int_equal(th_host(h, 0x80, 4), 0xa51234a5);
	assert_int_equal(th_rd(d, 0x80, 4), 0xa51234a5);
	/* permissive never opens read-only or virtual bits */
	th_wr(d, PCI_VENDOR_ID, 2, 0);
	assert_int_equal(th_rd(d, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(th_host(h, PCI_VENDOR_ID, 2), 0x1af4);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_SERR);
	assert_int_equal(th_host(h, PCI_COMMAND, 2) & PCI_COMMAND_SERR, 0);
	/* but reserved bits reach the host */
	th_wr(d, PCI_COMMAND, 2, 0x8000);
	assert_int_equal(th_host(h, PCI_COMMAND, 2) & 0x8000, 0x8000);
	th_free(d, h);
}

static void test_cap_header_readonly(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(&h, NULL);

	assert_int_equal(th_rd(d, 0x40, 2), PCI_CAP_ID_PM);
	th_wr(d, 0x40, 2, 0x8010);
	assert_int_equal(th_rd(d, 0x40, 2), PCI_CAP_ID_PM);
	assert_int_equal(th_host(h, 0x40, 2), PCI_CAP_ID_PM);
	th_free(d, h);
}

/*
 * The fast path allocates nothing: this test binary is linked with
 * --wrap=malloc/calloc/realloc (tests/unit/meson.build), so every
 * allocation made by ptdm's code is counted here.
 */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
static unsigned long allocations;

void *__wrap_malloc(size_t n)
{
	allocations++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	allocations++;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	allocations++;
	return __real_realloc(p, n);
}

static void test_read_path_allocates_nothing(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d;
	unsigned long before;
	uint32_t v, sum = 0;

	before = allocations;
	d = pm_dev(&h, NULL);
	assert_true(allocations > before); /* the counter works */
	before = allocations;
	for (unsigned i = 0; i < 100000; i++) {
		assert_int_equal(ptdm_cfg_read(d, (i * 4) & 0xffc, 4, &v), 0);
		sum += v;
	}
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	assert_int_equal(allocations, before);
	assert_true(sum != 0);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_checks),
		cmocka_unit_test(test_every_width_and_offset),
		cmocka_unit_test(test_split_write),
		cmocka_unit_test(test_whole_space_transfer),
		cmocka_unit_test(test_past_legacy_space),
		cmocka_unit_test(test_raw_gap_dropped_and_warned_once),
		cmocka_unit_test(test_permissive_passes_gaps),
		cmocka_unit_test(test_cap_header_readonly),
		cmocka_unit_test(test_read_path_allocates_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
