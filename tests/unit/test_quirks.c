/*
 * test_quirks.c - device quirks (src/core/quirk*.c) on the real dumps in
 * ../shared/pci-dumps: the NVIDIA GPU (BAR0/BAR5 config mirrors), its HDA
 * function (no quirk), the Alder Lake IGD (ASLS, BDSM, GGC and the BDSM
 * mirror), the same IGD with its IDs rewritten before attach to an
 * ATI/AMD GPU (BAR2/BAR4 mirrors, no PM reset), to older and unknown IGD
 * generations, the 82576 NIC rewritten to an 82579 (no FLR) and the
 * SolidRun DPU revision range.  There is no RTL8168 dump: its backdoor is
 * tested on a crafted device with the RTL8168's BAR layout.  An image's
 * BARs are plain memory, so "reached the device" is what the BAR memory
 * holds afterwards; junk is put where a mirror sits to show a read never
 * returns the device's bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "core/quirk_priv.h"
#include "ptdm/image.h"
#include <linux/pci_regs.h>

#define NV_GPU "nvidia-24a0-ga104-rtx3070ti-laptop-gpu"
#define NV_HDA "nvidia-228b-ga104-hda-audio"
#define IGD "intel-46a6-alderlake-p-igd"
#define I82576 "intel-10c9-82576-sriov-nic"

static struct host_dev *dump(const char *base)
{
	char name[256];
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };

	snprintf(name, sizeof(name), "%s.lspci-x4.txt", base);
	if (image_open(&h, th_dump(name), NULL, &err))
		fail_msg("%s: %s", base, err.msg);
	return h;
}

/* Rewrite host config bytes before attach (an ID, a revision). */
static void host_set(struct host_dev *h, unsigned off, unsigned size,
		     uint32_t v)
{
	assert_int_equal(h->ops->cfg_write(h, off, &v, size), 0);
}

static void host_bar_fill(struct host_dev *h, int bar, uint64_t off,
			  size_t len, uint8_t byte)
{
	uint8_t buf[4096];

	assert_true(len <= sizeof(buf));
	memset(buf, byte, len);
	assert_int_equal(h->ops->bar_write(h, bar, off, buf, len), 0);
}

static uint32_t host_bar32(struct host_dev *h, int bar, uint64_t off)
{
	uint32_t v = 0;

	assert_int_equal(h->ops->bar_read(h, bar, off, &v, 4), 0);
	return v;
}

static uint32_t bar_rd(struct ptdm_dev *d, int bar, uint64_t off, size_t len)
{
	uint32_t v = 0;

	assert_int_equal(ptdm_bar_rw(d, bar, off, &v, len, false), 0);
	return v;
}

static void bar_wr(struct ptdm_dev *d, int bar, uint64_t off, size_t len,
		   uint32_t v)
{
	assert_int_equal(ptdm_bar_rw(d, bar, off, &v, len, true), 0);
}

/* Attached, with the guest's decode on (it powers on off). */
static struct ptdm_dev *attach(struct host_dev *h, bool quirks)
{
	struct ptdm_dev_opts o;
	struct ptdm_dev *d;

	ptdm_dev_opts_init(&o);
	o.no_quirks = !quirks;
	d = th_attach(h, &o);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	return d;
}

static const struct ptdm_quirk_info *find(struct ptdm_dev *d, const char *n)
{
	for (size_t i = 0; i < ptdm_dev_nquirks(d); i++)
		if (!strcmp(ptdm_dev_quirk(d, i)->name, n))
			return ptdm_dev_quirk(d, i);
	return NULL;
}

static bool trapped_quirk(struct ptdm_dev *d, int bar, uint64_t off)
{
	struct ptdm_range r[PTDM_MAX_TRAPPED];
	int n = ptdm_dev_trapped(d, bar, r, PTDM_MAX_TRAPPED);

	for (int i = 0; i < n; i++)
		if (off >= r[i].off && off < r[i].off + r[i].len)
			return r[i].why & PTDM_TRAP_QUIRK;
	return false;
}

/* ---- the table itself ---- */

