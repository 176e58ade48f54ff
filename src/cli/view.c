/*
 * view.c - host view and guest view of one device, side by side.
 *
 * The host column comes from the backend's config bytes and BAR records;
 * the guest column only from ptdm_cfg_read, so it shows exactly what a
 * guest would see.  Guest BAR sizes are found the way firmware finds them
 * - save, write all-ones, read back, restore - so inspect reports what the
 * engine's sizing gives, not what the backend says.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/view.h"
#include "ptdm/igd.h"

static uint32_t le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void ids_from(const uint8_t *c, struct view_ids *id)
{
	id->vendor = (uint16_t)le(c + PCI_VENDOR_ID, 2);
	id->device = (uint16_t)le(c + PCI_DEVICE_ID, 2);
	id->command = (uint16_t)le(c + PCI_COMMAND, 2);
	id->status = (uint16_t)le(c + PCI_STATUS, 2);
	id->revision = c[PCI_REVISION_ID];
	id->class24 = le(c + PCI_CLASS_PROG, 3);
	id->header_type = c[PCI_HEADER_TYPE];
	id->subvendor = (uint16_t)le(c + PCI_SUBSYSTEM_VENDOR_ID, 2);
	id->subdevice = (uint16_t)le(c + PCI_SUBSYSTEM_ID, 2);
	id->pin = c[PCI_INTERRUPT_PIN];
}

static unsigned bar_reg(int i)
{
	return i == PTDM_ROM_INDEX ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4u * i;
}

/* Size guest BAR i through the engine, restoring what was there. */
static void size_guest_bar(struct ptdm_dev *d, int i, struct view_bar *vb)
{
	unsigned reg = bar_reg(i);
	uint32_t lo, hi = 0, save_lo, save_hi = 0;
	uint64_t mask;
	bool is64 = vb->info.kind == HOST_BAR_MEM64;

	if (ptdm_cfg_read(d, reg, 4, &save_lo) ||
	    (is64 && ptdm_cfg_read(d, reg + 4, 4, &save_hi)))
		return;
	ptdm_cfg_write(d, reg, 4, 0xffffffff);
	if (is64)
		ptdm_cfg_write(d, reg + 4, 4, 0xffffffff);
	if (ptdm_cfg_read(d, reg, 4, &lo) ||
	    (is64 && ptdm_cfg_read(d, reg + 4, 4, &hi)))
		return;
	ptdm_cfg_write(d, reg, 4, save_lo);
	if (is64)
		ptdm_cfg_write(d, reg + 4, 4, save_hi);
	if (vb->info.kind == HOST_BAR_IO)
		mask = (lo & PCI_BASE_ADDRESS_IO_MASK) | 0xffff0000u;
	else if (vb->info.kind == HOST_BAR_ROM)
		mask = lo & PCI_ROM_ADDRESS_MASK;
	else
		mask = lo & PCI_BASE_ADDRESS_MEM_MASK;
	if (is64)
		mask |= (uint64_t)hi << 32;
	else
		mask |= 0xffffffff00000000ull;
	if ((uint32_t)mask == 0 && !is64)
		return; /* reads back nothing: no size (unknown) */
	vb->guest_sized = true;
	vb->guest_size = ~mask + 1;
}

int view_collect(struct ptdm_dev *d, struct view *v)
{
	struct host_dev *h = ptdm_dev_host(d);
	uint8_t hc[64], gc[64];
	int rc;

	memset(v, 0, sizeof(*v));
	rc = host_cfg_read(h, 0, hc, sizeof(hc));
	if (!rc)
		rc = ptdm_cfg_rw(d, 0, gc, sizeof(gc), false);
	if (rc)
		return rc;
	ids_from(hc, &v->host);
	ids_from(gc, &v->guest);
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		struct view_bar *vb = &v->bar[i];
		unsigned reg = bar_reg(i);

		ptdm_dev_bar(d, i, &vb->info);
		vb->host_addr = le(hc + reg, 4);
		if (vb->info.kind == HOST_BAR_MEM64)
			vb->host_addr = (vb->host_addr & ~0xfull) |
					(uint64_t)le(hc + reg + 4, 4) << 32;
		else if (vb->info.kind == HOST_BAR_IO)
			vb->host_addr &= PCI_BASE_ADDRESS_IO_MASK;
		else if (vb->info.kind == HOST_BAR_ROM)
			vb->host_addr &= PCI_ROM_ADDRESS_MASK;
		else
			vb->host_addr &= PCI_BASE_ADDRESS_MEM_MASK;
		if (vb->info.kind != HOST_BAR_NONE &&
		    vb->info.kind != HOST_BAR_MEM64_HI)
			size_guest_bar(d, i, vb);
	}
	return 0;
}

