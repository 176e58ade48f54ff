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

/* Take size bytes (one map) from the process budget: 0 or -ENOSPC. */
int guestmem_take(uint64_t size);
/* Give back what guestmem_take took. */
void guestmem_give(uint64_t size);
/* Bytes and maps taken now (tests, counters). */
uint64_t guestmem_used(unsigned *maps);
/* Tests only: a smaller process budget, bytes and maps (0: the default). */
void guestmem_set_process_max(uint64_t bytes, unsigned maps);

#endif
