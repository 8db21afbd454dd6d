// SPDX-License-Identifier: GPL-2.0-only
/*
 * rw_semaphore with writer preference, killable and timed waits, and owner
 * tracking (kernel/locking/rwsem.c semantics, not its implementation).
 *
 * Fast paths are a single compare-and-swap on sem->count.  Slow paths take
 * sem->lock and sleep on a condition variable; a waiter first announces
 * itself (waiting_readers/waiting_writers), then re-checks count, then
 * sleeps, and a releaser first updates count, then looks for waiters — with
 * sequentially consistent atomics one of the two always sees the other, so
 * no wake-up is lost.
 *
 * Killable waits poll the fatal-signal flag every millisecond: the kernel
 * wakes the sleeper on SIGKILL; a short timed wait gives the same
 * observable behaviour without a wake-up path per signal.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "lockdep.h"
#include "machine.h"
#include "rwsem.h"
#include "scheduler.h"
#include "sched_point.h"
#include "task.h"

#define KILLABLE_POLL_NS 1000000ull

void init_rwsem(struct rw_semaphore *sem, const char *name)
{
	pthread_condattr_t ca;

	atomic_store(&sem->count, 0);
	atomic_store(&sem->waiting_writers, 0);
	atomic_store(&sem->waiting_readers, 0);
	atomic_store(&sem->writer, NULL);
	atomic_store(&sem->dep_class, 0);
	pthread_mutex_init(&sem->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sem->read_cv, &ca);
	pthread_cond_init(&sem->write_cv, &ca);
	pthread_condattr_destroy(&ca);
	sem->name = name;
}

void destroy_rwsem(struct rw_semaphore *sem)
{
	pthread_cond_destroy(&sem->read_cv);
	pthread_cond_destroy(&sem->write_cv);
	pthread_mutex_destroy(&sem->lock);
}

/* A reader may enter: no writer holds it and none waits (writer preference). */
static bool read_trylock(struct rw_semaphore *sem)
{
	long c = atomic_load(&sem->count);

	while (!(c & RWSEM_WRITER) && !atomic_load(&sem->waiting_writers)) {
		if (atomic_compare_exchange_weak(&sem->count, &c, c + 1))
			return true;
	}
	return false;
}

/*
 * For the search's reduction (scheduler.h): a read-side step commutes with
 * another read-side step of the same rwsem only while no writer holds it or
 * waits for it (a waiting writer makes new readers block: writer preference).
 */
static bool read_side_shared(struct rw_semaphore *sem)
{
	return !(atomic_load(&sem->count) & RWSEM_WRITER) && !atomic_load(&sem->waiting_writers);
}

static bool write_trylock(struct rw_semaphore *sem)
{
	long c = 0;

	return atomic_compare_exchange_strong(&sem->count, &c, RWSEM_WRITER);
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += ts->tv_nsec;
	ts->tv_sec += ns / 1000000000ull;
	ts->tv_nsec = ns % 1000000000ull;
}

static bool ts_passed(const struct timespec *dl)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > dl->tv_sec ||
	       (now.tv_sec == dl->tv_sec && now.tv_nsec >= dl->tv_nsec);
}

/* Wake whoever may now proceed: a writer if one waits, else all readers. */
static void rwsem_wake(struct rw_semaphore *sem)
{
	if (!atomic_load(&sem->waiting_writers) && !atomic_load(&sem->waiting_readers))
		return;
	pthread_mutex_lock(&sem->lock);
	if (atomic_load(&sem->waiting_writers))
		pthread_cond_broadcast(&sem->write_cv);
	pthread_cond_broadcast(&sem->read_cv);
	pthread_mutex_unlock(&sem->lock);
}

