// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allocation-failure injection (fault_inject.h): lib/fault-inject.c
 * should_fail_ex() with current->fail_nth, per host thread.
 */
#include "fault_inject.h"

#include <stddef.h>

#include "task.h"

__sim_tls unsigned int fail_inject_kinds;

static __sim_tls struct mm_struct *fail_mm;
static __sim_tls unsigned int fail_nth;
static __sim_tls bool fail_every;
static __sim_tls unsigned long fail_count;

/*
 * should_fail_ex(): a fail-nth counter counts down in the task's context
 * only and fires when it reaches 0 ("fail the Nth call"), then is off.
 */
bool __should_fail_alloc(enum fail_kind kind)
{
	(void)kind;
	if (!current || current->mm != fail_mm)
		return false;
	if (fail_every) {
		fail_count++;
		return true;
	}
	if (!fail_nth)
		return false;
	if (--fail_nth)
		return false;
	fail_inject_kinds = 0;
	fail_count++;
	return true;
}

void fail_nth_set(struct mm_struct *mm, unsigned int nth, unsigned int kinds)
{
	kinds &= FAIL_ALL_KINDS;
	fail_mm = mm;
	fail_every = false;
	fail_nth = kinds ? nth : 0;
	fail_count = 0;
	fail_inject_kinds = fail_nth ? kinds : 0;
}

void fail_every_set(struct mm_struct *mm, unsigned int kinds)
{
	kinds &= FAIL_ALL_KINDS;
	fail_mm = mm;
	fail_nth = 0;
	fail_every = kinds != 0;
	fail_count = 0;
	fail_inject_kinds = kinds;
}

unsigned int fail_nth_get(void)
{
	return fail_nth;
}

unsigned long fail_injected(void)
{
	return fail_count;
}
