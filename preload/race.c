// SPDX-License-Identifier: GPL-2.0-only
/*
 * The race machinery from the environment (issue 12, observability): an
 * unmodified VMM run under the preload can be driven into the seeds' races
 * without a line of pinsim code in it.
 *
 *   PINSIM_IMPL=rewrite|tree   whose walker, numa_maps callbacks,
 *       follow_pfnmap_start() and type1 run (pinsim_config_set_impl()):
 *       "tree" needs a build configured with -Dkernel_tree=PATH; without
 *       PINSIM_KERNEL the kernel profile is then the tree's own
 *       (pinsim_kernel_tree_profile()), as the example programs do.
 *   PINSIM_POLICY=legacy|eagain|bounded[:N]|enoent   follow_fault_pfn()'s
 *       retry policy (seeds/03): legacy is every released kernel, eagain
 *       the 2026-03-17 patch, bounded N retries then EBUSY (default N 8),
 *       enoent the proposal with its follow_pfnmap_start() half
 *       (cfg.follow_pfnmap_enoent).  Overrides what PINSIM_KERNEL's profile
 *       set ("+eagain").  With PINSIM_IMPL=tree the policy is the tree's
 *       source: another one is refused, as pinsim_create() refuses it.
 *   PINSIM_INJECT=RULE[;RULE...]   zap/refault injector rules
 *       (pinsim_inject_add()), each ACTION@POINT[,KEY=VALUE...]:
 *         ACTION  zap_bars refault split_pud fault_retry fatal_signal
 *         POINT   the schedule point's name (sim/sched_point.c), e.g.
 *                 follow_fault_pfn:after_fixup, walk_pud_range:after_split
 *         nth=N   fire on the Nth hit only (the default is nth=1)
 *         p=P     fire with probability P per hit, 0 < P <= 1 (1: every
 *                 hit, the lockstep adversary), seeded: seed=N (default 1)
 *         max=N   fire at most N times (0: no limit, the default)
 *         dev=BDF zap_bars: the device (default: the first one)
 *         addr=A  refault/split_pud: the address (default: the point's)
 *       The actions act in the program's simulated process.  A rule with
 *       nth or p=1 fires at the same hits in every run of a program whose
 *       own calls are deterministic: no timing is involved.
 *   PINSIM_NUMA_MAPS=INTERVAL[:READS]   a host thread reading the
 *       program's /proc/pid/numa_maps in a loop, as a monitoring agent
 *       does (the seeds/01 reader; pinsim_read_numa_maps(), a task of the
 *       program's process): INTERVAL between reads, a number with us, ms
 *       or s (bare: microseconds; 0: back to back).  READS: stop after
 *       that many, and the program's exit waits for them (10 s at most);
 *       without it the reader runs until exit.
 *
 * Why here and not in the program: the seeds' races are between the VMM's
 * MAP_DMA and something else in the kernel (a zap, a reader splitting the
 * BAR's PUD); a VMM has no say in either.  The injector places the
 * "something else" at a named point deterministically; the reader does it
 * by timing, as a real agent does.
 *
 * The report (race_report()) goes into the exit summary; until the summary
 * asks for it, race.c prints it at exit itself (stderr, not with
 * PINSIM_QUIET).  A forked child does nothing here: the machine, the rules
 * and the reader are the machine host's.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"
#include "race.h"

#define RACE_MAX_RULES 16
#define READER_BUF (64U << 10)
/* How long exit waits for PINSIM_NUMA_MAPS's count of reads. */
#define READER_WAIT_NS (10ULL * 1000000000ULL)
/* How long a stopped reader may take to leave its read before it counts as hung. */
#define READER_GRACE_NS (2ULL * 1000000000ULL)

struct race_rule {
	char text[128]; /* as given, for the report */
	struct pinsim_inject_rule r;
	char dev[32]; /* dev=BDF, "" = the first device */
	int id; /* pinsim_inject_add()'s, -1 before */
};

static struct {
	bool any; /* one of the variables was set */
	pid_t pid; /* the machine host */
	enum pinsim_impl impl;
	enum pinsim_retry_policy policy;
	unsigned int bound;
	struct race_rule rule[RACE_MAX_RULES];
	int nr_rules;

