// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lock-order checker (sim/lockdep.h, after kernel/locking/lockdep.c):
 * an order inverted across two runs that never deadlocked is reported with
 * both acquisitions' functions; a rwsem read-read cycle is a cycle
 * (rwsem readers are non-recursive, lockdep read=1); trylocks add no
 * order; a sleeping lock under a spinlock and the release of a lock not
 * held are reported; the checker is on in controlled runs only by default,
 * and off records nothing.
 */
#include <sys/mman.h>

#include "harness.h"
#include "lockdep.h"
#include "mm.h"
#include "mutex.h"
#include "race_world.h"
#include "scheduler.h"
#include "spinlock.h"

static struct mutex lock_a, lock_b;
static struct rw_semaphore sem_x, sem_y;

static void ld_setup(void)
{
	tm_setup();
	lockdep_reset();
	lockdep_set_mode(LOCKDEP_SCHED);
	mutex_init(&lock_a, "test_lock_a");
	mutex_init(&lock_b, "test_lock_b");
	init_rwsem(&sem_x, "test_sem_x");
	init_rwsem(&sem_y, "test_sem_y");
}

static void ld_teardown(void)
{
	mutex_destroy(&lock_a);
	mutex_destroy(&lock_b);
	destroy_rwsem(&sem_x);
	destroy_rwsem(&sem_y);
	tm_teardown();
}

/* noinline: the report must name these functions. */
static __attribute__((noinline)) long take_a_then_b(void *arg)
{
	mutex_lock(&lock_a);
	sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);
	mutex_lock(&lock_b);
	mutex_unlock(&lock_b);
	mutex_unlock(&lock_a);
	return 0;
}

static __attribute__((noinline)) long take_b_then_a(void *arg)
{
	mutex_lock(&lock_b);
	sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);
	mutex_lock(&lock_a);
	mutex_unlock(&lock_a);
	mutex_unlock(&lock_b);
	return 0;
}

static __attribute__((noinline)) long take_b_then_try_a(void *arg)
{
	mutex_lock(&lock_b);
	if (mutex_trylock(&lock_a))
		mutex_unlock(&lock_a);
	mutex_unlock(&lock_b);
	return 0;
}

static long bystander(void *arg)
{
	sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);
	sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);
	return 0;
}

/*
 * One controlled run of @fn beside a thread that only passes schedule
 * points, so that the run has decisions; the default schedule runs @fn to
 * its end first: the two never overlap.
 */
static void run_one(long (*fn)(void *), const char *schedule, struct sched_result *res)
{
	struct sched_thread t[2] = {
		{ .name = "locker", .fn = fn },
		{ .name = "bystander", .fn = bystander },
	};
	struct sched_strategy s;

	sched_strategy_init(&s);
	if (schedule) {
		s.kind = SCHED_REPLAY;
		s.schedule = schedule;
	}
	ck_assert_int_eq(sched_run(t, 2, &s, res), 0);
	ck_assert_int_eq(res->status, SCHED_DONE);
	ck_assert_int_eq(t[0].ret, 0);
}

static bool has_host_pointer(const char *text)
{
	return strstr(text, "0x") != NULL;
}

