/*
 * guestmem.c - checks and a process-wide budget for guest memory fds
 * (see guestmem.h).  The budget is two counters: ptdm serves from one
 * thread, but the counters are atomic so a threaded caller stays correct.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "util/guestmem.h"

static _Atomic uint64_t used_bytes;
static _Atomic unsigned used_maps;
static _Atomic uint64_t process_max = GUESTMEM_MAX_PER_PROCESS;
static _Atomic unsigned process_max_maps = GUESTMEM_MAX_MAPS_PER_PROCESS;

int guestmem_check(int fd, uint64_t offset, uint64_t size, bool *touchable)
{
	struct stat st;
	struct statfs fs;
	int seals;

	*touchable = false;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0)
		return -EINVAL;
	if (!size || offset + size < offset ||
	    offset + size > (uint64_t)st.st_size)
		return -EINVAL;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & F_SEAL_SHRINK) && !fstatfs(fd, &fs) &&
	    fs.f_type == TMPFS_MAGIC)
		*touchable = true;
	return 0;
}

int guestmem_take(uint64_t size)
{
	uint64_t cur = atomic_load(&used_bytes);
	unsigned maps = atomic_fetch_add(&used_maps, 1);

	if (maps >= atomic_load(&process_max_maps)) {
		atomic_fetch_sub(&used_maps, 1);
		return -ENOSPC;
	}
	do {
		if (size > atomic_load(&process_max) ||
		    cur > atomic_load(&process_max) - size) {
			atomic_fetch_sub(&used_maps, 1);
			return -ENOSPC;
		}
	} while (!atomic_compare_exchange_weak(&used_bytes, &cur, cur + size));
	return 0;
}

void guestmem_give(uint64_t size)
{
	atomic_fetch_sub(&used_bytes, size);
	atomic_fetch_sub(&used_maps, 1);
}

uint64_t guestmem_used(unsigned *maps)
{
	if (maps)
		*maps = atomic_load(&used_maps);
	return atomic_load(&used_bytes);
}

void guestmem_set_process_max(uint64_t bytes, unsigned maps)
{
	atomic_store(&process_max, bytes ? bytes : GUESTMEM_MAX_PER_PROCESS);
	atomic_store(&process_max_maps,
		     maps ? maps : GUESTMEM_MAX_MAPS_PER_PROCESS);
}
