// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's own mm/pagewalk.c (from -Dkernel_tree, built by ktree/)
 * against pinsim's rewrite in sim/pagewalk.c: each scenario is built twice,
 * in two processes of one simulated machine, and walked once by each
 * walker; every callback call (kind, range, level facts) is traced and the
 * two traces, return values, resulting page-table levels and oops/WARN
 * counts must be equal.  The machine runs the tree's profile (its
 * version, or -Dkernel_tree_profile: kernel_profile_configs(KTREE_PROFILE)),
 * so that the rewrite takes the branches (pagewalk_fixed,
 * pagewalk_stale_action_fix) of the kernel the tree is.  Each scenario also asserts what the walk must have
 * seen, so that two walkers wrong the same way still fail.
 */
#include <linux/mman.h>
#include <sys/mman.h>

#include "../harness.h"
#include "../mm_fixtures.h"
#include "kernel_profiles.h"
#include "ktree_pagewalk.h"
#include "pagewalk.h"

KTREE_ASSERT_WALK_ABI();

#define ANON_VA 0x7e0000000000UL	/* 1 GiB aligned */
#define BAR_VA 0x7f0000000000UL		/* 1 GiB aligned */
#define HUGE_VA 0x7d0000000000UL	/* 1 GiB aligned */

/* ---------------- traces ---------------- */

enum ev_kind { EV_PUD = 1, EV_PMD, EV_PTE, EV_HOLE, EV_HUGETLB };

struct ev {
	int kind;
	unsigned long addr, next;
	long arg;	/* leaf (PUD/PMD), present (PTE, HUGETLB), depth (HOLE) */
};

#define MAX_EV 8192

struct trace {
	struct ev ev[MAX_EV];
	unsigned int n;
	bool overflow;
	unsigned long pages;	/* numa_maps-like count of present pages */
	unsigned long again;	/* ACTION_AGAIN asked by ->pmd_entry */
};

static struct trace traces[2];

static void record(struct mm_walk *walk, int kind, unsigned long addr, unsigned long next,
		   long arg)
{
	struct trace *t = walk->private;

	if (t->n == MAX_EV) {
		t->overflow = true;
		return;
	}
	t->ev[t->n++] = (struct ev){ kind, addr, next, arg };
}

static unsigned long count_kind(const struct trace *t, int kind)
{
	unsigned long n = 0;

	for (unsigned int i = 0; i < t->n; i++)
		n += t->ev[i].kind == kind;
	return n;
}

static int tr_pud(pud_t *pud, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	record(walk, EV_PUD, addr, next, pud_leaf(pudp_get(pud)));
	return 0;
}

/* Records the PMD and leaves it alone (no split unless ->pte_entry). */
static int tr_pmd(pmd_t *pmd, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	record(walk, EV_PMD, addr, next, pmd_leaf(pmdp_get(pmd)));
	return 0;
}

/*
 * numa_maps-like ->pmd_entry, after gather_pte_stats() (fs/proc/task_mmu.c,
 * 6.12): a huge PMD counted under its lock as HPAGE_PMD_NR pages; else the
 * PTE table under its lock, and ACTION_AGAIN if pte_offset_map_lock() finds
 * none.  pinsim's own code, not the kernel's.
 */
static int tr_numa_pmd(pmd_t *pmd, unsigned long addr, unsigned long end, struct mm_walk *walk)
{
	struct trace *t = walk->private;
	spinlock_t *ptl = pmd_lock(walk->mm, pmd);
	pmd_t v = pmdp_get(pmd);
	pte_t *pte, *orig;

	record(walk, EV_PMD, addr, end, pmd_leaf(v));
	if (pmd_leaf(v)) {
		t->pages += HPAGE_PMD_NR;
		spin_unlock(ptl);
		return 0;
	}
	spin_unlock(ptl);
	orig = pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte) {
		t->again++;
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr != end; pte++, addr += PAGE_SIZE)
		t->pages += pte_present(ptep_get(pte));
	pte_unmap_unlock(orig, ptl);
	return 0;
}

static int tr_pte(pte_t *pte, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	record(walk, EV_PTE, addr, next, pte_present(ptep_get(pte)));
	return 0;
}

