/*
 * guestmem.h - guest memory a peer (a VMM) hands ptdm as fds to map:
 * vfio-user DMA_MAP, mpqemu SYNC_SYSMEM.
 *
 * Two things a hostile peer could otherwise do with such an fd: name a
 * range the file does not have (mmap succeeds, the first touch is
 * SIGBUS), or shrink the file later (the same SIGBUS on memory ptdm
 * mapped long ago); and map terabytes again and again until ptdm's
 * address space is gone and every other device's client fails with it.
 * guestmem_check() answers the first, the budget the second.
 *
 * Guest memory is mapped once per process, whoever asks: guestmem_map()
 * keys each mapping by the file behind the fd (st_dev, st_ino), the
 * offset, size and protection, and hands an equal range the address it
 * already has, counting its users; guestmem_unmap() munmaps when the
 * last one goes.  Two connections of one VMM (the functions of one slot,
 * each its own vfio-user socket or mpqemu proxy) that map the same
 * memfd range so get one address, and a host that shares IOMMU mappings
 * between devices of one DMA space (vfio_dma.c: equal IOVA, size,
 * address and flags) shares theirs; memory of another file (another VMM)
 * has another address, and the host refuses it at an IOVA taken.  A
 * range of the same file at another offset or size is a mapping of its
 * own, also when it overlaps one there is: the host decides about its
 * IOVA as about any other range.
 */
#ifndef PTDM_UTIL_GUESTMEM_H
#define PTDM_UTIL_GUESTMEM_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Per connection: the guest RAM of a 1 TiB VM, more than any VM ptdm's
 * users run on one device.  A connection's maps together stay below it.
 */
#define GUESTMEM_MAX_PER_CONN (1ull << 40)
/*
 * Per process, all connections together: 16 TiB, an eighth of x86-64's
 * 128 TiB user address space, so ptdm's heap, stacks and BAR mappings
 * always find room whatever its clients map (16 clients at their limit).
 */
#define GUESTMEM_MAX_PER_PROCESS (16ull << 40)
/* and at most this many maps in all: half of Linux's default
 * vm.max_map_count (65530), so ptdm's own mmaps never hit that limit */
#define GUESTMEM_MAX_MAPS_PER_PROCESS 32768u

/*
 * May fd be mapped for [offset, offset + size)?  It must be a regular
 * file (memfd, tmpfs, hugetlbfs) that covers the range: -EINVAL
 * otherwise (a device, socket, pipe or anonymous-inode fd has no size to
 * check against).  *touchable says whether ptdm itself may read and
 * write the mapping: only when the file can never shrink (a memfd sealed
 * with F_SEAL_SHRINK, QEMU's memory-backend-memfd default) and lives on
 * shmem, where a touch cannot fail for want of pages (hugetlbfs can).
 */
int guestmem_check(int fd, uint64_t offset, uint64_t size, bool *touchable);

/*
 * Map [offset, offset + size) of fd MAP_SHARED with prot (PROT_*), or
 * take the mapping of an equal range there is: 0 and *addr, or -errno
 * (-EINVAL: not a regular file; -ENOSPC: over the process's budget; the
 * mmap's own error).  The fd's own rights are checked on every call, a
 * shared mapping too (a read-only fd never gets a writable address
 * another fd made).  Only a new mapping takes from the budget.
 */
int guestmem_map(int fd, uint64_t offset, uint64_t size, int prot,
		 void **addr);
/* Drop one use of the mapping at addr (from guestmem_map); the last
 * munmaps it and gives its bytes back.  -ENOENT: not such an address. */
int guestmem_unmap(void *addr);
/* Users of the mapping at addr, 0 when there is none (tests). */
unsigned guestmem_users(const void *addr);
/* Bytes and maps (distinct mappings) in use now (tests, counters). */
uint64_t guestmem_used(unsigned *maps);
/* Tests only: a smaller process budget, bytes and maps (0: the default). */
void guestmem_set_process_max(uint64_t bytes, unsigned maps);

#endif
