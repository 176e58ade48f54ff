/*
 * helpers.c - fixtures shared by the unit tests (see helpers.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include "helpers.h"
#include "host/image_priv.h"
#include "ptdm/image.h"
#include "ptdm/log.h"

void th_cfg_init(struct th_cfg *c, uint16_t vendor, uint16_t device,
		 unsigned size)
{
	memset(c, 0, sizeof(*c));
	c->size = size;
	th_put(c, 0x00, 2, vendor);
	th_put(c, 0x02, 2, device);
	th_put(c, 0x08, 4, 0x02000001); /* class 02 00 00, rev 1 */
	th_put(c, 0x2c, 2, vendor);
	th_put(c, 0x2e, 2, 0x1234);
	th_put(c, 0x3d, 1, 1); /* INTA */
}

void th_put(struct th_cfg *c, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		c->b[off + i] = (uint8_t)(v >> (8 * i));
}

uint32_t th_get(const struct th_cfg *c, unsigned off, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)c->b[off + i] << (8 * i);
	return v;
}

unsigned th_add_cap(struct th_cfg *c, unsigned pos, uint8_t id,
		    const uint8_t *body, size_t body_len)
{
	c->b[pos] = id;
	c->b[pos + 1] = 0;
	if (body)
		memcpy(c->b + pos + 2, body, body_len);
	if (c->last_cap)
		c->b[c->last_cap + 1] = (uint8_t)pos;
	else
		c->b[0x34] = (uint8_t)pos;
	c->b[0x06] |= 0x10; /* PCI_STATUS_CAP_LIST */
	c->last_cap = (uint8_t)pos;
	return pos;
}

unsigned th_add_ecap(struct th_cfg *c, unsigned pos, uint16_t id, uint8_t ver,
		     const uint8_t *body, size_t body_len)
{
	th_put(c, pos, 4, id | (uint32_t)(ver & 0xf) << 16);
	if (body)
		memcpy(c->b + pos + 4, body, body_len);
	if (c->last_ecap) {
		uint32_t h = th_get(c, c->last_ecap, 4);
		th_put(c, c->last_ecap, 4, (h & 0xfffff) | (uint32_t)pos << 20);
	}
	c->last_ecap = (uint16_t)pos;
	return pos;
}

void th_set_bar(struct th_cfg *c, int i, uint32_t reg, uint64_t size)
{
	th_put(c, i == PTDM_ROM_INDEX ? 0x30 : 0x10 + 4 * i, 4, reg);
	c->bar_size[i] = size;
}

struct host_dev *th_image(const struct th_cfg *c)
{
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };
	int rc = image_new(&h, "test", c->b, c->size, &err);

	if (rc)
		fail_msg("image_new: %s", err.msg);
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		if (h->bars[i].kind == HOST_BAR_MEM64_HI)
			continue;
		if (c->bar_size[i] || h->bars[i].kind != HOST_BAR_NONE) {
			rc = image_set_bar_size(h, i, c->bar_size[i], &err);
			if (rc)
				fail_msg("image_set_bar_size: %s", err.msg);
		}
	}
	return h;
}

struct ptdm_dev *th_attach(struct host_dev *h, const struct ptdm_dev_opts *o)
{
	struct ptdm_dev_opts def;
	struct ptdm_dev *d = NULL;
	struct ptdm_err err = { "" };

	if (!o) {
		ptdm_dev_opts_init(&def);
		o = &def;
	}
	if (ptdm_dev_attach(&d, h, o, &err))
		fail_msg("attach: %s", err.msg);
	return d;
}

struct ptdm_dev *th_dev(const struct th_cfg *c, const struct ptdm_dev_opts *o,
			struct host_dev **host_out)
{
	struct host_dev *h = th_image(c);

	*host_out = h;
	return th_attach(h, o);
}

void th_free(struct ptdm_dev *d, struct host_dev *h)
{
	ptdm_dev_free(d);
	host_close(h);
}

uint32_t th_rd(struct ptdm_dev *d, unsigned off, unsigned size)
{
	uint32_t v = 0xdeadbeef;
	int rc = ptdm_cfg_read(d, off, size, &v);

	if (rc)
		fail_msg("cfg read %#x/%u: %d", off, size, rc);
	return v;
}

void th_wr(struct ptdm_dev *d, unsigned off, unsigned size, uint32_t v)
{
	int rc = ptdm_cfg_write(d, off, size, v);

	if (rc)
		fail_msg("cfg write %#x/%u: %d", off, size, rc);
}

