/*
 * test_exp.c - the PCI Express capability (cap_exp.c): lengths per type and
 * version, ports hidden, the DEVCTL split (own-request bits to the device,
 * fabric bits virtual), FLR as a reset request, RW1C status on the device,
 * Link Control virtual, slot/root registers reading 0, and the v2
 * registers.  Each test checks the guest view and the host-side bytes.
 */
#include <string.h>

#include "helpers.h"
#include <linux/pci_regs.h>

#define CAP 0x40
#define V1 1
#define V2 2

/* host values */
#define H_DEVCAP (PCI_EXP_DEVCAP_FLR | 0x8fc1) /* FLR, MPS 256, ... */
#define H_DEVCTL                                                          \
	(PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_PAYLOAD_256B |           \
	 PCI_EXP_DEVCTL_NOSNOOP_EN | PCI_EXP_DEVCTL_READRQ_512B)
#define H_DEVSTA                                                          \
	(PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | PCI_EXP_DEVSTA_FED |   \
	 PCI_EXP_DEVSTA_URD | PCI_EXP_DEVSTA_AUXPD | PCI_EXP_DEVSTA_TRPND)
#define H_LNKCAP 0x00477c12u
#define H_LNKCTL (PCI_EXP_LNKCTL_ASPM_L1 | PCI_EXP_LNKCTL_CCC)
#define H_LNKSTA 0x1012
#define H_DEVCAP2 0x0070081fu
#define H_DEVCTL2 (0x5 | PCI_EXP_DEVCTL2_LTR_EN) /* timeout range B */
#define H_LNKCAP2 0x0000000eu
#define H_LNKCTL2 0x0003
#define H_LNKSTA2 0x0001

struct counters {
	int resets;
	enum ptdm_reset_kind kind;
};

static int on_reset(void *o, enum ptdm_reset_kind k)
{
	((struct counters *)o)->resets++;
	((struct counters *)o)->kind = k;
	return 0;
}

static void watch(struct ptdm_dev *d, struct counters *n)
{
	struct ptdm_dev_events ev = { .opaque = n, .reset_request = on_reset };

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

static void put(uint8_t *body, unsigned reg, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		body[reg - 2 + i] = (uint8_t)(v >> (8 * i));
}

/* A PCIe capability at CAP with every register given a host value; the
 * slot and root registers hold junk. */
static void exp_cfg(struct th_cfg *c, unsigned ver, unsigned type,
		    uint32_t devcap)
{
	uint8_t e[0x3a];

	memset(e, 0, sizeof(e));
	put(e, PCI_EXP_FLAGS, 2, ver | type << 4);
	put(e, PCI_EXP_DEVCAP, 4, devcap);
	put(e, PCI_EXP_DEVCTL, 2, H_DEVCTL);
	put(e, PCI_EXP_DEVSTA, 2, H_DEVSTA);
	put(e, PCI_EXP_LNKCAP, 4, H_LNKCAP);
	put(e, PCI_EXP_LNKCTL, 2, H_LNKCTL);
	put(e, PCI_EXP_LNKSTA, 2, H_LNKSTA);
	for (unsigned r = PCI_EXP_SLTCAP; r < PCI_EXP_DEVCAP2; r++)
		put(e, r, 1, 0xff);
	put(e, PCI_EXP_DEVCAP2, 4, H_DEVCAP2);
	put(e, PCI_EXP_DEVCTL2, 2, H_DEVCTL2);
	put(e, PCI_EXP_LNKCAP2, 4, H_LNKCAP2);
	put(e, PCI_EXP_LNKCTL2, 2, H_LNKCTL2);
	put(e, PCI_EXP_LNKSTA2, 2, H_LNKSTA2);
	for (unsigned r = PCI_EXP_SLTCAP2; r < 0x3c; r++)
		put(e, r, 1, 0xff);
	th_cfg_init(c, 0x144d, 0xa808, 4096);
	th_add_cap(c, CAP, PCI_CAP_ID_EXP, e, sizeof(e));
}

static struct ptdm_dev *exp_dev(unsigned ver, unsigned type, uint32_t devcap,
				struct host_dev **h)
{
	struct th_cfg c;

	exp_cfg(&c, ver, type, devcap);
	return th_dev(&c, NULL, h);
}

static void expect_len(unsigned ver, unsigned type, unsigned len)
{
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(ver, type, 0, &h);

	assert_false(cap_at(d, CAP)->hidden);
	assert_int_equal(cap_at(d, CAP)->len, len);
	assert_int_equal(cap_at(d, CAP)->version, ver);
	th_free(d, h);
}

static void test_exp_lengths(void **state)
{
	expect_len(V1, PCI_EXP_TYPE_ENDPOINT, PCI_CAP_EXP_ENDPOINT_SIZEOF_V1);
	expect_len(V1, PCI_EXP_TYPE_LEG_END, PCI_CAP_EXP_ENDPOINT_SIZEOF_V1);
	expect_len(V1, PCI_EXP_TYPE_RC_END, PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V1);
	expect_len(V2, PCI_EXP_TYPE_ENDPOINT, 0x3c);
	expect_len(V2, PCI_EXP_TYPE_LEG_END, 0x3c);
	expect_len(V2, PCI_EXP_TYPE_RC_END, PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V2);
	/* an event collector is no port: kept */
	expect_len(V2, PCI_EXP_TYPE_RC_EC, 0x3c);
}

/* Ports and bridges have their capability hidden, with the reason. */
static void test_exp_ports_hidden(void **state)
{
	static const unsigned ports[] = {
		PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM,
		PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_PCI_BRIDGE,
		PCI_EXP_TYPE_PCIE_BRIDGE,
	};

	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		struct host_dev *h;
		struct ptdm_dev *d = exp_dev(V2, ports[i], 0, &h);

		assert_true(cap_at(d, CAP)->hidden);
		assert_non_null(strstr(cap_at(d, CAP)->reason, "port"));
		assert_int_equal(th_rd(d, PCI_CAPABILITY_LIST, 1), 0);
		assert_int_equal(th_rd(d, CAP + PCI_EXP_DEVCTL, 2), 0);
		th_free(d, h);
	}
}

