/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * spinlock_t: 4 bytes, so that a split page-table lock fits in the struct
 * page of its page-table page, as with the kernel's !ALLOC_SPLIT_PTLOCKS.
 *
 * Simplification: the kernel spins with preemption off; a simulated task is
 * a host thread that may be descheduled while holding the lock, so waiters
 * spin briefly and then yield the CPU.  C11 atomics with acquire/release, so
 * ThreadSanitizer sees the happens-before edges.
 *
 * The owner is kept so that a waiter can tell "held by a task that oopsed"
 * from a slow holder (spin_lock_timeout()), and so that lockdep can tell an
 * unlock by a task that does not hold the lock.
 *
 * lockdep (lockdep.h): while the checker is on, spin_lock() records the
 * acquisition before it spins (spin_acquire() before do_raw_spin_lock()),
 * a successful spin_trylock() records a trylock, spin_unlock() checks the
 * owner and forgets it.  Off, each pays lockdep_on()'s two relaxed loads.
 */
#ifndef SIM_SPINLOCK_H
#define SIM_SPINLOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lockdep.h"

typedef struct {
	_Atomic uint32_t locked; /* 0, or the owner's task id */
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED {0}

uint32_t sim_current_tid(void); /* task.c: never 0 */
void sim_spin_contended(spinlock_t *lock, uint32_t me);

/*
 * The deterministic scheduler (scheduler.h) hears of every acquisition,
 * try and release: they are in the footprint of the step that does them,
 * which is how its reduction orders two steps touching the data a lock
 * protects (a failed trylock too: its outcome depends on the holder).
 */
extern _Atomic int sched_active;
void __spin_lock_notify(spinlock_t *lock);
void __spin_unlock_notify(spinlock_t *lock);

static inline void spin_sched_touch(spinlock_t *lock)
{
	if (__builtin_expect(atomic_load_explicit(&sched_active, memory_order_relaxed), 0))
		__spin_lock_notify(lock);
}

static inline void spin_lock_init(spinlock_t *lock)
{
	atomic_store_explicit(&lock->locked, 0, memory_order_relaxed);
}

static inline bool spin_trylock(spinlock_t *lock)
{
	uint32_t expected = 0;

	spin_sched_touch(lock);
	if (!atomic_compare_exchange_strong_explicit(&lock->locked, &expected,
						     sim_current_tid(),
						     memory_order_acquire,
						     memory_order_relaxed))
		return false;
	if (lockdep_on())
		__lockdep_spin_acquire(lock, true);
	return true;
}

static inline void spin_lock(spinlock_t *lock)
{
	uint32_t expected = 0, me = sim_current_tid();

	if (lockdep_on())
		__lockdep_spin_acquire(lock, false);
	spin_sched_touch(lock);
	if (__builtin_expect(atomic_compare_exchange_weak_explicit(
				     &lock->locked, &expected, me,
				     memory_order_acquire, memory_order_relaxed),
			     1))
		return;
	sim_spin_contended(lock, me);
}

static inline void spin_unlock(spinlock_t *lock)
{
	if (lockdep_on() &&
	    atomic_load_explicit(&lock->locked, memory_order_relaxed) != sim_current_tid())
		__lockdep_spin_bad_unlock(lock);
	lockdep_release(lock);
	atomic_store_explicit(&lock->locked, 0, memory_order_release);
	if (__builtin_expect(atomic_load_explicit(&sched_active, memory_order_relaxed), 0))
		__spin_unlock_notify(lock);
}

static inline bool spin_is_locked(spinlock_t *lock)
{
	return atomic_load_explicit(&lock->locked, memory_order_relaxed) != 0;
}

/* Held by the current task (for lockdep_assert_held-style checks). */
static inline bool spin_is_held_by_me(spinlock_t *lock)
{
	return atomic_load_explicit(&lock->locked, memory_order_relaxed) ==
	       sim_current_tid();
}

/*
 * Test helper: give up after @ns nanoseconds.  Returns 0, -ETIMEDOUT, or
 * -EOWNERDEAD when the holder is a task that oopsed.
 */
int spin_lock_timeout(spinlock_t *lock, uint64_t ns);

#endif /* SIM_SPINLOCK_H */
