/*
 * test_xen.c - the Xen ioreq-server front end (xen.c) against a fake
 * hypervisor that records every call: the lifecycle order, config / port /
 * MMIO ioreqs through the core, rep ioreqs through guest memory, the 0xcf8
 * latch, hostile requests answered without harm, interrupts injected for
 * an image, and for a real device the p2m / pirq request sequence xen_pt
 * makes (MSI-X table page kept trapped, pirqs bound and unbound).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xen/hvm/ioreq.h>

#include "helpers.h"
#include "ptdm/image.h"
#include "ptdm/xen.h"

#define MSI_CAP TH_IRQ_MSI_CAP
#define MSIX_CAP TH_IRQ_MSIX_CAP
#define SBDF (3u << 3) /* guest 00:03.0 */
#define GUEST_RAM (1u << 20)

struct fake {
	struct xen_hv hv;
	ioreq_t *page;
	buffered_iopage_t *buf;
	int efd;
	uint32_t pending[16];
	unsigned npending;
	uint32_t last_notified;
	unsigned nnotified;
	uint8_t *ram;
	bool alive;
	char log[128][96];
	unsigned nlog;
	int next_pirq;
	unsigned multi_max; /* multi-message MSI: the largest block Xen
			     * gives (0: none, as without interrupt
			     * remapping) */
};

static struct fake *F(struct xen_hv *hv)
{
	return (struct fake *)hv;
}

static void logf_(struct fake *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->nlog >= 128)
		return;
	va_start(ap, fmt);
	vsnprintf(f->log[f->nlog++], 96, fmt, ap);
	va_end(ap);
}

/* index of the first log line equal to s at or after from, or -1 */
static int find(const struct fake *f, unsigned from, const char *s)
{
	for (unsigned i = from; i < f->nlog; i++)
		if (!strcmp(f->log[i], s))
			return (int)i;
	return -1;
}

static void expect(const struct fake *f, const char *s)
{
	if (find(f, 0, s) < 0) {
		for (unsigned i = 0; i < f->nlog; i++)
			print_message("  log: %s\n", f->log[i]);
		fail_msg("no \"%s\" in the call log", s);
	}
}

static int f_nr_vcpus(struct xen_hv *hv, unsigned *n)
{
	*n = 2;
	return 0;
}

static bool f_alive(struct xen_hv *hv)
{
	return F(hv)->alive;
}

static int f_create(struct xen_hv *hv, uint16_t *id, void **ioreq_page,
		    void **buf_page, uint32_t *buf_port)
{
	struct fake *f = F(hv);

	*id = 7;
	*ioreq_page = f->page;
	*buf_page = f->buf;
	*buf_port = 50;
	logf_(f, "create");
	return 0;
}

static int f_destroy(struct xen_hv *hv, uint16_t id)
{
	logf_(F(hv), "destroy %u", id);
	return 0;
}

static int f_enable(struct xen_hv *hv, uint16_t id, bool on)
{
	F(hv)->page[0].vp_eport = on ? 40 : 0; /* as Xen does */
	F(hv)->page[1].vp_eport = on ? 41 : 0;
	logf_(F(hv), "enable %u %d", id, on);
	return 0;
}

static int f_pcidev(struct xen_hv *hv, uint16_t id, unsigned sbdf, bool map)
{
	logf_(F(hv), "pcidev %#x %d", sbdf, map);
	return 0;
}

static int f_range(struct xen_hv *hv, uint16_t id, bool mmio, uint64_t start,
		   uint64_t end, bool map)
{
	logf_(F(hv), "range %s %#llx-%#llx %d", mmio ? "mmio" : "io",
	      (unsigned long long)start, (unsigned long long)end, map);
	return 0;
}

static int f_efd(struct xen_hv *hv)
{
	return F(hv)->efd;
}

static int f_bind(struct xen_hv *hv, uint32_t remote, uint32_t *local)
{
	*local = remote + 1000;
	logf_(F(hv), "bind %u", remote);
	return 0;
}

static int f_pending(struct xen_hv *hv, uint32_t *local)
{
	struct fake *f = F(hv);

	if (!f->npending)
		return -EAGAIN;
	*local = f->pending[--f->npending];
	return 0;
}

static int f_unmask(struct xen_hv *hv, uint32_t local)
{
	return 0;
}

static int f_notify(struct xen_hv *hv, uint32_t local)
{
	struct fake *f = F(hv);

	f->last_notified = local;
	f->nnotified++;
	return 0;
}

static int f_guest_rw(struct xen_hv *hv, uint64_t gpa, void *buf, size_t len,
		      bool write)
{
	struct fake *f = F(hv);

	if (gpa >= GUEST_RAM || len > GUEST_RAM - gpa)
		return -EFAULT;
	if (write)
		memcpy(f->ram + gpa, buf, len);
	else
		memcpy(buf, f->ram + gpa, len);
	return 0;
}

static int f_msi(struct xen_hv *hv, uint64_t addr, uint32_t data)
{
	logf_(F(hv), "msi %#llx %#x", (unsigned long long)addr, data);
	return 0;
}

static int f_intx(struct xen_hv *hv, unsigned sbdf, unsigned pin0, bool level)
{
	logf_(F(hv), "intx %#x %u %d", sbdf, pin0, level);
	return 0;
}

static int f_mmio(struct xen_hv *hv, uint64_t gfn, uint64_t mfn, uint64_t nr,
		  bool map)
{
	logf_(F(hv), "p2m %#llx->%#llx x%llu %d", (unsigned long long)gfn,
	      (unsigned long long)mfn, (unsigned long long)nr, map);
	return 0;
}

static int f_ioport(struct xen_hv *hv, uint32_t gport, uint32_t mport,
		    uint32_t nr, bool map)
{
	logf_(F(hv), "ioport %#x->%#x x%u %d", gport, mport, nr, map);
	return 0;
}

static int f_pirq_msi(struct xen_hv *hv, unsigned host_sbdf, int entry,
		      uint64_t table_base, int *pirq)
{
	*pirq = F(hv)->next_pirq++;
	logf_(F(hv), "pirq msi %#x entry %d table %#llx -> %d", host_sbdf,
	      entry, (unsigned long long)table_base, *pirq);
	return 0;
}

static int f_pirq_gsi(struct xen_hv *hv, int gsi, int *pirq)
{
	*pirq = F(hv)->next_pirq++;
	logf_(F(hv), "pirq gsi %d -> %d", gsi, *pirq);
	return 0;
}

