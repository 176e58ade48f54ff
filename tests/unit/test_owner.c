/*
 * test_owner.c - the generic owner (owner.c) over an image device whose
 * interrupts are raised by hand (image_irq_raise): BAR programming turns
 * into map/unmap calls, MSI / MSI-X / INTx enables into host vectors, a
 * fired vector into a message with the guest's address and data, masked
 * vectors into pending bits that go out on unmask, and a binding sink
 * sees each vector change once.
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <string.h>

#include "helpers.h"
#include "ptdm/image.h"
#include "ptdm/owner.h"

#define MSI_CAP TH_IRQ_MSI_CAP
#define MSIX_CAP TH_IRQ_MSIX_CAP

struct sink {
	int maps, unmaps;
	uint64_t map_gpa, map_size;
	int map_bar;
	enum host_bar_kind map_kind;
	int msgs;
	uint64_t addr;
	uint32_t data;
	int level, level_changes;
	unsigned pin;
	int binds;
	struct ptdm_owner_vec bound[8];
	bool unbound[8];
};

static int s_bar_map(void *o, int bar, uint64_t gpa, uint64_t size,
		     enum host_bar_kind kind, bool map)
{
	struct sink *s = o;

	if (map) {
		s->maps++;
		s->map_gpa = gpa;
		s->map_size = size;
		s->map_bar = bar;
		s->map_kind = kind;
	} else {
		s->unmaps++;
	}
	return 0;
}

static int s_msi(void *o, uint64_t addr, uint32_t data)
{
	struct sink *s = o;

	s->msgs++;
	s->addr = addr;
	s->data = data;
	return 0;
}

static int s_intx(void *o, unsigned pin, bool level)
{
	struct sink *s = o;

	s->pin = pin;
	s->level = level;
	s->level_changes++;
	return 0;
}

static int s_bind(void *o, enum host_irq_kind kind, unsigned vec,
		  const struct ptdm_owner_vec *v)
{
	struct sink *s = o;

	s->binds++;
	if (vec < 8) {
		s->unbound[vec] = !v;
		if (v)
			s->bound[vec] = *v;
	}
	(void)kind;
	return 0;
}

static struct ptdm_dev *dev_new(struct host_dev **h)
{
	return th_irq_dev(h, 2);
}

static struct ptdm_owner *owner_new(struct ptdm_dev *d, struct sink *s,
				    bool bind)
{
	struct ptdm_owner_ops ops = { .opaque = s,
				      .bar_map = s_bar_map,
				      .msi_deliver = s_msi,
				      .intx_level = s_intx,
				      .vec_bind = bind ? s_bind : NULL };
	struct ptdm_owner *o;
	struct ptdm_err err = { "" };

	memset(s, 0, sizeof(*s));
	assert_int_equal(ptdm_owner_new(&o, d, &ops, &err), 0);
	return o;
}

static int handle(struct ptdm_owner *o)
{
	struct pollfd p = { .fd = ptdm_owner_fd(o), .events = POLLIN };

	if (poll(&p, 1, 0) != 1)
		return 0;
	return ptdm_owner_handle(o);
}

static void wr32(struct ptdm_dev *d, uint64_t off, uint32_t v)
{
	assert_int_equal(ptdm_bar_rw(d, 0, off, &v, 4, true), 0);
}

static void test_bars_follow_guest(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = dev_new(&h);
	struct sink s;
	struct ptdm_owner *o = owner_new(d, &s, false);

	(void)state;
	assert_int_equal(s.maps, 0); /* decode off at power-on */
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xfe000000);
	assert_int_equal(s.maps, 0);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(s.maps, 1);
	assert_int_equal(s.map_bar, 0);
	assert_int_equal(s.map_gpa, 0xfe000000);
	assert_int_equal(s.map_size, 0x4000);
	assert_int_equal(s.map_kind, HOST_BAR_MEM32);
	/* sizing the BAR unmaps it, moving it maps the new place */
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(s.unmaps, 1);
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xfd000000);
	assert_int_equal(s.maps, 2);
	assert_int_equal(s.map_gpa, 0xfd000000);
	/* the I/O BAR comes with COMMAND.IO; MEM off unmaps BAR0 only */
	th_wr(d, PCI_BASE_ADDRESS_2, 4, 0xc000);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	assert_int_equal(s.maps, 3);
	assert_int_equal(s.map_kind, HOST_BAR_IO);
	assert_int_equal(s.map_gpa, 0xc000);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(s.unmaps, 2);
	/* free unmaps what is left */
	ptdm_owner_free(o);
	assert_int_equal(s.unmaps, 3);
	th_free(d, h);
}

