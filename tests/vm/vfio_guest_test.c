/*
 * vfio_guest_test.c - ptdm's VFIO backend and core against the real Linux
 * VFIO driver, run inside a QEMU TCG guest by tests/vm/run.sh.
 *
 * The guest has (addresses fixed by run.sh):
 *   00:02.0  edu: config through the core, BAR0 mmap, MSI, INTx, DMA
 *            through the emulated VT-d; no reset of any kind
 *   00:03.0  e1000e: MSI-X, VFIO_DEVICE_RESET, the ROM, the I/O BAR, the
 *            MSI-X table and PBA pages left out of a mapping
 *   00:05.0  a root port with one multifunction slot behind it, one IOMMU
 *            group: 01:00.0 edu and 01:00.1 nvme.  nvme is bound to the
 *            nvme driver at boot: the "host driver" and "group not viable"
 *            errors; then it goes to vfio-pci and both share the group.
 *            The edu there has no function reset (the bus is shared):
 *            ptdm resets it through the PCI hot-reset path.
 *
 * This program binds devices to vfio-pci itself (driver_override +
 * drivers_probe: allowed here, it is the guest's own PCI bus), prints one
 * PASS/FAIL line per check and "RESULT: N passed, M failed", and exits 1
 * when anything failed.  The guest's /sys config files are the host's
 * view of each device, read to see what reached the hardware.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/client_persona.h"
#include "ptdm/assign.h"
#include "ptdm/devlist.h"
#include "ptdm/sysfs.h"
#include "ptdm/dev.h"
#include "ptdm/owner.h"
#include "ptdm/slot.h"
#include "ptdm/vfio.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"
#include <linux/pci_regs.h>
#include <pthread.h>
#include <sys/socket.h>

static unsigned passed, failed;

__attribute__((format(printf, 2, 3)))
static bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
	return ok;
}

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL: the test hung (120 s watchdog)\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(2);
}

/* ---- guest sysfs ---- */

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return (int)n;
}

static void driver_name(const char *bdf, char *out, size_t len)
{
	char p[256], link[256];
	ssize_t n;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(out, len, "-");
		return;
	}
	link[n] = 0;
	snprintf(out, len, "%s", strrchr(link, '/') + 1);
}

static bool driver_is(const char *bdf, const char *want)
{
	char d[64];

	driver_name(bdf, d, sizeof(d));
	return !strcmp(d, want);
}

static int unbind(const char *bdf)
{
	char p[256];

	if (driver_is(bdf, "-"))
		return 0;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	return write_file(p, bdf);
}

/* ptdm's own assignable-add: driver_override, unbind, drivers_probe */
static int bind_vfio(const char *bdf)
{
	struct ptdm_err err = { "" };
	int rc = assign_add(bdf, &err);

	if (rc)
		printf("  assign_add %s: %s\n", bdf, err.msg);
	return rc ? rc : driver_is(bdf, "vfio-pci") ? 0 : -ENODEV;
}

/* Config bytes as the guest kernel sees them: the device's own. */
static uint32_t sys_cfg(const char *bdf, unsigned off, unsigned len)
{
	char p[256];
	uint8_t b[4] = { 0 };
	uint32_t v = 0;
	int fd;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0xdeadbeef;
	if (pread(fd, b, len, off) != (ssize_t)len)
		v = 0xdeadbeef;
	else
		for (unsigned i = 0; i < len; i++)
			v |= (uint32_t)b[i] << (8 * i);
	close(fd);
	return v;
}

