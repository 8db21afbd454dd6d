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
#include <limits.h>
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
/*
 * The lockstep adversary (seeds/03): a zap of the BAR after every
 * fixup_user_fault() of the MAP_DMA.  A retry loop that does not give up
 * (EAGAIN) never ends: the run is a livelock once it took
 * LOCKSTEP_STEP_BUDGET scheduling steps, about four per retry.  The ENOENT
 * scenario's process is also sent SIGKILL at the LOCKSTEP_KILL_AT-th fixup:
 * its policy looks at the signal.  (A kill would end EAGAIN's loop too, but
 * only at its next fixup_user_fault(), which is killable when vfio passes
 * @unlocked: mm/gup.c.)
 */
#define LOCKSTEP_KILL_AT 100
#define LOCKSTEP_STEP_BUDGET 20000

enum expect {
	EXPECT_OOPS_AND_HANG,	/* the pre-fix walker descends into the refaulted leaf */
	EXPECT_MAP_EINVAL,	/* LEGACY: the zap between fixup and follow reaches userspace */
	EXPECT_MAP_OK,		/* a retrying policy absorbs the same interleaving */
	EXPECT_NO_OOPS,		/* PMD leaves: the PTE level re-checks under its lock */
	EXPECT_LIVELOCK,	/* lockstep adversary, EAGAIN: the retry never ends */
	EXPECT_MAP_EBUSY,	/* lockstep adversary, BOUNDED: EBUSY after retry_bound */
	EXPECT_MAP_EINTR,	/* lockstep adversary, ENOENT: EINTR once killed */
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
	/*
	 * The interleaving the scenario is about, on its own kernel: what
	 * --canonical replays instead of searching.  "" for the lockstep
	 * scenarios, whose one thread needs no schedule.
	 */
	const char *canonical;
	bool lockstep;		/* the seeds/03 adversary: zap after every fixup */
};

static const struct scenario scenarios[] = {
	{ "prefix-pud", "pre-fix walker, BAR on 1G PUD leaves (seeds/01)", "6.12.74", false,
	  18, PINSIM_RETRY_LEGACY, false, EXPECT_OOPS_AND_HANG, NULL, "0.1.1.1.2.1.2.1", false },
	{ "fixed-legacy", "fixed walker, LEGACY follow_fault_pfn (seeds/01, seeds/03)",
	  "6.12.118", true, 18, PINSIM_RETRY_LEGACY, false, EXPECT_MAP_EINVAL, NULL,
	  "0.1.1.1.0.0.0.0", false },
	{ "fixed-eagain", "fixed walker, EAGAIN policy (the 2026-03-17 patch)", "6.12.118", true,
	  18, PINSIM_RETRY_EAGAIN, false, EXPECT_MAP_OK, "fixed-legacy", "0.1.1.1.0.0.0.0", false },
	{ "fixed-bounded", "fixed walker, BOUNDED policy (retry N, then EBUSY)", "6.12.118", true,
	  18, PINSIM_RETRY_BOUNDED, false, EXPECT_MAP_OK, "fixed-legacy", "0.1.1.1.0.0.0.0",
	  false },
	{ "fixed-enoent", "fixed walker, ENOENT policy (-ENOENT from follow_pfnmap_start)",
	  "6.12.118", true, 18, PINSIM_RETRY_ENOENT, true, EXPECT_MAP_OK, "fixed-legacy",
	  "0.1.1.1.0.0.0.0", false },
	{ "prefix-pmd", "pre-fix walker, BAR on 2M PMD leaves", "6.12.74", false, 9,
	  PINSIM_RETRY_LEGACY, false, EXPECT_NO_OOPS, NULL, "0.1.1.1.0.0.0.0", false },
	{ "lockstep-eagain", "seeds/03 lockstep adversary (a zap after every fixup), EAGAIN "
	  "policy", "6.12.118", true, 18, PINSIM_RETRY_EAGAIN, false,
	  EXPECT_LIVELOCK, NULL, "", true },
	{ "lockstep-bounded", "seeds/03 lockstep adversary, BOUNDED policy", "6.12.118", true,
	  18, PINSIM_RETRY_BOUNDED, false, EXPECT_MAP_EBUSY, NULL, "", true },
	{ "lockstep-enoent", "seeds/03 lockstep adversary, ENOENT policy, SIGKILL at the "
	  "100th fixup", "6.12.118", true, 18,
	  PINSIM_RETRY_ENOENT, true, EXPECT_MAP_EINTR, NULL, "", true },
};
#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

struct world {
	struct pinsim *m;
	struct pinsim_proc *p;
	int container, group, device, gid;
	uint64_t bar, bar_size;
	long map_ret;
	int map_errno;
	int zap_rule, kill_rule;	/* the lockstep adversary's rules, or -1 */
	char numa[8192];
};

static bool quiet, json;
/*
 * --explore's world (below): the MAP_DMA maps the BAR's first
 * EXPLORE_MAP_SIZE bytes, so that the search has few points to preempt.
 */
#define EXPLORE_MAP_SIZE (16ULL << 10)
static bool explore_world;
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

static const char *narrate(const char *who, const char *what)
{
	static const struct { const char *point, *text; } table[] = {
		{ "walk_pud_range:after_split",
		  "split_huge_pud() zapped the PUD, about to descend" },
		{ "walk_pmd_range:entry", "walk_pmd_range() entered under that PUD" },
		{ "walk_pmd_range:after_split", "split_huge_pmd() done" },
		{ "follow_pfnmap_start:lockless",
		  "follow_pfnmap_start() read a leaf, taking its lock" },
		{ "follow_fault_pfn:after_fixup",
		  "fixup_user_fault() -> huge_fault() done; follow_pfnmap_start() again (the "
		  "recheck)" },
		{ "fault:before_insert", "vfio_pci huge_fault: inserting the leaf" },
		{ "zap:before_clear", "zapping an entry" },
		{ "vfio_pin_map_dma:between_runs", "a run pinned and mapped in the IOMMU" },
	};

	/* The MAP_DMA faults only when follow_pfnmap_start() failed. */
	if (!strcmp(who, "vfio") && !strcmp(what, "fault:before_insert"))
		return "follow_pfnmap_start() found no leaf: fixup_user_fault(), vfio_pci "
		       "huge_fault inserting it";
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(what, table[i].point))
			return table[i].text;
	return what;
}

/*
 * The narrated run: its threads (a timeline step's thread index), its
 * --json timeline (a memstream in the child that runs it, or NULL), the
 * mask of the BAR's leaves.  Consecutive identical events (a walk over
 * 512 PMD leaves) print once, with a count.
 */
#define TL_MAX 5000		/* timeline steps kept for --json; the rest counted */
#define NARRATE_RETRIES 3	/* retries narrated one by one; the rest counted */
static const char *tl_names[3];
static int tl_n;
static FILE *tl;
static unsigned long tl_steps, tl_dropped, hushed;
static uint64_t leaf_mask;
static int step;
static struct {
	char who[32], what[96];
	uint64_t addr;
	int step;
	unsigned long repeats;
} last;

static int tl_thread(const char *who)
{
	for (int i = 0; i < tl_n; i++)
		if (!strncmp(who, tl_names[i], 15))
			return i;
	return -1;
}

static void tl_emit(const char *who, const char *point, const char *event, uint64_t addr,
		    int at, unsigned long repeats)
{
	if (!tl)
		return;
	if (tl_steps >= TL_MAX) {
		tl_dropped++;
		return;
	}
	fprintf(tl, "%s\n      {\"step\": %d, \"thread\": %d, \"task\": ", tl_steps ? "," : "", at,
		tl_thread(who));
	ex_json_string(tl, who);
	fprintf(tl, ", \"point\": ");
	ex_json_string(tl, point);
	fprintf(tl, ", \"event\": ");
	ex_json_string(tl, event);
	fprintf(tl, ", \"addr\": \"0x%llx\", \"repeats\": %lu}", (unsigned long long)addr, repeats);
	tl_steps++;
}

static void trace_flush(void)
{
	if (last.who[0])
		tl_emit(last.who, last.what, narrate(last.who, last.what), last.addr, last.step,
			last.repeats);
	if (last.repeats && !quiet)
		fprintf(out, "       ... and %lu more times\n", last.repeats);
	memset(&last, 0, sizeof(last));
}

/* A step the trace has no event for, deduced from the ones around it. */
static void annotate(const char *who, const char *point, const char *text, uint64_t addr)
{
	trace_flush();
	if (!quiet)
		fprintf(out, "  %3d  %-10s %s\n", ++step, who, text);
	else
		++step;
	tl_emit(who, point, text, addr, step, 0);
}

/*
 * follow_fault_pfn()'s recheck (lib/vfio_iommu_type1.c, as the kernel's
 * drivers/vfio/vfio_iommu_type1.c): after "follow_fault_pfn:after_fixup"
 * at A the MAP_DMA calls follow_pfnmap_start() again.  Its failure has no
 * event of its own: it is the retry that follows (the task's next event is
 * at A again: a fault of A's leaf, another fixup, or a lookup of A after
 * the recheck's own), or MAP_DMA's error at the end.  The task's next
 * event elsewhere (the next pfn, the next run) is a recheck that found the
 * leaf, and a new vaddr_get_pfns() call.
 */
enum { RC_IDLE, RC_FIXED_UP, RC_RECHECK };
static struct {
	int state;
	uint64_t addr;
	unsigned int retry;	/* retries in this vaddr_get_pfns() call */
} rc;

static bool rc_follow_event(const char *what)
{
	return !strcmp(what, "fault:before_insert") || !strcmp(what, "follow_fault_pfn:after_fixup") ||
	       !strcmp(what, "follow_pfnmap_start:lockless") ||
	       !strcmp(what, "vfio_pin_map_dma:between_runs");
}

static bool rc_same(const char *what, uint64_t addr)
{
	if (!strcmp(what, "fault:before_insert"))
		return (addr & leaf_mask) == (rc.addr & leaf_mask);
	if (!strcmp(what, "follow_fault_pfn:after_fixup"))
		return addr == rc.addr;
	if (!strcmp(what, "follow_pfnmap_start:lockless"))
		return addr == rc.addr && rc.state == RC_RECHECK;
	return false;
}

static void recheck_event(const char *who, const char *what, uint64_t addr)
{
	char text[160];

	if (strcmp(who, "vfio") || !rc_follow_event(what))
		return;
	if (rc.state != RC_IDLE && rc_same(what, addr)) {
		rc.retry++;
		snprintf(text, sizeof(text),
			 "follow_pfnmap_start() recheck FAILED (the leaf is gone again): retry %u "
			 "of vaddr_get_pfns()", rc.retry);
		if (rc.retry <= NARRATE_RETRIES)
			annotate(who, "follow_pfnmap_start:recheck", text, rc.addr);
		rc.state = RC_IDLE;
	} else if (rc.state == RC_FIXED_UP && !strcmp(what, "follow_pfnmap_start:lockless") &&
		   addr == rc.addr) {
		rc.state = RC_RECHECK;
		return;
	} else if (rc.state != RC_IDLE) {
		rc.state = RC_IDLE;
		rc.retry = 0;
	}
	if (!strcmp(what, "follow_fault_pfn:after_fixup")) {
		rc.state = RC_FIXED_UP;
		rc.addr = addr;
	}
}

static const char *errname(int err)
{
	switch (err) {
	case EINVAL: return "EINVAL";
	case EBUSY: return "EBUSY";
	case EINTR: return "EINTR";
	case EFAULT: return "EFAULT";
	case ENOENT: return "ENOENT";
	case EAGAIN: return "EAGAIN";
	}
	return "an error";
}

