// SPDX-License-Identifier: GPL-2.0-only
/* Physical memory: allocator, struct page, folios, the direct map. */
#include "harness.h"
#include "page.h"

START_TEST(test_struct_page_is_16_bytes_per_frame)
{
	ck_assert_uint_eq(sizeof(struct page), 16);
	ck_assert_uint_eq(tm->memmap_bytes / max_pfn, 16);
}
END_TEST

START_TEST(test_reserved_low_frames_are_never_allocated)
{
	struct folio *f = folio_alloc(0, PGTY_anon);

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_ge(folio_pfn(f), SIM_RESERVED_PAGES);
	ck_assert(PageReserved(pfn_to_page(0)));
	ck_assert(PageReserved(pfn_to_page(SIM_RESERVED_PAGES - 1)));
	ck_assert(!PageReserved(&f->page));
	folio_put(f);
}
END_TEST

START_TEST(test_alloc_orders_are_naturally_aligned)
{
	struct folio *a = folio_alloc(0, PGTY_anon);
	struct folio *b = folio_alloc(PMD_ORDER, PGTY_anon);
	struct folio *c = folio_alloc(PUD_ORDER, PGTY_anon);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(folio_pfn(b) & (HPAGE_PMD_NR - 1), 0);
	ck_assert_uint_eq(folio_pfn(c) & (HPAGE_PUD_NR - 1), 0);
	ck_assert_uint_eq(folio_order(a), 0);
	ck_assert_uint_eq(folio_order(b), PMD_ORDER);
	ck_assert_uint_eq(folio_order(c), PUD_ORDER);
	ck_assert_int_eq(folio_ref_count(c), 1);
	ck_assert_int_eq(folio_pincount(c), 0);
	/* page_folio() of any tail page finds the head by alignment. */
	ck_assert_ptr_eq(page_folio(folio_page(c, 12345)), c);
	ck_assert_ptr_eq(page_folio(folio_page(b, 511)), b);
	ck_assert_ptr_eq(page_folio(&a->page), a);
	folio_put(a);
	folio_put(b);
	folio_put(c);
}
END_TEST

START_TEST(test_free_returns_frames_and_zeroes_written_data)
{
	unsigned long before = nr_allocated_pages();
	struct folio *f = folio_alloc(0, PGTY_anon);
	unsigned long pfn = folio_pfn(f);
	unsigned char *p = page_address(&f->page);
	struct folio *g;

	ck_assert_uint_eq(nr_allocated_pages(), before + 1);
	memset(p, 0xa5, PAGE_SIZE);
	folio_mark_data(f);
	folio_put(f);
	ck_assert_uint_eq(nr_allocated_pages(), before);
	/* LIFO free list: the same frame comes back, zeroed. */
	g = folio_alloc(0, PGTY_anon);
	ck_assert_uint_eq(folio_pfn(g), pfn);
	for (unsigned long i = 0; i < PAGE_SIZE; i++)
		ck_assert_uint_eq(p[i], 0);
	folio_put(g);
}
END_TEST

START_TEST(test_large_folio_data_released_on_free)
{
	struct folio *f = folio_alloc(PMD_ORDER, PGTY_anon);
	unsigned char *p = page_address(&f->page);
	struct folio *g;

	p[0] = 1;
	p[PMD_SIZE - 1] = 2;
	folio_mark_data(f);
	folio_put(f);
	g = folio_alloc(PMD_ORDER, PGTY_anon);
	ck_assert_ptr_eq(g, f);
	ck_assert_uint_eq(p[0], 0);
	ck_assert_uint_eq(p[PMD_SIZE - 1], 0);
	folio_put(g);
}
END_TEST

START_TEST(test_exhaustion_returns_null_and_split_refills)
{
	unsigned long n = 0;
	struct folio *f;

	/* 8 GiB machine, 4 x 1G and 16 x 2M in pools: take every other 1G. */
	while ((f = folio_alloc(PUD_ORDER, PGTY_anon)))
		n++;
	ck_assert_uint_ge(n, 1);
	/* Smaller orders still come from the leftovers. */
	ck_assert_ptr_nonnull(folio_alloc(PMD_ORDER, PGTY_anon));
	ck_assert_ptr_nonnull(folio_alloc(0, PGTY_anon));
	ck_assert_ptr_null(folio_alloc(PUD_ORDER, PGTY_anon));
}
END_TEST

