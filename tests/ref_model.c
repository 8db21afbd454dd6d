// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reference model of the VFIO fds and the type1 backend (see ref_model.h).
 *
 * Every function names the kernel function it stands for; the checks come
 * in the source's order with the source's errno, and the arithmetic on
 * iova/size is the source's u64 arithmetic, wrap-around included.  The
 * rb-tree of struct vfio_dma is a sorted array searched by bisection with
 * the source's comparisons: for non-overlapping mappings none of which
 * ends at 2^64, the answer of vfio_find_dma() and
 * vfio_find_dma_first_node() does not depend on the shape of the tree
 * (when a range overlaps several mappings, every caller treats any of them
 * the same way), so a balanced bisection stands for the rb-tree exactly.
 * A mapping ending at 2^64, where 6.12's exclusive ends wrap to 0 and the
 * answer does depend on the shape, cannot exist: the aperture ends at 2^48.
 *
 * Sources: drivers/vfio/vfio_iommu_type1.c, container.c, group.c,
 * vfio_main.c and pci/vfio_pci_core.c of Debian's linux-source-6.12
 * 6.12.118; upstream = the same after the "vfio/type1: handle DMA map/unmap
 * up to the addressable limit" series of v6.18-rc4 (6012379ede6a "sanitize
 * for overflow using check_*_overflow()": -EOVERFLOW; ef270ec44637 "handle
 * DMA map/unmap up to the addressable limit": inclusive ends) and
 * 35890f85573c (v6.13) "vfio: Remove
 * VFIO_TYPE1_NESTING_IOMMU".
 */
#include "ref_model.h"

#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#define IOMMU_READ 1
#define IOMMU_WRITE 2
#define PAGE_MASK_ (~(RM_PAGE_SIZE - 1))
#define TASK_SIZE_ ((1ULL << 47) - RM_PAGE_SIZE)
#define U64_MAX_ (~0ULL)
/* DIRTY_BITMAP_BYTES(n) and DIRTY_BITMAP_SIZE_MAX of vfio_iommu_type1.c */
#define DIRTY_BITMAP_BYTES(n) ((((n) + 63) & ~63ULL) / 8)
#define DIRTY_BITMAP_SIZE_MAX DIRTY_BITMAP_BYTES(0x7fffffffULL)
#define VFIO_TYPE1_NESTING 6	/* VFIO_TYPE1_NESTING_IOMMU (6.12 uapi) */
#define VFIO_NOIOMMU 8		/* VFIO_NOIOMMU_IOMMU */

#define COV(m, c) ((m)->cov[RM_COV_##c]++)

static struct rm_res ok(long v)
{
	return (struct rm_res){ v, 0 };
}

static struct rm_res fail(int err)
{
	return (struct rm_res){ -1, err };
}

static bool upstream(const struct rm_model *m)
{
	return m->cfg.kernel == RM_KERNEL_UPSTREAM;
}

static unsigned int ffs64(uint64_t x)
{
	return (unsigned int)__builtin_ctzll(x);
}

static void *grow(void *p, int *cap, int need, size_t elem)
{
	int ncap = *cap ? *cap : 64;

	if (need <= *cap)
		return p;
	while (ncap < need)
		ncap *= 2;
	p = realloc(p, (size_t)ncap * elem);
	if (!p)
		abort();	/* host out of memory: not a model state */
	*cap = ncap;
	return p;
}

/* ======================= the kernel's bitmap ops (lib/bitmap.c), 64-bit words ======================= */

#define BITMAP_FIRST_WORD_MASK(start) (~0ULL << ((start) & 63))
#define BITMAP_LAST_WORD_MASK(nbits) (~0ULL >> (-(nbits) & 63))

/* __bitmap_set() */
static void kbitmap_set(uint64_t *map, unsigned int start, int len)
{
	uint64_t *p = map + start / 64;
	const unsigned int size = start + (unsigned int)len;
	int bits_to_set = 64 - (int)(start % 64);
	uint64_t mask_to_set = BITMAP_FIRST_WORD_MASK(start);

	while (len - bits_to_set >= 0) {
		*p |= mask_to_set;
		len -= bits_to_set;
		bits_to_set = 64;
		mask_to_set = ~0ULL;
		p++;
	}
	if (len) {
		mask_to_set &= BITMAP_LAST_WORD_MASK(size);
		*p |= mask_to_set;
	}
}

/* __bitmap_clear() */
static void kbitmap_clear(uint64_t *map, unsigned int start, int len)
{
	uint64_t *p = map + start / 64;
	const unsigned int size = start + (unsigned int)len;
	int bits_to_clear = 64 - (int)(start % 64);
	uint64_t mask_to_clear = BITMAP_FIRST_WORD_MASK(start);

	while (len - bits_to_clear >= 0) {
		*p &= ~mask_to_clear;
		len -= bits_to_clear;
		bits_to_clear = 64;
		mask_to_clear = ~0ULL;
		p++;
	}
	if (len) {
		mask_to_clear &= BITMAP_LAST_WORD_MASK(size);
		*p &= ~mask_to_clear;
	}
}

/* __bitmap_shift_left(): whole words, nothing masked past @nbits */
static void kbitmap_shift_left(uint64_t *dst, const uint64_t *src, unsigned int shift,
			       unsigned int nbits)
{
	int k;
	unsigned int lim = (nbits + 63) / 64;
	unsigned int off = shift / 64, rem = shift % 64;

	for (k = (int)(lim - off) - 1; k >= 0; --k) {
		uint64_t upper, lower;

		if (rem && k > 0)
			lower = src[k - 1] >> (64 - rem);
		else
			lower = 0;
		upper = src[k] << rem;
		dst[k + (int)off] = lower | upper;
	}
	if (off)
		memset(dst, 0, off * sizeof(uint64_t));
}

/* ======================= frames (struct page / MMIO pfns) ======================= */

static int frame_new(struct rm_model *m, enum rm_frame_kind kind)
{
	struct rm_frame *f;

	m->frames = grow(m->frames, &m->frames_cap, m->nframes + 1, sizeof(*m->frames));
	f = &m->frames[m->nframes];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->live = true;
	f->folio = -1;
	return m->nframes++;
}

/*
 * A RAM page is freed when the last reference goes: its mapping (zap) and
 * its pins (unpin_user_pages_dirty_lock() from put_pfn()).  A hugetlb folio
 * goes back to the pool as a whole.
 */
static void frame_maybe_free(struct rm_model *m, int fi)
{
	struct rm_frame *f = &m->frames[fi];
	struct rm_folio *fo;

	if (f->kind != RM_FRAME_RAM || !f->live)
		return;
	if (f->folio < 0) {
		if (!f->mapped && !f->pins)
			f->live = false;
		return;
	}
	fo = &m->folios[f->folio];
	if (!fo->live || fo->mapped || fo->pins)
		return;
	fo->live = false;
	for (int i = 0; i < fo->nr; i++)
		m->frames[fo->first_frame + i].live = false;
	m->huge_free++;
}

static void frame_pin(struct rm_model *m, int fi)
{
	struct rm_frame *f = &m->frames[fi];

	f->pins++;
	if (f->folio >= 0)
		m->folios[f->folio].pins++;
}

/* put_pfn(): 1 if the pfn has a struct page (unpinned and counted), 0 if reserved. */
static int put_pfn(struct rm_model *m, int fi)
{
	struct rm_frame *f = &m->frames[fi];

	if (f->kind != RM_FRAME_RAM)
		return 0;
	f->pins--;
	if (f->folio >= 0)
		m->folios[f->folio].pins--;
	frame_maybe_free(m, fi);
	return 1;
}

int rm_frame_pincount(const struct rm_model *m, int fi)
{
	const struct rm_frame *f = &m->frames[fi];

	return f->folio >= 0 ? m->folios[f->folio].pins : f->pins;
}

/* The pfn a vfio-pci BAR page faults in (vfio_pci_mmap_huge_fault()). */
static int mmio_frame(struct rm_model *m, int dev, int bar, uint64_t pgoff)
{
	int *slot = &m->mmio[dev][bar][pgoff];

	if (*slot < 0) {
		*slot = frame_new(m, RM_FRAME_MMIO);
		m->frames[*slot].dev = dev;
		m->frames[*slot].bar = bar;
		m->frames[*slot].pgoff = pgoff;
		m->frames[*slot].mapped = true;
	}
	return *slot;
}

/* ======================= init ======================= */

