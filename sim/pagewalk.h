/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The generic page-table walker (include/linux/pagewalk.h, mm/pagewalk.c at
 * 9b25a6e3d243, reference §3), with the versions of the PUD/PMD loops that
 * kernels in the field run: before "mm/pagewalk: fix race between
 * concurrent split and refault" and after it (machine->cfg.pagewalk_fixed),
 * each with or without "mm/pagewalk: fix stale walk->action escaping
 * walk_pmd_range()" (machine->cfg.pagewalk_stale_action_fix, 6.12.115).
 *
 * Left out on purpose: ->install_pte (used only inside mm by
 * walk_page_range_mm_unsafe(); nothing in pinsim installs through a walk, so
 * check_ops_safe() has nothing to reject on that side), walk_page_mapping()
 * and the hugepd formats (not on x86-64).
 */
#ifndef SIM_PAGEWALK_H
#define SIM_PAGEWALK_H

#include <stdbool.h>

#include "mm_types.h"
#include "pgtable.h"

struct mm_walk;

/*
 * What the walker must find held, and what it takes itself.  The
 * simulation has no per-VMA locks: the per-VMA rules are modelled on the
 * mmap lock (see process_vma_walk_lock() in pagewalk.c).
 */
enum page_walk_lock {
	/* mmap_lock should be locked for read to stabilize the vma tree */
	PGWALK_RDLOCK = 0,
	/* vma will be write-locked during the walk */
	PGWALK_WRLOCK = 1,
	/* vma is expected to be already write-locked during the walk */
	PGWALK_WRLOCK_VERIFY = 2,
	/* vma is expected to be already read-locked during the walk */
	PGWALK_VMA_RDLOCK_VERIFY = 3,
	/*
	 * seeds/04 (Dev Jain, 2025), locked down as its review demanded:
	 * walk without any lock.  Only for a walk of init_mm with no VMA where
	 * the caller has exclusive control of the range, guaranteeing no
	 * concurrent access (e.g. changing the permissions of a vmalloc
	 * object).  Accepted by walk_kernel_page_table_range() only; every
	 * other entry point returns -EINVAL for it, and a VMA met in this mode
	 * is a WARN.  Upstream never merged it: v3 of the series added
	 * walk_kernel_page_table_range_lockless() instead (also here).
	 */
	PGWALK_NOLOCK = 4,
};

/* Return values of the callbacks: 0 go on, >0 stop and return it, <0 error. */
struct mm_walk_ops {
	int (*pgd_entry)(pgd_t *pgd, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	int (*p4d_entry)(p4d_t *p4d, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	int (*pud_entry)(pud_t *pud, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	int (*pmd_entry)(pmd_t *pmd, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	int (*pte_entry)(pte_t *pte, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	/*
	 * @depth: -1 no VMA (or unknown); 0 PGD, 2 PUD, 3 PMD level of the
	 * empty entry (1 never appears: the p4d level is folded).
	 */
	int (*pte_hole)(unsigned long addr, unsigned long next, int depth,
			struct mm_walk *walk);
	/* @pte points at the PMD or PUD entry of the huge page, as on x86. */
	int (*hugetlb_entry)(pte_t *pte, unsigned long hmask, unsigned long addr,
			     unsigned long next, struct mm_walk *walk);
	/* 0 walk this VMA, 1 skip it, <0 abort the walk. */
	int (*test_walk)(unsigned long addr, unsigned long next, struct mm_walk *walk);
	int (*pre_vma)(unsigned long start, unsigned long end, struct mm_walk *walk);
	void (*post_vma)(struct mm_walk *walk);
	enum page_walk_lock walk_lock;
};

/* Set by a callback in walk->action, read by the level walker that called it. */
enum page_walk_action {
	ACTION_SUBTREE = 0,	/* descend (splitting a huge entry if needed) */
	ACTION_CONTINUE = 1,	/* skip the subtree of this entry */
	ACTION_AGAIN = 2,	/* revisit this entry */
};

struct mm_walk {
	const struct mm_walk_ops *ops;
	struct mm_struct *mm;
	pgd_t *pgd;			/* walk this pgd instead of mm->pgd */
	struct vm_area_struct *vma;	/* NULL in holes and in no_vma walks */
	enum page_walk_action action;
	bool no_vma;			/* kernel/debug walks: PTEs not locked */
	void *private;
};

/* The mmap lock (per walk_lock) must be held; VM_PFNMAP VMAs are skipped. */
int walk_page_range(struct mm_struct *mm, unsigned long start, unsigned long end,
		    const struct mm_walk_ops *ops, void *private);
/* One VMA, or part of it: no walk_page_test(), so VM_PFNMAP is walked. */
int walk_page_vma(struct vm_area_struct *vma, const struct mm_walk_ops *ops,
		  void *private);
int walk_page_range_vma(struct vm_area_struct *vma, unsigned long start,
			unsigned long end, const struct mm_walk_ops *ops,
			void *private);
/*
 * init_mm (machine->init_mm), no VMA, PTEs not locked.  Asserts the init_mm
 * mmap lock, except for PGWALK_NOLOCK (seeds/04), the one place it is
 * accepted.  @pgd: walk this pgd instead of init_mm's (NULL: init_mm's).
 */
int walk_kernel_page_table_range(unsigned long start, unsigned long end,
				 const struct mm_walk_ops *ops, pgd_t *pgd,
				 void *private);
/*
 * Upstream's final answer to seeds/04: the same walk asserting nothing.  The
 * caller guarantees exclusive access to the range.
 */
int walk_kernel_page_table_range_lockless(unsigned long start, unsigned long end,
					  const struct mm_walk_ops *ops, pgd_t *pgd,
					  void *private);
/*
 * A user mm walked like kernel page tables (ptdump and friends): the mmap
 * lock must be held for write; init_mm is handed to the kernel-range walk.
 */
int walk_page_range_debug(struct mm_struct *mm, unsigned long start, unsigned long end,
			  const struct mm_walk_ops *ops, pgd_t *pgd, void *private);

#endif /* SIM_PAGEWALK_H */
