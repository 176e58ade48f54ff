/*
 * test_capmods.c - the capability modules' rules: PM, MSI, MSI-X (table,
 * PBA, latching, validation), PCI Express, AER, DSN, vendor-specific.
 * Each test checks the guest view and the host-side bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include <linux/pci_regs.h>

#define CAP 0x40
#define PCI_D0 0
#define PCI_D3hot 3

struct counters {
	int resets, msi, msix, msix_ctrl, power, last_power;
};

static int on_reset(void *o, enum ptdm_reset_kind k)
{
	((struct counters *)o)->resets++;
	return 0;
}

static void on_msi(void *o)
{
	((struct counters *)o)->msi++;
}

static void on_msix(void *o, int v)
{
	struct counters *c = o;

	if (v < 0)
		c->msix_ctrl++;
	else
		c->msix++;
}

static void on_power(void *o, int state)
{
	((struct counters *)o)->power++;
	((struct counters *)o)->last_power = state;
}

static void watch(struct ptdm_dev *d, struct counters *c)
{
	struct ptdm_dev_events ev = {
		.opaque = c, .reset_request = on_reset, .msi_changed = on_msi,
		.msix_changed = on_msix, .power_changed = on_power,
	};

	memset(c, 0, sizeof(*c));
	ptdm_dev_set_events(d, &ev);
}

static const struct ptdm_cap_info *cap_at(struct ptdm_dev *d, unsigned pos)
{
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++)
		if (ptdm_dev_cap(d, i)->pos == pos)
			return ptdm_dev_cap(d, i);
	return NULL;
}

/* ---- PM ---- */

static void pm_cfg(struct th_cfg *c)
{
	uint8_t pm[6] = { 0x03, 0xc8, /* PMC: v3, PME from D3hot/cold */
			  PCI_PM_CTRL_NO_SOFT_RESET, 0x00, 0, 0 };

	th_cfg_init(c, 0x8086, 0x1234, 256);
	th_add_cap(c, CAP, PCI_CAP_ID_PM, pm, sizeof(pm));
}

static void test_pm_state_virtual(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct counters n;

	pm_cfg(&c);
	d = th_dev(&c, NULL, &h);
	watch(d, &n);
	th_wr(d, CAP + PCI_PM_CTRL, 2, PCI_D3hot | PCI_PM_CTRL_PME_ENABLE);
	assert_int_equal(th_rd(d, CAP + PCI_PM_CTRL, 2) &
				 (PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_ENABLE),
			 PCI_D3hot | PCI_PM_CTRL_PME_ENABLE);
	assert_int_equal(th_host(h, CAP + PCI_PM_CTRL, 2),
			 PCI_PM_CTRL_NO_SOFT_RESET);
	assert_int_equal(n.power, 1);
	/* capabilities read-only */
	th_wr(d, CAP + PCI_PM_PMC, 2, 0);
	assert_int_equal(th_rd(d, CAP + PCI_PM_PMC, 2), 0xc803);
	th_free(d, h);
}

static void test_pm_power_mgmt_reaches_host(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev_opts o;
	struct ptdm_dev *d;
	struct counters n;

	pm_cfg(&c);
	ptdm_dev_opts_init(&o);
	o.power_mgmt = true;
	d = th_dev(&c, &o, &h);
	watch(d, &n);
	th_wr(d, CAP + PCI_PM_CTRL, 2, PCI_D3hot);
	assert_int_equal(th_host(h, CAP + PCI_PM_CTRL, 2) &
				 PCI_PM_CTRL_STATE_MASK, PCI_D3hot);
	assert_int_equal(n.power, 1);
	assert_int_equal(n.last_power, PCI_D3hot);
	th_wr(d, CAP + PCI_PM_CTRL, 2, PCI_D0);
	assert_int_equal(th_host(h, CAP + PCI_PM_CTRL, 2) &
				 PCI_PM_CTRL_STATE_MASK, PCI_D0);
	th_free(d, h);
}

/* ---- MSI ---- */

