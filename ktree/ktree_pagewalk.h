/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tree's walker (mm/pagewalk.c of -Dkernel_tree, symbols ktree_*), for
 * callers that include pinsim's sim/pagewalk.h.  The two headers cannot
 * meet in one translation unit (same struct names), so these prototypes
 * use pinsim's struct mm_walk_ops and struct mm_walk: the tree's
 * include/linux/pagewalk.h lays them out identically in 6.12.y (same
 * members, same order, enum values equal for the values both have), which
 * KTREE_ASSERT_WALK_ABI() checks on each side at compile time.
 *
 * Not declared: walk_page_mapping() (pinsim's address_space keeps an
 * unordered list, not the interval tree its loop walks) and
 * folio_walk_start() (struct folio_walk is only in the tree's header).
 */
#ifndef KTREE_PAGEWALK_H_
#define KTREE_PAGEWALK_H_

#include <stddef.h>

struct mm_struct;
struct vm_area_struct;
struct mm_walk_ops;

/* The ABI both headers must share; expanded once on each side. */
#define KTREE_ASSERT_WALK_ABI()                                                               \
	_Static_assert(offsetof(struct mm_walk_ops, pgd_entry) == 0 * sizeof(void *), "ops");   \
	_Static_assert(offsetof(struct mm_walk_ops, pte_hole) == 5 * sizeof(void *), "ops");    \
	_Static_assert(offsetof(struct mm_walk_ops, post_vma) == 9 * sizeof(void *), "ops");    \
	_Static_assert(offsetof(struct mm_walk_ops, walk_lock) == 10 * sizeof(void *), "ops");  \
	_Static_assert(sizeof(((struct mm_walk_ops *)0)->walk_lock) == sizeof(int), "lock");    \
	_Static_assert(offsetof(struct mm_walk, ops) == 0, "walk");                             \
	_Static_assert(offsetof(struct mm_walk, mm) == 1 * sizeof(void *), "walk");             \
	_Static_assert(offsetof(struct mm_walk, pgd) == 2 * sizeof(void *), "walk");            \
	_Static_assert(offsetof(struct mm_walk, vma) == 3 * sizeof(void *), "walk");            \
	_Static_assert(offsetof(struct mm_walk, action) == 4 * sizeof(void *), "walk");         \
	_Static_assert(sizeof(((struct mm_walk *)0)->action) == sizeof(int), "action");         \
	_Static_assert(offsetof(struct mm_walk, no_vma) == 4 * sizeof(void *) + sizeof(int),    \
		       "walk");                                                                 \
	_Static_assert(offsetof(struct mm_walk, private) == 5 * sizeof(void *), "walk");        \
	_Static_assert(sizeof(struct mm_walk) == 6 * sizeof(void *), "walk");                   \
	_Static_assert(ACTION_SUBTREE == 0 && ACTION_CONTINUE == 1 && ACTION_AGAIN == 2,       \
		       "actions");                                                              \
	_Static_assert(PGWALK_RDLOCK == 0 && PGWALK_WRLOCK == 1 && PGWALK_WRLOCK_VERIFY == 2,  \
		       "locks")

int ktree_walk_page_range(struct mm_struct *mm, unsigned long start, unsigned long end,
			  const struct mm_walk_ops *ops, void *private);
int ktree_walk_page_vma(struct vm_area_struct *vma, const struct mm_walk_ops *ops,
			void *private);
int ktree_walk_page_range_vma(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, const struct mm_walk_ops *ops, void *private);

#endif /* KTREE_PAGEWALK_H_ */