static void test_registry_is_sound(void **state)
{
	for (const struct quirk_ops *const *op = quirk_registry; *op; op++) {
		const struct quirk_ops *o = *op;

		assert_non_null(o->name);
		assert_non_null(o->what);
		assert_non_null(o->match);
		assert_true(o->match[0].vendor != 0);
		for (const struct quirk_ops *const *p = op + 1; *p; p++)
			assert_string_not_equal(o->name, (*p)->name);
		for (const struct quirk_match *m = o->match; m->vendor; m++) {
			assert_true(m->rev_min <= m->rev_max);
			assert_int_equal(m->class_val & ~m->class_mask, 0);
		}
		for (const struct quirk_window *w = o->windows; w && w->what;
		     w++) {
			if (w->need == QUIRK_BAR_VGA)
				assert_int_equal(w->bar, QUIRK_VGA);
			else
				assert_true(w->bar >= 0 &&
					    w->bar < PTDM_NUM_BARS);
			assert_true(w->len > 0);
			if (w->mirror)
				assert_true(w->cfg_base + w->len <=
					    PTDM_CFG_SPACE_SIZE);
			else
				assert_non_null(o->rw);
		}
	}
}

/* ---- NVIDIA ---- */

static void test_nvidia_bar0_mirrors_are_virtual(void **state)
{
	struct host_dev *h = dump(NV_GPU);
	struct ptdm_dev *d;
	const struct ptdm_quirk_info *q;
	uint8_t mirror[4096], cfg[4096];

	host_bar_fill(h, 0, 0x88000, 0x1000, 0xa5); /* the device's bytes */
	host_bar_fill(h, 0, 0x1800, 0x100, 0x5a);
	host_bar_fill(h, 0, 0x87ffc, 4, 0x3c); /* just before the mirror */
	d = attach(h, true);
	q = find(d, "nvidia-config-mirrors");
	assert_non_null(q);
	assert_true(q->active);
	assert_int_equal(q->nranges, 3);
	assert_true(trapped_quirk(d, 0, 0x88000));
	assert_true(trapped_quirk(d, 0, 0x1800));
	assert_false(trapped_quirk(d, 0, 0x0));
	/* the guest moves BAR0: the mirror shows where it put it */
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xfd000000);
	assert_int_equal(ptdm_bar_rw(d, 0, 0x88000, mirror, 4096, false), 0);
	assert_int_equal(ptdm_cfg_rw(d, 0, cfg, 4096, false), 0);
	assert_memory_equal(mirror, cfg, 4096);
	assert_int_equal(bar_rd(d, 0, 0x88000 + PCI_BASE_ADDRESS_0, 4),
			 0xfd000000);
	assert_int_equal(bar_rd(d, 0, 0x1800 + PCI_BASE_ADDRESS_0, 4),
			 0xfd000000);
	assert_int_equal(th_host(h, PCI_BASE_ADDRESS_0, 4), 0x83000000);
	/* a write through the mirror is a config write: BAR0 virtual */
	bar_wr(d, 0, 0x88000 + PCI_BASE_ADDRESS_0, 4, 0xfe000000);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_0, 4), 0xfe000000);
	assert_int_equal(th_host(h, PCI_BASE_ADDRESS_0, 4), 0x83000000);
	assert_int_equal(host_bar32(h, 0, 0x88000 + PCI_BASE_ADDRESS_0),
			 0xa5a5a5a5);
	/* an access across the mirror's start: device bytes, then config */
	assert_int_equal(bar_rd(d, 0, 0x88000 - 2, 4),
			 0x3c3cu | (th_rd(d, 0, 2) << 16));
	/* guest memory decode off: nothing there answers */
	th_wr(d, PCI_COMMAND, 2, th_rd(d, PCI_COMMAND, 2) &
				      ~PCI_COMMAND_MEMORY);
	assert_int_equal(bar_rd(d, 0, 0x88000, 4), 0xffffffff);
	th_free(d, h);
}

