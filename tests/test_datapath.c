// SPDX-License-Identifier: GPL-2.0-only
/*
 * The data paths VFIO type1 sets up, end to end through the public API:
 * what the CPU writes at a vaddr is what a device reads at the iova it was
 * DMA-mapped to (4K, THP, 1G hugetlb), a device write is what the CPU then
 * reads, a device reads another device's BAR through the IOMMU
 * (peer-to-peer), and the IOMMU refuses what is no longer mapped or was
 * mapped without the permission.  The DMA engine checks every access
 * against the pin state: dma_violations must stay 0 throughout.
 */
#include "vfio_harness.h"

#define IOVA_A 0x100000ULL
#define IOVA_1G (4 * GiB)
#define XFER (3 * 4096 + 123)		/* crosses two page boundaries */

static int c;

static void dp_setup(void)
{
	vh_setup();
	c = vh_container(VFIO_TYPE1v2_IOMMU);
}

/* CPU writes at @va + offsets, the device reads at @iova + offsets. */
static void cpu_to_device(uint64_t va, uint64_t iova, uint64_t len, unsigned int seed)
{
	static unsigned char out[XFER], in[XFER];
	uint64_t offs[] = { 0, len / 2 - 4101, len - XFER };

	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		vh_pattern(out, XFER, seed + k);
		ck_assert_int_eq(pinsim_access(proc, va + offs[k], out, XFER, 1), XFER);
	}
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		vh_pattern(out, XFER, seed + k);
		memset(in, 0, XFER);
		ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, iova + offs[k], in, XFER, 0), XFER);
		ck_assert_msg(!memcmp(in, out, XFER), "device read differs at offset %#llx",
			      (unsigned long long)offs[k]);
	}
}

/* The device writes at @iova + offsets, the CPU reads at @va + offsets. */
static void device_to_cpu(uint64_t va, uint64_t iova, uint64_t len, unsigned int seed)
{
	static unsigned char out[XFER], in[XFER];
	uint64_t offs[] = { 4096 - 17, len / 2 + 333, len - XFER };

	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		ssize_t n;

		vh_pattern(out, XFER, seed + 10 * k);
		n = pinsim_dma(sim, dev0.group_id, iova + offs[k], out, XFER, 1);
		ck_assert_int_eq(n, XFER);
	}
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		vh_pattern(out, XFER, seed + 10 * k);
		memset(in, 0, XFER);
		ck_assert_int_eq(pinsim_access(proc, va + offs[k], in, XFER, 0), XFER);
		ck_assert_msg(!memcmp(in, out, XFER), "CPU read differs at offset %#llx",
			      (unsigned long long)offs[k]);
	}
}

/* The IOMMU translates every sampled page of the range to the CPU's frame. */
static void same_frames(uint64_t va, uint64_t iova, uint64_t len, uint64_t leaf)
{
	for (uint64_t off = 0; off < len; off += len / 8 > PG ? len / 8 : PG) {
		uint64_t phys;

		ck_assert_uint_eq(vh_iommu_leaf(&dev0, iova + off, &phys), leaf);
		ck_assert_uint_eq(phys >> 12, vh_page(va + off).pfn);
	}
}

START_TEST(test_cpu_write_is_device_read_through_iommu_4k)
{
	uint64_t va = vh_mmap(16 * PG, RW, ANON);

	vh_touch(va, 16 * PG, PG);
	vh_map_ok(c, va, IOVA_A, 16 * PG);
	same_frames(va, IOVA_A, 16 * PG, PG);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PTE);
	cpu_to_device(va, IOVA_A, 16 * PG, 1);
	/* Written again after the map: the same pinned frames carry it. */
	cpu_to_device(va, IOVA_A, 16 * PG, 2);
	vh_assert_clean();
}
END_TEST

