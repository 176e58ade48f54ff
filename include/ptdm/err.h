/*
 * err.h - one error convention: functions return 0 or a negative errno and,
 * where a person will read the failure, fill a struct ptdm_err with a
 * sentence that names the file and line, the offset or the token at fault.
 */
#ifndef PTDM_ERR_H
#define PTDM_ERR_H

#include <stddef.h>

struct ptdm_err {
	char msg[512];
};

/* Format into e (if not NULL) and return code (a negative errno). */
int ptdm_errf(struct ptdm_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
