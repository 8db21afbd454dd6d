// SPDX-License-Identifier: GPL-2.0-only
/*
 * pin-bench: what each follow_fault_pfn() retry policy costs on the pinning
 * fast path, and what it buys under contention.  Public API only.
 *
 * The matrix is backing x policy x contention:
 *  - backing: 4K anonymous, THP, hugetlb 2M, hugetlb 1G (guest-RAM-like
 *    memory, pinned through GUP), and a BAR mapped at PTE, PMD and PUD level
 *    (pfnmap, resolved by follow_fault_pfn()/follow_pfnmap_start()); the BAR
 *    level is chosen with the machine's max_bar_fault_order (0, 9, 18), as a
 *    kernel without huge pfnmaps, with PMD ones only, or with both;
 *  - policy: LEGACY, EAGAIN, BOUNDED, ENOENT (seeds/03), switched at run time
 *    with pinsim_set_retry_policy();
 *  - contention: none; a numa_maps reader reading the process back to back
 *    (it zaps every 1G BAR leaf it meets); the reader plus a zap/refault
 *    injector (ZAP_BARS on the device, REFAULT of a random page of the
 *    measured range) at --rate Hz.  For the RAM backings the injector only
 *    competes for the CPU and mmap_lock: nothing zaps RAM.
 *
 * One machine per backing (the hugetlb pool and the BAR fault order are
 * machine configuration).  A first MAP_DMA populates the range; then each
 * run maps and unmaps once per policy, the policies round-robin (the first
 * one rotating from run to run), so that machine noise falls on every
 * policy alike and overhead_vs_legacy compares like with like.
 *
 * Latency is the time to the ioctl's answer, failed MAP_DMAs included.
 * Percentiles are nearest-rank: with fewer than 1000 runs p999 is the max.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/mman.h>
#include <linux/vfio.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <pinsim/pinsim.h>

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)
#define IOVA (1ULL << 40)	/* aligned for every size up to 1 TiB */

enum backing { B_4K, B_THP, B_2M, B_1G, B_BAR_PTE, B_BAR_PMD, B_BAR_PUD, NR_BACKINGS };
static const char *const backing_name[NR_BACKINGS] = {
	"4k", "thp", "hugetlb-2m", "hugetlb-1g", "bar-pte", "bar-pmd", "bar-pud",
};

enum contention { C_NONE, C_WALKER, C_INJECTOR, NR_CONTENTIONS };
static const char *const contention_name[NR_CONTENTIONS] = { "none", "walker",
							     "walker+injector" };

#define NR_POLICIES 4
static const char *const policy_name[NR_POLICIES] = { "legacy", "eagain", "bounded", "enoent" };

struct options {
	uint64_t size, bar_size;
	unsigned int runs;
	bool backing[NR_BACKINGS], policy[NR_POLICIES], contention[NR_CONTENTIONS];
	double rate;
	uint64_t seed;
	unsigned int bound;
	unsigned int walker_interval_us;
	const char *json, *csv, *plot;
	bool quiet;
	char kernel[32];		/* --kernel */
	bool kernel_set;		/* --kernel given */
	enum pinsim_impl impl;		/* --impl */
};

struct cell {
	bool measured;
	uint64_t size;
	unsigned int n;			/* runs done */
	uint64_t *ns;			/* per run */
	unsigned int ok;
	uint64_t follow_failures, retries;
	bool jemalloc;
	uint64_t jemalloc_peak, rss_hwm;
	/* results */
	uint64_t p50, p99, p999, max;
	double overhead;		/* NAN: no LEGACY cell to compare with */
};

/* Everything one backing's machine holds. */
struct rig {
	struct pinsim *m;
	struct pinsim_proc *p;
	int container, group, device, gid;
	uint64_t va, size;
};

static struct options opt;
static struct cell cells[NR_BACKINGS][NR_POLICIES][NR_CONTENTIONS];
static const char *prog = "pin-bench";
static struct pinsim_config runcfg;	/* the kernel switches every machine has */

#include "example_util.h"
static int exit_status;

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