/* Every device vendor:device, sorted by address. */
static int find_devs(unsigned vendor, unsigned device, char out[][16], int max)
{
	struct dirent **ents;
	int n = scandir("/sys/bus/pci/devices", &ents, NULL, alphasort), k = 0;

	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char p[256], buf[32];

		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%.64s/vendor",
			 name);
		if (read_file(p, buf, sizeof(buf)) > 0 &&
		    strtoul(buf, NULL, 16) == vendor) {
			snprintf(p, sizeof(p),
				 "/sys/bus/pci/devices/%.64s/device", name);
			if (read_file(p, buf, sizeof(buf)) > 0 &&
			    strtoul(buf, NULL, 16) == device && k < max)
				snprintf(out[k++], 16, "%.15s", name);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	return k;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static int count_lines(const char *file, const char *needle)
{
	char line[512];
	FILE *f = fopen(file, "re");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* ---- eventfds and MMIO ---- */

static bool fired(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(efd, &v, sizeof(v)) == sizeof(v) && v > 0;
}

static void drain(int efd)
{
	for (int i = 0; i < 64 && fired(efd, 0); i++)
		;
}

static uint32_t rd32(void *base, uint64_t off)
{
	return *(volatile uint32_t *)((char *)base + off);
}

static void wr32(void *base, uint64_t off, uint32_t v)
{
	*(volatile uint32_t *)((char *)base + off) = v;
}

static void wr64(void *base, uint64_t off, uint64_t v)
{
	*(volatile uint64_t *)((char *)base + off) = v;
}

static uint64_t rd64(void *base, uint64_t off)
{
	return *(volatile uint64_t *)((char *)base + off);
}

static void msleep(unsigned ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

/* Wait for (read(off) & mask) == 0, up to ms. */
static bool wait_clear(void *base, uint64_t off, uint64_t mask, unsigned ms,
		       bool wide)
{
	for (unsigned i = 0; i < ms; i++) {
		uint64_t v = wide ? rd64(base, off) : rd32(base, off);

		if (!(v & mask))
			return true;
		msleep(1);
	}
	return false;
}

/* ---- the edu device ---- */

#define EDU_ID 0x00
#define EDU_LIVE 0x04
#define EDU_FACT 0x08
#define EDU_STATUS 0x20
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_BUF 0x40000
#define EDU_DMA_LEN 2048 /* QEMU 7.2 aborts at 4096 (off-by-one) */

static bool edu_dma(void *bar, uint64_t src, uint64_t dst, bool to_ram)
{
	wr64(bar, EDU_DMA_SRC, src);
	wr64(bar, EDU_DMA_DST, dst);
	wr64(bar, EDU_DMA_CNT, EDU_DMA_LEN);
	wr64(bar, EDU_DMA_CMD, 1 | (to_ram ? 2 : 0));
	/* the DMA runs on a 100 ms virtual-time timer */
	return wait_clear(bar, EDU_DMA_CMD, 1, 3000, true);
}

static void *page_buf(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ---- the tests ---- */

struct devs {
	char edu[16];  /* edu on the root bus */
	char edu2[16]; /* edu behind the root port */
	char nic[16];  /* e1000e */
	char nvme[16]; /* nvme behind the root port, edu2's group mate */
};

/* err with an empty message, so a stale one is never shown */
static struct ptdm_err *fresh(struct ptdm_err *e)
{
	e->msg[0] = 0;
	return e;
}

static int baseline_fds;

/* vfio_open(bdf) in a child running as nobody: its code and message. */
static int open_as_nobody(const char *bdf, char *msg, size_t len)
{
	int pfd[2], rc = 0, st;
	ssize_t n;
	pid_t pid;

	msg[0] = 0;
	if (pipe(pfd))
		return -errno;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct ptdm_err e = { "" };
		struct host_dev *h = NULL;
		int r;

		close(pfd[0]);
		if (setgid(65534) || setuid(65534))
			_exit(2);
		r = vfio_open(&h, bdf, &e);
		if (write(pfd[1], &r, sizeof(r)) < 0 ||
		    write(pfd[1], e.msg, strlen(e.msg)) < 0)
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -ECHILD;
	}
	n = read(pfd[0], &rc, sizeof(rc));
	if (n == sizeof(rc)) {
		n = read(pfd[0], msg, len - 1);
		msg[n > 0 ? n : 0] = 0;
	} else {
		rc = -ECHILD;
	}
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return rc;
}

static void test_errors(const struct devs *dv)
{
	struct ptdm_err err = { "" };
	struct host_dev *h = NULL;
	char msg[512];
	int fds = count_fds(), rc;

	rc = vfio_open(&h, "00:1g.0", fresh(&err));
	check(rc == -EINVAL && strstr(err.msg, "not a PCI address"),
	      "malformed address refused: %s", err.msg);
	rc = vfio_open(&h, "0000:00:1e.7", fresh(&err));
	check(rc == -ENOENT && strstr(err.msg, "no such PCI device"),
	      "unknown BDF refused: %s", err.msg);

	/* no IOMMU group: a fake sysfs tree (every real device has one) */
	mkdir("/tmp/fakesys", 0755);
	mkdir("/tmp/fakesys/bus", 0755);
	mkdir("/tmp/fakesys/bus/pci", 0755);
	mkdir("/tmp/fakesys/bus/pci/devices", 0755);
	mkdir("/tmp/fakesys/bus/pci/devices/0000:00:09.0", 0755);
	vfio_set_sysfs_root("/tmp/fakesys");
	rc = vfio_open(&h, "0000:00:09.0", fresh(&err));
	vfio_set_sysfs_root(NULL);
	check(rc == -ENXIO && strstr(err.msg, "no IOMMU group") &&
		      strstr(err.msg, "intel_iommu=on"),
	      "device without an IOMMU group refused: %s", err.msg);

	/* nvme: the nvme driver has it */
	for (int i = 0; i < 50 && !driver_is(dv->nvme, "nvme"); i++)
		msleep(100);
	check(driver_is(dv->nvme, "nvme"), "%s is bound to the guest's nvme "
	      "driver", dv->nvme);
	rc = vfio_open(&h, dv->nvme, fresh(&err));
	check(rc == -EBUSY && strstr(err.msg, "host driver nvme") &&
		      strstr(err.msg, "ptdm assignable-add"),
	      "device bound to a host driver refused: %s", err.msg);

	/* e1000e: no driver at all yet */
	unbind(dv->nic);
	rc = vfio_open(&h, dv->nic, fresh(&err));
	check(rc == -ENODEV && strstr(err.msg, "not bound to any driver"),
	      "unbound device refused: %s", err.msg);

	/* the edu behind the root port on vfio-pci, its group mate on nvme */
	rc = bind_vfio(dv->edu2);
	check(!rc, "%s bound to vfio-pci (%s)", dv->edu2, strerror(-rc));
	rc = vfio_open(&h, dv->edu2, fresh(&err));
	check(rc == -EBUSY && strstr(err.msg, "not viable") &&
		      strstr(err.msg, dv->nvme) && strstr(err.msg, "(nvme)") &&
		      strstr(err.msg, "ptdm assignable-add"),
	      "group not viable, the blocking device named: %s", err.msg);
	if (!rc)
		host_close(h);

	/* no permission on /dev/vfio: the same open as nobody */
	rc = bind_vfio(dv->edu);
	check(!rc, "%s bound to vfio-pci (%s)", dv->edu, strerror(-rc));
	rc = open_as_nobody(dv->edu, msg, sizeof(msg));
	check(rc == -EACCES && strstr(msg, "no permission") &&
		      strstr(msg, "/dev/vfio/"),
	      "no permission on /dev/vfio: %s", msg);
	check(count_fds() == fds, "no fd left behind by the refused opens "
	      "(%d before, %d after)", fds, count_fds());
}

struct edu_ctx {
	struct host_dev *h;
	struct ptdm_dev *d;
	void *bar;
	int container_fd;
};

static void test_edu_config(struct edu_ctx *c, const char *bdf)
{
	struct host_dev *h = c->h;
	uint32_t g, hv, bar_sys, bar_vfio, cmd;
	int rc;

	rc = h->ops->cfg_read(h, 0, &hv, 4);
	ptdm_cfg_read(c->d, 0, 4, &g);
	check(!rc && g == hv && g == sys_cfg(bdf, 0, 4) && g == 0x11e81234,
	      "IDs: guest view %#x = host (VFIO) %#x = device %#x", g, hv,
	      sys_cfg(bdf, 0, 4));

	bar_sys = sys_cfg(bdf, 0x10, 4);
	h->ops->cfg_read(h, 0x10, &bar_vfio, 4);
	ptdm_cfg_write(c->d, 0x10, 4, 0xffffffff);
	ptdm_cfg_read(c->d, 0x10, 4, &g);
	check((g & ~0xfu) == 0xfff00000 && (~(g & ~0xfu) + 1) == 0x100000,
	      "sizing BAR0 through the core: %#x = 1 MiB", g);
	hv = 0;
	h->ops->cfg_read(h, 0x10, &hv, 4);
	check(sys_cfg(bdf, 0x10, 4) == bar_sys && hv == bar_vfio,
	      "host BAR0 untouched by the guest's sizing (%#x)", bar_sys);
	ptdm_cfg_write(c->d, 0x10, 4, 0xfeb00000);
	ptdm_cfg_read(c->d, 0x10, 4, &g);
	check((g & ~0xfu) == 0xfeb00000 && sys_cfg(bdf, 0x10, 4) == bar_sys,
	      "guest BAR0 %#x is virtual, the device keeps %#x", g, bar_sys);

	ptdm_cfg_write(c->d, 0x04, 2, 0x0002 | 0x0004);
	ptdm_cfg_write(c->d, 0x04, 2, 0x0004); /* guest: memory decode off */
	ptdm_cfg_read(c->d, 0x04, 2, &g);
	cmd = sys_cfg(bdf, 0x04, 2);
	check(!(g & 0x2) && (cmd & 0x2) && (cmd & 0x4) && (g & 0x4),
	      "guest COMMAND %#x (memory off) is virtual; the device has "
	      "%#x (decode on, bus master on)", g, cmd);
	ptdm_cfg_write(c->d, 0x04, 2, 0x0006);
	ptdm_cfg_read(c->d, 0x04, 2, &g);
	check((g & 0x6) == 0x6, "guest COMMAND back to memory + master: %#x",
	      g);
}

static void test_edu_bar(struct edu_ctx *c)
{
	struct ptdm_vfio_stats s0, s1;
	struct ptdm_vfio_bar_map m;
	struct ptdm_err err = { "" };
	uint32_t v = 0, fact = 0, twelve[3] = { 0 };
	uint64_t src;
	int rc;

	rc = vfio_bar_mmap(c->h, 0, &m, fresh(&err));
	check(!rc && m.base && m.nwin == 1 && m.win[0].offset == 0 &&
		      m.win[0].size == 0x100000,
	      "BAR0 mapped whole (%zu window, no MSI-X) %s", m.nwin, err.msg);
	if (rc)
		return;
	c->bar = m.base;
	check(rd32(c->bar, EDU_ID) == 0x010000ed, "id register %#x through "
	      "the mapping", rd32(c->bar, EDU_ID));
	wr32(c->bar, EDU_LIVE, 0x12345678);
	check(rd32(c->bar, EDU_LIVE) == ~0x12345678u, "liveness: %#x",
	      rd32(c->bar, EDU_LIVE));
	wr32(c->bar, EDU_STATUS, 0);
	wr32(c->bar, EDU_FACT, 10);
	if (wait_clear(c->bar, EDU_STATUS, 1, 2000, false))
		fact = rd32(c->bar, EDU_FACT);
	check(fact == 3628800, "factorial 10 through the mapping: %u", fact);

	/* accesses the core traps reach the backend: mapped or pread */
	vfio_get_stats(c->h, &s0);
	rc = ptdm_bar_rw(c->d, 0, EDU_ID, &v, 4, false);
	check(!rc && v == 0x010000ed, "trapped 4-byte id read through the "
	      "core: %#x", v);
	/* 12 bytes are no single load: pread (which the kernel splits its
	 * own way: only the first dword is the same on every kernel) */
	wr64(c->bar, EDU_DMA_SRC, 0xabcd000);
	src = rd64(c->bar, EDU_DMA_SRC);
	rc = ptdm_bar_rw(c->d, 0, EDU_DMA_SRC, twelve, 12, false);
	check(!rc && twelve[0] == 0xabcd000 && src == 0xabcd000,
	      "trapped 12-byte read: DMA source %#x", twelve[0]);
	vfio_get_stats(c->h, &s1);
	check(s1.mapped == s0.mapped + 1 && s1.trapped == s0.trapped + 1,
	      "accesses counted: mapped %llu, trapped %llu",
	      (unsigned long long)s1.mapped, (unsigned long long)s1.trapped);
	ptdm_cfg_write(c->d, 0x04, 2, 0x0004); /* guest decode off */
	v = 0;
	rc = ptdm_bar_rw(c->d, 0, EDU_ID, &v, 4, false);
	vfio_get_stats(c->h, &s0);
	check(!rc && v == 0xffffffff && s0.mapped == s1.mapped &&
		      s0.trapped == s1.trapped,
	      "guest decode off: all-ones, the device not touched");
	ptdm_cfg_write(c->d, 0x04, 2, 0x0006);
	vfio_bar_munmap(c->h, 0);
	v = 0;
	rc = ptdm_bar_rw(c->d, 0, EDU_ID, &v, 4, false);
	vfio_get_stats(c->h, &s1);
	check(!rc && v == 0x010000ed && s1.trapped == s0.trapped + 1,
	      "unmapped BAR: the access goes through pread (trapped %llu)",
	      (unsigned long long)s1.trapped);
	rc = vfio_bar_mmap(c->h, 0, &m, fresh(&err));
	c->bar = rc ? NULL : m.base;
	check(!rc && rd32(c->bar, EDU_ID) == 0x010000ed, "BAR0 mapped again");
}

/*
 * The test-only quirk on edu (src/core/quirk_edu_test.c): BAR0 0x8000 is
 * a mirror of the guest's virtual config.  Through the real VFIO device,
 * a read there gives the guest's view (here an ID override), never the
 * device's bytes, and a write there is a config write the device never
 * sees; with quirks=off the same read is the device's.
 */
static void test_edu_quirk(struct edu_ctx *c, const char *bdf)
{
	struct ptdm_range r[PTDM_MAX_TRAPPED];
	struct ptdm_dev_opts opts;
	struct ptdm_err err = { "" };
	struct ptdm_dev *d = NULL;
	uint32_t v = 0, dev_bytes, bar_sys = sys_cfg(bdf, 0x10, 4), g = 0;
	int n, rc;

	if (!c->bar) {
		check(false, "edu quirk: BAR0 not mapped");
		return;
	}
	n = ptdm_dev_trapped(c->d, 0, r, PTDM_MAX_TRAPPED);
	check(n == 1 && r[0].off == 0x8000 && r[0].why == PTDM_TRAP_QUIRK &&
		      ptdm_dev_nquirks(c->d) == 1 &&
		      ptdm_dev_quirk(c->d, 0)->active,
	      "quirk: BAR0 %#llx+%#llx trapped for %s", n > 0 ?
	      (unsigned long long)r[0].off : 0ull, n > 0 ?
	      (unsigned long long)r[0].len : 0ull,
	      ptdm_dev_nquirks(c->d) ? ptdm_dev_quirk(c->d, 0)->name : "-");
	dev_bytes = rd32(c->bar, 0x8000);
	ptdm_dev_opts_init(&opts);
	opts.device_id = 0xbeef;
	rc = ptdm_dev_attach(&d, c->h, &opts, fresh(&err));
	if (!check(!rc, "attach with device=beef %s", err.msg))
		return;
	ptdm_cfg_write(d, 0x04, 2, 0x0006);
	rc = ptdm_bar_rw(d, 0, 0x8000, &v, 4, false);
	check(!rc && v == 0xbeef1234 && dev_bytes != v &&
		      sys_cfg(bdf, 0, 4) == 0x11e81234,
	      "quirk window: the guest's IDs %#x (the device has %#x there, "
	      "%#x in config)", v, dev_bytes, sys_cfg(bdf, 0, 4));
	v = 0xfea00000;
	rc = ptdm_bar_rw(d, 0, 0x8000 + 0x10, &v, 4, true);
	ptdm_cfg_read(d, 0x10, 4, &g);
	check(!rc && (g & ~0xfu) == 0xfea00000 &&
		      sys_cfg(bdf, 0x10, 4) == bar_sys &&
		      rd32(c->bar, 0x8010) == dev_bytes,
	      "quirk window write: guest BAR0 %#x, the device keeps %#x", g,
	      sys_cfg(bdf, 0x10, 4));
	ptdm_cfg_write(d, 0x04, 2, 0x0004);
	rc = ptdm_bar_rw(d, 0, 0x8000, &v, 4, false);
	check(!rc && v == 0xffffffff, "quirk window, guest decode off: %#x",
	      v);
	ptdm_dev_free(d);
	ptdm_dev_opts_init(&opts);
	opts.no_quirks = true;
	rc = ptdm_dev_attach(&d, c->h, &opts, fresh(&err));
	if (!check(!rc, "attach with quirks=off %s", err.msg))
		return;
	ptdm_cfg_write(d, 0x04, 2, 0x0006);
	rc = ptdm_bar_rw(d, 0, 0x8000, &v, 4, false);
	check(!rc && v == dev_bytes && !ptdm_dev_trapped(d, 0, r, 1),
	      "quirks=off: BAR0 0x8000 is the device's (%#x), nothing "
	      "trapped", v);
	ptdm_dev_free(d);
	ptdm_cfg_write(c->d, 0x04, 2, 0x0006);
}

static void test_edu_irqs(struct edu_ctx *c, const char *bdf)
{
	struct ptdm_err err = { "" };
	struct ptdm_vfio_irq ii;
	char needle[64];
	int efd = eventfd(0, EFD_CLOEXEC), ufd = eventfd(0, EFD_CLOEXEC);
	uint32_t fact = 0;
	int rc;

	if (!c->bar || efd < 0 || ufd < 0) {
		check(false, "edu IRQ tests: no mapping or no eventfd");
		goto out;
	}
	vfio_irq_info(c->h, VFIO_PCI_MSI_IRQ_INDEX, &ii);
	check(ii.count == 1 && (ii.flags & VFIO_IRQ_INFO_EVENTFD),
	      "MSI info: %u vector, flags %#x", ii.count, ii.flags);
	rc = vfio_set_irq_eventfds(c->h, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd,
				   fresh(&err));
	check(!rc, "MSI vector 0 -> eventfd %s", err.msg);
	snprintf(needle, sizeof(needle), "vfio-msi[0](%s)", bdf);
	check(count_lines("/proc/interrupts", needle) == 1,
	      "/proc/interrupts has %s", needle);
	wr32(c->bar, EDU_IRQ_RAISE, 0x1234);
	check(fired(efd, 2000), "MSI: eventfd fires on a 0x60 raise");
	check(rd32(c->bar, EDU_IRQ_STATUS) == 0x1234, "irq status %#x",
	      rd32(c->bar, EDU_IRQ_STATUS));
	wr32(c->bar, EDU_IRQ_ACK, 0x1234);
	wr32(c->bar, EDU_STATUS, 0x80);
	wr32(c->bar, EDU_FACT, 12);
	check(fired(efd, 3000), "MSI: eventfd fires when factorial is done");
	if (wait_clear(c->bar, EDU_STATUS, 1, 2000, false))
		fact = rd32(c->bar, EDU_FACT);
	check(fact == 479001600 && (rd32(c->bar, EDU_IRQ_STATUS) & 1),
	      "factorial 12 = %u with its interrupt", fact);
	wr32(c->bar, EDU_IRQ_ACK, 1);
	wr32(c->bar, EDU_STATUS, 0);

	/* INTx: turning it on turns MSI off */
	rc = vfio_set_irq_eventfds(c->h, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd,
				   fresh(&err));
	vfio_irq_info(c->h, VFIO_PCI_MSI_IRQ_INDEX, &ii);
	check(!rc && ii.enabled == 0, "INTx -> eventfd (MSI turned off) %s",
	      err.msg);
	drain(efd);
	wr32(c->bar, EDU_IRQ_RAISE, 1);
	check(fired(efd, 2000), "INTx: eventfd fires");
	wr32(c->bar, EDU_IRQ_ACK, 1);
	rc = vfio_irq_unmask_intx(c->h);
	check(!rc, "INTx unmasked after the first interrupt (%s)",
	      strerror(-rc));
	wr32(c->bar, EDU_IRQ_RAISE, 1);
	check(fired(efd, 2000), "INTx: the second interrupt fires");
	wr32(c->bar, EDU_IRQ_ACK, 1);
	wr32(c->bar, EDU_IRQ_RAISE, 1);
	check(!fired(efd, 300), "INTx: masked by the kernel until unmasked");
	rc = vfio_set_intx_unmask_eventfd(c->h, ufd, fresh(&err));
	check(!rc, "INTx unmask eventfd set %s", err.msg);
	{
		uint64_t one = 1;

		check(write(ufd, &one, sizeof(one)) == sizeof(one) &&
			      fired(efd, 2000),
		      "INTx: a write to the unmask eventfd delivers the "
		      "pending interrupt");
	}
	wr32(c->bar, EDU_IRQ_ACK, 1);
	rc = vfio_set_irq_eventfds(c->h, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL,
				   fresh(&err));
	vfio_irq_info(c->h, VFIO_PCI_INTX_IRQ_INDEX, &ii);
	check(!rc && ii.enabled == 0, "INTx off (count 0)");
	rc = vfio_irq_unmask_intx(c->h);
	check(rc == -ENOTCONN, "unmask with INTx off refused (%s)",
	      strerror(-rc));
out:
	if (efd >= 0)
		close(efd);
	if (ufd >= 0)
		close(ufd);
}

static void test_edu_dma(struct edu_ctx *c)
{
	struct ptdm_vfio_iova_range r[16];
	struct ptdm_vfio_info info;
	struct ptdm_err err = { "" };
	uint8_t *src = page_buf(), *dst = page_buf();
	bool same = true, untouched = true;
	int n, rc;

	if (!c->bar || !src || !dst) {
		check(false, "edu DMA tests: no mapping or no memory");
		goto out;
	}
	vfio_get_info(c->h, &info);
	n = vfio_iova_ranges(c->h, r, 16);
	check(n > 0 && (info.iova_pgsizes & 4096), "IOMMU: %d IOVA ranges "
	      "(first [%#llx, %#llx]), page sizes %#llx", n,
	      (unsigned long long)(n > 0 ? r[0].start : 0),
	      (unsigned long long)(n > 0 ? r[0].last : 0),
	      (unsigned long long)info.iova_pgsizes);
	rc = vfio_dma_map(c->h, 0x100800, src, 4096,
			  PTDM_DMA_READ | PTDM_DMA_WRITE, fresh(&err));
	check(rc == -EINVAL && strstr(err.msg, "page size"),
	      "unaligned IOVA refused: %s", err.msg);
	rc = vfio_dma_map(c->h, 0xfee00000, src, 4096, PTDM_DMA_READ,
			  fresh(&err));
	check(rc == -ERANGE && strstr(err.msg, "outside the IOVA ranges"),
	      "IOVA in the MSI window refused: %s", err.msg);
	rc = vfio_dma_map(c->h, 0x100000, src, 4096, 0, fresh(&err));
	check(rc == -EINVAL, "DMA map without READ/WRITE refused");
	rc = vfio_dma_map(c->h, 0x100000, src, 4096,
			  PTDM_DMA_READ | PTDM_DMA_WRITE, fresh(&err));
	check(!rc, "DMA map src at IOVA 0x100000 %s", err.msg);
	rc = vfio_dma_map(c->h, 0x200000, dst, 4096,
			  PTDM_DMA_READ | PTDM_DMA_WRITE, fresh(&err));
	check(!rc, "DMA map dst at IOVA 0x200000 %s", err.msg);
	rc = vfio_dma_map(c->h, 0x200000, dst, 4096, PTDM_DMA_READ,
			  fresh(&err));
	check(rc == -EEXIST, "overlapping map refused: %s", err.msg);

	for (int i = 0; i < EDU_DMA_LEN; i++)
		src[i] = (uint8_t)(i * 7 + 3);
	memset(dst, 0x55, 4096);
	check(edu_dma(c->bar, 0x100000, EDU_DMA_BUF, false),
	      "edu DMA RAM -> device (IOVA 0x100000) completes");
	check(edu_dma(c->bar, EDU_DMA_BUF, 0x200000, true),
	      "edu DMA device -> RAM (IOVA 0x200000) completes");
	for (int i = 0; i < EDU_DMA_LEN; i++)
		same &= dst[i] == src[i];
	check(same && dst[EDU_DMA_LEN] == 0x55,
	      "DMA through the IOMMU: the buffer came back (%02x %02x ..)",
	      dst[0], dst[1]);

	rc = vfio_dma_unmap(c->h, 0x200000, 4096, fresh(&err));
	check(!rc, "DMA unmap dst %s", err.msg);
	memset(dst, 0xaa, 4096);
	edu_dma(c->bar, EDU_DMA_BUF, 0x200000, true);
	for (int i = 0; i < 4096; i++)
		untouched &= dst[i] == 0xaa;
	check(untouched, "DMA to the unmapped IOVA blocked: buffer untouched");
	rc = vfio_dma_unmap(c->h, 0x200000, 4096, fresh(&err));
	check(rc == -ENOENT, "unmapping it again: %s", err.msg);
	rc = vfio_dma_unmap(c->h, 0x100000, 2048, fresh(&err));
	check(rc == -EINVAL && strstr(err.msg, "split"),
	      "half a mapping cannot be unmapped: %s", err.msg);
out:
	if (src)
		munmap(src, 4096);
	if (dst)
		munmap(dst, 4096);
}

static void test_edu(struct edu_ctx *c, const char *bdf)
{
	struct ptdm_dev_opts opts;
	struct ptdm_vfio_info info;
	struct ptdm_err err = { "" };
	struct ptdm_vfio_region reg;
	int rc;

	rc = vfio_open(&c->h, bdf, fresh(&err));
	if (!check(!rc, "open edu %s through VFIO %s", bdf, err.msg))
		return;
	vfio_get_info(c->h, &info);
	c->container_fd = info.container_fd;
	check(!strcmp(info.api, "group") && info.group_fd >= 0 &&
		      (info.flags & VFIO_DEVICE_FLAGS_PCI) &&
		      !(info.flags & VFIO_DEVICE_FLAGS_RESET),
	      "type1 group API, group %d, flags %#x (PCI, no reset)",
	      info.group_id, info.flags);
	check(c->h->cfg_size == 256 && c->h->bars[0].kind == HOST_BAR_MEM32 &&
		      c->h->bars[0].size == 0x100000 &&
		      c->h->bars[1].kind == HOST_BAR_NONE &&
		      c->h->bars[PTDM_ROM_INDEX].kind == HOST_BAR_NONE,
	      "host_dev: config %u bytes, BAR0 %s %#llx", c->h->cfg_size,
	      host_bar_kind_name(c->h->bars[0].kind),
	      (unsigned long long)c->h->bars[0].size);
	rc = vfio_region_get(c->h, VFIO_PCI_BAR0_REGION_INDEX, &reg,
			     fresh(&err));
	check(!rc && (reg.flags & VFIO_REGION_INFO_FLAG_MMAP) &&
		      reg.offset == 0 && !reg.sparse,
	      "BAR0 region: flags %#x offset %#llx", reg.flags,
	      (unsigned long long)reg.offset);
	rc = vfio_region_get(c->h, VFIO_PCI_CONFIG_REGION_INDEX, &reg,
			     fresh(&err));
	check(!rc && reg.size == 256 && reg.offset == 7ull << 40,
	      "config region: size %#llx at %#llx",
	      (unsigned long long)reg.size, (unsigned long long)reg.offset);
	ptdm_dev_opts_init(&opts);
	rc = ptdm_dev_attach(&c->d, c->h, &opts, fresh(&err));
	if (!check(!rc, "ptdm_dev_attach over the VFIO host_dev %s", err.msg))
		return;
	test_edu_config(c, bdf);
	test_edu_bar(c);
	test_edu_quirk(c, bdf);
	test_edu_irqs(c, bdf);
	test_edu_dma(c);
	rc = ptdm_dev_reset(c->d);
	check(rc == -ENOTTY, "edu has no reset at all: %s", strerror(-rc));
}

struct nic_ctx {
	struct host_dev *h;
	struct ptdm_dev *d;
};

/* e1000e registers and interrupt causes (82574) */
#define E1000_ICR 0xc0
#define E1000_ICS 0xc8
#define E1000_IMS 0xd0
#define E1000_IVAR 0xe4
#define IVAR_OK(vec) (0x8u | (vec))

static void test_nic_msix(struct nic_ctx *c, void *bar0)
{
	static const struct { uint32_t cause; int vec; const char *name; }
	causes[] = { { 1u << 20, 0, "RXQ0" }, { 1u << 21, 1, "RXQ1" },
		     { 1u << 22, 2, "TXQ0" }, { 1u << 23, 3, "TXQ1" },
		     { 1u << 24, 4, "OTHER" } };
	struct ptdm_err err = { "" };
	struct ptdm_vfio_irq ii;
	struct ptdm_msix_info mi;
	int efd[5], rc;

	for (int i = 0; i < 5; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ptdm_msix_get(c->d, &mi);
	vfio_irq_info(c->h, VFIO_PCI_MSIX_IRQ_INDEX, &ii);
	check(mi.present && mi.nvec == 5 && ii.count == 5,
	      "MSI-X: the guest view has %u vectors, VFIO %u (flags %#x)",
	      mi.nvec, ii.count, ii.flags);
	rc = vfio_set_irq_eventfds(c->h, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, efd,
				   fresh(&err));
	vfio_irq_info(c->h, VFIO_PCI_MSIX_IRQ_INDEX, &ii);
	check(!rc && ii.enabled == 2, "MSI-X vectors 0-1 -> eventfds %s",
	      err.msg);
	rc = vfio_set_irq_eventfds(c->h, VFIO_PCI_MSIX_IRQ_INDEX, 2, 3,
				   efd + 2, fresh(&err));
	vfio_irq_info(c->h, VFIO_PCI_MSIX_IRQ_INDEX, &ii);
	check(!rc && ii.enabled == 5, "MSI-X grown to 5 vectors (%s) %s",
	      (ii.flags & VFIO_IRQ_INFO_NORESIZE) ? "re-enabled: NORESIZE"
						  : "dynamically",
	      err.msg);
	check(count_lines("/proc/interrupts", "vfio-msix") == 5,
	      "/proc/interrupts has 5 vfio-msix lines");
	wr32(bar0, E1000_IVAR, IVAR_OK(0) | IVAR_OK(1) << 4 | IVAR_OK(2) << 8 |
				       IVAR_OK(3) << 12 | IVAR_OK(4) << 16);
	wr32(bar0, E1000_IMS, 0x1f00000);
	for (size_t k = 0; k < sizeof(causes) / sizeof(causes[0]); k++) {
		bool own, others = false;

		for (int i = 0; i < 5; i++)
			drain(efd[i]);
		wr32(bar0, E1000_ICS, causes[k].cause);
		own = fired(efd[causes[k].vec], 2000);
		msleep(20);
		for (int i = 0; i < 5; i++)
			if (i != causes[k].vec)
				others |= fired(efd[i], 0);
		check(own && !others, "MSI-X: ICS %s fires vector %d only",
		      causes[k].name, causes[k].vec);
		wr32(bar0, E1000_ICR, ~0u);
	}
	rc = vfio_set_irq_eventfds(c->h, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL,
				   fresh(&err));
	check(!rc && count_lines("/proc/interrupts", "vfio-msix") == 0,
	      "MSI-X off: no vfio-msix line left");
	for (int i = 0; i < 5; i++)
		close(efd[i]);
}

/*
 * The generic owner over real VFIO (what a front end without SET_IRQS -
 * Xen - relies on): the guest programs e1000e's BAR and MSI-X table
 * through the core only, the owner turns that into a mapping and host
 * vectors, a cause the device raises comes out as the message the guest
 * programmed for that vector, a masked vector waits in the PBA.
 */
struct owner_rec {
	int maps, unmaps, msgs;
	uint64_t gpa, addr;
	uint32_t data;
	int level;
};

static int rec_bar(void *o, int bar, uint64_t gpa, uint64_t size,
		   enum host_bar_kind kind, bool map)
{
	struct owner_rec *r = o;

	if (map) {
		r->maps++;
		r->gpa = gpa;
	} else {
		r->unmaps++;
	}
	return 0;
}

static int rec_msi(void *o, uint64_t addr, uint32_t data)
{
	struct owner_rec *r = o;

	r->msgs++;
	r->addr = addr;
	r->data = data;
	return 0;
}

static int rec_intx(void *o, unsigned pin, bool level)
{
	((struct owner_rec *)o)->level = level;
	return 0;
}

/* Wait for the owner to see a host vector and deliver what fired. */
static void owner_wait(struct ptdm_owner *o, int ms)
{
	struct pollfd p = { .fd = ptdm_owner_fd(o), .events = POLLIN };

	if (poll(&p, 1, ms) == 1)
		ptdm_owner_handle(o);
	msleep(20);
	ptdm_owner_handle(o);
}

static void test_nic_owner(struct nic_ctx *c, void *bar0)
{
	struct ptdm_owner_ops ops = { .bar_map = rec_bar,
				      .msi_deliver = rec_msi,
				      .intx_level = rec_intx };
	struct ptdm_err err = { "" };
	struct ptdm_msix_info mi;
	struct ptdm_owner *o;
	struct owner_rec r = { 0 };
	unsigned cap = 0;
	uint64_t pba = 0;
	int rc;

	for (size_t i = 0; i < ptdm_dev_ncaps(c->d); i++)
		if (ptdm_dev_cap(c->d, i)->id == PCI_CAP_ID_MSIX &&
		    !ptdm_dev_cap(c->d, i)->ext)
			cap = ptdm_dev_cap(c->d, i)->pos;
	ptdm_msix_get(c->d, &mi);
	ops.opaque = &r;
	rc = ptdm_owner_new(&o, c->d, &ops, fresh(&err));
	if (!check(!rc && cap, "owner: attached to e1000e (MSI-X cap at %#x) "
		   "%s", cap, err.msg))
		return;
	check(count_lines("/proc/interrupts", "vfio-intx") == 1,
	      "owner: MSI-X off in the guest, so the host line is INTx");
	/* the guest places BAR0; with MEM decode on that is a mapping */
	ptdm_cfg_write(c->d, PCI_BASE_ADDRESS_0, 4, 0xc0000000);
	ptdm_cfg_write(c->d, PCI_BASE_ADDRESS_3, 4, 0xc0100000);
	check(r.maps == 2 && r.gpa == 0xc0100000,
	      "owner: guest BAR0/BAR3 placed -> %d mappings (last at %#llx)",
	      r.maps, (unsigned long long)r.gpa);
	/* the guest's table: vector v -> APIC 0, vector 0x40 + v */
	for (unsigned v = 0; v < 5; v++) {
		uint64_t e = mi.table_off + v * 16ull;
		uint32_t lo = 0xfee00000, hi = 0, data = 0x40 + v, ctl = 0;

		ptdm_bar_rw(c->d, mi.table_bar, e, &lo, 4, true);
		ptdm_bar_rw(c->d, mi.table_bar, e + 4, &hi, 4, true);
		ptdm_bar_rw(c->d, mi.table_bar, e + 8, &data, 4, true);
		ptdm_bar_rw(c->d, mi.table_bar, e + 12, &ctl, 4, true);
	}
	ptdm_cfg_write(c->d, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	check(count_lines("/proc/interrupts", "vfio-msix") == 5 &&
		      count_lines("/proc/interrupts", "vfio-intx") == 0,
	      "owner: the guest's MSI-X enable -> 5 host MSI-X vectors");
	wr32(bar0, E1000_IVAR, IVAR_OK(0) | IVAR_OK(1) << 4 | IVAR_OK(2) << 8 |
				       IVAR_OK(3) << 12 | IVAR_OK(4) << 16);
	wr32(bar0, E1000_IMS, 0x1f00000);
	for (unsigned v = 0; v < 5; v++) {
		int before = r.msgs;

		wr32(bar0, E1000_ICS, 1u << (20 + v));
		owner_wait(o, 2000);
		check(r.msgs == before + 1 && r.addr == 0xfee00000 &&
			      r.data == 0x40 + v,
		      "owner: cause %u -> one message %#llx/%#x as the guest "
		      "programmed vector %u", 20 + v,
		      (unsigned long long)r.addr, r.data, v);
		wr32(bar0, E1000_ICR, ~0u);
	}
	/* the guest masks vector 2: the interrupt waits in the PBA */
	{
		uint32_t one = 1, zero = 0;
		int before = r.msgs;

		ptdm_bar_rw(c->d, mi.table_bar, mi.table_off + 2 * 16 + 12,
			    &one, 4, true);
		wr32(bar0, E1000_ICS, 1u << 22);
		owner_wait(o, 2000);
		ptdm_bar_rw(c->d, mi.pba_bar, mi.pba_off, &pba, 8, false);
		check(r.msgs == before && pba == 1u << 2,
		      "owner: masked vector 2 -> no message, PBA %#llx",
		      (unsigned long long)pba);
		ptdm_bar_rw(c->d, mi.table_bar, mi.table_off + 2 * 16 + 12,
			    &zero, 4, true);
		ptdm_bar_rw(c->d, mi.pba_bar, mi.pba_off, &pba, 8, false);
		check(r.msgs == before + 1 && r.data == 0x42 && pba == 0,
		      "owner: unmasked -> the pending message goes out, PBA "
		      "clear");
		wr32(bar0, E1000_ICR, ~0u);
	}
	ptdm_cfg_write(c->d, cap + PCI_MSIX_FLAGS, 2, 0);
	check(count_lines("/proc/interrupts", "vfio-msix") == 0 &&
		      count_lines("/proc/interrupts", "vfio-intx") == 1,
	      "owner: MSI-X off in the guest -> host back on INTx");
	ptdm_cfg_write(c->d, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	check(r.unmaps == 2, "owner: guest MEM decode off -> both mappings "
	      "dropped (%d)", r.unmaps);
	ptdm_owner_free(o);
	check(count_lines("/proc/interrupts", "vfio-") == 0,
	      "owner: freed -> no host vector left");
	ptdm_cfg_write(c->d, PCI_COMMAND, 2, 0x0006);
}

/*
 * power_mgmt=1 with a VMM's mapping (CVE-2020-12888, the D3 half): the
 * guest's D3hot reaches the device, vfio-pci revokes the mmap a VMM holds
 * (an access faults instead of reaching a powered-down function), ptdm
 * stops trapped accesses, and D0 brings both back.
 */
static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

static bool mapped_read_faults(void *base, uint64_t off, uint32_t *val)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile bool faulted = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1))
		faulted = true;
	else
		*val = *(volatile uint32_t *)((uint8_t *)base + off);
	sigaction(SIGBUS, &old, NULL);
	return faulted;
}

static void test_nic_power_mgmt(struct nic_ctx *c, const char *bdf,
				void *bar0)
{
	struct ptdm_dev_opts opts;
	struct ptdm_err err = { "" };
	struct ptdm_dev *d;
	unsigned pm = 0;
	uint32_t v = 0, pmcsr;
	bool fault;
	int rc;

	ptdm_dev_opts_init(&opts);
	opts.power_mgmt = true;
	rc = ptdm_dev_attach(&d, c->h, &opts, fresh(&err));
	if (!check(!rc, "power_mgmt=1: attach e1000e %s", err.msg))
		return;
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++)
		if (ptdm_dev_cap(d, i)->id == PCI_CAP_ID_PM &&
		    !ptdm_dev_cap(d, i)->ext)
			pm = ptdm_dev_cap(d, i)->pos;
	ptdm_cfg_write(d, PCI_COMMAND, 2, 0x0006);
	fault = mapped_read_faults(bar0, 0x8, &v);
	check(pm && !fault, "power_mgmt=1: PM cap at %#x, the VMM's mapping "
	      "reads STATUS %#x in D0", pm, v);
	ptdm_cfg_write(d, pm + PCI_PM_CTRL, 2, 3); /* D3hot */
	pmcsr = sys_cfg(bdf, pm + PCI_PM_CTRL, 2);
	check((pmcsr & PCI_PM_CTRL_STATE_MASK) == 3,
	      "power_mgmt=1: the guest's D3hot reached the device (PMCSR "
	      "%#x)", pmcsr);
	fault = mapped_read_faults(bar0, 0x8, &v);
	check(fault, "D3hot: vfio-pci revoked the VMM's mapping (the access "
	      "faults)");
	v = 0;
	rc = ptdm_bar_rw(d, 0, 0x8, &v, 4, false);
	check(rc || v == 0xffffffff, "D3hot: ptdm traps nothing through to "
	      "the device either (rc %d, %#x)", rc, v);
	ptdm_cfg_write(d, pm + PCI_PM_CTRL, 2, 0); /* D0 */
	ptdm_cfg_write(d, PCI_COMMAND, 2, 0x0006);
	pmcsr = sys_cfg(bdf, pm + PCI_PM_CTRL, 2);
	fault = mapped_read_faults(bar0, 0x8, &v);
	check((pmcsr & PCI_PM_CTRL_STATE_MASK) == 0 && !fault,
	      "back in D0: the mapping works again (STATUS %#x)", v);
	ptdm_dev_free(d);
}

static void test_nic(struct nic_ctx *c, const char *bdf, int edu_container)
{
	struct ptdm_vfio_info info;
	struct ptdm_vfio_bar_map m0, m3;
	struct ptdm_vfio_region reg;
	struct ptdm_dev_opts opts;
	struct ptdm_err err = { "" };
	struct ptdm_vfio_stats s0, s1;
	uint64_t off = 0;
	uint8_t rom[2] = { 0 };
	uint32_t io = 0, ivar;
	int rc, fd;

	rc = bind_vfio(bdf);
	check(!rc, "%s bound to vfio-pci (%s)", bdf, strerror(-rc));
	rc = vfio_open(&c->h, bdf, fresh(&err));
	if (!check(!rc, "open e1000e %s %s", bdf, err.msg))
		return;
	vfio_get_info(c->h, &info);
	check(info.container_fd == edu_container,
	      "a second group (%d) joins the container edu's group is in",
	      info.group_id);
	check(info.flags & VFIO_DEVICE_FLAGS_RESET, "e1000e: reset supported "
	      "(flags %#x)", info.flags);
	check(c->h->cfg_size == 4096 && c->h->bars[0].kind == HOST_BAR_MEM32 &&
		      c->h->bars[2].kind == HOST_BAR_IO &&
		      c->h->bars[3].size == 0x4000 &&
		      c->h->bars[PTDM_ROM_INDEX].kind == HOST_BAR_ROM,
	      "host_dev: config %u, BAR0 %s %#llx, BAR2 %s %#llx, BAR3 %#llx, "
	      "ROM %#llx", c->h->cfg_size,
	      host_bar_kind_name(c->h->bars[0].kind),
	      (unsigned long long)c->h->bars[0].size,
	      host_bar_kind_name(c->h->bars[2].kind),
	      (unsigned long long)c->h->bars[2].size,
	      (unsigned long long)c->h->bars[3].size,
	      (unsigned long long)c->h->bars[PTDM_ROM_INDEX].size);
	rc = vfio_region_get(c->h, 3, &reg, fresh(&err));
	check(!rc && reg.msix_mappable, "BAR3 region: MSI-X mappable "
	      "capability (flags %#x)", reg.flags);
	check(info.msix && info.msix_table_bar == 3 && info.msix_pba_bar == 3,
	      "MSI-X table at BAR%d+%#llx, PBA at BAR%d+%#llx",
	      info.msix_table_bar, (unsigned long long)info.msix_table_off,
	      info.msix_pba_bar, (unsigned long long)info.msix_pba_off);
	rc = vfio_bar_mmap(c->h, 3, &m3, fresh(&err));
	check(!rc && m3.nwin >= 1 &&
		      !vfio_bar_map_covers(&m3, info.msix_table_off, 4) &&
		      !vfio_bar_map_covers(&m3, info.msix_pba_off, 4) &&
		      vfio_bar_map_covers(&m3, 0x1000, 4),
	      "BAR3 mapped in %zu windows, the table and PBA pages left out %s",
	      m3.nwin, err.msg);
	fd = c->h->ops->bar_fd(c->h, 3, &off);
	check(fd == info.device_fd && off == (3ull << 40),
	      "bar_fd(3): device fd, region offset %#llx",
	      (unsigned long long)off);
	rc = vfio_bar_mmap(c->h, 2, &m0, fresh(&err));
	check(rc == -EOPNOTSUPP, "the I/O BAR cannot be mapped: %s", err.msg);
	vfio_get_stats(c->h, &s0);
	rc = c->h->ops->bar_read(c->h, 2, 0, &io, 4);
	vfio_get_stats(c->h, &s1);
	check(!rc && s1.trapped == s0.trapped + 1, "I/O BAR read through the "
	      "region (%#x)", io);
	rc = c->h->ops->bar_read(c->h, PTDM_ROM_INDEX, 0, rom, 2);
	check(!rc && rom[0] == 0x55 && rom[1] == 0xaa,
	      "ROM signature %02x %02x", rom[0], rom[1]);

	ptdm_dev_opts_init(&opts);
	rc = ptdm_dev_attach(&c->d, c->h, &opts, fresh(&err));
	if (!check(!rc, "ptdm_dev_attach e1000e %s", err.msg))
		return;
	ptdm_cfg_write(c->d, 0x04, 2, 0x0006);
	check((sys_cfg(bdf, 4, 2) & 0x6) == 0x6, "e1000e: host decode and bus "
	      "master on");
	rc = vfio_bar_mmap(c->h, 0, &m0, fresh(&err));
	if (!check(!rc, "BAR0 mapped %s", err.msg))
		return;
	test_nic_msix(c, m0.base);
	test_nic_owner(c, m0.base);
	test_nic_power_mgmt(c, bdf, m0.base);

	/*
	 * VFIO_DEVICE_RESET through the core.  The guest kernel's only reset
	 * method for QEMU's e1000e is a PM reset (D3hot -> D0), which QEMU
	 * does not model as clearing registers: check that it is done and
	 * that the device and ptdm's view survive it (nvme's FLR below shows
	 * a reset that clears registers).
	 */
	rc = ptdm_dev_reset(c->d);
	vfio_get_info(c->h, &info);
	check(!rc && !strcmp(info.last_reset, "device"),
	      "VFIO_DEVICE_RESET on e1000e (%s, last reset \"%s\")",
	      strerror(-rc), info.last_reset);
	ptdm_cfg_read(c->d, 0x04, 2, &io);
	check(!(io & 0x6) && (sys_cfg(bdf, 4, 2) & 0x6) == 0x2,
	      "after the reset: guest COMMAND %#x (power-on), device COMMAND "
	      "%#x (decode on, bus master off)", io, sys_cfg(bdf, 4, 2));
	ptdm_cfg_write(c->d, 0x04, 2, 0x0006);
	wr32(m0.base, E1000_IVAR, IVAR_OK(1) | IVAR_OK(2) << 16);
	ivar = rd32(m0.base, E1000_IVAR);
	check(ivar == (IVAR_OK(1) | IVAR_OK(2) << 16) &&
		      (sys_cfg(bdf, 4, 2) & 0x6) == 0x6,
	      "and the device works again (IVAR %#x, device COMMAND %#x)",
	      ivar, sys_cfg(bdf, 4, 2));
}

#define NVME_CC 0x14

/* ---- the whole stack: vfio-user client -> ptdm -> VFIO -> edu ---- */

static void *vu_serve(void *arg)
{
	struct vfu_conn *c = arg;

	while (vfu_conn_handle(c) == 0)
		;
	return NULL;
}

static void test_vfio_user_stack(const struct devs *dv)
{
	struct host_dev *h = NULL;
	struct ptdm_dev *d = NULL;
	struct ptdm_dev_opts o;
	struct ptdm_err err = { "" };
	struct vfu_conn srv;
	struct vfu_client cli;
	struct vfu_region_info ri;
	uint8_t caps[256];
	pthread_t t;
	bool serving = false;
	int sv[2] = { -1, -1 }, fd = -1, rc;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int mfd = memfd_create("guest-ram", MFD_CLOEXEC);
	void *bar = MAP_FAILED;
	uint8_t *ram = MAP_FAILED;
	uint32_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	unsigned long before;

	rc = vfio_open(&h, dv->edu, fresh(&err));
	if (!check(!rc, "stack: edu %s through VFIO %s", dv->edu, err.msg))
		goto out;
	ptdm_dev_opts_init(&o);
	rc = ptdm_dev_attach(&d, h, &o, fresh(&err));
	if (!check(!rc, "stack: ptdm attaches over VFIO %s", err.msg))
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    vfu_conn_init(&srv, sv[0], d) ||
	    pthread_create(&t, NULL, vu_serve, &srv)) {
		check(false, "stack: vfio-user server set up");
		goto out;
	}
	serving = true;
	vfu_client_init_fd(&cli, sv[1]);
	rc = vfu_client_version(&cli, NULL, fresh(&err));
	check(!rc, "stack: vfio-user VERSION %s", err.msg);
	rc = vfu_client_region_rw(&cli, VFIO_PCI_CONFIG_REGION_INDEX,
				  PCI_COMMAND, &cmd, 2, true);
	check(!rc && (sys_cfg(dv->edu, PCI_COMMAND, 2) & PCI_COMMAND_MASTER),
	      "stack: the guest's bus master reaches the device");
	rc = vfu_client_region_info(&cli, 0, &ri, caps, sizeof(caps), &fd);
	if (!check(!rc && fd >= 0 && (ri.flags & VFIO_REGION_INFO_FLAG_MMAP),
		   "stack: BAR0 (%#llx bytes) comes with an fd the client maps",
		   (unsigned long long)ri.size))
		goto out;
	bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)ri.offset);
	if (!check(bar != MAP_FAILED && rd32(bar, EDU_ID) == 0x010000ed,
		   "stack: edu's id through the client's own mapping"))
		goto out;
	before = srv.messages;
	wr32(bar, EDU_STATUS, 0);
	wr32(bar, EDU_FACT, 10);
	check(wait_clear(bar, EDU_STATUS, 1, 3000, false) &&
		      rd32(bar, EDU_FACT) == 3628800,
	      "stack: factorial 10 through the mapping");
	/* MSI: the client's eventfd goes to the kernel, which signals it */
	rc = vfu_client_set_irqs(&cli, VFIO_PCI_MSI_IRQ_INDEX,
				 VFIO_IRQ_SET_DATA_EVENTFD |
					 VFIO_IRQ_SET_ACTION_TRIGGER,
				 0, 1, &efd);
	check(!rc, "stack: SET_IRQS MSI eventfd handed to VFIO (%s)",
	      strerror(-rc));
	before = srv.messages;
	wr32(bar, EDU_IRQ_RAISE, 0x77);
	check(fired(efd, 5000), "stack: edu's MSI fires the client's eventfd");
	wr32(bar, EDU_IRQ_ACK, 0x77);
	check(srv.messages == before,
	      "stack: mapped BAR and interrupt: ptdm woke up %lu times",
	      srv.messages - before);
	/* DMA into the client's memory through the host IOMMU */
	if (mfd < 0 || ftruncate(mfd, 4096)) {
		check(false, "stack: guest RAM memfd");
		goto out;
	}
	ram = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	for (int i = 0; ram != MAP_FAILED && i < 2048; i++)
		ram[i] = (uint8_t)(i * 7 + 3);
	rc = vfu_client_dma_map(&cli, 0x100000, 4096, mfd, 0,
				VFU_DMA_READ_OK | VFU_DMA_WRITE_OK);
	check(!rc, "stack: DMA_MAP of a memfd programs the IOMMU (%s)",
	      strerror(-rc));
	check(ram != MAP_FAILED &&
		      edu_dma(bar, 0x100000, EDU_DMA_BUF, false) &&
		      edu_dma(bar, EDU_DMA_BUF, 0x100000 + 2048, true) &&
		      !memcmp(ram, ram + 2048, 2048),
	      "stack: edu DMAs the client's memory in and back out");
	rc = vfu_client_dma_map(&cli, 0x200000, 4096, -1, 0,
				VFU_DMA_READ_OK | VFU_DMA_WRITE_OK);
	/* QEMU's ROM/BIOS ranges: kept, not in the IOMMU, said once */
	check(!rc && srv.ndma == 2 && !srv.dma[1].map && srv.fdless_dma_noted,
	      "stack: DMA_MAP without an fd kept, outside the IOMMU (%s)",
	      strerror(-rc));
	rc = vfu_client_dma_unmap(&cli, 0x200000, 4096, 0);
	check(!rc, "stack: DMA_UNMAP of the fd-less range (%s)", strerror(-rc));
	rc = vfu_client_dma_unmap(&cli, 0x100000, 4096, 0);
	check(!rc, "stack: DMA_UNMAP (%s)", strerror(-rc));
