// SPDX-License-Identifier: GPL-2.0-only
/*
 * Named kernel profiles (lib/kernel_profiles.c): what each name sets, the
 * 6.12 stable boundaries from the Debian changelog, bad names, and the
 * behaviour that tells each profile from its neighbours through the public
 * API.  Each case cites the commit whose presence it pins.
 */
#include <linux/vfio.h>
#include <sys/mman.h>

#include "harness.h"
#include "pinsim/pinsim.h"

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

Suite *make_suite(void)
{
	Suite *s = suite_create("profiles");
	TCase *tc = tcase_create("profiles");

	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_profile_table_lists_the_five_names_in_order);
	tcase_add_test(tc, test_default_config_is_the_upstream_profile);
	tcase_add_test(tc, test_unknown_name_is_einval_and_changes_nothing);
	tcase_add_loop_test(tc, test_set_kernel_leaves_sizing_arch_and_policy_alone, 0, NR_NAMES);
	tcase_add_test(tc, test_612_stable_boundaries_follow_the_changelog);
	tcase_add_test(tc, test_neighbouring_profiles_differ_by_their_commits);
	tcase_add_test(tc, test_describe_names_every_switch_with_its_value);
	tcase_add_loop_test(tc, test_every_profile_creates_a_machine, 0, NR_NAMES);
	return s;
}
