// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory mirroring: the program's memory and the simulated process's are
 * the same bytes.
 *
 * Interposes mmap/mmap64 (private anonymous memory, MAP_HUGETLB included,
 * and device fds at a region offset), munmap, madvise, mprotect and
 * mremap, and installs a SIGSEGV handler; leaves to libc every file
 * mapping, MAP_SHARED anonymous memory and everything pinsim itself maps
 * (its calls run with preload_in_sim raised).
 *
 * A mirrored mapping exists twice at the same address with the same
 * protections and flags: in the simulated process (pinsim_mmap(MAP_FIXED)),
 * so that the vaddr of VFIO_IOMMU_MAP_DMA resolves there, and in the host
 * as a PROT_NONE reservation.  The first CPU touch of a page faults
 * (SIGSEGV, SEGV_ACCERR); the handler runs the simulated fault at that
 * address (pinsim_touch(): the level the simulated kernel chooses, a THP or
 * hugetlb folio, a BAR's PMD/PUD pfnmap) and maps the memfd range of the
 * frame behind it there, MAP_SHARED|MAP_FIXED, leaf-sized
 * (pinsim_phys_fd()).  From then on the program's pointer and the
 * simulated direct map (what simulated DMA and the IOMMU reach) are the
 * same page of the same memfd: data is shared both ways.  The touch is the
 * CPU's access, a read or a write (x86-64's page-fault error code), and a
 * frame the simulated PTE maps read-only (the zero page, a page COW-shared
 * after fork) is mapped read-only, so that a later write faults again and
 * breaks COW in the simulation first.  In a forked child (fork.c) the
 * touch is a request to the machine host, in the child's simulated
 * process.  A frame the
 * simulated side faulted first (MAP_DMA pinning) is found the same way when
 * the program first touches it: pinsim_touch() then only reports the frame.
 *
 * Invariant: dropping a host mirror (putting PROT_NONE back) is always
 * safe, since the bytes live in the simulated frame and the next touch
 * maps it again.  That is how changes the simulated side makes are
 * followed: the process's zap notifier (pinsim_set_zap_notifier(), the
 * simulated kernel's mmu_notifier_invalidate_range_end()) drops the host
 * mirror of every range whose leaves the simulation cleared, whoever
 * cleared them: a BAR zap for decode off or a reset, the injector's
 * ZAP_BARS, a numa_maps reader splitting a BAR's PUD.  A touch racing with
 * a zap is caught as KVM's mmu_invalidate_seq does it: mirror_page() maps
 * what pinsim_touch() found, then drops it again if a zap ended meanwhile
 * (the next touch faults in afresh).  A range the program itself unmaps
 * leaves the table before the simulation zaps it, so that the notifier
 * never puts a reservation back where the program freed memory.
 *
 * Cost: one host VMA per mirrored leaf unless the host kernel merges
 * neighbours (same memfd, contiguous offsets, same protections), which the
 * simulated allocator's mostly ascending pfns often allow.  Worst case a
 * 4K-faulted guest of N GiB needs N * 262144 host VMAs against
 * vm.max_map_count (65530 by default): THP- or hugetlb-backed guest RAM
 * needs 512 or 262144 times fewer.  When the host refuses a mapping
 * (ENOMEM), the fault is passed on as a SIGSEGV.
 */
#include <errno.h>
#include <linux/mman.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "preload.h"
#include "shmem.h"

int preload_pinsim_fd(int fd);

struct region {
	uint64_t start, end;
	int prot;
	int sim_flags; /* what pinsim_mmap() was given */
	bool device;
	bool hugepage; /* MADV_HUGEPAGE */
	bool dontfork; /* MADV_DONTFORK: a forked child does not have it */
};

static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;
static size_t nr_regions, cap_regions;
static struct sigaction prev_segv;

/* Under regions_lock: a copy of the region holding @addr. */
static bool region_find(uint64_t addr, struct region *out)
{
	bool found = false;

	pthread_mutex_lock(&regions_lock);
	for (size_t i = 0; i < nr_regions; i++) {
		if (addr >= regions[i].start && addr < regions[i].end) {
			*out = regions[i];
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&regions_lock);
	return found;
}

static bool region_overlaps(uint64_t start, uint64_t end)
{
	bool hit = false;

	pthread_mutex_lock(&regions_lock);
	for (size_t i = 0; i < nr_regions && !hit; i++)
		hit = regions[i].start < end && start < regions[i].end;
	pthread_mutex_unlock(&regions_lock);
	return hit;
}

static int region_push_locked(const struct region *r)
{
	if (nr_regions == cap_regions) {
		size_t cap = cap_regions ? cap_regions * 2 : 64;
		struct region *n = realloc(regions, cap * sizeof(*n));

		if (!n)
			return -1;
		regions = n;
		cap_regions = cap;
	}
	regions[nr_regions++] = *r;
	return 0;
}

/* Cut [start, end) out of the table (splitting a region that straddles it). */
static void region_remove(uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&regions_lock);
	for (size_t i = 0; i < nr_regions;) {
		struct region *r = &regions[i], tail;

		if (r->end <= start || end <= r->start) {
			i++;
			continue;
		}
		tail = *r;
		if (r->start < start) {
			r->end = start;
			i++;
		} else {
			regions[i] = regions[--nr_regions];
		}
		if (tail.end > end) {
			tail.start = end;
			region_push_locked(&tail);
		}
	}
	pthread_mutex_unlock(&regions_lock);
}

