// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bounded exhaustive search over walker x pinner (issue 5, scenario 9):
 * every schedule with at most 2 preemptions at the race's schedule points.
 * Under 6.12.74 (before 9b25a6e3d243) the search finds the seeds/01 oops;
 * under every kernel with the walker fix (6.12.113, 6.12.118, 7.0,
 * upstream) it explores the whole space and every execution ends
 * without an oops, with MAP_DMA giving success or the policy's documented
 * error.  The counts are printed; the failing schedule is printed to replay.
 */
#include <time.h>

#include "checker.h"
#include "harness.h"
#include "lockdep.h"
#include "mutex.h"
#include "rwsem.h"
#include "race_world.h"

/*
 * Issue 15: the suite's controlled runs all ran with the lock-order checker
 * on (sim/lockdep.h); it must have found nothing.  A report is a finding:
 * printed with its schedule, and the case fails.
 */
static void assert_no_checker_report(void)
{
	static char text[2048], sched[1024];

	if (!lockdep_nr_reports())
		return;
	lockdep_report(0, NULL, text, sizeof(text), sched, sizeof(sched));
	printf("# checker: %s\n# replay with PINSIM_SCHEDULE=%s\n", text, sched);
	ck_abort_msg("%u checker report(s), the first: %.300s", lockdep_nr_reports(), text);
}

/*
 * Every kernel maps the same 16 KiB at the start of the BAR: one PUD leaf
 * either way, and 6.12's per-page follow_fault_pfn() stays at 4 calls.
 */
#define EX_MAP_SIZE (16 * KiB)

#define EX_MAX_OUTCOMES 32

struct explore_ctx {
	struct race_world w;
	bool walker_fixed;		/* the profile's 9b25a6e3d243 switch */
	unsigned long oopses, map_ok, map_err;
	long bad_ret;
	char why[512];
	/*
	 * The distinct outcomes (issue 15: the reduced search must find every
	 * one the plain search finds): how the run ended, each thread's
	 * result, whether the BAR ended up mapped and how many DMA mappings
	 * the container holds, and the oopsing function if any.
	 */
	unsigned int nr_outcomes;
	bool outcomes_overflow;
	char outcomes[EX_MAX_OUTCOMES][96];
	bool collect_only;		/* every outcome is fine: only collect them */
	unsigned int bound;		/* preemption bound (0: 2) */
};

static void ex_note_outcome(struct explore_ctx *c, struct sched_thread *t, int n,
			    const struct sched_result *r)
{
	struct oops_record rec = { 0 };
	char key[96];
	int off;

	if (sim_oops_count())
		sim_last_oops(&rec);
	off = snprintf(key, sizeof(key), "st=%d bar=%d dmas=%u oops=%s rets=", r->status,
		       race_world_bar_mapped(&c->w), race_world_nr_dmas(&c->w),
		       sim_oops_count() && rec.func[0] ? rec.func : "-");
	for (int i = 0; i < n && off > 0 && off < (int)sizeof(key); i++)
		off += snprintf(key + off, sizeof(key) - (size_t)off, "%s%ld", i ? "," : "",
				t[i].ret > 0 ? 1 : t[i].ret);
	for (unsigned int i = 0; i < c->nr_outcomes; i++)
		if (!strcmp(c->outcomes[i], key))
			return;
	if (c->nr_outcomes == EX_MAX_OUTCOMES) {
		c->outcomes_overflow = true;
		return;
	}
	snprintf(c->outcomes[c->nr_outcomes++], sizeof(c->outcomes[0]), "%s", key);
}

static bool ex_has_outcome(const struct explore_ctx *c, const char *key)
{
	for (unsigned int i = 0; i < c->nr_outcomes; i++)
		if (!strcmp(c->outcomes[i], key))
			return true;
	return false;
}

static int ex_setup(void *ctx, struct sched_thread *t)
{
	struct explore_ctx *c = ctx;
	int n = race_world_setup(&c->w, t);

	c->walker_fixed = machine->cfg.pagewalk_fixed;
	return n;
}

static bool ex_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct explore_ctx *c = ctx;
	struct oops_record rec;
	long map = t[1].ret;

	ex_note_outcome(c, t, n, r);
	if (c->collect_only)
		return true;
	/* The search stops on the first checker report (issue 15). */
	if (lockdep_nr_reports()) {
		lockdep_report(0, NULL, c->why, sizeof(c->why), NULL, 0);
		return false;
	}
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
	/* The documented outcomes: success, or LEGACY's -EINVAL. */
	if (map == 0 && race_world_bar_mapped(&c->w)) {
		c->map_ok++;
	} else if (((map == -EINVAL && c->w.cfg.policy == VFIO_RETRY_LEGACY) ||
		    (map == -EBUSY && c->w.cfg.policy == VFIO_RETRY_BOUNDED)) &&
		   race_world_nr_dmas(&c->w) == 0) {
		c->map_err++;
	} else {
		c->bad_ret = map;
		snprintf(c->why, sizeof(c->why), "MAP_DMA returned %ld", map);
		return false;
	}
	return t[0].ret >= 0;	/* the reader got its text */
}

static void ex_teardown(void *ctx)
{
	race_world_teardown(&((struct explore_ctx *)ctx)->w);
}

static const struct sched_explore_ops ex_ops = { ex_setup, ex_check, ex_teardown };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void explore_opts(struct explore_ctx *c, const struct sched_explore_opts *o,
			 struct sched_explore_stats *st)
{
	double t0 = now_s();

	ck_assert_int_eq(sched_explore_ex(&ex_ops, c, o, st), 0);
	printf("# kernel=%s walker=%s bar=%s policy=%d%s%s: %lu schedules (+%lu pruned, %lu sleep skips) in %.2f s (%s), ok=%lu einval=%lu outcomes=%u%s%s\n",
	       c->w.cfg.kernel, c->walker_fixed ? "fixed" : "pre-fix",
	       c->w.cfg.bar_fault_order == PUD_ORDER ? "PUD" : "PMD", c->w.cfg.policy,
	       c->w.cfg.hang_threads ? " +munmap+reader" : "", o->por ? " por=sleep" : " por=off",
	       st->schedules, st->pruned, st->sleep_skips, now_s() - t0,
	       st->complete ? "complete" : "stopped", c->map_ok, c->map_err, c->nr_outcomes,
	       st->bug_found ? ", bug: " : "", st->bug_found ? c->why : "");
	if (st->bug_found)
		printf("# replay with PINSIM_SCHEDULE=%s\n", st->bug.schedule);
}

