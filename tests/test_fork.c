// SPDX-License-Identifier: GPL-2.0-only
/*
 * fork(2) of a simulated process (pinsim_fork(), issue 12) with Linux
 * 6.12's semantics: kernel/fork.c dup_mmap(), mm/memory.c
 * copy_page_range()/do_wp_page(), mm/huge_memory.c copy_huge_pmd()/
 * do_huge_pmd_wp_page(), mm/hugetlb.c copy_hugetlb_page_range()/
 * hugetlb_wp(), mm/gup.c gup_must_unshare(), mm/madvise.c, fs/file.c
 * dup_fd().  Everything through include/pinsim/pinsim.h, as a program
 * sees fork: bytes, pagemap pfns and write bits, pins, the device's DMA.
 */
#include <sys/resource.h>

#include "vfio_harness.h"

#define IOVA 0x40000000ULL

static struct pinsim_proc *child;
static uint64_t base_pages, base_tasks;

static void fk_setup(void)
{
	struct rlimit rl = { 4 * GiB, 4 * GiB };
	struct pinsim_stats st;

	vh_defaults(&vh_cfg);
	ck_assert_int_eq(pinsim_create(&vh_cfg, &sim), 0);
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	base_pages = st.pages_allocated;
	base_tasks = st.tasks;
	ck_assert_int_eq(pinsim_proc_create(sim, &proc), 0);
	ck_assert_int_eq(pinsim_setrlimit(proc, RLIMIT_MEMLOCK, &rl), 0);
	vh_add_device(&dev0);
	vh_add_device(&dev1);
	child = NULL;
}

static void do_fork(void)
{
	ck_assert_int_eq(pinsim_fork(proc, &child), 0);
	ck_assert_ptr_nonnull(child);
}

/* The device reads one byte at @iova. */
static unsigned char dma_byte(uint64_t iova)
{
	unsigned char b = 0xee;

	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, iova, &b, 1, 0), 1);
	return b;
}

static uint64_t thp_buffer(struct pinsim_proc *p)
{
	uint64_t raw = pinsim_mmap(p, 0, 4 * MiB, RW, ANON, -1, 0);
	uint64_t va = (raw + 2 * MiB - 1) & ~(2 * MiB - 1);

	ck_assert(raw != PINSIM_MAP_FAILED);
	ck_assert_int_eq(pinsim_madvise(p, va, 2 * MiB, MADV_HUGEPAGE), 0);
	for (uint64_t off = 0; off < 2 * MiB; off += PG)
		vh_put_byte(p, va + off, (unsigned char)(off >> 12));
	ck_assert_int_eq(vh_page_in(p, va).level, PINSIM_LEVEL_PMD);
	return va;
}

/* ---------------- private anonymous memory ---------------- */

START_TEST(fork_private_anon_is_cow_both_sides)
{
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	struct pinsim_page_info pp, cp;

	for (int i = 0; i < 4; i++)
		vh_put_byte(proc, va + i * PG, 'P');
	do_fork();
	/* copy_present_ptes(): one frame, read-only in both, two references. */
	for (int i = 0; i < 4; i++) {
		pp = vh_page_in(proc, va + i * PG);
		cp = vh_page_in(child, va + i * PG);
		ck_assert_uint_eq(pp.pfn, cp.pfn);
		ck_assert(!pp.writable && !cp.writable);
		ck_assert_int_eq(pp.refcount, 2);
	}
	/* A read shares the frame. */
	ck_assert_int_eq(vh_get_byte(child, va), 'P');
	ck_assert_uint_eq(vh_page_in(child, va).pfn, vh_page_in(proc, va).pfn);
	/* The child's write copies (wp_page_copy()); the parent keeps 'P'. */
	vh_put_byte(child, va, 'C');
	cp = vh_page_in(child, va);
	pp = vh_page_in(proc, va);
	ck_assert_uint_ne(cp.pfn, pp.pfn);
	ck_assert(cp.writable);
	ck_assert_int_eq(cp.refcount, 1);
	ck_assert_int_eq(vh_get_byte(proc, va), 'P');
	/* The parent is the last user now: its write reuses the frame. */
	ck_assert_int_eq(pp.refcount, 1);
	vh_put_byte(proc, va, 'p');
	ck_assert_uint_eq(vh_page_in(proc, va).pfn, pp.pfn);
	ck_assert_int_eq(vh_get_byte(child, va), 'C');
	/* And the other way round: the parent's write copies, the child keeps 'P'. */
	pp = vh_page_in(proc, va + PG);
	vh_put_byte(proc, va + PG, 'Q');
	ck_assert_uint_ne(vh_page_in(proc, va + PG).pfn, pp.pfn);
	ck_assert_int_eq(vh_get_byte(child, va + PG), 'P');
	ck_assert_uint_eq(vh_page_in(child, va + PG).pfn, pp.pfn);
	/* Once the child is gone, the parent reuses what it shared. */
	pp = vh_page_in(proc, va + 2 * PG);
	pinsim_proc_destroy(child);
	child = NULL;
	ck_assert_int_eq(vh_page_in(proc, va + 2 * PG).refcount, 1);
	vh_put_byte(proc, va + 2 * PG, 'R');
	ck_assert_uint_eq(vh_page_in(proc, va + 2 * PG).pfn, pp.pfn);
}
END_TEST

static unsigned long zap_calls;
static uint64_t zap_start, zap_end;

static void record_zap(void *data, uint64_t start, uint64_t end)
{
	(void)data;
	zap_calls++;
	zap_start = start;
	zap_end = end;
}

