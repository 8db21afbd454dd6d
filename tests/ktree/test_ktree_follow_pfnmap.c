// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's own follow_pfnmap_start()/follow_pfnmap_end() (cut out of
 * mm/memory.c of -Dkernel_tree, built by ktree/ as ktree_*) against
 * pinsim's rewrite in lib/follow_pfnmap.c, with vfio_type1_cfg's
 * follow_pfnmap_recheck from the tree's profile (its version, or
 * -Dkernel_tree_profile: kernel_profile_configs(KTREE_PROFILE)).  Each scenario is looked up once
 * by each, in turn, at the same address of the same process under the
 * mmap read lock; return value, pfn, writable, special, the lock returned
 * (held by the caller until follow_pfnmap_end(), released after) and, on
 * failure, that no page-table lock of the address is left held, must be
 * equal.  Each scenario also asserts what the lookup must have found
 * (pfn and flags from the raw entry, the level's lock), so that two
 * lookups wrong the same way still fail.
 */
#include <sys/mman.h>

#include "../harness.h"
#include "../mm_fixtures.h"
#include "kernel_profiles.h"
#include "ktree_memory.h"
#include "vfio.h"

#define BAR_VA 0x7f0000000000UL		/* 1 GiB aligned */
#define ANON_VA 0x7e0000000000UL	/* 1 GiB aligned */
/* Not page-table aligned at any level: the pfn offset within the leaf counts. */
#define PROBE_OFF (3 * MiB + 7 * PAGE_SIZE + 0x123)

/* ---------------- machine ---------------- */

/* tm_defaults() with the switches of the tree's version; BAR faults up to @bar_order. */
static void setup_tree_kernel(unsigned int bar_order)
{
	struct machine_config profile;
	struct vfio_type1_config vc;

	ck_assert_int_eq(kernel_profile_configs(KTREE_PROFILE, &profile, &vc), 0);
	tm_defaults(&tm_cfg);
	tm_cfg.special_bit_per_level = profile.special_bit_per_level;
	tm_cfg.vfio_pci_mmap_align = profile.vfio_pci_mmap_align;
	tm_cfg.max_bar_fault_order = bar_order;
	tm_setup_with(&tm_cfg);
	vfio_type1_cfg.follow_pfnmap_recheck = vc.follow_pfnmap_recheck;
	vfio_type1_cfg.follow_pfnmap_enoent = vc.follow_pfnmap_enoent;
}

static unsigned long map_bar_prot(struct mm_struct *mm, struct vfio_pci_core_device *vdev,
				  unsigned long addr, unsigned long len, int prot)
{
	unsigned long a = vm_mmap(mm, &vdev->file, addr, len, prot, MAP_SHARED | MAP_FIXED,
				  VFIO_PCI_INDEX_TO_OFFSET(0) >> PAGE_SHIFT);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap BAR: %ld", (long)a);
	ck_assert_uint_eq(a, addr);
	return a;
}

/* ---------------- one lookup by each ---------------- */

struct lookup {
	int ret;
	unsigned long pfn;
	bool writable, special, has_ptep;
	spinlock_t *lock;
	bool held_during;	/* by this task, between start() and end() */
	bool released;		/* after end() */
	unsigned int locked_after_failure;
};

/*
 * How many of the page-table locks @addr's lookup could take are locked:
 * the PUD level's (mm->page_table_lock), the PMD table's, the PTE table's.
 */
static unsigned int pgtable_locks_held(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgdp = pgd_offset(mm, addr);
	unsigned int n = spin_is_locked(&mm->page_table_lock);
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;

	if (!pgd_present(pgdp_get(pgdp)))
		return n;
	pudp = pud_offset(p4d_offset(pgdp, addr), addr);
	pud = pudp_get(pudp);
	if (!pud_present(pud) || pud_leaf(pud))
		return n;
	pmdp = pmd_offset(pudp, addr);
	n += spin_is_locked(pmd_lockptr(mm, pmdp));
	pmd = pmdp_get(pmdp);
	if (pmd_present(pmd) && !pmd_leaf(pmd))
		n += spin_is_locked(pte_lockptr(mm, pmd));
	return n;
}

static void lookup_pinsim(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr,
			  struct lookup *o)
{
	struct follow_pfnmap_args args = { .vma = vma, .address = addr };

	o->ret = follow_pfnmap_start(&args);
	if (o->ret) {
		o->locked_after_failure = pgtable_locks_held(mm, addr);
		return;
	}
	o->pfn = args.pfn;
	o->writable = args.writable;
	o->special = args.special;
	o->has_ptep = args.ptep != NULL;
	o->lock = args.lock;
	o->held_during = args.lock && spin_is_held_by_me(args.lock);
	follow_pfnmap_end(&args);
	o->released = args.lock && !spin_is_locked(args.lock);
}

static void lookup_tree(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr,
			struct lookup *o)
{
	struct ktree_follow_pfnmap_args args = { .vma = vma, .address = addr };

	o->ret = ktree_follow_pfnmap_start(&args);
	if (o->ret) {
		o->locked_after_failure = pgtable_locks_held(mm, addr);
		return;
	}
	o->pfn = args.pfn;
	o->writable = args.writable;
	o->special = args.special;
	o->has_ptep = args.ptep != NULL;
	o->lock = args.lock;
	o->held_during = args.lock && spin_is_held_by_me(args.lock);
	ktree_follow_pfnmap_end(&args);
	o->released = args.lock && !spin_is_locked(args.lock);
}

/* Look @addr up with pinsim's (out[0]) and the tree's (out[1]); both must agree. */
static void lookup_both(struct mm_struct *mm, unsigned long addr, struct lookup out[2])
{
	struct vm_area_struct *vma;

	memset(out, 0, 2 * sizeof(*out));
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	ck_assert_ptr_nonnull(vma);
	lookup_pinsim(mm, vma, addr, &out[0]);
	lookup_tree(mm, vma, addr, &out[1]);
	mmap_read_unlock(mm);

	ck_assert_int_eq(out[1].ret, out[0].ret);
	ck_assert_uint_eq(out[1].pfn, out[0].pfn);
	ck_assert_int_eq(out[1].writable, out[0].writable);
	ck_assert_int_eq(out[1].special, out[0].special);
	ck_assert_int_eq(out[1].has_ptep, out[0].has_ptep);
	ck_assert_ptr_eq(out[1].lock, out[0].lock);
	ck_assert_int_eq(out[1].held_during, out[0].held_during);
	ck_assert_int_eq(out[1].released, out[0].released);
	ck_assert_uint_eq(out[1].locked_after_failure, out[0].locked_after_failure);
}

/* What a successful lookup of the leaf at @addr must report. */
static void assert_found(struct mm_struct *mm, unsigned long addr, const struct lookup *o,
			 enum pgtable_level want_level, bool want_writable)
{
	unsigned long pfn;
	uint64_t e;

	ck_assert_int_eq(pgtable_lookup(mm, addr, &pfn, &e), want_level);
	ck_assert_int_eq(o->ret, 0);
	ck_assert_uint_eq(o->pfn, pfn);
	ck_assert_int_eq(o->special, !!(e & _PAGE_SPECIAL));
	ck_assert_int_eq(o->writable, want_writable);
	ck_assert_int_eq(o->has_ptep, want_level == PGTABLE_PTE);
	ck_assert(o->held_during);
	ck_assert(o->released);
	if (want_level == PGTABLE_PUD)
		ck_assert_ptr_eq(o->lock, &mm->page_table_lock);
	else
		ck_assert_ptr_ne(o->lock, &mm->page_table_lock);
}

static void assert_not_found(const struct lookup *o)
{
	ck_assert_int_eq(o->ret, -EINVAL);
	ck_assert_uint_eq(o->locked_after_failure, 0);
}

/* ---------------- scenarios ---------------- */

START_TEST(test_bar_pud_leaf_pfn_for_address_under_page_table_lock)
{
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	struct lookup out[2];

	setup_tree_kernel(PUD_ORDER);
	vdev = make_bar(GiB);
	mm = tm_mm("bar");
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);
	lookup_both(mm, BAR_VA + PROBE_OFF, out);
	assert_found(mm, BAR_VA + PROBE_OFF, &out[1], PGTABLE_PUD, true);
}
END_TEST

