// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fault path: handle_mm_fault()'s order selection, anonymous 4K and THP
 * faults, hugetlb pools and faults, fixup_user_fault(), vm_fault_to_errno(),
 * the huge pfnmap inserts and the PMD/PUD splits.
 */
#include <linux/mman.h>
#include <pthread.h>
#include <sys/mman.h>

#include "harness.h"

#define RW (PROT_READ | PROT_WRITE)
#define PRIV_ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* ---------------- helpers ---------------- */

static struct vm_area_struct *find_vma_of(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	mmap_read_unlock(mm);
	ck_assert_ptr_nonnull(vma);
	return vma;
}

static unsigned long map(struct mm_struct *mm, struct file *file, unsigned long addr,
			 unsigned long len, unsigned long prot, unsigned long flags)
{
	unsigned long a = vm_mmap(mm, file, addr, len, prot, flags, 0);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap failed: %ld", (long)a);
	return a;
}

/* madvise(MADV_HUGEPAGE) / (MADV_NOHUGEPAGE) on the VMA at @addr. */
static void set_vma_flag(struct mm_struct *mm, unsigned long addr, vm_flags_t flag)
{
	mmap_write_lock(mm);
	vma_lookup(mm, addr)->vm_flags |= flag;
	mmap_write_unlock(mm);
}

/* One fault with the mmap read lock held around it, as a CPU fault has. */
static vm_fault_t fault(struct mm_struct *mm, unsigned long addr, unsigned int flags)
{
	struct vm_area_struct *vma;
	vm_fault_t ret;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	ck_assert_ptr_nonnull(vma);
	ret = handle_mm_fault(vma, addr, flags);
	if (!(ret & VM_FAULT_RETRY))
		mmap_read_unlock(mm);
	return ret;
}

static enum pgtable_level lookup(struct mm_struct *mm, unsigned long addr, unsigned long *pfn,
				 uint64_t *entry)
{
	unsigned long p = 0;
	uint64_t e = 0;
	enum pgtable_level lvl = pgtable_lookup(mm, addr, &p, &e);

	if (pfn)
		*pfn = p;
	if (entry)
		*entry = e;
	return lvl;
}

static pud_t *pud_slot(struct mm_struct *mm, unsigned long addr)
{
	return pud_offset(p4d_offset(pgd_offset(mm, addr), addr), addr);
}

static pmd_t *pmd_slot(struct mm_struct *mm, unsigned long addr)
{
	return pmd_offset(pud_slot(mm, addr), addr);
}

static unsigned long stat(_Atomic unsigned long *counter)
{
	return atomic_load(counter);
}

/* ---------------- a BAR-like pfnmap file (vfio-pci's shape) ---------------- */

static unsigned long bar_pfn;		/* first MMIO pfn of the test BAR */
static unsigned int bar_max_order;	/* largest order the driver inserts */

/* vfio_pci_mmap_huge_fault(): insert if aligned for the order, else fall back. */
static vm_fault_t bar_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long size = PAGE_SIZE << order;
	unsigned long addr = vmf->address & ~(size - 1);
	unsigned long pfn = bar_pfn + ((addr - vma->vm_start) >> PAGE_SHIFT);

	if (order > bar_max_order || addr < vma->vm_start || addr + size > vma->vm_end ||
	    (pfn & ((1UL << order) - 1)))
		return VM_FAULT_FALLBACK;
	switch (order) {
	case 0:
		return vmf_insert_pfn(vma, vmf->address, pfn);
	case PMD_ORDER:
		return vmf_insert_pfn_pmd(vmf, pfn, false);
	case PUD_ORDER:
		return vmf_insert_pfn_pud(vmf, pfn, false);
	}
	return VM_FAULT_FALLBACK;
}

static vm_fault_t bar_fault(struct vm_fault *vmf)
{
	return bar_huge_fault(vmf, 0);
}

static const struct vm_operations_struct bar_vm_ops = {
	.fault = bar_fault,
	.huge_fault = bar_huge_fault,
	.name = "test-bar",
};

static int bar_mmap(struct file *file, struct vm_area_struct *vma)
{
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_ops = &bar_vm_ops;
	return 0;
}

static const struct file_operations bar_fops = { .mmap = bar_mmap };
static struct file bar_file = { .f_op = &bar_fops };

/* A 1G BAR mapped shared at a 1G-aligned address. */
static unsigned long map_bar(struct mm_struct *mm, unsigned int max_order)
{
	unsigned char *bytes;

	ck_assert_int_eq(mmio_alloc(GiB, &bar_pfn, &bytes), 0);
	bar_max_order = max_order;
	return map(mm, &bar_file, 0, GiB, RW, MAP_SHARED);
}

/* ---------------- anonymous 4K ---------------- */

