/*
 * fuzz_xen.c - libFuzzer target: a hostile guest and a hostile ring
 * against the Xen ioreq-server front end (xen.c), behind a silent fake
 * hypervisor with 64 KiB of guest memory.
 *
 * Input: byte 0 picks an image or a real device (p2m / pirq paths), then
 * 32-byte records, each one of:
 *   an ioreq in vCPU slot 0 or 1 (type, addr, data, count, size, dir, df,
 *   data_is_ptr as given, unchecked), a buffered-ring entry with arbitrary
 *   pointers, or an interrupt raised by the image.
 * Must never crash, leak, hang or trip a sanitizer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xen/hvm/ioreq.h>

#include "ptdm/dev.h"
#include "ptdm/image.h"
#include "ptdm/log.h"
#include "ptdm/xen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (64u << 10)

struct fake {
	struct xen_hv hv;
	ioreq_t page[128]; /* one ioreq page */
	buffered_iopage_t buf;
	uint8_t ram[RAM];
	uint32_t pending;
	bool has_pending;
	int efd;
	int pirq;
};

static struct fake *F(struct xen_hv *hv)
{
	return (struct fake *)hv;
}

static int ok0(void)
{
	return 0;
}

static int f_nr(struct xen_hv *hv, unsigned *n)
{
	*n = 2;
	return 0;
}

static bool f_alive(struct xen_hv *hv)
{
	return true;
}

static int f_create(struct xen_hv *hv, uint16_t *id, void **p, void **b,
		    uint32_t *port)
{
	*id = 1;
	*p = F(hv)->page;
	*b = &F(hv)->buf;
	*port = 9;
	F(hv)->page[0].vp_eport = 1;
	F(hv)->page[1].vp_eport = 2;
	return 0;
}

static int f_bind(struct xen_hv *hv, uint32_t remote, uint32_t *local)
{
	*local = remote;
	return 0;
}

static int f_pending(struct xen_hv *hv, uint32_t *local)
{
	if (!F(hv)->has_pending)
		return -EAGAIN;
	F(hv)->has_pending = false;
	*local = F(hv)->pending;
	return 0;
}

static int f_efd(struct xen_hv *hv)
{
	return F(hv)->efd;
}

static int f_guest_rw(struct xen_hv *hv, uint64_t gpa, void *buf, size_t len,
		      bool write)
{
	if (gpa >= RAM || len > RAM - gpa)
		return -EFAULT;
	if (write)
		memcpy(F(hv)->ram + gpa, buf, len);
	else
		memcpy(buf, F(hv)->ram + gpa, len);
	return 0;
}

static int f_pirq(struct xen_hv *hv, int *pirq)
{
	*pirq = F(hv)->pirq++;
	return 0;
}

static int f_pirq_msi(struct xen_hv *hv, unsigned s, int e, uint64_t t,
		      int *pirq)
{
	return f_pirq(hv, pirq);
}

static int f_pirq_gsi(struct xen_hv *hv, int gsi, int *pirq)
{
	return f_pirq(hv, pirq);
}

/* Calls whose result does not matter here all succeed. */
#define OK(fn, ...)                        \
	static int fn(struct xen_hv *hv, __VA_ARGS__) \
	{                                  \
		return ok0();              \
	}
OK(f_destroy, uint16_t id)
OK(f_enable, uint16_t id, bool on)
OK(f_pcidev, uint16_t id, unsigned sbdf, bool map)
OK(f_range, uint16_t id, bool mmio, uint64_t s, uint64_t e, bool map)
OK(f_port, uint32_t p)
OK(f_msi, uint64_t a, uint32_t d)
OK(f_intx, unsigned s, unsigned p, bool l)
OK(f_assign, unsigned s, bool on)
OK(f_mmio, uint64_t g, uint64_t m, uint64_t n, bool map)
OK(f_ioport, uint32_t g, uint32_t m, uint32_t n, bool map)
OK(f_unmap, int pirq)
OK(f_msi_bind, uint32_t v, int p, uint32_t f, uint64_t t, bool b)
OK(f_intx_bind, int g, unsigned s, unsigned p, bool b)

static void f_close(struct xen_hv *hv)
{
}

static const struct xen_hv_ops ops = {
	.nr_vcpus = f_nr,	     .domain_alive = f_alive,
	.server_create = f_create,   .server_destroy = f_destroy,
	.server_enable = f_enable,   .map_pcidev = f_pcidev,
	.map_range = f_range,	     .evtchn_fd = f_efd,
	.evtchn_bind = f_bind,	     .evtchn_pending = f_pending,
	.evtchn_unmask = f_port,     .evtchn_notify = f_port,
	.guest_rw = f_guest_rw,	     .inject_msi = f_msi,
	.set_intx = f_intx,	     .assign_device = f_assign,
	.map_mmio = f_mmio,	     .map_ioport = f_ioport,
	.pirq_map_msi = f_pirq_msi,  .pirq_map_gsi = f_pirq_gsi,
	.pirq_unmap = f_unmap,	     .msi_bind = f_msi_bind,
	.intx_bind = f_intx_bind,    .close = f_close,
};

