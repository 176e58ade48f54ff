/*
 * test_header.c - the type-0 header rules: identity, COMMAND, STATUS, BAR
 * and ROM sizing, interrupt line/pin, header type, BIST, bridges refused.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "ptdm/image.h"
#include <linux/pci_regs.h>

struct bar_events {
	int calls[PTDM_NUM_BARS + 1];
};

static void on_bar(void *opaque, int bar)
{
	((struct bar_events *)opaque)->calls[bar]++;
}

static void basic(struct th_cfg *c)
{
	th_cfg_init(c, 0x8086, 0x10c9, 256);
	th_set_bar(c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x20000);         /* 128K */
	th_set_bar(c, 1, PCI_BASE_ADDRESS_MEM_TYPE_64 |
			 PCI_BASE_ADDRESS_MEM_PREFETCH, 0x200000000ull);  /* 8G */
	th_set_bar(c, 3, PCI_BASE_ADDRESS_SPACE_IO | 0x1000, 0x20);     /* io 32 */
	th_set_bar(c, 4, PCI_BASE_ADDRESS_MEM_PREFETCH, 0x1000);          /* 4K pf */
	th_set_bar(c, PTDM_ROM_INDEX, 0xc7800000, 0x400000);           /* 4M */
}

static void test_ids_readonly_and_overrides(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev_opts o;
	struct ptdm_dev *d;

	basic(&c);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(th_rd(d, PCI_VENDOR_ID, 4), 0x10c98086);
	th_wr(d, PCI_VENDOR_ID, 4, 0x12345678);
	th_wr(d, PCI_CLASS_REVISION, 4, 0xffffffff);
	th_wr(d, PCI_SUBSYSTEM_VENDOR_ID, 4, 0);
	assert_int_equal(th_rd(d, PCI_VENDOR_ID, 4), 0x10c98086);
	assert_int_equal(th_rd(d, PCI_CLASS_REVISION, 4), 0x02000001);
	assert_int_equal(th_rd(d, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x12348086);
	assert_int_equal(th_host(h, PCI_VENDOR_ID, 4), 0x10c98086);
	th_free(d, h);

	ptdm_dev_opts_init(&o);
	o.vendor_id = 0x1af4;
	o.device_id = 0x1041;
	o.subsystem_vendor_id = 0x1b36;
	o.subsystem_id = 0x0001;
	d = th_dev(&c, &o, &h);
	assert_int_equal(th_rd(d, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(th_rd(d, PCI_DEVICE_ID, 2), 0x1041);
	assert_int_equal(th_rd(d, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1b36);
	assert_int_equal(th_rd(d, PCI_SUBSYSTEM_ID, 2), 0x0001);
	/* the host keeps its own identity */
	assert_int_equal(th_host(h, PCI_VENDOR_ID, 4), 0x10c98086);
	th_free(d, h);
}

static void test_override_out_of_range(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev_opts o;
	struct ptdm_dev *d = NULL;
	struct ptdm_err err = { "" };

	basic(&c);
	h = th_image(&c);
	ptdm_dev_opts_init(&o);
	o.device_id = 0x10000;
	assert_int_equal(ptdm_dev_attach(&d, h, &o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "device override"));
	host_close(h);
}

static void test_command_decode_virtual(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;

	basic(&c);
	d = th_dev(&c, NULL, &h);
	/* attach: host decodes memory and I/O, guest starts with nothing */
	assert_int_equal(th_host(h, PCI_COMMAND, 2) &
			 (PCI_COMMAND_IO | PCI_COMMAND_MEMORY),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(th_rd(d, PCI_COMMAND, 2), 0);

	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_SERR |
				 PCI_COMMAND_PARITY);
	assert_int_equal(th_rd(d, PCI_COMMAND, 2), PCI_COMMAND_MEMORY |
				 PCI_COMMAND_SERR | PCI_COMMAND_PARITY);
	/* SERR/parity are the guest's only; the host keeps its decode */
	assert_int_equal(th_host(h, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY);

	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(th_host(h, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
			 PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(th_rd(d, PCI_COMMAND, 2),
			 PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);

	/* a byte write to the high half only touches INTx-disable */
	th_wr(d, PCI_COMMAND + 1, 1, 0);
	assert_int_equal(th_host(h, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
			 PCI_COMMAND_MASTER);
	th_free(d, h);
}

static void test_command_reserved_readonly(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;

	basic(&c);
	d = th_dev(&c, NULL, &h);
	th_wr(d, PCI_COMMAND, 2, 0xf800);
	assert_int_equal(th_rd(d, PCI_COMMAND, 2), 0);
	assert_int_equal(th_host(h, PCI_COMMAND, 2) & 0xf800, 0);
	th_free(d, h);
}

static void test_status_rw1c(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	const uint16_t errs = PCI_STATUS_REC_MASTER_ABORT |
			      PCI_STATUS_SIG_SYSTEM_ERROR |
			      PCI_STATUS_DETECTED_PARITY;

	basic(&c);
	th_put(&c, PCI_STATUS, 2, errs | PCI_STATUS_66MHZ |
				  PCI_STATUS_DEVSEL_MEDIUM);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(th_rd(d, PCI_STATUS, 2),
			 errs | PCI_STATUS_66MHZ | PCI_STATUS_DEVSEL_MEDIUM);
	/* writing 0 clears nothing, writing RO bits does nothing */
	th_wr(d, PCI_STATUS, 2, PCI_STATUS_66MHZ | PCI_STATUS_CAP_LIST);
	assert_int_equal(th_host(h, PCI_STATUS, 2) & errs, errs);
	/* writing 1 clears exactly that bit on the host */
	th_wr(d, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT);
	assert_int_equal(th_host(h, PCI_STATUS, 2) & errs,
			 errs & ~PCI_STATUS_REC_MASTER_ABORT);
	assert_int_equal(th_rd(d, PCI_STATUS, 2) & errs,
			 errs & ~PCI_STATUS_REC_MASTER_ABORT);
	/* a 4-byte write at COMMAND carries STATUS too */
	th_wr(d, PCI_COMMAND, 4, (uint32_t)PCI_STATUS_SIG_SYSTEM_ERROR << 16);
	assert_int_equal(th_host(h, PCI_STATUS, 2) & errs,
			 PCI_STATUS_DETECTED_PARITY);
	th_free(d, h);
}

static void test_status_cap_list_follows_chain(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	uint8_t vpd[6] = { 0 };

	basic(&c);
	th_add_cap(&c, 0x40, PCI_CAP_ID_VPD, vpd, sizeof(vpd));
	d = th_dev(&c, NULL, &h);
	/* the only capability is hidden: no list at all */
	assert_int_equal(th_rd(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	assert_int_equal(th_rd(d, PCI_CAPABILITY_LIST, 1), 0);
	assert_int_equal(th_host(h, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST,
			 PCI_STATUS_CAP_LIST);
	th_free(d, h);

	th_cfg_init(&c, 0x8086, 0x10c9, 256);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(th_rd(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	th_free(d, h);
}

static void test_bar_sizing(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;

	basic(&c);
	d = th_dev(&c, NULL, &h);
	/* power-on: flags only, no address */
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_0, 4), 0);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_1, 4),
			 PCI_BASE_ADDRESS_MEM_TYPE_64 |
			 PCI_BASE_ADDRESS_MEM_PREFETCH);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_3, 4),
			 PCI_BASE_ADDRESS_SPACE_IO);

	for (unsigned r = PCI_BASE_ADDRESS_0; r <= PCI_BASE_ADDRESS_5; r += 4)
		th_wr(d, r, 4, 0xffffffff);
	th_wr(d, PCI_ROM_ADDRESS, 4, 0xfffffffe);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_0, 4), 0xfffe0000);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_1, 4),
			 PCI_BASE_ADDRESS_MEM_TYPE_64 |
			 PCI_BASE_ADDRESS_MEM_PREFETCH);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_2, 4), 0xfffffffe);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_3, 4), 0xffffffe1);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_4, 4),
			 0xfffff000 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_5, 4), 0); /* none */
	assert_int_equal(th_rd(d, PCI_ROM_ADDRESS, 4), 0xffc00000);
	/* the host's BARs never change */
	assert_int_equal(th_host(h, PCI_BASE_ADDRESS_0, 4), 0);
	assert_int_equal(th_host(h, PCI_ROM_ADDRESS, 4), 0xc7800000);

	/* 16-bit sizing writes work too */
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0);
	th_wr(d, PCI_BASE_ADDRESS_0 + 2, 2, 0xffff);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_0, 4), 0xfffe0000);
	th_free(d, h);
}