START_TEST(fork_wrprotect_invalidates_parent_secondary_mmu)
{
	uint64_t va = vh_mmap(4 * PG, RW, ANON);

	vh_put_byte(proc, va, 'P');
	ck_assert_int_eq(pinsim_set_zap_notifier(proc, record_zap, NULL), 0);
	zap_calls = 0;
	do_fork();
	/* copy_page_range(): MMU_NOTIFY_PROTECTION_PAGE over the COW VMA. */
	ck_assert_uint_ge(zap_calls, 1);
	ck_assert_uint_le(zap_start, va);
	ck_assert_uint_ge(zap_end, va + 4 * PG);
	/* The child's write copies: the parent's mappings stay. */
	zap_calls = 0;
	vh_put_byte(child, va, 'C');
	ck_assert_uint_eq(zap_calls, 0);
	/* The parent's own COW moves its page: its mirror must drop it. */
	vh_put_byte(proc, va + PG, 'x');	/* not shared: never faulted before fork */
	zap_calls = 0;
	pinsim_proc_destroy(child);
	child = NULL;
	do_fork();
	zap_calls = 0;
	vh_put_byte(proc, va, 'Q');
	ck_assert_uint_eq(zap_calls, 1);
	ck_assert_uint_eq(zap_start, va);
	ck_assert_uint_eq(zap_end, va + PG);
}
END_TEST

START_TEST(fork_shared_anon_shared_with_child)
{
	uint64_t va = vh_mmap(2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS);

	vh_put_byte(proc, va, 'S');
	do_fork();
	/*
	 * Shared memory: not copied at fork (vma_needs_copy()), the child
	 * refaults the same frame from the page cache (sim/shmem.c); still
	 * writable, no COW either way.
	 */
	ck_assert_int_eq(vh_page_in(child, va).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(vh_get_byte(child, va), 'S');
	ck_assert_uint_eq(vh_page_in(child, va).pfn, vh_page_in(proc, va).pfn);
	ck_assert(vh_page_in(proc, va).writable);
	vh_put_byte(child, va, 'c');
	ck_assert_int_eq(vh_get_byte(proc, va), 'c');
	vh_put_byte(proc, va, 'p');
	ck_assert_int_eq(vh_get_byte(child, va), 'p');
}
END_TEST

/* ---------------- pinned pages ---------------- */

START_TEST(fork_pinned_page_copied_for_child_parent_keeps_pin)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(2 * PG, RW, ANON), phys;
	struct pinsim_page_info pp, cp;

	vh_put_byte(proc, va, 'A');
	vh_put_byte(proc, va + PG, 'a');
	vh_map_ok(c, va, IOVA, 2 * PG);
	pp = vh_page_in(proc, va);
	do_fork();
	/* copy_present_page(): the child has a copy, the parent its pinned page. */
	cp = vh_page_in(child, va);
	ck_assert_uint_ne(cp.pfn, pp.pfn);
	ck_assert(cp.writable);
	ck_assert_int_eq(cp.refcount, 1);
	ck_assert_int_eq(vh_get_byte(child, va), 'A');
	ck_assert_uint_eq(vh_page_in(proc, va).pfn, pp.pfn);
	ck_assert(vh_page_in(proc, va).writable);
	ck_assert_int_eq(vh_page_in(proc, va).pincount, 1);
	vh_iommu_leaf(&dev0, IOVA, &phys);
	ck_assert_uint_eq(phys >> 12, pp.pfn);
	/* The child's writes never reach the device; the parent's do. */
	vh_put_byte(child, va, 'C');
	ck_assert_int_eq(dma_byte(IOVA), 'A');
	vh_put_byte(proc, va, 'B');
	ck_assert_uint_eq(vh_page_in(proc, va).pfn, pp.pfn);
	ck_assert_int_eq(dma_byte(IOVA), 'B');
	ck_assert_int_eq(vh_get_byte(child, va), 'C');
	ck_assert_int_eq(vh_get_byte(child, va + PG), 'a');
}
END_TEST

START_TEST(fork_pin_after_fork_unshares)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(2 * PG, RW, ANON), phys;
	struct pinsim_page_info before;

	vh_put_byte(proc, va, 'A');
	do_fork();
	before = vh_page_in(proc, va);
	ck_assert_int_eq(before.refcount, 2);
	/* MAP_DMA pins with FOLL_WRITE: the parent breaks COW, gets its own page. */
	vh_map_ok(c, va, IOVA, PG);
	ck_assert_uint_ne(vh_page_in(proc, va).pfn, before.pfn);
	vh_iommu_leaf(&dev0, IOVA, &phys);
	ck_assert_uint_eq(phys >> 12, vh_page_in(proc, va).pfn);
	ck_assert_int_eq(dma_byte(IOVA), 'A');
	/* The child is left the old page alone: its write reuses it. */
	vh_put_byte(child, va, 'C');
	ck_assert_uint_eq(vh_page_in(child, va).pfn, before.pfn);
	ck_assert_int_eq(dma_byte(IOVA), 'A');
	vh_put_byte(proc, va, 'B');
	ck_assert_int_eq(dma_byte(IOVA), 'B');
}
END_TEST

