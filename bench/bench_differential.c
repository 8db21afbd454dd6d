// SPDX-License-Identifier: GPL-2.0-only
/*
 * The differential test at length: many seeds, many operations per seed,
 * both kernels (6.12.118 and upstream), pinsim against tests/ref_model.c.
 * Prints operations per second (model + pinsim + the state comparison
 * after every step) and every divergence (seed, step, operation, expected
 * vs got), and carries on with the next seed.  Exit status 1 if any seed
 * diverged.
 *
 *   bench_differential [--seeds N] [--first S] [--ops N] [--kernel K] [--skip LIST] [--quiet]
 *
 * --skip bar,huge,...: leave operation kinds out (see diff_parse_skip()).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diff_driver.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char *const all[] = { "6.12.118", "upstream" };
	const char *only = NULL;
	unsigned long nseeds = 40, ops = 20000, divergences = 0, total_ops = 0, checks = 0;
	unsigned long cov[2][RM_COV_NR] = { { 0 } };
	uint64_t first = 1000;
	bool quiet = false;
	unsigned int skip = 0;
	static char report[32768];
	double t0, elapsed;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
			nseeds = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--first") && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			ops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--kernel") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--skip") && i + 1 < argc)
			skip = diff_parse_skip(argv[++i]);
		else if (!strcmp(argv[i], "--quiet"))
			quiet = true;
		else {
			fprintf(stderr,
				"usage: %s [--seeds N] [--first S] [--ops N] [--kernel K] [--skip LIST] [--quiet]\n",
				argv[0]);
			return 2;
		}
	}
	t0 = now();
	for (size_t k = 0; k < 2; k++) {
		const char *kernel = all[k];
		unsigned long kdiv = 0, kops = 0;
		double k0 = now();

		if (only && strcmp(only, kernel))
			continue;
		for (unsigned long s = 0; s < nseeds; s++) {
			struct diff_opts o = { .kernel = kernel, .seed = first + s, .nops = ops,
					       .history = 32, .skip = skip };
			struct diff_stats st;
			int ret = diff_run(&o, &st, report, sizeof(report));

			kops += st.ops;
			checks += st.checks;
			for (int c = 0; c < RM_COV_NR; c++)
				cov[k][c] += st.cov[c];
			if (ret) {
				kdiv++;
				printf("%s\n", report);
			} else if (!quiet) {
				printf("kernel=%s seed=%" PRIu64 ": %lu ops clean (%lu checks, max %lu dmas)\n",
				       kernel, o.seed, st.ops, st.checks, st.max_dmas);
			}
			fflush(stdout);
		}
		elapsed = now() - k0;
		printf("kernel=%s: %lu seeds, %lu ops in %.1f s = %.0f ops/s, %lu divergence(s)\n",
		       kernel, nseeds, kops, elapsed, elapsed > 0 ? (double)kops / elapsed : 0.0, kdiv);
		divergences += kdiv;
		total_ops += kops;
	}
	printf("model branches taken (6.12.118 / upstream):\n");
	for (int c = 0; c < RM_COV_NR; c++)
		printf("  %-46s %8lu %8lu%s\n", rm_cov_name(c), cov[0][c], cov[1][c],
		       cov[0][c] + cov[1][c] ? "" : "   <- never");
	elapsed = now() - t0;
	printf("differential: %lu ops, %lu checks in %.1f s = %.0f ops/s; %lu divergence(s)\n",
	       total_ops, checks, elapsed, elapsed > 0 ? (double)total_ops / elapsed : 0.0,
	       divergences);
	return divergences ? 1 : 0;
}
