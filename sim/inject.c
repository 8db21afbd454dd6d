// SPDX-License-Identifier: GPL-2.0-only
/*
 * The zap/refault injector: rules run at schedule points, and a background
 * injector thread.  See inject.h.
 *
 * Each action is what another party does in the kernel, through the same
 * function it calls there:
 *
 *   ZAP_BARS     vfio_pci_zap_bars() under memory_lock held for write, as
 *                every kernel caller does it (vfio_pci_zap_and_down_write_
 *                memory_lock(): a PCI_COMMAND write clearing MEMORY, a
 *                reset): what faults cannot do meanwhile is part of the
 *                kernel's behaviour.  Without it a fault could insert a PUD
 *                leaf between zap_pud_range()'s two reads, which then
 *                reports it as a bad PUD: a race the kernel does not have.
 *                The one exception: a thread that already holds memory_lock
 *                (SP_FAULT_BEFORE_INSERT: the faulting thread, for read)
 *                zaps without it — the kernel could not zap there at all,
 *                and a rule asking for it gets the nearest thing.
 *   REFAULT      a fault at an address, as a vCPU touching the BAR makes:
 *                fixup_user_fault() (vma lookup + handle_mm_fault()) under
 *                mmap_lock for read, read access, no FAULT_FLAG_ALLOW_RETRY
 *                so it never drops the lock it may share with its caller.
 *   SPLIT_PUD    split_huge_pud() at an address, as a page walker with a
 *                pmd_entry and no pud_entry does (walk_pud_range()), under
 *                mmap_lock for read; hugetlb VMAs are left alone, as the
 *                walker routes them to hugetlb_entry.
 *   FAULT_RETRY  mm->inject_fault_retry++: the next fault allowed to retry
 *                finds its folio locked, drops mmap_lock and returns
 *                VM_FAULT_RETRY (fault.c), so fixup_user_fault() sets
 *                *unlocked.
 *   FATAL_SIGNAL send_sig_kill() to the process.
 *
 * Locking.  A rule's action runs on the thread that hit the point, in the
 * middle of whatever that thread was doing, so it must never wait for a
 * lock that thread already holds, or for one whose holder can wait on it.
 * What each action takes, and when it gives up instead (counted as a
 * skipped fire):
 *  - REFAULT and SPLIT_PUD: @mm's mmap_lock for read — the caller's own
 *    hold when it has one (the walker, the pinner: lock_is_held()), else a
 *    timed, killable acquisition (a point inside a zap runs with the
 *    device's i_mmap_rwsem held, and a munmap holding mmap_lock for write
 *    may be waiting for it).  Never while the thread holds mmap_lock for
 *    write (a munmap or mmap half done: no fault or split belongs there).
 *  - REFAULT of a BAR also takes the device's memory_lock for read in the
 *    fault handler: not when the thread holds it in any mode already (a
 *    decode-off zap holds it for write; at SP_FAULT_BEFORE_INSERT the
 *    faulting thread holds it for read, and rwsems are not recursive: a
 *    second read acquisition queues behind a waiting writer).
 *  - SPLIT_PUD takes mm->page_table_lock: not when the thread holds it.
 *  - ZAP_BARS takes memory_lock for write (timed, killable; lock order
 *    mmap_lock -> memory_lock, as in the fault path) and i_mmap_rwsem for
 *    write: not when the thread holds the latter, that is, inside a zap of
 *    the same device.  It is also refused when a rule is added at
 *    SP_ZAP_BEFORE_CLEAR or SP_PTL: those points are hit inside zaps and
 *    page-table updates, where a nested zap has no kernel counterpart.
 * Other locks the thread holds (the container's iommu mutex during
 * MAP_DMA, another mm's mmap_lock) are not taken by any action.
 * Nothing here takes mmap_lock for write.
 *
 * Re-entry.  An action hits schedule points itself (a zap hits
 * SP_ZAP_BEFORE_CLEAR, a refault SP_MMAP_LOCK/SP_PTL/SP_FAULT_BEFORE_INSERT).
 * A per-thread guard keeps those hits away from the rules: injector actions
 * are not observed by other rules, and an action never recurses.
 * An action that ends its task (an oops; the deterministic scheduler ending
 * a run) unwinds through a landing pad of the injector's first, which puts
 * the guard back, then goes on to the task's own.
 */
#include <errno.h>
#include <float.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inject.h"
#include "machine.h"
#include "mm.h"
#include "pgtable.h"
#include "task.h"
#include "vfio_pci.h"

