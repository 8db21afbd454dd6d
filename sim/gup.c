// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/gup.c (ref §6): pin_user_pages_remote() and the unpin family.
 *
 * The slow path only (__get_user_pages): no GUP-fast, which vfio type1 does
 * not use.  FOLL_PIN accounting follows include/linux/mm.h: a small folio
 * gets GUP_PIN_COUNTING_BIAS references per pin, a large folio one
 * reference and one _pincount per page.
 *
 * Left out, and why:
 *  - FOLL_LONGTERM migration (check_and_migrate_movable_pages): the
 *    simulation has no ZONE_MOVABLE or CMA, so there is never anything to
 *    migrate and __gup_longterm_locked() is just __get_user_pages_locked().
 *  - The zero page (no pin taken on it): it does not exist here.
 *  - Stack expansion in gup_vma_lookup() and the gate area: no stacks.
 *  - PCI P2PDMA pages and ZONE_DEVICE: BARs have no struct page here.
 *  - folio_mark_accessed()/touch_pmd()/touch_pud(): there is no reclaim or
 *    page aging, so the accessed bits are never read.
 *  - writable_file_mapping_allowed(): no file system with dirty tracking.
 */
#include <errno.h>

#include "machine.h"
#include "mm.h"
#include "pgtable.h"
#include "task.h"

#define INTERNAL_GUP_FLAGS                                                                     \
	(FOLL_TOUCH | FOLL_TRIED | FOLL_REMOTE | FOLL_PIN | FOLL_FAST_ONLY | FOLL_UNLOCKABLE | \
	 FOLL_MADV_POPULATE)

/* ------------------------------------------------------------------------ */
/* Reference accounting                                                      */
/* ------------------------------------------------------------------------ */

/* try_grab_folio(): @refs references of the kind @flags asks for. */
static int try_grab_folio(struct folio *folio, unsigned long refs, unsigned int flags)
{
	if (WARN_ON_ONCE(folio_ref_count(folio) <= 0))
		return -ENOMEM;
	if (flags & FOLL_GET) {
		folio_ref_add(folio, (int)refs);
	} else if (flags & FOLL_PIN) {
		if (folio_test_large(folio)) {
			folio_ref_add(folio, (int)refs);
			atomic_fetch_add_explicit(&folio->page._pincount, (int)refs,
						  memory_order_relaxed);
		} else {
			folio_ref_add(folio, (int)(refs * GUP_PIN_COUNTING_BIAS));
		}
	}
	return 0;
}

/*
 * gup_put_folio(flags = FOLL_PIN).  The underflow check is the
 * simulation's own: an unbalanced unpin would otherwise free a page that
 * is still mapped, and show up far from its cause.
 */
static void gup_put_folio(struct folio *folio, unsigned long refs)
{
	if (folio_test_large(folio)) {
		if (WARN_ON_ONCE(folio_pincount(folio) < (int)refs))
			return;
		atomic_fetch_sub_explicit(&folio->page._pincount, (int)refs, memory_order_relaxed);
	} else {
		if (WARN_ON_ONCE((unsigned int)folio_ref_count(folio) <
				 refs * GUP_PIN_COUNTING_BIAS))
			return;
		refs *= GUP_PIN_COUNTING_BIAS;
	}
	folio_put_refs(folio, (int)refs);
}

/* folio_mark_dirty() of an anonymous folio: just the flag (no mapping). */
static void folio_mark_dirty(struct folio *folio)
{
	if (!(page_flags(&folio->page) & PG_dirty))
		SetPageFlag(&folio->page, PG_dirty);
}

/* ------------------------------------------------------------------------ */
/* follow_page_mask()                                                        */
/* ------------------------------------------------------------------------ */

/*
 * The walk position kept between pages of one __get_user_pages() call: the
 * PMD table covering [pud_start, pud_start + PUD_SIZE).  The mmap lock is
 * held for the whole call, and page tables are freed only by free_pgtables()
 * under the mmap write lock (pgtable.h), so a PUD that points to a PMD table
 * keeps pointing to it and the table's address stays right; the PMD entry itself is re-read for every page, and the PTE
 * lock is still taken and released per page as in follow_page_pte().
 */
