// SPDX-License-Identifier: GPL-2.0-only
/*
 * The seed threads as deterministic scenarios (issue 5, scenarios 1-8).
 * Each prints the schedule it ran; PINSIM_SCHEDULE=<string> replays it.
 *
 * PINSIM_TEST_IMPL=tree (kernel-tree builds, tests/meson.build) runs them
 * on the kernel tree's own code: its walker, follow_pfnmap_start() and
 * drivers/vfio/vfio_iommu_type1.c, under the tree's profile.  The tree's
 * retry behaviour is its source's (LEGACY for every released kernel, EAGAIN
 * for a tree declared +eagain): a scenario about another policy, or about
 * a version switch the tree's source does not have, says so and passes
 * without running ("# skip: ...").
 */
#include "harness.h"
#include "lockdep.h"
#include "race_world.h"

/*
 * Issue 15: the suite's controlled runs all ran with the lock-order checker
 * on (sim/lockdep.h); it must have found nothing.  A report is a finding:
 * printed with its schedule, and the case fails.
 */
static void assert_no_checker_report(void)
{
	static char text[2048], sched[1024];

	if (!lockdep_nr_reports())
		return;
	lockdep_report(0, NULL, text, sizeof(text), sched, sizeof(sched));
	printf("# checker: %s\n# replay with PINSIM_SCHEDULE=%s\n", text, sched);
	ck_abort_msg("%u checker report(s), the first: %.300s", lockdep_nr_reports(), text);
}

#include "pinsim/pinsim.h"

static struct race_world W;
static struct sched_thread T[SCHED_MAX_THREADS];

static bool on_tree(void)
{
	const char *impl = getenv("PINSIM_TEST_IMPL");

	return impl && !strcmp(impl, "tree");
}

/* The switches of the tree's profile: what its source does. */
static void tree_configs(struct machine_config *mc, struct vfio_type1_config *vc)
{
	const char *profile = pinsim_kernel_tree_profile();

	ck_assert_msg(profile, "PINSIM_TEST_IMPL=tree in a build without -Dkernel_tree");
	ck_assert_int_eq(kernel_profile_configs(profile, mc, vc), 0);
}

/*
 * Under the tree, a scenario about retry policy @policy runs only if the
 * tree's source has that policy; false (after saying why) if not.
 */
static bool tree_does(enum vfio_retry_policy policy, bool enoent, const char *test)
{
	struct vfio_type1_config vc;
	struct machine_config mc;

	if (!on_tree())
		return true;
	tree_configs(&mc, &vc);
	if (!enoent && vc.retry_policy == policy)
		return true;
	printf("# skip: %s: the tree's follow_fault_pfn() retry is its source's (%s), not this "
	       "scenario's: apply the patch to the tree and declare it (+eagain)\n",
	       test, vc.retry_policy == VFIO_RETRY_EAGAIN ? "EAGAIN" : "LEGACY");
	return false;
}

static void world(const char *kernel, unsigned int order, enum vfio_retry_policy policy, bool enoent,
		  bool hang)
{
	memset(&W, 0, sizeof(W));
	W.cfg = (struct race_world_cfg){ kernel, order, 2ULL << 30, policy, enoent, hang, .map_size = 0 };
	if (on_tree()) {
		/* The tree's code under its profile; its retry is its source's. */
		W.cfg.kernel = pinsim_kernel_tree_profile();
		W.cfg.policy = VFIO_RETRY_LEGACY;
		W.cfg.enoent = false;
		W.cfg.tree = true;
		W.cfg.tree_type1 = true;
	}
}

static int world_setup(void)
{
	memset(T, 0, sizeof(T));
	return race_world_setup(&W, T);
}

static void world_teardown(void)
{
	if (W.m)
		race_world_teardown(&W);
}

/* ---- scenario 1: the seeds/01 oops and hang, found then replayed ---- */

struct s1_ctx {
	char schedule[SCHED_MAX_DECISIONS * 2 + 1];
};

static int s1_setup(void *ctx, struct sched_thread *t)
{
	int n = world_setup();

	memcpy(t, T, sizeof(T));
	return n;
}

static bool s1_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	/* Looking for: the reader oopsed, and the later lockers deadlocked. */
	return !(t[0].ret == -EOWNERDEAD && r->status == SCHED_DEADLOCK);
}

static void s1_teardown(void *ctx)
{
	world_teardown();
}

