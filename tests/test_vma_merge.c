// SPDX-License-Identifier: GPL-2.0-only
/*
 * VMA merging of a new mapping, as 6.12's mm/mmap.c mmap_region() ->
 * mm/vma.c vma_merge_new_range() does it: with prev, with next, with both;
 * never across different flags, files or pgoffs, never for VM_SPECIAL
 * (a driver's VM_PFNMAP|VM_IO), hugetlb or shared anonymous memory; a
 * merged file mapping never reaches ->mmap; numa_maps prints the merged
 * VMA as one line, as the kernel does.
 */
#include <linux/mman.h>
#include <sys/mman.h>

#include "harness.h"
#include "task_mmu.h"

#define RW (PROT_READ | PROT_WRITE)
#define PRIV_ANON (MAP_PRIVATE | MAP_ANONYMOUS)
/* Below mmap_base, 1G aligned, free in a fresh mm. */
#define X (TASK_SIZE - (4UL << 40))

static unsigned long map_at(struct mm_struct *mm, struct file *file, unsigned long addr,
			    unsigned long len, int prot, int flags, unsigned long pgoff)
{
	unsigned long a = vm_mmap(mm, file, addr, len, prot, flags | MAP_FIXED_NOREPLACE, pgoff);

	ck_assert_msg(a == addr, "mmap at 0x%lx gave 0x%lx", addr, a);
	return a;
}

static unsigned int nr_vmas(struct mm_struct *mm)
{
	return mm->nr_vmas;
}

/* The one VMA covering [start, end) exactly, with @pgoff. */
static void assert_vma(struct mm_struct *mm, unsigned long start, unsigned long end,
		       unsigned long pgoff)
{
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, start);
	ck_assert_ptr_nonnull(vma);
	ck_assert_uint_eq(vma->vm_start, start);
	ck_assert_uint_eq(vma->vm_end, end);
	ck_assert_uint_eq(vma->vm_pgoff, pgoff);
	mmap_read_unlock(mm);
}

START_TEST(test_anon_mapping_after_prev_expands_prev)
{
	struct mm_struct *mm = tm_mm("merge");

	map_at(mm, NULL, X, 64 * KiB, RW, PRIV_ANON, 0);
	map_at(mm, NULL, X + 64 * KiB, 32 * KiB, RW, PRIV_ANON, 0);
	ck_assert_uint_eq(nr_vmas(mm), 1);
	assert_vma(mm, X, X + 96 * KiB, X >> PAGE_SHIFT);
}
END_TEST

START_TEST(test_anon_mapping_before_next_expands_next_down)
{
	struct mm_struct *mm = tm_mm("merge");

	map_at(mm, NULL, X + 64 * KiB, 64 * KiB, RW, PRIV_ANON, 0);
	map_at(mm, NULL, X, 64 * KiB, RW, PRIV_ANON, 0);
	ck_assert_uint_eq(nr_vmas(mm), 1);
	/* next's pgoff moves down with its start (vmg->pgoff = next->vm_pgoff - pglen). */
	assert_vma(mm, X, X + 128 * KiB, X >> PAGE_SHIFT);
}
END_TEST

START_TEST(test_anon_mapping_filling_a_hole_merges_prev_and_next)
{
	struct mm_struct *mm = tm_mm("merge");
	struct vm_area_struct *vma;

	map_at(mm, NULL, X, 64 * KiB, RW, PRIV_ANON, 0);
	map_at(mm, NULL, X + 128 * KiB, 64 * KiB, RW, PRIV_ANON, 0);
	ck_assert_uint_eq(nr_vmas(mm), 2);
	map_at(mm, NULL, X + 64 * KiB, 64 * KiB, RW, PRIV_ANON, 0);
	ck_assert_uint_eq(nr_vmas(mm), 1);
	assert_vma(mm, X, X + 192 * KiB, X >> PAGE_SHIFT);
	mmap_read_lock(mm);
	vma = find_vma(mm, X + 128 * KiB);
	ck_assert_uint_eq(vma->vm_start, X); /* next is gone, not left behind */
	mmap_read_unlock(mm);
}
END_TEST

/* Top-down placement puts the second mapping right below the first: merged. */
START_TEST(test_two_anon_mmaps_without_address_become_one_vma)
{
	struct mm_struct *mm = tm_mm("merge");
	unsigned long a = vm_mmap(mm, NULL, 0, 16 * KiB, RW, PRIV_ANON, 0);
	unsigned long b = vm_mmap(mm, NULL, 0, 16 * KiB, RW, PRIV_ANON, 0);

	ck_assert_uint_eq(b + 16 * KiB, a);
	ck_assert_uint_eq(nr_vmas(mm), 1);
	assert_vma(mm, b, a + 16 * KiB, b >> PAGE_SHIFT);
}
END_TEST