/* The slow path of every variant.  @timeout_ns == 0 means no timeout. */
static int __down_slow(struct rw_semaphore *sem, bool write, bool killable, uint64_t timeout_ns)
{
	_Atomic int *waiting = write ? &sem->waiting_writers : &sem->waiting_readers;
	pthread_cond_t *cv = write ? &sem->write_cv : &sem->read_cv;
	struct timespec deadline, slice;
	int ret = 0;

	if (timeout_ns)
		deadline_after(&deadline, timeout_ns);
	pthread_mutex_lock(&sem->lock);
	atomic_fetch_add(waiting, 1);
	for (;;) {
		if (write ? write_trylock(sem) : read_trylock(sem))
			break;
		if (killable && current && fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (timeout_ns && ts_passed(&deadline)) {
			ret = -ETIMEDOUT;
			break;
		}
		if (killable || timeout_ns) {
			deadline_after(&slice, KILLABLE_POLL_NS);
			pthread_cond_timedwait(cv, &sem->lock, &slice);
		} else {
			pthread_cond_wait(cv, &sem->lock);
		}
	}
	atomic_fetch_sub(waiting, 1);
	pthread_mutex_unlock(&sem->lock);
	/* A writer that gave up may have been what held readers back. */
	if (ret && write)
		rwsem_wake(sem);
	return ret;
}

/*
 * Under the deterministic scheduler a thread that cannot get the lock lets
 * another run (timeouts do not apply: the scheduler's deadlock watchdog
 * replaces them).  A waiting writer still holds new readers back.
 */
static void sched_wait_note(struct rw_semaphore *sem);
static void sched_wait_done(struct rw_semaphore *sem);

static int __down_sched(struct rw_semaphore *sem, bool write, bool killable)
{
	int ret = 0;

	if (write) {
		sched_wait_note(sem);	/* see rwsem_release_dead() */
		atomic_fetch_add(&sem->waiting_writers, 1);
	}
	while (!(write ? write_trylock(sem) : read_trylock(sem))) {
		if (killable && current && fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		sched_block_on(sem, sem->name, sem->name);
	}
	if (write) {
		atomic_fetch_sub(&sem->waiting_writers, 1);
		sched_wait_done(sem);
		if (ret)
			sched_lock_released(sem, sem->name);	/* readers held back by us */
	}
	return ret;
}

/*
 * lockdep (lockdep.h): might_sleep(), then the acquisition is recorded
 * before it may block, as rwsem_acquire() comes before the kernel's
 * LOCK_CONTENDED(): an inverted order is seen even by the run that
 * deadlocks on it.  A wait that gives up forgets it again.  @ip is in the
 * function that asked for the lock.
 */
static int __down(struct rw_semaphore *sem, bool write, bool killable, uint64_t timeout_ns,
		  const void *ip)
{
	int ret = 0;

	if (lockdep_on()) {
		__lockdep_might_sleep(sem->name, ip);
		__lockdep_acquire(sem, sem->name, &sem->dep_class, !write, false, ip);
	}
	sched_point_lock(SP_MMAP_LOCK, sem, sem->name, !write && read_side_shared(sem));
	/*
	 * The acquisition belongs to the step after the point, which may start
	 * later than the point was passed: name the lock again, in the mode
	 * it has now (a writer may have come to wait meanwhile).
	 */
	if (atomic_load_explicit(&sched_active, memory_order_relaxed))
		sched_lock_touch(sem, sem->name, !write && read_side_shared(sem));
	if (!(write ? write_trylock(sem) : read_trylock(sem))) {
		if (sched_controls_current())
			ret = __down_sched(sem, write, killable);
		else
			ret = __down_slow(sem, write, killable, timeout_ns);
	}
	if (!ret) {
		if (write)
			atomic_store(&sem->writer, current ? current : (struct task_struct *)sem);
		lock_acquired(sem, write);
	} else {
		lockdep_release(sem);
	}
	return ret;
}

#define CALLER __builtin_return_address(0)

void down_read(struct rw_semaphore *sem)
{
	__down(sem, false, false, 0, CALLER);
}

int down_read_killable(struct rw_semaphore *sem)
{
	return __down(sem, false, true, 0, CALLER);
}

int down_read_timeout(struct rw_semaphore *sem, uint64_t ns)
{
	return __down(sem, false, true, ns ? ns : 1, CALLER);
}

void down_write(struct rw_semaphore *sem)
{
	__down(sem, true, false, 0, CALLER);
}

int down_write_killable(struct rw_semaphore *sem)
{
	return __down(sem, true, true, 0, CALLER);
}

int down_write_timeout(struct rw_semaphore *sem, uint64_t ns)
{
	return __down(sem, true, true, ns ? ns : 1, CALLER);
}

/* Trylocks add no dependency (lockdep.h), but are held like any lock. */
bool down_read_trylock(struct rw_semaphore *sem)
{
	bool ok = read_trylock(sem);

	/* A success means no writer held or waited: the read side. */
	if (atomic_load_explicit(&sched_active, memory_order_relaxed))
		sched_lock_touch(sem, sem->name, ok);
	if (!ok)
		return false;
	lock_acquired(sem, false);
	if (lockdep_on())
		__lockdep_acquire(sem, sem->name, &sem->dep_class, true, true, CALLER);
	return true;
}

bool down_write_trylock(struct rw_semaphore *sem)
{
	if (atomic_load_explicit(&sched_active, memory_order_relaxed))
		sched_lock_touch(sem, sem->name, false);
	if (!write_trylock(sem))
		return false;
	atomic_store(&sem->writer, current ? current : (struct task_struct *)sem);
	lock_acquired(sem, true);
	if (lockdep_on())
		__lockdep_acquire(sem, sem->name, &sem->dep_class, false, true, CALLER);
	return true;
}

/* print_unlock_imbalance_bug(): the task's held list (task.c) is the truth. */
static void rwsem_release(struct rw_semaphore *sem, const void *ip)
{
	if (lockdep_on() && current && !lock_is_held(sem))
		__lockdep_bad_unlock(sem, sem->name, ip);
	lockdep_release(sem);
	lock_released(sem);
}

void up_read(struct rw_semaphore *sem)
{
	/* No writer waits: nobody is blocked on @sem, and no one is woken. */
	bool shared = !atomic_load(&sem->waiting_writers);
	long c;

	rwsem_release(sem, CALLER);
	c = atomic_fetch_sub(&sem->count, 1);
	if (WARN_ON((c & ~RWSEM_WRITER) <= 0)) {
		atomic_fetch_add(&sem->count, 1);
		return;
	}
	if (c == 1)
		rwsem_wake(sem);
	if (atomic_load_explicit(&sched_active, memory_order_relaxed))
		__sched_lock_released(sem, sem->name, shared);
}

void up_write(struct rw_semaphore *sem)
{
	rwsem_release(sem, CALLER);
	WARN_ON(!(atomic_load(&sem->count) & RWSEM_WRITER));
	atomic_store(&sem->writer, NULL);
	atomic_fetch_and(&sem->count, ~RWSEM_WRITER);
	rwsem_wake(sem);
	if (atomic_load_explicit(&sched_active, memory_order_relaxed))
		sched_lock_released(sem, sem->name);
}

bool rwsem_is_locked(struct rw_semaphore *sem)
{
	return atomic_load(&sem->count) != 0;
}

bool rwsem_held_by_current(struct rw_semaphore *sem)
{
	return lock_is_held(sem);
}

bool rwsem_write_held_by_current(struct rw_semaphore *sem)
{
	return lock_is_held_write(sem);
}

bool rwsem_held_by_dead(struct rw_semaphore *sem)
{
	return lock_held_by_dead_task(sem);
}

/* ---------------- teardown: the locks of dead tasks (host level) ---------------- */

/*
 * A writer that waits under the deterministic scheduler counts in
 * waiting_writers until it gets the lock; a thread the scheduler ends
 * there (sim_task_abort() from sched_block_on()) never takes itself off,
 * and holds later readers back for good, as a writer that never runs
 * again would in the kernel.  Noted here by task serial (never reused),
 * so that teardown can take the count back: see rwsem_release_dead().
 */
struct sched_wait {
	uint64_t serial;
	struct rw_semaphore *sem;
};

static struct sched_wait *sched_waits;
static size_t nr_sched_waits, sched_waits_cap;
static pthread_mutex_t sched_waits_lock = PTHREAD_MUTEX_INITIALIZER;

/* Out of host memory the wait goes unnoted: teardown may then wait on it. */
static void sched_wait_note(struct rw_semaphore *sem)
{
	if (!current)
		return;
	pthread_mutex_lock(&sched_waits_lock);
	if (nr_sched_waits == sched_waits_cap) {
		size_t cap = sched_waits_cap ? 2 * sched_waits_cap : 16;
		struct sched_wait *n = realloc(sched_waits, cap * sizeof(*n));

		if (n) {
			sched_waits = n;
			sched_waits_cap = cap;
		}
	}
	if (nr_sched_waits < sched_waits_cap)
		sched_waits[nr_sched_waits++] = (struct sched_wait){ current->serial, sem };
	pthread_mutex_unlock(&sched_waits_lock);
}

static void sched_wait_done(struct rw_semaphore *sem)
{
	if (!current)
		return;
	pthread_mutex_lock(&sched_waits_lock);
	for (size_t i = nr_sched_waits; i-- > 0;) {
		if (sched_waits[i].serial == current->serial && sched_waits[i].sem == sem) {
			sched_waits[i] = sched_waits[--nr_sched_waits];
			break;
		}
	}
	pthread_mutex_unlock(&sched_waits_lock);
}

/*
 * Give back what dead task @t keeps: each rwsem of its held list (task.h:
 * only this file records there, and mmap.c's forced teardown for the span
 * of its own call) and each scheduled write wait it was ended in.  Not
 * through up_read()/up_write(): @t is not current, so rwsem_release()
 * would draw lockdep's bad-unlock report (print_unlock_imbalance_bug()),
 * and there is no held stack of @t's to pop (its host thread has ended,
 * lockdep.c freed it) — the release is the teardown's, not a task's.  No
 * scheduler notification either: teardown is never a controlled run.
 */
static void release_dead_task(struct task_struct *t)
{
	for (int i = 0; i < t->nr_held; i++) {
		struct rw_semaphore *sem = (struct rw_semaphore *)t->held[i].lock;

		if (t->held[i].write) {
			atomic_store(&sem->writer, NULL);
			atomic_fetch_and(&sem->count, ~RWSEM_WRITER);
		} else if (!WARN_ON(!(atomic_load(&sem->count) & (RWSEM_WRITER - 1)))) {
			atomic_fetch_sub(&sem->count, 1);
		}
		rwsem_wake(sem);
	}
	t->nr_held = 0;
	pthread_mutex_lock(&sched_waits_lock);
	for (size_t i = nr_sched_waits; i-- > 0;) {
		struct rw_semaphore *sem = sched_waits[i].sem;

		if (sched_waits[i].serial != t->serial)
			continue;
		sched_waits[i] = sched_waits[--nr_sched_waits];
		atomic_fetch_sub(&sem->waiting_writers, 1);
		rwsem_wake(sem);
	}
	pthread_mutex_unlock(&sched_waits_lock);
}

void rwsem_release_dead(const struct mm_struct *mm)
{
	struct machine *m = machine;

	if (!m)
		return;
	pthread_mutex_lock(&m->tasks_lock);
	for (unsigned int i = 0; i < m->nr_tasks; i++) {
		struct task_struct *t = m->tasks[i];

		if (atomic_load(&t->dead) && (!mm || t->mm == mm))
			release_dead_task(t);
	}
	pthread_mutex_unlock(&m->tasks_lock);
}

void rwsem_forget_dead_waits(void)
{
	pthread_mutex_lock(&sched_waits_lock);
	free(sched_waits);
	sched_waits = NULL;
	nr_sched_waits = sched_waits_cap = 0;
	pthread_mutex_unlock(&sched_waits_lock);
}
