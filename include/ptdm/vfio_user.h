/*
 * vfio_user.h - the vfio-user wire format (QEMU docs/interop/vfio-user.rst),
 * as packed structs with their sizes and offsets asserted.  Flag values and
 * region/IRQ indices are <linux/vfio.h>'s, which the protocol reuses.
 *
 * Where QEMU 10.1's client and the spec differ, the client wins and the
 * difference is written here:
 *  - DMA_READ/DMA_WRITE (server to client): QEMU reads {u64 address;
 *    u32 count; data at 12 after the header} and wants a request of at
 *    least 32 bytes; its DMA_READ reply is 32 + count bytes with the data
 *    at 12.  The spec and libvfio-user say {u64 addr; u64 count; data at
 *    16}.  ptdm speaks QEMU's layout (struct vfu_dma_rw_qemu).
 *  - the spec's DMA_WRITE reply gives count 4 bytes; QEMU replies with the
 *    header only.  ptdm needs nothing from that reply but its status.
 */
#ifndef PTDM_VFIO_USER_H
#define PTDM_VFIO_USER_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>

/* Newer than Debian 12's <linux/vfio.h> */
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2)
#endif
#define VFU_STATE_PRE_COPY 6      /* VFIO_DEVICE_STATE_PRE_COPY */
#define VFU_STATE_PRE_COPY_P2P 7  /* VFIO_DEVICE_STATE_PRE_COPY_P2P */

#define VFU_MAJOR 0
#define VFU_MINOR 0

enum vfu_cmd {
	VFU_VERSION = 1,
	VFU_DMA_MAP = 2,
	VFU_DMA_UNMAP = 3,
	VFU_DEVICE_GET_INFO = 4,
	VFU_DEVICE_GET_REGION_INFO = 5,
	VFU_DEVICE_GET_REGION_IO_FDS = 6,
	VFU_DEVICE_GET_IRQ_INFO = 7,
	VFU_DEVICE_SET_IRQS = 8,
	VFU_REGION_READ = 9,
	VFU_REGION_WRITE = 10,
	VFU_DMA_READ = 11,
	VFU_DMA_WRITE = 12,
	VFU_DEVICE_RESET = 13,
	/* 14 unused (was DIRTY_PAGES) */
	VFU_REGION_WRITE_MULTI = 15,
	VFU_DEVICE_FEATURE = 16,
	VFU_MIG_DATA_READ = 17,
	VFU_MIG_DATA_WRITE = 18,
	VFU_CMD_MAX,
};

/* header flags */
#define VFU_F_TYPE_MASK 0xfu
#define VFU_F_COMMAND 0x0u
#define VFU_F_REPLY 0x1u
#define VFU_F_NO_REPLY 0x10u
#define VFU_F_ERROR 0x20u

struct vfu_hdr {
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t msg_size; /* header included */
	uint32_t flags;
	uint32_t error;    /* errno, in error replies */
} __attribute__((packed));

struct vfu_version {
	uint16_t major;
	uint16_t minor;
	char json[]; /* NUL-terminated capabilities */
} __attribute__((packed));

struct vfu_dma_map {
	uint32_t argsz;
	uint32_t flags; /* VFIO_USER_F_DMA_REGION_READ/WRITE */
	uint64_t offset;
	uint64_t addr;
	uint64_t size;
} __attribute__((packed));

#define VFU_DMA_READ_OK (1u << 0)
#define VFU_DMA_WRITE_OK (1u << 1)
#define VFU_DMA_UNMAP_ALL (1u << 1) /* QEMU's VFIO_DMA_UNMAP_FLAG_ALL */

struct vfu_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
} __attribute__((packed));

struct vfu_device_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI */
	uint32_t num_regions;
	uint32_t num_irqs;
} __attribute__((packed));

struct vfu_region_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_* */
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
} __attribute__((packed));

struct vfu_irq_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_IRQ_INFO_* */
	uint32_t index;
	uint32_t count;
} __attribute__((packed));

struct vfu_irq_set {
	uint32_t argsz;
	uint32_t flags; /* VFIO_IRQ_SET_* */
	uint32_t index;
	uint32_t start;
	uint32_t count;
	uint8_t data[];
} __attribute__((packed));

struct vfu_region_rw {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	uint8_t data[];
} __attribute__((packed));

#define VFU_WRITE_MULTI_DATA 8
struct vfu_write_multi_entry {
	uint64_t offset;
	uint32_t region;
	uint32_t count; /* <= 8 */
	uint8_t data[VFU_WRITE_MULTI_DATA];
} __attribute__((packed));

struct vfu_dma_rw { /* the spec's layout (not what QEMU reads) */
	uint64_t addr;
	uint64_t count;
	uint8_t data[];
} __attribute__((packed));

struct vfu_dma_rw_qemu { /* what ptdm sends: QEMU's VFIOUserDMARW */
	uint64_t addr;
	uint32_t count;
	uint8_t data[]; /* messages are padded to at least 16 + 16 bytes */
} __attribute__((packed));

struct vfu_device_feature {
	uint32_t argsz;
	uint32_t flags; /* index bits 0-15, GET 16, SET 17, PROBE 18 */
	uint8_t data[];
} __attribute__((packed));

struct vfu_mig_data {
	uint32_t argsz;
	uint32_t size;
	uint8_t data[];
} __attribute__((packed));

_Static_assert(sizeof(struct vfu_hdr) == 16, "vfu_hdr is 16 bytes");
_Static_assert(sizeof(struct vfu_dma_map) == 32, "vfu_dma_map is 32 bytes");
_Static_assert(sizeof(struct vfu_dma_unmap) == 24,
	       "vfu_dma_unmap is 24 bytes");
_Static_assert(sizeof(struct vfu_device_info) == 16,
	       "vfu_device_info is 16 bytes");
_Static_assert(sizeof(struct vfu_region_info) == 32,
	       "vfu_region_info is 32 bytes");
_Static_assert(offsetof(struct vfu_region_info, size) == 16,
	       "vfu_region_info.size at 16");
_Static_assert(sizeof(struct vfu_irq_info) == 16, "vfu_irq_info is 16 bytes");
_Static_assert(sizeof(struct vfu_irq_set) == 20, "vfu_irq_set is 20 bytes");
_Static_assert(sizeof(struct vfu_region_rw) == 16,
	       "vfu_region_rw is 16 bytes");
_Static_assert(sizeof(struct vfu_write_multi_entry) == 24,
	       "vfu_write_multi_entry is 24 bytes");
_Static_assert(sizeof(struct vfu_dma_rw) == 16, "vfu_dma_rw is 16 bytes");
_Static_assert(offsetof(struct vfu_dma_rw_qemu, data) == 12,
	       "QEMU's DMA data starts 12 bytes after the header");
_Static_assert(sizeof(struct vfu_device_feature) == 8,
	       "vfu_device_feature is 8 bytes");

#endif
