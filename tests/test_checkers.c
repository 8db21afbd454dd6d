// SPDX-License-Identifier: GPL-2.0-only
/*
 * Issue 15: MADV_DONTNEED (mm/madvise.c madvise_dontneed_free(), 6.12) and
 * the checkers that make its consequence visible.  Each checker has a case
 * that makes it fire and one where the same steps without the fault leave
 * it silent:
 *  - dma-coherency: a device DMA into a pinned page that MADV_DONTNEED took
 *    from its address (the CPU now reads a fresh zero page there);
 *  - dma-unpinned: the existing use-after-unpin check, now a report too;
 *  - walk-repeat: a page walk that hands a range to a callback twice
 *    without ACTION_AGAIN for it: the stale walk->action of 6.12.84 to
 *    6.12.114 ("mm/pagewalk: fix stale walk->action escaping
 *    walk_pmd_range()") re-walks a PUD range.
 */
#include <linux/mman.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vfio_harness.h"
#include "kill_unmap_race.h"
#include "mm_fixtures.h"

#include "checker.h"
#include "iommu.h"
#include "kernel_profiles.h"
#include "pagewalk.h"
#include "scheduler.h"

#define IOVA 0x100000000ULL

static int nr_reports(const char *kind)
{
	struct pinsim_checker_report r[8];
	int n = pinsim_checker_reports(sim, r, 8), hits = 0;

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n && i < 8; i++)
		if (!strcmp(r[i].kind, kind))
			hits++;
	return hits;
}

static void first_report(const char *kind, struct pinsim_checker_report *out)
{
	struct pinsim_checker_report r[8];
	int n = pinsim_checker_reports(sim, r, 8);

	for (int i = 0; i < n && i < 8; i++) {
		if (!strcmp(r[i].kind, kind)) {
			*out = r[i];
			return;
		}
	}
	ck_abort_msg("no %s report", kind);
}

static void ck_setup(void)
{
	vh_setup();
	ck_assert_int_eq(pinsim_checker_reset(sim), 0);
}

/* ---------------- MADV_DONTNEED itself ---------------- */

