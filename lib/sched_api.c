// SPDX-License-Identifier: GPL-2.0-only
/* The public face of the deterministic scheduler and of the event trace. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pinsim_internal.h"
#include "checker.h"
#include "lockdep.h"
#include "scheduler.h"

_Static_assert((int)PINSIM_NR_POINTS == (int)NR_SCHED_POINTS,
	       "enum pinsim_point mirrors enum sched_point_id");

/* Every checker report so far (lockdep's and sim/checker.h's), process-wide. */
static unsigned long checker_reports_now(void)
{
	return lockdep_nr_reports() + checker_total();
}

static long run_user_fn(void *arg)
{
	struct pinsim_thread *t = arg;

	return t->fn(t->arg);
}

int pinsim_sched_run(struct pinsim *sim, struct pinsim_thread *threads, int n,
		     const struct pinsim_sched_opts *opts, struct pinsim_sched_result *res)
{
	struct sched_thread st[SCHED_MAX_THREADS];
	struct sched_strategy s;
	struct sched_result *r;
	unsigned long before;
	int ret;

	if (!sim || !threads || !res || n < 1 || n > SCHED_MAX_THREADS) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!threads[i].proc || !threads[i].fn) {
			errno = EINVAL;
			return -1;
		}
		st[i] = (struct sched_thread){ .name = threads[i].name ? threads[i].name : "thread",
					       .mm = threads[i].proc->mm,
					       .fn = run_user_fn,
					       .arg = &threads[i] };
	}
	sched_strategy_init(&s);
	if (opts) {
		if (opts->schedule) {
			s.kind = SCHED_REPLAY;
			s.schedule = opts->schedule;
		} else if (opts->seed) {
			s.kind = SCHED_PCT;
			s.seed = opts->seed;
			s.depth = opts->pct_depth ? opts->pct_depth : 2;
			if (opts->pct_steps)
				s.est_steps = opts->pct_steps;
		}
		if (opts->points)
			s.points = opts->points;
		if (opts->step_budget)
			s.step_budget = opts->step_budget;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return -1;
	}
	before = checker_reports_now();
	ret = sched_run(st, n, &s, r);
	if (ret) {
		free(r);
		errno = -ret;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		threads[i].died = st[i].ret == -EOWNERDEAD || st[i].ret == -ECANCELED;
		threads[i].ret = st[i].ret;
	}
	memset(res, 0, sizeof(*res));
	res->status = (enum pinsim_sched_status)r->status;
	res->steps = r->steps;
	res->decisions = r->nr_decisions;
	res->preemptions = r->preemptions;
	snprintf(res->schedule, sizeof(res->schedule), "%s", r->schedule);
	snprintf(res->report, sizeof(res->report), "%s", r->report);
	/* A pinsim_checker_reset() from inside the run would make it smaller. */
	res->checker_reports = checker_reports_now() > before
				       ? (unsigned int)(checker_reports_now() - before)
				       : 0;
	free(r);
	return 0;
}

/* ---------------- pinsim_explore(): the bounded exhaustive search ---------------- */

_Static_assert(PINSIM_EXPLORE_MAX_THREADS == SCHED_MAX_THREADS,
	       "pinsim_explore()'s thread array is the scheduler's");

struct explore_call {
	const struct pinsim_explore_ops *ops;
	void *ctx;
	struct pinsim_thread th[SCHED_MAX_THREADS];
	struct pinsim *sim;		/* this execution's machine, or NULL */
	struct machine *m;		/* sim->m, compared, never read, after teardown */
	unsigned long before;		/* checker reports before its setup */
	int err;			/* setup failed: the errno */
	bool have_bug;
	struct pinsim_sched_result res, bug;
	struct sched_explore_stats *ist;	/* sched_explore_ex()'s, as it goes */
	unsigned long prefix, index;	/* pinsim_explore_position() */
	bool checking, any_checked;
};

/* The search whose check() is running (pinsim_explore() is not reentrant). */
static struct explore_call *checking_call;

static void result_from_sched(struct pinsim_sched_result *res, const struct sched_result *r)
{
	res->status = (enum pinsim_sched_status)r->status;
	res->steps = r->steps;
	res->decisions = r->nr_decisions;
	res->preemptions = r->preemptions;
	snprintf(res->schedule, sizeof(res->schedule), "%s", r->schedule);
	snprintf(res->report, sizeof(res->report), "%s", r->report);
}

static int explore_setup(void *p, struct sched_thread *t)
{
	struct explore_call *x = p;
	int n;

	memset(x->th, 0, sizeof(x->th));
	x->sim = NULL;
	x->before = checker_reports_now();
	errno = 0;
	n = x->ops->setup(x->ctx, x->th);
	for (int i = 0; i < SCHED_MAX_THREADS && !x->sim; i++)
		if (x->th[i].proc)
			x->sim = x->th[i].proc->sim;
	x->m = x->sim ? x->sim->m : NULL;
	if (n < 1 || n > SCHED_MAX_THREADS) {
		x->err = n < 0 && errno ? errno : EINVAL;
		return 0;	/* sched_explore_ex() ends the search (-EINVAL from the run) */
	}
	for (int i = 0; i < n; i++) {
		if (!x->th[i].proc || !x->th[i].fn || x->th[i].proc->sim != x->sim) {
			x->err = EINVAL;
			return 0;
		}
		t[i] = (struct sched_thread){ .name = x->th[i].name ? x->th[i].name : "thread",
					      .mm = x->th[i].proc->mm,
					      .fn = run_user_fn,
					      .arg = &x->th[i] };
	}
	return n;
}