START_TEST(test_cpu_write_is_device_read_through_iommu_thp)
{
	uint64_t va = vh_mmap(4 * MiB, RW, ANON);

	ck_assert_int_eq(pinsim_madvise(proc, va, 4 * MiB, MADV_HUGEPAGE), 0);
	vh_touch(va, 4 * MiB, 2 * MiB);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PMD);
	ck_assert_uint_eq(vh_page(va).folio_order, 9);
	ck_assert_int_eq(vh_map(c, va, IOVA_1G, 4 * MiB), 0);
	same_frames(va, IOVA_1G, 4 * MiB, 2 * MiB);
	cpu_to_device(va, IOVA_1G, 4 * MiB, 3);
	cpu_to_device(va, IOVA_1G, 4 * MiB, 4);
	vh_assert_clean();
}
END_TEST

START_TEST(test_cpu_write_is_device_read_through_iommu_1g_hugetlb)
{
	uint64_t va = vh_mmap(GiB, RW, HUGE_1G);

	vh_touch(va, GiB, GiB);
	vh_map_ok(c, va, IOVA_1G, GiB);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PUD);
	same_frames(va, IOVA_1G, GiB, GiB);
	cpu_to_device(va, IOVA_1G, GiB, 5);
	vh_assert_clean();
}
END_TEST

START_TEST(test_device_write_is_seen_by_cpu_4k_thp_1g)
{
	uint64_t a = vh_mmap(16 * PG, RW, ANON);
	uint64_t t = vh_mmap(2 * MiB, RW, ANON);
	uint64_t g = vh_mmap(GiB, RW, HUGE_1G);

	ck_assert_int_eq(pinsim_madvise(proc, t, 2 * MiB, MADV_HUGEPAGE), 0);
	/* Not touched: MAP_DMA's pin faults them in, writable. */
	vh_map_ok(c, a, IOVA_A, 16 * PG);
	vh_map_ok(c, t, IOVA_1G, 2 * MiB);
	vh_map_ok(c, g, 2 * IOVA_1G, GiB);
	ck_assert_int_eq(vh_page(t).level, PINSIM_LEVEL_PMD);
	device_to_cpu(a, IOVA_A, 16 * PG, 6);
	device_to_cpu(t, IOVA_1G, 2 * MiB, 7);
	device_to_cpu(g, 2 * IOVA_1G, GiB, 8);
	/* The data outlives the mapping: unmapping unpins, it frees nothing. */
	vh_unmap_ok(c, IOVA_1G, 2 * MiB);
	{
		unsigned char out[XFER], in[XFER];

		vh_pattern(out, XFER, 7 + 10);
		ck_assert_int_eq(pinsim_access(proc, t + MiB + 333, in, XFER, 0), XFER);
		ck_assert_int_eq(memcmp(in, out, XFER), 0);
	}
	vh_assert_clean();
}
END_TEST

/*
 * Peer-to-peer: dev1 in a container of its own gives the process its BAR;
 * that BAR mapping is DMA-mapped into dev0's container, and dev0 reads and
 * writes dev1's MMIO bytes through its IOMMU.
 */
START_TEST(test_device_reads_and_writes_peer_bar_through_iommu)
{
	int c1 = vh_open_container();
	uint64_t bar, phys;
	unsigned char out[XFER], in[XFER];

	vh_group_set_container(&dev1, c1);
	ck_assert_int_eq(pinsim_ioctl(proc, c1, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), 0);
	vh_get_device(&dev1);
	bar = vh_bar_mmap(&dev1, 0, 0, GiB, RW, 0);

	vh_pattern(out, XFER, 9);
	ck_assert_int_eq(pinsim_access(proc, bar + 300 * MiB + 5, out, XFER, 1), XFER);
	ck_assert(vh_page(bar).mmio);
	vh_map_ok(c, bar, IOVA_1G, GiB);
	ck_assert_uint_eq(vh_stats(c).last.pfnmap_pages, GiB / PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_1G, &phys), GiB);
	ck_assert_uint_eq(phys >> 12, vh_page(bar).pfn);

	memset(in, 0, XFER);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_1G + 300 * MiB + 5, in, XFER, 0),
			 XFER);
	ck_assert_int_eq(memcmp(in, out, XFER), 0);

	vh_pattern(out, XFER, 10);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_1G + GiB - XFER, out, XFER, 1), XFER);
	memset(in, 0, XFER);
	ck_assert_int_eq(pinsim_access(proc, bar + GiB - XFER, in, XFER, 0), XFER);
	ck_assert_int_eq(memcmp(in, out, XFER), 0);

	/* dev1 is not behind dev0's container: it cannot reach that iova. */
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, dev1.group_id, IOVA_1G, in, 16, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	vh_assert_clean();
}
END_TEST