/* Anonymous pages: dropped, read back as zero, refaulted at a new frame. */
START_TEST(test_dontneed_anon_reads_zero_and_keeps_the_rest)
{
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	unsigned char b;

	vh_touch(va, 4 * PG, PG);
	ck_assert_int_eq(pinsim_madvise(proc, va + PG, 2 * PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PTE);
	ck_assert_int_eq(vh_page(va + PG).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(vh_page(va + 2 * PG).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(vh_page(va + 3 * PG).level, PINSIM_LEVEL_PTE);
	ck_assert_int_eq(pinsim_access(proc, va + PG, &b, 1, 0), 1);
	ck_assert_uint_eq(b, 0);
	ck_assert_int_eq(pinsim_access(proc, va + 3 * PG, &b, 1, 0), 1);
	ck_assert_uint_eq(b, 3);
	/* The VMA stays: a discard is not an munmap. */
	ck_assert_int_eq(pinsim_madvise(proc, va, 4 * PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(pinsim_access(proc, va, &b, 1, 0), 1);
	ck_assert_uint_eq(b, 0);
}
END_TEST

/*
 * madvise_dontneed_free_valid_vma(): VM_PFNMAP and (without _LOCKED)
 * VM_LOCKED refused; an unmapped hole is ENOMEM after the mapped part.
 */
START_TEST(test_dontneed_refuses_pfnmap_and_locked)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t bar = vh_bar_mmap(&dev0, 2, 0, 2 * MiB, RW, 0);
	uint64_t va = vh_mmap(2 * PG, RW, ANON);

	(void)c;
	errno = 0;
	ck_assert_int_eq(pinsim_madvise(proc, bar, PG, MADV_DONTNEED), -1);
	ck_assert_int_eq(errno, EINVAL);
	vh_touch(va, 2 * PG, PG);
	ck_assert_int_eq(pinsim_mlock(proc, va, 2 * PG, 0), 0);
	errno = 0;
	ck_assert_int_eq(pinsim_madvise(proc, va, PG, MADV_DONTNEED), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PTE);
	ck_assert_int_eq(pinsim_madvise(proc, va, PG, MADV_DONTNEED_LOCKED), 0);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(vh_page(va + PG).level, PINSIM_LEVEL_PTE);
	/* Unmapped: ENOMEM. */
	ck_assert_int_eq(pinsim_munmap(proc, va + PG, PG), 0);
	errno = 0;
	ck_assert_int_eq(pinsim_madvise(proc, va, 2 * PG, MADV_DONTNEED_LOCKED), -1);
	ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

/* hugetlb: aligned start only, end rounded down (6.12 ALIGN_DOWN). */
START_TEST(test_dontneed_hugetlb_whole_pages_only)
{
	uint64_t va = vh_mmap(4 * MiB, RW, HUGE_2M);

	vh_touch(va, 4 * MiB, 2 * MiB);
	errno = 0;
	ck_assert_int_eq(pinsim_madvise(proc, va + PG, PG, MADV_DONTNEED), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* Less than a huge page: rounded down to nothing. */
	ck_assert_int_eq(pinsim_madvise(proc, va, 2 * MiB - PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PMD);
	/* One and a half: the first goes, the second stays. */
	ck_assert_int_eq(pinsim_madvise(proc, va, 3 * MiB, MADV_DONTNEED), 0);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(vh_page(va + 2 * MiB).level, PINSIM_LEVEL_PMD);
}
END_TEST

/* THP: a partly covered PMD is split and only the range dropped; a whole one cleared. */
START_TEST(test_dontneed_thp_partial_splits_full_clears)
{
	uint64_t raw = vh_mmap(8 * MiB, RW, ANON);
	uint64_t va = (raw + 2 * MiB - 1) & ~(2 * MiB - 1);
	unsigned char b = 0x5a;

	ck_assert_int_eq(pinsim_madvise(proc, va, 4 * MiB, MADV_HUGEPAGE), 0);
	ck_assert_int_eq(pinsim_access(proc, va + 5 * PG, &b, 1, 1), 1);
	ck_assert_int_eq(pinsim_access(proc, va + 2 * MiB, &b, 1, 1), 1);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PMD);
	ck_assert_int_eq(vh_page(va + 2 * MiB).level, PINSIM_LEVEL_PMD);

	ck_assert_int_eq(pinsim_madvise(proc, va + 4 * PG, PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PTE);
	ck_assert_int_eq(vh_page(va + 4 * PG).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(vh_page(va + 5 * PG).level, PINSIM_LEVEL_PTE);
	b = 0;
	ck_assert_int_eq(pinsim_access(proc, va + 5 * PG, &b, 1, 0), 1);
	ck_assert_uint_eq(b, 0x5a);

	ck_assert_int_eq(pinsim_madvise(proc, va + 2 * MiB, 2 * MiB, MADV_DONTNEED), 0);
	ck_assert_int_eq(vh_page(va + 2 * MiB).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(pinsim_access(proc, va + 2 * MiB, &b, 1, 0), 1);
	ck_assert_uint_eq(b, 0);
}
END_TEST

/* ---------------- the DMA coherency checker ---------------- */

/*
 * A DMA-mapped page discarded, the guest touches it (a new zero page), the
 * device writes: the write lands in the old page, still pinned, with its
 * old contents; the CPU reads zeros.  Reported once, with both pfns.
 */
START_TEST(test_dma_into_discarded_and_refaulted_page_is_a_coherency_violation)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	struct pinsim_checker_report r;
	struct pinsim_page_info old, now;
	unsigned char data[16] = "device data", cpu[16] = { 0 }, dev[16] = { 0 };
	char want[64];

	vh_touch(va, 4 * PG, PG);
	vh_map_ok(c, va, IOVA, 4 * PG);
	old = vh_page(va + PG);
	ck_assert_int_eq(pinsim_madvise(proc, va, 4 * PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(nr_reports("dma-coherency"), 0);
	/* The pinned page is not freed: still pinned, still holding its byte. */
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA + PG, dev, 1, 0), 1);
	ck_assert_uint_eq(dev[0], 1);
	ck_assert_int_eq(nr_reports("dma-coherency"), 1);	/* read: "maps nothing" */
	ck_assert_int_eq(pinsim_checker_reset(sim), 0);

	/* The guest touches it again: a fresh zero page at another frame. */
	ck_assert_int_eq(pinsim_access(proc, va + 2 * PG, cpu, 1, 0), 1);
	ck_assert_uint_eq(cpu[0], 0);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA + 2 * PG, data, sizeof(data), 1),
			 sizeof(data));
	ck_assert_int_eq(pinsim_access(proc, va + 2 * PG, cpu, sizeof(cpu), 0), sizeof(cpu));
	ck_assert_mem_ne(cpu, data, sizeof(data));
	ck_assert_int_eq(nr_reports("dma-coherency"), 1);
	first_report("dma-coherency", &r);
	harness_expect_checker(CHECK_DMA_COHERENCY, 1);	/* since the reset */
	now = vh_page(va + 2 * PG);
	snprintf(want, sizeof(want), "now maps pfn 0x%llx", (unsigned long long)now.pfn);
	ck_assert_msg(strstr(r.text, want), "%s", r.text);
	ck_assert_msg(strstr(r.text, "coherency violation: DMA write IOVA 0x100002000"), "%s",
		      r.text);
	ck_assert_msg(strstr(r.text, "MADV_DONTNEED"), "%s", r.text);
	ck_assert_int_ne(now.pfn, old.pfn + 1);
	/* The same page in the same state is reported once. */
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA + 2 * PG, data, 1, 1), 1);
	ck_assert_int_eq(nr_reports("dma-coherency"), 1);
	ck_assert_int_eq(nr_reports("dma-unpinned"), 0);
	vh_unmap_ok(c, IOVA, 4 * PG);
}
END_TEST

/* The same steps without the discard: the device and the CPU agree, no report. */
START_TEST(test_dma_without_discard_reports_nothing)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	unsigned char data[16] = "device data", cpu[16] = { 0 };

	vh_touch(va, 4 * PG, PG);
	vh_map_ok(c, va, IOVA, 4 * PG);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA + 2 * PG, data, sizeof(data), 1),
			 sizeof(data));
	ck_assert_int_eq(pinsim_access(proc, va + 2 * PG, cpu, sizeof(cpu), 0), sizeof(cpu));
	ck_assert_mem_eq(cpu, data, sizeof(data));
	/* A discard of memory the device does not reach: still nothing. */
	va = vh_mmap(4 * PG, RW, ANON);
	vh_touch(va, 4 * PG, PG);
	ck_assert_int_eq(pinsim_madvise(proc, va, 4 * PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA, data, 4, 1), 4);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
	vh_unmap_ok(c, IOVA, 4 * PG);
}
END_TEST

/* THP: a DMA-mapped huge page discarded whole; the device write is reported. */
START_TEST(test_dma_into_discarded_thp_is_a_coherency_violation)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t raw = vh_mmap(4 * MiB, RW, ANON);
	uint64_t va = (raw + 2 * MiB - 1) & ~(2 * MiB - 1);
	unsigned char b = 7;

	ck_assert_int_eq(pinsim_madvise(proc, va, 2 * MiB, MADV_HUGEPAGE), 0);
	ck_assert_int_eq(pinsim_access(proc, va, &b, 1, 1), 1);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PMD);
	vh_map_ok(c, va, IOVA, 2 * MiB);
	ck_assert_int_eq(pinsim_madvise(proc, va, 2 * MiB, MADV_DONTNEED), 0);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(pinsim_access(proc, va + MiB, &b, 1, 0), 1);
	ck_assert_uint_eq(b, 0);
	b = 9;
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA + MiB, &b, 1, 1), 1);
	ck_assert_int_eq(nr_reports("dma-coherency"), 1);
	harness_expect_checker(CHECK_DMA_COHERENCY, 1);
	vh_unmap_ok(c, IOVA, 2 * MiB);
}
END_TEST

