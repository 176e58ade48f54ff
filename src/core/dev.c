/*
 * dev.c - one assigned device: attach, reset, trapped BAR access, and the
 * owner's view of what the guest programmed.
 *
 * Attach reads the host config once into host_init (the snapshot XSA-337
 * wants), refuses what cannot be assigned (bridges, no device), builds the
 * owner map through the engine and puts the virtual registers in their
 * power-on state.  Unless the backend is read-only it then turns host decode
 * on for the BAR types present (XSA-126): from here on the guest's decode
 * bits are virtual.  Trapped BAR accesses go to the emulated MSI-X table
 * and PBA first (memory of the model's: they answer whatever the guest's
 * decode), to the backend otherwise - and to nothing while the guest's
 * decode for that BAR is off or the device is not in D0 (the
 * CVE-2020-12888 rule, for trapped paths).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/caps_priv.h"
#include "core/dev_priv.h"

void ptdm_dev_opts_init(struct ptdm_dev_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->vendor_id = o->device_id = -1;
	o->subsystem_vendor_id = o->subsystem_id = -1;
}

static int check_override(int32_t v, const char *what, const char *name,
			  struct ptdm_err *err)
{
	if (v < -1 || v > 0xffff)
		return ptdm_errf(err, -EINVAL, "%s: %s override %d out of range",
				 name, what, v);
	return 0;
}

/* Refuse what a guest cannot be given, with the reason. */
static int check_assignable(struct ptdm_dev *d, struct ptdm_err *err)
{
	const char *name = d->host->name;
	uint16_t vendor = (uint16_t)cfg_host_init(d, PCI_VENDOR_ID, 2);
	uint8_t type = d->host_init[PCI_HEADER_TYPE] & 0x7f;

	if (vendor == 0xffff || vendor == 0)
		return ptdm_errf(err, -ENODEV,
				 "%s: vendor ID %#06x: no device there", name,
				 vendor);
	if (type == PCI_HEADER_TYPE_BRIDGE)
		return ptdm_errf(err, -EPERM,
				 "%s: is a PCI bridge (type 1 header); bridges "
				 "cannot be assigned to a guest - assign the "
				 "devices behind it instead", name);
	if (type == PCI_HEADER_TYPE_CARDBUS)
		return ptdm_errf(err, -EPERM,
				 "%s: is a CardBus bridge (type 2 header) and "
				 "cannot be assigned", name);
	if (type != PCI_HEADER_TYPE_NORMAL)
		return ptdm_errf(err, -EINVAL,
				 "%s: unknown header type %#04x", name, type);
	return 0;
}

/* Compare what the backend says about BARs with the registers. */
static void check_bars(struct ptdm_dev *d)
{
	for (int i = 0; i < PTDM_NUM_BARS; i++) {
		const struct host_bar *b = &d->bars[i].host;
		uint32_t reg = cfg_host_init(d, PCI_BASE_ADDRESS_0 + 4u * i, 4);
		bool io = reg & PCI_BASE_ADDRESS_SPACE_IO;

		if (b->kind == HOST_BAR_NONE || b->kind == HOST_BAR_MEM64_HI)
			continue;
		if (io != (b->kind == HOST_BAR_IO) && reg)
			dev_problem(d, "BAR %d: backend says %s, register "
				    "%#010x says otherwise", i,
				    host_bar_kind_name(b->kind), reg);
		if (b->size_known && b->size & (b->size - 1))
			dev_problem(d, "BAR %d: size %#llx is not a power "
				    "of two", i, (unsigned long long)b->size);
	}
	if (d->bars[PTDM_NUM_BARS - 1].host.kind == HOST_BAR_MEM64)
		d->bars[PTDM_NUM_BARS - 1].host = (struct host_bar){
			.size_known = true
		};
}

/* XSA-120/126: the host decodes every BAR type it has, whatever the guest
 * writes to its own COMMAND. */
