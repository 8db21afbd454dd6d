// SPDX-License-Identifier: GPL-2.0-only
/*
 * sim/gup.c: pin_user_pages_remote() and unpin (ref §6, checklist 56-58):
 * FOLL_PIN accounting on small pages, THPs and hugetlb folios; faulting in;
 * -EFAULT on pfnmaps and partial counts; -EINTR on a fatal signal;
 * is_valid_gup_args(); the FOLL_UNLOCKABLE retry path.
 */
#include <linux/mman.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "harness.h"
#include "pgtable.h"

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static unsigned long map(struct mm_struct *mm, struct file *file, unsigned long addr,
			 unsigned long len, unsigned long prot, unsigned long flags)
{
	unsigned long a = vm_mmap(mm, file, addr, len, prot, flags, 0);

	ck_assert_msg(!IS_ERR_VALUE(a), "vm_mmap: %ld", (long)a);
	return a;
}

/* pin_user_pages_remote() as vfio calls it: locked == NULL, lock held. */
static long pin(struct mm_struct *mm, unsigned long start, unsigned long n, unsigned int flags,
		struct page **pages)
{
	long ret;

	mmap_read_lock(mm);
	ret = pin_user_pages_remote(mm, start, n, flags, pages, NULL);
	mmap_read_unlock(mm);
	return ret;
}

static struct page **page_array(unsigned long n)
{
	struct page **p = calloc(n, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	return p;
}

static struct folio *folio_at(struct mm_struct *mm, unsigned long addr)
{
	unsigned long pfn;

	ck_assert_int_ne(pgtable_lookup(mm, addr, &pfn, NULL), PGTABLE_NONE);
	return page_folio(pfn_to_page(pfn));
}

/* ---------------- a test file for pfnmap / fault-injecting VMAs ---------------- */

struct test_dev {
	struct file file;
	struct address_space mapping;
	struct file_operations fops;
	struct vm_operations_struct vm_ops;
	unsigned long pfn;
	int faults; /* ->fault calls */
	int kill_at_fault; /* raise SIGKILL in this (1-based) fault, 0: never */
	bool mixed;
};

static int remap_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct test_dev *d = file->private_data;

	vma->vm_ops = &d->vm_ops;
	return remap_pfn_range(vma, vma->vm_start, d->pfn + vma->vm_pgoff,
			       vma->vm_end - vma->vm_start, vma->vm_page_prot);
}

/* VM_MIXEDMAP with special (MMIO) PTEs: vmf_insert_pfn() at mmap time. */
static int mixed_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct test_dev *d = file->private_data;

	vma->vm_ops = &d->vm_ops;
	vma->vm_flags |= VM_MIXEDMAP;
	for (unsigned long a = vma->vm_start; a < vma->vm_end; a += PAGE_SIZE)
		if (vmf_insert_pfn(vma, a, d->pfn + ((a - vma->vm_start) >> PAGE_SHIFT)) !=
		    VM_FAULT_NOPAGE)
			return -ENOMEM;
	return 0;
}

/* VM_MIXEDMAP with nothing inserted yet (the test inserts huge leaves). */
static int mixed_empty_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct test_dev *d = file->private_data;

	vma->vm_ops = &d->vm_ops;
	vma->vm_flags |= VM_MIXEDMAP;
	return 0;
}

/*
 * A plain file mapping whose ->fault installs a fresh page (the mapping
 * holds its one reference) and can raise a fatal signal while doing so.
 */
static vm_fault_t alloc_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct test_dev *d = vma->vm_file->private_data;
	struct folio *folio = folio_alloc(0, PGTY_anon);
	spinlock_t *ptl;
	pte_t *pte, entry;

	if (!folio)
		return VM_FAULT_OOM;
	entry = pfn_pte(folio_pfn(folio), vma->vm_page_prot);
	if (vma->vm_flags & VM_WRITE)
		entry = pte_mkdirty(pte_mkwrite(entry));
	pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address, &ptl);
	ck_assert_ptr_nonnull(pte);
	ck_assert(pte_none(ptep_get(pte)));
	set_pte(pte, entry);
	pte_unmap_unlock(pte, ptl);
	if (++d->faults == d->kill_at_fault)
		send_sig_kill(current);
	return VM_FAULT_NOPAGE;
}

static int plain_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct test_dev *d = file->private_data;

	vma->vm_ops = &d->vm_ops;
	return 0;
}