	/* PINSIM_NUMA_MAPS */
	bool reader;
	unsigned long interval_us, max_reads;
	pthread_t thread;
	bool thread_ok;
	_Atomic bool stop, done, stopped, reported;
	_Atomic unsigned long reads, failed;
	/* written by the reader, read after it is done */
	_Atomic int last_errno;
	_Atomic bool oopsed;
	bool hung;
	char oops[256];
} race;

static const char *const point_name[PINSIM_NR_POINTS] = {
	[PINSIM_SP_WALK_PUD_AFTER_SPLIT] = "walk_pud_range:after_split",
	[PINSIM_SP_WALK_PMD_ENTRY] = "walk_pmd_range:entry",
	[PINSIM_SP_FOLLOW_PFNMAP_LOCKLESS] = "follow_pfnmap_start:lockless",
	[PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP] = "follow_fault_pfn:after_fixup",
	[PINSIM_SP_FAULT_BEFORE_INSERT] = "fault:before_insert",
	[PINSIM_SP_ZAP_BEFORE_CLEAR] = "zap:before_clear",
	[PINSIM_SP_PIN_BETWEEN_RUNS] = "vfio_pin_map_dma:between_runs",
	[PINSIM_SP_MMAP_LOCK] = "mmap_lock",
	[PINSIM_SP_PTL] = "ptl",
	[PINSIM_SP_WALK_PMD_AFTER_SPLIT] = "walk_pmd_range:after_split",
	[PINSIM_SP_MADV_DONTNEED_ZAP] = "madvise_dontneed:before_zap",
	[PINSIM_SP_THREAD_START] = "thread:start",
};

static const char *const action_name[PINSIM_NR_INJECT_ACTIONS] = {
	[PINSIM_INJECT_ZAP_BARS] = "zap_bars",
	[PINSIM_INJECT_REFAULT] = "refault",
	[PINSIM_INJECT_SPLIT_PUD] = "split_pud",
	[PINSIM_INJECT_FAULT_RETRY] = "fault_retry",
	[PINSIM_INJECT_FATAL_SIGNAL] = "fatal_signal",
};

static const char *const policy_name[] = {"legacy", "eagain", "bounded", "enoent"};

static int race_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int race_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(preload.error, sizeof(preload.error), fmt, ap);
	va_end(ap);
	return -1;
}

/* @s[0..n) is exactly @word. */
static bool is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && !memcmp(s, word, n);
}

static int lookup(const char *s, size_t n, const char *const *names, int nr)
{
	for (int i = 0; i < nr; i++)
		if (names[i] && is(s, n, names[i]))
			return i;
	return -1;
}

/* A whole unsigned number (0x.. allowed) from @s[0..n). */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
	char tmp[32], *end;

	if (!n || n >= sizeof(tmp) || *s == '-')
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	errno = 0;
	*out = strtoull(tmp, &end, 0);
	return !errno && end != tmp && !*end;
}

static bool parse_prob(const char *s, size_t n, double *out)
{
	char tmp[32], *end;

	if (!n || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	errno = 0;
	*out = strtod(tmp, &end);
	return !errno && end != tmp && !*end && isfinite(*out) && *out > 0 && *out <= 1;
}

/* "10ms", "500us", "1s", "250" (microseconds) -> microseconds. */
static bool parse_interval(const char *s, size_t n, unsigned long *us)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {{"us", 1}, {"ms", 1000}, {"s", 1000000}, {"", 1}};
	size_t digits = strspn(s, "0123456789");
	uint64_t v;

	if (digits > n)
		digits = n;
	if (!parse_u64(s, digits, &v))
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!is(s + digits, n - digits, units[i].unit))
			continue;
		if (v > 3600ULL * 1000000 / units[i].mul)
			return false; /* an hour at most */
		*us = (unsigned long)(v * units[i].mul);
		return true;
	}
	return false;
}

/* ---- PINSIM_IMPL, PINSIM_POLICY ---- */

/* The policy the built tree's source has, as its profile declares it. */
static enum pinsim_retry_policy tree_policy(void)
{
	struct pinsim_config c;

	pinsim_config_init(&c);
	if (pinsim_kernel_tree_profile())
		pinsim_config_set_kernel(&c, pinsim_kernel_tree_profile());
	return c.retry_policy;
}