static int tr_hole(unsigned long addr, unsigned long next, int depth, struct mm_walk *walk)
{
	record(walk, EV_HOLE, addr, next, depth);
	return 0;
}

static int tr_hugetlb(pte_t *pte, unsigned long hmask, unsigned long addr, unsigned long next,
		      struct mm_walk *walk)
{
	struct trace *t = walk->private;
	bool present = pte_present(ptep_get(pte));

	record(walk, EV_HUGETLB, addr, next, present);
	if (present)
		t->pages += (~hmask + 1) >> PAGE_SHIFT;
	return 0;
}

static const struct mm_walk_ops numa_ops = {
	.pmd_entry = tr_numa_pmd, .hugetlb_entry = tr_hugetlb, .walk_lock = PGWALK_RDLOCK,
};
static const struct mm_walk_ops full_ops = {
	.pud_entry = tr_pud, .pmd_entry = tr_pmd, .pte_entry = tr_pte, .pte_hole = tr_hole,
	.hugetlb_entry = tr_hugetlb, .walk_lock = PGWALK_RDLOCK,
};
static const struct mm_walk_ops pud_pmd_hole_ops = {
	.pud_entry = tr_pud, .pmd_entry = tr_pmd, .pte_hole = tr_hole,
	.walk_lock = PGWALK_RDLOCK,
};
static const struct mm_walk_ops pmd_pte_hole_ops = {
	.pmd_entry = tr_pmd, .pte_entry = tr_pte, .pte_hole = tr_hole,
	.walk_lock = PGWALK_RDLOCK,
};

/* ---------------- machine and scenarios ---------------- */

static struct machine_config profile;

/* tm_defaults() with the mm-side switches of the tree's version. */
static void setup_tree_kernel(enum thp_mode thp, unsigned int bar_order)
{
	struct vfio_type1_config vc;

	ck_assert_int_eq(kernel_profile_configs(KTREE_PROFILE, &profile, &vc), 0);
	tm_defaults(&tm_cfg);
	tm_cfg.pagewalk_fixed = profile.pagewalk_fixed;
	tm_cfg.pagewalk_stale_action_fix = profile.pagewalk_stale_action_fix;
	tm_cfg.special_bit_per_level = profile.special_bit_per_level;
	tm_cfg.task_mmu_hugetlb_ptl = profile.task_mmu_hugetlb_ptl;
	tm_cfg.vfio_pci_mmap_align = profile.vfio_pci_mmap_align;
	tm_cfg.thp = thp;
	tm_cfg.max_bar_fault_order = bar_order;
	tm_setup_with(&tm_cfg);
}

enum entry { BY_RANGE, BY_VMA };

struct scenario {
	void (*build)(struct mm_struct *mm, struct vfio_pci_core_device *vdev);
	const struct mm_walk_ops *ops;
	enum entry entry;
	unsigned long start, end;	/* BY_RANGE; BY_VMA: the VMA at start */
	unsigned long probe[4];		/* addresses whose level is compared after */
};

struct outcome {
	int ret;
	enum pgtable_level level[4];
	unsigned long oopses, warns;
};

static unsigned long map_anon(struct mm_struct *mm, unsigned long addr, unsigned long len,
			      unsigned long flags)
{
	unsigned long a = vm_mmap(mm, NULL, addr, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | flags, 0);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap anon: %ld", (long)a);
	ck_assert_uint_eq(a, addr);
	return a;
}

