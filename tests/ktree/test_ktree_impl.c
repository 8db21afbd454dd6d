// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run-time choice between pinsim's rewrite and the kernel tree's own
 * code (sim/kimpl.h, pinsim_config_set_impl(), --impl tree): that a machine
 * asked to run the tree really runs it, at every entry point, and that the
 * public edge reports which tree it is.
 *
 * Expectations come from KTREE_PROFILE, the profile the build declares for
 * the tree (-Dkernel_tree_profile; default the tree's version): Debian's
 * 6.12.118 has the March 2026 walker fix, a tree built with
 * -Dkernel_tree_profile=6.12.118-3b89863c3fa4 has it reverted.
 */
#include <fcntl.h>
#include <string.h>

#include <pinsim/pinsim.h>

#include "../harness.h"
#include "../race_world.h"
#include "kernel_profiles.h"
#include "kimpl.h"

#define EX_MAP_SIZE (16 * KiB)

struct oops_ctx {
	struct race_world w;
	unsigned long oopses;
	char func[sizeof(((struct oops_record *)0)->func)];
	char why[256];
};

static int oc_setup(void *ctx, struct sched_thread *t)
{
	return race_world_setup(&((struct oops_ctx *)ctx)->w, t);
}

static bool oc_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct oops_ctx *c = ctx;
	struct oops_record rec;

	if (!sim_oops_count())
		return true;
	c->oopses++;
	if (sim_last_oops(&rec)) {
		snprintf(c->func, sizeof(c->func), "%s", rec.func);
		snprintf(c->why, sizeof(c->why), "oops in %s(): %s", rec.func, rec.why);
	}
	return false;
}

static void oc_teardown(void *ctx)
{
	race_world_teardown(&((struct oops_ctx *)ctx)->w);
}

static const struct sched_explore_ops oc_ops = { oc_setup, oc_check, oc_teardown };

/* One replay of @schedule in a fresh world; the oopses it caused. */
static long replay(struct oops_ctx *c, const char *schedule)
{
	struct sched_thread t[4];

	return race_world_replay(&c->w, t, race_world_setup(&c->w, t), schedule);
}

/* Has profile @name the fixed walker (3b89863c3fa4)? */
static bool profile_walker_fixed(const char *name)
{
	struct vfio_type1_config vc;
	struct machine_config mc;

	ck_assert_int_eq(kernel_profile_configs(name, &mc, &vc), 0);
	return mc.pagewalk_fixed;
}

static bool is_walker_level(const char *func)
{
	static const char *const levels[] = { "walk_pgd_range", "walk_p4d_range",
					      "walk_pud_range", "walk_pmd_range" };

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(func, levels[i]))
			return true;
	return false;
}

/* Search for the seeds/01 oops; the schedule that found it in @schedule. */
static void find_oops(struct oops_ctx *c, char *schedule, size_t len)
{
	struct sched_explore_stats st;

	ck_assert_int_eq(sched_explore(&oc_ops, c, SCHED_RACE_POINTS, 2, 200000, 100000, &st), 0);
	ck_assert_msg(st.bug_found, "%s under %s: no oops in %lu schedules",
		      c->w.cfg.tree ? "the tree" : "the rewrite", c->w.cfg.kernel, st.schedules);
	ck_assert_msg(strstr(c->why, "illegal read of MMIO pfn"), "%s", c->why);
	/*
	 * Named after the walker's own code: the rewrite's accessor names its
	 * caller, the tree's plain load is named from its instruction
	 * (kallsyms), which the compiler may have inlined into any of
	 * walk_p{g,4,u,m}d_range() as it does in the kernel's build.
	 */
	ck_assert_msg(is_walker_level(c->func), "%s", c->why);
	snprintf(schedule, len, "%s", st.bug.schedule);
	printf("# %s under %s: %s after %lu schedules, schedule %s\n",
	       c->w.cfg.tree ? "tree" : "rewrite", c->w.cfg.kernel, c->why, st.schedules, schedule);
}

/*
 * The dispatch is real: a schedule that oopses with one walker and not with
 * the other tells which one ran.  A fixed tree (KTREE_PROFILE has
 * 3b89863c3fa4): the rewrite told to walk without the fix oopses, the tree
 * on the same machine does not.  A tree without the fix: the tree oopses,
 * the rewrite told to walk with it does not.
 */