/* The end of the narrated run: a recheck still pending failed for good. */
static void recheck_end(bool map_failed, int err)
{
	char text[160];

	if (hushed) {
		trace_flush();
		if (!quiet)
			fprintf(out, "       ... retries %u to %u alike (%lu events not shown)\n",
				NARRATE_RETRIES + 1, rc.retry, hushed);
	}
	if (rc.state == RC_IDLE || !map_failed)
		return;
	if (rc.retry)
		snprintf(text, sizeof(text),
			 "follow_pfnmap_start() recheck FAILED (the leaf is gone again): "
			 "vaddr_get_pfns() gives up with %s after %u retries", errname(err),
			 rc.retry);
	else
		snprintf(text, sizeof(text),
			 "follow_pfnmap_start() recheck FAILED (the leaf is gone again): "
			 "vaddr_get_pfns() returns %s, no retry", errname(err));
	annotate("vfio", "follow_pfnmap_start:recheck", text, rc.addr);
}

static void trace(const char *who, const char *what, uint64_t addr, void *priv)
{
	(void)priv;
	recheck_event(who, what, addr);
	if (rc.retry > NARRATE_RETRIES && !strcmp(who, "vfio")) {
		hushed++;
		return;
	}
	if (!strcmp(who, last.who) && !strcmp(what, last.what)) {
		last.repeats++;
		return;
	}
	trace_flush();
	snprintf(last.who, sizeof(last.who), "%s", who);
	snprintf(last.what, sizeof(last.what), "%s", what);
	last.addr = addr;
	last.step = ++step;
	if (!quiet)
		fprintf(out, "  %3d  %-10s %s at 0x%llx\n", step, who, narrate(who, what),
			(unsigned long long)addr);
}

/* ---- the world ---- */

static int fail(const char *what)
{
	fprintf(stderr, "race-repro: %s: %s\n", what, strerror(errno));
	return -1;
}

/*
 * The seeds/03 adversary in lockstep with the MAP_DMA: every
 * follow_fault_pfn() that faulted the BAR in finds it zapped again before
 * its recheck (vfio_pci_zap_bars(), as a guest toggling decode would); with
 * @kill the process is killed at the LOCKSTEP_KILL_AT-th.  The BAR is left
 * untouched, so that the first follow_pfnmap_start() faults.
 */
static int lockstep_arm(struct world *w, bool kill_it)
{
	struct pinsim_inject_rule zap = {
		.point = PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP,
		.action = PINSIM_INJECT_ZAP_BARS,
		.group_id = w->gid,
		.probability = 1.0,
	};
	struct pinsim_inject_rule kill = {
		.point = PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP,
		.action = PINSIM_INJECT_FATAL_SIGNAL,
		.proc = w->p,
		.nth = LOCKSTEP_KILL_AT,
	};

	w->zap_rule = pinsim_inject_add(w->m, &zap);
	if (kill_it)
		w->kill_rule = pinsim_inject_add(w->m, &kill);
	if (w->zap_rule < 0 || (kill_it && w->kill_rule < 0))
		return fail("pinsim_inject_add");
	return 0;
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
	w->zap_rule = w->kill_rule = -1;
	if (s->lockstep)
		return lockstep_arm(w, s->expect == EXPECT_MAP_EINTR);
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
		.size = explore_world ? EXPLORE_MAP_SIZE : w->bar_size,
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
	bool oops, hang, livelock, map_einval, map_ok, vfio_died;
	int map_errno;			/* 0: MAP_DMA succeeded (or never returned) */
	uint64_t recheck_failures;	/* follow_pfnmap_start() failed after a fixup */
	unsigned long zaps, kills;	/* the lockstep adversary's */
	struct pinsim_sched_result res;
	char oops_text[256];
	/* The run's first checker report (res.checker_reports > 0): kind and text. */
	char check_kind[32];
	char check_text[1536];
};

static void run_narrate(const struct world *w, const struct outcome *o)
{
	if (w->map_ret && !o->vfio_died)
		fprintf(out, "  vfio: dma_map FAILED iova=0x%012llx: [Errno %d] %s\n",
			(unsigned long long)BAR_IOVA, w->map_errno, strerror(w->map_errno));
	else if (!o->vfio_died && o->res.status == PINSIM_SCHED_DONE)
		fprintf(out, "  vfio: dma_map iova=0x%012llx size=0x%llx vaddr=0x%llx\n",
			(unsigned long long)BAR_IOVA, (unsigned long long)w->bar_size,
			(unsigned long long)w->bar);
	if (o->oops)
		fprintf(out, "  oops: %s\n", o->oops_text);
	if (w->zap_rule >= 0)
		fprintf(out, "  adversary: zapped the BAR after %lu fixups, SIGKILL sent %lu time%s\n",
			o->zaps, o->kills, o->kills == 1 ? "" : "s");
	if (o->livelock)
		fprintf(out, "  livelock: vaddr_get_pfns() -> follow_fault_pfn() retried %lu times "
			"(a zap after each fixup_user_fault()) and was still retrying when the run "
			"was stopped after %lu scheduling steps\n", o->zaps, o->res.steps);
	if (o->res.report[0])
		fprintf(out, "  %s\n", o->res.report);
}

/*
 * The run's first checker report into @o.  Each run has a process of its
 * own (run_isolated()), so the process-wide log holds this run's only.
 */
static void first_report(const struct world *w, struct outcome *o)
{
	struct pinsim_checker_report *r = calloc(1, sizeof(*r));

	if (r && pinsim_checker_reports(w->m, r, 1) > 0) {
		snprintf(o->check_kind, sizeof(o->check_kind), "%s", r->kind);
		snprintf(o->check_text, sizeof(o->check_text), "%s", r->text);
	} else {
		snprintf(o->check_kind, sizeof(o->check_kind), "?");
	}
	free(r);
}

static int run_once(const struct scenario *s, const char *schedule, uint64_t seed, bool narrate_it,
		    struct outcome *o)
{
	struct world w;
	struct pinsim_thread t[3];
	struct pinsim_sched_opts opts = {
		.schedule = schedule && *schedule ? schedule : NULL, .seed = seed,
		.pct_depth = 3, .pct_steps = 6, .step_budget = s->lockstep ? LOCKSTEP_STEP_BUDGET : STEP_BUDGET,
	};
	struct pinsim_vfio_stats vs;
	struct pinsim_stats st;
	unsigned long hits;
	int n = 0, vfio;

	memset(o, 0, sizeof(*o));
	if (world_create(&w, s))
		return -1;
	if (!s->lockstep)
		t[n++] = (struct pinsim_thread){ .name = "numa_maps", .proc = w.p,
						 .fn = t_numa_maps, .arg = &w };
	vfio = n;
	t[n++] = (struct pinsim_thread){ .name = "vfio", .proc = w.p, .fn = t_map_dma, .arg = &w };
	if (s->expect == EXPECT_OOPS_AND_HANG)
		t[n++] = (struct pinsim_thread){ .name = "munmap", .proc = w.p, .fn = t_munmap,
						 .arg = &w };
	tl_n = n;
	for (int i = 0; i < n; i++)
		tl_names[i] = t[i].name;
	leaf_mask = ~((4096ULL << s->bar_order) - 1);
	if (narrate_it)
		pinsim_set_trace(w.m, trace, NULL);
	if (pinsim_sched_run(w.m, t, n, &opts, &o->res))
		return fail("pinsim_sched_run");
	pinsim_set_trace(w.m, NULL, NULL);
	if (o->res.checker_reports)
		first_report(&w, o);
	pinsim_stats(w.m, &st);
	o->oops = st.oopses > 0;
	snprintf(o->oops_text, sizeof(o->oops_text), "%s", st.last_oops);
	o->hang = o->res.status == PINSIM_SCHED_DEADLOCK;
	o->livelock = o->res.status == PINSIM_SCHED_LIVELOCK;
	/* A livelock's threads are ended: the MAP_DMA never returned. */
	o->vfio_died = t[vfio].died || o->livelock;
	o->map_errno = o->vfio_died ? 0 : w.map_errno;
	o->map_einval = !o->vfio_died && w.map_ret && w.map_errno == EINVAL;
	o->map_ok = !o->vfio_died && o->res.status == PINSIM_SCHED_DONE && w.map_ret == 0;
	if (w.zap_rule >= 0) {
		pinsim_inject_stats(w.m, w.zap_rule, &hits, &o->zaps);
		if (w.kill_rule >= 0)
			pinsim_inject_stats(w.m, w.kill_rule, &hits, &o->kills);
	}
	/* Its counters, once nothing holds the container's locks. */
	if (!o->oops && o->res.status == PINSIM_SCHED_DONE &&
	    !pinsim_vfio_stats(w.p, w.container, &vs))
		o->recheck_failures = vs.total.follow_failures - vs.total.faults;
	if (narrate_it) {
		/* A run ended by a deadlock cancels the blocked MAP_DMA: not the recheck. */
		recheck_end(o->res.status == PINSIM_SCHED_DONE && w.map_ret && !o->vfio_died,
			    w.map_errno);
		trace_flush();
		run_narrate(&w, o);
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
 * run_once() in a child process, which sends the outcome back, and with
 * @timeline the --json timeline of the narrated run (malloc'd, the caller
 * frees it).  A run whose machine cannot be torn down (above) leaves it to
 * the child's exit: one machine exists per process, and the next run needs
 * a new one.  A child stuck on the host (a bug) is killed by its alarm and
 * reported.
 */
/*
 * Fork a child that reports through a pipe: 0 in the child (its end of
 * the pipe in *@wfd), the child's pid in the parent (its end in *@rfd),
 * -1 when either failed (said).  Both streams are flushed first so that
 * nothing buffered is printed twice.
 */
static pid_t fork_reporter(int *rfd, int *wfd)
{
	int pfd[2];
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe(pfd))
		return fail("pipe");
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return fail("fork");
	}
	close(pfd[pid ? 1 : 0]);
	*rfd = pfd[0];
	*wfd = pfd[1];
	return pid;
}

static int run_isolated(const struct scenario *s, const char *schedule, uint64_t seed,
			bool narrate_it, struct outcome *o, char **timeline)
{
	int pfd[2], ret = -1, status;
	char *buf = NULL;
	size_t len = 0;
	pid_t pid = fork_reporter(&pfd[0], &pfd[1]);

	if (pid < 0)
		return -1;
	if (!pid) {
		alarm(120);
		if (timeline)
			tl = open_memstream(&buf, &len);
		ret = run_once(s, schedule, seed, narrate_it, o);
		fflush(stdout);
		fflush(stderr);
		if (tl) {
			if (tl_dropped)
				fprintf(tl, ",\n      {\"dropped_steps\": %lu}", tl_dropped);
			fclose(tl);
		}
		_exit(io_all(pfd[1], &ret, sizeof(ret), true) &&
		      io_all(pfd[1], o, sizeof(*o), true) &&
		      (!timeline || (io_all(pfd[1], &len, sizeof(len), true) &&
				     io_all(pfd[1], buf ? buf : "", len, true))) ? 0 : 1);
	}
	if (!io_all(pfd[0], &ret, sizeof(ret), false) || !io_all(pfd[0], o, sizeof(*o), false))
		ret = -2;
	if (ret != -2 && timeline) {
		if (!io_all(pfd[0], &len, sizeof(len), false) || !(buf = calloc(1, len + 1)) ||
		    !io_all(pfd[0], buf, len, false)) {
			free(buf);
			buf = NULL;
			ret = -2;
		}
		*timeline = buf;
	}
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
	case EXPECT_LIVELOCK:
		return !o->oops && o->livelock;
	case EXPECT_MAP_EBUSY:
		return !o->oops && !o->vfio_died && o->map_errno == EBUSY;
	case EXPECT_MAP_EINTR:
		return !o->oops && !o->vfio_died && o->map_errno == EINTR;
	}
	return false;
}

/*
 * Did the run have the race the scenario is about?  The pre-fix walker's
 * is its oops; the fixed walker's is a follow_pfnmap_start() that failed
 * after fixup_user_fault() (the zap landed between the two).  A run without
 * it says nothing about the kernel: "no race on this schedule".  The PMD
 * scenario is about every schedule, the lockstep adversary races every time.
 */
static bool raced(const struct scenario *s, const struct outcome *o)
{
	switch (s->expect) {
	case EXPECT_OOPS_AND_HANG:
		return o->oops;
	case EXPECT_MAP_EINVAL:
	case EXPECT_MAP_OK:
		return o->oops || o->map_einval || o->recheck_failures > 0;
	default:
		return true;
	}
}

