// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_map_dma: VFIO_IOMMU_MAP_DMA time after population (issue 4), and the
 * fast-path cost of each retry policy against LEGACY, interleaved in one run.
 *
 * Backings: 4K anonymous, THP, 1G hugetlb (16 GiB by default), and a 32 GiB
 * BAR mapped at PUD, PMD and PTE level (the last through an mmap 4 KiB off
 * a 1 GiB boundary).  Each run maps once to populate, unmaps, then times a
 * second MAP_DMA (and its UNMAP).  Public API only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/mman.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <pinsim/pinsim.h>

#include "bench_clock.h"

#define GiB (1ULL << 30)

static uint64_t median(uint64_t *v, int n)
{
	uint64_t tmp[256];

	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_u64);
	return tmp[n / 2];
}

static void die(const char *what)
{
	fprintf(stderr, "bench_map_dma: %s: %s\n", what, strerror(errno));
	exit(1);
}

enum backing { B_4K, B_THP, B_1G, B_BAR_PUD, B_BAR_PMD, B_BAR_PTE, NR_BACKINGS };
static const char *const backing_name[] = { "anon-4k", "anon-thp", "hugetlb-1g",
					    "bar-pud", "bar-pmd", "bar-pte" };

struct setup {
	struct pinsim *m;
	struct pinsim_proc *p;
	int container, group, device, gid;
	uint64_t vaddr, size;
};

