/*
 * mig_guest_test.c - live migration of a real VFIO device between two
 * ptdm processes, run inside a QEMU TCG guest by tests/vm/run.sh
 * --machine mig (issue 12).
 *
 * The guest has (addresses fixed by run.sh):
 *   00:02.0  edu on vfio-pci: no migration; ptdm must refuse it cleanly
 *   00:06.0  edu on edu-vfio-mig (tests/vm/edu_mig): the source
 *   00:07.0  edu on edu-vfio-mig: the destination
 *
 * /lib/modules/edu_mig.ko is built by tests/vm/kmod.sh against Debian's
 * headers for the booted kernel; this program loads it (first with the
 * parameters a kernel must refuse), binds the devices itself
 * (driver_override + drivers_probe on the guest's own bus), and forks two
 * ptdm servers: each opens its edu through ptdm's VFIO backend and serves
 * it over vfio-user on a socketpair.  The parent is the VMM: it maps
 * guest RAM for DMA, routes MSI to an eventfd, runs a factorial and a DMA
 * (one still in flight when it stops the source), moves the state from
 * source to destination through MIG_DATA_READ/WRITE, resumes the
 * destination and checks edu's registers there, its pending interrupt
 * and the source's dirty bitmap.  One PASS/FAIL line per check and
 * "RESULT: N passed, M failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include "ptdm/dev.h"
#include "ptdm/host.h"
#include "ptdm/vfio.h"
#include "ptdm/vfio_user.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"

#define PLAIN "0000:00:02.0"
#define SRC "0000:00:06.0"
#define DST "0000:00:07.0"
#define MIG_DRIVER "edu-vfio-mig"
#define KO "/lib/modules/edu_mig.ko"

#define EDU_LIVE 0x04
#define EDU_FACT 0x08
#define EDU_STATUS 0x20
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_BUF 0x40000
#define IOVA 0x100000ull
#define RAM_SIZE 0x10000ull /* 16 pages */

#define F_GET (1u << 16)
#define F_SET (1u << 17)
#define F_PROBE (1u << 18)
#define F_MIG_DATA_SIZE 9

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
	static const char msg[] = "FAIL: the test hung (180 s watchdog)\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(2);
}

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

static bool driver_is(const char *bdf, const char *want)
{
	char p[256], link[256];
	ssize_t n;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0)
		return !strcmp(want, "-");
	link[n] = 0;
	return !strcmp(strrchr(link, '/') + 1, want);
}

/* driver_override + unbind + drivers_probe: the guest's own bus */
static bool bind_to(const char *bdf, const char *drv)
{
	char p[256];

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (write_file(p, drv))
		return false;
	if (!driver_is(bdf, "-")) {
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind",
			 bdf);
		(void)write_file(p, bdf);
	}
	(void)write_file("/sys/bus/pci/drivers_probe", bdf);
	return driver_is(bdf, drv);
}

static void unbind(const char *bdf)
{
	char p[256];

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	(void)write_file(p, bdf);
}

static bool fired(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(efd, &v, sizeof(v)) == sizeof(v) && v > 0;
}

