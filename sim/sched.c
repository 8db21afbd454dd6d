// SPDX-License-Identifier: GPL-2.0-only
/*
 * The deterministic scheduler (see scheduler.h).
 *
 * One execution at a time.  Every controlled thread owns a condition
 * variable and runs only while S.current is its index; the scheduler state
 * is guarded by one mutex.  A decision hands S.current to the chosen thread
 * and waits for the turn to come back.  Nothing here measures time, so a
 * given schedule yields the same execution every time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "machine.h"
#include "mm.h"
#include "scheduler.h"
#include "task.h"

_Atomic int sched_active;

enum sthread_state { ST_RUNNABLE, ST_BLOCKED, ST_EXITED };

struct sthread {
	struct sched_thread *spec;
	pthread_t th;
	pthread_cond_t cv;
	enum sthread_state state;
	const void *blocked_on;
	const char *blocked_name;
	bool aborted;
	unsigned int prio;		/* PCT */
};

/* What one execution decided, for replay strings and the search. */
struct sched_trace {
	unsigned int nd;
	uint8_t chosen[SCHED_MAX_DECISIONS];
	uint8_t mask[SCHED_MAX_DECISIONS];	/* runnable threads */
	int8_t cur[SCHED_MAX_DECISIONS];	/* the running thread if runnable, else -1 */
	uint8_t pre[SCHED_MAX_DECISIONS];	/* preemptions before this decision */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	struct sthread t[SCHED_MAX_THREADS];
	int n, live, current;
	const struct sched_strategy *s;
	struct sched_result *res;
	uint8_t prefix[SCHED_MAX_DECISIONS];
	unsigned int prefix_len;
	unsigned int change[8];		/* PCT change points (decision numbers) */
	unsigned int nr_change;
	unsigned int preemptions;
	bool ending, diverged;
	struct sched_trace trace;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER, .done_cv = PTHREAD_COND_INITIALIZER };

static __sim_tls int my_index = -1;

void sched_strategy_init(struct sched_strategy *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = SCHED_DEFAULT;
	s->depth = 2;
	s->est_steps = 64;
	s->points = SCHED_RACE_POINTS;
	s->step_budget = 100000;
}

bool sched_controls_current(void)
{
	return my_index >= 0;
}

/* ---------------- PRNG for PCT (splitmix64) ---------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void pct_init(const struct sched_strategy *s)
{
	uint64_t x = s->seed;
	unsigned int depth = s->depth ? s->depth : 1;

	/* Random distinct initial priorities d .. d+n-1; change points lower to d-i. */
	for (int i = 0; i < S.n; i++)
		S.t[i].prio = depth + (unsigned int)i;
	for (int i = S.n - 1; i > 0; i--) {
		int j = (int)(splitmix64(&x) % (uint64_t)(i + 1));
		unsigned int tmp = S.t[i].prio;

		S.t[i].prio = S.t[j].prio;
		S.t[j].prio = tmp;
	}
	S.nr_change = depth - 1 < 8 ? depth - 1 : 8;
	for (unsigned int i = 0; i < S.nr_change; i++)
		S.change[i] = (unsigned int)(splitmix64(&x) % (s->est_steps ? s->est_steps : 1));
}

/* ---------------- decisions ---------------- */

static unsigned int runnable_mask(void)
{
	unsigned int m = 0;

	for (int i = 0; i < S.n; i++)
		if (S.t[i].state == ST_RUNNABLE)
			m |= 1u << i;
	return m;
}

static int lowest(unsigned int mask)
{
	return __builtin_ctz(mask);
}

static int strategy_choice(unsigned int mask, int cur, unsigned int d)
{
	const struct sched_strategy *s = S.s;

	if (d < S.prefix_len) {
		if (mask & (1u << S.prefix[d]))
			return S.prefix[d];
		S.diverged = true;	/* the schedule does not fit this program */
	}
	if (s->kind == SCHED_PCT) {
		int best = -1;

		for (unsigned int i = 0; i < S.nr_change; i++)
			if (S.change[i] == d && cur >= 0)
				S.t[cur].prio = i;	/* below every initial priority */
		for (int i = 0; i < S.n; i++)
			if ((mask & (1u << i)) && (best < 0 || S.t[i].prio > S.t[best].prio))
				best = i;
		return best;
	}
	return cur >= 0 ? cur : lowest(mask);
}

