/*
 * test_stats.c - a device's counters and the trace of guest config writes
 * on a real device (the Samsung PM174x dump: PM, PCIe with FLR, MSI-X in
 * BAR0, hidden extended capabilities): trapped config and BAR accesses,
 * writes dropped by reason (decode off, not in D0, MSI-X page, ROM,
 * read-only, reserved, hidden), a host that refuses config writes, failed
 * FLRs and resets counted and logged rate-limited, and trace lines that
 * name the register from the policy tables and the rule that dropped it.
 * The dispatcher's own rules are in test_dispatch.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ptdm/image.h"
#include "ptdm/log.h"
#include <linux/pci_regs.h>

#define PM 0x40
#define EXP 0x70
#define MSIX 0xb0
#define TABLE 0x4000
#define PBA 0x3000

static struct ptdm_dev *nvme(struct host_dev **h)
{
	struct ptdm_err err = { "" };

	if (image_open(h, th_dump("samsung-a826-pm174x-nvme.lspci-x4.txt"),
		       NULL, &err))
		fail_msg("%s", err.msg);
	return th_attach(*h, NULL);
}

static struct ptdm_dev_stats stats(struct ptdm_dev *d)
{
	struct ptdm_dev_stats st;

	ptdm_dev_stats(d, &st);
	return st;
}

static void test_bar_accesses_and_drops(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = nvme(&h);
	uint32_t v = 0x11223344;
	uint16_t half = 0;
	struct ptdm_dev_stats st;

	/* decode off: reads all-ones, writes dropped */
	assert_int_equal(ptdm_bar_rw(d, 0, 0x100, &v, 4, true), 0);
	assert_int_equal(ptdm_bar_rw(d, 0, 0x100, &v, 4, false), 0);
	assert_int_equal(v, 0xffffffff);
	st = stats(d);
	assert_int_equal(st.bar_writes, 1);
	assert_int_equal(st.bar_reads, 1);
	assert_int_equal(st.dropped_by[PTDM_DROP_DECODE_OFF], 1);
	/* decode on: it reaches the device */
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	v = 0x11223344;
	assert_int_equal(ptdm_bar_rw(d, 0, 0x100, &v, 4, true), 0);
	assert_int_equal(stats(d).dropped_by[PTDM_DROP_DECODE_OFF], 1);
	/* D3hot: dropped again, for that reason */
	th_wr(d, PM + PCI_PM_CTRL, 2, 3);
	assert_int_equal(ptdm_bar_rw(d, 0, 0x100, &v, 4, true), 0);
	assert_int_equal(stats(d).dropped_by[PTDM_DROP_D3], 1);
	th_wr(d, PM + PCI_PM_CTRL, 2, 0);
	/* the MSI-X pages: a 2-byte write and a PBA write are refused */
	assert_int_equal(ptdm_bar_rw(d, 0, TABLE, &half, 2, true), 0);
	assert_int_equal(ptdm_bar_rw(d, 0, PBA, &v, 4, true), 0);
	assert_int_equal(ptdm_bar_rw(d, 0, TABLE, &v, 4, true), 0); /* fine */
	assert_int_equal(ptdm_bar_rw(d, 0, PBA, &v, 4, false), 0); /* a read */
	st = stats(d);
	assert_int_equal(st.dropped_by[PTDM_DROP_MSIX_PAGE], 2);
	assert_int_equal(st.dropped, 4);
	assert_int_equal(st.bar_writes, 6);
	assert_int_equal(st.bar_reads, 2);
	/* an access the core refuses outright is no guest access */
	assert_int_equal(ptdm_bar_rw(d, 0, 0x8000, &v, 4, false), -ERANGE);
	assert_int_equal(stats(d).bar_reads, 2);
	th_free(d, h);
}

/* The host refuses config writes: a guest bus-master write is counted as
 * a host failure and logged, rate-limited. */
static int refuse_cfg_write(struct host_dev *h, unsigned off, const void *buf,
			    size_t len)
{
	return -EIO;
}