START_TEST(test_order_inverted_across_two_runs_is_reported_with_both_functions)
{
	static struct sched_result res;
	static char text[2048], sched[SCHED_MAX_DECISIONS * 2 + 1], replay[sizeof(sched)];
	enum lockdep_report_kind kind;

	run_one(take_a_then_b, NULL, &res);
	ck_assert_uint_eq(lockdep_nr_reports(), 0);
	/* The other order, in a run of its own: no deadlock is possible. */
	run_one(take_b_then_a, NULL, &res);
	printf("# second run schedule=%s\n", res.schedule);
	harness_expect_lockdep(LOCKDEP_CYCLE, 1);	/* the one kept after the reset below */
	ck_assert_uint_eq(lockdep_nr_reports(), 1);
	ck_assert(lockdep_report(0, &kind, text, sizeof(text), sched, sizeof(sched)));
	printf("# %s\n", text);
	ck_assert_int_eq(kind, LOCKDEP_CYCLE);
	ck_assert_ptr_nonnull(strstr(text, "test_lock_b -> test_lock_a"));
	ck_assert_ptr_nonnull(strstr(text, "take_a_then_b"));
	ck_assert_ptr_nonnull(strstr(text, "take_b_then_a"));
	ck_assert_ptr_nonnull(strstr(text, "task locker"));
	ck_assert_ptr_nonnull(strstr(text, "schedule point"));
	ck_assert(!has_host_pointer(text));
	/* The schedule up to the new edge: the first two decisions taken. */
	ck_assert_str_eq(sched, "0.0");
	ck_assert(!strncmp(res.schedule, sched, strlen(sched)));

	/* Seen once: the same inversion again adds no edge and no report. */
	run_one(take_b_then_a, NULL, &res);
	ck_assert_uint_eq(lockdep_nr_reports(), 1);

	/* The report's schedule replays it (the first order recorded again). */
	snprintf(replay, sizeof(replay), "%s", sched);
	lockdep_reset();
	run_one(take_a_then_b, NULL, &res);
	run_one(take_b_then_a, replay, &res);
	ck_assert_uint_eq(lockdep_nr_reports(), 1);
	ck_assert(lockdep_report(0, &kind, text, sizeof(text), sched, sizeof(sched)));
	ck_assert_int_eq(kind, LOCKDEP_CYCLE);
	ck_assert_str_eq(sched, replay);
}
END_TEST

START_TEST(test_trylock_adds_no_order)
{
	struct sched_result res;

	run_one(take_a_then_b, NULL, &res);
	run_one(take_b_then_try_a, NULL, &res);
	ck_assert_uint_eq(lockdep_nr_reports(), 0);
	/* The order A -> B is still known: the real inversion is reported. */
	run_one(take_b_then_a, NULL, &res);
	harness_expect_lockdep(LOCKDEP_CYCLE, 1);
	ck_assert_uint_eq(lockdep_nr_reports(), 1);
}
END_TEST

static __attribute__((noinline)) long read_x_then_y(void *arg)
{
	down_read(&sem_x);
	down_read(&sem_y);
	up_read(&sem_y);
	up_read(&sem_x);
	return 0;
}

static __attribute__((noinline)) long read_y_then_x(void *arg)
{
	down_read(&sem_y);
	down_read(&sem_x);
	up_read(&sem_x);
	up_read(&sem_y);
	return 0;
}

/*
 * down_read() is a non-recursive read (lockdep read=1): with a writer
 * queued on each rwsem (writer preference), X(read) -> Y(read) against
 * Y(read) -> X(read) deadlocks, and lockdep reports the cycle.
 */
START_TEST(test_rwsem_read_read_inversion_is_a_cycle)
{
	static char text[2048];
	enum lockdep_report_kind kind;
	struct sched_result res;

	run_one(read_x_then_y, NULL, &res);
	run_one(read_y_then_x, NULL, &res);
	harness_expect_lockdep(LOCKDEP_CYCLE, 1);
	ck_assert_uint_eq(lockdep_nr_reports(), 1);
	ck_assert(lockdep_report(0, &kind, text, sizeof(text), NULL, 0));
	ck_assert_int_eq(kind, LOCKDEP_CYCLE);
	ck_assert_ptr_nonnull(strstr(text, "test_sem_x (read)"));
	ck_assert_ptr_nonnull(strstr(text, "read_x_then_y"));
	ck_assert_ptr_nonnull(strstr(text, "read_y_then_x"));
}
END_TEST

static struct mm_struct *spin_mm;

static __attribute__((noinline)) long mutex_under_spinlock(void *arg)
{
	spin_lock(&spin_mm->page_table_lock);
	mutex_lock(&lock_a);
	mutex_unlock(&lock_a);
	spin_unlock(&spin_mm->page_table_lock);
	return 0;
}