static void end_run(enum sched_status status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void end_run(enum sched_status status, const char *fmt, ...)
{
	va_list ap;

	if (S.ending)
		return;
	S.ending = true;
	S.res->status = status;
	va_start(ap, fmt);
	vsnprintf(S.res->report, sizeof(S.res->report), fmt, ap);
	va_end(ap);
	/* Every live thread leaves through its landing pad, one at a time. */
	for (int i = 0; i < S.n; i++) {
		if (S.t[i].state == ST_EXITED)
			continue;
		S.t[i].aborted = true;
		S.t[i].state = ST_RUNNABLE;
		S.t[i].blocked_on = NULL;
	}
}

static void report_deadlock(void)
{
	char buf[200] = "";
	size_t off = 0;

	for (int i = 0; i < S.n && off < sizeof(buf); i++) {
		const void *l = S.t[i].blocked_on;

		if (S.t[i].state != ST_BLOCKED)
			continue;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s blocked on %s%s",
					off ? "; " : "", S.t[i].spec->name,
					S.t[i].blocked_name ? S.t[i].blocked_name : "a lock",
					lock_held_by_dead_task(l) ? " held by a crashed task" : "");
	}
	end_run(SCHED_DEADLOCK, "deadlock: %s", buf);
}

/*
 * Pick the next thread and hand it the turn.  Called with S.lock held by
 * the running thread @me (which may have just blocked or ended).
 */
static void schedule_next(int me)
{
	unsigned int mask;
	int cur, choice;

	S.res->steps++;
	if (S.res->steps > S.s->step_budget && !S.ending)
		end_run(SCHED_LIVELOCK, "livelock: no end after %lu scheduling steps",
			S.s->step_budget);
	mask = runnable_mask();
	if (!mask) {
		if (S.live && !S.ending) {
			report_deadlock();
			mask = runnable_mask();
		}
		if (!mask) {
			S.current = -1;
			pthread_cond_broadcast(&S.done_cv);
			return;
		}
	}
	cur = (me >= 0 && S.t[me].state == ST_RUNNABLE) ? me : -1;
	if (__builtin_popcount(mask) == 1 || S.ending) {
		/* Forced, or ending: the current thread goes on, else the lowest. */
		choice = (cur >= 0 && !S.ending) ? cur : lowest(mask);
	} else {
		unsigned int d = S.trace.nd;

		choice = strategy_choice(mask, cur, d);
		if (d < SCHED_MAX_DECISIONS) {
			S.trace.chosen[d] = (uint8_t)choice;
			S.trace.mask[d] = (uint8_t)mask;
			S.trace.cur[d] = (int8_t)cur;
			S.trace.pre[d] = (uint8_t)(S.preemptions > 255 ? 255 : S.preemptions);
			S.trace.nd++;
		}
		if (cur >= 0 && choice != cur)
			S.preemptions++;
	}
	S.current = choice;
	if (choice != me)
		pthread_cond_signal(&S.t[choice].cv);
}

/* Wait for the turn; leave through the landing pad if the run was ended. */
static void wait_turn(int me)
{
	bool abort;

	while (S.current != me)
		pthread_cond_wait(&S.t[me].cv, &S.lock);
	abort = S.t[me].aborted;
	pthread_mutex_unlock(&S.lock);
	if (abort)
		sim_task_abort();
}

static void switch_hook(enum sched_point_id id, struct mm_struct *mm, unsigned long addr)
{
	int me = my_index;

	if (me < 0 || !(S.s->points & (1u << id)))
		return;
	pthread_mutex_lock(&S.lock);
	schedule_next(me);
	wait_turn(me);
}

int sched_block_on(const void *lock, const char *name)
{
	int me = my_index;

	pthread_mutex_lock(&S.lock);
	S.t[me].state = ST_BLOCKED;
	S.t[me].blocked_on = lock;
	S.t[me].blocked_name = name;
	schedule_next(me);
	wait_turn(me);
	return 0;
}