void rm_init(struct rm_model *m, const struct rm_config *cfg)
{
	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	for (int d = 0; d < RM_MAX_DEVS; d++) {
		m->group[d].opened_file = -1;
		m->group[d].container = -1;
		m->group[d].domain = -1;
	}
	for (int d = 0; d < cfg->ndevs; d++) {
		for (int b = 0; b < 6; b++) {
			uint64_t n = cfg->dev[d].bar_size[b] / RM_PAGE_SIZE;

			if (!n)
				continue;
			m->mmio[d][b] = malloc(n * sizeof(int));
			if (!m->mmio[d][b])
				abort();
			for (uint64_t i = 0; i < n; i++)
				m->mmio[d][b][i] = -1;
		}
	}
	m->rlim_memlock = 8ULL << 20;	/* MLOCK_LIMIT */
	m->huge_free = cfg->hugetlb_2m_pages;
}

void rm_fini(struct rm_model *m)
{
	for (int c = 0; c < m->ncont; c++)
		for (int i = 0; i < m->cont[c].iommu.ndmas; i++) {
			free(m->cont[c].iommu.dmas[i].frames);
			free(m->cont[c].iommu.dmas[i].bitmap);
		}
	for (int c = 0; c < m->ncont; c++)
		free(m->cont[c].iommu.dmas);
	for (int v = 0; v < m->nvmas; v++)
		free(m->vma[v].frames);
	for (int d = 0; d < RM_MAX_DEVS; d++)
		for (int b = 0; b < 6; b++)
			free(m->mmio[d][b]);
	free(m->frames);
	free(m->folios);
	memset(m, 0, sizeof(*m));
}

const char *rm_cov_name(enum rm_cov c)
{
	static const char *const names[RM_COV_NR] = {
		"map ok", "map of BAR (pfnmap) pages", "map of hugetlb pages",
		"page pinned by two mappings", "map over RLIMIT_MEMLOCK with CAP_IPC_LOCK",
		"map -EFAULT", "map -ENOMEM (RLIMIT_MEMLOCK)", "map -EEXIST", "map -ENOSPC",
		"map outside the iova ranges", "map wraps", "map ends at 2^64",
		"VADDR remap ok", "VADDR remap -ENOENT", "VADDR remap -EINVAL",
		"unmap one", "unmap several", "unmap nothing (success, 0)",
		"v2 unmap bisects (-EINVAL)", "v1 unmap inside a mapping (success, 0)",
		"v1 unmap removes past its end", "UNMAP_FLAG_ALL", "unmap VADDR",
		"unmap VADDR undo (-EINVAL)", "GET_DIRTY_BITMAP", "unmap wraps",
		"unmap ends at 2^64", "6.12: unmap to 2^64 leaves covered mappings",
		"attach -EBUSY (vaddr invalid)", "attach: new domain, replay",
		"attach: shared domain", "detach: last domain unmaps all",
		"detach: a domain goes, mappings stay", "SET_IOMMU attach fails (nesting)",
		"group fd closed, device keeps the group", "device fd closed, BAR VMA keeps it",
		"pages munmapped while pinned", "device name: vfio_pci_core_match() error",
		"DIRTY_PAGES START", "DIRTY_PAGES STOP", "GET_BITMAP reported",
		"GET_BITMAP shifted a mapping in", "dma->bitmap kept stale bits",
		"unmap reported dirty pages", "GET_BITMAP -EINVAL after the header checks",
	};

	return c < RM_COV_NR ? names[c] : "?";
}

const char *rm_kernel_name(enum rm_kernel k)
{
	return k == RM_KERNEL_UPSTREAM ? "upstream" : "6.12.118";
}

/* ======================= the dma list (vfio_iommu->dma_list) ======================= */

