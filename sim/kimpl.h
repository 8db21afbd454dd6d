/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which code runs the kernel functions pinsim can also take from a kernel
 * tree: its own rewrite (sim/pagewalk.c, sim/task_mmu.c's numa_maps
 * callbacks, lib/follow_pfnmap.c) or the tree's (ktree/, compiled from
 * -Dkernel_tree at build time), chosen per machine by
 * machine_config.impl (pinsim_config.impl at the public edge).
 *
 * The tree's objects exist only in a -Dkernel_tree build.  They describe
 * themselves by defining ktree_kimpl (ktree/ktree_impl.c), declared weak
 * here so that sim/ and lib/ link without them: &ktree_kimpl is NULL in a
 * build without a tree, and machine_create() refuses MACHINE_IMPL_TREE then.
 *
 * The entry points switched are the ones the tree's files define and
 * pinsim's callers use: walk_page_range(), walk_page_range_vma(),
 * walk_page_vma() (every caller, numa_maps included, gets the tree's walker
 * with its own callbacks), the numa_maps walk of one VMA (the tree's walker
 * with the tree's gather_*_stats() callbacks, when the tree's
 * fs/proc/task_mmu.c part is built), and follow_pfnmap_start()/_end().
 * Not switched: walk_kernel_page_table_range*() and walk_page_range_debug()
 * (no scenario uses them on a tree).
 */
#ifndef SIM_KIMPL_H
#define SIM_KIMPL_H

#include "machine.h"

struct mm_struct;
struct vm_area_struct;
struct mm_walk_ops;
struct follow_pfnmap_args;

struct kimpl_ops {
	const char *tree_version;	/* Makefile VERSION.PATCHLEVEL.SUBLEVEL */
	const char *tree_path;		/* -Dkernel_tree as the build saw it */
	/* The profile matching the tree: its version or -Dkernel_tree_profile. */
	const char *tree_profile;
	int (*walk_page_range)(struct mm_struct *mm, unsigned long start, unsigned long end,
			       const struct mm_walk_ops *ops, void *private);
	int (*walk_page_range_vma)(struct vm_area_struct *vma, unsigned long start,
				   unsigned long end, const struct mm_walk_ops *ops,
				   void *private);
	int (*walk_page_vma)(struct vm_area_struct *vma, const struct mm_walk_ops *ops,
			     void *private);
	/*
	 * walk_page_vma(vma, &show_numa_ops, md) of the tree's
	 * fs/proc/task_mmu.c; @md is sim/task_mmu.c's struct numa_maps (the
	 * tree's layout).  NULL when that part of the tree is not built: the
	 * tree's walker then runs pinsim's callbacks.
	 */
	int (*numa_walk_vma)(struct vm_area_struct *vma, void *md);
	/* lib/vfio.h's struct follow_pfnmap_args, converted to the tree's. */
	int (*follow_pfnmap_start)(struct follow_pfnmap_args *args);
	void (*follow_pfnmap_end)(struct follow_pfnmap_args *args);
};

extern const struct kimpl_ops ktree_kimpl __attribute__((weak));

/* The tree's implementation, if it was built in (NULL otherwise). */
static inline const struct kimpl_ops *kimpl_tree_built(void)
{
	return &ktree_kimpl;
}

/* The tree's implementation if the current machine runs it, else NULL. */
static inline const struct kimpl_ops *kimpl_tree(void)
{
	if (__builtin_expect(machine && machine->cfg.impl == MACHINE_IMPL_TREE, 0))
		return &ktree_kimpl;
	return NULL;
}

#endif /* SIM_KIMPL_H */
