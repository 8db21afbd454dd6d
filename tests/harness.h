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

#include "checker.h"
#include "inject.h"
#include "lockdep.h"
#include "machine.h"
#include "mm.h"
#include "page.h"
#include "pgtable.h"
#include "pinsim_internal.h"
#include "sched_point.h"
#include "scheduler.h"
#include "task.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)
#define KiB (1ULL << 10)

Suite *make_suite(void);

/*
 * No leak, in every suite (issue 13): when a test destroys a machine, its
 * processes exit first, and then the frames in use (pages_allocated, page
 * tables included) must be what they were right after the machine was
 * created; and by the end of every test (a fixture that every tcase gets
 * at tcase_create(), so its teardown runs after the test's own) no machine
 * it created is left.  The creators and destroyers the tests call are
 * wrapped here (the library's own calls are not), so no test file needs to
 * say anything: machine_create()/machine_destroy() for the sim-level
 * suites, pinsim_create()/pinsim_destroy() for the API-level ones.
 *
 * Frames that are no process's do not count: the kernel's own page tables
 * (init_mm's, e.g. a vmalloc test's) and folios and tables a sim-level
 * test took itself with folio_alloc() or pgtable_alloc() (wrapped too),
 * which go with the machine.  A
 * test that took some can only be held to "no more than that many more":
 * it may have given them back.
 */
static unsigned long harness_base_pages;	/* after the machine was created */
static unsigned long harness_direct_pages;	/* the test's own allocations */

/* Frames in use that no process can own: init_mm's page tables. */
static inline unsigned long harness_frames(void)
{
	unsigned long n = nr_allocated_pages();

	if (machine && machine->init_mm)
		n -= atomic_load(&machine->init_mm->nr_ptes);
	return n;
}

static inline void harness_created(void)
{
	harness_base_pages = harness_frames();
	harness_direct_pages = 0;
}

static inline void harness_assert_no_leak(const char *how)
{
	unsigned long now = harness_frames();

	/*
	 * A world whose run the search cut short (sim/scheduler.h
	 * sched_run_cut_short()) ended its threads mid-way, pins and
	 * allocations in flight: not a state to count.
	 */
	if (sched_run_cut_short())
		return;

	if (!harness_direct_pages)
		ck_assert_msg(now == harness_base_pages,
			      "leak: %lu frames in use after every process exited (%s), %lu at "
			      "creation", now, how, harness_base_pages);
	else
		ck_assert_msg(now <= harness_base_pages + harness_direct_pages,
			      "leak: %lu frames in use after every process exited (%s), %lu at "
			      "creation + %lu the test allocated itself",
			      now, how, harness_base_pages, harness_direct_pages);
}

static inline struct folio *harness_folio_alloc(unsigned int order, enum page_type type)
{
	struct folio *f = (folio_alloc)(order, type);

	if (f)
		harness_direct_pages += 1UL << order;
	return f;
}

static inline struct page *harness_pgtable_alloc(void)
{
	struct page *pt = (pgtable_alloc)();

	if (pt)
		harness_direct_pages++;
	return pt;
}

static inline int harness_machine_create(const struct machine_config *cfg, struct machine **out)
{
	int err = (machine_create)(cfg, out);

	if (!err)
		harness_created();
	return err;
}

/*
 * machine_destroy() exits every process first (mm_teardown_all()), after
 * stopping what could still name one (injectors, armed schedule points,
 * the trace): the same steps, here, then the count, then the rest.
 */
static inline void harness_machine_destroy(struct machine *m)
{
	if (m && m == machine) {
		inject_reset();
		sched_point_disarm_all();
		sim_set_trace(NULL, NULL);
		m->shutting_down = true;
		mm_teardown_all();
		harness_assert_no_leak("machine_destroy");
	}
	(machine_destroy)(m);
}

static inline int harness_pinsim_create(const struct pinsim_config *cfg, struct pinsim **out)
{
	int ret = (pinsim_create)(cfg, out);

	if (!ret)
		harness_created();
	return ret;
}

/* pinsim_destroy() starts with the same loop. */
static inline void harness_pinsim_destroy(struct pinsim *m)
{
	if (m) {
		while (m->procs)
			pinsim_proc_destroy(m->procs);
		harness_assert_no_leak("pinsim_destroy");
	}
	(pinsim_destroy)(m);
}

