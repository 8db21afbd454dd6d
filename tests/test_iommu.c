// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated IOMMU: __iommu_map()'s page-size splitting, unmap sizes,
 * iova_to_phys, the IOTLB and its sync, and the DMA engine (RAM, peer-to-peer
 * MMIO, permission faults, DMA into unpinned frames).
 */
#include "harness.h"
#include "iommu.h"
#include "page.h"

static void stats_reset(void)
{
	atomic_store(&iommu_stats.map_calls, 0);
	atomic_store(&iommu_stats.unmap_calls, 0);
	atomic_store(&iommu_stats.leaves_4k, 0);
	atomic_store(&iommu_stats.leaves_2m, 0);
	atomic_store(&iommu_stats.leaves_1g, 0);
	atomic_store(&iommu_stats.iotlb_syncs, 0);
	atomic_store(&iommu_stats.dma_faults, 0);
	atomic_store(&iommu_stats.dma_violations, 0);
}

static struct iommu_domain *domain_new(uint64_t pgsizes)
{
	struct iommu_domain *d = iommu_domain_alloc(pgsizes);

	ck_assert_ptr_nonnull(d);
	stats_reset();
	return d;
}

/* A RAM page DMA-pinned the way FOLL_PIN pins a small folio. */
static struct folio *pinned_page(void)
{
	struct folio *f = folio_alloc(0, PGTY_anon);

	ck_assert_ptr_nonnull(f);
	folio_ref_add(f, GUP_PIN_COUNTING_BIAS);
	ck_assert(folio_maybe_dma_pinned(f));
	return f;
}

/* Drop what pinned_page() took, then the allocation's own reference. */
static void unpin_page(struct folio *f)
{
	folio_ref_add(f, -(int)GUP_PIN_COUNTING_BIAS);
	ck_assert(!folio_maybe_dma_pinned(f));
	folio_put(f);
}

/* A large folio pinned as FOLL_PIN does (pincount and a reference), then released. */
static void pin_large(struct folio *f)
{
	atomic_fetch_add(&f->page._pincount, 1);
	folio_ref_add(f, 1);
}

static void unpin_large(struct folio *f)
{
	atomic_fetch_sub(&f->page._pincount, 1);
	folio_put(f);
	ck_assert(!folio_maybe_dma_pinned(f));
	folio_put(f);
}

/*
 * The domain, map and unmap cases map raw ranges of RAM that nothing
 * pinned (the table's mechanics, not vfio's pin-then-map order):
 * iommu_map()'s CHECK_DMA_UNPINNED reports each such call, @n here, when
 * the checkers run outside controlled runs (CHECKER_ALWAYS).
 */
static void expect_unpinned_maps(unsigned long n)
{
	harness_expect_checker_if_always(CHECK_DMA_UNPINNED, n);
}

static phys_addr_t folio_phys(const struct folio *f)
{
	return (phys_addr_t)folio_pfn(f) << PAGE_SHIFT;
}

/* ---------------- domains ------------------------------------------------ */

START_TEST(test_domain_alloc_accepts_only_sizes_the_table_has_levels_for)
{
	struct iommu_domain *d;

	ck_assert_ptr_null(iommu_domain_alloc(0));
	ck_assert_ptr_null(iommu_domain_alloc(SZ_4K | (1ULL << 16)));	/* 64K: no level */
	ck_assert_ptr_null(iommu_domain_alloc(1ULL << 10));		/* nothing >= 4K */
	ck_assert_ptr_null(iommu_domain_alloc((1ULL << 10) | SZ_2M));	/* sub-4K without 4K */
	ck_assert(!iommu_pgsize_bitmap_supported(SZ_2M | (1ULL << 39)));
	d = iommu_domain_alloc(SZ_4K | SZ_2M);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(iommu_domain_pgsize_bitmap(d), SZ_4K | SZ_2M);
	ck_assert_uint_eq(iommu_domain_geometry(d)->aperture_end, (1ULL << 48) - 1);
	iommu_domain_free(d);
	/* A 2M-minimum domain, and 1K|4K (sub-page sizes advertised with 4K). */
	d = iommu_domain_alloc(SZ_2M | SZ_1G);
	ck_assert_ptr_nonnull(d);
	iommu_domain_free(d);
	d = iommu_domain_alloc((1ULL << 10) | SZ_4K);
	ck_assert_ptr_nonnull(d);
	iommu_domain_free(d);
}
END_TEST

