/*
 * test_dispatch.c - the config dispatcher (src/core/cfg.c) built and
 * tested alone: this binary links cfg.c and the log, no other file of the
 * core, no backend.  A hand-made device with a table of test rows stands
 * in for the header and the capabilities; a fake host records every write.
 * If cfg.c starts to call into another core file this stops linking.
 *
 * What it pins down: the read merge (host & ~virt) | (shadow & virt), the
 * generic write (virtual bits, host bits read-modify-write, RW1C, reserved
 * bits only when permissive), no host write without a fresh host read
 * (XSA-128), split accesses reach each register with its byte mask, raw /
 * hidden / absent bytes, all-or-nothing placement, the counters (accesses,
 * drops by reason, host write failures logged rate-limited) and the trace
 * of guest writes (register name, old -> new, outcome, the dropping rule).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/dev_priv.h"

/* ---- a fake host: 256 bytes of config, writes recorded ---- */
struct fake_host {
	struct host_dev h;
	uint8_t cfg[PTDM_CFG_LEGACY_SIZE];
	bool fail_reads, fail_writes;
	unsigned writes;
	unsigned last_off, last_len;
};

static int f_cfg_read(struct host_dev *h, unsigned off, void *buf, size_t len)
{
	struct fake_host *f = (struct fake_host *)h;

	if (f->fail_reads)
		return -EIO;
	memcpy(buf, f->cfg + off, len);
	return 0;
}

static int f_cfg_write(struct host_dev *h, unsigned off, const void *buf,
		       size_t len)
{
	struct fake_host *f = (struct fake_host *)h;

	f->writes++;
	f->last_off = off;
	f->last_len = (unsigned)len;
	if (f->fail_writes)
		return -EIO;
	memcpy(f->cfg + off, buf, len);
	return 0;
}

static const struct host_ops fake_ops = {
	.name = "fake",
	.cfg_read = f_cfg_read,
	.cfg_write = f_cfg_write,
};

/* ---- test rows ---- */
struct hook_log {
	unsigned calls;
	uint32_t old, val, mask;
};
static struct hook_log hooked;

static void on_write(struct ptdm_dev *d, const struct cfg_slot *s,
		     uint32_t old, uint32_t val, uint32_t mask)
{
	hooked.calls++;
	hooked.old = old;
	hooked.val = val;
	hooked.mask = mask;
}

static uint32_t read_plus_one(struct ptdm_dev *d, const struct cfg_slot *s,
			      uint32_t val)
{
	return val + 1;
}

#define R_MIX 0x40   /* 2 bytes: low byte virtual, high byte host */
#define R_FLAGS 0x42 /* 2 bytes: RW1C status and reserved bits on host */
#define R_HOOK 0x44  /* 4 bytes: fully virtual, write hook */
#define R_READ 0x48  /* 1 byte: read hook */
#define RAW 0x50     /* no rule */
#define ZERO 0x60    /* hidden */

static const struct cfg_reg rows[] = {
	{ "mix", R_MIX, 2, .virt = 0x00ff, .write = 0xffff },
	{ "flags", R_FLAGS, 2, .write = 0x00f0, .rw1c = 0x00f0,
	  .rsvd = 0xff00 },
	{ "hooked", R_HOOK, 4, .virt = ~0u, .write = 0x0000ffff,
	  .on_write = on_write },
	{ "read hook", R_READ, 1, .virt = 0xff, .read = read_plus_one },
	CFG_REG_END,
};

struct rig {
	struct fake_host *f;
	struct ptdm_dev *d;
};

static void rig_up(struct rig *r, bool permissive)
{
	r->f = calloc(1, sizeof(*r->f));
	r->d = calloc(1, sizeof(*r->d));
	assert_non_null(r->f);
	assert_non_null(r->d);
	r->f->h.ops = &fake_ops;
	r->f->h.cfg_size = PTDM_CFG_LEGACY_SIZE;
	strcpy(r->f->h.name, "fake");
	for (unsigned i = 0; i < PTDM_CFG_LEGACY_SIZE; i++)
		r->f->cfg[i] = (uint8_t)(0xa0 + i);
	r->d->host = &r->f->h;
	r->d->cfg_size = PTDM_CFG_LEGACY_SIZE;
	r->d->opts.permissive = permissive;
	r->d->slots = calloc(CFG_MAX_SLOTS, sizeof(*r->d->slots));
	assert_non_null(r->d->slots);
	cfg_map_init(r->d);
	assert_int_equal(cfg_place(r->d, rows, 0, -1, 0x50), 0);
	for (unsigned i = ZERO; i < ZERO + 8; i++)
		r->d->owner[i] = OWNER_ZERO;
	memcpy(r->d->shadow, r->f->cfg, PTDM_CFG_LEGACY_SIZE);
	memset(&hooked, 0, sizeof(hooked));
}

