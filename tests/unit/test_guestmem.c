/*
 * test_guestmem.c - guest memory mapped once per process (util/guestmem.c)
 * and what it is for: two connections of one VMM whose devices share a
 * DMA space (the functions of one slot) map the same memfd range, and the
 * second's DMA_MAP joins the first's IOMMU mapping instead of failing.
 *
 * The devices are image devices whose host DMA ops go to the real
 * vfio_dma.c on fake VFIO devices of one fake space; the kernel under it
 * is a wrapped ioctl() (-Wl,--wrap=ioctl) that records MAP_DMA and
 * UNMAP_DMA on the space's fd and passes every other call through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "host/vfio_priv.h"
#include "ptdm/mpqemu.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"
#include "util/guestmem.h"
#include <linux/pci_regs.h>

#define RW (VFU_DMA_READ_OK | VFU_DMA_WRITE_OK)
#define FAKE_SPACE_FD 1000000 /* never an open fd */

/* ---- the kernel: type1 MAP_DMA / UNMAP_DMA on the fake space ---- */

static struct {
	unsigned maps, unmaps;
	uint64_t iova, size, vaddr; /* the last MAP_DMA */
} kern;

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != FAKE_SPACE_FD)
		return __real_ioctl(fd, req, arg);
	if (req == VFIO_IOMMU_MAP_DMA) {
		const struct vfio_iommu_type1_dma_map *m = arg;

		kern.maps++;
		kern.iova = m->iova;
		kern.size = m->size;
		kern.vaddr = m->vaddr;
		return 0;
	}
	if (req == VFIO_IOMMU_UNMAP_DMA) {
		kern.unmaps++;
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

/* ---- devices of one space, each served on its own connection ---- */

#define NDEV 3

static struct space space;
static struct vfio_dev vdev[NDEV];
static struct host_dev *img[NDEV];
static struct host_ops fwd_ops;

static struct vfio_dev *vfio_of(struct host_dev *h)
{
	for (int i = 0; i < NDEV; i++)
		if (img[i] == h)
			return &vdev[i];
	fail_msg("no fake VFIO device for this host");
	return NULL;
}

static int fwd_map(struct host_dev *h, uint64_t iova, void *vaddr,
		   uint64_t size, unsigned prot)
{
	return vfio_host_dma_map(&vfio_of(h)->h, iova, vaddr, size, prot);
}

static int fwd_unmap(struct host_dev *h, uint64_t iova, uint64_t size)
{
	return vfio_host_dma_unmap(&vfio_of(h)->h, iova, size);
}

struct fx {
	struct host_dev *h;
	struct ptdm_dev *d;
	struct vfu_conn srv;
	struct vfu_client cli;
	struct mpq_conn mpq;
	int peer;
};

static int pump(void *opaque)
{
	return vfu_conn_handle(&((struct fx *)opaque)->srv);
}

static void dev_open(struct fx *f, int i)
{
	struct th_cfg c;

	th_cfg_init(&c, 0x10de, 0x24a0 + i, 256);
	th_set_bar(&c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x1000);
	f->d = th_dev(&c, NULL, &f->h);
	fwd_ops = *f->h->ops;
	fwd_ops.dma_map = fwd_map;
	fwd_ops.dma_unmap = fwd_unmap;
	f->h->ops = &fwd_ops;
	img[i] = f->h;
	memset(&vdev[i], 0, sizeof(vdev[i]));
	vdev[i].h.ops = &vfio_ops;
	snprintf(vdev[i].h.name, sizeof(vdev[i].h.name), "0000:01:00.%d", i);
	vdev[i].fd = -1;
	vdev[i].space = &space;
}

/* Device i (function i of the slot) on a vfio-user connection. */
static void fx_open(struct fx *f, int i)
{
	struct ptdm_err err = { "" };
	int sv[2];

	dev_open(f, i);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(vfu_conn_init(&f->srv, sv[0], f->d), 0);
	vfu_client_init_fd(&f->cli, sv[1]);
	f->cli.pump = pump;
	f->cli.pump_opaque = f;
	if (vfu_client_version(&f->cli, NULL, &err))
		fail_msg("version: %s", err.msg);
}

static void fx_close(struct fx *f)
{
	vfu_client_close(&f->cli);
	vfu_conn_close(&f->srv);
	vfio_dma_release_all(vfio_of(f->h));
	img[f->h == img[0] ? 0 : f->h == img[1] ? 1 : 2] = NULL;
	th_free(f->d, f->h);
}

static int setup(void **state)
{
	(void)state;
	memset(&space, 0, sizeof(space));
	snprintf(space.name, sizeof(space.name), "default");
	space.fd = FAKE_SPACE_FD;
	space.pgsizes = 0x1000;
	memset(&kern, 0, sizeof(kern));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(space.nmaps, 0);
	free(space.maps);
	space.maps = NULL;
	assert_int_equal(guestmem_used(NULL), 0);
	return 0;
}

/* Another fd of the same file, as each QEMU connection sends its own. */
static int reopen(int fd, int flags)
{
	char p[64];
	int n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = open(p, flags | O_CLOEXEC);
	assert_true(n >= 0);
	return n;
}

/* ---- the table itself ---- */

static void test_one_address_per_range(void **state)
{
	int ram = th_guest_ram(0x20000), other = th_guest_ram(0x20000);
	int again = reopen(ram, O_RDWR), ro = reopen(ram, O_RDONLY);
	int p[2], ev = eventfd(0, EFD_CLOEXEC), sv[2];
	void *a, *b, *c, *d, *e;
	unsigned maps;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	/* the same range of one file through two fds: one address */
	assert_int_equal(guestmem_map(ram, 0, 0x10000, PROT_READ | PROT_WRITE,
				      &a), 0);
	assert_int_equal(guestmem_map(again, 0, 0x10000,
				      PROT_READ | PROT_WRITE, &b), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(guestmem_users(a), 2);
	assert_int_equal(guestmem_used(&maps), 0x10000);
	assert_int_equal(maps, 1);
	/* another file, another offset, another size, another prot: each
	 * a mapping of its own (overlapping ranges of one file too) */
	assert_int_equal(guestmem_map(other, 0, 0x10000,
				      PROT_READ | PROT_WRITE, &c), 0);
	assert_ptr_not_equal(c, a);
	assert_int_equal(guestmem_map(ram, 0x8000, 0x10000,
				      PROT_READ | PROT_WRITE, &d), 0);
	assert_ptr_not_equal(d, a);
	assert_int_equal(guestmem_map(ram, 0, 0x10000, PROT_READ, &e), 0);
	assert_ptr_not_equal(e, a);
	assert_int_equal(guestmem_used(&maps), 0x40000);
	assert_int_equal(maps, 4);
	/* overlapping mappings of one file are the same memory */
	((volatile uint8_t *)a)[0x9000] = 0x5a;
	assert_int_equal(((volatile uint8_t *)d)[0x1000], 0x5a);
	assert_int_equal(((volatile uint8_t *)e)[0x9000], 0x5a);
	/* a read-only fd never gets the writable mapping another fd made */
	assert_int_equal(guestmem_map(ro, 0, 0x10000, PROT_READ | PROT_WRITE,
				      &b), -EACCES);
	assert_int_equal(guestmem_users(a), 2);
	/* fds without a file behind: refused, as an mmap of them would be
	 * (a pipe, a socket, an eventfd's anonymous inode) */
	assert_int_equal(guestmem_map(p[0], 0, 0x1000, PROT_READ, &b),
			 -EINVAL);
	assert_int_equal(guestmem_map(sv[0], 0, 0x1000, PROT_READ, &b),
			 -EINVAL);
	assert_int_equal(guestmem_map(ev, 0, 0x1000, PROT_READ, &b), -EINVAL);
	assert_int_equal(guestmem_map(-1, 0, 0x1000, PROT_READ, &b), -EBADF);
	/* the last user unmaps; the first to go leaves it mapped */
	assert_int_equal(guestmem_unmap(a), 0);
	assert_int_equal(guestmem_users(a), 1);
	assert_int_equal(((volatile uint8_t *)a)[0x9000], 0x5a);
	assert_int_equal(guestmem_unmap(a), 0);
	assert_int_equal(guestmem_users(a), 0);
	assert_int_equal(guestmem_unmap(a), -ENOENT);
	assert_int_equal(guestmem_unmap(NULL), -ENOENT);
	assert_int_equal(guestmem_unmap(c), 0);
	assert_int_equal(guestmem_unmap(d), 0);
	assert_int_equal(guestmem_unmap(e), 0);
	assert_int_equal(guestmem_used(&maps), 0);
	assert_int_equal(maps, 0);
	/* the file stays open while mapped: closing every fd is fine */
	assert_int_equal(guestmem_map(again, 0, 0x1000, PROT_READ, &a), 0);
	close(again);
	assert_int_equal(guestmem_map(ram, 0, 0x1000, PROT_READ, &b), 0);
	assert_ptr_equal(a, b);
	guestmem_unmap(a);
	guestmem_unmap(b);
	close(ram);
	close(other);
	close(ro);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	close(ev);
}

/* ---- two functions of one VMM in one DMA space ---- */

static void test_two_connections_one_space(void **state)
{
	struct fx f0, f1, f2;
	struct ptdm_err err = { "" };
	int ram = th_guest_ram(0x40000), theirs = th_guest_ram(0x40000);
	void *p;
	int ram1 = reopen(ram, O_RDWR);
	volatile uint8_t *m;

	(void)state;
	fx_open(&f0, 0);
	fx_open(&f1, 1);
	fx_open(&f2, 2);
	/* what QEMU sends each vfio-user-pci device: the same RAM section */
	assert_int_equal(vfu_client_dma_map(&f0.cli, 0x100000, 0x20000, ram, 0,
					    RW), 0);
	assert_int_equal(kern.maps, 1);
	assert_int_equal(vfu_client_dma_map(&f1.cli, 0x100000, 0x20000, ram1, 0,
					    RW), 0);
	assert_ptr_equal(f0.srv.dma[0].map, f1.srv.dma[0].map);
	assert_int_equal(kern.maps, 1); /* shared: no second kernel map */
	assert_int_equal(kern.vaddr, (uintptr_t)f0.srv.dma[0].map);
	assert_int_equal(space.nmaps, 1);
	assert_int_equal(space.maps[0].nowners, 2);
	/* another VMM's RAM at that IOVA: refused, as before */
	assert_int_equal(vfu_client_dma_map(&f2.cli, 0x100000, 0x20000, theirs,
					    0, RW), -EEXIST);
	assert_int_equal(guestmem_map(theirs, 0, 0x20000,
				      PROT_READ | PROT_WRITE, &p), 0);
	assert_int_equal(vfio_dma_map(&vdev[2].h, 0x100000, p, 0x20000,
				      PTDM_DMA_READ | PTDM_DMA_WRITE, &err),
			 -EEXIST);
	assert_non_null(strstr(err.msg, "by another device, to other memory"));
	assert_int_equal(guestmem_unmap(p), 0);
	/* the same file at another offset is other memory too: a mapping of
	 * its own, refused at a taken IOVA, accepted at a free one */
	assert_int_equal(vfu_client_dma_map(&f2.cli, 0x100000, 0x20000, ram,
					    0x20000, RW), -EEXIST);
	assert_int_equal(vfu_client_dma_map(&f2.cli, 0x110000, 0x10000, ram,
					    0x10000, RW), -EEXIST);
	assert_int_equal(f2.srv.ndma, 0);
	assert_int_equal(vfu_client_dma_map(&f2.cli, 0x200000, 0x20000, ram,
					    0x20000, RW), 0);
	assert_int_equal(kern.maps, 2);
	assert_ptr_not_equal(f2.srv.dma[0].map, f0.srv.dma[0].map);
	/* the first to unmap leaves the IOMMU mapping and the memory */
	assert_int_equal(vfu_client_dma_unmap(&f0.cli, 0x100000, 0x20000, 0),
			 0);
	assert_int_equal(kern.unmaps, 0);
	assert_int_equal(space.maps[0].nowners, 1);
	m = f1.srv.dma[0].map;
	assert_int_equal(guestmem_users((void *)m), 1);
	m[0x1234] = 0xa5; /* still mapped: no fault */
	assert_int_equal(vfu_client_dma_unmap(&f1.cli, 0x100000, 0x20000, 0),
			 0);
	assert_int_equal(kern.unmaps, 1);
	assert_int_equal(guestmem_users((void *)m), 0);
	/* mapped again, then the connections close mid-way, either order */
	assert_int_equal(vfu_client_dma_map(&f1.cli, 0x100000, 0x20000, ram1, 0,
					    RW), 0);
	assert_int_equal(vfu_client_dma_map(&f0.cli, 0x100000, 0x20000, ram, 0,
					    RW), 0);
	assert_int_equal(kern.maps, 3);
	fx_close(&f1);
	assert_int_equal(kern.unmaps, 1);
	assert_int_equal(guestmem_users(f0.srv.dma[0].map), 1);
	fx_close(&f0);
	assert_int_equal(kern.unmaps, 2);
	fx_close(&f2);
	assert_int_equal(kern.unmaps, 3);
	close(ram);
	close(ram1);
	close(theirs);
}

/* ---- the same over mpqemu: two x-pci-proxy-dev of one QEMU ---- */

static void mpq_open(struct fx *f, int i)
{
	int sv[2];

	dev_open(f, i);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(mpq_conn_init(&f->mpq, sv[0], f->d), 0);
	f->peer = sv[1];
}

static void mpq_close(struct fx *f)
{
	close(f->peer);
	mpq_conn_close(&f->mpq);
	vfio_dma_release_all(vfio_of(f->h));
	img[f->h == img[0] ? 0 : f->h == img[1] ? 1 : 2] = NULL;
	th_free(f->d, f->h);
}

/* SYNC_SYSMEM (cmd 0) with n regions at gpa[i], size[i], offset 0. */
static void sysmem(struct fx *f, const uint64_t *gpa, const uint64_t *size,
		   const int *fds, unsigned n)
{
	uint8_t buf[16 + 192] = { 0 };
	char ctrl[CMSG_SPACE(sizeof(int) * 8)] = { 0 };
	uint64_t len = 192;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctrl,
			      .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memcpy(buf + 8, &len, 8);
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf + 16 + 8 * i, &gpa[i], 8);
		memcpy(buf + 16 + 64 + 8 * i, &size[i], 8);
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	assert_int_equal(sendmsg(f->peer, &msg, 0), (ssize_t)sizeof(buf));
	assert_int_equal(mpq_conn_handle(&f->mpq), 0);
}

static void test_two_proxies_one_space(void **state)
{
	struct fx f0, f1;
	int ram = th_guest_ram(0x40000), lo = th_guest_ram(0x10000);
	int fds[2] = { lo, ram };
	uint64_t gpa[2] = { 0, 0x100000 }, size[2] = { 0x10000, 0x40000 };
	void *kept;

	(void)state;
	mpq_open(&f0, 0);
	mpq_open(&f1, 1);
	sysmem(&f0, gpa, size, fds, 2);
	sysmem(&f1, gpa, size, fds, 2);
	assert_int_equal(f0.mpq.nram, 2);
	assert_int_equal(f1.mpq.nram, 2);
	assert_true(f0.mpq.ram[0].iommu && f1.mpq.ram[0].iommu);
	assert_true(f0.mpq.ram[1].iommu && f1.mpq.ram[1].iommu);
	assert_ptr_equal(f0.mpq.ram[1].map, f1.mpq.ram[1].map);
	assert_int_equal(kern.maps, 2);
	assert_int_equal(space.nmaps, 2);
	/* a new SYNC_SYSMEM keeps the address of a region that stays */
	kept = f0.mpq.ram[1].map;
	sysmem(&f0, gpa, size, fds, 2);
	assert_ptr_equal(f0.mpq.ram[1].map, kept);
	assert_true(f0.mpq.ram[1].iommu);
	assert_int_equal(kern.maps, 2);
	assert_int_equal(guestmem_users(kept), 2);
	/* one proxy goes: the other keeps its DMA */
	mpq_close(&f0);
	assert_int_equal(kern.unmaps, 0);
	assert_int_equal(guestmem_users(kept), 1);
	mpq_close(&f1);
	assert_int_equal(kern.unmaps, 2);
	close(ram);
	close(lo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_address_per_range,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_connections_one_space,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_proxies_one_space,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