static void ex_opts_init(struct sched_explore_opts *o, const struct explore_ctx *c, bool por)
{
	*o = (struct sched_explore_opts){ .points = SCHED_RACE_POINTS,
					  .preemption_bound = c->bound ? c->bound : 2,
					  .max_schedules = 200000, .step_budget = 100000,
					  .por = por };
}

static void explore(struct explore_ctx *c, struct sched_explore_stats *st)
{
	struct sched_explore_opts o;

	ex_opts_init(&o, c, false);
	explore_opts(c, &o, st);
}

/*
 * The same scenario with and without sleep sets: when the plain search was
 * exhaustive, the reduced one must be too, find the same outcome set (one
 * fewer is a lost state) and run no more executions — strictly fewer with
 * @fewer, where the reduction has independent steps to prune (a test that
 * fails if it regressed to nothing).  The coverage matrix of the reduced
 * search is printed.
 */
static void explore_compare_ex(const struct explore_ctx *plain,
			       const struct sched_explore_stats *pst, bool fewer)
{
	struct explore_ctx c = { .w.cfg = plain->w.cfg, .collect_only = plain->collect_only,
				 .bound = plain->bound };
	struct sched_explore_opts o;
	struct sched_explore_stats st;

	ex_opts_init(&o, plain, true);
	explore_opts(&c, &o, &st);
	printf("# reduction: %lu -> %lu executions (%lu checked + %lu pruned), outcomes %u -> %u; "
	       "sleepers woken by conflicts %lu, by unknown steps %lu (forced %lu), "
	       "weak sleepers %lu\n",
	       pst->schedules, st.schedules + st.pruned, st.schedules, st.pruned,
	       plain->nr_outcomes, c.nr_outcomes, st.wake_conflict,
	       st.wake_unknown[SCHED_FP_FORCED] + st.wake_unknown[SCHED_FP_OVERFLOW] +
		       st.wake_unknown[SCHED_FP_NO_OBJECT],
	       st.wake_unknown[SCHED_FP_FORCED], st.weak_sleeps);
	sched_coverage_print(stdout, "# ", &st);
	if (!pst->complete || pst->bug_found)
		return;		/* plain search not exhaustive: nothing to compare */
	ck_assert(!plain->outcomes_overflow && !c.outcomes_overflow);
	ck_assert(st.complete);
	ck_assert_msg(!st.bug_found, "%s (schedule %s)", c.why, st.bug.schedule);
	for (unsigned int i = 0; i < plain->nr_outcomes; i++)
		ck_assert_msg(ex_has_outcome(&c, plain->outcomes[i]),
			      "outcome lost by the reduction: %s", plain->outcomes[i]);
	ck_assert_uint_eq(c.nr_outcomes, plain->nr_outcomes);
	ck_assert_uint_le(st.schedules + st.pruned, pst->schedules);
	if (fewer)
		ck_assert_uint_lt(st.schedules + st.pruned, pst->schedules);
	ck_assert_uint_gt(sched_coverage_pairs(&st), 0);
}

static void explore_compare(const struct explore_ctx *plain, const struct sched_explore_stats *pst)
{
	explore_compare_ex(plain, pst, false);
}

/* The reduced search finds the oops too. */
static void explore_reduced_finds_the_oops(const struct explore_ctx *plain)
{
	struct explore_ctx r = { .w.cfg = plain->w.cfg };
	struct sched_explore_opts o;
	struct sched_explore_stats st;

	ex_opts_init(&o, plain, true);
	explore_opts(&r, &o, &st);
	ck_assert(st.bug_found);
	ck_assert_uint_eq(r.oopses, 1);
	ck_assert_ptr_nonnull(strstr(r.why, "illegal read of MMIO pfn"));
	/* Its schedule (no handover in it) replays the oops without the reduction. */
	{
		struct race_world w = { .cfg = plain->w.cfg };
		struct sched_thread t[SCHED_MAX_THREADS] = { 0 };
		int n = race_world_setup(&w, t);

		ck_assert_int_eq(race_world_replay(&w, t, n, st.bug.schedule), 1);
	}
}

START_TEST(test_exhaustive_prefix_walker_finds_the_pud_refault_oops)
{
	struct explore_ctx c = { .w.cfg = { "6.12.74", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY,
					  .map_size = EX_MAP_SIZE } };
	struct sched_explore_stats st;

	explore(&c, &st);
	ck_assert(st.bug_found);
	ck_assert_uint_eq(c.oopses, 1);
	ck_assert_ptr_nonnull(strstr(c.why, "walk_pmd_range"));
	ck_assert_ptr_nonnull(strstr(c.why, "illegal read of MMIO pfn"));
	explore_reduced_finds_the_oops(&c);
}
END_TEST

/* The kernels with 9b25a6e3d243 (6.12.85 on): no schedule oopses. */
static const char *const fixed_kernels[] = { "6.12.113", "6.12.118", "7.0", "upstream" };
#define NR_FIXED_KERNELS ((int)(sizeof(fixed_kernels) / sizeof(fixed_kernels[0])))

static void explore_clean(const char *kernel, enum vfio_retry_policy policy, bool enoent,
			  unsigned int order)
{
	struct explore_ctx c = { .w.cfg = { kernel, order, 2ULL << 30, policy, enoent,
					  .map_size = EX_MAP_SIZE } };
	struct sched_explore_stats st;

	explore(&c, &st);
	ck_assert_msg(!st.bug_found, "%s (schedule %s)", c.why, st.bug.schedule);
	ck_assert(st.complete);
	ck_assert_uint_eq(c.oopses, 0);
	ck_assert_uint_gt(st.schedules, 1);
	/* Two PUDs: the walker's steps on one commute with the pinner's on the other. */
	explore_compare_ex(&c, &st, true);
}

START_TEST(test_exhaustive_fixed_walker_no_oops_legacy)
{
	explore_clean(fixed_kernels[_i], VFIO_RETRY_LEGACY, false, PUD_ORDER);
}
END_TEST

START_TEST(test_exhaustive_fixed_walker_no_oops_eagain)
{
	explore_clean(fixed_kernels[_i], VFIO_RETRY_EAGAIN, false, PUD_ORDER);
}
END_TEST

START_TEST(test_exhaustive_fixed_walker_no_oops_bounded)
{
	explore_clean(fixed_kernels[_i], VFIO_RETRY_BOUNDED, false, PUD_ORDER);
}
END_TEST

START_TEST(test_exhaustive_fixed_walker_no_oops_enoent)
{
	explore_clean(fixed_kernels[_i], VFIO_RETRY_ENOENT, true, PUD_ORDER);
}
END_TEST

