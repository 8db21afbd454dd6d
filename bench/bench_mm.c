// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_mm: the foundation's costs, as medians over repeated runs.
 *
 *   - creating (and destroying) a machine with 1 TiB of simulated RAM, and
 *     the host memory resident after creation (RSS growth);
 *   - struct page bytes per simulated 4 KiB frame;
 *   - faulting in + pinning 16 GiB (default) of 4K anonymous memory, of THP
 *     and of 1G hugetlb, in ns per 4 KiB page; and pinning it again once
 *     populated (the pure FOLL_PIN cost).
 *
 * Public API only.  `--size GIB` and `--runs N` shrink or grow the work.
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

#include <pinsim/pinsim.h>

#include "bench_clock.h"

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void bench_create(int runs)
{
	struct pinsim_config cfg;
	struct pinsim_stats st;
	uint64_t t[64];
	long rss_delta[64];
	struct pinsim *m;

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 1ULL << 40;
	for (int i = 0; i < runs; i++) {
		long before = rss_kib();
		uint64_t t0 = now_ns();

		if (pinsim_create(&cfg, &m)) {
			perror("pinsim_create");
			exit(1);
		}
		t[i] = now_ns() - t0;
		rss_delta[i] = rss_kib() - before;
		if (i == 0) {
			pinsim_stats(m, &st);
			printf("struct page: %llu bytes per 4 KiB frame (target <= 32)\n",
			       (unsigned long long)st.bytes_per_frame);
		}
		pinsim_destroy(m);
	}
	qsort(rss_delta, runs, sizeof(long), cmp_u64);
	printf("create 1 TiB machine: median %.3f ms, RSS growth median %ld KiB "
	       "(targets: < 100 ms, < 64 MiB)\n",
	       median(t, runs) / 1e6, rss_delta[runs / 2]);
}

struct backing {
	const char *name;
	int flags;
	bool thp;
};

static void bench_pin(const struct backing *b, uint64_t size, int runs)
{
	struct pinsim_config cfg;
	uint64_t first[64], again[64];
	unsigned long pages = size >> 12;

	pinsim_config_init(&cfg);
	cfg.ram_bytes = size + (8ULL << 30);
	cfg.hugetlb_1g_pages = (b->flags & MAP_HUGETLB) ? size >> 30 : 0;
	for (int i = 0; i < runs; i++) {
		struct pinsim_proc *p;
		struct pinsim_pin *pin;
		struct pinsim *m;
		uint64_t addr, t0;

		if (pinsim_create(&cfg, &m) || pinsim_proc_create(m, &p)) {
			perror("create");
			exit(1);
		}
		pinsim_set_cap_ipc_lock(p, true);
		addr = pinsim_mmap(p, 0, size, PROT_READ | PROT_WRITE, b->flags, -1, 0);
		if (addr == PINSIM_MAP_FAILED) {
			perror("mmap");
			exit(1);
		}
		if (b->thp)
			pinsim_madvise(p, addr, size, MADV_HUGEPAGE);
		t0 = now_ns();
		if (pinsim_pin_user_pages(p, addr, size, 1, &pin)) {
			perror("pin");
			exit(1);
		}
		first[i] = now_ns() - t0;
		pinsim_unpin_user_pages(pin);
		t0 = now_ns();
		if (pinsim_pin_user_pages(p, addr, size, 1, &pin)) {
			perror("pin");
			exit(1);
		}
		again[i] = now_ns() - t0;
		pinsim_unpin_user_pages(pin);
		pinsim_proc_destroy(p);
		pinsim_destroy(m);
	}
	printf("%-12s %5llu GiB: fault-in + pin %8.2f ns/page (%7.1f ms), "
	       "pin populated %7.2f ns/page (%7.1f ms)\n",
	       b->name, (unsigned long long)(size >> 30), (double)median(first, runs) / pages,
	       median(first, runs) / 1e6, (double)median(again, runs) / pages,
	       median(again, runs) / 1e6);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const struct backing backings[] = {
		{ "anon-4k", MAP_PRIVATE | MAP_ANONYMOUS, false },
		{ "anon-thp", MAP_PRIVATE | MAP_ANONYMOUS, true },
		{ "hugetlb-1g", MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, false },
	};
	unsigned long size_gib = 16;
	int runs = 5, c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			size_gib = strtoul(optarg, NULL, 0);
			if (!size_gib || size_gib > 1024) {
				fprintf(stderr, "bench_mm: --size must be 1..1024 GiB\n");
				return 2;
			}
			break;
		case 'n':
			runs = atoi(optarg);
			if (runs < 1 || runs > 64) {
				fprintf(stderr, "bench_mm: --runs must be 1..64\n");
				return 2;
			}
			break;
		case 'h':
			printf("usage: bench_mm [--size GIB] [--runs N]\n");
			return 0;
		default:
			fprintf(stderr, "usage: bench_mm [--size GIB] [--runs N]\n");
			return 2;
		}
	}
	printf("pinsim bench_mm: medians of %d runs\n", runs);
	bench_create(runs);
	for (size_t i = 0; i < sizeof(backings) / sizeof(backings[0]); i++)
		bench_pin(&backings[i], (uint64_t)size_gib << 30, runs);
	return 0;
}
