/*
 * host.c - small helpers shared by every host backend: BAR kind names,
 * the one decoder of a BAR register's kind bits, and migration v2 for a
 * backend that saves and loads its state as one blob (an image): the
 * blob is the whole backend stream, taken at STOP->STOP_COPY, collected
 * in RESUMING up to the backend's state_max and loaded (validated by the
 * backend first) at RESUMING->STOP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "ptdm/host.h"

const char *host_bar_kind_name(enum host_bar_kind k)
{
	switch (k) {
	case HOST_BAR_IO:
		return "io";
	case HOST_BAR_MEM32:
		return "mem32";
	case HOST_BAR_MEM64:
		return "mem64";
	case HOST_BAR_MEM64_HI:
		return "mem64-upper";
	case HOST_BAR_ROM:
		return "rom";
	case HOST_BAR_NONE:
		break;
	}
	return "none";
}

enum host_bar_kind host_bar_decode(uint32_t reg, int bar, bool *prefetch)
{
	*prefetch = false;
	if (reg & PCI_BASE_ADDRESS_SPACE_IO)
		return HOST_BAR_IO;
	*prefetch = reg & PCI_BASE_ADDRESS_MEM_PREFETCH;
	switch (reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) {
	case PCI_BASE_ADDRESS_MEM_TYPE_32:
	case PCI_BASE_ADDRESS_MEM_TYPE_1M:
		return HOST_BAR_MEM32;
	case PCI_BASE_ADDRESS_MEM_TYPE_64:
		if (bar >= 0 && bar + 1 < PTDM_NUM_BARS)
			return HOST_BAR_MEM64;
		break;
	default:
		break;
	}
	*prefetch = false;
	return HOST_BAR_NONE;
}

struct host_blob_mig {
	uint32_t state;
	uint8_t *buf;
	size_t len, pos;
};

static bool blob_capable(const struct host_dev *h)
{
	return h->ops->state_save && h->ops->state_load && h->ops->state_max;
}

static struct host_blob_mig *blob_get(struct host_dev *h)
{
	if (!h->blob_mig) {
		h->blob_mig = calloc(1, sizeof(*h->blob_mig));
		if (h->blob_mig)
			h->blob_mig->state = VFIO_DEVICE_STATE_RUNNING;
	}
	return h->blob_mig;
}

static void blob_drop(struct host_blob_mig *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->pos = 0;
}

void host_blob_mig_free(struct host_dev *h)
{
	if (h && h->blob_mig) {
		blob_drop(h->blob_mig);
		free(h->blob_mig);
		h->blob_mig = NULL;
	}
}

int host_blob_mig_flags(struct host_dev *h, uint64_t *flags)
{
	if (!blob_capable(h))
		return -ENOTSUP;
	*flags = VFIO_MIGRATION_STOP_COPY;
	return 0;
}

int host_blob_mig_set_state(struct host_dev *h, uint32_t to)
{
	struct host_blob_mig *b;
	uint32_t from;
	int rc;

	if (!blob_capable(h))
		return -ENOTSUP;
	b = blob_get(h);
	if (!b)
		return -ENOMEM;
	from = b->state;
	if (to == VFIO_DEVICE_STATE_RUNNING && from != VFIO_DEVICE_STATE_STOP) {
		/* a reset: whatever was being saved or loaded is dropped,
		 * nothing of it reaches the device */
		blob_drop(b);
	} else if (from == VFIO_DEVICE_STATE_STOP &&
		   to == VFIO_DEVICE_STATE_STOP_COPY) {
		uint8_t *buf = NULL;
		size_t len = 0;

		rc = h->ops->state_save(h, &buf, &len);
		if (rc)
			return rc;
		blob_drop(b);
		b->buf = buf;
		b->len = len;
	} else if (from == VFIO_DEVICE_STATE_RESUMING &&
		   to == VFIO_DEVICE_STATE_STOP) {
		rc = h->ops->state_load(h, b->buf, b->len);
		blob_drop(b);
		if (rc)
			return rc; /* still RESUMING: a fresh stream may come */
	} else if ((from == VFIO_DEVICE_STATE_STOP_COPY &&
		    to == VFIO_DEVICE_STATE_STOP) ||
		   (from == VFIO_DEVICE_STATE_STOP &&
		    to == VFIO_DEVICE_STATE_RESUMING)) {
		blob_drop(b);
	} else if (!((from == VFIO_DEVICE_STATE_RUNNING &&
		      to == VFIO_DEVICE_STATE_STOP) ||
		     (from == VFIO_DEVICE_STATE_STOP &&
		      to == VFIO_DEVICE_STATE_RUNNING) || from == to)) {
		return -EINVAL;
	}
	b->state = to;
	return 0;
}

int host_blob_mig_data_read(struct host_dev *h, void *buf, size_t len,
			    size_t *got)
{
	struct host_blob_mig *b = h->blob_mig;
	size_t n;

	if (!b || b->state != VFIO_DEVICE_STATE_STOP_COPY)
		return -EINVAL;
	n = b->len - b->pos < len ? b->len - b->pos : len;
	if (n)
		memcpy(buf, b->buf + b->pos, n);
	b->pos += n;
	*got = n;
	return 0;
}

int host_blob_mig_data_write(struct host_dev *h, const void *buf, size_t len)
{
	struct host_blob_mig *b = h->blob_mig;
	uint8_t *n;

	if (!b || b->state != VFIO_DEVICE_STATE_RESUMING)
		return -EINVAL;
	/* no state of this device is larger: refuse the rest */
	if (len > h->ops->state_max(h) - b->len)
		return -EFBIG;
	n = realloc(b->buf, b->len + len + 1);
	if (!n)
		return -ENOMEM;
	b->buf = n;
	memcpy(b->buf + b->len, buf, len);
	b->len += len;
	return 0;
}

int host_blob_mig_data_size(struct host_dev *h, uint64_t *bytes)
{
	struct host_blob_mig *b = h->blob_mig;

	if (!blob_capable(h))
		return -ENOTSUP;
	if (b && b->state == VFIO_DEVICE_STATE_STOP_COPY)
		*bytes = b->len - b->pos;
	else
		*bytes = h->ops->state_max(h); /* at most this much */
	return 0;
}