out:
	if (bar != MAP_FAILED)
		munmap(bar, ri.size);
	if (ram != MAP_FAILED)
		munmap(ram, 4096);
	if (fd >= 0)
		close(fd);
	if (serving) {
		vfu_client_close(&cli);
		pthread_join(t, NULL);
		vfu_conn_close(&srv);
	} else if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	ptdm_dev_free(d);
	host_close(h);
	if (efd >= 0)
		close(efd);
	if (mfd >= 0)
		close(mfd);
	check(count_lines("/proc/interrupts", "vfio") == 0,
	      "stack: after the client left, no vfio interrupt is left");
}

/*
 * mmap=trap over real VFIO: the client never gets the VFIO device fd (it
 * could issue VFIO ioctls past ptdm's policy with it, docs/security.md);
 * BAR0 works through REGION_READ/WRITE alone.
 */
static void test_vfio_user_trap(const struct devs *dv)
{
	struct host_dev *h = NULL;
	struct ptdm_dev *d = NULL;
	struct ptdm_dev_opts o;
	struct ptdm_err err = { "" };
	struct vfu_conn srv;
	struct vfu_client cli;
	struct vfu_region_info ri;
	uint8_t caps[256];
	pthread_t t;
	bool serving = false;
	int sv[2] = { -1, -1 }, fd = -1, rc;
	uint32_t cmd = PCI_COMMAND_MEMORY, v = 0;

	rc = vfio_open(&h, dv->edu, fresh(&err));
	ptdm_dev_opts_init(&o);
	o.mmap_trap = true;
	if (!check(!rc && !ptdm_dev_attach(&d, h, &o, fresh(&err)),
		   "trap: edu through VFIO and ptdm, mmap=trap %s", err.msg))
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    vfu_conn_init(&srv, sv[0], d) ||
	    pthread_create(&t, NULL, vu_serve, &srv)) {
		check(false, "trap: vfio-user server set up");
		goto out;
	}
	serving = true;
	vfu_client_init_fd(&cli, sv[1]);
	rc = vfu_client_version(&cli, NULL, fresh(&err));
	rc = rc ? rc : vfu_client_region_rw(&cli, VFIO_PCI_CONFIG_REGION_INDEX,
					    PCI_COMMAND, &cmd, 2, true);
	rc = rc ? rc : vfu_client_region_info(&cli, 0, &ri, caps, sizeof(caps),
					      &fd);
	check(!rc && fd < 0 && !(ri.flags & VFIO_REGION_INFO_FLAG_MMAP) &&
		      !(ri.flags & VFIO_REGION_INFO_FLAG_CAPS) && ri.size,
	      "trap: BAR0 (%#llx bytes) without an fd or MMAP flag",
	      (unsigned long long)ri.size);
	rc = vfu_client_region_rw(&cli, 0, EDU_ID, &v, 4, false);
	check(!rc && v == 0x010000ed, "trap: edu's id by REGION_READ (%#x)", v);
	v = 0x12345678;
	rc = vfu_client_region_rw(&cli, 0, EDU_LIVE, &v, 4, true);
	rc = rc ? rc : vfu_client_region_rw(&cli, 0, EDU_LIVE, &v, 4, false);
	check(!rc && v == ~0x12345678u,
	      "trap: edu's liveness register by REGION_WRITE/READ (%#x)", v);
