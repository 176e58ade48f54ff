/*
 * test_vfio_user.c - the vfio-user front end: the project's client against
 * the server over socketpairs, for every command on an image device, then
 * the malformed-message suite (each bad message gets an error reply and
 * the connection keeps working; fds and memory are not leaked).
 *
 * Well-formed traffic runs in one thread: the client's pump hook lets the
 * server handle the message between send and receive.  Messages that lie
 * about their size need a server thread, since the server then waits for
 * bytes that never come.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"
#include <linux/pci_regs.h>

#define MSIX_POS 0x70
#define TABLE_OFF 0x2000
#define PBA_OFF 0x3000

static void nic(struct th_cfg *c)
{
	uint8_t msi[12] = { PCI_MSI_FLAGS_64BIT, 0 };
	uint8_t msix[10] = { 3, 0 }; /* 4 vectors */
	uint32_t t = TABLE_OFF, p = PBA_OFF;

	th_cfg_init(c, 0x8086, 0x10d3, 4096);
	th_set_bar(c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x10000);
	th_set_bar(c, 2, PCI_BASE_ADDRESS_SPACE_IO, 0x20);
	th_set_bar(c, PTDM_ROM_INDEX, 0xfff00000, 0x10000);
	th_add_cap(c, 0x50, PCI_CAP_ID_MSI, msi, sizeof(msi));
	memcpy(msix + 2, &t, 4);
	memcpy(msix + 6, &p, 4);
	th_add_cap(c, MSIX_POS, PCI_CAP_ID_MSIX, msix, sizeof(msix));
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void fx_open(struct th_vfu *f, bool negotiate)
{
	struct th_cfg c;

	nic(&c);
	f->d = th_dev(&c, NULL, &f->h);
	th_vfu_open(f, f->h, f->d, negotiate);
}

static uint32_t cfg_rd(struct th_vfu *f, unsigned off)
{
	uint32_t v = 0;

	assert_int_equal(vfu_client_region_rw(&f->cli,
					      VFIO_PCI_CONFIG_REGION_INDEX,
					      off, &v, 4, false), 0);
	return v;
}

static void cfg_wr(struct th_vfu *f, unsigned off, uint32_t v)
{
	assert_int_equal(vfu_client_region_rw(&f->cli,
					      VFIO_PCI_CONFIG_REGION_INDEX,
					      off, &v, 4, true), 0);
}

static void test_version(void **state)
{
	struct th_vfu f;
	struct ptdm_err err = { "" };
	uint32_t v;

	/* nothing before VERSION */
	fx_open(&f, false);
	assert_int_equal(vfu_client_region_rw(&f.cli,
					      VFIO_PCI_CONFIG_REGION_INDEX, 0,
					      &v, 4, false), -EINVAL);
	assert_int_equal(vfu_client_version(&f.cli, NULL, &err), 0);
	assert_int_equal(f.cli.server_max_fds, 8);
	assert_int_equal(f.cli.server_max_xfer, 1 << 20);
	assert_true(f.cli.server_write_multiple);
	/* only once */
	assert_true(vfu_client_version(&f.cli, NULL, &err) < 0);
	assert_int_equal(cfg_rd(&f, 0), 0x10d38086);
	th_vfu_close(&f);

	/* bad capabilities are refused, the connection stays usable */
	fx_open(&f, false);
	assert_true(vfu_client_version(&f.cli, "{\"capabilities\":"
					"{\"max_msg_fds\":\"x\"}}", &err) < 0);
	assert_true(vfu_client_version(&f.cli, "[1,2]", &err) < 0);
	assert_true(vfu_client_version(&f.cli, "{", &err) < 0);
	/* unknown keys and libvfio-user's legacy migration key tolerated */
	assert_int_equal(vfu_client_version(&f.cli, "{\"capabilities\":"
					     "{\"twin_socket\":{},\"migration\":"
					     "{\"pgsize\":4096},\"frob\":1}}",
					     &err), 0);
	th_vfu_close(&f);
}