/* vfio_find_dma(): the source's comparisons, 6.12 exclusive vs upstream inclusive ends. */
static int find_dma(const struct rm_model *m, const struct rm_iommu *io, uint64_t start,
		    uint64_t size)
{
	int lo = 0, hi = io->ndmas;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		const struct rm_dma *dma = &io->dmas[mid];
		bool left, right;

		if (upstream(m)) {
			left = start + size - 1 < dma->iova;
			right = start > dma->iova + dma->size - 1;
		} else {
			left = start + size <= dma->iova;
			right = start >= dma->iova + dma->size;
		}
		if (left)
			hi = mid;
		else if (right)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

/*
 * vfio_find_dma_first_node(): the first mapping that ends after @start
 * (stopping at one that contains it), dropped if it begins past the range.
 * 6.12 passes (start, size) and tests dma_res->iova >= start + size only
 * for a non-zero size; upstream passes the inclusive end.
 */
static int find_dma_first(const struct rm_model *m, const struct rm_iommu *io, uint64_t start,
			  uint64_t size_or_end)
{
	int lo = 0, hi = io->ndmas, res = -1;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		const struct rm_dma *dma = &io->dmas[mid];
		bool before_end = upstream(m) ? start <= dma->iova + dma->size - 1
					      : start < dma->iova + dma->size;

		if (before_end) {
			res = mid;
			if (start >= dma->iova)
				break;
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	if (res < 0)
		return -1;
	if (upstream(m)) {
		if (io->dmas[res].iova > size_or_end)
			return -1;
	} else if (size_or_end && io->dmas[res].iova >= start + size_or_end) {
		return -1;
	}
	return res;
}

/* vfio_link_dma(): in iova order. */
static int link_dma(struct rm_iommu *io, const struct rm_dma *new)
{
	int pos = 0;

	while (pos < io->ndmas && io->dmas[pos].iova < new->iova)
		pos++;
	io->dmas = grow(io->dmas, &io->cap, io->ndmas + 1, sizeof(*io->dmas));
	memmove(&io->dmas[pos + 1], &io->dmas[pos], (size_t)(io->ndmas - pos) * sizeof(*io->dmas));
	io->dmas[pos] = *new;
	io->ndmas++;
	return pos;
}

/*
 * vfio_remove_dma(): vfio_unmap_unpin() unmaps every domain and unpins what
 * the first domain translated (put_pfn() counts pages with a struct page),
 * vfio_lock_acct(-unlocked); the entry goes, dma_avail comes back.
 */
static void remove_dma(struct rm_model *m, struct rm_iommu *io, int n, int cont)
{
	struct rm_dma *dma = &io->dmas[n];
	uint64_t npage = dma->size / RM_PAGE_SIZE, unlocked = 0;

	for (uint64_t i = 0; i < npage; i++)
		unlocked += (uint64_t)put_pfn(m, dma->frames[i]);
	/* __account_locked_vm(): WARN_ON_ONCE(pages > locked_vm) in the kernel */
	m->locked_vm -= unlocked < m->locked_vm ? unlocked : m->locked_vm;
	if (m->nremoved < 64) {
		m->removed_iova[m->nremoved] = dma->iova;
		m->removed_size[m->nremoved] = dma->size;
		m->removed_cont[m->nremoved] = cont;
		m->nremoved++;
	}
	if (dma->vaddr_invalid)
		io->vaddr_invalid_count--;
	free(dma->frames);
	free(dma->bitmap);	/* vfio_dma_bitmap_free() */
	memmove(&io->dmas[n], &io->dmas[n + 1], (size_t)(io->ndmas - n - 1) * sizeof(*io->dmas));
	io->ndmas--;
	io->dma_avail++;
}

/* vfio_iommu_unmap_unpin_all() */
static void unmap_unpin_all(struct rm_model *m, struct rm_iommu *io, int cont)
{
	while (io->ndmas)
		remove_dma(m, io, 0, cont);
}

/* ======================= memory: VMAs ======================= */

const struct rm_vma *rm_find_vma(const struct rm_model *m, uint64_t addr)
{
	for (int i = 0; i < m->nvmas; i++)
		if (addr >= m->vma[i].start && addr < m->vma[i].end)
			return &m->vma[i];
	return NULL;
}

static struct rm_vma *vma_add(struct rm_model *m)
{
	struct rm_vma *v;

	if (m->nvmas == RM_MAX_VMAS)
		abort();	/* the driver bounds the number of regions */
	v = &m->vma[m->nvmas++];
	memset(v, 0, sizeof(*v));
	v->file = -1;
	return v;
}

static void file_put(struct rm_model *m, int fi);

/*
 * Unmap [s, e) from one VMA: the pages of the middle part lose their
 * mapping, a BAR VMA split in two holds the device file twice
 * (vm_area_dup() -> get_file()), a removed one drops it (remove_vma()).
 */
static void vma_unmap_part(struct rm_model *m, int vi, uint64_t s, uint64_t e)
{
	struct rm_vma v = m->vma[vi];
	uint64_t ms = s > v.start ? s : v.start, me = e < v.end ? e : v.end;
	bool keep_left = ms > v.start, keep_right = me < v.end;
	int dropped_file = -1;

	if (v.frames) {
		for (uint64_t a = ms; a < me; a += RM_PAGE_SIZE) {
			int fi = v.frames[(a - v.start) / RM_PAGE_SIZE];

			if (m->frames[fi].pins)
				COV(m, PINNED_PAGE_UNMAPPED);
			m->frames[fi].mapped = false;
			if (m->frames[fi].folio >= 0)
				m->folios[m->frames[fi].folio].mapped = false;
		}
		for (uint64_t a = ms; a < me; a += RM_PAGE_SIZE)
			frame_maybe_free(m, v.frames[(a - v.start) / RM_PAGE_SIZE]);
	}
	/* remove the old VMA, add the pieces that stay */
	m->vma[vi] = m->vma[m->nvmas - 1];
	m->nvmas--;
	if (keep_left) {
		struct rm_vma *l = vma_add(m);

		*l = v;
		l->end = ms;
		if (v.frames) {
			l->frames = malloc((ms - v.start) / RM_PAGE_SIZE * sizeof(int));
			memcpy(l->frames, v.frames, (ms - v.start) / RM_PAGE_SIZE * sizeof(int));
		}
	}
	if (keep_right) {
		struct rm_vma *r = vma_add(m);

		*r = v;
		r->start = me;
		if (v.kind == RM_VMA_BAR)
			r->pgoff = v.pgoff + (me - v.start) / RM_PAGE_SIZE;
		if (v.frames) {
			r->frames = malloc((v.end - me) / RM_PAGE_SIZE * sizeof(int));
			memcpy(r->frames, v.frames + (me - v.start) / RM_PAGE_SIZE,
			       (v.end - me) / RM_PAGE_SIZE * sizeof(int));
		}
	}
	free(v.frames);
	if (v.kind == RM_VMA_BAR) {
		int pieces = keep_left + keep_right;

		m->files[v.file].refs += pieces;
		dropped_file = v.file;
	}
	if (dropped_file >= 0)
		file_put(m, dropped_file);
}

/* do_vmi_munmap() / do_vmi_align_munmap() */
static int do_munmap(struct rm_model *m, uint64_t start, uint64_t len)
{
	uint64_t end;
	bool again = true;

	if ((start & ~PAGE_MASK_) || start > TASK_SIZE_ || len > TASK_SIZE_ - start)
		return -EINVAL;
	len = (len + RM_PAGE_SIZE - 1) & PAGE_MASK_;
	if (!len)
		return -EINVAL;
	end = start + len;
	/* __split_vma() of a hugetlb VMA off a huge page boundary: hugetlb_vm_op_split() */
	for (int i = 0; i < m->nvmas; i++) {
		struct rm_vma *v = &m->vma[i];

		if (v->kind != RM_VMA_HUGE || v->end <= start || v->start >= end)
			continue;
		if ((start > v->start && (start & (RM_HPAGE_SIZE - 1))) ||
		    (end < v->end && (end & (RM_HPAGE_SIZE - 1))))
			return -EINVAL;
	}
	while (again) {
		again = false;
		for (int i = 0; i < m->nvmas; i++) {
			if (m->vma[i].end <= start || m->vma[i].start >= end)
				continue;
			vma_unmap_part(m, i, start, end);
			again = true;
			break;
		}
	}
	return 0;
}

struct rm_res rm_munmap(struct rm_model *m, uint64_t addr, uint64_t len)
{
	int ret = do_munmap(m, addr, len);

	return ret ? fail(-ret) : ok(0);
}

static bool range_free(const struct rm_model *m, uint64_t addr, uint64_t len)
{
	for (int i = 0; i < m->nvmas; i++)
		if (m->vma[i].start < addr + len && addr < m->vma[i].end)
			return false;
	return true;
}

/* do_mmap() of MAP_PRIVATE | MAP_ANONYMOUS (| MAP_FIXED: mmap_region() unmaps first). */
struct rm_res rm_mmap_anon(struct rm_model *m, uint64_t addr, uint64_t len, bool fixed)
{
	struct rm_vma *v;
	uint64_t n;

	if (!len)
		return fail(EINVAL);
	len = (len + RM_PAGE_SIZE - 1) & PAGE_MASK_;
	if (fixed) {
		if (addr & ~PAGE_MASK_)
			return fail(EINVAL);
		if (do_munmap(m, addr, len))
			return fail(EINVAL);
	} else if (!range_free(m, addr, len)) {
		return fail(EEXIST);	/* the environment handed out a used range */
	}
	n = len / RM_PAGE_SIZE;
	v = vma_add(m);
	v->start = addr;
	v->end = addr + len;
	v->kind = RM_VMA_ANON;
	v->frames = malloc(n * sizeof(int));
	for (uint64_t i = 0; i < n; i++) {
		v->frames[i] = frame_new(m, RM_FRAME_RAM);
		m->frames[v->frames[i]].mapped = true;	/* the caller faults it in */
	}
	return ok((long)addr);
}

int rm_mmap_huge_check(struct rm_model *m, uint64_t len)
{
	if (!len || (len & (RM_HPAGE_SIZE - 1)))
		return EINVAL;
	/* hugetlb_reserve_pages() -> hugetlb_acct_memory(): no surplus pages */
	if (len / RM_HPAGE_SIZE > m->huge_free)
		return ENOMEM;
	return 0;
}

/* MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB */
struct rm_res rm_mmap_huge(struct rm_model *m, uint64_t addr, uint64_t len)
{
	int err = rm_mmap_huge_check(m, len);
	struct rm_vma *v;
	uint64_t n;

	if (err)
		return fail(err);
	if (!range_free(m, addr, len) || (addr & (RM_HPAGE_SIZE - 1)))
		return fail(EEXIST);
	n = len / RM_PAGE_SIZE;
	v = vma_add(m);
	v->start = addr;
	v->end = addr + len;
	v->kind = RM_VMA_HUGE;
	v->frames = malloc(n * sizeof(int));
	for (uint64_t h = 0; h < len / RM_HPAGE_SIZE; h++) {
		struct rm_folio *fo;
		int fidx;

		m->folios = grow(m->folios, &m->folios_cap, m->nfolios + 1, sizeof(*m->folios));
		fidx = m->nfolios++;
		fo = &m->folios[fidx];
		memset(fo, 0, sizeof(*fo));
		fo->nr = (int)(RM_HPAGE_SIZE / RM_PAGE_SIZE);
		fo->mapped = fo->live = true;
		for (int i = 0; i < fo->nr; i++) {
			int fi = frame_new(m, RM_FRAME_RAM);

			if (!i)
				m->folios[fidx].first_frame = fi;
			m->frames[fi].folio = fidx;
			m->frames[fi].mapped = true;
			v->frames[h * (RM_HPAGE_SIZE / RM_PAGE_SIZE) + (uint64_t)i] = fi;
		}
		m->huge_free--;
	}
	return ok((long)addr);
}

/* ======================= files ======================= */

static struct rm_file *fd_file(struct rm_model *m, int h)
{
	if (h < 0 || h >= m->nfiles || !m->files[h].fd_open)
		return NULL;
	return &m->files[h];
}

static int file_new(struct rm_model *m, enum rm_file_type type, int obj)
{
	struct rm_file *f;

	if (m->nfiles == RM_MAX_FILES)
		abort();	/* the driver bounds the opens of one run */
	f = &m->files[m->nfiles];
	f->type = type;
	f->obj = obj;
	f->fd_open = true;
	f->refs = 1;
	return m->nfiles++;
}

/* vfio_container_put() -> vfio_container_release() */
static void container_put(struct rm_model *m, int c)
{
	if (--m->cont[c].refs == 0)
		m->cont[c].alive = false;
}

/* vfio_update_pgsize_bitmap() */
static void update_pgsize_bitmap(struct rm_model *m, struct rm_iommu *io)
{
	uint64_t bitmap = U64_MAX_;

	for (int d = 0; d < RM_MAX_DOMAINS; d++)
		if (io->dom[d].live)
			bitmap &= m->cfg.iommu_pgsize_bitmap;
	if (bitmap & ~PAGE_MASK_) {
		bitmap &= PAGE_MASK_;
		bitmap |= RM_PAGE_SIZE;
	}
	io->pgsize_bitmap = bitmap;
}

static int live_domains(const struct rm_iommu *io)
{
	int n = 0;

	for (int d = 0; d < RM_MAX_DOMAINS; d++)
		n += io->dom[d].live;
	return n;
}

/*
 * vfio_iommu_type1_attach_group().  Every domain has the same geometry and
 * reserved (MSI) region, so vfio_iommu_aper_conflict() and
 * vfio_iommu_resv_conflict() never fire: no mapping can lie outside the
 * iova list the first attach built.  Interrupt remapping is present.
 */
static int type1_attach_group(struct rm_model *m, struct rm_iommu *io, int dev)
{
	int unit = m->cfg.dev[dev].unit, slot = -1;

	if (io->vaddr_invalid_count) {
		COV(m, ATTACH_VADDR_EBUSY);
		return -EBUSY;
	}
	/* iommu_enable_nesting(): x86 IOMMU drivers have no enable_nesting op */
	if (io->nesting && !m->cfg.iommu_enable_nesting)
		return -EINVAL;
	io->iova_list = true;	/* vfio_iommu_aper_resize() + vfio_iommu_resv_exclude() */
	/* an existing domain of the same iommu_ops and coherency takes the group */
	for (int d = 0; d < RM_MAX_DOMAINS; d++) {
		if (io->dom[d].live && io->dom[d].unit == unit) {
			COV(m, ATTACH_SHARED_DOMAIN);
			io->dom[d].ngroups++;
			m->group[dev].domain = d;
			io->num_non_pinned_groups++;
			return 0;
		}
	}
	/*
	 * A new domain: vfio_iommu_replay() maps every (iommu_mapped) dma into
	 * it from the first domain's translations, pinning nothing new.
	 */
	for (int d = 0; d < RM_MAX_DOMAINS; d++) {
		if (!io->dom[d].live) {
			slot = d;
			break;
		}
	}
	if (io->ndmas)
		COV(m, ATTACH_REPLAY);
	io->dom[slot].live = true;
	io->dom[slot].unit = unit;
	io->dom[slot].ngroups = 1;
	m->group[dev].domain = slot;
	update_pgsize_bitmap(m, io);
	/* an IOMMU-backed group can dirty memory directly: it demotes the dirty scope */
	io->num_non_pinned_groups++;
	return 0;
}

/* vfio_iommu_populate_bitmap_full() */
static void populate_bitmap_full(struct rm_iommu *io)
{
	unsigned int pgshift = ffs64(io->pgsize_bitmap);

	for (int i = 0; i < io->ndmas; i++)
		kbitmap_set(io->dmas[i].bitmap, 0, (int)(io->dmas[i].size >> pgshift));
}

/* detach_group_done: the group leaves the dirty scope */
static void detach_dirty_scope(struct rm_iommu *io)
{
	io->num_non_pinned_groups--;
	if (io->dirty_page_tracking)
		populate_bitmap_full(io);
}

/* vfio_iommu_type1_detach_group() */
static void type1_detach_group(struct rm_model *m, struct rm_iommu *io, int dev, int cont)
{
	int d = m->group[dev].domain;

	m->group[dev].domain = -1;
	if (d < 0)
		return;
	if (--io->dom[d].ngroups) {
		detach_dirty_scope(io);
		return;
	}
	/* the last group of the last domain takes every mapping with it */
	if (live_domains(io) == 1) {
		if (io->ndmas)
			COV(m, DETACH_UNMAP_ALL);
		unmap_unpin_all(m, io, cont);
	} else if (io->ndmas) {
		COV(m, DETACH_DOMAIN_GONE);
	}
	io->dom[d].live = false;
	update_pgsize_bitmap(m, io);
	detach_dirty_scope(io);
}

/* vfio_iommu_type1_release() */
static void type1_release(struct rm_model *m, struct rm_iommu *io, int cont)
{
	unmap_unpin_all(m, io, cont);
	free(io->dmas);
	memset(io, 0, sizeof(*io));
}

/* vfio_group_detach_container() */
static void group_detach_container(struct rm_model *m, int dev)
{
	struct rm_group *g = &m->group[dev];
	int c = g->container, i;
	struct rm_container *ct = &m->cont[c];

	if (ct->has_iommu)
		type1_detach_group(m, &ct->iommu, dev, c);
	/* iommu_group_release_dma_owner() */
	g->container = -1;
	g->container_users = 0;
	for (i = 0; i < ct->ngroups && ct->groups[i] != dev; i++)
		;
	memmove(&ct->groups[i], &ct->groups[i + 1], (size_t)(ct->ngroups - i - 1) * sizeof(int));
	ct->ngroups--;
	/* Detaching the last group deprivileges a container, remove iommu */
	if (ct->has_iommu && !ct->ngroups) {
		type1_release(m, &ct->iommu, c);
		ct->has_iommu = false;
	}
	container_put(m, c);
}

/* vfio_group_unuse_container() */
static void group_unuse_container(struct rm_model *m, int dev)
{
	struct rm_group *g = &m->group[dev];

	g->container_users--;
	file_put(m, g->opened_file);	/* fput(group->opened_file) */
}

/* The last reference to a file: its f_op->release. */
static void file_release(struct rm_model *m, int fi)
{
	struct rm_file *f = &m->files[fi];
	struct rm_group *g;

	switch (f->type) {
	case RM_FILE_CONTAINER:		/* vfio_fops_release() */
		container_put(m, f->obj);
		break;
	case RM_FILE_GROUP:		/* vfio_group_fops_release() */
		g = &m->group[f->obj];
		if (g->container >= 0)
			group_detach_container(m, f->obj);
		g->opened_file = -1;
		break;
	case RM_FILE_DEVICE:		/* vfio_device_fops_release() -> vfio_df_group_close() */
		g = &m->group[f->obj];
		/* vfio_df_close(): the last close unuses the container */
		if (g->open_count == 1)
			group_unuse_container(m, f->obj);
		g->open_count--;
		break;
	}
}

static void file_put(struct rm_model *m, int fi)
{
	if (--m->files[fi].refs == 0)
		file_release(m, fi);
}

struct rm_res rm_open_container(struct rm_model *m)
{
	int c;

	/* vfio_fops_open() */
	if (m->ncont == RM_MAX_CONTAINERS)
		abort();
	c = m->ncont++;
	memset(&m->cont[c], 0, sizeof(m->cont[c]));
	m->cont[c].alive = true;
	m->cont[c].refs = 1;
	return ok(file_new(m, RM_FILE_CONTAINER, c));
}

/* vfio_group_fops_open() */
struct rm_res rm_open_group(struct rm_model *m, int dev)
{
	int fi;

	if (dev < 0 || dev >= m->cfg.ndevs)
		return fail(ENOENT);	/* no /dev/vfio/<id> node */
	if (m->group[dev].opened_file >= 0)
		return fail(EBUSY);
	fi = file_new(m, RM_FILE_GROUP, dev);
	m->group[dev].opened_file = fi;
	return ok(fi);
}

/* close(2): the fd's reference; the file goes with its last one. */
struct rm_res rm_close(struct rm_model *m, int h)
{
	struct rm_file *f = fd_file(m, h);

	if (!f)
		return fail(EBADF);
	if (f->refs > 1 && f->type == RM_FILE_GROUP)
		COV(m, GROUP_HELD_BY_DEVICE);
	if (f->refs > 1 && f->type == RM_FILE_DEVICE)
		COV(m, DEVICE_HELD_BY_VMA);
	f->fd_open = false;
	file_put(m, h);
	return ok(0);
}

/* ======================= container ioctls ======================= */

/* vfio_iommu_type1_check_extension() */
static long type1_check_extension(const struct rm_model *m, const struct rm_iommu *io,
				  unsigned long arg)
{
	switch (arg) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	case VFIO_TYPE1_NESTING:
		return upstream(m) ? 0 : 1;
	case VFIO_UPDATE_VADDR:
		return io != NULL;	/* no emulated (mdev) groups */
	case VFIO_DMA_CC_IOMMU:
		/* vfio_domains_have_enforce_cache_coherency(): VT-d snoop control in every domain */
		return io ? 1 : 0;
	default:
		return 0;
	}
}

/*
 * The fd of a container ioctl: EBADF, a group fd (vfio_group_fops_unl_ioctl()
 * -> -ENOTTY) or a device fd (-ENOTTY from vfio_pci_core_ioctl()).
 */
static int container_file(struct rm_model *m, int h, struct rm_container **out)
{
	struct rm_file *f = fd_file(m, h);

	if (!f)
		return -EBADF;
	if (f->type != RM_FILE_CONTAINER)
		return -ENOTTY;
	*out = &m->cont[f->obj];
	return 0;
}

struct rm_res rm_get_api_version(struct rm_model *m, int h)
{
	struct rm_container *c;
	int err = container_file(m, h, &c);

	return err ? fail(-err) : ok(VFIO_API_VERSION);
}

/* vfio_container_ioctl_check_extension() */
struct rm_res rm_check_extension(struct rm_model *m, int h, unsigned long arg)
{
	struct rm_container *c;
	int err = container_file(m, h, &c);

	if (err)
		return fail(-err);
	/*
	 * No driver: poll the registered drivers (type1; noiommu answers 0
	 * without enable_unsafe_noiommu_mode); else only the container's.
	 */
	return ok(type1_check_extension(m, c->has_iommu ? &c->iommu : NULL, arg));
}

/* vfio_ioctl_set_iommu() -> vfio_iommu_type1_open() + __vfio_container_attach_groups() */
struct rm_res rm_set_iommu(struct rm_model *m, int h, unsigned long arg)
{
	struct rm_container *c;
	int err = container_file(m, h, &c), cidx, ret = -ENODEV, i;
	struct rm_iommu *io;

	if (err)
		return fail(-err);
	cidx = (int)(c - m->cont);
	if (!c->ngroups || c->has_iommu)
		return fail(EINVAL);
	/* type1 (the noiommu driver is not allowed for an IOMMU-backed container) */
	if (type1_check_extension(m, NULL, arg) <= 0)
		return fail(-ret);
	io = &c->iommu;
	memset(io, 0, sizeof(*io));
	switch (arg) {
	case VFIO_TYPE1_IOMMU:
		break;
	case VFIO_TYPE1_NESTING:
		io->nesting = true;
		/* fallthrough */
	case VFIO_TYPE1v2_IOMMU:
		io->v2 = true;
		break;
	default:
		return fail(EINVAL);	/* ERR_PTR(-EINVAL) from open */
	}
	io->dma_avail = m->cfg.dma_entry_limit;
	io->pgsize_bitmap = PAGE_MASK_;
	for (i = 0; i < c->ngroups; i++) {
		ret = type1_attach_group(m, io, c->groups[i]);
		if (ret)
			break;
	}
	if (ret) {
		COV(m, SET_IOMMU_ATTACH_FAIL);
		while (--i >= 0)
			type1_detach_group(m, io, c->groups[i], cidx);
		type1_release(m, io, cidx);
		return fail(-ret);
	}
	c->has_iommu = true;
	return ok(0);
}

/* ======================= group ioctls ======================= */

static int group_file(struct rm_model *m, int h, int *dev)
{
	struct rm_file *f = fd_file(m, h);

	if (!f)
		return -EBADF;
	if (f->type == RM_FILE_CONTAINER)	/* passthrough to the driver */
		return m->cont[f->obj].has_iommu ? -ENOTTY : -EINVAL;
	if (f->type == RM_FILE_DEVICE)
		return -ENOTTY;
	*dev = f->obj;
	return 0;
}

/* vfio_group_ioctl_set_container() -> vfio_container_attach_group() */
struct rm_res rm_group_set_container(struct rm_model *m, int h, int ch)
{
	int dev, err = group_file(m, h, &dev), ret;
	struct rm_file *cf;
	struct rm_container *c;
	struct rm_group *g;

	if (err)
		return fail(-err);
	g = &m->group[dev];
	cf = fd_file(m, ch);
	if (!cf)
		return fail(EBADF);	/* fdget() */
	if (g->container >= 0)
		return fail(EINVAL);	/* vfio_group_has_iommu() */
	if (cf->type != RM_FILE_CONTAINER)
		return fail(EBADFD);	/* not a container, not an iommufd */
	c = &m->cont[cf->obj];
	/* iommu_group_claim_dma_owner(): the group is in no container, so unowned */
	if (c->has_iommu) {
		ret = type1_attach_group(m, &c->iommu, dev);
		if (ret)
			return fail(-ret);
	}
	g->container = cf->obj;
	g->container_users = 1;
	memmove(&c->groups[1], &c->groups[0], (size_t)c->ngroups * sizeof(int));
	c->groups[0] = dev;	/* list_add(): the head */
	c->ngroups++;
	c->refs++;		/* vfio_container_get() */
	return ok(0);
}

/* vfio_group_ioctl_unset_container() */
struct rm_res rm_group_unset_container(struct rm_model *m, int h)
{
	int dev, err = group_file(m, h, &dev);
	struct rm_group *g;

	if (err)
		return fail(-err);
	g = &m->group[dev];
	if (g->container < 0)
		return fail(EINVAL);
	if (g->container_users != 1)
		return fail(EBUSY);
	group_detach_container(m, dev);
	return ok(0);
}

/* vfio_group_ioctl_get_status() */
struct rm_res rm_group_get_status(struct rm_model *m, int h, uint32_t argsz, uint32_t *flags)
{
	int dev, err = group_file(m, h, &dev);

	if (err)
		return fail(-err);
	if (argsz < 8)	/* offsetofend(struct vfio_group_status, flags) */
		return fail(EINVAL);
	/* with a container the group's DMA owner is claimed, so viable means ours */
	*flags = m->group[dev].container >= 0
			 ? VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE
			 : VFIO_GROUP_FLAGS_VIABLE;
	return ok(0);
}

/*
 * vfio_pci_core_match(): the name, then only spaces or one
 * "vf_token=<uuid>"; a token on a device that is neither PF nor VF is
 * -EINVAL (vfio_pci_validate_vf_token()).
 */
static int pci_core_match(const char *pci_name, const char *buf)
{
	size_t n = strlen(pci_name);
	bool vf_token = false;

	if (strncmp(pci_name, buf, n))
		return 0;
	if (strlen(buf) > n) {
		buf += n;
		if (*buf != ' ')
			return 0;
		while (*buf) {
			if (*buf == ' ') {
				buf++;
				continue;
			}
			if (!vf_token && !strncmp(buf, "vf_token=", 9)) {
				buf += 9;
				if (strlen(buf) < 36)
					return -EINVAL;
				/* uuid_parse(): 8-4-4-4-12 hex digits */
				for (int i = 0; i < 36; i++) {
					bool dash = i == 8 || i == 13 || i == 18 || i == 23;
					char ch = buf[i];

					if (dash ? ch != '-' :
						   !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
						     (ch >= 'A' && ch <= 'F')))
						return -EINVAL;
				}
				vf_token = true;
				buf += 36;
			} else {
				return -EINVAL;
			}
		}
	}
	if (vf_token)
		return -EINVAL;	/* "VF token incorrectly provided, not a PF or VF" */
	return 1;
}