/* The checkers off: nothing reported, the DMA still goes to the old page. */
START_TEST(test_checkers_off_report_nothing)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(PG, RW, ANON);
	unsigned char b = 1;

	vh_touch(va, PG, PG);
	vh_map_ok(c, va, IOVA, PG);
	ck_assert_int_eq(pinsim_set_checkers(sim, PINSIM_CHECKERS_OFF), 0);
	ck_assert_int_eq(pinsim_madvise(proc, va, PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(pinsim_access(proc, va, &b, 1, 0), 1);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA, &b, 1, 1), 1);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
	ck_assert_int_eq(pinsim_set_checkers(sim, PINSIM_CHECKERS_CONTROLLED), 0);
	vh_unmap_ok(c, IOVA, PG);
}
END_TEST

/*
 * pin-leak: the scan pinsim_destroy() runs with the checkers on everywhere,
 * called here while a pin is still held (as if a container had closed and
 * left it), then after the unpin.
 */
START_TEST(test_pin_left_after_close_is_reported)
{
	uint64_t va = vh_mmap(2 * PG, RW, ANON);
	struct pinsim_checker_report r;
	struct pinsim_pin *pin;

	vh_touch(va, 2 * PG, PG);
	ck_assert_uint_eq(dma_check_pins_released(), 0);
	ck_assert_int_eq(nr_reports("pin-leak"), 0);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, va, 2 * PG, 1, &pin), 0);
	ck_assert_uint_eq(dma_check_pins_released(), 2);
	ck_assert_int_eq(nr_reports("pin-leak"), 1);
	first_report("pin-leak", &r);
	harness_expect_checker(CHECK_PIN_LEAK, 1);
	ck_assert_msg(strstr(r.text, "2 folios still pinned"), "%s", r.text);
	ck_assert_int_eq(pinsim_unpin_user_pages(pin), 0);
	ck_assert_uint_eq(dma_check_pins_released(), 0);
	ck_assert_int_eq(nr_reports("pin-leak"), 1);
}
END_TEST

/* ---------------- pinsim_sched_result.checker_reports ---------------- */

struct dma_arg {
	uint64_t iova;
};

/* A device read of one byte at @iova, from a controlled thread. */
static long sched_dma_read(void *arg)
{
	struct dma_arg *a = arg;
	unsigned char b;

	return pinsim_dma(sim, dev0.group_id, a->iova, &b, 1, 0);
}

