// SPDX-License-Identifier: GPL-2.0-only
/*
 * mremap(2) (mm/mremap.c, 6.12): do_mremap()'s checks in the syscall's
 * order, shrinking in place (the tail is unmapped), growing in place when
 * the range above is free (vma_merge_extend()), and moving
 * (MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP): move_vma() makes the
 * VMA at the new place (copy_vma()) and move_page_tables() moves every
 * leaf at the level it is mapped at — PTE, PMD (THP, huge pfnmap, 2M
 * hugetlb) or PUD (huge pfnmap, 1G hugetlb) — so a page keeps its folio,
 * its references and its pins: a DMA-mapped buffer stays mapped in the
 * IOMMU (VFIO type1 holds pfns, not addresses) and the CPU now reaches it
 * at the new address.  The old range is then unmapped (with
 * MREMAP_DONTUNMAP it stays, empty, and loses VM_LOCKED).
 *
 * The zap notifier hears of the moved-from range (move_page_tables()'s
 * mmu_notifier_invalidate_range_start()/end() over the old range), so a
 * host mirror drops it.
 *
 * Simplifications:
 * - move_vma() here splits the old VMA at the range's ends before it
 *   moves (the kernel leaves that to the final do_vmi_munmap()); the
 *   result is the same, and a failed split is -ENOMEM before anything
 *   moved.  With MREMAP_DONTUNMAP only the moved part of the old VMA
 *   loses VM_LOCKED (the kernel clears it on the whole old VMA).
 * - Page tables themselves are never moved (move_normal_pmd()/_pud(),
 *   CONFIG_HAVE_MOVE_PMD/PUD): the leaves in them are, which is what
 *   anything outside mremap can tell apart.
 * - A huge leaf only partly moved is split first (split_huge_pmd(): an
 *   anonymous THP into PTEs, a pfnmap leaf cleared and refaulted later; a
 *   PUD leaf, always a pfnmap one, cleared), as move_page_tables() does.
 * - No VM_ACCOUNT, RLIMIT_AS, max_map_count or userfaultfd; no shmem, so
 *   MAP_SHARED anonymous memory moves its pages like private memory, and
 *   an old_len of 0 (duplicating a shared mapping) makes an empty mapping
 *   where the kernel would share the shmem pages.
 * - MREMAP_DONTUNMAP follows 6.12's rules (a4609387859f, v5.13): any
 *   mapping but VM_DONTEXPAND/VM_PFNMAP ones, so private and shared
 *   anonymous memory here; BARs and hugetlb are -EINVAL.
 */
#include <errno.h>
#include <linux/mman.h>
#include <sys/mman.h>

#include "machine.h"
#include "mm.h"
#include "vma.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* ---------------- move_page_tables() ---------------- */

/* get_extent(): the step that stays inside one @size block of both sides. */
static unsigned long get_extent(unsigned long size, unsigned long old_addr,
				unsigned long old_end, unsigned long new_addr)
{
	unsigned long extent = ((old_addr + size) & ~(size - 1)) - old_addr;
	unsigned long new_extent = ((new_addr + size) & ~(size - 1)) - new_addr;

	if (extent > old_end - old_addr)
		extent = old_end - old_addr;
	if (extent > new_extent)
		extent = new_extent;
	return extent;
}

/* get_old_pud(): the PUD entry of @addr if its pgd level is populated. */
static pud_t *get_old_pud(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);

	if (pgd_none(pgdp_get(pgd)) || pgd_bad(pgdp_get(pgd)))
		return NULL;
	return pud_offset(p4d_offset(pgd, addr), addr);
}

/* get_old_pmd(): the PMD entry of @addr if a PMD table is there. */
static pmd_t *get_old_pmd(struct mm_struct *mm, unsigned long addr)
{
	pud_t *pud = get_old_pud(mm, addr);

	if (!pud || !pud_present(pudp_get(pud)) || pud_leaf(pudp_get(pud)))
		return NULL;
	return pmd_offset(pud, addr);
}

/* alloc_new_pud()/alloc_new_pmd(): NULL on -ENOMEM. */
static pud_t *alloc_new_pud(struct mm_struct *mm, unsigned long addr)
{
	return pud_alloc(mm, p4d_offset(pgd_offset(mm, addr), addr), addr);
}