static void test_intx_relay(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = dev_new(&h);
	struct sink s;
	struct ptdm_owner *o = owner_new(d, &s, false);

	(void)state;
	assert_int_equal(image_irq_raise(h, 0), 0);
	assert_int_equal(handle(o), 1);
	assert_int_equal(s.level, 1);
	assert_int_equal(s.pin, 1);
	/* still asserted: raising again is one level, not two */
	assert_int_equal(image_irq_raise(h, 0), 0);
	assert_int_equal(handle(o), 0);
	ptdm_owner_intx_eoi(o);
	assert_int_equal(s.level, 0);
	assert_int_equal(image_irq_raise(h, 0), 0);
	assert_int_equal(handle(o), 1);
	assert_int_equal(s.level, 1);
	assert_int_equal(s.level_changes, 3);
	ptdm_owner_free(o);
	assert_int_equal(s.level, 0); /* teardown deasserts */
	th_free(d, h);
}

static void test_msi_relay_masking(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = dev_new(&h);
	struct sink s;
	struct ptdm_owner *o = owner_new(d, &s, false);
	struct ptdm_owner_stats st;

	(void)state;
	th_wr(d, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee01000);
	th_wr(d, MSI_CAP + PCI_MSI_ADDRESS_HI, 4, 0);
	th_wr(d, MSI_CAP + PCI_MSI_DATA_64, 2, 0x40);
	th_wr(d, MSI_CAP + PCI_MSI_MASK_64, 4, 0x2); /* vector 1 masked */
	/* enable with 4 vectors (MME = 2) */
	th_wr(d, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | (2 << 4));
	assert_int_equal(image_irq_raise(h, 0), 0);
	assert_int_equal(image_irq_raise(h, 3), 0);
	assert_int_equal(handle(o), 2);
	assert_int_equal(s.msgs, 2);
	assert_int_equal(s.addr, 0xfee01000);
	assert_int_equal(s.data & 3, 3); /* the low bits carry the vector */
	assert_int_equal(s.data & ~3u, 0x40);
	/* vector 1 is masked: pending, shown in the Pending Bits register */
	assert_int_equal(image_irq_raise(h, 1), 0);
	assert_int_equal(handle(o), 1);
	assert_int_equal(s.msgs, 2);
	assert_int_equal(th_rd(d, MSI_CAP + PCI_MSI_PENDING_64, 4), 0x2);
	/* unmask: it goes out now, and is no longer pending */
	th_wr(d, MSI_CAP + PCI_MSI_MASK_64, 4, 0);
	assert_int_equal(s.msgs, 3);
	assert_int_equal(s.data, 0x41);
	assert_int_equal(th_rd(d, MSI_CAP + PCI_MSI_PENDING_64, 4), 0);
	/* MSI off: back to INTx; a vector number that is gone is refused */
	th_wr(d, MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	assert_int_equal(image_irq_raise(h, 3), -ENOENT);
	ptdm_owner_get_stats(o, &st);
	assert_int_equal(st.fired, 3);
	assert_int_equal(st.delivered, 3);
	assert_int_equal(st.pended, 1);
	ptdm_owner_free(o);
	th_free(d, h);
}

static void test_msix_relay_masking(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = dev_new(&h);
	struct sink s;
	struct ptdm_owner *o = owner_new(d, &s, false);
	uint64_t pba = 0;

	(void)state;
	th_wr(d, PCI_BASE_ADDRESS_0, 4, 0xfe000000);
	th_wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	wr32(d, 0x2000 + 2 * 16 + 0, 0xfee00000);
	wr32(d, 0x2000 + 2 * 16 + 4, 0);
	wr32(d, 0x2000 + 2 * 16 + 8, 0x4242);
	wr32(d, 0x2000 + 2 * 16 + 12, 0); /* vector 2 unmasked */
	th_wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(image_irq_raise(h, 2), 0);
	assert_int_equal(handle(o), 1);
	assert_int_equal(s.msgs, 1);
	assert_int_equal(s.addr, 0xfee00000);
	assert_int_equal(s.data, 0x4242);
	/* vector 5 powers on masked: pending in the PBA, out on unmask */
	wr32(d, 0x2000 + 5 * 16 + 8, 0x55);
	assert_int_equal(image_irq_raise(h, 5), 0);
	assert_int_equal(handle(o), 1);
	assert_int_equal(s.msgs, 1);
	assert_int_equal(ptdm_bar_rw(d, 0, 0x3000, &pba, 8, false), 0);
	assert_int_equal(pba, 1u << 5);
	wr32(d, 0x2000 + 5 * 16 + 12, 0);
	assert_int_equal(s.msgs, 2);
	assert_int_equal(s.data, 0x55);
	assert_int_equal(ptdm_bar_rw(d, 0, 0x3000, &pba, 8, false), 0);
	assert_int_equal(pba, 0);
	/* function mask holds everything back */
	th_wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2,
	      PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(image_irq_raise(h, 2), 0);
	assert_int_equal(handle(o), 1);
	assert_int_equal(s.msgs, 2);
	th_wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(s.msgs, 3);
	ptdm_owner_free(o);
	th_free(d, h);
}

static void test_reset_turns_msi_off(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = dev_new(&h);
	struct sink s;
	struct ptdm_owner *o = owner_new(d, &s, false);

	(void)state;
	th_wr(d, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	assert_int_equal(image_irq_raise(h, 0), 0);
	assert_int_equal(handle(o), 1);
	assert_int_equal(s.msgs, 1);
	ptdm_owner_sync(o); /* idempotent */
	assert_int_equal(ptdm_dev_reset(d), 0);
	ptdm_owner_sync(o);
	/* MSI is off after reset: the host line is INTx again */
	assert_int_equal(image_irq_raise(h, 0), 0);
	assert_int_equal(handle(o), 1);
	assert_int_equal(s.msgs, 1);
	assert_int_equal(s.level, 1);
	ptdm_owner_free(o);
	th_free(d, h);
}

static void test_bind_mode(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = dev_new(&h);
	struct sink s;
	struct ptdm_owner *o = owner_new(d, &s, true);
	int binds;

	(void)state;
	assert_int_equal(ptdm_owner_fd(o), -1);
	binds = s.binds; /* INTx bound at start */
	assert_true(binds >= 1);
	th_wr(d, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	th_wr(d, MSI_CAP + PCI_MSI_DATA_64, 2, 0x31);
	th_wr(d, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | (1 << 4));
	/* INTx unbound, two MSI vectors bound with the guest's data */
	assert_true(s.unbound[0] || s.bound[0].data == 0x30);
	assert_int_equal(s.bound[0].data, 0x30);
	assert_int_equal(s.bound[1].data, 0x31);
	assert_int_equal(s.bound[1].addr, 0xfee00000);
	binds = s.binds;
	/* the same programming again changes nothing */
	th_wr(d, MSI_CAP + PCI_MSI_DATA_64, 2, 0x31);
	assert_int_equal(s.binds, binds);
	/* a new data value rebinds both vectors */
	th_wr(d, MSI_CAP + PCI_MSI_DATA_64, 2, 0x50);
	assert_int_equal(s.bound[1].data, 0x51);
	ptdm_owner_free(o);
	assert_true(s.unbound[0] && s.unbound[1]);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bars_follow_guest),
		cmocka_unit_test(test_intx_relay),
		cmocka_unit_test(test_msi_relay_masking),
		cmocka_unit_test(test_msix_relay_masking),
		cmocka_unit_test(test_reset_turns_msi_off),
		cmocka_unit_test(test_bind_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
