// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fault path: handle_mm_fault() with __handle_mm_fault()'s order
 * selection and handle_pte_fault() (mm/memory.c), fixup_user_fault() and
 * vm_fault_to_errno() (mm/gup.c, include/linux/mm.h).
 *
 * What the simulation leaves out, and why it does not change what pinning,
 * zapping and walking see:
 * - No shared zero page and no huge zero page: a read fault on anonymous
 *   memory allocates, so every anonymous entry maps a page of its own.
 * - No swap, no migration entries, no NUMA hinting, no userfaultfd: every
 *   non-none entry is present.
 * - Copy-on-write after fork (do_wp_page(), wp_page_copy()) decides by
 *   PG_anon_exclusive and the folio's refcount: no mapcount, swap cache,
 *   KSM or LRU caches exist to look at (see wp_can_reuse_anon_folio()).
 * - The only page cache is shared memory's (sim/shmem.c, sim/hugetlbfs.c):
 *   a ->fault handler either installs the entry itself and returns
 *   VM_FAULT_NOPAGE, as pfnmap drivers (vfio-pci) do, or returns the page
 *   (VM_FAULT_LOCKED, vmf->page) for do_read_fault()/do_cow_fault()/
 *   do_shared_fault() to map.  No fault-around, no ->page_mkwrite (shmem
 *   has neither a map_pages worth modelling nor write notification).
 * - No per-VMA locks: faults run under the mmap read lock.
 */
#include <errno.h>
#include <string.h>

#include "machine.h"
#include "mm.h"
#include "pgtable.h"
#include "task.h"

/* include/linux/mm.h: fault_flag_allow_retry_first() */
static inline bool fault_flag_allow_retry_first(unsigned int flags)
{
	return (flags & FAULT_FLAG_ALLOW_RETRY) && !(flags & FAULT_FLAG_TRIED);
}