struct gup_walk {
	pmd_t *pmd_table;
	unsigned long pud_start;
};

/*
 * What a follow step found: > 0 pages grabbed (*pagep is the first), 0 no
 * page (fault it in: the kernel's NULL), or -errno (the kernel's ERR_PTR).
 */
typedef long follow_t;

/* no_page_table(): NULL, or -EFAULT for core dumps so as not to fault. */
static follow_t no_page_table(unsigned int flags)
{
	return (flags & FOLL_DUMP) ? -EFAULT : 0;
}

static unsigned long min_ul(unsigned long a, unsigned long b)
{
	return a < b ? a : b;
}

/* can_follow_write_pte()/_pmd(): may a FOLL_WRITE use this entry as is? */
static bool can_follow_write(bool writable, struct page *page, struct vm_area_struct *vma,
			     unsigned int flags)
{
	if (writable)
		return true;
	/* FOLL_FORCE: only a private, read-only, COW-broken exclusive anon page. */
	if (!(flags & FOLL_FORCE))
		return false;
	if (vma->vm_flags & (VM_MAYSHARE | VM_SHARED))
		return false;
	if (!(vma->vm_flags & VM_MAYWRITE))
		return false;
	if (vma->vm_flags & VM_WRITE)
		return false;
	if (!page || folio_type(page_folio(page)) != PGTY_anon)
		return false;
	/* PageAnonExclusive(): kept on the folio head in this model (mm_types.h). */
	return PageAnonExclusive(page);
}

/*
 * gup_must_unshare() (mm/internal.h): a read-only pin (FOLL_PIN without
 * FOLL_WRITE) of a page mapped read-only must not pin a page another
 * process shares since fork, or a later COW would leave the pin on a page
 * the process no longer maps: an anonymous page that is not exclusive is
 * unshared first (-EMLINK: a FAULT_FLAG_UNSHARE fault); a non-anonymous
 * one in a COW mapping only for a long-term pin.  A writable entry maps an
 * exclusive page already.
 */
static bool gup_must_unshare(struct vm_area_struct *vma, unsigned int flags, struct page *page)
{
	if ((flags & (FOLL_WRITE | FOLL_PIN)) != FOLL_PIN)
		return false;
	if (!folio_test_anon_in(page_folio(page), vma)) {
		if (!(flags & FOLL_LONGTERM))
			return false;
		return is_cow_mapping(vma->vm_flags);
	}
	return !PageAnonExclusive(page);
}

/*
 * The common tail of follow_huge_pud()/follow_huge_pmd(), under the leaf's
 * lock: the page for @addr and the rest of the leaf up to @want pages, all
 * grabbed at once (the kernel grabs one here and page_increm - 1 more in
 * __get_user_pages(); the counts are the same).
 */
static follow_t follow_huge_leaf(struct vm_area_struct *vma, unsigned long addr, struct page *head,
				 bool writable, unsigned long leaf_mask, unsigned int flags,
				 unsigned long want, struct page **pagep)
{
	unsigned long idx = (addr & ~leaf_mask) >> PAGE_SHIFT;
	unsigned long nr = min_ul(want, ((~leaf_mask) >> PAGE_SHIFT) + 1 - idx);
	struct page *page;
	int ret;

	if (!head)
		return -EEXIST; /* a special leaf: no struct page */
	page = head + idx;
	/* follow_huge_pmd()/follow_huge_pud(): unshare first. */
	if (!writable && gup_must_unshare(vma, flags, page))
		return -EMLINK;
	ret = try_grab_folio(page_folio(page), nr, flags);
	if (ret)
		return ret;
	*pagep = page;
	return (follow_t)nr;
}

