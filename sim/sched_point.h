/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Named schedule points: the seam where races are made to happen.
 *
 * Code under study calls sched_point(SP_x, mm, addr) at each race-relevant
 * step.  Disarmed, that is one relaxed load and a predictable branch, with
 * no counting.  Armed, the hit is counted, then the point's callback runs
 * (a test's, or the injector's: sim/inject.c), then — while the
 * deterministic scheduler (sim/sched.c) controls the calling thread — the
 * scheduler decides who runs next.  A point is armed while it has a
 * callback or the scheduler is active.
 */
#ifndef SIM_SCHED_POINT_H
#define SIM_SCHED_POINT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bug.h"

struct mm_struct;

enum sched_point_id {
	SP_WALK_PUD_AFTER_SPLIT,	/* walk_pud_range, after split_huge_pud */
	SP_WALK_PMD_ENTRY,		/* walk_pmd_range entry */
	SP_FOLLOW_PFNMAP_LOCKLESS,	/* follow_pfnmap_start: read → lock */
	SP_FOLLOW_FAULT_AFTER_FIXUP,	/* follow_fault_pfn: after fixup_user_fault */
	SP_FAULT_BEFORE_INSERT,		/* a pfnmap fault, before it inserts */
	SP_ZAP_BEFORE_CLEAR,		/* a zap, before it clears an entry */
	SP_PIN_BETWEEN_RUNS,		/* vfio_pin_map_dma, between two runs */
	SP_MMAP_LOCK,			/* before taking mmap_lock */
	SP_PTL,				/* before taking a page-table lock */
	SP_WALK_PMD_AFTER_SPLIT,	/* walk_pmd_range, after split_huge_pmd */
	SP_MADV_DONTNEED_ZAP,		/* madvise_dontneed_single_vma, before the zap */
	SP_THREAD_START,		/* a controlled thread's start, before its work */
	NR_SCHED_POINTS,
};

/*
 * What the step after a point touches, for the search's partial-order
 * reduction (sched.c): the scope of the point's (mm, addr) arguments.
 * UNKNOWN (the zero value, so a new point without a scope is conservative)
 * makes every step through the point dependent on every other step.
 */
enum sched_point_scope {
	SP_SCOPE_UNKNOWN,
	SP_SCOPE_MM,		/* anything in @mm's address space (a lock of the mm) */
	SP_SCOPE_REGION,	/* page-table entries of @mm within @addr's PUD (1 GiB) */
	SP_SCOPE_NONE,		/* nothing: the code after it reaches its next point first */
};

/*
 * An object a step touches: a lock, a whole mm, or one PUD-sized region of
 * an mm.  Two objects conflict when the keys are equal, the regions overlap
 * (SCHED_OBJ_ALL overlaps every region) and one of the two touches is not
 * @shared.  Only a lock's read side is shared (a down_read() or up_read()
 * of an rwsem no writer holds or waits for, see sim/rwsem.c): every other
 * touch counts as a write (conservative).
 */
#define SCHED_OBJ_ALL UINT32_MAX
struct sched_obj {
	const void *key;		/* the mm or the lock */
	uint32_t region;		/* addr >> PUD_SHIFT, or SCHED_OBJ_ALL */
	bool shared;			/* a lock's read side: commutes with itself */
};

typedef void (*sched_point_fn)(enum sched_point_id id, struct mm_struct *mm,
			       unsigned long addr, void *priv);

struct sched_point {
	const char *name;
	enum sched_point_scope scope;	/* what the step after the point touches */
	_Atomic bool armed;
	_Atomic unsigned long hits;	/* counted only while armed */
	_Atomic(sched_point_fn) fn;
	void *_Atomic priv;
};

extern struct sched_point sched_points[NR_SCHED_POINTS];

void __sched_point_hit(enum sched_point_id id, struct mm_struct *mm, unsigned long addr);

static inline void sched_point(enum sched_point_id id, struct mm_struct *mm,
			       unsigned long addr)
{
	if (unlikely(atomic_load_explicit(&sched_points[id].armed,
					  memory_order_relaxed)))
		__sched_point_hit(id, mm, addr);
}

void __sched_point_lock_hit(enum sched_point_id id, const void *lock, const char *class,
			    bool shared);

/*
 * A point before a lock acquisition (SP_MMAP_LOCK: every rw_semaphore and
 * mutex, sim/rwsem.c): the step after it touches @lock (of @class, see
 * scheduler.h), @shared when it is a read acquisition that no writer holds
 * or waits for.  A point callback sees (NULL, 0), as before locks were
 * named.
 */
static inline void sched_point_lock(enum sched_point_id id, const void *lock,
				    const char *class, bool shared)
{
	if (unlikely(atomic_load_explicit(&sched_points[id].armed,
					  memory_order_relaxed)))
		__sched_point_lock_hit(id, lock, class, shared);
}

/*
 * The scheduler's hook, called at every point while installed (sched.c).
 * Installing or removing it re-arms every point accordingly.  @lock is the
 * object of a lock point (sched_point_lock()), else NULL: the object comes
 * from (@mm, @addr) and the point's scope.
 */
typedef void (*sched_switch_fn)(enum sched_point_id id, struct mm_struct *mm,
				unsigned long addr, const struct sched_obj *lock);
void sched_point_set_switch(sched_switch_fn fn);

/*
 * A trace of events (schedule points while the trace is on, oopses,
 * scheduler switches): sim_trace() is a no-op unless a hook is installed.
 * Installing the hook arms every point.
 */
typedef void (*sim_trace_fn)(const char *who, const char *what, uint64_t addr, void *priv);
void sim_set_trace(sim_trace_fn fn, void *priv);
void sim_trace(const char *what, uint64_t addr);

/* Arm @id with @fn (NULL: count only); disarm.  Hit counters reset on arm. */
void sched_point_arm(enum sched_point_id id, sched_point_fn fn, void *priv);
void sched_point_disarm(enum sched_point_id id);
void sched_point_disarm_all(void);
unsigned long sched_point_hits(enum sched_point_id id);
const char *sched_point_name(enum sched_point_id id);
/*
 * The object a step through point @id with (@mm, @addr) touches: 1 and *@o,
 * 0 when it touches nothing (SP_SCOPE_NONE), -1 when it is unknown (no mm,
 * or a point without a scope).
 */
int sched_point_object(enum sched_point_id id, const struct mm_struct *mm,
		       unsigned long addr, struct sched_obj *o);

#endif /* SIM_SCHED_POINT_H */
