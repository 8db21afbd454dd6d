// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_ktree: the kernel tree's own code (-Dkernel_tree) against pinsim's
 * rewrite of it, on the same page tables, timed interleaved in one run:
 *
 *   - a numa_maps read (numa_maps_read(): the walker and the numa_maps
 *     callbacks, mm/pagewalk.c and fs/proc/task_mmu.c vs sim/pagewalk.c and
 *     sim/task_mmu.c) of a 4K anonymous mapping, of a BAR on 2M PMD leaves
 *     and of a BAR on 1G PUD leaves (each read splits those: they are
 *     faulted back, untimed, before every read);
 *   - follow_pfnmap_start()/_end() on every 2M leaf of the BAR (mm/memory.c
 *     vs lib/follow_pfnmap.c), the lookup VFIO does per pfnmap page.
 *
 * Each run times both implementations back to back, in alternating order,
 * after one untimed pair (the first walk allocates what later ones reuse);
 * reported are the medians and the tree/rewrite ratio of each run's pair:
 * its median and its range over the runs.  The machine runs the tree's
 * profile (KTREE_PROFILE), so the rewrite takes the tree's branches.
 *
 * The implementation is switched between reads by setting the machine's
 * cfg.impl, which a machine never does (it is fixed at machine_create()):
 * sound here because no walk or lookup is in flight at the switch, and it
 * is what lets both run over the very same page tables.
 *
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

#include "kernel_profiles.h"
#include "kimpl.h"
#include "bench_util.h"
#include "machine.h"
#include "mm.h"
#include "task_mmu.h"
#include "vfio.h"
#include "vfio_pci.h"

#define GiB (1ULL << 30)
#define ANON_VA 0x100000000000UL	/* 16 TiB: 1 GiB aligned */
#define BAR_VA 0x200000000000UL
#define TEXT_LEN 4096

static char text[TEXT_LEN];

static void die(const char *what, long err)
{
	fprintf(stderr, "bench_ktree: %s: %ld\n", what, err);
	exit(1);
}

static struct machine *machine_with(uint64_t ram, unsigned int bar_order)
{
	struct vfio_type1_config vc;
	struct machine_config cfg;
	struct machine *m;
	int err;

	err = kernel_profile_configs(KTREE_PROFILE, &cfg, &vc);
	if (err)
		die("kernel_profile_configs(" KTREE_PROFILE ")", err);
	vfio_type1_cfg = vc;
	cfg.ram_bytes = ram;
	cfg.max_bar_fault_order = bar_order;
	err = machine_create(&cfg, &m);
	if (err)
		die("machine_create", err);
	return m;
}

static void set_impl(struct machine *m, bool tree)
{
	m->cfg.impl = tree ? MACHINE_IMPL_TREE : MACHINE_IMPL_REWRITE;
}

/* bench_populate(), or the end of the benchmark. */
static void populate(struct mm_struct *mm, unsigned long va, uint64_t len, uint64_t step,
		     unsigned int flags)
{
	long err = bench_populate(mm, va, len, step, flags);

	if (err)
		die("populate", err);
}

/* One numa_maps read; its text must be the same whichever code made it. */
static double timed_read(struct mm_struct *mm, char *first, size_t len)
{
	uint64_t t0 = now_ns();
	long n = numa_maps_read(mm, text, sizeof(text));
	uint64_t t = now_ns() - t0;

	if (n <= 0)
		die("numa_maps_read", n);
	if (!first[0])
		snprintf(first, len, "%s", text);
	else if (strcmp(first, text))
		die("numa_maps text differs between the implementations", -EINVAL);
	return (double)t;
}

/* Per-run times of both and the ratio of each run's pair, reported. */
struct pairs {
	double *rewrite, *tree, *ratio;
	int runs;
};

static void pairs_init(struct pairs *p, int runs)
{
	p->rewrite = calloc(runs, sizeof(double));
	p->tree = calloc(runs, sizeof(double));
	p->ratio = calloc(runs, sizeof(double));
	if (!p->rewrite || !p->tree || !p->ratio)
		die("calloc", -ENOMEM);
	p->runs = runs;
}

static void pairs_report(struct pairs *p, const char *what, double per, const char *unit)
{
	double lo, hi;

	for (int i = 0; i < p->runs; i++)
		p->ratio[i] = p->tree[i] / p->rewrite[i];
	qsort(p->ratio, p->runs, sizeof(double), cmp_double);
	lo = p->ratio[0];
	hi = p->ratio[p->runs - 1];
	printf("%-28s rewrite %9.2f %s  tree %9.2f %s  tree/rewrite %.3f [%.3f..%.3f] (%d runs)\n",
	       what, median_double(p->rewrite, p->runs) / per, unit, median_double(p->tree, p->runs) / per, unit,
	       median_double(p->ratio, p->runs), lo, hi, p->runs);
	free(p->rewrite);
	free(p->tree);
	free(p->ratio);
}

