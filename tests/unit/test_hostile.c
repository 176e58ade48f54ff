/*
 * test_hostile.c - a vfio-user client that tries to crash or exhaust the
 * server (issue #10 §2): it shrinks the BAR memfd it was given, maps
 * terabytes with a tiny fd, hands over pipes and full eventfds as
 * interrupt triggers, and streams more migration data than any device
 * state can be; and with mmap=trap it gets no BAR fd at all.  Every test is one attack and the boundary that stops it;
 * docs/security.md names them.  An attack that blocks the server is caught
 * by alarm(): the test dies instead of hanging.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/image.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"
#include "util/evfd.h"
#include "util/guestmem.h"
#include <linux/pci_regs.h>

#define TABLE_OFF 0x2000
#define PBA_OFF 0x3000
#define RW (VFU_DMA_READ_OK | VFU_DMA_WRITE_OK)
#define TRIG_FD (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define TRIG_NONE (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER)
#define EVENTFD_FULL 0xfffffffffffffffeull

struct fixture {
	struct host_dev *h;
	struct ptdm_dev *d;
	struct vfu_conn srv;
	struct vfu_client cli;
};

static int pump(void *opaque)
{
	return vfu_conn_handle(&((struct fixture *)opaque)->srv);
}

/* BAR0 64K with the MSI-X table and PBA, an I/O BAR, a ROM, INTA */
static void fx_open_opts(struct fixture *f, const struct ptdm_dev_opts *o)
{
	struct th_cfg c;
	struct ptdm_err err = { "" };
	uint8_t msix[10] = { 3, 0 };
	uint32_t t = TABLE_OFF, p = PBA_OFF;
	int sv[2];

	th_cfg_init(&c, 0x8086, 0x10d3, 4096);
	th_set_bar(&c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x10000);
	th_set_bar(&c, 2, PCI_BASE_ADDRESS_SPACE_IO, 0x20);
	th_set_bar(&c, 4, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x4000);
	th_set_bar(&c, PTDM_ROM_INDEX, 0xfff00000, 0x10000);
	th_put(&c, PCI_INTERRUPT_PIN, 1, 1);
	memcpy(msix + 2, &t, 4);
	memcpy(msix + 6, &p, 4);
	th_add_cap(&c, 0x70, PCI_CAP_ID_MSIX, msix, sizeof(msix));
	f->d = th_dev(&c, o, &f->h);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(vfu_conn_init(&f->srv, sv[0], f->d), 0);
	vfu_client_init_fd(&f->cli, sv[1]);
	f->cli.pump = pump;
	f->cli.pump_opaque = f;
	if (vfu_client_version(&f->cli, NULL, &err))
		fail_msg("version: %s", err.msg);
}

static void fx_open(struct fixture *f)
{
	fx_open_opts(f, NULL);
}

static void fx_close(struct fixture *f)
{
	vfu_client_close(&f->cli);
	vfu_conn_close(&f->srv);
	th_free(f->d, f->h);
}

static void cfg_wr(struct fixture *f, unsigned off, uint32_t v)
{
	assert_int_equal(vfu_client_region_rw(&f->cli,
					      VFIO_PCI_CONFIG_REGION_INDEX,
					      off, &v, 4, true), 0);
}

/* ---- 1. the BAR memfd a client gets cannot be shrunk ---- */

static void test_bar_memfd_cannot_shrink(void **state)
{
	struct fixture f;
	struct vfu_region_info ri;
	uint8_t caps[256];
	uint32_t v = 0xffffffff;
	int fd = -1, seals;

	fx_open(&f);
	for (int bar = 0; bar <= 4; bar += 4) {
		assert_int_equal(vfu_client_region_info(&f.cli, (unsigned)bar,
							&ri, caps,
							sizeof(caps), &fd), 0);
		assert_true(fd >= 0);
		/* what the attack does: the next trapped read was SIGBUS */
		assert_int_equal(ftruncate(fd, 0), -1);
		assert_int_equal(errno, EPERM);
		assert_int_equal(ftruncate(fd, (off_t)ri.size * 2), -1);
		seals = fcntl(fd, F_GET_SEALS);
		assert_int_equal(seals & (F_SEAL_SHRINK | F_SEAL_GROW |
					  F_SEAL_SEAL),
				 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
		/* and no seal can be added to stop ptdm writing */
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE),
				 -1);
		close(fd);
	}
	/* trapped accesses (the MSI-X page and next to it) still work */
	cfg_wr(&f, PCI_COMMAND, PCI_COMMAND_MEMORY);
	assert_int_equal(vfu_client_region_rw(&f.cli, 0, 0x40, &v, 4, false),
			 0);
	assert_int_equal(v, 0);
	v = 0x12345678;
	assert_int_equal(vfu_client_region_rw(&f.cli, 0, 0xfffc, &v, 4, true),
			 0);
	v = 0;
	assert_int_equal(vfu_client_region_rw(&f.cli, 0, 0xfffc, &v, 4, false),
			 0);
	assert_int_equal(v, 0x12345678);
	/* reset drops the contents, not the size or the seals */
	assert_int_equal(vfu_client_call(&f.cli, VFU_DEVICE_RESET, NULL, 0,
					 NULL, 0, NULL, 0, NULL, NULL), 0);
	cfg_wr(&f, PCI_COMMAND, PCI_COMMAND_MEMORY);
	assert_int_equal(vfu_client_region_rw(&f.cli, 0, 0xfffc, &v, 4, false),
			 0);
	assert_int_equal(v, 0);
	fx_close(&f);
}

