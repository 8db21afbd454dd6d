// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page-table pages, their locks, population and the PTE map-and-lock
 * helper (mm/memory.c __p*d_alloc, mm/pgtable-generic.c), and the end of a
 * table's life: the mmu_gather batch that frees unhooked tables after the
 * lockless walkers' grace period (mm/mmu_gather.c tlb_remove_table()), and
 * the pgd at mm teardown.  Which tables are unhooked when is
 * free_pgd_range()'s business (sim/memory.c).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "machine.h"
#include "mm.h"
#include "pgtable.h"
#include "sched_point.h"

pgd_t *pgd_offset(struct mm_struct *mm, unsigned long addr)
{
	return mm->pgd + pgd_index(addr);
}

spinlock_t *pud_lockptr(struct mm_struct *mm, pud_t *pud)
{
	return &mm->page_table_lock;
}

spinlock_t *pmd_lockptr(struct mm_struct *mm, pmd_t *pmd)
{
	return &pfn_to_page(virt_to_pfn(pmd))->ptl;
}

spinlock_t *pte_lockptr(struct mm_struct *mm, pmd_t pmdval)
{
	return &pfn_to_page(pmd_pfn(pmdval))->ptl;
}

struct page *pgtable_alloc(void)
{
	struct folio *folio = folio_alloc(0, PGTY_pgtable);

	if (!folio)
		return NULL;
	/* Entries are written through the direct map: zero it before reuse. */
	SetPageFlag(&folio->page, PG_data);
	spin_lock_init(&folio->page.ptl);
	return &folio->page;
}

static void pgtable_free(struct mm_struct *mm, struct page *page)
{
	spin_lock_init(&page->ptl);
	folio_put(page_folio(page));
	if (mm)
		atomic_fetch_sub_explicit(&mm->nr_ptes, 1, memory_order_relaxed);
}

/*
 * Populate an empty upper entry with a fresh table under @ptl.  If the
 * entry is no longer none (a table or a huge leaf raced in), ours is freed:
 * callers re-check what is there.
 */
static int populate(struct mm_struct *mm, void *entry, spinlock_t *ptl)
{
	struct page *new = pgtable_alloc();
	bool used = false;

	if (!new)
		return -ENOMEM;
	sched_point(SP_PTL, mm, 0);
	spin_lock(ptl);
	if (__entry_load(entry, __func__) == 0) {
		/* pmd_populate()/pud_populate(): the same table-entry format. */
		__entry_store(entry, pmd_val(pmd_mktable(page_to_pfn(new))), __func__);
		used = true;
	}
	spin_unlock(ptl);
	if (used)
		atomic_fetch_add_explicit(&mm->nr_ptes, 1, memory_order_relaxed);
	else
		pgtable_free(NULL, new);
	return 0;
}

int __pud_alloc(struct mm_struct *mm, p4d_t *p4d, unsigned long addr)
{
	return populate(mm, p4d, &mm->page_table_lock);
}

int __pmd_alloc(struct mm_struct *mm, pud_t *pud, unsigned long addr)
{
	return populate(mm, pud, pud_lockptr(mm, pud));
}

int __pte_alloc(struct mm_struct *mm, pmd_t *pmd)
{
	return populate(mm, pmd, pmd_lockptr(mm, pmd));
}

pud_t *pud_alloc(struct mm_struct *mm, p4d_t *p4d, unsigned long addr)
{
	if (p4d_none(p4dp_get(p4d)) && __pud_alloc(mm, p4d, addr))
		return NULL;
	return pud_offset(p4d, addr);
}

pmd_t *pmd_alloc(struct mm_struct *mm, pud_t *pud, unsigned long addr)
{
	if (pud_none(pudp_get(pud)) && __pmd_alloc(mm, pud, addr))
		return NULL;
	/* Like the kernel, only an address: callers check pud_trans_unstable. */
	return pmd_offset(pud, addr);
}

pte_t *pte_offset_map(pmd_t *pmd, unsigned long addr, pmd_t *pmdvalp)
{
	pmd_t pmdval = pmdp_get_lockless(pmd);

	if (pmdvalp)
		*pmdvalp = pmdval;
	/* __pte_offset_map(): no table behind none, bad or leaf entries. */
	if (!pmd_present(pmdval) || pmd_leaf(pmdval))
		return NULL;
	return (pte_t *)phys_to_virt(pmd_pfn(pmdval)) + pte_index(addr);
}