#define folio_alloc(order, type) harness_folio_alloc(order, type)
#define pgtable_alloc() harness_pgtable_alloc()
#define machine_create(cfg, out) harness_machine_create(cfg, out)
#define machine_destroy(m) harness_machine_destroy(m)
#define pinsim_create(cfg, out) harness_pinsim_create(cfg, out)
#define pinsim_destroy(m) harness_pinsim_destroy(m)

/*
 * No unexpected checker report, in every suite (issue 15): the checkers
 * (sim/checker.h: dma-unpinned, dma-coherency, walk-repeat,
 * numa-maps-count, pin-leak, locked-vm; sim/lockdep.h: lock-order,
 * sleep-in-atomic, bad-unlock, lock-depth) run in every controlled run, and
 * everywhere with PINSIM_CHECKERS=1 PINSIM_LOCKDEP=always (CI's sanitizer
 * step).  Each report a test draws, its machine's teardown included (the
 * pin-leak scan), must be one it declared: per kind, the count drawn must
 * be the count declared, 0 unless said otherwise.  A test that provokes
 * one on purpose says so where it does:
 *
 *   harness_expect_checker(CHECK_DMA_UNPINNED, 1);  unless the checkers are OFF
 *   harness_expect_lockdep(LOCKDEP_CYCLE, 1);        unless lockdep is OFF
 *   harness_expect_checker_if_always(kind, n);       outside controlled runs:
 *   harness_expect_lockdep_if_always(kind, n);       a report only in ALWAYS mode
 *
 * The _if_always forms read the mode when called, so a test passes in both
 * modes and still asserts the report when the checker is on there.  The
 * counts are the test's: before it the fixture forgets the checkers'
 * reports and lockdep's, with the lock order lockdep recorded, as a forked
 * test (CK_FORK=yes, the default) starts with none; after it, it puts back
 * the modes the test changed.  So with CK_FORK=no too no order, report or
 * mode leaks into the next test.  A mismatch fails the test with every
 * report of the kinds that did not match, each with its schedule
 * (PINSIM_SCHEDULE=... replays it).
 */
#define HARNESS_LOCKDEP_KINDS (LOCKDEP_DEPTH + 1)

static unsigned long harness_ck_want[NR_CHECKERS];
static unsigned int harness_ld_want[HARNESS_LOCKDEP_KINDS];
static unsigned int harness_ld_base;
static int harness_ck_mode, harness_ld_mode;

static inline void harness_expect_checker(enum checker_kind kind, unsigned long n)
{
	ck_assert_uint_lt(kind, NR_CHECKERS);
	if (atomic_load(&checker_mode) != CHECKER_OFF)
		harness_ck_want[kind] += n;
}

static inline void harness_expect_checker_if_always(enum checker_kind kind, unsigned long n)
{
	if (atomic_load(&checker_mode) == CHECKER_ALWAYS)
		harness_expect_checker(kind, n);
}

static inline void harness_expect_lockdep(enum lockdep_report_kind kind, unsigned int n)
{
	ck_assert_uint_lt(kind, HARNESS_LOCKDEP_KINDS);
	if (atomic_load(&lockdep_mode) != LOCKDEP_OFF)
		harness_ld_want[kind] += n;
}

static inline void harness_expect_lockdep_if_always(enum lockdep_report_kind kind, unsigned int n)
{
	if (atomic_load(&lockdep_mode) == LOCKDEP_ALWAYS)
		harness_expect_lockdep(kind, n);
}

static inline void harness_checker_setup(void)
{
	memset(harness_ck_want, 0, sizeof(harness_ck_want));
	memset(harness_ld_want, 0, sizeof(harness_ld_want));
	harness_ck_mode = atomic_load(&checker_mode);
	harness_ld_mode = atomic_load(&lockdep_mode);
	checker_reset();
	lockdep_reset();
	harness_ld_base = lockdep_nr_reports();
}

/* The first unexpected report, for the failure message (cut to @len). */
static inline void harness_note_first(char *first, size_t len, const char *kind, const char *text,
				      const char *sched)
{
	int n;

	if (first[0])
		return;
	n = snprintf(first, len, "%s: %s%s%s", kind, text, sched[0] ? " [schedule " : "",
		     sched[0] ? sched : "");
	if (n >= (int)len && len > 4)
		memcpy(first + len - 4, "...", 4);
	/* One line: the message ends up on TAP's "not ok" line. */
	for (char *c = first; *c; c++)
		if (*c == '\n')
			*c = '|';
}

