// SPDX-License-Identifier: GPL-2.0-only
/*
 * Differential driver: pinsim (public API only) against tests/ref_model.c.
 *
 * A run is one seed: a fresh machine with three vfio-pci devices (two on
 * IOMMU unit 0, one on unit 1; BARs of 4K to 64K and one of 2M), one
 * process, a dma_entry_limit and IOMMU page sizes drawn from the seed, and
 * a few thousand operations drawn from the seed: container/group/device
 * opens, closes, SET_CONTAINER, UNSET_CONTAINER, SET_IOMMU, GET_DEVICE_FD,
 * CHECK_EXTENSION, MAP_DMA, UNMAP_DMA (VADDR, ALL, GET_DIRTY_BITMAP,
 * unknown flags), DIRTY_PAGES, GET_INFO, anonymous/hugetlb/BAR mmap and
 * munmap, RLIMIT_MEMLOCK and CAP_IPC_LOCK changes.  Arguments
 * favour the edges: adjacent and overlapping ranges, bisecting unmaps,
 * ranges ending exactly at 2^64 or wrapping, the MSI window, the 2^48
 * aperture end, unaligned and zero sizes, munmapped and BAR sources.
 *
 * After every operation: the return value and errno, then the state:
 * locked_vm, the hugetlb pool, nr_dmas/dma_avail of every open container,
 * IOMMU translations of every group (samples inside and just outside every
 * mapping, and the ranges the step removed), and /proc/pid/pagemap of
 * sampled pages of every VMA (pfn, FOLL_PIN count, refcount).  Physical
 * addresses are not predicted: each page the model knows by identity is
 * bound to the pfn pinsim first shows for it, and from then on every
 * translation and pagemap entry must agree, and no two live pages may
 * share a pfn.
 */
#include "diff_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mman.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "pinsim/pinsim.h"
#include "ref_model.h"

#define PG RM_PAGE_SIZE
#define HIST 64
#define BADFD 999
#define MAX_LIVE_VMAS 40
#define HUGE_AREA 0x100000000000ULL	/* MAP_FIXED hugetlb mappings go here */
#define ANON_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS)
#define HUGE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB)
#define RW (PROT_READ | PROT_WRITE)
#define DMA_RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define DIRTY_BYTES(n) ((((n) + 63) & ~63ULL) / 8)

const uint64_t diff_default_seeds[] = { 1, 2, 3, 0x5eed, 20260317, 4242, 77, 31337 };
const size_t diff_default_nseeds = sizeof(diff_default_seeds) / sizeof(diff_default_seeds[0]);

size_t diff_seeds_from_env(uint64_t *seeds, size_t max, unsigned long *nops)
{
	const char *s = getenv("PINSIM_SEED"), *n = getenv("PINSIM_DIFF_OPS");
	size_t i;

	if (getenv("PINSIM_VALGRIND"))
		*nops = 800;	/* about 50 times slower under valgrind */
	if (n && *n)
		*nops = strtoul(n, NULL, 0);
	if (s && *s && max) {
		seeds[0] = strtoull(s, NULL, 0);
		return 1;
	}
	for (i = 0; i < diff_default_nseeds && i < max; i++)
		seeds[i] = diff_default_seeds[i];
	return i;
}

static const struct rm_dev_cfg devs[] = {
	{ "0000:01:00.0", { [0] = 16 << 10, [2] = 64 << 10 }, 0 },
	{ "0000:02:00.0", { [0] = 8 << 10 }, 0 },
	{ "0000:03:00.0", { [0] = 32 << 10, [1] = 4 << 10, [2] = 2 << 20 }, 1 },
};
#define NDEVS ((int)(sizeof(devs) / sizeof(devs[0])))

struct drv {
	const struct diff_opts *o;
	struct diff_stats *st;
	struct pinsim *sim;
	struct pinsim_proc *proc;
	struct rm_model m;
	int fd[RM_MAX_FILES];
	int group_id[RM_MAX_DEVS];
	uint64_t rng, crng;
	/* frame -> pfn, learned from pinsim the first time a frame is seen */
	uint64_t *phys;
	unsigned char *known;
	int phys_cap;
	/* pfn -> frame, to catch two live frames on one pfn */
	uint64_t *hkey;
	int *hval;
	size_t hcap, hused;
	char hist[HIST][400];
	unsigned long nhist;
	char cur[320];
	unsigned long step;
	char *report;
	size_t rlen;
	bool diverged;
	uint64_t bitmap_buf[512];	/* the user's dirty bitmap pinsim writes */
	uint64_t exp_bitmap[512];	/* ... and the model */
};

/* ======================= randomness ======================= */

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(struct drv *d, uint64_t n)
{
	return n ? mix(&d->rng) % n : 0;
}

static bool chance(struct drv *d, unsigned int pct)
{
	return below(d, 100) < pct;
}

/* The checks draw from their own stream: the operation sequence of a seed never changes. */
static uint64_t cbelow(struct drv *d, uint64_t n)
{
	return n ? mix(&d->crng) % n : 0;
}

/* ======================= reporting ======================= */

static void push_history(struct drv *d, const char *result)
{
	if (getenv("PINSIM_DIFF_TRACE"))
		fprintf(stderr, "#%lu %s -> %s\n", d->step, d->cur, result);
	snprintf(d->hist[d->nhist % HIST], sizeof(d->hist[0]), "#%lu %.300s -> %.60s", d->step,
		 d->cur, result);
	d->nhist++;
}

static bool diverge(struct drv *d, const char *fmt, ...)
{
	size_t pos;
	unsigned long first, n = d->o->history ? d->o->history : 24;
	va_list ap;

	if (d->diverged)
		return false;
	d->diverged = true;
	pos = (size_t)snprintf(d->report, d->rlen,
			       "DIVERGENCE seed=%llu kernel=%s%s step=%lu\n  op: %s\n  ",
			       (unsigned long long)d->o->seed, d->o->kernel,
			       d->o->tree ? " impl=tree" : "", d->step, d->cur);
	if (pos >= d->rlen)
		return false;
	va_start(ap, fmt);
	pos += (size_t)vsnprintf(d->report + pos, d->rlen - pos, fmt, ap);
	va_end(ap);
	if (n > HIST)
		n = HIST;
	first = d->nhist > n ? d->nhist - n : 0;
	if (pos < d->rlen)
		pos += (size_t)snprintf(d->report + pos, d->rlen - pos,
					"\n  reproduce: PINSIM_SEED=%llu (kernel %s, %lu ops)\n"
					"  last %lu operations:\n",
					(unsigned long long)d->o->seed, d->o->kernel, d->o->nops,
					d->nhist - first);
	for (unsigned long i = first; i < d->nhist && pos < d->rlen; i++)
		pos += (size_t)snprintf(d->report + pos, d->rlen - pos, "    %s\n",
					d->hist[i % HIST]);
	return false;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ENOTTY: return "ENOTTY";
	case EOVERFLOW: return "EOVERFLOW";
	case EBADFD: return "EBADFD";
	case EACCES: return "EACCES";
	case ESRCH: return "ESRCH";
	default: return strerror(e);
	}
}

static void fmt_res(char *buf, size_t len, long ret, int err)
{
	if (ret == -1)
		snprintf(buf, len, "-1/%s", errname(err));
	else
		snprintf(buf, len, "%ld", ret);
}

/*
 * Compare a syscall-shaped result.  @fd_like: success is any value >= 0
 * (an fd or an address), whatever the model's value.
 */
static bool cmp(struct drv *d, struct rm_res exp, long got, int got_err, bool fd_like)
{
	char e[64], g[64], h[160];
	bool same;

	d->st->checks++;
	if (exp.ret == -1)
		same = got == -1 && got_err == exp.err;
	else if (fd_like)
		same = got >= 0;
	else
		same = got == exp.ret;
	fmt_res(e, sizeof(e), exp.ret, exp.err);
	fmt_res(g, sizeof(g), got, got == -1 ? got_err : 0);
	snprintf(h, sizeof(h), "exp %s got %s", e, g);
	push_history(d, h);
	if (!same)
		return diverge(d, "result: expected %s, got %s", e, g);
	return true;
}

/* ======================= pfn bookkeeping ======================= */

static void phys_grow(struct drv *d)
{
	int need = d->m.nframes;

	if (need <= d->phys_cap)
		return;
	int ncap = d->phys_cap ? d->phys_cap : 1024;

	while (ncap < need)
		ncap *= 2;
	d->phys = realloc(d->phys, (size_t)ncap * sizeof(*d->phys));
	d->known = realloc(d->known, (size_t)ncap);
	if (!d->phys || !d->known)
		abort();
	memset(d->known + d->phys_cap, 0, (size_t)(ncap - d->phys_cap));
	d->phys_cap = ncap;
}

static size_t hslot(const struct drv *d, uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (d->hcap - 1);

	while (d->hval[i] >= 0 && d->hkey[i] != key)
		i = (i + 1) & (d->hcap - 1);
	return i;
}

static void hput(struct drv *d, uint64_t key, int val);

static void hgrow(struct drv *d)
{
	uint64_t *ok = d->hkey;
	int *ov = d->hval;
	size_t ocap = d->hcap;

	d->hcap = ocap ? ocap * 2 : 1 << 16;
	d->hkey = calloc(d->hcap, sizeof(*d->hkey));
	d->hval = malloc(d->hcap * sizeof(*d->hval));
	if (!d->hkey || !d->hval)
		abort();
	memset(d->hval, 0xff, d->hcap * sizeof(*d->hval));
	d->hused = 0;
	for (size_t i = 0; i < ocap; i++)
		if (ov[i] >= 0)
			hput(d, ok[i], ov[i]);
	free(ok);
	free(ov);
}