static void msi_cfg(struct th_cfg *c, bool is64, bool mask, unsigned qmask)
{
	uint8_t msi[22];
	uint16_t f = (uint16_t)(qmask << 1);

	memset(msi, 0x77, sizeof(msi)); /* host junk in every register */
	if (is64)
		f |= PCI_MSI_FLAGS_64BIT;
	if (mask)
		f |= PCI_MSI_FLAGS_MASKBIT;
	msi[0] = (uint8_t)f;
	msi[1] = (uint8_t)(f >> 8);
	th_cfg_init(c, 0x8086, 0x1234, 256);
	th_add_cap(c, CAP, PCI_CAP_ID_MSI, msi, sizeof(msi));
}

static void test_msi_layouts(void **state)
{
	static const struct {
		bool is64, mask;
		unsigned len, data;
	} l[] = {
		{ false, false, 12, PCI_MSI_DATA_32 },
		{ true, false, 16, PCI_MSI_DATA_64 },
		{ false, true, 20, PCI_MSI_DATA_32 },
		{ true, true, 24, PCI_MSI_DATA_64 },
	};

	for (size_t i = 0; i < 4; i++) {
		struct th_cfg c;
		struct host_dev *h;
		struct ptdm_dev *d;
		struct ptdm_msi_state st;
		unsigned writes;

		msi_cfg(&c, l[i].is64, l[i].mask, 0);
		d = th_dev(&c, NULL, &h);
		assert_int_equal(cap_at(d, CAP)->len, l[i].len);
		assert_false(cap_at(d, CAP)->hidden);
		/* power-on: disabled, address/data zero */
		assert_int_equal(th_rd(d, CAP + PCI_MSI_FLAGS, 2) &
					 PCI_MSI_FLAGS_ENABLE, 0);
		assert_int_equal(th_rd(d, CAP + PCI_MSI_ADDRESS_LO, 4), 0);
		writes = th_host_writes(h);
		th_wr(d, CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee01003);
		if (l[i].is64)
			th_wr(d, CAP + PCI_MSI_ADDRESS_HI, 4, 0x1);
		th_wr(d, CAP + l[i].data, 4, 0xffff4041);
		th_wr(d, CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
		ptdm_msi_get(d, &st);
		assert_true(st.present && st.enabled);
		assert_int_equal(st.addr, l[i].is64 ? 0x1fee01000ull : 0xfee01000);
		assert_int_equal(st.data, 0x4041);
		/* the extended data half reads 0 */
		assert_int_equal(th_rd(d, CAP + l[i].data + 2, 2), 0);
		assert_int_equal(th_host_writes(h), writes);
		assert_int_equal(th_host(h, CAP + PCI_MSI_ADDRESS_LO, 4),
				 0x77777777);
		th_free(d, h);
	}
}

static void test_msi_multi_message_clamped(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msi_state st;
	struct counters n;

	msi_cfg(&c, true, true, 2); /* 4 vectors capable */
	d = th_dev(&c, NULL, &h);
	watch(d, &n);
	th_wr(d, CAP + PCI_MSI_FLAGS, 2, 5 << 4); /* asks for 32 */
	ptdm_msi_get(d, &st);
	assert_int_equal(st.nvec_max, 4);
	assert_int_equal(st.nvec, 4);
	th_wr(d, CAP + PCI_MSI_FLAGS, 2, 1 << 4 | PCI_MSI_FLAGS_ENABLE);
	ptdm_msi_get(d, &st);
	assert_int_equal(st.nvec, 2);
	assert_true(st.enabled);
	assert_true(n.msi >= 2);
	/* QMASK and 64-bit are read-only */
	th_wr(d, CAP + PCI_MSI_FLAGS, 2, 0);
	assert_int_equal(th_rd(d, CAP + PCI_MSI_FLAGS, 2),
			 2 << 1 | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	th_free(d, h);
}

static void test_msi_mask_and_pending(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msi_state st;

	msi_cfg(&c, true, true, 2); /* 4 vectors */
	d = th_dev(&c, NULL, &h);
	th_wr(d, CAP + PCI_MSI_MASK_64, 4, 0xffffffff);
	assert_int_equal(th_rd(d, CAP + PCI_MSI_MASK_64, 4), 0xf);
	assert_int_equal(th_host(h, CAP + PCI_MSI_MASK_64, 4), 0x77777777);
	assert_int_equal(ptdm_msi_set_pending(d, 3, true), 0);
	assert_int_equal(ptdm_msi_set_pending(d, 4, true), -EINVAL);
	assert_int_equal(th_rd(d, CAP + PCI_MSI_PENDING_64, 4), 0x8);
	th_wr(d, CAP + PCI_MSI_PENDING_64, 4, 0); /* read-only */
	ptdm_msi_get(d, &st);
	assert_int_equal(st.pending, 0x8);
	assert_int_equal(st.mask, 0xf);
	th_free(d, h);

	msi_cfg(&c, false, false, 0);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(ptdm_msi_set_pending(d, 0, true), -ENOTSUP);
	th_free(d, h);
}

/* ---- MSI-X ---- */

#define MSIX_CAP 0x70

static void msix_cfg(struct th_cfg *c, unsigned nvec, uint32_t table,
		     uint32_t pba, uint64_t bar_size)
{
	uint8_t b[10];

	th_cfg_init(c, 0x8086, 0x10d3, 256);
	th_set_bar(c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, bar_size);
	th_set_bar(c, 2, PCI_BASE_ADDRESS_SPACE_IO, 0x20);
	b[0] = (uint8_t)(nvec - 1);
	b[1] = (uint8_t)((nvec - 1) >> 8);
	memcpy(b + 2, &table, 4);
	memcpy(b + 6, &pba, 4);
	th_add_cap(c, MSIX_CAP, PCI_CAP_ID_MSIX, b, sizeof(b));
}

static uint32_t bar_rd32(struct ptdm_dev *d, int bar, uint64_t off)
{
	uint32_t v = 0;

	assert_int_equal(ptdm_bar_rw(d, bar, off, &v, 4, false), 0);
	return v;
}

static void bar_wr32(struct ptdm_dev *d, int bar, uint64_t off, uint32_t v)
{
	assert_int_equal(ptdm_bar_rw(d, bar, off, &v, 4, true), 0);
}

static void test_msix_table_basics(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msix_info mi;
	struct ptdm_msix_entry e;
	struct counters n;
	uint64_t q;

	msix_cfg(&c, 5, 0x3000, 0x3800, 0x4000);
	d = th_dev(&c, NULL, &h);
	watch(d, &n);
	ptdm_msix_get(d, &mi);
	assert_true(mi.present);
	assert_int_equal(mi.nvec, 5);
	assert_int_equal(mi.table_off, 0x3000);
	/* entries power on masked */
	for (unsigned v = 0; v < 5; v++) {
		assert_int_equal(ptdm_msix_entry_get(d, v, &e), 0);
		assert_true(e.masked);
		assert_int_equal(bar_rd32(d, 0, 0x3000 + 16 * v + 12), 1);
	}
	/* 4-byte and 8-byte programming */
	bar_wr32(d, 0, 0x3010, 0xfee00003);
	q = 0x00000000000040a1ull; /* data, then control 0: unmask */
	assert_int_equal(ptdm_bar_rw(d, 0, 0x3018, &q, 8, true), 0);
	assert_int_equal(ptdm_msix_entry_get(d, 1, &e), 0);
	assert_int_equal(e.addr, 0xfee00000);
	assert_int_equal(e.data, 0x40a1);
	assert_false(e.masked);
	assert_int_equal(n.msix, 1);
	/* vector control has no bits but the mask */
	bar_wr32(d, 0, 0x301c, 0xfffffffe);
	assert_int_equal(bar_rd32(d, 0, 0x301c), 0);
	/* reading with 8 bytes */
	assert_int_equal(ptdm_bar_rw(d, 0, 0x3010, &q, 8, false), 0);
	assert_int_equal(q, 0xfee00000);
	/* PBA: pending bits from the owner, read-only to the guest */
	assert_int_equal(ptdm_msix_set_pending(d, 4, true), 0);
	assert_int_equal(bar_rd32(d, 0, 0x3800), 0x10);
	bar_wr32(d, 0, 0x3800, 0);
	assert_int_equal(bar_rd32(d, 0, 0x3800), 0x10);
	/* the host's table memory was never touched */
	uint32_t raw = 0xdead;
	assert_int_equal(h->ops->bar_read(h, 0, 0x3010, &raw, 4), 0);
	assert_int_equal(raw, 0);
	/* control: enable and mask-all virtual, size read-only */
	th_wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2,
	      PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 0x7ff);
	assert_int_equal(th_rd(d, MSIX_CAP + PCI_MSIX_FLAGS, 2),
			 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 4);
	assert_int_equal(th_host(h, MSIX_CAP + PCI_MSIX_FLAGS, 2), 4);
	assert_int_equal(n.msix_ctrl, 1);
	ptdm_msix_get(d, &mi);
	assert_true(mi.enabled && mi.function_masked);
	th_free(d, h);
}

static void test_msix_bad_accesses(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msix_entry e;
	uint8_t b[8];
	uint32_t v = 0x11111111;

	msix_cfg(&c, 2, 0x0, 0x1000, 0x2000);
	d = th_dev(&c, NULL, &h);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	/* 2-byte, unaligned, straddling: refused, reads all-ones */
	assert_int_equal(ptdm_bar_rw(d, 0, 8, b, 2, false), 0);
	assert_int_equal(b[0], 0xff);
	assert_int_equal(ptdm_bar_rw(d, 0, 6, &v, 4, true), 0);
	assert_int_equal(ptdm_bar_rw(d, 0, 0x1c, b, 8, true), 0);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.addr, 0);
	assert_int_equal(ptdm_msix_entry_get(d, 1, &e), 0);
	assert_true(e.masked);
	/* past the last entry, still in the table's page (which the spec
	 * keeps free of other registers): dropped, reads all-ones */
	bar_wr32(d, 0, 0x20, 0x12345678);
	assert_int_equal(ptdm_msix_entry_get(d, 2, &e), -EINVAL);
	assert_int_equal(bar_rd32(d, 0, 0x20), 0xffffffff);
	v = 0;
	assert_int_equal(h->ops->bar_read(h, 0, 0x20, &v, 4), 0);
	assert_int_equal(v, 0); /* nothing reached the device */
	/* out of the BAR entirely */
	assert_int_equal(ptdm_bar_rw(d, 0, 0x2000, &v, 4, false), -ERANGE);
	assert_int_equal(ptdm_bar_rw(d, 1, 0, &v, 4, false), -ENXIO);
	assert_int_equal(ptdm_bar_rw(d, 7, 0, &v, 4, false), -EINVAL);
	th_free(d, h);
}

