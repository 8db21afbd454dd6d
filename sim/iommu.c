// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated IOMMU: the core of drivers/iommu/iommu.c (__iommu_map's
 * page-size splitting, __iommu_unmap, the iotlb gather and sync), a generic
 * 4-level IO page table in the style of the x86 and io-pgtable formats, an
 * IOTLB, and the DMA engine devices use to reach memory through a domain.
 *
 * The IO page table is the IOMMU's own memory: host tables of 512 entries,
 * not simulated RAM, so mapping never disturbs the frame counts
 * that tests assert.  Level 3 is the root (512 GiB per entry), level 2 holds
 * 1G leaves, level 1 2M leaves, level 0 4K leaves: a 48-bit IOVA space, the
 * geometry of a 4-level VT-d or AMD v1 table.  Tables are allocated lazily
 * and freed when their last entry goes, so an IOVA that was unmapped can be
 * mapped again at any page size.  They come from per-domain 2 MiB chunks
 * (THP-backed where the host allows: 16 GiB of 4K leaves is 8192 tables,
 * and first-touch faults of 4K host pages would dominate the map time).
 *
 * Simplification: each domain is protected by one mutex.  The kernel's
 * io-pgtable code is lockless (cmpxchg on table installs, callers keep
 * their ranges disjoint); vfio already serialises map and unmap under
 * iommu->lock, so the mutex only matters for the DMA engine, where it also
 * stands for the drain that the hardware's invalidation-wait performs: a
 * DMA that translated through the IOTLB finishes its access before
 * iommu_iotlb_sync() returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "checker.h"
#include "fault_inject.h"
#include "iommu.h"
#include "machine.h"
#include "mm_types.h"
#include "page.h"
#include "pgtable.h"
#include "scheduler.h"

#define IOPT_LEVELS 4
#define IOPT_ENTRIES 512
#define IOPT_ROOT_LEVEL (IOPT_LEVELS - 1)
#define IOPT_VA_BITS (PAGE_SHIFT + 9 * IOPT_LEVELS)
#define IOPT_APERTURE_END ((1ULL << IOPT_VA_BITS) - 1)

/*
 * An entry is 0 (none), a table (pointer | PRESENT) or a leaf
 * (paddr | prot << IOPTE_PROT_SHIFT | LEAF | PRESENT).
 */
#define IOPTE_PRESENT (1ULL << 0)
#define IOPTE_LEAF (1ULL << 1)
#define IOPTE_PROT_SHIFT 2
#define IOPTE_PROT_MASK (0x1fULL << IOPTE_PROT_SHIFT)
#define IOPTE_ADDR_MASK (~0xfffULL)

struct io_table {
	uint64_t pte[IOPT_ENTRIES];
	unsigned int nr_live; /* non-zero entries */
};

/* Table memory: a chunk is one naturally aligned 2 MiB host mapping. */
#define IOPT_CHUNK_SIZE (2UL << 20)

struct iopt_chunk {
	struct iopt_chunk *next;
	unsigned int used; /* tables handed out from here */
	struct io_table tables[];
};

#define IOPT_CHUNK_TABLES ((IOPT_CHUNK_SIZE - sizeof(struct iopt_chunk)) / sizeof(struct io_table))

/*
 * The IOTLB (struct iotlb_entry, IOTLB_ENTRIES), the gather (struct
 * iommu_iotlb_gather) and struct iommu_domain itself are declared in
 * sim/iommu.h: the kernel's callers read a domain's ops, pgsize_bitmap and
 * geometry as fields, and keep a gather on their stack.
 */
#define IOTLB_GATHER_INIT                     \
	{                                     \
		.start = UINT64_MAX, .end = 0 \
	}

struct iommu_stats iommu_stats;

