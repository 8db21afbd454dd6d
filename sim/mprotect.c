// SPDX-License-Identifier: GPL-2.0-only
/*
 * mprotect(2) (mm/mprotect.c): do_mprotect_pkey()'s checks and errnos in
 * its order, mprotect_fixup() (vma_modify_flags(): split at the range's
 * ends, or merge with a compatible neighbour, mm/vma.c), and
 * change_protection(): every present leaf of the range, at the PTE, PMD
 * (THP, huge pfnmap, 2M hugetlb) and PUD (huge pfnmap, 1G hugetlb) level,
 * gets the VMA's new protection (pte_modify()), keeping its pfn, cache,
 * special, accessed and dirty bits.
 *
 * Write permission.  A shared writable VMA's vm_page_prot has _PAGE_RW,
 * so its leaves become writable at once.  A private one's has not
 * (x86's protection_map: copy-on-write): there 6.12's
 * MM_CP_TRY_CHANGE_WRITABLE makes writable only what the write fault
 * would reuse without copying, i.e. exclusive anonymous pages
 * (can_change_pte_writable()); anything else (a page shared copy-on-write
 * after fork, a pfn COW mapping's special entry, a private hugetlb page)
 * stays read-only and write-faults.
 *
 * PROT_NONE.  x86 keeps a PROT_NONE leaf with its pfn, _PAGE_PRESENT
 * cleared and _PAGE_PROTNONE set, and pte_present() stays true for it (it
 * is NUMA hinting's encoding too).  The simulation has no _PAGE_PROTNONE
 * and no NUMA hinting, and its pte_present() reads _PAGE_PRESENT alone, so
 * a PROT_NONE VMA's leaves keep _PAGE_PRESENT, lose _PAGE_RW and gain
 * _PAGE_NX; no access reaches them, because every access path checks the
 * VMA first (the CPU: pinsim_access()/pinsim_touch(); GUP:
 * check_vma_flags(); fixup_user_fault(): vma_permits_fault()).  pagemap
 * reports them present, as the kernel's does.  New faults never happen in
 * a PROT_NONE VMA for the same reason, so vm_page_prot (PAGE_NONE) is
 * never used to build an entry.
 *
 * The zap notifier.  change_pud_range() brackets its work with
 * mmu_notifier_invalidate_range_start()/end(MMU_NOTIFY_PROTECTION_VMA):
 * a secondary MMU drops what it mapped.  Here mm_notify_zap() runs for
 * the range of each VMA whose leaves were changed, so that the preload's
 * host mirror re-faults with the new protection.
 *
 * Pins are not affected: mprotect never unmaps (pinned pages stay pinned
 * and DMA-mapped); a later VFIO_IOMMU_MAP_DMA with write of a range made
 * read-only fails in pin_user_pages_remote() (check_vma_flags(): -EFAULT).
 *
 * Left out: protection keys (pkey is always -1), PROT_GROWSDOWN/UP (no
 * VM_GROWSDOWN stacks here: -EINVAL as for a VMA without the flag),
 * READ_IMPLIES_EXEC, memory-deny-write-execute, mseal, VM_ACCOUNT commit
 * charging, the L1TF pfn_modify_allowed() walk for PROT_NONE pfnmaps,
 * uffd-wp, soft-dirty, and the populate that mprotect_fixup() runs when a
 * private VM_LOCKED VMA becomes writable (it breaks COW early; every
 * exclusive page is made writable here anyway).
 */
#include <errno.h>
#include <linux/mman.h>
#include <sys/mman.h>

#include "machine.h"
#include "mm.h"
#include "vma.h"

/*
 * x86 _PAGE_CHG_MASK (with _PAGE_PSE, as _HPAGE_CHG_MASK): the bits
 * pte_modify()/pmd_modify()/pud_modify() keep from the old entry.
 */
#define SIM_PAGE_CHG_MASK \
	(PTE_PFN_MASK | _PAGE_PCD | _PAGE_SPECIAL | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_PSE)

/* What a change_protection() pass does to each leaf. */
struct cp_args {
	struct vm_area_struct *vma;
	uint64_t newprot;		/* bits outside SIM_PAGE_CHG_MASK */
	bool try_writable;		/* MM_CP_TRY_CHANGE_WRITABLE */
	long pages;
};

