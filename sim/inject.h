/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Races on demand: the zap/refault injector (DESIGN.md, issue 5).
 *
 * Two ways to make the other side of a race happen:
 *
 *  - rules: an action run from a schedule point's callback (sched_point.h)
 *    on the thread that hit the point, on its nth hit, with a seeded
 *    probability per hit, or on every hit (the lockstep adversary of
 *    seeds/03);
 *  - a background injector: a host thread firing an action at exponential
 *    gaps, like a guest toggling memory decode or a vCPU touching a BAR
 *    while the VMM pins.
 *
 * The actions are what the kernel's other parties do: vfio_pci_zap_bars()
 * (decode off, reset), a fault on a BAR address (a vCPU access), a walker's
 * split_huge_pud(), a fault that finds its folio locked and drops mmap_lock
 * (VM_FAULT_RETRY), and SIGKILL.
 *
 * Injector actions never fire rules themselves: a zap run by a rule hits
 * SP_ZAP_BEFORE_CLEAR, and that hit is neither counted by the rules nor
 * acted on (a per-thread guard).
 *
 * One machine per host process (machine.h): the rule table is global, and
 * belongs to the machine it was filled for.
 */
#ifndef SIM_INJECT_H
#define SIM_INJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "sched_point.h"

struct mm_struct;
struct vfio_pci_core_device;

enum inject_action {
	INJECT_ZAP_BARS,	/* vfio_pci_zap_bars(vdev) */
	INJECT_REFAULT,		/* fault @addr in, in @mm */
	INJECT_SPLIT_PUD,	/* split_huge_pud() at @addr, in @mm */
	INJECT_FAULT_RETRY,	/* @mm's next retryable fault drops mmap_lock */
	INJECT_FATAL_SIGNAL,	/* send_sig_kill(mm->owner) */
	NR_INJECT_ACTIONS,
};

struct inject_target {
	enum inject_action action;
	struct vfio_pci_core_device *vdev;	/* ZAP_BARS */
	struct mm_struct *mm;			/* every other action */
	unsigned long addr;			/* REFAULT/SPLIT_PUD; 0 = the point's */
};

#define INJECT_MAX_RULES 64

struct inject_rule_spec {
	enum sched_point_id point;
	struct inject_target target;
	unsigned long nth;		/* fire on the nth hit (1-based); 0 = by probability */
	double probability;		/* nth == 0: per hit, in [0, 1] */
	unsigned long max_fires;	/* 0 = unlimited */
	uint64_t seed;
};

/*
 * Add a rule; the point is armed with the injector's callback when its
 * first rule comes.  Returns the rule id (>= 0) or -EINVAL (bad spec, or an
 * action that would deadlock at that point: see inject.c), -ENOSPC.
 */
int inject_rule_add(const struct inject_rule_spec *spec);
/* Disarm every point the rules armed, wait for callbacks in flight, forget the rules. */
void inject_rules_clear(void);
/*
 * A rule's counters: hits seen, fires decided (what nth/probability/
 * max_fires chose), and skipped (fires whose action could not run safely
 * at that moment, e.g. a REFAULT where the thread holds a lock the fault
 * needs, or a lock wait that timed out).  -EINVAL for an unknown id.
 */
int inject_rule_stats(int id, unsigned long *hits, unsigned long *fires, unsigned long *skipped);

/*
 * Run @t's action now, on this thread, with the guard set (nothing it does
 * fires a rule).  @mm/@addr are the schedule point's (may be NULL/0).
 * Returns 0 when the action ran (whatever the fault it made returned), or
 * the -errno that made it skip.
 */
int inject_fire(const struct inject_target *t, struct mm_struct *mm, unsigned long addr);

/* Is this thread inside an injector action (rule or background)? */
bool in_injector(void);

/* The background injector. */
struct injector;
struct injector_opts {
	struct inject_target target;
	unsigned long len;		/* REFAULT/SPLIT_PUD: a random page in [addr, addr+len) */
	double rate_hz;			/* mean firings per second */
	uint64_t seed;
};
/* 0 and *@out, or -EINVAL (bad opts), -ENOMEM, -EAGAIN (no thread). */
int injector_start(const struct injector_opts *opts, struct injector **out);
/* Stop and join (bounded: see inject.c); returns the number of actions run. */
unsigned long injector_stop(struct injector *inj);

/*
 * Machine teardown: stop every background injector still running and
 * clear the rules (their mm and device pointers are about to go away).
 */
void inject_reset(void);

/*
 * splitmix64 as a counter-based generator: output @n of the stream seeded
 * with @seed.  Hit n of a rule draws output n, so a seed fixes which hits
 * fire whatever the thread interleaving.
 */
static inline uint64_t splitmix64_at(uint64_t seed, uint64_t n)
{
	uint64_t z = seed + (n + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A double in [0, 1) from 53 bits of @x. */
static inline double u64_to_unit(uint64_t x)
{
	return (double)(x >> 11) * 0x1p-53;
}

#endif /* SIM_INJECT_H */
