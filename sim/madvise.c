// SPDX-License-Identifier: GPL-2.0-only
/*
 * madvise(2) (mm/madvise.c in 6.12) for the advices that change VMA flags:
 * MADV_HUGEPAGE/MADV_NOHUGEPAGE (hugepage_madvise()), MADV_DONTFORK,
 * MADV_DOFORK, MADV_WIPEONFORK and MADV_KEEPONFORK.  The flags apply to
 * [start, end) exactly: a VMA reaching past either end is split there
 * first, or the range merges into a neighbour with the same flags
 * (madvise_update_vma() -> vma_modify_flags(), sim/mmap.c).
 *
 * And the discard: MADV_DONTNEED and MADV_DONTNEED_LOCKED
 * (madvise_dontneed_free() -> madvise_dontneed_single_vma() ->
 * zap_page_range_single()), under the mmap READ lock
 * (madvise_need_mmap_write() is 0 for them), so concurrently with faults,
 * page walks and pinning.  The zap is sim/memory.c's: a THP the range
 * covers only partly is split (zap_pmd_range() -> __split_huge_pmd()) and
 * its PTEs in the range cleared, a fully covered one is cleared whole; a
 * hugetlb VMA loses whole huge pages only.  A zap drops the mapping's
 * reference and nothing else: a DMA-pinned page stays pinned, with its
 * contents, and the next CPU touch of the address faults in a fresh zero
 * page.  That is the coherency hazard a VMM must avoid with VFIO (QEMU's
 * ram_block_discard_disable()): the device keeps writing the old page.
 * Before the zap, the leaves about to go are noted for the DMA checker
 * (sim/iommu.c iommu_note_discard()).
 *
 * Left out: every other advice (-EINVAL, as the simulation cannot carry it
 * out: no swap, page cache, KSM or memory failure), MADV_FREE (its lazy
 * free needs reclaim), userfaultfd_remove() (no userfaultfd) and anon VMA
 * names.
 */
#include <errno.h>
#include <sys/mman.h>

#include "iommu.h"
#include "mm.h"
#include "pgtable.h"
#include "sched_point.h"
#include "task.h"
#include "vma.h"

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24 /* include/uapi/asm-generic/mman-common.h */
#endif

/* madvise_behavior_valid(), restricted to the advices modelled here. */
static bool madvise_behavior_valid(int behavior)
{
	switch (behavior) {
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
		return true;
	default:
		return false;
	}
}

/* madvise_need_mmap_write(): the discards only read the VMA tree. */
static bool madvise_need_mmap_write(int behavior)
{
	return behavior != MADV_DONTNEED && behavior != MADV_DONTNEED_LOCKED;
}

/*
 * vma_adjust_trans_huge() of __split_vma(): a huge leaf that the new VMA
 * boundary @addr would cut is split first (a pfnmap leaf is cleared, to be
 * refaulted), so that no PMD or PUD leaf ever spans two VMAs
 * (copy_pmd_range() and the zaps assume it).
 */
static void split_huge_at(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	pgd_t *pgd = pgd_offset(mm, addr);
	pud_t *pud;
	pmd_t *pmd;

	if (!(addr & ~PMD_MASK) || !pgd_present(pgdp_get(pgd)))
		return;
	pud = pud_offset(p4d_offset(pgd, addr), addr);
	if (pud_trans_huge(pudp_get(pud))) {
		split_huge_pud(vma, pud, addr);
		return;
	}
	if (!pud_present(pudp_get(pud)))
		return;
	pmd = pmd_offset(pud, addr);
	if (pmd_trans_huge(pmdp_get(pmd)))
		split_huge_pmd(vma, pmd, addr);
}

/*
 * madvise_update_vma(): nothing if the flags do not change; else
 * vma_modify_flags() merges [start, end) into a neighbour with the new
 * flags or splits the VMA at @start and @end (a hugetlb VMA only at its
 * page size, -EINVAL), and the VMA covering the range gets @new_flags.
 * Huge leaves the new boundaries cut are split first
 * (vma_adjust_trans_huge() of __split_vma()).  A failed split leaves what
 * was split so far, as in the kernel.
 */
