/*
 * cmd_client.c - `ptdm client PATH COMMAND`: talk to a vfio-user server
 * the way a VMM would.
 *
 *   lspci                 enumerate like firmware (size and place BARs,
 *                         enable decode, bus master and MSI-X) and print
 *                         the guest-visible config in lspci -xxxx form
 *   info                  device, region and IRQ info
 *   read REGION OFF SIZE  / write REGION OFF SIZE VALUE   (SIZE 1/2/4/8)
 *   irq INDEX VECTOR      attach an eventfd, have the server fire it
 *   dma IOVA SIZE         map SIZE bytes of a memfd at IOVA, then unmap
 *
 * `ptdm client --as qemu|cloud-hypervisor|libvfio-user|spdk PATH [check]`
 * replays that VMM's own message sequence and checks instead
 * (client_persona.h); `check` makes the client's warnings failures too.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client_persona.h"
#include "ptdm/vfu_client.h"

static const char *const region_names[] = { "BAR0", "BAR1", "BAR2", "BAR3",
					    "BAR4", "BAR5", "ROM",  "config",
					    "VGA" };
static const char *const irq_names[] = { "INTx", "MSI", "MSI-X", "ERR",
					 "REQ" };

static int cfg(struct vfu_client *c, unsigned off, uint32_t *v, bool write)
{
	return vfu_client_region_rw(c, VFIO_PCI_CONFIG_REGION_INDEX, off, v, 4,
				    write);
}

/* Size and place every BAR the way firmware does. */
static int enumerate(struct vfu_client *c)
{
	uint64_t io = 0xc000, mem32 = 0xe0000000, mem64 = 0x8000000000ull;
	uint32_t v, cmd = 0, id;
	int rc;

	for (unsigned i = 0; i <= 6; i++) {
		unsigned reg = i == 6 ? PCI_ROM_ADDRESS
				      : PCI_BASE_ADDRESS_0 + 4 * i;
		uint32_t lo, hi = 0xffffffff, all = 0xffffffff;
		uint64_t mask, size, *pool;
		bool is64;

		if ((rc = cfg(c, reg, &all, true)) || (rc = cfg(c, reg, &lo, false)))
			return rc;
		if (!lo)
			continue;
		is64 = i < 6 && !(lo & 1) && (lo & 6) == PCI_BASE_ADDRESS_MEM_TYPE_64;
		if (is64) {
			all = 0xffffffff;
			if ((rc = cfg(c, reg + 4, &all, true)) ||
			    (rc = cfg(c, reg + 4, &hi, false)))
				return rc;
		}
		if (i < 6 && (lo & 1)) {
			mask = (lo & ~3u) | 0xffffffff00000000ull;
			pool = &io;
			cmd |= PCI_COMMAND_IO;
		} else {
			mask = (lo & (i == 6 ? ~0x7ffu : ~0xfu)) |
			       (uint64_t)hi << 32;
			pool = is64 ? &mem64 : &mem32;
			cmd |= PCI_COMMAND_MEMORY;
		}
		size = ~mask + 1;
		if (i < 6 && (lo & 1))
			size &= 0xffff;
		if (!size)
			continue;
		*pool = (*pool + size - 1) & ~(size - 1);
		v = (uint32_t)*pool | (i == 6 ? PCI_ROM_ADDRESS_ENABLE : 0);
		if ((rc = cfg(c, reg, &v, true)))
			return rc;
		if (is64) {
			v = (uint32_t)(*pool >> 32);
			if ((rc = cfg(c, reg + 4, &v, true)))
				return rc;
			i++;
		}
		*pool += size;
	}
	cmd |= PCI_COMMAND_MASTER;
	if ((rc = cfg(c, PCI_COMMAND, &cmd, true)) || (rc = cfg(c, 0, &id, false)))
		return rc;
	/* MSI-X on, as a driver would */
	if ((rc = cfg(c, PCI_STATUS & ~3u, &v, false)))
		return rc;
	if ((v >> 16) & PCI_STATUS_CAP_LIST) {
		uint32_t p, h;

		if ((rc = cfg(c, PCI_CAPABILITY_LIST, &p, false)))
			return rc;
		/* at most 48 capabilities fit past the header: a server
		 * whose list loops is not walked forever */
		p &= 0xfc;
		for (unsigned n = 0; p >= 0x40 && n < 48;
		     n++, p = (h >> 8) & 0xfc) {
			if ((rc = cfg(c, p, &h, false)))
				return rc;
			if ((h & 0xff) == PCI_CAP_ID_MSIX) {
				h |= (uint32_t)PCI_MSIX_FLAGS_ENABLE << 16;
				return cfg(c, p, &h, true);
			}
		}
	}
	return 0;
}