out:
	if (fd >= 0)
		close(fd);
	if (serving) {
		vfu_client_close(&cli);
		pthread_join(t, NULL);
		vfu_conn_close(&srv);
	} else if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	ptdm_dev_free(d);
	host_close(h);
}

/* The same chain for e1000e: MSI-X vectors, each firing its own eventfd. */
static void test_vfio_user_msix(const struct devs *dv)
{
	static const struct { uint32_t cause; int vec; } causes[] = {
		{ 1u << 20, 0 }, { 1u << 22, 2 }, { 1u << 24, 4 } };
	struct host_dev *h = NULL;
	struct ptdm_dev *d = NULL;
	struct ptdm_dev_opts o;
	struct ptdm_err err = { "" };
	struct vfu_conn srv;
	struct vfu_client cli;
	struct vfu_region_info ri;
	uint8_t caps[256];
	pthread_t t;
	bool serving = false;
	int sv[2] = { -1, -1 }, fd = -1, efd[5], rc;
	void *bar = MAP_FAILED;
	uint32_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

	for (int i = 0; i < 5; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rc = vfio_open(&h, dv->nic, fresh(&err));
	ptdm_dev_opts_init(&o);
	if (!check(!rc && !ptdm_dev_attach(&d, h, &o, fresh(&err)),
		   "stack: e1000e %s through VFIO and ptdm %s", dv->nic,
		   err.msg))
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    vfu_conn_init(&srv, sv[0], d) ||
	    pthread_create(&t, NULL, vu_serve, &srv)) {
		check(false, "stack: vfio-user server for e1000e");
		goto out;
	}
	serving = true;
	vfu_client_init_fd(&cli, sv[1]);
	rc = vfu_client_version(&cli, NULL, fresh(&err));
	rc = rc ? rc : vfu_client_region_rw(&cli, VFIO_PCI_CONFIG_REGION_INDEX,
					    PCI_COMMAND, &cmd, 2, true);
	rc = rc ? rc : vfu_client_region_info(&cli, 0, &ri, caps, sizeof(caps),
					      &fd);
	if (!check(!rc && fd >= 0, "stack: e1000e BAR0 fd for the client"))
		goto out;
	bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)ri.offset);
	if (!check(bar != MAP_FAILED, "stack: the client maps e1000e's BAR0"))
		goto out;
	/* as QEMU does: the first vectors, then the rest in another call */
	rc = vfu_client_set_irqs(&cli, VFIO_PCI_MSIX_IRQ_INDEX,
				 VFIO_IRQ_SET_DATA_EVENTFD |
					 VFIO_IRQ_SET_ACTION_TRIGGER,
				 0, 2, efd);
	rc = rc ? rc : vfu_client_set_irqs(&cli, VFIO_PCI_MSIX_IRQ_INDEX,
					   VFIO_IRQ_SET_DATA_EVENTFD |
						   VFIO_IRQ_SET_ACTION_TRIGGER,
					   2, 3, efd + 2);
	check(!rc && count_lines("/proc/interrupts", "vfio-msix") == 5,
	      "stack: 5 MSI-X eventfds handed to VFIO (%s)", strerror(-rc));
	wr32(bar, E1000_IVAR, IVAR_OK(0) | IVAR_OK(1) << 4 | IVAR_OK(2) << 8 |
				      IVAR_OK(3) << 12 | IVAR_OK(4) << 16);
	wr32(bar, E1000_IMS, 0x1f00000);
	for (size_t k = 0; k < sizeof(causes) / sizeof(causes[0]); k++) {
		bool own, others = false;
		unsigned long before = srv.messages;

		for (int i = 0; i < 5; i++)
			drain(efd[i]);
		wr32(bar, E1000_ICS, causes[k].cause);
		own = fired(efd[causes[k].vec], 2000);
		msleep(20);
		for (int i = 0; i < 5; i++)
			if (i != causes[k].vec)
				others |= fired(efd[i], 0);
		check(own && !others && srv.messages == before,
		      "stack: MSI-X vector %d fires its own eventfd only, "
		      "ptdm not involved", causes[k].vec);
		wr32(bar, E1000_ICR, ~0u);
	}
