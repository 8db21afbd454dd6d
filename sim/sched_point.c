// SPDX-License-Identifier: GPL-2.0-only
/* Registry of schedule points; see sched_point.h. */
#include <stddef.h>

#include "sched_point.h"
#include "scheduler.h"
#include "task.h"

/*
 * Scopes: the pfnmap points name the address whose page-table entries the
 * next step reads or changes (walk_pmd_range() reads the PUD above the PMD,
 * a PUD leaf covers 1 GiB: hence PUD-sized regions).  SP_PIN_BETWEEN_RUNS
 * is followed by the next run, at addresses the call does not name: the
 * whole mm.  SP_MMAP_LOCK is passed by sim/rwsem.c through
 * sched_point_lock(), which names the semaphore itself (read or write
 * side); a plain sched_point() hit of it with an mm is the whole mm, without
 * one it is unknown.  SP_PTL with addr 0 (pgtable.c populate()) is an
 * upper-level lock: the whole mm.  SP_THREAD_START only lets a thread's
 * work begin later (a late reader, a munmap after the race): the code after
 * it reaches its next point (a lock point: its mmap_lock) before it touches
 * anything another thread does, so it names nothing.
 */

struct sched_point sched_points[NR_SCHED_POINTS] = {
	[SP_WALK_PUD_AFTER_SPLIT] = { .name = "walk_pud_range:after_split", .scope = SP_SCOPE_REGION },
	[SP_WALK_PMD_ENTRY] = { .name = "walk_pmd_range:entry", .scope = SP_SCOPE_REGION },
	[SP_FOLLOW_PFNMAP_LOCKLESS] = { .name = "follow_pfnmap_start:lockless", .scope = SP_SCOPE_REGION },
	[SP_FOLLOW_FAULT_AFTER_FIXUP] = { .name = "follow_fault_pfn:after_fixup", .scope = SP_SCOPE_REGION },
	[SP_FAULT_BEFORE_INSERT] = { .name = "fault:before_insert", .scope = SP_SCOPE_REGION },
	[SP_ZAP_BEFORE_CLEAR] = { .name = "zap:before_clear", .scope = SP_SCOPE_REGION },
	[SP_PIN_BETWEEN_RUNS] = { .name = "vfio_pin_map_dma:between_runs", .scope = SP_SCOPE_MM },
	[SP_MMAP_LOCK] = { .name = "mmap_lock", .scope = SP_SCOPE_MM },
	[SP_PTL] = { .name = "ptl", .scope = SP_SCOPE_REGION },
	[SP_WALK_PMD_AFTER_SPLIT] = { .name = "walk_pmd_range:after_split", .scope = SP_SCOPE_REGION },
	[SP_MADV_DONTNEED_ZAP] = { .name = "madvise_dontneed:before_zap", .scope = SP_SCOPE_MM },
	[SP_THREAD_START] = { .name = "thread:start", .scope = SP_SCOPE_NONE },
};

static _Atomic(sched_switch_fn) sched_switch;
static _Atomic(sim_trace_fn) trace_fn;
static void *_Atomic trace_priv;
/* Points armed by sched_point_arm() (a callback may be NULL: count only). */
static _Atomic bool point_user_armed[NR_SCHED_POINTS];

static void rearm(enum sched_point_id id)
{
	bool armed = atomic_load(&point_user_armed[id]) || atomic_load(&sched_switch) ||
		     atomic_load(&trace_fn);

	atomic_store_explicit(&sched_points[id].armed, armed, memory_order_release);
}

