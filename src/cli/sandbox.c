/*
 * sandbox.c - `ptdm serve` locks itself down after setup (sandbox.h).
 *
 * Order, each step needing the one before: resolve --user (NSS wants
 * files and sockets); drop every capability from the bounding and ambient
 * sets but the kept ones (needs CAP_SETPCAP, so while still root); change
 * groups, gid and uid, keeping the kept capabilities across setresuid
 * (PR_SET_KEEPCAPS) and then setting exactly them; PR_SET_NO_NEW_PRIVS;
 * the Landlock ruleset (sandbox_fs.c: which files stay reachable, after
 * NSS has had its files); and last the seccomp filter.
 *
 * Kept capability: CAP_IPC_LOCK, and only when a VFIO device is served or
 * a control socket may hot-add one - VFIO pins guest RAM it maps for the
 * device's DMA, accounted against RLIMIT_MEMLOCK without it.  A hot-add
 * after the sandbox opens what the sandbox user may open (for VFIO
 * /dev/vfio/vfio, which is 0666, and /dev/vfio/N, which the admin gives
 * that user as for any unprivileged VMM).  With a control socket in a
 * build with Xen (ptdm-xen-dm hot-adds every device of its domain) the
 * filter also allows libxen's ioctls and CAP_SYS_ADMIN is kept too: a Xen
 * device's sysfs config reads stop at 64 bytes without it.
 *
 * The filter is an allow-list in one table, allowed[] below: one line a
 * syscall, each tagged with what needs it (the loop itself, a control
 * socket's hot-add, VFIO, Xen, a child VMM, dumps written on removal).
 * ioctl is allowed only for the request numbers in ioctls[] (VFIO and
 * iommufd exactly; Xen's privcmd and evtchn by their ioctl type, the whole
 * ABI of those two files).  Anything else traps (SIGSYS): a forbidden
 * ioctl returns EPERM and is logged; any other forbidden syscall is named
 * on stderr and the process exits with 159 (128 + SIGSYS).  A syscall a
 * new feature needs is one line in allowed[]; find it with
 * `strace -f -c ptdm serve ... --sandbox=off`, or run with the sandbox and
 * read the line that names it.
 *
 * PTDM_TEST_FORBIDDEN_SYSCALL=execve|ioctl|open:PATH|create:PATH|tcp
 * (tests/serve/sandbox.py) adds a watch to the loop that makes that call
 * from a loop callback in the first round: the environment of the
 * process, never anything a client sends.  The file system is sandbox_fs.c's
 * (Landlock), entered between the privileges and the filter.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "cli/sandbox.h"
#include "cli/serve.h"
#include "ptdm/log.h"

#ifdef PTDM_HAVE_SECCOMP
#include <linux/vfio.h>
#include <seccomp.h>
#endif

static bool sandbox_off;
static const char *sandbox_user;

int sandbox_take_options(int *argc, char **argv)
{
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i], *val = NULL;
		int used = 1;

		if (!strcmp(a, "--mpqemu-exec")) { /* the rest is the VMM's */
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strncmp(a, "--sandbox=", 10)) {
			val = a + 10;
		} else if (!strcmp(a, "--sandbox") || !strcmp(a, "--user")) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "ptdm serve: %s: wants a value\n", a);
				return -1;
			}
			val = argv[i + 1];
			used = 2;
		} else {
			argv[out++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--user")) {
			if (!*val) {
				fprintf(stderr, "ptdm serve: --user: wants a "
						"user name\n");
				return -1;
			}
			sandbox_user = val;
		} else if (!strcmp(val, "on") || !strcmp(val, "off")) {
			sandbox_off = !strcmp(val, "off");
		} else {
			fprintf(stderr, "ptdm serve: --sandbox %s: want on or "
					"off\n", val);
			return -1;
		}
		i += used - 1;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

/* ---- what the served devices need ---- */

static unsigned needs_of(const struct server *s, bool child)
{
	unsigned need = NEED_LOOP | (child ? NEED_CHILD : 0);

	if (s->control)
		need |= NEED_HOTADD | NEED_VFIO | NEED_DUMPS;
#ifdef PTDM_HAVE_XEN
	/* ptdm-xen-dm starts `serve --control` and device-adds the domain's
	 * devices: a Xen hot-add needs libxen's ioctls */
	if (s->control)
		need |= NEED_XEN;
#endif
	for (const struct served *d = s->devs; d; d = d->next) {
		if (!strcmp(d->od.backend, "vfio"))
			need |= NEED_VFIO;
		if (d->kind == SERVE_XEN)
			need |= NEED_XEN;
		if (d->dump_guest || d->dump_host)
			need |= NEED_DUMPS;
	}
	return need;
}

/* ---- user and capabilities ---- */

static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct c[2] = {
		{ (uint32_t)keep, (uint32_t)keep, 0 },
		{ (uint32_t)(keep >> 32), (uint32_t)(keep >> 32), 0 },
	};

	return (int)syscall(SYS_capset, &h, c);
}