START_TEST(test_no_merge_across_different_flags)
{
	struct mm_struct *mm = tm_mm("merge");

	map_at(mm, NULL, X, 64 * KiB, RW, PRIV_ANON, 0);
	map_at(mm, NULL, X + 64 * KiB, 64 * KiB, PROT_READ, PRIV_ANON, 0);
	map_at(mm, NULL, X + 128 * KiB, 64 * KiB, RW, PRIV_ANON | MAP_NORESERVE, 0);
	ck_assert_uint_eq(nr_vmas(mm), 3);
	assert_vma(mm, X, X + 64 * KiB, X >> PAGE_SHIFT);
}
END_TEST

/* munmap splits; refilling the hole merges the parts back (one anon_vma). */
START_TEST(test_munmap_splits_and_refill_merges_back)
{
	struct mm_struct *mm = tm_mm("merge");

	map_at(mm, NULL, X, 192 * KiB, RW, PRIV_ANON, 0);
	ck_assert_int_eq(vm_munmap(mm, X + 64 * KiB, 64 * KiB), 0);
	ck_assert_uint_eq(nr_vmas(mm), 2);
	assert_vma(mm, X, X + 64 * KiB, X >> PAGE_SHIFT);
	assert_vma(mm, X + 128 * KiB, X + 192 * KiB, (X + 128 * KiB) >> PAGE_SHIFT);
	map_at(mm, NULL, X + 64 * KiB, 64 * KiB, RW, PRIV_ANON, 0);
	ck_assert_uint_eq(nr_vmas(mm), 1);
	assert_vma(mm, X, X + 192 * KiB, X >> PAGE_SHIFT);
}
END_TEST

/* mm/vma.c: VM_HUGETLB has VM_DONTEXPAND (VM_SPECIAL), and its own file. */
START_TEST(test_hugetlb_mappings_never_merge)
{
	struct mm_struct *mm = tm_mm("merge");
	int f = PRIV_ANON | MAP_HUGETLB | MAP_HUGE_2MB;

	map_at(mm, NULL, X, 2 * MiB, RW, f, 0);
	map_at(mm, NULL, X + 2 * MiB, 2 * MiB, RW, f, 0);
	ck_assert_uint_eq(nr_vmas(mm), 2);
}
END_TEST

/* mmap_region(): shmem_zero_setup() gives each a file of its own. */
START_TEST(test_shared_anon_mappings_never_merge)
{
	struct mm_struct *mm = tm_mm("merge");

	map_at(mm, NULL, X, 64 * KiB, RW, MAP_SHARED | MAP_ANONYMOUS, 0);
	map_at(mm, NULL, X + 64 * KiB, 64 * KiB, RW, MAP_SHARED | MAP_ANONYMOUS, 0);
	ck_assert_uint_eq(nr_vmas(mm), 2);
}
END_TEST

/* ---------------- file mappings ---------------- */

struct merge_file {
	struct file file;
	struct address_space as;
	vm_flags_t set_flags; /* what ->mmap adds, like a driver */
	int mmaps;
};

static int merge_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct merge_file *mf = file->private_data;

	mf->mmaps++;
	vma->vm_flags |= mf->set_flags;
	return 0;
}

static const struct file_operations merge_fops = {.mmap = merge_file_mmap};

static void merge_file_init(struct merge_file *mf, vm_flags_t set_flags)
{
	memset(mf, 0, sizeof(*mf));
	init_rwsem(&mf->as.i_mmap_rwsem, "i_mmap_rwsem");
	mf->file.f_op = &merge_fops;
	mf->file.f_mapping = &mf->as;
	mf->file.private_data = mf;
	mf->set_flags = set_flags;
	atomic_store(&mf->file.f_count, 1);
}

static unsigned int i_mmap_count(struct merge_file *mf)
{
	unsigned int n = 0;

	for (struct vm_area_struct *v = mf->as.i_mmap; v; v = v->vm_mapping_next)
		n++;
	return n;
}

START_TEST(test_file_mapping_merges_with_contiguous_pgoff_without_mmap_call)
{
	struct mm_struct *mm = tm_mm("merge");
	struct merge_file mf;

	merge_file_init(&mf, 0);
	map_at(mm, &mf.file, X, 64 * KiB, RW, MAP_SHARED, 0);
	map_at(mm, &mf.file, X + 64 * KiB, 64 * KiB, RW, MAP_SHARED, 16);
	ck_assert_uint_eq(nr_vmas(mm), 1);
	assert_vma(mm, X, X + 128 * KiB, 0);
	/* The merged range never reached ->mmap and holds no reference. */
	ck_assert_int_eq(mf.mmaps, 1);
	ck_assert_int_eq(atomic_load(&mf.file.f_count), 2);
	ck_assert_uint_eq(i_mmap_count(&mf), 1);
	ck_assert_int_eq(vm_munmap(mm, X, 128 * KiB), 0);
	task_work_run();
	ck_assert_int_eq(atomic_load(&mf.file.f_count), 1);
}
END_TEST