static int region_add(const struct region *r)
{
	int ret;

	region_remove(r->start, r->end);
	pthread_mutex_lock(&regions_lock);
	ret = region_push_locked(r);
	pthread_mutex_unlock(&regions_lock);
	return ret;
}

/* ---- the host side ---- */

static void *host_reserve(void *addr, size_t len, int flags)
{
	return REAL(mmap)(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags,
			  -1, 0);
}

/* A reservation of @len aligned to @align (a power of two). */
static void *host_reserve_aligned(size_t len, size_t align)
{
	unsigned char *p = host_reserve(NULL, len + align, 0), *a;

	if (p == MAP_FAILED)
		return p;
	a = (unsigned char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (a > p)
		REAL(munmap)(p, (size_t)(a - p));
	if (a + len < p + len + align)
		REAL(munmap)(a + len, (size_t)(p + len + align - (a + len)));
	return a;
}

/* Put PROT_NONE back over [start, end): the next touch faults through pinsim. */
static void host_drop(uint64_t start, uint64_t end)
{
	host_reserve((void *)(uintptr_t)start, end - start, MAP_FIXED);
}

/* Ends of zaps seen by mirror_zapped(): a touch that raced with one retries. */
static _Atomic unsigned long zap_seq;

/* Drop the host mirror of [start, end) where it is still a mirrored region. */
static void host_drop_mirrored(uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&regions_lock);
	for (size_t i = 0; i < nr_regions; i++) {
		uint64_t s = regions[i].start > start ? regions[i].start : start;
		uint64_t e = regions[i].end < end ? regions[i].end : end;

		if (s < e)
			host_drop(s, e);
	}
	pthread_mutex_unlock(&regions_lock);
}

void mirror_zap(uint64_t start, uint64_t end)
{
	atomic_fetch_add(&zap_seq, 1);
	host_drop_mirrored(start, end);
	preload_count_zap();
}

/* The zap notifier: any thread, simulated locks held, no pinsim calls. */
static void mirror_zapped(void *data, uint64_t start, uint64_t end)
{
	(void)data;
	mirror_zap(start, end);
}

/*
 * The calls into pinsim, run by preload_sim() as the process's task: here,
 * or for a forked child in the machine host.  a: addr, len, prot, flags,
 * fd, offset (mmap); addr, len (munmap); addr, len, advice (madvise).
 */
static long mmap_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds, int nfds)
{
	(void)buf;
	(void)fds;
	(void)nfds;
	return (long)pinsim_mmap(p, a[0], a[1], (int)a[2], (int)a[3], (int)a[4], a[5]);
}

static long munmap_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		      int nfds)
{
	(void)buf;
	(void)fds;
	(void)nfds;
	return pinsim_munmap(p, a[0], a[1]);
}

static long madvise_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		       int nfds)
{
	(void)buf;
	(void)fds;
	(void)nfds;
	return pinsim_madvise(p, a[0], a[1], (int)a[2]);
}

static uint64_t sim_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, uint64_t off)
{
	return (uint64_t)preload_sim(&(struct preload_call){
		.fn = mmap_fn,
		.a = {addr, len, (uint64_t)prot, (uint64_t)flags, (uint64_t)fd, off}});
}

static int sim_munmap(uint64_t addr, uint64_t len)
{
	return (int)preload_sim(&(struct preload_call){.fn = munmap_fn, .a = {addr, len}});
}

static int sim_madvise(uint64_t addr, uint64_t len, int advice)
{
	return (int)preload_sim(
		&(struct preload_call){.fn = madvise_fn, .a = {addr, len, (uint64_t)advice}});
}

/* ---- mmap ---- */

static size_t huge_size(int flags)
{
	unsigned int shift = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;

	return shift ? 1UL << shift : 2UL << 20;
}

#define SIM_ANON_FLAGS                                                           \
	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE | MAP_HUGETLB | \
	 (int)((unsigned int)MAP_HUGE_MASK << MAP_HUGE_SHIFT))