static void host_decode_on(struct ptdm_dev *d)
{
	uint32_t cmd, want = 0;

	if (d->host->readonly)
		return;
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		switch (d->bars[i].host.kind) {
		case HOST_BAR_IO:
			want |= PCI_COMMAND_IO;
			break;
		case HOST_BAR_MEM32:
		case HOST_BAR_MEM64:
		case HOST_BAR_ROM:
			want |= PCI_COMMAND_MEMORY;
			break;
		default:
			break;
		}
	}
	if (cfg_host_read(d, PCI_COMMAND, 2, &cmd))
		return;
	if ((cmd & want) != want)
		cfg_host_write(d, PCI_COMMAND, 2, cmd | want);
}

/* The owner map: the header table, then the capabilities. */
static int dev_build_map(struct ptdm_dev *d, struct ptdm_err *err)
{
	int rc;

	cfg_map_init(d);
	rc = cfg_place(d, hdr_type0_regs, 0, -1, PCI_STD_HEADER_SIZEOF);
	if (rc)
		return ptdm_errf(err, rc, "%s: header table: %s", d->host->name,
				 strerror(-rc));
	rc = caps_build(d, err);
	return rc ? rc : quirks_attach(d, err);
}

void dev_reset_shadow(struct ptdm_dev *d)
{
	memcpy(d->shadow, d->host_init, sizeof(d->shadow));
	hdr_reset(d);
	caps_relink(d);
	for (unsigned i = 0; i < d->ncaps; i++) {
		struct cap_inst *c = &d->caps[i];

		if (!c->info.hidden && c->ops && c->ops->reset)
			c->ops->reset(d, c);
	}
	quirks_reset(d);
}

/*
 * The map is built in arrays of the largest size a device can need; keep
 * only what this one uses (a device costs its real size, and the big
 * arrays go back to the allocator for the next attach).  Nothing adds
 * slots or capabilities after attach.
 */
static int dev_fit(struct ptdm_dev *d, struct ptdm_err *err)
{
	struct cfg_slot *s = malloc((d->nslots ? d->nslots : 1) * sizeof(*s));
	struct cap_inst *c = malloc((d->ncaps ? d->ncaps : 1) * sizeof(*c));

	if (!s || !c) {
		free(s);
		free(c);
		return ptdm_errf(err, -ENOMEM, "%s: out of memory",
				 d->host->name);
	}
	memcpy(s, d->slots, d->nslots * sizeof(*s));
	memcpy(c, d->caps, d->ncaps * sizeof(*c));
	free(d->slots);
	free(d->caps);
	d->slots = s;
	d->caps = c;
	return 0;
}

int ptdm_dev_attach(struct ptdm_dev **out, struct host_dev *h,
		    const struct ptdm_dev_opts *opts, struct ptdm_err *err)
{
	struct ptdm_dev *d;
	int rc;

	if (h->cfg_size != PTDM_CFG_LEGACY_SIZE &&
	    h->cfg_size != PTDM_CFG_SPACE_SIZE)
		return ptdm_errf(err, -EINVAL, "%s: config size %u", h->name,
				 h->cfg_size);
	if (h->page_size && (h->page_size < DEV_DEFAULT_PAGE ||
			     h->page_size > DEV_MAX_PAGE ||
			     h->page_size & (h->page_size - 1)))
		return ptdm_errf(err, -EINVAL, "%s: host page size %u is not "
				 "a power of two from 4 KiB to 64 KiB",
				 h->name, h->page_size);
	rc = check_override(opts->vendor_id, "vendor", h->name, err);
	rc = rc ? rc : check_override(opts->device_id, "device", h->name, err);
	rc = rc ? rc : check_override(opts->subsystem_vendor_id,
				      "subsystem vendor", h->name, err);
	rc = rc ? rc : check_override(opts->subsystem_id, "subsystem",
				      h->name, err);
	if (rc)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", h->name);
	d->slots = calloc(CFG_MAX_SLOTS, sizeof(*d->slots));
	d->caps = calloc(DEV_MAX_CAPS, sizeof(*d->caps));
	if (!d->slots || !d->caps) {
		rc = ptdm_errf(err, -ENOMEM, "%s: out of memory", h->name);
		goto fail;
	}
	d->host = h;
	d->opts = *opts;
	d->cfg_size = h->cfg_size;
	d->page_size = h->page_size ? h->page_size : DEV_DEFAULT_PAGE;
	rc = host_cfg_read(h, 0, d->host_init, h->cfg_size);
	if (rc) {
		ptdm_errf(err, rc, "%s: cannot read config space: %s", h->name,
			  strerror(-rc));
		goto fail;
	}
	rc = check_assignable(d, err);
	if (rc)
		goto fail;
	for (int i = 0; i <= PTDM_ROM_INDEX; i++)
		d->bars[i].host = h->bars[i];
	check_bars(d);
	rc = rom_attach(d, err);
	if (rc)
		goto fail;
	d->reset_self = ptdm_dev_reset;
	rc = dev_build_map(d, err);
	if (!rc)
		rc = dev_fit(d, err);
	if (rc)
		goto fail;
	dev_reset_shadow(d);
	host_decode_on(d);
	*out = d;
	return 0;
fail:
	ptdm_dev_free(d);
	return rc;
}