/* follow_huge_pud(), with the PUD lock taken here. */
static follow_t follow_huge_pud(struct vm_area_struct *vma, unsigned long addr, pud_t *pudp,
				unsigned int flags, unsigned long want, struct page **pagep)
{
	spinlock_t *ptl = pud_lock(vma->vm_mm, pudp);
	pud_t pud = pudp_get(pudp);
	follow_t ret;

	if (!pud_present(pud) || !pud_leaf(pud))
		/* Zapped or split meanwhile: fault and look again. */
		ret = 0;
	else if ((flags & FOLL_WRITE) && !pud_write(pud))
		ret = 0;
	else
		ret = follow_huge_leaf(vma, addr, vm_normal_page_pud(vma, addr, pud),
				       pud_write(pud), PUD_MASK, flags, want, pagep);
	spin_unlock(ptl);
	return ret;
}

/* follow_page_pte(): one page, under the PTE lock. */
static follow_t follow_page_pte(struct vm_area_struct *vma, unsigned long addr, pmd_t *pmdp,
				unsigned int flags, struct page **pagep)
{
	struct page *page;
	struct folio *folio;
	spinlock_t *ptl;
	pte_t *ptep, pte;
	follow_t ret = 1;

	ptep = pte_offset_map_lock(vma->vm_mm, pmdp, addr, &ptl);
	if (!ptep)
		return no_page_table(flags);
	pte = ptep_get(ptep);
	if (!pte_present(pte)) {
		pte_unmap_unlock(ptep, ptl);
		return no_page_table(flags);
	}
	page = vm_normal_page(vma, addr, pte);
	if ((flags & FOLL_WRITE) && !can_follow_write(pte_write(pte), page, vma, flags)) {
		ret = 0;
		goto out;
	}
	if (unlikely(!page)) {
		/*
		 * follow_pfn_pte(): a proper entry with no struct page.  (Its
		 * FOLL_TOUCH young/dirty update is left out: no aging here.)
		 */
		ret = (flags & FOLL_DUMP) ? -EFAULT : -EEXIST;
		goto out;
	}
	if (!pte_write(pte) && gup_must_unshare(vma, flags, page)) {
		ret = -EMLINK;
		goto out;
	}
	folio = page_folio(page);
	ret = try_grab_folio(folio, 1, flags);
	if (unlikely(ret))
		goto out;
	ret = 1;
	/* FOLL_TOUCH: a write through the pin will dirty the folio. */
	if ((flags & (FOLL_TOUCH | FOLL_WRITE)) == (FOLL_TOUCH | FOLL_WRITE) && !pte_dirty(pte))
		folio_mark_dirty(folio);
	*pagep = page;
out:
	pte_unmap_unlock(ptep, ptl);
	return ret;
}

/* follow_pmd_mask() from the PMD entry on. */
static follow_t follow_pmd_entry(struct vm_area_struct *vma, unsigned long addr, pmd_t *pmdp,
				 unsigned int flags, unsigned long want, struct page **pagep)
{
	struct mm_struct *mm = vma->vm_mm;
	pmd_t pmdval = pmdp_get_lockless(pmdp);
	struct page *head;
	spinlock_t *ptl;
	follow_t ret;

	if (!pmd_present(pmdval))
		return no_page_table(flags);
	if (likely(!pmd_leaf(pmdval)))
		return follow_page_pte(vma, addr, pmdp, flags, pagep);

	ptl = pmd_lock(mm, pmdp);
	pmdval = pmdp_get(pmdp);
	if (unlikely(!pmd_present(pmdval))) {
		spin_unlock(ptl);
		return no_page_table(flags);
	}
	if (unlikely(!pmd_leaf(pmdval))) {
		spin_unlock(ptl);
		return follow_page_pte(vma, addr, pmdp, flags, pagep);
	}
	if ((flags & FOLL_SPLIT_PMD) && !is_vm_hugetlb_page(vma)) {
		spin_unlock(ptl);
		split_huge_pmd(vma, pmdp, addr);
		/* If the PMD was left empty, stuff a page table in there. */
		if (pmd_none(pmdp_get(pmdp)) && __pte_alloc(mm, pmdp))
			return -ENOMEM;
		return follow_page_pte(vma, addr, pmdp, flags, pagep);
	}
	/* follow_huge_pmd() */
	head = vm_normal_page_pmd(vma, addr, pmdval);
	if ((flags & FOLL_WRITE) && !can_follow_write(pmd_write(pmdval), head, vma, flags))
		ret = 0;
	else
		ret = follow_huge_leaf(vma, addr, head, pmd_write(pmdval), PMD_MASK, flags, want,
				       pagep);
	spin_unlock(ptl);
	return ret;
}