START_TEST(test_exhaustive_prefix_walker_pmd_leaves_no_oops)
{
	struct explore_ctx c = { .w.cfg = { "6.12.74", PMD_ORDER, 4ULL << 20, VFIO_RETRY_LEGACY,
					  .map_size = EX_MAP_SIZE } };
	struct sched_explore_stats st;

	explore(&c, &st);
	ck_assert_msg(!st.bug_found, "%s (schedule %s)", c.why, st.bug.schedule);
	ck_assert(st.complete);
	explore_compare(&c, &st);
}
END_TEST

/*
 * Four threads (the race, a munmap of the BAR, a second reader): more
 * independent steps, where sleep sets have room.  Every outcome the plain
 * search reaches, the reduced one reaches.
 */
START_TEST(test_exhaustive_four_threads_reduction_keeps_every_outcome)
{
	struct explore_ctx c = { .w.cfg = { fixed_kernels[_i], PUD_ORDER, 1ULL << 30,
					  VFIO_RETRY_LEGACY, .hang_threads = true,
					  .map_size = EX_MAP_SIZE },
				 .collect_only = true };
	struct sched_explore_stats st;

	c.bound = 1;
	explore(&c, &st);
	explore_compare_ex(&c, &st, true);
}
END_TEST

/*
 * The seeds' scenarios as bench_race -e runs them (a 1 GiB BAR, 16 KiB
 * mapped), every outcome collected, at bound 2: the reduced search finds
 * exactly the plain search's outcome set, the oops included.  With one PUD
 * every walker step touches what the pinner's touch: nothing to prune
 * (scheduler.h), so no fewer executions are asked for here.
 */
static const struct race_world_cfg seed_cfgs[] = {
	{ "6.12.118", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY, .map_size = EX_MAP_SIZE },
	{ "upstream", PUD_ORDER, 1ULL << 30, VFIO_RETRY_EAGAIN, .map_size = EX_MAP_SIZE },
	{ "6.12.74", PMD_ORDER, 4ULL << 20, VFIO_RETRY_LEGACY, .map_size = EX_MAP_SIZE },
	{ "6.12.74", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY, .map_size = EX_MAP_SIZE },
};

START_TEST(test_seed_scenarios_reduced_search_keeps_every_outcome)
{
	struct explore_ctx c = { .w.cfg = seed_cfgs[_i], .collect_only = true };
	struct sched_explore_stats st;

	explore(&c, &st);
	ck_assert(st.complete);
	ck_assert_uint_gt(c.nr_outcomes, 0);
	explore_compare(&c, &st);
}
END_TEST

/*
 * The hang world (race, munmap, late reader) at bound 2: readers and the
 * pinner's steps that only block, hand over or touch other PUD-sized
 * regions commute; the reduced search runs strictly fewer executions and
 * finds the same outcome set.
 */
START_TEST(test_hang_world_bound_2_reduction_fewer_schedules_same_outcomes)
{
	struct explore_ctx c = { .w.cfg = { "upstream", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY,
					  .hang_threads = true, .map_size = EX_MAP_SIZE },
				 .collect_only = true, .bound = 2 };
	struct sched_explore_stats st;

	explore(&c, &st);
	ck_assert(st.complete);
	explore_compare_ex(&c, &st, true);
}
END_TEST

/*
 * Sharding the exhaustive tree: prefixes of three decisions dealt round-robin
 * to 3 shards.  The shards' checked executions add up to the unsharded
 * count, their outcome sets and coverage unite to the unsharded ones — with
 * and without the reduction.
 */
static void shard_union_equals_one_run(bool por)
{
	const struct race_world_cfg cfg = { "6.12.118", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY,
					    .map_size = EX_MAP_SIZE };
	struct explore_ctx one = { .w.cfg = cfg, .collect_only = true }, all = { .w.cfg = cfg };
	struct sched_explore_stats st1, st;
	struct sched_explore_opts o;
	unsigned long sum = 0, pruned = 0, owned = 0;
	uint32_t order[NR_SCHED_POINTS] = { 0 };
	const unsigned int nr = 3;

	ex_opts_init(&o, &one, por);
	o.shard_depth = 3;
	explore_opts(&one, &o, &st1);
	ck_assert(st1.complete);
	o.nr_shards = nr;
	for (unsigned int i = 0; i < nr; i++) {
		struct explore_ctx c = { .w.cfg = cfg, .collect_only = true };

		o.shard = i;
		explore_opts(&c, &o, &st);
		printf("# shard %u/%u: %lu schedules, %lu pruned, %lu probes, %lu of %lu prefixes\n",
		       i, nr, st.schedules, st.pruned, st.probes, st.own_prefixes, st.prefixes);
		ck_assert(st.complete);
		sum += st.schedules;
		pruned += st.pruned;
		owned += st.own_prefixes;
		for (int p = 0; p < NR_SCHED_POINTS; p++)
			order[p] |= st.order[p];
		for (unsigned int k = 0; k < c.nr_outcomes; k++)
			if (!ex_has_outcome(&all, c.outcomes[k]) && all.nr_outcomes < EX_MAX_OUTCOMES)
				snprintf(all.outcomes[all.nr_outcomes++], sizeof(all.outcomes[0]),
					 "%s", c.outcomes[k]);
	}
	ck_assert_uint_eq(st.prefixes, st1.prefixes);
	ck_assert_uint_eq(sum, st1.schedules);
	ck_assert_uint_eq(pruned, st1.pruned);
	ck_assert_uint_eq(owned, st.prefixes);
	ck_assert_uint_eq(all.nr_outcomes, one.nr_outcomes);
	for (unsigned int k = 0; k < one.nr_outcomes; k++)
		ck_assert_msg(ex_has_outcome(&all, one.outcomes[k]), "lost by sharding: %s",
			      one.outcomes[k]);
	ck_assert_mem_eq(order, st1.order, sizeof(order));
}

START_TEST(test_exhaustive_shards_merge_to_one_run)
{
	shard_union_equals_one_run(false);
}
END_TEST

START_TEST(test_exhaustive_shards_merge_to_one_run_with_reduction)
{
	shard_union_equals_one_run(true);
}
END_TEST

START_TEST(test_exhaustive_bad_shard_is_einval)
{
	struct explore_ctx c = { .w.cfg = { "upstream", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY,
					  .map_size = EX_MAP_SIZE } };
	struct sched_explore_opts o;
	struct sched_explore_stats st;

	ex_opts_init(&o, &c, false);
	o.nr_shards = 2;
	o.shard = 2;
	ck_assert_int_eq(sched_explore_ex(&ex_ops, &c, &o, &st), -EINVAL);
	ck_assert_uint_eq(st.schedules, 0);
}
END_TEST