void __sched_point_hit(enum sched_point_id id, struct mm_struct *mm, unsigned long addr)
{
	struct sched_point *sp = &sched_points[id];
	sched_switch_fn sw;
	sched_point_fn fn;

	atomic_fetch_add_explicit(&sp->hits, 1, memory_order_relaxed);
	if (id != SP_MMAP_LOCK && id != SP_PTL)
		sim_trace(sp->name, addr);
	fn = atomic_load_explicit(&sp->fn, memory_order_acquire);
	if (fn)
		fn(id, mm, addr, atomic_load_explicit(&sp->priv, memory_order_relaxed));
	sw = atomic_load_explicit(&sched_switch, memory_order_acquire);
	if (sw)
		sw(id, mm, addr, NULL);
}

void __sched_point_lock_hit(enum sched_point_id id, const void *lock, const char *class,
			    bool shared)
{
	struct sched_point *sp = &sched_points[id];
	struct sched_obj o = { .region = SCHED_OBJ_ALL, .shared = shared };
	sched_switch_fn sw;
	sched_point_fn fn;

	atomic_fetch_add_explicit(&sp->hits, 1, memory_order_relaxed);
	fn = atomic_load_explicit(&sp->fn, memory_order_acquire);
	if (fn)
		fn(id, NULL, 0, atomic_load_explicit(&sp->priv, memory_order_relaxed));
	sw = atomic_load_explicit(&sched_switch, memory_order_acquire);
	if (sw) {
		/* The scheduler is on: the key it compares across executions. */
		o.key = lock ? sched_canon_key(lock, class) : NULL;
		sw(id, NULL, 0, lock ? &o : NULL);
	}
}

void sim_set_trace(sim_trace_fn fn, void *priv)
{
	atomic_store(&trace_priv, priv);
	atomic_store(&trace_fn, fn);
	for (int i = 0; i < NR_SCHED_POINTS; i++)
		rearm(i);
}

void sim_trace(const char *what, uint64_t addr)
{
	sim_trace_fn fn = atomic_load_explicit(&trace_fn, memory_order_acquire);

	if (fn)
		fn(current ? current->comm : "?", what, addr, atomic_load(&trace_priv));
}

void sched_point_set_switch(sched_switch_fn fn)
{
	atomic_store_explicit(&sched_switch, fn, memory_order_release);
	for (int i = 0; i < NR_SCHED_POINTS; i++)
		rearm(i);
}

void sched_point_arm(enum sched_point_id id, sched_point_fn fn, void *priv)
{
	struct sched_point *sp = &sched_points[id];

	atomic_store_explicit(&sp->hits, 0, memory_order_relaxed);
	atomic_store_explicit(&sp->priv, priv, memory_order_relaxed);
	atomic_store_explicit(&sp->fn, fn, memory_order_release);
	atomic_store(&point_user_armed[id], true);
	rearm(id);
}

void sched_point_disarm(enum sched_point_id id)
{
	atomic_store(&point_user_armed[id], false);
	atomic_store_explicit(&sched_points[id].fn, NULL, memory_order_release);
	rearm(id);
}

void sched_point_disarm_all(void)
{
	for (int i = 0; i < NR_SCHED_POINTS; i++)
		sched_point_disarm(i);
}

unsigned long sched_point_hits(enum sched_point_id id)
{
	return atomic_load_explicit(&sched_points[id].hits, memory_order_relaxed);
}

const char *sched_point_name(enum sched_point_id id)
{
	return id < NR_SCHED_POINTS ? sched_points[id].name : "?";
}

int sched_point_object(enum sched_point_id id, const struct mm_struct *mm,
		       unsigned long addr, struct sched_obj *o)
{
	if (id < NR_SCHED_POINTS && sched_points[id].scope == SP_SCOPE_NONE)
		return 0;
	if (id >= NR_SCHED_POINTS || !mm)
		return -1;
	o->key = mm;
	o->shared = false;
	switch (sched_points[id].scope) {
	case SP_SCOPE_REGION:
		o->region = addr ? (uint32_t)(addr >> 30) : SCHED_OBJ_ALL;
		return 1;
	case SP_SCOPE_MM:
		o->region = SCHED_OBJ_ALL;
		return 1;
	default:
		return -1;
	}
}
