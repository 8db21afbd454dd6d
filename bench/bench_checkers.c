// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_lockdep: what the lock-order checker (sim/lockdep.h, issue 15)
 * costs a controlled run.  Two workloads, each timed with the checker on
 * (LOCKDEP_SCHED, the default) and off (LOCKDEP_OFF), in interleaved
 * rounds (on/off, then off/on, ...) so that drift on a loaded machine hits
 * both alike:
 *
 *  1. explore: the bounded exhaustive search of the walker x pinner world
 *     (tests/test_explore.c, 6.12.118, fixed walker, LEGACY), the whole
 *     space -e times per round: schedules/second, world setup included.
 *  2. locks: one controlled run of two threads that each map, fault and
 *     unmap anonymous memory in a loop (mmap_lock, page_table_lock, PTE
 *     locks, no setup in the timing): runs/second.
 *  3. ops: the checker's price per lock operation, without the scheduler.
 *
 * Printed: the median rate of each mode, and the cost (1 - on/off) as the
 * median of the rounds' ratios with their min and max (the spread), per
 * wall-clock second and per CPU second of the process (all its threads;
 * steadier on a loaded machine).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "lockdep.h"
#include "race_world.h"
#include "bench_clock.h"

#define KiB (1ULL << 10)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of every thread of the process: less at the mercy of the load. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The CPU-time rate of the last measurement (explore_rate(), locks_rate()). */
static double last_cpu_rate;

/* ---- 1: the explore search ---- */

static struct race_world W;

static int b_setup(void *ctx, struct sched_thread *t)
{
	return race_world_setup(&W, t);
}

static bool b_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	return true;
}

static void b_teardown(void *ctx)
{
	race_world_teardown(&W);
}

/* The whole bounded space, @reps times over. */
static double explore_rate(int reps)
{
	static const struct sched_explore_ops ops = { b_setup, b_check, b_teardown };
	struct sched_explore_stats st;
	unsigned long schedules = 0;
	double t0 = now_s(), c0 = cpu_s();

	W.cfg = (struct race_world_cfg){ "6.12.118", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY,
					 false, false, .map_size = 16 * KiB };
	for (int i = 0; i < reps; i++) {
		if (sched_explore(&ops, NULL, SCHED_RACE_POINTS, 2, 0, 100000, &st) ||
		    !st.complete)
			return 0;
		schedules += st.schedules;
	}
	last_cpu_rate = schedules / (cpu_s() - c0);
	return schedules / (now_s() - t0);
}

/* ---- 2: lock-heavy controlled runs on one machine ---- */

static struct mm_struct *L_mm;
static int L_iters = 64;

static long map_fault_unmap(void *arg)
{
	for (int i = 0; i < L_iters; i++) {
		unsigned long va = vm_mmap(L_mm, NULL, 0, 64 * KiB, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, 0);
		struct vm_area_struct *vma;

		if (IS_ERR_VALUE(va))
			return -1;
		mmap_read_lock(L_mm);
		vma = vma_lookup(L_mm, va);
		for (unsigned long a = va; vma && a < va + 64 * KiB; a += PAGE_SIZE)
			handle_mm_fault(vma, a, FAULT_FLAG_WRITE);
		mmap_read_unlock(L_mm);
		sched_point(SP_PIN_BETWEEN_RUNS, NULL, 0);
		vm_munmap(L_mm, va, 64 * KiB);
	}
	return 0;
}

static double locks_rate(int runs)
{
	struct sched_thread t[2];
	struct sched_strategy s;
	struct sched_result *res = malloc(sizeof(*res));
	double t0 = now_s(), c0 = cpu_s();

	if (!res)
		return 0;
	sched_strategy_init(&s);
	s.kind = SCHED_PCT;
	for (int r = 0; r < runs; r++) {
		s.seed = (uint64_t)r + 1;
		t[0] = (struct sched_thread){ .name = "a", .mm = L_mm, .fn = map_fault_unmap };
		t[1] = (struct sched_thread){ .name = "b", .mm = L_mm, .fn = map_fault_unmap };
		if (sched_run(t, 2, &s, res) || res->status != SCHED_DONE || t[0].ret || t[1].ret) {
			free(res);
			return 0;
		}
	}
	free(res);
	last_cpu_rate = runs / (cpu_s() - c0);
	return runs / (now_s() - t0);
}

/*
 * ---- 3: the checker's own price per lock operation ----
 * One thread, no scheduler: an mmap read lock and the mm's page_table_lock
 * inside it (one dependency, known after the first pass), taken and
 * released @n times, LOCKDEP_ALWAYS against LOCKDEP_OFF: ns per pair.
 */