START_TEST(test_dma_after_unmap_faults_and_is_counted)
{
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	unsigned char buf[XFER];
	struct pinsim_stats before, after;

	vh_touch(va, 4 * PG, PG);
	vh_map_ok(c, va, IOVA_A, 4 * PG);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A, buf, XFER, 0), XFER);
	vh_unmap_ok(c, IOVA_A, 4 * PG);
	before = vh_sim_stats();
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A, buf, XFER, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A + PG, buf, 16, 1), -1);
	ck_assert_int_eq(errno, EFAULT);
	after = vh_sim_stats();
	ck_assert_uint_eq(after.dma_faults, before.dma_faults + 2);

	/* A transfer running off the end of a mapping faults too. */
	vh_map_ok(c, va, IOVA_A, PG);
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A + PG - 8, buf, 16, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_uint_eq(vh_sim_stats().dma_faults, after.dma_faults + 1);
	vh_assert_clean();
}
END_TEST

START_TEST(test_dma_write_into_read_only_mapping_faults_and_changes_nothing)
{
	uint64_t ro = vh_mmap(4 * PG, RW, ANON), wo = vh_mmap(4 * PG, RW, ANON);
	unsigned char out[XFER], in[XFER], junk[XFER];
	struct pinsim_stats before;

	vh_pattern(out, XFER, 11);
	ck_assert_int_eq(pinsim_access(proc, ro + 7, out, XFER, 1), XFER);
	/* READ: the device may read memory, not write it. */
	ck_assert_int_eq(vh_map_flags(c, ro, IOVA_A, 4 * PG, VFIO_DMA_MAP_FLAG_READ), 0);
	ck_assert_int_eq(vh_map_flags(c, wo, IOVA_A + 4 * PG, 4 * PG, VFIO_DMA_MAP_FLAG_WRITE), 0);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A + 7, in, XFER, 0), XFER);
	ck_assert_int_eq(memcmp(in, out, XFER), 0);

	before = vh_sim_stats();
	memset(junk, 0x5a, sizeof(junk));
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A + 7, junk, XFER, 1), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_uint_eq(vh_sim_stats().dma_faults, before.dma_faults + 1);
	ck_assert_int_eq(pinsim_access(proc, ro + 7, in, XFER, 0), XFER);
	ck_assert_int_eq(memcmp(in, out, XFER), 0);

	/* WRITE only: the device may write, not read. */
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A + 4 * PG, junk, 64, 1), 64);
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A + 4 * PG, in, 64, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_int_eq(pinsim_access(proc, wo, in, 64, 0), 64);
	ck_assert_int_eq(memcmp(in, junk, 64), 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_dma_after_container_release_faults)
{
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	unsigned char buf[64];

	vh_map_ok(c, va, IOVA_A, 4 * PG);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A, buf, sizeof(buf), 1), sizeof(buf));
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	vh_assert_unpinned(va, 4 * PG);
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA_A, buf, sizeof(buf), 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	vh_assert_clean();
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("datapath");
	TCase *tc = vh_tcase(s, "datapath", dp_setup);

	tcase_add_test(tc, test_cpu_write_is_device_read_through_iommu_4k);
	tcase_add_test(tc, test_cpu_write_is_device_read_through_iommu_thp);
	tcase_add_test(tc, test_cpu_write_is_device_read_through_iommu_1g_hugetlb);
	tcase_add_test(tc, test_device_write_is_seen_by_cpu_4k_thp_1g);
	tcase_add_test(tc, test_device_reads_and_writes_peer_bar_through_iommu);
	tcase_add_test(tc, test_dma_after_unmap_faults_and_is_counted);
	tcase_add_test(tc, test_dma_write_into_read_only_mapping_faults_and_changes_nothing);
	tcase_add_test(tc, test_dma_after_container_release_faults);
	return s;
}