/*
 * follow_page_mask(): the page for @addr with up to @want references
 * grabbed (more than one only from a PMD/PUD leaf, up to its end).  Huge
 * leaves — THP, hugetlb, huge pfnmap — go through the generic PUD/PMD
 * code, as in the kernel since hugetlb lost its own follow path.
 */
static follow_t follow_page_mask(struct vm_area_struct *vma, unsigned long addr, unsigned int flags,
				 unsigned long want, struct page **pagep, struct gup_walk *w)
{
	pgd_t *pgd;
	pud_t *pudp, pud;

	if (w->pmd_table && (addr & PUD_MASK) == w->pud_start)
		return follow_pmd_entry(vma, addr, w->pmd_table + pmd_index(addr), flags, want,
					pagep);

	pgd = pgd_offset(vma->vm_mm, addr);
	if (!pgd_present(pgdp_get(pgd)))
		return no_page_table(flags);
	pudp = pud_offset(p4d_offset(pgd, addr), addr);
	pud = pudp_get(pudp);
	if (!pud_present(pud))
		return no_page_table(flags);
	if (pud_leaf(pud))
		return follow_huge_pud(vma, addr, pudp, flags, want, pagep);
	w->pmd_table = pmd_offset_lockless(pud, 0);
	w->pud_start = addr & PUD_MASK;
	return follow_pmd_entry(vma, addr, w->pmd_table + pmd_index(addr), flags, want, pagep);
}

/* ------------------------------------------------------------------------ */
/* __get_user_pages()                                                        */
/* ------------------------------------------------------------------------ */

/*
 * faultin_page(): fault the page in with flags built from FOLL_*.  Without
 * FOLL_UNLOCKABLE the fault may not drop the mmap lock (no ALLOW_RETRY).
 */
static int faultin_page(struct vm_area_struct *vma, unsigned long address, unsigned int flags,
			bool unshare, int *locked)
{
	unsigned int fault_flags = 0;
	vm_fault_t ret;

	if (flags & FOLL_NOFAULT)
		return -EFAULT;
	if (flags & FOLL_WRITE)
		fault_flags |= FAULT_FLAG_WRITE;
	if (flags & FOLL_REMOTE)
		fault_flags |= FAULT_FLAG_REMOTE;
	if (flags & FOLL_UNLOCKABLE) {
		fault_flags |= FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE;
		if (flags & FOLL_INTERRUPTIBLE)
			fault_flags |= FAULT_FLAG_INTERRUPTIBLE;
	}
	if (flags & FOLL_NOWAIT)
		fault_flags |= FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_RETRY_NOWAIT;
	if (flags & FOLL_TRIED)
		fault_flags |= FAULT_FLAG_TRIED;
	if (unshare) {
		fault_flags |= FAULT_FLAG_UNSHARE;
		/* FAULT_FLAG_WRITE and FAULT_FLAG_UNSHARE are incompatible */
		WARN_ON_ONCE(fault_flags & FAULT_FLAG_WRITE);
	}

	ret = handle_mm_fault(vma, address, fault_flags);

	if (ret & VM_FAULT_COMPLETED) {
		/* The fault finished with the mmap lock released. */
		WARN_ON_ONCE(fault_flags & FAULT_FLAG_RETRY_NOWAIT);
		*locked = 0;
		return -EAGAIN;
	}
	if (ret & VM_FAULT_ERROR) {
		int err = vm_fault_to_errno(ret, (int)flags);

		if (err)
			return err;
		BUG_ON(1);
	}
	if (ret & VM_FAULT_RETRY) {
		if (!(fault_flags & FAULT_FLAG_RETRY_NOWAIT))
			*locked = 0;
		return -EBUSY;
	}
	return 0;
}

