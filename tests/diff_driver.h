/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The differential driver: random operation sequences run against pinsim
 * (through include/pinsim/pinsim.h only) and against the reference model
 * (tests/ref_model.h), compared after every step.  Shared by the
 * 'differential' test suite and bench/bench_differential.c.
 */
#ifndef TESTS_DIFF_DRIVER_H
#define TESTS_DIFF_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ref_model.h"

struct diff_opts {
	const char *kernel;		/* "6.12.118" or "upstream": model and pinsim */
	const char *sim_kernel;		/* NULL, or another profile for pinsim only */
	uint64_t seed;
	unsigned long nops;		/* operations of the run */
	unsigned int history;		/* operations printed before a divergence */
	unsigned int skip;		/* DIFF_OP_* bits: operation kinds left out of the mix */
	/*
	 * pinsim runs the kernel tree's own code (PINSIM_IMPL_TREE: its
	 * walker, follow_pfnmap_start() and VFIO type1; -Dkernel_tree builds)
	 * instead of its rewrite.  The model is the same: a run that agrees
	 * with it under both agrees step by step with itself across them.
	 */
	bool tree;
};

/* Operation kinds that can be left out of the mix (to chase one divergence at a time). */
enum {
	DIFF_OP_MMAP_BAR = 1 << 0,
	DIFF_OP_MMAP_HUGE = 1 << 1,
	DIFF_OP_MMAP_FIXED = 1 << 2,
	DIFF_OP_MUNMAP = 1 << 3,
	DIFF_OP_CLOSE = 1 << 4,
	DIFF_OP_UNSET = 1 << 5,
	DIFF_OP_NAMES = 1 << 6,		/* GET_DEVICE_FD names other than the exact one */
	DIFF_OP_RLIMIT = 1 << 7,
	DIFF_OP_HUGE_ANYWHERE = 1 << 8,	/* hugetlb only MAP_FIXED in an area anon never enters */
	DIFF_OP_BAR_CLOSE = 1 << 9,	/* no close of a device fd whose BAR is mmap()ed */
};

/*
 * "bar,huge,fixed,munmap,close,unset,names,rlimit,hugeaddr,barclose" -> DIFF_OP_* bits
 * (other words are ignored).
 */
unsigned int diff_parse_skip(const char *list);

struct diff_stats {
	unsigned long ops;		/* operations run (compared) */
	unsigned long checks;		/* individual comparisons */
	unsigned long maps_ok, maps_failed, unmaps_ok, unmaps_failed;
	unsigned long iova_probes, pagemap_probes;
	unsigned long max_dmas;		/* most live mappings at one time */
	/* why MAP_DMA failed: EINVAL, EFAULT, ENOMEM, EEXIST, ENOSPC, ENOENT, EBADF/ENOTTY, other */
	unsigned long map_errs[8];
	unsigned long cov[RM_COV_NR];	/* model branches taken (enum rm_cov) */
};

/*
 * One run.  Returns 0 if pinsim and the model agreed on every step, 1 on
 * the first divergence (described in @report: seed, step, operation,
 * expected vs got, the history tail), -1 if the machine could not be set up.
 */
int diff_run(const struct diff_opts *o, struct diff_stats *st, char *report, size_t len);

/* The seeds `meson test` runs: PINSIM_SEED=N selects one instead. */
extern const uint64_t diff_default_seeds[];
extern const size_t diff_default_nseeds;

/*
 * What a test run takes from the environment: the seeds (PINSIM_SEED=N, or
 * the default ones, at most @max) into @seeds, returning how many, and the
 * operations per run into @nops (PINSIM_DIFF_OPS=N; 800 under valgrind,
 * PINSIM_VALGRIND; else left as the caller set it).
 */
size_t diff_seeds_from_env(uint64_t *seeds, size_t max, unsigned long *nops);

#endif /* TESTS_DIFF_DRIVER_H */