/* __iommu_map(): everything aligned to the smallest size, 2M here. */
START_TEST(test_2m_minimum_domain_maps_only_2m_aligned_and_unmaps_whole_leaves)
{
	struct iommu_domain *d = domain_new(SZ_2M | SZ_1G);

	expect_unpinned_maps(2);
	ck_assert_int_eq(iommu_map(d, GiB, GiB, SZ_4K, IOMMU_READ), -EINVAL);
	ck_assert_int_eq(iommu_map(d, GiB + SZ_4K, GiB, SZ_2M, IOMMU_READ), -EINVAL);
	ck_assert_int_eq(iommu_map(d, GiB, GiB + SZ_4K, SZ_2M, IOMMU_READ), -EINVAL);
	ck_assert_uint_eq(iommu_nr_leaves(d), 0);
	ck_assert_int_eq(iommu_map(d, GiB, 2 * GiB, 2 * SZ_2M, IOMMU_READ | IOMMU_WRITE), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, GiB + 4096), SZ_2M);
	ck_assert_uint_eq(iommu_nr_leaves(d), 2);
	ck_assert_uint_eq(iommu_stats.leaves_2m, 2);
	ck_assert_uint_eq(iommu_stats.leaves_4k, 0);
	/* __iommu_unmap(): an unaligned size unmaps nothing. */
	ck_assert_uint_eq(iommu_unmap(d, GiB, SZ_4K), 0);
	ck_assert_uint_eq(iommu_unmap(d, GiB, SZ_2M), SZ_2M);
	ck_assert_uint_eq(iommu_iova_to_phys(d, GiB + SZ_2M + 8), 2 * GiB + SZ_2M + 8);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	/* A 1G-aligned 1G range takes one 1G leaf. */
	ck_assert_int_eq(iommu_map(d, 4 * GiB, 4 * GiB, SZ_1G, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, 4 * GiB), SZ_1G);
	iommu_domain_free(d);
}
END_TEST

/* Sub-4K sizes are advertised but the table has no leaf below 4K. */
START_TEST(test_sub_4k_sizes_advertised_but_leaves_are_4k_at_least)
{
	struct iommu_domain *d = domain_new((1ULL << 10) | SZ_4K | SZ_2M);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, GiB + 1024, GiB, 1024, IOMMU_READ), -EINVAL);
	ck_assert_int_eq(iommu_map(d, GiB, GiB, SZ_4K, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, GiB), SZ_4K);
	ck_assert_uint_eq(iommu_unmap(d, GiB, 1024), 0);
	ck_assert_uint_eq(iommu_unmap(d, GiB, SZ_4K), SZ_4K);
	iommu_domain_free(d);
}
END_TEST

/* 6.12 iommu_enable_nesting(): no enable_nesting op on x86 IOMMUs. */
START_TEST(test_enable_nesting_is_einval_on_the_x86_iommu)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct iommu_resv_region r[2];

	ck_assert_int_eq(iommu_enable_nesting(d), -EINVAL);
	ck_assert_int_eq(iommu_get_group_resv_regions(r, 2), 1);
	ck_assert_uint_eq(r[0].start, 0xfee00000);
	ck_assert_uint_eq(r[0].length, 0x100000);
	ck_assert_int_eq(r[0].type, IOMMU_RESV_MSI);
	iommu_domain_free(d);
}
END_TEST

/* ---------------- __iommu_map splitting ---------------------------------- */

START_TEST(test_map_1g_aligned_installs_one_pud_leaf)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, 4 * GiB, 2 * GiB, GiB, IOMMU_READ | IOMMU_WRITE), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, 4 * GiB), SZ_1G);
	ck_assert_uint_eq(iommu_leaf_size(d, 5 * GiB - SZ_4K), SZ_1G);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	ck_assert_uint_eq(iommu_stats.leaves_1g, 1);
	ck_assert_uint_eq(iommu_stats.leaves_2m, 0);
	ck_assert_uint_eq(iommu_stats.leaves_4k, 0);
	ck_assert_uint_eq(iommu_stats.map_calls, 1);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_map_2m_aligned_installs_one_pmd_leaf)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, 6 * MiB, 10 * MiB, SZ_2M, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, 6 * MiB + 12 * KiB), SZ_2M);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	ck_assert_uint_eq(iommu_stats.leaves_2m, 1);
	ck_assert_uint_eq(iommu_stats.leaves_4k + iommu_stats.leaves_1g, 0);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_map_4k_installs_one_pte_leaf)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, GiB, 2 * GiB, SZ_4K, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, GiB), SZ_4K);
	ck_assert_uint_eq(iommu_leaf_size(d, GiB + SZ_4K), 0);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	ck_assert_uint_eq(iommu_stats.leaves_4k, 1);
	iommu_domain_free(d);
}
END_TEST

