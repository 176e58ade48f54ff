/*
 * serve_xen.c - `ptdm serve DEVICE --xen-domid N [--xen-cf8]
 *               [--dump-guest FILE] [--dump-host FILE]`: one device for
 *               one Xen domain.
 *
 * Runs in dom0 beside the domain's QEMU (a second ioreq server that only
 * claims its device) or alone for a guest with no other emulation
 * (--xen-cf8: ptdm also answers the CONFIG_ADDRESS port).  The guest slot
 * is the spec's @VSLOT (default 3, function 0).  A BDF is opened through
 * sysfs as Xen's own passthrough does: Xen maps its BARs and binds its
 * interrupts.  Prints "ptdm: ready" on stdout once the guest can reach
 * the device; ends on SIGTERM/SIGINT or when the domain goes away.
 * SIGUSR1 raises an image device's interrupt (vector 0 of what the guest
 * enabled): an image has no hardware to do it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/view.h"
#include "ptdm/image.h"
#include "ptdm/log.h"
#include "ptdm/xen.h"

static volatile sig_atomic_t stop, raise_irq;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	raise_irq = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: ptdm serve DEVICE --xen-domid N [--xen-cf8] "
			"[--dump-guest FILE] [--dump-host FILE]\n");
	return EXIT_USAGE;
}

static void host_res(const struct opened_dev *od, struct xen_host_res *r)
{
	unsigned dom, bus, dev, fn;

	memset(r, 0, sizeof(*r));
	if (!strcmp(od->backend, "image"))
		return;
	r->real = true;
	if (sscanf(od->host->bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) == 4)
		r->sbdf = dom << 16 | bus << 8 | dev << 3 | fn;
	r->gsi = (int)od->host->irq;
	memcpy(r->phys, od->host->bar_phys, sizeof(r->phys));
}

int serve_xen(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct xen_server_opts xo = { 0 };
	struct ptdm_err err = { "" };
	struct xen_server *srv = NULL;
	struct ptdm_dev *dev = NULL;
	struct xen_host_res res;
	struct xen_hv *hv = NULL;
	struct opened_dev od;
	const char *dump = NULL, *dump_host = NULL;
	long domid = -1;
	int rc = 1, vslot;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--xen-domid") && i + 1 < argc) {
			char *end;

			domid = strtol(argv[++i], &end, 10);
			if (*end || domid < 1 || domid >= 0x7ff0) {
				fprintf(stderr, "ptdm serve: --xen-domid %s: "
						"want a guest domain id\n",
					argv[i]);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--xen-cf8")) {
			xo.cf8 = true;
		} else if (!strcmp(argv[i], "--dump-guest") && i + 1 < argc) {
			dump = argv[++i];
		} else if (!strcmp(argv[i], "--dump-host") && i + 1 < argc) {
			dump_host = argv[++i];
		} else {
			return usage();
		}
	}
	if (argc < 2 || domid < 0)
		return usage();
	if (open_device_as(argv[1], NULL, OPEN_SYSFS, &od, &err)) {
		fprintf(stderr, "ptdm serve: %s\n", err.msg);
		return 1;
	}
	if (!strcmp(od.backend, "image") && !image_sizes_complete(od.host)) {
		fprintf(stderr, "ptdm serve: %s: BAR sizes unknown; serving an "
				"image needs them (sizes=FILE)\n", argv[1]);
		goto out;
	}
	vslot = od.spec.vslot >= 0 ? od.spec.vslot : 3;
	xo.guest_sbdf = (unsigned)vslot << 3;
	if (ptdm_dev_attach(&dev, od.host, &od.opts, &err) ||
	    xen_hv_open(&hv, (uint32_t)domid, &err)) {
		fprintf(stderr, "ptdm serve: %s\n", err.msg);
		goto out;
	}
	host_res(&od, &res);
	if (xen_server_new(&srv, hv, dev, &res, &xo, &err)) {
		fprintf(stderr, "ptdm serve: %s\n", err.msg);
		goto out;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	fprintf(stderr, "ptdm serve: %s as 00:%02x.0 of domain %ld%s\n",
		od.host->name, vslot, domid,
		xo.cf8 ? " (with the 0xcf8 latch)" : "");
	printf("ptdm: ready\n");
	fflush(stdout);
	rc = 0;
	while (!stop) {
		struct pollfd p[2];
		int fds[2];
		unsigned n = xen_server_fds(srv, fds);

		for (unsigned i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (poll(p, n, 500) < 0 && errno != EINTR) {
			perror("ptdm serve: poll");
			rc = 1;
			break;
		}
		if (raise_irq) {
			raise_irq = 0;
			int r = image_irq_raise(od.host, 0);

			fprintf(stderr, "ptdm serve: SIGUSR1: %s raises its "
					"interrupt: %s\n", od.host->name,
				r ? strerror(-r) : "done");
		}
		if (xen_server_handle(srv) == -ESRCH) {
			ptdm_log(PTDM_LOG_INFO, "xen: domain %ld is gone",
				 domid);
			break;
		}
	}
	{
		struct xen_server_stats st;

		xen_server_get_stats(srv, &st);
		fprintf(stderr, "ptdm serve: %lu ioreqs (%lu config, %lu port, "
				"%lu mmio, %lu buffered) from %u vCPUs, %lu "
				"refused; interrupts: %lu fired, %lu delivered, "
				"%lu held while masked\n",
			st.ioreqs, st.cfg, st.pio, st.mmio, st.buffered,
			st.vcpus, st.bad, st.irq_fired, st.irq_delivered,
			st.irq_pended);
	}
	for (int g = 0; g < 2; g++) { /* what each side holds at the end */
		const char *path = g ? dump_host : dump;
		FILE *f;

		if (!path)
			continue;
		f = fopen(path, "we");
		if (!f || view_dump(f, dev, !g)) {
			fprintf(stderr, "ptdm serve: %s: cannot write\n", path);
			rc = 1;
		}
		if (f)
			fclose(f);
	}
out:
	xen_server_free(srv);
	if (hv)
		hv->ops->close(hv);
	ptdm_dev_free(dev);
	host_close(od.host);
	return rc;
}
