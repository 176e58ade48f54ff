/*
 * dev.h - the core device API every front end uses.
 *
 * A struct ptdm_dev is one assigned device: a host backend (struct host_dev)
 * seen through a virtual config space, virtual BARs and an emulated MSI-X
 * table.  Front ends turn their protocol into these calls; the core calls
 * back through struct ptdm_dev_events when the guest changes something the
 * owner must act on (a BAR moved, MSI enabled, an FLR asked for).
 *
 * Config accesses are 1, 2 or 4 bytes at any offset below 0x1000; the core
 * splits them at register boundaries.  All calls return 0 or -errno.
 */
#ifndef PTDM_DEV_H
#define PTDM_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptdm/err.h"
#include "ptdm/host.h"

struct ptdm_dev;

struct ptdm_dev_opts {
	bool permissive;    /* writes to bits no rule covers reach the host */
	bool power_mgmt;    /* guest PM D-state writes reach the host */
	bool msitranslate;  /* recorded for the Xen front end */
	bool multifunction; /* guest sees the header multifunction bit */
	/* mmap=trap: no BAR fd goes to a VMM; every BAR access is trapped
	 * (with VFIO the fd would be the device fd: docs/security.md) */
	bool mmap_trap;
	/* quirks=off: no device quirk applies (docs/quirks.md) */
	bool no_quirks;
	/* rombar=0: no ROM BAR.  romfile: a ROM image the guest gets instead
	 * of the device's, read and checked at attach (the string is not
	 * kept); NULL: the device's own */
	bool no_rombar;
	const char *romfile;
	int32_t vendor_id;  /* -1: the host's; else the override */
	int32_t device_id;
	int32_t subsystem_vendor_id;
	int32_t subsystem_id;
};

/* Defaults: everything off, no overrides. */
void ptdm_dev_opts_init(struct ptdm_dev_opts *o);

enum ptdm_reset_kind { PTDM_RESET_FLR, PTDM_RESET_DEVICE };

struct ptdm_dev_events {
	void *opaque;
	void (*bar_changed)(void *opaque, int bar); /* address or decode */
	void (*msi_changed)(void *opaque);
	void (*msix_changed)(void *opaque, int vector); /* -1: control */
	void (*power_changed)(void *opaque, int d_state);
	/* NULL: the core resets through the host backend itself */
	int (*reset_request)(void *opaque, enum ptdm_reset_kind kind);
};

/*
 * Build the virtual device over h.  Refuses type-1 headers (bridges) and
 * malformed config with a message in err.  Unless h->readonly, turns host
 * decode on for the BAR types present (XSA-120/126).  h stays the
 * caller's: ptdm_dev_free() does not close it.
 */
int ptdm_dev_attach(struct ptdm_dev **out, struct host_dev *h,
		    const struct ptdm_dev_opts *opts, struct ptdm_err *err);
void ptdm_dev_free(struct ptdm_dev *d);
void ptdm_dev_set_events(struct ptdm_dev *d, const struct ptdm_dev_events *ev);
struct host_dev *ptdm_dev_host(const struct ptdm_dev *d);
const struct ptdm_dev_opts *ptdm_dev_opts(const struct ptdm_dev *d);

/* Host reset (if the backend has one) and virtual state back to power-on. */
int ptdm_dev_reset(struct ptdm_dev *d);

/* ---- migration ---- */
/* Can this device migrate (its backend offers VFIO migration v2 with at
 * least STOP_COPY: an image, a VFIO device whose driver has it)? */
bool ptdm_dev_migratable(const struct ptdm_dev *d);
/* The largest blob ptdm_dev_save can return for a whole-blob backend (an
 * image; 0 otherwise). */
uint64_t ptdm_dev_state_max(const struct ptdm_dev *d);
/* The whole device state as a malloc'ed blob. */
int ptdm_dev_save(struct ptdm_dev *d, uint8_t **buf, size_t *len);
/* Load a blob from ptdm_dev_save of the same device model: validated
 * first, nothing changes on error (-EINVAL malformed, -ENODEV another
 * device). */
int ptdm_dev_load(struct ptdm_dev *d, const uint8_t *buf, size_t len);

/*
 * Migration v2, VFIO's state machine (states numbered like enum
 * vfio_device_mig_state), for every backend through host_ops.mig_*
 * (src/core/state.c has the stream format).  flags: VFIO_MIGRATION_*
 * the device offers, -ENOTSUP when it cannot migrate.  set_state walks
 * the shortest path; a refused stream at RESUMING->STOP leaves the
 * device unchanged in ERROR (a reset leaves it).  read hands out the
 * stream in a saving state (a short read: the end, or in PRE_COPY all
 * there is for now); write takes it in RESUMING, in any split.
 * reset: back to RUNNING (a device reset, the VMM gone).
 */