/* ---------------------------------------------------------------------- */
/* Arguments                                                              */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: pin-bench [options]\n"
"VFIO_IOMMU_MAP_DMA latency per backing x retry policy x contention, after\n"
"population, with the policies interleaved in one machine.\n"
"\n"
"  --size SIZE         RAM backings' size (default 1G; 16G with --full)\n"
"  --bar-size SIZE     BAR size, a power of two (default 1G; 32G with --full)\n"
"  --runs N            MAP_DMAs per cell (default 7; 31 with --full)\n"
"  --full              the issue's sizes: 16G RAM, 32G BAR, 31 runs\n"
"  --backing LIST      4k,thp,hugetlb-2m (2m),hugetlb-1g (1g),\n"
"                      bar-pte,bar-pmd,bar-pud\n"
"  --policy LIST       legacy,eagain,bounded,enoent (only legacy with --impl\n"
"                      tree: see --impl)\n"
"  --contention LIST   none,walker,walker+injector (injector)\n"
"                      (each LIST defaults to all; 'all' selects all)\n"
"  --rate HZ           injector firings per second, per action (default 1000)\n"
"  --walker-interval US  pause of the numa_maps reader (default 0: back to back)\n"
"  --bound N           the BOUNDED policy's retry bound (default 8)\n"
"  --seed S            injector seed (default 1)\n");
	ex_kernel_help(f, 22, NULL);
	ex_impl_help(f, 22);
	fprintf(f,
"  --json FILE         an array with one object per cell (with the kernel and\n"
"                      its switches)\n"
"  --csv FILE          the same columns as CSV (the kernel's name, not its\n"
"                      switches)\n"
"  --plot FILE.png     latency CDFs per policy under the strongest contention\n"
"                      measured (needs gnuplot)\n"
"  --quiet             no progress on stderr\n"
"  --help              this text\n"
"SIZE takes K, M, G, T suffixes.  Exit status: 0 ok, 1 error, 2 bad arguments,\n"
"3 a simulated task oopsed.\n");
}

static bool parse_uint(const char *s, unsigned long max, unsigned int *out)
{
	unsigned long v;

	if (!parse_ulong(s, max, &v))
		return false;
	*out = (unsigned int)v;
	return true;
}

/* A comma-separated subset of @names (with aliases), or "all". */
static void parse_list(const char *what, const char *arg, const char *const *names, int n,
		       const char *const *aliases, bool *sel)
{
	char buf[256], *save, *tok;

	if (strlen(arg) >= sizeof(buf))
		bad_arg("--%s: list too long", what);
	memset(sel, 0, (size_t)n * sizeof(*sel));
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;

		for (int i = 0; i < n; i++) {
			if (!strcmp(tok, "all") || !strcmp(tok, names[i]) ||
			    (aliases && aliases[i] && !strcmp(tok, aliases[i]))) {
				sel[i] = true;
				found = true;
			}
		}
		if (!found) {
			char known[160] = "";

			for (int i = 0; i < n; i++) {
				size_t at = strlen(known);

				snprintf(known + at, sizeof(known) - at, "%s%s", i ? ", " : "",
					 names[i]);
			}
			bad_arg("--%s: unknown value '%s' (one of %s, or all)", what, tok, known);
		}
	}
	for (int i = 0; i < n; i++)
		if (sel[i])
			return;
	bad_arg("--%s: empty list", what);
}