out:
	if (bar != MAP_FAILED)
		munmap(bar, ri.size);
	if (fd >= 0)
		close(fd);
	if (serving) {
		vfu_client_close(&cli);
		pthread_join(t, NULL);
		vfu_conn_close(&srv);
	} else if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	ptdm_dev_free(d);
	host_close(h);
	for (int i = 0; i < 5; i++)
		close(efd[i]);
	check(count_lines("/proc/interrupts", "vfio-msix") == 0,
	      "stack: MSI-X off once the client left");
}

/*
 * Every client personality (what QEMU, cloud-hypervisor, libvfio-user's
 * client and SPDK send, judged by their own checks) against ptdm serving
 * a real VFIO device, one client after the other on the same device.
 * `check` (warnings fail too) for the PCIe e1000e; edu is conventional
 * PCI without a reset here, for which QEMU warns about ERR and reset under
 * any server.  SPDK DMA-maps at its virtual addresses: the guest's
 * IOMMU has 48-bit addresses, as real ones do (run.sh).
 */
static void test_personalities(const char *bdf, const char *what, bool strict,
			       bool resets)
{
	static const struct {
		const char *who;
		int (*run)(struct pc *p);
	} ps[] = {
		{ "QEMU", persona_qemu },
		{ "cloud-hypervisor", persona_cloud_hypervisor },
		{ "libvfio-user", persona_libvfio_user },
		{ "SPDK", persona_spdk },
	};
	static struct pc p;
	struct host_dev *h = NULL;
	struct ptdm_dev *d = NULL;
	struct ptdm_dev_opts o;
	struct ptdm_err err = { "" };
	int rc = vfio_open(&h, bdf, fresh(&err));

	ptdm_dev_opts_init(&o);
	if (!check(!rc && !ptdm_dev_attach(&d, h, &o, fresh(&err)),
		   "personalities: %s %s through VFIO and ptdm %s", what, bdf,
		   err.msg))
		goto out;
	/* DEVICE_GET_INFO's RESET flag says what the kernel can do */
	check(h->reset_none == !resets, "personalities: %s: %s", what,
	      resets ? "has a reset: the RESET flag is offered"
		     : "has no function or bus reset: no RESET flag");
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		struct vfu_conn srv;
		pthread_t t;
		int sv[2];

		if (ps[i].run == persona_libvfio_user && !resets) {
			/* its sample client resets whatever the device says */
			printf("SKIP: personalities: libvfio-user on %s: the "
			       "sample client resets unconditionally and %s has "
			       "no reset here\n", what, what);
			continue;
		}
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
		    vfu_conn_init(&srv, sv[0], d)) {
			check(false, "personalities: server for %s", ps[i].who);
			break;
		}
		if (pthread_create(&t, NULL, vu_serve, &srv)) {
			vfu_conn_close(&srv);
			close(sv[1]);
			check(false, "personalities: server thread");
			break;
		}
		pc_attach(&p, ps[i].who, sv[1]);
		p.check = strict;
		rc = ps[i].run(&p);
		check(!rc, "personalities: %s brings up %s over VFIO (%u "
		      "messages, %u warnings)", ps[i].who, what, p.messages,
		      p.warnings);
		pc_close(&p); /* the server sees the client go */
		pthread_join(t, NULL);
		vfu_conn_close(&srv);
	}
