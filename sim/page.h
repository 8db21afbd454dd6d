/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Simulated physical memory: the pfn space, struct page, folios, the page
 * allocator and the direct map (sim/phys.c).
 *
 * Layout: RAM is pfns [0, max_pfn); MMIO (device BARs) lives above it, from
 * mmio_base_pfn, and has no struct page: pfn_valid() is false there.  The
 * first SIM_RESERVED_PAGES frames are PG_reserved and never allocated, like
 * the low memory the kernel keeps (and so no allocated page has pfn 0,
 * which vfio_pin_pages_remote() uses as "no base yet").
 *
 * struct page is 16 bytes.  mem_map and the frame data are MAP_NORESERVE
 * host mappings, so a 1 TiB machine costs only what is touched.  A large
 * folio (order 9 or 18) keeps its state in its head page only: tail pages
 * are never written, and page_folio() finds the head by alignment, which is
 * exact because the allocator hands out only naturally aligned orders 0, 9
 * and 18.
 */
#ifndef SIM_PAGE_H
#define SIM_PAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bug.h"
#include "spinlock.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PMD_ORDER 9
#define PUD_ORDER 18
#define HPAGE_PMD_NR (1UL << PMD_ORDER)
#define HPAGE_PUD_NR (1UL << PUD_ORDER)
#define MAX_PAGE_ORDER PUD_ORDER

#define SIM_RESERVED_PAGES 512UL	/* the first 2 MiB of RAM */

/* FOLL_PIN accounting, include/linux/mm.h */
#define GUP_PIN_COUNTING_BIAS (1U << 10)

enum page_type {
	PGTY_free = 0,		/* zero-filled memmap reads as free */
	PGTY_reserved,
	PGTY_anon,
	PGTY_hugetlb,
	PGTY_pgtable,
	PGTY_kernel,		/* kernel allocations (init_mm tables' data etc.) */
};

enum pageflags {
	PG_reserved = 1 << 0,
	PG_head = 1 << 1,	/* head of a large folio (order > 0) */
	PG_dirty = 1 << 2,
	PG_data = 1 << 3,	/* host bytes written: zero them before reuse */
	PG_anon_exclusive = 1 << 4,
};

struct page {
	_Atomic int32_t _refcount;
	_Atomic int32_t _pincount;	/* large folio head only */
	_Atomic uint16_t flags;		/* enum pageflags */
	uint8_t order;			/* folio order, head only */
	uint8_t type;			/* enum page_type, head only */
	union {
		spinlock_t ptl;		/* PGTY_pgtable: split PTE/PMD lock */
		uint32_t next_free;	/* free lists: next pfn, 0 ends */
	};
};
_Static_assert(sizeof(struct page) == 16, "struct page must stay 16 bytes");

/* A folio is its head page; a distinct type keeps head/tail honest. */
struct folio {
	struct page page;
};

/* Set up by machine_create(); read-only afterwards. */
extern struct page *mem_map;
extern unsigned long max_pfn;		/* number of RAM frames */
extern unsigned long mmio_base_pfn;	/* first MMIO pfn */
extern unsigned char *ram_data;		/* host bytes of frame 0 */

static inline bool pfn_valid(unsigned long pfn)
{
	return pfn < max_pfn;
}

static inline struct page *pfn_to_page(unsigned long pfn)
{
	return mem_map + pfn;
}

static inline unsigned long page_to_pfn(const struct page *page)
{
	return (unsigned long)(page - mem_map);
}

static inline unsigned int page_flags(const struct page *page)
{
	return atomic_load_explicit(&((struct page *)page)->flags,
				    memory_order_relaxed);
}

static inline bool PageReserved(const struct page *page)
{
	return page_flags(page) & PG_reserved;
}

static inline void SetPageFlag(struct page *page, unsigned int f)
{
	atomic_fetch_or_explicit(&page->flags, f, memory_order_relaxed);
}

static inline void ClearPageFlag(struct page *page, unsigned int f)
{
	atomic_fetch_and_explicit(&page->flags, (uint16_t)~f,
				  memory_order_relaxed);
}

/* compound_head() by alignment; see the comment at the top. */
static inline struct folio *page_folio(const struct page *page)
{
	unsigned long pfn = page_to_pfn(page);
	struct page *h;

	h = pfn_to_page(pfn & ~(HPAGE_PUD_NR - 1));
	if ((page_flags(h) & PG_head) && h->order == PUD_ORDER)
		return (struct folio *)h;
	h = pfn_to_page(pfn & ~(HPAGE_PMD_NR - 1));
	if ((page_flags(h) & PG_head) && h->order == PMD_ORDER)
		return (struct folio *)h;
	return (struct folio *)page;
}

