/*
 * sysfs.c - a host device through /sys/bus/pci/devices/BDF, the way Xen's
 * xen-host-pci-device reaches it from dom0.
 *
 * Config through the `config` file (pread/pwrite; its size says 256 or
 * 4096), BAR kinds and sizes from `resource`, BAR access through
 * `resourceN` (opened on first use), reset through `reset`.  In read-only
 * mode every file is opened O_RDONLY and every write op fails with -EROFS
 * before touching anything: `ptdm inspect` of a live device never writes.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ptdm/sysfs.h"
#include "util/fileio.h"
#include "util/pci.h"

/* kernel IORESOURCE_* flags as printed in `resource` */
#define IORES_IO 0x00000100ull
#define IORES_MEM 0x00000200ull
#define IORES_PREFETCH 0x00002000ull
#define IORES_MEM_64 0x00100000ull

static char root_path[4096] = "/sys/bus/pci/devices";

void sysfs_set_root(const char *root)
{
	snprintf(root_path, sizeof(root_path), "%s",
		 root ? root : "/sys/bus/pci/devices");
}

const char *sysfs_root(void)
{
	return root_path;
}

int sysfs_link_base(const char *dir, const char *link, char *out, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;
	int w;

	w = snprintf(path, sizeof(path), "%s/%s", dir, link);
	if (w < 0 || (size_t)w >= sizeof(path))
		return -ENAMETOOLONG;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	w = snprintf(out, len, "%s", base);
	if (w < 0 || (size_t)w >= len)
		return -ENAMETOOLONG;
	return 1;
}

struct sysfs_dev {
	struct host_dev h;
	int cfg_fd;
	unsigned readable; /* config bytes this user may read (non-root: 64) */
	int res_fd[PTDM_NUM_BARS + 1];
	char dir[4096 + 32];
};

static struct sysfs_dev *to_sysfs(struct host_dev *h)
{
	return (struct sysfs_dev *)h;
}

static int sysfs_cfg_read(struct host_dev *h, unsigned off, void *buf,
			  size_t len)
{
	if (off > h->cfg_size || len > h->cfg_size - off)
		return -EINVAL;
	if (off + len > to_sysfs(h)->readable)
		return -EACCES; /* the kernel hides it from this user */
	return fileio_pread_full(to_sysfs(h)->cfg_fd, buf, len, off);
}

static int sysfs_cfg_write(struct host_dev *h, unsigned off, const void *buf,
			   size_t len)
{
	if (h->readonly)
		return -EROFS;
	if (off > h->cfg_size || len > h->cfg_size - off)
		return -EINVAL;
	return fileio_pwrite_full(to_sysfs(h)->cfg_fd, buf, len, off);
}

static int res_fd(struct sysfs_dev *s, int bar)
{
	char path[4200];

	if (s->res_fd[bar] >= 0)
		return s->res_fd[bar];
	if (bar == PTDM_ROM_INDEX)
		snprintf(path, sizeof(path), "%s/rom", s->dir);
	else
		snprintf(path, sizeof(path), "%s/resource%d", s->dir, bar);
	s->res_fd[bar] = open(path, (s->h.readonly ? O_RDONLY : O_RDWR) |
					    O_CLOEXEC);
	return s->res_fd[bar] >= 0 ? s->res_fd[bar] : -errno;
}

static int bar_check(struct host_dev *h, int bar, uint64_t off, size_t len)
{
	const struct host_bar *b;

	if (bar < 0 || bar > PTDM_ROM_INDEX)
		return -EINVAL;
	b = &h->bars[bar];
	if (b->kind == HOST_BAR_NONE || b->kind == HOST_BAR_MEM64_HI)
		return -ENXIO;
	if (off > b->size || len > b->size - off)
		return -ERANGE;
	return 0;
}

static int sysfs_bar_read(struct host_dev *h, int bar, uint64_t off, void *buf,
			  size_t len)
{
	int rc = bar_check(h, bar, off, len), fd;

	if (rc)
		return rc;
	fd = res_fd(to_sysfs(h), bar);
	return fd < 0 ? fd : fileio_pread_full(fd, buf, len, (off_t)off);
}

