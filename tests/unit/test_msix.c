/*
 * test_msix.c - MSI-X (cap_msix.c): control virtual, locations the attach
 * snapshot (XSA-337), validation that hides impossible layouts, and the
 * emulated table and PBA pages: aligned 4/8-byte accesses only, nothing
 * past the last entry (XSA-164), PBA read-only, entries power on masked,
 * writes to a live entry latched until it is masked.
 *
 * Chosen behaviour, documented in cap_msix.c: inside the 4 KiB pages that
 * hold the table or the PBA, anything that is neither - e.g. "entry N" of
 * an N-entry table - reads all-ones and drops writes; the device's BAR
 * memory there is never touched.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "ptdm/image.h"
#include "ptdm/log.h"
#include <linux/pci_regs.h>

#define CAP 0x70
#define CTRL (CAP + PCI_MSIX_FLAGS)
#define ENT(v, field) ((uint64_t)(v) * PCI_MSIX_ENTRY_SIZE + (field))

struct counters {
	int ctrl, vec, last_vec;
};

static void on_msix(void *o, int v)
{
	struct counters *n = o;

	if (v < 0) {
		n->ctrl++;
	} else {
		n->vec++;
		n->last_vec = v;
	}
}

static void watch(struct ptdm_dev *d, struct counters *n)
{
	struct ptdm_dev_events ev = { .opaque = n, .msix_changed = on_msix };

	memset(n, 0, sizeof(*n));
	n->last_vec = -1;
	ptdm_dev_set_events(d, &ev);
}

static const struct ptdm_cap_info *cap_at(struct ptdm_dev *d, unsigned pos)
{
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++)
		if (ptdm_dev_cap(d, i)->pos == pos)
			return ptdm_dev_cap(d, i);
	return NULL;
}

/*
 * BAR0 32-bit memory of bar0 bytes, BAR2 I/O, BAR4/5 a 64-bit BAR of
 * 16 KiB.  The host's MSI-X control has enable and function mask set, so
 * a guest view built from it would show.
 */
static void msix_cfg(struct th_cfg *c, unsigned nvec, uint32_t table,
		     uint32_t pba, uint64_t bar0)
{
	uint16_t ctrl = (uint16_t)(nvec - 1) | PCI_MSIX_FLAGS_ENABLE |
			PCI_MSIX_FLAGS_MASKALL;
	uint8_t b[10];

	th_cfg_init(c, 0x8086, 0x10d3, 256);
	th_set_bar(c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, bar0);
	th_set_bar(c, 2, PCI_BASE_ADDRESS_SPACE_IO, 0x20);
	th_set_bar(c, 4, PCI_BASE_ADDRESS_MEM_TYPE_64, 0x4000);
	memcpy(b, &ctrl, 2);
	memcpy(b + 2, &table, 4);
	memcpy(b + 6, &pba, 4);
	th_add_cap(c, CAP, PCI_CAP_ID_MSIX, b, sizeof(b));
}

static struct ptdm_dev *msix_dev(unsigned nvec, uint32_t table, uint32_t pba,
				 uint64_t bar0, struct host_dev **h)
{
	struct th_cfg c;
	struct ptdm_dev *d;

	msix_cfg(&c, nvec, table, pba, bar0);
	d = th_dev(&c, NULL, h);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	return d;
}

static uint32_t rd32(struct ptdm_dev *d, int bar, uint64_t off)
{
	uint32_t v = 0;

	assert_int_equal(ptdm_bar_rw(d, bar, off, &v, 4, false), 0);
	return v;
}

static void wr32(struct ptdm_dev *d, int bar, uint64_t off, uint32_t v)
{
	assert_int_equal(ptdm_bar_rw(d, bar, off, &v, 4, true), 0);
}

static uint64_t rd64(struct ptdm_dev *d, int bar, uint64_t off)
{
	uint64_t v = 0;

	assert_int_equal(ptdm_bar_rw(d, bar, off, &v, 8, false), 0);
	return v;
}

