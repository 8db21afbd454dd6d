/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What one controlled execution of a race world ended in, as a user of the
 * kernel would see it: the machine oopsed, the process hung, or the
 * operation under test (VFIO_IOMMU_MAP_DMA; follow_pfnmap_start() in the
 * lookup worlds) returned success or one of the errors the seeds/03 retry
 * policies document.
 *
 *   hang    the scheduler ended the run: every live thread blocked
 *           (SCHED_DEADLOCK, e.g. munmap and a second numa_maps reader on
 *           the mmap_lock of a task that oopsed holding it: seeds/01's
 *           hang), or no end within the step budget (SCHED_LIVELOCK).
 *           Checked first: an oops with hang threads is this hang;
 *   oops    a simulated oops (sim/bug.h), the run otherwise ended;
 *   mapped  returned 0 and the state agrees (MAP_DMA: the IOMMU maps the
 *           BAR pfn for pfn; a lookup: the pfn is the BAR's);
 *   EINVAL  LEGACY's answer (a zapped leaf under MAP_DMA), or a failed
 *           lookup; EBUSY (BOUNDED gave up); EINTR (ENOENT, killed);
 *           EFAULT (no VMA any more: a munmap of the hang threads came
 *           first) — each with nothing left behind (no vfio_dma);
 *   other   anything else (another errno, success with a wrong mapping,
 *           an error that left state behind, a reader that failed):
 *           never expected, printed with its return value by the caller.
 *
 * Shared by the kernel-tree suite's differential explorers (tests/ktree/);
 * header-only, no Check dependency.
 */
#ifndef TESTS_KTREE_OUTCOME_H
#define TESTS_KTREE_OUTCOME_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bug.h"
#include "scheduler.h"

enum ktree_outcome {
	KOUT_OOPS,
	KOUT_EINVAL,
	KOUT_MAPPED,
	KOUT_EBUSY,
	KOUT_EINTR,
	KOUT_HANG,
	KOUT_EFAULT,
	KOUT_OTHER,
	NR_KOUT,
};

static const char *const ktree_outcome_names[NR_KOUT] = {
	[KOUT_OOPS] = "oops",	  [KOUT_EINVAL] = "EINVAL", [KOUT_MAPPED] = "mapped",
	[KOUT_EBUSY] = "EBUSY",	  [KOUT_EINTR] = "EINTR",   [KOUT_HANG] = "hang",
	[KOUT_EFAULT] = "EFAULT", [KOUT_OTHER] = "other",
};

static inline const char *ktree_outcome_name(enum ktree_outcome o)
{
	return (unsigned int)o < NR_KOUT ? ktree_outcome_names[o] : "?";
}

/* What the caller observed after sched_run()/sched_explore() ran one execution. */
struct ktree_run_facts {
	enum sched_status status;	/* sched_result.status */
	unsigned long oopses;		/* sim_oops_count() */
	long ret;			/* the operation's return value */
	bool state_ok;			/* the state agrees with @ret (see the top) */
	bool reader_ok;			/* the racing reader did its job */
};

static inline enum ktree_outcome ktree_outcome_classify(const struct ktree_run_facts *f)
{
	if (f->status != SCHED_DONE)
		return KOUT_HANG;
	if (f->oopses)
		return KOUT_OOPS;
	if (!f->state_ok || !f->reader_ok)
		return KOUT_OTHER;
	switch (f->ret) {
	case 0:
		return KOUT_MAPPED;
	case -EINVAL:
		return KOUT_EINVAL;
	case -EBUSY:
		return KOUT_EBUSY;
	case -EINTR:
		return KOUT_EINTR;
	case -EFAULT:
		return KOUT_EFAULT;
	default:
		return KOUT_OTHER;
	}
}

/* A multiset of outcomes. */
struct ktree_outcome_hist {
	unsigned long n[NR_KOUT];
};

static inline bool ktree_outcome_hist_equal(const struct ktree_outcome_hist *a,
					    const struct ktree_outcome_hist *b)
{
	return !memcmp(a->n, b->n, sizeof(a->n));
}

/*
 * "{oops 0, EINVAL 2, mapped 31, EBUSY 0, EINTR 0, hang 0}", then ", EFAULT N"
 * and ", other N" only when N > 0 (they belong to the hang-thread worlds and
 * to bugs respectively).
 */
static inline const char *ktree_outcome_hist_str(const struct ktree_outcome_hist *h, char *buf,
						 size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int o = 0; o < NR_KOUT && off < len; o++) {
		if (o > KOUT_HANG && !h->n[o])
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s %lu", o ? ", " : "{",
					ktree_outcome_names[o], h->n[o]);
	}
	if (off < len)
		snprintf(buf + off, len - off, "}");
	return buf;
}

#endif /* TESTS_KTREE_OUTCOME_H */
