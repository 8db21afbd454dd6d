// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_race: how fast pinsim reproduces seeds/01 (issue 5).
 *
 *  1. With the deterministic scheduler: the schedule found by the search,
 *     replayed — time of one controlled execution, world setup included.
 *  2. With free-running threads (a numa_maps reader in a loop, VFIO
 *     MAP/UNMAP of the BAR in a loop) and a random injector refaulting at
 *     the walker's split point with probability p: time to the first oops.
 *  3. Schedules explored per second by the bounded exhaustive search.
 *  4. The search with and without sleep sets (issue 15): executions,
 *     distinct outcomes and schedules/second per scenario (-e: only this).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "race_world.h"
#include "bench_clock.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- 1 and 3: the search, then replays ---- */

static struct race_world W;

static int b_setup(void *ctx, struct sched_thread *t)
{
	return race_world_setup(&W, t);
}

static bool b_check_find(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	return !sim_oops_count();
}

static bool b_check_all(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	return true;
}

static void b_teardown(void *ctx)
{
	race_world_teardown(&W);
}

static void bench_deterministic(int runs)
{
	static const struct sched_explore_ops find = { b_setup, b_check_find, b_teardown };
	struct sched_thread t[SCHED_MAX_THREADS];
	struct sched_explore_stats st;
	struct sched_strategy s;
	struct sched_result res;
	double run[256], total[256];

	W.cfg = (struct race_world_cfg){ "6.12.74", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY, false, false, .map_size = 0 };
	sched_explore(&find, NULL, SCHED_RACE_POINTS, 2, 0, 100000, &st);
	if (!st.bug_found) {
		printf("deterministic: the search did not find the oops\n");
		return;
	}
	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.schedule = st.bug.schedule;
	for (int i = 0; i < runs; i++) {
		double t0 = now_s(), t1;
		int n = race_world_setup(&W, t);

		t1 = now_s();
		sched_run(t, n, &s, &res);
		run[i] = now_s() - t1;
		total[i] = now_s() - t0;
		if (!sim_oops_count())
			printf("replay %d did not reproduce!\n", i);
		race_world_teardown(&W);
	}
	printf("deterministic reproduction (schedule %s, found after %lu schedules): "
	       "median %.1f us per controlled run, %.1f us with world setup (target < 1 ms)\n",
	       st.bug.schedule, st.schedules, median_double(run, runs) * 1e6, median_double(total, runs) * 1e6);
}

static void bench_explore_rate(void)
{
	static const struct sched_explore_ops all = { b_setup, b_check_all, b_teardown };
	struct sched_explore_stats st;
	double t0;

	W.cfg = (struct race_world_cfg){ "upstream", PMD_ORDER, 64ULL << 20, VFIO_RETRY_LEGACY, false, false, .map_size = 0 };
	t0 = now_s();
	sched_explore(&all, NULL, SCHED_RACE_POINTS, 2, 0, 100000, &st);
	printf("exhaustive search (fixed walker, PMD BAR, bound 2): %lu schedules in %.2f s, "
	       "%.0f schedules/s\n", st.schedules, now_s() - t0, st.schedules / (now_s() - t0));
	W.cfg = (struct race_world_cfg){ "upstream", PUD_ORDER, 2ULL << 30, VFIO_RETRY_LEGACY, false, false, .map_size = 0 };
	t0 = now_s();
	sched_explore(&all, NULL, SCHED_RACE_POINTS, 2, 0, 100000, &st);
	printf("exhaustive search (fixed walker, 2 GiB PUD BAR, bound 2): %lu schedules in %.2f s, "
	       "%.0f schedules/s\n", st.schedules, now_s() - t0, st.schedules / (now_s() - t0));
}

/* ---- 4: the search with and without partial-order reduction ---- */

static unsigned int nr_outcomes;
static char outcomes[64][96];