/* iommu_pgsize() aligns to iova | paddr: a 4K-aligned paddr forbids 2M. */
START_TEST(test_map_paddr_alignment_limits_page_size)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, 2 * MiB, 8 * MiB + SZ_4K, SZ_2M + SZ_4K, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_stats.leaves_4k, 513);
	ck_assert_uint_eq(iommu_stats.leaves_2m, 0);
	ck_assert_uint_eq(iommu_nr_leaves(d), 513);
	ck_assert_uint_eq(iommu_leaf_size(d, 2 * MiB), SZ_4K);
	ck_assert_uint_eq(iommu_leaf_size(d, 4 * MiB), SZ_4K);
	ck_assert_uint_eq(iommu_iova_to_phys(d, 4 * MiB), 10 * MiB + SZ_4K);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_map_uses_largest_fitting_size_per_step)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	size_t size = SZ_1G + SZ_2M + SZ_4K;

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, 2 * GiB, 4 * GiB, size, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, 2 * GiB), SZ_1G);
	ck_assert_uint_eq(iommu_leaf_size(d, 3 * GiB), SZ_2M);
	ck_assert_uint_eq(iommu_leaf_size(d, 3 * GiB + SZ_2M), SZ_4K);
	ck_assert_uint_eq(iommu_leaf_size(d, 3 * GiB + SZ_2M + SZ_4K), 0);
	ck_assert_uint_eq(iommu_stats.leaves_1g, 1);
	ck_assert_uint_eq(iommu_stats.leaves_2m, 1);
	ck_assert_uint_eq(iommu_stats.leaves_4k, 1);
	ck_assert_uint_eq(iommu_nr_leaves(d), 3);
	ck_assert_uint_eq(iommu_iova_to_phys(d, 3 * GiB + SZ_2M), 5 * GiB + SZ_2M);
	iommu_domain_free(d);
}
END_TEST

/* A range that starts 4K below a 2M boundary: 4K leaves up to it, then 2M. */
START_TEST(test_map_steps_up_to_large_leaf_at_alignment)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, SZ_2M - SZ_4K, SZ_2M - SZ_4K, SZ_2M + SZ_4K, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, SZ_2M - SZ_4K), SZ_4K);
	ck_assert_uint_eq(iommu_leaf_size(d, SZ_2M), SZ_2M);
	ck_assert_uint_eq(iommu_stats.leaves_4k, 1);
	ck_assert_uint_eq(iommu_stats.leaves_2m, 1);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_map_4k_only_bitmap_installs_only_4k_leaves)
{
	struct iommu_domain *d = domain_new(SZ_4K);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, GiB, GiB, 2 * SZ_2M, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_stats.leaves_4k, 1024);
	ck_assert_uint_eq(iommu_stats.leaves_2m + iommu_stats.leaves_1g, 0);
	ck_assert_uint_eq(iommu_leaf_size(d, GiB + SZ_2M), SZ_4K);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1024);
	iommu_domain_free(d);
}
END_TEST

/* Without 1G in the bitmap a 1G-aligned gigabyte becomes 512 x 2M. */
START_TEST(test_map_without_1g_uses_2m_leaves)
{
	struct iommu_domain *d = domain_new(SZ_4K | SZ_2M);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, GiB, GiB, GiB, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_stats.leaves_2m, 512);
	ck_assert_uint_eq(iommu_stats.leaves_1g, 0);
	ck_assert_uint_eq(iommu_leaf_size(d, GiB), SZ_2M);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_map_unaligned_returns_einval)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	ck_assert_int_eq(iommu_map(d, GiB + 512, GiB, SZ_4K, IOMMU_READ), -EINVAL);
	ck_assert_int_eq(iommu_map(d, GiB, GiB + 1, SZ_4K, IOMMU_READ), -EINVAL);
	ck_assert_int_eq(iommu_map(d, GiB, GiB, SZ_4K + 8, IOMMU_READ), -EINVAL);
	ck_assert_uint_eq(iommu_nr_leaves(d), 0);
	ck_assert_uint_eq(iommu_iova_to_phys(d, GiB), 0);
	ck_assert_uint_eq(iommu_stats.map_calls, 3);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_map_beyond_aperture_returns_erange)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	dma_addr_t last = iommu_domain_geometry(d)->aperture_end & ~(SZ_4K - 1);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, last, GiB, SZ_4K, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_iova_to_phys(d, last + 100), GiB + 100);
	ck_assert_int_eq(iommu_map(d, last, 2 * GiB, 2 * SZ_4K, IOMMU_READ), -ERANGE);
	ck_assert_int_eq(iommu_map(d, ~0ULL & ~(SZ_4K - 1), GiB, 2 * SZ_4K, IOMMU_READ), -ERANGE);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	ck_assert_uint_eq(iommu_unmap(d, last, SZ_4K), SZ_4K);
	iommu_domain_free(d);
}
END_TEST

