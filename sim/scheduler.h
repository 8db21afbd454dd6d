/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The deterministic scheduler: controlled executions of a few simulated
 * threads, one running at a time, switching only at schedule points, when a
 * thread would block on a simulated lock (mmap_lock, page-table locks), and
 * when a thread ends.
 *
 * Strategies: replay a schedule string; PCT (random priorities with d-1
 * priority change points, from a seed — Burckhardt et al., ASPLOS'10); and
 * bounded exhaustive search (every schedule with at most k preemptions,
 * stateless re-execution, as in CHESS and loom).  A decision is recorded
 * only where two or more threads could run, so the schedule string — the
 * thread index chosen at each such decision, dot-separated — replays a run
 * exactly (PINSIM_SCHEDULE=... in the environment overrides the strategy).
 *
 * Watchdogs end a run instead of hanging: a step budget (livelock), and
 * "every live thread is blocked" (deadlock, including on a lock held by a
 * task that oopsed).  An ended thread leaves through its task's landing pad
 * (sim_task_run() returns -ECANCELED), keeping its locks, like a dead task.
 */
#ifndef SIM_SCHED_H
#define SIM_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sched_point.h"

#define SCHED_MAX_THREADS 8
#define SCHED_MAX_DECISIONS 4096

struct mm_struct;

struct sched_thread {
	const char *name;
	struct mm_struct *mm;		/* the thread runs as a task of this mm */
	long (*fn)(void *arg);		/* under sim_task_run() */
	void *arg;
	long ret;			/* out: fn's result, -EOWNERDEAD, -ECANCELED */
};

enum sched_strategy_kind {
	SCHED_DEFAULT,		/* run the current thread until it blocks or ends */
	SCHED_REPLAY,		/* follow .schedule, then the default */
	SCHED_PCT,		/* seeded priorities */
};

struct sched_strategy {
	enum sched_strategy_kind kind;
	const char *schedule;		/* REPLAY */
	uint64_t seed;			/* PCT */
	unsigned int depth;		/* PCT bug depth d (>= 1) */
	unsigned int est_steps;		/* PCT: expected decisions, for change points */
	/* Schedule points that are decision points (bit per enum sched_point_id). */
	uint32_t points;
	unsigned long step_budget;	/* livelock watchdog: decisions incl. forced */
};

enum sched_status {
	SCHED_DONE,		/* every thread ended */
	SCHED_DEADLOCK,		/* every live thread blocked */
	SCHED_LIVELOCK,		/* the step budget ran out */
	SCHED_PRUNED,		/* sched_explore() cut the run short (never checked) */
};

struct sched_result {
	enum sched_status status;
	unsigned long steps;		/* decisions, forced ones included */
	unsigned int nr_decisions;	/* real choices (>= 2 runnable) */
	unsigned int preemptions;
	char schedule[SCHED_MAX_DECISIONS * 2 + 1];
	char report[256];		/* the watchdog's words */
};

/* All points that matter for the pfnmap races (not the lock-acquire points). */
#define SCHED_RACE_POINTS                                                          \
	((1u << SP_WALK_PUD_AFTER_SPLIT) | (1u << SP_WALK_PMD_ENTRY) |             \
	 (1u << SP_FOLLOW_PFNMAP_LOCKLESS) | (1u << SP_FOLLOW_FAULT_AFTER_FIXUP) | \
	 (1u << SP_FAULT_BEFORE_INSERT) | (1u << SP_ZAP_BEFORE_CLEAR) |           \
	 (1u << SP_PIN_BETWEEN_RUNS) | (1u << SP_WALK_PMD_AFTER_SPLIT) |           \
	 (1u << SP_THREAD_START))

void sched_strategy_init(struct sched_strategy *s);

/*
 * One controlled execution of @n threads.  Returns 0 (see @res->status), or
 * -EINVAL / -EAGAIN (thread creation) before anything ran.
 */
int sched_run(struct sched_thread *threads, int n, const struct sched_strategy *s,
	      struct sched_result *res);

/*
 * Bounded exhaustive search.  For each schedule, @setup builds a fresh
 * world and fills @threads (returning n), @check judges the execution
 * (return false to stop the search: a bug was found; @res holds its
 * schedule), and @teardown destroys the world.  Explores every schedule with
 * at most @preemption_bound preemptions at the @points decision points.
 */
struct sched_explore_ops {
	int (*setup)(void *ctx, struct sched_thread *threads);
	bool (*check)(void *ctx, struct sched_thread *threads, int n,
		      const struct sched_result *res);
	void (*teardown)(void *ctx);
};

/*
 * Partial-order reduction (sleep sets, Godefroid 1996) for the search.
 *
 * A step is what one thread runs from a decision to the next.  With the
 * reduction on, a thread that blocks or ends also ends the step when one
 * thread is left to run (a handover: a node with one choice, never part of
 * a schedule string), so that a step is always one thread's code.  Its
 * footprint is recorded while it runs: the object of the point it resumes
 * from (a point names what the code after it is about to touch) or the lock
 * it blocked on, the object of every schedule point it passes
 * (sched_point_object(): the mm, or a PUD-sized region of it; a lock point,
 * sched_point_lock(): the lock; SP_SCOPE_NONE: nothing), every lock it
 * takes, tries, blocks on or releases (sched_lock_touch(), sched_block_on(),
 * sched_lock_released(); spinlocks too, sim/spinlock.h).  A thread's first
 * step starts with nothing: a thread's start names nothing, so its code up
 * to its first point may touch only its own data and what it takes locks
 * for — the rule every point's code obeys (a controlled thread's function
 * that touches shared data before any point must pass a point naming it
 * first; one that only waits to start late passes SP_THREAD_START, which
 * names nothing: pinsim.h states the rule for pinsim_explore()'s users).
 * A step is unknown — dependent on every step — when it passes a
 * point without an object, when another thread runs inside it (a forced
 * switch: only without the reduction's handovers, or while a run ends), or
 * when it overflows SCHED_FP_MAX objects (enum sched_fp_why).  Two steps are
 * independent when no object of one conflicts with an object of the other
 * (sched_point.h: same key, overlapping regions, not both shared).  A
 * sleeper's footprint was recorded in an earlier execution, on another
 * world: keys are run-stable (sched_canon_key()), never host addresses.
 *
 * Locks.  A lock point names only the lock, not the data it protects: that
 * data is touched only by the lock's holders, and every acquisition, try
 * and release is in the footprint of the step that does it, so two steps
 * touching the protected data are ordered through the lock's own touches
 * (a step that holds the lock commutes with a step that only blocks on it:
 * the blocked one changes nothing but its own state).  Data that is
 * touched without the lock (lockless page-table reads, page-table writes
 * under an inner PTL) must be named by its own point, as before.  Read
 * side: a down_read(), a successful down_read_trylock() and an up_read()
 * are shared touches when no writer holds the rwsem or waits for it, at
 * the moment they run (sim/rwsem.c read_side_shared()).  Two of them
 * commute: the reader count is a sum, neither can block the other, and
 * nobody is blocked on the rwsem (readers block only behind a writer), so
 * no release wakes anyone.  The moment is the same in either order: only a
 * down_write() step (a write touch, dependent) changes whether a writer
 * waits.  A read acquisition whose step starts later than its point was
 * passed names the lock again when it runs (a writer may have arrived).
 * lockdep's graph is global, but the edges a step adds depend only on its
 * own thread's held locks, so either order ends with the same graph (and a
 * cycle is reported in both, by whichever edge comes second).
 *
 * Sleep sets with a preemption bound (CHESS) can lose states: the explored
 * order t.u and the pruned order u.t reach the same state at different
 * preemption costs, with a different thread running.  At a node with
 * running thread c (none if it blocked or ended), once t has been explored,
 * take a pruned execution p.u.V.t.w (V: steps independent of t's, t asleep
 * all along, w the choice after t's step) and the explored p.t.u.V.w, the
 * same state.  Their costs differ by
 *	cost(c->t) - cost(c->u) + [t runnable after its step] * [w == t]
 *	                        - [V's last thread runnable] * [w == V's last]
 * (w == t: the explored order pays for leaving t; w != t: the pruned order
 * paid for the switch to t).  So:
 *  - t sleeps in branch u when cost(c->t) + [t runnable after] <= cost(c->u):
 *    every pruned execution has an explored twin within the bound (the
 *    thread that would have continued sleeps in the branches that preempt
 *    it; a thread that blocked or ended sleeps in every later sibling);
 *  - else t sleeps weakly when cost(c->t) <= cost(c->u) (siblings at a node
 *    whose thread blocked or ended, two preempting siblings): it may still
 *    run, but the decision right after its step offers it alone (when it
 *    is runnable and the decision follows its step directly), since only
 *    w == t lacks a twin within the bound.  Woken like any sleeper.
 * A sleeper's twin costs no more than the pruned execution and comes first
 * in the search's order, so by induction every execution within the bound
 * has an explored equivalent within the bound.  Beyond sleep sets (DPOR's
 * backtrack sets) is not done: with a preemption bound, a race reversal's
 * backtrack point may cost a preemption the bound does not allow, and
 * bounded DPOR (Coons et al., OOPSLA'13) needs extra conservative
 * backtracking to stay complete; sleep sets prune only what was explored.
 */
#define SCHED_FP_MAX 6
/* Why a step's footprint is unknown (the search's statistics count them). */
enum sched_fp_why {
	SCHED_FP_KNOWN,
	SCHED_FP_FORCED,	/* a forced switch let another thread run inside it */
	SCHED_FP_OVERFLOW,	/* more than SCHED_FP_MAX objects */
	SCHED_FP_NO_OBJECT,	/* it passed a point without an object */
	SCHED_FP_NR_WHY,
};

struct sched_fp {
	bool unknown;
	uint8_t why;			/* enum sched_fp_why */
	uint8_t n;
	struct sched_obj obj[SCHED_FP_MAX];
};

struct sched_explore_opts {
	uint32_t points;		/* decision points */
	unsigned int preemption_bound;
	unsigned long max_schedules;	/* 0: no limit */
	unsigned long step_budget;
	bool por;			/* sleep-set reduction */
	/*
	 * A checker report (lockdep_nr_reports(), checker_total(): sim/lockdep.h,
	 * sim/checker.h) that appears during an execution stops the search
	 * after that execution is checked, as a failed check does (issue 15:
	 * the first report is what counts).  Set: explore on and count them.
	 */
	bool collect_reports;
	/*
	 * Sharding: the distinct decision prefixes of length @shard_depth
	 * (>= 1; 0 means 1), numbered in the search's order, belong to shard
	 * (number mod @nr_shards).  Every shard runs the executions that reach
	 * a new prefix up to that depth (probes, cut short, never checked); it
	 * explores and checks only its own prefixes' subtrees.  The union
	 * over shards is the unsharded search, execution for execution, with
	 * the reduction too: a node's sleep set comes from its ancestors'
	 * tried siblings and their steps' footprints, and every step above a
	 * shard's prefix root is complete in the probe that ran it (a probe
	 * is cut at decision @shard_depth, after the step of decision
	 * @shard_depth - 1 closed), so a shard arrives at each of its roots
	 * with the one run's sleep sets — provided a footprint means the same
	 * in every execution: run-stable keys (sched_canon_key()), never host
	 * addresses, which differ between a shard's worlds and the one run's
	 * (before those keys, shards ran fewer executions than one run).
	 */
	unsigned int shard, nr_shards;	/* nr_shards 0 or 1: no sharding */
	unsigned int shard_depth;
};

struct sched_explore_stats {
	unsigned long schedules;	/* executions run and checked */
	unsigned long deadlocks, livelocks;
	unsigned long pruned;		/* cut short: every runnable thread asleep */
	unsigned long probes;		/* sharding: runs into other shards' prefixes */
	unsigned long sleep_skips;	/* choices not tried because the thread slept */
	/*
	 * The reduction's misses: sleepers woken because the running step or
	 * the sleeper's own step was unknown (by enum sched_fp_why), or
	 * because the two conflict on an object.
	 */
	unsigned long wake_unknown[SCHED_FP_NR_WHY];
	unsigned long wake_conflict;
	/* Explored threads left awake in a sibling branch by the bound rule. */
	unsigned long bound_kept;
	unsigned long weak_sleeps;	/* ... put to sleep weakly instead */
	unsigned long weak_cuts;	/* choices cut after a weak sleeper's step */
	unsigned long prefixes;		/* sharding: prefixes numbered / owned */
	unsigned long own_prefixes;
	bool complete;			/* the whole bounded space was explored */
	bool bug_found;			/* check() returned false */
	bool checker_report;		/* an execution made a checker report */
	unsigned long checker_reports;	/* executions that made one */
	/* The failing execution: the first one that made a report, or that check() failed. */
	struct sched_result bug;
	/*
	 * Coverage: bit b of order[a] is set when some execution passed point
	 * b on one thread while another thread stood at point a (its last
	 * point), i.e. a was seen before b.  Pairs seen in both orders have
	 * both bits.
	 */
	uint32_t order[NR_SCHED_POINTS];
};

int sched_explore(const struct sched_explore_ops *ops, void *ctx, uint32_t points,
		  unsigned int preemption_bound, unsigned long max_schedules,
		  unsigned long step_budget, struct sched_explore_stats *st);
/* The same with reduction and sharding options; -EINVAL on bad options. */
int sched_explore_ex(const struct sched_explore_ops *ops, void *ctx,
		     const struct sched_explore_opts *opts, struct sched_explore_stats *st);
/* Pairs of points seen in both orders; print the matrix (one line per point). */
unsigned int sched_coverage_pairs(const struct sched_explore_stats *st);
void sched_coverage_print(FILE *f, const char *prefix, const struct sched_explore_stats *st);

/*
 * Was the last controlled run cut short by the search (SCHED_PRUNED: every
 * thread within the bound asleep, or a shard's probe)?  Its threads were
 * ended mid-way, holding what they held, pins in flight included: not a
 * state the kernel reaches, so teardown's leak checks (pin-leak,
 * sim/iommu.c dma_check_pins_at_teardown(); the tests' frame count) skip
 * that world.  Cleared by the next run and by machine_create().
 */
bool sched_run_cut_short(void);
void sched_forget_cut_short(void);

/* --- hooks for the simulated locks (rwsem.c, task.c, spinlock.h) --- */

/* Nonzero while a controlled execution is in progress. */
extern _Atomic int sched_active;
/* Is the calling host thread one of the controlled threads? */
bool sched_controls_current(void);
/*
 * Every hook names the lock's @class too: a string with static storage (the
 * rwsem's name, "spinlock"), its identity in footprints unless the lock
 * lies inside a controlled thread's mm_struct or in mem_map (see
 * sched_canon_key()).
 *
 * The calling controlled thread cannot get @lock (@name, for reports: a
 * hang names locks, never host addresses): let others run until the lock
 * is released.  Returns 0 to retry the acquisition, or does not return
 * (the run was ended: the thread leaves through its landing pad).
 */
int sched_block_on(const void *lock, const char *class, const char *name);
/* @lock was released: threads blocked on it may run again. */
void sched_lock_released(const void *lock, const char *class);
/*
 * The same, @shared: an up_read() while no writer waits (nobody is blocked
 * on the rwsem then, and the release commutes with other read-side steps).
 */
void __sched_lock_released(const void *lock, const char *class, bool shared);
/*
 * The calling controlled thread takes or tries @lock without blocking
 * (@shared: read side, no writer holding or waiting): recorded in the
 * running step's footprint.  A no-op outside controlled threads.
 */
void sched_lock_touch(const void *lock, const char *class, bool shared);
/*
 * A footprint key that is the same in every execution of a search (host
 * addresses are not: each execution builds a new world, and an allocator
 * may place it elsewhere — ASan's quarantine always does): inside a
 * controlled thread's mm_struct, (first such thread, offset); inside
 * mem_map, the offset (the simulated allocator is deterministic); else
 * @class when given (every instance of a class is one object: coarser,
 * still sound), else @key itself (a point's mm that is no thread's: it
 * must have static storage, as the tests' identity objects do).
 */
const void *sched_canon_key(const void *key, const void *class);

#endif /* SIM_SCHED_H */