START_TEST(test_prefix_walker_pud_refault_oopses_and_mmap_lock_hangs)
{
	static const struct sched_explore_ops ops = { s1_setup, s1_check, s1_teardown };
	struct sched_explore_stats st;
	struct sched_strategy s;
	struct sched_result res;
	struct oops_record rec;
	int n;

	if (on_tree()) {
		struct vfio_type1_config vc;
		struct machine_config mc;

		tree_configs(&mc, &vc);
		if (mc.pagewalk_fixed) {
			printf("# skip: %s: the tree's walker has 3b89863c3fa4 (no oops in any "
			       "schedule: tests/ktree/test_ktree_race.c)\n", __func__);
			return;
		}
	}
	world("6.12.74", PUD_ORDER, VFIO_RETRY_LEGACY, false, true);
	W.cfg.map_size = 16 * KiB;	/* 6.12: one follow_fault_pfn() per page */
	ck_assert_int_eq(sched_explore(&ops, NULL, SCHED_RACE_POINTS, 2, 10000, 100000, &st), 0);
	ck_assert_msg(st.bug_found, "no schedule reproduced seeds/01 (%lu explored)", st.schedules);
	printf("# scenario 1 found after %lu schedules: PINSIM_SCHEDULE=%s\n", st.schedules,
	       st.bug.schedule);

	/* Replay it: the same oops and the same hang, every time. */
	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.schedule = st.bug.schedule;
	n = world_setup();
	ck_assert_int_eq(sched_run(T, n, &s, &res), 0);
	ck_assert_str_eq(res.schedule, st.bug.schedule);
	ck_assert_int_eq(T[0].ret, -EOWNERDEAD);		/* the reader died... */
	ck_assert(sim_last_oops(&rec));
	/*
	 * The tree's walker is named from its faulting instruction: at -O2
	 * walk_pmd_range() is inlined into walk_pgd_range(), as in a kernel
	 * oops's RIP line.
	 */
	if (on_tree())
		ck_assert_msg(!strcmp(rec.func, "walk_pmd_range") ||
			      !strcmp(rec.func, "walk_pgd_range"), "%s", rec.func);
	else
		ck_assert_str_eq(rec.func, "walk_pmd_range");
	ck_assert_ptr_nonnull(strstr(rec.why, "illegal read of MMIO pfn"));
	ck_assert_uint_ge(rec.addr >> PAGE_SHIFT, W.vdev->bar[0].pfn);	/* a BAR pfn */
	ck_assert_uint_lt(rec.addr >> PAGE_SHIFT,
			  W.vdev->bar[0].pfn + (W.cfg.bar_size >> PAGE_SHIFT));
	ck_assert(rwsem_held_by_dead(&W.mm->mmap_lock));	/* ...holding mmap_lock */
	ck_assert_int_eq(res.status, SCHED_DEADLOCK);		/* munmap and reader hang */
	ck_assert_int_eq(T[2].ret, -ECANCELED);
	ck_assert_int_eq(T[3].ret, -ECANCELED);
	/* The report names the lock, never a host address. */
	ck_assert_ptr_nonnull(strstr(res.report, "munmap blocked on mmap_lock"));
	ck_assert_ptr_null(strstr(res.report, "0x"));
	ck_assert_ptr_nonnull(strstr(res.report, "held by a crashed task"));
	printf("# oops: %s in %s(): %s\n# %s\n", rec.comm, rec.func, rec.why, res.report);
	world_teardown();
}
END_TEST

/* ---- scenarios 3-5, 8: one MAP_DMA with a zap injected after the fault ---- */

static int zaps_left;
static struct task_struct *kill_victim;
static int kill_after;

static void zap_after_fixup(enum sched_point_id id, struct mm_struct *mm, unsigned long addr,
			    void *priv)
{
	if (zaps_left == 0)
		return;
	if (zaps_left > 0)
		zaps_left--;
	vfio_pci_zap_bars(W.vdev);
	if (kill_victim && --kill_after == 0)
		send_sig_kill(kill_victim);
}

static long map_at(uint64_t vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = vaddr,
		.iova = iova,
		.size = size,
	};

	return race_world_ioctl(&W, VFIO_IOMMU_MAP_DMA, &map);
}

