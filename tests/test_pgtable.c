// SPDX-License-Identifier: GPL-2.0-only
/* Page tables: geometry, accessors, population, locks, pte_offset_map_lock. */
#include "harness.h"
#include "pgtable.h"
#include "sched_point.h"

static const unsigned long ADDR = 0x7f0040201000UL;	/* pgd 254, pud 1, pmd 1, pte 1 */

START_TEST(test_geometry_is_x86_64_four_level)
{
	ck_assert_uint_eq(pgd_index(ADDR), 254);
	ck_assert_uint_eq(pud_index(ADDR), 1);
	ck_assert_uint_eq(pmd_index(ADDR), 1);
	ck_assert_uint_eq(pte_index(ADDR), 1);
	ck_assert_uint_eq(PUD_SIZE, 1UL << 30);
	ck_assert_uint_eq(PMD_SIZE, 2UL << 20);
	ck_assert_uint_eq(pud_addr_end(ADDR, ~0UL), 0x7f0080000000UL);
	ck_assert_uint_eq(pmd_addr_end(ADDR, ADDR + 0x1000), ADDR + 0x1000);
}
END_TEST

START_TEST(test_entry_predicates_per_level)
{
	pud_t leaf = pud_mkspecial(pud_mkhuge(pfn_pud(0x40000, PAGE_READONLY)));
	pud_t table = pud_mktable(1234);
	pmd_t w = pmd_mkdirty(pmd_mkwrite(pmd_mkhuge(pfn_pmd(512, PAGE_READONLY))));
	pte_t pte = pte_mkyoung(pfn_pte(77, PAGE_SHARED));

	ck_assert(pud_present(leaf) && pud_leaf(leaf) && pud_special(leaf) && !pud_write(leaf));
	ck_assert_uint_eq(pud_pfn(leaf), 0x40000);
	ck_assert(pud_present(table) && !pud_leaf(table) && !pud_special(table));
	ck_assert_uint_eq(pud_pfn(table), 1234);
	ck_assert(pmd_write(w) && pmd_dirty(w) && pmd_leaf(w) && pmd_trans_huge(w));
	ck_assert(pte_present(pte) && pte_write(pte) && pte_young(pte) && !pte_special(pte));
	ck_assert_uint_eq(pte_pfn(pte), 77);
	ck_assert(pud_none(__pud(0)) && !pud_present(__pud(0)) && !pud_leaf(__pud(0)));
}
END_TEST

START_TEST(test_alloc_populates_each_level_once)
{
	struct mm_struct *mm = tm_mm("pt");
	pgd_t *pgd = pgd_offset(mm, ADDR);
	pud_t *pud;
	pmd_t *pmd;
	unsigned long ptes = atomic_load(&mm->nr_ptes);

	pud = pud_alloc(mm, p4d_offset(pgd, ADDR), ADDR);
	ck_assert_ptr_nonnull(pud);
	ck_assert(pgd_present(pgdp_get(pgd)));
	pmd = pmd_alloc(mm, pud, ADDR);
	ck_assert_ptr_nonnull(pmd);
	ck_assert(pud_present(pudp_get(pud)) && !pud_leaf(pudp_get(pud)));
	ck_assert_int_eq(__pte_alloc(mm, pmd), 0);
	ck_assert(pmd_present(pmdp_get(pmd)) && !pmd_leaf(pmdp_get(pmd)));
	ck_assert_uint_eq(atomic_load(&mm->nr_ptes), ptes + 3);
	/* Populated already: nothing new. */
	ck_assert_int_eq(__pte_alloc(mm, pmd), 0);
	ck_assert_ptr_eq(pud_alloc(mm, p4d_offset(pgd, ADDR), ADDR), pud);
	ck_assert_uint_eq(atomic_load(&mm->nr_ptes), ptes + 3);
	ck_assert_uint_eq(folio_type(page_folio(pfn_to_page(pmd_pfn(pmdp_get(pmd))))),
			  PGTY_pgtable);
}
END_TEST