static const char *expect_text(enum expect e)
{
	static const char *const t[] = {
		"the reader's page walk oopses (walk_pmd_range() reads the BAR leaf as a PMD table) and mmap_lock hangs",
		"VFIO_IOMMU_MAP_DMA fails with EINVAL",
		"VFIO_IOMMU_MAP_DMA succeeds",
		"no oops in any searched schedule",
		"VFIO_IOMMU_MAP_DMA retries without end: a livelock",
		"VFIO_IOMMU_MAP_DMA fails with EBUSY after retry_bound retries",
		"VFIO_IOMMU_MAP_DMA fails with EINTR once the process is killed",
	};
	return t[e];
}

static char found_schedule[NR_SCENARIOS][8193];

/* What each scenario run did, for --json. */
static struct {
	bool ran, ok, raced;
	int verdict;			/* enum verdict */
	uint64_t seed;			/* the PCT seed that found it; 0: replayed */
	char interleaving[200];		/* which one, in words */
	char *timeline;			/* the narrated run's steps, JSON */
	struct outcome o;
	/* The scenario's first checker report (checker_fired()), for --json. */
	unsigned int nr_reports;	/* runs that drew one */
	uint64_t report_seed;		/* 0: a replay */
	char report_kind[32], report_text[1536], report_schedule[8193];
} results[NR_SCENARIOS];

/* The schedule to replay and where it came from: --schedule or PINSIM_SCHEDULE. */
static const char *schedule_src;
static bool canonical;		/* --canonical: each scenario's own interleaving */

enum verdict { V_DID_NOT, V_BEHAVED, V_NO_RACE, V_CHECKER };

/*
 * --collect-reports: a checker report does not stop the search (each is
 * listed); without it the first one ends every search.
 */
static bool collect_reports;
static unsigned int nr_checker_runs;	/* runs with a checker report */

/*
 * A run drew a checker report (pinsim_sched_result.checker_reports): say
 * which, with the schedule string that replays it.  True when the search
 * stops there.
 */
static bool checker_fired(const struct scenario *s, const struct outcome *o, uint64_t seed)
{
	struct pinsim_config kcfg;

	size_t idx = (size_t)(s - scenarios);

	if (!o->res.checker_reports)
		return false;
	nr_checker_runs++;
	if (!results[idx].nr_reports++) {
		results[idx].report_seed = seed;
		snprintf(results[idx].report_kind, sizeof(results[idx].report_kind), "%s",
			 o->check_kind);
		snprintf(results[idx].report_text, sizeof(results[idx].report_text), "%s",
			 o->check_text);
		snprintf(results[idx].report_schedule, sizeof(results[idx].report_schedule), "%s",
			 o->res.schedule);
	}
	scenario_kernel(s, &kcfg);
	fprintf(out, "   checker report (%u in the run%s%llu): %s: %s\n", o->res.checker_reports,
		seed ? ", PCT seed " : "", (unsigned long long)seed, o->check_kind, o->check_text);
	fprintf(out, "   replay: race-repro%s%s --kernel %s --scenario %s --schedule %s\n",
		explore_world ? " --explore" : "",
		impl_opt == PINSIM_IMPL_TREE ? " --impl tree" : "", kcfg.kernel, s->name,
		o->res.schedule[0] ? o->res.schedule : "''");
	return !collect_reports;
}

/* A search or replay stopped on a checker report: what --json says of it. */
static int checker_stop(size_t idx, const struct outcome *o, uint64_t seed)
{
	results[idx].ran = true;
	results[idx].verdict = V_CHECKER;
	results[idx].ok = false;
	results[idx].seed = seed;
	results[idx].o = *o;
	return V_CHECKER;
}

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

/* "seed i/N" on stderr while a search runs, for a person watching. */
static void progress(const struct scenario *s, unsigned int i, unsigned int n, bool done)
{
	if (!ex_progress_wanted(quiet))
		return;
	if (done)
		fprintf(stderr, "\r\033[K");
	else
		fprintf(stderr, "\r%s: seed %u/%u", s->name, i, n);
	fflush(stderr);
}

/*
 * The schedule a scenario replays instead of searching, and in words which
 * interleaving that is; NULL when it searches.  "" replays nothing: the
 * lockstep scenarios' one thread runs alone.
 */
static const char *pick_replay(const struct scenario *s, const char *schedule, char *why,
			       size_t len)
{
	const struct scenario *src = s->same_as ? by_name(s->same_as) : NULL;
	size_t sidx = src ? (size_t)(src - scenarios) : 0;

	if (schedule) {
		snprintf(why, len, "the one given with %s", schedule_src);
		return schedule;
	}
	if (s->lockstep) {
		snprintf(why, len, "its one thread alone: the adversary's rules are the schedule");
		return s->canonical;
	}
	if (canonical) {
		snprintf(why, len, "the canonical one%s%s (--canonical)", src ? " of " : "",
			 src ? src->name : "");
		return s->canonical;
	}
	if (src && found_schedule[sidx][0]) {
		if (results[sidx].seed)
			snprintf(why, len, "the one %s fails on, found with PCT seed %llu", src->name,
				 (unsigned long long)results[sidx].seed);
		else
			snprintf(why, len, "the one %s fails on, the schedule it replayed",
				 src->name);
		return found_schedule[sidx];
	}
	return NULL;
}

/*
 * Search @seeds PCT seeds for the scenario's race (all of them for
 * EXPECT_NO_OOPS).  1: stopped on a checker report.
 */
static int search(const struct scenario *s, unsigned int seeds, uint64_t first_seed,
		  struct outcome *o, uint64_t *seed, bool *ok)
{
	bool all = s->expect == EXPECT_NO_OOPS;

	*ok = all;
	for (unsigned int i = 0; i < seeds && *ok == all; i++) {
		progress(s, i + 1, seeds, false);
		*seed = first_seed + i;
		if (run_isolated(s, NULL, *seed, false, o, NULL)) {
			progress(s, 0, 0, true);
			return -1;
		}
		*ok = wanted(s, o);
		if (checker_fired(s, o, *seed)) {
			progress(s, 0, 0, true);
			return 1;
		}
	}
	progress(s, 0, 0, true);
	if (all)
		fprintf(out, "   %u seeded schedules searched\n", seeds);
	else if (*ok)
		fprintf(out, "   found with PCT seed %llu\n", (unsigned long long)*seed);
	else
		fprintf(out, "   not found in %u seeded schedules\n", seeds);
	return 0;
}

static const char *no_race_text(const struct scenario *s)
{
	if (s->expect == EXPECT_OOPS_AND_HANG)
		return "the reader's walk did not meet a refaulted leaf";
	return "no zap landed between fixup_user_fault() and follow_pfnmap_start()'s recheck";
}

/* Whether scenario @s behaved as the kernel does (enum verdict). */
static int run_scenario(const struct scenario *s, const char *schedule, unsigned int seeds,
			uint64_t first_seed)
{
	struct pinsim_config kcfg;
	struct outcome o;
	size_t idx = (size_t)(s - scenarios);
	const struct scenario *src = s->same_as ? by_name(s->same_as) : NULL;
	const char *replay;
	uint64_t seed = 0;
	bool ok = false;
	int verdict, r;

	if (!schedule && !canonical && src && !found_schedule[src - scenarios][0] &&
	    impl_opt == PINSIM_IMPL_TREE)
		find_on_rewrite(src, seeds, first_seed);
	scenario_kernel(s, &kcfg);
	fprintf(out, "== %s: %s\n", s->name, s->what);
	ex_kernel_print(out, "   ", &kcfg);
	fprintf(out, "   expected: %s\n", expect_text(s->expect));
	replay = pick_replay(s, schedule, results[idx].interleaving,
			     sizeof(results[idx].interleaving));
	if (replay) {
		fprintf(out, "   interleaving: %s\n", results[idx].interleaving);
		if (run_isolated(s, replay, 0, false, &o, NULL))
			return V_DID_NOT;
		if (checker_fired(s, &o, 0))
			return checker_stop(idx, &o, 0);
	} else if ((r = search(s, seeds, first_seed, &o, &seed, &ok))) {
		return r > 0 ? checker_stop(idx, &o, seed) : V_DID_NOT;
	} else {
		snprintf(results[idx].interleaving, sizeof(results[idx].interleaving),
			 "the one found with PCT seed %llu", (unsigned long long)seed);
	}
	if (ok || replay) {
		snprintf(found_schedule[idx], sizeof(found_schedule[idx]), "%s", o.res.schedule);
		/* 6.12's per-pfn MAP_DMA makes long schedules: say those once. */
		if (s->lockstep)
			fprintf(out, "   ");
		else if (strlen(o.res.schedule) <= 64)
			fprintf(out, "   schedule %s ", o.res.schedule);
		else
			fprintf(out, "   a schedule of %u decisions ", o.res.decisions);
		fprintf(out, "(replay: race-repro%s%s --kernel %s --scenario %s%s%s)\n",
			explore_world ? " --explore" : "",
			impl_opt == PINSIM_IMPL_TREE ? " --impl tree" : "", kcfg.kernel, s->name,
			s->lockstep ? "" : " --schedule ", s->lockstep ? "" : o.res.schedule);
		free(results[idx].timeline);
		results[idx].timeline = NULL;
		if (run_isolated(s, s->lockstep ? "" : found_schedule[idx], 0, true, &o,
				 json ? &results[idx].timeline : NULL))
			return V_DID_NOT;
		ok = wanted(s, &o);
	}
	results[idx].raced = raced(s, &o);
	/* A replay without the race says nothing, whatever its outcome. */
	verdict = replay && !results[idx].raced ? V_NO_RACE : ok ? V_BEHAVED : V_DID_NOT;
	if (verdict == V_NO_RACE)
		fprintf(out, "   result: no race on this schedule (%s): nothing to compare with "
			"the kernel\n\n", no_race_text(s));
	else
		fprintf(out, "   result: %s\n\n",
			ok ? "behaved as the kernel does" : "DID NOT behave as the kernel");
	results[idx].ran = true;
	results[idx].verdict = verdict;
	results[idx].ok = ok;
	results[idx].seed = replay ? 0 : seed;
	results[idx].o = o;
	return verdict;
}

static void print_outcome_json(FILE *f, const struct outcome *o)
{
	static const char *const status[] = { "done", "deadlock", "livelock" };

	fprintf(f, "\"outcome\": {\"status\": \"%s\", \"steps\": %lu, \"decisions\": %u, "
		"\"oops\": %s, \"map_errno\": %d, \"vfio_died\": %s, \"recheck_failures\": %llu, "
		"\"adversary_zaps\": %lu, \"adversary_kills\": %lu, \"report\": ",
		o->res.status <= PINSIM_SCHED_LIVELOCK ? status[o->res.status] : "?", o->res.steps,
		o->res.decisions, o->oops ? "true" : "false", o->map_errno,
		o->vfio_died ? "true" : "false", (unsigned long long)o->recheck_failures, o->zaps,
		o->kills);
	ex_json_string(f, o->res.report);
	fprintf(f, "}");
}

/* Every option's value, as given or defaulted. */
static void print_config_json(FILE *f, const char *only, const char *schedule,
			      unsigned long seeds, uint64_t first_seed)
{
	fprintf(f, "\"config\": {\"scenario\": ");
	if (only)
		ex_json_string(f, only);
	else
		fprintf(f, "null");
	fprintf(f, ", \"schedule\": ");
	if (schedule)
		ex_json_string(f, schedule);
	else
		fprintf(f, "null");
	fprintf(f, ", \"schedule_source\": ");
	if (schedule)
		ex_json_string(f, schedule_src);
	else
		fprintf(f, "null");
	fprintf(f, ", \"canonical\": %s, \"seeds\": %lu, \"first_seed\": %llu, \"quiet\": %s, "
		"\"kernel\": ", canonical ? "true" : "false", seeds,
		(unsigned long long)first_seed, quiet ? "true" : "false");
	if (kernel_opt[0])
		ex_json_string(f, kernel_opt);
	else
		fprintf(f, "null");
	fprintf(f, ", \"impl\": \"%s\"}", impl_opt == PINSIM_IMPL_TREE ? "tree" : "rewrite");
}

