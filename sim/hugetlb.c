// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hugetlb pools, reservations and faults (mm/hugetlb.c).
 *
 * Each hstate (2M and 1G) owns a pool filled at machine creation.  Free
 * pool folios have refcount 0, as on the kernel's hugepage_freelists
 * (enqueue_hugetlb_folio() asserts it), and are chained through the head
 * page's next_free (pfn, 0 ends: pfn 0 is reserved RAM, never a hugetlb
 * page).  They keep PG_head, their order and PGTY_hugetlb for life.
 *
 * Reservations: a mapping reserves its pages at mmap (hugetlb_reserve_pages()
 * from the mmap code) and vma->hugetlb_resv counts those not faulted yet.
 * The kernel tracks them per offset in a resv_map; a count gives the same
 * answers here because a page, once faulted, consumes its reservation for
 * good (a private mapping's resv_map region stays consumed after a zap, and
 * the refault takes an unreserved page, as here).
 *
 * Shared hugetlb memory lives in the page cache of a hugetlbfs file
 * (sim/hugetlbfs.c): MAP_SHARED|MAP_HUGETLB gets an unlinked one at mmap
 * (hugetlb_file_setup() in ksys_mmap_pgoff()), /dev/hugepages files and
 * MFD_HUGETLB memfds are named or memfd ones.  hugetlb_no_page() finds or
 * adds the folio there for a shared mapping; a private mapping of a file
 * maps the cached folio read-only (and copies it at once on a write) or,
 * with none cached, takes an anonymous page.  A MAP_PRIVATE|MAP_HUGETLB
 * VMA has no file here (the kernel's unlinked file is never looked at for
 * private faults).
 *
 * Left out: surplus pages and overcommit (nr_overcommit_hugepages = 0),
 * subpools, cgroup charging, NUMA nodes, hugetlb_vma_lock, and the fault
 * mutex (the file's inode lock, taken before the level's page-table lock,
 * stands for it where there is a file; without one the level lock
 * serialises the fault, see hugetlb_fault()).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "machine.h"
#include "mm.h"
#include "pgtable.h"
#include "shmem.h"

struct hstate *size_to_hstate(unsigned long size)
{
	if (size == PMD_SIZE)
		return &machine->hstate_2m;
	if (size == PUD_SIZE)
		return &machine->hstate_1g;
	return NULL;
}

static struct hstate *folio_hstate(const struct folio *folio)
{
	return size_to_hstate(PAGE_SIZE << folio_order(folio));
}

/* enqueue_hugetlb_folio(): h->lock held, refcount already 0. */
static void enqueue_hugetlb_folio(struct hstate *h, struct folio *folio)
{
	folio->page.next_free = h->free_list;
	h->free_list = (uint32_t)folio_pfn(folio);
	h->free_huge_pages++;
}

/* dequeue_hugetlb_folio(): h->lock held; refcount stays 0. */
static struct folio *dequeue_hugetlb_folio(struct hstate *h)
{
	struct folio *folio;

	if (!h->free_list)
		return NULL;
	folio = (struct folio *)pfn_to_page(h->free_list);
	h->free_list = folio->page.next_free;
	folio->page.next_free = 0;
	h->free_huge_pages--;
	return folio;
}

/*
 * Fill the pool (hugetlb_hstate_alloc_pages() at boot).  The caller has set
 * @h up (zeroed, order, lock: machine.c's hstate_init()).  Fewer pages than
 * asked when RAM runs out, as with hugepages= on the command line.
 */
unsigned long hugetlb_pool_init(struct hstate *h, unsigned long nr)
{
	unsigned long i;

	if (WARN_ON(h->order != PMD_ORDER && h->order != PUD_ORDER))
		return 0;
	for (i = 0; i < nr; i++) {
		struct folio *folio = folio_alloc(h->order, PGTY_hugetlb);

		if (!folio)
			break;
		/* The pool holds free folios at refcount 0. */
		atomic_store_explicit(&folio->page._refcount, 0, memory_order_relaxed);
		enqueue_hugetlb_folio(h, folio);
		h->nr_huge_pages++;
	}
	return i;
}

