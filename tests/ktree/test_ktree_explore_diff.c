// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-schedule differential of the tree's code against pinsim's rewrite,
 * under the bounded exhaustive search (sched_explore(), SCHED_RACE_POINTS,
 * at most 2 preemptions), with the profile the build declares for the tree
 * (KTREE_PROFILE: its version, or e.g. 6.12.118-3b89863c3fa4 for a tree
 * made by scripts/revert-walker-fix.py) so that everything but the code
 * under test is the same.
 *
 * Walker x pinner: the race world of tests/race_world.h (a vfio-pci BAR
 * faulted in as PUD or PMD leaves, a VFIO MAP_DMA of its first 16 KiB, and
 * with hang threads a munmap and a second reader), in every retry policy of
 * tests/test_explore.c, with the reader walking the BAR VMA once through
 * sim/pagewalk.c's walk_page_vma() and once through the tree's
 * mm/pagewalk.c (ktree_walk_page_vma()), with the same callbacks (a
 * numa_maps-like ->pmd_entry, as tests/ktree/test_ktree_race.c).
 * Lookup x zap: follow_pfnmap_start() of lib/follow_pfnmap.c against the
 * tree's (extracted from its mm/memory.c), racing vfio-pci's BAR zap and a
 * refault.
 *
 * Each side is explored on its own; every execution's outcome is classified
 * (tests/ktree/ktree_outcome.h) and recorded under its schedule string.
 * Then every schedule explored on either side is replayed on the other, and
 * must end the same way and make the same decisions (the replayed schedule
 * string is the one replayed: the two sides offer the scheduler the same
 * choices at the same points).  Per scenario a TAP comment gives the two
 * searches side by side:
 *   # <scenario>: rewrite N schedules {oops a, EINVAL b, ...} | tree M schedules {...}
 * and N == M with equal outcome multisets is asserted.  That holds because
 * the tree's code reaches the same schedule points at the same places
 * through its primitives (ktree/include/ktree_sched_hooks.h); without the
 * hooks of that header the tree's searches were 33 schedules against 59
 * (PUD leaves), 18 against 29 (PMD leaves) and 27 against 52 (lookup).
 * The worlds with hang threads are searched with 1 preemption, see
 * dx_preemptions().
 */
#include <time.h>

#include "../harness.h"
#include "../race_world.h"
#include "ktree_memory.h"
#include "ktree_outcome.h"
#include "ktree_pagewalk.h"
#include "pagewalk.h"

/* As tests/test_explore.c: one PUD leaf, 4 per-page follow_fault_pfn() calls in 6.12. */
#define DX_MAP_SIZE (16 * KiB)
#define DX_MAX_SCHEDULES 200000
#define DX_STEP_BUDGET 100000
/* Divergences printed per scenario and direction; the rest are counted. */
#define DX_PRINT_MAX 5

enum dx_impl { DX_REWRITE, DX_TREE, NR_DX_IMPL };
static const char *const dx_impl_names[NR_DX_IMPL] = { "rewrite", "tree" };

/* ---------------- the worlds ---------------- */

enum dx_kind { DX_WALKER, DX_LOOKUP };

struct dx_scenario {
	const char *name;
	enum dx_kind kind;
	unsigned int order;		/* BAR leaves: PUD_ORDER or PMD_ORDER */
	uint64_t bar_size;
	enum vfio_retry_policy policy;
	bool enoent;
	bool hang_threads;
	/*
	 * The tree's side runs all of the tree's code: its walker, its
	 * follow_pfnmap_start() and its drivers/vfio/vfio_iommu_type1.c
	 * (race_world cfg.tree, cfg.tree_type1), against all of the rewrite.
	 * Both sides then take the retry the tree's source has, as its
	 * profile declares it (@policy is not used).
	 */
	bool all_tree;
};

struct dx_world {
	struct race_world w;
	const struct dx_scenario *sc;
	enum dx_impl impl;
	unsigned long pages, pages2;
	/* DX_LOOKUP: what the lookup returned. */
	long lookup_ret;
	unsigned long lookup_pfn;
};

/* numa_maps-like ->pmd_entry (after gather_pte_stats()): pinsim's own code. */
static int dx_numa_pmd(pmd_t *pmd, unsigned long addr, unsigned long end, struct mm_walk *walk)
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

