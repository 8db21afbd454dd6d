/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim for mm/internal.h, found by the tree's mm/pagewalk.c through its
 * `#include "internal.h"` (the file is compiled from a copy in the build
 * directory, so the tree's own mm/internal.h is never seen).
 *
 * Declares: walk_page_range_debug() (mm/internal.h declares it in 6.12.y;
 *   renamed ktree_ by ktree_rename.h like the definition).  Nothing else of
 *   mm/internal.h is used by mm/pagewalk.c in 6.12.y.
 */
#ifndef KTREE_MM_INTERNAL_H
#define KTREE_MM_INTERNAL_H

#include <linux/pagewalk.h>

int walk_page_range_debug(struct mm_struct *mm, unsigned long start, unsigned long end,
			  const struct mm_walk_ops *ops, pgd_t *pgd, void *private);

#endif /* KTREE_MM_INTERNAL_H */