START_TEST(test_mutex_taken_under_spinlock_is_reported)
{
	static char text[2048];
	enum lockdep_report_kind kind;
	struct sched_result res;

	spin_mm = tm_mm("vmm");
	run_one(mutex_under_spinlock, NULL, &res);
	harness_expect_lockdep(LOCKDEP_SLEEP_IN_ATOMIC, 1);
	ck_assert_uint_eq(lockdep_nr_reports(), 1);
	ck_assert(lockdep_report(0, &kind, text, sizeof(text), NULL, 0));
	printf("# %s\n", text);
	ck_assert_int_eq(kind, LOCKDEP_SLEEP_IN_ATOMIC);
	ck_assert_ptr_nonnull(strstr(text, "takes test_lock_a in mutex_under_spinlock"));
	ck_assert_ptr_nonnull(strstr(text, "holding page_table_lock"));
	ck_assert(!has_host_pointer(text));
	set_current(NULL);
	mmput(spin_mm);
}
END_TEST

static spinlock_t test_spin = __SPIN_LOCK_UNLOCKED;

static long lock_and_leave(void *arg)
{
	mutex_lock(&lock_a);
	spin_lock(&test_spin);
	return 0;
}

static __attribute__((noinline)) long release_others_locks(void *arg)
{
	spin_unlock(&test_spin);
	mutex_unlock(&lock_a);
	return 0;
}

START_TEST(test_release_of_a_lock_not_held_is_reported)
{
	static char text[2048], sched[64];
	struct sched_thread t[2] = {
		{ .name = "holder", .fn = lock_and_leave },
		{ .name = "releaser", .fn = release_others_locks },
	};
	enum lockdep_report_kind kind;
	struct sched_strategy s;
	struct sched_result res;

	sched_strategy_init(&s);
	ck_assert_int_eq(sched_run(t, 2, &s, &res), 0);
	ck_assert_int_eq(res.status, SCHED_DONE);
	harness_expect_lockdep(LOCKDEP_BAD_UNLOCK, 2);
	ck_assert_uint_eq(lockdep_nr_reports(), 2);
	ck_assert(lockdep_report(0, &kind, text, sizeof(text), sched, sizeof(sched)));
	printf("# %s\n", text);
	ck_assert_int_eq(kind, LOCKDEP_BAD_UNLOCK);
	ck_assert_ptr_nonnull(strstr(text, "task releaser releases page_table_lock in "
					   "release_others_locks"));
	ck_assert(lockdep_report(1, &kind, text, sizeof(text), sched, sizeof(sched)));
	ck_assert_int_eq(kind, LOCKDEP_BAD_UNLOCK);
	ck_assert_ptr_nonnull(strstr(text, "releases test_lock_a in release_others_locks"));
	ck_assert(!has_host_pointer(text));
}
END_TEST

static spinlock_t many[LOCKDEP_MAX_DEPTH + 2];

static long hold_too_many(void *arg)
{
	for (int i = 0; i < LOCKDEP_MAX_DEPTH + 2; i++)
		spin_lock(&many[i]);
	for (int i = LOCKDEP_MAX_DEPTH + 1; i >= 0; i--)
		spin_unlock(&many[i]);
	return 0;
}

START_TEST(test_held_stack_overflow_is_reported_once)
{
	enum lockdep_report_kind kind;
	struct sched_result res;

	run_one(hold_too_many, NULL, &res);
	run_one(hold_too_many, NULL, &res);
	harness_expect_lockdep(LOCKDEP_DEPTH, 1);
	ck_assert_uint_eq(lockdep_nr_reports(), 1);
	ck_assert(lockdep_report(0, &kind, NULL, 0, NULL, 0));
	ck_assert_int_eq(kind, LOCKDEP_DEPTH);
}
END_TEST

START_TEST(test_off_records_nothing_and_default_skips_uncontrolled_code)
{
	struct sched_result res;
	struct mm_struct *mm = tm_mm("vmm");

	lockdep_set_mode(LOCKDEP_OFF);
	run_one(take_a_then_b, NULL, &res);
	run_one(take_b_then_a, NULL, &res);
	ck_assert_uint_eq(lockdep_nr_reports(), 0);

	/* Default: outside a controlled run, nothing is recorded either. */
	lockdep_set_mode(LOCKDEP_SCHED);
	take_a_then_b(NULL);
	take_b_then_a(NULL);
	ck_assert_uint_eq(lockdep_nr_reports(), 0);

	/* Always: the same calls on the test's own thread are checked. */
	lockdep_set_mode(LOCKDEP_ALWAYS);
	harness_expect_lockdep(LOCKDEP_CYCLE, 1);
	take_a_then_b(NULL);
	take_b_then_a(NULL);
	ck_assert_uint_eq(lockdep_nr_reports(), 1);
	lockdep_set_mode(LOCKDEP_SCHED);
	set_current(NULL);
	mmput(mm);
}
END_TEST