static const struct mm_walk_ops dx_numa_ops = {
	.pmd_entry = dx_numa_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/* The walker under test, by side: the only difference between the two runs. */
static int (*const dx_walk_page_vma[NR_DX_IMPL])(struct vm_area_struct *vma,
						 const struct mm_walk_ops *ops, void *private) = {
	[DX_REWRITE] = walk_page_vma,
	[DX_TREE] = ktree_walk_page_vma,
};

/* show_numa_map() of the BAR VMA: walk_page_vma() under the mmap read lock. */
static long dx_walk_bar(struct dx_world *d, unsigned long *pages)
{
	struct vm_area_struct *vma;
	long ret = -ENOENT;	/* munmap came first (hang threads) */

	mmap_read_lock(d->w.mm);
	vma = vma_lookup(d->w.mm, RW_BAR_VA);
	if (vma)
		ret = dx_walk_page_vma[d->impl](vma, &dx_numa_ops, pages);
	mmap_read_unlock(d->w.mm);
	return ret;
}

static long dx_reader(void *arg)
{
	struct dx_world *d = arg;

	return dx_walk_bar(d, &d->pages);
}

/* tests/race_world.h's late reader, with the walker of this side. */
static long dx_reader_late(void *arg)
{
	struct dx_world *d = arg;

	sched_point(SP_PIN_BETWEEN_RUNS, d->w.mm, 0);
	return dx_walk_bar(d, &d->pages2);
}

/* Not page-table aligned at any level: the pfn offset within the leaf counts. */
#define DX_LOOKUP_OFF (8 * KiB + 0x123)

/* follow_pfnmap_start() .. _end() of one BAR address, by side. */
static long dx_lookup(void *arg)
{
	struct dx_world *d = arg;
	unsigned long addr = RW_BAR_VA + DX_LOOKUP_OFF;
	struct vm_area_struct *vma;
	long ret = -ENOENT;

	mmap_read_lock(d->w.mm);
	vma = vma_lookup(d->w.mm, addr);
	if (vma && d->impl == DX_REWRITE) {
		struct follow_pfnmap_args a = { .vma = vma, .address = addr };

		ret = follow_pfnmap_start(&a);
		if (!ret) {
			d->lookup_pfn = a.pfn;
			follow_pfnmap_end(&a);
		}
	} else if (vma) {
		struct ktree_follow_pfnmap_args a = { .vma = vma, .address = addr };

		ret = ktree_follow_pfnmap_start(&a);
		if (!ret) {
			d->lookup_pfn = a.pfn;
			ktree_follow_pfnmap_end(&a);
		}
	}
	mmap_read_unlock(d->w.mm);
	d->lookup_ret = ret;
	return ret;
}

/* vfio-pci's BAR zap (a decode-off write, a reset): unmap_mapping_range(). */
static long dx_zap(void *arg)
{
	struct dx_world *d = arg;

	vfio_pci_zap_bars(d->w.vdev);
	return 0;
}

/* A vCPU touching the BAR again: the pfnmap fault puts the leaf back. */
static long dx_refault(void *arg)
{
	struct dx_world *d = arg;
	bool unlocked = false;
	long ret;

	mmap_read_lock(d->w.mm);
	/* Held again on return even if the fault dropped it (*unlocked). */
	ret = fixup_user_fault(d->w.mm, RW_BAR_VA, 0, &unlocked);
	mmap_read_unlock(d->w.mm);
	return ret;
}

/* The retry of the tree's follow_fault_pfn(), as its profile declares it. */
static enum vfio_retry_policy dx_tree_policy(void)
{
	struct vfio_type1_config vc;
	struct machine_config mc;

	ck_assert_int_eq(kernel_profile_configs(KTREE_PROFILE, &mc, &vc), 0);
	return vc.retry_policy;
}

static int dx_setup_world(struct dx_world *d, struct sched_thread *t)
{
	const struct dx_scenario *sc = d->sc;
	int n;

	d->w = (struct race_world){ .cfg = { KTREE_PROFILE, sc->order, sc->bar_size,
					     sc->all_tree ? dx_tree_policy() : sc->policy,
					     sc->enoent, sc->hang_threads,
					     .map_size = DX_MAP_SIZE } };
	d->w.cfg.tree = d->w.cfg.tree_type1 = sc->all_tree && d->impl == DX_TREE;
	d->pages = d->pages2 = 0;
	d->lookup_ret = 0;
	d->lookup_pfn = 0;
	n = race_world_setup(&d->w, t);
	if (sc->kind == DX_LOOKUP) {
		t[0] = (struct sched_thread){ .name = "follow", .mm = d->w.mm, .fn = dx_lookup,
					      .arg = d };
		t[1] = (struct sched_thread){ .name = "zap", .mm = d->w.mm, .fn = dx_zap, .arg = d };
		t[2] = (struct sched_thread){ .name = "vcpu", .mm = d->w.mm, .fn = dx_refault,
					      .arg = d };
		return 3;
	}
	t[0].fn = dx_reader;
	t[0].arg = d;
	if (n > 3) {
		t[3].fn = dx_reader_late;
		t[3].arg = d;
	}
	return n;
}

/* The state a return value must come with (see ktree_outcome.h). */
static bool dx_state_ok(struct dx_world *d, long ret)
{
	if (d->sc->kind == DX_LOOKUP)
		return ret || d->lookup_pfn == d->w.vdev->bar[0].pfn + (DX_LOOKUP_OFF >> PAGE_SHIFT);
	return ret ? race_world_nr_dmas(&d->w) == 0 : race_world_bar_mapped(&d->w);
}

static enum ktree_outcome dx_classify(struct dx_world *d, const struct sched_thread *t,
				      const struct sched_result *r, long *ret)
{
	struct ktree_run_facts f = {
		.status = r->status,
		.oopses = sim_oops_count(),
		.ret = d->sc->kind == DX_LOOKUP ? d->lookup_ret : t[1].ret,
		/* Its walk, or no VMA left to walk: the munmap came first. */
		.reader_ok = d->sc->kind == DX_LOOKUP || t[0].ret == 0 ||
			     (d->sc->hang_threads && t[0].ret == -ENOENT),
	};

	f.state_ok = r->status != SCHED_DONE || dx_state_ok(d, f.ret);
	*ret = f.ret;
	return ktree_outcome_classify(&f);
}

/* ---------------- one side's search, recorded ---------------- */

struct dx_entry {
	char *schedule;
	enum ktree_outcome out;
	long ret;
};

struct dx_log {
	struct dx_entry *e;
	size_t n, cap;
	struct ktree_outcome_hist hist;
	struct sched_explore_stats st;
	double secs;
};

static void dx_log_add(struct dx_log *log, const char *schedule, enum ktree_outcome out, long ret)
{
	if (log->n == log->cap) {
		log->cap = log->cap ? 2 * log->cap : 256;
		log->e = realloc(log->e, log->cap * sizeof(*log->e));
		ck_assert_ptr_nonnull(log->e);
	}
	log->e[log->n].schedule = strdup(schedule);
	ck_assert_ptr_nonnull(log->e[log->n].schedule);
	log->e[log->n].out = out;
	log->e[log->n].ret = ret;
	log->n++;
	log->hist.n[out]++;
}

static void dx_log_free(struct dx_log *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->e[i].schedule);
	free(log->e);
}