static int madvise_update_vma(struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, vm_flags_t new_flags)
{
	struct mm_struct *mm = vma->vm_mm;
	int err = 0;

	if (new_flags == vma->vm_flags)
		return 0;
	if (!is_vm_hugetlb_page(vma)) {
		if (start > vma->vm_start)
			split_huge_at(vma, start);
		if (end < vma->vm_end)
			split_huge_at(vma, end);
	}
	vma = vma_modify_flags(mm, vma, start, end, new_flags, &err);
	if (!vma)
		return err;
	vma->vm_flags = new_flags;
	return 0;
}

/*
 * madvise_dontneed_free_valid_vma() (6.12): VM_PFNMAP never, VM_LOCKED
 * only for MADV_DONTNEED_LOCKED; a hugetlb VMA only from a huge-page
 * aligned @start, and @end is rounded DOWN to the huge page size
 * ("Avoid unexpected data loss by rounding down the number of huge pages
 * freed"), so a partly covered huge page is kept.
 */
static bool madvise_dontneed_free_valid_vma(struct vm_area_struct *vma, unsigned long start,
					    unsigned long *end, int behavior)
{
	unsigned long sz;

	if (!is_vm_hugetlb_page(vma)) {
		vm_flags_t forbidden = VM_PFNMAP;

		if (behavior != MADV_DONTNEED_LOCKED)
			forbidden |= VM_LOCKED;
		return !(vma->vm_flags & forbidden);
	}
	if (!vma->vm_hstate)
		return false;
	sz = huge_page_size(vma->vm_hstate);
	if (start & (sz - 1))
		return false;
	*end &= ~(sz - 1);
	return true;
}

/*
 * For the DMA checker: every present leaf of [start, end) is noted with its
 * address before the zap takes it away (a pin racing the discard may take
 * a reference between this look and the zap, so every leaf is noted, not
 * only the pinned ones; the checker looks at the pin when a DMA comes).
 * Lockless, as GUP-fast reads the tables; the mmap read lock keeps them.
 */
static void madvise_note_discard(struct vm_area_struct *vma, unsigned long start,
				 unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned int idx = pgtable_lockless_begin();
	unsigned long addr = start;

	while (addr < end) {
		unsigned long pfn, step = PAGE_SIZE, n;
		uint64_t entry;

		switch (pgtable_lookup(mm, addr, &pfn, &entry)) {
		case PGTABLE_PUD:
			step = PUD_SIZE - (addr & (PUD_SIZE - 1));
			break;
		case PGTABLE_PMD:
			step = PMD_SIZE - (addr & (PMD_SIZE - 1));
			break;
		case PGTABLE_PTE:
			break;
		case PGTABLE_NONE:
			addr += PAGE_SIZE;
			continue;
		}
		n = (end - addr < step ? end - addr : step) >> PAGE_SHIFT;
		iommu_note_discard(mm, addr, pfn, n);
		addr += n << PAGE_SHIFT;
	}
	pgtable_lockless_end(idx);
}

/*
 * madvise_dontneed_free() -> madvise_dontneed_single_vma() (6.12): check
 * the VMA, trim a hugetlb range, then zap_page_range_single().
 * SP_MADV_DONTNEED_ZAP lets a controlled run switch to a walker, a fault
 * or a pinner right before the zap; the zap's own SP_ZAP_BEFORE_CLEAR
 * points interleave inside it.
 *
 * For the DMA checker the zap goes a PMD (a hugetlb page) at a time, each
 * piece noted before and settled after (iommu_settle_discard(): the frames
 * it freed are forgotten), so that a frame freed by one piece and taken
 * again by a concurrent fault is never read as a discarded page.  The
 * kernel zaps the range in one pass; pieces change only how the mmu
 * notifier is called (once per piece), which nothing here depends on.
 */