pte_t *pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmd, unsigned long addr,
			   spinlock_t **ptlp)
{
	spinlock_t *ptl;
	pmd_t pmdval;
	pte_t *pte;

again:
	pte = pte_offset_map(pmd, addr, &pmdval);
	if (unlikely(!pte))
		return NULL;
	ptl = pte_lockptr(mm, pmdval);
	sched_point(SP_PTL, mm, addr);
	spin_lock(ptl);
	/* The kernel's re-check: the PMD may have changed while we locked. */
	if (likely(pmd_same(pmdval, pmdp_get_lockless(pmd)))) {
		*ptlp = ptl;
		return pte;
	}
	pte_unmap_unlock(pte, ptl);
	goto again;
}

/* ---------------- freeing: the mmu_gather's table batch ---------------- */

void tlb_gather_mmu(struct mmu_gather *tlb, struct mm_struct *mm)
{
	tlb->mm = mm;
	tlb->batch = NULL;
	tlb->nr = 0;
}

/*
 * Free unhooked tables once the lockless walks that may have read them are
 * over.  A walk that never ends (its task oopsed inside one) would stall
 * the grace period for ever: the tables are leaked instead, as a stalled
 * RCU would keep them.
 */
static void free_unhooked(struct page **tables, unsigned int nr)
{
	if (!pgtable_lockless_sync())
		return;
	for (unsigned int i = 0; i < nr; i++)
		pgtable_free(NULL, tables[i]);
}

/* tlb_table_flush() -> tlb_remove_table_rcu(): the whole batch, then its page. */
static void tlb_table_flush(struct mmu_gather *tlb)
{
	uint64_t *pfns;
	bool ok;

	if (!tlb->batch)
		return;
	pfns = page_address(&tlb->batch->page);
	ok = pgtable_lockless_sync();
	for (unsigned int i = 0; ok && i < tlb->nr; i++)
		pgtable_free(NULL, pfn_to_page(pfns[i]));
	folio_put(tlb->batch);
	tlb->batch = NULL;
	tlb->nr = 0;
}

/*
 * The table is unhooked from its upper entry (and counted out of
 * mm->nr_ptes) by the caller.  No page for a batch (the kernel's
 * GFP_NOWAIT allocation failed): tlb_remove_table_one() waits for the
 * lockless walkers (tlb_remove_table_sync_one()) and frees it now.
 */
void tlb_remove_table(struct mmu_gather *tlb, struct page *table)
{
	if (!tlb->batch) {
		tlb->batch = folio_alloc(0, PGTY_kernel);
		if (!tlb->batch) {
			free_unhooked(&table, 1);
			return;
		}
		SetPageFlag(&tlb->batch->page, PG_data);	/* zeroed when freed */
		tlb->nr = 0;
	}
	((uint64_t *)page_address(&tlb->batch->page))[tlb->nr++] = page_to_pfn(table);
	if (tlb->nr == MAX_TABLE_BATCH)
		tlb_table_flush(tlb);
}

void tlb_finish_mmu(struct mmu_gather *tlb)
{
	tlb_table_flush(tlb);
}

/* ---------------- lockless walks and their grace period ---------------- */

/*
 * Two reader counts, the current one chosen by the parity of an epoch, as
 * in SRCU: a reader counts itself in the current slot and checks the epoch
 * did not move meanwhile; the freeing side flips the epoch after the tables
 * are unhooked and waits for the old slot to drain.  A reader counted in the
 * new slot began after the flip, so it cannot find the unhooked tables
 * (every access here is sequentially consistent); the old slot only drains.
 * Global, like RCU: the grace period is not per mm.
 */
static _Atomic unsigned long lockless_epoch;
static _Atomic long lockless_readers[2];
static pthread_mutex_t lockless_sync_lock = PTHREAD_MUTEX_INITIALIZER;

unsigned int pgtable_lockless_begin(void)
{
	for (;;) {
		unsigned int idx = atomic_load(&lockless_epoch) & 1;

		atomic_fetch_add(&lockless_readers[idx], 1);
		if ((atomic_load(&lockless_epoch) & 1) == idx)
			return idx;
		atomic_fetch_sub(&lockless_readers[idx], 1);
	}
}

void pgtable_lockless_end(unsigned int idx)
{
	atomic_fetch_sub_explicit(&lockless_readers[idx & 1], 1, memory_order_release);
}