static void test_msix_latch_while_live(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msix_entry e;

	msix_cfg(&c, 4, 0x0, 0x1000, 0x2000);
	d = th_dev(&c, NULL, &h);
	bar_wr32(d, 0, 0x0, 0xfee00000);
	bar_wr32(d, 0, 0x8, 0x41);
	bar_wr32(d, 0, 0xc, 0); /* unmask */
	th_wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	/* live entry: new data waits */
	bar_wr32(d, 0, 0x8, 0x42);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x41);
	/* masking it applies the latched value */
	bar_wr32(d, 0, 0xc, 1);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x42);
	assert_true(e.masked);
	/* function mask also applies latches */
	bar_wr32(d, 0, 0xc, 0);
	bar_wr32(d, 0, 0x8, 0x43);
	th_wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2,
	      PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x43);
	th_free(d, h);
}

static void expect_msix_hidden(uint32_t table, uint32_t pba, uint64_t size,
			       unsigned nvec, const char *word)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msix_info mi;

	msix_cfg(&c, nvec, table, pba, size);
	d = th_dev(&c, NULL, &h);
	assert_true(cap_at(d, MSIX_CAP)->hidden);
	assert_non_null(strstr(cap_at(d, MSIX_CAP)->reason, word));
	ptdm_msix_get(d, &mi);
	assert_false(mi.present);
	/* the rest of the device is still there */
	assert_int_equal(th_rd(d, PCI_VENDOR_ID, 2), 0x8086);
	th_free(d, h);
}

