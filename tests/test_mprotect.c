// SPDX-License-Identifier: GPL-2.0-only
/*
 * mprotect(2) as 6.12's mm/mprotect.c does it (sim/mprotect.c): the errnos
 * of do_mprotect_pkey() in its order, with the state after each failure;
 * VMAs split and merged again (vma_modify_flags()); leaves changed at the
 * level they are (PTE, THP PMD, BAR PUD, hugetlb) and exclusive anonymous
 * pages made writable again without a fault (can_change_pte_writable());
 * PROT_NONE; the zap notifier; and VFIO: pins stay, a write MAP_DMA of a
 * read-only range fails as pin_user_pages_remote() does (-EFAULT).
 */
#include "memsys_fixture.h"
#include "pinsim_internal.h"

#define P4K 4096ULL

START_TEST(mprotect_readonly_then_write_faults_efault)
{
	uint64_t va = ms_map(0, 16 * P4K, RW, ANON);
	uint32_t v = 7;

	cpu_write(va, 0x1234);
	ck_assert(page_at(va).writable);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 16 * P4K, PROT_READ), 0);
	ck_assert(!page_at(va).writable);
	ck_assert_int_eq(pinsim_access(proc, va, &v, sizeof(v), 1), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_uint_eq(cpu_read(va), 0x1234);
	ck_assert_uint_eq(nr_vmas(), 1);
}
END_TEST

START_TEST(mprotect_splits_and_remerges_vmas)
{
	uint64_t va = ms_map(0, 16 * P4K, RW, ANON);

	ck_assert_uint_eq(nr_vmas(), 1);
	ck_assert_int_eq(pinsim_mprotect(proc, va + 4 * P4K, 4 * P4K, PROT_READ), 0);
	ck_assert_uint_eq(nr_vmas(), 3);
	/* The head: merges with the middle (same flags now), tail stays. */
	ck_assert_int_eq(pinsim_mprotect(proc, va, 4 * P4K, PROT_READ), 0);
	ck_assert_uint_eq(nr_vmas(), 2);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 8 * P4K, RW), 0);
	ck_assert_uint_eq(nr_vmas(), 1);
	cpu_write(va + 15 * P4K, 1);
}
END_TEST

START_TEST(mprotect_unaligned_bad_prot_growsdown_einval)
{
	uint64_t va = ms_map(0, 4 * P4K, RW, ANON);

	ck_assert_int_eq(pinsim_mprotect(proc, va + 1, P4K, PROT_READ), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_mprotect(proc, va, P4K, 0x100), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_mprotect(proc, va, P4K, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP),
			 -1);
	ck_assert_int_eq(errno, EINVAL);
	/* No VM_GROWSDOWN VMA. */
	ck_assert_int_eq(pinsim_mprotect(proc, va, P4K, PROT_READ | PROT_GROWSDOWN), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* len 0 is a successful no-op; PROT_SEM is accepted. */
	ck_assert_int_eq(pinsim_mprotect(proc, va, 0, PROT_READ), 0);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 4 * P4K, RW | PROT_SEM), 0);
	ck_assert_uint_eq(nr_vmas(), 1);
	cpu_write(va, 5);
}
END_TEST

START_TEST(mprotect_hole_enomem_changes_nothing)
{
	uint64_t a = ms_map(FIXED_VA, 4 * P4K, RW, ANON);
	uint64_t b = ms_map(FIXED_VA + 8 * P4K, 4 * P4K, RW, ANON);

	cpu_write(a, 1);
	/* The range starts in the hole: nothing is looked at. */
	ck_assert_int_eq(pinsim_mprotect(proc, a + 4 * P4K, 8 * P4K, PROT_READ), -1);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(nr_vmas(), 2);
	cpu_write(b, 2);
	ck_assert(page_at(b).writable);
	/* Nothing mapped at all. */
	ck_assert_int_eq(pinsim_mprotect(proc, FIXED_VA + (1ULL << 30), P4K, PROT_READ), -1);
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

/*
 * A hole after the first VMA: do_mprotect_pkey() has already changed the
 * VMAs before it when it finds the hole (-ENOMEM), and keeps the change.
 */
START_TEST(mprotect_hole_after_first_vma_enomem_keeps_first_change)
{
	uint64_t a = ms_map(FIXED_VA, 4 * P4K, RW, ANON);
	uint64_t b = ms_map(FIXED_VA + 8 * P4K, 4 * P4K, RW, ANON);
	uint32_t v = 0;

	cpu_write(a, 1);
	cpu_write(b, 2);
	ck_assert_int_eq(pinsim_mprotect(proc, a, 12 * P4K, PROT_READ), -1);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_int_eq(pinsim_access(proc, a, &v, sizeof(v), 1), -1);
	ck_assert(!page_at(a).writable);
	cpu_write(b, 3);	/* after the hole: unchanged */
	ck_assert_uint_eq(nr_vmas(), 2);
}
END_TEST

/* A VMA without VM_MAYWRITE (a read-only file's MAP_SHARED mapping). */
START_TEST(mprotect_write_beyond_maywrite_eacces_changes_nothing)
{
	uint64_t va = ms_map(0, 4 * P4K, PROT_READ, MAP_SHARED | MAP_ANONYMOUS);
	struct vm_area_struct *vma;

	mmap_write_lock(proc->mm);
	vma = vma_lookup(proc->mm, va);
	ck_assert_ptr_nonnull(vma);
	vma->vm_flags &= ~VM_MAYWRITE;	/* do_mmap() without FMODE_WRITE */
	mmap_write_unlock(proc->mm);
	ck_assert_int_eq(pinsim_mprotect(proc, va + P4K, P4K, RW), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_uint_eq(nr_vmas(), 1);
	/* Taking access away is always allowed. */
	ck_assert_int_eq(pinsim_mprotect(proc, va + P4K, P4K, PROT_NONE), 0);
	ck_assert_uint_eq(nr_vmas(), 3);
}
END_TEST

/* 6.12: MM_CP_TRY_CHANGE_WRITABLE maps exclusive anon pages writable again. */
START_TEST(mprotect_rw_again_makes_exclusive_anon_writable_without_fault)
{
	uint64_t va = ms_map(0, 4 * P4K, RW, ANON);
	struct pinsim_proc_stats st0, st1;

	cpu_write(va, 9);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 4 * P4K, PROT_READ), 0);
	ck_assert(!page_at(va).writable);
	ck_assert_int_eq(pinsim_proc_stats(proc, &st0), 0);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 4 * P4K, RW), 0);
	ck_assert(page_at(va).writable);
	cpu_write(va, 10);
	ck_assert_int_eq(pinsim_proc_stats(proc, &st1), 0);
	ck_assert_uint_eq(st1.faults_pte, st0.faults_pte);
}
END_TEST