/* check_vma_flags(): can GUP use this VMA at all, for this access? */
static int check_vma_flags(struct vm_area_struct *vma, unsigned int gup_flags)
{
	vm_flags_t vm_flags = vma->vm_flags;

	/* Raw pfns have no struct page to pin (seeds/02, checklist 56). */
	if (vm_flags & (VM_IO | VM_PFNMAP))
		return -EFAULT;
	if ((gup_flags & FOLL_ANON) && !vma_is_anonymous(vma))
		return -EFAULT;
	if ((gup_flags & FOLL_SPLIT_PMD) && is_vm_hugetlb_page(vma))
		return -EOPNOTSUPP;
	if (gup_flags & FOLL_WRITE) {
		if (!(vm_flags & VM_WRITE)) {
			if (!(gup_flags & FOLL_FORCE))
				return -EFAULT;
			/* hugetlb does not support FOLL_FORCE|FOLL_WRITE. */
			if (is_vm_hugetlb_page(vma))
				return -EFAULT;
			/* A forced write COWs: only in a private mapping. */
			if (!is_cow_mapping(vm_flags))
				return -EFAULT;
		}
	} else if (!(vm_flags & VM_READ)) {
		if (!(gup_flags & FOLL_FORCE))
			return -EFAULT;
		if (!(vm_flags & VM_MAYREAD))
			return -EFAULT;
	}
	return 0;
}

static void fill_pages(struct page **pages, struct page *page, long n)
{
	for (long j = 0; j < n; j++)
		pages[j] = page + j;
}

/*
 * __get_user_pages(): walk, fault what is missing, grab.  Returns the
 * number of pages done, or -errno if none: a partial count wins.
 */
static long __get_user_pages(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
			     unsigned int gup_flags, struct page **pages, int *locked)
{
	struct vm_area_struct *vma = NULL;
	struct gup_walk walk = {0};
	long ret = 0, i = 0;

	if (!nr_pages)
		return 0;
	do {
		struct page *page = NULL;
		follow_t n;

		/* First iteration, or crossed into the next VMA. */
		if (!vma || start >= vma->vm_end) {
			vma = vma_lookup(mm, start); /* gup_vma_lookup() */
			if (!vma) {
				ret = -EFAULT;
				goto out;
			}
			ret = check_vma_flags(vma, gup_flags);
			if (ret)
				goto out;
		}
retry:
		/* A pending SIGKILL: stop faulting and allocating (checklist 57). */
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out;
		}
		cond_resched();

		n = follow_page_mask(vma, start, gup_flags, nr_pages, &page, &walk);
		if (n == 0 || n == -EMLINK) {
			ret = faultin_page(vma, start, gup_flags, n == -EMLINK, locked);
			switch (ret) {
			case 0:
				goto retry;
			case -EBUSY:
			case -EAGAIN:
				ret = 0;
				goto out;
			case -EFAULT:
			case -ENOMEM:
			case -EHWPOISON:
				goto out;
			}
			BUG_ON(1);
		} else if (n == -EEXIST) {
			/* A proper entry without a struct page: pages[] cannot take it. */
			if (pages) {
				ret = -EEXIST;
				goto out;
			}
			n = 1;
		} else if (n < 0) {
			ret = n;
			goto out;
		}
		if (pages && page)
			fill_pages(pages + i, page, n);
		i += n;
		start += (unsigned long)n << PAGE_SHIFT;
		nr_pages -= (unsigned long)n;
	} while (nr_pages);
out:
	return i ? i : ret;
}

