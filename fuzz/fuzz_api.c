// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target over pinsim's public API (include/pinsim/pinsim.h only:
 * the fuzzer sees the simulation the way a VMM sees the kernel).
 *
 * An input is a small bytecode: one header byte choosing the machine's
 * configuration (kernel profile, THP mode, IOMMU page sizes, type1 module
 * parameters), then operations, each one opcode byte followed by the bytes
 * it reads for its arguments (a read past the end gives zeros; the input
 * ends when the opcodes do).  Operations: process create/destroy/kill/fork,
 * RLIMIT_MEMLOCK and CAP_IPC_LOCK, open/close of every VFIO path (and bad
 * ones), ioctl with the real <linux/vfio.h> requests and structs built from
 * the input with a random argsz (and random request numbers, high bits set
 * included), pread/pwrite of device regions, mmap/munmap/madvise of
 * anonymous, THP, hugetlb and BAR memory, CPU access, long-term pins,
 * numa_maps reads, device DMA and interrupts, and allocation-failure
 * injection (pinsim_fail_nth()/pinsim_fail_every()).
 *
 * Not armed: the zap/refault injector, the numa_maps walker thread, the
 * deterministic scheduler and inject rules.  Those are how pinsim models the
 * seeds/01 and seeds/03 races, which oops or WARN on purpose; without them
 * nothing an input does may oops or WARN, so any oops or WARN is a finding.
 *
 * Invariants (a failure prints the recent operations and traps):
 *  - after every operation: no oops, no WARN, no DMA to an unpinned frame
 *    (pinsim_stats() oopses, warnings, dma_violations); WARNs are allowed
 *    on a machine whose smallest IOMMU page is 2M, where the kernel's
 *    vfio_dma_do_map() WARNs on every MAP_DMA (the header asks for that);
 *  - at the end, after every pin is dropped, every mapping unmapped and
 *    every fd closed: locked_vm 0 in every process (not killed, whose
 *    munmap may fairly fail with EINTR);
 *  - once every process is destroyed: pages_allocated, tasks and the
 *    hugetlb free pools back to what the fresh machine had;
 *  - after pinsim_destroy(): the host fd table as before the input (the
 *    eventfd references SET_IRQS takes are dup()s).
 *
 * One machine per input, measured: pinsim_create() of the 3 GiB machine
 * below with its three devices, and pinsim_destroy(), take 1.8 ms of CPU
 * (an empty input), a 12-call container setup + MAP/UNMAP_DMA seed 2.9 ms,
 * so reusing one machine would at most double execs/s (100-270/s on a
 * loaded 2-core machine), and a fresh machine makes every input reproduce
 * alone, with the devices' config space, IRQ triggers and the type1 module
 * parameters fresh too; a reset of all of that has no API.
 *
 * FUZZ_API_TRACE=1 in the environment prints every operation with its
 * result (for reading a reproducer).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/mman.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pinsim/pinsim.h"

/*
 * Declared by pinsim.h for issue 12, implemented separately: called only
 * when the library defines them, so that the fuzzer builds before and
 * covers them after.
 */
#pragma weak pinsim_fork
#pragma weak pinsim_mprotect
#pragma weak pinsim_mremap
#pragma weak pinsim_mlock
#pragma weak pinsim_munlock
#pragma weak pinsim_mlockall
#pragma weak pinsim_munlockall

#define PG 4096ULL
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define SIM_TASK_SIZE (1ULL << 47)	/* sim/pgtable.h TASK_SIZE */
#define BAR_OFF(i) ((uint64_t)(i) << 40)	/* VFIO_PCI_INDEX_TO_OFFSET */

#define NR_PROCS 4
#define NR_FDS 16
#define NR_MAPS 16
#define NR_PINS 16
#define NR_IOVAS 8
#define NR_DEVS 3
#define NR_EVENTFDS 2
#define MAX_OPS 256
#define IO_MAX (256 * 1024)		/* pread/pwrite/DMA/access buffers */
#define UBUF_HEAP_MAX MiB		/* larger "user" buffers are mmap()ed */
#define UBUF_MAX (1ULL << 34)		/* larger ones are a NULL pointer */