/* Longest wait for mmap_lock from an action: long enough never to matter
 * for progress, short enough that a lock cycle only costs this much. */
#define INJECT_LOCK_WAIT_NS (50ULL * 1000 * 1000)
/* How long inject_rules_clear() waits for callbacks still running. */
#define INJECT_QUIESCE_NS (2ULL * 1000 * 1000 * 1000)
/* How long injector_stop() waits before it kills the injector's task. */
#define INJECTOR_STOP_GRACE_NS (5ULL * 1000 * 1000 * 1000)

static __sim_tls bool inject_guard;

bool in_injector(void)
{
	return inject_guard;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Actions                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * The vfio-pci device whose BAR @vma maps, or NULL.  Found by the file's
 * address_space rather than by vm_ops, which are private to vfio_pci.c, and
 * rather than by the file: every device fd is a file of its own, and all of
 * them share the device inode's mapping (group.c vfio_device_open_file():
 * filep->f_mapping = device->inode->i_mapping).
 */
static struct vfio_pci_core_device *vma_vfio_device(struct vm_area_struct *vma)
{
	struct vfio_pci_core_device *vdev;

	if (!vma->vm_file)
		return NULL;
	pthread_mutex_lock(&machine->devices_lock);
	for (vdev = machine->devices; vdev; vdev = vdev->next)
		if (vma->vm_file->f_mapping == &vdev->mapping)
			break;
	pthread_mutex_unlock(&machine->devices_lock);
	return vdev;
}

/*
 * mmap_lock for read, as the action needs it: the caller's own hold if it
 * has one, else a timed, killable acquisition (see the top of the file).
 */
static int inject_mmap_read_lock(struct mm_struct *mm, bool *taken)
{
	int ret;

	*taken = false;
	if (lock_is_held(&mm->mmap_lock))
		return 0;
	ret = down_read_timeout(&mm->mmap_lock, INJECT_LOCK_WAIT_NS);
	if (ret)
		return ret;
	*taken = true;
	return 0;
}

struct inject_mm_args {
	struct mm_struct *mm;
	unsigned long addr;
};

/*
 * A read fault at @addr.  fixup_user_fault() with @unlocked == NULL is
 * vma_lookup() + the permission check + handle_mm_fault() without
 * FAULT_FLAG_ALLOW_RETRY: the lock is never dropped, whoever holds it.
 * What the fault returns (SIGBUS with decode off, no VMA) is the vCPU's
 * problem, not the injector's: the action ran.
 */
static long inject_refault_body(void *arg)
{
	struct inject_mm_args *a = arg;
	struct vfio_pci_core_device *vdev;
	struct vm_area_struct *vma;
	bool taken;
	int ret;

	if (lock_is_held_write(&a->mm->mmap_lock))
		return -EDEADLK;	/* a munmap/mmap in progress: no faults */
	ret = inject_mmap_read_lock(a->mm, &taken);
	if (ret)
		return ret;
	vma = vma_lookup(a->mm, a->addr);
	vdev = vma ? vma_vfio_device(vma) : NULL;
	/* The BAR fault takes memory_lock for read: not if we hold it already. */
	if (vdev && lock_is_held(&vdev->memory_lock))
		ret = -EDEADLK;
	else
		fixup_user_fault(a->mm, a->addr, 0, NULL);
	if (taken)
		mmap_read_unlock(a->mm);
	return ret;
}

/* walk_pud_range()'s split, for the PUD mapping @addr. */
static long inject_split_pud_body(void *arg)
{
	struct inject_mm_args *a = arg;
	struct mm_struct *mm = a->mm;
	struct vm_area_struct *vma;
	bool taken;
	pgd_t *pgd;
	int ret;

	if (lock_is_held_write(&mm->mmap_lock) || spin_is_held_by_me(&mm->page_table_lock))
		return -EDEADLK;
	ret = inject_mmap_read_lock(mm, &taken);
	if (ret)
		return ret;
	vma = vma_lookup(mm, a->addr);
	if (!vma) {
		ret = -ENOENT;
		goto out;
	}
	pgd = pgd_offset(mm, a->addr);
	if (!is_vm_hugetlb_page(vma) && pgd_present(pgdp_get(pgd)))
		split_huge_pud(vma, pud_offset(p4d_offset(pgd, a->addr), a->addr), a->addr);
out:
	if (taken)
		mmap_read_unlock(mm);
	return ret;
}