static int config_impl(struct pinsim_config *cfg)
{
	const char *v = getenv("PINSIM_IMPL"), *k = getenv("PINSIM_KERNEL");

	if (!v || !*v)
		return 0;
	race.any = true;
	if (pinsim_config_set_impl(cfg, v)) {
		if (errno == EOPNOTSUPP)
			return race_error("PINSIM_IMPL=tree: this pinsim was built without a kernel "
					  "tree (meson setup -Dkernel_tree=PATH)");
		return race_error("PINSIM_IMPL: '%s' (rewrite, tree)", v);
	}
	/* The rest of the machine runs the tree's release, unless told otherwise. */
	if (cfg->impl == PINSIM_IMPL_TREE && (!k || !*k) &&
	    pinsim_config_set_kernel(cfg, pinsim_kernel_tree_profile()))
		return race_error("PINSIM_IMPL=tree: no profile for the tree's kernel '%s'",
				  pinsim_kernel_tree_profile());
	return 0;
}

static int config_policy(struct pinsim_config *cfg)
{
	const char *v = getenv("PINSIM_POLICY");
	size_t n = v ? strcspn(v, ":") : 0;
	uint64_t bound = cfg->retry_bound;
	int i;

	if (!v || !*v)
		return 0;
	race.any = true;
	i = lookup(v, n, policy_name, 4);
	if (i < 0 || (v[n] && (i != PINSIM_RETRY_BOUNDED ||
			       !parse_u64(v + n + 1, strlen(v + n + 1), &bound) || !bound ||
			       bound > 1000000)))
		return race_error("PINSIM_POLICY: '%s' (legacy, eagain, bounded[:N] with N in "
				  "1..1000000, enoent)",
				  v);
	if (cfg->impl == PINSIM_IMPL_TREE && (enum pinsim_retry_policy)i != tree_policy())
		return race_error("PINSIM_POLICY=%s with PINSIM_IMPL=tree: the tree's policy is "
				  "its source's (%s); apply the patch to the tree, e.g. "
				  "scripts/apply-seeds03-retry.py",
				  policy_name[i], policy_name[tree_policy()]);
	cfg->retry_policy = (enum pinsim_retry_policy)i;
	cfg->retry_bound = (unsigned int)bound;
	/* The ENOENT policy comes with its follow_pfnmap_start() half (seeds/03). */
	cfg->follow_pfnmap_enoent = i == PINSIM_RETRY_ENOENT;
	return 0;
}

/* ---- PINSIM_INJECT ---- */

static int rule_key(struct race_rule *rr, const char *key, size_t n)
{
	const char *eq = memchr(key, '=', n), *val;
	size_t kn, vn;
	uint64_t v;

	if (!eq)
		return race_error("PINSIM_INJECT: '%.*s' in '%s': expected KEY=VALUE", (int)n, key,
				  rr->text);
	kn = (size_t)(eq - key);
	val = eq + 1;
	vn = n - kn - 1;
	if (is(key, kn, "p")) {
		if (!parse_prob(val, vn, &rr->r.probability))
			return race_error("PINSIM_INJECT: p in '%s': a probability in (0, 1]",
					  rr->text);
		rr->r.nth = 0;
		return 0;
	}
	if (is(key, kn, "dev")) {
		if (!vn || vn >= sizeof(rr->dev))
			return race_error("PINSIM_INJECT: dev in '%s': a PCI address", rr->text);
		memcpy(rr->dev, val, vn);
		rr->dev[vn] = 0;
		return 0;
	}
	if (!parse_u64(val, vn, &v))
		return race_error("PINSIM_INJECT: '%.*s' in '%s': not a number", (int)n, key,
				  rr->text);
	if (is(key, kn, "nth") && v) {
		rr->r.nth = v;
		rr->r.probability = 0;
	} else if (is(key, kn, "max")) {
		rr->r.max_fires = v;
	} else if (is(key, kn, "seed")) {
		rr->r.seed = v;
	} else if (is(key, kn, "addr")) {
		rr->r.addr = v;
	} else {
		return race_error("PINSIM_INJECT: '%.*s' in '%s' (nth=N>0, p=P, max=N, seed=N, "
				  "dev=BDF, addr=A)",
				  (int)n, key, rr->text);
	}
	return 0;
}