/*
 * A controlled run says how many checker reports it drew (lib/sched_api.c),
 * so that a search (examples/race-repro.c) stops on the first without
 * diffing counters: 0 for a DMA to a page the process still maps, 1 for
 * the same DMA once MADV_DONTNEED took the page (dma-coherency); the count
 * is this run's, not the process's.
 */
START_TEST(test_sched_result_counts_the_checker_reports_of_its_run)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	struct dma_arg a = { .iova = IOVA + PG };
	struct pinsim_thread t = { .name = "dma", .proc = proc, .fn = sched_dma_read, .arg = &a };
	struct pinsim_sched_result *res = calloc(1, sizeof(*res));

	ck_assert_ptr_nonnull(res);
	vh_touch(va, 4 * PG, PG);
	vh_map_ok(c, va, IOVA, 4 * PG);
	ck_assert_int_eq(pinsim_sched_run(sim, &t, 1, NULL, res), 0);
	ck_assert_int_eq(t.ret, 1);
	ck_assert_uint_eq(res->checker_reports, 0);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);

	ck_assert_int_eq(pinsim_madvise(proc, va, 4 * PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(pinsim_sched_run(sim, &t, 1, NULL, res), 0);
	ck_assert_int_eq(t.ret, 1);
	ck_assert_uint_eq(res->checker_reports, 1);
	ck_assert_int_eq(nr_reports("dma-coherency"), 1);

	/* Another page: this run's one report, though the process holds two. */
	a.iova = IOVA + 2 * PG;
	ck_assert_int_eq(pinsim_sched_run(sim, &t, 1, NULL, res), 0);
	ck_assert_uint_eq(res->checker_reports, 1);
	ck_assert_int_eq(nr_reports("dma-coherency"), 2);
	harness_expect_checker(CHECK_DMA_COHERENCY, 2);
	free(res);
	vh_unmap_ok(c, IOVA, 4 * PG);
}
END_TEST

/* ---------------- numa_maps counts (sim/task_mmu.c show_numa_map()) ---------------- */

/*
 * A count above the VMA's pages (forced here: no correct walk makes one)
 * is reported, with the key and the VMA; OFF reports nothing.
 */
START_TEST(test_numa_count_above_the_vma_pages_is_reported)
{
	static const char *const names[] = { "mapped", "anon", "dirty" };
	const unsigned long fit[] = { 4, 4, 0 }, over[] = { 4, 5, 9 };
	struct pinsim_checker_report r;

	ck_assert(checker_numa_counts(0x7f0000000000UL, 4, names, fit, 3));
	ck_assert_int_eq(nr_reports("numa-maps-count"), 0);
	ck_assert(!checker_numa_counts(0x7f0000000000UL, 4, names, over, 3));
	ck_assert_int_eq(nr_reports("numa-maps-count"), 1);	/* the first count above only */
	first_report("numa-maps-count", &r);
	harness_expect_checker(CHECK_NUMA_MAPS_COUNT, 1);
	ck_assert_msg(strstr(r.text, "VMA at 0x7f0000000000: anon=5 above the 4 pages"), "%s",
		      r.text);
	ck_assert_int_eq(pinsim_set_checkers(sim, PINSIM_CHECKERS_OFF), 0);
	ck_assert(checker_numa_counts(0x7f0000000000UL, 4, names, over, 3));
	ck_assert_int_eq(pinsim_set_checkers(sim, PINSIM_CHECKERS_CONTROLLED), 0);
	ck_assert_int_eq(nr_reports("numa-maps-count"), 1);
}
END_TEST

/*
 * Real reads, checked after every VMA's walk: anonymous pages, a THP, a
 * hugetlb page, DMA-pinned pages: the counts fit and nothing is reported,
 * while the reads do count pages (the check saw non-zero counts).
 */
START_TEST(test_numa_maps_real_reads_fit_their_vmas)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	uint64_t raw = vh_mmap(4 * MiB, RW, ANON);
	uint64_t thp = (raw + 2 * MiB - 1) & ~(2 * MiB - 1);
	uint64_t huge = vh_mmap(2 * MiB, RW, HUGE_2M);
	unsigned char b = 1;
	char *buf = malloc(65536);

	ck_assert_ptr_nonnull(buf);
	vh_touch(va, 4 * PG, PG);
	vh_map_ok(c, va, IOVA, 4 * PG);
	ck_assert_int_eq(pinsim_madvise(proc, thp, 2 * MiB, MADV_HUGEPAGE), 0);
	ck_assert_int_eq(pinsim_access(proc, thp, &b, 1, 1), 1);
	vh_touch(huge, 2 * MiB, 2 * MiB);
	ck_assert_int_eq(pinsim_set_checkers(sim, PINSIM_CHECKERS_ALWAYS), 0);
	ck_assert_int_gt(pinsim_read_numa_maps(proc, buf, 65536), 0);
	ck_assert_int_eq(pinsim_set_checkers(sim, PINSIM_CHECKERS_CONTROLLED), 0);
	ck_assert_msg(strstr(buf, "anon=4 "), "%s", buf);
	ck_assert_msg(strstr(buf, "anon=512 "), "%s", buf);
	ck_assert_msg(strstr(buf, " huge "), "%s", buf);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
	free(buf);
	vh_unmap_ok(c, IOVA, 4 * PG);
}
END_TEST

