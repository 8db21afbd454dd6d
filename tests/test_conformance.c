// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO type1 conformance through the public API (kernel-semantics.md §1 and
 * the §8 checklist, items 1-44 plus 49, 56 and 58 where they show at the
 * ioctl level), and the container/group/device fd rules of
 * drivers/vfio/container.c and group.c they depend on.  Each test is named
 * after the kernel behaviour it pins down; every failing request is
 * followed by the state check: no pin, no IOMMU entry, locked_vm, dma_avail
 * and the dma count unchanged.  Item 10 runs at the real default
 * dma_entry_limit (65535 live mappings).
 *
 * Not testable from the public API, so absent here:
 *  - item 19 (a VM_PFNMAP VMA whose pfn is ordinary RAM -> -EFAULT): every
 *    pfnmap a process can create is a vfio-pci BAR, whose pfns are MMIO;
 *  - item 24 (fixup_user_fault dropping mmap_lock -> internal -EAGAIN):
 *    needs the injector to make a fault return VM_FAULT_RETRY;
 *  - items 26 and 30 (no IOMMU domain / emulated mdev group): every group
 *    pinsim_add_device() creates is an IOMMU-backed vfio-pci group;
 *  - the 64K-minimum-page variant of item 8: the simulated IOMMU has 4K, 2M
 *    and 1G leaves only (pinsim_create rejects other sizes with EINVAL).
 * Dirty-page tracking runs as the kernel's (test_type1_versions has its
 * cases); GET_DIRTY_BITMAP on unmap fails as "tracking off" does until
 * VFIO_IOMMU_DIRTY_PAGES_FLAG_START.
 */
#include "vfio_harness.h"

#define IOVA_A 0x100000ULL		/* small mappings live from 1 MiB */
#define IOVA_1G (4 * GiB)		/* 1G-aligned, in the upper range */

static int c;				/* the container of the test */

static void v2_setup(void)
{
	vh_setup();
	c = vh_container(VFIO_TYPE1v2_IOMMU);
}

static void v1_setup(void)
{
	vh_setup();
	c = vh_container(VFIO_TYPE1_IOMMU);
}

/* An anonymous buffer of @n pages, every page faulted in. */
static uint64_t anon(unsigned long n)
{
	uint64_t va = vh_mmap(n * PG, RW, ANON);

	vh_touch(va, n * PG, PG);
	return va;
}

/* Physically discontiguous 4K pages: each page its own run. */
static uint64_t anon_scattered(unsigned long n)
{
	uint64_t va = vh_mmap(n * PG, RW, ANON);
	uint64_t other = vh_mmap(n * PG, RW, ANON);

	/* Interleave the faults of two buffers: consecutive pages get pfns two apart. */
	for (unsigned long i = 0; i < n; i++) {
		vh_touch(va + i * PG, PG, PG);
		vh_touch(other + i * PG, PG, PG);
	}
	return va;
}

/* Number of physically contiguous runs of [va, va + n pages), from pagemap. */
static unsigned long phys_runs(uint64_t va, unsigned long n)
{
	unsigned long runs = 1;
	uint64_t prev = vh_page(va).pfn;

	for (unsigned long i = 1; i < n; i++) {
		uint64_t pfn = vh_page(va + i * PG).pfn;

		if (pfn != prev + 1)
			runs++;
		prev = pfn;
	}
	return runs;
}

/* UNMAP with VFIO_DMA_UNMAP_FLAG_VADDR: invalidate the vaddr, keep the mapping. */
static int unmap_vaddr(uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	return vh_unmap_flags(c, iova, size, VFIO_DMA_UNMAP_FLAG_VADDR, unmapped);
}

/*
 * What the profile under test says where versions differ (the run's
 * profile: "upstream", or the tree's with PINSIM_TEST_IMPL=tree):
 * a range that wraps is -EOVERFLOW since 6012379ede60 (v6.18-rc4,
 * vfio_dma_limit_overflow), -EINVAL in 6.12, where every check is -EINVAL
 * and their order cannot be seen.
 */
static int wrap_err(void)
{
	return vh_cfg.vfio_dma_limit_overflow ? -EOVERFLOW : -EINVAL;
}

/*
 * vaddr_get_pfns() calls for @len bytes of a BAR whose leaves are @leaf
 * bytes: one per leaf since 0fd06844de5d (v6.15, vfio_addr_mask_batching),
 * one per page before.
 */
static uint64_t bar_lookups(uint64_t len, uint64_t leaf)
{
	return vh_cfg.vfio_addr_mask_batching ? len / leaf : len / PG;
}

static int map_raw(struct vfio_iommu_type1_dma_map *map)
{
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_MAP_DMA, map));
}

/* ---------------- MAP_DMA argument checks (items 1-8) ---------------- */