/* An outcome: how the run ended and what each thread returned (>0 as 1). */
static bool b_check_collect(void *ctx, struct sched_thread *t, int n,
			    const struct sched_result *r)
{
	char key[96];
	int off = snprintf(key, sizeof(key), "%d %d %u:", r->status, sim_oops_count() > 0,
			   race_world_nr_dmas(&W));

	for (int i = 0; i < n && off < (int)sizeof(key); i++)
		off += snprintf(key + off, sizeof(key) - (size_t)off, " %ld",
				t[i].ret > 0 ? 1 : t[i].ret);
	for (unsigned int i = 0; i < nr_outcomes; i++)
		if (!strcmp(outcomes[i], key))
			return true;
	if (nr_outcomes < 64)
		snprintf(outcomes[nr_outcomes++], sizeof(outcomes[0]), "%s", key);
	return true;
}

struct por_scenario {
	const char *name;
	struct race_world_cfg cfg;
	unsigned int bound;
};

static void bench_reduction(void)
{
	static const struct sched_explore_ops collect = { b_setup, b_check_collect, b_teardown };
	static const struct por_scenario sc[] = {
		{ "6.12.118 PUD legacy", { "6.12.118", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY,
					   .map_size = 16 << 10 }, 2 },
		{ "upstream PUD eagain", { "upstream", PUD_ORDER, 1ULL << 30, VFIO_RETRY_EAGAIN,
					   .map_size = 16 << 10 }, 2 },
		{ "6.12.74 PMD legacy", { "6.12.74", PMD_ORDER, 4ULL << 20, VFIO_RETRY_LEGACY,
					  .map_size = 16 << 10 }, 2 },
		{ "6.12.74 PUD legacy (oops)", { "6.12.74", PUD_ORDER, 1ULL << 30,
						 VFIO_RETRY_LEGACY, .map_size = 16 << 10 }, 2 },
		{ "6.12.118 PUD +munmap+reader", { "6.12.118", PUD_ORDER, 1ULL << 30,
						   VFIO_RETRY_LEGACY, .hang_threads = true,
						   .map_size = 16 << 10 }, 1 },
		{ "upstream PUD +munmap+reader", { "upstream", PUD_ORDER, 1ULL << 30,
						   VFIO_RETRY_LEGACY, .hang_threads = true,
						   .map_size = 16 << 10 }, 2 },
	};

	static char plain[64][96];
	unsigned int nr_plain = 0;
	unsigned long plain_runs = 0;

	printf("search with and without sleep sets (SCHED_RACE_POINTS; executions = checked + pruned):\n");
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		for (int por = 0; por <= 1; por++) {
			struct sched_explore_opts o = { .points = SCHED_RACE_POINTS,
							.preemption_bound = sc[i].bound,
							.step_budget = 100000, .por = por };
			struct sched_explore_stats st;
			double t0, dt;

			W.cfg = sc[i].cfg;
			nr_outcomes = 0;
			t0 = now_s();
			sched_explore_ex(&collect, NULL, &o, &st);
			dt = now_s() - t0;
			printf("  %-30s bound %u %-10s %6lu executions (%lu pruned) %3u outcomes "
			       "%5.2f s %6.0f schedules/s %u pairs both orders%s%s\n",
			       sc[i].name, sc[i].bound, por ? "sleep-sets" : "plain",
			       st.schedules + st.pruned, st.pruned, nr_outcomes, dt,
			       (st.schedules + st.pruned) / dt, sched_coverage_pairs(&st),
			       st.complete ? "" : " (incomplete)",
			       st.checker_report ? " (stopped: checker report)" : "");
			if (!por) {
				memcpy(plain, outcomes, sizeof(plain));
				nr_plain = nr_outcomes;
				plain_runs = st.schedules + st.pruned;
				continue;
			}
			/* The same outcome set, each plain outcome found again (issue 15). */
			{
				bool same = nr_plain == nr_outcomes;

				for (unsigned int k = 0; same && k < nr_plain; k++) {
					same = false;
					for (unsigned int j = 0; j < nr_outcomes; j++)
						same = same || !strcmp(plain[k], outcomes[j]);
				}
				printf("  %-30s reduction: %lu -> %lu executions (%.0f%% fewer), "
				       "outcome sets %s\n", "", plain_runs, st.schedules + st.pruned,
				       plain_runs ? 100.0 * (double)(plain_runs - (st.schedules + st.pruned)) /
							    (double)plain_runs : 0.0,
				       same ? "equal" : "DIFFER");
			}
			printf("  %-30s sleepers woken: unknown step (forced %lu, "
				       "overflow %lu, no object %lu), conflict %lu; %lu sleep skips; "
				       "bound rule: %lu weak sleepers (%lu cuts), %lu kept awake\n",
				       "", st.wake_unknown[SCHED_FP_FORCED],
				       st.wake_unknown[SCHED_FP_OVERFLOW],
				       st.wake_unknown[SCHED_FP_NO_OBJECT], st.wake_conflict,
				       st.sleep_skips, st.weak_sleeps, st.weak_cuts, st.bound_kept);
		}
	}
}