START_TEST(test_anon_write_fault_installs_pte_with_fresh_exclusive_page)
{
	struct mm_struct *mm = tm_mm("anon");
	unsigned long a = map(mm, NULL, 0, 16 * KiB, RW, PRIV_ANON), pfn;
	unsigned long used = nr_allocated_pages();
	struct folio *folio;
	uint64_t e;

	ck_assert_uint_eq(fault(mm, a + PAGE_SIZE, FAULT_FLAG_WRITE), 0);

	ck_assert_int_eq(lookup(mm, a + PAGE_SIZE, &pfn, &e), PGTABLE_PTE);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(lookup(mm, a + 2 * PAGE_SIZE, NULL, NULL), PGTABLE_NONE);
	ck_assert(pfn_valid(pfn));
	folio = page_folio(pfn_to_page(pfn));
	ck_assert_int_eq(folio_ref_count(folio), 1);
	ck_assert_int_eq(folio_type(folio), PGTY_anon);
	ck_assert_uint_eq(folio_order(folio), 0);
	ck_assert(page_flags(&folio->page) & PG_anon_exclusive);
	ck_assert(e & _PAGE_RW);
	ck_assert(e & _PAGE_DIRTY);
	ck_assert(!(e & _PAGE_SPECIAL));
	ck_assert_uint_eq(stat(&mm->fault_stats.pte), 1);
	/* One data page plus the PUD, PMD and PTE tables of the path. */
	ck_assert_uint_eq(nr_allocated_pages() - used, 4);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* No shared zero page in the model: a read fault allocates too. */
START_TEST(test_anon_read_fault_on_readonly_vma_maps_readonly_page)
{
	struct mm_struct *mm = tm_mm("anon");
	unsigned long a = map(mm, NULL, 0, 8 * KiB, PROT_READ, PRIV_ANON), pfn;
	uint64_t e;

	ck_assert_uint_eq(fault(mm, a, 0), 0);
	ck_assert_int_eq(lookup(mm, a, &pfn, &e), PGTABLE_PTE);
	ck_assert(!(e & _PAGE_RW));
	ck_assert(!(e & _PAGE_DIRTY));
	ck_assert_int_eq(folio_type(page_folio(pfn_to_page(pfn))), PGTY_anon);
}
END_TEST

START_TEST(test_anon_refault_of_present_pte_keeps_the_page)
{
	struct mm_struct *mm = tm_mm("anon");
	unsigned long a = map(mm, NULL, 0, 8 * KiB, RW, PRIV_ANON), pfn1, pfn2;
	unsigned long used;

	ck_assert_uint_eq(fault(mm, a, 0), 0);
	used = nr_allocated_pages();
	ck_assert_uint_eq(fault(mm, a, FAULT_FLAG_WRITE), 0);
	ck_assert_int_eq(lookup(mm, a, &pfn1, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(fault(mm, a, 0), 0);
	ck_assert_int_eq(lookup(mm, a, &pfn2, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(pfn1, pfn2);
	ck_assert_uint_eq(nr_allocated_pages(), used);
	ck_assert_uint_eq(stat(&mm->fault_stats.pte), 1);
	ck_assert_int_eq(folio_ref_count(page_folio(pfn_to_page(pfn1))), 1);
}
END_TEST

/* sanitize_fault_flags(): FOLL_FORCE writes only apply to COW mappings. */
START_TEST(test_write_fault_on_shared_readonly_vma_warns_and_sigsegvs)
{
	struct mm_struct *mm = tm_mm("anon");
	unsigned long a = map(mm, NULL, 0, 8 * KiB, PROT_READ, MAP_SHARED | MAP_ANONYMOUS);

	ck_assert_uint_eq(fault(mm, a, FAULT_FLAG_WRITE), VM_FAULT_SIGSEGV);
	ck_assert_uint_eq(sim_warn_count(), 1);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_NONE);
}
END_TEST

/* ---------------- anonymous THP ---------------- */

START_TEST(test_thp_fault_in_hugepage_vma_installs_pmd_leaf_on_order9_folio)
{
	struct mm_struct *mm = tm_mm("thp");
	unsigned long a = map(mm, NULL, 0, 4 * MiB, RW, PRIV_ANON), pfn;
	struct folio *folio;
	uint64_t e;

	ck_assert_uint_eq(a & ~PMD_MASK, 0);
	set_vma_flag(mm, a, VM_HUGEPAGE);
	ck_assert_uint_eq(fault(mm, a + 5 * PAGE_SIZE, FAULT_FLAG_WRITE), 0);

	ck_assert_int_eq(lookup(mm, a + 5 * PAGE_SIZE, &pfn, &e), PGTABLE_PMD);
	folio = page_folio(pfn_to_page(pfn));
	ck_assert_uint_eq(pfn, folio_pfn(folio) + 5);
	ck_assert_uint_eq(folio_order(folio), PMD_ORDER);
	ck_assert_int_eq(folio_type(folio), PGTY_anon);
	ck_assert_int_eq(folio_ref_count(folio), 1);
	ck_assert(e & _PAGE_RW);
	ck_assert(e & _PAGE_DIRTY);
	ck_assert(!(e & _PAGE_SPECIAL));
	/* The other 2M of the VMA is untouched. */
	ck_assert_int_eq(lookup(mm, a + 2 * MiB, NULL, NULL), PGTABLE_NONE);
	ck_assert_uint_eq(stat(&mm->fault_stats.pmd), 1);
	ck_assert_uint_eq(stat(&mm->fault_stats.pte), 0);
}
END_TEST

/* thp_vma_suitable_order(): the aligned 2M must lie inside the VMA. */
START_TEST(test_thp_falls_back_to_pte_when_aligned_2m_is_not_inside_vma)
{
	struct mm_struct *mm = tm_mm("thp");
	unsigned long a = map(mm, NULL, 4 * GiB + PAGE_SIZE, 2 * MiB, RW,
			      PRIV_ANON | MAP_FIXED), pfn;

	set_vma_flag(mm, a, VM_HUGEPAGE);
	ck_assert_uint_eq(fault(mm, a, FAULT_FLAG_WRITE), 0);
	ck_assert_uint_eq(fault(mm, 4 * GiB + 2 * MiB, FAULT_FLAG_WRITE), 0);

	ck_assert_int_eq(lookup(mm, a, &pfn, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(folio_order(page_folio(pfn_to_page(pfn))), 0);
	ck_assert_int_eq(lookup(mm, 4 * GiB + 2 * MiB, NULL, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(stat(&mm->fault_stats.pmd), 0);
	ck_assert_uint_eq(stat(&mm->fault_stats.pte), 2);
}
END_TEST

/* THP "madvise" (the default): no VM_HUGEPAGE, no THP. */
START_TEST(test_thp_madvise_mode_needs_vm_hugepage)
{
	struct mm_struct *mm = tm_mm("thp");
	unsigned long a = map(mm, NULL, 0, 4 * MiB, RW, PRIV_ANON);

	ck_assert_uint_eq(fault(mm, a, FAULT_FLAG_WRITE), 0);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(stat(&mm->fault_stats.pmd), 0);
}
END_TEST

START_TEST(test_thp_always_mode_maps_pmd_unless_vm_nohugepage)
{
	struct mm_struct *mm = tm_mm("thp");
	unsigned long a = map(mm, NULL, 0, 4 * MiB, RW, PRIV_ANON);
	/* A PROT_NONE page between: else b merges into a (vma_merge_new_range()). */
	unsigned long guard = map(mm, NULL, 0, 4 * KiB, PROT_NONE, PRIV_ANON);
	unsigned long b = map(mm, NULL, 0, 4 * MiB, RW, PRIV_ANON);

	ck_assert(!IS_ERR_VALUE(guard));
	set_vma_flag(mm, b, VM_NOHUGEPAGE);
	ck_assert_uint_eq(fault(mm, a, 0), 0);
	ck_assert_uint_eq(fault(mm, b, 0), 0);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_PMD);
	ck_assert_int_eq(lookup(mm, b, NULL, NULL), PGTABLE_PTE);
}
END_TEST

/* __split_huge_pmd_locked(), anon: same pages, one reference per PTE. */
START_TEST(test_split_anon_thp_pmd_maps_same_pfns_with_512_refs)
{
	struct mm_struct *mm = tm_mm("thp");
	unsigned long a = map(mm, NULL, 0, 2 * MiB, RW, PRIV_ANON), pfn, head;
	struct vm_area_struct *vma;
	struct folio *folio;
	long ptes;
	uint64_t e;

	set_vma_flag(mm, a, VM_HUGEPAGE);
	ck_assert_uint_eq(fault(mm, a, FAULT_FLAG_WRITE), 0);
	ck_assert_int_eq(lookup(mm, a, &head, NULL), PGTABLE_PMD);
	folio = page_folio(pfn_to_page(head));
	ptes = atomic_load(&mm->nr_ptes);

	vma = find_vma_of(mm, a);
	mmap_read_lock(mm);
	split_huge_pmd(vma, pmd_slot(mm, a), a + 3 * PAGE_SIZE);
	mmap_read_unlock(mm);

	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		ck_assert_int_eq(lookup(mm, a + i * PAGE_SIZE, &pfn, &e), PGTABLE_PTE);
		ck_assert_uint_eq(pfn, head + i);
		ck_assert(e & _PAGE_RW);
		ck_assert(e & _PAGE_DIRTY);
	}
	ck_assert_int_eq(folio_ref_count(folio), HPAGE_PMD_NR);
	ck_assert_uint_eq(folio_order(folio), PMD_ORDER);
	ck_assert_int_eq(atomic_load(&mm->nr_ptes), ptes + 1);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* ---------------- hugetlb ---------------- */

START_TEST(test_hugetlb_2m_fault_installs_pmd_leaf_from_reserved_pool_page)
{
	struct mm_struct *mm = tm_mm("huge");
	struct hstate *h = &tm->hstate_2m;
	unsigned long a, pfn;
	struct vm_area_struct *vma;
	struct folio *folio;
	uint64_t e;

	a = map(mm, NULL, 0, 2 * MiB, RW, PRIV_ANON | MAP_HUGETLB | MAP_HUGE_2MB);
	vma = find_vma_of(mm, a);
	ck_assert_uint_eq(h->free_huge_pages, 16);
	ck_assert_uint_eq(h->resv_huge_pages, 1);
	ck_assert_int_eq(vma->hugetlb_resv, 1);

	ck_assert_uint_eq(fault(mm, a + 7 * PAGE_SIZE, FAULT_FLAG_WRITE), 0);

	ck_assert_int_eq(lookup(mm, a + 7 * PAGE_SIZE, &pfn, &e), PGTABLE_PMD);
	folio = page_folio(pfn_to_page(pfn));
	ck_assert_uint_eq(pfn, folio_pfn(folio) + 7);
	ck_assert_int_eq(folio_type(folio), PGTY_hugetlb);
	ck_assert_uint_eq(folio_order(folio), PMD_ORDER);
	ck_assert_int_eq(folio_ref_count(folio), 1);
	ck_assert(!(e & _PAGE_SPECIAL));
	ck_assert(e & _PAGE_RW);
	ck_assert_uint_eq(h->free_huge_pages, 15);
	ck_assert_uint_eq(h->resv_huge_pages, 0);
	ck_assert_int_eq(vma->hugetlb_resv, 0);
	ck_assert_uint_eq(stat(&mm->fault_stats.pmd), 1);
}
END_TEST

START_TEST(test_hugetlb_1g_fault_installs_pud_leaf_from_pool)
{
	struct mm_struct *mm = tm_mm("huge");
	struct hstate *h = &tm->hstate_1g;
	unsigned long a, pfn;
	struct folio *folio;

	a = map(mm, NULL, 0, GiB, RW, PRIV_ANON | MAP_HUGETLB | MAP_HUGE_1GB);
	ck_assert_uint_eq(a & ~PUD_MASK, 0);
	ck_assert_uint_eq(fault(mm, a + 3 * MiB, 0), 0);

	ck_assert_int_eq(lookup(mm, a + 3 * MiB, &pfn, NULL), PGTABLE_PUD);
	folio = page_folio(pfn_to_page(pfn));
	ck_assert_uint_eq(folio_order(folio), PUD_ORDER);
	ck_assert_int_eq(folio_type(folio), PGTY_hugetlb);
	ck_assert_int_eq(folio_ref_count(folio), 1);
	ck_assert_uint_eq(pfn, folio_pfn(folio) + (3 * MiB >> PAGE_SHIFT));
	ck_assert_uint_eq(h->free_huge_pages, 3);
	ck_assert_uint_eq(stat(&mm->fault_stats.pud), 1);
	ck_assert_uint_eq(tm->hstate_2m.free_huge_pages, 16);
}
END_TEST

/* hugetlb_no_page() maps a private page read-only on a read; hugetlb_wp() reuses it. */
START_TEST(test_hugetlb_private_read_fault_maps_readonly_then_write_reuses)
{
	struct mm_struct *mm = tm_mm("huge");
	struct hstate *h = &tm->hstate_2m;
	unsigned long a, pfn1, pfn2;
	uint64_t e;

	a = map(mm, NULL, 0, 2 * MiB, RW, PRIV_ANON | MAP_HUGETLB | MAP_HUGE_2MB);
	ck_assert_uint_eq(fault(mm, a, 0), 0);
	ck_assert_int_eq(lookup(mm, a, &pfn1, &e), PGTABLE_PMD);
	ck_assert(!(e & _PAGE_RW));

	ck_assert_uint_eq(fault(mm, a, FAULT_FLAG_WRITE), 0);
	ck_assert_int_eq(lookup(mm, a, &pfn2, &e), PGTABLE_PMD);
	ck_assert(e & _PAGE_RW);
	ck_assert(e & _PAGE_DIRTY);
	ck_assert_uint_eq(pfn1, pfn2);
	ck_assert_uint_eq(h->free_huge_pages, 15);
	ck_assert_uint_eq(stat(&mm->fault_stats.pmd), 1);
}
END_TEST

/*
 * dequeue_hugetlb_folio_vma(): without a reservation a page is taken only
 * if the reservations stay covered; alloc_hugetlb_folio()'s -ENOSPC is
 * VM_FAULT_SIGBUS, not OOM.
 */
START_TEST(test_hugetlb_noreserve_fault_sigbuses_when_pool_is_all_reserved)
{
	struct mm_struct *mm = tm_mm("huge");
	struct hstate *h = &tm->hstate_1g;
	unsigned long all, extra;

	all = map(mm, NULL, 0, 4 * GiB, RW, PRIV_ANON | MAP_HUGETLB | MAP_HUGE_1GB);
	extra = map(mm, NULL, 0, GiB, RW,
		    PRIV_ANON | MAP_HUGETLB | MAP_HUGE_1GB | MAP_NORESERVE);
	ck_assert_uint_eq(h->resv_huge_pages, 4);

	ck_assert_uint_eq(fault(mm, extra, FAULT_FLAG_WRITE), VM_FAULT_SIGBUS);
	ck_assert_int_eq(lookup(mm, extra, NULL, NULL), PGTABLE_NONE);
	ck_assert_uint_eq(stat(&mm->fault_stats.sigbus), 1);
	ck_assert_uint_eq(h->free_huge_pages, 4);

	/* The reserved mapping still gets its pages. */
	ck_assert_uint_eq(fault(mm, all + 3 * GiB, FAULT_FLAG_WRITE), 0);
	ck_assert_int_eq(lookup(mm, all + 3 * GiB, NULL, NULL), PGTABLE_PUD);
	ck_assert_uint_eq(h->free_huge_pages, 3);
	ck_assert_uint_eq(h->resv_huge_pages, 3);
}
END_TEST

START_TEST(test_hugetlb_reserve_fails_enomem_beyond_free_pages)
{
	struct hstate *h = size_to_hstate(PMD_SIZE);

	ck_assert_ptr_eq(h, &tm->hstate_2m);
	ck_assert_ptr_eq(size_to_hstate(PUD_SIZE), &tm->hstate_1g);
	ck_assert_ptr_null(size_to_hstate(PAGE_SIZE));
	ck_assert_int_eq(hugetlb_reserve_pages(h, 10), 0);
	ck_assert_int_eq(hugetlb_reserve_pages(h, 7), -ENOMEM);
	ck_assert_uint_eq(h->resv_huge_pages, 10);
	ck_assert_int_eq(hugetlb_reserve_pages(h, 6), 0);
	hugetlb_unreserve_pages(h, 16);
	ck_assert_uint_eq(h->resv_huge_pages, 0);
}
END_TEST

/* free_huge_folio(): back to the pool at refcount 0, its bytes cleared. */
START_TEST(test_hugetlb_folio_put_returns_zeroed_page_to_pool)
{
	struct hstate *h = &tm->hstate_2m;
	struct folio *folio = alloc_hugetlb_folio(h, false);
	unsigned char *bytes;

	ck_assert_ptr_nonnull(folio);
	ck_assert_int_eq(folio_ref_count(folio), 1);
	ck_assert_uint_eq(h->free_huge_pages, 15);
	bytes = page_address(&folio->page);
	bytes[0] = 0xaa;
	bytes[PMD_SIZE - 1] = 0x55;
	folio_mark_data(folio);

	folio_put(folio);
	ck_assert_uint_eq(h->free_huge_pages, 16);
	ck_assert_int_eq(folio_ref_count(folio), 0);
	ck_assert(!(page_flags(&folio->page) & PG_data));
	ck_assert_int_eq(folio_type(folio), PGTY_hugetlb);
	ck_assert_uint_eq(bytes[0], 0);
	ck_assert_uint_eq(bytes[PMD_SIZE - 1], 0);
	/* LIFO pool: the same folio comes back first. */
	ck_assert_ptr_eq(alloc_hugetlb_folio(h, false), folio);
}
END_TEST

/* Hugetlb leaves are never split: the callers must route hugetlb elsewhere. */
START_TEST(test_split_huge_pmd_of_hugetlb_leaf_warns_and_keeps_it)
{
	struct mm_struct *mm = tm_mm("huge");
	unsigned long a = map(mm, NULL, 0, 2 * MiB, RW, PRIV_ANON | MAP_HUGETLB | MAP_HUGE_2MB);
	struct vm_area_struct *vma = find_vma_of(mm, a);

	ck_assert_uint_eq(fault(mm, a, FAULT_FLAG_WRITE), 0);
	mmap_read_lock(mm);
	split_huge_pmd(vma, pmd_slot(mm, a), a);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(sim_warn_count(), 1);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_PMD);
}
END_TEST

/* ---------------- fixup_user_fault / vm_fault_to_errno ---------------- */

START_TEST(test_fixup_user_fault_without_vma_is_efault)
{
	struct mm_struct *mm = tm_mm("fixup");
	unsigned long a = map(mm, NULL, 0, 8 * KiB, RW, PRIV_ANON);
	bool unlocked = false;

	mmap_read_lock(mm);
	ck_assert_int_eq(fixup_user_fault(mm, a + 8 * KiB, FAULT_FLAG_WRITE, &unlocked), -EFAULT);
	ck_assert_int_eq(fixup_user_fault(mm, a - PAGE_SIZE, 0, &unlocked), -EFAULT);
	ck_assert(rwsem_held_by_current(&mm->mmap_lock));
	mmap_read_unlock(mm);
	ck_assert(!unlocked);
}
END_TEST

/* vma_permits_fault(): a write needs VM_WRITE; a read needs VM_READ. */
START_TEST(test_fixup_user_fault_permission_checks_are_efault)
{
	struct mm_struct *mm = tm_mm("fixup");
	unsigned long ro = map(mm, NULL, 0, 8 * KiB, PROT_READ, PRIV_ANON);
	unsigned long wo = map(mm, NULL, 0, 8 * KiB, PROT_WRITE, PRIV_ANON);
	bool unlocked = false;

	mmap_read_lock(mm);
	ck_assert_int_eq(fixup_user_fault(mm, ro, FAULT_FLAG_WRITE, &unlocked), -EFAULT);
	ck_assert_int_eq(fixup_user_fault(mm, wo, 0, &unlocked), -EFAULT);
	ck_assert_int_eq(fixup_user_fault(mm, ro, 0, &unlocked), 0);
	mmap_read_unlock(mm);
	ck_assert_int_eq(lookup(mm, wo, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(lookup(mm, ro, NULL, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(stat(&mm->fault_stats.pte), 1);
}
END_TEST

/* Killable only when the caller can take an unlock (unlocked != NULL). */
START_TEST(test_fixup_user_fault_with_fatal_signal_is_eintr_only_when_killable)
{
	struct mm_struct *mm = tm_mm("fixup");
	unsigned long a = map(mm, NULL, 0, 8 * KiB, RW, PRIV_ANON);
	bool unlocked = false;

	send_sig_kill(current);
	mmap_read_lock(mm);
	ck_assert_int_eq(fixup_user_fault(mm, a, FAULT_FLAG_WRITE, &unlocked), -EINTR);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_NONE);
	ck_assert_uint_eq(stat(&mm->fault_stats.pte), 0);

	ck_assert_int_eq(fixup_user_fault(mm, a, FAULT_FLAG_WRITE, NULL), 0);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_PTE);
	mmap_read_unlock(mm);
	ck_assert(!unlocked);
}
END_TEST

/*
 * VM_FAULT_RETRY: the fault dropped the lock; fixup_user_fault() retakes
 * it, reports *unlocked and retries with FAULT_FLAG_TRIED, which completes.
 */
START_TEST(test_fixup_user_fault_retry_sets_unlocked_and_returns_locked)
{
	struct mm_struct *mm = tm_mm("fixup");
	unsigned long a = map(mm, NULL, 0, 8 * KiB, RW, PRIV_ANON);
	bool unlocked = false;

	atomic_store(&mm->inject_fault_retry, 1);
	mmap_read_lock(mm);
	ck_assert_int_eq(fixup_user_fault(mm, a, FAULT_FLAG_WRITE, &unlocked), 0);
	ck_assert(unlocked);
	ck_assert(rwsem_held_by_current(&mm->mmap_lock));
	mmap_read_unlock(mm);
	ck_assert(!rwsem_is_locked(&mm->mmap_lock));
	ck_assert_int_eq(atomic_load(&mm->inject_fault_retry), 0);
	ck_assert_uint_eq(stat(&mm->fault_stats.retry), 1);
	ck_assert_uint_eq(stat(&mm->fault_stats.pte), 1);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_PTE);
}
END_TEST

/* Without ALLOW_RETRY (unlocked == NULL) a fault may not drop the lock. */
START_TEST(test_fault_without_allow_retry_never_drops_mmap_lock)
{
	struct mm_struct *mm = tm_mm("fixup");
	unsigned long a = map(mm, NULL, 0, 8 * KiB, RW, PRIV_ANON);

	atomic_store(&mm->inject_fault_retry, 1);
	mmap_read_lock(mm);
	ck_assert_int_eq(fixup_user_fault(mm, a, FAULT_FLAG_WRITE, NULL), 0);
	ck_assert(rwsem_held_by_current(&mm->mmap_lock));
	mmap_read_unlock(mm);
	ck_assert_int_eq(atomic_load(&mm->inject_fault_retry), 1);
	ck_assert_uint_eq(stat(&mm->fault_stats.retry), 0);
}
END_TEST

/* __folio_lock_or_retry(): RETRY_NOWAIT returns VM_FAULT_RETRY still locked. */
START_TEST(test_retry_nowait_fault_returns_retry_with_lock_held)
{
	struct mm_struct *mm = tm_mm("fixup");
	unsigned long a = map(mm, NULL, 0, 8 * KiB, RW, PRIV_ANON);
	struct vm_area_struct *vma = find_vma_of(mm, a);

	atomic_store(&mm->inject_fault_retry, 1);
	mmap_read_lock(mm);
	ck_assert_uint_eq(handle_mm_fault(vma, a, FAULT_FLAG_ALLOW_RETRY |
					  FAULT_FLAG_RETRY_NOWAIT), VM_FAULT_RETRY);
	ck_assert(rwsem_held_by_current(&mm->mmap_lock));
	/* A TRIED fault is not retried again. */
	atomic_store(&mm->inject_fault_retry, 1);
	ck_assert_uint_eq(handle_mm_fault(vma, a, FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_TRIED), 0);
	mmap_read_unlock(mm);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_PTE);
}
END_TEST

START_TEST(test_vm_fault_to_errno_maps_like_the_kernel)
{
	ck_assert_int_eq(vm_fault_to_errno(0, 0), 0);
	ck_assert_int_eq(vm_fault_to_errno(VM_FAULT_NOPAGE, 0), 0);
	ck_assert_int_eq(vm_fault_to_errno(VM_FAULT_RETRY, 0), 0);
	ck_assert_int_eq(vm_fault_to_errno(VM_FAULT_OOM, 0), -ENOMEM);
	ck_assert_int_eq(vm_fault_to_errno(VM_FAULT_OOM | VM_FAULT_SIGBUS, 0), -ENOMEM);
	ck_assert_int_eq(vm_fault_to_errno(VM_FAULT_SIGBUS, 0), -EFAULT);
	ck_assert_int_eq(vm_fault_to_errno(VM_FAULT_SIGSEGV, 0), -EFAULT);
	ck_assert_int_eq(vm_fault_to_errno(VM_FAULT_HWPOISON, 0), -EFAULT);
	ck_assert_int_eq(vm_fault_to_errno(VM_FAULT_HWPOISON, FOLL_HWPOISON), -EHWPOISON);
	ck_assert_int_eq(vm_fault_to_errno(VM_FAULT_SIGBUS, FOLL_HWPOISON), -EFAULT);
}
END_TEST

/* ---------------- huge pfnmaps: order selection, inserts, splits ---------------- */

START_TEST(test_pfnmap_fault_tries_pud_first_and_installs_special_leaf)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PUD_ORDER), pfn;
	uint64_t e;

	ck_assert_uint_eq(a & ~PUD_MASK, 0);
	ck_assert_uint_eq(fault(mm, a + 5 * PAGE_SIZE, 0), VM_FAULT_NOPAGE);
	ck_assert_int_eq(lookup(mm, a + 5 * PAGE_SIZE, &pfn, &e), PGTABLE_PUD);
	ck_assert_uint_eq(pfn, bar_pfn + 5);
	ck_assert(e & _PAGE_SPECIAL);
	ck_assert(!pfn_valid(pfn));
	ck_assert_uint_eq(stat(&mm->fault_stats.pud), 1);
	ck_assert_uint_eq(stat(&mm->fault_stats.fallback), 0);
}
END_TEST

/* The driver declines PUD_ORDER: core mm goes on to PMD, then PTE. */
START_TEST(test_pfnmap_huge_fault_fallback_descends_order_by_order)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PMD_ORDER), pfn;

	ck_assert_uint_eq(fault(mm, a + 3 * MiB, 0), VM_FAULT_NOPAGE);
	ck_assert_int_eq(lookup(mm, a + 3 * MiB, &pfn, NULL), PGTABLE_PMD);
	ck_assert_uint_eq(pfn, bar_pfn + (3 * MiB >> PAGE_SHIFT));
	ck_assert_uint_eq(stat(&mm->fault_stats.fallback), 1);
	ck_assert_uint_eq(stat(&mm->fault_stats.pmd), 1);

	bar_max_order = 0;
	ck_assert_uint_eq(fault(mm, a + 9 * MiB, 0), VM_FAULT_NOPAGE);
	ck_assert_int_eq(lookup(mm, a + 9 * MiB, &pfn, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(pfn, bar_pfn + (9 * MiB >> PAGE_SHIFT));
	/* The PUD is a table now, so only PMD_ORDER was offered and declined. */
	ck_assert_uint_eq(stat(&mm->fault_stats.fallback), 2);
}
END_TEST

/* vma_file_bypass_thp_tuneables(): PFNMAP + ->huge_fault ignore THP=never. */
START_TEST(test_pfnmap_huge_fault_bypasses_thp_never)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PUD_ORDER);
	unsigned long b = map(mm, NULL, 0, 4 * MiB, RW, PRIV_ANON);

	set_vma_flag(mm, b, VM_HUGEPAGE);
	ck_assert_uint_eq(fault(mm, a, 0), VM_FAULT_NOPAGE);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_PUD);
	ck_assert_uint_eq(fault(mm, b, 0), 0);
	ck_assert_int_eq(lookup(mm, b, NULL, NULL), PGTABLE_PTE);
}
END_TEST

START_TEST(test_pfnmap_vm_nohugepage_gets_ptes)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PUD_ORDER);

	set_vma_flag(mm, a, VM_NOHUGEPAGE);
	ck_assert_uint_eq(fault(mm, a, 0), VM_FAULT_NOPAGE);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(stat(&mm->fault_stats.fallback), 0);
}
END_TEST