static inline void fault_stat_inc(_Atomic unsigned long *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

/*
 * mm->inject_fault_retry stands for a fault that finds its folio locked.
 * __folio_lock_or_retry() on the first try (ALLOW_RETRY without TRIED)
 * releases the mmap lock, waits, and returns VM_FAULT_RETRY; with
 * RETRY_NOWAIT it returns VM_FAULT_RETRY with the lock still held.  Once
 * TRIED is set it sleeps on the folio lock and goes on, so nothing is
 * injected then.
 */
static bool fault_inject_retry(struct mm_struct *mm, unsigned int flags)
{
	int n = atomic_load_explicit(&mm->inject_fault_retry, memory_order_relaxed);

	if (likely(n <= 0) || !fault_flag_allow_retry_first(flags))
		return false;
	do {
		if (n <= 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&mm->inject_fault_retry, &n, n - 1,
							memory_order_relaxed,
							memory_order_relaxed));
	if (!(flags & FAULT_FLAG_RETRY_NOWAIT))
		mmap_read_unlock(mm);
	return true;
}

/*
 * mm/memory.c: sanitize_fault_flags().  An unshare that is also a write is
 * a caller bug (WARN, SIGSEGV); outside a COW mapping it is an ordinary
 * read fault.  A write fault on a VMA that can never be written, or a
 * FOLL_FORCE write to a shared read-only mapping, is a caller bug: WARN
 * and SIGSEGV.
 */
static vm_fault_t sanitize_fault_flags(struct vm_area_struct *vma, unsigned int *flags)
{
	if (unlikely(*flags & FAULT_FLAG_UNSHARE)) {
		if (WARN_ON_ONCE(*flags & FAULT_FLAG_WRITE))
			return VM_FAULT_SIGSEGV;
		if (!is_cow_mapping(vma->vm_flags))
			*flags &= ~FAULT_FLAG_UNSHARE;
		return 0;
	}
	if (!(*flags & FAULT_FLAG_WRITE))
		return 0;
	if (WARN_ON_ONCE(!(vma->vm_flags & VM_MAYWRITE)))
		return VM_FAULT_SIGSEGV;
	if (WARN_ON_ONCE(!(vma->vm_flags & VM_WRITE) && !is_cow_mapping(vma->vm_flags)))
		return VM_FAULT_SIGSEGV;
	return 0;
}

/* ---------------- PTE level ---------------- */

/*
 * wp_page_reuse(): the page stays, the entry becomes young and dirty, and
 * writable if the VMA is (maybe_mkwrite()).  The PTE lock is held.
 */
static void wp_page_reuse(struct vm_fault *vmf, pte_t orig)
{
	pte_t entry = pte_mkdirty(pte_mkyoung(orig));

	if (vmf->vma->vm_flags & VM_WRITE)
		entry = pte_mkwrite(entry);
	set_pte(vmf->pte, entry);
}

/* The bytes a COW copy reads: a RAM frame, or a BAR through its device. */
static const void *wp_copy_source(unsigned long pfn)
{
	if (pfn_valid(pfn))
		return page_address(pfn_to_page(pfn));
	return mmio_virt(pfn);
}

/*
 * wp_page_copy() (mm/memory.c): a new anonymous page gets the bytes of the
 * old one — an anonymous page shared since fork, or the pfn of a special
 * (pfnmap) PTE in a private mapping, the remap_pfn_range() COW case of
 * seeds/02 — and replaces the entry; the mapping's reference on the old
 * folio goes.  A write makes the entry dirty and writable iff VM_WRITE;
 * an unshare (FAULT_FLAG_UNSHARE: a read-only pin) leaves it read-only and
 * clean.  The old frame is no longer mapped here, which a secondary MMU
 * must learn (the kernel's MMU_NOTIFY_CLEAR range around the switch): the
 * zap notifier, after the unlock.
 *
 * Entered with the PTE lock held; returns with it released, as the
 * kernel's do_wp_page() does.  Simplification: the kernel allocates and
 * copies with the lock dropped and re-checks the entry afterwards; here
 * the copy is a memcpy under the lock.  A pfn no device decodes reads as
 * zeroes, as __wp_page_copy_user() falls back to clearing the page when it
 * cannot read the source.
 */
static vm_fault_t wp_page_copy(struct vm_fault *vmf, pte_t orig, struct page *page)
{
	const bool unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	const void *src = page ? page_address(page) : wp_copy_source(pte_pfn(orig));
	struct folio *folio;
	pte_t entry;

	folio = folio_alloc(0, PGTY_anon);
	if (!folio) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return VM_FAULT_OOM;
	}
	if (src) {
		memcpy(page_address(&folio->page), src, PAGE_SIZE);
		folio_mark_data(folio);
	}
	SetPageFlag(&folio->page, PG_anon_exclusive);	/* RMAP_EXCLUSIVE */
	entry = pfn_pte(folio_pfn(folio), vma->vm_page_prot);
	if (!unshare) {
		entry = pte_mkdirty(entry);
		if (vma->vm_flags & VM_WRITE)	/* maybe_mkwrite() */
			entry = pte_mkwrite(entry);
	}
	set_pte(vmf->pte, entry);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	/* A special entry held no reference; a normal one the mapping's. */
	if (page)
		folio_put(page_folio(page));
	fault_stat_inc(&mm->fault_stats.pte);
	mm_notify_zap(mm, vmf->address, vmf->address + PAGE_SIZE);
	return 0;
}

/*
 * wp_can_reuse_anon_folio(): a large folio is never reused (a subpage of
 * it is copied instead); a small one only if the mapping's is its only
 * reference.  No swap cache, KSM or LRU caches exist here, so the checks
 * the kernel makes before and under the folio lock come down to
 * refcount == 1.  The folio then becomes exclusive (the caller).
 */
static bool wp_can_reuse_anon_folio(struct folio *folio)
{
	if (folio_test_large(folio))
		return false;
	return folio_ref_count(folio) == 1;
}

/*
 * do_wp_page() (mm/memory.c), PTE lock held on entry, released on return:
 * a write (or, FAULT_FLAG_UNSHARE, a read-only pin) to a read-only present
 * PTE.  Shared mappings reuse (wp_pfn_shared()/wp_page_shared() without
 * ->pfn_mkwrite or ->page_mkwrite).  In a private mapping an anonymous
 * page that is exclusive, or that wp_can_reuse_anon_folio() finds used by
 * this mapping only, is reused and marked exclusive (an unshare needs no
 * more than that); anything else is copied (wp_page_copy()).
 */
static vm_fault_t do_wp_page(struct vm_fault *vmf, pte_t orig)
{
	const bool unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	struct vm_area_struct *vma = vmf->vma;
	struct folio *folio = NULL;
	struct page *page;

	page = vm_normal_page(vma, vmf->address, orig);
	if (page)
		folio = page_folio(page);
	if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE)) {
		wp_page_reuse(vmf, orig);
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return 0;
	}
	if (folio && folio_test_anon_in(folio, vma) &&
	    (PageAnonExclusive(page) || wp_can_reuse_anon_folio(folio))) {
		if (!PageAnonExclusive(page))
			SetPageAnonExclusive(page);
		if (!unshare)
			wp_page_reuse(vmf, orig);
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return 0;
	}
	return wp_page_copy(vmf, orig, page);
}

