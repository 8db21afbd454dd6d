/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim for the numa_maps walk callbacks ktree/meson.build cuts out of the
 * tree's fs/proc/task_mmu.c (struct numa_maps, gather_stats(),
 * can_gather_numa_stats{,_pmd}(), gather_pte_stats(),
 * gather_hugetlb_stats(), show_numa_ops).  Forced into their compilation
 * (-include) after ktree_rename.h: the extract has no #include lines, and
 * the kernel names it uses beyond the shim <linux/mm.h> are here.  No
 * kernel code; each item is pinsim's own.  The answers are the ones
 * pinsim's rewrite in sim/task_mmu.c gives for the same pages, so that the
 * two can be compared (tests/ktree/test_ktree_numa_maps.c).
 *
 * Mapped onto sim/ (same meaning, nothing to add), through <linux/mm.h>:
 *   page_folio, PageReserved, vm_normal_page{,_pmd}, pte/pmd_present,
 *   pte/pmd_dirty, ptep_get, pmd_trans_huge, pmd_lock, spin_unlock,
 *   pte_offset_map_lock, pte_unmap_unlock (sim/page.h, sim/pgtable.h,
 *   sim/mm.h); cond_resched (sim/task.h: counted per task).
 * Adapted:
 *   CONFIG_NUMA, CONFIG_TRANSPARENT_HUGEPAGE -> defined, as Debian's
 *                       x86-64 config sets them (the extract's #if around
 *                       struct numa_maps and the PMD path needs them);
 *   MAX_NUMNODES     -> 1: the simulated machine has one node, and
 *                       sim/task_mmu.c's struct numa_maps has node[1]
 *                       (Debian's is 1 << CONFIG_NODES_SHIFT);
 *   HPAGE_PMD_SIZE   -> PMD_SIZE (include/linux/huge_mm.h);
 *   pte_page         -> pfn_to_page(pte_pfn()), as x86's pgtable.h;
 *   huge_ptep_get    -> ptep_get(), the generic one x86 uses
 *                       (include/asm-generic/hugetlb.h); for a 1G page the
 *                       pointer is the PUD entry, as hugetlb_walk() gives;
 *   pmd_trans_huge_lock -> include/linux/huge_mm.h + mm/huge_memory.c
 *                       __pmd_trans_huge_lock(): the PMD lock, held, if the
 *                       PMD is a huge leaf before and after taking it; read
 *                       with sim's checked pmdp_get();
 *   folio_test_dirty -> PG_dirty of the head page (sim/page.h keeps the
 *                       state of a large folio in its head);
 *   folio_test_anon  -> pinsim's folio has no ->mapping with
 *                       PAGE_MAPPING_ANON.  Anonymous folios are PGTY_anon.
 *                       A hugetlb folio is anon when hugetlb_no_page()
 *                       mapped it privately, in hugetlb_add_new_anon_rmap(),
 *                       which is where sim/hugetlb.c sets PG_anon_exclusive
 *                       (only freeing clears it: no fork, no KSM); a shared
 *                       hugetlb folio is page cache.  sim/task_mmu.c asks
 *                       the VMA instead (VM_MAYSHARE); the answers agree
 *                       because sim sets VM_SHARED and VM_MAYSHARE together
 *                       and its hugetlb VMAs have no file.  Shared anonymous
 *                       memory is PGTY_anon in pinsim (sim/fault.c, no
 *                       shmem), so anon here as in the rewrite, where the
 *                       kernel would count shmem pages as not anon.
 * Stubbed to what the simulated machine has, and why:
 *   folio_precise_page_mapcount -> 1: pinsim has no rmap and no fork, so
 *                       every mapped page is mapped once (sim/task_mmu.c's
 *                       gather_stats() uses 1 too);
 *   folio_test_active -> true, folio_test_unevictable -> false: pinsim has
 *                       no LRU; the rewrite counts every page active (the
 *                       kernel leaves a new anonymous page inactive, and a
 *                       hugetlb folio is on no LRU at all);
 *   folio_test_swapcache, folio_test_writeback -> false: no swap, no
 *                       writeback;
 *   is_swap_pmd, pmd_devmap -> false: pinsim writes no non-present,
 *                       non-none PMD (no swap, no migration) and has no
 *                       ZONE_DEVICE memory;
 *   is_zone_device_page -> false: no ZONE_DEVICE memory;
 *   page_to_nid, folio_nid -> 0, and node_states[N_MEMORY] = { node 0 }:
 *                       one node, with memory.
 */
#ifndef KTREE_TASK_MMU_SHIM_H
#define KTREE_TASK_MMU_SHIM_H

#include <linux/mm.h>

/* ---- configuration ---- */
#define CONFIG_NUMA 1
#define CONFIG_TRANSPARENT_HUGEPAGE 1
#define MAX_NUMNODES 1

/* ---- nodes ---- */
typedef struct {
	unsigned long bits[1];
} nodemask_t;

enum node_states {
	N_MEMORY,
	NR_NODE_STATES,
};

static const nodemask_t node_states[NR_NODE_STATES] __attribute__((unused)) = {
	[N_MEMORY] = { { 1UL } },	/* node 0 */
};

static inline bool ktree_node_isset(int node, const nodemask_t *mask)
{
	return node >= 0 && node < MAX_NUMNODES && (mask->bits[0] >> node & 1);
}
#define node_isset(node, mask) ktree_node_isset((node), &(mask))

static inline int page_to_nid(const struct page *page)
{
	(void)page;
	return 0;
}

static inline int folio_nid(const struct folio *folio)
{
	(void)folio;
	return 0;
}

static inline bool is_zone_device_page(const struct page *page)
{
	(void)page;
	return false;
}

/* ---- folio state ---- */
static inline int folio_precise_page_mapcount(struct folio *folio, struct page *page)
{
	(void)folio;
	(void)page;
	return 1;
}

static inline bool folio_test_dirty(const struct folio *folio)
{
	return page_flags(&folio->page) & PG_dirty;
}

static inline bool folio_test_anon(const struct folio *folio)
{
	switch (folio_type(folio)) {
	case PGTY_anon:
		return true;
	case PGTY_hugetlb:
		return page_flags(&folio->page) & PG_anon_exclusive;
	default:
		return false;
	}
}

static inline bool folio_test_active(const struct folio *folio)
{
	(void)folio;
	return true;
}

static inline bool folio_test_unevictable(const struct folio *folio)
{
	(void)folio;
	return false;
}

static inline bool folio_test_swapcache(const struct folio *folio)
{
	(void)folio;
	return false;
}

static inline bool folio_test_writeback(const struct folio *folio)
{
	(void)folio;
	return false;
}

/* ---- page tables ---- */
#define HPAGE_PMD_SIZE PMD_SIZE
#define pte_page(pte) pfn_to_page(pte_pfn(pte))

static inline pte_t huge_ptep_get(struct mm_struct *mm, unsigned long addr, pte_t *ptep)
{
	(void)mm;
	(void)addr;
	return ptep_get(ptep);
}

static inline bool is_swap_pmd(pmd_t pmd)
{
	(void)pmd;
	return false;
}

static inline bool pmd_devmap(pmd_t pmd)
{
	(void)pmd;
	return false;
}

static inline bool ktree_pmd_is_huge(pmd_t pmd)
{
	return is_swap_pmd(pmd) || pmd_trans_huge(pmd) || pmd_devmap(pmd);
}

static inline spinlock_t *pmd_trans_huge_lock(pmd_t *pmd, struct vm_area_struct *vma)
{
	spinlock_t *ptl;

	if (!ktree_pmd_is_huge(pmdp_get(pmd)))
		return NULL;
	ptl = pmd_lock(vma->vm_mm, pmd);
	if (likely(ktree_pmd_is_huge(pmdp_get(pmd))))
		return ptl;
	spin_unlock(ptl);
	return NULL;
}

#endif /* KTREE_TASK_MMU_SHIM_H */
