// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page tables go with the mappings that used them (differential finding D2):
 * munmap -> unmap_region()/vms_clear_ptes() -> free_pgtables() ->
 * free_pgd_range() (mm/vma.c, mm/memory.c, 6.12.118) frees every table whose
 * whole span lies between the neighbouring VMAs (floor = the previous VMA's
 * end, ceiling = the next one's start), and exit_mmap() frees them all.
 *
 * What each test pins:
 *  - a 4K page touched and unmapped leaves no PMD table behind, so a 2M or 1G
 *    hugetlb mapping MAP_FIXED over it faults in its PMD/PUD leaf
 *    (hugetlb_fault() -> huge_pte_alloc() finds none) and a BAR or THP there
 *    gets its huge leaf, not 4K ones;
 *  - tables a neighbouring VMA still covers stay (floor/ceiling), and that
 *    VMA keeps working;
 *  - the table counts (pinsim_proc_stats().pgtable_pages, the machine's
 *    allocated frames) drop at munmap and are back to the start after exit,
 *    1G hugetlb included;
 *  - no walker reads a freed table: the numa_maps walker and a vfio-pci zap
 *    (unmap_mapping_range(), under i_mmap_rwsem only) racing munmap under the
 *    deterministic scheduler; pinsim_pagemap()'s lockless lookup against the
 *    deferred free; and the accessors oops on a read of a freed table.
 */
#include <linux/mman.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include "mm_fixtures.h"
#include "pgtable.h"
#include "pinsim/pinsim.h"
#include "sched_point.h"
#include "scheduler.h"
#include "task_mmu.h"
#include "vfio_pci.h"

#define VA_1G 0x7e0040000000UL		/* 1 GiB aligned: pgd 252, pud 1 */
#define VA_2M (VA_1G + 0x200000UL)	/* 2 MiB aligned, not 1 GiB */

/* ---------------- helpers ---------------- */

static unsigned long map_at(struct mm_struct *mm, unsigned long addr, unsigned long len,
			    unsigned long flags)
{
	unsigned long a = vm_mmap(mm, NULL, addr, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | flags, 0);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap at %#lx: %ld", addr, (long)a);
	ck_assert_uint_eq(a, addr);
	return a;
}

static int write_fault(struct mm_struct *mm, unsigned long addr)
{
	int ret;

	mmap_read_lock(mm);
	ret = fixup_user_fault(mm, addr, FAULT_FLAG_WRITE, NULL);
	mmap_read_unlock(mm);
	return ret;
}

static unsigned long nr_tables(struct mm_struct *mm)
{
	return atomic_load(&mm->nr_ptes);
}

/* The PMD entry of @addr, or 0 when there is no PMD table. */
static uint64_t pmd_entry_at(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	pud_t pud;

	if (!pgd_present(pgdp_get(pgd)))
		return 0;
	pud = pudp_get(pud_offset(p4d_offset(pgd, addr), addr));
	if (!pud_present(pud) || pud_leaf(pud))
		return 0;
	return pmd_val(pmdp_get(pmd_offset_lockless(pud, addr)));
}

/* The PUD entry of @addr, or 0 when there is no PUD table. */
static uint64_t pud_entry_at(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);

	if (!pgd_present(pgdp_get(pgd)))
		return 0;
	return pud_val(pudp_get(pud_offset(p4d_offset(pgd, addr), addr)));
}

/*
 * Touch two anonymous 4K pages at @addr (alone in their 1G: a PUD, PMD and
 * PTE table of their own) and unmap them.
 */
static void touch_4k_and_unmap(struct mm_struct *mm, unsigned long addr)
{
	unsigned long tables = nr_tables(mm);

	map_at(mm, addr, 2 * PAGE_SIZE, 0);
	ck_assert_int_eq(write_fault(mm, addr), 0);
	ck_assert_int_eq(write_fault(mm, addr + PAGE_SIZE), 0);
	ck_assert_int_eq(level_at(mm, addr), PGTABLE_PTE);
	ck_assert_uint_eq(nr_tables(mm), tables + 3);
	ck_assert_int_eq(vm_munmap(mm, addr, 2 * PAGE_SIZE), 0);
}

/* ---------------- D2: huge mappings over a range that had 4K pages ---------------- */

START_TEST(test_hugetlb_2m_fixed_over_unmapped_4k_gets_pmd_leaf)
{
	struct mm_struct *mm = tm_mm("d2");
	unsigned long warns = sim_warn_count();
	unsigned long free2m = tm->hstate_2m.free_huge_pages;

	touch_4k_and_unmap(mm, VA_2M);
	/* free_pgd_range(): nothing maps the range any more, every table went. */
	ck_assert_uint_eq(nr_tables(mm), 1);
	ck_assert_uint_eq(pud_entry_at(mm, VA_2M), 0);

	map_at(mm, VA_2M, PMD_SIZE, MAP_HUGETLB | MAP_HUGE_2MB);
	ck_assert_int_eq(write_fault(mm, VA_2M + 5 * PAGE_SIZE), 0);
	ck_assert_int_eq(level_at(mm, VA_2M), PGTABLE_PMD);
	ck_assert(pmd_entry_at(mm, VA_2M) & _PAGE_PSE);
	ck_assert_uint_eq(tm->hstate_2m.free_huge_pages, free2m - 1);
	ck_assert_uint_eq(sim_warn_count(), warns);

	ck_assert_int_eq(vm_munmap(mm, VA_2M, PMD_SIZE), 0);
	ck_assert_uint_eq(tm->hstate_2m.free_huge_pages, free2m);
	ck_assert_uint_eq(nr_tables(mm), 1);
	mmput(mm);
}
END_TEST

