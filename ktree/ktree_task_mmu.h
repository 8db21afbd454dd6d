/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The numa_maps walk of the tree's fs/proc/task_mmu.c (-Dkernel_tree):
 * walk_page_vma(vma, &show_numa_ops, md) with the tree's own walker
 * (mm/pagewalk.c, built as ktree_walk_page_vma) and its own callbacks
 * (gather_pte_stats(), gather_hugetlb_stats(), gather_stats(), cut out at
 * build time by ktree/meson.build), for callers that include pinsim's
 * headers: nothing here needs the tree's.  show_numa_map() itself, the
 * seq_file text, stays pinsim's (sim/task_mmu.c).
 */
#ifndef KTREE_TASK_MMU_H_
#define KTREE_TASK_MMU_H_

struct vm_area_struct;

/* Counts of fs/proc/task_mmu.c struct numa_maps (6.12.y), MAX_NUMNODES = 1. */
struct ktree_numa_counts {
	unsigned long pages, anon, active, writeback, mapcount_max,
		      dirty, swapcache, node[1];
};

/* The tree's walk_page_vma(vma, &show_numa_ops, md) with the tree's own
 * walker and callbacks; caller holds mmap_lock for read (show_numa_map()
 * is called from m_start() under it).  Returns walk_page_vma()'s result. */
int ktree_numa_walk_vma(struct vm_area_struct *vma, struct ktree_numa_counts *md);

#endif /* KTREE_TASK_MMU_H_ */