/* mm_set_has_pinned_flag(): test first, so repeated pins do not bounce the line. */
static void mm_set_has_pinned_flag(struct mm_struct *mm)
{
	if (!(atomic_load_explicit(&mm->flags, memory_order_relaxed) & MMF_HAS_PINNED))
		atomic_fetch_or_explicit(&mm->flags, MMF_HAS_PINNED, memory_order_relaxed);
}

/*
 * __get_user_pages_locked(): one pass without FOLL_UNLOCKABLE; with it,
 * when a fault dropped the mmap lock, re-take it and go on one page at a
 * time with FOLL_TRIED, as the kernel does.
 */
static long __get_user_pages_locked(struct mm_struct *mm, unsigned long start,
				    unsigned long nr_pages, struct page **pages, int *locked,
				    unsigned int flags)
{
	bool must_unlock = false;
	long ret, pages_done;

	/* Nothing asked, nothing done (and no "failed to pin" WARN below). */
	if (!nr_pages)
		return 0;
	if (!*locked) {
		if (mmap_read_lock_killable(mm))
			return -EAGAIN;
		must_unlock = true;
		*locked = 1;
	} else {
		mmap_assert_locked(mm);
	}
	if (flags & FOLL_PIN)
		mm_set_has_pinned_flag(mm);
	if (pages && !(flags & FOLL_PIN))
		flags |= FOLL_GET;

	pages_done = 0;
	for (;;) {
		ret = __get_user_pages(mm, start, nr_pages, flags, pages, locked);
		if (!(flags & FOLL_UNLOCKABLE)) {
			/* VM_FAULT_RETRY could not happen. */
			pages_done = ret;
			break;
		}
		/* VM_FAULT_RETRY or VM_FAULT_COMPLETED cannot return errors. */
		if (!*locked) {
			BUG_ON(ret < 0);
			BUG_ON((unsigned long)ret >= nr_pages);
		}
		if (ret > 0) {
			nr_pages -= ret;
			pages_done += ret;
			if (!nr_pages)
				break;
		}
		if (*locked) {
			/* No retry happened (or FOLL_NOWAIT). */
			if (!pages_done)
				pages_done = ret;
			break;
		}
		/* The lock was dropped: seek to the page that faulted. */
		if (likely(pages))
			pages += ret;
		start += (unsigned long)ret << PAGE_SHIFT;
		must_unlock = true;
retry:
		if (fatal_signal_pending(current)) {
			if (!pages_done)
				pages_done = -EINTR;
			break;
		}
		ret = mmap_read_lock_killable(mm);
		if (ret) {
			if (!pages_done)
				pages_done = ret;
			break;
		}
		*locked = 1;
		ret = __get_user_pages(mm, start, 1, flags | FOLL_TRIED, pages, locked);
		if (!*locked) {
			/* Continue to retry until we succeed. */
			BUG_ON(ret != 0);
			goto retry;
		}
		if (ret != 1) {
			BUG_ON(ret > 1);
			if (!pages_done)
				pages_done = ret;
			break;
		}
		nr_pages--;
		pages_done++;
		if (!nr_pages)
			break;
		if (likely(pages))
			pages++;
		start += PAGE_SIZE;
	}
	if (must_unlock && *locked) {
		/* We dropped the lock (or took it): unlock and tell the caller. */
		mmap_read_unlock(mm);
		*locked = 0;
	}
	/* Nothing done and no error means something went wrong. */
	if (WARN_ON_ONCE(pages_done == 0 && !(flags & FOLL_NOWAIT)))
		return -EFAULT;
	return pages_done;
}