/* insert_pud(): an existing entry is left alone when write is false. */
START_TEST(test_insert_pfn_pud_on_present_entry_without_write_is_unchanged)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PUD_ORDER);
	struct vm_area_struct *vma = find_vma_of(mm, a);
	struct vm_fault vmf = { .vma = vma, .address = a + PAGE_SIZE };
	pud_t before;

	ck_assert_uint_eq(fault(mm, a, 0), VM_FAULT_NOPAGE);
	vmf.pud = pud_slot(mm, a);	/* the PUD table exists now */
	before = pudp_get(vmf.pud);
	mmap_read_lock(mm);
	ck_assert_uint_eq(vmf_insert_pfn_pud(&vmf, bar_pfn, false), VM_FAULT_NOPAGE);
	ck_assert_uint_eq(vmf_insert_pfn_pud(&vmf, bar_pfn + HPAGE_PUD_NR, false),
			  VM_FAULT_NOPAGE);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(pud_val(pudp_get(vmf.pud)), pud_val(before));
	ck_assert_uint_eq(sim_warn_count(), 0);
	ck_assert_uint_eq(stat(&mm->fault_stats.pud), 1);
}
END_TEST

/* insert_pud(write): a different pfn is a driver bug: WARN, entry kept. */
START_TEST(test_insert_pfn_pud_write_with_different_pfn_warns_and_keeps_entry)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PUD_ORDER);
	struct vm_area_struct *vma = find_vma_of(mm, a);
	struct vm_fault vmf = { .vma = vma, .address = a };
	pud_t before;

	ck_assert_uint_eq(fault(mm, a, 0), VM_FAULT_NOPAGE);
	vmf.pud = pud_slot(mm, a);
	before = pudp_get(vmf.pud);
	mmap_read_lock(mm);
	ck_assert_uint_eq(vmf_insert_pfn_pud(&vmf, bar_pfn + HPAGE_PUD_NR, true),
			  VM_FAULT_NOPAGE);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(sim_warn_count(), 1);
	ck_assert_uint_eq(pud_val(pudp_get(vmf.pud)), pud_val(before));
}
END_TEST

