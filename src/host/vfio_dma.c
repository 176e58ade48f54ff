/*
 * vfio_dma.c - DMA mappings, checked against the IOVA ranges and page
 * sizes the IOMMU reports.  Mappings live in the space and are counted per
 * device: two devices of one space may map the same range (same IOVA,
 * address, size and flags) and it stays mapped until both have unmapped or
 * closed.  Equal addresses are what makes guest memory the same here: the
 * front ends map it through util/guestmem.c, which gives one file range
 * one address in the process, so two connections of one VMM share and
 * memory of another file (another VMM) is refused at an IOVA taken.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "host/vfio_priv.h"

static bool iova_allowed(const struct space *s, uint64_t iova, uint64_t last)
{
	if (!s->nranges)
		return true;
	for (size_t i = 0; i < s->nranges; i++)
		if (iova >= s->ranges[i].start && last <= s->ranges[i].last)
			return true;
	return false;
}

static bool owns(const struct dma_map *m, const struct vfio_dev *v)
{
	for (size_t i = 0; i < m->nowners; i++)
		if (m->owners[i] == v)
			return true;
	return false;
}

static int add_owner(struct dma_map *m, struct vfio_dev *v)
{
	struct vfio_dev **o = realloc(m->owners,
				      (m->nowners + 1) * sizeof(*o));

	if (!o)
		return -ENOMEM;
	o[m->nowners++] = v;
	m->owners = o;
	return 0;
}

static void drop_owner(struct dma_map *m, const struct vfio_dev *v)
{
	for (size_t i = 0; i < m->nowners; i++)
		if (m->owners[i] == v) {
			m->owners[i] = m->owners[--m->nowners];
			return;
		}
}

static void remove_map(struct space *s, size_t i)
{
	free(s->maps[i].owners);
	s->maps[i] = s->maps[--s->nmaps];
}

static int dma_map_error(struct vfio_dev *v, int rc, uint64_t iova,
			 uint64_t size, struct ptdm_err *err)
{
	const char *why;

	switch (-rc) {
	case ENOMEM:
		why = "out of locked memory: raise ptdm's locked-memory "
		      "limit (ulimit -l, LimitMEMLOCK=) to the guest's RAM";
		break;
	case ENOSPC:
		why = "too many mappings (vfio_iommu_type1 dma_entry_limit)";
		break;
	case EFAULT:
		why = "the address range is not mapped in this process";
		break;
	case EEXIST:
		why = "the IOVA range is already mapped";
		break;
	default:
		why = strerror(-rc);
		break;
	}
	return ptdm_errf(err, rc, "%s: DMA map [%#llx, %#llx]: %s", v->h.name,
			 (unsigned long long)iova,
			 (unsigned long long)(iova + size - 1), why);
}

int vfio_dma_map(struct host_dev *h, uint64_t iova, void *vaddr, uint64_t size,
		 unsigned flags, struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	uint64_t va = (uint64_t)(uintptr_t)vaddr, pg, last;
	struct dma_map *m;
	struct space *s;
	int rc;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (!size || !flags || flags & ~(PTDM_DMA_READ | PTDM_DMA_WRITE))
		return ptdm_errf(err, -EINVAL, "%s: DMA map: size %#llx, flags "
				 "%#x (want size > 0 and READ and/or WRITE)",
				 h->name, (unsigned long long)size, flags);
	pthread_mutex_lock(&vfio_mu);
	s = v->space;
	pg = s->pgsizes & -s->pgsizes;
	last = iova + size - 1;
	if ((iova | va | size) & (pg - 1)) {
		rc = ptdm_errf(err, -EINVAL, "%s: DMA map iova %#llx vaddr %p "
			       "size %#llx: not aligned to the IOMMU page size "
			       "%#llx", h->name, (unsigned long long)iova,
			       vaddr, (unsigned long long)size,
			       (unsigned long long)pg);
		goto out;
	}
	if (last < iova || va + size - 1 < va) {
		rc = ptdm_errf(err, -EOVERFLOW, "%s: DMA map iova %#llx size "
			       "%#llx wraps around", h->name,
			       (unsigned long long)iova,
			       (unsigned long long)size);
		goto out;
	}
	if (!iova_allowed(s, iova, last)) {
		rc = ptdm_errf(err, -ERANGE, "%s: DMA map [%#llx, %#llx]: "
			       "outside the IOVA ranges the IOMMU accepts (%zu "
			       "ranges, first [%#llx, %#llx]; vfio_iova_ranges "
			       "lists them)", h->name,
			       (unsigned long long)iova,
			       (unsigned long long)last, s->nranges,
			       (unsigned long long)s->ranges[0].start,
			       (unsigned long long)s->ranges[0].last);
		goto out;
	}
	for (size_t i = 0; i < s->nmaps; i++) {
		m = &s->maps[i];
		if (m->iova > last || m->iova + m->size - 1 < iova)
			continue;
		if (m->iova == iova && m->size == size && m->vaddr == va &&
		    m->flags == flags && !owns(m, v)) {
			rc = add_owner(m, v);
			if (rc)
				ptdm_errf(err, rc, "%s: out of memory",
					  h->name);
			goto out;
		}
		rc = ptdm_errf(err, -EEXIST, "%s: DMA map [%#llx, %#llx] "
			       "overlaps [%#llx, %#llx], mapped %s",
			       h->name, (unsigned long long)iova,
			       (unsigned long long)last,
			       (unsigned long long)m->iova,
			       (unsigned long long)(m->iova + m->size - 1),
			       owns(m, v) ? "by this device"
			       : m->iova == iova && m->size == size &&
					       m->vaddr != va
				       ? "in the same DMA space by another "
					 "device, to other memory (another "
					 "file, or another VMM's guest RAM)"
				       : "in the same DMA space by another "
					 "device");
		goto out;
	}
	m = realloc(s->maps, (s->nmaps + 1) * sizeof(*m));
	if (!m) {
		rc = ptdm_errf(err, -ENOMEM, "%s: out of memory", h->name);
		goto out;
	}
	s->maps = m;
	m = &s->maps[s->nmaps];
	memset(m, 0, sizeof(*m));
	if (add_owner(m, v)) {
		rc = ptdm_errf(err, -ENOMEM, "%s: out of memory", h->name);
		goto out;
	}
	if (s->iommufd) {
		struct ptdm_iommu_ioas_map im = {
			.size = sizeof(im),
			.flags = PTDM_IOMMU_IOAS_MAP_FIXED_IOVA |
				 (flags & PTDM_DMA_READ
					  ? PTDM_IOMMU_IOAS_MAP_READABLE : 0) |
				 (flags & PTDM_DMA_WRITE
					  ? PTDM_IOMMU_IOAS_MAP_WRITEABLE : 0),
			.ioas_id = s->ioas,
			.user_va = va,
			.length = size,
			.iova = iova,
		};

		rc = ioctl(s->fd, PTDM_IOMMU_IOAS_MAP, &im) ? -errno : 0;
	} else {
		struct vfio_iommu_type1_dma_map dm = {
			.argsz = sizeof(dm),
			.flags = (flags & PTDM_DMA_READ
					  ? VFIO_DMA_MAP_FLAG_READ : 0) |
				 (flags & PTDM_DMA_WRITE
					  ? VFIO_DMA_MAP_FLAG_WRITE : 0),
			.vaddr = va,
			.iova = iova,
			.size = size,
		};

		rc = ioctl(s->fd, VFIO_IOMMU_MAP_DMA, &dm) ? -errno : 0;
	}
	if (rc) {
		free(m->owners);
		dma_map_error(v, rc, iova, size, err);
		goto out;
	}
	m->iova = iova;
	m->size = size;
	m->vaddr = va;
	m->flags = flags;
	s->nmaps++;
out:
	pthread_mutex_unlock(&vfio_mu);
	return rc;
}

/* Drop v's hold on map i; unmap it when nobody holds it. */
static int release_map(struct space *s, size_t i, struct vfio_dev *v)
{
	struct dma_map *m = &s->maps[i];
	int rc;

	if (m->nowners > 1) {
		drop_owner(m, v);
		return 0;
	}
	rc = vfio_kernel_unmap(s, m->iova, m->size);
	if (rc)
		return rc;
	remove_map(s, i);
	return 0;
}

