/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lock-order checker for the simulated locks, after kernel/locking/lockdep.c.
 *
 * The concepts mirrored:
 *  - lock classes: every lock of one kind shares a class, as the kernel keys
 *    a class by the lock_class_key of its init site (lockdep_init_map(),
 *    register_lock_class()).  Here a class is the lock's name: the name
 *    init_rwsem()/mutex_init() were given ("mmap_lock", "i_mmap_rwsem",
 *    "vfio_iommu", "memory_lock", ...), and for spinlock_t, which has no room
 *    for one (4 bytes, inside struct page), "ptlock" for a split page-table
 *    lock in struct page (ptlock_init() is one init site for PTE and PMD
 *    tables) and "page_table_lock" for any other (mm->page_table_lock).
 *  - a held-lock stack per task (task_struct::held_locks, lockdep_depth),
 *    bounded at LOCKDEP_MAX_DEPTH; an overflow is reported once
 *    (MAX_LOCK_DEPTH's "BUG: MAX_LOCK_DEPTH too low!").
 *  - a dependency graph over classes: taking B while holding A records
 *    A -> B (check_prev_add()); a new edge is checked with a breadth-first
 *    search from B for A (check_noncircular(), __bfs()), and a cycle is
 *    reported with the stack saved for each edge of it (save_trace() on a
 *    new dependency), even when no run deadlocked.  The graph lives as long
 *    as the host process, across every run and machine.
 *  - trylocks add no edge (check_prevs_add() is skipped for trylock).
 *  - rwsem readers: down_read() is a non-recursive read (lockdep read=1,
 *    rwsem_acquire_read()).  Since the recursive-read work (v5.10,
 *    __bfs()'s "strong" paths) only recursive readers (read=2: rwlock_t
 *    readers) can break a cycle, and a rw_semaphore has none, so every edge
 *    counts and a read-read cycle (mmap_lock read -> X read, X read ->
 *    mmap_lock read) is reported: with a writer waiting on each, it
 *    deadlocks (writer preference, rwsem.h).
 *  - might_sleep() in down_read()/down_write()/mutex_lock(): taking a
 *    sleeping lock while a spinlock-class lock is held is reported
 *    ("sleeping function called from invalid context").
 *  - releasing a lock the task does not hold ("bad unlock balance",
 *    print_unlock_imbalance_bug()).
 *
 * Simplification: an edge between two locks of the same class is not
 * recorded and not checked (as if every such nesting were annotated
 * *_nested(): dup_mmap()'s two mmap_locks, move_ptes()'s two PTE locks,
 * copy_pte_range()'s src/dst locks are, in the kernel).
 *
 * When it runs: enum lockdep_mode.  LOCKDEP_SCHED (the default) checks
 * every lock operation while a controlled execution is in progress
 * (sched_active: pinsim_sched_run(), sched_run(), sched_explore()), from
 * every thread; LOCKDEP_ALWAYS also outside them; LOCKDEP_OFF never
 * (PINSIM_LOCKDEP=always|off|controlled in the environment).  Off,
 * a lock operation pays two relaxed loads and a predictable branch
 * (lockdep_on()).
 *
 * A report names functions (kallsyms), never host addresses, and carries
 * the schedule string of the controlled run up to the event, which replays
 * it (PINSIM_SCHEDULE=...).
 */
#ifndef SIM_LOCKDEP_H
#define SIM_LOCKDEP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bug.h"

#define LOCKDEP_MAX_DEPTH 48
#define LOCKDEP_MAX_CLASSES 64
#define LOCKDEP_MAX_REPORTS 32

enum lockdep_mode {
	LOCKDEP_OFF,
	LOCKDEP_SCHED,		/* during controlled executions (default) */
	LOCKDEP_ALWAYS,
};

enum lockdep_report_kind {
	LOCKDEP_CYCLE,		/* lock-order inversion (possible deadlock) */
	LOCKDEP_SLEEP_IN_ATOMIC,	/* sleeping lock taken under a spinlock */
	LOCKDEP_BAD_UNLOCK,	/* release of a lock not held */
	LOCKDEP_DEPTH,		/* held-lock stack overflow */
};

extern _Atomic int lockdep_mode;
extern _Atomic int sched_active;	/* scheduler.h */
/* Locks this host thread's tasks hold in the checker's stacks. */
extern __sim_tls int lockdep_thread_depth;

static inline bool lockdep_on(void)
{
	int m = atomic_load_explicit(&lockdep_mode, memory_order_relaxed);

	return unlikely(m && (m == LOCKDEP_ALWAYS ||
			      atomic_load_explicit(&sched_active, memory_order_relaxed)));
}

/*
 * The hooks.  @cls caches the class of a named lock (rwsem.h keeps one per
 * lock; 0 = not looked up yet); NULL for a spinlock, whose class comes from
 * where it lives.  @ip is a code address in the function that asked for
 * the lock.
 */
void __lockdep_acquire(const void *lock, const char *name, _Atomic int16_t *cls, bool read,
		       bool trylock, const void *ip);
void __lockdep_release(const void *lock);
/* might_sleep() before a sleeping lock: complain if a spinlock is held. */
void __lockdep_might_sleep(const char *name, const void *ip);
/* A release of @lock (@name; NULL: a spinlock) that the task does not hold. */
void __lockdep_bad_unlock(const void *lock, const char *name, const void *ip);

static inline void lockdep_release(const void *lock)
{
	if (unlikely(lockdep_thread_depth))
		__lockdep_release(lock);
}

/* spinlock.h's out-of-line halves, taking the caller's address themselves. */
void __lockdep_spin_acquire(const void *lock, bool trylock);
void __lockdep_spin_bad_unlock(const void *lock);

/* Control and results (lib/pinsim.c: pinsim_set_checkers() and friends). */
void lockdep_set_mode(enum lockdep_mode mode);
/* Reports so far (all of them, even past those kept). */
unsigned int lockdep_nr_reports(void);
/*
 * Report @i: kind, text (NUL-terminated, cut at @len - 1) and the schedule
 * string ("" outside a controlled run).  False when @i is past those kept.
 */
bool lockdep_report(unsigned int i, enum lockdep_report_kind *kind, char *text, size_t len,
		    char *schedule, size_t slen);
/*
 * The recorded order, one "a -> b" line per edge, like
 * /proc/lockdep_chains in spirit; returns the whole length (snprintf).
 */
size_t lockdep_graph(char *buf, size_t len);
/* Is the order @a -> @b (class names) recorded?  For tests. */
bool lockdep_order_known(const char *a, const char *b);
/* Forget the graph, the classes' edges and the reports (lockdep_reset()). */
void lockdep_reset(void);
const char *lockdep_kind_name(enum lockdep_report_kind kind);

#endif /* SIM_LOCKDEP_H */
