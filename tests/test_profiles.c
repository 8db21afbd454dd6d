// SPDX-License-Identifier: GPL-2.0-only
/*
 * Named kernel profiles (lib/kernel_profiles.c): what each name sets, the
 * 6.12 stable boundaries from the Debian changelog, bad names, and the
 * behaviour that tells each profile from its neighbours through the public
 * API.  Each case cites the commit whose presence it pins; the expected
 * results are written per kernel from its source, not read back from the
 * switches.
 *
 * Differences that need a controlled interleaving are pinned where their
 * machinery is: the seeds/01 oops under 6.12.74 and none under the others
 * (test_explore, test_race_scenarios), the stale walk->action of 6.12.113
 * and 7.0 (test_pagewalk, test_numa_maps), the hugetlb PTL of 7.0/upstream
 * (test_numa_maps), cond_resched and run accounting (test_type1_versions).
 */
#include <linux/vfio.h>
#include <sys/mman.h>

#include "vfio_harness.h"
#include "vfio_iommu_driver.h"

static const char *const names[] = {"6.12.74", "6.12.113", "6.12.118", "7.0", "upstream"};
#define NR_NAMES ((int)(sizeof(names) / sizeof(names[0])))

/* Same kernel: every version switch and the name (no memcmp: padding). */
static void assert_same_kernel(const struct pinsim_config *a, const struct pinsim_config *b)
{
	char da[2048], db[2048];

	pinsim_kernel_describe(a, da, sizeof(da));
	pinsim_kernel_describe(b, db, sizeof(db));
	ck_assert_str_eq(da, db);
	ck_assert_int_eq(a->follow_pfnmap_enoent, b->follow_pfnmap_enoent);
}

static struct pinsim_config kcfg(const char *version)
{
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	ck_assert_msg(pinsim_config_set_kernel(&cfg, version) == 0, "%s", version);
	return cfg;
}

START_TEST(test_profile_table_lists_the_five_names_in_order)
{
	const struct pinsim_kernel_profile *p = NULL;
	size_t n = pinsim_kernel_profiles(&p);

	ck_assert_uint_eq(n, NR_NAMES);
	for (int i = 0; i < NR_NAMES; i++) {
		ck_assert_str_eq(p[i].name, names[i]);
		ck_assert_uint_gt(strlen(p[i].summary), 10);
	}
	ck_assert_uint_eq(pinsim_kernel_profiles(NULL), NR_NAMES);
}
END_TEST

START_TEST(test_default_config_is_the_upstream_profile)
{
	struct pinsim_config def, up = kcfg("upstream");

	pinsim_config_init(&def);
	ck_assert_str_eq(def.kernel, "upstream");
	assert_same_kernel(&def, &up);
}
END_TEST

START_TEST(test_unknown_name_is_einval_and_changes_nothing)
{
	static const char *const bad[] = {"",
					  "6.12",
					  "6.12.",
					  "6.12.x",
					  "6.12.28",
					  "6.12.1a",
					  "6.13.1",
					  "7",
					  "7.0.1",
					  "latest",
					  "Upstream",
					  "6.12.119",
					  "6.12.999999999999999999999"};
	struct pinsim_config cfg, before;

	pinsim_config_init(&cfg);
	pinsim_config_set_kernel(&cfg, "6.12.118");
	cfg.ram_bytes = 3ULL << 30;
	before = cfg;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(pinsim_config_set_kernel(&cfg, bad[i]) == -1, "'%s'", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		assert_same_kernel(&cfg, &before);
		ck_assert_str_eq(cfg.kernel, "6.12.118");
		ck_assert_uint_eq(cfg.ram_bytes, 3ULL << 30);
	}
	errno = 0;
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_config_set_kernel(NULL, "7.0"), -1);
}
END_TEST