int vfio_dma_unmap(struct host_dev *h, uint64_t iova, uint64_t size,
		   struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	uint64_t last = iova + size - 1;
	struct space *s;
	size_t found = 0;
	int rc = 0;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (!size || last < iova)
		return ptdm_errf(err, -EINVAL, "%s: DMA unmap iova %#llx size "
				 "%#llx: empty or wrapping range", h->name,
				 (unsigned long long)iova,
				 (unsigned long long)size);
	pthread_mutex_lock(&vfio_mu);
	s = v->space;
	for (size_t i = 0; i < s->nmaps; i++) {
		const struct dma_map *m = &s->maps[i];
		uint64_t mlast = m->iova + m->size - 1;

		if (!owns(m, v) || m->iova > last || mlast < iova)
			continue;
		if (m->iova < iova || mlast > last) {
			rc = ptdm_errf(err, -EINVAL, "%s: DMA unmap [%#llx, "
				       "%#llx] would split the mapping [%#llx, "
				       "%#llx]", h->name,
				       (unsigned long long)iova,
				       (unsigned long long)last,
				       (unsigned long long)m->iova,
				       (unsigned long long)mlast);
			goto out;
		}
		found++;
	}
	if (!found) {
		rc = ptdm_errf(err, -ENOENT, "%s: DMA unmap [%#llx, %#llx]: "
			       "this device mapped nothing there", h->name,
			       (unsigned long long)iova,
			       (unsigned long long)last);
		goto out;
	}
	for (size_t i = 0; i < s->nmaps;) {
		const struct dma_map *m = &s->maps[i];
		size_t before = s->nmaps;

		if (!owns(m, v) || m->iova < iova || m->iova > last) {
			i++;
			continue;
		}
		rc = release_map(s, i, v);
		if (rc) {
			ptdm_errf(err, rc, "%s: DMA unmap [%#llx, +%#llx]: %s",
				  h->name, (unsigned long long)m->iova,
				  (unsigned long long)m->size, strerror(-rc));
			goto out;
		}
		if (s->nmaps == before)
			i++; /* still held by another device */
	}
out:
	pthread_mutex_unlock(&vfio_mu);
	return rc;
}