static int f_pirq_unmap(struct xen_hv *hv, int pirq)
{
	logf_(F(hv), "pirq unmap %d", pirq);
	return 0;
}

static int f_msi_bind(struct xen_hv *hv, uint32_t gvec, int pirq,
		      uint32_t gflags, uint64_t gtable, bool bind)
{
	logf_(F(hv), "msi bind %#x pirq %d flags %#x table %#llx %d", gvec,
	      pirq, gflags, (unsigned long long)gtable, bind);
	return 0;
}

static int f_pirq_multi(struct xen_hv *hv, unsigned host_sbdf, unsigned *nr,
			int *pirq)
{
	struct fake *f = F(hv);

	if (*nr > f->multi_max) {
		logf_(f, "pirq multi-msi %#x nr %u: refused, %u possible",
		      host_sbdf, *nr, f->multi_max);
		*nr = f->multi_max;
		*pirq = -1;
		return -ENOSPC;
	}
	*pirq = f->next_pirq;
	f->next_pirq += (int)*nr;
	logf_(f, "pirq multi-msi %#x nr %u -> %d", host_sbdf, *nr, *pirq);
	return 0;
}

static int f_intx_bind(struct xen_hv *hv, int pirq, unsigned guest_sbdf,
		       unsigned pin0, bool bind)
{
	logf_(F(hv), "intx bind pirq %d %#x pin %u %d", pirq, guest_sbdf, pin0,
	      bind);
	return 0;
}

static void f_close(struct xen_hv *hv)
{
}

static int f_assign(struct xen_hv *hv, unsigned host_sbdf, bool on)
{
	logf_(F(hv), "assign %#x %d", host_sbdf, on);
	return 0;
}

static const struct xen_hv_ops fake_ops = {
	.nr_vcpus = f_nr_vcpus,	      .domain_alive = f_alive,
	.server_create = f_create,    .server_destroy = f_destroy,
	.server_enable = f_enable,    .map_pcidev = f_pcidev,
	.map_range = f_range,	      .evtchn_fd = f_efd,
	.evtchn_bind = f_bind,	      .evtchn_pending = f_pending,
	.evtchn_unmask = f_unmask,    .evtchn_notify = f_notify,
	.guest_rw = f_guest_rw,	      .inject_msi = f_msi,
	.set_intx = f_intx,	      .assign_device = f_assign,
	.map_mmio = f_mmio,	      .map_ioport = f_ioport,
	.pirq_map_msi = f_pirq_msi,   .pirq_map_gsi = f_pirq_gsi,
	.pirq_unmap = f_pirq_unmap,   .msi_bind = f_msi_bind,
	.intx_bind = f_intx_bind,     .close = f_close,
	.pirq_map_multi_msi = f_pirq_multi,
};

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->hv.ops = &fake_ops;
	f->hv.domid = 5;
	f->page = calloc(1, 4096);
	f->buf = calloc(1, 4096);
	f->ram = calloc(1, GUEST_RAM);
	f->efd = eventfd(0, EFD_CLOEXEC);
	f->alive = true;
	f->next_pirq = 100;
	f->multi_max = 32;
	return f;
}

static void fake_free(struct fake *f)
{
	close(f->efd);
	free(f->page);
	free(f->buf);
	free(f->ram);
	free(f);
}

static struct ptdm_dev *dev_new(struct host_dev **h)
{
	return th_irq_dev(h, 0);
}

struct rig {
	struct fake *f;
	struct host_dev *h;
	struct ptdm_dev *d;
	struct xen_server *s;
};

static void rig_up_opts(struct rig *r, bool real,
			const struct xen_server_opts *o)
{
	struct xen_host_res res = { 0 };
	struct ptdm_err err = { "" };

	r->f = fake_new();
	r->d = dev_new(&r->h);
	if (real) {
		res.real = true;
		res.sbdf = 0x0200; /* host 02:00.0 */
		res.gsi = 17;
		res.phys[0] = 0xd0000000;
		res.phys[2] = 0xe000;
	}
	assert_int_equal(xen_server_new(&r->s, &r->f->hv, r->d, &res, o, &err),
			 0);
}

static void rig_up(struct rig *r, bool real, bool cf8)
{
	struct xen_server_opts o = { .guest_sbdf = SBDF, .cf8 = cf8 };

	rig_up_opts(r, real, &o);
}

static void rig_down(struct rig *r)
{
	xen_server_free(r->s);
	th_free(r->d, r->h);
	fake_free(r->f);
}

/* Put one request in vCPU 1's slot, signal, serve; returns the data. */
static uint64_t io(struct rig *r, unsigned type, uint64_t addr, unsigned size,
		   uint64_t data, bool write)
{
	ioreq_t *q = &r->f->page[1];

	q->type = type;
	q->addr = addr;
	q->size = size;
	q->count = 1;
	q->data = data;
	q->data_is_ptr = 0;
	q->df = 0;
	q->dir = write ? IOREQ_WRITE : IOREQ_READ;
	q->state = STATE_IOREQ_READY;
	r->f->pending[r->f->npending++] = 41 + 1000;
	assert_int_equal(xen_server_handle(r->s), 0);
	assert_int_equal(q->state, STATE_IORESP_READY);
	assert_int_equal(r->f->last_notified, 1041);
	return q->data;
}

static uint32_t cfg_rd(struct rig *r, unsigned reg, unsigned size)
{
	return (uint32_t)io(r, IOREQ_TYPE_PCI_CONFIG, (uint64_t)SBDF << 32 | reg,
			    size, 0, false);
}

static void cfg_wr(struct rig *r, unsigned reg, unsigned size, uint32_t v)
{
	io(r, IOREQ_TYPE_PCI_CONFIG, (uint64_t)SBDF << 32 | reg, size, v, true);
}