/* vfio_group_ioctl_get_device_fd() -> vfio_device_open_file() -> vfio_df_group_open() */
struct rm_res rm_group_get_device_fd(struct rm_model *m, int h, const char *name)
{
	int dev, err = group_file(m, h, &dev), match;
	struct rm_group *g;

	if (err)
		return fail(-err);
	/* vfio_device_get_from_name(): the group's only device */
	match = pci_core_match(m->cfg.dev[dev].name, name);
	if (match < 0) {
		COV(m, NAME_MATCH_EINVAL);
		return fail(-match);
	}
	if (!match)
		return fail(ENODEV);
	g = &m->group[dev];
	if (g->container < 0)
		return fail(EINVAL);	/* !vfio_group_has_iommu() */
	/* vfio_df_open(): the first open uses the container */
	if (g->open_count == 0) {
		if (!m->cont[g->container].has_iommu)
			return fail(EINVAL);	/* vfio_group_use_container() */
		g->container_users++;
		m->files[g->opened_file].refs++;	/* get_file(group->opened_file) */
	}
	g->open_count++;
	return ok(file_new(m, RM_FILE_DEVICE, dev));
}

/* ======================= type1 ioctls ======================= */

static int type1_file(struct rm_model *m, int h, struct rm_container **c)
{
	int err = container_file(m, h, c);

	if (err)
		return err;
	if (!(*c)->has_iommu)
		return -EINVAL;	/* vfio_fops_unl_ioctl(): no driver to pass it to */
	return 0;
}

