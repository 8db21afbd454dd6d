// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_checkers: what the checkers of issue 15 cost a controlled run,
 * together and by family, against a run with all of them off:
 *
 *   off       LOCKDEP_OFF   + CHECKER_OFF
 *   lockdep   LOCKDEP_SCHED + CHECKER_OFF    (sim/lockdep.h, lock order)
 *   checkers  LOCKDEP_OFF   + CHECKER_SCHED  (sim/checker.h: walk-repeat,
 *             numa-maps-count, dma-unpinned, dma-coherency, locked-vm and
 *             whatever else checker_set_mode() switches, e.g. a pin-leak
 *             scan at teardown)
 *   all       LOCKDEP_SCHED + CHECKER_SCHED  (the default of every run)
 *
 * Only the modes are toggled, never the checkers' code.  Workloads:
 *
 *  1. walker x pinner: the bounded exhaustive search of the seeds' world
 *     (tests/race_world.h: numa_maps against MAP_DMA of a BAR, 6.12.118,
 *     LEGACY, bound 2), the whole space -e times: schedules/second, world
 *     setup and teardown included.
 *  2. walker x discard x pinner: tests/test_discard_explore.c's world
 *     (4K anonymous guest RAM, a walk and numa_maps, MADV_DONTNEED of two
 *     pages, MAP_DMA of all, bound 2, + SP_MADV_DONTNEED_ZAP), after each
 *     execution a device write to every page (the coherency check's
 *     bookkeeping and its reports for the pages pinned before their zap),
 *     then the container's release (locked-vm) and the machine's teardown:
 *     schedules/second.
 *  3. locks: one controlled run of two threads that map, fault and unmap
 *     anonymous memory in a loop (mmap_lock, page_table_lock, PTE locks;
 *     no setup in the timing): runs/second.
 *  4. ops: lockdep's price per lock operation, without the scheduler.
 *
 * Rounds are interleaved: each round runs the four modes once, in an order
 * rotated from round to round and reversed every other round, so that
 * drift on a loaded machine hits every mode alike.  Printed: the median
 * rate of each mode, and each family's cost (1 - mode/off) as the median
 * of the rounds' ratios with their min and max (the spread), per CPU
 * second of the process (all its threads; steadier on a loaded machine)
 * and per wall-clock second.  Target (issue 15): under 20 % for "all".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "checker.h"
#include "iommu.h"
#include "lockdep.h"
#include "pagewalk.h"
#include "race_world.h"
#include "bench_clock.h"

#define KiB (1ULL << 10)
#define MAX_ROUNDS 64

enum mode { M_OFF, M_LOCKDEP, M_CHECKERS, M_ALL, NR_MODES };

static const char *const mode_name[NR_MODES] = { "off", "lockdep", "checkers", "all" };

static void set_mode(enum mode m)
{
	lockdep_set_mode(m == M_LOCKDEP || m == M_ALL ? LOCKDEP_SCHED : LOCKDEP_OFF);
	checker_set_mode(m == M_CHECKERS || m == M_ALL ? CHECKER_SCHED : CHECKER_OFF);
}

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

/* One measurement: work done per wall and per CPU second (0: it failed). */
struct rate {
	double wall, cpu;
};

static struct rate rate_of(unsigned long work, double t0, double c0)
{
	return (struct rate){ work / (now_s() - t0), work / (cpu_s() - c0) };
}

static const struct rate failed;

/* ---- 1: walker x pinner ---- */

static struct race_world W;

static int wp_setup(void *ctx, struct sched_thread *t)
{
	return race_world_setup(&W, t);
}

static bool wp_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	return true;
}

static void wp_teardown(void *ctx)
{
	race_world_teardown(&W);
}

/* The whole bounded space, @reps times over. */
static struct rate walker_pinner(int reps)
{
	static const struct sched_explore_ops ops = { wp_setup, wp_check, wp_teardown };
	struct sched_explore_stats st;
	unsigned long schedules = 0;
	double t0 = now_s(), c0 = cpu_s();