static void msleep(unsigned ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

static bool kernel_612(void)
{
	struct utsname u;

	return !uname(&u) && !strncmp(u.release, "6.12", 4);
}

/* ---- a ptdm server in a child process ---- */

struct server {
	pid_t pid;
	struct vfu_client cli;
	bool up;
};

static void serve_child(const char *bdf, int fd)
{
	struct host_dev *h = NULL;
	struct ptdm_dev *d = NULL;
	struct ptdm_dev_opts o;
	struct ptdm_err err = { "" };
	struct vfu_conn c;

	if (vfio_open(&h, bdf, &err)) {
		printf("  server %s: %s\n", bdf, err.msg);
		_exit(10);
	}
	ptdm_dev_opts_init(&o);
	if (ptdm_dev_attach(&d, h, &o, &err)) {
		printf("  server %s: attach: %s\n", bdf, err.msg);
		_exit(11);
	}
	if (vfu_conn_init(&c, fd, d))
		_exit(12);
	while (vfu_conn_handle(&c) == 0)
		;
	vfu_conn_close(&c);
	ptdm_dev_free(d);
	host_close(h);
	_exit(0);
}

static bool server_start(struct server *s, const char *bdf)
{
	struct ptdm_err err = { "" };
	int sv[2];

	memset(s, 0, sizeof(*s));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return false;
	fflush(stdout);
	s->pid = fork();
	if (s->pid < 0)
		return false;
	if (s->pid == 0) {
		close(sv[1]);
		serve_child(bdf, sv[0]);
	}
	close(sv[0]);
	vfu_client_init_fd(&s->cli, sv[1]);
	s->up = vfu_client_version(&s->cli, NULL, &err) == 0;
	if (!s->up)
		printf("  %s: VERSION: %s\n", bdf, err.msg);
	return s->up;
}

static int server_stop(struct server *s)
{
	int st = 0;

	vfu_client_close(&s->cli);
	if (s->pid > 0 && waitpid(s->pid, &st, 0) == s->pid)
		return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	return 101;
}

/* ---- the VMM's side of vfio-user ---- */

static int feature(struct server *s, uint32_t flags, const void *data,
		   size_t dlen, void *out, size_t omax)
{
	return vfu_client_feature(&s->cli, flags, data, dlen, out, omax, NULL);
}

static int mig_set(struct server *s, uint32_t to)
{
	uint32_t st[2] = { to, (uint32_t)-1 };

	return feature(s, F_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, st,
		       sizeof(st), NULL, 0);
}

static uint32_t mig_state(struct server *s)
{
	uint32_t st[2] = { 99, 0 };

	if (feature(s, F_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, NULL, 0,
		    st, sizeof(st)))
		return 99;
	return st[0];
}

static uint32_t rd(struct server *s, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	if (vfu_client_region_rw(&s->cli, 0, off, &v, 4, false))
		return 0xdeadbeef;
	return v;
}

static int wr(struct server *s, uint64_t off, uint32_t v)
{
	return vfu_client_region_rw(&s->cli, 0, off, &v, 4, true);
}

static bool wait_clear(struct server *s, uint64_t off, uint32_t mask)
{
	for (int i = 0; i < 3000; i++) {
		if (!(rd(s, off) & mask))
			return true;
		msleep(1);
	}
	return false;
}

static int cfg_cmd(struct server *s)
{
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

	return vfu_client_region_rw(&s->cli, VFIO_PCI_CONFIG_REGION_INDEX,
				    PCI_COMMAND, &cmd, 2, true);
}

/* MIG_DATA_READ until a short read; the stream, malloc'ed. */
static uint8_t *read_stream(struct server *s, size_t *len)
{
	uint8_t *all = NULL, rep[8 + 4096];
	size_t n = 0;

	for (int guard = 0; guard < 1024; guard++) {
		uint32_t q[2] = { sizeof(rep), 4096 }, r[2];
		size_t got = 0;
		uint8_t *nb;

		if (vfu_client_call(&s->cli, VFU_MIG_DATA_READ, q, 8, NULL, 0,
				    rep, sizeof(rep), &got, NULL) || got < 8)
			break;
		memcpy(r, rep, 8);
		nb = realloc(all, n + r[1] + 1);
		if (!nb)
			break;
		all = nb;
		memcpy(all + n, rep + 8, r[1]);
		n += r[1];
		if (r[1] < 4096) {
			*len = n;
			return all;
		}
	}
	free(all);
	return NULL;
}

static int write_stream(struct server *s, const uint8_t *p, size_t len)
{
	uint8_t req[8 + 1024];

	for (size_t at = 0; at < len;) {
		uint32_t n = (uint32_t)(len - at > 1024 ? 1024 : len - at);
		uint32_t q[2] = { 8, n };
		int rc;

		memcpy(req, q, 8);
		memcpy(req + 8, p + at, n);
		rc = vfu_client_call(&s->cli, VFU_MIG_DATA_WRITE, req, 8 + n,
				     NULL, 0, NULL, 0, NULL, NULL);
		if (rc)
			return rc;
		at += n;
	}
	return 0;
}

/* The VMM's setup of a device: decode and mastering, MSI to efd, guest
 * RAM mapped for DMA. */
static bool vmm_setup(struct server *s, int efd, int ram_fd, const char *who)
{
	int rc = cfg_cmd(s);

	if (!check(!rc, "%s: memory decode and bus mastering (%s)", who,
		   strerror(-rc)))
		return false;
	rc = vfu_client_set_irqs(&s->cli, VFIO_PCI_MSI_IRQ_INDEX,
				 VFIO_IRQ_SET_DATA_EVENTFD |
					 VFIO_IRQ_SET_ACTION_TRIGGER,
				 0, 1, &efd);
	if (!check(!rc, "%s: MSI routed to the VMM's eventfd (%s)", who,
		   strerror(-rc)))
		return false;
	rc = vfu_client_dma_map(&s->cli, IOVA, RAM_SIZE, ram_fd, 0,
				VFU_DMA_READ_OK | VFU_DMA_WRITE_OK);
	return check(!rc, "%s: guest RAM mapped for DMA at %#llx (%s)", who,
		     IOVA, strerror(-rc));
}

static void edu_dma_start(struct server *s, uint32_t src, uint32_t dst,
			  uint32_t cmd)
{
	wr(s, EDU_DMA_SRC, src);
	wr(s, EDU_DMA_DST, dst);
	wr(s, EDU_DMA_CNT, 2048); /* QEMU 7.2 aborts at 4096 */
	wr(s, EDU_DMA_CMD, cmd);
}

/* ---- the kernel's rules for a migration driver ---- */

static void test_driver_rules(void)
{
	int rc;

	/* STOP_COPY is the least a driver must offer */
	rc = system("insmod " KO " mig_flags=0");
	if (check(rc == 0, "insmod edu_mig mig_flags=0 (rc %d)", rc)) {
		check(!bind_to(SRC, MIG_DRIVER),
		      "a driver without STOP_COPY cannot register its device");
		unbind(SRC);
		check(system("rmmod edu_mig") == 0, "rmmod edu_mig");
	}
	/* 6.2+ wants migration_get_data_size */
	rc = system("insmod " KO " no_data_size=1");
	if (check(rc == 0, "insmod edu_mig no_data_size=1 (rc %d)", rc)) {
		bool bound = bind_to(SRC, MIG_DRIVER);

		if (kernel_612())
			check(!bound, "6.12 refuses a driver without "
			      "migration_get_data_size");
		else
			check(bound, "6.1 takes a driver without "
			      "migration_get_data_size");
		unbind(SRC);
		check(system("rmmod edu_mig") == 0, "rmmod edu_mig");
	}
	rc = system("insmod " KO);
	check(rc == 0, "insmod edu_mig (rc %d)", rc);
}

/* ---- a device with no migration: refused with the reason ---- */

static void test_plain(void)
{
	struct server s;
	struct {
		uint64_t page;
		uint32_t n, rsvd;
		uint64_t iova, len;
	} start = { 4096, 1, 0, IOVA, RAM_SIZE };
	uint64_t flags = 0;
	int ram = memfd_create("ram", MFD_CLOEXEC), efd = eventfd(0, EFD_CLOEXEC);

	if (!check(bind_to(PLAIN, "vfio-pci"), "plain: edu %s on vfio-pci",
		   PLAIN) || ram < 0 || ftruncate(ram, RAM_SIZE) ||
	    !check(server_start(&s, PLAIN), "plain: ptdm serves it"))
		goto out;
	if (!vmm_setup(&s, efd, ram, "plain"))
		goto stop;
	check(feature(&s, F_PROBE | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0,
		      NULL, 0) == -ENOTTY &&
		      feature(&s, F_GET | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0,
			      &flags, 8) == -ENOTTY,
	      "plain: VFIO_DEVICE_FEATURE_MIGRATION: ENOTTY (vfio-pci has no "
	      "migration driver)");
	check(mig_set(&s, VFIO_DEVICE_STATE_STOP) == -ENOTTY &&
		      mig_state(&s) == 99,
	      "plain: MIG_DEVICE_STATE refused with ENOTTY");
	check(feature(&s, F_PROBE | F_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
		      NULL, 0, NULL, 0) == -ENOTTY &&
		      feature(&s, F_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			      &start, sizeof(start), NULL, 0) == -ENOTTY,
	      "plain: DMA logging refused (ENOTTY): nothing sees its DMA, so "
	      "the VMM must count all it may write as dirty");
	wr(&s, EDU_LIVE, 0x1234);
	check(rd(&s, EDU_LIVE) == (uint32_t)~0x1234u,
	      "plain: the device works on after the refusals");
stop:
	check(server_stop(&s) == 0, "plain: the server exits cleanly");
out:
	if (ram >= 0)
		close(ram);
	if (efd >= 0)
		close(efd);
}

/* ---- source -> destination ---- */

static void test_migrate(void)
{
	struct server src, dst;
	struct {
		uint64_t page;
		uint32_t n, rsvd;
		uint64_t iova, len;
	} start = { 4096, 1, 0, IOVA, RAM_SIZE };
	uint64_t rq[3] = { IOVA, RAM_SIZE, 4096 }, rep[4] = { 0 };
	uint64_t flags = 0, size = 0;
	uint32_t want_live = ~0x5eed1234u;
	bool logging = !kernel_612();
	int ram = memfd_create("ram", MFD_CLOEXEC);
	int efd_s = eventfd(0, EFD_CLOEXEC), efd_d = eventfd(0, EFD_CLOEXEC);
	uint8_t *mem = MAP_FAILED, *stream = NULL;
	size_t len = 0;
	int rc;

	if (!check(bind_to(SRC, MIG_DRIVER) && bind_to(DST, MIG_DRIVER),
		   "edus %s and %s on %s", SRC, DST, MIG_DRIVER))
		return;
	if (ram < 0 || ftruncate(ram, RAM_SIZE))
		return;
	mem = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram, 0);
	if (mem == MAP_FAILED)
		return;
	for (unsigned i = 0; i < 4096; i++)
		mem[4096 + i] = (uint8_t)(i * 13 + 1);
	if (!check(server_start(&src, SRC), "source ptdm serves %s", SRC))
		return;
	if (!check(server_start(&dst, DST), "destination ptdm serves %s", DST))
		goto stop_src;
	if (!vmm_setup(&src, efd_s, ram, "source") ||
	    !vmm_setup(&dst, efd_d, ram, "destination"))
		goto stop;

	/* what the device offers */
	rc = feature(&src, F_GET | VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0,
		     &flags, 8);
	check(!rc && flags == VFIO_MIGRATION_STOP_COPY,
	      "source: migration v2 with STOP_COPY (flags %#llx, %s)",
	      (unsigned long long)flags, strerror(-rc));
	rc = feature(&src, F_GET | F_MIG_DATA_SIZE, NULL, 0, &size, 8);
	if (kernel_612())
		check(!rc && size > 0, "source: MIG_DATA_SIZE %llu bytes",
		      (unsigned long long)size);
	else
		check(rc == -ENOTTY, "source: MIG_DATA_SIZE: ENOTTY on 6.1 "
		      "(no such feature before 6.2)");
	rc = feature(&src, F_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
		     &start, sizeof(start), NULL, 0);
	if (logging)
		check(!rc, "source: device DMA logging started (%s)",
		      strerror(-rc));
	else
		check(rc == -ENOTTY, "source: DMA logging refused on 6.12 "
		      "(ENOTTY: Debian builds it without CONFIG_IOMMUFD_DRIVER, "
		      "its vfio core has no dirty bitmap for any driver): %s",
		      strerror(-rc));

	/* the guest at work: liveness, a factorial with its interrupt, a DMA
	 * from RAM (not dirty), one into RAM page 3, one in flight to page 5 */
	wr(&src, EDU_LIVE, 0x5eed1234);
	wr(&src, EDU_STATUS, 0x80);
	wr(&src, EDU_FACT, 6);
	check(wait_clear(&src, EDU_STATUS, 1) && rd(&src, EDU_FACT) == 720 &&
		      fired(efd_s, 5000),
	      "source: factorial 6 = 720 and its MSI");
	edu_dma_start(&src, IOVA + 0x1000, EDU_DMA_BUF, 1);
	check(wait_clear(&src, EDU_DMA_CMD, 1), "source: DMA RAM -> edu");
	edu_dma_start(&src, EDU_DMA_BUF, IOVA + 0x3000, 3);
	check(wait_clear(&src, EDU_DMA_CMD, 1) &&
		      !memcmp(mem + 0x1000, mem + 0x3000, 2048),
	      "source: DMA edu -> RAM page 3");
	edu_dma_start(&src, EDU_DMA_BUF, IOVA + 0x5000, 7); /* with its IRQ */
	check(rd(&src, EDU_DMA_CMD) & 1, "source: a DMA to page 5 in flight");

	/* stop (the driver lets the DMA finish), then stop-copy */
	rc = mig_set(&src, VFIO_DEVICE_STATE_STOP);
	check(!rc && mig_state(&src) == VFIO_DEVICE_STATE_STOP,
	      "source: RUNNING -> STOP (%s)", strerror(-rc));
	check(!memcmp(mem + 0x1000, mem + 0x5000, 2048),
	      "source: the DMA in flight completed before STOP");
	if (logging) {
		rc = feature(&src, F_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
			     rq, sizeof(rq), rep, sizeof(rep));
		check(!rc && rep[3] == ((1ull << 3) | (1ull << 5)),
		      "source: dirty bitmap %#llx: exactly pages 3 and 5, the "
		      "ones edu wrote (%s)", (unsigned long long)rep[3],
		      strerror(-rc));
		rc = feature(&src, F_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
			     rq, sizeof(rq), rep, sizeof(rep));
		check(!rc && rep[3] == 0, "source: a second report is clean");
		check(feature(&src, F_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
			      NULL, 0, NULL, 0) == 0, "source: logging stopped");
	}
	rc = mig_set(&src, VFIO_DEVICE_STATE_STOP_COPY);
	check(!rc, "source: STOP -> STOP_COPY (%s)", strerror(-rc));
	stream = read_stream(&src, &len);
	if (!check(stream && len > 0, "source: %zu bytes of state read", len))
		goto stop;
	check(mig_set(&src, VFIO_DEVICE_STATE_STOP) == 0,
	      "source: STOP_COPY -> STOP");

	/* the destination: resume from the stream, then run */
	while (fired(efd_d, 0))
		;
	rc = mig_set(&dst, VFIO_DEVICE_STATE_RESUMING);
	check(!rc, "destination: RUNNING -> RESUMING (%s)", strerror(-rc));
	rc = write_stream(&dst, stream, len);
	check(!rc, "destination: the stream written (%s)", strerror(-rc));
	rc = mig_set(&dst, VFIO_DEVICE_STATE_RUNNING);
	check(!rc && mig_state(&dst) == VFIO_DEVICE_STATE_RUNNING,
	      "destination: RESUMING -> RUNNING (%s)", strerror(-rc));
	check(rd(&dst, EDU_LIVE) == want_live,
	      "destination: liveness %#x", rd(&dst, EDU_LIVE));
	check(rd(&dst, EDU_FACT) == 720, "destination: factorial %u",
	      rd(&dst, EDU_FACT));
	check(rd(&dst, EDU_STATUS) == 0x80,
	      "destination: status %#x (interrupt on factorial)",
	      rd(&dst, EDU_STATUS));
	check(rd(&dst, EDU_DMA_SRC) == EDU_DMA_BUF &&
		      rd(&dst, EDU_DMA_DST) == IOVA + 0x5000 &&
		      rd(&dst, EDU_DMA_CNT) == 2048,
	      "destination: the DMA engine's src %#x dst %#x cnt %u",
	      rd(&dst, EDU_DMA_SRC), rd(&dst, EDU_DMA_DST),
	      rd(&dst, EDU_DMA_CNT));
	check(rd(&dst, EDU_IRQ_STATUS) == 0x101,
	      "destination: pending interrupts %#x (factorial 0x1, DMA "
	      "0x100)", rd(&dst, EDU_IRQ_STATUS));
	check(fired(efd_d, 5000),
	      "destination: the pending interrupt reaches the VMM's eventfd");
	wr(&dst, EDU_IRQ_ACK, 0x101);
	check(rd(&dst, EDU_IRQ_STATUS) == 0, "destination: acknowledged");
	/* it works on: DMA through the destination's IOMMU mappings (edu's
	 * 4 KiB buffer itself is reachable only by DMA, so no driver can
	 * save it: the VMM's RAM is where DMA data lives) */
	memset(mem + 0x7000, 0, 2048);
	edu_dma_start(&dst, IOVA + 0x1000, EDU_DMA_BUF, 1);
	check(wait_clear(&dst, EDU_DMA_CMD, 1), "destination: DMA RAM -> edu");
	edu_dma_start(&dst, EDU_DMA_BUF, IOVA + 0x7000, 3);
	check(wait_clear(&dst, EDU_DMA_CMD, 1) &&
		      !memcmp(mem + 0x1000, mem + 0x7000, 2048),
	      "destination: DMA edu -> RAM page 7");
	/* a second stream into a running device is refused */
	check(write_stream(&dst, stream, 16) == -EINVAL,
	      "destination: MIG_DATA_WRITE outside RESUMING refused");
stop:
	check(server_stop(&dst) == 0, "destination: the server exits cleanly");
stop_src:
	check(server_stop(&src) == 0, "source: the server exits cleanly");
	free(stream);
	if (mem != MAP_FAILED)
		munmap(mem, RAM_SIZE);
	close(ram);
	close(efd_s);
	close(efd_d);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(180);
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_driver_rules();
	test_plain();
	test_migrate();
	printf("RESULT: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
