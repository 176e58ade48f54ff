/*
 * vfu_client.c - a vfio-user client: connect, negotiate, one synchronous
 * command at a time.  It trusts nothing from the server either: reply
 * sizes are checked against the buffer and fds beyond one are closed.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ptdm/vfu_client.h"
#include "util/sockio.h"

void vfu_client_init_fd(struct vfu_client *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->server_max_fds = 1;
	c->server_max_xfer = 1 << 20;
}

int vfu_client_connect(struct vfu_client *c, const char *path,
		       struct ptdm_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ptdm_errf(err, -ENAMETOOLONG, "%s: path too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ptdm_errf(err, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return ptdm_errf(err, -e, "%s: %s", path, strerror(e));
	}
	vfu_client_init_fd(c, fd);
	return 0;
}

void vfu_client_close(struct vfu_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int vfu_client_send_raw(struct vfu_client *c, const void *buf, size_t len,
			const int *fds, unsigned nfds)
{
	return sockio_send_fds(c->fd, buf, len, fds, nfds);
}

int vfu_client_recv(struct vfu_client *c, struct vfu_hdr *hdr, void *buf,
		    size_t max, size_t *len, int *rfd)
{
	int fds[4];
	unsigned nfds = 0;
	bool ctrunc;
	ssize_t n;
	size_t plen;
	int rc, fd = -1;

	n = sockio_recv_fds(c->fd, hdr, sizeof(*hdr), fds, 4, &nfds, &ctrunc);
	if (n <= 0)
		return n ? (int)n : -ECONNRESET;
	/* one fd is all a reply carries: keep the first, close the rest */
	for (unsigned i = 0; i < nfds; i++) {
		if (fd < 0 && rfd)
			fd = fds[i];
		else
			close(fds[i]);
	}
	if ((size_t)n < sizeof(*hdr) || hdr->msg_size < sizeof(*hdr)) {
		rc = -EPROTO;
		goto fail;
	}
	plen = hdr->msg_size - sizeof(*hdr);
	if (plen > max) {
		rc = -EMSGSIZE;
		goto fail;
	}
	rc = sockio_read_full(c->fd, buf, plen);
	if (rc)
		goto fail;
	if (len)
		*len = plen;
	if (rfd)
		*rfd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return rc;
}

int vfu_client_call(struct vfu_client *c, uint16_t cmd, const void *req,
		    size_t len, const int *fds, unsigned nfds, void *reply,
		    size_t rmax, size_t *rlen, int *rfd)
{
	size_t total = sizeof(struct vfu_hdr) + len;
	uint8_t *msg = malloc(total);
	struct vfu_hdr h = { .msg_id = c->next_id++, .cmd = cmd,
			     .msg_size = (uint32_t)total,
			     .flags = VFU_F_COMMAND };
	struct vfu_hdr rh;
	uint8_t scratch[64];
	size_t got = 0;
	int rc;

	if (rfd)
		*rfd = -1;
	if (!msg)
		return -ENOMEM;
	memcpy(msg, &h, sizeof(h));
	if (len)
		memcpy(msg + sizeof(h), req, len);
	rc = vfu_client_send_raw(c, msg, total, fds, nfds);
	free(msg);
	if (rc)
		return rc;
	if (c->pump) {
		rc = c->pump(c->pump_opaque);
		if (rc)
			return rc;
	}
	rc = vfu_client_recv(c, &rh, reply ? reply : scratch,
			     reply ? rmax : sizeof(scratch), &got, rfd);
	if (rc)
		return rc;
	if (rh.msg_id != h.msg_id || rh.cmd != cmd ||
	    (rh.flags & VFU_F_TYPE_MASK) != VFU_F_REPLY) {
		if (rfd && *rfd >= 0)
			close(*rfd);
		return -EPROTO;
	}
	if (rh.flags & VFU_F_ERROR)
		return rh.error ? -(int)rh.error : -EIO;
	if (rlen)
		*rlen = got;
	return 0;
}

int vfu_client_version(struct vfu_client *c, const char *caps_json,
		       struct ptdm_err *err)
{
	const char *caps = caps_json ? caps_json :
		"{\"capabilities\":{\"max_msg_fds\":16,"
		"\"max_data_xfer_size\":1048576,\"max_dma_maps\":65535,"
		"\"pgsizes\":4096,\"write_multiple\":true,"
		"\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":268435456}}}";
	size_t jl = strlen(caps) + 1, rlen = 0;
	uint8_t *req = malloc(4 + jl);
	uint8_t rep[1100];
	struct json_object *root, *cj, *v;
	int rc;

	if (!req)
		return -ENOMEM;
	memset(req, 0, 4);
	memcpy(req + 4, caps, jl);
	rc = vfu_client_call(c, VFU_VERSION, req, 4 + jl, NULL, 0, rep,
			     sizeof(rep) - 1, &rlen, NULL);
	free(req);
	if (rc)
		return ptdm_errf(err, rc, "VERSION refused: %s", strerror(-rc));
	if (rlen < 5 || rep[rlen - 1] != 0)
		return ptdm_errf(err, -EPROTO, "VERSION reply malformed");
	snprintf(c->server_caps, sizeof(c->server_caps), "%s",
		 (char *)rep + 4);
	root = json_tokener_parse((char *)rep + 4);
	if (root && json_object_object_get_ex(root, "capabilities", &cj)) {
		if (json_object_object_get_ex(cj, "max_msg_fds", &v))
			c->server_max_fds = (uint32_t)json_object_get_int(v);
		if (json_object_object_get_ex(cj, "max_data_xfer_size", &v))
			c->server_max_xfer = (uint64_t)json_object_get_int64(v);
		if (json_object_object_get_ex(cj, "write_multiple", &v))
			c->server_write_multiple = json_object_get_boolean(v);
	}
	json_object_put(root);
	return 0;
}

