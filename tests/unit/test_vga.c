/*
 * test_vga.c - the legacy VGA ranges (src/core/vga.c) and vfio-user's VGA
 * region (index 8): the Alder Lake IGD dump (class 0x0300) on an image
 * host given a VGA region backed by memory, as vfio-pci offers one; the
 * NVIDIA HDA dump (class 0x0403) and a host without the op have none.
 * Accesses stay inside one range, and the guest's decode gates them: a
 * blocked one never reaches the host.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "helpers.h"
#include "ptdm/image.h"
#include "ptdm/vfu_client.h"
#include "ptdm/vfu_server.h"
#include <linux/pci_regs.h>

static uint8_t vga_mem[PTDM_VGA_SIZE];
static unsigned vga_calls;
static struct host_ops vga_ops;

static int fake_vga_rw(struct host_dev *h, uint64_t off, void *buf,
		       size_t len, bool write)
{
	(void)h;
	vga_calls++;
	if (off > sizeof(vga_mem) || len > sizeof(vga_mem) - off)
		return -ERANGE;
	if (write)
		memcpy(vga_mem + off, buf, len);
	else
		memcpy(buf, vga_mem + off, len);
	return 0;
}

/* The host offers VGA ranges (after any image_* call: not an image now). */
static void give_vga(struct host_dev *h)
{
	vga_ops = *h->ops;
	vga_ops.vga_rw = fake_vga_rw;
	h->ops = &vga_ops;
	h->vga_size = PTDM_VGA_SIZE;
}

static struct host_dev *dump(const char *base, bool with_vga)
{
	char name[256];
	struct host_dev *h = NULL;
	struct ptdm_err err = { "" };

	snprintf(name, sizeof(name), "%s.lspci-x4.txt", base);
	if (image_open(&h, th_dump(name), NULL, &err))
		fail_msg("%s: %s", base, err.msg);
	if (with_vga)
		give_vga(h);
	return h;
}

#define IGD "intel-46a6-alderlake-p-igd"
#define NV_HDA "nvidia-228b-ga104-hda-audio"

static void test_vga_ranges(void **state)
{
	struct host_dev *h = dump(IGD, true);
	struct ptdm_dev *d = th_attach(h, NULL);
	uint32_t v = 0;
	unsigned calls;

	assert_int_equal(ptdm_dev_vga_size(d), PTDM_VGA_SIZE);
	memset(vga_mem, 0, sizeof(vga_mem));
	vga_mem[0xa0000] = 0x12;
	vga_mem[0x3cc] = 0x67;
	/* power-on: decode off, nothing reaches the device */
	calls = vga_calls;
	assert_int_equal(ptdm_vga_rw(d, 0xa0000, &v, 4, false), 0);
	assert_int_equal(v, 0xffffffff);
	v = 0xaa;
	assert_int_equal(ptdm_vga_rw(d, 0xb8000, &v, 1, true), 0);
	assert_int_equal(vga_calls, calls);
	assert_int_equal(vga_mem[0xb8000], 0);
	/* memory decode on: the memory range, not the ports */
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(ptdm_vga_rw(d, 0xa0000, &v, 4, false), 0);
	assert_int_equal(v, 0x12);
	v = 0xaa;
	assert_int_equal(ptdm_vga_rw(d, 0xb8000, &v, 1, true), 0);
	assert_int_equal(vga_mem[0xb8000], 0xaa);
	v = 0;
	assert_int_equal(ptdm_vga_rw(d, 0x3cc, &v, 1, false), 0);
	assert_int_equal(v, 0xff);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(ptdm_vga_rw(d, 0x3cc, &v, 1, false), 0);
	assert_int_equal(v, 0x67);
	/* outside the ranges, across two, past the region */
	assert_int_equal(ptdm_vga_rw(d, 0x3bc, &v, 1, false), -EINVAL);
	assert_int_equal(ptdm_vga_rw(d, 0x3ba, &v, 4, false), -EINVAL);
	assert_int_equal(ptdm_vga_rw(d, 0x1000, &v, 4, false), -EINVAL);
	assert_int_equal(ptdm_vga_rw(d, 0xbfffe, &v, 4, false), -ERANGE);
	assert_int_equal(ptdm_vga_rw(d, 0, &v, 0, false), -ERANGE);
	th_free(d, h);
}