static void wr64(struct ptdm_dev *d, int bar, uint64_t off, uint64_t v)
{
	assert_int_equal(ptdm_bar_rw(d, bar, off, &v, 8, true), 0);
}

/* The device's own BAR memory, behind ptdm's back. */
static uint32_t host_bar32(struct host_dev *h, int bar, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(h->ops->bar_read(h, bar, off, &v, 4), 0);
	return v;
}

static void test_msix_power_on(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(5, 0x3000, 0x3800, 0x4000, &h);
	unsigned writes = th_host_writes(h);
	struct ptdm_msix_info mi;
	struct ptdm_msix_entry e;

	/* control: the table size only, enable and mask-all the guest's 0 */
	assert_int_equal(th_rd(d, CTRL, 2), 4);
	assert_int_equal(th_rd(d, CAP + PCI_MSIX_TABLE, 4), 0x3000);
	assert_int_equal(th_rd(d, CAP + PCI_MSIX_PBA, 4), 0x3800);
	ptdm_msix_get(d, &mi);
	assert_true(mi.present);
	assert_false(mi.enabled);
	assert_false(mi.function_masked);
	assert_int_equal(mi.nvec, 5);
	assert_int_equal(mi.table_bar, 0);
	assert_int_equal(mi.pba_bar, 0);
	assert_int_equal(mi.table_off, 0x3000);
	assert_int_equal(mi.pba_off, 0x3800);
	/* every entry masked, address and data 0 */
	for (unsigned v = 0; v < 5; v++) {
		assert_int_equal(ptdm_msix_entry_get(d, v, &e), 0);
		assert_true(e.masked);
		assert_int_equal(e.addr, 0);
		assert_int_equal(e.data, 0);
		assert_int_equal(rd32(d, 0, 0x3000 + ENT(v, 12)),
				 PCI_MSIX_ENTRY_CTRL_MASKBIT);
	}
	assert_int_equal(ptdm_msix_entry_get(d, 5, &e), -EINVAL);
	assert_int_equal(rd64(d, 0, 0x3800), 0);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);
}

/* Table and PBA locations are read-only: the snapshot, not the guest's. */
static void test_msix_locations_read_only(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(5, 0x3000, 0x3800, 0x4000, &h);
	unsigned writes = th_host_writes(h);
	struct ptdm_msix_info mi;

	th_wr(d, CAP + PCI_MSIX_TABLE, 4, 0x1004);
	th_wr(d, CAP + PCI_MSIX_PBA, 4, 0x2004);
	assert_int_equal(th_rd(d, CAP + PCI_MSIX_TABLE, 4), 0x3000);
	assert_int_equal(th_rd(d, CAP + PCI_MSIX_PBA, 4), 0x3800);
	assert_int_equal(th_host(h, CAP + PCI_MSIX_TABLE, 4), 0x3000);
	assert_int_equal(th_host_writes(h), writes);
	/* XSA-337: the device changing its registers changes nothing */
	assert_int_equal(h->ops->cfg_write(h, CAP + PCI_MSIX_TABLE,
					   "\x00\x10\x00\x00", 4), 0);
	ptdm_msix_get(d, &mi);
	assert_int_equal(mi.table_off, 0x3000);
	assert_int_equal(th_rd(d, CAP + PCI_MSIX_TABLE, 4), 0x3000);
	wr32(d, 0, 0x3008, 0x77);
	assert_int_equal(rd32(d, 0, 0x3008), 0x77);
	assert_int_equal(host_bar32(h, 0, 0x1008), 0);
	th_free(d, h);
}