static void print_map(uint64_t vaddr, uint64_t iova, uint64_t size, long ret)
{
	if (ret)
		printf("# dma_map FAILED iova=0x%012llx: [Errno %ld] %s\n",
		       (unsigned long long)iova, -ret, strerror((int)-ret));
	else
		printf("# dma_map iova=0x%012llx size=0x%llx vaddr=0x%llx\n",
		       (unsigned long long)iova, (unsigned long long)size, (unsigned long long)vaddr);
}

/* QEMU's order: RAM below, the BAR, RAM above.  Returns the BAR's result. */
static long map_ram_bar_ram(uint64_t *ram_before, uint64_t *ram_after)
{
	unsigned long ram = vm_mmap(W.mm, NULL, 0, 4 * MiB, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, 0);
	long r1, r2, r3;

	atomic_store(&W.mm->owner->signal->cap_ipc_lock, true);
	r1 = map_at(ram, 0, 2 * MiB);
	print_map(ram, 0, 2 * MiB, r1);
	r2 = map_at(RW_BAR_VA, RW_BAR_IOVA, W.cfg.bar_size);
	print_map(RW_BAR_VA, RW_BAR_IOVA, W.cfg.bar_size, r2);
	r3 = map_at(ram + 2 * MiB, 4 * GiB, 2 * MiB);
	print_map(ram + 2 * MiB, 4 * GiB, 2 * MiB, r3);
	*ram_before = (uint64_t)r1;
	*ram_after = (uint64_t)r3;
	return r2;
}

static void zap_world(enum vfio_retry_policy policy, bool enoent, int zaps)
{
	world(NULL, PUD_ORDER, policy, enoent, false);
	world_setup();
	set_current(W.mm->owner);
	zaps_left = zaps;
	kill_victim = NULL;
	sched_point_arm(SP_FOLLOW_FAULT_AFTER_FIXUP, zap_after_fixup, NULL);
	vfio_pci_zap_bars(W.vdev);	/* the walker's split: MAP_DMA has to refault */
}

static void assert_only_ram_mapped(void)
{
	struct iommu_domain *d = race_world_domain(&W);

	ck_assert_uint_eq(race_world_nr_dmas(&W), 2);
	ck_assert_uint_eq(iommu_iova_to_phys(d, RW_BAR_IOVA), 0);
	ck_assert_uint_eq(race_world_dma_avail(&W), vfio_type1_cfg.dma_entry_limit - 2);
	ck_assert_uint_eq(sim_oops_count(), 0);
}

START_TEST(test_legacy_zap_after_fixup_fails_bar_map_einval_neighbours_succeed)
{
	uint64_t before, after;

	if (!tree_does(VFIO_RETRY_LEGACY, false, __func__))
		return;
	zap_world(VFIO_RETRY_LEGACY, false, 1);
	ck_assert_int_eq(map_ram_bar_ram(&before, &after), -EINVAL);
	ck_assert_int_eq(before, 0);
	ck_assert_int_eq(after, 0);
	assert_only_ram_mapped();
	world_teardown();
}
END_TEST

static void retry_policy_maps_bar(enum vfio_retry_policy policy, bool enoent)
{
	uint64_t before, after;

	if (!tree_does(policy, enoent, "same interleaving, retry policy"))
		return;
	zap_world(policy, enoent, 1);
	ck_assert_int_eq(map_ram_bar_ram(&before, &after), 0);
	ck_assert(race_world_bar_mapped(&W));
	ck_assert_uint_eq(race_world_nr_dmas(&W), 3);
	world_teardown();
}

START_TEST(test_eagain_policy_same_interleaving_maps_the_bar)
{
	retry_policy_maps_bar(VFIO_RETRY_EAGAIN, false);
}
END_TEST

START_TEST(test_bounded_policy_same_interleaving_maps_the_bar)
{
	retry_policy_maps_bar(VFIO_RETRY_BOUNDED, false);
}
END_TEST

START_TEST(test_enoent_policy_same_interleaving_maps_the_bar)
{
	retry_policy_maps_bar(VFIO_RETRY_ENOENT, true);
}
END_TEST

/* Scenario 5: the lockstep adversary, zapping after every fault. */

static long map_bar_body(void *arg)
{
	return map_at(RW_BAR_VA, RW_BAR_IOVA, W.cfg.bar_size);
}

