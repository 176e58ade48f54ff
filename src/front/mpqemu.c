/*
 * mpqemu.c - QEMU's multi-process proxy protocol (-device x-pci-proxy-dev,
 * QEMU 6.0-7.2), the remote side, over one connected socket.
 *
 * Wire format (include/hw/remote/mpqemu-link.h, checked against real
 * traffic in reference/vm-testing.md 2.2): a 16-byte header {int cmd;
 * 4 pad; size_t size} then `size` payload bytes, fds as SCM_RIGHTS.
 * Config reads/writes go through the core.  BAR accesses carry the
 * absolute guest address: ptdm finds the BAR from the guest's own BAR
 * programming (the proxy forwards every config write) and goes through
 * ptdm_bar_rw, so the MSI-X table stays emulated and decode rules apply.
 * SYNC_SYSMEM maps the guest's RAM memfds (replaced wholesale each time)
 * so a device can DMA into guest RAM: an image through mpq_conn_dma_rw, a
 * real device through its IOMMU (host_ops.dma_map, IOVA = guest-physical
 * address, as QEMU's vfio-pci does without a vIOMMU).  The mapping is the
 * process's (guestmem_map): two proxies of one QEMU (two functions of a
 * slot) that give the same memfd range share one address, and so one
 * IOMMU mapping when their devices share a DMA space.  Each fd is checked first
 * (util/guestmem.h: a regular file covering its range, the connection's
 * and the process's budget); an image device touches only memory whose
 * fd cannot shrink (a memfd sealed with F_SEAL_SHRINK, which QEMU's
 * memory-backend-memfd is by default), so a proxy's ftruncate cannot
 * turn a device DMA into SIGBUS; SET_IRQFD keeps the INTx eventfd and
 * its resample fd.  Every message is checked before use; a bad one gets
 * an error value (RET of all-ones) where the proxy waits for a reply, and
 * the connection goes on.  Reads and writes never block (util/msgio.c): a
 * partial message waits for the rest, RETs queue while the socket is full.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ptdm/log.h"
#include "ptdm/mpqemu.h"
#include "util/evfd.h"
#include "util/guestmem.h"
#include "util/msgio.h"

#define HDR MPQ_HDR
#define MAX_PAYLOAD MPQ_MAX_PAYLOAD
#define MAX_FDS 8

enum {
	CMD_SYNC_SYSMEM = 0,
	CMD_RET = 1,
	CMD_CFGWRITE = 2,
	CMD_CFGREAD = 3,
	CMD_BAR_WRITE = 4,
	CMD_BAR_READ = 5,
	CMD_SET_IRQFD = 6,
	CMD_DEVICE_RESET = 7,
	CMD_MAX,
};

struct conf_msg { /* PciConfDataMsg */
	uint32_t addr, val;
	int32_t len;
};

struct bar_msg { /* BarAccessMsg: addr@0 val@8 size@16 memory@20 */
	uint64_t addr, val;
	uint32_t size;
	uint8_t memory, pad[3];
};

_Static_assert(sizeof(struct conf_msg) == 12, "PciConfDataMsg is 12 bytes");
_Static_assert(sizeof(struct bar_msg) == 24, "BarAccessMsg is 24 bytes");

static void unmap_ram(struct mpq_conn *c)
{
	struct host_dev *h = c->dev ? ptdm_dev_host(c->dev) : NULL;

	for (unsigned i = 0; i < c->nram; i++) {
		int rc;

		/* out of the IOMMU before the memory goes */
		if (c->ram[i].iommu &&
		    (rc = host_dma_unmap(h, c->ram[i].gpa, c->ram[i].size)))
			ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN, "mpqemu: "
					     "unmapping guest RAM %#llx+%#llx "
					     "from the device's DMA: %s",
					     (unsigned long long)c->ram[i].gpa,
					     (unsigned long long)c->ram[i].size,
					     strerror(-rc));
		if (c->ram[i].map)
			guestmem_unmap(c->ram[i].map);
	}
	c->nram = 0;
}

