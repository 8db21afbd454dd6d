// SPDX-License-Identifier: GPL-2.0-only
/*
 * seeds/01 with the tree's own walker: the race world of tests/race_world.h
 * (a 2 GiB vfio-pci BAR faulted in as PUD leaves, a VFIO MAP_DMA of it)
 * under the profile of the tree's version, with the numa_maps reader
 * replaced by one that walks the BAR VMA through the tree's
 * walk_page_vma() (show_numa_map() in fs/proc/task_mmu.c walks each VMA
 * that way, so VM_PFNMAP is not skipped).  Every schedule with at most 2
 * preemptions at the race points is run; the tree's walker is preempted
 * where sim/pagewalk.c is: right after its split_huge_pud()/split_huge_pmd()
 * (ktree/include/linux/mm.h) and at walk_pmd_range() entry, before it reads
 * the PUD (ktree/include/ktree_sched_hooks.h), so the search explores as
 * many schedules as with the rewrite (59 with 6.12.118;
 * tests/ktree/test_ktree_explore_diff.c compares them one by one).
 *
 * What must happen is the tree's profile's (KTREE_PROFILE): with the walker
 * fix (3b89863c3fa4, every 6.12.y on disk) no execution may oops; with it
 * reverted (scripts/revert-walker-fix.py, profile 6.12.118-3b89863c3fa4)
 * the search must find the seeds/01 oops, raised by the tree's own plain
 * load of the BAR leaf as a PMD table and caught by the direct map
 * (sim/phys.c), and the schedule that found it must replay it.
 */
#include <time.h>

#include "../harness.h"
#include "../race_world.h"
#include "kernel_profiles.h"
#include "ktree_pagewalk.h"
#include "pagewalk.h"

#define EX_MAP_SIZE (16 * KiB)

/* numa_maps-like ->pmd_entry (after gather_pte_stats()): pinsim's own code. */
static int race_numa_pmd(pmd_t *pmd, unsigned long addr, unsigned long end, struct mm_walk *walk)
{
	unsigned long *pages = walk->private;
	spinlock_t *ptl = pmd_lock(walk->mm, pmd);
	pte_t *pte, *orig;

	if (pmd_leaf(pmdp_get(pmd))) {
		*pages += HPAGE_PMD_NR;
		spin_unlock(ptl);
		return 0;
	}
	spin_unlock(ptl);
	orig = pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr != end; pte++, addr += PAGE_SIZE)
		*pages += pte_present(ptep_get(pte));
	pte_unmap_unlock(orig, ptl);
	return 0;
}

static const struct mm_walk_ops race_numa_ops = {
	.pmd_entry = race_numa_pmd, .walk_lock = PGWALK_RDLOCK,
};

static long ktree_numa_reader(void *arg)
{
	struct race_world *w = arg;
	unsigned long pages = 0;
	struct vm_area_struct *vma;
	long ret = -ENOENT;

	mmap_read_lock(w->mm);
	vma = vma_lookup(w->mm, RW_BAR_VA);
	if (vma)
		ret = ktree_walk_page_vma(vma, &race_numa_ops, &pages);
	mmap_read_unlock(w->mm);
	return ret;
}

struct kx_ctx {
	struct race_world w;
	unsigned long oopses, map_ok, map_err, split_hits, entry_hits;
	char why[512];
};

static int kx_setup(void *ctx, struct sched_thread *t)
{
	struct kx_ctx *c = ctx;
	int n = race_world_setup(&c->w, t);

	t[0].name = "ktree_numa_maps";
	t[0].fn = ktree_numa_reader;
	return n;
}

static bool kx_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct kx_ctx *c = ctx;
	struct oops_record rec;
	long map = t[1].ret;

	c->split_hits += sched_point_hits(SP_WALK_PUD_AFTER_SPLIT);
	c->entry_hits += sched_point_hits(SP_WALK_PMD_ENTRY);
	if (sim_oops_count()) {
		c->oopses++;
		if (sim_last_oops(&rec))
			snprintf(c->why, sizeof(c->why), "oops in %s(): %s", rec.func, rec.why);
		return false;
	}
	if (r->status != SCHED_DONE) {
		snprintf(c->why, sizeof(c->why), "%s", r->report);
		return false;
	}
	if (map == 0 && race_world_bar_mapped(&c->w)) {
		c->map_ok++;
	} else if (map == -EINVAL && race_world_nr_dmas(&c->w) == 0) {
		c->map_err++;	/* LEGACY: the walker zapped the leaf under MAP_DMA */
	} else {
		snprintf(c->why, sizeof(c->why), "MAP_DMA returned %ld", map);
		return false;
	}
	if (t[0].ret != 0) {
		snprintf(c->why, sizeof(c->why), "walk returned %ld", t[0].ret);
		return false;
	}
	return true;
}