/* ACTION@POINT[,KEY=VALUE...] */
static int parse_rule(const char *s, size_t n, struct race_rule *rr)
{
	const char *at = memchr(s, '@', n), *end = s + n, *p;
	size_t pn;
	int a, pt;

	memset(rr, 0, sizeof(*rr));
	rr->id = -1;
	snprintf(rr->text, sizeof(rr->text), "%.*s", (int)n, s);
	rr->r.nth = 1;
	rr->r.seed = 1;
	if (!at)
		return race_error("PINSIM_INJECT: '%s': expected ACTION@POINT[,KEY=VALUE...]",
				  rr->text);
	a = lookup(s, (size_t)(at - s), action_name, PINSIM_NR_INJECT_ACTIONS);
	if (a < 0)
		return race_error("PINSIM_INJECT: unknown action in '%s' (zap_bars, refault, "
				  "split_pud, fault_retry, fatal_signal)",
				  rr->text);
	p = at + 1;
	pn = strcspn(p, ",;");
	if (p + pn > end)
		pn = (size_t)(end - p);
	pt = lookup(p, pn, point_name, PINSIM_NR_POINTS);
	if (pt < 0)
		return race_error("PINSIM_INJECT: unknown point in '%s' (e.g. "
				  "follow_fault_pfn:after_fixup, walk_pud_range:after_split; "
				  "pinsim-run --help)",
				  rr->text);
	rr->r.action = (enum pinsim_inject_action)a;
	rr->r.point = (enum pinsim_point)pt;
	for (p += pn; p < end && *p == ',';) {
		const char *key = p + 1, *next = memchr(key, ',', (size_t)(end - key));

		if (!next)
			next = end;
		if (rule_key(rr, key, (size_t)(next - key)))
			return -1;
		p = next;
	}
	return 0;
}

static int config_inject(void)
{
	const char *s = getenv("PINSIM_INJECT");

	if (!s || !*s)
		return 0;
	race.any = true;
	while (*s) {
		size_t n = strcspn(s, ";");

		if (n && race.nr_rules == RACE_MAX_RULES)
			return race_error("PINSIM_INJECT: more than %d rules", RACE_MAX_RULES);
		if (n && parse_rule(s, n, &race.rule[race.nr_rules++]))
			return -1;
		s += n;
		if (*s == ';')
			s++;
	}
	return 0;
}

/* ---- PINSIM_NUMA_MAPS ---- */

static int config_numa_maps(void)
{
	const char *v = getenv("PINSIM_NUMA_MAPS");
	size_t n = v ? strcspn(v, ":") : 0;
	uint64_t reads = 0;

	if (!v || !*v)
		return 0;
	race.any = true;
	if (!parse_interval(v, n, &race.interval_us) ||
	    (v[n] && (!parse_u64(v + n + 1, strlen(v + n + 1), &reads) || !reads)))
		return race_error("PINSIM_NUMA_MAPS: '%s' (INTERVAL[:READS], e.g. 10ms, 0:100; "
				  "INTERVAL in us, ms or s, at most an hour)",
				  v);
	race.max_reads = (unsigned long)reads;
	race.reader = true;
	return 0;
}

int race_config(struct pinsim_config *cfg)
{
	race.pid = getpid();
	if (config_impl(cfg) || config_policy(cfg) || config_inject() || config_numa_maps())
		return -1;
	race.impl = cfg->impl;
	race.policy = cfg->retry_policy;
	race.bound = cfg->retry_bound;
	return 0;
}

/* ---- arming ---- */

static int rule_arm(struct race_rule *rr)
{
	int i = 0;

	rr->r.proc = preload.p;
	if (rr->dev[0]) {
		while (i < preload.nr_dev && strcmp(preload.dev[i].bdf, rr->dev))
			i++;
		if (i == preload.nr_dev)
			return race_error("PINSIM_INJECT: dev=%s in '%s' is no PINSIM_DEVICES device",
					  rr->dev, rr->text);
	}
	rr->r.group_id = preload.nr_dev ? preload.dev[i].group : -1;
	sim_enter();
	rr->id = pinsim_inject_add(preload.m, &rr->r);
	sim_exit();
	if (rr->id < 0)
		return race_error("PINSIM_INJECT: '%s' refused by the injector: %s (e.g. a zap "
				  "nested in a zap, at zap:before_clear or ptl)",
				  rr->text, strerror(errno));
	preload_trace("race: rule %d armed: %s", rr->id, rr->text);
	return 0;
}