struct dx_explore_ctx {
	struct dx_world d;
	struct dx_log *log;
};

static int dx_ex_setup(void *ctx, struct sched_thread *t)
{
	return dx_setup_world(&((struct dx_explore_ctx *)ctx)->d, t);
}

static bool dx_ex_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct dx_explore_ctx *c = ctx;
	long ret;
	enum ktree_outcome out = dx_classify(&c->d, t, r, &ret);

	(void)n;
	dx_log_add(c->log, r->schedule, out, ret);
	return true;	/* every schedule, whatever it ends in: the comparison decides */
}

static void dx_ex_teardown(void *ctx)
{
	race_world_teardown(&((struct dx_explore_ctx *)ctx)->d.w);
}

static const struct sched_explore_ops dx_ex_ops = { dx_ex_setup, dx_ex_check, dx_ex_teardown };

static double dx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The preemption bound: 2, as tests/test_explore.c.  With the hang threads
 * (4 threads) 2 preemptions make 14688 (PMD) to 23682 (PUD) schedules per
 * side, about 20 s each on 2 cores, twice that with the replays: past the
 * suite's budget, so those worlds are searched with 1 preemption (1352 to
 * 1614 schedules) unless PINSIM_KTREE_DIFF_FULL=1 asks for the full bound.
 */