START_TEST(mprotect_none_refuses_access_keeps_pages)
{
	uint64_t va = ms_map(0, 4 * P4K, RW, ANON);
	uint64_t frames;
	uint32_t v;

	cpu_write(va, 0xabcd);
	frames = pages_allocated();
	ck_assert_int_eq(pinsim_mprotect(proc, va, 4 * P4K, PROT_NONE), 0);
	ck_assert_int_eq(pinsim_access(proc, va, &v, sizeof(v), 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_int_eq(map_dma(va, 0, 4 * P4K, false), -EFAULT);
	ck_assert_uint_eq(locked_vm(), 0);
	/* x86 keeps PROT_NONE leaves (pte_present()): the page is still there. */
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PTE);
	ck_assert_uint_eq(pages_allocated(), frames);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 4 * P4K, PROT_READ), 0);
	ck_assert_uint_eq(cpu_read(va), 0xabcd);
}
END_TEST

START_TEST(mprotect_readonly_then_map_dma_write_efault_read_ok)
{
	uint64_t va = ms_map(0, 16 * P4K, RW, ANON);
	struct pinsim_vfio_stats vs;

	ck_assert_int_eq(pinsim_mprotect(proc, va, 16 * P4K, PROT_READ), 0);
	ck_assert_int_eq(map_dma(va, 0, 16 * P4K, true), -EFAULT);
	ck_assert_uint_eq(locked_vm(), 0);
	ck_assert_int_eq(pinsim_vfio_stats(proc, container, &vs), 0);
	ck_assert_uint_eq(vs.nr_dmas, 0);
	ck_assert_int_eq(map_dma(va, 0, 16 * P4K, false), 0);
	ck_assert_uint_eq(locked_vm(), 16);
	ck_assert_int_gt(page_at(va).pincount, 0);
}
END_TEST

START_TEST(mprotect_keeps_pinned_pages_pinned_and_dma_mapped)
{
	uint64_t va = ms_map(0, 16 * P4K, RW, ANON);
	uint32_t v = 0x5a5a5a5a;

	ck_assert_int_eq(map_dma(va, 1ULL << 32, 16 * P4K, true), 0);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 16 * P4K, PROT_READ), 0);
	ck_assert_int_gt(page_at(va).pincount, 0);
	ck_assert_uint_eq(locked_vm(), 16);
	/* The IOMMU mapping is untouched: the device still writes. */
	ck_assert_int_eq(pinsim_dma(sim, group_id, 1ULL << 32, &v, sizeof(v), 1), sizeof(v));
	ck_assert_uint_eq(cpu_read(va), 0x5a5a5a5a);
	ck_assert_int_eq(pinsim_access(proc, va, &v, sizeof(v), 1), -1);
	unmap_dma(1ULL << 32, 16 * P4K);
	ck_assert_int_eq(page_at(va).pincount, 0);
	ck_assert_uint_eq(locked_vm(), 0);
}
END_TEST

