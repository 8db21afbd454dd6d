// SPDX-License-Identifier: GPL-2.0-only
/*
 * mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2) as 6.12's
 * mm/mlock.c does them (sim/mlock.c): VM_LOCKED splits and merges VMAs,
 * mm->locked_vm follows, RLIMIT_MEMLOCK and CAP_IPC_LOCK decide
 * (can_do_mlock(): EPERM; do_mlock(): ENOMEM, nothing changed), VM_LOCKED
 * populates and VM_LOCKONFAULT does not, VM_SPECIAL (a BAR) is skipped,
 * MCL_FUTURE locks later mmaps (mm->def_flags), MAP_LOCKED counts.  And
 * VFIO type1 charges the same locked_vm (vfio_lock_acct()): an mlocked
 * buffer that is DMA-mapped counts twice, so RLIMIT_MEMLOCK is hit sooner.
 */
#include "memsys_fixture.h"

#define P4K 4096ULL
#define IOVA (1ULL << 32)

static void set_memlock(uint64_t bytes)
{
	struct rlimit rl = { bytes, bytes };

	ck_assert_int_eq(pinsim_setrlimit(proc, RLIMIT_MEMLOCK, &rl), 0);
}

START_TEST(mlock_charges_locked_vm_and_populates)
{
	uint64_t va = ms_map(0, 16 * P4K, RW, ANON);

	ck_assert_int_eq(page_at(va + 9 * P4K).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(pinsim_mlock(proc, va, 16 * P4K, 0), 0);
	ck_assert_uint_eq(locked_vm(), 16);
	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(page_at(va + i * P4K).level, PINSIM_LEVEL_PTE);
		ck_assert(page_at(va + i * P4K).writable);	/* write-faulted: COW broken */
	}
	ck_assert_int_eq(pinsim_munlock(proc, va, 16 * P4K), 0);
	ck_assert_uint_eq(locked_vm(), 0);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PTE);	/* munlock keeps pages */
}
END_TEST

START_TEST(mlock_middle_splits_vmas_munlock_remerges)
{
	uint64_t va = ms_map(0, 16 * P4K, RW, ANON);

	/* Unaligned start: the page holding it is locked (len grows by the offset). */
	ck_assert_int_eq(pinsim_mlock(proc, va + 4 * P4K + 100, 4 * P4K - 100, 0), 0);
	ck_assert_uint_eq(nr_vmas(), 3);
	ck_assert_uint_eq(locked_vm(), 4);
	ck_assert_int_eq(pinsim_munlock(proc, va + 4 * P4K, 4 * P4K), 0);
	ck_assert_uint_eq(nr_vmas(), 1);
	ck_assert_uint_eq(locked_vm(), 0);
}
END_TEST

START_TEST(mlock_over_rlimit_enomem_locked_vm_unchanged)
{
	uint64_t va = ms_map(0, 32 * P4K, RW, ANON), frames;

	set_memlock(16 * P4K);
	ck_assert_int_eq(pinsim_mlock(proc, va, 8 * P4K, 0), 0);
	frames = pages_allocated();
	ck_assert_int_eq(pinsim_mlock(proc, va + 8 * P4K, 16 * P4K, 0), -1);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(locked_vm(), 8);
	ck_assert_uint_eq(nr_vmas(), 2);
	ck_assert_uint_eq(pages_allocated(), frames);
	/* What is already locked in the range is not counted again. */
	ck_assert_int_eq(pinsim_mlock(proc, va, 16 * P4K, 0), 0);
	ck_assert_uint_eq(locked_vm(), 16);
	/* CAP_IPC_LOCK bypasses the limit. */
	ck_assert_int_eq(pinsim_set_cap_ipc_lock(proc, true), 0);
	ck_assert_int_eq(pinsim_mlock(proc, va, 32 * P4K, 0), 0);
	ck_assert_uint_eq(locked_vm(), 32);
	ck_assert_uint_eq(nr_vmas(), 1);
}
END_TEST