START_TEST(test_tree_impl_runs_the_trees_walker_not_the_profiles)
{
	char other[64], schedule[SCHED_MAX_DECISIONS * 2 + 1];
	bool fixed = profile_walker_fixed(KTREE_PROFILE);
	struct oops_ctx c = { 0 };

	static const char revert[] = "-3b89863c3fa4";
	size_t len = strlen(KTREE_PROFILE);

	/* The tree's profile with the walker fix taken away, or given back. */
	if (!fixed && len > strlen(revert) && !strcmp(KTREE_PROFILE + len - strlen(revert), revert))
		snprintf(other, sizeof(other), "%.*s", (int)(len - strlen(revert)), KTREE_PROFILE);
	else
		snprintf(other, sizeof(other), "%s%c3b89863c3fa4", KTREE_PROFILE, fixed ? '-' : '+');
	ck_assert(profile_walker_fixed(other) != fixed);
	c.w.cfg = (struct race_world_cfg){ fixed ? other : KTREE_PROFILE, PUD_ORDER, 1ULL << 30,
					   VFIO_RETRY_LEGACY, .map_size = EX_MAP_SIZE,
					   .tree = !fixed };
	find_oops(&c, schedule, sizeof(schedule));
	/* The same schedule, same implementation: the oops is reproducible. */
	ck_assert_int_eq(replay(&c, schedule), 1);
	/* The other implementation, under the profile with the fix: none. */
	c.w.cfg.tree = !c.w.cfg.tree;
	c.w.cfg.kernel = fixed ? KTREE_PROFILE : other;
	ck_assert_int_eq(replay(&c, schedule), 0);
}
END_TEST

/*
 * Every schedule of the seeds/01 world through numa_maps_read(), the tree's
 * walker with its own numa_maps callbacks: no oops with a fixed tree; with
 * a tree without the fix, the oops, found and replayed (the tree's own
 * pmd_offset() on the refaulted BAR leaf, caught by the direct map).
 */
START_TEST(test_tree_impl_numa_maps_reader_oopses_as_its_profile_says)
{
	char schedule[SCHED_MAX_DECISIONS * 2 + 1];
	struct oops_ctx c = { 0 };
	struct sched_explore_stats st;

	c.w.cfg = (struct race_world_cfg){ KTREE_PROFILE, PUD_ORDER, 1ULL << 30, VFIO_RETRY_LEGACY,
					   .map_size = EX_MAP_SIZE, .tree = true };
	if (!profile_walker_fixed(KTREE_PROFILE)) {
		find_oops(&c, schedule, sizeof(schedule));
		ck_assert_int_eq(replay(&c, schedule), 1);
		return;
	}
	ck_assert_int_eq(sched_explore(&oc_ops, &c, SCHED_RACE_POINTS, 2, 200000, 100000, &st), 0);
	printf("# tree %s through numa_maps_read(): %lu schedules (%s)\n", KTREE_PROFILE,
	       st.schedules, st.complete ? "complete" : "stopped");
	ck_assert_msg(!st.bug_found, "%s (schedule %s)", c.why, st.bug.schedule);
	ck_assert(st.complete);
	ck_assert_uint_gt(st.schedules, 1);
}
END_TEST

/* ---- the public edge ---- */

