// SPDX-License-Identifier: GPL-2.0-only
/*
 * mremap(2) as 6.12's mm/mremap.c does it (sim/mremap.c): shrink in place,
 * grow in place or move (MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP);
 * move_page_tables() moves leaves at their level (PTE, THP PMD, BAR PUD,
 * hugetlb), so pinned pages move with their pins and a DMA mapping keeps
 * working; the errnos of do_mremap()/vma_to_resize() in order, with the
 * state after each failure; BARs (VM_PFNMAP|VM_DONTEXPAND) and hugetlb
 * cannot grow; VM_LOCKED mappings keep locked_vm right.
 */
#include "memsys_fixture.h"

#define P4K 4096ULL
#define IOVA (1ULL << 32)

START_TEST(mremap_shrink_in_place_unmaps_tail)
{
	uint64_t va = ms_map(0, 16 * P4K, RW, ANON), frames;
	uint32_t v;

	for (int i = 0; i < 16; i++)
		cpu_write(va + i * P4K, i);
	frames = pages_allocated();
	ck_assert_uint_eq(pinsim_mremap(proc, va, 16 * P4K, 4 * P4K, 0, 0), va);
	ck_assert_uint_eq(nr_vmas(), 1);
	ck_assert_uint_eq(pages_allocated(), frames - 12);
	ck_assert_uint_eq(cpu_read(va + 3 * P4K), 3);
	ck_assert_int_eq(pinsim_access(proc, va + 4 * P4K, &v, sizeof(v), 0), -1);
	ck_assert_int_eq(errno, EFAULT);
}
END_TEST

START_TEST(mremap_grow_in_place_or_move_or_enomem)
{
	uint64_t va = ms_map(FIXED_VA, 4 * P4K, RW, ANON), moved;

	cpu_write(va, 0x11);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 4 * P4K, 8 * P4K, 0, 0), va);
	ck_assert_uint_eq(nr_vmas(), 1);
	cpu_write(va + 7 * P4K, 0x22);
	ms_map(va + 8 * P4K, P4K, PROT_READ, ANON);	/* not mergeable: blocks growth */
	ck_assert_uint_eq(nr_vmas(), 2);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 8 * P4K, 16 * P4K, 0, 0), PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(nr_vmas(), 2);
	ck_assert_uint_eq(cpu_read(va + 7 * P4K), 0x22);
	moved = pinsim_mremap(proc, va, 8 * P4K, 16 * P4K, MREMAP_MAYMOVE, 0);
	ck_assert_uint_ne(moved, PINSIM_MAP_FAILED);
	ck_assert_uint_ne(moved, va);
	ck_assert_uint_eq(cpu_read(moved), 0x11);
	ck_assert_uint_eq(cpu_read(moved + 7 * P4K), 0x22);
	ck_assert_uint_eq(cpu_read(moved + 15 * P4K), 0);
	ck_assert_uint_eq(nr_vmas(), 2);
}
END_TEST

