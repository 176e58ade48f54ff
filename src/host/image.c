/*
 * image.c - the image host backend: a recorded device whose config space is
 * a byte array and whose BARs are plain memory.
 *
 * The host-side config bytes are exactly what a real device would hold, so
 * tests can check that nothing a guest writes reaches them (the advisory
 * tests).  BAR memory is a memfd per BAR, created on first use and sparse,
 * so an 8 GiB GPU BAR costs nothing until touched, and a VMM can map the
 * same memory ptdm sees (bar_fd).  The memfd is sealed at its size
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) before anyone sees it: a
 * client that got it cannot ftruncate it and turn ptdm's next trapped
 * access into SIGBUS.  Reset restores the config bytes recorded at
 * creation and drops BAR contents (punching holes keeps the size).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host/image_priv.h"
#include "util/pci.h"
#include "ptdm/dev.h"
#include "ptdm/image.h"
#include "util/bigbuf.h"
#include "util/evfd.h"

static struct image_dev *to_image(struct host_dev *h)
{
	return (struct image_dev *)h;
}

static int image_cfg_read(struct host_dev *h, unsigned off, void *buf,
			  size_t len)
{
	struct image_dev *im = to_image(h);

	if (off > h->cfg_size || len > h->cfg_size - off)
		return -EINVAL;
	memcpy(buf, im->cfg + off, len);
	return 0;
}

static int image_cfg_write(struct host_dev *h, unsigned off, const void *buf,
			   size_t len)
{
	struct image_dev *im = to_image(h);

	const uint8_t *p = buf;

	if (off > h->cfg_size || len > h->cfg_size - off)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = im->rw1c[off + i];

		im->cfg[off + i] = (uint8_t)((p[i] & ~c) |
					     (im->cfg[off + i] & c & ~p[i]));
	}
	im->cfg_writes++;
	return 0;
}

/* Create BAR memory on first use; the ROM and unsized BARs have none. */
static int bar_mem_create(struct image_dev *im, int bar)
{
	const struct host_bar *b = &im->h.bars[bar];
	void *p;
	int fd;

	if (im->bar_mem[bar])
		return 0;
	fd = memfd_create("ptdm-image-bar", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)b->size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		int e = -errno;

		close(fd);
		return e;
	}
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		 fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	im->bar_mem[bar] = p;
	im->bar_maplen[bar] = b->size;
	im->bar_fd[bar] = fd;
	return 0;
}

static int bar_usable(struct image_dev *im, int bar)
{
	const struct host_bar *b;

	if (bar < 0 || bar > PTDM_ROM_INDEX)
		return -EINVAL;
	b = &im->h.bars[bar];
	if (b->kind == HOST_BAR_NONE || b->kind == HOST_BAR_MEM64_HI ||
	    !b->size_known || !b->size)
		return -ENXIO;
	return 0;
}

static int bar_mem(struct image_dev *im, int bar, uint64_t off, size_t len,
		   uint8_t **out)
{
	int rc = bar_usable(im, bar);

	if (rc)
		return rc;
	if (off > im->h.bars[bar].size || len > im->h.bars[bar].size - off)
		return -ERANGE;
	rc = bar_mem_create(im, bar);
	if (rc)
		return rc;
	*out = (uint8_t *)im->bar_mem[bar] + off;
	return 0;
}

static int image_bar_fd(struct host_dev *h, int bar, uint64_t *offset)
{
	struct image_dev *im = to_image(h);
	int rc = bar_usable(im, bar);

	if (rc)
		return rc;
	if (bar == PTDM_ROM_INDEX || h->bars[bar].kind == HOST_BAR_IO)
		return -ENOTSUP; /* trapped: the ROM is read-only, I/O is I/O */
	rc = bar_mem_create(im, bar);
	if (rc)
		return rc;
	*offset = 0;
	return im->bar_fd[bar];
}

static int image_bar_read(struct host_dev *h, int bar, uint64_t off, void *buf,
			  size_t len)
{
	uint8_t *p;
	int rc = bar_mem(to_image(h), bar, off, len, &p);

	if (rc)
		return rc;
	memcpy(buf, p, len);
	return 0;
}