static void test_msix_validation(void **state)
{
	expect_msix_hidden(0x1ff0, 0x0, 0x2000, 2, "past the end");
	expect_msix_hidden(0x0, 0x2000, 0x2000, 2, "past the end");
	expect_msix_hidden(0x0 | 7, 0x1000, 0x2000, 2, "names no BAR");
	expect_msix_hidden(0x0 | 2, 0x1000, 0x2000, 2, "I/O BAR");
	expect_msix_hidden(0x0 | 1, 0x1000, 0x2000, 2, "missing BAR");
	expect_msix_hidden(0x0, 0x10, 0x2000, 4, "overlap");
	/* 2048 vectors need 32K of table */
	expect_msix_hidden(0x0, 0x8000, 0x8000, 2048, "past the end");
}

static void test_msix_reset_state(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msix_entry e;

	msix_cfg(&c, 2, 0x0, 0x1000, 0x2000);
	d = th_dev(&c, NULL, &h);
	bar_wr32(d, 0, 0x8, 0x55);
	bar_wr32(d, 0, 0xc, 0);
	th_wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(ptdm_dev_reset(d), 0);
	assert_int_equal(th_rd(d, MSIX_CAP + PCI_MSIX_FLAGS, 2), 1);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_true(e.masked);
	assert_int_equal(e.data, 0);
	th_free(d, h);
}

