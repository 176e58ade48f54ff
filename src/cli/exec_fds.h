/*
 * exec_fds.h - the fd placeholders of `ptdm serve ... --mpqemu-exec CMD`.
 *
 * ptdm makes one socketpair per device it serves to the VMM it starts and
 * puts the VMM's end of each in CMD's arguments: "{fd}" for one device,
 * "{fd.F}" for function F of a slot served as BB:DD.* (QEMU 7.2:
 * -device x-pci-proxy-dev,addr=4.0,multifunction=on,fd={fd.0}
 * -device x-pci-proxy-dev,addr=4.1,fd={fd.1}).  Each socket serves one
 * x-pci-proxy-dev, so every device served must be named exactly once and
 * nothing else may be named; exec_fds_check() says what is wrong before
 * anything is opened or started.
 */
#ifndef PTDM_CLI_EXEC_FDS_H
#define PTDM_CLI_EXEC_FDS_H

#include <stdbool.h>

#include "ptdm/err.h"

/*
 * argv[0..n): CMD and its arguments.  slot: functions are served
 * (fns: a bit per function number, 0-7); else one device, named "{fd}".
 * 0, or -EINVAL with err saying which placeholder is wrong or missing.
 */
int exec_fds_check(char *const *argv, int n, bool slot, unsigned fns,
		   struct ptdm_err *err);

/*
 * A NULL-terminated copy of argv[0..n) with "{fd}" replaced by one and
 * "{fd.F}" by fn_fd[F] (fn_fd: 8 entries, or NULL with no slot), for a
 * command exec_fds_check() accepted.  NULL when out of memory; the
 * strings it makes are meant for execvp and never freed.
 */
char **exec_fds_apply(char *const *argv, int n, int one, const int *fn_fd);

#endif