static void test_dev_init(struct test_dev *d, int (*mmap)(struct file *, struct vm_area_struct *),
			  unsigned long pfn)
{
	memset(d, 0, sizeof(*d));
	init_rwsem(&d->mapping.i_mmap_rwsem, "i_mmap_rwsem");
	d->fops.mmap = mmap;
	d->file.f_op = &d->fops;
	d->file.f_mapping = &d->mapping;
	d->file.private_data = d;
	atomic_store(&d->file.f_count, 1);
	d->vm_ops.name = "test";
	d->vm_ops.fault = alloc_fault;
	d->pfn = pfn;
}

static unsigned long mmio(uint64_t size)
{
	unsigned long pfn;
	unsigned char *bytes;

	ck_assert_int_eq(mmio_alloc(size, &pfn, &bytes), 0);
	return pfn;
}

/* ---------------- FOLL_PIN accounting (checklist 58) ---------------- */

START_TEST(test_pin_small_page_adds_bias_and_unpin_restores)
{
	struct mm_struct *mm = tm_mm("pin4k");
	unsigned long a = map(mm, NULL, 0, 4 * PAGE_SIZE, RW, ANON);
	struct page *pages[4];
	struct folio *folio;

	/* The pin faults the pages in (ref §6.3 faultin_page). */
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(pin(mm, a, 4, FOLL_WRITE, pages), 4);
	for (int i = 0; i < 4; i++) {
		folio = folio_at(mm, a + i * PAGE_SIZE);
		ck_assert_ptr_eq(pages[i], &folio->page);
		ck_assert_int_eq(folio_ref_count(folio), 1 + GUP_PIN_COUNTING_BIAS);
		ck_assert_int_eq(folio_pincount(folio), 0);
		ck_assert(folio_maybe_dma_pinned(folio));
	}
	ck_assert(atomic_load(&mm->flags) & MMF_HAS_PINNED);
	/* A second pin of the same page stacks. */
	ck_assert_int_eq(pin(mm, a, 1, 0, pages), 1);
	ck_assert_int_eq(page_ref_count(pages[0]), 1 + 2 * GUP_PIN_COUNTING_BIAS);
	unpin_user_page(pages[0]);

	unpin_user_pages(pages, 4);
	for (int i = 0; i < 4; i++) {
		folio = folio_at(mm, a + i * PAGE_SIZE);
		ck_assert_int_eq(folio_ref_count(folio), 1);
		ck_assert(!folio_maybe_dma_pinned(folio));
	}
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_thp_adds_one_ref_and_pincount_per_page)
{
	struct mm_struct *mm = tm_mm("pinthp");
	unsigned long a = map(mm, NULL, 0, PMD_SIZE, RW, ANON);
	struct page **pages = page_array(HPAGE_PMD_NR);
	struct folio *folio;

	ck_assert_int_eq(pin(mm, a, HPAGE_PMD_NR, FOLL_WRITE, pages), HPAGE_PMD_NR);
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, NULL), PGTABLE_PMD);
	folio = folio_at(mm, a);
	ck_assert_uint_eq(folio_nr_pages(folio), HPAGE_PMD_NR);
	ck_assert_int_eq(folio_ref_count(folio), 1 + HPAGE_PMD_NR);
	ck_assert_int_eq(folio_pincount(folio), HPAGE_PMD_NR);
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		ck_assert_ptr_eq(pages[i], folio_page(folio, i));

	/* A pin from the middle takes only the pages asked for. */
	ck_assert_int_eq(pin(mm, a + 10 * PAGE_SIZE, 100, 0, pages), 100);
	ck_assert_ptr_eq(pages[0], folio_page(folio, 10));
	ck_assert_int_eq(folio_ref_count(folio), 1 + HPAGE_PMD_NR + 100);
	ck_assert_int_eq(folio_pincount(folio), HPAGE_PMD_NR + 100);
	unpin_user_pages(pages, 100);

	ck_assert_int_eq(pin(mm, a, HPAGE_PMD_NR, 0, pages), HPAGE_PMD_NR);
	unpin_user_pages(pages, HPAGE_PMD_NR);
	unpin_user_page_range_dirty_lock(folio_page(folio, 0), HPAGE_PMD_NR, false);
	ck_assert_int_eq(folio_ref_count(folio), 1);
	ck_assert_int_eq(folio_pincount(folio), 0);
	ck_assert(!folio_maybe_dma_pinned(folio));
	ck_assert_uint_eq(sim_warn_count(), 0);
	free(pages);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_1g_hugetlb_counts_per_page)
{
	struct mm_struct *mm = tm_mm("pin1g");
	unsigned long a = map(mm, NULL, 0, PUD_SIZE, RW, ANON | MAP_HUGETLB | MAP_HUGE_1GB);
	struct page **pages = page_array(1000);
	struct folio *folio;

	ck_assert_int_eq(pin(mm, a + 7 * PAGE_SIZE, 1000, FOLL_WRITE | FOLL_LONGTERM, pages), 1000);
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, NULL), PGTABLE_PUD);
	folio = folio_at(mm, a);
	ck_assert_uint_eq(folio_nr_pages(folio), HPAGE_PUD_NR);
	ck_assert_int_eq(folio_ref_count(folio), 1 + 1000);
	ck_assert_int_eq(folio_pincount(folio), 1000);
	ck_assert_ptr_eq(pages[0], folio_page(folio, 7));
	ck_assert_ptr_eq(pages[999], folio_page(folio, 1006));
	ck_assert(!(page_flags(&folio->page) & PG_dirty));

	/* vfio's put path: one range, dirtied. */
	unpin_user_page_range_dirty_lock(pages[0], 1000, true);
	ck_assert_int_eq(folio_ref_count(folio), 1);
	ck_assert_int_eq(folio_pincount(folio), 0);
	ck_assert(page_flags(&folio->page) & PG_dirty);
	free(pages);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_2m_hugetlb_takes_whole_leaf_in_one_step)
{
	struct mm_struct *mm = tm_mm("pin2m");
	/* Private: a shared mapping's folios hold the page cache's reference too. */
	unsigned long a = map(mm, NULL, 0, 2 * PMD_SIZE, RW,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB);
	struct page **pages = page_array(2 * HPAGE_PMD_NR);
	struct folio *f0, *f1;

	/* 300 pages of the first huge page and 212 of the second. */
	ck_assert_int_eq(pin(mm, a + 212 * PAGE_SIZE, HPAGE_PMD_NR, FOLL_WRITE, pages),
			 HPAGE_PMD_NR);
	f0 = folio_at(mm, a);
	f1 = folio_at(mm, a + PMD_SIZE);
	ck_assert_int_eq(folio_type(f0), PGTY_hugetlb);
	ck_assert_int_eq(folio_pincount(f0), 300);
	ck_assert_int_eq(folio_ref_count(f0), 1 + 300);
	ck_assert_int_eq(folio_pincount(f1), 212);
	ck_assert_ptr_eq(pages[299], folio_page(f0, 511));
	ck_assert_ptr_eq(pages[300], folio_page(f1, 0));
	unpin_user_page_range_dirty_lock(pages[0], 300, false);
	unpin_user_pages(pages + 300, 212);
	ck_assert_int_eq(folio_ref_count(f0), 1);
	ck_assert_int_eq(folio_ref_count(f1), 1);
	ck_assert_int_eq(folio_pincount(f1), 0);
	free(pages);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_zero_pages_returns_zero)
{
	struct mm_struct *mm = tm_mm("zero");
	unsigned long a = map(mm, NULL, 0, PAGE_SIZE, RW, ANON);
	struct page *page = NULL;

	ck_assert_int_eq(pin(mm, a, 0, 0, &page), 0);
	ck_assert_uint_eq(sim_warn_count(), 0);
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, NULL), PGTABLE_NONE);
	mmput(mm);
}
END_TEST