static void human(char *buf, size_t n, bool known, uint64_t size)
{
	static const char *const unit[] = { "", "K", "M", "G", "T" };
	int u = 0;

	if (!known) {
		snprintf(buf, n, "unknown");
		return;
	}
	while (size >= 1024 && !(size % 1024) && u < 4) {
		size /= 1024;
		u++;
	}
	snprintf(buf, n, "%" PRIu64 "%s", size, unit[u]);
}

static const char *bar_label(int i, char *buf, size_t n)
{
	if (i == PTDM_ROM_INDEX)
		snprintf(buf, n, "ROM");
	else
		snprintf(buf, n, "BAR%d", i);
	return buf;
}

static void cap_label(const struct ptdm_cap_info *c, char *buf, size_t n)
{
	if (c->ext)
		snprintf(buf, n, "[%03x] %s v%u", c->pos, c->name, c->version);
	else if (c->id == PCI_CAP_ID_EXP)
		snprintf(buf, n, "[%02x] %s v%u", c->pos, c->name, c->version);
	else
		snprintf(buf, n, "[%02x] %s", c->pos, c->name);
}

/* An IGD on this host: the bridges its driver and VBIOS read, which the
 * VMM presents (only a live device: an image's host is not this one). */
static bool igd_bridges_of(struct ptdm_dev *d, const char *backend,
			   struct igd_bridge b[2])
{
	struct ptdm_err err = { "" };

	return strcmp(backend, "image") && ptdm_dev_host(d)->bdf[0] &&
	       !igd_bridges(b, &err);
}

static void print_igd_bridges(FILE *f, struct ptdm_dev *d,
			      const char *backend)
{
	static const char *const what[2] = { "host bridge", "LPC/ISA bridge" };
	struct igd_bridge b[2];

	if (!igd_bridges_of(d, backend, b))
		return;
	for (int i = 0; i < 2; i++)
		if (b[i].present)
			fprintf(f, "    %s %s: %04x:%04x rev %02x subsystem "
				"%04x:%04x (for the VMM to present)\n",
				what[i], b[i].bdf, b[i].vendor, b[i].device,
				b[i].revision, b[i].subvendor, b[i].subdevice);
}

/* The OpRegion copy vfio-user VMMs get (region 9), if the host has one. */
static void print_igd_opregion(FILE *f, struct ptdm_dev *d)
{
	uint64_t n = ptdm_dev_igd_opregion_size(d);

	if (n)
		fprintf(f, "    opregion %" PRIu64 " bytes, a copy for the "
			"guest (vfio-user region 9)\n", n);
	else
		fprintf(f, "    opregion none from the host (no vfio-user "
			"OpRegion region)\n");
}

static struct json_object *igd_bridges_json(struct ptdm_dev *d,
					    const char *backend)
{
	struct igd_bridge b[2];
	struct json_object *a;

	if (!igd_bridges_of(d, backend, b))
		return NULL;
	a = json_object_new_array();
	for (int i = 0; i < 2; i++) {
		struct json_object *o;

		if (!b[i].present)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "bdf", json_object_new_string(b[i].bdf));
		json_object_object_add(o, "vendor_id",
				       json_object_new_int(b[i].vendor));
		json_object_object_add(o, "device_id",
				       json_object_new_int(b[i].device));
		json_object_object_add(o, "revision",
				       json_object_new_int(b[i].revision));
		json_object_object_add(o, "subsystem_vendor_id",
				       json_object_new_int(b[i].subvendor));
		json_object_object_add(o, "subsystem_id",
				       json_object_new_int(b[i].subdevice));
		json_object_array_add(a, o);
	}
	return a;
}

