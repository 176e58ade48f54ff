/*
 * vfio_region.c - regions and BARs: region info with its capability chain
 * (sparse mmap areas, MSI-X mappable, type), trapped BAR accesses (through
 * a mapping when one covers them, else pread/pwrite, both counted), the fd
 * a VMM may map, and BAR mappings that never cover the MSI-X table and PBA
 * pages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "host/vfio_priv.h"

int vfio_region_query(int fd, unsigned index, struct ptdm_vfio_region *out)
{
	struct vfio_region_info init = { .argsz = sizeof(init),
					 .index = index };
	struct vfio_region_info ri;
	struct vfio_info_cap_header hdr;
	unsigned guard = 0;
	uint32_t off;
	size_t at;
	void *buf;
	int len;

	len = vfio_ioctl_sized(fd, VFIO_DEVICE_GET_REGION_INFO, &buf,
			       sizeof(init), &init);
	if (len < 0)
		return len;
	memcpy(&ri, buf, sizeof(ri));
	memset(out, 0, sizeof(*out));
	out->index = index;
	out->flags = ri.flags;
	out->size = ri.size;
	out->offset = ri.offset;
	off = (ri.flags & VFIO_REGION_INFO_FLAG_CAPS) ? ri.cap_offset : 0;
	while (vfio_cap_next(buf, (size_t)len, sizeof(ri), &off, &guard, &hdr,
			     &at)) {
		size_t room = (size_t)len - at;

		if (hdr.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			struct vfio_region_info_cap_sparse_mmap sm;
			size_t fit;

			if (room < sizeof(sm))
				continue;
			memcpy(&sm, (char *)buf + at, sizeof(sm));
			fit = (room - sizeof(sm)) /
			      sizeof(struct vfio_region_sparse_mmap_area);
			out->sparse = true;
			out->nr_areas = 0;
			for (size_t i = 0; i < sm.nr_areas && i < fit; i++) {
				struct vfio_region_sparse_mmap_area a;

				if (out->nr_areas == PTDM_VFIO_MAX_AREAS) {
					out->areas_truncated = true;
					break;
				}
				memcpy(&a, (char *)buf + at + sizeof(sm) +
					       i * sizeof(a), sizeof(a));
				if (!a.size || a.offset > ri.size ||
				    a.size > ri.size - a.offset)
					continue; /* outside: not mappable */
				out->areas[out->nr_areas].offset = a.offset;
				out->areas[out->nr_areas].size = a.size;
				out->nr_areas++;
			}
			if (sm.nr_areas > fit)
				out->areas_truncated = true;
		} else if (hdr.id == VFIO_REGION_INFO_CAP_TYPE) {
			struct vfio_region_info_cap_type t;

			if (room < sizeof(t))
				continue;
			memcpy(&t, (char *)buf + at, sizeof(t));
			out->has_type = true;
			out->type = t.type;
			out->subtype = t.subtype;
		} else if (hdr.id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
			out->msix_mappable = true;
		}
	}
	free(buf);
	return 0;
}

int vfio_region_get(struct host_dev *h, unsigned index,
		    struct ptdm_vfio_region *out, struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	int rc;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (index >= v->info.num_regions)
		return ptdm_errf(err, -EINVAL, "%s: no region %u (the device "
				 "has %u)", h->name, index,
				 v->info.num_regions);
	if (index < VFIO_PCI_NUM_REGIONS) {
		*out = v->reg[index];
		return 0;
	}
	rc = vfio_region_query(v->fd, index, out);
	if (rc)
		return ptdm_errf(err, rc, "%s: region %u info: %s", h->name,
				 index, strerror(-rc));
	return 0;
}

static bool wins_cover(const struct ptdm_vfio_area *win, size_t nwin,
		       uint64_t off, uint64_t len)
{
	for (size_t i = 0; i < nwin; i++)
		if (off >= win[i].offset &&
		    off - win[i].offset <= win[i].size &&
		    len <= win[i].size - (off - win[i].offset))
			return true;
	return false;
}

