/*
 * test_assign.c - assignable-add/-remove on a fake sysfs tree: the files
 * written and in what order, refusals (bridge, no IOMMU group, unknown
 * device), and the undo when vfio-pci does not take the device.  The real
 * kernel's side is in the VM test (tests/vm).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/assign.h"
#include "ptdm/sysfs.h"

static char top[128], root[256], state[256];

static void mk(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static char *rd(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	return buf;
}

static void dev(const char *bdf, unsigned char hdr, const char *driver,
		bool group)
{
	char d[512], p[600];
	unsigned char cfg[64] = { 0x86, 0x80, 0x11, 0x22 };

	cfg[0x0e] = hdr;
	snprintf(d, sizeof(d), "%s/%s", root, bdf);
	mkdir(d, 0755);
	snprintf(p, sizeof(p), "%s/config", d);
	FILE *f = fopen(p, "w");
	fwrite(cfg, 1, sizeof(cfg), f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/driver_override", d);
	mk(p, "(null)\n");
	if (group) {
		snprintf(p, sizeof(p), "%s/iommu_group", d);
		assert_int_equal(symlink("../../../kernel/iommu_groups/7", p), 0);
	}
	if (driver) {
		char t[256];

		snprintf(p, sizeof(p), "%s/driver", d);
		snprintf(t, sizeof(t), "../../drivers/%s", driver);
		assert_int_equal(symlink(t, p), 0);
		snprintf(p, sizeof(p), "%s/driver/unbind", d);
		mk(p, "");
	}
}

static int setup(void **s)
{
	char p[512];

	snprintf(top, sizeof(top), "/tmp/ptdm-assign-XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(p, sizeof(p), "%s/bus", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/bus/pci", top);
	mkdir(p, 0755);
	snprintf(root, sizeof(root), "%s/bus/pci/devices", top);
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/bus/pci/drivers", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/nvme", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/nvme/bind", top);
	mk(p, "");
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/nvme/unbind", top);
	mk(p, "");
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/vfio-pci", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/vfio-pci/unbind", top);
	mk(p, "");
	snprintf(p, sizeof(p), "%s/bus/pci/drivers_probe", top);
	mk(p, "");
	snprintf(p, sizeof(p), "mkdir -p '%s/bus/kernel/iommu_groups/7'", top);
	assert_int_equal(system(p), 0);
	snprintf(state, sizeof(state), "%s/state", top);
	setenv("PTDM_STATE_DIR", state, 1);
	sysfs_set_root(root);
	dev("0000:00:03.0", 0, "nvme", true);
	dev("0000:00:04.0", 1, NULL, true);
	dev("0000:00:05.0", 0, "nvme", false);
	dev("0000:00:06.0", 0, "vfio-pci", true);
	dev("0000:00:07.0", 0, "nvme", true);  /* never made assignable */
	dev("0000:00:08.0", 0, NULL, true);    /* no driver, never assignable */
	return 0;
}

static int teardown(void **s)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	assert_int_equal(system(cmd), 0);
	sysfs_set_root(NULL);
	unsetenv("PTDM_STATE_DIR");
	return 0;
}

static void test_refusals(void **s)
{
	struct ptdm_err err = { "" };

	assert_int_equal(assign_add("0000:00:04.0", &err), -EPERM);
	assert_non_null(strstr(err.msg, "bridge"));
	assert_int_equal(assign_add("0000:00:05.0", &err), -ENODEV);
	assert_non_null(strstr(err.msg, "IOMMU"));
	assert_int_equal(assign_add("0000:00:09.0", &err), -ENODEV);
	assert_non_null(strstr(err.msg, "no PCI device"));
	assert_int_equal(assign_add("nonsense", &err), -EINVAL);
	/* already vfio-pci: nothing to do */
	assert_int_equal(assign_add("0000:00:06.0", &err), 0);
}

