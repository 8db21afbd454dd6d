// SPDX-License-Identifier: GPL-2.0-only
/*
 * Walker x discard x pinner (issue 15), explored exhaustively: a numa_maps
 * reader walks the VMM's guest RAM, the VMM discards part of it with
 * MADV_DONTNEED (virtio-balloon inflation) and VFIO pins all of it
 * (VFIO_IOMMU_MAP_DMA, vfio_pin_pages_remote()), all under the mmap READ
 * lock, every schedule with at most 2 preemptions at the race points plus
 * SP_MADV_DONTNEED_ZAP.  After each execution:
 *  - MAP_DMA succeeded and every page of a discarded range was pinned
 *    either before its zap (the old page, its old contents, the address
 *    now maps nothing) or after (the fresh zero page the address maps):
 *    never anything else (a torn state);
 *  - a device write to each page then makes the DMA checker report a
 *    coherency violation exactly for the pages pinned before their zap;
 *  - locked_vm is the pages MAP_DMA accounted, whichever pages they were;
 *  - the walker's callbacks saw no range twice (walk-repeat) and its
 *    numa_maps counts stay within the VMA's pages;
 *  - closing the container unpins every page (checked at teardown).
 * Both outcomes must occur in the search.  4K pages, and a THP whose middle
 * is discarded (zap_pmd_range() splits it).
 */
#include <linux/vfio.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

#include "harness.h"
#include "pinsim/pinsim.h"
#include "checker.h"
#include "iommu.h"
#include "kernel_profiles.h"
#include "pagewalk.h"
#include "scheduler.h"
#include "task_mmu.h"
#include "vfio.h"
#include "vfio_iommu_driver.h"
#include "vfio_pci.h"

#define DX_VA 0x7e0000000000UL	/* 1 GiB aligned */
#define DX_IOVA 0x100000000ULL
#define DX_MAX_PAGES 8

struct dx_ctx {
	/* The scenario. */
	bool thp;
	bool tree;			/* the kernel tree's walker and type1 */
	unsigned long len;		/* mapped and pinned */
	unsigned long dstart, dlen;	/* discarded, relative to DX_VA */
	/* The world of one execution. */
	struct machine *m;
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	void *iommu;
	unsigned long old_pfn[DX_MAX_PAGES];
	unsigned long pinned_pfn[DX_MAX_PAGES];
	unsigned long present;		/* what the walker counted */
	char numa[2048];
	/* Totals over the search. */
	unsigned long old_pinned, new_pinned, reports, pin_leaks;
	char why[512];
};

static const struct vfio_iommu_backend *dx_type1;

/* The probe page of each 4K of interest: at most DX_MAX_PAGES, spread. */
static unsigned long dx_pages(const struct dx_ctx *c)
{
	return c->thp ? DX_MAX_PAGES : c->len / PAGE_SIZE;
}

static unsigned long dx_off(const struct dx_ctx *c, unsigned long i)
{
	return c->thp ? i * (c->len / DX_MAX_PAGES) + (i == 3 ? PAGE_SIZE : 0) : i * PAGE_SIZE;
}

static bool dx_discarded(const struct dx_ctx *c, unsigned long off)
{
	return off >= c->dstart && off < c->dstart + c->dlen;
}

static int count_present(pte_t *pte, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	struct dx_ctx *c = walk->private;

	(void)addr, (void)next;
	if (pte_present(ptep_get(pte)))
		c->present++;
	return 0;
}

static long dx_walker(void *arg)
{
	struct dx_ctx *c = arg;
	const struct mm_walk_ops ops = { .pte_entry = count_present, .walk_lock = PGWALK_RDLOCK };
	long ret;

	mmap_read_lock(c->mm);
	ret = walk_page_range(c->mm, DX_VA, DX_VA + c->len, &ops, c);
	mmap_read_unlock(c->mm);
	if (ret)
		return ret;
	return numa_maps_read(c->mm, c->numa, sizeof(c->numa));
}

static long dx_discard(void *arg)
{
	struct dx_ctx *c = arg;

	return do_madvise(c->mm, DX_VA + c->dstart, c->dlen, MADV_DONTNEED);
}

static long dx_pin(void *arg)
{
	struct dx_ctx *c = arg;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = DX_VA,
		.iova = DX_IOVA,
		.size = c->len,
	};

	return dx_type1->ioctl(c->iommu, VFIO_IOMMU_MAP_DMA, &map);
}

