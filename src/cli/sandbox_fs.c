/*
 * sandbox_fs.c - the file-system part of `ptdm serve`'s sandbox: a
 * Landlock ruleset (Linux 5.13+) entered after the user and capabilities
 * are dropped and before the seccomp filter (sandbox.c).
 *
 * Why Landlock and not a mount namespace: it needs no privilege, it is
 * per-process (the VMM a --mpqemu-exec started before it is untouched),
 * and a hot-add can still reach the /dev/vfio/N and sysfs files that
 * appear later.  Even without --user, ptdm keeps root's uid, so without
 * this every file root owns stays writable to a guest that takes over
 * the loop - and the seccomp filter lets a serving loop open any file
 * read-only (the reserve fd's open of /dev/null cannot be told apart).
 *
 * What stays reachable (everything else: EACCES), path by path:
 *   always          /dev/null read (vfu_server.c's reserve fd); the
 *                   directories of the sockets it serves: removing files
 *                   (its sockets, at removal and exit); the directories
 *                   of --dump-guest/--dump-host files: creating and
 *                   writing files
 *   VFIO            /dev/vfio, /dev/iommu read, write, ioctl; /sys read
 *   Xen             /dev/xen, /proc/xen read, write, ioctl; /sys read and
 *                   write (the sysfs backend writes config)
 *   control socket  / read (device-add and device-load name image and
 *                   state files at run time); the control socket's
 *                   directory: creating sockets and files, writing,
 *                   removing (device-add sockets, device-save files and
 *                   ptdm-xen-dm's state files live there)
 * Nothing is executable; on ABI 4+ no TCP bind or connect; on ABI 6+ no
 * abstract UNIX socket outside and, unless a VMM child is to be
 * signalled, no signal to another process.  Rights the running kernel's
 * ABI lacks are not asked for (an older kernel restricts less, never
 * fails); a kernel without Landlock is said once in the sandbox's log line.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/sandbox.h"
#include "cli/serve.h"

/* rights newer than Debian 12's linux-libc-dev (6.1) */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#define LL_NET_BIND_TCP (1ULL << 0)        /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

#define R_READ LANDLOCK_ACCESS_FS_READ_FILE
#define R_LIST (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define R_DEV (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	       LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define R_SYSFS_RW (R_LIST | LANDLOCK_ACCESS_FS_WRITE_FILE)
#define R_UNLINK LANDLOCK_ACCESS_FS_REMOVE_FILE
#define R_WRITE_NEW (LANDLOCK_ACCESS_FS_MAKE_REG | \
		     LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)
#define R_RUNDIR (R_WRITE_NEW | R_LIST | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
		  LANDLOCK_ACCESS_FS_REMOVE_FILE)
/* what may be asked of a rule on a file rather than a directory */
#define R_ON_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
		   LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
		   LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* struct landlock_ruleset_attr as of ABI 6; its size tells the kernel
 * which fields we fill */
struct ll_ruleset {
	uint64_t fs, net, scoped;
};

static int ll_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0,
			 LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? 0 : (int)v;
}

/* every file-system right this ABI knows */
static uint64_t fs_rights(int abi)
{
	uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1 */

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

struct ruleset {
	int fd;
	uint64_t handled;
	unsigned rules;
};

/* Allow rights beneath path (or on it, if a file).  A path that is not
 * there, or that the (dropped) user cannot reach, is skipped: it could
 * not be used through the rule either. */
static int allow(struct ruleset *rs, const char *path, uint64_t rights)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC), rc;

	if (fd < 0)
		return errno == ENOENT || errno == EACCES ? 0 : -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	pb.parent_fd = fd;
	pb.allowed_access = rights & rs->handled &
			    (S_ISDIR(st.st_mode) ? ~0ull : R_ON_FILE);
	rc = !pb.allowed_access ? 0
	     : syscall(SYS_landlock_add_rule, rs->fd, LANDLOCK_RULE_PATH_BENEATH,
		       &pb, 0) ? -errno : 0;
	close(fd);
	rs->rules += !rc && pb.allowed_access;
	return rc;
}