/* The leaves installed before the overlap are unmapped again (__iommu_map unwinding). */
START_TEST(test_map_overlap_returns_eexist_and_unwinds)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(5);
	ck_assert_int_eq(iommu_map(d, GiB + 3 * SZ_4K, 8 * MiB, SZ_4K, IOMMU_READ), 0);
	stats_reset();
	/* 3 x 4K go in, then the 4th collides. */
	ck_assert_int_eq(iommu_map(d, GiB, 16 * MiB + SZ_4K, 8 * SZ_4K, IOMMU_READ), -EEXIST);
	ck_assert_uint_eq(iommu_stats.leaves_4k, 3);
	ck_assert_uint_eq(iommu_stats.unmap_calls, 1);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	ck_assert_uint_eq(iommu_iova_to_phys(d, GiB), 0);
	ck_assert_uint_eq(iommu_iova_to_phys(d, GiB + 2 * SZ_4K), 0);
	ck_assert_uint_eq(iommu_iova_to_phys(d, GiB + 3 * SZ_4K), 8 * MiB);
	/* A 2M leaf over a table holding a live 4K leaf. */
	ck_assert_int_eq(iommu_map(d, GiB, 32 * MiB, SZ_2M, IOMMU_READ), -EEXIST);
	/* A 4K leaf under a 2M leaf. */
	ck_assert_int_eq(iommu_map(d, 2 * GiB, 32 * MiB, SZ_2M, IOMMU_READ), 0);
	ck_assert_int_eq(iommu_map(d, 2 * GiB + SZ_4K, 64 * MiB, SZ_4K, IOMMU_READ), -EEXIST);
	ck_assert_uint_eq(iommu_nr_leaves(d), 2);
	ck_assert_uint_eq(iommu_leaf_size(d, 2 * GiB + SZ_4K), SZ_2M);
	iommu_domain_free(d);
}
END_TEST

/* ---------------- unmap -------------------------------------------------- */

START_TEST(test_unmap_returns_bytes_of_whole_leaves)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, GiB, GiB, 4 * SZ_4K, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_unmap(d, GiB, 3 * SZ_4K), 3 * SZ_4K);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	ck_assert_uint_eq(iommu_iova_to_phys(d, GiB + 3 * SZ_4K), GiB + 3 * SZ_4K);
	/* Nothing at iova: 0. */
	ck_assert_uint_eq(iommu_unmap(d, GiB, SZ_4K), 0);
	ck_assert_uint_eq(iommu_stats.unmap_calls, 2);
	ck_assert_uint_eq(iommu_stats.iotlb_syncs, 2);
	iommu_domain_free(d);
}
END_TEST

/* Intel/AMD semantics that vfio_unmap_unpin() copes with: the leaf goes whole. */
START_TEST(test_unmap_of_part_of_2m_leaf_removes_whole_leaf)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, SZ_2M, SZ_2M, SZ_2M, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_unmap(d, SZ_2M, SZ_4K), SZ_2M);
	ck_assert_uint_eq(iommu_nr_leaves(d), 0);
	ck_assert_uint_eq(iommu_iova_to_phys(d, SZ_2M + SZ_4K), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, 2 * SZ_2M - SZ_4K), 0);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_unmap_stops_at_first_hole)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(2);
	ck_assert_int_eq(iommu_map(d, GiB, GiB, 2 * SZ_4K, IOMMU_READ), 0);
	ck_assert_int_eq(iommu_map(d, GiB + 3 * SZ_4K, GiB, SZ_4K, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_unmap(d, GiB, 4 * SZ_4K), 2 * SZ_4K);
	ck_assert_uint_eq(iommu_leaf_size(d, GiB + 3 * SZ_4K), SZ_4K);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_unmap_unaligned_unmaps_nothing)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(1);
	ck_assert_int_eq(iommu_map(d, GiB, GiB, SZ_4K, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_unmap(d, GiB + 8, SZ_4K), 0);
	ck_assert_uint_eq(iommu_unmap(d, GiB, 100), 0);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	iommu_domain_free(d);
}
END_TEST