START_TEST(test_map_argsz_below_32_is_einval)
{
	uint64_t va = anon(4);
	struct vh_state s = vh_snap(c);
	struct vfio_iommu_type1_dma_map map = {
		.argsz = 31, .flags = DMA_RW, .vaddr = va, .iova = IOVA_A, .size = 4 * PG,
	};

	ck_assert_int_eq(map_raw(&map), -EINVAL);
	vh_assert_map_left_nothing(c, &s, va, IOVA_A, 4 * PG);
	map.argsz = 32;		/* offsetofend(size): exactly enough */
	ck_assert_int_eq(map_raw(&map), 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_unknown_flag_is_einval)
{
	uint64_t va = anon(4);
	struct vh_state s = vh_snap(c);

	ck_assert_int_eq(vh_map_flags(c, va, IOVA_A, 4 * PG, DMA_RW | (1u << 3)), -EINVAL);
	ck_assert_int_eq(vh_map_flags(c, va, IOVA_A, 4 * PG, DMA_RW | (1u << 31)), -EINVAL);
	ck_assert_int_eq(vh_map_flags(c, va, IOVA_A, 4 * PG, VFIO_DMA_MAP_FLAG_VADDR | (1u << 5)),
			 -EINVAL);
	vh_assert_map_left_nothing(c, &s, va, IOVA_A, 4 * PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_size_zero_is_einval_before_overflow_and_alignment)
{
	uint64_t va = anon(1);
	struct vh_state s = vh_snap(c);

	/* iova + (size - 1) would wrap: the size check comes first. */
	ck_assert_int_eq(vh_map(c, va, IOVA_A, 0), -EINVAL);
	ck_assert_int_eq(vh_map(c, va + 1, IOVA_A + 1, 0), -EINVAL);
	ck_assert_int_eq(vh_map(c, ~0ULL & ~(PG - 1), ~0ULL & ~(PG - 1), 0), -EINVAL);
	vh_assert_map_left_nothing(c, &s, va, IOVA_A, PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_iova_wrap_is_eoverflow_before_flag_and_alignment_checks)
{
	uint64_t va = anon(2);
	uint64_t top = 0xfffffffffffff000ULL;
	struct vh_state s = vh_snap(c);

	ck_assert_int_eq(vh_map(c, va, top, 0x2000), wrap_err());
	/* Overflow is checked before prot (flags = 0) and alignment. */
	ck_assert_int_eq(vh_map_flags(c, va, top, 0x2000, 0), wrap_err());
	ck_assert_int_eq(vh_map(c, va + 8, top, 0x2000), wrap_err());
	vh_assert_map_left_nothing(c, &s, va, IOVA_A, 2 * PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_vaddr_wrap_is_eoverflow)
{
	uint64_t va = anon(2);
	struct vh_state s = vh_snap(c);

	ck_assert_int_eq(vh_map(c, 0xfffffffffffff000ULL, IOVA_A, 0x2000), wrap_err());
	ck_assert_int_eq(vh_map(c, ~0ULL, IOVA_A, 1), -EINVAL);	/* no wrap, unaligned */
	vh_assert_map_left_nothing(c, &s, va, IOVA_A, 2 * PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_without_read_write_or_vaddr_is_einval)
{
	uint64_t va = anon(4);
	struct vh_state s = vh_snap(c);

	ck_assert_int_eq(vh_map_flags(c, va, IOVA_A, 4 * PG, 0), -EINVAL);
	vh_assert_map_left_nothing(c, &s, va, IOVA_A, 4 * PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_vaddr_combined_with_read_or_write_is_einval)
{
	uint64_t va = anon(4), nva = anon(4), unmapped = 0;
	struct vh_state s;

	vh_map_ok(c, va, IOVA_A, 4 * PG);
	ck_assert_int_eq(unmap_vaddr(IOVA_A, 4 * PG, &unmapped), 0);
	s = vh_snap(c);
	/* The dma is invalidated and matches: only the flag mix is wrong. */
	ck_assert_int_eq(vh_map_flags(c, nva, IOVA_A, 4 * PG,
				      VFIO_DMA_MAP_FLAG_VADDR | VFIO_DMA_MAP_FLAG_READ), -EINVAL);
	ck_assert_int_eq(vh_map_flags(c, nva, IOVA_A, 4 * PG,
				      VFIO_DMA_MAP_FLAG_VADDR | VFIO_DMA_MAP_FLAG_WRITE), -EINVAL);
	vh_assert_state(c, &s);
	vh_assert_unpinned(nva, 4 * PG);
	/* Still invalid: the plain VADDR update goes through. */
	ck_assert_int_eq(vh_map_flags(c, nva, IOVA_A, 4 * PG, VFIO_DMA_MAP_FLAG_VADDR), 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_unaligned_iova_vaddr_or_size_is_einval)
{
	uint64_t va = anon(4), other = anon(4);
	struct vh_state s;

	vh_map_ok(c, other, IOVA_A, 4 * PG);
	s = vh_snap(c);
	ck_assert_int_eq(vh_map(c, va, IOVA_A + 0x10000 + 0x800, 2 * PG), -EINVAL);
	ck_assert_int_eq(vh_map(c, va + 0x800, IOVA_A + 0x10000, 2 * PG), -EINVAL);
	ck_assert_int_eq(vh_map(c, va, IOVA_A + 0x10000, 0x1800), -EINVAL);
	/* Alignment is checked before the overlap (-EEXIST) lookup. */
	ck_assert_int_eq(vh_map(c, va, IOVA_A + 0x800, 2 * PG), -EINVAL);
	vh_assert_state(c, &s);
	vh_assert_unpinned(va, 4 * PG);
	vh_assert_no_iommu(&dev0, IOVA_A + 0x10000, 2 * PG);
	vh_assert_clean();
}
END_TEST

/* ---------------- overlap, entry limit, iova ranges (items 9-11, 25) -------- */

START_TEST(test_map_overlapping_range_is_eexist_adjacent_succeeds)
{
	uint64_t va = anon(4), b = anon(12);
	uint64_t phys = 0;
	struct vh_state s;

	vh_map_ok(c, va, IOVA_A + 4 * PG, 4 * PG);		/* [A+16K, A+32K) */
	vh_iommu_leaf(&dev0, IOVA_A + 4 * PG, &phys);
	s = vh_snap(c);
	ck_assert_int_eq(vh_map(c, b, IOVA_A + 3 * PG, 2 * PG), -EEXIST);	/* last page in */
	ck_assert_int_eq(vh_map(c, b, IOVA_A + 7 * PG, 2 * PG), -EEXIST);	/* 1st page in */
	ck_assert_int_eq(vh_map(c, b, IOVA_A + 5 * PG, PG), -EEXIST);		/* inside */
	ck_assert_int_eq(vh_map(c, b, IOVA_A, 12 * PG), -EEXIST);		/* covers it */
	vh_assert_state(c, &s);
	vh_assert_unpinned(b, 12 * PG);
	vh_assert_no_iommu(&dev0, IOVA_A, 4 * PG);
	vh_assert_no_iommu(&dev0, IOVA_A + 8 * PG, 4 * PG);
	/* The existing mapping is untouched. */
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A + 4 * PG, NULL), PG);
	vh_assert_pinned(va, 4 * PG, 1);
	/* Adjacent on either side is fine. */
	vh_map_ok(c, b, IOVA_A + 8 * PG, PG);
	vh_map_ok(c, b + PG, IOVA_A + 3 * PG, PG);
	ck_assert_uint_eq(vh_dma_avail(c), s.dma_avail - 2);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_beyond_default_dma_entry_limit_65535_is_enospc)
{
	const unsigned long limit = 65535;
	uint64_t va = vh_mmap((limit + 1) * PG, RW, ANON);
	struct vh_state s;

	ck_assert_uint_eq(vh_dma_avail(c), limit);
	vh_touch(va, (limit + 1) * PG, PG);
	for (unsigned long i = 0; i < limit; i++) {
		int ret = vh_map(c, va + i * PG, i * PG, PG);

		if (ret)
			ck_abort_msg("MAP %lu of %lu failed: %d", i, limit, ret);
		if (i == 0)
			ck_assert_uint_eq(vh_dma_avail(c), limit - 1);
	}
	ck_assert_uint_eq(vh_dma_avail(c), 0);
	ck_assert_uint_eq(vh_stats(c).nr_dmas, limit);
	ck_assert_uint_eq(vh_locked_vm(), limit);

	s = vh_snap(c);
	ck_assert_int_eq(vh_map(c, va + limit * PG, limit * PG, PG), -ENOSPC);
	vh_assert_state(c, &s);
	vh_assert_unpinned(va + limit * PG, PG);
	vh_assert_no_iommu(&dev0, limit * PG, PG);

	/* One UNMAP makes room again. */
	vh_unmap_ok(c, 7 * PG, PG);
	ck_assert_uint_eq(vh_dma_avail(c), 1);
	vh_map_ok(c, va + limit * PG, limit * PG, PG);
	ck_assert_uint_eq(vh_dma_avail(c), 0);
	vh_assert_clean();
}
END_TEST

static void small_limit_setup(void)
{
	vh_defaults(&vh_cfg);
	vh_cfg.dma_entry_limit = 4;
	vh_setup_with(&vh_cfg);
	c = vh_container(VFIO_TYPE1v2_IOMMU);
}

START_TEST(test_map_enospc_comes_after_overlap_and_before_iova_range_check)
{
	uint64_t va = anon(8);
	struct vh_state s;

	ck_assert_uint_eq(vh_dma_avail(c), 4);
	for (int i = 0; i < 4; i++)
		vh_map_ok(c, va + i * PG, IOVA_A + i * PG, PG);
	s = vh_snap(c);
	ck_assert_uint_eq(s.dma_avail, 0);
	ck_assert_int_eq(vh_map(c, va + 4 * PG, IOVA_A + 3 * PG, PG), -EEXIST);
	ck_assert_int_eq(vh_map(c, va + 4 * PG, IOVA_A + 4 * PG, PG), -ENOSPC);
	ck_assert_int_eq(vh_map(c, va + 4 * PG, IOVA_HOLE_START, PG), -ENOSPC);
	vh_assert_state(c, &s);
	vh_assert_unpinned(va + 4 * PG, 4 * PG);
	vh_assert_no_iommu(&dev0, IOVA_A + 4 * PG, PG);
	vh_assert_no_iommu(&dev0, IOVA_HOLE_START, PG);
	vh_unmap_ok(c, IOVA_A, PG);
	/* With room, the same request now meets the iova-range check. */
	s = vh_snap(c);
	ck_assert_int_eq(vh_map(c, va + 4 * PG, IOVA_HOLE_START, PG), -EINVAL);
	vh_assert_map_left_nothing(c, &s, va + 4 * PG, IOVA_HOLE_START, PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_outside_one_iova_range_is_einval)
{
	uint64_t va = anon(512);
	struct vh_state s = vh_snap(c);

	/* Straddling the MSI hole, inside it, past the aperture, straddling its end. */
	ck_assert_int_eq(vh_map(c, va, IOVA_HOLE_START - PG, 2 * PG), -EINVAL);
	ck_assert_int_eq(vh_map(c, va, IOVA_HOLE_END + 1 - PG, 2 * PG), -EINVAL);
	ck_assert_int_eq(vh_map(c, va, 0xfed00000ULL, 512 * PG), -EINVAL);
	ck_assert_int_eq(vh_map(c, va, IOVA_HOLE_START, PG), -EINVAL);
	ck_assert_int_eq(vh_map(c, va, IOVA_HOLE_END + 1 - PG, PG), -EINVAL);
	ck_assert_int_eq(vh_map(c, va, IOVA_LAST + 1, PG), -EINVAL);
	ck_assert_int_eq(vh_map(c, va, IOVA_LAST + 1 - PG, 2 * PG), -EINVAL);
	vh_assert_map_left_nothing(c, &s, va, IOVA_HOLE_START - PG, 2 * PG);
	vh_assert_no_iommu(&dev0, 0xfed00000ULL, 512 * PG);
	vh_assert_no_iommu(&dev0, IOVA_LAST + 1 - PG, PG);
	/* Right up to the hole, right after it, and the last page are valid. */
	vh_map_ok(c, va, IOVA_HOLE_START - PG, PG);
	vh_map_ok(c, va + PG, IOVA_HOLE_END + 1, PG);
	vh_map_ok(c, va + 2 * PG, IOVA_LAST + 1 - PG, PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_successful_map_lowers_dma_avail_by_one_and_unmap_restores)
{
	uint64_t va = anon(64);
	uint32_t avail = vh_dma_avail(c);

	ck_assert_uint_eq(avail, 65535);
	vh_map_ok(c, va, IOVA_A, 64 * PG);
	ck_assert_uint_eq(vh_dma_avail(c), avail - 1);	/* one dma, whatever its size */
	vh_map_ok(c, va, IOVA_A + 64 * PG, PG);
	ck_assert_uint_eq(vh_dma_avail(c), avail - 2);
	vh_unmap_ok(c, IOVA_A, 64 * PG);
	ck_assert_uint_eq(vh_dma_avail(c), avail - 1);
	vh_assert_clean();
}
END_TEST

/* ---------------- pinning failures (items 12-14) ---------------- */

START_TEST(test_map_range_with_unmapped_page_is_efault_all_or_nothing)
{
	uint64_t va = anon_scattered(16);
	struct pinsim_stats before, after;
	struct vh_state s;

	ck_assert_int_eq(pinsim_munmap(proc, va + 12 * PG, PG), 0);
	ck_assert_uint_ge(phys_runs(va, 12), 2);
	s = vh_snap(c);
	before = vh_sim_stats();
	ck_assert_int_eq(vh_map(c, va, IOVA_A, 16 * PG), -EFAULT);
	after = vh_sim_stats();
	/*
	 * The runs before the hole were mapped, then removed again.  The last
	 * run (page 11) never is: the refill that would end it hits the hole,
	 * and vfio_pin_pages_remote() unpins it on its unpin_out path.
	 */
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, phys_runs(va, 12) - 1);
	ck_assert_uint_gt(after.iommu_map_calls, before.iommu_map_calls);
	ck_assert_uint_gt(after.iommu_unmap_calls, before.iommu_unmap_calls);
	vh_assert_map_left_nothing(c, &s, va, IOVA_A, 12 * PG);
	vh_assert_unpinned(va + 13 * PG, 3 * PG);
	vh_assert_no_iommu(&dev0, IOVA_A + 12 * PG, 4 * PG);
	ck_assert_uint_eq(vh_stats(c).map_efault, 1);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_write_on_readonly_vma_is_efault_read_only_succeeds)
{
	uint64_t va = vh_mmap(4 * PG, PROT_READ, ANON), none;
	unsigned char b;
	struct vh_state s;

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pinsim_access(proc, va + i * PG, &b, 1, 0), 1);
	s = vh_snap(c);
	ck_assert_int_eq(vh_map(c, va, IOVA_A, 4 * PG), -EFAULT);
	ck_assert_int_eq(vh_map_flags(c, va, IOVA_A, 4 * PG, VFIO_DMA_MAP_FLAG_WRITE), -EFAULT);
	vh_assert_map_left_nothing(c, &s, va, IOVA_A, 4 * PG);
	ck_assert_int_eq(vh_map_flags(c, va, IOVA_A, 4 * PG, VFIO_DMA_MAP_FLAG_READ), 0);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A, NULL), PG);
	vh_unmap_ok(c, IOVA_A, 4 * PG);
	vh_assert_state(c, &s);
	vh_assert_unpinned(va, 4 * PG);
	/* PROT_NONE: not even a device-read mapping (check_vma_flags: no VM_READ). */
	none = vh_mmap(4 * PG, PROT_NONE, ANON);
	ck_assert_int_eq(vh_map_flags(c, none, IOVA_A, 4 * PG, VFIO_DMA_MAP_FLAG_READ), -EFAULT);
	vh_assert_map_left_nothing(c, &s, none, IOVA_A, 4 * PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_beyond_rlimit_memlock_is_enomem_with_rollback_of_earlier_runs)
{
	struct rlimit rl = { 4 * PG, 4 * PG };
	uint64_t va = vh_mmap(8 * PG, RW, ANON);
	struct vh_state s;

	/* Pages 4-7 first, then 0-3: two runs, the second over the limit. */
	vh_touch(va + 4 * PG, 4 * PG, PG);
	vh_touch(va, 4 * PG, PG);
	ck_assert_uint_ne(vh_page(va + 3 * PG).pfn + 1, vh_page(va + 4 * PG).pfn);
	ck_assert_uint_eq(phys_runs(va, 4), 1);
	ck_assert_int_eq(pinsim_setrlimit(proc, RLIMIT_MEMLOCK, &rl), 0);
	s = vh_snap(c);
	ck_assert_int_eq(vh_map(c, va, IOVA_A, 8 * PG), -ENOMEM);
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, 1);	/* run one was mapped */
	vh_assert_map_left_nothing(c, &s, va, IOVA_A, 8 * PG);
	ck_assert_uint_eq(vh_stats(c).map_enomem, 1);

	/* The limit counts what earlier mappings locked. */
	vh_map_ok(c, va, IOVA_A, 3 * PG);
	s = vh_snap(c);
	ck_assert_uint_eq(s.locked_vm, 3);
	ck_assert_int_eq(vh_map(c, va + 4 * PG, IOVA_A + 4 * PG, 2 * PG), -ENOMEM);
	vh_assert_map_left_nothing(c, &s, va + 4 * PG, IOVA_A + 4 * PG, 2 * PG);

	/* CAP_IPC_LOCK bypasses the limit, and locked_vm still grows. */
	ck_assert_int_eq(pinsim_set_cap_ipc_lock(proc, true), 0);
	vh_map_ok(c, va + 4 * PG, IOVA_A + 4 * PG, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 3 + 4);
	vh_assert_pinned(va + 4 * PG, 4 * PG, 1);
	vh_assert_clean();
}
END_TEST

/* ---------------- accounting and runs (items 15-18, 58) ---------------- */

START_TEST(test_locked_vm_grows_by_ram_pages_only_and_per_dma)
{
	uint64_t va = anon(8);
	uint64_t h = vh_mmap(2 * MiB, RW, HUGE_2M);
	uint64_t bar = vh_bar_mmap(&dev0, 2, 0, 2 * MiB, RW, 0);

	vh_touch(h, 2 * MiB, 2 * MiB);
	vh_map_ok(c, va, IOVA_A, 8 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 8);
	vh_map_ok(c, bar, IOVA_1G, 2 * MiB);
	ck_assert_uint_eq(vh_locked_vm(), 8);		/* MMIO is never counted */
	ck_assert_uint_eq(vh_stats(c).last.pfnmap_pages, 512);
	ck_assert_uint_eq(vh_stats(c).last.pinned_pages, 0);
	vh_map_ok(c, h, IOVA_1G + GiB, 2 * MiB);
	ck_assert_uint_eq(vh_locked_vm(), 8 + 512);
	/* The same pages in a second dma are pinned and charged again. */
	vh_map_ok(c, va, IOVA_A + 8 * PG, 8 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 8 + 512 + 8);
	vh_assert_pinned(va, 8 * PG, 2);
	vh_unmap_ok(c, IOVA_A, 8 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 512 + 8);
	vh_assert_pinned(va, 8 * PG, 1);
	vh_assert_clean();
}
END_TEST

START_TEST(test_hugetlb_2m_buffer_is_one_iommu_map_with_a_2m_leaf)
{
	uint64_t h = vh_mmap(2 * MiB, RW, HUGE_2M);
	struct pinsim_stats before, after;
	uint64_t phys;

	vh_touch(h, 2 * MiB, 2 * MiB);
	before = vh_sim_stats();
	vh_map_ok(c, h, IOVA_1G, 2 * MiB);
	after = vh_sim_stats();
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, 1);
	ck_assert_uint_eq(vh_stats(c).last.pinned_pages, 512);
	ck_assert_uint_eq(after.iommu_map_calls - before.iommu_map_calls, 1);
	ck_assert_uint_eq(after.iommu_leaves_2m - before.iommu_leaves_2m, 1);
	ck_assert_uint_eq(after.iommu_leaves_4k - before.iommu_leaves_4k, 0);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G + MiB, &phys), 2 * MiB);
	ck_assert_uint_eq(phys, (vh_page(h).pfn << 12) + MiB);
	vh_assert_clean();
}
END_TEST