/*
 * hugetlb_acct_memory() → gather_surplus_pages() without surplus pages:
 * the reservation fits only if free - reserved leaves room for it.
 */
int hugetlb_reserve_pages(struct hstate *h, long nr)
{
	int ret = 0;

	if (WARN_ON(nr < 0))
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	if (h->free_huge_pages - h->resv_huge_pages < (unsigned long)nr)
		ret = -ENOMEM;
	else
		h->resv_huge_pages += nr;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

void hugetlb_unreserve_pages(struct hstate *h, long nr)
{
	pthread_mutex_lock(&h->lock);
	if (WARN_ON(nr < 0 || (unsigned long)nr > h->resv_huge_pages))
		nr = nr < 0 ? 0 : (long)h->resv_huge_pages;
	h->resv_huge_pages -= nr;
	pthread_mutex_unlock(&h->lock);
}

/*
 * alloc_hugetlb_folio() → dequeue_hugetlb_folio_vma(): with a reservation
 * the page is guaranteed and the reservation is consumed; without one, a
 * page is taken only if that leaves every outstanding reservation covered
 * (free - resv > 0).  The folio comes back with refcount 1.
 */
struct folio *alloc_hugetlb_folio(struct hstate *h, bool reserved)
{
	struct folio *folio = NULL;

	pthread_mutex_lock(&h->lock);
	if (reserved) {
		if (WARN_ON(!h->resv_huge_pages))
			goto out;
	} else if (h->free_huge_pages <= h->resv_huge_pages) {
		goto out;
	}
	folio = dequeue_hugetlb_folio(h);
	if (WARN_ON(!folio))
		goto out;
	if (reserved)
		h->resv_huge_pages--;
	atomic_store_explicit(&folio->page._refcount, 1, memory_order_relaxed);
out:
	pthread_mutex_unlock(&h->lock);
	return folio;
}

/*
 * free_huge_folio(): the last reference went (folio_put_refs() sends
 * PGTY_hugetlb folios here).  The kernel clears a hugetlb page when it is
 * faulted in (folio_zero_user()); the simulation's allocator hands out zero
 * pages instead, so the bytes are dropped now.  PG_anon_exclusive and
 * PG_dirty go too (__ClearPageAnonExclusive() on free).
 */
void free_huge_folio(struct folio *folio)
{
	struct hstate *h = folio_hstate(folio);
	size_t bytes = PAGE_SIZE << folio_order(folio);

	if (WARN_ON(!h || folio_type(folio) != PGTY_hugetlb))
		return;
	WARN_ON(folio_ref_count(folio) != 0);
	WARN_ON(folio_pincount(folio) != 0);

	if (page_flags(&folio->page) & PG_data) {
		void *addr = page_address(&folio->page);

		sim_phys_discard(addr, bytes);
		ClearPageFlag(&folio->page, PG_data);
	}
	ClearPageFlag(&folio->page, PG_anon_exclusive | PG_dirty);

	pthread_mutex_lock(&h->lock);
	enqueue_hugetlb_folio(h, folio);
	pthread_mutex_unlock(&h->lock);
}

/* Consume one of the mapping's reservations if it has one left. */
static bool vma_take_reservation(struct vm_area_struct *vma)
{
	long n = __atomic_load_n(&vma->hugetlb_resv, __ATOMIC_RELAXED);

	do {
		if (n <= 0)
			return false;
	} while (!__atomic_compare_exchange_n(&vma->hugetlb_resv, &n, n - 1, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return true;
}

/*
 * The folio for a none entry (hugetlb_no_page() → alloc_hugetlb_folio()).
 * No page at all is -ENOSPC there, which vmf_error() turns into
 * VM_FAULT_SIGBUS: running out of huge pages SIGBUSes, it does not OOM.
 */
static struct folio *hugetlb_fault_folio(struct vm_area_struct *vma, vm_fault_t *ret)
{
	struct hstate *h = vma->vm_hstate;
	bool reserved = vma_take_reservation(vma);
	struct folio *folio = alloc_hugetlb_folio(h, reserved);

	if (!folio) {
		if (reserved)
			__atomic_fetch_add(&vma->hugetlb_resv, 1, __ATOMIC_RELAXED);
		*ret = VM_FAULT_SIGBUS;
		return NULL;
	}
	if (!(vma->vm_flags & VM_SHARED))
		SetPageFlag(&folio->page, PG_anon_exclusive);	/* hugetlb_add_new_anon_rmap() */
	return folio;
}

/*
 * make_huge_pte() with hugetlb_no_page()'s writability: writable at once in
 * a shared writable mapping; in a private one only on a write fault (the
 * kernel maps read-only and calls hugetlb_wp() at once, which reuses the
 * exclusive page and makes it writable).  Never special: hugetlb pages are
 * normal pages with a struct page.
 */
static uint64_t hugetlb_leaf_bits(struct vm_area_struct *vma, unsigned int flags)
{
	uint64_t bits = pgprot_val(vma->vm_page_prot) | _PAGE_PSE | _PAGE_ACCESSED;

	if ((vma->vm_flags & VM_WRITE) &&
	    ((vma->vm_flags & VM_SHARED) || (flags & FAULT_FLAG_WRITE)))
		bits |= _PAGE_RW | _PAGE_DIRTY;
	else
		bits &= ~(uint64_t)_PAGE_RW;
	return bits;
}

/* What a fault on a present leaf leaves for after the unlock. */
struct hugetlb_wp_result {
	struct folio *old;		/* the mapping's reference to put */
	bool replaced;			/* the leaf maps a new folio: notify */
	/*
	 * In: a private mapping's write fault on a page-cache folio it is
	 * mapping now (hugetlb_no_page() -> hugetlb_wp()): the copy consumes
	 * the VMA's reservation for the index, as alloc_hugetlb_folio() does
	 * for the reservation owner.
	 */
	bool use_resv;
};

/*
 * hugetlb_wp() (mm/hugetlb.c), the level lock held: a write, or an
 * unshare (FAULT_FLAG_UNSHARE, a read-only pin), on a read-only present
 * leaf.
 *  - MAP_SHARED: made writable (set_huge_ptep_writable()).
 *  - A private page used by this mapping only is reused: marked exclusive
 *    and, unless unsharing, made writable and dirty (set_huge_ptep_maybe_writable()).
 *    The kernel asks folio_mapcount() == 1; without mapcounts the
 *    simulation asks "exclusive, or refcount 1": an exclusive page has one
 *    mapping whatever pins it holds, and a shared one (fork) has a
 *    reference per mapping and no pins (fork copies pinned pages).
 *  - Otherwise a new hugetlb folio from the pool, without a reservation
 *    (the child's VMA has none, hugetlb_dup_vma_private(); the parent, the
 *    reservation owner, COWs with outside_reserve), gets the bytes, and
 *    replaces the leaf; the old folio's reference goes after the unlock.
 *    No free page is VM_FAULT_SIGBUS (vmf_error(-ENOSPC)).  Left out: the
 *    owner's last resort, unmap_ref_private(), which takes the page away
 *    from the children to retry.
 */
static uint64_t hugetlb_wp(struct vm_area_struct *vma, uint64_t old, unsigned int flags,
			   vm_fault_t *ret, struct hugetlb_wp_result *res)
{
	const bool unshare = flags & FAULT_FLAG_UNSHARE;
	unsigned long pfn = pte_pfn(__pte(old));
	struct folio *old_folio, *new_folio;
	uint64_t val;

	if (WARN_ON_ONCE(!unshare && !(vma->vm_flags & VM_WRITE))) {
		*ret = VM_FAULT_SIGSEGV;
		return 0;
	}
	if (vma->vm_flags & VM_MAYSHARE)
		return old | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED;

	old_folio = page_folio(pfn_to_page(pfn));
	if (PageAnonExclusive(&old_folio->page) || folio_ref_count(old_folio) == 1) {
		SetPageAnonExclusive(&old_folio->page);
		if (unshare)
			return old;
		return old | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED;
	}

	if (res->use_resv && vma_take_reservation(vma)) {
		new_folio = alloc_hugetlb_folio(vma->vm_hstate, true);
		if (!new_folio)
			__atomic_fetch_add(&vma->hugetlb_resv, 1, __ATOMIC_RELAXED);
	} else {
		new_folio = alloc_hugetlb_folio(vma->vm_hstate, false);
	}
	if (!new_folio) {
		*ret = VM_FAULT_SIGBUS;
		return 0;
	}
	sim_copy_folio_data(new_folio, &old_folio->page, folio_nr_pages(old_folio));
	SetPageFlag(&new_folio->page, PG_anon_exclusive);	/* hugetlb_add_new_anon_rmap() */
	/* make_huge_pte(vma, page, !unshare) */
	val = ((uint64_t)folio_pfn(new_folio) << PAGE_SHIFT) | pgprot_val(vma->vm_page_prot) |
	      _PAGE_PSE | _PAGE_ACCESSED;
	if (unshare)
		val &= ~(uint64_t)_PAGE_RW;
	else
		val |= _PAGE_RW | _PAGE_DIRTY;
	res->old = old_folio;
	res->replaced = true;
	return val;
}

/*
 * An existing leaf: a write or an unshare to a read-only one goes through
 * hugetlb_wp(); any other access marks it young, and dirty on a write.
 */
static uint64_t hugetlb_touch(struct vm_area_struct *vma, uint64_t old, unsigned int flags,
			      vm_fault_t *ret, struct hugetlb_wp_result *res)
{
	if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) && !(old & _PAGE_RW))
		return hugetlb_wp(vma, old, flags, ret, res);
	old |= _PAGE_ACCESSED;
	if (flags & FAULT_FLAG_WRITE)
		old |= _PAGE_DIRTY;
	return old;
}

/*
 * The new value of the leaf that was @old (none or present), computed with
 * the level lock held; 0 with *ret set when no page can be had.
 * Simplification: the kernel allocates the folio outside the page-table
 * lock, serialised by hugetlb_fault_mutex, and re-checks the entry under
 * the lock; here the pool pop happens under the lock, which plays the fault
 * mutex's part.
 */
/*
 * hugetlb_no_page() for a VMA with a hugetlbfs file, inode lock held: the
 * page-cache folio, mapped as the VMA maps (a private mapping read-only,
 * then hugetlb_wp() at once for a write); 0 with *ret = 0 when a private
 * mapping finds nothing cached (an anonymous page then).
 */
static uint64_t hugetlb_file_no_page(struct vm_area_struct *vma, unsigned long haddr,
				     unsigned int flags, vm_fault_t *ret,
				     struct hugetlb_wp_result *res)
{
	struct hstate *h = vma->vm_hstate;
	unsigned long idx = ((haddr - vma->vm_start) >> (PAGE_SHIFT + h->order)) +
			    (vma->vm_pgoff >> h->order);	/* vma_hugecache_offset() */
	bool cached;
	struct folio *folio = hugetlbfs_fault_folio(vma, idx, &cached, ret);
	uint64_t val;

	if (!folio)
		return 0;
	if (vma->vm_flags & VM_SHARED)
		return ((uint64_t)folio_pfn(folio) << PAGE_SHIFT) | hugetlb_leaf_bits(vma, flags);
	val = ((uint64_t)folio_pfn(folio) << PAGE_SHIFT) |
	      hugetlb_leaf_bits(vma, flags & ~FAULT_FLAG_WRITE);
	if (!(flags & FAULT_FLAG_WRITE))
		return val;
	res->use_resv = true;
	val = hugetlb_wp(vma, val, flags, ret, res);
	if (!val)
		folio_put(folio);	/* no copy: the mapping's reference */
	return val;
}

static uint64_t hugetlb_fault_entry(struct vm_area_struct *vma, unsigned long haddr,
				    uint64_t old, unsigned int flags, vm_fault_t *ret,
				    struct hugetlb_wp_result *res)
{
	struct folio *folio;
	uint64_t val;

	/*
	 * A table where the hstate's leaf belongs.  huge_pte_alloc() BUG_ON()s
	 * on it (mm/hugetlb.c, "pte_present(pteval) && !pte_huge(pteval)");
	 * it cannot happen since munmap frees the tables of the unmapped range
	 * (free_pgtables(), sim/memory.c), so a mapping MAP_FIXED over what had
	 * 4K pages finds none: WARN and SIGBUS rather than oops, if it ever does.
	 */
	if (WARN_ON_ONCE(old && !(old & _PAGE_PSE))) {
		*ret = VM_FAULT_SIGBUS;
		return 0;
	}
	if (old)
		return hugetlb_touch(vma, old, flags, ret, res);
	if (vma->vm_file) {
		val = hugetlb_file_no_page(vma, haddr, flags, ret, res);
		if (val || *ret)
			return val;
	}
	folio = hugetlb_fault_folio(vma, ret);
	if (!folio)
		return 0;
	return ((uint64_t)folio_pfn(folio) << PAGE_SHIFT) | hugetlb_leaf_bits(vma, flags);
}

/* After the unlock: the replaced folio's reference, the notifier. */
static void hugetlb_wp_finish(struct mm_struct *mm, struct vm_area_struct *vma,
			      unsigned long haddr, struct hugetlb_wp_result *res)
{
	if (!res->replaced)
		return;
	folio_put(res->old);
	mm_notify_zap(mm, haddr, haddr + huge_page_size(vma->vm_hstate));
}

static vm_fault_t hugetlb_fault_pud(struct mm_struct *mm, struct vm_area_struct *vma,
				    pud_t *pud, unsigned long haddr, unsigned int flags)
{
	struct hugetlb_wp_result res = {0};
	spinlock_t *ptl = pud_lock(mm, pud);
	uint64_t old = pud_val(pudp_get(pud)), val;
	vm_fault_t ret = 0;

	val = hugetlb_fault_entry(vma, haddr, old, flags, &ret, &res);
	if (val && val != old)
		set_pud(pud, __pud(val));
	spin_unlock(ptl);
	if (!old && val)
		atomic_fetch_add_explicit(&mm->fault_stats.pud, 1, memory_order_relaxed);
	hugetlb_wp_finish(mm, vma, haddr, &res);
	return ret;
}

static vm_fault_t hugetlb_fault_pmd(struct mm_struct *mm, struct vm_area_struct *vma,
				    pud_t *pud, unsigned long haddr, unsigned int flags)
{
	struct hugetlb_wp_result res = {0};
	uint64_t old, val;
	vm_fault_t ret = 0;
	spinlock_t *ptl;
	pmd_t *pmd;

	if (pud_none(pudp_get(pud)) && __pmd_alloc(mm, pud, haddr))
		return VM_FAULT_OOM;
	/* A 2M hugetlb VMA never has a PUD leaf: don't read through one. */
	if (WARN_ON_ONCE(!pud_present(pudp_get(pud)) || pud_leaf(pudp_get(pud))))
		return VM_FAULT_SIGBUS;
	pmd = pmd_offset(pud, haddr);

	ptl = pmd_lock(mm, pmd);
	old = pmd_val(pmdp_get(pmd));
	val = hugetlb_fault_entry(vma, haddr, old, flags, &ret, &res);
	if (val && val != old)
		set_pmd(pmd, __pmd(val));
	spin_unlock(ptl);
	if (!old && val)
		atomic_fetch_add_explicit(&mm->fault_stats.pmd, 1, memory_order_relaxed);
	hugetlb_wp_finish(mm, vma, haddr, &res);
	return ret;
}

/*
 * hugetlb_fault(): huge_pte_alloc() down to the hstate's level (PUD for 1G,
 * PMD for 2M), then hugetlb_no_page() for a none entry or the
 * access/write-protect update of a present one.  huge_pte_lock() is
 * mm->page_table_lock for 1G and the PMD table's split lock for 2M, as
 * here.
 */
vm_fault_t hugetlb_fault(struct mm_struct *mm, struct vm_area_struct *vma,
			 unsigned long address, unsigned int flags)
{
	struct shmem_inode *inode = file_shmem_inode(vma->vm_file);
	struct hstate *h = vma->vm_hstate;
	unsigned long haddr;
	vm_fault_t ret;
	pud_t *pud;

	if (WARN_ON_ONCE(!h))
		return VM_FAULT_SIGBUS;
	haddr = address & ~(huge_page_size(h) - 1);
	pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, haddr), haddr), haddr);
	if (!pud)
		return VM_FAULT_OOM;
	/* hugetlb_fault_mutex: the inode's lock (sim/hugetlbfs.c). */
	if (inode)
		pthread_mutex_lock(&inode->lock);
	if (h->order == PUD_ORDER)
		ret = hugetlb_fault_pud(mm, vma, pud, haddr, flags);
	else
		ret = hugetlb_fault_pmd(mm, vma, pud, haddr, flags);
	if (inode)
		pthread_mutex_unlock(&inode->lock);
	return ret;
}