/*
 * A synthetic world where steps are independent by construction: each
 * thread passes a few points on an object of its own (a private "mm" key:
 * the points only use it as an identity), then appends its index to a log
 * shared by all, announced on a shared key.  The plain search tries every
 * interleaving of the private steps; sleep sets try one per order of the
 * shared appends.  The outcome is the log's order.
 */
#define SY_THREADS 3
#define SY_STEPS 3

struct synth_ctx {
	long keys[SY_THREADS + 1];	/* identities only */
	int log[SY_THREADS], nlog;
	unsigned int orders;		/* bit per log order seen (base-3 number) */
};

static struct synth_ctx *synth;

static long synth_thread(void *arg)
{
	long i = (long)arg;
	struct mm_struct *own = (struct mm_struct *)&synth->keys[i];
	struct mm_struct *shared = (struct mm_struct *)&synth->keys[SY_THREADS];

	for (int k = 0; k < SY_STEPS; k++)
		sched_point(SP_PIN_BETWEEN_RUNS, own, 0);
	sched_point(SP_PIN_BETWEEN_RUNS, shared, 0);
	synth->log[synth->nlog++] = (int)i;
	return 0;
}

static int synth_setup(void *ctx, struct sched_thread *t)
{
	synth = ctx;
	synth->nlog = 0;
	for (long i = 0; i < SY_THREADS; i++)
		t[i] = (struct sched_thread){ .name = "synth", .fn = synth_thread,
					      .arg = (void *)i };
	return SY_THREADS;
}

static bool synth_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct synth_ctx *c = ctx;
	unsigned int code = 0;

	if (r->status != SCHED_DONE || c->nlog != SY_THREADS)
		return false;
	for (int i = 0; i < SY_THREADS; i++)
		code = code * SY_THREADS + (unsigned int)c->log[i];
	c->orders |= 1u << code;
	return true;
}

static void synth_teardown(void *ctx)
{
}

START_TEST(test_reduction_collapses_independent_steps_keeps_every_order)
{
	static const struct sched_explore_ops ops = { synth_setup, synth_check, synth_teardown };
	struct synth_ctx plain = { 0 }, red = { 0 };
	struct sched_explore_stats pst, st;
	struct sched_explore_opts o = { .points = 1u << SP_PIN_BETWEEN_RUNS,
					.preemption_bound = _i, .step_budget = 10000 };

	tm_setup();	/* the threads' tasks live in a machine */
	ck_assert_int_eq(sched_explore_ex(&ops, &plain, &o, &pst), 0);
	o.por = true;
	ck_assert_int_eq(sched_explore_ex(&ops, &red, &o, &st), 0);
	printf("# synthetic %d threads x %d private steps, bound %d: plain %lu schedules, "
	       "sleep sets %lu (+%lu pruned), log orders %d -> %d\n",
	       SY_THREADS, SY_STEPS, _i, pst.schedules, st.schedules, st.pruned,
	       __builtin_popcount(plain.orders), __builtin_popcount(red.orders));
	sched_coverage_print(stdout, "# ", &st);
	ck_assert(pst.complete && st.complete);
	ck_assert(!pst.bug_found && !st.bug_found);
	ck_assert_uint_eq(red.orders, plain.orders);
	/*
	 * Bound 0 leaves sleep sets nothing to prune (the bound rule,
	 * scheduler.h); from bound 1 weak sleepers prune the preempting
	 * siblings' private steps.
	 */
	ck_assert_uint_le(st.schedules + st.pruned, pst.schedules);
	if (_i >= 1)
		ck_assert_uint_lt(st.schedules + st.pruned, pst.schedules);
	tm_teardown();
}
END_TEST

/*
 * The bound rule against random programs: each thread runs steps that touch
 * either a private object or one of two shared ones, appending to that
 * shared object's log.  The logs are the observable (two runs that differ
 * in the order of two dependent steps differ in a log), so a rule that
 * loses a state loses an outcome.  For every program and every bound 0..3,
 * the reduced search must find exactly the plain search's outcome set.
 */
#define RP_THREADS 3
#define RP_STEPS 3
#define RP_MAX_OUTCOMES 2048

struct rp_ctx {
	uint8_t key[RP_THREADS][RP_STEPS];	/* 0: private, 1..2: shared */
	long objs[RP_THREADS + 2];		/* identities only */
	uint8_t log[2][RP_THREADS * RP_STEPS];
	unsigned int nlog[2];
	unsigned int nr;
	uint64_t outcome[RP_MAX_OUTCOMES];
	bool overflow;
};

static struct rp_ctx *rp;

static long rp_thread(void *arg)
{
	long i = (long)arg;

	for (int k = 0; k < RP_STEPS; k++) {
		unsigned int key = rp->key[i][k];
		long *obj = key ? &rp->objs[RP_THREADS + key - 1] : &rp->objs[i];

		sched_point(SP_PIN_BETWEEN_RUNS, (struct mm_struct *)obj, 0);
		if (key)
			rp->log[key - 1][rp->nlog[key - 1]++] = (uint8_t)(i * RP_STEPS + k);
	}
	return 0;
}

static int rp_setup(void *ctx, struct sched_thread *t)
{
	rp = ctx;
	rp->nlog[0] = rp->nlog[1] = 0;
	for (long i = 0; i < RP_THREADS; i++)
		t[i] = (struct sched_thread){ .name = "rp", .fn = rp_thread, .arg = (void *)i };
	return RP_THREADS;
}

static bool rp_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct rp_ctx *c = ctx;
	uint64_t h = 0xcbf29ce484222325ull;

	if (r->status != SCHED_DONE)
		return false;
	for (int l = 0; l < 2; l++)
		for (unsigned int k = 0; k <= c->nlog[l]; k++)
			h = (h ^ (k < c->nlog[l] ? c->log[l][k] : 0xff)) * 0x100000001b3ull;
	for (unsigned int k = 0; k < c->nr; k++)
		if (c->outcome[k] == h)
			return true;
	if (c->nr == RP_MAX_OUTCOMES)
		c->overflow = true;
	else
		c->outcome[c->nr++] = h;
	return true;
}

static bool rp_has(const struct rp_ctx *c, uint64_t h)
{
	for (unsigned int k = 0; k < c->nr; k++)
		if (c->outcome[k] == h)
			return true;
	return false;
}