START_TEST(test_huge_run_at_less_aligned_iova_splits_into_smaller_iommu_leaves)
{
	uint64_t h = vh_mmap(2 * MiB, RW, HUGE_2M);
	uint64_t g = vh_mmap(GiB, RW, HUGE_1G);
	struct pinsim_stats before, after;

	/* One run each; __iommu_map() picks sizes by iova | paddr alignment. */
	before = vh_sim_stats();
	vh_map_ok(c, h, IOVA_1G + PG, 2 * MiB);
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, 1);
	vh_map_ok(c, g, 2 * IOVA_1G + 2 * MiB, GiB);
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, 1);
	after = vh_sim_stats();
	ck_assert_uint_eq(after.iommu_leaves_4k - before.iommu_leaves_4k, 512);
	ck_assert_uint_eq(after.iommu_leaves_2m - before.iommu_leaves_2m, 512);
	ck_assert_uint_eq(after.iommu_leaves_1g - before.iommu_leaves_1g, 0);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G + MiB, NULL), PG);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, 2 * IOVA_1G + GiB, NULL), 2 * MiB);
	vh_unmap_ok(c, 2 * IOVA_1G + 2 * MiB, GiB);
	vh_unmap_ok(c, IOVA_1G + PG, 2 * MiB);
	vh_assert_unpinned(h, 2 * MiB);
	vh_assert_unpinned(g, GiB);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_scattered_4k_pages_get_one_iommu_map_per_contiguous_run)
{
	uint64_t va = anon_scattered(32);
	uint64_t contig = anon(32);
	unsigned long runs = phys_runs(va, 32);

	ck_assert_uint_ge(runs, 2);
	vh_map_ok(c, va, IOVA_A, 32 * PG);
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, runs);
	ck_assert_uint_eq(vh_stats(c).last.vaddr_get_pfns, 1);	/* one batch of 32 */
	for (int i = 0; i < 32; i++) {
		uint64_t phys;

		ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A + i * PG, &phys), PG);
		ck_assert_uint_eq(phys >> 12, vh_page(va + i * PG).pfn);
	}
	vh_map_ok(c, contig, IOVA_A + 32 * PG, 32 * PG);
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, phys_runs(contig, 32));
	vh_assert_clean();
}
END_TEST

START_TEST(test_run_breaks_at_ram_to_mmio_and_mmio_to_ram)
{
	uint64_t va = anon(8), va2 = anon(8);
	uint64_t phys;

	/* [va, va+16K) RAM, then BAR4 pages 0-3 over [va+16K, va+32K). */
	ck_assert_uint_eq(vh_bar_mmap(&dev0, 4, va + 4 * PG, 4 * PG, RW, 0), va + 4 * PG);
	ck_assert_uint_eq(phys_runs(va, 4), 1);
	vh_map_ok(c, va, IOVA_A, 8 * PG);
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, 2);
	ck_assert_uint_eq(vh_stats(c).last.pinned_pages, 4);
	ck_assert_uint_eq(vh_stats(c).last.pfnmap_pages, 4);
	ck_assert_uint_eq(vh_locked_vm(), 4);
	vh_iommu_leaf(&dev0, IOVA_A + 4 * PG, &phys);
	ck_assert_uint_eq(phys >> 12, vh_page(va + 4 * PG).pfn);
	ck_assert(vh_page(va + 4 * PG).mmio);

	/* BAR4 pages 8-11 over [va2, va2+16K), then RAM. */
	ck_assert_uint_eq(vh_bar_mmap(&dev0, 4, va2, 4 * PG, RW, 8 * PG), va2);
	ck_assert_uint_eq(phys_runs(va2 + 4 * PG, 4), 1);
	vh_map_ok(c, va2, IOVA_A + 8 * PG, 8 * PG);
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, 2);
	ck_assert_uint_eq(vh_stats(c).last.pinned_pages, 4);
	ck_assert_uint_eq(vh_locked_vm(), 8);
	vh_assert_pinned(va2 + 4 * PG, 4 * PG, 1);

	vh_unmap_ok(c, IOVA_A, 8 * PG);
	vh_unmap_ok(c, IOVA_A + 8 * PG, 8 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_unpinned(va, 4 * PG);
	vh_assert_unpinned(va2 + 4 * PG, 4 * PG);
	vh_assert_clean();
}
END_TEST

static void nohuge_setup(void)
{
	vh_defaults(&vh_cfg);
	vh_cfg.disable_hugepages = true;
	vh_setup_with(&vh_cfg);
	c = vh_container(VFIO_TYPE1v2_IOMMU);
}

START_TEST(test_disable_hugepages_maps_every_page_as_its_own_run)
{
	uint64_t h = vh_mmap(2 * MiB, RW, HUGE_2M);
	struct pinsim_stats before, after;

	vh_touch(h, 2 * MiB, 2 * MiB);
	before = vh_sim_stats();
	vh_map_ok(c, h, IOVA_1G, 2 * MiB);
	after = vh_sim_stats();
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, 512);
	ck_assert_uint_eq(vh_stats(c).last.vaddr_get_pfns, 512);	/* single-slot batch */
	ck_assert_uint_eq(after.iommu_leaves_4k - before.iommu_leaves_4k, 512);
	ck_assert_uint_eq(after.iommu_leaves_2m - before.iommu_leaves_2m, 0);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G + MiB, NULL), PG);
	ck_assert_uint_eq(vh_locked_vm(), 512);
	vh_unmap_ok(c, IOVA_1G, 2 * MiB);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_unpinned(h, 2 * MiB);
	vh_assert_clean();
}
END_TEST

START_TEST(test_unmap_restores_pin_counts_locked_vm_dma_avail_4k_thp_1g)
{
	uint64_t a = anon(4);
	uint64_t t = vh_mmap(2 * MiB, RW, ANON);
	uint64_t g = vh_mmap(GiB, RW, HUGE_1G);
	struct pinsim_page_info pa, pt, pg;
	uint32_t avail = vh_dma_avail(c);

	ck_assert_int_eq(pinsim_madvise(proc, t, 2 * MiB, MADV_HUGEPAGE), 0);
	vh_touch(t, 2 * MiB, 2 * MiB);
	vh_touch(g, GiB, GiB);
	pa = vh_page(a + PG);
	pt = vh_page(t);
	pg = vh_page(g);
	ck_assert_uint_eq(pt.folio_order, 9);
	ck_assert_uint_eq(pg.folio_order, 18);

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	vh_map_ok(c, t, IOVA_1G, 2 * MiB);
	vh_map_ok(c, g, 2 * IOVA_1G, GiB);
	/* FOLL_PIN: small page +1024 refs; large folio +1 ref and +1 pin per page. */
	ck_assert_int_eq(vh_page(a + PG).refcount, pa.refcount + 1024);
	ck_assert_int_eq(vh_page(t).refcount, pt.refcount + 512);
	ck_assert_int_eq(vh_page(t).pincount, 512);
	ck_assert_int_eq(vh_page(g).refcount, pg.refcount + 262144);
	ck_assert_int_eq(vh_page(g).pincount, 262144);
	ck_assert_uint_eq(vh_locked_vm(), 4 + 512 + 262144);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G, NULL), 2 * MiB);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, 2 * IOVA_1G, NULL), GiB);
	ck_assert_uint_eq(vh_dma_avail(c), avail - 3);

	vh_unmap_ok(c, IOVA_1G, 2 * MiB);
	ck_assert_int_eq(vh_page(t).refcount, pt.refcount);
	ck_assert_int_eq(vh_page(t).pincount, 0);
	ck_assert_uint_eq(vh_locked_vm(), 4 + 262144);
	vh_unmap_ok(c, 2 * IOVA_1G, GiB);
	ck_assert_int_eq(vh_page(g).refcount, pg.refcount);
	ck_assert_int_eq(vh_page(g).pincount, 0);
	vh_unmap_ok(c, IOVA_A, 4 * PG);
	ck_assert_int_eq(vh_page(a + PG).refcount, pa.refcount);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	ck_assert_uint_eq(vh_dma_avail(c), avail);
	vh_assert_no_iommu(&dev0, IOVA_A, 4 * PG);
	vh_assert_no_iommu(&dev0, IOVA_1G, 2 * MiB);
	ck_assert_int_eq(pinsim_iommu_lookup(sim, dev0.group_id, 2 * IOVA_1G, NULL, NULL), -1);
	vh_assert_clean();
}
END_TEST