/* ---- 2. DMA_MAP: the fd must hold the range; bytes are budgeted ---- */

static void test_dma_map_fd_must_cover_range(void **state)
{
	struct fixture f;
	int small = th_guest_ram(0x1000), p[2], ev, sv[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ev = eventfd(0, EFD_CLOEXEC);
	fx_open(&f);
	/* the attack: 1 TiB from a 4 KiB memfd, again and again */
	for (int i = 0; i < 4; i++)
		assert_int_equal(vfu_client_dma_map(&f.cli,
						    (uint64_t)i << 40,
						    1ull << 40, small, 0, RW),
				 -EINVAL);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0, 0x2000, small, 0, RW),
			 -EINVAL);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0, 0x1000, small, 0x1000,
					    RW), -EINVAL);
	/* fds that have no size to check against */
	assert_int_equal(vfu_client_dma_map(&f.cli, 0, 0x1000, p[0], 0, RW),
			 -EINVAL);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0, 0x1000, sv[0], 0, RW),
			 -EINVAL);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0, 0x1000, ev, 0, RW),
			 -EINVAL);
	assert_int_equal(f.srv.ndma, 0);
	assert_int_equal(guestmem_used(NULL), 0);
	/* what the fd holds is fine */
	assert_int_equal(vfu_client_dma_map(&f.cli, 0, 0x1000, small, 0, RW),
			 0);
	assert_non_null(f.srv.dma[0].map);
	assert_int_equal(guestmem_used(NULL), 0x1000);
	fx_close(&f);
	assert_int_equal(guestmem_used(NULL), 0);
	close(small);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	close(ev);
}

static void test_dma_map_budget_per_connection(void **state)
{
	struct fixture f;
	unsigned maps;
	/* sparse: 1 TiB + 8 KiB of address space, no memory */
	int big = th_guest_ram(GUESTMEM_MAX_PER_CONN + 0x2000);

	fx_open(&f);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0, GUESTMEM_MAX_PER_CONN -
					    0x1000, big, 0, RW), 0);
	assert_int_equal(vfu_client_dma_map(&f.cli, 1ull << 41, 0x1000, big,
					    0, RW), 0);
	assert_int_equal(guestmem_used(&maps), GUESTMEM_MAX_PER_CONN);
	assert_int_equal(maps, 2);
	/* one page more than a connection may map */
	assert_int_equal(vfu_client_dma_map(&f.cli, 1ull << 42, 0x1000, big,
					    0x1000, RW), -ENOSPC);
	assert_int_equal(f.srv.ndma, 2);
	/* given back on unmap: room again */
	assert_int_equal(vfu_client_dma_unmap(&f.cli, 1ull << 41, 0x1000, 0),
			 0);
	assert_int_equal(vfu_client_dma_map(&f.cli, 1ull << 42, 0x1000, big,
					    0x1000, RW), 0);
	/* ranges without an fd take no address space */
	assert_int_equal(vfu_client_dma_map(&f.cli, 1ull << 43, 1ull << 40, -1,
					    0, RW), 0);
	assert_int_equal(guestmem_used(NULL), GUESTMEM_MAX_PER_CONN);
	assert_int_equal(vfu_client_dma_unmap(&f.cli, 0, 0, VFU_DMA_UNMAP_ALL),
			 0);
	assert_int_equal(guestmem_used(&maps), 0);
	assert_int_equal(maps, 0);
	fx_close(&f);
	close(big);
}