uint32_t th_host(struct host_dev *h, unsigned off, unsigned size)
{
	uint8_t b[4] = { 0 };
	uint32_t v = 0;

	if (h->ops->cfg_read(h, off, b, size))
		fail_msg("host read %#x", off);
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)b[i] << (8 * i);
	return v;
}

unsigned th_host_writes(struct host_dev *h)
{
	return ((struct image_dev *)h)->cfg_writes;
}

const char *th_dump(const char *name)
{
	static char path[4096];
	const char *dir = getenv("PTDM_DUMPS");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "../shared/pci-dumps",
		 name);
	return path;
}

static unsigned log_lines;
static size_t log_bytes;
static char log_last[512];

static void capture_sink(enum ptdm_log_level lvl, const char *line, void *o)
{
	(void)lvl;
	(void)o;
	log_lines++;
	log_bytes += strlen(line) + 1;
	snprintf(log_last, sizeof(log_last), "%s", line);
}

void th_log_capture(void)
{
	log_lines = 0;
	log_bytes = 0;
	log_last[0] = 0;
	ptdm_log_set_level(PTDM_LOG_DEBUG);
	ptdm_log_set_sink(capture_sink, NULL);
}

unsigned th_log_lines(void)
{
	return log_lines;
}

size_t th_log_bytes(void)
{
	return log_bytes;
}

const char *th_log_last(void)
{
	return log_last;
}

struct ptdm_dev *th_irq_dev(struct host_dev **host_out, unsigned msi_mmc)
{
	struct th_cfg c;
	uint8_t msi[22] = { 0 }, mx[10];
	uint16_t ctrl = PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT |
			(uint16_t)(msi_mmc << 1);
	uint16_t xctrl = 7;
	uint32_t table = 0x2000, pba = 0x3000;

	th_cfg_init(&c, 0x8086, 0x10d3, 256);
	th_set_bar(&c, 0, PCI_BASE_ADDRESS_MEM_TYPE_32, 0x4000);
	th_set_bar(&c, 2, PCI_BASE_ADDRESS_SPACE_IO, 0x20);
	th_put(&c, PCI_INTERRUPT_PIN, 1, 1);
	memcpy(msi, &ctrl, 2);
	th_add_cap(&c, TH_IRQ_MSI_CAP, PCI_CAP_ID_MSI, msi, sizeof(msi));
	memcpy(mx, &xctrl, 2);
	memcpy(mx + 2, &table, 4);
	memcpy(mx + 6, &pba, 4);
	th_add_cap(&c, TH_IRQ_MSIX_CAP, PCI_CAP_ID_MSIX, mx, sizeof(mx));
	return th_dev(&c, NULL, host_out);
}

int th_guest_ram(uint64_t size)
{
	int fd = memfd_create("guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
			       F_SEAL_SEAL), 0);
	return fd;
}

/* ---- a host that implements the ops an image leaves NULL ---- */

struct th_fake_host th_fake;
static struct host_ops fake_ops;

static int fake_irq_set(struct host_dev *h, enum host_irq_kind kind,
			unsigned start, unsigned count, const int *fds)
{
	(void)h;
	th_fake.irq_sets++;
	th_fake.irq_kind = (int)kind;
	th_fake.irq_start = start;
	th_fake.irq_count = count;
	th_fake.irq_fd0 = count && fds ? fds[0] : -1;
	return th_fake.irq_set_rc;
}

static int fake_intx_unmask(struct host_dev *h)
{
	(void)h;
	th_fake.intx_unmasks++;
	return 0;
}

static int fake_intx_unmask_fd(struct host_dev *h, int fd)
{
	(void)h;
	th_fake.unmask_fd_calls++;
	th_fake.unmask_fd = fd;
	return 0;
}

static int fake_irq_count(struct host_dev *h, enum host_irq_kind kind,
			  unsigned *count)
{
	(void)h;
	if ((unsigned)kind >= HOST_IRQ_NUM)
		return -EINVAL;
	*count = th_fake.vectors[kind];
	return 0;
}

static int fake_dma_map(struct host_dev *h, uint64_t iova, void *vaddr,
			uint64_t size, unsigned prot)
{
	(void)h;
	th_fake.dma_maps++;
	th_fake.dma_iova = iova;
	th_fake.dma_vaddr = vaddr;
	th_fake.dma_size = size;
	th_fake.dma_prot = prot;
	return th_fake.dma_map_rc;
}

