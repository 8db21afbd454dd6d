/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * struct mutex, as the write side of a simulated rw_semaphore: owner
 * tracking (lockdep-like held lists, "held by a crashed task"), killable
 * waits, and the deterministic scheduler's blocking protocol come with it.
 * A host pthread mutex held across a schedule point would be invisible to
 * the scheduler and could wedge a controlled execution.
 */
#ifndef SIM_MUTEX_H
#define SIM_MUTEX_H

#include "rwsem.h"

struct mutex {
	struct rw_semaphore rw;
};

static inline void mutex_init(struct mutex *m, const char *name)
{
	init_rwsem(&m->rw, name);
}

static inline void mutex_destroy(struct mutex *m)
{
	destroy_rwsem(&m->rw);
}

static inline void mutex_lock(struct mutex *m)
{
	down_write(&m->rw);
}

static inline int mutex_lock_killable(struct mutex *m)
{
	return down_write_killable(&m->rw);
}

static inline bool mutex_trylock(struct mutex *m)
{
	return down_write_trylock(&m->rw);
}

static inline void mutex_unlock(struct mutex *m)
{
	up_write(&m->rw);
}

static inline bool mutex_is_locked(struct mutex *m)
{
	return rwsem_is_locked(&m->rw);
}

/* Held by a task that oopsed or that the scheduler ended: never released. */
static inline bool mutex_held_by_dead(struct mutex *m)
{
	return rwsem_held_by_dead(&m->rw);
}

#endif /* SIM_MUTEX_H */