/* insert_pud(write) with the same pfn: young, dirty, writable (VM_WRITE). */
START_TEST(test_insert_pfn_pud_write_with_same_pfn_marks_dirty_young_writable)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PUD_ORDER);
	struct vm_area_struct *vma = find_vma_of(mm, a);
	struct vm_fault vmf = { .vma = vma, .address = a };
	pud_t after;

	ck_assert_uint_eq(fault(mm, a, 0), VM_FAULT_NOPAGE);
	vmf.pud = pud_slot(mm, a);
	ck_assert(!pud_dirty(pudp_get(vmf.pud)));
	mmap_read_lock(mm);
	ck_assert_uint_eq(vmf_insert_pfn_pud(&vmf, bar_pfn, true), VM_FAULT_NOPAGE);
	mmap_read_unlock(mm);
	after = pudp_get(vmf.pud);
	ck_assert(pud_dirty(after) && pud_young(after) && pud_write(after));
	ck_assert(pud_special(after) && pud_leaf(after));
	ck_assert_uint_eq(pud_pfn(after), bar_pfn);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* Only the start of the aligned range is checked against the VMA. */
START_TEST(test_insert_pfn_pud_outside_vma_is_sigbus)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PUD_ORDER);
	struct vm_area_struct *vma = find_vma_of(mm, a);
	struct vm_fault vmf = { .vma = vma, .address = a - GiB + PAGE_SIZE };

	/* The fault at @a populates the PUD table that also holds a - 1G. */
	ck_assert_uint_eq(fault(mm, a, 0), VM_FAULT_NOPAGE);
	vmf.pud = pud_slot(mm, a - GiB);
	mmap_read_lock(mm);
	ck_assert_uint_eq(vmf_insert_pfn_pud(&vmf, bar_pfn, false), VM_FAULT_SIGBUS);
	mmap_read_unlock(mm);
	ck_assert(pud_none(pudp_get(vmf.pud)));
}
END_TEST