START_TEST(fork_readonly_pin_after_fork_unshares)
{
	uint64_t va = vh_mmap(PG, RW, ANON);
	struct pinsim_page_info before, after;
	struct pinsim_pin *pin;

	vh_put_byte(proc, va, 'A');
	do_fork();
	before = vh_page_in(proc, va);
	/* gup_must_unshare(): FAULT_FLAG_UNSHARE, a page of the parent's own. */
	ck_assert_int_eq(pinsim_pin_user_pages(proc, va, PG, 0, &pin), 0);
	after = vh_page_in(proc, va);
	ck_assert_uint_ne(after.pfn, before.pfn);
	ck_assert(!after.writable);		/* an unshare does not make it writable */
	ck_assert_int_eq(after.pincount, 1);
	/* The child's write reuses the old page; the pinned one keeps 'A'. */
	vh_put_byte(child, va, 'C');
	ck_assert_uint_eq(vh_page_in(child, va).pfn, before.pfn);
	ck_assert_int_eq(vh_get_byte(proc, va), 'A');
	/* The parent's write to its exclusive pinned page reuses it. */
	vh_put_byte(proc, va, 'B');
	ck_assert_uint_eq(vh_page_in(proc, va).pfn, after.pfn);
	ck_assert_int_eq(pinsim_unpin_user_pages(pin), 0);
}
END_TEST

/* ---------------- madvise and VMA flags ---------------- */

