/*
 * igd.c - the host bridge and LPC/ISA bridge an IGD's software reads.
 *
 * Only the first 64 bytes of each config file are read (what any user
 * may read), from sysfs_root(); nothing is written.  00:1f.0 counts only
 * when its class is 0x0601 (ISA bridge), as the driver looks for one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ptdm/igd.h"
#include "ptdm/sysfs.h"

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int read_bridge(const char *bdf, struct igd_bridge *b,
		       struct ptdm_err *err)
{
	char p[4096];
	uint8_t c[64];
	ssize_t n;
	int fd;

	memset(b, 0, sizeof(*b));
	snprintf(b->bdf, sizeof(b->bdf), "%s", bdf);
	snprintf(p, sizeof(p), "%s/%s/config", sysfs_root(), bdf);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0
				       : ptdm_errf(err, -errno, "%s: %s", p,
						   strerror(errno));
	n = pread(fd, c, sizeof(c), 0);
	close(fd);
	if (n != (ssize_t)sizeof(c))
		return ptdm_errf(err, n < 0 ? -errno : -EIO, "%s: short read",
				 p);
	b->vendor = le16(c + 0x00);
	b->device = le16(c + 0x02);
	b->revision = c[0x08];
	b->subvendor = le16(c + 0x2c);
	b->subdevice = le16(c + 0x2e);
	b->present = b->vendor != 0xffff && b->vendor;
	return 0;
}

int igd_bridges(struct igd_bridge out[2], struct ptdm_err *err)
{
	uint8_t cls[2];
	char p[4096];
	int rc = read_bridge("0000:00:00.0", &out[0], err), fd;

	if (!rc)
		rc = read_bridge("0000:00:1f.0", &out[1], err);
	if (rc || !out[1].present)
		return rc;
	/* class at 0x0a: sub-class, base: an ISA bridge is 01 06 */
	snprintf(p, sizeof(p), "%s/0000:00:1f.0/config", sysfs_root());
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, cls, 2, 0x0a) != 2 || cls[0] != 0x01 ||
	    cls[1] != 0x06)
		out[1].present = false;
	if (fd >= 0)
		close(fd);
	return 0;
}