/* ---------------- BARs (items 20-23, 49) ---------------- */

START_TEST(test_map_write_through_readonly_bar_mmap_is_efault)
{
	uint64_t bar = vh_bar_mmap(&dev0, 2, 0, 2 * MiB, PROT_READ, 0);
	unsigned char b;
	struct vh_state s = vh_snap(c);

	/* Not faulted in: the write fault itself is refused. */
	ck_assert_int_eq(vh_map(c, bar, IOVA_1G, 2 * MiB), -EFAULT);
	vh_assert_map_left_nothing(c, &s, bar, IOVA_1G, 2 * MiB);
	/* Faulted in by a read: follow_pfnmap_start succeeds, !args.writable. */
	ck_assert_int_eq(pinsim_access(proc, bar, &b, 1, 0), 1);
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_PMD);
	ck_assert(!vh_page(bar).writable);
	ck_assert_int_eq(vh_map(c, bar, IOVA_1G, 2 * MiB), -EFAULT);
	ck_assert_uint_eq(vh_stats(c).last.follow_failures, 0);
	ck_assert_uint_eq(vh_stats(c).last.faults, 0);
	vh_assert_map_left_nothing(c, &s, bar, IOVA_1G, 2 * MiB);
	/* Device-read-only is fine. */
	ck_assert_int_eq(vh_map_flags(c, bar, IOVA_1G, 2 * MiB, VFIO_DMA_MAP_FLAG_READ), 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_bar_with_memory_decode_off_is_efault)
{
	uint64_t bar = vh_bar_mmap(&dev0, 2, 0, 2 * MiB, RW, 0);
	unsigned char b;
	struct vh_state s;

	ck_assert_int_eq(pinsim_access(proc, bar, &b, 1, 0), 1);
	vh_memory_decode(&dev0, false);
	/* Decode off zapped the CPU mapping; the refault is SIGBUS. */
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_NONE);
	s = vh_snap(c);
	ck_assert_int_eq(vh_map(c, bar, IOVA_1G, 2 * MiB), -EFAULT);
	ck_assert_uint_eq(vh_stats(c).last.faults, 1);
	vh_assert_map_left_nothing(c, &s, bar, IOVA_1G, 2 * MiB);
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_NONE);
	vh_memory_decode(&dev0, true);
	vh_map_ok(c, bar, IOVA_1G, 2 * MiB);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G, NULL), 2 * MiB);
	vh_assert_clean();
}
END_TEST

START_TEST(test_device_reset_zaps_the_cpu_mapping_but_not_the_iommu_mapping)
{
	uint64_t bar = vh_bar_mmap(&dev0, 2, 0, 2 * MiB, RW, 0);
	unsigned char out[64], in[64];
	uint64_t phys;

	vh_pattern(out, sizeof(out), 12);
	ck_assert_int_eq(pinsim_access(proc, bar + 4096, out, sizeof(out), 1), sizeof(out));
	vh_map_ok(c, bar, IOVA_1G, 2 * MiB);
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.dev, VFIO_DEVICE_RESET, NULL), 0);
	/* vfio_pci_zap_bars() reaches user page tables; type1 keeps its mapping. */
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_NONE);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G, &phys), 2 * MiB);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_1G + 4096, in, sizeof(in), 0),
			 sizeof(in));
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
	/* The CPU refaults the same pfns. */
	ck_assert_int_eq(pinsim_access(proc, bar + 4096, in, sizeof(in), 0), sizeof(in));
	ck_assert_uint_eq(vh_page(bar).pfn, phys >> 12);
	vh_unmap_ok(c, IOVA_1G, 2 * MiB);
	vh_assert_clean();
}
END_TEST

START_TEST(test_device_info_and_region_info_describe_the_bars)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	int ret;

	ck_assert_int_eq(pinsim_ioctl(proc, dev0.dev, VFIO_DEVICE_GET_INFO, &di), 0);
	ck_assert(di.flags & VFIO_DEVICE_FLAGS_PCI);
	ck_assert(di.flags & VFIO_DEVICE_FLAGS_RESET);
	ck_assert_uint_eq(di.num_regions, VFIO_PCI_NUM_REGIONS);
	ck_assert_uint_eq(di.num_irqs, VFIO_PCI_NUM_IRQS);
	for (uint32_t i = VFIO_PCI_BAR0_REGION_INDEX; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
		uint32_t rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

		ri.index = i;
		ck_assert_int_eq(pinsim_ioctl(proc, dev0.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
		ck_assert_uint_eq(ri.offset, (uint64_t)i << 40);
		ck_assert_uint_eq(ri.size, dev0.bar_size[i]);
		if (dev0.bar_size[i])
			ck_assert_uint_eq(ri.flags, rw | VFIO_REGION_INFO_FLAG_MMAP);
		else
			ck_assert_uint_eq(ri.flags, 0);
	}
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	ck_assert_uint_gt(ri.size, PCI_COMMAND + 1);
	/* No VGA on this device; past the fixed regions there is nothing. */
	ri.index = VFIO_PCI_VGA_REGION_INDEX;
	ret = vh_rc(pinsim_ioctl(proc, dev0.dev, VFIO_DEVICE_GET_REGION_INFO, &ri));
	ck_assert_int_eq(ret, -EINVAL);
	ri.index = VFIO_PCI_NUM_REGIONS + 3;
	ret = vh_rc(pinsim_ioctl(proc, dev0.dev, VFIO_DEVICE_GET_REGION_INFO, &ri));
	ck_assert_int_eq(ret, -EINVAL);
	ri.argsz = 8;
	ri.index = 0;
	ret = vh_rc(pinsim_ioctl(proc, dev0.dev, VFIO_DEVICE_GET_REGION_INFO, &ri));
	ck_assert_int_eq(ret, -EINVAL);
	vh_assert_clean();
}
END_TEST

START_TEST(test_pud_mapped_bar_yields_each_1g_leaf_in_one_vaddr_get_pfns)
{
	uint64_t bar = vh_bar_mmap(&dev0, 0, 0, 2 * GiB, RW, 0);
	struct pinsim_stats before, after;
	struct pinsim_vfio_stats st;
	uint64_t phys;

	ck_assert_uint_eq(bar & (GiB - 1), 0);
	before = vh_sim_stats();
	vh_map_ok(c, bar, IOVA_1G, 2 * GiB);
	after = vh_sim_stats();
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.vaddr_get_pfns, bar_lookups(2 * GiB, GiB)); /* 262144 pfns each */
	ck_assert_uint_eq(st.last.faults, 2);
	ck_assert_uint_eq(st.last.iommu_maps, 1);	/* one contiguous MMIO run */
	ck_assert_uint_eq(st.last.pfnmap_pages, 2 * 262144);
	ck_assert_uint_eq(st.last.pinned_pages, 0);
	ck_assert_uint_eq(after.iommu_leaves_1g - before.iommu_leaves_1g, 2);
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_PUD);
	ck_assert_int_eq(vh_page(bar + GiB).level, PINSIM_LEVEL_PUD);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G + GiB + 12345 * PG, &phys), GiB);
	ck_assert_uint_eq(phys >> 12, vh_page(bar + GiB + 12345 * PG).pfn);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_unmap_ok(c, IOVA_1G, 2 * GiB);
	vh_assert_no_iommu(&dev0, IOVA_1G, 4 * MiB);
	vh_assert_clean();
}
END_TEST

/* The profile had 0fd06844de5d: per_page_pfnmap_setup() reverted it. */
static bool addr_mask_batching_reverted;

static void per_page_pfnmap_setup(void)
{
	vh_defaults(&vh_cfg);
	addr_mask_batching_reverted = vh_cfg.vfio_addr_mask_batching;
	vh_cfg.vfio_addr_mask_batching = false;
	vh_setup_with(&vh_cfg);
	c = vh_container(VFIO_TYPE1v2_IOMMU);
}

START_TEST(test_before_addr_mask_batching_each_bar_pfn_is_its_own_lookup)
{
	struct pinsim_vfio_stats st;
	uint64_t bar;

	/* A tree without 0fd06844de5d (every 6.12) is the case as it is. */
	if (addr_mask_batching_reverted)
		VH_SKIP_ON_TREE("vfio_addr_mask_batching=false reverts 0fd06844de5d in the "
				"rewrite; the tree's vfio_iommu_type1.c has it (revert it in the "
				"tree instead)");
	bar = vh_bar_mmap(&dev0, 0, 0, 2 * GiB, RW, 0);

	/* Kernels before 0fd06844de5d (v6.15): one vaddr_get_pfns per page. */
	vh_map_ok(c, bar, IOVA_1G, 64 * MiB);
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.vaddr_get_pfns, 64 * MiB / PG);
	ck_assert_uint_eq(st.last.faults, 1);		/* the PUD leaf is faulted once */
	ck_assert_uint_eq(st.last.iommu_maps, 1);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G, NULL), 2 * MiB);
	vh_assert_clean();
}
END_TEST