/* Sleep @us in slices, so that a stop is seen within a millisecond. */
static void reader_pause(unsigned long us)
{
	while (us && !atomic_load(&race.stop)) {
		unsigned long slice = us < 1000 ? us : 1000;
		struct timespec ts = {.tv_nsec = (long)slice * 1000};

		nanosleep(&ts, NULL);
		us -= slice;
	}
}

/*
 * A task of the program's process reading its numa_maps (fs/proc/task_mmu.c
 * show_numa_map() through the page walker), as numa_maps_walker_fn() in
 * sim/task_mmu.c: an oops ends the reader (its task died holding
 * mmap_lock, the seeds/01 hang for everyone else), a fatal signal too.
 */
static void *reader_fn(void *arg)
{
	char *buf = malloc(READER_BUF);

	(void)arg;
	if (!buf) {
		atomic_store(&race.last_errno, ENOMEM);
		goto out;
	}
	sim_enter();
	while (!atomic_load(&race.stop) &&
	       (!race.max_reads || atomic_load(&race.reads) < race.max_reads)) {
		ssize_t n = pinsim_read_numa_maps(preload.p, buf, READER_BUF);
		int err = errno;

		if (n >= 0) {
			atomic_fetch_add(&race.reads, 1);
		} else {
			atomic_fetch_add(&race.failed, 1);
			atomic_store(&race.last_errno, err);
			if (err == EOWNERDEAD) {
				struct pinsim_stats st;

				if (!pinsim_stats(preload.m, &st))
					snprintf(race.oops, sizeof(race.oops), "%s", st.last_oops);
				atomic_store(&race.oopsed, true);
				break;
			}
			if (err == EINTR || err == ESRCH)
				break; /* killed: the reader exits */
		}
		reader_pause(race.interval_us);
	}
	sim_exit();
	free(buf);
out:
	atomic_store(&race.done, true);
	return NULL;
}

