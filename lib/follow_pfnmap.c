// SPDX-License-Identifier: GPL-2.0-only
/*
 * follow_pfnmap_start() / follow_pfnmap_end() (mm/memory.c, ref §2.1).
 *
 * Two kernel-version switches (vfio_type1_cfg):
 *  - follow_pfnmap_recheck: ffef67b93aa3 ("fix PMD/PUD checks in
 *    follow_pfnmap_start()", March 2026).  With it, a non-present PUD/PMD is
 *    caught before the leaf test, and the leaf is re-read under its lock:
 *    vanished → error, became a table → retry from the top.  Without it the
 *    value read locklessly is trusted after taking the lock, so an entry
 *    zapped in between is still reported (with a pfn that is no longer
 *    mapped) — the window the SP_FOLLOW_PFNMAP_LOCKLESS point opens.
 *  - follow_pfnmap_enoent: the seeds/03 proposal, -EINVAL for invalid
 *    arguments and -ENOENT for "no present entry" (resolvable by a fault).
 */
#include <errno.h>

#include "kimpl.h"
#include "sched_point.h"
#include "vfio.h"

static void pfnmap_args_setup(struct follow_pfnmap_args *args, spinlock_t *lock, pte_t *ptep,
			      pgprot_t pgprot, unsigned long pfn_base, unsigned long addr_mask,
			      bool writable, bool special)
{
	args->lock = lock;
	args->ptep = ptep;
	args->pfn = pfn_base + ((args->address & ~addr_mask) >> PAGE_SHIFT);
	args->addr_mask = addr_mask;
	args->pgprot = pgprot;
	args->writable = writable;
	args->special = special;
}

/* pfnmap_lockdep_assert(): the mmap lock (or i_mmap_rwsem, not modelled). */
static void pfnmap_lockdep_assert(struct vm_area_struct *vma)
{
	mmap_assert_locked(vma->vm_mm);
}

int follow_pfnmap_start(struct follow_pfnmap_args *args)
{
	struct vm_area_struct *vma = args->vma;
	unsigned long address = args->address;
	struct mm_struct *mm = vma->vm_mm;
	const bool recheck = vfio_type1_cfg.follow_pfnmap_recheck;
	const int enoent = vfio_type1_cfg.follow_pfnmap_enoent ? -ENOENT : -EINVAL;
	spinlock_t *lock;
	pgd_t *pgdp;
	p4d_t *p4dp, p4d;
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;
	pte_t *ptep, pte;
	const struct kimpl_ops *tree = kimpl_tree();

	/* A machine running a kernel tree's code uses its mm/memory.c's. */
	if (tree)
		return tree->follow_pfnmap_start(args);
	pfnmap_lockdep_assert(vma);

	if (unlikely(address < vma->vm_start || address >= vma->vm_end))
		return -EINVAL;
	if (!(vma->vm_flags & (VM_IO | VM_PFNMAP)))
		return -EINVAL;
retry:
	pgdp = pgd_offset(mm, address);
	if (pgd_none(pgdp_get(pgdp)))
		return enoent;
	if (unlikely(pgd_bad(pgdp_get(pgdp))))
		return -EINVAL;

	p4dp = p4d_offset(pgdp, address);
	p4d = p4dp_get(p4dp);
	if (p4d_none(p4d))
		return enoent;
	if (unlikely(p4d_bad(p4d)))
		return -EINVAL;

	pudp = pud_offset(p4dp, address);
	pud = pudp_get(pudp);
	if (recheck ? !pud_present(pud) : pud_none(pud))
		return enoent;
	if (pud_leaf(pud)) {
		sched_point(SP_FOLLOW_PFNMAP_LOCKLESS, mm, address);
		lock = pud_lock(mm, pudp);
		if (recheck) {
			pud = pudp_get(pudp);
			if (unlikely(!pud_present(pud))) {
				spin_unlock(lock);
				return enoent;
			}
		}
		if (unlikely(!pud_leaf(pud))) {
			spin_unlock(lock);
			goto retry;
		}
		pfnmap_args_setup(args, lock, NULL, pud_pgprot(pud), pud_pfn(pud), PUD_MASK,
				  pud_write(pud), pud_special(pud));
		return 0;
	}

	pmdp = pmd_offset(pudp, address);
	pmd = pmdp_get_lockless(pmdp);
	if (recheck && !pmd_present(pmd))
		return enoent;
	if (pmd_leaf(pmd)) {
		sched_point(SP_FOLLOW_PFNMAP_LOCKLESS, mm, address);
		lock = pmd_lock(mm, pmdp);
		if (recheck) {
			pmd = pmdp_get(pmdp);
			if (unlikely(!pmd_present(pmd))) {
				spin_unlock(lock);
				return enoent;
			}
		}
		if (unlikely(!pmd_leaf(pmd))) {
			spin_unlock(lock);
			goto retry;
		}
		pfnmap_args_setup(args, lock, NULL, pmd_pgprot(pmd), pmd_pfn(pmd), PMD_MASK,
				  pmd_write(pmd), pmd_special(pmd));
		return 0;
	}

	ptep = pte_offset_map_lock(mm, pmdp, address, &lock);
	if (!ptep)
		return enoent;
	pte = ptep_get(ptep);
	if (!pte_present(pte)) {
		pte_unmap_unlock(ptep, lock);
		return enoent;
	}
	pfnmap_args_setup(args, lock, ptep, pte_pgprot(pte), pte_pfn(pte), PAGE_MASK,
			  pte_write(pte), pte_special(pte));
	return 0;
}

void follow_pfnmap_end(struct follow_pfnmap_args *args)
{
	const struct kimpl_ops *tree = kimpl_tree();

	if (tree) {
		tree->follow_pfnmap_end(args);
		return;
	}
	if (args->lock)
		spin_unlock(args->lock);
	if (args->ptep)
		pte_unmap(args->ptep);
}