/* A range across a small page, a THP and another small page, unpinned as one run. */
START_TEST(test_unpin_range_across_folio_boundaries)
{
	struct mm_struct *mm = tm_mm("mixed");
	unsigned long a = map(mm, NULL, 0, 4 * PMD_SIZE, RW, ANON);
	struct page **pages = page_array(3 * HPAGE_PMD_NR);
	struct folio *thp;

	/*
	 * THP "madvise" and no VM_HUGEPAGE yet: the first 2M gets a PTE table.
	 * Then madvise(MADV_HUGEPAGE): the second 2M faults in as a THP.
	 */
	ck_assert_int_eq(pin(mm, a, 1, 0, pages), 1);
	unpin_user_page(pages[0]);
	mmap_write_lock(mm);
	vma_lookup(mm, a)->vm_flags |= VM_HUGEPAGE;
	mmap_write_unlock(mm);

	ck_assert_int_eq(pin(mm, a + PMD_SIZE - PAGE_SIZE, HPAGE_PMD_NR + 1, FOLL_WRITE, pages),
			 HPAGE_PMD_NR + 1);
	thp = folio_at(mm, a + PMD_SIZE);
	ck_assert(folio_test_large(thp));
	ck_assert_int_eq(folio_pincount(thp), HPAGE_PMD_NR);
	ck_assert_int_eq(page_ref_count(pages[0]), 1 + GUP_PIN_COUNTING_BIAS);

	/* unpin_user_pages_dirty_lock(): one step per folio, heads dirtied. */
	unpin_user_pages_dirty_lock(pages, HPAGE_PMD_NR + 1, true);
	ck_assert_int_eq(page_ref_count(pages[0]), 1);
	ck_assert(page_flags(pages[0]) & PG_dirty);
	ck_assert_int_eq(folio_ref_count(thp), 1);
	ck_assert_int_eq(folio_pincount(thp), 0);
	ck_assert(page_flags(&thp->page) & PG_dirty);
	ck_assert_uint_eq(sim_warn_count(), 0);
	free(pages);
	mmput(mm);
}
END_TEST

