/*
 * client_lvu.c - libvfio-user's samples/client.c over lib/tran_sock.c,
 * the device-independent part: VERSION (minor 2, max_msg_fds 32,
 * max_data_xfer_size 1024) - a read of region 0xdeadbeef that must fail
 * with EINVAL - GET_INFO (9 regions) - GET_REGION_INFO of every region
 * (argsz 32 with no room for fds, then the size asked for; capabilities
 * read at offset 32, sparse areas mmap'ed) - a 64-byte config read -
 * DEVICE_RESET - 2 x max_msg_fds one-page DMA_MAPs of one file - every
 * GET_IRQ_INFO, an INTx eventfd - DMA_UNMAP of half, then UNMAP_ALL.
 * (The sample's BAR0 timer and migration belong to its own server.)
 *
 * tran_sock reads exactly the bytes it expects: a shorter payload is
 * ECONNRESET, a longer one stays in the stream; fds arriving where it
 * made no room are MSG_CTRUNC (EFAULT); errors outside 1..4096 become
 * EINVAL.  No timeouts.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/client_persona.h"

static const char lvu_caps[] =
	"{\"capabilities\":{\"max_msg_fds\":32,\"max_data_xfer_size\":1024}}";

/* tran_sock_msg: error -> errno; then exactly want payload bytes. */
static int msg(struct pc *p, uint16_t cmd, const void *q, size_t len,
	       const int *fds, unsigned nfds, unsigned room, size_t want,
	       struct pc_reply *r)
{
	int rc = pc_call(p, cmd, q, len, fds, nfds, room, r);

	if (rc)
		return rc;
	if (r->ctrunc) {
		pc_reply_close_fds(r);
		return pc_fail(p, "command %u: an fd in a reply with no room "
			       "for one (MSG_CTRUNC: EFAULT)", cmd);
	}
	if (r->h.flags & VFU_F_ERROR)
		return r->h.error > 0 && r->h.error <= 4096 ? -(int)r->h.error
							   : -EINVAL;
	if (r->len != want) {
		pc_reply_close_fds(r);
		return pc_fail(p, "command %u: %zu payload bytes, tran_sock "
			       "reads %zu (%s)", cmd, r->len, want,
			       r->len < want ? "ECONNRESET"
					     : "the rest desyncs the stream");
	}
	return 0;
}

static int version(struct pc *p)
{
	uint8_t req[4 + sizeof(lvu_caps)];
	uint16_t mm[2] = { 0, 2 }, sv[2];
	struct pc_reply r;
	int rc = pc_call(p, VFU_VERSION, (memcpy(req, mm, 4),
					  memcpy(req + 4, lvu_caps,
						 sizeof(lvu_caps)), req),
			 sizeof(req), NULL, 0, 0, &r);

	if (rc)
		return rc;
	if (r.h.flags & VFU_F_ERROR)
		return pc_fail(p, "failed to receive version: %s",
			       strerror(-pc_reply_errno(&r)));
	if (r.len < 4)
		return pc_fail(p, "VFIO_USER_VERSION: invalid size %zu", r.len);
	memcpy(sv, r.p, 4);
	if (sv[0] != 0)
		return pc_fail(p, "unsupported server major %u", sv[0]);
	if (sv[1] > 2)
		return pc_fail(p, "unsupported server minor %u", sv[1]);
	if (r.len > 4) {
		struct json_object *root, *caps;

		if (r.p[r.len - 1])
			return pc_fail(p, "ignoring invalid JSON from server");
		root = json_tokener_parse((char *)r.p + 4);
		rc = !root ? -1 : 0;
		if (root && json_object_object_get_ex(root, "capabilities", &caps) &&
		    !json_object_is_type(caps, json_type_object))
			rc = -1;
		json_object_put(root);
		if (rc)
			return pc_fail(p, "failed to parse server JSON \"%s\"",
				       (char *)r.p + 4);
	}
	return 0;
}

