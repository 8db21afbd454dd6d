/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim "vfio.h" (drivers/vfio/vfio.h) and the vfio core of
 * drivers/vfio/vfio_main.c / container.c that the tree's
 * vfio_iommu_type1.c uses, pinsim's own:
 *   enum vfio_group_type (VFIO_IOMMU, VFIO_EMULATED_IOMMU, VFIO_NO_IOMMU);
 *   struct vfio_iommu_driver_ops (the 6.12 members, same order);
 *   vfio_register_iommu_driver() -> records the ops (one driver: this
 *     file's), read back by the wrapper; vfio_unregister_iommu_driver()
 *     forgets them;
 *   struct vfio_device, struct vfio_device_ops: the members the file reads
 *     (ops->dma_unmap, iommu_entry); no device is ever registered through
 *     the table (register_device is an emulated-IOMMU mdev's), so
 *     vfio_notify_dma_unmap() finds an empty list;
 *   struct vfio_info_cap, vfio_info_cap_add(), vfio_info_add_capability(),
 *     vfio_info_cap_shift(): the capability chain of GET_INFO, with
 *     vfio_main.c's behaviour: each capability appended at the end of the
 *     buffer (its size rounded up to 8 bytes, zeroed), the previous last
 *     header's next set to its offset; shifting adds the offset of the
 *     chain in the user's buffer to every next but the last's (0).
 */
#ifndef KTREE_DRIVERS_VFIO_VFIO_H
#define KTREE_DRIVERS_VFIO_VFIO_H

#include <linux/vfio.h>

#include "ktree_vfio_shim.h"

enum vfio_group_type {
	VFIO_IOMMU,
	VFIO_EMULATED_IOMMU,
	VFIO_NO_IOMMU,
};

struct vfio_device;

struct vfio_device_ops {
	void (*dma_unmap)(struct vfio_device *vdev, u64 iova, u64 length);
};

struct vfio_device {
	const struct vfio_device_ops *ops;
	struct list_head iommu_entry;
};

struct module;

struct vfio_iommu_driver_ops {
	char *name;
	struct module *owner;
	void *(*open)(unsigned long arg);
	void (*release)(void *iommu_data);
	long (*ioctl)(void *iommu_data, unsigned int cmd, unsigned long arg);
	int (*attach_group)(void *iommu_data, struct iommu_group *group,
			    enum vfio_group_type type);
	void (*detach_group)(void *iommu_data, struct iommu_group *group);
	int (*pin_pages)(void *iommu_data, struct iommu_group *group, dma_addr_t user_iova,
			 int npage, int prot, struct page **pages);
	void (*unpin_pages)(void *iommu_data, dma_addr_t user_iova, int npage);
	void (*register_device)(void *iommu_data, struct vfio_device *vdev);
	void (*unregister_device)(void *iommu_data, struct vfio_device *vdev);
	int (*dma_rw)(void *iommu_data, dma_addr_t user_iova, void *data, size_t count,
		      bool write);
	struct iommu_domain *(*group_iommu_domain)(void *iommu_data, struct iommu_group *group);
};

/* The registered driver (ktree/vfio/ktree_vfio_type1_wrap.c). */
extern const struct vfio_iommu_driver_ops *ktree_vfio_iommu_driver;

static inline int vfio_register_iommu_driver(const struct vfio_iommu_driver_ops *ops)
{
	if (ktree_vfio_iommu_driver && ktree_vfio_iommu_driver != ops)
		return -EEXIST;
	ktree_vfio_iommu_driver = ops;
	return 0;
}

static inline void vfio_unregister_iommu_driver(const struct vfio_iommu_driver_ops *ops)
{
	if (ktree_vfio_iommu_driver == ops)
		ktree_vfio_iommu_driver = NULL;
}

struct vfio_info_cap {
	struct vfio_info_cap_header *buf;
	size_t size;
};

static inline struct vfio_info_cap_header *vfio_info_cap_add(struct vfio_info_cap *caps,
							     size_t size, u16 id, u16 version)
{
	struct vfio_info_cap_header *header, *last;
	char *buf;

	size = ALIGN(size, sizeof(u64));
	buf = realloc(caps->buf, caps->size + size);
	if (!buf) {
		free(caps->buf);
		caps->buf = NULL;
		caps->size = 0;
		return ERR_PTR(-ENOMEM);
	}
	caps->buf = (struct vfio_info_cap_header *)buf;
	header = (struct vfio_info_cap_header *)(buf + caps->size);
	memset(header, 0, size);
	header->id = id;
	header->version = version;
	for (last = caps->buf; last->next; last = (struct vfio_info_cap_header *)(buf + last->next))
		;
	last->next = (u32)caps->size;	/* 0 for the first: a no-op */
	caps->size += size;
	return header;
}

static inline void vfio_info_cap_shift(struct vfio_info_cap *caps, size_t offset)
{
	char *buf = (char *)caps->buf;
	struct vfio_info_cap_header *h;

	WARN_ON(!IS_ALIGNED(offset, sizeof(u64)));
	for (h = caps->buf; h->next; h = (struct vfio_info_cap_header *)(buf + h->next - offset))
		h->next += (u32)offset;
}

static inline int vfio_info_add_capability(struct vfio_info_cap *caps,
					   struct vfio_info_cap_header *cap, size_t size)
{
	struct vfio_info_cap_header *header = vfio_info_cap_add(caps, size, cap->id, cap->version);

	if (IS_ERR(header))
		return (int)PTR_ERR(header);
	memcpy(header + 1, cap + 1, size - sizeof(*header));
	return 0;
}

#endif /* KTREE_DRIVERS_VFIO_VFIO_H */