static void *mirror_anon(void *addr, size_t len, int prot, int flags)
{
	bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	int host_flags = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	size_t align = flags & MAP_HUGETLB ? huge_size(flags) : 0;
	struct region r;
	uint64_t got;
	void *h;
	int err;

	if (!len) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	len = (len + 4095) & ~(size_t)4095;
	if (align && !fixed)
		h = host_reserve_aligned((len + align - 1) & ~(align - 1), align);
	else
		h = host_reserve(addr, len, host_flags);
	if (h == MAP_FAILED)
		return h;
	got = sim_mmap((uintptr_t)h, len, prot, (flags & SIM_ANON_FLAGS) | MAP_FIXED, -1, 0);
	err = errno;
	if (got == PINSIM_MAP_FAILED) {
		REAL(munmap)(h, len);
		if (fixed)
			region_remove((uintptr_t)h, (uintptr_t)h + len);
		errno = err;
		return MAP_FAILED;
	}
	r = (struct region){(uintptr_t)h, (uintptr_t)h + len, prot, flags & SIM_ANON_FLAGS, false,
			    false, false};
	region_add(&r);
	preload_trace("mmap anon %#lx+%#zx prot %d flags %#x", (unsigned long)(uintptr_t)h, len,
		      prot, flags);
	return h;
}

/*
 * A device region: where the simulated kernel places it (its alignment
 * rules, sim/mmap.c get_unmapped_area()) if the host has that range free,
 * else a host range aligned like the region's size up to 1G and the
 * simulated mapping moved there.
 */
static void *mirror_device(void *addr, size_t len, int prot, int flags, int pfd, off_t off)
{
	int fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	uint64_t got;
	struct region r;
	void *h;
	int err;

	got = sim_mmap((uintptr_t)addr, len, prot, flags, pfd, (uint64_t)off);
	err = errno;
	if (got == PINSIM_MAP_FAILED) {
		errno = err;
		return MAP_FAILED;
	}
	len = (len + 4095) & ~(size_t)4095;
	h = host_reserve((void *)(uintptr_t)got, len, fixed ? MAP_FIXED : MAP_FIXED_NOREPLACE);
	if (h == MAP_FAILED && !fixed) {
		size_t align = len < (1UL << 30) ? len : 1UL << 30;

		align = 1UL << (63 - __builtin_clzl(align));
		h = host_reserve_aligned(len, align);
		sim_munmap(got, len);
		if (h != MAP_FAILED && sim_mmap((uintptr_t)h, len, prot, flags | MAP_FIXED, pfd,
						(uint64_t)off) == PINSIM_MAP_FAILED) {
			err = errno;
			REAL(munmap)(h, len);
			h = MAP_FAILED;
		}
	}
	if (h == MAP_FAILED) {
		errno = err ? err : ENOMEM;
		return MAP_FAILED;
	}
	r = (struct region){(uintptr_t)h, (uintptr_t)h + len, prot, flags, true, false, false};
	region_add(&r);
	preload_trace("mmap device fd %d off %#llx %#lx+%#zx", pfd, (unsigned long long)off,
		      (unsigned long)(uintptr_t)h, len);
	return h;
}

