// SPDX-License-Identifier: GPL-2.0-only
/*
 * The zap/refault injector (sim/inject.c) through its public API
 * (pinsim_inject_*, pinsim_injector_*): triggers (nth hit, seeded
 * probability, every hit, max_fires), each action's effect on the code under
 * study (the seeds/01 and seeds/03 windows made on demand), the re-entry
 * guard, the refusals, and the background thread.
 *
 * The trigger tests hit a schedule point directly (sched_point()) so that
 * the hit sequence is exact; the action tests go through VFIO_IOMMU_MAP_DMA
 * and numa_maps as a VMM would.
 */
#include <math.h>
#include <time.h>

#include "vfio_harness.h"

#include "inject.h"
#include "pinsim_internal.h"
#include "sched_point.h"
#include "vfio_pci.h"

#define BAR_VA 0x600000000000ULL	/* 1 GiB aligned: the BAR maps at PUD level */
#define IOVA_BAR 0x020000000000ULL	/* the iova of seeds/01 and seeds/03 */

static struct mm_struct *proc_mm(void)
{
	return proc->mm;
}

static struct vfio_pci_core_device *device_of(int group_id)
{
	struct vfio_pci_core_device *vdev;

	for (vdev = machine->devices; vdev; vdev = vdev->next)
		if (vdev->id == group_id)
			return vdev;
	ck_abort_msg("no device %d", group_id);
	return NULL;
}

static int add_rule(enum pinsim_point point, enum pinsim_inject_action action,
		    unsigned long nth, double probability, unsigned long max_fires, uint64_t seed)
{
	struct pinsim_inject_rule r = {
		.point = point, .action = action, .group_id = dev0.group_id, .proc = proc,
		.nth = nth, .probability = probability, .max_fires = max_fires, .seed = seed,
	};
	int id = pinsim_inject_add(sim, &r);

	ck_assert_msg(id >= 0, "pinsim_inject_add: %s", strerror(errno));
	return id;
}

static void rule_counts(int id, unsigned long *hits, unsigned long *fires)
{
	ck_assert_int_eq(pinsim_inject_stats(sim, id, hits, fires), 0);
}

/*
 * Hit SP_PIN_BETWEEN_RUNS @n times in proc's mm; bit i of the result says
 * whether hit i + 1 fired rule @id.
 */
static uint64_t drive_hits(int id, int n)
{
	uint64_t fired = 0;
	unsigned long last = 0;

	for (int i = 0; i < n; i++) {
		unsigned long hits, fires;

		sched_point(SP_PIN_BETWEEN_RUNS, proc_mm(), 0);
		rule_counts(id, &hits, &fires);
		ck_assert_uint_eq(hits, (unsigned long)i + 1);
		if (fires != last)
			fired |= 1ULL << i;
		ck_assert_uint_le(fires - last, 1);
		last = fires;
	}
	return fired;
}

static int retry_pending(void)
{
	return atomic_load(&proc_mm()->inject_fault_retry);
}

/* ---------------- triggers ---------------- */

START_TEST(test_nth_hit_rule_fires_exactly_once_on_the_nth_hit)
{
	int id = add_rule(PINSIM_SP_PIN_BETWEEN_RUNS, PINSIM_INJECT_FAULT_RETRY, 3, 0, 0, 0);
	unsigned long hits, fires;

	ck_assert_uint_eq(drive_hits(id, 10), 1ULL << 2);
	rule_counts(id, &hits, &fires);
	ck_assert_uint_eq(hits, 10);
	ck_assert_uint_eq(fires, 1);
	ck_assert_int_eq(retry_pending(), 1);	/* the action ran once */
}
END_TEST

START_TEST(test_probability_one_fires_on_every_hit_lockstep)
{
	int id = add_rule(PINSIM_SP_PIN_BETWEEN_RUNS, PINSIM_INJECT_FAULT_RETRY, 0, 1.0, 0, 0);

	ck_assert_uint_eq(drive_hits(id, 20), (1ULL << 20) - 1);
	ck_assert_int_eq(retry_pending(), 20);
}
END_TEST

START_TEST(test_probability_zero_counts_hits_and_never_fires)
{
	int id = add_rule(PINSIM_SP_PIN_BETWEEN_RUNS, PINSIM_INJECT_FAULT_RETRY, 0, 0.0, 0, 1);

	ck_assert_uint_eq(drive_hits(id, 20), 0);
	ck_assert_int_eq(retry_pending(), 0);
}
END_TEST

