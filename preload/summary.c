// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exit summary (issue 12, observability): what the program did, on
 * stderr at exit (atexit) and on SIGINT; PINSIM_SUMMARY_JSON=path writes
 * the same as JSON; PINSIM_QUIET=1 silences stderr (the JSON is still
 * written).
 *
 * The preload's own counters are atomics, bumped on any thread: VFIO
 * MAP/UNMAP_DMA calls, outcomes by errno and latencies; host-mirror faults,
 * SIGBUS deliveries, zaps followed, threads ended; and every call the
 * preload could not model, with the errno it returned (always the errno of
 * a missing feature, never a silent success).  At exit the simulated
 * kernel's counters are added: pinning (vfio_iommu_type1's pinned pages,
 * pfnmap pages, fixup_user_fault()s, retry rounds, -EAGAIN loops, of every
 * container, sampled after each MAP/UNMAP_DMA, preload.c), the process's page faults
 * by level, the machine's oopses, warnings, DMA faults and live tasks.
 *
 * On SIGINT (only when the program left SIGINT at SIG_DFL when the library
 * started) the handler cannot call into the simulated kernel, which may be
 * holding its locks: it prints the preload's own counters only, formats
 * without stdio (nothing here allocates or locks), then dies of SIGINT as
 * the program would have.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"
#include "race.h"

#define NR_ERRNO 134 /* the last slot counts anything above */

struct op_stats {
	_Atomic uint64_t calls, ok, bytes, ns_total, ns_max;
	_Atomic uint64_t err[NR_ERRNO];
};

static struct op_stats op[2]; /* PRELOAD_OP_MAP, PRELOAD_OP_UNMAP */
static _Atomic uint64_t nr_zaps, nr_thread_exits, nr_cpu_faults, nr_sigbus;
static _Atomic uint64_t nr_forks, nr_fork_exits, nr_fork_zaps, nr_fork_zap_timeouts;

#define MAX_NOT_MODELLED 32
static struct not_modelled {
	const char *call; /* a string literal */
	uint64_t detail; /* an ioctl's request, else 0 */
	int err;
	_Atomic uint64_t count;
	_Atomic int used; /* the slot is filled */
} not_modelled[MAX_NOT_MODELLED];
static _Atomic uint64_t not_modelled_lost;

void preload_count_zap(void)
{
	atomic_fetch_add_explicit(&nr_zaps, 1, memory_order_relaxed);
}

void preload_count_fork(void)
{
	atomic_fetch_add_explicit(&nr_forks, 1, memory_order_relaxed);
}

void preload_count_fork_exit(void)
{
	atomic_fetch_add_explicit(&nr_fork_exits, 1, memory_order_relaxed);
}

void preload_count_fork_zap(bool timeout)
{
	atomic_fetch_add_explicit(timeout ? &nr_fork_zap_timeouts : &nr_fork_zaps, 1,
				  memory_order_relaxed);
}

void preload_count_thread_exit(void)
{
	atomic_fetch_add_explicit(&nr_thread_exits, 1, memory_order_relaxed);
}

void preload_count_cpu_fault(bool sigbus)
{
	atomic_fetch_add_explicit(sigbus ? &nr_sigbus : &nr_cpu_faults, 1, memory_order_relaxed);
}

uint64_t preload_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void preload_count_op(int which, int err, uint64_t bytes, uint64_t ns)
{
	struct op_stats *o = &op[which];
	uint64_t max = atomic_load_explicit(&o->ns_max, memory_order_relaxed);

	atomic_fetch_add_explicit(&o->calls, 1, memory_order_relaxed);
	if (!err) {
		atomic_fetch_add_explicit(&o->ok, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&o->bytes, bytes, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&o->err[err > 0 && err < NR_ERRNO ? err : NR_ERRNO - 1],
					  1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&o->ns_total, ns, memory_order_relaxed);
	while (ns > max && !atomic_compare_exchange_weak(&o->ns_max, &max, ns))
		;
}

void preload_count_not_modelled(const char *call, uint64_t detail, int err)
{
	for (int i = 0; i < MAX_NOT_MODELLED; i++) {
		struct not_modelled *n = &not_modelled[i];
		int used = atomic_load(&n->used);

		if (used == 2 && n->call == call && n->detail == detail && n->err == err) {
			atomic_fetch_add(&n->count, 1);
			return;
		}
		if (used)
			continue;
		/* Claim the free slot (0 -> 1), fill it, publish (2). */
		if (!atomic_compare_exchange_strong(&n->used, &used, 1)) {
			i--; /* lost the race: look at this slot again */
			continue;
		}
		n->call = call;
		n->detail = detail;
		n->err = err;
		atomic_store(&n->count, 1);
		atomic_store(&n->used, 2);
		return;
	}
	atomic_fetch_add(&not_modelled_lost, 1);
}

/* ---- formatting without stdio (the SIGINT handler uses it too) ---- */

struct out {
	char buf[8192];
	size_t n;
};

static void put(struct out *o, const char *s)
{
	size_t len = strlen(s);

	if (len > sizeof(o->buf) - 1 - o->n)
		len = sizeof(o->buf) - 1 - o->n;
	memcpy(o->buf + o->n, s, len);
	o->n += len;
	o->buf[o->n] = 0;
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = 0;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, tmp + i);
}