/* is_valid_gup_args(): reject misuse with a WARN; the caller returns 0. */
static bool is_valid_gup_args(struct page **pages, int *locked, unsigned int *gup_flags_p,
			      unsigned int to_set)
{
	unsigned int gup_flags = *gup_flags_p;

	if (WARN_ON_ONCE(gup_flags & INTERNAL_GUP_FLAGS))
		return false;
	gup_flags |= to_set;
	if (locked) {
		/* At the external interface *locked must be 1. */
		if (WARN_ON_ONCE(*locked != 1))
			return false;
		gup_flags |= FOLL_UNLOCKABLE;
	}
	if (WARN_ON_ONCE((gup_flags & (FOLL_PIN | FOLL_GET)) == (FOLL_PIN | FOLL_GET)))
		return false;
	if (WARN_ON_ONCE(!(gup_flags & FOLL_PIN) && (gup_flags & FOLL_LONGTERM)))
		return false;
	if (WARN_ON_ONCE((gup_flags & (FOLL_GET | FOLL_PIN)) && !pages))
		return false;
	if (WARN_ON_ONCE((gup_flags & FOLL_LONGTERM) && (gup_flags & FOLL_PCI_P2PDMA)))
		return false;
	*gup_flags_p = gup_flags;
	return true;
}

long pin_user_pages_remote(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
			   unsigned int gup_flags, struct page **pages, int *locked)
{
	int local_locked = 1;

	if (!is_valid_gup_args(pages, locked, &gup_flags, FOLL_PIN | FOLL_TOUCH | FOLL_REMOTE))
		return 0;
	/* __gup_longterm_locked(): no migration here (see the top). */
	return __get_user_pages_locked(mm, start, nr_pages, pages, locked ? locked : &local_locked,
				       gup_flags);
}

/* ------------------------------------------------------------------------ */
/* Unpin                                                                     */
/* ------------------------------------------------------------------------ */

void unpin_user_page(struct page *page)
{
	gup_put_folio(page_folio(page), 1);
}

/* gup_folio_next(): the folio of pages[i] and how many entries in a row share it. */
static struct folio *gup_folio_next(struct page **pages, unsigned long npages, unsigned long i,
				    unsigned long *ntails)
{
	struct folio *folio = page_folio(pages[i]);
	unsigned long nr = 1;

	if (folio_test_large(folio))
		for (nr = i + 1; nr < npages; nr++)
			if (!pages[nr] || page_folio(pages[nr]) != folio)
				break;
	*ntails = folio_test_large(folio) ? nr - i : 1;
	return folio;
}

void unpin_user_pages(struct page **pages, unsigned long npages)
{
	unsigned long i, nr;

	if (WARN_ON(IS_ERR_VALUE(npages)))
		return;
	for (i = 0; i < npages; i += nr) {
		struct folio *folio;

		if (!pages[i]) {
			nr = 1;
			continue;
		}
		folio = gup_folio_next(pages, npages, i, &nr);
		gup_put_folio(folio, nr);
	}
}

void unpin_user_pages_dirty_lock(struct page **pages, unsigned long npages, bool make_dirty)
{
	unsigned long i, nr;

	if (!make_dirty) {
		unpin_user_pages(pages, npages);
		return;
	}
	for (i = 0; i < npages; i += nr) {
		struct folio *folio;

		if (!pages[i]) {
			nr = 1;
			continue;
		}
		folio = gup_folio_next(pages, npages, i, &nr);
		/* The kernel takes the folio lock around this; no writeback here. */
		folio_mark_dirty(folio);
		gup_put_folio(folio, nr);
	}
}

/* gup_folio_range_next(): the folio of start + i and its pages left in the range. */
static struct folio *gup_folio_range_next(struct page *start, unsigned long npages, unsigned long i,
					  unsigned long *ntails)
{
	struct page *next = start + i;
	struct folio *folio = page_folio(next);
	unsigned long idx = page_to_pfn(next) - folio_pfn(folio), nr = 1;

	if (folio_test_large(folio))
		nr = min_ul(npages - i, folio_nr_pages(folio) - idx);
	*ntails = nr;
	return folio;
}

void unpin_user_page_range_dirty_lock(struct page *page, unsigned long npages, bool make_dirty)
{
	unsigned long i, nr;

	for (i = 0; i < npages; i += nr) {
		struct folio *folio = gup_folio_range_next(page, npages, i, &nr);

		if (make_dirty)
			folio_mark_dirty(folio);
		gup_put_folio(folio, nr);
	}
}