#define PTDM_MIG_PRE_COPY 6     /* VFIO_DEVICE_STATE_PRE_COPY */
#define PTDM_MIG_PRE_COPY_P2P 7 /* VFIO_DEVICE_STATE_PRE_COPY_P2P */
int ptdm_mig_flags(struct ptdm_dev *d, uint64_t *flags);
uint32_t ptdm_mig_state(const struct ptdm_dev *d);
int ptdm_mig_set_state(struct ptdm_dev *d, uint32_t state);
int ptdm_mig_read(struct ptdm_dev *d, void *buf, size_t len, size_t *got);
int ptdm_mig_write(struct ptdm_dev *d, const void *buf, size_t len);
int ptdm_mig_data_size(struct ptdm_dev *d, uint64_t *bytes);
void ptdm_mig_reset(struct ptdm_dev *d);

/* ---- config space ---- */
unsigned ptdm_cfg_size(const struct ptdm_dev *d); /* 256 or 4096 */
int ptdm_cfg_read(struct ptdm_dev *d, unsigned off, unsigned size,
		  uint32_t *val);
int ptdm_cfg_write(struct ptdm_dev *d, unsigned off, unsigned size,
		   uint32_t val);
/* Any length, split into naturally aligned 1/2/4-byte accesses. */
int ptdm_cfg_rw(struct ptdm_dev *d, unsigned off, void *buf, size_t len,
		bool write);

/* ---- counters ---- */
/* Why a guest write was dropped, wholly or in part. */
enum ptdm_drop_reason {
	PTDM_DROP_READONLY,      /* tried to change read-only bits */
	PTDM_DROP_RESERVED,      /* reserved bits, not permissive */
	PTDM_DROP_NO_RULE,       /* a config field no rule covers */
	PTDM_DROP_HIDDEN,        /* a hidden capability, past config space */
	PTDM_DROP_NO_HOST_VALUE, /* host read failed: no blind write */
	PTDM_DROP_DECODE_OFF,    /* trapped BAR access, guest decode off */
	PTDM_DROP_D3,            /* trapped BAR access, device not in D0 */
	PTDM_DROP_MSIX_PAGE,     /* MSI-X page: not an aligned table write */
	PTDM_DROP_NR
};

/*
 * Cumulative since attach (a reset does not clear them).  A guest write
 * that is dropped for several reasons counts once in dropped and once in
 * each reason.  Failures of the host are logged, rate-limited per device.
 */
struct ptdm_dev_stats {
	uint64_t cfg_reads, cfg_writes; /* guest config accesses */
	uint64_t bar_reads, bar_writes; /* trapped BAR accesses */
	uint64_t dropped;               /* guest writes dropped */
	uint64_t dropped_by[PTDM_DROP_NR];
	uint64_t host_cfg_write_errors; /* the host refused a config write */
	uint64_t reset_errors;          /* a reset or FLR failed */
};

void ptdm_dev_stats(const struct ptdm_dev *d, struct ptdm_dev_stats *out);
/* "read-only", "reserved", ...: one word or two, for counters. */
const char *ptdm_drop_reason_name(enum ptdm_drop_reason r);

/* ---- trace of guest config writes ---- */
/* What a write did, an OR of: */
#define PTDM_TRACE_HOST 0x1u       /* bytes reached the host */
#define PTDM_TRACE_VIRTUAL 0x2u    /* the device model took it */
#define PTDM_TRACE_DROPPED 0x4u    /* bits were dropped: see rule */
#define PTDM_TRACE_HOST_ERROR 0x8u /* the host refused its part */

/*
 * One register touched by a guest config write (a write over several
 * registers gives one per register).  Strings are const, valid as long as
 * the device.
 */
struct ptdm_cfg_trace {
	unsigned off, len;   /* the bytes of this register written */
	const char *reg;     /* the policy table's row name ("command",
			      * "bar0", "msix control"), or "(no rule)",
			      * "(hidden)", "(past config space)" */
	const char *cap;     /* capability name, NULL in the header */
	uint32_t old_val, new_val; /* those bytes as the guest reads them */
	uint32_t val;        /* what the guest wrote there */
	unsigned outcome;    /* PTDM_TRACE_* */
	enum ptdm_drop_reason reason; /* when PTDM_TRACE_DROPPED */
	const char *rule;    /* the rule that dropped it, NULL if none */
};

