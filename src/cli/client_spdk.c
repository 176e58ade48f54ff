/*
 * client_spdk.c - SPDK's vfio-user client (lib/vfio_user/host/vfio_user.c
 * and vfio_user_pci.c, used by its NVMe driver): VERSION with major and
 * minor only (no JSON) - GET_INFO argsz 16 - GET_REGION_INFO of every
 * region with argsz 4064 and 4064 payload bytes (its 4096-byte buffer
 * less the info) - the sparse areas mmap'ed with fds[i], one fd per area,
 * or the whole region with fds[0] - DMA_MAP with an fd - config and BAR0
 * reads - DMA_UNMAP, which also carries the fd.
 *
 * Any error reply fails the call; a payload larger than its buffer is
 * EIO; no timeouts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/client_persona.h"

#define SPDK_MAX_FDS 8 /* VFIO_MAXIMUM_SPARSE_MMAP_REGIONS */

static int req(struct pc *p, uint16_t cmd, const void *q, size_t len,
	       const int *fds, unsigned nfds, size_t buf_len,
	       struct pc_reply *r)
{
	int rc = pc_call(p, cmd, q, len, fds, nfds, SPDK_MAX_FDS, r);

	if (rc)
		return rc;
	if (r->ctrunc) {
		pc_reply_close_fds(r);
		return pc_fail(p, "command %u: more fds than it has room for "
			       "(ENOTSUP)", cmd);
	}
	if (r->h.flags & VFU_F_ERROR) {
		pc_reply_close_fds(r);
		return pc_fail(p, "Command %u return failure (%s)", cmd,
			       strerror(-pc_reply_errno(r)));
	}
	if (r->len > buf_len) {
		pc_reply_close_fds(r);
		return pc_fail(p, "Payload size error sz %zu, buf_len %zu",
			       r->len, buf_len);
	}
	return 0;
}

static int map_region(struct pc *p, unsigned i, struct pc_reply *r)
{
	struct pc_region *g = &p->reg[i];
	int prot = (g->ri.flags & VFIO_REGION_INFO_FLAG_READ ? PROT_READ : 0) |
		   (g->ri.flags & VFIO_REGION_INFO_FLAG_WRITE ? PROT_WRITE : 0);
	long cap = (g->ri.flags & VFIO_REGION_INFO_FLAG_CAPS)
			   ? pc_region_cap(g, VFIO_REGION_INFO_CAP_SPARSE_MMAP)
			   : 0;

	if (cap < 0)
		return pc_fail(p, "region %u: capability chain leaves the reply",
			       i);
	if (!cap) {
		if (!r->nfds)
			return pc_fail(p, "Device Region MMAP failed: region %u "
				       "is MMAP but no fd came (fds[0] is 0)", i);
		return pc_map(p, r->fds[0], g->ri.offset, g->ri.size, prot,
			      "Device Region MMAP failed");
	}
	{
		struct vfio_region_info_cap_sparse_mmap sp;

		if ((size_t)cap + sizeof(sp) > g->info_len)
			return pc_fail(p, "sparse-mmap capability cut short");
		memcpy(&sp, g->info + cap, sizeof(sp));
		if ((size_t)cap + sizeof(sp) + 16ull * sp.nr_areas > g->info_len)
			return pc_fail(p, "region %u: areas past the reply", i);
		for (unsigned a = 0; a < sp.nr_areas; a++) {
			uint64_t ar[2];
			int rc;

			memcpy(ar, g->info + cap + sizeof(sp) + 16 * a, 16);
			if (!ar[1] || !r->nfds)
				continue; /* "No valid fd, skip mmap" */
			if (a >= r->nfds)
				return pc_fail(p, "Device SPARSE MMAP failed: "
					       "region %u area %u is mapped with "
					       "fds[%u], but %u fd(s) came (fd 0 "
					       "would be mapped)", i, a, a,
					       r->nfds);
			rc = pc_map(p, r->fds[a], g->ri.offset + ar[0], ar[1], prot,
				    "Device SPARSE MMAP failed");
			if (rc)
				return rc;
		}
	}
	return 0;
}

