/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * x86-64 4-level page tables with the p4d level folded (sim/pgtable.c).
 *
 * Entries are 64-bit words in page-table pages, which are RAM frames of type
 * PGTY_pgtable reached through phys_to_virt() — so descending into a leaf
 * as if it were a table resolves the leaf's pfn as memory, and for a BAR
 * leaf that is the illegal read of seeds/01.
 *
 * Lockless readers use acquire loads (READ_ONCE: pudp_get(), pmdp_get_lockless(),
 * ptep_get()); writers hold the page-table lock of the level and use release
 * stores.  The GCC __atomic builtins are C11 atomics on plain words, as the
 * kernel's READ_ONCE/WRITE_ONCE are on plain pte_t, and TSan understands them.
 *
 * Locks: PTE level — the split lock of the PTE table's page; PMD level — the
 * split lock of the PMD table's page; PUD level — mm->page_table_lock.
 *
 * Freeing tables.  As in the kernel, munmap and exit free the tables of the
 * range they unmap: vms_clear_ptes()/unmap_region()/exit_mmap() ->
 * free_pgtables() -> free_pgd_range() (mm/vma.c, mm/mmap.c, mm/memory.c in
 * 6.12.118; sim/memory.c here), within the floor and ceiling of the
 * neighbouring VMAs, so a table that a live VMA still spans always stays.
 * Keeping them instead is not harmless: a PMD table left where a 2M/1G
 * hugetlb, THP or BAR leaf belongs makes the huge fault fail or fall back to
 * 4K (differential finding D2).  Who may read a table, and what keeps it
 * from being freed under them:
 *  - mmap_lock (read): page faults (pte_offset_map() in handle_pte_fault()
 *    included), GUP, follow_pfnmap_start(), the numa_maps and generic
 *    walkers with a VMA, the injector's refault and split, pinsim_access()'s
 *    translation; walk_page_range_debug() (pte_offset_map() without a VMA)
 *    holds it for write.  free_pgtables() runs under the
 *    mmap write lock (pinsim keeps it for the whole munmap; 6.12's munmap(2)
 *    downgrades it to read first, which is safe there because the VMAs are
 *    detached before and neighbours' tables are never freed);
 *  - i_mmap_rwsem (read): unmap_mapping_range() (vfio-pci's BAR zap), with
 *    no mmap_lock at all.  free_pgtables() unlinks each VMA from its file's
 *    i_mmap under i_mmap_lock_write() before it frees that VMA's tables
 *    (unlink_file_vma_batch_*() in the kernel), so a zap either finished
 *    with the VMA or never finds it; the VMAs it does find are live, and
 *    their tables are outside every [floor, ceiling) being freed;
 *  - no lock: pgtable_lookup() (pinsim_pagemap() calls it bare).  The
 *    kernel's lockless readers (GUP-fast, pte_offset_map() users) rely on
 *    tables being freed after an RCU grace period (tlb_remove_table(),
 *    pte_free_defer()); here pgtable_lookup() runs inside
 *    pgtable_lockless_begin()/end() and tlb_finish_mmu() waits for every
 *    such reader that could have seen an unhooked table before it frees
 *    one.  Nothing else walks user tables without one of the locks above.
 * A read or write of a freed table through these accessors oopses
 * (sim_pgtable_use_after_free()), unless the frame was reused meanwhile.
 */
#ifndef SIM_PGTABLE_H
#define SIM_PGTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "page.h"

struct mm_struct;

#define PMD_SHIFT 21
#define PUD_SHIFT 30
#define PGDIR_SHIFT 39
#define PTRS_PER_PTE 512
#define PTRS_PER_PMD 512
#define PTRS_PER_PUD 512
#define PTRS_PER_PGD 512
#define PMD_SIZE (1UL << PMD_SHIFT)
#define PMD_MASK (~(PMD_SIZE - 1))
#define PUD_SIZE (1UL << PUD_SHIFT)
#define PUD_MASK (~(PUD_SIZE - 1))
#define PGDIR_SIZE (1UL << PGDIR_SHIFT)
#define PGDIR_MASK (~(PGDIR_SIZE - 1))
#define TASK_SIZE (1UL << 47)		/* user address space, 128 TiB */

/* x86 bit positions (arch/x86/include/asm/pgtable_types.h) */
#define _PAGE_PRESENT (1ULL << 0)
#define _PAGE_RW (1ULL << 1)
#define _PAGE_USER (1ULL << 2)
#define _PAGE_PCD (1ULL << 4)		/* uncached: BAR mappings */
#define _PAGE_ACCESSED (1ULL << 5)
#define _PAGE_DIRTY (1ULL << 6)
#define _PAGE_PSE (1ULL << 7)		/* leaf at PMD/PUD level */
#define _PAGE_SPECIAL (1ULL << 9)	/* _PAGE_BIT_SOFTW1 */
#define _PAGE_NX (1ULL << 63)
#define PTE_PFN_MASK 0x000ffffffffff000ULL
#define _PAGE_TABLE (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED)

typedef struct { uint64_t pgprot; } pgprot_t;
typedef struct { uint64_t pte; } pte_t;
typedef struct { uint64_t pmd; } pmd_t;
typedef struct { uint64_t pud; } pud_t;
typedef struct { uint64_t pgd; } pgd_t;
typedef pgd_t p4d_t;			/* folded */

#define __pgprot(x) ((pgprot_t){ (x) })
#define pgprot_val(p) ((p).pgprot)
#define __pte(x) ((pte_t){ (x) })
#define __pmd(x) ((pmd_t){ (x) })
#define __pud(x) ((pud_t){ (x) })
#define __pgd(x) ((pgd_t){ (x) })
#define pte_val(x) ((x).pte)
#define pmd_val(x) ((x).pmd)
#define pud_val(x) ((x).pud)
#define pgd_val(x) ((x).pgd)

#define PAGE_NONE __pgprot(_PAGE_ACCESSED)
#define PAGE_READONLY __pgprot(_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED)
#define PAGE_SHARED __pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED)

_Noreturn void sim_pgtable_use_after_free(const void *p, const char *func, bool write);
/* Free for the allocator: neither allocated nor part of a large folio. */
bool sim_frame_is_free(unsigned long pfn);

/*
 * ---- READ_ONCE / WRITE_ONCE of entries ----
 * Every access goes through the direct map, and the direct map decides:
 * reading a "table" that is really a BAR leaf's MMIO pfn faults on the
 * host, and the fault is the oops of the task, recorded in the function
 * that did it (the caller's name, which sim_check_direct_map() leaves for
 * the fault handler; see page.h).  And an entry lives in an allocated
 * frame: a RAM frame whose own type says free is checked further (a tail
 * page of a large folio carries no type of its own), and reading or
 * writing a freed page-table page is a use-after-free, which KASAN would
 * report in the kernel; here it oopses the task.
 */
static inline void sim_check_table_live(const void *p, const char *fn, bool write)
{
	unsigned long pfn = ((uintptr_t)p - (uintptr_t)ram_data) >> PAGE_SHIFT;

	/* Only RAM has a struct page; anything else is the direct map's case. */
	if (pfn_valid(pfn) && unlikely(pfn_to_page(pfn)->type == PGTY_free) &&
	    sim_frame_is_free(pfn))
		sim_pgtable_use_after_free(p, fn, write);
}

static inline uint64_t __entry_load(const void *p, const char *fn)
{
	uint64_t v;

	sim_check_table_live(p, fn, false);
	sim_check_direct_map(p, fn, false);
	v = __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
	sim_direct_map_done();
	return v;
}
static inline void __entry_store(void *p, uint64_t v, const char *fn)
{
	sim_check_table_live(p, fn, true);
	sim_check_direct_map_write(p, fn);
	__atomic_store_n((uint64_t *)p, v, __ATOMIC_RELEASE);
	sim_direct_map_done();
}
static inline uint64_t __entry_xchg(void *p, uint64_t v, const char *fn)
{
	uint64_t old;

	sim_check_table_live(p, fn, true);
	sim_check_direct_map_write(p, fn);
	old = __atomic_exchange_n((uint64_t *)p, v, __ATOMIC_ACQ_REL);
	sim_direct_map_done();
	return old;
}

#define ptep_get(p) __pte(__entry_load((p), __func__))
#define pmdp_get(p) __pmd(__entry_load((p), __func__))
#define pmdp_get_lockless(p) pmdp_get(p)
#define pudp_get(p) __pud(__entry_load((p), __func__))
#define pgdp_get(p) __pgd(__entry_load((p), __func__))
#define p4dp_get(p) pgdp_get(p)
#define set_pte(p, v) __entry_store((p), pte_val(v), __func__)
#define set_pmd(p, v) __entry_store((p), pmd_val(v), __func__)
#define set_pud(p, v) __entry_store((p), pud_val(v), __func__)
#define set_pgd(p, v) __entry_store((p), pgd_val(v), __func__)
/* Statement expressions: callers may ignore the old value. */
#define ptep_get_and_clear(p) ({ pte_t __o = __pte(__entry_xchg((p), 0, __func__)); __o; })
#define pmdp_huge_get_and_clear(p) ({ pmd_t __o = __pmd(__entry_xchg((p), 0, __func__)); __o; })
#define pudp_huge_get_and_clear(p) ({ pud_t __o = __pud(__entry_xchg((p), 0, __func__)); __o; })

/* ---- entry predicates: one set per level, the kernel's vocabulary ---- */
#define __DEFINE_LEVEL(lvl, T, VAL)                                                   \
	static inline bool lvl##_none(T e) { return VAL(e) == 0; }                    \
	static inline bool lvl##_present(T e) { return VAL(e) & _PAGE_PRESENT; }      \
	static inline bool lvl##_write(T e) { return VAL(e) & _PAGE_RW; }             \
	static inline bool lvl##_dirty(T e) { return VAL(e) & _PAGE_DIRTY; }          \
	static inline bool lvl##_young(T e) { return VAL(e) & _PAGE_ACCESSED; }       \
	static inline bool lvl##_special(T e) { return VAL(e) & _PAGE_SPECIAL; }      \
	static inline unsigned long lvl##_pfn(T e)                                    \
	{                                                                             \
		return (VAL(e) & PTE_PFN_MASK) >> PAGE_SHIFT;                         \
	}                                                                             \
	static inline pgprot_t lvl##_pgprot(T e)                                      \
	{                                                                             \
		return __pgprot(VAL(e) & ~PTE_PFN_MASK);                              \
	}
__DEFINE_LEVEL(pte, pte_t, pte_val)
__DEFINE_LEVEL(pmd, pmd_t, pmd_val)
__DEFINE_LEVEL(pud, pud_t, pud_val)
#undef __DEFINE_LEVEL

static inline bool pgd_none(pgd_t e) { return pgd_val(e) == 0; }
static inline bool pgd_present(pgd_t e) { return pgd_val(e) & _PAGE_PRESENT; }
static inline bool pgd_bad(pgd_t e) { return !pgd_none(e) && !pgd_present(e); }
static inline unsigned long pgd_pfn(pgd_t e) { return (pgd_val(e) & PTE_PFN_MASK) >> PAGE_SHIFT; }
#define p4d_none pgd_none
#define p4d_bad pgd_bad
#define p4d_present pgd_present

/* A leaf at PMD/PUD level (_PAGE_PSE), whatever maps it. */
static inline bool pmd_leaf(pmd_t e) { return pmd_present(e) && (pmd_val(e) & _PAGE_PSE); }
static inline bool pud_leaf(pud_t e) { return pud_present(e) && (pud_val(e) & _PAGE_PSE); }
/* THP/huge-pfnmap entries: in this model every PMD/PUD leaf is "trans huge". */
static inline bool pmd_trans_huge(pmd_t e) { return pmd_leaf(e); }
static inline bool pud_trans_huge(pud_t e) { return pud_leaf(e); }
static inline bool pmd_bad(pmd_t e) { return !pmd_none(e) && !pmd_present(e); }
static inline bool pud_bad(pud_t e) { return !pud_none(e) && !pud_present(e); }
static inline bool pmd_same(pmd_t a, pmd_t b) { return pmd_val(a) == pmd_val(b); }
static inline bool pud_same(pud_t a, pud_t b) { return pud_val(a) == pud_val(b); }
static inline bool pte_same(pte_t a, pte_t b) { return pte_val(a) == pte_val(b); }

/* ---- constructors ---- */
static inline pte_t pfn_pte(unsigned long pfn, pgprot_t prot)
{
	return __pte(((uint64_t)pfn << PAGE_SHIFT) | pgprot_val(prot));
}
static inline pmd_t pfn_pmd(unsigned long pfn, pgprot_t prot)
{
	return __pmd(((uint64_t)pfn << PAGE_SHIFT) | pgprot_val(prot));
}
static inline pud_t pfn_pud(unsigned long pfn, pgprot_t prot)
{
	return __pud(((uint64_t)pfn << PAGE_SHIFT) | pgprot_val(prot));
}
static inline pmd_t pmd_mkhuge(pmd_t e) { return __pmd(pmd_val(e) | _PAGE_PSE); }
static inline pud_t pud_mkhuge(pud_t e) { return __pud(pud_val(e) | _PAGE_PSE); }
static inline pte_t pte_mkspecial(pte_t e) { return __pte(pte_val(e) | _PAGE_SPECIAL); }
static inline pmd_t pmd_mkspecial(pmd_t e) { return __pmd(pmd_val(e) | _PAGE_SPECIAL); }
static inline pud_t pud_mkspecial(pud_t e) { return __pud(pud_val(e) | _PAGE_SPECIAL); }
static inline pte_t pte_mkwrite(pte_t e) { return __pte(pte_val(e) | _PAGE_RW); }
static inline pmd_t pmd_mkwrite(pmd_t e) { return __pmd(pmd_val(e) | _PAGE_RW); }
static inline pud_t pud_mkwrite(pud_t e) { return __pud(pud_val(e) | _PAGE_RW); }
static inline pte_t pte_mkyoung(pte_t e) { return __pte(pte_val(e) | _PAGE_ACCESSED); }
static inline pmd_t pmd_mkyoung(pmd_t e) { return __pmd(pmd_val(e) | _PAGE_ACCESSED); }
static inline pud_t pud_mkyoung(pud_t e) { return __pud(pud_val(e) | _PAGE_ACCESSED); }
static inline pte_t pte_mkdirty(pte_t e) { return __pte(pte_val(e) | _PAGE_DIRTY); }
static inline pmd_t pmd_mkdirty(pmd_t e) { return __pmd(pmd_val(e) | _PAGE_DIRTY); }
static inline pud_t pud_mkdirty(pud_t e) { return __pud(pud_val(e) | _PAGE_DIRTY); }
/* A table entry pointing at a lower-level table page. */
static inline pud_t pud_mktable(unsigned long table_pfn)
{
	return __pud(((uint64_t)table_pfn << PAGE_SHIFT) | _PAGE_TABLE);
}
static inline pmd_t pmd_mktable(unsigned long table_pfn)
{
	return __pmd(((uint64_t)table_pfn << PAGE_SHIFT) | _PAGE_TABLE);
}
static inline pgd_t pgd_mktable(unsigned long table_pfn)
{
	return __pgd(((uint64_t)table_pfn << PAGE_SHIFT) | _PAGE_TABLE);
}

/* ---- indices and offsets ---- */
static inline unsigned long pgd_index(unsigned long a) { return (a >> PGDIR_SHIFT) & (PTRS_PER_PGD - 1); }
static inline unsigned long pud_index(unsigned long a) { return (a >> PUD_SHIFT) & (PTRS_PER_PUD - 1); }
static inline unsigned long pmd_index(unsigned long a) { return (a >> PMD_SHIFT) & (PTRS_PER_PMD - 1); }
static inline unsigned long pte_index(unsigned long a) { return (a >> PAGE_SHIFT) & (PTRS_PER_PTE - 1); }

pgd_t *pgd_offset(struct mm_struct *mm, unsigned long addr);
static inline p4d_t *p4d_offset(pgd_t *pgd, unsigned long addr)
{
	(void)addr;
	return pgd;			/* folded */
}
/*
 * The next level is found through the direct map, from the pfn in the upper
 * entry, exactly like the kernel: on a leaf entry that pfn is the mapped
 * memory, and for an MMIO leaf the first read through the result oopses.
 */
static inline pud_t *pud_offset(p4d_t *p4d, unsigned long addr)
{
	return (pud_t *)phys_to_virt(pgd_pfn(p4dp_get(p4d))) + pud_index(addr);
}
static inline pmd_t *pmd_offset(pud_t *pud, unsigned long addr)
{
	return (pmd_t *)phys_to_virt(pud_pfn(pudp_get(pud))) + pmd_index(addr);
}
/* GUP-fast style: from a snapshot of the upper entry, no re-read. */
static inline pmd_t *pmd_offset_lockless(pud_t pud, unsigned long addr)
{
	return (pmd_t *)phys_to_virt(pud_pfn(pud)) + pmd_index(addr);
}
static inline pte_t *pte_offset_lockless(pmd_t pmd, unsigned long addr)
{
	return (pte_t *)phys_to_virt(pmd_pfn(pmd)) + pte_index(addr);
}
static inline pte_t *pte_offset_kernel(pmd_t *pmd, unsigned long addr)
{
	return (pte_t *)phys_to_virt(pmd_pfn(pmdp_get(pmd))) + pte_index(addr);
}

static inline unsigned long pgd_addr_end(unsigned long a, unsigned long end)
{
	unsigned long b = (a + PGDIR_SIZE) & PGDIR_MASK;
	return (b - 1 < end - 1) ? b : end;
}
static inline unsigned long pud_addr_end(unsigned long a, unsigned long end)
{
	unsigned long b = (a + PUD_SIZE) & PUD_MASK;
	return (b - 1 < end - 1) ? b : end;
}
static inline unsigned long pmd_addr_end(unsigned long a, unsigned long end)
{
	unsigned long b = (a + PMD_SIZE) & PMD_MASK;
	return (b - 1 < end - 1) ? b : end;
}

/* ---- page-table locks ---- */
spinlock_t *pud_lockptr(struct mm_struct *mm, pud_t *pud);	/* page_table_lock */
spinlock_t *pmd_lockptr(struct mm_struct *mm, pmd_t *pmd);	/* PMD table's ptl */
spinlock_t *pte_lockptr(struct mm_struct *mm, pmd_t pmdval);	/* PTE table's ptl */
static inline spinlock_t *pud_lock(struct mm_struct *mm, pud_t *pud)
{
	spinlock_t *ptl = pud_lockptr(mm, pud);
	spin_lock(ptl);
	return ptl;
}
static inline spinlock_t *pmd_lock(struct mm_struct *mm, pmd_t *pmd)
{
	spinlock_t *ptl = pmd_lockptr(mm, pmd);
	spin_lock(ptl);
	return ptl;
}

/*
 * __pte_offset_map_lock() (mm/pgtable-generic.c): read the PMD locklessly;
 * none, a leaf, or bad → NULL; otherwise lock the PTE table and re-check
 * that the PMD still points at it, retrying from the read if it changed.
 * Returns the mapped PTE with *ptlp held, or NULL with nothing held.
 */
pte_t *pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmd, unsigned long addr,
			   spinlock_t **ptlp);
/* Lockless map (no_vma walks, GUP-fast-like readers); NULL if no table. */
pte_t *pte_offset_map(pmd_t *pmd, unsigned long addr, pmd_t *pmdvalp);
static inline void pte_unmap(pte_t *pte) { (void)pte; }
static inline void pte_unmap_unlock(pte_t *pte, spinlock_t *ptl)
{
	(void)pte;
	spin_unlock(ptl);
}

/*
 * Allocation of lower tables, populating under the upper level's lock
 * (__pud_alloc/__pmd_alloc/__pte_alloc).  Return 0 or -ENOMEM.  When an
 * entry is already present (a table or a leaf that raced in), nothing is
 * allocated and 0 is returned: callers re-check.
 */
int __pud_alloc(struct mm_struct *mm, p4d_t *p4d, unsigned long addr);
int __pmd_alloc(struct mm_struct *mm, pud_t *pud, unsigned long addr);
int __pte_alloc(struct mm_struct *mm, pmd_t *pmd);
/* pud_alloc()/pmd_alloc(): NULL on -ENOMEM. */
pud_t *pud_alloc(struct mm_struct *mm, p4d_t *p4d, unsigned long addr);
pmd_t *pmd_alloc(struct mm_struct *mm, pud_t *pud, unsigned long addr);

/* A zeroed page-table page (PGTY_pgtable, ptl initialised); NULL on OOM. */
struct page *pgtable_alloc(void);
/*
 * mm_free_pgd() (kernel/fork.c __mmdrop() -> pgd_free()): the mm is going,
 * free its pgd.  After exit_mmap() only the pgd is left; tables below it
 * that no VMA ever covered (a test building tables by hand, init_mm's
 * kernel tables) are freed on the way.
 */
void mm_free_pgd(struct mm_struct *mm);

/*
 * The part of struct mmu_gather (include/asm-generic/tlb.h) that tables
 * need: tables unhooked by free_pgd_range() wait in a batch — a page of
 * table pfns, as the kernel's struct mmu_table_batch is a page of table
 * pointers — and are freed when it is full or at tlb_finish_mmu(), once no
 * lockless reader can still be looking at them (tlb_remove_table(),
 * tlb_table_flush(), tlb_remove_table_rcu()).  When no page can be had for
 * the batch, each table is freed at once after the wait
 * (tlb_remove_table_one()).  No TLB is simulated: nothing else to gather.
 */
struct mmu_gather {
	struct mm_struct *mm;
	struct folio *batch;		/* NULL until the first table */
	unsigned int nr;
};
#define MAX_TABLE_BATCH (PAGE_SIZE / sizeof(uint64_t))
void tlb_gather_mmu(struct mmu_gather *tlb, struct mm_struct *mm);
/* pte_free_tlb()/pmd_free_tlb()/pud_free_tlb(): @table is no longer reachable. */
void tlb_remove_table(struct mmu_gather *tlb, struct page *table);
void tlb_finish_mmu(struct mmu_gather *tlb);

/*
 * A lockless walk of user tables (pgtable_lookup()): between begin and end
 * no table the walk can reach is freed.  Freeing waits for the walks that
 * began before the table was unhooked (the kernel's RCU grace period for
 * tlb_remove_table()/pte_free_defer(), or the IPI GUP-fast's disabled
 * interrupts hold off).  Neither side sleeps or takes a lock inside.
 */
unsigned int pgtable_lockless_begin(void);
void pgtable_lockless_end(unsigned int idx);
/* Wait for the walks above; false (WARNed) if one never ends: leak instead. */
bool pgtable_lockless_sync(void);

/* Level of the leaf mapping @addr, for tests and pagemap-like queries. */
enum pgtable_level {
	PGTABLE_NONE = 0,
	PGTABLE_PTE = 1,
	PGTABLE_PMD = 2,
	PGTABLE_PUD = 3,
};
/*
 * Lockless (inside pgtable_lockless_begin()/end()): the level of the
 * present leaf at @addr and its pfn for @addr.
 */
enum pgtable_level pgtable_lookup(struct mm_struct *mm, unsigned long addr,
				  unsigned long *pfn, uint64_t *entry);

#endif /* SIM_PGTABLE_H */