	W.cfg = (struct race_world_cfg){ "6.12.118", PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY,
					 false, false, .map_size = 16 * KiB };
	for (int i = 0; i < reps; i++) {
		if (sched_explore(&ops, NULL, SCHED_RACE_POINTS, 2, 0, 100000, &st) ||
		    !st.complete)
			return failed;
		schedules += st.schedules;
	}
	return rate_of(schedules, t0, c0);
}

/* ---- 2: walker x discard x pinner ---- */

#define DX_VA 0x7e0000000000UL
#define DX_IOVA 0x100000000ULL
#define DX_LEN (4 * PAGE_SIZE)

static struct {
	struct machine *m;
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	void *iommu;
	char numa[2048];
	unsigned long failures;
} D;

static int dx_count(pte_t *pte, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	return 0;
}

static long dx_walker(void *arg)
{
	const struct mm_walk_ops ops = { .pte_entry = dx_count, .walk_lock = PGWALK_RDLOCK };
	long ret;

	mmap_read_lock(D.mm);
	ret = walk_page_range(D.mm, DX_VA, DX_VA + DX_LEN, &ops, NULL);
	mmap_read_unlock(D.mm);
	return ret ? ret : numa_maps_read(D.mm, D.numa, sizeof(D.numa));
}

static long dx_discard(void *arg)
{
	return do_madvise(D.mm, DX_VA + PAGE_SIZE, 2 * PAGE_SIZE, MADV_DONTNEED);
}

static long dx_pin(void *arg)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = DX_VA,
		.iova = DX_IOVA,
		.size = DX_LEN,
	};

	return vfio_iommu_type1_rewrite.ioctl(D.iommu, VFIO_IOMMU_MAP_DMA, &map);
}

static int dx_setup(void *ctx, struct sched_thread *t)
{
	uint64_t bars[PCI_STD_NUM_BARS] = { 64 * KiB };
	struct machine_config mc;

	if (kernel_profile_configs("6.12.118", &mc, &vfio_type1_cfg))
		abort();
	mc.ram_bytes = 1ULL << 30;
	if (machine_create(&mc, &D.m) || vfio_pci_device_create("gpu", bars, &D.vdev))
		abort();
	D.mm = mm_alloc("vmm");
	set_current(D.mm->owner);
	atomic_store(&D.mm->owner->signal->rlim_memlock, 1ULL << 30);
	if (vm_mmap(D.mm, NULL, DX_VA, DX_LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0) != DX_VA)
		abort();
	/* The guest wrote its RAM: every page present. */
	for (unsigned long a = DX_VA; a < DX_VA + DX_LEN; a += PAGE_SIZE) {
		mmap_read_lock(D.mm);
		if (fixup_user_fault(D.mm, a, FAULT_FLAG_WRITE, NULL))
			abort();
		mmap_read_unlock(D.mm);
	}
	if (vfio_iommu_type1_rewrite.open(VFIO_TYPE1v2_IOMMU, &D.iommu) ||
	    vfio_iommu_type1_rewrite.attach_group(D.iommu, D.vdev->id, 0, false))
		abort();
	set_current(NULL);
	t[0] = (struct sched_thread){ .name = "numa_maps", .mm = D.mm, .fn = dx_walker };
	t[1] = (struct sched_thread){ .name = "balloon", .mm = D.mm, .fn = dx_discard };
	t[2] = (struct sched_thread){ .name = "vfio", .mm = D.mm, .fn = dx_pin };
	return 3;
}

/* The device writes every page (the DMA checks); a failed DMA is counted. */
static bool dx_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct iommu_domain *d = vfio_iommu_type1_rewrite.group_domain(D.iommu, D.vdev->id);

	if (r->status != SCHED_DONE || t[1].ret || t[2].ret || !d) {
		D.failures++;
		return true;
	}
	for (unsigned long off = 0; off < DX_LEN; off += PAGE_SIZE) {
		unsigned char b = 0x5a;

		if (iommu_dma_rw(d, DX_IOVA + off, &b, 1, true) != 1)
			D.failures++;
	}
	return true;
}

static void dx_teardown(void *ctx)
{
	set_current(D.mm->owner);
	vfio_iommu_type1_rewrite.release(D.iommu);	/* the container's last close */
	set_current(NULL);
	iommu_discard_notes_clear();
	machine_destroy(D.m);
	D.m = NULL;
}