/* "BASE-COMMIT" reverts one switch's commit, "BASE+COMMIT" applies it. */
START_TEST(test_revert_and_apply_a_commit_on_a_profile)
{
	struct pinsim_config base = kcfg("6.12.118"), cfg;

	cfg = kcfg("6.12.118-3b89863c3fa4");
	ck_assert_str_eq(cfg.kernel, "6.12.118-3b89863c3fa4");
	ck_assert(!cfg.pagewalk_fixed);
	cfg.pagewalk_fixed = true;	/* nothing else differs */
	memcpy(cfg.kernel, base.kernel, sizeof(cfg.kernel));
	assert_same_kernel(&cfg, &base);

	/* Short ids, several commits, in order. */
	cfg = kcfg("6.12.74+3b89863+ffef67b93aa3");
	ck_assert(cfg.pagewalk_fixed && cfg.follow_pfnmap_recheck);
	ck_assert(!cfg.pagewalk_stale_action_fix);
	/* A removal commit: applying clears its switch, reverting sets it. */
	ck_assert(kcfg("6.12.118+35890f85573c").vfio_type1_nesting == false);
	ck_assert(kcfg("upstream-35890f85573c").vfio_type1_nesting == true);
	ck_assert(kcfg("upstream-07970d048cdd").vfio_fgsp_probe == true);
	/* In order, the last one about a switch wins. */
	ck_assert(kcfg("6.12.118-3b89863c3fa4+3b89863").pagewalk_fixed);
	ck_assert(!kcfg("6.12.74+3b89863-3b89863").pagewalk_fixed);
	/* Reverting what a profile lacks changes nothing. */
	cfg = kcfg("6.12.74-3b89863c3fa4");
	memcpy(cfg.kernel, "6.12.74", sizeof("6.12.74"));
	base = kcfg("6.12.74");
	assert_same_kernel(&cfg, &base);
}
END_TEST

/*
 * A patch on the list that no kernel has, named: +eagain is the
 * 2026-03-17 VFIO retry patch (seeds/03), a retry policy; -eagain
 * gives back what released kernels do.  Nothing else of the profile moves.
 */
START_TEST(test_eagain_proposal_sets_the_policy_only)
{
	struct pinsim_config base = kcfg("6.12.118"), cfg = kcfg("6.12.118+eagain");

	ck_assert_int_eq(base.retry_policy, PINSIM_RETRY_LEGACY);
	ck_assert_int_eq(cfg.retry_policy, PINSIM_RETRY_EAGAIN);
	ck_assert_str_eq(cfg.kernel, "6.12.118+eagain");
	memcpy(cfg.kernel, base.kernel, sizeof(cfg.kernel));
	assert_same_kernel(&cfg, &base);
	/* With commits, in order; the last word about the policy wins. */
	cfg = kcfg("6.12.118-3b89863c3fa4+eagain");
	ck_assert(!cfg.pagewalk_fixed);
	ck_assert_int_eq(cfg.retry_policy, PINSIM_RETRY_EAGAIN);
	ck_assert_int_eq(kcfg("6.12.118+eagain-eagain").retry_policy,
			 PINSIM_RETRY_LEGACY);
	/* A profile without it leaves a policy set before alone. */
	pinsim_config_init(&cfg);
	cfg.retry_policy = PINSIM_RETRY_BOUNDED;
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, "6.12.118"), 0);
	ck_assert_int_eq(cfg.retry_policy, PINSIM_RETRY_BOUNDED);
	/* Unknown words and near misses are EINVAL. */
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, "6.12.118+retry_eagai"), -1);
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, "6.12.118+eagainx"), -1);
	ck_assert_int_eq(cfg.retry_policy, PINSIM_RETRY_BOUNDED);
}
END_TEST

START_TEST(test_bad_commit_modifiers_are_einval_and_change_nothing)
{
	static const char *const bad[] = {
		"6.12.118-",		/* no commit */
		"6.12.118-3b89863",	/* 7 digits is enough... */
		"6.12.118-3b8986",	/* ...6 is not */
		"6.12.118-3B89863C3FA4",	/* ids are lower case */
		"6.12.118-0123456789ab",	/* no switch is named after it */
		"6.12.118-3b89863c3fa4-0123456",	/* one good, one unknown */
		"6.12.118-3b89863c3fa4x",
		"-3b89863c3fa4",	/* no base */
		"6.12.28-3b89863c3fa4",	/* bad base */
		"6.12.118-3b89863c3fa40",	/* 13 digits */
	};
	struct pinsim_config cfg, before;

	pinsim_config_init(&cfg);
	pinsim_config_set_kernel(&cfg, "7.0");
	before = cfg;
	/* The one good spelling in the list above. */
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, bad[1]), 0);
	ck_assert(!cfg.pagewalk_fixed);
	cfg = before;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (i == 1)
			continue;
		errno = 0;
		ck_assert_msg(pinsim_config_set_kernel(&cfg, bad[i]) == -1, "'%s'", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		assert_same_kernel(&cfg, &before);
		ck_assert_str_eq(cfg.kernel, "7.0");
	}
}
END_TEST