/* An aligned access through the mapping, if the BAR has one there. */
static bool map_access(struct vfio_dev *v, int bar, uint64_t off, void *buf,
		       size_t len, bool write)
{
	const struct bar_mapping *m;
	volatile void *p;

	if (bar < 0 || bar >= PTDM_NUM_BARS)
		return false;
	m = &v->maps[bar];
	if (!m->base || (len != 1 && len != 2 && len != 4 && len != 8) ||
	    off % len || !wins_cover(m->win, m->nwin, off, len))
		return false;
	p = (volatile char *)m->base + off;
	switch (len) {
	case 1:
		if (write)
			*(volatile uint8_t *)p = *(const uint8_t *)buf;
		else
			*(uint8_t *)buf = *(volatile uint8_t *)p;
		break;
	case 2: {
		uint16_t x;

		if (write) {
			memcpy(&x, buf, 2);
			*(volatile uint16_t *)p = x;
		} else {
			x = *(volatile uint16_t *)p;
			memcpy(buf, &x, 2);
		}
		break;
	}
	case 4: {
		uint32_t x;

		if (write) {
			memcpy(&x, buf, 4);
			*(volatile uint32_t *)p = x;
		} else {
			x = *(volatile uint32_t *)p;
			memcpy(buf, &x, 4);
		}
		break;
	}
	default: {
		uint64_t x;

		if (write) {
			memcpy(&x, buf, 8);
			*(volatile uint64_t *)p = x;
		} else {
			x = *(volatile uint64_t *)p;
			memcpy(buf, &x, 8);
		}
		break;
	}
	}
	return true;
}

static int bar_rw(struct host_dev *h, int bar, uint64_t off, void *buf,
		  size_t len, bool write)
{
	struct vfio_dev *v = to_vfio(h);
	const struct ptdm_vfio_region *r;

	if (bar < 0 || bar > PTDM_ROM_INDEX)
		return -EINVAL;
	if (write && bar == PTDM_ROM_INDEX)
		return -EPERM;
	r = &v->reg[bar];
	if (!r->size || h->bars[bar].kind == HOST_BAR_NONE ||
	    h->bars[bar].kind == HOST_BAR_MEM64_HI)
		return -ENXIO;
	if (off > r->size || len > r->size - off)
		return -ERANGE;
	if (map_access(v, bar, off, buf, len, write)) {
		__atomic_fetch_add(&v->n_mapped, 1, __ATOMIC_RELAXED);
		return 0;
	}
	__atomic_fetch_add(&v->n_trapped, 1, __ATOMIC_RELAXED);
	return vfio_fd_rw(v->fd, r->offset + off, buf, len, write);
}

/* The VGA region (index 8) of a VGA device: trapped, pread/pwrite. */
int vfio_vga_rw(struct host_dev *h, uint64_t off, void *buf, size_t len,
		bool write)
{
	struct vfio_dev *v = to_vfio(h);
	const struct ptdm_vfio_region *r = &v->reg[VFIO_PCI_VGA_REGION_INDEX];

	if (!h->vga_size || !len || off > r->size || len > r->size - off)
		return -ERANGE;
	if (write && h->readonly)
		return -EROFS;
	__atomic_fetch_add(&v->n_trapped, 1, __ATOMIC_RELAXED);
	return vfio_fd_rw(v->fd, r->offset + off, buf, len, write);
}

/*
 * An IGD's OpRegion: vfio-pci's read-only device-specific region of type
 * VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086, subtype
 * VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION (drivers/vfio/pci/vfio_pci_igd.c),
 * found by its type capability the way QEMU finds it, read whole.
 */
#define VFIO_MAX_DEV_REGIONS 64u /* more device-specific regions: ignored */

int vfio_igd_opregion(struct host_dev *h, uint8_t **buf, size_t *len)
{
	struct vfio_dev *v = to_vfio(h);
	unsigned n = v->info.num_regions;

	if (n > VFIO_PCI_NUM_REGIONS + VFIO_MAX_DEV_REGIONS)
		n = VFIO_PCI_NUM_REGIONS + VFIO_MAX_DEV_REGIONS;
	for (unsigned i = VFIO_PCI_NUM_REGIONS; i < n; i++) {
		struct ptdm_vfio_region r;
		uint8_t *p;
		int rc;

		if (vfio_region_query(v->fd, i, &r) || !r.has_type ||
		    r.type != ((uint32_t)VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086u) ||
		    r.subtype != VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION)
			continue;
		if (!(r.flags & VFIO_REGION_INFO_FLAG_READ) || !r.size ||
		    r.size > PTDM_IGD_OPREGION_MAX)
			return -EFBIG;
		p = malloc(r.size);
		if (!p)
			return -ENOMEM;
		rc = vfio_fd_rw(v->fd, r.offset, p, r.size, false);
		if (rc) {
			free(p);
			return rc;
		}
		*buf = p;
		*len = r.size;
		return 0;
	}
	return -ENOENT;
}