/* ---------------- errors and partial counts (checklist 56, 57) ---------------- */

START_TEST(test_pin_pfnmap_first_page_is_efault)
{
	struct mm_struct *mm = tm_mm("pfnmap");
	struct test_dev d;
	struct page *pages[4] = {0};
	unsigned long a;

	test_dev_init(&d, remap_mmap, mmio(4 * PAGE_SIZE));
	a = map(mm, &d.file, 0, 4 * PAGE_SIZE, RW, MAP_SHARED);
	ck_assert_int_eq(pin(mm, a, 4, FOLL_WRITE | FOLL_LONGTERM, pages), -EFAULT);
	ck_assert_ptr_null(pages[0]);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_stops_at_pfnmap_with_partial_count)
{
	struct mm_struct *mm = tm_mm("boundary");
	unsigned long a = map(mm, NULL, 0, 8 * PAGE_SIZE, RW, ANON);
	struct page *pages[8] = {0};
	struct test_dev d;

	/* The upper half becomes a pfnmap VMA right after the anonymous one. */
	test_dev_init(&d, remap_mmap, mmio(4 * PAGE_SIZE));
	ck_assert_uint_eq(
		map(mm, &d.file, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE, RW, MAP_SHARED | MAP_FIXED),
		a + 4 * PAGE_SIZE);

	ck_assert_int_eq(pin(mm, a, 8, FOLL_WRITE | FOLL_LONGTERM, pages), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(page_ref_count(pages[i]), 1 + GUP_PIN_COUNTING_BIAS);
	ck_assert_ptr_null(pages[4]);
	/* The next call, at the pfnmap page, fails outright. */
	ck_assert_int_eq(pin(mm, a + 4 * PAGE_SIZE, 4, FOLL_WRITE | FOLL_LONGTERM, pages + 4),
			 -EFAULT);
	ck_assert_ptr_null(pages[4]);
	unpin_user_pages(pages, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(page_ref_count(pages[i]), 1);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_hole_gives_partial_count_then_efault)
{
	struct mm_struct *mm = tm_mm("hole");
	unsigned long a = map(mm, NULL, 0, 8 * PAGE_SIZE, RW, ANON);
	struct page *pages[8];

	ck_assert_int_eq(vm_munmap(mm, a + 3 * PAGE_SIZE, PAGE_SIZE), 0);
	ck_assert_int_eq(pin(mm, a, 8, 0, pages), 3);
	ck_assert_int_eq(pin(mm, a + 3 * PAGE_SIZE, 5, 0, pages + 3), -EFAULT);
	unpin_user_pages(pages, 3);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_write_on_readonly_vma_is_efault)
{
	struct mm_struct *mm = tm_mm("ro");
	unsigned long a = map(mm, NULL, 0, 2 * PAGE_SIZE, PROT_READ, ANON);
	struct page *pages[2];

	ck_assert_int_eq(pin(mm, a, 2, FOLL_WRITE, pages), -EFAULT);
	/* check_vma_flags() refused before any fault. */
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, NULL), PGTABLE_NONE);
	/* A read pin of the same VMA works. */
	ck_assert_int_eq(pin(mm, a, 2, 0, pages), 2);
	ck_assert_int_eq(page_ref_count(pages[1]), 1 + GUP_PIN_COUNTING_BIAS);
	unpin_user_pages(pages, 2);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_read_on_prot_none_vma_is_efault)
{
	struct mm_struct *mm = tm_mm("none");
	unsigned long a = map(mm, NULL, 0, PAGE_SIZE, PROT_NONE, ANON);
	struct page *page;

	ck_assert_int_eq(pin(mm, a, 1, 0, &page), -EFAULT);
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, NULL), PGTABLE_NONE);
	mmput(mm);
}
END_TEST

