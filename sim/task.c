// SPDX-License-Identifier: GPL-2.0-only
/*
 * Simulated tasks: current, thread groups, fatal signals, the held-lock list
 * (a small lockdep) and the oops landing pad.  See task.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault_inject.h"
#include "machine.h"
#include "mm.h"
#include "printk.h"
#include "scheduler.h"
#include "task.h"

__sim_tls struct task_struct *current;

/*
 * Host threads that act without a simulated task (a test's main thread
 * before it picks a process) still need a lock-owner id.
 */
static _Atomic uint32_t anon_tid_next = 0x80000000u;
static __sim_tls uint32_t anon_tid;

uint32_t sim_current_tid(void)
{
	if (current)
		return current->tid;
	if (!anon_tid)
		anon_tid = atomic_fetch_add(&anon_tid_next, 1);
	return anon_tid;
}

/*
 * The machine's registry of every task (for lock_held_by_dead_task()): a
 * dense array, each task knowing its slot, so that adding is amortised O(1)
 * and removing is O(1) (the last task moves into the freed slot).  Slots are
 * reused: the array never grows beyond the most tasks alive at once.  A
 * full array that the host cannot grow fails the creating call with
 * -ENOMEM and changes nothing (kernel/fork.c copy_process() fails the same
 * way when it cannot allocate the task).
 */
static int task_register(struct task_struct *t)
{
	struct machine *m = machine;

	pthread_mutex_lock(&m->tasks_lock);
	if (m->nr_tasks == m->tasks_cap) {
		unsigned int cap = m->tasks_cap ? m->tasks_cap * 2 : 16;
		struct task_struct **n = NULL;

		if (cap > m->tasks_cap)
			n = realloc(m->tasks, cap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&m->tasks_lock);
			return -ENOMEM;
		}
		m->tasks = n;
		m->tasks_cap = cap;
	}
	t->reg_slot = m->nr_tasks;
	m->tasks[m->nr_tasks++] = t;
	pthread_mutex_unlock(&m->tasks_lock);
	return 0;
}

static void task_unregister(struct task_struct *t)
{
	struct machine *m = machine;
	unsigned int i;

	/*
	 * The slot under the lock: another task's unregistering may move this
	 * one (as the last) into the slot it frees.
	 */
	pthread_mutex_lock(&m->tasks_lock);
	i = t->reg_slot;
	if (!WARN_ON(i >= m->nr_tasks || m->tasks[i] != t)) {
		struct task_struct *last = m->tasks[--m->nr_tasks];

		m->tasks[i] = last;
		last->reg_slot = i;
	}
	pthread_mutex_unlock(&m->tasks_lock);
}

/* Process-wide, never reset: see task_struct.serial. */
static _Atomic uint64_t task_serial_next = 1;

struct task_struct *task_create(struct mm_struct *mm, struct task_struct *leader,
				const char *comm)
{
	struct task_struct *t = sim_kzalloc(sizeof(*t));

	if (!t)
		return NULL;
	if (!leader) {
		t->signal = sim_kzalloc(sizeof(*t->signal));
		if (!t->signal) {
			free(t);
			return NULL;
		}
		atomic_store(&t->signal->rlim_memlock, 8ULL << 20);	/* Debian default: 8 MiB */
		leader = t;
	} else {
		t->signal = leader->signal;
	}
	atomic_store(&t->usage, 1);
	t->group_leader = leader;
	t->mm = mm;
	strncpy(t->comm, comm ? comm : "task", sizeof(t->comm) - 1);
	if (task_register(t)) {
		if (leader == t)
			free(t->signal);
		free(t);
		return NULL;
	}
	/* After the registry: a failed creation uses up no tid. */
	t->tid = atomic_fetch_add(&machine->next_tid, 1);
	t->serial = atomic_fetch_add(&task_serial_next, 1);
	return t;
}

void task_free(struct task_struct *t)
{
	if (!t)
		return;
	if (current == t)
		current = NULL;
	task_unregister(t);
	put_task_struct(t);
}

struct task_struct *get_task_struct(struct task_struct *t)
{
	atomic_fetch_add(&t->usage, 1);
	return t;
}

/* __put_task_struct(): the last reference frees the struct. */
void put_task_struct(struct task_struct *t)
{
	if (atomic_fetch_sub(&t->usage, 1) != 1)
		return;
	if (t->group_leader == t)
		free(t->signal);
	free(t);
}

struct task_struct *set_current(struct task_struct *t)
{
	struct task_struct *old = current;

	current = t;
	return old;
}

long sim_task_run(long (*fn)(void *), void *arg)
{
	struct task_struct *t = current;
	jmp_buf pad, *saved;
	long ret;

	if (!t)
		return fn(arg);
	if (atomic_load(&t->dead))
		return -ESRCH;
	saved = t->oops_pad;
	t->oops_pad = &pad;
	switch (setjmp(pad)) {
	case 0:
		break;
	case 1:
		/* The task oopsed: it is dead, with its locks still held. */
		t->oops_pad = saved;
		return -EOWNERDEAD;
	default:
		t->oops_pad = saved;
		return -ECANCELED;
	}
	ret = fn(arg);
	t->oops_pad = saved;
	return ret;
}