out:
	ptdm_dev_free(d);
	host_close(h);
	check(count_lines("/proc/interrupts", "vfio-") == 0,
	      "personalities: no VFIO interrupt left after %s", what);
}

/* what `ptdm list` says about the guest's devices, before any binding */
static void test_list(const struct devs *dv)
{
	char (*bdfs)[16] = NULL;
	struct ptdm_err err = { "" };
	bool edu = false, nvme = false, bridge = false, host = false;
	int n = sysfs_list(&bdfs, &err);

	for (int i = 0; i < n; i++) {
		struct ptdm_devinfo e;

		devinfo_read(&e, bdfs[i]);
		if (!strcmp(e.bdf, dv->edu))
			edu = e.assignable && strcmp(e.group, "-") &&
			      e.vendor == 0x1234 && e.device == 0x11e8;
		if (!strcmp(e.bdf, dv->nvme))
			nvme = e.assignable &&
			       !strcmp(e.verdict, "yes, once unbound from nvme");
		if (e.header_type == 1)
			bridge = !e.assignable &&
				 !strcmp(e.verdict, "no: PCI bridge");
		if ((e.class24 >> 8) == 0x0600)
			host = !e.assignable;
	}
	free(bdfs);
	check(n > 4 && edu && nvme && bridge && host,
	      "ptdm list: %d devices; edu assignable in its group, nvme once "
	      "unbound from nvme, the root port and host bridge refused", n);
}

