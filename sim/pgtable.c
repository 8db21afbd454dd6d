// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page-table pages, their locks, population and the PTE map-and-lock
 * helper (mm/memory.c __p*d_alloc, mm/pgtable-generic.c).
 */
#include <errno.h>

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

static void free_pmd_table(struct mm_struct *mm, pmd_t *pmd)
{
	for (int i = 0; i < PTRS_PER_PMD; i++) {
		pmd_t e = pmdp_get(&pmd[i]);

		if (pmd_present(e) && !pmd_leaf(e))
			pgtable_free(mm, pfn_to_page(pmd_pfn(e)));
	}
	pgtable_free(mm, pfn_to_page(virt_to_pfn(pmd)));
}

static void free_pud_table(struct mm_struct *mm, pud_t *pud)
{
	for (int i = 0; i < PTRS_PER_PUD; i++) {
		pud_t e = pudp_get(&pud[i]);

		if (pud_present(e) && !pud_leaf(e))
			free_pmd_table(mm, phys_to_virt(pud_pfn(e)));
	}
	pgtable_free(mm, pfn_to_page(virt_to_pfn(pud)));
}

/*
 * free_pgtables() at exit: the leaves were zapped by the caller, so only
 * table pages remain.
 */
void free_pgtables(struct mm_struct *mm)
{
	for (int i = 0; i < PTRS_PER_PGD; i++) {
		pgd_t e = pgdp_get(&mm->pgd[i]);

		if (pgd_present(e))
			free_pud_table(mm, phys_to_virt(pgd_pfn(e)));
	}
	pgtable_free(mm, pfn_to_page(virt_to_pfn(mm->pgd)));
	mm->pgd = NULL;
}

/* Lockless, from snapshots: never re-reads an upper entry it checked. */
enum pgtable_level pgtable_lookup(struct mm_struct *mm, unsigned long addr,
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
