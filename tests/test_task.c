// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tasks at the scale of real programs: a host thread's task found without a
 * scan, ended by mm_thread_exit() (do_exit() for a thread) with its registry
 * slot reused, and the registry's growth failing cleanly (issue 12 "Scale of
 * real programs", issue 13 item 4).
 *
 * Linked with -Wl,--wrap=realloc: realloc_fail_armed makes the library's
 * next realloc() fail as the host's would when out of memory.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "harness.h"
#include "pinsim/pinsim.h"

static _Atomic bool realloc_fail_armed;
static _Atomic int realloc_failures;

void *__real_realloc(void *ptr, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

void *__wrap_realloc(void *ptr, size_t size)
{
	if (atomic_exchange(&realloc_fail_armed, false)) {
		atomic_fetch_add(&realloc_failures, 1);
		return NULL;
	}
	return __real_realloc(ptr, size);
}

static unsigned int group_size(struct mm_struct *mm)
{
	unsigned int n = 0;

	pthread_mutex_lock(&mm->tasks_lock);
	for (struct task_struct *t = mm->tasks; t; t = t->next_in_group)
		n++;
	pthread_mutex_unlock(&mm->tasks_lock);
	return n;
}

/* Every registered task is in the slot it records: removal keeps it dense. */
static void assert_registry_consistent(void)
{
	pthread_mutex_lock(&tm->tasks_lock);
	for (unsigned int i = 0; i < tm->nr_tasks; i++)
		ck_assert_uint_eq(tm->tasks[i]->reg_slot, i);
	ck_assert_uint_le(tm->nr_tasks, tm->tasks_cap);
	pthread_mutex_unlock(&tm->tasks_lock);
}

struct worker {
	struct mm_struct *mm;
	int lookups;
	bool exit; /* mm_thread_exit() before returning */
	bool die; /* mark the task dead (as an oops does) first */
	struct task_struct *task;
	uint32_t tid;
	bool same; /* every lookup gave the same task */
	bool in_group;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct task_struct *t = mm_thread_task(w->mm);

	w->task = t;
	w->same = t != NULL;
	for (int i = 0; t && i < w->lookups; i++) {
		set_current(i & 1 ? t : NULL); /* with and without current */
		if (mm_thread_task(w->mm) != t)
			w->same = false;
	}
	set_current(NULL);
	if (t) {
		w->tid = t->tid;
		w->in_group = t->group_leader == w->mm->owner && t->signal == w->mm->owner->signal;
	}
	if (t && w->die)
		atomic_store(&t->dead, true);
	if (w->exit)
		mm_thread_exit();
	return NULL;
}

static void run_workers(struct worker *w, int n)
{
	pthread_t th[n];

	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_fn, &w[i]), 0);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

START_TEST(test_thread_task_found_after_many_threads_come_and_go)
{
	struct mm_struct *mm = tm_mm("vmm");
	unsigned int base_tasks = tm->nr_tasks, cap = 0;
	uint32_t last_tid = 0;
	enum { ROUNDS = 64, PER_ROUND = 8 };

	for (int r = 0; r < ROUNDS; r++) {
		struct worker w[PER_ROUND];

		for (int i = 0; i < PER_ROUND; i++)
			w[i] = (struct worker){.mm = mm, .lookups = 100, .exit = true};
		run_workers(w, PER_ROUND);
		for (int i = 0; i < PER_ROUND; i++) {
			ck_assert(w[i].same);
			ck_assert(w[i].in_group);
			/* A new thread is a new task, never an earlier one's. */
			ck_assert_uint_gt(w[i].tid, mm->owner->tid);
			for (int j = 0; j < i; j++)
				ck_assert_uint_ne(w[i].tid, w[j].tid);
			if (w[i].tid > last_tid)
				last_tid = w[i].tid;
		}
		/* Each ended: only the leader is left in the group and registry. */
		ck_assert_uint_eq(group_size(mm), 1);
		ck_assert_uint_eq(tm->nr_tasks, base_tasks);
		assert_registry_consistent();
		if (!r)
			cap = tm->tasks_cap;
		/* Slots are reused: the registry never grows past the peak. */
		ck_assert_uint_eq(tm->tasks_cap, cap);
	}
	ck_assert_uint_ge(last_tid, mm->owner->tid + ROUNDS * PER_ROUND);
	set_current(NULL);
	ck_assert_ptr_eq(mm_thread_task(mm), mm->owner);
}
END_TEST