static int drop_privileges(uint64_t keep)
{
	struct passwd *pw = NULL;

	if (sandbox_user) {
		errno = 0;
		pw = getpwnam(sandbox_user);
		if (!pw) {
			fprintf(stderr, "ptdm serve: --user %s: %s\n", sandbox_user,
				errno ? strerror(errno) : "no such user");
			return -1;
		}
		if (pw->pw_uid == 0) {
			fprintf(stderr, "ptdm serve: --user %s: is root; want an "
					"unprivileged user\n", sandbox_user);
			return -1;
		}
	}
	if (geteuid() == 0) {
		/* while CAP_SETPCAP is there: the bounding set, then ambient */
		for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0;
		     cap++)
			if (!(keep >> cap & 1) &&
			    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
				perror("ptdm serve: sandbox: PR_CAPBSET_DROP");
				return -1;
			}
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (pw) {
		if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) {
			perror("ptdm serve: sandbox: PR_SET_KEEPCAPS");
			return -1;
		}
		/* the user's own groups: a group may be how it gets
		 * /dev/vfio/N for a hot-add */
		if (initgroups(pw->pw_name, pw->pw_gid) ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid)) {
			fprintf(stderr, "ptdm serve: --user %s: %s\n", sandbox_user,
				strerror(errno));
			return -1;
		}
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	/* exactly the kept ones, effective and permitted; none inheritable */
	if (set_caps(keep)) {
		perror("ptdm serve: sandbox: capset");
		return -1;
	}
	if (!pw && geteuid() == 0)
		fprintf(stderr, "ptdm serve: sandbox: no --user: serving as root "
				"without capabilities (where the file rules "
				"let it write, files root owns stay writable); "
				"give --user NAME to drop the user too\n");
	return 0;
}

/* ---- the seccomp filter ---- */

#ifdef PTDM_HAVE_SECCOMP

/*
 * The allow-list.  One line a syscall: its name (libseccomp resolves it
 * for this architecture; one this architecture lacks is skipped) and what
 * needs it.  A call is listed in both its classic and its *at/p form
 * (open/openat, epoll_wait/epoll_pwait, poll/ppoll, ...): the architecture
 * decides which one glibc makes, and both are the same power.  ioctl is
 * not here: see ioctls[].
 */