/* The program mapped something else over mirrored memory: the simulation forgets it. */
static void mirror_forget(uint64_t start, uint64_t len)
{
	if (!region_overlaps(start, start + len))
		return;
	/* First out of the table: the zap's notifier must not touch the range. */
	region_remove(start, start + len);
	sim_munmap(start, len);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *ret;
	int pfd;

	if (preload_in_sim || !preload.ready)
		return REAL(mmap)(addr, len, prot, flags, fd, off);
	preload_mm_enter();
	if ((flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE) {
		ret = mirror_anon(addr, len, prot, flags);
	} else if (!(flags & MAP_ANONYMOUS) && (pfd = preload_pinsim_fd(fd)) >= 0) {
		ret = mirror_device(addr, len, prot, flags, pfd, off);	/* shmem.c files too */
	} else if ((flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_SHARED) {
		/* A shmem file in the simulation, placed by it: as a device region. */
		ret = mirror_device(addr, len, prot, flags, -1, 0);
	} else {
		ret = REAL(mmap)(addr, len, prot, flags, fd, off);
		if (ret != MAP_FAILED && (flags & MAP_FIXED))
			mirror_forget((uintptr_t)ret, len);
	}
	preload_mm_exit();
	return ret;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/*
 * The simulation forgets the range before the host frees it: once the host
 * range is free another thread's mmap() may be given it, and a forget
 * after that would remove the new mapping from the simulation.  The checks
 * munmap(2) fails on come first, so that a failing call changes nothing.
 */
int munmap(void *addr, size_t len)
{
	uint64_t a = (uintptr_t)addr;
	int ret;

	if (preload_in_sim || !preload.ready)
		return REAL(munmap)(addr, len);
	if ((a & 4095) || !len || len > UINT64_MAX - a) {
		errno = EINVAL;
		return -1;
	}
	preload_mm_enter();
	mirror_forget(a, (len + 4095) & ~(size_t)4095);
	ret = REAL(munmap)(addr, len);
	preload_mm_exit();
	return ret;
}

/*
 * madvise(FREE/REMOVE) of mirrored anonymous memory reads back as zeros:
 * the host mirror is dropped and the simulated range replaced by a fresh
 * one (what zapping private anonymous memory amounts to; pinned pages stay
 * pinned, as in the kernel).  pinsim models neither advice; MADV_DONTNEED
 * goes to the simulation (mirror_madvise()).
 */
static int mirror_discard(uint64_t start, uint64_t len)
{
	uint64_t end = start + len, a = start;
	struct region r;

	while (a < end) {
		uint64_t e;

		if (!region_find(a, &r)) {
			a += 4096;
			continue;
		}
		e = r.end < end ? r.end : end;
		if (!r.device) {
			host_drop(a, e);
			sim_munmap(a, e - a);
			sim_mmap(a, e - a, r.prot, r.sim_flags | MAP_FIXED, -1, 0);
			if (r.hugepage)
				sim_madvise(a, e - a, MADV_HUGEPAGE);
			if (r.dontfork)
				sim_madvise(a, e - a, MADV_DONTFORK);
		}
		a = e;
	}
	return 0;
}

/*
 * madvise() of a range: the regions it covers take the advice, split at
 * its ends as mm/madvise.c madvise_update_vma() splits VMAs.
 */
static void region_advise(uint64_t start, uint64_t end, int advice)
{
	pthread_mutex_lock(&regions_lock);
	for (size_t i = 0; i < nr_regions; i++) {
		struct region *r = &regions[i], piece;

		if (r->end <= start || end <= r->start)
			continue;
		if (r->start < start) {
			piece = *r;
			piece.end = start;
			r->start = start;
			if (region_push_locked(&piece))
				break;
			r = &regions[i];
		}
		if (r->end > end) {
			piece = *r;
			piece.start = end;
			r->end = end;
			if (region_push_locked(&piece))
				break;
			r = &regions[i];
		}
		if (advice == MADV_HUGEPAGE || advice == MADV_NOHUGEPAGE)
			r->hugepage = advice == MADV_HUGEPAGE;
		else if (advice == MADV_DONTFORK || advice == MADV_DOFORK)
			r->dontfork = advice == MADV_DONTFORK;
	}
	pthread_mutex_unlock(&regions_lock);
}

static int mirror_madvise(void *addr, size_t len, int advice)
{
	uint64_t a = (uintptr_t)addr;
	int ret;

	switch (advice) {
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
		ret = sim_madvise(a, len, advice);
		if (!ret) {
			region_advise(a, a + len, advice);
			REAL(madvise)(addr, len, advice);
		}
		return ret;
	/*
	 * What a fork copies is the simulated mm's business (dup_mmap());
	 * the host's own fork copies nothing of it that matters: a forked
	 * child drops the host mirror of every region (fork.c), and unmaps
	 * those marked here.
	 */
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
		ret = sim_madvise(a, len, advice);
		if (!ret)
			region_advise(a, a + len, advice);
		return ret;
	/*
	 * The simulated kernel's MADV_DONTNEED (sim/madvise.c, 6.12
	 * madvise_dontneed_free()): its errnos, hugetlb and THP rules, pins
	 * kept, and the DMA checker's notes (a device writing a discarded
	 * page later is a coherency violation).  Its zap drops the host
	 * mirror through the zap notifier; dropped here too, for the parts a
	 * failing call discarded before it stopped (the kernel's -ENOMEM
	 * after the mapped parts).
	 */
	case MADV_DONTNEED:
#ifdef MADV_DONTNEED_LOCKED
	case MADV_DONTNEED_LOCKED:
#endif
		ret = sim_madvise(a, len, advice);
		host_drop_mirrored(a & ~(uint64_t)4095, (a + len + 4095) & ~(uint64_t)4095);
		return ret;
	case MADV_FREE:
	case MADV_REMOVE:
		return mirror_discard(a, len);
	default:
		return REAL(madvise)(addr, len, advice);
	}
}

int madvise(void *addr, size_t len, int advice)
{
	uint64_t a = (uintptr_t)addr;
	int ret;

	if (preload_in_sim || !preload.ready || !region_overlaps(a, a + len))
		return REAL(madvise)(addr, len, advice);
	preload_mm_enter();
	ret = mirror_madvise(addr, len, advice);
	preload_mm_exit();
	return ret;
}

/*
 * mprotect(2), mremap(2) and the mlock(2) family on mirrored memory (issue
 * 12): the simulated process makes the call first (sim/mprotect.c,
 * sim/mremap.c, sim/mlock.c: the kernel's checks, errnos and VMA changes),
 * and only when it succeeds does the host mirror follow: the region table
 * takes the new protections or place, and host pages mapped with the old
 * ones are dropped, so that the next touch faults in through pinsim_touch()
 * with what the simulated VMA now allows.  Calls that touch no mirrored
 * memory go to the host kernel.
 */
/* shmem.c: is every byte of [start, start + len) in the region table? */
bool mirror_covers(uint64_t start, uint64_t len)
{
	struct region r;

	for (uint64_t a = start; a < start + len; a = r.end)
		if (!region_find(a, &r))
			return false;
	return true;
}

static bool mirrored(const void *addr, size_t len)
{
	uint64_t a = (uintptr_t)addr;

	return !preload_in_sim && preload.ready && region_overlaps(a, a + (len ? len : 1));
}

/*
 * mprotect/mremap/mlock family through preload_sim() (a forked child's
 * request runs in the machine host).  a: as the system call's arguments.
 */
static long mprotect_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
			int nfds)
{
	(void)buf;
	(void)fds;
	(void)nfds;
	return pinsim_mprotect(p, a[0], a[1], (int)a[2]);
}

static long mremap_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		      int nfds)
{
	(void)buf;
	(void)fds;
	(void)nfds;
	return (long)pinsim_mremap(p, a[0], a[1], a[2], (int)a[3], a[4]);
}

/* a[3]: 0 mlock2, 1 munlock, 2 mlockall, 3 munlockall */
static long mlock_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		     int nfds)
{
	(void)buf;
	(void)fds;
	(void)nfds;
	switch (a[3]) {
	case 0:
		return pinsim_mlock(p, a[0], a[1], (int)a[2]);
	case 1:
		return pinsim_munlock(p, a[0], a[1]);
	case 2:
		return pinsim_mlockall(p, (int)a[2]);
	default:
		return pinsim_munlockall(p);
	}
}