/* ---------------- the input ---------------- */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t in_bytes(struct input *in, unsigned int nbytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < nbytes; i++) {
		uint8_t b = 0;

		if (in->n) {
			b = *in->p++;
			in->n--;
		}
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

static uint8_t u8(struct input *in)
{
	return (uint8_t)in_bytes(in, 1);
}

static uint16_t u16(struct input *in)
{
	return (uint16_t)in_bytes(in, 2);
}

static uint32_t u32(struct input *in)
{
	return (uint32_t)in_bytes(in, 4);
}

static uint64_t u64(struct input *in)
{
	return in_bytes(in, 8);
}

/* Copy up to @len input bytes into @dst; the rest of @dst is left alone. */
static void in_fill(struct input *in, void *dst, size_t len)
{
	size_t n = len < in->n ? len : in->n;

	memcpy(dst, in->p, n);
	in->p += n;
	in->n -= n;
}

/* A length: mostly small and page-shaped, sometimes anything. */
static uint64_t pick_len(struct input *in)
{
	uint8_t b = u8(in);

	switch (b & 7) {
	case 0:
	case 1:
		return ((uint64_t)(b >> 3) + 1) * PG;
	case 2:
		return ((uint64_t)(b >> 3) % 4 + 1) * 2 * MiB;
	case 3:
		return (b & 8) ? GiB : 2 * GiB;
	case 4:
		return ((uint64_t)(b >> 3) + 1) * PG + u8(in);	/* unaligned */
	case 5:
		return u16(in);
	case 6:
		return (b & 8) ? 0 : u64(in);
	default:
		return u32(in);
	}
}

/* A buffer length for the host side of pread/pwrite/DMA/access/numa_maps. */
static size_t pick_io_len(struct input *in)
{
	uint8_t b = u8(in);

	switch (b & 3) {
	case 0:
		return (size_t)1 << (b >> 2 & 7);	/* 1..128: config accesses */
	case 1:
		return ((size_t)(b >> 2) + 1) * PG;
	case 2:
		return 0;
	default:
		return u32(in) % (IO_MAX + 1);
	}
}

/* ---------------- "user memory" for ioctl arguments ---------------- */

/*
 * An ioctl argument is a host pointer: pinsim reads and writes as many
 * bytes as the struct and argsz say, as the kernel's copy_{from,to}_user()
 * would.  So the buffer is as long as the caller claims (up to 16 GiB), and
 * ends where a real caller's would: small ones on the heap (ASan sees an
 * overrun), large ones MAP_NORESERVE with a PROT_NONE page right after the
 * last byte (an overrun is SIGSEGV).  Larger claims get NULL, which pinsim,
 * like the kernel for an unmapped pointer, answers with EFAULT.
 */
struct ubuf {
	void *p;
	void *map;
	size_t maplen;
};

static void *ubuf_get(struct ubuf *u, uint64_t size)
{
	*u = (struct ubuf){ 0 };
	if (size <= UBUF_HEAP_MAX) {
		u->p = calloc(1, size ? size : 1);
		return u->p;
	}
	if (size > UBUF_MAX)
		return NULL;
	u->maplen = ((size + PG - 1) & ~(PG - 1)) + PG;
	u->map = mmap(NULL, u->maplen, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (u->map == MAP_FAILED) {
		u->map = NULL;
		return NULL;
	}
	mprotect((char *)u->map + u->maplen - PG, PG, PROT_NONE);
	u->p = (char *)u->map + u->maplen - PG - size;
	return u->p;
}

static void ubuf_put(struct ubuf *u)
{
	if (u->map)
		munmap(u->map, u->maplen);
	else
		free(u->p);
	*u = (struct ubuf){ 0 };
}

/* ---------------- the machine and what the input made ---------------- */

struct map {
	uint64_t addr, len;
};

struct proc {
	struct pinsim_proc *p;
	bool killed;
	int fds[NR_FDS];
	unsigned int nr_fds;		/* entries used in fds[] (a ring) */
	int max_fd;			/* highest fd any call returned */
	struct map maps[NR_MAPS];
	unsigned int nr_maps;
	struct pinsim_pin *pins[NR_PINS];
};

static const struct pinsim_device_spec dev_specs[NR_DEVS] = {
	/* BAR0 1 GiB: a PUD pfnmap leaf; BAR2 2 MiB: a PMD leaf. */
	{ .name = "0000:01:00.0", .bar_size = { [0] = GiB, [2] = 2 * MiB, [4] = 64 * 1024 },
	  .iommu_unit = 0 },
	/* Its own IOMMU unit: a second domain, replays. */
	{ .name = "0000:02:00.0", .bar_size = { [0] = 16 * 1024, [2] = 4 * MiB },
	  .iommu_unit = 1 },
	/* Same bus as the first: a two-device hot-reset set; MSI-X in BAR4. */
	{ .name = "0000:01:00.1", .bar_size = { [0] = 4 * MiB, [4] = 16 * 1024 },
	  .iommu_unit = 0 },
};

static struct {
	struct pinsim *m;
	struct pinsim_stats base;
	int group_id[NR_DEVS];
	struct proc procs[NR_PROCS];
	uint64_t iovas[NR_IOVAS];
	unsigned int nr_iovas;
	int eventfds[NR_EVENTFDS];
	unsigned int op_index;
	bool trace;
	bool warn_expected;	/* a 2M minimum IOMMU page: every MAP_DMA WARNs */
	/* The recent operations, printed with a finding. */
	char history[32][160];
	unsigned int nr_history;
} S;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
	char *line = S.history[S.nr_history++ % 32];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(S.history[0]), "#%u ", S.op_index);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(S.history[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	if (S.trace)
		fprintf(stderr, "fuzz_api: %s\n", line);
}

static void dump_history(void)
{
	unsigned int first = S.nr_history > 32 ? S.nr_history - 32 : 0;

	fprintf(stderr, "fuzz_api: the last operations of this input:\n");
	for (unsigned int i = first; i < S.nr_history; i++)
		fprintf(stderr, "  %s\n", S.history[i % 32]);
}

/* An invariant broke: say which, show how we got here, stop. */
static _Noreturn void finding(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void finding(const char *fmt, ...)
{
	va_list ap;

	dump_history();
	fprintf(stderr, "fuzz_api: FINDING after operation #%u: ", S.op_index);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	__builtin_trap();
}

/*
 * Findings reported and not fixed yet (README "Fuzzing"), so that CI and
 * longer runs get past them: a broken check is said once per run and
 * passed over; an operation that reaches a memory-safety defect (which
 * ASan would stop the run at) is not done.  With FUZZ_API_STRICT=1 in the
 * environment neither is: they are findings like any other.  For the
 * fix's author: the reproducer fuzz/corpus/regress-* passes with
 * FUZZ_API_STRICT=1 once fixed, and then the entry here goes.
 */
enum known_defect {
	/* None open (regress-numa-maps-no-nul, regress-fork-dma-parent-exit-uaf: fixed). */
	NR_KNOWN,
};

static bool strict_mode(void)
{
	static int strict = -1;

	if (strict < 0)
		strict = getenv("FUZZ_API_STRICT") != NULL;
	return strict;
}

static void known_said(enum known_defect id, const char *msg)
{
	static bool said[NR_KNOWN + 1];	/* + 1: no zero-length array while none is open */

	if (!said[id])
		fprintf(stderr, "fuzz_api: known open defect, passed over (FUZZ_API_STRICT=1 to stop): %s\n",
			msg);
	said[id] = true;
}

/* Unused while no broken check is open; kept for the next one. */
static void known(enum known_defect id, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), unused));

static void known(enum known_defect id, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strict_mode())
		finding("%s", msg);
	known_said(id, msg);
}

/*
 * True if an operation must be skipped for a known memory-safety defect.
 * Unused while none is open; kept for the next one.
 */
static bool known_skip(enum known_defect id, const char *what) __attribute__((unused));

static bool known_skip(enum known_defect id, const char *what)
{
	if (strict_mode())
		return false;
	known_said(id, what);
	return true;
}

/* "ret" or "-1 EFOO" */
static const char *rstr(long ret, int err)
{
	static char buf[64];

	if (ret < 0)
		snprintf(buf, sizeof(buf), "-1 %s", strerrorname_np(err) ?: "?");
	else
		snprintf(buf, sizeof(buf), "%ld", ret);
	return buf;
}

/* ---------------- choosing operands ---------------- */

static struct proc *pick_proc(struct input *in)
{
	uint8_t b = u8(in);

	for (unsigned int i = 0; i < NR_PROCS; i++) {
		struct proc *pr = &S.procs[(b + i) % NR_PROCS];

		if (pr->p)
			return pr;
	}
	return NULL;
}

static void fd_track(struct proc *pr, int fd)
{
	if (fd < 0)
		return;
	pr->fds[pr->nr_fds++ % NR_FDS] = fd;
	if (fd > pr->max_fd)
		pr->max_fd = fd;
}

/* One of the process's fds, now and then any int. */
static int pick_fd(struct proc *pr, struct input *in)
{
	uint8_t b = u8(in);
	unsigned int n = pr->nr_fds < NR_FDS ? pr->nr_fds : NR_FDS;

	if (b >= 0xf0 || !n)
		return (b & 1) ? (int)u32(in) : (int)(b & 0xf);
	return pr->fds[b % n];
}

static int pick_group(struct input *in)
{
	uint8_t b = u8(in);

	if (b >= 0xf8)
		return (int)u32(in);
	return S.group_id[b % NR_DEVS];
}

/* An address in the process: in or around one of its mappings, or anything. */
static uint64_t pick_addr(struct proc *pr, struct input *in)
{
	uint8_t b = u8(in);
	const struct map *mp;

	if (!pr->nr_maps || (b & 7) == 7)
		return (b & 8) ? u64(in) : (uint64_t)u32(in) << 12;
	mp = &pr->maps[(b >> 4) % (pr->nr_maps < NR_MAPS ? pr->nr_maps : NR_MAPS)];
	switch (b & 7) {
	case 0:
	case 1:
		return mp->addr;
	case 2:
		return mp->addr + (u16(in) % (mp->len / PG + 1)) * PG;
	case 3:
		return mp->addr + mp->len - PG;
	case 4:
		return mp->addr + (mp->len ? u32(in) % mp->len : 0);	/* unaligned */
	case 5:
		return mp->addr + mp->len;
	default:
		return mp->addr + ((uint64_t)u16(in) << 21) % (mp->len + 1);
	}
}

/* An address plus a length that is often the mapping's own. */
static void pick_range(struct proc *pr, struct input *in, uint64_t *addr, uint64_t *len)
{
	uint8_t b = u8(in);

	*addr = pick_addr(pr, in);
	if ((b & 3) == 0 && pr->nr_maps) {
		const struct map *mp = &pr->maps[(b >> 2) % (pr->nr_maps < NR_MAPS ? pr->nr_maps
										    : NR_MAPS)];

		*addr = mp->addr;
		*len = mp->len;
		return;
	}
	*len = pick_len(in);
}