static void test_nvidia_msi_ack_reaches_device(void **state)
{
	struct host_dev *h = dump(NV_GPU);
	struct ptdm_dev *d;
	struct ptdm_msi_state msi;
	unsigned pos = 0;

	d = attach(h, true);
	ptdm_msi_get(d, &msi);
	assert_true(msi.present);
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++)
		if (!ptdm_dev_cap(d, i)->ext &&
		    ptdm_dev_cap(d, i)->id == PCI_CAP_ID_MSI)
			pos = ptdm_dev_cap(d, i)->pos;
	assert_true(pos);
	/* 0xff to the MSI ID through the mirror: the device's ack */
	bar_wr(d, 0, 0x88000 + pos, 1, 0xff);
	assert_int_equal(host_bar32(h, 0, 0x88000 + pos) & 0xff, 0xff);
	assert_int_equal(th_rd(d, pos, 1), PCI_CAP_ID_MSI);
	/* MSI flags through the mirror: virtual, never the device */
	bar_wr(d, 0, 0x88000 + pos + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	assert_int_equal(host_bar32(h, 0, 0x88000 + pos) >> 16, 0);
	assert_true(th_rd(d, pos + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE);
	assert_false(th_host(h, pos + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE);
	th_free(d, h);
}

static void test_nvidia_bar5_window_follows_device_address(void **state)
{
	struct host_dev *h = dump(NV_GPU);
	struct ptdm_dev *d;

	host_bar_fill(h, 5, 0, 0x10, 0x77);
	d = attach(h, true);
	assert_true(trapped_quirk(d, 5, 0));
	/* the junk address the device holds is no mirror: device data */
	assert_int_equal(bar_rd(d, 5, 0xc, 4), 0x77777777);
	bar_wr(d, 5, 0x0, 4, 1); /* master */
	bar_wr(d, 5, 0x4, 4, 1); /* enable */
	bar_wr(d, 5, 0x8, 4, 0x88000 + PCI_VENDOR_ID);
	assert_int_equal(host_bar32(h, 5, 0x8), 0x88000); /* it got there */
	assert_int_equal(bar_rd(d, 5, 0xc, 4), th_rd(d, 0, 4));
	/* the address written in pieces, tracked as the device has it */
	bar_wr(d, 5, 0x8, 4, 0x10);
	bar_wr(d, 5, 0xa, 2, 0x0008);
	assert_int_equal(bar_rd(d, 5, 0xc, 4), 0x77777777);
	bar_wr(d, 5, 0x9, 1, 0x80); /* now 0x88010: BAR0 in config */
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xfc000000);
	assert_int_equal(bar_rd(d, 5, 0xc, 4), 0xfc000000);
	/* a data write there is a config write, not the device's */
	bar_wr(d, 5, 0xc, 4, 0xfb000000);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_0, 4), 0xfb000000);
	assert_int_equal(host_bar32(h, 5, 0xc), 0x77777777);
	assert_int_equal(th_host(h, PCI_BASE_ADDRESS_0, 4), 0x83000000);
	/* the legacy 256-byte mirror through the window */
	bar_wr(d, 5, 0x8, 4, 0x1800 + PCI_BASE_ADDRESS_0);
	assert_int_equal(bar_rd(d, 5, 0xc, 4), 0xfb000000);
	th_free(d, h);
}

static void test_nvidia_quirks_off(void **state)
{
	struct host_dev *h = dump(NV_GPU);
	struct ptdm_dev *d;
	const struct ptdm_quirk_info *q;

	host_bar_fill(h, 0, 0x88000, 0x1000, 0xa5);
	d = attach(h, false);
	q = find(d, "nvidia-config-mirrors");
	assert_non_null(q);
	assert_false(q->active);
	assert_string_equal(q->reason, "quirks=off");
	assert_int_equal(q->nranges, 0);
	assert_false(trapped_quirk(d, 0, 0x88000));
	assert_int_equal(bar_rd(d, 0, 0x88000, 4), 0xa5a5a5a5);
	th_free(d, h);
}

static void test_nvidia_hda_has_none(void **state)
{
	struct host_dev *h = dump(NV_HDA);
	struct ptdm_dev *d = attach(h, true);

	assert_int_equal(ptdm_dev_nquirks(d), 0);
	th_free(d, h);
}