static int sim_mprotect(uint64_t addr, uint64_t len, int prot)
{
	long ret;

	preload_mm_enter();
	ret = preload_sim(
		&(struct preload_call){.fn = mprotect_fn, .a = {addr, len, (uint64_t)prot}});
	preload_mm_exit();
	return (int)ret;
}

static uint64_t sim_mremap(uint64_t old, uint64_t old_len, uint64_t new_len, int flags,
			   uint64_t new_addr)
{
	long ret;

	preload_mm_enter();
	ret = preload_sim(&(struct preload_call){
		.fn = mremap_fn, .a = {old, old_len, new_len, (uint64_t)flags, new_addr}});
	preload_mm_exit();
	return (uint64_t)ret;
}

static int sim_mlock(int op, uint64_t addr, uint64_t len, int flags)
{
	long ret;

	preload_mm_enter();
	ret = preload_sim(&(struct preload_call){
		.fn = mlock_fn, .a = {addr, len, (uint64_t)flags, (uint64_t)op}});
	preload_mm_exit();
	return (int)ret;
}

/* The region table's protection of [start, end) becomes @prot. */
static void region_set_prot(uint64_t start, uint64_t end, int prot)
{
	uint64_t a = start;
	struct region r;

	while (a < end) {
		if (!region_find(a, &r)) {
			a += 4096;
			continue;
		}
		r.start = a;
		r.end = r.end < end ? r.end : end;
		r.prot = prot;
		a = r.end;
		region_add(&r);
	}
}

int mprotect(void *addr, size_t len, int prot)
{
	uint64_t a = (uintptr_t)addr, end = a + ((len + 4095) & ~(size_t)4095);
	int ret, err;

	if (!mirrored(addr, len))
		return REAL(mprotect)(addr, len, prot);
	ret = sim_mprotect(a, len, prot);
	err = errno;
	if (ret) {
		errno = err;
		return -1;
	}
	region_set_prot(a, end, prot);
	/* Pages mapped with the old protections refault with the new ones. */
	host_drop_mirrored(a, end);
	preload_trace("mprotect %#llx+%#zx prot %d", (unsigned long long)a, len, prot);
	return 0;
}