static uint64_t pick_iova(struct input *in)
{
	uint8_t b = u8(in);

	switch (b & 7) {
	case 0:
	case 1:
		if (S.nr_iovas)
			return S.iovas[(b >> 3) % (S.nr_iovas < NR_IOVAS ? S.nr_iovas : NR_IOVAS)];
		return GiB;
	case 2:
		return ((uint64_t)(b >> 3) + 1) * GiB;
	case 3:
		return ((uint64_t)(b >> 3)) * 2 * MiB;
	case 4:
		return 0xfee00000ULL;	/* the x86 MSI window: reserved */
	case 5:
		return (b & 8) ? (1ULL << 48) - PG : (uint64_t)-PG;
	default:
		return u64(in);
	}
}

static void iova_track(uint64_t iova)
{
	S.iovas[S.nr_iovas++ % NR_IOVAS] = iova;
}

/* One of the input's host eventfds, or something that is not one. */
static int32_t pick_eventfd(struct input *in)
{
	uint8_t b = u8(in);

	switch (b & 7) {
	case 0:
		return -1;		/* "tear down" for EVENTFD data */
	case 1:
		return (int32_t)u32(in);
	case 2:
		return 0;		/* stdin: open, not an eventfd */
	default:
		return S.eventfds[b % NR_EVENTFDS];
	}
}

/* ---------------- processes ---------------- */

static void proc_init(struct proc *pr, struct pinsim_proc *p)
{
	memset(pr, 0, sizeof(*pr));
	pr->p = p;
	pr->max_fd = 2;
}

static void op_proc_create(struct input *in)
{
	struct pinsim_proc *p;
	int ret;

	for (unsigned int i = 0; i < NR_PROCS; i++) {
		if (S.procs[i].p)
			continue;
		ret = pinsim_proc_create(S.m, &p);
		note("proc_create -> %s", rstr(ret, errno));
		if (!ret)
			proc_init(&S.procs[i], p);
		return;
	}
	(void)in;
}

/*
 * Its pins go with it (pinsim_proc_destroy() unpins them); a forked
 * process's fds are its own table's, so nothing else is stale.
 */
static void proc_destroy(struct proc *pr)
{
	pinsim_proc_destroy(pr->p);
	memset(pr, 0, sizeof(*pr));
}

static void op_proc_destroy(struct input *in)
{
	struct proc *pr = pick_proc(in);

	if (!pr)
		return;
	note("proc_destroy %ld", (long)(pr - S.procs));
	proc_destroy(pr);
}

static void op_fork(struct input *in)
{
	struct proc *pr = pick_proc(in);
	struct pinsim_proc *child;
	int ret;

	if (!pr || !pinsim_fork)
		return;
	for (unsigned int i = 0; i < NR_PROCS; i++) {
		if (S.procs[i].p)
			continue;
		ret = pinsim_fork(pr->p, &child);
		note("fork %ld -> %s", (long)(pr - S.procs), rstr(ret, errno));
		if (ret)
			return;
		/* Same fd numbers, same mappings. */
		S.procs[i] = *pr;
		S.procs[i].p = child;
		memset(S.procs[i].pins, 0, sizeof(S.procs[i].pins));
		return;
	}
}

static void op_kill(struct input *in)
{
	struct proc *pr = pick_proc(in);
	int ret;

	if (!pr)
		return;
	ret = pinsim_kill(pr->p);
	note("kill %ld -> %s", (long)(pr - S.procs), rstr(ret, errno));
	pr->killed = true;
}

static void op_rlimit(struct input *in)
{
	struct proc *pr = pick_proc(in);
	uint8_t b = u8(in);
	struct rlimit rl;
	int ret;

	if (!pr)
		return;
	rl.rlim_cur = (b & 1) ? u64(in) : (uint64_t)(b >> 1) * 4 * MiB;
	rl.rlim_max = (b & 0x80) ? u64(in) : RLIM_INFINITY;
	ret = pinsim_setrlimit(pr->p, (b & 0x40) ? (int)(b & 0xf) : RLIMIT_MEMLOCK, &rl);
	note("setrlimit %#llx/%#llx -> %s", (unsigned long long)rl.rlim_cur,
	     (unsigned long long)rl.rlim_max, rstr(ret, errno));
}

static void op_cap(struct input *in)
{
	struct proc *pr = pick_proc(in);
	bool on = u8(in) & 1;
	int ret;

	if (!pr)
		return;
	ret = pinsim_set_cap_ipc_lock(pr->p, on);
	note("cap_ipc_lock %d -> %s", on, rstr(ret, errno));
}

static void op_thread_exit(struct input *in)
{
	(void)in;
	pinsim_thread_exit();
	note("thread_exit");
}

/* ---------------- files ---------------- */

static void op_open(struct input *in)
{
	struct proc *pr = pick_proc(in);
	uint8_t b = u8(in);
	char path[64];
	int fd;

	if (!pr)
		return;
	switch (b & 7) {
	case 0:
	case 1:
	case 2:
		snprintf(path, sizeof(path), "/dev/vfio/vfio");
		break;
	case 3:
	case 4:
	case 5:
		snprintf(path, sizeof(path), "/dev/vfio/%d", S.group_id[(b >> 3) % NR_DEVS]);
		break;
	case 6: {
		static const char *const bad[] = {
			"/dev/vfio/", "/dev/vfio/999", "/dev/vfio/-1", "/dev/vfio/1x",
			"/dev/vfio/01", "/dev/vfio/vfio/", "/dev/null", "/dev/vfio/4294967297",
		};

		snprintf(path, sizeof(path), "%s", bad[(b >> 3) % 8]);
		break;
	}
	default:
		memset(path, 0, sizeof(path));
		memcpy(path, "/dev/vfio/", 10);
		in_fill(in, path + 10, (b >> 3) % 12);
		path[sizeof(path) - 1] = '\0';
		break;
	}
	fd = pinsim_open(pr->p, path, (b & 0x80) ? (int)u32(in) : O_RDWR);
	note("open %ld \"%.40s\" -> %s", (long)(pr - S.procs), path, rstr(fd, errno));
	fd_track(pr, fd);
}

static void op_close(struct input *in)
{
	struct proc *pr = pick_proc(in);
	int fd, ret;

	if (!pr)
		return;
	fd = pick_fd(pr, in);
	ret = pinsim_close(pr->p, fd);
	note("close %ld fd %d -> %s", (long)(pr - S.procs), fd, rstr(ret, errno));
}

static uint64_t pick_region_off(struct input *in)
{
	uint8_t b = u8(in);

	if (b >= 0xf0)
		return u64(in);
	/* config space (index 7) mostly: its header and capabilities */
	if ((b & 3) < 2)
		return BAR_OFF(VFIO_PCI_CONFIG_REGION_INDEX) + u8(in);
	return BAR_OFF((b >> 2) % 10) + ((uint64_t)u16(in) << (b & 1 ? 0 : 4));
}

static void op_rw(struct input *in, bool write)
{
	struct proc *pr = pick_proc(in);
	size_t len;
	uint64_t off;
	ssize_t ret;
	void *buf;
	int fd;

	if (!pr)
		return;
	fd = pick_fd(pr, in);
	off = pick_region_off(in);
	len = pick_io_len(in);
	buf = calloc(1, len ? len : 1);
	if (!buf)
		return;
	if (write) {
		in_fill(in, buf, len);
		ret = pinsim_pwrite(pr->p, fd, buf, len, off);
	} else {
		ret = pinsim_pread(pr->p, fd, buf, len, off);
	}
	note("%s fd %d off %#llx len %zu -> %s", write ? "pwrite" : "pread", fd,
	     (unsigned long long)off, len, rstr(ret, errno));
	if (ret > (ssize_t)len)
		finding("%s returned %zd for a %zu-byte buffer", write ? "pwrite" : "pread", ret,
			len);
	free(buf);
}

/* ---------------- ioctls ---------------- */