static void test_device_and_region_info(void **state)
{
	struct th_vfu f;
	struct vfu_device_info di = { .argsz = sizeof(di) }, dr;
	struct vfu_region_info ri;
	uint8_t caps[256];
	struct vfio_region_info_cap_sparse_mmap *sp = (void *)caps;
	size_t len = 0;
	int fd = -1;

	fx_open(&f, true);
	assert_int_equal(vfu_client_call(&f.cli, VFU_DEVICE_GET_INFO, &di,
					 sizeof(di), NULL, 0, &dr, sizeof(dr),
					 &len, NULL), 0);
	assert_int_equal(dr.num_regions, 9);
	assert_int_equal(dr.num_irqs, 5);
	assert_int_equal(dr.flags, VFIO_DEVICE_FLAGS_PCI |
					   VFIO_DEVICE_FLAGS_RESET);

	assert_int_equal(vfu_client_region_info(&f.cli, 7, &ri, NULL, 0, &fd),
			 0);
	assert_int_equal(ri.size, 4096);
	assert_int_equal(fd, -1);

	/* BAR0: mappable around the MSI-X table and PBA pages */
	assert_int_equal(vfu_client_region_info(&f.cli, 0, &ri, caps,
						sizeof(caps), &fd), 0);
	assert_int_equal(ri.size, 0x10000);
	assert_true(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	assert_true(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
	assert_true(fd >= 0);
	assert_int_equal(ri.cap_offset, sizeof(ri));
	assert_int_equal(sp->header.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	assert_int_equal(sp->nr_areas, 2);
	assert_int_equal(sp->areas[0].offset, 0);
	assert_int_equal(sp->areas[0].size, TABLE_OFF);
	assert_int_equal(sp->areas[1].offset, PBA_OFF + 0x1000);
	assert_int_equal(sp->areas[1].size, 0x10000 - PBA_OFF - 0x1000);
	{
		/* the client's mapping and ptdm see the same memory */
		uint32_t *map = mmap(NULL, TABLE_OFF, PROT_READ | PROT_WRITE,
				     MAP_SHARED, fd, (off_t)ri.offset);
		uint32_t v = 0;

		assert_true(map != MAP_FAILED);
		map[0x10] = 0xfeedface;
		cfg_wr(&f, PCI_COMMAND, PCI_COMMAND_MEMORY);
		assert_int_equal(vfu_client_region_rw(&f.cli, 0, 0x40, &v, 4,
						      false), 0);
		assert_int_equal(v, 0xfeedface);
		munmap(map, TABLE_OFF);
		close(fd);
	}
	/*
	 * argsz too small (QEMU's first ask, argsz 32): the size needed, no
	 * fd, and no CAPS / cap_offset, since no capability is in the reply
	 * (QEMU rejects CAPS with a cap_offset below 32).
	 */
	assert_int_equal(vfu_client_region_info(&f.cli, 0, &ri, NULL, 0, &fd),
			 0);
	assert_true(ri.argsz > sizeof(ri));
	assert_int_equal(fd, -1);
	assert_false(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(ri.cap_offset, 0);
	assert_true(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	/* I/O BAR trapped, ROM read-only, BAR1 and VGA empty */
	assert_int_equal(vfu_client_region_info(&f.cli, 2, &ri, NULL, 0, &fd),
			 0);
	assert_int_equal(ri.size, 0x20);
	assert_false(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	assert_int_equal(vfu_client_region_info(&f.cli, 6, &ri, NULL, 0, &fd),
			 0);
	assert_int_equal(ri.flags, VFIO_REGION_INFO_FLAG_READ);
	assert_int_equal(vfu_client_region_info(&f.cli, 1, &ri, NULL, 0, &fd),
			 0);
	assert_int_equal(ri.size, 0);
	assert_int_equal(vfu_client_region_info(&f.cli, 8, &ri, NULL, 0, &fd),
			 0);
	assert_int_equal(ri.size, 0);
	th_vfu_close(&f);
}

static void test_config_and_msix_through_regions(void **state)
{
	struct th_vfu f;
	struct ptdm_msix_entry e;
	uint32_t v;

	fx_open(&f, true);
	/* a BIOS sizing BAR0 */
	cfg_wr(&f, PCI_BASE_ADDRESS_0, 0xffffffff);
	assert_int_equal(cfg_rd(&f, PCI_BASE_ADDRESS_0), 0xffff0000);
	cfg_wr(&f, PCI_BASE_ADDRESS_0, 0xfe000000);
	cfg_wr(&f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* the host keeps its own BAR */
	assert_int_equal(th_host(f.h, PCI_BASE_ADDRESS_0, 4), 0);
	/* MSI-X entry 1 through the trapped table */
	v = 0xfee00000;
	assert_int_equal(vfu_client_region_rw(&f.cli, 0, TABLE_OFF + 16, &v, 4,
					      true), 0);
	v = 0x4041;
	assert_int_equal(vfu_client_region_rw(&f.cli, 0, TABLE_OFF + 24, &v, 4,
					      true), 0);
	assert_int_equal(ptdm_msix_entry_get(f.d, 1, &e), 0);
	assert_int_equal(e.addr, 0xfee00000);
	assert_int_equal(e.data, 0x4041);
	assert_int_equal(ptdm_msix_set_pending(f.d, 3, true), 0);
	assert_int_equal(vfu_client_region_rw(&f.cli, 0, PBA_OFF, &v, 4, false),
			 0);
	assert_int_equal(v, 0x8);
	/* a write spanning the table is refused by the table, not forwarded */
	uint8_t big[64];
	memset(big, 0xab, sizeof(big));
	assert_int_equal(vfu_client_region_rw(&f.cli, 0, TABLE_OFF, big,
					      sizeof(big), true), 0);
	assert_int_equal(ptdm_msix_entry_get(f.d, 1, &e), 0);
	assert_int_equal(e.data, 0x4041);
	/* ROM readable, not writable */
	assert_int_equal(vfu_client_region_rw(&f.cli, 6, 0, &v, 4, false), 0);
	assert_int_equal(vfu_client_region_rw(&f.cli, 6, 0, &v, 4, true),
			 -EINVAL);
	th_vfu_close(&f);
}

static void test_irqs(void **state)
{
	struct th_vfu f;
	struct vfu_irq_info ii;
	int efd[4];
	uint64_t cnt;
	const uint32_t trig_fd = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER;
	const uint32_t trig_none = VFIO_IRQ_SET_DATA_NONE |
				   VFIO_IRQ_SET_ACTION_TRIGGER;

	fx_open(&f, true);
	assert_int_equal(vfu_client_irq_info(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     &ii), 0);
	assert_int_equal(ii.count, 1);
	assert_true(ii.flags & VFIO_IRQ_INFO_MASKABLE);
	assert_int_equal(vfu_client_irq_info(&f.cli, VFIO_PCI_MSI_IRQ_INDEX,
					     &ii), 0);
	assert_int_equal(ii.count, 1);
	assert_int_equal(vfu_client_irq_info(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     &ii), 0);
	assert_int_equal(ii.count, 4);
	/* as vfio-pci: REQ always, ERR only for PCI Express (this is not) */
	assert_int_equal(vfu_client_irq_info(&f.cli, VFIO_PCI_ERR_IRQ_INDEX,
					     &ii), 0);
	assert_int_equal(ii.count, 0);
	assert_int_equal(vfu_client_irq_info(&f.cli, VFIO_PCI_REQ_IRQ_INDEX,
					     &ii), 0);
	assert_int_equal(ii.count, 1);
	assert_true(ii.flags & VFIO_IRQ_INFO_EVENTFD);
	efd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_REQ_IRQ_INDEX,
					     trig_fd, 0, 1, efd), 0);
	assert_true(vfu_client_set_irqs(&f.cli, VFIO_PCI_REQ_IRQ_INDEX,
					trig_fd, 1, 1, efd) < 0);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_REQ_IRQ_INDEX,
					     trig_none, 0, 0, NULL), 0);
	close(efd[0]);

	for (int i = 0; i < 4; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     trig_fd, 0, 4, efd), 0);
	/* vector 2 fires its own eventfd and no other */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     trig_none, 2, 1, NULL), 0);
	assert_int_equal(read(efd[2], &cnt, 8), 8);
	assert_int_equal(read(efd[1], &cnt, 8), -1);
	assert_int_equal(vfu_conn_trigger(&f.srv, VFIO_PCI_MSIX_IRQ_INDEX, 3),
			 0);
	assert_int_equal(read(efd[3], &cnt, 8), 8);
	/* past the vector count */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     trig_none, 3, 2, NULL), -EINVAL);
	/* whole index off */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     trig_none, 0, 0, NULL), 0);
	assert_int_equal(vfu_conn_trigger(&f.srv, VFIO_PCI_MSIX_IRQ_INDEX, 3),
			 -ENOENT);
	/* INTx: automasked after a trigger until unmasked */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     trig_fd, 0, 1, efd), 0);
	assert_int_equal(vfu_conn_trigger(&f.srv, 0, 0), 0);
	assert_int_equal(vfu_conn_trigger(&f.srv, 0, 0), -EAGAIN);
	assert_int_equal(vfu_client_set_irqs(&f.cli, 0, VFIO_IRQ_SET_DATA_NONE |
					     VFIO_IRQ_SET_ACTION_UNMASK, 0, 1,
					     NULL), 0);
	assert_int_equal(vfu_conn_trigger(&f.srv, 0, 0), 0);
	/* masking is INTx only */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     VFIO_IRQ_SET_DATA_NONE |
					     VFIO_IRQ_SET_ACTION_MASK, 0, 1,
					     NULL), -EINVAL);
	for (int i = 0; i < 4; i++)
		close(efd[i]);
	th_vfu_close(&f);
}

static void test_dma_maps(void **state)
{
	struct th_vfu f;
	int mfd = th_guest_ram(1 << 20);
	const uint32_t rw = VFU_DMA_READ_OK | VFU_DMA_WRITE_OK;

	fx_open(&f, true);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x100000, 0x10000, mfd, 0,
					    rw), 0);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x200000, 0x1000, -1, 0,
					    rw), 0);
	assert_int_equal(f.srv.ndma, 2);
	assert_non_null(f.srv.dma[0].map);
	assert_null(f.srv.dma[1].map);
	/* overlaps, misaligned, empty */
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x10f000, 0x2000, mfd, 0,
					    rw), -EEXIST);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x0ff000, 0x2000, -1, 0,
					    rw), -EEXIST);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x300100, 0x1000, -1, 0,
					    rw), -EINVAL);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x300000, 0, -1, 0, rw),
			 -EINVAL);
	assert_int_equal(vfu_client_dma_map(&f.cli, ~0xfffull, 0x2000, -1, 0,
					    rw), -EINVAL);
	/* unmap must match exactly */
	assert_int_equal(vfu_client_dma_unmap(&f.cli, 0x100000, 0x1000, 0),
			 -ENOENT);
	assert_int_equal(vfu_client_dma_unmap(&f.cli, 0x100000, 0x10000, 0), 0);
	assert_int_equal(f.srv.ndma, 1);
	assert_int_equal(vfu_client_dma_unmap(&f.cli, 0, 0, VFU_DMA_UNMAP_ALL),
			 0);
	assert_int_equal(f.srv.ndma, 0);
	close(mfd);
	th_vfu_close(&f);
}

static void test_reset(void **state)
{
	struct th_vfu f;

	fx_open(&f, true);
	cfg_wr(&f, PCI_INTERRUPT_LINE, 11);
	assert_int_equal(vfu_client_call(&f.cli, VFU_DEVICE_RESET, NULL, 0,
					 NULL, 0, NULL, 0, NULL, NULL), 0);
	assert_int_equal(cfg_rd(&f, PCI_INTERRUPT_LINE) & 0xff, 0);
	th_vfu_close(&f);
}

/* DEVICE_FEATURE: flags, request data; reply data into out (after the
 * 8-byte argsz/flags). */
static uint32_t mig_state(struct th_vfu *f)
{
	uint32_t st[2] = { 99, 0 };

	assert_int_equal(th_feature(f, F_GET |
				 VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				 NULL, 0, st, sizeof(st)), 0);
	assert_int_equal(st[1], (uint32_t)-1);
	return st[0];
}

