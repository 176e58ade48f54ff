/*
 * cap_msix.c - MSI-X: capability registers and the emulated table and PBA.
 *
 * Control (enable, function mask) is virtual.  Where the table and PBA live
 * is read once at attach, checked against the BAR sizes the backend
 * recorded, and cached in d->msix: a device that later shows other values
 * changes nothing (XSA-337).  A table that does not fit its BAR, or sits in
 * an I/O BAR, hides the capability with the reason.
 *
 * The table is emulated in d->msix.table: only naturally aligned 4- and
 * 8-byte accesses inside [table, table + 16 * nvec) touch it; a write past
 * the last entry cannot reach it (XSA-164); the PBA is read-only.  Writes
 * to the address or data of a live entry (unmasked, MSI-X on, function not
 * masked) are latched and applied when the entry is next masked: the spec
 * leaves such writes undefined, and a half-written vector must never be
 * what the host gets programmed with.  Host MSI-X is programmed only by the
 * owner from ptdm_msix_entry_get(); refusing to enable vectors while host
 * memory decode is off (XSA-157) is the host wiring's job, where that
 * state is known.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/caps_priv.h"
#include "core/dev_priv.h"

#define ENTRY_WORDS 4 /* addr lo, addr hi, data, vector control */

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

static uint64_t pba_bytes(unsigned nvec)
{
	return ((uint64_t)nvec + 63) / 64 * 8;
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
	if (b->kind != HOST_BAR_MEM32 && b->kind != HOST_BAR_MEM64) {
		*why = b->kind == HOST_BAR_IO ? "table or PBA in an I/O BAR"
					      : "table or PBA in a missing BAR";
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

	if (!fits(d, tbir, toff, (uint64_t)nvec * PCI_MSIX_ENTRY_SIZE, &why) ||
	    !fits(d, pbir, poff, pba_bytes(nvec), &why)) {
		c->info.reason = why;
		dev_problem(d, "MSI-X at %#04x hidden: %s (table BAR %u "
			    "offset %#llx, PBA BAR %u offset %#llx, %u "
			    "vectors)", pos, why, tbir,
			    (unsigned long long)toff, pbir,
			    (unsigned long long)poff, nvec);
		return -EINVAL;
	}
	if (tbir == pbir && toff < poff + pba_bytes(nvec) &&
	    poff < toff + (uint64_t)nvec * PCI_MSIX_ENTRY_SIZE) {
		c->info.reason = "table and PBA overlap";
		dev_problem(d, "MSI-X at %#04x hidden: table and PBA overlap",
			    pos);
		return -EINVAL;
	}
	if (!d->bars[tbir].host.size_known || !d->bars[pbir].host.size_known)
		dev_problem(d, "MSI-X at %#04x: BAR sizes unknown, table "
			    "location unverified", pos);
	m->table = calloc((size_t)nvec * ENTRY_WORDS, sizeof(*m->table));
	m->pba = calloc(pba_bytes(nvec) / 8, sizeof(*m->pba));
	m->latch = calloc((size_t)nvec * 3, sizeof(*m->latch));
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
		m->table[v * ENTRY_WORDS + 3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	memset(m->pba, 0, pba_bytes(m->nvec));
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
	       !(d->msix.table[v * ENTRY_WORDS + 3] &
		 PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* Apply latched address/data of vector v; true if anything changed. */
static bool apply_latch(struct ptdm_dev *d, unsigned v)
{
	struct msix_state *m = &d->msix;
	bool changed = false;

	for (unsigned i = 0; i < 3; i++) {
		if (!(m->latched[v] & (1u << i)))
			continue;
		changed |= m->table[v * ENTRY_WORDS + i] != m->latch[v * 3 + i];
		m->table[v * ENTRY_WORDS + i] = m->latch[v * 3 + i];
	}
	m->latched[v] = 0;
	return changed;
}

static void msix_ctrl_write(struct ptdm_dev *d, const struct cfg_slot *s,
			    uint32_t old, uint32_t val, uint32_t mask)
{
	uint32_t now = cfg_shadow_get(d, s->base, 2);

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

	if (field == 3) {
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
	if (field == 0)
		val &= ~3u; /* message address is dword aligned */
	if (entry_live(d, v)) {
		m->latch[v * 3 + field] = val;
		m->latched[v] |= (uint8_t)(1u << field);
		return;
	}
	*slot = val;
}

static void bad_access(struct ptdm_dev *d, const char *what, uint64_t off,
		       size_t len, void *buf, bool write)
{
	dev_guest_warn(d, "MSI-X %s access at offset %#llx, %zu bytes: "
			  "only aligned 4/8-byte accesses are accepted",
		       what, (unsigned long long)off, len);
	if (!write)
		memset(buf, 0xff, len);
}

int msix_bar_rw(struct ptdm_dev *d, int bar, uint64_t off, void *buf,
		size_t len, bool write, bool *handled)
{
	struct msix_state *m = &d->msix;
	uint64_t tlen, plen;
	bool in_table, in_pba;

	*handled = false;
	if (d->cap_msix < 0 || !m->nvec)
		return 0;
	tlen = (uint64_t)m->nvec * PCI_MSIX_ENTRY_SIZE;
	plen = pba_bytes(m->nvec);
	in_table = bar == m->table_bar && off < m->table_off + tlen &&
		   off + len > m->table_off;
	in_pba = bar == m->pba_bar && off < m->pba_off + plen &&
		 off + len > m->pba_off;
	if (!in_table && !in_pba)
		return 0;
	*handled = true;
	if ((len != 4 && len != 8) || off % len ||
	    (in_table && (off < m->table_off ||
			  off + len > m->table_off + tlen)) ||
	    (in_pba && (off < m->pba_off || off + len > m->pba_off + plen)) ||
	    (in_table && in_pba)) {
		bad_access(d, in_table ? "table" : "PBA", off, len, buf, write);
		return 0;
	}
	if (in_pba) {
		if (write) {
			dev_guest_warn(d, "MSI-X PBA write at %#llx dropped",
				       (unsigned long long)off);
			return 0;
		}
		memcpy(buf, (uint8_t *)m->pba + (off - m->pba_off), len);
		return 0;
	}
	if (!write) {
		memcpy(buf, (uint8_t *)m->table + (off - m->table_off), len);
		return 0;
	}
	for (size_t i = 0; i < len; i += 4) {
		uint32_t w;

		memcpy(&w, (const uint8_t *)buf + i, 4);
		table_write32(d, (unsigned)((off - m->table_off + i) / 4), w);
	}
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
	out->addr = e[0] | (uint64_t)e[1] << 32;
	out->data = e[2];
	out->masked = e[3] & PCI_MSIX_ENTRY_CTRL_MASKBIT;
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