/*
 * do_anonymous_page() (mm/memory.c): a fresh order-0 folio, mapped
 * writable and dirty iff the VMA is writable.  Young comes from
 * vm_page_prot (x86's protection_map has _PAGE_ACCESSED; pte_sw_mkyoung()
 * is a no-op there).  If the PTE was populated meanwhile, the folio goes.
 *
 * A VM_SHARED VMA without vm_ops SIGBUSes, as in the kernel: shared
 * anonymous memory is shmem (shmem_zero_setup() at mmap), so none exists.
 */
static vm_fault_t do_anonymous_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	struct folio *folio;
	pte_t entry;

	if (vma->vm_flags & VM_SHARED)
		return VM_FAULT_SIGBUS;
	if (pmd_none(pmdp_get(vmf->pmd)) && __pte_alloc(mm, vmf->pmd))
		return VM_FAULT_OOM;

	folio = folio_alloc(0, PGTY_anon);
	if (!folio)
		return VM_FAULT_OOM;

	entry = pfn_pte(folio_pfn(folio), vma->vm_page_prot);
	if (vma->vm_flags & VM_WRITE)
		entry = pte_mkwrite(pte_mkdirty(entry));

	vmf->pte = pte_offset_map_lock(mm, vmf->pmd, vmf->address, &vmf->ptl);
	if (!vmf->pte)
		goto release;		/* a huge PMD raced in: refault */
	if (!pte_none(ptep_get(vmf->pte))) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		goto release;
	}
	/* folio_add_new_anon_rmap(RMAP_EXCLUSIVE) */
	SetPageFlag(&folio->page, PG_anon_exclusive);
	set_pte(vmf->pte, entry);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	fault_stat_inc(&mm->fault_stats.pte);
	return 0;
release:
	folio_put(folio);
	return 0;
}

/*
 * finish_fault() -> set_pte_range() for one page: map @page (whose
 * reference the mapping takes over) at the faulting address with
 * vm_page_prot, dirty and writable (maybe_mkwrite()) on a write.  If the
 * PTE was populated meanwhile the reference goes and the access retries
 * (VM_FAULT_NOPAGE).  An anonymous @page (the COW copy) is exclusive.
 */
static vm_fault_t finish_fault(struct vm_fault *vmf, struct page *page, bool write)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	pte_t entry = pfn_pte(page_to_pfn(page), vma->vm_page_prot);

	if (write) {
		entry = pte_mkdirty(entry);
		if (vma->vm_flags & VM_WRITE)
			entry = pte_mkwrite(entry);
	}
	vmf->pte = pte_offset_map_lock(mm, vmf->pmd, vmf->address, &vmf->ptl);
	if (!vmf->pte || !pte_none(ptep_get(vmf->pte))) {
		if (vmf->pte)
			pte_unmap_unlock(vmf->pte, vmf->ptl);
		folio_put(page_folio(page));
		return VM_FAULT_NOPAGE;
	}
	if (folio_type(page_folio(page)) == PGTY_anon)
		SetPageFlag(&page_folio(page)->page, PG_anon_exclusive);
	set_pte(vmf->pte, entry);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	fault_stat_inc(&mm->fault_stats.pte);
	return 0;
}

/*
 * do_cow_fault(): a write fault on a private file mapping maps a new
 * anonymous page with the bytes of the page-cache page, which keeps its
 * place in the cache.  Reordered: the kernel allocates the copy before
 * calling ->fault (so a NOPAGE handler frees it unused); here it is
 * allocated only for a handler that returned a page.
 */
static vm_fault_t do_cow_fault(struct vm_fault *vmf)
{
	struct page *page = vmf->page;
	struct folio *folio = folio_alloc(0, PGTY_anon);

	if (!folio) {
		folio_put(page_folio(page));
		return VM_FAULT_OOM;
	}
	sim_copy_folio_data(folio, page, 1);
	folio_put(page_folio(page));
	return finish_fault(vmf, &folio->page, true);
}

/*
 * do_fault(): without ->fault, the entry is either there (NOPAGE) or the
 * access SIGBUSes.  With it, the PTE table is populated first, as
 * __do_fault() preallocates vmf->prealloc_pte so that the handler never
 * allocates page tables under its own locks.  A handler that returns a
 * page (VM_FAULT_LOCKED, vmf->page) has it mapped by do_read_fault() (a
 * read: the page itself, read-only in a private mapping),
 * do_cow_fault() (a write to a private mapping) or do_shared_fault() (a
 * write to a shared one: the page, dirty and writable), then unlocked.
 */