/* Empty tables are freed, so a range unmapped at 4K can take a 2M/1G leaf. */
START_TEST(test_remap_at_larger_size_after_unmap)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(2);
	ck_assert_int_eq(iommu_map(d, GiB, GiB + SZ_4K, SZ_2M, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_nr_leaves(d), 512);
	ck_assert_uint_eq(iommu_unmap(d, GiB, SZ_2M), SZ_2M);
	ck_assert_int_eq(iommu_map(d, GiB, GiB, GiB, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, GiB + SZ_2M), SZ_1G);
	ck_assert_uint_eq(iommu_nr_leaves(d), 1);
	ck_assert_uint_eq(iommu_unmap(d, GiB, GiB), GiB);
	ck_assert_uint_eq(iommu_nr_leaves(d), 0);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_iova_to_phys_adds_offset_within_leaf)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	expect_unpinned_maps(2);
	ck_assert_int_eq(iommu_map(d, 3 * GiB, 5 * GiB, GiB, IOMMU_READ), 0);
	ck_assert_int_eq(iommu_map(d, 8 * GiB, 6 * MiB, SZ_2M, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_iova_to_phys(d, 3 * GiB + 123 * MiB + 45),
			  5 * GiB + 123 * MiB + 45);
	ck_assert_uint_eq(iommu_iova_to_phys(d, 8 * GiB + SZ_2M - 1), 8 * MiB - 1);
	ck_assert_uint_eq(iommu_iova_to_phys(d, 8 * GiB + SZ_2M), 0);
	ck_assert_uint_eq(iommu_iova_to_phys(d, 0), 0);
	ck_assert_uint_eq(iommu_iova_to_phys(d, ~0ULL), 0);
	iommu_domain_free(d);
}
END_TEST

/* ---------------- the DMA engine ----------------------------------------- */

START_TEST(test_dma_write_reaches_pinned_ram_frame)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *f = pinned_page();
	unsigned char *ram = page_address(&f->page);
	char in[64] = "written by the device", out[64] = {0};

	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(f), SZ_4K, IOMMU_READ | IOMMU_WRITE), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB + 100, in, sizeof(in), true), sizeof(in));
	ck_assert_mem_eq(ram + 100, in, sizeof(in));
	ck_assert(page_flags(&f->page) & PG_data);
	ck_assert_int_eq(iommu_dma_rw(d, GiB + 100, out, sizeof(out), false), sizeof(out));
	ck_assert_mem_eq(out, in, sizeof(in));
	ck_assert_uint_eq(iommu_stats.dma_faults, 0);
	ck_assert_uint_eq(iommu_stats.dma_violations, 0);
	iommu_domain_free(d);
	unpin_page(f);
}
END_TEST

/* An access crossing pages goes to each page's own frame. */
START_TEST(test_dma_crossing_pages_follows_each_translation)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *a = pinned_page(), *b = pinned_page();
	unsigned char buf[256];

	memset(buf, 0x5a, sizeof(buf));
	/* b below a in iova, whatever their physical order. */
	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(b), SZ_4K, IOMMU_WRITE), 0);
	ck_assert_int_eq(iommu_map(d, GiB + SZ_4K, folio_phys(a), SZ_4K, IOMMU_WRITE), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB + SZ_4K - 128, buf, 256, true), 256);
	ck_assert_uint_eq(((unsigned char *)page_address(&b->page))[SZ_4K - 1], 0x5a);
	ck_assert_uint_eq(((unsigned char *)page_address(&a->page))[127], 0x5a);
	ck_assert_uint_eq(((unsigned char *)page_address(&a->page))[128], 0);
	iommu_domain_free(d);
	unpin_page(a);
	unpin_page(b);
}
END_TEST

START_TEST(test_dma_write_to_read_only_mapping_faults)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *f = pinned_page();
	unsigned char *ram = page_address(&f->page);
	char buf[16] = "device";

	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(f), SZ_4K, IOMMU_READ), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, sizeof(buf), true), -EFAULT);
	ck_assert_uint_eq(iommu_stats.dma_faults, 1);
	ck_assert_uint_eq(ram[0], 0);
	ck_assert(!(page_flags(&f->page) & PG_data));
	/* Reading is allowed. */
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, sizeof(buf), false), sizeof(buf));
	ck_assert_uint_eq(buf[0], 0);
	ck_assert_uint_eq(iommu_stats.dma_faults, 1);
	iommu_domain_free(d);
	unpin_page(f);
}
END_TEST

START_TEST(test_dma_read_from_write_only_mapping_faults)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *f = pinned_page();
	char buf[16];

	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(f), SZ_4K, IOMMU_WRITE), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, sizeof(buf), false), -EFAULT);
	ck_assert_uint_eq(iommu_stats.dma_faults, 1);
	iommu_domain_free(d);
	unpin_page(f);
}
END_TEST

START_TEST(test_dma_to_unmapped_iova_faults)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	char buf[16] = {0};

	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, sizeof(buf), false), -EFAULT);
	ck_assert_int_eq(iommu_dma_rw(d, ~0ULL - 7, buf, sizeof(buf), true), -EFAULT);
	ck_assert_uint_eq(iommu_stats.dma_faults, 2);
	ck_assert_uint_eq(iommu_stats.dma_violations, 0);
	iommu_domain_free(d);
}
END_TEST