/* ---- Intel IGD ---- */

static void test_igd_registers_virtual(void **state)
{
	uint64_t host_or = 0, guest_or = 0;
	struct host_dev *h = dump(IGD);
	struct ptdm_dev *d;
	const struct ptdm_quirk_info *q;

	/* what the dump has: the host's OpRegion, stolen memory, GMS 2 */
	assert_int_equal(th_host(h, 0xfc, 4), 0x65940018);
	assert_int_equal(th_host(h, 0xc0, 4), 0x70800001);
	assert_int_equal(th_host(h, 0x50, 2), 0x02c1);
	host_bar_fill(h, 0, 0x1080c0, 8, 0x3c);
	d = attach(h, true);
	q = find(d, "intel-igd");
	assert_non_null(q);
	assert_true(q->active);
	assert_int_equal(th_rd(d, 0xfc, 4), 0);
	assert_int_equal(th_rd(d, 0xc0, 4), 0);
	assert_int_equal(th_rd(d, 0xc4, 4), 0);
	assert_int_equal(th_rd(d, 0x50, 2), 0x00c1); /* GMS 0 */
	/* the guest's firmware places its OpRegion copy and stolen memory */
	th_wr(d, 0xfc, 4, 0x7f000000);
	th_wr(d, 0xc0, 4, 0x7a000001);
	/* a copy of the OpRegion (test_opregion.c): where the guest put it */
	assert_int_equal(th_rd(d, 0xfc, 4), 0x7f000000);
	/* the host's pages mapped (Xen): the guest's page, the host
	 * OpRegion's offset in it (xen_pt) */
	ptdm_dev_igd_map_host_opregion(d);
	th_wr(d, 0xfc, 4, 0x7f000000);
	assert_int_equal(th_rd(d, 0xfc, 4), 0x7f000018);
	assert_int_equal(ptdm_dev_igd_opregion(d, &host_or, &guest_or), 0);
	assert_int_equal(host_or, 0x65940018);
	assert_int_equal(guest_or, 0x7f000018);
	assert_int_equal(th_rd(d, 0xc0, 4), 0x7a000001);
	assert_int_equal(th_host(h, 0xfc, 4), 0x65940018);
	assert_int_equal(th_host(h, 0xc0, 4), 0x70800001);
	/* GGC is read-only */
	th_wr(d, 0x50, 2, 0xffff);
	assert_int_equal(th_rd(d, 0x50, 2), 0x00c1);
	assert_int_equal(th_host(h, 0x50, 2), 0x02c1);
	/* gen 12: BDSM mirrored in BAR0, virtual both ways */
	assert_true(trapped_quirk(d, 0, 0x1080c0));
	assert_int_equal(bar_rd(d, 0, 0x1080c0, 4), 0x7a000001);
	bar_wr(d, 0, 0x1080c4, 4, 0x1);
	assert_int_equal(th_rd(d, 0xc4, 4), 1);
	assert_int_equal(host_bar32(h, 0, 0x1080c4), 0x3c3c3c3c);
	/* a reset brings power-on values back */
	ptdm_dev_reset(d);
	assert_int_equal(th_rd(d, 0xfc, 4), 0);
	assert_int_equal(th_rd(d, 0xc0, 4), 0);
	th_free(d, h);

	/* quirks=off: the host's values show (read-only, no rule) */
	h = dump(IGD);
	d = attach(h, false);
	assert_int_equal(th_rd(d, 0xfc, 4), 0x65940018);
	assert_int_equal(ptdm_dev_igd_opregion(d, &host_or, &guest_or),
			 -ENOENT);
	assert_false(find(d, "intel-igd")->active);
	th_free(d, h);
}

