/*
 * guestmem.c - checks, a process-wide budget and one table of mappings
 * for guest memory fds (see guestmem.h).  The budget is two counters; the
 * table is an array searched in order (at most GUESTMEM_MAX_MAPS_PER_
 * PROCESS entries, and one search per DMA_MAP or SYNC_SYSMEM region)
 * under a mutex: ptdm serves from one thread, but a threaded caller stays
 * correct.  A range already mapped is mapped once more for the caller's
 * fd and prot and that mapping dropped at once: the kernel so checks the
 * fd's access mode, seals and security policy exactly as for a mapping of
 * its own, before the shared address is handed out.  The entry's file
 * cannot go away or be replaced under its (st_dev, st_ino) while the
 * mapping holds it open.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "util/guestmem.h"

struct guestmem {
	dev_t dev;
	ino_t ino;
	uint64_t offset, size;
	int prot;
	void *addr;
	unsigned users;
};

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static struct guestmem *table;
static size_t ntable, table_cap;

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

/* Take size bytes (one map) from the process budget: 0 or -ENOSPC. */
static int guestmem_take(uint64_t size)
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

static void guestmem_give(uint64_t size)
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

static struct guestmem *find_key(const struct stat *st, uint64_t offset,
				 uint64_t size, int prot)
{
	for (size_t i = 0; i < ntable; i++) {
		struct guestmem *g = &table[i];

		if (g->dev == st->st_dev && g->ino == st->st_ino &&
		    g->offset == offset && g->size == size && g->prot == prot)
			return g;
	}
	return NULL;
}

static struct guestmem *find_addr(const void *addr)
{
	for (size_t i = 0; i < ntable; i++)
		if (table[i].addr == addr)
			return &table[i];
	return NULL;
}

int guestmem_map(int fd, uint64_t offset, uint64_t size, int prot,
		 void **addr)
{
	struct guestmem *g;
	struct stat st;
	void *p;
	int rc = 0;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || !size || size > SIZE_MAX ||
	    offset + size < offset || offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	pthread_mutex_lock(&table_mu);
	g = find_key(&st, offset, size, prot);
	if (!g && ntable == table_cap) {
		size_t cap = table_cap ? table_cap * 2 : 16;
		struct guestmem *t = realloc(table, cap * sizeof(*t));

		if (!t) {
			rc = -ENOMEM;
			goto out;
		}
		table = t;
		table_cap = cap;
	}
	if (!g) {
		rc = guestmem_take(size);
		if (rc)
			goto out;
	}
	/* for a shared range: the rights check, dropped below */
	p = mmap(NULL, size, prot, MAP_SHARED, fd, (off_t)offset);
	if (p == MAP_FAILED) {
		rc = -errno;
		if (!g)
			guestmem_give(size);
		goto out;
	}
	if (g) {
		munmap(p, size);
		g->users++;
		*addr = g->addr;
		goto out;
	}
	table[ntable++] = (struct guestmem){ .dev = st.st_dev,
					     .ino = st.st_ino,
					     .offset = offset,
					     .size = size,
					     .prot = prot,
					     .addr = p,
					     .users = 1 };
	*addr = p;
out:
	pthread_mutex_unlock(&table_mu);
	return rc;
}

int guestmem_unmap(void *addr)
{
	struct guestmem *g;
	int rc = 0;

	pthread_mutex_lock(&table_mu);
	g = addr ? find_addr(addr) : NULL;
	if (!g) {
		rc = -ENOENT;
	} else if (!--g->users) {
		munmap(g->addr, g->size);
		guestmem_give(g->size);
		*g = table[--ntable];
		if (!ntable) {
			free(table);
			table = NULL;
			table_cap = 0;
		}
	}
	pthread_mutex_unlock(&table_mu);
	return rc;
}

unsigned guestmem_users(const void *addr)
{
	const struct guestmem *g;
	unsigned n;

	pthread_mutex_lock(&table_mu);
	g = find_addr(addr);
	n = g ? g->users : 0;
	pthread_mutex_unlock(&table_mu);
	return n;
}