/* Many threads alive at once: each finds its own task, distinct from all others. */
START_TEST(test_concurrent_threads_each_find_their_own_task)
{
	struct mm_struct *mm = tm_mm("vmm");
	enum { N = 48 };
	struct worker w[N];

	for (int i = 0; i < N; i++)
		w[i] = (struct worker){.mm = mm, .lookups = 2000};
	run_workers(w, N);
	for (int i = 0; i < N; i++) {
		ck_assert(w[i].same);
		for (int j = 0; j < i; j++)
			ck_assert_ptr_ne(w[i].task, w[j].task);
	}
	/* Not ended: they stay (unfindable) until the process goes. */
	ck_assert_uint_eq(group_size(mm), N + 1);
	assert_registry_consistent();
	set_current(NULL);
	ck_assert_ptr_eq(mm_thread_task(mm), mm->owner);
	set_current(mm->owner);
	mmput(mm);
	ck_assert_uint_eq(tm->nr_tasks, 0);
}
END_TEST

/*
 * do_exit() keeps what must stay: the leader (the process itself) and a task
 * that oopsed, whose locks stay held for lock_held_by_dead_task().
 */
START_TEST(test_thread_exit_keeps_leader_and_dead_task)
{
	struct mm_struct *mm = tm_mm("vmm");
	struct worker w = {.mm = mm, .exit = true, .die = true};
	struct task_struct *fresh;
	unsigned int base_tasks = tm->nr_tasks;

	run_workers(&w, 1);
	ck_assert_uint_eq(group_size(mm), 2);
	ck_assert_uint_eq(tm->nr_tasks, base_tasks + 1);
	ck_assert(atomic_load(&w.task->dead));

	/* The leader's thread ends: the leader stays, the thread is new after. */
	set_current(NULL);
	ck_assert_ptr_eq(mm_thread_task(mm), mm->owner);
	mm_thread_exit();
	ck_assert_uint_eq(group_size(mm), 2);
	fresh = mm_thread_task(mm);
	ck_assert_ptr_nonnull(fresh);
	ck_assert_ptr_ne(fresh, mm->owner);
	ck_assert_ptr_ne(fresh, w.task);
	ck_assert_uint_eq(group_size(mm), 3);
	mm_thread_exit();
	ck_assert_uint_eq(group_size(mm), 2);
	ck_assert_uint_eq(tm->nr_tasks, base_tasks + 1);
	assert_registry_consistent();
}
END_TEST

static int works_run;

static void count_work(struct callback_head *head)
{
	(void)head;
	works_run++;
}

/* kernel/exit.c do_exit() -> exit_task_work(): what the task queued runs. */
START_TEST(test_thread_exit_runs_queued_task_work)
{
	struct mm_struct *mm = tm_mm("vmm");
	struct callback_head work = {.func = count_work};
	struct task_struct *t;

	set_current(NULL);
	works_run = 0;
	/* A second process the thread acts in: its task there ends too. */
	t = mm_thread_task(mm);
	ck_assert_ptr_eq(t, mm->owner);
	{
		struct mm_struct *other = mm_alloc("other");
		struct task_struct *t2;

		ck_assert_ptr_nonnull(other);
		set_current(NULL);
		t2 = mm_thread_task(other);
		ck_assert_ptr_eq(t2, other->owner);
		mmput(other);
	}
	set_current(NULL);
	/* This thread's own non-leader task. */
	mm_thread_exit(); /* ends nothing here: only the leader */
	t = mm_thread_task(mm);
	ck_assert_ptr_ne(t, mm->owner);
	ck_assert_int_eq(task_work_add(t, &work), 0);
	mm_thread_exit();
	ck_assert_int_eq(works_run, 1);
	ck_assert_ptr_null(current);
}
END_TEST

/*
 * The cached lookup must not take a freed process's task for a new process
 * allocated at the same address: the leader's serial tells them apart.
 */
START_TEST(test_cached_lookup_does_not_outlive_its_process)
{
	for (int i = 0; i < 32; i++) {
		struct mm_struct *mm = mm_alloc("p");
		struct worker w = {.mm = mm};
		pthread_t th;

		ck_assert_ptr_nonnull(mm);
		set_current(NULL);
		ck_assert_ptr_eq(mm_thread_task(mm), mm->owner);
		/* Another thread's task, then its thread ends without exiting. */
		ck_assert_int_eq(pthread_create(&th, NULL, worker_fn, &w), 0);
		pthread_join(th, NULL);
		ck_assert_ptr_ne(w.task, mm->owner);
		set_current(mm->owner);
		mmput(mm);
		set_current(NULL);
	}
	ck_assert_uint_eq(tm->nr_tasks, 0);
}
END_TEST