static void hput(struct drv *d, uint64_t key, int val)
{
	size_t i;

	if (2 * (d->hused + 1) > d->hcap)
		hgrow(d);
	i = hslot(d, key);
	if (d->hval[i] < 0)
		d->hused++;
	d->hkey[i] = key;
	d->hval[i] = val;
}

static int hget(const struct drv *d, uint64_t key)
{
	return d->hval[hslot(d, key)];
}

static const char *frame_desc(const struct drv *d, int f, char *buf, size_t len)
{
	const struct rm_frame *fr = &d->m.frames[f];

	if (fr->kind == RM_FRAME_MMIO)
		snprintf(buf, len, "frame %d (dev%d BAR%d page %llu)", f, fr->dev, fr->bar,
			 (unsigned long long)fr->pgoff);
	else
		snprintf(buf, len, "frame %d (RAM%s, %s, pins %d)", f, fr->folio >= 0 ? " hugetlb" : "",
			 fr->mapped ? "mapped" : "unmapped", fr->pins);
	return buf;
}

/* Bind frame @f to @pfn, or check it against the pfn bound before. */
static bool learn(struct drv *d, int f, uint64_t pfn, const char *where)
{
	char a[96], b[96];
	int g;

	phys_grow(d);
	d->st->checks++;
	if (d->known[f]) {
		if (d->phys[f] != pfn)
			return diverge(d, "%s: %s is pfn %#llx, now shows pfn %#llx", where,
				       frame_desc(d, f, a, sizeof(a)),
				       (unsigned long long)d->phys[f], (unsigned long long)pfn);
		return true;
	}
	g = hget(d, pfn);
	if (g >= 0 && g != f && d->m.frames[g].live)
		return diverge(d, "%s: pfn %#llx of %s is already the pfn of live %s", where,
			       (unsigned long long)pfn, frame_desc(d, f, a, sizeof(a)),
			       frame_desc(d, g, b, sizeof(b)));
	hput(d, pfn, f);
	d->phys[f] = pfn;
	d->known[f] = 1;
	return true;
}

/* ======================= observation ======================= */

static bool probe_iova(struct drv *d, int dev, uint64_t iova)
{
	int exp = rm_iova_frame(&d->m, dev, iova);
	uint64_t phys = 0, leaf = 0;
	char a[96], where[96];
	int r;

	errno = 0;
	r = pinsim_iommu_lookup(d->sim, d->group_id[dev], iova, &phys, &leaf);
	d->st->iova_probes++;
	d->st->checks++;
	if (exp < 0) {
		if (r == 0)
			return diverge(d, "IOMMU of dev%d: iova %#llx should not translate, got phys %#llx",
				       dev, (unsigned long long)iova, (unsigned long long)phys);
		return true;
	}
	if (r)
		return diverge(d, "IOMMU of dev%d: iova %#llx should translate to %s, lookup: %s", dev,
			       (unsigned long long)iova, frame_desc(d, exp, a, sizeof(a)),
			       errname(errno));
	if (phys & (PG - 1))
		return diverge(d, "IOMMU of dev%d: iova %#llx -> phys %#llx not page aligned", dev,
			       (unsigned long long)iova, (unsigned long long)phys);
	snprintf(where, sizeof(where), "IOMMU of dev%d iova %#llx", dev, (unsigned long long)iova);
	return learn(d, exp, phys / PG, where);
}

static bool probe_page(struct drv *d, const struct rm_vma *v, uint64_t addr)
{
	struct pinsim_page_info pi;
	char where[96];
	int f, pins, expref;

	if (pinsim_pagemap(d->proc, addr, &pi))
		return diverge(d, "pagemap(%#llx): %s", (unsigned long long)addr, errname(errno));
	d->st->pagemap_probes++;
	d->st->checks++;
	snprintf(where, sizeof(where), "pagemap(%#llx)", (unsigned long long)addr);
	if (v->kind == RM_VMA_BAR) {
		int *slot = d->m.mmio[v->dev][v->bar];

		f = slot ? slot[v->pgoff + (addr - v->start) / PG] : -1;
		if (pi.level == PINSIM_LEVEL_NONE || f < 0)
			return true;	/* not faulted through this VMA, or unknown */
		if (!pi.mmio)
			return diverge(d, "%s: a BAR page shows RAM pfn %#llx", where,
				       (unsigned long long)pi.pfn);
		return learn(d, f, pi.pfn, where);
	}
	f = v->frames[(addr - v->start) / PG];
	if (pi.level == PINSIM_LEVEL_NONE || pi.mmio)
		return diverge(d, "%s: the (faulted-in) RAM page is %s", where,
			       pi.level == PINSIM_LEVEL_NONE ? "not mapped" : "MMIO");
	if (!learn(d, f, pi.pfn, where))
		return false;
	pins = rm_frame_pincount(&d->m, f);
	/*
	 * FOLL_PIN: an order-0 folio gets GUP_PIN_COUNTING_BIAS references per
	 * pin, a large folio one reference and one _pincount per page; the
	 * mapping holds one reference.
	 */
	expref = d->m.frames[f].folio >= 0 ? 1 + pins : 1 + 1024 * pins;
	if (pi.pincount != pins || pi.refcount != expref)
		return diverge(d, "%s: pincount %d refcount %d, expected pincount %d refcount %d",
			       where, pi.pincount, pi.refcount, pins, expref);
	return true;
}

static bool check_dma_probes(struct drv *d, int dev, const struct rm_iommu *io)
{
	int n = io->ndmas, step = n > 24 ? n / 24 : 1;

	for (int i = (int)cbelow(d, (uint64_t)step); i < n; i += step) {
		const struct rm_dma *dma = &io->dmas[i];
		uint64_t last = dma->iova + dma->size - PG;

		if (!probe_iova(d, dev, dma->iova) || !probe_iova(d, dev, last) ||
		    !probe_iova(d, dev, dma->iova + PG * cbelow(d, dma->size / PG)))
			return false;
		if (dma->iova >= PG && !probe_iova(d, dev, dma->iova - PG))
			return false;
		if (dma->iova + dma->size && !probe_iova(d, dev, dma->iova + dma->size))
			return false;
	}
	return true;
}

static bool check_state(struct drv *d)
{
	struct pinsim_proc_stats ps;
	struct pinsim_stats ss;
	char warn[64];

	if (pinsim_stats(d->sim, &ss))
		return diverge(d, "pinsim_stats: %s", errname(errno));
	if (ss.oopses)
		return diverge(d, "pinsim oopsed: %s", ss.last_oops);
	d->st->checks++;
	if (ss.warnings != d->m.warnings)
		return diverge(d, "WARN_ON()s: expected %lu (kernel paths taken), pinsim took %llu",
			       d->m.warnings, (unsigned long long)ss.warnings);
	if (ss.dma_violations)
		return diverge(d, "%llu DMA(s) reached unpinned frames",
			       (unsigned long long)ss.dma_violations);
	d->st->checks++;
	if (ss.hugetlb_2m_free != d->m.huge_free)
		return diverge(d, "hugetlb 2M free: expected %lu, got %llu", d->m.huge_free,
			       (unsigned long long)ss.hugetlb_2m_free);
	if (pinsim_proc_stats(d->proc, &ps))
		return diverge(d, "pinsim_proc_stats: %s", errname(errno));
	d->st->checks++;
	if (ps.locked_vm != d->m.locked_vm)
		return diverge(d, "locked_vm: expected %llu pages, got %llu",
			       (unsigned long long)d->m.locked_vm, (unsigned long long)ps.locked_vm);
	/* every open container fd */
	for (int h = 0; h < d->m.nfiles; h++) {
		struct pinsim_vfio_stats vs;
		int c = rm_handle_container(&d->m, h), r;

		if (c < 0)
			continue;
		r = pinsim_vfio_stats(d->proc, d->fd[h], &vs);
		d->st->checks++;
		if (!d->m.cont[c].has_iommu) {
			if (r == 0)
				return diverge(d, "pinsim_vfio_stats(container h%d): no iommu set, yet it answers", h);
			continue;
		}
		if (r)
			return diverge(d, "pinsim_vfio_stats(container h%d): %s", h, errname(errno));
		if (vs.nr_dmas != (uint64_t)d->m.cont[c].iommu.ndmas ||
		    vs.dma_avail != d->m.cont[c].iommu.dma_avail)
			return diverge(d, "container h%d: nr_dmas %llu dma_avail %llu, expected %d and %u",
				       h, (unsigned long long)vs.nr_dmas,
				       (unsigned long long)vs.dma_avail, d->m.cont[c].iommu.ndmas,
				       d->m.cont[c].iommu.dma_avail);
	}
	/* IOMMU translations of every group */
	for (int dev = 0; dev < NDEVS; dev++) {
		int c = rm_group_container(&d->m, dev);

		if (c >= 0 && d->m.cont[c].has_iommu) {
			if (!check_dma_probes(d, dev, &d->m.cont[c].iommu))
				return false;
		} else if (!probe_iova(d, dev, 0x100000)) {
			return false;
		}
		for (int i = 0; i < d->m.nremoved; i++) {
			uint64_t a = d->m.removed_iova[i], s = d->m.removed_size[i];

			if (!probe_iova(d, dev, a) || !probe_iova(d, dev, a + s - PG))
				return false;
		}
	}
	/* pagemap of every VMA: first, last and one more page */
	for (int i = 0; i < d->m.nvmas; i++) {
		const struct rm_vma *v = &d->m.vma[i];
		uint64_t n = (v->end - v->start) / PG;

		if (!probe_page(d, v, v->start) || !probe_page(d, v, v->end - PG) ||
		    !probe_page(d, v, v->start + PG * cbelow(d, n)))
			return false;
	}
	(void)warn;
	return true;
}