static int mig_set(struct th_vfu *f, uint32_t to)
{
	uint32_t st[2] = { to, (uint32_t)-1 };

	return th_feature(f, F_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, st,
		       sizeof(st), NULL, 0);
}

/* MIG_DATA_READ until a short read; returns the stream. */
static uint8_t *mig_read_all(struct th_vfu *f, size_t *len)
{
	uint8_t *all = NULL, rep[8 + 4096];
	size_t n = 0;

	for (;;) {
		uint32_t q[2] = { sizeof(rep), 4096 }, r[2];
		size_t got = 0;

		assert_int_equal(vfu_client_call(&f->cli, VFU_MIG_DATA_READ, q, 8,
						 NULL, 0, rep, sizeof(rep),
						 &got, NULL), 0);
		memcpy(r, rep, 8);
		assert_int_equal(got, 8 + r[1]);
		all = realloc(all, n + r[1] + 1);
		memcpy(all + n, rep + 8, r[1]);
		n += r[1];
		if (r[1] < 4096)
			break;
	}
	*len = n;
	return all;
}

static void mig_write_all(struct th_vfu *f, const uint8_t *p, size_t len)
{
	uint8_t req[8 + 1000];

	for (size_t at = 0; at < len;) {
		uint32_t n = (uint32_t)(len - at > 1000 ? 1000 : len - at);
		uint32_t q[2] = { 8, n };

		memcpy(req, q, 8);
		memcpy(req + 8, p + at, n);
		assert_int_equal(vfu_client_call(&f->cli, VFU_MIG_DATA_WRITE, req,
						 8 + n, NULL, 0, NULL, 0, NULL,
						 NULL), 0);
		at += n;
	}
}