static void test_msix_table_4_and_8_byte(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(5, 0x3000, 0x3800, 0x4000, &h);
	struct ptdm_msix_entry e;

	/* 4-byte programming of entry 0 */
	wr32(d, 0, 0x3000 + ENT(0, 0), 0xfee00003); /* low bits read 0 */
	wr32(d, 0, 0x3000 + ENT(0, 4), 0x1);
	wr32(d, 0, 0x3000 + ENT(0, 8), 0x4041);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.addr, 0x1fee00000ull);
	assert_int_equal(e.data, 0x4041);
	assert_true(e.masked);
	assert_int_equal(rd32(d, 0, 0x3000 + ENT(0, 0)), 0xfee00000);
	assert_int_equal(rd64(d, 0, 0x3000 + ENT(0, 0)), 0x1fee00000ull);
	/* 8-byte programming of entry 4: address, then data + unmask */
	wr64(d, 0, 0x3000 + ENT(4, 0), 0x00000002fee01000ull);
	wr64(d, 0, 0x3000 + ENT(4, 8), 0x00000000000040a1ull);
	assert_int_equal(ptdm_msix_entry_get(d, 4, &e), 0);
	assert_int_equal(e.addr, 0x2fee01000ull);
	assert_int_equal(e.data, 0x40a1);
	assert_false(e.masked);
	assert_int_equal(rd64(d, 0, 0x3000 + ENT(4, 8)), 0x40a1);
	assert_int_equal(rd32(d, 0, 0x3000 + ENT(4, 4)), 2);
	/* vector control: only the mask bit exists */
	wr32(d, 0, 0x3000 + ENT(4, 12), 0xfffffffe);
	assert_int_equal(rd32(d, 0, 0x3000 + ENT(4, 12)), 0);
	wr32(d, 0, 0x3000 + ENT(4, 12), 0xffffffff);
	assert_int_equal(rd32(d, 0, 0x3000 + ENT(4, 12)), 1);
	/* the device's table memory was never written */
	for (uint64_t off = 0x3000; off < 0x3000 + ENT(5, 0); off += 4)
		assert_int_equal(host_bar32(h, 0, off), 0);
	th_free(d, h);
}

/* Only naturally aligned 4/8-byte accesses: others read all-ones and
 * change nothing. */