static void put_hex(struct out *o, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = 0;
	do {
		tmp[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	put(o, tmp + i);
}

/* Errno names without strerror() (not async-signal-safe): the ones VFIO gives. */
static const char *errno_name(int e)
{
	switch (e) {
	case EPERM:
		return "EPERM";
	case ENOENT:
		return "ENOENT";
	case EINTR:
		return "EINTR";
	case EIO:
		return "EIO";
	case E2BIG:
		return "E2BIG";
	case EBADF:
		return "EBADF";
	case EAGAIN:
		return "EAGAIN";
	case ENOMEM:
		return "ENOMEM";
	case EFAULT:
		return "EFAULT";
	case EBUSY:
		return "EBUSY";
	case EEXIST:
		return "EEXIST";
	case ENODEV:
		return "ENODEV";
	case EINVAL:
		return "EINVAL";
	case ENOSPC:
		return "ENOSPC";
	case ENOTTY:
		return "ENOTTY";
	case ERANGE:
		return "ERANGE";
	case ENOSYS:
		return "ENOSYS";
	case EOVERFLOW:
		return "EOVERFLOW";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	case NR_ERRNO - 1:
		return "other";
	default:
		return NULL;
	}
}

static void put_errno(struct out *o, int e)
{
	const char *n = errno_name(e);

	if (n) {
		put(o, n);
	} else {
		put(o, "errno ");
		put_u64(o, (uint64_t)e);
	}
}

struct sim_counts {
	bool valid; /* read from the simulated kernel (not on SIGINT) */
	struct pinsim_pin_counters pins;
	struct pinsim_proc_stats proc;
	struct pinsim_stats mach;
	/* race.c's report (race_report()): text lines and a JSON member, or "". */
	char race_text[2048], race_json[2048];
};

static const char *const op_name[2] = {"MAP_DMA", "UNMAP_DMA"};

static void format_text(struct out *o, const struct sim_counts *s, bool interrupted)
{
	put(o, "pinsim-preload summary");
	put(o, interrupted ? " (SIGINT: the simulated kernel's counters are not read)\n" : "\n");
	for (int w = 0; w < 2; w++) {
		uint64_t calls = atomic_load(&op[w].calls);

		put(o, "  ");
		put(o, op_name[w]);
		put(o, ": ");
		put_u64(o, calls);
		put(o, " calls, ");
		put_u64(o, atomic_load(&op[w].ok));
		put(o, " ok (");
		put_u64(o, atomic_load(&op[w].bytes));
		put(o, " bytes), failed:");
		if (calls == atomic_load(&op[w].ok))
			put(o, " none");
		for (int e = 1; e < NR_ERRNO; e++) {
			uint64_t c = atomic_load(&op[w].err[e]);

			if (!c)
				continue;
			put(o, " ");
			put_errno(o, e);
			put(o, " ");
			put_u64(o, c);
		}
		put(o, "; latency avg ");
		put_u64(o, calls ? atomic_load(&op[w].ns_total) / calls : 0);
		put(o, " ns max ");
		put_u64(o, atomic_load(&op[w].ns_max));
		put(o, " ns\n");
	}
	if (s->valid) {
		put(o, "  pinning: ");
		put_u64(o, s->pins.pinned_pages);
		put(o, " pages pinned, ");
		put_u64(o, s->pins.pfnmap_pages);
		put(o, " pfnmap pages, ");
		put_u64(o, s->pins.faults);
		put(o, " fixup_user_fault, ");
		put_u64(o, s->pins.retries);
		put(o, " retries, ");
		put_u64(o, s->pins.eagain_loops);
		put(o, " EAGAIN loops\n  page faults: ");
		put_u64(o, s->proc.faults_pte);
		put(o, " pte, ");
		put_u64(o, s->proc.faults_pmd);
		put(o, " pmd, ");
		put_u64(o, s->proc.faults_pud);
		put(o, " pud, ");
		put_u64(o, s->proc.fault_retries);
		put(o, " retried\n  kernel: ");
		put_u64(o, s->mach.oopses);
		put(o, " oopses, ");
		put_u64(o, s->mach.warnings);
		put(o, " warnings, ");
		put_u64(o, s->mach.dma_faults);
		put(o, " DMA faults, ");
		put_u64(o, s->mach.tasks);
		put(o, " tasks alive");
		if (s->mach.oopses) {
			put(o, "; last oops: ");
			put(o, s->mach.last_oops);
		}
		put(o, "\n");
	}
	put(o, "  host mirror: ");
	put_u64(o, atomic_load(&nr_cpu_faults));
	put(o, " cpu faults, ");
	put_u64(o, atomic_load(&nr_sigbus));
	put(o, " SIGBUS, ");
	put_u64(o, atomic_load(&nr_zaps));
	put(o, " zaps followed; ");
	put_u64(o, atomic_load(&nr_thread_exits));
	put(o, " threads ended\n  fork: ");
	put_u64(o, atomic_load(&nr_forks));
	put(o, " children served, ");
	put_u64(o, atomic_load(&nr_fork_exits));
	put(o, " ended; ");
	put_u64(o, atomic_load(&nr_fork_zaps));
	put(o, " zaps sent to children, ");
	put_u64(o, atomic_load(&nr_fork_zap_timeouts));
	put(o, " unacknowledged\n  not modelled (failed with the errno of a missing feature):");
	for (int i = 0; i < MAX_NOT_MODELLED; i++) {
		struct not_modelled *n = &not_modelled[i];

		if (atomic_load(&n->used) != 2)
			continue;
		put(o, " ");
		put(o, n->call);
		if (n->detail) {
			put(o, " ");
			put_hex(o, n->detail);
		}
		put(o, " ");
		put_errno(o, n->err);
		put(o, " x");
		put_u64(o, atomic_load(&n->count));
		put(o, ";");
	}
	if (atomic_load(&not_modelled_lost)) {
		put(o, " (and ");
		put_u64(o, atomic_load(&not_modelled_lost));
		put(o, " more)");
	}
	put(o, "\n");
	if (s->valid)
		put(o, s->race_text);
}

static void json_u64(struct out *o, const char *key, uint64_t v, bool comma)
{
	put(o, "\"");
	put(o, key);
	put(o, "\": ");
	put_u64(o, v);
	if (comma)
		put(o, ", ");
}

/* JSON string contents: oops text may hold quotes or backslashes. */
static void json_str(struct out *o, const char *s)
{
	char c[2] = {0, 0};

	put(o, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			put(o, "\\");
		c[0] = (unsigned char)*s < 0x20 ? ' ' : *s;
		put(o, c);
	}
	put(o, "\"");
}

static void format_json(struct out *o, const struct sim_counts *s, bool interrupted)
{
	put(o, "{");
	put(o, interrupted ? "\"interrupted\": true, " : "\"interrupted\": false, ");
	for (int w = 0; w < 2; w++) {
		put(o, "\"");
		put(o, op_name[w]);
		put(o, "\": {");
		json_u64(o, "calls", atomic_load(&op[w].calls), true);
		json_u64(o, "ok", atomic_load(&op[w].ok), true);
		json_u64(o, "bytes", atomic_load(&op[w].bytes), true);
		json_u64(o, "latency_ns_total", atomic_load(&op[w].ns_total), true);
		json_u64(o, "latency_ns_max", atomic_load(&op[w].ns_max), true);
		put(o, "\"failed\": {");
		for (int e = 1, first = 1; e < NR_ERRNO; e++) {
			uint64_t c = atomic_load(&op[w].err[e]);

			if (!c)
				continue;
			put(o, first ? "\"" : ", \"");
			put_errno(o, e);
			put(o, "\": ");
			put_u64(o, c);
			first = 0;
		}
		put(o, "}}, ");
	}
	if (s->valid) {
		json_u64(o, "pinned_pages", s->pins.pinned_pages, true);
		json_u64(o, "pfnmap_pages", s->pins.pfnmap_pages, true);
		json_u64(o, "fixup_user_faults", s->pins.faults, true);
		json_u64(o, "retries", s->pins.retries, true);
		json_u64(o, "eagain_loops", s->pins.eagain_loops, true);
		json_u64(o, "faults_pte", s->proc.faults_pte, true);
		json_u64(o, "faults_pmd", s->proc.faults_pmd, true);
		json_u64(o, "faults_pud", s->proc.faults_pud, true);
		json_u64(o, "fault_retries", s->proc.fault_retries, true);
		json_u64(o, "oopses", s->mach.oopses, true);
		json_u64(o, "warnings", s->mach.warnings, true);
		json_u64(o, "dma_faults", s->mach.dma_faults, true);
		json_u64(o, "tasks_alive", s->mach.tasks, true);
		put(o, "\"last_oops\": ");
		json_str(o, s->mach.last_oops);
		put(o, ", ");
	}
	json_u64(o, "cpu_faults", atomic_load(&nr_cpu_faults), true);
	json_u64(o, "sigbus", atomic_load(&nr_sigbus), true);
	json_u64(o, "zaps_followed", atomic_load(&nr_zaps), true);
	json_u64(o, "threads_ended", atomic_load(&nr_thread_exits), true);
	json_u64(o, "forks", atomic_load(&nr_forks), true);
	json_u64(o, "fork_children_ended", atomic_load(&nr_fork_exits), true);
	json_u64(o, "fork_zaps_sent", atomic_load(&nr_fork_zaps), true);
	json_u64(o, "fork_zaps_unacknowledged", atomic_load(&nr_fork_zap_timeouts), true);
	if (s->valid && s->race_json[0]) {
		put(o, s->race_json);
		put(o, ", ");
	}
	put(o, "\"not_modelled\": [");
	for (int i = 0, first = 1; i < MAX_NOT_MODELLED; i++) {
		struct not_modelled *n = &not_modelled[i];

		if (atomic_load(&n->used) != 2)
			continue;
		put(o, first ? "{" : ", {");
		put(o, "\"call\": \"");
		put(o, n->call);
		put(o, "\", ");
		json_u64(o, "detail", n->detail, true);
		put(o, "\"errno\": \"");
		put_errno(o, n->err);
		put(o, "\", ");
		json_u64(o, "count", atomic_load(&n->count), false);
		put(o, "}");
		first = 0;
	}
	put(o, "]}\n");
}

static char json_path[4096];
static bool quiet;
static _Atomic int summary_done;

static void emit(const struct sim_counts *s, bool interrupted)
{
	static struct out o; /* one emitter: summary_done */

	if (atomic_exchange(&summary_done, 1))
		return;
	if (!quiet) {
		o.n = 0;
		format_text(&o, s, interrupted);
		(void)!REAL(write)(STDERR_FILENO, o.buf, o.n);
	}
	if (json_path[0]) {
		int fd = REAL(open)(json_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0) {
			o.n = 0;
			format_json(&o, s, interrupted);
			(void)!REAL(write)(fd, o.buf, o.n);
			REAL(close)(fd);
		}
	}
}

/*
 * A forked child: the summary is the machine host's (it counts the
 * child's MAP/UNMAP_DMAs, which run there); the child's copy of the
 * counters is its parent's, and its JSON would overwrite the host's.
 */
void summary_forked(void)
{
	atomic_store(&summary_done, 1);
}

static void summary_at_exit(void)
{
	struct sim_counts s = {.valid = true};

	if (!preload.ready || preload.client)
		return;
	sim_enter();
	preload_pins_total(&s.pins);
	pinsim_proc_stats(preload.p, &s.proc);
	pinsim_stats(preload.m, &s.mach);
	sim_exit();
	/* Not on SIGINT: race_report() reads the injector's counters. */
	race_report(s.race_text, sizeof(s.race_text), false);
	race_report(s.race_json, sizeof(s.race_json), true);
	emit(&s, false);
}

static void summary_sigint(int sig)
{
	struct sim_counts s = {.valid = false};

	emit(&s, true);
	signal(sig, SIG_DFL);
	raise(sig);
}

void summary_init(void)
{
	const char *q = getenv("PINSIM_QUIET"), *j = getenv("PINSIM_SUMMARY_JSON");
	struct sigaction cur;

	quiet = q && atoi(q);
	if (j && strlen(j) < sizeof(json_path))
		strcpy(json_path, j);
	atexit(summary_at_exit);
	if (!sigaction(SIGINT, NULL, &cur) && !(cur.sa_flags & SA_SIGINFO) &&
	    cur.sa_handler == SIG_DFL)
		signal(SIGINT, summary_sigint);
}