START_TEST(test_unfaulted_bar_faults_in_at_the_largest_aligned_order)
{
	uint64_t b0 = vh_bar_mmap(&dev0, 0, 0, GiB, RW, 0);
	uint64_t b2 = vh_bar_mmap(&dev0, 2, 0, 2 * MiB, RW, 0);
	uint64_t b4 = vh_bar_mmap(&dev0, 4, 0, 64 * KiB, RW, 0);
	struct pinsim_vfio_stats st;

	vh_map_ok(c, b0, IOVA_1G, GiB);
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.follow_failures, 1);
	ck_assert_uint_eq(st.last.faults, 1);
	ck_assert_int_eq(vh_page(b0).level, PINSIM_LEVEL_PUD);

	vh_map_ok(c, b2, 2 * IOVA_1G, 2 * MiB);
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.follow_failures, 1);
	ck_assert_uint_eq(st.last.faults, 1);
	ck_assert_uint_eq(st.last.vaddr_get_pfns, bar_lookups(2 * MiB, 2 * MiB));
	ck_assert_int_eq(vh_page(b2).level, PINSIM_LEVEL_PMD);

	vh_map_ok(c, b4, IOVA_A, 64 * KiB);
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.follow_failures, 16);
	ck_assert_uint_eq(st.last.faults, 16);
	ck_assert_uint_eq(st.last.vaddr_get_pfns, 16);
	ck_assert_uint_eq(st.last.iommu_maps, 1);
	ck_assert_int_eq(vh_page(b4 + 15 * PG).level, PINSIM_LEVEL_PTE);
	ck_assert_uint_eq(st.total.eagain_loops, 0);

	/* Present now: a second dma of the same BAR follows without faulting. */
	vh_map_ok(c, b4, IOVA_A + 64 * KiB, 64 * KiB);
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.follow_failures, 0);
	ck_assert_uint_eq(st.last.faults, 0);
	vh_map_ok(c, b0, 3 * IOVA_1G, GiB);
	ck_assert_uint_eq(vh_stats(c).last.faults, 0);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_munmap_of_one_page_zaps_whole_pud_leaf_and_map_refaults_at_pmd)
{
	uint64_t bar = vh_bar_mmap(&dev0, 0, 0, GiB, RW, 0);
	unsigned char b;
	struct pinsim_vfio_stats st;

	ck_assert_int_eq(pinsim_access(proc, bar + 512 * MiB, &b, 1, 0), 1);
	ck_assert_int_eq(vh_page(bar + 512 * MiB).level, PINSIM_LEVEL_PUD);
	ck_assert_int_eq(pinsim_munmap(proc, bar, PG), 0);
	ck_assert_int_eq(vh_page(bar + 512 * MiB).level, PINSIM_LEVEL_NONE);

	/* What is left can no longer take a PUD leaf: 511 PMD leaves, one run. */
	vh_map_ok(c, bar + 2 * MiB, IOVA_1G + 2 * MiB, GiB - 2 * MiB);
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.vaddr_get_pfns, bar_lookups(GiB - 2 * MiB, 2 * MiB));
	ck_assert_uint_eq(st.last.faults, 511);
	ck_assert_uint_eq(st.last.iommu_maps, 1);
	ck_assert_int_eq(vh_page(bar + 512 * MiB).level, PINSIM_LEVEL_PMD);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G + 512 * MiB, NULL), 2 * MiB);
	vh_assert_clean();
}
END_TEST

/* ---------------- VADDR (items 27-29) ---------------- */

