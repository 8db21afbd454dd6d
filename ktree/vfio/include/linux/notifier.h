/* SPDX-License-Identifier: GPL-2.0-only */
/* Shim <linux/notifier.h> for the tree's vfio_iommu_type1.c: all in ktree_vfio_shim.h, forced first into the compilation (see there for what is mapped, adapted and stubbed). */
#include "ktree_vfio_shim.h"
