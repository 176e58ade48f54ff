/*
 * test_rom.c - romfile= and rombar=0 (src/core/rom.c): the ROM check, one
 * case per rule it enforces; a romfile served in place of the device's ROM
 * on the NVIDIA GPU dump (the device's ROM memory holds junk, which must
 * never show), on its HDA function (no ROM BAR: one of the image's size),
 * through vfio-user's ROM region; rombar=0 taking the ROM away in config
 * and in vfio-user.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "ptdm/image.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"
#include <linux/pci_regs.h>

#define NV_GPU "nvidia-24a0-ga104-rtx3070ti-laptop-gpu"
#define NV_HDA "nvidia-228b-ga104-hda-audio"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* One image of len bytes (a multiple of 512) for vendor:device at rom. */
static void image_at(uint8_t *rom, size_t len, uint16_t vendor,
		     uint16_t device, bool last)
{
	uint8_t *pcir = rom + 0x40;

	memset(rom, 0, len);
	rom[0] = 0x55;
	rom[1] = 0xaa;
	rom[2] = (uint8_t)(len / 512);
	put16(rom + 0x18, 0x40);
	memcpy(pcir, "PCIR", 4);
	put16(pcir + 4, vendor);
	put16(pcir + 6, device);
	put16(pcir + 0x0a, 0x18);
	pcir[0x0c] = 0;
	pcir[0x0f] = 3; /* display */
	put16(pcir + 0x10, (uint16_t)(len / 512));
	pcir[0x15] = last ? 0x80 : 0;
	for (size_t i = 0x100; i < len; i++)
		rom[i] = (uint8_t)i;
}

static int check(const uint8_t *rom, size_t len, uint64_t bar, char *msg)
{
	struct ptdm_err err = { "" };
	int rc = ptdm_rom_check(rom, len, 0x10de, 0x24a0, bar, &err);

	snprintf(msg, 512, "%s", err.msg);
	return rc;
}

static void test_rom_check_rules(void **state)
{
	static uint8_t rom[0x3000];
	char msg[512];

	image_at(rom, 0x1000, 0x10de, 0x24a0, true);
	assert_int_equal(check(rom, 0x1000, 0x80000, msg), 0);
	assert_int_equal(check(rom, 0x1000, 0, msg), 0);
	/* larger than the ROM BAR */
	assert_int_equal(check(rom, 0x1000, 0x800, msg), -EFBIG);
	assert_non_null(strstr(msg, "ROM BAR"));
	/* too short for anything */
	assert_int_equal(check(rom, 8, 0, msg), -EINVAL);
	/* the signature */
	rom[1] = 0xab;
	assert_int_equal(check(rom, 0x1000, 0, msg), -EINVAL);
	assert_non_null(strstr(msg, "0x55 0xaa"));
	rom[1] = 0xaa;
	/* the data structure pointer past the end */
	put16(rom + 0x18, 0xff0);
	assert_int_equal(check(rom, 0x1000, 0, msg), -EINVAL);
	assert_non_null(strstr(msg, "past the end"));
	put16(rom + 0x18, 0x40);
	/* no PCIR */
	rom[0x40] = 'X';
	assert_int_equal(check(rom, 0x1000, 0, msg), -EINVAL);
	assert_non_null(strstr(msg, "PCIR"));
	rom[0x40] = 'P';
	/* a PCIR too short */
	put16(rom + 0x4a, 0x10);
	assert_int_equal(check(rom, 0x1000, 0, msg), -EINVAL);
	put16(rom + 0x4a, 0x18);
	/* another device's ROM: both IDs named */
	put16(rom + 0x46, 0x2204);
	assert_int_equal(check(rom, 0x1000, 0, msg), -EINVAL);
	assert_non_null(strstr(msg, "10de:2204"));
	assert_non_null(strstr(msg, "10de:24a0"));
	/* ...unless a PCIR 3.0 device list names it */
	rom[0x4c] = 3;
	put16(rom + 0x48, 0x20); /* list at 0x60 */
	put16(rom + 0x60, 0x2488);
	put16(rom + 0x62, 0x24a0);
	put16(rom + 0x64, 0);
	assert_int_equal(check(rom, 0x1000, 0, msg), 0);
	put16(rom + 0x62, 0x2489);
	assert_int_equal(check(rom, 0x1000, 0, msg), -EINVAL);
	/* an image length past the file */
	image_at(rom, 0x1000, 0x10de, 0x24a0, true);
	put16(rom + 0x50, 0x10);
	assert_int_equal(check(rom, 0x1000, 0, msg), -EINVAL);
	assert_non_null(strstr(msg, "length"));
	/* two images (legacy + EFI): both checked, the last bit ends it */
	image_at(rom, 0x1000, 0x10de, 0x24a0, false);
	image_at(rom + 0x1000, 0x2000, 0x10de, 0x24a0, true);
	assert_int_equal(check(rom, 0x3000, 0, msg), 0);
	rom[0x1000] = 0;
	assert_int_equal(check(rom, 0x3000, 0, msg), -EINVAL);
	assert_non_null(strstr(msg, "image 1"));
}