static void test_dma_map_budget_per_process(void **state)
{
	struct fixture a, b;
	int fd = th_guest_ram(0x10000);

	guestmem_set_process_max(0x10000, 0);
	fx_open(&a);
	fx_open(&b);
	assert_int_equal(vfu_client_dma_map(&a.cli, 0, 0xc000, fd, 0, RW), 0);
	/* b is within its own budget, but the process's is spent */
	assert_int_equal(vfu_client_dma_map(&b.cli, 0, 0x8000, fd, 0, RW),
			 -ENOSPC);
	assert_int_equal(vfu_client_dma_map(&b.cli, 0, 0x4000, fd, 0, RW), 0);
	assert_int_equal(vfu_client_dma_map(&b.cli, 0x10000, 0x1000, fd, 0,
					    RW), -ENOSPC);
	/* a's client goes away: its share is free for b */
	fx_close(&a);
	assert_int_equal(vfu_client_dma_map(&b.cli, 0x10000, 0xc000, fd, 0,
					    RW), 0);
	fx_close(&b);
	assert_int_equal(guestmem_used(NULL), 0);

	/* the number of maps too: each is a VMA of ptdm's */
	guestmem_set_process_max(0, 3);
	fx_open(&a);
	fx_open(&b);
	assert_int_equal(vfu_client_dma_map(&a.cli, 0, 0x1000, fd, 0, RW), 0);
	assert_int_equal(vfu_client_dma_map(&a.cli, 0x1000, 0x1000, fd, 0x1000,
					    RW), 0);
	assert_int_equal(vfu_client_dma_map(&b.cli, 0, 0x1000, fd, 0x2000, RW),
			 0);
	assert_int_equal(vfu_client_dma_map(&b.cli, 0x1000, 0x1000, fd, 0x3000,
					    RW), -ENOSPC);
	/* a range mapped already is no new map: shared, within the limit */
	assert_int_equal(vfu_client_dma_map(&b.cli, 0x1000, 0x1000, fd, 0x1000,
					    RW), 0);
	assert_ptr_equal(b.srv.dma[1].map, a.srv.dma[1].map);
	assert_int_equal(vfu_client_dma_unmap(&b.cli, 0x1000, 0x1000, 0), 0);
	assert_int_equal(vfu_client_dma_unmap(&a.cli, 0, 0x1000, 0), 0);
	assert_int_equal(vfu_client_dma_map(&b.cli, 0x1000, 0x1000, fd, 0x3000,
					    RW), 0);
	fx_close(&a);
	fx_close(&b);
	guestmem_set_process_max(0, 0);
	close(fd);
}

/* An image device touches only memory its client cannot shrink. */
static void test_dma_map_unsealed_fd_not_touched(void **state)
{
	struct fixture f;
	int fd = memfd_create("unsealed", MFD_CLOEXEC), sealed = th_guest_ram(
		0x2000);
	uint32_t v = 0xc0ffee;
	uint8_t *ram;

	assert_int_equal(ftruncate(fd, 0x2000), 0);
	fx_open(&f);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x100000, 0x2000, fd, 0,
					    RW), 0);
	/* kept as a range the device reaches by DMA_READ/WRITE messages */
	assert_int_equal(f.srv.ndma, 1);
	assert_null(f.srv.dma[0].map);
	assert_int_equal(guestmem_used(NULL), 0);
	/* the client shrinks it: nothing of ptdm's points into it */
	assert_int_equal(ftruncate(fd, 0), 0);
	/* a sealed one is mapped, and the device writes through it */
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x200000, 0x2000, sealed, 0,
					    RW), 0);
	assert_non_null(f.srv.dma[1].map);
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x201000, &v, 4, true), 0);
	ram = mmap(NULL, 0x2000, PROT_READ, MAP_SHARED, sealed, 0);
	assert_true(ram != MAP_FAILED);
	assert_int_equal(*(uint32_t *)(ram + 0x1000), 0xc0ffee);
	munmap(ram, 0x2000);
	fx_close(&f);
	close(fd);
	close(sealed);
}

/* ---- 3. interrupt fds: eventfds only, never a blocking write ---- */