static void rig_down(struct rig *r)
{
	free(r->d->slots);
	free(r->d);
	free(r->f);
}

static uint32_t rd(struct rig *r, unsigned off, unsigned size)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(ptdm_cfg_read(r->d, off, size, &v), 0);
	return v;
}

static void wr(struct rig *r, unsigned off, unsigned size, uint32_t v)
{
	assert_int_equal(ptdm_cfg_write(r->d, off, size, v), 0);
}

static uint32_t host16(struct rig *r, unsigned off)
{
	return r->f->cfg[off] | (uint32_t)r->f->cfg[off + 1] << 8;
}

static void test_read_merge(void **state)
{
	struct rig r;

	rig_up(&r, false);
	cfg_shadow_set(r.d, R_MIX, 2, 0x1234);
	/* low byte from the shadow, high byte from the host */
	assert_int_equal(rd(&r, R_MIX, 2), (host16(&r, R_MIX) & 0xff00) | 0x34);
	assert_int_equal(rd(&r, R_READ, 1), r.d->shadow[R_READ] + 1u);
	assert_int_equal(rd(&r, RAW, 1), r.f->cfg[RAW]);
	assert_int_equal(rd(&r, ZERO, 4), 0);
	/* a host that fails reads looks absent for its bits only */
	r.f->fail_reads = true;
	assert_int_equal(rd(&r, R_MIX, 2), 0xff34);
	assert_int_equal(rd(&r, RAW, 2), 0xffff);
	rig_down(&r);
}

static void test_absent_past_cfg_size(void **state)
{
	struct rig r;

	rig_up(&r, false);
	assert_int_equal(rd(&r, 0x100, 4), 0xffffffff);
	assert_int_equal(rd(&r, 0xffc, 4), 0xffffffff);
	wr(&r, 0x100, 4, 0);
	assert_int_equal(r.f->writes, 0);
	rig_down(&r);
}

static void test_generic_write(void **state)
{
	struct rig r;

	rig_up(&r, false);
	/* virtual byte to the shadow, host byte read-modify-written */
	wr(&r, R_MIX, 2, 0x5566);
	assert_int_equal(r.d->shadow[R_MIX], 0x66);
	assert_int_equal(r.f->cfg[R_MIX + 1], 0x55);
	assert_int_equal(r.f->writes, 1);
	assert_int_equal(r.f->last_off, R_MIX + 1);
	assert_int_equal(r.f->last_len, 1);
	/* RW1C: writing 0 changes nothing, so nothing is written */
	r.f->writes = 0;
	r.f->cfg[R_FLAGS] = 0xf5;
	wr(&r, R_FLAGS, 1, 0x00);
	assert_int_equal(r.f->writes, 0);
	/* writing 1 to two of them: those are written as 1, the others 0 */
	wr(&r, R_FLAGS, 1, 0x30);
	assert_int_equal(r.f->writes, 1);
	assert_int_equal(r.f->cfg[R_FLAGS], 0x35);
	/* reserved bits never reach the host unless permissive */
	r.f->writes = 0;
	wr(&r, R_FLAGS + 1, 1, 0x5a);
	assert_int_equal(r.f->writes, 0);
	rig_down(&r);

	rig_up(&r, true);
	wr(&r, R_FLAGS + 1, 1, 0x5a);
	assert_int_equal(r.f->cfg[R_FLAGS + 1], 0x5a);
	rig_down(&r);
}

/* XSA-128: no fresh host value, no host write. */
static void test_no_host_write_without_read(void **state)
{
	struct rig r;

	rig_up(&r, false);
	r.f->fail_reads = true;
	wr(&r, R_MIX, 2, 0x5566);
	assert_int_equal(r.f->writes, 0);
	assert_int_equal(r.d->shadow[R_MIX], 0x66); /* the virtual half */
	rig_down(&r);
}