/* The pages before the faulting one are transferred, none after it. */
START_TEST(test_dma_stops_at_first_faulting_page)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *a = pinned_page(), *c = pinned_page();
	unsigned char *buf = malloc(3 * SZ_4K);

	memset(buf, 0x77, 3 * SZ_4K);
	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(a), SZ_4K, IOMMU_WRITE), 0);
	ck_assert_int_eq(iommu_map(d, GiB + 2 * SZ_4K, folio_phys(c), SZ_4K, IOMMU_WRITE), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, 3 * SZ_4K, true), -EFAULT);
	ck_assert_uint_eq(((unsigned char *)page_address(&a->page))[SZ_4K - 1], 0x77);
	ck_assert_uint_eq(((unsigned char *)page_address(&c->page))[0], 0);
	ck_assert(!(page_flags(&c->page) & PG_data));
	ck_assert_uint_eq(iommu_stats.dma_faults, 1);
	free(buf);
	iommu_domain_free(d);
	unpin_page(a);
	unpin_page(c);
}
END_TEST

/* Device A reads device B's BAR through the IOMMU. */
START_TEST(test_dma_peer_to_peer_reads_bar_bytes)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	unsigned char *bar, out[32];
	unsigned long pfn;

	ck_assert_int_eq(mmio_alloc(4 * SZ_2M, &pfn, &bar), 0);
	ck_assert(!pfn_valid(pfn));
	memcpy(bar + SZ_2M + 4000, "bytes of the peer's BAR, 32 B..", 32);
	ck_assert_int_eq(iommu_map(d, 2 * GiB, (phys_addr_t)pfn << PAGE_SHIFT, 4 * SZ_2M,
				   IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO),
			 0);
	ck_assert_uint_eq(iommu_leaf_size(d, 2 * GiB), SZ_2M);
	ck_assert_int_eq(iommu_dma_rw(d, 2 * GiB + SZ_2M + 4000, out, 32, false), 32);
	ck_assert_mem_eq(out, bar + SZ_2M + 4000, 32);
	ck_assert_int_eq(iommu_dma_rw(d, 2 * GiB + 3 * SZ_2M, "w", 1, true), 1);
	ck_assert_uint_eq(bar[3 * SZ_2M], 'w');
	ck_assert_uint_eq(iommu_stats.dma_violations, 0);
	ck_assert_uint_eq(iommu_stats.dma_faults, 0);
	iommu_domain_free(d);
}
END_TEST

/* A physical address that is neither RAM nor a decoded BAR: fault. */
START_TEST(test_dma_to_undecoded_physical_address_faults)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	phys_addr_t hole = (phys_addr_t)(mmio_base_pfn + (1UL << 30)) << PAGE_SHIFT;
	char buf[8];

	ck_assert_int_eq(iommu_map(d, GiB, hole, SZ_4K, IOMMU_READ), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, sizeof(buf), false), -EFAULT);
	ck_assert_uint_eq(iommu_stats.dma_faults, 1);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_dma_into_unpinned_frame_is_a_violation)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *f = folio_alloc(0, PGTY_anon);
	char buf[8] = "x";

	ck_assert_ptr_nonnull(f);
	/* The map, then the DMA: CHECK_DMA_UNPINNED, as dma_violations counts. */
	expect_unpinned_maps(1);
	harness_expect_checker(CHECK_DMA_UNPINNED, 1);
	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(f), SZ_4K, IOMMU_READ | IOMMU_WRITE), 0);
	/* The hardware still performs it; the simulator records it. */
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, 1, true), 1);
	ck_assert_uint_eq(((char *)page_address(&f->page))[0], 'x');
	ck_assert_uint_eq(iommu_stats.dma_violations, 1);
	ck_assert_uint_eq(iommu_stats.dma_faults, 0);
	iommu_domain_free(d);
	folio_put(f);
}
END_TEST

/* A large folio is pinned through its pincount (FOLL_PIN on a large folio). */
START_TEST(test_dma_into_pinned_large_folio_tail_is_not_a_violation)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *f = folio_alloc(PMD_ORDER, PGTY_anon);
	char buf[8] = "tail";

	ck_assert_ptr_nonnull(f);
	pin_large(f);
	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(f), SZ_2M, IOMMU_WRITE), 0);
	ck_assert_uint_eq(iommu_leaf_size(d, GiB), SZ_2M);
	ck_assert_int_eq(iommu_dma_rw(d, GiB + 300 * SZ_4K, buf, 5, true), 5);
	ck_assert_str_eq((char *)page_address(folio_page(f, 300)), "tail");
	ck_assert(page_flags(&f->page) & PG_data);
	ck_assert_uint_eq(iommu_stats.dma_violations, 0);
	iommu_domain_free(d);
	unpin_large(f);
}
END_TEST