/* A real device reaches guest RAM only through its IOMMU. */
static void iommu_map(struct mpq_conn *c, struct mpq_ram *r)
{
	struct host_dev *h = ptdm_dev_host(c->dev);
	int rc;

	if (!host_can_dma_map(h))
		return;
	rc = host_dma_map(h, r->gpa, r->map, r->size,
			  HOST_DMA_READ | HOST_DMA_WRITE);
	if (rc) {
		ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN, "mpqemu: guest RAM "
				     "%#llx+%#llx is not reachable by the "
				     "device's DMA: %s",
				     (unsigned long long)r->gpa,
				     (unsigned long long)r->size, strerror(-rc));
		return;
	}
	r->iommu = true;
}

int mpq_conn_init(struct mpq_conn *c, int fd, struct ptdm_dev *dev)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->dev = dev;
	c->irq_fd = c->resample_fd = -1;
	msgio_init(&c->io, fd, c->rx, sizeof(c->rx), MPQ_OUT_MAX);
	return fd >= 0 ? msgio_nonblock(fd) : 0;
}

void mpq_conn_close(struct mpq_conn *c)
{
	msgio_fini(&c->io);
	unmap_ram(c);
	if (c->irq_fd >= 0)
		close(c->irq_fd);
	if (c->resample_fd >= 0)
		close(c->resample_fd);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = c->irq_fd = c->resample_fd = -1;
}

static int send_ret(struct mpq_conn *c, uint64_t val)
{
	uint8_t msg[HDR + 8] = { 0 };
	int32_t cmd = CMD_RET;
	uint64_t size = 8;
	struct iovec iov = { msg, sizeof(msg) };

	memcpy(msg, &cmd, 4);
	memcpy(msg + 8, &size, 8);
	memcpy(msg + HDR, &val, 8);
	return msgio_send(&c->io, &iov, 1, -1);
}

/* Which BAR does the guest have at addr (memory or I/O space)? */
static int find_bar(struct mpq_conn *c, uint64_t addr, uint32_t size,
		    bool memory, uint64_t *off)
{
	for (int i = 0; i < PTDM_NUM_BARS; i++) {
		struct ptdm_bar_info b;

		ptdm_dev_bar(c->dev, i, &b);
		if (!b.guest_enabled || (b.kind == HOST_BAR_IO) == memory)
			continue;
		if (addr >= b.guest_addr && size <= b.size &&
		    addr - b.guest_addr <= b.size - size) {
			*off = addr - b.guest_addr;
			return i;
		}
	}
	return -1;
}

static uint64_t do_bar(struct mpq_conn *c, const struct bar_msg *b, bool write)
{
	uint64_t off, val = write ? b->val : 0;
	int bar;

	if (b->size != 1 && b->size != 2 && b->size != 4 && b->size != 8)
		return UINT64_MAX;
	bar = find_bar(c, b->addr, b->size, b->memory, &off);
	if (bar < 0) {
		ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN,
				     "mpqemu: BAR access at %#llx hits no "
				     "enabled BAR",
				     (unsigned long long)b->addr);
		return UINT64_MAX;
	}
	if (ptdm_bar_rw(c->dev, bar, off, &val, b->size, write))
		return UINT64_MAX;
	return write ? 0 : val;
}

