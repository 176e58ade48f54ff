/*
 * test_dmrec.c - ptdm's section of a device model save record
 * (src/xendm/dmrec.c, what ptdm-xen-dm appends to QEMU's
 * xen-save-devices-state file): a round trip, a record without a section,
 * and hostile sections: every byte flipped (the hash), every truncation
 * (the footer), and with the hash recomputed so the parser's own checks
 * are reached: too many devices, ids that hide bytes, lengths past the
 * end, padding, trailing bytes, duplicates, bad slots.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dmrec.h"

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static const uint8_t blob_a[13] = "state-of-a..";
static const uint8_t blob_b[40] = { 1, 2, 3, 4, 5 };

/* a section of two devices (13 and 40 bytes: padding on the first) */
static uint8_t *make(size_t *len)
{
	struct dmrec_dev d[2] = {
		{ .id = "ptdm-img-05", .slot = 5, .blob = blob_a,
		  .len = sizeof(blob_a) },
		{ .id = "ptdm-img-06", .slot = 6, .blob = blob_b,
		  .len = sizeof(blob_b) },
	};
	uint8_t *p;

	assert_int_equal(dmrec_build(d, 2, &p, len), 0);
	return p;
}

static int parse(uint8_t *p, size_t len, unsigned *n, struct dmrec_dev *d)
{
	char why[200] = "";
	uint64_t sec = 0;
	int rc = dmrec_footer(p + len - DMREC_FOOT_LEN, len, &sec);

	if (rc != 1)
		return rc == 0 ? -ENOENT : rc;
	rc = dmrec_parse(p, (size_t)sec, p + len - DMREC_FOOT_LEN, d, n, why,
			 sizeof(why));
	if (rc)
		assert_true(why[0]); /* always says why */
	return rc;
}

/* the hash over a changed section, so the structural checks are reached */
static void rehash(uint8_t *p, size_t len)
{
	uint64_t sec;

	memcpy(&sec, p + len - DMREC_FOOT_LEN, 8);
	sec = fnv(p, (size_t)sec);
	memcpy(p + len - DMREC_FOOT_LEN + 8, &sec, 8);
}

static void test_round_trip(void **st)
{
	struct dmrec_dev d[DMREC_MAX_DEVS];
	unsigned n = 0;
	size_t len;
	uint8_t *p = make(&len), *rec;

	assert_int_equal(len, 16 + 48 + 16 + 48 + 40 + DMREC_FOOT_LEN);
	assert_int_equal(parse(p, len, &n, d), 0);
	assert_int_equal(n, 2);
	assert_string_equal(d[0].id, "ptdm-img-05");
	assert_int_equal(d[0].slot, 5);
	assert_int_equal(d[0].len, sizeof(blob_a));
	assert_memory_equal(d[0].blob, blob_a, sizeof(blob_a));
	assert_string_equal(d[1].id, "ptdm-img-06");
	assert_memory_equal(d[1].blob, blob_b, sizeof(blob_b));
	/* after QEMU's bytes, as in the file: found from the end */
	rec = malloc(1000 + len);
	memset(rec, 'Q', 1000);
	memcpy(rec + 1000, p, len);
	{
		uint64_t sec = 0;

		assert_int_equal(dmrec_footer(rec + 1000 + len - DMREC_FOOT_LEN,
					      1000 + len, &sec), 1);
		assert_int_equal(sec, len - DMREC_FOOT_LEN);
	}
	free(rec);
	free(p);
	/* no devices is a section too */
	assert_int_equal(dmrec_build(NULL, 0, &p, &len), 0);
	assert_int_equal(parse(p, len, &n, d), 0);
	assert_int_equal(n, 0);
	free(p);
}

static void test_no_section(void **st)
{
	uint8_t rec[64];
	uint64_t sec = 7;

	memset(rec, 0, sizeof(rec)); /* QEMU_VM_EOF and friends */
	assert_int_equal(dmrec_footer(rec + 40, 64, &sec), 0);
	assert_int_equal(sec, 7);
	assert_int_equal(dmrec_footer(rec, 10, &sec), 0); /* shorter */
}

static void test_every_byte_flipped(void **st)
{
	struct dmrec_dev d[DMREC_MAX_DEVS];
	unsigned n;
	size_t len;
	uint8_t *p = make(&len);

	for (size_t i = 0; i < len; i++)
		for (unsigned bit = 0; bit < 8; bit += 3) {
			int rc;

			p[i] ^= (uint8_t)(1u << bit);
			rc = parse(p, len, &n, d);
			/* the footer magic itself: then it is no section */
			if (i >= len - 8)
				assert_int_equal(rc, -ENOENT);
			else
				assert_int_equal(rc, -EINVAL);
			p[i] ^= (uint8_t)(1u << bit);
		}
	free(p);
}