static void test_igd_generations(void **state)
{
	struct host_dev *h = dump(IGD);
	struct ptdm_dev *d;
	const struct ptdm_quirk_info *q;

	assert_int_equal(quirk_igd_gen(0x46a6), 12);
	assert_int_equal(quirk_igd_gen(0x3e92), 9);
	assert_int_equal(quirk_igd_gen(0x0162), 6);
	assert_int_equal(quirk_igd_gen(0x5a84), 8);
	assert_int_equal(quirk_igd_gen(0x2a42), -1);
	/* Coffee Lake: BDSM at 0x5c, no BAR0 mirror, GMS bits 15:8 */
	host_set(h, PCI_DEVICE_ID, 2, 0x3e92);
	host_set(h, 0x5c, 4, 0x7b000001);
	d = attach(h, true);
	q = find(d, "intel-igd");
	assert_true(q->active);
	assert_int_equal(th_rd(d, 0x5c, 4), 0);
	assert_int_equal(th_rd(d, 0xc0, 4), 0x70800001); /* not gen 11's */
	assert_false(trapped_quirk(d, 0, 0x1080c0));
	th_free(d, h);

	/* an unknown generation: listed, inactive, nothing changed */
	h = dump(IGD);
	host_set(h, PCI_DEVICE_ID, 2, 0x2a42);
	d = attach(h, true);
	q = find(d, "intel-igd");
	assert_non_null(q);
	assert_false(q->active);
	assert_non_null(strstr(q->reason, "generation"));
	assert_int_equal(th_rd(d, 0xfc, 4), 0x65940018);
	th_free(d, h);
}

/* ---- ATI/AMD (the IGD's BAR layout: BAR2 mem64, BAR4 I/O) ---- */

static void test_ati_mirrors_and_no_pm_reset(void **state)
{
	struct host_dev *h = dump(IGD);
	struct ptdm_dev *d;
	unsigned pm = 0xd0;

	host_set(h, PCI_VENDOR_ID, 2, 0x1002);
	host_set(h, PCI_DEVICE_ID, 2, 0x67df);
	host_bar_fill(h, 2, 0x4000, 0x1000, 0xa5);
	host_bar_fill(h, 4, 0, 8, 0x66);
	d = attach(h, true);
	assert_null(find(d, "intel-igd"));
	assert_true(find(d, "ati-config-mirrors")->active);
	assert_true(find(d, "ati-no-pm-reset")->active);
	/* BAR2 0x4000: the guest's config */
	assert_int_equal(bar_rd(d, 2, 0x4000, 4), 0x67df1002);
	th_wr(d, PCI_BASE_ADDRESS_2, 4, 0xe000000c);
	assert_int_equal(bar_rd(d, 2, 0x4000 + PCI_BASE_ADDRESS_2, 4),
			 0xe000000c);
	/* BAR4: data goes to config when the device's address is 0x4xxx */
	assert_int_equal(bar_rd(d, 4, 4, 4), 0x66666666);
	bar_wr(d, 4, 0, 4, 0x4000 + PCI_BASE_ADDRESS_2);
	assert_int_equal(bar_rd(d, 4, 4, 4), 0xe000000c);
	bar_wr(d, 4, 4, 4, 0xd000000c);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_2, 4), 0xd000000c);
	assert_int_equal(host_bar32(h, 4, 4), 0x66666666);
	bar_wr(d, 4, 0, 4, 0x5000);
	assert_int_equal(bar_rd(d, 4, 4, 4), 0x66666666);
	/* No_Soft_Reset shown, the device's own bit clear */
	assert_int_equal(th_rd(d, pm, 1), PCI_CAP_ID_PM);
	assert_true(th_rd(d, pm + PCI_PM_CTRL, 2) & PCI_PM_CTRL_NO_SOFT_RESET);
	assert_false(th_host(h, pm + PCI_PM_CTRL, 2) &
		     PCI_PM_CTRL_NO_SOFT_RESET);
	th_free(d, h);
}

/* ---- reset errata ---- */

static unsigned resets;
static int count_reset(void *opaque, enum ptdm_reset_kind kind)
{
	(void)opaque;
	(void)kind;
	resets++;
	return 0;
}

