// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lock-order checker (see lockdep.h; kernel/locking/lockdep.c).
 *
 * State: the classes and the dependency graph are global, under ld.lock
 * (graph_lock() in the kernel).  Each host thread has its tasks' held-lock
 * stacks (a simulated task acts on one host thread: mm_thread_task()),
 * allocated on the thread's first tracked acquisition and freed when the
 * thread ends; the stacks are found by the task's serial, which is never
 * reused, so a task that oopsed with locks held leaves its stack behind
 * without confusing the thread's next task.
 *
 * Cost: a tracked acquisition looks at the held stack (bounded) and, for
 * each held lock of another class, one bit of the graph; only a new edge
 * takes ld.lock, saves a stack (backtrace()) and runs the cycle search, as
 * in the kernel, where check_prev_add() saves a trace only for a new
 * dependency.  Names are looked up (kallsyms) only when a report is made.
 */
#include <execinfo.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"	/* sched_schedule_so_far() */
#include "kallsyms.h"
#include "lockdep.h"
#include "page.h"
#include "printk.h"
#include "scheduler.h"
#include "task.h"

#define LD_STACK 12		/* frames saved per edge */
#define LD_TASKS 4		/* task stacks per host thread */
#define LD_TEXT 1536

_Atomic int lockdep_mode = LOCKDEP_SCHED;
__sim_tls int lockdep_thread_depth;

/*
 * Where a lock was taken: the function, and for a controlled thread the
 * schedule point, i.e. how many decisions of the run came before it
 * (worked out only for what a report may print: a new edge's lock, not
 * every held one).
 */
struct ld_where {
	const void *ip;			/* in the function that took the lock */
	bool controlled;		/* under the deterministic scheduler */
	int decision;			/* decisions taken before it, -1: unknown */
};

struct ld_held {
	const void *lock;
	int16_t class;
	bool read, spin;
	struct ld_where where;
};

struct ld_task {
	uint64_t serial;		/* 0: free; ~0: no task (anonymous) */
	int depth;
	struct ld_held held[LOCKDEP_MAX_DEPTH];
};

struct ld_thread {
	struct ld_task task[LD_TASKS];
	struct ld_task *last;		/* the slot found last: the usual answer */
	unsigned int next_victim;
	struct ld_thread *next_free;	/* in ld_pool once its thread has ended */
};

/* What is known of a dependency A -> B: how B was taken while A was held. */
struct ld_edge {
	struct ld_where prev, next;
	bool prev_read, next_read;
	void *stack[LD_STACK];
	int nstack;
	char comm[16];
	char *schedule;			/* the run's decisions up to it */
};

struct ld_class {
	char name[32];
	bool spin;
};

struct ld_report {
	enum lockdep_report_kind kind;
	char text[LD_TEXT];
	char *schedule;
};

static struct {
	pthread_mutex_t lock;
	struct ld_class class[LOCKDEP_MAX_CLASSES];
	_Atomic int nr_classes;			/* class 0 is unused: "not looked up" */
	_Atomic uint64_t after[LOCKDEP_MAX_CLASSES];	/* bit b of after[a]: a -> b */
	struct ld_edge *edge[LOCKDEP_MAX_CLASSES][LOCKDEP_MAX_CLASSES];
	struct ld_report report[LOCKDEP_MAX_REPORTS];
	_Atomic unsigned int nr_reports;
	bool depth_reported, classes_reported;
} ld = { .lock = PTHREAD_MUTEX_INITIALIZER, .nr_classes = 1 };

static __sim_tls struct ld_thread *ld_me;
static pthread_key_t ld_key;
static pthread_once_t ld_key_once = PTHREAD_ONCE_INIT;

/* ---------------- per-thread, per-task stacks ---------------- */

/*
 * A controlled run's threads are new host threads each time: their stacks
 * are recycled through a free list rather than allocated and freed per
 * thread (fresh memory for each would cost page faults on every run).
 */
static struct ld_thread *ld_pool;
static pthread_mutex_t ld_pool_lock = PTHREAD_MUTEX_INITIALIZER;

static void ld_thread_free(void *p)
{
	struct ld_thread *th = p;

	pthread_mutex_lock(&ld_pool_lock);
	th->next_free = ld_pool;
	ld_pool = th;
	pthread_mutex_unlock(&ld_pool_lock);
	ld_me = NULL;
	lockdep_thread_depth = 0;
}