static int sync_sysmem(struct mpq_conn *c, const uint8_t *p, const int *fds,
		       unsigned nfds)
{
	uint64_t gpa[8], size[8], total = 0;
	int64_t off[8];
	bool touchable[8];
	bool vfio = host_can_dma_map(ptdm_dev_host(c->dev));
	struct mpq_ram next[8];

	memcpy(gpa, p, 64);
	memcpy(size, p + 64, 64);
	memcpy(off, p + 128, 64);
	/* every region checked before the old ones go */
	for (unsigned i = 0; i < nfds; i++) {
		int rc;

		if (!size[i] || size[i] > GUESTMEM_MAX_PER_CONN || off[i] < 0 ||
		    gpa[i] + size[i] < gpa[i] || size[i] > SIZE_MAX)
			return -EINVAL;
		rc = guestmem_check(fds[i], (uint64_t)off[i], size[i],
				    &touchable[i]);
		if (rc) {
			ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN, "mpqemu: "
					     "SYNC_SYSMEM: region %u is not a "
					     "regular file that holds its "
					     "range", i);
			return rc;
		}
		if (size[i] > GUESTMEM_MAX_PER_CONN - total) {
			ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN, "mpqemu: "
					     "SYNC_SYSMEM: more guest RAM than "
					     "a connection may map (%llu GiB)",
					     GUESTMEM_MAX_PER_CONN >> 30);
			return -ENOSPC;
		}
		total += size[i];
	}
	/*
	 * The new set mapped before the old goes: a region that stays keeps
	 * its address (guestmem_map hands back the mapping there is), and a
	 * failure leaves the old set as it was.
	 */
	for (unsigned i = 0; i < nfds; i++) {
		int rc;

		next[i] = (struct mpq_ram){ .gpa = gpa[i], .size = size[i],
					    .touchable = touchable[i] };
		if (!touchable[i] && !vfio) {
			/* nothing would use the mapping but ptdm itself */
			ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN, "mpqemu: "
					     "guest RAM %#llx+%#llx: the fd is "
					     "not a memfd sealed with "
					     "F_SEAL_SHRINK, the device cannot "
					     "DMA into it",
					     (unsigned long long)gpa[i],
					     (unsigned long long)size[i]);
			continue;
		}
		rc = guestmem_map(fds[i], (uint64_t)off[i], size[i],
				  PROT_READ | PROT_WRITE, &next[i].map);
		if (rc) {
			if (rc == -ENOSPC)
				ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN,
						     "mpqemu: SYNC_SYSMEM: over "
						     "the process's budget of "
						     "mapped guest memory");
			while (i--)
				if (next[i].map)
					guestmem_unmap(next[i].map);
			return rc;
		}
	}
	unmap_ram(c);
	for (unsigned i = 0; i < nfds; i++) {
		c->ram[c->nram] = next[i];
		if (next[i].map)
			iommu_map(c, &c->ram[c->nram]);
		c->nram++;
	}
	return 0;
}

int mpq_conn_dma_rw(struct mpq_conn *c, uint64_t gpa, void *buf, size_t len,
		    bool write)
{
	for (unsigned i = 0; i < c->nram; i++) {
		const struct mpq_ram *r = &c->ram[i];

		if (gpa >= r->gpa && len <= r->size &&
		    gpa - r->gpa <= r->size - len) {
			uint8_t *p;

			if (!r->map || !r->touchable)
				return -EFAULT; /* the proxy could shrink it */
			p = (uint8_t *)r->map + (gpa - r->gpa);

			if (write)
				memcpy(p, buf, len);
			else
				memcpy(buf, p, len);
			return 0;
		}
	}
	return -EFAULT;
}

int mpq_conn_raise_intx(struct mpq_conn *c)
{
	int rc;

	if (c->irq_fd < 0)
		return -ENOENT;
	/* never blocks; a full counter is a signal already pending */
	rc = evfd_signal(c->irq_fd);
	return rc == -EAGAIN ? 0 : rc;
}