static void test_truncated(void **st)
{
	size_t len;
	uint8_t *p = make(&len);
	uint64_t sec;

	/* the record cut anywhere but keeping the footer: the footer's
	 * length no longer fits, or the hash fails */
	for (size_t cut = 1; cut < len - DMREC_FOOT_LEN; cut++) {
		struct dmrec_dev d[DMREC_MAX_DEVS];
		unsigned n;
		char why[200];
		int rc = dmrec_footer(p + len - DMREC_FOOT_LEN, len - cut, &sec);

		if (rc == 1)
			rc = dmrec_parse(p + cut, (size_t)sec,
					 p + len - DMREC_FOOT_LEN, d, &n, why,
					 sizeof(why));
		assert_int_equal(rc, -EINVAL);
	}
	/* an impossible length in the footer */
	sec = (uint64_t)DMREC_MAX + 8;
	memcpy(p + len - DMREC_FOOT_LEN, &sec, 8);
	assert_int_equal(dmrec_footer(p + len - DMREC_FOOT_LEN, ~0ull, &sec),
			 -EINVAL);
	sec = 8;
	memcpy(p + len - DMREC_FOOT_LEN, &sec, 8);
	assert_int_equal(dmrec_footer(p + len - DMREC_FOOT_LEN, len, &sec),
			 -EINVAL);
	free(p);
}

/* the hash recomputed: the parser's own checks */
static void test_hostile_bodies(void **st)
{
	struct dmrec_dev d[DMREC_MAX_DEVS];
	unsigned n;
	size_t len;
	uint8_t *p;
	uint32_t v32;
	uint64_t v64;

	/* too many devices */
	p = make(&len);
	v32 = DMREC_MAX_DEVS + 1;
	memcpy(p + 8, &v32, 4);
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	/* the reserved word */
	p = make(&len);
	p[12] = 1;
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	/* one device announced, two there: bytes after the devices */
	p = make(&len);
	v32 = 1;
	memcpy(p + 8, &v32, 4);
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	/* three announced, two there */
	p = make(&len);
	v32 = 3;
	memcpy(p + 8, &v32, 4);
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	/* a byte hidden after the id's NUL, an id with no NUL, a bad id */
	p = make(&len);
	p[16 + 20] = 'x';
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	p = make(&len);
	memset(p + 16, 'a', DMREC_ID_LEN);
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	p = make(&len);
	p[16] = '9';
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	/* slot 32, function 8 */
	p = make(&len);
	v32 = 32;
	memcpy(p + 16 + 32, &v32, 4);
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	p = make(&len);
	v32 = 8;
	memcpy(p + 16 + 36, &v32, 4);
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	/* a blob length past the end, and one that wraps */
	for (int k = 0; k < 3; k++) {
		static const uint64_t bad[] = { 1000, ~0ull - 7, 16 + 48 + 40 };

		p = make(&len);
		v64 = bad[k];
		memcpy(p + 16 + 40, &v64, 8);
		rehash(p, len);
		assert_int_equal(parse(p, len, &n, d), -EINVAL);
		free(p);
	}
	/* padding after the 13-byte blob not zero */
	p = make(&len);
	p[16 + 48 + 13] = 1;
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	/* the same id twice; the same slot twice */
	p = make(&len);
	p[16 + 48 + 16 + 10] = '5';
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	p = make(&len);
	v32 = 5;
	memcpy(p + 16 + 48 + 16 + 32, &v32, 4);
	rehash(p, len);
	assert_int_equal(parse(p, len, &n, d), -EINVAL);
	free(p);
	/* build refuses what parse would */
	{
		struct dmrec_dev b = { .id = "9bad", .slot = 5 };

		assert_int_equal(dmrec_build(&b, 1, &p, &len), -EINVAL);
		snprintf(b.id, sizeof(b.id), "ok");
		b.slot = 40;
		assert_int_equal(dmrec_build(&b, 1, &p, &len), -EINVAL);
		b.slot = 5;
		b.len = (size_t)DMREC_MAX + 1;
		assert_int_not_equal(dmrec_build(&b, 1, &p, &len), 0);
		assert_int_equal(dmrec_build(&b, DMREC_MAX_DEVS + 1, &p, &len),
				 -E2BIG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_no_section),
		cmocka_unit_test(test_every_byte_flipped),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_hostile_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