static void ld_key_init(void)
{
	if (pthread_key_create(&ld_key, ld_thread_free))
		ld_key = 0;
}

static struct ld_thread *ld_thread(void)
{
	struct ld_thread *th;

	if (likely(ld_me))
		return ld_me;
	pthread_once(&ld_key_once, ld_key_init);
	pthread_mutex_lock(&ld_pool_lock);
	th = ld_pool;
	if (th)
		ld_pool = th->next_free;
	pthread_mutex_unlock(&ld_pool_lock);
	if (!th)
		th = malloc(sizeof(*th));
	if (!th)
		return NULL;
	for (int i = 0; i < LD_TASKS; i++) {
		th->task[i].serial = 0;
		th->task[i].depth = 0;
	}
	th->last = NULL;
	th->next_victim = 0;
	th->next_free = NULL;
	ld_me = th;
	if (ld_key)
		pthread_setspecific(ld_key, th);
	return th;
}

static uint64_t cur_serial(void)
{
	return current ? current->serial + 1 : ~0ull;
}

/* The calling task's stack; @create: take a free (or the oldest) slot. */
static struct ld_task *ld_task(bool create)
{
	struct ld_thread *th = create ? ld_thread() : ld_me;
	uint64_t serial = cur_serial();
	struct ld_task *t;

	if (!th)
		return NULL;
	if (likely(th->last && th->last->serial == serial))
		return th->last;
	for (int i = 0; i < LD_TASKS; i++)
		if (th->task[i].serial == serial)
			return th->last = &th->task[i];
	if (!create)
		return NULL;
	for (int i = 0; i < LD_TASKS; i++)
		if (!th->task[i].serial || !th->task[i].depth) {
			th->task[i].serial = serial;
			th->task[i].depth = 0;
			return th->last = &th->task[i];
		}
	/* Every slot holds locks of another task: forget the oldest one's. */
	t = &th->task[th->next_victim++ % LD_TASKS];
	lockdep_thread_depth -= t->depth;
	t->depth = 0;
	t->serial = serial;
	return th->last = t;
}

/* ---------------- classes ---------------- */

static const char *spin_class_name(const void *lock)
{
	const char *p = lock, *base = (const char *)mem_map;

	if (mem_map && p >= base && p < base + max_pfn * sizeof(struct page))
		return "ptlock";
	return "page_table_lock";
}

/* The class called @name, registered if new; 0 when the table is full. */
static int16_t class_lookup(const char *name, bool spin)
{
	int n = atomic_load(&ld.nr_classes);
	int16_t c = 0;

	for (int i = 1; i < n; i++)
		if (!strcmp(ld.class[i].name, name))
			return (int16_t)i;
	pthread_mutex_lock(&ld.lock);
	n = atomic_load(&ld.nr_classes);
	for (int i = 1; i < n && !c; i++)
		if (!strcmp(ld.class[i].name, name))
			c = (int16_t)i;
	if (!c && n < LOCKDEP_MAX_CLASSES) {
		snprintf(ld.class[n].name, sizeof(ld.class[n].name), "%s", name);
		ld.class[n].spin = spin;
		c = (int16_t)n;
		atomic_store(&ld.nr_classes, n + 1);	/* publish after filling */
	} else if (!c && !ld.classes_reported) {
		ld.classes_reported = true;
		sim_printk("lockdep: MAX_LOCKDEP_KEYS too low (%d): lock %s not checked",
			   LOCKDEP_MAX_CLASSES, name);
	}
	pthread_mutex_unlock(&ld.lock);
	return c;
}

/* ---------------- where, and how it reads ---------------- */

#define LD_SCHED_LEN (SCHED_MAX_DECISIONS * 2 + 1)

/* The run's decisions so far (sim/sched.c), or NULL outside a run. */
static char *schedule_now(void)
{
	char *s;

	if (!atomic_load_explicit(&sched_active, memory_order_relaxed))
		return NULL;
	s = malloc(LD_SCHED_LEN);
	if (s)
		sched_schedule_so_far(s, LD_SCHED_LEN);
	return s;
}