START_TEST(test_bar_pmd_leaf_pfn_for_address_under_pmd_table_lock)
{
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	struct lookup out[2];
	pmd_t *pmdp;

	setup_tree_kernel(PMD_ORDER);
	vdev = make_bar(GiB);
	mm = tm_mm("bar");
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA + PROBE_OFF, false);
	lookup_both(mm, BAR_VA + PROBE_OFF, out);
	assert_found(mm, BAR_VA + PROBE_OFF, &out[1], PGTABLE_PMD, true);
	/* The split lock of the PMD table holding the leaf, not page_table_lock. */
	mmap_read_lock(mm);
	pmdp = pmd_offset(pud_offset(p4d_offset(pgd_offset(mm, BAR_VA), BAR_VA), BAR_VA), BAR_VA);
	ck_assert_ptr_eq(out[1].lock, pmd_lockptr(mm, pmdp));
	mmap_read_unlock(mm);
}
END_TEST

START_TEST(test_bar_pte_pfn_with_ptep_under_pte_table_lock)
{
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	struct lookup out[2];

	setup_tree_kernel(0);
	vdev = make_bar(GiB);
	mm = tm_mm("bar");
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA + PROBE_OFF, true);
	lookup_both(mm, BAR_VA + PROBE_OFF, out);
	assert_found(mm, BAR_VA + PROBE_OFF, &out[1], PGTABLE_PTE, true);
}
END_TEST

