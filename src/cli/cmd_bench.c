/*
 * cmd_bench.c - `ptdm bench cfg|vfio-user [--seconds S]`: ptdm's own cost,
 * as ratios measured in one run; never a pass/fail.
 *
 * cfg: 4-byte config reads through ptdm_cfg_read on an image device (an
 * NVMe-like layout built here, so numbers do not depend on files) against
 * the floor, the same reads straight from the backend.
 *
 * vfio-user: the real serving loop (ptdm_loop + vfio-user endpoints) in
 * a thread, clients on socketpairs.  Every comparison interleaves its two
 * sides for PAIRS pairs and prints the median ratio with its range:
 * round trip of a 4-byte config read and of a trapped BAR read against the
 * floor (the same message sizes echoed over a bare socketpair); device A's
 * round trip while device B's client runs flat out against A alone; one
 * device of 64 served by the same loop against one of two; the resident
 * memory each of the 64 costs; and the loop's wake-ups during a workload
 * of mapped-BAR accesses only, through the region fd the server handed
 * out (the goal: none).
 */
#include <errno.h>
#include <getopt.h>
#include <linux/pci_regs.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ptdm/image.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"

static void put(uint8_t *c, unsigned off, unsigned n, uint32_t v)
{
	for (unsigned i = 0; i < n; i++)
		c[off + i] = (uint8_t)(v >> (8 * i));
}