static int decisions(const char *sched)
{
	int n = 0;

	if (!sched || !*sched)
		return 0;
	for (n = 1; *sched; sched++)
		n += *sched == '.';
	return n;
}

/* @full: also the decision count (takes the scheduler's lock). */
static void where_now(struct ld_where *w, const void *ip, bool full)
{
	char *sched;

	w->ip = ip;
	w->decision = -1;
	w->controlled = sched_controls_current();
	if (!full || !w->controlled)
		return;
	sched = schedule_now();
	w->decision = decisions(sched);
	free(sched);
}

static size_t fmt(char *buf, size_t len, size_t off, const char *f, ...)
	__attribute__((format(printf, 4, 5)));

static size_t fmt(char *buf, size_t len, size_t off, const char *f, ...)
{
	va_list ap;
	int n;

	if (off >= len)
		return off;
	va_start(ap, f);
	n = vsnprintf(buf + off, len - off, f, ap);
	va_end(ap);
	return n < 0 ? off : off + (size_t)n;
}

static void sym(const void *ip, char *name, size_t len)
{
	/* A return address is one past the call: look up the call itself. */
	if (!ip || !kallsyms_lookup((uintptr_t)ip - 1, name, len))
		snprintf(name, len, "?");
}

/* The checker's and the lock primitives' own frames are not the story. */
static bool internal_frame(const char *name)
{
	static const char *const prefix[] = {
		"__lockdep_", "lockdep_", "__down", "down_", "__up", "up_", "mutex_", "spin_",
		"__spin", "rwsem_",
	};
	static const char *const exact[] = { "add_edge", "acquire", "backtrace", "?" };

	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (!strncmp(name, prefix[i], strlen(prefix[i])))
			return true;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(name, exact[i]))
			return true;
	return false;
}

static size_t fmt_where(char *buf, size_t len, size_t off, const struct ld_where *w)
{
	if (!w->controlled)
		return fmt(buf, len, off, " (not under the scheduler)");
	if (w->decision < 0)
		return fmt(buf, len, off, " (controlled run)");
	return fmt(buf, len, off, " (schedule point: after %d decisions of the run)",
		   w->decision);
}

/*
 * "f < g < h": the saved stack, innermost first, from the frame that called
 * the lock primitive (the checker's and the primitives' frames left out).
 */
static size_t fmt_stack(char *buf, size_t len, size_t off, void *const *stack, int n)
{
	char name[96];
	int shown = 0;

	for (int i = 0; i < n && shown < 6; i++) {
		/* backtrace()'s frames are return addresses but the first. */
		if (i == 0)
			snprintf(name, sizeof(name), "?");
		else
			sym(stack[i], name, sizeof(name));
		if (!shown && internal_frame(name))
			continue;
		if (!strcmp(name, "sim_task_run"))	/* the scheduler's frames below */
			break;
		off = fmt(buf, len, off, "%s%s", shown ? " < " : "", name);
		shown++;
	}
	return shown ? off : fmt(buf, len, off, "?");
}

static size_t fmt_edge(char *buf, size_t len, size_t off, int a, int b,
		       const struct ld_edge *e)
{
	char name[96];

	sym(e->prev.ip, name, sizeof(name));
	off = fmt(buf, len, off, "\n  %s%s held (taken in %s", ld.class[a].name,
		  e->prev_read ? " (read)" : "", name);
	off = fmt_where(buf, len, off, &e->prev);
	off = fmt(buf, len, off, "),\n  then %s%s taken by task %s in ", ld.class[b].name,
		  e->next_read ? " (read)" : "", e->comm);
	off = fmt_stack(buf, len, off, e->stack, e->nstack);
	off = fmt_where(buf, len, off, &e->next);
	if (e->schedule && e->next.controlled)
		off = fmt(buf, len, off, "\n  replay: PINSIM_SCHEDULE=%s", e->schedule);
	return off;
}

/* ---------------- reports ---------------- */

static void add_report(enum lockdep_report_kind kind, const char *text)
{
	unsigned int i = atomic_fetch_add(&ld.nr_reports, 1);

	sim_printk("lockdep: %s: %s", lockdep_kind_name(kind), text);
	if (i >= LOCKDEP_MAX_REPORTS)
		return;
	ld.report[i].kind = kind;
	snprintf(ld.report[i].text, sizeof(ld.report[i].text), "%s", text);
	ld.report[i].schedule = schedule_now();
}

