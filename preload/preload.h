/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libpinsim-preload.so internals: what its files share.  See preload.c for
 * the process model and the list of what is interposed.
 */
#ifndef PINSIM_PRELOAD_H
#define PINSIM_PRELOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pinsim/pinsim.h"

#define PRELOAD_MAX_DEVICES 16

struct preload_device {
	char bdf[32]; /* "0000:01:00.0" */
	struct pinsim_device_spec spec;
	struct pinsim_device_pci pci; /* msi=, msimask=, msix=, msixbar= */
	int group; /* pinsim_add_device_pci()'s group id */
};

struct preload {
	struct pinsim *m;
	struct pinsim_proc *p;
	struct preload_device dev[PRELOAD_MAX_DEVICES];
	int nr_dev;
	bool ready; /* the machine exists */
	bool loopback; /* PINSIM_LOOPBACK: BAR0 DMA engine */
	bool trace; /* PINSIM_TRACE: one stderr line per call */
	/*
	 * A forked child (fork.c): every pinsim call is a request to the
	 * machine host on @sock; @zap brings the host's zaps of its memory.
	 * m and p are NULL then: the machine in its memory is a stale copy.
	 */
	bool client;
	int sock, zap;
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

/*
 * The next definition of @name (libc's, or a sanitizer's), or NULL.
 * REAL() caches it in an atomic: threads race to fill it, all with the
 * same value, and a plain static would be a data race.
 */
void *preload_next(const char *name);
#define REAL(name)                                                                  \
	({                                                                          \
		static __typeof__(name) *_Atomic next_fn_;                          \
		__typeof__(name) *fn_ =                                             \
			atomic_load_explicit(&next_fn_, memory_order_relaxed);      \
		if (!fn_) {                                                         \
			fn_ = (__typeof__(name) *)preload_next(#name);              \
			atomic_store_explicit(&next_fn_, fn_, memory_order_relaxed); \
		}                                                                   \
		fn_;                                                                \
	})

/* PINSIM_TRACE: "pinsim-preload: <fmt>" on stderr. */
void preload_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * fork.c: every call into pinsim goes through preload_sim(), which runs
 * @fn as the process's task: here in the machine host, or (a forked child)
 * in the machine host's server thread for the child.  @fn is an address in
 * this image (a forked child has the same); @a six scalars; @buf @in_len
 * bytes in and @out_len bytes back (@out_is_ret: only the first
 * return-value bytes, as pread's), at most PRELOAD_SIM_MAX; @fds
 * (borrowed) arrive in @fn as the machine host's own fds.  Returns @fn's
 * value with its errno; EIO if the machine host is gone.
 */
#define PRELOAD_SIM_ARGS 6
#define PRELOAD_SIM_MAX (60U << 10)
#define PRELOAD_SIM_MAX_FDS 253 /* SCM_MAX_FD */
typedef long preload_sim_fn(struct pinsim_proc *p, const uint64_t *a, void *buf,
			    const int *fds, int nfds);
struct preload_call {
	preload_sim_fn *fn;
	uint64_t a[PRELOAD_SIM_ARGS];
	void *buf;
	size_t in_len, out_len;
	bool out_is_ret;
	const int *fds;
	int nfds;
};
long preload_sim(const struct preload_call *c);
/* Around calls that change the simulated mm or fd table: a fork waits. */
void preload_mm_enter(void);
void preload_mm_exit(void);
void fork_init(void);

/* preload.c: fork helpers (the fd table) */
bool preload_fds_any(void);
void preload_fds_fork_prepare(void);
void preload_fds_fork_release(bool child);

/* mirror.c */
int mirror_init(void);
/* fork helpers: anything mirrored; the region table across fork; the child's start. */
bool mirror_any(void);
void mirror_fork_prepare(void);
void mirror_fork_release(bool child);
void mirror_client_start(void);
/* A zap of [start, end): the host mirror there is dropped (any thread). */
void mirror_zap(uint64_t start, uint64_t end);

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
/* fork.c: a child served; one ended; a zap sent to a child (@timeout: unacknowledged). */
void preload_count_fork(void);
void preload_count_fork_exit(void);
void preload_count_fork_zap(bool timeout);
/* In a forked child: the summary is the machine host's, the child prints none. */
void summary_forked(void);

/* sysfs.c: the group of @bdf, -1 if no configured device has that name. */
int preload_group_of(const char *bdf, size_t len);

#endif /* PINSIM_PRELOAD_H */