/* ---------------- locked_vm (lib/vfio_iommu_type1.c) ---------------- */

/*
 * A SIGKILLed process unmaps while a numa_maps reader holds its mmap_lock:
 * vfio_unmap_unpin() unpins, but vfio_lock_acct()'s killable
 * mmap_write_lock fails and the unmap ignores that, as the kernel's does:
 * the pages stay charged to the live process's locked_vm with no mapping
 * accounting for them.  The checker reports it, in the run that did it,
 * with its schedule.  Without the contention the lock's fast path succeeds
 * and nothing is reported (the seeds where the reader was not holding it).
 */
START_TEST(test_unmap_by_a_killed_process_leaving_locked_vm_is_reported)
{
	struct pinsim_sched_result *res = calloc(1, sizeof(*res));
	struct kill_race k = { 0 };
	struct pinsim_checker_report r;

	ck_assert_ptr_nonnull(res);
	kill_unmap_race_run(&k, IOVA, res);
	ck_assert_int_eq(nr_reports("locked-vm"), 1);
	first_report("locked-vm", &r);
	harness_expect_checker(CHECK_LOCKED_VM, 1);
	ck_assert_msg(strstr(r.text, "IOVA [0x100000000, 0x100004000) unpinned but 4 pages still "
				     "charged"),
		      "%s", r.text);
	free(res);
}
END_TEST

/* Map, partial and whole unmaps, release: the ledger and the tree agree. */
START_TEST(test_locked_vm_balanced_over_maps_and_unmaps_reports_nothing)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(8 * PG, RW, ANON);
	uint64_t before = vh_locked_vm();

	vh_touch(va, 8 * PG, PG);
	vh_map_ok(c, va, IOVA, 4 * PG);
	vh_map_ok(c, va + 4 * PG, IOVA + 4 * PG, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before + 8);
	vh_unmap_ok(c, IOVA, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before + 4);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
	vh_unmap_ok(c, IOVA + 4 * PG, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
}
END_TEST

/* ---------------- the walker checker (sim level) ---------------- */

struct hole_log {
	unsigned long holes, pmds;
};

static int count_hole(unsigned long addr, unsigned long next, int depth, struct mm_walk *walk)
{
	struct hole_log *l = walk->private;

	(void)addr, (void)next, (void)depth;
	l->holes++;
	return 0;
}

static int count_pmd(pmd_t *pmd, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	struct hole_log *l = walk->private;

	(void)pmd, (void)addr, (void)next;
	l->pmds++;
	return 0;
}

static int noop_pte(pte_t *pte, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	(void)pte, (void)addr, (void)next, (void)walk;
	return 0;
}

#define BAR_VA 0x7f0000000000UL

/*
 * test_pagewalk.c's stale-action case under the checker: a BAR faulted at
 * PMD order, walked with ->pte_entry: the splits leave PMDs none, the
 * walker's own ACTION_AGAIN retries them (allowed), and on 6.12.84 to
 * 6.12.114 the stale action re-walks the whole PUD: every PMD hole is
 * handed to ->pte_hole twice, which the checker reports; 6.12.118 walks
 * each once and the checker is silent.
 */
static void stale_walk(const char *kernel, unsigned long *holes)
{
	const struct mm_walk_ops ops = {
		.pmd_entry = count_pmd, .pte_entry = noop_pte, .pte_hole = count_hole,
		.walk_lock = PGWALK_RDLOCK,
	};
	struct machine_config mc;
	struct vfio_type1_config vc;
	struct vfio_pci_core_device *vdev;
	struct hole_log l = { 0 };
	struct mm_struct *mm;

	tm_defaults(&tm_cfg);
	ck_assert_int_eq(kernel_profile_configs(kernel, &mc, &vc), 0);
	tm_cfg.pagewalk_fixed = mc.pagewalk_fixed;
	tm_cfg.pagewalk_stale_action_fix = mc.pagewalk_stale_action_fix;
	tm_cfg.max_bar_fault_order = PMD_ORDER;
	tm_setup_with(&tm_cfg);
	checker_reset();
	checker_set_mode(CHECKER_ALWAYS);
	mm = tm_mm("walker");
	vdev = make_bar(GiB);
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);
	touch(mm, BAR_VA + 2 * MiB, false);
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_vma(vma_lookup(mm, BAR_VA), &ops, &l), 0);
	mmap_read_unlock(mm);
	checker_set_mode(CHECKER_SCHED);
	*holes = l.holes;
	mmput(mm);
}

