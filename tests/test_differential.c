// SPDX-License-Identifier: GPL-2.0-only
/*
 * Differential test of pinsim's VFIO stack against the reference model of
 * tests/ref_model.c (written from drivers/vfio/ of 6.12.118 and upstream):
 * random operation sequences, one TAP case per seed and kernel, compared
 * after every step (see tests/diff_driver.c for what is compared).
 *
 * PINSIM_SEED=N runs that one seed; PINSIM_DIFF_OPS=N sets the operations
 * per seed (default 6000); PINSIM_DIFF_SKIP=bar,huge,... leaves operation
 * kinds out of the mix while one divergence is chased (see
 * diff_parse_skip()); PINSIM_DIFF_TRACE=1 prints every operation.  A
 * divergence prints the seed, the step, the operation, expected vs got and
 * the history tail; PINSIM_SEED=<seed> replays it.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff_driver.h"
#include "harness.h"	/* TAP main, and no unexpected checker report per case */

#define DEFAULT_OPS 6000

static uint64_t seeds[16];
static size_t nseeds;
static unsigned long nops = DEFAULT_OPS;
static unsigned int skip_ops;

static void load_seeds(void)
{
	skip_ops = diff_parse_skip(getenv("PINSIM_DIFF_SKIP"));
	nseeds = diff_seeds_from_env(seeds, sizeof(seeds) / sizeof(seeds[0]), &nops);
}

static void run_seed(const char *kernel, uint64_t seed)
{
	struct diff_opts o = { .kernel = kernel, .seed = seed, .nops = nops, .history = 24,
			       .skip = skip_ops };
	struct diff_stats st;
	static char report[16384];
	int ret;

	printf("# differential kernel=%s seed=%" PRIu64 " ops=%lu\n", kernel, seed, nops);
	ret = diff_run(&o, &st, report, sizeof(report));
	if (ret)
		fprintf(stderr, "%s\n", report);
	ck_assert_msg(ret == 0, "seed=%" PRIu64 " kernel=%s:\n%s", seed, kernel, report);
	/* the run did real work: mappings made, refused, removed */
	ck_assert_uint_eq(st.ops, nops);
	ck_assert_uint_gt(st.maps_ok, 0);
	ck_assert_uint_gt(st.maps_failed, 0);
	ck_assert_uint_gt(st.unmaps_ok, 0);
	printf("# seed=%" PRIu64 " ok: %lu checks, %lu maps (%lu refused: EINVAL %lu EFAULT %lu "
	       "ENOMEM %lu EEXIST %lu ENOSPC %lu ENOENT %lu EBADF/ENOTTY %lu other %lu), "
	       "%lu unmaps (%lu refused), max %lu dmas\n",
	       seed, st.checks, st.maps_ok + st.maps_failed, st.maps_failed, st.map_errs[0],
	       st.map_errs[1], st.map_errs[2], st.map_errs[3], st.map_errs[4], st.map_errs[5],
	       st.map_errs[6], st.map_errs[7], st.unmaps_ok + st.unmaps_failed, st.unmaps_failed,
	       st.max_dmas);
}

START_TEST(test_random_ops_match_the_6_12_118_model)
{
	run_seed("6.12.118", seeds[_i]);
}
END_TEST

START_TEST(test_random_ops_match_the_upstream_model)
{
	run_seed("upstream", seeds[_i]);
}
END_TEST

/*
 * The comparison has teeth: the 6.12.118 model against pinsim running the
 * upstream profile must disagree (wrap-around is -EINVAL in one and
 * -EOVERFLOW in the other), and the report must name the seed and step.
 */
START_TEST(test_a_different_kernel_is_caught_with_its_seed)
{
	struct diff_opts o = { .kernel = "6.12.118", .sim_kernel = "upstream", .seed = 7,
			       .nops = 4000, .history = 8 };
	struct diff_stats st;
	static char report[16384];

	ck_assert_int_eq(diff_run(&o, &st, report, sizeof(report)), 1);
	ck_assert_ptr_nonnull(strstr(report, "seed=7"));
	ck_assert_ptr_nonnull(strstr(report, "step="));
	ck_assert_ptr_nonnull(strstr(report, "expected"));
	ck_assert_uint_lt(st.ops, 4000);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("differential");
	TCase *tc;

	load_seeds();
	tc = tcase_create("kernel_6_12_118");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_random_ops_match_the_6_12_118_model, 0, (int)nseeds);
	suite_add_tcase(s, tc);
	tc = tcase_create("upstream");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_random_ops_match_the_upstream_model, 0, (int)nseeds);
	suite_add_tcase(s, tc);
	tc = tcase_create("self_check");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_a_different_kernel_is_caught_with_its_seed);
	suite_add_tcase(s, tc);
	return s;
}