static pmd_t *alloc_new_pmd(struct mm_struct *mm, unsigned long addr)
{
	pud_t *pud = alloc_new_pud(mm, addr);

	if (!pud)
		return NULL;
	if (pud_none(pudp_get(pud)) && __pmd_alloc(mm, pud, addr))
		return NULL;
	if (WARN_ON_ONCE(pud_leaf(pudp_get(pud))))
		return NULL;
	return pmd_offset(pud, addr);
}

/*
 * move_huge_pud()/move_huge_pmd(): the whole leaf changes place under
 * both level locks (the same lock for PUDs: mm->page_table_lock).  False
 * when the destination is not empty; the caller then splits.
 */
static bool move_huge_pud(struct mm_struct *mm, pud_t *old_pud, pud_t *new_pud)
{
	spinlock_t *ptl = pud_lock(mm, old_pud);
	bool moved = false;

	if (pud_none(pudp_get(new_pud)) && pud_leaf(pudp_get(old_pud))) {
		set_pud(new_pud, pudp_huge_get_and_clear(old_pud));
		moved = true;
	}
	spin_unlock(ptl);
	return moved;
}

static bool move_huge_pmd(struct mm_struct *mm, pmd_t *old_pmd, pmd_t *new_pmd)
{
	spinlock_t *old_ptl = pmd_lock(mm, old_pmd), *new_ptl = pmd_lockptr(mm, new_pmd);
	bool moved = false;

	if (new_ptl != old_ptl)
		spin_lock(new_ptl);
	if (pmd_none(pmdp_get(new_pmd)) && pmd_leaf(pmdp_get(old_pmd))) {
		set_pmd(new_pmd, pmdp_huge_get_and_clear(old_pmd));
		moved = true;
	}
	if (new_ptl != old_ptl)
		spin_unlock(new_ptl);
	spin_unlock(old_ptl);
	return moved;
}

/* move_ptes(): each present PTE of the extent, under both PTE locks. */
static int move_ptes(struct mm_struct *mm, pmd_t *old_pmd, unsigned long old_addr,
		     unsigned long old_end, pmd_t *new_pmd, unsigned long new_addr)
{
	spinlock_t *old_ptl, *new_ptl;
	pte_t *old_pte, *new_pte, *start;

	start = old_pte = pte_offset_map_lock(mm, old_pmd, old_addr, &old_ptl);
	if (!old_pte)
		return -EAGAIN;
	new_pte = pte_offset_kernel(new_pmd, new_addr);
	new_ptl = pte_lockptr(mm, pmdp_get(new_pmd));
	if (new_ptl != old_ptl)
		spin_lock(new_ptl);
	for (; old_addr < old_end; old_pte++, new_pte++, old_addr += PAGE_SIZE) {
		pte_t pte = ptep_get(old_pte);

		if (pte_none(pte))
			continue;
		pte = ptep_get_and_clear(old_pte);
		set_pte(new_pte, pte);
	}
	if (new_ptl != old_ptl)
		spin_unlock(new_ptl);
	pte_unmap_unlock(start, old_ptl);
	return 0;
}

/*
 * move_page_tables(): returns the length moved (less than @len only when a
 * page table could not be allocated).  The mmap write lock is held.
 */