static void parse_args(int argc, char **argv)
{
	static const char *const backing_alias[NR_BACKINGS] = { NULL, NULL, "2m", "1g" };
	static const char *const contention_alias[NR_CONTENTIONS] = { NULL, NULL, "injector" };
	enum { O_SIZE = 256, O_BAR, O_RUNS, O_FULL, O_BACKING, O_POLICY, O_CONTENTION, O_RATE,
	       O_WINT, O_BOUND, O_SEED, O_KERNEL, O_IMPL, O_JSON, O_CSV, O_PLOT, O_QUIET };
	static const struct option lopts[] = {
		{ "size", required_argument, NULL, O_SIZE },
		{ "bar-size", required_argument, NULL, O_BAR },
		{ "runs", required_argument, NULL, O_RUNS },
		{ "full", no_argument, NULL, O_FULL },
		{ "backing", required_argument, NULL, O_BACKING },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "contention", required_argument, NULL, O_CONTENTION },
		{ "rate", required_argument, NULL, O_RATE },
		{ "walker-interval", required_argument, NULL, O_WINT },
		{ "bound", required_argument, NULL, O_BOUND },
		{ "seed", required_argument, NULL, O_SEED },
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "impl", required_argument, NULL, O_IMPL },
		{ "json", required_argument, NULL, O_JSON },
		{ "csv", required_argument, NULL, O_CSV },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool size_set = false, bar_set = false, runs_set = false, full = false;
	const char *policy_arg = NULL;
	char *end;
	int c;

	opt = (struct options){ .size = GiB, .bar_size = GiB, .runs = 7, .rate = 1000,
				.seed = 1, .bound = 8, .kernel = EX_KERNEL_DEFAULT };
	for (int i = 0; i < NR_BACKINGS; i++)
		opt.backing[i] = true;
	for (int i = 0; i < NR_POLICIES; i++)
		opt.policy[i] = true;
	for (int i = 0; i < NR_CONTENTIONS; i++)
		opt.contention[i] = true;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (c) {
		case O_SIZE:
			if (!parse_size(optarg, &opt.size))
				bad_arg("--size: '%s' is not a size (e.g. 1G)", optarg);
			size_set = true;
			break;
		case O_BAR:
			if (!parse_size(optarg, &opt.bar_size))
				bad_arg("--bar-size: '%s' is not a size (e.g. 32G)", optarg);
			bar_set = true;
			break;
		case O_RUNS:
			if (!parse_uint(optarg, 1000000, &opt.runs) || !opt.runs)
				bad_arg("--runs: '%s' is not a number from 1 to 1000000", optarg);
			runs_set = true;
			break;
		case O_FULL:
			full = true;
			break;
		case O_BACKING:
			parse_list("backing", optarg, backing_name, NR_BACKINGS, backing_alias,
				   opt.backing);
			break;
		case O_POLICY:
			parse_list("policy", optarg, policy_name, NR_POLICIES, NULL, opt.policy);
			policy_arg = optarg;
			break;
		case O_CONTENTION:
			parse_list("contention", optarg, contention_name, NR_CONTENTIONS,
				   contention_alias, opt.contention);
			break;
		case O_RATE:
			errno = 0;
			opt.rate = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt.rate > 0) || opt.rate > 1e7)
				bad_arg("--rate: '%s' is not a rate above 0, up to 1e7 Hz", optarg);
			break;
		case O_WINT:
			if (!parse_uint(optarg, 10000000, &opt.walker_interval_us))
				bad_arg("--walker-interval: '%s' is not a number of microseconds",
					optarg);
			break;
		case O_BOUND:
			if (!parse_uint(optarg, 1000000, &opt.bound) || !opt.bound)
				bad_arg("--bound: '%s' is not a number from 1", optarg);
			break;
		case O_SEED:
			errno = 0;
			opt.seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || *optarg == '-')
				bad_arg("--seed: '%s' is not an unsigned number", optarg);
			break;
		case O_KERNEL:
			ex_kernel_arg(optarg, opt.kernel, sizeof(opt.kernel));
			opt.kernel_set = true;
			break;
		case O_IMPL:
			opt.impl = ex_impl_arg(optarg);
			break;
		case O_JSON:
			opt.json = optarg;
			break;
		case O_CSV:
			opt.csv = optarg;
			break;
		case O_PLOT:
			opt.plot = optarg;
			break;
		case O_QUIET:
			opt.quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			bad_arg("option '%s' needs an argument", argv[optind - 1]);
		default:
			bad_arg("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	/*
	 * The tree's type1 has no policy switch: its column is the one its
	 * source is (legacy for every released kernel, eagain for a tree
	 * built as +eagain).  Asking for a policy is a usage error; only the
	 * tree's is measured.
	 */
	if (opt.impl == PINSIM_IMPL_TREE) {
		for (int i = 1; i < NR_POLICIES; i++)
			if (opt.policy[i] && policy_arg)
				ex_impl_policy_check(opt.impl, policy_name[i]);
		for (int i = 0; i < NR_POLICIES; i++)
			opt.policy[i] = i == (int)ex_impl_tree_policy();
	}
	if (!opt.kernel_set && ex_impl_kernel(opt.impl))
		snprintf(opt.kernel, sizeof(opt.kernel), "%s", ex_impl_kernel(opt.impl));
	if (full) {
		if (!size_set)
			opt.size = 16 * GiB;
		if (!bar_set)
			opt.bar_size = 32 * GiB;
		if (!runs_set)
			opt.runs = 31;
	}
	if (opt.size < 4 * KiB || opt.size % (4 * KiB) || opt.size > 512 * GiB)
		bad_arg("--size must be a multiple of 4K, up to 512G");
	if (opt.bar_size < 4 * KiB || (opt.bar_size & (opt.bar_size - 1)) || opt.bar_size > TiB)
		bad_arg("--bar-size must be a power of two from 4K to 1T");
}

/* ---------------------------------------------------------------------- */
/* The machine of one backing                                             */
/* ---------------------------------------------------------------------- */

static bool is_bar(enum backing b)
{
	return b >= B_BAR_PTE;
}

/* The size actually measured: hugetlb rounds up to whole huge pages. */
static uint64_t backing_size(enum backing b)
{
	uint64_t page = b == B_1G ? GiB : b == B_2M ? 2 * MiB : 4 * KiB;

	if (is_bar(b))
		return opt.bar_size;
	return (opt.size + page - 1) / page * page;
}