/* FLAGS and DEVCAP are the device's. */
static void test_exp_flags_devcap_read_only(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);
	unsigned writes = th_host_writes(h);

	th_wr(d, CAP + PCI_EXP_FLAGS, 2, 0xffff);
	th_wr(d, CAP + PCI_EXP_DEVCAP, 4, 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_FLAGS, 2), V2);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_DEVCAP, 4), H_DEVCAP);
	assert_int_equal(th_host(h, CAP + PCI_EXP_DEVCAP, 4), H_DEVCAP);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);
}

/* Initiate FLR: a reset request when the device has FLR, reads 0, never
 * reaches the device's register. */
static void test_exp_flr(void **state)
{
	const unsigned ctl = CAP + PCI_EXP_DEVCTL;
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);
	struct counters n;

	watch(d, &n);
	th_wr(d, ctl, 2, th_rd(d, ctl, 2) | PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(n.resets, 1);
	assert_int_equal(n.kind, PTDM_RESET_FLR);
	assert_int_equal(th_rd(d, ctl, 2) & PCI_EXP_DEVCTL_BCR_FLR, 0);
	assert_int_equal(th_host(h, ctl, 2), H_DEVCTL);
	/* the top byte alone */
	th_wr(d, ctl + 1, 1, (th_rd(d, ctl, 2) | PCI_EXP_DEVCTL_BCR_FLR) >> 8);
	assert_int_equal(n.resets, 2);
	/* writing 0 asks for nothing */
	th_wr(d, ctl, 2, th_rd(d, ctl, 2));
	assert_int_equal(n.resets, 2);
	th_free(d, h);

	/* no FLR capability: the bit is dropped, nothing happens */
	d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP & ~PCI_EXP_DEVCAP_FLR,
		    &h);
	watch(d, &n);
	th_wr(d, ctl, 2, th_rd(d, ctl, 2) | PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(n.resets, 0);
	assert_int_equal(th_rd(d, ctl, 2) & PCI_EXP_DEVCTL_BCR_FLR, 0);
	th_free(d, h);

	/* no owner hook: the core resets the device itself */
	d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);
	th_wr(d, PCI_INTERRUPT_LINE, 1, 11);
	th_wr(d, ctl, 2, PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(th_rd(d, PCI_INTERRUPT_LINE, 1), 0);
	th_free(d, h);
}

