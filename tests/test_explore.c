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

#include "harness.h"
#include "lockdep.h"
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

struct explore_ctx {
	struct race_world w;
	bool walker_fixed;		/* the profile's 9b25a6e3d243 switch */
	unsigned long oopses, map_ok, map_err;
	long bad_ret;
	char why[512];
};

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

static void explore(struct explore_ctx *c, struct sched_explore_stats *st)
{
	double t0 = now_s();

	ck_assert_int_eq(sched_explore(&ex_ops, c, SCHED_RACE_POINTS, 2, 200000, 100000, st), 0);
	printf("# kernel=%s walker=%s bar=%s policy=%d: %lu schedules in %.2f s (%s), ok=%lu einval=%lu%s%s\n",
	       c->w.cfg.kernel, c->walker_fixed ? "fixed" : "pre-fix",
	       c->w.cfg.bar_fault_order == PUD_ORDER ? "PUD" : "PMD", c->w.cfg.policy,
	       st->schedules, now_s() - t0, st->complete ? "complete" : "stopped", c->map_ok,
	       c->map_err, st->bug_found ? ", bug: " : "", st->bug_found ? c->why : "");
	if (st->bug_found)
		printf("# replay with PINSIM_SCHEDULE=%s\n", st->bug.schedule);
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
	return s;
}