/* Read pin faulted a read-only entry in; a write pin must fault again for write. */
START_TEST(test_pin_write_refaults_readonly_entry)
{
	struct mm_struct *mm = tm_mm("wp");
	unsigned long a = map(mm, NULL, 0, PUD_SIZE, RW, ANON | MAP_HUGETLB | MAP_HUGE_1GB);
	struct page *page;
	uint64_t entry;

	ck_assert_int_eq(pin(mm, a, 1, 0, &page), 1);
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, &entry), PGTABLE_PUD);
	ck_assert(!(entry & _PAGE_RW)); /* private hugetlb: read-only until written */
	unpin_user_page(page);
	ck_assert_int_eq(pin(mm, a, 1, FOLL_WRITE, &page), 1);
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, &entry), PGTABLE_PUD);
	ck_assert(entry & _PAGE_RW);
	ck_assert_int_eq(page_ref_count(page), 2);
	unpin_user_page(page);
	mmput(mm);
}
END_TEST

/* VM_MIXEDMAP is not refused by VMA, but a pageless entry cannot be pinned. */
START_TEST(test_pin_pageless_mixedmap_entry_is_eexist)
{
	struct mm_struct *mm = tm_mm("mixed");
	struct test_dev d;
	struct page *pages[2];
	unsigned long a;

	test_dev_init(&d, mixed_mmap, mmio(2 * PAGE_SIZE));
	a = map(mm, &d.file, 0, 2 * PAGE_SIZE, RW, MAP_SHARED);
	ck_assert_int_eq(pin(mm, a, 2, 0, pages), -EEXIST);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_pageless_huge_mixedmap_leaf_is_eexist)
{
	struct mm_struct *mm = tm_mm("mixed_pmd");
	struct vm_fault vmf = {0};
	struct page *pages[2] = {0};
	struct test_dev d;
	unsigned long a;

	test_dev_init(&d, mixed_empty_mmap, mmio(PMD_SIZE));
	a = map(mm, &d.file, 0, PMD_SIZE, RW, MAP_SHARED);
	ck_assert_uint_eq(a & ~PMD_MASK, 0);
	mmap_read_lock(mm);
	vmf.vma = vma_lookup(mm, a);
	vmf.address = a;
	vmf.pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, a), a), a);
	vmf.pmd = pmd_alloc(mm, vmf.pud, a);
	ck_assert_uint_eq(vmf_insert_pfn_pmd(&vmf, d.pfn, false), VM_FAULT_NOPAGE);
	/* follow_huge_pmd(): vm_normal_page_pmd() is NULL, so no page to give. */
	ck_assert_int_eq(pin_user_pages_remote(mm, a + PAGE_SIZE, 2, 0, pages, NULL), -EEXIST);
	mmap_read_unlock(mm);
	ck_assert_ptr_null(pages[0]);
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, NULL), PGTABLE_PMD);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_with_fatal_signal_pending_is_eintr)
{
	struct mm_struct *mm = tm_mm("killed");
	unsigned long a = map(mm, NULL, 0, 4 * PAGE_SIZE, RW, ANON);
	struct page *pages[4];

	send_sig_kill(current);
	ck_assert_int_eq(pin(mm, a, 4, FOLL_WRITE, pages), -EINTR);
	/* Nothing was faulted or pinned. */
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, NULL), PGTABLE_NONE);
	/* __get_user_pages_locked() marks the mm before it looks at a page. */
	ck_assert(atomic_load(&mm->flags) & MMF_HAS_PINNED);
	mmput(mm);
}
END_TEST

