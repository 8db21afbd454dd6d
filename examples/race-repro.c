// SPDX-License-Identifier: GPL-2.0-only
/*
 * race-repro: the seeds/01 and seeds/03 races, replayed as narrated
 * timelines for each kernel version, on the public API.
 *
 * Each scenario builds a small world — a VMM process with a GPU BAR mmapped
 * 1 GiB-aligned (as QEMU maps it) and faulted in, a type1v2 container — and
 * runs two simulated tasks under the deterministic scheduler: a
 * /proc/pid/numa_maps reader and a VFIO_IOMMU_MAP_DMA of the BAR.  It
 * searches seeded schedules for the interleaving the scenario is about (or
 * replays --schedule), prints what each task did, and says whether the
 * outcome is what that kernel does.  Exit status 0 when every scenario
 * behaved as the kernel did.
 *
 * A scenario is about one page walker: the pre-fix one (before 9b25a6e3d243,
 * 6.12 stable before 6.12.85) or the fixed one.  Each runs on a named kernel
 * profile: its own (6.12.74, the seeds/01 reporter's kernel, for the pre-fix
 * walker; 6.12.118, Debian's current, for the fixed one), or --kernel's, in
 * which case only the scenarios of that kernel's walker run.  A scenario
 * picked with --scenario runs on any --kernel: its walker is then an
 * override of the profile's pagewalk_fixed, and the kernel line says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/vfio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pinsim/pinsim.h>

static const char *prog = "race-repro";

#include "example_util.h"

#define GiB (1ULL << 30)
#define BAR_IOVA 0x020000000000ULL
/*
 * Scheduling steps before a run counts as a livelock.  Before 0fd06844de5d
 * (every 6.12) vaddr_get_pfns() returns one pfn of a pfnmap per call, so
 * MAP_DMA of the 1 GiB BAR calls follow_pfnmap_start() 262144 times, each
 * a schedule point; the scheduler's default (100000) would end it early.
 */
#define STEP_BUDGET 2000000

enum expect {
	EXPECT_OOPS_AND_HANG,	/* the pre-fix walker descends into the refaulted leaf */
	EXPECT_MAP_EINVAL,	/* LEGACY: the zap between fixup and follow reaches userspace */
	EXPECT_MAP_OK,		/* a retrying policy absorbs the same interleaving */
	EXPECT_NO_OOPS,		/* PMD leaves: the PTE level re-checks under its lock */
};

struct scenario {
	const char *name;
	const char *what;
	const char *kernel;	/* the profile it runs on without --kernel */
	bool walker_fixed;	/* the walker it is about: pagewalk_fixed */
	unsigned int bar_order;
	enum pinsim_retry_policy policy;
	bool enoent;
	enum expect expect;
	const char *same_as;	/* replay the interleaving another scenario found */
};