/* assignable-remove gives nvme back to its driver; add takes it again */
static void test_give_back(const struct devs *dv)
{
	struct ptdm_err err = { "" };
	int rc = assign_remove(dv->nvme, &err);

	check(!rc && driver_is(dv->nvme, "nvme"),
	      "assignable-remove %s: back with the nvme driver %s", dv->nvme,
	      err.msg);
	rc = assign_add(dv->nvme, &err);
	check(!rc && driver_is(dv->nvme, "vfio-pci"),
	      "assignable-add %s again: vfio-pci %s", dv->nvme, err.msg);
	rc = assign_remove(dv->nvme, &err);
	check(!rc && driver_is(dv->nvme, "nvme"),
	      "and back once more %s", err.msg);
}

/* ---- two functions of one VMM: one vfio-user connection each ---- */

static int vu_pump(void *opaque)
{
	return vfu_conn_handle(opaque);
}

/*
 * edu2 and nvme share a group, so a DMA space: QEMU sends each of its
 * vfio-user-pci devices the same RAM section on its own socket, with its
 * own fd of the guest's memfd.  Both DMA_MAPs are accepted (one address
 * in ptdm, util/guestmem.c; one kernel mapping, vfio_dma.c), edu DMAs
 * through it, and it stays until the last connection lets it go.
 */
static void test_group_two_connections(struct host_dev *a, struct host_dev *b,
				       void *edu_bar)
{
	struct ptdm_dev *d[2] = { NULL, NULL };
	struct vfu_conn srv[2];
	struct vfu_client cli[2];
	struct ptdm_dev_opts o;
	struct ptdm_err err = { "" };
	int mfd = memfd_create("guest-ram", MFD_CLOEXEC), fd1 = -1, rc;
	int up = 0, sv[2];
	uint8_t *ram = MAP_FAILED;
	char p[64];

	ptdm_dev_opts_init(&o);
	for (int i = 0; i < 2; i++) {
		rc = ptdm_dev_attach(&d[i], i ? b : a, &o, fresh(&err));
		if (!check(!rc, "two connections: ptdm attaches %s %s",
			   (i ? b : a)->name, err.msg))
			goto out;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
		    vfu_conn_init(&srv[i], sv[0], d[i])) {
			check(false, "two connections: server %d set up", i);
			goto out;
		}
		vfu_client_init_fd(&cli[i], sv[1]);
		cli[i].pump = vu_pump;
		cli[i].pump_opaque = &srv[i];
		up++;
		rc = vfu_client_version(&cli[i], NULL, fresh(&err));
		check(!rc, "two connections: VERSION on %s %s",
		      (i ? b : a)->name, err.msg);
	}
	if (mfd < 0 || ftruncate(mfd, 0x10000)) {
		check(false, "two connections: guest RAM memfd");
		goto out;
	}
	snprintf(p, sizeof(p), "/proc/self/fd/%d", mfd);
	fd1 = open(p, O_RDWR | O_CLOEXEC);
	ram = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	for (int i = 0; ram != MAP_FAILED && i < EDU_DMA_LEN; i++)
		ram[i] = (uint8_t)(i * 13 + 5);
	rc = vfu_client_dma_map(&cli[0], 0x400000, 0x10000, mfd, 0,
				VFU_DMA_READ_OK | VFU_DMA_WRITE_OK);
	check(!rc, "two connections: %s maps guest RAM at 0x400000 (%s)",
	      a->name, strerror(-rc));
	rc = vfu_client_dma_map(&cli[1], 0x400000, 0x10000, fd1, 0,
				VFU_DMA_READ_OK | VFU_DMA_WRITE_OK);
	check(!rc && srv[1].ndma == 1 && srv[0].ndma == 1 &&
		      srv[1].dma[0].map == srv[0].dma[0].map,
	      "two connections: %s maps the same memfd range at the same IOVA "
	      "in the same space: accepted, one address (%s)", b->name,
	      strerror(-rc));
	rc = vfu_client_dma_unmap(&cli[0], 0x400000, 0x10000, 0);
	check(!rc, "two connections: %s unmaps first (%s)", a->name,
	      strerror(-rc));
	/* nvme's connection still holds it: the device still reaches it */
	ptdm_cfg_write(d[0], PCI_COMMAND, 2,
		       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	check(ram != MAP_FAILED && edu_bar &&
		      edu_dma(edu_bar, 0x400000, EDU_DMA_BUF, false) &&
		      edu_dma(edu_bar, EDU_DMA_BUF, 0x400000 + 0x8000, true) &&
		      !memcmp(ram, ram + 0x8000, EDU_DMA_LEN),
	      "two connections: edu DMAs the guest RAM in and out while the "
	      "other connection holds the mapping");
	rc = vfu_client_dma_unmap(&cli[1], 0x400000, 0x10000, 0);
	check(!rc, "two connections: %s unmaps last (%s)", b->name,
	      strerror(-rc));
	rc = vfu_client_dma_map(&cli[1], 0x400000, 0x10000, fd1, 0,
				VFU_DMA_READ_OK | VFU_DMA_WRITE_OK);
	check(!rc, "two connections: mapped again, then closed mid-way (%s)",
	      strerror(-rc));
out:
	for (int i = 0; i < up; i++) {
		vfu_client_close(&cli[i]);
		vfu_conn_close(&srv[i]);
	}
	for (int i = 0; i < 2; i++)
		ptdm_dev_free(d[i]);
	if (a && b) {
		void *pg = page_buf();

		rc = pg ? vfio_dma_map(a, 0x400000, pg, 4096, PTDM_DMA_READ,
				       fresh(&err)) : -ENOMEM;
		check(!rc, "two connections: nothing left at 0x400000 after "
		      "close %s", err.msg);
		if (!rc)
			vfio_dma_unmap(a, 0x400000, 4096, fresh(&err));
		if (pg)
			munmap(pg, 4096);
	}
	if (ram != MAP_FAILED)
		munmap(ram, 0x10000);
	if (fd1 >= 0)
		close(fd1);
	if (mfd >= 0)
		close(mfd);
}