/* Error reporting enables, MPS, MRRS and AUX power: the guest's copy. */
static void test_exp_devctl_virtual_bits(void **state)
{
	const unsigned ctl = CAP + PCI_EXP_DEVCTL;
	const uint16_t guest = PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE |
			       PCI_EXP_DEVCTL_FERE | PCI_EXP_DEVCTL_URRE |
			       PCI_EXP_DEVCTL_PAYLOAD_4096B |
			       PCI_EXP_DEVCTL_READRQ_4096B |
			       PCI_EXP_DEVCTL_AUX_PME;
	const uint16_t keep = PCI_EXP_DEVCTL_RELAX_EN |
			      PCI_EXP_DEVCTL_NOSNOOP_EN;
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);

	/* the guest starts from the host's settings */
	assert_int_equal(th_rd(d, ctl, 2), H_DEVCTL);
	th_wr(d, ctl, 2, guest | keep);
	assert_int_equal(th_rd(d, ctl, 2), guest | keep);
	/* MPS must match the fabric: the device keeps the host's */
	assert_int_equal(th_host(h, ctl, 2), H_DEVCTL);
	th_wr(d, ctl, 2, keep);
	assert_int_equal(th_rd(d, ctl, 2), keep);
	assert_int_equal(th_host(h, ctl, 2), H_DEVCTL);
	th_free(d, h);
}

/* Relaxed ordering, no-snoop and extended tags reach the device. */
static void test_exp_devctl_host_bits(void **state)
{
	const unsigned ctl = CAP + PCI_EXP_DEVCTL;
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);
	uint16_t v = (uint16_t)th_rd(d, ctl, 2);

	th_wr(d, ctl, 2, v & ~PCI_EXP_DEVCTL_RELAX_EN);
	assert_int_equal(th_host(h, ctl, 2), H_DEVCTL & ~PCI_EXP_DEVCTL_RELAX_EN);
	th_wr(d, ctl, 2, v | PCI_EXP_DEVCTL_EXT_TAG);
	assert_int_equal(th_host(h, ctl, 2), H_DEVCTL | PCI_EXP_DEVCTL_EXT_TAG);
	th_wr(d, ctl, 2, v & ~PCI_EXP_DEVCTL_NOSNOOP_EN);
	assert_int_equal(th_host(h, ctl, 2),
			 H_DEVCTL & ~PCI_EXP_DEVCTL_NOSNOOP_EN);
	assert_int_equal(th_rd(d, ctl, 2), v & ~PCI_EXP_DEVCTL_NOSNOOP_EN);
	/* they read live from the device */
	assert_int_equal(h->ops->cfg_write(h, ctl, "\x00\x00", 2), 0);
	assert_int_equal(th_rd(d, ctl, 2) & (PCI_EXP_DEVCTL_RELAX_EN |
					     PCI_EXP_DEVCTL_NOSNOOP_EN), 0);
	assert_int_equal(th_rd(d, ctl, 2) & PCI_EXP_DEVCTL_PAYLOAD,
			 PCI_EXP_DEVCTL_PAYLOAD_256B);
	th_free(d, h);
}

/* Phantom functions: read-only, as the device has them. */
static void test_exp_phantom_read_only(void **state)
{
	const unsigned ctl = CAP + PCI_EXP_DEVCTL;
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);

	th_wr(d, ctl, 2, th_rd(d, ctl, 2) | PCI_EXP_DEVCTL_PHANTOM);
	assert_int_equal(th_rd(d, ctl, 2) & PCI_EXP_DEVCTL_PHANTOM, 0);
	assert_int_equal(th_host(h, ctl, 2) & PCI_EXP_DEVCTL_PHANTOM, 0);
	th_free(d, h);
}