/* Print the kept reports of @kind (the checkers keep the first CHECKER_KEEP). */
static inline void harness_print_checker_reports(enum checker_kind kind, char *first, size_t len)
{
	char text[CHECKER_REPORT_LEN], sched[1024];
	enum checker_kind k;

	for (unsigned int i = 0; checker_report_get(i, &k, text, sizeof(text), sched, sizeof(sched));
	     i++) {
		if (k != kind)
			continue;
		fprintf(stderr, "# unexpected checker report: %s: %s%s%s\n", checker_name(k), text,
			sched[0] ? " [schedule " : "", sched[0] ? sched : "");
		harness_note_first(first, len, checker_name(k), text, sched);
	}
}

static inline void harness_print_lockdep_reports(unsigned int from, unsigned int to,
						 const bool *bad, char *first, size_t len)
{
	char text[1024], sched[1024];
	enum lockdep_report_kind k;

	for (unsigned int i = from; i < to; i++) {
		if (!lockdep_report(i, &k, text, sizeof(text), sched, sizeof(sched)) || !bad[k])
			continue;
		fprintf(stderr, "# unexpected lockdep report: %s: %s%s%s\n", lockdep_kind_name(k),
			text, sched[0] ? " [schedule " : "", sched[0] ? sched : "");
		harness_note_first(first, len, lockdep_kind_name(k), text, sched);
	}
}

static inline void harness_checker_teardown(void)
{
	unsigned int ld_n = lockdep_nr_reports(), ld_got[HARNESS_LOCKDEP_KINDS] = { 0 };
	bool ld_bad[HARNESS_LOCKDEP_KINDS] = { false };
	char summary[256] = "", first[1536] = "";
	unsigned int from = harness_ld_base, kept;
	enum lockdep_report_kind k;
	size_t off = 0;

	atomic_store(&checker_mode, harness_ck_mode);
	lockdep_set_mode(harness_ld_mode);
	if (ld_n < from)	/* the test ran lockdep_reset() */
		from = 0;
	kept = ld_n < LOCKDEP_MAX_REPORTS ? ld_n : LOCKDEP_MAX_REPORTS;
	ck_assert_msg(ld_n - from <= kept - (from < kept ? from : kept),
		      "%u lockdep reports, past the %u it keeps: kinds unknown", ld_n - from,
		      LOCKDEP_MAX_REPORTS);
	for (unsigned int i = from; i < kept; i++)
		if (lockdep_report(i, &k, NULL, 0, NULL, 0))
			ld_got[k]++;
	for (int c = 0; c < NR_CHECKERS; c++) {
		unsigned long got = checker_count(c);

		if (got == harness_ck_want[c])
			continue;
		off += (size_t)snprintf(summary + off, off < sizeof(summary) ? sizeof(summary) - off : 0,
					"%s%s: %lu, %lu expected", off ? "; " : "",
					checker_name(c), got, harness_ck_want[c]);
		harness_print_checker_reports(c, first, sizeof(first));
	}
	for (int c = 0; c < HARNESS_LOCKDEP_KINDS; c++) {
		if (ld_got[c] == harness_ld_want[c])
			continue;
		ld_bad[c] = true;
		off += (size_t)snprintf(summary + off, off < sizeof(summary) ? sizeof(summary) - off : 0,
					"%slockdep %s: %u, %u expected", off ? "; " : "",
					lockdep_kind_name(c), ld_got[c], harness_ld_want[c]);
	}
	harness_print_lockdep_reports(from, kept, ld_bad, first, sizeof(first));
	ck_assert_msg(!summary[0], "checker reports: %s; first: %s", summary,
		      first[0] ? first : "(not kept)");
}

static inline void harness_leak_teardown(void)
{
	ck_assert_msg(!machine, "the test left its machine alive");
	harness_checker_teardown();
}

static inline TCase *harness_tcase_create(const char *name)
{
	TCase *tc = (tcase_create)(name);

	tcase_add_checked_fixture(tc, harness_checker_setup, harness_leak_teardown);
	return tc;
}

#define tcase_create(name) harness_tcase_create(name)

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