static int region(struct pc *p, unsigned i)
{
	struct pc_region *g = &p->reg[i];
	struct vfu_region_info q = { .argsz = 32, .index = i };
	uint8_t big[4096] = { 0 };
	struct pc_reply r;
	int rc = msg(p, VFU_DEVICE_GET_REGION_INFO, &q, 32, NULL, 0, 0, 32, &r);
	uint32_t size;

	if (rc)
		return rc < 0 && rc != -EPROTO
			       ? pc_fail(p, "failed to get device region info: %s",
					 strerror(-rc))
			       : rc;
	memcpy(&g->ri, r.p, 32);
	size = g->ri.argsz;
	if (size > 32) {
		if (size > sizeof(big))
			return pc_fail(p, "region %u: argsz %u", i, size);
		q.argsz = size;
		memcpy(big, &q, 32);
		if ((rc = msg(p, VFU_DEVICE_GET_REGION_INFO, big, size, NULL, 0,
			      32, size, &r)))
			return rc < 0 && rc != -EPROTO
				       ? pc_fail(p, "failed to get device region "
						 "info: %s", strerror(-rc))
				       : rc;
		memcpy(&g->ri, r.p, 32);
		if (g->ri.argsz != size)
			return pc_fail(p, "assertion region_info->argsz == size "
				       "failed");
		g->fd = r.nfds ? r.fds[0] : -1;
		for (unsigned k = 1; k < r.nfds; k++)
			close(r.fds[k]);
	} else {
		size = 32;
	}
	g->info_len = size;
	g->info = malloc(size);
	if (!g->info)
		return pc_fail(p, "out of memory");
	memcpy(g->info, r.p, size);
	if (size > 32) {
		/* get_region_vfio_caps: the chain starts right after the info */
		size_t off = 32;

		for (;;) {
			struct vfio_info_cap_header h;

			if (off + sizeof(h) > size)
				return pc_fail(p, "region %u: capability past the "
					       "reply", i);
			memcpy(&h, g->info + off, sizeof(h));
			if (h.id != VFIO_REGION_INFO_CAP_SPARSE_MMAP)
				return pc_fail(p, "bad VFIO cap ID %#x", h.id);
			{
				struct vfio_region_info_cap_sparse_mmap sp;

				memcpy(&sp, g->info + off, sizeof(sp));
				if (off + sizeof(sp) + 16ull * sp.nr_areas > size)
					return pc_fail(p, "region %u: areas past "
						       "the reply", i);
				for (unsigned a = 0; a < sp.nr_areas; a++) {
					uint64_t ar[2];

					memcpy(ar, g->info + off + sizeof(sp) + 16 * a,
					       16);
					if (g->fd < 0)
						return pc_fail(p, "region %u: sparse "
							       "areas but no fd", i);
					if ((rc = pc_map(p, g->fd,
							 g->ri.offset + ar[0], ar[1],
							 PROT_READ | PROT_WRITE,
							 "failed to mmap sparse "
							 "region")))
						return rc;
				}
			}
			if (!h.next)
				break;
			if (h.next < 32 || h.next >= size)
				return pc_fail(p, "region %u: cap next %u", i,
					       h.next);
			off = h.next;
		}
	}
	return 0;
}

