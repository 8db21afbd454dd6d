// SPDX-License-Identifier: GPL-2.0-only
/*
 * race-repro: the seeds/01 and seeds/03 races, replayed as narrated
 * timelines for each kernel configuration, on the public API.
 *
 * Each scenario builds a small world — a VMM process with a GPU BAR mmapped
 * 1 GiB-aligned and faulted in, a type1v2 container — and runs two
 * simulated tasks under the deterministic scheduler: a /proc/pid/numa_maps
 * reader and a VFIO_IOMMU_MAP_DMA of the BAR.  It searches seeded schedules
 * for the interleaving the scenario is about (or replays --schedule),
 * prints what each task did, and says whether the outcome is what that
 * kernel does.  Exit status 0 when every scenario behaved as the kernel did.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <pinsim/pinsim.h>

#define GiB (1ULL << 30)
#define BAR_IOVA 0x020000000000ULL

enum expect {
	EXPECT_OOPS_AND_HANG,	/* the pre-fix walker descends into the refaulted leaf */
	EXPECT_MAP_EINVAL,	/* LEGACY: the zap between fixup and follow reaches userspace */
	EXPECT_MAP_OK,		/* a retrying policy absorbs the same interleaving */
	EXPECT_NO_OOPS,		/* PMD leaves: the PTE level re-checks under its lock */
};

struct scenario {
	const char *name;
	const char *what;
	bool walker_fixed;
	unsigned int bar_order;
	enum pinsim_retry_policy policy;
	bool enoent;
	enum expect expect;
	const char *same_as;	/* replay the interleaving another scenario found */
};

static const struct scenario scenarios[] = {
	{ "prefix-pud", "pre-fix walker, BAR on 1G PUD leaves (seeds/01)", false, 18,
	  PINSIM_RETRY_LEGACY, false, EXPECT_OOPS_AND_HANG, NULL },
	{ "fixed-legacy", "fixed walker, LEGACY follow_fault_pfn (seeds/01, seeds/03)", true, 18,
	  PINSIM_RETRY_LEGACY, false, EXPECT_MAP_EINVAL, NULL },
	{ "fixed-eagain", "fixed walker, EAGAIN policy (the 2026-03-17 patch)", true, 18,
	  PINSIM_RETRY_EAGAIN, false, EXPECT_MAP_OK, "fixed-legacy" },
	{ "fixed-bounded", "fixed walker, BOUNDED policy (retry N, then EBUSY)", true, 18,
	  PINSIM_RETRY_BOUNDED, false, EXPECT_MAP_OK, "fixed-legacy" },
	{ "fixed-enoent", "fixed walker, ENOENT policy (-ENOENT from follow_pfnmap_start)", true, 18,
	  PINSIM_RETRY_ENOENT, true, EXPECT_MAP_OK, "fixed-legacy" },
	{ "prefix-pmd", "pre-fix walker, BAR on 2M PMD leaves", false, 9, PINSIM_RETRY_LEGACY,
	  false, EXPECT_NO_OOPS, NULL },
};
#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

struct world {
	struct pinsim *m;
	struct pinsim_proc *p;
	int container, group, device, gid;
	uint64_t bar, bar_size;
	long map_ret;
	int map_errno;
	char numa[8192];
};

static bool quiet;

/* ---- the narrated timeline ---- */

static const char *narrate(const char *what)
{
	static const struct { const char *point, *text; } table[] = {
		{ "walk_pud_range:after_split", "split_huge_pud() zapped the PUD, about to descend" },
		{ "walk_pmd_range:entry", "walk_pmd_range() entered under that PUD" },
		{ "walk_pmd_range:after_split", "split_huge_pmd() done" },
		{ "follow_pfnmap_start:lockless", "follow_pfnmap_start() read a leaf, taking its lock" },
		{ "follow_fault_pfn:after_fixup", "fixup_user_fault() -> huge_fault() done" },
		{ "fault:before_insert", "vfio_pci huge_fault: inserting the leaf" },
		{ "zap:before_clear", "zapping an entry" },
		{ "vfio_pin_map_dma:between_runs", "a run pinned and mapped in the IOMMU" },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(what, table[i].point))
			return table[i].text;
	return what;
}