/* ======================= handles ======================= */

static int fd_of(const struct drv *d, int h)
{
	return h < 0 ? BADFD : d->fd[h];
}

static bool fd_in_use(const struct drv *d, int fd)
{
	for (int h = 0; h < d->m.nfiles; h++)
		if (d->m.files[h].fd_open && d->fd[h] == fd)
			return true;
	return false;
}

/* fs/file.c alloc_fd(): the lowest free number (0, 1 and 2 are stdio) */
static int next_fd(const struct drv *d)
{
	int fd = 3;

	while (fd_in_use(d, fd))
		fd++;
	return fd;
}

/* A new fd from open() or GET_DEVICE_FD: the one alloc_fd() gives. */
static void check_new_fd(struct drv *d, int want, int got)
{
	d->st->checks++;
	if (got != want)
		diverge(d, "new fd: expected %d (the lowest free), got %d", want, got);
}

/* A handle of @type: mostly an open one, sometimes closed, another type, or no fd at all. */
static int pick_handle(struct drv *d, enum rm_file_type type, bool want_iommu)
{
	int cand[RM_MAX_FILES], n = 0, r = (int)below(d, 100);

	if (r < 88) {
		for (int h = 0; h < d->m.nfiles; h++) {
			const struct rm_file *f = &d->m.files[h];

			if (!f->fd_open || f->type != type)
				continue;
			if (want_iommu && type == RM_FILE_CONTAINER && !d->m.cont[f->obj].has_iommu)
				continue;
			cand[n++] = h;
		}
		if (!n && want_iommu)
			return pick_handle(d, type, false);
	} else if (r < 93) {
		for (int h = 0; h < d->m.nfiles; h++)
			if (!d->m.files[h].fd_open && d->m.files[h].type == type &&
			    !fd_in_use(d, d->fd[h]))
				cand[n++] = h;
	} else if (r < 97) {
		for (int h = 0; h < d->m.nfiles; h++)
			if (d->m.files[h].fd_open && d->m.files[h].type != type)
				cand[n++] = h;
	}
	return n ? cand[below(d, (uint64_t)n)] : -1;
}

static const char *hname(const struct drv *d, int h, char *buf, size_t len)
{
	static const char *const t[] = { "c", "g", "d" };

	if (h < 0)
		snprintf(buf, len, "badfd");
	else
		snprintf(buf, len, "%s%d(h%d,fd%d%s)", t[d->m.files[h].type], d->m.files[h].obj, h,
			 d->fd[h], d->m.files[h].fd_open ? "" : ",closed");
	return buf;
}

/* ======================= operations ======================= */

static bool skip(const struct drv *d, unsigned int bit)
{
	return d->o->skip & bit;
}


static void op_open_container(struct drv *d)
{
	struct rm_res e;
	int fd, want = next_fd(d);

	snprintf(d->cur, sizeof(d->cur), "open(/dev/vfio/vfio)");
	errno = 0;
	fd = pinsim_open(d->proc, "/dev/vfio/vfio", O_RDWR);
	e = rm_open_container(&d->m);
	if (cmp(d, e, fd, errno, true)) {
		d->fd[e.ret] = fd;
		check_new_fd(d, want, fd);
	}
}

static void op_open_group(struct drv *d)
{
	int dev = chance(d, 5) ? NDEVS : (int)below(d, NDEVS), fd, id, want = next_fd(d);
	char path[64];
	struct rm_res e;

	id = dev < NDEVS ? d->group_id[dev] : 4242;
	snprintf(path, sizeof(path), "/dev/vfio/%d", id);
	snprintf(d->cur, sizeof(d->cur), "open(%s) [dev%d]", path, dev);
	errno = 0;
	fd = pinsim_open(d->proc, path, O_RDWR);
	e = rm_open_group(&d->m, dev < NDEVS ? dev : -1);
	if (cmp(d, e, fd, errno, true) && e.ret >= 0) {
		d->fd[e.ret] = fd;
		check_new_fd(d, want, fd);
	}
	else if (fd >= 0 && e.ret < 0)
		pinsim_close(d->proc, fd);
}

static void close_h(struct drv *d, int h)
{
	char hn[64];
	int r;

	snprintf(d->cur, sizeof(d->cur), "close(%s)", hname(d, h, hn, sizeof(hn)));
	errno = 0;
	r = pinsim_close(d->proc, fd_of(d, h));
	cmp(d, h < 0 ? (struct rm_res){ -1, EBADF } : rm_close(&d->m, h), r, errno, false);
}

/* A device file some VMA still maps (its BAR): the fd is not its last reference. */
static bool bar_mapped(const struct drv *d, int h)
{
	const struct rm_file *f = &d->m.files[h];

	return f->type == RM_FILE_DEVICE && f->refs > (f->fd_open ? 1 : 0);
}

static void op_close(struct drv *d)
{
	int cand[RM_MAX_FILES], n = 0;

	for (int i = 0; i < d->m.nfiles; i++) {
		if (skip(d, DIFF_OP_BAR_CLOSE) && bar_mapped(d, i))
			continue;
		if (d->m.files[i].fd_open || (chance(d, 3) && !fd_in_use(d, d->fd[i])))
			cand[n++] = i;
	}
	close_h(d, n ? cand[below(d, (uint64_t)n)] : -1);
}

static void set_container_h(struct drv *d, int g, int c)
{
	int cfd = fd_of(d, c), r;
	char a[64], b[64];

	snprintf(d->cur, sizeof(d->cur), "ioctl(%s, GROUP_SET_CONTAINER, %s)",
		 hname(d, g, a, sizeof(a)), hname(d, c, b, sizeof(b)));
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, g), VFIO_GROUP_SET_CONTAINER, &cfd);
	cmp(d, rm_group_set_container(&d->m, g, c), r, errno, false);
}

static void op_set_container(struct drv *d)
{
	set_container_h(d, pick_handle(d, RM_FILE_GROUP, false),
			pick_handle(d, RM_FILE_CONTAINER, false));
}

static void unset_container_h(struct drv *d, int g)
{
	int r;
	char a[64];

	snprintf(d->cur, sizeof(d->cur), "ioctl(%s, GROUP_UNSET_CONTAINER)",
		 hname(d, g, a, sizeof(a)));
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, g), VFIO_GROUP_UNSET_CONTAINER, NULL);
	cmp(d, rm_group_unset_container(&d->m, g), r, errno, false);
}

static void op_unset_container(struct drv *d)
{
	unset_container_h(d, pick_handle(d, RM_FILE_GROUP, false));
}

static void op_get_status(struct drv *d)
{
	int g = pick_handle(d, RM_FILE_GROUP, false), r;
	struct vfio_group_status st = { .argsz = chance(d, 8) ? (uint32_t)below(d, 8) : 8,
					.flags = 0xdead };
	uint32_t flags = 0;
	struct rm_res e;
	char a[64];

	snprintf(d->cur, sizeof(d->cur), "ioctl(%s, GROUP_GET_STATUS, argsz %u)",
		 hname(d, g, a, sizeof(a)), st.argsz);
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, g), VFIO_GROUP_GET_STATUS, &st);
	e = rm_group_get_status(&d->m, g, st.argsz, &flags);
	if (cmp(d, e, r, errno, false) && e.ret == 0 && st.flags != flags)
		diverge(d, "GROUP_GET_STATUS flags: expected %#x, got %#x", flags, st.flags);
}

static void get_device_fd_h(struct drv *d, int g, bool exact)
{
	int dev, r, want;
	char name[128], a[64];
	const char *base;
	struct rm_res e;

	dev = g >= 0 ? d->m.files[g].obj : 0;
	if (g >= 0 && d->m.files[g].type != RM_FILE_GROUP)
		dev = 0;
	base = devs[dev].name;
	switch (exact || chance(d, 75) || skip(d, DIFF_OP_NAMES) ? 0 : below(d, 8)) {
	case 0: snprintf(name, sizeof(name), "%s", base); break;
	case 1: snprintf(name, sizeof(name), "%s  ", base); break;
	case 2: snprintf(name, sizeof(name), "%s", devs[(dev + 1) % NDEVS].name); break;
	case 3: snprintf(name, sizeof(name), "%sx", base); break;
	case 4: snprintf(name, sizeof(name), "%.*s", (int)strlen(base) - 1, base); break;
	case 5: snprintf(name, sizeof(name), "%s junk", base); break;
	case 6:
		snprintf(name, sizeof(name), "%s vf_token=2ab74924-c335-45f4-9b16-8569e5b08258",
			 base);
		break;
	default: snprintf(name, sizeof(name), "%s", ""); break;
	}
	snprintf(d->cur, sizeof(d->cur), "ioctl(%s, GROUP_GET_DEVICE_FD, \"%s\")",
		 hname(d, g, a, sizeof(a)), name);
	errno = 0;
	want = next_fd(d);
	r = pinsim_ioctl(d->proc, fd_of(d, g), VFIO_GROUP_GET_DEVICE_FD, name);
	e = rm_group_get_device_fd(&d->m, g, name);
	if (cmp(d, e, r, errno, true) && e.ret >= 0) {
		d->fd[e.ret] = r;
		check_new_fd(d, want, r);
	}
	else if (r >= 0 && e.ret < 0)
		pinsim_close(d->proc, r);
}

static void op_get_device_fd(struct drv *d)
{
	get_device_fd_h(d, pick_handle(d, RM_FILE_GROUP, false), false);
}

