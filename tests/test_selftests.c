// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's VFIO selftests (tools/testing/selftests/vfio), ported to
 * pinsim (kernel-semantics.md §7.2-7.4): vfio_dma_mapping_test's
 * dma_map_unmap and vfio_dma_map_limit_test, and
 * vfio_dma_mapping_mmio_test, in the two type1 IOMMU modes
 * (vfio_type1_iommu, vfio_type1v2_iommu); the iommufd modes have no
 * counterpart here.
 *
 * Ported as in §7.4: the Intel debugfs page-table dump becomes
 * pinsim_iommu_lookup()'s leaf size (4K = PTE, 2M = PMD, 1G = PUD); the
 * library's own to_iova() bookkeeping is the dma_region list kept here.
 * Type1 maps huge pages in both v1 and v2 (only iommufd_compat_type1 forces
 * 4K), so the expected leaf is the buffer size in both modes.  The mmio
 * cases also assert what the kernel selftest cannot see: the number of
 * vaddr_get_pfns() and vfio_iommu_map() calls (one per PUD leaf / one run).
 */
#include "vfio_harness.h"

static int container;

/* ---------------- libvfio, ported ---------------- */

struct dma_region {
	uint64_t vaddr, iova, size;
	bool mapped;
};

/* iova_allocator.c: size-aligned IOVAs from the IOVA_RANGE cap, in order. */
struct iova_allocator {
	struct vfio_iova_range ranges[8];
	uint32_t nranges, range_idx;
	uint64_t range_offset;
};

/* vfio_iommu_get_info(): once for argsz, then with room for the caps. */
static void *iommu_get_info(void)
{
	struct vfio_iommu_type1_info *info = calloc(1, sizeof(*info));

	ck_assert_ptr_nonnull(info);
	ck_assert_int_eq(vh_get_info(container, info, sizeof(*info)), 0);
	ck_assert_uint_ge(info->argsz, sizeof(*info));
	info = realloc(info, info->argsz);
	ck_assert_ptr_nonnull(info);
	ck_assert_int_eq(vh_get_info(container, info, info->argsz), 0);
	return info;
}

static void iova_allocator_init(struct iova_allocator *a)
{
	struct vfio_iommu_type1_info *info = iommu_get_info();
	struct vfio_iommu_type1_info_cap_iova_range *cap;

	cap = (void *)vh_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	ck_assert_ptr_nonnull(cap);
	ck_assert_uint_gt(cap->nr_iovas, 0);
	ck_assert_uint_le(cap->nr_iovas, 8);
	memset(a, 0, sizeof(*a));
	a->nranges = cap->nr_iovas;
	for (uint32_t i = 0; i < cap->nr_iovas; i++) {
		a->ranges[i] = cap->iova_ranges[i];
		ck_assert_uint_lt(a->ranges[i].start, a->ranges[i].end);
		if (i)
			ck_assert_uint_lt(a->ranges[i - 1].end, a->ranges[i].start);
	}
	free(info);
}

static uint64_t iova_allocator_alloc(struct iova_allocator *a, uint64_t size)
{
	ck_assert_uint_gt(size, 0);
	ck_assert_uint_eq(size & (size - 1), 0);
	for (;;) {
		struct vfio_iova_range *r;
		uint64_t iova, last;

		ck_assert_msg(a->range_idx < a->nranges, "IOVA allocator out of space");
		r = &a->ranges[a->range_idx];
		iova = r->start + a->range_offset;
		if (__builtin_add_overflow(iova, size - 1, &last) || last > r->end)
			goto next_range;
		iova = last & ~(size - 1);
		if (__builtin_add_overflow(iova, size - 1, &last) || last > r->end)
			goto next_range;
		if (last == r->end) {
			a->range_idx++;
			a->range_offset = 0;
		} else {
			a->range_offset = last - r->start + 1;
		}
		return iova;
next_range:
		a->range_idx++;
		a->range_offset = 0;
	}
}

/* The last inclusive IOVA of the last usable range. */
static uint64_t iommu_last_iova(void)
{
	struct iova_allocator a;

	iova_allocator_init(&a);
	return a.ranges[a.nranges - 1].end;
}

static int iommu_map(struct dma_region *r)
{
	int ret = vh_map(container, r->vaddr, r->iova, r->size);

	if (!ret)
		r->mapped = true;
	return ret;
}

static int iommu_unmap(struct dma_region *r, uint64_t *unmapped)
{
	int ret = vh_unmap(container, r->iova, r->size, unmapped);

	if (!ret)
		r->mapped = false;
	return ret;
}