/*
 * The fault path needs a task (memory_lock's held-lock bookkeeping, the
 * fatal-signal checks).  A thread without one acts as its task in @mm, the
 * way a vCPU thread of the VMM would, under sim_task_run() so that an oops
 * ends only that task.
 */
static int inject_run_as_task(struct mm_struct *mm, long (*fn)(void *), void *arg)
{
	struct task_struct *t;
	long ret;

	if (current)
		return (int)fn(arg);
	t = mm_thread_task(mm);
	if (!t)
		return -ENOMEM;
	set_current(t);
	ret = sim_task_run(fn, arg);
	set_current(NULL);
	return (int)ret;
}

/* See the top of the file: memory_lock for write around the zap. */
static int inject_zap_bars(struct vfio_pci_core_device *vdev)
{
	int ret;

	if (lock_is_held(&vdev->mapping.i_mmap_rwsem))
		return -EDEADLK;	/* inside a zap of this device already */
	if (lock_is_held(&vdev->memory_lock)) {
		vfio_pci_zap_bars(vdev);
		return 0;
	}
	ret = down_write_timeout(&vdev->memory_lock, INJECT_LOCK_WAIT_NS);
	if (ret)
		return ret;
	vfio_pci_zap_bars(vdev);
	up_write(&vdev->memory_lock);
	return 0;
}

static int __inject_fire(const struct inject_target *t, struct mm_struct *pmm, unsigned long paddr)
{
	struct inject_mm_args a = { .mm = t->mm, .addr = t->addr };

	switch (t->action) {
	case INJECT_ZAP_BARS:
		return inject_zap_bars(t->vdev);
	case INJECT_FAULT_RETRY:
		atomic_fetch_add(&t->mm->inject_fault_retry, 1);
		return 0;
	case INJECT_FATAL_SIGNAL:
		send_sig_kill(t->mm->owner);
		return 0;
	default:
		break;
	}
	/* The point's address means something only in the point's mm. */
	if (!a.addr && pmm == t->mm)
		a.addr = paddr;
	if (!a.addr)
		return -EINVAL;
	a.addr &= PAGE_MASK;
	if (t->action == INJECT_REFAULT)
		return inject_run_as_task(t->mm, inject_refault_body, &a);
	return inject_run_as_task(t->mm, inject_split_pud_body, &a);
}