static vm_fault_t do_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	vm_fault_t ret;

	if (!vma->vm_ops->fault) {
		vmf->pte = pte_offset_map_lock(mm, vmf->pmd, vmf->address, &vmf->ptl);
		if (!vmf->pte)
			return VM_FAULT_SIGBUS;
		ret = pte_none(ptep_get(vmf->pte)) ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return ret;
	}
	if (pmd_none(pmdp_get(vmf->pmd)) && __pte_alloc(mm, vmf->pmd))
		return VM_FAULT_OOM;
	vmf->pte = NULL;
	vmf->ptl = NULL;
	vmf->page = NULL;
	ret = vma->vm_ops->fault(vmf);
	if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY | VM_FAULT_DONE_COW))
		return ret;
	if (WARN_ON_ONCE(!vmf->page || !(ret & VM_FAULT_LOCKED) || !vma->vm_ops->folio_unlock))
		return VM_FAULT_SIGBUS;
	if (!(vmf->flags & FAULT_FLAG_WRITE))
		ret = finish_fault(vmf, vmf->page, false);	/* do_read_fault() */
	else if (!(vma->vm_flags & VM_SHARED))
		ret = do_cow_fault(vmf);
	else
		ret = finish_fault(vmf, vmf->page, true);	/* do_shared_fault() */
	vma->vm_ops->folio_unlock(vmf);
	return ret;
}

static vm_fault_t do_pte_missing(struct vm_fault *vmf)
{
	if (vma_is_anonymous(vmf->vma))
		return do_anonymous_page(vmf);
	return do_fault(vmf);
}

/*
 * handle_pte_fault(): a none PTE (or no table) is a missing page; a present
 * one is re-checked under the PTE lock and then written to (do_wp_page())
 * or marked young/dirty.  If the PMD stopped pointing at a table (a huge
 * entry raced in), return 0 and let the access fault again.
 */
static vm_fault_t handle_pte_fault(struct vm_fault *vmf)
{
	struct mm_struct *mm = vmf->vma->vm_mm;
	pte_t orig = __pte(0), entry;
	pmd_t pmdval;
	pte_t *pte;

	if (!pmd_none(pmdp_get_lockless(vmf->pmd))) {
		pte = pte_offset_map(vmf->pmd, vmf->address, &pmdval);
		if (!pte)
			return 0;
		orig = ptep_get(pte);
		pte_unmap(pte);
	}
	if (pte_none(orig))
		return do_pte_missing(vmf);
	if (WARN_ON_ONCE(!pte_present(orig)))
		return VM_FAULT_SIGBUS;		/* swap entries are not modelled */

	vmf->pte = pte_offset_map_lock(mm, vmf->pmd, vmf->address, &vmf->ptl);
	if (!vmf->pte)
		return 0;
	if (!pte_same(ptep_get(vmf->pte), orig))
		goto unlock;
	if (vmf->flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) {
		if (!pte_write(orig))
			return do_wp_page(vmf, orig);	/* unlocks */
		if (vmf->flags & FAULT_FLAG_WRITE)
			orig = pte_mkdirty(orig);
	}
	entry = pte_mkyoung(orig);
	if (!pte_same(ptep_get(vmf->pte), entry))
		set_pte(vmf->pte, entry);
unlock:
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	return 0;
}

/* ---------------- PMD and PUD levels ---------------- */

/* The core asked a driver's ->huge_fault and it declined this order. */
static vm_fault_t call_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	vm_fault_t ret = vmf->vma->vm_ops->huge_fault(vmf, order);

	if (ret & VM_FAULT_FALLBACK)
		fault_stat_inc(&vmf->vma->vm_mm->fault_stats.fallback);
	return ret;
}

/* create_huge_pud(): no anonymous PUD THPs upstream either. */
static vm_fault_t create_huge_pud(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;

	if (vma_is_anonymous(vma) || !vma->vm_ops->huge_fault)
		return VM_FAULT_FALLBACK;
	return call_huge_fault(vmf, PUD_ORDER);
}

/*
 * wp_huge_pud(): a write to a read-only PUD leaf.  A shared mapping asks
 * the driver again; otherwise the leaf is split (cleared, for a pfnmap)
 * and the fault goes on at PMD level.
 */