static int refuse_reset(struct host_dev *h)
{
	return -EIO;
}

static void test_host_write_failure(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = nvme(&h);
	struct host_ops ops = *h->ops;

	ops.cfg_write = refuse_cfg_write;
	h->ops = &ops;
	th_log_capture();
	for (int i = 0; i < 500; i++)
		th_wr(d, PCI_COMMAND, 2, i & 1 ? PCI_COMMAND_MASTER : 0);
	assert_int_equal(stats(d).host_cfg_write_errors, 500);
	assert_true(th_log_lines() >= 1 && th_log_lines() <= 12);
	assert_non_null(strstr(th_log_last(), "config write"));
	ptdm_log_set_sink(NULL, NULL);
	ptdm_log_set_level(PTDM_LOG_WARN);
	th_free(d, h);
}

struct reset_rec {
	int calls, rc;
};

static int on_reset(void *o, enum ptdm_reset_kind k)
{
	struct reset_rec *r = o;

	r->calls++;
	return r->rc;
}

static int reset_through_core(void *o, enum ptdm_reset_kind k)
{
	return ptdm_dev_reset(o);
}

/* A failed FLR (the owner's) and a failed reset (the backend's): counted,
 * logged at most 10 times a second. */
static void test_failed_flr_and_reset(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = nvme(&h);
	struct reset_rec r = { 0, -EIO };
	struct ptdm_dev_events ev = { .opaque = &r, .reset_request = on_reset };
	struct host_ops ops = *h->ops;
	const unsigned ctl = EXP + PCI_EXP_DEVCTL;

	ptdm_dev_set_events(d, &ev);
	th_log_capture();
	for (int i = 0; i < 200; i++)
		th_wr(d, ctl, 2, th_rd(d, ctl, 2) | PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(r.calls, 200);
	assert_int_equal(stats(d).reset_errors, 200);
	assert_true(th_log_lines() >= 1 && th_log_lines() <= 12);
	assert_non_null(strstr(th_log_last(), "reset"));
	/* a reset that works is no error */
	r.rc = 0;
	th_wr(d, ctl, 2, th_rd(d, ctl, 2) | PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(stats(d).reset_errors, 200);
	/* no owner: the core resets through the backend, which fails */
	ptdm_dev_set_events(d, NULL);
	ops.reset = refuse_reset;
	h->ops = &ops;
	th_wr(d, ctl, 2, th_rd(d, ctl, 2) | PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(stats(d).reset_errors, 201);
	assert_int_equal(ptdm_dev_reset(d), -EIO);
	assert_int_equal(stats(d).reset_errors, 202);
	/* an owner that resets through ptdm_dev_reset (as owner.c does):
	 * one failure, counted once */
	ev.reset_request = reset_through_core;
	ev.opaque = d;
	ptdm_dev_set_events(d, &ev);
	th_wr(d, ctl, 2, th_rd(d, ctl, 2) | PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(stats(d).reset_errors, 203);
	ptdm_log_set_sink(NULL, NULL);
	ptdm_log_set_level(PTDM_LOG_WARN);
	th_free(d, h);
}

/* ---- trace ---- */

struct lines {
	unsigned n;
	struct ptdm_cfg_trace t[16];
};

static void on_trace(void *o, const struct ptdm_cfg_trace *t)
{
	struct lines *l = o;

	if (getenv("TRACE_DEBUG"))
		print_message("%s %s %#x->%#x out %u rule %s\n",
			      t->cap ? t->cap : "-", t->reg, t->old_val,
			      t->new_val, t->outcome, t->rule ? t->rule : "-");

	if (l->n < 16)
		l->t[l->n] = *t;
	l->n++;
}

static void test_trace_real_registers(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = nvme(&h);
	struct lines l = { 0 };
	struct ptdm_cfg_trace *t = l.t;
	uint16_t cmd0;

	ptdm_dev_set_trace(d, on_trace, &l);

	/* COMMAND: decode is virtual, bus master reaches the host, a
	 * reserved bit is dropped and the rule says so */
	cmd0 = (uint16_t)th_rd(d, PCI_COMMAND, 2);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
					 0x0800);
	assert_int_equal(l.n, 1);
	assert_string_equal(t[0].reg, "command");
	assert_null(t[0].cap);
	assert_int_equal(t[0].off, PCI_COMMAND);
	assert_int_equal(t[0].len, 2);
	assert_int_equal(t[0].old_val, cmd0);
	assert_int_equal(t[0].new_val & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
			 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_true(t[0].outcome & PTDM_TRACE_HOST);
	assert_true(t[0].outcome & PTDM_TRACE_VIRTUAL);
	assert_true(t[0].outcome & PTDM_TRACE_DROPPED);
	assert_int_equal(t[0].reason, PTDM_DROP_RESERVED);
	assert_non_null(strstr(t[0].rule, "reserved"));

	/* BAR0 sizing: virtual */
	l.n = 0;
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(l.n, 1);
	assert_string_equal(t[0].reg, "bar0");
	assert_int_equal(t[0].outcome, PTDM_TRACE_VIRTUAL);
	assert_int_equal(t[0].new_val, 0xffff8004); /* 32 KiB, mem64 */
	assert_null(t[0].rule);

	/* MSI-X enable, read-modify-write as drivers do: named with its
	 * capability, nothing dropped */
	l.n = 0;
	th_wr(d, MSIX + PCI_MSIX_FLAGS, 2,
	      th_rd(d, MSIX + PCI_MSIX_FLAGS, 2) | PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(l.n, 1);
	assert_string_equal(t[0].cap, "MSI-X");
	assert_string_equal(t[0].reg, "msix control");
	assert_int_equal(t[0].outcome, PTDM_TRACE_VIRTUAL);
	assert_true(t[0].new_val & PCI_MSIX_FLAGS_ENABLE);
	assert_false(t[0].old_val & PCI_MSIX_FLAGS_ENABLE);

	/* the vendor ID is read-only */
	l.n = 0;
	th_wr(d, PCI_VENDOR_ID, 2, 0x8086);
	assert_int_equal(l.n, 1);
	assert_string_equal(t[0].reg, "vendor id");
	assert_int_equal(t[0].outcome, PTDM_TRACE_DROPPED);
	assert_int_equal(t[0].reason, PTDM_DROP_READONLY);
	assert_int_equal(t[0].old_val, 0x144d);
	assert_int_equal(t[0].new_val, 0x144d);
	assert_int_equal(t[0].val, 0x8086);

	/* a hidden capability (ARI at 0x168) */
	l.n = 0;
	th_wr(d, 0x168 + 4, 4, 0x1);
	assert_int_equal(l.n, 1);
	assert_string_equal(t[0].reg, "(hidden)");
	assert_int_equal(t[0].reason, PTDM_DROP_HIDDEN);
	assert_non_null(t[0].rule);

	/* a 4-byte write over COMMAND and STATUS: one line per register */
	l.n = 0;
	th_wr(d, PCI_COMMAND, 4, PCI_COMMAND_MEMORY);
	assert_int_equal(l.n, 2);
	assert_string_equal(t[0].reg, "command");
	assert_string_equal(t[1].reg, "status");
	assert_int_equal(t[1].off, PCI_STATUS);

	/* off: nothing more, the counters go on */
	ptdm_dev_set_trace(d, NULL, NULL);
	l.n = 0;
	th_wr(d, PCI_VENDOR_ID, 2, 0x8086);
	assert_int_equal(l.n, 0);
	assert_int_equal(stats(d).dropped_by[PTDM_DROP_READONLY], 2);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bar_accesses_and_drops),
		cmocka_unit_test(test_host_write_failure),
		cmocka_unit_test(test_failed_flr_and_reset),
		cmocka_unit_test(test_trace_real_registers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