static bool dx_full(void)
{
	const char *full = getenv("PINSIM_KTREE_DIFF_FULL");

	return full && !strcmp(full, "1");
}

static unsigned int dx_preemptions(const struct dx_scenario *sc)
{
	return sc->hang_threads && !dx_full() ? 1 : 2;
}

static void dx_explore(const struct dx_scenario *sc, enum dx_impl impl, struct dx_log *log)
{
	struct dx_explore_ctx c = { .d = { .sc = sc, .impl = impl }, .log = log };
	double t0 = dx_now();

	ck_assert_int_eq(sched_explore(&dx_ex_ops, &c, SCHED_RACE_POINTS, dx_preemptions(sc),
				       DX_MAX_SCHEDULES, DX_STEP_BUDGET, &log->st),
			 0);
	log->secs = dx_now() - t0;
	ck_assert_msg(log->st.complete, "%s, %s: search stopped after %lu schedules", sc->name,
		      dx_impl_names[impl], log->st.schedules);
	ck_assert_uint_eq(log->n, log->st.schedules);
}

/* ---------------- replay on the other side ---------------- */

struct dx_replay {
	enum ktree_outcome out;
	long ret;
	struct sched_result res;
};

static void dx_replay(const struct dx_scenario *sc, enum dx_impl impl, const char *schedule,
		      struct dx_replay *rp)
{
	struct dx_world d = { .sc = sc, .impl = impl };
	struct sched_thread t[SCHED_MAX_THREADS] = { 0 };
	struct sched_strategy s;
	int n;

	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.schedule = schedule;
	s.points = SCHED_RACE_POINTS;
	s.step_budget = DX_STEP_BUDGET;
	n = dx_setup_world(&d, t);
	ck_assert_int_eq(sched_run(t, n, &s, &rp->res), 0);
	rp->out = dx_classify(&d, t, &rp->res, &rp->ret);
	race_world_teardown(&d.w);
}

/*
 * Replay every schedule of @from's search on @to's code.  Returns the
 * number of schedules that ended differently or took other decisions.
 */
static unsigned long dx_cross(const struct dx_scenario *sc, enum dx_impl from,
			      const struct dx_log *log)
{
	enum dx_impl to = from == DX_REWRITE ? DX_TREE : DX_REWRITE;
	struct dx_replay *rp = malloc(sizeof(*rp));
	unsigned long bad = 0;

	ck_assert_ptr_nonnull(rp);
	for (size_t i = 0; i < log->n; i++) {
		const struct dx_entry *e = &log->e[i];
		bool same_out, same_sched;

		dx_replay(sc, to, e->schedule, rp);
		same_out = rp->out == e->out;
		same_sched = !strcmp(rp->res.schedule, e->schedule);
		if (same_out && same_sched)
			continue;
		if (bad++ < DX_PRINT_MAX)
			printf("# divergence, %s: schedule %s: %s %s (ret %ld) | %s %s (ret %ld)%s%s%s%s\n",
			       sc->name, e->schedule, dx_impl_names[from], ktree_outcome_name(e->out),
			       e->ret, dx_impl_names[to], ktree_outcome_name(rp->out), rp->ret,
			       same_sched ? "" : "; decided ", same_sched ? "" : rp->res.schedule,
			       rp->res.report[0] ? "; " : "", rp->res.report);
	}
	if (bad > DX_PRINT_MAX)
		printf("# ... %lu divergences in all replaying %s's schedules on the %s\n", bad,
		       dx_impl_names[from], dx_impl_names[to]);
	free(rp);
	return bad;
}

/* ---------------- the comparison ---------------- */