START_TEST(fork_dontfork_vma_absent_in_child)
{
	uint64_t va = vh_mmap(3 * PG, RW, ANON);
	struct pinsim_proc_stats st;
	unsigned char b;

	for (int i = 0; i < 3; i++)
		vh_put_byte(proc, va + i * PG, 'a' + i);
	ck_assert_int_eq(pinsim_proc_stats(proc, &st), 0);
	ck_assert_int_eq(pinsim_madvise(proc, va + PG, PG, MADV_DONTFORK), 0);
	{
		struct pinsim_proc_stats st2;

		ck_assert_int_eq(pinsim_proc_stats(proc, &st2), 0);
		ck_assert_uint_eq(st2.nr_vmas, st.nr_vmas + 2);	/* split at both ends */
	}
	do_fork();
	ck_assert_int_eq(vh_page_in(child, va + PG).level, PINSIM_LEVEL_NONE);
	errno = 0;
	ck_assert_int_eq(pinsim_access(child, va + PG, &b, 1, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_int_eq(vh_get_byte(child, va), 'a');
	ck_assert_int_eq(vh_get_byte(child, va + 2 * PG), 'c');
	/* Not copied, so not write-protected either. */
	ck_assert(vh_page_in(proc, va + PG).writable);
	ck_assert(!vh_page_in(proc, va).writable);
	pinsim_proc_destroy(child);
	/* MADV_DOFORK: inherited again, and merged back (vma_modify_flags()). */
	ck_assert_int_eq(pinsim_madvise(proc, va + PG, PG, MADV_DOFORK), 0);
	{
		struct pinsim_proc_stats st3;

		ck_assert_int_eq(pinsim_proc_stats(proc, &st3), 0);
		ck_assert_uint_eq(st3.nr_vmas, st.nr_vmas);
	}
	do_fork();
	ck_assert_int_eq(vh_get_byte(child, va + PG), 'b');
}
END_TEST

START_TEST(fork_wipeonfork_child_reads_zero)
{
	uint64_t va = vh_mmap(2 * PG, RW, ANON);
	uint64_t sh = vh_mmap(PG, RW, MAP_SHARED | MAP_ANONYMOUS);

	vh_put_byte(proc, va, 'W');
	vh_put_byte(proc, va + PG, 'w');
	ck_assert_int_eq(pinsim_madvise(proc, va, PG, MADV_WIPEONFORK), 0);
	/* Only private anonymous memory (mm/madvise.c). */
	errno = 0;
	ck_assert_int_eq(pinsim_madvise(proc, sh, PG, MADV_WIPEONFORK), -1);
	ck_assert_int_eq(errno, EINVAL);
	do_fork();
	ck_assert_int_eq(vh_page_in(child, va).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(vh_get_byte(child, va), 0);
	ck_assert_int_eq(vh_get_byte(proc, va), 'W');
	ck_assert(vh_page_in(proc, va).writable);
	ck_assert_int_eq(vh_get_byte(child, va + PG), 'w');
	pinsim_proc_destroy(child);
	/* MADV_KEEPONFORK: copied again. */
	ck_assert_int_eq(pinsim_madvise(proc, va, PG, MADV_KEEPONFORK), 0);
	do_fork();
	ck_assert_int_eq(vh_get_byte(child, va), 'W');
}
END_TEST

START_TEST(madvise_fork_advices_follow_kernel_errors)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t bar = vh_bar_mmap(&dev0, 4, 0, 16 * PG, RW, 0);
	uint64_t va = vh_mmap(4 * PG, RW, ANON);

	(void)c;
	/* MADV_DOFORK refuses VM_IO; MADV_DONTFORK takes it. */
	errno = 0;
	ck_assert_int_eq(pinsim_madvise(proc, bar, PG, MADV_DOFORK), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_madvise(proc, bar, 16 * PG, MADV_DONTFORK), 0);
	/* A hole in the range: the mapped parts are advised, then -ENOMEM. */
	ck_assert_int_eq(pinsim_munmap(proc, va + PG, PG), 0);
	errno = 0;
	ck_assert_int_eq(pinsim_madvise(proc, va, 4 * PG, MADV_DONTFORK), -1);
	ck_assert_int_eq(errno, ENOMEM);
	/* Unaligned start, unknown advice. */
	errno = 0;
	ck_assert_int_eq(pinsim_madvise(proc, va + 1, PG, MADV_DONTFORK), -1);
	ck_assert_int_eq(errno, EINVAL);
	do_fork();
	ck_assert_int_eq(vh_page_in(child, va).level, PINSIM_LEVEL_NONE);
	errno = 0;
	ck_assert_int_eq(pinsim_access(child, bar, &(unsigned char){ 0 }, 1, 0), -1);
	ck_assert_int_eq(pinsim_access(child, va + 2 * PG, &(unsigned char){ 0 }, 1, 0), -1);
}
END_TEST

/* ---------------- THP ---------------- */

START_TEST(fork_thp_shared_write_protected_then_cow_splits)
{
	uint64_t va = thp_buffer(proc);
	struct pinsim_page_info pp, cp;

	do_fork();
	/* copy_huge_pmd(): one PMD in both, write-protected, shared. */
	pp = vh_page_in(proc, va);
	cp = vh_page_in(child, va);
	ck_assert_int_eq(cp.level, PINSIM_LEVEL_PMD);
	ck_assert_uint_eq(cp.pfn, pp.pfn);
	ck_assert(!pp.writable && !cp.writable);
	/* The child's write: do_huge_pmd_wp_page() splits, do_wp_page() copies 4K. */
	vh_put_byte(child, va + 3 * PG, 'C');
	ck_assert_int_eq(vh_page_in(child, va).level, PINSIM_LEVEL_PTE);
	ck_assert_uint_ne(vh_page_in(child, va + 3 * PG).pfn, pp.pfn + 3);
	ck_assert_uint_eq(vh_page_in(child, va + 4 * PG).pfn, pp.pfn + 4);
	ck_assert_int_eq(vh_page_in(proc, va).level, PINSIM_LEVEL_PMD);
	ck_assert_int_eq(vh_get_byte(proc, va + 3 * PG), 3);
	/* The parent's write: still shared with the child's PTEs, so split + copy too. */
	vh_put_byte(proc, va + 4 * PG, 'P');
	ck_assert_int_eq(vh_page_in(proc, va).level, PINSIM_LEVEL_PTE);
	ck_assert_uint_ne(vh_page_in(proc, va + 4 * PG).pfn, pp.pfn + 4);
	ck_assert_int_eq(vh_get_byte(child, va + 4 * PG), 4);
}
END_TEST

START_TEST(fork_thp_exclusive_again_reused_as_pmd)
{
	uint64_t va = thp_buffer(proc);
	uint64_t pfn = vh_page_in(proc, va).pfn;

	do_fork();
	pinsim_proc_destroy(child);
	child = NULL;
	/* refcount 1 again: do_huge_pmd_wp_page() reuses the whole THP. */
	vh_put_byte(proc, va, 'P');
	ck_assert_int_eq(vh_page_in(proc, va).level, PINSIM_LEVEL_PMD);
	ck_assert_uint_eq(vh_page_in(proc, va).pfn, pfn);
	ck_assert(vh_page_in(proc, va).writable);
}
END_TEST

START_TEST(madvise_dontfork_inside_thp_splits_pmd)
{
	uint64_t va = thp_buffer(proc);
	uint64_t pfn = vh_page_in(proc, va).pfn;

	/* vma_adjust_trans_huge(): the new VMA boundary splits the PMD. */
	ck_assert_int_eq(pinsim_madvise(proc, va + MiB, MiB, MADV_DONTFORK), 0);
	ck_assert_int_eq(vh_page_in(proc, va).level, PINSIM_LEVEL_PTE);
	ck_assert_uint_eq(vh_page_in(proc, va + MiB).pfn, pfn + 256);
	do_fork();
	ck_assert_int_eq(vh_get_byte(child, va + 3 * PG), 3);
	ck_assert_uint_eq(vh_page_in(child, va + 3 * PG).pfn, pfn + 3);
	ck_assert_int_eq(vh_page_in(child, va + MiB).level, PINSIM_LEVEL_NONE);
	ck_assert(vh_page_in(proc, va + MiB).writable);
	ck_assert(!vh_page_in(proc, va).writable);
}
END_TEST

START_TEST(fork_thp_pinned_split_and_copied)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = thp_buffer(proc), phys;
	uint64_t pfn = vh_page_in(proc, va).pfn;

	vh_map_ok(c, va, IOVA, 2 * MiB);
	do_fork();
	/* The parent's PMD was split (6.12: -EAGAIN after __split_huge_pmd()). */
	ck_assert_int_eq(vh_page_in(proc, va).level, PINSIM_LEVEL_PTE);
	for (uint64_t off = 0; off < 2 * MiB; off += 64 * PG) {
		struct pinsim_page_info pp = vh_page_in(proc, va + off), cp = vh_page_in(child, va + off);

		ck_assert_uint_eq(pp.pfn, pfn + (off >> 12));
		ck_assert(pp.writable);
		ck_assert_int_eq(cp.level, PINSIM_LEVEL_PTE);
		ck_assert_uint_eq(cp.folio_order, 0);
		ck_assert_uint_ne(cp.pfn, pp.pfn);
		ck_assert(cp.writable);
		ck_assert_int_eq(vh_get_byte(child, va + off), (unsigned char)(off >> 12));
	}
	vh_iommu_leaf(&dev0, IOVA, &phys);
	ck_assert_uint_eq(phys >> 12, pfn);
	vh_put_byte(child, va, 'C');
	ck_assert_int_eq(dma_byte(IOVA), 0);
	vh_put_byte(proc, va, 'P');
	ck_assert_int_eq(dma_byte(IOVA), 'P');
	ck_assert_uint_eq(vh_page_in(proc, va).pfn, pfn);
}
END_TEST

/* ---------------- hugetlb ---------------- */

START_TEST(fork_hugetlb_shared_then_cow_from_pool)
{
	uint64_t va = vh_mmap(2 * MiB, RW, HUGE_2M);
	uint64_t free_before;
	uint64_t pfn;

	vh_put_byte(proc, va, 'H');
	pfn = vh_page_in(proc, va).pfn;
	free_before = vh_sim_stats().hugetlb_2m_free;
	do_fork();
	ck_assert_uint_eq(vh_sim_stats().hugetlb_2m_free, free_before);
	ck_assert_uint_eq(vh_page_in(child, va).pfn, pfn);
	ck_assert(!vh_page_in(proc, va).writable && !vh_page_in(child, va).writable);
	/* hugetlb_wp(): the child's write takes a page from the pool. */
	vh_put_byte(child, va, 'C');
	ck_assert_uint_eq(vh_sim_stats().hugetlb_2m_free, free_before - 1);
	ck_assert_uint_ne(vh_page_in(child, va).pfn, pfn);
	ck_assert_int_eq(vh_get_byte(proc, va), 'H');
	/* The parent is alone on its page now: reused. */
	vh_put_byte(proc, va, 'P');
	ck_assert_uint_eq(vh_page_in(proc, va).pfn, pfn);
	pinsim_proc_destroy(child);
	child = NULL;
	ck_assert_uint_eq(vh_sim_stats().hugetlb_2m_free, free_before);
}
END_TEST

START_TEST(fork_hugetlb_pinned_copied)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(2 * MiB, RW, HUGE_2M);
	uint64_t free_before, pfn;

	vh_put_byte(proc, va, 'H');
	pfn = vh_page_in(proc, va).pfn;
	vh_map_ok(c, va, IOVA, 2 * MiB);
	free_before = vh_sim_stats().hugetlb_2m_free;
	do_fork();
	/* copy_hugetlb_page_range(): a pool page for the child, at fork. */
	ck_assert_uint_eq(vh_sim_stats().hugetlb_2m_free, free_before - 1);
	ck_assert_uint_ne(vh_page_in(child, va).pfn, pfn);
	ck_assert(vh_page_in(child, va).writable);
	ck_assert(vh_page_in(proc, va).writable);
	ck_assert_uint_eq(vh_page_in(proc, va).pfn, pfn);
	ck_assert_int_eq(vh_get_byte(child, va), 'H');
	vh_put_byte(child, va, 'C');
	ck_assert_int_eq(dma_byte(IOVA), 'H');
	vh_put_byte(proc, va, 'P');
	ck_assert_int_eq(dma_byte(IOVA), 'P');
	pinsim_proc_destroy(child);
	child = NULL;
	ck_assert_uint_eq(vh_sim_stats().hugetlb_2m_free, free_before);
}
END_TEST