/* A 4-byte write over two 2-byte registers reaches each with its part;
 * a 1-byte write to a 4-byte register gives the hook its byte mask. */
static void test_split_and_masks(void **state)
{
	struct rig r;

	rig_up(&r, false);
	wr(&r, R_MIX, 4, 0x00105566);
	assert_int_equal(r.d->shadow[R_MIX], 0x66);
	assert_int_equal(r.f->cfg[R_MIX + 1], 0x55);
	/* the RW1C bit written 1 goes out as 1, the others as 0 */
	assert_int_equal(r.f->cfg[R_FLAGS], ((0xa0 + R_FLAGS) & 0x0f) | 0x10);
	cfg_shadow_set(r.d, R_HOOK, 4, 0x11223344);
	wr(&r, R_HOOK + 1, 1, 0xab);
	assert_int_equal(hooked.calls, 1);
	assert_int_equal(hooked.old, 0x11223344);
	assert_int_equal(hooked.val, 0xab00);
	assert_int_equal(hooked.mask, 0xff00);
	/* write mask 0xffff: the byte lands, the upper half is read-only */
	assert_int_equal(rd(&r, R_HOOK, 4), 0x1122ab44);
	wr(&r, R_HOOK + 2, 2, 0xffff);
	assert_int_equal(rd(&r, R_HOOK, 4), 0x1122ab44);
	assert_int_equal(hooked.calls, 2);
	/* an unaligned 2-byte read across R_MIX/R_FLAGS */
	assert_int_equal(rd(&r, R_MIX + 1, 2),
			 (uint32_t)r.f->cfg[R_MIX + 1] |
				 (uint32_t)r.f->cfg[R_FLAGS] << 8);
	rig_down(&r);
}

static void test_raw_and_hidden_writes(void **state)
{
	struct rig r;

	rig_up(&r, false);
	wr(&r, RAW, 4, 0x01020304);
	wr(&r, ZERO, 4, 0x01020304);
	assert_int_equal(r.f->writes, 0);
	rig_down(&r);

	rig_up(&r, true);
	wr(&r, RAW, 4, 0x01020304);
	assert_int_equal(r.f->writes, 1);
	assert_int_equal(rd(&r, RAW, 4), 0x01020304);
	wr(&r, ZERO, 4, 0x01020304); /* hidden stays hidden */
	assert_int_equal(r.f->writes, 1);
	rig_down(&r);
}

static void test_place_all_or_nothing(void **state)
{
	static const struct cfg_reg overlap[] = {
		{ "fine", 0x80, 4, .virt = ~0u },
		{ "taken", R_MIX, 2, .virt = 0xffff },
		CFG_REG_END,
	};
	static const struct cfg_reg bad_mask[] = {
		{ "rsvd and write", 0x80, 1, .write = 0x1, .rsvd = 0x1 },
		CFG_REG_END,
	};
	static const struct cfg_reg misaligned[] = {
		{ "odd", 0x81, 2, .virt = 0xffff },
		CFG_REG_END,
	};
	struct rig r;
	unsigned n;

	rig_up(&r, false);
	n = r.d->nslots;
	assert_int_equal(cfg_place(r.d, overlap, 0, -1, 0x100), -EEXIST);
	assert_int_equal(r.d->nslots, n);
	assert_int_equal(r.d->owner[0x80], OWNER_RAW);
	assert_int_equal(cfg_place(r.d, bad_mask, 0, -1, 0x100), -EINVAL);
	assert_int_equal(cfg_place(r.d, misaligned, 0, -1, 0x100), -ERANGE);
	assert_int_equal(cfg_place(r.d, overlap + 0, 0, -1, 0x82), -ERANGE);
	assert_int_equal(r.d->nslots, n);
	rig_down(&r);
}

/* ---- counters ---- */

static unsigned log_lines;

static void count_sink(enum ptdm_log_level lvl, const char *line, void *o)
{
	log_lines++;
}

static uint64_t dropped_by(struct rig *r, enum ptdm_drop_reason why)
{
	struct ptdm_dev_stats st;

	ptdm_dev_stats(r->d, &st);
	return st.dropped_by[why];
}