static unsigned flr_requests(struct host_dev *h, struct ptdm_dev *d)
{
	struct ptdm_dev_events ev = { .reset_request = count_reset };
	unsigned exp = 0xa0; /* the 82576's PCIe capability */

	(void)h;
	assert_int_equal(th_rd(d, exp, 1), PCI_CAP_ID_EXP);
	ptdm_dev_set_events(d, &ev);
	resets = 0;
	th_wr(d, exp + PCI_EXP_DEVCTL, 2, th_rd(d, exp + PCI_EXP_DEVCTL, 2) |
						  PCI_EXP_DEVCTL_BCR_FLR);
	return resets;
}

static void test_no_flr(void **state)
{
	struct host_dev *h = dump(I82576);
	struct ptdm_dev *d = attach(h, true);
	unsigned devcap = 0xa0 + PCI_EXP_DEVCAP;

	/* the real 82576: FLR shown, and a guest FLR is a reset */
	assert_null(find(d, "no-flr"));
	assert_true(th_rd(d, devcap, 4) & PCI_EXP_DEVCAP_FLR);
	assert_int_equal(flr_requests(h, d), 1);
	th_free(d, h);

	/* as an 82579LM: no FLR shown, an FLR write resets nothing */
	h = dump(I82576);
	host_set(h, PCI_DEVICE_ID, 2, 0x1502);
	d = attach(h, true);
	assert_true(find(d, "no-flr")->active);
	assert_non_null(find(d, "no-flr")->reset);
	assert_false(th_rd(d, devcap, 4) & PCI_EXP_DEVCAP_FLR);
	assert_true(th_host(h, devcap, 4) & PCI_EXP_DEVCAP_FLR);
	assert_int_equal(flr_requests(h, d), 0);
	ptdm_dev_reset(d);
	assert_false(th_rd(d, devcap, 4) & PCI_EXP_DEVCAP_FLR);
	th_free(d, h);

	/* quirks=off: as the device says */
	h = dump(I82576);
	host_set(h, PCI_DEVICE_ID, 2, 0x1502);
	d = attach(h, false);
	assert_true(th_rd(d, devcap, 4) & PCI_EXP_DEVCAP_FLR);
	th_free(d, h);
}

static void test_match_revision_range(void **state)
{
	for (unsigned rev = 0; rev < 3; rev++) {
		struct host_dev *h = dump(I82576);
		struct ptdm_dev *d;

		host_set(h, PCI_VENDOR_ID, 2, 0xd063);
		host_set(h, PCI_DEVICE_ID, 2, 0x1000);
		host_set(h, PCI_REVISION_ID, 1, rev);
		d = attach(h, true);
		if (rev == 1)
			assert_true(find(d, "no-flr")->active);
		else
			assert_null(find(d, "no-flr"));
		th_free(d, h);
	}
}

/* ---- Realtek RTL8168 and RTL8125 (crafted: no dump has one) ---- */

static struct ptdm_dev *rtl(struct host_dev **h, uint16_t device)
{
	struct th_cfg c;
	uint8_t mx[10];
	uint16_t ctrl = 3; /* 4 vectors */
	uint32_t table = 0x0 | 4, pba = 0x800 | 4;
	struct ptdm_dev *d;

	th_cfg_init(&c, 0x10ec, device, 256);
	th_set_bar(&c, 0, PCI_BASE_ADDRESS_SPACE_IO, 0x100);
	th_set_bar(&c, 2, PCI_BASE_ADDRESS_MEM_TYPE_64, 0x1000);
	th_set_bar(&c, 4, PCI_BASE_ADDRESS_MEM_TYPE_64, 0x4000);
	memcpy(mx, &ctrl, 2);
	memcpy(mx + 2, &table, 4);
	memcpy(mx + 6, &pba, 4);
	th_add_cap(&c, 0x70, PCI_CAP_ID_MSIX, mx, sizeof(mx));
	d = th_dev(&c, NULL, h);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	return d;
}