void vfio_dma_release_all(struct vfio_dev *v)
{
	struct space *s = v->space;

	for (size_t i = 0; i < s->nmaps;) {
		size_t before = s->nmaps;
		int rc;

		if (!owns(&s->maps[i], v)) {
			i++;
			continue;
		}
		rc = release_map(s, i, v);
		if (rc) {
			ptdm_log(PTDM_LOG_WARN, "%s: DMA unmap [%#llx, +%#llx] "
				 "at close: %s", v->h.name,
				 (unsigned long long)s->maps[i].iova,
				 (unsigned long long)s->maps[i].size,
				 strerror(-rc));
			drop_owner(&s->maps[i], v);
			if (!s->maps[i].nowners)
				remove_map(s, i);
			continue;
		}
		if (s->nmaps == before)
			i++;
	}
}

/*
 * host_ops wrappers for front ends and owners: the calls above, with the
 * sentence a person reads logged (rate-limited: a VMM can repeat them)
 * and the errno returned.
 */
int vfio_host_dma_map(struct host_dev *h, uint64_t iova, void *vaddr,
		      uint64_t size, unsigned prot)
{
	struct ptdm_err err = { "" };
	int rc = vfio_dma_map(h, iova, vaddr, size, prot, &err);

	if (rc)
		ptdm_log_ratelimited(&to_vfio(h)->rl, PTDM_LOG_WARN, "%s",
				     err.msg);
	return rc;
}

int vfio_host_dma_unmap(struct host_dev *h, uint64_t iova,
			uint64_t size)
{
	struct ptdm_err err = { "" };
	int rc = vfio_dma_unmap(h, iova, size, &err);

	if (rc)
		ptdm_log_ratelimited(&to_vfio(h)->rl, PTDM_LOG_WARN, "%s",
				     err.msg);
	return rc;
}
