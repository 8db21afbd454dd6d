// SPDX-License-Identifier: GPL-2.0-only
/*
 * Huge entries (mm/huge_memory.c): inserting huge pfnmap leaves
 * (vmf_insert_pfn_pmd/pud), anonymous PMD THPs, touching and write-faulting
 * existing leaves, splitting PMD and PUD leaves, and which VMAs may have
 * THPs at all.
 *
 * Left out: the huge zero page (read faults allocate), the deposited page
 * table of anonymous THPs (a split allocates its PTE table instead, see
 * __split_huge_pmd_anon()), mTHP orders between 0 and PMD_ORDER, DAX,
 * khugepaged, and mmu notifiers (there is no secondary MMU to tell; the
 * IOMMU is kept coherent by pinning, not by notifiers).
 */
#include <errno.h>

#include "machine.h"
#include "mm.h"
#include "pgtable.h"

/* ---------------- which VMAs may have THPs ---------------- */

/* vma_is_special_huge(): PFNMAP/MIXEDMAP file mappings (no DAX here). */
static bool vma_is_special_huge(const struct vm_area_struct *vma)
{
	return vma->vm_file && (vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP));
}

/* hugepage_global_always() || (VM_HUGEPAGE && hugepage_global_enabled()) */
static bool thp_sysfs_allows(vm_flags_t vm_flags)
{
	switch (machine->cfg.thp) {
	case THP_ALWAYS:
		return true;
	case THP_MADVISE:
		return vm_flags & VM_HUGEPAGE;
	default:
		return false;
	}
}

/*
 * thp_vma_allowable_order(vma, vm_flags, TVA_PAGEFAULT, order), i.e.
 * __thp_vma_allowable_orders() on the fault path:
 * - supported orders: anonymous VMAs PMD only (THP_ORDERS_ALL_ANON is 2 to
 *   PMD_ORDER; the mTHP orders below PMD are not modelled), PFNMAP/MIXEDMAP
 *   VMAs PMD and PUD (THP_ORDERS_ALL_SPECIAL_DAX), other files PMD
 *   (MAX_PAGECACHE_ORDER on x86);
 * - VM_NOHUGEPAGE disables (vma_thp_disabled(); no prctl here);
 * - a PFNMAP VMA with ->huge_fault bypasses the sysfs setting
 *   (vma_file_bypass_thp_tuneables()): vfio-pci BARs get huge faults with
 *   THP "madvise" or even "never";
 * - other file VMAs need the sysfs setting and ->huge_fault ("trust that
 *   ->huge_fault() handlers know what they are doing in fault path");
 * - anonymous VMAs need the sysfs setting (the PMD order "inherits" it).
 * The 2M range being inside the VMA is not checked here: on the fault path
 * that is the handler's job (thp_vma_suitable_order() in
 * do_huge_pmd_anonymous_page(), is_aligned_for_order() in vfio-pci).
 * Hugetlb VMAs never get here in the kernel (handle_mm_fault() sends them
 * to hugetlb_fault()), and never have THPs.
 */
bool thp_vma_allowable_order(struct vm_area_struct *vma, unsigned int order)
{
	vm_flags_t vm_flags = vma->vm_flags;

	if (!vma->vm_mm || is_vm_hugetlb_page(vma) || (vm_flags & VM_NOHUGEPAGE))
		return false;
	if (vma_is_anonymous(vma))
		return order == PMD_ORDER && thp_sysfs_allows(vm_flags);
	if (vma_is_special_huge(vma)) {
		if (order != PMD_ORDER && order != PUD_ORDER)
			return false;
		if ((vm_flags & VM_PFNMAP) && vma->vm_ops->huge_fault)
			return true;
	} else if (order != PMD_ORDER) {
		return false;
	}
	return thp_sysfs_allows(vm_flags) && vma->vm_ops->huge_fault;
}

/* thp_vma_suitable_order(): the aligned huge range lies inside the VMA. */
static bool thp_vma_suitable_order(struct vm_area_struct *vma, unsigned long addr,
				   unsigned int order)
{
	unsigned long size = PAGE_SIZE << order;
	unsigned long haddr = addr & ~(size - 1);

	/* File VMAs must also be aligned in the file; anon has no pgoff. */
	if (!vma_is_anonymous(vma) &&
	    (((vma->vm_start >> PAGE_SHIFT) - vma->vm_pgoff) & ((size >> PAGE_SHIFT) - 1)))
		return false;
	return haddr >= vma->vm_start && haddr + size <= vma->vm_end;
}