/* The leaf protection of @vma's vm_page_prot (PROT_NONE: see the top). */
static uint64_t leaf_newprot(const struct vm_area_struct *vma)
{
	uint64_t prot = pgprot_val(vma->vm_page_prot);

	if (!(prot & _PAGE_PRESENT))
		prot = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX;
	return prot & ~SIM_PAGE_CHG_MASK;
}

static uint64_t entry_modify(uint64_t old, uint64_t newprot)
{
	return (old & SIM_PAGE_CHG_MASK) | newprot;
}

/*
 * can_change_pte_writable() / can_change_pmd_writable(): a private VMA may
 * map an exclusive anonymous page writable (PageAnonExclusive, kept on the
 * folio head in this model, as sim/gup.c reads it); a shared one a dirty
 * entry.
 */
static bool can_change_writable(struct vm_area_struct *vma, struct page *page, uint64_t entry)
{
	struct folio *folio;

	if (WARN_ON_ONCE(!(vma->vm_flags & VM_WRITE)))
		return false;
	if (vma->vm_flags & VM_SHARED)
		return entry & _PAGE_DIRTY;
	if (!page)
		return false;
	folio = page_folio(page);
	return folio_type(folio) == PGTY_anon && (page_flags(&folio->page) & PG_anon_exclusive);
}

/* ptep_modify_prot_start()/pte_modify()/ptep_modify_prot_commit() of one leaf. */
static uint64_t cp_new_entry(struct cp_args *cp, uint64_t old, struct page *page)
{
	uint64_t val = entry_modify(old, cp->newprot);

	if (cp->try_writable && !(val & _PAGE_RW) && can_change_writable(cp->vma, page, val))
		val |= _PAGE_RW;
	return val;
}

/* change_pte_range(): the present PTEs of [addr, end), under the PTE lock. */
static void change_pte_range(struct cp_args *cp, pmd_t *pmd, unsigned long addr,
			     unsigned long end)
{
	struct vm_area_struct *vma = cp->vma;
	spinlock_t *ptl;
	pte_t *pte, *start_pte;

	start_pte = pte = pte_offset_map_lock(vma->vm_mm, pmd, addr, &ptl);
	if (!pte)
		return;
	for (; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t old = ptep_get(pte);
		uint64_t val;

		if (!pte_present(old))
			continue;	/* none: nothing (no swap or uffd markers here) */
		val = cp_new_entry(cp, pte_val(old), vm_normal_page(vma, addr, old));
		if (val != pte_val(old))
			set_pte(pte, __pte(val));
		cp->pages++;
	}
	pte_unmap_unlock(start_pte, ptl);
}

/* change_huge_pmd(): a whole PMD leaf (THP or huge pfnmap), under its lock. */
static void change_huge_pmd(struct cp_args *cp, pmd_t *pmd, unsigned long addr)
{
	struct vm_area_struct *vma = cp->vma;
	spinlock_t *ptl = pmd_lock(vma->vm_mm, pmd);
	pmd_t old = pmdp_get(pmd);

	if (pmd_trans_huge(old)) {
		uint64_t val = cp_new_entry(cp, pmd_val(old), vm_normal_page_pmd(vma, addr, old));

		if (val != pmd_val(old))
			set_pmd(pmd, __pmd(val));
		cp->pages += HPAGE_PMD_NR;
	}
	spin_unlock(ptl);
}

/* change_huge_pud(): a whole PUD leaf (huge pfnmap; no anonymous PUDs). */
static void change_huge_pud(struct cp_args *cp, pud_t *pud)
{
	struct vm_area_struct *vma = cp->vma;
	spinlock_t *ptl = pud_lock(vma->vm_mm, pud);
	pud_t old = pudp_get(pud);

	if (pud_trans_huge(old)) {
		uint64_t val = entry_modify(pud_val(old), cp->newprot);

		if (val != pud_val(old))
			set_pud(pud, __pud(val));
		cp->pages += HPAGE_PUD_NR;
	}
	spin_unlock(ptl);
}

/*
 * change_pmd_range(): a PMD leaf only partly in the range is split first
 * (__split_huge_pmd(): an anonymous THP into PTEs, a pfnmap leaf cleared,
 * to be refaulted), then the PTE level.
 */
