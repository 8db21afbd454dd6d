// SPDX-License-Identifier: GPL-2.0-only
/*
 * The deterministic scheduler: replay, PCT, the watchdogs, and the size of
 * the bounded exhaustive search on programs whose schedule count is known.
 */
#include "harness.h"
#include "scheduler.h"

/* A thread that hits @n decision points, logging its id at each step. */
struct stepper {
	int id, n;
	char *log;
	_Atomic int *pos;
};

static long stepper_fn(void *arg)
{
	struct stepper *s = arg;

	for (int i = 0; i < s->n; i++) {
		s->log[atomic_fetch_add(s->pos, 1)] = (char)('A' + s->id);
		sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);
	}
	s->log[atomic_fetch_add(s->pos, 1)] = (char)('a' + s->id);
	return s->id;
}

static char logbuf[256];
static _Atomic int logpos;
static struct stepper steppers[3];

static int make_steppers(struct sched_thread *t, int n, int steps)
{
	memset(logbuf, 0, sizeof(logbuf));
	atomic_store(&logpos, 0);
	for (int i = 0; i < n; i++) {
		steppers[i] = (struct stepper){ i, steps, logbuf, &logpos };
		t[i] = (struct sched_thread){ .name = "stepper", .fn = stepper_fn, .arg = &steppers[i] };
	}
	return n;
}

START_TEST(test_default_schedule_runs_threads_to_completion_in_order)
{
	struct sched_thread t[2];
	struct sched_strategy s;
	struct sched_result res;

	sched_strategy_init(&s);
	make_steppers(t, 2, 3);
	ck_assert_int_eq(sched_run(t, 2, &s, &res), 0);
	ck_assert_int_eq(res.status, SCHED_DONE);
	ck_assert_str_eq(logbuf, "AAAaBBBb");
	ck_assert_int_eq(t[0].ret, 0);
	ck_assert_int_eq(t[1].ret, 1);
	ck_assert_uint_eq(res.preemptions, 0);
}
END_TEST

START_TEST(test_replayed_schedule_string_reproduces_the_interleaving)
{
	struct sched_thread t[2];
	struct sched_strategy s;
	struct sched_result res;
	char first[sizeof(logbuf)];

	sched_strategy_init(&s);
	s.kind = SCHED_PCT;
	s.seed = 0x5eed;
	s.est_steps = 8;
	make_steppers(t, 2, 4);
	ck_assert_int_eq(sched_run(t, 2, &s, &res), 0);
	snprintf(first, sizeof(first), "%s", logbuf);
	printf("# pct seed=0x5eed schedule=%s log=%s\n", res.schedule, first);

	s.kind = SCHED_REPLAY;
	s.schedule = res.schedule;
	make_steppers(t, 2, 4);
	ck_assert_int_eq(sched_run(t, 2, &s, &res), 0);
	ck_assert_str_eq(logbuf, first);
	ck_assert_str_eq(res.report, "");

	/* The same seed gives the same schedule. */
	s.kind = SCHED_PCT;
	make_steppers(t, 2, 4);
	ck_assert_int_eq(sched_run(t, 2, &s, &res), 0);
	ck_assert_str_eq(logbuf, first);
}
END_TEST

START_TEST(test_explicit_schedule_interleaves_as_written)
{
	struct sched_thread t[2];
	struct sched_strategy s;
	struct sched_result res;

	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.schedule = "1.0.1.0";
	make_steppers(t, 2, 2);
	ck_assert_int_eq(sched_run(t, 2, &s, &res), 0);
	/* B, A, B, A as written; then A (current) ends, then B ends. */
	ck_assert_str_eq(logbuf, "BABAab");
}
END_TEST

static long spin_forever(void *arg)
{
	for (;;)
		sched_point(SP_FOLLOW_FAULT_AFTER_FIXUP, NULL, 0);
	return 0;
}