START_TEST(test_lock_levels_pud_mm_lock_pmd_and_pte_split_locks)
{
	struct mm_struct *mm = tm_mm("pt");
	pud_t *pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, ADDR), ADDR), ADDR);
	pmd_t *pmd = pmd_alloc(mm, pud, ADDR);
	spinlock_t *ptl;
	pte_t *pte;

	ck_assert_ptr_eq(pud_lockptr(mm, pud), &mm->page_table_lock);
	ck_assert_ptr_eq(pmd_lockptr(mm, pmd), &pfn_to_page(virt_to_pfn(pmd))->ptl);
	ck_assert_int_eq(__pte_alloc(mm, pmd), 0);
	pte = pte_offset_map_lock(mm, pmd, ADDR, &ptl);
	ck_assert_ptr_nonnull(pte);
	ck_assert_ptr_eq(ptl, &pfn_to_page(pmd_pfn(pmdp_get(pmd)))->ptl);
	ck_assert(spin_is_held_by_me(ptl));
	ck_assert(!spin_is_locked(pmd_lockptr(mm, pmd)));
	pte_unmap_unlock(pte, ptl);
	ck_assert(!spin_is_locked(ptl));
}
END_TEST

START_TEST(test_pte_offset_map_lock_null_for_none_and_leaf_pmd)
{
	struct mm_struct *mm = tm_mm("pt");
	pud_t *pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, ADDR), ADDR), ADDR);
	pmd_t *pmd = pmd_alloc(mm, pud, ADDR);
	spinlock_t *ptl = NULL;

	ck_assert_ptr_null(pte_offset_map_lock(mm, pmd, ADDR, &ptl));
	set_pmd(pmd, pmd_mkhuge(pfn_pmd(1024, PAGE_SHARED)));
	ck_assert_ptr_null(pte_offset_map_lock(mm, pmd, ADDR, &ptl));
	ck_assert_ptr_null(ptl);
}
END_TEST

struct swap_ctx {
	pmd_t *pmd;
	pmd_t replacement;
	int fired;
};

/* Runs between the lockless PMD read and spin_lock: the PMD changes. */
static void swap_pmd(enum sched_point_id id, struct mm_struct *mm, unsigned long addr, void *priv)
{
	struct swap_ctx *c = priv;

	if (c->fired++)
		return;
	set_pmd(c->pmd, c->replacement);
}

START_TEST(test_pte_offset_map_lock_rechecks_pmd_changed_underneath)
{
	struct mm_struct *mm = tm_mm("pt");
	pud_t *pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, ADDR), ADDR), ADDR);
	pmd_t *pmd = pmd_alloc(mm, pud, ADDR);
	struct page *other = pgtable_alloc();
	struct swap_ctx c = { pmd, pmd_mktable(page_to_pfn(other)), 0 };
	spinlock_t *ptl;
	pmd_t orig;
	pte_t *pte;

	ck_assert_int_eq(__pte_alloc(mm, pmd), 0);
	orig = pmdp_get(pmd);
	sched_point_arm(SP_PTL, swap_pmd, &c);
	pte = pte_offset_map_lock(mm, pmd, ADDR, &ptl);
	sched_point_disarm(SP_PTL);
	/* The first attempt saw the old table, re-checked, and retried. */
	ck_assert_int_eq(c.fired, 2);
	ck_assert_ptr_nonnull(pte);
	ck_assert_uint_eq(virt_to_pfn(pte), page_to_pfn(other));
	ck_assert_ptr_eq(ptl, &other->ptl);
	pte_unmap_unlock(pte, ptl);

	/* And if it became none meanwhile: NULL, nothing held. */
	c = (struct swap_ctx){ pmd, __pmd(0), 0 };
	sched_point_arm(SP_PTL, swap_pmd, &c);
	pte = pte_offset_map_lock(mm, pmd, ADDR, &ptl);
	sched_point_disarm(SP_PTL);
	ck_assert_ptr_null(pte);
	ck_assert(!spin_is_locked(&other->ptl));
	/* The mm's own table back, for exit to free (no leak: harness.h). */
	set_pmd(pmd, orig);
}
END_TEST

static long descend_into_leaf(void *arg)
{
	pud_t *pud = arg;
	pmd_t *pmd = pmd_offset(pud, ADDR);	/* only arithmetic, as in the kernel */

	return pmd_none(pmdp_get(pmd));		/* the read oopses */
}

