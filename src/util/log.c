/*
 * log.c - the log sink and its two guards (once, rate-limited).  One line
 * per call, formatted into a fixed buffer: no allocation on any path a
 * guest can reach.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "ptdm/err.h"
#include "ptdm/log.h"

static void stderr_sink(enum ptdm_log_level lvl, const char *line, void *opaque)
{
	static const char *const tag[] = { "error", "warning", "info", "debug" };

	(void)opaque;
	fprintf(stderr, "ptdm: %s: %s\n", tag[lvl], line);
}

static ptdm_log_sink *log_sink = stderr_sink;
static void *log_opaque;
static enum ptdm_log_level log_max = PTDM_LOG_WARN;

void ptdm_log_set_sink(ptdm_log_sink *sink, void *opaque)
{
	log_sink = sink ? sink : stderr_sink;
	log_opaque = opaque;
}

void ptdm_log_set_level(enum ptdm_log_level max)
{
	log_max = max;
}

__attribute__((format(printf, 2, 0)))
static void vlog(enum ptdm_log_level lvl, const char *fmt, va_list ap)
{
	char line[512];

	if (lvl > log_max)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	log_sink(lvl, line, log_opaque);
}

void ptdm_log(enum ptdm_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ptdm_log_ratelimited(struct ptdm_ratelimit *rl, enum ptdm_log_level lvl,
			  const char *fmt, ...)
{
	enum { BURST = 10 };
	const uint64_t window = 1000000000u;
	uint64_t now = now_ns();
	va_list ap;

	if (now - rl->window_start_ns >= window) {
		if (rl->suppressed)
			ptdm_log(lvl, "%u similar messages suppressed",
				 rl->suppressed);
		rl->window_start_ns = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed >= BURST) {
		rl->suppressed++;
		return;
	}
	rl->printed++;
	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

int ptdm_errf(struct ptdm_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}