static int sysfs_bar_write(struct host_dev *h, int bar, uint64_t off,
			   const void *buf, size_t len)
{
	int rc = bar_check(h, bar, off, len), fd;

	if (rc)
		return rc;
	if (h->readonly || bar == PTDM_ROM_INDEX)
		return -EROFS;
	fd = res_fd(to_sysfs(h), bar);
	return fd < 0 ? fd : fileio_pwrite_full(fd, buf, len, (off_t)off);
}

static int sysfs_reset(struct host_dev *h)
{
	struct sysfs_dev *s = to_sysfs(h);
	char path[4200];
	int fd, rc;

	if (h->readonly)
		return -EROFS;
	snprintf(path, sizeof(path), "%s/reset", s->dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOTTY : -errno;
	rc = fileio_pwrite_full(fd, "1", 1, 0);
	close(fd);
	return rc;
}

static void sysfs_close(struct host_dev *h)
{
	struct sysfs_dev *s = to_sysfs(h);

	if (s->cfg_fd >= 0)
		close(s->cfg_fd);
	for (int i = 0; i <= PTDM_ROM_INDEX; i++)
		if (s->res_fd[i] >= 0)
			close(s->res_fd[i]);
	free(s);
}

static const struct host_ops sysfs_ops = {
	.name = "sysfs",
	.cfg_read = sysfs_cfg_read,
	.cfg_write = sysfs_cfg_write,
	.bar_read = sysfs_bar_read,
	.bar_write = sysfs_bar_write,
	.reset = sysfs_reset,
	.close = sysfs_close,
};

/* Kinds and sizes from `resource`: 7+ lines "0xSTART 0xEND 0xFLAGS". */
static int read_resources(struct sysfs_dev *s, struct ptdm_err *err)
{
	char path[4200], line[256];
	FILE *f;
	int i = 0;

	snprintf(path, sizeof(path), "%s/resource", s->dir);
	f = fopen(path, "re");
	if (!f)
		return ptdm_errf(err, -errno, "%s: %s", path, strerror(errno));
	while (i <= PTDM_ROM_INDEX && fgets(line, sizeof(line), f)) {
		unsigned long long start, end, flags;
		struct host_bar *b = &s->h.bars[i];

		if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3) {
			fclose(f);
			return ptdm_errf(err, -EINVAL, "%s:%d: malformed", path,
					 i + 1);
		}
		b->size_known = true;
		if (b->kind == HOST_BAR_MEM64_HI || (!start && !end) ||
		    end < start) {
			i++;
			continue;
		}
		b->size = end - start + 1;
		s->h.bar_phys[i] = start;
		if (i == PTDM_ROM_INDEX)
			b->kind = HOST_BAR_ROM;
		else if (flags & IORES_IO)
			b->kind = HOST_BAR_IO;
		else if (flags & IORES_MEM_64) {
			b->kind = HOST_BAR_MEM64;
			if (i + 1 < PTDM_NUM_BARS)
				s->h.bars[i + 1] = (struct host_bar){
					.kind = HOST_BAR_MEM64_HI,
					.size_known = true
				};
		} else if (flags & IORES_MEM)
			b->kind = HOST_BAR_MEM32;
		else
			b->size = 0;
		b->prefetch = flags & IORES_PREFETCH;
		if (b->size & (b->size - 1)) {
			fclose(f);
			return ptdm_errf(err, -EINVAL, "%s:%d: size %#llx is "
					 "not a power of two", path, i + 1,
					 (unsigned long long)b->size);
		}
		i++;
	}
	fclose(f);
	for (; i <= PTDM_ROM_INDEX; i++)
		s->h.bars[i].size_known = true;
	snprintf(path, sizeof(path), "%s/irq", s->dir);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%u", &s->h.irq) != 1)
			s->h.irq = 0;
		fclose(f);
	}
	return 0;
}

/*
 * How much of config this user may read.  The file's size is the
 * device's, but for a user without CAP_SYS_ADMIN the kernel ends reads at
 * 64 bytes (128 for a CardBus bridge), as lspci shows: probe one byte past
 * each limit.  A shorter file (a fake tree) is read as far as it goes.
 */