START_TEST(test_walker_range_handed_twice_is_reported)
{
	unsigned long holes;
	char text[CHECKER_REPORT_LEN];
	enum checker_kind kind;

	stale_walk("6.12.114", &holes);
	ck_assert_uint_eq(holes, 1024);	/* the PUD range walked twice */
	ck_assert_uint_eq(checker_count(CHECK_WALK_REPEAT), 1);	/* one report per walk */
	ck_assert(checker_report_get(0, &kind, text, sizeof(text), NULL, 0));
	ck_assert_int_eq(kind, CHECK_WALK_REPEAT);
	ck_assert_msg(strstr(text, "pte_hole handed [0x7f0000000000, 0x7f0000200000) again"),
		      "%s", text);
	checker_reset();
}
END_TEST

START_TEST(test_walker_fixed_kernel_hands_each_range_once)
{
	unsigned long holes;

	stale_walk("6.12.118", &holes);
	ck_assert_uint_eq(holes, 512);
	ck_assert_uint_eq(checker_total(), 0);
}
END_TEST

/* A callback that asks ACTION_AGAIN gets its range again: not reported. */
static int again_once(pmd_t *pmd, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	struct hole_log *l = walk->private;

	(void)pmd, (void)addr, (void)next;
	if (l->pmds++ == 0)
		walk->action = ACTION_AGAIN;
	return 0;
}

START_TEST(test_walker_action_again_is_not_a_repeat)
{
	const struct mm_walk_ops ops = { .pmd_entry = again_once, .walk_lock = PGWALK_RDLOCK };
	struct hole_log l = { 0 };
	struct mm_struct *mm;
	unsigned long va;

	checker_reset();
	checker_set_mode(CHECKER_ALWAYS);
	mm = tm_mm("walker");
	va = vm_mmap(mm, NULL, BAR_VA, 4 * MiB, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0);
	ck_assert_uint_eq(va, BAR_VA);
	touch(mm, va, true);
	touch(mm, va + 2 * MiB, true);
	mmap_read_lock(mm);
	ck_assert_int_eq(walk_page_range(mm, va, va + 4 * MiB, &ops, &l), 0);
	mmap_read_unlock(mm);
	checker_set_mode(CHECKER_SCHED);
	ck_assert_uint_eq(l.pmds, 3);
	ck_assert_uint_eq(checker_total(), 0);
	mmput(mm);
}
END_TEST

/* ---------------- dma-unpinned in a controlled run ---------------- */

struct unpinned_dma {
	struct iommu_domain *d;
	struct folio *f;
	long dma;
};

/* A device driver that maps a frame and lets the device write it. */
static long map_and_dma(void *arg)
{
	struct unpinned_dma *u = arg;
	char b = 'd';
	int err;

	err = iommu_map(u->d, GiB, (phys_addr_t)folio_pfn(u->f) << PAGE_SHIFT, PAGE_SIZE,
			IOMMU_READ | IOMMU_WRITE);
	if (err)
		return err;
	sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);
	u->dma = iommu_dma_rw(u->d, GiB, &b, 1, true);
	return 0;
}

static long pass_points(void *arg)
{
	(void)arg;
	sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);
	sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);
	return 0;
}

/* One default controlled run of map_and_dma() beside a thread passing points. */
static void run_map_and_dma(struct unpinned_dma *u, struct sched_result *res)
{
	struct sched_thread t[2] = {
		{ .name = "driver", .fn = map_and_dma, .arg = u },
		{ .name = "bystander", .fn = pass_points },
	};
	struct sched_strategy st;

	sched_strategy_init(&st);
	ck_assert_int_eq(sched_run(t, 2, &st, res), 0);
	ck_assert_int_eq(res->status, SCHED_DONE);
	ck_assert_int_eq(t[0].ret, 0);
	ck_assert_int_eq(u->dma, 1);
}

/*
 * vfio_pin_map_dma() pins before vfio_iommu_map(): an IOMMU translation to
 * a RAM frame nobody pinned is reported when it is made (iommu_map(), the
 * checkers on: a controlled run) and when the device reaches the frame
 * (dma_target(), every mode but OFF), each with the schedule that replays
 * it.  The same run with the frame pinned reports nothing.
 */
