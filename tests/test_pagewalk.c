// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/pagewalk.c semantics (reference §3, checklist 50-52): which callbacks
 * run at which level, holes and their depths, VM_PFNMAP handling of
 * walk_page_range() vs walk_page_vma(), the walk actions, the lock-mode
 * assertions, and the seeds/04 no-lock mode locked down to init_mm.
 */
#include <linux/mman.h>
#include <sys/mman.h>

#include "harness.h"
#include "mm_fixtures.h"

static unsigned long map_anon(struct mm_struct *mm, unsigned long addr, unsigned long len)
{
	unsigned long a = vm_mmap(mm, NULL, addr, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap anon: %ld", (long)a);
	ck_assert_uint_eq(a, addr);
	return a;
}
#include "kernel_profiles.h"
#include "pagewalk.h"
#include "sched_point.h"
#include "vfio_pci.h"

#define ANON_VA 0x7e0000000000UL	/* 1 GiB aligned */
#define BAR_VA 0x7f0000000000UL		/* 1 GiB aligned */
#define VMALLOC_START 0xffffc90000000000UL

/* ---------------- helpers ---------------- */






/* Everything a walk reports, per callback. */
struct walk_log {
	unsigned long pgd, p4d, pud, pmd, pte, pte_present;
	unsigned long hugetlb, pre_vma, post_vma, test_walk;
	unsigned long holes[5];		/* depth + 1: -1, 0, 1, 2, 3 */
	unsigned long hole_bytes[5];
	unsigned long pud_leaf, pmd_leaf;
	unsigned long first_hole_start, first_hole_end;
	int first_hole_depth;
	/* knobs */
	enum page_walk_action pmd_action;	/* set by every pmd_entry */
	unsigned long again_addr;		/* pmd_entry: AGAIN once here */
	bool again_done;
	int test_walk_ret;
	struct vm_area_struct *plant_vma;	/* pgd_entry plants it */
	uint64_t clear_bits;			/* pte_entry clears these */
	/*
	 * pmd_entry at vanish_addr, first visit: the PTE table goes away (as
	 * under a concurrent retract_page_tables()) and the callback asks for
	 * ACTION_AGAIN, as gather_pte_stats() does when pte_offset_map_lock()
	 * fails.  The test puts the table back afterwards.
	 */
	unsigned long vanish_addr;
	pmd_t *vanished_pmd;
	pmd_t vanished;
};

static int log_pgd(pgd_t *pgd, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	struct walk_log *l = walk->private;

	l->pgd++;
	if (l->plant_vma)
		walk->vma = l->plant_vma;
	return 0;
}

static int log_p4d(p4d_t *p4d, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	((struct walk_log *)walk->private)->p4d++;
	return 0;
}

static int log_pud(pud_t *pud, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	struct walk_log *l = walk->private;

	l->pud++;
	if (pud_leaf(pudp_get(pud)))
		l->pud_leaf++;
	return 0;
}

static int log_pmd(pmd_t *pmd, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	struct walk_log *l = walk->private;

	l->pmd++;
	if (pmd_leaf(pmdp_get(pmd)))
		l->pmd_leaf++;
	if (l->again_addr == addr && !l->again_done) {
		l->again_done = true;
		walk->action = ACTION_AGAIN;
		return 0;
	}
	if (l->vanish_addr == addr && l->vanish_addr && !l->vanished_pmd) {
		spinlock_t *ptl = pmd_lock(walk->mm, pmd);

		l->vanished = pmdp_huge_get_and_clear(pmd);
		spin_unlock(ptl);
		l->vanished_pmd = pmd;
		walk->action = ACTION_AGAIN;
		return 0;
	}
	walk->action = l->pmd_action;
	return 0;
}

/* Put back the PTE table log_pmd() took away. */
static void restore_vanished(struct mm_struct *mm, struct walk_log *l)
{
	spinlock_t *ptl;

	ck_assert_ptr_nonnull(l->vanished_pmd);
	ptl = pmd_lock(mm, l->vanished_pmd);
	ck_assert(pmd_none(pmdp_get(l->vanished_pmd)));
	set_pmd(l->vanished_pmd, l->vanished);
	spin_unlock(ptl);
}

static int log_pte(pte_t *pte, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	struct walk_log *l = walk->private;
	pte_t v = ptep_get(pte);

	l->pte++;
	if (pte_present(v)) {
		l->pte_present++;
		if (l->clear_bits)
			set_pte(pte, __pte(pte_val(v) & ~l->clear_bits));
	}
	return 0;
}

static int log_hole(unsigned long addr, unsigned long next, int depth, struct mm_walk *walk)
{
	struct walk_log *l = walk->private;

	ck_assert_int_ge(depth, -1);
	ck_assert_int_le(depth, 3);
	if (!l->holes[0] && !l->holes[1] && !l->holes[2] && !l->holes[3] && !l->holes[4]) {
		l->first_hole_start = addr;
		l->first_hole_end = next;
		l->first_hole_depth = depth;
	}
	l->holes[depth + 1]++;
	l->hole_bytes[depth + 1] += next - addr;
	return 0;
}

static int log_hugetlb(pte_t *pte, unsigned long hmask, unsigned long addr, unsigned long next,
		       struct mm_walk *walk)
{
	struct walk_log *l = walk->private;

	ck_assert_uint_eq(addr & hmask, addr);
	l->hugetlb++;
	return 0;
}

static int log_test_walk(unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	struct walk_log *l = walk->private;

	l->test_walk++;
	return l->test_walk_ret;
}

static int log_pre_vma(unsigned long start, unsigned long end, struct mm_walk *walk)
{
	((struct walk_log *)walk->private)->pre_vma++;
	return 0;
}

static void log_post_vma(struct mm_walk *walk)
{
	((struct walk_log *)walk->private)->post_vma++;
}

#define HOLES(l, depth) ((l).holes[(depth) + 1])
#define HOLE_BYTES(l, depth) ((l).hole_bytes[(depth) + 1])

/* ---------------- levels and holes ---------------- */

START_TEST(test_walk_calls_every_level_callback_down_to_ptes)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = {
		.pgd_entry = log_pgd, .p4d_entry = log_p4d, .pud_entry = log_pud,
		.pmd_entry = log_pmd, .pte_entry = log_pte, .walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { 0 };
	unsigned long va = map_anon(mm, ANON_VA, 16 * PAGE_SIZE);

	for (int i = 0; i < 16; i += 3)
		touch(mm, va + i * PAGE_SIZE, true);

	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, va, va + 16 * PAGE_SIZE, &ops, &l), 0);
	mmap_read_unlock(mm);

	ck_assert_uint_eq(l.pgd, 1);
	ck_assert_uint_eq(l.p4d, 1);
	ck_assert_uint_eq(l.pud, 1);
	ck_assert_uint_eq(l.pmd, 1);
	/* ->pte_entry sees every PTE of the range, present or not. */
	ck_assert_uint_eq(l.pte, 16);
	ck_assert_uint_eq(l.pte_present, 6);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

