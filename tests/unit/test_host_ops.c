/*
 * test_host_ops.c - front ends reach the host only through struct
 * host_ops: once with an image, whose DMA, interrupt-count and unmask-fd
 * ops are NULL (the front end does without them), once with a fake host
 * that implements them and records every call (th_fake_host), so each
 * vfio-user / mpqemu path that must reach the host is seen to reach it
 * with the right arguments, and each failure is seen to come back.  Also
 * the core call Xen's sink uses for the device's own MSI / MSI-X enable.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/image.h"
#include "ptdm/mpqemu.h"
#include "ptdm/owner.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"
#include <linux/pci_regs.h>

#define TRIG_FD (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define TRIG_NONE (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER)
#define UNMASK_FD (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK)
#define UNMASK_NOW (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK)
#define RW (VFU_DMA_READ_OK | VFU_DMA_WRITE_OK)

/* th_irq_dev (INTx, MSI, 8 MSI-X vectors) over a vfio-user socketpair. */
static void vfx_open(struct th_vfu *f, bool fake)
{
	f->d = th_irq_dev(&f->h, 0);
	if (fake)
		th_fake_host(f->h);
	th_vfu_open(f, f->h, f->d, true);
}

static int guest_ram(size_t size)
{
	int fd = memfd_create("guest-ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* The image: no IOMMU, no dirty tracking of its own (its DMA goes through
 * the front end), migration v2 through the blob helpers. */
static void test_image_has_no_new_ops(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = th_irq_dev(&h, 0);
	struct host_dma_range r = { 0, 4096 };
	uint64_t bm = 0, n64;
	unsigned n;
	size_t got;
	char b[8];

	(void)state;
	assert_false(host_can_dma_map(h));
	assert_int_equal(host_dma_map(h, 0, b, 4096, HOST_DMA_READ), -ENOTSUP);
	assert_int_equal(host_dma_unmap(h, 0, 4096), -ENOTSUP);
	assert_int_equal(host_irq_count(h, HOST_IRQ_ERR, &n), -ENOTSUP);
	assert_int_equal(host_intx_unmask_fd(h, -1), -ENOTSUP);
	assert_int_equal(host_dirty_start(h, 4096, &r, 1), -ENOTSUP);
	assert_int_equal(host_dirty_report(h, 0, 4096, 4096, &bm), -ENOTSUP);
	assert_int_equal(host_dirty_stop(h), -ENOTSUP);
	assert_int_equal(host_mig_flags(h, &n64), 0);
	assert_int_equal(n64, VFIO_MIGRATION_STOP_COPY | (1u << 2) /* PRE_COPY */);
	/* not saving yet; one arc at a time */
	assert_int_equal(host_mig_data_read(h, b, sizeof(b), &got), -EINVAL);
	assert_int_equal(host_mig_set_state(h, VFIO_DEVICE_STATE_STOP_COPY),
			 -EINVAL);
	assert_int_equal(host_mig_set_state(h, VFIO_DEVICE_STATE_STOP), 0);
	assert_int_equal(host_mig_set_state(h, VFIO_DEVICE_STATE_STOP_COPY), 0);
	assert_int_equal(host_mig_data_size(h, &n64), 0);
	assert_true(n64 > 0);
	assert_int_equal(host_mig_data_read(h, b, sizeof(b), &got), 0);
	assert_int_equal(got, sizeof(b));
	assert_int_equal(host_mig_data_write(h, b, sizeof(b)), -EINVAL);
	assert_int_equal(host_mig_set_state(h, VFIO_DEVICE_STATE_STOP), 0);
	assert_int_equal(host_mig_set_state(h, VFIO_DEVICE_STATE_RUNNING), 0);
	/* what an image can do goes through the wrappers too */
	assert_int_equal(host_intx_unmask(h), 0);
	assert_int_equal(host_irq_set(h, HOST_IRQ_MSIX, 0, 0, NULL), 0);
	th_free(d, h);
}

/* vfio-user on an image: works without the new ops. */
static void test_vfio_user_on_image(void **state)
{
	struct th_vfu f;
	struct vfu_irq_info ii;
	int efd[2], mfd = guest_ram(1 << 20), ev;
	uint64_t cnt;

	(void)state;
	vfx_open(&f, false);
	/* ERR / REQ: the core has none and the host offers none */
	assert_int_equal(vfu_client_irq_info(&f.cli, VFIO_PCI_ERR_IRQ_INDEX,
					     &ii), 0);
	assert_int_equal(ii.count, 0);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_ERR_IRQ_INDEX,
					     TRIG_NONE, 0, 0, NULL), 0);
	/* MSI-X eventfds reach the host's irq_set: the image raises them */
	for (int i = 0; i < 2; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     TRIG_FD, 0, 2, efd), 0);
	assert_int_equal(image_irq_raise(f.h, 1), 0);
	assert_int_equal(read(efd[1], &cnt, 8), 8);
	assert_int_equal(read(efd[0], &cnt, 8), -1);
	/* index off: the host lets go of them too */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     TRIG_NONE, 0, 0, NULL), 0);
	assert_int_equal(image_irq_raise(f.h, 1), -ENOENT);
	/* INTx unmask eventfd: the image cannot take one, the front end's
	 * own mask is all there is; the fd is not kept */
	ev = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     TRIG_FD, 0, 1, efd), 0);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     UNMASK_FD, 0, 1, &ev), 0);
	assert_int_equal(f.srv.intx_unmask_fd, -1);
	assert_int_equal(vfu_conn_trigger(&f.srv, 0, 0), 0);
	assert_int_equal(vfu_conn_trigger(&f.srv, 0, 0), -EAGAIN);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     UNMASK_NOW, 0, 1, NULL), 0);
	assert_int_equal(vfu_conn_trigger(&f.srv, 0, 0), 0);
	/* DMA: no IOMMU to program, a range without an fd is fine */
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x100000, 0x10000, mfd, 0,
					    RW), 0);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x200000, 0x1000, -1, 0,
					    RW), 0);
	assert_int_equal(f.srv.ndma, 2);
	close(ev);
	close(efd[0]);
	close(efd[1]);
	close(mfd);
	th_vfu_close(&f);
}