static void test_add_steps_and_undo(void **s)
{
	struct ptdm_err err = { "" };
	char p[600];

	/* the fake kernel never binds vfio-pci: every step, then the undo */
	assert_int_equal(assign_add("00:03.0", &err), -ENODEV);
	assert_non_null(strstr(err.msg, "vfio-pci did not bind"));
	snprintf(p, sizeof(p), "%s/0000:00:03.0/driver/unbind", root);
	assert_string_equal(rd(p), "0000:00:03.0");
	snprintf(p, sizeof(p), "%s/bus/pci/drivers_probe", top);
	assert_string_equal(rd(p), "0000:00:03.0");
	snprintf(p, sizeof(p), "%s/0000:00:03.0/driver_override", root);
	assert_string_equal(rd(p), "\n");
	snprintf(p, sizeof(p), "%s/assignable/0000:00:03.0", state);
	assert_int_equal(access(p, F_OK), -1);
}

static void test_remove_gives_back(void **s)
{
	struct ptdm_err err = { "" };
	char p[600];

	/* a device ptdm made assignable earlier: its note says nvme */
	snprintf(p, sizeof(p), "%s", state);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/assignable", state);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/assignable/0000:00:06.0", state);
	mk(p, "nvme\n");
	assert_int_equal(assign_remove("0000:00:06.0", &err), 0);
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/vfio-pci/unbind", top);
	assert_string_equal(rd(p), "0000:00:06.0");
	snprintf(p, sizeof(p), "%s/0000:00:06.0/driver_override", root);
	assert_string_equal(rd(p), "\n");
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/nvme/bind", top);
	assert_string_equal(rd(p), "0000:00:06.0");
	snprintf(p, sizeof(p), "%s/assignable/0000:00:06.0", state);
	assert_int_equal(access(p, F_OK), -1);
	/* a hostile note cannot name a path */
	snprintf(p, sizeof(p), "%s/assignable/0000:00:06.0", state);
	mk(p, "../../../etc\n");
	snprintf(p, sizeof(p), "%s/bus/pci/drivers_probe", top);
	mk(p, "");
	assert_int_equal(assign_remove("0000:00:06.0", &err), 0);
	assert_string_equal(rd(p), "0000:00:06.0");
}

/* remove of a device assignable-add never took: refused, nothing written */
static void test_remove_refuses_unassigned(void **s)
{
	struct ptdm_err err = { "" };
	char probe[600], bind[600], unbind[600], ovr[600], note[600];

	snprintf(probe, sizeof(probe), "%s/bus/pci/drivers_probe", top);
	snprintf(bind, sizeof(bind), "%s/bus/pci/drivers/nvme/bind", top);
	snprintf(unbind, sizeof(unbind), "%s/0000:00:07.0/driver/unbind", root);
	mk(probe, "");
	mk(bind, "");
	mk(unbind, ""); /* nvme's, shared with 00:03.0 */
	for (int i = 0; i < 2; i++) {
		const char *bdf = i ? "0000:00:08.0" : "0000:00:07.0";

		snprintf(ovr, sizeof(ovr), "%s/%s/driver_override", root, bdf);
		assert_int_equal(assign_remove(bdf, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "not assignable"));
		assert_non_null(strstr(err.msg, i ? "driver none" : "driver nvme"));
		assert_string_equal(rd(ovr), "(null)\n");
		assert_string_equal(rd(probe), "");
		assert_string_equal(rd(bind), "");
		assert_string_equal(rd(unbind), "");
		snprintf(note, sizeof(note), "%s/assignable/%s", state, bdf);
		assert_int_equal(access(note, F_OK), -1);
	}
	/* overridden to vfio-pci by hand but unbound: that is assignable, so
	 * remove clears the override and lets the kernel probe */
	snprintf(ovr, sizeof(ovr), "%s/0000:00:08.0/driver_override", root);
	mk(ovr, "vfio-pci\n");
	assert_int_equal(assign_remove("0000:00:08.0", &err), 0);
	assert_string_equal(rd(ovr), "\n");
	assert_string_equal(rd(probe), "0000:00:08.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_add_steps_and_undo),
		cmocka_unit_test(test_remove_gives_back),
		cmocka_unit_test(test_remove_refuses_unassigned),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