/* Where a moved mapping goes on the host: aligned as mirror_anon()/mirror_device() do. */
static void *mremap_host_reserve(const struct region *r, size_t len)
{
	size_t align = 0;

	if (r->sim_flags & MAP_HUGETLB)
		align = huge_size(r->sim_flags);
	else if (r->device)
		align = 1UL << (63 - __builtin_clzl(len < (1UL << 30) ? len : 1UL << 30));
	else if (len >= (2UL << 20))
		align = 2UL << 20;
	return align ? host_reserve_aligned(len, align) : host_reserve(NULL, len, 0);
}

/*
 * A move to @dst (reserved on the host by us, or the caller's
 * MREMAP_FIXED): the simulation moves the pages (MREMAP_FIXED at @dst),
 * then the table and the host follow: the new range is a PROT_NONE
 * reservation that faults in the moved frames, the old one is unmapped
 * (with MREMAP_DONTUNMAP it stays, empty, as in the simulation).
 */
static void *mremap_move(const struct region *r, uint64_t old, size_t old_len, size_t new_len,
			 int flags, uint64_t dst, bool reserved)
{
	struct region n = *r;
	uint64_t got;
	int err;

	got = sim_mremap(old, old_len, new_len, flags | MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	err = errno;
	if (got == PINSIM_MAP_FAILED) {
		if (reserved)
			REAL(munmap)((void *)(uintptr_t)dst, new_len);
		errno = err;
		return MAP_FAILED;
	}
	new_len = (new_len + 4095) & ~(size_t)4095;
	if (!reserved)
		host_reserve((void *)(uintptr_t)dst, new_len, MAP_FIXED);
	if (flags & MREMAP_DONTUNMAP) {
		host_drop(old, old + old_len);
	} else {
		region_remove(old, old + old_len);
		REAL(munmap)((void *)(uintptr_t)old, old_len);
	}
	n.start = dst;
	n.end = dst + new_len;
	region_add(&n);
	preload_trace("mremap %#llx+%#zx -> %#llx+%#zx", (unsigned long long)old, old_len,
		      (unsigned long long)dst, new_len);
	return (void *)(uintptr_t)dst;
}

/*
 * Growing in place needs the host range above to be free too (something
 * the program mapped outside the simulation may sit there): it is
 * reserved first, and the simulation asked without MREMAP_MAYMOVE.  1:
 * grown; 0: not possible in place (*err), the reservation given back.
 */
static int mremap_grow_in_place(const struct region *r, uint64_t old, size_t old_len,
				size_t new_len, int *err)
{
	uint64_t top = old + old_len;
	struct region n = *r;
	uint64_t got;
	void *h;

	h = host_reserve((void *)(uintptr_t)top, new_len - old_len, MAP_FIXED_NOREPLACE);
	if (h == MAP_FAILED || (uintptr_t)h != top) {
		if (h != MAP_FAILED)
			REAL(munmap)(h, new_len - old_len);
		*err = ENOMEM;
		return 0;
	}
	got = sim_mremap(old, old_len, new_len, 0, 0);
	*err = errno;
	if (got == PINSIM_MAP_FAILED) {
		REAL(munmap)(h, new_len - old_len);
		return 0;
	}
	n.start = old;
	n.end = old + new_len;
	region_add(&n);
	return 1;
}

/* In place, or the simulation's error: shrinks, and calls it refuses. */
static void *mremap_in_place(uint64_t a, size_t old_len, size_t new_len, int flags)
{
	uint64_t got;
	int err;

	got = sim_mremap(a, old_len, new_len, flags, 0);
	err = errno;
	if (got == PINSIM_MAP_FAILED) {
		errno = err;
		return MAP_FAILED;
	}
	new_len = (new_len + 4095) & ~(size_t)4095;
	if (new_len < old_len) {
		region_remove(a + new_len, a + old_len);
		REAL(munmap)((void *)(uintptr_t)(a + new_len), old_len - new_len);
	}
	return (void *)(uintptr_t)got;
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	uint64_t a = (uintptr_t)old;
	void *new_addr = NULL, *h;
	size_t len = (new_len + 4095) & ~(size_t)4095;
	struct region r;
	va_list ap;
	int err;

	va_start(ap, flags);
	if (flags & MREMAP_FIXED)
		new_addr = va_arg(ap, void *);
	va_end(ap);
	if (!mirrored(old, old_len) || !region_find(a, &r))
		return REAL(mremap)(old, old_len, new_len, flags, new_addr);
	old_len = (old_len + 4095) & ~(size_t)4095;
	/* Bad flag combinations: the simulation's -EINVAL, nothing moved. */
	if ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && !(flags & MREMAP_MAYMOVE))
		return mremap_in_place(a, old_len, new_len, flags);
	if (flags & MREMAP_FIXED)
		return mremap_move(&r, a, old_len, new_len, flags, (uintptr_t)new_addr, false);
	if (!(flags & MREMAP_DONTUNMAP)) {
		if (!new_len || len <= old_len)
			return mremap_in_place(a, old_len, new_len, flags);
		if (mremap_grow_in_place(&r, a, old_len, len, &err))
			return old;
		if (err != ENOMEM || !(flags & MREMAP_MAYMOVE)) {
			errno = err;
			return MAP_FAILED;
		}
	}
	/* A move (MREMAP_MAYMOVE or MREMAP_DONTUNMAP) to a range the host has free. */
	h = mremap_host_reserve(&r, len ? len : 4096);
	if (h == MAP_FAILED)
		return MAP_FAILED;
	return mremap_move(&r, a, old_len, new_len, flags, (uintptr_t)h, true);
}