static void rig_setup(struct rig *r, enum backing b)
{
	static const unsigned int bar_order[] = { [B_BAR_PTE] = 0, [B_BAR_PMD] = 9,
						  [B_BAR_PUD] = 18 };
	uint64_t size = backing_size(b);
	struct pinsim_device_spec dev = { "0000:01:00.0", { 0 }, 0 };
	struct pinsim_config cfg;
	char path[32];

	pinsim_config_init(&cfg);
	ex_kernel_set(&cfg, opt.kernel);
	cfg.impl = opt.impl;
	cfg.ram_bytes = (is_bar(b) ? 0 : (size + GiB - 1) & ~(GiB - 1)) + 2 * GiB;
	cfg.hugetlb_2m_pages = b == B_2M ? size / (2 * MiB) : 0;
	cfg.hugetlb_1g_pages = b == B_1G ? size / GiB : 0;
	if (is_bar(b))
		cfg.max_bar_fault_order = bar_order[b];
	cfg.retry_bound = opt.bound;
	/*
	 * The ENOENT policy is half of a proposal whose other half makes
	 * follow_pfnmap_start() say -ENOENT for "not present"; with -EINVAL it
	 * would behave as LEGACY.  The other policies only see another errno.
	 */
	cfg.follow_pfnmap_enoent = true;
	/*
	 * With the tree both are its source's: refused if set (and a
	 * +PROPOSAL profile's policy describes the tree, not a switch).
	 */
	if (cfg.impl == PINSIM_IMPL_TREE) {
		cfg.follow_pfnmap_enoent = false;
		cfg.retry_policy = ex_impl_tree_policy();
	}
	/* Every machine has the device, so the injector always has a target. */
	dev.bar_size[0] = is_bar(b) ? opt.bar_size : 4 * KiB;
	runcfg = cfg;
	if (pinsim_create(&cfg, &r->m) || pinsim_proc_create(r->m, &r->p))
		die("creating the machine: %s", strerror(errno));
	if (pinsim_add_device(r->m, &dev, &r->gid) || pinsim_set_cap_ipc_lock(r->p, true))
		die("pinsim_add_device: %s", strerror(errno));
	snprintf(path, sizeof(path), "/dev/vfio/%d", r->gid);
	r->container = pinsim_open(r->p, "/dev/vfio/vfio", O_RDWR);
	r->group = pinsim_open(r->p, path, O_RDWR);
	if (r->container < 0 || r->group < 0 ||
	    pinsim_ioctl(r->p, r->group, VFIO_GROUP_SET_CONTAINER, &r->container) ||
	    pinsim_ioctl(r->p, r->container, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU))
		die("VFIO container setup: %s", strerror(errno));
	r->device = pinsim_ioctl(r->p, r->group, VFIO_GROUP_GET_DEVICE_FD, (void *)dev.name);
	if (r->device < 0)
		die("VFIO_GROUP_GET_DEVICE_FD: %s", strerror(errno));
	r->size = size;
	if (is_bar(b)) {
		/* As QEMU maps it, aligned: the leaves are bar_order's on every kernel. */
		r->va = ex_mmap_region(r->p, size, PROT_READ | PROT_WRITE, r->device,
				       (uint64_t)VFIO_PCI_BAR0_REGION_INDEX << 40);
	} else {
		int flags = MAP_PRIVATE | MAP_ANONYMOUS;

		if (b == B_2M)
			flags |= MAP_HUGETLB | MAP_HUGE_2MB;
		if (b == B_1G)
			flags |= MAP_HUGETLB | MAP_HUGE_1GB;
		r->va = pinsim_mmap(r->p, 0, size, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (r->va != PINSIM_MAP_FAILED && b == B_THP &&
		    pinsim_madvise(r->p, r->va, size, MADV_HUGEPAGE))
			die("madvise: %s", strerror(errno));
	}
	if (r->va == PINSIM_MAP_FAILED)
		die("mmap %s: %s", backing_name[b], strerror(errno));
}

static void check_level(struct rig *r, enum backing b)
{
	static const enum pinsim_level want[] = { PINSIM_LEVEL_PTE, PINSIM_LEVEL_PMD,
						   PINSIM_LEVEL_PMD, PINSIM_LEVEL_PUD,
						   PINSIM_LEVEL_PTE, PINSIM_LEVEL_PMD,
						   PINSIM_LEVEL_PUD };
	struct pinsim_page_info pi;

	if (!pinsim_pagemap(r->p, r->va, &pi) && pi.level != want[b])
		fprintf(stderr, "%s: note: %s is mapped at level %d, not %d (size too small "
				"for the leaf?)\n", prog, backing_name[b], pi.level, want[b]);
}

/* MAP_DMA, timed; returns the ns and whether it succeeded.  Then UNMAP. */
static uint64_t map_unmap(struct rig *r, bool *ok, uint64_t *jemalloc)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = r->va, .iova = IOVA, .size = r->size,
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = IOVA, .size = r->size,
	};
	struct pinsim_stats st;
	uint64_t t0, t;
	int ret, err;

	t0 = now_ns();
	ret = pinsim_ioctl(r->p, r->container, VFIO_IOMMU_MAP_DMA, &map);
	t = now_ns() - t0;
	err = errno;
	*ok = !ret;
	if (ret && err == EOWNERDEAD)
		die("MAP_DMA: the task oopsed");
	/* Sampled while mapped: pinned pages and the vfio_dma are all there. */
	if (jemalloc && !pinsim_stats(r->m, &st) && st.jemalloc &&
	    st.jemalloc_allocated > *jemalloc)
		*jemalloc = st.jemalloc_allocated;
	if (pinsim_ioctl(r->p, r->container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		die("UNMAP_DMA: %s", strerror(errno));
	return t;
}

/* VmHWM, the peak RSS, in bytes; "5" to clear_refs resets it (Linux 4.0). */
static uint64_t rss_hwm(void)
{
	char line[128];
	uint64_t kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %" SCNu64 " kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

static void rss_hwm_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

struct contenders {
	struct pinsim_walker *walker;
	struct pinsim_injector *inj[2];
	int nr_inj;
};

static void contention_start(struct rig *r, enum contention c, struct contenders *k)
{
	struct pinsim_walker_opts wo = { .interval_us = opt.walker_interval_us };
	struct pinsim_injector_opts io = {
		.action = PINSIM_INJECT_ZAP_BARS, .group_id = r->gid, .proc = r->p,
		.rate_hz = opt.rate, .seed = opt.seed,
	};

	memset(k, 0, sizeof(*k));
	if (c >= C_WALKER && pinsim_walker_start(r->p, &wo, &k->walker))
		die("pinsim_walker_start: %s", strerror(errno));
	if (c < C_INJECTOR)
		return;
	if (pinsim_injector_start(r->m, &io, &k->inj[k->nr_inj]))
		die("pinsim_injector_start: %s", strerror(errno));
	k->nr_inj++;
	io.action = PINSIM_INJECT_REFAULT;
	io.addr = r->va;
	io.len = r->size;
	io.seed = opt.seed + 1;
	if (pinsim_injector_start(r->m, &io, &k->inj[k->nr_inj]))
		die("pinsim_injector_start: %s", strerror(errno));
	k->nr_inj++;
}

static void contention_stop(struct contenders *k)
{
	struct pinsim_walker_result res;

	while (k->nr_inj)
		pinsim_injector_stop(k->inj[--k->nr_inj]);
	if (k->walker) {
		pinsim_walker_stop(k->walker, &res);
		if (res.oopsed || res.hung) {
			fprintf(stderr, "%s: the numa_maps reader %s: %s\n", prog,
				res.oopsed ? "oopsed" : "hung", res.oops);
			exit_status = 3;
		}
	}
}

/* A group that makes no progress for minutes has a task blocked for good. */
static void watchdog(int sig)
{
	static const char msg[] = "pin-bench: no progress for 10 minutes: a task is blocked\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

/* All policies of one backing and contention, interleaved. */
static void measure_group(struct rig *r, enum backing b, enum contention c)
{
	int pols[NR_POLICIES], np = 0;
	struct contenders k;
	uint64_t hwm;

	for (int p = 0; p < NR_POLICIES; p++) {
		if (!opt.policy[p])
			continue;
		pols[np++] = p;
		cells[b][p][c] = (struct cell){ .measured = true, .size = r->size };
		cells[b][p][c].ns = calloc(opt.runs, sizeof(uint64_t));
		if (!cells[b][p][c].ns)
			die("out of memory");
	}
	alarm(600);
	rss_hwm_reset();
	contention_start(r, c, &k);
	for (unsigned int run = 0; run < opt.runs; run++) {
		for (int i = 0; i < np; i++) {
			int p = pols[(run + (unsigned int)i) % (unsigned int)np];
			struct cell *cl = &cells[b][p][c];
			struct pinsim_vfio_stats vs;
			bool ok;

			pinsim_set_retry_policy(r->m, (enum pinsim_retry_policy)p, opt.bound);
			cl->ns[cl->n++] = map_unmap(r, &ok, &cl->jemalloc_peak);
			cl->ok += ok;
			if (!pinsim_vfio_stats(r->p, r->container, &vs)) {
				cl->follow_failures += vs.last.follow_failures;
				cl->retries += vs.last.retries;
			}
		}
	}
	contention_stop(&k);
	hwm = rss_hwm();
	for (int i = 0; i < np; i++) {
		struct pinsim_stats st;

		cells[b][pols[i]][c].rss_hwm = hwm;
		cells[b][pols[i]][c].jemalloc = !pinsim_stats(r->m, &st) && st.jemalloc;
	}
}

/* Returns false after an oops: the machine cannot be destroyed, nor another made. */
static bool measure_backing(enum backing b)
{
	struct pinsim_stats st;
	struct rig r;
	bool ok;

	rig_setup(&r, b);
	map_unmap(&r, &ok, NULL);	/* populate: faults and first pins */
	if (!ok)
		die("%s: the populating MAP_DMA failed", backing_name[b]);
	check_level(&r, b);
	for (int c = 0; c < NR_CONTENTIONS; c++) {
		if (!opt.contention[c])
			continue;
		if (!opt.quiet)
			fprintf(stderr, "%s: %s (%" PRIu64 " MiB), %s...\n", prog, backing_name[b],
				r.size >> 20, contention_name[c]);
		measure_group(&r, b, (enum contention)c);
	}
	if (!pinsim_stats(r.m, &st) && st.oopses) {
		fprintf(stderr, "%s: %s: %" PRIu64 " oops(es): %s\n", prog, backing_name[b],
			st.oopses, st.last_oops);
		exit_status = 3;
		return false;	/* the dead task's locks are held: no teardown */
	}
	pinsim_destroy(r.m);
	return true;
}

/* ---------------------------------------------------------------------- */
/* Results                                                                */
/* ---------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least q of the runs at or below it. */
static uint64_t percentile(const uint64_t *sorted, unsigned int n, double q)
{
	unsigned int rank = (unsigned int)ceil(q * n);

	return sorted[rank ? rank - 1 : 0];
}

/* Output order: backing, then contention, then policy. */
#define NR_CELLS (NR_BACKINGS * NR_CONTENTIONS * NR_POLICIES)

struct cell_ref {
	int b, c, p;
	struct cell *cl;
};

/* The @i-th cell in output order, or NULL if it was not measured. */
static struct cell *cell_at(int i, struct cell_ref *r)
{
	r->p = i % NR_POLICIES;
	r->c = i / NR_POLICIES % NR_CONTENTIONS;
	r->b = i / (NR_POLICIES * NR_CONTENTIONS);
	r->cl = &cells[r->b][r->p][r->c];
	return r->cl->measured ? r->cl : NULL;
}

static void compute(void)
{
	struct cell_ref r;

	for (int i = 0; i < NR_CELLS; i++) {
		struct cell *cl = cell_at(i, &r);

		if (!cl)
			continue;
		qsort(cl->ns, cl->n, sizeof(*cl->ns), cmp_u64);
		cl->p50 = percentile(cl->ns, cl->n, 0.50);
		cl->p99 = percentile(cl->ns, cl->n, 0.99);
		cl->p999 = percentile(cl->ns, cl->n, 0.999);
		cl->max = cl->ns[cl->n - 1];
	}
	for (int i = 0; i < NR_CELLS; i++) {
		struct cell *cl = cell_at(i, &r), *leg = &cells[r.b][PINSIM_RETRY_LEGACY][r.c];

		if (cl)
			cl->overhead = leg->measured && leg->p50 ?
				       (double)cl->p50 / (double)leg->p50 : NAN;
	}
}

static double per_map(const struct cell *cl, uint64_t v)
{
	return (double)v / cl->n;
}

static double ns_per_page(const struct cell *cl)
{
	return (double)cl->p50 / (double)(cl->size / (4 * KiB));
}

/* A duration with a unit that keeps 3-4 significant digits. */
static const char *fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 10000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 10000000)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 10000000000ull)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
	return buf;
}

