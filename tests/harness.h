/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared test scaffolding: a Check runner that prints TAP (so `meson test`
 * counts every case) and a small simulated machine per test.
 *
 * Each test file defines `Suite *make_suite(void)` and includes this header
 * once with HARNESS_MAIN defined.  Check runs every case in a forked child
 * (CK_FORK=yes by default), so a crash or hang is one failed case, and
 * tcase timeouts name the case that hung.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "mm.h"
#include "task.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)
#define KiB (1ULL << 10)

Suite *make_suite(void);

/*
 * The per-test machine: 8 GiB RAM, 16 x 2M and 4 x 1G hugetlb pages, every
 * arch switch on, the fixed walker.  Tests that need something else edit
 * `tm_cfg` in their own setup before calling tm_setup_with().
 */
static struct machine_config tm_cfg;
static struct machine *tm;

static inline void tm_setup_with(const struct machine_config *cfg)
{
	int err = machine_create(cfg, &tm);

	ck_assert_int_eq(err, 0);
}

static inline void tm_defaults(struct machine_config *cfg)
{
	machine_config_init(cfg);
	cfg->ram_bytes = 8 * GiB;
	cfg->hugetlb_2m_pages = 16;
	cfg->hugetlb_1g_pages = 4;
}

static inline void tm_setup(void)
{
	tm_defaults(&tm_cfg);
	tm_setup_with(&tm_cfg);
}

static inline void tm_teardown(void)
{
	if (tm)
		machine_destroy(tm);
	tm = NULL;
}

/* A process whose leader task is current on this thread. */
static inline struct mm_struct *tm_mm(const char *comm)
{
	struct mm_struct *mm = mm_alloc(comm);

	ck_assert_ptr_nonnull(mm);
	set_current(mm->owner);
	return mm;
}

/* Add a tcase with the standard fixture. */
static inline TCase *tm_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, tm_setup, tm_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

#ifdef HARNESS_MAIN
int main(void)
{
	SRunner *sr = srunner_create(make_suite());

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	/* TAP mode: the `not ok` lines report failures; exit 0 (toolchain.md). */
	srunner_free(sr);
	return 0;
}
#endif

#endif /* TESTS_HARNESS_H */