/*
 * The VFIO requests of <linux/vfio.h> and how to build their argument.
 * Numbers repeat across fd types (VFIO_BASE + 12 is the device's
 * GET_PCI_HOT_RESET_INFO and the container's IOMMU_GET_INFO, + 13
 * PCI_HOT_RESET and MAP_DMA, + 17 DEVICE_FEATURE and DIRTY_PAGES): an
 * argument built for one may reach the other's handler, so every struct
 * buffer is at least STRUCT_MIN bytes, more than any of them reads
 * unconditionally, as a caller's struct on its stack would be.
 */
enum arg_kind {
	ARG_NONE,	/* no argument (or whatever the input says) */
	ARG_EXT,	/* an extension number in the pointer */
	ARG_PINT,	/* int *: an fd */
	ARG_NAME,	/* a device name string */
	ARG_MAP,
	ARG_UNMAP,
	ARG_DIRTY,
	ARG_IRQS,
	ARG_HOT_RESET,
	ARG_PLAIN,	/* argsz + the input's bytes */
};

struct vfio_req {
	unsigned long req;
	enum arg_kind kind;
	unsigned int size;	/* ARG_PLAIN: the struct's size */
};

#define STRUCT_MIN 64

static const struct vfio_req vfio_reqs[] = {
	{ VFIO_GET_API_VERSION, ARG_NONE, 0 },
	{ VFIO_CHECK_EXTENSION, ARG_EXT, 0 },
	{ VFIO_SET_IOMMU, ARG_EXT, 0 },
	{ VFIO_GROUP_GET_STATUS, ARG_PLAIN, sizeof(struct vfio_group_status) },
	{ VFIO_GROUP_SET_CONTAINER, ARG_PINT, 0 },
	{ VFIO_GROUP_UNSET_CONTAINER, ARG_NONE, 0 },
	{ VFIO_GROUP_GET_DEVICE_FD, ARG_NAME, 0 },
	{ VFIO_DEVICE_GET_INFO, ARG_PLAIN, 24 },	/* 6.12's, with cap_offset */
	{ VFIO_DEVICE_GET_REGION_INFO, ARG_PLAIN, sizeof(struct vfio_region_info) },
	{ VFIO_DEVICE_GET_IRQ_INFO, ARG_PLAIN, sizeof(struct vfio_irq_info) },
	{ VFIO_DEVICE_SET_IRQS, ARG_IRQS, 0 },
	{ VFIO_DEVICE_RESET, ARG_NONE, 0 },
	{ VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, ARG_PLAIN, 16 + 3 * 16 },
	{ VFIO_DEVICE_PCI_HOT_RESET, ARG_HOT_RESET, 0 },
	{ VFIO_DEVICE_QUERY_GFX_PLANE, ARG_PLAIN, 64 },
	{ VFIO_DEVICE_GET_GFX_DMABUF, ARG_PLAIN, 4 },
	{ VFIO_DEVICE_IOEVENTFD, ARG_PLAIN, 32 },
	{ VFIO_DEVICE_FEATURE, ARG_PLAIN, 16 },
	{ VFIO_IOMMU_GET_INFO, ARG_PLAIN, 120 },	/* room for every capability */
	{ VFIO_IOMMU_GET_INFO, ARG_PLAIN, 16 },
	{ VFIO_IOMMU_MAP_DMA, ARG_MAP, 0 },
	{ VFIO_IOMMU_MAP_DMA, ARG_MAP, 0 },
	{ VFIO_IOMMU_UNMAP_DMA, ARG_UNMAP, 0 },
	{ VFIO_IOMMU_ENABLE, ARG_NONE, 0 },
	{ VFIO_IOMMU_DISABLE, ARG_NONE, 0 },
	{ VFIO_IOMMU_DIRTY_PAGES, ARG_DIRTY, 0 },
	{ VFIO_IOMMU_SPAPR_TCE_GET_INFO, ARG_PLAIN, 64 },
	{ VFIO_EEH_PE_OP, ARG_PLAIN, 16 },
};
#define NR_VFIO_REQS (sizeof(vfio_reqs) / sizeof(vfio_reqs[0]))

/* CHECK_EXTENSION / SET_IOMMU arguments: every extension <linux/vfio.h> names. */
static unsigned long pick_extension(struct input *in)
{
	static const unsigned long ext[] = {
		VFIO_TYPE1v2_IOMMU,	VFIO_TYPE1_IOMMU,   VFIO_TYPE1_NESTING_IOMMU,
		VFIO_NOIOMMU_IOMMU,	VFIO_SPAPR_TCE_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU,
		VFIO_EEH,		VFIO_DMA_CC_IOMMU,  VFIO_UNMAP_ALL,
		VFIO_UPDATE_VADDR,
	};
	uint8_t b = u8(in);

	if (b >= 0xf0)
		return u64(in);
	return ext[b % (sizeof(ext) / sizeof(ext[0]))];
}

/*
 * argsz as a caller gets it wrong: the struct's size mostly, else short of
 * minsz, a little or a lot more, or anything.
 */
static uint32_t pick_argsz(struct input *in, size_t size)
{
	uint8_t b = u8(in);

	switch (b & 7) {
	case 0:
	case 1:
	case 2:
	case 3:
		return (uint32_t)size;
	case 4:
		return (uint32_t)(b >> 3) % (uint32_t)(size + 1);
	case 5:
		return (uint32_t)size + u8(in);
	case 6:
		return u16(in);
	default:
		return u32(in);
	}
}

/*
 * A struct argument: @tmpl (whose first field is argsz, set here) followed
 * in the user buffer by @extra bytes the request also reads (a bitmap
 * header, an fd array), all in a buffer of max(argsz, the lot).  Up to 64
 * bytes past the lot come from the input (capabilities a caller left
 * there), the rest are zero.
 */
static void *struct_arg(struct input *in, struct ubuf *u, void *tmpl, size_t size,
			const void *extra, size_t extra_len, uint32_t *argsz_out)
{
	uint32_t argsz = pick_argsz(in, size + extra_len);
	uint64_t total = size + extra_len;
	char *p;

	memcpy(tmpl, &argsz, sizeof(argsz));
	if (argsz > total)
		total = argsz;
	p = ubuf_get(u, total < STRUCT_MIN ? STRUCT_MIN : total);
	if (p) {
		memcpy(p, tmpl, size);
		if (extra_len)
			memcpy(p + size, extra, extra_len);
		if (total > size + extra_len)
			in_fill(in, p + size + extra_len,
				total - size - extra_len < 64 ? total - size - extra_len : 64);
	}
	*argsz_out = argsz;
	return p;
}

/* Host buffers a bitmap's data pointer refers to: freed after the ioctl. */
struct bitmap_buf {
	struct ubuf u;
};

static void pick_bitmap(struct input *in, struct vfio_bitmap *bm, struct bitmap_buf *bb)
{
	uint8_t b = u8(in);

	bm->pgsize = (b & 1) ? PG : ((b & 2) ? u64(in) : 2 * MiB);
	bm->size = (b & 4) ? u64(in) : ((uint64_t)(b >> 3) + 1) * 8;
	bm->data = (__u64 *)ubuf_get(&bb->u, bm->size);
	if ((b & 0xc0) == 0xc0)
		bm->data = NULL;
}