START_TEST(mremap_move_keeps_pinned_pages_and_dma)
{
	uint64_t va = ms_map(0, 16 * P4K, RW, ANON), to = FIXED_VA + (4ULL << 30), got;
	struct pinsim_page_info before, after;
	uint32_t v;

	for (int i = 0; i < 16; i++)
		cpu_write(va + i * P4K, 0xc0de0000 + i);
	ck_assert_int_eq(map_dma(va, IOVA, 16 * P4K, true), 0);
	before = page_at(va + 5 * P4K);
	ck_assert_int_gt(before.pincount, 0);
	ck_assert_uint_eq(locked_vm(), 16);
	got = pinsim_mremap(proc, va, 16 * P4K, 16 * P4K, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	ck_assert_uint_eq(got, to);
	after = page_at(to + 5 * P4K);
	ck_assert_uint_eq(after.pfn, before.pfn);
	ck_assert_int_eq(after.pincount, before.pincount);
	ck_assert_int_eq(after.refcount, before.refcount);
	ck_assert_int_eq(pinsim_access(proc, va, &v, sizeof(v), 0), -1);
	ck_assert_uint_eq(nr_vmas(), 1);
	ck_assert_uint_eq(locked_vm(), 16);
	/* The IOMMU still maps the same frames: both ways. */
	ck_assert_uint_eq(dma_read(IOVA + 5 * P4K), 0xc0de0005);
	cpu_write(to + 6 * P4K, 0xfeed);
	ck_assert_uint_eq(dma_read(IOVA + 6 * P4K), 0xfeed);
	unmap_dma(IOVA, 16 * P4K);
	ck_assert_int_eq(page_at(to + 5 * P4K).pincount, 0);
	ck_assert_uint_eq(locked_vm(), 0);
	ck_assert_uint_eq(cpu_read(to + 5 * P4K), 0xc0de0005);
}
END_TEST

START_TEST(mremap_move_thp_whole_pmd_or_split_when_misaligned)
{
	uint64_t va = ms_map(FIXED_VA, 2 * MiB, RW, ANON), to = FIXED_VA + (1ULL << 30);
	struct pinsim_page_info pi;

	ck_assert_int_eq(pinsim_madvise(proc, va, 2 * MiB, MADV_HUGEPAGE), 0);
	cpu_write(va + P4K, 0x42);
	pi = page_at(va);
	ck_assert_int_eq(pi.level, PINSIM_LEVEL_PMD);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 2 * MiB, 2 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED,
					to), to);
	ck_assert_int_eq(page_at(to).level, PINSIM_LEVEL_PMD);
	ck_assert_uint_eq(page_at(to).pfn, pi.pfn);
	/* A destination off the 2M grid: split_huge_pmd(), then the PTEs move. */
	ck_assert_uint_eq(pinsim_mremap(proc, to, 2 * MiB, 2 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED,
					va + P4K), va + P4K);
	ck_assert_int_eq(page_at(va + 2 * P4K).level, PINSIM_LEVEL_PTE);
	ck_assert_uint_eq(page_at(va + 2 * P4K).pfn, pi.pfn + 1);
	ck_assert_uint_eq(cpu_read(va + 2 * P4K), 0x42);
}
END_TEST

START_TEST(mremap_move_bar_keeps_pud_leaf)
{
	uint64_t va = ms_map_bar(FIXED_VA, BAR_SIZE, RW), to = FIXED_VA + (4ULL << 30);
	struct pinsim_page_info pi;
	uint32_t v;

	cpu_write(va + 8, 0xba5e);
	pi = page_at(va);
	ck_assert_int_eq(pi.level, PINSIM_LEVEL_PUD);
	ck_assert_uint_eq(pinsim_mremap(proc, va, BAR_SIZE, BAR_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
					to), to);
	ck_assert_int_eq(page_at(to).level, PINSIM_LEVEL_PUD);
	ck_assert_uint_eq(page_at(to).pfn, pi.pfn);
	ck_assert_uint_eq(cpu_read(to + 8), 0xba5e);
	ck_assert_int_eq(pinsim_access(proc, va, &v, sizeof(v), 0), -1);
	ck_assert_uint_eq(nr_vmas(), 1);
}
END_TEST

START_TEST(mremap_grow_bar_efault)
{
	uint64_t va = ms_map_bar(0, 2 * MiB, RW);

	cpu_write(va, 5);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 2 * MiB, 4 * MiB, MREMAP_MAYMOVE, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 2 * MiB, 4 * MiB, 0, 0), PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EFAULT);
	/* MREMAP_DONTUNMAP of a pfnmap: vma_to_resize() says -EINVAL. */
	ck_assert_uint_eq(pinsim_mremap(proc, va, 2 * MiB, 2 * MiB,
					MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0), PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(nr_vmas(), 1);
	ck_assert_uint_eq(cpu_read(va), 5);
}
END_TEST