/* Run @sc once through pinsim's walker (0) and once through the tree's (1). */
static void run_both(const struct scenario *sc, struct outcome out[2])
{
	struct vfio_pci_core_device *vdev = make_bar(GiB);

	for (int w = 0; w < 2; w++) {
		struct mm_struct *mm = tm_mm(w ? "ktree" : "pinsim");
		unsigned long oops0 = sim_oops_count(), warn0 = sim_warn_count();
		struct trace *t = &traces[w];

		memset(t, 0, sizeof(*t));
		sc->build(mm, vdev);
		mmap_read_lock(mm);
		if (sc->entry == BY_RANGE) {
			out[w].ret = w ? ktree_walk_page_range(mm, sc->start, sc->end, sc->ops, t)
				       : walk_page_range(mm, sc->start, sc->end, sc->ops, t);
		} else {
			struct vm_area_struct *vma = vma_lookup(mm, sc->start);

			ck_assert_ptr_nonnull(vma);
			out[w].ret = w ? ktree_walk_page_vma(vma, sc->ops, t)
				       : walk_page_vma(vma, sc->ops, t);
		}
		mmap_read_unlock(mm);
		for (int i = 0; i < 4; i++)
			out[w].level[i] = sc->probe[i] ? level_at(mm, sc->probe[i]) : PGTABLE_NONE;
		out[w].oopses = sim_oops_count() - oops0;
		out[w].warns = sim_warn_count() - warn0;
		ck_assert_msg(!t->overflow, "trace overflow");
		mmput(mm);
	}

	/* The same walk, call for call. */
	ck_assert_int_eq(out[1].ret, out[0].ret);
	ck_assert_uint_eq(traces[1].n, traces[0].n);
	for (unsigned int i = 0; i < traces[0].n; i++) {
		const struct ev *a = &traces[0].ev[i], *b = &traces[1].ev[i];

		ck_assert_msg(a->kind == b->kind && a->addr == b->addr && a->next == b->next &&
				      a->arg == b->arg,
			      "call %u: pinsim {%d %#lx-%#lx %ld} vs %s {%d %#lx-%#lx %ld}", i,
			      a->kind, a->addr, a->next, a->arg, KTREE_PROFILE, b->kind, b->addr,
			      b->next, b->arg);
	}
	ck_assert_uint_eq(traces[1].pages, traces[0].pages);
	ck_assert_uint_eq(traces[1].again, traces[0].again);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(out[1].level[i], out[0].level[i]);
	ck_assert_uint_eq(out[1].oopses, out[0].oopses);
	ck_assert_uint_eq(out[1].warns, out[0].warns);
	ck_assert_uint_eq(out[0].oopses, 0);
}

/* ---------------- anonymous 4K and THP ---------------- */

/* 4 MiB anon with 3 pages touched in two PMDs, 2 MiB of nothing either side. */
static void build_anon_4k(struct mm_struct *mm, struct vfio_pci_core_device *vdev)
{
	map_anon(mm, ANON_VA, 4 * MiB, 0);
	touch(mm, ANON_VA, true);
	touch(mm, ANON_VA + PAGE_SIZE, true);
	touch(mm, ANON_VA + 2 * MiB + 88 * PAGE_SIZE, false);
	ck_assert_int_eq(level_at(mm, ANON_VA), PGTABLE_PTE);
}

START_TEST(test_numa_walk_anon_4k_counts_present_ptes)
{
	const struct scenario sc = {
		.build = build_anon_4k, .ops = &numa_ops, .entry = BY_RANGE,
		.start = ANON_VA - 2 * MiB, .end = ANON_VA + 6 * MiB,
		.probe = { ANON_VA, ANON_VA + 2 * MiB + 88 * PAGE_SIZE },
	};
	struct outcome out[2];

	setup_tree_kernel(THP_NEVER, PUD_ORDER);
	run_both(&sc, out);
	ck_assert_int_eq(out[1].ret, 0);
	ck_assert_uint_eq(count_kind(&traces[1], EV_PMD), 2);
	ck_assert_uint_eq(traces[1].pages, 3);
	ck_assert_int_eq(out[1].level[0], PGTABLE_PTE);
}
END_TEST

START_TEST(test_full_walk_anon_4k_reports_every_pte_and_hole)
{
	const struct scenario sc = {
		.build = build_anon_4k, .ops = &full_ops, .entry = BY_RANGE,
		.start = ANON_VA - 2 * MiB, .end = ANON_VA + 6 * MiB,
		.probe = { ANON_VA },
	};
	struct outcome out[2];

	setup_tree_kernel(THP_NEVER, PUD_ORDER);
	run_both(&sc, out);
	/* Outside the VMA: two -1 holes; inside, 2 x 512 PTEs. */
	ck_assert_uint_eq(count_kind(&traces[1], EV_HOLE), 2);
	ck_assert_uint_eq(count_kind(&traces[1], EV_PTE), 1024);
	ck_assert_uint_eq(count_kind(&traces[1], EV_PUD), 1);
}
END_TEST