/*
 * --impl: "rewrite" everywhere; "tree" only in a build with a kernel tree,
 * and a machine asked to run a tree that is not there is never created.
 */
START_TEST(test_impl_tree_needs_a_built_tree)
{
	struct pinsim_config cfg;
	struct pinsim *m = NULL;
	const char *path = (const char *)1;
	const char *v = pinsim_kernel_tree_version(&path);
	int ret;

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 2ULL << 30;
	ck_assert_int_eq(cfg.impl, PINSIM_IMPL_REWRITE);
	ck_assert_str_eq(pinsim_impl_name(PINSIM_IMPL_REWRITE), "rewrite");
	errno = 0;
	ret = pinsim_config_set_impl(&cfg, "tree");
	if (!v) {
		ck_assert_ptr_null(path);
		ck_assert_int_eq(ret, -1);
		ck_assert_int_eq(errno, EOPNOTSUPP);
		ck_assert_int_eq(cfg.impl, PINSIM_IMPL_REWRITE);
		cfg.impl = PINSIM_IMPL_TREE;	/* set by hand: refused at creation */
		errno = 0;
		ck_assert_int_eq(pinsim_create(&cfg, &m), -1);
		ck_assert_int_eq(errno, EOPNOTSUPP);
		ck_assert_ptr_null(m);
	} else if (!&ktree_vfio_iommu_type1) {
		/* The tree's walker without the tree's vfio_iommu_type1.c. */
		ck_assert_ptr_nonnull(path);
		ck_assert_int_eq(ret, 0);
		errno = 0;
		ck_assert_int_eq(pinsim_create(&cfg, &m), -1);
		ck_assert_int_eq(errno, EOPNOTSUPP);
		ck_assert_ptr_null(m);
	} else {
		ck_assert_ptr_nonnull(path);
		ck_assert_int_eq(ret, 0);
		ck_assert_int_eq(pinsim_create(&cfg, &m), 0);
		pinsim_destroy(m);
		m = NULL;
	}
	/* A machine can be created afterwards: the failure left nothing behind. */
	cfg.impl = PINSIM_IMPL_REWRITE;
	ck_assert_int_eq(pinsim_create(&cfg, &m), 0);
	pinsim_destroy(m);
	cfg.impl = (enum pinsim_impl)2;
	errno = 0;
	ck_assert_int_eq(pinsim_create(&cfg, &m), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_config_set_impl(&cfg, NULL), -1);
	ck_assert_int_eq(pinsim_config_set_impl(NULL, "rewrite"), -1);
}
END_TEST

/*
 * With the tree the retry policy is its source's, which its profile
 * declares (LEGACY; EAGAIN for a tree built as +eagain): the rewrite's
 * switch would be silently ignored, so pinsim_create() and
 * pinsim_set_retry_policy() refuse any other policy (EINVAL) on a machine
 * running the tree.  Checked before the build's tree is looked at, so in
 * every build (without a tree the declared policy is LEGACY).
 */
static enum pinsim_retry_policy tree_declared_policy(void)
{
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	if (pinsim_kernel_tree_profile())
		ck_assert_int_eq(pinsim_config_set_kernel(&cfg, pinsim_kernel_tree_profile()), 0);
	return cfg.retry_policy;
}

