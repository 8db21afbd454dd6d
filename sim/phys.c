// SPDX-License-Identifier: GPL-2.0-only
/*
 * Simulated physical memory: mem_map, the page allocator, folio release and
 * the direct map (see page.h for the layout).
 *
 * The allocator is a bump pointer plus one free list per order (0, 9, 18).
 * It touches a struct page only when that frame is handed out or freed, so
 * a 1 TiB machine starts in microseconds with nothing resident.
 * Simplification: freed blocks are not coalesced (the buddy allocator's
 * merging is not what pinsim studies); a request that finds its own list
 * empty and the bump pointer exhausted splits a block of the next larger
 * order.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "machine.h"
#include "mm.h"
#include "page.h"

struct page *mem_map;
unsigned long max_pfn;
unsigned long mmio_base_pfn;
unsigned char *ram_data;
uint64_t ram_bytes;

static bool order_supported(unsigned int order)
{
	return order == 0 || order == PMD_ORDER || order == PUD_ORDER;
}

static void free_list_push(unsigned int order, unsigned long pfn)
{
	struct page *p = pfn_to_page(pfn);

	p->next_free = machine->free_list[order];
	machine->free_list[order] = (uint32_t)pfn;
}

static unsigned long free_list_pop(unsigned int order)
{
	unsigned long pfn = machine->free_list[order];

	if (pfn)
		machine->free_list[order] = pfn_to_page(pfn)->next_free;
	return pfn;
}

/* Hand the frames [start, end) to the free lists in aligned blocks. */
static void free_range_to_lists(unsigned long start, unsigned long end)
{
	while (start < end) {
		unsigned int order = 0;

		if (!(start & (HPAGE_PMD_NR - 1)) && start + HPAGE_PMD_NR <= end)
			order = PMD_ORDER;
		free_list_push(order, start);
		start += 1UL << order;
	}
}

/* Split a free block of a larger order; returns a block of @order or 0. */
static unsigned long split_larger(unsigned int order)
{
	unsigned int big = order == 0 ? PMD_ORDER : PUD_ORDER;
	unsigned long pfn;

	if (order == PUD_ORDER)
		return 0;
	pfn = free_list_pop(big);
	if (!pfn && big == PMD_ORDER) {
		pfn = split_larger(PMD_ORDER);
	}
	if (!pfn)
		return 0;
	for (unsigned long p = pfn + (1UL << order); p < pfn + (1UL << big); p += 1UL << order)
		free_list_push(order, p);
	return pfn;
}

static unsigned long alloc_pfn_locked(unsigned int order)
{
	unsigned long nr = 1UL << order, pfn, aligned;

	pfn = free_list_pop(order);
	if (pfn)
		return pfn;
	aligned = (machine->bump_pfn + nr - 1) & ~(nr - 1);
	if (aligned + nr <= max_pfn) {
		free_range_to_lists(machine->bump_pfn, aligned);
		machine->bump_pfn = aligned + nr;
		return aligned;
	}
	return split_larger(order);
}

struct folio *folio_alloc(unsigned int order, enum page_type type)
{
	struct page *head;
	unsigned long pfn;

	if (WARN_ON(!order_supported(order)))
		return NULL;
	pthread_mutex_lock(&machine->alloc_lock);
	pfn = alloc_pfn_locked(order);
	pthread_mutex_unlock(&machine->alloc_lock);
	if (!pfn)
		return NULL;
	atomic_fetch_add_explicit(&machine->nr_allocated, 1UL << order, memory_order_relaxed);
	head = pfn_to_page(pfn);
	atomic_store_explicit(&head->_refcount, 1, memory_order_relaxed);
	atomic_store_explicit(&head->_pincount, 0, memory_order_relaxed);
	head->order = order;
	head->type = type;
	head->next_free = 0;
	atomic_store_explicit(&head->flags, order ? PG_head : 0, memory_order_release);
	return (struct folio *)head;
}