/* ---------------- anonymous PMD THPs ---------------- */

/*
 * do_huge_pmd_anonymous_page() + __do_huge_pmd_anonymous_page(): a PMD_ORDER
 * folio mapped by one leaf, dirty, writable iff VM_WRITE
 * (maybe_pmd_mkwrite()), young from vm_page_prot.  No folio: fall back to
 * PTEs (the THP_FAULT_FALLBACK path).  A leaf or table that raced in wins
 * and the folio goes back (return 0: the access refaults and finds it).
 */
vm_fault_t do_huge_pmd_anonymous_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	unsigned long haddr = vmf->address & PMD_MASK;
	struct folio *folio;
	spinlock_t *ptl;
	pmd_t entry;

	if (!thp_vma_suitable_order(vma, haddr, PMD_ORDER))
		return VM_FAULT_FALLBACK;
	folio = folio_alloc(PMD_ORDER, PGTY_anon);
	if (!folio)
		return VM_FAULT_FALLBACK;

	entry = pmd_mkdirty(pmd_mkhuge(pfn_pmd(folio_pfn(folio), vma->vm_page_prot)));
	if (vma->vm_flags & VM_WRITE)
		entry = pmd_mkwrite(entry);

	ptl = pmd_lock(mm, vmf->pmd);
	if (!pmd_none(pmdp_get(vmf->pmd))) {
		spin_unlock(ptl);
		folio_put(folio);
		return 0;
	}
	/* folio_add_new_anon_rmap(RMAP_EXCLUSIVE): the head carries it. */
	SetPageFlag(&folio->page, PG_anon_exclusive);
	set_pmd(vmf->pmd, entry);
	spin_unlock(ptl);
	atomic_fetch_add_explicit(&mm->fault_stats.pmd, 1, memory_order_relaxed);
	return 0;
}

/*
 * do_huge_pmd_wp_page() (mm/huge_memory.c), PMD lock taken here: a write
 * (or an unshare, FAULT_FLAG_UNSHARE, for a read-only pin) to a read-only
 * anonymous THP.  An exclusive folio is reused; so is one whose only
 * reference is this mapping (refcount 1: the other process of a fork has
 * let go), which becomes exclusive.  Reuse makes the leaf young, dirty and
 * writable iff VM_WRITE, unless this is an unshare, which only needs the
 * exclusivity.  Otherwise the PMD is split and VM_FAULT_FALLBACK sends the
 * fault on to the PTE level (do_wp_page() copies the one 4K page).  If the
 * PMD changed meanwhile, return 0 and let the access refault.
 *
 * Shared anonymous THPs (shmem in the kernel, which never comes here: it
 * is not vma_is_anonymous()) are simply made writable.  The split needs a
 * PTE table, which the kernel withdraws from the THP's deposit; the
 * simulation deposits none (see the top), so it allocates one first and
 * a failure is VM_FAULT_OOM where the kernel cannot fail.
 */
vm_fault_t do_huge_pmd_wp_page(struct vm_fault *vmf, pmd_t orig)
{
	const bool unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	struct vm_area_struct *vma = vmf->vma;
	struct page *table, *page;
	struct folio *folio;
	spinlock_t *ptl;
	pmd_t entry;

	ptl = pmd_lock(vma->vm_mm, vmf->pmd);
	if (!pmd_same(pmdp_get(vmf->pmd), orig)) {
		spin_unlock(ptl);
		return 0;
	}
	page = pfn_to_page(pmd_pfn(orig));
	folio = page_folio(page);
	if ((vma->vm_flags & VM_MAYSHARE) || PageAnonExclusive(page))
		goto reuse;
	/* See do_wp_page(): reuse only without additional references. */
	if (folio_ref_count(folio) == 1) {
		SetPageAnonExclusive(page);	/* folio_move_anon_rmap() + this */
		goto reuse;
	}
	spin_unlock(ptl);

	table = pgtable_alloc();
	if (!table)
		return VM_FAULT_OOM;
	__split_huge_pmd(vma, vmf->pmd, vmf->address, table);
	return VM_FAULT_FALLBACK;

reuse:
	if (!unshare) {
		entry = pmd_mkdirty(pmd_mkyoung(orig));
		if (vma->vm_flags & VM_WRITE)
			entry = pmd_mkwrite(entry);
		set_pmd(vmf->pmd, entry);
	}
	spin_unlock(ptl);
	return 0;
}