static void test_lifecycle_order(void **state)
{
	struct rig r;
	int create, b0, b1, pcidev, cf8, en;

	(void)state;
	rig_up(&r, false, true);
	create = find(r.f, 0, "create");
	b0 = find(r.f, 0, "bind 40");
	b1 = find(r.f, 0, "bind 41");
	pcidev = find(r.f, 0, "pcidev 0x18 1");
	cf8 = find(r.f, 0, "range io 0xcf8-0xcfb 1");
	en = find(r.f, 0, "enable 7 1");
	/* Xen fills in the vCPUs' ports when the server is enabled: bind
	 * them after that (the domain is still paused) */
	assert_true(create == 0 && pcidev > create && cf8 > pcidev);
	assert_true(en > cf8 && b0 > en && b1 > b0);
	assert_int_equal(find(r.f, 0, "bind 50"), (int)r.f->nlog - 1);
	r.f->nlog = 0;
	xen_server_free(r.s);
	r.s = NULL;
	assert_string_equal(r.f->log[0], "enable 7 0");
	expect(r.f, "range io 0xcf8-0xcfb 0");
	expect(r.f, "pcidev 0x18 0");
	assert_string_equal(r.f->log[r.f->nlog - 1], "destroy 7");
	rig_down(&r);
}

static void test_config_and_bars(void **state)
{
	struct rig r;
	struct xen_server_stats st;

	(void)state;
	rig_up(&r, false, false);
	assert_int_equal(cfg_rd(&r, PCI_VENDOR_ID, 4), 0x10d38086);
	/* sizing through ioreqs, like hvmloader */
	cfg_wr(&r, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(cfg_rd(&r, PCI_BASE_ADDRESS_0, 4), 0xffffc000);
	cfg_wr(&r, PCI_BASE_ADDRESS_0, 4, 0xf0000000);
	cfg_wr(&r, PCI_BASE_ADDRESS_2, 4, 0xc100);
	cfg_wr(&r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	expect(r.f, "range mmio 0xf0000000-0xf0003fff 1");
	expect(r.f, "range io 0xc100-0xc11f 1");
	/* MMIO and port accesses reach the image's BARs */
	io(&r, IOREQ_TYPE_COPY, 0xf0000010, 4, 0xcafef00d, true);
	assert_int_equal(io(&r, IOREQ_TYPE_COPY, 0xf0000010, 4, 0, false),
			 0xcafef00d);
	assert_int_equal(io(&r, IOREQ_TYPE_COPY, 0xf0000012, 2, 0, false),
			 0xcafe);
	io(&r, IOREQ_TYPE_PIO, 0xc104, 1, 0xab, true);
	assert_int_equal(io(&r, IOREQ_TYPE_PIO, 0xc104, 1, 0, false), 0xab);
	/* MEM decode off: unregistered; a stray access reads all-ones and
	 * the host keeps decoding (XSA-120: the guest never turns it off) */
	cfg_wr(&r, PCI_COMMAND, 2, PCI_COMMAND_IO);
	expect(r.f, "range mmio 0xf0000000-0xf0003fff 0");
	assert_int_equal(io(&r, IOREQ_TYPE_COPY, 0xf0000010, 4, 0, false),
			 0xffffffff);
	assert_true(th_host(r.h, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	xen_server_get_stats(r.s, &st);
	assert_int_equal(st.bad, 1);
	assert_true(st.cfg >= 7 && st.mmio == 4 && st.pio == 2);
	rig_down(&r);
}

static void test_hostile_requests(void **state)
{
	struct rig r;
	struct xen_server_stats st;

	(void)state;
	rig_up(&r, false, false);
	/* another device's config, a size of 3, a register past the end */
	assert_int_equal(io(&r, IOREQ_TYPE_PCI_CONFIG, (uint64_t)0x20 << 32, 4,
			    0, false),
			 0xffffffff);
	assert_int_equal(io(&r, IOREQ_TYPE_PCI_CONFIG, (uint64_t)SBDF << 32, 3,
			    0, false),
			 0xffffff);
	assert_int_equal(io(&r, IOREQ_TYPE_PCI_CONFIG,
			    (uint64_t)SBDF << 32 | 0xffe, 4, 0, false),
			 0xffffffff);
	/* unknown type; a port nobody claimed */
	io(&r, 42, 0, 4, 0, false);
	assert_int_equal(io(&r, IOREQ_TYPE_PIO, 0x80, 1, 0, false), 0xff);
	/* a rep count far beyond any instruction */
	{
		ioreq_t *q = &r.f->page[1];

		q->type = IOREQ_TYPE_COPY;
		q->addr = 0xf0000000;
		q->size = 4;
		q->count = 0x40000000;
		q->data_is_ptr = 1;
		q->data = 0;
		q->dir = IOREQ_READ;
		q->state = STATE_IOREQ_READY;
		r.f->pending[r.f->npending++] = 1041;
		assert_int_equal(xen_server_handle(r.s), 0);
		assert_int_equal(q->state, STATE_IORESP_READY);
	}
	/* a slot that is not ready is left alone */
	r.f->page[0].state = STATE_IOREQ_NONE;
	r.f->pending[r.f->npending++] = 1040;
	assert_int_equal(xen_server_handle(r.s), 0);
	assert_int_equal(r.f->page[0].state, STATE_IOREQ_NONE);
	/* a buffered ring whose pointers are nonsense is reset */
	r.f->buf->read_pointer = 0;
	r.f->buf->write_pointer = 100000;
	assert_int_equal(xen_server_handle(r.s), 0);
	assert_int_equal(r.f->buf->read_pointer, 100000);
	xen_server_get_stats(r.s, &st);
	assert_int_equal(st.bad, 7);
	rig_down(&r);
}

static void test_rep_through_guest_memory(void **state)
{
	struct rig r;
	ioreq_t *q;
	uint32_t words[4] = { 1, 2, 3, 4 }, back[4] = { 0 };

	(void)state;
	rig_up(&r, false, false);
	cfg_wr(&r, PCI_BASE_ADDRESS_0, 4, 0xf0000000);
	cfg_wr(&r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	memcpy(r.f->ram + 0x1000, words, sizeof(words));
	q = &r.f->page[1];
	/* rep movsd guest -> device, 4 dwords */
	*q = (ioreq_t){ .type = IOREQ_TYPE_COPY, .addr = 0xf0000100, .size = 4,
			.count = 4, .data = 0x1000, .data_is_ptr = 1,
			.dir = IOREQ_WRITE, .state = STATE_IOREQ_READY,
			.vp_eport = 41 };
	r.f->pending[r.f->npending++] = 1041;
	assert_int_equal(xen_server_handle(r.s), 0);
	assert_int_equal(io(&r, IOREQ_TYPE_COPY, 0xf000010c, 4, 0, false), 4);
	/* device -> guest with DF set: addresses and buffer go down */
	*q = (ioreq_t){ .type = IOREQ_TYPE_COPY, .addr = 0xf000010c, .size = 4,
			.count = 4, .data = 0x200c, .data_is_ptr = 1, .df = 1,
			.dir = IOREQ_READ, .state = STATE_IOREQ_READY,
			.vp_eport = 41 };
	r.f->pending[r.f->npending++] = 1041;
	assert_int_equal(xen_server_handle(r.s), 0);
	memcpy(back, r.f->ram + 0x2000, sizeof(back));
	assert_memory_equal(back, words, sizeof(words));
	/* a pointer outside guest memory: refused, nothing written */
	*q = (ioreq_t){ .type = IOREQ_TYPE_COPY, .addr = 0xf0000100, .size = 4,
			.count = 2, .data = GUEST_RAM - 4, .data_is_ptr = 1,
			.dir = IOREQ_WRITE, .state = STATE_IOREQ_READY };
	r.f->pending[r.f->npending++] = 1041;
	assert_int_equal(xen_server_handle(r.s), 0);
	assert_int_equal(io(&r, IOREQ_TYPE_COPY, 0xf0000100, 4, 0, false), 1);
	rig_down(&r);
}

static void test_cf8_latch(void **state)
{
	struct rig r;

	(void)state;
	rig_up(&r, false, true);
	io(&r, IOREQ_TYPE_PIO, 0xcf8, 4, 0x80001810, true);
	assert_int_equal(io(&r, IOREQ_TYPE_PIO, 0xcf8, 4, 0, false),
			 0x80001810);
	io(&r, IOREQ_TYPE_PIO, 0xcfa, 1, 0x22, true);
	assert_int_equal(io(&r, IOREQ_TYPE_PIO, 0xcf8, 4, 0, false),
			 0x80221810);
	assert_int_equal(io(&r, IOREQ_TYPE_PIO, 0xcfb, 1, 0, false), 0x80);
	rig_down(&r);
}

static void test_image_interrupts(void **state)
{
	struct rig r;
	unsigned mark;

	(void)state;
	rig_up(&r, false, false);
	cfg_wr(&r, PCI_BASE_ADDRESS_0, 4, 0xf0000000);
	cfg_wr(&r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	/* INTx: asserted when the device raises it, deasserted when the
	 * guest touches the device */
	assert_int_equal(image_irq_raise(r.h, 0), 0);
	assert_int_equal(xen_server_handle(r.s), 0);
	expect(r.f, "intx 0x18 0 1");
	io(&r, IOREQ_TYPE_COPY, 0xf0000000, 4, 0, false);
	expect(r.f, "intx 0x18 0 0");
	/* MSI as the guest programmed it */
	cfg_wr(&r, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	cfg_wr(&r, MSI_CAP + PCI_MSI_DATA_64, 2, 0xd0);
	cfg_wr(&r, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	mark = r.f->nlog;
	assert_int_equal(image_irq_raise(r.h, 0), 0);
	assert_int_equal(xen_server_handle(r.s), 0);
	assert_true(find(r.f, mark, "msi 0xfee00000 0xd0") >= 0);
	rig_down(&r);
}

static void test_real_device_sequence(void **state)
{
	struct rig r;
	unsigned mark;

	(void)state;
	rig_up(&r, true, false);
	/* the host device joins the guest's IOMMU context first */
	assert_true(find(r.f, 0, "assign 0x200 1") >= 0 &&
		    find(r.f, 0, "assign 0x200 1") < find(r.f, 0, "enable 7 1"));
	/* INTx is bound as a pirq from the start */
	expect(r.f, "pirq gsi 17 -> 100");
	expect(r.f, "intx bind pirq 100 0x18 pin 0 1");
	/* BAR0: pages 0-1 mapped, the table page (2) and PBA page (3)
	 * trapped; BAR2 I/O mapped */
	cfg_wr(&r, PCI_BASE_ADDRESS_0, 4, 0xf0000000);
	cfg_wr(&r, PCI_BASE_ADDRESS_2, 4, 0xc100);
	cfg_wr(&r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	expect(r.f, "p2m 0xf0000->0xd0000 x2 1");
	expect(r.f, "range mmio 0xf0002000-0xf0003fff 1");
	expect(r.f, "ioport 0xc100->0xe000 x32 1");
	/* MSI-X on, entry 1 programmed and unmasked: one pirq, bound with
	 * the guest vector, flags and table address */
	mark = r.f->nlog;
	io(&r, IOREQ_TYPE_COPY, 0xf0002010, 4, 0xfee01000, true);
	io(&r, IOREQ_TYPE_COPY, 0xf0002014, 4, 0, true);
	io(&r, IOREQ_TYPE_COPY, 0xf0002018, 4, 0x0161, true);
	cfg_wr(&r, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	io(&r, IOREQ_TYPE_COPY, 0xf000201c, 4, 0, true);
	assert_true(find(r.f, mark, "intx bind pirq 100 0x18 pin 0 0") >= 0);
	assert_true(find(r.f, mark, "pirq msi 0x200 entry 1 table 0xd0000000 "
				    "-> 101") >= 0);
	assert_true(find(r.f, mark, "msi bind 0x61 pirq 101 flags 0x11001 "
				    "table 0xf0002000 1") >= 0);
	/* Xen leaves the device's own enable bit to the device model */
	assert_true(th_host(r.h, MSIX_CAP + PCI_MSIX_FLAGS, 2) &
		    PCI_MSIX_FLAGS_ENABLE);
	/* masked again: rebound without the unmasked flag */
	mark = r.f->nlog;
	io(&r, IOREQ_TYPE_COPY, 0xf000201c, 4, 1, true);
	assert_true(find(r.f, mark, "msi bind 0x61 pirq 101 flags 0x1001 "
				    "table 0xf0002000 1") >= 0);
	/* MSI-X off: unbound and the pirq released; INTx back */
	mark = r.f->nlog;
	cfg_wr(&r, MSIX_CAP + PCI_MSIX_FLAGS, 2, 0);
	assert_true(find(r.f, mark, "msi bind 0x61 pirq 101 flags 0 table 0 0") >= 0);
	assert_true(find(r.f, mark, "pirq unmap 101") >= 0);
	assert_false(th_host(r.h, MSIX_CAP + PCI_MSIX_FLAGS, 2) &
		     PCI_MSIX_FLAGS_ENABLE);
	/* INTx back, bound through the pirq the GSI got (Xen takes
	 * machine_irq as a pirq of the domain, as xen_pt passes it) */
	assert_true(find(r.f, mark, "pirq gsi 17 -> 102") >= 0);
	assert_true(find(r.f, mark, "intx bind pirq 102 0x18 pin 0 1") >= 0);
	/* teardown undoes the p2m and the port mapping */
	mark = r.f->nlog;
	xen_server_free(r.s);
	r.s = NULL;
	assert_true(find(r.f, mark, "p2m 0xf0000->0xd0000 x2 0") >= 0);
	assert_true(find(r.f, mark, "ioport 0xc100->0xe000 x32 0") >= 0);
	assert_true(find(r.f, mark, "assign 0x200 0") >
		    find(r.f, mark, "pirq unmap 102"));
	rig_down(&r);
}

/* Behind ptdm-xen-dm libxl assigns the device after the device model's
 * device_add (and deassigns it after device_del): ptdm must not, or
 * libxl's xc_assign_device fails with EBUSY. */
static void test_toolstack_assigns(void **state)
{
	struct xen_server_opts o = { .guest_sbdf = SBDF,
				     .toolstack_assigns = true };
	struct rig r;

	(void)state;
	rig_up_opts(&r, true, &o);
	assert_true(find(r.f, 0, "enable 7 1") >= 0);
	assert_true(find(r.f, 0, "pirq gsi 17 -> 100") >= 0);
	assert_int_equal(find(r.f, 0, "assign 0x200 1"), -1);
	xen_server_free(r.s);
	r.s = NULL;
	assert_int_equal(find(r.f, 0, "assign 0x200 0"), -1);
	assert_true(find(r.f, 0, "pirq unmap 100") >= 0);
	rig_down(&r);
}

static void test_domain_gone(void **state)
{
	struct rig r;

	(void)state;
	rig_up(&r, false, false);
	r.f->alive = false;
	assert_int_equal(xen_server_handle(r.s), -ESRCH);
	rig_down(&r);
}

/* ---- quirks, ROMs, functions of a slot (issue 15) ---- */

/* A rig over a device the test built, with its own server options. */
static void rig_up_dev(struct rig *r, struct ptdm_dev *d, struct host_dev *h,
		       const struct xen_host_res *res, unsigned guest_sbdf)
{
	struct xen_server_opts o = { .guest_sbdf = guest_sbdf };
	struct ptdm_err err = { "" };

	r->f = fake_new();
	r->d = d;
	r->h = h;
	assert_int_equal(xen_server_new(&r->s, &r->f->hv, r->d, res, &o, &err),
			 0);
}

/* A real device with a 4-vector MSI (Multiple Message Capable 2). */
static void rig_up_multi(struct rig *r, unsigned multi_max)
{
	struct xen_host_res res = { .real = true, .sbdf = 0x0200, .gsi = 17 };
	struct host_dev *h;
	struct ptdm_dev *d = th_irq_dev(&h, 2);

	res.phys[0] = 0xd0000000;
	res.phys[2] = 0xe000;
	rig_up_dev(r, d, h, &res, SBDF);
	r->f->multi_max = multi_max;
	/* APIC 0, vector 0x50, all unmasked (64-bit, per-vector masks) */
	cfg_wr(r, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	cfg_wr(r, MSI_CAP + PCI_MSI_ADDRESS_HI, 4, 0);
	cfg_wr(r, MSI_CAP + PCI_MSI_DATA_64, 2, 0x50);
	cfg_wr(r, MSI_CAP + PCI_MSI_MASK_64, 4, 0);
}

static unsigned count(const struct fake *f, unsigned from, const char *pre)
{
	unsigned n = 0;

	for (unsigned i = from; i < f->nlog; i++)
		n += !strncmp(f->log[i], pre, strlen(pre));
	return n;
}

/*
 * Multi-message MSI: every vector the guest enabled is a pirq of one
 * MAP_PIRQ_TYPE_MULTI_MSI block, bound to its own guest vector; a guest
 * that asks for more than the device can do gets what it can; new data
 * while enabled rebinds the same pirqs; a new vector count remaps; off
 * unmaps the block through its first pirq (Xen refuses the others).
 */
static void test_multi_message_msi(void **state)
{
	char want[96];
	struct rig r;
	unsigned mark;

	(void)state;
	rig_up_multi(&r, 32);
	/* MME 3 (8 vectors) on a device capable of 4: it gets 4 */
	mark = r.f->nlog;
	cfg_wr(&r, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 3 << 4);
	assert_int_equal((cfg_rd(&r, MSI_CAP + PCI_MSI_FLAGS, 2) >> 4) & 7, 2);
	assert_true(find(r.f, mark, "intx bind pirq 100 0x18 pin 0 0") >= 0);
	assert_true(find(r.f, mark, "pirq multi-msi 0x200 nr 4 -> 101") >= 0);
	for (unsigned v = 0; v < 4; v++) {
		snprintf(want, sizeof(want), "msi bind %#x pirq %u flags 0x10000 "
			 "table 0 1", 0x50 + v, 101 + v);
		assert_true(find(r.f, mark, want) >= 0);
	}
	assert_int_equal(count(r.f, mark, "msi bind 0x54"), 0);
	assert_int_equal(count(r.f, mark, "pirq msi "), 0);
	assert_true(th_host(r.h, MSI_CAP + PCI_MSI_FLAGS, 2) &
		    PCI_MSI_FLAGS_ENABLE);
	/* new data while enabled: the same pirqs, bound to 0x60..0x63 */
	mark = r.f->nlog;
	cfg_wr(&r, MSI_CAP + PCI_MSI_DATA_64, 2, 0x60);
	for (unsigned v = 0; v < 4; v++) {
		snprintf(want, sizeof(want), "msi bind %#x pirq %u flags 0x10000 "
			 "table 0 1", 0x60 + v, 101 + v);
		assert_true(find(r.f, mark, want) >= 0);
	}
	assert_int_equal(count(r.f, mark, "pirq "), 0);
	/* vector 2 masked: only its pirq loses the unmasked flag */
	mark = r.f->nlog;
	cfg_wr(&r, MSI_CAP + PCI_MSI_MASK_64, 4, 1u << 2);
	assert_int_equal(r.f->nlog - mark, 1);
	expect(r.f, "msi bind 0x62 pirq 103 flags 0 table 0 1");
	/* MME 1 while enabled: the block of 4 goes (unmapped through its
	 * first pirq only), a block of 2 comes */
	mark = r.f->nlog;
	cfg_wr(&r, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 1 << 4);
	assert_int_equal(count(r.f, mark, "msi bind "), 6);
	assert_int_equal(count(r.f, mark, "pirq unmap "), 1);
	assert_true(find(r.f, mark, "pirq unmap 101") >
		    find(r.f, mark, "msi bind 0x63 pirq 104 flags 0 table 0 0"));
	assert_true(find(r.f, mark, "pirq multi-msi 0x200 nr 2 -> 105") >
		    find(r.f, mark, "pirq unmap 101"));
	expect(r.f, "msi bind 0x60 pirq 105 flags 0x10000 table 0 1");
	expect(r.f, "msi bind 0x61 pirq 106 flags 0x10000 table 0 1");
	/* off: both unbound, the block unmapped, the device's enable off,
	 * INTx bound again */
	mark = r.f->nlog;
	cfg_wr(&r, MSI_CAP + PCI_MSI_FLAGS, 2, 1 << 4);
	assert_true(find(r.f, mark, "msi bind 0x61 pirq 106 flags 0 table 0 0") >=
		    0);
	assert_true(find(r.f, mark, "pirq unmap 105") >
		    find(r.f, mark, "msi bind 0x61 pirq 106 flags 0 table 0 0"));
	assert_int_equal(count(r.f, mark, "pirq unmap "), 1);
	assert_false(th_host(r.h, MSI_CAP + PCI_MSI_FLAGS, 2) &
		     PCI_MSI_FLAGS_ENABLE);
	assert_true(find(r.f, mark, "intx bind pirq 107 0x18 pin 0 1") >= 0);
	/* on again, then the domain's device model goes: all unbound */
	cfg_wr(&r, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 2 << 4);
	mark = r.f->nlog;
	xen_server_free(r.s);
	r.s = NULL;
	assert_int_equal(count(r.f, mark, "msi bind "), 4);
	assert_int_equal(count(r.f, mark, "pirq unmap "), 1);
	rig_down(&r);
}

/* Xen gives no block (no interrupt remapping, or no run of free pirqs):
 * vector 0 alone, as an ordinary MSI pirq; the others are not bound. */
static void test_multi_message_msi_refused(void **state)
{
	struct rig r;
	unsigned mark;

	(void)state;
	rig_up_multi(&r, 1);
	mark = r.f->nlog;
	cfg_wr(&r, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | 2 << 4);
	assert_true(find(r.f, mark, "pirq multi-msi 0x200 nr 4: refused, "
				    "1 possible") >= 0);
	assert_true(find(r.f, mark, "pirq msi 0x200 entry 0 table 0 -> 101") >=
		    0);
	expect(r.f, "msi bind 0x50 pirq 101 flags 0x10000 table 0 1");
	assert_int_equal(count(r.f, mark, "msi bind "), 1);
	assert_true(th_host(r.h, MSI_CAP + PCI_MSI_FLAGS, 2) &
		    PCI_MSI_FLAGS_ENABLE);
	/* a single-vector MSI never asks for a block */
	mark = r.f->nlog;
	cfg_wr(&r, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	assert_int_equal(count(r.f, mark, "pirq multi-msi"), 0);
	assert_true(find(r.f, mark, "pirq unmap 101") >= 0);
	assert_true(find(r.f, mark, "pirq msi 0x200 entry 0 table 0 -> 102") >=
		    0);
	rig_down(&r);
}

/*
 * Two devices of one domain on one GSI (the outer QEMU's edu and xHCI in
 * tests/xen): one pirq, mapped once, bound to each device's own guest INTx;
 * one device leaving INTx (MSI on) unbinds its line only, the pirq is
 * unmapped after the last.
 */
static void test_shared_gsi(void **state)
{
	struct xen_server_opts o = { .guest_sbdf = SBDF };
	struct xen_host_res res = { .real = true, .sbdf = 0x0200, .gsi = 17 };
	struct ptdm_err err = { "" };
	struct xen_server *s2;
	struct host_dev *h2;
	struct ptdm_dev *d2;
	struct rig r;
	unsigned mark;

	(void)state;
	rig_up(&r, true, false);
	expect(r.f, "pirq gsi 17 -> 100");
	mark = r.f->nlog;
	d2 = th_irq_dev(&h2, 0);
	res.sbdf = 0x0300;
	o.guest_sbdf = 6u << 3;
	assert_int_equal(xen_server_new(&s2, &r.f->hv, d2, &res, &o, &err), 0);
	assert_int_equal(count(r.f, mark, "pirq gsi"), 0);
	assert_true(find(r.f, mark, "intx bind pirq 100 0x30 pin 0 1") >= 0);
	/* the first device turns MSI on: its line goes, the pirq stays */
	mark = r.f->nlog;
	cfg_wr(&r, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	cfg_wr(&r, MSI_CAP + PCI_MSI_DATA_64, 2, 0x40);
	cfg_wr(&r, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	assert_true(find(r.f, mark, "intx bind pirq 100 0x18 pin 0 0") >= 0);
	assert_int_equal(find(r.f, mark, "pirq unmap 100"), -1);
	/* and off again: bound to the same pirq, nothing mapped anew */
	mark = r.f->nlog;
	cfg_wr(&r, MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	assert_true(find(r.f, mark, "intx bind pirq 100 0x18 pin 0 1") >= 0);
	assert_int_equal(count(r.f, mark, "pirq gsi"), 0);
	/* the second device goes: still mapped for the first */
	mark = r.f->nlog;
	xen_server_free(s2);
	assert_true(find(r.f, mark, "intx bind pirq 100 0x30 pin 0 0") >= 0);
	assert_int_equal(find(r.f, mark, "pirq unmap 100"), -1);
	th_free(d2, h2);
	/* the last one unmaps it */
	mark = r.f->nlog;
	xen_server_free(r.s);
	r.s = NULL;
	assert_true(find(r.f, mark, "pirq unmap 100") >= 0);
	rig_down(&r);
}

/* edu's IDs and BAR0 (1 MiB): the test-only quirk mirrors config at
 * BAR0 0x8000 */
static struct ptdm_dev *edu_dev(struct host_dev **h,
				const struct ptdm_dev_opts *o)
{
	struct th_cfg c;

	th_cfg_init(&c, 0x1234, 0x11e8, 256);
	th_set_bar(&c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x100000);
	th_set_bar(&c, PTDM_ROM_INDEX, 0, 0x10000);
	*h = th_image(&c);
	return th_attach(*h, o);
}

static void test_quirk_window_on_real_mmio(void **state)
{
	struct ptdm_dev *d;
	struct xen_host_res res = { .real = true, .sbdf = 0x0200, .gsi = 17 };
	struct ptdm_dev_opts o;
	struct host_dev *h;
	struct rig r;

	(void)state;
	ptdm_dev_opts_init(&o);
	o.device_id = 0xbeef;
	res.phys[0] = 0xd0000000;
	d = edu_dev(&h, &o);
	rig_up_dev(&r, d, h, &res, SBDF);
	cfg_wr(&r, PCI_BASE_ADDRESS_0, 4, 0xf0000000);
	cfg_wr(&r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	/* mapped around the quirk's page, which stays with ptdm */
	expect(r.f, "p2m 0xf0000->0xd0000 x8 1");
	expect(r.f, "range mmio 0xf0008000-0xf0008fff 1");
	expect(r.f, "p2m 0xf0009->0xd0009 x247 1");
	/* the guest reads config through the window: its own view */
	assert_int_equal(io(&r, IOREQ_TYPE_COPY, 0xf0008000, 4, 0, false),
			 0xbeef1234);
	io(&r, IOREQ_TYPE_COPY, 0xf0008000 + PCI_BASE_ADDRESS_0, 4,
	   0xf0000000, true);
	assert_int_equal(th_host(h, PCI_BASE_ADDRESS_0, 4), 0);
	rig_down(&r);
}

static void test_romfile_and_rombar(void **state)
{
	struct ptdm_dev *d;
	static uint8_t rom[0x800];
	char path[] = "/tmp/ptdm-xen-rom-XXXXXX";
	struct xen_host_res res = { 0 };
	struct ptdm_dev_opts o;
	struct host_dev *h;
	struct rig r;
	int fd;

	(void)state;
	rom[0] = 0x55;
	rom[1] = 0xaa;
	rom[0x18] = 0x40;
	memcpy(rom + 0x40, "PCIR", 4);
	rom[0x44] = 0x34; rom[0x45] = 0x12; /* 1234:11e8 */
	rom[0x46] = 0xe8; rom[0x47] = 0x11;
	rom[0x4a] = 0x18;
	rom[0x50] = 4; /* 4 x 512 bytes */
	rom[0x55] = 0x80;
	rom[0x100] = 0xc3;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rom, sizeof(rom)), (ssize_t)sizeof(rom));
	close(fd);
	ptdm_dev_opts_init(&o);
	o.romfile = path;
	d = edu_dev(&h, &o);
	rig_up_dev(&r, d, h, &res, SBDF);
	/* hvmloader sizes the ROM BAR (the device's 64 KiB), places it */
	cfg_wr(&r, PCI_ROM_ADDRESS, 4, 0xfffff800);
	assert_int_equal(cfg_rd(&r, PCI_ROM_ADDRESS, 4), 0xffff0000);
	cfg_wr(&r, PCI_ROM_ADDRESS, 4, 0xf1000000 | PCI_ROM_ADDRESS_ENABLE);
	cfg_wr(&r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	expect(r.f, "range mmio 0xf1000000-0xf100ffff 1");
	/* the guest's firmware reads the file's image, never the device's */
	assert_int_equal(io(&r, IOREQ_TYPE_COPY, 0xf1000000, 2, 0, false),
			 0xaa55);
	assert_int_equal(io(&r, IOREQ_TYPE_COPY, 0xf1000100, 1, 0, false),
			 0xc3);
	rig_down(&r);
	unlink(path);

	/* rombar=0: no ROM BAR to size or place */
	ptdm_dev_opts_init(&o);
	o.no_rombar = true;
	d = edu_dev(&h, &o);
	rig_up_dev(&r, d, h, &res, SBDF);
	cfg_wr(&r, PCI_ROM_ADDRESS, 4, 0xfffff800);
	assert_int_equal(cfg_rd(&r, PCI_ROM_ADDRESS, 4), 0);
	rig_down(&r);
}

/* The Alder Lake IGD as a real device: the guest places the OpRegion with
 * ASLS and Xen maps the host's 3 OpRegion pages there (xen_pt's
 * xc_domain_iomem_permission + xc_domain_memory_mapping), moving them
 * when the guest writes another page, and taking them away at the end. */
static void test_igd_opregion_mapped(void **state)
{
	struct xen_host_res res = { .real = true, .sbdf = 0x0010, .gsi = 16 };
	struct ptdm_err err = { "" };
	struct host_dev *h = NULL;
	struct ptdm_dev *d;
	struct rig r;

	(void)state;
	if (image_open(&h, th_dump("intel-46a6-alderlake-p-igd.lspci-x4.txt"),
		       NULL, &err))
		fail_msg("%s", err.msg);
	d = th_attach(h, NULL);
	rig_up_dev(&r, d, h, &res, SBDF);
	assert_int_equal(cfg_rd(&r, 0xfc, 4), 0); /* never the host's */
	cfg_wr(&r, 0xfc, 4, 0x7f000000);
	expect(r.f, "p2m 0x7f000->0x65940 x3 1");
	assert_int_equal(cfg_rd(&r, 0xfc, 4), 0x7f000018);
	r.f->nlog = 0;
	cfg_wr(&r, 0xfc, 4, 0x7e000000);
	assert_string_equal(r.f->log[0], "p2m 0x7f000->0x65940 x3 0");
	assert_string_equal(r.f->log[1], "p2m 0x7e000->0x65940 x3 1");
	r.f->nlog = 0;
	cfg_wr(&r, 0xfc, 4, 0x7e000000); /* the same page: nothing */
	assert_int_equal(r.f->nlog, 0);
	xen_server_free(r.s);
	r.s = NULL;
	expect(r.f, "p2m 0x7e000->0x65940 x3 0");
	rig_down(&r);
}

/* A function of a multi-function slot: its own function number in the
 * guest's slot, the header's multifunction bit. */
static void test_function_of_a_slot(void **state)
{
	struct ptdm_dev *d;
	struct xen_host_res res = { 0 };
	struct ptdm_dev_opts o;
	struct host_dev *h;
	struct rig r;
	unsigned fn1 = SBDF | 1;

	(void)state;
	ptdm_dev_opts_init(&o);
	o.multifunction = true;
	d = edu_dev(&h, &o);
	rig_up_dev(&r, d, h, &res, fn1);
	expect(r.f, "pcidev 0x19 1");
	assert_int_equal((uint32_t)io(&r, IOREQ_TYPE_PCI_CONFIG,
				      (uint64_t)fn1 << 32 | PCI_HEADER_TYPE, 1,
				      0, false), 0x80);
	rig_down(&r);
}

/* gfx_passthru: a real Intel VGA device gets the legacy VGA ranges, as
 * xen_pt_register_vga_regions maps them (ports 0x3b0 x12, 0x3c0 x32, the
 * 0xa0000 frames x32, 1:1), after the device is assigned and before the
 * ioreq server is enabled; unmapped in the same order at the end. */
static int f_ioport_fails(struct xen_hv *hv, uint32_t gport, uint32_t mport,
			  uint32_t nr, bool map)
{
	logf_(F(hv), "ioport %#x->%#x x%u %d", gport, mport, nr, map);
	return gport == 0x3c0 && map ? -EPERM : 0;
}

static void test_igd_gfx_passthru_vga(void **state)
{
	struct xen_host_res res = { .real = true, .sbdf = 0x0010, .gsi = 16 };
	struct xen_server_opts o = { .guest_sbdf = SBDF, .gfx_passthru = true };
	static struct xen_hv_ops failing;
	struct ptdm_err err = { "" };
	struct host_dev *h = NULL;
	struct rig r;
	int a, p0, p1, m, en;

	(void)state;
	if (image_open(&h, th_dump("intel-46a6-alderlake-p-igd.lspci-x4.txt"),
		       NULL, &err))
		fail_msg("%s", err.msg);
	r.f = fake_new();
	r.h = h;
	r.d = th_attach(h, NULL);
	assert_int_equal(xen_server_new(&r.s, &r.f->hv, r.d, &res, &o, &err),
			 0);
	a = find(r.f, 0, "assign 0x10 1");
	p0 = find(r.f, 0, "ioport 0x3b0->0x3b0 x12 1");
	p1 = find(r.f, 0, "ioport 0x3c0->0x3c0 x32 1");
	m = find(r.f, 0, "p2m 0xa0->0xa0 x32 1");
	en = find(r.f, 0, "enable 7 1");
	assert_true(a >= 0 && a < p0 && p0 < p1 && p1 < m && m < en);
	r.f->nlog = 0;
	xen_server_free(r.s);
	r.s = NULL;
	p0 = find(r.f, 0, "ioport 0x3b0->0x3b0 x12 0");
	p1 = find(r.f, 0, "ioport 0x3c0->0x3c0 x32 0");
	m = find(r.f, 0, "p2m 0xa0->0xa0 x32 0");
	a = find(r.f, 0, "assign 0x10 0");
	assert_true(p0 >= 0 && p0 < p1 && p1 < m && m < a);
	rig_down(&r);

	/* not asked: none of it */
	o.gfx_passthru = false;
	h = NULL;
	assert_int_equal(image_open(&h, th_dump("intel-46a6-alderlake-p-igd."
						"lspci-x4.txt"), NULL, &err), 0);
	r.f = fake_new();
	r.h = h;
	r.d = th_attach(h, NULL);
	assert_int_equal(xen_server_new(&r.s, &r.f->hv, r.d, &res, &o, &err),
			 0);
	assert_int_equal(find(r.f, 0, "ioport 0x3b0->0x3b0 x12 1"), -1);
	assert_int_equal(find(r.f, 0, "p2m 0xa0->0xa0 x32 1"), -1);
	rig_down(&r);

	/* asked, but no Intel VGA device (edu), or an image: none */
	o.gfx_passthru = true;
	r.f = fake_new();
	r.d = edu_dev(&r.h, NULL);
	assert_int_equal(xen_server_new(&r.s, &r.f->hv, r.d, &res, &o, &err),
			 0);
	assert_int_equal(find(r.f, 0, "ioport 0x3b0->0x3b0 x12 1"), -1);
	rig_down(&r);
	h = NULL;
	assert_int_equal(image_open(&h, th_dump("intel-46a6-alderlake-p-igd."
						"lspci-x4.txt"), NULL, &err), 0);
	r.f = fake_new();
	r.h = h;
	r.d = th_attach(h, NULL);
	{
		struct xen_host_res img = { .gsi = -1 };

		assert_int_equal(xen_server_new(&r.s, &r.f->hv, r.d, &img, &o,
						&err), 0);
	}
	assert_int_equal(find(r.f, 0, "ioport 0x3b0->0x3b0 x12 1"), -1);
	rig_down(&r);

	/* a mapping Xen refuses: the device is not served, and what was
	 * mapped is unmapped again */
	h = NULL;
	assert_int_equal(image_open(&h, th_dump("intel-46a6-alderlake-p-igd."
						"lspci-x4.txt"), NULL, &err), 0);
	r.f = fake_new();
	failing = *r.f->hv.ops;
	failing.map_ioport = f_ioport_fails;
	r.f->hv.ops = &failing;
	r.h = h;
	r.d = th_attach(h, NULL);
	assert_int_equal(xen_server_new(&r.s, &r.f->hv, r.d, &res, &o, &err),
			 -EPERM);
	assert_non_null(strstr(err.msg, "VGA ports at 0x3c0"));
	r.s = NULL;
	p0 = find(r.f, 0, "ioport 0x3b0->0x3b0 x12 0");
	assert_true(p0 >= 0);
	assert_int_equal(find(r.f, 0, "ioport 0x3c0->0x3c0 x32 0"), -1);
	assert_int_equal(find(r.f, 0, "p2m 0xa0->0xa0 x32 1"), -1);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle_order),
		cmocka_unit_test(test_config_and_bars),
		cmocka_unit_test(test_hostile_requests),
		cmocka_unit_test(test_rep_through_guest_memory),
		cmocka_unit_test(test_cf8_latch),
		cmocka_unit_test(test_image_interrupts),
		cmocka_unit_test(test_real_device_sequence),
		cmocka_unit_test(test_toolstack_assigns),
		cmocka_unit_test(test_multi_message_msi),
		cmocka_unit_test(test_multi_message_msi_refused),
		cmocka_unit_test(test_shared_gsi),
		cmocka_unit_test(test_domain_gone),
		cmocka_unit_test(test_quirk_window_on_real_mmio),
		cmocka_unit_test(test_romfile_and_rombar),
		cmocka_unit_test(test_function_of_a_slot),
		cmocka_unit_test(test_igd_opregion_mapped),
		cmocka_unit_test(test_igd_gfx_passthru_vga),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