static void dx_compare(const struct dx_scenario *sc)
{
	struct dx_log log[NR_DX_IMPL] = { 0 };
	char h[NR_DX_IMPL][160];
	unsigned long bad;

	/* sched_run() would follow it instead of the schedules replayed here. */
	unsetenv("PINSIM_SCHEDULE");
	for (int i = 0; i < NR_DX_IMPL; i++)
		dx_explore(sc, i, &log[i]);
	printf("# %s: rewrite %zu schedules %s | tree %zu schedules %s (%s %s, preemption bound %u, "
	       "%.2f s | %.2f s)\n",
	       sc->name, log[DX_REWRITE].n, ktree_outcome_hist_str(&log[DX_REWRITE].hist, h[0], 160),
	       log[DX_TREE].n, ktree_outcome_hist_str(&log[DX_TREE].hist, h[1], 160), KTREE_PROFILE,
	       sc->kind == DX_WALKER ? "walker" : "follow_pfnmap_start", dx_preemptions(sc),
	       log[DX_REWRITE].secs, log[DX_TREE].secs);
	fflush(stdout);
	bad = dx_cross(sc, DX_REWRITE, &log[DX_REWRITE]) + dx_cross(sc, DX_TREE, &log[DX_TREE]);
	fflush(stdout);

	ck_assert_msg(bad == 0, "%s: %lu schedules end differently or decide differently", sc->name,
		      bad);
	ck_assert_uint_eq(log[DX_REWRITE].n, log[DX_TREE].n);
	ck_assert(ktree_outcome_hist_equal(&log[DX_REWRITE].hist, &log[DX_TREE].hist));
	/* A race was searched, not a single serial run. */
	ck_assert_uint_gt(log[DX_TREE].n, 1);
	for (int i = 0; i < NR_DX_IMPL; i++)
		dx_log_free(&log[i]);
}

#define PUD_BAR (2 * GiB)	/* two 1G leaves: the map stays within the first */
#define PMD_BAR (4 * MiB)	/* two 2M leaves */

#define DX_WALK(lvl, pol, en, hang)                                                      \
	{ #lvl " leaves, " #pol ", hang_threads=" #hang, DX_WALKER, lvl##_ORDER, lvl##_BAR, \
	  VFIO_RETRY_##pol, en, hang, false }
#define DX_WALK_POLICIES(lvl, hang)                                            \
	DX_WALK(lvl, LEGACY, false, hang), DX_WALK(lvl, EAGAIN, false, hang), \
		DX_WALK(lvl, BOUNDED, false, hang), DX_WALK(lvl, ENOENT, true, hang)

/* All of the tree's code, its VFIO type1 included, against all of the rewrite. */
#define DX_ALL_TREE(lvl, hang)                                                    \
	{ #lvl " leaves, all the tree's code (walker, follow_pfnmap, type1), hang_threads=" #hang, \
	  DX_WALKER, lvl##_ORDER, lvl##_BAR, VFIO_RETRY_LEGACY, false, hang, true }

static const struct dx_scenario walker_scenarios[] = {
	DX_WALK_POLICIES(PUD, false), DX_WALK_POLICIES(PUD, true),
	DX_WALK_POLICIES(PMD, false), DX_WALK_POLICIES(PMD, true),
	DX_ALL_TREE(PUD, false), DX_ALL_TREE(PUD, true),
	DX_ALL_TREE(PMD, false), DX_ALL_TREE(PMD, true),
};
#define NR_WALKER_SCENARIOS ((int)(sizeof(walker_scenarios) / sizeof(walker_scenarios[0])))

static const struct dx_scenario lookup_scenarios[] = {
	{ "follow_pfnmap_start vs zap and refault, PUD leaf", DX_LOOKUP, PUD_ORDER, PUD_BAR,
	  VFIO_RETRY_LEGACY, false, false, false },
	{ "follow_pfnmap_start vs zap and refault, PMD leaf", DX_LOOKUP, PMD_ORDER, PMD_BAR,
	  VFIO_RETRY_LEGACY, false, false, false },
};
#define NR_LOOKUP_SCENARIOS ((int)(sizeof(lookup_scenarios) / sizeof(lookup_scenarios[0])))

START_TEST(test_explore_tree_walker_matches_rewrite_per_schedule)
{
	dx_compare(&walker_scenarios[_i]);
}
END_TEST

START_TEST(test_explore_tree_follow_pfnmap_matches_rewrite_per_schedule)
{
	dx_compare(&lookup_scenarios[_i]);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("ktree_explore_diff");
	TCase *tc = tcase_create("explore_diff");

	/* Each case takes seconds; the full bound, up to 2 minutes per world. */
	tcase_set_timeout(tc, dx_full() ? 600 : 120);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tc, test_explore_tree_walker_matches_rewrite_per_schedule, 0,
			    NR_WALKER_SCENARIOS);
	tcase_add_loop_test(tc, test_explore_tree_follow_pfnmap_matches_rewrite_per_schedule, 0,
			    NR_LOOKUP_SCENARIOS);
	return s;
}
