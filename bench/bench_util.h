/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the benchmarks over the simulator's internals share: the clock and
 * faulting a range in before it is timed.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "bench_clock.h"
#include "mm.h"

/*
 * Fault [va, va+len) in steps of @step, all under one mmap read lock, as a
 * guest touching its memory would.  0, -EFAULT without a VMA at @va, or the
 * first fault's VM_FAULT_* error bits, negated.
 */
static inline long bench_populate(struct mm_struct *mm, unsigned long va, uint64_t len,
				  uint64_t step, unsigned int flags)
{
	struct vm_area_struct *vma;
	long err = 0;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, va);
	if (!vma)
		err = -EFAULT;
	for (uint64_t off = 0; !err && off < len; off += step) {
		vm_fault_t ret = handle_mm_fault(vma, va + off, flags);

		if (ret & VM_FAULT_ERROR)
			err = -(long)ret;
	}
	mmap_read_unlock(mm);
	return err;
}

#endif /* BENCH_UTIL_H */
