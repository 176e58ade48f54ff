/*
 * test_mpqemu.c - the x-pci-proxy-dev remote side against a fake proxy
 * that sends what QEMU 7.2's proxy sends (frames as in
 * reference/vm-testing.md 2.2): realize-time probing, config and BAR
 * traffic, guest RAM, INTx, reset, and broken messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/mpqemu.h"
#include "util/guestmem.h"
#include "util/sockio.h"
#include <linux/pci_regs.h>

struct fx {
	struct host_dev *h;
	struct ptdm_dev *d;
	struct mpq_conn c;
	int peer;
};

static void fx_open(struct fx *f)
{
	struct th_cfg c;
	int sv[2];

	th_cfg_init(&c, 0x1234, 0x11e8, 256);
	th_set_bar(&c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x100000);
	th_set_bar(&c, 1, PCI_BASE_ADDRESS_SPACE_IO, 0x20);
	f->d = th_dev(&c, NULL, &f->h);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	mpq_conn_init(&f->c, sv[0], f->d);
	f->peer = sv[1];
}

static void fx_close(struct fx *f)
{
	close(f->peer);
	mpq_conn_close(&f->c);
	th_free(f->d, f->h);
}

static void send_msg(struct fx *f, int32_t cmd, const void *p, uint64_t size,
		     const int *fds, unsigned nfds)
{
	uint8_t buf[16 + 256] = { 0 };

	assert_true(size <= 256 && nfds <= 8);
	memcpy(buf, &cmd, 4);
	memcpy(buf + 8, &size, 8);
	if (size)
		memcpy(buf + 16, p, size);
	assert_int_equal(sockio_send_fds(f->peer, buf, 16 + size, fds, nfds),
			 0);
}

/* Send, let the remote handle it, read the RET value. */
static uint64_t call(struct fx *f, int32_t cmd, const void *p, uint64_t size)
{
	uint8_t r[24];
	int32_t rc;
	uint64_t rs, v;

	send_msg(f, cmd, p, size, NULL, 0);
	assert_int_equal(mpq_conn_handle(&f->c), 0);
	assert_int_equal(recv(f->peer, r, sizeof(r), MSG_WAITALL), 24);
	memcpy(&rc, r, 4);
	memcpy(&rs, r + 8, 8);
	memcpy(&v, r + 16, 8);
	assert_int_equal(rc, 1); /* RET */
	assert_int_equal(rs, 8);
	return v;
}

static uint64_t cfg(struct fx *f, bool write, uint32_t addr, uint32_t val,
		    int len)
{
	struct { uint32_t addr, val; int32_t len; } m = { addr, val, len };

	return call(f, write ? 2 : 3, &m, sizeof(m));
}

static uint64_t bar(struct fx *f, bool write, uint64_t addr, uint64_t val,
		    uint32_t size, bool memory)
{
	struct { uint64_t addr, val; uint32_t size; uint8_t mem, pad[3]; } m =
		{ addr, val, size, memory, { 0 } };

	return call(f, write ? 4 : 5, &m, sizeof(m));
}

static void test_realize_probe_and_config(void **state)
{
	struct fx f;

	fx_open(&f);
	/* what proxy.c probe_pci_info() does */
	assert_int_equal(cfg(&f, false, 0x00, 0, 2), 0x1234);
	assert_int_equal(cfg(&f, false, 0x02, 0, 2), 0x11e8);
	assert_int_equal(cfg(&f, false, 0x0a, 0, 2), 0x0200);
	for (unsigned i = 0; i < 7; i++) {
		uint32_t reg = 0x10 + 4 * i;
		uint32_t orig = (uint32_t)cfg(&f, false, reg, 0, 4);
		uint32_t v;

		assert_int_equal(cfg(&f, true, reg, 0xffffffff, 4), 0);
		v = (uint32_t)cfg(&f, false, reg, 0, 4);
		assert_int_equal(cfg(&f, true, reg, orig, 4), 0);
		if (i == 0)
			assert_int_equal(v, 0xfff00000);
		else if (i == 1)
			assert_int_equal(v, 0xffffffe1);
		else
			assert_int_equal(v, 0); /* incl. 0x28, probed as BAR 6 */
	}
	/* bad length: an error value, and the connection goes on */
	assert_int_equal(cfg(&f, false, 0, 0, 3), UINT64_MAX);
	assert_int_equal(cfg(&f, false, 0xfff, 0, 4), UINT64_MAX);
	assert_int_equal(cfg(&f, false, 0, 0, 4), 0x11e81234);
	fx_close(&f);
}