static unsigned long move_page_tables(struct vm_area_struct *vma, unsigned long old_addr,
				      unsigned long new_addr, unsigned long len)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long old_end = old_addr + len, start = old_addr, extent;
	pud_t *old_pud, *new_pud;
	pmd_t *old_pmd, *new_pmd;

	for (; old_addr < old_end; old_addr += extent, new_addr += extent) {
		cond_resched();
		extent = get_extent(PUD_SIZE, old_addr, old_end, new_addr);
		old_pud = get_old_pud(mm, old_addr);
		if (!old_pud || pud_none(pudp_get(old_pud)))
			continue;
		if (pud_leaf(pudp_get(old_pud))) {
			if (extent == PUD_SIZE) {
				new_pud = alloc_new_pud(mm, new_addr);
				if (!new_pud)
					break;
				if (move_huge_pud(mm, old_pud, new_pud))
					continue;
			}
			split_huge_pud(vma, old_pud, old_addr);
		}
		extent = get_extent(PMD_SIZE, old_addr, old_end, new_addr);
		old_pmd = get_old_pmd(mm, old_addr);
		if (!old_pmd || pmd_none(pmdp_get(old_pmd)))
			continue;
		new_pmd = alloc_new_pmd(mm, new_addr);
		if (!new_pmd)
			break;
again:
		if (pmd_leaf(pmdp_get(old_pmd))) {
			if (extent == PMD_SIZE && move_huge_pmd(mm, old_pmd, new_pmd))
				continue;
			split_huge_pmd(vma, old_pmd, old_addr);
		}
		if (!pmd_present(pmdp_get(old_pmd)))
			continue;
		if (pmd_none(pmdp_get(new_pmd)) && __pte_alloc(mm, new_pmd))
			break;
		if (move_ptes(mm, old_pmd, old_addr, old_addr + extent, new_pmd, new_addr) < 0)
			goto again;
	}
	/* mmu_notifier_invalidate_range_end() over what left the old range. */
	if (old_addr > start)
		mm_notify_zap(mm, start, old_addr < old_end ? old_addr : old_end);
	return old_addr < old_end ? old_addr - start : len;
}

/* ---------------- move_vma() ---------------- */

/*
 * move_vma(): the old range becomes a VMA of its own, a VMA for the new
 * range is made (merged into a neighbour if compatible), the leaves move;
 * on a failed move they go back and the new range is unmapped instead.
 * Then the old range is unmapped (not with MREMAP_DONTUNMAP) and a
 * VM_LOCKED mapping counts new_len pages in locked_vm again (*@locked:
 * populate the grown part afterwards).
 */
static unsigned long move_vma(struct mm_struct *mm, struct vm_area_struct *vma,
			      unsigned long old_addr, unsigned long old_len,
			      unsigned long new_len, unsigned long new_addr, unsigned long flags,
			      bool *locked)
{
	struct vm_area_struct *new_vma;
	unsigned long moved, pgoff;
	vm_flags_t vm_flags;
	int err;

	if (vma->vm_start < old_addr) {
		err = split_vma(mm, vma, old_addr);
		if (err)
			return err;
		vma = find_vma(mm, old_addr);
	}
	if (vma->vm_end > old_addr + old_len) {
		err = split_vma(mm, vma, old_addr + old_len);
		if (err)
			return err;
	}
	vm_flags = vma->vm_flags;
	pgoff = vma->vm_pgoff;
	new_vma = copy_vma(vma, new_addr, new_len, pgoff);
	if (!new_vma)
		return -ENOMEM;
	/* The hugetlb reservations of the unfaulted pages go with the range. */
	if (is_vm_hugetlb_page(vma) && new_vma != vma) {
		new_vma->hugetlb_resv = vma->hugetlb_resv;
		vma->hugetlb_resv = 0;	/* clear_vma_resv_huge_pages() */
	}
	moved = move_page_tables(vma, old_addr, new_addr, old_len);
	if (moved < old_len) {
		/* Back where they were, then unmap the new range instead. */
		move_page_tables(new_vma, new_addr, old_addr, moved);
		if (is_vm_hugetlb_page(vma)) {
			vma->hugetlb_resv = new_vma->hugetlb_resv;
			new_vma->hugetlb_resv = 0;
		}
		do_munmap(mm, new_addr, new_len);
		return -ENOMEM;
	}
	if (flags & MREMAP_DONTUNMAP) {
		/* "We always clear VM_LOCKED[ONFAULT] on the old vma"; locked_vm stays. */
		vma->vm_flags &= ~VM_LOCKED_MASK;
		return new_addr;
	}
	if (do_munmap(mm, old_addr, old_len) < 0)
		return -ENOMEM;
	if (vm_flags & VM_LOCKED) {
		atomic_fetch_add(&mm->locked_vm, (long)(new_len >> PAGE_SHIFT));
		*locked = true;
	}
	return new_addr;
}