/* "quirks: NAME, NAME (off: why)" and a line per range of each. */
static void print_quirks(FILE *f, struct ptdm_dev *d, const char *backend)
{
	size_t n = ptdm_dev_nquirks(d);

	fprintf(f, "\nquirks:");
	for (size_t i = 0; i < n; i++) {
		const struct ptdm_quirk_info *q = ptdm_dev_quirk(d, i);

		fprintf(f, "%s %s", i ? "," : "", q->name);
		if (!q->active)
			fprintf(f, " (off: %s)", q->reason);
	}
	fprintf(f, "%s\n", n ? "" : " none");
	for (size_t i = 0; i < n; i++) {
		const struct ptdm_quirk_info *q = ptdm_dev_quirk(d, i);

		if (!q->active)
			continue;
		fprintf(f, "  %s: %s\n", q->name, q->what);
		for (unsigned j = 0; j < q->nranges; j++) {
			const struct ptdm_quirk_range *r = &q->range[j];
			char where[32];

			if (r->bar < 0)
				snprintf(where, sizeof(where), "config");
			else if (r->bar == PTDM_QUIRK_VGA)
				snprintf(where, sizeof(where), "VGA");
			else
				snprintf(where, sizeof(where), "BAR%d", r->bar);
			fprintf(f, "    %-7s 0x%06" PRIx64 "+0x%" PRIx64 "  %s\n",
				where, r->off, r->len, r->what);
		}
		if (q->reset)
			fprintf(f, "    reset   %s\n", q->reset);
		if (!strcmp(q->name, "intel-igd"))
			print_igd_bridges(f, d, backend);
		if (!strcmp(q->name, "intel-igd") && q->active)
			print_igd_opregion(f, d);
	}
}

static struct json_object *quirks_json(struct ptdm_dev *d,
				       const char *backend)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < ptdm_dev_nquirks(d); i++) {
		const struct ptdm_quirk_info *q = ptdm_dev_quirk(d, i);
		struct json_object *o = json_object_new_object();
		struct json_object *rs = json_object_new_array();

		json_object_object_add(o, "name", json_object_new_string(q->name));
		json_object_object_add(o, "description",
				       json_object_new_string(q->what));
		json_object_object_add(o, "active",
				       json_object_new_boolean(q->active));
		json_object_object_add(o, "reason",
				       q->reason ? json_object_new_string(q->reason)
						 : NULL);
		json_object_object_add(o, "reset",
				       q->reset ? json_object_new_string(q->reset)
						: NULL);
		for (unsigned j = 0; j < q->nranges; j++) {
			const struct ptdm_quirk_range *r = &q->range[j];
			struct json_object *ro = json_object_new_object();

			json_object_object_add(ro, "bar", r->bar < 0 ? NULL :
					       json_object_new_int(r->bar));
			json_object_object_add(ro, "offset",
					       json_object_new_uint64(r->off));
			json_object_object_add(ro, "length",
					       json_object_new_uint64(r->len));
			json_object_object_add(ro, "what",
					       json_object_new_string(r->what));
			json_object_array_add(rs, ro);
		}
		json_object_object_add(o, "ranges", rs);
		if (!strcmp(q->name, "intel-igd") && q->active)
			json_object_object_add(o, "bridges",
					       igd_bridges_json(d, backend));
		if (!strcmp(q->name, "intel-igd") && q->active)
			json_object_object_add(o, "opregion_size",
				json_object_new_uint64(
					ptdm_dev_igd_opregion_size(d)));
		json_object_array_add(a, o);
	}
	return a;
}