START_TEST(test_reduction_loses_no_outcome_on_random_programs)
{
	static const struct sched_explore_ops ops = { rp_setup, rp_check, synth_teardown };
	static struct rp_ctx plain, red;
	unsigned long tot_plain = 0, tot_red = 0;
	uint64_t x = 0x15c0ffee;

	tm_setup();
	for (int prog = 0; prog < 8; prog++) {
		uint8_t key[RP_THREADS][RP_STEPS];

		for (int i = 0; i < RP_THREADS; i++)
			for (int k = 0; k < RP_STEPS; k++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				key[i][k] = (uint8_t)((x >> 33) % 3);
			}
		for (unsigned int bound = 0; bound <= 3; bound++) {
			struct sched_explore_opts o = { .points = 1u << SP_PIN_BETWEEN_RUNS,
							.preemption_bound = bound,
							.step_budget = 10000 };
			struct sched_explore_stats pst, st;

			memset(&plain, 0, sizeof(plain));
			memset(&red, 0, sizeof(red));
			memcpy(plain.key, key, sizeof(key));
			memcpy(red.key, key, sizeof(key));
			ck_assert_int_eq(sched_explore_ex(&ops, &plain, &o, &pst), 0);
			o.por = true;
			ck_assert_int_eq(sched_explore_ex(&ops, &red, &o, &st), 0);
			ck_assert(pst.complete && st.complete && !plain.overflow && !red.overflow);
			for (unsigned int k = 0; k < plain.nr; k++)
				ck_assert_msg(rp_has(&red, plain.outcome[k]),
					      "program %d bound %u: an outcome lost by the reduction",
					      prog, bound);
			ck_assert_uint_eq(red.nr, plain.nr);
			ck_assert_uint_le(st.schedules + st.pruned, pst.schedules);
			tot_plain += pst.schedules;
			tot_red += st.schedules + st.pruned;
		}
	}
	printf("# 8 random programs x bounds 0..3: plain %lu executions, sleep sets %lu, "
	       "every outcome set equal\n", tot_plain, tot_red);
	tm_teardown();
}
END_TEST

/*
 * The read side of an rwsem (scheduler.h, "Locks"): random programs whose
 * steps pass a private point, read a shared version under down_read(), or
 * change it under down_write(), with the lock points as decision points
 * too.  What each reader saw and the final version are the outcome; the
 * reduced search must find exactly the plain search's outcome set, and
 * readers that commute must save executions.
 */
#define RW_THREADS 3
#define RW_STEPS 2
#define RW_MAX_OUTCOMES 4096

struct rw_ctx {
	uint8_t kind[RW_THREADS][RW_STEPS];	/* 0: private, 1: read, 2: write */
	long objs[RW_THREADS];			/* identities only */
	struct rw_semaphore sems[2], *sem;	/* @moving: a new address every run */
	bool moving;
	unsigned long runs;
	uint64_t ver;
	uint64_t seen[RW_THREADS][RW_STEPS];
	unsigned int nr;
	uint64_t outcome[RW_MAX_OUTCOMES];
	bool overflow;
};

static struct rw_ctx *rwc;

static long rw_thread(void *arg)
{
	long i = (long)arg;
	struct mm_struct *own = (struct mm_struct *)&rwc->objs[i];

	for (int k = 0; k < RW_STEPS; k++) {
		sched_point(SP_PIN_BETWEEN_RUNS, own, 0);
		if (rwc->kind[i][k] == 1) {
			down_read(rwc->sem);
			rwc->seen[i][k] = rwc->ver;
			sched_point(SP_PIN_BETWEEN_RUNS, own, 0);
			up_read(rwc->sem);
		} else if (rwc->kind[i][k] == 2) {
			down_write(rwc->sem);
			rwc->ver = rwc->ver * 7 + (uint64_t)(i * RW_STEPS + k) + 1;
			sched_point(SP_PIN_BETWEEN_RUNS, own, 0);
			up_write(rwc->sem);
		}
	}
	return 0;
}

static int rw_setup(void *ctx, struct sched_thread *t)
{
	rwc = ctx;
	/* As under ASan's quarantine: every world's lock at another address. */
	rwc->sem = &rwc->sems[rwc->moving ? rwc->runs++ & 1 : 0];
	init_rwsem(rwc->sem, "explore_test_rwsem");
	rwc->ver = 0;
	memset(rwc->seen, 0, sizeof(rwc->seen));
	for (long i = 0; i < RW_THREADS; i++)
		t[i] = (struct sched_thread){ .name = "rw", .fn = rw_thread, .arg = (void *)i };
	return RW_THREADS;
}

static bool rw_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct rw_ctx *c = ctx;
	uint64_t h = 0xcbf29ce484222325ull;

	if (r->status != SCHED_DONE)
		return false;
	for (int i = 0; i < RW_THREADS; i++)
		for (int k = 0; k < RW_STEPS; k++)
			h = (h ^ c->seen[i][k]) * 0x100000001b3ull;
	h = (h ^ c->ver) * 0x100000001b3ull;
	for (unsigned int k = 0; k < c->nr; k++)
		if (c->outcome[k] == h)
			return true;
	if (c->nr == RW_MAX_OUTCOMES)
		c->overflow = true;
	else
		c->outcome[c->nr++] = h;
	return true;
}

static bool rw_has(const struct rw_ctx *c, uint64_t h)
{
	for (unsigned int k = 0; k < c->nr; k++)
		if (c->outcome[k] == h)
			return true;
	return false;
}

static void rw_teardown(void *ctx)
{
	destroy_rwsem(((struct rw_ctx *)ctx)->sem);
}

/*
 * _i == 1: the rwsem sits at another address in every other world, as
 * ASan's quarantine places every new world (footprints compare across
 * executions: keys must not be host addresses, scheduler.h
 * sched_canon_key()).  The outcome sets must still be equal.
 */
