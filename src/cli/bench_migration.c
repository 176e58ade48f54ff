/*
 * bench_migration.c - `ptdm bench migration`: what migrating a device
 * costs, as ratios measured in one run (medians of interleaved pairs);
 * never a pass/fail.
 *
 *   dirty report   DMA_LOGGING_REPORT over 64 GiB of mapped guest memory
 *                  (16 M pages, one in 4096 written by the device) in
 *                  1 MiB-bitmap pieces, against two floors: memset and
 *                  popcount over a bitmap of the same size (the issue's),
 *                  and the same requests answered with replies of the
 *                  same size over a bare socketpair (the protocol's: the
 *                  bitmap has to cross the socket);
 *   stop-copy      MIG_DATA_READ of an image's stream (64 MiB of BAR data)
 *                  over the socket, 1 MiB a read, against the floor: the
 *                  same request and reply sizes over a bare socketpair;
 *   downtime       STOP_COPY -> destination running (client_migrate, as
 *                  `ptdm client SRC migrate DST`) for that image, with
 *                  PRE_COPY against without; the guest writes nothing
 *                  while pre-copy runs (its best case).
 *
 * Servers are vfio-user connections of this process, each answered by a
 * thread; clients on socketpairs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ptdm/image.h"
#include "ptdm/vfio_user.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"

#define PAIRS 5
#define GUEST_RAM (64ull << 30)
#define DIRTY_STRIDE 4096ull /* pages */
#define BAR_DATA (64u << 20)
#define CHUNK VFU_SERVER_MAX_XFER
#define F_GET (1u << 16)
#define F_SET (1u << 17)

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, double *lo, double *hi)
{
	double s[PAIRS];

	memcpy(s, v, sizeof(s));
	qsort(s, PAIRS, sizeof(double), cmp_double);
	if (lo)
		*lo = s[0];
	if (hi)
		*hi = s[PAIRS - 1];
	return s[PAIRS / 2];
}

/* ---- a server: one image device, one connection, one thread ---- */

struct server {
	struct host_dev *h;
	struct ptdm_dev *d;
	struct vfu_conn conn;
	struct vfu_client cli;
	pthread_t t;
	bool up;
};

static void *serve(void *arg)
{
	struct server *s = arg;

	while (vfu_conn_handle(&s->conn) == 0)
		;
	return NULL;
}

static void put(uint8_t *c, unsigned off, unsigned n, uint32_t v)
{
	for (unsigned i = 0; i < n; i++)
		c[off + i] = (uint8_t)(v >> (8 * i));
}