/* to_iova(): the library's region list, not the hardware. */
static bool to_iova(const struct dma_region *r, uint64_t vaddr, uint64_t *iova)
{
	if (!r->mapped || vaddr < r->vaddr || vaddr >= r->vaddr + r->size)
		return false;
	*iova = r->iova + (vaddr - r->vaddr);
	return true;
}

static void setup_mode(unsigned long type)
{
	vh_setup();
	container = vh_container(type);
}

static void type1_setup(void)
{
	setup_mode(VFIO_TYPE1_IOMMU);
}

static void type1v2_setup(void)
{
	setup_mode(VFIO_TYPE1v2_IOMMU);
}

/* ---------------- vfio_dma_mapping_test: dma_map_unmap ---------------- */

static void dma_map_unmap(uint64_t size, int mmap_flags)
{
	struct dma_region region = { 0 };
	struct iova_allocator alloc;
	uint64_t iova, unmapped = 0, phys = 0, locked = vh_locked_vm();
	struct pinsim_page_info before;

	iova_allocator_init(&alloc);
	region.vaddr = pinsim_mmap(proc, 0, size, RW, mmap_flags, -1, 0);
	/* The selftest skips when the hugetlb pool is empty; ours is sized. */
	ck_assert_uint_ne(region.vaddr, PINSIM_MAP_FAILED);
	region.iova = iova_allocator_alloc(&alloc, size);
	region.size = size;
	vh_touch(region.vaddr, size, size);
	before = vh_page(region.vaddr);

	ck_assert_int_eq(iommu_map(&region), 0);
	ck_assert(to_iova(&region, region.vaddr, &iova));
	ck_assert_uint_eq(iova, region.iova);

	/* The leaf level of the translation is the buffer size. */
	switch (size) {
	case 4 * KiB:
	case 2 * MiB:
	case 1 * GiB:
		ck_assert_uint_eq(vh_iommu_leaf(&dev0, region.iova, &phys), size);
		break;
	default:
		ck_abort_msg("Unrecognized size: %#llx", (unsigned long long)size);
	}
	ck_assert_uint_eq(phys >> 12, before.pfn);
	ck_assert_uint_eq(vh_stats(container).last.iommu_maps, 1);
	ck_assert_uint_eq(vh_locked_vm(), locked + size / PG);

	ck_assert_int_eq(iommu_unmap(&region, &unmapped), 0);
	ck_assert_uint_eq(unmapped, region.size);
	ck_assert(!to_iova(&region, region.vaddr, &iova));
	ck_assert_int_eq(pinsim_iommu_lookup(sim, dev0.group_id, region.iova, NULL, NULL), -1);
	ck_assert_int_eq(vh_page(region.vaddr).refcount, before.refcount);
	ck_assert_int_eq(vh_page(region.vaddr).pincount, 0);
	ck_assert_uint_eq(vh_locked_vm(), locked);

	ck_assert_int_eq(pinsim_munmap(proc, region.vaddr, size), 0);
	vh_assert_clean();
}

START_TEST(test_dma_map_unmap_anonymous_maps_a_4k_pte_leaf)
{
	dma_map_unmap(PG, ANON);
}
END_TEST

START_TEST(test_dma_map_unmap_anonymous_hugetlb_2mb_maps_a_pmd_leaf)
{
	dma_map_unmap(2 * MiB, HUGE_2M);
}
END_TEST

START_TEST(test_dma_map_unmap_anonymous_hugetlb_1gb_maps_a_pud_leaf)
{
	dma_map_unmap(GiB, HUGE_1G);
}
END_TEST

/* ---------------- vfio_dma_map_limit_test ---------------- */

/* FIXTURE_SETUP: one page at the last page of the last range, 2 pages of VA. */
static void limit_region(struct dma_region *r)
{
	r->vaddr = vh_mmap(2 * PG, RW, ANON);
	r->iova = iommu_last_iova() & ~(PG - 1);
	r->size = PG;
	ck_assert_uint_eq(r->iova, IOVA_LAST + 1 - PG);
}

START_TEST(test_map_limit_unmap_range_of_the_last_iova_page)
{
	struct dma_region region = { 0 };
	uint64_t iova, unmapped = 0;

	limit_region(&region);
	ck_assert_int_eq(iommu_map(&region), 0);
	ck_assert(to_iova(&region, region.vaddr, &iova));
	ck_assert_uint_eq(iova, region.iova);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, region.iova, NULL), PG);

	ck_assert_int_eq(iommu_unmap(&region, &unmapped), 0);
	ck_assert_uint_eq(unmapped, region.size);
	/* ef270ec44637: the unpin loop must run although iova + size wraps to 0. */
	ck_assert_int_eq(vh_page(region.vaddr).pincount, 0);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_no_iommu(&dev0, region.iova, PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_limit_unmap_all_with_the_last_iova_page)
{
	struct dma_region region = { 0 };
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .flags = VFIO_DMA_UNMAP_FLAG_ALL,
	};
	uint64_t iova;

	limit_region(&region);
	ck_assert_int_eq(iommu_map(&region), 0);
	ck_assert(to_iova(&region, region.vaddr, &iova));
	ck_assert_uint_eq(iova, region.iova);

	ck_assert_int_eq(pinsim_ioctl(proc, container, VFIO_IOMMU_UNMAP_DMA, &unmap), 0);
	ck_assert_uint_eq(unmap.size, region.size);
	ck_assert_int_eq(vh_page(region.vaddr).pincount, 0);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	vh_assert_no_iommu(&dev0, region.iova, PG);
	vh_assert_clean();
}
END_TEST

