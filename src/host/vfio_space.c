/*
 * vfio_space.c - DMA address spaces and IOMMU groups, process-wide, named
 * and reference counted under vfio_mu.  A space is one type1 container
 * (groups join it) or one iommufd with one IOAS (cdev devices attach to
 * it); it knows the IOMMU's page sizes and IOVA ranges and holds the
 * mappings of every device in it.  A group is opened once and put in its
 * space's container; a second device of the group reuses it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "host/vfio_priv.h"

static struct space *spaces;
static struct group *groups;

static int space_type1_info(struct space *s)
{
	struct vfio_iommu_type1_info init = { .argsz = sizeof(init) }, info;
	struct ptdm_vfio_iova_range *ranges = NULL;
	struct vfio_info_cap_header hdr;
	unsigned guard = 0;
	size_t nranges = 0, at;
	uint32_t off;
	void *buf;
	int len;

	len = vfio_ioctl_sized(s->fd, VFIO_IOMMU_GET_INFO, &buf, sizeof(init),
			       &init);
	if (len < 0)
		return len;
	memcpy(&info, buf, sizeof(info));
	off = (info.flags & VFIO_IOMMU_INFO_CAPS) ? info.cap_offset : 0;
	while (vfio_cap_next(buf, (size_t)len, sizeof(info), &off, &guard, &hdr,
			     &at)) {
		struct vfio_iommu_type1_info_cap_iova_range cr;
		size_t room;

		if (hdr.id != VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE ||
		    (size_t)len - at < sizeof(cr))
			continue;
		memcpy(&cr, (char *)buf + at, sizeof(cr));
		room = ((size_t)len - at - sizeof(cr)) /
		       sizeof(struct vfio_iova_range);
		nranges = cr.nr_iovas < room ? cr.nr_iovas : room;
		free(ranges);
		ranges = nranges ? calloc(nranges, sizeof(*ranges)) : NULL;
		if (nranges && !ranges) {
			free(buf);
			return -ENOMEM;
		}
		for (size_t i = 0; i < nranges; i++) {
			struct vfio_iova_range r;

			memcpy(&r, (char *)buf + at + sizeof(cr) +
				       i * sizeof(r), sizeof(r));
			ranges[i].start = r.start;
			ranges[i].last = r.end;
		}
	}
	free(buf);
	s->pgsizes = (info.flags & VFIO_IOMMU_INFO_PGSIZES) && info.iova_pgsizes
			     ? info.iova_pgsizes
			     : page_size();
	free(s->ranges);
	s->ranges = ranges;
	s->nranges = nranges;
	return 0;
}

int vfio_space_iommufd_info(struct space *s)
{
	struct ptdm_iommu_ioas_iova_ranges q = { .size = sizeof(q),
						 .ioas_id = s->ioas };
	struct ptdm_iommu_iova_range *kr = NULL;
	struct ptdm_vfio_iova_range *ranges = NULL;
	uint32_t n = 0;

	for (int tries = 0; tries < 4; tries++) {
		q.num_iovas = n;
		q.allowed_iovas = (uint64_t)(uintptr_t)kr;
		if (!ioctl(s->fd, PTDM_IOMMU_IOAS_IOVA_RANGES, &q))
			break;
		if (errno != EMSGSIZE || q.num_iovas > 4096) {
			int rc = -errno;

			free(kr);
			return errno == EMSGSIZE ? -E2BIG : rc;
		}
		n = q.num_iovas;
		free(kr);
		kr = calloc(n, sizeof(*kr));
		if (!kr)
			return -ENOMEM;
	}
	if (q.num_iovas > n) {
		free(kr);
		return -EAGAIN;
	}
	if (q.num_iovas) {
		ranges = calloc(q.num_iovas, sizeof(*ranges));
		if (!ranges) {
			free(kr);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < q.num_iovas; i++) {
			ranges[i].start = kr[i].start;
			ranges[i].last = kr[i].last;
		}
	}
	free(kr);
	s->pgsizes = q.out_iova_alignment ? q.out_iova_alignment : page_size();
	free(s->ranges);
	s->ranges = ranges;
	s->nranges = q.num_iovas;
	return 0;
}

static struct space *space_find(const char *name)
{
	for (struct space *s = spaces; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

int vfio_kernel_unmap(struct space *s, uint64_t iova, uint64_t size)
{
	struct ptdm_iommu_ioas_unmap iu = { .size = sizeof(iu),
					    .ioas_id = s->ioas,
					    .iova = iova,
					    .length = size };
	struct vfio_iommu_type1_dma_unmap tu = { .argsz = sizeof(tu),
						 .iova = iova,
						 .size = size };

	if (s->iommufd)
		return ioctl(s->fd, PTDM_IOMMU_IOAS_UNMAP, &iu) ? -errno : 0;
	return ioctl(s->fd, VFIO_IOMMU_UNMAP_DMA, &tu) ? -errno : 0;
}

static void space_free(struct space *s)
{
	for (size_t i = 0; i < s->nmaps; i++)
		free(s->maps[i].owners);
	free(s->maps);
	free(s->ranges);
	free(s);
}

/*
 * Last user gone: unlink, drop the IOAS (and with it any mapping), close.
 * Every device released its mappings at close, so none is left here.
 */