START_TEST(mremap_errnos_in_do_mremap_order_change_nothing)
{
	uint64_t va = ms_map(FIXED_VA, 4 * P4K, RW, ANON), frames;

	cpu_write(va, 1);
	frames = pages_allocated();
#define FAILS(call, e)                                          \
	do {                                                    \
		ck_assert_uint_eq((call), PINSIM_MAP_FAILED);   \
		ck_assert_int_eq(errno, (e));                   \
		ck_assert_uint_eq(nr_vmas(), 1);                \
		ck_assert_uint_eq(pages_allocated(), frames);   \
	} while (0)
	FAILS(pinsim_mremap(proc, va, 4 * P4K, 8 * P4K, 0x80, 0), EINVAL);
	FAILS(pinsim_mremap(proc, va, 4 * P4K, 8 * P4K, MREMAP_FIXED, va + (1ULL << 30)), EINVAL);
	FAILS(pinsim_mremap(proc, va, 4 * P4K, 8 * P4K, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0),
	      EINVAL);
	FAILS(pinsim_mremap(proc, va + 1, 4 * P4K, 8 * P4K, MREMAP_MAYMOVE, 0), EINVAL);
	FAILS(pinsim_mremap(proc, va, 4 * P4K, 0, MREMAP_MAYMOVE, 0), EINVAL);
	FAILS(pinsim_mremap(proc, va + (1ULL << 30), P4K, 2 * P4K, MREMAP_MAYMOVE, 0), EFAULT);
	/* vma_to_resize(): the old range past the VMA. */
	FAILS(pinsim_mremap(proc, va, 8 * P4K, 16 * P4K, MREMAP_MAYMOVE, 0), EFAULT);
	/* mremap_to(): overlap, unaligned new address. */
	FAILS(pinsim_mremap(proc, va, 4 * P4K, 4 * P4K, MREMAP_MAYMOVE | MREMAP_FIXED, va + P4K),
	      EINVAL);
	FAILS(pinsim_mremap(proc, va, 4 * P4K, 4 * P4K, MREMAP_MAYMOVE | MREMAP_FIXED,
			    va + (1ULL << 30) + 1), EINVAL);
	/* A private mapping with old_len 0: nothing to duplicate. */
	FAILS(pinsim_mremap(proc, va, 0, 4 * P4K, MREMAP_MAYMOVE, 0), EINVAL);
#undef FAILS
	ck_assert_uint_eq(cpu_read(va), 1);
}
END_TEST

START_TEST(mremap_dontunmap_leaves_empty_unlocked_old_vma)
{
	uint64_t va = ms_map(0, 4 * P4K, RW, ANON), got;

	cpu_write(va, 0x77);
	ck_assert_int_eq(pinsim_mlock(proc, va, 4 * P4K, 0), 0);
	ck_assert_uint_eq(locked_vm(), 4);
	got = pinsim_mremap(proc, va, 4 * P4K, 4 * P4K, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	ck_assert_uint_ne(got, PINSIM_MAP_FAILED);
	ck_assert_uint_ne(got, va);
	ck_assert_uint_eq(nr_vmas(), 2);
	ck_assert_uint_eq(cpu_read(got), 0x77);
	/* The old range stays mapped, empty: a fresh zero page. */
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_NONE);
	ck_assert_uint_eq(cpu_read(va), 0);
	/* "Because we won't unmap we don't need to touch locked_vm." */
	ck_assert_uint_eq(locked_vm(), 4);
	ck_assert_int_eq(pinsim_munmap(proc, got, 4 * P4K), 0);
	ck_assert_uint_eq(locked_vm(), 0);
	ck_assert_int_eq(pinsim_munmap(proc, va, 4 * P4K), 0);
	ck_assert_uint_eq(locked_vm(), 0);
}
END_TEST