static int dx_setup(void *ctx, struct sched_thread *t)
{
	struct dx_ctx *c = ctx;
	uint64_t bars[PCI_STD_NUM_BARS] = { 64 * KiB };
	struct machine_config mc;
	unsigned long va;

	if (kernel_profile_configs(c->tree ? pinsim_kernel_tree_profile() : "upstream", &mc,
				   &vfio_type1_cfg))
		abort();
	mc.ram_bytes = 1ULL << 30;
	mc.impl = c->tree ? MACHINE_IMPL_TREE : MACHINE_IMPL_REWRITE;
	dx_type1 = c->tree ? &ktree_vfio_iommu_type1 : &vfio_iommu_type1_rewrite;
	if (machine_create(&mc, &c->m) || vfio_pci_device_create("gpu", bars, &c->vdev))
		abort();
	checker_reset();
	iommu_discard_notes_clear();
	c->mm = mm_alloc("vmm");
	set_current(c->mm->owner);
	atomic_store(&c->mm->owner->signal->rlim_memlock, 1ULL << 30);
	va = vm_mmap(c->mm, NULL, DX_VA, c->len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0);
	if (va != DX_VA || (c->thp && do_madvise(c->mm, DX_VA, c->len, MADV_HUGEPAGE)))
		abort();
	/* The guest wrote its RAM: every page present, with a byte of its own. */
	for (unsigned long i = 0; i < dx_pages(c); i++) {
		unsigned long pfn;

		mmap_read_lock(c->mm);
		if (fixup_user_fault(c->mm, DX_VA + dx_off(c, i), FAULT_FLAG_WRITE, NULL))
			abort();
		mmap_read_unlock(c->mm);
		if (pgtable_lookup(c->mm, DX_VA + dx_off(c, i), &pfn, NULL) == PGTABLE_NONE)
			abort();
		c->old_pfn[i] = pfn;
		folio_mark_data(page_folio(pfn_to_page(pfn)));
		*(unsigned char *)page_address(pfn_to_page(pfn)) = (unsigned char)(0xa0 + i);
	}
	if (dx_type1->open(VFIO_TYPE1v2_IOMMU, &c->iommu) ||
	    dx_type1->attach_group(c->iommu, c->vdev->id, 0, false))
		abort();
	set_current(NULL);
	c->present = 0;
	t[0] = (struct sched_thread){ .name = "numa_maps", .mm = c->mm, .fn = dx_walker, .arg = c };
	t[1] = (struct sched_thread){ .name = "balloon", .mm = c->mm, .fn = dx_discard, .arg = c };
	t[2] = (struct sched_thread){ .name = "vfio", .mm = c->mm, .fn = dx_pin, .arg = c };
	return 3;
}

/*
 * numa_maps (fs/proc/task_mmu.c show_numa_map()): no page count on the
 * line of the VMA at DX_VA ("anon=", "dirty=", "active=", "N<node>=", ...)
 * above the pages the VMA can map.  Reported as a checker finding.
 */
static bool dx_numa_maps_within(struct dx_ctx *c)
{
	char addr[32], line[512];
	const char *at, *end;
	char *tok, *save;

	snprintf(addr, sizeof(addr), "%lx ", DX_VA);
	at = strstr(c->numa, addr);
	if (!at)
		return false;
	end = strchr(at, '\n');
	snprintf(line, sizeof(line), "%.*s", end ? (int)(end - at) : (int)strlen(at), at);
	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), *num_end;
		unsigned long v;

		if (!eq || !strncmp(tok, "kernelpagesize_kB", 17))
			continue;
		v = strtoul(eq + 1, &num_end, 10);
		if (*num_end || num_end == eq + 1)
			continue;
		if (v > c->len / PAGE_SIZE) {
			checker_report(CHECK_NUMA_MAPS_COUNT,
				       "numa_maps of the VMA at 0x%lx: %s above its %lu pages", DX_VA,
				       tok, c->len / PAGE_SIZE);
			return false;
		}
	}
	return true;
}

static bool dx_fail(struct dx_ctx *c, const char *fmt, unsigned long a, unsigned long b)
{
	snprintf(c->why, sizeof(c->why), fmt, a, b);
	return false;
}