struct rm_res rm_unknown_ioctl(struct rm_model *m, int h)
{
	struct rm_file *f = fd_file(m, h);

	if (!f)
		return fail(EBADF);
	if (f->type == RM_FILE_CONTAINER)
		return fail(m->cont[f->obj].has_iommu ? ENOTTY : EINVAL);
	return fail(ENOTTY);
}

/* vfio_iommu_iova_dma_valid() */
static bool iova_dma_valid(const struct rm_model *m, const struct rm_iommu *io, uint64_t start,
			   uint64_t end)
{
	const struct rm_config *cfg = &m->cfg;

	if (!io->iova_list)
		return true;
	if (start >= cfg->aperture_start && end <= cfg->resv_start - 1)
		return true;
	return start >= cfg->resv_end + 1 && end <= cfg->aperture_end;
}

/* vfio_dma_bitmap_alloc(): DIRTY_BITMAP_BYTES(npages) + one spare u64 for the shift, zeroed */
static void dma_bitmap_alloc(struct rm_dma *dma, uint64_t pgsize)
{
	uint64_t npages = dma->size / pgsize;

	dma->bitmap_words = (int)(DIRTY_BITMAP_BYTES(npages) / 8 + 1);
	dma->bitmap = calloc((size_t)dma->bitmap_words, sizeof(uint64_t));
	if (!dma->bitmap)
		abort();
}

/*
 * vfio_pin_map_dma() with vfio_pin_pages_remote() + vaddr_get_pfns():
 * page by page in vaddr order, the first failure wins: no VMA (or a VMA
 * GUP refuses that is not VM_PFNMAP) -> the -EFAULT of
 * pin_user_pages_remote(); a VM_PFNMAP page (a BAR) goes through
 * follow_fault_pfn() and is "reserved" (no struct page: not pinned, not
 * counted); a RAM page is counted against RLIMIT_MEMLOCK unless the dma
 * was mapped with CAP_IPC_LOCK.  Any failure unwinds everything
 * (vfio_remove_dma()), so the result is all or nothing.
 */
