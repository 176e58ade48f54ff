/*
 * test_slot.c - BB:DD.* and the IOMMU-group rule (src/host/slot.c) on a
 * fake sysfs tree shaped like the ASUS laptop the shared dumps come from:
 * the GA104 GPU 01:00.0 and its HDA function 01:00.1 in IOMMU group 17
 * with their root port 00:01.0 (a bridge), the NVMe drive 02:00.0 alone
 * in group 18, and 03:00.0 with no group.  Expanded specs keep every key,
 * gain multifunction=1 and parse; the rule names the function left out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/igd.h"
#include "ptdm/image.h"
#include "ptdm/slot.h"
#include "ptdm/spec.h"
#include "ptdm/sysfs.h"

static char top[256], root[300];

static void dev(const char *bdf, unsigned char hdr, const char *group)
{
	char d[512], p[600], t[128];
	unsigned char cfg[64] = { 0xde, 0x10 };
	FILE *f;

	cfg[0x0e] = hdr;
	snprintf(d, sizeof(d), "%s/%s", root, bdf);
	assert_int_equal(mkdir(d, 0755), 0);
	snprintf(p, sizeof(p), "%s/config", d);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(cfg, 1, sizeof(cfg), f), sizeof(cfg));
	fclose(f);
	if (group) {
		snprintf(p, sizeof(p), "%s/iommu_group", d);
		snprintf(t, sizeof(t), "../../../kernel/iommu_groups/%s",
			 group);
		assert_int_equal(symlink(t, p), 0);
	}
}

static int setup(void **s)
{
	char cmd[600];

	snprintf(top, sizeof(top), "/tmp/ptdm-slot-XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(root, sizeof(root), "%s/bus/pci/devices", top);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", root);
	assert_int_equal(system(cmd), 0);
	dev("0000:00:01.0", 0x01, "17");
	dev("0000:01:00.0", 0x80, "17");
	dev("0000:01:00.1", 0x00, "17");
	dev("0000:02:00.0", 0x00, "18");
	dev("0000:03:00.0", 0x00, NULL);
	sysfs_set_root(root);
	return 0;
}

static int teardown(void **s)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd);
}

static void test_expand(void **state)
{
	static char out[SLOT_MAX_FUNCS][SLOT_SPEC_MAX];
	struct ptdm_err err = { "" };
	struct ptdm_spec s;
	int n;

	n = slot_expand("01:00.*,permissive=1,romfile=/srv/gpu.rom", out, &err);
	assert_int_equal(n, 2);
	assert_string_equal(out[0], "0000:01:00.0,permissive=1,"
				    "romfile=/srv/gpu.rom,multifunction=1");
	assert_string_equal(out[1], "0000:01:00.1,permissive=1,"
				    "romfile=/srv/gpu.rom,multifunction=1");
	for (int i = 0; i < n; i++) {
		assert_int_equal(ptdm_spec_parse(&s, out[i], &err), 0);
		assert_int_equal(s.func, i);
		assert_int_equal(s.multifunction, 1);
		assert_int_equal(s.permissive, 1);
	}
	/* the key form and a virtual slot (Xen: one slot, its functions) */
	n = slot_expand("bdf=0000:01:00.*,vslot=5,power_mgmt=0", out, &err);
	assert_int_equal(n, 2);
	assert_string_equal(out[1], "0000:01:00.1,vslot=5,power_mgmt=0,"
				    "multifunction=1");
	n = slot_expand("01:00.*@4", out, &err);
	assert_int_equal(n, 2);
	assert_string_equal(out[0], "0000:01:00.0@4,multifunction=1");
	/* one function: as given */
	n = slot_expand("02:00.0,seize=1", out, &err);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "02:00.0,seize=1");
	/* a slot with nothing in it, a bad spec */
	assert_int_equal(slot_expand("05:00.*", out, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "0000:05:00.*"));
	assert_int_equal(slot_expand("05:00.*,bogus=1", out, &err), -EINVAL);
}