START_TEST(test_file_mapping_no_merge_across_pgoff_gap_or_other_file)
{
	struct mm_struct *mm = tm_mm("merge");
	struct merge_file a, b;

	merge_file_init(&a, 0);
	merge_file_init(&b, 0);
	map_at(mm, &a.file, X, 64 * KiB, RW, MAP_SHARED, 0);
	map_at(mm, &a.file, X + 64 * KiB, 64 * KiB, RW, MAP_SHARED, 17); /* not 16 */
	map_at(mm, &b.file, X + 128 * KiB, 64 * KiB, RW, MAP_SHARED, 33); /* other file */
	ck_assert_uint_eq(nr_vmas(mm), 3);
	ck_assert_int_eq(a.mmaps, 2);
	ck_assert_int_eq(b.mmaps, 1);
	ck_assert_int_eq(vm_munmap(mm, X, 192 * KiB), 0);
	task_work_run();
}
END_TEST

/*
 * A driver flag that is not VM_SPECIAL: the first attempt (before ->mmap)
 * fails on flags, the retry with the driver's flags merges ("If vm_flags
 * changed after mmap_file(), we should try merge vma again").
 */
START_TEST(test_file_mapping_merges_on_retry_with_driver_flags)
{
	struct mm_struct *mm = tm_mm("merge");
	struct merge_file mf;

	merge_file_init(&mf, VM_DONTDUMP);
	map_at(mm, &mf.file, X, 64 * KiB, RW, MAP_SHARED, 0);
	map_at(mm, &mf.file, X + 64 * KiB, 64 * KiB, RW, MAP_SHARED, 16);
	ck_assert_uint_eq(nr_vmas(mm), 1);
	ck_assert_int_eq(mf.mmaps, 2);
	ck_assert_int_eq(atomic_load(&mf.file.f_count), 2);
	ck_assert_uint_eq(i_mmap_count(&mf), 1);
	ck_assert_int_eq(vm_munmap(mm, X, 128 * KiB), 0);
	task_work_run();
}
END_TEST

/* vfio-pci's ->mmap sets VM_IO | VM_PFNMAP | VM_DONTEXPAND: never merged. */
START_TEST(test_pfnmap_mappings_never_merge)
{
	struct mm_struct *mm = tm_mm("merge");
	struct merge_file mf;

	merge_file_init(&mf, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	map_at(mm, &mf.file, X, 64 * KiB, RW, MAP_SHARED, 0);
	map_at(mm, &mf.file, X + 64 * KiB, 64 * KiB, RW, MAP_SHARED, 16);
	map_at(mm, &mf.file, X - 64 * KiB, 64 * KiB, RW, MAP_SHARED, 0);
	ck_assert_uint_eq(nr_vmas(mm), 3);
	ck_assert_uint_eq(i_mmap_count(&mf), 3);
	ck_assert_int_eq(vm_munmap(mm, X - 64 * KiB, 192 * KiB), 0);
	task_work_run();
}
END_TEST

/* numa_maps prints one line per VMA: the merged VMA is one line. */
START_TEST(test_numa_maps_prints_merged_vma_as_one_line)
{
	struct mm_struct *mm = tm_mm("merge");
	static char buf[8192];
	long n;
	int lines = 0;

	map_at(mm, NULL, X, 64 * KiB, RW, PRIV_ANON, 0);
	map_at(mm, NULL, X + 128 * KiB, 64 * KiB, RW, PRIV_ANON, 0);
	n = numa_maps_read(mm, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 2);
	map_at(mm, NULL, X + 64 * KiB, 64 * KiB, RW, PRIV_ANON, 0);
	n = numa_maps_read(mm, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	lines = 0;
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 1);
	ck_assert_msg(strtoul(buf, NULL, 16) == X, "%s", buf);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("vma_merge");
	TCase *tc = tm_tcase(s, "anon");

	tcase_add_test(tc, test_anon_mapping_after_prev_expands_prev);
	tcase_add_test(tc, test_anon_mapping_before_next_expands_next_down);
	tcase_add_test(tc, test_anon_mapping_filling_a_hole_merges_prev_and_next);
	tcase_add_test(tc, test_two_anon_mmaps_without_address_become_one_vma);
	tcase_add_test(tc, test_no_merge_across_different_flags);
	tcase_add_test(tc, test_munmap_splits_and_refill_merges_back);
	tcase_add_test(tc, test_hugetlb_mappings_never_merge);
	tcase_add_test(tc, test_shared_anon_mappings_never_merge);
	tcase_add_test(tc, test_numa_maps_prints_merged_vma_as_one_line);

	tc = tm_tcase(s, "file");
	tcase_add_test(tc, test_file_mapping_merges_with_contiguous_pgoff_without_mmap_call);
	tcase_add_test(tc, test_file_mapping_no_merge_across_pgoff_gap_or_other_file);
	tcase_add_test(tc, test_file_mapping_merges_on_retry_with_driver_flags);
	tcase_add_test(tc, test_pfnmap_mappings_never_merge);
	return s;
}