/* ---- 2: free-running threads and a random injector ---- */

static _Atomic bool stop;
static uint64_t rng;
static double probability;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* At the walker's split point, the pinner's refault happens with probability p. */
static void refault_maybe(enum sched_point_id id, struct mm_struct *mm, unsigned long addr,
			  void *priv)
{
	if ((double)(xorshift() % 1000000) / 1e6 >= probability)
		return;
	handle_mm_fault(vma_lookup(mm, addr), addr, FAULT_FLAG_REMOTE);
}

static void *free_reader(void *arg)
{
	char buf[2048];

	set_current(mm_thread_task(W.mm));
	while (!atomic_load(&stop) && sim_task_run(rw_numa_maps, &W) != -EOWNERDEAD)
		(void)buf;
	atomic_store(&stop, true);
	set_current(NULL);
	return NULL;
}

static void *free_pinner(void *arg)
{
	struct vfio_iommu_type1_dma_unmap um = { .argsz = sizeof(um), .flags =
							 VFIO_DMA_UNMAP_FLAG_ALL };

	set_current(mm_thread_task(W.mm));
	while (!atomic_load(&stop)) {
		rw_map_bar(&W);
		um.size = 0;
		race_world_ioctl(&W, VFIO_IOMMU_UNMAP_DMA, &um);
	}
	set_current(NULL);
	return NULL;
}

static void bench_free_running(int runs, uint64_t seed, double p)
{
	struct sched_thread t[SCHED_MAX_THREADS];
	double took[256];
	int found = 0;

	probability = p;
	for (int i = 0; i < runs; i++) {
		pthread_t r, w;
		double t0;

		W.cfg = (struct race_world_cfg){ "6.12.74", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY, false, false, .map_size = 0 };
		race_world_setup(&W, t);
		rng = seed + (uint64_t)i * 0x9e3779b97f4a7c15ull + 1;
		sched_point_arm(SP_WALK_PUD_AFTER_SPLIT, refault_maybe, NULL);
		atomic_store(&stop, false);
		t0 = now_s();
		pthread_create(&r, NULL, free_reader, NULL);
		pthread_create(&w, NULL, free_pinner, NULL);
		pthread_join(r, NULL);
		took[i] = now_s() - t0;
		pthread_join(w, NULL);
		found += sim_oops_count() > 0;
		race_world_teardown(&W);
	}
	printf("free-running reader + pinner + random refault (p=%.3f, seed=0x%llx): %d/%d reproduced, "
	       "median %.3f ms to the oops (target < 1 s)\n",
	       p, (unsigned long long)seed, found, runs, median_double(took, runs) * 1e3);
}

int main(int argc, char **argv)
{
	uint64_t seed = 0x5eedULL;
	double p = 0.01;
	int runs = 21, c;
	bool only_reduction = false;

	while ((c = getopt(argc, argv, "n:s:p:eh")) != -1) {
		switch (c) {
		case 'e':
			only_reduction = true;
			break;
		case 'n':
			runs = atoi(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			p = atof(optarg);
			break;
		default:
			printf("usage: bench_race [-n runs] [-s seed] [-p probability] [-e]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (runs < 1 || runs > 256 || p <= 0 || p > 1) {
		fprintf(stderr, "bench_race: -n 1..256, -p in (0, 1]\n");
		return 2;
	}
	if (only_reduction) {
		bench_reduction();
		return 0;
	}
	bench_deterministic(runs);
	bench_free_running(runs, seed, p);
	bench_explore_rate();
	bench_reduction();
	return 0;
}