START_TEST(test_lockstep_adversary_eagain_livelocks_and_the_watchdog_reports_it)
{
	struct sched_thread t[1] = { { .name = "vfio", .fn = map_bar_body } };
	struct sched_strategy s;
	struct sched_result res;

	if (!tree_does(VFIO_RETRY_EAGAIN, false, __func__))
		return;
	zap_world(VFIO_RETRY_EAGAIN, false, -1);
	t[0].mm = W.mm;
	sched_strategy_init(&s);
	s.step_budget = 5000;
	set_current(NULL);
	ck_assert_int_eq(sched_run(t, 1, &s, &res), 0);
	ck_assert_int_eq(res.status, SCHED_LIVELOCK);
	ck_assert_int_eq(t[0].ret, -ECANCELED);
	/* The ioctl never returned (its counters never got folded in): count the rounds. */
	printf("# %s; zaps at the fault point: %lu\n", res.report,
	       sched_point_hits(SP_FOLLOW_FAULT_AFTER_FIXUP));
	ck_assert_uint_ge(sched_point_hits(SP_FOLLOW_FAULT_AFTER_FIXUP), 1000);
	world_teardown();
}
END_TEST

static void assert_bar_map_left_nothing(void)
{
	struct iommu_domain *d = race_world_domain(&W);

	ck_assert_uint_eq(race_world_nr_dmas(&W), 0);
	ck_assert_uint_eq(race_world_dma_avail(&W), vfio_type1_cfg.dma_entry_limit);
	ck_assert_uint_eq(iommu_nr_leaves(d), 0);
	ck_assert_int_eq(atomic_load(&W.mm->locked_vm), 0);
	ck_assert_uint_eq(sim_oops_count(), 0);
}

START_TEST(test_lockstep_adversary_bounded_gives_ebusy_and_leaks_nothing)
{
	struct vfio_type1_stats st;

	if (!tree_does(VFIO_RETRY_BOUNDED, false, __func__))
		return;
	zap_world(VFIO_RETRY_BOUNDED, false, -1);
	vfio_type1_cfg.retry_bound = 16;
	ck_assert_int_eq(map_at(RW_BAR_VA, RW_BAR_IOVA, W.cfg.bar_size), -EBUSY);
	race_world_stats(&W, &st);
	ck_assert_uint_eq(st.last.retries, 16);
	assert_bar_map_left_nothing();
	world_teardown();
}
END_TEST

START_TEST(test_lockstep_adversary_enoent_resched_each_round_eintr_when_killed)
{
	struct vfio_type1_stats st;
	unsigned long resched;

	if (!tree_does(VFIO_RETRY_ENOENT, true, __func__))
		return;
	zap_world(VFIO_RETRY_ENOENT, true, -1);
	kill_victim = W.mm->owner;
	kill_after = 100;
	resched = current->nr_resched;
	ck_assert_int_eq(map_at(RW_BAR_VA, RW_BAR_IOVA, W.cfg.bar_size), -EINTR);
	race_world_stats(&W, &st);
	ck_assert_uint_eq(st.last.retries, 99);
	ck_assert_uint_ge(current->nr_resched - resched, 100);
	assert_bar_map_left_nothing();
	world_teardown();
}
END_TEST

/*
 * The lockstep adversary against 6.12's own follow_fault_pfn(): no retry,
 * so the first zap after the fault is the seeds/03 EINVAL, at the BAR's
 * iova, with nothing left mapped, pinned or charged.
 */
START_TEST(test_lockstep_adversary_legacy_fails_einval_after_one_fault)
{
	struct vfio_type1_stats st;

	if (!tree_does(VFIO_RETRY_LEGACY, false, __func__))
		return;
	zap_world(VFIO_RETRY_LEGACY, false, -1);
	ck_assert_int_eq(map_at(RW_BAR_VA, RW_BAR_IOVA, W.cfg.bar_size), -EINVAL);
	ck_assert_uint_eq(sched_point_hits(SP_FOLLOW_FAULT_AFTER_FIXUP), 1);
	race_world_stats(&W, &st);
	ck_assert_uint_eq(st.last.faults, 1);
	ck_assert_uint_eq(st.last.retries, 0);
	ck_assert_uint_eq(st.outcomes[VFIO_MAP_EINVAL], 1);
	assert_bar_map_left_nothing();
	world_teardown();
}
END_TEST