/* Give the host bytes back (they read as zero afterwards). */
static void clear_folio_data(struct folio *folio)
{
	size_t len = PAGE_SIZE << folio_order(folio);
	void *addr = page_address(&folio->page);

	if (!(page_flags(&folio->page) & PG_data))
		return;
	if (len == PAGE_SIZE)
		memset(addr, 0, len);
	else
		madvise(addr, len, MADV_DONTNEED);
}

void free_folio(struct folio *folio)
{
	unsigned int order = folio_order(folio);
	struct page *head = &folio->page;

	WARN_ON(folio_ref_count(folio) != 0);
	WARN_ON(folio_pincount(folio) != 0);
	clear_folio_data(folio);
	head->type = PGTY_free;
	head->order = 0;
	atomic_store_explicit(&head->flags, 0, memory_order_relaxed);
	atomic_fetch_sub_explicit(&machine->nr_allocated, 1UL << order, memory_order_relaxed);
	pthread_mutex_lock(&machine->alloc_lock);
	free_list_push(order, page_to_pfn(head));
	pthread_mutex_unlock(&machine->alloc_lock);
}

void folio_put_refs(struct folio *folio, int refs)
{
	int old = atomic_fetch_sub_explicit(&folio->page._refcount, refs, memory_order_acq_rel);

	if (WARN_ON(old < refs))
		return;
	if (old != refs)
		return;
	if (folio->page.type == PGTY_hugetlb)
		free_huge_folio(folio);
	else
		free_folio(folio);
}

enum page_type folio_type(const struct folio *folio)
{
	return folio->page.type;
}

unsigned long nr_allocated_pages(void)
{
	return atomic_load_explicit(&machine->nr_allocated, memory_order_relaxed);
}

unsigned long nr_free_pages(void)
{
	return max_pfn - SIM_RESERVED_PAGES - nr_allocated_pages();
}

_Noreturn void sim_illegal_access(const void *p, const char *func, bool write)
{
	unsigned long pfn = ((uintptr_t)p - (uintptr_t)ram_data) >> PAGE_SHIFT;

	/*
	 * x86 takes a #PF on a direct-map address with nothing behind it (or
	 * reads device memory through a bogus mapping): an oops of the task.
	 */
	sim_oops(func, (uint64_t)pfn << PAGE_SHIFT,
		 "BUG: unable to handle page fault: illegal %s of %s pfn %#lx as memory",
		 write ? "write" : "read", pfn >= mmio_base_pfn ? "MMIO" : "non-RAM", pfn);
}

unsigned long virt_to_pfn(const void *addr)
{
	return (unsigned long)((const unsigned char *)addr - ram_data) >> PAGE_SHIFT;
}

/* ---- machine-level setup of this file's globals (called by machine.c) ---- */

int phys_init(struct machine *m)
{
	unsigned long nr = m->cfg.ram_bytes >> PAGE_SHIFT;

	m->memmap_bytes = nr * sizeof(struct page);
	m->data_bytes = m->cfg.ram_bytes;
	mem_map = mmap(NULL, m->memmap_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem_map == MAP_FAILED)
		goto err;
	ram_data = mmap(NULL, m->data_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram_data == MAP_FAILED) {
		munmap(mem_map, m->memmap_bytes);
		goto err;
	}
	max_pfn = nr;
	ram_bytes = m->data_bytes;
	for (unsigned long pfn = 0; pfn < SIM_RESERVED_PAGES; pfn++) {
		struct page *p = pfn_to_page(pfn);

		atomic_store(&p->_refcount, 1);
		atomic_store(&p->flags, PG_reserved);
		p->type = PGTY_reserved;
	}
	m->bump_pfn = SIM_RESERVED_PAGES;
	return 0;
err:
	mem_map = NULL;
	ram_data = NULL;
	return -ENOMEM;
}

void phys_exit(struct machine *m)
{
	if (mem_map)
		munmap(mem_map, m->memmap_bytes);
	if (ram_data)
		munmap(ram_data, m->data_bytes);
	mem_map = NULL;
	ram_data = NULL;
	max_pfn = 0;
	ram_bytes = 0;
}
