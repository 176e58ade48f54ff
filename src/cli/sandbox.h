/*
 * sandbox.h - what `ptdm serve` gives up once its devices are open
 * (sandbox.c, docs/security.md "The sandbox"): its user (--user NAME), every
 * capability but CAP_IPC_LOCK where VFIO DMA may still be pinned, new
 * privileges (PR_SET_NO_NEW_PRIVS), every file it will not use (Landlock,
 * sandbox_fs.c), and every syscall and VFIO/Xen ioctl
 * the serving loop does not use (a libseccomp filter, when built with it).
 * On by default; --sandbox=off keeps everything and says so.
 */
#ifndef PTDM_CLI_SANDBOX_H
#define PTDM_CLI_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

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

/* ---- between sandbox.c and sandbox_fs.c ---- */

/* What the served devices need, one bit a kind (sandbox.c's tables). */
enum {
	NEED_LOOP = 1u << 0,   /* every serving process */
	NEED_HOTADD = 1u << 1, /* a control socket: device-add opens, listens */
	NEED_VFIO = 1u << 2,   /* a VFIO device (or one may be hot-added) */
	NEED_XEN = 1u << 3,    /* a Xen ioreq server */
	NEED_CHILD = 1u << 4,  /* --mpqemu-exec: wait for and signal the VMM */
	NEED_DUMPS = 1u << 5,  /* --dump-guest/--dump-host written at removal */
};

/*
 * The Landlock ruleset for need (sandbox_fs.c): entered for the calling
 * thread (ptdm serve has one); with a control socket s->fs_hint then says
 * where files may be made.  0 with said set to a few words for the
 * sandbox's log line (also when the kernel has no Landlock), or -1 with
 * the reason on stderr.
 */
int sandbox_fs_enter(struct server *s, unsigned need, char *said,
		     size_t n);

#endif
