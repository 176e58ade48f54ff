/*
 * cfg_priv.h - the config-space engine's internal contract.
 *
 * Policy is const data: each capability module has tables of struct cfg_reg
 * rows (offsets relative to the capability, masks named from
 * <linux/pci_regs.h>).  At attach the tables are placed into the device as
 * struct cfg_slot entries and every config byte gets an owner in d->owner[]
 * (a slot index, or OWNER_RAW / OWNER_ZERO), so finding the rule for a byte
 * is one array load.
 *
 * The bits of a register, by row masks:
 *   virt   served from the shadow (d->shadow) and written there; never host
 *   write  the guest may change them (shadow if virt, host otherwise)
 *   rw1c   of write: writing 1 clears, writing 0 keeps
 *   rsvd   reserved: read as the host (or shadow) has them; a guest change
 *          reaches the host only in permissive mode, else warned once
 *   other  read-only: guest writes are dropped silently
 * Read:  (host & ~virt) | (shadow & virt), then the row's read hook.
 * Write: the generic path, then the row's on_write hook ("default first,
 * then fix up").  Host bytes are written only for the byte runs that hold
 * guest-writable host bits, read-modify-write from a fresh host read; if
 * that read fails nothing is written (XSA-128).
 */
#ifndef PTDM_CFG_PRIV_H
#define PTDM_CFG_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/pci_regs.h>

/* Newer than Debian 12's <linux/pci_regs.h> (PCIe 5.0, 6.0 names). */
#ifndef PCI_EXT_CAP_ID_PL_32GT
#define PCI_EXT_CAP_ID_PL_32GT 0x2A /* Physical Layer 32.0 GT/s */
#endif
#ifndef PCI_EXT_CAP_ID_LMR
#define PCI_EXT_CAP_ID_LMR 0x27 /* Lane Margining at the Receiver */
#endif
#ifndef PCI_EXT_CAP_ID_HIER_ID
#define PCI_EXT_CAP_ID_HIER_ID 0x28 /* Hierarchy ID */
#endif
#ifndef PCI_EXT_CAP_ID_NPEM
#define PCI_EXT_CAP_ID_NPEM 0x29 /* Native PCIe Enclosure Management */
#endif
#ifndef PCI_EXT_CAP_ID_PL_64GT
#define PCI_EXT_CAP_ID_PL_64GT 0x31 /* Physical Layer 64.0 GT/s */
#endif
#define PTDM_EXT_CAP_ID_LAST 0x31

#include "ptdm/dev.h"

struct ptdm_dev;
struct cfg_slot;

typedef uint32_t cfg_read_hook(struct ptdm_dev *d, const struct cfg_slot *s,
			       uint32_t val);
/* old: shadow before the write; val: the guest's value at register
 * position; mask: the bytes written (0xff per byte) */
typedef void cfg_write_hook(struct ptdm_dev *d, const struct cfg_slot *s,
			    uint32_t old, uint32_t val, uint32_t mask);
/* Before the generic write: the writable bits this value may change (a
 * register that discards some values, e.g. an unsupported D-state). */
typedef uint32_t cfg_write_filter(struct ptdm_dev *d, const struct cfg_slot *s,
				  uint32_t val);

struct cfg_reg {
	const char *name;
	uint16_t off;  /* relative to the capability (absolute in the header) */
	uint8_t size;  /* 1, 2 or 4 */
	uint32_t virt;
	uint32_t write;
	uint32_t rw1c;
	uint32_t rsvd;
	cfg_read_hook *read;
	cfg_write_hook *on_write;
	cfg_write_filter *filter; /* NULL: every writable bit */
};

#define CFG_REG_END { .name = NULL }

struct cfg_slot {
	const struct cfg_reg *reg;
	uint16_t base; /* absolute offset of the register */
	int16_t cap;   /* index into d->caps, -1 for the header */
};

/* d->owner[] values that are not slot indices */
#define OWNER_RAW 0xffffu  /* no rule: read host, write only if permissive */
#define OWNER_ZERO 0xfffeu /* hidden: reads 0, writes dropped */
#define OWNER_ABSENT 0xfffdu /* past the host's config size: reads ~0 */
#define CFG_MAX_SLOTS 2048u

/* ---- capability modules ---- */
struct cap_inst;

