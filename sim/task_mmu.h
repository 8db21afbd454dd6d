/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * /proc/<pid>/numa_maps (fs/proc/task_mmu.c show_numa_map(), reference §5):
 * the walker that races with the BAR refault in seeds/01, and a thread that
 * reads it in a loop the way a monitoring script does.
 */
#ifndef SIM_TASK_MMU_H
#define SIM_TASK_MMU_H

#include <stdbool.h>
#include <stddef.h>

#include "bug.h"
#include "mm_types.h"

/*
 * Read the whole numa_maps text of @mm into @buf as the current task (which
 * must be set: the mmap lock records its holder).  Every VMA is walked, as
 * `cat` does over several read() calls; the text is truncated at @len - 1
 * and NUL-terminated (@len 0: nothing stored).  Returns the bytes stored
 * (never more than @len - 1), or -EINTR when mmap_read_lock_killable() was
 * interrupted by a fatal signal.
 *
 * May oops (pre-fix walker, seeds/01): call it under sim_task_run().
 */
long numa_maps_read(struct mm_struct *mm, char *buf, size_t len);

struct numa_maps_walker_opts {
	unsigned int interval_us;	/* pause between two reads */
	unsigned long max_iterations;	/* reads to do; 0 = until stopped */
	const char *comm;		/* the walker task's name (NULL: "numa_maps") */
};

struct numa_maps_walker_result {
	unsigned long reads;		/* reads completed */
	bool oopsed;			/* the walker task died in a read */
	struct oops_record oops;	/* what it died of, if oopsed */
	/*
	 * Still blocked in a read when stop was asked and the grace period
	 * ran out (mmap_lock held by a dead task, seeds/01): it was then
	 * ended with a fatal signal to its thread group.
	 */
	bool hung;
	int last_errno;			/* 0, or the last -errno a read returned */
};

struct numa_maps_walker;

/*
 * Start a host thread that becomes a task of @mm's thread group
 * (mm_thread_task()) and reads numa_maps in a loop, each read under
 * sim_task_run() so that an oops ends only that task.  It stops after
 * max_iterations reads, after an oops, after -EINTR, or when stopped.
 * NULL on failure.
 */
struct numa_maps_walker *numa_maps_walker_start(struct mm_struct *mm,
						const struct numa_maps_walker_opts *opts);
/* True once the walker thread has stopped on its own (limit, oops, -EINTR). */
bool numa_maps_walker_done(struct numa_maps_walker *w);
/* True while the walker is inside a read (running, or blocked on mmap_lock). */
bool numa_maps_walker_in_read(struct numa_maps_walker *w);
/* Reads completed so far. */
unsigned long numa_maps_walker_reads(struct numa_maps_walker *w);
/* Stop, join and free the walker; @res (may be NULL) gets its report. */
void numa_maps_walker_stop(struct numa_maps_walker *w, struct numa_maps_walker_result *res);

#endif /* SIM_TASK_MMU_H */
