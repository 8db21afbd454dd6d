// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allocation-failure injection (pinsim_fail_nth(), sim/fault_inject.h), the
 * way kernel engineers use /proc/self/fail-nth: fail the Nth allocation of
 * one call, for N = 1, 2, ... until the call makes fewer than N allocations,
 * and check after each failed call that it left nothing behind.
 *
 * VFIO_IOMMU_MAP_DMA (drivers/vfio/vfio_iommu_type1.c vfio_dma_do_map())
 * must unwind every failure to the state before the call: no pin, locked_vm,
 * dma_avail and nr_dmas as before, no IOMMU translation of the range, the
 * same number of frames in use.  VFIO_IOMMU_UNMAP_DMA never fails for lack
 * of memory: vfio_unmap_unpin() falls back from unmap_unpin_fast() to
 * unmap_unpin_slow() when the vfio_regions kzalloc() fails.
 */
#include <sys/resource.h>

#include "vfio_harness.h"

#define IOVA 0x40000000ULL	/* 1 GiB: no IOMMU table below the root yet */

static int c;
static uint64_t base_pages, base_tasks;

static void fn_setup(void)
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
	c = vh_container(VFIO_TYPE1v2_IOMMU);
}

/* What a failed MAP_DMA (or any UNMAP_DMA) must leave as it was. */
struct snap {
	uint64_t locked_vm, nr_dmas, dma_avail, pages_allocated;
};

static struct snap snap_take(void)
{
	struct pinsim_vfio_stats vs = vh_stats(c);

	return (struct snap){
		.locked_vm = vh_locked_vm(),
		.nr_dmas = vs.nr_dmas,
		.dma_avail = vs.dma_avail,
		.pages_allocated = vh_sim_stats().pages_allocated,
	};
}

static void snap_assert(const struct snap *want, unsigned int n, const char *what)
{
	struct snap now = snap_take();

	ck_assert_msg(now.locked_vm == want->locked_vm, "%s N=%u: locked_vm %llu, was %llu", what,
		      n, (unsigned long long)now.locked_vm, (unsigned long long)want->locked_vm);
	ck_assert_msg(now.nr_dmas == want->nr_dmas, "%s N=%u: nr_dmas %llu, was %llu", what, n,
		      (unsigned long long)now.nr_dmas, (unsigned long long)want->nr_dmas);
	ck_assert_msg(now.dma_avail == want->dma_avail, "%s N=%u: dma_avail %llu, was %llu", what,
		      n, (unsigned long long)now.dma_avail, (unsigned long long)want->dma_avail);
	ck_assert_msg(now.pages_allocated == want->pages_allocated,
		      "%s N=%u: pages_allocated %llu, was %llu", what, n,
		      (unsigned long long)now.pages_allocated,
		      (unsigned long long)want->pages_allocated);
}

/* Process exit returns every frame and task the process had. */
static void assert_no_leak(void)
{
	struct pinsim_stats st;

	ck_assert_int_eq(pinsim_fail_nth(proc, 0, 0), 0);
	pinsim_proc_destroy(proc);
	proc = NULL;
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(st.pages_allocated, base_pages);
	ck_assert_uint_eq(st.tasks, base_tasks);
}

/*
 * Sweep MAP_DMA of [va, va + len) at IOVA: returns the number of injection
 * points (allocations the successful call made).  A fired failure may be
 * absorbed by a fallback (the call succeeds): then it is unmapped and the
 * sweep goes on.
 */
static unsigned int sweep_map(uint64_t va, uint64_t len, const char *what)
{
	struct snap before = snap_take();
	unsigned int n;

	for (n = 1; n < 10000; n++) {
		unsigned long injected = 0;
		unsigned int left;
		int ret;

		ck_assert_int_eq(pinsim_fail_nth(proc, n, PINSIM_FAIL_ALL), 0);
		ret = vh_map(c, va, IOVA, len);
		left = pinsim_fail_nth_read(&injected);
		ck_assert_int_eq(pinsim_fail_nth(proc, 0, 0), 0);
		if (left) {
			/* Fewer than n allocations: nothing was injected. */
			ck_assert_uint_eq(injected, 0);
			ck_assert_msg(ret == 0, "%s: MAP_DMA without injection = %d", what, ret);
			vh_unmap_ok(c, IOVA, len);
			break;
		}
		ck_assert_uint_eq(injected, 1);
		if (ret == 0) {
			vh_unmap_ok(c, IOVA, len);
		} else {
			ck_assert_msg(ret == -ENOMEM, "%s N=%u: MAP_DMA = %d, not -ENOMEM", what, n,
				      ret);
			vh_assert_no_iommu(&dev0, IOVA, len);
			vh_assert_unpinned(va, len);
		}
		snap_assert(&before, n, what);
	}
	snap_assert(&before, n, what);
	printf("# %s: MAP_DMA of %llu KiB: %u injection points\n", what,
	       (unsigned long long)(len >> 10), n - 1);
	return n - 1;
}

