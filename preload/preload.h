/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libpinsim-preload.so internals: what its files share.  See preload.c for
 * the process model and the list of what is interposed.
 */
#ifndef PINSIM_PRELOAD_H
#define PINSIM_PRELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pinsim/pinsim.h"

#define PRELOAD_MAX_DEVICES 16

struct preload_device {
	char bdf[32]; /* "0000:01:00.0" */
	struct pinsim_device_spec spec;
	int group; /* pinsim_add_device()'s group id */
};

struct preload {
	struct pinsim *m;
	struct pinsim_proc *p;
	struct preload_device dev[PRELOAD_MAX_DEVICES];
	int nr_dev;
	bool ready; /* the machine exists */
	bool loopback; /* PINSIM_LOOPBACK: BAR0 DMA engine */
	bool trace; /* PINSIM_TRACE: one stderr line per call */
	char error[256]; /* why not ready (bad configuration) */
};

extern struct preload preload;

/*
 * Calls into pinsim run with this thread's guard raised: pinsim's own
 * mmap()/open() (the direct map, memfds) then reach libc untouched.
 */
extern __thread int preload_in_sim;
/* This thread called into pinsim before: its thread-exit hook is armed. */
extern __thread bool preload_thread_seen;
void preload_thread_first(void);
static inline void sim_enter(void)
{
	if (__builtin_expect(!preload_thread_seen, 0))
		preload_thread_first();
	preload_in_sim++;
}
static inline void sim_exit(void)
{
	preload_in_sim--;
}

/* The next definition of @name (libc's, or a sanitizer's), or NULL. */
void *preload_next(const char *name);
#define REAL(name)                                                          \
	({                                                                  \
		static __typeof__(name) *next_fn_;                          \
		if (!next_fn_)                                              \
			next_fn_ = (__typeof__(name) *)preload_next(#name); \
		next_fn_;                                                   \
	})

/* PINSIM_TRACE: "pinsim-preload: <fmt>" on stderr. */
void preload_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* mirror.c */
int mirror_init(void);

/* summary.c: counters for the exit summary (atomics: any thread). */
enum { PRELOAD_OP_MAP, PRELOAD_OP_UNMAP };
void preload_count_zap(void);
void preload_count_thread_exit(void);
void preload_count_cpu_fault(bool sigbus);
uint64_t preload_now_ns(void);
/* A MAP_DMA/UNMAP_DMA: 0 or the errno it gave, bytes mapped/unmapped, time taken. */
void preload_count_op(int which, int err, uint64_t bytes, uint64_t ns);
/* A call the preload could not model; @call a string literal, @err what it returned. */
void preload_count_not_modelled(const char *call, uint64_t detail, int err);
/* preload.c: pinning counters of every container so far (sim_enter() held). */
void preload_pins_total(struct pinsim_pin_counters *out);
/* atexit and SIGINT (PINSIM_QUIET, PINSIM_SUMMARY_JSON). */
void summary_init(void);

/* sysfs.c: the group of @bdf, -1 if no configured device has that name. */
int preload_group_of(const char *bdf, size_t len);

#endif /* PINSIM_PRELOAD_H */