/* Header, BAR0 64-bit 32K, PM, MSI, PCIe v2, MSI-X, AER. */
static void nvme_like(uint8_t *c)
{
	memset(c, 0, PTDM_CFG_SPACE_SIZE);
	put(c, PCI_VENDOR_ID, 4, 0xa808144d);
	put(c, PCI_COMMAND, 4, 0x00100406);
	put(c, PCI_CLASS_REVISION, 4, 0x01080200);
	put(c, PCI_BASE_ADDRESS_0, 4, 0xfe600004);
	put(c, PCI_BASE_ADDRESS_2, 4, 0x0000c001); /* I/O, trapped */
	put(c, PCI_CAPABILITY_LIST, 1, 0x40);
	put(c, 0x40, 4, 0x00035001);          /* PM -> 0x50 */
	put(c, 0x50, 4, 0x01807005);          /* MSI 64-bit maskable -> 0x70 */
	put(c, 0x70, 4, 0x0002b010);          /* PCIe v2 endpoint -> 0xb0 */
	put(c, 0x74, 4, 0x10008fe2);          /* DEVCAP with FLR */
	put(c, 0xb0, 4, 0x00200011);          /* MSI-X, 33 vectors */
	put(c, 0xb4, 4, 0x00003000);          /* table BAR0 + 0x3000 */
	put(c, 0xb8, 4, 0x00002000);          /* PBA BAR0 + 0x2000 */
	put(c, 0x100, 4, 0x00020001);         /* AER v2, end */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const unsigned offsets[] = {
	PCI_BASE_ADDRESS_0, /* fully virtual */
	PCI_COMMAND,        /* command/status: pass-through bits */
	0xb0,               /* MSI-X control */
	0x74,               /* PCIe DEVCAP */
	0x108,              /* AER mask */
	0x80,               /* a raw gap */
};
#define NOFF (sizeof(offsets) / sizeof(offsets[0]))

/* Reads per second for at least secs; engine or floor. */
static double rate(struct ptdm_dev *d, struct host_dev *h, bool engine,
		   double secs, uint32_t *sink)
{
	const unsigned batch = 1u << 20;
	double t0 = now(), t;
	unsigned long long n = 0;
	uint32_t v = 0, acc = 0;

	do {
		for (unsigned i = 0; i < batch; i++) {
			unsigned off = offsets[i % NOFF];

			if (engine)
				ptdm_cfg_read(d, off, 4, &v);
			else
				h->ops->cfg_read(h, off, &v, 4);
			acc += v;
		}
		n += batch;
		t = now() - t0;
	} while (t < secs);
	*sink += acc;
	return (double)n / t;
}

static int bench_device(struct host_dev **h, struct ptdm_dev **d,
			struct ptdm_err *err)
{
	uint8_t *cfg = malloc(PTDM_CFG_SPACE_SIZE);
	struct ptdm_dev_opts o;
	int rc;

	if (!cfg)
		return -ENOMEM;
	nvme_like(cfg);
	ptdm_dev_opts_init(&o);
	rc = image_new(h, "bench", cfg, PTDM_CFG_SPACE_SIZE, err);
	rc = rc ? rc : image_set_bar_size(*h, 0, 0x8000, err);
	rc = rc ? rc : image_set_bar_size(*h, 2, 0x20, err);
	rc = rc ? rc : ptdm_dev_attach(d, *h, &o, err);
	free(cfg);
	return rc;
}

static int bench_cfg(double secs)
{
	struct host_dev *h = NULL;
	struct ptdm_dev *d = NULL;
	struct ptdm_err err = { "" };
	uint32_t sink = 0;
	double eng, floor_rate;

	if (bench_device(&h, &d, &err)) {
		fprintf(stderr, "ptdm bench: %s\n", err.msg);
		ptdm_dev_free(d);
		host_close(h);
		return 1;
	}
	eng = rate(d, h, true, secs, &sink);
	floor_rate = rate(d, h, false, secs, &sink);
	printf("ptdm bench cfg: 4-byte config reads, image backend, %.1f s "
	       "each\n", secs);
	printf("  through ptdm_cfg_read : %8.2f M reads/s  %7.1f ns/read\n",
	       eng / 1e6, 1e9 / eng);
	printf("  backend alone (floor) : %8.2f M reads/s  %7.1f ns/read\n",
	       floor_rate / 1e6, 1e9 / floor_rate);
	printf("  ratio ptdm / floor    : %8.2f  (time per read)\n",
	       floor_rate / eng);
	printf("  (checksum %08x)\n", sink);
	ptdm_dev_free(d);
	host_close(h);
	return 0;
}

/* ---- vfio-user: the real serving loop in a thread ---- */

struct loop_thread {
	struct ptdm_loop loop;
	pthread_t t;
	volatile sig_atomic_t stop;
	bool running;
};

static void *loop_thread(void *arg)
{
	struct loop_thread *lt = arg;

	while (!lt->stop)
		ptdm_loop_once(&lt->loop, 50);
	return NULL;
}

/* n image devices, each with a connected client, served by one loop. */
struct bench_devs {
	unsigned n;
	struct host_dev **h;
	struct ptdm_dev **d;
	struct vfu_endpoint *e;
	struct vfu_client *c;
};

static int devs_open(struct bench_devs *b, unsigned n, struct ptdm_loop *l)
{
	struct ptdm_err err = { "" };

	b->n = 0;
	b->h = calloc(n, sizeof(*b->h));
	b->d = calloc(n, sizeof(*b->d));
	b->e = calloc(n, sizeof(*b->e));
	b->c = calloc(n, sizeof(*b->c));
	if (!b->h || !b->d || !b->e || !b->c)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int sv[2];

		if (bench_device(&b->h[i], &b->d[i], &err) ||
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
			fprintf(stderr, "ptdm bench: %s\n", err.msg);
			return -1;
		}
		vfu_endpoint_init(&b->e[i], b->d[i], "bench", sv[0], true);
		vfu_client_init_fd(&b->c[i], sv[1]);
		b->n++;
		if (vfu_front_ops.start(&b->e[i].front, l)) {
			fprintf(stderr, "ptdm bench: cannot serve\n");
			return -1;
		}
	}
	return 0;
}

/* With the loop running: each client says hello and turns decode on. */
static int devs_hello(struct bench_devs *b)
{
	struct ptdm_err err = { "" };

	for (unsigned i = 0; i < b->n; i++) {
		uint32_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;

		if (vfu_client_version(&b->c[i], NULL, &err) ||
		    vfu_client_region_rw(&b->c[i], VFIO_PCI_CONFIG_REGION_INDEX,
					 PCI_COMMAND, &cmd, 4, true)) {
			fprintf(stderr, "ptdm bench: client setup failed\n");
			return -1;
		}
	}
	return 0;
}

static void loop_start(struct loop_thread *lt)
{
	lt->stop = 0;
	lt->running = !pthread_create(&lt->t, NULL, loop_thread, lt);
}

/* The loop's lists are one thread's: stop it to change them. */
static void loop_pause(struct loop_thread *lt)
{
	if (!lt->running)
		return;
	lt->stop = 1;
	pthread_join(lt->t, NULL);
	lt->running = false;
}

static void devs_close(struct bench_devs *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		vfu_client_close(&b->c[i]);
		vfu_front_ops.stop(&b->e[i].front);
		ptdm_dev_free(b->d[i]);
		host_close(b->h[i]);
	}
	free(b->h);
	free(b->d);
	free(b->e);
	free(b->c);
	memset(b, 0, sizeof(*b));
}