/*
 * [gap | anon VMA: PUD 510 (one PTE table) | PUD 511 empty | next PGD empty]
 * gives one hole of each depth: -1 (no VMA), 3 (PMD), 2 (PUD), 0 (PGD).
 */
START_TEST(test_pte_hole_depths_follow_the_empty_level)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = {
		.pte_entry = log_pte, .pte_hole = log_hole, .walk_lock = PGWALK_RDLOCK,
	};
	const unsigned long pgd_boundary = 1UL << 40;	/* a multiple of 512 GiB */
	unsigned long va = pgd_boundary - 2 * GiB;
	struct walk_log l = { 0 };

	map_anon(mm, va, 3 * GiB);
	touch(mm, va, true);

	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, va - PAGE_SIZE, va + 3 * GiB, &ops, &l), 0);
	mmap_read_unlock(mm);

	ck_assert_int_eq(l.first_hole_depth, -1);
	ck_assert_uint_eq(l.first_hole_start, va - PAGE_SIZE);
	ck_assert_uint_eq(l.first_hole_end, va);
	ck_assert_uint_eq(HOLES(l, -1), 1);
	ck_assert_uint_eq(HOLES(l, 3), 511);
	ck_assert_uint_eq(HOLE_BYTES(l, 3), GiB - 2 * MiB);
	ck_assert_uint_eq(HOLES(l, 2), 1);
	ck_assert_uint_eq(HOLE_BYTES(l, 2), GiB);
	ck_assert_uint_eq(HOLES(l, 0), 1);
	ck_assert_uint_eq(HOLE_BYTES(l, 0), GiB);
	ck_assert_uint_eq(HOLES(l, 1), 0);	/* the p4d is folded */
	ck_assert_uint_eq(l.pte, 512);
	ck_assert_uint_eq(l.pte_present, 1);
	mmput(mm);
}
END_TEST

/* ---------------- VM_PFNMAP: checklist 50 ---------------- */

START_TEST(test_walk_page_range_skips_pfnmap_vma_with_hole)
{
	struct mm_struct *mm = tm_mm("walker");
	struct vfio_pci_core_device *vdev = make_bar(GiB);
	const struct mm_walk_ops ops = {
		.pud_entry = log_pud, .pmd_entry = log_pmd, .pte_hole = log_hole,
		.walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { 0 };

	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PUD);

	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, BAR_VA, BAR_VA + GiB, &ops, &l), 0);
	mmap_read_unlock(mm);

	/* walk_page_test(): the whole VMA is one -1 hole, nothing walked. */
	ck_assert_uint_eq(l.pud, 0);
	ck_assert_uint_eq(l.pmd, 0);
	ck_assert_uint_eq(HOLES(l, -1), 1);
	ck_assert_uint_eq(HOLE_BYTES(l, -1), GiB);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PUD);
	mmput(mm);
}
END_TEST