static void print_json(FILE *f, int good, int total, int no_race, int status, const char *only,
		       const char *schedule, unsigned long seeds, uint64_t first_seed)
{
	struct pinsim_config cfg;
	bool first = true;

	fprintf(f, "{\n  ");
	ex_version_json(f);
	fprintf(f, ",\n  ");
	print_config_json(f, only, schedule, seeds, first_seed);
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
		       "\"raced\": %s, \"result\": \"%s\", \"schedule\": \"%s\", \"seed\": %llu, "
		       "\"interleaving\": ", first ? "" : ",", s->name, expect_text(s->expect),
		       results[i].ok ? "true" : "false", results[i].raced ? "true" : "false",
		       results[i].verdict == V_BEHAVED ? "behaved" :
		       results[i].verdict == V_NO_RACE ? "no_race" :
		       results[i].verdict == V_CHECKER ? "checker_report" : "did_not_behave",
		       found_schedule[i], (unsigned long long)results[i].seed);
		ex_json_string(f, results[i].interleaving);
		fprintf(f, ", ");
		print_outcome_json(f, &results[i].o);
		fprintf(f, ", \"checker_report_runs\": %u, \"checker_report\": ",
			results[i].nr_reports);
		if (results[i].nr_reports) {
			fprintf(f, "{\"kind\": ");
			ex_json_string(f, results[i].report_kind);
			fprintf(f, ", \"text\": ");
			ex_json_string(f, results[i].report_text);
			fprintf(f, ", \"schedule\": ");
			ex_json_string(f, results[i].report_schedule);
			fprintf(f, ", \"seed\": %llu}", (unsigned long long)results[i].report_seed);
		} else {
			fprintf(f, "null");
		}
		fprintf(f, ", ");
		ex_kernel_json(f, &cfg);
		fprintf(f, ",\n     \"timeline\": [%s\n     ]}",
			results[i].timeline ? results[i].timeline : "");
		first = false;
	}
	fprintf(f, "\n  ],\n  \"good\": %d,\n  \"total\": %d,\n  \"no_race\": %d,\n"
		"  \"exit_status\": %d\n}\n", good, total, no_race, status);
}

/* The threads of scenario @s, as run_once() makes them: their number and names. */
static int scenario_threads(const struct scenario *s, const char **names)
{
	*names = s->lockstep ? "0 vfio" :
		 s->expect == EXPECT_OOPS_AND_HANG ? "0 numa_maps, 1 vfio, 2 munmap" :
		 "0 numa_maps, 1 vfio";
	return s->lockstep ? 1 : s->expect == EXPECT_OOPS_AND_HANG ? 3 : 2;
}

/*
 * A schedule (from @src: --schedule or PINSIM_SCHEDULE) for scenario @s:
 * thread indexes joined by '.', each below the scenario's thread count, at
 * most SCHED_MAX_DECISIONS (sim/scheduler.h: 4096) of them.  A bad one is
 * a usage error (exit 2) before any work: the scheduler would take what
 * parses and run the rest its own way.
 */
#define MAX_DECISIONS 4096
static void check_schedule(const char *src, const char *sched, const struct scenario *s)
{
	const char *names, *p = sched;
	int nt = scenario_threads(s, &names);
	unsigned int n = 0;

	if (!*p)
		bad_arg("%s is empty: a schedule is thread indexes joined by '.' (like 0.1.1)", src);
	while (*p) {
		unsigned long v;
		char *end;

		if (*p < '0' || *p > '9')
			bad_arg("%s: decision %u ('%.12s') is not a thread index: a schedule is "
				"thread indexes joined by '.' (like 0.1.1)", src, n + 1, p);
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || v >= (unsigned long)nt)
			bad_arg("%s: decision %u is thread %.12s, but scenario %s has %d thread%s "
				"(%s)", src, n + 1, p, s->name, nt, nt == 1 ? "" : "s", names);
		if (++n > MAX_DECISIONS)
			bad_arg("%s has more than %d decisions (the scheduler's limit)", src,
				MAX_DECISIONS);
		if (*end == '.' && !end[1])
			bad_arg("%s ends with '.': a schedule is thread indexes joined by '.' "
				"(like 0.1.1)", src);
		if (*end && *end != '.')
			bad_arg("%s: decision %u ('%.12s') is not a thread index: a schedule is "
				"thread indexes joined by '.' (like 0.1.1)", src, n, p);
		p = *end ? end + 1 : end;
	}
}

/* ---------------- --shard I/N and --merge (issue 15) ---------------- */

/*
 * A PCT seed search split across processes or machines: shard I of N runs
 * the seeds first+k for k = I, I+N, I+2N, ... below --seeds, in order, and
 * stops as one run would (a scenario expecting a race at its first wanted
 * seed; the EXPECT_NO_OOPS ones at their first unwanted seed), so its first
 * hit is the smallest of its seeds.  Each searching scenario gives one JSON
 * line on stdout; --merge reads the lines of all N shards and prints the
 * summary one run (--shard 0/1) would: per scenario the smallest hit over
 * the shards, and how many seeds one run would have searched to reach it.
 * Scenarios that replay (lockstep-*, the policy ones replaying
 * fixed-legacy's schedule) do not search: they are left out.  Running the
 * shards is a batch runner's job (README: GNU parallel, Slurm arrays,
 * Kubernetes indexed Jobs).
 */
static unsigned int shard_i, shard_n;	/* --shard I/N; shard_n 0: not given */
static bool merge_opt;			/* --merge FILE... */

/* ---------------- --explore: the bounded exhaustive search (issue 15) ---------------- */

/*
 * Every schedule of a scenario's threads with at most --bound preemptions
 * at the race points (pinsim_explore()), each execution in a fresh world,
 * its outcome classified in the scenario's terms.  The MAP_DMA maps the
 * BAR's first EXPLORE_MAP_SIZE bytes: the fault still installs the whole
 * leaf (the VMA decides its order), so the race is the same, and 6.12's
 * one follow_fault_pfn() per 4K page (before 0fd06844de5d) stays at four
 * schedule points instead of 262144 — each of which the search would try
 * to preempt.  --explore --schedule replays one execution of that world.
 * The lockstep-* scenarios are not searched: their one thread has no
 * decision to vary (the adversary's rules are the schedule).
 */
#define EXPLORE_STEP_BUDGET 100000
#define EXPLORE_SHARD_DEPTH 3
#define EXPLORE_MAX_OUTCOMES 16
#define EXPLORE_DEFAULT_MAX 20000

static bool explore_opt;		/* --explore */
static bool explore_reduce = true;	/* --no-reduce clears it */
static unsigned long explore_bound = 2, explore_max = EXPLORE_DEFAULT_MAX;

struct explore_outcome {
	char name[24];
	unsigned long count;
	unsigned long prefix, index;	/* the first one's place in the search */
	char schedule[8193];
};

struct explore_report {
	bool seen;
	unsigned long prefix, index;
	char kind[32], text[1536], schedule[8193];
};

/* One scenario's search: what its callbacks collect. */
static struct explore_ctx {
	const struct scenario *s;
	struct world w;
	unsigned long setups;
	int nr;
	bool overflow;
	struct explore_outcome o[EXPLORE_MAX_OUTCOMES];
	struct explore_report rep;
	struct pinsim_explore_stats st;
	int ret, err;
} xc;

static bool explore_searches(const struct scenario *s)
{
	return !s->lockstep;
}

/* The outcome of an execution, in the scenario's terms. */
static const char *explore_outcome_name(const struct outcome *o, char *buf, size_t len)
{
	if (o->oops)
		return o->hang ? "oops+deadlock" : "oops";
	if (o->hang)
		return "deadlock";
	if (o->livelock)
		return "livelock";
	if (o->vfio_died)
		return "vfio-ended";
	if (o->map_ok)
		return "mapped";
	if (o->map_errno && strcmp(errname(o->map_errno), "an error"))
		return errname(o->map_errno);
	snprintf(buf, len, "errno-%d", o->map_errno);
	return buf;
}

static int x_setup(void *ctx, struct pinsim_thread *t)
{
	struct explore_ctx *c = ctx;
	int n = 0;

	c->setups++;
	if (world_create(&c->w, c->s))
		return -1;
	t[n++] = (struct pinsim_thread){ .name = "numa_maps", .proc = c->w.p, .fn = t_numa_maps,
					 .arg = &c->w };
	t[n++] = (struct pinsim_thread){ .name = "vfio", .proc = c->w.p, .fn = t_map_dma,
					 .arg = &c->w };
	if (c->s->expect == EXPECT_OOPS_AND_HANG)
		t[n++] = (struct pinsim_thread){ .name = "munmap", .proc = c->w.p, .fn = t_munmap,
						 .arg = &c->w };
	return n;
}

/* The run's first checker report, from the process-wide log. */
static void x_report(struct explore_ctx *c, const struct pinsim_sched_result *res,
		     unsigned long prefix, unsigned long index)
{
	static struct pinsim_checker_report r[32];
	int total = pinsim_checker_reports(c->w.m, r, 32);
	int first = total - (int)res->checker_reports;

	c->rep.seen = true;
	c->rep.prefix = prefix;
	c->rep.index = index;
	snprintf(c->rep.schedule, sizeof(c->rep.schedule), "%s", res->schedule);
	if (first >= 0 && first < 32 && first < total) {
		snprintf(c->rep.kind, sizeof(c->rep.kind), "%s", r[first].kind);
		snprintf(c->rep.text, sizeof(c->rep.text), "%s", r[first].text);
	} else {
		snprintf(c->rep.kind, sizeof(c->rep.kind), "?");
		snprintf(c->rep.text, sizeof(c->rep.text), "(past the 32 reports kept)");
	}
}

static bool x_check(void *ctx, struct pinsim_thread *t, int n, const struct pinsim_sched_result *res)
{
	struct explore_ctx *c = ctx;
	unsigned long prefix = 0, index = 0;
	struct pinsim_stats st;
	struct outcome o;
	const char *name;
	char buf[24];
	int i;

	(void)n;
	pinsim_explore_position(&prefix, &index);
	memset(&o, 0, sizeof(o));
	pinsim_stats(c->w.m, &st);
	o.oops = st.oopses > 0;
	o.hang = res->status == PINSIM_SCHED_DEADLOCK;
	o.livelock = res->status == PINSIM_SCHED_LIVELOCK;
	o.vfio_died = t[1].died || o.livelock;
	o.map_errno = o.vfio_died ? 0 : c->w.map_errno;
	o.map_ok = !o.vfio_died && res->status == PINSIM_SCHED_DONE && c->w.map_ret == 0;
	name = explore_outcome_name(&o, buf, sizeof(buf));
	for (i = 0; i < c->nr && strcmp(c->o[i].name, name); i++)
		;
	if (i == c->nr) {
		if (c->nr == EXPLORE_MAX_OUTCOMES) {
			c->overflow = true;
			goto report;
		}
		c->nr++;
		snprintf(c->o[i].name, sizeof(c->o[i].name), "%s", name);
		c->o[i].prefix = prefix;
		c->o[i].index = index;
		snprintf(c->o[i].schedule, sizeof(c->o[i].schedule), "%s", res->schedule);
	}
	c->o[i].count++;
report:
	if (res->checker_reports && !c->rep.seen)
		x_report(c, res, prefix, index);
	return true;
}

static void x_teardown(void *ctx)
{
	(void)ctx;	/* pinsim_explore() ends the machine */
}

static void explore_opts_fill(struct pinsim_explore_opts *o, bool sharded)
{
	*o = (struct pinsim_explore_opts){
		.preemption_bound = (unsigned int)explore_bound,
		.max_schedules = explore_max,
		.step_budget = EXPLORE_STEP_BUDGET,
		.reduce = explore_reduce,
		.collect_reports = collect_reports,
		.shard = sharded ? shard_i : 0,
		.nr_shards = sharded ? shard_n : 0,
		.shard_depth = EXPLORE_SHARD_DEPTH,
	};
}

