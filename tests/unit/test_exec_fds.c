/*
 * test_exec_fds.c - the fd placeholders of `ptdm serve --mpqemu-exec`
 * (src/cli/exec_fds.c): {fd} for one device, {fd.F} for each function of
 * BB:DD.*; every refusal before anything starts (a placeholder of the
 * wrong kind, of a function not served, given twice, malformed, a served
 * function with none), and the arguments as the VMM gets them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/exec_fds.h"

/* a writable argv as main() has it (unfree() gives it back) */
static char **mk(const char *const *words)
{
	int n = 0;
	char **v;

	while (words[n])
		n++;
	v = calloc((size_t)n + 1, sizeof(*v));
	assert_non_null(v);
	for (int i = 0; i < n; i++)
		assert_non_null(v[i] = strdup(words[i]));
	return v;
}

#define ARGV(...) mk((const char *const[]){ __VA_ARGS__, NULL })

static void unfree(char **v)
{
	for (int i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* exec_fds_apply's copy: its own strings where it replaced a placeholder */
static void unfree_out(char **out, char **argv)
{
	for (int i = 0; out[i]; i++)
		if (out[i] != argv[i])
			free(out[i]);
	free(out);
}

static int N(char **v)
{
	int n = 0;

	while (v[n])
		n++;
	return n;
}

/* QEMU 7.2 with a slot's functions 0 and 1 at 00:04.0 and 00:04.1 */
static char **two_fns(void)
{
	return ARGV("qemu-system-x86_64", "-device",
		    "x-pci-proxy-dev,addr=4.0,multifunction=on,fd={fd.0}",
		    "-device", "x-pci-proxy-dev,addr=4.1,fd={fd.1}");
}

static void refused(char **argv, int n, bool slot, unsigned fns,
		    const char *words)
{
	struct ptdm_err err = { "" };

	assert_int_equal(exec_fds_check(argv, n, slot, fns, &err), -EINVAL);
	if (!strstr(err.msg, words))
		fail_msg("\"%s\" lacks \"%s\"", err.msg, words);
}

static void test_one_device(void **state)
{
	char **ok = ARGV("qemu", "-device", "x-pci-proxy-dev,fd={fd},addr=4");
	char **none = ARGV("qemu", "-device", "x-pci-proxy-dev,addr=4");
	char **fn = ARGV("qemu", "fd={fd.0}");
	char **twice = ARGV("qemu", "fd={fd}", "fd={fd}");
	struct ptdm_err err = { "" };
	char **out;

	(void)state;
	assert_int_equal(exec_fds_check(ok, N(ok), false, 0, &err), 0);
	out = exec_fds_apply(ok, N(ok), 7, NULL);
	assert_non_null(out);
	assert_string_equal(out[0], "qemu");
	assert_string_equal(out[2], "x-pci-proxy-dev,fd=7,addr=4");
	assert_null(out[3]);
	refused(none, N(none), false, 0, "no {fd} in the command");
	refused(fn, N(fn), false, 0, "{fd.0} in \"fd={fd.0}\": one device");
	refused(twice, N(twice), false, 0, "{fd} given twice");
	unfree_out(out, ok);
	unfree(ok);
	unfree(none);
	unfree(fn);
	unfree(twice);
}

static void test_functions(void **state)
{
	struct ptdm_err err = { "" };
	int fds[8] = { 5, 9, -1, -1, -1, -1, -1, 12 };
	char **out;

	char **two = two_fns();

	(void)state;
	assert_int_equal(exec_fds_check(two, N(two), true, 0x3, &err), 0);
	out = exec_fds_apply(two, N(two), -1, fds);
	assert_non_null(out);
	assert_string_equal(out[2],
			    "x-pci-proxy-dev,addr=4.0,multifunction=on,fd=5");
	assert_string_equal(out[4], "x-pci-proxy-dev,addr=4.1,fd=9");
	assert_ptr_equal(out[1], two[1]); /* no placeholder: as given */
	assert_null(out[5]);
	/* function 1 not served (the slot has 0 and 7) */
	refused(two, N(two), true, 0x81, "function 1 of the slot is not "
		"served (it has 0 and 7)");
	/* function 2 served, named nowhere */
	refused(two, N(two), true, 0x7, "function 2 is served but the "
		"command has no {fd.2}");
	unfree_out(out, two);
	unfree(two);
}

static void test_mistakes(void **state)
{
	char **one = ARGV("qemu", "fd={fd}");
	char **bad = ARGV("qemu", "fd={fd.8}");
	char **bad2 = ARGV("qemu", "fd={fd.0");
	char **bad3 = ARGV("qemu", "fd={fd.01}");
	char **twice = ARGV("qemu", "fd={fd.0}", "x={fd.1},y={fd.0}");
	char **other = ARGV("qemu", "fd={fd.0}", "{fdx} {f} {fd.1}");
	struct ptdm_err err = { "" };
	int fds[8] = { 3, 4, -1, -1, -1, -1, -1, -1 };
	char **out;

	(void)state;
	refused(one, N(one), true, 0x3, "{fd} in \"fd={fd}\": functions 0 "
		"and 1 are served");
	refused(bad, N(bad), true, 0x3, "\"{fd.8}\" in \"fd={fd.8}\": want "
		"{fd} or {fd.F}");
	refused(bad2, N(bad2), true, 0x1, "\"{fd.0\" in");
	refused(bad3, N(bad3), true, 0x1, "\"{fd.01}\"");
	refused(twice, N(twice), true, 0x3, "{fd.0} given twice");
	/* text that only looks like a placeholder is left alone */
	assert_int_equal(exec_fds_check(other, N(other), true, 0x3, &err), 0);
	out = exec_fds_apply(other, N(other), -1, fds);
	assert_non_null(out);
	assert_string_equal(out[1], "fd=3");
	assert_string_equal(out[2], "{fdx} {f} 4");
	unfree_out(out, other);
	unfree(one);
	unfree(bad);
	unfree(bad2);
	unfree(bad3);
	unfree(twice);
	unfree(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_device),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_mistakes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
