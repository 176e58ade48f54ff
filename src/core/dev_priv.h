/*
 * dev_priv.h - struct ptdm_dev, shared by the core's files only.
 *
 * Guest view and host view stay apart: shadow[] holds the guest's virtual
 * bytes, host_init[] the host config recorded at attach (the cache XSA-337
 * asks for), and host live values are read through the backend only for
 * bits a rule passes through.
 */
#ifndef PTDM_DEV_PRIV_H
#define PTDM_DEV_PRIV_H

#include "core/cfg_priv.h"
#include "core/quirk_priv.h"
#include "ptdm/dev.h"
#include "ptdm/log.h"

#define DEV_MAX_CAPS 1024u
#define DEV_MAX_PROBLEMS 16u
#define MSIX_MAX_VECTORS 2048u
#define DEV_MAX_TRAPS PTDM_MAX_TRAPPED
#define DEV_DEFAULT_PAGE 4096u
#define DEV_MAX_PAGE 65536u

struct bar_state {
	struct host_bar host; /* as the backend reported it at attach */
	uint64_t guest_addr;  /* address bits the guest wrote */
	bool sizing;          /* last write was all-ones */
	bool notified_enabled;
	uint64_t notified_addr;
};

struct msix_state {
	unsigned nvec; /* 0: no usable MSI-X */
	int table_bar, pba_bar;
	uint32_t table_off, pba_off;
	uint32_t *table; /* nvec * 4 dwords: addr lo, addr hi, data, ctrl */
	uint64_t *pba;   /* ceil(nvec / 64) qwords */
	uint32_t *latch; /* nvec * 3 dwords written while the entry was live */
	uint8_t *latched; /* per entry: bit i = latch[i] holds a value */
};

/* A range of a BAR the core must see, as its source gave it (trap.c). */
struct trap_src {
	uint64_t off, len;
	int bar;
	unsigned why; /* one PTDM_TRAP_* */
};

static inline uint64_t msix_table_bytes(unsigned nvec)
{
	return (uint64_t)nvec * PCI_MSIX_ENTRY_SIZE;
}

static inline uint64_t msix_pba_bytes(unsigned nvec)
{
	return ((uint64_t)nvec + 63) / 64 * 8;
}

struct ptdm_dev {
	struct host_dev *host;
	struct ptdm_dev_opts opts;
	struct ptdm_dev_events ev;
	unsigned cfg_size;

	uint8_t shadow[PTDM_CFG_SPACE_SIZE];
	uint8_t host_init[PTDM_CFG_SPACE_SIZE];
	uint16_t owner[PTDM_CFG_SPACE_SIZE];

	struct cfg_slot *slots;
	unsigned nslots;
	struct cap_inst *caps;
	unsigned ncaps;
	/* index into caps[] of the kept modules, -1 when absent */
	int cap_pm, cap_msi, cap_msix, cap_exp, cap_aer;
	uint8_t first_cap;     /* guest's capability pointer */
	uint16_t first_ecap;   /* first kept ext cap, 0 if none */

	struct bar_state bars[PTDM_NUM_BARS + 1];
	struct msix_state msix;
	struct trap_src traps[DEV_MAX_TRAPS];
	unsigned ntraps;
	unsigned page_size; /* the host's, power of two */
	struct quirk_inst *quirks; /* matched (quirk.c); NULL: none */
	unsigned nquirks;
	uint8_t *rom; /* romfile's image (rom.c), NULL: the device's ROM */
	size_t rom_len;
	uint8_t *opregion; /* IGD OpRegion copy (igd_opregion.c), NULL: none */
	size_t opregion_len;
	bool igd_asls_host_offset; /* the front end maps the host's pages */

	char problems[DEV_MAX_PROBLEMS][160];
	unsigned nproblems;
	bool warned_unknown_write;
	bool loading; /* replaying a migration stream: no host writes */
	struct dev_mig *mig; /* migration v2 state (state.c), NULL: RUNNING */
	struct ptdm_ratelimit guest_rl;
	struct ptdm_ratelimit host_rl; /* host failures: writes, resets */
	struct ptdm_dev_stats st;
	ptdm_trace_fn *trace_fn; /* NULL: no trace (the only check) */
	void *trace_opaque;
	/* the default for dev_request_reset() (ptdm_dev_reset), set by
	 * attach: hooks reach it without linking against dev.c */
	int (*reset_self)(struct ptdm_dev *d);
};

/*
 * Trapped ranges (trap.c).  Sources (a capability at init, a quirk module)
 * add the exact bytes they emulate; ptdm_dev_trapped() rounds them to the
 * host page.  add: -EINVAL for a bad bar or an empty or wrapping range,
 * -ENOSPC when the table is full.  remove drops every source with why.
 */
int dev_trap_add(struct ptdm_dev *d, int bar, uint64_t off, uint64_t len,
		 unsigned why);
void dev_trap_remove(struct ptdm_dev *d, unsigned why);
/*
 * OR of the why of every source of bar (limited to why_mask) whose range,
 * rounded out to granule (a power of two), [off, off+len) touches.
 */
/* A guest write dropped for reason r (counted once per write). */
void dev_count_drop(struct ptdm_dev *d, enum ptdm_drop_reason r);
/* Count a failed reset or FLR and log it, rate-limited. */
void dev_reset_failed(struct ptdm_dev *d, const char *what, int rc);

/* Does the guest's view stop a trapped access to bar (DEV_VGA_MEM / DEV_VGA_IO:
 * the VGA ranges) reaching the device: decode off, not in D0?
 * 0, or the enum ptdm_drop_reason of a dropped write (dev.c). */
int dev_guest_blocks(struct ptdm_dev *d, int bar);
#define DEV_VGA_MEM (-1) /* dev_guest_blocks: the VGA memory range */
#define DEV_VGA_IO (-2)  /* the VGA I/O ports */

/* ROM (rom.c): rombar=0 / romfile at attach; bytes of the romfile image. */
int rom_attach(struct ptdm_dev *d, struct ptdm_err *err);
void rom_read(const struct ptdm_dev *d, uint64_t off, void *buf, size_t len);

unsigned dev_trap_hit(const struct ptdm_dev *d, int bar, uint64_t off,
		      uint64_t len, unsigned why_mask, uint64_t granule);

/* state.c: drop the migration state (ptdm_dev_free) */
void dev_mig_free(struct ptdm_dev *d);

#endif