static void test_group_rule(void **state)
{
	static const char gpu[][16] = { "0000:01:00.0" };
	static const char both[][16] = { "0000:01:00.0", "0000:01:00.1" };
	static const char hda[][16] = { "0000:01:00.1" };
	static const char nvme[][16] = { "0000:02:00.0" };
	static const char nogroup[][16] = { "0000:03:00.0" };
	struct ptdm_err err = { "" };

	/* the GPU without its HDA function: refused, the HDA named */
	assert_int_equal(slot_group_check(gpu, 1, NULL, 0, false, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "0000:01:00.1"));
	assert_non_null(strstr(err.msg, "group 17"));
	assert_int_equal(slot_group_check(hda, 1, NULL, 0, false, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "0000:01:00.0"));
	/* both: the root port in the group is a bridge, not a member */
	assert_int_equal(slot_group_check(both, 2, NULL, 0, false, &err), 0);
	assert_int_equal(slot_group_check(nvme, 1, NULL, 0, false, &err), 0);
	assert_int_equal(slot_group_check(nogroup, 1, NULL, 0, false, &err), 0);
}

/* bdf bound to drv (NULL: to no driver), as sysfs shows it. */
static void bind(const char *bdf, const char *drv)
{
	char p[600], t[128];

	snprintf(p, sizeof(p), "%s/%s/driver", root, bdf);
	unlink(p);
	if (!drv)
		return;
	snprintf(t, sizeof(t), "../../../bus/pci/drivers/%s", drv);
	assert_int_equal(symlink(t, p), 0);
}

/*
 * One function served alone (ptdm serve 01:00.0, device-add): its group
 * mates must be served by this ptdm already, or with group=partial sit
 * unused on vfio-pci, pci-stub or no driver; one on a host driver is
 * refused either way.  Every device left out is named, with its driver.
 */
static void test_group_rule_single(void **state)
{
	static const char gpu[][16] = { "0000:01:00.0" };
	static const char hda[][16] = { "0000:01:00.1" };
	static const char hda_nvme[][16] = { "0000:01:00.1", "0000:02:00.0" };
	static const char extra[][16] = { "0000:01:00.1", "0000:04:00.0" };
	struct ptdm_err err = { "" };
	struct ptdm_spec sp;
	char cmd[600];

	/* the key that asks for QEMU's rule */
	assert_int_equal(ptdm_spec_parse(&sp, "01:00.0", &err), 0);
	assert_int_equal(sp.group, PTDM_GROUP_DEFAULT);
	assert_int_equal(ptdm_spec_parse(&sp, "01:00.0,group=partial", &err),
			 0);
	assert_int_equal(sp.group, PTDM_GROUP_PARTIAL);
	assert_int_equal(ptdm_spec_parse(&sp, "01:00.0,group=whole", &err), 0);
	assert_int_equal(sp.group, PTDM_GROUP_WHOLE);
	assert_int_equal(ptdm_spec_parse(&sp, "01:00.0,group=half", &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "want whole or partial"));
	bind("0000:01:00.0", "vfio-pci");
	bind("0000:01:00.1", "vfio-pci");
	/* the HDA unused on vfio-pci: refused by default, named */
	assert_int_equal(slot_group_check(gpu, 1, NULL, 0, false, &err),
			 -EBUSY);
	assert_non_null(strstr(err.msg, "0000:01:00.1 (vfio-pci)"));
	assert_non_null(strstr(err.msg, "not served with it"));
	assert_non_null(strstr(err.msg, "group=partial"));
	/* served by this ptdm already (device-add of the second one) */
	assert_int_equal(slot_group_check(gpu, 1, hda, 1, false, &err), 0);
	assert_int_equal(slot_group_check(gpu, 1, hda_nvme, 2, false, &err),
			 0);
	/* group=partial: QEMU's rule, the HDA stays unused */
	assert_int_equal(slot_group_check(gpu, 1, NULL, 0, true, &err), 0);
	bind("0000:01:00.1", NULL);
	assert_int_equal(slot_group_check(gpu, 1, NULL, 0, true, &err), 0);
	assert_int_equal(slot_group_check(gpu, 1, NULL, 0, false, &err),
			 -EBUSY);
	assert_non_null(strstr(err.msg, "0000:01:00.1 (no driver)"));
	bind("0000:01:00.1", "pci-stub");
	assert_int_equal(slot_group_check(gpu, 1, NULL, 0, true, &err), 0);
	/* on a host driver: refused even partial, the driver named */
	bind("0000:01:00.1", "snd_hda_intel");
	assert_int_equal(slot_group_check(gpu, 1, NULL, 0, true, &err),
			 -EBUSY);
	assert_non_null(strstr(err.msg, "0000:01:00.1 (snd_hda_intel)"));
	assert_non_null(strstr(err.msg, "in use by the host"));
	assert_non_null(strstr(err.msg, "`ptdm assignable-add 0000:01:00.1`"));
	/* the root port on pcieport is a bridge: never in the way */
	bind("0000:00:01.0", "pcieport");
	bind("0000:01:00.1", "vfio-pci");
	/* two left out: both named */
	dev("0000:04:00.0", 0x00, "17");
	assert_int_equal(slot_group_check(gpu, 1, NULL, 0, false, &err),
			 -EBUSY);
	assert_non_null(strstr(err.msg, "0000:01:00.1 (vfio-pci), "
				       "0000:04:00.0 (no driver)"));
	assert_non_null(strstr(err.msg, "them"));
	assert_int_equal(slot_group_check(gpu, 1, extra, 2, false, &err), 0);
	/* the slot's functions and one served: the rule sees both lists */
	assert_int_equal(slot_group_check(hda, 1, extra + 1, 1, false, &err),
			 -EBUSY);
	assert_non_null(strstr(err.msg, "0000:01:00.0 (vfio-pci)"));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/0000:04:00.0'", root);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; i < 3; i++)
		bind(i == 0 ? "0000:00:01.0" : i == 1 ? "0000:01:00.0"
						       : "0000:01:00.1", NULL);
}