/*
 * vma_to_resize(): the VMA at @addr, which must hold the whole old range
 * (-EFAULT), in order: no address (-EFAULT), a private mapping with old_len
 * 0 (-EINVAL), MREMAP_DONTUNMAP of VM_DONTEXPAND/VM_PFNMAP (-EINVAL), the
 * range past the VMA (-EFAULT); for growth a pgoff overflow (-EINVAL),
 * VM_DONTEXPAND/VM_PFNMAP (BARs, hugetlb: -EFAULT), and the mlock limit for
 * a VM_LOCKED VMA (-EAGAIN).
 */
static struct vm_area_struct *vma_to_resize(struct mm_struct *mm, unsigned long addr,
					    unsigned long old_len, unsigned long new_len,
					    unsigned long flags, int *err)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	unsigned long pgoff;

	*err = -EFAULT;
	if (!vma)
		return NULL;
	*err = -EINVAL;
	if (!old_len && !(vma->vm_flags & (VM_SHARED | VM_MAYSHARE)))
		return NULL;
	if ((flags & MREMAP_DONTUNMAP) && (vma->vm_flags & (VM_DONTEXPAND | VM_PFNMAP)))
		return NULL;
	*err = -EFAULT;
	if (old_len > vma->vm_end - addr)
		return NULL;
	if (new_len == old_len)
		return vma;
	pgoff = ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
	*err = -EINVAL;
	if (pgoff + (new_len >> PAGE_SHIFT) < pgoff)
		return NULL;
	*err = -EFAULT;
	if (vma->vm_flags & (VM_DONTEXPAND | VM_PFNMAP))
		return NULL;
	*err = -EAGAIN;
	if (!mlock_future_ok(mm, vma->vm_flags, new_len - old_len))
		return NULL;
	return vma;
}

/* The placement of a moved mapping (get_unmapped_area() as mremap calls it). */
static unsigned long mremap_placement(struct mm_struct *mm, struct vm_area_struct *vma,
				      unsigned long old_addr, unsigned long new_addr,
				      unsigned long new_len, unsigned long map_flags)
{
	unsigned long pgoff = vma->vm_pgoff + ((old_addr - vma->vm_start) >> PAGE_SHIFT);

	if (vma->vm_flags & VM_MAYSHARE)
		map_flags |= MAP_SHARED;
	return sim_get_unmapped_area(mm, vma->vm_file, new_addr, new_len,
				     vma->vm_file ? pgoff : 0, map_flags,
				     is_vm_hugetlb_page(vma) ? vma->vm_hstate : NULL);
}

/*
 * mremap_to(): MREMAP_FIXED or MREMAP_DONTUNMAP.  The new range must be
 * aligned, inside the address space and apart from the old one (-EINVAL);
 * MREMAP_FIXED unmaps it first (before the old range is even checked, as
 * the kernel does), a shrink unmaps the old tail, then vma_to_resize() and
 * the move.
 */
static unsigned long mremap_to(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
			       unsigned long new_addr, unsigned long new_len, bool *locked,
			       unsigned long flags)
{
	struct vm_area_struct *vma;
	unsigned long ret;
	int err;

	if (new_addr & ~PAGE_MASK)
		return -EINVAL;
	if (new_len > TASK_SIZE || new_addr > TASK_SIZE - new_len)
		return -EINVAL;
	if (addr + old_len > new_addr && new_addr + new_len > addr)
		return -EINVAL;
	if (flags & MREMAP_FIXED) {
		err = do_munmap(mm, new_addr, new_len);
		if (err)
			return err;
	}
	if (old_len > new_len) {
		err = do_munmap(mm, addr + new_len, old_len - new_len);
		if (err)
			return err;
		old_len = new_len;
	}
	vma = vma_to_resize(mm, addr, old_len, new_len, flags, &err);
	if (!vma)
		return err;
	ret = mremap_placement(mm, vma, addr, new_addr, new_len,
			       (flags & MREMAP_FIXED) ? MAP_FIXED : 0);
	if (IS_ERR_VALUE(ret))
		return ret;
	if (!(flags & MREMAP_FIXED))
		new_addr = ret;
	return move_vma(mm, vma, addr, old_len, new_len, new_addr, flags, locked);
}

/* vma_expandable(): nothing between vm_end and vm_end + delta, in range. */
static bool vma_expandable(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long delta)
{
	unsigned long end = vma->vm_end + delta;

	if (end < vma->vm_end || end > TASK_SIZE)
		return false;
	return !find_vma_intersection(mm, vma->vm_end, end);
}