/* Consecutive identical events (a walk over 512 PMD leaves) print once. */
static char last_who[32], last_what[96];
static unsigned long repeats;

static void trace_flush(void)
{
	if (repeats)
		printf("       ... and %lu more times\n", repeats);
	repeats = 0;
	last_who[0] = last_what[0] = '\0';
}

static void trace(const char *who, const char *what, uint64_t addr, void *priv)
{
	int *step = priv;

	if (quiet)
		return;
	if (!strcmp(who, last_who) && !strcmp(what, last_what)) {
		repeats++;
		return;
	}
	trace_flush();
	snprintf(last_who, sizeof(last_who), "%s", who);
	snprintf(last_what, sizeof(last_what), "%s", what);
	printf("  %3d  %-10s %s at 0x%llx\n", ++*step, who, narrate(what),
	       (unsigned long long)addr);
}

/* ---- the world ---- */

static int fail(const char *what)
{
	fprintf(stderr, "race-repro: %s: %s\n", what, strerror(errno));
	return -1;
}

static int world_create(struct world *w, const struct scenario *s)
{
	struct pinsim_device_spec gpu = { "0000:01:00.0", { GiB }, 0 };
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct pinsim_config cfg;
	char path[32], byte;

	memset(w, 0, sizeof(*w));
	pinsim_config_init(&cfg);
	cfg.ram_bytes = 4 * GiB;
	cfg.pagewalk_fixed = s->walker_fixed;
	cfg.max_bar_fault_order = s->bar_order;
	cfg.retry_policy = s->policy;
	cfg.follow_pfnmap_enoent = s->enoent;
	if (pinsim_create(&cfg, &w->m) || pinsim_proc_create(w->m, &w->p) ||
	    pinsim_add_device(w->m, &gpu, &w->gid))
		return fail("create");
	snprintf(path, sizeof(path), "/dev/vfio/%d", w->gid);
	w->container = pinsim_open(w->p, "/dev/vfio/vfio", O_RDWR);
	w->group = pinsim_open(w->p, path, O_RDWR);
	if (w->container < 0 || w->group < 0 ||
	    pinsim_ioctl(w->p, w->group, VFIO_GROUP_SET_CONTAINER, &w->container) ||
	    pinsim_ioctl(w->p, w->container, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU))
		return fail("vfio setup");
	w->device = pinsim_ioctl(w->p, w->group, VFIO_GROUP_GET_DEVICE_FD, (void *)gpu.name);
	if (w->device < 0 || pinsim_ioctl(w->p, w->device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return fail("device");
	w->bar_size = ri.size;
	w->bar = pinsim_mmap(w->p, 0, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, w->device,
			     ri.offset);
	if (w->bar == PINSIM_MAP_FAILED)
		return fail("mmap BAR");
	/* A vCPU touches the BAR: its leaves exist before the race. */
	for (uint64_t off = 0; off < w->bar_size; off += 4096ULL << s->bar_order)
		if (pinsim_access(w->p, w->bar + off, &byte, 1, 0) != 1)
			return fail("touch BAR");
	return 0;
}

static long t_numa_maps(void *arg)
{
	struct world *w = arg;

	return pinsim_read_numa_maps(w->p, w->numa, sizeof(w->numa));
}

static long t_map_dma(void *arg)
{
	struct world *w = arg;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = w->bar,
		.iova = BAR_IOVA,
		.size = w->bar_size,
	};

	w->map_ret = pinsim_ioctl(w->p, w->container, VFIO_IOMMU_MAP_DMA, &map);
	w->map_errno = w->map_ret ? errno : 0;
	return w->map_ret;
}

/* After the race: munmap (mmap_lock for write), then another reader. */
static long t_munmap(void *arg)
{
	struct world *w = arg;

	return pinsim_munmap(w->p, w->bar, w->bar_size);
}

struct outcome {
	bool oops, hang, map_einval, map_ok;
	struct pinsim_sched_result res;
	char oops_text[256];
};

static int run_once(const struct scenario *s, const char *schedule, uint64_t seed, bool narrate_it,
		    struct outcome *o)
{
	struct world w;
	struct pinsim_thread t[3];
	struct pinsim_sched_opts opts = {
		.schedule = schedule, .seed = seed, .pct_depth = 3, .pct_steps = 6,
	};
	struct pinsim_stats st;
	int step = 0, n = 2;

	if (world_create(&w, s))
		return -1;
	t[0] = (struct pinsim_thread){ .name = "numa_maps", .proc = w.p, .fn = t_numa_maps, .arg = &w };
	t[1] = (struct pinsim_thread){ .name = "vfio", .proc = w.p, .fn = t_map_dma, .arg = &w };
	if (s->expect == EXPECT_OOPS_AND_HANG) {
		t[2] = (struct pinsim_thread){ .name = "munmap", .proc = w.p, .fn = t_munmap, .arg = &w };
		n = 3;
	}
	if (narrate_it)
		pinsim_set_trace(w.m, trace, &step);
	if (pinsim_sched_run(w.m, t, n, &opts, &o->res))
		return fail("pinsim_sched_run");
	pinsim_set_trace(w.m, NULL, NULL);
	if (narrate_it && !quiet)
		trace_flush();
	pinsim_stats(w.m, &st);
	o->oops = st.oopses > 0;
	snprintf(o->oops_text, sizeof(o->oops_text), "%s", st.last_oops);
	o->hang = o->res.status == PINSIM_SCHED_DEADLOCK;
	o->map_einval = !t[1].died && w.map_ret && w.map_errno == EINVAL;
	o->map_ok = !t[1].died && w.map_ret == 0;
	if (narrate_it) {
		if (w.map_ret)
			printf("  vfio: dma_map FAILED iova=0x%012llx: [Errno %d] %s\n",
			       (unsigned long long)BAR_IOVA, w.map_errno, strerror(w.map_errno));
		else if (!t[1].died)
			printf("  vfio: dma_map iova=0x%012llx size=0x%llx vaddr=0x%llx\n",
			       (unsigned long long)BAR_IOVA, (unsigned long long)w.bar_size,
			       (unsigned long long)w.bar);
		if (o->oops)
			printf("  oops: %s\n", o->oops_text);
		if (o->res.report[0])
			printf("  %s\n", o->res.report);
	}
	pinsim_destroy(w.m);
	return 0;
}

static bool wanted(const struct scenario *s, const struct outcome *o)
{
	switch (s->expect) {
	case EXPECT_OOPS_AND_HANG:
		return o->oops && o->hang;
	case EXPECT_MAP_EINVAL:
		return !o->oops && o->map_einval;
	case EXPECT_MAP_OK:
		return !o->oops && o->map_ok;
	case EXPECT_NO_OOPS:
		return !o->oops;
	}
	return false;
}

static const char *expect_text(enum expect e)
{
	static const char *const t[] = {
		"the reader oopses in walk_pmd_range() and mmap_lock hangs",
		"VFIO_IOMMU_MAP_DMA fails with EINVAL",
		"VFIO_IOMMU_MAP_DMA succeeds",
		"no oops in any searched schedule",
	};
	return t[e];
}

static char found_schedule[NR_SCENARIOS][8193];

static const struct scenario *by_name(const char *name)
{
	for (size_t i = 0; i < NR_SCENARIOS; i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

/* Returns 1 if the scenario behaved as the kernel does. */
static int run_scenario(const struct scenario *s, const char *schedule, unsigned int seeds,
			uint64_t first_seed)
{
	struct outcome o;
	size_t idx = (size_t)(s - scenarios);
	const char *replay = schedule;
	uint64_t seed = 0;
	bool ok = false;

	printf("== %s: %s\n   the kernel: %s\n", s->name, s->what, expect_text(s->expect));
	if (!replay && s->same_as && found_schedule[by_name(s->same_as) - scenarios][0])
		replay = found_schedule[by_name(s->same_as) - scenarios];

	if (replay) {
		if (run_once(s, replay, 0, false, &o))
			return 0;
		ok = wanted(s, &o);
	} else if (s->expect == EXPECT_NO_OOPS) {
		ok = true;
		for (unsigned int i = 0; i < seeds && ok; i++) {
			if (run_once(s, NULL, first_seed + i, false, &o))
				return 0;
			ok = wanted(s, &o);
			seed = first_seed + i;
		}
		printf("   %u seeded schedules searched\n", seeds);
	} else {
		for (unsigned int i = 0; i < seeds && !ok; i++) {
			seed = first_seed + i;
			if (run_once(s, NULL, seed, false, &o))
				return 0;
			ok = wanted(s, &o);
		}
		if (ok)
			printf("   found with PCT seed %llu\n", (unsigned long long)seed);
	}
	if (ok || replay) {
		snprintf(found_schedule[idx], sizeof(found_schedule[idx]), "%s", o.res.schedule);
		printf("   schedule %s (replay: race-repro --scenario %s --schedule %s)\n",
		       o.res.schedule, s->name, o.res.schedule);
		if (run_once(s, o.res.schedule, 0, true, &o))
			return 0;
		ok = wanted(s, &o);
	}
	printf("   result: %s\n\n", ok ? "behaved as the kernel does" : "DID NOT behave as the kernel");
	return ok;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: race-repro [--list] [--scenario NAME] [--schedule STRING] [--seeds N]\n"
		   "                  [--seed FIRST] [--quiet]\n"
		   "  Replays the seeds/01 and seeds/03 races under pinsim's deterministic\n"
		   "  scheduler as narrated timelines, one per kernel configuration.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "scenario", required_argument, NULL, 's' },
		{ "schedule", required_argument, NULL, 'S' },
		{ "seeds", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *only = NULL, *schedule = NULL;
	unsigned long seeds = 200;
	uint64_t first_seed = 1;
	int c, good = 0, total = 0;
	char *end;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			for (size_t i = 0; i < NR_SCENARIOS; i++)
				printf("%-14s %s\n", scenarios[i].name, scenarios[i].what);
			return 0;
		case 's':
			only = optarg;
			if (!by_name(only)) {
				fprintf(stderr, "race-repro: no scenario '%s' (see --list)\n", only);
				return 2;
			}
			break;
		case 'S':
			schedule = optarg;
			if (strspn(schedule, "0123456789.") != strlen(schedule)) {
				fprintf(stderr, "race-repro: a schedule is thread indices joined by '.'\n");
				return 2;
			}
			break;
		case 'n':
			seeds = strtoul(optarg, &end, 0);
			if (*end || !seeds || seeds > 100000) {
				fprintf(stderr, "race-repro: --seeds must be 1..100000\n");
				return 2;
			}
			break;
		case 'f':
			first_seed = strtoull(optarg, &end, 0);
			if (*end || !first_seed) {
				fprintf(stderr, "race-repro: --seed must be a positive number\n");
				return 2;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "race-repro: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (schedule && !only) {
		fprintf(stderr, "race-repro: --schedule needs --scenario\n");
		return 2;
	}
	for (size_t i = 0; i < NR_SCENARIOS; i++) {
		if (only && strcmp(only, scenarios[i].name))
			continue;
		total++;
		good += run_scenario(&scenarios[i], schedule, (unsigned int)seeds, first_seed);
	}
	printf("%d/%d scenarios behaved as the kernel does\n", good, total);
	return good == total ? 0 : 1;
}
