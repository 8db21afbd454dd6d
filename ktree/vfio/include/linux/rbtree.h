/* SPDX-License-Identifier: GPL-2.0-only */
/* Shim <linux/rbtree.h> for the tree's vfio_iommu_type1.c: all in ktree_rbtree.h (pinsim's red-black tree). */
#include "ktree_rbtree.h"
