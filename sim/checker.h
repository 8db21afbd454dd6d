/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Invariant checkers (issue 15): code that recognises a wrong state without
 * a hand-written expectation, as lockdep and KCSAN do in the kernel.  This
 * file holds what they share: the report log (a count per kind and the last
 * few reports' text, each ending with the schedule string that replays the
 * run when the deterministic scheduler controls it), and the switch.
 *
 * The checkers here:
 *  - CHECK_DMA_UNPINNED: an IOMMU translation reached a RAM frame that is
 *    not DMA-pinned (sim/iommu.c dma_target(); counted in dma_violations
 *    too, as before);
 *  - CHECK_DMA_COHERENCY: a DMA reached a pinned frame that an
 *    MADV_DONTNEED took away from the virtual address it was pinned for,
 *    which now maps another frame (or nothing): the device and the CPU no
 *    longer share the memory (sim/madvise.c records, sim/iommu.c checks);
 *  - CHECK_PIN_LEAK: a page still pinned when nothing may hold a pin any
 *    more: every process and container gone, at every machine's teardown
 *    (machine_destroy(): dma_check_pins_at_teardown(), in every mode but
 *    OFF, so at the end of every controlled run's machine) and, with
 *    CHECKER_ALWAYS, in pinsim_destroy() after the containers close.  It
 *    scans the memory map up to the last frame ever allocated;
 *  - CHECK_WALK_REPEAT: a page walk handed one address range to a callback
 *    twice although neither the callback nor the walker asked for
 *    ACTION_AGAIN there (sim/pagewalk.c);
 *  - CHECK_NUMA_MAPS_COUNT: a numa_maps line whose counts exceed the pages
 *    its VMA could map (sim/task_mmu.c show_numa_map(), after the walk,
 *    pinsim's or a kernel tree's: checker_numa_counts());
 *  - CHECK_LOCKED_VM: type1's locked_vm accounting out of step with its live
 *    mappings (lib/vfio_iommu_type1.c, at UNMAP_DMA and container release).
 * Those two and pin-leak run in every mode but OFF, like the DMA checks.
 *
 * On and off (enum checker_mode, set with pinsim_set_checkers() along with
 * lockdep's, sim/lockdep.h): by default the walker checker runs while the
 * scheduler controls a run (every controlled run); CHECKER_ALWAYS (or
 * PINSIM_CHECKERS=1 in the environment) runs it everywhere, CHECKER_OFF
 * never.  Off it is one predictable branch: it costs a wrapper per
 * callback when on.  The DMA checks run in every mode but OFF: they cost a
 * branch on a counter that only an MADV_DONTNEED of mapped memory makes
 * non-zero.
 *
 * A report carries the schedule string of the controlled run up to it
 * (sched_schedule_so_far()), which replays it (PINSIM_SCHEDULE=...).
 */
#ifndef SIM_CHECKER_H
#define SIM_CHECKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum checker_kind {
	CHECK_DMA_UNPINNED,
	CHECK_DMA_COHERENCY,
	CHECK_WALK_REPEAT,
	CHECK_NUMA_MAPS_COUNT,
	CHECK_PIN_LEAK,
	CHECK_LOCKED_VM,
	NR_CHECKERS,
};

#define CHECKER_REPORT_LEN 384
#define CHECKER_KEEP 16	/* reports kept (the first ones: the first is what counts) */

enum checker_mode {
	CHECKER_OFF,
	CHECKER_SCHED,		/* during controlled executions (default) */
	CHECKER_ALWAYS,
};

extern _Atomic int checker_mode;
extern _Atomic int sched_active;

/* The switch of the checkers that cost something when on. */
static inline bool checkers_on(void)
{
	int m = atomic_load_explicit(&checker_mode, memory_order_relaxed);

	return __builtin_expect(m == CHECKER_ALWAYS ||
					(m && atomic_load_explicit(&sched_active,
								   memory_order_relaxed)),
				0);
}

/* The DMA checks: on unless CHECKER_OFF. */
static inline bool dma_checkers_on(void)
{
	return atomic_load_explicit(&checker_mode, memory_order_relaxed) != CHECKER_OFF;
}

void checker_set_mode(enum checker_mode mode);

/*
 * Report a violation of @kind: counted, logged as "checker: <kind>: <text>"
 * (sim_printk(), while kept), kept with the schedule if among the first
 * CHECKER_KEEP.
 */
void checker_report(enum checker_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * fs/proc/task_mmu.c show_numa_map(): no count of a VMA's line may exceed
 * the @nr_pages base pages the VMA at @vm_start spans (gather_stats() adds
 * a folio's pages once per mapping PTE/PMD).  @names[i] is count i's
 * numa_maps key.  Reports the first count above and returns false; true
 * when all fit or the checkers are OFF.
 */
bool checker_numa_counts(unsigned long vm_start, unsigned long nr_pages,
			 const char *const *names, const unsigned long *counts, unsigned int n);

unsigned long checker_count(enum checker_kind kind);
unsigned long checker_total(void);
unsigned int checker_nr_kept(void);
/*
 * Kept report @i (0 = first): kind, text and schedule ("" outside a
 * controlled run), each cut to its buffer.  False past those kept.
 */
bool checker_report_get(unsigned int i, enum checker_kind *kind, char *text, size_t len,
			char *schedule, size_t slen);
/*
 * CHECK_PIN_LEAK at machine_destroy() (sim/iommu.c), once every process
 * has exited: unless OFF, and unless pinsim_destroy() already scanned.
 */
void dma_check_pins_at_teardown(void);
/* Forget every report (counts and text). */
void checker_reset(void);
const char *checker_name(enum checker_kind kind);

/*
 * sim/sched.c: the decisions of the controlled run so far as a schedule
 * string ("" outside controlled runs).  Declared here to keep the
 * scheduler's header untouched (a tiny accessor, issue 15).
 */
void sched_schedule_so_far(char *buf, size_t len);

#endif /* SIM_CHECKER_H */