int persona_spdk(struct pc *p)
{
	uint16_t ver[2] = { 0, 1 };
	struct vfu_device_info di = { .argsz = 16 };
	struct pc_reply r;
	int rc, mem;

	if ((rc = req(p, VFU_VERSION, ver, 4, NULL, 0, 4096, &r)))
		return rc;
	if ((rc = req(p, VFU_DEVICE_GET_INFO, &di, 16, NULL, 0, 16, &r)))
		return rc;
	memset(&di, 0, sizeof(di));
	memcpy(&di, r.p, r.len < 16 ? r.len : 16);
	p->num_regions = di.num_regions;
	if (di.num_regions > PC_NUM_REGIONS)
		return pc_fail(p, "%u regions: more than it has room for",
			       di.num_regions);
	for (unsigned i = 0; i < di.num_regions; i++) {
		static uint8_t buf[4096];
		struct vfu_region_info q = { .argsz = 4096 - 32, .index = i };
		struct pc_region *g = &p->reg[i];

		memset(buf, 0, sizeof(buf));
		memcpy(buf, &q, sizeof(q));
		if ((rc = req(p, VFU_DEVICE_GET_REGION_INFO, buf, q.argsz, NULL,
			      0, 4096, &r)))
			return pc_fail(p, "Device setup bar %u failed", i);
		if (r.len < 32) {
			pc_reply_close_fds(&r);
			return pc_fail(p, "region %u: reply short", i);
		}
		memcpy(&g->ri, r.p, 32);
		g->info_len = r.len;
		g->info = malloc(r.len);
		if (!g->info) {
			pc_reply_close_fds(&r);
			return pc_fail(p, "out of memory");
		}
		memcpy(g->info, r.p, r.len);
		rc = 0;
		if (g->ri.size && (g->ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
			rc = map_region(p, i, &r);
		pc_reply_close_fds(&r); /* the maps keep what they need */
		if (rc)
			return rc;
	}
	/* spdk_mem_map_alloc: the hugepage memory, iova = vaddr */
	mem = pc_memfd("spdk-mem", 2u << 20);
	if (mem < 0)
		return pc_fail(p, "memory: %s", strerror(-mem));
	{
		void *va = mmap(NULL, 2u << 20, PROT_READ | PROT_WRITE, MAP_SHARED,
				mem, 0);
		struct vfu_dma_map m = { .argsz = 32, .flags = 3, .offset = 0,
					 .size = 2u << 20 };
		struct vfu_dma_unmap u = { .argsz = 24, .size = 2u << 20 };
		uint32_t v;
		struct vfu_region_rw a = { .offset = 0,
					   .region = VFIO_PCI_CONFIG_REGION_INDEX,
					   .count = 4 };

		if (va == MAP_FAILED) {
			close(mem);
			return pc_fail(p, "mmap: %s", strerror(errno));
		}
		m.addr = u.addr = (uint64_t)(uintptr_t)va;
		rc = req(p, VFU_DMA_MAP, &m, 32, &mem, 1, 32, &r);
		if (!rc)
			rc = req(p, VFU_REGION_READ, &a, 16, NULL, 0, 20, &r);
		if (!rc && r.len == 20) {
			memcpy(&v, r.p + 16, 4);
			if (!v || v == 0xffffffff)
				rc = pc_fail(p, "config reads %#x", v);
		}
		if (!rc && p->reg[0].ri.size >= 4 &&
		    !(p->reg[0].ri.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
			a.region = 0;
			rc = req(p, VFU_REGION_READ, &a, 16, NULL, 0, 20, &r);
		}
		if (!rc)
			rc = req(p, VFU_DMA_UNMAP, &u, 24, &mem, 1, 24, &r);
		munmap(va, 2u << 20);
		close(mem);
	}
	return rc;
}