START_TEST(mlock_rlimit_zero_without_cap_eperm)
{
	uint64_t va = ms_map(0, 4 * P4K, RW, ANON);

	set_memlock(0);
	ck_assert_int_eq(pinsim_mlock(proc, va, P4K, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(pinsim_mlockall(proc, MCL_CURRENT), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_uint_eq(pinsim_mmap(proc, 0, P4K, RW, ANON | MAP_LOCKED, -1, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_uint_eq(locked_vm(), 0);
	ck_assert_uint_eq(nr_vmas(), 1);
	ck_assert_int_eq(pinsim_set_cap_ipc_lock(proc, true), 0);
	ck_assert_int_eq(pinsim_mlock(proc, va, P4K, 0), 0);
	ck_assert_uint_eq(locked_vm(), 1);
}
END_TEST

START_TEST(mlock2_onfault_charges_without_populating)
{
	uint64_t va = ms_map(0, 8 * P4K, RW, ANON);

	ck_assert_int_eq(pinsim_mlock(proc, va, 8 * P4K, 0x2), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_mlock(proc, va, 8 * P4K, MLOCK_ONFAULT), 0);
	ck_assert_uint_eq(locked_vm(), 8);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_NONE);
	/* mlock() over it: VM_LOCKED alone, a new VMA flag set, not counted again. */
	ck_assert_int_eq(pinsim_mlock(proc, va, 8 * P4K, 0), 0);
	ck_assert_uint_eq(locked_vm(), 8);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PTE);
}
END_TEST

START_TEST(mlock_hole_enomem_changes_nothing)
{
	uint64_t a = ms_map(FIXED_VA, 4 * P4K, RW, ANON);

	ms_map(FIXED_VA + 8 * P4K, 4 * P4K, RW, ANON);
	ck_assert_int_eq(pinsim_mlock(proc, a + 4 * P4K, 8 * P4K, 0), -1);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(locked_vm(), 0);
	ck_assert_uint_eq(nr_vmas(), 2);
	ck_assert_int_eq(page_at(a + 8 * P4K).level, PINSIM_LEVEL_NONE);
}
END_TEST

START_TEST(mlock_skips_bar_vma_vm_special)
{
	uint64_t bar = ms_map_bar(0, 2 * MiB, RW);

	ck_assert_int_eq(pinsim_mlock(proc, bar, 2 * MiB, 0), 0);
	ck_assert_uint_eq(locked_vm(), 0);
	ck_assert_uint_eq(nr_vmas(), 1);
	ck_assert_int_eq(page_at(bar).level, PINSIM_LEVEL_NONE);	/* not populated */
	ck_assert_int_eq(pinsim_mlockall(proc, MCL_CURRENT), 0);
	ck_assert_uint_eq(locked_vm(), 0);
}
END_TEST

START_TEST(mlockall_current_future_and_munlockall)
{
	uint64_t a = ms_map(0, 8 * P4K, RW, ANON), b;

	ck_assert_int_eq(pinsim_mlockall(proc, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_mlockall(proc, MCL_ONFAULT), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_mlockall(proc, MCL_CURRENT | MCL_FUTURE), 0);
	ck_assert_uint_eq(locked_vm(), 8);
	ck_assert_int_eq(page_at(a + 7 * P4K).level, PINSIM_LEVEL_PTE);
	b = ms_map(0, 4 * P4K, RW, ANON);		/* VM_LOCKED from def_flags */
	ck_assert_uint_eq(locked_vm(), 12);
	ck_assert_int_eq(page_at(b + 3 * P4K).level, PINSIM_LEVEL_PTE);
	ck_assert_int_eq(pinsim_munmap(proc, b, 4 * P4K), 0);
	ck_assert_uint_eq(locked_vm(), 8);
	ck_assert_int_eq(pinsim_munlockall(proc), 0);
	ck_assert_uint_eq(locked_vm(), 0);
	b = ms_map(0, 4 * P4K, RW, ANON);
	ck_assert_uint_eq(locked_vm(), 0);
	ck_assert_int_eq(page_at(b).level, PINSIM_LEVEL_NONE);
	/* MCL_CURRENT with the address space over the limit: -ENOMEM. */
	set_memlock(4 * P4K);
	ck_assert_int_eq(pinsim_mlockall(proc, MCL_CURRENT), -1);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(locked_vm(), 0);
}
END_TEST

START_TEST(mmap_map_locked_counts_and_over_limit_eagain)
{
	uint64_t va;

	va = pinsim_mmap(proc, 0, 4 * P4K, RW, ANON | MAP_LOCKED, -1, 0);
	ck_assert_uint_ne(va, PINSIM_MAP_FAILED);
	ck_assert_uint_eq(locked_vm(), 4);
	ck_assert_int_eq(page_at(va).level, PINSIM_LEVEL_PTE);
	set_memlock(6 * P4K);
	ck_assert_uint_eq(pinsim_mmap(proc, 0, 4 * P4K, RW, ANON | MAP_LOCKED, -1, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(nr_vmas(), 1);
	ck_assert_int_eq(pinsim_munmap(proc, va, 4 * P4K), 0);
	ck_assert_uint_eq(locked_vm(), 0);
}
END_TEST

START_TEST(mlock_then_map_dma_double_charges_locked_vm)
{
	uint64_t va = ms_map(0, 256 * P4K, RW, ANON);

	ck_assert_int_eq(pinsim_mlock(proc, va, 256 * P4K, 0), 0);
	ck_assert_uint_eq(locked_vm(), 256);
	ck_assert_int_eq(map_dma(va, IOVA, 256 * P4K, true), 0);
	ck_assert_uint_eq(locked_vm(), 512);
	unmap_dma(IOVA, 256 * P4K);
	ck_assert_uint_eq(locked_vm(), 256);
	ck_assert_int_eq(pinsim_munlock(proc, va, 256 * P4K), 0);
	ck_assert_uint_eq(locked_vm(), 0);
}
END_TEST

/* 8 MiB RLIMIT_MEMLOCK: 4 MiB DMA-maps alone, not after 6 MiB mlocked. */
START_TEST(mlock_then_map_dma_hits_rlimit_earlier)
{
	uint64_t va = ms_map(0, 6 * MiB, RW, ANON);
	struct pinsim_vfio_stats vs;

	ck_assert_int_eq(map_dma(va, IOVA, 4 * MiB, true), 0);
	ck_assert_uint_eq(locked_vm(), 1024);
	unmap_dma(IOVA, 4 * MiB);
	ck_assert_int_eq(pinsim_mlock(proc, va, 6 * MiB, 0), 0);
	ck_assert_uint_eq(locked_vm(), 1536);
	ck_assert_int_eq(map_dma(va, IOVA, 4 * MiB, true), -ENOMEM);
	ck_assert_uint_eq(locked_vm(), 1536);
	ck_assert_int_eq(page_at(va).pincount, 0);
	ck_assert_int_eq(pinsim_vfio_stats(proc, container, &vs), 0);
	ck_assert_uint_eq(vs.nr_dmas, 0);
	/* 2 MiB more still fits: 1536 + 512 = 2048 pages. */
	ck_assert_int_eq(map_dma(va, IOVA, 2 * MiB, true), 0);
	ck_assert_uint_eq(locked_vm(), 2048);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("mlock");
	TCase *tc = ms_tcase(s, "mlock");

	tcase_add_test(tc, mlock_charges_locked_vm_and_populates);
	tcase_add_test(tc, mlock_middle_splits_vmas_munlock_remerges);
	tcase_add_test(tc, mlock_over_rlimit_enomem_locked_vm_unchanged);
	tcase_add_test(tc, mlock_rlimit_zero_without_cap_eperm);
	tcase_add_test(tc, mlock2_onfault_charges_without_populating);
	tcase_add_test(tc, mlock_hole_enomem_changes_nothing);
	tcase_add_test(tc, mlock_skips_bar_vma_vm_special);
	tcase_add_test(tc, mlockall_current_future_and_munlockall);
	tcase_add_test(tc, mmap_map_locked_counts_and_over_limit_eagain);
	tcase_add_test(tc, mlock_then_map_dma_double_charges_locked_vm);
	tcase_add_test(tc, mlock_then_map_dma_hits_rlimit_earlier);
	return s;
}