/* UNMAP_DMA with the nth allocation failing: always succeeds, always whole. */
static unsigned int sweep_unmap(uint64_t va, uint64_t len, const char *what)
{
	struct snap before = snap_take();
	unsigned int n;

	for (n = 1; n < 10000; n++) {
		uint64_t unmapped = 0;
		unsigned long injected = 0;
		unsigned int left;
		int ret;

		vh_map_ok(c, va, IOVA, len);
		ck_assert_int_eq(pinsim_fail_nth(proc, n, PINSIM_FAIL_ALL), 0);
		ret = vh_unmap(c, IOVA, len, &unmapped);
		left = pinsim_fail_nth_read(&injected);
		ck_assert_int_eq(pinsim_fail_nth(proc, 0, 0), 0);
		ck_assert_msg(ret == 0, "%s N=%u: UNMAP_DMA failed (%d): it must fall back", what,
			      n, ret);
		ck_assert_uint_eq(unmapped, len);
		vh_assert_no_iommu(&dev0, IOVA, len);
		vh_assert_unpinned(va, len);
		snap_assert(&before, n, what);
		if (left)
			break;
	}
	printf("# %s: UNMAP_DMA of %llu KiB: %u injection points\n", what,
	       (unsigned long long)(len >> 10), n - 1);
	return n - 1;
}

START_TEST(map_dma_4k_anon_fail_nth_leaves_no_state)
{
	uint64_t len = 16 * PG, va = vh_mmap(len, RW, ANON);

	vh_touch(va, len, PG);
	/* vfio_dma + three IOMMU tables at least */
	ck_assert_uint_ge(sweep_map(va, len, "4K anon"), 2);
	assert_no_leak();
}
END_TEST

START_TEST(unmap_dma_4k_anon_never_fails_for_memory)
{
	uint64_t len = 16 * PG, va = vh_mmap(len, RW, ANON);

	vh_touch(va, len, PG);
	/* The vfio_regions allocation: at least one. */
	ck_assert_uint_ge(sweep_unmap(va, len, "4K anon"), 1);
	assert_no_leak();
}
END_TEST

static uint64_t thp_buffer(void)
{
	uint64_t raw = vh_mmap(4 * MiB, RW, ANON);
	uint64_t va = (raw + 2 * MiB - 1) & ~(2 * MiB - 1);

	ck_assert_int_eq(pinsim_madvise(proc, va, 2 * MiB, MADV_HUGEPAGE), 0);
	vh_touch(va, 2 * MiB, PG);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PMD);
	return va;
}

START_TEST(map_dma_thp_fail_nth_leaves_no_state)
{
	uint64_t va = thp_buffer();

	ck_assert_uint_ge(sweep_map(va, 2 * MiB, "THP"), 2);
	ck_assert_uint_ge(sweep_unmap(va, 2 * MiB, "THP"), 1);
	assert_no_leak();
}
END_TEST