START_TEST(test_walk_page_vma_walks_pfnmap_and_zaps_pud_leaf)
{
	struct mm_struct *mm = tm_mm("walker");
	struct vfio_pci_core_device *vdev = make_bar(GiB);
	const struct mm_walk_ops ops = {
		.pud_entry = log_pud, .pmd_entry = log_pmd, .pte_hole = log_hole,
		.walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { 0 };
	struct vm_area_struct *vma;

	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);

	mmap_read_lock(mm);
	vma = vma_lookup(mm, BAR_VA);
	ck_assert(vma->vm_flags & VM_PFNMAP);
	ck_assert_int_eq(walk_page_vma(vma, &ops, &l), 0);
	mmap_read_unlock(mm);

	/*
	 * No walk_page_test(): ->pud_entry sees the leaf; with a ->pmd_entry
	 * the walker splits it, which for a pfnmap clears it, and the PUD is
	 * then a depth-2 hole (after one ACTION_AGAIN in the fixed walker).
	 */
	ck_assert_uint_eq(l.pud_leaf, 1);
	ck_assert_uint_eq(l.pmd, 0);
	ck_assert_uint_eq(HOLES(l, 2), 1);
	ck_assert_uint_eq(HOLES(l, -1), 0);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_NONE);
	ck_assert_uint_eq(sim_oops_count(), 0);
	mmput(mm);
}
END_TEST

START_TEST(test_test_walk_overrides_pfnmap_skip)
{
	struct mm_struct *mm = tm_mm("walker");
	struct vfio_pci_core_device *vdev = make_bar(GiB);
	const struct mm_walk_ops ops = {
		.pud_entry = log_pud, .test_walk = log_test_walk, .walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { .test_walk_ret = 0 };

	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);

	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, BAR_VA, BAR_VA + GiB, &ops, &l), 0);
	ck_assert_uint_eq(l.test_walk, 1);
	ck_assert_uint_eq(l.pud_leaf, 1);
	/* Only ->pud_entry: nothing below it, so the leaf is not split. */
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PUD);

	/* test_walk 1 = skip, <0 = abort with that error. */
	l = (struct walk_log){ .test_walk_ret = 1 };
	ck_assert_int_eq(walk_page_range(mm, BAR_VA, BAR_VA + GiB, &ops, &l), 0);
	ck_assert_uint_eq(l.pud, 0);
	l = (struct walk_log){ .test_walk_ret = -EIO };
	ck_assert_int_eq(walk_page_range(mm, BAR_VA, BAR_VA + GiB, &ops, &l), -EIO);
	ck_assert_uint_eq(l.pud, 0);
	mmap_read_unlock(mm);
	mmput(mm);
}
END_TEST

/* checklist 51: ->pmd_entry without ->pte_entry leaves PMD leaves alone. */
START_TEST(test_pmd_entry_only_walk_keeps_pmd_leaves)
{
	struct mm_struct *mm;
	struct vfio_pci_core_device *vdev;
	const struct mm_walk_ops ops = { .pmd_entry = log_pmd, .walk_lock = PGWALK_RDLOCK };
	const struct mm_walk_ops split_ops = {
		.pmd_entry = log_pmd, .pte_entry = log_pte, .walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { 0 };

	tm_cfg.max_bar_fault_order = PMD_ORDER;
	tm_setup_with(&tm_cfg);
	mm = tm_mm("walker");
	vdev = make_bar(GiB);
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);
	touch(mm, BAR_VA + 2 * MiB, false);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PMD);

	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_vma(vma_lookup(mm, BAR_VA), &ops, &l), 0);
	ck_assert_uint_eq(l.pmd_leaf, 2);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, BAR_VA + 2 * MiB), PGTABLE_PMD);

	/* With a ->pte_entry the same walk splits (zaps) them. */
	l = (struct walk_log){ 0 };
	ck_assert_int_eq(walk_page_vma(vma_lookup(mm, BAR_VA), &split_ops, &l), 0);
	ck_assert_uint_eq(l.pmd_leaf, 2);
	ck_assert_uint_eq(l.pte, 0);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_NONE);
	ck_assert_int_eq(level_at(mm, BAR_VA + 2 * MiB), PGTABLE_NONE);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(sim_oops_count(), 0);
	mmput(mm);
}
END_TEST

/* Before the fix, a split that leaves the PUD none is caught by pud_none(). */
START_TEST(test_prefix_walker_split_without_refault_is_safe)
{
	struct mm_struct *mm;
	struct vfio_pci_core_device *vdev;
	const struct mm_walk_ops ops = {
		.pmd_entry = log_pmd, .pte_hole = log_hole, .walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { 0 };

	tm_cfg.pagewalk_fixed = false;
	tm_setup_with(&tm_cfg);
	mm = tm_mm("walker");
	vdev = make_bar(GiB);
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);

	sched_point_arm(SP_WALK_PMD_ENTRY, NULL, NULL);
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_vma(vma_lookup(mm, BAR_VA), &ops, &l), 0);
	mmap_read_unlock(mm);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_NONE);
	ck_assert_uint_eq(HOLES(l, 2), 1);
	/* pud_none() → goto again → hole: walk_pmd_range() is never entered. */
	ck_assert_uint_eq(sched_point_hits(SP_WALK_PMD_ENTRY), 0);
	ck_assert_uint_eq(sim_oops_count(), 0);
	mmput(mm);
}
END_TEST

/* ---------------- actions ---------------- */

START_TEST(test_action_continue_skips_the_pte_level)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = {
		.pmd_entry = log_pmd, .pte_entry = log_pte, .walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { .pmd_action = ACTION_CONTINUE };
	unsigned long va = map_anon(mm, ANON_VA, 4 * MiB);

	touch(mm, va, true);
	touch(mm, va + 2 * MiB, true);
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, va, va + 4 * MiB, &ops, &l), 0);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(l.pmd, 2);
	ck_assert_uint_eq(l.pte, 0);
	mmput(mm);
}
END_TEST

