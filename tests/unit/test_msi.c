/*
 * test_msi.c - the MSI capability (cap_msi.c): everything virtual, nothing
 * the guest writes reaches the host (XSA-128), mask and pending the
 * guest's and the owner's (XSA-129), QSIZE clamped, mask bits bounded by
 * the vectors the device has.  Each test checks the guest view and the
 * host-side bytes.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include <linux/pci_regs.h>

#define CAP 0x50
#define FLAGS (CAP + PCI_MSI_FLAGS)
#define HOST_JUNK 0x77

struct counters {
	int msi;
};

static void on_msi(void *o)
{
	((struct counters *)o)->msi++;
}

static void watch(struct ptdm_dev *d, struct counters *n)
{
	struct ptdm_dev_events ev = { .opaque = n, .msi_changed = on_msi };

	memset(n, 0, sizeof(*n));
	ptdm_dev_set_events(d, &ev);
}

static const struct ptdm_cap_info *cap_at(struct ptdm_dev *d, unsigned pos)
{
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++)
		if (ptdm_dev_cap(d, i)->pos == pos)
			return ptdm_dev_cap(d, i);
	return NULL;
}

/* MSI at CAP with junk in every register the host has; 2^qmask vectors. */
static void msi_cfg(struct th_cfg *c, bool is64, bool mask, unsigned qmask,
		    uint16_t extra_flags)
{
	uint8_t msi[22];
	uint16_t f = (uint16_t)(qmask << 1) | extra_flags;

	memset(msi, HOST_JUNK, sizeof(msi));
	if (is64)
		f |= PCI_MSI_FLAGS_64BIT;
	if (mask)
		f |= PCI_MSI_FLAGS_MASKBIT;
	msi[0] = (uint8_t)f;
	msi[1] = (uint8_t)(f >> 8);
	th_cfg_init(c, 0x8086, 0x1234, 256);
	th_add_cap(c, CAP, PCI_CAP_ID_MSI, msi, sizeof(msi));
}

static struct ptdm_dev *msi_dev(bool is64, bool mask, unsigned qmask,
				bool permissive, struct host_dev **h)
{
	struct th_cfg c;
	struct ptdm_dev_opts o;

	msi_cfg(&c, is64, mask, qmask, 0);
	ptdm_dev_opts_init(&o);
	o.permissive = permissive;
	return th_dev(&c, &o, h);
}

static const struct layout {
	bool is64, mask;
	unsigned len, data, mask_off;
} layouts[] = {
	/* 10 and 14 bytes rounded to their dword: extended data owned */
	{ false, false, 12, PCI_MSI_DATA_32, 0 },
	{ true, false, 16, PCI_MSI_DATA_64, 0 },
	{ false, true, 20, PCI_MSI_DATA_32, PCI_MSI_MASK_32 },
	{ true, true, 24, PCI_MSI_DATA_64, PCI_MSI_MASK_64 },
};

/* Four layouts: their length, and a power-on view built from the
 * device's capabilities only. */
static void test_msi_layouts(void **state)
{
	for (size_t i = 0; i < 4; i++) {
		const struct layout *l = &layouts[i];
		struct host_dev *h;
		struct ptdm_dev *d = msi_dev(l->is64, l->mask, 2, false, &h);
		uint16_t want = 2 << 1;
		struct ptdm_msi_state st;

		if (l->is64)
			want |= PCI_MSI_FLAGS_64BIT;
		if (l->mask)
			want |= PCI_MSI_FLAGS_MASKBIT;
		assert_false(cap_at(d, CAP)->hidden);
		assert_int_equal(cap_at(d, CAP)->len, l->len);
		assert_int_equal(th_rd(d, FLAGS, 2), want);
		/* address, data, mask, pending: 0, not the host's junk */
		for (unsigned off = PCI_MSI_ADDRESS_LO; off < l->len; off += 2)
			assert_int_equal(th_rd(d, CAP + off, 2), 0);
		ptdm_msi_get(d, &st);
		assert_true(st.present);
		assert_false(st.enabled);
		assert_int_equal(st.is64, l->is64);
		assert_int_equal(st.maskable, l->mask);
		assert_int_equal(st.nvec_max, 4);
		assert_int_equal(st.nvec, 1);
		th_free(d, h);
	}
}