static void test_migration(void **state)
{
	struct th_vfu a, b;
	uint64_t mflags = 0;
	uint32_t v;
	uint8_t *stream;
	size_t len;
	struct ptdm_msix_entry e;

	fx_open(&a, true);
	fx_open(&b, true);
	/* what a migration-capable device says */
	assert_int_equal(th_feature(&a, F_PROBE | VFIO_DEVICE_FEATURE_MIGRATION,
				 NULL, 0, NULL, 0), 0);
	assert_int_equal(th_feature(&a, F_GET | VFIO_DEVICE_FEATURE_MIGRATION,
				 NULL, 0, &mflags, 8), 0);
	assert_int_equal(mflags, VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY);
	assert_int_equal(th_feature(&a, F_SET | VFIO_DEVICE_FEATURE_MIGRATION,
				 &mflags, 8, NULL, 0), -EINVAL);
	assert_int_equal(mig_state(&a), VFIO_DEVICE_STATE_RUNNING);

	/* the source: programmed by its guest, memory behind BAR0 written */
	cfg_wr(&a, PCI_BASE_ADDRESS_0, 0xfe000000);
	cfg_wr(&a, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cfg_wr(&a, PCI_INTERRUPT_LINE, 11);
	v = 0xfee01000;
	assert_int_equal(vfu_client_region_rw(&a.cli, 0, TABLE_OFF + 16, &v, 4,
					      true), 0);
	v = 0x4051;
	assert_int_equal(vfu_client_region_rw(&a.cli, 0, TABLE_OFF + 24, &v, 4,
					      true), 0);
	v = 0xdeadbeef;
	assert_int_equal(vfu_client_region_rw(&a.cli, 0, 0x100, &v, 4, true), 0);
	assert_int_equal(vfu_client_region_rw(&a.cli, 0, 0xe000, &v, 4, true),
			 0);
	/* not in the saving state yet */
	{
		uint32_t q[2] = { 16, 8 };

		assert_int_equal(vfu_client_call(&a.cli, VFU_MIG_DATA_READ, q, 8,
						 NULL, 0, NULL, 0, NULL, NULL),
				 -EINVAL);
	}
	/* RUNNING -> STOP_COPY goes through STOP */
	assert_int_equal(mig_set(&a, VFIO_DEVICE_STATE_STOP_COPY), 0);
	assert_int_equal(mig_state(&a), VFIO_DEVICE_STATE_STOP_COPY);
	stream = mig_read_all(&a, &len);
	assert_true(len > 4096);

	/* the destination */
	assert_int_equal(mig_set(&b, VFIO_DEVICE_STATE_RESUMING), 0);
	mig_write_all(&b, stream, len);
	assert_int_equal(mig_set(&b, VFIO_DEVICE_STATE_RUNNING), 0);
	assert_int_equal(cfg_rd(&b, PCI_BASE_ADDRESS_0), 0xfe000000);
	assert_int_equal(cfg_rd(&b, PCI_COMMAND) & 0xffff,
			 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_int_equal(cfg_rd(&b, PCI_INTERRUPT_LINE) & 0xff, 11);
	assert_int_equal(ptdm_msix_entry_get(b.d, 1, &e), 0);
	assert_int_equal(e.addr, 0xfee01000);
	assert_int_equal(e.data, 0x4051);
	assert_true(e.masked);
	assert_int_equal(vfu_client_region_rw(&b.cli, 0, 0x100, &v, 4, false),
			 0);
	assert_int_equal(v, 0xdeadbeef);
	assert_int_equal(vfu_client_region_rw(&b.cli, 0, 0xe000, &v, 4, false),
			 0);
	assert_int_equal(v, 0xdeadbeef);

	/* data written outside RESUMING */
	{
		uint32_t q[3] = { 8, 4, 0 };

		assert_int_equal(vfu_client_call(&a.cli, VFU_MIG_DATA_WRITE, q,
						 12, NULL, 0, NULL, 0, NULL,
						 NULL), -EINVAL);
	}
	/* unsupported states */
	assert_int_equal(mig_set(&a, VFIO_DEVICE_STATE_RUNNING_P2P), -EINVAL);
	assert_int_equal(mig_set(&a, VFIO_DEVICE_STATE_ERROR), -EINVAL);
	free(stream);
	th_vfu_close(&a);
	th_vfu_close(&b);
}

static int mig_write_some(struct th_vfu *f, const uint8_t *p, size_t len);

/* MIG_DATA_READ of up to max bytes: how many came. */
static size_t mig_read_some(struct th_vfu *f, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (n < max) {
		uint8_t rep[8 + 4096];
		uint32_t want = (uint32_t)(max - n > 4096 ? 4096 : max - n);
		uint32_t q[2] = { 8 + want, want }, r[2];
		size_t got = 0;

		assert_int_equal(vfu_client_call(&f->cli, VFU_MIG_DATA_READ, q, 8,
						 NULL, 0, rep, sizeof(rep),
						 &got, NULL), 0);
		memcpy(r, rep, 8);
		memcpy(out + n, rep + 8, r[1]);
		n += r[1];
		if (r[1] < want)
			break;
	}
	return n;
}

/*
 * PRE_COPY: the image's BAR memory moves while the device runs; once it
 * stops, only the pages the guest changed since move again.
 */
static void test_migration_pre_copy(void **state)
{
	struct th_vfu a, b;
	size_t cap = 1u << 20, pre, rest;
	uint8_t *stream = malloc(cap);
	uint32_t v;

	(void)state;
	assert_non_null(stream);
	fx_open(&a, true);
	fx_open(&b, true);
	cfg_wr(&a, PCI_BASE_ADDRESS_0, 0xfe000000);
	cfg_wr(&a, PCI_COMMAND, PCI_COMMAND_MEMORY);
	/* data in 8 pages of BAR0 (the MSI-X pages are the core's) */
	for (uint32_t pg = 4; pg < 12; pg++) {
		v = 0x1000 + pg;
		assert_int_equal(vfu_client_region_rw(&a.cli, 0, pg * 4096, &v,
						      4, true), 0);
	}
	assert_int_equal(mig_set(&a, VFU_STATE_PRE_COPY), 0);
	assert_int_equal(mig_state(&a), VFU_STATE_PRE_COPY);
	pre = mig_read_some(&a, stream, cap);
	assert_true(pre > 8 * 4096);
	/* nothing more for now, and the device still runs */
	assert_int_equal(mig_read_some(&a, stream + pre, cap - pre), 0);
	v = 0xc0ffee;
	assert_int_equal(vfu_client_region_rw(&a.cli, 0, 6 * 4096 + 8, &v, 4,
					      true), 0);
	cfg_wr(&a, PCI_INTERRUPT_LINE, 9);
	/* PRE_COPY -> STOP_COPY: only the page that changed moves again */
	assert_int_equal(mig_set(&a, VFIO_DEVICE_STATE_STOP_COPY), 0);
	rest = mig_read_some(&a, stream + pre, cap - pre);
	assert_true(rest > 4096 && rest < 3 * 4096 + 4096 /* cfg, core */ + 2048);
	assert_int_equal(mig_set(&b, VFIO_DEVICE_STATE_RESUMING), 0);
	assert_int_equal(mig_write_some(&b, stream, pre + rest), 0);
	assert_int_equal(mig_set(&b, VFIO_DEVICE_STATE_RUNNING), 0);
	assert_int_equal(cfg_rd(&b, PCI_INTERRUPT_LINE) & 0xff, 9);
	for (uint32_t pg = 4; pg < 12; pg++) {
		assert_int_equal(vfu_client_region_rw(&b.cli, 0, pg * 4096, &v,
						      4, false), 0);
		assert_int_equal(v, 0x1000 + pg);
	}
	assert_int_equal(vfu_client_region_rw(&b.cli, 0, 6 * 4096 + 8, &v, 4,
					      false), 0);
	assert_int_equal(v, 0xc0ffee);
	/* leaving PRE_COPY for RUNNING drops what was being saved */
	assert_int_equal(mig_set(&a, VFIO_DEVICE_STATE_RUNNING), 0);
	assert_int_equal(mig_set(&a, VFU_STATE_PRE_COPY), 0);
	assert_int_equal(mig_set(&a, VFIO_DEVICE_STATE_RUNNING), 0);
	{
		uint32_t q[2] = { 16, 8 };

		assert_int_equal(vfu_client_call(&a.cli, VFU_MIG_DATA_READ, q, 8,
						 NULL, 0, NULL, 0, NULL, NULL),
				 -EINVAL);
	}
	free(stream);
	th_vfu_close(&a);
	th_vfu_close(&b);
}

/* MIG_DATA_WRITE of p in 1000-byte pieces; the first error. */
static int mig_write_some(struct th_vfu *f, const uint8_t *p, size_t len)
{
	uint8_t req[8 + 1000];

	for (size_t at = 0; at < len;) {
		uint32_t n = (uint32_t)(len - at > 1000 ? 1000 : len - at);
		uint32_t q[2] = { 8, n };
		int rc;

		memcpy(req, q, 8);
		memcpy(req + 8, p + at, n);
		rc = vfu_client_call(&f->cli, VFU_MIG_DATA_WRITE, req, 8 + n,
				     NULL, 0, NULL, 0, NULL, NULL);
		if (rc)
			return rc;
		at += n;
	}
	return 0;
}

/* The destination as it was: its guest-programmed line and BAR data. */
static void assert_untouched(struct th_vfu *b)
{
	uint32_t v = 0;

	assert_int_equal(cfg_rd(b, PCI_INTERRUPT_LINE) & 0xff, 5);
	assert_int_equal(vfu_client_region_rw(&b->cli, 0, 0x100, &v, 4, false),
			 0);
	assert_int_equal(v, 0x5a5a5a5a);
}

/* Load stream[0, len) into b: the transition must fail, b unchanged, and
 * only a reset leaves ERROR. */
static void refused(struct th_vfu *b, const uint8_t *stream, size_t len)
{
	assert_int_equal(mig_set(b, VFIO_DEVICE_STATE_RESUMING), 0);
	(void)mig_write_some(b, stream, len); /* may stop early: fine */
	assert_true(mig_set(b, VFIO_DEVICE_STATE_RUNNING) < 0);
	assert_int_equal(mig_state(b), VFIO_DEVICE_STATE_ERROR);
	assert_int_equal(mig_set(b, VFIO_DEVICE_STATE_RUNNING), -EINVAL);
	assert_untouched(b);
	assert_int_equal(vfu_client_call(&b->cli, VFU_DEVICE_RESET, NULL, 0,
					 NULL, 0, NULL, 0, NULL, NULL), 0);
	assert_int_equal(mig_state(b), VFIO_DEVICE_STATE_RUNNING);
	/* the reset put the BAR memory back too: program b again */
	cfg_wr(b, PCI_BASE_ADDRESS_0, 0xfe000000);
	cfg_wr(b, PCI_COMMAND, PCI_COMMAND_MEMORY);
	cfg_wr(b, PCI_INTERRUPT_LINE, 5);
	{
		uint32_t v = 0x5a5a5a5a;

		assert_int_equal(vfu_client_region_rw(&b->cli, 0, 0x100, &v, 4,
						      true), 0);
	}
}

static void test_migration_bad_streams(void **state)
{
	struct th_vfu a, b, x;
	struct th_cfg c;
	uint8_t *stream, *other, *mut;
	size_t len, olen;
	uint32_t v = 0xdeadbeef;

	(void)state;
	fx_open(&a, true);
	fx_open(&b, true);
	cfg_wr(&a, PCI_BASE_ADDRESS_0, 0xfe000000);
	cfg_wr(&a, PCI_COMMAND, PCI_COMMAND_MEMORY);
	cfg_wr(&a, PCI_INTERRUPT_LINE, 11);
	assert_int_equal(vfu_client_region_rw(&a.cli, 0, 0x100, &v, 4, true), 0);
	assert_int_equal(mig_set(&a, VFIO_DEVICE_STATE_STOP_COPY), 0);
	stream = mig_read_all(&a, &len);
	cfg_wr(&b, PCI_BASE_ADDRESS_0, 0xfe000000);
	cfg_wr(&b, PCI_COMMAND, PCI_COMMAND_MEMORY);
	cfg_wr(&b, PCI_INTERRUPT_LINE, 5);
	v = 0x5a5a5a5a;
	assert_int_equal(vfu_client_region_rw(&b.cli, 0, 0x100, &v, 4, true), 0);

	/* truncated: every record but the last bytes of END */
	refused(&b, stream, len - 1);
	refused(&b, stream, len / 2);
	/* mutated: one byte in the middle (a BAR page) or at the start */
	mut = malloc(len);
	assert_non_null(mut);
	memcpy(mut, stream, len);
	mut[len / 2] ^= 0x01;
	refused(&b, mut, len);
	memcpy(mut, stream, len);
	mut[0] ^= 0xff;
	refused(&b, mut, len);
	/* its end duplicated: data after END */
	{
		uint8_t *twice = malloc(2 * len);

		assert_non_null(twice);
		memcpy(twice, stream, len);
		memcpy(twice + len, stream, len);
		refused(&b, twice, 2 * len);
		free(twice);
	}
	/* another device's: same shape, another device id */
	nic(&c);
	th_put(&c, PCI_DEVICE_ID, 2, 0x10d4);
	x.d = th_dev(&c, NULL, &x.h);
	th_vfu_open(&x, x.h, x.d, true);
	assert_int_equal(mig_set(&x, VFIO_DEVICE_STATE_STOP_COPY), 0);
	other = mig_read_all(&x, &olen);
	refused(&b, other, olen);
	/* and the good stream still loads after all that */
	assert_int_equal(mig_set(&b, VFIO_DEVICE_STATE_RESUMING), 0);
	assert_int_equal(mig_write_some(&b, stream, len), 0);
	assert_int_equal(mig_set(&b, VFIO_DEVICE_STATE_RUNNING), 0);
	assert_int_equal(cfg_rd(&b, PCI_INTERRUPT_LINE) & 0xff, 11);
	assert_int_equal(vfu_client_region_rw(&b.cli, 0, 0x100, &v, 4, false),
			 0);
	assert_int_equal(v, 0xdeadbeef);
	free(mut);
	free(stream);
	free(other);
	th_vfu_close(&x);
	th_vfu_close(&a);
	th_vfu_close(&b);
}

static void test_dma_logging(void **state)
{
	struct th_vfu f;
	int mfd = th_guest_ram(0x20000);
	struct {
		uint64_t page;
		uint32_t n, rsvd;
		uint64_t iova, len;
	} start = { 4096, 1, 0, 0x100000, 0x10000 };
	uint64_t rq[3] = { 0x100000, 0x10000, 4096 };
	uint64_t rep[3 + 1];
	uint32_t v = 1;

	fx_open(&f, true);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x100000, 0x20000, mfd, 0,
					    VFU_DMA_READ_OK | VFU_DMA_WRITE_OK),
			 0);
	assert_int_equal(th_feature(&f, F_PROBE | F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0,
				 NULL, 0), 0);
	/* before START there is nothing to report */
	assert_int_equal(th_feature(&f, F_GET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				 rq, sizeof(rq), rep, sizeof(rep)), -EINVAL);
	assert_int_equal(th_feature(&f, F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				 &start, sizeof(start), NULL, 0), 0);
	assert_int_equal(th_feature(&f, F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				 &start, sizeof(start), NULL, 0), -EBUSY);
	/* device writes: two pages in the range, one outside it */
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x101000, &v, 4, true), 0);
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x10fffe, &v, 2, true), 0);
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x118000, &v, 4, true), 0);
	/* reads are not logged */
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x102000, &v, 4, false), 0);
	memset(rep, 0xee, sizeof(rep));
	assert_int_equal(th_feature(&f, F_GET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				 rq, sizeof(rq), rep, sizeof(rep)), 0);
	assert_int_equal(rep[3], (1ull << 1) | (1ull << 15));
	/* reported pages are clean again */
	assert_int_equal(th_feature(&f, F_GET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				 rq, sizeof(rq), rep, sizeof(rep)), 0);
	assert_int_equal(rep[3], 0);
	/* a coarser page size in the report */
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x103004, &v, 4, true), 0);
	rq[2] = 8192;
	assert_int_equal(th_feature(&f, F_GET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				 rq, sizeof(rq), rep, sizeof(rep)), 0);
	assert_int_equal(rep[3], 1ull << 1);
	/* bad reports */
	rq[2] = 3000;
	assert_int_equal(th_feature(&f, F_GET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				 rq, sizeof(rq), rep, sizeof(rep)), -EINVAL);
	assert_int_equal(th_feature(&f, F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
				 NULL, 0, NULL, 0), 0);
	rq[2] = 4096;
	assert_int_equal(th_feature(&f, F_GET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				 rq, sizeof(rq), rep, sizeof(rep)), -EINVAL);
	/* unknown features, contradictory flags */
	assert_int_equal(th_feature(&f, F_GET | 42, NULL, 0, NULL, 0), -ENOTTY);
	assert_int_equal(th_feature(&f, F_GET | F_SET | 1, NULL, 0, NULL, 0),
			 -EINVAL);
	close(mfd);
	th_vfu_close(&f);
}