/* The floor: answer every message with a reply of the given size. */
struct echo {
	int fd;
	size_t reply_len;
};

static void *echo_thread(void *arg)
{
	struct echo *e = arg;
	uint8_t buf[256];

	for (;;) {
		struct vfu_hdr h;

		if (recv(e->fd, &h, sizeof(h), MSG_WAITALL) != sizeof(h) ||
		    h.msg_size < sizeof(h) || h.msg_size > sizeof(buf))
			break;
		if (recv(e->fd, buf, h.msg_size - sizeof(h), MSG_WAITALL) !=
		    (ssize_t)(h.msg_size - sizeof(h)))
			break;
		h.flags = VFU_F_REPLY;
		h.msg_size = (uint32_t)(sizeof(h) + e->reply_len);
		memcpy(buf, &h, sizeof(h));
		memset(buf + sizeof(h), 0, e->reply_len);
		if (send(e->fd, buf, h.msg_size, MSG_NOSIGNAL) !=
		    (ssize_t)h.msg_size)
			break;
	}
	return NULL;
}

/* Seconds per round trip of 4-byte region reads, over secs. */
static double rt_time(struct vfu_client *c, unsigned region, uint64_t off,
		      double secs)
{
	double t0 = now(), t;
	unsigned long n = 0;
	uint32_t v;

	do {
		for (int i = 0; i < 200; i++)
			if (vfu_client_region_rw(c, region, off, &v, 4, false))
				return 1e9;
		n += 200;
		t = now() - t0;
	} while (t < secs);
	return t / (double)n;
}