static void test_msix_refused_accesses(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(2, 0x0, 0x1000, 0x4000, &h);
	struct ptdm_msix_entry e;
	uint8_t b[16];
	static const struct {
		uint64_t off;
		size_t len;
	} bad[] = {
		{ 0x8, 1 }, { 0x9, 1 }, { 0x8, 2 }, { 0xa, 2 }, { 0x6, 4 },
		{ 0x2, 4 }, { 0x4, 8 }, { 0xc, 8 }, { 0x0, 16 }, { 0x10, 3 },
		{ 0x1000, 2 }, { 0x1004, 8 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(b, 0x11, sizeof(b));
		assert_int_equal(ptdm_bar_rw(d, 0, bad[i].off, b, bad[i].len,
					     false), 0);
		for (size_t j = 0; j < bad[i].len; j++)
			assert_int_equal(b[j], 0xff);
		memset(b, 0x00, sizeof(b));
		assert_int_equal(ptdm_bar_rw(d, 0, bad[i].off, b, bad[i].len,
					     true), 0);
	}
	for (unsigned v = 0; v < 2; v++) {
		assert_int_equal(ptdm_msix_entry_get(d, v, &e), 0);
		assert_true(e.masked); /* the zero writes did not unmask */
		assert_int_equal(e.addr, 0);
	}
	for (uint64_t off = 0; off < 0x20; off += 4)
		assert_int_equal(host_bar32(h, 0, off), 0);
	th_free(d, h);
}

/* XSA-164: nothing at or past table + 16 * nvec is the table; in the
 * MSI-X pages it reads all-ones and writes are dropped, and the device's
 * memory there is not written either.  The next page is the device's. */
static void test_msix_xsa164_past_last_entry(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(2, 0x0, 0x1000, 0x4000, &h);
	struct ptdm_msix_entry e;

	wr32(d, 0, ENT(2, 8), 0x12345678); /* "entry 2" data */
	wr32(d, 0, ENT(2, 12), 0);         /* "entry 2" unmask */
	wr64(d, 0, ENT(3, 0), ~0ull);
	wr64(d, 0, 0xff8, ~0ull);          /* end of the table's page */
	assert_int_equal(rd32(d, 0, ENT(2, 8)), 0xffffffff);
	assert_int_equal(rd64(d, 0, ENT(3, 0)), ~0ull);
	assert_int_equal(rd32(d, 0, 0xffc), 0xffffffff);
	assert_int_equal(host_bar32(h, 0, ENT(2, 8)), 0);
	assert_int_equal(host_bar32(h, 0, 0xff8), 0);
	assert_int_equal(ptdm_msix_entry_get(d, 2, &e), -EINVAL);
	for (unsigned v = 0; v < 2; v++) {
		assert_int_equal(ptdm_msix_entry_get(d, v, &e), 0);
		assert_true(e.masked);
		assert_int_equal(e.data, 0);
	}
	/* past the PBA (8 bytes for 2 vectors), in its page: the same */
	wr32(d, 0, 0x1008, 0x5555);
	assert_int_equal(rd32(d, 0, 0x1008), 0xffffffff);
	assert_int_equal(host_bar32(h, 0, 0x1008), 0);
	/* the page after the PBA's: ordinary device memory */
	wr32(d, 0, 0x2000, 0x12345678);
	assert_int_equal(host_bar32(h, 0, 0x2000), 0x12345678);
	assert_int_equal(rd32(d, 0, 0x2000), 0x12345678);
	th_free(d, h);
}

/* The PBA: pending bits from the owner, read-only to the guest. */
static void test_msix_pba(void **state)
{
	struct host_dev *h;
	/* 70 vectors: 0x460 bytes of table, two PBA qwords at 0x800 */
	struct ptdm_dev *d = msix_dev(70, 0x0, 0x800, 0x1000, &h);

	assert_int_equal(ptdm_msix_set_pending(d, 4, true), 0);
	assert_int_equal(ptdm_msix_set_pending(d, 33, true), 0);
	assert_int_equal(ptdm_msix_set_pending(d, 65, true), 0);
	assert_int_equal(rd32(d, 0, 0x800), 0x10);
	assert_int_equal(rd32(d, 0, 0x804), 0x2);
	assert_int_equal(rd64(d, 0, 0x800), 0x0000000200000010ull);
	assert_int_equal(rd64(d, 0, 0x808), 0x2);
	wr32(d, 0, 0x800, 0);
	wr64(d, 0, 0x808, 0);
	assert_int_equal(rd64(d, 0, 0x800), 0x0000000200000010ull);
	assert_int_equal(rd64(d, 0, 0x808), 0x2);
	assert_int_equal(host_bar32(h, 0, 0x800), 0);
	assert_int_equal(ptdm_msix_set_pending(d, 4, false), 0);
	assert_int_equal(rd32(d, 0, 0x800), 0);
	assert_int_equal(ptdm_msix_set_pending(d, 70, true), -EINVAL);
	/* between the table end (0x460) and the PBA: not the table */
	assert_int_equal(rd32(d, 0, 0x460), 0xffffffff);
	th_free(d, h);
}

/* Control: enable and function mask virtual, table size read-only; the
 * owner hears of changes with vector -1. */
static void test_msix_control(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(5, 0x3000, 0x3800, 0x4000, &h);
	struct ptdm_msix_info mi;
	struct counters n;
	unsigned writes;

	watch(d, &n);
	/* the guest's COMMAND.MEM off: the enable is stored all the same */
	th_wr(d, PCI_COMMAND, 2, 0);
	writes = th_host_writes(h);
	th_wr(d, CTRL, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_QSIZE);
	assert_int_equal(th_rd(d, CTRL, 2), PCI_MSIX_FLAGS_ENABLE | 4);
	ptdm_msix_get(d, &mi);
	assert_true(mi.enabled);
	assert_false(mi.function_masked);
	assert_int_equal(mi.nvec, 5);
	assert_int_equal(n.ctrl, 1);
	th_wr(d, CTRL, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ptdm_msix_get(d, &mi);
	assert_true(mi.function_masked);
	assert_int_equal(n.ctrl, 2);
	th_wr(d, CTRL + 1, 1, (PCI_MSIX_FLAGS_ENABLE |
			       PCI_MSIX_FLAGS_MASKALL) >> 8);
	assert_int_equal(n.ctrl, 2); /* no change, no news */
	th_wr(d, CTRL, 2, 0);
	assert_int_equal(th_rd(d, CTRL, 2), 4);
	assert_int_equal(n.ctrl, 3);
	/* the host's control register was never written */
	assert_int_equal(th_host(h, CTRL, 2), PCI_MSIX_FLAGS_ENABLE |
						       PCI_MSIX_FLAGS_MASKALL |
						       4);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);
}

/* A mask-bit change is news for that vector; anything else is not. */
static void test_msix_mask_notifies(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(5, 0x3000, 0x3800, 0x4000, &h);
	struct counters n;

	watch(d, &n);
	wr32(d, 0, 0x3000 + ENT(3, 8), 0x41); /* masked: no news */
	assert_int_equal(n.vec, 0);
	wr32(d, 0, 0x3000 + ENT(3, 12), 0);
	assert_int_equal(n.vec, 1);
	assert_int_equal(n.last_vec, 3);
	wr32(d, 0, 0x3000 + ENT(3, 12), 0);
	assert_int_equal(n.vec, 1);
	wr32(d, 0, 0x3000 + ENT(1, 12), 0);
	assert_int_equal(n.last_vec, 1);
	wr32(d, 0, 0x3000 + ENT(3, 12), 1);
	assert_int_equal(n.vec, 3);
	assert_int_equal(n.last_vec, 3);
	assert_int_equal(n.ctrl, 0);
	th_free(d, h);
}

/* Address/data writes to a live entry wait until it is masked. */
static void test_msix_latch_while_live(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(4, 0x0, 0x1000, 0x4000, &h);
	struct ptdm_msix_entry e;
	struct counters n;

	wr32(d, 0, ENT(0, 0), 0xfee00000);
	wr32(d, 0, ENT(0, 8), 0x41);
	wr32(d, 0, ENT(0, 12), 0);
	th_wr(d, CTRL, 2, PCI_MSIX_FLAGS_ENABLE);
	watch(d, &n);
	/* live: the guest and the owner keep seeing the old message */
	wr32(d, 0, ENT(0, 8), 0x42);
	wr64(d, 0, ENT(0, 0), 0x00000001fee02000ull);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x41);
	assert_int_equal(e.addr, 0xfee00000);
	assert_int_equal(rd32(d, 0, ENT(0, 8)), 0x41);
	assert_int_equal(n.vec, 0);
	/* masking it applies the latched message, in one step */
	wr32(d, 0, ENT(0, 12), 1);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x42);
	assert_int_equal(e.addr, 0x1fee02000ull);
	assert_true(e.masked);
	assert_int_equal(n.vec, 1);
	assert_int_equal(n.last_vec, 0);
	/* an 8-byte data + mask write lands whole */
	wr32(d, 0, ENT(0, 12), 0);
	wr64(d, 0, ENT(0, 8), 0x0000000100000043ull);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x43);
	assert_true(e.masked);
	/* the function mask applies latches too */
	wr32(d, 0, ENT(0, 12), 0);
	wr32(d, 0, ENT(0, 8), 0x44);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x43);
	th_wr(d, CTRL, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x44);
	/* function masked: not live, writes land at once */
	wr32(d, 0, ENT(0, 8), 0x45);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x45);
	/* disabling applies latches as well */
	th_wr(d, CTRL, 2, PCI_MSIX_FLAGS_ENABLE);
	wr32(d, 0, ENT(0, 8), 0x46);
	th_wr(d, CTRL, 2, 0);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x46);
	/* MSI-X off: not live */
	wr32(d, 0, ENT(0, 8), 0x47);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x47);
	th_free(d, h);
}