static const struct scenario scenarios[] = {
	{ "prefix-pud", "pre-fix walker, BAR on 1G PUD leaves (seeds/01)", "6.12.74", false,
	  18, PINSIM_RETRY_LEGACY, false, EXPECT_OOPS_AND_HANG, NULL },
	{ "fixed-legacy", "fixed walker, LEGACY follow_fault_pfn (seeds/01, seeds/03)",
	  "6.12.118", true, 18, PINSIM_RETRY_LEGACY, false, EXPECT_MAP_EINVAL, NULL },
	{ "fixed-eagain", "fixed walker, EAGAIN policy (the 2026-03-17 patch)", "6.12.118", true,
	  18, PINSIM_RETRY_EAGAIN, false, EXPECT_MAP_OK, "fixed-legacy" },
	{ "fixed-bounded", "fixed walker, BOUNDED policy (retry N, then EBUSY)", "6.12.118", true,
	  18, PINSIM_RETRY_BOUNDED, false, EXPECT_MAP_OK, "fixed-legacy" },
	{ "fixed-enoent", "fixed walker, ENOENT policy (-ENOENT from follow_pfnmap_start)",
	  "6.12.118", true, 18, PINSIM_RETRY_ENOENT, true, EXPECT_MAP_OK, "fixed-legacy" },
	{ "prefix-pmd", "pre-fix walker, BAR on 2M PMD leaves", "6.12.74", false, 9,
	  PINSIM_RETRY_LEGACY, false, EXPECT_NO_OOPS, NULL },
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

static bool quiet, json;
static FILE *out;		/* the narration: stdout, or stderr with --json */
static char kernel_opt[32];	/* --kernel; "" when not given */
static enum pinsim_impl impl_opt;	/* --impl */

/* The kernel switches of scenario @s: the profile, then the scenario's walker. */
static void scenario_kernel(const struct scenario *s, struct pinsim_config *cfg)
{
	pinsim_config_init(cfg);
	ex_kernel_set(cfg, kernel_opt[0] ? kernel_opt : s->kernel);
	cfg->pagewalk_fixed = s->walker_fixed;
	cfg->impl = impl_opt;
}

/* Has kernel @name the fixed page walker? */
static bool walker_fixed(const char *name)
{
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	ex_kernel_set(&cfg, name);
	return cfg.pagewalk_fixed;
}

/* Is scenario @s about the walker kernel @name has? */
static bool applies(const struct scenario *s, const char *name)
{
	return walker_fixed(name) == s->walker_fixed;
}

/*
 * With --impl tree, follow_pfnmap_start() and vfio_iommu_type1.c are the
 * tree's: its retry is its source's, as its profile declares it (LEGACY;
 * EAGAIN for a tree built as +eagain), so only the scenario of that policy
 * runs; the ENOENT scenario's -ENOENT (a change to the rewrite's
 * follow_pfnmap_start()) is a patch to apply to the tree.  NULL if @s
 * runs, else why not.
 */
static const char *why_not_on_impl(const struct scenario *s)
{
	if (impl_opt != PINSIM_IMPL_TREE)
		return NULL;
	if (s->enoent)
		return "its -ENOENT is a change to follow_pfnmap_start(), the tree's own here "
		       "(apply that change to the tree)";
	if (s->policy != ex_impl_tree_policy()) {
		static char why[256];

		snprintf(why, sizeof(why),
			 "the tree's retry is its source's, %s as its profile %s says (another "
			 "policy is a patch to the tree: scripts/apply-seeds03-retry.py and "
			 "+eagain for the seeds/03 one)",
			 ex_impl_tree_policy() == PINSIM_RETRY_EAGAIN ? "eagain" : "legacy",
			 pinsim_kernel_tree_profile());
		return why;
	}
	return NULL;
}

static bool runs_on_impl(const struct scenario *s)
{
	return !why_not_on_impl(s);
}

/* ---- the narrated timeline ---- */

static const char *narrate(const char *what)
{
	static const struct { const char *point, *text; } table[] = {
		{ "walk_pud_range:after_split",
		  "split_huge_pud() zapped the PUD, about to descend" },
		{ "walk_pmd_range:entry", "walk_pmd_range() entered under that PUD" },
		{ "walk_pmd_range:after_split", "split_huge_pmd() done" },
		{ "follow_pfnmap_start:lockless",
		  "follow_pfnmap_start() read a leaf, taking its lock" },
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
		fprintf(out, "       ... and %lu more times\n", repeats);
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
	fprintf(out, "  %3d  %-10s %s at 0x%llx\n", ++*step, who, narrate(what),
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
	scenario_kernel(s, &cfg);
	cfg.ram_bytes = 4 * GiB;
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
	/* QEMU aligns it (to 1 GiB here) whether or not vfio-pci would. */
	w->bar = ex_mmap_region(w->p, ri.size, PROT_READ | PROT_WRITE, w->device, ri.offset);
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
		.step_budget = STEP_BUDGET,
	};
	struct pinsim_stats st;
	int step = 0, n = 2;

	if (world_create(&w, s))
		return -1;
	t[0] = (struct pinsim_thread){ .name = "numa_maps", .proc = w.p, .fn = t_numa_maps,
				       .arg = &w };
	t[1] = (struct pinsim_thread){ .name = "vfio", .proc = w.p, .fn = t_map_dma, .arg = &w };
	if (s->expect == EXPECT_OOPS_AND_HANG) {
		t[2] = (struct pinsim_thread){ .name = "munmap", .proc = w.p, .fn = t_munmap,
					       .arg = &w };
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
			fprintf(out, "  vfio: dma_map FAILED iova=0x%012llx: [Errno %d] %s\n",
			       (unsigned long long)BAR_IOVA, w.map_errno, strerror(w.map_errno));
		else if (!t[1].died)
			fprintf(out, "  vfio: dma_map iova=0x%012llx size=0x%llx vaddr=0x%llx\n",
			       (unsigned long long)BAR_IOVA, (unsigned long long)w.bar_size,
			       (unsigned long long)w.bar);
		if (o->oops)
			fprintf(out, "  oops: %s\n", o->oops_text);
		if (o->res.report[0])
			fprintf(out, "  %s\n", o->res.report);
	}
	/*
	 * A task that oopsed, or stayed blocked when the run ended, holds its
	 * locks for good (mmap_lock; the container's group_lock, which a
	 * MAP_DMA holds while it waits for mmap_lock): the machine's teardown
	 * would wait on them forever.  The process then exits without it.
	 */
	if (!o->oops && o->res.status == PINSIM_SCHED_DONE)
		pinsim_destroy(w.m);
	return 0;
}

static bool io_all(int fd, void *buf, size_t len, bool wr)
{
	for (char *p = buf; len;) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * run_once() in a child process, which sends the outcome back.  A run whose
 * machine cannot be torn down (above) leaves it to the child's exit: one
 * machine exists per process, and the next run needs a new one.  A child
 * stuck on the host (a bug) is killed by its alarm and reported.
 */
static int run_isolated(const struct scenario *s, const char *schedule, uint64_t seed,
			bool narrate_it, struct outcome *o)
{
	int pfd[2], ret = -1, status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe(pfd))
		return fail("pipe");
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (!pid) {
		close(pfd[0]);
		alarm(120);
		ret = run_once(s, schedule, seed, narrate_it, o);
		fflush(stdout);
		fflush(stderr);
		_exit(io_all(pfd[1], &ret, sizeof(ret), true) &&
		      io_all(pfd[1], o, sizeof(*o), true) ? 0 : 1);
	}
	close(pfd[1]);
	if (!io_all(pfd[0], &ret, sizeof(ret), false) || !io_all(pfd[0], o, sizeof(*o), false))
		ret = -2;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ret == -2) {
		fprintf(stderr, "%s: %s: a run %s on the host\n", prog, s->name,
			WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "hung" : "died");
		return -1;
	}
	return ret;
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
		"the reader's page walk oopses (walk_pmd_range() reads the BAR leaf as a PMD table) and mmap_lock hangs",
		"VFIO_IOMMU_MAP_DMA fails with EINVAL",
		"VFIO_IOMMU_MAP_DMA succeeds",
		"no oops in any searched schedule",
	};
	return t[e];
}