static const char *fmt_bytes(char *buf, size_t len, uint64_t v, bool valid)
{
	if (!valid)
		snprintf(buf, len, "n/a");
	else if (v >= GiB)
		snprintf(buf, len, "%.2fG", (double)v / GiB);
	else if (v >= 10 * MiB)
		snprintf(buf, len, "%.1fM", (double)v / MiB);
	else
		snprintf(buf, len, "%.0fK", (double)v / KiB);
	return buf;
}

static void print_row(const struct cell_ref *r)
{
	const struct cell *cl = r->cl;
	char sz[24], t[4][24], jm[24], rss[24], ov[16];

	if (isnan(cl->overhead))
		snprintf(ov, sizeof(ov), "n/a");
	else
		snprintf(ov, sizeof(ov), "%.3f", cl->overhead);
	printf("%-10s %-7s %-15s %7s %5u %9s %9s %9s %9s %8.4f %9.2f %9.2f %5.1f%% %8s %8s %8s\n",
	       backing_name[r->b], policy_name[r->p], contention_name[r->c],
	       fmt_bytes(sz, sizeof(sz), cl->size, true), cl->n,
	       fmt_ns(t[0], sizeof(t[0]), cl->p50), fmt_ns(t[1], sizeof(t[1]), cl->p99),
	       fmt_ns(t[2], sizeof(t[2]), cl->p999), fmt_ns(t[3], sizeof(t[3]), cl->max),
	       ns_per_page(cl), per_map(cl, cl->follow_failures), per_map(cl, cl->retries),
	       100.0 * cl->ok / cl->n, fmt_bytes(jm, sizeof(jm), cl->jemalloc_peak, cl->jemalloc),
	       fmt_bytes(rss, sizeof(rss), cl->rss_hwm, cl->rss_hwm != 0), ov);
}