static void test_irq_fds_must_be_eventfds(void **state)
{
	struct fixture f;
	int p[2], sv[2], mfd = memfd_create("x", MFD_CLOEXEC), ev, fl;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	fx_open(&f);
	/* a pipe nobody reads fills up, then a write blocks the server */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     TRIG_FD, 0, 1, &p[1]), -EINVAL);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     TRIG_FD, 0, 1, &sv[0]), -EINVAL);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     TRIG_FD, 0, 1, &mfd), -EINVAL);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     TRIG_FD, 0, 1, &p[1]), -EINVAL);
	/* one bad fd among good ones: nothing is kept */
	ev = eventfd(0, EFD_CLOEXEC);
	{
		int two[2] = { ev, p[1] };

		assert_int_equal(vfu_client_set_irqs(&f.cli,
						     VFIO_PCI_MSIX_IRQ_INDEX,
						     TRIG_FD, 0, 2, two),
				 -EINVAL);
	}
	assert_int_equal(vfu_conn_trigger(&f.srv, VFIO_PCI_MSIX_IRQ_INDEX, 0),
			 -ENOENT);
	/* an eventfd is taken, and made non-blocking */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     TRIG_FD, 0, 1, &ev), 0);
	fl = fcntl(ev, F_GETFL);
	assert_true(fl & O_NONBLOCK);
	assert_int_equal(vfu_conn_trigger(&f.srv, VFIO_PCI_MSIX_IRQ_INDEX, 0),
			 0);
	fx_close(&f);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	close(mfd);
	close(ev);
}

static void fill(int ev)
{
	uint64_t full = EVENTFD_FULL;

	assert_int_equal(write(ev, &full, 8), 8);
}

static void test_irq_full_eventfd_does_not_block(void **state)
{
	struct fixture f;
	int ev = eventfd(0, EFD_CLOEXEC), iv = eventfd(0, EFD_CLOEXEC);
	uint64_t cnt;

	fx_open(&f);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     TRIG_FD, 0, 1, &ev), 0);
	/* the client fills the counter and makes the fd blocking again */
	fill(ev);
	assert_int_equal(fcntl(ev, F_SETFL, 0), 0);
	alarm(10); /* a blocking write would hang here: die instead */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     TRIG_NONE, 0, 1, NULL), 0);
	assert_int_equal(vfu_conn_trigger(&f.srv, VFIO_PCI_MSIX_IRQ_INDEX, 0),
			 0);
	assert_int_equal(f.srv.irq_full, 2);
	/* the signal was pending anyway: the client reads it */
	assert_int_equal(read(ev, &cnt, 8), 8);
	assert_int_equal(cnt, EVENTFD_FULL);
	assert_int_equal(vfu_conn_trigger(&f.srv, VFIO_PCI_MSIX_IRQ_INDEX, 0),
			 0);
	assert_int_equal(read(ev, &cnt, 8), 8);
	assert_int_equal(cnt, 1);
	/* INTx the same; a full counter still counts as delivered */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     TRIG_FD, 0, 1, &iv), 0);
	fill(iv);
	assert_int_equal(vfu_conn_trigger(&f.srv, VFIO_PCI_INTX_IRQ_INDEX, 0),
			 0);
	assert_int_equal(vfu_conn_trigger(&f.srv, VFIO_PCI_INTX_IRQ_INDEX, 0),
			 -EAGAIN); /* automasked */
	alarm(0);
	fx_close(&f);
	close(ev);
	close(iv);
}

/*
 * The race evfd_signal cannot see: the client clears O_NONBLOCK after the
 * last check and the counter is full.  The write itself is cut short.
 */