START_TEST(mprotect_thp_pmd_whole_in_place_partial_splits)
{
	uint64_t va = ms_map(FIXED_VA, 2 * MiB, RW, ANON);

	ck_assert_int_eq(pinsim_madvise(proc, va, 2 * MiB, MADV_HUGEPAGE), 0);
	cpu_write(va, 1);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PMD);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 2 * MiB, PROT_READ), 0);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PMD);
	ck_assert(!page_at(va).writable);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 2 * MiB, RW), 0);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PMD);
	ck_assert(page_at(va).writable);
	/* A part: __split_huge_pmd() into PTEs, only that part read-only. */
	ck_assert_int_eq(pinsim_mprotect(proc, va, P4K, PROT_READ), 0);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PTE);
	ck_assert(!page_at(va).writable);
	ck_assert(page_at(va + P4K).writable);
	ck_assert_uint_eq(cpu_read(va), 1);
	ck_assert_uint_eq(nr_vmas(), 2);
}
END_TEST

START_TEST(mprotect_bar_pud_leaf_in_place_partial_clears)
{
	uint64_t va = ms_map_bar(FIXED_VA, BAR_SIZE, RW);
	uint32_t v = 0;

	cpu_write(va + P4K, 0x77);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PUD);
	ck_assert_int_eq(pinsim_mprotect(proc, va, BAR_SIZE, PROT_READ), 0);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PUD);
	ck_assert(!page_at(va).writable);
	ck_assert_int_eq(pinsim_access(proc, va, &v, sizeof(v), 1), -1);
	ck_assert_int_eq(pinsim_mprotect(proc, va, BAR_SIZE, RW), 0);
	ck_assert(page_at(va).writable);
	/* VM_SPECIAL: split, never merged back. */
	ck_assert_int_eq(pinsim_mprotect(proc, va, 2 * MiB, PROT_READ), 0);
	ck_assert_uint_eq(nr_vmas(), 2);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 2 * MiB, RW), 0);
	ck_assert_uint_eq(nr_vmas(), 2);
	ck_assert_uint_eq(cpu_read(va + P4K), 0x77);
}
END_TEST

START_TEST(mprotect_hugetlb_private_no_write_upgrade_unaligned_einval)
{
	uint64_t va = ms_map(0, 2 * MiB, RW, ANON | MAP_HUGETLB | MAP_HUGE_2MB);

	cpu_write(va, 3);
	ck_assert(page_at(va).writable);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 2 * MiB, PROT_READ), 0);
	ck_assert(!page_at(va).writable);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 2 * MiB, RW), 0);
	ck_assert(!page_at(va).writable);	/* hugetlb_change_protection() */
	cpu_write(va, 4);			/* hugetlb_wp() reuses it */
	ck_assert(page_at(va).writable);
	ck_assert_int_eq(pinsim_mprotect(proc, va, P4K, PROT_READ), -1);
	ck_assert_int_eq(errno, EINVAL);
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

	z->n++;
	z->start = start;
	z->end = end;
}

START_TEST(mprotect_calls_zap_notifier_for_changed_leaves)
{
	uint64_t va = ms_map(0, 8 * P4K, RW, ANON), empty = ms_map(0, 8 * P4K, PROT_READ, ANON);
	struct zaps z = { 0 };

	ck_assert_int_eq(pinsim_set_zap_notifier(proc, count_zap, &z), 0);
	cpu_write(va, 1);
	ck_assert_int_eq(pinsim_mprotect(proc, va, 4 * P4K, PROT_READ), 0);
	ck_assert_int_eq(z.n, 1);
	ck_assert_uint_eq(z.start, va);
	ck_assert_uint_eq(z.end, va + 4 * P4K);
	/* Nothing mapped, nothing to invalidate. */
	ck_assert_int_eq(pinsim_mprotect(proc, empty, 8 * P4K, PROT_NONE), 0);
	ck_assert_int_eq(z.n, 1);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("mprotect");
	TCase *tc = ms_tcase(s, "mprotect");

	tcase_add_test(tc, mprotect_readonly_then_write_faults_efault);
	tcase_add_test(tc, mprotect_splits_and_remerges_vmas);
	tcase_add_test(tc, mprotect_unaligned_bad_prot_growsdown_einval);
	tcase_add_test(tc, mprotect_hole_enomem_changes_nothing);
	tcase_add_test(tc, mprotect_hole_after_first_vma_enomem_keeps_first_change);
	tcase_add_test(tc, mprotect_write_beyond_maywrite_eacces_changes_nothing);
	tcase_add_test(tc, mprotect_rw_again_makes_exclusive_anon_writable_without_fault);
	tcase_add_test(tc, mprotect_none_refuses_access_keeps_pages);
	tcase_add_test(tc, mprotect_readonly_then_map_dma_write_efault_read_ok);
	tcase_add_test(tc, mprotect_keeps_pinned_pages_pinned_and_dma_mapped);
	tcase_add_test(tc, mprotect_thp_pmd_whole_in_place_partial_splits);
	tcase_add_test(tc, mprotect_bar_pud_leaf_in_place_partial_clears);
	tcase_add_test(tc, mprotect_hugetlb_private_no_write_upgrade_unaligned_einval);
	tcase_add_test(tc, mprotect_calls_zap_notifier_for_changed_leaves);
	return s;
}