START_TEST(test_unmap_vaddr_invalidates_but_keeps_iommu_mapping_and_pins)
{
	uint64_t a = anon(4), b = anon(4);
	uint64_t unmapped = 0;
	struct vh_state s;
	unsigned char buf[64];

	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_CHECK_EXTENSION, (void *)VFIO_UPDATE_VADDR), 1);
	vh_map_ok(c, a, IOVA_A, 4 * PG);
	vh_map_ok(c, b, IOVA_A + 8 * PG, 4 * PG);	/* a gap between them */
	s = vh_snap(c);
	ck_assert_int_eq(unmap_vaddr(IOVA_A, 12 * PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 8 * PG);
	vh_assert_state(c, &s);
	vh_assert_pinned(a, 4 * PG, 1);
	vh_assert_pinned(b, 4 * PG, 1);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A + 3 * PG, NULL), PG);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A + 8 * PG, buf, sizeof(buf), 0),
			 sizeof(buf));
	/* The iova range stays taken while the vaddr is invalid. */
	ck_assert_int_eq(vh_map(c, anon(1), IOVA_A, PG), -EEXIST);
	/* A normal UNMAP still removes an invalidated dma. */
	vh_unmap_ok(c, IOVA_A, 4 * PG);
	vh_assert_unpinned(a, 4 * PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_unmap_vaddr_over_an_already_invalid_dma_is_einval_and_rolls_back)
{
	uint64_t a = anon(2), b = anon(2), d = anon(2);
	uint64_t unmapped = 0;
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 2 * PG);
	vh_map_ok(c, b, IOVA_A + 4 * PG, 2 * PG);
	vh_map_ok(c, d, IOVA_A + 8 * PG, 2 * PG);
	ck_assert_int_eq(unmap_vaddr(IOVA_A + 4 * PG, 2 * PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 2 * PG);
	/* a gets invalidated first, then b is found invalid: all undone. */
	s = vh_snap(c);
	ck_assert_int_eq(unmap_vaddr(IOVA_A, 10 * PG, &unmapped), -EINVAL);
	ck_assert_uint_eq(unmapped, 10 * PG);	/* size not written back on error */
	vh_assert_state(c, &s);
	/* a was rolled back (valid again): invalidating it alone works. */
	ck_assert_int_eq(vh_map_flags(c, anon(2), IOVA_A, 2 * PG, VFIO_DMA_MAP_FLAG_VADDR),
			 -EINVAL);
	ck_assert_int_eq(unmap_vaddr(IOVA_A, 2 * PG, &unmapped), 0);
	/* d was never reached and is valid; b is still invalid. */
	ck_assert_int_eq(unmap_vaddr(IOVA_A + 8 * PG, 2 * PG, &unmapped), 0);
	ck_assert_int_eq(vh_map_flags(c, b, IOVA_A + 4 * PG, 2 * PG, VFIO_DMA_MAP_FLAG_VADDR), 0);
	vh_assert_pinned(a, 2 * PG, 1);
	vh_assert_pinned(b, 2 * PG, 1);
	vh_assert_pinned(d, 2 * PG, 1);
	ck_assert_uint_eq(vh_locked_vm(), 6);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_vaddr_needs_an_invalidated_dma_of_same_iova_and_size)
{
	uint64_t a = anon(4), n = anon(4), unmapped = 0;
	uint32_t vaddr = VFIO_DMA_MAP_FLAG_VADDR;
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	s = vh_snap(c);
	ck_assert_int_eq(vh_map_flags(c, n, IOVA_A + 16 * PG, 4 * PG, vaddr), -ENOENT);
	ck_assert_int_eq(vh_map_flags(c, n, IOVA_A, 4 * PG, vaddr), -EINVAL);	/* valid */
	ck_assert_int_eq(unmap_vaddr(IOVA_A, 4 * PG, &unmapped), 0);
	ck_assert_int_eq(vh_map_flags(c, n, IOVA_A, 2 * PG, vaddr), -EINVAL);	/* size */
	ck_assert_int_eq(vh_map_flags(c, n, IOVA_A + PG, 2 * PG, vaddr), -EINVAL); /* iova */
	ck_assert_int_eq(vh_map_flags(c, n, IOVA_A - PG, 8 * PG, vaddr), -EINVAL);
	vh_assert_state(c, &s);
	ck_assert_int_eq(vh_map_flags(c, n, IOVA_A, 4 * PG, vaddr), 0);
	/* Nothing re-pinned: the old pages keep their pins, the new ones get none. */
	vh_assert_state(c, &s);
	vh_assert_pinned(a, 4 * PG, 1);
	vh_assert_unpinned(n, 4 * PG);
	ck_assert_uint_eq(vh_stats(c).last.vaddr_get_pfns, 0);
	/* Valid again: a second update is refused. */
	ck_assert_int_eq(vh_map_flags(c, a, IOVA_A, 4 * PG, vaddr), -EINVAL);
	vh_unmap_ok(c, IOVA_A, 4 * PG);
	vh_assert_unpinned(a, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_clean();
}
END_TEST

/* ---------------- UNMAP_DMA (items 31-40) ---------------- */

START_TEST(test_unmap_bad_argsz_flags_or_dirty_bitmap_combinations_are_einval)
{
	uint64_t a = anon(16);
	struct {
		struct vfio_iommu_type1_dma_unmap u;
		struct vfio_bitmap bm;
	} req;
	__u64 bits[1];
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 16 * PG);
	s = vh_snap(c);
	memset(&req, 0, sizeof(req));
	req.u = (struct vfio_iommu_type1_dma_unmap){ .argsz = 23, .iova = IOVA_A, .size = 16 * PG };
	ck_assert_int_eq(vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_UNMAP_DMA, &req)), -EINVAL);
	req.u.argsz = sizeof(req.u);
	req.u.flags = 1u << 3;
	ck_assert_int_eq(vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_UNMAP_DMA, &req)), -EINVAL);
	req.u.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL;
	ck_assert_int_eq(vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_UNMAP_DMA, &req)), -EINVAL);
	req.u.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR;
	ck_assert_int_eq(vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_UNMAP_DMA, &req)), -EINVAL);
	/* A well-formed bitmap request: dirty tracking is off, so -EINVAL. */
	req.u.argsz = sizeof(req);
	req.u.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	req.bm = (struct vfio_bitmap){ .pgsize = PG, .size = sizeof(bits), .data = bits };
	ck_assert_int_eq(vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_UNMAP_DMA, &req)), -EINVAL);
	ck_assert_uint_eq(req.u.size, 16 * PG);
	req.u.argsz = sizeof(req.u);	/* no room for the bitmap header */
	ck_assert_int_eq(vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_UNMAP_DMA, &req)), -EINVAL);
	vh_assert_state(c, &s);
	vh_assert_pinned(a, 16 * PG, 1);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A, NULL), PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_unmap_all_needs_zero_iova_and_size_and_removes_everything)
{
	uint64_t a = anon(4), b = anon(8), unmapped = 0;
	uint64_t h = vh_mmap(2 * MiB, RW, HUGE_2M);
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	vh_map_ok(c, b, IOVA_A + 16 * PG, 8 * PG);
	vh_map_ok(c, h, IOVA_LAST + 1 - 2 * MiB, 2 * MiB);
	s = vh_snap(c);
	ck_assert_int_eq(vh_unmap_flags(c, IOVA_A, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped), -EINVAL);
	ck_assert_int_eq(vh_unmap_flags(c, 0, PG, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped), -EINVAL);
	vh_assert_state(c, &s);
	ck_assert_int_eq(vh_unmap_flags(c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 12 * PG + 2 * MiB);
	ck_assert_uint_eq(vh_stats(c).nr_dmas, 0);
	ck_assert_uint_eq(vh_dma_avail(c), 65535);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_unpinned(a, 4 * PG);
	vh_assert_unpinned(b, 8 * PG);
	vh_assert_unpinned(h, 2 * MiB);
	vh_assert_no_iommu(&dev0, IOVA_A, 24 * PG);
	vh_assert_no_iommu(&dev0, IOVA_LAST + 1 - 2 * MiB, 2 * MiB);
	/* Nothing left: ALL again succeeds with size 0. */
	ck_assert_int_eq(vh_unmap_flags(c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_unmap_zero_or_unaligned_size_or_iova_is_einval_wrap_is_eoverflow)
{
	uint64_t a = anon(4), unmapped;
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	s = vh_snap(c);
	ck_assert_int_eq(vh_unmap(c, IOVA_A, 0, &unmapped), -EINVAL);
	ck_assert_int_eq(vh_unmap(c, IOVA_A + 0x800, 4 * PG, &unmapped), -EINVAL);
	ck_assert_int_eq(vh_unmap(c, IOVA_A, 4 * PG + 0x800, &unmapped), -EINVAL);
	ck_assert_int_eq(vh_unmap(c, 0xfffffffffffff000ULL, 0x2000, &unmapped), wrap_err());
	ck_assert_uint_eq(unmapped, 0x2000);	/* not written back */
	vh_assert_state(c, &s);
	vh_assert_pinned(a, 4 * PG, 1);
	vh_assert_clean();
}
END_TEST

START_TEST(test_v2_unmap_bisecting_a_mapping_is_einval_and_unmaps_nothing)
{
	uint64_t a = anon(8), b = anon(8), unmapped = 0;
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 8 * PG);
	vh_map_ok(c, b, IOVA_A + 8 * PG, 8 * PG);
	s = vh_snap(c);
	ck_assert_int_eq(vh_unmap(c, IOVA_A + PG, 7 * PG, &unmapped), -EINVAL);	/* start */
	ck_assert_uint_eq(unmapped, 7 * PG);
	ck_assert_int_eq(vh_unmap(c, IOVA_A, 4 * PG, &unmapped), -EINVAL);	/* end */
	ck_assert_int_eq(vh_unmap(c, IOVA_A, 12 * PG, &unmapped), -EINVAL);	/* end in b */
	ck_assert_int_eq(vh_unmap(c, IOVA_A + 4 * PG, 12 * PG, &unmapped), -EINVAL);
	vh_assert_state(c, &s);
	vh_assert_pinned(a, 8 * PG, 1);
	vh_assert_pinned(b, 8 * PG, 1);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A, NULL), PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_v2_unmap_of_empty_range_is_success_with_size_zero)
{
	uint64_t a = anon(4), unmapped = 1;
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	s = vh_snap(c);
	ck_assert_int_eq(vh_unmap(c, IOVA_A + 4 * PG, 64 * PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 0);
	ck_assert_int_eq(vh_unmap(c, 0, IOVA_A, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 0);
	vh_assert_state(c, &s);
	vh_assert_clean();
}
END_TEST

START_TEST(test_v2_unmap_covering_several_mappings_with_gaps_removes_all)
{
	uint64_t a = anon(4), b = anon(4), d = anon(2), e = anon(1), unmapped = 0;
	uint32_t avail = vh_dma_avail(c);

	vh_map_ok(c, a, IOVA_A + 2 * PG, 4 * PG);
	vh_map_ok(c, b, IOVA_A + 8 * PG, 4 * PG);
	vh_map_ok(c, d, IOVA_A + 12 * PG, 2 * PG);	/* adjacent to b */
	vh_map_ok(c, e, IOVA_A + 32 * PG, PG);		/* outside the request */
	ck_assert_int_eq(vh_unmap(c, IOVA_A, 20 * PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 10 * PG);
	ck_assert_uint_eq(vh_dma_avail(c), avail - 1);
	ck_assert_uint_eq(vh_locked_vm(), 1);
	vh_assert_unpinned(a, 4 * PG);
	vh_assert_unpinned(b, 4 * PG);
	vh_assert_unpinned(d, 2 * PG);
	vh_assert_pinned(e, PG, 1);
	vh_assert_no_iommu(&dev0, IOVA_A, 20 * PG);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A + 32 * PG, NULL), PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_v1_unmap_starting_inside_a_mapping_is_success_with_size_zero)
{
	uint64_t a = anon(8), b = anon(4), unmapped = 1;
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 8 * PG);
	vh_map_ok(c, b, IOVA_A + 16 * PG, 4 * PG);
	s = vh_snap(c);
	ck_assert_int_eq(vh_unmap(c, IOVA_A + PG, 4 * PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 0);
	/* v1 stops at the first mapping it starts inside: b survives too. */
	ck_assert_int_eq(vh_unmap(c, IOVA_A + 4 * PG, 32 * PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 0);
	vh_assert_state(c, &s);
	vh_assert_pinned(a, 8 * PG, 1);
	vh_assert_pinned(b, 4 * PG, 1);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A + 16 * PG, NULL), PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_v1_unmap_from_a_mapping_start_removes_the_whole_mapping)
{
	uint64_t a = anon(8), b = anon(4), d = anon(4), unmapped = 0;

	vh_map_ok(c, a, IOVA_A, 8 * PG);
	vh_map_ok(c, b, IOVA_A + 16 * PG, 4 * PG);
	vh_map_ok(c, d, IOVA_A + 32 * PG, 4 * PG);
	ck_assert_int_eq(vh_unmap(c, IOVA_A, PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 8 * PG);		/* more than asked */
	vh_assert_unpinned(a, 8 * PG);
	vh_assert_no_iommu(&dev0, IOVA_A, 8 * PG);
	/* Starting before b and ending inside it also takes b whole (no bisect check). */
	ck_assert_int_eq(vh_unmap(c, IOVA_A + 12 * PG, 6 * PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 4 * PG);
	vh_assert_unpinned(b, 4 * PG);
	vh_assert_pinned(d, 4 * PG, 1);
	ck_assert_uint_eq(vh_locked_vm(), 4);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_and_unmap_of_last_iova_page_then_release_unpins)
{
	uint64_t a = anon(1), unmapped = 0;
	uint64_t last = IOVA_LAST & ~(PG - 1);
	struct pinsim_page_info pi = vh_page(a);

	vh_map_ok(c, a, last, PG);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, last, NULL), PG);
	ck_assert_int_eq(vh_unmap(c, last, PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, PG);
	ck_assert_int_eq(vh_page(a).refcount, pi.refcount);
	vh_assert_no_iommu(&dev0, last, PG);

	/* Left mapped at container release: still unpinned (ef270ec44637). */
	vh_map_ok(c, a, last, PG);
	ck_assert_uint_eq(vh_locked_vm(), 1);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	ck_assert_int_eq(vh_page(a).refcount, pi.refcount);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_clean();
}
END_TEST

/* ---------------- GET_INFO (items 41-44) ---------------- */

START_TEST(test_get_info_argsz_below_16_is_einval)
{
	struct vfio_iommu_type1_info info;

	memset(&info, 0xa5, sizeof(info));
	ck_assert_int_eq(vh_get_info(c, &info, 15), -EINVAL);
	ck_assert_uint_eq(info.flags, 0xa5a5a5a5);
	vh_assert_clean();
}
END_TEST

START_TEST(test_get_info_argsz_16_writes_only_16_bytes_and_the_needed_argsz)
{
	unsigned char buf[64];
	struct vfio_iommu_type1_info *info = (void *)buf;

	memset(buf, 0xa5, sizeof(buf));
	ck_assert_int_eq(vh_get_info(c, buf, 16), 0);
	/* copy_to_user(arg, &info, min(argsz, sizeof(info))): cap_offset untouched. */
	for (int i = 16; i < 64; i++)
		ck_assert_msg(buf[i] == 0xa5, "byte %d written with argsz 16", i);
	ck_assert_uint_eq(info->flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
	ck_assert_uint_eq(info->iova_pgsizes, PG | 2 * MiB | GiB);
	ck_assert_uint_eq(info->argsz, INFO_FULL_ARGSZ);
	vh_assert_clean();
}
END_TEST

START_TEST(test_get_info_pgsizes_is_the_domain_bitmap)
{
	struct vfio_iommu_type1_info info = { 0 };

	ck_assert_int_eq(vh_get_info(c, &info, sizeof(info)), 0);
	ck_assert_uint_eq(info.iova_pgsizes, PG | 2 * MiB | GiB);
	/* A second domain with the same bitmap leaves the AND unchanged. */
	vh_attach(&dev1, c);
	ck_assert_int_eq(vh_get_info(c, &info, sizeof(info)), 0);
	ck_assert_uint_eq(info.iova_pgsizes, PG | 2 * MiB | GiB);
	vh_assert_clean();
}
END_TEST

static void pgsize_4k_setup(void)
{
	vh_defaults(&vh_cfg);
	vh_cfg.iommu_pgsize_bitmap = PG;
	vh_setup_with(&vh_cfg);
	c = vh_container(VFIO_TYPE1v2_IOMMU);
}

START_TEST(test_get_info_pgsizes_4k_only_domain_and_hugetlb_maps_4k_leaves)
{
	struct vfio_iommu_type1_info info = { 0 };
	uint64_t h = vh_mmap(2 * MiB, RW, HUGE_2M);

	ck_assert_int_eq(vh_get_info(c, &info, sizeof(info)), 0);
	ck_assert_uint_eq(info.iova_pgsizes, PG);
	vh_map_ok(c, h, IOVA_1G, 2 * MiB);
	ck_assert_uint_eq(vh_stats(c).last.iommu_maps, 1);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G + MiB, NULL), PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_get_info_argsz_24_reports_caps_size_without_copying_them)
{
	unsigned char buf[256];
	struct vfio_iommu_type1_info *info = (void *)buf;

	memset(buf, 0xa5, sizeof(buf));
	ck_assert_int_eq(vh_get_info(c, buf, 24), 0);
	ck_assert(info->flags & VFIO_IOMMU_INFO_CAPS);
	ck_assert_uint_eq(info->argsz, INFO_FULL_ARGSZ);
	ck_assert_uint_eq(info->cap_offset, 0);
	for (int i = 24; i < (int)sizeof(buf); i++)
		ck_assert_msg(buf[i] == 0xa5, "byte %d written with argsz 24", i);
	/* One byte short of the chain: the same answer. */
	memset(buf, 0xa5, sizeof(buf));
	ck_assert_int_eq(vh_get_info(c, buf, INFO_FULL_ARGSZ - 1), 0);
	ck_assert_uint_eq(info->argsz, INFO_FULL_ARGSZ);
	ck_assert_uint_eq(info->cap_offset, 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_get_info_cap_chain_is_migration_dma_avail_iova_range_aligned)
{
	uint64_t words[512 / 8];
	unsigned char *buf = (void *)words;
	struct vfio_iommu_type1_info *info = (void *)buf;
	struct vfio_iommu_type1_info_cap_migration *mig;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *range;

	vh_map_ok(c, anon(1), IOVA_A, PG);
	memset(buf, 0xa5, sizeof(words));
	ck_assert_int_eq(vh_get_info(c, buf, sizeof(words)), 0);
	ck_assert_uint_eq(info->argsz, sizeof(words));	/* big enough: left alone */
	ck_assert_uint_eq(info->flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
	ck_assert_uint_eq(info->cap_offset, 24);
	/* info is zero-initialized (a881b496941f): the pad after cap_offset is 0. */
	for (int i = 20; i < 24; i++)
		ck_assert_msg(buf[i] == 0, "info pad byte %d = %#x", i, buf[i]);

	/*
	 * vfio_info_cap_add() pads every cap to 8 bytes (a881b496941f, v6.6):
	 * MIGRATION (32) at 24, DMA_AVAIL (12 -> 16) at 56, IOVA_RANGE at 72.
	 */
	mig = (void *)(buf + 24);
	ck_assert_uint_eq(mig->header.id, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
	ck_assert_uint_eq(mig->header.version, 1);
	ck_assert_uint_eq(mig->flags, 0);
	ck_assert_uint_eq(mig->pgsize_bitmap, PG);
	ck_assert_uint_eq(mig->max_dirty_bitmap_size, 1ULL << 28);
	ck_assert_uint_eq(mig->header.next, 56);

	avail = (void *)(buf + 56);
	ck_assert_uint_eq(avail->header.id, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ck_assert_uint_eq(avail->header.version, 1);
	ck_assert_uint_eq(avail->avail, 65534);
	ck_assert_uint_eq(avail->header.next, 72);

	range = (void *)(buf + 72);
	ck_assert_uint_eq(range->header.id, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	ck_assert_uint_eq(range->header.version, 1);
	ck_assert_uint_eq(range->header.next, 0);
	ck_assert_uint_eq(range->nr_iovas, 2);
	ck_assert_uint_eq(range->iova_ranges[0].start, 0);
	ck_assert_uint_eq(range->iova_ranges[0].end, IOVA_HOLE_START - 1);
	ck_assert_uint_eq(range->iova_ranges[1].start, IOVA_HOLE_END + 1);
	ck_assert_uint_eq(range->iova_ranges[1].end, IOVA_LAST);
	ck_assert_uint_le(72 + sizeof(*range) + 2 * sizeof(range->iova_ranges[0]),
			  INFO_FULL_ARGSZ);

	/* Exactly the needed size also gets the chain. */
	memset(buf, 0xa5, sizeof(words));
	ck_assert_int_eq(vh_get_info(c, buf, INFO_FULL_ARGSZ), 0);
	ck_assert_uint_eq(info->cap_offset, 24);
	ck_assert_ptr_nonnull(vh_info_cap(buf, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE));
	vh_assert_clean();
}
END_TEST

/* ---------------- the container and its fds ---------------- */

static int set_iommu(int k, unsigned long type)
{
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, k, VFIO_SET_IOMMU, (void *)type));
}

static int check_extension(int k, unsigned long ext)
{
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, k, VFIO_CHECK_EXTENSION, (void *)ext));
}

START_TEST(test_container_ioctls_before_set_iommu_are_einval)
{
	int k = vh_open_container();
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	uint64_t a = anon(1);
	int ret;

	/* vfio_fops_unl_ioctl(): no driver, ret stays -EINVAL. */
	ret = vh_map(k, a, IOVA_A, PG);
	ck_assert_int_eq(ret, -EINVAL);
	ret = vh_rc(pinsim_ioctl(proc, k, VFIO_IOMMU_GET_INFO, &info));
	ck_assert_int_eq(ret, -EINVAL);
	ret = vh_unmap(k, IOVA_A, PG, NULL);
	ck_assert_int_eq(ret, -EINVAL);
	/* Extensions are answered by polling the drivers. */
	ck_assert_int_eq(check_extension(k, VFIO_TYPE1v2_IOMMU), 1);
	ck_assert_int_eq(check_extension(k, VFIO_UPDATE_VADDR), 0);
	vh_assert_unpinned(a, PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_set_iommu_without_group_or_twice_is_einval)
{
	int k = vh_open_container();
	int ret;

	ret = set_iommu(k, VFIO_TYPE1v2_IOMMU);
	ck_assert_int_eq(ret, -EINVAL);
	vh_group_set_container(&dev0, k);
	ret = set_iommu(k, VFIO_TYPE1v2_IOMMU);
	ck_assert_int_eq(ret, 0);
	/* vfio_ioctl_set_iommu(): a driver is already set -> -EINVAL. */
	ret = set_iommu(k, VFIO_TYPE1v2_IOMMU);
	ck_assert_int_eq(ret, -EINVAL);
	ret = set_iommu(k, VFIO_TYPE1_IOMMU);
	ck_assert_int_eq(ret, -EINVAL);
	vh_assert_clean();
}
END_TEST

START_TEST(test_set_iommu_of_a_type_no_driver_offers_is_enodev)
{
	int k = vh_open_container();
	int ret;

	vh_group_set_container(&dev0, k);
	ret = check_extension(k, VFIO_SPAPR_TCE_IOMMU);
	ck_assert_int_eq(ret, 0);
	/* vfio_ioctl_set_iommu(): no driver claims the type, ret stays -ENODEV. */
	ret = set_iommu(k, VFIO_SPAPR_TCE_IOMMU);
	ck_assert_int_eq(ret, -ENODEV);
	ret = set_iommu(k, 0x1234);
	ck_assert_int_eq(ret, -ENODEV);
	/* And the container can still be set up. */
	ret = set_iommu(k, VFIO_TYPE1v2_IOMMU);
	ck_assert_int_eq(ret, 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_type1_extensions_dirty_pages_and_unknown_ioctls_enotty)
{
	struct vfio_iommu_type1_dirty_bitmap dirty = {
		.argsz = sizeof(dirty), .flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
	};
	int ret;

	ck_assert_int_eq(check_extension(c, VFIO_TYPE1_IOMMU), 1);
	ck_assert_int_eq(check_extension(c, VFIO_TYPE1v2_IOMMU), 1);
	ck_assert_int_eq(check_extension(c, VFIO_UNMAP_ALL), 1);
	ck_assert_int_eq(check_extension(c, VFIO_UPDATE_VADDR), 1);
	ck_assert_int_eq(check_extension(c, VFIO_DMA_CC_IOMMU), 1);
	ck_assert_int_eq(check_extension(c, VFIO_SPAPR_TCE_IOMMU), 0);
	/* vfio_iommu_type1_dirty_pages(): START then STOP on a v2 container. */
	ret = vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_DIRTY_PAGES, &dirty));
	ck_assert_int_eq(ret, 0);
	dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
	ret = vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_DIRTY_PAGES, &dirty));
	ck_assert_int_eq(ret, 0);
	ret = vh_rc(pinsim_ioctl(proc, c, _IO(VFIO_TYPE, VFIO_BASE + 99), NULL));
	ck_assert_int_eq(ret, -ENOTTY);
	vh_assert_clean();
}
END_TEST

START_TEST(test_group_device_fd_needs_a_backend_and_a_known_name)
{
	int k = vh_open_container();
	int g2;
	char path[64];

	vh_group_set_container(&dev0, k);
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.group, VFIO_GROUP_GET_DEVICE_FD,
				      (void *)dev0.name), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_ioctl(proc, k, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), 0);
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.group, VFIO_GROUP_GET_DEVICE_FD,
				      (void *)dev1.name), -1);
	ck_assert_int_eq(errno, ENODEV);
	vh_get_device(&dev0);
	/* One open file per group. */
	snprintf(path, sizeof(path), "/dev/vfio/%d", dev0.group_id);
	errno = 0;
	g2 = pinsim_open(proc, path, O_RDWR);
	ck_assert_int_eq(g2, -1);
	ck_assert_int_eq(errno, EBUSY);
	/* The device fd keeps the group in its container. */
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_container_fd_close_keeps_mappings_while_a_group_holds_it)
{
	uint64_t a = anon(4);
	unsigned char buf[16];

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	vh_assert_pinned(a, 4 * PG, 1);
	ck_assert_uint_eq(vh_locked_vm(), 4);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A, buf, sizeof(buf), 0),
			 sizeof(buf));
	/* The last group leaving releases the backend: everything unpinned. */
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	vh_assert_unpinned(a, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_last_group_leaving_releases_every_mapping_and_pin)
{
	uint64_t a = anon(16);
	uint64_t t = vh_mmap(4 * MiB, RW, ANON);
	uint64_t g = vh_mmap(GiB, RW, HUGE_1G);
	uint64_t bar = vh_bar_mmap(&dev0, 0, 0, GiB, RW, 0);
	struct pinsim_stats before, after;
	unsigned char buf[16];

	ck_assert_int_eq(pinsim_madvise(proc, t, 4 * MiB, MADV_HUGEPAGE), 0);
	vh_touch(t, 4 * MiB, 2 * MiB);
	vh_map_ok(c, a, IOVA_A, 16 * PG);
	vh_map_ok(c, t, IOVA_1G, 4 * MiB);
	vh_map_ok(c, g, 2 * IOVA_1G, GiB);
	vh_map_ok(c, bar, 3 * IOVA_1G, GiB);
	vh_map_ok(c, a, IOVA_LAST + 1 - PG, PG);
	ck_assert_uint_eq(vh_locked_vm(), 16 + 1024 + 262144 + 1);
	before = vh_sim_stats();
	/* The container fd stays open: the group leaving is what releases. */
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	/*
	 * The BAR's VMA still holds the device file (mmap_region() get_file()):
	 * the device is open and a container user until the munmap.
	 */
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_uint_eq(vh_locked_vm(), 16 + 1024 + 262144 + 1);
	ck_assert_int_eq(pinsim_munmap(proc, bar, GiB), 0);
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	after = vh_sim_stats();
	ck_assert_uint_gt(after.iommu_unmap_calls, before.iommu_unmap_calls);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_unpinned(a, 16 * PG);
	vh_assert_unpinned(t, 4 * MiB);
	vh_assert_unpinned(g, GiB);
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A, buf, sizeof(buf), 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	/* Deprivileged: the container must be set up again, and starts empty. */
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.group, VFIO_GROUP_SET_CONTAINER, &c), 0);
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), 0);
	ck_assert_uint_eq(vh_dma_avail(c), 65535);
	ck_assert_uint_eq(vh_stats(c).nr_dmas, 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_process_exit_closes_its_fds_and_frees_pinned_hugetlb)
{
	uint64_t g = vh_mmap(GiB, RW, HUGE_1G);
	uint64_t a = anon(8);
	struct pinsim_stats st;
	unsigned char buf[16];

	vh_map_ok(c, g, IOVA_1G, GiB);
	vh_map_ok(c, a, IOVA_A, 8 * PG);
	st = vh_sim_stats();
	ck_assert_uint_eq(st.hugetlb_1g_free, st.hugetlb_1g_total - 1);
	/* Exit with the container, group and device fds open and mapped. */
	pinsim_proc_destroy(proc);
	proc = NULL;
	st = vh_sim_stats();
	ck_assert_uint_eq(st.hugetlb_1g_free, st.hugetlb_1g_total);	/* unpinned, freed */
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A, buf, sizeof(buf), 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	vh_assert_clean();
}
END_TEST

