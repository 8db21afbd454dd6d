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
 * Percentiles are nearest-rank and shown only when the run count supports
 * them (p99 from 100 runs, p999 from 1000).  A policy's overhead is the
 * median of its per-run ratios to LEGACY's MAP_DMA of the same run (the
 * runs are interleaved), with a bootstrap 95% confidence interval.
 *
 * Each RAM backing also gets a floor, measured in the same run: a loop
 * doing only the memory operations the kernel's algorithm must do per page
 * (4K: the page-table lock taken and released, the FOLL_PIN reference
 * added, the pages[] batch filled and scanned; THP and hugetlb: the batch
 * filled and scanned), so that pinsim's time reads as a ratio to it.
 *
 * Rows are printed, and --json/--csv rows written and flushed, as each
 * backing x contention group finishes: an interrupted run keeps them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/mman.h>
#include <linux/vfio.h>
#include <math.h>
#include <pthread.h>
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
	bool quiet, samples;
	unsigned int watchdog_s;	/* 0: the default, scaled with --size */
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
	uint64_t *sorted;		/* ns, sorted (ns keeps the run order) */
	uint64_t p50, p99, p999, max;
	double overhead;		/* NAN: no LEGACY cell to compare with */
	double ci_lo, ci_hi;		/* bootstrap 95% CI of the median ratio */
	uint64_t floor_ns;		/* the backing's floor (0: none) */
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
static FILE *json_out, *csv_out;	/* opened before any work */
static FILE *table_out;			/* stdout, or stderr when an output is stdout */
static unsigned int json_rows, groups_done, groups_total;
static uint64_t bench_t0;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

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
"  --json FILE         an array with one object per cell (version, kernel and\n"
"                      its switches, every option), written as cells finish;\n"
"                      '-' is stdout (the table then goes to stderr)\n"
"  --csv FILE          the same columns as CSV (the kernel's name, not its\n"
"                      switches), written as cells finish; '-' is stdout\n"
"  --samples           the JSON gains each run's latency (samples_ns, in run\n"
"                      order)\n"
"  --plot FILE.png     latency CDFs per policy under the strongest contention\n"
"                      measured (needs gnuplot)\n"
"  --watchdog SECONDS  stop after this long without progress (a run done,\n"
"                      pages pinned); default 60 + 1 per GiB of --size.  A\n"
"                      livelock exits 4, a blocked task 3 (who holds what);\n"
"                      the rows done are kept\n"
"  --quiet             no progress on stderr (there is none either when stderr\n"
"                      is not a terminal)\n"
"  --version           the program's and the library's version\n"
"  --help              this text\n"
"SIZE takes K, M, G, T suffixes.  Exit status: 0 ok, 1 error, 2 bad arguments,\n"
"3 a simulated task oopsed or stayed blocked, 4 a livelock (watchdog).\n");
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
	       O_WINT, O_BOUND, O_SEED, O_KERNEL, O_IMPL, O_JSON, O_CSV, O_PLOT, O_QUIET,
	       O_SAMPLES, O_WATCHDOG, O_VERSION };
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
		{ "samples", no_argument, NULL, O_SAMPLES },
		{ "watchdog", required_argument, NULL, O_WATCHDOG },
		{ "version", no_argument, NULL, O_VERSION },
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
		ex_check_value(lopts, c, argv);
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
		case O_SAMPLES:
			opt.samples = true;
			break;
		case O_WATCHDOG:
			if (!parse_uint(optarg, 864000, &opt.watchdog_s) || !opt.watchdog_s)
				bad_arg("--watchdog: '%s' is not a number of seconds from 1",
					optarg);
			break;
		case O_VERSION:
			ex_version();
		case 'h':
			usage(stdout);
			exit(0);
		default:
			ex_getopt_error(c, argv);
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
	if (opt.json && opt.csv && !strcmp(opt.json, "-") && !strcmp(opt.csv, "-"))
		bad_arg("--json - and --csv -: only one output can be stdout");
	if (!opt.watchdog_s)
		opt.watchdog_s = 60 + (unsigned int)(opt.size >> 30);
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
	ex_wd_tick();
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
	ex_wd_tick();
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
	if (!kb) {
		struct rusage ru;

		/* The process's peak, not the group's: no reset for it. */
		if (!getrusage(RUSAGE_SELF, &ru))
			kb = (uint64_t)ru.ru_maxrss;
	}
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

