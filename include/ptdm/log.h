/*
 * log.h - logging that a guest cannot turn into a flood (XSA-130).
 *
 * ptdm_log() is for the operator.  Anything a guest can trigger goes through
 * PTDM_LOG_ONCE (a per-site or per-device flag) or ptdm_log_ratelimited()
 * (a token bucket per call site): bounded bytes whatever the guest does.
 */
#ifndef PTDM_LOG_H
#define PTDM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ptdm_log_level { PTDM_LOG_ERR, PTDM_LOG_WARN, PTDM_LOG_INFO, PTDM_LOG_DEBUG };

typedef void ptdm_log_sink(enum ptdm_log_level lvl, const char *line, void *opaque);

/* Default sink: stderr, level <= PTDM_LOG_WARN unless raised. */
void ptdm_log_set_sink(ptdm_log_sink *sink, void *opaque);
void ptdm_log_set_level(enum ptdm_log_level max);

void ptdm_log(enum ptdm_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct ptdm_ratelimit {
	uint64_t window_start_ns;
	unsigned printed;
	unsigned suppressed;
};

/* At most 10 lines a second per ratelimit state, then a count of the rest. */
void ptdm_log_ratelimited(struct ptdm_ratelimit *rl, enum ptdm_log_level lvl,
			  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define PTDM_LOG_ONCE(flag, lvl, ...)                  \
	do {                                           \
		if (!(flag)) {                         \
			(flag) = true;                 \
			ptdm_log((lvl), __VA_ARGS__);  \
		}                                      \
	} while (0)

#endif