static void build_thp(struct mm_struct *mm, struct vfio_pci_core_device *vdev)
{
	map_anon(mm, ANON_VA, 4 * MiB, 0);
	touch(mm, ANON_VA, true);
	ck_assert_int_eq(level_at(mm, ANON_VA), PGTABLE_PMD);
}

START_TEST(test_numa_walk_thp_counts_pmd_leaf_without_split)
{
	const struct scenario sc = {
		.build = build_thp, .ops = &numa_ops, .entry = BY_RANGE,
		.start = ANON_VA, .end = ANON_VA + 4 * MiB, .probe = { ANON_VA },
	};
	struct outcome out[2];

	setup_tree_kernel(THP_ALWAYS, PUD_ORDER);
	run_both(&sc, out);
	ck_assert_uint_eq(traces[1].pages, HPAGE_PMD_NR);
	ck_assert_uint_eq(count_kind(&traces[1], EV_PMD), 1);
	ck_assert_int_eq(out[1].level[0], PGTABLE_PMD);
}
END_TEST

START_TEST(test_pte_walk_splits_thp_into_ptes)
{
	const struct scenario sc = {
		.build = build_thp, .ops = &full_ops, .entry = BY_VMA,
		.start = ANON_VA, .probe = { ANON_VA },
	};
	struct outcome out[2];

	setup_tree_kernel(THP_ALWAYS, PUD_ORDER);
	run_both(&sc, out);
	/* split_huge_pmd() before walk_pte_range(): 512 present PTEs. */
	ck_assert_uint_eq(count_kind(&traces[1], EV_PTE), 512);
	ck_assert_int_eq(out[1].level[0], PGTABLE_PTE);
}
END_TEST

/* ---------------- hugetlb ---------------- */

static void build_hugetlb_2m(struct mm_struct *mm, struct vfio_pci_core_device *vdev)
{
	map_anon(mm, HUGE_VA, 4 * MiB, MAP_HUGETLB | MAP_HUGE_2MB);
	touch(mm, HUGE_VA, true);
}

START_TEST(test_numa_walk_hugetlb_2m_one_call_per_huge_page)
{
	const struct scenario sc = {
		.build = build_hugetlb_2m, .ops = &numa_ops, .entry = BY_RANGE,
		.start = HUGE_VA, .end = HUGE_VA + 4 * MiB, .probe = { HUGE_VA },
	};
	struct outcome out[2];

	setup_tree_kernel(THP_NEVER, PUD_ORDER);
	run_both(&sc, out);
	ck_assert_uint_eq(count_kind(&traces[1], EV_HUGETLB), 2);
	ck_assert_uint_eq(count_kind(&traces[1], EV_PMD), 0);
	ck_assert_uint_eq(traces[1].pages, 512);
	ck_assert_int_eq(out[1].level[0], PGTABLE_PMD);
}
END_TEST

static void build_hugetlb_1g(struct mm_struct *mm, struct vfio_pci_core_device *vdev)
{
	map_anon(mm, HUGE_VA, GiB, MAP_HUGETLB | MAP_HUGE_1GB);
	touch(mm, HUGE_VA, true);
}

START_TEST(test_numa_walk_hugetlb_1g_pud_leaf)
{
	const struct scenario sc = {
		.build = build_hugetlb_1g, .ops = &numa_ops, .entry = BY_RANGE,
		.start = HUGE_VA, .end = HUGE_VA + GiB, .probe = { HUGE_VA },
	};
	struct outcome out[2];

	setup_tree_kernel(THP_NEVER, PUD_ORDER);
	run_both(&sc, out);
	ck_assert_uint_eq(count_kind(&traces[1], EV_HUGETLB), 1);
	ck_assert_uint_eq(traces[1].pages, 1UL << PUD_ORDER);
	ck_assert_int_eq(out[1].level[0], PGTABLE_PUD);
}
END_TEST

/* ---------------- vfio-pci BAR (VM_PFNMAP) ---------------- */

static void build_bar(struct mm_struct *mm, struct vfio_pci_core_device *vdev)
{
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);
	touch(mm, BAR_VA + 2 * MiB, false);
}

