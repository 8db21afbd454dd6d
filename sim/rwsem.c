// SPDX-License-Identifier: GPL-2.0-only
/*
 * rw_semaphore with writer preference, killable and timed waits, and owner
 * tracking (kernel/locking/rwsem.c semantics, not its implementation).
 *
 * Killable waits poll the fatal-signal flag every millisecond: the kernel
 * wakes the sleeper on SIGKILL; a short timed wait is the simplest way to
 * get the same observable behaviour without a wake-up path per signal.
 */
#include <errno.h>
#include <time.h>

#include "rwsem.h"
#include "sched_point.h"
#include "task.h"

#define KILLABLE_POLL_NS 1000000ull

void init_rwsem(struct rw_semaphore *sem, const char *name)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&sem->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sem->read_cv, &ca);
	pthread_cond_init(&sem->write_cv, &ca);
	pthread_condattr_destroy(&ca);
	sem->readers = 0;
	sem->waiting_writers = 0;
	sem->writer = NULL;
	sem->name = name;
}

void destroy_rwsem(struct rw_semaphore *sem)
{
	pthread_cond_destroy(&sem->read_cv);
	pthread_cond_destroy(&sem->write_cv);
	pthread_mutex_destroy(&sem->lock);
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

/*
 * One waiting loop for all read/write, plain/killable/timed variants.
 * @timeout_ns == 0 means no timeout.
 */
static int __down(struct rw_semaphore *sem, bool write, bool killable, uint64_t timeout_ns)
{
	pthread_cond_t *cv = write ? &sem->write_cv : &sem->read_cv;
	struct timespec deadline, slice;
	int ret = 0;

	sched_point(SP_MMAP_LOCK, NULL, 0);
	if (timeout_ns)
		deadline_after(&deadline, timeout_ns);
	pthread_mutex_lock(&sem->lock);
	if (write)
		sem->waiting_writers++;
	for (;;) {
		bool busy = write ? (sem->writer || sem->readers)
				  : (sem->writer || sem->waiting_writers);

		if (!busy)
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
	if (write)
		sem->waiting_writers--;
	if (!ret) {
		if (write)
			sem->writer = current ? current : (struct task_struct *)sem;
		else
			sem->readers++;
	} else if (write && !sem->waiting_writers && !sem->writer) {
		/* We gave up: readers queued behind us may go now. */
		pthread_cond_broadcast(&sem->read_cv);
	}
	pthread_mutex_unlock(&sem->lock);
	if (!ret)
		lock_acquired(sem, write);
	return ret;
}

void down_read(struct rw_semaphore *sem)
{
	__down(sem, false, false, 0);
}

int down_read_killable(struct rw_semaphore *sem)
{
	return __down(sem, false, true, 0);
}

int down_read_timeout(struct rw_semaphore *sem, uint64_t ns)
{
	return __down(sem, false, true, ns ? ns : 1);
}

void down_write(struct rw_semaphore *sem)
{
	__down(sem, true, false, 0);
}

int down_write_killable(struct rw_semaphore *sem)
{
	return __down(sem, true, true, 0);
}

int down_write_timeout(struct rw_semaphore *sem, uint64_t ns)
{
	return __down(sem, true, true, ns ? ns : 1);
}

bool down_read_trylock(struct rw_semaphore *sem)
{
	bool ok;

	pthread_mutex_lock(&sem->lock);
	ok = !sem->writer && !sem->waiting_writers;
	if (ok)
		sem->readers++;
	pthread_mutex_unlock(&sem->lock);
	if (ok)
		lock_acquired(sem, false);
	return ok;
}

bool down_write_trylock(struct rw_semaphore *sem)
{
	bool ok;

	pthread_mutex_lock(&sem->lock);
	ok = !sem->writer && !sem->readers;
	if (ok)
		sem->writer = current ? current : (struct task_struct *)sem;
	pthread_mutex_unlock(&sem->lock);
	if (ok)
		lock_acquired(sem, true);
	return ok;
}

void up_read(struct rw_semaphore *sem)
{
	lock_released(sem);
	pthread_mutex_lock(&sem->lock);
	if (!WARN_ON(sem->readers <= 0))
		sem->readers--;
	if (!sem->readers && sem->waiting_writers)
		pthread_cond_signal(&sem->write_cv);
	pthread_mutex_unlock(&sem->lock);
}

void up_write(struct rw_semaphore *sem)
{
	lock_released(sem);
	pthread_mutex_lock(&sem->lock);
	WARN_ON(!sem->writer);
	sem->writer = NULL;
	if (sem->waiting_writers)
		pthread_cond_signal(&sem->write_cv);
	else
		pthread_cond_broadcast(&sem->read_cv);
	pthread_mutex_unlock(&sem->lock);
}

bool rwsem_is_locked(struct rw_semaphore *sem)
{
	bool locked;

	pthread_mutex_lock(&sem->lock);
	locked = sem->writer || sem->readers;
	pthread_mutex_unlock(&sem->lock);
	return locked;
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