static const char *rom_file(const uint8_t *rom, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/ptdm-test-rom-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rom, len), (ssize_t)len);
	close(fd);
	return path;
}

static struct host_dev *dump(const char *base)
{
	char name[256];
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };

	snprintf(name, sizeof(name), "%s.lspci-x4.txt", base);
	if (image_open(&h, th_dump(name), NULL, &err))
		fail_msg("%s: %s", base, err.msg);
	return h;
}

static int attach(struct host_dev *h, const char *romfile, bool rombar,
		  struct ptdm_dev **d, struct ptdm_err *err)
{
	struct ptdm_dev_opts o;

	ptdm_dev_opts_init(&o);
	o.romfile = romfile;
	o.no_rombar = !rombar;
	return ptdm_dev_attach(d, h, &o, err);
}

static uint64_t guest_rom_size(struct ptdm_dev *d)
{
	uint32_t v;

	th_wr(d, PCI_ROM_ADDRESS, 4, PCI_ROM_ADDRESS_MASK);
	v = th_rd(d, PCI_ROM_ADDRESS, 4) & PCI_ROM_ADDRESS_MASK;
	return v ? (uint64_t)(~v + 1u) : 0;
}

static void test_romfile_replaces_device_rom(void **state)
{
	static uint8_t rom[0x1000], junk[64], got[0x1000];
	struct host_dev *h = dump(NV_GPU);
	struct ptdm_err err = { "" };
	struct ptdm_dev *d = NULL;
	const char *path;
	uint32_t v;

	image_at(rom, sizeof(rom), 0x10de, 0x24a0, true);
	path = rom_file(rom, sizeof(rom));
	/* the device's own ROM (an image's: zeros) is not the file */
	assert_int_equal(h->ops->bar_read(h, PTDM_ROM_INDEX, 0, junk,
					  sizeof(junk)), 0);
	assert_memory_not_equal(junk, rom, sizeof(junk));
	assert_int_equal(attach(h, path, true, &d, &err), 0);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	/* the device's ROM BAR size stays; the bytes are the file's */
	assert_int_equal(guest_rom_size(d), 0x80000);
	assert_int_equal(ptdm_bar_rw(d, PTDM_ROM_INDEX, 0, got, sizeof(got),
				     false), 0);
	assert_memory_equal(got, rom, sizeof(rom));
	/* past the image: 0 */
	assert_int_equal(ptdm_bar_rw(d, PTDM_ROM_INDEX, 0x7fffc, &v, 4, false),
			 0);
	assert_int_equal(v, 0);
	/* read-only */
	assert_int_equal(ptdm_bar_rw(d, PTDM_ROM_INDEX, 0, &v, 4, true),
			 -EPERM);
	ptdm_dev_free(d);
	/* an ID override: the ROM must be for the IDs the guest sees */
	{
		struct ptdm_dev_opts o;

		ptdm_dev_opts_init(&o);
		o.romfile = path;
		o.device_id = 0x2488;
		assert_int_equal(ptdm_dev_attach(&d, h, &o, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "10de:2488"));
	}
	host_close(h);

	/* a ROM bigger than the device's ROM BAR is refused, named */
	{
		static uint8_t big[0x100000];

		image_at(big, sizeof(big) / 2, 0x10de, 0x24a0, true);
		path = rom_file(big, sizeof(big));
		h = dump(NV_GPU);
		assert_int_equal(attach(h, path, true, &d, &err), -EFBIG);
		assert_non_null(strstr(err.msg, path));
		assert_non_null(strstr(err.msg, "ROM BAR"));
		host_close(h);
		unlink(path);
	}
	/* a file that is no ROM */
	h = dump(NV_GPU);
	assert_int_equal(attach(h, "/dev/null", true, &d, &err), -EINVAL);
	assert_int_equal(attach(h, "/nonexistent/rom", true, &d, &err),
			 -ENOENT);
	host_close(h);
}