static long insert_pud_into_anon(void *arg)
{
	struct vm_fault *vmf = arg;

	return vmf_insert_pfn_pud(vmf, bar_pfn, false);
}

/* BUG_ON(!(vm_flags & (VM_PFNMAP | VM_MIXEDMAP))): an oops, not an error code. */
START_TEST(test_insert_pfn_pud_into_non_pfnmap_vma_oopses)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map(mm, NULL, 0, GiB, RW, PRIV_ANON);
	struct vm_fault vmf = { .vma = find_vma_of(mm, a), .address = a };
	unsigned char *bytes;

	ck_assert_int_eq(mmio_alloc(GiB, &bar_pfn, &bytes), 0);
	ck_assert_int_eq(sim_task_run(insert_pud_into_anon, &vmf), -EOWNERDEAD);
	ck_assert_uint_eq(sim_oops_count(), 1);
}
END_TEST

/* __split_huge_pud() on a pfnmap: the leaf is gone, no PMD table appears. */
START_TEST(test_split_huge_pud_clears_special_leaf_without_pmd_table)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PUD_ORDER);
	struct vm_area_struct *vma = find_vma_of(mm, a);
	unsigned long used;
	long ptes;
	pud_t *pud;

	ck_assert_uint_eq(fault(mm, a, 0), VM_FAULT_NOPAGE);
	pud = pud_slot(mm, a);
	ck_assert(pud_leaf(pudp_get(pud)));
	ptes = atomic_load(&mm->nr_ptes);
	used = nr_allocated_pages();

	mmap_read_lock(mm);
	split_huge_pud(vma, pud, a + 5 * MiB);
	mmap_read_unlock(mm);

	ck_assert(pud_none(pudp_get(pud)));
	ck_assert_int_eq(atomic_load(&mm->nr_ptes), ptes);
	ck_assert_uint_eq(nr_allocated_pages(), used);
	ck_assert_uint_eq(sim_warn_count(), 0);
	/* The next access refaults the whole leaf. */
	ck_assert_uint_eq(fault(mm, a + 5 * MiB, 0), VM_FAULT_NOPAGE);
	ck_assert_int_eq(lookup(mm, a, NULL, NULL), PGTABLE_PUD);
}
END_TEST