START_TEST(test_pin_signal_after_k_pages_returns_k)
{
	struct mm_struct *mm = tm_mm("killed_late");
	struct page *pages[8] = {0};
	struct test_dev d;
	unsigned long a;

	test_dev_init(&d, plain_mmap, 0);
	d.kill_at_fault = 3; /* while faulting in the third page */
	a = map(mm, &d.file, 0, 8 * PAGE_SIZE, RW, MAP_SHARED);
	/* The third fault completes, then the signal check stops the loop. */
	ck_assert_int_eq(pin(mm, a, 8, FOLL_WRITE, pages), 2);
	ck_assert_int_eq(d.faults, 3);
	ck_assert_int_eq(pgtable_lookup(mm, a + 2 * PAGE_SIZE, NULL, NULL), PGTABLE_PTE);
	ck_assert_int_eq(page_ref_count(pages[0]), 1 + GUP_PIN_COUNTING_BIAS);
	ck_assert_int_eq(page_ref_count(pages[1]), 1 + GUP_PIN_COUNTING_BIAS);
	ck_assert_ptr_null(pages[2]);
	/* The fault-installed page of the third address holds only its mapping's ref. */
	ck_assert_int_eq(folio_ref_count(folio_at(mm, a + 2 * PAGE_SIZE)), 1);
	/* Still killed: the next call pins nothing. */
	ck_assert_int_eq(pin(mm, a + 2 * PAGE_SIZE, 6, FOLL_WRITE, pages + 2), -EINTR);
	unpin_user_pages(pages, 2);
	ck_assert_int_eq(page_ref_count(pages[0]), 1);
	mmput(mm); /* before the stack test_dev goes */
}
END_TEST

/* ---------------- is_valid_gup_args (ref §6.1) ---------------- */

START_TEST(test_invalid_gup_args_warn_and_return_zero)
{
	struct mm_struct *mm = tm_mm("args");
	unsigned long a = map(mm, NULL, 0, PAGE_SIZE, RW, ANON);
	struct page *page = NULL;
	int locked = 0;

	mmap_read_lock(mm);
	ck_assert_int_eq(pin_user_pages_remote(mm, a, 1, FOLL_PIN, &page, NULL), 0);
	ck_assert_uint_eq(sim_warn_count(), 1);
	ck_assert_int_eq(pin_user_pages_remote(mm, a, 1, FOLL_GET, &page, NULL), 0);
	ck_assert_uint_eq(sim_warn_count(), 2);
	ck_assert_int_eq(pin_user_pages_remote(mm, a, 1, 0, NULL, NULL), 0);
	ck_assert_uint_eq(sim_warn_count(), 3);
	ck_assert_int_eq(pin_user_pages_remote(mm, a, 1, 0, &page, &locked), 0);
	ck_assert_uint_eq(sim_warn_count(), 4);
	ck_assert_int_eq(
		pin_user_pages_remote(mm, a, 1, FOLL_LONGTERM | FOLL_PCI_P2PDMA, &page, NULL), 0);
	ck_assert_uint_eq(sim_warn_count(), 5);
	mmap_read_unlock(mm);
	/* Nothing happened: no fault, no pin, no MMF_HAS_PINNED. */
	ck_assert_ptr_null(page);
	ck_assert_int_eq(pgtable_lookup(mm, a, NULL, NULL), PGTABLE_NONE);
	ck_assert(!(atomic_load(&mm->flags) & MMF_HAS_PINNED));
	mmput(mm);
}
END_TEST

START_TEST(test_pin_without_mmap_lock_warns)
{
	struct mm_struct *mm = tm_mm("nolock");
	unsigned long a = map(mm, NULL, 0, PAGE_SIZE, RW, ANON);
	struct page *page;

	char buf[SIM_MSG_LEN];

	/* mmap_assert_locked() in __get_user_pages_locked(). */
	ck_assert_int_eq(pin_user_pages_remote(mm, a, 1, 0, &page, NULL), 1);
	ck_assert_uint_ge(sim_warn_count(), 1);
	ck_assert(sim_last_warn(buf, sizeof(buf)));
	ck_assert_ptr_nonnull(strstr(buf, "mmap_assert_locked"));
	unpin_user_page(page);
	mmput(mm);
}
END_TEST

/* ---------------- FOLL_UNLOCKABLE (locked != NULL) ---------------- */

