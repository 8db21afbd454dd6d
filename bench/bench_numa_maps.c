// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_numa_maps: what a /proc/pid/numa_maps read costs (issue 3), as
 * medians over repeated reads.
 *
 *   - a 64 GiB (default) 4K anonymous mapping, every page faulted in: the
 *     walk visits every PTE under its table lock and looks up each page;
 *   - a 256 GiB (default) BAR mapped with 1G PUD leaves: each read splits,
 *     i.e. zaps, every leaf (checklist 51), so the leaves are faulted back
 *     before each timed read (not timed), and a read of the zapped VMA
 *     (only holes) is timed too;
 *   - the same BAR mapped with 2M PMD leaves (max_bar_fault_order = 9): the
 *     walk takes each PMD lock and counts nothing, the leaves stay;
 *   - the cost of a disarmed schedule point (one relaxed load and a
 *     predictable branch), in ns per call, against an empty loop.
 *
 * Uses the simulator's internals (sim/), so it links the internal archive.
 * `--anon-gib N`, `--bar-gib N` and `--runs N` change the sizes.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "machine.h"
#include "mm.h"
#include "sched_point.h"
#include "task_mmu.h"
#include "vfio_pci.h"

#define GiB (1ULL << 30)
#define ANON_VA 0x100000000000UL	/* 16 TiB: 1 GiB aligned, room for 64+ GiB */
#define BAR_VA 0x200000000000UL
#define TEXT_LEN 4096

static char text[TEXT_LEN];

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void die(const char *what, long err)
{
	fprintf(stderr, "bench_numa_maps: %s: %ld\n", what, err);
	exit(1);
}

static struct machine *machine_with(uint64_t ram, unsigned int bar_order)
{
	struct machine_config cfg;
	struct machine *m;
	int err;

	machine_config_init(&cfg);
	cfg.ram_bytes = ram;
	cfg.max_bar_fault_order = bar_order;
	err = machine_create(&cfg, &m);
	if (err)
		die("machine_create", err);
	return m;
}

/* bench_populate(), or the end of the benchmark. */
static void populate(struct mm_struct *mm, unsigned long va, uint64_t len, uint64_t step,
		     unsigned int flags)
{
	long err = bench_populate(mm, va, len, step, flags);

	if (err)
		die("populate", err);
}

static uint64_t timed_read(struct mm_struct *mm)
{
	uint64_t t0 = now_ns();
	long n = numa_maps_read(mm, text, sizeof(text));

	if (n <= 0)
		die("numa_maps_read", n);
	return now_ns() - t0;
}

static void bench_anon(unsigned int gib, int runs)
{
	uint64_t len = (uint64_t)gib * GiB, *t = calloc(runs, sizeof(*t));
	struct machine *m = machine_with(len + len / 4 + 4 * GiB, PUD_ORDER);
	struct mm_struct *mm = mm_alloc("bench");
	unsigned long va;
	uint64_t t0;

	set_current(mm->owner);
	va = vm_mmap(mm, NULL, ANON_VA, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, 0);
	if (IS_ERR_VALUE(va))
		die("mmap anon", (long)va);
	t0 = now_ns();
	populate(mm, va, len, PAGE_SIZE, FAULT_FLAG_WRITE);
	printf("anon 4K  %3u GiB: populate %.2f s (%lu faults)\n", gib,
	       (now_ns() - t0) / 1e9, (unsigned long)(len >> PAGE_SHIFT));
	for (int i = 0; i < runs; i++)
		t[i] = timed_read(mm);
	printf("anon 4K  %3u GiB: numa_maps read median %.3f ms (%.2f ns/page)  [%s]\n", gib,
	       median(t, runs) / 1e6, (double)median(t, runs) / (len >> PAGE_SHIFT),
	       strtok(text, "\n"));
	mmput(mm);
	machine_destroy(m);
	free(t);
}

