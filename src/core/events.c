/*
 * events.c - what register hooks and capability modules call on their
 * device: problem reports, rate-limited guest warnings, and the owner's
 * callbacks (BAR, MSI, MSI-X, power changed; reset requests).
 *
 * It links against nothing else of the core, so the modules depend on the
 * dispatcher (cfg.c) and on this file only, never on attach (dev.c): the
 * default reset is reached through d->reset_self, which attach sets.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/dev_priv.h"

void dev_problem(struct ptdm_dev *d, const char *fmt, ...)
{
	char line[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (d->nproblems < DEV_MAX_PROBLEMS)
		snprintf(d->problems[d->nproblems++], sizeof(d->problems[0]),
			 "%s", line);
	ptdm_log(PTDM_LOG_INFO, "%s: %s", d->host->name, line);
}

void dev_guest_warn(struct ptdm_dev *d, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ptdm_log_ratelimited(&d->guest_rl, PTDM_LOG_WARN, "%s: %s",
			     d->host->name, line);
}

void dev_count_drop(struct ptdm_dev *d, enum ptdm_drop_reason r)
{
	d->st.dropped++;
	if ((unsigned)r < PTDM_DROP_NR)
		d->st.dropped_by[r]++;
}

void dev_reset_failed(struct ptdm_dev *d, const char *what, int rc)
{
	d->st.reset_errors++;
	ptdm_log_ratelimited(&d->host_rl, PTDM_LOG_WARN, "%s: %s failed: %s",
			     d->host->name, what, strerror(-rc));
}

/* The FLR a guest asks for: the owner's, or the core's own reset (which
 * counts its own failure). */
int dev_request_reset(struct ptdm_dev *d, enum ptdm_reset_kind kind)
{
	uint64_t failed = d->st.reset_errors;
	int rc;

	if (!d->ev.reset_request)
		return d->reset_self ? d->reset_self(d) : -ENOTSUP;
	rc = d->ev.reset_request(d->ev.opaque, kind);
	/* an owner that resets through ptdm_dev_reset() is counted there */
	if (rc && d->st.reset_errors == failed)
		dev_reset_failed(d, kind == PTDM_RESET_FLR ? "function level "
				 "reset" : "device reset", rc);
	return rc;
}

void dev_notify_bar(struct ptdm_dev *d, int bar)
{
	if (d->ev.bar_changed)
		d->ev.bar_changed(d->ev.opaque, bar);
}

void dev_notify_msi(struct ptdm_dev *d)
{
	if (d->ev.msi_changed)
		d->ev.msi_changed(d->ev.opaque);
}

void dev_notify_msix(struct ptdm_dev *d, int vector)
{
	if (d->ev.msix_changed)
		d->ev.msix_changed(d->ev.opaque, vector);
}

void dev_notify_power(struct ptdm_dev *d, int d_state)
{
	if (d->ev.power_changed)
		d->ev.power_changed(d->ev.opaque, d_state);
}