void vfio_space_put(struct space *s)
{
	struct space **pp;

	if (--s->users)
		return;
	for (pp = &spaces; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->iommufd) {
		struct ptdm_iommu_destroy d = { .size = sizeof(d),
						.id = s->ioas };

		if (ioctl(s->fd, PTDM_IOMMU_DESTROY, &d))
			ptdm_log(PTDM_LOG_WARN, "vfio: space %s: destroying "
				 "IOAS %u: %s", s->name, s->ioas,
				 strerror(errno));
	}
	close(s->fd);
	space_free(s);
}

static struct space *space_new(const char *name, bool iommufd, int fd)
{
	struct space *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->iommufd = iommufd;
	s->fd = fd;
	return s;
}

/* A fresh type1 container: not linked until a group is in it. */
static int container_open(const char *bdf, const char *name,
			  struct space **out, struct ptdm_err *err)
{
	const char *path = "/dev/vfio/vfio";
	struct space *s;
	int fd, v;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return vfio_open_error(bdf, path, errno, err);
	v = ioctl(fd, VFIO_GET_API_VERSION);
	if (v != VFIO_API_VERSION) {
		close(fd);
		return ptdm_errf(err, -EPROTO,
				 "%s: %s speaks VFIO API version %d, ptdm "
				 "speaks %d", bdf, path, v, VFIO_API_VERSION);
	}
	if (ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		close(fd);
		return ptdm_errf(err, -EOPNOTSUPP,
				 "%s: the kernel offers no type1v2 IOMMU for "
				 "VFIO: load the vfio_iommu_type1 module "
				 "(modprobe vfio_iommu_type1)", bdf);
	}
	s = space_new(name, false, fd);
	if (!s) {
		close(fd);
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", bdf);
	}
	*out = s;
	return 0;
}

int vfio_iommufd_space_get(const char *bdf, const char *name,
			   struct space **out, struct ptdm_err *err)
{
	struct ptdm_iommu_ioas_alloc a = { .size = sizeof(a) };
	struct space *s = space_find(name);
	int fd;

	if (s) {
		if (!s->iommufd)
			return ptdm_errf(err, -EINVAL,
					 "%s: DMA space \"%s\" is a type1 "
					 "container; a cdev device needs an "
					 "iommufd space: open it in another "
					 "space", bdf, name);
		s->users++;
		*out = s;
		return 0;
	}
	fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return vfio_open_error(bdf, "/dev/iommu", errno, err);
	if (ioctl(fd, PTDM_IOMMU_IOAS_ALLOC, &a)) {
		int e = errno;

		close(fd);
		return ptdm_errf(err, -e, "%s: IOMMU_IOAS_ALLOC: %s", bdf,
				 strerror(e));
	}
	s = space_new(name, true, fd);
	if (!s) {
		struct ptdm_iommu_destroy d = { .size = sizeof(d),
						.id = a.out_ioas_id };

		if (ioctl(fd, PTDM_IOMMU_DESTROY, &d))
			ptdm_log(PTDM_LOG_WARN, "%s: destroying IOAS %u: %s",
				 bdf, a.out_ioas_id, strerror(errno));
		close(fd);
		return ptdm_errf(err, -ENOMEM, "%s: out of memory", bdf);
	}
	s->ioas = a.out_ioas_id;
	s->users = 1;
	s->next = spaces;
	spaces = s;
	*out = s;
	return 0;
}

struct group *vfio_group_find(int id)
{
	for (struct group *g = groups; g; g = g->next)
		if (g->id == id)
			return g;
	return NULL;
}

