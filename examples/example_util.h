/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the example programs share: time, argument parsing with the same
 * messages and exit status (2) for bad arguments, the --kernel option (named
 * kernel profiles: parsing, --kernel list, the printed and JSON records of
 * the switches a run had), and QEMU's aligned mmap of a device region.
 * Public API only; each program defines `static const char *prog` before
 * including this.  Functions are static inline: a program uses a subset.
 */
#ifndef EXAMPLES_EXAMPLE_UTIL_H
#define EXAMPLES_EXAMPLE_UTIL_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <pinsim/pinsim.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void __attribute__((noreturn, format(printf, 1, 2))) bad_arg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(try --help)\n");
	exit(2);
}

/* SIZE: a number with an optional K, M, G or T suffix (binary; "KiB" etc. too). */
static inline bool parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (shift && (!strcasecmp(end, "iB") || !strcasecmp(end, "B")))
		end += strlen(end);
	if (*end || v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static inline bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* ---------------------------------------------------------------------- */
/* --kernel VERSION: the named kernel profiles                            */
/* ---------------------------------------------------------------------- */

/* The profile a program runs without --kernel: pinsim_config_init()'s. */
#define EX_KERNEL_DEFAULT "upstream"
#define EX_MAX_SWITCHES 32

/* The kernel-version switches of a config, in pinsim_kernel_describe()'s order. */
struct ex_switches {
	int n;
	char name[EX_MAX_SWITCHES][48];
	bool on[EX_MAX_SWITCHES];
};

/*
 * Parse pinsim_kernel_describe()'s "name value commit" lines.  This is the
 * only place the programs learn switch names: a switch added to the
 * library shows up in every program's output without a change here.
 */
static inline void ex_kernel_switches(const struct pinsim_config *cfg, struct ex_switches *sw)
{
	size_t len = pinsim_kernel_describe(cfg, NULL, 0) + 1;
	char *buf = malloc(len), *line, *save;

	sw->n = 0;
	if (!buf)
		return;
	pinsim_kernel_describe(cfg, buf, len);
	for (line = strtok_r(buf, "\n", &save); line && sw->n < EX_MAX_SWITCHES;
	     line = strtok_r(NULL, "\n", &save)) {
		int v;

		if (sscanf(line, "%47s %d", sw->name[sw->n], &v) == 2 && (v == 0 || v == 1))
			sw->on[sw->n++] = v;
	}
	free(buf);
}

/* The profile names, ", "-separated, for messages and --help. */
static inline const char *ex_kernel_names(char *buf, size_t len)
{
	const struct pinsim_kernel_profile *p;
	size_t n = pinsim_kernel_profiles(&p), at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", p[i].name);
	return buf;
}

/* --kernel list: every profile, its summary and its switches. */
static inline void ex_kernel_list(FILE *f)
{
	const struct pinsim_kernel_profile *p;
	size_t n = pinsim_kernel_profiles(&p);

	fprintf(f, "Kernel profiles (--kernel NAME): each kernel-version switch, its value, "
		   "and the upstream\ncommit it follows.\n");
	for (size_t i = 0; i < n; i++) {
		struct pinsim_config cfg;
		char buf[4096], *line, *save;

		pinsim_config_init(&cfg);
		if (pinsim_config_set_kernel(&cfg, p[i].name))
			continue;
		pinsim_kernel_describe(&cfg, buf, sizeof(buf));
		fprintf(f, "\n%s: %s\n", p[i].name, p[i].summary);
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			fprintf(f, "    %s\n", line);
	}
	fprintf(f, "\n6.12.N: any 6.12 stable release from 6.12.29 to 6.12.118, with the switches of the "
		   "fixes it has\n(the Debian changelog's); its name is recorded as given.\n");
}

/*
 * --kernel's argument into @out: "list" prints the profiles and exits 0, a
 * name pinsim_config_set_kernel() refuses exits 2 (before any work).
 */
static inline void ex_kernel_arg(const char *arg, char *out, size_t len)
{
	struct pinsim_config cfg;
	char names[256];

	if (!strcmp(arg, "list")) {
		ex_kernel_list(stdout);
		exit(0);
	}
	pinsim_config_init(&cfg);
	if (strlen(arg) >= len || pinsim_config_set_kernel(&cfg, arg))
		bad_arg("--kernel: unknown kernel '%s': one of %s, or 6.12.N (a 6.12 stable "
			"release from 6.12.29 to 6.12.118); --kernel list describes them", arg,
			ex_kernel_names(names, sizeof(names)));
	memcpy(out, arg, strlen(arg) + 1);
}

/* Set @cfg's switches from profile @name, which ex_kernel_arg() accepted. */
static inline void ex_kernel_set(struct pinsim_config *cfg, const char *name)
{
	if (pinsim_config_set_kernel(cfg, name)) {
		fprintf(stderr, "%s: pinsim_config_set_kernel(%s): %s\n", prog, name,
			strerror(errno));
		exit(1);
	}
}

/*
 * @cfg's switches, and in @changed which of them differ from the profile
 * cfg->kernel names: the overrides a program applied after --kernel.
 */
static inline void ex_kernel_diff(const struct pinsim_config *cfg, struct ex_switches *have,
				  bool *changed)
{
	struct pinsim_config base;
	struct ex_switches want;

	pinsim_config_init(&base);
	ex_kernel_switches(cfg, have);
	if (pinsim_config_set_kernel(&base, cfg->kernel))
		want.n = 0;
	else
		ex_kernel_switches(&base, &want);
	for (int i = 0; i < have->n; i++)
		changed[i] = i < want.n && have->on[i] != want.on[i];
}

/* "6.12.118", or "6.12.118 (modified: pagewalk_fixed=0)" after an override. */
static inline const char *ex_kernel_label(const struct pinsim_config *cfg, char *buf, size_t len)
{
	bool changed[EX_MAX_SWITCHES];
	struct ex_switches sw;
	size_t at;
	int nr = 0;

	ex_kernel_diff(cfg, &sw, changed);
	at = (size_t)snprintf(buf, len, "%s", cfg->kernel);
	for (int i = 0; i < sw.n && at < len; i++)
		if (changed[i])
			at += (size_t)snprintf(buf + at, len - at, "%s%s=%d",
					       nr++ ? ", " : " (modified: ", sw.name[i], sw.on[i]);
	if (nr && at < len)
		snprintf(buf + at, len - at, ")");
	return buf;
}

static inline void ex_impl_print(FILE *f, const char *indent, const struct pinsim_config *cfg);
static inline void ex_impl_json(FILE *f, const struct pinsim_config *cfg);

/* A "kernel: LABEL" line, then the "implementation:" one. */
static inline void ex_kernel_print(FILE *f, const char *indent, const struct pinsim_config *cfg)
{
	char label[512];

	fprintf(f, "%skernel: %s\n", indent, ex_kernel_label(cfg, label, sizeof(label)));
	ex_impl_print(f, indent, cfg);
}

/*
 * The JSON members `"kernel": NAME, "kernel_modified": {overridden switch:
 * value}, "kernel_switches": {switch: value, ...}` (the effective values),
 * then ex_impl_json()'s, without a separator before or after.
 */
static inline void ex_kernel_json(FILE *f, const struct pinsim_config *cfg)
{
	bool changed[EX_MAX_SWITCHES];
	struct ex_switches sw;
	int nr = 0;

	ex_kernel_diff(cfg, &sw, changed);
	fprintf(f, "\"kernel\": \"%s\", \"kernel_modified\": {", cfg->kernel);
	for (int i = 0; i < sw.n; i++)
		if (changed[i])
			fprintf(f, "%s\"%s\": %s", nr++ ? ", " : "", sw.name[i],
				sw.on[i] ? "true" : "false");
	fprintf(f, "}, \"kernel_switches\": {");
	for (int i = 0; i < sw.n; i++)
		fprintf(f, "%s\"%s\": %s", i ? ", " : "", sw.name[i], sw.on[i] ? "true" : "false");
	fprintf(f, "}, ");
	ex_impl_json(f, cfg);
}

/*
 * An option's --help entry: "  OPTION" then @text word-wrapped to 80
 * columns, every line of it starting at column @col.
 */
static inline void ex_help_opt(FILE *f, int col, const char *option, const char *text)
{
	int width = 80 - col, at = fprintf(f, "  %s", option);

	if (at >= col) {
		fputc('\n', f);
		at = 0;
	}
	while (*text) {
		int n = (int)strlen(text), cut = n;

		if (n > width) {
			for (cut = width; cut > 0 && text[cut] != ' '; cut--)
				;
			if (!cut)
				cut = width;
		}
		fprintf(f, "%*s%.*s\n", col - at, "", cut, text);
		at = 0;
		text += cut;
		while (*text == ' ')
			text++;
	}
}

/*
 * --help's --kernel entry, the description starting at column @col; @dflt
 * says what runs without the option (NULL: EX_KERNEL_DEFAULT).
 */
static inline void ex_kernel_help(FILE *f, int col, const char *dflt)
{
	char names[256], text[1024];

	snprintf(text, sizeof(text),
		 "the simulated kernel: every version switch from a named profile, %s (default "
		 "%s), or 6.12.N (a 6.12 stable release from 6.12.29 to 6.12.118); 'list' prints each "
		 "profile and its switches", ex_kernel_names(names, sizeof(names)),
		 dflt ? dflt : EX_KERNEL_DEFAULT);
	ex_help_opt(f, col, "--kernel VERSION", text);
}

/* ---------------------------------------------------------------------- */
/* --impl rewrite|tree: whose walker, follow_pfnmap_start() and type1 run */
/* ---------------------------------------------------------------------- */

/*
 * --impl's argument: "rewrite" (pinsim's own code, the default) or "tree"
 * (the kernel tree the build was configured with, -Dkernel_tree).  Bad
 * names, and "tree" in a build without one, exit 2 before any work.
 */
static inline enum pinsim_impl ex_impl_arg(const char *arg)
{
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	if (pinsim_config_set_impl(&cfg, arg)) {
		if (errno == EOPNOTSUPP)
			bad_arg("--impl tree: this pinsim was built without a kernel tree; "
				"configure it with meson setup -Dkernel_tree=PATH (README, \"Test "
				"your kernel or your patch\")");
		bad_arg("--impl: unknown implementation '%s': rewrite or tree", arg);
	}
	return cfg.impl;
}

/*
 * The profile a --impl tree run uses without --kernel: the one describing
 * the tree (its version, or -Dkernel_tree_profile), so that the rest of the
 * machine (VFIO type1, faults) runs the same release as the tree's walker.
 * NULL: keep the program's default.
 */
static inline const char *ex_impl_kernel(enum pinsim_impl impl)
{
	return impl == PINSIM_IMPL_TREE ? pinsim_kernel_tree_profile() : NULL;
}

/*
 * The retry policies are pinsim's rewrite of vfio_iommu_type1.c; the
 * tree's does what its source does (pinsim_create() refuses another policy
 * with the tree).
 */
#define EX_IMPL_TREE_POLICY                                                            \
	"with --impl tree a retry policy is whatever the tree's source does: apply the " \
	"patch, e.g. the seeds/03 retry patch (scripts/apply-seeds03-retry.py), to the " \
	"tree"

/*
 * The retry policy of the built tree's source, as its profile declares it
 * (+eagain: the seeds/03 patch applied; else LEGACY, what every released
 * kernel does).  LEGACY without a tree.
 */
static inline enum pinsim_retry_policy ex_impl_tree_policy(void)
{
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	if (pinsim_kernel_tree_profile())
		pinsim_config_set_kernel(&cfg, pinsim_kernel_tree_profile());
	return cfg.retry_policy;
}

/* --policy NAME with --impl tree: a usage error, exit 2. */
static inline void ex_impl_policy_check(enum pinsim_impl impl, const char *policy)
{
	if (impl == PINSIM_IMPL_TREE && policy)
		bad_arg("--policy %s: %s", policy, EX_IMPL_TREE_POLICY);
}

/* --help's --impl entry. */
static inline void ex_impl_help(FILE *f, int col)
{
	const char *path, *v = pinsim_kernel_tree_version(&path);
	char text[1024];

	if (v)
		snprintf(text, sizeof(text),
			 "whose code runs the page walker, the numa_maps callbacks, "
			 "follow_pfnmap_start() and VFIO type1 (drivers/vfio/vfio_iommu_type1.c): "
			 "'rewrite' (pinsim's, default) or 'tree' (Linux %s from %s, compiled in; "
			 "--kernel then defaults to %s).  Note: " EX_IMPL_TREE_POLICY ".", v, path,
			 pinsim_kernel_tree_profile());
	else
		snprintf(text, sizeof(text),
			 "whose code runs the page walker, the numa_maps callbacks, "
			 "follow_pfnmap_start() and VFIO type1: 'rewrite' (pinsim's, default); "
			 "'tree' needs a build configured with -Dkernel_tree=PATH.  Note: "
			 EX_IMPL_TREE_POLICY ".");
	ex_help_opt(f, col, "--impl rewrite|tree", text);
}

/* An "implementation: ..." line. */
static inline void ex_impl_print(FILE *f, const char *indent, const struct pinsim_config *cfg)
{
	const char *path, *v = pinsim_kernel_tree_version(&path);

	if (cfg->impl == PINSIM_IMPL_TREE)
		fprintf(f, "%simplementation: tree (Linux %s, %s)\n", indent, v, path);
	else
		fprintf(f, "%simplementation: rewrite\n", indent);
}

/*
 * The JSON members `"impl": "rewrite"|"tree", "kernel_tree": null |
 * {"version": V, "path": P}` (the tree compiled in, whichever impl ran),
 * without a separator before or after.
 */
static inline void ex_impl_json(FILE *f, const struct pinsim_config *cfg)
{
	const char *path, *v = pinsim_kernel_tree_version(&path);

	fprintf(f, "\"impl\": \"%s\", \"kernel_tree\": ", pinsim_impl_name(cfg->impl));
	if (!v) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{\"version\": \"%s\", \"path\": \"", v);
	for (; *path; path++)
		fprintf(f, *path == '"' || *path == '\\' ? "\\%c" : "%c", *path);
	fprintf(f, "\"}");
}

/* ---------------------------------------------------------------------- */
/* A device region mmapped the way QEMU does it                           */
/* ---------------------------------------------------------------------- */

/*
 * QEMU aligns each mmap of a VFIO region itself (hw/vfio/region.c,
 * vfio_region_mmap(), "vfio/helpers: Align mmaps"): to the largest power of
 * two dividing the size, at most 1 GiB, by reserving len + align bytes of
 * PROT_NONE anonymous memory, trimming it and mapping the region MAP_FIXED
 * at the aligned start.  Kernels whose vfio-pci has no get_unmapped_area
 * (every 6.12) would otherwise place a BAR anywhere and never use its PMD
 * and PUD pfnmap leaves; with one (vfio_pci_mmap_align) this changes nothing.
 */
static inline uint64_t ex_mmap_region(struct pinsim_proc *p, uint64_t len, int prot, int fd,
				      uint64_t off)
{
	uint64_t align = len & -len, base, at, va;
	int err;

	if (align > (1ULL << 30))
		align = 1ULL << 30;
	base = pinsim_mmap(p, 0, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == PINSIM_MAP_FAILED)
		return base;
	at = (base + align - 1) & ~(align - 1);
	if (at > base)
		pinsim_munmap(p, base, at - base);
	if (base + len + align > at + len)
		pinsim_munmap(p, at + len, base + len + align - (at + len));
	va = pinsim_mmap(p, at, len, prot, MAP_SHARED | MAP_FIXED, fd, off);
	if (va == PINSIM_MAP_FAILED) {
		err = errno;
		pinsim_munmap(p, at, len);
		errno = err;
	}
	return va;
}

/* ---------------------------------------------------------------------- */
/* Options every program shares: --version, values, outputs               */
/* ---------------------------------------------------------------------- */

/* --version: the program's name and the library's version, exit 0. */
static inline void __attribute__((noreturn)) ex_version(void)
{
	printf("%s (pinsim) %s\n", prog, pinsim_version());
	exit(0);
}

/*
 * getopt_long()'s ':' and '?' answers as the programs' one message each:
 * "option --json needs a value", "unknown option '--frobnicate'" (exit 2).
 */
static inline void __attribute__((noreturn)) ex_getopt_error(int c, char **argv)
{
	if (c == ':')
		bad_arg("option %s needs a value", argv[optind - 1]);
	bad_arg("unknown option '%s'", argv[optind - 1]);
}

/*
 * A required value that is itself one of the options ("--json --quiet")
 * is a missing value, not a file named --quiet: getopt_long() would take it.
 */
static inline void ex_check_value(const struct option *lopts, int c, char **argv)
{
	const char *name = NULL;

	for (const struct option *o = lopts; o->name; o++)
		if (o->val == c && o->has_arg == required_argument)
			name = o->name;
	if (!name || !optarg || strncmp(optarg, "--", 2) || !optarg[2])
		return;
	for (const struct option *o = lopts; o->name; o++) {
		size_t n = strlen(o->name);

		if (!strncmp(optarg + 2, o->name, n) && (!optarg[2 + n] || optarg[2 + n] == '='))
			bad_arg("option --%s needs a value (got the option %s)", name, optarg);
	}
}

/*
 * An output named on the command line, opened before any work so that a bad
 * path fails at once: "-" is stdout.  Exits 1 with the path and the reason.
 */
static inline FILE *ex_open_out(const char *opt_name, const char *path)
{
	FILE *f;

	if (!strcmp(path, "-"))
		return stdout;
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "%s: %s %s: cannot open for writing: %s\n", prog, opt_name, path,
			strerror(errno));
		exit(1);
	}
	return f;
}