static const struct {
	const char *name;
	unsigned need;
} allowed[] = {
	/* the loop and its framing (util/loop.c, util/msgio.c) */
	{ "epoll_wait", NEED_LOOP },
	{ "epoll_pwait", NEED_LOOP },
	{ "epoll_ctl", NEED_LOOP },
	{ "read", NEED_LOOP },
	{ "write", NEED_LOOP },
	{ "pread64", NEED_LOOP },   /* image/sysfs config, VFIO regions */
	{ "pwrite64", NEED_LOOP },
	{ "recvfrom", NEED_LOOP },
	{ "recvmsg", NEED_LOOP },   /* messages with fds (SCM_RIGHTS) */
	{ "sendto", NEED_LOOP },    /* send() */
	{ "sendmsg", NEED_LOOP },
	{ "accept4", NEED_LOOP },   /* vfio-user and control listeners */
	{ "shutdown", NEED_LOOP },
	{ "getsockopt", NEED_LOOP },
	{ "close", NEED_LOOP },
	{ "fcntl", NEED_LOOP },     /* O_NONBLOCK, seals, F_GETFD checks */
	{ "fstat", NEED_LOOP },     /* fds the client hands over */
	{ "newfstatat", NEED_LOOP },
	{ "lseek", NEED_LOOP },
	{ "readlink", NEED_LOOP },  /* /proc/self/fd/N: is it an eventfd? */
	{ "readlinkat", NEED_LOOP },
	{ "poll", NEED_LOOP },      /* evfd_signal: is the counter full? */
	{ "ppoll", NEED_LOOP },
	{ "eventfd2", NEED_LOOP },
	/* memory: guest RAM and BAR maps, buffers */
	{ "mmap", NEED_LOOP },
	{ "munmap", NEED_LOOP },
	{ "mremap", NEED_LOOP },    /* glibc realloc of a large block */
	{ "madvise", NEED_LOOP },   /* large receive buffers given back */
	{ "mprotect", NEED_LOOP },  /* malloc growing a thread's arena */
	{ "brk", NEED_LOOP },
	{ "fallocate", NEED_LOOP }, /* an image BAR reset punches holes */
	{ "ftruncate", NEED_LOOP },
	{ "memfd_create", NEED_LOOP }, /* image BAR memory, state buffers */
	/* signals, the 20 ms write guard's timer, threads' basics */
	{ "rt_sigaction", NEED_LOOP },
	{ "rt_sigprocmask", NEED_LOOP },
	{ "rt_sigreturn", NEED_LOOP },
	{ "timer_create", NEED_LOOP },
	{ "timer_settime", NEED_LOOP },
	{ "clock_gettime", NEED_LOOP },
	{ "gettid", NEED_LOOP },
	{ "getpid", NEED_LOOP },
	{ "getuid", NEED_LOOP },
	{ "geteuid", NEED_LOOP },
	{ "futex", NEED_LOOP },
	{ "restart_syscall", NEED_LOOP },
	{ "exit", NEED_LOOP },
	{ "exit_group", NEED_LOOP },
	/* removal and exit: socket files go */
	{ "unlink", NEED_LOOP },
	{ "unlinkat", NEED_LOOP },
	/* dumps written when a device goes (fopen) */
	{ "openat", NEED_DUMPS | NEED_HOTADD | NEED_VFIO | NEED_XEN },
	{ "open", NEED_DUMPS | NEED_HOTADD },
	/* device-add through the control socket: open, check, listen */
	{ "epoll_create1", NEED_HOTADD }, /* a hot-added Xen front end */
	{ "timerfd_create", NEED_HOTADD }, /* its 500 ms domain-death tick */
	{ "timerfd_settime", NEED_HOTADD },
	{ "socket", NEED_HOTADD },
	{ "bind", NEED_HOTADD },
	{ "listen", NEED_HOTADD },
	{ "connect", NEED_HOTADD },  /* is a socket path live or stale? */
	{ "umask", NEED_HOTADD },
	{ "stat", NEED_HOTADD },
	{ "access", NEED_HOTADD },
	{ "getdents64", NEED_HOTADD }, /* sysfs: a device's IOMMU group */
	{ "statfs", NEED_HOTADD },
	{ "fstatfs", NEED_HOTADD | NEED_LOOP },
	{ "getrandom", NEED_LOOP },  /* json-c seeds its hash tables */
	/* --mpqemu-exec: the VMM child */
	{ "wait4", NEED_CHILD },
	{ "kill", NEED_CHILD },
};

/*
 * Syscalls the loop needs only in a narrow form, allowed in that form when
 * allowed[] does not allow them whole for this process: one argument,
 * masked, equal to a value.
 */
static const struct {
	const char *name;
	unsigned need;
	unsigned arg;
	unsigned long mask, value;
} narrowed[] = {
	/* vfu_server.c's reserve fd for accept-and-close when out of fds:
	 * open("/dev/null", O_RDONLY | O_CLOEXEC), read-only */
	{ "openat", NEED_LOOP, 2, ~0ul, O_RDONLY | O_CLOEXEC },
};