START_TEST(test_same_seed_gives_the_same_firing_sequence)
{
	uint64_t seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	uint64_t a, b, c;
	int id;

	if (getenv("PINSIM_SEED"))
		seed = strtoull(getenv("PINSIM_SEED"), NULL, 0);
	printf("# seed=0x%016llx\n", (unsigned long long)seed);
	id = add_rule(PINSIM_SP_PIN_BETWEEN_RUNS, PINSIM_INJECT_FAULT_RETRY, 0, 0.5, 0, seed);
	a = drive_hits(id, 64);
	ck_assert_int_eq(retry_pending(), __builtin_popcountll(a));
	ck_assert_int_eq(pinsim_inject_clear(sim), 0);

	id = add_rule(PINSIM_SP_PIN_BETWEEN_RUNS, PINSIM_INJECT_FAULT_RETRY, 0, 0.5, 0, seed);
	ck_assert_int_eq(id, 0);	/* ids restart after a clear */
	b = drive_hits(id, 64);
	ck_assert_msg(a == b, "seed 0x%llx: %#llx then %#llx", (unsigned long long)seed,
		      (unsigned long long)a, (unsigned long long)b);
	/* The sequence is the stream's: splitmix64 output n decides hit n + 1. */
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq((int)((a >> i) & 1),
				 u64_to_unit(splitmix64_at(seed, (uint64_t)i)) < 0.5);
	ck_assert_int_eq(pinsim_inject_clear(sim), 0);

	id = add_rule(PINSIM_SP_PIN_BETWEEN_RUNS, PINSIM_INJECT_FAULT_RETRY, 0, 0.5, 0, seed + 1);
	c = drive_hits(id, 64);
	ck_assert_msg(c != a, "seeds 0x%llx and +1 gave the same 64 draws",
		      (unsigned long long)seed);
}
END_TEST

START_TEST(test_max_fires_caps_an_every_hit_rule)
{
	int id = add_rule(PINSIM_SP_PIN_BETWEEN_RUNS, PINSIM_INJECT_FAULT_RETRY, 0, 1.0, 3, 0);
	unsigned long hits, fires;

	ck_assert_uint_eq(drive_hits(id, 10), 0x7);
	rule_counts(id, &hits, &fires);
	ck_assert_uint_eq(hits, 10);
	ck_assert_uint_eq(fires, 3);
	ck_assert_int_eq(retry_pending(), 3);
}
END_TEST

