// SPDX-License-Identifier: GPL-2.0-only
/*
 * The differential test of tests/diff_driver.c with the kernel tree's own
 * VFIO type1 (drivers/vfio/vfio_iommu_type1.c of -Dkernel_tree, with its
 * walker and follow_pfnmap_start()) next to pinsim's rewrite: the same
 * random sequences of container/group/device operations, MAP_DMA,
 * UNMAP_DMA (VADDR, ALL, GET_DIRTY_BITMAP), DIRTY_PAGES, GET_INFO, mmap,
 * munmap and RLIMIT_MEMLOCK changes, run once by each, every result and
 * the observable state after every step compared with the reference model
 * (tests/ref_model.c, written from the 6.12 source): a step where either
 * implementation leaves the model is a divergence, printed with its seed,
 * step and history.  Both agreeing with the model at every step is the
 * two agreeing with each other at every step; what each run did (maps
 * made and refused by errno, unmaps, checks) must also be equal.
 *
 * The model is 6.12's: the run uses the tree's profile (KTREE_PROFILE).
 * PINSIM_SEED=N runs one seed, PINSIM_DIFF_OPS=N sets the length.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../diff_driver.h"
#include "../harness.h"

#define DEFAULT_OPS 6000

static uint64_t seeds[16];
static size_t nseeds;
static unsigned long nops = DEFAULT_OPS;

static void run_one(uint64_t seed, bool tree, struct diff_stats *st)
{
	struct diff_opts o = { .kernel = KTREE_PROFILE, .seed = seed, .nops = nops,
			       .history = 24, .tree = tree };
	static char report[16384];
	int ret = diff_run(&o, st, report, sizeof(report));

	if (ret)
		fprintf(stderr, "%s\n", report);
	ck_assert_msg(ret == 0, "seed=%" PRIu64 " %s:\n%s", seed, tree ? "tree" : "rewrite",
		      report);
	ck_assert_uint_eq(st->ops, nops);
}

START_TEST(test_tree_and_rewrite_type1_match_the_model_step_by_step)
{
	struct diff_stats rw, tr;
	uint64_t seed = seeds[_i];

	printf("# differential kernel=%s seed=%" PRIu64 " ops=%lu: rewrite, then tree\n",
	       KTREE_PROFILE, seed, nops);
	run_one(seed, false, &rw);
	run_one(seed, true, &tr);
	/* The runs did real work... */
	ck_assert_uint_gt(tr.maps_ok, 0);
	ck_assert_uint_gt(tr.maps_failed, 0);
	ck_assert_uint_gt(tr.unmaps_ok, 0);
	/* ...and the same work, step for step. */
	ck_assert_uint_eq(tr.checks, rw.checks);
	ck_assert_uint_eq(tr.maps_ok, rw.maps_ok);
	ck_assert_uint_eq(tr.maps_failed, rw.maps_failed);
	ck_assert_uint_eq(tr.unmaps_ok, rw.unmaps_ok);
	ck_assert_uint_eq(tr.unmaps_failed, rw.unmaps_failed);
	ck_assert_uint_eq(tr.max_dmas, rw.max_dmas);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(tr.map_errs[i], rw.map_errs[i]);
	printf("# seed=%" PRIu64 " tree = rewrite = model: %lu checks each, %lu maps (%lu refused: "
	       "EINVAL %lu EFAULT %lu ENOMEM %lu EEXIST %lu ENOSPC %lu ENOENT %lu "
	       "EBADF/ENOTTY %lu other %lu), %lu unmaps (%lu refused), max %lu dmas\n",
	       seed, tr.checks, tr.maps_ok + tr.maps_failed, tr.maps_failed, tr.map_errs[0],
	       tr.map_errs[1], tr.map_errs[2], tr.map_errs[3], tr.map_errs[4], tr.map_errs[5],
	       tr.map_errs[6], tr.map_errs[7], tr.unmaps_ok + tr.unmaps_failed, tr.unmaps_failed,
	       tr.max_dmas);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("ktree_type1_diff");
	TCase *tc = tcase_create("differential");

	nseeds = diff_seeds_from_env(seeds, sizeof(seeds) / sizeof(seeds[0]), &nops);
	tcase_set_timeout(tc, 240);
	tcase_add_loop_test(tc, test_tree_and_rewrite_type1_match_the_model_step_by_step, 0,
			    (int)nseeds);
	suite_add_tcase(s, tc);
	return s;
}