void view_print_text(FILE *f, struct ptdm_dev *d, const struct view *v,
		     const char *backend)
{
	struct host_dev *h = ptdm_dev_host(d);
	char a[128], b[128], c[160], hb[64], gb[64];
	const struct view_ids *H = &v->host, *G = &v->guest;

	cli_vendor_name(a, sizeof(a), H->vendor);
	cli_device_name(b, sizeof(b), H->vendor, H->device);
	fprintf(f, "%s  (%s%s, %u-byte config)\n  %s %s\n", h->name, backend,
		h->readonly ? ", read-only" : "", ptdm_cfg_size(d), a, b);
	cli_class_name(c, sizeof(c), H->class24);
	fprintf(f, "%-20s %-34s %s\n", "", "host", "guest");
#define PAIR(label, fmt, field)                                         \
	do {                                                            \
		snprintf(hb, sizeof(hb), fmt, H->field);                \
		snprintf(gb, sizeof(gb), fmt, G->field);                \
		fprintf(f, "%-20s %-34s %s\n", label, hb, gb);          \
	} while (0)
	PAIR("vendor", "%04x", vendor);
	PAIR("device", "%04x", device);
	PAIR("subsystem vendor", "%04x", subvendor);
	PAIR("subsystem", "%04x", subdevice);
	PAIR("class", "%06x", class24);
	PAIR("revision", "%02x", revision);
	PAIR("header type", "%02x", header_type);
	PAIR("command", "%04x", command);
	PAIR("status", "%04x", status);
	PAIR("interrupt pin", "%u", pin);
#undef PAIR
	fprintf(f, "  class: %s\n", c);

	fprintf(f, "\nBARs                 %-34s %s\n", "host", "guest (sized)");
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		const struct view_bar *vb = &v->bar[i];
		char hs[32], gs[32], desc[96];

		if (vb->info.kind == HOST_BAR_NONE ||
		    vb->info.kind == HOST_BAR_MEM64_HI)
			continue;
		human(hs, sizeof(hs), vb->info.size_known, vb->info.size);
		human(gs, sizeof(gs), vb->guest_sized, vb->guest_size);
		snprintf(desc, sizeof(desc), "%s%s %s at %#" PRIx64,
			 host_bar_kind_name(vb->info.kind),
			 vb->info.prefetch ? " pf" : "", hs, vb->host_addr);
		fprintf(f, "  %-18s %-34s %s\n", bar_label(i, a, sizeof(a)),
			desc, gs);
	}

	fprintf(f, "\nCapabilities, in the host's chain order%17s %s\n", "", "guest");
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++) {
		const struct ptdm_cap_info *ci = ptdm_dev_cap(d, i);

		cap_label(ci, c, sizeof(c));
		fprintf(f, "  %-52s %s%s%s\n", c,
			ci->hidden ? "hidden: " : "kept",
			ci->hidden ? ci->reason : "", "");
	}
	if (!ptdm_dev_ncaps(d))
		fprintf(f, "  none\n");
	print_quirks(f, d, backend);
	if (ptdm_dev_nproblems(d)) {
		fprintf(f, "\nProblems in the host config\n");
		for (size_t i = 0; i < ptdm_dev_nproblems(d); i++)
			fprintf(f, "  %s\n", ptdm_dev_problem(d, i));
	}
}

static struct json_object *ids_json(const struct view_ids *id)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "vendor_id", json_object_new_int(id->vendor));
	json_object_object_add(o, "device_id", json_object_new_int(id->device));
	json_object_object_add(o, "subsystem_vendor_id",
			       json_object_new_int(id->subvendor));
	json_object_object_add(o, "subsystem_id",
			       json_object_new_int(id->subdevice));
	json_object_object_add(o, "class", json_object_new_int((int)id->class24));
	json_object_object_add(o, "revision", json_object_new_int(id->revision));
	json_object_object_add(o, "header_type",
			       json_object_new_int(id->header_type));
	json_object_object_add(o, "command", json_object_new_int(id->command));
	json_object_object_add(o, "status", json_object_new_int(id->status));
	json_object_object_add(o, "interrupt_pin", json_object_new_int(id->pin));
	return o;
}

static struct json_object *size_json(bool known, uint64_t size)
{
	return known ? json_object_new_uint64(size) : NULL;
}