/*
 * mlock(2) and friends: VM_LOCKED, mm->locked_vm (which VFIO type1 charges
 * too) and the populate are the simulated process's; the host does not
 * lock its side (the bytes live in the simulation's frames, and the host
 * mirror is a PROT_NONE reservation plus shared frame mappings that a
 * host mlock would only charge to the host's RLIMIT_MEMLOCK again).
 */
int mlock(const void *addr, size_t len)
{
	return mlock2(addr, len, 0);
}

int mlock2(const void *addr, size_t len, unsigned int flags)
{
	int ret, err;

	if (!mirrored(addr, len))
		return REAL(mlock2)(addr, len, flags);
	ret = sim_mlock(0, (uintptr_t)addr, len, (int)flags);
	err = errno;
	errno = err;
	return ret;
}

int munlock(const void *addr, size_t len)
{
	int ret, err;

	if (!mirrored(addr, len))
		return REAL(munlock)(addr, len);
	ret = sim_mlock(1, (uintptr_t)addr, len, 0);
	err = errno;
	errno = err;
	return ret;
}

/*
 * mlockall(): the simulated process's VMAs and, with MCL_FUTURE, its later
 * mappings (mm->def_flags).  The host's own memory is left unlocked: a
 * host MCL_FUTURE would lock every later PROT_NONE reservation of the
 * mirror against the host's limit.
 */
int mlockall(int flags)
{
	int ret, err;

	if (preload_in_sim || !preload.ready)
		return REAL(mlockall)(flags);
	ret = sim_mlock(2, 0, 0, flags);
	err = errno;
	errno = err;
	return ret;
}

int munlockall(void)
{
	int ret, err;

	if (preload_in_sim || !preload.ready)
		return REAL(munlockall)();
	ret = sim_mlock(3, 0, 0, 0);
	err = errno;
	REAL(munlockall)();
	errno = err;
	return ret;
}

/* ---- the first touch ---- */

struct touch_out {
	struct pinsim_page_info info;
	uint64_t base, size; /* the host range to map: the leaf, or its 4K */
	uint64_t off; /* of base's frame in its memfd */
	int32_t fd; /* the machine's memfd (a forked child has it under this number) */
};

/*
 * a: addr, write, the host region's start and end.  The simulated CPU's
 * access (pinsim_touch()), then the memfd range behind the leaf, cut to
 * 4K where the leaf spans more than the host region.
 */
static long touch_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		     int nfds)
{
	struct touch_out *o = buf;
	uint64_t addr = a[0], pfn;

	(void)fds;
	(void)nfds;
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (pinsim_touch(p, addr, (int)a[1], &o->info))
		return -1;
	if (o->info.level == PINSIM_LEVEL_NONE)
		return 0;
	o->size = o->info.level == PINSIM_LEVEL_PUD ? 1ULL << 30 :
		  o->info.level == PINSIM_LEVEL_PMD ? 2ULL << 20 :
						      4096;
	o->base = addr & ~(o->size - 1);
	if (o->base < a[2] || o->base + o->size > a[3]) {
		o->size = 4096;
		o->base = addr & ~4095ULL;
	}
	pfn = o->info.pfn - ((addr - o->base) >> 12);
	o->fd = pinsim_phys_fd(preload.m, pfn, &o->off);
	return 0;
}

/*
 * Map the frame behind @addr into the program, leaf-sized, for a read or
 * (@write) a write: the simulated fault decides, and a frame it leaves
 * read-only (a COW-shared page after fork, the zero page) is mapped
 * read-only, so that the next write faults again and breaks COW there as
 * the kernel's do_wp_page() does; a read never breaks it.  0, or the errno
 * of pinsim_touch(): EFAULT (SIGSEGV), EIO (SIGBUS; for a forked child
 * also: its machine host is gone).
 */