static int madvise_dontneed_free(struct vm_area_struct *vma, unsigned long start,
				 unsigned long end, int behavior)
{
	unsigned long step = PMD_SIZE, addr, next;

	if (!madvise_dontneed_free_valid_vma(vma, start, &end, behavior))
		return -EINVAL;
	if (start >= end)
		return 0;
	if (is_vm_hugetlb_page(vma) && huge_page_size(vma->vm_hstate) > step)
		step = huge_page_size(vma->vm_hstate);
	sched_point(SP_MADV_DONTNEED_ZAP, vma->vm_mm, start);
	for (addr = start; addr < end; addr = next) {
		next = (addr + step) & ~(step - 1);
		if (next > end || next < addr)
			next = end;
		madvise_note_discard(vma, addr, next);
		zap_page_range_single(vma, addr, next - addr);
		iommu_settle_discard(vma->vm_mm, addr, next);
	}
	return 0;
}

/*
 * madvise_vma_behavior(), the VMA-flag cases (6.12): MADV_DOFORK refuses
 * VM_IO mappings (their pages must not be inherited, the old VM_RESERVED
 * rule); MADV_WIPEONFORK only private anonymous memory; hugepage_madvise()
 * never fails in 6.12.
 */
static int madvise_vma_behavior(struct vm_area_struct *vma, unsigned long start,
				unsigned long end, int behavior)
{
	vm_flags_t new_flags = vma->vm_flags;

	switch (behavior) {
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
		return madvise_dontneed_free(vma, start, end, behavior);
	case MADV_DONTFORK:
		new_flags |= VM_DONTCOPY;
		break;
	case MADV_DOFORK:
		if (vma->vm_flags & VM_IO)
			return -EINVAL;
		new_flags &= ~VM_DONTCOPY;
		break;
	case MADV_WIPEONFORK:
		/* MADV_WIPEONFORK is only supported on anonymous memory. */
		if (vma->vm_file || (vma->vm_flags & VM_SHARED))
			return -EINVAL;
		new_flags |= VM_WIPEONFORK;
		break;
	case MADV_KEEPONFORK:
		new_flags &= ~VM_WIPEONFORK;
		break;
	case MADV_HUGEPAGE:
		new_flags = (new_flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
		break;
	case MADV_NOHUGEPAGE:
		new_flags = (new_flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
		break;
	default:
		return -EINVAL;
	}
	return madvise_update_vma(vma, start, end, new_flags);
}

/*
 * madvise_walk_vmas(): the advice for each VMA piece inside [start, end);
 * an unmapped part is -ENOMEM, reported after the mapped parts were
 * advised (unmapped_error); no VMA at or after @start at all is -ENOMEM.
 */
static int madvise_walk_vmas(struct mm_struct *mm, unsigned long start, unsigned long end,
			     int behavior)
{
	int unmapped_error = 0, err;
	struct vm_area_struct *vma = find_vma(mm, start);

	for (;;) {
		unsigned long tmp;

		if (!vma)
			return -ENOMEM;
		if (start < vma->vm_start) {
			unmapped_error = -ENOMEM;
			start = vma->vm_start;
			if (start >= end)
				break;
		}
		tmp = vma->vm_end < end ? vma->vm_end : end;
		err = madvise_vma_behavior(vma, start, tmp, behavior);
		if (err)
			return err;
		start = tmp;
		if (start >= end)
			break;
		vma = find_vma(mm, start);
	}
	return unmapped_error;
}

/*
 * do_madvise() (mm/madvise.c): the checks in the kernel's order, then the
 * walk under the mmap write lock for the VMA-flag advices, the read lock
 * for the discards (madvise_need_mmap_write()).
 */
int do_madvise(struct mm_struct *mm, unsigned long start, size_t len_in, int behavior)
{
	unsigned long end, len;
	int err;

	if (!madvise_behavior_valid(behavior))
		return -EINVAL;
	if (start & ~PAGE_MASK)
		return -EINVAL;
	len = (len_in + PAGE_SIZE - 1) & PAGE_MASK;
	/* Check to see whether len was rounded up from small -ve to zero */
	if (len_in && !len)
		return -EINVAL;
	end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	if (!madvise_need_mmap_write(behavior)) {
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		err = madvise_walk_vmas(mm, start, end, behavior);
		mmap_read_unlock(mm);
		return err;
	}
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	err = madvise_walk_vmas(mm, start, end, behavior);
	mmap_write_unlock(mm);
	return err;
}