START_TEST(test_action_again_revisits_the_same_pmd)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = {
		.pmd_entry = log_pmd, .pte_entry = log_pte, .walk_lock = PGWALK_RDLOCK,
	};
	unsigned long va = map_anon(mm, ANON_VA, 4 * MiB);
	struct walk_log l = { .pmd_action = ACTION_SUBTREE, .again_addr = va + 2 * MiB };

	touch(mm, va, true);
	touch(mm, va + 2 * MiB, true);
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, va, va + 4 * MiB, &ops, &l), 0);
	mmap_read_unlock(mm);
	ck_assert(l.again_done);
	ck_assert_uint_eq(l.pmd, 3);		/* the second PMD twice */
	ck_assert_uint_eq(l.pte, 1024);		/* but its PTEs once */
	ck_assert_uint_eq(l.pte_present, 2);
	mmput(mm);
}
END_TEST

START_TEST(test_pre_and_post_vma_bracket_each_vma)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = {
		.pre_vma = log_pre_vma, .post_vma = log_post_vma, .pte_entry = log_pte,
		.pte_hole = log_hole, .walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { 0 };

	map_anon(mm, ANON_VA, 2 * PAGE_SIZE);
	map_anon(mm, ANON_VA + 4 * PAGE_SIZE, 2 * PAGE_SIZE);
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + 8 * PAGE_SIZE, &ops, &l), 0);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(l.pre_vma, 2);
	ck_assert_uint_eq(l.post_vma, 2);
	/* Two gaps without a VMA: [2, 4) and [6, 8) pages. */
	ck_assert_uint_eq(HOLES(l, -1), 2);
	ck_assert_uint_eq(HOLE_BYTES(l, -1), 4 * PAGE_SIZE);
	mmput(mm);
}
END_TEST

START_TEST(test_hugetlb_vma_is_walked_only_with_hugetlb_entry)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops pmd_ops = { .pmd_entry = log_pmd, .walk_lock = PGWALK_RDLOCK };
	const struct mm_walk_ops huge_ops = {
		.hugetlb_entry = log_hugetlb, .walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { 0 };
	unsigned long va = vm_mmap(mm, NULL, 0, 4 * MiB, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, 0);

	ck_assert(!IS_ERR_VALUE(va));
	touch(mm, va, true);
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_vma(vma_lookup(mm, va), &pmd_ops, &l), 0);
	ck_assert_uint_eq(l.pmd, 0);
	ck_assert_int_eq(walk_page_vma(vma_lookup(mm, va), &huge_ops, &l), 0);
	ck_assert_uint_eq(l.hugetlb, 2);	/* one call per huge page */
	mmap_read_unlock(mm);
	ck_assert_int_eq(level_at(mm, va), PGTABLE_PMD);
	mmput(mm);
}
END_TEST

START_TEST(test_walk_entry_points_reject_bad_ranges)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = { .pte_entry = log_pte, .walk_lock = PGWALK_RDLOCK };
	struct walk_log l = { 0 };
	struct vm_area_struct *vma;

	map_anon(mm, ANON_VA, 4 * PAGE_SIZE);
	touch(mm, ANON_VA, true);
	mmap_read_lock(mm);
	vma = vma_lookup(mm, ANON_VA);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA, &ops, &l), -EINVAL);
	ck_assert_int_eq(walk_page_range(NULL, ANON_VA, ANON_VA + PAGE_SIZE, &ops, &l), -EINVAL);
	ck_assert_int_eq(walk_page_range_vma(vma, ANON_VA - PAGE_SIZE, ANON_VA + PAGE_SIZE,
					     &ops, &l), -EINVAL);
	ck_assert_int_eq(walk_page_range_vma(vma, ANON_VA, ANON_VA + 5 * PAGE_SIZE, &ops, &l),
			 -EINVAL);
	ck_assert_int_eq(walk_page_range_vma(vma, ANON_VA, ANON_VA + PAGE_SIZE, &ops, &l), 0);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(l.pte, 1);
	mmput(mm);
}
END_TEST

/* ---------------- lock modes ---------------- */

START_TEST(test_rdlock_walk_without_mmap_lock_warns)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = { .pte_entry = log_pte, .walk_lock = PGWALK_RDLOCK };
	struct walk_log l = { 0 };

	map_anon(mm, ANON_VA, PAGE_SIZE);
	touch(mm, ANON_VA, true);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + PAGE_SIZE, &ops, &l), 0);
	ck_assert_uint_eq(sim_warn_count(), 1);		/* mmap_assert_locked() */
	ck_assert_uint_eq(l.pte, 1);			/* and the walk went on */

	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + PAGE_SIZE, &ops, &l), 0);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(sim_warn_count(), 1);
	mmput(mm);
}
END_TEST

