/*
 * exec_fds.c - the fd placeholders of --mpqemu-exec (see exec_fds.h).
 *
 * A placeholder is "{fd}" or "{fd.F}", F one digit 0-7, anywhere in an
 * argument (QEMU takes them inside a -device string).  Anything else that
 * starts "{fd." is a mistake said as such, not passed on for QEMU to
 * refuse with "unable to parse fd".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/exec_fds.h"

#define NFUNCS 8

enum ph { PH_NONE, PH_ONE, PH_FN, PH_BAD };

/* The first placeholder in s at or after *at: its kind, start, length and
 * (PH_FN) function; *at moves past it. */
static enum ph next_ph(const char **at, const char **start, size_t *len,
		       int *fn)
{
	const char *p = *at;

	while ((p = strstr(p, "{fd"))) {
		*start = p;
		if (p[3] == '}') {
			*len = 4;
			*at = p + 4;
			return PH_ONE;
		}
		if (p[3] == '.') {
			if (p[4] >= '0' && p[4] <= '7' && p[5] == '}') {
				*fn = p[4] - '0';
				*len = 6;
				*at = p + 6;
				return PH_FN;
			}
			*len = strcspn(p, "}") + (strchr(p, '}') ? 1 : 0);
			*at = p + 4;
			return PH_BAD;
		}
		p += 3; /* "{fdx": not ours */
	}
	return PH_NONE;
}

/* "0, 1 and 3" */
static void list_fns(char *out, size_t n, unsigned fns)
{
	int k = 0, left = __builtin_popcount(fns);

	out[0] = 0;
	for (int f = 0; f < NFUNCS; f++) {
		if (!(fns & (1u << f)))
			continue;
		left--;
		k += snprintf(out + k, n - (size_t)k, "%s%d",
			      !k ? "" : left ? ", " : " and ", f);
		if (k < 0 || (size_t)k >= n)
			return;
	}
}

int exec_fds_check(char *const *argv, int n, bool slot, unsigned fns,
		   struct ptdm_err *err)
{
	unsigned seen = 0, ones = 0;
	char have[64];

	list_fns(have, sizeof(have), fns);
	for (int i = 0; i < n; i++) {
		const char *at = argv[i], *start;
		size_t len;
		int fn = 0;
		enum ph k;

		while ((k = next_ph(&at, &start, &len, &fn)) != PH_NONE) {
			if (k == PH_BAD)
				return ptdm_errf(err, -EINVAL, "--mpqemu-exec: "
						 "\"%.*s\" in \"%s\": want {fd} "
						 "or {fd.F}, F a function "
						 "number 0-7", (int)len,
						 start, argv[i]);
			if (k == PH_ONE && slot)
				return ptdm_errf(err, -EINVAL, "--mpqemu-exec: "
						 "{fd} in \"%s\": functions %s "
						 "are served, one socket each: "
						 "name them {fd.F} (function "
						 "F's x-pci-proxy-dev)",
						 argv[i], have);
			if (k == PH_FN && !slot)
				return ptdm_errf(err, -EINVAL, "--mpqemu-exec: "
						 "{fd.%d} in \"%s\": one device "
						 "is served, its socket is {fd} "
						 "({fd.F} is for the functions "
						 "of BB:DD.*)", fn, argv[i]);
			if (k == PH_FN && !(fns & (1u << fn)))
				return ptdm_errf(err, -EINVAL, "--mpqemu-exec: "
						 "{fd.%d} in \"%s\": function "
						 "%d of the slot is not served "
						 "(it has %s)", fn, argv[i], fn,
						 have);
			if ((k == PH_ONE && ones) ||
			    (k == PH_FN && (seen & (1u << fn))))
				return ptdm_errf(err, -EINVAL, "--mpqemu-exec: "
						 "%.*s given twice: a socket "
						 "serves one x-pci-proxy-dev",
						 (int)len, start);
			if (k == PH_ONE)
				ones++;
			else
				seen |= 1u << fn;
		}
	}
	if (!slot && !ones)
		return ptdm_errf(err, -EINVAL, "--mpqemu-exec: no {fd} in the "
				 "command: the VMM's x-pci-proxy-dev needs "
				 "fd={fd}");
	for (int f = 0; slot && f < NFUNCS; f++)
		if ((fns & (1u << f)) && !(seen & (1u << f)))
			return ptdm_errf(err, -EINVAL, "--mpqemu-exec: function "
					 "%d is served but the command has no "
					 "{fd.%d} (one x-pci-proxy-dev with "
					 "fd={fd.%d} a function)", f, f, f);
	return 0;
}

char **exec_fds_apply(char *const *argv, int n, int one, const int *fn_fd)
{
	char **out = calloc((size_t)n + 1, sizeof(*out));

	for (int i = 0; out && i < n; i++) {
		const char *at = argv[i], *start, *from = argv[i];
		size_t len, cap = strlen(argv[i]) + 1, used = 0;
		enum ph k;
		int fn = 0;
		char *s;

		if (!strstr(argv[i], "{fd")) {
			out[i] = argv[i];
			continue;
		}
		/* every placeholder is 4 or more bytes, a number 5 at most */
		cap += strlen(argv[i]) * 2;
		s = malloc(cap);
		if (!s)
			return NULL; /* the process exits right after */
		while ((k = next_ph(&at, &start, &len, &fn)) != PH_NONE) {
			int fd = k == PH_ONE ? one : k == PH_FN && fn_fd
				 ? fn_fd[fn] : -1;

			if (k == PH_BAD)
				continue; /* refused by exec_fds_check */
			used += (size_t)snprintf(s + used, cap - used, "%.*s%d",
						 (int)(start - from), from, fd);
			from = start + len;
		}
		snprintf(s + used, cap - used, "%s", from);
		out[i] = s;
	}
	return out;
}