/* The directory a file path names: "." for a bare name. */
static void dir_of(char *out, size_t n, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, n, ".");
	else if (slash == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(slash - path), path);
}

static int allow_dir_of(struct ruleset *rs, const char *file, uint64_t rights)
{
	char dir[4096];

	if (!file || !*file)
		return 0;
	dir_of(dir, sizeof(dir), file);
	return allow(rs, dir, rights);
}

static int add_rules(struct ruleset *rs, const struct server *s, unsigned need)
{
	int rc = allow(rs, "/dev/null", R_READ);

#ifdef PTDM_SANITIZED
	/* LeakSanitizer's exit-time check reads /proc/self/maps (a test
	 * build: meson.build leaves the seccomp filter out of it too) */
	rc = rc ? rc : allow(rs, "/proc", R_LIST);
#endif

	for (const struct served *d = s->devs; !rc && d; d = d->next) {
		rc = allow_dir_of(rs, d->path, R_UNLINK);
		rc = rc ? rc : allow_dir_of(rs, d->dump_guest, R_WRITE_NEW);
		rc = rc ? rc : allow_dir_of(rs, d->dump_host, R_WRITE_NEW);
	}
	if (!rc && (need & NEED_VFIO)) {
		rc = allow(rs, "/dev/vfio", R_DEV);
		rc = rc ? rc : allow(rs, "/dev/iommu", R_DEV);
		rc = rc ? rc : allow(rs, "/sys", R_LIST);
	}
	if (!rc && (need & NEED_XEN)) {
		rc = allow(rs, "/dev/xen", R_DEV);
		rc = rc ? rc : allow(rs, "/proc/xen", R_DEV);
		rc = rc ? rc : allow(rs, "/sys", R_SYSFS_RW);
	}
	if (!rc && (need & NEED_HOTADD)) {
		rc = allow(rs, "/", R_LIST);
		rc = rc ? rc : allow_dir_of(rs, ctl_server_path(s), R_RUNDIR);
	}
	return rc;
}

static char hint[256];

int sandbox_fs_enter(struct server *s, unsigned need, char *said,
		     size_t n)
{
	int abi = ll_abi();
	struct ll_ruleset attr = { .fs = fs_rights(abi) };
	struct ruleset rs = { .fd = -1, .handled = attr.fs };
	size_t size = sizeof(attr.fs);
	int rc;

	if (!abi) {
		snprintf(said, n, "no Landlock in this kernel: files not "
			 "restricted");
		return 0;
	}
	if (abi >= 4) {
		attr.net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX |
			      (need & NEED_CHILD ? 0 : LL_SCOPE_SIGNAL);
		size = sizeof(attr);
	}
	rs.fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs.fd < 0) {
		fprintf(stderr, "ptdm serve: sandbox: landlock_create_ruleset: "
				"%s\n", strerror(errno));
		return -1;
	}
	rc = add_rules(&rs, s, need);
	if (!rc && syscall(SYS_landlock_restrict_self, rs.fd, 0))
		rc = -errno;
	close(rs.fd);
	if (rc) {
		fprintf(stderr, "ptdm serve: sandbox: Landlock: %s\n",
			strerror(-rc));
		return -1;
	}
	if (need & NEED_HOTADD) {
		char dir[sizeof(((struct served *)0)->path)];

		dir_of(dir, sizeof(dir), ctl_server_path(s) ? ctl_server_path(s)
							    : "");
		snprintf(hint, sizeof(hint), " (the sandbox lets ptdm create "
			 "files only in %s, its control socket's directory: "
			 "docs/security.md)", dir);
		s->fs_hint = hint;
	}
	snprintf(said, n, "files by Landlock ABI %d (%u paths%s)", abi,
		 rs.rules, need & NEED_HOTADD ? ", every file readable" : "");
	return 0;
}