START_TEST(test_impl_tree_refuses_every_retry_policy_but_its_sources)
{
	enum pinsim_retry_policy own = tree_declared_policy();
	struct pinsim_config cfg;
	struct pinsim *m = NULL;

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 2ULL << 30;
	cfg.impl = PINSIM_IMPL_TREE;	/* by hand: the check does not need a tree */
	for (int p = PINSIM_RETRY_LEGACY; p <= PINSIM_RETRY_ENOENT; p++) {
		if ((enum pinsim_retry_policy)p == own)
			continue;
		cfg.retry_policy = (enum pinsim_retry_policy)p;
		errno = 0;
		ck_assert_int_eq(pinsim_create(&cfg, &m), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_ptr_null(m);
	}
	/* A profile naming another retry than the tree's: refused too. */
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, own == PINSIM_RETRY_EAGAIN ?
							      "6.12.118-eagain" :
							      "6.12.118+eagain"),
			 0);
	ck_assert_int_ne(cfg.retry_policy, own);
	errno = 0;
	ck_assert_int_eq(pinsim_create(&cfg, &m), -1);
	ck_assert_int_eq(errno, EINVAL);

	/* The same configuration on the rewrite is a machine. */
	cfg.impl = PINSIM_IMPL_REWRITE;
	ck_assert_int_eq(pinsim_create(&cfg, &m), 0);
	ck_assert_int_eq(pinsim_set_retry_policy(m, PINSIM_RETRY_BOUNDED, 3), 0);
	pinsim_destroy(m);
	m = NULL;

	/* On a machine that does run the tree, the run-time switch refuses too. */
	if (pinsim_config_set_impl(&cfg, "tree") || !&ktree_vfio_iommu_type1)
		return;
	cfg.retry_policy = own;
	ck_assert_int_eq(pinsim_create(&cfg, &m), 0);
	errno = 0;
	ck_assert_int_eq(pinsim_set_retry_policy(m, own == PINSIM_RETRY_EAGAIN ?
							 PINSIM_RETRY_LEGACY :
							 PINSIM_RETRY_EAGAIN,
						 0),
			 -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_set_retry_policy(m, own, 0), 0);
	pinsim_destroy(m);
}
END_TEST

/* Sizing, arch, module parameters and the retry policy are not the kernel's version. */
START_TEST(test_set_kernel_leaves_sizing_arch_and_policy_alone)
{
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 5ULL << 30;
	cfg.hugetlb_2m_pages = 7;
	cfg.hugetlb_1g_pages = 3;
	cfg.thp = PINSIM_THP_ALWAYS;
	cfg.arch_has_pte_special = false;
	cfg.arch_supports_pud_pfnmap = false;
	cfg.max_bar_fault_order = 9;
	cfg.follow_pfnmap_enoent = true;
	cfg.disable_hugepages = true;
	cfg.dma_entry_limit = 17;
	cfg.retry_policy = PINSIM_RETRY_BOUNDED;
	cfg.retry_bound = 3;
	cfg.iommu_pgsize_bitmap = 1ULL << 12;
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, names[_i]), 0);
	ck_assert_uint_eq(cfg.ram_bytes, 5ULL << 30);
	ck_assert_uint_eq(cfg.hugetlb_2m_pages, 7);
	ck_assert_uint_eq(cfg.hugetlb_1g_pages, 3);
	ck_assert_int_eq(cfg.thp, PINSIM_THP_ALWAYS);
	ck_assert(!cfg.arch_has_pte_special);
	ck_assert(!cfg.arch_supports_pud_pfnmap);
	ck_assert_uint_eq(cfg.max_bar_fault_order, 9);
	ck_assert(cfg.follow_pfnmap_enoent);
	ck_assert(cfg.disable_hugepages);
	ck_assert_uint_eq(cfg.dma_entry_limit, 17);
	ck_assert_int_eq(cfg.retry_policy, PINSIM_RETRY_BOUNDED);
	ck_assert_uint_eq(cfg.retry_bound, 3);
	ck_assert_uint_eq(cfg.iommu_pgsize_bitmap, 1ULL << 12);
	ck_assert_str_eq(cfg.kernel, names[_i]);
}
END_TEST