START_TEST(test_impl_names_and_tree_version)
{
	struct pinsim_config cfg;
	const char *path = NULL;

	pinsim_config_init(&cfg);
	ck_assert_int_eq(cfg.impl, PINSIM_IMPL_REWRITE);
	ck_assert_int_eq(pinsim_config_set_impl(&cfg, "tree"), 0);
	ck_assert_int_eq(cfg.impl, PINSIM_IMPL_TREE);
	ck_assert_str_eq(pinsim_impl_name(cfg.impl), "tree");
	ck_assert_int_eq(pinsim_config_set_impl(&cfg, "rewrite"), 0);
	ck_assert_int_eq(cfg.impl, PINSIM_IMPL_REWRITE);
	errno = 0;
	ck_assert_int_eq(pinsim_config_set_impl(&cfg, "Tree"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(cfg.impl, PINSIM_IMPL_REWRITE);
	ck_assert_ptr_null(pinsim_impl_name((enum pinsim_impl)7));
	ck_assert_str_eq(pinsim_kernel_tree_version(&path), KTREE_VERSION);
	ck_assert_str_eq(pinsim_kernel_tree_profile(), KTREE_PROFILE);
	ck_assert_ptr_nonnull(path);
	ck_assert_ptr_nonnull(kimpl_tree_built());
}
END_TEST

/*
 * The seeds/03 -ENOENT switch changes the rewrite's follow_pfnmap_start();
 * the tree's would ignore it, so asking for both is refused, no machine.
 */
START_TEST(test_tree_impl_refuses_the_rewrites_enoent_switch)
{
	struct pinsim_config cfg;
	struct pinsim *m = NULL;

	pinsim_config_init(&cfg);
	/* The tree's profile: its retry policy is the one the tree accepts. */
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, KTREE_PROFILE), 0);
	cfg.impl = PINSIM_IMPL_TREE;
	cfg.follow_pfnmap_enoent = true;
	errno = 0;
	ck_assert_int_eq(pinsim_create(&cfg, &m), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(m);
	cfg.follow_pfnmap_enoent = false;
	ck_assert_int_eq(pinsim_create(&cfg, &m), 0);
	pinsim_destroy(m);
}
END_TEST

/* A process with 4K anon, THP, 2M and 1G hugetlb and a BAR on PUD leaves. */
static void fill_process(struct pinsim *m, struct pinsim_proc *p, char *text, size_t len)
{
	struct pinsim_device_spec dev = { "0000:01:00.0", { 1ULL << 30 }, 0 };
	uint64_t a4k, thp, h2m, h1g, bar;
	char buf[4096] = { 1 }, path[32];
	int gid, grp, dfd, container;
	ssize_t n;

	ck_assert_int_eq(pinsim_add_device(m, &dev, &gid), 0);
	a4k = pinsim_mmap(p, 0, 64 * KiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	thp = pinsim_mmap(p, 0x7e0000000000UL, 4 * MiB, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	h2m = pinsim_mmap(p, 0, 4 * MiB, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT), -1, 0);
	h1g = pinsim_mmap(p, 0, 1ULL << 30, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | (30 << MAP_HUGE_SHIFT), -1, 0);
	ck_assert(a4k != PINSIM_MAP_FAILED && thp != PINSIM_MAP_FAILED);
	ck_assert(h2m != PINSIM_MAP_FAILED && h1g != PINSIM_MAP_FAILED);
	ck_assert_int_eq(pinsim_madvise(p, thp, 4 * MiB, MADV_HUGEPAGE), 0);
	for (uint64_t off = 0; off < 64 * KiB; off += 8 * KiB)	/* every other page */
		ck_assert_int_eq(pinsim_access(p, a4k + off, buf, 1, 1), 1);
	ck_assert_int_eq(pinsim_access(p, thp, buf, 1, 1), 1);
	ck_assert_int_eq(pinsim_access(p, thp + 2 * MiB, buf, 1, 0), 1);
	ck_assert_int_eq(pinsim_access(p, h2m, buf, 1, 1), 1);
	ck_assert_int_eq(pinsim_access(p, h1g, buf, 1, 1), 1);

	snprintf(path, sizeof(path), "/dev/vfio/%d", gid);
	grp = pinsim_open(p, path, O_RDWR);
	ck_assert_int_ge(grp, 0);
	container = pinsim_open(p, "/dev/vfio/vfio", O_RDWR);
	ck_assert_int_ge(container, 0);
	ck_assert_int_eq(pinsim_ioctl(p, grp, VFIO_GROUP_SET_CONTAINER, &container), 0);
	ck_assert_int_eq(pinsim_ioctl(p, container, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), 0);
	dfd = pinsim_ioctl(p, grp, VFIO_GROUP_GET_DEVICE_FD, "0000:01:00.0");
	ck_assert_int_ge(dfd, 0);
	bar = pinsim_mmap(p, 0x7f0000000000UL, 1ULL << 30, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, dfd, 0);
	ck_assert(bar != PINSIM_MAP_FAILED);
	ck_assert_int_eq(pinsim_access(p, bar, buf, 4, 0), 4);

	n = pinsim_read_numa_maps(p, text, len);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_lt((size_t)n, len);
}

static void numa_maps_text(enum pinsim_impl impl, char *text, size_t len)
{
	struct pinsim_config cfg;
	struct pinsim_proc *p;
	struct pinsim *m;

	pinsim_config_init(&cfg);
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, KTREE_PROFILE), 0);
	cfg.impl = impl;
	cfg.ram_bytes = 4ULL << 30;
	cfg.hugetlb_2m_pages = 4;
	cfg.hugetlb_1g_pages = 1;
	ck_assert_int_eq(pinsim_create(&cfg, &m), 0);
	ck_assert_int_eq(pinsim_proc_create(m, &p), 0);
	fill_process(m, p, text, len);
	pinsim_proc_destroy(p);
	pinsim_destroy(m);
}

START_TEST(test_tree_impl_numa_maps_text_equals_rewrite)
{
	static char rewrite[16384], tree[16384];

	numa_maps_text(PINSIM_IMPL_REWRITE, rewrite, sizeof(rewrite));
	numa_maps_text(PINSIM_IMPL_TREE, tree, sizeof(tree));
	printf("# numa_maps (tree):\n");
	for (char *l = tree, *e; *l; l = e + 1) {
		e = strchr(l, '\n');
		if (!e)
			break;
		printf("#   %.*s\n", (int)(e - l), l);
	}
	/* Both texts count the touched pages: a walk that saw nothing fails. */
	ck_assert_ptr_nonnull(strstr(tree, " anon=8 dirty=8 N0=8 kernelpagesize_kB=4"));
	ck_assert_ptr_nonnull(strstr(tree, " anon=1024 dirty=1024 N0=1024"));
	ck_assert_ptr_nonnull(strstr(tree, " huge anon=1 dirty=1 N0=1 kernelpagesize_kB=2048"));
	ck_assert_ptr_nonnull(strstr(tree, " huge dirty=1 N0=1 kernelpagesize_kB=1048576"));
	ck_assert_str_eq(tree, rewrite);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("ktree_impl");
	TCase *api = tcase_create("api");
	TCase *race = tcase_create("race");

	suite_add_tcase(s, api);
	tcase_add_test(api, test_impl_names_and_tree_version);
	tcase_add_test(api, test_tree_impl_refuses_the_rewrites_enoent_switch);
	tcase_add_test(api, test_tree_impl_numa_maps_text_equals_rewrite);
	tcase_set_timeout(race, 120);
	suite_add_tcase(s, race);
	tcase_add_test(race, test_tree_impl_runs_the_trees_walker_not_the_profiles);
	tcase_add_test(race, test_tree_impl_numa_maps_reader_oopses_as_its_profile_says);
	return s;
}