static void rtl_backdoor(uint16_t device)
{
	struct host_dev *h;
	struct ptdm_dev *d = rtl(&h, device);
	struct ptdm_msix_entry e;

	assert_true(find(d, "rtl8168-msix-backdoor")->active);
	assert_true(trapped_quirk(d, 2, 0x70));
	/* write 0xfee00000 to entry 0's address through the backdoor */
	bar_wr(d, 2, 0x70, 4, 0xfee00000);
	bar_wr(d, 2, 0x74, 4, 0x8001f000);
	assert_int_equal(bar_rd(d, 2, 0x74, 4), 0x0001f000); /* done */
	assert_int_equal(ptdm_msix_entry_get(d, 0, &e), 0);
	assert_int_equal(e.addr, 0xfee00000);
	/* the device's table and address register never saw it */
	assert_int_equal(host_bar32(h, 4, 0), 0);
	assert_int_equal(host_bar32(h, 2, 0x74), 0);
	/* entry 1's data, through the table, then read back by the door */
	assert_int_equal(ptdm_bar_rw(d, 4, 0x18, &(uint32_t){ 0x4242 }, 4,
				     true), 0);
	bar_wr(d, 2, 0x74, 4, 0x0001f018); /* read setup: reaches device */
	assert_int_equal(host_bar32(h, 2, 0x74), 0x0001f018);
	assert_int_equal(bar_rd(d, 2, 0x74, 4), 0x8001f018);
	assert_int_equal(bar_rd(d, 2, 0x70, 4), 0x4242);
	/* another type: plain registers of the device again */
	host_bar_fill(h, 2, 0x70, 4, 0x11);
	bar_wr(d, 2, 0x74, 4, 0x00020000);
	assert_int_equal(bar_rd(d, 2, 0x70, 4), 0x11111111);
	/* not an aligned dword: dropped */
	assert_int_equal(bar_rd(d, 2, 0x74, 2), 0xffff);
	bar_wr(d, 2, 0x74, 2, 0x1234);
	assert_int_equal(host_bar32(h, 2, 0x74), 0x00020000);
	th_free(d, h);
}

static void test_rtl8168_backdoor_reaches_emulated_table(void **state)
{
	rtl_backdoor(0x8168);
}

/* the RTL8125 has the same ERI window (Realtek's r8125 driver) */
static void test_rtl8125_backdoor_reaches_emulated_table(void **state)
{
	const struct ptdm_quirk_info *q;
	struct host_dev *h;
	struct ptdm_dev *d;

	rtl_backdoor(0x8125);
	/* and another Realtek device (an RTL8101E) has no door */
	d = rtl(&h, 0x8136);
	q = find(d, "rtl8168-msix-backdoor");
	assert_true(!q || !q->active);
	assert_false(trapped_quirk(d, 2, 0x70));
	th_free(d, h);
}

/* ---- every dump: quirks never stop an attach ---- */

static void test_every_dump_attaches(void **state)
{
	static const char *const all[] = { NV_GPU, NV_HDA, IGD, I82576,
		"samsung-a826-pm174x-nvme", "mellanox-1007-connectx3-pro-nic",
		"intel-27d8-ich7-hda-audio", "nec-0194-upd720200-xhci" };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct host_dev *h = dump(all[i]);
		struct ptdm_dev *d = attach(h, true);

		for (size_t j = 0; j < ptdm_dev_nquirks(d); j++) {
			const struct ptdm_quirk_info *q = ptdm_dev_quirk(d, j);

			assert_true(q->active || q->reason);
		}
		th_free(d, h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_is_sound),
		cmocka_unit_test(test_nvidia_bar0_mirrors_are_virtual),
		cmocka_unit_test(test_nvidia_msi_ack_reaches_device),
		cmocka_unit_test(test_nvidia_bar5_window_follows_device_address),
		cmocka_unit_test(test_nvidia_quirks_off),
		cmocka_unit_test(test_nvidia_hda_has_none),
		cmocka_unit_test(test_igd_registers_virtual),
		cmocka_unit_test(test_igd_generations),
		cmocka_unit_test(test_ati_mirrors_and_no_pm_reset),
		cmocka_unit_test(test_no_flr),
		cmocka_unit_test(test_match_revision_range),
		cmocka_unit_test(test_rtl8168_backdoor_reaches_emulated_table),
		cmocka_unit_test(test_rtl8125_backdoor_reaches_emulated_table),
		cmocka_unit_test(test_every_dump_attaches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