START_TEST(test_folio_put_to_zero_frees_and_warns_below_zero)
{
	struct folio *f = folio_alloc(0, PGTY_anon);
	unsigned long warns = sim_warn_count();

	folio_get(f);
	folio_put(f);
	ck_assert_int_eq(folio_ref_count(f), 1);
	folio_put(f);
	ck_assert_int_eq(folio_ref_count(f), 0);
	ck_assert_uint_eq(sim_warn_count(), warns);
	folio_put(f);	/* underflow: a WARN, not a second free */
	ck_assert_uint_eq(sim_warn_count(), warns + 1);
}
END_TEST

START_TEST(test_pin_bias_semantics_of_maybe_dma_pinned)
{
	struct folio *small = folio_alloc(0, PGTY_anon);
	struct folio *large = folio_alloc(PMD_ORDER, PGTY_anon);

	ck_assert(!folio_maybe_dma_pinned(small));
	folio_ref_add(small, GUP_PIN_COUNTING_BIAS);
	ck_assert(folio_maybe_dma_pinned(small));
	ck_assert(!folio_maybe_dma_pinned(large));
	atomic_fetch_add(&large->page._pincount, 1);
	ck_assert(folio_maybe_dma_pinned(large));
	/* Unpinned again: no pin outlives the test (the pin-leak scan at teardown). */
	folio_ref_add(small, -(int)GUP_PIN_COUNTING_BIAS);
	atomic_fetch_sub(&large->page._pincount, 1);
	ck_assert(!folio_maybe_dma_pinned(small));
	ck_assert(!folio_maybe_dma_pinned(large));
}
END_TEST

static long read_mmio_as_table(void *arg)
{
	unsigned long pfn = *(unsigned long *)arg;
	pmd_t *table = phys_to_virt(pfn);

	(void)pmdp_get(table);	/* an illegal read: never returns */
	return 0;
}

START_TEST(test_reading_mmio_pfn_as_memory_oopses_the_task)
{
	struct mm_struct *mm = tm_mm("reader");
	unsigned long faults = sim_direct_map_fault_count();
	unsigned char *bytes;
	unsigned long pfn;
	struct oops_record rec;
	long ret;

	ck_assert_int_eq(mmio_alloc(1UL << 30, &pfn, &bytes), 0);
	ck_assert(!pfn_valid(pfn));
	ck_assert_ptr_eq(mmio_virt(pfn + 5), bytes + 5 * PAGE_SIZE);
	ret = sim_task_run(read_mmio_as_table, &pfn);
	ck_assert_int_eq(ret, -EOWNERDEAD);
	/* The host MMU refused the load (no reservation: the accessor's check). */
	ck_assert_uint_eq(sim_direct_map_fault_count(), faults + sim_direct_map_faults());
	ck_assert(atomic_load(&mm->owner->dead));
	ck_assert_uint_eq(sim_oops_count(), 1);
	ck_assert(sim_last_oops(&rec));
	ck_assert_str_eq(rec.func, "read_mmio_as_table");
	ck_assert_uint_eq(rec.addr, (uint64_t)pfn << PAGE_SHIFT);
	ck_assert_ptr_nonnull(strstr(rec.why, "illegal read of MMIO pfn"));
	ck_assert_str_eq(rec.comm, "reader");
	/* A dead task runs nothing more. */
	ck_assert_int_eq(sim_task_run(read_mmio_as_table, &pfn), -ESRCH);
}
END_TEST

START_TEST(test_reading_ram_pfn_through_direct_map_is_fine)
{
	struct page *pt = pgtable_alloc();
	pmd_t *table = phys_to_virt(page_to_pfn(pt));

	ck_assert(pmd_none(pmdp_get(&table[17])));
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_uint_eq(virt_to_pfn(&table[17]), page_to_pfn(pt));
}
END_TEST

START_TEST(test_terabyte_machine_costs_nothing_until_touched)
{
	struct machine_config cfg;
	struct machine *m;
	struct folio *f;

	tm_teardown();
	tm_defaults(&cfg);
	/* valgrind cannot reserve 1 TiB of client address space: 16 GiB there. */
	cfg.ram_bytes = getenv("PINSIM_VALGRIND") ? 16 * GiB : 1ULL << 40;
	ck_assert_int_eq(machine_create(&cfg, &m), 0);
	tm = m;
	ck_assert_uint_eq(max_pfn, cfg.ram_bytes >> PAGE_SHIFT);
	f = folio_alloc(PUD_ORDER, PGTY_anon);
	ck_assert_ptr_nonnull(f);
	folio_put(f);
}
END_TEST