/* vfio-user on a host with the ops: each one is called as it should be. */
static void test_vfio_user_on_fake_host(void **state)
{
	struct th_vfu f;
	struct vfu_irq_info ii;
	int efd = eventfd(0, EFD_CLOEXEC), ev = eventfd(0, EFD_CLOEXEC);
	int mfd = guest_ram(1 << 20);

	(void)state;
	vfx_open(&f, true);
	th_fake.vectors[HOST_IRQ_ERR] = 1;
	/* ERR and REQ come from the host */
	assert_int_equal(vfu_client_irq_info(&f.cli, VFIO_PCI_ERR_IRQ_INDEX,
					     &ii), 0);
	assert_int_equal(ii.count, 1);
	assert_int_equal(vfu_client_irq_info(&f.cli, VFIO_PCI_REQ_IRQ_INDEX,
					     &ii), 0);
	assert_int_equal(ii.count, 0);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_ERR_IRQ_INDEX,
					     TRIG_FD, 0, 1, &efd), 0);
	assert_int_equal(th_fake.irq_sets, 1);
	assert_int_equal(th_fake.irq_kind, HOST_IRQ_ERR);
	assert_int_equal(th_fake.irq_start, 0);
	assert_int_equal(th_fake.irq_count, 1);
	assert_true(th_fake.irq_fd0 >= 0);
	assert_int_equal(th_fake.irq_fd0, f.srv.irq_fds[VFIO_PCI_ERR_IRQ_INDEX][0]);
	/* REQ has no vector: refused before the host is asked */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_REQ_IRQ_INDEX,
					     TRIG_FD, 0, 1, &efd), -EINVAL);
	assert_int_equal(th_fake.irq_sets, 1);
	/* the host refuses: the client hears it */
	th_fake.irq_set_rc = -EBUSY;
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_MSIX_IRQ_INDEX,
					     TRIG_FD, 3, 1, &efd), -EBUSY);
	assert_int_equal(th_fake.irq_kind, HOST_IRQ_MSIX);
	assert_int_equal(th_fake.irq_start, 3);
	th_fake.irq_set_rc = 0;
	/* INTx: unmask now, then an unmask eventfd the host keeps using */
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     TRIG_FD, 0, 1, &efd), 0);
	assert_int_equal(th_fake.irq_kind, HOST_IRQ_INTX);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     UNMASK_NOW, 0, 1, NULL), 0);
	assert_int_equal(th_fake.intx_unmasks, 1);
	assert_int_equal(vfu_client_set_irqs(&f.cli, VFIO_PCI_INTX_IRQ_INDEX,
					     UNMASK_FD, 0, 1, &ev), 0);
	assert_int_equal(th_fake.unmask_fd_calls, 1);
	assert_true(f.srv.intx_unmask_fd >= 0);
	assert_int_equal(th_fake.unmask_fd, f.srv.intx_unmask_fd);

	/* DMA: mapped in the host at the IOVA, with the client's access */
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x100000, 0x10000, mfd, 0,
					    RW), 0);
	assert_int_equal(th_fake.dma_maps, 1);
	assert_int_equal(th_fake.dma_iova, 0x100000);
	assert_int_equal(th_fake.dma_size, 0x10000);
	assert_int_equal(th_fake.dma_prot, HOST_DMA_READ | HOST_DMA_WRITE);
	assert_ptr_equal(th_fake.dma_vaddr, f.srv.dma[0].map);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x200000, 0x1000, mfd, 0,
					    VFU_DMA_READ_OK), 0);
	assert_int_equal(th_fake.dma_prot, HOST_DMA_READ);
	/*
	 * no fd (QEMU's ROM/BIOS ranges): kept for DMA_READ/WRITE, not in
	 * the host's IOMMU (the device cannot reach it), said once
	 */
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x300000, 0x1000, -1, 0,
					    RW), 0);
	assert_int_equal(th_fake.dma_maps, 2);
	assert_int_equal(f.srv.ndma, 3);
	assert_null(f.srv.dma[2].map);
	assert_true(f.srv.fdless_dma_noted);
	assert_int_equal(vfu_client_dma_unmap(&f.cli, 0x300000, 0x1000, 0), 0);
	assert_int_equal(th_fake.dma_unmaps, 0);
	assert_int_equal(f.srv.ndma, 2);
	/* the host refuses: no entry, the memory is let go */
	th_fake.dma_map_rc = -ENOSPC;
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x400000, 0x1000, mfd, 0,
					    RW), -ENOSPC);
	assert_int_equal(f.srv.ndma, 2);
	th_fake.dma_map_rc = 0;
	assert_int_equal(vfu_client_dma_unmap(&f.cli, 0x100000, 0x10000, 0), 0);
	assert_int_equal(th_fake.dma_unmaps, 1);
	assert_int_equal(th_fake.dma_iova, 0x100000);
	assert_int_equal(th_fake.dma_size, 0x10000);
	/* a failed host unmap is not dropped silently: it is logged */
	th_fake.dma_unmap_rc = -EIO;
	th_log_capture();
	assert_int_equal(vfu_client_dma_unmap(&f.cli, 0x200000, 0x1000, 0), 0);
	assert_int_equal(th_fake.dma_unmaps, 2);
	assert_int_equal(th_log_lines(), 1);
	assert_non_null(strstr(th_log_last(), "DMA unmap"));
	th_fake.dma_unmap_rc = 0;

	/* the client goes: the host lets go of its unmask fd and vectors */
	vfu_conn_close(&f.srv);
	assert_int_equal(th_fake.unmask_fd_calls, 2);
	assert_int_equal(th_fake.unmask_fd, -1);
	assert_int_equal(th_fake.irq_count, 0);
	vfu_client_close(&f.cli);
	th_free(f.d, f.h);
	close(mfd);
	close(ev);
	close(efd);
}