START_TEST(test_pmd_offset_on_mmio_pud_leaf_read_is_illegal)
{
	struct mm_struct *mm = tm_mm("walker");
	pud_t *pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, ADDR), ADDR), ADDR);
	unsigned char *bytes;
	unsigned long pfn;
	struct oops_record rec;

	ck_assert_int_eq(mmio_alloc(1UL << 30, &pfn, &bytes), 0);
	set_pud(pud, pud_mkspecial(pud_mkhuge(pfn_pud(pfn, PAGE_SHARED))));
	ck_assert_int_eq(sim_task_run(descend_into_leaf, pud), -EOWNERDEAD);
	ck_assert(sim_last_oops(&rec));
	ck_assert_str_eq(rec.func, "descend_into_leaf");
	ck_assert_uint_eq(rec.addr >> PAGE_SHIFT, pfn);
}
END_TEST

START_TEST(test_pgtable_lookup_reports_leaf_level_and_exact_pfn)
{
	struct mm_struct *mm = tm_mm("pt");
	pud_t *pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, ADDR), ADDR), ADDR);
	unsigned long pfn;
	pmd_t *pmd;
	pte_t *pte;

	ck_assert_int_eq(pgtable_lookup(mm, ADDR, &pfn, NULL), PGTABLE_NONE);
	set_pud(pud, pud_mkhuge(pfn_pud(HPAGE_PUD_NR, PAGE_SHARED)));
	ck_assert_int_eq(pgtable_lookup(mm, ADDR, &pfn, NULL), PGTABLE_PUD);
	ck_assert_uint_eq(pfn, HPAGE_PUD_NR + ((ADDR & ~PUD_MASK) >> PAGE_SHIFT));
	set_pud(pud, __pud(0));
	pmd = pmd_alloc(mm, pud, ADDR);
	set_pmd(pmd, pmd_mkhuge(pfn_pmd(HPAGE_PMD_NR * 3, PAGE_SHARED)));
	ck_assert_int_eq(pgtable_lookup(mm, ADDR, &pfn, NULL), PGTABLE_PMD);
	ck_assert_uint_eq(pfn, HPAGE_PMD_NR * 3 + 1);
	set_pmd(pmd, __pmd(0));
	ck_assert_int_eq(__pte_alloc(mm, pmd), 0);
	pte = pte_offset_kernel(pmd, ADDR);
	set_pte(pte, pfn_pte(999, PAGE_SHARED));
	ck_assert_int_eq(pgtable_lookup(mm, ADDR, &pfn, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(pfn, 999);
	set_pte(pte, __pte(0));
}
END_TEST

/* Tables that no VMA ever covered (hand-built here) still go with the mm. */
START_TEST(test_mm_free_pgd_returns_every_table_page)
{
	unsigned long before = nr_allocated_pages();
	struct mm_struct *mm = tm_mm("pt");
	pud_t *pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, ADDR), ADDR), ADDR);
	pmd_t *pmd = pmd_alloc(mm, pud, ADDR);

	ck_assert_int_eq(__pte_alloc(mm, pmd), 0);
	ck_assert_uint_eq(nr_allocated_pages(), before + 4);	/* pgd, pud, pmd, pte */
	mmput(mm);
	ck_assert_uint_eq(nr_allocated_pages(), before);
}
END_TEST

/* The PTE table of @addr, with every upper level, built by hand. */
static void build_tables(struct mm_struct *mm, unsigned long addr)
{
	pud_t *pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, addr), addr), addr);
	pmd_t *pmd = pmd_alloc(mm, pud, addr);

	ck_assert_ptr_nonnull(pmd);
	ck_assert_int_eq(__pte_alloc(mm, pmd), 0);
}

/* free_pgd_range() of [start, end) within [floor, ceiling); tables left after. */
static unsigned long free_range(struct mm_struct *mm, unsigned long start, unsigned long end,
				unsigned long floor, unsigned long ceiling)
{
	struct mmu_gather tlb;

	mmap_write_lock(mm);
	tlb_gather_mmu(&tlb, mm);
	free_pgd_range(&tlb, start, end, floor, ceiling);
	tlb_finish_mmu(&tlb);
	mmap_write_unlock(mm);
	return atomic_load(&mm->nr_ptes);
}

/*
 * free_pgd_range()'s rounding (mm/memory.c): a table goes only if its whole
 * span is inside [floor, ceiling); floor 0 is the bottom, ceiling 0 the top.
 */