static struct rate walker_discard_pinner(int reps)
{
	static const struct sched_explore_ops ops = { dx_setup, dx_check, dx_teardown };
	struct sched_explore_opts o = {
		.points = SCHED_RACE_POINTS | 1u << SP_MADV_DONTNEED_ZAP,
		.preemption_bound = 2,
		.step_budget = 100000,
		.collect_reports = true,	/* the coherency reports are expected */
	};
	struct sched_explore_stats st;
	unsigned long schedules = 0;
	double t0 = now_s(), c0 = cpu_s();

	for (int i = 0; i < reps; i++) {
		if (sched_explore_ex(&ops, NULL, &o, &st) || !st.complete)
			return failed;
		schedules += st.schedules;
	}
	return rate_of(schedules, t0, c0);
}

/* ---- 3: lock-heavy controlled runs on one machine ---- */

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

static struct rate locks(int runs)
{
	struct sched_thread t[2];
	struct sched_strategy s;
	struct sched_result *res = malloc(sizeof(*res));
	double t0 = now_s(), c0 = cpu_s();

	if (!res)
		return failed;
	sched_strategy_init(&s);
	s.kind = SCHED_PCT;
	for (int r = 0; r < runs; r++) {
		s.seed = (uint64_t)r + 1;
		t[0] = (struct sched_thread){ .name = "a", .mm = L_mm, .fn = map_fault_unmap };
		t[1] = (struct sched_thread){ .name = "b", .mm = L_mm, .fn = map_fault_unmap };
		if (sched_run(t, 2, &s, res) || res->status != SCHED_DONE || t[0].ret || t[1].ret) {
			free(res);
			return failed;
		}
	}
	free(res);
	return rate_of((unsigned long)runs, t0, c0);
}

/*
 * ---- 4: lockdep's own price per lock operation ----
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

struct workload {
	const char *name, *unit;
	struct rate (*run)(int n);
	int n;
	struct rate r[NR_MODES][MAX_ROUNDS];
};

static int aa = -1;	/* -a MODE: every column runs MODE (the noise floor) */

/* Round @round: the modes in a rotated order, reversed every other round. */
static bool measure(struct workload *w, int round)
{
	for (int k = 0; k < NR_MODES; k++) {
		int i = (round + k) % NR_MODES;
		enum mode m = round % 2 ? NR_MODES - 1 - i : i;

		set_mode(aa < 0 ? m : (enum mode)aa);
		w->r[m][round] = w->run(w->n);
		if (!w->r[m][round].cpu) {
			fprintf(stderr, "bench_checkers: %s failed (mode %s)\n", w->name,
				mode_name[m]);
			return false;
		}
	}
	return true;
}

/* The median, min and max over the rounds of 1 - mode/off. */
static void print_cost(const struct workload *w, enum mode m, bool cpu, int rounds)
{
	double cost[MAX_ROUNDS];

	for (int i = 0; i < rounds; i++) {
		double on = cpu ? w->r[m][i].cpu : w->r[m][i].wall;
		double off = cpu ? w->r[M_OFF][i].cpu : w->r[M_OFF][i].wall;

		cost[i] = 1 - on / off;
	}
	qsort(cost, rounds, sizeof(cost[0]), cmp_double);
	printf("  %-8s %5.1f%% [%.1f%%, %.1f%%]", mode_name[m], 100 * cost[rounds / 2],
	       100 * cost[0], 100 * cost[rounds - 1]);
}

static void report(const struct workload *w, int rounds)
{
	for (int cpu = 1; cpu >= 0; cpu--) {
		printf("%s, %s/%s s:", w->name, w->unit, cpu ? "CPU" : "wall");
		for (int m = 0; m < NR_MODES; m++) {
			double v[MAX_ROUNDS];

			for (int i = 0; i < rounds; i++)
				v[i] = cpu ? w->r[m][i].cpu : w->r[m][i].wall;
			printf(" %s %.0f", mode_name[m], median_double(v, rounds));
		}
		printf("\n  cost vs off, median [min, max] of %d round ratios:", rounds);
		for (int m = M_LOCKDEP; m < NR_MODES; m++)
			print_cost(w, m, cpu, rounds);
		printf("\n");
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_checkers [-r rounds (1..%d)] [-e walker x pinner reps] "
		"[-d discard reps] [-n lock runs] [-o lock pairs (0: none)] "
		"[-a off|lockdep|checkers|all]\n",
		MAX_ROUNDS);
}

