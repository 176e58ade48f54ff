/*
 * fuzz_mpqemu.c - libFuzzer target: the input is the byte stream QEMU's
 * x-pci-proxy-dev sends on one mpqemu connection (16-byte headers {cmd,
 * pad, size}, payloads) to an image device with a memory BAR, an I/O BAR
 * and MSI-X.  Half of the inputs get a CFGWRITE that places BAR0 first, so
 * BAR_READ/BAR_WRITE with absolute addresses reach the device.  A thread
 * drains the RETs.  No fds are passed (SYNC_SYSMEM without fds must be
 * refused cleanly).  Must never crash, hang, leak memory or fds.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ptdm/dev.h"
#include "ptdm/image.h"
#include "ptdm/log.h"
#include "ptdm/mpqemu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void silent(enum ptdm_log_level lvl, const char *line, void *o)
{
	(void)lvl;
	(void)line;
	(void)o;
}

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static struct ptdm_dev *make_dev(struct host_dev **hp)
{
	static uint8_t cfg[4096];
	struct ptdm_dev_opts o;
	struct ptdm_dev *d = NULL;
	struct ptdm_err err;

	memset(cfg, 0, sizeof(cfg));
	memcpy(cfg, "\x86\x80\xd3\x10\x00\x00\x10\x00", 8);
	cfg[0x18] = 0x01;        /* BAR2 io */
	cfg[0x34] = 0x70;
	cfg[0x3d] = 1;
	memcpy(cfg + 0x70, "\x11\x00\x03\x00\x00\x20\x00\x00\x00\x30\x00\x00",
	       12);              /* MSI-X: 4 vectors, table 0x2000, PBA 0x3000 */
	if (image_new(hp, "fuzz", cfg, sizeof(cfg), &err) ||
	    image_set_bar_size(*hp, 0, 0x4000, &err) ||
	    image_set_bar_size(*hp, 2, 0x20, &err))
		abort();
	ptdm_dev_opts_init(&o);
	if (ptdm_dev_attach(&d, *hp, &o, &err))
		abort();
	return d;
}

/* CFGWRITE {addr, val, len}: BAR0 at 0xfe000000, then memory decode on */
static void place_bar(int fd)
{
	static const uint32_t writes[][3] = { { 0x10, 0xfe000000, 4 },
					      { 0x04, 0x0007, 2 } };

	for (unsigned i = 0; i < 2; i++) {
		uint8_t m[16 + 12] = { 0 };
		uint64_t sz = 12;
		int32_t cmd = 2;

		memcpy(m, &cmd, 4);
		memcpy(m + 8, &sz, 8);
		memcpy(m + 16, writes[i], 12);
		if (write(fd, m, sizeof(m)) != (ssize_t)sizeof(m))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct host_dev *h;
	struct ptdm_dev *d;
	struct mpq_conn c;
	pthread_t t;
	int sv[2];

	ptdm_log_set_sink(silent, NULL);
	if (size > 256 * 1024)
		return 0;
	d = make_dev(&h);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (mpq_conn_init(&c, sv[0], d))
		abort();
	pthread_create(&t, NULL, drain, &sv[1]);
	if (size && (data[0] & 1))
		place_bar(sv[1]);
	for (size_t off = 0; off < size;) {
		ssize_t n = send(sv[1], data + off, size - off, MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		/* buffer full: let the server eat some */
		if (mpq_conn_input(&c, MPQ_BUDGET) < 0)
			break;
		mpq_conn_output(&c);
	}
	shutdown(sv[1], SHUT_WR);
	for (;;) {
		int n = mpq_conn_input(&c, MPQ_BUDGET);

		mpq_conn_output(&c);
		if (n <= 0)
			break;
	}
	mpq_conn_close(&c); /* closes sv[0]: the drain thread sees EOF */
	pthread_join(t, NULL);
	close(sv[1]);
	ptdm_dev_free(d);
	host_close(h);
	return 0;
}