static void test_no_vga(void **state)
{
	struct host_dev *h = dump(NV_HDA, true); /* not a VGA device */
	struct ptdm_dev *d = th_attach(h, NULL);
	uint32_t v;

	assert_int_equal(ptdm_dev_vga_size(d), 0);
	assert_int_equal(ptdm_vga_rw(d, 0xa0000, &v, 4, false), -ENXIO);
	th_free(d, h);
	h = dump(IGD, false); /* the host offers none */
	d = th_attach(h, NULL);
	assert_int_equal(ptdm_dev_vga_size(d), 0);
	th_free(d, h);
}

/* ---- quirks in the VGA ranges ---- */

#define NV_GPU "nvidia-24a0-ga104-rtx3070ti-laptop-gpu"

static uint32_t vrd(struct ptdm_dev *d, uint64_t off, size_t len)
{
	uint32_t v = 0;

	assert_int_equal(ptdm_vga_rw(d, off, &v, len, false), 0);
	return v;
}

static void vwr(struct ptdm_dev *d, uint64_t off, size_t len, uint32_t v)
{
	assert_int_equal(ptdm_vga_rw(d, off, &v, len, true), 0);
}

static uint32_t mem32(uint64_t off)
{
	uint32_t v;

	memcpy(&v, vga_mem + off, 4);
	return v;
}

static void test_nvidia_3d0_backdoor(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d;

	memset(vga_mem, 0, sizeof(vga_mem));
	memset(vga_mem + 0x3d0, 0x77, 4); /* the device's data port */
	h = dump(NV_GPU, true);
	d = th_attach(h, NULL);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xfd000000);
	/* read: 0x338, offset 0x1810, 0x538, then data */
	vwr(d, 0x3d4, 2, 0x338);
	vwr(d, 0x3d0, 4, 0x1800 + PCI_BASE_ADDRESS_0);
	vwr(d, 0x3d4, 2, 0x538);
	assert_int_equal(vrd(d, 0x3d0, 4), 0xfd000000);
	/* the device saw every byte but the answer: its data port holds
	 * the offset the guest wrote */
	assert_int_equal(mem32(0x3d0), 0x1810);
	/* the command still says read, the sequence is over: all-ones */
	assert_int_equal(vrd(d, 0x3d0, 4), 0xffffffff);
	/* write, with the command written CRTC style, a byte at a time */
	vwr(d, 0x3d4, 1, 0x38);
	vwr(d, 0x3d5, 1, 0x03);
	vwr(d, 0x3d0, 4, 0x1800 + PCI_BASE_ADDRESS_0);
	vwr(d, 0x3d4, 2, 0x738);
	vwr(d, 0x3d0, 4, 0xfc000000);
	assert_int_equal(th_rd(d, PCI_BASE_ADDRESS_0, 4), 0xfc000000);
	assert_int_equal(mem32(0x3d0), 0x1810); /* never the device's */
	assert_int_equal(th_host(h, PCI_BASE_ADDRESS_0, 4), 0x83000000);
	/* out of sequence: the command says write, the data is dropped */
	vwr(d, 0x3d0, 4, 0x12345678);
	assert_int_equal(mem32(0x3d0), 0x1810);
	/* a write across data and command ports: dropped */
	vwr(d, 0x3d2, 4, 0x05380000);
	assert_int_equal(mem32(0x3d2) & 0xffff, 0);
	/* another command: the ports are the device's again */
	vwr(d, 0x3d4, 2, 0x0011);
	vwr(d, 0x3d0, 4, 0xabcd);
	assert_int_equal(mem32(0x3d0), 0xabcd);
	th_free(d, h);

	/* firmware left the write command in the ports: nothing passes */
	memset(vga_mem, 0, sizeof(vga_mem));
	vga_mem[0x3d4] = 0x38;
	vga_mem[0x3d5] = 0x07;
	h = dump(NV_GPU, true);
	d = th_attach(h, NULL);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_IO);
	vwr(d, 0x3d0, 4, 0x11111111);
	assert_int_equal(mem32(0x3d0), 0);
	th_free(d, h);
}