static void setup(struct setup *s, enum backing b, uint64_t ram_size, uint64_t bar_size)
{
	struct pinsim_device_spec gpu = { "0000:01:00.0", { bar_size }, 0 };
	struct pinsim_config cfg;
	char path[32];

	pinsim_config_init(&cfg);
	cfg.ram_bytes = ram_size + 8 * GiB;
	cfg.hugetlb_1g_pages = b == B_1G ? ram_size / GiB : 0;
	cfg.max_bar_fault_order = b == B_BAR_PMD ? 9 : 18;
	if (pinsim_create(&cfg, &s->m) || pinsim_proc_create(s->m, &s->p))
		die("create");
	pinsim_set_cap_ipc_lock(s->p, true);
	if (pinsim_add_device(s->m, &gpu, &s->gid))
		die("add_device");
	snprintf(path, sizeof(path), "/dev/vfio/%d", s->gid);
	s->container = pinsim_open(s->p, "/dev/vfio/vfio", O_RDWR);
	s->group = pinsim_open(s->p, path, O_RDWR);
	if (s->container < 0 || s->group < 0 ||
	    pinsim_ioctl(s->p, s->group, VFIO_GROUP_SET_CONTAINER, &s->container) ||
	    pinsim_ioctl(s->p, s->container, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU))
		die("vfio setup");
	s->device = pinsim_ioctl(s->p, s->group, VFIO_GROUP_GET_DEVICE_FD, (void *)gpu.name);
	if (s->device < 0)
		die("device fd");

	if (b <= B_1G) {
		int flags = MAP_PRIVATE | MAP_ANONYMOUS;

		if (b == B_1G)
			flags |= MAP_HUGETLB | MAP_HUGE_1GB;
		s->size = ram_size;
		s->vaddr = pinsim_mmap(s->p, 0, s->size, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (s->vaddr == PINSIM_MAP_FAILED)
			die("mmap");
		if (b == B_THP && pinsim_madvise(s->p, s->vaddr, s->size, MADV_HUGEPAGE))
			die("madvise");
	} else if (b == B_BAR_PTE) {
		/* map_bar_misaligned: reserve, then MAP_FIXED 4 KiB past a 1G boundary. */
		uint64_t va = pinsim_mmap(s->p, 0, bar_size + 2 * GiB, PROT_NONE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (va == PINSIM_MAP_FAILED)
			die("reserve");
		va = ((va + GiB - 1) & ~(GiB - 1)) + 4096;
		s->size = bar_size;
		s->vaddr = pinsim_mmap(s->p, va, s->size, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_FIXED, s->device,
				       (uint64_t)VFIO_PCI_BAR0_REGION_INDEX << 40);
		if (s->vaddr == PINSIM_MAP_FAILED)
			die("bar mmap");
	} else {
		s->size = bar_size;
		s->vaddr = pinsim_mmap(s->p, 0, s->size, PROT_READ | PROT_WRITE, MAP_SHARED,
				       s->device, (uint64_t)VFIO_PCI_BAR0_REGION_INDEX << 40);
		if (s->vaddr == PINSIM_MAP_FAILED)
			die("bar mmap");
	}
}

static uint64_t map_once(struct setup *s, uint64_t *unmap_ns)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = s->vaddr,
		.iova = 1ULL << 40,
		.size = s->size,
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = 1ULL << 40, .size = s->size,
	};
	uint64_t t0, t;

	t0 = now_ns();
	if (pinsim_ioctl(s->p, s->container, VFIO_IOMMU_MAP_DMA, &map))
		die("MAP_DMA");
	t = now_ns() - t0;
	t0 = now_ns();
	if (pinsim_ioctl(s->p, s->container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		die("UNMAP_DMA");
	if (unmap_ns)
		*unmap_ns = now_ns() - t0;
	return t;
}

static void bench_backing(enum backing b, uint64_t ram, uint64_t bar, int runs)
{
	uint64_t map[256], unmap[256];
	struct setup s;
	struct pinsim_vfio_stats vs;

	setup(&s, b, ram, bar);
	map_once(&s, NULL);	/* populate: faults and first pins */
	for (int i = 0; i < runs; i++)
		map[i] = map_once(&s, &unmap[i]);
	pinsim_vfio_stats(s.p, s.container, &vs);
	printf("%-11s %3llu GiB  MAP_DMA %10.3f ms (%7.2f ns/4K page)  UNMAP %9.3f ms  "
	       "[vaddr_get_pfns %llu, iommu_map %llu per map]\n",
	       backing_name[b], (unsigned long long)(s.size / GiB), median(map, runs) / 1e6,
	       (double)median(map, runs) / (s.size >> 12), median(unmap, runs) / 1e6,
	       (unsigned long long)vs.last.vaddr_get_pfns, (unsigned long long)vs.last.iommu_maps);
	pinsim_destroy(s.m);
}

/* Interleave the policies round-robin on one machine so machine noise cancels. */
static void bench_policies(enum backing b, uint64_t ram, uint64_t bar, int runs)
{
	static const char *const names[] = { "LEGACY", "EAGAIN", "BOUNDED", "ENOENT" };
	uint64_t t[4][256];
	struct setup s;

	setup(&s, b, ram, bar);
	map_once(&s, NULL);
	for (int i = 0; i < runs; i++) {
		for (int pol = 0; pol < 4; pol++) {
			pinsim_set_retry_policy(s.m, (enum pinsim_retry_policy)pol, 8);
			t[pol][i] = map_once(&s, NULL);
		}
	}
	printf("policy fast-path cost, %s %llu GiB, %d interleaved runs:", backing_name[b],
	       (unsigned long long)(s.size / GiB), runs);
	for (int pol = 0; pol < 4; pol++)
		printf("  %s %.4f", names[pol], (double)median(t[pol], runs) / median(t[0], runs));
	printf("  (x LEGACY)\n");
	pinsim_destroy(s.m);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ram", required_argument, NULL, 'r' },
		{ "bar", required_argument, NULL, 'b' },
		{ "runs", required_argument, NULL, 'n' },
		{ "backing", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t ram = 16 * GiB, bar = 32 * GiB;
	const char *only = NULL;
	int runs = 7, c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			ram = strtoull(optarg, NULL, 0) * GiB;
			break;
		case 'b':
			bar = strtoull(optarg, NULL, 0) * GiB;
			break;
		case 'n':
			runs = atoi(optarg);
			break;
		case 'B':
			only = optarg;
			break;
		case 'h':
			printf("usage: bench_map_dma [--ram GIB] [--bar GIB] [--runs N] [--backing NAME]\n"
			       "  NAME: anon-4k anon-thp hugetlb-1g bar-pud bar-pmd bar-pte\n");
			return 0;
		default:
			fprintf(stderr, "usage: bench_map_dma [--ram GIB] [--bar GIB] [--runs N]\n");
			return 2;
		}
	}
	if (!ram || ram > 512 * GiB || !bar || (bar & (bar - 1)) || bar > 1024 * GiB ||
	    runs < 1 || runs > 256) {
		fprintf(stderr, "bench_map_dma: --ram 1..512, --bar a power of two <= 1024, "
				"--runs 1..256\n");
		return 2;
	}
	printf("pinsim bench_map_dma: medians of %d runs after population\n", runs);
	for (int b = 0; b < NR_BACKINGS; b++)
		if (!only || !strcmp(only, backing_name[b]))
			bench_backing((enum backing)b, ram, bar, runs);
	if (only)
		return 0;
	bench_policies(B_4K, ram < 4 * GiB ? ram : 4 * GiB, bar, runs);
	bench_policies(B_BAR_PUD, ram, bar, runs * 4);
	return 0;
}