/* DEVSTA: the error bits are RW1C on the device, exactly those written. */
static void test_exp_devsta_rw1c(void **state)
{
	const unsigned sta = CAP + PCI_EXP_DEVSTA;
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);

	unsigned writes = th_host_writes(h);

	assert_int_equal(th_rd(d, sta, 2), H_DEVSTA);
	/* writing 0 clears nothing: no reason to touch the device */
	th_wr(d, sta, 2, 0);
	assert_int_equal(th_host(h, sta, 2), H_DEVSTA);
	assert_int_equal(th_host_writes(h), writes);
	th_wr(d, sta, 2, PCI_EXP_DEVSTA_URD | PCI_EXP_DEVSTA_NFED |
				 PCI_EXP_DEVSTA_AUXPD |
				 PCI_EXP_DEVSTA_TRPND | 0xffc0);
	assert_int_equal(th_host(h, sta, 2),
			 PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_FED |
				 PCI_EXP_DEVSTA_AUXPD | PCI_EXP_DEVSTA_TRPND);
	assert_int_equal(th_rd(d, sta, 2), th_host(h, sta, 2));
	th_free(d, h);
}

/* Link Control: all virtual; Retrain Link reads 0; LNKCAP read-only,
 * LNKSTA read live. */
static void test_exp_link(void **state)
{
	const unsigned ctl = CAP + PCI_EXP_LNKCTL;
	const uint16_t all = PCI_EXP_LNKCTL_ASPMC | PCI_EXP_LNKCTL_CCC |
			     PCI_EXP_LNKCTL_ES | PCI_EXP_LNKCTL_CLKREQ_EN |
			     PCI_EXP_LNKCTL_HAWD | PCI_EXP_LNKCTL_LBMIE |
			     PCI_EXP_LNKCTL_LABIE | PCI_EXP_LNKCTL_LD;
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);
	unsigned writes = th_host_writes(h);

	assert_int_equal(th_rd(d, ctl, 2), H_LNKCTL);
	th_wr(d, ctl, 2, all | PCI_EXP_LNKCTL_RL);
	assert_int_equal(th_rd(d, ctl, 2), all);
	th_wr(d, ctl, 2, PCI_EXP_LNKCTL_ASPM_L0S);
	assert_int_equal(th_rd(d, ctl, 2), PCI_EXP_LNKCTL_ASPM_L0S);
	assert_int_equal(th_host(h, ctl, 2), H_LNKCTL);
	/* LNKCAP: the snapshot */
	th_wr(d, CAP + PCI_EXP_LNKCAP, 4, 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKCAP, 4), H_LNKCAP);
	/* LNKSTA: live, read-only */
	th_wr(d, CAP + PCI_EXP_LNKSTA, 2, 0xffff);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKSTA, 2), H_LNKSTA);
	assert_int_equal(th_host_writes(h), writes);
	assert_int_equal(h->ops->cfg_write(h, CAP + PCI_EXP_LNKSTA,
					   "\x11\x10", 2), 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKSTA, 2), 0x1011);
	th_free(d, h);
}

/* Slot and root registers are ports': 0, writes dropped. */
static void test_exp_slot_root_zero(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);
	unsigned writes = th_host_writes(h);

	for (unsigned r = PCI_EXP_SLTCAP; r < PCI_EXP_DEVCAP2; r += 2) {
		assert_int_equal(th_rd(d, CAP + r, 2), 0);
		th_wr(d, CAP + r, 2, 0x1234);
		assert_int_equal(th_rd(d, CAP + r, 2), 0);
		assert_int_equal(th_host(h, CAP + r, 2), 0xffff);
	}
	for (unsigned r = PCI_EXP_SLTCAP2; r < 0x3c; r += 4) {
		assert_int_equal(th_rd(d, CAP + r, 4), 0);
		th_wr(d, CAP + r, 4, 0x12345678);
		assert_int_equal(th_rd(d, CAP + r, 4), 0);
	}
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);
}

/* v2 device registers: DEVCAP2 read-only; in DEVCTL2 the completion
 * timeout reaches the device, ARI is read-only, the rest is virtual. */