/* huge_pmd_set_accessed() / touch_pmd() */
void huge_pmd_set_accessed(struct vm_fault *vmf, pmd_t orig)
{
	spinlock_t *ptl = pmd_lock(vmf->vma->vm_mm, vmf->pmd);
	pmd_t entry = pmd_mkyoung(orig);

	if (vmf->flags & FAULT_FLAG_WRITE)
		entry = pmd_mkdirty(entry);
	if (pmd_same(pmdp_get(vmf->pmd), orig) && !pmd_same(entry, orig))
		set_pmd(vmf->pmd, entry);
	spin_unlock(ptl);
}

/* huge_pud_set_accessed() / touch_pud() */
void huge_pud_set_accessed(struct vm_fault *vmf, pud_t orig)
{
	spinlock_t *ptl = pud_lock(vmf->vma->vm_mm, vmf->pud);
	pud_t entry = pud_mkyoung(orig);

	if (vmf->flags & FAULT_FLAG_WRITE)
		entry = pud_mkdirty(entry);
	if (pud_same(pudp_get(vmf->pud), orig) && !pud_same(entry, orig))
		set_pud(vmf->pud, entry);
	spin_unlock(ptl);
}

/* ---------------- huge pfnmap inserts (ref §2.5) ---------------- */

/* The BUG_ONs at the top of vmf_insert_pfn_pmd()/_pud(). */
static void insert_pfn_check_vma(const struct vm_area_struct *vma)
{
	vm_flags_t f = vma->vm_flags;

	BUG_ON(!(f & (VM_PFNMAP | VM_MIXEDMAP)));
	BUG_ON((f & (VM_PFNMAP | VM_MIXEDMAP)) == (VM_PFNMAP | VM_MIXEDMAP));
	BUG_ON((f & VM_PFNMAP) && is_cow_mapping(f));
}

/*
 * insert_pmd()/insert_pud() for a pfn, the level lock held.  An existing
 * entry is only ever refreshed (write: young, dirty, writable iff
 * VM_WRITE), and only if it maps the same pfn; a different pfn is a driver
 * bug (WARN, entry unchanged).  A new entry is a special huge leaf: no
 * refcount, no rmap.  Returns whether an entry was installed.
 */
static bool insert_pfn_pmd_locked(struct vm_area_struct *vma, pmd_t *pmd, unsigned long pfn,
				  bool write)
{
	pmd_t old = pmdp_get(pmd), entry;

	if (!pmd_none(old)) {
		if (!write || WARN_ON_ONCE(pmd_pfn(old) != pfn))
			return false;
		entry = pmd_mkdirty(pmd_mkyoung(old));
		if (vma->vm_flags & VM_WRITE)
			entry = pmd_mkwrite(entry);
		set_pmd(pmd, entry);
		return false;
	}
	entry = pmd_mkspecial(pmd_mkhuge(pfn_pmd(pfn, vma->vm_page_prot)));
	if (write) {
		entry = pmd_mkdirty(pmd_mkyoung(entry));
		if (vma->vm_flags & VM_WRITE)
			entry = pmd_mkwrite(entry);
	}
	set_pmd(pmd, entry);
	return true;
}

static bool insert_pfn_pud_locked(struct vm_area_struct *vma, pud_t *pud, unsigned long pfn,
				  bool write)
{
	pud_t old = pudp_get(pud), entry;

	if (!pud_none(old)) {
		if (!write || WARN_ON_ONCE(pud_pfn(old) != pfn))
			return false;
		entry = pud_mkdirty(pud_mkyoung(old));
		if (vma->vm_flags & VM_WRITE)
			entry = pud_mkwrite(entry);
		set_pud(pud, entry);
		return false;
	}
	entry = pud_mkspecial(pud_mkhuge(pfn_pud(pfn, vma->vm_page_prot)));
	if (write) {
		entry = pud_mkdirty(pud_mkyoung(entry));
		if (vma->vm_flags & VM_WRITE)
			entry = pud_mkwrite(entry);
	}
	set_pud(pud, entry);
	return true;
}