START_TEST(test_clear_disarms_the_points_and_forgets_the_rules)
{
	unsigned long hits;
	int id = add_rule(PINSIM_SP_PIN_BETWEEN_RUNS, PINSIM_INJECT_FAULT_RETRY, 0, 1.0, 0, 0);

	ck_assert(atomic_load(&sched_points[SP_PIN_BETWEEN_RUNS].armed));
	drive_hits(id, 2);
	ck_assert_int_eq(pinsim_inject_clear(sim), 0);
	ck_assert(!atomic_load(&sched_points[SP_PIN_BETWEEN_RUNS].armed));
	sched_point(SP_PIN_BETWEEN_RUNS, proc_mm(), 0);
	ck_assert_int_eq(retry_pending(), 2);
	errno = 0;
	ck_assert_int_eq(pinsim_inject_stats(sim, id, &hits, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_bad_rules_are_einval_and_arm_nothing)
{
	struct pinsim_inject_rule r = {
		.point = PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP, .action = PINSIM_INJECT_ZAP_BARS,
		.group_id = dev0.group_id, .probability = 1.0,
	};
	struct pinsim_inject_rule bad;

	/* A zap nested in a zap (the device's i_mmap lock is held there). */
	bad = r;
	bad.point = PINSIM_SP_ZAP_BEFORE_CLEAR;
	ck_assert_int_eq(pinsim_inject_add(sim, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	bad.point = PINSIM_SP_PTL;
	ck_assert_int_eq(pinsim_inject_add(sim, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	bad = r;
	bad.group_id = 99;
	ck_assert_int_eq(pinsim_inject_add(sim, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	bad = r;
	bad.point = PINSIM_NR_POINTS;
	ck_assert_int_eq(pinsim_inject_add(sim, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	bad = r;
	bad.action = PINSIM_NR_INJECT_ACTIONS;
	ck_assert_int_eq(pinsim_inject_add(sim, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	bad = r;
	bad.action = PINSIM_INJECT_REFAULT;	/* no process */
	ck_assert_int_eq(pinsim_inject_add(sim, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	bad = r;
	bad.probability = 1.5;
	ck_assert_int_eq(pinsim_inject_add(sim, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	bad.probability = -0.25;
	ck_assert_int_eq(pinsim_inject_add(sim, &bad), -1);
	bad.probability = NAN;
	ck_assert_int_eq(pinsim_inject_add(sim, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	for (int i = 0; i < NR_SCHED_POINTS; i++)
		ck_assert(!atomic_load(&sched_points[i].armed));
	ck_assert_int_eq(pinsim_inject_add(sim, &r), 0);
	ck_assert(atomic_load(&sched_points[SP_FOLLOW_FAULT_AFTER_FIXUP].armed));
}
END_TEST

/* ---------------- actions, through VFIO_IOMMU_MAP_DMA ---------------- */

/* A type1v2 container with dev0 and 1 GiB of BAR0 mapped at BAR_VA. */
static int bar_container(uint64_t *bar)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);

	*bar = vh_bar_mmap(&dev0, 0, BAR_VA, GiB, RW, 0);
	ck_assert_uint_eq(*bar, BAR_VA);
	return c;
}

static uint64_t bar_phys(void)
{
	return (uint64_t)device_of(dev0.group_id)->bar[0].pfn << 12;
}

/* MAP_DMA of the BAR worked, at one 1G IOMMU leaf, on the BAR's own bytes. */
static void assert_bar_mapped(void)
{
	uint64_t phys = 0;

	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_BAR, &phys), GiB);
	ck_assert_uint_eq(phys, bar_phys());
	vh_iommu_leaf(&dev0, IOVA_BAR + GiB - PG, &phys);
	ck_assert_uint_eq(phys, bar_phys() + GiB - PG);
}

static void assert_bar_not_mapped(int c, const struct vh_state *s)
{
	vh_assert_state(c, s);
	vh_assert_no_iommu(&dev0, IOVA_BAR, 4 * PG);
	vh_assert_no_iommu(&dev0, IOVA_BAR + GiB - 4 * PG, 4 * PG);
}

START_TEST(test_zap_after_fixup_legacy_map_dma_of_bar_is_einval_leaving_nothing)
{
	uint64_t bar;
	int c = bar_container(&bar);
	int id = add_rule(PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP, PINSIM_INJECT_ZAP_BARS, 1, 0, 0, 0);
	struct vh_state s = vh_snap(c);
	unsigned long zaps = device_of(dev0.group_id)->nr_zaps, hits, fires;
	struct pinsim_vfio_stats st;

	/* seeds/01 and seeds/03: "dma_map FAILED iova=0x020000000000: [Errno 22]" */
	ck_assert_int_eq(vh_map(c, bar, IOVA_BAR, GiB), -EINVAL);
	assert_bar_not_mapped(c, &s);
	rule_counts(id, &hits, &fires);
	ck_assert_uint_eq(hits, 1);
	ck_assert_uint_eq(fires, 1);
	ck_assert_uint_eq(device_of(dev0.group_id)->nr_zaps, zaps + 1);
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_NONE);	/* the zap's work */
	st = vh_stats(c);
	ck_assert_uint_eq(st.map_einval, 1);
	ck_assert_uint_eq(st.last.faults, 1);
	ck_assert_uint_eq(st.last.follow_failures, 2);
	ck_assert_uint_eq(st.last.retries, 0);
	vh_assert_clean();
}
END_TEST

START_TEST(test_zap_after_fixup_eagain_policy_retries_and_maps_the_bar)
{
	uint64_t bar;
	int c = bar_container(&bar);
	int id = add_rule(PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP, PINSIM_INJECT_ZAP_BARS, 1, 0, 0, 0);
	unsigned long hits, fires;
	struct pinsim_vfio_stats st;

	ck_assert_int_eq(pinsim_set_retry_policy(sim, PINSIM_RETRY_EAGAIN, 0), 0);
	vh_map_ok(c, bar, IOVA_BAR, GiB);
	assert_bar_mapped();
	rule_counts(id, &hits, &fires);
	ck_assert_uint_eq(hits, 2);	/* the retry faulted again; nth=1 fired once */
	ck_assert_uint_eq(fires, 1);
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.eagain_loops, 1);
	ck_assert_uint_eq(st.last.retries, 1);
	ck_assert_uint_eq(st.last.faults, 2);
	ck_assert_uint_eq(st.last.pfnmap_pages, GiB / PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);	/* pfnmap pages are not accounted */
	vh_unmap_ok(c, IOVA_BAR, GiB);
	vh_assert_clean();
}
END_TEST

START_TEST(test_fault_retry_makes_the_next_fault_drop_mmap_lock_and_restart)
{
	uint64_t bar;
	int c = bar_container(&bar);
	struct pinsim_proc_stats ps;
	struct pinsim_vfio_stats st;

	/* The first mmap_lock acquisition arms it; the first retryable fault drops. */
	add_rule(PINSIM_SP_MMAP_LOCK, PINSIM_INJECT_FAULT_RETRY, 1, 0, 0, 0);
	vh_map_ok(c, bar, IOVA_BAR, GiB);
	assert_bar_mapped();
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.eagain_loops, 1);	/* *unlocked: back to vma_lookup() */
	ck_assert_uint_eq(st.last.retries, 0);		/* not the policy's doing */
	ck_assert_int_eq(pinsim_proc_stats(proc, &ps), 0);
	ck_assert_uint_eq(ps.fault_retries, 1);
	ck_assert_int_eq(retry_pending(), 0);		/* consumed */
	vh_assert_clean();
}
END_TEST

static void enoent_setup(void)
{
	vh_defaults(&vh_cfg);
	vh_cfg.follow_pfnmap_enoent = true;
	vh_cfg.retry_policy = PINSIM_RETRY_ENOENT;
	vh_setup_with(&vh_cfg);
}

START_TEST(test_lockstep_zap_plus_fatal_signal_enoent_policy_is_eintr_leaving_nothing)
{
	uint64_t bar;
	int c = bar_container(&bar);
	struct vh_state s = vh_snap(c);
	int zap, kill;
	unsigned long hits, fires;

	/* Two rules at one point run in the order they were added. */
	zap = add_rule(PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP, PINSIM_INJECT_ZAP_BARS, 0, 1.0, 0, 0);
	kill = add_rule(PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP, PINSIM_INJECT_FATAL_SIGNAL, 1, 0, 0, 0);
	ck_assert_int_eq(vh_map(c, bar, IOVA_BAR, GiB), -EINTR);
	assert_bar_not_mapped(c, &s);
	rule_counts(zap, &hits, &fires);
	ck_assert_uint_eq(fires, 1);
	rule_counts(kill, &hits, &fires);
	ck_assert_uint_eq(fires, 1);
	ck_assert(fatal_signal_pending(proc_mm()->owner));
	ck_assert_uint_eq(vh_stats(c).map_eintr, 1);
	vh_assert_clean();
}
END_TEST

START_TEST(test_split_pud_between_lockless_read_and_lock_refaults_and_maps)
{
	uint64_t bar;
	int c = bar_container(&bar);
	int id = add_rule(PINSIM_SP_FOLLOW_PFNMAP_LOCKLESS, PINSIM_INJECT_SPLIT_PUD, 1, 0, 0, 0);
	struct pinsim_proc_stats before, after;
	unsigned long hits, fires;
	struct pinsim_vfio_stats st;
	unsigned char b;

	ck_assert_int_eq(pinsim_access(proc, bar, &b, 1, 0), 1);	/* a PUD leaf */
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_PUD);
	pinsim_proc_stats(proc, &before);
	vh_map_ok(c, bar, IOVA_BAR, GiB);
	assert_bar_mapped();
	rule_counts(id, &hits, &fires);
	ck_assert_uint_eq(hits, 2);
	ck_assert_uint_eq(fires, 1);
	st = vh_stats(c);
	ck_assert_uint_eq(st.last.follow_failures, 1);	/* the split leaf */
	ck_assert_uint_eq(st.last.faults, 1);		/* ... refaulted */
	pinsim_proc_stats(proc, &after);
	ck_assert_uint_eq(after.faults_pud, before.faults_pud + 1);
	vh_assert_clean();
}
END_TEST

START_TEST(test_injector_actions_do_not_fire_rules_but_other_zaps_do)
{
	uint64_t bar;
	int c = bar_container(&bar);
	unsigned long before = 0, hits, fires;
	unsigned char b;
	int watch;

	add_rule(PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP, PINSIM_INJECT_ZAP_BARS, 1, 0, 0, 0);
	watch = add_rule(PINSIM_SP_ZAP_BEFORE_CLEAR, PINSIM_INJECT_FAULT_RETRY, 0, 1.0, 0, 0);
	ck_assert_int_eq(vh_map(c, bar, IOVA_BAR, GiB), -EINVAL);
	/* The rule's zap cleared the leaf through SP_ZAP_BEFORE_CLEAR... */
	ck_assert_uint_ge(sched_point_hits(SP_ZAP_BEFORE_CLEAR), 1);
	/* ...and no rule saw it. */
	rule_counts(watch, &hits, &fires);
	ck_assert_uint_eq(hits, 0);
	ck_assert_int_eq(retry_pending(), 0);

	/* A decode-off zap is not the injector's: the rule sees it. */
	ck_assert_int_eq(pinsim_access(proc, bar, &b, 1, 0), 1);
	before = sched_point_hits(SP_ZAP_BEFORE_CLEAR);
	vh_memory_decode(&dev0, false);
	ck_assert_uint_gt(sched_point_hits(SP_ZAP_BEFORE_CLEAR), before);
	rule_counts(watch, &hits, &fires);
	ck_assert_uint_ge(hits, 1);
	ck_assert_uint_eq(fires, hits);
	ck_assert_int_eq(retry_pending(), (int)fires);
	vh_assert_clean();
}
END_TEST

/* ---------------- actions, through numa_maps ---------------- */

START_TEST(test_refault_after_walker_split_fixed_walker_converges_without_oops)
{
	uint64_t bar;
	int c = bar_container(&bar);
	int id = add_rule(PINSIM_SP_WALK_PUD_AFTER_SPLIT, PINSIM_INJECT_REFAULT, 1, 0, 0, 0);
	struct pinsim_proc_stats before, after;
	unsigned long hits, fires;
	static char buf[8192];
	unsigned char b;

	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(pinsim_access(proc, bar, &b, 1, 0), 1);
	pinsim_proc_stats(proc, &before);
	/*
	 * seeds/01: split, the refault lands a PUD leaf again, and the fixed
	 * walk_pmd_range() sees a non-table PUD and asks ACTION_AGAIN.
	 */
	ck_assert_int_gt(pinsim_read_numa_maps(proc, buf, sizeof(buf)), 0);
	rule_counts(id, &hits, &fires);
	ck_assert_uint_eq(fires, 1);
	ck_assert_uint_eq(hits, 2);			/* split, refault, split again */
	pinsim_proc_stats(proc, &after);
	ck_assert_uint_eq(after.faults_pud, before.faults_pud + 1);
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_NONE);
	vh_assert_clean();
}
END_TEST

/* ---------------- the background injector ---------------- */

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

START_TEST(test_background_zap_injector_fires_and_stops_cleanly)
{
	struct pinsim_injector_opts o = {
		.action = PINSIM_INJECT_ZAP_BARS, .group_id = dev0.group_id,
		.rate_hz = 1000, .seed = 0x5eed,
	};
	struct vfio_pci_core_device *vdev = device_of(dev0.group_id);
	unsigned long zaps = vdev->nr_zaps, fired;
	struct pinsim_injector *inj;

	ck_assert_int_eq(pinsim_injector_start(sim, &o, &inj), 0);
	sleep_ms(200);
	fired = pinsim_injector_stop(inj);
	printf("# %lu zaps in 200 ms at 1 kHz\n", fired);
	ck_assert_uint_ge(fired, 1);
	ck_assert_uint_eq(vdev->nr_zaps, zaps + fired);	/* every firing was one zap */
	vh_assert_clean();
}
END_TEST

START_TEST(test_background_refault_injector_faults_the_bar_in_as_the_process)
{
	uint64_t bar;
	int c = bar_container(&bar);
	struct pinsim_injector_opts o = {
		.action = PINSIM_INJECT_REFAULT, .proc = proc, .addr = bar, .len = GiB,
		.rate_hz = 1000, .seed = 0x5eed,
	};
	struct pinsim_injector *inj;
	unsigned long fired;

	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(pinsim_injector_start(sim, &o, &inj), 0);
	sleep_ms(200);
	fired = pinsim_injector_stop(inj);
	printf("# %lu refaults in 200 ms at 1 kHz\n", fired);
	ck_assert_uint_ge(fired, 1);
	ck_assert_int_eq(vh_page(bar).level, PINSIM_LEVEL_PUD);
	ck_assert_uint_eq(vh_page(bar).pfn, bar_phys() >> 12);
	vh_assert_clean();
}
END_TEST

START_TEST(test_background_injector_stop_interrupts_a_long_gap)
{
	struct pinsim_injector_opts o = {
		.action = PINSIM_INJECT_FAULT_RETRY, .proc = proc, .rate_hz = 0.001, .seed = 1,
	};
	struct pinsim_injector *inj;

	/* Mean gap 1000 s: stop must not wait for it. */
	ck_assert_int_eq(pinsim_injector_start(sim, &o, &inj), 0);
	ck_assert_uint_eq(pinsim_injector_stop(inj), 0);
	ck_assert_int_eq(retry_pending(), 0);
}
END_TEST

START_TEST(test_background_injector_bad_options_are_einval)
{
	struct pinsim_injector_opts o = {
		.action = PINSIM_INJECT_REFAULT, .proc = proc, .addr = 0, .rate_hz = 10,
	};
	struct pinsim_injector *inj;

	ck_assert_int_eq(pinsim_injector_start(sim, &o, &inj), -1);	/* no address */
	ck_assert_int_eq(errno, EINVAL);
	o.addr = BAR_VA;
	o.rate_hz = 0;
	ck_assert_int_eq(pinsim_injector_start(sim, &o, &inj), -1);
	ck_assert_int_eq(errno, EINVAL);
	o.rate_hz = 10;
	o.proc = NULL;
	ck_assert_int_eq(pinsim_injector_start(sim, &o, &inj), -1);
	ck_assert_int_eq(errno, EINVAL);
	o.action = PINSIM_INJECT_ZAP_BARS;
	o.group_id = 42;
	ck_assert_int_eq(pinsim_injector_start(sim, &o, &inj), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_inject_reset_stops_injectors_and_forgets_rules_for_teardown)
{
	struct pinsim_injector_opts o = {
		.action = PINSIM_INJECT_REFAULT, .proc = proc, .addr = BAR_VA, .len = GiB,
		.rate_hz = 1000, .seed = 7,
	};
	struct pinsim_injector *inj;

	/* What machine teardown must do before the mm and devices go. */
	add_rule(PINSIM_SP_MMAP_LOCK, PINSIM_INJECT_FAULT_RETRY, 0, 1.0, 0, 0);
	ck_assert_int_eq(pinsim_injector_start(sim, &o, &inj), 0);
	inject_reset();
	ck_assert(!atomic_load(&sched_points[SP_MMAP_LOCK].armed));
	ck_assert_int_eq(pinsim_inject_stats(sim, 0, NULL, NULL), -1);
	/* The injector is gone: nothing runs in the process any more. */
	ck_assert_int_eq(pinsim_munmap(proc, 0x1000, 0x1000), 0);
	ck_assert_int_eq(retry_pending(), 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("inject");
	TCase *tc;

	tc = vh_tcase(s, "triggers", NULL);
	tcase_add_test(tc, test_nth_hit_rule_fires_exactly_once_on_the_nth_hit);
	tcase_add_test(tc, test_probability_one_fires_on_every_hit_lockstep);
	tcase_add_test(tc, test_probability_zero_counts_hits_and_never_fires);
	tcase_add_test(tc, test_same_seed_gives_the_same_firing_sequence);
	tcase_add_test(tc, test_max_fires_caps_an_every_hit_rule);
	tcase_add_test(tc, test_clear_disarms_the_points_and_forgets_the_rules);
	tcase_add_test(tc, test_bad_rules_are_einval_and_arm_nothing);

	tc = vh_tcase(s, "actions", NULL);
	tcase_add_test(tc, test_zap_after_fixup_legacy_map_dma_of_bar_is_einval_leaving_nothing);
	tcase_add_test(tc, test_zap_after_fixup_eagain_policy_retries_and_maps_the_bar);
	tcase_add_test(tc, test_fault_retry_makes_the_next_fault_drop_mmap_lock_and_restart);
	tcase_add_test(tc, test_split_pud_between_lockless_read_and_lock_refaults_and_maps);
	tcase_add_test(tc, test_injector_actions_do_not_fire_rules_but_other_zaps_do);
	tcase_add_test(tc, test_refault_after_walker_split_fixed_walker_converges_without_oops);

	tc = vh_tcase(s, "actions_enoent", enoent_setup);
	tcase_add_test(tc,
		       test_lockstep_zap_plus_fatal_signal_enoent_policy_is_eintr_leaving_nothing);

	tc = vh_tcase(s, "background", NULL);
	tcase_add_test(tc, test_background_zap_injector_fires_and_stops_cleanly);
	tcase_add_test(tc, test_background_refault_injector_faults_the_bar_in_as_the_process);
	tcase_add_test(tc, test_background_injector_stop_interrupts_a_long_gap);
	tcase_add_test(tc, test_background_injector_bad_options_are_einval);
	tcase_add_test(tc, test_inject_reset_stops_injectors_and_forgets_rules_for_teardown);
	return s;
}