static vm_fault_t wp_huge_pud(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	vm_fault_t ret;

	if (!vma_is_anonymous(vma) && (vma->vm_flags & (VM_SHARED | VM_MAYSHARE)) &&
	    vma->vm_ops->huge_fault) {
		ret = call_huge_fault(vmf, PUD_ORDER);
		if (!(ret & VM_FAULT_FALLBACK))
			return ret;
	}
	split_huge_pud(vma, vmf->pud, vmf->address);
	return VM_FAULT_FALLBACK;
}

/* The PUD step of __handle_mm_fault(); VM_FAULT_FALLBACK means "go on". */
static vm_fault_t pud_fault(struct vm_fault *vmf)
{
	pud_t orig = pudp_get(vmf->pud);

	if (pud_none(orig)) {
		if (!thp_vma_allowable_order(vmf->vma, PUD_ORDER))
			return VM_FAULT_FALLBACK;
		return create_huge_pud(vmf);
	}
	if (!pud_trans_huge(orig))
		return VM_FAULT_FALLBACK;
	if ((vmf->flags & FAULT_FLAG_WRITE) && !pud_write(orig))
		return wp_huge_pud(vmf);
	huge_pud_set_accessed(vmf, orig);
	return 0;
}

/* create_huge_pmd() */
static vm_fault_t create_huge_pmd(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;

	if (vma_is_anonymous(vma))
		return do_huge_pmd_anonymous_page(vmf);
	if (!vma->vm_ops->huge_fault)
		return VM_FAULT_FALLBACK;
	return call_huge_fault(vmf, PMD_ORDER);
}

/* wp_huge_pmd(): as wp_huge_pud(), and anonymous THPs are reused. */
static vm_fault_t wp_huge_pmd(struct vm_fault *vmf, pmd_t orig)
{
	struct vm_area_struct *vma = vmf->vma;
	vm_fault_t ret;

	if (vma_is_anonymous(vma))
		return do_huge_pmd_wp_page(vmf, orig);
	if ((vma->vm_flags & (VM_SHARED | VM_MAYSHARE)) && vma->vm_ops->huge_fault) {
		ret = call_huge_fault(vmf, PMD_ORDER);
		if (!(ret & VM_FAULT_FALLBACK))
			return ret;
	}
	split_huge_pmd(vma, vmf->pmd, vmf->address);
	return VM_FAULT_FALLBACK;
}

/* The PMD step of __handle_mm_fault(); VM_FAULT_FALLBACK means "go on". */
static vm_fault_t pmd_fault(struct vm_fault *vmf)
{
	pmd_t orig = pmdp_get_lockless(vmf->pmd);

	if (pmd_none(orig)) {
		if (!thp_vma_allowable_order(vmf->vma, PMD_ORDER))
			return VM_FAULT_FALLBACK;
		return create_huge_pmd(vmf);
	}
	if (!pmd_trans_huge(orig))
		return VM_FAULT_FALLBACK;
	if ((vmf->flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) && !pmd_write(orig))
		return wp_huge_pmd(vmf, orig);
	huge_pmd_set_accessed(vmf, orig);
	return 0;
}

/*
 * include/linux/pgtable.h: pud_trans_unstable().  None or a leaf: the PMD
 * table cannot be used, go back to the PUD step.
 */
static bool pud_trans_unstable(pud_t *pud)
{
	pud_t pudval = pudp_get(pud);

	return pud_none(pudval) || pud_trans_huge(pudval) || pud_bad(pudval);
}

/*
 * __handle_mm_fault(): PUD, then PMD, then PTE.  One deliberate reordering:
 * the kernel computes pmd_offset() (pmd_alloc()) before the
 * pud_trans_unstable() check, which is harmless there because nothing is
 * read through it; here pmd_offset() resolves the PUD's pfn through the
 * direct map, which for a BAR leaf that raced in is the illegal read of
 * seeds/01.  So the check comes first.
 */
static vm_fault_t __handle_mm_fault(struct vm_area_struct *vma, unsigned long address,
				    unsigned int flags)
{
	struct vm_fault vmf = {
		.vma = vma,
		.address = address & PAGE_MASK,
		.real_address = address,
		.flags = flags,
		.pgoff = linear_page_index(vma, address),
	};
	struct mm_struct *mm = vma->vm_mm;
	vm_fault_t ret;

	vmf.pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, address), address), address);
	if (!vmf.pud)
		return VM_FAULT_OOM;
