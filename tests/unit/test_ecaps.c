/*
 * test_ecaps.c - the extended capabilities a guest keeps (ecaps.c: AER,
 * DSN, vendor-specific) and the standard vendor-specific capability
 * (cap_vndr.c).  AER status is RW1C on the device, masks, severity and
 * ECRC enables are the guest's copies; the root registers exist only for a
 * root complex event collector.  Each test checks the guest view and the
 * host-side bytes.
 */
#include <string.h>

#include "helpers.h"
#include <linux/pci_regs.h>

#define EXP 0x40
#define AER 0x100
#define DSN 0x140
#define VSEC 0x200

/* host AER values */
#define H_UNC_STA (PCI_ERR_UNC_DLP | PCI_ERR_UNC_POISON_TLP)
#define H_UNC_MASK PCI_ERR_UNC_INTN
#define H_UNC_SEV (PCI_ERR_UNC_DLP | PCI_ERR_UNC_FCP | PCI_ERR_UNC_RX_OVER)
#define H_COR_STA                                                         \
	(PCI_ERR_COR_RCVR | PCI_ERR_COR_BAD_TLP | PCI_ERR_COR_ADV_NFAT)
#define H_COR_MASK PCI_ERR_COR_ADV_NFAT
#define H_FEP 0x14
#define H_CAP_ECRC                                                        \
	(PCI_ERR_CAP_ECRC_GENC | PCI_ERR_CAP_ECRC_CHKC | PCI_ERR_CAP_ECRC_GENE)
#define H_ROOT_CMD AER_ROOT_CMD_ALL
#define H_ROOT_STA 0x7f
#define H_ERR_SRC 0x01000100u
#define AER_ROOT_CMD_ALL                                                  \
	(PCI_ERR_ROOT_CMD_COR_EN | PCI_ERR_ROOT_CMD_NONFATAL_EN |         \
	 PCI_ERR_ROOT_CMD_FATAL_EN)

static const struct ptdm_cap_info *cap_at(struct ptdm_dev *d, unsigned pos)
{
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++)
		if (ptdm_dev_cap(d, i)->pos == pos)
			return ptdm_dev_cap(d, i);
	return NULL;
}

static void put(uint8_t *body, unsigned reg, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		body[reg - 4 + i] = (uint8_t)(v >> (8 * i));
}

/* PCIe capability of the given type, AER (with root registers filled),
 * DSN and a 16-byte VSEC.  ecrc: the host's AER capability bits. */
static void ext_cfg(struct th_cfg *c, unsigned type, uint32_t ecrc)
{
	uint8_t e[0x3a] = { 0 };
	uint8_t aer[0x34];
	uint8_t dsn[8] = { 0x25, 0x38, 0x8c, 0x31, 0x50, 0x0a, 0x2b, 0x00 };
	uint8_t vsec[12] = { 0x34, 0x12, 0x00, 0x01, 0xaa, 0xbb, 0xcc, 0xdd };
	uint16_t flags = 2 | type << 4;

	memcpy(e, &flags, 2);
	memset(aer, 0, sizeof(aer));
	put(aer, PCI_ERR_UNCOR_STATUS, H_UNC_STA);
	put(aer, PCI_ERR_UNCOR_MASK, H_UNC_MASK);
	put(aer, PCI_ERR_UNCOR_SEVER, H_UNC_SEV);
	put(aer, PCI_ERR_COR_STATUS, H_COR_STA);
	put(aer, PCI_ERR_COR_MASK, H_COR_MASK);
	put(aer, PCI_ERR_CAP, H_FEP | ecrc);
	for (unsigned i = 0; i < 16; i += 4)
		put(aer, PCI_ERR_HEADER_LOG + i, 0x40000001u + i);
	put(aer, PCI_ERR_ROOT_COMMAND, H_ROOT_CMD);
	put(aer, PCI_ERR_ROOT_STATUS, H_ROOT_STA);
	put(aer, PCI_ERR_ROOT_ERR_SRC, H_ERR_SRC);
	th_cfg_init(c, 0x144d, 0xa808, 4096);
	th_add_cap(c, EXP, PCI_CAP_ID_EXP, e, sizeof(e));
	th_add_ecap(c, AER, PCI_EXT_CAP_ID_ERR, 2, aer, sizeof(aer));
	th_add_ecap(c, DSN, PCI_EXT_CAP_ID_DSN, 1, dsn, sizeof(dsn));
	th_add_ecap(c, VSEC, PCI_EXT_CAP_ID_VNDR, 1, vsec, sizeof(vsec));
}

static struct ptdm_dev *ext_dev(unsigned type, uint32_t ecrc, bool permissive,
				struct host_dev **h)
{
	struct th_cfg c;
	struct ptdm_dev_opts o;