static void test_bar_program_and_events(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct bar_events ev = { { 0 } };
	struct ptdm_dev_events cb = { .opaque = &ev, .bar_changed = on_bar };
	struct ptdm_bar_info bi;

	basic(&c);
	d = th_dev(&c, NULL, &h);
	ptdm_dev_set_events(d, &cb);
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xfe012345);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_0, 4), 0xfe000000);
	th_wr(d, PCI_BASE_ADDRESS_1, 4, 0x40000000);
	th_wr(d, PCI_BASE_ADDRESS_2, 4, 0x60);
	assert_int_equal(ev.calls[0], 0); /* decode still off */
	ptdm_dev_bar(d, 1, &bi);
	assert_int_equal(bi.guest_addr, 0x6000000000ull);
	assert_false(bi.guest_enabled);

	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(ev.calls[0], 1);
	assert_int_equal(ev.calls[1], 1);
	assert_int_equal(ev.calls[3], 0); /* I/O decode still off */
	ptdm_dev_bar(d, 1, &bi);
	assert_true(bi.guest_enabled);
	assert_int_equal(bi.size, 0x200000000ull);
	assert_true(bi.prefetch);
	assert_int_equal(bi.kind, HOST_BAR_MEM64);

	/* sizing while decode is on: all-ones is not a mapping */
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	ptdm_dev_bar(d, 0, &bi);
	assert_false(bi.guest_enabled);
	assert_int_equal(ev.calls[0], 2);
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xfe000000);
	ptdm_dev_bar(d, 0, &bi);
	assert_true(bi.guest_enabled);
	assert_int_equal(ev.calls[0], 3);

	/* moving a mapped BAR notifies once */
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xfd000000);
	assert_int_equal(ev.calls[0], 4);
	th_wr(d, PCI_COMMAND, 2, 0);
	ptdm_dev_bar(d, 0, &bi);
	assert_false(bi.guest_enabled);
	assert_int_equal(ev.calls[0], 5);
	th_free(d, h);
}

