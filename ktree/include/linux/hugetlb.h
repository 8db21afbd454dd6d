/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim <linux/hugetlb.h> for the tree's mm/pagewalk.c.
 *
 * Mapped onto sim/ (sim/mm.h, sim/hugetlb.c): struct hstate,
 *   huge_page_size; hstate_vma -> vma->vm_hstate (pinsim keeps the hstate
 *   in the VMA rather than in the hugetlbfs inode); huge_page_mask.
 * Own code: hugetlb_walk() -> the generic huge_pte_offset() of
 *   mm/hugetlb.c (the one x86 uses): the PUD entry for a 1G size, else the
 *   PMD entry under a present PUD, else NULL; read with sim's checked
 *   accessors.
 * Stubbed, and why: hugetlb_vma_lock_read/unlock -> nothing.  The lock
 *   guards against PMD unsharing, which the simulation does not do, and
 *   munmap is already excluded by the mmap lock every walk holds (the same
 *   simplification as walk_hugetlb_range() in sim/pagewalk.c).
 */
#ifndef KTREE_LINUX_HUGETLB_H
#define KTREE_LINUX_HUGETLB_H

#include <linux/mm.h>

static inline struct hstate *hstate_vma(struct vm_area_struct *vma)
{
	return vma->vm_hstate;
}

static inline unsigned long huge_page_mask(const struct hstate *h)
{
	return ~(huge_page_size(h) - 1);
}

static inline void hugetlb_vma_lock_read(struct vm_area_struct *vma) { (void)vma; }
static inline void hugetlb_vma_unlock_read(struct vm_area_struct *vma) { (void)vma; }

static inline pte_t *hugetlb_walk(struct vm_area_struct *vma, unsigned long addr,
				  unsigned long sz)
{
	pgd_t *pgd = pgd_offset(vma->vm_mm, addr);
	pud_t *pud;

	if (!pgd_present(pgdp_get(pgd)))
		return NULL;
	pud = pud_offset(p4d_offset(pgd, addr), addr);
	if (sz == PUD_SIZE)
		return (pte_t *)pud;
	if (!pud_present(pudp_get(pud)))
		return NULL;
	return (pte_t *)pmd_offset(pud, addr);
}

#endif /* KTREE_LINUX_HUGETLB_H */