START_TEST(test_hugetlb_1g_fixed_over_unmapped_4k_gets_pud_leaf)
{
	struct mm_struct *mm = tm_mm("d2");
	unsigned long warns = sim_warn_count();
	unsigned long free1g = tm->hstate_1g.free_huge_pages;

	touch_4k_and_unmap(mm, VA_1G);
	ck_assert_uint_eq(nr_tables(mm), 1);

	map_at(mm, VA_1G, PUD_SIZE, MAP_HUGETLB | MAP_HUGE_1GB);
	ck_assert_int_eq(write_fault(mm, VA_1G + 3 * PMD_SIZE), 0);
	ck_assert_int_eq(level_at(mm, VA_1G), PGTABLE_PUD);
	ck_assert(pud_entry_at(mm, VA_1G) & _PAGE_PSE);
	ck_assert_uint_eq(tm->hstate_1g.free_huge_pages, free1g - 1);
	ck_assert_uint_eq(sim_warn_count(), warns);
	ck_assert_uint_eq(nr_tables(mm), 2);		/* pgd, pud */

	ck_assert_int_eq(vm_munmap(mm, VA_1G, PUD_SIZE), 0);
	ck_assert_uint_eq(tm->hstate_1g.free_huge_pages, free1g);
	ck_assert_uint_eq(nr_tables(mm), 1);
	mmput(mm);
}
END_TEST

