/*
 * vfio_config.c - the device's config space through the config region:
 * the host_ops config accessors, bus mastering off, and what open reads
 * from config once (the MSI-X table and PBA location, the BAR kinds).
 */
#include <endian.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>

#include "host/vfio_priv.h"
#include "util/pci.h"

int vfio_cfg_rw(struct vfio_dev *v, unsigned off, void *buf, size_t len,
		bool write)
{
	if (off > v->h.cfg_size || len > v->h.cfg_size - off)
		return -EINVAL;
	return vfio_fd_rw(v->fd,
			  v->reg[VFIO_PCI_CONFIG_REGION_INDEX].offset + off,
			  buf, len, write);
}

static int cfg_read32(struct vfio_dev *v, unsigned off, uint32_t *val)
{
	uint32_t le;
	int rc = vfio_cfg_rw(v, off, &le, 4, false);

	*val = le32toh(le);
	return rc;
}

int vfio_cfg_read(struct host_dev *h, unsigned off, void *buf,
		  size_t len)
{
	return vfio_cfg_rw(to_vfio(h), off, buf, len, false);
}

int vfio_cfg_write(struct host_dev *h, unsigned off, const void *buf,
		   size_t len)
{
	return vfio_cfg_rw(to_vfio(h), off, (void *)buf, len, true);
}

void vfio_master_off(struct vfio_dev *v)
{
	uint16_t cmd;

	if (vfio_cfg_rw(v, PCI_COMMAND, &cmd, 2, false)) {
		ptdm_log(PTDM_LOG_WARN, "%s: cannot read COMMAND to turn bus "
			 "mastering off", v->h.name);
		return;
	}
	if (!(le16toh(cmd) & PCI_COMMAND_MASTER))
		return;
	cmd = htole16(le16toh(cmd) & ~PCI_COMMAND_MASTER);
	if (vfio_cfg_rw(v, PCI_COMMAND, &cmd, 2, true))
		ptdm_log(PTDM_LOG_WARN, "%s: cannot turn bus mastering off",
			 v->h.name);
}

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* Find the MSI-X table and PBA through the validated walker (util/pci.h)
 * over the standard config space; a broken chain finds what comes before
 * the break. */
void vfio_find_msix(struct vfio_dev *v)
{
	uint8_t cfg[PTDM_CFG_LEGACY_SIZE];
	uint32_t ctrl, table, pba;
	unsigned pos, nvec;

	memset(&v->msix, 0, sizeof(v->msix));
	if (vfio_cfg_rw(v, 0, cfg, sizeof(cfg), false))
		return;
	pos = capwalk_find(cfg, sizeof(cfg), false, PCI_CAP_ID_MSIX);
	if (!pos || pos + PCI_CAP_MSIX_SIZEOF > sizeof(cfg))
		return;
	ctrl = le32_at(cfg + pos);
	table = le32_at(cfg + pos + PCI_MSIX_TABLE);
	pba = le32_at(cfg + pos + PCI_MSIX_PBA);
	nvec = ((ctrl >> 16) & PCI_MSIX_FLAGS_QSIZE) + 1;
	v->msix.table_bar = (int)(table & PCI_MSIX_TABLE_BIR);
	v->msix.table_off = table & PCI_MSIX_TABLE_OFFSET;
	v->msix.table_len = (uint64_t)nvec * PCI_MSIX_ENTRY_SIZE;
	v->msix.pba_bar = (int)(pba & PCI_MSIX_PBA_BIR);
	v->msix.pba_off = pba & PCI_MSIX_PBA_OFFSET;
	v->msix.pba_len = (uint64_t)(nvec + 63) / 64 * 8;
	v->msix.present = true;
}

/* BAR kinds and sizes from region info and the BAR registers. */
int vfio_fill_bars(struct vfio_dev *v)
{
	struct host_bar *bars = v->h.bars;

	memset(bars, 0, sizeof(v->h.bars));
	for (int i = 0; i < PTDM_NUM_BARS; i++) {
		const struct ptdm_vfio_region *r = &v->reg[i];
		uint32_t reg;
		int rc;

		bars[i].size_known = true;
		if (!r->size)
			continue;
		rc = cfg_read32(v, PCI_BASE_ADDRESS_0 + 4u * (unsigned)i, &reg);
		if (rc)
			return rc;
		bars[i].kind = host_bar_decode(reg, i, &bars[i].prefetch);
		if (bars[i].kind == HOST_BAR_NONE)
			continue; /* a reserved type: not usable */
		bars[i].size = r->size;
		if (bars[i].kind == HOST_BAR_MEM64) {
			bars[i + 1].kind = HOST_BAR_MEM64_HI;
			bars[i + 1].size_known = true;
			i++;
		}
	}
	bars[PTDM_ROM_INDEX].size_known = true;
	if (v->reg[VFIO_PCI_ROM_REGION_INDEX].size) {
		bars[PTDM_ROM_INDEX].kind = HOST_BAR_ROM;
		bars[PTDM_ROM_INDEX].size =
			v->reg[VFIO_PCI_ROM_REGION_INDEX].size;
	}
	return 0;
}