static void expect_hidden(unsigned nvec, uint32_t table, uint32_t pba,
			  uint64_t bar0, const char *word)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msix_info mi;
	struct ptdm_msix_entry e;
	bool named = false;

	msix_cfg(&c, nvec, table, pba, bar0);
	d = th_dev(&c, NULL, &h);
	assert_true(cap_at(d, CAP)->hidden);
	assert_non_null(strstr(cap_at(d, CAP)->reason, word));
	for (size_t i = 0; i < ptdm_dev_nproblems(d); i++)
		named |= strstr(ptdm_dev_problem(d, i), word) != NULL;
	assert_true(named);
	ptdm_msix_get(d, &mi);
	assert_false(mi.present);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), -ENODEV);
	assert_int_equal(ptdm_msix_set_pending(d, 0, true), -ENODEV);
	/* unlinked; the rest of the device is still there */
	assert_int_equal(th_rd(d, PCI_CAPABILITY_LIST, 1), 0);
	assert_int_equal(th_rd(d, PCI_VENDOR_ID, 2), 0x8086);
	th_free(d, h);
}

static void test_msix_validation_hides(void **state)
{
	/* table runs past the BAR's end, by one entry */
	expect_hidden(2, 0x1ff0, 0x0, 0x2000, "past the end");
	/* PBA past the end */
	expect_hidden(2, 0x0, 0x2000, 0x2000, "past the end");
	/* 2048 vectors need 32 KiB of table */
	expect_hidden(2048, 0x0, 0x8000, 0x8000, "past the end");
	/* BIR 6 and 7 name no BAR */
	expect_hidden(2, 0x0 | 7, 0x1000, 0x2000, "names no BAR");
	expect_hidden(2, 0x0, 0x1000 | 6, 0x2000, "names no BAR");
	/* BAR 2 is I/O */
	expect_hidden(2, 0x0 | 2, 0x1000, 0x2000, "I/O BAR");
	/* BAR 5 is the upper half of the 64-bit BAR 4 */
	expect_hidden(2, 0x0 | 5, 0x1000, 0x2000, "upper half");
	/* BAR 1 is not implemented */
	expect_hidden(2, 0x0 | 1, 0x1000, 0x2000, "missing BAR");
	/* table and PBA overlap */
	expect_hidden(4, 0x0, 0x10, 0x2000, "overlap");
}

