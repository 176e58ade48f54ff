/*
 * fileio.h - whole-buffer file I/O: read or write exactly len bytes at an
 * offset (pread/pwrite) or at the file position (write), retrying short
 * transfers and EINTR.  A file that ends early is -EIO; anything else is
 * -errno.  Small and dependency-free, so ptdm-xen-dm compiles it too.
 */
#ifndef PTDM_FILEIO_H
#define PTDM_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

int fileio_pread_full(int fd, void *buf, size_t len, off_t off);
int fileio_pwrite_full(int fd, const void *buf, size_t len, off_t off);
int fileio_write_full(int fd, const void *buf, size_t len);

#endif
