// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_scale: the scale of real programs (issue 12).  n 4K MAP_DMAs of
 * distinct pages, then one UNMAP_DMA of all of them, against the same work
 * with n/10 mappings; the ratio of the times is what grows with n (the
 * kernel's dma_list is an rb-tree: n log n, a ratio of
 * 10 * log(n) / log(n/10), 12.2 for n = 262144, 12.0 for 10^6).  Each size
 * runs on a fresh machine, --runs times; min/median/max are reported.
 * Public API only.
 *
 *   bench_scale [--n N]... [--runs R]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/vfio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <pinsim/pinsim.h>

#include "bench_clock.h"

#define GiB (1ULL << 30)
#define PG 4096ULL

static void die(const char *what)
{
	fprintf(stderr, "bench_scale: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One run: n MAP_DMAs of distinct pages, one UNMAP_DMA of all. */
static void run_once(uint64_t n, uint64_t *map_ns, uint64_t *unmap_ns)
{
	struct pinsim_device_spec dev = {"0000:01:00.0", {1 << 20}, 0};
	struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof(unmap)};
	struct pinsim_config cfg;
	struct pinsim_proc *p;
	struct pinsim *m;
	int container, group, gid;
	uint64_t va, t0;
	char path[32];

	pinsim_config_init(&cfg);
	cfg.ram_bytes = ((n * PG + GiB - 1) & ~(GiB - 1)) + 2 * GiB;
	cfg.dma_entry_limit = n > 65535 ? (unsigned int)n : 65535;
	if (pinsim_create(&cfg, &m) || pinsim_proc_create(m, &p))
		die("create");
	pinsim_set_cap_ipc_lock(p, true);
	if (pinsim_add_device(m, &dev, &gid))
		die("add_device");
	snprintf(path, sizeof(path), "/dev/vfio/%d", gid);
	container = pinsim_open(p, "/dev/vfio/vfio", O_RDWR);
	group = pinsim_open(p, path, O_RDWR);
	if (container < 0 || group < 0 ||
	    pinsim_ioctl(p, group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    pinsim_ioctl(p, container, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU))
		die("vfio setup");
	va = pinsim_mmap(p, 0, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (va == PINSIM_MAP_FAILED)
		die("mmap");

	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = va + i * PG,
			.iova = i * PG,
			.size = PG,
		};

		if (pinsim_ioctl(p, container, VFIO_IOMMU_MAP_DMA, &map))
			die("MAP_DMA");
	}
	*map_ns = now_ns() - t0;

	unmap.iova = 0;
	unmap.size = n * PG;
	t0 = now_ns();
	if (pinsim_ioctl(p, container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		die("UNMAP_DMA");
	*unmap_ns = now_ns() - t0;
	if (unmap.size != n * PG) {
		fprintf(stderr, "bench_scale: unmapped %llu of %llu bytes\n",
			(unsigned long long)unmap.size, (unsigned long long)(n * PG));
		exit(1);
	}
	pinsim_proc_destroy(p);
	pinsim_destroy(m);
}

struct stat3 {
	double min, med, max;
};

static struct stat3 stats(uint64_t *v, int runs)
{
	qsort(v, runs, sizeof(*v), cmp_u64);
	return (struct stat3){v[0] / 1e9, v[runs / 2] / 1e9, v[runs - 1] / 1e9};
}

static void measure(uint64_t n, int runs, struct stat3 *map, struct stat3 *unmap)
{
	uint64_t m[32], u[32];

	for (int r = 0; r < runs; r++)
		run_once(n, &m[r], &u[r]);
	*map = stats(m, runs);
	*unmap = stats(u, runs);
}

static void report(uint64_t n, int runs)
{
	struct stat3 m_small, u_small, m_big, u_big;
	double nlogn = 10.0 * log((double)n) / log((double)n / 10);

	measure(n / 10, runs, &m_small, &u_small);
	measure(n, runs, &m_big, &u_big);
	printf("n=%-8llu MAP_DMA x n   %8.3fs [%.3f..%.3f]  n/10: %7.3fs [%.3f..%.3f]  ratio %5.1f "
	       "[%.1f..%.1f]\n",
	       (unsigned long long)n, m_big.med, m_big.min, m_big.max, m_small.med, m_small.min,
	       m_small.max, m_big.med / m_small.med, m_big.min / m_small.max,
	       m_big.max / m_small.min);
	printf("n=%-8llu UNMAP_DMA all %8.3fs [%.3f..%.3f]  n/10: %7.3fs [%.3f..%.3f]  ratio %5.1f "
	       "[%.1f..%.1f]\n",
	       (unsigned long long)n, u_big.med, u_big.min, u_big.max, u_small.med, u_small.min,
	       u_small.max, u_big.med / u_small.med, u_big.min / u_small.max,
	       u_big.max / u_small.min);
	printf("n=%-8llu n log n ratio %.1f (median [min..max] of %d runs)\n",
	       (unsigned long long)n, nlogn, runs);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"n", required_argument, NULL, 'n'},
		{"runs", required_argument, NULL, 'r'},
		{0},
	};
	uint64_t sizes[8];
	int nsizes = 0, runs = 3, c;

	while ((c = getopt_long(argc, argv, "n:r:", opts, NULL)) != -1) {
		if (c == 'n' && nsizes < 8)
			sizes[nsizes++] = strtoull(optarg, NULL, 0);
		else if (c == 'r')
			runs = atoi(optarg);
		else
			return 2;
	}
	if (runs < 1 || runs > 32)
		return 2;
	if (!nsizes) {
		sizes[nsizes++] = 262144;
		sizes[nsizes++] = 1000000;
	}
	for (int i = 0; i < nsizes; i++)
		report(sizes[i], runs);
	return 0;
}
