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

int pinsim_set_trace(struct pinsim *sim, pinsim_trace_fn fn, void *priv)
{
	if (!sim) {
		errno = EINVAL;
		return -1;
	}
	sim_set_trace(fn, priv);
	return 0;
}