/* Valid layouts are kept: a 64-bit BAR, the largest table, PBA first. */
static void test_msix_valid_layouts(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_msix_info mi;
	struct ptdm_msix_entry e;

	d = msix_dev(2, 0x2000 | 4, 0x3000 | 4, 0x1000, &h);
	ptdm_msix_get(d, &mi);
	assert_true(mi.present);
	assert_int_equal(mi.table_bar, 4);
	wr32(d, 4, 0x2008, 0x99);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0x99);
	assert_int_equal(host_bar32(h, 4, 0x2008), 0);
	th_free(d, h);

	d = msix_dev(2048, 0x0, 0x8000, 0x10000, &h);
	assert_false(cap_at(d, CAP)->hidden);
	assert_int_equal(ptdm_msix_entry_get(d, 2047, &e), 0);
	assert_true(e.masked);
	assert_int_equal(rd32(d, 0, ENT(2047, 12)), 1);
	th_free(d, h);

	/* the PBA before the table */
	d = msix_dev(3, 0x1000, 0x0, 0x2000, &h);
	assert_false(cap_at(d, CAP)->hidden);
	assert_int_equal(rd32(d, 0, 0x1000 + ENT(2, 12)), 1);
	th_free(d, h);
}

/* An image without BAR sizes: the capability is kept, recorded as
 * unverified; the table exists (bounded by QSIZE) but no BAR access can
 * reach it while the BAR has no size. */