/* ---------------- fork (mm/hugetlb.c copy_hugetlb_page_range()) ---------------- */

/*
 * hugetlb_dup_vma_private(): the child's VMA owns no reservations ("Faults
 * generated by the child are not guaranteed to succeed"); the parent's
 * stay with the parent.
 */
void hugetlb_dup_vma_private(struct vm_area_struct *vma)
{
	vma->hugetlb_resv = 0;
}

/* hugetlb_walk(): the leaf slot of @addr in @mm, or NULL (no table). */
static uint64_t *hugetlb_walk(struct mm_struct *mm, struct hstate *h, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	pud_t *pud;

	if (!pgd_present(pgdp_get(pgd)))
		return NULL;
	pud = pud_offset(p4d_offset(pgd, addr), addr);
	if (h->order == PUD_ORDER)
		return (uint64_t *)pud;
	if (!pud_present(pudp_get(pud)) || pud_leaf(pudp_get(pud)))
		return NULL;
	return (uint64_t *)pmd_offset(pud, addr);
}

/* huge_pte_alloc(): the child's leaf slot, tables allocated; NULL on -ENOMEM. */
static uint64_t *huge_pte_alloc(struct mm_struct *mm, struct hstate *h, unsigned long addr)
{
	pud_t *pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, addr), addr), addr);

	if (!pud)
		return NULL;
	if (h->order == PUD_ORDER)
		return (uint64_t *)pud;
	if (WARN_ON_ONCE(pud_leaf(pudp_get(pud))))
		return NULL;
	return (uint64_t *)pmd_alloc(mm, pud, addr);
}