/* ---------------------------------------------------------------------- */
/* Watchdog, progress, floor                                              */
/* ---------------------------------------------------------------------- */

static void emit_group(enum backing b, enum contention c);
static void json_close(void);

static struct pinsim_proc *wd_proc;	/* the backing's process, under ex_wd.lock */
static uint64_t wd_faults;

static void wd_watch(struct pinsim *m, struct pinsim_proc *p)
{
	ex_wd_set_sim(m);
	pthread_mutex_lock(&ex_wd.lock);
	wd_proc = p;
	pthread_mutex_unlock(&ex_wd.lock);
}

/* Progress: pages pinned; activity: the process's faults (the retry rounds). */
static void wd_sample(uint64_t *progress, uint64_t *activity)
{
	struct pinsim_proc_stats ps;

	if (!wd_proc || pinsim_proc_stats(wd_proc, &ps))
		return;
	wd_faults = ps.faults_pte + ps.faults_pmd + ps.faults_pud + ps.fault_retries;
	*progress += ps.locked_vm;
	*activity += wd_faults;
}

/* The watchdog fired: its verdict; the rows done are out already. */
static void wd_fire(const struct ex_stall_info *in)
{
	char loop[384];

	snprintf(loop, sizeof(loop),
		 "vfio_pin_pages_remote() -> vaddr_get_pfns() -> follow_fault_pfn() retry loop: "
		 "%" PRIu64 " page faults of the process so far (fixup_user_fault() faults the "
		 "range in each round)", wd_faults);
	ex_wd_print(stderr, in, loop);
	fprintf(table_out, "stopped by the watchdog (%s) after %u of %u groups: the rows above "
			   "are complete\n", in->kind == EX_STALL_LIVELOCK ? "livelock" : "blocked",
		groups_done, groups_total);
	json_close();
	if (csv_out)
		fflush(csv_out);
	fflush(stdout);
	fflush(stderr);
	_exit(in->kind == EX_STALL_LIVELOCK ? 4 : 3);
}

/* "i/N" groups with an estimate, on a terminal only, at most once a second. */
static void progress_line(enum backing b, enum contention c, unsigned int run)
{
	static uint64_t last;
	uint64_t t = now_ns();
	double done, eta;

	if (!ex_progress_wanted(opt.quiet) || (t - last < 1000000000ull && run < opt.runs))
		return;
	last = t;
	done = (groups_done + (double)run / opt.runs) / groups_total;
	eta = done > 0 ? (double)(t - bench_t0) / 1e9 * (1 - done) / done : 0;
	fprintf(stderr, "\r%s: group %u/%u (%s, %s): run %u/%u, about %.0f s left\033[K%s", prog,
		groups_done + 1, groups_total, backing_name[b], contention_name[c], run, opt.runs,
		eta, run == opt.runs ? "\n" : "");
}

/* As big as struct page (64 bytes): the same memory traffic per page. */
struct floor_page {
	_Atomic int refcount;
	char pad[60];
};

#define FLOOR_BATCH 512		/* vfio_batch: PAGE_SIZE / sizeof(struct page *) */
#define FLOOR_MAX_PAGES (1UL << 22)

static volatile unsigned long floor_sink;

/*
 * One pass of the floor over @n pages: per page, for 4K (@small) the
 * page-table lock taken and released (one per PTE table, as
 * pte_offset_map_lock() in follow_page_pte()) and the FOLL_PIN reference
 * added (try_grab_folio(): refcount += GUP_PIN_COUNTING_BIAS, a locked add
 * as atomic_add()), then the pages[] batch filled; per batch, the scan for
 * a contiguous run (vfio_pin_pages_remote()'s num_pages_contiguous()).
 */