void ptdm_dev_free(struct ptdm_dev *d)
{
	if (!d)
		return;
	dev_mig_free(d);
	for (unsigned i = 0; d->caps && i < d->ncaps; i++) {
		struct cap_inst *c = &d->caps[i];

		if (!c->info.hidden && c->ops && c->ops->fini)
			c->ops->fini(d, c);
	}
	free(d->slots);
	free(d->caps);
	free(d->rom);
	free(d->opregion);
	free(d->quirks);
	free(d);
}

void ptdm_dev_set_events(struct ptdm_dev *d, const struct ptdm_dev_events *ev)
{
	if (ev)
		d->ev = *ev;
	else
		memset(&d->ev, 0, sizeof(d->ev));
}

struct host_dev *ptdm_dev_host(const struct ptdm_dev *d)
{
	return d->host;
}

const struct ptdm_dev_opts *ptdm_dev_opts(const struct ptdm_dev *d)
{
	return &d->opts;
}

int ptdm_dev_reset(struct ptdm_dev *d)
{
	int rc = 0;

	if (d->host->ops->reset && !d->host->readonly)
		rc = d->host->ops->reset(d->host);
	/* a device with no reset method has nothing that failed */
	if (rc && rc != -ENOTTY && rc != -ENOTSUP)
		dev_reset_failed(d, "host reset", rc);
	host_decode_on(d);
	dev_reset_shadow(d);
	return rc;
}

/* ---- introspection ---- */

size_t ptdm_dev_ncaps(const struct ptdm_dev *d)
{
	return d->ncaps;
}

const struct ptdm_cap_info *ptdm_dev_cap(const struct ptdm_dev *d, size_t i)
{
	return i < d->ncaps ? &d->caps[i].info : NULL;
}

size_t ptdm_dev_nproblems(const struct ptdm_dev *d)
{
	return d->nproblems;
}

const char *ptdm_dev_problem(const struct ptdm_dev *d, size_t i)
{
	return i < d->nproblems ? d->problems[i] : NULL;
}

void ptdm_dev_bar(const struct ptdm_dev *d, int bar, struct ptdm_bar_info *out)
{
	const struct bar_state *b;

	memset(out, 0, sizeof(*out));
	if (bar < 0 || bar > PTDM_ROM_INDEX)
		return;
	b = &d->bars[bar];
	out->kind = b->host.kind;
	out->prefetch = b->host.prefetch;
	out->size_known = b->host.size_known;
	out->size = b->host.size;
	out->guest_addr = b->guest_addr;
	out->guest_enabled = hdr_bar_enabled(d, bar);
}

/* ---- trapped BAR access ---- */

/* Does the guest's view let an access to this BAR reach the device?  Not
 * while its decode for the BAR's space is off, nor in D1-D3 (a function
 * there does not answer memory or I/O: CVE-2020-12888).  0 when it does,
 * else the reason a write is dropped. */