/*
 * A PCIe image without MSI-X: ERR is there (QEMU warned "Could not enable
 * error recovery"), and its all-mappable BAR0 comes as one sparse area.
 */
static void test_err_irq_for_pcie(void **state)
{
	uint8_t exp[0x3a] = { 0x02, 0x00 }; /* v2 endpoint */
	const uint32_t trig_fd = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER;
	struct th_cfg c;
	struct th_vfu f;
	struct vfu_irq_info ii;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	th_cfg_init(&c, 0x144d, 0xa826, 4096);
	th_set_bar(&c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x4000);
	th_add_cap(&c, 0x40, PCI_CAP_ID_EXP, exp, sizeof(exp));
	f.d = th_dev(&c, NULL, &f.h);
	th_vfu_open(&f, f.h, f.d, true);
	assert_int_equal(vfu_client_irq_info(&f.cli, VFIO_PCI_ERR_IRQ_INDEX,
					     &ii), 0);
	assert_int_equal(ii.count, 1);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_ERR_IRQ_INDEX,
					     trig_fd, 0, 1, &efd), 0);
	close(efd);
	/*
	 * BAR0 is all mappable: the fd still comes only with a sparse cap
	 * (one area, the whole BAR), never in the reply to argsz 32, where
	 * libvfio-user's client has no room for an fd (MSG_CTRUNC).
	 */
	{
		struct vfu_region_info ri;
		uint64_t caps[8];
		struct vfio_region_info_cap_sparse_mmap *sp = (void *)caps;
		int fd = -1;

		assert_int_equal(vfu_client_region_info(&f.cli, 0, &ri, NULL, 0,
							&fd), 0);
		assert_int_equal(fd, -1);
		assert_true(ri.argsz > sizeof(ri));
		assert_true(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
		assert_int_equal(vfu_client_region_info(&f.cli, 0, &ri, caps,
							sizeof(caps), &fd), 0);
		assert_true(fd >= 0);
		assert_true(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
		assert_int_equal(sp->nr_areas, 1);
		assert_int_equal(sp->areas[0].offset, 0);
		assert_int_equal(sp->areas[0].size, 0x4000);
		close(fd);
	}
	th_vfu_close(&f);
}

/* VERSION with raw bytes after major/minor (len 0: none at all). */
static int version_raw(struct th_vfu *f, const char *json, size_t len)
{
	uint8_t req[256] = { 0 };
	uint8_t rep[1100];

	memcpy(req + 4, json, len);
	return vfu_client_call(&f->cli, VFU_VERSION, req, 4 + len, NULL, 0,
			       rep, sizeof(rep), NULL, NULL);
}

/*
 * The capabilities JSON is optional (SPDK's client sends only major and
 * minor); when there, it must be strict JSON and nothing after it.
 */
static void test_version_json_strict(void **state)
{
	static const char *const bad[] = {
		"{\"capabilities\":{}}garbage",
		"{\"capabilities\":{\"max_msg_fds\":4,}}",
		"{'capabilities':{}}",
		"{\"capabilities\":{}}{}",
	};
	struct th_vfu f;

	fx_open(&f, false);
	assert_int_equal(version_raw(&f, "", 0), 0);
	assert_int_equal(f.srv.peer_max_fds, 1); /* the spec's default */
	assert_int_equal(cfg_rd(&f, 0), 0x10d38086);
	th_vfu_close(&f);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_open(&f, false);
		assert_int_equal(version_raw(&f, bad[i], strlen(bad[i]) + 1),
				 -EINVAL);
		assert_false(f.srv.versioned);
		th_vfu_close(&f);
	}
	fx_open(&f, false);
	assert_int_equal(version_raw(&f, "{\"capabilities\":{}} \n", 22), 0);
	th_vfu_close(&f);
}

/*
 * SPDK's client sends no VERSION JSON and mmaps sparse area i with the
 * i-th fd of the reply, while one fd is all any client receives: such a
 * client gets one area per BAR (the largest), others get them all.
 */
static void test_one_area_without_caps(void **state)
{
	struct th_vfu f;
	struct vfu_region_info ri;
	uint64_t caps[16];
	struct vfio_region_info_cap_sparse_mmap *sp = (void *)caps;
	int fd = -1;

	fx_open(&f, true);
	assert_int_equal(vfu_client_region_info(&f.cli, 0, &ri, caps,
						sizeof(caps), &fd), 0);
	assert_int_equal(sp->nr_areas, 2);
	close(fd);
	th_vfu_close(&f);
	fx_open(&f, false);
	assert_int_equal(version_raw(&f, "", 0), 0);
	assert_int_equal(vfu_client_region_info(&f.cli, 0, &ri, caps,
						sizeof(caps), &fd), 0);
	assert_int_equal(sp->nr_areas, 1);
	assert_int_equal(sp->areas[0].offset, PBA_OFF + 0x1000);
	assert_int_equal(sp->areas[0].size, 0x10000 - PBA_OFF - 0x1000);
	assert_true(fd >= 0);
	close(fd);
	th_vfu_close(&f);
}