/* The Debian changelog's boundaries of the 6.12 stable line. */
START_TEST(test_612_stable_boundaries_follow_the_changelog)
{
	struct pinsim_config c;

	c = kcfg("6.12.42"); /* b1779e4f209c came in 6.12.43 */
	ck_assert(!c.vfio_pin_cond_resched);
	c = kcfg("6.12.43");
	ck_assert(c.vfio_pin_cond_resched);
	c = kcfg("6.12.80"); /* ffef67b93aa3 came in 6.12.81 */
	ck_assert(!c.follow_pfnmap_recheck);
	ck_assert(!c.pagewalk_fixed);
	c = kcfg("6.12.81");
	ck_assert(c.follow_pfnmap_recheck);
	ck_assert(!c.pagewalk_fixed);
	c = kcfg("6.12.84"); /* 3b89863c3fa4 came in 6.12.84 */
	ck_assert(c.pagewalk_fixed);
	ck_assert(!c.pagewalk_stale_action_fix);
	c = kcfg("6.12.114"); /* aedf2efd1897 came in 6.12.115 */
	ck_assert(!c.pagewalk_stale_action_fix);
	c = kcfg("6.12.115");
	ck_assert(c.pagewalk_stale_action_fix);
	ck_assert_str_eq(c.kernel, "6.12.115");
	/* Nothing of the 6.13+ VFIO type1 reached 6.12 stable. */
	c = kcfg("6.12.118");
	ck_assert(!c.vfio_addr_mask_batching);
	ck_assert(!c.vfio_pin_contig_accounting);
	ck_assert(!c.vfio_dma_limit_overflow);
	ck_assert(c.vfio_type1_nesting);
	ck_assert(!c.task_mmu_hugetlb_ptl);
	/* The named 6.12 profiles are the same as their numbers. */
	for (int i = 0; i < 3; i++) {
		struct pinsim_config a = kcfg(names[i]), b;
		char num[32];

		snprintf(num, sizeof(num), "6.12.%s", names[i] + 5);
		b = kcfg(num);
		assert_same_kernel(&a, &b);
	}
}
END_TEST

/* Neighbouring profiles differ in exactly the commits between them. */
START_TEST(test_neighbouring_profiles_differ_by_their_commits)
{
	struct pinsim_config a = kcfg("6.12.74"), b = kcfg("6.12.113"), c = kcfg("6.12.118");
	struct pinsim_config d = kcfg("7.0"), e = kcfg("upstream");

	/* 6.12.74 -> 6.12.113: 3b89863c3fa4 and ffef67b93aa3 */
	ck_assert(!a.pagewalk_fixed && b.pagewalk_fixed);
	ck_assert(!a.follow_pfnmap_recheck && b.follow_pfnmap_recheck);
	/* 6.12.113 -> 6.12.118: aedf2efd1897 */
	ck_assert(!b.pagewalk_stale_action_fix && c.pagewalk_stale_action_fix);
	/* 6.12.118 -> 7.0: the 6.13-6.18 VFIO type1 and task_mmu changes */
	ck_assert(c.vfio_type1_nesting && !d.vfio_type1_nesting);
	ck_assert(c.vfio_fgsp_probe && !d.vfio_fgsp_probe);	/* 07970d048cdd */
	ck_assert(!c.vfio_addr_mask_batching && d.vfio_addr_mask_batching);
	ck_assert(!c.vfio_pin_contig_accounting && d.vfio_pin_contig_accounting);
	ck_assert(!c.vfio_dma_limit_overflow && d.vfio_dma_limit_overflow);
	ck_assert(!c.task_mmu_hugetlb_ptl && d.task_mmu_hugetlb_ptl);
	ck_assert(!c.mmap_thp_anon_only && d.mmap_thp_anon_only);	/* 34d7cf637c43 */
	/* ...and 7.0 has not got the stale-action fix (v7.2) that 6.12.115 has */
	ck_assert(!d.pagewalk_stale_action_fix);
	/* 7.0 -> upstream: aedf2efd1897 (v7.2) and c0c6ccd9828c (v7.1) */
	ck_assert(e.pagewalk_stale_action_fix);
	ck_assert(!d.special_bit_per_level && e.special_bit_per_level);
	/* Never merged: off everywhere */
	for (int i = 0; i < NR_NAMES; i++) {
		struct pinsim_config x = kcfg(names[i]);

		ck_assert(!x.vfio_pci_mmap_align);
		ck_assert(!x.follow_pfnmap_enoent);
	}
}
END_TEST