static void op_api_version(struct drv *d)
{
	int c = pick_handle(d, RM_FILE_CONTAINER, false), r;
	char a[64];

	snprintf(d->cur, sizeof(d->cur), "ioctl(%s, GET_API_VERSION)", hname(d, c, a, sizeof(a)));
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, c), VFIO_GET_API_VERSION, NULL);
	cmp(d, rm_get_api_version(&d->m, c), r, errno, false);
}

static void op_check_extension(struct drv *d)
{
	static const unsigned long ext[] = { VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL,
					     VFIO_UPDATE_VADDR, 6, 8, 2, 0, 12345, VFIO_DMA_CC_IOMMU };
	int c = pick_handle(d, RM_FILE_CONTAINER, false), r;
	unsigned long arg = ext[below(d, sizeof(ext) / sizeof(ext[0]))];
	char a[64];

	snprintf(d->cur, sizeof(d->cur), "ioctl(%s, CHECK_EXTENSION, %lu)", hname(d, c, a, sizeof(a)),
		 arg);
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, c), VFIO_CHECK_EXTENSION, (void *)arg);
	cmp(d, rm_check_extension(&d->m, c, arg), r, errno, false);
}

static void set_iommu_h(struct drv *d, int c, unsigned long arg)
{
	char a[64];
	int r;

	snprintf(d->cur, sizeof(d->cur), "ioctl(%s, SET_IOMMU, %lu)", hname(d, c, a, sizeof(a)), arg);
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, c), VFIO_SET_IOMMU, (void *)arg);
	cmp(d, rm_set_iommu(&d->m, c, arg), r, errno, false);
}

static void op_set_iommu(struct drv *d)
{
	static const unsigned long types[] = { VFIO_TYPE1v2_IOMMU, VFIO_TYPE1v2_IOMMU,
					       VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU,
					       VFIO_TYPE1_IOMMU, 6, VFIO_UNMAP_ALL,
					       VFIO_UPDATE_VADDR, 2, 0, 8 };
	set_iommu_h(d, pick_handle(d, RM_FILE_CONTAINER, false),
		    types[below(d, sizeof(types) / sizeof(types[0]))]);
}

/*
 * The fd of a type1 request.  Not a device fd: VFIO_IOMMU_GET_INFO, MAP_DMA
 * and UNMAP_DMA share their numbers (VFIO_BASE + 12..14) with
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, VFIO_DEVICE_PCI_HOT_RESET and
 * VFIO_DEVICE_IOEVENTFD, which the reference model does not model (pinsim
 * simulates the hot-reset pair: tests/test_vfio_pci_device.c).
 */
static int pick_type1_handle(struct drv *d)
{
	int h = pick_handle(d, RM_FILE_CONTAINER, true);

	return h >= 0 && d->m.files[h].type == RM_FILE_DEVICE ? -1 : h;
}

static const struct rm_iommu *handle_iommu(const struct drv *d, int h)
{
	int c = rm_handle_container(&d->m, h);

	return c >= 0 && d->m.cont[c].has_iommu ? &d->m.cont[c].iommu : NULL;
}

static uint64_t pick_size(struct drv *d)
{
	static const uint64_t pages[] = { 1, 1, 2, 2, 3, 4, 4, 8, 16 };

	switch (below(d, 25)) {
	case 0: return 0;
	case 1: return PG * (1 + below(d, 4)) + 1 + below(d, PG - 1);
	case 2: return 1ULL << (40 + below(d, 24));
	case 3: return 0 - PG * (1 + below(d, 4));
	default: return PG * pages[below(d, sizeof(pages) / sizeof(pages[0]))];
	}
}

static uint64_t pick_vaddr(struct drv *d, uint64_t size)
{
	const struct rm_vma *v;
	uint64_t len;
	unsigned int r = (unsigned int)below(d, 100);

	if (!d->m.nvmas || r >= 90) {
		switch (below(d, 5)) {
		case 0: return 0;
		case 1: return 0 - PG * (1 + below(d, 4));	/* wraps */
		case 2: return 0x7f0000000000ULL + PG * below(d, 64);	/* likely a hole */
		case 3: return PG * below(d, 1 << 20) + 1 + below(d, PG - 1);	/* unaligned */
		default: return 0x10000;
		}
	}
	v = &d->m.vma[below(d, (uint64_t)d->m.nvmas)];
	len = v->end - v->start;
	if (r < 75 && size <= len)
		return v->start + PG * below(d, (len - size) / PG + 1);
	if (r < 85)	/* straddles the VMA's end */
		return v->end - PG * (1 + below(d, len / PG));
	return v->end + PG * below(d, 4);	/* just past it */
}

static uint64_t pick_iova(struct drv *d, const struct rm_iommu *io, uint64_t size)
{
	unsigned int r = (unsigned int)below(d, 100);
	const struct rm_dma *dma = io && io->ndmas ? &io->dmas[below(d, (uint64_t)io->ndmas)] : NULL;

	if (r < 40 || (!dma && r < 72))
		return PG * below(d, 4096);
	if (r < 52)
		return dma->iova + dma->size;
	if (r < 60)
		return dma->iova - size;
	if (r < 66)
		return dma->iova;
	if (r < 72)
		return dma->iova + PG * below(d, dma->size / PG);
	if (r < 77)
		return 0xfee00000ULL - PG * 2 + PG * below(d, 4) + (chance(d, 30) ? 0x100000 : 0);
	if (r < 82)
		return (1ULL << 48) - PG * below(d, 4) - (chance(d, 50) ? size : 0);
	if (r < 88)
		return chance(d, 50) ? 0 - size : 0 - PG * (1 + below(d, 4));
	if (r < 92)
		return PG * below(d, 4096) + 1 + below(d, PG - 1);
	if (r < 95)
		return 0;
	return mix(&d->rng) & ~(PG - 1);
}

static void op_map(struct drv *d)
{
	int c = pick_type1_handle(d), r;
	const struct rm_iommu *io = handle_iommu(d, c);
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	unsigned int fr = (unsigned int)below(d, 100);
	struct rm_res e;
	char a[64];

	map.size = pick_size(d);
	if (fr < 70)
		map.flags = DMA_RW;
	else if (fr < 77)
		map.flags = VFIO_DMA_MAP_FLAG_READ;
	else if (fr < 83)
		map.flags = VFIO_DMA_MAP_FLAG_WRITE;
	else if (fr < 91)
		map.flags = VFIO_DMA_MAP_FLAG_VADDR;
	else if (fr < 93)
		map.flags = 0;
	else if (fr < 96)
		map.flags = DMA_RW | (chance(d, 50) ? 1u << 3 : 1u << 31);
	else
		map.flags = VFIO_DMA_MAP_FLAG_VADDR | (chance(d, 50) ? VFIO_DMA_MAP_FLAG_READ
								     : VFIO_DMA_MAP_FLAG_WRITE);
	if (chance(d, 55) && d->m.nvmas) {
		/* a plausible request: a few pages of one VMA at a free-looking iova */
		const struct rm_vma *v = &d->m.vma[below(d, (uint64_t)d->m.nvmas)];
		uint64_t gran = io ? io->pgsize_bitmap & -io->pgsize_bitmap : PG;
		uint64_t pages, n;

		for (int i = 0; i < d->m.nvmas && gran > PG && v->kind != RM_VMA_HUGE; i++)
			v = &d->m.vma[i];
		gran = gran > PG && v->kind == RM_VMA_HUGE ? RM_HPAGE_SIZE : PG;
		pages = (v->end - v->start) / gran;
		n = 1 + below(d, pages < 8 ? pages : 8);
		map.flags = chance(d, 85) ? DMA_RW : VFIO_DMA_MAP_FLAG_READ;
		map.size = n * gran;
		map.vaddr = v->start + gran * below(d, pages - n + 1);
		map.iova = gran * below(d, 4096);
	} else if ((map.flags & VFIO_DMA_MAP_FLAG_VADDR) && io && io->ndmas && chance(d, 80)) {
		/* remap a mapping, preferably an invalidated one */
		const struct rm_dma *dma = &io->dmas[below(d, (uint64_t)io->ndmas)];

		for (int i = 0; i < io->ndmas && !dma->vaddr_invalid && chance(d, 70); i++)
			dma = &io->dmas[below(d, (uint64_t)io->ndmas)];
		map.iova = dma->iova;
		map.size = chance(d, 90) ? dma->size : dma->size + PG;
		map.vaddr = pick_vaddr(d, map.size);
	} else {
		map.vaddr = pick_vaddr(d, map.size);
		map.iova = pick_iova(d, io, map.size);
	}
	if (chance(d, 4))
		map.argsz = chance(d, 50) ? (uint32_t)below(d, 32) : 40;
	snprintf(d->cur, sizeof(d->cur),
		 "ioctl(%s, MAP_DMA, argsz %u flags %#x vaddr %#llx iova %#llx size %#llx)",
		 hname(d, c, a, sizeof(a)), map.argsz, map.flags, (unsigned long long)map.vaddr,
		 (unsigned long long)map.iova, (unsigned long long)map.size);
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, c), VFIO_IOMMU_MAP_DMA, &map);
	e = rm_map_dma(&d->m, c, map.argsz, map.flags, map.vaddr, map.iova, map.size);
	if (!cmp(d, e, r, errno, false))
		return;
	if (e.ret == 0) {
		d->st->maps_ok++;
	} else {
		static const int errs[] = { EINVAL, EFAULT, ENOMEM, EEXIST, ENOSPC, ENOENT, EBADF };
		int k = 0;

		while (k < 7 && errs[k] != e.err && !(k == 6 && e.err == ENOTTY))
			k++;
		d->st->maps_failed++;
		d->st->map_errs[k]++;
	}
	if (io && (unsigned long)io->ndmas > d->st->max_dmas)
		d->st->max_dmas = (unsigned long)io->ndmas;
}