_Noreturn void sim_task_abort(void)
{
	struct task_struct *t = current;

	if (!t || !t->oops_pad) {
		sim_printk("pinsim: sim_task_abort outside a task body\n");
		abort();
	}
	atomic_store(&t->dead, true);
	longjmp(*t->oops_pad, 2);
}

void lock_acquired(const void *lock, bool write)
{
	struct task_struct *t = current;

	if (!t)
		return;
	if (WARN_ON(t->nr_held >= SIM_MAX_HELD_LOCKS))
		return;
	t->held[t->nr_held].lock = lock;
	t->held[t->nr_held].write = write;
	t->nr_held++;
}

void lock_released(const void *lock)
{
	struct task_struct *t = current;

	if (!t)
		return;
	for (int i = t->nr_held - 1; i >= 0; i--) {
		if (t->held[i].lock == lock) {
			t->held[i] = t->held[--t->nr_held];
			return;
		}
	}
}

bool lock_is_held(const void *lock)
{
	struct task_struct *t = current;

	if (!t)
		return false;
	for (int i = 0; i < t->nr_held; i++)
		if (t->held[i].lock == lock)
			return true;
	return false;
}

bool lock_is_held_write(const void *lock)
{
	struct task_struct *t = current;

	if (!t)
		return false;
	for (int i = 0; i < t->nr_held; i++)
		if (t->held[i].lock == lock && t->held[i].write)
			return true;
	return false;
}

/*
 * Only dead tasks are scanned, and a dead task never changes its held list
 * again, so reading it without the owner's cooperation is safe.
 */
bool lock_held_by_dead_task(const void *lock)
{
	struct machine *m = machine;
	bool found = false;

	pthread_mutex_lock(&m->tasks_lock);
	for (unsigned int i = 0; i < m->nr_tasks && !found; i++) {
		struct task_struct *t = m->tasks[i];

		if (!atomic_load(&t->dead))
			continue;
		for (int j = 0; j < t->nr_held; j++)
			if (t->held[j].lock == lock)
				found = true;
	}
	pthread_mutex_unlock(&m->tasks_lock);
	return found;
}

/* ---------------- task_work (kernel/task_work.c) ---------------- */

int task_work_add(struct task_struct *task, struct callback_head *work)
{
	if (task->task_works_exited)
		return -ESRCH;
	work->next = task->task_works;
	task->task_works = work;
	return 0;
}

/*
 * kernel/task_work.c task_work_run(): take the whole list, run it from its
 * head (LIFO: 6.12 no longer reverses it), and look again, because a work
 * may queue another (the last fput() of one file releasing another).
 */
void task_work_run(void)
{
	struct task_struct *t = current;

	if (!t)
		return;
	while (t->task_works) {
		struct callback_head *work = t->task_works, *next;

		t->task_works = NULL;
		for (; work; work = next) {
			next = work->next;
			work->func(work);
			cond_resched();
		}
	}
}

void exit_task_work(struct task_struct *t)
{
	if (WARN_ON(t != current))
		return;
	task_work_run();
	t->task_works_exited = true;
}

void send_sig_kill(struct task_struct *t)
{
	atomic_store(&t->signal->sigkill, true);
}

bool capable_ipc_lock(void)
{
	return current && atomic_load(&current->signal->cap_ipc_lock);
}

uint64_t rlimit_memlock(struct task_struct *t)
{
	return atomic_load(&t->signal->rlim_memlock);
}

void cond_resched(void)
{
	if (current)
		current->nr_resched++;
}

/*
 * spinlock.h slow path: spin a little, then give the CPU away.  A thread
 * under the deterministic scheduler lets the holder run instead.
 */
void sim_spin_contended(spinlock_t *lock, uint32_t me)
{
	if (sched_controls_current()) {
		while (!spin_trylock(lock))
			sched_block_on(lock, "spinlock", "a page-table spinlock");
		return;
	}
	for (unsigned int n = 0;; n++) {
		uint32_t expected = 0;

		if (atomic_load_explicit(&lock->locked, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&lock->locked, &expected, me,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
		if (n > 64)
			sched_yield();
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static bool tid_is_dead(uint32_t tid)
{
	struct machine *m = machine;
	bool dead = false;

	pthread_mutex_lock(&m->tasks_lock);
	for (unsigned int i = 0; i < m->nr_tasks; i++)
		if (m->tasks[i]->tid == tid && atomic_load(&m->tasks[i]->dead))
			dead = true;
	pthread_mutex_unlock(&m->tasks_lock);
	return dead;
}

int spin_lock_timeout(spinlock_t *lock, uint64_t ns)
{
	uint64_t deadline = now_ns() + ns;

	while (!spin_trylock(lock)) {
		if (now_ns() >= deadline) {
			uint32_t owner = atomic_load(&lock->locked);

			return owner && tid_is_dead(owner) ? -EOWNERDEAD : -ETIMEDOUT;
		}
		sched_yield();
	}
	return 0;
}

void __spin_lock_notify(spinlock_t *lock)
{
	sched_lock_touch(lock, "spinlock", false);
}

void __spin_unlock_notify(spinlock_t *lock)
{
	sched_lock_released(lock, "spinlock");
}