	ext_cfg(&c, type, ecrc);
	ptdm_dev_opts_init(&o);
	o.permissive = permissive;
	return th_dev(&c, &o, h);
}

/* ---- AER ---- */

static void test_aer_endpoint_length(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = ext_dev(PCI_EXP_TYPE_ENDPOINT, 0, false, &h);

	assert_false(cap_at(d, AER)->hidden);
	assert_int_equal(cap_at(d, AER)->len, PCI_ERR_ROOT_COMMAND);
	th_free(d, h);
}

/* Status: RW1C on the device, exactly the bits written. */
static void test_aer_status_rw1c(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = ext_dev(PCI_EXP_TYPE_ENDPOINT, 0, false, &h);
	const unsigned us = AER + PCI_ERR_UNCOR_STATUS;
	const unsigned cs = AER + PCI_ERR_COR_STATUS;

	unsigned writes = th_host_writes(h);

	assert_int_equal(th_rd(d, us, 4), H_UNC_STA);
	/* writing 0 clears nothing: no reason to touch the device */
	th_wr(d, us, 4, 0);
	th_wr(d, cs, 4, 0);
	assert_int_equal(th_host(h, us, 4), H_UNC_STA);
	assert_int_equal(th_host_writes(h), writes);
	th_wr(d, us, 4, PCI_ERR_UNC_DLP);
	assert_int_equal(th_host(h, us, 4), PCI_ERR_UNC_POISON_TLP);
	assert_int_equal(th_rd(d, us, 4), PCI_ERR_UNC_POISON_TLP);
	th_wr(d, cs, 4, PCI_ERR_COR_RCVR | PCI_ERR_COR_ADV_NFAT);
	assert_int_equal(th_host(h, cs, 4), PCI_ERR_COR_BAD_TLP);
	assert_int_equal(th_rd(d, cs, 4), PCI_ERR_COR_BAD_TLP);
	/* one byte at a time works as well */
	th_wr(d, cs, 1, PCI_ERR_COR_BAD_TLP);
	assert_int_equal(th_host(h, cs, 4), 0);
	th_free(d, h);
}

/* Masks and severity: the guest's copies, starting from the host's. */
static void test_aer_masks_virtual(void **state)
{
	static const struct {
		unsigned reg;
		uint32_t host;
	} r[] = {
		{ PCI_ERR_UNCOR_MASK, H_UNC_MASK },
		{ PCI_ERR_UNCOR_SEVER, H_UNC_SEV },
		{ PCI_ERR_COR_MASK, H_COR_MASK },
	};
	struct host_dev *h;
	struct ptdm_dev *d = ext_dev(PCI_EXP_TYPE_ENDPOINT, 0, false, &h);
	unsigned writes = th_host_writes(h);

	for (size_t i = 0; i < 3; i++) {
		unsigned off = AER + r[i].reg;

		assert_int_equal(th_rd(d, off, 4), r[i].host);
		th_wr(d, off, 4, 0xffffffff);
		assert_int_equal(th_rd(d, off, 4), 0xffffffff);
		th_wr(d, off + 2, 2, 0);
		assert_int_equal(th_rd(d, off, 4), 0x0000ffff);
		assert_int_equal(th_host(h, off, 4), r[i].host);
	}
	assert_int_equal(th_host_writes(h), writes);
	/* reset: back to the host's values */
	assert_int_equal(ptdm_dev_reset(d), 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(th_rd(d, AER + r[i].reg, 4), r[i].host);
	th_free(d, h);
}

/* Capabilities and control: first error pointer and capable bits
 * read-only, ECRC enables the guest's where the device is capable. */
static void test_aer_cap_ecrc(void **state)
{
	const unsigned cap = AER + PCI_ERR_CAP;
	struct host_dev *h;
	struct ptdm_dev *d = ext_dev(PCI_EXP_TYPE_ENDPOINT, H_CAP_ECRC, false,
				     &h);
	unsigned writes = th_host_writes(h);

	assert_int_equal(th_rd(d, cap, 4), H_FEP | H_CAP_ECRC);
	th_wr(d, cap, 4, PCI_ERR_CAP_ECRC_CHKE);
	assert_int_equal(th_rd(d, cap, 4),
			 H_FEP | PCI_ERR_CAP_ECRC_GENC |
				 PCI_ERR_CAP_ECRC_CHKC |
				 PCI_ERR_CAP_ECRC_CHKE);
	th_wr(d, cap, 4, 0);
	assert_int_equal(th_rd(d, cap, 4),
			 H_FEP | PCI_ERR_CAP_ECRC_GENC | PCI_ERR_CAP_ECRC_CHKC);
	assert_int_equal(th_host(h, cap, 4), H_FEP | H_CAP_ECRC);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);

	/* not capable: the enables stay 0 */
	d = ext_dev(PCI_EXP_TYPE_ENDPOINT, 0, false, &h);
	th_wr(d, cap, 4, PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE);
	assert_int_equal(th_rd(d, cap, 4), H_FEP);
	th_free(d, h);
}