/*
 * The search of scenario @s in a child process, whose results come back
 * through a pipe: the process-wide checker log (x_report()) then holds
 * this search's reports only.
 */
static int explore_isolated(const struct scenario *s, bool sharded)
{
	struct pinsim_explore_opts o;
	struct pinsim_explore_ops ops = { x_setup, x_check, x_teardown };
	int pfd[2], status;
	bool ok;
	pid_t pid = fork_reporter(&pfd[0], &pfd[1]);

	if (pid < 0)
		return -1;
	if (!pid) {
		memset(&xc, 0, sizeof(xc));
		xc.s = s;
		explore_world = true;
		explore_opts_fill(&o, sharded);
		xc.ret = pinsim_explore(&ops, &xc, &o, &xc.st);
		xc.err = xc.ret ? errno : 0;
		_exit(io_all(pfd[1], &xc, sizeof(xc), true) ? 0 : 1);
	}
	ok = io_all(pfd[0], &xc, sizeof(xc), false);
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!ok) {
		fprintf(stderr, "%s: %s: the search %s on the host\n", prog, s->name,
			WIFSIGNALED(status) ? "was killed" : "died");
		return -1;
	}
	if (xc.ret) {
		fprintf(stderr, "%s: %s: pinsim_explore: %s\n", prog, s->name, strerror(xc.err));
		return -1;
	}
	xc.s = s;
	return 0;
}

/* Did the searched space hold what the kernel does (enum verdict)? */
static int explore_verdict(const struct scenario *s, const struct explore_ctx *c)
{
	bool oops = false, einval = false, other = false;

	if (c->rep.seen)
		return V_CHECKER;
	for (int i = 0; i < c->nr; i++) {
		oops |= !strncmp(c->o[i].name, "oops", 4);
		einval |= !strcmp(c->o[i].name, "EINVAL");
		other |= strcmp(c->o[i].name, "mapped") != 0;
	}
	switch (s->expect) {
	case EXPECT_OOPS_AND_HANG:
		for (int i = 0; i < c->nr; i++)
			if (!strcmp(c->o[i].name, "oops+deadlock"))
				return V_BEHAVED;
		return V_DID_NOT;
	case EXPECT_MAP_EINVAL:
		return einval && !oops ? V_BEHAVED : V_DID_NOT;
	case EXPECT_MAP_OK:
		return !other && c->nr ? V_BEHAVED : V_DID_NOT;
	case EXPECT_NO_OOPS:
		return !oops ? V_BEHAVED : V_DID_NOT;
	default:
		return V_DID_NOT;
	}
}

static const char *explore_expect_text(enum expect e)
{
	switch (e) {
	case EXPECT_OOPS_AND_HANG:
		return "some schedule oopses in the reader's walk and hangs mmap_lock";
	case EXPECT_MAP_EINVAL:
		return "some schedule fails MAP_DMA with EINVAL, none oopses";
	case EXPECT_MAP_OK:
		return "every schedule maps the BAR";
	default:
		return "no schedule oopses";
	}
}

static void explore_replay_hint(FILE *f, const struct scenario *s, const char *schedule)
{
	struct pinsim_config kcfg;

	scenario_kernel(s, &kcfg);
	fprintf(f, "race-repro --explore%s --kernel %s --scenario %s --schedule %s",
		impl_opt == PINSIM_IMPL_TREE ? " --impl tree" : "", kcfg.kernel, s->name,
		schedule[0] ? schedule : "''");
}

/* What one explored scenario found, in words. */
static void explore_print(const struct scenario *s, const struct explore_ctx *c, int verdict)
{
	const struct pinsim_explore_stats *st = &c->st;

	fprintf(out, "   search: preemption bound %lu, reduction %s, max %lu schedules, MAP_DMA of "
		"the BAR's first %llu KiB\n", explore_bound, explore_reduce ? "on (sleep sets)" : "off",
		explore_max, EXPLORE_MAP_SIZE >> 10);
	fprintf(out, "   schedules: %lu explored, %lu pruned, %lu sleep skips: %s\n", st->schedules,
		st->pruned, st->sleep_skips,
		st->complete ? "complete (every schedule within the bound)" :
		c->rep.seen ? "INCOMPLETE (stopped on a checker report)" :
			      "INCOMPLETE (--max-schedules reached)");
	for (int i = 0; i < c->nr; i++) {
		fprintf(out, "   outcome %-14s %6lu, first: ", c->o[i].name, c->o[i].count);
		explore_replay_hint(out, s, c->o[i].schedule);
		fprintf(out, "\n");
	}
	if (c->overflow)
		fprintf(out, "   (more than %d outcomes: the rest not counted)\n", EXPLORE_MAX_OUTCOMES);
	fprintf(out, "   coverage: %u schedule-point pairs seen in both orders\n", st->coverage_pairs);
	if (c->rep.seen) {
		nr_checker_runs++;
		fprintf(out, "   checker report (%lu run%s drew one): %s: %s\n   replay: ",
			st->checker_reports, st->checker_reports == 1 ? "" : "s", c->rep.kind,
			c->rep.text);
		explore_replay_hint(out, s, c->rep.schedule);
		fprintf(out, "\n");
	}
	fprintf(out, "   expected: %s\n   result: %s\n\n", explore_expect_text(s->expect),
		verdict == V_BEHAVED ? "behaved as the kernel does" :
		verdict == V_CHECKER ? "stopped on a checker report" :
				       "DID NOT behave as the kernel");
}

static void explore_json_scenario(FILE *f, const struct scenario *s, const struct explore_ctx *c,
				  int verdict, bool first)
{
	const struct pinsim_explore_stats *st = &c->st;
	struct pinsim_config cfg;

	scenario_kernel(s, &cfg);
	fprintf(f, "%s\n    {\"name\": \"%s\", \"expected\": ", first ? "" : ",", s->name);
	ex_json_string(f, explore_expect_text(s->expect));
	fprintf(f, ", \"result\": \"%s\", \"bound\": %lu, \"reduce\": %s, \"max_schedules\": %lu, "
		"\"schedules\": %lu, \"pruned\": %lu, \"sleep_skips\": %lu, \"deadlocks\": %lu, "
		"\"livelocks\": %lu, \"complete\": %s, "
		"\"coverage_pairs\": %u, \"outcomes\": [",
		verdict == V_BEHAVED ? "behaved" : verdict == V_CHECKER ? "checker_report" :
		"did_not_behave", explore_bound, explore_reduce ? "true" : "false", explore_max,
		st->schedules, st->pruned, st->sleep_skips, st->deadlocks, st->livelocks,
		st->complete ? "true" : "false", st->coverage_pairs);
	for (int i = 0; i < c->nr; i++) {
		fprintf(f, "%s{\"outcome\": \"%s\", \"count\": %lu, \"schedule\": ", i ? ", " : "",
			c->o[i].name, c->o[i].count);
		ex_json_string(f, c->o[i].schedule);
		fprintf(f, "}");
	}
	fprintf(f, "], \"checker_report\": ");
	if (c->rep.seen) {
		fprintf(f, "{\"kind\": ");
		ex_json_string(f, c->rep.kind);
		fprintf(f, ", \"text\": ");
		ex_json_string(f, c->rep.text);
		fprintf(f, ", \"schedule\": ");
		ex_json_string(f, c->rep.schedule);
		fprintf(f, ", \"runs\": %lu}", st->checker_reports);
	} else {
		fprintf(f, "null");
	}
	fprintf(f, ", ");
	ex_kernel_json(f, &cfg);
	fprintf(f, "}");
}

/* --explore without --shard: each scenario searched, then the summary. */
static int explore_main(const char *only, FILE *json_out)
{
	int good = 0, total = 0, status, verdict;
	bool first = true, stopped = false;

	if (json_out) {
		fprintf(json_out, "{\n  ");
		ex_version_json(json_out);
		fprintf(json_out, ",\n  \"config\": {\"explore\": true, \"scenario\": ");
		if (only)
			ex_json_string(json_out, only);
		else
			fprintf(json_out, "null");
		fprintf(json_out, ", \"bound\": %lu, \"reduce\": %s, \"max_schedules\": %lu, "
			"\"collect_reports\": %s, \"map_size\": %llu, \"impl\": \"%s\"},\n  "
			"\"scenarios\": [", explore_bound, explore_reduce ? "true" : "false",
			explore_max, collect_reports ? "true" : "false", EXPLORE_MAP_SIZE,
			impl_opt == PINSIM_IMPL_TREE ? "tree" : "rewrite");
	}
	for (size_t i = 0; i < NR_SCENARIOS && !stopped; i++) {
		const struct scenario *s = &scenarios[i];
		struct pinsim_config kcfg;

		if (only ? strcmp(only, s->name) : kernel_opt[0] && !applies(s, kernel_opt))
			continue;
		if (!runs_on_impl(s)) {
			fprintf(out, "== %s: not run with --impl tree: %s\n\n", s->name,
				why_not_on_impl(s));
			continue;
		}
		if (!explore_searches(s)) {
			fprintf(out, "== %s: not searched: one thread, no decision to vary (the "
				"adversary's rules are its schedule)\n\n", s->name);
			continue;
		}
		scenario_kernel(s, &kcfg);
		fprintf(out, "== %s: %s\n", s->name, s->what);
		ex_kernel_print(out, "   ", &kcfg);
		total++;
		if (explore_isolated(s, false))
			return 1;
		verdict = explore_verdict(s, &xc);
		explore_print(s, &xc, verdict);
		good += verdict == V_BEHAVED;
		stopped = verdict == V_CHECKER && !collect_reports;
		if (json_out)
			explore_json_scenario(json_out, s, &xc, verdict, first);
		first = false;
	}
	fprintf(out, "%d/%d scenarios behaved as the kernel does over every explored schedule\n",
		good, total);
	status = nr_checker_runs ? 4 : good < total ? 1 : 0;
	if (json_out) {
		fprintf(json_out, "\n  ],\n  \"good\": %d,\n  \"total\": %d,\n  \"exit_status\": %d\n}\n",
			good, total, status);
		if (!ex_close_out(json_out)) {
			fprintf(stderr, "%s: writing the JSON failed\n", prog);
			return 1;
		}
	}
	return status;
}


static void shard_arg(const char *arg)
{
	unsigned long i, n;
	char *slash = strchr(arg, '/'), head[24];

	if (!slash || (size_t)(slash - arg) >= sizeof(head))
		bad_arg("--shard must be I/N (like 0/4), with 0 <= I < N <= 10000");
	memcpy(head, arg, (size_t)(slash - arg));
	head[slash - arg] = '\0';
	if (!parse_ulong(head, 9999, &i) || !parse_ulong(slash + 1, 10000, &n) || !n || i >= n)
		bad_arg("--shard must be I/N (like 0/4), with 0 <= I < N <= 10000");
	shard_i = (unsigned int)i;
	shard_n = (unsigned int)n;
}

static bool shard_searches(const struct scenario *s)
{
	return !s->lockstep && !s->same_as;
}

/* One scenario's share of the seeds; its JSON line on stdout. */
static int shard_scenario(const struct scenario *s, unsigned long seeds, uint64_t first_seed)
{
	bool all = s->expect == EXPECT_NO_OOPS, hit = false, stop = false;
	static struct outcome rep;
	unsigned long searched = 0, reports = 0;
	uint64_t seed = 0, rep_seed = 0;
	struct outcome o;

	for (unsigned long k = shard_i; k < seeds && !hit && !stop; k += shard_n) {
		seed = first_seed + k;
		if (run_isolated(s, NULL, seed, false, &o, NULL))
			return -1;
		searched++;
		hit = wanted(s, &o) != all;
		/* A checker report stops the search as a hit does (one run's first). */
		if (o.res.checker_reports) {
			if (!reports++) {
				rep = o;
				rep_seed = seed;
			}
			stop = !collect_reports;
		}
	}
	printf("{\"race_repro_shard\": 1, \"scenario\": \"%s\", \"shard\": %u, \"nr_shards\": %u, "
	       "\"first_seed\": %llu, \"seeds\": %lu, \"all\": %s, \"searched\": %lu, "
	       "\"hit_seed\": %llu, \"schedule\": ",
	       s->name, shard_i, shard_n, (unsigned long long)first_seed, seeds,
	       all ? "true" : "false", searched, hit ? (unsigned long long)seed : 0ULL);
	ex_json_string(stdout, hit ? o.res.schedule : "");
	printf(", \"collect_reports\": %s, \"checker_reports\": %lu",
	       collect_reports ? "true" : "false", reports);
	if (reports) {
		printf(", \"report_seed\": %llu, \"report_kind\": ", (unsigned long long)rep_seed);
		ex_json_string(stdout, rep.check_kind);
		printf(", \"report_text\": ");
		ex_json_string(stdout, rep.check_text);
		printf(", \"report_schedule\": ");
		ex_json_string(stdout, rep.res.schedule);
	}
	printf("}\n");
	return 0;
}