static void test_ati_3c3(void **state)
{
	struct host_dev *h = dump(IGD, false);
	struct ptdm_err err = { "" };
	struct ptdm_dev *d;
	uint32_t v = 0x1002;

	memset(vga_mem, 0, sizeof(vga_mem));
	vga_mem[0x3c3] = 0x55;
	assert_int_equal(h->ops->cfg_write(h, PCI_VENDOR_ID, &v, 2), 0);
	assert_int_equal(image_set_bar_size(h, 4, 256, &err), 0);
	give_vga(h);
	d = th_attach(h, NULL);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_IO);
	th_wr(d, PCI_BASE_ADDRESS_4, 4, 0xe001);
	assert_int_equal(vrd(d, 0x3c3, 1), 0xe0);
	vwr(d, 0x3c3, 1, 0x42); /* writes are the device's */
	assert_int_equal(vga_mem[0x3c3], 0x42);
	assert_int_equal(vrd(d, 0x3c2, 1), 0); /* next to it: the device */
	th_free(d, h);
	/* BAR4 of 64 bytes: its low byte is not always 0, no 0x3c3 */
	h = dump(IGD, true);
	assert_int_equal(h->ops->cfg_write(h, PCI_VENDOR_ID, &v, 2), 0);
	d = th_attach(h, NULL);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(vrd(d, 0x3c3, 1), 0x42);
	th_free(d, h);
}

static void test_vfio_user_vga_region(void **state)
{
	struct host_dev *h = dump(IGD, true);
	struct ptdm_dev *d = th_attach(h, NULL);
	struct vfu_region_info ri;
	struct th_vfu f;
	uint32_t v = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
	int fd = -1;

	memset(vga_mem, 0, sizeof(vga_mem));
	th_vfu_open(&f, NULL, d, true);
	assert_int_equal(vfu_client_region_rw(&f.cli,
					      VFIO_PCI_CONFIG_REGION_INDEX,
					      PCI_COMMAND, &v, 2, true), 0);
	assert_int_equal(vfu_client_region_info(&f.cli,
						VFIO_PCI_VGA_REGION_INDEX, &ri,
						NULL, 0, &fd), 0);
	assert_int_equal(ri.size, PTDM_VGA_SIZE);
	assert_int_equal(ri.flags, VFIO_REGION_INFO_FLAG_READ |
					   VFIO_REGION_INFO_FLAG_WRITE);
	assert_int_equal(fd, -1);
	v = 0x0741;
	assert_int_equal(vfu_client_region_rw(&f.cli, VFIO_PCI_VGA_REGION_INDEX,
					      0xb8000, &v, 2, true), 0);
	assert_int_equal(vga_mem[0xb8000], 0x41);
	v = 0;
	assert_int_equal(vfu_client_region_rw(&f.cli, VFIO_PCI_VGA_REGION_INDEX,
					      0xb8000, &v, 2, false), 0);
	assert_int_equal(v, 0x0741);
	/* a port outside the VGA ranges: an error, the connection lives */
	assert_true(vfu_client_region_rw(&f.cli, VFIO_PCI_VGA_REGION_INDEX,
					 0x3e0, &v, 1, false) < 0);
	assert_int_equal(vfu_client_region_rw(&f.cli, VFIO_PCI_VGA_REGION_INDEX,
					      0xb8000, &v, 2, false), 0);
	th_vfu_close(&f);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vga_ranges),
		cmocka_unit_test(test_no_vga),
		cmocka_unit_test(test_vfio_user_vga_region),
		cmocka_unit_test(test_nvidia_3d0_backdoor),
		cmocka_unit_test(test_ati_3c3),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
