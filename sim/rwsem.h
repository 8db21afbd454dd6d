/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * struct rw_semaphore, as mmap_lock uses it (kernel/locking/rwsem.c).
 *
 * Writer preference: once a writer waits, new readers queue behind it.  This
 * is what makes a crashed reader (seeds/01) hang every later reader as well:
 * munmap waits for the dead reader, and the next numa_maps read waits for
 * munmap.
 *
 * Owner tracking: the writer is recorded, and every holder (reader or
 * writer) records the lock in its task's held-lock list, which is what
 * mmap_assert_locked() and the "held by a crashed task" report look at.
 * Simplification: one mutex + two condition variables, no optimistic
 * spinning, no handoff bit.
 */
#ifndef SIM_RWSEM_H
#define SIM_RWSEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct task_struct;

/*
 * @count holds the readers in its low bits and RWSEM_WRITER when write
 * locked; uncontended acquisitions and releases are one atomic operation
 * on it (like the kernel's fast paths).  Waiters sleep on the condition
 * variables under @lock; @waiting_writers is what gives writers preference
 * and tells releasers whether anyone must be woken.
 */
#define RWSEM_WRITER (1L << 40)

struct rw_semaphore {
	_Atomic long count;
	_Atomic int waiting_writers;
	_Atomic int waiting_readers;
	pthread_mutex_t lock;
	pthread_cond_t read_cv;
	pthread_cond_t write_cv;
	struct task_struct *_Atomic writer;	/* active writer, or NULL */
	const char *name;			/* also its lockdep class (lockdep.h) */
	_Atomic int16_t dep_class;		/* lockdep's class, 0: not looked up */
};

void init_rwsem(struct rw_semaphore *sem, const char *name);
void destroy_rwsem(struct rw_semaphore *sem);

void down_read(struct rw_semaphore *sem);
int down_read_killable(struct rw_semaphore *sem);	/* 0 or -EINTR */
bool down_read_trylock(struct rw_semaphore *sem);
void up_read(struct rw_semaphore *sem);
void down_write(struct rw_semaphore *sem);
int down_write_killable(struct rw_semaphore *sem);	/* 0 or -EINTR */
bool down_write_trylock(struct rw_semaphore *sem);
void up_write(struct rw_semaphore *sem);

/*
 * Timed acquisition for tests and watchdogs: 0, -ETIMEDOUT, or -EINTR
 * (killable variants only).  After -ETIMEDOUT, rwsem_held_by_dead() tells
 * whether the holder is a task that oopsed.
 */
int down_read_timeout(struct rw_semaphore *sem, uint64_t ns);
int down_write_timeout(struct rw_semaphore *sem, uint64_t ns);

bool rwsem_is_locked(struct rw_semaphore *sem);
bool rwsem_held_by_current(struct rw_semaphore *sem);	/* any mode */
bool rwsem_write_held_by_current(struct rw_semaphore *sem);
/* Some task that has oopsed still holds @sem (read or write). */
bool rwsem_held_by_dead(struct rw_semaphore *sem);

/*
 * Teardown only — pinsim_destroy(), a process's exit, machine_destroy() —
 * never a kernel operation: a dead task (oopsed, or ended by the
 * scheduler) never releases its locks, and host-level teardown must not
 * wait for them.  Every dead task of the machine (only those of @mm
 * unless NULL) gives back the rwsems (and mutexes) it holds and the
 * scheduled write waits it was ended in; sleepers are woken.  Without a
 * lockdep report: the releaser is not the holder, by design.
 */
struct mm_struct;
void rwsem_release_dead(const struct mm_struct *mm);
/* machine_destroy(): no task is left, no noted wait may name one. */
void rwsem_forget_dead_waits(void);

#endif /* SIM_RWSEM_H */
