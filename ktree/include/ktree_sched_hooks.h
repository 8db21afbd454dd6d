/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Schedule points for the tree's code without editing it: the race windows
 * sim/pagewalk.c and lib/follow_pfnmap.c open with a direct sched_point()
 * call are opened in the tree's mm/pagewalk.c and follow_pfnmap_start()
 * by wrapping the primitive each one calls at that very place.  The point
 * then comes at the same program position relative to the reads of shared
 * state as in the rewrite, with the same id, mm and address, so that
 * sched_explore() offers the scheduler the same choices in both and a
 * schedule string means the same interleaving (tests/ktree/
 * test_ktree_explore_diff.c checks that, schedule by schedule).  pinsim's
 * scheduler, not kernel behaviour: nothing here changes what the code does.
 *
 * Forced (-include, after ktree_rename.h) into one compilation each by
 * ktree/meson.build, which says which by defining one of:
 *
 *   KTREE_SCHED_HOOKS_PAGEWALK  the tree's mm/pagewalk.c:
 *     pudp_get, pmd_offset -> sim's, preceded in walk_pmd_range() only by
 *       sched_point(SP_WALK_PMD_ENTRY, walk->mm, addr), as sim/pagewalk.c
 *       has it first thing in walk_pmd_range(), before any read of the PUD.
 *   KTREE_SCHED_HOOKS_MEMORY    follow_pfnmap_start/_end cut out of the
 *     tree's mm/memory.c:
 *     pud_lock, pmd_lock -> sim's, preceded in follow_pfnmap_start() by
 *       sched_point(SP_FOLLOW_PFNMAP_LOCKLESS, mm, address), as
 *       lib/follow_pfnmap.c has it between the lockless read of a leaf and
 *       taking its lock.
 *
 * (split_huge_pud/pmd, the points after the walker's splits, are in the shim
 * <linux/mm.h>; SP_PTL and SP_MMAP_LOCK come from sim's locks themselves.)
 *
 * The shim headers the compilations include are included here first, so
 * the wrappers apply only to the tree's own code, never to the shim's
 * inline helpers (hugetlb_walk() reads PUDs too).  A wrapper names the
 * caller's locals (walk, addr; address): a new caller without them in a
 * future tree is a build error, to be looked at, not a silent point.
 */
#ifndef KTREE_SCHED_HOOKS_H
#define KTREE_SCHED_HOOKS_H

#include <stdbool.h>
#include <string.h>

#include <linux/mm.h>

#include "sched_point.h"

#if defined(KTREE_SCHED_HOOKS_PAGEWALK)

#include <linux/hugetlb.h>
#include <linux/pagewalk.h>

/*
 * walk_pmd_range() entry.  Its first read of shared state is of the PUD it
 * was handed, through the first of two primitives, depending on the tree:
 *  - with 3b89863c3fa4 (6.12.84 on, v7.0): `pud_t pudval = pudp_get(pud);`,
 *    the function's first statement; pmd_offset(pud, addr) comes after the
 *    pud_present()/pud_leaf() checks of that local copy, and re-reads the
 *    PUD, but the window is already open;
 *  - before it (6.12.74): `pmd = pmd_offset(pud, addr);` is the first
 *    statement, and pmd_offset() reads the PUD (sim/pgtable.h).
 * Nothing in walk_pmd_range() runs before either but local declarations.
 * So the point goes before walk_pmd_range()'s pudp_get(), and before its
 * pmd_offset() unless that pudp_get() just took it for the same PUD on this
 * thread (a fixed tree: only the pud_present()/pud_leaf() tests of a local
 * lie in between, so the note cannot be a stale one from another call).
 *
 * Every use of the two in 6.12.118's mm/pagewalk.c: walk_pmd_range()
 * (pudp_get once, pmd_offset once: one point per call, at entry) and
 * folio_walk_start() (pudp_get twice, pmd_offset once: no point — the
 * rewrite has none there, and it has no `walk`).  The wrappers test
 * __func__, so a use anywhere else gets no point either.
 *
 * `walk` and `addr` are walk_pmd_range()'s parameters, as they are named
 * in every tree since 2.6.  Elsewhere `walk` resolves to the NULL below:
 * folio_walk_start() has no walk, and the functions with a local `walk`
 * (a struct, not a pointer) are not the caller of these wrappers.
 */
static struct mm_walk *const walk __attribute__((unused)) = NULL;

/* The PUD whose walk_pmd_range() entry the pudp_get() wrapper took. */
static __sim_tls const pud_t *ktree_pmd_entry_pud;

static inline bool ktree_in_walk_pmd_range(const char *func, struct mm_walk *w)
{
	return w && !strcmp(func, "walk_pmd_range");
}

static inline const pud_t *ktree_hook_pudp_get(const char *func, struct mm_walk *w,
					       unsigned long a, const pud_t *pud)
{
	if (ktree_in_walk_pmd_range(func, w)) {
		sched_point(SP_WALK_PMD_ENTRY, w->mm, a);
		ktree_pmd_entry_pud = pud;
	}
	return pud;
}

static inline pud_t *ktree_hook_pmd_offset(const char *func, struct mm_walk *w,
					   unsigned long a, pud_t *pud)
{
	if (ktree_in_walk_pmd_range(func, w)) {
		if (ktree_pmd_entry_pud == pud)
			ktree_pmd_entry_pud = NULL;	/* taken at the pudp_get() */
		else
			sched_point(SP_WALK_PMD_ENTRY, w->mm, a);
	}
	return pud;
}

/* sim/pgtable.h's pudp_get(), with the caller's __func__ for its oops records. */
#undef pudp_get
#define pudp_get(p) __pud(__entry_load(ktree_hook_pudp_get(__func__, walk, addr, (p)), __func__))

#define pmd_offset(pud, a) pmd_offset(ktree_hook_pmd_offset(__func__, walk, (a), (pud)), (a))

#elif defined(KTREE_SCHED_HOOKS_MEMORY)

/*
 * follow_pfnmap_start(): lib/follow_pfnmap.c calls
 * sched_point(SP_FOLLOW_PFNMAP_LOCKLESS, mm, address) right before
 * pud_lock() and before pmd_lock(), once the lockless pudp_get() /
 * pmdp_get_lockless() saw a leaf: the window in which a zap or a split can
 * change the entry before the lock is held (ffef67b93aa3's re-check under
 * the lock is what closes it).  In the tree's function (6.12.y and v7.0)
 * pud_lock() and pmd_lock() are called there and nowhere else: right after
 * `if (pud_leaf(pud)) {` and `if (pmd_leaf(pmd)) {`, with nothing between
 * the lockless read and the lock but the leaf test of the local copy.  The
 * rest of the extract (pfnmap_args_setup, pfnmap_lockdep_assert,
 * follow_pfnmap_end) takes no PUD/PMD lock; the PTE level takes its lock
 * in pte_offset_map_lock(), where the rewrite has no point either.
 *
 * `address` is follow_pfnmap_start()'s local (args->address).  Its
 * __func__ is the ktree_ name ktree_rename.h gives it.
 */
#define __ktree_str(x) #x
#define ktree_str(x) __ktree_str(x)	/* after expansion: ktree_rename.h's name */

static inline struct mm_struct *ktree_hook_pfnmap_lock(const char *func, struct mm_struct *mm,
						       unsigned long address)
{
	if (!strcmp(func, ktree_str(follow_pfnmap_start)))
		sched_point(SP_FOLLOW_PFNMAP_LOCKLESS, mm, address);
	return mm;
}

#define pud_lock(mm, pudp) pud_lock(ktree_hook_pfnmap_lock(__func__, (mm), address), (pudp))
#define pmd_lock(mm, pmdp) pmd_lock(ktree_hook_pfnmap_lock(__func__, (mm), address), (pmdp))

#else
#error "ktree_sched_hooks.h: define KTREE_SCHED_HOOKS_PAGEWALK or KTREE_SCHED_HOOKS_MEMORY"
#endif

#endif /* KTREE_SCHED_HOOKS_H */