static void test_romfile_on_device_without_rom(void **state)
{
	static uint8_t rom[0x2a00];
	struct host_dev *h = dump(NV_HDA);
	struct ptdm_err err = { "" };
	struct ptdm_dev *d = NULL;
	struct ptdm_bar_info b;
	const char *path;

	image_at(rom, sizeof(rom), 0x10de, 0x228b, true);
	path = rom_file(rom, sizeof(rom));
	assert_int_equal(h->bars[PTDM_ROM_INDEX].kind, HOST_BAR_NONE);
	assert_int_equal(attach(h, path, true, &d, &err), 0);
	ptdm_dev_bar(d, PTDM_ROM_INDEX, &b);
	assert_int_equal(b.kind, HOST_BAR_ROM);
	assert_int_equal(b.size, 0x4000); /* 0x2a00 rounded up */
	assert_int_equal(guest_rom_size(d), 0x4000);
	th_free(d, h);
	unlink(path);
}

static void test_rombar_off(void **state)
{
	struct host_dev *h = dump(NV_GPU);
	struct ptdm_err err = { "" };
	struct ptdm_dev *d = NULL;
	uint32_t v;

	assert_int_equal(attach(h, NULL, false, &d, &err), 0);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(th_rd(d, PCI_ROM_ADDRESS, 4), 0);
	assert_int_equal(guest_rom_size(d), 0);
	assert_int_equal(ptdm_bar_rw(d, PTDM_ROM_INDEX, 0, &v, 4, false),
			 -ENXIO);
	ptdm_dev_free(d);
	assert_int_equal(attach(h, "/tmp/x.rom", false, &d, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "exclude"));
	host_close(h);
}

/* ---- through vfio-user's ROM region ---- */

static void test_vfio_user_rom_region(void **state)
{
	static uint8_t rom[0x800], got[0x800];
	struct host_dev *h = dump(NV_GPU);
	struct ptdm_err err = { "" };
	struct ptdm_dev *d = NULL;
	struct vfu_region_info ri;
	struct th_vfu f;
	const char *path;
	uint32_t cmd = PCI_COMMAND_MEMORY;
	int fd = -1;

	image_at(rom, sizeof(rom), 0x10de, 0x24a0, true);
	path = rom_file(rom, sizeof(rom));
	assert_int_equal(attach(h, path, true, &d, &err), 0);
	th_vfu_open(&f, NULL, d, true);
	assert_int_equal(vfu_client_region_rw(&f.cli,
					      VFIO_PCI_CONFIG_REGION_INDEX,
					      PCI_COMMAND, &cmd, 2, true), 0);
	assert_int_equal(vfu_client_region_info(&f.cli,
						VFIO_PCI_ROM_REGION_INDEX, &ri,
						NULL, 0, &fd), 0);
	assert_int_equal(ri.size, 0x80000);
	assert_int_equal(ri.flags, VFIO_REGION_INFO_FLAG_READ);
	assert_int_equal(fd, -1);
	assert_int_equal(vfu_client_region_rw(&f.cli, VFIO_PCI_ROM_REGION_INDEX,
					      0, got, sizeof(got), false), 0);
	assert_memory_equal(got, rom, sizeof(rom));
	th_vfu_close(&f);
	ptdm_dev_free(d);

	/* rombar=0: no ROM region */
	assert_int_equal(attach(h, NULL, false, &d, &err), 0);
	th_vfu_open(&f, NULL, d, true);
	assert_int_equal(vfu_client_region_info(&f.cli,
						VFIO_PCI_ROM_REGION_INDEX, &ri,
						NULL, 0, &fd), 0);
	assert_int_equal(ri.size, 0);
	assert_int_equal(vfu_client_region_rw(&f.cli, VFIO_PCI_ROM_REGION_INDEX,
					      0, got, 4, false), -EINVAL);
	th_vfu_close(&f);
	th_free(d, h);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rom_check_rules),
		cmocka_unit_test(test_romfile_replaces_device_rom),
		cmocka_unit_test(test_romfile_on_device_without_rom),
		cmocka_unit_test(test_rombar_off),
		cmocka_unit_test(test_vfio_user_rom_region),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