/* ---- PCI Express ---- */

static void exp_cfg(struct th_cfg *c, uint16_t flags, uint32_t devcap)
{
	uint8_t e[0x3a] = { 0 };

	th_cfg_init(c, 0x144d, 0xa808, 4096);
	memcpy(e, &flags, 2);
	memcpy(e + 2, &devcap, 4);
	e[PCI_EXP_DEVCTL - 2] = 0x10 | 0x20; /* relaxed, MPS 256 */
	e[PCI_EXP_DEVCTL - 1] = 0x28;        /* no-snoop, MRRS 512 */
	e[PCI_EXP_DEVSTA - 2] = 0x0f;        /* all error bits set */
	e[PCI_EXP_LNKCTL - 2] = 0x42;        /* ASPM L1, CCC */
	e[PCI_EXP_SLTCAP - 2] = 0xff;        /* junk where slot regs are */
	th_add_cap(c, CAP, PCI_CAP_ID_EXP, e, sizeof(e));
}

static void test_exp_devctl(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct counters n;
	const unsigned ctl = CAP + PCI_EXP_DEVCTL;

	exp_cfg(&c, 2 | PCI_EXP_TYPE_ENDPOINT << 4, PCI_EXP_DEVCAP_FLR);
	d = th_dev(&c, NULL, &h);
	watch(d, &n);
	assert_int_equal(th_rd(d, ctl, 2), 0x2830);
	/* MPS and MRRS and error enables: virtual */
	th_wr(d, ctl, 2, PCI_EXP_DEVCTL_PAYLOAD_4096B |
			 PCI_EXP_DEVCTL_READRQ_4096B | PCI_EXP_DEVCTL_CERE |
			 PCI_EXP_DEVCTL_RELAX_EN);
	assert_int_equal(th_rd(d, ctl, 2),
			 PCI_EXP_DEVCTL_PAYLOAD_4096B |
			 PCI_EXP_DEVCTL_READRQ_4096B | PCI_EXP_DEVCTL_CERE |
			 PCI_EXP_DEVCTL_RELAX_EN);
	/* host: MPS/MRRS unchanged, no-snoop cleared (it reaches the host) */
	assert_int_equal(th_host(h, ctl, 2), 0x2030);
	/* phantom functions read-only */
	th_wr(d, ctl, 2, PCI_EXP_DEVCTL_PHANTOM);
	assert_int_equal(th_rd(d, ctl, 2) & PCI_EXP_DEVCTL_PHANTOM, 0);
	/* FLR: a reset request, reads 0 */
	th_wr(d, ctl, 2, PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(n.resets, 1);
	assert_int_equal(th_rd(d, ctl, 2) & PCI_EXP_DEVCTL_BCR_FLR, 0);
	/* DEVCAP read-only */
	th_wr(d, CAP + PCI_EXP_DEVCAP, 4, 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_DEVCAP, 4), PCI_EXP_DEVCAP_FLR);
	th_free(d, h);

	/* no FLR capability: nothing happens */
	exp_cfg(&c, 2, 0);
	d = th_dev(&c, NULL, &h);
	watch(d, &n);
	th_wr(d, ctl, 2, PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(n.resets, 0);
	th_free(d, h);
}

static void test_exp_flr_without_owner_resets(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;

	exp_cfg(&c, 2, PCI_EXP_DEVCAP_FLR);
	d = th_dev(&c, NULL, &h);
	th_wr(d, PCI_INTERRUPT_LINE, 1, 11);
	th_wr(d, CAP + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR);
	/* the core reset the device itself: virtual state back to power-on */
	assert_int_equal(th_rd(d, PCI_INTERRUPT_LINE, 1), 0);
	th_free(d, h);
}

static void test_exp_devsta_lnk_slot(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;

	exp_cfg(&c, 2, 0);
	d = th_dev(&c, NULL, &h);
	/* DEVSTA: RW1C exactly on the host */
	th_wr(d, CAP + PCI_EXP_DEVSTA, 2, PCI_EXP_DEVSTA_URD | 0xfff0);
	assert_int_equal(th_host(h, CAP + PCI_EXP_DEVSTA, 2), 0x07);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_DEVSTA, 2), 0x07);
	/* LNKCTL virtual; retrain reads 0 */
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKCTL, 2), 0x42);
	th_wr(d, CAP + PCI_EXP_LNKCTL, 2, PCI_EXP_LNKCTL_RL |
					  PCI_EXP_LNKCTL_LD);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKCTL, 2), PCI_EXP_LNKCTL_LD);
	assert_int_equal(th_host(h, CAP + PCI_EXP_LNKCTL, 2), 0x42);
	/* slot registers read 0 for an endpoint */
	assert_int_equal(th_rd(d, CAP + PCI_EXP_SLTCAP, 4), 0);
	th_free(d, h);
}