START_TEST(test_livelock_watchdog_ends_the_run_with_ecanceled)
{
	struct sched_thread t[1] = { { .name = "looper", .fn = spin_forever } };
	struct sched_strategy s;
	struct sched_result res;

	sched_strategy_init(&s);
	s.step_budget = 1000;
	ck_assert_int_eq(sched_run(t, 1, &s, &res), 0);
	ck_assert_int_eq(res.status, SCHED_LIVELOCK);
	ck_assert_int_eq(t[0].ret, -ECANCELED);
	ck_assert_ptr_nonnull(strstr(res.report, "livelock"));
}
END_TEST

static struct mm_struct *dl_mm;

static long die_with_read_lock(void *arg)
{
	mmap_read_lock(dl_mm);
	sim_oops(__func__, 0, "test oops holding mmap_lock");
}

static long want_write_lock(void *arg)
{
	sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);	/* let the other go first */
	mmap_write_lock(dl_mm);
	mmap_write_unlock(dl_mm);
	return 0;
}

START_TEST(test_deadlock_on_lock_held_by_crashed_task_is_reported_not_hung)
{
	struct sched_thread t[2] = {
		{ .name = "munmap", .fn = want_write_lock },
		{ .name = "reader", .fn = die_with_read_lock },
	};
	struct sched_strategy s;
	struct sched_result res;

	dl_mm = tm_mm("vmm");
	t[0].mm = t[1].mm = dl_mm;
	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.schedule = "0.1";	/* munmap reaches its point, reader dies, munmap blocks */
	ck_assert_int_eq(sched_run(t, 2, &s, &res), 0);
	ck_assert_int_eq(t[1].ret, -EOWNERDEAD);
	ck_assert_int_eq(res.status, SCHED_DEADLOCK);
	ck_assert_int_eq(t[0].ret, -ECANCELED);
	ck_assert_ptr_nonnull(strstr(res.report, "munmap blocked on"));
	ck_assert_ptr_nonnull(strstr(res.report, "held by a crashed task"));
	printf("# %s\n", res.report);
}
END_TEST

/* ---- exhaustive search on a program with a known number of schedules ---- */

struct count_ctx {
	int threads, steps;
};

static int count_setup(void *ctx, struct sched_thread *t)
{
	struct count_ctx *c = ctx;

	return make_steppers(t, c->threads, c->steps);
}

static bool count_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	return r->status == SCHED_DONE;
}

static void count_teardown(void *ctx)
{
}

static unsigned long explore_count(int threads, int steps, unsigned int bound)
{
	static const struct sched_explore_ops ops = { count_setup, count_check, count_teardown };
	struct count_ctx c = { threads, steps };
	struct sched_explore_stats st;

	ck_assert_int_eq(sched_explore(&ops, &c, 1u << SP_PIN_BETWEEN_RUNS, bound, 0, 10000, &st),
			 0);
	ck_assert(st.complete);
	ck_assert(!st.bug_found);
	return st.schedules;
}

START_TEST(test_exhaustive_search_counts_match_the_combinatorics)
{
	/*
	 * Two threads of 2 points each (3 steps: point, point, end):
	 * unbounded, the interleavings of 3 + 3 steps = C(6,3) = 20; bound 0
	 * gives the 2 serial orders.
	 */
	ck_assert_uint_eq(explore_count(2, 2, 0), 2);
	ck_assert_uint_eq(explore_count(2, 2, 100), 20);
	ck_assert_uint_lt(explore_count(2, 2, 1), 20);
	/* Three threads of one point each: 6!/(2!2!2!) = 90 interleavings. */
	ck_assert_uint_eq(explore_count(3, 1, 100), 90);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tm_tcase(s, "sched");

	tcase_add_test(tc, test_default_schedule_runs_threads_to_completion_in_order);
	tcase_add_test(tc, test_replayed_schedule_string_reproduces_the_interleaving);
	tcase_add_test(tc, test_explicit_schedule_interleaves_as_written);
	tcase_add_test(tc, test_livelock_watchdog_ends_the_run_with_ecanceled);
	tcase_add_test(tc, test_deadlock_on_lock_held_by_crashed_task_is_reported_not_hung);
	tcase_add_test(tc, test_exhaustive_search_counts_match_the_combinatorics);
	return s;
}
