/*
 * test_vfu_loop.c - vfio-user endpoints in one loop (src/front/vfu_server.c)
 * with the loop in its own thread, as `ptdm serve` runs it: a server-to-
 * client DMA_READ that the client answers late does not hold up another
 * device's client, and completes by callback with the client's data when
 * the reply comes; a connection that ends calls on_done.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"
#include "ptdm/vfio_user.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"

struct rig {
	struct ptdm_loop loop;
	pthread_t t;
	volatile int stop;
	struct host_dev *h[2];
	struct ptdm_dev *d[2];
	struct vfu_endpoint e[2];
	struct vfu_client c[2];
	/* the DMA started from inside the loop */
	struct ptdm_watch kick;
	int kick_fd;
	uint8_t buf[16];
	volatile int dma_done, dma_rc, start_rc, ended;
};

static void dma_cb(struct vfu_conn *c, int rc, void *opaque)
{
	struct rig *r = opaque;

	r->dma_rc = rc;
	r->dma_done = 1;
}

static void on_kick(struct ptdm_watch *w, uint32_t ev)
{
	struct rig *r = container_of(w, struct rig, kick);
	uint64_t n;

	assert_int_equal(read(r->kick_fd, &n, 8), 8);
	r->start_rc = vfu_conn_dma_start(&r->e[0].conn, 0x100010, r->buf,
					 sizeof(r->buf), false, dma_cb, r);
}

static void on_done(struct ptdm_front *f)
{
	((struct rig *)f->opaque)->ended++;
}

static void *run(void *arg)
{
	struct rig *r = arg;

	while (!r->stop)
		ptdm_loop_once(&r->loop, 20);
	return NULL;
}

static void rig_open(struct rig *r)
{
	struct ptdm_err err = { "" };
	struct th_cfg cfg;

	memset(r, 0, sizeof(*r));
	assert_int_equal(ptdm_loop_init(&r->loop), 0);
	for (int i = 0; i < 2; i++) {
		int sv[2];

		th_cfg_init(&cfg, 0x8086, 0x10d3, 4096);
		th_set_bar(&cfg, 0, 0, 0x20000);
		r->d[i] = th_dev(&cfg, NULL, &r->h[i]);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, sv), 0);
		vfu_endpoint_init(&r->e[i], r->d[i], "t", sv[0], true);
		r->e[i].front.on_done = on_done;
		r->e[i].front.opaque = r;
		assert_int_equal(vfu_front_ops.start(&r->e[i].front, &r->loop),
				 0);
		vfu_client_init_fd(&r->c[i], sv[1]);
	}
	r->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(ptdm_loop_add(&r->loop, &r->kick, r->kick_fd, EPOLLIN,
				       on_kick), 0);
	assert_int_equal(pthread_create(&r->t, NULL, run, r), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(vfu_client_version(&r->c[i], NULL, &err), 0);
}

static void rig_close(struct rig *r)
{
	r->stop = 1;
	pthread_join(r->t, NULL);
	for (int i = 0; i < 2; i++) {
		vfu_client_close(&r->c[i]);
		vfu_front_ops.stop(&r->e[i].front);
		th_free(r->d[i], r->h[i]);
	}
	ptdm_loop_del(&r->loop, &r->kick);
	close(r->kick_fd);
	ptdm_loop_fini(&r->loop);
}

static void test_dma_read_waits_without_blocking(void **state)
{
	struct rig r;
	struct vfu_dma_map map = { .argsz = sizeof(map),
				   .flags = VFU_DMA_READ_OK | VFU_DMA_WRITE_OK,
				   .addr = 0x100000, .size = 0x1000 };
	uint8_t req[64], reply[16 + 12 + 16 + 4] = { 0 };
	struct vfu_hdr h, *rh = (struct vfu_hdr *)reply;
	uint64_t one = 1, addr;
	uint32_t count, v = 0;
	size_t got;

	rig_open(&r);
	/* client 0 gives guest memory without an fd: DMA goes by messages */
	assert_int_equal(vfu_client_call(&r.c[0], VFU_DMA_MAP, &map,
					 sizeof(map), NULL, 0, NULL, 0, NULL,
					 NULL), 0);
	r.start_rc = -1000;
	assert_int_equal(write(r.kick_fd, &one, 8), 8);
	/* the request arrives; client 0 does not answer yet */
	assert_int_equal(vfu_client_recv(&r.c[0], &h, req, sizeof(req), &got,
					 NULL), 0);
	assert_int_equal(h.cmd, VFU_DMA_READ);
	for (int i = 0; i < 500 && r.start_rc == -1000; i++)
		usleep(2000); /* the loop sets it right after sending */
	assert_int_equal(r.start_rc, 1);
	memcpy(&addr, req, 8);
	memcpy(&count, req + 8, 4);
	assert_int_equal(addr, 0x100010);
	assert_int_equal(count, 16);
	/* meanwhile the other device is served */
	for (int i = 0; i < 100; i++)
		assert_int_equal(vfu_client_region_rw(&r.c[1],
			VFIO_PCI_CONFIG_REGION_INDEX, 0, &v, 4, false), 0);
	assert_int_equal(v, 0x10d38086);
	assert_false(r.dma_done);
	/* the reply, in QEMU's layout: data at 12 */
	*rh = (struct vfu_hdr){ .msg_id = h.msg_id, .cmd = VFU_DMA_READ,
				.msg_size = sizeof(reply), .flags = VFU_F_REPLY };
	memcpy(reply + 16, &addr, 8);
	memcpy(reply + 24, &count, 4);
	memcpy(reply + 28, "sixteen bytes!!", 16);
	assert_int_equal(vfu_client_send_raw(&r.c[0], reply, sizeof(reply),
					     NULL, 0), 0);
	for (int i = 0; i < 500 && !r.dma_done; i++)
		usleep(2000);
	assert_true(r.dma_done);
	assert_int_equal(r.dma_rc, 0);
	assert_memory_equal(r.buf, "sixteen bytes!!", 16);
	/* client 0 is still served afterwards */
	assert_int_equal(vfu_client_region_rw(&r.c[0],
		VFIO_PCI_CONFIG_REGION_INDEX, 0, &v, 4, false), 0);
	/* an inherited connection that ends says so once */
	vfu_client_close(&r.c[1]);
	for (int i = 0; i < 500 && !r.ended; i++)
		usleep(2000);
	assert_int_equal(r.ended, 1);
	vfu_client_init_fd(&r.c[1], -1);
	rig_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dma_read_waits_without_blocking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