static void test_counts_accesses_and_drops(void **state)
{
	struct rig r;
	struct ptdm_dev_stats st;
	uint32_t v;

	rig_up(&r, false);
	rd(&r, R_MIX, 2);
	rd(&r, R_MIX, 4);
	assert_int_equal(ptdm_cfg_read(r.d, 0x3, 3, &v), -EINVAL); /* refused */
	wr(&r, R_MIX, 2, 0x5566); /* nothing dropped */
	ptdm_dev_stats(r.d, &st);
	assert_int_equal(st.cfg_reads, 2);
	assert_int_equal(st.cfg_writes, 1);
	assert_int_equal(st.dropped, 0);

	/* read-only bits changed: the upper half of "hooked" */
	wr(&r, R_HOOK, 4, 0xffff0000 | (rd(&r, R_HOOK, 4) & 0xffff));
	assert_int_equal(dropped_by(&r, PTDM_DROP_READONLY), 1);
	/* written with the value they have: nothing dropped */
	wr(&r, R_HOOK, 4, rd(&r, R_HOOK, 4));
	assert_int_equal(dropped_by(&r, PTDM_DROP_READONLY), 1);
	/* reserved host bits changed (not permissive) */
	wr(&r, R_FLAGS + 1, 1, (uint32_t)~r.f->cfg[R_FLAGS + 1] & 0xff);
	assert_int_equal(dropped_by(&r, PTDM_DROP_RESERVED), 1);
	/* a status register: 0 in read-only host bits is no drop */
	wr(&r, R_FLAGS, 1, 0x00);
	assert_int_equal(dropped_by(&r, PTDM_DROP_READONLY), 1);
	/* a field no rule covers, a hidden one (0 there changes nothing) */
	wr(&r, RAW, 1, 0x12);
	wr(&r, ZERO, 2, 0x1);
	wr(&r, ZERO, 2, 0x0);
	assert_int_equal(dropped_by(&r, PTDM_DROP_NO_RULE), 1);
	assert_int_equal(dropped_by(&r, PTDM_DROP_HIDDEN), 1);
	/* XSA-128: the host cannot be read, the host half is dropped */
	r.f->fail_reads = true;
	wr(&r, R_MIX, 2, 0x7788);
	assert_int_equal(dropped_by(&r, PTDM_DROP_NO_HOST_VALUE), 1);
	r.f->fail_reads = false;
	/* one write over a read-only register and a field no rule covers:
	 * one dropped write, counted under both reasons */
	ptdm_dev_stats(r.d, &st);
	wr(&r, R_READ, 2, 0x1200);
	{
		struct ptdm_dev_stats st2;

		ptdm_dev_stats(r.d, &st2);
		assert_int_equal(st2.dropped, st.dropped + 1);
		assert_int_equal(st2.dropped_by[PTDM_DROP_READONLY],
				 st.dropped_by[PTDM_DROP_READONLY] + 1);
		assert_int_equal(st2.dropped_by[PTDM_DROP_NO_RULE],
				 st.dropped_by[PTDM_DROP_NO_RULE] + 1);
	}
	assert_int_equal(dropped_by(&r, PTDM_DROP_DECODE_OFF), 0);
	rig_down(&r);
}

/* A host that refuses a config write during a guest write: counted, and
 * logged at most 10 times a second however often the guest repeats it. */
static void test_host_write_failure_counted_and_limited(void **state)
{
	struct rig r;
	struct ptdm_dev_stats st;

	rig_up(&r, true);
	log_lines = 0;
	ptdm_log_set_sink(count_sink, NULL);
	ptdm_log_set_level(PTDM_LOG_WARN);
	r.f->fail_writes = true;
	for (unsigned i = 0; i < 1000; i++) {
		wr(&r, R_MIX, 2, 0x5500 + (i & 0xff));
		wr(&r, RAW, 1, i & 0xff);
	}
	ptdm_log_set_sink(NULL, NULL);
	ptdm_log_set_level(PTDM_LOG_ERR);
	ptdm_dev_stats(r.d, &st);
	assert_int_equal(st.host_cfg_write_errors, 2000);
	assert_int_equal(st.cfg_writes, 2000);
	assert_true(log_lines >= 1);
	assert_true(log_lines <= 12);
	rig_down(&r);
}

/* ---- trace ---- */

struct trace_log {
	unsigned n;
	struct ptdm_cfg_trace t[8];
};

static void on_trace(void *opaque, const struct ptdm_cfg_trace *t)
{
	struct trace_log *l = opaque;

	if (l->n < 8)
		l->t[l->n] = *t;
	l->n++;
}