/* edu2 + nvme: one group behind a root port */
static void test_group(const struct devs *dv, int edu_container)
{
	struct ptdm_vfio_info ia, ib;
	struct ptdm_vfio_bar_map m0;
	struct ptdm_err err = { "" };
	struct host_dev *a = NULL, *b = NULL;
	uint8_t *buf = page_buf(), *other = page_buf();
	uint32_t id = 0;
	int rc;

	/* the group rule on the kernel's own sysfs (slot.c) */
	rc = slot_group_check((const char (*)[16])dv->edu2, 1, NULL, 0, true,
			      fresh(&err));
	check(rc == -EBUSY && strstr(err.msg, dv->nvme) &&
		      strstr(err.msg, "(nvme)") &&
		      strstr(err.msg, "in use by the host"),
	      "group rule: %s alone refused even with group=partial while "
	      "its group mate is on nvme: %s", dv->edu2, err.msg);
	rc = bind_vfio(dv->nvme);
	check(!rc, "%s handed from nvme to vfio-pci (%s)", dv->nvme,
	      strerror(-rc));
	rc = slot_group_check((const char (*)[16])dv->edu2, 1, NULL, 0, false,
			      fresh(&err));
	check(rc == -EBUSY && strstr(err.msg, dv->nvme) &&
		      strstr(err.msg, "(vfio-pci)") &&
		      strstr(err.msg, "not served with it"),
	      "group rule: %s alone refused, %s on vfio-pci named: %s",
	      dv->edu2, dv->nvme, err.msg);
	rc = slot_group_check((const char (*)[16])dv->edu2, 1,
			      (const char (*)[16])dv->nvme, 1, false,
			      fresh(&err));
	check(!rc, "group rule: %s with %s served: accepted %s", dv->edu2,
	      dv->nvme, err.msg);
	rc = slot_group_check((const char (*)[16])dv->edu2, 1, NULL, 0, true,
			      fresh(&err));
	check(!rc, "group rule: group=partial leaves %s unused on vfio-pci %s",
	      dv->nvme, err.msg);
	rc = vfio_open(&a, dv->edu2, fresh(&err));
	if (!check(!rc, "open edu %s: the group is viable now %s", dv->edu2,
		   err.msg))
		goto out;
	rc = vfio_open(&b, dv->nvme, fresh(&err));
	if (!check(!rc, "open nvme %s, its group mate %s", dv->nvme, err.msg))
		goto out;
	vfio_get_info(a, &ia);
	vfio_get_info(b, &ib);
	check(ia.group_id == ib.group_id && ia.group_fd == ib.group_fd &&
		      ia.container_fd == edu_container &&
		      ib.container_fd == edu_container,
	      "edu and nvme share group %d's fd; a third group in the same "
	      "container", ia.group_id);

	/* nvme: a 64-bit BAR with the MSI-X table and PBA inside */
	check(b->bars[0].kind == HOST_BAR_MEM64 &&
		      b->bars[1].kind == HOST_BAR_MEM64_HI && ib.msix &&
		      ib.msix_table_bar == 0 && ib.msix_pba_bar == 0,
	      "nvme: BAR0 %s %#llx holds the MSI-X table (+%#llx) and PBA "
	      "(+%#llx)", host_bar_kind_name(b->bars[0].kind),
	      (unsigned long long)b->bars[0].size,
	      (unsigned long long)ib.msix_table_off,
	      (unsigned long long)ib.msix_pba_off);
	rc = vfio_bar_mmap(b, 0, &m0, fresh(&err));
	check(!rc && !vfio_bar_map_covers(&m0, ib.msix_table_off, 16) &&
		      !vfio_bar_map_covers(&m0, ib.msix_pba_off, 8) &&
		      vfio_bar_map_covers(&m0, 0, 0x1000),
	      "nvme BAR0 mapped in %zu windows around the MSI-X pages %s",
	      m0.nwin, err.msg);
	if (!rc) {
		uint32_t cc;

		check(rd32(m0.base, 0x08) == 0x00010400,
		      "nvme VS register %#x through the mapping",
		      rd32(m0.base, 0x08));
		/* FLR: VFIO_DEVICE_RESET that visibly clears registers */
		wr32(m0.base, NVME_CC, 0x00460000); /* queue sizes, not EN */
		cc = rd32(m0.base, NVME_CC);
		rc = b->ops->reset(b);
		vfio_get_info(b, &ib);
		check(!rc && cc == 0x00460000 && rd32(m0.base, NVME_CC) == 0 &&
			      !strcmp(ib.last_reset, "device"),
		      "nvme VFIO_DEVICE_RESET (FLR): CC %#x -> %#x (%s)", cc,
		      rd32(m0.base, NVME_CC), strerror(-rc));
	}

	/* one space: both devices map the same guest RAM */
	if (buf && other) {
		rc = vfio_dma_map(a, 0x300000, buf, 4096, PTDM_DMA_READ,
				  fresh(&err));
		check(!rc, "edu maps IOVA 0x300000 %s", err.msg);
		rc = vfio_dma_map(b, 0x300000, buf, 4096, PTDM_DMA_READ,
				  fresh(&err));
		check(!rc, "nvme maps the same range in the same space %s",
		      err.msg);
		rc = vfio_dma_map(b, 0x300000, other, 4096, PTDM_DMA_READ,
				  fresh(&err));
		check(rc == -EEXIST, "other memory at that IOVA refused: %s",
		      err.msg);
		rc = vfio_dma_unmap(a, 0x300000, 4096, fresh(&err));
		check(!rc, "edu unmaps it; nvme still holds it %s", err.msg);
		rc = vfio_dma_map(a, 0x300000, other, 4096, PTDM_DMA_READ,
				  fresh(&err));
		check(rc == -EEXIST, "so other memory is still refused there");
		rc = vfio_dma_unmap(b, 0x300000, 4096, fresh(&err));
		check(!rc, "nvme unmaps it %s", err.msg);
		rc = vfio_dma_map(a, 0x300000, other, 4096, PTDM_DMA_READ,
				  fresh(&err));
		check(!rc, "the kernel mapping went with the last user: "
		      "remapped with other memory %s", err.msg);
	}

	{
		struct ptdm_vfio_bar_map e0;

		rc = vfio_bar_mmap(a, 0, &e0, fresh(&err));
		check(!rc, "edu2 BAR0 mapped %s", err.msg);
		test_group_two_connections(a, b, rc ? NULL : e0.base);
	}

	/* no function reset for edu2 (nvme shares the bus): hot reset */
	check(!(ia.flags & VFIO_DEVICE_FLAGS_RESET), "%s: no function "
	      "reset (flags %#x)", dv->edu2, ia.flags);
	rc = a->ops->reset(a);
	vfio_get_info(a, &ia);
	check(!rc && !strcmp(ia.last_reset, "hot"),
	      "reset through VFIO_DEVICE_PCI_HOT_RESET with the group's fd "
	      "(%s, %s)", strerror(-rc), ia.last_reset);
	rc = a->ops->bar_read(a, 0, 0, &id, 4);
	check(!rc && id == 0x010000ed, "edu alive after the bus reset "
	      "(id %#x)", id);
out:
	host_close(b);
	host_close(a);
	if (buf)
		munmap(buf, 4096);
	if (other)
		munmap(other, 4096);
}

static void test_close(struct edu_ctx *e, struct nic_ctx *n,
		       const struct devs *dv)
{
	struct ptdm_err err = { "" };
	struct host_dev *h = NULL;
	int rc;

	/* the personalities reset edu, which has no reset: ptdm turned its
	 * bus mastering off; the guest driver turns it on again */
	if (e->d)
		ptdm_cfg_write(e->d, PCI_COMMAND, 2,
			       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	check((sys_cfg(dv->edu, 4, 2) & 0x4) && (sys_cfg(dv->nic, 4, 2) & 0x4),
	      "before close: bus master on for edu and e1000e");
	if (n->d)
		ptdm_dev_free(n->d);
	host_close(n->h);
	if (e->d)
		ptdm_dev_free(e->d);
	host_close(e->h);
	check(!(sys_cfg(dv->edu, 4, 2) & 0x4) &&
		      !(sys_cfg(dv->nic, 4, 2) & 0x4),
	      "after close: bus master off (edu COMMAND %#x, e1000e %#x)",
	      sys_cfg(dv->edu, 4, 2), sys_cfg(dv->nic, 4, 2));
	check(count_lines("/proc/interrupts", "vfio") == 0,
	      "after close: no vfio interrupt left");
	check(count_fds() == baseline_fds, "after close: every fd closed (%d)",
	      count_fds());
	rc = vfio_open(&h, dv->edu, fresh(&err));
	check(!rc, "edu opens again after close %s", err.msg);
	host_close(h);
	rc = vfio_open(&h, dv->nic, fresh(&err));
	check(!rc, "e1000e opens again after close %s", err.msg);
	host_close(h);
	check(count_fds() == baseline_fds, "and closes cleanly (%d fds)",
	      count_fds());
}

int main(void)
{
	struct edu_ctx edu = { 0 };
	struct nic_ctx nic = { 0 };
	struct devs dv = { 0 };
	char edus[2][16], nics[1][16], nvmes[1][16];
	struct timespec t0, t1;
	int n;

	signal(SIGALRM, on_alarm);
	alarm(240);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	baseline_fds = count_fds();
	n = find_devs(0x1234, 0x11e8, edus, 2);
	if (n == 2) {
		snprintf(dv.edu, 16, "%s", edus[0]);
		snprintf(dv.edu2, 16, "%s", edus[1]);
	}
	if (!check(n == 2 && find_devs(0x8086, 0x10d3, nics, 1) == 1 &&
			   find_devs(0x1b36, 0x0010, nvmes, 1) == 1,
		   "the guest has 2 edu, an e1000e and an nvme (%d edu)", n))
		goto out;
	snprintf(dv.nic, 16, "%s", nics[0]);
	snprintf(dv.nvme, 16, "%s", nvmes[0]);

	test_list(&dv);
	test_errors(&dv);
	test_edu(&edu, dv.edu);
	test_nic(&nic, dv.nic, edu.container_fd);
	test_group(&dv, edu.container_fd);
	test_close(&edu, &nic, &dv);
	test_give_back(&dv);
	test_vfio_user_stack(&dv);
	test_vfio_user_trap(&dv);
	test_vfio_user_msix(&dv);
	test_personalities(dv.edu, "edu", false, false);
	test_personalities(dv.nic, "e1000e", true, true);
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("RESULT: %u passed, %u failed (%ld ms)\n", passed, failed,
	       (long)((t1.tv_sec - t0.tv_sec) * 1000 +
		      (t1.tv_nsec - t0.tv_nsec) / 1000000));
	return failed ? 1 : 0;
}