/*
 * The ordering vfio_unmap_unpin() keeps: unmap, iotlb sync, then unpin.
 * Unpinning before the sync lets the device reach a freed frame through the
 * stale IOTLB entry; after the sync the same DMA faults.
 */
START_TEST(test_stale_iotlb_reaches_unpinned_frame_until_sync)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *f = pinned_page();
	char buf[8] = "stale";

	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(f), SZ_4K, IOMMU_READ | IOMMU_WRITE), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, 6, true), 6); /* fills the IOTLB */
	ck_assert_uint_eq(iommu_unmap_fast(d, GiB, SZ_4K), SZ_4K);
	ck_assert_uint_eq(iommu_iova_to_phys(d, GiB), 0);
	folio_ref_add(f, -(int)GUP_PIN_COUNTING_BIAS); /* unpin too early */

	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, 6, false), 6);
	ck_assert_str_eq(buf, "stale");
	harness_expect_checker(CHECK_DMA_UNPINNED, 1);
	ck_assert_uint_eq(iommu_stats.dma_violations, 1);
	ck_assert_uint_eq(iommu_stats.dma_faults, 0);

	iommu_iotlb_sync(d);
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, 6, false), -EFAULT);
	ck_assert_uint_eq(iommu_stats.dma_faults, 1);
	ck_assert_uint_eq(iommu_stats.dma_violations, 1);
	ck_assert_uint_eq(iommu_stats.iotlb_syncs, 1);
	iommu_domain_free(d);
	folio_put(f);
}
END_TEST

/* A superpage IOTLB entry serves every page of its leaf after unmap_fast. */
START_TEST(test_stale_2m_iotlb_entry_covers_whole_leaf)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *f = folio_alloc(PMD_ORDER, PGTY_anon);
	char buf[4];

	ck_assert_ptr_nonnull(f);
	pin_large(f);
	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(f), SZ_2M, IOMMU_READ), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, 4, false), 4);
	ck_assert_uint_eq(iommu_unmap_fast(d, GiB, SZ_2M), SZ_2M);
	/* Still pinned: through the stale entry, but no violation yet. */
	ck_assert_int_eq(iommu_dma_rw(d, GiB + 511 * SZ_4K, buf, 4, false), 4);
	ck_assert_uint_eq(iommu_stats.dma_violations, 0);
	/*
	 * iommu_unmap() syncs its own gather only (nothing here): the range
	 * queued by unmap_fast stays stale until iommu_iotlb_sync().
	 */
	ck_assert_uint_eq(iommu_unmap(d, GiB, SZ_2M), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB + 7 * SZ_4K, buf, 4, false), 4);
	iommu_iotlb_sync(d);
	ck_assert_int_eq(iommu_dma_rw(d, GiB + 7 * SZ_4K, buf, 4, false), -EFAULT);
	ck_assert_uint_eq(iommu_stats.dma_faults, 1);
	ck_assert_uint_eq(iommu_stats.dma_violations, 0);
	iommu_domain_free(d);
	unpin_large(f);
}
END_TEST

/* The sync invalidates the gathered range, not translations outside it. */
START_TEST(test_iotlb_sync_keeps_translations_outside_gather)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);
	struct folio *a = pinned_page(), *b = pinned_page();
	char buf[4];

	ck_assert_int_eq(iommu_map(d, GiB, folio_phys(a), SZ_4K, IOMMU_READ), 0);
	ck_assert_int_eq(iommu_map(d, 2 * GiB, folio_phys(b), SZ_4K, IOMMU_READ), 0);
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, 4, false), 4);
	ck_assert_int_eq(iommu_dma_rw(d, 2 * GiB, buf, 4, false), 4);
	ck_assert_uint_eq(iommu_unmap(d, GiB, SZ_4K), SZ_4K);
	ck_assert_int_eq(iommu_dma_rw(d, GiB, buf, 4, false), -EFAULT);
	ck_assert_int_eq(iommu_dma_rw(d, 2 * GiB, buf, 4, false), 4);
	ck_assert_uint_eq(iommu_stats.dma_faults, 1);
	iommu_domain_free(d);
	unpin_page(a);
	unpin_page(b);
}
END_TEST

/* ---------------- scale -------------------------------------------------- */

