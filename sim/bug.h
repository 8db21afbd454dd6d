/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The oops and WARN model.
 *
 * A kernel oops in process context kills the task that hit it and leaves
 * every lock it held held: that is what turned the seeds/01 illegal read
 * into hung /proc readers.  sim_oops() records what happened and leaves the
 * task's body through the landing pad set by sim_task_run(); the locks it
 * held stay held, so later lockers see exactly the kernel's hang (and report
 * it through their timed waits instead of hanging the test).
 *
 * WARNs are counted and the last one is kept, so tests can assert "no oops,
 * no WARN" and scenario tests can assert the WARN they expect.
 */
#ifndef SIM_BUG_H
#define SIM_BUG_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Thread-locals of the simulator use the initial-exec model: the library is
 * linked at program start (never dlopen()ed), and the default
 * global-dynamic model costs a __tls_get_addr() call per access on the
 * pinning fast path.
 */
#define __sim_tls _Thread_local __attribute__((tls_model("initial-exec")))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define SIM_MSG_LEN 160

struct oops_record {
	char comm[16];
	char func[48];
	uint64_t addr;
	char why[SIM_MSG_LEN];
};

_Noreturn void sim_oops(const char *func, uint64_t addr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The two halves of sim_oops(), for the direct-map fault handler (phys.c),
 * which must put its signal mask back between them: sim_oops_record()
 * fills @rec and records it as the machine's last oops (and traces it);
 * sim_make_task_dead() (kernel/exit.c make_task_dead()) leaves the current
 * task's body through its landing pad with its locks held, or, outside a
 * task body, prints @rec and aborts.
 */
void sim_oops_record(struct oops_record *rec, const char *func, uint64_t addr,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
_Noreturn void sim_make_task_dead(const struct oops_record *rec);

void __sim_warn(const char *file, int line, const char *func, const char *cond);

#define WARN_ON(cond)                                                        \
	({                                                                   \
		bool __c = !!(cond);                                         \
		if (unlikely(__c))                                           \
			__sim_warn(__FILE__, __LINE__, __func__, #cond);     \
		unlikely(__c);                                               \
	})

/* The simulator counts every WARN, so ONCE adds nothing but the name. */
#define WARN_ON_ONCE(cond) WARN_ON(cond)

/* BUG_ON in the kernel is an oops of the current task. */
#define BUG_ON(cond)                                                         \
	do {                                                                 \
		if (unlikely(cond))                                          \
			sim_oops(__func__, 0, "kernel BUG: %s", #cond);      \
	} while (0)

/* Counters of the current machine (0 when there is none). */
unsigned long sim_oops_count(void);
unsigned long sim_warn_count(void);
/* Copies of the last oops/WARN; false when there was none. */
bool sim_last_oops(struct oops_record *rec);
bool sim_last_warn(char *buf, unsigned long len);

#endif /* SIM_BUG_H */
