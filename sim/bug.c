// SPDX-License-Identifier: GPL-2.0-only
/*
 * Oops and WARN records (the simulated kernel/panic.c and the x86 page-fault
 * oops path).  See bug.h for the model.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "machine.h"
#include "printk.h"
#include "sched_point.h"
#include "task.h"

static void oops_vrecord(struct oops_record *rec, const char *func, uint64_t addr,
			 const char *fmt, va_list ap)
{
	struct task_struct *t = current;
	char what[SIM_MSG_LEN + 64];

	*rec = (struct oops_record){ .addr = addr };
	snprintf(rec->comm, sizeof(rec->comm), "%s", t ? t->comm : "?");
	snprintf(rec->func, sizeof(rec->func), "%s", func);
	vsnprintf(rec->why, sizeof(rec->why), fmt, ap);

	snprintf(what, sizeof(what), "oops in %s(): %s", rec->func, rec->why);
	sim_trace(what, addr);
	if (machine) {
		pthread_mutex_lock(&machine->bug_lock);
		machine->last_oops = *rec;
		atomic_fetch_add(&machine->nr_oops, 1);
		pthread_mutex_unlock(&machine->bug_lock);
	}
}

void sim_oops_record(struct oops_record *rec, const char *func, uint64_t addr,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	oops_vrecord(rec, func, addr, fmt, ap);
	va_end(ap);
}

_Noreturn void sim_make_task_dead(const struct oops_record *rec)
{
	struct task_struct *t = current;

	/*
	 * make_task_dead(): the task never returns to where it was.  Its held
	 * locks are deliberately left as they are.
	 */
	if (t && t->oops_pad) {
		atomic_store(&t->dead, true);
		longjmp(*t->oops_pad, 1);
	}
	sim_printk("pinsim: oops outside a task body: %s in %s at 0x%llx: %s\n",
		rec->comm, rec->func, (unsigned long long)rec->addr, rec->why);
	abort();
}

_Noreturn void sim_oops(const char *func, uint64_t addr, const char *fmt, ...)
{
	struct oops_record rec;
	va_list ap;

	va_start(ap, fmt);
	oops_vrecord(&rec, func, addr, fmt, ap);
	va_end(ap);
	sim_make_task_dead(&rec);
}

void __sim_warn(const char *file, int line, const char *func, const char *cond)
{
	if (!machine) {
		sim_printk("pinsim: WARN at %s:%d %s(): %s\n", file, line, func, cond);
		return;
	}
	pthread_mutex_lock(&machine->bug_lock);
	snprintf(machine->last_warn, sizeof(machine->last_warn), "%s:%d %s(): %s",
		 file, line, func, cond);
	atomic_fetch_add(&machine->nr_warn, 1);
	pthread_mutex_unlock(&machine->bug_lock);
	if (getenv("PINSIM_WARN_VERBOSE"))
		sim_printk("pinsim: WARN at %s:%d %s(): %s\n", file, line, func, cond);
}

unsigned long sim_oops_count(void)
{
	return machine ? atomic_load(&machine->nr_oops) : 0;
}

unsigned long sim_warn_count(void)
{
	return machine ? atomic_load(&machine->nr_warn) : 0;
}

bool sim_last_oops(struct oops_record *rec)
{
	bool ok;

	if (!machine)
		return false;
	pthread_mutex_lock(&machine->bug_lock);
	ok = atomic_load(&machine->nr_oops) != 0;
	if (ok)
		*rec = machine->last_oops;
	pthread_mutex_unlock(&machine->bug_lock);
	return ok;
}

bool sim_last_warn(char *buf, unsigned long len)
{
	bool ok;

	if (!machine)
		return false;
	pthread_mutex_lock(&machine->bug_lock);
	ok = atomic_load(&machine->nr_warn) != 0;
	if (ok && len)
		snprintf(buf, len, "%s", machine->last_warn);
	pthread_mutex_unlock(&machine->bug_lock);
	return ok;
}