START_TEST(fail_nth_counts_down_only_for_its_process)
{
	unsigned long injected = 7;

	/* Disarmed: reads 0, nothing injected. */
	ck_assert_int_eq(pinsim_fail_nth(proc, 0, PINSIM_FAIL_ALL), 0);
	ck_assert_uint_eq(pinsim_fail_nth_read(&injected), 0);
	ck_assert_uint_eq(injected, 0);
	ck_assert_int_eq(pinsim_fail_nth(NULL, 1, PINSIM_FAIL_ALL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_fail_nth(proc, 1, 1u << 20), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* An mmap of a new range makes one VMA (slab). */
	ck_assert_int_eq(pinsim_fail_nth(proc, 1, PINSIM_FAIL_SLAB), 0);
	errno = 0;
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) == PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(pinsim_fail_nth_read(&injected), 0);
	ck_assert_uint_eq(injected, 1);
	/* Every mode: every allocation of the kind fails until disarmed. */
	ck_assert_int_eq(pinsim_fail_every(proc, PINSIM_FAIL_SLAB), 0);
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) == PINSIM_MAP_FAILED);
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) == PINSIM_MAP_FAILED);
	pinsim_fail_nth_read(&injected);
	ck_assert_uint_eq(injected, 2);
	ck_assert_int_eq(pinsim_fail_every(proc, 0), 0);
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) != PINSIM_MAP_FAILED);
	/* A kind not armed is not counted. */
	ck_assert_int_eq(pinsim_fail_nth(proc, 1, PINSIM_FAIL_IOMMU_PGTABLE), 0);
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) != PINSIM_MAP_FAILED);
	ck_assert_uint_eq(pinsim_fail_nth_read(NULL), 1);
	ck_assert_int_eq(pinsim_fail_nth(proc, 0, 0), 0);
	assert_no_leak();
}
END_TEST

/* A BAR (VM_PFNMAP: follow_pfnmap_start(), nothing pinned or accounted). */
START_TEST(map_dma_bar_fail_nth_leaves_no_state)
{
	uint64_t va = vh_bar_mmap(&dev0, 2, 0, 2 * MiB, RW, 0);

	vh_touch(va, 2 * MiB, PG);
	ck_assert_uint_ge(sweep_map(va, 2 * MiB, "BAR"), 2);
	ck_assert_uint_ge(sweep_unmap(va, 2 * MiB, "BAR"), 1);
	assert_no_leak();
}
END_TEST

/*
 * Memory never touched: MAP_DMA faults it in (pin_user_pages_remote()),
 * and the page, page-table and VMA-side allocations of the fault are
 * injection points too.  What the faults put in the page tables stays after
 * a failed call, as in the kernel, so each N maps a fresh range, and its
 * munmap must take every page and table back.
 */
START_TEST(map_dma_untouched_anon_fail_nth_unwinds)
{
	uint64_t len = 16 * PG;
	struct snap before = snap_take();
	unsigned int n;

	for (n = 1; n < 10000; n++) {
		uint64_t va = vh_mmap(len, RW, ANON);	/* fresh: every fault again */
		unsigned int left;
		int ret;

		ck_assert_int_eq(pinsim_fail_nth(proc, n, PINSIM_FAIL_ALL), 0);
		ret = vh_map(c, va, IOVA, len);
		left = pinsim_fail_nth_read(NULL);
		ck_assert_int_eq(pinsim_fail_nth(proc, 0, 0), 0);
		if (ret == 0) {
			vh_unmap_ok(c, IOVA, len);
		} else {
			ck_assert_msg(ret == -ENOMEM, "N=%u: MAP_DMA = %d", n, ret);
			ck_assert_uint_eq(left, 0);
			vh_assert_no_iommu(&dev0, IOVA, len);
			vh_assert_unpinned(va, len);
		}
		/* munmap takes back the faulted pages and their table. */
		ck_assert_int_eq(pinsim_munmap(proc, va, len), 0);
		snap_assert(&before, n, "untouched 4K anon");
		if (left)
			break;
	}
	printf("# untouched 4K anon: MAP_DMA of %llu KiB: %u injection points\n",
	       (unsigned long long)(len >> 10), n - 1);
	/* 16 pages, a PTE table, the vfio_dma and IOMMU tables at least. */
	ck_assert_uint_ge(n - 1, 16 + 1 + 1);
	assert_no_leak();
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("fail_nth");
	TCase *tc = vh_tcase(s, "fail_nth", fn_setup);

	tcase_add_test(tc, fail_nth_counts_down_only_for_its_process);
	tcase_add_test(tc, map_dma_4k_anon_fail_nth_leaves_no_state);
	tcase_add_test(tc, unmap_dma_4k_anon_never_fails_for_memory);
	tcase_add_test(tc, map_dma_thp_fail_nth_leaves_no_state);
	tcase_add_test(tc, map_dma_bar_fail_nth_leaves_no_state);
	tcase_add_test(tc, map_dma_untouched_anon_fail_nth_unwinds);
	return s;
}