/* XSA-128: no write of any width at any offset of the capability - also
 * in permissive mode - produces a host write or changes a host byte. */
static void test_msi_xsa128_no_host_write(void **state)
{
	for (size_t i = 0; i < 8; i++) {
		const struct layout *l = &layouts[i % 4];
		struct host_dev *h;
		struct ptdm_dev *d = msi_dev(l->is64, l->mask, 5, i >= 4, &h);
		uint8_t before[24];
		unsigned writes = th_host_writes(h);

		for (unsigned b = 0; b < l->len; b++)
			before[b] = (uint8_t)th_host(h, CAP + b, 1);
		for (unsigned size = 1; size <= 4; size *= 2)
			for (unsigned off = CAP; off + size <= CAP + l->len;
			     off++)
				th_wr(d, off, size, 0xffffffff);
		assert_int_equal(th_host_writes(h), writes);
		for (unsigned b = 0; b < l->len; b++)
			assert_int_equal(th_host(h, CAP + b, 1), before[b]);
		th_free(d, h);
	}
}

/* The classic XSA-128 access: a 4-byte write at Message Data, whose top
 * half has no field in the non-maskable layouts. */
static void test_msi_xsa128_dword_at_data(void **state)
{
	for (size_t i = 0; i < 4; i++) {
		const struct layout *l = &layouts[i];
		struct host_dev *h;
		struct ptdm_dev *d = msi_dev(l->is64, l->mask, 0, true, &h);
		unsigned writes = th_host_writes(h);
		uint32_t host = th_host(h, CAP + l->data, 4);

		th_wr(d, CAP + l->data, 4, 0xabcd4321);
		assert_int_equal(th_host_writes(h), writes);
		assert_int_equal(th_host(h, CAP + l->data, 4), host);
		/* data taken, extended data not offered: reads 0 */
		assert_int_equal(th_rd(d, CAP + l->data, 2), 0x4321);
		assert_int_equal(th_rd(d, CAP + l->data + 2, 2), 0);
		th_free(d, h);
	}
}

/* Control: enable and QSIZE the guest's, QSIZE clamped to QMASK; QMASK,
 * 64BIT and MASKBIT read-only from the host. */