START_TEST(test_wrlock_modes_need_the_write_lock)
{
	struct mm_struct *mm = tm_mm("walker");
	struct mm_walk_ops ops = { .pte_entry = log_pte, .walk_lock = PGWALK_WRLOCK };
	struct walk_log l = { 0 };

	map_anon(mm, ANON_VA, PAGE_SIZE);
	map_anon(mm, ANON_VA + 2 * PAGE_SIZE, PAGE_SIZE);

	/* Read lock only: mm assertion + vma_start_write() per VMA. */
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + 3 * PAGE_SIZE, &ops, &l), 0);
	ck_assert_uint_eq(sim_warn_count(), 3);
	ops.walk_lock = PGWALK_WRLOCK_VERIFY;
	ck_assert_int_eq(walk_page_vma(vma_lookup(mm, ANON_VA), &ops, &l), 0);
	ck_assert_uint_eq(sim_warn_count(), 5);
	mmap_read_unlock(mm);

	mmap_write_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + 3 * PAGE_SIZE, &ops, &l), 0);
	ops.walk_lock = PGWALK_WRLOCK;
	ck_assert_int_eq(walk_page_vma(vma_lookup(mm, ANON_VA), &ops, &l), 0);
	mmap_write_unlock(mm);
	ck_assert_uint_eq(sim_warn_count(), 5);
	mmput(mm);
}
END_TEST

START_TEST(test_vma_rdlock_verify_asserts_per_vma_only)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = {
		.pte_entry = log_pte, .walk_lock = PGWALK_VMA_RDLOCK_VERIFY,
	};
	struct walk_log l = { 0 };

	map_anon(mm, ANON_VA, PAGE_SIZE);
	map_anon(mm, ANON_VA + 2 * PAGE_SIZE, PAGE_SIZE);
	/* No lock: no mm assertion, one vma_assert_locked() per VMA. */
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + 3 * PAGE_SIZE, &ops, &l), 0);
	ck_assert_uint_eq(sim_warn_count(), 2);
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + 3 * PAGE_SIZE, &ops, &l), 0);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(sim_warn_count(), 2);
	mmput(mm);
}
END_TEST

/* ---------------- seeds/04: the no-lock mode ---------------- */

START_TEST(test_nolock_mode_refused_outside_kernel_range_walk)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = { .pte_entry = log_pte, .walk_lock = PGWALK_NOLOCK };
	struct walk_log l = { 0 };
	struct vm_area_struct *vma;

	map_anon(mm, ANON_VA, PAGE_SIZE);
	touch(mm, ANON_VA, true);
	mmap_write_lock(mm);
	vma = vma_lookup(mm, ANON_VA);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + PAGE_SIZE, &ops, &l), -EINVAL);
	ck_assert_int_eq(walk_page_vma(vma, &ops, &l), -EINVAL);
	ck_assert_int_eq(walk_page_range_vma(vma, ANON_VA, ANON_VA + PAGE_SIZE, &ops, &l),
			 -EINVAL);
	ck_assert_int_eq(walk_page_range_debug(mm, ANON_VA, ANON_VA + PAGE_SIZE, &ops, NULL, &l),
			 -EINVAL);
	mmap_write_unlock(mm);
	/* Even init_mm through the debug entry: only the kernel-range walk takes it. */
	ck_assert_int_eq(walk_page_range_debug(tm->init_mm, VMALLOC_START,
					       VMALLOC_START + PAGE_SIZE, &ops, NULL, &l), -EINVAL);
	ck_assert_uint_eq(l.pte, 0);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

/* A vmalloc-like range of init_mm: 16 PTEs to fresh kernel pages, writable. */
static void populate_kernel_range(struct mm_struct *init_mm, unsigned long va, int nr)
{
	pgd_t *pgd = pgd_offset(init_mm, va);
	pud_t *pud = pud_alloc(init_mm, p4d_offset(pgd, va), va);
	pmd_t *pmd;
	pte_t *pte;

	ck_assert_ptr_nonnull(pud);
	pmd = pmd_alloc(init_mm, pud, va);
	ck_assert_ptr_nonnull(pmd);
	ck_assert_int_eq(__pte_alloc(init_mm, pmd), 0);
	pte = pte_offset_kernel(pmd, va);
	for (int i = 0; i < nr; i++) {
		struct folio *folio = folio_alloc(0, PGTY_kernel);

		ck_assert_ptr_nonnull(folio);
		set_pte(pte + i, pfn_pte(folio_pfn(folio),
					 __pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED |
						  _PAGE_DIRTY | _PAGE_NX)));
	}
}

static bool kernel_range_writable(struct mm_struct *init_mm, unsigned long va, int nr)
{
	for (int i = 0; i < nr; i++) {
		uint64_t e;

		if (pgtable_lookup(init_mm, va + i * PAGE_SIZE, NULL, &e) != PGTABLE_PTE)
			ck_abort_msg("kernel PTE %d missing", i);
		if (e & _PAGE_RW)
			return true;
	}
	return false;
}

