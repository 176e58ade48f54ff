/*
 * quirk_priv.h - device quirks: what a device needs beyond the PCI rules.
 *
 * A quirk is const data, one file each (src/core/quirk_*.c), like the
 * capability modules: the devices it matches (vendor, device, class,
 * revision range), the config registers it virtualizes (struct cfg_reg
 * rows at absolute offsets, placed after the capabilities), the BAR ranges
 * it traps (through the core's trapped-range table, so every front end
 * leaves them unmapped) and what an access there does, and the reset
 * method it adds.  quirk.c matches them at attach, places their rows,
 * registers their windows and routes trapped BAR accesses that fall in a
 * window to the quirk.  A quirk that cannot apply (its BAR is missing or
 * too small, a register is taken by a capability) is kept in the list as
 * inactive with the reason, and the device still attaches; quirks=off
 * (opts.no_quirks) lists the matches and applies none.
 */
#ifndef PTDM_QUIRK_PRIV_H
#define PTDM_QUIRK_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg_priv.h"

#define QUIRK_ANY (-1)
#define DEV_MAX_QUIRKS 8u

/* vendor/device QUIRK_ANY match anything; (class & class_mask) ==
 * class_val on the 24-bit class code; rev_min..rev_max inclusive.
 * A list ends with an entry whose vendor is 0. */
struct quirk_match {
	int32_t vendor, device;
	uint32_t class_mask, class_val;
	uint8_t rev_min, rev_max;
};

/* The kind of BAR a window needs; QUIRK_BAR_VGA: a window in the legacy
 * VGA ranges (bar QUIRK_VGA, offsets as addresses), when the device has
 * them (ptdm_dev_vga_size).  VGA windows are never mapped: no trap row. */
enum quirk_bar_need { QUIRK_BAR_MEM, QUIRK_BAR_MEM64, QUIRK_BAR_IO,
		      QUIRK_BAR_VGA };
#define QUIRK_VGA PTDM_QUIRK_VGA

/*
 * A BAR range the quirk traps.  mirror: the window is config space from
 * cfg_base on (reads and writes go through the guest's virtual config,
 * ptdm_cfg_rw); otherwise the quirk's rw handles it.  A list ends with an
 * entry whose what is NULL.
 */
struct quirk_window {
	const char *what;
	int bar;
	uint32_t off, len;
	enum quirk_bar_need need;
	bool mirror;
	uint16_t cfg_base;
};

struct quirk_inst;

struct quirk_ops {
	const char *name;
	const char *what;
	const struct quirk_match *match;
	/* config rows at absolute offsets (NULL: none); init may choose
	 * another table through q->regs */
	const struct cfg_reg *regs;
	const struct quirk_window *windows; /* NULL: none */
	const char *reset;                  /* the reset method it adds */
	/*
	 * Optional: check the device, choose q->regs, turn windows off
	 * (clear their bit in q->windows).  A negative errno with
	 * q->info.reason set leaves the quirk inactive.
	 */
	int (*init)(struct ptdm_dev *d, struct quirk_inst *q);
	/* Optional: power-on state (attach and every reset), after the
	 * capabilities' own; q->st is zeroed before. */
	void (*reset_state)(struct ptdm_dev *d, struct quirk_inst *q);
	/* An access inside window w (not a mirror) at off in the window:
	 * it never crosses the window's end.  Decode is checked before. */
	int (*rw)(struct ptdm_dev *d, struct quirk_inst *q, unsigned w,
		  uint64_t off, void *buf, size_t len, bool write);
};

struct quirk_inst {
	const struct quirk_ops *ops;
	struct ptdm_quirk_info info;
	const struct cfg_reg *regs;
	unsigned windows; /* bit w: window w in effect */
	int gen;          /* a generation the quirk found (IGD) */
	uint32_t st[4];   /* the quirk's own registers (a latched address) */
};

/* The registry (quirk.c), NULL-terminated, and the modules. */
extern const struct quirk_ops *const quirk_registry[];
extern const struct quirk_ops quirk_nvidia_ops;
extern const struct quirk_ops quirk_ati_ops;
extern const struct quirk_ops quirk_rtl8168_ops;
extern const struct quirk_ops quirk_igd_ops;
extern const struct quirk_ops quirk_no_flr_ops;
extern const struct quirk_ops quirk_ati_no_soft_reset_ops;
extern const struct quirk_ops quirk_edu_test_ops;
/* The graphics generation of an Intel VGA device ID, -1 unknown. */
int quirk_igd_gen(uint16_t device);
/* Take and check the host's OpRegion copy (igd_opregion.c): 0, -ENOENT
 * when the host has none, else the error (a device problem says it). */
int igd_opregion_load(struct ptdm_dev *d);

/* Does m match this host device (IDs from the attach snapshot)? */
bool quirk_matches(const struct ptdm_dev *d, const struct quirk_match *m);

/* ---- used by dev.c ---- */
/* Match, place rows and register windows (after the capabilities). */
int quirks_attach(struct ptdm_dev *d, struct ptdm_err *err);
/* Power-on state of every active quirk (dev_reset_shadow). */
void quirks_reset(struct ptdm_dev *d);
/*
 * The active quirk window of bar holding off, with *w its index and *woff
 * the offset in it; *n is cut to the window's end.  NULL when off is in
 * no window: then *n is cut to the next window's start.
 */
struct quirk_inst *quirk_window_at(struct ptdm_dev *d, int bar, uint64_t off,
				   size_t *n, unsigned *w, uint64_t *woff);
/* An access inside window w of q, decode already checked. */
int quirk_window_rw(struct ptdm_dev *d, struct quirk_inst *q, unsigned w,
		    uint64_t woff, void *buf, size_t len, bool write);

/* ---- for the modules ---- */
/* The device's own bytes at BAR bar, past every quirk and emulation. */
int quirk_host_rw(struct ptdm_dev *d, int bar, uint64_t off, void *buf,
		  size_t len, bool write);
/* The guest's config at off (what a mirror shows). */
int quirk_cfg_rw(struct ptdm_dev *d, unsigned off, void *buf, size_t len,
		 bool write);
/*
 * A register that may be written in parts: apply the bytes [off, off+len)
 * of an access (at window offset off, register at reg_off, 4 bytes) to
 * *reg.  Returns false when the access does not touch the register.
 */
bool quirk_reg_update(uint32_t *reg, unsigned reg_off, uint64_t off,
		      const void *buf, size_t len);

#endif