static int probe_readable(struct sysfs_dev *s, unsigned file_size,
			  const char *path, struct ptdm_err *err)
{
	static const unsigned limits[] = { 64, 128 };
	unsigned char byte;

	if (file_size < s->readable)
		s->readable = file_size;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		ssize_t n;

		if (limits[i] >= s->readable)
			break;
		do
			n = pread(s->cfg_fd, &byte, 1, limits[i]);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return ptdm_errf(err, -errno, "%s: %s", path,
					 strerror(errno));
		if (n == 0) {
			s->readable = limits[i];
			break;
		}
	}
	return 0;
}

unsigned sysfs_readable(const struct host_dev *h)
{
	if (h->ops != &sysfs_ops)
		return h->cfg_size;
	return ((const struct sysfs_dev *)h)->readable;
}

int sysfs_open(struct host_dev **out, const char *bdf, bool readonly,
	       struct ptdm_err *err)
{
	struct sysfs_dev *s;
	char canon[16], path[4200];
	struct stat st;
	int rc;

	if (!bdf_canon(bdf, canon))
		return ptdm_errf(err, -EINVAL, "\"%s\" is not a PCI address "
				 "(want DDDD:BB:DD.F)", bdf);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ptdm_errf(err, -ENOMEM, "out of memory");
	s->cfg_fd = -1;
	for (int i = 0; i <= PTDM_ROM_INDEX; i++)
		s->res_fd[i] = -1;
	s->h.ops = &sysfs_ops;
	s->h.readonly = readonly;
	snprintf(s->h.name, sizeof(s->h.name), "%s", canon);
	snprintf(s->h.bdf, sizeof(s->h.bdf), "%s", canon);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", root_path, canon);
	if (stat(s->dir, &st)) {
		rc = ptdm_errf(err, -ENODEV, "no PCI device %s (%s not found)",
			       canon, s->dir);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/config", s->dir);
	s->cfg_fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (s->cfg_fd < 0) {
		rc = ptdm_errf(err, -errno, "%s: %s%s", path, strerror(errno),
			       errno == EACCES ? " (run as root)" : "");
		goto fail;
	}
	if (fstat(s->cfg_fd, &st)) {
		rc = ptdm_errf(err, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	/* the config file's size: 4096 for PCIe, 256 otherwise */
	s->h.cfg_size = st.st_size >= PTDM_CFG_SPACE_SIZE ? PTDM_CFG_SPACE_SIZE
							  : PTDM_CFG_LEGACY_SIZE;
	if (st.st_size < 64) {
		rc = ptdm_errf(err, -EIO, "%s: only %lld bytes", path,
			       (long long)st.st_size);
		goto fail;
	}
	s->readable = s->h.cfg_size;
	if (st.st_size < PTDM_CFG_LEGACY_SIZE && !readonly) {
		rc = ptdm_errf(err, -EACCES, "%s: only %lld bytes readable "
			       "(run as root to read the whole config)", path,
			       (long long)st.st_size);
		goto fail;
	}
	if (readonly) {
		rc = probe_readable(s, (unsigned)st.st_size, path, err);
		if (rc)
			goto fail;
	}
	rc = read_resources(s, err);
	if (rc)
		goto fail;
	*out = &s->h;
	return 0;
fail:
	sysfs_close(&s->h);
	return rc;
}

static int cmp_bdf(const void *a, const void *b)
{
	return strcmp(a, b);
}

int sysfs_list(char (**out)[16], struct ptdm_err *err)
{
	DIR *d = opendir(root_path);
	struct dirent *e;
	char (*v)[16] = NULL;
	int n = 0, cap = 0;

	if (!d)
		return ptdm_errf(err, -errno, "%s: %s", root_path,
				 strerror(errno));
	while ((e = readdir(d))) {
		char canon[16];

		if (!bdf_canon(e->d_name, canon) ||
		    strcmp(canon, e->d_name))
			continue;
		if (n == cap) {
			char (*nv)[16];

			cap = cap ? cap * 2 : 32;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return ptdm_errf(err, -ENOMEM, "out of memory");
			}
			v = nv;
		}
		memcpy(v[n++], canon, 16);
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof(*v), cmp_bdf);
	*out = v;
	return n;
}