/*
 * vmf_insert_pfn_pmd(): vmf->pmd is the PMD slot the fault path found.
 * Only the start of the aligned range is checked against the VMA, as
 * upstream does; the driver has checked the rest (is_aligned_for_order()).
 * pfnmap_setup_cachemode_pfn() is not modelled: vm_page_prot already
 * carries the BAR's cache mode.  x86 deposits no table for pfnmap PMDs.
 */
vm_fault_t vmf_insert_pfn_pmd(struct vm_fault *vmf, unsigned long pfn, bool write)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long addr = vmf->address & PMD_MASK;
	spinlock_t *ptl;
	bool installed;

	insert_pfn_check_vma(vma);
	if (addr < vma->vm_start || addr >= vma->vm_end)
		return VM_FAULT_SIGBUS;
	if (WARN_ON_ONCE(!vmf->pmd))
		return VM_FAULT_SIGBUS;

	ptl = pmd_lock(vma->vm_mm, vmf->pmd);
	installed = insert_pfn_pmd_locked(vma, vmf->pmd, pfn, write);
	spin_unlock(ptl);
	if (installed)
		atomic_fetch_add_explicit(&vma->vm_mm->fault_stats.pmd, 1, memory_order_relaxed);
	return VM_FAULT_NOPAGE;
}

/* vmf_insert_pfn_pud(): as above, under pud_lock (mm->page_table_lock). */
vm_fault_t vmf_insert_pfn_pud(struct vm_fault *vmf, unsigned long pfn, bool write)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long addr = vmf->address & PUD_MASK;
	spinlock_t *ptl;
	bool installed;

	insert_pfn_check_vma(vma);
	if (addr < vma->vm_start || addr >= vma->vm_end)
		return VM_FAULT_SIGBUS;
	if (WARN_ON_ONCE(!vmf->pud))
		return VM_FAULT_SIGBUS;

	ptl = pud_lock(vma->vm_mm, vmf->pud);
	installed = insert_pfn_pud_locked(vma, vmf->pud, pfn, write);
	spin_unlock(ptl);
	if (installed)
		atomic_fetch_add_explicit(&vma->vm_mm->fault_stats.pud, 1, memory_order_relaxed);
	return VM_FAULT_NOPAGE;
}

/* ---------------- splitting (ref §2.7) ---------------- */

/*
 * __split_huge_pud(): under pud_lock, if still a leaf, clear it
 * (pudp_huge_clear_flush()).  __split_huge_pud_locked() returns at once for
 * every non-DAX VMA, so a pfnmap PUD is simply gone: no PMD table is made,
 * and the next access refaults.  Hugetlb PUDs are never split: the kernel's
 * callers route hugetlb VMAs elsewhere, so a call here is a bug (WARN).
 */
void split_huge_pud(struct vm_area_struct *vma, pud_t *pud, unsigned long addr)
{
	spinlock_t *ptl;

	if (!pud_trans_huge(pudp_get(pud)))
		return;
	if (WARN_ON_ONCE(is_vm_hugetlb_page(vma)))
		return;
	ptl = pud_lock(vma->vm_mm, pud);
	if (pud_trans_huge(pudp_get(pud)))
		pudp_huge_get_and_clear(pud);
	spin_unlock(ptl);
	/* __split_huge_pud()'s mmu_notifier range: the leaf is gone. */
	mm_notify_zap(vma->vm_mm, addr & PUD_MASK, (addr & PUD_MASK) + PUD_SIZE);
}

/*
 * The anonymous branch of __split_huge_pmd_locked(), PMD lock held: the
 * folio's 512 pages go into @table with the leaf's write/young/dirty bits,
 * the folio gains the 511 references of the extra mappings
 * (folio_ref_add(HPAGE_PMD_NR - 1); the PMD's one becomes the first PTE's),
 * and the PMD then points at the table.
 *
 * Simplifications: the kernel withdraws the table deposited at THP fault
 * time, so a split never allocates; here the caller allocates it before
 * taking the lock.  The kernel first invalidates the PMD (pmdp_invalidate())
 * and populates afterwards, so that hardware A/D updates are not lost; here
 * the leaf is replaced by the table in one release store, which lockless
 * readers see as either the old leaf or the full table.
 * PG_anon_exclusive stays on the head page only (tail pages are never
 * written, page.h): the PTEs inherit the PMD's exclusivity, as each page
 * does in the kernel (mm_types.h PageAnonExclusive()).
 */
