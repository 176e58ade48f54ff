/*
 * cmd_bench.c - `ptdm bench cfg|vfio-user [--seconds S]`: ptdm's own cost,
 * as ratios measured in one run; never a pass/fail.
 *
 * cfg: 4-byte config reads through ptdm_cfg_read on an image device (an
 * NVMe-like layout built here, so numbers do not depend on files) against
 * the floor, the same reads straight from the backend.
 *
 * vfio-user: a server thread on one end of a socketpair.  Round trip of a
 * 4-byte config read and of a trapped BAR read, each against the floor:
 * the same message sizes echoed over a bare socketpair.  Then a workload
 * of mapped-BAR accesses only, through the region fd the server handed
 * out, counting how many messages ptdm had to handle (the goal: none).
 */
#include <errno.h>
#include <getopt.h>
#include <linux/pci_regs.h>
#include <pthread.h>
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

static void *serve_thread(void *arg)
{
	struct vfu_conn *c = arg;

	while (vfu_conn_handle(c) == 0)
		;
	return NULL;
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

/* Round trips per second of region reads of 4 bytes. */
static double rt_rate(struct vfu_client *c, unsigned region, uint64_t off,
		      double secs)
{
	double t0 = now(), t;
	unsigned long n = 0;
	uint32_t v;

	do {
		for (int i = 0; i < 1000; i++)
			if (vfu_client_region_rw(c, region, off, &v, 4, false))
				return 0;
		n += 1000;
		t = now() - t0;
	} while (t < secs);
	return (double)n / t;
}

static double floor_rate_rt(double secs)
{
	struct vfu_client c;
	struct echo e = { .reply_len = sizeof(struct vfu_region_rw) + 4 };
	pthread_t t;
	int sv[2];
	double r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	e.fd = sv[0];
	vfu_client_init_fd(&c, sv[1]);
	pthread_create(&t, NULL, echo_thread, &e);
	r = rt_rate(&c, VFIO_PCI_CONFIG_REGION_INDEX, 0, secs);
	vfu_client_close(&c);
	pthread_join(t, NULL);
	close(sv[0]);
	return r;
}

static int bench_vfio_user(double secs)
{
	struct host_dev *h = NULL;
	struct ptdm_dev *d = NULL;
	struct ptdm_err err = { "" };
	struct vfu_conn srv;
	struct vfu_client c;
	struct vfu_region_info ri;
	uint8_t caps[128];
	pthread_t t;
	int sv[2], fd = -1, rc = 1;
	double cfg_rt, bar_rt, floor_rt;
	unsigned long before, woke;
	uint32_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_IO, sink = 0;

	if (bench_device(&h, &d, &err) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    vfu_conn_init(&srv, sv[0], d)) {
		fprintf(stderr, "ptdm bench: %s\n", err.msg[0] ? err.msg
							       : "setup failed");
		goto out_dev;
	}
	pthread_create(&t, NULL, serve_thread, &srv);
	vfu_client_init_fd(&c, sv[1]);
	if (vfu_client_version(&c, NULL, &err) ||
	    vfu_client_region_rw(&c, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND,
				 &cmd, 4, true) ||
	    vfu_client_region_info(&c, 0, &ri, caps, sizeof(caps), &fd) ||
	    fd < 0) {
		fprintf(stderr, "ptdm bench: client setup failed\n");
		goto out;
	}
	cfg_rt = rt_rate(&c, VFIO_PCI_CONFIG_REGION_INDEX, 0, secs);
	bar_rt = rt_rate(&c, 2, 0, secs);
	floor_rt = floor_rate_rt(secs);

	/* mapped BAR only: the server must not wake up */
	volatile uint32_t *bar = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE,
				      MAP_SHARED, fd, (off_t)ri.offset);
	if (bar == MAP_FAILED) {
		fprintf(stderr, "ptdm bench: mmap of BAR0 failed\n");
		goto out;
	}
	before = __atomic_load_n(&srv.messages, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < 10000000; i++) {
		bar[i & 0x3ff] = i;
		sink += bar[(i * 7) & 0x3ff];
	}
	woke = __atomic_load_n(&srv.messages, __ATOMIC_RELAXED) - before;
	munmap((void *)bar, 0x2000);

	printf("ptdm bench vfio-user: image backend, %.1f s per measurement\n",
	       secs);
	printf("  config read round trip  : %7.2f us   floor %6.2f us   "
	       "ratio %.2f\n", 1e6 / cfg_rt, 1e6 / floor_rt, floor_rt / cfg_rt);
	printf("  trapped BAR read        : %7.2f us   floor %6.2f us   "
	       "ratio %.2f\n", 1e6 / bar_rt, 1e6 / floor_rt, floor_rt / bar_rt);
	printf("  ptdm wake-ups during 10M mapped-BAR accesses: %lu "
	       "(checksum %08x)\n", woke, sink);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	vfu_client_close(&c);
	pthread_join(t, NULL);
	vfu_conn_close(&srv);
out_dev:
	ptdm_dev_free(d);
	host_close(h);
	return rc;
}

int cmd_bench(int argc, char **argv)
{
	double secs = 1.0;

	if (argc == 4 && !strcmp(argv[2], "--seconds"))
		secs = atof(argv[3]);
	if (argc < 2 || (argc != 2 && argc != 4) || secs <= 0 || secs > 60 ||
	    (strcmp(argv[1], "cfg") && strcmp(argv[1], "vfio-user"))) {
		fprintf(stderr, "usage: ptdm bench cfg|vfio-user "
				"[--seconds S]\n");
		return EXIT_USAGE;
	}
	return !strcmp(argv[1], "cfg") ? bench_cfg(secs)
				       : bench_vfio_user(secs);
}