retry_pud:
	ret = pud_fault(&vmf);
	if (!(ret & VM_FAULT_FALLBACK))
		return ret;

	if (pud_none(pudp_get(vmf.pud)) && __pmd_alloc(mm, vmf.pud, address))
		return VM_FAULT_OOM;
	/* Huge pud page fault raced with pmd_alloc? */
	if (pud_trans_unstable(vmf.pud))
		goto retry_pud;
	vmf.pmd = pmd_offset(vmf.pud, address);

	ret = pmd_fault(&vmf);
	if (!(ret & VM_FAULT_FALLBACK))
		return ret;
	return handle_pte_fault(&vmf);
}

static void fault_account(struct mm_struct *mm, vm_fault_t ret)
{
	if (ret & VM_FAULT_RETRY)
		fault_stat_inc(&mm->fault_stats.retry);
	if (ret & VM_FAULT_SIGBUS)
		fault_stat_inc(&mm->fault_stats.sigbus);
}

/*
 * handle_mm_fault(): the mmap read lock is held on entry; on VM_FAULT_RETRY
 * (unless RETRY_NOWAIT) or VM_FAULT_COMPLETED it has been released, and the
 * VMA must not be touched afterwards.
 */
vm_fault_t handle_mm_fault(struct vm_area_struct *vma, unsigned long address,
			   unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	vm_fault_t ret;

	ret = sanitize_fault_flags(vma, &flags);
	if (ret)
		goto out;
	if (fault_inject_retry(mm, flags)) {
		ret = VM_FAULT_RETRY;
		goto out;
	}
	if (unlikely(is_vm_hugetlb_page(vma)))
		ret = hugetlb_fault(mm, vma, address, flags);
	else
		ret = __handle_mm_fault(vma, address, flags);
out:
	fault_account(mm, ret);
	return ret;
}

/* ---------------- mm/gup.c ---------------- */

/*
 * vm_fault_to_errno() (include/linux/mm.h).  VM_FAULT_HWPOISON_LARGE is not
 * modelled (no hugetlb memory failure); plain HWPOISON covers it.
 */
int vm_fault_to_errno(vm_fault_t vm_fault, int foll_flags)
{
	if (vm_fault & VM_FAULT_OOM)
		return -ENOMEM;
	if (vm_fault & VM_FAULT_HWPOISON)
		return (foll_flags & FOLL_HWPOISON) ? -EHWPOISON : -EFAULT;
	if (vm_fault & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV))
		return -EFAULT;
	return 0;
}

/*
 * gup_vma_lookup(): vma_lookup(), since GUP no longer expands stacks (it
 * only rate-limits a warning for addresses just below a VM_GROWSDOWN VMA,
 * and still returns NULL).
 */
static struct vm_area_struct *gup_vma_lookup(struct mm_struct *mm, unsigned long addr)
{
	return vma_lookup(mm, addr);
}

/*
 * vma_permits_fault(): a write needs VM_WRITE, anything else VM_READ (not
 * VM_EXEC: GUP is a data access).  No arch protection keys.
 */
static bool vma_permits_fault(struct vm_area_struct *vma, unsigned int fault_flags)
{
	vm_flags_t need = (fault_flags & FAULT_FLAG_WRITE) ? VM_WRITE : VM_READ;

	return vma->vm_flags & need;
}

int fixup_user_fault(struct mm_struct *mm, unsigned long address, unsigned int fault_flags,
		     bool *unlocked)
{
	struct vm_area_struct *vma;
	vm_fault_t ret;

	if (unlocked)
		fault_flags |= FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE;
retry:
	vma = gup_vma_lookup(mm, address);
	if (!vma)
		return -EFAULT;
	if (!vma_permits_fault(vma, fault_flags))
		return -EFAULT;
	if ((fault_flags & FAULT_FLAG_KILLABLE) && fatal_signal_pending(current))
		return -EINTR;

	ret = handle_mm_fault(vma, address, fault_flags);
	if (ret & VM_FAULT_COMPLETED) {
		/* The lock went with the fault; the callers expect it held. */
		mmap_read_lock(mm);
		*unlocked = true;
		return 0;
	}
	if (ret & VM_FAULT_ERROR) {
		int err = vm_fault_to_errno(ret, 0);

		BUG_ON(!err);
		return err;
	}
	if (ret & VM_FAULT_RETRY) {
		mmap_read_lock(mm);
		*unlocked = true;
		fault_flags |= FAULT_FLAG_TRIED;
		goto retry;
	}
	return 0;
}