static bool dx_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct dx_ctx *c = ctx;
	struct iommu_domain *d = dx_type1->group_domain(c->iommu, c->vdev->id);
	unsigned long expect_reports = 0, before;

	(void)n;
	if (r->status != SCHED_DONE || sim_oops_count())
		return dx_fail(c, "run ended %lu, oopses %lu", (unsigned long)r->status,
			       (unsigned long)sim_oops_count());
	if (t[0].ret < 0 || t[1].ret || t[2].ret)
		return dx_fail(c, "walker %ld, madvise/MAP_DMA %ld", (unsigned long)t[0].ret,
			       (unsigned long)(t[1].ret ? t[1].ret : t[2].ret));
	if (checker_total())
		return dx_fail(c, "%lu checker report(s) before any DMA (walk-repeat %lu)",
			       checker_total(), checker_count(CHECK_WALK_REPEAT));
	if (c->present > c->len / PAGE_SIZE || !dx_numa_maps_within(c))
		return dx_fail(c, "walker counted %lu present pages of %lu", c->present,
			       c->len / PAGE_SIZE);
	if ((unsigned long)atomic_load(&c->mm->locked_vm) != c->len / PAGE_SIZE)
		return dx_fail(c, "locked_vm %lu, MAP_DMA accounted %lu",
			       (unsigned long)atomic_load(&c->mm->locked_vm), c->len / PAGE_SIZE);
	for (unsigned long i = 0; i < dx_pages(c); i++) {
		unsigned long off = dx_off(c, i), p, q = 0;
		bool mapped = pgtable_lookup(c->mm, DX_VA + off, &q, NULL) != PGTABLE_NONE;
		unsigned char byte;

		p = iommu_iova_to_phys(d, DX_IOVA + off) >> PAGE_SHIFT;
		c->pinned_pfn[i] = p;
		if (!p || !folio_maybe_dma_pinned(page_folio(pfn_to_page(p))))
			return dx_fail(c, "page %lu: pfn 0x%lx not pinned", i, p);
		byte = *(unsigned char *)page_address(pfn_to_page(p));
		if (!dx_discarded(c, off)) {
			if (p != c->old_pfn[i] || !mapped || q != p || byte != 0xa0 + i)
				return dx_fail(c, "kept page %lu: pinned pfn 0x%lx changed", i, p);
		} else if (p == c->old_pfn[i] && !mapped && byte == 0xa0 + i) {
			c->old_pinned++;	/* pinned before the zap */
			expect_reports++;
		} else if (mapped && p == q && p != c->old_pfn[i] && byte == 0) {
			c->new_pinned++;	/* pinned after: the fresh zero page */
		} else {
			return dx_fail(c, "torn: discarded page %lu pinned pfn 0x%lx", i, p);
		}
	}
	/* The device writes every page: a report for each page pinned before its zap. */
	before = checker_count(CHECK_DMA_COHERENCY);
	for (unsigned long i = 0; i < dx_pages(c); i++) {
		unsigned char b = 0x5a;

		if (iommu_dma_rw(d, DX_IOVA + dx_off(c, i), &b, 1, true) != 1)
			return dx_fail(c, "DMA to page %lu failed", i, 0);
	}
	c->reports += checker_count(CHECK_DMA_COHERENCY) - before;
	if (checker_count(CHECK_DMA_COHERENCY) - before != expect_reports ||
	    checker_count(CHECK_DMA_UNPINNED))
		return dx_fail(c, "%lu coherency reports, %lu pages pinned before their zap",
			       checker_count(CHECK_DMA_COHERENCY) - before, expect_reports);
	return true;
}

static void dx_teardown(void *ctx)
{
	struct dx_ctx *c = ctx;

	set_current(c->mm->owner);
	dx_type1->release(c->iommu);	/* the container's last close */
	set_current(NULL);
	for (unsigned long i = 0; i < dx_pages(c); i++)
		if (c->pinned_pfn[i] &&
		    folio_maybe_dma_pinned(page_folio(pfn_to_page(c->pinned_pfn[i]))))
			c->pin_leaks++;
	memset(c->pinned_pfn, 0, sizeof(c->pinned_pfn));
	iommu_discard_notes_clear();
	machine_destroy(c->m);
	c->m = NULL;
	checker_reset();
}

