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
#include "lockdep.h"
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
	bool ran;			/* has had the turn (its code so far is described) */
	int8_t last_point;		/* the last schedule point it passed, or -1 */
	/*
	 * What it touches when it resumes: the object of the point it stopped
	 * at, or the lock it blocked on (the code after a point belongs to the
	 * next step, and a point names what that code is about to touch).
	 */
	struct sched_obj pend;
	int8_t pend_kind;		/* 1: pend, 0: nothing, -1: unknown */
	unsigned int prio;		/* PCT */
};

/* What one execution decided, for replay strings and the search. */
struct sched_trace {
	unsigned int nd;
	uint8_t chosen[SCHED_MAX_DECISIONS];
	uint8_t mask[SCHED_MAX_DECISIONS];	/* runnable threads */
	int8_t cur[SCHED_MAX_DECISIONS];	/* the running thread if runnable, else -1 */
	uint8_t pre[SCHED_MAX_DECISIONS];	/* preemptions before this decision */
	/* The step taken at each decision, for the search's reduction. */
	struct sched_fp fp[SCHED_MAX_DECISIONS];
	uint8_t rafter[SCHED_MAX_DECISIONS];	/* the chosen thread runnable after it */
	uint8_t sleep[SCHED_MAX_DECISIONS];	/* sleep set on arrival */
	uint8_t wsleep[SCHED_MAX_DECISIONS];	/* weak sleepers on arrival */
	uint8_t cut[SCHED_MAX_DECISIONS];	/* choices the weak rule excludes here */
	bool handover[SCHED_MAX_DECISIONS];	/* one thread left to run: not in schedules */
	int16_t sleep_src[SCHED_MAX_DECISIONS][SCHED_MAX_THREADS];
	unsigned int closed;			/* steps whose footprint is complete */
};