static void pick_unmap_range(struct drv *d, const struct rm_iommu *io, uint64_t *iova,
			     uint64_t *size)
{
	int n = io ? io->ndmas : 0;
	unsigned int r = (unsigned int)below(d, 100);
	const struct rm_dma *a = n ? &io->dmas[below(d, (uint64_t)n)] : NULL;

	if (!n && r < 60)
		r = 60 + (unsigned int)below(d, 40);
	if (r < 35) {
		*iova = a->iova;
		*size = a->size;
	} else if (r < 50) {
		const struct rm_dma *b = &io->dmas[below(d, (uint64_t)n)];

		if (b->iova < a->iova) {
			const struct rm_dma *t = a;

			a = b;
			b = t;
		}
		*iova = a->iova;
		*size = b->iova + b->size - a->iova;
	} else if (r < 60) {
		switch (below(d, 4)) {
		case 0:	/* starts inside */
			*iova = a->iova + PG;
			*size = a->size;
			break;
		case 1:	/* ends inside */
			*iova = a->iova;
			*size = a->size > PG ? a->size - PG : a->size + PG;
			break;
		case 2:	/* covers the start, from before */
			*iova = a->iova - PG;
			*size = a->size;
			break;
		default:	/* one page inside */
			*iova = a->iova + PG * below(d, a->size / PG);
			*size = PG;
			break;
		}
	} else if (r < 72) {
		*iova = PG * below(d, 4096);
		*size = PG * (1 + below(d, 64));
	} else if (r < 78) {	/* ends exactly at 2^64 */
		*iova = a && chance(d, 70) ? a->iova : PG * below(d, 4096);
		*size = 0 - *iova;
	} else if (r < 82) {	/* wraps */
		*iova = a && chance(d, 50) ? a->iova : 0 - PG * (1 + below(d, 4));
		*size = 0 - *iova + PG;
	} else if (r < 86) {
		*iova = a ? a->iova : 0;
		*size = chance(d, 50) ? 0 : PG + 1 + below(d, PG - 2);
	} else if (r < 90) {
		*iova = (a ? a->iova : PG * below(d, 4096)) + 1 + below(d, PG - 1);
		*size = PG;
	} else if (r < 95) {
		*iova = 0;
		*size = chance(d, 50) ? 1ULL << 48 : 1ULL << 63;
	} else {
		*iova = mix(&d->rng) & ~(PG - 1);
		*size = mix(&d->rng) & ~(PG - 1);
	}
}

/*
 * A struct vfio_bitmap for [.., + size): mostly the IOMMU's smallest page
 * and the exact DIRTY_BITMAP_BYTES() (sometimes a word short, or a bigger
 * page), over a user buffer filled with a pattern, which the kernel ORs
 * into the first word of a mapping off a word boundary.
 */
static void prep_ubitmap(struct drv *d, const struct rm_iommu *io, uint64_t size,
			 struct vfio_bitmap *b, struct rm_ubitmap *ub)
{
	uint64_t pgsize = io && chance(d, 85) ? io->pgsize_bitmap & -io->pgsize_bitmap
					      : (chance(d, 50) ? PG : 2 * PG);
	uint64_t bytes = DIRTY_BYTES(size >> __builtin_ctzll(pgsize));
	uint64_t pattern = chance(d, 30) ? 0 : mix(&d->rng);

	b->pgsize = pgsize;
	b->size = bytes && bytes <= sizeof(d->bitmap_buf) ? bytes : 8;
	if (chance(d, 5) && b->size > 8)
		b->size -= 8;
	b->data = (__u64 *)d->bitmap_buf;
	for (int i = 0; i < 512; i++)
		d->bitmap_buf[i] = pattern ? pattern ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL) : 0;
	memcpy(d->exp_bitmap, d->bitmap_buf, sizeof(d->bitmap_buf));
	ub->pgsize = b->pgsize;
	ub->size = b->size;
	ub->data = d->exp_bitmap;
	ub->words = 512;
}

static bool cmp_bitmap(struct drv *d)
{
	d->st->checks++;
	for (int i = 0; i < 512; i++)
		if (d->bitmap_buf[i] != d->exp_bitmap[i])
			return diverge(d, "dirty bitmap word %d: expected %#018llx, got %#018llx", i,
				       (unsigned long long)d->exp_bitmap[i],
				       (unsigned long long)d->bitmap_buf[i]);
	return true;
}

static void op_unmap(struct drv *d)
{
	int c = pick_type1_handle(d), r;
	const struct rm_iommu *io = handle_iommu(d, c);
	struct {
		struct vfio_iommu_type1_dma_unmap u;
		struct vfio_bitmap b;
	} arg;
	unsigned int fr = (unsigned int)below(d, 100);
	uint64_t iova, size, exp_size;
	struct rm_ubitmap ub = { .data = d->exp_bitmap, .words = 512 };
	struct rm_res e;
	char a[64];

	memset(&arg, 0, sizeof(arg));
	pick_unmap_range(d, io, &iova, &size);
	arg.u.argsz = sizeof(arg.u);
	if (fr < 68) {
		arg.u.flags = 0;
	} else if (fr < 77) {
		arg.u.flags = VFIO_DMA_UNMAP_FLAG_VADDR;
	} else if (fr < 83) {
		arg.u.flags = VFIO_DMA_UNMAP_FLAG_ALL;
	} else if (fr < 86) {
		arg.u.flags = VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
	} else if (fr < 93) {
		arg.u.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	} else if (fr < 96) {
		arg.u.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
			      (chance(d, 50) ? VFIO_DMA_UNMAP_FLAG_ALL : VFIO_DMA_UNMAP_FLAG_VADDR);
	} else {
		arg.u.flags = chance(d, 50) ? 1u << 3 : 1u << 31;
	}
	if ((arg.u.flags & VFIO_DMA_UNMAP_FLAG_ALL) && chance(d, 75))
		iova = size = 0;
	if (arg.u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
		arg.u.argsz = sizeof(arg);
		prep_ubitmap(d, io, size, &arg.b, &ub);
	}
	if (chance(d, 4))
		arg.u.argsz = (uint32_t)below(d, arg.u.argsz);
	arg.u.iova = iova;
	arg.u.size = size;
	snprintf(d->cur, sizeof(d->cur),
		 "ioctl(%s, UNMAP_DMA, argsz %u flags %#x iova %#llx size %#llx%s)",
		 hname(d, c, a, sizeof(a)), arg.u.argsz, arg.u.flags, (unsigned long long)iova,
		 (unsigned long long)size,
		 arg.u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP ? " +bitmap" : "");
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, c), VFIO_IOMMU_UNMAP_DMA, &arg);
	e = rm_unmap_dma(&d->m, c, arg.u.argsz, arg.u.flags, iova, size, &ub, &exp_size);
	if (!cmp(d, e, r, errno, false))
		return;
	if ((arg.u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) && !cmp_bitmap(d))
		return;
	if (e.ret == 0)
		d->st->unmaps_ok++;
	else
		d->st->unmaps_failed++;
	d->st->checks++;
	if (arg.u.size != exp_size)
		diverge(d, "unmap.size written back: expected %#llx, got %#llx",
			(unsigned long long)exp_size, (unsigned long long)arg.u.size);
}

static void op_dirty_pages(struct drv *d)
{
	int c = pick_type1_handle(d), r;
	const struct rm_iommu *io = handle_iommu(d, c);
	struct vfio_iommu_type1_dirty_bitmap hdr = { .argsz = 8 };
	struct vfio_iommu_type1_dirty_bitmap_get get;
	unsigned char raw[8 + sizeof(get)];
	struct rm_ubitmap ub = { .data = d->exp_bitmap, .words = 512 };
	unsigned int fr = (unsigned int)below(d, 100);
	uint64_t iova = 0, size = 0;
	struct rm_res e;
	char a[64];

	memset(&get, 0, sizeof(get));
	if (fr < 25) {
		hdr.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
	} else if (fr < 35) {
		hdr.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
	} else if (fr < 94) {
		hdr.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
		hdr.argsz = sizeof(raw);
		if (io && io->ndmas && chance(d, 40)) {
			/* from a little before a mapping: off a word boundary of the bitmap */
			const struct rm_dma *dma = &io->dmas[below(d, (uint64_t)io->ndmas)];
			uint64_t gran = io->pgsize_bitmap & -io->pgsize_bitmap;

			iova = dma->iova - gran * below(d, 100);
			size = dma->iova + dma->size - iova;
		} else {
			pick_unmap_range(d, io, &iova, &size);
		}
		get.iova = iova;
		get.size = size;
		prep_ubitmap(d, io, size, &get.bitmap, &ub);
	} else {
		static const uint32_t odd[] = { 0, 3, 8, 1u << 3 };

		hdr.flags = odd[below(d, 4)];
	}
	if (chance(d, 4))
		hdr.argsz = (uint32_t)below(d, hdr.argsz + 1);
	memcpy(raw, &hdr, 8);
	memcpy(raw + 8, &get, sizeof(get));
	snprintf(d->cur, sizeof(d->cur),
		 "ioctl(%s, IOMMU_DIRTY_PAGES, argsz %u flags %#x iova %#llx size %#llx "
		 "bitmap pgsize %#llx size %#llx)",
		 hname(d, c, a, sizeof(a)), hdr.argsz, hdr.flags, (unsigned long long)iova,
		 (unsigned long long)size, (unsigned long long)get.bitmap.pgsize,
		 (unsigned long long)get.bitmap.size);
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, c), VFIO_IOMMU_DIRTY_PAGES, raw);
	e = rm_dirty_pages(&d->m, c, hdr.argsz, hdr.flags, iova, size, &ub);
	if (cmp(d, e, r, errno, false) && hdr.flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP)
		cmp_bitmap(d);
}

