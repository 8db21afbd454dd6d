/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Forced first into the compilation of the tree's mm/pagewalk.c and of the
 * part of its mm/memory.c pinsim extracts (-include): every function they
 * define with external linkage in 6.12.y, renamed ktree_*, so that the
 * objects link next to pinsim's rewrites of the same names in
 * sim/pagewalk.c and lib/follow_pfnmap.c.  The macros also rename the
 * prototypes in the tree's include/linux/pagewalk.h and in the shim's
 * mm/internal.h, so declaration and definition agree.
 *
 * A preprocessor rename rather than objcopy --prefix-symbols: objcopy
 * would prefix the undefined symbols too (find_vma, split_huge_pmd, ...),
 * which must stay pinsim's; --redefine-sym per symbol would work but needs
 * the same list as here.  A name mm/pagewalk.c (or the extract) gains in another tree and
 * this list lacks is caught by the kernel-tree suite's symbol check
 * (tests/ktree/check_symbols.sh): every defined global must be ktree_*.
 */
#ifndef KTREE_RENAME_H
#define KTREE_RENAME_H

#define walk_page_range ktree_walk_page_range
#define walk_kernel_page_table_range ktree_walk_kernel_page_table_range
#define walk_page_range_debug ktree_walk_page_range_debug
#define walk_page_range_novma ktree_walk_page_range_novma
#define walk_page_range_mm ktree_walk_page_range_mm
#define walk_page_range_vma ktree_walk_page_range_vma
#define walk_page_vma ktree_walk_page_vma
#define walk_page_mapping ktree_walk_page_mapping
#define folio_walk_start ktree_folio_walk_start

/*
 * mm/memory.c: only the functions ktree/meson.build extracts (the static
 * helpers among them need no rename), and the tag of their argument struct,
 * declared by ktree/ktree_memory.h with the tree's layout.
 */
#define follow_pfnmap_start ktree_follow_pfnmap_start
#define follow_pfnmap_end ktree_follow_pfnmap_end
#define follow_pfnmap_args ktree_follow_pfnmap_args

/*
 * fs/proc/task_mmu.c: what ktree/meson.build extracts (struct numa_maps,
 * gather_*_stats(), can_gather_numa_stats*(), show_numa_ops) is all static
 * and is #included by ktree/ktree_task_mmu.c, whose one global is already
 * ktree_numa_walk_vma(): nothing to rename.  Its walk_page_vma() call is
 * renamed above, so the numa_maps walk runs the tree's walker.
 */

#endif /* KTREE_RENAME_H */