START_TEST(test_map_and_dma_of_an_unpinned_frame_are_reported_with_the_schedule)
{
	struct unpinned_dma u = { .d = iommu_domain_alloc(IOMMU_DEFAULT_PGSIZES) };
	struct sched_result *res = calloc(1, sizeof(*res));
	char text[CHECKER_REPORT_LEN], sched[256], want[96];
	enum checker_kind kind;

	ck_assert_ptr_nonnull(res);
	ck_assert_ptr_nonnull(u.d);
	u.f = folio_alloc(0, PGTY_anon);
	ck_assert_ptr_nonnull(u.f);
	checker_set_mode(CHECKER_SCHED);
	folio_ref_add(u.f, GUP_PIN_COUNTING_BIAS);	/* pinned: silent */
	run_map_and_dma(&u, res);
	ck_assert_uint_eq(checker_total(), 0);
	ck_assert_uint_eq(iommu_unmap(u.d, GiB, PAGE_SIZE), PAGE_SIZE);
	folio_ref_add(u.f, -(int)GUP_PIN_COUNTING_BIAS);

	run_map_and_dma(&u, res);
	printf("# schedule %s\n", res->schedule);
	ck_assert_uint_eq(checker_count(CHECK_DMA_UNPINNED), 2);
	harness_expect_checker(CHECK_DMA_UNPINNED, 2);
	ck_assert(checker_report_get(0, &kind, text, sizeof(text), sched, sizeof(sched)));
	ck_assert_int_eq(kind, CHECK_DMA_UNPINNED);
	snprintf(want, sizeof(want), "iommu_map() of IOVA 0x40000000 to pfn 0x%lx, which is not pinned",
		 folio_pfn(u.f));
	ck_assert_msg(strstr(text, want), "%s", text);
	/* Each report's schedule is the run's up to it: a prefix, longer for the later one. */
	ck_assert_str_ne(sched, "");
	ck_assert(!strncmp(res->schedule, sched, strlen(sched)));
	snprintf(want, sizeof(want), "%s", sched);
	ck_assert(checker_report_get(1, &kind, text, sizeof(text), sched, sizeof(sched)));
	ck_assert_int_eq(kind, CHECK_DMA_UNPINNED);
	ck_assert_msg(strstr(text, "DMA write IOVA 0x40000000 reached pfn"), "%s", text);
	ck_assert(!strncmp(res->schedule, sched, strlen(sched)));
	ck_assert_uint_gt(strlen(sched), strlen(want));
	ck_assert_uint_eq(iommu_unmap(u.d, GiB, PAGE_SIZE), PAGE_SIZE);
	iommu_domain_free(u.d);
	folio_put(u.f);
	free(res);
}
END_TEST

/* ---------------- pin-leak at the teardown of a machine that ran a controlled run ---------------- */

struct pin_job {
	struct mm_struct *mm;
	unsigned long va;
	bool unpin;
	struct page *pages[2];
};

/* A driver thread that pins two pages (FOLL_LONGTERM, as vfio does) and may forget them. */
static long pin_two_pages(void *arg)
{
	struct pin_job *j = arg;
	long n;

	mmap_read_lock(j->mm);
	n = pin_user_pages_remote(j->mm, j->va, 2, FOLL_WRITE | FOLL_LONGTERM, j->pages, NULL);
	mmap_read_unlock(j->mm);
	if (n == 2 && j->unpin)
		unpin_user_pages(j->pages, 2);
	return n;
}

/*
 * A controlled run on @mode's machine pins two pages, unpinning them or
 * not; then the machine goes.  Returns the pin-leak reports its teardown
 * made.  machine_destroy() is called without the harness's frame count: a
 * pin left behind keeps its frames, which is what this checker is for.
 */