START_TEST(test_pin_unlockable_retries_after_fault_drops_lock)
{
	struct mm_struct *mm = tm_mm("unlockable");
	unsigned long a = map(mm, NULL, 0, 8 * PAGE_SIZE, RW, ANON);
	struct page *pages[8] = {0};
	int locked = 1;
	long ret;

	/* Pre-fault the first two pages so the retry comes mid-way. */
	ck_assert_int_eq(pin(mm, a, 2, 0, pages), 2);
	unpin_user_pages(pages, 2);
	/* The next fault finds its "folio locked": drops mmap_lock, VM_FAULT_RETRY. */
	atomic_store(&mm->inject_fault_retry, 1);

	mmap_read_lock(mm);
	ret = pin_user_pages_remote(mm, a, 8, FOLL_WRITE, pages, &locked);
	ck_assert_int_eq(ret, 8);
	/* GUP re-took the lock to finish, then dropped it and said so. */
	ck_assert_int_eq(locked, 0);
	ck_assert(!rwsem_held_by_current(&mm->mmap_lock));
	ck_assert_uint_eq(atomic_load(&mm->fault_stats.retry), 1);
	for (int i = 0; i < 8; i++) {
		ck_assert_ptr_eq(pages[i], &folio_at(mm, a + i * PAGE_SIZE)->page);
		ck_assert_int_eq(page_ref_count(pages[i]), 1 + GUP_PIN_COUNTING_BIAS);
	}
	unpin_user_pages(pages, 8);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

/* Without FOLL_UNLOCKABLE the fault may not drop the lock (no ALLOW_RETRY). */
START_TEST(test_pin_locked_null_never_drops_lock)
{
	struct mm_struct *mm = tm_mm("locked_null");
	unsigned long a = map(mm, NULL, 0, 4 * PAGE_SIZE, RW, ANON);
	struct page *pages[4];

	atomic_store(&mm->inject_fault_retry, 1);
	mmap_read_lock(mm);
	ck_assert_int_eq(pin_user_pages_remote(mm, a, 4, FOLL_WRITE, pages, NULL), 4);
	ck_assert(rwsem_held_by_current(&mm->mmap_lock));
	mmap_read_unlock(mm);
	ck_assert_uint_eq(atomic_load(&mm->fault_stats.retry), 0);
	ck_assert_int_eq(atomic_load(&mm->inject_fault_retry), 1);
	unpin_user_pages(pages, 4);
	mmput(mm);
}
END_TEST

static void setup_thp_always(void)
{
	tm_defaults(&tm_cfg);
	tm_cfg.thp = THP_ALWAYS;
	tm_setup_with(&tm_cfg);
}

Suite *make_suite(void)
{
	Suite *s = suite_create("gup");
	TCase *tc;

	tc = tm_tcase(s, "foll_pin_accounting");
	tcase_add_test(tc, test_pin_small_page_adds_bias_and_unpin_restores);
	tcase_add_test(tc, test_pin_1g_hugetlb_counts_per_page);
	tcase_add_test(tc, test_pin_2m_hugetlb_takes_whole_leaf_in_one_step);
	tcase_add_test(tc, test_pin_zero_pages_returns_zero);
	tcase_add_test(tc, test_unpin_range_across_folio_boundaries);

	tc = tcase_create("foll_pin_thp");
	tcase_add_checked_fixture(tc, setup_thp_always, tm_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_pin_thp_adds_one_ref_and_pincount_per_page);

	tc = tm_tcase(s, "errors");
	tcase_add_test(tc, test_pin_pfnmap_first_page_is_efault);
	tcase_add_test(tc, test_pin_stops_at_pfnmap_with_partial_count);
	tcase_add_test(tc, test_pin_hole_gives_partial_count_then_efault);
	tcase_add_test(tc, test_pin_write_on_readonly_vma_is_efault);
	tcase_add_test(tc, test_pin_read_on_prot_none_vma_is_efault);
	tcase_add_test(tc, test_pin_write_refaults_readonly_entry);
	tcase_add_test(tc, test_pin_pageless_mixedmap_entry_is_eexist);
	tcase_add_test(tc, test_pin_pageless_huge_mixedmap_leaf_is_eexist);
	tcase_add_test(tc, test_pin_with_fatal_signal_pending_is_eintr);
	tcase_add_test(tc, test_pin_signal_after_k_pages_returns_k);
	tcase_add_test(tc, test_invalid_gup_args_warn_and_return_zero);
	tcase_add_test(tc, test_pin_without_mmap_lock_warns);

	tc = tm_tcase(s, "unlockable");
	tcase_add_test(tc, test_pin_unlockable_retries_after_fault_drops_lock);
	tcase_add_test(tc, test_pin_locked_null_never_drops_lock);
	return s;
}