struct json_object *view_json(struct ptdm_dev *d, const struct view *v,
			      const char *backend)
{
	struct host_dev *h = ptdm_dev_host(d);
	struct json_object *o = json_object_new_object();
	struct json_object *bars = json_object_new_array();
	struct json_object *caps = json_object_new_array();
	struct json_object *probs = json_object_new_array();

	json_object_object_add(o, "device", json_object_new_string(h->name));
	if (h->bdf[0])
		json_object_object_add(o, "bdf", json_object_new_string(h->bdf));
	json_object_object_add(o, "backend", json_object_new_string(backend));
	json_object_object_add(o, "read_only",
			       json_object_new_boolean(h->readonly));
	json_object_object_add(o, "config_size",
			       json_object_new_int((int)ptdm_cfg_size(d)));
	json_object_object_add(o, "host", ids_json(&v->host));
	json_object_object_add(o, "guest", ids_json(&v->guest));
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		const struct view_bar *vb = &v->bar[i];
		struct json_object *b;

		if (vb->info.kind == HOST_BAR_NONE ||
		    vb->info.kind == HOST_BAR_MEM64_HI)
			continue;
		b = json_object_new_object();
		json_object_object_add(b, "index", json_object_new_int(i));
		json_object_object_add(b, "kind", json_object_new_string(
				host_bar_kind_name(vb->info.kind)));
		json_object_object_add(b, "prefetchable",
				       json_object_new_boolean(vb->info.prefetch));
		json_object_object_add(b, "size",
				       size_json(vb->info.size_known,
						 vb->info.size));
		json_object_object_add(b, "guest_size",
				       size_json(vb->guest_sized,
						 vb->guest_size));
		json_object_object_add(b, "host_address",
				       json_object_new_uint64(vb->host_addr));
		json_object_array_add(bars, b);
	}
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++) {
		const struct ptdm_cap_info *ci = ptdm_dev_cap(d, i);
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "offset", json_object_new_int(ci->pos));
		json_object_object_add(c, "id", json_object_new_int(ci->id));
		json_object_object_add(c, "name", json_object_new_string(ci->name));
		json_object_object_add(c, "extended",
				       json_object_new_boolean(ci->ext));
		json_object_object_add(c, "version",
				       json_object_new_int(ci->version));
		json_object_object_add(c, "length", json_object_new_int(ci->len));
		json_object_object_add(c, "hidden",
				       json_object_new_boolean(ci->hidden));
		json_object_object_add(c, "reason",
				       ci->reason ? json_object_new_string(ci->reason)
						  : NULL);
		json_object_array_add(caps, c);
	}
	for (size_t i = 0; i < ptdm_dev_nproblems(d); i++)
		json_object_array_add(probs, json_object_new_string(
						     ptdm_dev_problem(d, i)));
	json_object_object_add(o, "bars", bars);
	json_object_object_add(o, "capabilities", caps);
	json_object_object_add(o, "problems", probs);
	json_object_object_add(o, "quirks", quirks_json(d, backend));
	return o;
}

int view_dump(FILE *f, struct ptdm_dev *d, bool guest)
{
	struct host_dev *h = ptdm_dev_host(d);
	unsigned size = ptdm_cfg_size(d);
	uint8_t *cfg = calloc(1, PTDM_CFG_SPACE_SIZE);
	char vn[128], dn[128], cn[128];
	const char *bdf = h->bdf[0] ? h->bdf + 5 : "00:00.0";
	int rc;

	if (!cfg)
		return -ENOMEM;
	rc = guest ? ptdm_cfg_rw(d, 0, cfg, size, false)
		   : host_cfg_read(h, 0, cfg, size);
	if (rc) {
		free(cfg);
		return rc;
	}
	cli_vendor_name(vn, sizeof(vn), le(cfg, 2));
	cli_device_name(dn, sizeof(dn), le(cfg, 2), le(cfg + 2, 2));
	cli_class_name(cn, sizeof(cn), le(cfg + PCI_CLASS_PROG, 3));
	fprintf(f, "%s %s: %s %s\n", bdf, cn, vn, dn);
	for (unsigned off = 0; off < size; off += 16) {
		fprintf(f, "%02x:", off);
		for (unsigned i = 0; i < 16; i++)
			fprintf(f, " %02x", cfg[off + i]);
		fputc('\n', f);
	}
	fputc('\n', f);
	free(cfg);
	return ferror(f) ? -EIO : 0;
}