/* ---------------- pfnmaps (BARs) and the fd table ---------------- */

START_TEST(fork_bar_pfnmap_inherited)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t bar2 = vh_bar_mmap(&dev0, 2, 0, 2 * MiB, RW, 0);
	uint64_t bar4 = vh_bar_mmap(&dev0, 4, 0, 16 * PG, RW, 0);
	struct pinsim_page_info pp, cp;

	(void)c;
	vh_put_byte(proc, bar2 + PG, 'b');
	vh_put_byte(proc, bar4, 'd');
	do_fork();
	/* VM_PFNMAP: copied as they are (copy_huge_pmd() for the special PMD). */
	for (int i = 0; i < 2; i++) {
		uint64_t a = i ? bar4 : bar2 + PG;

		pp = vh_page_in(proc, a);
		cp = vh_page_in(child, a);
		ck_assert_int_ne(pp.level, PINSIM_LEVEL_NONE);
		ck_assert_int_eq(cp.level, pp.level);
		ck_assert_uint_eq(cp.pfn, pp.pfn);
		ck_assert(cp.mmio && cp.special);
		ck_assert_int_eq(cp.writable, pp.writable);
	}
	/* One device memory: what the child writes, the parent reads. */
	vh_put_byte(child, bar4 + 8, 'x');
	ck_assert_int_eq(vh_get_byte(proc, bar4 + 8), 'x');
	/* The child's VMA is on the device's i_mmap: decode off zaps it too. */
	vh_memory_decode(&dev0, false);
	ck_assert_int_eq(vh_page_in(child, bar4).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(vh_page_in(proc, bar4).level, PINSIM_LEVEL_NONE);
	vh_memory_decode(&dev0, true);
	ck_assert_int_eq(vh_get_byte(child, bar4), 'd');
}
END_TEST

START_TEST(fork_shared_fd_child_unmap_dma_affects_parent)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(2 * PG, RW, ANON), unmapped = 0;
	struct vfio_iommu_type1_dma_unmap un = {
		.argsz = sizeof(un), .iova = IOVA, .size = 2 * PG,
	};

	vh_touch(va, 2 * PG, PG);
	vh_map_ok(c, va, IOVA, 2 * PG);
	do_fork();
	/* The same container behind the same fd number in the child. */
	ck_assert_int_eq(pinsim_ioctl(child, c, VFIO_CHECK_EXTENSION, (void *)VFIO_TYPE1v2_IOMMU),
			 1);
	/* 6.12 vfio_dma_do_unmap() has no mm check: the child unmaps the parent's DMA. */
	ck_assert_int_eq(pinsim_ioctl(child, c, VFIO_IOMMU_UNMAP_DMA, &un), 0);
	unmapped = un.size;
	ck_assert_uint_eq(unmapped, 2 * PG);
	vh_assert_no_iommu(&dev0, IOVA, 2 * PG);
	vh_assert_unpinned(va, 2 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	/* The parent's close is not the last: the container lives on in the child. */
	vh_map_ok(c, va, IOVA, 2 * PG);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	dev0.dev = dev0.group = -1;
	vh_iommu_leaf(&dev0, IOVA, NULL);
	/* The child's exit closes the last reference: everything unpinned. */
	pinsim_proc_destroy(child);
	child = NULL;
	vh_assert_no_iommu(&dev0, IOVA, 2 * PG);
	vh_assert_unpinned(va, 2 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);
}
END_TEST