static void change_pmd_range(struct cp_args *cp, pud_t *pud, unsigned long addr,
			     unsigned long end)
{
	pmd_t *pmd = pmd_offset(pud, addr);
	unsigned long next;

	do {
		pmd_t val;

		next = pmd_addr_end(addr, end);
		val = pmdp_get(pmd);
		if (pmd_none(val))
			continue;
		if (pmd_trans_huge(val)) {
			if (next - addr != PMD_SIZE) {
				split_huge_pmd(cp->vma, pmd, addr);
			} else {
				change_huge_pmd(cp, pmd, addr);
				continue;
			}
		}
		if (!pmd_present(pmdp_get(pmd)) || pmd_leaf(pmdp_get(pmd)))
			continue;
		change_pte_range(cp, pmd, addr, next);
		cond_resched();
	} while (pmd++, addr = next, addr != end);
}

/* change_pud_range(): a partial PUD leaf is split (cleared), then PMDs. */
static void change_pud_range(struct cp_args *cp, pgd_t *pgd, unsigned long addr,
			     unsigned long end)
{
	pud_t *pud = pud_offset(p4d_offset(pgd, addr), addr);
	unsigned long next;

	do {
		pud_t val;

		next = pud_addr_end(addr, end);
		val = pudp_get(pud);
		if (pud_none(val))
			continue;
		if (pud_leaf(val)) {
			if (next - addr != PUD_SIZE) {
				split_huge_pud(cp->vma, pud, addr);
			} else {
				change_huge_pud(cp, pud);
				continue;
			}
		}
		val = pudp_get(pud);
		if (!pud_present(val) || pud_leaf(val))
			continue;
		change_pmd_range(cp, pud, addr, next);
	} while (pud++, addr = next, addr != end);
}

/*
 * hugetlb_change_protection() (mm/hugetlb.c): each huge leaf of the VMA's
 * size gets huge_pte_modify(); no write upgrade (a private page write
 * faults through hugetlb_wp(), which reuses it).
 */
static void hugetlb_change_protection(struct cp_args *cp, unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma = cp->vma;
	struct mm_struct *mm = vma->vm_mm;
	unsigned long sz = huge_page_size(vma->vm_hstate);

	for (unsigned long addr = start; addr < end; addr += sz) {
		pgd_t *pgd = pgd_offset(mm, addr);
		spinlock_t *ptl;
		pud_t *pud;
		pmd_t *pmd;

		if (!pgd_present(pgdp_get(pgd)))
			continue;
		pud = pud_offset(p4d_offset(pgd, addr), addr);
		if (vma->vm_hstate->order == PUD_ORDER) {
			change_huge_pud(cp, pud);
			continue;
		}
		if (!pud_present(pudp_get(pud)) || pud_leaf(pudp_get(pud)))
			continue;
		pmd = pmd_offset(pud, addr);
		ptl = pmd_lock(mm, pmd);
		if (pmd_leaf(pmdp_get(pmd))) {
			set_pmd(pmd, __pmd(entry_modify(pmd_val(pmdp_get(pmd)), cp->newprot)));
			cp->pages += HPAGE_PMD_NR;
		}
		spin_unlock(ptl);
	}
}

/*
 * change_protection(): the walk, then (where anything was mapped) the
 * notifier's invalidation of the range.  Returns the pages changed.
 */
static long change_protection(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, bool try_writable)
{
	struct cp_args cp = {
		.vma = vma, .newprot = leaf_newprot(vma), .try_writable = try_writable,
	};
	unsigned long addr = start, next;

	if (is_vm_hugetlb_page(vma)) {
		hugetlb_change_protection(&cp, start, end);
	} else {
		pgd_t *pgd = pgd_offset(vma->vm_mm, addr);

		do {
			next = pgd_addr_end(addr, end);
			if (pgd_none(pgdp_get(pgd)) || pgd_bad(pgdp_get(pgd)))
				continue;
			change_pud_range(&cp, pgd, addr, next);
		} while (pgd++, addr = next, addr != end);
	}
	if (cp.pages)
		mm_notify_zap(vma->vm_mm, start, end);
	return cp.pages;
}