static void silent(enum ptdm_log_level lvl, const char *line, void *o)
{
}

/* BAR0 mem32 16 KiB (MSI-X table 0x2000, PBA 0x3000), BAR2 I/O 32 bytes,
 * MSI with masking at 0x50, MSI-X at 0x70, INTA. */
static struct host_dev *device(void)
{
	uint8_t c[256] = { 0x86, 0x80, 0xd3, 0x10 };
	struct ptdm_err err;
	struct host_dev *h;

	c[0x06] = 0x10;                 /* capability list */
	c[0x0b] = 0x02;                 /* class: network */
	c[0x10] = 0x00;                 /* BAR0 mem32 */
	c[0x18] = 0x01;                 /* BAR2 I/O */
	c[0x34] = 0x50;
	c[0x3d] = 1;
	c[0x50] = 0x05, c[0x51] = 0x70; /* MSI, next: MSI-X */
	c[0x52] = 0x80, c[0x53] = 0x01; /* 64-bit, per-vector masks */
	c[0x70] = 0x11, c[0x72] = 7;    /* MSI-X, 8 vectors */
	c[0x74] = 0x00, c[0x75] = 0x20; /* table BAR0 + 0x2000 */
	c[0x78] = 0x00, c[0x79] = 0x30; /* PBA BAR0 + 0x3000 */
	if (image_new(&h, "fuzz", c, 256, &err))
		abort();
	image_set_bar_size(h, 0, 0x4000, &err);
	image_set_bar_size(h, 2, 0x20, &err);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t sizes[] = { 1, 2, 4, 8, 0, 3, 16, 0x80000000u };
	struct xen_server_opts o = { .guest_sbdf = 3 << 3, .cf8 = true };
	struct xen_host_res res = { 0 };
	struct ptdm_dev_opts dopts;
	struct xen_server *s;
	struct ptdm_dev *d;
	struct ptdm_err err;
	struct host_dev *h;
	struct fake *f;

	if (size < 1)
		return 0;
	ptdm_log_set_sink(silent, NULL);
	f = calloc(1, sizeof(*f));
	f->hv.ops = &ops;
	f->hv.domid = 1;
	f->efd = eventfd(0, EFD_CLOEXEC);
	f->pirq = 50;
	h = device();
	ptdm_dev_opts_init(&dopts);
	dopts.permissive = data[0] & 2;
	if (ptdm_dev_attach(&d, h, &dopts, &err))
		abort();
	if (data[0] & 1) {
		res.real = true;
		res.sbdf = 0x100;
		res.gsi = 11;
		res.phys[0] = 0xd0000000;
		res.phys[2] = 0xe000;
	}
	if (xen_server_new(&s, &f->hv, d, &res, &o, &err))
		abort();
	for (size_t i = 1; i + 32 <= size && i < 32 * 2048; i += 32) {
		const uint8_t *p = data + i;
		unsigned kind = p[0] % 8;
		ioreq_t *q = &f->page[p[0] >> 7];

		if (kind < 6) { /* an ioreq as the guest made Xen write it */
			memset(q, 0, sizeof(*q));
			q->vp_eport = (uint32_t)(q - f->page) + 1;
			memcpy(&q->addr, p + 4, 8);
			memcpy(&q->data, p + 12, 8);
			memcpy(&q->count, p + 20, 4);
			q->count &= p[1] & 1 ? 0xffffffffu : 0x1f;
			q->size = sizes[p[2] & 7];
			q->type = p[1] & 2 ? (uint8_t)p[3] : (uint8_t)(p[3] % 3);
			if (kind < 3 && q->type == IOREQ_TYPE_PCI_CONFIG)
				q->addr = (uint64_t)(3 << 3) << 32 |
					  (q->addr & 0xfff);
			if (kind == 1 && q->type == IOREQ_TYPE_COPY)
				q->addr = 0xf0000000u | (q->addr & 0x3fff);
			q->dir = p[2] >> 3 & 1;
			q->df = p[2] >> 4 & 1;
			q->data_is_ptr = p[2] >> 5 & 1;
			if (q->data_is_ptr && p[1] & 4)
				q->data %= RAM;
			q->state = p[2] >> 6 ? STATE_IOREQ_READY : p[2] >> 6;
			f->pending = q->vp_eport;
			f->has_pending = true;
		} else if (kind == 6) { /* the buffered ring */
			buf_ioreq_t *e = &f->buf.buf_ioreq[p[1] %
							   IOREQ_BUFFER_SLOT_NUM];

			memcpy(e, p + 4, sizeof(*e));
			memcpy(&f->buf.write_pointer, p + 12, 4);
			if (p[2] & 1)
				f->buf.write_pointer = f->buf.read_pointer +
						       (p[3] & 3);
		} else {
			image_irq_raise(h, p[1] % 8);
		}
		xen_server_handle(s);
	}
	xen_server_free(s);
	ptdm_dev_free(d);
	host_close(h);
	close(f->efd);
	free(f);
	return 0;
}