START_TEST(test_nolock_kernel_walk_changes_vmalloc_permissions)
{
	struct mm_struct *init_mm = tm->init_mm;
	const struct mm_walk_ops ops = { .pte_entry = log_pte, .walk_lock = PGWALK_NOLOCK };
	struct walk_log l = { .clear_bits = _PAGE_RW };

	ck_assert_ptr_nonnull(init_mm);
	populate_kernel_range(init_mm, VMALLOC_START, 16);
	ck_assert(kernel_range_writable(init_mm, VMALLOC_START, 16));

	/* set_memory_ro() of the seeds/04 series: no lock, no assertion. */
	ck_assert(!rwsem_is_locked(&init_mm->mmap_lock));
	ck_assert_int_eq(walk_kernel_page_table_range(VMALLOC_START,
						      VMALLOC_START + 16 * PAGE_SIZE,
						      &ops, NULL, &l), 0);
	ck_assert_uint_eq(l.pte, 16);
	ck_assert_uint_eq(l.pte_present, 16);
	ck_assert(!kernel_range_writable(init_mm, VMALLOC_START, 16));
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

START_TEST(test_kernel_walk_asserts_init_mm_lock_unless_nolock)
{
	struct mm_struct *init_mm = tm->init_mm;
	const struct mm_walk_ops rd_ops = { .pte_entry = log_pte, .walk_lock = PGWALK_RDLOCK };
	const struct mm_walk_ops nolock_ops = {
		.pte_entry = log_pte, .walk_lock = PGWALK_NOLOCK,
	};
	struct walk_log l = { .clear_bits = _PAGE_RW };
	const unsigned long end = VMALLOC_START + 4 * PAGE_SIZE;

	struct mm_struct *mm = tm_mm("kthread");	/* a task, so lock owners are recorded */

	populate_kernel_range(init_mm, VMALLOC_START, 4);

	ck_assert_int_eq(walk_kernel_page_table_range(VMALLOC_START, end, &rd_ops, NULL, &l), 0);
	ck_assert_uint_eq(sim_warn_count(), 1);
	mmap_read_lock(init_mm);
	ck_assert_int_eq(walk_kernel_page_table_range(VMALLOC_START, end, &rd_ops, NULL, &l), 0);
	mmap_read_unlock(init_mm);
	ck_assert_int_eq(walk_kernel_page_table_range(VMALLOC_START, end, &nolock_ops, NULL, &l),
			 0);
	/* Upstream's final shape: the lockless helper asserts nothing. */
	ck_assert_int_eq(walk_kernel_page_table_range_lockless(VMALLOC_START, end, &rd_ops,
							       NULL, &l), 0);
	ck_assert_uint_eq(sim_warn_count(), 1);
	ck_assert_uint_eq(l.pte, 16);
	ck_assert_int_eq(walk_kernel_page_table_range(end, VMALLOC_START, &nolock_ops, NULL, &l),
			 -EINVAL);
	mmput(mm);
}
END_TEST

START_TEST(test_nolock_walk_that_meets_a_vma_warns_and_stops)
{
	struct mm_struct *mm = tm_mm("walker");
	struct mm_struct *init_mm = tm->init_mm;
	const struct mm_walk_ops ops = {
		.pgd_entry = log_pgd, .pte_entry = log_pte, .walk_lock = PGWALK_NOLOCK,
	};
	struct walk_log l = { 0 };

	map_anon(mm, ANON_VA, PAGE_SIZE);
	populate_kernel_range(init_mm, VMALLOC_START, 4);
	mmap_read_lock(mm);
	l.plant_vma = vma_lookup(mm, ANON_VA);
	mmap_read_unlock(mm);

	ck_assert_int_eq(walk_kernel_page_table_range(VMALLOC_START,
						      VMALLOC_START + 4 * PAGE_SIZE,
						      &ops, NULL, &l), -EINVAL);
	ck_assert_uint_eq(sim_warn_count(), 1);
	ck_assert_uint_eq(l.pte, 0);
	ck_assert(kernel_range_writable(init_mm, VMALLOC_START, 4));
	mmput(mm);
}
END_TEST

START_TEST(test_disarmed_walk_schedule_points_count_nothing)
{
	struct mm_struct *mm = tm_mm("walker");
	const struct mm_walk_ops ops = { .pmd_entry = log_pmd, .walk_lock = PGWALK_RDLOCK };
	struct walk_log l = { 0 };

	map_anon(mm, ANON_VA, 4 * MiB);
	touch(mm, ANON_VA, true);
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + 4 * MiB, &ops, &l), 0);
	ck_assert_uint_eq(sched_point_hits(SP_WALK_PUD_AFTER_SPLIT), 0);
	ck_assert_uint_eq(sched_point_hits(SP_WALK_PMD_ENTRY), 0);

	sched_point_arm(SP_WALK_PUD_AFTER_SPLIT, NULL, NULL);
	sched_point_arm(SP_WALK_PMD_ENTRY, NULL, NULL);
	ck_assert_int_eq(walk_page_range(mm, ANON_VA, ANON_VA + 4 * MiB, &ops, &l), 0);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(sched_point_hits(SP_WALK_PUD_AFTER_SPLIT), 1);
	ck_assert_uint_eq(sched_point_hits(SP_WALK_PMD_ENTRY), 1);
	mmput(mm);
}
END_TEST


/* ---------------- kernel versions ---------------- */

/*
 * The mm-side switches of a named kernel (lib/kernel_profiles.c) on the
 * test machine, everything else as tm_defaults().
 */