static int shard_main(const char *only, unsigned long seeds, uint64_t first_seed)
{
	for (size_t i = 0; i < NR_SCENARIOS; i++) {
		const struct scenario *s = &scenarios[i];

		if (only ? strcmp(only, s->name) : kernel_opt[0] && !applies(s, kernel_opt))
			continue;
		if (!runs_on_impl(s) || !shard_searches(s))
			continue;
		if (shard_scenario(s, seeds, first_seed))
			return 1;
	}
	return ferror(stdout) || fflush(stdout) ? 1 : 0;
}

/* What --merge keeps per scenario. */
static struct {
	bool seen, all;
	unsigned int nr_shards;
	unsigned long seeds, lines;
	uint64_t first_seed, hit;
	uint32_t shards_seen[10000 / 32 + 1];
	char schedule[8193];
	bool collect;
	uint64_t rep_seed;		/* the smallest seed with a checker report; 0: none */
	char rep_kind[32], rep_text[1536], rep_schedule[8193];
} merged[NR_SCENARIOS];

/* The value after "key": in @line (numbers, true/false, a string's start). */
static const char *json_field(const char *line, const char *key)
{
	char pat[48];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(line, pat);
	return p ? p + strlen(pat) : NULL;
}

static bool json_ull(const char *line, const char *key, unsigned long long *v)
{
	const char *p = json_field(line, key);
	char *end;

	if (!p || *p < '0' || *p > '9')
		return false;
	errno = 0;
	*v = strtoull(p, &end, 10);
	return !errno && (*end == ',' || *end == '}');
}

/* A JSON string written by ex_json_string() without escapes (scenario names, schedules). */
static bool json_str(const char *line, const char *key, char *buf, size_t len)
{
	const char *p = json_field(line, key), *q;

	if (!p || *p != '"')
		return false;
	q = strchr(p + 1, '"');
	if (!q || (size_t)(q - p - 1) >= len)
		return false;
	memcpy(buf, p + 1, (size_t)(q - p - 1));
	buf[q - p - 1] = '\0';
	return true;
}

/* ---- --explore --shard I/N and its --merge ---- */

static const char *kernel_name(const struct scenario *s)
{
	static struct pinsim_config kcfg;

	scenario_kernel(s, &kcfg);
	return kcfg.kernel;
}

/*
 * One scenario's share of the exhaustive tree: one JSON line.  Outcomes as
 * flat keys (o_NAME_count, _prefix, _index, _schedule; names in
 * "outcome_names"): the first of each with its place in the search, so
 * that --merge picks the one a single search meets first.
 */
static int explore_shard_scenario(const struct scenario *s)
{
	const struct pinsim_explore_stats *st = &xc.st;

	if (explore_isolated(s, true))
		return -1;
	printf("{\"race_repro_explore_shard\": 1, \"scenario\": \"%s\", \"shard\": %u, "
	       "\"nr_shards\": %u, \"bound\": %lu, \"reduce\": %s, \"shard_depth\": %d, "
	       "\"max_schedules\": %lu, \"collect_reports\": %s, \"kernel\": \"%s\", "
	       "\"impl\": \"%s\", \"schedules\": %lu, \"pruned\": %lu, \"sleep_skips\": %lu, "
	       "\"probes\": %lu, \"prefixes\": %lu, \"own_prefixes\": %lu, \"complete\": %s, "
	       "\"coverage\": \"",
	       s->name, shard_i, shard_n, explore_bound, explore_reduce ? "true" : "false",
	       EXPLORE_SHARD_DEPTH, explore_max, collect_reports ? "true" : "false",
	       kernel_name(s), impl_opt == PINSIM_IMPL_TREE ? "tree" : "rewrite", st->schedules,
	       st->pruned, st->sleep_skips, st->probes, st->prefixes, st->own_prefixes,
	       st->complete ? "true" : "false");
	for (int p = 0; p < PINSIM_NR_POINTS; p++)
		printf("%s%x", p ? "." : "", st->order[p]);
	printf("\", \"outcome_names\": \"");
	for (int i = 0; i < xc.nr; i++)
		printf("%s%s", i ? "," : "", xc.o[i].name);
	printf("\"");
	for (int i = 0; i < xc.nr; i++) {
		printf(", \"o_%s_count\": %lu, \"o_%s_prefix\": %lu, \"o_%s_index\": %lu, "
		       "\"o_%s_schedule\": \"%s\"", xc.o[i].name, xc.o[i].count, xc.o[i].name,
		       xc.o[i].prefix, xc.o[i].name, xc.o[i].index, xc.o[i].name, xc.o[i].schedule);
	}
	printf(", \"checker_reports\": %lu", st->checker_reports);
	if (xc.rep.seen) {
		printf(", \"report_prefix\": %lu, \"report_index\": %lu, \"report_kind\": ",
		       xc.rep.prefix, xc.rep.index);
		ex_json_string(stdout, xc.rep.kind);
		printf(", \"report_text\": ");
		ex_json_string(stdout, xc.rep.text);
		printf(", \"report_schedule\": ");
		ex_json_string(stdout, xc.rep.schedule);
	}
	printf("}\n");
	return 0;
}

static int explore_shard_main(const char *only)
{
	for (size_t i = 0; i < NR_SCENARIOS; i++) {
		const struct scenario *s = &scenarios[i];

		if (only ? strcmp(only, s->name) : kernel_opt[0] && !applies(s, kernel_opt))
			continue;
		if (!runs_on_impl(s) || !explore_searches(s))
			continue;
		if (explore_shard_scenario(s))
			return 1;
	}
	return ferror(stdout) || fflush(stdout) ? 1 : 0;
}

/* What --merge keeps of --explore --shard lines, per scenario. */
static struct {
	bool seen, complete, reduce, collect;
	unsigned int nr_shards;
	unsigned long bound, depth, max, lines;
	unsigned long schedules, pruned, checker_reports;
	char kernel[64], impl[16];
	uint32_t order[PINSIM_NR_POINTS];
	uint32_t shards_seen[10000 / 32 + 1];
	int nr;
	struct explore_outcome o[EXPLORE_MAX_OUTCOMES];
	struct explore_report rep;
} xmerged[NR_SCENARIOS];

