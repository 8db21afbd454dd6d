/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Allocation-failure injection: lib/fault-inject.c's should_fail() with the
 * per-task /proc/self/fail-nth counter (Documentation/fault-injection/
 * fault-injection.rst), for the simulated allocators:
 *
 *  FAIL_SLAB		kmalloc()/kzalloc() of kernel objects (failslab):
 *			vfio_dma, vfio_iommu, vfio_domain, vfio_iommu_group,
 *			vfio_regions, the dirty bitmap; VMAs, mm, tasks, the
 *			IOMMU domain
 *  FAIL_PAGE		folio/page allocations (fail_page_alloc): anon and THP
 *			folios, hugetlb pool folios, the mmu_gather batch page
 *  FAIL_PGTABLE		CPU page-table pages (pagetable_alloc())
 *  FAIL_IOMMU_PGTABLE	IOMMU page-table pages (iommu-pages.h allocations)
 *
 * The state is the calling host thread's (the kernel's current->fail_nth):
 * armed for one process (its mm), it counts only allocations made while
 * the thread acts as a task of that process.  fail_nth = N: the Nth such
 * allocation from now fails, then the counter stays at 0 (off), as the
 * kernel's does.  fail_every: every such allocation fails until disarmed.
 *
 * When nothing is armed a site costs one thread-local load and a
 * predictable branch (should_fail_alloc() below).
 */
#ifndef SIM_FAULT_INJECT_H
#define SIM_FAULT_INJECT_H

#include <stdbool.h>
#include <stdlib.h>

#include "bug.h"

struct mm_struct;

enum fail_kind {
	FAIL_SLAB = 1u << 0,
	FAIL_PAGE = 1u << 1,
	FAIL_PGTABLE = 1u << 2,
	FAIL_IOMMU_PGTABLE = 1u << 3,
	FAIL_ALL_KINDS = (1u << 4) - 1,
};

/* Kinds armed on this thread; 0 when off (the fast path's only load). */
extern __sim_tls unsigned int fail_inject_kinds;

bool __should_fail_alloc(enum fail_kind kind);

static inline bool should_fail_alloc(enum fail_kind kind)
{
	if (__builtin_expect(!(fail_inject_kinds & kind), 1))
		return false;
	return __should_fail_alloc(kind);
}

/*
 * kzalloc()/kmalloc() of a kernel object (mm/slub.c, through failslab's
 * should_failslab()): NULL when the injection says so, else the host's.
 * sim_ prefixed: the tree's shim (ktree/vfio/) has its own kzalloc().
 */
static inline void *sim_kzalloc(size_t size)
{
	return should_fail_alloc(FAIL_SLAB) ? NULL : calloc(1, size);
}

static inline void *sim_kmalloc(size_t size)
{
	return should_fail_alloc(FAIL_SLAB) ? NULL : malloc(size);
}

/* Arm (nth > 0) or disarm (nth == 0) the calling thread for @mm. */
void fail_nth_set(struct mm_struct *mm, unsigned int nth, unsigned int kinds);
/* Fail every allocation of @kinds for @mm from now (kinds 0: off). */
void fail_every_set(struct mm_struct *mm, unsigned int kinds);
/* What is left of the counter: 0 once the failure fired (or when off). */
unsigned int fail_nth_get(void);
/* Failures injected on this thread since it was last armed. */
unsigned long fail_injected(void);

#endif /* SIM_FAULT_INJECT_H */
