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
 * same page of the same memfd: data is shared both ways.  A frame the
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
#include <unistd.h>

#include "preload.h"

int preload_pinsim_fd(int fd);

struct region {
	uint64_t start, end;
	int prot;
	int sim_flags; /* what pinsim_mmap() was given */
	bool device;
	bool hugepage; /* MADV_HUGEPAGE */
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

/* The zap notifier: any thread, simulated locks held, no pinsim calls. */
static void mirror_zapped(void *data, uint64_t start, uint64_t end)
{
	(void)data;
	atomic_fetch_add(&zap_seq, 1);
	host_drop_mirrored(start, end);
	preload_count_zap();
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
	sim_enter();
	got = pinsim_mmap(preload.p, (uintptr_t)h, len, prot, (flags & SIM_ANON_FLAGS) | MAP_FIXED,
			  -1, 0);
	err = errno;
	sim_exit();
	if (got == PINSIM_MAP_FAILED) {
		REAL(munmap)(h, len);
		if (fixed)
			region_remove((uintptr_t)h, (uintptr_t)h + len);
		errno = err;
		return MAP_FAILED;
	}
	r = (struct region){(uintptr_t)h, (uintptr_t)h + len, prot, flags & SIM_ANON_FLAGS, false,
			    false};
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

	sim_enter();
	got = pinsim_mmap(preload.p, (uintptr_t)addr, len, prot, flags, pfd, (uint64_t)off);
	err = errno;
	sim_exit();
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
		sim_enter();
		pinsim_munmap(preload.p, got, len);
		if (h != MAP_FAILED &&
		    pinsim_mmap(preload.p, (uintptr_t)h, len, prot, flags | MAP_FIXED, pfd,
				(uint64_t)off) == PINSIM_MAP_FAILED) {
			err = errno;
			REAL(munmap)(h, len);
			h = MAP_FAILED;
		}
		sim_exit();
	}
	if (h == MAP_FAILED) {
		errno = err ? err : ENOMEM;
		return MAP_FAILED;
	}
	r = (struct region){(uintptr_t)h, (uintptr_t)h + len, prot, flags, true, false};
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
	sim_enter();
	pinsim_munmap(preload.p, start, len);
	sim_exit();
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *ret;
	int pfd;