static void op_get_info(struct drv *d)
{
	static const uint32_t sizes[] = { 0, 8, 15, 16, 20, 24, 32, 60, 119, 120, 120, 128, 256 };
	int c = pick_type1_handle(d), r;
	unsigned char got[256], exp[256];
	uint32_t argsz = sizes[below(d, sizeof(sizes) / sizeof(sizes[0]))];
	struct rm_res e;
	char a[64];

	memset(got, 0xa5, sizeof(got));
	memcpy(got, &argsz, sizeof(argsz));
	memcpy(exp, got, sizeof(got));
	snprintf(d->cur, sizeof(d->cur), "ioctl(%s, IOMMU_GET_INFO, argsz %u)",
		 hname(d, c, a, sizeof(a)), argsz);
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, c), VFIO_IOMMU_GET_INFO, got);
	e = rm_get_info(&d->m, c, exp, sizeof(exp));
	if (!cmp(d, e, r, errno, false))
		return;
	d->st->checks++;
	for (size_t i = 0; i < sizeof(got); i++) {
		if (got[i] != exp[i]) {
			char eh[3 * 40 + 1] = "", gh[3 * 40 + 1] = "";
			size_t from = i & ~7UL;

			for (size_t k = from; k < from + 40 && k < sizeof(got); k++) {
				snprintf(eh + 3 * (k - from), 4, "%02x ", exp[k]);
				snprintf(gh + 3 * (k - from), 4, "%02x ", got[k]);
			}
			diverge(d, "GET_INFO buffer differs at byte %zu:\n    expected @%zu: %s\n    got      @%zu: %s",
				i, from, eh, from, gh);
			return;
		}
	}
}

static void op_unknown_ioctl(struct drv *d)
{
	int h = pick_handle(d, chance(d, 50) ? RM_FILE_CONTAINER : RM_FILE_GROUP, false), r;
	char a[64];

	if (h >= 0 && d->m.files[h].type == RM_FILE_DEVICE)
		h = -1;
	snprintf(d->cur, sizeof(d->cur), "ioctl(%s, _IO(VFIO_TYPE, VFIO_BASE + 60))",
		 hname(d, h, a, sizeof(a)));
	errno = 0;
	r = pinsim_ioctl(d->proc, fd_of(d, h), _IO(VFIO_TYPE, VFIO_BASE + 60), NULL);
	cmp(d, rm_unknown_ioctl(&d->m, h), r, errno, false);
}

/* Fault every page of a new VMA in with a write, and bind its frames to their pfns. */
static bool touch_and_learn(struct drv *d, uint64_t addr, uint64_t len, uint64_t step)
{
	const struct rm_vma *v = rm_find_vma(&d->m, addr);

	for (uint64_t off = 0; off < len; off += step) {
		unsigned char b = 0x5a;

		if (pinsim_access(d->proc, addr + off, &b, 1, 1) != 1) {
			struct pinsim_stats ss = { 0 };
			int e = errno;

			pinsim_stats(d->sim, &ss);
			return diverge(d, "write fault at %#llx: %s (hugetlb 2M free %llu, model %lu)",
				       (unsigned long long)(addr + off), errname(e),
				       (unsigned long long)ss.hugetlb_2m_free, d->m.huge_free);
		}
	}
	for (uint64_t off = 0; v && off < len; off += PG) {
		struct pinsim_page_info pi;

		if (pinsim_pagemap(d->proc, addr + off, &pi) || pi.level == PINSIM_LEVEL_NONE)
			return diverge(d, "pagemap(%#llx) after the write fault: not mapped",
				       (unsigned long long)(addr + off));
		if (!learn(d, v->frames[off / PG], pi.pfn, "new page"))
			return false;
	}
	return true;
}

static void op_mmap_anon(struct drv *d)
{
	uint64_t len = PG * (1 + below(d, 24)), va;
	struct rm_res e;

	snprintf(d->cur, sizeof(d->cur), "mmap(anon, %#llx)", (unsigned long long)len);
	errno = 0;
	va = pinsim_mmap(d->proc, 0, len, RW, ANON_FLAGS, -1, 0);
	if (va == PINSIM_MAP_FAILED) {
		cmp(d, (struct rm_res){ 0, 0 }, -1, errno, true);
		return;
	}
	snprintf(d->cur, sizeof(d->cur), "mmap(anon, %#llx) = %#llx", (unsigned long long)len,
		 (unsigned long long)va);
	e = rm_mmap_anon(&d->m, va, len, false);
	if (cmp(d, e, (long)va, 0, true))
		touch_and_learn(d, va, len, PG);
}

static void op_mmap_fixed(struct drv *d)
{
	const struct rm_vma *v;
	uint64_t addr, len, va;
	struct rm_res e;

	if (!d->m.nvmas)
		return op_mmap_anon(d);
	v = &d->m.vma[below(d, (uint64_t)d->m.nvmas)];
	if (v->kind == RM_VMA_HUGE && skip(d, DIFF_OP_HUGE_ANYWHERE))
		return op_mmap_anon(d);
	addr = v->start + PG * below(d, (v->end - v->start) / PG);
	len = PG * (1 + below(d, 8));
	if (v->kind == RM_VMA_HUGE) {
		addr = v->start;
		len = v->end - v->start;
	}
	snprintf(d->cur, sizeof(d->cur), "mmap(%#llx, %#llx, anon, MAP_FIXED)",
		 (unsigned long long)addr, (unsigned long long)len);
	errno = 0;
	va = pinsim_mmap(d->proc, addr, len, RW, ANON_FLAGS | MAP_FIXED, -1, 0);
	e = rm_mmap_anon(&d->m, addr, len, true);
	if (!cmp(d, e, va == PINSIM_MAP_FAILED ? -1 : (long)va, errno, true) || e.ret < 0)
		return;
	d->st->checks++;
	if (va != addr) {
		diverge(d, "MAP_FIXED mapped at %#llx", (unsigned long long)va);
		return;
	}
	touch_and_learn(d, va, len, PG);
}

static void op_mmap_huge(struct drv *d)
{
	uint64_t len = RM_HPAGE_SIZE * (1 + below(d, 2)), va, addr = 0;
	int err = rm_mmap_huge_check(&d->m, len);
	struct rm_res e;

	/*
	 * Half of them (all with "hugeaddr" skipped) MAP_FIXED in an area of
	 * their own, which no 4K page table ever covered.
	 */
	if (skip(d, DIFF_OP_HUGE_ANYWHERE) || chance(d, 50)) {
		uint64_t slot = below(d, 16);

		for (int i = 0; i < 16 && !addr; i++, slot = (slot + 1) % 16) {
			uint64_t a = HUGE_AREA + slot * 2 * RM_HPAGE_SIZE;
			bool used = false;

			for (int v = 0; v < d->m.nvmas; v++)
				used |= d->m.vma[v].start < a + len && a < d->m.vma[v].end;
			if (!used)
				addr = a;
		}
	}
	snprintf(d->cur, sizeof(d->cur), "mmap(%#llx, hugetlb 2M, %#llx%s)", (unsigned long long)addr,
		 (unsigned long long)len, addr ? ", MAP_FIXED" : "");
	errno = 0;
	va = pinsim_mmap(d->proc, addr, len, RW, HUGE_FLAGS | (addr ? MAP_FIXED : 0), -1, 0);
	if (err || va == PINSIM_MAP_FAILED) {
		cmp(d, err ? (struct rm_res){ -1, err } : (struct rm_res){ 0, 0 },
		    va == PINSIM_MAP_FAILED ? -1 : (long)va, errno, true);
		if (va != PINSIM_MAP_FAILED)
			pinsim_munmap(d->proc, va, len);
		return;
	}
	snprintf(d->cur, sizeof(d->cur), "mmap(%#llx, hugetlb 2M, %#llx%s) = %#llx",
		 (unsigned long long)addr, (unsigned long long)len, addr ? ", MAP_FIXED" : "",
		 (unsigned long long)va);
	e = rm_mmap_huge(&d->m, va, len);
	if (cmp(d, e, (long)va, 0, true))
		touch_and_learn(d, va, len, RM_HPAGE_SIZE);
}