static void report_simple(enum lockdep_report_kind kind, const char *text)
{
	pthread_mutex_lock(&ld.lock);
	add_report(kind, text);
	pthread_mutex_unlock(&ld.lock);
}

static const char *comm_now(void)
{
	return current ? current->comm : "(no task)";
}

/* ---------------- the graph ---------------- */

/*
 * check_noncircular(): is there a path @from -> ... -> @to?  Breadth-first
 * over the class bitmap; @parent gets the BFS tree for printing the path.
 */
static bool bfs(int from, int to, int8_t *parent)
{
	int queue[LOCKDEP_MAX_CLASSES], head = 0, tail = 0;
	uint64_t seen = 1ull << from;

	queue[tail++] = from;
	parent[from] = -1;
	while (head < tail) {
		int a = queue[head++];
		uint64_t next = atomic_load_explicit(&ld.after[a], memory_order_relaxed) & ~seen;

		while (next) {
			int b = __builtin_ctzll(next);

			next &= next - 1;
			seen |= 1ull << b;
			parent[b] = (int8_t)a;
			if (b == to)
				return true;
			queue[tail++] = b;
		}
	}
	return false;
}

/* print_circular_bug(): the new edge, then the path that closes the cycle. */
static void report_cycle(int a, int b, const int8_t *parent)
{
	char *text = malloc(LD_TEXT);
	int path[LOCKDEP_MAX_CLASSES], n = 0;
	size_t off;

	if (!text)
		return;
	for (int c = a; c != -1 && n < LOCKDEP_MAX_CLASSES; c = parent[c])
		path[n++] = c;		/* a, ..., b reversed: b -> ... -> a */
	off = fmt(text, LD_TEXT, 0, "possible circular locking dependency: %s -> %s, while",
		  ld.class[a].name, ld.class[b].name);
	for (int i = n - 1; i > 0; i--)
		off = fmt(text, LD_TEXT, off, " %s ->", ld.class[path[i]].name);
	off = fmt(text, LD_TEXT, off, " %s is known. New dependency:", ld.class[a].name);
	off = fmt_edge(text, LD_TEXT, off, a, b, ld.edge[a][b]);
	off = fmt(text, LD_TEXT, off, "\nExisting dependency:");
	for (int i = n - 1; i > 0; i--)
		off = fmt_edge(text, LD_TEXT, off, path[i], path[i - 1],
			       ld.edge[path[i]][path[i - 1]]);
	add_report(LOCKDEP_CYCLE, text);
	free(text);
}

/* check_prev_add(): record @prev -> @next, checking the new edge for a cycle. */
static void add_edge(const struct ld_held *prev, int next, bool read, const struct ld_where *w)
{
	int a = prev->class;
	struct ld_edge *e = calloc(1, sizeof(*e));
	int8_t parent[LOCKDEP_MAX_CLASSES];

	if (!e)
		return;
	e->prev = prev->where;
	e->prev_read = prev->read;
	e->next = *w;
	if (w->controlled) {
		e->schedule = schedule_now();
		e->next.decision = decisions(e->schedule);
	}
	e->next_read = read;
	e->nstack = backtrace(e->stack, LD_STACK);
	snprintf(e->comm, sizeof(e->comm), "%s", comm_now());
	pthread_mutex_lock(&ld.lock);
	if (ld.edge[a][next]) {		/* another thread got there first */
		pthread_mutex_unlock(&ld.lock);
		free(e->schedule);
		free(e);
		return;
	}
	ld.edge[a][next] = e;
	atomic_fetch_or(&ld.after[a], 1ull << next);
	if (bfs(next, a, parent))
		report_cycle(a, next, parent);
	pthread_mutex_unlock(&ld.lock);
}

/* ---------------- the hooks ---------------- */

