/*
 * test_sysfs.c - the sysfs backend on a fake /sys/bus/pci/devices tree:
 * config of both sizes, resource parsing, BAR files, reset, read-only
 * mode that writes nothing, listing; and one real device of this machine
 * opened read-only (never written).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/sysfs.h"

static char root[256];

static void write_file(const char *dir, const char *name, const void *data,
		       size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void read_file(const char *dir, const char *name, void *data,
		      size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fread(data, 1, len, f), len);
	fclose(f);
}

/* A fake device: 4096-byte config, BAR0 mem64 pf 16K, BAR2 io 32,
 * BAR4 mem32 4K, ROM 64K. */
static void make_dev(const char *bdf, unsigned cfg_size)
{
	char dir[512];
	uint8_t cfg[4096] = { 0x86, 0x80, 0xd3, 0x10 };
	uint8_t bar[16384] = { 0 };
	const char *res =
		"0x00000000fe000000 0x00000000fe003fff 0x000000000014220c\n"
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
		"0x000000000000c000 0x000000000000c01f 0x0000000000040101\n"
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
		"0x00000000fd000000 0x00000000fd000fff 0x0000000000040200\n"
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
		"0x00000000fc000000 0x00000000fc00ffff 0x0000000000046200\n"
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n";

	cfg[0x10] = 0x0c;
	cfg[0x18] = 0x01;
	cfg[0x20] = 0x00;
	cfg[0x21] = 0x00;
	cfg[0x23] = 0xfd;
	snprintf(dir, sizeof(dir), "%s/%s", root, bdf);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_file(dir, "config", cfg, cfg_size);
	write_file(dir, "resource", res, strlen(res));
	write_file(dir, "resource0", bar, sizeof(bar));
	write_file(dir, "reset", "", 0);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/ptdm-sysfs-XXXXXX");
	assert_non_null(mkdtemp(root));
	make_dev("0000:00:03.0", 4096);
	make_dev("0000:00:01.0", 256);
	sysfs_set_root(root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	sysfs_set_root(NULL);
	return 0;
}

static void test_open_and_resources(void **state)
{
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };

	assert_int_equal(sysfs_open(&h, "00:03.0", true, &err), 0);
	assert_string_equal(h->bdf, "0000:00:03.0");
	assert_int_equal(h->cfg_size, 4096);
	assert_true(h->readonly);
	assert_int_equal(h->bars[0].kind, HOST_BAR_MEM64);
	assert_true(h->bars[0].prefetch);
	assert_int_equal(h->bars[0].size, 0x4000);
	assert_int_equal(h->bars[1].kind, HOST_BAR_MEM64_HI);
	assert_int_equal(h->bars[2].kind, HOST_BAR_IO);
	assert_int_equal(h->bars[2].size, 0x20);
	assert_int_equal(h->bars[3].kind, HOST_BAR_NONE);
	assert_int_equal(h->bars[4].kind, HOST_BAR_MEM32);
	assert_false(h->bars[4].prefetch);
	assert_int_equal(h->bars[PTDM_ROM_INDEX].kind, HOST_BAR_ROM);
	assert_int_equal(h->bars[PTDM_ROM_INDEX].size, 0x10000);
	assert_int_equal(th_host(h, 0, 4), 0x10d38086);
	host_close(h);

	assert_int_equal(sysfs_open(&h, "0000:00:01.0", true, &err), 0);
	assert_int_equal(h->cfg_size, 256);
	host_close(h);
}

static void test_readonly_never_writes(void **state)
{
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };
	char dir[512];
	uint8_t before[4096], after[4096], b[4] = { 0xff, 0xff, 0xff, 0xff };
	struct ptdm_dev *d;

	snprintf(dir, sizeof(dir), "%s/0000:00:03.0", root);
	read_file(dir, "config", before, sizeof(before));
	assert_int_equal(sysfs_open(&h, "0000:00:03.0", true, &err), 0);
	assert_int_equal(h->ops->cfg_write(h, 4, b, 2), -EROFS);
	assert_int_equal(h->ops->bar_write(h, 0, 0, b, 4), -EROFS);
	assert_int_equal(h->ops->reset(h), -EROFS);
	/* a whole attach + guest writes: nothing reaches the files */
	d = th_attach(h, NULL);
	for (unsigned off = 0; off < 0x100; off += 4)
		ptdm_cfg_write(d, off, 4, 0xffffffff);
	ptdm_dev_free(d);
	host_close(h);
	read_file(dir, "config", after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
}