static int pin_map_dma(struct rm_model *m, struct rm_dma *dma)
{
	uint64_t npage = dma->size / RM_PAGE_SIZE, lock_acct = 0;
	uint64_t limit = m->rlim_memlock >> 12;
	bool shared = false;

	/* first the page walk, which fails before it outgrows the VMAs */
	for (uint64_t i = 0; i < npage; i++) {
		const struct rm_vma *v = rm_find_vma(m, dma->vaddr + i * RM_PAGE_SIZE);

		if (!v) {
			COV(m, MAP_EFAULT);
			return -EFAULT;
		}
		if (v->kind == RM_VMA_BAR)
			continue;
		if (!dma->lock_cap && m->locked_vm + lock_acct + 1 > limit) {
			COV(m, MAP_ENOMEM);
			return -ENOMEM;
		}
		lock_acct++;
	}
	if (dma->lock_cap && m->locked_vm + lock_acct > limit)
		COV(m, MAP_LOCK_CAP);
	dma->frames = malloc(npage * sizeof(int));
	if (!dma->frames)
		abort();
	for (uint64_t i = 0; i < npage; i++) {
		uint64_t va = dma->vaddr + i * RM_PAGE_SIZE;
		const struct rm_vma *v = rm_find_vma(m, va);
		uint64_t idx = (va - v->start) / RM_PAGE_SIZE;
		const struct rm_frame *f;

		dma->frames[i] = v->kind == RM_VMA_BAR ? mmio_frame(m, v->dev, v->bar, v->pgoff + idx)
						       : v->frames[idx];
		f = &m->frames[dma->frames[i]];
		if (f->kind == RM_FRAME_MMIO) {
			m->cov[RM_COV_MAP_BAR_PAGES] += !i || m->frames[dma->frames[i - 1]].kind != RM_FRAME_MMIO;
			continue;
		}
		if (f->pins)
			shared = true;
		if (f->folio >= 0 && !i)
			COV(m, MAP_HUGETLB_PAGES);
		frame_pin(m, dma->frames[i]);
	}
	COV(m, MAP_OK);
	if (shared)
		COV(m, MAP_SHARED_PAGE);
	m->locked_vm += lock_acct;	/* vfio_lock_acct() of each run */
	return 0;
}

/* vfio_iommu_type1_map_dma() + vfio_dma_do_map() */
struct rm_res rm_map_dma(struct rm_model *m, int h, uint32_t argsz, uint32_t flags,
			 uint64_t vaddr, uint64_t iova, uint64_t size)
{
	struct rm_container *c;
	struct rm_iommu *io;
	bool set_vaddr = flags & VFIO_DMA_MAP_FLAG_VADDR;
	uint64_t pgsize;
	int err = type1_file(m, h, &c), prot = 0, n;
	struct rm_dma dma;

	if (err)
		return fail(-err);
	io = &c->iommu;
	/* minsz = offsetofend(struct vfio_iommu_type1_dma_map, size) */
	if (argsz < 32 ||
	    (flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR)))
		return fail(EINVAL);
	if (upstream(m)) {
		if (!size)
			return fail(EINVAL);
		/* check_add_overflow(iova, size - 1) || check_add_overflow(vaddr, size - 1) */
		if (iova + size - 1 < iova || vaddr + size - 1 < vaddr) {
			COV(m, MAP_WRAP);
			return fail(EOVERFLOW);
		}
	}
	if (flags & VFIO_DMA_MAP_FLAG_WRITE)
		prot |= IOMMU_WRITE;
	if (flags & VFIO_DMA_MAP_FLAG_READ)
		prot |= IOMMU_READ;
	if ((prot && set_vaddr) || (!prot && !set_vaddr))
		return fail(EINVAL);
	pgsize = 1ULL << ffs64(io->pgsize_bitmap);
	/* WARN_ON((pgsize - 1) & PAGE_MASK): an IOMMU whose smallest page is above PAGE_SIZE */
	if ((pgsize - 1) & PAGE_MASK_)
		m->warnings++;
	if (upstream(m)) {
		if ((size | iova | vaddr) & (pgsize - 1))
			return fail(EINVAL);
	} else {
		if (!size || ((size | iova | vaddr) & (pgsize - 1)))
			return fail(EINVAL);
		/* Don't allow IOVA or virtual address wrap */
		if (iova + size - 1 < iova || vaddr + size - 1 < vaddr) {
			COV(m, MAP_WRAP);
			return fail(EINVAL);
		}
	}
	if (iova + size == 0)
		COV(m, MAP_TOP_OF_SPACE);
	n = find_dma(m, io, iova, size);
	if (set_vaddr) {
		struct rm_dma *d = n >= 0 ? &io->dmas[n] : NULL;

		if (!d) {
			COV(m, MAP_VADDR_ENOENT);
			return fail(ENOENT);
		}
		if (!d->vaddr_invalid || d->iova != iova || d->size != size) {
			COV(m, MAP_VADDR_EINVAL);
			return fail(EINVAL);
		}
		COV(m, MAP_VADDR_OK);
		/* vfio_change_dma_owner(): same mm, nothing moves */
		d->vaddr = vaddr;
		d->vaddr_invalid = false;
		io->vaddr_invalid_count--;
		return ok(0);
	}
	if (n >= 0) {
		COV(m, MAP_EEXIST);
		return fail(EEXIST);
	}
	if (!io->dma_avail) {
		COV(m, MAP_ENOSPC);
		return fail(ENOSPC);
	}
	if (!iova_dma_valid(m, io, iova, iova + size - 1)) {
		COV(m, MAP_IOVA_RANGE);
		return fail(EINVAL);
	}
	memset(&dma, 0, sizeof(dma));
	dma.iova = iova;
	dma.vaddr = vaddr;
	dma.prot = prot;
	dma.size = size;
	dma.lock_cap = m->cap_ipc_lock;
	/* every container with an iommu here has a domain: pin and map now */
	err = pin_map_dma(m, &dma);
	if (err)
		return fail(-err);
	n = link_dma(io, &dma);
	io->dma_avail--;
	if (io->dirty_page_tracking)
		dma_bitmap_alloc(&io->dmas[n], pgsize);
	return ok(0);
}

/*
 * update_user_bitmap(): every page of a mapping is dirty while an
 * IOMMU-backed group is attached (num_non_pinned_groups, iommu_mapped);
 * a mapping not on a word boundary of the user's bitmap is shifted in
 * place (__bitmap_shift_left() over nbits + shift bits, the spare word
 * catching the overflow) and the user's first word is ORed in whole
 * (bitmap_or() of @shift bits is one word); then DIRTY_BITMAP_BYTES(nbits
 * + shift) bytes are written at the word of the mapping's first bit.
 */
static int update_user_bitmap(struct rm_model *m, struct rm_iommu *io, struct rm_dma *dma,
			      uint64_t base_iova, uint64_t pgsize, const struct rm_ubitmap *bm)
{
	unsigned int pgshift = ffs64(pgsize);
	uint64_t nbits = dma->size >> pgshift;
	uint64_t bit_offset = (dma->iova - base_iova) >> pgshift;
	uint64_t copy_offset = bit_offset / 64;
	unsigned int shift = (unsigned int)(bit_offset % 64);
	size_t words;

	if (io->num_non_pinned_groups)
		kbitmap_set(dma->bitmap, 0, (int)nbits);
	if (shift) {
		COV(m, DIRTY_GET_SHIFTED);
		kbitmap_shift_left(dma->bitmap, dma->bitmap, shift, (unsigned int)(nbits + shift));
		if (copy_offset >= bm->words)
			abort();	/* the driver's buffer is what the kernel may touch */
		dma->bitmap[0] |= bm->data[copy_offset];
	}
	words = (size_t)(DIRTY_BITMAP_BYTES(nbits + shift) / 8);
	if (copy_offset + words > bm->words)
		abort();
	memcpy(bm->data + copy_offset, dma->bitmap, words * sizeof(uint64_t));
	return 0;
}

/* bitmap_clear() of a mapping's bits after a report, and whether anything stayed behind */
static void dma_bitmap_reset(struct rm_model *m, struct rm_dma *dma, unsigned int pgshift)
{
	kbitmap_clear(dma->bitmap, 0, (int)(dma->size >> pgshift));
	/* vfio_dma_populate_bitmap(): the pfn_list is empty */
	for (int w = 0; w < dma->bitmap_words; w++)
		if (dma->bitmap[w]) {
			COV(m, DIRTY_STALE_BITS);
			break;
		}
}