static void test_bar_traffic(void **state)
{
	struct fx f;
	uint32_t raw = 0;

	fx_open(&f);
	/* not programmed yet: nothing answers */
	assert_int_equal(bar(&f, false, 0xfe000000, 0, 4, true), UINT64_MAX);
	cfg(&f, true, PCI_BASE_ADDRESS_0, 0xfe000000, 4);
	cfg(&f, true, PCI_BASE_ADDRESS_1, 0xc000, 4);
	cfg(&f, true, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
	assert_int_equal(bar(&f, true, 0xfe000040, 0xabcd1234, 4, true), 0);
	assert_int_equal(bar(&f, false, 0xfe000040, 0, 4, true), 0xabcd1234);
	assert_int_equal(f.h->ops->bar_read(f.h, 0, 0x40, &raw, 4), 0);
	assert_int_equal(raw, 0xabcd1234);
	/* I/O space is told apart by the memory flag */
	assert_int_equal(bar(&f, true, 0xc004, 0x55, 1, false), 0);
	assert_int_equal(bar(&f, false, 0xc004, 0, 1, false), 0x55);
	assert_int_equal(bar(&f, false, 0xc004, 0, 1, true), UINT64_MAX);
	/* past the end, odd sizes */
	assert_int_equal(bar(&f, false, 0xfe0ffffe, 0, 4, true), UINT64_MAX);
	assert_int_equal(bar(&f, false, 0xfe000040, 0, 3, true), UINT64_MAX);
	/* decode off: no BAR answers */
	cfg(&f, true, PCI_COMMAND, 0, 2);
	assert_int_equal(bar(&f, false, 0xfe000040, 0, 4, true), UINT64_MAX);
	fx_close(&f);
}

static void test_sysmem_irq_reset(void **state)
{
	struct fx f;
	uint8_t sm[192] = { 0 };
	uint64_t gpa = 0, size = 0x100000;
	int mfd = th_guest_ram(0x100000), ev[2];
	uint8_t *ram;
	uint32_t v = 0x600dda7a;
	uint64_t cnt;
	uint8_t r[24];

	ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	fx_open(&f);
	memcpy(sm, &gpa, 8);
	memcpy(sm + 64, &size, 8);
	send_msg(&f, 0, sm, sizeof(sm), &mfd, 1);
	assert_int_equal(mpq_conn_handle(&f.c), 0);
	assert_int_equal(mpq_conn_dma_rw(&f.c, 0x1000, &v, 4, true), 0);
	assert_int_equal(*(uint32_t *)(ram + 0x1000), 0x600dda7a);
	assert_int_equal(mpq_conn_dma_rw(&f.c, size - 2, &v, 4, true), -EFAULT);
	/* a fresh SYNC_SYSMEM replaces the old map */
	send_msg(&f, 0, sm, sizeof(sm), &mfd, 1);
	assert_int_equal(mpq_conn_handle(&f.c), 0);
	assert_int_equal(f.c.nram, 1);
	/* INTx eventfd + resample fd */
	ev[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev[1] = eventfd(0, EFD_CLOEXEC);
	send_msg(&f, 6, NULL, 0, ev, 2);
	assert_int_equal(mpq_conn_handle(&f.c), 0);
	assert_int_equal(mpq_conn_raise_intx(&f.c), 0);
	assert_int_equal(read(ev[0], &cnt, 8), 8);
	/* one fd only: ignored, the old pair stays */
	send_msg(&f, 6, NULL, 0, ev, 1);
	assert_int_equal(mpq_conn_handle(&f.c), 0);
	assert_int_equal(mpq_conn_raise_intx(&f.c), 0);
	/* reset: a RET, and the device is at power-on */
	cfg(&f, true, PCI_INTERRUPT_LINE, 9, 1);
	send_msg(&f, 7, NULL, 0, NULL, 0);
	assert_int_equal(mpq_conn_handle(&f.c), 0);
	assert_int_equal(recv(f.peer, r, sizeof(r), MSG_WAITALL), 24);
	assert_int_equal(cfg(&f, false, PCI_INTERRUPT_LINE, 0, 1), 0);
	/* unknown command: no reply expected, none sent */
	send_msg(&f, 42, NULL, 0, NULL, 0);
	assert_int_equal(mpq_conn_handle(&f.c), 0);
	assert_int_equal(cfg(&f, false, 0, 0, 2), 0x1234);
	/* a size the protocol cannot have: the stream is dropped */
	{
		uint8_t h[16] = { 3 };
		uint64_t big = 1000;

		memcpy(h + 8, &big, 8);
		assert_int_equal(send(f.peer, h, 16, 0), 16);
		assert_int_equal(mpq_conn_handle(&f.c), -EPROTO);
	}
	close(ev[0]);
	close(ev[1]);
	close(mfd);
	munmap(ram, size);
	fx_close(&f);
}

static void sysmem(struct fx *f, const uint64_t *gpa, const uint64_t *size,
		   const int *fds, unsigned n)
{
	uint8_t sm[192] = { 0 };

	for (unsigned i = 0; i < n; i++) {
		memcpy(sm + 8 * i, &gpa[i], 8);
		memcpy(sm + 64 + 8 * i, &size[i], 8);
	}
	send_msg(f, 0, sm, sizeof(sm), fds, n);
	assert_int_equal(mpq_conn_handle(&f->c), 0);
}

/* A proxy that lies about its RAM fds cannot crash or exhaust ptdm. */
static void test_hostile_sysmem(void **state)
{
	struct fx f;
	int small = th_guest_ram(0x1000), big = th_guest_ram(1ull << 39);
	int unsealed = memfd_create("unsealed", MFD_CLOEXEC), p[2];
	uint64_t gpa[3] = { 0, 1ull << 40, 2ull << 40 };
	uint64_t size[1] = { 0x100000 };
	uint64_t half[3] = { 1ull << 39, 1ull << 39, 1ull << 39 };
	uint32_t v = 7;
	int three[3] = { big, big, big };

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(ftruncate(unsealed, 0x100000), 0);
	fx_open(&f);
	/* 1 MiB claimed from a 4 KiB memfd: refused, nothing mapped */
	sysmem(&f, gpa, size, &small, 1);
	assert_int_equal(f.c.nram, 0);
	assert_int_equal(guestmem_used(NULL), 0);
	assert_int_equal(mpq_conn_dma_rw(&f.c, 0x2000, &v, 4, true), -EFAULT);
	/* a pipe has no size */
	sysmem(&f, gpa, size, &p[0], 1);
	assert_int_equal(f.c.nram, 0);
	/* more than a connection may map in all: nothing */
	sysmem(&f, gpa, half, three, 3);
	assert_int_equal(f.c.nram, 0);
	assert_int_equal(guestmem_used(NULL), 0);
	/* an image device does not touch RAM whose fd can shrink */
	sysmem(&f, gpa, size, &unsealed, 1);
	assert_int_equal(f.c.nram, 1);
	assert_int_equal(guestmem_used(NULL), 0);
	assert_int_equal(ftruncate(unsealed, 0), 0);
	assert_int_equal(mpq_conn_dma_rw(&f.c, 0x2000, &v, 4, true), -EFAULT);
	/* within bounds and sealed: mapped and budgeted; the same range of
	 * the same memfd twice is one mapping (guestmem_map) */
	sysmem(&f, gpa, half, three, 2);
	assert_int_equal(f.c.nram, 2);
	assert_ptr_equal(f.c.ram[0].map, f.c.ram[1].map);
	assert_int_equal(guestmem_users(f.c.ram[0].map), 2);
	assert_int_equal(guestmem_used(NULL), 1ull << 39);
	assert_int_equal(mpq_conn_dma_rw(&f.c, (1ull << 40) + 8, &v, 4, true),
			 0);
	assert_int_equal(mpq_conn_dma_rw(&f.c, 1ull << 39, &v, 4, true),
			 -EFAULT);
	fx_close(&f);
	assert_int_equal(guestmem_used(NULL), 0);
	close(small);
	close(big);
	close(unsealed);
	close(p[0]);
	close(p[1]);
}

/* INTx fds that are not eventfds, or a full one, cannot block ptdm. */
static void test_hostile_irqfd(void **state)
{
	struct fx f;
	int p[2], ev[2];
	uint64_t full = 0xfffffffffffffffeull;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fx_open(&f);
	send_msg(&f, 6, NULL, 0, p, 2);
	assert_int_equal(mpq_conn_handle(&f.c), 0);
	assert_int_equal(mpq_conn_raise_intx(&f.c), -ENOENT);
	ev[0] = eventfd(0, EFD_CLOEXEC);
	ev[1] = eventfd(0, EFD_CLOEXEC);
	send_msg(&f, 6, NULL, 0, ev, 2);
	assert_int_equal(mpq_conn_handle(&f.c), 0);
	assert_int_equal(write(ev[0], &full, 8), 8);
	assert_int_equal(fcntl(ev[0], F_SETFL, 0), 0);
	alarm(10); /* a blocking write would hang: die instead */
	assert_int_equal(mpq_conn_raise_intx(&f.c), 0);
	alarm(0);
	fx_close(&f);
	close(p[0]);
	close(p[1]);
	close(ev[0]);
	close(ev[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_realize_probe_and_config),
		cmocka_unit_test(test_bar_traffic),
		cmocka_unit_test(test_sysmem_irq_reset),
		cmocka_unit_test(test_hostile_sysmem),
		cmocka_unit_test(test_hostile_irqfd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