START_TEST(test_free_pgd_range_frees_only_tables_inside_floor_and_ceiling)
{
	struct mm_struct *mm = tm_mm("pt");
	unsigned long before = nr_allocated_pages();
	const unsigned long pmd_start = ADDR & PMD_MASK, pud_start = ADDR & PUD_MASK;

	build_tables(mm, ADDR);
	ck_assert_uint_eq(atomic_load(&mm->nr_ptes), 4);
	/* floor inside the PTE table's 2M: addr moves up a PMD, nothing is left. */
	ck_assert_uint_eq(free_range(mm, ADDR, ADDR + PAGE_SIZE, ADDR, 0), 4);
	/* ceiling inside the same 2M: end moves down a PMD, nothing is left. */
	ck_assert_uint_eq(free_range(mm, ADDR, ADDR + PAGE_SIZE, 0, ADDR + 2 * PAGE_SIZE), 4);
	/* A ceiling that rounds down to 0 keeps everything. */
	ck_assert_uint_eq(free_range(mm, 0, PAGE_SIZE, 0, PAGE_SIZE), 4);
	/* Neighbours in the next 2M and the previous 1G: the PTE table only. */
	ck_assert_uint_eq(free_range(mm, ADDR, ADDR + PAGE_SIZE, pud_start - PAGE_SIZE,
				     pmd_start + PMD_SIZE + PAGE_SIZE), 3);
	ck_assert(pgd_present(pgdp_get(pgd_offset(mm, ADDR))));
	ck_assert_int_eq(pgtable_lookup(mm, ADDR, NULL, NULL), PGTABLE_NONE);

	/* Neighbours at the 1G's ends exactly: the PMD table goes, the PUD stays. */
	build_tables(mm, ADDR);
	ck_assert_uint_eq(free_range(mm, ADDR, ADDR + PAGE_SIZE, pud_start, pud_start + PUD_SIZE),
			  2);
	/* Nothing on either side: the PUD table too, and the pgd entry is none. */
	build_tables(mm, ADDR);
	ck_assert_uint_eq(free_range(mm, ADDR, ADDR + PAGE_SIZE, 0, 0), 1);
	ck_assert(pgd_none(pgdp_get(pgd_offset(mm, ADDR))));
	ck_assert_uint_eq(nr_allocated_pages(), before);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

/* x86's p?d_bad(): a leaf left in the range is reported and cleared, never freed. */
START_TEST(test_free_pgd_range_clears_a_leftover_leaf_without_freeing_it)
{
	struct mm_struct *mm = tm_mm("pt");
	pud_t *pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, ADDR), ADDR), ADDR);
	pmd_t *pmd = pmd_alloc(mm, pud, ADDR);
	struct folio *thp = folio_alloc(PMD_ORDER, PGTY_anon);

	set_pmd(pmd, pmd_mkhuge(pfn_pmd(folio_pfn(thp), PAGE_SHARED)));
	ck_assert_uint_eq(free_range(mm, ADDR, ADDR + PAGE_SIZE, 0, 0), 1);
	ck_assert_uint_eq(sim_warn_count(), 1);
	ck_assert_int_eq(folio_ref_count(thp), 1);
	ck_assert_int_eq(folio_type(thp), PGTY_anon);
	folio_put(thp);
	mmput(mm);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("pgtable");
	TCase *tc = tm_tcase(s, "pgtable");

	tcase_add_test(tc, test_geometry_is_x86_64_four_level);
	tcase_add_test(tc, test_entry_predicates_per_level);
	tcase_add_test(tc, test_alloc_populates_each_level_once);
	tcase_add_test(tc, test_lock_levels_pud_mm_lock_pmd_and_pte_split_locks);
	tcase_add_test(tc, test_pte_offset_map_lock_null_for_none_and_leaf_pmd);
	tcase_add_test(tc, test_pte_offset_map_lock_rechecks_pmd_changed_underneath);
	tcase_add_test(tc, test_pmd_offset_on_mmio_pud_leaf_read_is_illegal);
	tcase_add_test(tc, test_pgtable_lookup_reports_leaf_level_and_exact_pfn);
	tcase_add_test(tc, test_mm_free_pgd_returns_every_table_page);
	tcase_add_test(tc, test_free_pgd_range_frees_only_tables_inside_floor_and_ceiling);
	tcase_add_test(tc, test_free_pgd_range_clears_a_leftover_leaf_without_freeing_it);
	return s;
}