static char found_schedule[NR_SCENARIOS][8193];

/* What each scenario run did, for --json. */
static struct {
	bool ran, ok;
	uint64_t seed;			/* the PCT seed that found it; 0: replayed */
} results[NR_SCENARIOS];

static const struct scenario *by_name(const char *name)
{
	for (size_t i = 0; i < NR_SCENARIOS; i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

static int run_scenario(const struct scenario *s, const char *schedule, unsigned int seeds,
			uint64_t first_seed);

/*
 * A tree with a retry patch (+eagain) does not run @src, the scenario
 * whose interleaving the patch is about (LEGACY's EINVAL): search for it
 * on pinsim's rewrite of the same profile, where the scenario's policy is
 * a switch, so that the tree can replay that very interleaving.
 */
static void find_on_rewrite(const struct scenario *src, unsigned int seeds, uint64_t first_seed)
{
	fprintf(out, "(the tree's retry patch is about the interleaving where %s fails: "
		"searched for on pinsim's rewrite, whose retry policy is a switch, then "
		"replayed on the tree)\n",
		src->name);
	impl_opt = PINSIM_IMPL_REWRITE;
	run_scenario(src, NULL, seeds, first_seed);
	impl_opt = PINSIM_IMPL_TREE;
}

/* Returns 1 if the scenario behaved as the kernel does. */
static int run_scenario(const struct scenario *s, const char *schedule, unsigned int seeds,
			uint64_t first_seed)
{
	struct pinsim_config kcfg;
	struct outcome o;
	size_t idx = (size_t)(s - scenarios);
	const char *replay = schedule;
	uint64_t seed = 0;
	bool ok = false;

	if (!replay && s->same_as && !found_schedule[by_name(s->same_as) - scenarios][0] &&
	    impl_opt == PINSIM_IMPL_TREE)
		find_on_rewrite(by_name(s->same_as), seeds, first_seed);
	scenario_kernel(s, &kcfg);
	fprintf(out, "== %s: %s\n", s->name, s->what);
	ex_kernel_print(out, "   ", &kcfg);
	fprintf(out, "   expected: %s\n", expect_text(s->expect));
	if (!replay && s->same_as && found_schedule[by_name(s->same_as) - scenarios][0])
		replay = found_schedule[by_name(s->same_as) - scenarios];

	if (replay) {
		if (run_isolated(s, replay, 0, false, &o))
			return 0;
		ok = wanted(s, &o);
	} else if (s->expect == EXPECT_NO_OOPS) {
		ok = true;
		for (unsigned int i = 0; i < seeds && ok; i++) {
			if (run_isolated(s, NULL, first_seed + i, false, &o))
				return 0;
			ok = wanted(s, &o);
			seed = first_seed + i;
		}
		fprintf(out, "   %u seeded schedules searched\n", seeds);
	} else {
		for (unsigned int i = 0; i < seeds && !ok; i++) {
			seed = first_seed + i;
			if (run_isolated(s, NULL, seed, false, &o))
				return 0;
			ok = wanted(s, &o);
		}
		if (ok)
			fprintf(out, "   found with PCT seed %llu\n", (unsigned long long)seed);
	}
	if (ok || replay) {
		snprintf(found_schedule[idx], sizeof(found_schedule[idx]), "%s", o.res.schedule);
		/* 6.12's per-pfn MAP_DMA makes long schedules: say those once. */
		if (strlen(o.res.schedule) <= 64)
			fprintf(out, "   schedule %s ", o.res.schedule);
		else
			fprintf(out, "   a schedule of %u decisions ", o.res.decisions);
		fprintf(out, "(replay: race-repro%s --kernel %s --scenario %s --schedule %s)\n",
			impl_opt == PINSIM_IMPL_TREE ? " --impl tree" : "", kcfg.kernel, s->name,
			o.res.schedule);
		if (run_isolated(s, o.res.schedule, 0, true, &o))
			return 0;
		ok = wanted(s, &o);
	}
	fprintf(out, "   result: %s\n\n",
		ok ? "behaved as the kernel does" : "DID NOT behave as the kernel");
	results[idx].ran = true;
	results[idx].ok = ok;
	results[idx].seed = replay ? 0 : seed;
	return ok;
}

static void print_json(FILE *f, int good, int total)
{
	struct pinsim_config cfg;
	bool first = true;

	fprintf(f, "{\n  ");
	ex_version_json(f);
	fprintf(f, ",\n  ");
	if (kernel_opt[0]) {
		pinsim_config_init(&cfg);
		ex_kernel_set(&cfg, kernel_opt);
		cfg.impl = impl_opt;
		ex_kernel_json(f, &cfg);
	} else {
		fprintf(f, "\"kernel\": null");
	}
	fprintf(f, ",\n  \"scenarios\": [");
	for (size_t i = 0; i < NR_SCENARIOS; i++) {
		const struct scenario *s = &scenarios[i];

		if (!results[i].ran)
			continue;
		scenario_kernel(s, &cfg);
		fprintf(f, "%s\n    {\"name\": \"%s\", \"expected\": \"%s\", \"ok\": %s, "
		       "\"schedule\": \"%s\", \"seed\": %llu, ", first ? "" : ",", s->name,
		       expect_text(s->expect), results[i].ok ? "true" : "false", found_schedule[i],
		       (unsigned long long)results[i].seed);
		ex_kernel_json(f, &cfg);
		fprintf(f, "}");
		first = false;
	}
	fprintf(f, "\n  ],\n  \"good\": %d,\n  \"total\": %d,\n  \"exit_status\": %d\n}\n", good,
	       total, good == total ? 0 : 1);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: race-repro [options]\n"
"Replays the seeds/01 and seeds/03 races under pinsim's deterministic scheduler\n"
"as narrated timelines, one per scenario: a page walker (pre-fix or fixed) and a\n"
"follow_fault_pfn() retry policy, on a named kernel profile.\n"
"\n"
"  --list              the scenarios and the kernel each runs on by default\n"
"  --scenario NAME     only this scenario (on any --kernel: see below)\n");
	ex_kernel_help(f, 22, "each scenario's own, below");
	ex_impl_help(f, 22);
	ex_help_opt(f, 22, "",
		    "With --impl tree the walker is the tree's own mm/pagewalk.c: whether it "
		    "oopses is what its source does, and a scenario's walker override changes "
		    "nothing in it.  --kernel then defaults to the tree's version; name the "
		    "tree's changes in it (--kernel 6.12.118-3b89863c3fa4 for a tree with the "
		    "walker fix reverted) so that the scenarios of the tree's walker run and "
		    "the rest of the machine matches.  VFIO type1 is then the tree's too, so "
		    "fixed-eagain and fixed-bounded do not run (a retry policy is what the "
		    "tree's source does, see --impl).  "
		    "fixed-enoent does not run either: its -ENOENT is a change to "
		    "follow_pfnmap_start(), which is then the tree's (apply the change to the "
		    "tree).");
	ex_help_opt(f, 22, "",
		    "Without --kernel, each scenario runs on the profile of its walker: 6.12.74 "
		    "for the pre-fix walker (prefix-*), 6.12.118 for the fixed one (fixed-*).  "
		    "With --kernel, only the scenarios of that kernel's walker run.  --scenario "
		    "NAME with a --kernel of the other walker runs anyway: the scenario's "
		    "walker is an override of the profile's pagewalk_fixed, applied after "
		    "--kernel, and the kernel line says 'modified'.");
	fprintf(f,
"  --schedule STRING   replay this schedule (needs --scenario)\n"
"  --seeds N           PCT seeds to search per scenario (default 200)\n"
"  --seed FIRST        the first PCT seed (default 1)\n"
"  --quiet             no narrated timelines\n"
"  --json[=FILE]       a JSON summary to FILE, or stdout without FILE or with\n"
"                      '-' (the narration then goes to stderr): the version,\n"
"                      the --kernel asked for, and per scenario its result,\n"
"                      schedule, kernel and effective switches\n"
"  --version           the program's and the library's version\n"
"  --help              this text\n"
"Exit status: 0 every scenario behaved as the kernel does, 1 one did not (or an\n"
"error), 2 bad arguments.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "scenario", required_argument, NULL, 's' },
		{ "schedule", required_argument, NULL, 'S' },
		{ "seeds", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'f' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "impl", required_argument, NULL, 'i' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", optional_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *only = NULL, *schedule = NULL, *json_path = NULL;
	FILE *json_out = NULL;
	unsigned long seeds = 200;
	uint64_t first_seed = 1;
	int c, good = 0, total = 0;
	bool list = false;
	char *end;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		ex_check_value(opts, c, argv);
		switch (c) {
		case 'l':
			list = true;
			break;
		case 's':
			only = optarg;
			if (!by_name(only))
				bad_arg("no scenario '%s' (see --list)", only);
			break;
		case 'S':
			schedule = optarg;
			if (strspn(schedule, "0123456789.") != strlen(schedule))
				bad_arg("a schedule is thread indices joined by '.'");
			break;
		case 'n':
			if (!parse_ulong(optarg, 100000, &seeds) || !seeds)
				bad_arg("--seeds must be 1..100000");
			break;
		case 'f':
			errno = 0;
			first_seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || *optarg == '-' || !first_seed)
				bad_arg("--seed must be a positive number");
			break;
		case 'k':
			ex_kernel_arg(optarg, kernel_opt, sizeof(kernel_opt));
			break;
		case 'i':
			impl_opt = ex_impl_arg(optarg);
			break;
		case 'q':
			quiet = true;
			break;
		case 'j':
			json = true;
			json_path = optarg ? optarg : "-";
			if (!*json_path)
				bad_arg("option --json= needs a file name (or '-')");
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			ex_version();
		default:
			ex_getopt_error(c, argv);
		}
	}
	if (optind < argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	if (schedule && !only)
		bad_arg("--schedule needs --scenario");
	if (!kernel_opt[0] && ex_impl_kernel(impl_opt))
		snprintf(kernel_opt, sizeof(kernel_opt), "%s", ex_impl_kernel(impl_opt));
	if (only && !runs_on_impl(by_name(only)))
		bad_arg("--scenario %s does not run with --impl tree: %s", only,
			why_not_on_impl(by_name(only)));
	if (list) {
		for (size_t i = 0; i < NR_SCENARIOS; i++)
			if ((!kernel_opt[0] || applies(&scenarios[i], kernel_opt)) &&
			    runs_on_impl(&scenarios[i]))
				printf("%-14s %-9s %s\n", scenarios[i].name,
				       kernel_opt[0] ? kernel_opt : scenarios[i].kernel,
				       scenarios[i].what);
		return 0;
	}
	/* Outputs first: a bad path fails before any work. */
	if (json)
		json_out = ex_open_out("--json", json_path);
	out = json_out == stdout ? stderr : stdout;
	for (size_t i = 0; i < NR_SCENARIOS; i++) {
		const struct scenario *s = &scenarios[i];

		if (only ? strcmp(only, s->name) : kernel_opt[0] && !applies(s, kernel_opt))
			continue;
		if (!runs_on_impl(s)) {
			fprintf(out, "== %s: not run with --impl tree: %s\n\n", s->name,
				why_not_on_impl(s));
			continue;
		}
		total++;
		good += run_scenario(s, schedule, (unsigned int)seeds, first_seed);
	}
	if (kernel_opt[0] && !only)
		fprintf(out, "kernel %s: the scenarios of its %s walker\n", kernel_opt,
			walker_fixed(kernel_opt) ? "fixed" : "pre-fix");
	fprintf(out, "%d/%d scenarios behaved as the kernel does\n", good, total);
	if (json) {
		print_json(json_out, good, total);
		if (!ex_close_out(json_out)) {
			fprintf(stderr, "%s: writing %s failed\n", prog, json_path);
			return 1;
		}
	}
	return good == total ? 0 : 1;
}