/* Close an output of ex_open_out() (stdout is flushed, not closed); false on error. */
static inline bool ex_close_out(FILE *f)
{
	if (f == stdout)
		return !fflush(f) && !ferror(f);
	return !(ferror(f) | fclose(f));
}

/* A JSON string, escaped. */
static inline void ex_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* `"program": P, "version": V` without a separator before or after. */
static inline void ex_version_json(FILE *f)
{
	fprintf(f, "\"program\": \"%s\", \"version\": \"%s\"", prog, pinsim_version());
}

/* Progress lines only for a person watching: stderr a terminal, no --quiet. */
static inline bool ex_progress_wanted(bool quiet)
{
	return !quiet && isatty(STDERR_FILENO);
}

/* ---------------------------------------------------------------------- */
/* The watchdog: progress, not wall time                                  */
/* ---------------------------------------------------------------------- */

/*
 * A thread that samples the program's progress every 200 ms and fires only
 * when nothing has progressed for limit_s seconds, so a slow run that
 * progresses never trips it.  Then it tells the two ways a run stops
 * progressing apart:
 *  - livelock: the program's activity counters (faults, retry rounds) still
 *    move and the CPU is busy: a retry loop without end (seeds/03 lockstep);
 *  - blocked: nothing moves: a task waits on a lock for good (seeds/01: the
 *    VMM's mmap_lock, held by a reader that oopsed), named by
 *    pinsim_lock_report().
 * The program's fire() prints its summary and writes its JSON of what
 * completed, then exits.
 */