static void print_table(void)
{
	struct cell_ref r;

	ex_kernel_print(stdout, "", &runcfg);
	printf("%-10s %-7s %-15s %7s %5s %9s %9s %9s %9s %8s %9s %9s %6s %8s %8s %8s\n",
	       "backing", "policy", "contention", "size", "runs", "p50", "p99", "p999", "max",
	       "ns/page", "ff/map", "retr/map", "ok", "jemalloc", "rss-hwm", "x-legacy");
	for (int i = 0; i < NR_CELLS; i++)
		if (cell_at(i, &r))
			print_row(&r);
	printf("p50..max: MAP_DMA latency after population (failed ones included); ff/map: "
	       "follow_pfnmap_start failures per MAP_DMA; x-legacy: p50 over LEGACY's,\n"
	       "same backing and contention, measured interleaved; jemalloc: peak "
	       "stats.allocated while mapped; rss-hwm: VmHWM of the backing+contention group.\n");
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("%s: %s", path, strerror(errno));
	return f;
}

static void close_out(FILE *f, const char *path)
{
	if (ferror(f) | fclose(f))
		die("writing %s failed", path);
}

/*
 * One cell in JSON or CSV, the same columns in the same order.  Missing
 * values (no jemalloc, no LEGACY cell) are null in JSON and n/a in CSV.
 */