int vfio_bar_read(struct host_dev *h, int bar, uint64_t off, void *buf,
		  size_t len)
{
	return bar_rw(h, bar, off, buf, len, false);
}

int vfio_bar_write(struct host_dev *h, int bar, uint64_t off,
		   const void *buf, size_t len)
{
	return bar_rw(h, bar, off, (void *)buf, len, true);
}

/* The pages of bar that hold the MSI-X table or PBA, as up to 2 holes. */
static size_t msix_holes(const struct vfio_dev *v, int bar,
			 struct ptdm_vfio_area hole[2])
{
	uint64_t pg = page_size();
	size_t n = 0;

	if (!v->msix.present)
		return 0;
	if (v->msix.table_bar == bar) {
		hole[n].offset = round_down(v->msix.table_off, pg);
		hole[n].size = round_up(v->msix.table_off + v->msix.table_len,
					pg) - hole[n].offset;
		n++;
	}
	if (v->msix.pba_bar == bar) {
		hole[n].offset = round_down(v->msix.pba_off, pg);
		hole[n].size = round_up(v->msix.pba_off + v->msix.pba_len, pg) -
			       hole[n].offset;
		n++;
	}
	if (n == 2 && hole[1].offset < hole[0].offset) {
		struct ptdm_vfio_area t = hole[0];

		hole[0] = hole[1];
		hole[1] = t;
	}
	return n;
}

/*
 * The windows of bar that may be mapped: the kernel's areas (the whole BAR
 * without a sparse capability) minus the MSI-X pages, page aligned.
 * Returns a malloc'ed array or NULL with *n 0 when nothing is mappable.
 */
static struct ptdm_vfio_area *bar_windows(const struct vfio_dev *v, int bar,
					  size_t *n, int *rc)
{
	const struct ptdm_vfio_region *r = &v->reg[bar];
	struct ptdm_vfio_area whole = { 0, r->size }, hole[2], *win;
	const struct ptdm_vfio_area *areas = r->sparse ? r->areas : &whole;
	size_t nareas = r->sparse ? r->nr_areas : 1;
	size_t nholes = msix_holes(v, bar, hole), cnt = 0;
	uint64_t pg = page_size();

	*n = 0;
	*rc = 0;
	win = calloc(nareas * (nholes + 1) + 1, sizeof(*win));
	if (!win) {
		*rc = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < nareas; i++) {
		uint64_t at = round_up(areas[i].offset, pg);
		uint64_t end = round_down(areas[i].offset + areas[i].size, pg);

		for (size_t j = 0; j <= nholes && at < end; j++) {
			uint64_t stop = j < nholes ? hole[j].offset : end;

			if (stop > end)
				stop = end;
			if (stop > at) {
				win[cnt].offset = at;
				win[cnt].size = stop - at;
				cnt++;
			}
			if (j < nholes &&
			    hole[j].offset + hole[j].size > at)
				at = hole[j].offset + hole[j].size;
		}
	}
	if (!cnt) {
		free(win);
		return NULL;
	}
	*n = cnt;
	return win;
}

int vfio_bar_fd(struct host_dev *h, int bar, uint64_t *offset)
{
	struct vfio_dev *v = to_vfio(h);
	struct ptdm_vfio_area hole[2], *win;
	const struct ptdm_vfio_region *r;
	size_t nwin, nholes;
	uint64_t at = 0;
	int rc;

	if (bar < 0 || bar >= PTDM_NUM_BARS)
		return -ENOTSUP;
	r = &v->reg[bar];
	if (!r->size || !(r->flags & VFIO_REGION_INFO_FLAG_MMAP) ||
	    h->bars[bar].kind == HOST_BAR_IO)
		return -ENOTSUP;
	/*
	 * A front end maps everything but the MSI-X table and PBA: only hand
	 * the fd out if the kernel allows exactly that much (or more).
	 */
	win = bar_windows(v, bar, &nwin, &rc);
	if (!win)
		return rc ? rc : -ENOTSUP;
	nholes = msix_holes(v, bar, hole);
	for (size_t i = 0; i <= nholes; i++) {
		uint64_t stop = i < nholes ? hole[i].offset
					   : round_up(r->size, page_size());

		if (stop > at && !wins_cover(win, nwin, at, stop - at)) {
			free(win);
			return -ENOTSUP;
		}
		if (i < nholes && hole[i].offset + hole[i].size > at)
			at = hole[i].offset + hole[i].size;
	}
	free(win);
	*offset = r->offset;
	return v->fd;
}