/* A JSON string written by ex_json_string(), unescaped into @buf. */
static bool json_str_esc(const char *line, const char *key, char *buf, size_t len)
{
	const char *p = json_field(line, key);
	size_t n = 0;

	if (!p || *p++ != '"')
		return false;
	for (; *p && *p != '"'; p++) {
		char ch = *p;

		if (ch == '\\') {
			unsigned int u;

			p++;
			if (*p == 'u' && sscanf(p + 1, "%4x", &u) == 1) {
				ch = (char)u;
				p += 4;
			} else if (*p == '"' || *p == '\\') {
				ch = *p;
			} else {
				return false;
			}
		}
		if (n + 1 >= len)
			return false;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	return *p == '"';
}

static bool json_bool(const char *line, const char *key, bool *v)
{
	const char *p = json_field(line, key);

	if (!p || (strncmp(p, "true", 4) && strncmp(p, "false", 5)))
		return false;
	*v = *p == 't';
	return true;
}

/* Is (p1, i1) before (p2, i2) in the search's order? */
static bool explore_before(unsigned long p1, unsigned long i1, unsigned long p2, unsigned long i2)
{
	return p1 < p2 || (p1 == p2 && i1 < i2);
}

static int explore_merge_outcomes(size_t idx, const char *file, unsigned long ln, const char *line)
{
	static char names[EXPLORE_MAX_OUTCOMES * 25], sched[8193];
	char *save = NULL, *name, key[64];
	unsigned long long count, prefix, index;

	if (!json_str(line, "outcome_names", names, sizeof(names)))
		return -1;
	for (name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		struct explore_outcome *o = NULL;

		snprintf(key, sizeof(key), "o_%s_count", name);
		if (!json_ull(line, key, &count))
			return -1;
		snprintf(key, sizeof(key), "o_%s_prefix", name);
		if (!json_ull(line, key, &prefix))
			return -1;
		snprintf(key, sizeof(key), "o_%s_index", name);
		if (!json_ull(line, key, &index))
			return -1;
		snprintf(key, sizeof(key), "o_%s_schedule", name);
		if (!json_str(line, key, sched, sizeof(sched)))
			return -1;
		for (int i = 0; i < xmerged[idx].nr; i++)
			if (!strcmp(xmerged[idx].o[i].name, name))
				o = &xmerged[idx].o[i];
		if (!o) {
			if (xmerged[idx].nr == EXPLORE_MAX_OUTCOMES) {
				fprintf(stderr, "%s: %s:%lu: more than %d outcomes\n", prog, file, ln,
					EXPLORE_MAX_OUTCOMES);
				return -1;
			}
			o = &xmerged[idx].o[xmerged[idx].nr++];
			snprintf(o->name, sizeof(o->name), "%s", name);
			o->prefix = ULONG_MAX;
		}
		o->count += count;
		if (explore_before(prefix, index, o->prefix, o->index)) {
			o->prefix = prefix;
			o->index = index;
			snprintf(o->schedule, sizeof(o->schedule), "%s", sched);
		}
	}
	return 0;
}

static int explore_merge_report(size_t idx, const char *line)
{
	static struct explore_report r;
	unsigned long long prefix, index;

	if (!json_field(line, "report_kind"))
		return 0;
	if (!json_ull(line, "report_prefix", &prefix) || !json_ull(line, "report_index", &index) ||
	    !json_str_esc(line, "report_kind", r.kind, sizeof(r.kind)) ||
	    !json_str_esc(line, "report_text", r.text, sizeof(r.text)) ||
	    !json_str_esc(line, "report_schedule", r.schedule, sizeof(r.schedule)))
		return -1;
	if (!xmerged[idx].rep.seen ||
	    explore_before(prefix, index, xmerged[idx].rep.prefix, xmerged[idx].rep.index)) {
		xmerged[idx].rep = r;
		xmerged[idx].rep.seen = true;
		xmerged[idx].rep.prefix = prefix;
		xmerged[idx].rep.index = index;
	}
	return 0;
}

static int explore_merge_line(const char *file, unsigned long ln, const char *line)
{
	unsigned long long shard, n, bound, depth, max, schedules, pruned, skips, reports;
	static char name[64], kernel[64], impl[16], cov[PINSIM_NR_POINTS * 9 + 1];
	bool reduce, complete, collect;
	const struct scenario *s;
	size_t idx;
	char *p;

	if (!json_str(line, "scenario", name, sizeof(name)) || !(s = by_name(name)) ||
	    !json_ull(line, "shard", &shard) || !json_ull(line, "nr_shards", &n) ||
	    !json_ull(line, "bound", &bound) || !json_ull(line, "shard_depth", &depth) ||
	    !json_ull(line, "max_schedules", &max) || !json_ull(line, "schedules", &schedules) ||
	    !json_ull(line, "pruned", &pruned) || !json_ull(line, "sleep_skips", &skips) ||
	    !json_ull(line, "checker_reports", &reports) || !json_bool(line, "reduce", &reduce) ||
	    !json_bool(line, "complete", &complete) ||
	    !json_bool(line, "collect_reports", &collect) ||
	    !json_str(line, "kernel", kernel, sizeof(kernel)) ||
	    !json_str(line, "impl", impl, sizeof(impl)) ||
	    !json_str(line, "coverage", cov, sizeof(cov)) || !n || n > 10000 || shard >= n)
		goto bad;
	idx = (size_t)(s - scenarios);
	if (xmerged[idx].seen &&
	    (xmerged[idx].nr_shards != n || xmerged[idx].bound != bound ||
	     xmerged[idx].depth != depth || xmerged[idx].max != max ||
	     xmerged[idx].reduce != reduce || xmerged[idx].collect != collect ||
	     strcmp(xmerged[idx].kernel, kernel) || strcmp(xmerged[idx].impl, impl))) {
		fprintf(stderr, "%s: %s:%lu: %s: shards of different searches (--shard N, --bound, "
			"--no-reduce, --max-schedules, --collect-reports, --kernel, --impl must "
			"match)\n", prog, file, ln, name);
		return -1;
	}
	if (xmerged[idx].shards_seen[shard / 32] & (1u << (shard % 32))) {
		fprintf(stderr, "%s: %s:%lu: %s: explore shard %llu/%llu given twice\n", prog, file,
			ln, name, shard, n);
		return -1;
	}
	xmerged[idx].shards_seen[shard / 32] |= 1u << (shard % 32);
	if (!xmerged[idx].seen)
		xmerged[idx].complete = true;
	xmerged[idx].seen = true;
	xmerged[idx].nr_shards = (unsigned int)n;
	xmerged[idx].bound = bound;
	xmerged[idx].depth = depth;
	xmerged[idx].max = max;
	xmerged[idx].reduce = reduce;
	xmerged[idx].collect = collect;
	snprintf(xmerged[idx].kernel, sizeof(xmerged[idx].kernel), "%s", kernel);
	snprintf(xmerged[idx].impl, sizeof(xmerged[idx].impl), "%s", impl);
	xmerged[idx].lines++;
	xmerged[idx].schedules += schedules;
	xmerged[idx].pruned += pruned;
	xmerged[idx].checker_reports += reports;
	xmerged[idx].complete &= complete;
	p = cov;
	for (int i = 0; i < PINSIM_NR_POINTS; i++) {
		char *end;

		xmerged[idx].order[i] |= (uint32_t)strtoul(p, &end, 16);
		if (end == p || (*end != '.' && *end))
			goto bad;
		p = *end ? end + 1 : end;
	}
	if (explore_merge_outcomes(idx, file, ln, line) || explore_merge_report(idx, line))
		goto bad;
	return 0;
bad:
	fprintf(stderr, "%s: %s:%lu: not a race-repro --explore --shard line\n", prog, file, ln);
	return -1;
}

static unsigned int coverage_pairs(const uint32_t *order)
{
	unsigned int n = 0;

	for (int a = 0; a < PINSIM_NR_POINTS; a++)
		for (int b = a + 1; b < PINSIM_NR_POINTS; b++)
			n += (order[a] >> b & 1) && (order[b] >> a & 1);
	return n;
}

/*
 * The merged explore summary: one JSON line per scenario, the same for N
 * shards as for one.  Probes (runs into other shards' prefixes) are a
 * shard's cost, not the search's, and sleep skips are counted on the
 * probes' decisions too: both left out.  -1: a shard is missing.
 */
static int explore_merge_print(bool *any, bool *bad)
{
	for (size_t i = 0; i < NR_SCENARIOS; i++) {
		const struct scenario *s = &scenarios[i];
		struct explore_ctx *c = &xc;
		int verdict;

		if (!xmerged[i].seen)
			continue;
		*any = true;
		if (xmerged[i].lines != xmerged[i].nr_shards) {
			fprintf(stderr, "%s: --merge: %s: %lu of %u explore shards given\n", prog,
				s->name, xmerged[i].lines, xmerged[i].nr_shards);
			return -1;
		}
		/* The verdict from the merged outcomes, as one run gives it. */
		memset(c, 0, sizeof(*c));
		c->nr = xmerged[i].nr;
		memcpy(c->o, xmerged[i].o, sizeof(c->o));
		c->rep = xmerged[i].rep;
		verdict = explore_verdict(s, c);
		*bad |= verdict != V_BEHAVED;
		printf("{\"scenario\": \"%s\", \"explore\": true, \"bound\": %lu, \"reduce\": %s, "
		       "\"shard_depth\": %lu, \"max_schedules\": %lu, \"kernel\": \"%s\", "
		       "\"impl\": \"%s\", \"schedules\": %lu, \"pruned\": %lu, "
		       "\"complete\": %s, \"coverage_pairs\": %u, \"outcomes\": {",
		       s->name, xmerged[i].bound, xmerged[i].reduce ? "true" : "false",
		       xmerged[i].depth, xmerged[i].max, xmerged[i].kernel, xmerged[i].impl,
		       xmerged[i].schedules, xmerged[i].pruned,
		       xmerged[i].complete ? "true" : "false", coverage_pairs(xmerged[i].order));
		for (int k = 0; k < xmerged[i].nr; k++)
			printf("%s\"%s\": {\"count\": %lu, \"schedule\": \"%s\"}", k ? ", " : "",
			       xmerged[i].o[k].name, xmerged[i].o[k].count, xmerged[i].o[k].schedule);
		printf("}, \"checker_reports\": %lu, \"checker_report\": ",
		       xmerged[i].checker_reports);
		if (xmerged[i].rep.seen) {
			printf("{\"kind\": ");
			ex_json_string(stdout, xmerged[i].rep.kind);
			printf(", \"text\": ");
			ex_json_string(stdout, xmerged[i].rep.text);
			printf(", \"schedule\": ");
			ex_json_string(stdout, xmerged[i].rep.schedule);
			printf("}");
		} else {
			printf("null");
		}
		printf(", \"result\": \"%s\"}\n", verdict == V_BEHAVED ? "behaved" :
		       verdict == V_CHECKER ? "checker_report" : "did_not_behave");
	}
	return 0;
}

/* A --shard line's checker report (issue 15): the smallest seed's is kept. */
static int merge_report(size_t idx, const char *file, unsigned long ln, const char *line)
{
	static char kind[32], text[1536], sched[8193];
	unsigned long long seed;
	bool collect = false;

	json_bool(line, "collect_reports", &collect);
	merged[idx].collect = collect;
	if (!json_field(line, "report_kind"))
		return 0;
	if (!json_ull(line, "report_seed", &seed) || !seed ||
	    !json_str_esc(line, "report_kind", kind, sizeof(kind)) ||
	    !json_str_esc(line, "report_text", text, sizeof(text)) ||
	    !json_str_esc(line, "report_schedule", sched, sizeof(sched))) {
		fprintf(stderr, "%s: %s:%lu: a bad checker report in a --shard line\n", prog, file,
			ln);
		return -1;
	}
	if (!merged[idx].rep_seed || seed < merged[idx].rep_seed) {
		merged[idx].rep_seed = seed;
		snprintf(merged[idx].rep_kind, sizeof(merged[idx].rep_kind), "%s", kind);
		snprintf(merged[idx].rep_text, sizeof(merged[idx].rep_text), "%s", text);
		snprintf(merged[idx].rep_schedule, sizeof(merged[idx].rep_schedule), "%s", sched);
	}
	return 0;
}

static int merge_line(const char *file, unsigned long ln, const char *line)
{
	unsigned long long shard, n, first, seeds, searched, hit;
	static char name[64], sched[8193];
	const struct scenario *s;
	const char *all;
	size_t idx;

	if (json_field(line, "race_repro_explore_shard"))
		return explore_merge_line(file, ln, line);
	if (!json_field(line, "race_repro_shard"))
		return 0;	/* not ours: other lines may share the file */
	if (!json_str(line, "scenario", name, sizeof(name)) || !(s = by_name(name)) ||
	    !json_ull(line, "shard", &shard) || !json_ull(line, "nr_shards", &n) ||
	    !json_ull(line, "first_seed", &first) || !json_ull(line, "seeds", &seeds) ||
	    !json_ull(line, "searched", &searched) || !json_ull(line, "hit_seed", &hit) ||
	    !(all = json_field(line, "all")) || !json_str(line, "schedule", sched, sizeof(sched)) ||
	    !n || n > 10000 || shard >= n) {
		fprintf(stderr, "%s: %s:%lu: not a race-repro --shard line\n", prog, file, ln);
		return -1;
	}
	idx = (size_t)(s - scenarios);
	if (merged[idx].seen && (merged[idx].nr_shards != n || merged[idx].seeds != seeds ||
				 merged[idx].first_seed != first)) {
		fprintf(stderr, "%s: %s:%lu: %s: shards of different searches (--shard N, "
			"--seeds, --seed must match)\n", prog, file, ln, name);
		return -1;
	}
	if (merged[idx].shards_seen[shard / 32] & (1u << (shard % 32))) {
		fprintf(stderr, "%s: %s:%lu: %s: shard %llu/%llu given twice\n", prog, file, ln,
			name, shard, n);
		return -1;
	}
	merged[idx].shards_seen[shard / 32] |= 1u << (shard % 32);
	merged[idx].seen = true;
	merged[idx].all = !strncmp(all, "true", 4);
	merged[idx].nr_shards = (unsigned int)n;
	merged[idx].seeds = seeds;
	merged[idx].first_seed = first;
	merged[idx].lines++;
	if (hit && (!merged[idx].hit || hit < merged[idx].hit)) {
		merged[idx].hit = hit;
		snprintf(merged[idx].schedule, sizeof(merged[idx].schedule), "%s", sched);
	}
	return merge_report(idx, file, ln, line);
}

static int merge_file(const char *file)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	char *line = NULL;
	size_t cap = 0;
	unsigned long ln = 0;
	int ret = 0;

	if (!f) {
		fprintf(stderr, "%s: --merge: %s: %s\n", prog, file, strerror(errno));
		return -1;
	}
	while (!ret && getline(&line, &cap, f) > 0)
		ret = merge_line(file, ++ln, line);
	free(line);
	if (f != stdin)
		fclose(f);
	return ret;
}

/*
 * The summary of the merged shards: one JSON line per scenario, the same
 * for N shards as for one (--shard 0/1).  Exit 1 when a shard is missing.
 */
static int merge_main(int nfiles, char **files)
{
	bool any = false, explore_bad = false;

	for (int i = 0; i < nfiles; i++)
		if (merge_file(files[i]))
			return 1;
	for (size_t i = 0; i < NR_SCENARIOS; i++) {
		const struct scenario *s = &scenarios[i];
		unsigned long one_run;

		if (!merged[i].seen)
			continue;
		any = true;
		if (merged[i].lines != merged[i].nr_shards) {
			fprintf(stderr, "%s: --merge: %s: %lu of %u shards given\n", prog, s->name,
				merged[i].lines, merged[i].nr_shards);
			return 1;
		}
		/*
		 * One run stops at its first hit or (without --collect-reports)
		 * checker report: what comes after the earlier of the two it
		 * never reaches.
		 */
		if (merged[i].rep_seed && !merged[i].collect) {
			if (merged[i].hit && merged[i].hit < merged[i].rep_seed)
				merged[i].rep_seed = 0;
			else
				merged[i].hit = 0;
		}
		one_run = merged[i].hit ? (unsigned long)(merged[i].hit - merged[i].first_seed + 1) :
			  merged[i].rep_seed && !merged[i].collect ?
			  (unsigned long)(merged[i].rep_seed - merged[i].first_seed + 1) :
			  merged[i].seeds;
		printf("{\"scenario\": \"%s\", \"expected\": \"%s\", \"first_seed\": %llu, "
		       "\"seeds\": %lu, \"searched\": %lu, \"result\": \"%s\", \"seed\": %llu, "
		       "\"schedule\": ",
		       s->name, expect_text(s->expect), (unsigned long long)merged[i].first_seed,
		       merged[i].seeds, one_run,
		       merged[i].rep_seed && !merged[i].collect ? "checker_report" :
		       merged[i].all ? (merged[i].hit ? "failed" : "all_ok") :
				       (merged[i].hit ? "found" : "not_found"),
		       (unsigned long long)merged[i].hit);
		ex_json_string(stdout, merged[i].schedule);
		printf(", \"checker_report\": ");
		if (merged[i].rep_seed) {
			printf("{\"seed\": %llu, \"kind\": ", (unsigned long long)merged[i].rep_seed);
			ex_json_string(stdout, merged[i].rep_kind);
			printf(", \"text\": ");
			ex_json_string(stdout, merged[i].rep_text);
			printf(", \"schedule\": ");
			ex_json_string(stdout, merged[i].rep_schedule);
			printf("}");
		} else {
			printf("null");
		}
		printf("}\n");
	}
	if (explore_merge_print(&any, &explore_bad))
		return 1;
	if (!any) {
		fprintf(stderr, "%s: --merge: no race-repro --shard lines\n", prog);
		return 1;
	}
	if (ferror(stdout) || fflush(stdout))
		return 1;
	/* As one run: 4 on a checker report, 1 when a scenario did not behave. */
	for (size_t i = 0; i < NR_SCENARIOS; i++)
		if (xmerged[i].rep.seen || merged[i].rep_seed)
			return 4;
	if (explore_bad)
		return 1;
	/* As one run: 1 when a scenario did not behave as the kernel does. */
	for (size_t i = 0; i < NR_SCENARIOS; i++)
		if (merged[i].seen && !merged[i].all != !!merged[i].hit)
			return 1;
	return 0;
}