static void acquire(const void *lock, int16_t class, bool spin, bool read, bool trylock,
		    const void *ip)
{
	struct ld_task *t = ld_task(true);
	struct ld_held *h;
	struct ld_where w;

	if (!t || !class)
		return;
	/*
	 * spin_lock() is recorded before it spins (lock_acquire() comes before
	 * do_raw_spin_lock() in the kernel too); its contended path ends in a
	 * spin_trylock() that succeeds: the same acquisition, already here.
	 * (A spinlock is not recursive, so no other trylock of a lock we hold
	 * can succeed.)
	 */
	if (trylock && spin && t->depth && t->held[t->depth - 1].lock == lock)
		return;
	if (t->depth >= LOCKDEP_MAX_DEPTH) {
		bool first;

		pthread_mutex_lock(&ld.lock);
		first = !ld.depth_reported;
		ld.depth_reported = true;
		pthread_mutex_unlock(&ld.lock);
		if (first)
			report_simple(LOCKDEP_DEPTH, "MAX_LOCK_DEPTH too low: a task holds more than "
						     "LOCKDEP_MAX_DEPTH locks; the deeper ones are not checked");
		return;
	}
	where_now(&w, ip, false);
	/* check_prevs_add(): trylocks add no dependency. */
	for (int i = 0; i < t->depth && !trylock; i++) {
		int a = t->held[i].class;

		if (a == class ||
		    (atomic_load_explicit(&ld.after[a], memory_order_relaxed) & (1ull << class)))
			continue;
		add_edge(&t->held[i], class, read, &w);
	}
	h = &t->held[t->depth++];
	lockdep_thread_depth++;
	*h = (struct ld_held){ .lock = lock, .class = class, .read = read, .spin = spin, .where = w };
}

void __lockdep_acquire(const void *lock, const char *name, _Atomic int16_t *cls, bool read,
		       bool trylock, const void *ip)
{
	int16_t c = atomic_load_explicit(cls, memory_order_relaxed);

	if (!c) {
		c = class_lookup(name ? name : "(unnamed)", false);
		atomic_store_explicit(cls, c, memory_order_relaxed);
	}
	acquire(lock, c, false, read, trylock, ip);
}

void __lockdep_spin_acquire(const void *lock, bool trylock)
{
	static _Atomic int16_t ptl_class, ptl_other;
	const char *name = spin_class_name(lock);
	_Atomic int16_t *cls = name[0] == 'p' && name[1] == 't' ? &ptl_class : &ptl_other;
	int16_t c = atomic_load_explicit(cls, memory_order_relaxed);

	if (!c) {
		c = class_lookup(name, true);
		atomic_store_explicit(cls, c, memory_order_relaxed);
	}
	acquire(lock, c, true, false, trylock, __builtin_return_address(0));
}

/* lock_release(): the newest entry for @lock goes; the ones above it stay. */
void __lockdep_release(const void *lock)
{
	struct ld_task *t = ld_task(false);

	if (!t)
		return;
	for (int i = t->depth - 1; i >= 0; i--) {
		if (t->held[i].lock != lock)
			continue;
		memmove(&t->held[i], &t->held[i + 1], (size_t)(t->depth - i - 1) * sizeof(t->held[0]));
		t->depth--;
		lockdep_thread_depth--;
		return;
	}
	/* Taken while the checker was off: nothing to forget. */
}

void __lockdep_might_sleep(const char *name, const void *ip)
{
	struct ld_task *t = ld_task(false);
	char text[LD_TEXT], fn[96], held[96];
	struct ld_where w;
	size_t off;

	if (!t)
		return;
	for (int i = t->depth - 1; i >= 0; i--) {
		if (!t->held[i].spin)
			continue;
		where_now(&w, ip, true);
		sym(ip, fn, sizeof(fn));
		sym(t->held[i].where.ip, held, sizeof(held));
		off = fmt(text, sizeof(text), 0,
			  "sleeping function called from invalid context: task %s takes %s in %s",
			  comm_now(), name ? name : "a sleeping lock", fn);
		off = fmt_where(text, sizeof(text), off, &w);
		off = fmt(text, sizeof(text), off, " while holding %s (taken in %s",
			  ld.class[t->held[i].class].name, held);
		off = fmt_where(text, sizeof(text), off, &t->held[i].where);
		fmt(text, sizeof(text), off, ")");
		report_simple(LOCKDEP_SLEEP_IN_ATOMIC, text);
		return;
	}
}