static void test_msi_control(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msi_dev(true, true, 2, false, &h);
	const uint16_t caps = 2 << 1 | PCI_MSI_FLAGS_64BIT |
			      PCI_MSI_FLAGS_MASKBIT;
	struct ptdm_msi_state st;
	struct counters n;

	watch(d, &n);
	/* a write of 0 cannot take the capability bits away */
	th_wr(d, FLAGS, 2, 0);
	assert_int_equal(th_rd(d, FLAGS, 2), caps);
	/* 32 vectors asked, 4 there: 4 */
	th_wr(d, FLAGS, 2, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
	assert_int_equal(th_rd(d, FLAGS, 2), caps | PCI_MSI_FLAGS_ENABLE |
						     2 << 4);
	ptdm_msi_get(d, &st);
	assert_true(st.enabled);
	assert_int_equal(st.nvec, 4);
	assert_int_equal(n.msi, 1);
	/* 2 vectors asked: 2 */
	th_wr(d, FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 1 << 4);
	ptdm_msi_get(d, &st);
	assert_int_equal(st.nvec, 2);
	assert_int_equal(n.msi, 2);
	/* the same again: nothing to tell */
	th_wr(d, FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 1 << 4);
	assert_int_equal(n.msi, 2);
	th_wr(d, FLAGS, 1, 0);
	ptdm_msi_get(d, &st);
	assert_false(st.enabled);
	assert_int_equal(n.msi, 3);
	assert_int_equal(th_host(h, FLAGS, 2), caps);
	th_free(d, h);

	/* a single-vector device: QSIZE stays 0 */
	d = msi_dev(false, false, 0, false, &h);
	th_wr(d, FLAGS, 2, PCI_MSI_FLAGS_QSIZE);
	assert_int_equal(th_rd(d, FLAGS, 2) & PCI_MSI_FLAGS_QSIZE, 0);
	th_free(d, h);
}

/* Address (low two bits read 0), upper address and data: the guest's,
 * told to the owner only while MSI is enabled. */
static void test_msi_message(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msi_dev(true, false, 0, false, &h);
	struct ptdm_msi_state st;
	struct counters n;

	watch(d, &n);
	th_wr(d, CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00003);
	assert_int_equal(th_rd(d, CAP + PCI_MSI_ADDRESS_LO, 4), 0xfee00000);
	th_wr(d, CAP + PCI_MSI_ADDRESS_HI, 4, 0x1);
	th_wr(d, CAP + PCI_MSI_DATA_64, 2, 0x4041);
	assert_int_equal(n.msi, 0); /* disabled: nothing to reprogram */
	ptdm_msi_get(d, &st);
	assert_int_equal(st.addr, 0x1fee00000ull);
	assert_int_equal(st.data, 0x4041);
	th_wr(d, FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	assert_int_equal(n.msi, 1);
	th_wr(d, CAP + PCI_MSI_DATA_64, 2, 0x4042);
	assert_int_equal(n.msi, 2);
	th_wr(d, CAP + PCI_MSI_DATA_64, 2, 0x4042); /* unchanged */
	assert_int_equal(n.msi, 2);
	assert_int_equal(th_host(h, CAP + PCI_MSI_ADDRESS_LO, 4), 0x77777777);
	assert_int_equal(th_host(h, CAP + PCI_MSI_DATA_64, 2), 0x7777);
	/* a 32-bit device: the data follows the low address */
	th_free(d, h);
	d = msi_dev(false, false, 0, false, &h);
	th_wr(d, CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee01000);
	th_wr(d, CAP + PCI_MSI_DATA_32, 2, 0x23);
	ptdm_msi_get(d, &st);
	assert_int_equal(st.addr, 0xfee01000);
	assert_int_equal(st.data, 0x23);
	assert_false(st.is64);
	th_free(d, h);
}

/* XSA-129: the mask is the guest's (bits beyond the device's vectors stay
 * 0), pending is the owner's; neither reaches the host. */
static void test_msi_xsa129_mask_pending(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msi_dev(true, true, 2, false, &h);
	const unsigned mask = CAP + PCI_MSI_MASK_64;
	const unsigned pend = CAP + PCI_MSI_PENDING_64;
	unsigned writes = th_host_writes(h);
	struct ptdm_msi_state st;
	struct counters n;

	watch(d, &n);
	th_wr(d, mask, 4, 0xffffffff);
	assert_int_equal(th_rd(d, mask, 4), 0xf);
	assert_int_equal(n.msi, 1);
	th_wr(d, mask + 1, 1, 0xff); /* vectors 8..15: none */
	assert_int_equal(th_rd(d, mask, 4), 0xf);
	assert_int_equal(n.msi, 1);
	th_wr(d, mask, 1, 0x5);
	assert_int_equal(th_rd(d, mask, 4), 0x5);
	/* pending: the owner sets it, the guest cannot */
	assert_int_equal(ptdm_msi_set_pending(d, 3, true), 0);
	assert_int_equal(ptdm_msi_set_pending(d, 1, true), 0);
	assert_int_equal(th_rd(d, pend, 4), 0xa);
	th_wr(d, pend, 4, 0);
	th_wr(d, pend, 4, 0xffffffff);
	assert_int_equal(th_rd(d, pend, 4), 0xa);
	assert_int_equal(ptdm_msi_set_pending(d, 1, false), 0);
	assert_int_equal(th_rd(d, pend, 4), 0x8);
	assert_int_equal(ptdm_msi_set_pending(d, 4, true), -EINVAL);
	ptdm_msi_get(d, &st);
	assert_int_equal(st.mask, 0x5);
	assert_int_equal(st.pending, 0x8);
	assert_int_equal(th_host(h, mask, 4), 0x77777777);
	assert_int_equal(th_host(h, pend, 4), 0x77777777);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);

	/* 32 vectors: every mask bit exists */
	d = msi_dev(false, true, 5, false, &h);
	th_wr(d, CAP + PCI_MSI_MASK_32, 4, 0xffffffff);
	assert_int_equal(th_rd(d, CAP + PCI_MSI_MASK_32, 4), 0xffffffff);
	assert_int_equal(ptdm_msi_set_pending(d, 31, true), 0);
	assert_int_equal(th_rd(d, CAP + PCI_MSI_PENDING_32, 4), 0x80000000);
	th_free(d, h);

	/* no per-vector masking: no pending to set */
	d = msi_dev(false, false, 0, false, &h);
	assert_int_equal(ptdm_msi_set_pending(d, 0, true), -ENOTSUP);
	th_free(d, h);
}

/* Control bits the guest has no business with read 0. */
static void test_msi_other_flags_hidden(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;

	/* bits 9-15 (extended data capable and enable, reserved) set */
	msi_cfg(&c, false, false, 0, 0xfe00);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(th_rd(d, FLAGS, 2), 0);
	th_wr(d, FLAGS, 2, 0xfe00);
	assert_int_equal(th_rd(d, FLAGS, 2), 0);
	th_free(d, h);
}

/* More than 32 vectors is a reserved encoding: the capability is hidden,
 * the device still attaches. */
static void test_msi_reserved_qmask_hidden(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msi_state st;

	msi_cfg(&c, false, false, 6, 0);
	d = th_dev(&c, NULL, &h);
	assert_true(cap_at(d, CAP)->hidden);
	assert_non_null(cap_at(d, CAP)->reason);
	ptdm_msi_get(d, &st);
	assert_false(st.present);
	assert_int_equal(ptdm_msi_set_pending(d, 0, true), -ENODEV);
	assert_int_equal(th_rd(d, PCI_CAPABILITY_LIST, 1), 0);
	th_free(d, h);
}

/* Reset: disabled, one vector, no address, unmasked, nothing pending. */
static void test_msi_reset(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msi_dev(false, true, 3, false, &h);
	struct ptdm_msi_state st;

	th_wr(d, FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 3 << 4);
	th_wr(d, CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	th_wr(d, CAP + PCI_MSI_MASK_32, 4, 0xff);
	assert_int_equal(ptdm_msi_set_pending(d, 7, true), 0);
	assert_int_equal(ptdm_dev_reset(d), 0);
	ptdm_msi_get(d, &st);
	assert_false(st.enabled);
	assert_int_equal(st.nvec, 1);
	assert_int_equal(st.nvec_max, 8);
	assert_int_equal(st.addr, 0);
	assert_int_equal(st.mask, 0);
	assert_int_equal(st.pending, 0);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msi_layouts),
		cmocka_unit_test(test_msi_xsa128_no_host_write),
		cmocka_unit_test(test_msi_xsa128_dword_at_data),
		cmocka_unit_test(test_msi_control),
		cmocka_unit_test(test_msi_message),
		cmocka_unit_test(test_msi_xsa129_mask_pending),
		cmocka_unit_test(test_msi_other_flags_hidden),
		cmocka_unit_test(test_msi_reserved_qmask_hidden),
		cmocka_unit_test(test_msi_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