static void test_exp_v2_devctl2(void **state)
{
	const unsigned ctl2 = CAP + PCI_EXP_DEVCTL2;
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);

	th_wr(d, CAP + PCI_EXP_DEVCAP2, 4, 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_DEVCAP2, 4), H_DEVCAP2);
	assert_int_equal(th_rd(d, ctl2, 2), H_DEVCTL2);
	th_wr(d, ctl2, 2, 0xa | PCI_EXP_DEVCTL2_COMP_TMOUT_DIS |
				  PCI_EXP_DEVCTL2_ARI |
				  PCI_EXP_DEVCTL2_IDO_REQ_EN);
	/* the device: new timeout, its LTR enable kept, no ARI, no IDO */
	assert_int_equal(th_host(h, ctl2, 2),
			 0xa | PCI_EXP_DEVCTL2_COMP_TMOUT_DIS |
				 PCI_EXP_DEVCTL2_LTR_EN);
	/* the guest: what it wrote but ARI */
	assert_int_equal(th_rd(d, ctl2, 2),
			 0xa | PCI_EXP_DEVCTL2_COMP_TMOUT_DIS |
				 PCI_EXP_DEVCTL2_IDO_REQ_EN);
	th_free(d, h);
}

/* v2 link registers: LNKCAP2 read-only, LNKCTL2 virtual, LNKSTA2 live. */
static void test_exp_v2_link(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);
	unsigned writes = th_host_writes(h);

	th_wr(d, CAP + PCI_EXP_LNKCAP2, 4, 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKCAP2, 4), H_LNKCAP2);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKCTL2, 2), H_LNKCTL2);
	th_wr(d, CAP + PCI_EXP_LNKCTL2, 2, 0x1);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKCTL2, 2), 0x1);
	assert_int_equal(th_host(h, CAP + PCI_EXP_LNKCTL2, 2), H_LNKCTL2);
	th_wr(d, CAP + PCI_EXP_LNKSTA2, 2, 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKSTA2, 2), H_LNKSTA2);
	th_wr(d, CAP + PCI_EXP_DEVSTA2, 2, 0xffff);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_DEVSTA2, 2), 0);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);
}

/* An RC-integrated endpoint has no link: those registers read 0. */
static void test_exp_rc_endpoint_no_link(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_RC_END, 0, &h);

	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKCAP, 4), 0);
	th_wr(d, CAP + PCI_EXP_LNKCTL, 2, PCI_EXP_LNKCTL_ASPMC);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKCTL, 2), 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKSTA, 2), 0);
	assert_int_equal(th_host(h, CAP + PCI_EXP_LNKCTL, 2), H_LNKCTL);
	/* DEVCTL2 still there */
	assert_int_equal(th_rd(d, CAP + PCI_EXP_DEVCTL2, 2), H_DEVCTL2);
	th_free(d, h);
}

/* A root complex event collector keeps its capability; its root
 * registers read 0 like an endpoint's. */
static void test_exp_rcec_root_regs_zero(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_RC_EC, 0, &h);

	assert_false(cap_at(d, CAP)->hidden);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_RTCTL, 2), 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_RTSTA, 4), 0);
	th_free(d, h);
}

/* Reset: the guest's copies go back to the host's values. */
static void test_exp_reset(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = exp_dev(V2, PCI_EXP_TYPE_ENDPOINT, H_DEVCAP, &h);

	th_wr(d, CAP + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_PAYLOAD_4096B |
					  H_DEVCTL);
	th_wr(d, CAP + PCI_EXP_LNKCTL, 2, 0);
	assert_int_equal(ptdm_dev_reset(d), 0);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_DEVCTL, 2), H_DEVCTL);
	assert_int_equal(th_rd(d, CAP + PCI_EXP_LNKCTL, 2), H_LNKCTL);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exp_lengths),
		cmocka_unit_test(test_exp_ports_hidden),
		cmocka_unit_test(test_exp_flags_devcap_read_only),
		cmocka_unit_test(test_exp_flr),
		cmocka_unit_test(test_exp_devctl_virtual_bits),
		cmocka_unit_test(test_exp_devctl_host_bits),
		cmocka_unit_test(test_exp_phantom_read_only),
		cmocka_unit_test(test_exp_devsta_rw1c),
		cmocka_unit_test(test_exp_link),
		cmocka_unit_test(test_exp_slot_root_zero),
		cmocka_unit_test(test_exp_v2_devctl2),
		cmocka_unit_test(test_exp_v2_link),
		cmocka_unit_test(test_exp_rc_endpoint_no_link),
		cmocka_unit_test(test_exp_rcec_root_regs_zero),
		cmocka_unit_test(test_exp_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