/*
 * vfio_iova_dirty_bitmap(): the range may not bisect a mapping (6.12: the
 * exclusive end through vfio_find_dma(iova + size - 1, 0); upstream the
 * inclusive end), then every mapping that starts in the range reports.
 */
static int iova_dirty_bitmap(struct rm_model *m, struct rm_iommu *io, uint64_t iova,
			     uint64_t size, uint64_t iova_end, uint64_t pgsize,
			     const struct rm_ubitmap *bm)
{
	unsigned int pgshift = ffs64(pgsize);
	int n = find_dma(m, io, iova, 1);

	if (n >= 0 && io->dmas[n].iova != iova)
		return -EINVAL;
	if (upstream(m)) {
		n = find_dma(m, io, iova_end, 1);
		if (n >= 0 && io->dmas[n].iova + io->dmas[n].size - 1 != iova_end)
			return -EINVAL;
	} else {
		n = find_dma(m, io, iova + size - 1, 0);
		if (n >= 0 && io->dmas[n].iova + io->dmas[n].size != iova + size)
			return -EINVAL;
	}
	for (n = 0; n < io->ndmas; n++) {
		struct rm_dma *dma = &io->dmas[n];

		if (dma->iova < iova)
			continue;
		if (dma->iova > (upstream(m) ? iova_end : iova + size - 1))
			break;
		update_user_bitmap(m, io, dma, iova, pgsize, bm);
		dma_bitmap_reset(m, dma, pgshift);
	}
	COV(m, DIRTY_GET);
	return 0;
}

/* verify_bitmap_size() */
static int verify_bitmap_size(uint64_t npages, uint64_t bitmap_size)
{
	if (!npages || !bitmap_size || bitmap_size > DIRTY_BITMAP_SIZE_MAX ||
	    bitmap_size < DIRTY_BITMAP_BYTES(npages))
		return -EINVAL;
	return 0;
}