/* The PMD twin: a special PMD leaf is just cleared. */
START_TEST(test_split_huge_pmd_clears_special_leaf_without_pte_table)
{
	struct mm_struct *mm = tm_mm("bar");
	unsigned long a = map_bar(mm, PMD_ORDER);
	struct vm_area_struct *vma = find_vma_of(mm, a);
	pmd_t *pmd;
	long ptes;

	ck_assert_uint_eq(fault(mm, a + 2 * MiB, 0), VM_FAULT_NOPAGE);
	pmd = pmd_slot(mm, a + 2 * MiB);
	ck_assert(pmd_leaf(pmdp_get(pmd)));
	ptes = atomic_load(&mm->nr_ptes);

	mmap_read_lock(mm);
	split_huge_pmd(vma, pmd, a + 2 * MiB);
	mmap_read_unlock(mm);
	ck_assert(pmd_none(pmdp_get(pmd)));
	ck_assert_int_eq(atomic_load(&mm->nr_ptes), ptes);
}
END_TEST

/* ---------------- racing faults ---------------- */

#define RACERS 4
#define RACE_PAGES 64

struct racer {
	struct mm_struct *mm;
	unsigned long addr, stride;
	unsigned int flags;
	pthread_barrier_t *start;
};

/* Every racer faults the same pages, in the same order, as hard as it can. */
static void *racer_thread(void *arg)
{
	struct racer *r = arg;

	set_current(mm_thread_task(r->mm));
	pthread_barrier_wait(r->start);
	for (unsigned long i = 0; i < RACE_PAGES; i++)
		ck_assert_uint_eq(fault(r->mm, r->addr + i * r->stride, r->flags), 0);
	return NULL;
}