static struct mm_struct *fault_mm;

static long map_and_fault(void *arg)
{
	unsigned long va = vm_mmap(fault_mm, NULL, 0, 2 * MiB, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, 0);
	struct vm_area_struct *vma;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	if (IS_ERR_VALUE(va))
		return (long)va;
	mmap_read_lock(fault_mm);
	vma = vma_lookup(fault_mm, va);
	if (vma)
		ret = handle_mm_fault(vma, va, FAULT_FLAG_WRITE);
	mmap_read_unlock(fault_mm);
	vm_munmap(fault_mm, va, 2 * MiB);
	return ret & VM_FAULT_ERROR ? -EFAULT : 0;
}

/* The simulated kernel's own locks are classes: a fault orders mmap_lock before ptlock. */
START_TEST(test_the_fault_path_records_mmap_lock_before_the_pte_lock)
{
	struct sched_thread t[1] = { { .name = "toucher", .fn = map_and_fault } };
	struct sched_strategy s;
	struct sched_result res;

	fault_mm = tm_mm("vmm");
	t[0].mm = fault_mm;
	sched_strategy_init(&s);
	ck_assert_int_eq(sched_run(t, 1, &s, &res), 0);
	ck_assert_int_eq(res.status, SCHED_DONE);
	ck_assert_int_eq(t[0].ret, 0);
	ck_assert(lockdep_order_known("mmap_lock", "ptlock"));
	ck_assert(!lockdep_order_known("ptlock", "mmap_lock"));
	ck_assert_uint_eq(lockdep_nr_reports(), 0);
	set_current(NULL);
	mmput(fault_mm);
}
END_TEST

/*
 * The VFIO pin path of the walker x pinner world (tests/race_world.h), one
 * default run: vfio_dma_do_map() holds iommu->lock ("vfio_iommu") while
 * vaddr_get_pfns() takes mmap_lock, whose fault path takes the PTE and PMD
 * locks; the numa_maps reader takes mmap_lock, then the page-table locks.
 * The checker sees the simulated kernel's own locks, in the kernel's order,
 * and reports nothing.
 */
START_TEST(test_the_vfio_pin_path_orders_iommu_lock_before_mmap_lock_before_ptlock)
{
	static struct race_world w = {
		.cfg = { "6.12.118", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY,
			 .map_size = 16 * KiB },
	};
	struct sched_thread t[SCHED_MAX_THREADS] = { 0 };
	static char graph[4096];
	int n;

	lockdep_reset();
	n = race_world_setup(&w, t);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(race_world_replay(&w, t, n, ""), 0);
	lockdep_graph(graph, sizeof(graph));
	for (char *line = strtok(graph, "\n"); line; line = strtok(NULL, "\n"))
		printf("# order: %s\n", line);
	ck_assert(lockdep_order_known("vfio_iommu", "mmap_lock"));
	ck_assert(!lockdep_order_known("mmap_lock", "vfio_iommu"));
	ck_assert_uint_eq(lockdep_nr_reports(), 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("lockdep");
	TCase *tc = tcase_create("lockdep");

	tcase_add_checked_fixture(tc, ld_setup, ld_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_order_inverted_across_two_runs_is_reported_with_both_functions);
	tcase_add_test(tc, test_trylock_adds_no_order);
	tcase_add_test(tc, test_rwsem_read_read_inversion_is_a_cycle);
	tcase_add_test(tc, test_mutex_taken_under_spinlock_is_reported);
	tcase_add_test(tc, test_release_of_a_lock_not_held_is_reported);
	tcase_add_test(tc, test_held_stack_overflow_is_reported_once);
	tcase_add_test(tc, test_off_records_nothing_and_default_skips_uncontrolled_code);
	tcase_add_test(tc, test_the_fault_path_records_mmap_lock_before_the_pte_lock);

	/* A world with its own machine (race_world_setup()). */
	tc = tcase_create("world");
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_the_vfio_pin_path_orders_iommu_lock_before_mmap_lock_before_ptlock);
	return s;
}
