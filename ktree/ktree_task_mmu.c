// SPDX-License-Identifier: GPL-2.0-only
/*
 * ktree_numa_walk_vma(): show_numa_map()'s walk (fs/proc/task_mmu.c) with
 * the tree's own walker and callbacks.  The callbacks and struct numa_maps
 * are the tree's, cut out of its fs/proc/task_mmu.c at build time by
 * tools/kextract.py (ktree/meson.build) and #included here, so that the
 * static show_numa_ops is reachable; the kernel names they use come from
 * ktree/include/ktree_task_mmu_shim.h (forced in with -include).
 *
 * The caller's counts (struct ktree_numa_counts, and sim/task_mmu.c's
 * struct numa_maps) are handed to the tree's callbacks as their struct
 * numa_maps: the assertions below make a tree whose layout differs a build
 * failure rather than a wrong count.
 */
#include <stddef.h>

#include <linux/pagewalk.h>

#include "ktree_task_mmu.h"

#include "task_mmu_numa.inc"

#define KTREE_NUMA_SAME_MEMBER(m)                                                       \
	_Static_assert(offsetof(struct numa_maps, m) == offsetof(struct ktree_numa_counts, m) && \
		       sizeof(((struct numa_maps *)0)->m) ==                            \
		       sizeof(((struct ktree_numa_counts *)0)->m),                      \
		       "struct numa_maps: " #m)

_Static_assert(sizeof(struct numa_maps) == sizeof(struct ktree_numa_counts),
	       "struct numa_maps: size");
KTREE_NUMA_SAME_MEMBER(pages);
KTREE_NUMA_SAME_MEMBER(anon);
KTREE_NUMA_SAME_MEMBER(active);
KTREE_NUMA_SAME_MEMBER(writeback);
KTREE_NUMA_SAME_MEMBER(mapcount_max);
KTREE_NUMA_SAME_MEMBER(dirty);
KTREE_NUMA_SAME_MEMBER(swapcache);
KTREE_NUMA_SAME_MEMBER(node);

/* show_numa_map(): walk_page_vma(vma, &show_numa_ops, md), mmap_lock held by the caller. */
int ktree_numa_walk_vma(struct vm_area_struct *vma, struct ktree_numa_counts *md)
{
	void *private = md;

	return walk_page_vma(vma, &show_numa_ops, private);
}
