/*
 * cap_msix.c - MSI-X: capability registers and the emulated table and PBA.
 *
 * Control (enable, function mask) is virtual; the table size and the
 * table/PBA location registers are the attach snapshot, read-only.  Where
 * the table and PBA live is read once at attach, checked against the BAR
 * kinds and sizes the backend recorded, and cached in d->msix: a device
 * that later shows other values changes nothing (XSA-337).  A BIR naming no
 * BAR, an I/O BAR or the upper half of a 64-bit BAR, a table or PBA that
 * does not fit its BAR, or the two overlapping, hides the capability with
 * the reason.  An image without BAR sizes keeps it, recorded as unverified
 * (the table is bounded by the 2048 vectors QSIZE can encode).
 *
 * The table and PBA are registered as trapped ranges (trap.c): rounded to
 * the host page they are what every VMM and backend leaves unmapped.  The
 * 4 KiB pages holding them are the emulation's (the spec allows no other
 * registers in them); with a bigger host page the rest of it goes to the
 * device.  Inside them only naturally aligned 4- and 8-byte accesses wholly
 * inside the table or PBA are honoured; the table lives in d->msix.table,
 * the PBA is read-only.  Everything else there - past the last entry
 * (XSA-164), between the structures, other widths - reads all-ones and is
 * dropped, with a rate-limited warning.  Writes to the address or data of
 * a live entry (unmasked, MSI-X on, function not masked) are latched and
 * applied when the entry is next masked: the spec leaves such writes
 * undefined, and a half-written vector must never be what the host gets
 * programmed with.
 *
 * Host MSI-X is programmed only by the owner from ptdm_msix_entry_get(),
 * and programming it touches the device's real table (the kernel, or Xen
 * for a pirq): that needs the host's memory decode on.  The core keeps it
 * on (XSA-126), but a device may not take it; then a guest's MSI-X enable
 * is refused - it reads back 0, the owner hears nothing - with a
 * rate-limited warning (XSA-157: no MSI-X while memory decode is off).  The
 * guest's own COMMAND.MEM does not matter for enabling, as on hardware:
 * it only stops the table answering (dev.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/caps_priv.h"
#include "core/dev_priv.h"

/* an entry as dwords: address low/high, data, vector control */
#define ENTRY_WORDS (PCI_MSIX_ENTRY_SIZE / 4)
#define W_ADDR_LO (PCI_MSIX_ENTRY_LOWER_ADDR / 4)
#define W_ADDR_HI (PCI_MSIX_ENTRY_UPPER_ADDR / 4)
#define W_DATA (PCI_MSIX_ENTRY_DATA / 4)
#define W_CTRL (PCI_MSIX_ENTRY_VECTOR_CTRL / 4)
/* Message Address is dword aligned: bits 1:0 read 0 */
#define MSIX_ADDR_LO_WRITE 0xfffffffcu

#define MSIX_TRAPS (PTDM_TRAP_MSIX_TABLE | PTDM_TRAP_MSIX_PBA)

static cfg_write_hook msix_ctrl_write;

static const struct cfg_reg msix_regs[] = {
	/* enable and function mask are the guest's; table size the device's */
	{ "msix control", PCI_MSIX_FLAGS, 2, .virt = 0xffff,
	  .write = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL,
	  .on_write = msix_ctrl_write },
	/* locations: the snapshot taken at attach (XSA-337) */
	{ "msix table", PCI_MSIX_TABLE, 4, .virt = ~0u },
	{ "msix pba", PCI_MSIX_PBA, 4, .virt = ~0u },
	CFG_REG_END,
};

static int msix_length(struct ptdm_dev *d, unsigned pos)
{
	return PCI_CAP_MSIX_SIZEOF;
}


/* Is [off, off+len) inside memory BAR bir?  Sets *why when not. */
static bool fits(const struct ptdm_dev *d, unsigned bir, uint64_t off,
		 uint64_t len, const char **why)
{
	const struct host_bar *b;

	if (bir >= PTDM_NUM_BARS) {
		*why = "BAR indicator names no BAR";
		return false;
	}
	b = &d->bars[bir].host;
	switch (b->kind) {
	case HOST_BAR_MEM32:
	case HOST_BAR_MEM64:
		break;
	case HOST_BAR_IO:
		*why = "table or PBA in an I/O BAR";
		return false;
	case HOST_BAR_MEM64_HI:
		*why = "BAR indicator names the upper half of a 64-bit BAR";
		return false;
	default:
		*why = "table or PBA in a missing BAR";
		return false;
	}
	if (b->size_known && (off > b->size || len > b->size - off)) {
		*why = "table or PBA runs past the end of its BAR";
		return false;
	}
	return true;
}