static uint64_t floor_pass(struct floor_page *pg, unsigned long n, bool small,
			   pthread_spinlock_t *ptl)
{
	struct floor_page *batch[FLOOR_BATCH];
	unsigned long contig = 0;
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < n; i += FLOOR_BATCH) {
		unsigned long m = n - i < FLOOR_BATCH ? n - i : FLOOR_BATCH, k;

		for (k = 0; k < m; k++) {
			struct floor_page *p = &pg[i + k];

			if (small) {
				pthread_spin_lock(&ptl[(i + k) / FLOOR_BATCH]);
				atomic_fetch_add(&p->refcount, 1024);
				pthread_spin_unlock(&ptl[(i + k) / FLOOR_BATCH]);
			}
			batch[k] = p;
		}
		for (k = 1; k < m && batch[k] == batch[0] + k; k++)
			;
		contig += k;
	}
	floor_sink = contig;
	return now_ns() - t0;
}

/*
 * The floor of a RAM backing of @size bytes: the median of a few passes
 * after a warm-up (the MAP_DMAs measured are after population too).  Past
 * FLOOR_MAX_PAGES pages it is measured on that many and scaled.
 */
static uint64_t measure_floor(enum backing b, uint64_t size)
{
	unsigned long n = size / (4 * KiB), m = n < FLOOR_MAX_PAGES ? n : FLOOR_MAX_PAGES;
	unsigned long nptl = (m + FLOOR_BATCH - 1) / FLOOR_BATCH;
	unsigned int passes = opt.runs < 3 ? 3 : opt.runs > 15 ? 15 : opt.runs;
	struct floor_page *pg = calloc(m, sizeof(*pg));
	pthread_spinlock_t *ptl = calloc(nptl, sizeof(*ptl));
	uint64_t t[15], ns = 0;

	ex_wd_doing("%s: measuring the floor over %lu pages", backing_name[b], m);
	if (!pg || !ptl)
		goto out;
	for (unsigned long i = 0; i < nptl; i++)
		pthread_spin_init(&ptl[i], PTHREAD_PROCESS_PRIVATE);
	floor_pass(pg, m, b == B_4K, ptl);
	for (unsigned int i = 0; i < passes; i++) {
		t[i] = floor_pass(pg, m, b == B_4K, ptl);
		ex_wd_tick();
	}
	qsort(t, passes, sizeof(t[0]), cmp_u64);
	ns = (uint64_t)((double)t[passes / 2] * n / m);
	for (unsigned long i = 0; i < nptl; i++)
		pthread_spin_destroy(&ptl[i]);
out:
	free(pg);
	free((void *)ptl);
	return ns;
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
	rss_hwm_reset();
	contention_start(r, c, &k);
	for (unsigned int run = 0; run < opt.runs; run++) {
		for (int i = 0; i < np; i++) {
			int p = pols[(run + (unsigned int)i) % (unsigned int)np];
			struct cell *cl = &cells[b][p][c];
			struct pinsim_vfio_stats vs;
			bool ok;

			pinsim_set_retry_policy(r->m, (enum pinsim_retry_policy)p, opt.bound);
			ex_wd_doing("%s %s, policy %s, run %u/%u: VFIO_IOMMU_MAP_DMA of %" PRIu64
				    " MiB", backing_name[b], contention_name[c], policy_name[p],
				    run + 1, opt.runs, r->size >> 20);
			cl->ns[cl->n++] = map_unmap(r, &ok, &cl->jemalloc_peak);
			cl->ok += ok;
			if (!pinsim_vfio_stats(r->p, r->container, &vs)) {
				cl->follow_failures += vs.last.follow_failures;
				cl->retries += vs.last.retries;
			}
		}
		progress_line(b, c, run + 1);
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
	uint64_t floor_ns;
	struct rig r;
	bool ok;

	ex_wd_doing("%s: creating the machine and mapping %" PRIu64 " MiB", backing_name[b],
		    backing_size(b) >> 20);
	rig_setup(&r, b);
	wd_watch(r.m, r.p);
	ex_wd_doing("%s: the populating MAP_DMA", backing_name[b]);
	map_unmap(&r, &ok, NULL);	/* populate: faults and first pins */
	if (!ok)
		die("%s: the populating MAP_DMA failed", backing_name[b]);
	check_level(&r, b);
	floor_ns = is_bar(b) ? 0 : measure_floor(b, r.size);
	for (int c = 0; c < NR_CONTENTIONS; c++) {
		if (!opt.contention[c])
			continue;
		measure_group(&r, b, (enum contention)c);
		for (int p = 0; p < NR_POLICIES; p++)
			cells[b][p][c].floor_ns = floor_ns;
		groups_done++;
		emit_group(b, (enum contention)c);
	}
	if (!pinsim_stats(r.m, &st) && st.oopses) {
		fprintf(stderr, "%s: %s: %" PRIu64 " oops(es): %s\n", prog, backing_name[b],
			st.oopses, st.last_oops);
		exit_status = 3;
		return false;	/* the dead task's locks are held: no teardown */
	}
	wd_watch(NULL, NULL);
	ex_wd_doing("%s: destroying the machine", backing_name[b]);
	pinsim_destroy(r.m);
	return true;
}

/* ---------------------------------------------------------------------- */
/* Results                                                                */
/* ---------------------------------------------------------------------- */

/* Nearest rank: the smallest value with at least q of the runs at or below it. */
static uint64_t percentile(const uint64_t *sorted, unsigned int n, double q)
{
	unsigned int rank = (unsigned int)ceil(q * n);

	return sorted[rank ? rank - 1 : 0];
}

/* Runs a percentile needs to mean anything: p99 from 100, p999 from 1000. */
static bool has_p99(const struct cell *cl)
{
	return cl->n >= 100;
}

static bool has_p999(const struct cell *cl)
{
	return cl->n >= 1000;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_d(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* xorshift64*: the bootstrap's resampling, from --seed (reproducible). */
static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

#define BOOTSTRAP 2000

/*
 * @cl's overhead over LEGACY's cell @leg of the same group: the median of
 * the per-run ratios (run r of both was measured back to back: the
 * interleaving), and the 2.5th and 97.5th percentiles of that median over
 * BOOTSTRAP resamples of the runs.
 */
static void overhead_ci(struct cell *cl, const struct cell *leg)
{
	unsigned int n = cl->n < leg->n ? cl->n : leg->n;
	double *ratio = calloc(n, sizeof(double)), *res = calloc(n, sizeof(double));
	double *med = calloc(BOOTSTRAP, sizeof(double));
	uint64_t x = opt.seed * 0x9e3779b97f4a7c15ull + 1;

	cl->overhead = cl->ci_lo = cl->ci_hi = NAN;
	if (!ratio || !res || !med || !n)
		goto out;
	for (unsigned int r = 0; r < n; r++)
		ratio[r] = (double)cl->ns[r] / (double)(leg->ns[r] ? leg->ns[r] : 1);
	memcpy(res, ratio, n * sizeof(double));
	cl->overhead = median_d(res, n);
	for (int k = 0; k < BOOTSTRAP; k++) {
		for (unsigned int i = 0; i < n; i++)
			res[i] = ratio[rng_next(&x) % n];
		med[k] = median_d(res, n);
	}
	qsort(med, BOOTSTRAP, sizeof(double), cmp_double);
	cl->ci_lo = med[(int)(0.025 * BOOTSTRAP)];
	cl->ci_hi = med[(int)(0.975 * BOOTSTRAP) - 1];
out:
	free(ratio);
	free(res);
	free(med);
}

/*
 * What the CI lets one say.  "no measurable overhead" needs the CI to hold
 * 1.00 and end at or below 1.01; a CI wider than that around 1.00 cannot
 * decide it at this run count.
 */
static const char *verdict(const struct cell *cl, int p)
{
	if (isnan(cl->overhead))
		return NULL;
	if (p == PINSIM_RETRY_LEGACY)
		return "the reference";
	if (cl->ci_lo <= 1.0 && cl->ci_hi >= 1.0 && cl->ci_hi <= 1.01)
		return "no measurable overhead";
	if (cl->ci_lo > 1.0)
		return "slower than legacy";
	if (cl->ci_hi < 1.0)
		return "faster than legacy";
	return "cannot be decided at this run count (more --runs)";
}

static double per_map(const struct cell *cl, uint64_t v)
{
	return (double)v / cl->n;
}

static double ns_per_page(const struct cell *cl)
{
	return (double)cl->p50 / (double)(cl->size / (4 * KiB));
}

static double x_floor(const struct cell *cl)
{
	return cl->floor_ns ? (double)cl->p50 / (double)cl->floor_ns : NAN;
}

/* The group's cells: percentiles, then each policy against LEGACY. */
static void compute_group(enum backing b, enum contention c)
{
	const struct cell *leg = &cells[b][PINSIM_RETRY_LEGACY][c];

	for (int p = 0; p < NR_POLICIES; p++) {
		struct cell *cl = &cells[b][p][c];

		if (!cl->measured || !cl->n)
			continue;
		cl->sorted = malloc(cl->n * sizeof(uint64_t));
		if (!cl->sorted)
			die("out of memory");
		memcpy(cl->sorted, cl->ns, cl->n * sizeof(uint64_t));
		qsort(cl->sorted, cl->n, sizeof(uint64_t), cmp_u64);
		cl->p50 = percentile(cl->sorted, cl->n, 0.50);
		cl->p99 = percentile(cl->sorted, cl->n, 0.99);
		cl->p999 = percentile(cl->sorted, cl->n, 0.999);
		cl->max = cl->sorted[cl->n - 1];
	}
	for (int p = 0; p < NR_POLICIES; p++) {
		struct cell *cl = &cells[b][p][c];

		cl->overhead = cl->ci_lo = cl->ci_hi = NAN;
		/* Only between cells that both succeeded every run. */
		if (cl->measured && cl->n && leg->measured && leg->n && cl->ok == cl->n &&
		    leg->ok == leg->n)
			overhead_ci(cl, leg);
	}
}

/* One unit per column: µs, MiB. */
static const char *fmt_us(char *buf, size_t len, uint64_t ns, bool valid)
{
	if (!valid)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", ns / 1e3);
	return buf;
}

static const char *fmt_mib(char *buf, size_t len, uint64_t v, bool valid)
{
	if (!valid)
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.1f", (double)v / MiB);
	return buf;
}

static void print_header(void)
{
	ex_kernel_print(table_out, "", &runcfg);
	fprintf(table_out, "%-10s %-7s %-15s %9s %5s %10s %10s %10s %10s %8s %7s %8s %6s %9s "
			   "%9s %22s %10s %7s\n", "backing", "policy", "contention", "size_MiB",
		"runs", "p50_us", "p99_us", "p999_us", "max_us", "ns/page", "ff/map", "retr/map",
		"ok_%", "jemal_MiB", "rss_MiB", "x-legacy [95% CI]", "floor_us", "x-floor");
	fflush(table_out);
}

static void print_row(enum backing b, int p, enum contention c)
{
	const struct cell *cl = &cells[b][p][c];
	char t[4][24], jm[24], rss[24], ov[48], fl[24], xf[16];

	if (isnan(cl->overhead))
		snprintf(ov, sizeof(ov), "n/a");
	else
		snprintf(ov, sizeof(ov), "%.3f [%.3f, %.3f]", cl->overhead, cl->ci_lo, cl->ci_hi);
	if (cl->floor_ns) {
		snprintf(fl, sizeof(fl), "%.1f", cl->floor_ns / 1e3);
		snprintf(xf, sizeof(xf), "%.2f", x_floor(cl));
	} else {
		snprintf(fl, sizeof(fl), "n/a");
		snprintf(xf, sizeof(xf), "n/a");
	}
	fprintf(table_out, "%-10s %-7s %-15s %9.1f %5u %10s %10s %10s %10s %8.2f %7.2f %8.2f "
			   "%6.1f %9s %9s %22s %10s %7s\n",
		backing_name[b], policy_name[p], contention_name[c], (double)cl->size / MiB, cl->n,
		fmt_us(t[0], sizeof(t[0]), cl->p50, true),
		fmt_us(t[1], sizeof(t[1]), cl->p99, has_p99(cl)),
		fmt_us(t[2], sizeof(t[2]), cl->p999, has_p999(cl)),
		fmt_us(t[3], sizeof(t[3]), cl->max, true), ns_per_page(cl),
		per_map(cl, cl->follow_failures), per_map(cl, cl->retries), 100.0 * cl->ok / cl->n,
		fmt_mib(jm, sizeof(jm), cl->jemalloc_peak, cl->jemalloc),
		fmt_mib(rss, sizeof(rss), cl->rss_hwm, cl->rss_hwm != 0), ov, fl, xf);
}

static void print_legend(void)
{
	fprintf(table_out,
		"p50..max: MAP_DMA latency after population, failed ones included (p99 shown from "
		"100 runs, p999 from 1000);\nff/map: follow_pfnmap_start failures per MAP_DMA; "
		"x-legacy: median of the per-run ratios to LEGACY's MAP_DMA of the same run\n"
		"(interleaved), bootstrap 95%% CI, only when both cells succeeded every run; "
		"jemal_MiB: peak jemalloc stats.allocated while mapped;\nrss_MiB: peak RSS "
		"of the group (VmHWM, reset per group); floor_us: the per-page memory operations alone "
		"(4K: PTL, FOLL_PIN reference, pages[] fill\nand scan; THP/hugetlb: pages[] fill "
		"and scan); x-floor: p50 over the floor.\n");
}

static void json_cfg_list(FILE *f, const char *key, const bool *sel,
			  const char *const *names, int n)
{
	bool first = true;

	fprintf(f, "\"%s\": \"", key);
	for (int i = 0; i < n; i++)
		if (sel[i]) {
			fprintf(f, "%s%s", first ? "" : ",", names[i]);
			first = false;
		}
	fputs("\", ", f);
}

/* Every option's value: the run can be repeated from one JSON row. */
static void json_config(FILE *f)
{
	fprintf(f, "\"config\": {\"size_bytes\": %" PRIu64 ", \"bar_size_bytes\": %" PRIu64
		   ", \"runs\": %u, ", opt.size, opt.bar_size, opt.runs);
	json_cfg_list(f, "backing", opt.backing, backing_name, NR_BACKINGS);
	json_cfg_list(f, "policy", opt.policy, policy_name, NR_POLICIES);
	json_cfg_list(f, "contention", opt.contention, contention_name, NR_CONTENTIONS);
	fprintf(f, "\"rate_hz\": %g, \"walker_interval_us\": %u, \"bound\": %u, \"seed\": %"
		   PRIu64 ", \"samples\": %s, \"watchdog_s\": %u, \"quiet\": %s}",
		opt.rate, opt.walker_interval_us, opt.bound, opt.seed,
		opt.samples ? "true" : "false", opt.watchdog_s, opt.quiet ? "true" : "false");
}

static void json_num(FILE *f, const char *key, double v, bool valid)
{
	if (valid && !isnan(v))
		fprintf(f, ", \"%s\": %.4f", key, v);
	else
		fprintf(f, ", \"%s\": null", key);
}

static void json_u64(FILE *f, const char *key, uint64_t v, bool valid)
{
	if (valid)
		fprintf(f, ", \"%s\": %" PRIu64, key, v);
	else
		fprintf(f, ", \"%s\": null", key);
}

static void write_json_cell(FILE *f, enum backing b, int p, enum contention c)
{
	const struct cell *cl = &cells[b][p][c];
	const char *v = verdict(cl, p);

	fputs(json_rows++ ? ",\n  {" : "  {", f);
	ex_version_json(f);
	fprintf(f, ", \"backing\": \"%s\", \"policy\": \"%s\", \"contention\": \"%s\"",
		backing_name[b], policy_name[p], contention_name[c]);
	json_u64(f, "size_bytes", cl->size, true);
	json_u64(f, "runs", cl->n, true);
	json_u64(f, "p50_ns", cl->p50, true);
	json_u64(f, "p99_ns", cl->p99, has_p99(cl));
	json_u64(f, "p999_ns", cl->p999, has_p999(cl));
	json_u64(f, "max_ns", cl->max, true);
	json_num(f, "ns_per_page", ns_per_page(cl), true);
	json_num(f, "follow_failures_per_map", per_map(cl, cl->follow_failures), true);
	json_num(f, "retries_per_map", per_map(cl, cl->retries), true);
	json_num(f, "success_rate", (double)cl->ok / cl->n, true);
	json_u64(f, "peak_bytes", cl->jemalloc_peak, cl->jemalloc);
	json_u64(f, "rss_hwm_bytes", cl->rss_hwm, cl->rss_hwm != 0);
	json_num(f, "overhead_vs_legacy", cl->overhead, true);
	json_num(f, "overhead_ci_low", cl->ci_lo, true);
	json_num(f, "overhead_ci_high", cl->ci_hi, true);
	fputs(", \"overhead_verdict\": ", f);
	if (v)
		ex_json_string(f, v);
	else
		fputs("null", f);
	json_u64(f, "floor_ns", cl->floor_ns, cl->floor_ns != 0);
	json_num(f, "x_floor", x_floor(cl), cl->floor_ns != 0);
	fputs(", ", f);
	ex_kernel_json(f, &runcfg);
	fputs(", ", f);
	json_config(f);
	if (opt.samples) {
		fputs(", \"samples_ns\": [", f);
		for (unsigned int i = 0; i < cl->n; i++)
			fprintf(f, "%s%" PRIu64, i ? ", " : "", cl->ns[i]);
		fputc(']', f);
	}
	fputc('}', f);
}

static const char csv_header[] =
	"backing,policy,contention,size_bytes,runs,p50_ns,p99_ns,p999_ns,max_ns,ns_per_page,"
	"follow_failures_per_map,retries_per_map,success_rate,peak_bytes,rss_hwm_bytes,"
	"overhead_vs_legacy,overhead_ci_low,overhead_ci_high,floor_ns,x_floor,kernel,version\n";

static void csv_u64(FILE *f, uint64_t v, bool valid)
{
	if (valid)
		fprintf(f, ",%" PRIu64, v);
	else
		fputs(",n/a", f);
}

static void csv_num(FILE *f, double v)
{
	if (isnan(v))
		fputs(",n/a", f);
	else
		fprintf(f, ",%.4f", v);
}

static void write_csv_cell(FILE *f, enum backing b, int p, enum contention c)
{
	const struct cell *cl = &cells[b][p][c];

	fprintf(f, "%s,%s,%s", backing_name[b], policy_name[p], contention_name[c]);
	csv_u64(f, cl->size, true);
	csv_u64(f, cl->n, true);
	csv_u64(f, cl->p50, true);
	csv_u64(f, cl->p99, has_p99(cl));
	csv_u64(f, cl->p999, has_p999(cl));
	csv_u64(f, cl->max, true);
	csv_num(f, ns_per_page(cl));
	csv_num(f, per_map(cl, cl->follow_failures));
	csv_num(f, per_map(cl, cl->retries));
	csv_num(f, (double)cl->ok / cl->n);
	csv_u64(f, cl->jemalloc_peak, cl->jemalloc);
	csv_u64(f, cl->rss_hwm, cl->rss_hwm != 0);
	csv_num(f, cl->overhead);
	csv_num(f, cl->ci_lo);
	csv_num(f, cl->ci_hi);
	csv_u64(f, cl->floor_ns, cl->floor_ns != 0);
	csv_num(f, x_floor(cl));
	fprintf(f, ",%s,%s\n", runcfg.kernel, pinsim_version());
}

/* A group done: its rows in the table, the JSON and the CSV, flushed. */
static void emit_group(enum backing b, enum contention c)
{
	compute_group(b, c);
	for (int p = 0; p < NR_POLICIES; p++) {
		const struct cell *cl = &cells[b][p][c];

		if (!cl->measured || !cl->n)
			continue;
		print_row(b, p, c);
		if (json_out)
			write_json_cell(json_out, b, p, c);
		if (csv_out)
			write_csv_cell(csv_out, b, p, c);
	}
	for (int p = 0; p < NR_POLICIES; p++) {
		const struct cell *cl = &cells[b][p][c];
		const char *v = verdict(cl, p);

		if (v && p != PINSIM_RETRY_LEGACY)
			fprintf(table_out, "  %s vs legacy (%s, %s): %.3f [%.3f, %.3f] over %u runs: "
					   "%s\n", policy_name[p], backing_name[b], contention_name[c],
				cl->overhead, cl->ci_lo, cl->ci_hi, cl->n, v);
	}
	fflush(table_out);
	if (json_out)
		fflush(json_out);
	if (csv_out)
		fflush(csv_out);
}

/* The JSON array's end: after the last row, or when the watchdog stops the run. */
static void json_close(void)
{
	if (!json_out)
		return;
	fputs(json_rows ? "\n]\n" : "]\n", json_out);
	fflush(json_out);
}

/* Interrupted: the rows done are written; close the JSON array too. */
static void on_signal(int sig)
{
	static const char end[] = "\n]\n";

	/* Rows are flushed as written: only the array's end is missing. */
	if (json_out) {
		if (write(fileno(json_out), end, json_rows ? 3 : 2) < 0)
			_exit(128 + sig);
	}
	_exit(128 + sig);
}

static void open_outputs(void)
{
	if (opt.json) {
		json_out = ex_open_out("--json", opt.json);
		fputs("[\n", json_out);
		fflush(json_out);
	}
	if (opt.csv) {
		csv_out = ex_open_out("--csv", opt.csv);
		fputs(csv_header, csv_out);
		fflush(csv_out);
	}
	table_out = json_out == stdout || csv_out == stdout ? stderr : stdout;
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
				fprintf(g, "%.3f %.4f\n", cl->sorted[i] / 1e3, (i + 1.0) / cl->n);
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
	if (opt.plot && !have_gnuplot()) {
		fprintf(stderr, "%s: --plot needs gnuplot, which is not installed (Debian: "
				"apt-get install gnuplot-nox)\n", prog);
		return 1;
	}
	/* Outputs first: a bad path fails before any work. */
	open_outputs();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (int b = 0; b < NR_BACKINGS; b++)
		for (int c = 0; c < NR_CONTENTIONS; c++)
			groups_total += opt.backing[b] && opt.contention[c];
	bench_t0 = now_ns();
	/* The switches every machine will have, for the header (rig_setup()). */
	pinsim_config_init(&runcfg);
	ex_kernel_set(&runcfg, opt.kernel);
	runcfg.impl = opt.impl;
	print_header();
	ex_wd_start(opt.watchdog_s, wd_sample, wd_fire);
	for (int b = 0; b < NR_BACKINGS; b++)
		if (opt.backing[b] && !measure_backing((enum backing)b))
			break;
	print_legend();
	json_close();
	if ((json_out && !ex_close_out(json_out)) || (csv_out && !ex_close_out(csv_out)))
		die("writing --json/--csv failed");
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
			{
				free(cells[b][p][c].ns);
				free(cells[b][p][c].sorted);
			}
	return exit_status;
}