/*
 * vma_wants_manual_pte_write_upgrade(): private writable VMAs; shared ones
 * only with write notification, which nothing here asks for.
 */
static bool vma_wants_manual_pte_write_upgrade(const struct vm_area_struct *vma)
{
	if (vma->vm_flags & VM_SHARED)
		return false;
	return vma->vm_flags & VM_WRITE;
}

/*
 * mprotect_fixup(): nothing for unchanged flags; else vma_modify_flags()
 * isolates (or merges) [start, end), the flags and vm_page_prot change,
 * and change_protection() updates the leaves.  *@next_start: where the VMA
 * now covering the range ends (vma_iter_end()).
 */
static int mprotect_fixup(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
			  unsigned long end, vm_flags_t newflags, unsigned long *next_start)
{
	int err = 0;

	if (newflags == vma->vm_flags) {
		*next_start = vma->vm_end;
		return 0;
	}
	vma = vma_modify_flags(mm, vma, start, end, newflags, &err);
	if (!vma)
		return err;
	vma->vm_flags = newflags;
	vma_set_page_prot(vma);
	change_protection(vma, start, end, vma_wants_manual_pte_write_upgrade(vma));
	*next_start = vma->vm_end;
	return 0;
}

/* calc_vm_prot_bits() without pkeys. */
static vm_flags_t calc_vm_prot_bits(unsigned long prot)
{
	return ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0) |
	       ((prot & PROT_EXEC) ? VM_EXEC : 0);
}

/*
 * The VMA loop of do_mprotect_pkey(): each VMA must start where the last
 * one ended (a hole is -ENOMEM, with the VMAs before it already changed,
 * as in the kernel), and may not gain an access its VM_MAY* bits do not
 * allow (-EACCES, likewise).
 */
static int mprotect_vmas(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
			 unsigned long end, unsigned long prot)
{
	unsigned long nstart = start, tmp = vma->vm_start;
	int err = 0;

	for (; vma && vma->vm_start < end; vma = find_vma(mm, tmp)) {
		vm_flags_t newflags;

		if (vma->vm_start != tmp)
			return -ENOMEM;
		newflags = calc_vm_prot_bits(prot) | (vma->vm_flags & ~VM_ACCESS_FLAGS);
		/* newflags >> 4 shifts VM_MAY* in place of VM_* */
		if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS)
			return -EACCES;
		tmp = vma->vm_end < end ? vma->vm_end : end;
		err = mprotect_fixup(mm, vma, nstart, tmp, newflags, &tmp);
		if (err)
			return err;
		nstart = tmp;
	}
	return tmp < end ? -ENOMEM : 0;
}

int do_mprotect_pkey(struct mm_struct *mm, unsigned long start, size_t len,
		     unsigned long prot, int pkey)
{
	const unsigned long grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
	struct vm_area_struct *vma;
	unsigned long end;
	int err;

	prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
	if (grows == (PROT_GROWSDOWN | PROT_GROWSUP))
		return -EINVAL;
	if (start & ~PAGE_MASK)
		return -EINVAL;
	if (!len)
		return 0;
	len = (len + PAGE_SIZE - 1) & PAGE_MASK;
	end = start + len;
	if (end <= start)
		return -ENOMEM;
	/* arch_validate_prot(): the generic one, PROT_SEM allowed. */
	if (prot & ~(unsigned long)(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM))
		return -EINVAL;
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	err = -EINVAL;
	if (pkey != -1)		/* mm_pkey_is_allocated(): no pkeys here */
		goto out;
	/* vma_find(&vmi, end): the first VMA ending after start, if below end. */
	err = -ENOMEM;
	vma = find_vma_intersection(mm, start, end);
	if (!vma)
		goto out;
	if (grows & PROT_GROWSDOWN) {
		/* No VM_GROWSDOWN VMA exists in the simulation. */
		err = vma->vm_start >= end ? -ENOMEM : -EINVAL;
		goto out;
	}
	if (vma->vm_start > start)
		goto out;
	if (grows & PROT_GROWSUP) {
		err = -EINVAL;	/* no VM_GROWSUP on x86 */
		goto out;
	}
	err = mprotect_vmas(mm, vma, start, end, prot);
out:
	mmap_write_unlock(mm);
	return err;
}