static inline struct page *folio_page(struct folio *folio, unsigned long n)
{
	return &folio->page + n;
}

static inline unsigned int folio_order(const struct folio *folio)
{
	return (page_flags(&folio->page) & PG_head) ? folio->page.order : 0;
}

static inline unsigned long folio_nr_pages(const struct folio *folio)
{
	return 1UL << folio_order(folio);
}

static inline bool folio_test_large(const struct folio *folio)
{
	return page_flags(&folio->page) & PG_head;
}

static inline unsigned long folio_pfn(const struct folio *folio)
{
	return page_to_pfn(&folio->page);
}

static inline int folio_ref_count(const struct folio *folio)
{
	return atomic_load_explicit(&((struct folio *)folio)->page._refcount,
				    memory_order_relaxed);
}

static inline int folio_pincount(const struct folio *folio)
{
	return atomic_load_explicit(&((struct folio *)folio)->page._pincount,
				    memory_order_relaxed);
}

static inline int page_ref_count(const struct page *page)
{
	return folio_ref_count(page_folio(page));
}

static inline void folio_ref_add(struct folio *folio, int nr)
{
	atomic_fetch_add_explicit(&folio->page._refcount, nr,
				  memory_order_relaxed);
}

static inline void folio_get(struct folio *folio)
{
	folio_ref_add(folio, 1);
}

/* Drops a reference; frees the folio (to its pool) when it was the last. */
void folio_put_refs(struct folio *folio, int refs);
static inline void folio_put(struct folio *folio)
{
	folio_put_refs(folio, 1);
}

/* include/linux/mm.h: folio_maybe_dma_pinned() */
static inline bool folio_maybe_dma_pinned(const struct folio *folio)
{
	if (folio_test_large(folio))
		return folio_pincount(folio) > 0;
	return (unsigned int)folio_ref_count(folio) >= GUP_PIN_COUNTING_BIAS;
}

enum page_type folio_type(const struct folio *folio);

/*
 * The page allocator.  Orders 0, PMD_ORDER and PUD_ORDER only, naturally
 * aligned.  The folio comes back with refcount 1, the given type, and zero
 * data (bytes written before the last free were cleared at free time).
 * NULL when RAM is exhausted.
 */
struct folio *folio_alloc(unsigned int order, enum page_type type);
/* Frees a folio whose refcount has reached 0 (folio_put calls it). */
void free_folio(struct folio *folio);

/* Frames in use (allocated, including page tables and hugetlb pools). */
unsigned long nr_allocated_pages(void);
unsigned long nr_free_pages(void);

/*
 * The direct map.  phys_to_virt() computes the host address of a frame, as
 * __va() does: arithmetic only.  Reading memory there is checked by every
 * page-table accessor (sim_check_direct_map()): a RAM frame (data or
 * page-table page) reads fine; any other pfn — an MMIO pfn of a BAR, or one
 * beyond the machine — is an illegal read, the simulated oops of seeds/01,
 * caught by the same rule as in the kernel and at the same instruction (the
 * load through pmd_offset()'s result, not the offset computation).
 */
extern uint64_t ram_bytes;

static inline void *phys_to_virt(unsigned long pfn)
{
	return (void *)((uintptr_t)ram_data + ((uintptr_t)pfn << PAGE_SHIFT));
}

unsigned long virt_to_pfn(const void *addr);	/* inverse, RAM only */

_Noreturn void sim_illegal_access(const void *p, const char *func, bool write);

static inline void sim_check_direct_map(const void *p, const char *func, bool write)
{
	if (unlikely((uintptr_t)p - (uintptr_t)ram_data >= ram_bytes))
		sim_illegal_access(p, func, write);
}

static inline void *page_address(const struct page *page)
{
	return ram_data + (page_to_pfn(page) << PAGE_SHIFT);
}

/* Mark a folio's host bytes as written (so they are zeroed before reuse). */
static inline void folio_mark_data(struct folio *folio)
{
	if (!(page_flags(&folio->page) & PG_data))
		SetPageFlag(&folio->page, PG_data);
}

#endif /* SIM_PAGE_H */