START_TEST(test_second_machine_is_busy_and_bad_config_rejected)
{
	struct machine_config cfg;
	struct machine *m;

	tm_defaults(&cfg);
	ck_assert_int_eq(machine_create(&cfg, &m), -EBUSY);
	tm_teardown();
	cfg.ram_bytes = 3ULL << 29;	/* not a multiple of 1 GiB */
	ck_assert_int_eq(machine_create(&cfg, &m), -EINVAL);
	tm_defaults(&cfg);
	cfg.hugetlb_1g_pages = 100;	/* more than RAM */
	ck_assert_int_eq(machine_create(&cfg, &m), -ENOMEM);
	ck_assert_ptr_null(machine);
}
END_TEST

START_TEST(test_mmio_alloc_is_naturally_aligned_and_above_ram)
{
	unsigned long a, b;
	unsigned char *ba, *bb;

	ck_assert_int_eq(mmio_alloc(16 * MiB, &a, &ba), 0);
	ck_assert_int_eq(mmio_alloc(32 * GiB, &b, &bb), 0);
	ck_assert_uint_eq(a & ((16 * MiB >> PAGE_SHIFT) - 1), 0);
	ck_assert_uint_eq(b & ((32 * GiB >> PAGE_SHIFT) - 1), 0);
	ck_assert_uint_ge(a, max_pfn);
	ck_assert_uint_ge(b, a + (16 * MiB >> PAGE_SHIFT));
	ck_assert_int_eq(mmio_alloc(3 * PAGE_SIZE, &a, &ba), -EINVAL);
}
END_TEST

/*
 * Every pfn a BAR can get has its direct-map address inside the host
 * reservation (page.h): BARs, each the largest naturally aligned size that
 * fits where the last ended, fill the window from its base exactly to its
 * end, and the next one is refused as when the window is full.
 */
START_TEST(test_mmio_window_ends_where_the_direct_map_reservation_ends)
{
	unsigned long pfn = 0, next = mmio_base_pfn, n = 0;
	unsigned char *bytes;

	if (!sim_direct_map_faults()) {
		ck_assert_msg(getenv("PINSIM_VALGRIND"), "direct-map faults not handled: "
			      "no reservation, or a sanitizer keeps SIGSEGV");
		printf("# skip: no direct-map reservation under valgrind\n");
		return;
	}
	ck_assert_uint_eq((uint64_t)mmio_end_pfn << PAGE_SHIFT, direct_map_bytes);
	while (next < mmio_end_pfn) {
		unsigned long nr = next & -next;	/* alignment of next */

		while (next + nr > mmio_end_pfn)
			nr >>= 1;
		ck_assert_int_eq(mmio_alloc((uint64_t)nr << PAGE_SHIFT, &pfn, &bytes), 0);
		ck_assert_uint_eq(pfn, next);
		next = pfn + nr;
		n++;
	}
	ck_assert_uint_eq(next, mmio_end_pfn);
	ck_assert_int_eq(mmio_alloc(4 * KiB, &pfn, &bytes), -ENOMEM);
	printf("# MMIO window [%#lx, %#lx): %lu BARs\n", mmio_base_pfn, mmio_end_pfn, n);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("phys");
	TCase *tc = tm_tcase(s, "phys");

	tcase_add_test(tc, test_struct_page_is_16_bytes_per_frame);
	tcase_add_test(tc, test_reserved_low_frames_are_never_allocated);
	tcase_add_test(tc, test_alloc_orders_are_naturally_aligned);
	tcase_add_test(tc, test_free_returns_frames_and_zeroes_written_data);
	tcase_add_test(tc, test_large_folio_data_released_on_free);
	tcase_add_test(tc, test_exhaustion_returns_null_and_split_refills);
	tcase_add_test(tc, test_folio_put_to_zero_frees_and_warns_below_zero);
	tcase_add_test(tc, test_pin_bias_semantics_of_maybe_dma_pinned);
	tcase_add_test(tc, test_reading_mmio_pfn_as_memory_oopses_the_task);
	tcase_add_test(tc, test_reading_ram_pfn_through_direct_map_is_fine);
	tcase_add_test(tc, test_terabyte_machine_costs_nothing_until_touched);
	tcase_add_test(tc, test_second_machine_is_busy_and_bad_config_rejected);
	tcase_add_test(tc, test_mmio_alloc_is_naturally_aligned_and_above_ram);
	tcase_add_test(tc, test_mmio_window_ends_where_the_direct_map_reservation_ends);
	return s;
}