typedef void ptdm_trace_fn(void *opaque, const struct ptdm_cfg_trace *t);
/* fn NULL turns it off.  Costs nothing on any path while off. */
void ptdm_dev_set_trace(struct ptdm_dev *d, ptdm_trace_fn *fn, void *opaque);

/* ---- capabilities, for inspect ---- */
struct ptdm_cap_info {
	uint16_t id;
	uint16_t pos;     /* offset in config space (host = guest) */
	uint16_t len;     /* bytes owned, 0 if unknown */
	uint8_t version;  /* extended caps; PCIe cap version for PCI_CAP_ID_EXP */
	bool ext;
	bool hidden;
	const char *name;
	const char *reason; /* why hidden, NULL when kept */
};

size_t ptdm_dev_ncaps(const struct ptdm_dev *d);
const struct ptdm_cap_info *ptdm_dev_cap(const struct ptdm_dev *d, size_t i);
/* Problems found in the host config (hostile chains etc.), for inspect. */
size_t ptdm_dev_nproblems(const struct ptdm_dev *d);
const char *ptdm_dev_problem(const struct ptdm_dev *d, size_t i);

/* ---- legacy VGA ranges (vfio-user region 8) ---- */
#define PTDM_VGA_SIZE 0xc0000u
/* PTDM_VGA_SIZE for a VGA-class device whose host offers the VGA ranges,
 * else 0. */
uint64_t ptdm_dev_vga_size(const struct ptdm_dev *d);
/*
 * An access at off (the address: memory 0xa0000-0xbffff, I/O 0x3b0-0x3bb
 * and 0x3c0-0x3df) inside one of those ranges, gated by the guest's
 * decode.  -ENXIO: no VGA ranges; -EINVAL: not inside one range.
 */
int ptdm_vga_rw(struct ptdm_dev *d, uint64_t off, void *buf, size_t len,
		bool write);

/* ---- expansion ROM ---- */
#define PTDM_ROM_MAX (16u << 20) /* the largest romfile */
/*
 * Is rom[0..len) a PCI expansion ROM for vendor:device (0x55aa, PCI data
 * structures, IDs, image lengths), no larger than bar_size (0: any)?
 * 0, or -EINVAL / -EFBIG with the reason in err.
 */
int ptdm_rom_check(const uint8_t *rom, size_t len, uint16_t vendor,
		   uint16_t device, uint64_t bar_size, struct ptdm_err *err);

/* ---- Intel IGD OpRegion (quirk intel-igd) ---- */
#define PTDM_IGD_OPREGION_PAGES 3 /* 8 KiB at any offset in its page */
/*
 * The host's OpRegion address (its ASLS) and the guest's ASLS (0: not
 * placed yet; else, after ptdm_dev_igd_map_host_opregion, the guest's page
 * with the host's offset in it), for a
 * front end that maps the host's OpRegion pages into the guest (Xen, as
 * xen_pt does).  -ENOENT: no active IGD quirk or no host OpRegion.
 */
int ptdm_dev_igd_opregion(const struct ptdm_dev *d, uint64_t *host_addr,
			  uint64_t *guest_addr);
/*
 * A front end that maps the host's OpRegion pages at the guest's ASLS
 * (Xen) says so before the guest runs: ASLS then keeps the host's offset
 * in the guest's page (xen_pt's rule).  Otherwise the guest's ASLS is what
 * it wrote: the address of its copy of the OpRegion (QEMU's firmware
 * writes where it put etc/igd-opregion).
 */
void ptdm_dev_igd_map_host_opregion(struct ptdm_dev *d);

/*
 * The OpRegion copy a VMM gives the guest (vfio-user: the read-only region
 * of type VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086, subtype
 * VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION), taken from the host at attach
 * and checked (src/core/igd_opregion.c), at most PTDM_IGD_OPREGION_MAX
 * (host.h).  Its size, 0: none.
 */
uint64_t ptdm_dev_igd_opregion_size(const struct ptdm_dev *d);
/* Bytes [off, off+len) of it: -ENXIO none, -EINVAL outside. */
int ptdm_igd_opregion_read(const struct ptdm_dev *d, uint64_t off, void *buf,
			   size_t len);
/* Is op[0..len) a whole OpRegion as vfio-pci lays it out (signature,
 * header size, extended VBT)?  0, or -EINVAL / -EFBIG with err. */
int ptdm_igd_opregion_check(const uint8_t *op, size_t len,
			    struct ptdm_err *err);