static void test_msix_unknown_bar_size(void **state)
{
	struct th_cfg c;
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };
	struct ptdm_dev *d;
	struct ptdm_msix_entry e;
	bool noted = false;
	uint32_t v;

	msix_cfg(&c, 8, 0x0, 0x1000, 0);
	th_put(&c, PCI_BASE_ADDRESS_0, 4, 0xfe000000); /* mem32, no size */
	th_put(&c, PCI_BASE_ADDRESS_4, 4, 0);
	assert_int_equal(image_new(&h, "nosizes", c.b, c.size, &err), 0);
	d = th_attach(h, NULL);
	assert_false(cap_at(d, CAP)->hidden);
	for (size_t i = 0; i < ptdm_dev_nproblems(d); i++)
		noted |= strstr(ptdm_dev_problem(d, i), "unverified") != NULL;
	assert_true(noted);
	assert_int_equal(ptdm_msix_entry_get(d, 7, &e), 0);
	assert_true(e.masked);
	assert_int_equal(ptdm_bar_rw(d, 0, 0, &v, 4, false), -ENXIO);
	th_free(d, h);
}

/* Reset: control cleared, entries masked and empty, PBA and latches
 * cleared. */
static void test_msix_reset(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(2, 0x0, 0x1000, 0x4000, &h);
	struct ptdm_msix_entry e;

	wr32(d, 0, ENT(0, 8), 0x55);
	wr32(d, 0, ENT(0, 12), 0);
	th_wr(d, CTRL, 2, PCI_MSIX_FLAGS_ENABLE);
	wr32(d, 0, ENT(0, 8), 0x56); /* latched */
	assert_int_equal(ptdm_msix_set_pending(d, 1, true), 0);
	assert_int_equal(ptdm_dev_reset(d), 0);
	assert_int_equal(th_rd(d, CTRL, 2), 1);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_true(e.masked);
	assert_int_equal(e.data, 0);
	assert_int_equal(rd64(d, 0, 0x1000), 0);
	/* the latch died with the reset: masking applies nothing */
	wr32(d, 0, ENT(0, 12), 1);
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.data, 0);
	th_free(d, h);
}

/* XSA-130: a flood of refused accesses makes bounded log output. */
static void test_msix_refusals_rate_limited(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = msix_dev(2, 0x0, 0x1000, 0x4000, &h);
	uint16_t w = 0;

	th_log_capture();
	for (int i = 0; i < 200000; i++) {
		ptdm_bar_rw(d, 0, (uint64_t)(i % 64), &w, 2, i & 1);
		ptdm_bar_rw(d, 0, 0x1008, &w, 2, true);
	}
	assert_true(th_log_lines() >= 1);
	assert_true(th_log_bytes() < 64 * 1024);
	ptdm_log_set_sink(NULL, NULL);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msix_power_on),
		cmocka_unit_test(test_msix_locations_read_only),
		cmocka_unit_test(test_msix_table_4_and_8_byte),
		cmocka_unit_test(test_msix_refused_accesses),
		cmocka_unit_test(test_msix_xsa164_past_last_entry),
		cmocka_unit_test(test_msix_pba),
		cmocka_unit_test(test_msix_control),
		cmocka_unit_test(test_msix_mask_notifies),
		cmocka_unit_test(test_msix_latch_while_live),
		cmocka_unit_test(test_msix_validation_hides),
		cmocka_unit_test(test_msix_valid_layouts),
		cmocka_unit_test(test_msix_unknown_bar_size),
		cmocka_unit_test(test_msix_reset),
		cmocka_unit_test(test_msix_refusals_rate_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