/* ---- mpqemu ---- */

static void sysmem(int peer, uint64_t gpa, uint64_t size, int fd)
{
	uint8_t buf[16 + 192] = { 0 };
	uint64_t len = 192;
	char ctrl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctrl,
			    .msg_controllen = sizeof(ctrl) };
	struct cmsghdr *cm;

	memcpy(buf + 8, &len, 8); /* cmd 0: SYNC_SYSMEM */
	memcpy(buf + 16, &gpa, 8);
	memcpy(buf + 16 + 64, &size, 8);
	memset(ctrl, 0, sizeof(ctrl));
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	assert_int_equal(sendmsg(peer, &m, 0), (ssize_t)sizeof(buf));
}

/*
 * A device whose DMA goes through the host's IOMMU: its writes never pass
 * through the front end, so only the host can log them.  A host that
 * cannot makes DMA logging refused (ENOTTY), never an empty bitmap.
 */
static void test_dma_logging_by_host(void **state)
{
	struct th_vfu f;
	int mfd = guest_ram(1 << 20);
	struct {
		uint64_t page;
		uint32_t n, rsvd;
	} all = { 4096, 0, 0 };
	uint64_t rq[3] = { 0x100000, 0x10000, 4096 }, rep[4] = { 0 };

	(void)state;
	vfx_open(&f, true);
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x100000, 0x10000, mfd, 0,
					    RW), 0);
	assert_int_equal(th_feature(&f, F_PROBE | F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0,
				 NULL, 0), -ENOTTY);
	assert_int_equal(th_feature(&f, F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				 &all, sizeof(all), NULL, 0), -ENOTTY);
	assert_int_equal(th_feature(&f, F_GET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, rq,
				 sizeof(rq), rep, sizeof(rep)), -EINVAL);
	th_vfu_close(&f);

	/* a host that logs: "all" means the client's DMA maps */
	vfx_open(&f, true);
	th_fake_dirty();
	assert_int_equal(vfu_client_dma_map(&f.cli, 0x100000, 0x10000, mfd, 0,
					    RW), 0);
	assert_int_equal(th_feature(&f, F_PROBE | F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0,
				 NULL, 0), 0);
	assert_int_equal(th_feature(&f, F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				 &all, sizeof(all), NULL, 0), 0);
	assert_int_equal(th_fake.dirty_starts, 1);
	assert_int_equal(th_fake.dirty_n, 1);
	assert_int_equal(th_fake.dirty_r[0].iova, 0x100000);
	assert_int_equal(th_fake.dirty_r[0].size, 0x10000);
	assert_int_equal(th_fake.dirty_page, 4096);
	th_fake.dirty_bits = 0x8002;
	assert_int_equal(th_feature(&f, F_GET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, rq,
				 sizeof(rq), rep, sizeof(rep)), 0);
	assert_int_equal(rep[3], 0x8002);
	assert_int_equal(th_feature(&f, F_SET |
				 VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
				 NULL, 0, NULL, 0), 0);
	assert_int_equal(th_fake.dirty_stops, 1);
	th_vfu_close(&f);
	close(mfd);
}