static int do_lspci(struct vfu_client *c)
{
	struct vfu_region_info ri;
	uint8_t *buf;
	char vn[128], dn[128], cn[128];
	int rc = enumerate(c);

	if (rc)
		return rc;
	rc = vfu_client_region_info(c, VFIO_PCI_CONFIG_REGION_INDEX, &ri, NULL,
				    0, NULL);
	if (rc)
		return rc;
	if (ri.size != 256 && ri.size != 4096)
		return -EPROTO;
	buf = malloc(ri.size);
	if (!buf)
		return -ENOMEM;
	rc = vfu_client_region_rw(c, VFIO_PCI_CONFIG_REGION_INDEX, 0, buf,
				  (uint32_t)ri.size, false);
	if (!rc) {
		cli_vendor_name(vn, sizeof(vn), buf[0] | buf[1] << 8);
		cli_device_name(dn, sizeof(dn), buf[0] | buf[1] << 8,
				buf[2] | buf[3] << 8);
		cli_class_name(cn, sizeof(cn),
			       buf[9] | buf[10] << 8 | buf[11] << 16);
		printf("00:00.0 %s: %s %s\n", cn, vn, dn);
		for (unsigned off = 0; off < ri.size; off += 16) {
			printf("%02x:", off);
			for (unsigned i = 0; i < 16; i++)
				printf(" %02x", buf[off + i]);
			printf("\n");
		}
		printf("\n");
	}
	free(buf);
	return rc;
}

static int do_info(struct vfu_client *c)
{
	struct vfu_device_info q = { .argsz = sizeof(q) }, di;
	int rc = vfu_client_call(c, VFU_DEVICE_GET_INFO, &q, sizeof(q), NULL, 0,
				 &di, sizeof(di), NULL, NULL);

	if (rc)
		return rc;
	printf("server capabilities: %s\n", c->server_caps);
	printf("device: flags %#x, %u regions, %u IRQ types\n", di.flags,
	       di.num_regions, di.num_irqs);
	for (unsigned i = 0; i < di.num_regions && i < 9; i++) {
		struct vfu_region_info ri;
		uint8_t caps[256];
		int fd = -1;

		rc = vfu_client_region_info(c, i, &ri, caps, sizeof(caps), &fd);
		if (rc)
			return rc;
		if (fd >= 0)
			close(fd);
		printf("  region %u %-6s size %#" PRIx64 "%s%s%s%s\n", i,
		       region_names[i], ri.size,
		       ri.flags & VFIO_REGION_INFO_FLAG_READ ? " read" : "",
		       ri.flags & VFIO_REGION_INFO_FLAG_WRITE ? " write" : "",
		       ri.flags & VFIO_REGION_INFO_FLAG_MMAP ? " mmap" : "",
		       ri.flags & VFIO_REGION_INFO_FLAG_CAPS ? " caps" : "");
	}
	for (unsigned i = 0; i < di.num_irqs && i < 5; i++) {
		struct vfu_irq_info ii;

		rc = vfu_client_irq_info(c, i, &ii);
		if (rc)
			return rc;
		printf("  irq %u %-5s count %u flags %#x\n", i, irq_names[i],
		       ii.count, ii.flags);
	}
	return 0;
}

static bool num(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && *s && !*end;
}

static const struct {
	const char *name, *who;
	int (*run)(struct pc *p);
} personas[] = {
	{ "qemu", "QEMU", persona_qemu },
	{ "cloud-hypervisor", "cloud-hypervisor", persona_cloud_hypervisor },
	{ "libvfio-user", "libvfio-user", persona_libvfio_user },
	{ "spdk", "SPDK", persona_spdk },
};

static int run_persona(int argc, char **argv)
{
	static struct pc p; /* 70 KiB: not on the stack */
	bool check = argc == 5 && !strcmp(argv[4], "check");
	int rc;

	if (argc < 4 || argc > 5 || (argc == 5 && !check))
		return cli_usage("client");
	for (unsigned i = 0; i < sizeof(personas) / sizeof(personas[0]); i++) {
		if (strcmp(argv[2], personas[i].name))
			continue;
		rc = pc_open(&p, personas[i].who, argv[3], 0);
		p.check = check;
		if (!rc)
			rc = personas[i].run(&p);
		if (!rc && p.igd_opregion)
			printf("%s: IGD OpRegion region found by type, "
			       "signature read, ASLS placed\n",
			       personas[i].who);
		printf("%s: %s after %u messages, %u warning(s)\n",
		       personas[i].who, rc ? "FAILED" : "ok", p.messages,
		       p.warnings);
		pc_close(&p);
		return rc ? 1 : 0;
	}
	fprintf(stderr, "ptdm client: no personality \"%s\"\n", argv[2]);
	return EXIT_USAGE;
}