/* ioctl requests allowed: VFIO and iommufd one by one; Xen by type. */
#define IOC_TYPE_MASK 0xff00u
static const struct {
	unsigned long req;
	unsigned long mask; /* compared: req & mask */
	unsigned need;
} ioctls[] = {
	{ TCGETS, 0xffffffff, NEED_LOOP }, /* stdio: is stdout a terminal? */
	{ VFIO_GET_API_VERSION, 0xffffffff, NEED_VFIO },
	{ VFIO_CHECK_EXTENSION, 0xffffffff, NEED_VFIO },
	{ VFIO_SET_IOMMU, 0xffffffff, NEED_VFIO },
	{ VFIO_GROUP_GET_STATUS, 0xffffffff, NEED_VFIO },
	{ VFIO_GROUP_SET_CONTAINER, 0xffffffff, NEED_VFIO },
	{ VFIO_GROUP_UNSET_CONTAINER, 0xffffffff, NEED_VFIO },
	{ VFIO_GROUP_GET_DEVICE_FD, 0xffffffff, NEED_VFIO },
	{ VFIO_DEVICE_GET_INFO, 0xffffffff, NEED_VFIO },
	{ VFIO_DEVICE_GET_REGION_INFO, 0xffffffff, NEED_VFIO },
	{ VFIO_DEVICE_GET_IRQ_INFO, 0xffffffff, NEED_VFIO },
	{ VFIO_DEVICE_SET_IRQS, 0xffffffff, NEED_VFIO },
	{ VFIO_DEVICE_RESET, 0xffffffff, NEED_VFIO },
	{ VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, 0xffffffff, NEED_VFIO },
	{ VFIO_DEVICE_PCI_HOT_RESET, 0xffffffff, NEED_VFIO },
	{ VFIO_DEVICE_FEATURE, 0xffffffff, NEED_VFIO },
	{ VFIO_IOMMU_GET_INFO, 0xffffffff, NEED_VFIO },
	{ VFIO_IOMMU_MAP_DMA, 0xffffffff, NEED_VFIO },
	{ VFIO_IOMMU_UNMAP_DMA, 0xffffffff, NEED_VFIO },
	{ VFIO_IOMMU_DIRTY_PAGES, 0xffffffff, NEED_VFIO },
	{ _IO(VFIO_TYPE, VFIO_BASE + 18), 0xffffffff, NEED_VFIO }, /* BIND_IOMMUFD */
	{ _IO(VFIO_TYPE, VFIO_BASE + 19), 0xffffffff, NEED_VFIO }, /* ATTACH_IOMMUFD_PT */
	{ _IO(VFIO_TYPE, VFIO_BASE + 20), 0xffffffff, NEED_VFIO }, /* DETACH_IOMMUFD_PT */
	{ _IO(VFIO_TYPE, 0x80), 0xffffffff, NEED_VFIO }, /* IOMMU_DESTROY */
	{ _IO(VFIO_TYPE, 0x81), 0xffffffff, NEED_VFIO }, /* IOMMU_IOAS_ALLOC */
	{ _IO(VFIO_TYPE, 0x84), 0xffffffff, NEED_VFIO }, /* IOMMU_IOAS_IOVA_RANGES */
	{ _IO(VFIO_TYPE, 0x85), 0xffffffff, NEED_VFIO }, /* IOMMU_IOAS_MAP */
	{ _IO(VFIO_TYPE, 0x86), 0xffffffff, NEED_VFIO }, /* IOMMU_IOAS_UNMAP */
	{ 'P' << 8, IOC_TYPE_MASK, NEED_XEN }, /* /dev/xen/privcmd, hypercall */
	{ 'E' << 8, IOC_TYPE_MASK, NEED_XEN }, /* /dev/xen/evtchn */
};

/* syscall names for the SIGSYS handler, resolved before the filter */
#define NAMES_MAX 512
static char *syscall_names[NAMES_MAX];

static void put_str(const char *s)
{
	ssize_t rc = write(2, s, strlen(s));

	(void)rc;
}

static void put_num(unsigned long v, int base)
{
	char buf[24], *p = buf + sizeof(buf);

	*--p = 0;
	do
		*--p = "0123456789abcdef"[v % (unsigned)base];
	while ((v /= (unsigned)base) && p > buf);
	put_str(p);
}

/* async-signal-safe: write(2) and _exit only.  The ioctl refusal edits the
 * trapped syscall's return register: x86-64 only, elsewhere it kills. */