static void setup_kernel(const char *version)
{
	struct machine_config mc;
	struct vfio_type1_config vc;

	ck_assert_int_eq(kernel_profile_configs(version, &mc, &vc), 0);
	tm_cfg.pagewalk_fixed = mc.pagewalk_fixed;
	tm_cfg.pagewalk_stale_action_fix = mc.pagewalk_stale_action_fix;
	tm_cfg.special_bit_per_level = mc.special_bit_per_level;
	tm_cfg.task_mmu_hugetlb_ptl = mc.task_mmu_hugetlb_ptl;
	tm_cfg.vfio_pci_mmap_align = mc.vfio_pci_mmap_align;
	tm_setup_with(&tm_cfg);
}

/*
 * "mm/pagewalk: fix stale walk->action escaping walk_pmd_range()" (6.12.115).
 * What one walk does, per kernel: 6.12.74 has no 9b25a6e3d243, so nothing
 * reads the stale action; 6.12.84..6.12.114 and 7.0 re-walk the PUD range; 6.12.115
 * and upstream reset the action first.
 */
static const struct {
	const char *kernel;
	bool rewalks;		/* the stale ACTION_AGAIN re-runs the PUD range */
} stale_action_kernels[] = {
	{ "6.12.74", false },
	{ "6.12.83", false },
	{ "6.12.84", true },
	{ "6.12.113", true },
	{ "6.12.114", true },
	{ "6.12.115", false },
	{ "6.12.118", false },
	{ "7.0", true },
	{ "upstream", false },
};

/*
 * A 1G BAR faulted at PMD order, two PMD leaves, walked with ->pte_entry:
 * walk_pmd_range() splits (zaps) each leaf, pte_offset_map_lock() finds no
 * table, ACTION_AGAIN, and the retry finds the PMD none.  Every later PMD is
 * none too, so before 6.12.115 walk_pud_range() sees the stale ACTION_AGAIN
 * and walks the 1G again: 512 more holes.  Nothing is zapped twice (there is
 * nothing left), but every ->pte_hole() of the range runs twice.
 */
START_TEST(test_stale_action_after_pmd_leaf_zap_rewalks_pud_range)
{
	const char *kernel = stale_action_kernels[_i].kernel;
	const bool rewalks = stale_action_kernels[_i].rewalks;
	const struct mm_walk_ops ops = {
		.pmd_entry = log_pmd, .pte_entry = log_pte, .pte_hole = log_hole,
		.walk_lock = PGWALK_RDLOCK,
	};
	struct vfio_pci_core_device *vdev;
	struct walk_log l = { 0 };
	struct mm_struct *mm;

	tm_cfg.max_bar_fault_order = PMD_ORDER;
	setup_kernel(kernel);
	mm = tm_mm("walker");
	vdev = make_bar(GiB);
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);
	touch(mm, BAR_VA + 2 * MiB, false);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PMD);

	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_vma(vma_lookup(mm, BAR_VA), &ops, &l), 0);
	mmap_read_unlock(mm);
	/* The re-walk hands the PMD holes to ->pte_hole twice: the walker checker's. */
	if (rewalks)
		harness_expect_checker_if_always(CHECK_WALK_REPEAT, 1);

	ck_assert_msg(l.pmd == 2, "%s: pmd_entry %lu", kernel, l.pmd);
	ck_assert_uint_eq(l.pmd_leaf, 2);
	ck_assert_uint_eq(l.pte, 0);
	ck_assert_msg(HOLES(l, 3) == (rewalks ? 1024 : 512), "%s: %lu PMD holes", kernel,
		      HOLES(l, 3));
	ck_assert_uint_eq(HOLE_BYTES(l, 3), rewalks ? 2 * GiB : GiB);
	ck_assert_uint_eq(HOLES(l, 2), 0);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_NONE);
	ck_assert_int_eq(level_at(mm, BAR_VA + 2 * MiB), PGTABLE_NONE);
	ck_assert_uint_eq(sim_oops_count(), 0);
	mmput(mm);
}
END_TEST

/*
 * The same escape through ->pmd_entry itself: two PTE tables, the second
 * vanishes under the callback, which returns ACTION_AGAIN.  Before 6.12.115
 * the re-walk calls ->pmd_entry() and ->pte_entry() again for the first PMD,
 * which a stats walker (numa_maps) counts twice.
 */
START_TEST(test_stale_action_after_pmd_entry_again_repeats_earlier_pmds)
{
	const char *kernel = stale_action_kernels[_i].kernel;
	const bool rewalks = stale_action_kernels[_i].rewalks;
	const struct mm_walk_ops ops = {
		.pmd_entry = log_pmd, .pte_entry = log_pte, .pte_hole = log_hole,
		.walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { .vanish_addr = ANON_VA + 2 * MiB };
	struct mm_struct *mm;
	unsigned long va;

	setup_kernel(kernel);
	mm = tm_mm("walker");
	va = map_anon(mm, ANON_VA, 4 * MiB);
	touch(mm, va, true);
	touch(mm, va + 2 * MiB, true);

	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, va, va + 4 * MiB, &ops, &l), 0);
	restore_vanished(mm, &l);
	mmap_read_unlock(mm);
	/* The first PMD handed to ->pmd_entry again, not asked for: the walker checker's. */
	if (rewalks)
		harness_expect_checker_if_always(CHECK_WALK_REPEAT, 1);

	/* First pass: PMD 0, PMD 1 (vanishes, AGAIN, then a hole). */
	ck_assert_msg(l.pmd == (rewalks ? 3 : 2), "%s: pmd_entry %lu", kernel, l.pmd);
	ck_assert_uint_eq(l.pte, rewalks ? 1024 : 512);
	ck_assert_uint_eq(l.pte_present, rewalks ? 2 : 1);
	ck_assert_uint_eq(HOLES(l, 3), rewalks ? 2 : 1);

	/* The table is back: a second walk sees both pages once, everywhere. */
	l = (struct walk_log){ 0 };
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, va, va + 4 * MiB, &ops, &l), 0);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(l.pmd, 2);
	ck_assert_uint_eq(l.pte_present, 2);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

