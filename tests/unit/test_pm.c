/*
 * test_pm.c - the Power Management capability (cap_pm.c): D-state virtual
 * unless power_mgmt, PME enable / data select / PME status the guest's own,
 * capabilities, No_Soft_Reset and bytes 6-7 read-only.  Each test checks
 * the guest view and the host-side bytes.
 */
#include <string.h>

#include "helpers.h"
#include <linux/pci_regs.h>

#define CAP 0x40
#define PMCSR (CAP + PCI_PM_CTRL)
#define PMC_HOST 0xc803 /* v3, PME from D3hot/D3cold */
#define D0 0
#define D1 1
#define D2 2
#define D3HOT 3
#define DATA_SEL_3 (3 << 9)

struct counters {
	int power, last_power;
};

static void on_power(void *o, int state)
{
	((struct counters *)o)->power++;
	((struct counters *)o)->last_power = state;
}

static void watch(struct ptdm_dev *d, struct counters *n)
{
	struct ptdm_dev_events ev = { .opaque = n, .power_changed = on_power };

	memset(n, 0, sizeof(*n));
	ptdm_dev_set_events(d, &ev);
}

/* PM at 0x40 with PMC pmc; the host's PMCSR as given, bytes 6-7 = 0x12
 * 0x34. */
static void pm_cfg_pmc(struct th_cfg *c, uint16_t pmc, uint16_t pmcsr)
{
	uint8_t pm[6] = { (uint8_t)pmc, (uint8_t)(pmc >> 8), (uint8_t)pmcsr,
			  (uint8_t)(pmcsr >> 8), 0x12, 0x34 };

	th_cfg_init(c, 0x8086, 0x1234, 256);
	th_add_cap(c, CAP, PCI_CAP_ID_PM, pm, sizeof(pm));
}

static struct ptdm_dev *pm_dev_pmc(uint16_t pmc, uint16_t pmcsr,
				   bool power_mgmt, struct host_dev **h)
{
	struct th_cfg c;
	struct ptdm_dev_opts o;

	pm_cfg_pmc(&c, pmc, pmcsr);
	ptdm_dev_opts_init(&o);
	o.power_mgmt = power_mgmt;
	return th_dev(&c, &o, h);
}

static struct ptdm_dev *pm_dev(uint16_t pmcsr, bool power_mgmt,
			       struct host_dev **h)
{
	return pm_dev_pmc(PMC_HOST, pmcsr, power_mgmt, h);
}

static const struct ptdm_cap_info *cap_at(struct ptdm_dev *d, unsigned pos)
{
	for (size_t i = 0; i < ptdm_dev_ncaps(d); i++)
		if (ptdm_dev_cap(d, i)->pos == pos)
			return ptdm_dev_cap(d, i);
	return NULL;
}

static void test_pm_kept_with_its_length(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(0, false, &h);

	assert_false(cap_at(d, CAP)->hidden);
	assert_int_equal(cap_at(d, CAP)->len, PCI_PM_SIZEOF);
	assert_int_equal(th_rd(d, CAP, 1), PCI_CAP_ID_PM);
	th_free(d, h);
}

/* Without power_mgmt the D-state is the guest's: the device stays in D0. */
static void test_pm_state_virtual(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(PCI_PM_CTRL_NO_SOFT_RESET, false, &h);
	unsigned writes = th_host_writes(h);
	struct counters n;

	watch(d, &n);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D0);
	th_wr(d, PMCSR, 2, D3HOT);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D3HOT);
	assert_int_equal(th_host(h, PMCSR, 2), PCI_PM_CTRL_NO_SOFT_RESET);
	assert_int_equal(th_host_writes(h), writes);
	/* the owner hears of the guest's state change, once */
	assert_int_equal(n.power, 1);
	assert_int_equal(n.last_power, D3HOT);
	th_wr(d, PMCSR, 2, D3HOT);
	assert_int_equal(n.power, 1);
	/* a device reset puts the guest's view back in D0 */
	assert_int_equal(ptdm_dev_reset(d), 0);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D0);
	th_free(d, h);
}