static const char *const key[] = {
	"backing", "policy", "contention", "size_bytes", "runs", "p50_ns", "p99_ns", "p999_ns",
	"max_ns", "ns_per_page", "follow_failures_per_map", "retries_per_map", "success_rate",
	"peak_bytes", "overhead_vs_legacy", "kernel",
};

static void write_cell(FILE *f, const struct cell_ref *r, bool json)
{
	const struct cell *cl = r->cl;
	const char *str[] = { backing_name[r->b], policy_name[r->p], contention_name[r->c] };
	const uint64_t u[] = { cl->size, cl->n, cl->p50, cl->p99, cl->p999, cl->max };
	const double d[] = { ns_per_page(cl), per_map(cl, cl->follow_failures),
			     per_map(cl, cl->retries), (double)cl->ok / cl->n };
	const char *sep = json ? ", " : ",";
	int k = 0;

	if (json)
		fputc('{', f);
	for (int i = 0; i < 3; i++, k++)
		fprintf(f, json ? "%s\"%s\": \"%s\"" : "%s%.0s%s", i ? sep : "", key[k], str[i]);
	for (int i = 0; i < 6; i++, k++)
		fprintf(f, json ? "%s\"%s\": %" PRIu64 : "%s%.0s%" PRIu64, sep, key[k], u[i]);
	for (int i = 0; i < 4; i++, k++)
		fprintf(f, json ? "%s\"%s\": %.4f" : "%s%.0s%.4f", sep, key[k], d[i]);
	fprintf(f, json ? "%s\"%s\": " : "%s%.0s", sep, key[k++]);
	if (cl->jemalloc)
		fprintf(f, "%" PRIu64, cl->jemalloc_peak);
	else
		fputs(json ? "null" : "n/a", f);
	fprintf(f, json ? "%s\"%s\": " : "%s%.0s", sep, key[k++]);
	if (isnan(cl->overhead))
		fputs(json ? "null" : "n/a", f);
	else
		fprintf(f, "%.4f", cl->overhead);
	/* JSON: the kernel's name, overrides and switches; CSV: its name. */
	fputs(sep, f);
	if (json)
		ex_kernel_json(f, &runcfg);
	else
		fputs(runcfg.kernel, f);
	fputs(json ? "}" : "\n", f);
}

static void write_json(const char *path)
{
	FILE *f = open_out(path);
	struct cell_ref r;
	bool first = true;

	fprintf(f, "[\n");
	for (int i = 0; i < NR_CELLS; i++) {
		if (!cell_at(i, &r))
			continue;
		fputs(first ? "  " : ",\n  ", f);
		write_cell(f, &r, true);
		first = false;
	}
	fprintf(f, "\n]\n");
	close_out(f, path);
}