/* What the search keeps of one node of the tree (a decision on the current path). */
struct explore_node {
	uint8_t tried;			/* threads chosen here so far */
	uint8_t rafter;			/* ... still runnable after their step */
	uint8_t sleep;			/* sleep set on arrival */
	uint8_t wsleep;			/* weak sleepers on arrival (scheduler.h) */
	uint8_t cut;			/* choices excluded: a weak sleeper continues */
	int16_t sleep_src[SCHED_MAX_THREADS];	/* node whose fp[t] a sleeper's step is */
	struct sched_fp fp[SCHED_MAX_THREADS];	/* the step each tried thread took */
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
	/* The search's reduction and sharding (sched_explore_ex()); off in sched_run(). */
	bool por;
	unsigned int bound;
	unsigned int stop_at;		/* cut the run at this decision (probe); 0: never */
	uint8_t sleep;			/* threads asleep now */
	uint8_t wsleep;			/* weak sleepers now: may run, then must continue */
	int8_t must_continue;		/* a weak sleeper chosen: its step's end is cut */
	bool prefix_must;		/* the re-chosen thread at prefix_len - 1 was a weak sleeper */
	int16_t sleep_src[SCHED_MAX_THREADS];
	const struct explore_node *nodes;
	struct sched_fp seg;		/* the step running since the last decision */
	int seg_thread;
	unsigned long wake_unknown[SCHED_FP_NR_WHY], wake_conflict;	/* this run's */
	uint32_t cov[NR_SCHED_POINTS];	/* this run's point orders (see scheduler.h) */
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

/* ---------------- step footprints (partial-order reduction) ---------------- */

/* Run-stable keys (scheduler.h): tagged small integers, never host addresses. */
static const char sched_other_mm[] = "mm of no controlled thread";
#define CANON_MM(slot, off) \
	((const void *)(uintptr_t)((1ull << 62) | ((uint64_t)(slot) << 40) | (uint64_t)(off)))
#define CANON_MEMMAP(off) ((const void *)(uintptr_t)((2ull << 62) | (uint64_t)(off)))

const void *sched_canon_key(const void *key, const void *class)
{
	uintptr_t k = (uintptr_t)key, base;

	/* The threads' specs are set before they start (no lock needed). */
	for (int i = 0; i < S.n; i++) {
		base = (uintptr_t)S.t[i].spec->mm;
		if (base && k >= base && k - base < sizeof(struct mm_struct))
			return CANON_MM(i, k - base);
	}
	base = (uintptr_t)mem_map;
	if (machine && base && k >= base && k - base < machine->memmap_bytes)
		return CANON_MEMMAP(k - base);
	return class ? class : key;
}

/*
 * A point's key: its mm.  An mm of the machine that no controlled thread
 * runs in (a zap of another process's mapping) has no run-stable name
 * here (machine->mms is newest first): every such mm is one key, coarser
 * (two of them never commute) but never a host address.  A key that is no
 * mm of the machine is the caller's own object (tests' static ones),
 * at the same address in every execution.
 */
static const void *canon_point_key(const void *key)
{
	const void *k = sched_canon_key(key, NULL);
	bool other = true;

	if (k != key || !machine)
		return k;
	if (!pthread_mutex_trylock(&machine->mms_lock)) {
		other = false;
		for (const struct mm_struct *mm = machine->mms; mm && !other; mm = mm->next_mm)
			other = (const void *)mm == key;
		pthread_mutex_unlock(&machine->mms_lock);
	}
	return other ? sched_other_mm : key;
}

static bool obj_conflict(const struct sched_obj *a, const struct sched_obj *b)
{
	return a->key == b->key && !(a->shared && b->shared) &&
	       (a->region == SCHED_OBJ_ALL || b->region == SCHED_OBJ_ALL || a->region == b->region);
}

/* Does @a cover @b: every object @b conflicts with, @a conflicts with too. */
static bool obj_covers(const struct sched_obj *a, const struct sched_obj *b)
{
	return a->key == b->key && (a->region == SCHED_OBJ_ALL || a->region == b->region) &&
	       (!a->shared || b->shared);
}

static void fp_set_unknown(struct sched_fp *fp, enum sched_fp_why why)
{
	if (!fp->unknown)
		fp->why = (uint8_t)why;
	fp->unknown = true;
}

static void fp_add(struct sched_fp *fp, const struct sched_obj *o)
{
	if (fp->unknown)
		return;
	for (unsigned int i = 0; i < fp->n; i++) {
		if (obj_covers(&fp->obj[i], o))
			return;
		if (obj_covers(o, &fp->obj[i])) {
			fp->obj[i] = *o;
			return;
		}
	}
	if (fp->n == SCHED_FP_MAX) {
		fp_set_unknown(fp, SCHED_FP_OVERFLOW);
		return;
	}
	fp->obj[fp->n++] = *o;
}

static bool fp_dependent(const struct sched_fp *a, const struct sched_fp *b)
{
	if (a->unknown || b->unknown)
		return true;
	for (unsigned int i = 0; i < a->n; i++)
		for (unsigned int j = 0; j < b->n; j++)
			if (obj_conflict(&a->obj[i], &b->obj[j]))
				return true;
	return false;
}

/*
 * A lock the running step takes, tries, blocks on or releases (waking its
 * waiters); @shared: the read side of an rwsem no writer holds or waits for.
 */
static void seg_touch_lock(int me, const void *lock, const char *class, bool shared)
{
	struct sched_obj o = { .key = sched_canon_key(lock, class), .region = SCHED_OBJ_ALL,
			       .shared = shared };

	if (me == S.seg_thread)
		fp_add(&S.seg, &o);
}

/* Decision @d is being taken: the step of decision d - 1 is complete. */
static void seg_close(unsigned int d)
{
	unsigned int prev = d - 1;
	int t = S.trace.chosen[prev];

	S.trace.fp[prev] = S.seg;
	S.trace.rafter[prev] = S.t[t].state == ST_RUNNABLE;
	S.trace.closed = d;
	/* A sleeper stays asleep only while what runs is independent of it. */
	if (S.por && d >= S.prefix_len) {
		for (int i = 0; i < S.n; i++) {
			if (!((S.sleep | S.wsleep) & (1u << i)))
				continue;
			const struct sched_fp *sfp = &S.nodes[S.sleep_src[i]].fp[i];

			if (!fp_dependent(sfp, &S.seg))
				continue;
			S.sleep &= (uint8_t)~(1u << i);
			S.wsleep &= (uint8_t)~(1u << i);
			if (sfp->unknown)
				S.wake_unknown[sfp->why]++;
			else if (S.seg.unknown)
				S.wake_unknown[S.seg.why]++;
			else
				S.wake_conflict++;
		}
	}
}

static void seg_open(int choice)
{
	memset(&S.seg, 0, sizeof(S.seg));
	S.seg_thread = choice;
	/*
	 * A first step is described by what it passes, like the rest of
	 * every step (scheduler.h: a thread's start names nothing).
	 */
	if (!S.t[choice].ran)
		return;
	if (S.t[choice].pend_kind < 0)
		fp_set_unknown(&S.seg, SCHED_FP_NO_OBJECT);
	else if (S.t[choice].pend_kind > 0)
		fp_add(&S.seg, &S.t[choice].pend);
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

static int strategy_choice(unsigned int mask, int cur, unsigned int d, unsigned int cut)
{
	const struct sched_strategy *s = S.s;

	if (d < S.prefix_len) {
		if (mask & (1u << S.prefix[d]))
			return S.prefix[d];
		S.diverged = true;	/* the schedule does not fit this program */
	}
	if (S.por) {
		unsigned int awake = mask & ~(unsigned int)S.sleep & ~cut;

		/* -1: every choice within the bound is asleep (covered elsewhere). */
		if (!awake)
			return -1;
		if (cur >= 0 && (awake & (1u << cur)))
			return cur;
		if (cur >= 0 && S.preemptions + 1 > S.bound)
			return -1;
		return lowest(awake);
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
	int cur, choice, mc = S.must_continue;

	/* The weak rule looks at the end of the weak sleeper's step only. */
	S.must_continue = -1;
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
	choice = -1;
	/*
	 * A decision where two or more threads could run.  The search with
	 * reduction also ends a step where its thread blocked or ended and one
	 * thread is left (a handover): each step stays one thread's, and the
	 * one left is checked against the sleep set like any choice.  A
	 * handover is not part of the schedule string (it has no choice).
	 */
	if ((__builtin_popcount(mask) > 1 || (S.por && cur < 0 && me >= 0)) && !S.ending) {
		unsigned int d = S.trace.nd, cut = 0;

		if (d > 0 && S.trace.closed < d)
			seg_close(d);
		/* A weak sleeper ran its step and may go on: nobody else here. */
		if (mc >= 0 && me == mc && cur == mc)
			cut = mask & ~(1u << mc);
		if (S.stop_at && d >= S.stop_at) {
			end_run(SCHED_PRUNED, "probe: the rest belongs to another shard");
		} else {
			choice = strategy_choice(mask, cur, d, cut);
			if (choice < 0)
				end_run(SCHED_PRUNED, "every thread within the bound is asleep");
		}
		if (choice >= 0 && d < SCHED_MAX_DECISIONS) {
			S.trace.chosen[d] = (uint8_t)choice;
			S.trace.mask[d] = (uint8_t)mask;
			S.trace.cur[d] = (int8_t)cur;
			S.trace.pre[d] = (uint8_t)(S.preemptions > 255 ? 255 : S.preemptions);
			S.trace.sleep[d] = S.sleep;
			S.trace.wsleep[d] = S.wsleep;
			S.trace.cut[d] = (uint8_t)cut;
			S.trace.handover[d] = __builtin_popcount(mask) == 1;
			if (S.sleep | S.wsleep)
				memcpy(S.trace.sleep_src[d], S.sleep_src, sizeof(S.sleep_src));
			S.trace.nd++;
			if (d >= S.prefix_len && (S.wsleep & (1u << choice)))
				S.must_continue = (int8_t)choice;
			else if (d + 1 == S.prefix_len && S.prefix_must)
				S.must_continue = (int8_t)choice;
			if (d + 1 >= S.prefix_len)
				S.wsleep &= (uint8_t)~(1u << choice);	/* it runs: awake */
			seg_open(choice);
		}
		if (choice >= 0 && cur >= 0 && choice != cur)
			S.preemptions++;
		if (choice < 0)
			mask = runnable_mask();
	}
	if (choice < 0) {
		/* Forced, or ending: the current thread goes on, else the lowest. */
		choice = (cur >= 0 && !S.ending) ? cur : lowest(mask);
		/* Another thread inside the step: its footprint is not one thread's. */
		if (choice != S.seg_thread)
			fp_set_unknown(&S.seg, SCHED_FP_FORCED);
	}
	S.t[choice].ran = true;
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

static void switch_hook(enum sched_point_id id, struct mm_struct *mm, unsigned long addr,
			const struct sched_obj *lock)
{
	int me = my_index;
	struct sched_obj o;

	if (me < 0)
		return;
	pthread_mutex_lock(&S.lock);
	if (lock)
		o = *lock;
	S.t[me].pend_kind = (int8_t)(lock ? 1 : sched_point_object(id, mm, addr, &o));
	if (!lock && S.t[me].pend_kind > 0)
		o.key = canon_point_key(o.key);	/* a lock's key is already */
	if (S.t[me].pend_kind > 0)
		S.t[me].pend = o;
	if (me == S.seg_thread) {
		if (S.t[me].pend_kind > 0)
			fp_add(&S.seg, &o);
		else if (S.t[me].pend_kind < 0)
			fp_set_unknown(&S.seg, SCHED_FP_NO_OBJECT);
	}
	for (int i = 0; i < S.n; i++)
		if (i != me && S.t[i].state != ST_EXITED && S.t[i].last_point >= 0)
			S.cov[S.t[i].last_point] |= 1u << id;
	S.t[me].last_point = (int8_t)id;
	if (!(S.s->points & (1u << id))) {
		pthread_mutex_unlock(&S.lock);
		return;
	}
	schedule_next(me);
	wait_turn(me);
}

int sched_block_on(const void *lock, const char *class, const char *name)
{
	int me = my_index;

	pthread_mutex_lock(&S.lock);
	S.t[me].state = ST_BLOCKED;
	S.t[me].blocked_on = lock;
	S.t[me].blocked_name = name;
	seg_touch_lock(me, lock, class, false);
	/* It retries the lock when it resumes. */
	S.t[me].pend = (struct sched_obj){ .key = sched_canon_key(lock, class),
					   .region = SCHED_OBJ_ALL };
	S.t[me].pend_kind = 1;
	schedule_next(me);
	wait_turn(me);
	return 0;
}

void sched_lock_touch(const void *lock, const char *class, bool shared)
{
	if (my_index < 0)
		return;
	pthread_mutex_lock(&S.lock);
	seg_touch_lock(my_index, lock, class, shared);
	pthread_mutex_unlock(&S.lock);
}

void sched_lock_released(const void *lock, const char *class)
{
	__sched_lock_released(lock, class, false);
}

void __sched_lock_released(const void *lock, const char *class, bool shared)
{
	pthread_mutex_lock(&S.lock);
	if (my_index >= 0)
		seg_touch_lock(my_index, lock, class, shared);
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
		if (!S.trace.handover[i])
			off += (size_t)snprintf(res->schedule + off, sizeof(res->schedule) - off,
						"%s%u", off ? "." : "", S.trace.chosen[i]);
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

/* The last controlled run was cut short by the search (sched_run_cut_short()). */
static _Atomic bool cut_short;

bool sched_run_cut_short(void)
{
	return atomic_load(&cut_short);
}

void sched_forget_cut_short(void)
{
	atomic_store(&cut_short, false);
}

static int __sched_run(struct sched_thread *threads, int n, const struct sched_strategy *s,
		       struct sched_result *res)
{
	int created = 0, ret = 0;

	if (n < 1 || n > SCHED_MAX_THREADS)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	atomic_store(&cut_short, false);
	pthread_mutex_lock(&S.lock);
	S.n = n;
	S.live = n;
	S.s = s;
	S.res = res;
	S.ending = false;
	S.diverged = false;
	S.preemptions = 0;
	S.trace.nd = 0;
	S.trace.closed = 0;
	S.seg_thread = -1;
	memset(S.wake_unknown, 0, sizeof(S.wake_unknown));
	S.wake_conflict = 0;
	memset(S.cov, 0, sizeof(S.cov));
	S.current = -2;		/* nobody until all threads exist */
	for (int i = 0; i < n; i++) {
		S.t[i] = (struct sthread){ .spec = &threads[i], .state = ST_RUNNABLE,
					   .last_point = -1 };
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
	if (S.trace.nd && S.trace.closed < S.trace.nd) {
		/* The last step ran to the end of the run: nothing to tell after it. */
		S.trace.fp[S.trace.nd - 1] = S.seg;
		S.trace.rafter[S.trace.nd - 1] = 1;
		S.trace.closed = S.trace.nd;
	}
	res->nr_decisions = 0;
	for (unsigned int i = 0; i < S.trace.nd; i++)
		res->nr_decisions += !S.trace.handover[i];
	res->preemptions = S.preemptions;
	atomic_store(&cut_short, res->status == SCHED_PRUNED);
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
	S.por = false;
	S.stop_at = 0;
	S.sleep = 0;
	S.wsleep = 0;
	S.must_continue = -1;
	S.prefix_must = false;
	return __sched_run(threads, n, s, res);
}

/* ---------------- bounded exhaustive search ---------------- */

/*
 * May @t, explored at node @i, sleep in the branch that chooses @u there?
 * The bound rule of scheduler.h: cost(c->t) + [t runnable after] <= cost(c->u).
 */
static bool sleep_bound_ok(const struct explore_node *node, int cur, int t, int u)
{
	unsigned int ct = cur >= 0 && t != cur, cu = cur >= 0 && u != cur;
	unsigned int rt = (node->rafter >> t) & 1;

	return ct + rt <= cu;
}

/*
 * May @t sleep weakly in the branch @u: cost(c->t) <= cost(c->u).  A pruned
 * execution whose t step is followed by another thread's costs no less
 * than the explored one with t first (scheduler.h).
 */
static bool weak_sleep_ok(int cur, int t, int u)
{
	return (cur >= 0 && t != cur) <= (cur >= 0 && u != cur);
}

/*
 * Record the nodes the run went through: the one re-chosen at @prefix_len - 1
 * gains its new choice's step; every node past it is fresh.
 */
static void explore_record(struct explore_node *nodes, unsigned int prefix_len,
			   struct sched_explore_stats *st)
{
	unsigned int from = prefix_len ? prefix_len - 1 : 0;

	for (unsigned int i = from; i < S.trace.nd; i++) {
		struct explore_node *nd = &nodes[i];
		int c = S.trace.chosen[i];

		if (i > from || !prefix_len) {
			nd->tried = 0;
			nd->rafter = 0;
			nd->sleep = S.trace.sleep[i];
			nd->wsleep = S.trace.wsleep[i];
			nd->cut = S.trace.cut[i];
			memcpy(nd->sleep_src, S.trace.sleep_src[i], sizeof(nd->sleep_src));
			st->sleep_skips += (unsigned long)__builtin_popcount(
				S.trace.mask[i] & nd->sleep & ~(1u << c));
			st->weak_cuts += (unsigned long)__builtin_popcount(nd->cut);
		}
		nd->tried |= (uint8_t)(1u << c);
		nd->fp[c] = S.trace.fp[i];
		nd->rafter = (uint8_t)((nd->rafter & ~(1u << c)) | (S.trace.rafter[i] << c));
	}
}

/* Every checker's reports so far: grows when an execution makes one. */
static unsigned long checker_reports_now(void)
{
	return lockdep_nr_reports() + checker_total();
}

static bool shard_owns(const struct sched_explore_opts *o, unsigned long key)
{
	return o->nr_shards <= 1 || key % o->nr_shards == o->shard;
}

int sched_explore_ex(const struct sched_explore_ops *ops, void *ctx,
		     const struct sched_explore_opts *opts, struct sched_explore_stats *st)
{
	static uint8_t prefix[SCHED_MAX_DECISIONS];
	struct sched_thread threads[SCHED_MAX_THREADS];
	struct sched_strategy s;
	struct sched_result *res;
	struct explore_node *nodes;
	unsigned int prefix_len = 0, depth = opts->shard_depth ? opts->shard_depth : 1;
	uint8_t sleep = 0, wsleep = 0;
	bool prefix_must = false;
	int16_t sleep_src[SCHED_MAX_THREADS] = { 0 };
	unsigned long key = 0;
	bool own;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	if (opts->nr_shards > 1 && opts->shard >= opts->nr_shards)
		return -EINVAL;
	res = malloc(sizeof(*res));
	nodes = calloc(SCHED_MAX_DECISIONS, sizeof(*nodes));
	if (!res || !nodes) {
		ret = -ENOMEM;
		goto out;
	}
	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.points = opts->points;
	s.step_budget = opts->step_budget;
	own = shard_owns(opts, key);
	st->prefixes = 1;
	st->own_prefixes = own;

	for (;;) {
		unsigned long reports = checker_reports_now();
		bool reported, stop = false;
		unsigned int limit;
		int n, i;

		memset(threads, 0, sizeof(threads));
		n = ops->setup(ctx, threads);
		memcpy(S.prefix, prefix, prefix_len);
		S.prefix_len = prefix_len;
		S.por = opts->por;
		S.bound = opts->preemption_bound;
		S.stop_at = own ? 0 : depth;
		S.nodes = nodes;
		S.sleep = sleep;
		S.wsleep = wsleep;
		S.must_continue = -1;
		S.prefix_must = prefix_must;
		memcpy(S.sleep_src, sleep_src, sizeof(sleep_src));
		if (__sched_run(threads, n, &s, res)) {
			ops->teardown(ctx);
			ret = -EAGAIN;
			goto out;
		}
		for (int w = 0; w < SCHED_FP_NR_WHY; w++)
			st->wake_unknown[w] += S.wake_unknown[w];
		st->wake_conflict += S.wake_conflict;
		if (!own) {
			st->probes++;
		} else if (res->status == SCHED_PRUNED) {
			st->pruned++;
		} else {
			st->schedules++;
			st->deadlocks += res->status == SCHED_DEADLOCK;
			st->livelocks += res->status == SCHED_LIVELOCK;
			for (int p = 0; p < NR_SCHED_POINTS; p++)
				st->order[p] |= S.cov[p];
			reported = checker_reports_now() != reports;
			/* st->bug: the first execution that made a report or failed. */
			if (reported && !st->checker_report)
				st->bug = *res;
			if (reported) {
				st->checker_report = true;
				st->checker_reports++;
				stop = !opts->collect_reports;
			}
			if (!ops->check(ctx, threads, n, res)) {
				if (!st->checker_report)
					st->bug = *res;
				st->bug_found = true;
				stop = true;
			}
			if (stop) {
				ops->teardown(ctx);
				break;
			}
		}
		ops->teardown(ctx);
		explore_record(nodes, prefix_len, st);

		/* Backtrack to the deepest decision with an untried, awake, affordable thread. */
		limit = S.trace.nd;
		if (!own && limit > depth)
			limit = depth;	/* another shard's subtree */
		for (i = (int)limit - 1; i >= 0; i--) {
			unsigned int left = S.trace.mask[i] & ~nodes[i].tried;
			int c = -1;

			if (opts->por)
				left &= ~(unsigned int)(nodes[i].sleep | nodes[i].cut);
			while (left) {
				int cand = lowest(left);
				unsigned int cost = S.trace.pre[i] +
						    (S.trace.cur[i] >= 0 && cand != S.trace.cur[i]);

				left &= ~(1u << cand);
				if (cost <= opts->preemption_bound) {
					c = cand;
					break;
				}
			}
			if (c < 0)
				continue;
			sleep = opts->por ? nodes[i].sleep : 0;
			wsleep = opts->por ? nodes[i].wsleep : 0;
			prefix_must = (wsleep >> c) & 1;
			memcpy(sleep_src, nodes[i].sleep_src, sizeof(sleep_src));
			for (int t = 0; opts->por && t < SCHED_MAX_THREADS; t++) {
				if (!(nodes[i].tried & (1u << t)))
					continue;
				if (sleep_bound_ok(&nodes[i], S.trace.cur[i], t, c)) {
					sleep |= (uint8_t)(1u << t);
					wsleep &= (uint8_t)~(1u << t);
					sleep_src[t] = (int16_t)i;
				} else if (weak_sleep_ok(S.trace.cur[i], t, c)) {
					wsleep |= (uint8_t)(1u << t);
					sleep_src[t] = (int16_t)i;
					st->weak_sleeps++;
				} else {
					st->bound_kept++;
				}
			}
			nodes[i].tried |= (uint8_t)(1u << c);
			memcpy(prefix, S.trace.chosen, (size_t)i);
			prefix[i] = (uint8_t)c;
			prefix_len = (unsigned int)i + 1;
			if ((unsigned int)i < depth) {
				key++;
				own = shard_owns(opts, key);
				st->prefixes++;
				st->own_prefixes += own;
			}
			break;
		}
		if (i < 0) {
			st->complete = true;
			break;
		}
		if (opts->max_schedules && st->schedules >= opts->max_schedules)
			break;
	}
out:
	free(nodes);
	free(res);
	return ret;
}

int sched_explore(const struct sched_explore_ops *ops, void *ctx, uint32_t points,
		  unsigned int preemption_bound, unsigned long max_schedules,
		  unsigned long step_budget, struct sched_explore_stats *st)
{
	struct sched_explore_opts o = {
		.points = points,
		.preemption_bound = preemption_bound,
		.max_schedules = max_schedules,
		.step_budget = step_budget,
	};

	return sched_explore_ex(ops, ctx, &o, st);
}

/* ---------------- coverage ---------------- */

unsigned int sched_coverage_pairs(const struct sched_explore_stats *st)
{
	unsigned int pairs = 0;

	for (int a = 0; a < NR_SCHED_POINTS; a++)
		for (int b = a; b < NR_SCHED_POINTS; b++)
			pairs += (st->order[a] >> b & 1) && (st->order[b] >> a & 1);
	return pairs;
}

/*
 * One row per point a, one column per point b: 'B' both orders seen, '<'
 * only a before b, '>' only b before a, '.' neither.
 */
void sched_coverage_print(FILE *f, const char *prefix, const struct sched_explore_stats *st)
{
	fprintf(f, "%scoverage: %u point pairs seen in both orders\n%s     ", prefix,
		sched_coverage_pairs(st), prefix);
	for (int b = 0; b < NR_SCHED_POINTS; b++)
		fputc('0' + b % 10, f);
	fputc('\n', f);
	for (int a = 0; a < NR_SCHED_POINTS; a++) {
		fprintf(f, "%s  %2d ", prefix, a);
		for (int b = 0; b < NR_SCHED_POINTS; b++) {
			bool ab = st->order[a] >> b & 1, ba = st->order[b] >> a & 1;

			fputc(ab && ba ? 'B' : ab ? '<' : ba ? '>' : '.', f);
		}
		fprintf(f, "  %s\n", sched_point_name(a));
	}
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
		if (!S.trace.handover[i])
			off += (size_t)snprintf(buf + off, len - off, "%s%u", off ? "." : "",
						S.trace.chosen[i]);
	pthread_mutex_unlock(&S.lock);
}