/* Header log: read-only, live from the device. */
static void test_aer_header_log(void **state)
{
	const unsigned log = AER + PCI_ERR_HEADER_LOG;
	struct host_dev *h;
	struct ptdm_dev *d = ext_dev(PCI_EXP_TYPE_ENDPOINT, 0, false, &h);
	unsigned writes = th_host_writes(h);

	for (unsigned i = 0; i < 16; i += 4) {
		th_wr(d, log + i, 4, 0);
		assert_int_equal(th_rd(d, log + i, 4), 0x40000001u + i);
	}
	assert_int_equal(th_host_writes(h), writes);
	assert_int_equal(h->ops->cfg_write(h, log, "\x99\x00\x00\x00", 4), 0);
	assert_int_equal(th_rd(d, log, 4), 0x99);
	th_free(d, h);
}

/* A root complex event collector: the root registers are owned too, as
 * the guest's copies starting cleared; the host's stay as they are. */
static void test_aer_rcec_root_registers(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = ext_dev(PCI_EXP_TYPE_RC_EC, 0, false, &h);
	unsigned writes = th_host_writes(h);

	assert_int_equal(cap_at(d, AER)->len, PCI_ERR_ROOT_ERR_SRC + 4);
	assert_int_equal(th_rd(d, AER + PCI_ERR_ROOT_COMMAND, 4), 0);
	th_wr(d, AER + PCI_ERR_ROOT_COMMAND, 4, 0xffffffff);
	assert_int_equal(th_rd(d, AER + PCI_ERR_ROOT_COMMAND, 4),
			 AER_ROOT_CMD_ALL);
	assert_int_equal(th_rd(d, AER + PCI_ERR_ROOT_STATUS, 4), 0);
	th_wr(d, AER + PCI_ERR_ROOT_STATUS, 4, 0xffffffff);
	assert_int_equal(th_rd(d, AER + PCI_ERR_ROOT_STATUS, 4), 0);
	assert_int_equal(th_rd(d, AER + PCI_ERR_ROOT_ERR_SRC, 4), 0);
	assert_int_equal(th_host(h, AER + PCI_ERR_ROOT_COMMAND, 4), H_ROOT_CMD);
	assert_int_equal(th_host(h, AER + PCI_ERR_ROOT_STATUS, 4), H_ROOT_STA);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);

	/* an endpoint: AER ends before them */
	d = ext_dev(PCI_EXP_TYPE_ENDPOINT, 0, false, &h);
	assert_int_equal(cap_at(d, AER)->len, PCI_ERR_ROOT_COMMAND);
	th_free(d, h);
}

/* ---- DSN ---- */

static void test_dsn_read_only(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = ext_dev(PCI_EXP_TYPE_ENDPOINT, 0, true, &h);
	unsigned writes = th_host_writes(h);

	assert_false(cap_at(d, DSN)->hidden);
	assert_int_equal(cap_at(d, DSN)->len, PCI_EXT_CAP_DSN_SIZEOF);
	/* even in permissive mode */
	th_wr(d, DSN + 4, 4, 0);
	th_wr(d, DSN + 8, 4, 0);
	assert_int_equal(th_rd(d, DSN + 4, 4), 0x318c3825);
	assert_int_equal(th_rd(d, DSN + 8, 4), 0x002b0a50);
	assert_int_equal(th_host(h, DSN + 4, 4), 0x318c3825);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);
}

/* ---- vendor-specific, extended ---- */

static void test_vsec(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = ext_dev(PCI_EXP_TYPE_ENDPOINT, 0, false, &h);
	unsigned writes = th_host_writes(h);

	assert_false(cap_at(d, VSEC)->hidden);
	assert_int_equal(cap_at(d, VSEC)->len, 16);
	/* header read-only */
	th_wr(d, VSEC + PCI_VNDR_HEADER, 4, 0);
	assert_int_equal(th_rd(d, VSEC + PCI_VNDR_HEADER, 4), 0x01001234);
	/* body: the device's bytes, not written without permissive */
	assert_int_equal(th_rd(d, VSEC + 8, 4), 0xddccbbaa);
	th_wr(d, VSEC + 8, 4, 0);
	assert_int_equal(th_rd(d, VSEC + 8, 4), 0xddccbbaa);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);

	/* permissive: the body is written, the header still is not */
	d = ext_dev(PCI_EXP_TYPE_ENDPOINT, 0, true, &h);
	th_wr(d, VSEC + 8, 4, 0x11223344);
	assert_int_equal(th_host(h, VSEC + 8, 4), 0x11223344);
	th_wr(d, VSEC + PCI_VNDR_HEADER, 4, 0);
	assert_int_equal(th_host(h, VSEC + PCI_VNDR_HEADER, 4), 0x01001234);
	th_free(d, h);
}