/* A BAR mapped where 4K pages were: vfio-pci's huge_fault gets its PUD / PMD slot. */
START_TEST(test_bar_fixed_over_unmapped_4k_gets_pud_and_pmd_leaves)
{
	struct vfio_pci_core_device *vdev = make_bar(PUD_SIZE);
	struct mm_struct *mm = tm_mm("d2");
	unsigned long pfn;

	touch_4k_and_unmap(mm, VA_1G);
	map_bar(mm, vdev, VA_1G, PUD_SIZE);
	touch(mm, VA_1G + PAGE_SIZE, true);
	ck_assert_int_eq(pgtable_lookup(mm, VA_1G, &pfn, NULL), PGTABLE_PUD);
	ck_assert_uint_eq(pfn, vdev->bar[0].pfn);
	ck_assert_int_eq(vm_munmap(mm, VA_1G, PUD_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 1);

	/* 2M of the BAR at a 2M (not 1G) aligned address: a PMD leaf. */
	touch_4k_and_unmap(mm, VA_2M);
	map_bar(mm, vdev, VA_2M, PMD_SIZE);
	touch(mm, VA_2M, false);
	ck_assert_int_eq(pgtable_lookup(mm, VA_2M, &pfn, NULL), PGTABLE_PMD);
	ck_assert_uint_eq(pfn, vdev->bar[0].pfn);
	ck_assert_int_eq(vm_munmap(mm, VA_2M, PMD_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 1);
	mmput(mm);
	vfio_pci_device_destroy(vdev);
}
END_TEST

START_TEST(test_thp_over_unmapped_4k_gets_pmd_leaf)
{
	struct mm_struct *mm = tm_mm("d2");

	machine->cfg.thp = THP_ALWAYS;
	touch_4k_and_unmap(mm, VA_2M);
	map_at(mm, VA_2M, PMD_SIZE, 0);
	ck_assert_int_eq(write_fault(mm, VA_2M), 0);
	ck_assert_int_eq(level_at(mm, VA_2M), PGTABLE_PMD);
	ck_assert_uint_eq(nr_tables(mm), 3);		/* pgd, pud, pmd: no PTE table */
	mmput(mm);
}
END_TEST

/* ---------------- floor and ceiling: what neighbours keep ---------------- */

/* Two VMAs in one PTE table: unmapping either keeps the table for the other. */
START_TEST(test_pte_table_shared_with_neighbour_survives_munmap)
{
	struct mm_struct *mm = tm_mm("nb");
	unsigned long lo = VA_2M, hi = VA_2M + PAGE_SIZE, pfn_hi, pfn;
	uint64_t pmd;

	ck_assert_uint_eq(vm_mmap(mm, NULL, lo, PAGE_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0), lo);
	ck_assert_uint_eq(vm_mmap(mm, NULL, hi, PAGE_SIZE, PROT_READ,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0), hi);
	ck_assert_uint_eq(mm->nr_vmas, 2);
	ck_assert_int_eq(write_fault(mm, lo), 0);
	touch(mm, hi, false);
	ck_assert_int_eq(pgtable_lookup(mm, hi, &pfn_hi, NULL), PGTABLE_PTE);
	*(volatile char *)phys_to_virt(pfn_hi) = 0x5a;
	folio_mark_data(page_folio(pfn_to_page(pfn_hi)));
	pmd = pmd_entry_at(mm, lo);
	ck_assert_uint_eq(nr_tables(mm), 4);

	/* ceiling = hi's start: the PTE table spans it, so it stays. */
	ck_assert_int_eq(vm_munmap(mm, lo, PAGE_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 4);
	ck_assert_uint_eq(pmd_entry_at(mm, lo), pmd);
	ck_assert_int_eq(level_at(mm, lo), PGTABLE_NONE);
	ck_assert_int_eq(pgtable_lookup(mm, hi, &pfn, NULL), PGTABLE_PTE);
	ck_assert_uint_eq(pfn, pfn_hi);
	ck_assert_int_eq(*(volatile char *)phys_to_virt(pfn), 0x5a);
	touch(mm, hi, false);				/* still faults fine */

	/* Now nothing is left in the range: every level goes. */
	ck_assert_int_eq(vm_munmap(mm, hi, PAGE_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 1);
	mmput(mm);
}
END_TEST

/*
 * Neighbours in other PTE tables of the same PMD table: the unmapped VMA's
 * PTE table goes (its span is between floor and ceiling), the PMD table
 * stays (PUD-rounded, it reaches the neighbours), on both sides.
 */
START_TEST(test_pmd_table_shared_with_neighbours_survives_munmap)
{
	struct mm_struct *mm = tm_mm("nb");
	unsigned long below = VA_1G, mid = VA_1G + 4 * PMD_SIZE, above = VA_1G + 8 * PMD_SIZE;

	map_at(mm, below, PAGE_SIZE, 0);
	map_at(mm, mid, PAGE_SIZE, 0);
	map_at(mm, above, PAGE_SIZE, 0);
	ck_assert_int_eq(write_fault(mm, below), 0);
	ck_assert_int_eq(write_fault(mm, mid), 0);
	ck_assert_int_eq(write_fault(mm, above), 0);
	ck_assert_uint_eq(nr_tables(mm), 6);		/* pgd, pud, pmd, 3 pte */

	ck_assert_int_eq(vm_munmap(mm, mid, PAGE_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 5);
	ck_assert_uint_eq(pmd_entry_at(mm, mid), 0);
	ck_assert_int_eq(level_at(mm, below), PGTABLE_PTE);
	ck_assert_int_eq(level_at(mm, above), PGTABLE_PTE);

	ck_assert_int_eq(vm_munmap(mm, above, PAGE_SIZE), 0);	/* no next VMA: ceiling 0 */
	ck_assert_uint_eq(nr_tables(mm), 4);
	ck_assert_int_eq(level_at(mm, below), PGTABLE_PTE);
	ck_assert_int_eq(write_fault(mm, below + 0), 0);

	/* Part of a VMA: the rest of it is the neighbour that keeps the table. */
	map_at(mm, mid, 3 * PAGE_SIZE, 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(write_fault(mm, mid + i * PAGE_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 5);
	ck_assert_int_eq(vm_munmap(mm, mid + PAGE_SIZE, PAGE_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 5);
	ck_assert_int_eq(level_at(mm, mid), PGTABLE_PTE);
	ck_assert_int_eq(level_at(mm, mid + 2 * PAGE_SIZE), PGTABLE_PTE);
	ck_assert_int_eq(vm_munmap(mm, below, 16 * PMD_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 1);
	mmput(mm);
}
END_TEST

/* A hugetlb leaf sits in the PMD table a 4K neighbour's munmap must not free. */
START_TEST(test_hugetlb_neighbour_keeps_pmd_table)
{
	struct mm_struct *mm = tm_mm("nb");
	unsigned long huge = VA_1G, small = VA_1G + PMD_SIZE;
	uint64_t leaf;

	map_at(mm, huge, PMD_SIZE, MAP_HUGETLB | MAP_HUGE_2MB);
	map_at(mm, small, PAGE_SIZE, 0);
	ck_assert_int_eq(write_fault(mm, huge), 0);
	ck_assert_int_eq(write_fault(mm, small), 0);
	leaf = pmd_entry_at(mm, huge);
	ck_assert(leaf & _PAGE_PSE);
	ck_assert_uint_eq(nr_tables(mm), 4);

	ck_assert_int_eq(vm_munmap(mm, small, PAGE_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 3);
	ck_assert_uint_eq(pmd_entry_at(mm, huge), leaf);
	ck_assert_int_eq(write_fault(mm, huge + PAGE_SIZE), 0);

	/* And the other way round: the hugetlb VMA goes, the 4K one stays. */
	map_at(mm, small, PAGE_SIZE, 0);
	ck_assert_int_eq(write_fault(mm, small), 0);
	ck_assert_int_eq(vm_munmap(mm, huge, PMD_SIZE), 0);
	ck_assert_uint_eq(pmd_entry_at(mm, huge), 0);
	ck_assert_uint_eq(nr_tables(mm), 4);
	ck_assert_int_eq(level_at(mm, small), PGTABLE_PTE);
	mmput(mm);
}
END_TEST

/*
 * MAP_FIXED over part of a mapping: the replaced range is unmapped first
 * (mmap_region() -> vms_clean_up_area()), its tables freed within the
 * remaining neighbours, and the new hugetlb VMA faults its leaf.
 */
START_TEST(test_map_fixed_replacing_middle_of_vma_frees_only_its_tables)
{
	struct mm_struct *mm = tm_mm("fx");
	unsigned long start = VA_1G, len = 3 * PMD_SIZE;

	map_at(mm, start, len, 0);
	for (unsigned long a = start; a < start + len; a += PMD_SIZE)
		ck_assert_int_eq(write_fault(mm, a + PAGE_SIZE), 0);
	ck_assert_uint_eq(nr_tables(mm), 6);
	map_at(mm, start + PMD_SIZE, PMD_SIZE, MAP_HUGETLB | MAP_HUGE_2MB);
	ck_assert_uint_eq(nr_tables(mm), 5);
	ck_assert_int_eq(write_fault(mm, start + PMD_SIZE), 0);
	ck_assert_int_eq(level_at(mm, start + PMD_SIZE), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, start + PAGE_SIZE), PGTABLE_PTE);
	ck_assert_int_eq(level_at(mm, start + 2 * PMD_SIZE + PAGE_SIZE), PGTABLE_PTE);
	mmput(mm);
}
END_TEST

/* ---------------- counts: munmap and exit ---------------- */

static int failing_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long pfn = (unsigned long)file->private_data;

	vma->vm_flags |= VM_IO | VM_PFNMAP;
	if (remap_pfn_range(vma, vma->vm_start, pfn, vma->vm_end - vma->vm_start,
			    vma->vm_page_prot))
		return -ENOMEM;
	return -EIO;		/* a driver failing after it populated */
}

static const struct file_operations failing_fops = { .mmap = failing_mmap };

/*
 * mmap_region()'s unmap_and_free_file_vma: unmap_region() zaps what the
 * driver populated and frees the tables between the neighbours.
 */
START_TEST(test_failed_file_mmap_frees_what_the_driver_populated)
{
	struct mm_struct *mm = tm_mm("fail");
	struct address_space mapping = { 0 };
	struct file file = { .f_op = &failing_fops, .f_mapping = &mapping };
	unsigned long pfn, ret;
	unsigned char *bytes;

	init_rwsem(&mapping.i_mmap_rwsem, "i_mmap");
	ck_assert_int_eq(mmio_alloc(16 * PAGE_SIZE, &pfn, &bytes), 0);
	file.private_data = (void *)pfn;
	atomic_store(&file.f_count, 1);
	ret = vm_mmap(mm, &file, VA_2M, 16 * PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, 0);
	ck_assert_int_eq((long)ret, -EIO);
	ck_assert_uint_eq(mm->nr_vmas, 0);
	ck_assert_int_eq(level_at(mm, VA_2M), PGTABLE_NONE);
	ck_assert_uint_eq(nr_tables(mm), 1);
	ck_assert_ptr_null(mapping.i_mmap);
	ck_assert_int_eq(atomic_load(&file.f_count), 1);
	mmput(mm);
	destroy_rwsem(&mapping.i_mmap_rwsem);
}
END_TEST

/*
 * exit_mmap(): free_pgtables(FIRST_USER_ADDRESS, USER_PGTABLES_CEILING)
 * takes every table but the pgd; mmput() gives back every frame.
 */
START_TEST(test_exit_frees_every_table_and_frame)
{
	unsigned long free1g = tm->hstate_1g.free_huge_pages;
	unsigned long free2m = tm->hstate_2m.free_huge_pages;
	struct vfio_pci_core_device *vdev = make_bar(PUD_SIZE);
	unsigned long before = nr_allocated_pages();
	struct mm_struct *mm = tm_mm("exit");

	map_at(mm, VA_1G, PUD_SIZE, MAP_HUGETLB | MAP_HUGE_1GB);
	ck_assert_int_eq(write_fault(mm, VA_1G), 0);
	map_at(mm, VA_1G + PUD_SIZE, PMD_SIZE, MAP_HUGETLB | MAP_HUGE_2MB);
	ck_assert_int_eq(write_fault(mm, VA_1G + PUD_SIZE), 0);
	map_at(mm, VA_1G + PUD_SIZE + PMD_SIZE, 4 * PAGE_SIZE, 0);
	ck_assert_int_eq(write_fault(mm, VA_1G + PUD_SIZE + PMD_SIZE), 0);
	map_bar(mm, vdev, 0x7f0000000000UL, PUD_SIZE);
	touch(mm, 0x7f0000000000UL, false);
	touch_4k_and_unmap(mm, 0x7d0000000000UL);
	ck_assert_uint_gt(nr_tables(mm), 1);

	exit_mmap(mm);
	ck_assert_uint_eq(mm->nr_vmas, 0);
	ck_assert_uint_eq(nr_tables(mm), 1);		/* the pgd, freed with the mm */
	ck_assert_uint_eq(tm->hstate_1g.free_huge_pages, free1g);
	ck_assert_uint_eq(tm->hstate_2m.free_huge_pages, free2m);
	mmput(mm);
	ck_assert_uint_eq(nr_allocated_pages(), before);
	vfio_pci_device_destroy(vdev);
}
END_TEST

/* The same through the public API: pgtable_pages and pages_allocated. */
START_TEST(test_api_counts_drop_at_munmap_and_exit_1g_no_leak)
{
	struct pinsim_config cfg;
	struct pinsim *sim;
	struct pinsim_proc *p;
	struct pinsim_proc_stats ps;
	struct pinsim_stats st;
	uint64_t start_frames, va;
	char byte = 7;

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 4ULL << 30;
	cfg.hugetlb_1g_pages = 1;
	cfg.hugetlb_2m_pages = 2;
	ck_assert_int_eq(pinsim_create(&cfg, &sim), 0);
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	start_frames = st.pages_allocated;

	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(pinsim_proc_create(sim, &p), 0);
		ck_assert_int_eq(pinsim_proc_stats(p, &ps), 0);
		ck_assert_uint_eq(ps.pgtable_pages, 1);

		va = pinsim_mmap(p, VA_1G, PAGE_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		ck_assert_uint_eq(va, VA_1G);
		ck_assert_int_eq(pinsim_access(p, va, &byte, 1, 1), 1);
		ck_assert_int_eq(pinsim_proc_stats(p, &ps), 0);
		ck_assert_uint_eq(ps.pgtable_pages, 4);
		ck_assert_int_eq(pinsim_munmap(p, va, PAGE_SIZE), 0);
		ck_assert_int_eq(pinsim_proc_stats(p, &ps), 0);
		ck_assert_uint_eq(ps.pgtable_pages, 1);

		va = pinsim_mmap(p, VA_1G, PUD_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_HUGETLB |
					 MAP_HUGE_1GB, -1, 0);
		ck_assert_uint_eq(va, VA_1G);
		ck_assert_int_eq(pinsim_access(p, va + 12345, &byte, 1, 1), 1);
		ck_assert_int_eq(pinsim_proc_stats(p, &ps), 0);
		ck_assert_uint_eq(ps.pgtable_pages, 2);
		ck_assert_uint_eq(ps.faults_pud, 1);
		ck_assert_int_eq(pinsim_stats(sim, &st), 0);
		ck_assert_uint_eq(st.hugetlb_1g_free, 0);
		ck_assert_uint_eq(st.warnings, 0);

		pinsim_proc_destroy(p);
		ck_assert_int_eq(pinsim_stats(sim, &st), 0);
		ck_assert_uint_eq(st.hugetlb_1g_free, 1);
		ck_assert_uint_eq(st.pages_allocated, start_frames);
	}
	pinsim_destroy(sim);
}
END_TEST

/* ---------------- no walker reads a freed table ---------------- */

static long read_stale_pmd(void *arg)
{
	return (long)pmd_val(pmdp_get((pmd_t *)arg));
}

/* A stale pointer into a freed PMD table: the accessor oopses the task. */
START_TEST(test_read_of_freed_table_oopses)
{
	struct mm_struct *mm = tm_mm("uaf");
	struct oops_record rec;
	unsigned long pfn;
	pud_t pud;
	pmd_t *pmd;

	map_at(mm, VA_2M, PAGE_SIZE, 0);
	ck_assert_int_eq(write_fault(mm, VA_2M), 0);
	pud = pudp_get(pud_offset(p4d_offset(pgd_offset(mm, VA_2M), VA_2M), VA_2M));
	pmd = pmd_offset_lockless(pud, VA_2M);
	pfn = pud_pfn(pud);
	ck_assert_int_eq(folio_type(page_folio(pfn_to_page(pfn))), PGTY_pgtable);
	ck_assert_int_eq(vm_munmap(mm, VA_2M, PAGE_SIZE), 0);
	ck_assert(sim_frame_is_free(pfn));

	ck_assert_int_eq(sim_task_run(read_stale_pmd, pmd), -EOWNERDEAD);
	ck_assert_uint_eq(sim_oops_count(), 1);
	ck_assert(sim_last_oops(&rec));
	ck_assert_ptr_nonnull(strstr(rec.why, "use-after-free"));
	ck_assert_ptr_nonnull(strstr(rec.func, "read_stale_pmd"));
}
END_TEST

/*
 * pinsim_pagemap()'s lookup holds no lock: a table munmap unhooks while a
 * lookup may still be reading it is freed only after the lookup ends
 * (tlb_finish_mmu() waits for pgtable_lockless_end()).
 */
struct grace {
	struct mm_struct *mm;
	_Atomic int done;
	int ret;
};

static void *munmap_thread(void *arg)
{
	struct grace *g = arg;

	set_current(g->mm->owner);
	g->ret = vm_munmap(g->mm, VA_2M, PAGE_SIZE);
	atomic_store(&g->done, 1);
	return NULL;
}

START_TEST(test_lockless_lookup_holds_off_the_table_free)
{
	struct mm_struct *mm = tm_mm("grace");
	struct grace g = { .mm = mm };
	struct timespec ms = { .tv_nsec = 1000000 };
	unsigned long pte_pfn, tables;
	unsigned int idx;
	pthread_t t;
	pud_t pud;
	pmd_t pmd;

	map_at(mm, VA_2M, PAGE_SIZE, 0);
	ck_assert_int_eq(write_fault(mm, VA_2M), 0);
	tables = nr_tables(mm);
	set_current(NULL);

	/* A lockless reader in the middle of its walk: it has the PTE table. */
	idx = pgtable_lockless_begin();
	pud = pudp_get(pud_offset(p4d_offset(pgd_offset(mm, VA_2M), VA_2M), VA_2M));
	pmd = pmdp_get(pmd_offset_lockless(pud, VA_2M));
	pte_pfn = pmd_pfn(pmd);

	ck_assert_int_eq(pthread_create(&t, NULL, munmap_thread, &g), 0);
	/* munmap unhooks the tables, then waits for the reader. */
	for (int i = 0; i < 10000 && nr_tables(mm) != 1; i++)
		nanosleep(&ms, NULL);
	ck_assert_uint_eq(nr_tables(mm), 1);
	ck_assert_int_eq(pgtable_lookup(mm, VA_2M, NULL, NULL), PGTABLE_NONE);
	for (int i = 0; i < 20; i++)
		nanosleep(&ms, NULL);
	ck_assert_int_eq(atomic_load(&g.done), 0);
	ck_assert_int_eq(folio_type(page_folio(pfn_to_page(pte_pfn))), PGTY_pgtable);
	/* The reader can still read the table it found: zapped, not freed. */
	ck_assert(pte_none(ptep_get(pte_offset_lockless(pmd, VA_2M))));
	pgtable_lockless_end(idx);

	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(g.ret, 0);
	ck_assert(sim_frame_is_free(pte_pfn));
	ck_assert_uint_lt(nr_tables(mm), tables);
	ck_assert_uint_eq(sim_warn_count(), 0);
	set_current(mm->owner);
	mmput(mm);
}
END_TEST

/*
 * The deterministic scheduler over three threads of one process: the
 * numa_maps walker (mmap_lock read), a vfio-pci zap of every BAR mapping
 * (unmap_mapping_range(): i_mmap_rwsem read, no mmap_lock) and munmap of a
 * BAR VMA alone in its 1G (its PMD table goes, and its PTE table when the
 * BAR is mapped with 4K entries) plus an anonymous VMA sharing a PTE table
 * with a neighbour that stays.  Every schedule with up to two preemptions:
 * no oops (a freed table read through the accessors is one), no WARN, the
 * neighbours intact, the tables counted out.  With RAM exhausted the
 * mmu_gather gets no batch page and the PMD table is freed at once
 * (tlb_remove_table_one()): a zap paused inside the BAR VMA then reads it
 * freed unless free_pgtables() unlinked the VMA from i_mmap first (checked
 * by swapping the two: the search finds that oops).
 */
#define RC_BAR_VA 0x7f0000000000UL	/* BAR0 [0, 2M): alone in its 1G */
#define RC_BAR2_VA 0x7f0040200000UL	/* BAR0 [2M, 4M): the next 1G */
#define RC_ANON_VA 0x7e0000000000UL

struct rc_world {
	bool exhaust;			/* no free frame: no batch page for the tables */
	unsigned int bar_order;		/* 0: BAR PTEs, PMD_ORDER: BAR PMD leaves */
	struct machine *m;
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	char buf[4096];
	unsigned long schedules, tables_before;
	char why[256];
};

static long rc_numa_maps(void *arg)
{
	struct rc_world *w = arg;

	return numa_maps_read(w->mm, w->buf, sizeof(w->buf));
}

static long rc_zap(void *arg)
{
	struct rc_world *w = arg;

	down_write(&w->vdev->memory_lock);	/* vfio_pci_zap_and_down_write_memory_lock() */
	vfio_pci_zap_bars(w->vdev);
	up_write(&w->vdev->memory_lock);
	return 0;
}

static long rc_munmap(void *arg)
{
	struct rc_world *w = arg;
	long ret = vm_munmap(w->mm, RC_BAR_VA, PMD_SIZE);

	return ret ? ret : vm_munmap(w->mm, RC_ANON_VA, PAGE_SIZE);
}

static void rc_fault(struct mm_struct *mm, unsigned long addr, unsigned int flags)
{
	mmap_read_lock(mm);
	if (fixup_user_fault(mm, addr, flags, NULL))
		abort();
	mmap_read_unlock(mm);
}

/* Take every free frame (the machine goes with them at teardown). */
static void exhaust_ram(void)
{
	static const unsigned int orders[] = { PUD_ORDER, PMD_ORDER, 0 };

	for (int i = 0; i < 3; i++)
		while (folio_alloc(orders[i], PGTY_kernel))
			;
}

static int rc_setup(void *ctx, struct sched_thread *t)
{
	struct rc_world *w = ctx;
	uint64_t bars[PCI_STD_NUM_BARS] = { 4 * MiB };
	struct machine_config mc;

	machine_config_init(&mc);
	mc.ram_bytes = 1ULL << 30;
	mc.max_bar_fault_order = w->bar_order;
	if (machine_create(&mc, &w->m) || vfio_pci_device_create("gpu", bars, &w->vdev))
		abort();
	w->mm = mm_alloc("vmm");
	set_current(w->mm->owner);
	if (vm_mmap(w->mm, &w->vdev->file, RC_BAR_VA, PMD_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, 0) != RC_BAR_VA ||
	    vm_mmap(w->mm, &w->vdev->file, RC_BAR2_VA, PMD_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, PMD_SIZE >> PAGE_SHIFT) != RC_BAR2_VA ||
	    vm_mmap(w->mm, NULL, RC_ANON_VA, PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0) != RC_ANON_VA ||
	    vm_mmap(w->mm, NULL, RC_ANON_VA + PAGE_SIZE, PAGE_SIZE, PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0) != RC_ANON_VA + PAGE_SIZE)
		abort();
	for (int i = 0; i < 2; i++) {
		rc_fault(w->mm, RC_BAR_VA + i * PAGE_SIZE, 0);
		rc_fault(w->mm, RC_BAR2_VA + i * PAGE_SIZE, 0);
	}
	rc_fault(w->mm, RC_ANON_VA, FAULT_FLAG_WRITE);
	rc_fault(w->mm, RC_ANON_VA + PAGE_SIZE, 0);
	set_current(NULL);
	/*
	 * With RAM exhausted, tlb_remove_table() gets no page for its batch
	 * and frees every table at once (tlb_remove_table_one()): then only
	 * the unlink-before-free order keeps the zap off freed tables.
	 */
	if (w->exhaust)
		exhaust_ram();
	w->tables_before = atomic_load(&w->mm->nr_ptes);

	t[0] = (struct sched_thread){ .name = "numa_maps", .mm = w->mm, .fn = rc_numa_maps,
				      .arg = w };
	t[1] = (struct sched_thread){ .name = "munmap", .mm = w->mm, .fn = rc_munmap, .arg = w };
	t[2] = (struct sched_thread){ .name = "zap", .mm = w->mm, .fn = rc_zap, .arg = w };
	return 3;
}

static bool rc_fail(struct rc_world *w, const char *why)
{
	snprintf(w->why, sizeof(w->why), "%s", why);
	return false;
}

static bool rc_check(void *ctx, struct sched_thread *t, int n, const struct sched_result *r)
{
	struct rc_world *w = ctx;
	struct oops_record rec;

	(void)n;
	w->schedules++;
	if (sim_oops_count() && sim_last_oops(&rec)) {
		snprintf(w->why, sizeof(w->why), "oops in %s(): %s", rec.func, rec.why);
		return false;
	}
	if (r->status != SCHED_DONE)
		return rc_fail(w, r->report);
	if (t[0].ret <= 0 || t[1].ret || t[2].ret)
		return rc_fail(w, "a thread failed");
	if (sim_warn_count())
		return rc_fail(w, "WARN");
	/* BAR: its PMD table (and PTE table) went; anon: its PTE table stays. */
	if (atomic_load(&w->mm->nr_ptes) != w->tables_before - (w->bar_order ? 1 : 2))
		return rc_fail(w, "page-table count");
	if (pgtable_lookup(w->mm, RC_BAR2_VA, NULL, NULL) != PGTABLE_NONE ||
	    pgtable_lookup(w->mm, RC_ANON_VA + PAGE_SIZE, NULL, NULL) != PGTABLE_PTE ||
	    pgtable_lookup(w->mm, RC_ANON_VA, NULL, NULL) != PGTABLE_NONE ||
	    pgtable_lookup(w->mm, RC_BAR_VA, NULL, NULL) != PGTABLE_NONE)
		return rc_fail(w, "entries");
	if (!w->vdev->mapping.i_mmap || w->vdev->mapping.i_mmap->vm_start != RC_BAR2_VA ||
	    w->vdev->mapping.i_mmap->vm_mapping_next)
		return rc_fail(w, "i_mmap");
	return true;
}

static void rc_teardown(void *ctx)
{
	struct rc_world *w = ctx;

	machine_destroy(w->m);
	w->m = NULL;
}

START_TEST(test_walkers_racing_munmap_never_read_a_freed_table)
{
	static const struct sched_explore_ops ops = { rc_setup, rc_check, rc_teardown };
	/* 4K BAR entries with the tables batched; PMD leaves with no batch page. */
	struct rc_world w = { .exhaust = _i, .bar_order = _i ? PMD_ORDER : 0 };
	struct sched_explore_stats st;
	uint32_t points = SCHED_RACE_POINTS | (1u << SP_PTL) | (1u << SP_MMAP_LOCK);

	ck_assert_int_eq(sched_explore(&ops, &w, points, 2, 200000, 100000, &st), 0);
	printf("# BAR %s, %s: %lu schedules (%s)%s%s\n", w.bar_order ? "PMD leaves" : "PTEs",
	       w.exhaust ? "no batch page" : "batched", st.schedules, st.complete ? "complete" : "stopped",
	       st.bug_found ? ", bug: " : "", st.bug_found ? w.why : "");
	ck_assert_msg(!st.bug_found, "%s (schedule %s)", w.why, st.bug.schedule);
	ck_assert(st.complete);
	ck_assert_uint_gt(st.schedules, 10);
}
END_TEST

/*
 * Free-running host threads (ThreadSanitizer runs this): one process maps,
 * touches and unmaps 4K pages, 2M hugetlb pages and a 2M BAR piece over and
 * over in one 1G, while others look its addresses up locklessly
 * (pgtable_lookup(), as pinsim_pagemap() does), read numa_maps and zap the
 * BAR.  Bounded by iterations, not time.  No oops (no freed table read), no
 * WARN, and at the end every table and frame is back.
 */
#define CH_ROUNDS 300

struct churn {
	struct mm_struct *mm;
	struct vfio_pci_core_device *vdev;
	_Atomic bool stop;
	long ret[4];
};

static long churn_map_body(void *arg)
{
	struct churn *c = arg;
	struct mm_struct *mm = c->mm;

	for (int i = 0; i < CH_ROUNDS; i++) {
		unsigned long a = VA_1G + (unsigned long)(i % 3) * PMD_SIZE + (i & 4) * PAGE_SIZE;
		unsigned long h = VA_1G + 8 * PMD_SIZE, b = VA_1G + 16 * PMD_SIZE;

		if (vm_mmap(mm, NULL, a, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0) != a ||
		    vm_mmap(mm, NULL, h, PMD_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_HUGETLB | MAP_HUGE_2MB,
			    0) != h ||
		    vm_mmap(mm, &c->vdev->file, b, PMD_SIZE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED, 0) != b)
			return -EIO;
		mmap_read_lock(mm);
		if (fixup_user_fault(mm, a, FAULT_FLAG_WRITE, NULL) ||
		    fixup_user_fault(mm, h, FAULT_FLAG_WRITE, NULL))
			c->ret[0] = -EFAULT;
		fixup_user_fault(mm, b + (i & 7) * PAGE_SIZE, 0, NULL);	/* may race a zap */
		mmap_read_unlock(mm);
		if (vm_munmap(mm, a, 2 * PAGE_SIZE) || vm_munmap(mm, h, PMD_SIZE) ||
		    ((i & 1) && vm_munmap(mm, b, PMD_SIZE)))
			return -EIO;
	}
	return vm_munmap(mm, VA_1G, PUD_SIZE);
}

static long churn_lookup_body(void *arg)
{
	struct churn *c = arg;
	unsigned long n = 0;

	while (!atomic_load(&c->stop))
		for (unsigned long a = VA_1G; a < VA_1G + 20 * PMD_SIZE; a += PMD_SIZE / 2)
			n += pgtable_lookup(c->mm, a, NULL, NULL) != PGTABLE_NONE;
	return (long)(n & 0);
}

static long churn_numa_body(void *arg)
{
	struct churn *c = arg;
	char buf[4096];

	while (!atomic_load(&c->stop))
		if (numa_maps_read(c->mm, buf, sizeof(buf)) < 0)
			return -EIO;
	return 0;
}

static long churn_zap_body(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		down_write(&c->vdev->memory_lock);
		vfio_pci_zap_bars(c->vdev);
		up_write(&c->vdev->memory_lock);
	}
	return 0;
}

static long (*const churn_bodies[4])(void *) = {
	churn_map_body, churn_lookup_body, churn_numa_body, churn_zap_body,
};

struct churn_thread {
	struct churn *c;
	int i;
};

static void *churn_thread(void *arg)
{
	struct churn_thread *t = arg;

	set_current(mm_thread_task(t->c->mm));
	t->c->ret[t->i] = sim_task_run(churn_bodies[t->i], t->c);
	if (t->i == 0)
		atomic_store(&t->c->stop, true);
	set_current(NULL);
	return NULL;
}

START_TEST(test_munmap_churn_against_lockless_and_rmap_walkers)
{
	struct vfio_pci_core_device *vdev = make_bar(PMD_SIZE);
	unsigned long before = nr_allocated_pages();
	struct churn c = { .mm = tm_mm("churn"), .vdev = vdev };
	struct churn_thread t[4];
	pthread_t th[4];

	set_current(NULL);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct churn_thread){ &c, i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn_thread, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(c.ret[i] == 0, "thread %d: %ld", i, c.ret[i]);
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_uint_eq(sim_warn_count(), 0);
	ck_assert_uint_eq(c.mm->nr_vmas, 0);
	ck_assert_uint_eq(nr_tables(c.mm), 1);
	set_current(c.mm->owner);
	mmput(c.mm);
	ck_assert_uint_eq(nr_allocated_pages(), before);
	vfio_pci_device_destroy(vdev);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("free_pgtables");
	TCase *tc = tm_tcase(s, "d2");

	tcase_add_test(tc, test_hugetlb_2m_fixed_over_unmapped_4k_gets_pmd_leaf);
	tcase_add_test(tc, test_hugetlb_1g_fixed_over_unmapped_4k_gets_pud_leaf);
	tcase_add_test(tc, test_bar_fixed_over_unmapped_4k_gets_pud_and_pmd_leaves);
	tcase_add_test(tc, test_thp_over_unmapped_4k_gets_pmd_leaf);
	tc = tm_tcase(s, "floor_ceiling");
	tcase_add_test(tc, test_pte_table_shared_with_neighbour_survives_munmap);
	tcase_add_test(tc, test_pmd_table_shared_with_neighbours_survives_munmap);
	tcase_add_test(tc, test_hugetlb_neighbour_keeps_pmd_table);
	tcase_add_test(tc, test_map_fixed_replacing_middle_of_vma_frees_only_its_tables);
	tc = tm_tcase(s, "counts");
	tcase_add_test(tc, test_failed_file_mmap_frees_what_the_driver_populated);
	tcase_add_test(tc, test_exit_frees_every_table_and_frame);
	tc = tcase_create("api");
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_api_counts_drop_at_munmap_and_exit_1g_no_leak);
	tc = tm_tcase(s, "no_stale_reads");
	tcase_add_test(tc, test_read_of_freed_table_oopses);
	tcase_add_test(tc, test_lockless_lookup_holds_off_the_table_free);
	tcase_add_test(tc, test_munmap_churn_against_lockless_and_rmap_walkers);
	tc = tcase_create("race");
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tc, test_walkers_racing_munmap_never_read_a_freed_table, 0, 2);
	return s;
}