void __lockdep_bad_unlock(const void *lock, const char *name, const void *ip)
{
	char text[LD_TEXT], fn[96];
	struct ld_where w;
	size_t off;

	where_now(&w, ip, true);
	sym(ip, fn, sizeof(fn));
	off = fmt(text, sizeof(text), 0, "bad unlock balance: task %s releases %s in %s",
		  comm_now(), name ? name : spin_class_name(lock), fn);
	off = fmt_where(text, sizeof(text), off, &w);
	fmt(text, sizeof(text), off, " but does not hold it");
	report_simple(LOCKDEP_BAD_UNLOCK, text);
}

void __lockdep_spin_bad_unlock(const void *lock)
{
	__lockdep_bad_unlock(lock, NULL, __builtin_return_address(0));
}

/* ---------------- control and results ---------------- */

/* PINSIM_LOCKDEP=always|off|controlled in the environment sets the mode at load. */
__attribute__((constructor)) static void lockdep_env(void)
{
	const char *e = getenv("PINSIM_LOCKDEP");

	if (!e)
		return;
	if (!strcmp(e, "always"))
		lockdep_set_mode(LOCKDEP_ALWAYS);
	else if (!strcmp(e, "off"))
		lockdep_set_mode(LOCKDEP_OFF);
	else if (!strcmp(e, "controlled"))
		lockdep_set_mode(LOCKDEP_SCHED);
}

void lockdep_set_mode(enum lockdep_mode mode)
{
	atomic_store(&lockdep_mode, mode);
}

unsigned int lockdep_nr_reports(void)
{
	return atomic_load(&ld.nr_reports);
}

bool lockdep_report(unsigned int i, enum lockdep_report_kind *kind, char *text, size_t len,
		    char *schedule, size_t slen)
{
	bool ok;

	pthread_mutex_lock(&ld.lock);
	ok = i < atomic_load(&ld.nr_reports) && i < LOCKDEP_MAX_REPORTS;
	if (ok) {
		if (kind)
			*kind = ld.report[i].kind;
		if (text && len)
			snprintf(text, len, "%s", ld.report[i].text);
		if (schedule && slen)
			snprintf(schedule, slen, "%s",
				 ld.report[i].schedule ? ld.report[i].schedule : "");
	}
	pthread_mutex_unlock(&ld.lock);
	return ok;
}

size_t lockdep_graph(char *buf, size_t len)
{
	int n = atomic_load(&ld.nr_classes);
	size_t off = 0;

	if (buf && len)
		buf[0] = '\0';
	for (int a = 1; a < n; a++) {
		uint64_t after = atomic_load(&ld.after[a]);

		for (int b = 1; b < n; b++)
			if (after & (1ull << b))
				off = fmt(buf, buf ? len : 0, off, "%s -> %s\n", ld.class[a].name,
					  ld.class[b].name);
	}
	return off;
}

bool lockdep_order_known(const char *a, const char *b)
{
	int n = atomic_load(&ld.nr_classes), ia = 0, ib = 0;

	for (int i = 1; i < n; i++) {
		if (!strcmp(ld.class[i].name, a))
			ia = i;
		if (!strcmp(ld.class[i].name, b))
			ib = i;
	}
	return ia && ib && (atomic_load(&ld.after[ia]) & (1ull << ib));
}

void lockdep_reset(void)
{
	pthread_mutex_lock(&ld.lock);
	for (int a = 0; a < LOCKDEP_MAX_CLASSES; a++) {
		atomic_store(&ld.after[a], 0);
		for (int b = 0; b < LOCKDEP_MAX_CLASSES; b++) {
			if (ld.edge[a][b])
				free(ld.edge[a][b]->schedule);
			free(ld.edge[a][b]);
			ld.edge[a][b] = NULL;
		}
	}
	for (unsigned int i = 0; i < LOCKDEP_MAX_REPORTS; i++) {
		free(ld.report[i].schedule);
		ld.report[i].schedule = NULL;
	}
	atomic_store(&ld.nr_reports, 0);
	ld.depth_reported = false;
	pthread_mutex_unlock(&ld.lock);
}

const char *lockdep_kind_name(enum lockdep_report_kind kind)
{
	switch (kind) {
	case LOCKDEP_CYCLE:
		return "lock-order";
	case LOCKDEP_SLEEP_IN_ATOMIC:
		return "sleep-in-atomic";
	case LOCKDEP_BAD_UNLOCK:
		return "bad-unlock";
	case LOCKDEP_DEPTH:
		return "lock-depth";
	}
	return "?";
}