static int mirror_page(const struct region *r, uint64_t addr, bool write)
{
	unsigned long seq = atomic_load(&zap_seq);
	struct touch_out o;
	int prot = r->prot;

	if (preload_sim(&(struct preload_call){.fn = touch_fn,
					       .a = {addr, write, r->start, r->end},
					       .buf = &o,
					       .out_len = sizeof(o)}))
		return errno;
	if (o.info.level == PINSIM_LEVEL_NONE || o.fd < 0)
		return EFAULT;
	if (!o.info.writable)
		prot &= ~PROT_WRITE;
	if (REAL(mmap)((void *)(uintptr_t)o.base, o.size, prot, MAP_SHARED | MAP_FIXED, o.fd,
		       (off_t)o.off) == MAP_FAILED)
		return EFAULT;
	/* A zap ended since the touch: what was mapped may be stale. */
	if (atomic_load(&zap_seq) != seq)
		host_drop_mirrored(o.base, o.base + o.size);
	preload_count_cpu_fault(false);
	return 0;
}

static void chain(struct sigaction *prev, int sig, siginfo_t *si, void *uc)
{
	if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) {
		prev->sa_sigaction(sig, si, uc);
	} else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
	} else {
		/* Default action: the instruction runs again and the kernel kills. */
		signal(sig, SIG_DFL);
	}
}

/* A BAR access the simulated kernel answers with VM_FAULT_SIGBUS. */
static void deliver_sigbus(uint64_t addr, void *uc)
{
	struct sigaction cur;
	siginfo_t bi;

	memset(&bi, 0, sizeof(bi));
	bi.si_signo = SIGBUS;
	bi.si_code = BUS_ADRERR;
	bi.si_addr = (void *)(uintptr_t)addr;
	sigaction(SIGBUS, NULL, &cur);
	if ((cur.sa_flags & SA_SIGINFO) ||
	    (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN)) {
		chain(&cur, SIGBUS, &bi, uc);
		return;
	}
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/*
 * Was the faulting access a write?  x86-64: the page-fault error code's
 * bit 1 (X86_PF_WRITE), which the kernel hands to the handler as REG_ERR.
 * Elsewhere: a write if the region allows one (a read then breaks COW
 * early: the bytes stay right, the frame is copied sooner than the
 * kernel would).
 */
static bool fault_is_write(const struct region *r, void *uc)
{
#if defined(__x86_64__)
	(void)r;
	return ((ucontext_t *)uc)->uc_mcontext.gregs[REG_ERR] & 2;
#else
	(void)uc;
	return r->prot & PROT_WRITE;
#endif
}

static void mirror_fault(int sig, siginfo_t *si, void *uc)
{
	uint64_t addr = (uintptr_t)si->si_addr;
	int saved = errno, err;
	struct region r;

	if (si->si_code == SEGV_ACCERR && preload.ready && region_find(addr, &r)) {
		err = mirror_page(&r, addr, fault_is_write(&r, uc));
		errno = saved;
		if (!err)
			return;
		if (err == EIO) {
			preload_count_cpu_fault(true);
			deliver_sigbus(addr, uc);
			return;
		}
	}
	chain(&prev_segv, sig, si, uc);
}

int mirror_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = mirror_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (pinsim_set_zap_notifier(preload.p, mirror_zapped, NULL))
		return -1;
	return sigaction(SIGSEGV, &sa, &prev_segv);
}

/* ---- fork (fork.c) ---- */

bool mirror_any(void)
{
	bool any;

	pthread_mutex_lock(&regions_lock);
	any = nr_regions > 0;
	pthread_mutex_unlock(&regions_lock);
	return any;
}

/* Across the real fork: no other thread is halfway through the table. */
void mirror_fork_prepare(void)
{
	pthread_mutex_lock(&regions_lock);
}

void mirror_fork_release(bool child)
{
	if (child)
		pthread_mutex_init(&regions_lock, NULL);
	else
		pthread_mutex_unlock(&regions_lock);
}

/*
 * A forked child starts with none of its parent's host mirror: every
 * region goes back to its PROT_NONE reservation, so that each first touch
 * asks the child's own simulated process (pinsim_fork()'s copy: COW
 * sharing, pinned pages copied, WIPEONFORK empty).  A DONTFORK region is
 * not in that process at all: it leaves the table and the host range is
 * unmapped, so a touch is the program's SIGSEGV (SEGV_MAPERR), as in the
 * kernel.  Single-threaded (fork.c client_start()).
 */
void mirror_client_start(void)
{
	for (size_t i = 0; i < nr_regions;) {
		struct region *r = &regions[i];

		if (r->dontfork) {
			REAL(munmap)((void *)(uintptr_t)r->start, r->end - r->start);
			regions[i] = regions[--nr_regions];
			continue;
		}
		host_drop(r->start, r->end);
		i++;
	}
}