static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < NAMES_MAX && syscall_names[nr]
				   ? syscall_names[nr] : "?";

	(void)sig;
#if defined(__x86_64__)
	if (nr == SYS_ioctl) {
		ucontext_t *uc = uctx;

		put_str("ptdm serve: sandbox: refused ioctl request 0x");
		put_num((unsigned long)uc->uc_mcontext.gregs[REG_RSI] &
				0xffffffffu, 16);
		put_str(" (not in sandbox.c ioctls[]): EPERM\n");
		uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
		return;
	}
#else
	(void)uctx;
#endif
	put_str("ptdm serve: sandbox: forbidden syscall ");
	put_str(name);
	put_str(" (");
	put_num((unsigned long)nr, 10);
	put_str("): killed (sandbox.c allowed[] lacks it; --sandbox=off to "
		"debug)\n");
	_exit(128 + SIGSYS);
}

static int install_filter(unsigned need)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int rc = 0;

	for (int nr = 0; nr < NAMES_MAX; nr++)
		syscall_names[nr] = seccomp_syscall_resolve_num_arch(
			SCMP_ARCH_NATIVE, nr);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		perror("ptdm serve: sandbox: SIGSYS");
		return -1;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		fprintf(stderr, "ptdm serve: sandbox: seccomp_init failed\n");
		return -1;
	}
	/* every thread, and no new privileges through the filter either */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (size_t i = 0; !rc && i < sizeof(allowed) / sizeof(allowed[0]);
	     i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i].name);

		if (!(allowed[i].need & need) || nr == __NR_SCMP_ERROR || nr < 0)
			continue; /* not needed, or not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	for (size_t i = 0; !rc && i < sizeof(narrowed) / sizeof(narrowed[0]);
	     i++) {
		int nr = seccomp_syscall_resolve_name(narrowed[i].name);
		bool whole = false;

		for (size_t k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
			whole |= (allowed[k].need & need) &&
				 !strcmp(allowed[k].name, narrowed[i].name);
		if (whole || !(narrowed[i].need & need) || nr < 0)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_CMP(narrowed[i].arg, SCMP_CMP_MASKED_EQ,
					       narrowed[i].mask, narrowed[i].value));
	}
	for (size_t i = 0; !rc && i < sizeof(ioctls) / sizeof(ioctls[0]); i++) {
		if (!(ioctls[i].need & need))
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, ioctls[i].mask,
					      ioctls[i].req & ioctls[i].mask));
	}
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc) {
		fprintf(stderr, "ptdm serve: sandbox: the seccomp filter: %s\n",
			strerror(-rc));
		return -1;
	}
	return 0;
}

#else

static int install_filter(unsigned need)
{
	(void)need;
	fprintf(stderr, "ptdm serve: sandbox: built without libseccomp: no "
			"syscall filter (install libseccomp-dev and configure "
			"again, -Dseccomp=enabled to insist)\n");
	return 0;
}

#endif

/* ---- the test-only trigger ---- */

static struct ptdm_watch test_watch;
static int test_fd = -1;

static void on_test(struct ptdm_watch *w, uint32_t events)
{
	const char *what = getenv("PTDM_TEST_FORBIDDEN_SYSCALL");
	char *const argv[] = { (char *)"/nonexistent/ptdm-sandbox-test", NULL };
	uint64_t v;
	int rc;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) != sizeof(v))
		return;
	if (what && !strcmp(what, "ioctl")) {
		int tty = 0;

		/* not a request the filter knows: refused, the loop goes on */
		rc = ioctl(w->fd, TIOCOUTQ, &tty);
		fprintf(stderr, "ptdm serve: test: ioctl(TIOCOUTQ) from the loop: "
				"%s\n", rc ? strerror(errno) : "allowed");
		return;
	}
	if (what && (!strncmp(what, "open:", 5) || !strncmp(what, "create:", 7))) {
		bool create = what[0] == 'c';
		const char *path = strchr(what, ':') + 1;
		/* open: the flags the loop's own open has (seccomp lets them
		 * through), so only Landlock stands between it and the file */
		int fd = create ? open(path, O_WRONLY | O_CREAT | O_EXCL |
					     O_CLOEXEC, 0600)
				: open(path, O_RDONLY | O_CLOEXEC);

		fprintf(stderr, "ptdm serve: test: %s(%s) from the loop: %s\n",
			create ? "create" : "open", path,
			fd < 0 ? strerror(errno) : "allowed");
		if (fd >= 0)
			close(fd);
		return;
	}
	if (what && !strcmp(what, "tcp")) {
		/* a control socket's filter lets socket/connect through:
		 * Landlock (ABI 4+) refuses TCP, without it ECONNREFUSED */
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons(1),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		fprintf(stderr, "ptdm serve: test: TCP connect from the loop: %s\n",
			rc ? strerror(errno) : "allowed");
		if (fd >= 0)
			close(fd);
		return;
	}
	/* with the sandbox: killed; without: ENOENT, and the loop goes on */
	rc = execve(argv[0], argv, argv + 1);
	fprintf(stderr, "ptdm serve: test: execve from the loop: %s\n",
		rc ? strerror(errno) : "allowed");
}