START_TEST(fork_child_inherits_rlimit_and_capability)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	struct rlimit rl = { 4 * PG, 4 * PG };
	uint64_t va;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = DMA_RW, .iova = IOVA, .size = 8 * PG,
	};

	ck_assert_int_eq(pinsim_setrlimit(proc, RLIMIT_MEMLOCK, &rl), 0);
	do_fork();
	va = pinsim_mmap(child, 0, 8 * PG, RW, ANON, -1, 0);
	ck_assert(va != PINSIM_MAP_FAILED);
	map.vaddr = va;
	/* The child's MAP_DMA is charged to the child, against its inherited limit. */
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(child, c, VFIO_IOMMU_MAP_DMA, &map), -1);
	ck_assert_int_eq(errno, ENOMEM);
	pinsim_proc_destroy(child);
	ck_assert_int_eq(pinsim_set_cap_ipc_lock(proc, true), 0);
	do_fork();
	va = pinsim_mmap(child, 0, 8 * PG, RW, ANON, -1, 0);
	map.vaddr = va;
	ck_assert_int_eq(pinsim_ioctl(child, c, VFIO_IOMMU_MAP_DMA, &map), 0);
}
END_TEST

/*
 * Pinned pages in a PROT_NONE VMA (the fuzzer's regress-fork-pinned-
 * hugetlb-protnone): the child's copies are present leaves like the
 * parent's (the simulation keeps PROT_NONE leaves present, sim/mprotect.c),
 * access is refused at the VMA, and every copy goes back at exit.
 */
START_TEST(fork_pinned_protnone_copies_are_freed)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(PG, RW, ANON);
	uint64_t thp = thp_buffer(proc);
	uint64_t huge = vh_mmap(2 * MiB, RW, HUGE_2M);
	struct pinsim_stats before, st;
	unsigned char b;

	vh_put_byte(proc, va, 'a');
	vh_put_byte(proc, huge, 'h');
	vh_map_ok(c, va, IOVA, PG);
	vh_map_ok(c, thp, IOVA + 2 * MiB, 2 * MiB);
	vh_map_ok(c, huge, IOVA + 4 * MiB, 2 * MiB);
	ck_assert_int_eq(pinsim_mprotect(proc, va, PG, PROT_NONE), 0);
	ck_assert_int_eq(pinsim_mprotect(proc, thp, 2 * MiB, PROT_NONE), 0);
	ck_assert_int_eq(pinsim_mprotect(proc, huge, 2 * MiB, PROT_NONE), 0);
	before = vh_sim_stats();
	do_fork();
	ck_assert_int_eq(vh_page_in(child, va).level, PINSIM_LEVEL_PTE);
	ck_assert_uint_ne(vh_page_in(child, va).pfn, vh_page_in(proc, va).pfn);
	ck_assert_int_eq(vh_page_in(child, thp + 5 * PG).level, PINSIM_LEVEL_PTE);
	ck_assert_int_eq(vh_page_in(proc, thp + 5 * PG).level, PINSIM_LEVEL_PTE);
	ck_assert_int_eq(vh_page_in(child, huge).level, PINSIM_LEVEL_PMD);
	ck_assert_uint_ne(vh_page_in(child, huge).pfn, vh_page_in(proc, huge).pfn);
	errno = 0;
	ck_assert_int_eq(pinsim_access(child, va, &b, 1, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	pinsim_proc_destroy(child);
	child = NULL;
	st = vh_sim_stats();
	ck_assert_uint_eq(st.hugetlb_2m_free, before.hugetlb_2m_free);
	/* The parent's split PMD keeps its new PTE table; nothing else is left. */
	ck_assert_uint_eq(st.pages_allocated, before.pages_allocated + 1);
	ck_assert_uint_eq(st.warnings, 0);
	ck_assert_int_eq(pinsim_mprotect(proc, va, PG, RW), 0);
	ck_assert_int_eq(vh_get_byte(proc, va), 'a');
	ck_assert_int_eq(dma_byte(IOVA), 'a');
}
END_TEST

/* ---------------- a DMA mapping outliving its process ---------------- */

static uint64_t proc_locked_vm(struct pinsim_proc *p)
{
	struct pinsim_proc_stats st;

	ck_assert_int_eq(pinsim_proc_stats(p, &st), 0);
	return st.locked_vm;
}

/*
 * The parent maps 4 pinned pages for DMA, forks, and exits: the container
 * lives on in the child (the fuzzer's regress-fork-dma-parent-exit-uaf).
 * As in the kernel, the vfio_dma keeps the parent's mm by mmgrab() and its
 * leader by get_task_struct() (vfio_dma_do_map()): the mm's users are gone
 * (exit_mmap(): VMAs, tables below the pgd, tasks) but the struct and its
 * pgd stay (__mmdrop() frees them at the last mmdrop()), and the pages stay
 * pinned and translated for the device.  Returns the frames in use then.
 */
static uint64_t map_fork_parent_exits(int c, uint64_t va)
{
	struct pinsim_stats st;

	vh_touch(va, 4 * PG, PG);
	vh_put_byte(proc, va, 'p');
	vh_map_ok(c, va, IOVA, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 4);
	do_fork();
	/* The child's copies of the pinned pages are its own (fork_pinned_*). */
	ck_assert_int_eq(vh_get_byte(child, va), 'p');
	pinsim_proc_destroy(proc);
	proc = NULL;
	dev0.dev = dev0.group = dev1.dev = dev1.group = -1;
	/* The pages are still pinned and mapped: the device reads the parent's bytes. */
	ck_assert_int_eq(dma_byte(IOVA), 'p');
	st = vh_sim_stats();
	ck_assert_uint_eq(st.tasks, base_tasks + 1);	/* the parent's leader is off every list */
	ck_assert_uint_eq(st.dma_violations, 0);
	return st.pages_allocated;
}

START_TEST(fork_child_closes_container_after_parent_exit_no_uaf)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	int dev = dev0.dev, group = dev0.group;
	uint64_t frames, child_locked;
	struct pinsim_stats st;

	frames = map_fork_parent_exits(c, va);
	child_locked = proc_locked_vm(child);
	/*
	 * The child's last close releases the container: unmap and unpin of
	 * the parent's DMA, whose unaccounting finds the parent's mm exited
	 * (vfio_lock_acct(): mmget_not_zero() fails, -ESRCH, skipped); then
	 * vfio_remove_dma()'s mmdrop() is the last: the pgd goes with the mm.
	 */
	ck_assert_int_eq(pinsim_close(child, dev), 0);
	ck_assert_int_eq(pinsim_close(child, group), 0);
	ck_assert_int_eq(pinsim_close(child, c), 0);
	st = vh_sim_stats();
	ck_assert_uint_eq(st.pages_allocated, frames - 4 - 1);	/* 4 unpinned, the pgd */
	vh_assert_no_iommu(&dev0, IOVA, 4 * PG);
	ck_assert_uint_eq(proc_locked_vm(child), child_locked);
	ck_assert_uint_eq(st.warnings, 0);
	ck_assert_uint_eq(st.oopses, 0);
	pinsim_proc_destroy(child);
	child = NULL;
	st = vh_sim_stats();
	ck_assert_uint_eq(st.pages_allocated, base_pages);
	ck_assert_uint_eq(st.tasks, base_tasks);
	ck_assert_uint_eq(st.dma_violations, 0);
}
END_TEST