START_TEST(test_hole_in_pte_table_is_einval_and_unlocks)
{
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	struct lookup out[2];

	setup_tree_kernel(0);
	vdev = make_bar(GiB);
	mm = tm_mm("bar");
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA + PROBE_OFF, false);
	/* The next page: same PTE table, no entry. */
	ck_assert_int_eq(level_at(mm, BAR_VA + PROBE_OFF + PAGE_SIZE), PGTABLE_NONE);
	lookup_both(mm, BAR_VA + PROBE_OFF + PAGE_SIZE, out);
	assert_not_found(&out[1]);
}
END_TEST

START_TEST(test_untouched_bar_is_einval)
{
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	struct lookup out[2];

	setup_tree_kernel(PUD_ORDER);
	vdev = make_bar(GiB);
	mm = tm_mm("bar");
	map_bar(mm, vdev, BAR_VA, GiB);
	lookup_both(mm, BAR_VA + PROBE_OFF, out);
	assert_not_found(&out[1]);
}
END_TEST

START_TEST(test_anon_vma_page_is_einval_not_pfnmap)
{
	struct mm_struct *mm;
	struct lookup out[2];
	unsigned long a;

	setup_tree_kernel(PUD_ORDER);
	mm = tm_mm("anon");
	a = vm_mmap(mm, NULL, ANON_VA, 4 * MiB, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0);
	ck_assert_uint_eq(a, ANON_VA);
	touch(mm, ANON_VA + PAGE_SIZE, true);
	ck_assert_int_ne(level_at(mm, ANON_VA + PAGE_SIZE), PGTABLE_NONE);
	lookup_both(mm, ANON_VA + PAGE_SIZE, out);
	assert_not_found(&out[1]);
}
END_TEST

START_TEST(test_zapped_bar_is_einval)
{
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	struct lookup out[2];

	setup_tree_kernel(PUD_ORDER);
	vdev = make_bar(GiB);
	mm = tm_mm("bar");
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);
	lookup_both(mm, BAR_VA + PROBE_OFF, out);
	ck_assert_int_eq(out[1].ret, 0);
	vfio_pci_zap_bars(vdev);
	ck_assert_int_eq(level_at(mm, BAR_VA + PROBE_OFF), PGTABLE_NONE);
	lookup_both(mm, BAR_VA + PROBE_OFF, out);
	assert_not_found(&out[1]);
}
END_TEST

START_TEST(test_read_only_bar_mapping_is_not_writable)
{
	static const unsigned int orders[] = { PUD_ORDER, PMD_ORDER, 0 };
	static const enum pgtable_level levels[] = { PGTABLE_PUD, PGTABLE_PMD, PGTABLE_PTE };
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	struct lookup out[2];

	setup_tree_kernel(orders[_i]);
	vdev = make_bar(GiB);
	mm = tm_mm("bar");
	map_bar_prot(mm, vdev, BAR_VA, GiB, PROT_READ);
	touch(mm, BAR_VA + PROBE_OFF, false);
	lookup_both(mm, BAR_VA + PROBE_OFF, out);
	assert_found(mm, BAR_VA + PROBE_OFF, &out[1], levels[_i], false);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("ktree_follow_pfnmap");
	TCase *tc = tcase_create("tree_vs_pinsim");

	/* Each test builds its machine (profile of the tree's version). */
	tcase_add_checked_fixture(tc, NULL, tm_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_bar_pud_leaf_pfn_for_address_under_page_table_lock);
	tcase_add_test(tc, test_bar_pmd_leaf_pfn_for_address_under_pmd_table_lock);
	tcase_add_test(tc, test_bar_pte_pfn_with_ptep_under_pte_table_lock);
	tcase_add_test(tc, test_hole_in_pte_table_is_einval_and_unlocks);
	tcase_add_test(tc, test_untouched_bar_is_einval);
	tcase_add_test(tc, test_anon_vma_page_is_einval_not_pfnmap);
	tcase_add_test(tc, test_zapped_bar_is_einval);
	tcase_add_loop_test(tc, test_read_only_bar_mapping_is_not_writable, 0, 3);
	return s;
}