static bool explore_check(void *p, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct explore_call *x = p;
	unsigned long now = checker_reports_now();
	bool keep;

	for (int i = 0; i < n; i++) {
		x->th[i].died = t[i].ret == -EOWNERDEAD || t[i].ret == -ECANCELED;
		x->th[i].ret = t[i].ret;
	}
	memset(&x->res, 0, sizeof(x->res));
	result_from_sched(&x->res, r);
	x->res.checker_reports = now > x->before ? (unsigned int)(now - x->before) : 0;
	/*
	 * The prefix being explored is the last one numbered (sim/sched.c
	 * numbers a prefix when the search backtracks into it, from 0): its
	 * subtree's executions come one after another.
	 */
	if (!x->any_checked || x->prefix != x->ist->prefixes - 1) {
		x->prefix = x->ist->prefixes - 1;
		x->index = 0;
	} else {
		x->index++;
	}
	x->any_checked = true;
	checking_call = x;
	keep = x->ops->check(x->ctx, x->th, n, &x->res);
	checking_call = NULL;
	/* sched_explore_ex()'s st->bug, with this run's report count. */
	if (!x->have_bug && (x->res.checker_reports || !keep)) {
		x->bug = x->res;
		x->have_bug = true;
	}
	return keep;
}

static void explore_teardown(void *p)
{
	struct explore_call *x = p;

	if (x->ops->teardown)
		x->ops->teardown(x->ctx);
	/* A teardown that destroyed the machine after all: nothing left to end. */
	if (!x->sim || machine != x->m) {
		x->sim = NULL;
		return;
	}
	/* Also after a death: pinsim_destroy() gives back what dead tasks kept. */
	pinsim_destroy(x->sim);
	x->sim = NULL;
}

static bool explore_opts_ok(const struct pinsim_explore_opts *o)
{
	if (o->points >> PINSIM_NR_POINTS)
		return false;
	if (o->nr_shards > 10000 || o->shard_depth > 64)
		return false;
	return o->nr_shards > 1 ? o->shard < o->nr_shards : o->shard == 0;
}

int pinsim_explore(const struct pinsim_explore_ops *ops, void *ctx,
		   const struct pinsim_explore_opts *opts, struct pinsim_explore_stats *st)
{
	static const struct sched_explore_ops adapter = { explore_setup, explore_check,
							  explore_teardown };
	struct sched_explore_stats *ist;
	struct sched_explore_opts o;
	struct explore_call *x;
	int ret;

	if (!ops || !ops->setup || !ops->check || !opts || !st || !explore_opts_ok(opts)) {
		errno = EINVAL;
		return -1;
	}
	memset(st, 0, sizeof(*st));
	if (atomic_load(&sched_active)) {
		errno = EBUSY;
		return -1;
	}
	o = (struct sched_explore_opts){
		.points = opts->points ? opts->points : SCHED_RACE_POINTS,
		.preemption_bound = opts->preemption_bound,
		.max_schedules = opts->max_schedules,
		.step_budget = opts->step_budget ? opts->step_budget : 100000,
		.por = opts->reduce,
		.collect_reports = opts->collect_reports,
		.shard = opts->shard,
		.nr_shards = opts->nr_shards,
		.shard_depth = opts->shard_depth,
	};
	ist = calloc(1, sizeof(*ist));
	x = calloc(1, sizeof(*x));
	if (!ist || !x) {
		free(ist);
		free(x);
		errno = ENOMEM;
		return -1;
	}
	x->ops = ops;
	x->ctx = ctx;
	x->ist = ist;
	ret = sched_explore_ex(&adapter, x, &o, ist);
	st->schedules = ist->schedules;
	st->deadlocks = ist->deadlocks;
	st->livelocks = ist->livelocks;
	st->pruned = ist->pruned;
	st->sleep_skips = ist->sleep_skips;
	st->probes = ist->probes;
	st->prefixes = ist->prefixes;
	st->own_prefixes = ist->own_prefixes;
	st->complete = ist->complete;
	st->stopped = ist->bug_found;
	st->checker_report = ist->checker_report;
	st->checker_reports = ist->checker_reports;
	memcpy(st->order, ist->order, sizeof(st->order));
	st->coverage_pairs = sched_coverage_pairs(ist);
	if (x->have_bug)
		st->bug = x->bug;
	if (x->err) {
		errno = x->err;
		ret = -1;
	} else if (ret) {
		errno = -ret;
		ret = -1;
	}
	free(ist);
	free(x);
	return ret;
}

int pinsim_explore_position(unsigned long *prefix, unsigned long *index)
{
	struct explore_call *x = checking_call;

	if (!x || !prefix || !index) {
		errno = EINVAL;
		return -1;
	}
	*prefix = x->prefix;
	*index = x->index;
	return 0;
}

int pinsim_set_trace(struct pinsim *sim, pinsim_trace_fn fn, void *priv)
{
	if (!sim) {
		errno = EINVAL;
		return -1;
	}
	sim_set_trace(fn, priv);
	return 0;
}
