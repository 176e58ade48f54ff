/*
 * bigbuf.h - large transient buffers (a device's saved state, a stream
 * being rebuilt) that are written once, front to back.  Faulting them in
 * a 4 KiB page at a time costs more than the copy into them (16 K faults
 * for 64 MiB; far more under nested virtualization): the 2 MiB-aligned
 * inside of such a buffer is asked for transparent huge pages (madvise
 * mode, the default in Debian), and a range about to be overwritten in a
 * shared mapping (an image BAR) is populated with one call.  Both are
 * hints: a kernel that refuses them only costs time.
 */
#ifndef PTDM_BIGBUF_H
#define PTDM_BIGBUF_H
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define BIGBUF_HUGE (2u << 20)

static inline void bigbuf_advise(void *p, size_t len)
{
	uintptr_t a = ((uintptr_t)p + BIGBUF_HUGE - 1) & ~(uintptr_t)(BIGBUF_HUGE - 1);
	uintptr_t e = ((uintptr_t)p + len) & ~(uintptr_t)(BIGBUF_HUGE - 1);

	if (p && e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Fault in [p, p+len) of a mapping for writing, in one call. */
static inline void bigbuf_populate(void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095;
	uintptr_t e = ((uintptr_t)p + len + 4095) & ~(uintptr_t)4095;

	if (p && len >= (64u << 10))
		(void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}
#endif