/* PME enable and data select: the guest's copy, host bits untouched. */
static void test_pm_pme_enable_data_sel_virtual(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(PCI_PM_CTRL_PME_ENABLE, false, &h);
	unsigned writes = th_host_writes(h);

	/* power-on: PME disabled, select 0, whatever the host has */
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_PME_ENABLE, 0);
	th_wr(d, PMCSR, 2, PCI_PM_CTRL_PME_ENABLE | DATA_SEL_3);
	assert_int_equal(th_rd(d, PMCSR, 2) &
				 (PCI_PM_CTRL_PME_ENABLE |
				  PCI_PM_CTRL_DATA_SEL_MASK),
			 PCI_PM_CTRL_PME_ENABLE | DATA_SEL_3);
	th_wr(d, PMCSR, 2, 0);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_PME_ENABLE, 0);
	assert_int_equal(th_host(h, PMCSR, 2), PCI_PM_CTRL_PME_ENABLE);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);
}

/* PME status is RW1C on the guest's copy: writing 1 never sets it, and
 * never clears the host's. */
static void test_pm_pme_status_rw1c_virtual(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(PCI_PM_CTRL_PME_STATUS, false, &h);

	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_PME_STATUS, 0);
	th_wr(d, PMCSR, 2, PCI_PM_CTRL_PME_STATUS);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_PME_STATUS, 0);
	th_wr(d, PMCSR + 1, 1, PCI_PM_CTRL_PME_STATUS >> 8);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_PME_STATUS, 0);
	assert_int_equal(th_host(h, PMCSR, 2), PCI_PM_CTRL_PME_STATUS);
	th_free(d, h);
}

/* PMC, No_Soft_Reset and bytes 6-7 are the device's. */
static void test_pm_read_only(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(PCI_PM_CTRL_NO_SOFT_RESET, false, &h);
	unsigned writes = th_host_writes(h);

	th_wr(d, CAP + PCI_PM_PMC, 2, 0);
	assert_int_equal(th_rd(d, CAP + PCI_PM_PMC, 2), PMC_HOST);
	th_wr(d, PMCSR, 2, 0);
	assert_int_equal(th_rd(d, PMCSR, 2), PCI_PM_CTRL_NO_SOFT_RESET);
	th_wr(d, CAP + PCI_PM_PPB_EXTENSIONS, 2, 0xffff);
	assert_int_equal(th_rd(d, CAP + PCI_PM_PPB_EXTENSIONS, 2), 0x3412);
	/* the whole dword at once: same */
	th_wr(d, CAP, 4, 0);
	assert_int_equal(th_rd(d, CAP + PCI_PM_PMC, 2), PMC_HOST);
	assert_int_equal(th_host(h, CAP + PCI_PM_PMC, 2), PMC_HOST);
	assert_int_equal(th_host(h, CAP + PCI_PM_PPB_EXTENSIONS, 2), 0x3412);
	assert_int_equal(th_host_writes(h), writes);
	th_free(d, h);
}

/* power_mgmt=1: the D-state reaches the device, the owner is told, and
 * the rest of PMCSR stays virtual. */