START_TEST(fork_unmap_after_owner_exit_skips_locked_vm_esrch)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(4 * PG, RW, ANON), cva, frames, child_locked;
	struct vfio_iommu_type1_dma_unmap un = {
		.argsz = sizeof(un), .iova = IOVA, .size = 4 * PG,
	};
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = DMA_RW, .iova = IOVA, .size = 2 * PG,
	};
	struct pinsim_vfio_stats vs;
	struct pinsim_stats st;

	frames = map_fork_parent_exits(c, va);
	child_locked = proc_locked_vm(child);
	/* 6.12 vfio_dma_do_unmap() has no owner check: the child unmaps the dead parent's DMA. */
	ck_assert_int_eq(pinsim_ioctl(child, c, VFIO_IOMMU_UNMAP_DMA, &un), 0);
	ck_assert_uint_eq(un.size, 4 * PG);
	vh_assert_no_iommu(&dev0, IOVA, 4 * PG);
	/* Nothing moved to the child: the unaccounting had no mm to go to. */
	ck_assert_uint_eq(proc_locked_vm(child), child_locked);
	st = vh_sim_stats();
	ck_assert_uint_eq(st.pages_allocated, frames - 4 - 1);	/* 4 unpinned, the pgd */
	ck_assert_uint_eq(st.warnings, 0);
	ck_assert_int_eq(pinsim_vfio_stats(child, c, &vs), 0);
	ck_assert_uint_eq(vs.nr_dmas, 0);
	ck_assert_uint_eq(vs.dma_avail, vh_cfg.dma_entry_limit);
	/* The container goes on, for the child: its own MAP_DMA is charged to it. */
	cva = pinsim_mmap(child, 0, 2 * PG, RW, ANON, -1, 0);
	ck_assert(cva != PINSIM_MAP_FAILED);
	map.vaddr = cva;
	ck_assert_int_eq(pinsim_ioctl(child, c, VFIO_IOMMU_MAP_DMA, &map), 0);
	ck_assert_uint_eq(proc_locked_vm(child), child_locked + 2);
	ck_assert_int_eq(pinsim_ioctl(child, c, VFIO_IOMMU_UNMAP_DMA, &un), 0);
	ck_assert_uint_eq(un.size, 2 * PG);
	ck_assert_uint_eq(proc_locked_vm(child), child_locked);
}
END_TEST

/* ---------------- failure and exit ---------------- */

struct parent_page {
	uint64_t va;
	struct pinsim_page_info pi;
	unsigned char byte;
};