void vfio_unmap_bar(struct bar_mapping *m)
{
	if (m->base)
		munmap(m->base, m->span);
	free(m->win);
	memset(m, 0, sizeof(*m));
}

static void fill_map_out(const struct bar_mapping *m,
			 struct ptdm_vfio_bar_map *out)
{
	out->base = m->base;
	out->size = m->size;
	out->nwin = m->nwin;
	out->win = m->win;
}

int vfio_bar_mmap(struct host_dev *h, int bar, struct ptdm_vfio_bar_map *out,
		  struct ptdm_err *err)
{
	struct vfio_dev *v = to_vfio(h);
	const struct ptdm_vfio_region *r;
	struct bar_mapping m = { 0 };
	int prot = 0, rc;

	if (!v)
		return ptdm_errf(err, -EINVAL, "not a VFIO device");
	if (bar < 0 || bar >= PTDM_NUM_BARS || !v->reg[bar].size ||
	    h->bars[bar].kind == HOST_BAR_MEM64_HI)
		return ptdm_errf(err, -EINVAL, "%s: BAR %d is not implemented",
				 h->name, bar);
	if (v->maps[bar].base) {
		fill_map_out(&v->maps[bar], out);
		return 0;
	}
	r = &v->reg[bar];
	if (h->bars[bar].kind == HOST_BAR_IO ||
	    !(r->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return ptdm_errf(err, -EOPNOTSUPP,
				 "%s: BAR %d cannot be mapped (%s; region flags "
				 "%#x): its accesses stay trapped", h->name,
				 bar, h->bars[bar].kind == HOST_BAR_IO
					      ? "an I/O BAR"
					      : "the kernel offers no mmap",
				 r->flags);
	m.win = bar_windows(v, bar, &m.nwin, &rc);
	if (!m.win)
		return rc ? ptdm_errf(err, rc, "%s: out of memory", h->name)
			  : ptdm_errf(err, -EOPNOTSUPP,
				      "%s: BAR %d has no mappable page outside "
				      "the MSI-X table and PBA", h->name, bar);
	m.size = r->size;
	m.span = round_up(r->size, page_size());
	m.base = mmap(NULL, m.span, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m.base == MAP_FAILED) {
		m.base = NULL;
		rc = -errno;
		vfio_unmap_bar(&m);
		return ptdm_errf(err, rc, "%s: reserving %#zx bytes for BAR "
				 "%d: %s", h->name, m.span, bar,
				 strerror(-rc));
	}
	if (r->flags & VFIO_REGION_INFO_FLAG_READ)
		prot |= PROT_READ;
	if (r->flags & VFIO_REGION_INFO_FLAG_WRITE)
		prot |= PROT_WRITE;
	for (size_t i = 0; i < m.nwin; i++) {
		void *want = (char *)m.base + m.win[i].offset;
		void *p = mmap(want, m.win[i].size, prot,
			       MAP_SHARED | MAP_FIXED, v->fd,
			       (off_t)(r->offset + m.win[i].offset));

		if (p == MAP_FAILED) {
			rc = -errno;
			ptdm_errf(err, rc, "%s: the kernel refuses to map BAR "
				  "%d [%#llx, +%#llx]: %s; use trapped "
				  "accesses (pread/pwrite) for it", h->name,
				  bar, (unsigned long long)m.win[i].offset,
				  (unsigned long long)m.win[i].size,
				  strerror(-rc));
			vfio_unmap_bar(&m);
			return rc;
		}
	}
	v->maps[bar] = m;
	fill_map_out(&v->maps[bar], out);
	return 0;
}

int vfio_bar_munmap(struct host_dev *h, int bar)
{
	struct vfio_dev *v = to_vfio(h);

	if (!v || bar < 0 || bar >= PTDM_NUM_BARS)
		return -EINVAL;
	if (!v->maps[bar].base)
		return -ENOENT;
	vfio_unmap_bar(&v->maps[bar]);
	return 0;
}

bool vfio_bar_map_covers(const struct ptdm_vfio_bar_map *m, uint64_t off,
			 uint64_t len)
{
	return m->base && len && wins_cover(m->win, m->nwin, off, len);
}

void vfio_get_stats(struct host_dev *h, struct ptdm_vfio_stats *out)
{
	struct vfio_dev *v = to_vfio(h);

	memset(out, 0, sizeof(*out));
	if (!v)
		return;
	out->mapped = __atomic_load_n(&v->n_mapped, __ATOMIC_RELAXED);
	out->trapped = __atomic_load_n(&v->n_trapped, __ATOMIC_RELAXED);
}
