/*
 * test_dumps.c - every real dump in ../shared/pci-dumps loads and attaches
 * (bridges are refused with the reason), the guest chains hold only
 * allowlisted capabilities, the whole space reads, and sizing a BAR
 * through the engine gives the size the backend recorded.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ptdm/image.h"
#include <linux/pci_regs.h>

static bool std_allowed(unsigned id)
{
	return id == PCI_CAP_ID_PM || id == PCI_CAP_ID_MSI ||
	       id == PCI_CAP_ID_MSIX || id == PCI_CAP_ID_EXP ||
	       id == PCI_CAP_ID_VNDR;
}

static bool ext_allowed(unsigned id)
{
	return id == 0 || id == PCI_EXT_CAP_ID_ERR || id == PCI_EXT_CAP_ID_DSN ||
	       id == PCI_EXT_CAP_ID_VNDR;
}

static void check_chains(struct ptdm_dev *d, const char *name)
{
	unsigned p, n = 0;

	if (th_rd(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) {
		for (p = th_rd(d, PCI_CAPABILITY_LIST, 1); p && n < 48; n++) {
			if (!std_allowed(th_rd(d, p, 1)))
				fail_msg("%s: guest cap %#x at %#x", name,
					 th_rd(d, p, 1), p);
			p = th_rd(d, p + 1, 1);
		}
		assert_int_equal(p, 0);
	}
	if (ptdm_cfg_size(d) < 4096)
		return;
	for (p = 0x100, n = 0; p && n < 960; n++) {
		uint32_t h = th_rd(d, p, 4);

		if (!h)
			break;
		if (!ext_allowed(PCI_EXT_CAP_ID(h)))
			fail_msg("%s: guest ext cap %#x at %#x", name,
				 PCI_EXT_CAP_ID(h), p);
		p = PCI_EXT_CAP_NEXT(h);
	}
	assert_true(n < 960);
}

/* Size BAR i the way firmware does and compare with the backend. */
static void check_sizing(struct ptdm_dev *d, struct host_dev *h,
			 const char *name)
{
	for (int i = 0; i <= PTDM_ROM_INDEX; i++) {
		unsigned reg = i == PTDM_ROM_INDEX ? PCI_ROM_ADDRESS
						   : PCI_BASE_ADDRESS_0 + 4u * i;
		const struct host_bar *b = &h->bars[i];
		uint64_t mask, size;
		uint32_t lo;

		if (b->kind == HOST_BAR_MEM64_HI || !b->size_known)
			continue;
		th_wr(d, reg, 4, 0xffffffff);
		lo = th_rd(d, reg, 4);
		if (b->kind == HOST_BAR_NONE) {
			assert_int_equal(lo, 0);
			continue;
		}
		if (b->kind == HOST_BAR_IO)
			mask = lo & PCI_BASE_ADDRESS_IO_MASK;
		else if (b->kind == HOST_BAR_ROM)
			mask = lo & PCI_ROM_ADDRESS_MASK;
		else
			mask = lo & PCI_BASE_ADDRESS_MEM_MASK;
		if (b->kind == HOST_BAR_MEM64) {
			th_wr(d, reg + 4, 4, 0xffffffff);
			mask |= (uint64_t)th_rd(d, reg + 4, 4) << 32;
		} else {
			mask |= 0xffffffff00000000ull;
		}
		size = ~mask + 1;
		if (b->kind == HOST_BAR_IO)
			size &= 0xffffffff;
		if (size != b->size)
			fail_msg("%s: BAR %d sized %#llx, recorded %#llx", name,
				 i, (unsigned long long)size,
				 (unsigned long long)b->size);
	}
}

static void test_every_dump(void **state)
{
	const char *dir = getenv("PTDM_DUMPS");
	struct dirent **ents;
	int n, tried = 0, attached = 0, refused = 0;

	if (!dir)
		dir = "../shared/pci-dumps";
	n = scandir(dir, &ents, NULL, alphasort);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		const char *f = ents[i]->d_name;
		char path[4096];
		struct host_dev *h = NULL;
		struct ptdm_dev_opts o;
		struct ptdm_dev *d = NULL;
		struct ptdm_err err = { "" };
		uint8_t buf[4096];

		if (!strstr(f, ".lspci-x3.txt") && !strstr(f, ".lspci-x4.txt"))
			continue;
		tried++;
		snprintf(path, sizeof(path), "%s/%s", dir, f);
		if (image_open(&h, path, NULL, &err))
			fail_msg("%s: %s", f, err.msg);
		ptdm_dev_opts_init(&o);
		if (ptdm_dev_attach(&d, h, &o, &err)) {
			/* only bridges may be refused */
			if (!strstr(err.msg, "bridge"))
				fail_msg("%s: %s", f, err.msg);
			refused++;
			host_close(h);
			continue;
		}
		attached++;
		assert_int_equal(ptdm_cfg_rw(d, 0, buf, ptdm_cfg_size(d), false),
				 0);
		check_chains(d, f);
		for (size_t p = 0; p < ptdm_dev_nproblems(d); p++)
			if (strstr(ptdm_dev_problem(d, p), "chain"))
				fail_msg("%s: %s", f, ptdm_dev_problem(d, p));
		check_sizing(d, h, f);
		th_free(d, h);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	print_message("%d dumps: %d attached, %d bridges refused\n", tried,
		      attached, refused);
	assert_true(tried >= 20);
	assert_true(refused >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