START_TEST(test_map_limit_overflow_is_eoverflow_for_map_and_unmap)
{
	struct dma_region region = { 0 };
	struct vh_state s;
	uint64_t mmap_size = 2 * PG;

	limit_region(&region);
	region.iova = ~0ULL & ~(region.size - 1);
	region.size = mmap_size;
	s = vh_snap(container);
	/* -EINVAL before 6012379ede60 (v6.18-rc4): what 6.12's source says. */
	ck_assert_int_eq(iommu_map(&region), vh_cfg.vfio_dma_limit_overflow ? -EOVERFLOW : -EINVAL);
	ck_assert_int_eq(iommu_unmap(&region, NULL),
			 vh_cfg.vfio_dma_limit_overflow ? -EOVERFLOW : -EINVAL);
	vh_assert_state(container, &s);
	vh_assert_unpinned(region.vaddr, mmap_size);
	vh_assert_clean();
}
END_TEST

/* ---------------- vfio_dma_mapping_mmio_test ---------------- */

/* largest_mapped_bar(): READ|WRITE|MMAP regions only; dev0's is BAR0 (2G). */
static uint32_t largest_mapped_bar(uint64_t *size)
{
	uint32_t best = 0;

	*size = 0;
	for (uint32_t i = VFIO_PCI_BAR0_REGION_INDEX; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
		struct vfio_region_info ri = { .argsz = sizeof(ri), .index = i };
		uint32_t want = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
				VFIO_REGION_INFO_FLAG_MMAP;

		ck_assert_int_eq(pinsim_ioctl(proc, dev0.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
		if ((ri.flags & want) != want)
			continue;
		if (ri.size > *size) {
			*size = ri.size;
			best = i;
		}
	}
	ck_assert_uint_gt(*size, 0);
	return best;
}

/* do_mmio_map_test(): type1 maps and unmaps MMIO; nothing is pinned or charged. */
static struct pinsim_vfio_stats do_mmio_map_test(uint64_t vaddr, uint64_t size)
{
	struct iova_allocator alloc;
	struct dma_region region = { .vaddr = vaddr, .size = size };
	struct pinsim_vfio_stats st;
	uint64_t unmapped = 0, phys = 0, leaf;

	iova_allocator_init(&alloc);
	region.iova = iova_allocator_alloc(&alloc, size);
	ck_assert_int_eq(iommu_map(&region), 0);
	st = vh_stats(container);
	ck_assert_uint_eq(st.last.pinned_pages, 0);
	ck_assert_uint_eq(st.last.pfnmap_pages, size / PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	/* The device sees the BAR's own pfns at every end of the range. */
	leaf = vh_iommu_leaf(&dev0, region.iova, &phys);
	ck_assert_uint_eq(phys >> 12, vh_page(vaddr).pfn);
	ck_assert(vh_page(vaddr).mmio);
	ck_assert_uint_eq(leaf, size >= GiB ? GiB : size >= 2 * MiB ? 2 * MiB : PG);
	vh_iommu_leaf(&dev0, region.iova + size - PG, &phys);
	ck_assert_uint_eq(phys >> 12, vh_page(vaddr + size - PG).pfn);

	ck_assert_int_eq(iommu_unmap(&region, &unmapped), 0);
	ck_assert_uint_eq(unmapped, size);
	vh_assert_no_iommu(&dev0, region.iova, size < 4 * MiB ? size : 4 * MiB);
	vh_assert_clean();
	return st;
}

START_TEST(test_mmio_map_full_bar_one_vaddr_get_pfns_per_pud_leaf)
{
	uint64_t size, vaddr;
	uint32_t bar = largest_mapped_bar(&size);
	struct pinsim_vfio_stats st;

	ck_assert_uint_eq(size, 2 * GiB);
	vaddr = vh_bar_mmap(&dev0, bar, 0, size, RW, 0);
	ck_assert_uint_eq(vaddr & (GiB - 1), 0);
	st = do_mmio_map_test(vaddr, size);
	/* One per 1G leaf since 0fd06844de5d (v6.15); one per page before. */
	ck_assert_uint_eq(st.last.vaddr_get_pfns,
			  vh_cfg.vfio_addr_mask_batching ? size / GiB : size / PG);
	ck_assert_uint_eq(st.last.faults, size / GiB);
	ck_assert_uint_eq(st.last.iommu_maps, 1);
	ck_assert_int_eq(vh_page(vaddr + size - PG).level, PINSIM_LEVEL_PUD);
}
END_TEST

START_TEST(test_mmio_map_partial_bar_one_page)
{
	uint64_t size, vaddr;
	uint32_t bar = largest_mapped_bar(&size);
	struct pinsim_vfio_stats st;

	ck_assert_uint_ge(size, 2 * PG);
	vaddr = vh_bar_mmap(&dev0, bar, 0, size, RW, 0);
	st = do_mmio_map_test(vaddr, PG);
	ck_assert_uint_eq(st.last.vaddr_get_pfns, 1);
	ck_assert_uint_eq(st.last.iommu_maps, 1);
}
END_TEST

/* mmap_reserve(): VA of @size at an address with (vaddr % align) == offset. */
static uint64_t mmap_reserve(uint64_t size, uint64_t align, uint64_t offset)
{
	uint64_t delta = align - offset, base, vaddr;

	ck_assert_uint_gt(align, offset);
	base = vh_mmap(size + align, PROT_NONE, ANON);
	vaddr = ((base + delta + align - 1) & ~(align - 1)) - delta;
	if (vaddr > base)
		ck_assert_int_eq(pinsim_munmap(proc, base, vaddr - base), 0);
	if (base + size + align > vaddr + size)
		ck_assert_int_eq(pinsim_munmap(proc, vaddr + size, base + align - vaddr), 0);
	return vaddr;
}

START_TEST(test_mmio_map_bar_misaligned_by_4k_faults_and_looks_up_per_pte)
{
	uint64_t bar_size, size, vaddr, got;
	uint32_t bar = largest_mapped_bar(&bar_size);
	struct pinsim_vfio_stats st;

	/* Limit size to bound test time for large BARs. */
	size = bar_size < GiB ? bar_size : GiB;
	vaddr = mmap_reserve(size, GiB, PG);
	ck_assert_uint_eq(vaddr & (GiB - 1), PG);
	got = vh_bar_mmap(&dev0, bar, vaddr, size, RW, 0);
	ck_assert_uint_eq(got, vaddr);

	st = do_mmio_map_test(vaddr, size);
	/* No 2M or 1G window of the VMA is pfn-aligned: PTE faults only. */
	ck_assert_uint_eq(st.last.vaddr_get_pfns, size / PG);
	ck_assert_uint_eq(st.last.faults, size / PG);
	ck_assert_uint_eq(st.last.iommu_maps, 1);	/* still one contiguous run */
	ck_assert_int_eq(vh_page(vaddr + size / 2).level, PINSIM_LEVEL_PTE);
	ck_assert_int_eq(pinsim_munmap(proc, vaddr, size), 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("selftests");
	void (*modes[2])(void) = { type1_setup, type1v2_setup };
	const char *names[2][3] = {
		{ "vfio_type1_iommu/dma_mapping", "vfio_type1_iommu/map_limit",
		  "vfio_type1_iommu/mmio" },
		{ "vfio_type1v2_iommu/dma_mapping", "vfio_type1v2_iommu/map_limit",
		  "vfio_type1v2_iommu/mmio" },
	};

	for (int m = 0; m < 2; m++) {
		TCase *tc = vh_tcase(s, names[m][0], modes[m]);

		tcase_add_test(tc, test_dma_map_unmap_anonymous_maps_a_4k_pte_leaf);
		tcase_add_test(tc, test_dma_map_unmap_anonymous_hugetlb_2mb_maps_a_pmd_leaf);
		tcase_add_test(tc, test_dma_map_unmap_anonymous_hugetlb_1gb_maps_a_pud_leaf);

		tc = vh_tcase(s, names[m][1], modes[m]);
		tcase_add_test(tc, test_map_limit_unmap_range_of_the_last_iova_page);
		tcase_add_test(tc, test_map_limit_unmap_all_with_the_last_iova_page);
		tcase_add_test(tc, test_map_limit_overflow_is_eoverflow_for_map_and_unmap);

		tc = vh_tcase(s, names[m][2], modes[m]);
		tcase_add_test(tc, test_mmio_map_full_bar_one_vaddr_get_pfns_per_pud_leaf);
		tcase_add_test(tc, test_mmio_map_partial_bar_one_page);
		tcase_add_test(tc, test_mmio_map_bar_misaligned_by_4k_faults_and_looks_up_per_pte);
	}
	return s;
}
