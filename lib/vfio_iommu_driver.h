/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The container's IOMMU backend as the vfio core sees it: a table shaped
 * like struct vfio_iommu_driver_ops of drivers/vfio/vfio.h (6.12), so that
 * lib/vfio_fd.c drives either pinsim's type1 (lib/vfio_iommu_type1.c,
 * vfio_iommu_type1_rewrite) or a kernel tree's own
 * drivers/vfio/vfio_iommu_type1.c (ktree/, ktree_vfio_iommu_type1), chosen
 * per machine with the walker (machine_config.impl, --impl tree).
 *
 * Differences from the kernel's table, and why:
 *  - groups are named by id and IOMMU unit rather than by struct
 *    iommu_group: the front end has no iommu_group objects; the tree's
 *    adapter keeps one per id, behind the unit's simulated IOMMU;
 *  - ioctl takes the caller's struct as a pointer (it stands for user
 *    memory: the backend copies in and out as copy_from_user() and
 *    copy_to_user() would, NULL faulting);
 *  - group_domain, get_stats, nr_dmas and dma_avail are pinsim's
 *    observation points (device DMA, statistics, test assertions);
 *  - pin_pages/unpin_pages/dma_rw/register_device (emulated-IOMMU mdev
 *    devices) are not modelled.
 */
#ifndef LIB_VFIO_IOMMU_DRIVER_H
#define LIB_VFIO_IOMMU_DRIVER_H

#include <stdbool.h>

#include "vfio.h"

struct vfio_iommu_backend {
	const char *name;
	/* VFIO_SET_IOMMU: 0 with *data set, or -errno (-EINVAL for another type). */
	int (*open)(unsigned long arg, void **data);
	/* Container release: every dma removed (unmap, unpin, unaccount), domains freed. */
	void (*release)(void *data);
	/*
	 * With @data NULL only VFIO_CHECK_EXTENSION (the core polls drivers
	 * before any is set).  Returns >= 0 or -errno, -ENOTTY for unknown.
	 */
	long (*ioctl)(void *data, unsigned int cmd, void *arg);
	int (*attach_group)(void *data, int group_id, int iommu_unit, bool emulated);
	void (*detach_group)(void *data, int group_id);
	/* The domain @group_id's DMA goes through; NULL if none. */
	struct iommu_domain *(*group_domain)(void *data, int group_id);
	void (*get_stats)(void *data, struct vfio_type1_stats *st);
	unsigned int (*nr_dmas)(void *data);
	unsigned int (*dma_avail)(void *data);
};

/* pinsim's rewrite (lib/vfio_iommu_type1.c). */
extern const struct vfio_iommu_backend vfio_iommu_type1_rewrite;
/* The tree's, in a -Dkernel_tree build that compiles it; else NULL. */
extern const struct vfio_iommu_backend ktree_vfio_iommu_type1 __attribute__((weak));

#endif /* LIB_VFIO_IOMMU_DRIVER_H */