void sched_lock_released(const void *lock)
{
	pthread_mutex_lock(&S.lock);
	for (int i = 0; i < S.n; i++) {
		if (S.t[i].state == ST_BLOCKED && S.t[i].blocked_on == lock) {
			S.t[i].state = ST_RUNNABLE;
			S.t[i].blocked_on = NULL;
		}
	}
	pthread_mutex_unlock(&S.lock);
}

/* ---------------- threads ---------------- */

static void *sthread_main(void *arg)
{
	struct sthread *t = arg;
	int me = (int)(t - S.t);
	struct task_struct *task;

	my_index = me;
	/* A thread of a process, or a kernel thread: either way a task, with a landing pad. */
	task = t->spec->mm ? mm_thread_task(t->spec->mm) : task_create(NULL, NULL, t->spec->name);
	if (task && t->spec->name)
		snprintf(task->comm, sizeof(task->comm), "%s", t->spec->name);
	set_current(task);
	pthread_mutex_lock(&S.lock);
	while (S.current != me)
		pthread_cond_wait(&t->cv, &S.lock);
	if (t->aborted) {
		t->spec->ret = -ECANCELED;
	} else {
		pthread_mutex_unlock(&S.lock);
		t->spec->ret = sim_task_run(t->spec->fn, t->spec->arg);
		pthread_mutex_lock(&S.lock);
	}
	t->state = ST_EXITED;
	S.live--;
	schedule_next(me);
	pthread_mutex_unlock(&S.lock);
	set_current(NULL);
	if (!t->spec->mm)
		task_free(task);
	my_index = -1;
	return NULL;
}

static void write_schedule(struct sched_result *res)
{
	size_t off = 0;

	res->schedule[0] = '\0';
	for (unsigned int i = 0; i < S.trace.nd && off + 4 < sizeof(res->schedule); i++)
		off += (size_t)snprintf(res->schedule + off, sizeof(res->schedule) - off, "%s%u",
					i ? "." : "", S.trace.chosen[i]);
}

static void parse_schedule(const char *str)
{
	S.prefix_len = 0;
	while (str && *str && S.prefix_len < SCHED_MAX_DECISIONS) {
		char *end;
		long v = strtol(str, &end, 10);

		if (end == str || v < 0 || v >= SCHED_MAX_THREADS)
			break;
		S.prefix[S.prefix_len++] = (uint8_t)v;
		str = *end == '.' ? end + 1 : end;
	}
}

static int __sched_run(struct sched_thread *threads, int n, const struct sched_strategy *s,
		       struct sched_result *res)
{
	int created = 0, ret = 0;

	if (n < 1 || n > SCHED_MAX_THREADS)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&S.lock);
	S.n = n;
	S.live = n;
	S.s = s;
	S.res = res;
	S.ending = false;
	S.diverged = false;
	S.preemptions = 0;
	S.trace.nd = 0;
	S.current = -2;		/* nobody until all threads exist */
	for (int i = 0; i < n; i++) {
		S.t[i] = (struct sthread){ .spec = &threads[i], .state = ST_RUNNABLE };
		pthread_cond_init(&S.t[i].cv, NULL);
	}
	if (s->kind == SCHED_PCT)
		pct_init(s);	/* after the slots are set: it assigns their priorities */
	atomic_store(&sched_active, 1);
	sched_point_set_switch(switch_hook);
	for (; created < n; created++) {
		if (pthread_create(&S.t[created].th, NULL, sthread_main, &S.t[created])) {
			ret = -EAGAIN;
			break;
		}
	}
	if (ret) {
		/* Let the ones that exist end at once. */
		S.n = created;
		S.live = created;
		end_run(SCHED_DONE, "thread creation failed");
	}
	schedule_next(-1);
	while (S.current != -1)
		pthread_cond_wait(&S.done_cv, &S.lock);
	pthread_mutex_unlock(&S.lock);
	for (int i = 0; i < created; i++)
		pthread_join(S.t[i].th, NULL);
	sched_point_set_switch(NULL);
	atomic_store(&sched_active, 0);
	for (int i = 0; i < S.n; i++)
		pthread_cond_destroy(&S.t[i].cv);
	res->nr_decisions = S.trace.nd;
	res->preemptions = S.preemptions;
	write_schedule(res);
	if (S.diverged && !res->report[0])
		snprintf(res->report, sizeof(res->report),
			 "the replayed schedule did not fit this execution");
	return ret;
}