int vfu_client_region_info(struct vfu_client *c, unsigned index,
			   struct vfu_region_info *info, void *caps,
			   size_t caps_max, int *fd)
{
	uint8_t buf[512];
	struct vfu_region_info q = { .argsz = (uint32_t)(sizeof(q) + caps_max),
				     .index = index };
	size_t len = 0;
	int rc;

	if (caps_max > sizeof(buf) - sizeof(q))
		return -EINVAL;
	rc = vfu_client_call(c, VFU_DEVICE_GET_REGION_INFO, &q, sizeof(q),
			     NULL, 0, buf, sizeof(buf), &len, fd);
	if (rc)
		return rc;
	if (len < sizeof(*info))
		return -EPROTO;
	memcpy(info, buf, sizeof(*info));
	if (caps && len > sizeof(*info))
		memcpy(caps, buf + sizeof(*info), len - sizeof(*info));
	return 0;
}

int vfu_client_irq_info(struct vfu_client *c, unsigned index,
			struct vfu_irq_info *info)
{
	struct vfu_irq_info q = { .argsz = sizeof(q), .index = index };
	size_t len = 0;
	int rc = vfu_client_call(c, VFU_DEVICE_GET_IRQ_INFO, &q, sizeof(q),
				 NULL, 0, info, sizeof(*info), &len, NULL);

	return rc ? rc : (len == sizeof(*info) ? 0 : -EPROTO);
}

int vfu_client_region_rw(struct vfu_client *c, unsigned region,
			 uint64_t offset, void *buf, uint32_t count, bool write)
{
	size_t len = sizeof(struct vfu_region_rw) + count, got = 0;
	struct vfu_region_rw *q = malloc(len);
	uint8_t *rep = malloc(len);
	int rc;

	if (!q || !rep) {
		free(q);
		free(rep);
		return -ENOMEM;
	}
	q->offset = offset;
	q->region = region;
	q->count = count;
	if (write)
		memcpy(q->data, buf, count);
	rc = vfu_client_call(c, write ? VFU_REGION_WRITE : VFU_REGION_READ, q,
			     write ? len : sizeof(*q), NULL, 0, rep, len, &got,
			     NULL);
	if (!rc && !write) {
		if (got != len)
			rc = -EPROTO;
		else
			memcpy(buf, rep + sizeof(*q), count);
	}
	free(q);
	free(rep);
	return rc;
}

int vfu_client_set_irqs(struct vfu_client *c, unsigned index, uint32_t flags,
			unsigned start, unsigned count, const int *fds)
{
	struct vfu_irq_set q = { .argsz = sizeof(q), .flags = flags,
				 .index = index, .start = start,
				 .count = count };
	unsigned nfds = (flags & VFIO_IRQ_SET_DATA_EVENTFD) && fds ? count : 0;

	return vfu_client_call(c, VFU_DEVICE_SET_IRQS, &q, sizeof(q), fds, nfds,
			       NULL, 0, NULL, NULL);
}

int vfu_client_dma_map(struct vfu_client *c, uint64_t iova, uint64_t size,
		       int fd, uint64_t offset, uint32_t prot)
{
	struct vfu_dma_map q = { .argsz = sizeof(q), .flags = prot,
				 .offset = offset, .addr = iova, .size = size };

	return vfu_client_call(c, VFU_DMA_MAP, &q, sizeof(q), &fd,
			       fd >= 0 ? 1 : 0, NULL, 0, NULL, NULL);
}

int vfu_client_dma_unmap(struct vfu_client *c, uint64_t iova, uint64_t size,
			 uint32_t flags)
{
	struct vfu_dma_unmap q = { .argsz = sizeof(q), .flags = flags,
				   .addr = iova, .size = size };
	struct vfu_dma_unmap r;

	return vfu_client_call(c, VFU_DMA_UNMAP, &q, sizeof(q), NULL, 0, &r,
			       sizeof(r), NULL, NULL);
}

int vfu_client_feature(struct vfu_client *c, uint32_t flags, const void *data,
		       size_t dlen, void *out, size_t omax, size_t *got)
{
	size_t max = 8 + (omax > dlen ? omax : dlen), len = 0;
	uint32_t argsz = (uint32_t)max;
	uint8_t *buf = malloc(max); /* the request, then the reply */
	int rc;

	if (got)
		*got = 0;
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &argsz, 4);
	memcpy(buf + 4, &flags, 4);
	if (dlen)
		memcpy(buf + 8, data, dlen);
	rc = vfu_client_call(c, VFU_DEVICE_FEATURE, buf, 8 + dlen, NULL, 0, buf,
			     max, &len, NULL);
	if (!rc && len > 8) {
		len = len - 8 < omax ? len - 8 : omax;
		if (out)
			memcpy(out, buf + 8, len);
		if (got)
			*got = len;
	}
	free(buf);
	return rc;
}
