// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stress (issue 5): free-running threads against each retry policy.
 *
 *  - a numa_maps reader in a loop (pinsim_walker_start()), the fixed walker:
 *    it splits (clears) the BAR's 1G PUD leaves as it goes, as in seeds/01;
 *  - a pinning thread looping VFIO_IOMMU_MAP_DMA/UNMAP_DMA over 4K anonymous
 *    RAM, a 1G hugetlb page and a 1G-aligned BAR (PUD leaves) — the 1G
 *    regions whole every eighth time, a 64 MiB window of them otherwise —
 *    with a DMA through each fresh mapping;
 *  - background injectors zapping the BARs and refaulting random BAR pages
 *    (a guest toggling decode, a vCPU touching the BAR), plus a seeded rule
 *    zapping in the window after fixup_user_fault() (seeds/03).
 *
 * For a bounded time (PINSIM_STRESS_SECONDS, default 2 per case), with a
 * printed seed (PINSIM_SEED=0x... replays the injector's draws; the thread
 * interleaving itself is the host's).  Afterwards: no oops, no WARN, every
 * MAP_DMA error is in the policy's documented set, and once everything is
 * unmapped and closed: locked_vm == 0, every RAM page's refcount back to
 * what it was, no DMA reached an unpinned frame, the walker neither oopsed
 * nor hung.  Runs under ThreadSanitizer in CI.
 */
#include <pthread.h>
#include <time.h>

#include "vfio_harness.h"

#define BAR_VA 0x600000000000ULL	/* 1 GiB aligned: PUD leaves */
#define ANON_LEN (4 * MiB)
#define HUGE_LEN GiB
#define WINDOW_LEN (64 * MiB)
#define IOVA_ANON 0x000100000000ULL
#define IOVA_HUGE 0x010000000000ULL
#define IOVA_BAR 0x020000000000ULL	/* seeds/01, seeds/03 */
#define RATE_HZ 2000.0
#define RULE_PROBABILITY 0.25

enum { R_ANON, R_HUGE, R_BAR, NR_REGIONS };
static const char *const region_name[NR_REGIONS] = { "anon4k", "hugetlb1g", "bar" };

/* MAP_DMA outcomes counted per region. */
enum { O_OK, O_EINVAL, O_EFAULT, O_EBUSY, O_EINTR, O_OTHER, NR_OUTCOMES };
static const char *const outcome_name[NR_OUTCOMES] = {
	"ok", "EINVAL", "EFAULT", "EBUSY", "EINTR", "other",
};

struct region {
	uint64_t va, iova, len;
};

struct pinner {
	int container;
	struct region r[NR_REGIONS];
	_Atomic bool stop;
	/* written by the pinning thread only, read after the join */
	unsigned long iterations;
	unsigned long outcomes[NR_REGIONS][NR_OUTCOMES];
	int other_errno;
	unsigned long dma_errors, unmap_errors;
};

static uint64_t base_seed;

static uint64_t stress_seed(void)
{
	const char *env = getenv("PINSIM_SEED");
	struct timespec ts;

	if (env)
		return strtoull(env, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) *
	       0x9e3779b97f4a7c15ULL;
}

static double stress_seconds(void)
{
	const char *env = getenv("PINSIM_STRESS_SECONDS");
	double s = env ? strtod(env, NULL) : 2.0;

	return s > 0 ? s : 2.0;
}

static int outcome_of(int ret)
{
	switch (ret) {
	case 0:
		return O_OK;
	case -EINVAL:
		return O_EINVAL;
	case -EFAULT:
		return O_EFAULT;
	case -EBUSY:
		return O_EBUSY;
	case -EINTR:
		return O_EINTR;
	default:
		return O_OTHER;
	}
}

/*
 * Which part of region @i to map this time: all of it every eighth
 * iteration, else a 64 MiB window of it.  Inside a 1G leaf a window takes
 * the same paths (follow_pfnmap_start() finds the PUD leaf, GUP the 1G
 * folio), while unmapping 1 GiB walks the IOMMU 4K at a time
 * (vfio_unmap_unpin()), which under ThreadSanitizer costs most of an
 * iteration.  The 4K anonymous region is always mapped whole.
 */
static void map_window(const struct pinner *p, int i, uint64_t *off, uint64_t *len)
{
	*off = 0;
	*len = p->r[i].len;
	if (i == R_ANON || !(p->iterations % 8))
		return;
	*len = WINDOW_LEN;
	*off = (p->iterations * 7 % (p->r[i].len / WINDOW_LEN)) * WINDOW_LEN;
}

/* MAP, a DMA through the new mapping, UNMAP; no ck_assert off the main thread. */
static void pin_one(struct pinner *p, int i, unsigned int round)
{
	const struct region *r = &p->r[i];
	unsigned char buf[64];
	uint64_t off, len, dma_off;
	int ret, o;

	map_window(p, i, &off, &len);
	dma_off = ((uint64_t)round * 0x12345000ULL) % len;
	ret = vh_map(p->container, r->va + off, r->iova + off, len);
	o = outcome_of(ret);
	p->outcomes[i][o]++;
	if (o == O_OTHER && !p->other_errno)
		p->other_errno = -ret;
	if (ret)
		return;
	if (pinsim_dma(sim, dev0.group_id, r->iova + off + dma_off, buf, sizeof(buf), round & 1) !=
	    (ssize_t)sizeof(buf))
		p->dma_errors++;
	if (vh_unmap(p->container, r->iova + off, len, NULL))
		p->unmap_errors++;
}

static void *pinner_fn(void *arg)
{
	struct pinner *p = arg;
	unsigned int round = 0;

	do {
		for (int i = 0; i < NR_REGIONS; i++)
			pin_one(p, i, round++);
		p->iterations++;
	} while (!atomic_load(&p->stop));
	return NULL;
}

/* RAM refcounts before the run, to compare with after. */
struct baseline {
	int anon[ANON_LEN / PG];
	int huge;
};

static void take_baseline(const struct pinner *p, struct baseline *b)
{
	for (uint64_t i = 0; i < ANON_LEN / PG; i++)
		b->anon[i] = vh_page(p->r[R_ANON].va + i * PG).refcount;
	b->huge = vh_page(p->r[R_HUGE].va).refcount;
}

static void assert_baseline(const struct pinner *p, const struct baseline *b)
{
	struct pinsim_page_info pi;

	for (uint64_t i = 0; i < ANON_LEN / PG; i++) {
		pi = vh_page(p->r[R_ANON].va + i * PG);
		ck_assert_msg(pi.refcount == b->anon[i] && pi.pincount == 0,
			      "seed=0x%016llx: anon page %llu refcount %d (was %d) pincount %d",
			      (unsigned long long)base_seed, (unsigned long long)i, pi.refcount,
			      b->anon[i], pi.pincount);
	}
	pi = vh_page(p->r[R_HUGE].va);
	ck_assert_msg(pi.refcount == b->huge && pi.pincount == 0,
		      "seed=0x%016llx: 1G folio refcount %d (was %d) pincount %d",
		      (unsigned long long)base_seed, pi.refcount, b->huge, pi.pincount);
}

/* The MAP_DMA errors each policy documents for a BAR under zaps. */
static bool bar_outcome_allowed(enum pinsim_retry_policy policy, int o)
{
	switch (policy) {
	case PINSIM_RETRY_LEGACY:
		return o == O_OK || o == O_EINVAL || o == O_EFAULT;
	case PINSIM_RETRY_BOUNDED:
		return o == O_OK || o == O_EBUSY;
	case PINSIM_RETRY_EAGAIN:	/* unbounded: always gets there */
	case PINSIM_RETRY_ENOENT:	/* no fatal signal here */
	default:
		return o == O_OK;
	}
}

static void report(const char *policy, const struct pinner *p,
		   const struct pinsim_walker_result *wr, unsigned long zaps,
		   unsigned long refaults, unsigned long rule_hits, unsigned long rule_fires)
{
	printf("# %s: %lu iterations, walker %lu reads, %lu zaps + %lu refaults injected, "
	       "after-fixup rule %lu/%lu\n",
	       policy, p->iterations, wr->reads, zaps, refaults, rule_fires, rule_hits);
	for (int i = 0; i < NR_REGIONS; i++) {
		printf("#   %-9s", region_name[i]);
		for (int o = 0; o < NR_OUTCOMES; o++)
			if (p->outcomes[i][o])
				printf(" %s=%lu", outcome_name[o], p->outcomes[i][o]);
		printf("\n");
	}
}

static void stress(enum pinsim_retry_policy policy, const char *name)
{
	uint64_t seed = base_seed ^ ((uint64_t)(policy + 1) * 0xd1b54a32d192ed03ULL);
	struct pinsim_injector_opts zap_o = {
		.action = PINSIM_INJECT_ZAP_BARS, .rate_hz = RATE_HZ, .seed = seed + 1,
	};
	struct pinsim_injector_opts refault_o = {
		.action = PINSIM_INJECT_REFAULT, .rate_hz = RATE_HZ, .seed = seed + 2,
	};
	struct pinsim_inject_rule rule = {
		.point = PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP, .action = PINSIM_INJECT_ZAP_BARS,
		.probability = RULE_PROBABILITY, .seed = seed + 3,
	};
	struct pinsim_walker_opts wo = { .interval_us = 50 };
	static struct baseline base;
	static struct pinner p;
	struct pinsim_injector *zapper, *refaulter;
	unsigned long zaps, refaults, rule_hits = 0, rule_fires = 0;
	struct pinsim_walker_result wr;
	struct pinsim_walker *walker;
	struct timespec dur;
	double secs = stress_seconds();
	pthread_t pt;
	int rule_id;

	printf("# %s: seed=0x%016llx (PINSIM_SEED=0x%016llx replays the draws), %.1f s\n", name,
	       (unsigned long long)seed, (unsigned long long)base_seed, secs);
	memset(&p, 0, sizeof(p));
	p.container = vh_container(VFIO_TYPE1v2_IOMMU);
	p.r[R_ANON] = (struct region){ vh_mmap(ANON_LEN, RW, ANON), IOVA_ANON, ANON_LEN };
	p.r[R_HUGE] = (struct region){ vh_mmap(HUGE_LEN, RW, HUGE_1G), IOVA_HUGE, HUGE_LEN };
	p.r[R_BAR] = (struct region){ vh_bar_mmap(&dev0, 0, BAR_VA, GiB, RW, 0), IOVA_BAR, GiB };
	vh_touch(p.r[R_ANON].va, ANON_LEN, PG);
	vh_touch(p.r[R_HUGE].va, HUGE_LEN, HUGE_LEN);
	take_baseline(&p, &base);

	zap_o.group_id = dev0.group_id;
	refault_o.proc = proc;
	refault_o.addr = p.r[R_BAR].va;
	refault_o.len = GiB;
	rule.group_id = dev0.group_id;
	rule_id = pinsim_inject_add(sim, &rule);
	ck_assert_int_ge(rule_id, 0);
	ck_assert_int_eq(pinsim_walker_start(proc, &wo, &walker), 0);
	ck_assert_int_eq(pinsim_injector_start(sim, &zap_o, &zapper), 0);
	ck_assert_int_eq(pinsim_injector_start(sim, &refault_o, &refaulter), 0);
	ck_assert_int_eq(pthread_create(&pt, NULL, pinner_fn, &p), 0);

	dur.tv_sec = (time_t)secs;
	dur.tv_nsec = (long)((secs - (double)dur.tv_sec) * 1e9);
	while (nanosleep(&dur, &dur))
		;

	atomic_store(&p.stop, true);
	pthread_join(pt, NULL);
	zaps = pinsim_injector_stop(zapper);
	refaults = pinsim_injector_stop(refaulter);
	pinsim_walker_stop(walker, &wr);
	ck_assert_int_eq(pinsim_inject_stats(sim, rule_id, &rule_hits, &rule_fires), 0);
	ck_assert_int_eq(pinsim_inject_clear(sim), 0);
	report(name, &p, &wr, zaps, refaults, rule_hits, rule_fires);

	/* The threads' verdicts. */
	ck_assert_msg(!wr.oopsed, "seed=0x%016llx: walker oopsed: %s",
		      (unsigned long long)base_seed, wr.oops);
	ck_assert_msg(!wr.hung, "seed=0x%016llx: walker hung", (unsigned long long)base_seed);
	ck_assert_uint_ge(p.iterations, 1);
	for (int i = 0; i < NR_REGIONS; i++) {
		for (int o = O_EINVAL; o < NR_OUTCOMES; o++) {
			bool ok = i == R_BAR && bar_outcome_allowed(policy, o);

			ck_assert_msg(ok || !p.outcomes[i][o],
				      "seed=0x%016llx: %s: %lu MAP_DMA of %s failed with %s "
				      "(first other errno: %d)",
				      (unsigned long long)base_seed, name, p.outcomes[i][o],
				      region_name[i], outcome_name[o], p.other_errno);
		}
	}
	ck_assert_uint_eq(p.dma_errors, 0);
	ck_assert_uint_eq(p.unmap_errors, 0);

	/* Teardown: everything unmapped and closed leaves nothing behind. */
	ck_assert_int_eq(vh_unmap_flags(p.container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL), 0);
	ck_assert_uint_eq(vh_stats(p.container).nr_dmas, 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	ck_assert_int_eq(pinsim_close(proc, p.container), 0);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	assert_baseline(&p, &base);
	vh_assert_clean();
}

#define STRESS_CASE(fn, policy, enoent)                                        \
	static void fn##_setup(void)                                           \
	{                                                                      \
		vh_defaults(&vh_cfg);                                          \
		vh_cfg.hugetlb_1g_pages = 2;                                   \
		vh_cfg.retry_policy = policy;                                  \
		vh_cfg.follow_pfnmap_enoent = enoent;                          \
		vh_setup_with(&vh_cfg);                                        \
	}                                                                      \
	START_TEST(fn)                                                         \
	{                                                                      \
		stress(policy, #policy);                                       \
	}                                                                      \
	END_TEST

STRESS_CASE(test_stress_legacy_errors_only_einval_efault_nothing_leaks, PINSIM_RETRY_LEGACY,
	    false)
STRESS_CASE(test_stress_eagain_every_map_succeeds_nothing_leaks, PINSIM_RETRY_EAGAIN, false)
STRESS_CASE(test_stress_bounded_errors_only_ebusy_nothing_leaks, PINSIM_RETRY_BOUNDED, false)
STRESS_CASE(test_stress_enoent_every_map_succeeds_nothing_leaks, PINSIM_RETRY_ENOENT, true)

#define ADD_CASE(s, name, fn) tcase_add_test(vh_tcase(s, name, fn##_setup), fn)

Suite *make_suite(void)
{
	Suite *s = suite_create("stress");

	base_seed = stress_seed();
	printf("# seed=0x%016llx\n", (unsigned long long)base_seed);
	ADD_CASE(s, "legacy", test_stress_legacy_errors_only_einval_efault_nothing_leaks);
	ADD_CASE(s, "eagain", test_stress_eagain_every_map_succeeds_nothing_leaks);
	ADD_CASE(s, "bounded", test_stress_bounded_errors_only_ebusy_nothing_leaks);
	ADD_CASE(s, "enoent", test_stress_enoent_every_map_succeeds_nothing_leaks);
	return s;
}