static double ns_per_pair(bool checker, long n)
{
	double t0;

	lockdep_set_mode(checker ? LOCKDEP_ALWAYS : LOCKDEP_OFF);
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		mmap_read_lock(L_mm);
		spin_lock(&L_mm->page_table_lock);
		spin_unlock(&L_mm->page_table_lock);
		mmap_read_unlock(L_mm);
	}
	return (now_s() - t0) * 1e9 / n;
}

/* ---- interleaved rounds ---- */

static void report(const char *what, const char *unit, double *on, double *off, int rounds)
{
	double cost[64];

	for (int i = 0; i < rounds; i++)
		cost[i] = off[i] > 0 ? 1 - on[i] / off[i] : 0;
	qsort(cost, rounds, sizeof(cost[0]), cmp_double);
	printf("%s: on %.0f %s/s, off %.0f %s/s (medians of %d rounds); checker cost %.1f%% "
	       "(median of round ratios; min %.1f%%, max %.1f%%)\n",
	       what, median_double(on, rounds), unit, median_double(off, rounds), unit, rounds,
	       100 * cost[rounds / 2], 100 * cost[0], 100 * cost[rounds - 1]);
}

int main(int argc, char **argv)
{
	int rounds = 11, runs = 40, reps = 5, c;
	long ops = 200000;
	int aa = -1;	/* -a on|off: an A/A run, both columns in one mode (the noise floor) */
	double on[3][64], off[3][64], con[2][64], coff[2][64];
	struct machine_config mc;
	struct machine *m;

	while ((c = getopt(argc, argv, "r:n:e:o:a:")) != -1) {
		if (c == 'r')
			rounds = atoi(optarg);
		else if (c == 'n')
			runs = atoi(optarg);
		else if (c == 'e')
			reps = atoi(optarg);
		else if (c == 'o')
			ops = atol(optarg);
		else if (c == 'a')
			aa = !strcmp(optarg, "on");
	}
	if (rounds < 1 || rounds > 64 || runs < 1 || reps < 1) {
		fprintf(stderr, "usage: bench_lockdep [-r rounds (1..64)] [-n runs] [-e explore reps] [-o lock pairs (0: none)] [-a on|off]\n");
		return 2;
	}
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 2; k++) {
			bool checker = (r + k) % 2 == 0;

			lockdep_set_mode((aa < 0 ? checker : aa) ? LOCKDEP_SCHED : LOCKDEP_OFF);
			(checker ? on : off)[0][r] = explore_rate(reps);
			(checker ? con : coff)[0][r] = last_cpu_rate;
		}
	}
	machine_config_init(&mc);
	mc.ram_bytes = 1ULL << 30;
	if (machine_create(&mc, &m)) {
		fprintf(stderr, "bench_lockdep: no machine\n");
		return 1;
	}
	L_mm = mm_alloc("bench");
	for (int r = 0; r < rounds && L_mm; r++) {
		for (int k = 0; k < 2; k++) {
			bool checker = (r + k) % 2 == 0;

			lockdep_set_mode((aa < 0 ? checker : aa) ? LOCKDEP_SCHED : LOCKDEP_OFF);
			(checker ? on : off)[1][r] = locks_rate(runs);
			(checker ? con : coff)[1][r] = last_cpu_rate;
		}
	}
	for (int r = 0; r < rounds && L_mm; r++) {
		for (int k = 0; k < 2; k++) {
			bool checker = (r + k) % 2 == 0;

			(checker ? on : off)[2][r] = ops ? ns_per_pair(checker, ops) : 0;
		}
	}
	lockdep_set_mode(LOCKDEP_SCHED);
	report("explore (walker x pinner, 6.12.118), wall", "schedules", on[0], off[0], rounds);
	report("explore (walker x pinner, 6.12.118), CPU", "schedules", con[0], coff[0], rounds);
	report("locks (2 threads x 64 map/fault/unmap), wall", "runs", on[1], off[1], rounds);
	report("locks (2 threads x 64 map/fault/unmap), CPU", "runs", con[1], coff[1], rounds);
	printf("ops (mmap_lock read + page_table_lock, one thread): on %.1f ns, off %.1f ns "
	       "per pair (medians of %d rounds)\n", median_double(on[2], rounds), median_double(off[2], rounds),
	       rounds);
	printf("checker reports: %u\n", lockdep_nr_reports());
	if (L_mm)
		mmput(L_mm);
	machine_destroy(m);
	return lockdep_nr_reports() ? 1 : 0;
}