static void op_mmap_bar(struct drv *d)
{
	int h = pick_handle(d, RM_FILE_DEVICE, false), dev, bar, err, bars[6], nb = 0;
	uint64_t bsize, off, len, va;
	struct rm_res e;
	char a[64];

	if (h >= 0 && d->m.files[h].type != RM_FILE_DEVICE)
		h = -1;
	dev = h >= 0 ? d->m.files[h].obj : 0;
	for (int b = 0; b < 6; b++)
		if (devs[dev].bar_size[b])
			bars[nb++] = b;
	bar = chance(d, 5) ? (int)below(d, 7) : bars[below(d, (uint64_t)nb)];
	bsize = bar < 6 ? devs[dev].bar_size[bar] : 0;
	if (bsize >= RM_HPAGE_SIZE && chance(d, 50)) {
		off = 0;	/* the whole 2M BAR: a PMD fault where the VA allows */
		len = bsize;
	} else if (bsize >= PG) {
		off = PG * below(d, bsize / PG);
		len = PG * (1 + below(d, (bsize - off) / PG));
	} else {
		off = 0;
		len = PG;
	}
	if (chance(d, 5))
		len += PG;	/* past the BAR's end */
	snprintf(d->cur, sizeof(d->cur), "mmap(%s, BAR%d + %#llx, %#llx, MAP_SHARED)",
		 hname(d, h, a, sizeof(a)), bar, (unsigned long long)off, (unsigned long long)len);
	err = rm_mmap_bar_check(&d->m, h, bar, off, len);
	errno = 0;
	va = pinsim_mmap(d->proc, 0, len, RW, MAP_SHARED, fd_of(d, h),
			 ((uint64_t)bar << 40) + off);
	if (err || va == PINSIM_MAP_FAILED) {
		cmp(d, err ? (struct rm_res){ -1, err } : (struct rm_res){ 0, 0 },
		    va == PINSIM_MAP_FAILED ? -1 : (long)va, errno, true);
		if (va != PINSIM_MAP_FAILED)
			pinsim_munmap(d->proc, va, len);
		return;
	}
	snprintf(d->cur, sizeof(d->cur), "mmap(%s, BAR%d + %#llx, %#llx, MAP_SHARED) = %#llx",
		 hname(d, h, a, sizeof(a)), bar, (unsigned long long)off, (unsigned long long)len,
		 (unsigned long long)va);
	e = rm_mmap_bar(&d->m, va, h, bar, off, len);
	cmp(d, e, (long)va, 0, true);
}

static void op_munmap(struct drv *d)
{
	const struct rm_vma *v;
	uint64_t addr, len, n;
	unsigned int r = (unsigned int)below(d, 100);
	int ret;

	if (!d->m.nvmas) {
		addr = 0x7f0000000000ULL;
		len = PG;
	} else {
		v = &d->m.vma[below(d, (uint64_t)d->m.nvmas)];
		n = (v->end - v->start) / PG;
		if (r < 50 || v->kind == RM_VMA_HUGE) {
			addr = v->start;
			len = v->end - v->start;
			if (v->kind == RM_VMA_HUGE && n > 512 && chance(d, 50)) {
				addr += chance(d, 50) ? RM_HPAGE_SIZE : 0;
				len = RM_HPAGE_SIZE;
			}
		} else if (r < 85) {
			uint64_t first = below(d, n);

			addr = v->start + PG * first;
			len = PG * (1 + below(d, n - first));
		} else if (r < 95) {	/* a page either side: neighbours or holes */
			addr = v->start >= PG ? v->start - PG : v->start;
			len = v->end - addr + PG;
			for (int i = 0; i < d->m.nvmas; i++)
				if (d->m.vma[i].kind == RM_VMA_HUGE && d->m.vma[i].start < addr + len &&
				    addr < d->m.vma[i].end) {
					addr = v->start;
					len = v->end - v->start;
				}
		} else {
			addr = v->start + 1;
			len = PG;
		}
	}
	snprintf(d->cur, sizeof(d->cur), "munmap(%#llx, %#llx)", (unsigned long long)addr,
		 (unsigned long long)len);
	errno = 0;
	ret = pinsim_munmap(d->proc, addr, len);
	cmp(d, rm_munmap(&d->m, addr, len), ret, errno, false);
}

static void op_setrlimit(struct drv *d)
{
	uint64_t cur;
	struct rlimit rl;
	int r;

	switch (below(d, 9)) {
	case 0: cur = (d->m.locked_vm + below(d, 4)) * PG; break;
	case 6:
	case 7: cur = RLIM_INFINITY; break;
	case 8: cur = (d->m.locked_vm + 256) * PG; break;
	case 1: cur = (d->m.locked_vm + 16 + below(d, 64)) * PG; break;
	case 2: cur = RLIM_INFINITY; break;
	case 3: cur = 0; break;
	case 4: cur = d->m.locked_vm > 2 ? (d->m.locked_vm - 2) * PG : 0; break;
	default: cur = 8ULL << 20; break;
	}
	rl.rlim_cur = cur;
	rl.rlim_max = RLIM_INFINITY;
	snprintf(d->cur, sizeof(d->cur), "setrlimit(MEMLOCK, cur %#llx)", (unsigned long long)cur);
	errno = 0;
	r = pinsim_setrlimit(d->proc, RLIMIT_MEMLOCK, &rl);
	cmp(d, rm_setrlimit_memlock(&d->m, cur), r, errno, false);
}

static void op_setcap(struct drv *d)
{
	bool on = chance(d, 40);
	int r;

	snprintf(d->cur, sizeof(d->cur), "capset(CAP_IPC_LOCK %s)", on ? "on" : "off");
	errno = 0;
	r = pinsim_set_cap_ipc_lock(d->proc, on);
	cmp(d, rm_set_cap_ipc_lock(&d->m, on), r, errno, false);
}

/* ======================= the op mix ======================= */

static int count_open(const struct drv *d, enum rm_file_type t)
{
	int n = 0;

	for (int h = 0; h < d->m.nfiles; h++)
		n += d->m.files[h].fd_open && d->m.files[h].type == t;
	return n;
}

static bool have_live_container(const struct drv *d)
{
	for (int h = 0; h < d->m.nfiles; h++)
		if (handle_iommu(d, h))
			return true;
	return false;
}

/*
 * The next setup step towards a container (with an open fd) holding an
 * IOMMU and a device of a random group: open, unset from an unreachable
 * container (closing device fds that keep it busy), SET_CONTAINER,
 * SET_IOMMU, GET_DEVICE_FD.  False when that group is set up already.
 */
static bool setup_step(struct drv *d)
{
	int dev = (int)below(d, NDEVS), c = -1, g, gc;

	for (int h = 0; h < d->m.nfiles; h++)
		if (d->m.files[h].fd_open && d->m.files[h].type == RM_FILE_CONTAINER &&
		    (c < 0 || d->m.cont[d->m.files[h].obj].has_iommu))
			c = h;
	if (c < 0) {
		op_open_container(d);
		return true;
	}
	g = d->m.group[dev].opened_file;
	if (g < 0) {
		op_open_group(d);
		return true;
	}
	if (!d->m.files[g].fd_open) {	/* a device keeps the group: let it go */
		for (int h = 0; h < d->m.nfiles; h++)
			if (d->m.files[h].fd_open && d->m.files[h].type == RM_FILE_DEVICE &&
			    d->m.files[h].obj == dev &&
			    !(skip(d, DIFF_OP_BAR_CLOSE) && bar_mapped(d, h))) {
				close_h(d, h);
				return true;
			}
		return false;
	}
	gc = rm_group_container(&d->m, dev);
	if (gc >= 0 && gc != d->m.files[c].obj) {
		if (d->m.group[dev].container_users > 1) {
			for (int h = 0; h < d->m.nfiles; h++)
				if (d->m.files[h].fd_open && d->m.files[h].type == RM_FILE_DEVICE &&
				    d->m.files[h].obj == dev &&
				    !(skip(d, DIFF_OP_BAR_CLOSE) && bar_mapped(d, h))) {
					close_h(d, h);
					return true;
				}
		}
		unset_container_h(d, g);
		return true;
	}
	if (gc < 0) {
		set_container_h(d, g, c);
		return true;
	}
	if (!d->m.cont[gc].has_iommu) {
		set_iommu_h(d, c, chance(d, 75) ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU);
		return true;
	}
	if (!d->m.group[dev].open_count) {
		get_device_fd_h(d, g, true);
		return true;
	}
	return false;
}

