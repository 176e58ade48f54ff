/*
 * test_log.c - the logging guards: once is once, the rate limit bounds a
 * flood, errors format with their codes.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "ptdm/err.h"
#include "ptdm/log.h"

static void test_once(void **state)
{
	bool flag = false;

	th_log_capture();
	for (int i = 0; i < 100; i++)
		PTDM_LOG_ONCE(flag, PTDM_LOG_WARN, "hello %d", i);
	assert_int_equal(th_log_lines(), 1);
	assert_string_equal(th_log_last(), "hello 0");
	ptdm_log_set_sink(NULL, NULL);
}

static void test_ratelimit_bounds_flood(void **state)
{
	struct ptdm_ratelimit rl = { 0 };

	th_log_capture();
	for (int i = 0; i < 100000; i++)
		ptdm_log_ratelimited(&rl, PTDM_LOG_WARN, "bad access %d", i);
	/* one window: the burst and nothing more */
	assert_true(th_log_lines() <= 11);
	assert_true(th_log_lines() >= 10);
	ptdm_log_set_sink(NULL, NULL);
}

static void test_level_filter(void **state)
{
	th_log_capture();
	ptdm_log_set_level(PTDM_LOG_WARN);
	ptdm_log(PTDM_LOG_DEBUG, "quiet");
	ptdm_log(PTDM_LOG_ERR, "loud");
	assert_int_equal(th_log_lines(), 1);
	ptdm_log_set_sink(NULL, NULL);
}

static void test_errf(void **state)
{
	struct ptdm_err e = { "" };

	assert_int_equal(ptdm_errf(&e, -EINVAL, "%s:%d: bad", "f", 3), -EINVAL);
	assert_string_equal(e.msg, "f:3: bad");
	assert_int_equal(ptdm_errf(NULL, -ENOENT, "x"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_ratelimit_bounds_flood),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_errf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