	if (preload_in_sim || !preload.ready)
		return REAL(mmap)(addr, len, prot, flags, fd, off);
	if ((flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE)
		return mirror_anon(addr, len, prot, flags);
	if (!(flags & MAP_ANONYMOUS) && (pfd = preload_pinsim_fd(fd)) >= 0)
		return mirror_device(addr, len, prot, flags, pfd, off);
	ret = REAL(mmap)(addr, len, prot, flags, fd, off);
	if (ret != MAP_FAILED && (flags & MAP_FIXED))
		mirror_forget((uintptr_t)ret, len);
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

	if (preload_in_sim || !preload.ready)
		return REAL(munmap)(addr, len);
	if ((a & 4095) || !len || len > UINT64_MAX - a) {
		errno = EINVAL;
		return -1;
	}
	mirror_forget(a, (len + 4095) & ~(size_t)4095);
	return REAL(munmap)(addr, len);
}

/*
 * madvise(DONTNEED/FREE/REMOVE) of mirrored anonymous memory reads back as
 * zeros: the host mirror is dropped and the simulated range replaced by a
 * fresh one (what zapping private anonymous memory amounts to; pinned pages
 * stay pinned, as in the kernel).  pinsim has no MADV_DONTNEED of its own.
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
			sim_enter();
			pinsim_munmap(preload.p, a, e - a);
			pinsim_mmap(preload.p, a, e - a, r.prot, r.sim_flags | MAP_FIXED, -1, 0);
			if (r.hugepage)
				pinsim_madvise(preload.p, a, e - a, MADV_HUGEPAGE);
			sim_exit();
		}
		a = e;
	}
	return 0;
}

static void region_set_hugepage(uint64_t start, uint64_t end, bool on)
{
	pthread_mutex_lock(&regions_lock);
	for (size_t i = 0; i < nr_regions; i++)
		if (regions[i].start >= start && regions[i].end <= end)
			regions[i].hugepage = on;
	pthread_mutex_unlock(&regions_lock);
}

int madvise(void *addr, size_t len, int advice)
{
	uint64_t a = (uintptr_t)addr;
	int ret;

	if (preload_in_sim || !preload.ready || !region_overlaps(a, a + len))
		return REAL(madvise)(addr, len, advice);
	switch (advice) {
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
		sim_enter();
		ret = pinsim_madvise(preload.p, a, len, advice);
		sim_exit();
		if (!ret) {
			region_set_hugepage(a, a + len, advice == MADV_HUGEPAGE);
			REAL(madvise)(addr, len, advice);
		}
		return ret;
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_REMOVE:
		return mirror_discard(a, len);
	default:
		return REAL(madvise)(addr, len, advice);
	}
}

/*
 * The simulated process has no mprotect() or mremap() (issue 12): on
 * mirrored memory they fail as a kernel without the call would, ENOSYS,
 * rather than let the host mapping and the simulated one disagree.
 */
static int not_modelled(const char *call, uint64_t addr)
{
	preload_count_not_modelled(call, 0, ENOSYS);
	preload_trace("%s of mirrored memory at %#llx is not modelled: ENOSYS", call,
		      (unsigned long long)addr);
	errno = ENOSYS;
	return -1;
}

static bool mirrored(const void *addr, size_t len)
{
	uint64_t a = (uintptr_t)addr;

	return !preload_in_sim && preload.ready && region_overlaps(a, a + len);
}

/*
 * mlock(2) and friends: the simulated process has no mlock (no VM_LOCKED,
 * no locked_vm from it), so on mirrored memory they fail with ENOSYS
 * instead of locking only the host's PROT_NONE reservation.
 */
int mlock(const void *addr, size_t len)
{
	return mirrored(addr, len) ? not_modelled("mlock", (uintptr_t)addr) :
				     REAL(mlock)(addr, len);
}

int mlock2(const void *addr, size_t len, unsigned int flags)
{
	return mirrored(addr, len) ? not_modelled("mlock2", (uintptr_t)addr) :
				     REAL(mlock2)(addr, len, flags);
}

int munlock(const void *addr, size_t len)
{
	return mirrored(addr, len) ? not_modelled("munlock", (uintptr_t)addr) :
				     REAL(munlock)(addr, len);
}

/* mlockall() would lock mirrored memory too (MCL_FUTURE: every later mapping). */
int mlockall(int flags)
{
	bool any;

	pthread_mutex_lock(&regions_lock);
	any = nr_regions > 0;
	pthread_mutex_unlock(&regions_lock);
	if (!preload_in_sim && preload.ready && (any || (flags & MCL_FUTURE)))
		return not_modelled("mlockall", 0);
	return REAL(mlockall)(flags);
}

int mprotect(void *addr, size_t len, int prot)
{
	uint64_t a = (uintptr_t)addr;

	if (!preload_in_sim && preload.ready && region_overlaps(a, a + len))
		return not_modelled("mprotect", a);
	return REAL(mprotect)(addr, len, prot);
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	uint64_t a = (uintptr_t)old;
	void *new_addr = NULL;
	va_list ap;

	va_start(ap, flags);
	if (flags & MREMAP_FIXED)
		new_addr = va_arg(ap, void *);
	va_end(ap);
	if (!preload_in_sim && preload.ready && region_overlaps(a, a + old_len)) {
		not_modelled("mremap", a);
		return MAP_FAILED;
	}
	return REAL(mremap)(old, old_len, new_len, flags, new_addr);
}

/* ---- the first touch ---- */

/*
 * Map the frame behind @addr into the program, leaf-sized.  0, or the
 * errno of pinsim_touch(): EFAULT (SIGSEGV), EIO (SIGBUS).
 */
static int mirror_page(const struct region *r, uint64_t addr)
{
	unsigned long seq = atomic_load(&zap_seq);
	struct pinsim_page_info info;
	uint64_t size, base, pfn, off;
	int fd, ret;

	sim_enter();
	ret = pinsim_touch(preload.p, addr, !!(r->prot & PROT_WRITE), &info);
	sim_exit();
	if (ret)
		return errno;
	if (info.level == PINSIM_LEVEL_NONE)
		return EFAULT;
	size = info.level == PINSIM_LEVEL_PUD ? 1ULL << 30 :
	       info.level == PINSIM_LEVEL_PMD ? 2ULL << 20 :
						4096;
	base = addr & ~(size - 1);
	if (base < r->start || base + size > r->end) {
		size = 4096; /* the leaf spans more than this host region */
		base = addr & ~(size - 1);
	}
	pfn = info.pfn - ((addr - base) >> 12);
	fd = pinsim_phys_fd(preload.m, pfn, &off);
	if (fd < 0)
		return EFAULT;
	if (REAL(mmap)((void *)(uintptr_t)base, size, r->prot, MAP_SHARED | MAP_FIXED, fd,
		       (off_t)off) == MAP_FAILED)
		return EFAULT;
	/* A zap ended since the touch: what was mapped may be stale. */
	if (atomic_load(&zap_seq) != seq)
		host_drop_mirrored(base, base + size);
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

static void mirror_fault(int sig, siginfo_t *si, void *uc)
{
	uint64_t addr = (uintptr_t)si->si_addr;
	int saved = errno, err;
	struct region r;

	if (si->si_code == SEGV_ACCERR && preload.ready && region_find(addr, &r)) {
		err = mirror_page(&r, addr);
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