static void bench_anon(unsigned int gib, int runs)
{
	uint64_t len = (uint64_t)gib * GiB;
	struct machine *m = machine_with(len + len / 4 + 4 * GiB, PUD_ORDER);
	struct mm_struct *mm = mm_alloc("bench");
	char first[TEXT_LEN] = "";
	struct pairs p;
	unsigned long va;
	char what[64];

	pairs_init(&p, runs);
	set_current(mm->owner);
	va = vm_mmap(mm, NULL, ANON_VA, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, 0);
	if (IS_ERR_VALUE(va))
		die("mmap anon", (long)va);
	populate(mm, va, len, PAGE_SIZE, FAULT_FLAG_WRITE);
	for (int i = -1; i < runs; i++) {
		for (int k = 0; k < 2; k++) {
			bool tree = (i + k) & 1;
			double t;

			set_impl(m, tree);
			t = timed_read(mm, first, sizeof(first));
			if (i >= 0)
				(tree ? p.tree : p.rewrite)[i] = t;
		}
	}
	snprintf(what, sizeof(what), "numa_maps anon 4K %u GiB", gib);
	pairs_report(&p, what, (double)(len >> PAGE_SHIFT), "ns/page");
	mmput(mm);
	machine_destroy(m);
}

static struct vfio_pci_core_device *map_bar(struct mm_struct *mm, uint64_t len)
{
	uint64_t bars[PCI_STD_NUM_BARS] = { len };
	struct vfio_pci_core_device *vdev;
	unsigned long va;
	int err;

	err = vfio_pci_device_create("bench", bars, &vdev);
	if (err)
		die("vfio_pci_device_create", err);
	va = vm_mmap(mm, &vdev->file, BAR_VA, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		     VFIO_PCI_INDEX_TO_OFFSET(0) >> PAGE_SHIFT);
	if (IS_ERR_VALUE(va))
		die("mmap BAR", (long)va);
	return vdev;
}

static void bench_bar_read(unsigned int gib, int runs, unsigned int order)
{
	uint64_t len = (uint64_t)gib * GiB, step = PAGE_SIZE << order;
	struct machine *m = machine_with(4 * GiB, order);
	struct mm_struct *mm = mm_alloc("bench");
	char first[TEXT_LEN] = "";
	struct pairs p;
	char what[64];

	pairs_init(&p, runs);
	set_current(mm->owner);
	map_bar(mm, len);
	for (int i = -1; i < runs; i++) {
		for (int k = 0; k < 2; k++) {
			bool tree = (i + k) & 1;
			double t;

			/* PUD leaves do not survive a read: put them back, untimed. */
			if ((i == -1 && k == 0) || order == PUD_ORDER)
				populate(mm, BAR_VA, len, step, 0);
			set_impl(m, tree);
			t = timed_read(mm, first, sizeof(first));
			if (i >= 0)
				(tree ? p.tree : p.rewrite)[i] = t;
		}
	}
	snprintf(what, sizeof(what), "numa_maps BAR %s %u GiB", order == PUD_ORDER ? "PUD" : "PMD",
		 gib);
	pairs_report(&p, what, (double)(len / step), "ns/leaf");
	mmput(mm);
	machine_destroy(m);
}

/* follow_pfnmap_start()/_end() on every 2M leaf, under one mmap read lock. */
static double timed_lookups(struct mm_struct *mm, uint64_t len)
{
	struct vm_area_struct *vma;
	uint64_t t0;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, BAR_VA);
	if (!vma)
		die("vma_lookup", -EFAULT);
	t0 = now_ns();
	for (uint64_t off = 0; off < len; off += PMD_SIZE) {
		struct follow_pfnmap_args args = { .vma = vma, .address = BAR_VA + off };
		int err = follow_pfnmap_start(&args);

		if (err)
			die("follow_pfnmap_start", err);
		follow_pfnmap_end(&args);
	}
	t0 = now_ns() - t0;
	mmap_read_unlock(mm);
	return (double)t0;
}

static void bench_follow_pfnmap(unsigned int gib, int runs)
{
	uint64_t len = (uint64_t)gib * GiB;
	struct machine *m = machine_with(4 * GiB, PMD_ORDER);
	struct mm_struct *mm = mm_alloc("bench");
	struct pairs p;
	char what[64];

	pairs_init(&p, runs);
	set_current(mm->owner);
	map_bar(mm, len);
	populate(mm, BAR_VA, len, PMD_SIZE, 0);
	for (int i = -1; i < runs; i++) {
		for (int k = 0; k < 2; k++) {
			bool tree = (i + k) & 1;
			double t;

			set_impl(m, tree);
			t = timed_lookups(mm, len);
			if (i >= 0)
				(tree ? p.tree : p.rewrite)[i] = t;
		}
	}
	snprintf(what, sizeof(what), "follow_pfnmap PMD %u GiB", gib);
	pairs_report(&p, what, (double)(len / PMD_SIZE), "ns/call");
	mmput(mm);
	machine_destroy(m);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "anon-gib", required_argument, NULL, 'a' },
		{ "bar-gib", required_argument, NULL, 'b' },
		{ "runs", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int anon_gib = 8, bar_gib = 64;
	int runs = 21, c;

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
		fprintf(stderr, "bench_ktree: runs >= 1, bar-gib a power of two\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("kernel tree %s (profile %s) against pinsim's rewrite\n", KTREE_VERSION,
	       KTREE_PROFILE);
	if (anon_gib)
		bench_anon(anon_gib, runs);
	bench_bar_read(bar_gib, runs, PMD_ORDER);
	bench_bar_read(bar_gib, runs, PUD_ORDER);
	bench_follow_pfnmap(bar_gib, runs);
	return 0;
}