static unsigned long run_pinner_then_destroy(enum checker_mode mode, bool unpin)
{
	struct pin_job j = { .unpin = unpin };
	struct sched_thread t[2] = {
		{ .name = "pinner", .fn = pin_two_pages, .arg = &j },
		{ .name = "bystander", .fn = pass_points },
	};
	struct sched_strategy st;
	struct sched_result *res = calloc(1, sizeof(*res));

	ck_assert_ptr_nonnull(res);
	checker_set_mode(mode);
	j.mm = tm_mm("vmm");
	j.va = vm_mmap(j.mm, NULL, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	ck_assert(!IS_ERR_VALUE(j.va));
	t[0].mm = j.mm;
	set_current(NULL);
	sched_strategy_init(&st);
	ck_assert_int_eq(sched_run(t, 2, &st, res), 0);
	ck_assert_int_eq(res->status, SCHED_DONE);
	ck_assert_int_eq(t[0].ret, 2);
	ck_assert(folio_maybe_dma_pinned(page_folio(j.pages[0])) == !unpin);
	ck_assert_uint_eq(checker_count(CHECK_PIN_LEAK), 0);	/* nothing before the end */
	free(res);
	(machine_destroy)(tm);
	tm = NULL;
	return checker_count(CHECK_PIN_LEAK);
}

START_TEST(test_pin_left_by_a_controlled_run_is_reported_at_machine_teardown)
{
	char text[CHECKER_REPORT_LEN];
	enum checker_kind kind;

	ck_assert_uint_eq(run_pinner_then_destroy(CHECKER_SCHED, false), 1);
	harness_expect_checker(CHECK_PIN_LEAK, 1);
	ck_assert(checker_report_get(0, &kind, text, sizeof(text), NULL, 0));
	ck_assert_int_eq(kind, CHECK_PIN_LEAK);
	ck_assert_msg(strstr(text, "2 folios still pinned after every process and container is "
				   "gone"),
		      "%s", text);
	ck_assert_msg(strstr(text, "pincount 1"), "%s", text);
}
END_TEST

START_TEST(test_pins_released_by_a_controlled_run_leave_teardown_silent)
{
	ck_assert_uint_eq(run_pinner_then_destroy(CHECKER_SCHED, true), 0);
}
END_TEST

START_TEST(test_pin_leak_scan_off_with_the_checkers)
{
	ck_assert_uint_eq(run_pinner_then_destroy(CHECKER_OFF, false), 0);
}
END_TEST

/*
 * pinsim_destroy() with the checkers on everywhere scans once every
 * container is closed, and the machine's own teardown does not scan again:
 * one report for one leak, in either mode (a pin taken below the API, by
 * the process's own kernel code, that nothing releases).
 */
START_TEST(test_pin_leak_at_pinsim_destroy_is_reported_once)
{
	uint64_t va = vh_mmap(2 * PG, RW, ANON);
	struct page *pages[2];
	struct task_struct *old;
	long n;

	vh_touch(va, 2 * PG, PG);
	checker_set_mode(_i ? CHECKER_ALWAYS : CHECKER_SCHED);
	old = set_current(proc->mm->owner);
	mmap_read_lock(proc->mm);
	n = pin_user_pages_remote(proc->mm, va, 2, FOLL_WRITE | FOLL_LONGTERM, pages, NULL);
	mmap_read_unlock(proc->mm);
	set_current(old);
	ck_assert_int_eq(n, 2);
	(pinsim_destroy)(sim);
	sim = NULL;
	ck_assert_uint_eq(checker_count(CHECK_PIN_LEAK), 1);
	harness_expect_checker(CHECK_PIN_LEAK, 1);
}
END_TEST

static void tm_setup_nothing(void)
{
}

Suite *make_suite(void)
{
	Suite *s = suite_create("checkers");
	TCase *tc;

	tc = vh_tcase(s, "madv_dontneed", ck_setup);
	tcase_add_test(tc, test_dontneed_anon_reads_zero_and_keeps_the_rest);
	tcase_add_test(tc, test_dontneed_refuses_pfnmap_and_locked);
	tcase_add_test(tc, test_dontneed_hugetlb_whole_pages_only);
	tcase_add_test(tc, test_dontneed_thp_partial_splits_full_clears);

	tc = vh_tcase(s, "dma_coherency", ck_setup);
	tcase_add_test(tc, test_dma_into_discarded_and_refaulted_page_is_a_coherency_violation);
	tcase_add_test(tc, test_dma_without_discard_reports_nothing);
	tcase_add_test(tc, test_dma_into_discarded_thp_is_a_coherency_violation);
	tcase_add_test(tc, test_checkers_off_report_nothing);
	tcase_add_test(tc, test_pin_left_after_close_is_reported);
	tcase_add_test(tc, test_sched_result_counts_the_checker_reports_of_its_run);
	tcase_add_test(tc, test_numa_count_above_the_vma_pages_is_reported);
	tcase_add_test(tc, test_numa_maps_real_reads_fit_their_vmas);
	tcase_add_test(tc, test_unmap_by_a_killed_process_leaving_locked_vm_is_reported);
	tcase_add_test(tc, test_locked_vm_balanced_over_maps_and_unmaps_reports_nothing);

	tc = tcase_create("walker_repeat");
	tcase_add_checked_fixture(tc, tm_setup_nothing, tm_teardown);
	tcase_add_test(tc, test_walker_range_handed_twice_is_reported);
	tcase_add_test(tc, test_walker_fixed_kernel_hands_each_range_once);
	suite_add_tcase(s, tc);

	tc = tm_tcase(s, "walker_again");
	tcase_add_test(tc, test_walker_action_again_is_not_a_repeat);

	tc = tm_tcase(s, "controlled_runs");
	tcase_add_test(tc, test_map_and_dma_of_an_unpinned_frame_are_reported_with_the_schedule);
	tcase_add_test(tc, test_pin_left_by_a_controlled_run_is_reported_at_machine_teardown);
	tcase_add_test(tc, test_pins_released_by_a_controlled_run_leave_teardown_silent);
	tcase_add_test(tc, test_pin_leak_scan_off_with_the_checkers);

	tc = vh_tcase(s, "pin_leak_api", ck_setup);
	tcase_add_loop_test(tc, test_pin_leak_at_pinsim_destroy_is_reported_once, 0, 2);
	return s;
}