static int image_bar_write(struct host_dev *h, int bar, uint64_t off,
			   const void *buf, size_t len)
{
	uint8_t *p;
	int rc;

	if (bar == PTDM_ROM_INDEX)
		return -EPERM;
	rc = bar_mem(to_image(h), bar, off, len, &p);
	if (rc)
		return rc;
	memcpy(p, buf, len);
	return 0;
}

static void drop_one(struct image_dev *im, int i)
{
	if (im->bar_mem[i])
		munmap(im->bar_mem[i], im->bar_maplen[i]);
	if (im->bar_fd[i] >= 0)
		close(im->bar_fd[i]);
	im->bar_mem[i] = NULL;
	im->bar_maplen[i] = 0;
	im->bar_fd[i] = -1;
}

static void drop_bar_mem(struct image_dev *im)
{
	for (int i = 0; i <= PTDM_ROM_INDEX; i++)
		drop_one(im, i);
}

static int image_reset(struct host_dev *h)
{
	struct image_dev *im = to_image(h);

	memcpy(im->cfg, im->cfg_initial, sizeof(im->cfg));
	/* registers back to 0; the fds a VMM holds stay valid */
	for (int i = 0; i <= PTDM_ROM_INDEX; i++)
		if (im->bar_fd[i] >= 0 &&
		    fallocate(im->bar_fd[i], FALLOC_FL_PUNCH_HOLE |
				     FALLOC_FL_KEEP_SIZE, 0,
			      (off_t)im->bar_maplen[i]))
			memset(im->bar_mem[i], 0, im->bar_maplen[i]);
	im->resets++;
	return 0;
}