int dev_guest_blocks(struct ptdm_dev *d, int bar)
{
	uint16_t cmd = (uint16_t)cfg_shadow_get(d, PCI_COMMAND, 2);
	bool on;

	if (d->cap_pm >= 0) {
		unsigned ctrl = d->caps[d->cap_pm].info.pos + PCI_PM_CTRL;
		uint32_t pmcsr = cfg_shadow_get(d, ctrl, 2);

		if (d->opts.power_mgmt &&
		    cfg_host_read(d, ctrl, 2, &pmcsr))
			return PTDM_DROP_D3;
		if (pmcsr & PCI_PM_CTRL_STATE_MASK)
			return PTDM_DROP_D3;
	}
	if (bar == DEV_VGA_IO ||
	    (bar >= 0 && d->bars[bar].host.kind == HOST_BAR_IO))
		on = cmd & PCI_COMMAND_IO;
	else
		on = cmd & PCI_COMMAND_MEMORY;
	return on ? 0 : PTDM_DROP_DECODE_OFF;
}

/* A piece in no quirk window: the MSI-X emulation or the device. */
static int bar_plain_rw(struct ptdm_dev *d, int bar, uint64_t off, void *buf,
			size_t len, bool write)
{
	bool handled = false;
	int rc, blocked;

	rc = msix_bar_rw(d, bar, off, buf, len, write, &handled);
	if (handled)
		return rc;
	blocked = dev_guest_blocks(d, bar);
	if (blocked) {
		/* nothing reaches the device */
		if (write)
			dev_count_drop(d, (enum ptdm_drop_reason)blocked);
		else
			memset(buf, 0xff, len);
		return 0;
	}
	if (bar == PTDM_ROM_INDEX && d->rom) { /* romfile: never the device's */
		rom_read(d, off, buf, len);
		return 0;
	}
	if (write)
		return d->host->readonly ? -EROFS
					 : d->host->ops->bar_write(d->host, bar,
								   off, buf,
								   len);
	return d->host->ops->bar_read(d->host, bar, off, buf, len);
}

/* A piece inside a quirk window: device space, so the guest's decode and
 * D-state gate it like the device's own registers. */
static int bar_quirk_rw(struct ptdm_dev *d, struct quirk_inst *q, int bar,
			unsigned w, uint64_t woff, void *buf, size_t len,
			bool write)
{
	int blocked = dev_guest_blocks(d, bar);

	if (blocked) {
		if (write)
			dev_count_drop(d, (enum ptdm_drop_reason)blocked);
		else
			memset(buf, 0xff, len);
		return 0;
	}
	return quirk_window_rw(d, q, w, woff, buf, len, write);
}

int ptdm_bar_rw(struct ptdm_dev *d, int bar, uint64_t off, void *buf,
		size_t len, bool write)
{
	const struct bar_state *b;
	uint8_t *p = buf;

	if (bar < 0 || bar > PTDM_ROM_INDEX || !len || len > 4096)
		return -EINVAL;
	b = &d->bars[bar];
	if (b->host.kind == HOST_BAR_NONE || b->host.kind == HOST_BAR_MEM64_HI)
		return -ENXIO;
	if (!b->host.size_known)
		return -ENXIO;
	if (off >= b->host.size || len > b->host.size - off)
		return -ERANGE;
	if (write)
		d->st.bar_writes++;
	else
		d->st.bar_reads++;
	if (bar == PTDM_ROM_INDEX && write) {
		dev_count_drop(d, PTDM_DROP_READONLY);
		return -EPERM;
	}
	/* cut at quirk window edges: each piece has one handler */
	while (len) {
		size_t n = len;
		unsigned w = 0;
		uint64_t woff = 0;
		struct quirk_inst *q = d->nquirks ? quirk_window_at(d, bar, off,
								    &n, &w,
								    &woff)
						  : NULL;
		int rc = q ? bar_quirk_rw(d, q, bar, w, woff, p, n, write)
			   : bar_plain_rw(d, bar, off, p, n, write);

		if (rc)
			return rc;
		off += n;
		p += n;
		len -= n;
	}
	return 0;
}