/* Scenario 6: a fault that drops mmap_lock restarts from vma_lookup(). */
START_TEST(test_fault_dropping_mmap_lock_restarts_from_vma_lookup)
{
	struct vfio_type1_stats st;

	zap_world(VFIO_RETRY_LEGACY, false, 0);
	atomic_store(&W.mm->inject_fault_retry, 1);
	ck_assert_int_eq(map_at(RW_BAR_VA, RW_BAR_IOVA, W.cfg.bar_size), 0);
	race_world_stats(&W, &st);
	ck_assert_uint_eq(st.last.eagain_loops, 1);
	ck_assert_uint_eq(st.last.retries, 0);
	ck_assert_uint_eq(atomic_load(&W.mm->fault_stats.retry), 1);
	ck_assert(race_world_bar_mapped(&W));
	world_teardown();
}
END_TEST

/* Scenario 7: the PUD changes between follow_pfnmap_start's read and its lock. */

static int s7_mode;	/* 0: becomes none, 1: becomes a table */

static void s7_change_pud(enum sched_point_id id, struct mm_struct *mm, unsigned long addr,
			  void *priv)
{
	pud_t *pud = pud_offset(p4d_offset(pgd_offset(mm, addr), addr), addr);

	if (s7_mode < 0)
		return;
	set_pud(pud, __pud(0));
	if (s7_mode == 1)	/* a PMD table with a PMD leaf in it, as a PMD-order refault */
		ck_assert_ptr_nonnull(pmd_alloc(mm, pud, addr));
	if (s7_mode == 1) {
		pmd_t *pmd = pmd_offset(pud, addr);

		set_pmd(pmd, pmd_mkspecial(pmd_mkhuge(pfn_pmd(W.vdev->bar[0].pfn, PAGE_SHARED))));
	}
	s7_mode = -1;
}

static int follow_with_change(int mode, bool recheck, struct follow_pfnmap_args *args)
{
	int ret;

	vfio_type1_cfg.follow_pfnmap_recheck = recheck;
	s7_mode = mode;
	sched_point_arm(SP_FOLLOW_PFNMAP_LOCKLESS, s7_change_pud, NULL);
	mmap_read_lock(W.mm);
	*args = (struct follow_pfnmap_args){ .vma = vma_lookup(W.mm, RW_BAR_VA),
					     .address = RW_BAR_VA + 8192 };
	ret = follow_pfnmap_start(args);
	if (!ret)
		follow_pfnmap_end(args);
	mmap_read_unlock(W.mm);
	sched_point_disarm(SP_FOLLOW_PFNMAP_LOCKLESS);
	return ret;
}

/*
 * The granularity follow_pfnmap_start() reports for a leaf of @mask: 6.12's
 * struct follow_pfnmap_args has no addr_mask (62fb8adc43af, v6.15), and
 * the tree's is reported as PAGE_MASK, the page its callers then step by
 * (ktree/ktree_impl.c).
 */
static unsigned long reported_mask(unsigned long mask)
{
	return on_tree() ? PAGE_MASK : mask;
}

/* Re-read under the lock (ffef67b93aa3): gone -> error; a table -> its leaf. */
static void follow_change_with_recheck(void)
{
	struct follow_pfnmap_args a;

	mmap_read_lock(W.mm);
	ck_assert_int_eq(fixup_user_fault(W.mm, RW_BAR_VA, 0, NULL), 0);
	mmap_read_unlock(W.mm);
	ck_assert_int_eq(follow_with_change(0, true, &a), -EINVAL);

	/* Became a table: with the re-read, retry from the top and find the PMD leaf. */
	mmap_read_lock(W.mm);
	ck_assert_int_eq(fixup_user_fault(W.mm, RW_BAR_VA, 0, NULL), 0);
	mmap_read_unlock(W.mm);
	ck_assert_int_eq(follow_with_change(1, true, &a), 0);
	ck_assert_uint_eq(a.addr_mask, reported_mask(PMD_MASK));
	ck_assert_uint_eq(a.pfn, W.vdev->bar[0].pfn + 2);
}

/* Without the re-read: the stale leaf is reported for an entry that is gone. */
static void follow_change_without_recheck(void)
{
	struct follow_pfnmap_args a;

	mmap_read_lock(W.mm);
	ck_assert_int_eq(fixup_user_fault(W.mm, RW_BAR_VA, 0, NULL), 0);
	mmap_read_unlock(W.mm);
	ck_assert_int_eq(follow_with_change(0, false, &a), 0);
	ck_assert_uint_eq(a.addr_mask, reported_mask(PUD_MASK));
	ck_assert_uint_eq(a.pfn, W.vdev->bar[0].pfn + 2);
	ck_assert_int_eq(pgtable_lookup(W.mm, RW_BAR_VA, NULL, NULL), PGTABLE_NONE);
}