static int fake_dma_unmap(struct host_dev *h, uint64_t iova, uint64_t size)
{
	(void)h;
	th_fake.dma_unmaps++;
	th_fake.dma_iova = iova;
	th_fake.dma_size = size;
	return th_fake.dma_unmap_rc;
}

static int fake_dirty_start(struct host_dev *h, uint64_t page,
			    const struct host_dma_range *r, size_t n)
{
	(void)h;
	if (!page && !r && !n)
		return 0; /* probe */
	th_fake.dirty_starts++;
	th_fake.dirty_page = page;
	th_fake.dirty_n = (unsigned)n;
	for (size_t i = 0; i < n && i < 4; i++)
		th_fake.dirty_r[i] = r[i];
	return 0;
}

static int fake_dirty_report(struct host_dev *h, uint64_t iova, uint64_t size,
			     uint64_t page, uint64_t *bm)
{
	(void)h;
	(void)iova;
	if (size / page > 64)
		return -E2BIG;
	bm[0] = th_fake.dirty_bits & (size / page == 64
					      ? ~0ull
					      : (1ull << (size / page)) - 1);
	th_fake.dirty_bits = 0;
	return 0;
}

static int fake_dirty_stop(struct host_dev *h)
{
	(void)h;
	th_fake.dirty_stops++;
	return 0;
}

static int fake_mig_flags(struct host_dev *h, uint64_t *flags)
{
	(void)h;
	*flags = th_fake.mig_flags;
	return 0;
}

static int fake_mig_set_state(struct host_dev *h, uint32_t state)
{
	(void)h;
	if (th_fake.narcs < 16)
		th_fake.arcs[th_fake.narcs++] = state;
	return th_fake.mig_rc;
}

static int fake_mig_data_read(struct host_dev *h, void *buf, size_t len,
			      size_t *got)
{
	(void)h;
	(void)buf;
	(void)len;
	*got = 0;
	return 0;
}

void th_fake_mig(uint64_t flags)
{
	th_fake.mig_flags = flags;
	fake_ops.mig_flags = fake_mig_flags;
	fake_ops.mig_set_state = fake_mig_set_state;
	fake_ops.mig_data_read = fake_mig_data_read;
}

void th_fake_dirty(void)
{
	fake_ops.dirty_start = fake_dirty_start;
	fake_ops.dirty_report = fake_dirty_report;
	fake_ops.dirty_stop = fake_dirty_stop;
}

void th_fake_host(struct host_dev *h)
{
	memset(&th_fake, 0, sizeof(th_fake));
	th_fake.unmask_fd = th_fake.irq_fd0 = th_fake.irq_kind = -1;
	fake_ops = *h->ops;
	fake_ops.name = "fake";
	fake_ops.irq_set = fake_irq_set;
	fake_ops.intx_unmask = fake_intx_unmask;
	fake_ops.intx_unmask_fd = fake_intx_unmask_fd;
	fake_ops.irq_count = fake_irq_count;
	fake_ops.dma_map = fake_dma_map;
	fake_ops.dma_unmap = fake_dma_unmap;
	h->ops = &fake_ops;
}

static int vfu_pump(void *opaque)
{
	return vfu_conn_handle(&((struct th_vfu *)opaque)->srv);
}

void th_vfu_open(struct th_vfu *f, struct host_dev *h, struct ptdm_dev *d,
		 bool negotiate)
{
	struct ptdm_err err = { "" };
	int sv[2];

	f->h = h;
	f->d = h ? d : NULL;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(vfu_conn_init(&f->srv, sv[0], d), 0);
	vfu_client_init_fd(&f->cli, sv[1]);
	f->cli.pump = vfu_pump;
	f->cli.pump_opaque = f;
	if (negotiate && vfu_client_version(&f->cli, NULL, &err))
		fail_msg("version: %s", err.msg);
}

void th_vfu_close(struct th_vfu *f)
{
	vfu_client_close(&f->cli);
	vfu_conn_close(&f->srv);
	if (f->h)
		th_free(f->d, f->h);
	f->d = NULL;
	f->h = NULL;
}

int th_feature(struct th_vfu *f, uint32_t flags, const void *data,
	       size_t dlen, void *out, size_t omax)
{
	return vfu_client_feature(&f->cli, flags, data, dlen, out, omax, NULL);
}