/*
 * A stale ACTION_AGAIN only escapes when every later PMD of the range is
 * none: a populated PMD after the vanished one resets the action (in every
 * version), and nothing is walked twice.
 */
START_TEST(test_stale_action_is_reset_by_a_later_populated_pmd)
{
	const char *kernel = stale_action_kernels[_i].kernel;
	const struct mm_walk_ops ops = {
		.pmd_entry = log_pmd, .pte_entry = log_pte, .pte_hole = log_hole,
		.walk_lock = PGWALK_RDLOCK,
	};
	struct walk_log l = { .vanish_addr = ANON_VA + 2 * MiB };
	struct mm_struct *mm;
	unsigned long va;

	setup_kernel(kernel);
	mm = tm_mm("walker");
	va = map_anon(mm, ANON_VA, 6 * MiB);
	for (int i = 0; i < 3; i++)
		touch(mm, va + i * 2 * MiB, true);

	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, va, va + 6 * MiB, &ops, &l), 0);
	restore_vanished(mm, &l);
	mmap_read_unlock(mm);

	ck_assert_msg(l.pmd == 3, "%s: pmd_entry %lu", kernel, l.pmd);
	ck_assert_uint_eq(l.pte, 1024);
	ck_assert_uint_eq(l.pte_present, 2);
	ck_assert_uint_eq(HOLES(l, 3), 1);
	mmput(mm);
}
END_TEST

/* Fixtures for tests that edit tm_cfg before creating the machine. */
static void cfg_setup(void)
{
	tm_defaults(&tm_cfg);
}

Suite *make_suite(void)
{
	Suite *s = suite_create("pagewalk");
	TCase *tc = tm_tcase(s, "levels");
	TCase *cfg;

	tcase_add_test(tc, test_walk_calls_every_level_callback_down_to_ptes);
	tcase_add_test(tc, test_pte_hole_depths_follow_the_empty_level);
	tcase_add_test(tc, test_walk_page_range_skips_pfnmap_vma_with_hole);
	tcase_add_test(tc, test_walk_page_vma_walks_pfnmap_and_zaps_pud_leaf);
	tcase_add_test(tc, test_test_walk_overrides_pfnmap_skip);
	tcase_add_test(tc, test_action_continue_skips_the_pte_level);
	tcase_add_test(tc, test_action_again_revisits_the_same_pmd);
	tcase_add_test(tc, test_pre_and_post_vma_bracket_each_vma);
	tcase_add_test(tc, test_hugetlb_vma_is_walked_only_with_hugetlb_entry);
	tcase_add_test(tc, test_walk_entry_points_reject_bad_ranges);
	tcase_add_test(tc, test_disarmed_walk_schedule_points_count_nothing);

	tc = tm_tcase(s, "locks");
	tcase_add_test(tc, test_rdlock_walk_without_mmap_lock_warns);
	tcase_add_test(tc, test_wrlock_modes_need_the_write_lock);
	tcase_add_test(tc, test_vma_rdlock_verify_asserts_per_vma_only);
	tcase_add_test(tc, test_nolock_mode_refused_outside_kernel_range_walk);
	tcase_add_test(tc, test_nolock_kernel_walk_changes_vmalloc_permissions);
	tcase_add_test(tc, test_kernel_walk_asserts_init_mm_lock_unless_nolock);
	tcase_add_test(tc, test_nolock_walk_that_meets_a_vma_warns_and_stops);

	cfg = tcase_create("config");
	tcase_add_checked_fixture(cfg, cfg_setup, tm_teardown);
	tcase_set_timeout(cfg, 60);
	tcase_add_test(cfg, test_pmd_entry_only_walk_keeps_pmd_leaves);
	tcase_add_test(cfg, test_prefix_walker_split_without_refault_is_safe);
	suite_add_tcase(s, cfg);

	cfg = tcase_create("kernels");
	tcase_add_checked_fixture(cfg, cfg_setup, tm_teardown);
	tcase_set_timeout(cfg, 60);
	tcase_add_loop_test(cfg, test_stale_action_after_pmd_leaf_zap_rewalks_pud_range, 0,
			    (int)(sizeof(stale_action_kernels) / sizeof(stale_action_kernels[0])));
	tcase_add_loop_test(cfg, test_stale_action_after_pmd_entry_again_repeats_earlier_pmds, 0,
			    (int)(sizeof(stale_action_kernels) / sizeof(stale_action_kernels[0])));
	tcase_add_loop_test(cfg, test_stale_action_is_reset_by_a_later_populated_pmd, 0,
			    (int)(sizeof(stale_action_kernels) / sizeof(stale_action_kernels[0])));
	suite_add_tcase(s, cfg);
	return s;
}