static int msix_init(struct ptdm_dev *d, struct cap_inst *c)
{
	unsigned pos = c->info.pos;
	uint16_t ctrl = (uint16_t)cfg_host_init(d, pos + PCI_MSIX_FLAGS, 2);
	uint32_t treg = cfg_host_init(d, pos + PCI_MSIX_TABLE, 4);
	uint32_t preg = cfg_host_init(d, pos + PCI_MSIX_PBA, 4);
	struct msix_state *m = &d->msix;
	unsigned nvec = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1u;
	uint64_t toff = treg & PCI_MSIX_TABLE_OFFSET;
	uint64_t poff = preg & PCI_MSIX_PBA_OFFSET;
	unsigned tbir = treg & PCI_MSIX_TABLE_BIR;
	unsigned pbir = preg & PCI_MSIX_PBA_BIR;
	const char *why = NULL;

	/* offsets are 8-byte aligned by construction: bits 2:0 are the BIR */
	if (!fits(d, tbir, toff, msix_table_bytes(nvec), &why) ||
	    !fits(d, pbir, poff, msix_pba_bytes(nvec), &why)) {
		c->info.reason = why;
		dev_problem(d, "MSI-X at %#04x hidden: %s (table BAR %u "
			    "offset %#llx, PBA BAR %u offset %#llx, %u "
			    "vectors)", pos, why, tbir,
			    (unsigned long long)toff, pbir,
			    (unsigned long long)poff, nvec);
		return -EINVAL;
	}
	if (tbir == pbir && toff < poff + msix_pba_bytes(nvec) &&
	    poff < toff + msix_table_bytes(nvec)) {
		c->info.reason = "table and PBA overlap";
		dev_problem(d, "MSI-X at %#04x hidden: table and PBA overlap",
			    pos);
		return -EINVAL;
	}
	if (!d->bars[tbir].host.size_known || !d->bars[pbir].host.size_known)
		dev_problem(d, "MSI-X at %#04x: BAR sizes unknown, table "
			    "location unverified", pos);
	m->table = calloc((size_t)nvec * ENTRY_WORDS, sizeof(*m->table));
	m->pba = calloc(msix_pba_bytes(nvec) / 8, sizeof(*m->pba));
	m->latch = calloc((size_t)nvec * W_CTRL, sizeof(*m->latch));
	m->latched = calloc(nvec, 1);
	if (!m->table || !m->pba || !m->latch || !m->latched) {
		free(m->table);
		free(m->pba);
		free(m->latch);
		free(m->latched);
		memset(m, 0, sizeof(*m));
		c->info.reason = "out of memory";
		return -ENOMEM;
	}
	/* the table and PBA are the ranges every VMM and backend traps */
	if (dev_trap_add(d, (int)tbir, toff, msix_table_bytes(nvec),
			 PTDM_TRAP_MSIX_TABLE) ||
	    dev_trap_add(d, (int)pbir, poff, msix_pba_bytes(nvec),
			 PTDM_TRAP_MSIX_PBA)) {
		dev_trap_remove(d, MSIX_TRAPS);
		free(m->table);
		free(m->pba);
		free(m->latch);
		free(m->latched);
		memset(m, 0, sizeof(*m));
		c->info.reason = "too many trapped ranges";
		return -ENOSPC;
	}
	m->nvec = nvec;
	m->table_bar = (int)tbir;
	m->pba_bar = (int)pbir;
	m->table_off = (uint32_t)toff;
	m->pba_off = (uint32_t)poff;
	c->table = msix_regs;
	return 0;
}

static void msix_fini(struct ptdm_dev *d, struct cap_inst *c)
{
	struct msix_state *m = &d->msix;

	dev_trap_remove(d, MSIX_TRAPS);
	free(m->table);
	free(m->pba);
	free(m->latch);
	free(m->latched);
	memset(m, 0, sizeof(*m));
}

static void msix_reset(struct ptdm_dev *d, struct cap_inst *c)
{
	struct msix_state *m = &d->msix;
	unsigned pos = c->info.pos;

	cfg_shadow_set(d, pos + PCI_MSIX_FLAGS, 2,
		       cfg_host_init(d, pos + PCI_MSIX_FLAGS, 2) &
			       PCI_MSIX_FLAGS_QSIZE);
	memset(m->table, 0, (size_t)m->nvec * ENTRY_WORDS * sizeof(*m->table));
	for (unsigned v = 0; v < m->nvec; v++)
		m->table[v * ENTRY_WORDS + W_CTRL] =
			PCI_MSIX_ENTRY_CTRL_MASKBIT; /* power on masked */
	memset(m->pba, 0, msix_pba_bytes(m->nvec));
	memset(m->latched, 0, m->nvec);
}