static void explore_usage(FILE *f)
{
	fprintf(f,
"  --explore           instead of PCT seeds, the bounded exhaustive search of\n"
"                      each scenario (pinsim_explore()): every schedule with at\n"
"                      most --bound preemptions at the race points, each in a\n"
"                      fresh world whose MAP_DMA maps the BAR's first 16 KiB\n"
"                      (the fault still installs the whole leaf: the same race,\n"
"                      few points).  Per scenario: schedules explored, pruned\n"
"                      and sleep skips, complete or not, per outcome (mapped,\n"
"                      EINVAL, EBUSY, EINTR, oops, oops+deadlock, deadlock,\n"
"                      livelock, vfio-ended) its count and first schedule, and\n"
"                      the schedule-point pairs seen in both orders.  The\n"
"                      lockstep-* scenarios are not searched: one thread, no\n"
"                      decision to vary.  With --schedule (and --scenario):\n"
"                      replay that schedule of the explore world, narrated\n"
"  --bound K           --explore's preemption bound (default 2, at most 8)\n"
"  --no-reduce         --explore without sleep-set reduction (the same\n"
"                      outcomes, more schedules)\n"
"  --max-schedules N   --explore stops a scenario after N schedules (default\n"
"                      %d; it then says INCOMPLETE)\n"
"  --explore --shard I/N  the search tree split by decision prefix (depth %d,\n"
"                      prefix k to shard k mod N): one JSON line per scenario\n"
"                      (race_repro_explore_shard), which --merge combines\n"
"                      into what --shard 0/1 gives, line for line (a checker\n"
"                      report stops each shard where it is: then the counts\n"
"                      are the shards')\n", EXPLORE_DEFAULT_MAX, EXPLORE_SHARD_DEPTH);
}

static void shard_usage(FILE *f)
{
	fprintf(f,
"  --shard I/N         split the PCT seed search: this process runs seeds\n"
"                      first+k for k = I, I+N, ... (< --seeds) and prints one\n"
"                      JSON line per searching scenario, no narration\n"
"  --merge FILE...     combine --shard lines (FILE '-': stdin) into the summary\n"
"                      one run (--shard 0/1) gives: per scenario the smallest\n"
"                      hit seed, its schedule, the seeds one run searches;\n"
"                      --explore lines: summed counts, the first schedule of\n"
"                      each outcome in the search's order.  Every shard must\n"
"                      be given exactly once, all of one search (exit 1)\n");
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
	shard_usage(f);
	explore_usage(f);
	fprintf(f,
"  --schedule STRING   replay this schedule (needs --scenario): thread indexes\n"
"                      joined by '.', at most 4096, each below the scenario's\n"
"                      thread count (prefix-pud: 0 numa_maps, 1 vfio, 2 munmap;\n"
"                      lockstep-*: 0 vfio; the others: 0 numa_maps, 1 vfio);\n"
"                      checked before any work\n"
"  --canonical         replay each scenario's own interleaving, the one it is\n"
"                      about on its own kernel, instead of searching; the\n"
"                      fixed-* policy scenarios replay fixed-legacy's\n"
"  --seeds N           PCT seeds to search per scenario (default 200); progress\n"
"                      'seed i/N' on stderr when it is a terminal, not --quiet\n"
"  --seed FIRST        the first PCT seed (default 1)\n"
"  --quiet             no narrated timelines, no progress\n"
"  --json[=FILE]       a JSON summary to FILE, or stdout without FILE or with\n"
"                      '-' (the narration then goes to stderr): the version,\n"
"                      every option's value (config), the --kernel asked for,\n"
"                      and per scenario its result, interleaving, seed,\n"
"                      schedule, outcome, kernel and effective switches, and\n"
"                      the timeline of the narrated run (each step: thread\n"
"                      index, task, schedule point, event, address)\n"
"  --collect-reports   a checker report (lock order, walker, DMA, numa_maps,\n"
"                      locked_vm: pinsim_checker_reports()) does not stop the\n"
"                      search: every run that drew one is listed with the\n"
"                      schedule that replays it; without it the first one\n"
"                      ends the whole search (PINSIM_CHECKERS=1 turns the\n"
"                      checkers on outside controlled runs too)\n"
"  --version           the program's and the library's version\n"
"  --help              this text\n"
"Environment: PINSIM_SCHEDULE=STRING is --schedule STRING (--schedule wins if\n"
"both are given): one replay of one scenario, taken once and cleared, never\n"
"applied to a search.\n"
"A replay (--schedule, --canonical, a policy scenario replaying fixed-legacy's\n"
"interleaving) whose schedule does not have the scenario's race is reported as\n"
"'no race on this schedule'.\n"
"Exit status: 0 every scenario run behaved as the kernel does (--explore: over\n"
"every explored schedule); 1 one did not, or an error (a run failed on the\n"
"host, an output could not be written; --merge: a shard missing, given twice,\n"
"or shards of different searches, which --merge names on stderr); 2 bad\n"
"arguments or a bad schedule, before any work; 3 none did not, but a replayed\n"
"schedule had no race (nothing to compare); 4 a run drew a checker report\n"
"(listed with its replay schedule; wins over 1 and 3; --explore and --merge\n"
"too).\n");
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
		{ "canonical", no_argument, NULL, 'C' },
		{ "shard", required_argument, NULL, 'D' },
		{ "merge", no_argument, NULL, 'M' },
		{ "collect-reports", no_argument, NULL, 'R' },
		{ "explore", no_argument, NULL, 'E' },
		{ "bound", required_argument, NULL, 'B' },
		{ "no-reduce", no_argument, NULL, 'N' },
		{ "max-schedules", required_argument, NULL, 'X' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *only = NULL, *schedule = NULL, *json_path = NULL, *env_schedule;
	static char env_copy[MAX_DECISIONS * 6 + 1];
	FILE *json_out = NULL;
	unsigned long seeds = 200;
	uint64_t first_seed = 1;
	int c, good = 0, total = 0, no_race = 0, verdict, status;
	bool stopped = false, explore_given = false;
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
			schedule_src = "--schedule";
			break;
		case 'C':
			canonical = true;
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
		case 'D':
			shard_arg(optarg);
			break;
		case 'M':
			merge_opt = true;
			break;
		case 'R':
			collect_reports = true;
			break;
		case 'E':
			explore_opt = true;
			break;
		case 'B':
			if (!parse_ulong(optarg, 8, &explore_bound))
				bad_arg("--bound must be 0..8");
			explore_given = true;
			break;
		case 'N':
			explore_reduce = false;
			explore_given = true;
			break;
		case 'X':
			if (!parse_ulong(optarg, 100000000, &explore_max) || !explore_max)
				bad_arg("--max-schedules must be 1..100000000");
			explore_given = true;
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
	if (explore_given && !explore_opt)
		bad_arg("--bound, --no-reduce and --max-schedules are for --explore");
	if (explore_opt && canonical)
		bad_arg("--explore searches every schedule: not with --canonical");
	if (merge_opt) {
		if (optind >= argc)
			bad_arg("--merge needs FILE... (the --shard outputs; '-' for stdin)");
		if (shard_n)
			bad_arg("--merge combines shards: give --shard to the runs, not to --merge");
		return merge_main(argc - optind, argv + optind);
	}
	if (optind < argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	/*
	 * PINSIM_SCHEDULE is one replay: the library would apply it to every
	 * pinsim_sched_run() of this process, the searches included, so it is
	 * taken here, once, as --schedule, and cleared before any run.
	 */
	env_schedule = getenv("PINSIM_SCHEDULE");
	if (env_schedule && *env_schedule && !schedule) {
		snprintf(env_copy, sizeof(env_copy), "%s", env_schedule);
		schedule = env_copy;
		schedule_src = "PINSIM_SCHEDULE";
		if (strlen(env_schedule) >= sizeof(env_copy))
			bad_arg("PINSIM_SCHEDULE has more than %d decisions (the scheduler's limit)",
				MAX_DECISIONS);
	}
	unsetenv("PINSIM_SCHEDULE");
	if (schedule && !only)
		bad_arg("%s is a replay of one scenario: it needs --scenario%s", schedule_src,
			schedule == env_copy ? " (or unset PINSIM_SCHEDULE)" : "");
	if (schedule && canonical)
		bad_arg("%s and --canonical: give one schedule", schedule_src);
	if (schedule)
		check_schedule(schedule_src, schedule, by_name(only));
	if (!kernel_opt[0] && ex_impl_kernel(impl_opt))
		snprintf(kernel_opt, sizeof(kernel_opt), "%s", ex_impl_kernel(impl_opt));
	if (only && !runs_on_impl(by_name(only)))
		bad_arg("--scenario %s does not run with --impl tree: %s", only,
			why_not_on_impl(by_name(only)));
	/* --explore --schedule S: one execution of the explore world, narrated. */
	if (explore_opt && schedule)
		explore_world = true;
	if (shard_n && !list && explore_opt) {
		if (schedule || json)
			bad_arg("--explore --shard splits the search: not with %s",
				schedule ? schedule_src : "--json");
		return explore_shard_main(only);
	}
	if (shard_n && !list) {
		if (schedule || canonical || json)
			bad_arg("--shard splits the seed search: not with %s",
				schedule ? schedule_src : canonical ? "--canonical" : "--json");
		return shard_main(only, seeds, first_seed);
	}
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
	if (explore_opt && !schedule)
		return explore_main(only, json_out);
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
		verdict = run_scenario(s, schedule, (unsigned int)seeds, first_seed);
		good += verdict == V_BEHAVED;
		no_race += verdict == V_NO_RACE;
		if (verdict == V_CHECKER) {
			fprintf(out, "   result: stopped on a checker report\n\n");
			stopped = true;
			break;
		}
	}
	if (nr_checker_runs)
		fprintf(out, "checker reports: %u run%s drew one%s\n", nr_checker_runs,
			nr_checker_runs == 1 ? "" : "s",
			stopped ? " (the search stopped at the first: --collect-reports lists all)" : "");
	if (kernel_opt[0] && !only)
		fprintf(out, "kernel %s: the scenarios of its %s walker\n", kernel_opt,
			walker_fixed(kernel_opt) ? "fixed" : "pre-fix");
	fprintf(out, "%d/%d scenarios behaved as the kernel does", good, total);
	if (no_race)
		fprintf(out, " (%d replayed a schedule with no race)", no_race);
	fprintf(out, "\n");
	status = nr_checker_runs ? 4 : good + no_race < total ? 1 : no_race ? 3 : 0;
	if (json) {
		print_json(json_out, good, total, no_race, status, only, schedule, seeds, first_seed);
		if (!ex_close_out(json_out)) {
			fprintf(stderr, "%s: writing %s failed\n", prog, json_path);
			return 1;
		}
	}
	return status;
}