/* A 32 GiB BAR at 1G alignment is 32 PUD leaves; a 64 GiB 4K-only map is 16M leaves. */
START_TEST(test_map_32g_bar_is_32_pud_leaves)
{
	struct iommu_domain *d = domain_new(IOMMU_DEFAULT_PGSIZES);

	ck_assert_int_eq(iommu_map(d, 64 * GiB, 1ULL << 40, 32 * GiB, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_stats.leaves_1g, 32);
	ck_assert_uint_eq(iommu_nr_leaves(d), 32);
	ck_assert_uint_eq(iommu_unmap(d, 64 * GiB, 32 * GiB), 32 * GiB);
	ck_assert_uint_eq(iommu_nr_leaves(d), 0);
	iommu_domain_free(d);
}
END_TEST

START_TEST(test_map_16g_of_4k_leaves)
{
	struct iommu_domain *d = domain_new(SZ_4K);

	ck_assert_int_eq(iommu_map(d, 0, 1ULL << 40, 16 * GiB, IOMMU_READ), 0);
	ck_assert_uint_eq(iommu_stats.leaves_4k, 4UL << 20);
	ck_assert_uint_eq(iommu_iova_to_phys(d, 16 * GiB - SZ_4K), (1ULL << 40) + 16 * GiB - SZ_4K);
	ck_assert_uint_eq(iommu_unmap(d, 0, 16 * GiB), 16 * GiB);
	ck_assert_uint_eq(iommu_nr_leaves(d), 0);
	iommu_domain_free(d);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("iommu");
	TCase *tc = tm_tcase(s, "domain");

	tcase_add_test(tc, test_domain_alloc_accepts_only_sizes_the_table_has_levels_for);
	tcase_add_test(tc, test_2m_minimum_domain_maps_only_2m_aligned_and_unmaps_whole_leaves);
	tcase_add_test(tc, test_sub_4k_sizes_advertised_but_leaves_are_4k_at_least);
	tcase_add_test(tc, test_enable_nesting_is_einval_on_the_x86_iommu);

	tc = tm_tcase(s, "map");
	tcase_add_test(tc, test_map_1g_aligned_installs_one_pud_leaf);
	tcase_add_test(tc, test_map_2m_aligned_installs_one_pmd_leaf);
	tcase_add_test(tc, test_map_4k_installs_one_pte_leaf);
	tcase_add_test(tc, test_map_paddr_alignment_limits_page_size);
	tcase_add_test(tc, test_map_uses_largest_fitting_size_per_step);
	tcase_add_test(tc, test_map_steps_up_to_large_leaf_at_alignment);
	tcase_add_test(tc, test_map_4k_only_bitmap_installs_only_4k_leaves);
	tcase_add_test(tc, test_map_without_1g_uses_2m_leaves);
	tcase_add_test(tc, test_map_unaligned_returns_einval);
	tcase_add_test(tc, test_map_beyond_aperture_returns_erange);
	tcase_add_test(tc, test_map_overlap_returns_eexist_and_unwinds);

	tc = tm_tcase(s, "unmap");
	tcase_add_test(tc, test_unmap_returns_bytes_of_whole_leaves);
	tcase_add_test(tc, test_unmap_of_part_of_2m_leaf_removes_whole_leaf);
	tcase_add_test(tc, test_unmap_stops_at_first_hole);
	tcase_add_test(tc, test_unmap_unaligned_unmaps_nothing);
	tcase_add_test(tc, test_remap_at_larger_size_after_unmap);
	tcase_add_test(tc, test_iova_to_phys_adds_offset_within_leaf);

	tc = tm_tcase(s, "dma");
	tcase_add_test(tc, test_dma_write_reaches_pinned_ram_frame);
	tcase_add_test(tc, test_dma_crossing_pages_follows_each_translation);
	tcase_add_test(tc, test_dma_write_to_read_only_mapping_faults);
	tcase_add_test(tc, test_dma_read_from_write_only_mapping_faults);
	tcase_add_test(tc, test_dma_to_unmapped_iova_faults);
	tcase_add_test(tc, test_dma_stops_at_first_faulting_page);
	tcase_add_test(tc, test_dma_peer_to_peer_reads_bar_bytes);
	tcase_add_test(tc, test_dma_to_undecoded_physical_address_faults);
	tcase_add_test(tc, test_dma_into_unpinned_frame_is_a_violation);
	tcase_add_test(tc, test_dma_into_pinned_large_folio_tail_is_not_a_violation);

	tc = tm_tcase(s, "iotlb");
	tcase_add_test(tc, test_stale_iotlb_reaches_unpinned_frame_until_sync);
	tcase_add_test(tc, test_stale_2m_iotlb_entry_covers_whole_leaf);
	tcase_add_test(tc, test_iotlb_sync_keeps_translations_outside_gather);

	tc = tm_tcase(s, "scale");
	tcase_add_test(tc, test_map_32g_bar_is_32_pud_leaves);
	tcase_add_test(tc, test_map_16g_of_4k_leaves);
	return s;
}