START_TEST(test_describe_names_every_switch_with_its_value)
{
	struct pinsim_config c = kcfg("6.12.118");
	char buf[4096], small[16];
	size_t n = pinsim_kernel_describe(&c, buf, sizeof(buf));

	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_ptr_nonnull(strstr(buf, "pagewalk_fixed "));
	ck_assert_ptr_nonnull(strstr(buf, "vfio_type1_nesting "));
	ck_assert_ptr_nonnull(strstr(buf, "3b89863c3fa4"));
	/* The value column: "name<spaces>1" for nesting in 6.12. */
	{
		const char *l = strstr(buf, "vfio_type1_nesting");
		const char *v = l + strlen("vfio_type1_nesting");

		while (*v == ' ')
			v++;
		ck_assert_int_eq(*v, '1');
	}
	/* Truncation: the full length is still returned, the buffer is terminated. */
	ck_assert_uint_eq(pinsim_kernel_describe(&c, small, sizeof(small)), n);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_uint_eq(pinsim_kernel_describe(&c, NULL, 0), n);
}
END_TEST

/* A machine boots under every profile and reports the walker it runs. */
START_TEST(test_every_profile_creates_a_machine)
{
	struct pinsim_config c = kcfg(names[_i]);
	struct pinsim *m = NULL;

	c.ram_bytes = 1ULL << 30;
	ck_assert_int_eq(pinsim_create(&c, &m), 0);
	pinsim_destroy(m);
}
END_TEST

/* ---------------- behaviour through the public API ---------------- */

/* What each named kernel's source says, per case (index = names[]). */
static const struct {
	int wrap_errno;		/* MAP of a range that wraps past 2^64 */
	int nesting_ext;	/* CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) */
	int nesting_set;	/* SET_IOMMU(VFIO_TYPE1_NESTING_IOMMU) with a group */
	bool per_page_pfnmap;	/* one vaddr_get_pfns() per 4K of a BAR */
	bool file_thp_place;	/* device-fd mmap 2M-relative to the offset */
} want[] = {
	/* 6.12.x: vfio_dma_do_map() "iova + size - 1 < iova" -> -EINVAL;
	 * vfio_iommu_type1_check_extension() lists NESTING; attach calls
	 * iommu_enable_nesting(), -EINVAL on an x86 IOMMU; vaddr_get_pfns()
	 * returns 1 for a pfnmap; __get_unmapped_area() sends files through
	 * thp_get_unmapped_area_vmflags(). */
	{ -EINVAL, 1, -EINVAL, true, true },
	{ -EINVAL, 1, -EINVAL, true, true },
	{ -EINVAL, 1, -EINVAL, true, true },
	/* 7.0 and upstream: 6012379ede6a (-EOVERFLOW), 35890f85573c (NESTING
	 * reserved: no driver claims it, vfio_ioctl_set_iommu() -ENODEV),
	 * 0fd06844de5d (one call per leaf), 34d7cf637c43 (anonymous only). */
	{ -EOVERFLOW, 0, -ENODEV, false, false },
	{ -EOVERFLOW, 0, -ENODEV, false, false },
};

static void kernel_setup(int i)
{
	vh_defaults(&vh_cfg);
	ck_assert_int_eq(pinsim_config_set_kernel(&vh_cfg, names[i]), 0);
	vh_setup_with(&vh_cfg);
}

START_TEST(test_map_wrapping_past_2_64_einval_612_eoverflow_from_6012379ede6a)
{
	uint64_t va;
	struct vh_state st;
	int c;

	kernel_setup(_i);
	c = vh_container(VFIO_TYPE1v2_IOMMU);
	va = vh_mmap(4 * PG, RW, ANON);
	st = vh_snap(c);
	ck_assert_int_eq(vh_map(c, va, ~0ULL - PG + 1, 2 * PG), want[_i].wrap_errno);
	vh_assert_map_left_nothing(c, &st, va, ~0ULL - PG + 1, PG);
	vh_assert_clean();
	vh_teardown();
}
END_TEST

START_TEST(test_nesting_iommu_live_in_612_reserved_from_35890f85573c)
{
	int c;

	kernel_setup(_i);
	c = vh_open_container();
	vh_group_set_container(&dev0, c);
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_CHECK_EXTENSION,
				      (void *)(unsigned long)VFIO_TYPE1_NESTING_IOMMU),
			 want[_i].nesting_ext);
	ck_assert_int_eq(vh_rc(pinsim_ioctl(proc, c, VFIO_SET_IOMMU,
					    (void *)(unsigned long)VFIO_TYPE1_NESTING_IOMMU)),
			 want[_i].nesting_set);
	/* The failed SET_IOMMU left the container usable. */
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), 0);
	vh_get_device(&dev0);
	vh_teardown();
}
END_TEST