START_TEST(test_reduction_readers_of_one_rwsem_commute_no_outcome_lost)
{
	static const struct sched_explore_ops ops = { rw_setup, rw_check, rw_teardown };
	static struct rw_ctx plain, red;
	unsigned long tot_plain = 0, tot_red = 0;
	uint64_t x = 0x15c5ea1;

	tm_setup();
	for (int prog = 0; prog < 8; prog++) {
		uint8_t kind[RW_THREADS][RW_STEPS];

		/* Mostly readers; program 0 has readers only. */
		for (int i = 0; i < RW_THREADS; i++)
			for (int k = 0; k < RW_STEPS; k++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				kind[i][k] = prog ? (uint8_t[]){ 0, 1, 1, 2 }[(x >> 33) % 4] : 1;
			}
		for (unsigned int bound = 0; bound <= 2; bound++) {
			struct sched_explore_opts o = {
				.points = (1u << SP_PIN_BETWEEN_RUNS) | (1u << SP_MMAP_LOCK),
				.preemption_bound = bound, .step_budget = 10000 };
			struct sched_explore_stats pst, st;

			memset(&plain, 0, sizeof(plain));
			memset(&red, 0, sizeof(red));
			memcpy(plain.kind, kind, sizeof(kind));
			memcpy(red.kind, kind, sizeof(kind));
			plain.moving = red.moving = _i;
			ck_assert_int_eq(sched_explore_ex(&ops, &plain, &o, &pst), 0);
			o.por = true;
			ck_assert_int_eq(sched_explore_ex(&ops, &red, &o, &st), 0);
			ck_assert(pst.complete && st.complete && !plain.overflow && !red.overflow);
			ck_assert(!pst.checker_report && !st.checker_report);
			for (unsigned int k = 0; k < plain.nr; k++)
				ck_assert_msg(rw_has(&red, plain.outcome[k]),
					      "program %d bound %u: an outcome lost by the reduction",
					      prog, bound);
			ck_assert_uint_eq(red.nr, plain.nr);
			ck_assert_uint_le(st.schedules + st.pruned, pst.schedules);
			if (prog == 0 && bound == 2)
				ck_assert_uint_lt(st.schedules + st.pruned, pst.schedules);
			tot_plain += pst.schedules;
			tot_red += st.schedules + st.pruned;
		}
	}
	printf("# 8 random reader/writer programs x bounds 0..2: plain %lu executions, "
	       "sleep sets %lu, every outcome set equal\n", tot_plain, tot_red);
	tm_teardown();
}
END_TEST

/*
 * Stop on the first checker report (issue 15): two threads take two test
 * mutexes in opposite orders.  The search's first schedule runs one thread
 * to its end, then the other: no deadlock, but lockdep sees a -> b, then
 * b -> a, and reports the cycle.  The search stops there, with the
 * schedule that replays it; with collect_reports it explores the whole
 * bounded space, deadlocking schedules included.
 */
struct inv_ctx {
	struct mutex a, b;
	unsigned long runs, done, deadlocks;
};

static struct inv_ctx *inv;

static long inv_thread(void *arg)
{
	struct mutex *first = arg ? &inv->b : &inv->a, *second = arg ? &inv->a : &inv->b;

	mutex_lock(first);
	mutex_lock(second);
	mutex_unlock(second);
	mutex_unlock(first);
	return 0;
}

static int inv_setup(void *ctx, struct sched_thread *t)
{
	inv = ctx;
	mutex_init(&inv->a, "explore_test_mutex_a");
	mutex_init(&inv->b, "explore_test_mutex_b");
	t[0] = (struct sched_thread){ .name = "ab", .fn = inv_thread, .arg = NULL };
	t[1] = (struct sched_thread){ .name = "ba", .fn = inv_thread, .arg = (void *)1 };
	return 2;
}

static bool inv_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct inv_ctx *c = ctx;

	c->runs++;
	c->done += r->status == SCHED_DONE;
	c->deadlocks += r->status == SCHED_DEADLOCK;
	return r->status == SCHED_DONE || r->status == SCHED_DEADLOCK;
}

static void inv_teardown(void *ctx)
{
	struct inv_ctx *c = ctx;

	mutex_destroy(&c->a);
	mutex_destroy(&c->b);
}

static void inv_forget_reports(void)
{
	lockdep_reset();
	checker_reset();
}

START_TEST(test_search_stops_at_the_first_lock_order_report)
{
	static const struct sched_explore_ops ops = { inv_setup, inv_check, inv_teardown };
	struct sched_explore_opts o = { .points = 1u << SP_MMAP_LOCK, .preemption_bound = 2,
					.step_budget = 10000 };
	struct inv_ctx first = { 0 }, all = { 0 }, replay = { 0 };
	struct sched_explore_stats st, ast;
	struct sched_thread t[SCHED_MAX_THREADS];
	struct sched_strategy s;
	struct sched_result *res = malloc(sizeof(*res));
	char text[512] = "";

	ck_assert_ptr_nonnull(res);
	tm_setup();
	inv_forget_reports();
	ck_assert_int_eq(sched_explore_ex(&ops, &first, &o, &st), 0);
	lockdep_report(0, NULL, text, sizeof(text), NULL, 0);
	/* The report is several lines: only its first goes in the TAP comment. */
	text[strcspn(text, "\n")] = '\0';
	printf("# inverted order: stopped after %lu schedule(s), report: %.200s\n"
	       "# replay with PINSIM_SCHEDULE=%s\n", st.schedules, text, st.bug.schedule);
	ck_assert(st.checker_report);
	ck_assert(!st.bug_found && !st.complete);
	ck_assert_uint_eq(st.schedules, 1);
	ck_assert_uint_eq(st.checker_reports, 1);
	ck_assert_uint_eq(first.deadlocks, 0);	/* the report came without the deadlock */
	ck_assert_int_eq(st.bug.status, SCHED_DONE);
	ck_assert_uint_gt(strlen(st.bug.schedule), 0);
	ck_assert_uint_ge(lockdep_nr_reports(), 1);

	/* Its schedule replays the report on a fresh graph. */
	inv_forget_reports();
	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.schedule = st.bug.schedule;
	s.points = o.points;
	memset(t, 0, sizeof(t));
	ck_assert_int_eq(sched_run(t, inv_setup(&replay, t), &s, res), 0);
	inv_teardown(&replay);
	ck_assert_int_eq(res->status, SCHED_DONE);
	ck_assert_str_eq(res->schedule, st.bug.schedule);
	ck_assert_uint_ge(lockdep_nr_reports(), 1);

	/* Collecting: the whole bounded space, the deadlocking orders among it. */
	inv_forget_reports();
	o.collect_reports = true;
	ck_assert_int_eq(sched_explore_ex(&ops, &all, &o, &ast), 0);
	printf("# inverted order, collect_reports: %lu schedules (%lu deadlocks), %lu with a new report\n",
	       ast.schedules, ast.deadlocks, ast.checker_reports);
	ck_assert(ast.complete && ast.checker_report && !ast.bug_found);
	ck_assert_uint_gt(ast.schedules, 1);
	ck_assert_uint_eq(all.runs, ast.schedules);
	ck_assert_uint_ge(ast.deadlocks, 1);
	ck_assert_uint_ge(all.done, 1);
	ck_assert_uint_ge(ast.checker_reports, 1);
	ck_assert_str_eq(ast.bug.schedule, st.bug.schedule);	/* the same first report */
	inv_forget_reports();
	free(res);
	tm_teardown();
}
END_TEST