static uint16_t msix_ctrl(const struct ptdm_dev *d)
{
	return (uint16_t)cfg_shadow_get(d, d->caps[d->cap_msix].info.pos +
						   PCI_MSIX_FLAGS, 2);
}

/* Is vector v live: would a write to it race with its delivery? */
static bool entry_live(const struct ptdm_dev *d, unsigned v)
{
	uint16_t ctrl = msix_ctrl(d);

	return (ctrl & PCI_MSIX_FLAGS_ENABLE) &&
	       !(ctrl & PCI_MSIX_FLAGS_MASKALL) &&
	       !(d->msix.table[v * ENTRY_WORDS + W_CTRL] &
		 PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* Apply latched address/data of vector v; true if anything changed. */
static bool apply_latch(struct ptdm_dev *d, unsigned v)
{
	struct msix_state *m = &d->msix;
	bool changed = false;

	for (unsigned i = 0; i < W_CTRL; i++) {
		if (!(m->latched[v] & (1u << i)))
			continue;
		changed |= m->table[v * ENTRY_WORDS + i] !=
			   m->latch[v * W_CTRL + i];
		m->table[v * ENTRY_WORDS + i] = m->latch[v * W_CTRL + i];
	}
	m->latched[v] = 0;
	return changed;
}

/* XSA-157: may the host's MSI-X be programmed?  Only with host memory
 * decode on, read fresh (a read-only backend programs nothing). */
static bool host_decodes_memory(struct ptdm_dev *d)
{
	uint32_t cmd;

	if (d->host->readonly)
		return true;
	return cfg_host_read(d, PCI_COMMAND, 2, &cmd) == 0 &&
	       (cmd & PCI_COMMAND_MEMORY);
}

static void msix_ctrl_write(struct ptdm_dev *d, const struct cfg_slot *s,
			    uint32_t old, uint32_t val, uint32_t mask)
{
	uint32_t now = cfg_shadow_get(d, s->base, 2);

	if ((now & ~old & PCI_MSIX_FLAGS_ENABLE) && !host_decodes_memory(d)) {
		now &= ~PCI_MSIX_FLAGS_ENABLE;
		cfg_shadow_set(d, s->base, 2, now);
		dev_count_drop(d, PTDM_DROP_DECODE_OFF);
		dev_guest_warn(d, "MSI-X enable refused: the device's memory "
			       "decode is off (XSA-157)");
	}
	if (!((old ^ now) & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)))
		return;
	/* everything just became masked: latched values take effect */
	if (!(now & PCI_MSIX_FLAGS_ENABLE) || (now & PCI_MSIX_FLAGS_MASKALL))
		for (unsigned v = 0; v < d->msix.nvec; v++)
			apply_latch(d, v);
	dev_notify_msix(d, -1);
}

static void table_write32(struct ptdm_dev *d, unsigned word, uint32_t val)
{
	struct msix_state *m = &d->msix;
	unsigned v = word / ENTRY_WORDS, field = word % ENTRY_WORDS;
	uint32_t *slot = &m->table[word];

	if (field == W_CTRL) {
		/* vector control: only the mask bit exists */
		uint32_t nv = val & PCI_MSIX_ENTRY_CTRL_MASKBIT;
		bool changed = nv != *slot;

		*slot = nv;
		if (nv)
			changed |= apply_latch(d, v);
		if (changed)
			dev_notify_msix(d, (int)v);
		return;
	}
	if (field == W_ADDR_LO)
		val &= MSIX_ADDR_LO_WRITE;
	if (entry_live(d, v)) {
		m->latch[v * W_CTRL + field] = val;
		m->latched[v] |= (uint8_t)(1u << field);
		return;
	}
	*slot = val;
}

#define MSIX_PAGE 4096u /* spec: no other registers share these pages */

/* Is [off, off+len) wholly inside [start, start+size)? */
static bool inside(uint64_t off, size_t len, uint64_t start, uint64_t size)
{
	return off >= start && len <= size && off - start <= size - len;
}

static void refuse(struct ptdm_dev *d, const char *why, int bar,
		   uint64_t off, size_t len, void *buf, bool write)
{
	dev_guest_warn(d, "MSI-X page: %zu-byte %s at BAR %d offset %#llx "
			  "%s: %s", len, write ? "write" : "read", bar,
		       (unsigned long long)off,
		       write ? "dropped" : "reads all-ones", why);
	if (write)
		dev_count_drop(d, PTDM_DROP_MSIX_PAGE);
	else
		memset(buf, 0xff, len);
}

static void table_read(const struct msix_state *m, uint64_t rel, void *buf,
		       size_t len)
{
	for (size_t i = 0; i < len; i += 4)
		cfg_le_put((uint8_t *)buf + i, 4, m->table[(rel + i) / 4]);
}

static void pba_read(const struct msix_state *m, uint64_t rel, void *buf,
		     size_t len)
{
	for (size_t i = 0; i < len; i += 4) {
		uint64_t b = rel + i;

		cfg_le_put((uint8_t *)buf + i, 4,
			   (uint32_t)(m->pba[b / 8] >> (8 * (b % 8))));
	}
}

int msix_bar_rw(struct ptdm_dev *d, int bar, uint64_t off, void *buf,
		size_t len, bool write, bool *handled)
{
	struct msix_state *m = &d->msix;
	uint64_t tlen, plen;

	*handled = false;
	if (d->cap_msix < 0 || !m->nvec || len > UINT64_MAX - off)
		return 0;
	tlen = msix_table_bytes(m->nvec);
	plen = msix_pba_bytes(m->nvec);
	/* the 4 KiB pages of the table and PBA: the trapped ranges at the
	 * spec's granule, whatever the host page is */
	if (!dev_trap_hit(d, bar, off, len, MSIX_TRAPS, MSIX_PAGE))
		return 0;
	*handled = true;
	if ((len != 4 && len != 8) || off % len) {
		refuse(d, "only aligned 4/8-byte accesses are accepted", bar,
		       off, len, buf, write);
		return 0;
	}
	if (bar == m->table_bar && inside(off, len, m->table_off, tlen)) {
		uint64_t rel = off - m->table_off;

		if (!write) {
			table_read(m, rel, buf, len);
			return 0;
		}
		for (size_t i = 0; i < len; i += 4)
			table_write32(d, (unsigned)((rel + i) / 4),
				      cfg_le_get((const uint8_t *)buf + i, 4));
		return 0;
	}
	if (bar == m->pba_bar && inside(off, len, m->pba_off, plen)) {
		if (write)
			refuse(d, "the PBA is read-only", bar, off, len, buf,
			       write);
		else
			pba_read(m, off - m->pba_off, buf, len);
		return 0;
	}
	/* XSA-164: nothing past the last entry is ever the table */
	refuse(d, "outside the MSI-X table and PBA", bar, off, len, buf,
	       write);
	return 0;
}

void ptdm_msix_get(const struct ptdm_dev *d, struct ptdm_msix_info *out)
{
	uint16_t ctrl;

	*out = (struct ptdm_msix_info){ .table_bar = -1, .pba_bar = -1 };
	if (d->cap_msix < 0 || !d->msix.nvec)
		return;
	ctrl = msix_ctrl(d);
	out->present = true;
	out->enabled = ctrl & PCI_MSIX_FLAGS_ENABLE;
	out->function_masked = ctrl & PCI_MSIX_FLAGS_MASKALL;
	out->nvec = d->msix.nvec;
	out->table_bar = d->msix.table_bar;
	out->pba_bar = d->msix.pba_bar;
	out->table_off = d->msix.table_off;
	out->pba_off = d->msix.pba_off;
}

int ptdm_msix_entry_get(const struct ptdm_dev *d, unsigned vec,
			struct ptdm_msix_entry *out)
{
	const uint32_t *e;

	if (d->cap_msix < 0 || !d->msix.nvec)
		return -ENODEV;
	if (vec >= d->msix.nvec)
		return -EINVAL;
	e = &d->msix.table[vec * ENTRY_WORDS];
	out->addr = e[W_ADDR_LO] | (uint64_t)e[W_ADDR_HI] << 32;
	out->data = e[W_DATA];
	out->masked = e[W_CTRL] & PCI_MSIX_ENTRY_CTRL_MASKBIT;
	return 0;
}

int ptdm_msix_set_pending(struct ptdm_dev *d, unsigned vec, bool pending)
{
	uint64_t bit;

	if (d->cap_msix < 0 || !d->msix.nvec)
		return -ENODEV;
	if (vec >= d->msix.nvec)
		return -EINVAL;
	bit = 1ull << (vec % 64);
	if (pending)
		d->msix.pba[vec / 64] |= bit;
	else
		d->msix.pba[vec / 64] &= ~bit;
	return 0;
}

const struct cap_ops cap_msix_ops = {
	.id = PCI_CAP_ID_MSIX,
	.name = "MSI-X",
	.length = msix_length,
	.init = msix_init,
	.reset = msix_reset,
	.fini = msix_fini,
};