static void test_rom_enable(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct ptdm_bar_info bi;

	basic(&c);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(th_rd(d, PCI_ROM_ADDRESS, 4), 0);
	th_wr(d, PCI_ROM_ADDRESS, 4, 0xffffffff);
	assert_int_equal(th_rd(d, PCI_ROM_ADDRESS, 4),
			 0xffc00000 | PCI_ROM_ADDRESS_ENABLE);
	th_wr(d, PCI_ROM_ADDRESS, 4, 0xc0000000 | PCI_ROM_ADDRESS_ENABLE);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ptdm_dev_bar(d, PTDM_ROM_INDEX, &bi);
	assert_true(bi.guest_enabled);
	assert_int_equal(bi.guest_addr, 0xc0000000);
	th_wr(d, PCI_ROM_ADDRESS, 4, 0xc0000000);
	ptdm_dev_bar(d, PTDM_ROM_INDEX, &bi);
	assert_false(bi.guest_enabled);
	th_free(d, h);

	/* no ROM: reads 0 whatever is written */
	th_cfg_init(&c, 0x8086, 0x1, 256);
	d = th_dev(&c, NULL, &h);
	th_wr(d, PCI_ROM_ADDRESS, 4, 0xffffffff);
	assert_int_equal(th_rd(d, PCI_ROM_ADDRESS, 4), 0);
	th_free(d, h);
}