/*
 * Issue 13 item 4: the registry's realloc failing is the creating call's
 * -ENOMEM (NULL task, in_proc()'s -ENOMEM), and nothing changes: no task in
 * the group or registry, no tid used, the thread's next call succeeds.
 */
START_TEST(test_task_create_fails_cleanly_when_registry_cannot_grow)
{
	struct mm_struct *mm = tm_mm("vmm");
	struct worker fill[40];
	struct worker w = {.mm = mm, .exit = true};
	unsigned int nr, cap, group;
	uint32_t next_tid;
	int n = 0;

	/* Fill the registry to capacity with live threads' tasks. */
	while (tm->nr_tasks < tm->tasks_cap) {
		ck_assert_int_lt(n, 40);
		fill[n] = (struct worker){.mm = mm};
		run_workers(&fill[n], 1);
		ck_assert_ptr_nonnull(fill[n].task);
		n++;
	}
	nr = tm->nr_tasks;
	cap = tm->tasks_cap;
	group = group_size(mm);
	next_tid = atomic_load(&tm->next_tid);

	atomic_store(&realloc_failures, 0);
	atomic_store(&realloc_fail_armed, true);
	run_workers(&w, 1);
	ck_assert_int_eq(atomic_load(&realloc_failures), 1);
	ck_assert_ptr_null(w.task);
	ck_assert_uint_eq(tm->nr_tasks, nr);
	ck_assert_uint_eq(tm->tasks_cap, cap);
	ck_assert_uint_eq(group_size(mm), group);
	ck_assert_uint_eq(atomic_load(&tm->next_tid), next_tid);
	assert_registry_consistent();

	/* The same creation succeeds once the host has memory again. */
	w = (struct worker){.mm = mm, .lookups = 10};
	run_workers(&w, 1);
	ck_assert_ptr_nonnull(w.task);
	ck_assert(w.same);
	ck_assert_uint_eq(tm->nr_tasks, nr + 1);
	ck_assert_uint_gt(tm->tasks_cap, cap);
	ck_assert_uint_eq(w.task->tid, next_tid);
	assert_registry_consistent();
}
END_TEST

/* The public entry: pinsim_thread_exit() from a thread that used a process. */
struct api_worker {
	struct pinsim_proc *p;
	uint64_t addr;
	int ret;
};

static void *api_worker_fn(void *arg)
{
	struct api_worker *a = arg;
	char buf[8] = "abcdefg";

	a->ret = (int)pinsim_access(a->p, a->addr, buf, sizeof(buf), 1);
	pinsim_thread_exit();
	return NULL;
}

START_TEST(test_pinsim_thread_exit_frees_each_threads_task)
{
	struct pinsim_config cfg;
	struct pinsim *m;
	struct pinsim_proc *p;
	uint64_t addr;
	unsigned int base;

	pinsim_config_init(&cfg);
	ck_assert_int_eq(pinsim_create(&cfg, &m), 0);
	ck_assert_int_eq(pinsim_proc_create(m, &p), 0);
	addr = pinsim_mmap(p, 0, 64 * KiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			   0);
	ck_assert(addr != (uint64_t)-1);
	base = machine->nr_tasks;
	for (int i = 0; i < 200; i++) {
		struct api_worker a = {.p = p, .addr = addr + (i % 16) * 4096};
		pthread_t th;

		ck_assert_int_eq(pthread_create(&th, NULL, api_worker_fn, &a), 0);
		pthread_join(th, NULL);
		ck_assert_int_eq(a.ret, 8);
		ck_assert_uint_eq(machine->nr_tasks, base);
	}
	pinsim_proc_destroy(p);
	pinsim_destroy(m);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("task");
	TCase *tc = tm_tcase(s, "thread_tasks");

	tcase_add_test(tc, test_thread_task_found_after_many_threads_come_and_go);
	tcase_add_test(tc, test_concurrent_threads_each_find_their_own_task);
	tcase_add_test(tc, test_thread_exit_keeps_leader_and_dead_task);
	tcase_add_test(tc, test_thread_exit_runs_queued_task_work);
	tcase_add_test(tc, test_cached_lookup_does_not_outlive_its_process);
	tcase_add_test(tc, test_task_create_fails_cleanly_when_registry_cannot_grow);

	tc = tcase_create("api");
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_pinsim_thread_exit_frees_each_threads_task);
	return s;
}