static const struct sched_explore_ops dx_ops = { dx_setup, dx_check, dx_teardown };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One bounded search (preemption bound 2) of @c's world, with or without the reduction. */
static void dx_search(struct dx_ctx *c, bool por, struct sched_explore_stats *st)
{
	const struct sched_explore_opts o = {
		.points = SCHED_RACE_POINTS | (1u << SP_MADV_DONTNEED_ZAP),
		.preemption_bound = 2,
		.max_schedules = 200000,
		.step_budget = 100000,
		.por = por,
	};
	double t0 = now_s();

	ck_assert_int_eq(sched_explore_ex(&dx_ops, c, &o, st), 0);
	printf("# walker x discard x pinner (%s%s, %s): %lu schedules (%lu pruned) in %.2f s (%s): "
	       "pinned before the zap %lu, after %lu pages; %lu coherency reports; pin leaks %lu%s%s\n",
	       c->thp ? "THP, middle discarded" : "4K", c->tree ? ", the tree's walker and type1" : "",
	       por ? "reduced" : "plain", st->schedules, st->pruned, now_s() - t0,
	       st->complete ? "complete" : "stopped", c->old_pinned, c->new_pinned, c->reports,
	       c->pin_leaks, st->bug_found ? "; bug: " : "", st->bug_found ? c->why : "");
	if (st->bug_found)
		printf("# replay with PINSIM_SCHEDULE=%s\n", st->bug.schedule);
	ck_assert_msg(!st->bug_found, "%s (schedule %s)", c->why, st->bug.schedule);
	ck_assert(st->complete);
	ck_assert_uint_eq(c->pin_leaks, 0);
	/* Both outcomes happen, and the checker fired exactly for the first. */
	ck_assert_uint_gt(c->old_pinned, 0);
	ck_assert_uint_gt(c->new_pinned, 0);
	ck_assert_uint_eq(c->reports, c->old_pinned);
}

/*
 * The plain search, then the reduced one over a fresh copy of the world's
 * description: the reduction must keep both outcomes (the old page pinned
 * and reported, the zero page pinned), never a torn state, with at most
 * as many executions.
 */
static void dx_explore(struct dx_ctx *c)
{
	struct sched_explore_stats pst, rst;
	struct dx_ctx *r = malloc(sizeof(*r));

	ck_assert_ptr_nonnull(r);
	*r = *c;
	dx_search(c, false, &pst);
	dx_search(r, true, &rst);
	printf("# reduction: %lu -> %lu executions, both outcomes kept\n", pst.schedules,
	       rst.schedules);
	ck_assert_uint_le(rst.schedules + rst.pruned, pst.schedules);
	free(r);
}

START_TEST(test_walker_discard_pinner_4k)
{
	struct dx_ctx c = { .len = 4 * PAGE_SIZE, .dstart = PAGE_SIZE, .dlen = 2 * PAGE_SIZE };

	dx_explore(&c);
}
END_TEST

START_TEST(test_walker_discard_pinner_thp_partial)
{
	struct dx_ctx c = { .thp = true, .len = PMD_SIZE, .dstart = 3 * (PMD_SIZE / DX_MAX_PAGES),
			    .dlen = 2 * PAGE_SIZE };

	dx_explore(&c);
}
END_TEST

/*
 * The same on the -Dkernel_tree tree's own mm/pagewalk.c (the walker
 * checker wraps its callbacks at pinsim's dispatch) and its
 * drivers/vfio/vfio_iommu_type1.c pinning.
 */
START_TEST(test_walker_discard_pinner_4k_tree)
{
	struct dx_ctx c = { .tree = true, .len = 4 * PAGE_SIZE, .dstart = PAGE_SIZE,
			    .dlen = 2 * PAGE_SIZE };

	if (!pinsim_kernel_tree_profile() || !&ktree_vfio_iommu_type1) {
		printf("# skip: a build without -Dkernel_tree\n");
		return;
	}
	dx_explore(&c);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("discard_explore");
	TCase *tc = tcase_create("walker_discard_pinner");

	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_walker_discard_pinner_4k);
	tcase_add_test(tc, test_walker_discard_pinner_thp_partial);
	tcase_add_test(tc, test_walker_discard_pinner_4k_tree);
	return s;
}