unsigned int diff_parse_skip(const char *list)
{
	static const char *const names[] = { "bar", "huge", "fixed", "munmap", "close",
					     "unset", "names", "rlimit", "hugeaddr", "barclose" };
	unsigned int bits = 0;

	for (size_t i = 0; list && i < sizeof(names) / sizeof(names[0]); i++) {
		const char *p = strstr(list, names[i]);
		size_t n = strlen(names[i]);

		if (p && (p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			bits |= 1u << i;
	}
	return bits;
}

static void one_op(struct drv *d)
{
	unsigned int r;
	bool files_left = d->m.nfiles < RM_MAX_FILES - 8 && d->m.ncont < RM_MAX_CONTAINERS - 4;
	bool vmas_left = d->m.nvmas < MAX_LIVE_VMAS;

	if (files_left && !have_live_container(d) && chance(d, 60) && setup_step(d))
		return;
	r = (unsigned int)below(d, 1000);
	if (r < 300)
		return op_map(d);
	if (r < 465)
		return op_unmap(d);
	if (r < 500)
		return op_dirty_pages(d);
	if (!vmas_left && !skip(d, DIFF_OP_MUNMAP) && r >= 500 && r < 630)
		return op_munmap(d);
	if (r < 540 || (r < 630 && !vmas_left))
		return vmas_left ? op_mmap_anon(d) : op_map(d);
	if (r < 550)
		return skip(d, DIFF_OP_MMAP_FIXED) ? op_mmap_anon(d) : op_mmap_fixed(d);
	if (r < 565)
		return skip(d, DIFF_OP_MMAP_HUGE) ? op_mmap_anon(d) : op_mmap_huge(d);
	if (r < 590)
		return skip(d, DIFF_OP_MMAP_BAR) ? op_mmap_anon(d) : op_mmap_bar(d);
	if (r < 630)
		return skip(d, DIFF_OP_MUNMAP) ? op_map(d) : op_munmap(d);
	if (r < 655)
		return skip(d, DIFF_OP_RLIMIT) ? op_map(d) : op_setrlimit(d);
	if (r < 665)
		return op_setcap(d);
	if (r < 690)
		return op_get_info(d);
	if (r < 700)
		return op_unknown_ioctl(d);
	if (r < 715)
		return op_check_extension(d);
	if (r < 720)
		return op_api_version(d);
	if (r < 735)
		return op_get_status(d);
	if (!files_left)
		return skip(d, DIFF_OP_CLOSE) ? op_map(d) : op_close(d);
	if (r < 750)
		return count_open(d, RM_FILE_CONTAINER) < 3 || skip(d, DIFF_OP_CLOSE)
			       ? op_open_container(d)
			       : op_close(d);
	if (r < 790)
		return op_open_group(d);
	if (r < 840)
		return op_set_container(d);
	if (r < 852)
		return skip(d, DIFF_OP_UNSET) ? op_map(d) : op_unset_container(d);
	if (r < 890)
		return op_set_iommu(d);
	if (r < 930)
		return op_get_device_fd(d);
	if (r < 960)
		return skip(d, DIFF_OP_CLOSE) ? op_map(d) : op_close(d);
	return op_map(d);
}

static void teardown_munmap(struct drv *d)
{
	while (!d->diverged && d->m.nvmas) {
		uint64_t s = d->m.vma[0].start, e = d->m.vma[0].end;

		d->step++;
		snprintf(d->cur, sizeof(d->cur), "teardown munmap(%#llx, %#llx)",
			 (unsigned long long)s, (unsigned long long)(e - s));
		errno = 0;
		cmp(d, rm_munmap(&d->m, s, e - s), pinsim_munmap(d->proc, s, e - s), errno, false);
		check_state(d);
	}
}

/*
 * The process exits: do_exit() runs exit_mm() (every VMA goes, BAR VMAs drop
 * their device files) before exit_files() (every fd closes, in fd order).
 * Afterwards nothing may remain: the hugetlb pool is whole, no group has an
 * IOMMU domain, and a new process can open every group.
 */
static void process_exit(struct drv *d)
{
	struct pinsim_stats ss;
	struct pinsim_proc *p2;

	d->step++;
	snprintf(d->cur, sizeof(d->cur), "process exit");
	push_history(d, "");
	while (d->m.nvmas)
		rm_munmap(&d->m, d->m.vma[0].start, d->m.vma[0].end - d->m.vma[0].start);
	for (int fd = 0; fd < 4096; fd++)
		for (int h = 0; h < d->m.nfiles; h++)
			if (d->m.files[h].fd_open && d->fd[h] == fd)
				rm_close(&d->m, h);
	pinsim_proc_destroy(d->proc);
	d->proc = NULL;
	if (pinsim_stats(d->sim, &ss)) {
		diverge(d, "pinsim_stats: %s", errname(errno));
		return;
	}
	d->st->checks += 3;
	if (ss.oopses || ss.warnings != d->m.warnings)
		diverge(d, "exit: %llu oopses, %llu WARNs (expected %lu)",
			(unsigned long long)ss.oopses, (unsigned long long)ss.warnings,
			d->m.warnings);
	else if (ss.hugetlb_2m_free != d->m.huge_free || d->m.huge_free != ss.hugetlb_2m_total)
		diverge(d, "exit: hugetlb 2M free %llu of %llu, expected %lu",
			(unsigned long long)ss.hugetlb_2m_free,
			(unsigned long long)ss.hugetlb_2m_total, d->m.huge_free);
	for (int dev = 0; dev < NDEVS && !d->diverged; dev++)
		if (!probe_iova(d, dev, 0x100000))
			return;
	if (d->diverged || pinsim_proc_create(d->sim, &p2))
		return;
	for (int dev = 0; dev < NDEVS && !d->diverged; dev++) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id[dev]);
		errno = 0;
		fd = pinsim_open(p2, path, O_RDWR);
		d->st->checks++;
		if (fd < 0 || d->m.group[dev].opened_file >= 0)
			diverge(d, "after exit, a new process opens %s: %s (model: %s)", path,
				fd < 0 ? errname(errno) : "ok",
				d->m.group[dev].opened_file >= 0 ? "still open" : "free");
	}
	pinsim_proc_destroy(p2);
}

/* Close every fd and unmap every VMA, in either order: everything must come back. */
static void teardown(struct drv *d)
{
	if (chance(d, 30))
		return process_exit(d);
	if (skip(d, DIFF_OP_BAR_CLOSE) || chance(d, 50))
		teardown_munmap(d);
	while (!d->diverged) {
		int h = -1;

		for (int i = 0; i < d->m.nfiles && h < 0; i++)
			if (d->m.files[i].fd_open)
				h = i;
		if (h < 0)
			break;
		d->step++;
		snprintf(d->cur, sizeof(d->cur), "teardown close(h%d fd%d)", h, d->fd[h]);
		errno = 0;
		cmp(d, rm_close(&d->m, h), pinsim_close(d->proc, d->fd[h]), errno, false);
		check_state(d);
	}
	teardown_munmap(d);
	if (d->diverged)
		return;
	snprintf(d->cur, sizeof(d->cur), "teardown: all closed and unmapped");
	d->st->checks++;
	if (d->m.locked_vm)
		diverge(d, "model bug: locked_vm %llu after teardown",
			(unsigned long long)d->m.locked_vm);
}

static int setup(struct drv *d)
{
	struct pinsim_config cfg;
	struct rm_config rc;
	struct rlimit rl = { 64 * PG, RLIM_INFINITY };
	static const unsigned int limits[] = { 1, 4, 12, 12, 64, 64, 65535, 65535 };
	/* the IOMMU's page sizes: mostly VT-d's, then 2M minimum, then a sub-4K size to fold */
	static const uint64_t bitmaps[] = {
		PG | RM_HPAGE_SIZE | (1ULL << 30), PG | RM_HPAGE_SIZE | (1ULL << 30),
		PG | RM_HPAGE_SIZE | (1ULL << 30), PG | RM_HPAGE_SIZE | (1ULL << 30),
		PG | RM_HPAGE_SIZE, PG, RM_HPAGE_SIZE | (1ULL << 30), 512 | PG | RM_HPAGE_SIZE,
	};

	memset(&rc, 0, sizeof(rc));
	pinsim_config_init(&cfg);
	if (pinsim_config_set_kernel(&cfg, d->o->sim_kernel ? d->o->sim_kernel : d->o->kernel))
		return -1;
	cfg.impl = d->o->tree ? PINSIM_IMPL_TREE : PINSIM_IMPL_REWRITE;
	cfg.ram_bytes = 2ULL << 30;	/* hugetlb pools leave the first GiB */
	cfg.hugetlb_2m_pages = 6;
	cfg.hugetlb_1g_pages = 0;
	cfg.thp = PINSIM_THP_NEVER;
	cfg.dma_entry_limit = limits[below(d, sizeof(limits) / sizeof(limits[0]))];
	cfg.iommu_pgsize_bitmap = bitmaps[below(d, sizeof(bitmaps) / sizeof(bitmaps[0]))];
	if (pinsim_create(&cfg, &d->sim))
		return -1;
	if (pinsim_proc_create(d->sim, &d->proc))
		return -1;
	for (int i = 0; i < NDEVS; i++) {
		struct pinsim_device_spec spec = { .name = devs[i].name, .iommu_unit = devs[i].unit };

		memcpy(spec.bar_size, devs[i].bar_size, sizeof(spec.bar_size));
		if (pinsim_add_device(d->sim, &spec, &d->group_id[i]))
			return -1;
		rc.dev[i] = devs[i];
	}
	rc.kernel = strcmp(d->o->kernel, "upstream") ? RM_KERNEL_6_12 : RM_KERNEL_UPSTREAM;
	rc.dma_entry_limit = cfg.dma_entry_limit;
	rc.iommu_pgsize_bitmap = cfg.iommu_pgsize_bitmap;
	rc.aperture_start = 0;
	rc.aperture_end = (1ULL << 48) - 1;
	rc.resv_start = 0xfee00000ULL;
	rc.resv_end = 0xfeefffffULL;
	rc.iommu_enable_nesting = false;
	rc.hugetlb_2m_pages = cfg.hugetlb_2m_pages;
	rc.ndevs = NDEVS;
	rm_init(&d->m, &rc);
	if (pinsim_setrlimit(d->proc, RLIMIT_MEMLOCK, &rl))
		return -1;
	rm_setrlimit_memlock(&d->m, rl.rlim_cur);
	return 0;
}

int diff_run(const struct diff_opts *o, struct diff_stats *st, char *report, size_t len)
{
	struct drv *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -1;
	memset(st, 0, sizeof(*st));
	d->o = o;
	d->st = st;
	d->report = report;
	d->rlen = len;
	d->rng = o->seed;
	d->crng = o->seed ^ 0xc0ffee;
	if (len)
		report[0] = 0;
	hgrow(d);
	if (setup(d)) {
		snprintf(report, len, "seed=%llu kernel=%s: machine setup failed: %s",
			 (unsigned long long)o->seed, o->kernel, strerror(errno));
		ret = -1;
		goto out;
	}
	for (d->step = 1; d->step <= o->nops && !d->diverged; d->step++) {
		d->m.nremoved = 0;
		one_op(d);
		st->ops++;
		if (!d->diverged)
			check_state(d);
	}
	if (!d->diverged)
		teardown(d);
	ret = d->diverged ? 1 : 0;
	memcpy(st->cov, d->m.cov, sizeof(st->cov));
	rm_fini(&d->m);
out:
	if (d->sim)
		pinsim_destroy(d->sim);
	free(d->phys);
	free(d->known);
	free(d->hkey);
	free(d->hval);
	free(d);
	return ret;
}
