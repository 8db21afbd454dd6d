/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Simulated tasks.
 *
 * Every host thread that acts on a simulated process does so as a
 * task_struct of that process; `current` is thread-local.  The thread group
 * (process) shares a signal_struct with the fatal-signal flag, the
 * RLIMIT_MEMLOCK limit and CAP_IPC_LOCK (simplification: one capability bit,
 * kept per process rather than per credential).
 *
 * A task that oopses is dead: it never runs again, and the locks it held
 * stay held (see bug.h).  Its body runs under sim_task_run(), whose
 * setjmp landing pad the oops returns to.
 */
#ifndef SIM_TASK_H
#define SIM_TASK_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bug.h"

struct mm_struct;

#define SIM_RLIM_INFINITY (~0ULL)
#define SIM_MAX_HELD_LOCKS 16

struct signal_struct {
	_Atomic bool sigkill;		/* a fatal signal is pending */
	_Atomic uint64_t rlim_memlock;	/* RLIMIT_MEMLOCK soft limit, bytes */
	_Atomic bool cap_ipc_lock;	/* CAP_IPC_LOCK */
};

struct held_lock {
	const void *lock;
	bool write;
};

/*
 * include/linux/types.h: a queued piece of work (task_work, RCU); embedded
 * in the object it works on (struct file's f_task_work).
 */
struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *head);
};

struct task_struct {
	/*
	 * kernel/fork.c: references to the struct (get_task_struct()); the
	 * task's own is dropped when it leaves (task_free()), the struct goes
	 * at the last put.
	 */
	_Atomic int usage;
	uint32_t tid;			/* unique, never 0 */
	char comm[16];
	struct mm_struct *mm;
	struct task_struct *group_leader;
	struct signal_struct *signal;
	struct task_struct *next_in_group;	/* list of the process's tasks */
	struct task_struct **pprev_in_group;	/* O(1) unlink (mmap.c) */
	unsigned long host_thread;	/* token of its host thread (mmap.c) */
	/*
	 * Never reused over the host process's life (tids restart with each
	 * machine): what a host thread's cached lookup checks (mmap.c).
	 */
	uint64_t serial;
	unsigned int reg_slot;		/* machine->tasks[reg_slot] == this */
	/* The host thread's tasks, one per process (mmap.c mm_thread_task()). */
	struct sim_thread *thread;
	struct task_struct *next_in_thread, **pprev_in_thread;

	/* lockdep-like: what this task holds, for assertions and hangs */
	struct held_lock held[SIM_MAX_HELD_LOCKS];
	int nr_held;

	_Atomic bool dead;		/* oopsed: ends its body, locks kept */
	jmp_buf *oops_pad;		/* set by sim_task_run() */
	unsigned long nr_resched;	/* cond_resched() calls */

	/*
	 * task_work (kernel/task_work.c): pushed by task_work_add(), run by
	 * task_work_run() on the way back to user mode and at exit.  Only the
	 * task itself adds work here (fput() of current), so no cmpxchg.
	 */
	struct callback_head *task_works;
	bool task_works_exited;		/* exit_task_work() ran: no more adds */
};

extern __sim_tls struct task_struct *current;

/*
 * Create a task in the thread group of @leader (or a new group when @leader
 * is NULL, with a fresh signal_struct).  Ended by task_free() only; the mm
 * owns the tasks of its process (mm.h).  NULL when the host cannot allocate
 * the task or grow the machine's registry; nothing has changed then.
 */
struct task_struct *task_create(struct mm_struct *mm, struct task_struct *leader,
				const char *comm);
/*
 * The task leaves (release_task()): it is no longer current, no longer in
 * the machine's registry (so no lookup of live tasks finds it), and its own
 * reference goes.  The struct stays while get_task_struct() references
 * remain, for their holders' use of its fields: a group leader's
 * signal_struct (rlimit, capability) goes with the leader's struct, as
 * kernel/fork.c's signal_struct reference of the group lives on while one
 * of its tasks does.  Only group leaders are referenced (VFIO's
 * dma->task is current->group_leader).
 */
void task_free(struct task_struct *t);
/* kernel/fork.c get_task_struct()/put_task_struct(): see task_free(). */
struct task_struct *get_task_struct(struct task_struct *t);
void put_task_struct(struct task_struct *t);

/*
 * kernel/exit.c do_exit() for the calling host thread: each task it has in a
 * process (mm_thread_task()) ends.  Its queued task_work runs
 * (exit_task_work()), it leaves the thread group and its registry slot is
 * free for the next task.  The group leader (mm->owner) and a task that
 * oopsed stay until their process goes: the leader is the process, as a
 * zombie leader is in the kernel, and a dead task keeps its locks held
 * (lock_held_by_dead_task()).  Implemented in mmap.c, which owns the
 * process's task list.  Without it a host thread's tasks stay until the
 * process goes, unreachable once the thread has ended.
 */
void mm_thread_exit(void);

/* Make @t the current task of the calling host thread; returns the old one. */
struct task_struct *set_current(struct task_struct *t);

/*
 * Run @fn(@arg) as the body of the current task.  Returns what @fn returned,
 * -EOWNERDEAD if the task oopsed inside it, or -ECANCELED if the scheduler
 * ended it (the task is then dead and keeps its locks).  Calling it for a
 * dead task returns -ESRCH at once.
 */
long sim_task_run(long (*fn)(void *), void *arg);

/*
 * End the current task's body at once (the scheduler's watchdogs): like an
 * oops, the task keeps its locks; sim_task_run() returns -ECANCELED.
 */
_Noreturn void sim_task_abort(void);

/* Record/forget a lock in current's held list (used by rwsem and tests). */
void lock_acquired(const void *lock, bool write);
void lock_released(const void *lock);
bool lock_is_held(const void *lock);
bool lock_is_held_write(const void *lock);
/* Is @lock held by any dead task (scans every live task of the machine)? */
bool lock_held_by_dead_task(const void *lock);

static inline bool fatal_signal_pending(struct task_struct *t)
{
	return atomic_load_explicit(&t->signal->sigkill, memory_order_relaxed);
}

/*
 * kernel/task_work.c task_work_add() with TWA_RESUME: queue @work on @task,
 * newest first (the list is run from its head, so the last added runs
 * first).  -ESRCH once exit_task_work() has run for @task.
 */
int task_work_add(struct task_struct *task, struct callback_head *work);
/* task_work_run(): current's works until none is left (a work may add more). */
void task_work_run(void);
static inline bool task_work_pending(struct task_struct *t)
{
	return t && t->task_works;
}
/*
 * exit_task_work() (include/linux/task_work.h, from do_exit()): run what is
 * queued on @t, which must be current, and refuse later adds.
 */
void exit_task_work(struct task_struct *t);

/* SIGKILL to the whole thread group. */
void send_sig_kill(struct task_struct *t);

bool capable_ipc_lock(void);
uint64_t rlimit_memlock(struct task_struct *t);

/*
 * cond_resched(): a point where the kernel may schedule.  Counted per task;
 * the deterministic scheduler (sched.c, a later issue) plugs in here.
 */
void cond_resched(void);

#endif /* SIM_TASK_H */