struct cap_ops {
	uint16_t id;
	bool ext;
	const char *name;
	/*
	 * Bytes the capability owns at pos (from host config), or a negative
	 * errno when the host's layout is impossible (the cap is hidden).
	 */
	int (*length)(struct ptdm_dev *d, unsigned pos);
	/*
	 * Validate and set up state; set c->table.  Return 0 to keep, or a
	 * negative errno with c->info.reason set to hide the capability.  On
	 * failure init frees what it allocated: fini is not called.
	 */
	int (*init)(struct ptdm_dev *d, struct cap_inst *c);
	/* Power-on values of its virtual registers (attach and reset). */
	void (*reset)(struct ptdm_dev *d, struct cap_inst *c);
	void (*fini)(struct ptdm_dev *d, struct cap_inst *c);
};

struct cap_inst {
	struct ptdm_cap_info info;
	const struct cap_ops *ops; /* NULL for caps not on the allowlist */
	const struct cfg_reg *table;
	uint16_t next_pos; /* the host's next pointer, for reports */
};

/* The registry (caps.c): allowlisted modules, and reasons for the rest. */
const struct cap_ops *cap_find_ops(uint16_t id, bool ext);
const char *cap_name(uint16_t id, bool ext);
const char *cap_hide_reason(uint16_t id, bool ext);

/* Modules (one file each). */
extern const struct cap_ops cap_pm_ops;
extern const struct cap_ops cap_msi_ops;
extern const struct cap_ops cap_msix_ops;
extern const struct cap_ops cap_exp_ops;
extern const struct cap_ops cap_vndr_ops;
extern const struct cap_ops ecap_aer_ops;
extern const struct cap_ops ecap_dsn_ops;
extern const struct cap_ops ecap_vndr_ops;

/* The header (hdr.c). */
extern const struct cfg_reg hdr_type0_regs[];
void hdr_reset(struct ptdm_dev *d);
/* Decode on, an address, no wrap: the owner should map BAR i. */
bool hdr_bar_enabled(const struct ptdm_dev *d, int i);

/* ---- helpers for hooks (cfg.c) ---- */
static inline uint32_t cfg_le_get(const uint8_t *p, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static inline void cfg_le_put(uint8_t *p, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t cfg_shadow_get(const struct ptdm_dev *d, unsigned off, unsigned size);
void cfg_shadow_set(struct ptdm_dev *d, unsigned off, unsigned size,
		    uint32_t val);
/* The host's config as recorded at attach (never re-read: XSA-337). */
uint32_t cfg_host_init(const struct ptdm_dev *d, unsigned off, unsigned size);
/* Live host access for hooks (e.g. power_mgmt). */
int cfg_host_read(struct ptdm_dev *d, unsigned off, unsigned size,
		  uint32_t *val);
int cfg_host_write(struct ptdm_dev *d, unsigned off, unsigned size,
		   uint32_t val);
/* The generic write of one register (val, mask at register position). */
void cfg_slot_write(struct ptdm_dev *d, const struct cfg_slot *s, uint32_t val,
		    uint32_t mask);
/* Absolute offset of the capability a slot belongs to. */
unsigned cfg_slot_cap_pos(const struct ptdm_dev *d, const struct cfg_slot *s);

/*
 * What hooks and modules may call on the device (events.c): reports and
 * the owner's callbacks.  events.c links against nothing else of the core,
 * so modules need not link against attach (dev.c).
 */
/* Record a problem with the host's config (shown by inspect, logged once). */
void dev_problem(struct ptdm_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Rate-limited warning about something the guest did. */
void dev_guest_warn(struct ptdm_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Owner of a hook's side effects. */
int dev_request_reset(struct ptdm_dev *d, enum ptdm_reset_kind kind);
void dev_notify_bar(struct ptdm_dev *d, int bar);
void dev_notify_msi(struct ptdm_dev *d);
void dev_notify_msix(struct ptdm_dev *d, int vector);
void dev_notify_power(struct ptdm_dev *d, int d_state);

/* Engine entry points (cfg.c, caps.c) used by dev.c */
/* Every byte OWNER_RAW (or OWNER_ABSENT past cfg_size), no slots. */
void cfg_map_init(struct ptdm_dev *d);
/* Place a CFG_REG_END-terminated table at base for cap (-1: header);
 * all rows or none.  limit: end of the area the table may use. */
int cfg_place(struct ptdm_dev *d, const struct cfg_reg *table, unsigned base,
	      int cap, unsigned limit);
int caps_build(struct ptdm_dev *d, struct ptdm_err *err);
/* Rewrite the guest's chain pointers in the shadow (attach and reset). */
void caps_relink(struct ptdm_dev *d);
/* Virtual registers to power-on: header, chains, modules (dev.c). */
void dev_reset_shadow(struct ptdm_dev *d);

#endif
