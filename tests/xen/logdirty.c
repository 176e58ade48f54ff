/*
 * logdirty.c DOMID - what Xen answers when global log-dirty mode, what
 * libxc's live save and migration turn on first, is asked for a domain
 * (tests/xen: the domain with its passthrough devices assigned).  Prints
 * one line "log-dirty: rc=R errno=E (text)"; turns the mode off again if
 * Xen agreed.  A test probe, not part of ptdm.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>

int main(int argc, char **argv)
{
	xc_interface *xc;
	char *end;
	long domid;
	int rc, e;

	if (argc != 2 || (domid = strtol(argv[1], &end, 10)) < 1 || *end) {
		fprintf(stderr, "usage: logdirty DOMID\n");
		return 2;
	}
	xc = xc_interface_open(NULL, NULL, 0);
	if (!xc) {
		perror("xc_interface_open");
		return 1;
	}
	rc = xc_logdirty_control(xc, (uint32_t)domid,
				 XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL, 0,
				 0, NULL) < 0 ? -1 : 0;
	e = rc ? errno : 0;
	printf("log-dirty: rc=%d errno=%d (%s)\n", rc, e, strerror(e));
	if (!rc)
		xc_logdirty_control(xc, (uint32_t)domid,
				    XEN_DOMCTL_SHADOW_OP_OFF, NULL, 0, 0, NULL);
	xc_interface_close(xc);
	return 0;
}