static double floor_time(double secs)
{
	struct vfu_client c;
	struct echo e = { .reply_len = sizeof(struct vfu_region_rw) + 4 };
	pthread_t t;
	int sv[2];
	double r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 1e9;
	e.fd = sv[0];
	vfu_client_init_fd(&c, sv[1]);
	pthread_create(&t, NULL, echo_thread, &e);
	r = rt_time(&c, VFIO_PCI_CONFIG_REGION_INDEX, 0, secs);
	vfu_client_close(&c);
	pthread_join(t, NULL);
	close(sv[0]);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define PAIRS 7

/* "median (min .. max) over N pairs" of ratios */
static void print_ratios(const char *what, double *r, double *num,
			 double *den, const char *unit)
{
	double s[PAIRS], n[PAIRS], d[PAIRS];

	memcpy(s, r, sizeof(s));
	memcpy(n, num, sizeof(n));
	memcpy(d, den, sizeof(d));
	qsort(s, PAIRS, sizeof(double), cmp_double);
	qsort(n, PAIRS, sizeof(double), cmp_double);
	qsort(d, PAIRS, sizeof(double), cmp_double);
	printf("  %-34s %7.2f %s / %7.2f %s   ratio %.2f (%.2f .. %.2f, "
	       "%d pairs)\n", what, n[PAIRS / 2] * 1e6, unit,
	       d[PAIRS / 2] * 1e6, unit, s[PAIRS / 2], s[0], s[PAIRS - 1],
	       PAIRS);
}

struct flat_out {
	struct vfu_client *c;
	volatile int stop;
	unsigned long n;
};

static void *flat_out_thread(void *arg)
{
	struct flat_out *f = arg;
	uint32_t v;

	while (!f->stop && !vfu_client_region_rw(f->c,
						 VFIO_PCI_CONFIG_REGION_INDEX,
						 0, &v, 4, false))
		f->n++;
	return NULL;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static int bench_vfio_user(double secs)
{
	struct loop_thread lt = { 0 };
	struct bench_devs one = { 0 }, many = { 0 };
	struct vfu_region_info ri;
	double cfg[PAIRS], bar[PAIRS], flr[PAIRS], rc_cfg[PAIRS], rc_bar[PAIRS];
	double alone[PAIRS], loaded[PAIRS], r_iso[PAIRS];
	double one_t[PAIRS], many_t[PAIRS], r_many[PAIRS];
	double step = secs / 4;
	uint8_t caps[128];
	unsigned long before, woke;
	uint32_t sink = 0;
	long rss0, rss1;
	int fd = -1, rc = 1;

	if (ptdm_loop_init(&lt.loop))
		return 1;
	if (devs_open(&one, 2, &lt.loop))
		goto out;
	loop_start(&lt);
	if (devs_hello(&one))
		goto out;
	/* interleaved: floor, then ptdm, PAIRS times */
	for (int i = 0; i < PAIRS; i++) {
		flr[i] = floor_time(step);
		cfg[i] = rt_time(&one.c[0], VFIO_PCI_CONFIG_REGION_INDEX, 0, step);
		bar[i] = rt_time(&one.c[0], 2, 0, step);
		rc_cfg[i] = cfg[i] / flr[i];
		rc_bar[i] = bar[i] / flr[i];
	}
	/* device 0 alone, then while device 1's client runs flat out */
	for (int i = 0; i < PAIRS; i++) {
		struct flat_out f = { .c = &one.c[1] };
		pthread_t ft;

		alone[i] = rt_time(&one.c[0], VFIO_PCI_CONFIG_REGION_INDEX, 0,
				   step);
		pthread_create(&ft, NULL, flat_out_thread, &f);
		loaded[i] = rt_time(&one.c[0], VFIO_PCI_CONFIG_REGION_INDEX, 0,
				    step);
		f.stop = 1;
		pthread_join(ft, NULL);
		r_iso[i] = loaded[i] / alone[i];
	}
	/* 64 devices from the same loop: their cost in memory and time */
	rss0 = rss_kib();
	loop_pause(&lt);
	if (devs_open(&many, 64, &lt.loop))
		goto out;
	loop_start(&lt);
	if (devs_hello(&many))
		goto out;
	rss1 = rss_kib();
	for (int i = 0; i < PAIRS; i++) {
		one_t[i] = rt_time(&one.c[0], VFIO_PCI_CONFIG_REGION_INDEX, 0,
				   step);
		many_t[i] = rt_time(&many.c[i * 9 % 64],
				    VFIO_PCI_CONFIG_REGION_INDEX, 0, step);
		r_many[i] = many_t[i] / one_t[i];
	}

	/* mapped BAR only: the loop must not wake up */
	if (vfu_client_region_info(&one.c[0], 0, &ri, caps, sizeof(caps),
				   &fd) || fd < 0) {
		fprintf(stderr, "ptdm bench: no BAR0 fd\n");
		goto out;
	}
	volatile uint32_t *map = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE,
				      MAP_SHARED, fd, (off_t)ri.offset);
	if (map == MAP_FAILED) {
		fprintf(stderr, "ptdm bench: mmap of BAR0 failed\n");
		goto out;
	}
	before = __atomic_load_n(&lt.loop.wakeups, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < 10000000; i++) {
		map[i & 0x3ff] = i;
		sink += map[(i * 7) & 0x3ff];
	}
	woke = __atomic_load_n(&lt.loop.wakeups, __ATOMIC_RELAXED) - before;
	munmap((void *)map, 0x2000);

	printf("ptdm bench vfio-user: image devices, the serving loop in one "
	       "thread; medians of interleaved pairs, %.2f s a run\n", step);
	print_ratios("config read round trip ÷ floor", rc_cfg, cfg, flr, "us");
	print_ratios("trapped BAR read ÷ floor", rc_bar, bar, flr, "us");
	print_ratios("config read, B flat out ÷ alone", r_iso, loaded, alone,
		     "us");
	print_ratios("config read, 64 devices ÷ 1", r_many, many_t, one_t,
		     "us");
	printf("  resident memory per served device (64, client connected): "
	       "%.1f KiB\n", (double)(rss1 - rss0) / 64);
	printf("  loop wake-ups during 10M mapped-BAR accesses: %lu (checksum "
	       "%08x)\n", woke, sink);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	loop_pause(&lt);
	devs_close(&many);
	devs_close(&one);
	ptdm_loop_fini(&lt.loop);
	return rc;
}

int cmd_bench(int argc, char **argv)
{
	double secs = 1.0;

	if (argc == 4 && !strcmp(argv[2], "--seconds"))
		secs = atof(argv[3]);
	if (argc == 2 && !strcmp(argv[1], "migration"))
		return bench_migration(); /* bench_migration.c */
	if (argc < 2 || (argc != 2 && argc != 4) || secs <= 0 || secs > 60 ||
	    (strcmp(argv[1], "cfg") && strcmp(argv[1], "vfio-user"))) {
		fprintf(stderr, "usage: ptdm bench cfg|vfio-user "
				"[--seconds S] | ptdm bench migration\n");
		return EXIT_USAGE;
	}
	return !strcmp(argv[1], "cfg") ? bench_cfg(secs)
				       : bench_vfio_user(secs);
}
