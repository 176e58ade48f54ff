/*
 * sandbox.h - what `ptdm serve` gives up once its devices are open
 * (sandbox.c, docs/security.md "The sandbox"): its user (--user NAME), every
 * capability but CAP_IPC_LOCK where VFIO DMA may still be pinned, new
 * privileges (PR_SET_NO_NEW_PRIVS), and every syscall and VFIO/Xen ioctl
 * the serving loop does not use (a libseccomp filter, when built with it).
 * On by default; --sandbox=off keeps everything and says so.
 */
#ifndef PTDM_CLI_SANDBOX_H
#define PTDM_CLI_SANDBOX_H

#include <stdbool.h>

struct server;

/*
 * Take `--sandbox=on|off` (or `--sandbox on|off`) and `--user NAME` out of
 * argv wherever they are before --mpqemu-exec (the rest is the VMM's; argc updated, argv kept NULL-terminated).
 * 0, or -1 with the reason on stderr (a usage error).
 */
int sandbox_take_options(int *argc, char **argv);

/*
 * After setup, before the loop: drop what the devices served by s no longer
 * need.  child: a VMM was started (--mpqemu-exec) and must still be waited
 * for and signalled.  0, or -1 with the reason on stderr (then serving
 * must not start: a sandbox asked for and not in place is an error).
 */
int sandbox_enter(struct server *s, bool child);

#endif