void vfio_group_put(struct group *g)
{
	struct group **pp;

	if (--g->users)
		return;
	for (pp = &groups; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	if (ioctl(g->fd, VFIO_GROUP_UNSET_CONTAINER))
		ptdm_log(PTDM_LOG_WARN, "vfio: group %d: unset container: %s",
			 g->id, strerror(errno));
	close(g->fd);
	vfio_space_put(g->space);
	free(g);
}

/*
 * The group, opened and put in the space's container if this process has
 * not done so yet.  On success the caller holds one user reference.
 */
int vfio_group_get(const char *bdf, int gid, const char *name,
		   struct group **out, struct ptdm_err *err)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct group *g = vfio_group_find(gid);
	struct space *s, *fresh = NULL;
	char path[64];
	int fd, rc;

	if (g) {
		if (strcmp(g->space->name, name))
			return ptdm_errf(err, -EBUSY,
					 "%s: IOMMU group %d is already in DMA "
					 "space \"%s\"; all devices of one group "
					 "share one space", bdf, gid,
					 g->space->name);
		g->users++;
		*out = g;
		return 0;
	}
	s = space_find(name);
	if (s && s->iommufd)
		return ptdm_errf(err, -EINVAL,
				 "%s: DMA space \"%s\" is an iommufd space; a "
				 "group device needs a type1 container: open it "
				 "in another space", bdf, name);
	snprintf(path, sizeof(path), "/dev/vfio/%d", gid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return vfio_open_error(bdf, path, errno, err);
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st)) {
		rc = ptdm_errf(err, -errno, "%s: VFIO_GROUP_GET_STATUS on %s: "
			       "%s", bdf, path, strerror(errno));
		goto fail_fd;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		rc = vfio_not_viable_error(bdf, gid, err);
		goto fail_fd;
	}
	if (!s) {
		rc = container_open(bdf, name, &fresh, err);
		if (rc)
			goto fail_fd;
		s = fresh;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &s->fd)) {
		rc = ptdm_errf(err, -errno,
			       "%s: cannot put IOMMU group %d in the container "
			       "of DMA space \"%s\": %s%s", bdf, gid, name,
			       strerror(errno),
			       fresh ? "" : " (its IOMMU differs: open the "
					    "device in another space)");
		goto fail_space;
	}
	if (!s->iommu_set) {
		if (ioctl(s->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
			int e = errno;

			if (e == EPERM)
				rc = ptdm_errf(err, -e,
					       "%s: the type1 IOMMU refuses "
					       "group %d (EPERM): the host has "
					       "no interrupt remapping. Enable "
					       "it (intremap/x2APIC in the "
					       "firmware), or accept the risk "
					       "with the vfio_iommu_type1 "
					       "parameter "
					       "allow_unsafe_interrupts=1",
					       bdf, gid);
			else
				rc = ptdm_errf(err, -e,
					       "%s: VFIO_SET_IOMMU(type1v2): %s",
					       bdf, strerror(e));
			goto fail_unset;
		}
		s->iommu_set = true;
	}
	rc = space_type1_info(s);
	if (rc) {
		ptdm_errf(err, rc, "%s: VFIO_IOMMU_GET_INFO: %s", bdf,
			  strerror(-rc));
		goto fail_unset;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		rc = ptdm_errf(err, -ENOMEM, "%s: out of memory", bdf);
		goto fail_unset;
	}
	g->id = gid;
	g->fd = fd;
	g->space = s;
	g->users = 1;
	g->next = groups;
	groups = g;
	if (fresh) {
		fresh->next = spaces;
		spaces = fresh;
	}
	s->users++;
	*out = g;
	return 0;
fail_unset:
	if (ioctl(fd, VFIO_GROUP_UNSET_CONTAINER))
		ptdm_log(PTDM_LOG_WARN, "%s: group %d: unset container: %s",
			 bdf, gid, strerror(errno));
	/* the IOVA ranges of the groups still in an existing container */
	if (!fresh && space_type1_info(s))
		ptdm_log(PTDM_LOG_WARN, "%s: DMA space \"%s\": cannot re-read "
			 "its IOMMU info", bdf, name);
fail_space:
	if (fresh) {
		close(fresh->fd);
		space_free(fresh);
	}
fail_fd:
	close(fd);
	return rc;
}