/* ptdm_mig_set_state from one state to another: the arcs the backend got. */
static void path(struct ptdm_dev *d, uint32_t from, uint32_t to,
		 const uint32_t *want, unsigned n)
{
	if (ptdm_mig_state(d) != from)
		assert_int_equal(ptdm_mig_set_state(d, from), 0);
	th_fake.narcs = 0;
	assert_int_equal(ptdm_mig_set_state(d, to), 0);
	assert_int_equal(ptdm_mig_state(d), to);
	assert_int_equal(th_fake.narcs, n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(th_fake.arcs[i], want[i]);
}

enum { ST = 1, RU = 2, SC = 3, RE = 4, RP = 5, PC = 6, PP = 7 };

/*
 * The core walks the backend one arc at a time along the kernel's paths
 * (vfio_mig_get_next_state): never through a saving state or RESUMING on
 * the way, RUNNING_P2P used when offered and collapsed when not.
 */
static void test_mig_paths(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = th_irq_dev(&h, 0);
	const uint32_t ru_st[] = { RP, ST }, ru_sc[] = { RP, ST, SC },
		       pc_st[] = { RU, RP, ST }, pc_sc[] = { PP, SC },
		       sc_pc[] = { ST, RP, RU, PC }, pc_re[] = { RU, RP, ST, RE },
		       pp_ru[] = { RP, RU }, ru_pp[] = { RP, PP };
	const uint32_t flat_ru_sc[] = { ST, SC }, flat_pc_sc[] = { SC },
		       flat_pc_re[] = { RU, ST, RE };

	(void)state;
	th_fake_host(h);
	th_fake_mig(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		    (1u << 2) /* PRE_COPY */);
	path(d, RU, ST, ru_st, 2);
	path(d, RU, SC, ru_sc, 3);
	path(d, PC, ST, pc_st, 3);
	path(d, PC, SC, pc_sc, 2);
	path(d, SC, PC, sc_pc, 4);
	path(d, PP, RU, pp_ru, 2);
	path(d, RU, PP, ru_pp, 2);
	path(d, PC, RE, pc_re, 4);
	/* out of RESUMING only with a whole stream: the backend is not even
	 * asked, and the device is left in ERROR until a reset */
	th_fake.narcs = 0;
	assert_int_equal(ptdm_mig_set_state(d, RU), -EINVAL);
	assert_int_equal(th_fake.narcs, 0);
	assert_int_equal(ptdm_mig_state(d), VFIO_DEVICE_STATE_ERROR);
	assert_int_equal(ptdm_mig_set_state(d, ST), -EINVAL);
	ptdm_mig_reset(d);
	assert_int_equal(ptdm_mig_state(d), RU);
	/* the states the backend does not offer are refused */
	assert_int_equal(ptdm_mig_set_state(d, VFIO_DEVICE_STATE_ERROR), -EINVAL);
	assert_int_equal(ptdm_mig_set_state(d, 8), -EINVAL);
	ptdm_mig_reset(d);
	th_fake.mig_flags = VFIO_MIGRATION_STOP_COPY | (1u << 2);
	path(d, RU, SC, flat_ru_sc, 2);
	path(d, PC, SC, flat_pc_sc, 1);
	path(d, PC, RE, flat_pc_re, 3);
	assert_int_equal(ptdm_mig_set_state(d, RP), -EINVAL);
	ptdm_mig_reset(d);
	/* a backend that cannot get back to RUNNING is not said to run */
	path(d, RU, SC, flat_ru_sc, 2);
	th_fake.mig_rc = -EINVAL;
	ptdm_mig_reset(d);
	assert_int_equal(ptdm_mig_state(d), VFIO_DEVICE_STATE_ERROR);
	th_fake.mig_rc = 0;
	ptdm_mig_reset(d);
	assert_int_equal(ptdm_mig_state(d), RU);
	/* a backend that falls into ERROR on an arc: ERROR here too */
	th_fake.mig_rc = -EIO;
	assert_int_equal(ptdm_mig_set_state(d, ST), -EIO);
	assert_int_equal(ptdm_mig_state(d), VFIO_DEVICE_STATE_ERROR);
	th_fake.mig_rc = 0;
	ptdm_mig_reset(d);
	th_free(d, h);
}

static void test_mpqemu_dma_through_host_ops(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = th_irq_dev(&h, 0);
	struct mpq_conn c;
	int sv[2], mfd = guest_ram(0x100000);

	(void)state;
	th_fake_host(h);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	mpq_conn_init(&c, sv[0], d);
	sysmem(sv[1], 0x40000000, 0x100000, mfd);
	assert_int_equal(mpq_conn_handle(&c), 0);
	assert_int_equal(th_fake.dma_maps, 1);
	assert_int_equal(th_fake.dma_iova, 0x40000000);
	assert_int_equal(th_fake.dma_size, 0x100000);
	assert_int_equal(th_fake.dma_prot, HOST_DMA_READ | HOST_DMA_WRITE);
	assert_ptr_equal(th_fake.dma_vaddr, c.ram[0].map);
	/* replaced wholesale: out of the IOMMU, then in again */
	sysmem(sv[1], 0x80000000, 0x100000, mfd);
	assert_int_equal(mpq_conn_handle(&c), 0);
	assert_int_equal(th_fake.dma_unmaps, 1);
	assert_int_equal(th_fake.dma_maps, 2);
	assert_int_equal(th_fake.dma_iova, 0x80000000);
	/* a map the host refuses is logged, and never unmapped */
	th_fake.dma_map_rc = -EFAULT;
	th_log_capture();
	sysmem(sv[1], 0xc0000000, 0x100000, mfd);
	assert_int_equal(mpq_conn_handle(&c), 0);
	assert_int_equal(th_fake.dma_unmaps, 2);
	assert_int_equal(th_log_lines(), 1);
	assert_non_null(strstr(th_log_last(), "not reachable"));
	mpq_conn_close(&c);
	assert_int_equal(th_fake.dma_unmaps, 2);
	close(sv[1]);
	close(mfd);
	th_free(d, h);
}

/* ---- the device's own MSI / MSI-X enable, for Xen's sink ---- */

static void test_host_msi_enable(void **state)
{
	struct host_dev *h, *h2;
	struct ptdm_dev *d = th_irq_dev(&h, 0), *d2;
	const unsigned xflags = TH_IRQ_MSIX_CAP + PCI_MSIX_FLAGS;
	const unsigned mflags = TH_IRQ_MSI_CAP + PCI_MSI_FLAGS;
	uint16_t v = PCI_MSIX_FLAGS_MASKALL | 7;
	struct th_cfg c;

	(void)state;
	assert_int_equal(host_cfg_write(h, xflags, &v, 2), 0);
	assert_int_equal(ptdm_owner_host_msi_enable(d, HOST_IRQ_MSIX, true), 0);
	/* enabled, the function mask off (masks are per vector), size kept */
	assert_int_equal(th_host(h, xflags, 2), PCI_MSIX_FLAGS_ENABLE | 7);
	assert_int_equal(ptdm_owner_host_msi_enable(d, HOST_IRQ_MSIX, false), 0);
	assert_int_equal(th_host(h, xflags, 2), 7);
	assert_int_equal(ptdm_owner_host_msi_enable(d, HOST_IRQ_MSI, true), 0);
	assert_true(th_host(h, mflags, 2) & PCI_MSI_FLAGS_ENABLE);
	/* the guest's view of the bit stays virtual */
	assert_false(th_rd(d, mflags, 2) & PCI_MSI_FLAGS_ENABLE);
	assert_int_equal(ptdm_owner_host_msi_enable(d, HOST_IRQ_MSI, false), 0);
	assert_false(th_host(h, mflags, 2) & PCI_MSI_FLAGS_ENABLE);
	assert_int_equal(ptdm_owner_host_msi_enable(d, HOST_IRQ_INTX, true),
			 -EINVAL);
	/* a host that refuses the write: the error comes back */
	h->readonly = true;
	assert_int_equal(ptdm_owner_host_msi_enable(d, HOST_IRQ_MSI, true),
			 -EROFS);
	h->readonly = false;
	assert_false(th_host(h, mflags, 2) & PCI_MSI_FLAGS_ENABLE);
	th_free(d, h);
	/* no such capability */
	th_cfg_init(&c, 0x8086, 0x10d3, 256);
	d2 = th_dev(&c, NULL, &h2);
	assert_int_equal(ptdm_owner_host_msi_enable(d2, HOST_IRQ_MSI, true),
			 -ENOENT);
	th_free(d2, h2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_has_no_new_ops),
		cmocka_unit_test(test_vfio_user_on_image),
		cmocka_unit_test(test_vfio_user_on_fake_host),
		cmocka_unit_test(test_dma_logging_by_host),
		cmocka_unit_test(test_mig_paths),
		cmocka_unit_test(test_mpqemu_dma_through_host_ops),
		cmocka_unit_test(test_host_msi_enable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