int sched_run(struct sched_thread *threads, int n, const struct sched_strategy *s,
	      struct sched_result *res)
{
	struct sched_strategy replay;
	const char *env = getenv("PINSIM_SCHEDULE");

	if (env && *env) {
		replay = *s;
		replay.kind = SCHED_REPLAY;
		replay.schedule = env;
		s = &replay;
	}
	parse_schedule(s->kind == SCHED_REPLAY ? s->schedule : NULL);
	return __sched_run(threads, n, s, res);
}

/* ---------------- bounded exhaustive search ---------------- */

int sched_explore(const struct sched_explore_ops *ops, void *ctx, uint32_t points,
		  unsigned int preemption_bound, unsigned long max_schedules,
		  unsigned long step_budget, struct sched_explore_stats *st)
{
	static uint8_t tried[SCHED_MAX_DECISIONS], prefix[SCHED_MAX_DECISIONS];
	struct sched_thread threads[SCHED_MAX_THREADS];
	struct sched_strategy s;
	struct sched_result *res = malloc(sizeof(*res));
	unsigned int prefix_len = 0;

	if (!res)
		return -ENOMEM;
	memset(st, 0, sizeof(*st));
	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.points = points;
	s.step_budget = step_budget;

	for (;;) {
		int n, i;

		memset(threads, 0, sizeof(threads));
		n = ops->setup(ctx, threads);
		memcpy(S.prefix, prefix, prefix_len);
		S.prefix_len = prefix_len;
		if (__sched_run(threads, n, &s, res)) {
			ops->teardown(ctx);
			free(res);
			return -EAGAIN;
		}
		st->schedules++;
		st->deadlocks += res->status == SCHED_DEADLOCK;
		st->livelocks += res->status == SCHED_LIVELOCK;
		if (!ops->check(ctx, threads, n, res)) {
			st->bug_found = true;
			st->bug = *res;
			ops->teardown(ctx);
			break;
		}
		ops->teardown(ctx);

		/* Decisions past the forced prefix are new: only their own choice tried. */
		for (i = (int)prefix_len; i < (int)S.trace.nd; i++)
			tried[i] = (uint8_t)(1u << S.trace.chosen[i]);
		/* Backtrack to the deepest decision with an untried, affordable thread. */
		for (i = (int)S.trace.nd - 1; i >= 0; i--) {
			unsigned int left = S.trace.mask[i] & ~tried[i];
			int c = -1;

			while (left) {
				int cand = lowest(left);
				unsigned int cost = S.trace.pre[i] +
						    (S.trace.cur[i] >= 0 && cand != S.trace.cur[i]);

				left &= ~(1u << cand);
				if (cost <= preemption_bound) {
					c = cand;
					break;
				}
			}
			if (c >= 0) {
				tried[i] |= (uint8_t)(1u << c);
				memcpy(prefix, S.trace.chosen, (size_t)i);
				prefix[i] = (uint8_t)c;
				prefix_len = (unsigned int)i + 1;
				break;
			}
		}
		if (i < 0) {
			st->complete = true;
			break;
		}
		if (max_schedules && st->schedules >= max_schedules)
			break;
	}
	free(res);
	return 0;
}

/*
 * The decisions of the controlled run so far (issue 15: a checker's report
 * carries the schedule that replays it).  Declared in checker.h.
 */
void sched_schedule_so_far(char *buf, size_t len)
{
	size_t off = 0;

	if (!buf || !len)
		return;
	buf[0] = '\0';
	if (!atomic_load(&sched_active))
		return;
	pthread_mutex_lock(&S.lock);
	for (unsigned int i = 0; i < S.trace.nd && off + 4 < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%u", i ? "." : "",
					S.trace.chosen[i]);
	pthread_mutex_unlock(&S.lock);
}