static inline void stat_add(_Atomic unsigned long *c, unsigned long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline unsigned int level_shift(int lvl)
{
	return PAGE_SHIFT + 9 * lvl;
}

static inline unsigned int iopt_index(dma_addr_t iova, int lvl)
{
	return (iova >> level_shift(lvl)) & (IOPT_ENTRIES - 1);
}

static inline struct io_table *iopte_table(uint64_t pte)
{
	return (struct io_table *)(uintptr_t)(pte & ~IOPTE_PRESENT);
}

static inline int iopte_prot(uint64_t pte)
{
	return (int)((pte & IOPTE_PROT_MASK) >> IOPTE_PROT_SHIFT);
}

static inline uint64_t min_pagesz(const struct iommu_domain *domain)
{
	return domain->pgsize_bitmap & -domain->pgsize_bitmap;
}

/* ---------------- table memory ------------------------------------------- */

static struct iopt_chunk *iopt_chunk_alloc(void)
{
	size_t len = 2 * IOPT_CHUNK_SIZE;
	uintptr_t base, aligned;
	void *p;

	/* Over-allocate and trim, for a 2 MiB aligned range THP can back. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	base = (uintptr_t)p;
	aligned = (base + IOPT_CHUNK_SIZE - 1) & ~(IOPT_CHUNK_SIZE - 1);
	if (aligned > base)
		munmap(p, aligned - base);
	if (base + len > aligned + IOPT_CHUNK_SIZE)
		munmap((void *)(aligned + IOPT_CHUNK_SIZE), base + len - aligned - IOPT_CHUNK_SIZE);
	madvise((void *)aligned, IOPT_CHUNK_SIZE, MADV_HUGEPAGE);
	return (struct iopt_chunk *)aligned;
}

/*
 * A zeroed table.  A freed table is empty but for the free-list link in
 * pte[0] (tables are freed only when nr_live drops to 0), so reuse costs
 * one store; fresh chunk memory is zero already.
 */
static struct io_table *iopt_table_alloc(struct iommu_domain *domain)
{
	struct iopt_chunk *c = domain->chunks;
	struct io_table *t = domain->free_tables;

	/* The kernel allocates every IOMMU table page afresh (iommu_alloc_page()). */
	if (should_fail_alloc(FAIL_IOMMU_PGTABLE))
		return NULL;
	if (t) {
		domain->free_tables = (struct io_table *)(uintptr_t)t->pte[0];
		t->pte[0] = 0;
		return t;
	}
	if (!c || c->used == IOPT_CHUNK_TABLES) {
		c = iopt_chunk_alloc();
		if (!c)
			return NULL;
		c->next = domain->chunks;
		domain->chunks = c;
	}
	return &c->tables[c->used++];
}

static void iopt_table_free(struct iommu_domain *domain, struct io_table *t)
{
	t->pte[0] = (uint64_t)(uintptr_t)domain->free_tables;
	domain->free_tables = t;
}

/* ---------------- domains ------------------------------------------------ */

/*
 * Only the sizes this table has levels for.  A bitmap with another size of
 * 4K or more (AMD v1's every power of two, ARM's 64K) is refused with NULL
 * rather than emulated.  Without 4K the smallest leaf is 2M (or 1G):
 * __iommu_map()'s alignment check then asks every mapping to be aligned to
 * it, and the walk never goes below that level.
 */
bool iommu_pgsize_bitmap_supported(uint64_t bitmap)
{
	uint64_t big = bitmap & ~(SZ_4K - 1);

	if (!big || (big & ~IOMMU_DEFAULT_PGSIZES))
		return false;
	return !(bitmap & (SZ_4K - 1)) || (bitmap & SZ_4K);
}

/* intel_iommu_enforce_cache_coherency(): snoop control is always there. */
static bool sim_enforce_cache_coherency(struct iommu_domain *domain)
{
	(void)domain;
	return true;
}

static const struct iommu_domain_ops sim_iommu_domain_ops = {
	.enforce_cache_coherency = sim_enforce_cache_coherency,
};

struct iommu_domain *iommu_domain_alloc_unit(uint64_t pgsize_bitmap, int iommu_unit)
{
	struct iommu_domain *domain = iommu_domain_alloc(pgsize_bitmap);

	if (domain)
		domain->iommu_unit = iommu_unit;
	return domain;
}

struct iommu_domain *iommu_domain_alloc(uint64_t pgsize_bitmap)
{
	struct iommu_domain *domain;

	if (!iommu_pgsize_bitmap_supported(pgsize_bitmap))
		return NULL;
	domain = sim_kzalloc(sizeof(*domain));
	if (!domain)
		return NULL;
	domain->root = iopt_table_alloc(domain);
	if (!domain->root) {
		free(domain);
		return NULL;
	}
	pthread_mutex_init(&domain->lock, NULL);
	domain->ops = &sim_iommu_domain_ops;
	domain->iommu_unit = -1;
	domain->pgsize_bitmap = pgsize_bitmap;
	domain->geometry.aperture_start = 0;
	domain->geometry.aperture_end = IOPT_APERTURE_END;
	domain->geometry.force_aperture = true;
	domain->gather = (struct iommu_iotlb_gather)IOTLB_GATHER_INIT;
	return domain;
}

/* Every table lives in a chunk: freeing the chunks frees the page table. */
void iommu_domain_free(struct iommu_domain *domain)
{
	struct iopt_chunk *c, *next;

	if (!domain)
		return;
	for (c = domain->chunks; c; c = next) {
		next = c->next;
		munmap(c, IOPT_CHUNK_SIZE);
	}
	pthread_mutex_destroy(&domain->lock);
	free(domain);
}

uint64_t iommu_domain_pgsize_bitmap(const struct iommu_domain *domain)
{
	return domain->pgsize_bitmap;
}

const struct iommu_domain_geometry *iommu_domain_geometry(const struct iommu_domain *domain)
{
	return &domain->geometry;
}

int iommu_enable_nesting(struct iommu_domain *domain)
{
	/* iommu.c: an UNMANAGED domain whose ops have no enable_nesting. */
	(void)domain;
	return -EINVAL;
}

int iommu_get_group_resv_regions(struct iommu_resv_region *regions, int max)
{
	/* IOAPIC_RANGE_START..IOAPIC_RANGE_END of drivers/iommu/intel/iommu.c */
	static const struct iommu_resv_region msi = {
		.start = 0xfee00000, .length = 0x100000, .type = IOMMU_RESV_MSI,
	};

	if (max > 0)
		regions[0] = msi;
	return 1;
}

/* ---------------- the IO page table -------------------------------------- */

/* The leaf translating @iova, or 0; *@shift gets its size.  Lock held. */
static uint64_t iopt_lookup(const struct iommu_domain *domain, dma_addr_t iova, unsigned int *shift)
{
	const struct io_table *t = domain->root;

	if (iova > IOPT_APERTURE_END)
		return 0;
	for (int lvl = IOPT_ROOT_LEVEL; lvl >= 0; lvl--) {
		uint64_t pte = t->pte[iopt_index(iova, lvl)];

		if (!pte)
			return 0;
		if (pte & IOPTE_LEAF) {
			*shift = level_shift(lvl);
			return pte;
		}
		t = iopte_table(pte);
	}
	return 0;
}

struct map_walk {
	struct iommu_domain *domain;
	uint64_t pgsizes;
	uint64_t prot_bits;
	size_t mapped; /* bytes installed, in iova order */
	unsigned long leaves[IOPT_LEVELS];
};

/*
 * iommu_pgsize(): the largest supported size that (iova | paddr) is aligned
 * to and that fits in what remains.  Page sizes are exactly the leaf
 * levels, so "the largest that fits" is "the highest level that fits".
 */
static inline bool leaf_fits(const struct map_walk *w, int lvl, dma_addr_t iova, phys_addr_t paddr,
			     size_t size)
{
	uint64_t sz = 1ULL << level_shift(lvl);

	return (w->pgsizes & sz) && !((iova | paddr) & (sz - 1)) && size >= sz;
}

/* The table below entry @i of @t, allocated if missing; NULL with *err set. */
static struct io_table *iopt_get_child(struct iommu_domain *domain, struct io_table *t,
				       unsigned int i, int *err)
{
	uint64_t pte = t->pte[i];
	struct io_table *child;

	if (pte & IOPTE_LEAF) {
		*err = -EEXIST;
		return NULL;
	}
	if (pte)
		return iopte_table(pte);
	child = iopt_table_alloc(domain);
	if (!child) {
		*err = -ENOMEM;
		return NULL;
	}
	t->pte[i] = (uint64_t)(uintptr_t)child | IOPTE_PRESENT;
	t->nr_live++;
	return child;
}

/* A table left empty (by an error below it) goes, so it cannot block a leaf. */
static void iopt_put_child(struct iommu_domain *domain, struct io_table *t, unsigned int i)
{
	struct io_table *child = iopte_table(t->pte[i]);

	if (child->nr_live)
		return;
	iopt_table_free(domain, child);
	t->pte[i] = 0;
	t->nr_live--;
}

/*
 * Map [iova, iova + size) below table @t of level @lvl, which covers all of
 * it.  Each step installs the largest leaf that fits (the loop body of
 * __iommu_map()), so a 4K run fills one PTE table without re-walking from
 * the root.  -EEXIST when a leaf would overlap a leaf or a live table.
 */
static int iopt_map_level(struct io_table *t, int lvl, dma_addr_t iova, phys_addr_t paddr,
			  size_t size, struct map_walk *w)
{
	uint64_t sz = 1ULL << level_shift(lvl);
	unsigned int i = iopt_index(iova, lvl);
	int err = 0;

	while (size) {
		size_t chunk = sz - (iova & (sz - 1));

		if (chunk > size)
			chunk = size;
		if (leaf_fits(w, lvl, iova, paddr, size)) {
			if (t->pte[i])
				return -EEXIST;
			t->pte[i] = paddr | w->prot_bits;
			t->nr_live++;
			w->leaves[lvl]++;
			w->mapped += sz;
		} else {
			struct io_table *child = iopt_get_child(w->domain, t, i, &err);

			if (!child)
				return err;
			err = iopt_map_level(child, lvl - 1, iova, paddr, chunk, w);
			if (err) {
				iopt_put_child(w->domain, t, i);
				return err;
			}
		}
		iova += chunk;
		paddr += chunk;
		size -= chunk;
		i++;
	}
	return 0;
}

struct unmap_walk {
	struct iommu_domain *domain;
	dma_addr_t pos, end; /* next iova to look at; end exclusive */
	dma_addr_t first; /* base of the first leaf removed */
	unsigned long leaves;
	bool hole;
};

/*
 * Remove whole leaves from w->pos until w->end is covered, stopping at the
 * first iova that has no translation.  A leaf is removed whole and counted
 * whole even where it extends past w->end (or starts before w->pos): what
 * intel_iommu_unmap() ("the horrid API which requires us to unmap more than
 * the size argument") and AMD's page table do, and what vfio_unmap_unpin()
 * expects when it gets more back than it asked for.  io-pgtable-arm instead
 * refuses a partial unmap of a block since 2024; not modelled.
 */
static size_t iopt_unmap_level(struct io_table *t, int lvl, struct unmap_walk *w)
{
	uint64_t sz = 1ULL << level_shift(lvl);
	size_t unmapped = 0;

	for (unsigned int i = iopt_index(w->pos, lvl); i < IOPT_ENTRIES && w->pos < w->end; i++) {
		uint64_t pte = t->pte[i];

		if (!pte) {
			w->hole = true;
			break;
		}
		if (pte & IOPTE_LEAF) {
			if (!w->leaves)
				w->first = w->pos & ~(sz - 1);
			t->pte[i] = 0;
			t->nr_live--;
			w->leaves++;
			unmapped += sz;
			w->pos = (w->pos & ~(sz - 1)) + sz;
			continue;
		}
		unmapped += iopt_unmap_level(iopte_table(pte), lvl - 1, w);
		iopt_put_child(w->domain, t, i);
		if (w->hole)
			break;
	}
	return unmapped;
}

/* ---------------- the IOTLB ---------------------------------------------- */

static inline struct iotlb_entry *iotlb_slot(struct iommu_domain *domain, dma_addr_t iova,
					     unsigned int shift)
{
	return &domain->iotlb[((iova >> shift) + shift) & (IOTLB_ENTRIES - 1)];
}

/* A cached translation of @iova: one probe per supported leaf size. */
static const struct iotlb_entry *iotlb_lookup(struct iommu_domain *domain, dma_addr_t iova)
{
	for (int lvl = 0; lvl < IOPT_ROOT_LEVEL; lvl++) {
		unsigned int shift = level_shift(lvl);
		const struct iotlb_entry *e;

		if (!(domain->pgsize_bitmap & (1ULL << shift)))
			continue;
		e = iotlb_slot(domain, iova, shift);
		if (e->shift == shift && e->iova == (iova & ~((1ULL << shift) - 1)))
			return e;
	}
	return NULL;
}

/* The page-table walk of an IOTLB miss; the translation is cached. */
static const struct iotlb_entry *iotlb_fill(struct iommu_domain *domain, dma_addr_t iova)
{
	unsigned int shift = 0;
	uint64_t pte = iopt_lookup(domain, iova, &shift);
	struct iotlb_entry *e;

	if (!pte)
		return NULL;
	e = iotlb_slot(domain, iova, shift);
	e->iova = iova & ~((1ULL << shift) - 1);
	e->paddr = pte & IOPTE_ADDR_MASK;
	e->shift = shift;
	e->prot = iopte_prot(pte);
	return e;
}

/* The invalidation of iommu_iotlb_sync(): every entry overlapping @gather. */
static void iotlb_flush_gather(struct iommu_domain *domain, struct iommu_iotlb_gather *gather)
{
	if (gather->start > gather->end)
		return;
	for (unsigned int i = 0; i < IOTLB_ENTRIES; i++) {
		struct iotlb_entry *e = &domain->iotlb[i];
		dma_addr_t last = e->iova + ((1ULL << e->shift) - 1);

		if (e->shift && e->iova <= gather->end && last >= gather->start)
			e->shift = 0;
	}
	*gather = (struct iommu_iotlb_gather)IOTLB_GATHER_INIT;
}

/* iommu_iotlb_gather_add_range(): one range that covers both. */
static void iotlb_gather_add(struct iommu_iotlb_gather *gather, dma_addr_t start, size_t size)
{
	dma_addr_t last = start + size - 1;

	if (start < gather->start)
		gather->start = start;
	if (last > gather->end)
		gather->end = last;
}

/* ---------------- iommu_map / iommu_unmap -------------------------------- */

/* __iommu_unmap() with the domain locked: queues what it removed. */
static size_t __iommu_unmap_locked(struct iommu_domain *domain, dma_addr_t iova, size_t size,
				   struct iommu_iotlb_gather *gather)
{
	struct unmap_walk w = {.domain = domain, .pos = iova};
	size_t unmapped;

	if (iova > IOPT_APERTURE_END)
		return 0;
	w.end = size - 1 > IOPT_APERTURE_END - iova ? IOPT_APERTURE_END + 1 : iova + size;
	unmapped = iopt_unmap_level(domain->root, IOPT_ROOT_LEVEL, &w);
	if (unmapped) {
		domain->nr_leaves -= w.leaves;
		iotlb_gather_add(gather, w.first, unmapped);
	}
	return unmapped;
}

/*
 * __iommu_map(): -EINVAL unless iova, paddr and size are aligned to the
 * smallest page size; then the largest page that fits at each step.  On
 * failure, what this call mapped is unmapped again (the kernel calls
 * iommu_unmap(), so the unwind is counted as an unmap and a sync).
 * Beyond the aperture: -ERANGE, as io-pgtable-arm and generic_pt give.
 * Left out: the gfp argument and iotlb_sync_map (no caching mode here).
 */
/*
 * CHECK_DMA_UNPINNED at map time (checkers on: controlled runs): every RAM
 * frame an IOMMU translation is made to must already be DMA-pinned, as
 * vfio_pin_map_dma() pins before vfio_iommu_map(); PG_reserved frames are
 * exempt (is_invalid_reserved_pfn()), MMIO has no struct page.  One report
 * per call, for its first unpinned frame.
 */
static void iommu_map_check_pinned(dma_addr_t iova, phys_addr_t paddr, size_t size)
{
	unsigned long pfn = paddr >> PAGE_SHIFT, end = (paddr + size) >> PAGE_SHIFT;

	while (pfn < end && pfn_valid(pfn)) {
		struct page *page = pfn_to_page(pfn);
		struct folio *folio = page_folio(page);
		unsigned long next = page_to_pfn(&folio->page) + (1UL << folio_order(folio));

		if (!PageReserved(page) && !folio_maybe_dma_pinned(folio)) {
			checker_report(CHECK_DMA_UNPINNED,
				       "iommu_map() of IOVA 0x%llx to pfn 0x%lx, which is not pinned",
				       (unsigned long long)(iova + ((pfn << PAGE_SHIFT) - paddr)), pfn);
			return;
		}
		pfn = next > pfn ? next : pfn + 1;
	}
}

int iommu_map(struct iommu_domain *domain, dma_addr_t iova, phys_addr_t paddr, size_t size,
	      int prot)
{
	struct map_walk w = {
		.domain = domain,
		.pgsizes = domain->pgsize_bitmap,
		.prot_bits = ((uint64_t)prot << IOPTE_PROT_SHIFT & IOPTE_PROT_MASK) | IOPTE_LEAF |
			     IOPTE_PRESENT,
	};
	int ret;

	stat_add(&iommu_stats.map_calls, 1);
	if ((iova | paddr | size) & (min_pagesz(domain) - 1))
		return -EINVAL;
	/* Sub-4K sizes are advertised only: the table has no leaf below 4K. */
	if ((iova | paddr | size) & (SZ_4K - 1))
		return -EINVAL;
	if (!size)
		return 0;
	if (iova > IOPT_APERTURE_END || size - 1 > IOPT_APERTURE_END - iova)
		return -ERANGE;

	if (checkers_on())
		iommu_map_check_pinned(iova, paddr, size);
	pthread_mutex_lock(&domain->lock);
	ret = iopt_map_level(domain->root, IOPT_ROOT_LEVEL, iova, paddr, size, &w);
	domain->nr_leaves += w.leaves[0] + w.leaves[1] + w.leaves[2];
	if (ret && w.mapped) {
		struct iommu_iotlb_gather gather = IOTLB_GATHER_INIT;

		stat_add(&iommu_stats.unmap_calls, 1);
		__iommu_unmap_locked(domain, iova, w.mapped, &gather);
		stat_add(&iommu_stats.iotlb_syncs, 1);
		iotlb_flush_gather(domain, &gather);
	}
	pthread_mutex_unlock(&domain->lock);

	if (w.leaves[0])
		stat_add(&iommu_stats.leaves_4k, w.leaves[0]);
	if (w.leaves[1])
		stat_add(&iommu_stats.leaves_2m, w.leaves[1]);
	if (w.leaves[2])
		stat_add(&iommu_stats.leaves_1g, w.leaves[2]);
	return ret;
}

/*
 * __iommu_unmap(): 0 (nothing done) unless iova and size are aligned to the
 * smallest page size; otherwise whole leaves until @size is covered, the
 * walk stopping where nothing is mapped (the core's "break when the driver
 * unmapped nothing").  What was removed is added to @gather.
 */
static size_t __iommu_unmap(struct iommu_domain *domain, dma_addr_t iova, size_t size,
			    struct iommu_iotlb_gather *gather)
{
	size_t unmapped;

	stat_add(&iommu_stats.unmap_calls, 1);
	if (!size || ((iova | size) & (min_pagesz(domain) - 1)) || ((iova | size) & (SZ_4K - 1)))
		return 0;
	pthread_mutex_lock(&domain->lock);
	unmapped = __iommu_unmap_locked(domain, iova, size, gather);
	pthread_mutex_unlock(&domain->lock);
	return unmapped;
}

/*
 * The range joins the domain's pending gather; the IOTLB keeps serving the
 * removed translations until iommu_iotlb_sync().
 */
size_t iommu_unmap_fast(struct iommu_domain *domain, dma_addr_t iova, size_t size)
{
	return __iommu_unmap(domain, iova, size, &domain->gather);
}

void iommu_iotlb_sync(struct iommu_domain *domain)
{
	iommu_iotlb_sync_gather(domain, &domain->gather);
}

size_t iommu_unmap_fast_gather(struct iommu_domain *domain, dma_addr_t iova, size_t size,
			       struct iommu_iotlb_gather *gather)
{
	return __iommu_unmap(domain, iova, size, gather);
}

void iommu_iotlb_sync_gather(struct iommu_domain *domain, struct iommu_iotlb_gather *gather)
{
	stat_add(&iommu_stats.iotlb_syncs, 1);
	pthread_mutex_lock(&domain->lock);
	iotlb_flush_gather(domain, gather);
	pthread_mutex_unlock(&domain->lock);
}

/*
 * iommu_unmap() has its own gather and syncs only that: ranges queued by
 * iommu_unmap_fast() stay stale until their own iommu_iotlb_sync(), as they
 * would in the kernel.
 */
size_t iommu_unmap(struct iommu_domain *domain, dma_addr_t iova, size_t size)
{
	struct iommu_iotlb_gather gather = IOTLB_GATHER_INIT;
	size_t unmapped = __iommu_unmap(domain, iova, size, &gather);

	stat_add(&iommu_stats.iotlb_syncs, 1);
	pthread_mutex_lock(&domain->lock);
	iotlb_flush_gather(domain, &gather);
	pthread_mutex_unlock(&domain->lock);
	return unmapped;
}

phys_addr_t iommu_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova)
{
	unsigned int shift = 0;
	uint64_t pte;

	pthread_mutex_lock(&domain->lock);
	pte = iopt_lookup(domain, iova, &shift);
	pthread_mutex_unlock(&domain->lock);
	if (!pte)
		return 0;
	return (pte & IOPTE_ADDR_MASK) + (iova & ((1ULL << shift) - 1));
}

size_t iommu_iova_contig_len(struct iommu_domain *domain, dma_addr_t iova, size_t max,
			     phys_addr_t *phys)
{
	unsigned int shift = 0;
	phys_addr_t start = 0, expect = 0;
	size_t len = 0;

	pthread_mutex_lock(&domain->lock);
	while (len < max) {
		uint64_t pte = iopt_lookup(domain, iova + len, &shift);
		phys_addr_t pa;
		size_t step;

		if (!pte)
			break;
		pa = (pte & IOPTE_ADDR_MASK) + ((iova + len) & ((1ULL << shift) - 1));
		if (len && pa != expect)
			break;
		if (!len)
			start = pa;
		/* The rest of this leaf is contiguous by construction. */
		step = ((size_t)1 << shift) - ((iova + len) & ((1ULL << shift) - 1));
		len += step;
		expect = pa + step;
	}
	pthread_mutex_unlock(&domain->lock);
	if (phys)
		*phys = start;
	return len < max ? len : max;
}

size_t iommu_leaf_size(struct iommu_domain *domain, dma_addr_t iova)
{
	unsigned int shift = 0;
	uint64_t pte;

	pthread_mutex_lock(&domain->lock);
	pte = iopt_lookup(domain, iova, &shift);
	pthread_mutex_unlock(&domain->lock);
	return pte ? (size_t)1 << shift : 0;
}

unsigned long iommu_nr_leaves(struct iommu_domain *domain)
{
	unsigned long n;

	pthread_mutex_lock(&domain->lock);
	n = domain->nr_leaves;
	pthread_mutex_unlock(&domain->lock);
	return n;
}

/* ---------------- the DMA engine ----------------------------------------- */

/* ---------------- the DMA coherency checker ----------------------------- */

/*
 * What MADV_DONTNEED took away: a run of frames and the addresses that
 * mapped them.  The schedule string of the discard says where it
 * happened.  Runs merge while frames and addresses stay contiguous.
 */
struct discard_note {
	unsigned long pfn, npages, vaddr;
	struct mm_struct *mm;	/* compared with the machine's mms before use */
	bool reported, dead;
	/* The last report: a page and what it mapped then (no repeats of it). */
	unsigned long last_off, last_now;
	char where[48];
};

#define DISCARD_NOTES_MAX (1UL << 20)

static struct {
	pthread_mutex_t lock;
	struct discard_note *v;
	size_t n, cap;
	unsigned long dropped;	/* past DISCARD_NOTES_MAX */
	_Atomic size_t live;	/* the DMA path's one branch */
	_Atomic unsigned long lo, hi;	/* pfns of the live notes within [lo, hi) */
} discards = { .lock = PTHREAD_MUTEX_INITIALIZER };

unsigned long iommu_discard_notes(void)
{
	return atomic_load(&discards.live);
}

void iommu_discard_notes_clear(void)
{
	pthread_mutex_lock(&discards.lock);
	free(discards.v);
	discards.v = NULL;
	discards.n = discards.cap = 0;
	discards.dropped = 0;
	atomic_store(&discards.live, 0);
	atomic_store(&discards.lo, 0);
	atomic_store(&discards.hi, 0);
	pthread_mutex_unlock(&discards.lock);
}

static bool note_frame_pinned(unsigned long pfn)
{
	return pfn_valid(pfn) && folio_maybe_dma_pinned(page_folio(pfn_to_page(pfn)));
}

/* Under discards.lock: the pfn window of the notes, for the DMA path's filter. */
static void discard_notes_bounds(void)
{
	unsigned long lo = ~0UL, hi = 0;

	for (size_t i = 0; i < discards.n; i++) {
		if (discards.v[i].pfn < lo)
			lo = discards.v[i].pfn;
		if (discards.v[i].pfn + discards.v[i].npages > hi)
			hi = discards.v[i].pfn + discards.v[i].npages;
	}
	atomic_store(&discards.lo, discards.n ? lo : 0);
	atomic_store(&discards.hi, hi);
}

/* Under discards.lock: drop dead notes and notes of frames no longer pinned. */
static void discard_notes_compact(void)
{
	size_t j = 0;

	for (size_t i = 0; i < discards.n; i++) {
		struct discard_note *d = &discards.v[i];
		bool keep = !d->dead;

		if (keep) {
			keep = false;
			for (unsigned long k = 0; k < d->npages && !keep; k++)
				keep = note_frame_pinned(d->pfn + k);
		}
		if (keep)
			discards.v[j++] = *d;
	}
	discards.n = j;
	discard_notes_bounds();
	atomic_store(&discards.live, j);
}

/* Under discards.lock: room for one more note; false (counted) if none can be had. */
static bool discard_notes_room(void)
{
	size_t cap = discards.cap ? discards.cap * 2 : 64;
	struct discard_note *v = NULL;

	if (discards.n < discards.cap)
		return true;
	if (cap <= DISCARD_NOTES_MAX)
		v = realloc(discards.v, cap * sizeof(*v));
	if (!v) {
		discards.dropped++;
		return false;
	}
	discards.v = v;
	discards.cap = cap;
	return true;
}

void iommu_note_discard(struct mm_struct *mm, unsigned long vaddr, unsigned long pfn,
			unsigned long npages)
{
	struct discard_note *last;
	char where[48];

	if (!npages || !pfn_valid(pfn))
		return;
	sched_schedule_so_far(where, sizeof(where));
	pthread_mutex_lock(&discards.lock);
	last = discards.n ? &discards.v[discards.n - 1] : NULL;
	if (last && !last->dead && last->mm == mm && last->pfn + last->npages == pfn &&
	    last->vaddr + (last->npages << PAGE_SHIFT) == vaddr && !strcmp(last->where, where)) {
		last->npages += npages;
		goto bounds;
	}
	if (discards.n == discards.cap)
		discard_notes_compact();
	if (!discard_notes_room())
		goto out;
	discards.v[discards.n++] = (struct discard_note){
		.pfn = pfn, .npages = npages, .vaddr = vaddr, .mm = mm,
	};
	memcpy(discards.v[discards.n - 1].where, where, sizeof(where));
	atomic_store(&discards.live, discards.n);
	last = &discards.v[discards.n - 1];
bounds:
	if (discards.n == 1 || last->pfn < atomic_load(&discards.lo))
		atomic_store(&discards.lo, last->pfn);
	if (last->pfn + last->npages > atomic_load(&discards.hi))
		atomic_store(&discards.hi, last->pfn + last->npages);
out:
	pthread_mutex_unlock(&discards.lock);
}

/*
 * Still the discarded page?  Pinned (else the zap freed it), and for a
 * small folio without a mapping's reference (refcount a multiple of the
 * pin bias): a freed frame that a fault took again and a pin holds is
 * mapped, so it is someone else's page now.
 */
static bool note_frame_discarded(unsigned long pfn)
{
	struct folio *folio;

	if (!pfn_valid(pfn))
		return false;
	folio = page_folio(pfn_to_page(pfn));
	if (!folio_maybe_dma_pinned(folio))
		return false;
	return folio_test_large(folio) ||
	       !((unsigned int)folio_ref_count(folio) % GUP_PIN_COUNTING_BIAS);
}

void iommu_settle_discard(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	size_t n;

	pthread_mutex_lock(&discards.lock);
	n = discards.n;
	for (size_t i = 0; i < n; i++) {
		struct discard_note d = discards.v[i];
		unsigned long k, run = 0, valid = 0;

		if (d.dead || d.mm != mm || d.vaddr >= end ||
		    d.vaddr + (d.npages << PAGE_SHIFT) <= start)
			continue;
		for (k = 0; k < d.npages; k++)
			valid += note_frame_discarded(d.pfn + k);
		if (valid == d.npages)
			continue;	/* every frame still the discarded page */
		discards.v[i].dead = true;
		if (!valid)
			continue;
		/* Keep the runs of frames still discarded, as notes of their own. */
		for (k = 0; k <= d.npages; k++) {
			if (k < d.npages && note_frame_discarded(d.pfn + k)) {
				run++;
				continue;
			}
			if (run && discard_notes_room()) {
				struct discard_note *nd = &discards.v[discards.n++];

				*nd = d;
				nd->pfn = d.pfn + k - run;
				nd->vaddr = d.vaddr + ((k - run) << PAGE_SHIFT);
				nd->npages = run;
			}
			run = 0;
		}
	}
	discard_notes_compact();
	pthread_mutex_unlock(&discards.lock);
}

/* The machine whose memory map was scanned once every process was gone. */
static const struct machine *pins_checked;

/*
 * Only the frames below machine->bump_pfn were ever handed out
 * (sim/phys.c alloc_pfn_locked(): the free lists hold frames below it
 * only), so only they can be pinned: the scan stops there.  That keeps it
 * to the memory the machine used, and never touches the memmap of RAM it
 * never used (a first read there faults in the host's zero pages: a 4 GiB
 * race world's whole scan took 6.1 ms, 85 % of an execution).
 */
unsigned long dma_check_pins_released(void)
{
	unsigned long pfn = SIM_RESERVED_PAGES, n = 0, first = 0, step, end;

	pthread_mutex_lock(&machine->alloc_lock);
	end = machine->bump_pfn < max_pfn ? machine->bump_pfn : max_pfn;
	pthread_mutex_unlock(&machine->alloc_lock);
	for (; pfn < end; pfn += step) {
		struct folio *folio = page_folio(pfn_to_page(pfn));

		step = 1;
		if (page_to_pfn(&folio->page) != pfn)
			continue;
		step = 1UL << folio_order(folio);
		/*
		 * A count below zero is an underflow folio_put() already WARNed
		 * about, not a pin (folio_maybe_dma_pinned() reads it unsigned).
		 */
		if (folio_ref_count(folio) <= 0)
			continue;
		if (folio_maybe_dma_pinned(folio) && !n++)
			first = pfn;
	}
	/* Every process gone: machine teardown need not scan again (pinsim_destroy() did). */
	if (!machine->mms)
		pins_checked = machine;
	if (n)
		checker_report(CHECK_PIN_LEAK,
			       "%lu folio%s still pinned after every process and container is gone (the first at pfn 0x%lx, refcount %d, pincount %d)",
			       n, n == 1 ? "" : "s", first,
			       folio_ref_count(page_folio(pfn_to_page(first))),
			       folio_test_large(page_folio(pfn_to_page(first)))
				       ? folio_pincount(page_folio(pfn_to_page(first)))
				       : folio_ref_count(page_folio(pfn_to_page(first))) /
						 (int)GUP_PIN_COUNTING_BIAS);
	return n;
}

/*
 * machine_destroy(), once every process has exited and every device is
 * gone: nothing may hold a pin any more.  Every mode but CHECKER_OFF, like
 * the other DMA and pin checkers, so every machine that hosted a
 * controlled run is checked at its end (race worlds and explore build one
 * per execution) without the scheduler having to say so.  The scan is
 * bounded by the frames the machine ever handed out (above): 0.3 to 0.4 us
 * at the end of a tests/race_world.h execution (4 GiB, about 0.65 ms each
 * in all), 0.5 to 0.8 ms for the harness's 8 GiB machine whose 1 GiB
 * hugetlb pool puts 1.3 M frames below the bump (a first scan; measured
 * with a loop of 20 over race_world_setup(), sched_run(), the scan and
 * race_world_teardown()).  pinsim_destroy() scans first with CHECKER_ALWAYS,
 * after closing the containers: not twice.
 */
void dma_check_pins_at_teardown(void)
{
	/* A run the search cut short ended its threads mid-pin: no kernel state. */
	if (dma_checkers_on() && pins_checked != machine && !sched_run_cut_short())
		dma_check_pins_released();
	pins_checked = NULL;	/* the next machine may have this one's address */
}

/* Is @mm still one of the machine's (its pointer may be stale)? */
static bool mm_is_live(struct mm_struct *mm)
{
	struct mm_struct *it;
	bool live = false;

	pthread_mutex_lock(&machine->mms_lock);
	for (it = machine->mms; it && !live; it = it->next_mm)
		live = it == mm;
	pthread_mutex_unlock(&machine->mms_lock);
	return live;
}

/*
 * A device access to pinned frame @pfn at @iova: if MADV_DONTNEED took the
 * frame from its address, what does the address map now?  Looked up
 * without faulting (pgtable_lookup(), lockless as GUP-fast), newest note
 * first (a frame freed and reused is noted again).
 */
static void dma_check_coherency(dma_addr_t iova, unsigned long pfn, bool write)
{
	unsigned long vaddr = 0, now = 0;
	enum pgtable_level lvl = PGTABLE_NONE;
	struct discard_note *d = NULL;
	char where[48] = "";
	uint64_t entry;
	bool report = false;

	pthread_mutex_lock(&discards.lock);
	for (size_t i = discards.n; i-- > 0;) {
		struct discard_note *it = &discards.v[i];

		if (!it->dead && pfn >= it->pfn && pfn < it->pfn + it->npages) {
			d = it;
			break;
		}
	}
	if (!d)
		goto out;
	if (!mm_is_live(d->mm)) {
		d->dead = true;
		goto out;
	}
	vaddr = d->vaddr + ((pfn - d->pfn) << PAGE_SHIFT);
	{
		unsigned int idx = pgtable_lockless_begin();

		lvl = pgtable_lookup(d->mm, vaddr, &now, &entry);
		pgtable_lockless_end(idx);
	}
	if (lvl != PGTABLE_NONE && now == pfn) {
		d->dead = true;	/* mapped there again: nothing lost */
		goto out;
	}
	/* Unmapped reads as pfn ~0: a later refault is news. */
	if (lvl == PGTABLE_NONE)
		now = ~0UL;
	if (d->reported && d->last_off == pfn - d->pfn && d->last_now == now)
		goto out;
	d->reported = true;
	d->last_off = pfn - d->pfn;
	d->last_now = now;
	report = true;
	memcpy(where, d->where, sizeof(where));
out:
	pthread_mutex_unlock(&discards.lock);
	if (!report)
		return;
	if (lvl != PGTABLE_NONE)
		checker_report(CHECK_DMA_COHERENCY,
			       "coherency violation: DMA %s IOVA 0x%llx -> pfn 0x%lx (pinned for vaddr 0x%lx), but 0x%lx now maps pfn 0x%lx (MADV_DONTNEED%s%s)",
			       write ? "write" : "read", (unsigned long long)iova, pfn, vaddr,
			       vaddr, now, where[0] ? " at schedule " : " outside a controlled run",
			       where);
	else
		checker_report(CHECK_DMA_COHERENCY,
			       "coherency violation: DMA %s IOVA 0x%llx -> pfn 0x%lx (pinned for vaddr 0x%lx), but 0x%lx now maps nothing: a touch faults in a zero page (MADV_DONTNEED%s%s)",
			       write ? "write" : "read", (unsigned long long)iova, pfn, vaddr,
			       vaddr, where[0] ? " at schedule " : " outside a controlled run",
			       where);
}

/*
 * The host bytes of physical frame @pfn for a device access, or NULL (no
 * RAM, no BAR decoding it).  A RAM frame must be DMA-pinned: reaching one
 * that is not is the use-after-unpin that vfio's unmap, sync, unpin order
 * exists to prevent (CHECK_DMA_UNPINNED; the simulation cannot tell whose
 * pin it is, so "pinned by that mapping" is checked as "pinned").  The
 * access still happens, as it would on hardware, and is recorded.
 * PG_reserved frames are exempt: vfio maps them without pinning
 * (is_invalid_reserved_pfn()).  A pinned frame is then checked for
 * coherency if any discard was noted (one branch otherwise).
 */
static unsigned char *dma_target(dma_addr_t iova, unsigned long pfn, bool write)
{
	struct folio *folio;
	struct page *page;

	if (!pfn_valid(pfn))
		return mmio_virt(pfn);
	page = pfn_to_page(pfn);
	folio = page_folio(page);
	if (!PageReserved(page) && !folio_maybe_dma_pinned(folio)) {
		stat_add(&iommu_stats.dma_violations, 1);
		if (dma_checkers_on())
			checker_report(CHECK_DMA_UNPINNED,
				       "DMA %s IOVA 0x%llx reached pfn 0x%lx, which is not pinned",
				       write ? "write" : "read", (unsigned long long)iova, pfn);
	} else if (unlikely(atomic_load_explicit(&discards.live, memory_order_relaxed)) &&
		   pfn >= atomic_load_explicit(&discards.lo, memory_order_relaxed) &&
		   pfn < atomic_load_explicit(&discards.hi, memory_order_relaxed) &&
		   dma_checkers_on()) {
		dma_check_coherency(iova, pfn, write);
	}
	if (write)
		folio_mark_data(folio);
	return page_address(page);
}

static long dma_fault(void)
{
	stat_add(&iommu_stats.dma_faults, 1);
	return -EFAULT;
}

/*
 * Page by page: IOTLB, then the page table on a miss; the permission check
 * (a device write needs IOMMU_WRITE, a read IOMMU_READ); then the bytes.
 * The domain lock is held across the copy: see the top of the file.
 */
long iommu_dma_rw(struct iommu_domain *domain, dma_addr_t iova, void *buf, size_t len, bool write)
{
	int need = write ? IOMMU_WRITE : IOMMU_READ;
	unsigned char *p = buf;
	size_t done = 0;
	long ret = (long)len;

	pthread_mutex_lock(&domain->lock);
	while (done < len) {
		dma_addr_t cur = iova + done;
		size_t off = cur & (PAGE_SIZE - 1);
		size_t n = PAGE_SIZE - off;
		const struct iotlb_entry *e;
		unsigned char *host;
		phys_addr_t phys;

		if (n > len - done)
			n = len - done;
		if (cur < iova) { /* wrapped past the top */
			ret = dma_fault();
			break;
		}
		e = iotlb_lookup(domain, cur);
		if (!e)
			e = iotlb_fill(domain, cur);
		if (!e || !(e->prot & need)) {
			ret = dma_fault();
			break;
		}
		phys = e->paddr + (cur - e->iova);
		host = dma_target(cur, phys >> PAGE_SHIFT, write);
		if (!host) {
			ret = dma_fault();
			break;
		}
		if (write)
			memcpy(host + off, p + done, n);
		else
			memcpy(p + done, host + off, n);
		done += n;
	}
	pthread_mutex_unlock(&domain->lock);
	return ret;
}

/* ---------------- groups ------------------------------------------------- */

void iommu_group_init(struct iommu_group *group, int id, int iommu_unit)
{
	group->id = id;
	group->iommu_unit = iommu_unit;
	group->domain = NULL;
}

int iommu_attach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	if (group->domain)
		return -EBUSY;
	if (domain->iommu_unit >= 0 && domain->iommu_unit != group->iommu_unit)
		return -EINVAL;
	group->domain = domain;
	return 0;
}

void iommu_detach_group(struct iommu_domain *domain, struct iommu_group *group)
{
	if (group->domain == domain)
		group->domain = NULL;
}