static void test_exp_ports_hidden(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;

	exp_cfg(&c, 2 | PCI_EXP_TYPE_UPSTREAM << 4, 0);
	d = th_dev(&c, NULL, &h);
	assert_true(cap_at(d, CAP)->hidden);
	assert_non_null(strstr(cap_at(d, CAP)->reason, "port"));
	th_free(d, h);

	exp_cfg(&c, 1 | PCI_EXP_TYPE_LEG_END << 4, 0);
	d = th_dev(&c, NULL, &h);
	assert_false(cap_at(d, CAP)->hidden);
	assert_int_equal(cap_at(d, CAP)->len, PCI_CAP_EXP_ENDPOINT_SIZEOF_V1);
	th_free(d, h);
}

/* ---- extended ---- */

static void test_aer_dsn_vsec(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint8_t aer[0x28] = { 0 };
	uint8_t dsn[8] = { 0x25, 0x38, 0x8c, 0x31, 0x50, 0x0a, 0x2b, 0 };
	uint8_t vsec[12] = { 0x01, 0x00, 0x00, 0x01, 0xaa, 0xbb };

	memcpy(aer, "\x10\x00\x00\x00", 4);         /* uncor status: DLP */
	memcpy(aer + 4, "\x00\x00\x40\x00", 4);     /* uncor mask */
	memcpy(aer + 0xc, "\x41\x20\x00\x00", 4);   /* cor status */
	memcpy(aer + 0x14, "\xa0\x00\x00\x00", 4);  /* AER cap: ECRC capable */
	th_cfg_init(&c, 0x144d, 0xa808, 4096);
	th_add_ecap(&c, 0x100, PCI_EXT_CAP_ID_ERR, 2, aer, sizeof(aer));
	th_add_ecap(&c, 0x148, PCI_EXT_CAP_ID_DSN, 1, dsn, sizeof(dsn));
	th_add_ecap(&c, 0x200, PCI_EXT_CAP_ID_VNDR, 1, vsec, sizeof(vsec));
	d = th_dev(&c, NULL, &h);
	/* status RW1C on the host */
	th_wr(d, 0x104, 4, 0x10);
	assert_int_equal(th_host(h, 0x104, 4), 0);
	th_wr(d, 0x110, 4, 0x1);
	assert_int_equal(th_host(h, 0x110, 4), 0x2040);
	/* masks virtual */
	th_wr(d, 0x108, 4, 0xffffffff);
	assert_int_equal(th_rd(d, 0x108, 4), 0xffffffff);
	assert_int_equal(th_host(h, 0x108, 4), 0x00400000);
	/* ECRC enables virtual, capable bits read-only */
	th_wr(d, 0x118, 4, PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE);
	assert_int_equal(th_rd(d, 0x118, 4),
			 0xa0 | PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE);
	assert_int_equal(th_host(h, 0x118, 4), 0xa0);
	/* DSN read-only */
	th_wr(d, 0x14c, 4, 0);
	assert_int_equal(th_rd(d, 0x14c, 4), 0x318c3825);
	assert_int_equal(cap_at(d, 0x148)->len, 12);
	/* VSEC: 16 bytes long, header read-only, body raw */
	assert_int_equal(cap_at(d, 0x200)->len, 16);
	assert_int_equal(th_rd(d, 0x208, 2), 0xbbaa);
	th_free(d, h);
}