/*
 * Growing: in place when the VMA ends at the old range's end and the
 * range above is free, else moved (MREMAP_MAYMOVE) or -ENOMEM.
 */
static unsigned long mremap_grow(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
				 unsigned long new_len, unsigned long flags, bool *locked,
				 unsigned long *populate_from)
{
	struct vm_area_struct *vma;
	unsigned long new_addr;
	int err;

	vma = vma_to_resize(mm, addr, old_len, new_len, flags, &err);
	if (!vma)
		return err;
	if (old_len == vma->vm_end - addr && vma_expandable(mm, vma, new_len - old_len)) {
		vma = vma_merge_extend(mm, vma, new_len - old_len);
		if (vma->vm_flags & VM_LOCKED) {
			atomic_fetch_add(&mm->locked_vm, (long)((new_len - old_len) >> PAGE_SHIFT));
			*locked = true;
			*populate_from = addr;
		}
		return addr;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	new_addr = mremap_placement(mm, vma, addr, 0, new_len, 0);
	if (IS_ERR_VALUE(new_addr))
		return new_addr;
	return move_vma(mm, vma, addr, old_len, new_len, new_addr, flags, locked);
}

/* The syscall's checks, before the mmap lock (SYSCALL_DEFINE5(mremap)). */
static int mremap_check_args(unsigned long addr, unsigned long old_len, unsigned long new_len,
			     unsigned long flags)
{
	if (flags & ~(unsigned long)(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP))
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	/* MREMAP_DONTUNMAP is always a move and never resizes. */
	if ((flags & MREMAP_DONTUNMAP) && (!(flags & MREMAP_MAYMOVE) || old_len != new_len))
		return -EINVAL;
	if (addr & ~PAGE_MASK)
		return -EINVAL;
	return 0;
}

/*
 * hugetlb (6.12): lengths round up to the huge page, both addresses must
 * be huge-aligned, and growing is -EINVAL (the reservation cannot be
 * split).
 */
static int mremap_hugetlb_check(struct vm_area_struct *vma, unsigned long addr,
				unsigned long *old_len, unsigned long *new_len,
				unsigned long new_addr)
{
	unsigned long mask = huge_page_size(vma->vm_hstate) - 1;

	*old_len = (*old_len + mask) & ~mask;
	*new_len = (*new_len + mask) & ~mask;
	if ((addr & mask) || (new_addr & mask) || *new_len > *old_len)
		return -EINVAL;
	return 0;
}

unsigned long do_mremap(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
			unsigned long new_len, unsigned long flags, unsigned long new_addr)
{
	unsigned long ret, populate_from = 0;
	struct vm_area_struct *vma;
	bool locked = false;
	int err;

	err = mremap_check_args(addr, old_len, new_len, flags);
	if (err)
		return err;
	old_len = (old_len + PAGE_SIZE - 1) & PAGE_MASK;
	new_len = (new_len + PAGE_SIZE - 1) & PAGE_MASK;
	if (!new_len)
		return -EINVAL;
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	vma = vma_lookup(mm, addr);
	if (!vma) {
		ret = -EFAULT;
		goto out;
	}
	if (is_vm_hugetlb_page(vma)) {
		ret = mremap_hugetlb_check(vma, addr, &old_len, &new_len, new_addr);
		if (ret)
			goto out;
	}
	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
		ret = mremap_to(mm, addr, old_len, new_addr, new_len, &locked, flags);
	} else if (old_len >= new_len) {
		/* Always allow a shrinking remap: the tail is unmapped. */
		ret = addr;
		if (old_len > new_len) {
			err = do_munmap(mm, addr + new_len, old_len - new_len);
			if (err)
				ret = err;
		}
	} else {
		ret = mremap_grow(mm, addr, old_len, new_len, flags, &locked, &populate_from);
	}
	if (!IS_ERR_VALUE(ret) && !populate_from)
		populate_from = ret;
out:
	mmap_write_unlock(mm);
	/* mm_populate() of what a VM_LOCKED mapping grew by. */
	if (locked && !IS_ERR_VALUE(ret) && new_len > old_len)
		__mm_populate(mm, populate_from + old_len, new_len - old_len, true);
	return ret;
}