#define LOCKLESS_STALL_NS (10ULL * 1000 * 1000 * 1000)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool pgtable_lockless_sync(void)
{
	uint64_t deadline = 0;
	unsigned int old;
	bool ok = true;

	pthread_mutex_lock(&lockless_sync_lock);
	old = atomic_fetch_add(&lockless_epoch, 1) & 1;
	while (atomic_load(&lockless_readers[old])) {
		/* Walks are short and never block: only a dead walker stays. */
		if (!deadline) {
			deadline = now_ns() + LOCKLESS_STALL_NS;
		} else if (now_ns() > deadline) {
			__sim_warn(__FILE__, __LINE__, __func__,
				   "lockless page-table walk stalled the grace period");
			ok = false;
			break;
		}
		sched_yield();
	}
	pthread_mutex_unlock(&lockless_sync_lock);
	return ok;
}

/* ---------------- use after free ---------------- */

/* Free for the allocator: neither an allocated frame nor part of a large folio. */
bool sim_frame_is_free(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	if (page->type != PGTY_free)
		return false;
	return folio_type(page_folio(page)) == PGTY_free;
}

_Noreturn void sim_pgtable_use_after_free(const void *p, const char *func, bool write)
{
	unsigned long pfn = virt_to_pfn(p);

	sim_oops(func, (uint64_t)pfn << PAGE_SHIFT,
		 "BUG: KASAN: use-after-free: %s of freed page-table page pfn %#lx",
		 write ? "write" : "read", pfn);
}

/* ---------------- the mm's last table ---------------- */

static void free_table_tree(struct mm_struct *mm, void *table, int level);

/* Entries of a table at @level (3 PUD, 2 PMD, 1 PTE) that point at tables. */
static void free_table_children(struct mm_struct *mm, uint64_t *table, int level)
{
	if (level == 1)
		return;
	for (int i = 0; i < 512; i++) {
		uint64_t e = __entry_load(&table[i], __func__);

		if ((e & _PAGE_PRESENT) && !(e & _PAGE_PSE))
			free_table_tree(mm, phys_to_virt((e & PTE_PFN_MASK) >> PAGE_SHIFT),
					level - 1);
	}
}

static void free_table_tree(struct mm_struct *mm, void *table, int level)
{
	free_table_children(mm, table, level);
	pgtable_free(mm, pfn_to_page(virt_to_pfn(table)));
}

void mm_free_pgd(struct mm_struct *mm)
{
	for (int i = 0; i < PTRS_PER_PGD; i++) {
		pgd_t e = pgdp_get(&mm->pgd[i]);

		if (pgd_present(e))
			free_table_tree(mm, phys_to_virt(pgd_pfn(e)), 3);
	}
	pgtable_free(mm, pfn_to_page(virt_to_pfn(mm->pgd)));
	mm->pgd = NULL;
}

/*
 * Lockless, from snapshots: never re-reads an upper entry it checked.  The
 * walk runs inside a lockless section, so a table unhooked meanwhile by
 * munmap is not freed until it is done (see the top of pgtable.h).
 */
static enum pgtable_level __pgtable_lookup(struct mm_struct *mm, unsigned long addr,
					   unsigned long *pfn, uint64_t *entry)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;
	pte_t *ptep, pte;

	if (!pgd_present(pgdp_get(pgd)))
		return PGTABLE_NONE;
	pudp = pud_offset(p4d_offset(pgd, addr), addr);
	pud = pudp_get(pudp);
	if (!pud_present(pud))
		return PGTABLE_NONE;
	if (pud_leaf(pud)) {
		if (pfn)
			*pfn = pud_pfn(pud) + ((addr & ~PUD_MASK) >> PAGE_SHIFT);
		if (entry)
			*entry = pud_val(pud);
		return PGTABLE_PUD;
	}
	pmdp = pmd_offset_lockless(pud, addr);
	pmd = pmdp_get(pmdp);
	if (!pmd_present(pmd))
		return PGTABLE_NONE;
	if (pmd_leaf(pmd)) {
		if (pfn)
			*pfn = pmd_pfn(pmd) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
		if (entry)
			*entry = pmd_val(pmd);
		return PGTABLE_PMD;
	}
	ptep = pte_offset_lockless(pmd, addr);
	pte = ptep_get(ptep);
	if (!pte_present(pte))
		return PGTABLE_NONE;
	if (pfn)
		*pfn = pte_pfn(pte);
	if (entry)
		*entry = pte_val(pte);
	return PGTABLE_PTE;
}

enum pgtable_level pgtable_lookup(struct mm_struct *mm, unsigned long addr,
				  unsigned long *pfn, uint64_t *entry)
{
	unsigned int idx = pgtable_lockless_begin();
	enum pgtable_level lvl = __pgtable_lookup(mm, addr, pfn, entry);

	pgtable_lockless_end(idx);
	return lvl;
}
