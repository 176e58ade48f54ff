/*
 * cmd_bench.c - `ptdm bench cfg [--seconds S]`: how fast the config
 * engine answers.  Measures, in one run, 4-byte config reads through
 * ptdm_cfg_read on an image device (a realistic NVMe-like layout built
 * here, so the numbers do not depend on files) and the floor: the same
 * reads straight from the backend.  Prints rates and the ratio ptdm ÷
 * floor (time per read); never a pass/fail.
 */
#include <getopt.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ptdm/image.h"

static void put(uint8_t *c, unsigned off, unsigned n, uint32_t v)
{
	for (unsigned i = 0; i < n; i++)
		c[off + i] = (uint8_t)(v >> (8 * i));
}

/* Header, BAR0 64-bit 32K, PM, MSI, PCIe v2, MSI-X, AER. */
static void nvme_like(uint8_t *c)
{
	memset(c, 0, PTDM_CFG_SPACE_SIZE);
	put(c, PCI_VENDOR_ID, 4, 0xa808144d);
	put(c, PCI_COMMAND, 4, 0x00100406);
	put(c, PCI_CLASS_REVISION, 4, 0x01080200);
	put(c, PCI_BASE_ADDRESS_0, 4, 0xfe600004);
	put(c, PCI_CAPABILITY_LIST, 1, 0x40);
	put(c, 0x40, 4, 0x00035001);          /* PM -> 0x50 */
	put(c, 0x50, 4, 0x01807005);          /* MSI 64-bit maskable -> 0x70 */
	put(c, 0x70, 4, 0x0002b010);          /* PCIe v2 endpoint -> 0xb0 */
	put(c, 0x74, 4, 0x10008fe2);          /* DEVCAP with FLR */
	put(c, 0xb0, 4, 0x00200011);          /* MSI-X, 33 vectors */
	put(c, 0xb4, 4, 0x00003000);          /* table BAR0 + 0x3000 */
	put(c, 0xb8, 4, 0x00002000);          /* PBA BAR0 + 0x2000 */
	put(c, 0x100, 4, 0x00020001);         /* AER v2, end */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const unsigned offsets[] = {
	PCI_BASE_ADDRESS_0, /* fully virtual */
	PCI_COMMAND,        /* command/status: pass-through bits */
	0xb0,               /* MSI-X control */
	0x74,               /* PCIe DEVCAP */
	0x108,              /* AER mask */
	0x80,               /* a raw gap */
};
#define NOFF (sizeof(offsets) / sizeof(offsets[0]))

/* Reads per second for at least secs; engine or floor. */
static double rate(struct ptdm_dev *d, struct host_dev *h, bool engine,
		   double secs, uint32_t *sink)
{
	const unsigned batch = 1u << 20;
	double t0 = now(), t;
	unsigned long long n = 0;
	uint32_t v = 0, acc = 0;

	do {
		for (unsigned i = 0; i < batch; i++) {
			unsigned off = offsets[i % NOFF];

			if (engine)
				ptdm_cfg_read(d, off, 4, &v);
			else
				h->ops->cfg_read(h, off, &v, 4);
			acc += v;
		}
		n += batch;
		t = now() - t0;
	} while (t < secs);
	*sink += acc;
	return (double)n / t;
}

int cmd_bench(int argc, char **argv)
{
	double secs = 1.0, eng, floor_rate;
	uint8_t *cfg = malloc(PTDM_CFG_SPACE_SIZE);
	struct host_dev *h = NULL;
	struct ptdm_dev *d = NULL;
	struct ptdm_dev_opts o;
	struct ptdm_err err = { "" };
	uint32_t sink = 0;
	int rc = 1;

	if (argc >= 4 && !strcmp(argv[2], "--seconds"))
		secs = atof(argv[3]);
	if (argc < 2 || strcmp(argv[1], "cfg") || (argc != 2 && argc != 4) ||
	    secs <= 0 || secs > 60) {
		fprintf(stderr, "usage: ptdm bench cfg [--seconds S]\n");
		free(cfg);
		return EXIT_USAGE;
	}
	if (!cfg)
		return 1;
	nvme_like(cfg);
	ptdm_dev_opts_init(&o);
	if (image_new(&h, "bench", cfg, PTDM_CFG_SPACE_SIZE, &err) ||
	    image_set_bar_size(h, 0, 0x8000, &err) ||
	    ptdm_dev_attach(&d, h, &o, &err)) {
		fprintf(stderr, "ptdm bench: %s\n", err.msg);
		goto out;
	}
	eng = rate(d, h, true, secs, &sink);
	floor_rate = rate(d, h, false, secs, &sink);
	printf("ptdm bench cfg: 4-byte config reads, image backend, %.1f s "
	       "each\n", secs);
	printf("  through ptdm_cfg_read : %8.2f M reads/s  %7.1f ns/read\n",
	       eng / 1e6, 1e9 / eng);
	printf("  backend alone (floor) : %8.2f M reads/s  %7.1f ns/read\n",
	       floor_rate / 1e6, 1e9 / floor_rate);
	printf("  ratio ptdm / floor    : %8.2f  (time per read)\n",
	       floor_rate / eng);
	printf("  (checksum %08x)\n", sink);
	rc = 0;
out:
	ptdm_dev_free(d);
	host_close(h);
	free(cfg);
	return rc;
}