static void kx_teardown(void *ctx)
{
	race_world_teardown(&((struct kx_ctx *)ctx)->w);
}

static const struct sched_explore_ops kx_ops = { kx_setup, kx_check, kx_teardown };

/* Has the tree's profile the walker fix (3b89863c3fa4)? */
static bool tree_walker_fixed(void)
{
	struct vfio_type1_config vc;
	struct machine_config mc;

	ck_assert_int_eq(kernel_profile_configs(KTREE_PROFILE, &mc, &vc), 0);
	return mc.pagewalk_fixed;
}

/* One replay of @schedule in a fresh world; the oopses it caused. */
static long kx_replay(struct kx_ctx *c, const char *schedule)
{
	struct sched_thread t[4];

	return race_world_replay(&c->w, t, kx_setup(c, t), schedule);
}

/* Without the fix: the search stops at the seeds/01 oops, which replays. */
static void assert_prefix_tree_oopses(struct kx_ctx *c, const struct sched_explore_stats *st)
{
	char schedule[sizeof(st->bug.schedule)];

	ck_assert_msg(st->bug_found, "tree %s: no oops in %lu schedules", KTREE_PROFILE,
		      st->schedules);
	ck_assert_uint_eq(c->oopses, 1);
	ck_assert_msg(strstr(c->why, "illegal read of MMIO pfn"), "%s", c->why);
	/* The tree's walker itself read the leaf: it was preempted at its split. */
	ck_assert_uint_gt(c->split_hits, 0);
	snprintf(schedule, sizeof(schedule), "%s", st->bug.schedule);
	ck_assert_int_eq(kx_replay(c, schedule), 1);
}

START_TEST(test_exhaustive_tree_walker_vs_map_dma_oopses_as_its_profile_says)
{
	struct kx_ctx c = { .w.cfg = { KTREE_PROFILE, PUD_ORDER, 2ULL << 30, VFIO_RETRY_LEGACY,
				       .map_size = EX_MAP_SIZE } };
	struct sched_explore_stats st;

	ck_assert_int_eq(sched_explore(&kx_ops, &c, SCHED_RACE_POINTS, 2, 200000, 100000, &st), 0);
	printf("# tree %s: %lu schedules (%s), ok=%lu einval=%lu, split points hit %lu, "
	       "walk_pmd_range entry points hit %lu%s%s%s%s\n",
	       KTREE_PROFILE, st.schedules, st.complete ? "complete" : "stopped", c.map_ok,
	       c.map_err, c.split_hits, c.entry_hits, st.bug_found ? ", bug: " : "",
	       st.bug_found ? c.why : "", st.bug_found ? ", schedule " : "",
	       st.bug_found ? st.bug.schedule : "");
	if (!tree_walker_fixed()) {
		assert_prefix_tree_oopses(&c, &st);
		return;
	}
	ck_assert_msg(!st.bug_found, "%s (schedule %s)", c.why, st.bug.schedule);
	ck_assert(st.complete);
	ck_assert_uint_eq(c.oopses, 0);
	ck_assert_uint_gt(st.schedules, 1);
	/* The tree's walker did split the leaf and was preempted there. */
	ck_assert_uint_gt(c.split_hits, 0);
	/*
	 * ... and at walk_pmd_range() entry, once per call: every call here
	 * follows a split_huge_pud() (the walk has a VMA), so one entry point
	 * per split point, none for the pmd_offset() after the PUD snapshot.
	 */
	ck_assert_uint_eq(c.entry_hits, c.split_hits);
	/* Both orders happened: the walker zapped first, or MAP_DMA pinned first. */
	ck_assert_uint_gt(c.map_ok, 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("ktree_race");
	TCase *tc = tcase_create("explore");

	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_exhaustive_tree_walker_vs_map_dma_oopses_as_its_profile_says);
	return s;
}