START_TEST(test_walk_page_range_skips_bar_pud_as_one_hole)
{
	const struct scenario sc = {
		.build = build_bar, .ops = &full_ops, .entry = BY_RANGE,
		.start = BAR_VA, .end = BAR_VA + GiB, .probe = { BAR_VA },
	};
	struct outcome out[2];

	setup_tree_kernel(THP_NEVER, PUD_ORDER);
	run_both(&sc, out);
	/* walk_page_test(): VM_PFNMAP is one depth -1 hole, nothing walked. */
	ck_assert_uint_eq(traces[1].n, 1);
	ck_assert_int_eq(traces[1].ev[0].kind, EV_HOLE);
	ck_assert_int_eq(traces[1].ev[0].arg, -1);
	ck_assert_int_eq(out[1].level[0], PGTABLE_PUD);
}
END_TEST

START_TEST(test_walk_page_vma_zaps_bar_pud_leaf_then_hole)
{
	const struct scenario sc = {
		.build = build_bar, .ops = &pud_pmd_hole_ops, .entry = BY_VMA,
		.start = BAR_VA, .probe = { BAR_VA },
	};
	struct outcome out[2];

	setup_tree_kernel(THP_NEVER, PUD_ORDER);
	run_both(&sc, out);
	/* ->pud_entry sees the leaf, split_huge_pud() zaps it, then a PUD hole. */
	ck_assert_uint_eq(count_kind(&traces[1], EV_PUD), 1);
	ck_assert_int_eq(traces[1].ev[0].arg, 1);
	ck_assert_uint_eq(count_kind(&traces[1], EV_PMD), 0);
	ck_assert_int_eq(out[1].level[0], PGTABLE_NONE);
}
END_TEST

/*
 * Two PMD leaves of a BAR walked with ->pte_entry: each is zapped by
 * split_huge_pmd(), pte_offset_map_lock() finds no table, ACTION_AGAIN,
 * and the PMD is then a hole.  Before 6.12.115 the stale ACTION_AGAIN
 * escapes walk_pmd_range() and the PUD range is walked again: the traces
 * must agree on that too, for whichever version the tree is.
 */
START_TEST(test_walk_page_vma_zaps_bar_pmd_leaves_stale_action_as_version)
{
	const struct scenario sc = {
		.build = build_bar, .ops = &pmd_pte_hole_ops, .entry = BY_VMA,
		.start = BAR_VA, .probe = { BAR_VA, BAR_VA + 2 * MiB },
	};
	struct outcome out[2];
	unsigned long holes;

	setup_tree_kernel(THP_NEVER, PMD_ORDER);
	run_both(&sc, out);
	holes = count_kind(&traces[1], EV_HOLE);
	ck_assert_uint_eq(count_kind(&traces[1], EV_PTE), 0);
	ck_assert_int_eq(out[1].level[0], PGTABLE_NONE);
	ck_assert_int_eq(out[1].level[1], PGTABLE_NONE);
	if (profile.pagewalk_stale_action_fix)
		ck_assert_uint_eq(holes, 512);
	else
		ck_assert_uint_gt(holes, 512);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("ktree_pagewalk");
	TCase *tc = tcase_create("tree_vs_pinsim");

	/* Each test builds its machine (profile of the tree's version). */
	tcase_add_checked_fixture(tc, NULL, tm_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_numa_walk_anon_4k_counts_present_ptes);
	tcase_add_test(tc, test_full_walk_anon_4k_reports_every_pte_and_hole);
	tcase_add_test(tc, test_numa_walk_thp_counts_pmd_leaf_without_split);
	tcase_add_test(tc, test_pte_walk_splits_thp_into_ptes);
	tcase_add_test(tc, test_numa_walk_hugetlb_2m_one_call_per_huge_page);
	tcase_add_test(tc, test_numa_walk_hugetlb_1g_pud_leaf);
	tcase_add_test(tc, test_walk_page_range_skips_bar_pud_as_one_hole);
	tcase_add_test(tc, test_walk_page_vma_zaps_bar_pud_leaf_then_hole);
	tcase_add_test(tc, test_walk_page_vma_zaps_bar_pmd_leaves_stale_action_as_version);
	return s;
}