/* A 2 MiB BAR mapped 2M-aligned (as QEMU maps it): one PMD leaf. */
static uint64_t bar2_mapped_aligned(void)
{
	uint64_t resv = vh_mmap(4 * MiB, PROT_NONE, ANON);
	uint64_t va = (resv + 2 * MiB - 1) & ~(2 * MiB - 1);

	return vh_bar_mmap(&dev0, VFIO_PCI_BAR2_REGION_INDEX, va, 2 * MiB, RW, 0);
}

START_TEST(test_bar_map_per_page_in_612_per_leaf_from_0fd06844de5d)
{
	struct pinsim_vfio_stats vs;
	uint64_t va;
	int c;

	kernel_setup(_i);
	c = vh_container(VFIO_TYPE1v2_IOMMU);
	va = bar2_mapped_aligned();
	vh_touch(va, PG, PG);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_PMD);
	vh_map_ok(c, va, 1ULL << 40, 2 * MiB);
	ck_assert_int_eq(pinsim_vfio_stats(proc, c, &vs), 0);
	ck_assert_uint_eq(vs.last.vaddr_get_pfns, want[_i].per_page_pfnmap ? 512 : 1);
	ck_assert_uint_eq(vs.last.pfnmap_pages, 512);
	ck_assert_uint_eq(vs.last.pinned_pages, 0);
	vh_teardown();
}
END_TEST

START_TEST(test_bar_mmap_placement_2m_relative_in_612_page_from_34d7cf637c43)
{
	uint64_t va;

	kernel_setup(_i);
	vh_container(VFIO_TYPE1v2_IOMMU);
	/* Put the top of the free gap off every 2M boundary, as ASLR does. */
	vh_mmap(PG, PROT_READ, ANON);
	va = vh_bar_mmap(&dev0, VFIO_PCI_BAR2_REGION_INDEX, 0, 2 * MiB, RW, 0);
	ck_assert_msg(!(va & (2 * MiB - 1)) == want[_i].file_thp_place, "%s: va %#llx",
		      names[_i], (unsigned long long)va);
	vh_touch(va, PG, PG);
	ck_assert_int_eq(vh_page(va).level,
			 want[_i].file_thp_place ? PINSIM_LEVEL_PMD : PINSIM_LEVEL_PTE);
	vh_teardown();
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("profiles");
	TCase *tc = tcase_create("profiles");

	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_profile_table_lists_the_five_names_in_order);
	tcase_add_test(tc, test_default_config_is_the_upstream_profile);
	tcase_add_test(tc, test_unknown_name_is_einval_and_changes_nothing);
	tcase_add_test(tc, test_revert_and_apply_a_commit_on_a_profile);
	tcase_add_test(tc, test_eagain_proposal_sets_the_policy_only);
	tcase_add_test(tc, test_bad_commit_modifiers_are_einval_and_change_nothing);
	tcase_add_test(tc, test_impl_tree_needs_a_built_tree);
	tcase_add_test(tc, test_impl_tree_refuses_every_retry_policy_but_its_sources);
	tcase_add_loop_test(tc, test_set_kernel_leaves_sizing_arch_and_policy_alone, 0, NR_NAMES);
	tcase_add_test(tc, test_612_stable_boundaries_follow_the_changelog);
	tcase_add_test(tc, test_neighbouring_profiles_differ_by_their_commits);
	tcase_add_test(tc, test_describe_names_every_switch_with_its_value);
	tcase_add_loop_test(tc, test_every_profile_creates_a_machine, 0, NR_NAMES);

	tc = tcase_create("behaviour");
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tc, test_map_wrapping_past_2_64_einval_612_eoverflow_from_6012379ede6a,
			    0, NR_NAMES);
	tcase_add_loop_test(tc, test_nesting_iommu_live_in_612_reserved_from_35890f85573c, 0,
			    NR_NAMES);
	tcase_add_loop_test(tc, test_bar_map_per_page_in_612_per_leaf_from_0fd06844de5d, 0,
			    NR_NAMES);
	tcase_add_loop_test(tc, test_bar_mmap_placement_2m_relative_in_612_page_from_34d7cf637c43,
			    0, NR_NAMES);
	return s;
}