static void __split_huge_pmd_anon(struct vm_area_struct *vma, pmd_t *pmd, pmd_t old,
				  struct page *table)
{
	unsigned long pfn = pmd_pfn(old);
	struct folio *folio = page_folio(pfn_to_page(pfn));
	pte_t *ptes = page_address(table);
	unsigned int i;

	/*
	 * The kernel starts from vm_page_prot and applies the PMD's bits; the
	 * PMD's own protection bits give the same entries, and keep the
	 * leaves of a PROT_NONE VMA present as sim/mprotect.c keeps them
	 * (PAGE_NONE has no present bit here).
	 */
	pgprot_t prot = __pgprot(pgprot_val(pmd_pgprot(old)) & ~(_PAGE_PSE | _PAGE_RW |
								 _PAGE_ACCESSED | _PAGE_DIRTY));

	for (i = 0; i < PTRS_PER_PTE; i++) {
		pte_t entry = pfn_pte(pfn + i, prot);

		if (pmd_write(old))
			entry = pte_mkwrite(entry);
		if (pmd_young(old))
			entry = pte_mkyoung(entry);
		if (pmd_dirty(old))
			entry = pte_mkdirty(entry);
		set_pte(&ptes[i], entry);
	}
	folio_ref_add(folio, HPAGE_PMD_NR - 1);
	set_pmd(pmd, pmd_mktable(page_to_pfn(table)));
	atomic_fetch_add_explicit(&vma->vm_mm->nr_ptes, 1, memory_order_relaxed);
}

/*
 * __split_huge_pmd(freeze = false): under the PMD lock, if still a leaf.
 * Anonymous THP: split into @table, a PTE table mapping the same pages.
 * Any other VMA: the leaf is cleared (pmdp_huge_clear_flush()); for a
 * pfnmap (vma_is_special_huge()) that is all, the PMD is left none.
 * Non-special file THPs (the folio_remove_rmap_pmd() + folio_put() branch)
 * do not exist in the simulation.  Hugetlb PMDs are never split (WARN).
 * @table (anonymous VMAs; NULL otherwise) stands for the deposited table
 * the kernel withdraws: it is consumed, or freed if the leaf went meanwhile.
 */
void __split_huge_pmd(struct vm_area_struct *vma, pmd_t *pmd, unsigned long addr,
		      struct page *table)
{
	bool cleared = false;
	spinlock_t *ptl;
	pmd_t old;

	if (WARN_ON_ONCE(is_vm_hugetlb_page(vma)))
		goto out;
	ptl = pmd_lock(vma->vm_mm, pmd);
	old = pmdp_get(pmd);
	if (pmd_trans_huge(old)) {
		if (vma_is_anonymous(vma)) {
			if (!WARN_ON_ONCE(!table)) {
				__split_huge_pmd_anon(vma, pmd, old, table);
				table = NULL;
			}
		} else {
			pmdp_huge_get_and_clear(pmd);
			cleared = true;
		}
	}
	spin_unlock(ptl);
	/*
	 * __split_huge_pmd()'s mmu_notifier range.  An anonymous split maps
	 * the same pages with PTEs, which a secondary MMU may keep.
	 */
	if (cleared)
		mm_notify_zap(vma->vm_mm, addr & PMD_MASK, (addr & PMD_MASK) + PMD_SIZE);
out:
	if (table)
		folio_put((struct folio *)table);	/* raced: not needed */
}

/*
 * split_huge_pmd(): only if trans huge.  For an anonymous THP the table
 * the kernel would withdraw from the deposit is allocated first; without
 * one the THP cannot be split and stays (WARN).
 */
void split_huge_pmd(struct vm_area_struct *vma, pmd_t *pmd, unsigned long addr)
{
	struct page *table = NULL;

	if (!pmd_trans_huge(pmdp_get(pmd)))
		return;
	if (vma_is_anonymous(vma) && !is_vm_hugetlb_page(vma)) {
		table = pgtable_alloc();
		/* Without its deposited table a THP cannot be split: keep it. */
		if (WARN_ON_ONCE(!table))
			return;
	}
	__split_huge_pmd(vma, pmd, addr, table);
}

/* ---------------- fork (ref: mm/huge_memory.c copy_huge_pmd/pud) ---------------- */

