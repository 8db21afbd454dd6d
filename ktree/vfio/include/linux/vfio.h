/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim <linux/vfio.h>: the host's uapi <linux/vfio.h> (include_next).  What
 * the tree's vfio_iommu_type1.c uses of it (the type1 ioctls, their
 * structs and capability ids, VFIO_TYPE1_NESTING_IOMMU, VFIO_UNMAP_ALL,
 * VFIO_UPDATE_VADDR, VFIO_DMA_UNMAP_FLAG_ALL/VADDR, the dirty-bitmap
 * structs) has had the same numbers and layouts since v5.12 and is in 6.12
 * as in the uapi headers of Debian 12 (6.1): checked at build time by
 * ktree/vfio/ktree_vfio_type1_wrap.c's static assertions.  The kernel-side
 * part of <linux/vfio.h> the file needs (struct vfio_device,
 * vfio_register_iommu_driver, ...) is in the shim "vfio.h".
 */
#include_next <linux/vfio.h>