/* ---- migration state ---- */

static void test_state_round_trip_and_hostile_stream(void **state)
{
	struct th_cfg c;
	struct host_dev *ha, *hb;
	struct ptdm_dev *a, *b;
	struct ptdm_msi_state ms;
	uint8_t *blob;
	size_t len;

	msi_cfg(&c, true, true, 2); /* 4 vectors, maskable */
	a = th_dev(&c, NULL, &ha);
	b = th_dev(&c, NULL, &hb);
	th_wr(a, CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	th_wr(a, CAP + PCI_MSI_FLAGS, 2, 2 << 4 | PCI_MSI_FLAGS_ENABLE);
	th_wr(a, CAP + PCI_MSI_MASK_64, 4, 0x5);
	assert_int_equal(ptdm_msi_set_pending(a, 2, true), 0);
	assert_int_equal(ptdm_dev_save(a, &blob, &len), 0);
	assert_int_equal(ptdm_dev_load(b, blob, len), 0);
	ptdm_msi_get(b, &ms);
	assert_true(ms.enabled);
	assert_int_equal(ms.nvec, 4);
	assert_int_equal(ms.addr, 0xfee00000);
	assert_int_equal(ms.mask, 0x5);
	assert_int_equal(ms.pending, 0x4);
	/* a stream that claims what no guest could write: the same rules */
	{
		unsigned base = 24; /* after the state header */
		uint8_t *t = malloc(len);

		memcpy(t, blob, len);
		t[base + CAP + PCI_MSI_FLAGS] |= 0x0e;         /* QMASK: RO */
		t[base + CAP + PCI_MSI_PENDING_64] = 0xff;     /* > 4 vectors */
		t[base + CAP + PCI_MSI_MASK_64] = 0xff;
		assert_int_equal(ptdm_dev_load(b, t, len), 0);
		ptdm_msi_get(b, &ms);
		assert_int_equal(ms.nvec_max, 4);
		assert_int_equal(ms.pending, 0xf);
		assert_int_equal(ms.mask, 0xf);
		/* another device's stream is refused, nothing changes */
		t[base + PCI_DEVICE_ID] ^= 1;
		assert_int_equal(ptdm_dev_load(b, t, len), -ENODEV);
		/* truncated, grown */
		assert_int_equal(ptdm_dev_load(b, t, len - 1), -EINVAL);
		free(t);
	}
	free(blob);
	th_free(a, ha);
	th_free(b, hb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pm_state_virtual),
		cmocka_unit_test(test_pm_power_mgmt_reaches_host),
		cmocka_unit_test(test_msi_layouts),
		cmocka_unit_test(test_msi_multi_message_clamped),
		cmocka_unit_test(test_msi_mask_and_pending),
		cmocka_unit_test(test_msix_table_basics),
		cmocka_unit_test(test_msix_bad_accesses),
		cmocka_unit_test(test_msix_latch_while_live),
		cmocka_unit_test(test_msix_validation),
		cmocka_unit_test(test_msix_reset_state),
		cmocka_unit_test(test_exp_devctl),
		cmocka_unit_test(test_exp_flr_without_owner_resets),
		cmocka_unit_test(test_exp_devsta_lnk_slot),
		cmocka_unit_test(test_exp_ports_hidden),
		cmocka_unit_test(test_aer_dsn_vsec),
		cmocka_unit_test(test_state_round_trip_and_hostile_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
