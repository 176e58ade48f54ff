/*
 * state.c - a device's migration state: what the guest programmed (the
 * virtual registers, the MSI-X table and PBA) and what the backend holds
 * (its own blob: for an image, config bytes and BAR memory).
 *
 *   "PTDMDEV1", u32 cfg_size, u32 msix_nvec, u32 host_len, u32 0,
 *   shadow[cfg_size], table[16 * nvec], pba[8 * ceil(nvec / 64)],
 *   host[host_len]
 *
 * A stream is untrusted input.  Loading checks sizes and identity first,
 * lets the backend validate its blob, then starts from power-on and
 * replays only the bits a guest could have written itself, through the
 * normal write path with host writes off: every rule (BAR masks, MSI
 * clamps, read-only bits) applies to what a stream says exactly as to
 * what a guest writes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/dev_priv.h"

#define MAGIC "PTDMDEV1"

struct state_head {
	char magic[8];
	uint32_t cfg_size, nvec, host_len, zero;
};

static size_t pba_len(unsigned nvec)
{
	return (size_t)msix_pba_bytes(nvec);
}

bool ptdm_dev_migratable(const struct ptdm_dev *d)
{
	return d->host->ops->state_save && d->host->ops->state_load &&
	       d->host->ops->state_max;
}

uint64_t ptdm_dev_state_max(const struct ptdm_dev *d)
{
	uint64_t host;

	if (!ptdm_dev_migratable(d))
		return 0;
	host = d->host->ops->state_max(d->host);
	if (host > UINT32_MAX)
		host = UINT32_MAX; /* host_len is a u32: save refuses more */
	return sizeof(struct state_head) + d->cfg_size +
	       (uint64_t)d->msix.nvec * 16 + pba_len(d->msix.nvec) + host;
}

int ptdm_dev_save(struct ptdm_dev *d, uint8_t **out, size_t *out_len)
{
	struct state_head hd = { .cfg_size = d->cfg_size,
				 .nvec = d->msix.nvec };
	uint8_t *host = NULL, *buf, *p;
	size_t host_len = 0, tlen = (size_t)msix_table_bytes(d->msix.nvec), len;
	int rc;

	if (!ptdm_dev_migratable(d))
		return -ENOTSUP;
	rc = d->host->ops->state_save(d->host, &host, &host_len);
	if (rc)
		return rc;
	if (host_len > UINT32_MAX) {
		free(host);
		return -EFBIG;
	}
	memcpy(hd.magic, MAGIC, 8);
	hd.host_len = (uint32_t)host_len;
	len = sizeof(hd) + d->cfg_size + tlen + pba_len(d->msix.nvec) + host_len;
	buf = malloc(len);
	if (!buf) {
		free(host);
		return -ENOMEM;
	}
	p = buf;
	memcpy(p, &hd, sizeof(hd));
	p += sizeof(hd);
	memcpy(p, d->shadow, d->cfg_size);
	p += d->cfg_size;
	if (tlen) {
		memcpy(p, d->msix.table, tlen);
		p += tlen;
		memcpy(p, d->msix.pba, pba_len(d->msix.nvec));
		p += pba_len(d->msix.nvec);
	}
	if (host_len)
		memcpy(p, host, host_len);
	free(host);
	*out = buf;
	*out_len = len;
	return 0;
}

static const unsigned identity[][2] = {
	{ PCI_VENDOR_ID, 4 }, { PCI_CLASS_REVISION, 4 },
	{ PCI_SUBSYSTEM_VENDOR_ID, 4 }, { PCI_HEADER_TYPE, 1 },
};

int ptdm_dev_load(struct ptdm_dev *d, const uint8_t *buf, size_t len)
{
	struct state_head hd;
	const uint8_t *shadow, *table, *pba, *host;
	size_t tlen = (size_t)msix_table_bytes(d->msix.nvec), need;
	int rc;

	if (!ptdm_dev_migratable(d))
		return -ENOTSUP;
	if (len < sizeof(hd))
		return -EINVAL;
	memcpy(&hd, buf, sizeof(hd));
	if (memcmp(hd.magic, MAGIC, 8) || hd.zero || hd.cfg_size != d->cfg_size ||
	    hd.nvec != d->msix.nvec)
		return -EINVAL;
	need = sizeof(hd) + d->cfg_size + tlen + pba_len(d->msix.nvec) +
	       hd.host_len;
	if (len != need)
		return -EINVAL;
	shadow = buf + sizeof(hd);
	table = shadow + d->cfg_size;
	pba = table + tlen;
	host = pba + pba_len(d->msix.nvec);
	/* the same device as here, as the guest sees it */
	for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++)
		if (memcmp(shadow + identity[i][0], d->shadow + identity[i][0],
			   identity[i][1]))
			return -ENODEV;
	rc = d->host->ops->state_load(d->host, host, hd.host_len);
	if (rc)
		return rc;

	/* from power-on, replay what a guest could have written */
	dev_reset_shadow(d);
	d->loading = true;
	for (unsigned i = 0; i < d->nslots; i++) {
		const struct cfg_slot *s = &d->slots[i];
		const struct cfg_reg *r = s->reg;
		uint32_t bits = r->write & r->virt & ~r->rw1c;
		uint32_t wm = r->size >= 4 ? ~0u : (1u << (8 * r->size)) - 1;

		if (!bits)
			continue;
		cfg_slot_write(d, s, cfg_le_get(shadow + s->base, r->size) & bits,
			       wm);
	}
	d->loading = false;
	/* MSI pending bits are state the guest cannot write: restore them,
	 * bounded to the vectors the device has */
	if (d->cap_msi >= 0) {
		struct ptdm_msi_state ms;
		unsigned pos = d->caps[d->cap_msi].info.pos;

		ptdm_msi_get(d, &ms);
		if (ms.maskable) {
			unsigned off = pos + (ms.is64 ? PCI_MSI_PENDING_64
						      : PCI_MSI_PENDING_32);
			uint32_t p = cfg_le_get(shadow + off, 4);

			for (unsigned v = 0; v < ms.nvec_max && v < 32; v++)
				ptdm_msi_set_pending(d, v, p & (1u << v));
		}
	}
	if (tlen) {
		/* vector control has only the mask bit; addresses are dword
		 * aligned: as the table write path would leave them */
		for (unsigned v = 0; v < d->msix.nvec; v++) {
			uint32_t e[4];

			memcpy(e, table + 16 * v, 16);
			e[0] &= ~3u;
			e[3] &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
			memcpy(&d->msix.table[4 * v], e, 16);
		}
		memcpy(d->msix.pba, pba, pba_len(d->msix.nvec));
		memset(d->msix.latched, 0, d->msix.nvec);
		dev_notify_msix(d, -1);
	}
	return 0;
}