static int add_test_trigger(struct server *s)
{
	if (!getenv("PTDM_TEST_FORBIDDEN_SYSCALL"))
		return 0;
	test_fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	if (test_fd < 0 ||
	    ptdm_loop_add(&s->loop, &test_watch, test_fd, EPOLLIN, on_test)) {
		perror("ptdm serve: PTDM_TEST_FORBIDDEN_SYSCALL");
		return -1;
	}
	fprintf(stderr, "ptdm serve: test: PTDM_TEST_FORBIDDEN_SYSCALL=%s: "
			"the loop makes that call in its first round\n",
		getenv("PTDM_TEST_FORBIDDEN_SYSCALL"));
	return 0;
}

int sandbox_enter(struct server *s, bool child)
{
	unsigned need = needs_of(s, child);
	char name[128], files[96];
	uint64_t keep = need & NEED_VFIO ? 1ull << CAP_IPC_LOCK : 0;

	/* a Xen device hot-added later reads its config through sysfs, past
	 * 64 bytes only with CAP_SYS_ADMIN (a device served from the start
	 * opened that file as root and keeps it) */
	if (s->control && (need & NEED_XEN))
		keep |= 1ull << CAP_SYS_ADMIN;

	if (add_test_trigger(s))
		return -1;
	if (sandbox_off) {
		fprintf(stderr, "ptdm serve: WARNING: --sandbox=off: serving with "
				"every privilege ptdm started with (user, "
				"capabilities, every syscall): a guest or client "
				"that finds a bug in ptdm gets all of them; for "
				"debugging only\n");
		return 0;
	}
	/* libpci reads its ID cache (~/.pciids-cache, home found through
	 * getpwuid: NSS sockets, /etc/passwd) the first time an ID is not in
	 * pci.ids - a dump at removal of such a device would do it in the
	 * loop.  Make that first time now, as the user ptdm starts as. */
	cli_device_name(name, sizeof(name), 0xffff, 0xfffe);
	if (geteuid() != 0 && !sandbox_user)
		keep = 0; /* nothing to keep: it has none */
	if (drop_privileges(keep))
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		perror("ptdm serve: sandbox: PR_SET_NO_NEW_PRIVS");
		return -1;
	}
	if (sandbox_fs_enter(s, need, files, sizeof(files)))
		return -1;
	if (install_filter(need))
		return -1;
	ptdm_log(PTDM_LOG_INFO, "sandbox: uid %u, %s, no new privileges, "
		 "%s, %s%s%s%s%s", (unsigned)getuid(),
		 keep & (1ull << CAP_SYS_ADMIN) ? "CAP_IPC_LOCK and CAP_SYS_ADMIN"
		 : keep ? "CAP_IPC_LOCK only" : "no capabilities", files,
#ifdef PTDM_HAVE_SECCOMP
		 "syscall filter for the loop",
#else
		 "no syscall filter",
#endif
		 need & NEED_HOTADD ? " hot-add" : "",
		 need & NEED_VFIO ? " vfio" : "", need & NEED_XEN ? " xen" : "",
		 need & NEED_CHILD ? " child" : "");
	return 0;
}