/*
 * The same two threads under the reduced search: a thread that ends or
 * blocks hands over to the one left (a node of the search, not a decision
 * of the schedule string).  The first report's schedule is the plain
 * search's, and replays; collecting, the reduced search still finds both
 * outcomes — a run to the end and the ABBA deadlock — in no more runs.
 */
START_TEST(test_reduced_search_handovers_stay_out_of_schedules)
{
	static const struct sched_explore_ops ops = { inv_setup, inv_check, inv_teardown };
	struct sched_explore_opts o = { .points = 1u << SP_MMAP_LOCK, .preemption_bound = 2,
					.step_budget = 10000 };
	struct inv_ctx plain = { 0 }, red = { 0 }, all = { 0 }, replay = { 0 };
	struct sched_explore_stats pst, st, ast, pall;
	struct sched_thread t[SCHED_MAX_THREADS];
	struct sched_strategy s;
	struct sched_result *res = malloc(sizeof(*res));

	ck_assert_ptr_nonnull(res);
	tm_setup();
	inv_forget_reports();
	ck_assert_int_eq(sched_explore_ex(&ops, &plain, &o, &pst), 0);
	inv_forget_reports();
	o.por = true;
	ck_assert_int_eq(sched_explore_ex(&ops, &red, &o, &st), 0);
	printf("# inverted order, reduced: first report after %lu schedule(s), schedule %s "
	       "(plain: %s)\n", st.schedules, st.bug.schedule, pst.bug.schedule);
	ck_assert(st.checker_report && pst.checker_report);
	ck_assert_str_eq(st.bug.schedule, pst.bug.schedule);
	ck_assert_uint_eq(st.bug.nr_decisions, pst.bug.nr_decisions);

	inv_forget_reports();
	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.schedule = st.bug.schedule;
	s.points = o.points;
	memset(t, 0, sizeof(t));
	ck_assert_int_eq(sched_run(t, inv_setup(&replay, t), &s, res), 0);
	inv_teardown(&replay);
	ck_assert_str_eq(res->schedule, st.bug.schedule);
	ck_assert_uint_ge(lockdep_nr_reports(), 1);

	o.collect_reports = true;
	o.por = false;
	inv_forget_reports();
	memset(&plain, 0, sizeof(plain));
	ck_assert_int_eq(sched_explore_ex(&ops, &plain, &o, &pall), 0);
	o.por = true;
	inv_forget_reports();
	ck_assert_int_eq(sched_explore_ex(&ops, &all, &o, &ast), 0);
	printf("# inverted order, collecting: plain %lu schedules (%lu deadlocks), reduced %lu "
	       "(+%lu pruned, %lu deadlocks)\n", pall.schedules, pall.deadlocks, ast.schedules,
	       ast.pruned, ast.deadlocks);
	ck_assert(pall.complete && ast.complete);
	ck_assert_uint_ge(ast.deadlocks, 1);
	ck_assert_uint_ge(all.done, 1);
	ck_assert_uint_le(ast.schedules + ast.pruned, pall.schedules);
	inv_forget_reports();
	free(res);
	tm_teardown();
}
END_TEST

/*
 * Sharding the reduced search, execution for execution (issue 15: shards
 * merge to the same result as one run).  A shard replays the one run's
 * prefix of the search up to its own prefixes' roots (probes, cut short),
 * so it arrives there with the sleep sets the one run has: the multiset of
 * the schedules the shards check is the one run's.  A recorder wraps a
 * world's ops and keeps every checked schedule string.
 */
struct sched_log {
	const struct sched_explore_ops *ops;
	void *ctx;
	unsigned int n, cap;
	char **s;
};

static int log_setup(void *ctx, struct sched_thread *t)
{
	struct sched_log *l = ctx;

	return l->ops->setup(l->ctx, t);
}

static bool log_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct sched_log *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->s = realloc(l->s, l->cap * sizeof(*l->s));
		ck_assert_ptr_nonnull(l->s);
	}
	l->s[l->n] = strdup(r->schedule);
	ck_assert_ptr_nonnull(l->s[l->n]);
	l->n++;
	return l->ops->check(l->ctx, t, n, r);
}

static void log_teardown(void *ctx)
{
	struct sched_log *l = ctx;

	l->ops->teardown(l->ctx);
}

static const struct sched_explore_ops log_ops = { log_setup, log_check, log_teardown };

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void log_free(struct sched_log *l)
{
	for (unsigned int i = 0; i < l->n; i++)
		free(l->s[i]);
	free(l->s);
	l->s = NULL;
	l->n = l->cap = 0;
}

/*
 * One run of @ops on @ctx with @o, then 2, 3 and 5 shards: each shard
 * complete, the shards' checked schedules sorted equal the one run's
 * sorted (a schedule checked twice, or by no shard, differs), their pruned
 * executions add up to the one run's.  Returns the one run's executions.
 */
static unsigned long shards_check_one_runs_schedules(const struct sched_explore_ops *ops, void *ctx,
						     struct sched_explore_opts o, const char *what)
{
	static const unsigned int nrs[] = { 2, 3, 5 };
	struct sched_log one = { .ops = ops, .ctx = ctx }, all = { .ops = ops, .ctx = ctx };
	struct sched_explore_stats st1, st;

	o.nr_shards = 0;
	o.shard = 0;
	ck_assert_int_eq(sched_explore_ex(&log_ops, &one, &o, &st1), 0);
	ck_assert(st1.complete && !st1.bug_found);
	ck_assert_uint_eq(one.n, st1.schedules);
	qsort(one.s, one.n, sizeof(*one.s), cmp_str);
	for (unsigned int k = 0; k < sizeof(nrs) / sizeof(nrs[0]); k++) {
		unsigned long pruned = 0, owned = 0;

		o.nr_shards = nrs[k];
		for (o.shard = 0; o.shard < o.nr_shards; o.shard++) {
			ck_assert_int_eq(sched_explore_ex(&log_ops, &all, &o, &st), 0);
			ck_assert(st.complete && !st.bug_found);
			pruned += st.pruned;
			owned += st.own_prefixes;
		}
		printf("# %s: one run %lu checked + %lu pruned; %u shards: %u checked + %lu pruned\n",
		       what, st1.schedules, st1.pruned, o.nr_shards, all.n, pruned);
		ck_assert_uint_eq(owned, st.prefixes);
		ck_assert_uint_eq(st.prefixes, st1.prefixes);
		ck_assert_uint_eq(pruned, st1.pruned);
		ck_assert_uint_eq(all.n, one.n);
		qsort(all.s, all.n, sizeof(*all.s), cmp_str);
		for (unsigned int i = 0; i < one.n; i++)
			ck_assert_msg(!strcmp(all.s[i], one.s[i]),
				      "%s, %u shards: schedule %s checked by the shards, %s by the one run",
				      what, o.nr_shards, all.s[i], one.s[i]);
		log_free(&all);
	}
	log_free(&one);
	return st1.schedules + st1.pruned;
}