static void test_pm_power_mgmt_reaches_host(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(PCI_PM_CTRL_NO_SOFT_RESET, true, &h);
	struct counters n;

	watch(d, &n);
	th_wr(d, PMCSR, 2, D3HOT | PCI_PM_CTRL_PME_ENABLE);
	assert_int_equal(th_host(h, PMCSR, 2),
			 PCI_PM_CTRL_NO_SOFT_RESET | D3HOT);
	assert_int_equal(th_rd(d, PMCSR, 2),
			 PCI_PM_CTRL_NO_SOFT_RESET | D3HOT |
				 PCI_PM_CTRL_PME_ENABLE);
	assert_int_equal(n.power, 1);
	assert_int_equal(n.last_power, D3HOT);
	th_wr(d, PMCSR, 1, D0);
	assert_int_equal(th_host(h, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D0);
	assert_int_equal(n.power, 2);
	assert_int_equal(n.last_power, D0);
	/* a write that misses the state byte tells nobody */
	th_wr(d, PMCSR + 1, 1, 0);
	assert_int_equal(n.power, 2);
	th_free(d, h);
}

/* power_mgmt=1: moving the D-state never clears the host's PME status
 * (a read-modify-write of the status byte would). */
static void test_pm_power_mgmt_keeps_host_pme_status(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(PCI_PM_CTRL_PME_STATUS, true, &h);

	th_wr(d, PMCSR, 2, D3HOT);
	assert_int_equal(th_host(h, PMCSR, 2), PCI_PM_CTRL_PME_STATUS | D3HOT);
	th_wr(d, PMCSR, 2, D0 | PCI_PM_CTRL_PME_STATUS);
	assert_int_equal(th_host(h, PMCSR, 2), PCI_PM_CTRL_PME_STATUS | D0);
	th_wr(d, PMCSR, 4, PCI_PM_CTRL_PME_STATUS | 0xffff0000u);
	assert_int_equal(th_host(h, PMCSR, 2), PCI_PM_CTRL_PME_STATUS | D0);
	th_free(d, h);
}

/* PCI PM 1.2 §5.4.2: D1/D2 where PMC does not offer them are discarded;
 * the rest of the write applies. */
static void test_pm_unsupported_d_state_discarded(void **state)
{
	struct host_dev *h;
	struct ptdm_dev *d = pm_dev(0, false, &h); /* PMC: no D1, no D2 */
	struct counters n;

	watch(d, &n);
	th_wr(d, PMCSR, 2, D3HOT);
	assert_int_equal(n.power, 1);
	th_wr(d, PMCSR, 2, D1);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D3HOT);
	th_wr(d, PMCSR, 2, D2 | PCI_PM_CTRL_PME_ENABLE);
	assert_int_equal(th_rd(d, PMCSR, 2) & (PCI_PM_CTRL_STATE_MASK |
					       PCI_PM_CTRL_PME_ENABLE),
			 D3HOT | PCI_PM_CTRL_PME_ENABLE);
	th_wr(d, PMCSR, 1, D1); /* a byte write the same */
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D3HOT);
	assert_int_equal(n.power, 1); /* nothing changed, nobody told */
	th_wr(d, PMCSR, 2, D0);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D0);
	th_free(d, h);

	/* power_mgmt=1: the device never sees the discarded state */
	d = pm_dev(0, true, &h);
	watch(d, &n);
	{
		unsigned writes = th_host_writes(h);

		th_wr(d, PMCSR, 2, D2);
		assert_int_equal(th_host(h, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK,
				 D0);
		assert_int_equal(th_host_writes(h), writes);
		assert_int_equal(n.power, 0);
		th_wr(d, PMCSR, 2, D3HOT);
		assert_int_equal(th_host(h, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK,
				 D3HOT);
	}
	th_free(d, h);

	/* a function that offers D1 and D2 gets them */
	d = pm_dev_pmc(PMC_HOST | PCI_PM_CAP_D1 | PCI_PM_CAP_D2, 0, false, &h);
	th_wr(d, PMCSR, 2, D1);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D1);
	th_wr(d, PMCSR, 2, D2);
	assert_int_equal(th_rd(d, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D2);
	th_free(d, h);
	/* only D1: D2 is still discarded */
	d = pm_dev_pmc(PMC_HOST | PCI_PM_CAP_D1, 0, true, &h);
	th_wr(d, PMCSR, 2, D1);
	assert_int_equal(th_host(h, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D1);
	th_wr(d, PMCSR, 2, D2);
	assert_int_equal(th_host(h, PMCSR, 2) & PCI_PM_CTRL_STATE_MASK, D1);
	th_free(d, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pm_kept_with_its_length),
		cmocka_unit_test(test_pm_state_virtual),
		cmocka_unit_test(test_pm_pme_enable_data_sel_virtual),
		cmocka_unit_test(test_pm_pme_status_rw1c_virtual),
		cmocka_unit_test(test_pm_read_only),
		cmocka_unit_test(test_pm_power_mgmt_reaches_host),
		cmocka_unit_test(test_pm_power_mgmt_keeps_host_pme_status),
		cmocka_unit_test(test_pm_unsupported_d_state_discarded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