static int reader_start(void)
{
	sigset_t all, old;
	int err;

	/* The program's signals are for the program's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&race.thread, NULL, reader_fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return race_error("PINSIM_NUMA_MAPS: cannot start the reader: %s", strerror(err));
	race.thread_ok = true;
	preload_trace("race: numa_maps reader every %lu us, %lu reads (0: until exit)",
		      race.interval_us, race.max_reads);
	return 0;
}

static void race_at_exit(void);

int race_start(void)
{
	for (int i = 0; i < race.nr_rules; i++)
		if (rule_arm(&race.rule[i]))
			return -1;
	if (race.reader && reader_start())
		return -1;
	if (race.any)
		atexit(race_at_exit);
	return 0;
}

/* ---- stopping and the report ---- */

static void deadline_after(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ns / 1000000000ULL);
	ts->tv_nsec += (long)(ns % 1000000000ULL);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void race_stop(void)
{
	struct timespec ts;
	uint64_t waited = 0;

	if (!race.thread_ok || getpid() != race.pid || atomic_exchange(&race.stopped, true))
		return;
	/* A count of reads was asked for: let them happen first. */
	while (race.max_reads && !atomic_load(&race.done) && waited < READER_WAIT_NS) {
		struct timespec ms = {.tv_nsec = 1000000};

		nanosleep(&ms, NULL);
		waited += 1000000;
	}
	atomic_store(&race.stop, true);
	deadline_after(&ts, READER_GRACE_NS);
	if (pthread_timedjoin_np(race.thread, NULL, &ts)) {
		/* Blocked on mmap_lock behind a dead holder: it dies with the process. */
		race.hung = true;
		pthread_detach(race.thread);
	}
}

struct rbuf {
	char *buf;
	size_t len, n; /* n: the full length, as snprintf counts */
};

static void add(struct rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct rbuf *b, const char *fmt, ...)
{
	size_t room = b->n < b->len ? b->len - b->n : 0;
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(room ? b->buf + b->n : NULL, room, fmt, ap);
	va_end(ap);
	if (k > 0)
		b->n += (size_t)k;
}

/* JSON string contents: rule text and oops text. */
static void add_json_str(struct rbuf *b, const char *s)
{
	add(b, "\"");
	for (; *s; s++)
		add(b, *s == '"' || *s == '\\' ? "\\%c" : "%c", (unsigned char)*s < 0x20 ? ' ' : *s);
	add(b, "\"");
}

static void rule_counts(const struct race_rule *rr, unsigned long *hits, unsigned long *fires)
{
	*hits = *fires = 0;
	if (rr->id < 0)
		return;
	sim_enter();
	pinsim_inject_stats(preload.m, rr->id, hits, fires);
	sim_exit();
}

static const char *reader_state(void)
{
	if (atomic_load(&race.oopsed))
		return "oopsed";
	return race.hung ? "hung on mmap_lock" : "no oops";
}

static void report_text(struct rbuf *b)
{
	add(b, "  race: impl %s, retry policy %s", pinsim_impl_name(race.impl),
	    policy_name[race.policy]);
	if (race.policy == PINSIM_RETRY_BOUNDED)
		add(b, ":%u", race.bound);
	add(b, "\n");
	for (int i = 0; i < race.nr_rules; i++) {
		unsigned long hits, fires;

		rule_counts(&race.rule[i], &hits, &fires);
		add(b, "  race: inject %s: %lu hits, %lu fired\n", race.rule[i].text, hits, fires);
	}
	if (!race.reader)
		return;
	add(b, "  race: numa_maps reader every %lu us: %lu reads, %lu failed", race.interval_us,
	    atomic_load(&race.reads), atomic_load(&race.failed));
	if (atomic_load(&race.last_errno))
		add(b, " (last: %s)", strerror(atomic_load(&race.last_errno)));
	add(b, ", %s", reader_state());
	if (atomic_load(&race.oopsed))
		add(b, ": %s", race.oops);
	add(b, "\n");
}

static void report_json(struct rbuf *b)
{
	add(b, "\"race\": {\"impl\": \"%s\", \"policy\": \"%s\", \"retry_bound\": %u, \"rules\": [",
	    pinsim_impl_name(race.impl), policy_name[race.policy], race.bound);
	for (int i = 0; i < race.nr_rules; i++) {
		unsigned long hits, fires;

		rule_counts(&race.rule[i], &hits, &fires);
		add(b, "%s{\"rule\": ", i ? ", " : "");
		add_json_str(b, race.rule[i].text);
		add(b, ", \"hits\": %lu, \"fires\": %lu}", hits, fires);
	}
	add(b, "], \"numa_maps\": ");
	if (!race.reader) {
		add(b, "null}");
		return;
	}
	add(b, "{\"interval_us\": %lu, \"reads\": %lu, \"failed\": %lu, \"oopsed\": %s, "
	       "\"hung\": %s, \"oops\": ",
	    race.interval_us, atomic_load(&race.reads), atomic_load(&race.failed),
	    atomic_load(&race.oopsed) ? "true" : "false", race.hung ? "true" : "false");
	add_json_str(b, race.oops);
	add(b, "}}");
}

size_t race_report(char *buf, size_t len, bool json)
{
	struct rbuf b = {buf, len, 0};

	if (len)
		buf[0] = 0;
	if (!race.any || getpid() != race.pid || !preload.ready)
		return 0;
	race_stop();
	atomic_store(&race.reported, true);
	if (json)
		report_json(&b);
	else
		report_text(&b);
	return b.n < len ? b.n : len ? len - 1 : 0;
}

/* Until the exit summary carries the report: print it here, after the summary. */
static void race_at_exit(void)
{
	const char *q = getenv("PINSIM_QUIET");
	static char buf[4096];
	static const char head[] = "pinsim-preload race machinery\n";
	size_t n;

	race_stop();
	if (atomic_load(&race.reported) || (q && atoi(q)))
		return;
	n = race_report(buf, sizeof(buf), false);
	if (!n)
		return;
	(void)!REAL(write)(STDERR_FILENO, head, sizeof(head) - 1);
	(void)!REAL(write)(STDERR_FILENO, buf, n);
}