static void run_racers(struct mm_struct *mm, unsigned long addr, unsigned long stride,
		       unsigned int flags)
{
	pthread_barrier_t start;
	pthread_t t[RACERS];
	struct racer r = { mm, addr, stride, flags, &start };

	pthread_barrier_init(&start, NULL, RACERS);
	for (int i = 0; i < RACERS; i++)
		pthread_create(&t[i], NULL, racer_thread, &r);
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
}

/* do_anonymous_page(): the loser of the PTE race frees its folio. */
START_TEST(test_racing_anon_faults_install_one_page_and_free_the_rest)
{
	struct mm_struct *mm = tm_mm("race");
	unsigned long a = map(mm, NULL, 0, RACE_PAGES * PAGE_SIZE, RW, PRIV_ANON), pfn;
	unsigned long used = nr_allocated_pages();

	run_racers(mm, a, PAGE_SIZE, FAULT_FLAG_WRITE);
	for (unsigned long i = 0; i < RACE_PAGES; i++) {
		ck_assert_int_eq(lookup(mm, a + i * PAGE_SIZE, &pfn, NULL), PGTABLE_PTE);
		ck_assert_int_eq(folio_ref_count(page_folio(pfn_to_page(pfn))), 1);
	}
	ck_assert_uint_eq(stat(&mm->fault_stats.pte), RACE_PAGES);
	/* The pages plus one path of tables: nothing leaked by the losers. */
	ck_assert_uint_eq(nr_allocated_pages() - used, RACE_PAGES + 3);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* One pool page per huge page, one reservation consumed, whoever wins. */
START_TEST(test_racing_hugetlb_faults_take_one_pool_page_each)
{
	struct mm_struct *mm = tm_mm("race");
	struct hstate *h = &tm->hstate_2m;
	unsigned long a;

	a = map(mm, NULL, 0, 16 * PMD_SIZE, RW, PRIV_ANON | MAP_HUGETLB | MAP_HUGE_2MB);
	ck_assert_uint_eq(h->resv_huge_pages, 16);
	/* 64 addresses over the 16 huge pages: 4 per page, 4 racers each. */
	run_racers(mm, a, PMD_SIZE / 4, FAULT_FLAG_WRITE);
	ck_assert_uint_eq(h->free_huge_pages, 0);
	ck_assert_uint_eq(h->resv_huge_pages, 0);
	ck_assert_int_eq(find_vma_of(mm, a)->hugetlb_resv, 0);
	ck_assert_uint_eq(stat(&mm->fault_stats.pmd), 16);
	for (unsigned long i = 0; i < 16; i++)
		ck_assert_int_eq(lookup(mm, a + i * PMD_SIZE, NULL, NULL), PGTABLE_PMD);
}
END_TEST

/* ---------------- fixtures ---------------- */

static void thp_always_setup(void)
{
	tm_defaults(&tm_cfg);
	tm_cfg.thp = THP_ALWAYS;
	tm_setup_with(&tm_cfg);
}

static void thp_never_setup(void)
{
	tm_defaults(&tm_cfg);
	tm_cfg.thp = THP_NEVER;
	tm_setup_with(&tm_cfg);
}

static TCase *tcase_with(Suite *s, const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, tm_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

Suite *make_suite(void)
{
	Suite *s = suite_create("fault");
	TCase *tc;

	tc = tm_tcase(s, "anon");
	tcase_add_test(tc, test_anon_write_fault_installs_pte_with_fresh_exclusive_page);
	tcase_add_test(tc, test_anon_read_fault_on_readonly_vma_maps_readonly_page);
	tcase_add_test(tc, test_anon_refault_of_present_pte_keeps_the_page);
	tcase_add_test(tc, test_write_fault_on_shared_readonly_vma_warns_and_sigsegvs);

	tc = tm_tcase(s, "thp");
	tcase_add_test(tc, test_thp_fault_in_hugepage_vma_installs_pmd_leaf_on_order9_folio);
	tcase_add_test(tc, test_thp_falls_back_to_pte_when_aligned_2m_is_not_inside_vma);
	tcase_add_test(tc, test_thp_madvise_mode_needs_vm_hugepage);
	tcase_add_test(tc, test_split_anon_thp_pmd_maps_same_pfns_with_512_refs);
	tc = tcase_with(s, "thp_always", thp_always_setup);
	tcase_add_test(tc, test_thp_always_mode_maps_pmd_unless_vm_nohugepage);

	tc = tm_tcase(s, "hugetlb");
	tcase_add_test(tc, test_hugetlb_2m_fault_installs_pmd_leaf_from_reserved_pool_page);
	tcase_add_test(tc, test_hugetlb_1g_fault_installs_pud_leaf_from_pool);
	tcase_add_test(tc, test_hugetlb_private_read_fault_maps_readonly_then_write_reuses);
	tcase_add_test(tc, test_hugetlb_noreserve_fault_sigbuses_when_pool_is_all_reserved);
	tcase_add_test(tc, test_hugetlb_reserve_fails_enomem_beyond_free_pages);
	tcase_add_test(tc, test_hugetlb_folio_put_returns_zeroed_page_to_pool);
	tcase_add_test(tc, test_split_huge_pmd_of_hugetlb_leaf_warns_and_keeps_it);

	tc = tm_tcase(s, "fixup_user_fault");
	tcase_add_test(tc, test_fixup_user_fault_without_vma_is_efault);
	tcase_add_test(tc, test_fixup_user_fault_permission_checks_are_efault);
	tcase_add_test(tc, test_fixup_user_fault_with_fatal_signal_is_eintr_only_when_killable);
	tcase_add_test(tc, test_fixup_user_fault_retry_sets_unlocked_and_returns_locked);
	tcase_add_test(tc, test_fault_without_allow_retry_never_drops_mmap_lock);
	tcase_add_test(tc, test_retry_nowait_fault_returns_retry_with_lock_held);
	tcase_add_test(tc, test_vm_fault_to_errno_maps_like_the_kernel);

	tc = tm_tcase(s, "pfnmap");
	tcase_add_test(tc, test_pfnmap_fault_tries_pud_first_and_installs_special_leaf);
	tcase_add_test(tc, test_pfnmap_huge_fault_fallback_descends_order_by_order);
	tcase_add_test(tc, test_pfnmap_vm_nohugepage_gets_ptes);
	tcase_add_test(tc, test_insert_pfn_pud_on_present_entry_without_write_is_unchanged);
	tcase_add_test(tc, test_insert_pfn_pud_write_with_different_pfn_warns_and_keeps_entry);
	tcase_add_test(tc, test_insert_pfn_pud_write_with_same_pfn_marks_dirty_young_writable);
	tcase_add_test(tc, test_insert_pfn_pud_outside_vma_is_sigbus);
	tcase_add_test(tc, test_insert_pfn_pud_into_non_pfnmap_vma_oopses);
	tcase_add_test(tc, test_split_huge_pud_clears_special_leaf_without_pmd_table);
	tcase_add_test(tc, test_split_huge_pmd_clears_special_leaf_without_pte_table);
	tc = tcase_with(s, "pfnmap_thp_never", thp_never_setup);
	tcase_add_test(tc, test_pfnmap_huge_fault_bypasses_thp_never);

	tc = tm_tcase(s, "race");
	tcase_add_test(tc, test_racing_anon_faults_install_one_page_and_free_the_rest);
	tcase_add_test(tc, test_racing_hugetlb_faults_take_one_pool_page_each);

	return s;
}