START_TEST(test_second_domain_attach_replays_mappings_without_repinning)
{
	uint64_t a = anon_scattered(8);
	uint64_t h = vh_mmap(2 * MiB, RW, HUGE_2M);
	uint64_t bar = vh_bar_mmap(&dev0, 0, 0, GiB, RW, 0);
	unsigned char out[3 * 4096], in[sizeof(out)];
	uint64_t p0, p1;

	vh_touch(h, 2 * MiB, 2 * MiB);
	vh_map_ok(c, a, IOVA_A, 8 * PG);
	vh_map_ok(c, h, IOVA_1G, 2 * MiB);
	vh_map_ok(c, bar, 2 * IOVA_1G, GiB);
	vh_pattern(out, sizeof(out), 3);
	ck_assert_int_eq(pinsim_access(proc, a + PG, out, sizeof(out), 1), sizeof(out));

	vh_attach(&dev1, c);		/* IOMMU unit 1: a new domain, replayed */
	ck_assert_uint_eq(vh_locked_vm(), 8 + 512);
	vh_assert_pinned(a, 8 * PG, 1);
	ck_assert_int_eq(vh_page(h).pincount, 512);
	for (int i = 0; i < 8; i++) {
		ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A + i * PG, &p0), PG);
		ck_assert_uint_eq(vh_iommu_leaf(&dev1, IOVA_A + i * PG, &p1), PG);
		ck_assert_uint_eq(p0, p1);
	}
	ck_assert_uint_eq(vh_iommu_leaf(&dev1, IOVA_1G + MiB, &p1), 2 * MiB);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, 2 * IOVA_1G + 5 * PG, &p0), GiB);
	ck_assert_uint_eq(vh_iommu_leaf(&dev1, 2 * IOVA_1G + 5 * PG, &p1), GiB);
	ck_assert_uint_eq(p0, p1);
	ck_assert_int_eq(pinsim_dma(sim, dev1.group_id, IOVA_A + PG, in, sizeof(in), 0),
			 sizeof(in));
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);

	/* New mappings reach both domains; UNMAP clears both. */
	vh_map_ok(c, a, IOVA_A + 64 * PG, PG);
	ck_assert_uint_eq(vh_iommu_leaf(&dev1, IOVA_A + 64 * PG, NULL), PG);
	vh_unmap_ok(c, IOVA_A, 8 * PG);
	vh_assert_no_iommu(&dev0, IOVA_A, 8 * PG);
	vh_assert_no_iommu(&dev1, IOVA_A, 8 * PG);
	ck_assert_uint_eq(vh_locked_vm(), 512 + 1);

	/* dev1 leaving does not disturb dev0's domain. */
	ck_assert_int_eq(pinsim_close(proc, dev1.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev1.group), 0);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G, NULL), 2 * MiB);
	ck_assert_int_eq(vh_page(h).pincount, 512);
	vh_assert_clean();
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("conformance");
	TCase *tc;

	tc = vh_tcase(s, "map_args", v2_setup);
	tcase_add_test(tc, test_map_argsz_below_32_is_einval);
	tcase_add_test(tc, test_map_unknown_flag_is_einval);
	tcase_add_test(tc, test_map_size_zero_is_einval_before_overflow_and_alignment);
	tcase_add_test(tc, test_map_iova_wrap_is_eoverflow_before_flag_and_alignment_checks);
	tcase_add_test(tc, test_map_vaddr_wrap_is_eoverflow);
	tcase_add_test(tc, test_map_without_read_write_or_vaddr_is_einval);
	tcase_add_test(tc, test_map_vaddr_combined_with_read_or_write_is_einval);
	tcase_add_test(tc, test_map_unaligned_iova_vaddr_or_size_is_einval);

	tc = vh_tcase(s, "map_space", v2_setup);
	tcase_add_test(tc, test_map_overlapping_range_is_eexist_adjacent_succeeds);
	tcase_add_test(tc, test_map_beyond_default_dma_entry_limit_65535_is_enospc);
	tcase_add_test(tc, test_map_outside_one_iova_range_is_einval);
	tcase_add_test(tc, test_successful_map_lowers_dma_avail_by_one_and_unmap_restores);
	tc = vh_tcase(s, "map_entry_limit", small_limit_setup);
	tcase_add_test(tc, test_map_enospc_comes_after_overlap_and_before_iova_range_check);

	tc = vh_tcase(s, "map_pinning", v2_setup);
	tcase_add_test(tc, test_map_range_with_unmapped_page_is_efault_all_or_nothing);
	tcase_add_test(tc, test_map_write_on_readonly_vma_is_efault_read_only_succeeds);
	tcase_add_test(tc, test_map_beyond_rlimit_memlock_is_enomem_with_rollback_of_earlier_runs);
	tcase_add_test(tc, test_locked_vm_grows_by_ram_pages_only_and_per_dma);
	tcase_add_test(tc, test_hugetlb_2m_buffer_is_one_iommu_map_with_a_2m_leaf);
	tcase_add_test(tc, test_huge_run_at_less_aligned_iova_splits_into_smaller_iommu_leaves);
	tcase_add_test(tc, test_scattered_4k_pages_get_one_iommu_map_per_contiguous_run);
	tcase_add_test(tc, test_run_breaks_at_ram_to_mmio_and_mmio_to_ram);
	tcase_add_test(tc, test_unmap_restores_pin_counts_locked_vm_dma_avail_4k_thp_1g);
	tc = vh_tcase(s, "disable_hugepages", nohuge_setup);
	tcase_add_test(tc, test_disable_hugepages_maps_every_page_as_its_own_run);

	tc = vh_tcase(s, "bar", v2_setup);
	tcase_add_test(tc, test_map_write_through_readonly_bar_mmap_is_efault);
	tcase_add_test(tc, test_map_bar_with_memory_decode_off_is_efault);
	tcase_add_test(tc, test_device_reset_zaps_the_cpu_mapping_but_not_the_iommu_mapping);
	tcase_add_test(tc, test_device_info_and_region_info_describe_the_bars);
	tcase_add_test(tc, test_pud_mapped_bar_yields_each_1g_leaf_in_one_vaddr_get_pfns);
	tcase_add_test(tc, test_unfaulted_bar_faults_in_at_the_largest_aligned_order);
	tcase_add_test(tc, test_munmap_of_one_page_zaps_whole_pud_leaf_and_map_refaults_at_pmd);
	tc = vh_tcase(s, "bar_pre_6_15", per_page_pfnmap_setup);
	tcase_add_test(tc, test_before_addr_mask_batching_each_bar_pfn_is_its_own_lookup);

	tc = vh_tcase(s, "vaddr", v2_setup);
	tcase_add_test(tc, test_unmap_vaddr_invalidates_but_keeps_iommu_mapping_and_pins);
	tcase_add_test(tc, test_unmap_vaddr_over_an_already_invalid_dma_is_einval_and_rolls_back);
	tcase_add_test(tc, test_map_vaddr_needs_an_invalidated_dma_of_same_iova_and_size);

	tc = vh_tcase(s, "unmap_v2", v2_setup);
	tcase_add_test(tc, test_unmap_bad_argsz_flags_or_dirty_bitmap_combinations_are_einval);
	tcase_add_test(tc, test_unmap_all_needs_zero_iova_and_size_and_removes_everything);
	tcase_add_test(tc, test_unmap_zero_or_unaligned_size_or_iova_is_einval_wrap_is_eoverflow);
	tcase_add_test(tc, test_v2_unmap_bisecting_a_mapping_is_einval_and_unmaps_nothing);
	tcase_add_test(tc, test_v2_unmap_of_empty_range_is_success_with_size_zero);
	tcase_add_test(tc, test_v2_unmap_covering_several_mappings_with_gaps_removes_all);
	tcase_add_test(tc, test_map_and_unmap_of_last_iova_page_then_release_unpins);
	tc = vh_tcase(s, "unmap_v1", v1_setup);
	tcase_add_test(tc, test_v1_unmap_starting_inside_a_mapping_is_success_with_size_zero);
	tcase_add_test(tc, test_v1_unmap_from_a_mapping_start_removes_the_whole_mapping);
	tcase_add_test(tc, test_unmap_all_needs_zero_iova_and_size_and_removes_everything);

	tc = vh_tcase(s, "get_info", v2_setup);
	tcase_add_test(tc, test_get_info_argsz_below_16_is_einval);
	tcase_add_test(tc, test_get_info_argsz_16_writes_only_16_bytes_and_the_needed_argsz);
	tcase_add_test(tc, test_get_info_pgsizes_is_the_domain_bitmap);
	tcase_add_test(tc, test_get_info_argsz_24_reports_caps_size_without_copying_them);
	tcase_add_test(tc, test_get_info_cap_chain_is_migration_dma_avail_iova_range_aligned);
	tc = vh_tcase(s, "get_info_4k", pgsize_4k_setup);
	tcase_add_test(tc, test_get_info_pgsizes_4k_only_domain_and_hugetlb_maps_4k_leaves);

	tc = vh_tcase(s, "container", vh_setup);
	tcase_add_test(tc, test_container_ioctls_before_set_iommu_are_einval);
	tcase_add_test(tc, test_set_iommu_without_group_or_twice_is_einval);
	tcase_add_test(tc, test_set_iommu_of_a_type_no_driver_offers_is_enodev);
	tcase_add_test(tc, test_group_device_fd_needs_a_backend_and_a_known_name);
	tc = vh_tcase(s, "container_v2", v2_setup);
	tcase_add_test(tc, test_type1_extensions_dirty_pages_and_unknown_ioctls_enotty);
	tcase_add_test(tc, test_container_fd_close_keeps_mappings_while_a_group_holds_it);
	tcase_add_test(tc, test_last_group_leaving_releases_every_mapping_and_pin);
	tcase_add_test(tc, test_process_exit_closes_its_fds_and_frees_pinned_hugetlb);
	tcase_add_test(tc, test_second_domain_attach_replays_mappings_without_repinning);
	return s;
}