static void bench_bar(unsigned int gib, int runs, unsigned int order)
{
	uint64_t len = (uint64_t)gib * GiB, step = PAGE_SIZE << order;
	uint64_t bars[PCI_STD_NUM_BARS] = { len };
	uint64_t *t = calloc(runs, sizeof(*t)), *t_empty = calloc(runs, sizeof(*t));
	struct machine *m = machine_with(4 * GiB, order);
	struct mm_struct *mm = mm_alloc("bench");
	const char *lvl = order == PUD_ORDER ? "PUD" : "PMD";
	struct vfio_pci_core_device *vdev;
	unsigned long va;
	int err;

	set_current(mm->owner);
	err = vfio_pci_device_create("bench", bars, &vdev);
	if (err)
		die("vfio_pci_device_create", err);
	va = vm_mmap(mm, &vdev->file, BAR_VA, len, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_FIXED, VFIO_PCI_INDEX_TO_OFFSET(0) >> PAGE_SHIFT);
	if (IS_ERR_VALUE(va))
		die("mmap BAR", (long)va);
	for (int i = 0; i < runs; i++) {
		/* PUD leaves do not survive a read: put them back, untimed. */
		if (i == 0 || order == PUD_ORDER)
			populate(mm, va, len, step, 0);
		t[i] = timed_read(mm);
		if (order == PUD_ORDER)
			t_empty[i] = timed_read(mm);
	}
	printf("BAR %s %3u GiB: numa_maps read median %.3f ms (%lu leaves, %.1f ns/leaf)\n",
	       lvl, gib, median(t, runs) / 1e6, (unsigned long)(len / step),
	       (double)median(t, runs) / (len / step));
	if (order == PUD_ORDER)
		printf("BAR PUD %3u GiB: read after the zap (holes only) median %.3f ms\n", gib,
		       median(t_empty, runs) / 1e6);
	mmput(mm);
	machine_destroy(m);
	free(t);
	free(t_empty);
}

/* Keeps the compiler from dropping or merging the loop bodies. */
#define BARRIER() __asm__ __volatile__("" ::: "memory")

static void bench_sched_point(int runs)
{
	const unsigned long iters = 100 * 1000 * 1000;
	uint64_t *t_point = calloc(runs, sizeof(uint64_t));
	uint64_t *t_empty = calloc(runs, sizeof(uint64_t));
	struct machine *m = machine_with(2 * GiB, PUD_ORDER);

	for (int r = 0; r < runs; r++) {
		uint64_t t0 = now_ns();

		for (unsigned long i = 0; i < iters; i++) {
			BARRIER();
		}
		t_empty[r] = now_ns() - t0;
		t0 = now_ns();
		for (unsigned long i = 0; i < iters; i++) {
			sched_point(SP_WALK_PMD_ENTRY, NULL, i);
			BARRIER();
		}
		t_point[r] = now_ns() - t0;
	}
	printf("sched_point disarmed: %.3f ns/call (empty loop %.3f ns/iter)\n",
	       (double)median(t_point, runs) / iters, (double)median(t_empty, runs) / iters);
	machine_destroy(m);
	free(t_point);
	free(t_empty);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "anon-gib", required_argument, NULL, 'a' },
		{ "bar-gib", required_argument, NULL, 'b' },
		{ "runs", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int anon_gib = 64, bar_gib = 256;
	int runs = 5, c;

	while ((c = getopt_long(argc, argv, "a:b:r:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			anon_gib = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			bar_gib = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [--anon-gib N] [--bar-gib N] [--runs N]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 1 || !bar_gib || (bar_gib & (bar_gib - 1))) {
		fprintf(stderr, "bench_numa_maps: runs >= 1, bar-gib a power of two\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (anon_gib)
		bench_anon(anon_gib, runs);
	bench_bar(bar_gib, runs, PUD_ORDER);
	bench_bar(bar_gib, runs, PMD_ORDER);
	bench_sched_point(runs);
	return 0;
}