/* huge_pte_lock(): mm->page_table_lock for 1G, the PMD table's lock for 2M. */
static spinlock_t *huge_pte_lock(struct mm_struct *mm, struct hstate *h, uint64_t *slot)
{
	if (h->order == PUD_ORDER)
		return pud_lock(mm, (pud_t *)slot);
	return pmd_lock(mm, (pmd_t *)slot);
}

/*
 * The copy of a pinned private page for the child (the hugetlb_try_dup_
 * anon_rmap() failure branch): a pool page without a reservation
 * ("Do not use reserve as it's private owned"), the bytes, and an
 * exclusive writable leaf (hugetlb_install_folio() with make_huge_pte(.., 1)).
 * 0 with -ENOMEM when the pool is dry: alloc_hugetlb_folio()'s -ENOSPC
 * fails the fork, which copy_mm() reports as -ENOMEM.
 */
static uint64_t hugetlb_copy_pinned(struct vm_area_struct *dst_vma, struct folio *src,
				    uint64_t src_entry)
{
	struct folio *new_folio = alloc_hugetlb_folio(dst_vma->vm_hstate, false);
	uint64_t val;

	if (!new_folio)
		return 0;
	sim_copy_folio_data(new_folio, &src->page, folio_nr_pages(src));
	SetPageFlag(&new_folio->page, PG_anon_exclusive);
	/*
	 * The parent's leaf bits with the new pfn: a PROT_NONE VMA keeps its
	 * leaves present here (sim/mprotect.c), vm_page_prot would not.
	 */
	val = ((uint64_t)folio_pfn(new_folio) << PAGE_SHIFT) | (src_entry & ~PTE_PFN_MASK) |
	      _PAGE_PSE | _PAGE_ACCESSED | _PAGE_DIRTY;
	val &= ~(uint64_t)_PAGE_RW;
	if (dst_vma->vm_flags & VM_WRITE)
		val |= _PAGE_RW;
	return val;
}