/* A short argsz fails the SET before anything changes. */
static void test_mig_set_short_argsz(void **state)
{
	struct th_vfu f;
	uint8_t req[16], rep[64];
	uint32_t argsz = 8, flags = F_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	uint32_t st[2] = { VFIO_DEVICE_STATE_STOP, (uint32_t)-1 };

	fx_open(&f, true);
	memcpy(req, &argsz, 4);
	memcpy(req + 4, &flags, 4);
	memcpy(req + 8, st, 8);
	assert_int_equal(vfu_client_call(&f.cli, VFU_DEVICE_FEATURE, req, 16,
					 NULL, 0, rep, sizeof(rep), NULL, NULL),
			 -EINVAL);
	assert_int_equal(mig_state(&f), VFIO_DEVICE_STATE_RUNNING);
	th_vfu_close(&f);
}

/*
 * Dirty logging needs to see the device's writes: a backend whose device
 * writes guest memory itself (VFIO, sysfs) says ENOTTY, never an empty
 * bitmap.  Here an image whose ops are renamed "sysfs" stands for one.
 */
static void test_dma_logging_only_where_seen(void **state)
{
	struct th_vfu f;
	struct host_ops blind;
	const struct host_ops *saved;
	struct {
		uint64_t page;
		uint32_t n, rsvd;
	} start = { 4096, 0, 0 };
	uint64_t rq[3] = { 0, 0x10000, 4096 }, rep[4];

	fx_open(&f, true);
	saved = f.h->ops;
	blind = *saved;
	blind.name = "sysfs";
	f.h->ops = &blind;
	assert_int_equal(th_feature(&f, F_PROBE | F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0,
				 NULL, 0), -ENOTTY);
	assert_int_equal(th_feature(&f, F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				 &start, sizeof(start), NULL, 0), -ENOTTY);
	assert_false(f.srv.logging);
	assert_int_equal(th_feature(&f, F_GET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				 rq, sizeof(rq), rep, sizeof(rep)), -ENOTTY);
	assert_int_equal(th_feature(&f, F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
				 NULL, 0, NULL, 0), -ENOTTY);
	f.h->ops = saved;
	/* the image itself can log */
	assert_int_equal(th_feature(&f, F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				 &start, sizeof(start), NULL, 0), 0);
	th_vfu_close(&f);
}

/*
 * Messages real clients send that ptdm's own client never did: SPDK's
 * GET_REGION_INFO carries argsz 4064 bytes of payload, its DMA_UNMAP the
 * map's fd; cloud-hypervisor sets 16 eventfds per SET_IRQS.
 */
/* cloud-hypervisor's enable_irq: 16 eventfds in one SET_IRQS. */
static void test_sixteen_fds(void **state)
{
	uint8_t msix[10] = { 31, 0 }; /* 32 vectors */
	uint32_t t = TABLE_OFF, pb = PBA_OFF;
	const uint32_t trig_fd = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER;
	const uint32_t trig_none = VFIO_IRQ_SET_DATA_NONE |
				   VFIO_IRQ_SET_ACTION_TRIGGER;
	struct th_cfg c;
	struct th_vfu f;
	int efd[16];
	uint64_t cnt;

	th_cfg_init(&c, 0x8086, 0x10d3, 4096);
	th_set_bar(&c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x10000);
	memcpy(msix + 2, &t, 4);
	memcpy(msix + 6, &pb, 4);
	th_add_cap(&c, MSIX_POS, PCI_CAP_ID_MSIX, msix, sizeof(msix));
	f.d = th_dev(&c, NULL, &f.h);
	th_vfu_open(&f, f.h, f.d, true);
	for (int i = 0; i < 16; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     trig_fd, 16, 16, efd), 0);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     trig_none, 31, 1, NULL), 0);
	assert_int_equal(read(efd[15], &cnt, 8), 8);
	for (int i = 0; i < 16; i++)
		close(efd[i]);
	th_vfu_close(&f);
}

static void test_real_client_shapes(void **state)
{
	struct th_vfu f;
	uint8_t req[4064] = { 0 }, rep[4096];
	struct vfu_region_info q = { .argsz = 4064, .index = 0 }, r;
	size_t len = 0;
	int fd = -1, mfd = memfd_create("ram", MFD_CLOEXEC);
	int before;

	assert_int_equal(ftruncate(mfd, 4096), 0);
	fx_open(&f, true);
	memcpy(req, &q, sizeof(q));
	assert_int_equal(vfu_client_call(&f.cli, VFU_DEVICE_GET_REGION_INFO, req,
					 sizeof(req), NULL, 0, rep, sizeof(rep),
					 &len, &fd), 0);
	memcpy(&r, rep, sizeof(r));
	assert_true(r.flags & VFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(r.cap_offset, sizeof(r));
	assert_int_equal(len, r.argsz);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x10000, 4096, mfd, 0,
					    VFU_DMA_READ_OK | VFU_DMA_WRITE_OK),
			 0);
	before = count_fds();
	{
		struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = 0x10000,
					   .size = 4096 };

		assert_int_equal(vfu_client_call(&f.cli, VFU_DMA_UNMAP, &u,
						 sizeof(u), &mfd, 1, rep,
						 sizeof(rep), NULL, NULL), 0);
	}
	assert_int_equal(f.srv.ndma, 0);
	assert_int_equal(count_fds(), before); /* the unmap's fd closed */
	th_vfu_close(&f);
	close(mfd);
}

static void test_write_multi(void **state)
{
	struct th_vfu f;
	uint8_t req[8 + 2 * sizeof(struct vfu_write_multi_entry)];
	struct vfu_write_multi_entry e[2] = {
		{ .offset = PCI_INTERRUPT_LINE, .region = 7, .count = 1,
		  .data = { 9 } },
		{ .offset = PCI_CACHE_LINE_SIZE, .region = 7, .count = 1,
		  .data = { 16 } },
	};
	uint64_t n = 2, back = 0;

	fx_open(&f, true);
	memcpy(req, &n, 8);
	memcpy(req + 8, e, sizeof(e));
	assert_int_equal(vfu_client_call(&f.cli, VFU_REGION_WRITE_MULTI, req,
					 sizeof(req), NULL, 0, &back,
					 sizeof(back), NULL, NULL), 0);
	assert_int_equal(back, 2);
	assert_int_equal(cfg_rd(&f, PCI_INTERRUPT_LINE) & 0xff, 9);
	assert_int_equal(cfg_rd(&f, PCI_CACHE_LINE_SIZE) & 0xff, 16);
	e[1].count = 9;
	memcpy(req + 8, e, sizeof(e));
	assert_int_equal(vfu_client_call(&f.cli, VFU_REGION_WRITE_MULTI, req,
					 sizeof(req), NULL, 0, &back,
					 sizeof(back), NULL, NULL), -EINVAL);
	th_vfu_close(&f);
}

/* ---- malformed messages ---- */

struct srv_thread {
	struct vfu_conn *c;
	int last_rc;
	pthread_t t;
};

static void *serve_until_error(void *arg)
{
	struct srv_thread *s = arg;

	while ((s->last_rc = vfu_conn_handle(s->c)) == 0)
		;
	return NULL;
}