/* A device whose config file is the given 64 bytes. */
static void dev_cfg(const char *bdf, const uint8_t *cfg)
{
	char d[512], p[600];
	FILE *f;

	snprintf(d, sizeof(d), "%s/%s", root, bdf);
	assert_int_equal(mkdir(d, 0755), 0);
	snprintf(p, sizeof(p), "%s/config", d);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(cfg, 1, 64, f), 64);
	fclose(f);
}

/* The host bridge from the shared dump (a real Intel 0d57), an LPC bridge
 * crafted (no dump has one): the IDs an IGD's software reads. */
static void test_igd_bridges(void **state)
{
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };
	struct igd_bridge b[2];
	uint8_t cfg[64], lpc[64] = { 0x86, 0x80, 0x82, 0x51 };

	assert_int_equal(igd_bridges(b, &err), 0);
	assert_false(b[0].present); /* none yet in the fake tree */
	assert_false(b[1].present);
	if (image_open(&h, th_dump("cloudvm-intel-0d57-host-bridge."
				   "lspci-x4.txt"), NULL, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(h->ops->cfg_read(h, 0, cfg, sizeof(cfg)), 0);
	host_close(h);
	dev_cfg("0000:00:00.0", cfg);
	lpc[0x08] = 0x01;
	lpc[0x0a] = 0x01; /* ISA bridge */
	lpc[0x0b] = 0x06;
	lpc[0x2c] = 0x43; lpc[0x2d] = 0x10; lpc[0x2e] = 0x8c; lpc[0x2f] = 0x1a;
	dev_cfg("0000:00:1f.0", lpc);
	assert_int_equal(igd_bridges(b, &err), 0);
	assert_true(b[0].present);
	assert_string_equal(b[0].bdf, "0000:00:00.0");
	assert_int_equal(b[0].vendor, cfg[0] | cfg[1] << 8);
	assert_int_equal(b[0].device, 0x0d57);
	assert_int_equal(b[0].revision, cfg[8]);
	assert_true(b[1].present);
	assert_int_equal(b[1].device, 0x5182);
	assert_int_equal(b[1].revision, 1);
	assert_int_equal(b[1].subvendor, 0x1043);
	assert_int_equal(b[1].subdevice, 0x1a8c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_group_rule),
		cmocka_unit_test(test_group_rule_single),
		cmocka_unit_test(test_igd_bridges),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