enum ex_stall { EX_STALL_LIVELOCK, EX_STALL_BLOCKED };

struct ex_stall_info {
	enum ex_stall kind;
	double stalled_s;	/* since the last progress */
	double cpu_s;		/* CPU the process used meanwhile */
	uint64_t activity;	/* activity counters' growth meanwhile */
	char doing[256];	/* what the program was doing */
	char locks[1024];	/* pinsim_lock_report() */
};

struct ex_watchdog {
	unsigned int limit_s;
	_Atomic uint64_t progress;	/* the program's steps done */
	char doing[256];		/* what the program does now (ex_wd_doing()) */
	pthread_mutex_t lock;		/* serializes sample() against ex_wd_set_target() */
	struct pinsim *sim;		/* the machine to name lock holders in */
	/* counters read by the watchdog thread, under lock; may be NULL */
	void (*sample)(uint64_t *progress, uint64_t *activity);
	void (*fire)(const struct ex_stall_info *info);
};

static struct ex_watchdog ex_wd = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* One step done: the watchdog starts counting again. */
static inline void ex_wd_tick(void)
{
	atomic_fetch_add_explicit(&ex_wd.progress, 1, memory_order_relaxed);
}

/* What the program is about to do, for the watchdog's report; a tick too. */
static inline void ex_wd_doing(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void ex_wd_doing(const char *fmt, ...)
{
	char buf[sizeof(ex_wd.doing)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&ex_wd.lock);
	memcpy(ex_wd.doing, buf, sizeof(buf));
	pthread_mutex_unlock(&ex_wd.lock);
	ex_wd_tick();
}

/* The machine the watchdog reports on (NULL while there is none). */
static inline void ex_wd_set_sim(struct pinsim *sim)
{
	pthread_mutex_lock(&ex_wd.lock);
	ex_wd.sim = sim;
	pthread_mutex_unlock(&ex_wd.lock);
}

static inline double ex_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void *ex_wd_thread(void *arg)
{
	uint64_t last_p = UINT64_MAX, last_a = 0, since = now_ns();
	double cpu0 = ex_cpu_s();
	struct timespec tick = { 0, 200000000 };

	(void)arg;
	for (;;) {
		uint64_t p = 0, a = 0, t;
		struct ex_stall_info info = { 0 };

		nanosleep(&tick, NULL);
		pthread_mutex_lock(&ex_wd.lock);
		if (ex_wd.sample)
			ex_wd.sample(&p, &a);
		pthread_mutex_unlock(&ex_wd.lock);
		p += atomic_load_explicit(&ex_wd.progress, memory_order_relaxed);
		t = now_ns();
		if (p != last_p) {
			last_p = p;
			last_a = a;
			since = t;
			cpu0 = ex_cpu_s();
			continue;
		}
		if (t - since < (uint64_t)ex_wd.limit_s * 1000000000ull)
			continue;
		info.stalled_s = (double)(t - since) / 1e9;
		info.cpu_s = ex_cpu_s() - cpu0;
		info.activity = a - last_a;
		info.kind = info.activity ? EX_STALL_LIVELOCK : EX_STALL_BLOCKED;
		pthread_mutex_lock(&ex_wd.lock);
		memcpy(info.doing, ex_wd.doing, sizeof(info.doing));
		if (ex_wd.sim)
			pinsim_lock_report(ex_wd.sim, info.locks, sizeof(info.locks));
		pthread_mutex_unlock(&ex_wd.lock);
		ex_wd.fire(&info);
		_exit(3);	/* fire() exits; never run on */
	}
	return NULL;
}

/* Start the watchdog: @limit_s seconds without progress fire @fire. */
static inline void ex_wd_start(unsigned int limit_s, void (*sample)(uint64_t *, uint64_t *),
			       void (*fire)(const struct ex_stall_info *))
{
	pthread_t th;

	ex_wd.limit_s = limit_s;
	ex_wd.sample = sample;
	ex_wd.fire = fire;
	if (pthread_create(&th, NULL, ex_wd_thread, NULL)) {
		fprintf(stderr, "%s: cannot start the watchdog thread\n", prog);
		return;
	}
	pthread_detach(th);
}

/* The watchdog's verdict in one paragraph, on @f. */
static inline void ex_wd_print(FILE *f, const struct ex_stall_info *in, const char *loop)
{
	if (in->kind == EX_STALL_LIVELOCK) {
		fprintf(f, "%s: watchdog: livelock: no progress for %.1f s while %s, yet the CPU "
			   "is busy (%.1f s of CPU) and %" PRIu64 " retry-loop steps ran: %s\n",
			prog, in->stalled_s, in->doing, in->cpu_s, in->activity, loop);
		return;
	}
	fprintf(f, "%s: watchdog: blocked: no progress and no activity for %.1f s while %s "
		   "(%.1f s of CPU): a task waits on a lock for good\n", prog, in->stalled_s,
		in->doing, in->cpu_s);
	if (in->locks[0]) {
		const char *s = in->locks;

		fprintf(f, "%s: watchdog: who holds what:\n", prog);
		while (*s) {
			size_t n = strcspn(s, "\n");

			fprintf(f, "  %.*s\n", (int)n, s);
			s += n + (s[n] == '\n');
		}
	} else {
		fprintf(f, "%s: watchdog: no simulated lock is held: the wait is the program's "
			   "own\n", prog);
	}
}

/* The JSON object of a watchdog verdict (null when it did not fire). */
static inline void ex_wd_json(FILE *f, const struct ex_stall_info *in, const char *loop)
{
	if (!in) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"kind\": \"%s\", \"stalled_s\": %.1f, \"cpu_s\": %.1f, "
		   "\"loop_steps\": %" PRIu64 ", \"doing\": ",
		in->kind == EX_STALL_LIVELOCK ? "livelock" : "blocked", in->stalled_s, in->cpu_s,
		in->activity);
	ex_json_string(f, in->doing);
	fputs(", \"detail\": ", f);
	ex_json_string(f, in->kind == EX_STALL_LIVELOCK ? loop : in->locks);
	fputc('}', f);
}

#endif /* EXAMPLES_EXAMPLE_UTIL_H */