static int parse_mode(const char *s)
{
	for (int m = 0; m < NR_MODES; m++)
		if (!strcmp(s, mode_name[m]))
			return m;
	return -2;
}

int main(int argc, char **argv)
{
	static struct workload wl[] = {
		{ .name = "walker x pinner (6.12.118, bound 2)", .unit = "schedules",
		  .run = walker_pinner, .n = 20 },
		{ .name = "walker x discard x pinner (4K, bound 2)", .unit = "schedules",
		  .run = walker_discard_pinner, .n = 6 },
		{ .name = "locks (2 threads x 64 map/fault/unmap)", .unit = "runs", .run = locks,
		  .n = 100 },
	};
	int rounds = 11, c;	/* about 100 s on 2 CPUs */
	long ops = 200000;
	double on[MAX_ROUNDS], off[MAX_ROUNDS];
	unsigned long reports[NR_CHECKERS];
	struct machine_config mc;
	struct machine *m;
	bool ok = true;

	while ((c = getopt(argc, argv, "r:e:d:n:o:a:")) != -1) {
		if (c == 'r')
			rounds = atoi(optarg);
		else if (c == 'e')
			wl[0].n = atoi(optarg);
		else if (c == 'd')
			wl[1].n = atoi(optarg);
		else if (c == 'n')
			wl[2].n = atoi(optarg);
		else if (c == 'o')
			ops = atol(optarg);
		else if (c == 'a')
			aa = parse_mode(optarg);
		else
			aa = -3;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || wl[0].n < 1 || wl[1].n < 1 || wl[2].n < 1 ||
	    aa < -1) {
		usage();
		return 2;
	}
	for (int r = 0; r < rounds && ok; r++)
		ok = measure(&wl[0], r) && measure(&wl[1], r);
	machine_config_init(&mc);
	mc.ram_bytes = 1ULL << 30;
	if (!ok || machine_create(&mc, &m)) {
		fprintf(stderr, "bench_checkers: %s\n", ok ? "no machine" : "a search failed");
		return 1;
	}
	L_mm = mm_alloc("bench");
	for (int r = 0; r < rounds && L_mm && ok; r++)
		ok = measure(&wl[2], r);
	for (int r = 0; r < rounds && L_mm && ops; r++) {
		for (int k = 0; k < 2; k++) {
			bool checker = (r + k) % 2 == 0;

			(checker ? on : off)[r] = ns_per_pair(checker, ops);
		}
	}
	set_mode(M_ALL);
	for (int k = 0; k < NR_CHECKERS; k++)
		reports[k] = checker_count(k);
	for (size_t i = 0; i < sizeof(wl) / sizeof(wl[0]); i++)
		report(&wl[i], rounds);
	if (ops)
		printf("ops (mmap_lock read + page_table_lock, one thread): lockdep on %.1f ns, "
		       "off %.1f ns per pair (medians of %d rounds)\n",
		       median_double(on, rounds), median_double(off, rounds), rounds);
	printf("reports: lockdep %u; checkers:", lockdep_nr_reports());
	for (int k = 0; k < NR_CHECKERS; k++)
		printf(" %s %lu", checker_name(k), reports[k]);
	printf(" (dma-coherency expected: the pages pinned before their zap)\n");
	if (D.failures)
		printf("walker x discard x pinner: %lu failed executions or DMAs\n", D.failures);
	if (L_mm)
		mmput(L_mm);
	machine_destroy(m);
	/* Any report but the expected coherency ones is a checker's false alarm. */
	for (int k = 0; k < NR_CHECKERS; k++)
		if (k != CHECK_DMA_COHERENCY && reports[k])
			ok = false;
	return ok && !lockdep_nr_reports() && !D.failures ? 0 : 1;
}