int inject_fire(const struct inject_target *t, struct mm_struct *mm, unsigned long addr)
{
	bool nested = inject_guard;
	int ret;

	inject_guard = true;
	ret = __inject_fire(t, mm, addr);
	inject_guard = nested;
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Rules                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * A slot's spec is written under rules_lock before nr_rules publishes it
 * (release); callbacks read it after an acquire load of nr_rules, and it
 * does not change while published.  Clearing first stops new callbacks
 * (rules_enabled), then waits for those in flight (callbacks_active), so a
 * slot is only rewritten when nobody reads it.
 */
struct inject_rule {
	struct inject_rule_spec spec;
	_Atomic unsigned long hits, fires, skipped;
};

static pthread_mutex_t rules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct inject_rule rules[INJECT_MAX_RULES];
static _Atomic int nr_rules;
static _Atomic bool rules_enabled;
static _Atomic int callbacks_active;
static bool point_armed[NR_SCHED_POINTS];	/* by us; under rules_lock */
static struct machine *rules_machine;		/* whose mm/vdev the rules name */

/* nth hit exactly; else a Bernoulli(p) draw from the hit's own output. */
static bool rule_triggers(const struct inject_rule *r, unsigned long hit)
{
	const struct inject_rule_spec *s = &r->spec;

	if (s->nth)
		return hit == s->nth;
	if (s->probability >= 1.0)
		return true;
	return u64_to_unit(splitmix64_at(s->seed, hit - 1)) < s->probability;
}

/* Take one fire from the max_fires budget. */
static bool rule_take_fire(struct inject_rule *r)
{
	unsigned long f = atomic_load(&r->fires);

	do {
		if (r->spec.max_fires && f >= r->spec.max_fires)
			return false;
	} while (!atomic_compare_exchange_weak(&r->fires, &f, f + 1));
	return true;
}

struct inject_hit {
	enum sched_point_id id;
	struct mm_struct *mm;
	unsigned long addr;
};

static long inject_rules_run(void *arg)
{
	struct inject_hit *h = arg;
	int n = atomic_load_explicit(&nr_rules, memory_order_acquire);

	for (int i = 0; i < n; i++) {
		struct inject_rule *r = &rules[i];
		unsigned long hit;

		if (r->spec.point != h->id)
			continue;
		hit = atomic_fetch_add(&r->hits, 1) + 1;
		if (!rule_triggers(r, hit) || !rule_take_fire(r))
			continue;
		if (inject_fire(&r->spec.target, h->mm, h->addr))
			atomic_fetch_add(&r->skipped, 1);
	}
	return 0;
}

/*
 * The rules run under a landing pad of their own (sim_task_run() nests), so
 * that when an action ends the task — an oops, or the deterministic
 * scheduler ending a run while the action is blocked — the guard and the
 * in-flight count are put back before the task goes on to its own landing
 * pad, with the same code (bug.c: 1, task.c sim_task_abort(): 2).
 */
static void inject_point_fn(enum sched_point_id id, struct mm_struct *mm, unsigned long addr,
			    void *priv)
{
	struct inject_hit h = { id, mm, addr };
	long ret = 0;

	if (inject_guard)
		return;		/* an injector action's own hit */
	/* Dekker with inject_rules_clear(): seq_cst on both sides. */
	atomic_fetch_add(&callbacks_active, 1);
	if (atomic_load(&rules_enabled))
		ret = sim_task_run(inject_rules_run, &h);
	inject_guard = false;
	atomic_fetch_sub(&callbacks_active, 1);
	if (ret == -ECANCELED)
		sim_task_abort();
	if (ret == -EOWNERDEAD && current->oops_pad)
		longjmp(*current->oops_pad, 1);	/* on to sim_oops()'s destination */
}

static bool action_allowed_at(enum inject_action action, enum sched_point_id point)
{
	/* Inside a zap (i_mmap lock held): a zap would take it again. */
	if (action == INJECT_ZAP_BARS)
		return point != SP_ZAP_BEFORE_CLEAR && point != SP_PTL;
	return true;
}

static int rule_spec_check(const struct inject_rule_spec *s)
{
	const struct inject_target *t = &s->target;

	if ((unsigned int)s->point >= NR_SCHED_POINTS ||
	    (unsigned int)t->action >= NR_INJECT_ACTIONS)
		return -EINVAL;
	if (t->action == INJECT_ZAP_BARS ? !t->vdev : !t->mm)
		return -EINVAL;
	/* !(p >= 0 && p <= 1) also refuses a NaN. */
	if (!s->nth && !(s->probability >= 0.0 && s->probability <= 1.0))
		return -EINVAL;
	if (!action_allowed_at(t->action, s->point))
		return -EINVAL;
	return 0;
}

/* Forget the rules of a machine that is gone; rules_lock held. */
static void rules_adopt_machine(void)
{
	bool ours = false;

	/*
	 * machine_destroy() disarms every point; a new machine may well be
	 * allocated at the old one's address, so "none of the points we armed
	 * still runs our callback" is what says the rules are stale.
	 */
	for (int i = 0; i < NR_SCHED_POINTS; i++)
		if (point_armed[i] && atomic_load(&sched_points[i].fn) == inject_point_fn)
			ours = true;
	if (rules_machine == machine && (ours || !atomic_load(&nr_rules)))
		return;
	atomic_store(&rules_enabled, false);
	atomic_store(&nr_rules, 0);
	memset(point_armed, 0, sizeof(point_armed));
	rules_machine = machine;
}

int inject_rule_add(const struct inject_rule_spec *spec)
{
	struct inject_rule *r;
	int ret, id;

	ret = rule_spec_check(spec);
	if (ret)
		return ret;
	pthread_mutex_lock(&rules_lock);
	rules_adopt_machine();
	id = atomic_load(&nr_rules);
	if (id >= INJECT_MAX_RULES) {
		pthread_mutex_unlock(&rules_lock);
		return -ENOSPC;
	}
	r = &rules[id];
	r->spec = *spec;
	atomic_store(&r->hits, 0);
	atomic_store(&r->fires, 0);
	atomic_store(&r->skipped, 0);
	atomic_store_explicit(&nr_rules, id + 1, memory_order_release);
	atomic_store(&rules_enabled, true);
	if (!point_armed[spec->point]) {
		sched_point_arm(spec->point, inject_point_fn, NULL);
		point_armed[spec->point] = true;
	}
	pthread_mutex_unlock(&rules_lock);
	return id;
}

void inject_rules_clear(void)
{
	uint64_t deadline = now_ns() + INJECT_QUIESCE_NS;

	pthread_mutex_lock(&rules_lock);
	atomic_store(&rules_enabled, false);
	for (int i = 0; i < NR_SCHED_POINTS; i++) {
		/* Only our own arming: a test's callback there stays. */
		if (point_armed[i] && atomic_load(&sched_points[i].fn) == inject_point_fn)
			sched_point_disarm(i);
		point_armed[i] = false;
	}
	/*
	 * Bounded, as a last resort: a callback can sit in a timed lock wait
	 * for a while, but one never comes back only if its host thread was
	 * torn down in the middle of it.
	 */
	while (atomic_load(&callbacks_active) > 0 && now_ns() < deadline)
		sched_yield();
	atomic_store(&nr_rules, 0);
	pthread_mutex_unlock(&rules_lock);
}

int inject_rule_stats(int id, unsigned long *hits, unsigned long *fires, unsigned long *skipped)
{
	struct inject_rule *r;

	if (id < 0 || id >= atomic_load_explicit(&nr_rules, memory_order_acquire))
		return -EINVAL;
	r = &rules[id];
	if (hits)
		*hits = atomic_load(&r->hits);
	if (fires)
		*fires = atomic_load(&r->fires);
	if (skipped)
		*skipped = atomic_load(&r->skipped);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The background injector                                                  */
/* ------------------------------------------------------------------------ */

struct injector {
	struct injector_opts opts;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool stop;				/* under lock */
	_Atomic unsigned long fired;
	struct task_struct *_Atomic task;	/* its task in the target, if any */
	uint64_t draws;				/* the injector thread's own */
	struct injector *next;			/* under injectors_lock */
};

static pthread_mutex_t injectors_lock = PTHREAD_MUTEX_INITIALIZER;
static struct injector *injectors;

static uint64_t injector_draw(struct injector *inj)
{
	return splitmix64_at(inj->opts.seed, inj->draws++);
}

/*
 * -ln(1 - u) for u in [0, 1): an Exp(1) variate.  Written out so that the
 * library needs no libm: ln(m * 2^e) = e ln 2 + 2 atanh((m - 1) / (m + 1)),
 * with m in [1, 2) the series converges fast (|z| <= 1/3); a gap needs
 * nowhere near double precision anyway.
 */
static double exp1_variate(double u)
{
	double x = 1.0 - u, z, z2, term, sum = 0.0;
	int e = 0;

	if (x < DBL_MIN)
		return 40.0;
	while (x >= 2.0) {
		x /= 2.0;
		e++;
	}
	while (x < 1.0) {
		x *= 2.0;
		e--;
	}
	z = (x - 1.0) / (x + 1.0);
	z2 = z * z;
	term = z;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return -(e * 0.6931471805599453 + 2.0 * sum);
}

/*
 * Sleep for an exponential gap of mean 1/rate (a Poisson process of
 * firings).  Returns true when asked to stop.
 */
static bool injector_wait(struct injector *inj)
{
	double u = u64_to_unit(injector_draw(inj));
	uint64_t gap = (uint64_t)(exp1_variate(u) / inj->opts.rate_hz * 1e9);
	struct timespec dl;
	uint64_t t;
	bool stop;

	/* A gap beyond a minute is a rate too low to be meant: cap it. */
	if (gap > 60ULL * 1000000000ULL)
		gap = 60ULL * 1000000000ULL;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	t = (uint64_t)dl.tv_nsec + gap;
	dl.tv_sec += (time_t)(t / 1000000000ULL);
	dl.tv_nsec = (long)(t % 1000000000ULL);
	pthread_mutex_lock(&inj->lock);
	while (!inj->stop && pthread_cond_timedwait(&inj->cv, &inj->lock, &dl) != ETIMEDOUT)
		;
	stop = inj->stop;
	pthread_mutex_unlock(&inj->lock);
	return stop;
}

/* This firing's target: REFAULT/SPLIT_PUD at a random page of the range. */
static void injector_target(struct injector *inj, struct inject_target *t)
{
	unsigned long pages = inj->opts.len >> PAGE_SHIFT;

	*t = inj->opts.target;
	if (pages > 1 && (t->action == INJECT_REFAULT || t->action == INJECT_SPLIT_PUD))
		t->addr += (injector_draw(inj) % pages) << PAGE_SHIFT;
}

struct injector_fire_args {
	struct inject_target t;
};

static long injector_fire_body(void *arg)
{
	struct injector_fire_args *a = arg;

	return inject_fire(&a->t, NULL, 0);
}

static void *injector_fn(void *arg)
{
	struct injector *inj = arg;
	struct mm_struct *mm = inj->opts.target.mm;
	struct task_struct *t = NULL;

	/* Nothing this thread does is for the rules to see. */
	inject_guard = true;
	if (inj->opts.target.action != INJECT_ZAP_BARS) {
		t = mm_thread_task(mm);
		if (!t)
			return NULL;
		set_current(t);
		atomic_store(&inj->task, t);
	}
	while (!injector_wait(inj)) {
		struct injector_fire_args a;
		long ret;

		injector_target(inj, &a.t);
		ret = t ? sim_task_run(injector_fire_body, &a) : injector_fire_body(&a);
		if (!ret)
			atomic_fetch_add(&inj->fired, 1);
		else if (ret == -EOWNERDEAD || ret == -ESRCH)
			break;	/* our task died: it can do nothing more */
	}
	set_current(NULL);
	return NULL;
}

int injector_start(const struct injector_opts *opts, struct injector **out)
{
	struct inject_rule_spec check = { .point = SP_MMAP_LOCK, .probability = 1.0 };
	pthread_condattr_t ca;
	struct injector *inj;

	if (!opts || !out || !(opts->rate_hz > 0.0) || opts->rate_hz > DBL_MAX)
		return -EINVAL;
	check.target = opts->target;
	if (rule_spec_check(&check))
		return -EINVAL;
	if ((opts->target.action == INJECT_REFAULT || opts->target.action == INJECT_SPLIT_PUD) &&
	    !opts->target.addr)
		return -EINVAL;
	inj = calloc(1, sizeof(*inj));
	if (!inj)
		return -ENOMEM;
	inj->opts = *opts;
	pthread_mutex_init(&inj->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&inj->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&injectors_lock);
	if (pthread_create(&inj->thread, NULL, injector_fn, inj)) {
		pthread_mutex_unlock(&injectors_lock);
		pthread_cond_destroy(&inj->cv);
		pthread_mutex_destroy(&inj->lock);
		free(inj);
		return -EAGAIN;
	}
	inj->next = injectors;
	injectors = inj;
	pthread_mutex_unlock(&injectors_lock);
	*out = inj;
	return 0;
}

/*
 * The thread only blocks in timed or killable waits of its own, but an
 * action can still sit behind a lock that a crashed task keeps (a page-table
 * lock, a memory_lock): after a grace period it is sent SIGKILL, the way
 * numa_maps_walker_stop() ends a hung reader.
 */
unsigned long injector_stop(struct injector *inj)
{
	struct injector **pp;
	struct timespec dl;
	unsigned long fired;
	uint64_t t;

	if (!inj)
		return 0;
	pthread_mutex_lock(&inj->lock);
	inj->stop = true;
	pthread_cond_broadcast(&inj->cv);
	pthread_mutex_unlock(&inj->lock);
	clock_gettime(CLOCK_REALTIME, &dl);
	t = (uint64_t)dl.tv_nsec + INJECTOR_STOP_GRACE_NS;
	dl.tv_sec += (time_t)(t / 1000000000ULL);
	dl.tv_nsec = (long)(t % 1000000000ULL);
	if (pthread_timedjoin_np(inj->thread, NULL, &dl)) {
		struct task_struct *task = atomic_load(&inj->task);

		if (task)
			send_sig_kill(task);
		pthread_join(inj->thread, NULL);
	}
	pthread_mutex_lock(&injectors_lock);
	for (pp = &injectors; *pp; pp = &(*pp)->next) {
		if (*pp == inj) {
			*pp = inj->next;
			break;
		}
	}
	pthread_mutex_unlock(&injectors_lock);
	fired = atomic_load(&inj->fired);
	pthread_cond_destroy(&inj->cv);
	pthread_mutex_destroy(&inj->lock);
	free(inj);
	return fired;
}

void inject_reset(void)
{
	for (;;) {
		struct injector *inj;

		pthread_mutex_lock(&injectors_lock);
		inj = injectors;
		pthread_mutex_unlock(&injectors_lock);
		if (!inj)
			break;
		injector_stop(inj);
	}
	inject_rules_clear();
}
