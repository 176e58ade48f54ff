/*
 * serve_xen_none.c - the Xen front end of a ptdm built without Xen (meson
 * -Dxen=disabled, or libxen-dev absent when it was configured): adding a
 * device with --xen-domid fails with one sentence that says so and how to
 * get it, instead of an unknown option.
 */
#include <errno.h>

#include "cli/serve.h"

int serve_xen_front(struct served *d, const struct serve_where *w,
		    struct ptdm_front **out, struct ptdm_err *err)
{
	(void)d;
	(void)w;
	(void)out;
	return ptdm_errf(err, -ENOTSUP, "--xen-domid: this ptdm was built "
			 "without Xen; install libxen-dev (scripts/deps.sh "
			 "build) and configure again (meson setup --reconfigure "
			 "build, or -Dxen=enabled to insist)");
}