static int image_irq_set(struct host_dev *h, enum host_irq_kind kind,
			 unsigned start, unsigned count, const int *fds)
{
	struct image_dev *im = to_image(h);
	unsigned max = kind == HOST_IRQ_INTX  ? 1
		       : kind == HOST_IRQ_MSI ? 32
					      : 2048;

	if ((unsigned)kind > HOST_IRQ_MSIX)
		return -EINVAL;
	if (!count) {
		free(im->irq_fds[kind]);
		im->irq_fds[kind] = NULL;
		im->irq_n[kind] = 0;
		return 0;
	}
	if (start >= max || count > max - start)
		return -EINVAL;
	for (int k = 0; k <= HOST_IRQ_MSIX; k++) /* kinds exclude each other */
		if (k != (int)kind) {
			free(im->irq_fds[k]);
			im->irq_fds[k] = NULL;
			im->irq_n[k] = 0;
		}
	if (start + count > im->irq_n[kind]) {
		int *n = realloc(im->irq_fds[kind], (start + count) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (unsigned i = im->irq_n[kind]; i < start + count; i++)
			n[i] = -1;
		im->irq_fds[kind] = n;
		im->irq_n[kind] = start + count;
	}
	memcpy(im->irq_fds[kind] + start, fds, count * sizeof(*fds));
	im->intx_masked = false;
	return 0;
}

static int image_intx_unmask(struct host_dev *h)
{
	to_image(h)->intx_masked = false;
	return 0;
}

int image_irq_raise(struct host_dev *h, unsigned vec)
{
	struct image_dev *im;
	int kind, rc;

	if (!image_is_image(h))
		return -EINVAL;
	im = to_image(h);
	for (kind = HOST_IRQ_MSIX; kind >= HOST_IRQ_INTX; kind--)
		if (im->irq_n[kind])
			break;
	if (kind < 0 || vec >= im->irq_n[kind] || im->irq_fds[kind][vec] < 0)
		return -ENOENT;
	if (kind == HOST_IRQ_INTX) {
		if (im->intx_masked)
			return 0; /* still asserted: a level is not counted */
		im->intx_masked = true;
	}
	/* never blocks; a full counter is a signal already pending */
	rc = evfd_signal(im->irq_fds[kind][vec]);
	return rc == -EAGAIN ? 0 : rc;
}

static void image_close(struct host_dev *h)
{
	struct image_dev *im = to_image(h);

	for (int k = 0; k <= HOST_IRQ_MSIX; k++)
		free(im->irq_fds[k]);
	drop_bar_mem(im);
	free(im->opregion);
	free(im);
}

/* The IGD OpRegion the image recorded: a copy for the core to keep. */
static int image_igd_opregion(struct host_dev *h, uint8_t **buf, size_t *len)
{
	struct image_dev *im = to_image(h);

	if (!im->opregion)
		return -ENOENT;
	*buf = malloc(im->opregion_len);
	if (!*buf)
		return -ENOMEM;
	memcpy(*buf, im->opregion, im->opregion_len);
	*len = im->opregion_len;
	return 0;
}

int image_set_opregion(struct host_dev *h, const uint8_t *op, size_t len,
		       struct ptdm_err *err)
{
	struct image_dev *im = image_is_image(h) ? to_image(h) : NULL;
	uint8_t *copy;
	int rc;

	if (!im)
		return ptdm_errf(err, -EINVAL, "%s: not an image", h->name);
	rc = ptdm_igd_opregion_check(op, len, err);
	if (rc)
		return rc;
	copy = malloc(len);
	if (!copy)
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", h->name);
	memcpy(copy, op, len);
	free(im->opregion);
	im->opregion = copy;
	im->opregion_len = len;
	return 0;
}

/*
 * Migration state of an image: its config bytes and the pages of BAR
 * memory that hold data (found with SEEK_DATA, so an 8 GiB BAR with two
 * written pages costs two pages).
 *   u32 magic, u32 cfg_size, cfg[cfg_size], then chunks until the end:
 *   u32 bar, u32 len (<= 4096), u64 offset (page aligned), data[len]
 */
#define STATE_MAGIC 0x474d4950u /* "PIMG" */
#define STATE_PAGE 4096u
#define STATE_MAX (1ull << 30)

struct blob {
	uint8_t *p;
	size_t len, cap;
};

static int blob_put(struct blob *b, const void *data, size_t len)
{
	if (b->len + len > STATE_MAX)
		return -EFBIG;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		uint8_t *n;

		while (cap < b->len + len)
			cap *= 2;
		n = realloc(b->p, cap);
		if (!n)
			return -ENOMEM;
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static bool page_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static uint64_t image_state_max(struct host_dev *h);

static int image_state_save(struct host_dev *h, uint8_t **out, size_t *len)
{
	struct image_dev *im = to_image(h);
	/* room for the largest state at once: no regrowth, huge pages */
	struct blob b = { .cap = image_state_max(h) };
	uint32_t head[2] = { STATE_MAGIC, h->cfg_size };
	int rc;

	b.p = malloc(b.cap);
	if (!b.p)
		return -ENOMEM;
	bigbuf_advise(b.p, b.cap);
	rc = blob_put(&b, head, sizeof(head));

	rc = rc ? rc : blob_put(&b, im->cfg, h->cfg_size);
	for (int i = 0; !rc && i <= PTDM_ROM_INDEX; i++) {
		off_t pos = 0, end;
		uint64_t size = im->bar_maplen[i];

		if (im->bar_fd[i] < 0)
			continue;
		while (!rc && (uint64_t)pos < size) {
			pos = lseek(im->bar_fd[i], pos, SEEK_DATA);
			if (pos < 0)
				break; /* no more data */
			end = lseek(im->bar_fd[i], pos, SEEK_HOLE);
			if (end < 0 || (uint64_t)end > size)
				end = (off_t)size;
			pos &= ~(off_t)(STATE_PAGE - 1);
			for (; !rc && pos < end; pos += STATE_PAGE) {
				const uint8_t *pg = (uint8_t *)im->bar_mem[i] + pos;
				uint32_t n = size - (uint64_t)pos < STATE_PAGE
						     ? (uint32_t)(size - (uint64_t)pos)
						     : STATE_PAGE;
				struct {
					uint32_t bar, len;
					uint64_t off;
				} c = { (uint32_t)i, n, (uint64_t)pos };

				if (page_zero(pg, n))
					continue;
				rc = blob_put(&b, &c, sizeof(c));
				rc = rc ? rc : blob_put(&b, pg, n);
			}
		}
	}
	if (rc) {
		free(b.p);
		return rc;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* header, config, then every usable BAR whole, a chunk header a page */
static uint64_t image_state_max(struct host_dev *h)
{
	struct image_dev *im = to_image(h);
	uint64_t max = 2 * sizeof(uint32_t) + h->cfg_size;

	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		uint64_t size = h->bars[i].size;

		if (bar_usable(im, i))
			continue;
		max += size + (size + STATE_PAGE - 1) / STATE_PAGE *
				      (2 * sizeof(uint32_t) + sizeof(uint64_t));
		if (max > STATE_MAX)
			return STATE_MAX;
	}
	return max;
}

/*
 * The chunks from at on that continue one another in the same BAR (a
 * run), faulted in with one call before they are copied: a BAR of 64 MiB
 * would otherwise take 16 K page faults.  Only what the stream writes is
 * populated: a sparse BAR stays sparse.
 */
static void populate_run(const uint8_t *buf, size_t len, size_t at,
			 uint8_t *dst, size_t *run, uint8_t **run_end)
{
	struct {
		uint32_t bar, len;
		uint64_t off;
	} c, first;
	size_t n = 0;

	memcpy(&first, buf + at, sizeof(first));
	while (len - at >= sizeof(c)) {
		memcpy(&c, buf + at, sizeof(c));
		if (c.bar != first.bar || c.off != first.off + n)
			break;
		n += c.len;
		at += sizeof(c) + c.len;
	}
	bigbuf_populate(dst, n);
	*run = n;
	*run_end = dst + n;
}

static int image_state_load(struct host_dev *h, const uint8_t *buf, size_t len)
{
	uint8_t *run_end = NULL;
	size_t run = 0;
	struct image_dev *im = to_image(h);
	uint32_t head[2];
	size_t at;
	int rc;

	/* validate everything first: nothing changes on a bad stream */
	if (len < sizeof(head))
		return -EINVAL;
	memcpy(head, buf, sizeof(head));
	if (head[0] != STATE_MAGIC || head[1] != h->cfg_size ||
	    len < sizeof(head) + head[1])
		return -EINVAL;
	/* the same device: identity and class as recorded here */
	if (memcmp(buf + sizeof(head), im->cfg_initial, 4) ||
	    memcmp(buf + sizeof(head) + 8, im->cfg_initial + 8, 4))
		return -ENODEV;
	for (at = sizeof(head) + head[1]; at < len;) {
		struct {
			uint32_t bar, len;
			uint64_t off;
		} c;
		const struct host_bar *b;

		if (len - at < sizeof(c))
			return -EINVAL;
		memcpy(&c, buf + at, sizeof(c));
		at += sizeof(c);
		if (c.bar > PTDM_ROM_INDEX || !c.len || c.len > STATE_PAGE ||
		    c.off % STATE_PAGE || len - at < c.len)
			return -EINVAL;
		b = &h->bars[c.bar];
		if (bar_usable(im, (int)c.bar) || c.off > b->size ||
		    c.len > b->size - c.off)
			return -EINVAL;
		at += c.len;
	}
	/* apply */
	memcpy(im->cfg, buf + sizeof(head), head[1]);
	for (int i = 0; i <= PTDM_ROM_INDEX; i++)
		if (im->bar_fd[i] >= 0 &&
		    fallocate(im->bar_fd[i], FALLOC_FL_PUNCH_HOLE |
				     FALLOC_FL_KEEP_SIZE, 0,
			      (off_t)im->bar_maplen[i]))
			memset(im->bar_mem[i], 0, im->bar_maplen[i]);
	for (at = sizeof(head) + head[1]; at < len;) {
		struct {
			uint32_t bar, len;
			uint64_t off;
		} c;
		uint8_t *dst;

		memcpy(&c, buf + at, sizeof(c));
		at += sizeof(c);
		rc = bar_mem(im, (int)c.bar, c.off, c.len, &dst);
		if (rc)
			return rc;
		if (dst >= run_end || dst < run_end - run)
			populate_run(buf, len, at - sizeof(c), dst, &run,
				     &run_end);
		memcpy(dst, buf + at, c.len);
		at += c.len;
	}
	return 0;
}

static const struct host_ops image_ops = {
	.name = "image",
	.cfg_read = image_cfg_read,
	.cfg_write = image_cfg_write,
	.bar_read = image_bar_read,
	.bar_write = image_bar_write,
	.reset = image_reset,
	.bar_fd = image_bar_fd,
	.state_save = image_state_save,
	.state_load = image_state_load,
	.state_max = image_state_max,
	.mig_flags = host_blob_mig_flags,
	.mig_set_state = host_blob_mig_set_state,
	.mig_data_read = host_blob_mig_data_read,
	.mig_data_write = host_blob_mig_data_write,
	.mig_data_size = host_blob_mig_data_size,
	.irq_set = image_irq_set,
	.intx_unmask = image_intx_unmask,
	.igd_opregion = image_igd_opregion,
	.close = image_close,
};

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/*
 * BAR kinds from the BAR registers.  A zero register is taken as "not
 * implemented" (an unassigned 32-bit BAR looks the same; a sizes file or
 * image_set_bar_size() says otherwise).
 */
static void kinds_from_config(struct image_dev *im)
{
	struct host_bar *bars = im->h.bars;
	uint8_t hdr = im->cfg[0x0e] & 0x7f;

	memset(bars, 0, sizeof(im->h.bars));
	if (hdr != 0)
		return; /* bridges are refused by the core; no BARs to guess */
	for (int i = 0; i < PTDM_NUM_BARS; i++) {
		uint32_t v = le32_at(im->cfg + 0x10 + 4 * i);

		if (v == 0)
			continue;
		bars[i].kind = host_bar_decode(v, i, &bars[i].prefetch);
		if (bars[i].kind == HOST_BAR_MEM64) {
			bars[i + 1].kind = HOST_BAR_MEM64_HI;
			bars[i + 1].size_known = true;
			i++;
		}
	}
	if (le32_at(im->cfg + 0x30) & ~0x7ffu)
		bars[PTDM_ROM_INDEX].kind = HOST_BAR_ROM;
	for (int i = 0; i <= PTDM_ROM_INDEX; i++)
		if (bars[i].kind == HOST_BAR_NONE)
			bars[i].size_known = true; /* size 0 */
}

static void rw1c_set(struct image_dev *im, unsigned off, unsigned size,
		     uint32_t bits)
{
	for (unsigned i = 0; i < size && off + i < sizeof(im->rw1c); i++)
		im->rw1c[off + i] |= (uint8_t)(bits >> (8 * i));
}

/* Where the write-1-to-clear bits of this device are (validated walks). */
static void find_rw1c(struct image_dev *im)
{
	struct capwalk w;
	struct capwalk_cap c;

	rw1c_set(im, 0x06, 2, 0xf900); /* STATUS error bits */
	capwalk_std(&w, im->cfg, im->h.cfg_size);
	while (capwalk_next(&w, &c) == CAPWALK_CAP) {
		if (c.id == PCI_CAP_ID_PM) /* PMCSR PME_Status */
			rw1c_set(im, c.pos + 4, 2, 0x8000);
		if (c.id == PCI_CAP_ID_EXP) /* DEVSTA error bits */
			rw1c_set(im, c.pos + 0x0a, 2, 0x000f);
	}
	capwalk_ext(&w, im->cfg, im->h.cfg_size);
	while (capwalk_next(&w, &c) == CAPWALK_CAP) {
		if (c.id == PCI_EXT_CAP_ID_ERR && c.pos + 0x14 <= 0x1000) {
			rw1c_set(im, c.pos + 0x04, 4, ~0u); /* uncorrectable */
			rw1c_set(im, c.pos + 0x10, 4, ~0u); /* correctable */
		}
	}
}

int image_new(struct host_dev **out, const char *name, const uint8_t *cfg,
	      unsigned cfg_size, struct ptdm_err *err)
{
	struct image_dev *im;

	if (cfg_size != PTDM_CFG_LEGACY_SIZE && cfg_size != PTDM_CFG_SPACE_SIZE &&
	    !(cfg_size == 64)) /* lspci -x: header only, rest reads as 0 */
		return ptdm_errf(err, -EINVAL,
				 "%s: config size %u (want 64, 256 or 4096)",
				 name, cfg_size);
	im = calloc(1, sizeof(*im));
	if (!im)
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", name);
	im->h.ops = &image_ops;
	for (int i = 0; i <= PTDM_ROM_INDEX; i++)
		im->bar_fd[i] = -1;
	snprintf(im->h.name, sizeof(im->h.name), "%s", name);
	im->h.cfg_size = cfg_size == PTDM_CFG_SPACE_SIZE ? PTDM_CFG_SPACE_SIZE
							 : PTDM_CFG_LEGACY_SIZE;
	memcpy(im->cfg, cfg, cfg_size);
	memcpy(im->cfg_initial, im->cfg, sizeof(im->cfg));
	kinds_from_config(im);
	find_rw1c(im);
	*out = &im->h;
	return 0;
}

int image_set_bar_size(struct host_dev *h, int bar, uint64_t size,
		       struct ptdm_err *err)
{
	struct image_dev *im;
	struct host_bar *b;

	if (h->ops != &image_ops)
		return ptdm_errf(err, -EINVAL, "%s: not an image", h->name);
	im = to_image(h);
	if (bar < 0 || bar > PTDM_ROM_INDEX)
		return ptdm_errf(err, -EINVAL, "%s: no BAR %d", h->name, bar);
	b = &h->bars[bar];
	if (b->kind == HOST_BAR_MEM64_HI)
		return ptdm_errf(err, -EINVAL,
				 "%s: BAR %d is the upper half of BAR %d",
				 h->name, bar, bar - 1);
	if (size && (size & (size - 1)))
		return ptdm_errf(err, -EINVAL,
				 "%s: BAR %d size %#llx is not a power of two",
				 h->name, bar, (unsigned long long)size);
	if (bar == PTDM_ROM_INDEX ? (size && size < 2048)
	    : (b->kind == HOST_BAR_IO ? (size && size < 4) : (size && size < 16)))
		return ptdm_errf(err, -EINVAL, "%s: BAR %d size %#llx too small",
				 h->name, bar, (unsigned long long)size);
	if (b->kind == HOST_BAR_NONE && size)
		b->kind = bar == PTDM_ROM_INDEX ? HOST_BAR_ROM : HOST_BAR_MEM32;
	if (b->kind == HOST_BAR_IO && size > 0x10000)
		return ptdm_errf(err, -EINVAL, "%s: I/O BAR %d size %#llx > 64K",
				 h->name, bar, (unsigned long long)size);
	if (b->kind == HOST_BAR_MEM32 && size > 0x80000000ull)
		return ptdm_errf(err, -EINVAL,
				 "%s: 32-bit BAR %d size %#llx > 2G", h->name,
				 bar, (unsigned long long)size);
	drop_one(im, bar);
	b->size = size;
	b->size_known = true;
	if (!size) {
		if (b->kind == HOST_BAR_MEM64)
			h->bars[bar + 1] = (struct host_bar){ .size_known = true };
		*b = (struct host_bar){ .size_known = true };
	}
	return 0;
}

bool image_sizes_complete(const struct host_dev *h)
{
	for (int i = 0; i <= PTDM_ROM_INDEX; i++)
		if (!h->bars[i].size_known)
			return false;
	return true;
}

bool image_is_image(const struct host_dev *h)
{
	return h && h->ops == &image_ops;
}