START_TEST(mremap_hugetlb_aligned_move_no_growth)
{
	uint64_t va = ms_map(FIXED_VA, 4 * MiB, RW, ANON | MAP_HUGETLB | MAP_HUGE_2MB);
	uint64_t to = FIXED_VA + (1ULL << 30);
	struct pinsim_page_info pi;

	cpu_write(va, 0x2b);
	pi = page_at(va);
	ck_assert_int_eq(pi.level, PINSIM_LEVEL_PMD);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 4 * MiB, 8 * MiB, MREMAP_MAYMOVE, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 4 * MiB, 4 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED,
					to + P4K), PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(nr_vmas(), 1);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 4 * MiB, 4 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED,
					to), to);
	ck_assert_int_eq(page_at(to).level, PINSIM_LEVEL_PMD);
	ck_assert_uint_eq(page_at(to).pfn, pi.pfn);
	ck_assert_uint_eq(cpu_read(to), 0x2b);
	/* Shrinking is allowed: lengths round up to the huge page. */
	ck_assert_uint_eq(pinsim_mremap(proc, to, 4 * MiB, 2 * MiB - P4K, 0, 0), to);
	cpu_write(to + MiB, 1);
	ck_assert_uint_eq(nr_vmas(), 1);
}
END_TEST

struct zaps {
	int n;
	uint64_t start, end;
};

static void count_zap(void *data, uint64_t start, uint64_t end)
{
	struct zaps *z = data;

	if (!z->n++) {
		z->start = start;
		z->end = end;
	}
}

START_TEST(mremap_move_notifies_moved_from_range)
{
	uint64_t va = ms_map(0, 8 * P4K, RW, ANON), to = FIXED_VA;
	struct zaps z = { 0 };

	cpu_write(va, 1);
	ck_assert_int_eq(pinsim_set_zap_notifier(proc, count_zap, &z), 0);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 8 * P4K, 8 * P4K, MREMAP_MAYMOVE | MREMAP_FIXED,
					to), to);
	ck_assert_int_ge(z.n, 1);
	ck_assert_uint_eq(z.start, va);
	ck_assert_uint_eq(z.end, va + 8 * P4K);
}
END_TEST

START_TEST(mremap_locked_grow_charges_and_populates)
{
	uint64_t va = ms_map(FIXED_VA, 4 * P4K, RW, ANON), moved;

	ck_assert_int_eq(pinsim_mlock(proc, va, 4 * P4K, 0), 0);
	ck_assert_uint_eq(locked_vm(), 4);
	ck_assert_uint_eq(pinsim_mremap(proc, va, 4 * P4K, 8 * P4K, 0, 0), va);
	ck_assert_uint_eq(locked_vm(), 8);
	ck_assert_int_eq(page_at(va + 7 * P4K).level, PINSIM_LEVEL_PTE);	/* populated */
	ms_map(va + 8 * P4K, P4K, PROT_READ, ANON);
	moved = pinsim_mremap(proc, va, 8 * P4K, 12 * P4K, MREMAP_MAYMOVE, 0);
	ck_assert_uint_ne(moved, PINSIM_MAP_FAILED);
	ck_assert_uint_eq(locked_vm(), 12);
	ck_assert_int_eq(page_at(moved + 11 * P4K).level, PINSIM_LEVEL_PTE);
	/* Over RLIMIT_MEMLOCK: mlock_future_ok() in vma_to_resize(): -EAGAIN. */
	ck_assert_uint_eq(pinsim_mremap(proc, moved, 12 * P4K, 64 * MiB, MREMAP_MAYMOVE, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(locked_vm(), 12);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("mremap");
	TCase *tc = ms_tcase(s, "mremap");

	tcase_add_test(tc, mremap_shrink_in_place_unmaps_tail);
	tcase_add_test(tc, mremap_grow_in_place_or_move_or_enomem);
	tcase_add_test(tc, mremap_move_keeps_pinned_pages_and_dma);
	tcase_add_test(tc, mremap_move_thp_whole_pmd_or_split_when_misaligned);
	tcase_add_test(tc, mremap_move_bar_keeps_pud_leaf);
	tcase_add_test(tc, mremap_grow_bar_efault);
	tcase_add_test(tc, mremap_errnos_in_do_mremap_order_change_nothing);
	tcase_add_test(tc, mremap_dontunmap_leaves_empty_unlocked_old_vma);
	tcase_add_test(tc, mremap_hugetlb_aligned_move_no_growth);
	tcase_add_test(tc, mremap_move_notifies_moved_from_range);
	tcase_add_test(tc, mremap_locked_grow_charges_and_populates);
	return s;
}