START_TEST(fork_enomem_sweep_changes_nothing)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t anon = vh_mmap(4 * PG, RW, ANON);
	uint64_t pinned = vh_mmap(2 * PG, RW, ANON);
	uint64_t thp = thp_buffer(proc);
	uint64_t huge = vh_mmap(2 * MiB, RW, HUGE_2M);
	uint64_t bar = vh_bar_mmap(&dev0, 4, 0, 16 * PG, RW, 0);
	struct parent_page pages[] = {
		{ .va = anon }, { .va = anon + 3 * PG }, { .va = pinned },
		{ .va = thp }, { .va = thp + 7 * PG }, { .va = huge },
	};
	struct pinsim_stats before;
	unsigned int n;

	for (unsigned int i = 0; i < 4; i++)
		vh_put_byte(proc, anon + i * PG, 'a' + i);
	vh_put_byte(proc, pinned, 'p');
	vh_put_byte(proc, huge, 'h');
	vh_put_byte(proc, bar, 'b');
	vh_map_ok(c, pinned, IOVA, PG);
	for (unsigned int i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		pages[i].pi = vh_page_in(proc, pages[i].va);
		pages[i].byte = vh_get_byte(proc, pages[i].va);
	}
	before = vh_sim_stats();
	for (n = 1; n < 100000; n++) {
		unsigned long injected = 0;
		unsigned int left;
		struct pinsim_stats now;
		int ret;

		ck_assert_int_eq(pinsim_fail_nth(proc, n, PINSIM_FAIL_ALL), 0);
		ret = pinsim_fork(proc, &child);
		left = pinsim_fail_nth_read(&injected);
		ck_assert_int_eq(pinsim_fail_nth(proc, 0, 0), 0);
		if (ret == 0) {
			ck_assert_msg(left > 0 || injected == 0, "N=%u: fork succeeded past a failure",
				      n);
			pinsim_proc_destroy(child);
			child = NULL;
		} else {
			ck_assert_msg(errno == ENOMEM, "N=%u: fork failed with %s", n, strerror(errno));
			ck_assert_uint_eq(injected, 1);
		}
		now = vh_sim_stats();
		ck_assert_msg(now.pages_allocated == before.pages_allocated,
			      "N=%u: pages_allocated %llu, was %llu", n,
			      (unsigned long long)now.pages_allocated,
			      (unsigned long long)before.pages_allocated);
		ck_assert_uint_eq(now.hugetlb_2m_free, before.hugetlb_2m_free);
		ck_assert_uint_eq(now.tasks, before.tasks);
		for (unsigned int i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
			struct pinsim_page_info pi = vh_page_in(proc, pages[i].va);

			ck_assert_msg(pi.pfn == pages[i].pi.pfn && pi.level == pages[i].pi.level,
				      "N=%u: page %u moved", n, i);
			ck_assert_msg(pi.refcount == pages[i].pi.refcount,
				      "N=%u: page %u refcount %d, was %d", n, i, pi.refcount,
				      pages[i].pi.refcount);
			ck_assert_int_eq(pi.pincount, pages[i].pi.pincount);
			/*
			 * The kernel leaves the parent's entries write-protected
			 * after a failed copy: the next write reuses the page
			 * (refcount 1 again), which also makes it writable.
			 */
			vh_put_byte(proc, pages[i].va, pages[i].byte);
			pi = vh_page_in(proc, pages[i].va);
			ck_assert_msg(pi.pfn == pages[i].pi.pfn && pi.level == pages[i].pi.level,
				      "N=%u: page %u copied on write after a failed fork", n, i);
			ck_assert(pi.writable);
		}
		ck_assert_int_eq(dma_byte(IOVA), 'p');
		if (left)
			break;
	}
	printf("# fork: %u injection points\n", n - 1);
	ck_assert_uint_ge(n - 1, 5);
}
END_TEST

START_TEST(fork_exit_both_no_leak)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(8 * PG, RW, ANON);
	uint64_t thp = thp_buffer(proc);
	uint64_t huge = vh_mmap(2 * MiB, RW, HUGE_2M);
	struct pinsim_stats st;

	vh_touch(va, 8 * PG, PG);
	vh_put_byte(proc, huge, 'h');
	vh_map_ok(c, va, IOVA, 2 * PG);
	do_fork();
	vh_put_byte(child, va + 4 * PG, 'c');
	vh_put_byte(child, thp + PG, 'c');
	vh_put_byte(child, huge, 'c');
	/* The parent goes first: the child keeps every page it shares. */
	pinsim_proc_destroy(proc);
	proc = NULL;
	ck_assert_int_eq(vh_get_byte(child, va + 5 * PG), 5);
	ck_assert_int_eq(vh_get_byte(child, thp + 9 * PG), 9);
	ck_assert_int_eq(vh_get_byte(child, huge), 'c');
	pinsim_proc_destroy(child);
	child = NULL;
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(st.pages_allocated, base_pages);
	ck_assert_uint_eq(st.tasks, base_tasks);
	ck_assert_uint_eq(st.hugetlb_2m_free, st.hugetlb_2m_total);
	ck_assert_uint_eq(st.oopses, 0);
	ck_assert_uint_eq(st.warnings, 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("fork");
	TCase *tc = vh_tcase(s, "fork", fk_setup);

	tcase_add_test(tc, fork_private_anon_is_cow_both_sides);
	tcase_add_test(tc, fork_wrprotect_invalidates_parent_secondary_mmu);
	tcase_add_test(tc, fork_shared_anon_shared_with_child);
	tcase_add_test(tc, fork_pinned_page_copied_for_child_parent_keeps_pin);
	tcase_add_test(tc, fork_pin_after_fork_unshares);
	tcase_add_test(tc, fork_readonly_pin_after_fork_unshares);
	tcase_add_test(tc, fork_dontfork_vma_absent_in_child);
	tcase_add_test(tc, fork_wipeonfork_child_reads_zero);
	tcase_add_test(tc, madvise_fork_advices_follow_kernel_errors);
	tcase_add_test(tc, fork_thp_shared_write_protected_then_cow_splits);
	tcase_add_test(tc, fork_thp_exclusive_again_reused_as_pmd);
	tcase_add_test(tc, madvise_dontfork_inside_thp_splits_pmd);
	tcase_add_test(tc, fork_thp_pinned_split_and_copied);
	tcase_add_test(tc, fork_hugetlb_shared_then_cow_from_pool);
	tcase_add_test(tc, fork_hugetlb_pinned_copied);
	tcase_add_test(tc, fork_bar_pfnmap_inherited);
	tcase_add_test(tc, fork_shared_fd_child_unmap_dma_affects_parent);
	tcase_add_test(tc, fork_child_inherits_rlimit_and_capability);
	tcase_add_test(tc, fork_pinned_protnone_copies_are_freed);
	tcase_add_test(tc, fork_enomem_sweep_changes_nothing);
	tcase_add_test(tc, fork_exit_both_no_leak);
	tcase_add_test(tc, fork_child_closes_container_after_parent_exit_no_uaf);
	tcase_add_test(tc, fork_unmap_after_owner_exit_skips_locked_vm_esrch);
	return s;
}