static void write_csv(const char *path)
{
	FILE *f = open_out(path);
	struct cell_ref r;

	for (size_t k = 0; k < sizeof(key) / sizeof(key[0]); k++)
		fprintf(f, "%s%s", k ? "," : "", key[k]);
	fputc('\n', f);
	for (int i = 0; i < NR_CELLS; i++)
		if (cell_at(i, &r))
			write_cell(f, &r, false);
	close_out(f, path);
}

/* ---------------------------------------------------------------------- */
/* Plot                                                                   */
/* ---------------------------------------------------------------------- */

static bool have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char dir[4096];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		if (n && n < sizeof(dir) - 9) {
			memcpy(dir, path, n);
			strcpy(dir + n, "/gnuplot");
			if (!access(dir, X_OK))
				return true;
		}
		path += n + (path[n] == ':');
	}
	return false;
}

/*
 * One panel per backing: the latency CDF of each policy under the
 * strongest contention measured, from inline data blocks (gnuplot >= 5).
 */
static void write_plot(const char *png)
{
	int c = NR_CONTENTIONS - 1, nb = 0, cols, rows;
	FILE *g;

	while (c > 0 && !opt.contention[c])
		c--;
	for (int b = 0; b < NR_BACKINGS; b++)
		nb += opt.backing[b];
	cols = nb < 3 ? nb : 3;
	rows = (nb + cols - 1) / cols;
	g = popen("gnuplot", "w");
	if (!g)
		die("cannot run gnuplot: %s", strerror(errno));
	fprintf(g, "set terminal pngcairo size %d,%d noenhanced\nset output '%s'\n", 520 * cols,
		380 * rows, png);
	for (int b = 0; b < NR_BACKINGS; b++)
		for (int p = 0; p < NR_POLICIES; p++) {
			const struct cell *cl = &cells[b][p][c];

			if (!cl->measured)
				continue;
			fprintf(g, "$d%d_%d << EOD\n", b, p);
			for (unsigned int i = 0; i < cl->n; i++)
				fprintf(g, "%.3f %.4f\n", cl->ns[i] / 1e3, (i + 1.0) / cl->n);
			fprintf(g, "EOD\n");
		}
	fprintf(g, "set multiplot layout %d,%d title 'pin-bench: MAP_DMA latency CDF per "
		   "policy, contention %s'\n", rows, cols, contention_name[c]);
	fprintf(g, "set logscale x\nset xlabel 'latency (us)'\nset ylabel 'fraction of runs'\n"
		   "set key top left opaque\nset yrange [0:1]\n");
	for (int b = 0; b < NR_BACKINGS; b++) {
		bool first = true;

		if (!opt.backing[b])
			continue;
		fprintf(g, "set title '%s (%" PRIu64 " MiB)'\nplot ", backing_name[b],
			backing_size((enum backing)b) >> 20);
		for (int p = 0; p < NR_POLICIES; p++) {
			const struct cell *cl = &cells[b][p][c];

			if (!cl->measured)
				continue;
			/* A policy that fails says so: its CDF is of failures too. */
			fprintf(g, "%s$d%d_%d using 1:2 with steps title '%s", first ? "" : ", ",
				b, p, policy_name[p]);
			if (cl->ok < cl->n)
				fprintf(g, " (%.0f%% ok)", 100.0 * cl->ok / cl->n);
			fputc('\'', g);
			first = false;
		}
		fprintf(g, "\n");
	}
	fprintf(g, "unset multiplot\n");
	if (pclose(g))
		die("gnuplot failed to write %s", png);
	printf("plot: %s\n", png);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGALRM, watchdog);
	if (opt.plot && !have_gnuplot()) {
		fprintf(stderr, "%s: --plot needs gnuplot, which is not installed (Debian: "
				"apt-get install gnuplot-nox)\n", prog);
		return 1;
	}
	for (int b = 0; b < NR_BACKINGS; b++)
		if (opt.backing[b] && !measure_backing((enum backing)b))
			break;
	compute();
	print_table();
	if (opt.json)
		write_json(opt.json);
	if (opt.csv)
		write_csv(opt.csv);
	if (opt.plot)
		write_plot(opt.plot);
	if (exit_status == 3) {
		/* A machine with a dead task was left as it is: skip exit-time checks. */
		fflush(stdout);
		_exit(3);
	}
	for (int b = 0; b < NR_BACKINGS; b++)
		for (int p = 0; p < NR_POLICIES; p++)
			for (int c = 0; c < NR_CONTENTIONS; c++)
				free(cells[b][p][c].ns);
	return exit_status;
}