/*
 * copy_hugetlb_page_range() (mm/hugetlb.c): each present leaf of the
 * parent's VMA is mapped in the child too, with the child's reference.
 * In a private (COW) mapping it is write-protected in both and stops
 * being exclusive — unless it may be pinned (folio_try_dup_anon_rmap()):
 * then the child gets a copy now, from the pool.  Shared mappings never
 * get here (vma_needs_copy(): the child refaults from the page cache).  Both
 * mmap locks are held for write, so the parent's leaves do not change
 * while the locks are dropped for the copy.  A COW VMA's range goes to the
 * secondary MMU (MMU_NOTIFY_CLEAR over the VMA in the kernel).
 */
int copy_hugetlb_page_range(struct mm_struct *dst, struct mm_struct *src,
			    struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma)
{
	struct hstate *h = src_vma->vm_hstate;
	bool cow = is_cow_mapping(src_vma->vm_flags);
	unsigned long sz, addr;
	int ret = 0;

	if (WARN_ON_ONCE(!h))
		return -EINVAL;
	sz = huge_page_size(h);
	for (addr = src_vma->vm_start; addr < src_vma->vm_end; addr += sz) {
		uint64_t *src_slot = hugetlb_walk(src, h, addr), *dst_slot;
		spinlock_t *src_ptl, *dst_ptl;
		struct folio *folio;
		uint64_t entry, val;

		if (!src_slot)
			continue;
		dst_slot = huge_pte_alloc(dst, h, addr);
		if (!dst_slot) {
			ret = -ENOMEM;
			break;
		}
		dst_ptl = huge_pte_lock(dst, h, dst_slot);
		src_ptl = huge_pte_lock(src, h, src_slot);
		entry = __entry_load(src_slot, __func__);
		if (!(entry & _PAGE_PRESENT)) {
			spin_unlock(src_ptl);
			spin_unlock(dst_ptl);
			continue;
		}
		folio = page_folio(pfn_to_page(pte_pfn(__pte(entry))));
		folio_get(folio);
		if (folio_test_anon_in(folio, src_vma) &&
		    folio_try_dup_anon_rmap(folio, &folio->page, src_vma)) {
			spin_unlock(src_ptl);
			spin_unlock(dst_ptl);
			val = hugetlb_copy_pinned(dst_vma, folio, entry);
			folio_put(folio);
			if (!val) {
				ret = -ENOMEM;
				break;
			}
			dst_ptl = huge_pte_lock(dst, h, dst_slot);
			__entry_store(dst_slot, val, __func__);
			spin_unlock(dst_ptl);
			continue;
		}
		if (cow) {
			/* huge_ptep_set_wrprotect() */
			__entry_store(src_slot, entry & ~(uint64_t)_PAGE_RW, __func__);
			entry &= ~(uint64_t)_PAGE_RW;
		}
		__entry_store(dst_slot, entry, __func__);
		spin_unlock(src_ptl);
		spin_unlock(dst_ptl);
	}
	if (cow)
		mm_notify_zap(src, src_vma->vm_start, src_vma->vm_end);
	return ret;
}
