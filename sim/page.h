/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Simulated physical memory: the pfn space, struct page, folios, the page
 * allocator and the direct map (sim/phys.c).
 *
 * Layout: RAM is pfns [0, max_pfn); MMIO (device BARs) lives above it, past
 * a gap, in [mmio_base_pfn, mmio_end_pfn) (phys.c phys_init() places it),
 * and has no struct page: pfn_valid() is false there.  The first
 * SIM_RESERVED_PAGES frames are PG_reserved and never allocated, like the
 * low memory the kernel keeps (and so no allocated page has pfn 0, which
 * vfio_pin_pages_remote() uses as "no base yet").
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
	PGTY_shmem,		/* shmem page cache (sim/shmem.c): not anonymous */
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
 * __va() does: arithmetic only.  Behind it is one host reservation of the
 * whole simulated physical address space, made by phys_init(): RAM at its
 * start (read/write), then the gap above RAM and the MMIO window up to
 * mmio_end_pfn, the end of the last BAR mmio_alloc() can place, as
 * PROT_NONE, MAP_NORESERVE.  Nothing else can be mapped there, so the
 * direct-map address of any pfn that is not RAM — a BAR's MMIO pfn, a pfn
 * of the gap — is inaccessible host memory, as on x86 where the direct map
 * has nothing behind a BAR pfn (or uncached device memory nobody may read
 * as a table).  A load or store there faults; phys.c's SIGSEGV handler
 * turns the fault of a task body (sim_task_run()) into the simulated oops
 * of seeds/01 at the faulting instruction, with the task's locks held.
 * That is one rule for pinsim's page-table accessors (pgtable.h) and for
 * the plain `*pmd` of a kernel tree's code compiled in ktree/.
 *
 * direct_map_bytes: how far from ram_data the host MMU decides.  Addresses
 * beyond it — a pfn past the reservation (the PTE pfn field has 40 bits,
 * 4 PiB of physical space, more than any host can reserve), or every
 * non-RAM pfn when there is no reservation or no handler (valgrind cannot
 * reserve terabytes; ASan with handle_segv=2, or allow_user_segv_handler=0
 * where that flag still works, keeps SIGSEGV to itself) — are caught by
 * sim_check_direct_map() in the accessors, as before the reservation; a
 * plain dereference there is not caught.
 */
extern uint64_t ram_bytes;
extern uint64_t direct_map_bytes;
extern unsigned long mmio_end_pfn;	/* MMIO pfns are [mmio_base_pfn, this) */

/*
 * The function whose page-table access is in flight on this thread (set
 * by sim_check_direct_map(), cleared by sim_direct_map_done()), for the
 * fault handler: a signal cannot tell which C function faulted.  NULL
 * outside the accessors, e.g. during a plain `*pmd` of tree code.
 */
extern __sim_tls const char *volatile sim_direct_map_func;

static inline void *phys_to_virt(unsigned long pfn)
{
	return (void *)((uintptr_t)ram_data + ((uintptr_t)pfn << PAGE_SHIFT));
}

unsigned long virt_to_pfn(const void *addr);	/* inverse, RAM only */

_Noreturn void sim_illegal_access(const void *p, const char *func, bool write);

/*
 * Before an accessor's load or store at @p: only what the host MMU cannot
 * decide (see direct_map_bytes) is checked here; the rest is the load's own
 * business.  The signal fences keep the compiler from moving the access
 * out from between the name's store and its clearing.
 */
static inline void sim_check_direct_map(const void *p, const char *func, bool write)
{
	if (unlikely((uintptr_t)p - (uintptr_t)ram_data >= direct_map_bytes))
		sim_illegal_access(p, func, write);
	sim_direct_map_func = func;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static inline void sim_direct_map_done(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	sim_direct_map_func = NULL;
}

/*
 * Under ThreadSanitizer a release store or an exchange runs inside the
 * TSan runtime with its sync-object locks held (tsan_interface_atomic.cpp
 * AtomicStore()/AtomicRMW()): a fault there, left through the landing pad,
 * leaves them held, and the thread's next atomic hangs (seen with GCC 12's
 * libtsan).  So in TSan builds the accessors' writes of a non-RAM address
 * are refused by this explicit check instead, with the same record; their
 * loads fault before the runtime takes anything, and plain loads and
 * stores fault outside it, so those reach the handler in every build.
 */
#if defined(__SANITIZE_THREAD__)
#define SIM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIM_TSAN 1
#endif
#endif
#ifdef SIM_TSAN
#define SIM_DIRECT_MAP_WRITES_FAULT false
#else
#define SIM_DIRECT_MAP_WRITES_FAULT true
#endif

static inline void sim_check_direct_map_write(void *p, const char *func)
{
	if (!SIM_DIRECT_MAP_WRITES_FAULT &&
	    unlikely((uintptr_t)p - (uintptr_t)ram_data >= ram_bytes))
		sim_illegal_access(p, func, true);
	sim_check_direct_map(p, func, true);
}

/* Is the reservation in place and the fault handler installed? */
bool sim_direct_map_faults(void);
/* Direct-map faults turned into oopses in this process (tests). */
unsigned long sim_direct_map_fault_count(void);

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
