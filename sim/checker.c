// SPDX-License-Identifier: GPL-2.0-only
/*
 * The checkers' report log (checker.h).  Reports are rare (each one is a
 * bug found), so a mutex is fine here; what must stay cheap is the
 * checkers' fast path, which never comes here.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "printk.h"

_Atomic int checker_mode = CHECKER_SCHED;

static const char *const names[NR_CHECKERS] = {
	[CHECK_DMA_UNPINNED] = "dma-unpinned",
	[CHECK_DMA_COHERENCY] = "dma-coherency",
	[CHECK_WALK_REPEAT] = "walk-repeat",
	[CHECK_NUMA_MAPS_COUNT] = "numa-maps-count",
	[CHECK_PIN_LEAK] = "pin-leak",
	[CHECK_LOCKED_VM] = "locked-vm",
};

bool checker_numa_counts(unsigned long vm_start, unsigned long nr_pages,
			 const char *const *names, const unsigned long *counts, unsigned int n)
{
	if (!dma_checkers_on())
		return true;
	for (unsigned int i = 0; i < n; i++) {
		if (counts[i] <= nr_pages)
			continue;
		checker_report(CHECK_NUMA_MAPS_COUNT,
			       "show_numa_map() of the VMA at 0x%lx: %s=%lu above the %lu pages "
			       "it spans",
			       vm_start, names[i], counts[i], nr_pages);
		return false;
	}
	return true;
}

#define SCHED_LEN 1024	/* a report's schedule, cut here (runs are short) */

struct kept_report {
	enum checker_kind kind;
	char text[CHECKER_REPORT_LEN];
	char schedule[SCHED_LEN];
};

static struct {
	pthread_mutex_t lock;
	_Atomic unsigned long count[NR_CHECKERS];
	unsigned int nr_kept;
	struct kept_report kept[CHECKER_KEEP];
} log_ = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* PINSIM_CHECKERS=1 runs the costly checkers everywhere, 0 nowhere. */
__attribute__((constructor)) static void checker_env(void)
{
	const char *e = getenv("PINSIM_CHECKERS");

	if (e && e[0] == '1')
		atomic_store(&checker_mode, CHECKER_ALWAYS);
	else if (e && e[0] == '0')
		atomic_store(&checker_mode, CHECKER_OFF);
}

void checker_set_mode(enum checker_mode mode)
{
	if ((unsigned int)mode <= CHECKER_ALWAYS)
		atomic_store(&checker_mode, mode);
}

const char *checker_name(enum checker_kind kind)
{
	return (unsigned int)kind < NR_CHECKERS ? names[kind] : "?";
}

void checker_report(enum checker_kind kind, const char *fmt, ...)
{
	struct kept_report r;
	va_list ap;
	bool keep;

	if ((unsigned int)kind >= NR_CHECKERS)
		return;
	r.kind = kind;
	va_start(ap, fmt);
	vsnprintf(r.text, sizeof(r.text), fmt, ap);
	va_end(ap);
	sched_schedule_so_far(r.schedule, sizeof(r.schedule));
	atomic_fetch_add(&log_.count[kind], 1);
	pthread_mutex_lock(&log_.lock);
	keep = log_.nr_kept < CHECKER_KEEP;
	if (keep)
		log_.kept[log_.nr_kept++] = r;
	pthread_mutex_unlock(&log_.lock);
	/* Printed while kept: a DMA over a freed GiB must not flood the log. */
	if (keep)
		sim_printk("checker: %s: %s%s%s", names[kind], r.text,
			   r.schedule[0] ? " [schedule " : "", r.schedule[0] ? r.schedule : "");
	if (keep && r.schedule[0])
		sim_printk("checker: (replay with PINSIM_SCHEDULE=%s)", r.schedule);
}

unsigned long checker_count(enum checker_kind kind)
{
	return (unsigned int)kind < NR_CHECKERS ? atomic_load(&log_.count[kind]) : 0;
}

unsigned long checker_total(void)
{
	unsigned long n = 0;

	for (int k = 0; k < NR_CHECKERS; k++)
		n += atomic_load(&log_.count[k]);
	return n;
}

unsigned int checker_nr_kept(void)
{
	unsigned int n;

	pthread_mutex_lock(&log_.lock);
	n = log_.nr_kept;
	pthread_mutex_unlock(&log_.lock);
	return n;
}

bool checker_report_get(unsigned int i, enum checker_kind *kind, char *text, size_t len,
			char *schedule, size_t slen)
{
	bool ok = false;

	pthread_mutex_lock(&log_.lock);
	if (i < log_.nr_kept) {
		const struct kept_report *r = &log_.kept[i];

		if (kind)
			*kind = r->kind;
		if (text && len)
			snprintf(text, len, "%s", r->text);
		if (schedule && slen)
			snprintf(schedule, slen, "%s", r->schedule);
		ok = true;
	}
	pthread_mutex_unlock(&log_.lock);
	return ok;
}

void checker_reset(void)
{
	pthread_mutex_lock(&log_.lock);
	for (int k = 0; k < NR_CHECKERS; k++)
		atomic_store(&log_.count[k], 0);
	log_.nr_kept = 0;
	pthread_mutex_unlock(&log_.lock);
}