/* ---- device quirks (docs/quirks.md), for inspect ---- */
/* A BAR range a quirk traps, or a config register it virtualizes. */
#define PTDM_QUIRK_VGA 8 /* ptdm_quirk_range.bar: the legacy VGA ranges */
struct ptdm_quirk_range {
	int bar;            /* 0-5; -1: config space; PTDM_QUIRK_VGA */
	uint64_t off, len;
	const char *what;   /* "config mirror", "BDSM", ... */
};
#define PTDM_QUIRK_MAX_RANGES 8

struct ptdm_quirk_info {
	const char *name;   /* "nvidia-config-mirrors" */
	const char *what;   /* one line: what it does and why */
	bool active;        /* false: matched, but off (reason says why) */
	const char *reason; /* NULL when active */
	const char *reset;  /* the reset method it adds, NULL if none */
	unsigned nranges;   /* ranges in effect (none while inactive) */
	struct ptdm_quirk_range range[PTDM_QUIRK_MAX_RANGES];
};

/* The quirks that matched this device, active or not. */
size_t ptdm_dev_nquirks(const struct ptdm_dev *d);
const struct ptdm_quirk_info *ptdm_dev_quirk(const struct ptdm_dev *d,
					     size_t i);

/* ---- BARs ---- */
struct ptdm_bar_info {
	enum host_bar_kind kind;
	bool prefetch;
	bool size_known;
	uint64_t size;
	uint64_t guest_addr; /* as the guest programmed it */
	bool guest_enabled;  /* decode on, not being sized: map it */
};

void ptdm_dev_bar(const struct ptdm_dev *d, int bar, struct ptdm_bar_info *out);

/*
 * Trapped ranges: the parts of a BAR the core must see every access to
 * (the MSI-X table and PBA, device quirk windows).  A VMM or backend maps
 * the rest of a memory BAR straight into the guest and traps these.
 * Ranges are sorted, merged (touching ones too) and page aligned to the
 * host's page size: the start is a page boundary, the end a page boundary
 * or the end of the BAR when the BAR is smaller.  why is an OR of
 * PTDM_TRAP_* saying which sources fall in the range.
 */
#define PTDM_TRAP_MSIX_TABLE 0x1u
#define PTDM_TRAP_MSIX_PBA 0x2u
#define PTDM_TRAP_QUIRK 0x4u
#define PTDM_MAX_TRAPPED 16 /* never more ranges than this in one BAR */

struct ptdm_range {
	uint64_t off, len; /* offset in the BAR, bytes */
	unsigned why;      /* PTDM_TRAP_* */
};

/*
 * The trapped ranges of BAR bar (0..5, PTDM_ROM_INDEX): writes at most max
 * of them to out and returns how many there are (0: map the whole BAR), or
 * -EINVAL for a bad bar.
 */
int ptdm_dev_trapped(const struct ptdm_dev *d, int bar, struct ptdm_range *out,
		     unsigned max);
/* Does [off, off+len) of BAR bar touch a trapped range? */
bool ptdm_dev_is_trapped(const struct ptdm_dev *d, int bar, uint64_t off,
			 uint64_t len);
/* The host page size trapped ranges are rounded to (4096 by default). */
unsigned ptdm_dev_page_size(const struct ptdm_dev *d);

/*
 * Trapped access to BAR bar at offset off: the MSI-X table and PBA are
 * emulated (4/8-byte aligned only; out of range writes dropped, XSA-164),
 * everything else goes to the host backend.
 */
int ptdm_bar_rw(struct ptdm_dev *d, int bar, uint64_t off, void *buf,
		size_t len, bool write);

/* ---- interrupts as the guest programmed them ---- */
struct ptdm_msi_state {
	bool present, enabled, is64, maskable;
	unsigned nvec_max, nvec; /* nvec: enabled vectors (power of two) */
	uint64_t addr;
	uint16_t data;
	uint32_t mask, pending;
};

struct ptdm_msix_info {
	bool present, enabled, function_masked;
	unsigned nvec;
	int table_bar, pba_bar;
	uint32_t table_off, pba_off;
};

struct ptdm_msix_entry {
	uint64_t addr;
	uint32_t data;
	bool masked;
};

void ptdm_msi_get(const struct ptdm_dev *d, struct ptdm_msi_state *out);
void ptdm_msix_get(const struct ptdm_dev *d, struct ptdm_msix_info *out);
int ptdm_msix_entry_get(const struct ptdm_dev *d, unsigned vec,
			struct ptdm_msix_entry *out);
/* The owner reports a vector that fired while masked (sets PBA/pending). */
int ptdm_msi_set_pending(struct ptdm_dev *d, unsigned vec, bool pending);
int ptdm_msix_set_pending(struct ptdm_dev *d, unsigned vec, bool pending);

#endif