/* vfio_dma_do_unmap() */
static int do_unmap(struct rm_model *m, struct rm_iommu *io, int cont, uint32_t flags,
		    uint64_t iova, uint64_t size, const struct rm_ubitmap *bm,
		    uint64_t *unmapped_out)
{
	bool unmap_all = flags & VFIO_DMA_UNMAP_FLAG_ALL;
	bool invalidate_vaddr = flags & VFIO_DMA_UNMAP_FLAG_VADDR;
	uint64_t pgsize = 1ULL << ffs64(io->pgsize_bitmap), iova_end = 0, unmapped = 0;
	int n, first_n;

	if (iova & (pgsize - 1))
		return -EINVAL;
	if (unmap_all) {
		if (iova || size)
			return -EINVAL;
		if (upstream(m))
			iova_end = ~0ULL;
		else
			size = U64_MAX_;
	} else if (upstream(m)) {
		if (!size || (size & (pgsize - 1)))
			return -EINVAL;
		if (iova + size - 1 < iova) {
			COV(m, UNMAP_WRAP);
			return -EOVERFLOW;
		}
		iova_end = iova + size - 1;
	} else if (!size || (size & (pgsize - 1)) || iova + size - 1 < iova) {
		if (size && !(size & (pgsize - 1)))
			COV(m, UNMAP_WRAP);
		return -EINVAL;
	}
	if (!unmap_all && iova + size == 0)
		COV(m, UNMAP_TOP_OF_SPACE);
	/* When dirty tracking is enabled, allow only min supported pgsize */
	if ((flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    (!io->dirty_page_tracking || bm->pgsize != pgsize)) {
		COV(m, UNMAP_DIRTY);
		return -EINVAL;
	}
	if ((pgsize - 1) & PAGE_MASK_)
		m->warnings++;	/* WARN_ON((pgsize - 1) & PAGE_MASK) */
	if (io->v2 && !unmap_all) {
		n = find_dma(m, io, iova, 1);
		if (n >= 0 && io->dmas[n].iova != iova) {
			COV(m, UNMAP_V2_BISECT);
			return -EINVAL;
		}
		if (upstream(m)) {
			n = find_dma(m, io, iova_end, 1);
			if (n >= 0 && io->dmas[n].iova + io->dmas[n].size - 1 != iova_end) {
				COV(m, UNMAP_V2_BISECT);
				return -EINVAL;
			}
		} else {
			n = find_dma(m, io, iova + size - 1, 0);
			if (n >= 0 && io->dmas[n].iova + io->dmas[n].size != iova + size) {
				COV(m, UNMAP_V2_BISECT);
				return -EINVAL;
			}
		}
	}
	if (!upstream(m) && !unmap_all && iova + size == 0 && io->ndmas &&
	    io->dmas[io->ndmas - 1].iova + io->dmas[io->ndmas - 1].size > iova)
		COV(m, UNMAP_TOP_MISSED);	/* vfio_find_dma_first_node() finds nothing */
	n = first_n = find_dma_first(m, io, iova, upstream(m) ? iova_end : size);
	while (n >= 0 && n < io->ndmas) {
		struct rm_dma *dma = &io->dmas[n];

		if (upstream(m) ? dma->iova > iova_end : dma->iova >= iova + size)
			break;
		if (!io->v2 && iova > dma->iova) {
			COV(m, UNMAP_V1_OFFSET);
			break;
		}
		if (invalidate_vaddr) {
			if (dma->vaddr_invalid) {
				COV(m, UNMAP_VADDR_REVERT);
				for (int k = first_n; k != n; k++) {
					io->dmas[k].vaddr_invalid = false;
					io->vaddr_invalid_count--;
				}
				*unmapped_out = 0;
				return -EINVAL;
			}
			dma->vaddr_invalid = true;
			io->vaddr_invalid_count++;
			COV(m, UNMAP_VADDR);
			unmapped += dma->size;
			n++;
			continue;
		}
		/* no pfn_list: nothing pinned it through vfio_pin_pages() */
		if (flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
			update_user_bitmap(m, io, dma, iova, pgsize, bm);
			COV(m, DIRTY_UNMAP);
		}
		if (!unmap_all && !io->v2 && dma->iova + dma->size - 1 > iova + size - 1)
			COV(m, UNMAP_V1_PAST_END);
		unmapped += dma->size;
		remove_dma(m, io, n, cont);	/* rb_next() is now at index n */
	}
	*unmapped_out = unmapped;
	if (unmap_all)
		COV(m, UNMAP_ALL);
	if (!unmapped)
		COV(m, UNMAP_NOTHING);
	else if (!invalidate_vaddr && m->nremoved > 1)
		COV(m, UNMAP_MANY);
	else if (!invalidate_vaddr)
		COV(m, UNMAP_ONE);
	return 0;
}

/* vfio_iommu_type1_unmap_dma() */
struct rm_res rm_unmap_dma(struct rm_model *m, int h, uint32_t argsz, uint32_t flags,
			   uint64_t iova, uint64_t size, const struct rm_ubitmap *bm,
			   uint64_t *size_out)
{
	const uint32_t mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR |
			      VFIO_DMA_UNMAP_FLAG_ALL;
	struct rm_container *c;
	uint64_t unmapped = 0;
	int err = type1_file(m, h, &c), ret;

	*size_out = size;
	m->nremoved = 0;
	if (err)
		return fail(-err);
	/* minsz = offsetofend(struct vfio_iommu_type1_dma_unmap, size) */
	if (argsz < 24 || (flags & ~mask))
		return fail(EINVAL);
	if ((flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    (flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)))
		return fail(EINVAL);
	if (flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
		if (argsz < 24 + sizeof(struct vfio_bitmap))
			return fail(EINVAL);
		/* access_ok() holds for the driver's buffer; __ffs(pgsize) of a non-zero pgsize */
		if (verify_bitmap_size(size >> ffs64(bm->pgsize), bm->size))
			return fail(EINVAL);
	}
	ret = do_unmap(m, &c->iommu, (int)(c - m->cont), flags, iova, size, bm, &unmapped);
	if (ret)
		return fail(-ret);
	*size_out = unmapped;	/* copy_to_user() only on success */
	return ok(0);
}

/* vfio_iommu_type1_dirty_pages() */
struct rm_res rm_dirty_pages(struct rm_model *m, int h, uint32_t argsz, uint32_t flags,
			     uint64_t iova, uint64_t size, const struct rm_ubitmap *bm)
{
	const uint32_t mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
			      VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	struct rm_container *c;
	struct rm_iommu *io;
	uint64_t pgsize, iova_end = 0;
	int err = type1_file(m, h, &c);

	if (err)
		return fail(-err);
	io = &c->iommu;
	if (!io->v2)
		return fail(EACCES);
	/* minsz = offsetofend(struct vfio_iommu_type1_dirty_bitmap, flags) */
	if (argsz < 8 || (flags & ~mask))
		return fail(EINVAL);
	/*
	 * only one flag should be set at a time (__ffs != __fls); no flag at
	 * all matches no branch and ends in the final -EINVAL
	 */
	if (!flags || (flags & (flags - 1)))
		return fail(EINVAL);
	pgsize = 1ULL << ffs64(io->pgsize_bitmap);
	if (flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
		/* vfio_dma_bitmap_alloc_all(): zeroed, then the (empty) pfn_list */
		if (!io->dirty_page_tracking) {
			for (int i = 0; i < io->ndmas; i++)
				dma_bitmap_alloc(&io->dmas[i], pgsize);
			io->dirty_page_tracking = true;
		}
		COV(m, DIRTY_START);
		return ok(0);
	}
	if (flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
		if (io->dirty_page_tracking) {
			io->dirty_page_tracking = false;
			for (int i = 0; i < io->ndmas; i++) {
				free(io->dmas[i].bitmap);	/* vfio_dma_bitmap_free_all() */
				io->dmas[i].bitmap = NULL;
			}
		}
		COV(m, DIRTY_STOP);
		return ok(0);
	}
	/* GET_BITMAP: struct vfio_iommu_type1_dirty_bitmap_get follows the header */
	if (argsz - 8 < sizeof(struct vfio_iommu_type1_dirty_bitmap_get))
		return fail(EINVAL);
	if (upstream(m)) {
		if (!size)
			return fail(EINVAL);
		if (iova + size - 1 < iova)
			return fail(EOVERFLOW);
		iova_end = iova + size - 1;
	} else if (iova + size < iova) {
		return fail(EINVAL);
	}
	/* access_ok() holds for the driver's buffer */
	if (verify_bitmap_size(size >> ffs64(bm->pgsize), bm->size))
		return fail(EINVAL);
	if (bm->pgsize != pgsize || (iova & (pgsize - 1)) || (!upstream(m) && !size) ||
	    (size & (pgsize - 1)) || !io->dirty_page_tracking) {
		COV(m, DIRTY_EINVAL);
		return fail(EINVAL);
	}
	err = iova_dirty_bitmap(m, io, iova, size, iova_end, pgsize, bm);
	return err ? fail(-err) : ok(0);
}

/* vfio_iommu_type1_get_info() with its three capabilities */
struct rm_res rm_get_info(struct rm_model *m, int h, void *buf, size_t len)
{
	struct rm_container *c;
	struct vfio_iommu_type1_info info;
	unsigned char caps[256];
	size_t caps_size = 0, minsz;
	struct vfio_iommu_type1_info_cap_migration *mig;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *range;
	struct rm_iommu *io;
	uint32_t argsz;
	int err = type1_file(m, h, &c);

	if (err)
		return fail(-err);
	io = &c->iommu;
	memset(&info, 0, sizeof(info));
	memcpy(&info, buf, 16);	/* minsz = offsetofend(iova_pgsizes) */
	argsz = info.argsz;
	if (argsz < 16)
		return fail(EINVAL);
	minsz = argsz < sizeof(info) ? argsz : sizeof(info);
	info.flags = VFIO_IOMMU_INFO_PGSIZES;
	info.iova_pgsizes = io->pgsize_bitmap;

	/* vfio_info_cap_add(): 8-byte aligned, zeroed, chained by offset */
	memset(caps, 0, sizeof(caps));
	mig = (void *)caps;
	mig->header.id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
	mig->header.version = 1;
	mig->flags = 0;
	mig->pgsize_bitmap = 1ULL << ffs64(io->pgsize_bitmap);
	mig->max_dirty_bitmap_size = DIRTY_BITMAP_SIZE_MAX;
	caps_size = (sizeof(*mig) + 7) & ~7UL;
	avail = (void *)(caps + caps_size);
	avail->header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
	avail->header.version = 1;
	avail->avail = io->dma_avail;
	mig->header.next = (uint32_t)caps_size;
	caps_size += (sizeof(*avail) + 7) & ~7UL;
	if (io->iova_list) {
		const struct rm_config *cfg = &m->cfg;

		range = (void *)(caps + caps_size);
		range->header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
		range->header.version = 1;
		range->nr_iovas = 2;
		range->iova_ranges[0].start = cfg->aperture_start;
		range->iova_ranges[0].end = cfg->resv_start - 1;
		range->iova_ranges[1].start = cfg->resv_end + 1;
		range->iova_ranges[1].end = cfg->aperture_end;
		avail->header.next = (uint32_t)caps_size;
		caps_size += (sizeof(*range) + 2 * sizeof(range->iova_ranges[0]) + 7) & ~7UL;
	}
	info.flags |= VFIO_IOMMU_INFO_CAPS;
	if (argsz < sizeof(info) + caps_size) {
		info.argsz = (uint32_t)(sizeof(info) + caps_size);
	} else {
		/* vfio_info_cap_shift() */
		for (struct vfio_info_cap_header *t = (void *)caps; t->next;
		     t = (void *)(caps + t->next - sizeof(info)))
			t->next += sizeof(info);
		if (len >= sizeof(info) + caps_size)
			memcpy((unsigned char *)buf + sizeof(info), caps, caps_size);
		info.cap_offset = sizeof(info);
	}
	memcpy(buf, &info, minsz);
	return ok(0);
}

/* ======================= BAR mmap ======================= */

/* vfio_device_fops_mmap() -> vfio_pci_core_mmap(), MAP_SHARED */
int rm_mmap_bar_check(struct rm_model *m, int h, int bar, uint64_t off, uint64_t len)
{
	struct rm_file *f = fd_file(m, h);
	uint64_t phys_len;

	if (!len)
		return EINVAL;	/* do_mmap() */
	if (!f)
		return EBADF;
	if (f->type != RM_FILE_DEVICE)
		return ENODEV;	/* no ->mmap */
	if (bar >= VFIO_PCI_NUM_REGIONS || bar >= VFIO_PCI_ROM_REGION_INDEX || bar < 0)
		return EINVAL;
	/* bar_mmap_supported: a memory BAR of at least a page */
	if (m->cfg.dev[f->obj].bar_size[bar] < RM_PAGE_SIZE)
		return EINVAL;
	phys_len = (m->cfg.dev[f->obj].bar_size[bar] + RM_PAGE_SIZE - 1) & PAGE_MASK_;
	len = (len + RM_PAGE_SIZE - 1) & PAGE_MASK_;
	if ((off & ~PAGE_MASK_) || off + len > phys_len)
		return EINVAL;
	return 0;
}

struct rm_res rm_mmap_bar(struct rm_model *m, uint64_t addr, int h, int bar, uint64_t off,
			  uint64_t len)
{
	int err = rm_mmap_bar_check(m, h, bar, off, len);
	struct rm_vma *v;

	if (err)
		return fail(err);
	len = (len + RM_PAGE_SIZE - 1) & PAGE_MASK_;
	if (!range_free(m, addr, len))
		return fail(EEXIST);
	v = vma_add(m);
	v->start = addr;
	v->end = addr + len;
	v->kind = RM_VMA_BAR;
	v->file = h;
	v->dev = m->files[h].obj;
	v->bar = bar;
	v->pgoff = off / RM_PAGE_SIZE;
	m->files[h].refs++;	/* vma->vm_file = get_file() */
	return ok((long)addr);
}

/* ======================= the process ======================= */

struct rm_res rm_setrlimit_memlock(struct rm_model *m, uint64_t cur)
{
	m->rlim_memlock = cur;
	return ok(0);
}

struct rm_res rm_set_cap_ipc_lock(struct rm_model *m, bool on)
{
	m->cap_ipc_lock = on;
	return ok(0);
}

/* ======================= observation ======================= */

int rm_group_container(const struct rm_model *m, int dev)
{
	return m->group[dev].container;
}

int rm_handle_container(const struct rm_model *m, int h)
{
	if (h < 0 || h >= m->nfiles || !m->files[h].fd_open ||
	    m->files[h].type != RM_FILE_CONTAINER)
		return -1;
	return m->files[h].obj;
}

int rm_iova_frame(const struct rm_model *m, int dev, uint64_t iova)
{
	const struct rm_group *g = &m->group[dev];
	const struct rm_container *c = g->container >= 0 ? &m->cont[g->container] : NULL;
	const struct rm_iommu *io;

	if (!c || !c->has_iommu || g->domain < 0)
		return -2;
	io = &c->iommu;
	/* every live domain holds every mapping (vfio_iommu_map(), replay) */
	for (int i = 0; i < io->ndmas; i++) {
		const struct rm_dma *d = &io->dmas[i];

		if (iova >= d->iova && iova - d->iova < d->size)
			return d->frames[(iova - d->iova) / RM_PAGE_SIZE];
	}
	return RM_NO_FRAME;
}