int cmd_client(int argc, char **argv)
{
	struct vfu_client c;
	struct ptdm_err err = { "" };
	uint64_t a = 0, b = 0, s = 0, v = 0;
	int rc;

	if (argc >= 2 && !strcmp(argv[1], "--as"))
		return run_persona(argc, argv);
	if (argc < 3) {
		fprintf(stderr, "usage: ptdm client PATH lspci|info|read|write|"
				"irq|dma ...\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[2], "migrate"))
		return cmd_client_migrate(argc, argv); /* client_migrate.c */
	if (vfu_client_connect(&c, argv[1], &err) ||
	    vfu_client_version(&c, NULL, &err)) {
		fprintf(stderr, "ptdm client: %s\n", err.msg);
		return 1;
	}
	if (!strcmp(argv[2], "lspci") && argc == 3) {
		rc = do_lspci(&c);
	} else if (!strcmp(argv[2], "info") && argc == 3) {
		rc = do_info(&c);
	} else if ((!strcmp(argv[2], "read") && argc == 6) ||
		   (!strcmp(argv[2], "write") && argc == 7)) {
		bool w = argv[2][0] == 'w';

		if (!num(argv[3], &a) || !num(argv[4], &b) || !num(argv[5], &s) ||
		    (s != 1 && s != 2 && s != 4 && s != 8) ||
		    (w && !num(argv[6], &v))) {
			fprintf(stderr, "ptdm client: want REGION OFFSET SIZE"
					"%s (SIZE 1, 2, 4 or 8)\n",
				w ? " VALUE" : "");
			vfu_client_close(&c);
			return EXIT_USAGE;
		}
		rc = vfu_client_region_rw(&c, (unsigned)a, b, &v, (uint32_t)s, w);
		if (!rc && !w)
			printf("%#" PRIx64 "\n", v);
	} else if (!strcmp(argv[2], "irq") && argc == 5 && num(argv[3], &a) &&
		   num(argv[4], &b)) {
		int efd = eventfd(0, EFD_CLOEXEC);
		struct pollfd p = { .fd = efd, .events = POLLIN };

		rc = vfu_client_set_irqs(&c, (unsigned)a,
					 VFIO_IRQ_SET_DATA_EVENTFD |
						 VFIO_IRQ_SET_ACTION_TRIGGER,
					 (unsigned)b, 1, &efd);
		if (!rc)
			rc = vfu_client_set_irqs(&c, (unsigned)a,
						 VFIO_IRQ_SET_DATA_NONE |
							 VFIO_IRQ_SET_ACTION_TRIGGER,
						 (unsigned)b, 1, NULL);
		if (!rc)
			rc = poll(&p, 1, 2000) == 1 ? 0 : -ETIMEDOUT;
		if (!rc)
			printf("irq %s vector %" PRIu64 " fired its eventfd\n",
			       a < 5 ? irq_names[a] : "?", b);
		close(efd);
	} else if (!strcmp(argv[2], "dma") && argc == 5 && num(argv[3], &a) &&
		   num(argv[4], &b)) {
		int mfd = memfd_create("ptdm-client-dma", MFD_CLOEXEC);

		rc = mfd < 0 ? -errno : ftruncate(mfd, (off_t)b) ? -errno : 0;
		if (!rc)
			rc = vfu_client_dma_map(&c, a, b, mfd, 0,
						VFU_DMA_READ_OK |
							VFU_DMA_WRITE_OK);
		if (!rc)
			rc = vfu_client_dma_unmap(&c, a, b, 0);
		if (!rc)
			printf("mapped and unmapped %#" PRIx64 " bytes at iova "
			       "%#" PRIx64 "\n", b, a);
		if (mfd >= 0)
			close(mfd);
	} else {
		fprintf(stderr, "ptdm client: unknown or incomplete command "
				"\"%s\"\n", argv[2]);
		vfu_client_close(&c);
		return EXIT_USAGE;
	}
	if (rc)
		fprintf(stderr, "ptdm client: %s: %s\n", argv[2], strerror(-rc));
	vfu_client_close(&c);
	return rc ? 1 : 0;
}