static void *arg_map_dma(struct proc *pr, struct input *in, struct ubuf *u, uint32_t *argsz)
{
	struct vfio_iommu_type1_dma_map map = { 0 };
	uint8_t b = u8(in);
	uint64_t vaddr, size;

	map.flags = (b & 0x80) ? u32(in) : (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	if ((b & 0x60) == 0x60)
		map.flags |= VFIO_DMA_MAP_FLAG_VADDR;
	pick_range(pr, in, &vaddr, &size);
	map.vaddr = vaddr;
	map.size = size;
	map.iova = pick_iova(in);
	if (b & 1)
		map.iova = map.iova & ~(map.size - 1);	/* aligned to its size, if a power */
	iova_track(map.iova);
	return struct_arg(in, u, &map, sizeof(map), NULL, 0, argsz);
}

static void *arg_unmap_dma(struct input *in, struct ubuf *u, uint32_t *argsz,
			   struct bitmap_buf *bb)
{
	struct vfio_iommu_type1_dma_unmap unmap = { 0 };
	struct vfio_bitmap bm = { 0 };
	uint8_t b = u8(in);

	switch (b & 7) {
	case 0:
		unmap.flags = VFIO_DMA_UNMAP_FLAG_ALL;
		break;
	case 1:
		unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		break;
	case 2:
		unmap.flags = VFIO_DMA_UNMAP_FLAG_VADDR;
		break;
	case 3:
		unmap.flags = u32(in);
		break;
	default:
		break;
	}
	unmap.iova = pick_iova(in);
	unmap.size = pick_len(in);
	if (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
		pick_bitmap(in, &bm, bb);
		return struct_arg(in, u, &unmap, sizeof(unmap), &bm, sizeof(bm), argsz);
	}
	return struct_arg(in, u, &unmap, sizeof(unmap), NULL, 0, argsz);
}

static void *arg_dirty_pages(struct input *in, struct ubuf *u, uint32_t *argsz,
			     struct bitmap_buf *bb)
{
	struct vfio_iommu_type1_dirty_bitmap dirty = { 0 };
	struct vfio_iommu_type1_dirty_bitmap_get get = { 0 };
	uint8_t b = u8(in);

	switch (b & 3) {
	case 0:
		dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
		break;
	case 1:
		dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
		break;
	case 2:
		dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
		break;
	default:
		dirty.flags = u32(in);
		break;
	}
	if (dirty.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP) {
		get.iova = pick_iova(in);
		get.size = pick_len(in);
		pick_bitmap(in, &get.bitmap, bb);
		return struct_arg(in, u, &dirty, sizeof(dirty), &get, sizeof(get), argsz);
	}
	return struct_arg(in, u, &dirty, sizeof(dirty), NULL, 0, argsz);
}

static void *arg_set_irqs(struct input *in, struct ubuf *u, uint32_t *argsz)
{
	struct vfio_irq_set hdr = { 0 };
	int32_t data[16];
	uint8_t b = u8(in);
	size_t n;

	hdr.index = (b & 0x80) ? u32(in) : (uint32_t)(b & 7) % (VFIO_PCI_NUM_IRQS + 1);
	if (b & 0x40) {
		hdr.flags = u32(in);
	} else {
		hdr.flags = 1u << (u8(in) % 3);		/* DATA_NONE/BOOL/EVENTFD */
		hdr.flags |= 1u << (3 + u8(in) % 3);	/* ACTION_MASK/UNMASK/TRIGGER */
	}
	hdr.start = (b & 0x20) ? u32(in) : u8(in) % 4;
	hdr.count = (b & 0x10) ? u32(in) : u8(in) % 17;
	n = 0;
	if (hdr.flags & (VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD))
		n = hdr.count < 16 ? hdr.count : 16;
	for (size_t i = 0; i < n; i++)
		data[i] = (hdr.flags & VFIO_IRQ_SET_DATA_BOOL) ? (int32_t)(u8(in) & 1)
							       : pick_eventfd(in);
	if (hdr.flags & VFIO_IRQ_SET_DATA_BOOL) {
		uint8_t bools[16];

		for (size_t i = 0; i < n; i++)
			bools[i] = (uint8_t)data[i];
		return struct_arg(in, u, &hdr, sizeof(hdr), bools, n, argsz);
	}
	return struct_arg(in, u, &hdr, sizeof(hdr), data, n * sizeof(data[0]), argsz);
}

static void *arg_hot_reset(struct proc *pr, struct input *in, struct ubuf *u, uint32_t *argsz)
{
	struct vfio_pci_hot_reset hdr = { 0 };
	int32_t fds[4];
	uint8_t b = u8(in);

	hdr.flags = (b & 0x80) ? u32(in) : 0;
	hdr.count = (b & 0x40) ? u32(in) : (uint32_t)(b & 3) + ((b & 4) ? 0 : 1);
	for (size_t i = 0; i < 4; i++)
		fds[i] = pick_fd(pr, in);
	return struct_arg(in, u, &hdr, sizeof(hdr), fds,
			  (hdr.count < 4 ? hdr.count : 4) * sizeof(fds[0]), argsz);
}

/*
 * A struct whose first fields after argsz (flags, index, count: the ones a
 * request reads) the input gives verbatim; the rest is zero.
 */
static void *arg_plain(struct input *in, struct ubuf *u, size_t size, uint32_t *argsz)
{
	uint8_t tmpl[128] = { 0 };

	in_fill(in, tmpl + 4, size - 4 < 12 ? size - 4 : 12);
	return struct_arg(in, u, tmpl, size, NULL, 0, argsz);
}

/* GET_DEVICE_FD's name: a device's, with a tail, or bytes. */
static void *arg_name(struct input *in, struct ubuf *u)
{
	static const char *const tails[] = { "", " ", "   ", " vf_token=00000000-0000-0000-0000-000000000000",
					     "x", " x", "\n", ":" };
	uint8_t b = u8(in);
	char name[128];
	char *p;

	if ((b & 7) == 7) {
		/* A page with no NUL in it: strndup_user()'s -EINVAL. */
		p = ubuf_get(u, PG);
		if (p)
			memset(p, 'a', PG);
		return p;
	}
	if ((b & 7) == 6) {
		memset(name, 0, sizeof(name));
		in_fill(in, name, u8(in) % (sizeof(name) - 1));
	} else {
		snprintf(name, sizeof(name), "%s%s", dev_specs[b % NR_DEVS].name,
			 tails[(b >> 3) % 8]);
	}
	p = ubuf_get(u, strlen(name) + 1);
	if (p)
		memcpy(p, name, strlen(name) + 1);
	return p;
}

/*
 * A request number: a real one (perhaps with bits above 31, which the
 * syscall drops), or not, in which case the argument is a page (or argsz,
 * whichever is more) of the input's bytes.
 */
static unsigned long pick_request(struct input *in, const struct vfio_req **real)
{
	uint8_t b = u8(in);
	const struct vfio_req *r = &vfio_reqs[u8(in) % NR_VFIO_REQS];

	*real = r;
	switch (b & 15) {
	case 12:
		return r->req | (unsigned long)u32(in) << 32;
	case 13:
		*real = NULL;
		return r->req ^ (1UL << (u8(in) % 32));
	case 14:
		*real = NULL;
		return (b & 0x10) ? u64(in) : u32(in);
	case 15:
		*real = NULL;
		return _IO(VFIO_TYPE, VFIO_BASE + u8(in) % 40);
	default:
		return r->req;
	}
}

static void *ioctl_arg(struct proc *pr, struct input *in, const struct vfio_req *r,
		       struct ubuf *u, struct bitmap_buf *bb, uint32_t *argsz)
{
	void *arg = NULL;
	int ival;

	switch (r->kind) {
	case ARG_NONE:
		break;
	case ARG_EXT:
		return (void *)pick_extension(in);
	case ARG_PINT:
		ival = pick_fd(pr, in);
		arg = ubuf_get(u, sizeof(int));
		if (arg)
			memcpy(arg, &ival, sizeof(ival));
		break;
	case ARG_NAME:
		return arg_name(in, u);
	case ARG_MAP:
		return arg_map_dma(pr, in, u, argsz);
	case ARG_UNMAP:
		return arg_unmap_dma(in, u, argsz, bb);
	case ARG_DIRTY:
		return arg_dirty_pages(in, u, argsz, bb);
	case ARG_IRQS:
		return arg_set_irqs(in, u, argsz);
	case ARG_HOT_RESET:
		return arg_hot_reset(pr, in, u, argsz);
	case ARG_PLAIN:
		return arg_plain(in, u, r->size, argsz);
	}
	return arg;
}

static void op_ioctl(struct input *in)
{
	struct proc *pr = pick_proc(in);
	struct bitmap_buf bb = { 0 };
	const struct vfio_req *r;
	struct ubuf u = { 0 };
	unsigned long req;
	uint32_t argsz = 0;
	void *arg = NULL;
	int fd, ret;

	if (!pr)
		return;
	fd = pick_fd(pr, in);
	req = pick_request(in, &r);
	if (!r) {
		/* Anything might read argsz bytes: give it that many. */
		uint32_t claim = u32(in);

		arg = ubuf_get(&u, claim > PG ? claim : PG);
		if (arg) {
			memcpy(arg, &claim, sizeof(claim));
			in_fill(in, (char *)arg + 4, 60);
		}
		argsz = claim;
	} else {
		arg = ioctl_arg(pr, in, r, &u, &bb, &argsz);
	}
	if ((u8(in) & 0x3f) == 0x3f && (!r || r->kind != ARG_EXT)) {
		ubuf_put(&u);
		arg = NULL;	/* -EFAULT wherever a struct is read */
	}
	ret = pinsim_ioctl(pr->p, fd, req, arg);
	note("ioctl %ld fd %d req %#lx argsz %u arg %s -> %s", (long)(pr - S.procs), fd, req,
	     argsz, arg ? "buf" : "NULL", rstr(ret, errno));
	if (ret >= 0 && r && r->kind == ARG_NAME)
		fd_track(pr, ret);
	ubuf_put(&u);
	ubuf_put(&bb.u);
}

/* ---------------- memory ---------------- */

static void map_track(struct proc *pr, uint64_t addr, uint64_t len)
{
	pr->maps[pr->nr_maps++ % NR_MAPS] = (struct map){ addr, len };
}

static void op_mmap(struct input *in)
{
	struct proc *pr = pick_proc(in);
	uint8_t b = u8(in);
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS, fd = -1;
	uint64_t len = pick_len(in), addr = 0, off = 0, va;
	bool thp = false;

	if (!pr)
		return;
	switch (b & 7) {
	case 0:
	case 1:
		break;
	case 2:
		thp = true;
		len = len < 4 * MiB ? 4 * MiB : len;	/* room for an aligned 2M */
		break;
	case 3:
		flags |= MAP_HUGETLB | MAP_HUGE_2MB;
		break;
	case 4:
		flags |= MAP_HUGETLB | MAP_HUGE_1GB;
		break;
	case 5:
	case 6:
		/* A BAR (or the config region, or past the regions). */
		fd = pick_fd(pr, in);
		flags = MAP_SHARED;
		off = BAR_OFF(u8(in) % 8) + ((b & 0x80) ? (uint64_t)u16(in) * PG : 0);
		break;
	default:
		prot = (int)u32(in);
		flags = (int)u32(in);
		fd = pick_fd(pr, in);
		off = u64(in);
		break;
	}
	if (b & 0x8)
		prot = (b & 0x10) ? PROT_READ : PROT_NONE;
	if (b & 0x20) {
		addr = pick_addr(pr, in);
		if (b & 0x40)
			flags |= MAP_FIXED;
	}
	va = pinsim_mmap(pr->p, addr, len, prot, flags, fd, off);
	note("mmap %ld addr %#llx len %#llx prot %#x flags %#x fd %d off %#llx -> %#llx%s",
	     (long)(pr - S.procs), (unsigned long long)addr, (unsigned long long)len, prot, flags,
	     fd, (unsigned long long)off, (unsigned long long)va,
	     va == PINSIM_MAP_FAILED ? rstr(-1, errno) + 2 : "");
	if (va == PINSIM_MAP_FAILED)
		return;
	if (thp) {
		uint64_t a = (va + 2 * MiB - 1) & ~(2 * MiB - 1);
		int ret = pinsim_madvise(pr->p, a, 2 * MiB, MADV_HUGEPAGE);

		note("madvise %#llx HUGEPAGE -> %s", (unsigned long long)a, rstr(ret, errno));
	}
	map_track(pr, va, len);
}

static void op_munmap(struct input *in)
{
	struct proc *pr = pick_proc(in);
	uint64_t addr, len;
	int ret;

	if (!pr)
		return;
	pick_range(pr, in, &addr, &len);
	ret = pinsim_munmap(pr->p, addr, len);
	note("munmap %#llx %#llx -> %s", (unsigned long long)addr, (unsigned long long)len,
	     rstr(ret, errno));
}

static void op_madvise(struct input *in)
{
	static const int advice[] = { MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTFORK,
				      MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK };
	struct proc *pr = pick_proc(in);
	uint8_t b = u8(in);
	uint64_t addr, len;
	int adv, ret;

	if (!pr)
		return;
	adv = (b & 0x80) ? (int)u32(in) : advice[b % 6];
	pick_range(pr, in, &addr, &len);
	ret = pinsim_madvise(pr->p, addr, len, adv);
	note("madvise %#llx %#llx %d -> %s", (unsigned long long)addr, (unsigned long long)len,
	     adv, rstr(ret, errno));
}

/* mprotect/mremap/mlock family: only once the library has them. */
static void op_vm_misc(struct input *in)
{
	struct proc *pr = pick_proc(in);
	uint8_t b = u8(in);
	uint64_t addr, len, r = 0;
	long ret = -1;
	const char *what = "?";

	if (!pr)
		return;
	pick_range(pr, in, &addr, &len);
	errno = ENOSYS;
	switch (b & 7) {
	case 0:
		what = "mprotect";
		if (pinsim_mprotect)
			ret = pinsim_mprotect(pr->p, addr, len,
					      (b & 8) ? (int)u32(in) : (int)(b >> 4 & 7));
		break;
	case 1:
		what = "mremap";
		if (pinsim_mremap) {
			uint64_t nlen = pick_len(in);
			int flags = (b & 8) ? (int)u32(in) : (int)(b >> 4 & 7);

			r = pinsim_mremap(pr->p, addr, len, nlen, flags, pick_addr(pr, in));
			ret = r == PINSIM_MAP_FAILED ? -1 : 0;
			if (!ret)
				map_track(pr, r, nlen);
		}
		break;
	case 2:
		what = "mlock";
		if (pinsim_mlock)
			ret = pinsim_mlock(pr->p, addr, len, (b & 8) ? (int)u32(in) : (b >> 4 & 1));
		break;
	case 3:
		what = "munlock";
		if (pinsim_munlock)
			ret = pinsim_munlock(pr->p, addr, len);
		break;
	case 4:
		what = "mlockall";
		if (pinsim_mlockall)
			ret = pinsim_mlockall(pr->p, (b & 8) ? (int)u32(in) : (b >> 4 & 7));
		break;
	default:
		what = "munlockall";
		if (pinsim_munlockall)
			ret = pinsim_munlockall(pr->p);
		break;
	}
	note("%s %#llx %#llx -> %s", what, (unsigned long long)addr, (unsigned long long)len,
	     rstr(ret, errno));
}

static void op_access(struct input *in)
{
	struct proc *pr = pick_proc(in);
	bool write = u8(in) & 1;
	uint64_t addr;
	size_t len;
	ssize_t ret;
	void *buf;

	if (!pr)
		return;
	addr = pick_addr(pr, in);
	len = pick_io_len(in);
	buf = calloc(1, len ? len : 1);
	if (!buf)
		return;
	if (write)
		in_fill(in, buf, len);
	ret = pinsim_access(pr->p, addr, buf, len, write);
	note("access %#llx len %zu %s -> %s", (unsigned long long)addr, len, write ? "w" : "r",
	     rstr(ret, errno));
	if (ret > (ssize_t)len)
		finding("pinsim_access() returned %zd for %zu bytes", ret, len);
	free(buf);
}

static void op_touch(struct input *in)
{
	struct proc *pr = pick_proc(in);
	struct pinsim_page_info info;
	bool write = u8(in) & 1;
	uint64_t addr;
	int ret;

	if (!pr)
		return;
	addr = pick_addr(pr, in);
	ret = pinsim_touch(pr->p, addr, write, &info);
	note("touch %#llx %s -> %s", (unsigned long long)addr, write ? "w" : "r",
	     rstr(ret, errno));
	ret = pinsim_pagemap(pr->p, addr, &info);
	if (!ret && info.level != PINSIM_LEVEL_NONE && !info.mmio && info.refcount <= 0)
		finding("pagemap %#llx: mapped RAM pfn %#llx with refcount %d",
			(unsigned long long)addr, (unsigned long long)info.pfn, info.refcount);
}

static void op_pin(struct input *in)
{
	struct proc *pr = pick_proc(in);
	struct pinsim_pin *pin = NULL;
	bool write = u8(in) & 1;
	uint64_t addr, len;
	int ret;

	if (!pr)
		return;
	pick_range(pr, in, &addr, &len);
	ret = pinsim_pin_user_pages(pr->p, addr, len, write, &pin);
	note("pin %#llx %#llx -> %s", (unsigned long long)addr, (unsigned long long)len,
	     rstr(ret, errno));
	if (ret)
		return;
	for (unsigned int i = 0; i < NR_PINS; i++) {
		if (!pr->pins[i]) {
			pr->pins[i] = pin;
			return;
		}
	}
	/* No slot: the process's destroy unpins it. */
}

static void op_unpin(struct input *in)
{
	struct proc *pr = pick_proc(in);
	unsigned int i;
	int ret;

	if (!pr)
		return;
	i = u8(in) % NR_PINS;
	if (!pr->pins[i])
		return;
	ret = pinsim_unpin_user_pages(pr->pins[i]);
	pr->pins[i] = NULL;
	note("unpin -> %s", rstr(ret, errno));
}

static void op_numa_maps(struct input *in)
{
	struct proc *pr = pick_proc(in);
	size_t len;
	ssize_t ret;
	char *buf;

	if (!pr)
		return;
	len = pick_io_len(in);
	buf = malloc(len ? len : 1);
	if (!buf)
		return;
	ret = pinsim_read_numa_maps(pr->p, len ? buf : NULL, len);
	note("numa_maps len %zu -> %s", len, rstr(ret, errno));
	if (ret >= 0 && (size_t)ret >= len && len)
		finding("numa_maps: %zd returned for a %zu-byte buffer (text is to be truncated to len - 1 and NUL-terminated)",
			ret, len);
	else if (ret >= 0 && len && strnlen(buf, len) != (size_t)ret)
		finding("numa_maps: returned %zd, text of %zu bytes", ret, strnlen(buf, len));
	free(buf);
}

/* ---------------- the device side ---------------- */

static void op_dma(struct input *in)
{
	int gid = pick_group(in);
	bool write = u8(in) & 1;
	uint64_t iova = pick_iova(in);
	size_t len = pick_io_len(in);
	ssize_t ret;
	void *buf = calloc(1, len ? len : 1);

	if (!buf)
		return;
	if (write)
		in_fill(in, buf, len);
	ret = pinsim_dma(S.m, gid, iova, buf, len, write);
	note("dma group %d iova %#llx len %zu %s -> %s", gid, (unsigned long long)iova, len,
	     write ? "w" : "r", rstr(ret, errno));
	if (ret >= 0 && ret != (ssize_t)len)
		finding("pinsim_dma() returned %zd for %zu bytes", ret, len);
	free(buf);
}

static void op_lookup(struct input *in)
{
	int gid = pick_group(in);
	uint64_t iova = pick_iova(in), phys = 0, leaf = 0;
	int ret = pinsim_iommu_lookup(S.m, gid, iova, &phys, &leaf);

	note("iommu_lookup group %d iova %#llx -> %s phys %#llx leaf %#llx", gid,
	     (unsigned long long)iova, rstr(ret, errno), (unsigned long long)phys,
	     (unsigned long long)leaf);
	if (!ret && leaf != PG && leaf != 2 * MiB && leaf != GiB)
		finding("IOMMU leaf of size %#llx", (unsigned long long)leaf);
}

static void op_raise_irq(struct input *in)
{
	int gid = pick_group(in);
	uint8_t b = u8(in);
	unsigned int index = (b & 0x80) ? u32(in) : b % (VFIO_PCI_NUM_IRQS + 1);
	unsigned int vector = (b & 0x40) ? u32(in) : u8(in) % 8;
	int ret = pinsim_device_raise_irq(S.m, gid, index, vector);

	note("raise_irq group %d index %u vector %u -> %s", gid, index, vector, rstr(ret, errno));
}

static void op_stats(struct input *in)
{
	struct proc *pr = pick_proc(in);
	struct pinsim_vfio_stats vs;
	struct pinsim_proc_stats ps;
	int fd, ret;

	if (!pr)
		return;
	fd = pick_fd(pr, in);
	ret = pinsim_vfio_stats(pr->p, fd, &vs);
	note("vfio_stats fd %d -> %s", fd, rstr(ret, errno));
	if (pinsim_proc_stats(pr->p, &ps))
		finding("pinsim_proc_stats() of a live process failed: %s", strerror(errno));
}

/* ---------------- knobs ---------------- */

static void op_fail(struct input *in)
{
	struct proc *pr = pick_proc(in);
	uint8_t b = u8(in);
	unsigned int kinds = (b & 0x80) ? u32(in) : (b >> 3 & PINSIM_FAIL_ALL);
	int ret;

	if (!pr)
		return;
	if (b & 1) {
		ret = pinsim_fail_every(pr->p, kinds);
		note("fail_every kinds %#x -> %s", kinds, rstr(ret, errno));
	} else {
		unsigned int nth = (b & 2) ? u32(in) : u8(in) % 32;

		ret = pinsim_fail_nth(pr->p, nth, kinds);
		note("fail_nth %u kinds %#x -> %s", nth, kinds, rstr(ret, errno));
	}
}

static void op_retry_policy(struct input *in)
{
	uint8_t b = u8(in);
	int ret = pinsim_set_retry_policy(S.m, (enum pinsim_retry_policy)(b % 5), u8(in) % 16);

	note("retry_policy %u -> %s", b % 5, rstr(ret, errno));
}

typedef void op_fn(struct input *in);

static void op_pread(struct input *in)
{
	op_rw(in, false);
}

static void op_pwrite(struct input *in)
{
	op_rw(in, true);
}

/* Weighted: the VFIO calls come up most. */
static op_fn *const ops[] = {
	op_proc_create, op_proc_destroy, op_fork,   op_kill,	  op_rlimit,	 op_cap,
	op_thread_exit, op_open,	 op_open,   op_open,	  op_close,	 op_ioctl,
	op_ioctl,	op_ioctl,	 op_ioctl,  op_ioctl,	  op_ioctl,	 op_pread,
	op_pwrite,	op_mmap,	 op_mmap,   op_mmap,	  op_munmap,	 op_madvise,
	op_vm_misc,	op_access,	 op_touch,  op_pin,	  op_unpin,	 op_numa_maps,
	op_dma,		op_lookup,	 op_raise_irq, op_stats,  op_fail,	 op_retry_policy,
};
#define NR_OPS (sizeof(ops) / sizeof(ops[0]))

/* ---------------- the machine ---------------- */

/*
 * The header byte: kernel profile (bits 0-1), THP mode (2-3), IOMMU page
 * sizes (4-5), disable_hugepages (6), a dma_entry_limit of 8 (7).
 */
static void machine_config(uint8_t h, struct pinsim_config *cfg)
{
	static const char *const kernels[] = { "upstream", "6.12.118", "6.12.74", "7.0" };
	static const enum pinsim_thp thp[] = { PINSIM_THP_MADVISE, PINSIM_THP_ALWAYS,
					       PINSIM_THP_NEVER, PINSIM_THP_MADVISE };
	static const uint64_t pgsizes[] = {
		PG | 2 * MiB | GiB, PG | 2 * MiB | GiB, PG, 2 * MiB | GiB,
	};

	pinsim_config_init(cfg);
	cfg->ram_bytes = 3 * GiB;	/* the hugetlb pools must leave 1 GiB */
	cfg->hugetlb_2m_pages = 16;
	cfg->hugetlb_1g_pages = 1;
	if (pinsim_config_set_kernel(cfg, kernels[h & 3]))
		finding("pinsim_config_set_kernel(%s) failed", kernels[h & 3]);
	cfg->thp = thp[h >> 2 & 3];
	cfg->iommu_pgsize_bitmap = pgsizes[h >> 4 & 3];
	/*
	 * vfio_dma_do_map()'s WARN_ON(mask & PAGE_MASK): the kernel WARNs on
	 * every MAP_DMA when the IOMMU's smallest page is above PAGE_SIZE, and
	 * so does pinsim.  The input asked for it: WARNs are not findings then
	 * (oopses still are).
	 */
	S.warn_expected = !(cfg->iommu_pgsize_bitmap & PG);
	cfg->disable_hugepages = h & 0x40;
	if (h & 0x80)
		cfg->dma_entry_limit = 8;
}

static void machine_up(uint8_t h)
{
	static const struct pinsim_device_pci msix = { .msix_vectors = 4, .msix_bar = 4 };
	struct pinsim_config cfg;
	struct pinsim_proc *p;

	machine_config(h, &cfg);
	if (pinsim_create(&cfg, &S.m))
		finding("pinsim_create() failed: %s", strerror(errno));
	for (int i = 0; i < NR_DEVS; i++)
		if (pinsim_add_device_pci(S.m, &dev_specs[i], i == 2 ? &msix : NULL,
					  &S.group_id[i]))
			finding("pinsim_add_device() failed: %s", strerror(errno));
	if (pinsim_stats(S.m, &S.base))
		finding("pinsim_stats() failed");
	/* The VMM: a process with room to pin 64 MiB. */
	if (pinsim_proc_create(S.m, &p))
		finding("pinsim_proc_create() failed");
	proc_init(&S.procs[0], p);
	if (pinsim_setrlimit(p, RLIMIT_MEMLOCK, &(struct rlimit){ 64 * MiB, 64 * MiB }))
		finding("pinsim_setrlimit() failed");
	for (int i = 0; i < NR_EVENTFDS; i++)
		S.eventfds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* Nothing may oops or WARN, and no DMA may reach a frame no longer pinned. */
static void check_clean(void)
{
	struct pinsim_stats st;

	if (pinsim_stats(S.m, &st))
		finding("pinsim_stats() failed");
	if (st.oopses)
		finding("oops: %s", st.last_oops);
	if (st.warnings && !S.warn_expected)
		finding("%llu WARN(s) (run with PINSIM_WARN_VERBOSE=1 to see where)",
			(unsigned long long)st.warnings);
	if (st.dma_violations)
		finding("%llu DMA(s) reached a RAM frame no longer pinned",
			(unsigned long long)st.dma_violations);
}

/*
 * Drop everything a process holds, as a VMM that cleans up before exit
 * would; afterwards nothing may stay charged to its locked_vm.
 */
static void proc_release_all(struct proc *pr)
{
	int ret;

	pinsim_fail_nth(pr->p, 0, 0);
	pinsim_fail_every(pr->p, 0);
	for (unsigned int i = 0; i < NR_PINS; i++) {
		if (pr->pins[i])
			pinsim_unpin_user_pages(pr->pins[i]);
		pr->pins[i] = NULL;
	}
	if (pinsim_munlockall)
		pinsim_munlockall(pr->p);
	ret = pinsim_munmap(pr->p, 0, SIM_TASK_SIZE);
	if (ret && !pr->killed)
		finding("munmap of the whole address space failed: %s", strerror(errno));
	for (int fd = 3; fd <= pr->max_fd + 1; fd++)
		pinsim_close(pr->p, fd);
}

static int host_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void machine_down(void)
{
	struct pinsim_proc_stats ps;
	struct pinsim_stats st;

	S.op_index = MAX_OPS;
	note("cleanup: unpin, munmap, close, destroy");
	for (int i = 0; i < NR_PROCS; i++)
		if (S.procs[i].p)
			proc_release_all(&S.procs[i]);
	check_clean();
	for (int i = 0; i < NR_PROCS; i++) {
		struct proc *pr = &S.procs[i];

		if (!pr->p || pr->killed)
			continue;
		if (pinsim_proc_stats(pr->p, &ps))
			finding("pinsim_proc_stats() failed");
		if (ps.locked_vm)
			finding("process %d: locked_vm %llu pages with no pin, mapping or fd left",
				i, (unsigned long long)ps.locked_vm);
	}
	for (int i = 0; i < NR_PROCS; i++)
		if (S.procs[i].p)
			proc_destroy(&S.procs[i]);
	check_clean();
	if (pinsim_stats(S.m, &st))
		finding("pinsim_stats() failed");
	if (st.pages_allocated != S.base.pages_allocated)
		finding("pages_allocated %llu with every process gone, %llu on the fresh machine",
			(unsigned long long)st.pages_allocated,
			(unsigned long long)S.base.pages_allocated);
	if (st.tasks != S.base.tasks)
		finding("%llu tasks alive with every process gone, %llu before",
			(unsigned long long)st.tasks, (unsigned long long)S.base.tasks);
	if (st.hugetlb_2m_free != st.hugetlb_2m_total || st.hugetlb_1g_free != st.hugetlb_1g_total)
		finding("hugetlb pages still in use: 2M %llu/%llu free, 1G %llu/%llu free",
			(unsigned long long)st.hugetlb_2m_free,
			(unsigned long long)st.hugetlb_2m_total,
			(unsigned long long)st.hugetlb_1g_free,
			(unsigned long long)st.hugetlb_1g_total);
	pinsim_destroy(S.m);
	S.m = NULL;
	for (int i = 0; i < NR_EVENTFDS; i++)
		if (S.eventfds[i] >= 0)
			close(S.eventfds[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	S.trace = getenv("FUZZ_API_TRACE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	int fds_before, fds;

	if (!size)
		return 0;
	fds_before = host_fd_count();
	memset(&S.procs, 0, sizeof(S.procs));
	S.nr_iovas = 0;
	S.nr_history = 0;
	S.op_index = 0;
	machine_up(u8(&in));
	for (S.op_index = 1; in.n && S.op_index <= MAX_OPS; S.op_index++) {
		uint8_t op = u8(&in) % NR_OPS;

		if (S.trace)
			fprintf(stderr, "fuzz_api: #%u: opcode %u\n", S.op_index, op);
		ops[op](&in);
		check_clean();
	}
	machine_down();
	fds = host_fd_count();
	if (fds != fds_before)
		finding("%d host fds open after the input, %d before (a leaked eventfd reference?)",
			fds, fds_before);
	return 0;
}