START_TEST(test_follow_pfnmap_pud_vanishes_or_becomes_table_before_lock)
{
	bool with = true, without = true;

	if (on_tree()) {
		struct vfio_type1_config vc;
		struct machine_config mc;

		/* The tree's follow_pfnmap_start() is one of the two. */
		tree_configs(&mc, &vc);
		with = vc.follow_pfnmap_recheck;
		without = !with;
		printf("# %s: the tree's follow_pfnmap_start() is the one %s ffef67b93aa3\n",
		       __func__, with ? "with" : "without");
	}
	zap_world(VFIO_RETRY_LEGACY, false, 0);
	sched_point_disarm(SP_FOLLOW_FAULT_AFTER_FIXUP);
	/* Without first: it leaves the PUD none, which the next fault refills. */
	if (without)
		follow_change_without_recheck();
	if (with)
		follow_change_with_recheck();
	world_teardown();
}
END_TEST

/* Scenario 8: decode turned off in the middle of MAP_DMA of a BAR. */

static void decode_off(enum sched_point_id id, struct mm_struct *mm, unsigned long addr,
		       void *priv)
{
	vfio_pci_write_command(W.vdev, 0);
}

START_TEST(test_decode_off_during_bar_map_is_efault_and_leaks_nothing)
{
	unsigned long ram = RW_BAR_VA - 2 * MiB, va;
	unsigned long pfn;

	zap_world(VFIO_RETRY_LEGACY, false, 0);
	sched_point_disarm(SP_FOLLOW_FAULT_AFTER_FIXUP);
	atomic_store(&W.mm->owner->signal->cap_ipc_lock, true);
	/* 2 MiB of RAM right below the BAR: one MAP_DMA, a RAM run then the BAR run. */
	va = vm_mmap(W.mm, NULL, ram, 2 * MiB, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0);
	ck_assert_uint_eq(va, ram);
	/* Between the runs, the guest clears PCI_COMMAND_MEMORY (zapping the BAR). */
	sched_point_arm(SP_PIN_BETWEEN_RUNS, decode_off, NULL);
	ck_assert_int_eq(map_at(ram, RW_BAR_IOVA, 2 * MiB + W.cfg.bar_size), -EFAULT);
	ck_assert_uint_eq(sched_point_hits(SP_PIN_BETWEEN_RUNS), 1);
	/* The RAM run was mapped and pinned, then rolled back. */
	ck_assert_int_eq(pgtable_lookup(W.mm, ram, &pfn, NULL), PGTABLE_PTE);
	ck_assert_int_eq(page_ref_count(pfn_to_page(pfn)), 1);
	assert_bar_map_left_nothing();
	world_teardown();
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("race_scenarios");
	TCase *tc = tcase_create("seeds");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, assert_no_checker_report);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_prefix_walker_pud_refault_oopses_and_mmap_lock_hangs);
	tcase_add_test(tc, test_legacy_zap_after_fixup_fails_bar_map_einval_neighbours_succeed);
	tcase_add_test(tc, test_eagain_policy_same_interleaving_maps_the_bar);
	tcase_add_test(tc, test_bounded_policy_same_interleaving_maps_the_bar);
	tcase_add_test(tc, test_enoent_policy_same_interleaving_maps_the_bar);
	tcase_add_test(tc, test_lockstep_adversary_eagain_livelocks_and_the_watchdog_reports_it);
	tcase_add_test(tc, test_lockstep_adversary_bounded_gives_ebusy_and_leaks_nothing);
	tcase_add_test(tc, test_lockstep_adversary_enoent_resched_each_round_eintr_when_killed);
	tcase_add_test(tc, test_lockstep_adversary_legacy_fails_einval_after_one_fault);
	tcase_add_test(tc, test_fault_dropping_mmap_lock_restarts_from_vma_lookup);
	tcase_add_test(tc, test_follow_pfnmap_pud_vanishes_or_becomes_table_before_lock);
	tcase_add_test(tc, test_decode_off_during_bar_map_is_efault_and_leaks_nothing);
	return s;
}