/* Send a message with a header we choose; return the reply's errno. */
static int raw(struct th_vfu *f, uint16_t cmd, uint32_t size, uint32_t flags,
	       const void *payload, size_t len, const int *fds, unsigned nfds)
{
	uint8_t buf[4096];
	struct vfu_hdr h = { .msg_id = 77, .cmd = cmd, .msg_size = size,
			     .flags = flags };
	uint8_t rep[4096];
	struct vfu_hdr rh;
	size_t got;
	int rc;

	assert_true(sizeof(h) + len <= sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	rc = vfu_client_send_raw(&f->cli, buf, sizeof(h) + len, fds, nfds);
	if (rc)
		return rc;
	rc = vfu_client_recv(&f->cli, &rh, rep, sizeof(rep), &got, NULL);
	if (rc)
		return rc;
	assert_int_equal(rh.msg_id, 77);
	return rh.flags & VFU_F_ERROR ? (int)rh.error : 0;
}

static void test_malformed_messages(void **state)
{
	struct th_vfu f;
	struct srv_thread st;
	int fds_before = count_fds(), efd[2];
	uint8_t p[64] = { 0 };
	struct vfu_region_info ri = { .argsz = 8, .index = 0 };
	struct vfu_irq_info ii = { .argsz = 16, .index = 5 };
	struct vfu_region_rw rr = { .offset = 0, .region = 9, .count = 4 };
	struct vfu_irq_set is = { .argsz = 20,
				  .flags = VFIO_IRQ_SET_DATA_EVENTFD |
					   VFIO_IRQ_SET_ACTION_TRIGGER,
				  .index = 2, .start = 0, .count = 2 };
	uint32_t v;

	fx_open(&f, true);
	f.cli.pump = NULL;
	st.c = &f.srv;
	assert_int_equal(pthread_create(&st.t, NULL, serve_until_error, &st), 0);
	efd[0] = eventfd(0, EFD_CLOEXEC);
	efd[1] = eventfd(0, EFD_CLOEXEC);

	/* argsz too small, bad indices */
	assert_int_equal(raw(&f, VFU_DEVICE_GET_REGION_INFO, 16 + 32, 0, &ri,
			     32, NULL, 0), EINVAL);
	assert_int_equal(raw(&f, VFU_DEVICE_GET_IRQ_INFO, 16 + 16, 0, &ii, 16,
			     NULL, 0), EINVAL);
	assert_int_equal(raw(&f, VFU_REGION_READ, 16 + 16, 0, &rr, 16, NULL, 0),
			 EINVAL);
	/* accesses outside the region */
	rr.region = 7;
	rr.offset = 4094;
	assert_int_equal(raw(&f, VFU_REGION_READ, 16 + 16, 0, &rr, 16, NULL, 0),
			 EINVAL);
	rr.offset = 0;
	rr.count = 2u << 20;
	assert_int_equal(raw(&f, VFU_REGION_READ, 16 + 16, 0, &rr, 16, NULL, 0),
			 E2BIG);
	/* payload shorter or longer than the command allows */
	assert_int_equal(raw(&f, VFU_DEVICE_GET_INFO, 16 + 4, 0, p, 4, NULL, 0),
			 EINVAL);
	assert_int_equal(raw(&f, VFU_DEVICE_RESET, 16 + 4, 0, p, 4, NULL, 0),
			 EINVAL);
	/* REGION_WRITE whose count disagrees with its size */
	rr.count = 8;
	memcpy(p, &rr, sizeof(rr));
	assert_int_equal(raw(&f, VFU_REGION_WRITE, 16 + 20, 0, p, 20, NULL, 0),
			 EINVAL);
	/* fd count mismatches */
	assert_int_equal(raw(&f, VFU_DEVICE_SET_IRQS, 16 + 20, 0, &is, 20,
			     efd, 1), EINVAL);
	assert_int_equal(raw(&f, VFU_DEVICE_GET_INFO, 16 + 16, 0, p, 16, efd,
			     1), EINVAL);
	/* unknown commands, a reply where a command belongs */
	assert_int_equal(raw(&f, 99, 16, 0, NULL, 0, NULL, 0), ENOSYS);
	assert_int_equal(raw(&f, 14, 16, 0, NULL, 0, NULL, 0), ENOSYS);
	assert_int_equal(raw(&f, VFU_DEVICE_RESET, 16, VFU_F_REPLY, NULL, 0,
			     NULL, 0), EINVAL);
	/* a server-to-client command from the client */
	assert_int_equal(raw(&f, VFU_DMA_READ, 16 + 16, 0, p, 16, NULL, 0),
			 EINVAL);
	/* a message larger than the limit, sent in full: drained */
	{
		size_t big = (2u << 20) + 16;
		uint8_t *b = calloc(1, big);
		struct vfu_hdr h = { .msg_id = 5, .cmd = VFU_REGION_WRITE,
				     .msg_size = (uint32_t)big };
		struct vfu_hdr rh;
		size_t got;

		memcpy(b, &h, sizeof(h));
		assert_int_equal(vfu_client_send_raw(&f.cli, b, big, NULL, 0), 0);
		assert_int_equal(vfu_client_recv(&f.cli, &rh, p, sizeof(p), &got,
						 NULL), 0);
		assert_int_equal(rh.error, E2BIG);
		free(b);
	}
	/* still usable after all of that */
	assert_int_equal(vfu_client_region_rw(&f.cli, 7, 0, &v, 4, false), 0);
	assert_int_equal(v, 0x10d38086);
	assert_true(f.srv.errors >= 14);
	/* a header that lies about its size (below 16): the stream is lost */
	{
		struct vfu_hdr h = { .msg_id = 6, .cmd = VFU_DEVICE_RESET,
				     .msg_size = 8 };

		assert_int_equal(vfu_client_send_raw(&f.cli, &h, sizeof(h),
						     NULL, 0), 0);
	}
	pthread_join(st.t, NULL);
	assert_int_equal(st.last_rc, -EPROTO);
	close(efd[0]);
	close(efd[1]);
	th_vfu_close(&f);
	assert_int_equal(count_fds(), fds_before);
}

static void test_short_header_and_truncated_payload(void **state)
{
	struct th_vfu f;
	struct srv_thread st;
	struct vfu_hdr h = { .msg_id = 1, .cmd = VFU_REGION_WRITE,
			     .msg_size = 16 + 100 };

	/* a payload that never comes: the server sees the peer leave */
	fx_open(&f, true);
	f.cli.pump = NULL;
	st.c = &f.srv;
	assert_int_equal(pthread_create(&st.t, NULL, serve_until_error, &st), 0);
	assert_int_equal(vfu_client_send_raw(&f.cli, &h, sizeof(h), NULL, 0), 0);
	vfu_client_close(&f.cli);
	pthread_join(st.t, NULL);
	assert_int_equal(st.last_rc, -ECONNRESET);
	th_vfu_close(&f);

	/* 8 bytes and gone */
	fx_open(&f, true);
	assert_int_equal(vfu_client_send_raw(&f.cli, &h, 8, NULL, 0), 0);
	shutdown(f.cli.fd, SHUT_WR);
	assert_int_equal(vfu_conn_handle(&f.srv), -EPROTO);
	th_vfu_close(&f);
}

/* 10 000 clients come and go: no fd or memory left behind, and the
 * device keeps its state across them. */
static void test_many_connections(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	int before;

	nic(&c);
	d = th_dev(&c, NULL, &h);
	before = count_fds();
	th_wr(d, PCI_INTERRUPT_LINE, 1, 5);
	for (int i = 0; i < 10000; i++) {
		struct th_vfu f = { .h = h, .d = d };
		int efd;

		th_vfu_open(&f, h, d, true);
		if (i % 100 == 0) {
			efd = eventfd(0, EFD_CLOEXEC);
			assert_int_equal(vfu_client_set_irqs(&f.cli, 2,
				VFIO_IRQ_SET_DATA_EVENTFD |
				VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &efd), 0);
			close(efd);
			assert_int_equal(vfu_client_dma_map(&f.cli, 0x1000,
				0x1000, -1, 0, VFU_DMA_READ_OK), 0);
		}
		vfu_client_close(&f.cli);
		assert_int_equal(vfu_conn_handle(&f.srv), -ECONNRESET);
		vfu_conn_close(&f.srv);
	}
	assert_int_equal(count_fds(), before);
	assert_int_equal(th_rd(d, PCI_INTERRUPT_LINE, 1), 5);
	th_free(d, h);
}

/* ---- server to client DMA ---- */

struct dma_peer {
	struct vfu_client *cli;
	uint8_t mem[0x2000]; /* guest memory at iova 0x200000 */
	int requests;
	bool interleave;     /* send a command before answering */
	bool fail;           /* answer with EFAULT */
	pthread_t t;
};

/* A VMM answering DMA requests the way QEMU 10.1 does. */
static void *dma_peer_thread(void *arg)
{
	struct dma_peer *p = arg;
	uint8_t buf[512], rep[512];
	struct vfu_hdr h;
	size_t len;

	while (vfu_client_recv(p->cli, &h, buf, sizeof(buf), &len, NULL) == 0) {
		uint64_t addr;
		uint32_t count;
		size_t n;

		if ((h.flags & VFU_F_TYPE_MASK) != VFU_F_COMMAND)
			continue; /* the reply to an interleaved command */
		p->requests++;
		if (p->interleave) {
			struct vfu_region_rw q = { .offset = 0, .region = 7,
						   .count = 4 };
			struct vfu_hdr qh = { .msg_id = 500, .cmd = VFU_REGION_READ,
					      .msg_size = 32 };
			uint8_t msg[32];

			memcpy(msg, &qh, 16);
			memcpy(msg + 16, &q, 16);
			vfu_client_send_raw(p->cli, msg, sizeof(msg), NULL, 0);
			p->interleave = false;
		}
		memcpy(&addr, buf, 8);
		memcpy(&count, buf + 8, 4);
		h.flags = VFU_F_REPLY;
		if (p->fail || len < 16 || addr < 0x200000 ||
		    addr - 0x200000 + count > sizeof(p->mem)) {
			h.flags |= VFU_F_ERROR;
			h.error = EFAULT;
			h.msg_size = 16;
			vfu_client_send_raw(p->cli, &h, 16, NULL, 0);
			continue;
		}
		if (h.cmd == VFU_DMA_WRITE) {
			memcpy(p->mem + (addr - 0x200000), buf + 12, count);
			h.msg_size = 16;
			vfu_client_send_raw(p->cli, &h, 16, NULL, 0);
			continue;
		}
		n = 32 + count;
		h.msg_size = (uint32_t)n;
		memcpy(rep, &h, 16);
		memcpy(rep + 16, buf, 12);
		memcpy(rep + 28, p->mem + (addr - 0x200000), count);
		vfu_client_send_raw(p->cli, rep, n, NULL, 0);
	}
	return NULL;
}

static void test_dma_to_client(void **state)
{
	struct th_vfu f;
	struct dma_peer peer = { .cli = &f.cli };
	int mfd = th_guest_ram(0x1000);
	uint8_t *ram;
	char msg[] = "hello from the device";
	char back[sizeof(msg)] = "";

	ram = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	assert_true(ram != MAP_FAILED);
	fx_open(&f, true);
	/* with an fd: straight through the mapping, no message */
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x100000, 0x1000, mfd, 0,
					    VFU_DMA_READ_OK | VFU_DMA_WRITE_OK),
			 0);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x200000, 0x2000, -1, 0,
					    VFU_DMA_READ_OK | VFU_DMA_WRITE_OK),
			 0);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x300000, 0x1000, -1, 0,
					    VFU_DMA_READ_OK), 0);
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x100010, msg, sizeof(msg),
					 true), 0);
	assert_string_equal((char *)ram + 0x10, msg);
	/* outside every map, against the protection */
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x100ff0, back, 32, false),
			 -EFAULT);
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x400000, back, 4, false),
			 -EFAULT);
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x300000, back, 4, true),
			 -EPERM);

	/* without an fd: DMA_WRITE / DMA_READ messages to the client */
	f.cli.pump = NULL;
	assert_int_equal(pthread_create(&peer.t, NULL, dma_peer_thread, &peer),
			 0);
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x200100, msg, sizeof(msg),
					 true), 0);
	assert_string_equal((char *)peer.mem + 0x100, msg);
	peer.interleave = true; /* a command arrives before the reply */
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x200100, back, sizeof(back),
					 false), 0);
	assert_string_equal(back, msg);
	peer.fail = true;
	assert_int_equal(vfu_conn_dma_rw(&f.srv, 0x200000, back, 4, false),
			 -EFAULT);
	assert_int_equal(peer.requests, 3);
	shutdown(f.cli.fd, SHUT_RDWR);
	pthread_join(peer.t, NULL);
	munmap(ram, 0x1000);
	close(mfd);
	th_vfu_close(&f);
}