/* An image with a 64-bit BAR0 of bar bytes, MSI-X at its start. */
static int server_open(struct server *s, uint64_t bar)
{
	uint8_t cfg[PTDM_CFG_SPACE_SIZE] = { 0 };
	struct ptdm_err err = { "" };
	struct ptdm_dev_opts o;
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	int sv[2], rc;

	memset(s, 0, sizeof(*s));
	put(cfg, PCI_VENDOR_ID, 4, 0xa808144d);
	put(cfg, PCI_CLASS_REVISION, 4, 0x01080200);
	put(cfg, PCI_BASE_ADDRESS_0, 4, 0xe0000004);
	put(cfg, PCI_CAPABILITY_LIST, 1, 0xb0);
	put(cfg, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	put(cfg, 0xb0, 4, 0x00070011); /* MSI-X, 8 vectors */
	put(cfg, 0xb4, 4, 0x00003000);
	put(cfg, 0xb8, 4, 0x00002000);
	ptdm_dev_opts_init(&o);
	rc = image_new(&s->h, "bench-mig", cfg, sizeof(cfg), &err);
	rc = rc ? rc : image_set_bar_size(s->h, 0, bar, &err);
	rc = rc ? rc : ptdm_dev_attach(&s->d, s->h, &o, &err);
	if (rc || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		fprintf(stderr, "ptdm bench: %s\n", err.msg);
		return rc ? rc : -errno;
	}
	rc = vfu_conn_init(&s->conn, sv[0], s->d);
	if (rc)
		return rc;
	vfu_client_init_fd(&s->cli, sv[1]);
	if (pthread_create(&s->t, NULL, serve, s))
		return -EAGAIN;
	s->up = true;
	rc = vfu_client_version(&s->cli, NULL, &err);
	rc = rc ? rc : vfu_client_region_rw(&s->cli, VFIO_PCI_CONFIG_REGION_INDEX,
					    PCI_COMMAND, &cmd, 2, true);
	return rc;
}

static void server_close(struct server *s)
{
	if (s->up) {
		vfu_client_close(&s->cli);
		pthread_join(s->t, NULL);
		vfu_conn_close(&s->conn);
	}
	ptdm_dev_free(s->d);
	host_close(s->h);
}

/* Every page of BAR0 past the MSI-X pages holds data. */
static int fill_bar(struct server *s, uint64_t bar)
{
	uint64_t off = 0;
	int fd = s->h->ops->bar_fd ? s->h->ops->bar_fd(s->h, 0, &off) : -1;
	uint8_t *p;

	if (fd < 0)
		return -ENOTSUP;
	p = mmap(NULL, bar, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	for (uint64_t pg = 4; pg < bar / 4096; pg++)
		memset(p + pg * 4096, (int)(pg % 255 + 1), 4096);
	munmap(p, bar);
	return 0;
}

static int feature(struct vfu_client *c, uint32_t flags, const void *data,
		   size_t dlen, void *rep, size_t rmax)
{
	uint8_t req[64];
	uint32_t argsz = (uint32_t)(rmax > 8 + dlen ? rmax : 8 + dlen);

	memcpy(req, &argsz, 4);
	memcpy(req + 4, &flags, 4);
	memcpy(req + 8, data, dlen);
	return vfu_client_call(c, VFU_DEVICE_FEATURE, req, 8 + dlen, NULL, 0,
			       rep, rmax, NULL, NULL);
}

static int mig_set(struct vfu_client *c, uint32_t to)
{
	uint32_t st[2] = { to, (uint32_t)-1 };

	return feature(c, F_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, st, 8,
		       NULL, 0);
}

/* ---- the socket floor: a reply of a fixed size to every request ---- */

struct echo {
	int fd;
	uint8_t *buf;
	uint32_t reply; /* payload bytes a reply */
	pthread_t t;
	bool on;
};

static void *echo_thread(void *arg)
{
	struct echo *e = arg;

	for (;;) {
		struct vfu_hdr h;
		uint8_t req[64];
		uint32_t q[2] = { e->reply, e->reply - 8 };

		if (recv(e->fd, &h, sizeof(h), MSG_WAITALL) != sizeof(h) ||
		    h.msg_size < sizeof(h) || h.msg_size > sizeof(h) + sizeof(req))
			break;
		if (recv(e->fd, req, h.msg_size - sizeof(h), MSG_WAITALL) !=
		    (ssize_t)(h.msg_size - sizeof(h)))
			break;
		h.flags = VFU_F_REPLY;
		h.msg_size = (uint32_t)sizeof(h) + e->reply;
		memcpy(e->buf, &h, sizeof(h));
		memcpy(e->buf + sizeof(h), q, 8);
		if (send(e->fd, e->buf, h.msg_size, MSG_NOSIGNAL) !=
		    (ssize_t)h.msg_size)
			break;
	}
	return NULL;
}

/* An echo server on a socketpair, its client in fc. */
static int echo_start(struct echo *e, struct vfu_client *fc, uint32_t reply)
{
	int sv[2];

	*e = (struct echo){ .fd = -1, .reply = reply };
	e->buf = malloc(sizeof(struct vfu_hdr) + reply);
	if (!e->buf ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		free(e->buf);
		return -ENOMEM;
	}
	e->fd = sv[0];
	vfu_client_init_fd(fc, sv[1]);
	e->on = !pthread_create(&e->t, NULL, echo_thread, e);
	if (!e->on) {
		vfu_client_close(fc);
		close(e->fd);
		free(e->buf);
		return -EAGAIN;
	}
	return 0;
}

static void echo_stop(struct echo *e, struct vfu_client *fc)
{
	if (!e->on)
		return;
	vfu_client_close(fc);
	pthread_join(e->t, NULL);
	close(e->fd);
	free(e->buf);
	e->on = false;
}

/* ---- 1. the dirty report ---- */

static void dirty_some(struct server *s)
{
	uint32_t v = 1;

	for (uint64_t pg = 0; pg < GUEST_RAM / 4096; pg += DIRTY_STRIDE)
		(void)vfu_conn_dma_rw(&s->conn, pg * 4096 + 8, &v, 4, true);
}

/* Seconds for the whole 64 GiB report; the dirty pages it found. */
static double report_time(struct vfu_client *c, uint8_t *rep,
			  uint64_t *found)
{
	const uint64_t piece = (uint64_t)CHUNK * 8 * 4096; /* bytes a report */
	double t0 = now_s();

	*found = 0;
	for (uint64_t at = 0; at < GUEST_RAM; at += piece) {
		uint64_t q[3] = { at, piece, 4096 };
		const uint64_t *bm = (const uint64_t *)(rep + 8 + 24);

		if (feature(c, F_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
			    q, sizeof(q), rep, 8 + 24 + CHUNK))
			return -1;
		for (size_t w = 0; w < CHUNK / 8; w++)
			*found += (uint64_t)__builtin_popcountll(bm[w]);
	}
	return now_s() - t0;
}

static double floor_bitmap(uint64_t *bm, size_t words, uint64_t *sink)
{
	double t0 = now_s();
	uint64_t n = 0;

	memset(bm, 0, words * 8);
	for (uint64_t pg = 0; pg < GUEST_RAM / 4096; pg += DIRTY_STRIDE)
		bm[pg / 64] |= 1ull << (pg % 64);
	for (size_t w = 0; w < words; w++)
		n += (uint64_t)__builtin_popcountll(bm[w]);
	*sink += n;
	return now_s() - t0;
}

static int bench_dirty(void)
{
	struct server s;
	struct {
		uint64_t page;
		uint32_t n, rsvd;
		uint64_t iova, len;
	} start = { 4096, 1, 0, 0, GUEST_RAM };
	size_t words = GUEST_RAM / 4096 / 64;
	uint8_t *rep = malloc(8 + 24 + CHUNK);
	uint64_t *bm = malloc(words * 8), sink = 0, found = 0;
	double r[PAIRS], t[PAIRS], f[PAIRS], w[PAIRS], rw[PAIRS], lo, hi;
	double wlo, whi;
	struct echo e = { .on = false };
	struct vfu_client fc;
	uint64_t wfound;
	int mfd = memfd_create("bench-guest-ram",
			       MFD_CLOEXEC | MFD_ALLOW_SEALING), rc;

	/* ptdm maps only memfds that cannot shrink under it */
	rc = !rep || !bm || mfd < 0 || ftruncate(mfd, (off_t)GUEST_RAM) ||
			     fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK)
		     ? -ENOMEM : server_open(&s, 1u << 16);
	rc = rc ? rc : vfu_client_dma_map(&s.cli, 0, GUEST_RAM, mfd, 0,
					  VFU_DMA_READ_OK | VFU_DMA_WRITE_OK);
	rc = rc ? rc : feature(&s.cli, F_SET |
					       VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			       &start, sizeof(start), NULL, 0);
	rc = rc ? rc : echo_start(&e, &fc, 8 + 24 + CHUNK);
	for (int i = 0; !rc && i < PAIRS; i++) {
		dirty_some(&s);
		t[i] = report_time(&s.cli, rep, &found);
		f[i] = floor_bitmap(bm, words, &sink);
		w[i] = report_time(&fc, rep, &wfound);
		if (t[i] < 0 || w[i] < 0 ||
		    found != GUEST_RAM / 4096 / DIRTY_STRIDE)
			rc = -EIO;
		r[i] = t[i] / f[i];
		rw[i] = t[i] / w[i];
	}
	if (!rc) {
		double tm = median(t, NULL, NULL), fm = median(f, NULL, NULL);
		double wm = median(w, NULL, NULL);

		median(r, &lo, &hi);
		median(rw, &wlo, &whi);
		printf("  dirty report, 64 GiB mapped, %llu of %llu pages dirty:"
		       " %.2f ms / floor (memset+popcount) %.2f ms   ratio %.2f "
		       "(%.2f .. %.2f)\n"
		       "    the same bitmap bytes over a bare socketpair %.2f ms"
		       "   ratio %.2f (%.2f .. %.2f): what the protocol's reply "
		       "costs\n",
		       (unsigned long long)(GUEST_RAM / 4096 / DIRTY_STRIDE),
		       (unsigned long long)(GUEST_RAM / 4096), tm * 1e3,
		       fm * 1e3, median(r, NULL, NULL), lo, hi, wm * 1e3,
		       median(rw, NULL, NULL), wlo, whi);
	} else {
		fprintf(stderr, "ptdm bench: dirty report: %s\n", strerror(-rc));
	}
	echo_stop(&e, &fc);
	server_close(&s);
	if (mfd >= 0)
		close(mfd);
	free(rep);
	free(bm);
	return rc;
}

/* ---- 2. stop-copy data rate ---- */

/* Seconds to read n bytes by 1 MiB MIG_DATA_READs (the stream's end: a
 * short read). */
static double read_time(struct vfu_client *c, uint8_t *rep, uint64_t *bytes,
			uint64_t limit)
{
	double t0 = now_s();

	*bytes = 0;
	while (*bytes < limit) {
		uint32_t q[2] = { 8 + CHUNK, CHUNK }, r[2];
		size_t got = 0;

		if (vfu_client_call(c, VFU_MIG_DATA_READ, q, 8, NULL, 0, rep,
				    8 + CHUNK, &got, NULL) || got < 8)
			return -1;
		memcpy(r, rep, 8);
		*bytes += r[1];
		if (r[1] < CHUNK)
			break;
	}
	return now_s() - t0;
}

static int bench_stop_copy(void)
{
	struct server s;
	struct echo e = { .on = false };
	struct vfu_client fc;
	uint8_t *rep = malloc(8 + CHUNK);
	double pt[PAIRS], ft[PAIRS], r[PAIRS], lo, hi;
	uint64_t bytes = 0, fbytes = 0;
	int rc;

	rc = !rep ? -ENOMEM : server_open(&s, BAR_DATA);
	rc = rc ? rc : fill_bar(&s, BAR_DATA);
	rc = rc ? rc : echo_start(&e, &fc, 8 + CHUNK);
	for (int i = 0; !rc && i < PAIRS; i++) {
		rc = mig_set(&s.cli, VFIO_DEVICE_STATE_STOP_COPY);
		pt[i] = rc ? -1 : read_time(&s.cli, rep, &bytes, UINT64_MAX);
		rc = rc ? rc : mig_set(&s.cli, VFIO_DEVICE_STATE_RUNNING);
		ft[i] = read_time(&fc, rep, &fbytes, bytes);
		if (pt[i] < 0 || ft[i] < 0 || bytes < BAR_DATA / 2)
			rc = rc ? rc : -EIO;

		r[i] = (pt[i] / (double)bytes) / (ft[i] / (double)fbytes);
	}
	if (!rc) {
		double pm = median(pt, NULL, NULL), fm = median(ft, NULL, NULL);

		median(r, &lo, &hi);
		printf("  stop-copy MIG_DATA_READ, %llu MiB stream, 1 MiB reads: "
		       "%.0f MB/s / floor (socketpair) %.0f MB/s   ratio %.2f "
		       "(%.2f .. %.2f, time per byte)\n",
		       (unsigned long long)(bytes >> 20), bytes / pm / 1e6,
		       fbytes / fm / 1e6, median(r, NULL, NULL), lo, hi);
	} else {
		fprintf(stderr, "ptdm bench: stop-copy: %s\n", strerror(-rc));
	}
	echo_stop(&e, &fc);
	server_close(&s);
	free(rep);
	return rc;
}

/* ---- 3. downtime, with and without PRE_COPY ---- */

static int bench_downtime(void)
{
	struct server a, b;
	struct server *src = &a, *dst = &b, *tmp;
	struct client_mig_result res;
	struct ptdm_err err = { "" };
	double with[PAIRS], without[PAIRS], r[PAIRS], lo, hi;
	uint64_t pre_bytes = 0, stop_pre = 0, stop_plain = 0;
	int rc = server_open(&a, BAR_DATA);

	rc = rc ? rc : server_open(&b, BAR_DATA);
	rc = rc ? rc : fill_bar(&a, BAR_DATA);
	for (int i = 0; !rc && i < 2 * PAIRS; i++) {
		bool pre = i % 2 == 0;

		rc = client_migrate(&src->cli, &dst->cli, pre, &res, &err);
		if (rc)
			break;
		if (pre && !res.pre_copy) {
			rc = -ENOTSUP;
			break;
		}
		if (pre) {
			with[i / 2] = res.downtime_s;
			pre_bytes = res.pre_copy_bytes;
			stop_pre = res.stop_copy_bytes;
		} else {
			without[i / 2] = res.downtime_s;
			stop_plain = res.stop_copy_bytes;
			r[i / 2] = with[i / 2] / without[i / 2];
		}
		/* the state lives on in the destination: move it back next */
		rc = mig_set(&src->cli, VFIO_DEVICE_STATE_RUNNING);
		tmp = src;
		src = dst;
		dst = tmp;
	}
	if (!rc) {
		median(r, &lo, &hi);
		printf("  downtime (STOP_COPY -> destination running), %u MiB of "
		       "BAR data: with PRE_COPY %.2f ms (%llu KiB stopped, %llu "
		       "KiB before) / without %.2f ms (%llu KiB stopped)   "
		       "ratio %.2f (%.2f .. %.2f)\n", BAR_DATA >> 20,
		       median(with, NULL, NULL) * 1e3,
		       (unsigned long long)(stop_pre >> 10),
		       (unsigned long long)(pre_bytes >> 10),
		       median(without, NULL, NULL) * 1e3,
		       (unsigned long long)(stop_plain >> 10),
		       median(r, NULL, NULL), lo, hi);
	} else {
		fprintf(stderr, "ptdm bench: downtime: %s %s\n", strerror(-rc),
			err.msg);
	}
	server_close(&a);
	server_close(&b);
	return rc;
}

int bench_migration(void)
{
	int rc;

	printf("ptdm bench migration: image devices served by this process, "
	       "clients on socketpairs; medians of %d interleaved pairs\n",
	       PAIRS);
	rc = bench_dirty();
	rc = bench_stop_copy() ? -1 : rc;
	rc = bench_downtime() ? -1 : rc;
	return rc ? 1 : 0;
}