static void test_owned_access(void **state)
{
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };
	char dir[512], rst[2] = "";
	uint32_t v = 0xcafe, r = 0;
	uint8_t cfg[8];

	snprintf(dir, sizeof(dir), "%s/0000:00:03.0", root);
	assert_int_equal(sysfs_open(&h, "0000:00:03.0", false, &err), 0);
	assert_int_equal(h->ops->cfg_write(h, 4, "\x06\x00", 2), 0);
	read_file(dir, "config", cfg, sizeof(cfg));
	assert_int_equal(cfg[4], 6);
	assert_int_equal(h->ops->bar_write(h, 0, 0x100, &v, 4), 0);
	assert_int_equal(h->ops->bar_read(h, 0, 0x100, &r, 4), 0);
	assert_int_equal(r, 0xcafe);
	assert_int_equal(h->ops->bar_read(h, 0, 0x4000, &r, 4), -ERANGE);
	assert_int_equal(h->ops->bar_read(h, 3, 0, &r, 4), -ENXIO);
	assert_int_equal(h->ops->reset(h), 0);
	read_file(dir, "reset", rst, 1);
	assert_int_equal(rst[0], '1');
	host_close(h);
}

static void test_errors_and_list(void **state)
{
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };
	char (*list)[16] = NULL;
	int n;

	assert_int_equal(sysfs_open(&h, "0000:07:00.0", true, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "no PCI device 0000:07:00.0"));
	assert_int_equal(sysfs_open(&h, "bogus", true, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bogus"));
	n = sysfs_list(&list, &err);
	assert_int_equal(n, 2);
	assert_string_equal(list[0], "0000:00:01.0");
	assert_string_equal(list[1], "0000:00:03.0");
	free(list);
}

/*
 * What a user who is not root gets: the kernel ends config reads at 64
 * bytes.  A 64-byte config file in a fake tree reads the same way: the
 * device opens read-only, says 64 bytes are readable, reads the header
 * and refuses past it with -EACCES (not -EIO); read-write is refused.
 */
static void test_first_64_bytes_only(void **state)
{
	static const char res[] =
		"0x00000000fe000000 0x00000000fe000fff 0x0000000000040200\n";
	char top[128], dir[512];
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };
	uint8_t hdr[64];

	snprintf(top, sizeof(top), "/tmp/ptdm-sysfs64-XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(dir, sizeof(dir), "%s/0000:00:05.0", top);
	assert_int_equal(mkdir(dir, 0755), 0);
	memset(hdr, 0, sizeof(hdr));
	hdr[0] = 0xf4, hdr[1] = 0x1a, hdr[2] = 0x41, hdr[3] = 0x10;
	hdr[6] = 0x10;   /* capability list ... */
	hdr[0x34] = 0x40; /* ... past what this user may read */
	write_file(dir, "config", hdr, sizeof(hdr));
	write_file(dir, "resource", res, strlen(res));
	sysfs_set_root(top);
	assert_int_equal(sysfs_open(&h, "0000:00:05.0", true, &err), 0);
	assert_int_equal(sysfs_readable(h), 64);
	assert_int_equal(h->cfg_size, 256);
	assert_int_equal(th_host(h, 0, 4), 0x10411af4);
	assert_int_equal(th_host(h, 0x3c, 4), 0);
	assert_int_equal(h->ops->cfg_read(h, 0x40, hdr, 1), -EACCES);
	assert_int_equal(h->ops->cfg_read(h, 0x3c, hdr, 8), -EACCES);
	assert_int_equal(h->bars[0].size, 0x1000);
	host_close(h);
	assert_int_equal(sysfs_open(&h, "0000:00:05.0", false, &err), -EACCES);
	assert_non_null(strstr(err.msg, "run as root"));
	/* a whole device reads whole */
	sysfs_set_root(root);
	assert_int_equal(sysfs_open(&h, "0000:00:03.0", true, &err), 0);
	assert_int_equal(sysfs_readable(h), 4096);
	host_close(h);
	snprintf(dir, sizeof(dir), "rm -rf '%s'", top);
	assert_int_equal(system(dir), 0);
}

/* This machine's own devices: read-only, never written. */
static void test_real_device_readonly(void **state)
{
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };
	char (*list)[16] = NULL;
	int n;

	sysfs_set_root(NULL);
	n = sysfs_list(&list, &err);
	if (n <= 0) {
		free(list);
		sysfs_set_root(root);
		skip();
	}
	assert_int_equal(sysfs_open(&h, list[0], true, &err), 0);
	assert_true(h->readonly);
	assert_true(th_host(h, 0, 2) != 0xffff);
	host_close(h);
	free(list);
	sysfs_set_root(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_and_resources),
		cmocka_unit_test(test_readonly_never_writes),
		cmocka_unit_test(test_owned_access),
		cmocka_unit_test(test_errors_and_list),
		cmocka_unit_test(test_real_device_readonly),
		cmocka_unit_test(test_first_64_bytes_only),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