static void expect_vsec_hidden(unsigned pos, uint32_t hdr)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint8_t body[4];

	memcpy(body, &hdr, 4);
	th_cfg_init(&c, 0x144d, 0xa808, 4096);
	th_add_ecap(&c, 0x100, PCI_EXT_CAP_ID_DSN, 1, NULL, 8);
	th_add_ecap(&c, pos, PCI_EXT_CAP_ID_VNDR, 1, body, sizeof(body));
	d = th_dev(&c, NULL, &h);
	assert_true(cap_at(d, pos)->hidden);
	assert_false(cap_at(d, 0x100)->hidden);
	th_free(d, h);
}

static void test_vsec_bad_length_hidden(void **state)
{
	expect_vsec_hidden(0x200, 0x00401234); /* 4 bytes: under 8 */
	expect_vsec_hidden(0x200, 0x00001234); /* 0 */
	expect_vsec_hidden(0xff0, 0x02001234); /* 0x20 from 0xff0 */
}

/* ---- vendor-specific, standard ---- */

static struct ptdm_dev *vndr_dev(unsigned pos, uint8_t len, bool permissive,
				 struct host_dev **h)
{
	struct th_cfg c;
	struct ptdm_dev_opts o;
	uint8_t body[6] = { len, 0x11, 0x22, 0x33, 0x44, 0x55 };

	th_cfg_init(&c, 0x8086, 0x1234, 256);
	th_add_cap(&c, pos, PCI_CAP_ID_VNDR, body, sizeof(body));
	ptdm_dev_opts_init(&o);
	o.permissive = permissive;
	return th_dev(&c, &o, h);
}

static void test_vndr_std(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = vndr_dev(0x40, 8, false, &h);
	unsigned writes = th_host_writes(h);

	assert_false(ptdm_dev_cap(d, 0)->hidden);
	assert_int_equal(ptdm_dev_cap(d, 0)->len, 8);
	/* the length byte: read-only */
	th_wr(d, 0x40 + PCI_CAP_FLAGS, 1, 0xff);
	assert_int_equal(th_rd(d, 0x40 + PCI_CAP_FLAGS, 1), 8);
	/* the body: the device's bytes, not written */
	assert_int_equal(th_rd(d, 0x44, 4), 0x55443322);
	th_wr(d, 0x44, 4, 0);
	assert_int_equal(th_rd(d, 0x44, 4), 0x55443322);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);

	/* permissive: the body reaches the device, the length never */
	d = vndr_dev(0x40, 8, true, &h);
	th_wr(d, 0x44, 2, 0xbeef);
	assert_int_equal(th_host(h, 0x44, 2), 0xbeef);
	th_wr(d, 0x40 + PCI_CAP_FLAGS, 1, 0xff);
	assert_int_equal(th_host(h, 0x40 + PCI_CAP_FLAGS, 1), 8);
	th_free(d, h);
}

static void test_vndr_std_bad_length_hidden(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d;

	d = vndr_dev(0x40, 2, false, &h); /* shorter than its header */
	assert_true(ptdm_dev_cap(d, 0)->hidden);
	th_free(d, h);
	d = vndr_dev(0xf8, 0x10, false, &h); /* runs past 0x100 */
	assert_true(ptdm_dev_cap(d, 0)->hidden);
	th_free(d, h);
	d = vndr_dev(0xf8, 8, false, &h); /* ends exactly at 0x100 */
	assert_false(ptdm_dev_cap(d, 0)->hidden);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aer_endpoint_length),
		cmocka_unit_test(test_aer_status_rw1c),
		cmocka_unit_test(test_aer_masks_virtual),
		cmocka_unit_test(test_aer_cap_ecrc),
		cmocka_unit_test(test_aer_header_log),
		cmocka_unit_test(test_aer_rcec_root_registers),
		cmocka_unit_test(test_dsn_read_only),
		cmocka_unit_test(test_vsec),
		cmocka_unit_test(test_vsec_bad_length_hidden),
		cmocka_unit_test(test_vndr_std),
		cmocka_unit_test(test_vndr_std_bad_length_hidden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