/*
 * copy_huge_pmd() (6.12): both mmap locks held for write, so the source
 * PMD cannot change under the copy.
 *  - A special (pfnmap) leaf is copied as it is (6.12's "mm/fork: accept
 *    huge pfnmap entries"); a COW mapping never has a writable one (WARN).
 *  - Any other non-anonymous leaf is left for the child to refault.
 *  - An anonymous THP is shared write-protected in both, unless it may be
 *    pinned while exclusive (folio_try_dup_anon_rmap()): then the parent's
 *    PMD is split and -EAGAIN makes copy_pmd_range() copy the PTEs, where
 *    copy_present_page() gives the child copies of the pinned pages.
 * The kernel allocates the child's deposit table first (pte_alloc_one(),
 * -ENOMEM); the simulation does too, and uses it for the parent's split or
 * frees it (nothing is deposited here).  Shared anonymous THPs (shmem in
 * the kernel, see vma_needs_copy()) are shared as they are.
 */
int copy_huge_pmd(struct mm_struct *dst_mm, struct mm_struct *src_mm, pmd_t *dst_pmd,
		  pmd_t *src_pmd, unsigned long addr, struct vm_area_struct *dst_vma,
		  struct vm_area_struct *src_vma)
{
	spinlock_t *dst_ptl, *src_ptl;
	struct page *table = NULL;
	struct folio *folio;
	struct page *page;
	int ret;
	pmd_t pmd = pmdp_get(src_pmd);

	if (pmd_present(pmd) && pmd_special(pmd)) {
		dst_ptl = pmd_lock(dst_mm, dst_pmd);
		src_ptl = pmd_lock(src_mm, src_pmd);
		WARN_ON_ONCE(is_cow_mapping(src_vma->vm_flags) && pmd_write(pmd));
		goto set_pmd;
	}
	/* Skip if can be re-filled on fault. */
	if (!vma_is_anonymous(dst_vma))
		return 0;
	table = pgtable_alloc();
	if (!table)
		return -ENOMEM;

	dst_ptl = pmd_lock(dst_mm, dst_pmd);
	src_ptl = pmd_lock(src_mm, src_pmd);
	ret = -EAGAIN;
	pmd = pmdp_get(src_pmd);
	if (unlikely(!pmd_trans_huge(pmd)))
		goto out_unlock;
	page = pfn_to_page(pmd_pfn(pmd));
	folio = page_folio(page);
	folio_get(folio);
	if (folio_test_anon_in(folio, src_vma) &&
	    unlikely(folio_try_dup_anon_rmap(folio, page, src_vma))) {
		/* Page maybe pinned: split and retry the fault on PTEs. */
		folio_put(folio);
		spin_unlock(src_ptl);
		spin_unlock(dst_ptl);
		__split_huge_pmd(src_vma, src_pmd, addr, table);
		return -EAGAIN;
	}
	if (is_cow_mapping(src_vma->vm_flags)) {
		set_pmd(src_pmd, pmd_wrprotect(pmd));	/* pmdp_set_wrprotect() */
		pmd = pmd_wrprotect(pmd);
	}
set_pmd:
	set_pmd(dst_pmd, pmd_mkold(pmd));
	ret = 0;
out_unlock:
	spin_unlock(src_ptl);
	spin_unlock(dst_ptl);
	if (table)
		folio_put((struct folio *)table);	/* the deposit: not modelled */
	return ret;
}

/*
 * copy_huge_pud() (6.12): PUD leaves are pfnmaps here (no anonymous PUD
 * THPs, hugetlb goes through copy_hugetlb_page_range()): copied, and
 * write-protected in both only in a COW mapping.
 */
int copy_huge_pud(struct mm_struct *dst_mm, struct mm_struct *src_mm, pud_t *dst_pud,
		  pud_t *src_pud, unsigned long addr, struct vm_area_struct *vma)
{
	spinlock_t *dst_ptl, *src_ptl;
	int ret = -EAGAIN;
	pud_t pud;

	(void)addr;
	dst_ptl = pud_lock(dst_mm, dst_pud);
	src_ptl = pud_lock(src_mm, src_pud);
	pud = pudp_get(src_pud);
	if (unlikely(!pud_trans_huge(pud)))
		goto out_unlock;
	if (is_cow_mapping(vma->vm_flags) && pud_write(pud)) {
		set_pud(src_pud, pud_wrprotect(pud));	/* pudp_set_wrprotect() */
		pud = pud_wrprotect(pud);
	}
	set_pud(dst_pud, pud_mkold(pud));
	ret = 0;
out_unlock:
	spin_unlock(src_ptl);
	spin_unlock(dst_ptl);
	return ret;
}