static void test_blocking_write_cut_short(void **state)
{
	int ev = eventfd(0, EFD_CLOEXEC);
	struct timespec t0, t1;
	long ms;

	fill(ev);
	alarm(10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(evfd_write_guarded(ev), -EAGAIN);
	assert_int_equal(evfd_write_guarded(ev), -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 2000);
	/* room again: the guarded write goes through, no stray signal after */
	{
		uint64_t cnt;

		assert_int_equal(read(ev, &cnt, 8), 8);
		assert_int_equal(evfd_write_guarded(ev), 0);
		usleep(50000); /* past the timer: it was disarmed */
		assert_int_equal(read(ev, &cnt, 8), 8);
		assert_int_equal(cnt, 1);
	}
	close(ev);
}

/* The image backend signals the owner's fds the same way. */
static void test_image_irq_raise_does_not_block(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = th_irq_dev(&h, 0);
	int ev = eventfd(0, EFD_CLOEXEC);

	assert_int_equal(h->ops->irq_set(h, HOST_IRQ_MSIX, 0, 1, &ev), 0);
	fill(ev);
	alarm(10);
	assert_int_equal(image_irq_raise(h, 0), 0);
	alarm(0);
	th_free(d, h);
	close(ev);
}

/* ---- 4. MIG_DATA_WRITE: no more than the device's state can be ---- */

static int mig_set(struct fixture *f, uint32_t to)
{
	uint8_t req[16];
	uint32_t hdr[2] = { 16, (1u << 17) |
				       VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE };
	uint32_t st[2] = { to, (uint32_t)-1 };

	memcpy(req, hdr, 8);
	memcpy(req + 8, st, 8);
	return vfu_client_call(&f->cli, VFU_DEVICE_FEATURE, req, sizeof(req),
			       NULL, 0, NULL, 0, NULL, NULL);
}

static int mig_write(struct fixture *f, const uint8_t *data, uint32_t n)
{
	uint8_t *req = malloc(8 + (size_t)n);
	uint32_t q[2] = { 8, n };
	int rc;

	assert_non_null(req);
	memcpy(req, q, 8);
	memcpy(req + 8, data, n);
	rc = vfu_client_call(&f->cli, VFU_MIG_DATA_WRITE, req, 8 + n, NULL, 0,
			     NULL, 0, NULL, NULL);
	free(req);
	return rc;
}

/* The HEAD record a stream of this device starts with (the first 40
 * bytes it hands out in STOP_COPY). */
static void mig_head(struct fixture *f, uint8_t head[40])
{
	uint32_t q[2] = { 16, 40 };
	uint8_t rep[8 + 40];
	size_t got = 0;

	assert_int_equal(mig_set(f, VFIO_DEVICE_STATE_STOP_COPY), 0);
	assert_int_equal(vfu_client_call(&f->cli, VFU_MIG_DATA_READ, q, 8, NULL,
					 0, rep, sizeof(rep), &got, NULL), 0);
	assert_int_equal(got, sizeof(rep));
	memcpy(head, rep + 8, 40);
	assert_int_equal(mig_set(f, VFIO_DEVICE_STATE_STOP), 0);
}

/* A HOST record of n bytes. */
static int mig_host(struct fixture *f, const uint8_t *data, uint32_t n)
{
	uint8_t *rec = malloc(8 + (size_t)n);
	uint32_t h[2] = { 2, n };
	int rc;

	assert_non_null(rec);
	memcpy(rec, h, 8);
	memcpy(rec + 8, data, n);
	rc = mig_write(f, rec, 8 + n);
	free(rec);
	return rc;
}

/* The image's stream head (no pre-copy part) and one LIT op of n bytes. */
static int mig_lit(struct fixture *f, uint64_t pre_len, uint32_t n)
{
	uint8_t b[24];
	uint32_t w[2] = { 0x314d4c42u, 0 }, op[2] = { 2, n };

	memcpy(b, w, 8);
	memcpy(b + 8, &pre_len, 8);
	memcpy(b + 16, op, 8);
	return mig_host(f, b, sizeof(b));
}

static void resuming(struct fixture *f)
{
	uint8_t head[40];

	mig_head(f, head);
	assert_int_equal(mig_set(f, VFIO_DEVICE_STATE_RESUMING), 0);
	assert_int_equal(mig_write(f, head, sizeof(head)), 0);
}

static void test_mig_write_bounded_by_state_size(void **state)
{
	struct fixture f;
	uint64_t max;
	uint8_t *junk = calloc(1, 1u << 18); /* > any write below */
	uint32_t chunk = 1u << 16;
	uint64_t sent = 0;

	assert_non_null(junk);
	fx_open(&f);
	max = f.h->ops->state_max(f.h);
	/* the image's config and BARs */
	assert_true(max > 4096 + 0x10000 + 0x10000);
	assert_true(max < (1u << 20));
	resuming(&f);
	/* up to the bound it is taken, one byte more is refused */
	assert_int_equal(mig_lit(&f, 0, (uint32_t)max), 0);
	while (sent + chunk <= max) {
		assert_int_equal(mig_host(&f, junk, chunk), 0);
		sent += chunk;
	}
	assert_int_equal(mig_host(&f, junk, (uint32_t)(max - sent)), 0);
	{
		uint32_t op[2] = { 2, 1 };

		assert_int_equal(mig_host(&f, (uint8_t *)op, 8), -EFBIG);
	}
	/* and the stream is broken for good: nothing loads */
	assert_int_equal(mig_write(&f, junk, 8), -EINVAL);
	assert_int_equal(mig_set(&f, VFIO_DEVICE_STATE_STOP), -EINVAL);
	fx_close(&f);

	/* an op larger than the bound, a pre-copy part larger than it */
	fx_open(&f);
	resuming(&f);
	assert_int_equal(mig_lit(&f, 0, (uint32_t)max + 1), -EFBIG);
	fx_close(&f);
	fx_open(&f);
	resuming(&f);
	assert_int_equal(mig_lit(&f, max + 1, 1), -EFBIG);
	fx_close(&f);
	/* a record larger than any the core takes */
	fx_open(&f);
	resuming(&f);
	{
		uint32_t h[2] = { 2, (1u << 20) + 1 };

		assert_int_equal(mig_write(&f, (uint8_t *)h, 8), -EINVAL);
	}
	fx_close(&f);
	free(junk);
}

/* A saved state of the largest kind fits the bound it is checked by. */
static void test_state_max_holds_a_full_save(void **state)
{
	struct fixture f;
	uint8_t *blob;
	size_t len;
	uint8_t page[4096];

	fx_open(&f);
	memset(page, 0x5a, sizeof(page));
	/* every byte of every BAR written: the largest image state */
	for (uint64_t off = 0; off < 0x10000; off += sizeof(page))
		assert_int_equal(f.h->ops->bar_write(f.h, 0, off, page,
						     sizeof(page)), 0);
	for (uint64_t off = 0; off < 0x4000; off += sizeof(page))
		assert_int_equal(f.h->ops->bar_write(f.h, 4, off, page,
						     sizeof(page)), 0);
	assert_int_equal(f.h->ops->bar_write(f.h, 2, 0, page, 0x20), 0);
	assert_int_equal(ptdm_dev_save(f.d, &blob, &len), 0);
	assert_true(len <= ptdm_dev_state_max(f.d));
	free(blob);
	fx_close(&f);
}

/* ---- 5. mmap=trap: the client never gets a BAR fd ---- */

static void test_mmap_trap_hands_out_no_fd(void **state)
{
	struct fixture f;
	struct ptdm_dev_opts o;
	struct vfu_region_info ri;
	uint8_t caps[256];
	uint32_t v;
	int fd = -1;

	ptdm_dev_opts_init(&o);
	o.mmap_trap = true;
	fx_open_opts(&f, &o);
	for (unsigned bar = 0; bar <= 4; bar += 4) {
		fd = -1;
		assert_int_equal(vfu_client_region_info(&f.cli, bar, &ri, caps,
							sizeof(caps), &fd), 0);
		assert_int_equal(fd, -1);
		assert_false(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
		assert_false(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
		assert_true(ri.flags & VFIO_REGION_INFO_FLAG_READ);
		assert_true(ri.flags & VFIO_REGION_INFO_FLAG_WRITE);
		assert_int_equal(ri.size, bar ? 0x4000 : 0x10000);
	}
	/* the BARs still work, through REGION_READ/WRITE */
	cfg_wr(&f, PCI_COMMAND, PCI_COMMAND_MEMORY);
	v = 0xa5a5a5a5;
	assert_int_equal(vfu_client_region_rw(&f.cli, 4, 0x100, &v, 4, true), 0);
	v = 0;
	assert_int_equal(vfu_client_region_rw(&f.cli, 4, 0x100, &v, 4, false),
			 0);
	assert_int_equal(v, 0xa5a5a5a5);
	fx_close(&f);
	/* the default hands the fd out */
	fx_open(&f);
	assert_int_equal(vfu_client_region_info(&f.cli, 4, &ri, caps,
						sizeof(caps), &fd), 0);
	assert_true(fd >= 0);
	assert_true(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	close(fd);
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bar_memfd_cannot_shrink),
		cmocka_unit_test(test_dma_map_fd_must_cover_range),
		cmocka_unit_test(test_dma_map_budget_per_connection),
		cmocka_unit_test(test_dma_map_budget_per_process),
		cmocka_unit_test(test_dma_map_unsealed_fd_not_touched),
		cmocka_unit_test(test_irq_fds_must_be_eventfds),
		cmocka_unit_test(test_irq_full_eventfd_does_not_block),
		cmocka_unit_test(test_blocking_write_cut_short),
		cmocka_unit_test(test_image_irq_raise_does_not_block),
		cmocka_unit_test(test_mig_write_bounded_by_state_size),
		cmocka_unit_test(test_state_max_holds_a_full_save),
		cmocka_unit_test(test_mmap_trap_hands_out_no_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
