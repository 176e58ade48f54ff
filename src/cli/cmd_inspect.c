/*
 * cmd_inspect.c - `ptdm inspect DEVICE [--json] [--permissive]
 * [--dump guest|host] [--sizes FILE]`: attach read-only and show what the
 * host has and what a guest would see.  A live device is opened read-only:
 * inspect never writes to hardware.
 *
 * A user who is not root may read only the first 64 bytes of a live
 * device's config (the kernel's rule, which lspci follows too): then
 * inspect shows that header and the BARs, says what root would add, and
 * exits 0, instead of failing to attach.  JSON output carries its schema
 * version (docs/json.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/view.h"
#include "ptdm/sysfs.h"

#define INSPECT_SCHEMA "ptdm-inspect/1"

static uint32_t le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

/* The same object with "schema" first (json-c keeps insertion order). */
static struct json_object *with_schema(struct json_object *o)
{
	struct json_object *out = json_object_new_object();

	json_object_object_add(out, "schema",
			       json_object_new_string(INSPECT_SCHEMA));
	json_object_object_foreach(o, key, val)
		json_object_object_add(out, key, json_object_get(val));
	json_object_put(o);
	return out;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(
			       o, JSON_C_TO_STRING_PRETTY |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* What a root user would see in addition, one item a line. */
static unsigned root_would_add(const uint8_t *cfg, const struct host_dev *h,
			       const char *items[4], char *capbuf, size_t n)
{
	unsigned k = 0;

	if (le(cfg + PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) {
		snprintf(capbuf, n, "the capability list (from 0x%02x) and "
			 "which capabilities a guest keeps or loses",
			 cfg[PCI_CAPABILITY_LIST] & 0xfc);
		items[k++] = capbuf;
	}
	if (h->cfg_size > PTDM_CFG_LEGACY_SIZE)
		items[k++] = "the extended capabilities (config 0x100-0xfff)";
	items[k++] = "the guest view: what a guest would be shown";
	items[k++] = "the problems ptdm finds in the host config";
	return k;
}

/* Only the first `readable` bytes: the header, BARs, what root adds. */
static int inspect_header_only(struct opened_dev *od, bool json,
			       const char *dump)
{
	struct host_dev *h = od->host;
	unsigned readable = sysfs_readable(h);
	uint8_t cfg[128] = { 0 };
	const char *items[4];
	char capbuf[128], vn[128], dn[128], cn[128];
	unsigned nitems;
	int rc;

	if (readable > sizeof(cfg))
		readable = sizeof(cfg);
	if (dump && !strcmp(dump, "guest")) {
		fprintf(stderr, "ptdm inspect: %s: the guest view needs the "
			"whole config space, and a user who is not root may "
			"read only its first %u bytes (run as root)\n",
			h->name, readable);
		return 1;
	}
	rc = host_cfg_read(h, 0, cfg, readable);
	if (rc) {
		fprintf(stderr, "ptdm inspect: %s: cannot read the config "
			"header: %s\n", h->name, strerror(-rc));
		return 1;
	}
	cli_vendor_name(vn, sizeof(vn), le(cfg, 2));
	cli_device_name(dn, sizeof(dn), le(cfg, 2), le(cfg + 2, 2));
	cli_class_name(cn, sizeof(cn), le(cfg + PCI_CLASS_PROG, 3));
	if (dump) { /* host: as lspci -x prints it for this user */
		printf("%s %s: %s %s\n", h->bdf + 5, cn, vn, dn);
		for (unsigned off = 0; off < readable; off += 16) {
			printf("%02x:", off);
			for (unsigned i = 0; i < 16; i++)
				printf(" %02x", cfg[off + i]);
			printf("\n");
		}
		printf("\n");
		return 0;
	}
	nitems = root_would_add(cfg, h, items, capbuf, sizeof(capbuf));
	if (json) {
		struct json_object *o = json_object_new_object();
		struct json_object *ids = json_object_new_object();
		struct json_object *bars = json_object_new_array();
		struct json_object *more = json_object_new_array();

		json_object_object_add(o, "device", json_object_new_string(h->name));
		json_object_object_add(o, "bdf", json_object_new_string(h->bdf));
		json_object_object_add(o, "backend",
				       json_object_new_string(od->backend));
		json_object_object_add(o, "read_only", json_object_new_boolean(1));
		json_object_object_add(o, "config_size",
				       json_object_new_int((int)h->cfg_size));
		json_object_object_add(o, "readable_bytes",
				       json_object_new_int((int)readable));
		json_object_object_add(o, "complete", json_object_new_boolean(0));
#define ID(name, off, n)                                                    \
	json_object_object_add(ids, name,                                   \
			       json_object_new_int((int)le(cfg + (off), n)))
		ID("vendor_id", PCI_VENDOR_ID, 2);
		ID("device_id", PCI_DEVICE_ID, 2);
		ID("subsystem_vendor_id", PCI_SUBSYSTEM_VENDOR_ID, 2);
		ID("subsystem_id", PCI_SUBSYSTEM_ID, 2);
		ID("class", PCI_CLASS_PROG, 3);
		ID("revision", PCI_REVISION_ID, 1);
		ID("header_type", PCI_HEADER_TYPE, 1);
		ID("command", PCI_COMMAND, 2);
		ID("status", PCI_STATUS, 2);
		ID("interrupt_pin", PCI_INTERRUPT_PIN, 1);
#undef ID
		json_object_object_add(o, "host", ids);
		json_object_object_add(o, "guest", NULL);
		for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
			const struct host_bar *hb = &h->bars[i];
			struct json_object *b;

			if (hb->kind == HOST_BAR_NONE ||
			    hb->kind == HOST_BAR_MEM64_HI)
				continue;
			b = json_object_new_object();
			json_object_object_add(b, "index", json_object_new_int(i));
			json_object_object_add(b, "kind", json_object_new_string(
				host_bar_kind_name(hb->kind)));
			json_object_object_add(b, "prefetchable",
					       json_object_new_boolean(hb->prefetch));
			json_object_object_add(b, "size",
					       json_object_new_int64((int64_t)hb->size));
			json_object_object_add(b, "guest_size", NULL);
			json_object_object_add(b, "host_address",
				json_object_new_uint64(h->bar_phys[i]));
			json_object_array_add(bars, b);
		}
		json_object_object_add(o, "bars", bars);
		json_object_object_add(o, "capabilities", NULL);
		json_object_object_add(o, "problems", json_object_new_array());
		json_object_object_add(o, "quirks", NULL);
		for (unsigned i = 0; i < nitems; i++)
			json_object_array_add(more, json_object_new_string(items[i]));
		json_object_object_add(o, "root_would_add", more);
		print_json(with_schema(o));
		return 0;
	}
	printf("%s  (%s, read-only, %u-byte config, %u bytes readable)\n"
	       "  %s %s\n", h->name, od->backend, h->cfg_size, readable, vn, dn);
	printf("%-20s %s\n", "", "host");
	printf("%-20s %04x\n%-20s %04x\n", "vendor", le(cfg, 2), "device",
	       le(cfg + 2, 2));
	printf("%-20s %04x\n%-20s %04x\n", "subsystem vendor",
	       le(cfg + PCI_SUBSYSTEM_VENDOR_ID, 2), "subsystem",
	       le(cfg + PCI_SUBSYSTEM_ID, 2));
	printf("%-20s %06x\n%-20s %02x\n%-20s %02x\n", "class",
	       le(cfg + PCI_CLASS_PROG, 3), "revision", cfg[PCI_REVISION_ID],
	       "header type", cfg[PCI_HEADER_TYPE]);
	printf("%-20s %04x\n%-20s %04x\n%-20s %u\n", "command",
	       le(cfg + PCI_COMMAND, 2), "status", le(cfg + PCI_STATUS, 2),
	       "interrupt pin", cfg[PCI_INTERRUPT_PIN]);
	printf("  class: %s\n\nBARs                 host\n", cn);
	for (int i = 0, shown = 0; i <= PTDM_ROM_INDEX; i++) {
		const struct host_bar *hb = &h->bars[i];

		if (i == PTDM_ROM_INDEX && !shown && hb->kind == HOST_BAR_NONE)
			printf("  none\n");
		if (hb->kind == HOST_BAR_NONE || hb->kind == HOST_BAR_MEM64_HI)
			continue;
		shown++;
		char label[8], size[32];
		uint64_t sz = hb->size;
		int unit = 0;

		while (sz >= 1024 && !(sz % 1024) && unit < 4) {
			sz /= 1024;
			unit++;
		}
		snprintf(size, sizeof(size), "%" PRIu64 "%s", sz,
			 (const char *[]){ "", "K", "M", "G", "T" }[unit]);
		if (i == PTDM_ROM_INDEX)
			snprintf(label, sizeof(label), "ROM");
		else
			snprintf(label, sizeof(label), "BAR%d", i);
		printf("  %-18s %s%s %s at %#" PRIx64 "\n", label,
		       host_bar_kind_name(hb->kind), hb->prefetch ? " pf" : "",
		       size, h->bar_phys[i]);
	}
	printf("\nOnly the first %u bytes of config space are readable: the "
	       "kernel shows the rest\nto root alone (lspci shows the same %u "
	       "bytes).  As root, ptdm inspect adds:\n", readable, readable);
	for (unsigned i = 0; i < nitems; i++)
		printf("  - %s\n", items[i]);
	printf("Run: sudo ptdm inspect %s\n", h->name);
	return 0;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "permissive", no_argument, NULL, 'p' },
		{ "dump", required_argument, NULL, 'd' },
		{ "sizes", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false, permissive = false;
	const char *dump = NULL, *sizes = NULL;
	struct opened_dev od;
	struct ptdm_err err = { "" };
	struct ptdm_dev *d = NULL;
	struct view v;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jpd:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'p': permissive = true; break;
		case 'd': dump = optarg; break;
		case 's': sizes = optarg; break;
		case 'h':
			cli_help_print(stdout, cli_help_find("inspect"));
			return 0;
		default:
			return cli_usage("inspect");
		}
	}
	if (optind != argc - 1 ||
	    (dump && strcmp(dump, "guest") && strcmp(dump, "host")))
		return cli_usage("inspect");
	if (open_device(argv[optind], sizes, true, &od, &err)) {
		fprintf(stderr, "ptdm inspect: %s\n", err.msg);
		return 1;
	}
	if (sysfs_readable(od.host) < od.host->cfg_size) {
		rc = inspect_header_only(&od, json, dump);
		host_close(od.host);
		return rc;
	}
	if (permissive)
		od.opts.permissive = true;
	if (ptdm_dev_attach(&d, od.host, &od.opts, &err)) {
		fprintf(stderr, "ptdm inspect: %s\n", err.msg);
		host_close(od.host);
		return 1;
	}
	if (dump) {
		rc = view_dump(stdout, d, !strcmp(dump, "guest"));
	} else {
		rc = view_collect(d, &v);
		if (!rc && json) {
			struct json_object *o = view_json(d, &v, od.backend);

			json_object_object_add(o, "readable_bytes",
				json_object_new_int((int)od.host->cfg_size));
			json_object_object_add(o, "complete",
					       json_object_new_boolean(1));
			print_json(with_schema(o));
		} else if (!rc) {
			view_print_text(stdout, d, &v, od.backend);
		}
	}
	if (rc)
		fprintf(stderr, "ptdm inspect: %s: cannot read the device\n",
			od.host->name);
	ptdm_dev_free(d);
	host_close(od.host);
	return rc ? 1 : 0;
}