/* ---- the server loop ---- */

struct loop_arg {
	struct vfu_listener l;
	volatile sig_atomic_t stop;
	int rc;
	pthread_t t;
};

static void *run_loop(void *arg)
{
	struct loop_arg *a = arg;

	a->rc = vfu_serve(&a->l, 1, &a->stop);
	return NULL;
}

/* --fd: an inherited connection; the loop ends when its client leaves */
static void test_serve_connected_fd(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct loop_arg a = { .stop = 0 };
	struct vfu_client cli;
	struct ptdm_err err = { "" };
	int sv[2];
	uint32_t v = 0;

	nic(&c);
	d = th_dev(&c, NULL, &h);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	a.l = (struct vfu_listener){ .fd = sv[0], .connected = true, .dev = d,
				     .name = "t" };
	assert_int_equal(pthread_create(&a.t, NULL, run_loop, &a), 0);
	vfu_client_init_fd(&cli, sv[1]);
	assert_int_equal(vfu_client_version(&cli, NULL, &err), 0);
	assert_int_equal(vfu_client_region_rw(&cli, 7, 0, &v, 4, false), 0);
	assert_int_equal(v, 0x10d38086);
	vfu_client_close(&cli);
	pthread_join(a.t, NULL);
	assert_int_equal(a.rc, 0);
	th_free(d, h);
}

/* a listening socket: clients one after another, then a stop request */
static void test_serve_listener(void **state)
{
	struct th_cfg c;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct loop_arg a = { .stop = 0 };
	struct ptdm_err err = { "" };
	char path[64];

	snprintf(path, sizeof(path), "/tmp/ptdm-test-%d.sock", (int)getpid());
	nic(&c);
	d = th_dev(&c, NULL, &h);
	a.l.fd = vfu_listen_unix(path, &err);
	assert_true(a.l.fd >= 0);
	a.l.dev = d;
	a.l.name = "t";
	assert_int_equal(pthread_create(&a.t, NULL, run_loop, &a), 0);
	for (int i = 0; i < 3; i++) {
		struct vfu_client cli;
		uint32_t v = (uint32_t)i;

		assert_int_equal(vfu_client_connect(&cli, path, &err), 0);
		assert_int_equal(vfu_client_version(&cli, NULL, &err), 0);
		if (i)	/* what the last client wrote is still there */
			assert_int_equal(vfu_client_region_rw(&cli, 7, 0x3c, &v,
							      1, false), 0),
			assert_int_equal(v & 0xff, i - 1 + 10);
		v = (uint32_t)i + 10;
		assert_int_equal(vfu_client_region_rw(&cli, 7, 0x3c, &v, 1,
						      true), 0);
		vfu_client_close(&cli);
	}
	a.stop = 1;
	pthread_join(a.t, NULL);
	assert_int_equal(a.rc, 0);
	close(a.l.fd);
	unlink(path);
	/* a path that is not a socket is never replaced */
	assert_true(vfu_listen_unix("/etc/hostname", &err) < 0);
	assert_non_null(strstr(err.msg, "not a socket"));
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_device_and_region_info),
		cmocka_unit_test(test_config_and_msix_through_regions),
		cmocka_unit_test(test_irqs),
		cmocka_unit_test(test_dma_maps),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_migration_bad_streams),
		cmocka_unit_test(test_migration_pre_copy),
		cmocka_unit_test(test_dma_logging),
		cmocka_unit_test(test_write_multi),
		cmocka_unit_test(test_version_json_strict),
		cmocka_unit_test(test_err_irq_for_pcie),
		cmocka_unit_test(test_one_area_without_caps),
		cmocka_unit_test(test_mig_set_short_argsz),
		cmocka_unit_test(test_dma_logging_only_where_seen),
		cmocka_unit_test(test_real_client_shapes),
		cmocka_unit_test(test_sixteen_fds),
		cmocka_unit_test(test_malformed_messages),
		cmocka_unit_test(test_short_header_and_truncated_payload),
		cmocka_unit_test(test_many_connections),
		cmocka_unit_test(test_dma_to_client),
		cmocka_unit_test(test_serve_connected_fd),
		cmocka_unit_test(test_serve_listener),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