/* One whole message: act on it, queue the RET the proxy waits for. */
static int handle_one(struct mpq_conn *c, int32_t cmd, uint64_t size,
		      const uint8_t *p, int *fds, unsigned nfds)
{
	bool reply;
	uint64_t val = UINT64_MAX;
	int rc = 0;

	/* the proxy waits for a RET after these, whatever we think of them */
	reply = cmd == CMD_CFGREAD || cmd == CMD_CFGWRITE ||
		cmd == CMD_BAR_READ || cmd == CMD_BAR_WRITE ||
		cmd == CMD_DEVICE_RESET;
	switch (cmd) {
	case CMD_CFGREAD:
	case CMD_CFGWRITE: {
		struct conf_msg m;
		uint32_t v = 0;

		if (size != sizeof(m) || nfds)
			break;
		memcpy(&m, p, sizeof(m));
		if (m.len != 1 && m.len != 2 && m.len != 4)
			break;
		if (cmd == CMD_CFGREAD) {
			if (!ptdm_cfg_read(c->dev, m.addr, (unsigned)m.len, &v))
				val = v;
		} else if (!ptdm_cfg_write(c->dev, m.addr, (unsigned)m.len,
					   m.val)) {
			val = 0;
		}
		break;
	}
	case CMD_BAR_READ:
	case CMD_BAR_WRITE: {
		struct bar_msg m;

		if (size != sizeof(m) || nfds)
			break;
		memcpy(&m, p, sizeof(m));
		val = do_bar(c, &m, cmd == CMD_BAR_WRITE);
		break;
	}
	case CMD_SYNC_SYSMEM:
		if (size != 192 || !nfds || nfds >= MAX_FDS) {
			c->errors++;
			break;
		}
		if (sync_sysmem(c, p, fds, nfds)) {
			unmap_ram(c);
			c->errors++;
			ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN,
					     "mpqemu: guest RAM not mappable");
		}
		break;
	case CMD_SET_IRQFD:
		if (size != 0 || nfds != 2) {
			c->errors++;
			break;
		}
		if (evfd_check(fds[0]) || evfd_check(fds[1])) {
			c->errors++;
			ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN,
					     "mpqemu: SET_IRQFD: an fd that is "
					     "not an eventfd, ignored");
			break;
		}
		if (c->irq_fd >= 0)
			close(c->irq_fd);
		if (c->resample_fd >= 0)
			close(c->resample_fd);
		c->irq_fd = fds[0];
		c->resample_fd = fds[1];
		fds[0] = fds[1] = -1; /* kept */
		break;
	case CMD_DEVICE_RESET:
		if (!size && !nfds && !ptdm_dev_reset(c->dev))
			val = 0;
		break;
	default:
		c->errors++;
		ptdm_log_ratelimited(&c->rl, PTDM_LOG_WARN,
				     "mpqemu: unknown command %d", cmd);
		break;
	}
	if (reply) {
		if (val == UINT64_MAX && cmd != CMD_BAR_READ)
			c->errors++;
		rc = send_ret(c, cmd == CMD_DEVICE_RESET ? 0 : val);
	}
	return rc;
}

int mpq_conn_input(struct mpq_conn *c, unsigned budget)
{
	int done = 0;

	while ((unsigned)done < budget) {
		int32_t cmd;
		uint64_t size;
		int rc = msgio_fill(&c->io, HDR);

		if (rc == -ECONNRESET && c->io.rx_have)
			return -EPROTO; /* gone in the middle of a header */
		if (rc <= 0)
			return rc ? rc : done;
		memcpy(&cmd, c->rx, 4);
		memcpy(&size, c->rx + 8, 8);
		if (size > MAX_PAYLOAD)
			return -EPROTO; /* cannot resynchronise: a broken proxy */
		rc = msgio_fill(&c->io, HDR + (size_t)size);
		if (rc <= 0)
			return rc ? rc : done;
		c->messages++;
		done++;
		rc = c->io.rx_ctrunc ? -EPROTO
				     : handle_one(c, cmd, size, c->rx + HDR,
						  c->io.rx_fds, c->io.rx_nfds);
		msgio_next(&c->io); /* closes the fds not kept */
		if (rc)
			return rc;
	}
	return done;
}

int mpq_conn_output(struct mpq_conn *c)
{
	int rc = msgio_flush(&c->io);

	return rc < 0 ? rc : 0;
}

int mpq_conn_handle(struct mpq_conn *c)
{
	for (;;) {
		int rc = mpq_conn_input(c, 1);

		if (rc < 0)
			return rc;
		if (rc > 0)
			return msgio_flush_wait(&c->io);
		rc = msgio_wait_readable(&c->io);
		if (rc)
			return rc;
	}
}