int persona_libvfio_user(struct pc *p)
{
	struct vfu_region_rw acc = { .offset = 0, .region = 0xdeadbeef,
				     .count = 4 };
	struct vfu_device_info di = { .argsz = 16 };
	struct pc_reply r;
	int rc, tmp, nmaps;

	if ((rc = version(p)))
		return rc;
	rc = msg(p, VFU_REGION_READ, &acc, 16, NULL, 0, 0, 20, &r);
	if (rc != -EINVAL)
		return rc == -EPROTO ? rc
				     : pc_fail(p, "expected EINVAL accessing "
					       "bogus region, got %d", -rc);
	if ((rc = msg(p, VFU_DEVICE_GET_INFO, &di, 16, NULL, 0, 0, 16, &r)))
		return rc == -EPROTO ? rc
				     : pc_fail(p, "failed to get device info: %s",
					       strerror(-rc));
	memcpy(&di, r.p, 16);
	if (di.num_regions != 9)
		return pc_fail(p, "bad number of device regions %u",
			       di.num_regions);
	p->num_regions = di.num_regions;
	for (unsigned i = 0; i < di.num_regions; i++)
		if ((rc = region(p, i)))
			return rc;
	acc.region = VFIO_PCI_CONFIG_REGION_INDEX;
	acc.count = 64;
	if ((rc = msg(p, VFU_REGION_READ, &acc, 16, NULL, 0, 0, 16 + 64, &r)))
		return rc == -EPROTO ? rc
				     : pc_fail(p, "failed to read PCI "
					       "configuration space: %s",
					       strerror(-rc));
	memcpy(&acc, r.p, 16);
	if (acc.count != 64)
		return pc_fail(p, "bad read data count, expected=64, actual=%u",
			       acc.count);
	memcpy(p->cfg, r.p + 16, 64);
	if ((rc = msg(p, VFU_DEVICE_RESET, NULL, 0, NULL, 0, 0, 0, &r)))
		return rc == -EPROTO ? rc
				     : pc_fail(p, "failed to reset device: %s",
					       strerror(-rc));
	nmaps = (int)p->max_fds * 2;
	if (nmaps > 64)
		nmaps = 64;
	tmp = pc_memfd("lvu-dma", (size_t)nmaps * 4096);
	if (tmp < 0)
		return pc_fail(p, "failed to create backing file");
	for (int i = 0; i < nmaps; i++) {
		struct vfu_dma_map m = { .argsz = 32, .flags = 3,
					 .offset = (uint64_t)i * 4096,
					 .addr = (uint64_t)i * 4096, .size = 4096 };

		if ((rc = msg(p, VFU_DMA_MAP, &m, 32, &tmp, 1, 0, 0, &r))) {
			close(tmp);
			return rc == -EPROTO ? rc
					     : pc_fail(p, "failed to map DMA "
						       "regions: %s", strerror(-rc));
		}
	}
	close(tmp);
	for (unsigned i = 0; i < 5; i++) {
		struct vfu_irq_info ii = { .argsz = 16, .index = i };

		if ((rc = msg(p, VFU_DEVICE_GET_IRQ_INFO, &ii, 16, NULL, 0, 0, 16,
			      &r)))
			return rc == -EPROTO ? rc
					     : pc_fail(p, "failed to get IRQ %u "
						       "info: %s", i,
						       strerror(-rc));
		memcpy(&ii, r.p, 16);
		if (i == VFIO_PCI_INTX_IRQ_INDEX && ii.count) {
			struct vfu_irq_set s = {
				.argsz = 20, .index = 0, .start = 0, .count = 1,
				.flags = VFIO_IRQ_SET_DATA_EVENTFD |
					 VFIO_IRQ_SET_ACTION_TRIGGER };
			int efd = pc_eventfd(p);
			struct pc_reply r2;

			if (efd < 0)
				return efd;
			if ((rc = msg(p, VFU_DEVICE_SET_IRQS, &s, 20, &efd, 1, 0,
				      0, &r2)))
				return rc == -EPROTO ? rc
						     : pc_fail(p, "failed to send "
							       "configure IRQs "
							       "message: %s",
							       strerror(-rc));
		}
	}
	for (int i = 0; i < nmaps / 2; i++) {
		struct vfu_dma_unmap u = { .argsz = 24,
					   .addr = (uint64_t)i * 4096,
					   .size = 4096 };

		if ((rc = msg(p, VFU_DMA_UNMAP, &u, 24, NULL, 0, 0, 24, &r)))
			return rc == -EPROTO ? rc
					     : pc_fail(p, "failed to unmap DMA "
						       "region: %s", strerror(-rc));
	}
	{
		struct vfu_dma_unmap u = { .argsz = 24, .flags = VFU_DMA_UNMAP_ALL };

		if ((rc = msg(p, VFU_DMA_UNMAP, &u, 24, NULL, 0, 0, 24, &r)))
			return rc == -EPROTO ? rc
					     : pc_fail(p, "failed to unmap all "
						       "DMA regions: %s",
						       strerror(-rc));
	}
	return 0;
}