static void test_trace_names_rule_of_drop(void **state)
{
	struct rig r;
	struct trace_log l = { 0 };
	uint32_t before;

	rig_up(&r, false);
	ptdm_dev_set_trace(r.d, on_trace, &l);
	before = rd(&r, R_HOOK, 4);
	wr(&r, R_HOOK, 4, 0xffff0000 | 0x1234);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.t[0].reg, "hooked");
	assert_null(l.t[0].cap);
	assert_int_equal(l.t[0].off, R_HOOK);
	assert_int_equal(l.t[0].len, 4);
	assert_int_equal(l.t[0].old_val, before);
	assert_int_equal(l.t[0].new_val, (before & 0xffff0000) | 0x1234);
	assert_int_equal(l.t[0].val, 0xffff1234);
	assert_true(l.t[0].outcome & PTDM_TRACE_VIRTUAL);
	assert_true(l.t[0].outcome & PTDM_TRACE_DROPPED);
	assert_int_equal(l.t[0].reason, PTDM_DROP_READONLY);
	assert_non_null(strstr(l.t[0].rule, "read-only"));

	/* a write over two registers: one line each, the host one reached
	 * the host */
	l.n = 0;
	wr(&r, R_MIX, 4, 0x00005566);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.t[0].reg, "mix");
	assert_int_equal(l.t[0].outcome, PTDM_TRACE_HOST | PTDM_TRACE_VIRTUAL);
	assert_null(l.t[0].rule);
	assert_int_equal(l.t[0].new_val, 0x5566);
	assert_string_equal(l.t[1].reg, "flags");
	assert_int_equal(l.t[1].off, R_FLAGS);
	assert_int_equal(l.t[1].len, 2);

	/* no rule: dropped, named */
	l.n = 0;
	wr(&r, RAW, 2, 0xbeef);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.t[0].reg, "(no rule)");
	assert_int_equal(l.t[0].outcome, PTDM_TRACE_DROPPED);
	assert_int_equal(l.t[0].reason, PTDM_DROP_NO_RULE);
	assert_non_null(strstr(l.t[0].rule, "permissive"));
	assert_int_equal(l.t[0].old_val, l.t[0].new_val);

	/* reserved */
	l.n = 0;
	wr(&r, R_FLAGS + 1, 1, (uint32_t)~r.f->cfg[R_FLAGS + 1] & 0xff);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.t[0].reason, PTDM_DROP_RESERVED);
	assert_non_null(strstr(l.t[0].rule, "reserved"));

	/* host refused: flagged */
	l.n = 0;
	r.f->fail_writes = true;
	ptdm_log_set_sink(count_sink, NULL);
	wr(&r, R_MIX + 1, 1, 0x01);
	ptdm_log_set_sink(NULL, NULL);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.t[0].outcome, PTDM_TRACE_HOST_ERROR);

	/* off: no more calls, and the counters still count */
	ptdm_dev_set_trace(r.d, NULL, NULL);
	l.n = 0;
	wr(&r, RAW, 2, 0xbeef);
	assert_int_equal(l.n, 0);
	assert_int_equal(dropped_by(&r, PTDM_DROP_NO_RULE), 2);
	rig_down(&r);
}

static void test_drop_reason_names(void **state)
{
	for (int i = 0; i < PTDM_DROP_NR; i++) {
		assert_non_null(ptdm_drop_reason_name(i));
		assert_string_not_equal(ptdm_drop_reason_name(i), "unknown");
	}
	assert_string_equal(ptdm_drop_reason_name(PTDM_DROP_NR), "unknown");
	assert_string_equal(ptdm_drop_reason_name(PTDM_DROP_D3), "not in D0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_merge),
		cmocka_unit_test(test_absent_past_cfg_size),
		cmocka_unit_test(test_generic_write),
		cmocka_unit_test(test_no_host_write_without_read),
		cmocka_unit_test(test_split_and_masks),
		cmocka_unit_test(test_raw_and_hidden_writes),
		cmocka_unit_test(test_place_all_or_nothing),
		cmocka_unit_test(test_counts_accesses_and_drops),
		cmocka_unit_test(test_host_write_failure_counted_and_limited),
		cmocka_unit_test(test_trace_names_rule_of_drop),
		cmocka_unit_test(test_drop_reason_names),
	};

	ptdm_log_set_level(PTDM_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