/* The seeds' scenarios (bench_race -e's worlds) with reduction, prefixes of 3 decisions. */
START_TEST(test_reduced_search_shards_check_the_one_runs_schedules_seed_scenarios)
{
	struct explore_ctx c = { .w.cfg = seed_cfgs[_i], .collect_only = true };
	struct sched_explore_opts o;
	char what[96];

	ex_opts_init(&o, &c, true);
	o.shard_depth = 3;
	snprintf(what, sizeof(what), "%s %s reduced", c.w.cfg.kernel,
		 c.w.cfg.bar_fault_order == PUD_ORDER ? "PUD" : "PMD");
	ck_assert_uint_gt(shards_check_one_runs_schedules(&ex_ops, &c, o, what), 1);
}
END_TEST

/*
 * Random programs (the bound rule's test above) at bounds 1..3, prefix
 * depths 1..4: weak and strong sleepers, pruned executions, sleepers whose
 * source node lies above a shard's prefix root.
 */
START_TEST(test_reduced_search_shards_check_the_one_runs_schedules_random_programs)
{
	static const struct sched_explore_ops ops = { rp_setup, rp_check, synth_teardown };
	static struct rp_ctx c;
	unsigned long total = 0;
	uint64_t x = 0x5a4dc0de;

	tm_setup();
	for (int prog = 0; prog < 6; prog++) {
		uint8_t key[RP_THREADS][RP_STEPS];
		char what[64];

		for (int i = 0; i < RP_THREADS; i++)
			for (int k = 0; k < RP_STEPS; k++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				key[i][k] = (uint8_t)((x >> 33) % 3);
			}
		for (unsigned int bound = 1; bound <= 3; bound++) {
			struct sched_explore_opts o = { .points = 1u << SP_PIN_BETWEEN_RUNS,
							.preemption_bound = bound,
							.step_budget = 10000, .por = true,
							.shard_depth = 1 + (prog + bound) % 4 };

			memset(&c, 0, sizeof(c));
			memcpy(c.key, key, sizeof(key));
			snprintf(what, sizeof(what), "program %d bound %u depth %u", prog, bound,
				 o.shard_depth);
			total += shards_check_one_runs_schedules(&ops, &c, o, what);
		}
	}
	printf("# 6 random programs x bounds 1..3: %lu executions, every shard split exact\n",
	       total);
	tm_teardown();
}
END_TEST

/*
 * SP_THREAD_START (tests/race_world.h's late threads): a race point whose
 * step names nothing, so a late thread's start commutes with every step;
 * what it does next is named by the points it passes (its mmap_lock).
 */
START_TEST(test_thread_start_point_names_nothing_and_decides)
{
	struct sched_obj o = { 0 };
	long key;

	ck_assert(SCHED_RACE_POINTS & (1u << SP_THREAD_START));
	ck_assert_str_eq(sched_point_name(SP_THREAD_START), "thread:start");
	ck_assert_int_eq(sched_point_object(SP_THREAD_START, (struct mm_struct *)&key, 0, &o), 0);
	ck_assert_ptr_null(o.key);
	/* The between-runs point a late thread used before names the whole mm. */
	ck_assert_int_eq(sched_point_object(SP_PIN_BETWEEN_RUNS, (struct mm_struct *)&key, 0, &o), 1);
	ck_assert_ptr_eq(o.key, &key);
	ck_assert_uint_eq(o.region, SCHED_OBJ_ALL);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("explore");
	TCase *tc = tcase_create("explore");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, assert_no_checker_report);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_exhaustive_prefix_walker_finds_the_pud_refault_oops);
	tcase_add_loop_test(tc, test_exhaustive_fixed_walker_no_oops_legacy, 0, NR_FIXED_KERNELS);
	tcase_add_loop_test(tc, test_exhaustive_fixed_walker_no_oops_eagain, 0, NR_FIXED_KERNELS);
	tcase_add_loop_test(tc, test_exhaustive_fixed_walker_no_oops_bounded, 0, NR_FIXED_KERNELS);
	tcase_add_loop_test(tc, test_exhaustive_fixed_walker_no_oops_enoent, 0, NR_FIXED_KERNELS);
	tcase_add_test(tc, test_exhaustive_prefix_walker_pmd_leaves_no_oops);
	tcase_add_loop_test(tc, test_exhaustive_four_threads_reduction_keeps_every_outcome, 0,
			    NR_FIXED_KERNELS);
	tcase_add_loop_test(tc, test_seed_scenarios_reduced_search_keeps_every_outcome, 0,
			    (int)(sizeof(seed_cfgs) / sizeof(seed_cfgs[0])));
	tcase_add_test(tc, test_hang_world_bound_2_reduction_fewer_schedules_same_outcomes);
	tcase_add_test(tc, test_exhaustive_shards_merge_to_one_run);
	tcase_add_test(tc, test_exhaustive_shards_merge_to_one_run_with_reduction);
	tcase_add_test(tc, test_exhaustive_bad_shard_is_einval);
	tcase_add_loop_test(tc, test_reduction_collapses_independent_steps_keeps_every_order, 0, 4);
	tcase_add_test(tc, test_reduction_loses_no_outcome_on_random_programs);
	tcase_add_loop_test(tc, test_reduction_readers_of_one_rwsem_commute_no_outcome_lost, 0, 2);
	tcase_add_test(tc, test_search_stops_at_the_first_lock_order_report);
	tcase_add_test(tc, test_reduced_search_handovers_stay_out_of_schedules);
	tcase_add_loop_test(tc, test_reduced_search_shards_check_the_one_runs_schedules_seed_scenarios,
			    0, (int)(sizeof(seed_cfgs) / sizeof(seed_cfgs[0])));
	tcase_add_test(tc, test_reduced_search_shards_check_the_one_runs_schedules_random_programs);
	tcase_add_test(tc, test_thread_start_point_names_nothing_and_decides);
	return s;
}