static void test_interrupt_line_pin(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;

	basic(&c);
	th_put(&c, PCI_INTERRUPT_LINE, 1, 17);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(th_rd(d, PCI_INTERRUPT_PIN, 1), 1);
	th_wr(d, PCI_INTERRUPT_LINE, 4, 0xffffff0b);
	assert_int_equal(th_rd(d, PCI_INTERRUPT_LINE, 4), 0x0000010b);
	assert_int_equal(th_host(h, PCI_INTERRUPT_LINE, 1), 17);
	th_free(d, h);
}

static void test_header_type_bist_reserved(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev_opts o;
	struct ptdm_dev *d;

	basic(&c);
	th_put(&c, PCI_HEADER_TYPE, 1, 0x80);
	th_put(&c, PCI_BIST, 1, PCI_BIST_CAPABLE);
	th_put(&c, 0x38, 4, 0xdeadbeef);
	th_put(&c, 0x35, 1, 0x55);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(th_rd(d, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(th_rd(d, PCI_BIST, 1), 0);
	th_wr(d, PCI_BIST, 1, PCI_BIST_START);
	assert_int_equal(th_host(h, PCI_BIST, 1), PCI_BIST_CAPABLE);
	assert_int_equal(th_rd(d, 0x38, 4), 0);
	assert_int_equal(th_rd(d, 0x34, 4), 0);
	th_free(d, h);

	ptdm_dev_opts_init(&o);
	o.multifunction = true;
	d = th_dev(&c, &o, &h);
	assert_int_equal(th_rd(d, PCI_HEADER_TYPE, 1), 0x80);
	th_free(d, h);
}

static void expect_refused(uint8_t type, uint16_t vendor, const char *word)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev_opts o;
	struct ptdm_dev *d = NULL;
	struct ptdm_err err = { "" };

	th_cfg_init(&c, vendor, 0x1234, 256);
	th_put(&c, PCI_HEADER_TYPE, 1, type);
	h = th_image(&c);
	ptdm_dev_opts_init(&o);
	assert_true(ptdm_dev_attach(&d, h, &o, &err) < 0);
	assert_null(d);
	assert_non_null(strstr(err.msg, word));
	host_close(h);
}

static void test_bridges_refused(void **state)
{
	expect_refused(PCI_HEADER_TYPE_BRIDGE, 0x8086, "bridge");
	expect_refused(PCI_HEADER_TYPE_BRIDGE | 0x80, 0x8086, "bridge");
	expect_refused(PCI_HEADER_TYPE_CARDBUS, 0x8086, "CardBus");
	expect_refused(0x7f, 0x8086, "header type");
	expect_refused(0, 0xffff, "no device");
}

static void test_unknown_sizes(void **state)
{
	struct th_cfg c;
	struct host_dev *h = NULL;
	struct ptdm_dev *d;
	struct ptdm_err err = { "" };
	struct ptdm_bar_info bi;

	/* an image without sizes attaches; its BARs cannot be sized */
	basic(&c);
	th_put(&c, PCI_BASE_ADDRESS_0, 4, 0xe0800000);
	assert_int_equal(image_new(&h, "nosizes", c.b, 256, &err), 0);
	d = th_attach(h, NULL);
	ptdm_dev_bar(d, 0, &bi);
	assert_false(bi.size_known);
	assert_int_equal(bi.kind, HOST_BAR_MEM32);
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_0, 4), 0);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_readonly_and_overrides),
		cmocka_unit_test(test_override_out_of_range),
		cmocka_unit_test(test_command_decode_virtual),
		cmocka_unit_test(test_command_reserved_readonly),
		cmocka_unit_test(test_status_rw1c),
		cmocka_unit_test(test_status_cap_list_follows_chain),
		cmocka_unit_test(test_bar_sizing),
		cmocka_unit_test(test_bar_program_and_events),
		cmocka_unit_test(test_rom_enable),
		cmocka_unit_test(test_interrupt_line_pin),
		cmocka_unit_test(test_header_type_bist_reserved),
		cmocka_unit_test(test_bridges_refused),
		cmocka_unit_test(test_unknown_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
