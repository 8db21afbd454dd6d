/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tree's follow_pfnmap_start()/follow_pfnmap_end() (cut out of
 * mm/memory.c of -Dkernel_tree by ktree/meson.build, symbols ktree_*), for
 * callers that also include pinsim's lib/vfio.h.
 *
 * struct follow_pfnmap_args is declared in the kernel by the tree's
 * include/linux/mm.h, which pinsim neither fetches (scripts/
 * kernel-tree-files.txt) nor could include (it drags in the whole kernel).
 * So it is declared here, by hand, with the 6.12.y layout: no addr_mask
 * (that output came with 62fb8adc43af in v6.15), and named
 * ktree_follow_pfnmap_args: ktree/ktree_rename.h renames the tag in the
 * tree's code, so the two layouts can meet in one test next to lib/vfio.h,
 * whose struct follow_pfnmap_args has addr_mask.  Against a tree of
 * another layout the build fails rather than misbehaves: its
 * pfnmap_args_setup() assigns args->addr_mask, which this struct lacks.
 */
#ifndef KTREE_MEMORY_H_
#define KTREE_MEMORY_H_

#include <stdbool.h>

#include "pgtable.h"
#include "spinlock.h"

struct vm_area_struct;

/* include/linux/mm.h (6.12.y): same members, same order. */
struct ktree_follow_pfnmap_args {
	/* inputs */
	struct vm_area_struct *vma;
	unsigned long address;
	/* internals */
	spinlock_t *lock;
	pte_t *ptep;
	/* outputs */
	unsigned long pfn;
	pgprot_t pgprot;
	bool writable;
	bool special;
};

int ktree_follow_pfnmap_start(struct ktree_follow_pfnmap_args *args);
void ktree_follow_pfnmap_end(struct ktree_follow_pfnmap_args *args);

#endif /* KTREE_MEMORY_H_ */
