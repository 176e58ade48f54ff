/*
 * fuzz_vfio_user.c - libFuzzer target: the input is the byte stream a
 * client sends on one vfio-user connection to an image device (a VERSION
 * message is prepended half of the time so deeper commands are reached).
 * A thread drains the replies so the server never blocks on a full
 * socket.  Must never crash, hang, leak memory or fds.
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
#include "ptdm/vfio_user.h"
#include "ptdm/vfu_server.h"

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
	cfg[0x10] = 0x00;
	cfg[0x13] = 0xfe;        /* BAR0 mem32 */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
	struct host_dev *h;
	struct ptdm_dev *d;
	struct vfu_conn c;
	pthread_t t;
	int sv[2];

	ptdm_log_set_sink(silent, NULL);
	if (size > 256 * 1024)
		return 0;
	d = make_dev(&h);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (vfu_conn_init(&c, sv[0], d))
		abort();
	pthread_create(&t, NULL, drain, &sv[1]);
	if (size && (data[0] & 1)) {
		struct vfu_hdr hv = { .cmd = VFU_VERSION,
				      .msg_size = (uint32_t)(16 + 4 +
							     sizeof(caps)) };
		uint8_t vmsg[16 + 4 + sizeof(caps)] = { 0 };

		memcpy(vmsg, &hv, 16);
		memcpy(vmsg + 20, caps, sizeof(caps));
		if (write(sv[1], vmsg, sizeof(vmsg)) != (ssize_t)sizeof(vmsg))
			abort();
	}
	/* the stream, then end of input: the server must stop there */
	for (size_t off = 0; off < size;) {
		ssize_t n = send(sv[1], data + off, size - off, MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		/* buffer full: let the server eat some */
		if (vfu_conn_handle(&c))
			break;
	}
	shutdown(sv[1], SHUT_WR);
	while (vfu_conn_handle(&c) == 0)
		;
	vfu_conn_close(&c); /* closes sv[0]: the drain thread sees EOF */
	pthread_join(t, NULL);
	close(sv[1]);
	ptdm_dev_free(d);
	host_close(h);
	return 0;
}
