// SPDX-License-Identifier: GPL-2.0-only
/*
 * sim/memory.c: vm_normal_page{,_pmd,_pud} under each arch configuration
 * (ref §2.4, seeds/02), vmf_insert_pfn, remap_pfn_range's COW rule, and the
 * zap paths (ref §2.6, checklist 48, 49, 53).
 */
#include <linux/mman.h>
#include <sys/mman.h>

#include "harness.h"
#include "pgtable.h"
#include "sched_point.h"
#include "scheduler.h"

/* ---------------- helpers ---------------- */

/*
 * A test "device": a struct file whose mmap either remap_pfn_range()s its
 * pfns (remap = true) or only marks the VMA as a pfnmap, leaving entries to
 * be inserted by the test (remap = false), as vfio-pci does.
 */
struct test_dev {
	struct file file;
	struct address_space mapping;
	struct file_operations fops;
	unsigned long pfn; /* pfn at file offset 0 */
	unsigned long remap_pages; /* remap only this much (0 = whole VMA) */
	bool remap;
	bool mixed; /* VM_MIXEDMAP instead of VM_PFNMAP */
	int mmap_calls;
};

static const struct vm_operations_struct test_pfnmap_ops = {.name = "test_pfnmap"};

static int test_dev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct test_dev *d = file->private_data;
	unsigned long size = vma->vm_end - vma->vm_start;

	d->mmap_calls++;
	vma->vm_ops = &test_pfnmap_ops;
	if (d->remap) {
		if (d->remap_pages)
			size = d->remap_pages << PAGE_SHIFT;
		return remap_pfn_range(vma, vma->vm_start, d->pfn + vma->vm_pgoff, size,
				       vma->vm_page_prot);
	}
	vma->vm_flags |= VM_IO | VM_DONTEXPAND | VM_DONTDUMP | (d->mixed ? VM_MIXEDMAP : VM_PFNMAP);
	return 0;
}

static void test_dev_init(struct test_dev *d, unsigned long pfn, bool remap)
{
	memset(d, 0, sizeof(*d));
	init_rwsem(&d->mapping.i_mmap_rwsem, "i_mmap_rwsem");
	d->fops.mmap = test_dev_mmap;
	d->file.f_op = &d->fops;
	d->file.f_mapping = &d->mapping;
	d->file.private_data = d;
	atomic_store(&d->file.f_count, 1);
	d->pfn = pfn;
	d->remap = remap;
}

static unsigned long map(struct mm_struct *mm, struct file *file, unsigned long addr,
			 unsigned long len, unsigned long prot, unsigned long flags,
			 unsigned long pgoff)
{
	unsigned long a = vm_mmap(mm, file, addr, len, prot, flags, pgoff);

	ck_assert_msg(!IS_ERR_VALUE(a), "vm_mmap: %ld", (long)a);
	return a;
}

static unsigned long mmio(uint64_t size)
{
	unsigned long pfn;
	unsigned char *bytes;

	ck_assert_int_eq(mmio_alloc(size, &pfn, &bytes), 0);
	return pfn;
}

static struct vm_area_struct *vma_at(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	mmap_read_unlock(mm);
	ck_assert_ptr_nonnull(vma);
	return vma;
}

/* Install a special PUD (1G) or PMD (2M) leaf the way a huge_fault does. */
static vm_fault_t insert_huge(struct mm_struct *mm, unsigned long addr, unsigned long pfn,
			      unsigned int order)
{
	struct vm_fault vmf = {.address = addr, .real_address = addr};
	vm_fault_t ret;

	mmap_read_lock(mm);
	vmf.vma = vma_lookup(mm, addr);
	ck_assert_ptr_nonnull(vmf.vma);
	vmf.pgoff = linear_page_index(vmf.vma, addr);
	vmf.pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, addr), addr), addr);
	ck_assert_ptr_nonnull(vmf.pud);
	if (order == PUD_ORDER) {
		ret = vmf_insert_pfn_pud(&vmf, pfn, false);
	} else {
		vmf.pmd = pmd_alloc(mm, vmf.pud, addr);
		ck_assert_ptr_nonnull(vmf.pmd);
		ret = vmf_insert_pfn_pmd(&vmf, pfn, false);
	}
	mmap_read_unlock(mm);
	return ret;
}

static enum pgtable_level lookup(struct mm_struct *mm, unsigned long addr, unsigned long *pfn)
{
	return pgtable_lookup(mm, addr, pfn, NULL);
}

/* The raw PUD entry for @addr (the PUD table must exist). */
static pud_t pud_at(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);

	ck_assert(pgd_present(pgdp_get(pgd)));
	return pudp_get(pud_offset(p4d_offset(pgd, addr), addr));
}

static pmd_t pmd_at(struct mm_struct *mm, unsigned long addr)
{
	pud_t pud = pud_at(mm, addr);

	ck_assert(pud_present(pud) && !pud_leaf(pud));
	return pmdp_get(pmd_offset_lockless(pud, addr));
}

/* Fault [addr, addr + n pages) in, with a write, under the mmap read lock. */
static void touch(struct mm_struct *mm, unsigned long addr, unsigned long n)
{
	mmap_read_lock(mm);
	for (unsigned long i = 0; i < n; i++) {
		struct vm_area_struct *vma = vma_lookup(mm, addr + i * PAGE_SIZE);

		ck_assert_ptr_nonnull(vma);
		ck_assert_uint_eq(handle_mm_fault(vma, addr + i * PAGE_SIZE, FAULT_FLAG_WRITE), 0);
	}
	mmap_read_unlock(mm);
}

/* A stack VMA for the pure vm_normal_page() rules (no page tables needed). */
static struct vm_area_struct fake_vma(vm_flags_t flags, unsigned long pgoff)
{
	struct vm_area_struct v = {
		.vm_start = 0x40000000UL,
		.vm_end = 0x80000000UL,
		.vm_flags = flags,
		.vm_pgoff = pgoff,
		.vm_ops = &test_pfnmap_ops,
	};
	return v;
}

#define SHARED_PFNMAP                                                                      \
	(VM_READ | VM_WRITE | VM_SHARED | VM_MAYSHARE | VM_MAYREAD | VM_MAYWRITE | VM_IO | \
	 VM_PFNMAP)
#define COW_PFNMAP (VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_IO | VM_PFNMAP)
#define ANON_FLAGS (VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE)

/* A RAM pfn nobody maps (a "driver" page). */
static unsigned long ram_pfn(void)
{
	struct folio *f = folio_alloc(0, PGTY_kernel);

	ck_assert_ptr_nonnull(f);
	return folio_pfn(f);
}

/* HPAGE_PMD_NR physically contiguous RAM pfns (a driver's buffer). */
static unsigned long ram_range(void)
{
	struct folio *f = folio_alloc(PMD_ORDER, PGTY_kernel);

	ck_assert_ptr_nonnull(f);
	return folio_pfn(f);
}

/* ---------------- fixtures for the arch variants ---------------- */

static void setup_legacy(void)
{
	tm_defaults(&tm_cfg);
	tm_cfg.arch_has_pte_special = false;
	tm_cfg.arch_supports_pmd_pfnmap = false;
	tm_cfg.arch_supports_pud_pfnmap = false;
	tm_setup_with(&tm_cfg);
}

/* PTE special bit, no PUD pfnmap support, c0c6ccd9828c applied. */
static void setup_pud_nospecial_per_level(void)
{
	tm_defaults(&tm_cfg);
	tm_cfg.arch_supports_pud_pfnmap = false;
	tm_cfg.special_bit_per_level = true;
	tm_setup_with(&tm_cfg);
}

/* The same arch before c0c6ccd9828c: every level uses the PTE config. */
static void setup_pud_nospecial_prefix(void)
{
	tm_defaults(&tm_cfg);
	tm_cfg.arch_supports_pud_pfnmap = false;
	tm_cfg.special_bit_per_level = false;
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

/* ---------------- vm_normal_page: special-bit scheme ---------------- */

START_TEST(test_normal_page_special_pte_in_pfnmap_is_null)
{
	struct vm_area_struct v = fake_vma(SHARED_PFNMAP, 0);
	unsigned long pfn = ram_pfn();
	pte_t pte = pte_mkspecial(pfn_pte(pfn, PAGE_SHARED));

	/* Even a valid RAM pfn: the special bit decides (checklist 53). */
	ck_assert_ptr_null(vm_normal_page(&v, v.vm_start, pte));
	ck_assert_ptr_null(vm_normal_page_pmd(
		&v, v.vm_start, pmd_mkspecial(pmd_mkhuge(pfn_pmd(pfn, PAGE_SHARED)))));
	ck_assert_ptr_null(vm_normal_page_pud(
		&v, v.vm_start, pud_mkspecial(pud_mkhuge(pfn_pud(pfn, PAGE_SHARED)))));
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

START_TEST(test_normal_page_plain_pte_is_its_page)
{
	struct vm_area_struct v = fake_vma(ANON_FLAGS, 0);
	unsigned long pfn = ram_pfn();

	v.vm_ops = NULL;
	ck_assert_ptr_eq(vm_normal_page(&v, v.vm_start, pfn_pte(pfn, PAGE_SHARED)),
			 pfn_to_page(pfn));
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

START_TEST(test_normal_page_special_bit_outside_pfnmap_is_bad_page_map)
{
	struct vm_area_struct v = fake_vma(ANON_FLAGS, 0);
	char buf[SIM_MSG_LEN];

	v.vm_ops = NULL;
	/* No zero page exists, so a special entry in an anon VMA is corrupt. */
	ck_assert_ptr_null(
		vm_normal_page(&v, v.vm_start, pte_mkspecial(pfn_pte(ram_pfn(), PAGE_SHARED))));
	ck_assert_uint_eq(sim_warn_count(), 1);
	ck_assert(sim_last_warn(buf, sizeof(buf)));
	ck_assert_ptr_nonnull(strstr(buf, "Bad page map"));
}
END_TEST

START_TEST(test_normal_page_pfn_beyond_memmap_is_bad_page_map)
{
	struct vm_area_struct v = fake_vma(ANON_FLAGS, 0);

	v.vm_ops = NULL;
	/* A non-special entry whose pfn has no struct page: corrupted. */
	ck_assert_ptr_null(vm_normal_page(&v, v.vm_start, pfn_pte(mmio(PAGE_SIZE), PAGE_SHARED)));
	ck_assert_uint_eq(sim_warn_count(), 1);
}
END_TEST

/* ---------------- vm_normal_page: legacy scheme (no special bit) ---------------- */

START_TEST(test_legacy_noncow_pfnmap_is_always_special)
{
	struct vm_area_struct v = fake_vma(SHARED_PFNMAP, 0);
	unsigned long pfn = ram_pfn();

	/* Not a COW mapping: everything is special, whatever vm_pgoff says. */
	ck_assert_ptr_null(vm_normal_page(&v, v.vm_start, pfn_pte(pfn, PAGE_SHARED)));
	ck_assert_ptr_null(vm_normal_page(&v, v.vm_start, pfn_pte(mmio(PAGE_SIZE), PAGE_SHARED)));
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

START_TEST(test_legacy_cow_pfnmap_linearity_rule)
{
	unsigned long base = ram_pfn();
	struct vm_area_struct v = fake_vma(COW_PFNMAP, base);
	unsigned long other = ram_range(); /* far from base + 1 */

	/* On the line pfn == vm_pgoff + off: the raw mapping, special. */
	ck_assert_ptr_null(vm_normal_page(&v, v.vm_start, pfn_pte(base, PAGE_SHARED)));
	ck_assert_ptr_null(
		vm_normal_page(&v, v.vm_start + 5 * PAGE_SIZE, pfn_pte(base + 5, PAGE_SHARED)));
	/* Off the line: a COWed anonymous page, normal. */
	ck_assert_ptr_eq(vm_normal_page(&v, v.vm_start + PAGE_SIZE, pfn_pte(other, PAGE_SHARED)),
			 pfn_to_page(other));
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

START_TEST(test_legacy_mixedmap_normal_iff_pfn_valid)
{
	struct vm_area_struct v = fake_vma(VM_READ | VM_SHARED | VM_MAYSHARE | VM_MIXEDMAP, 0);
	unsigned long pfn = ram_pfn();

	ck_assert_ptr_eq(vm_normal_page(&v, v.vm_start, pfn_pte(pfn, PAGE_SHARED)),
			 pfn_to_page(pfn));
	ck_assert_ptr_null(vm_normal_page(&v, v.vm_start, pfn_pte(mmio(PAGE_SIZE), PAGE_SHARED)));
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

START_TEST(test_legacy_ignores_special_bit)
{
	struct vm_area_struct v = fake_vma(ANON_FLAGS, 0);
	unsigned long pfn = ram_pfn();

	v.vm_ops = NULL;
	/* Without arch support the bit means nothing: a plain page, no WARN. */
	ck_assert_ptr_eq(vm_normal_page(&v, v.vm_start, pte_mkspecial(pfn_pte(pfn, PAGE_SHARED))),
			 pfn_to_page(pfn));
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* ---------------- per-level special bit (c0c6ccd9828c) ---------------- */

/*
 * An arch with a PTE special bit but no PUD pfnmap support has no usable
 * PUD special bit: a BAR PUD leaf arrives without it.  With the per-level
 * rule, vm_normal_page_pud() uses the legacy scheme at PUD level and calls
 * the non-COW pfnmap entry special.
 */
START_TEST(test_pud_without_special_support_uses_legacy_rules)
{
	struct vm_area_struct v = fake_vma(SHARED_PFNMAP, 0);
	pud_t bar = pud_mkhuge(pfn_pud(mmio(PUD_SIZE), PAGE_SHARED));
	unsigned long base = ram_pfn(), other = ram_pfn();
	struct vm_area_struct cow = fake_vma(COW_PFNMAP, base);

	ck_assert_ptr_null(vm_normal_page_pud(&v, v.vm_start, bar));
	ck_assert_uint_eq(sim_warn_count(), 0);
	/* Legacy at PUD: a set bit is ignored and linearity decides. */
	ck_assert_ptr_eq(vm_normal_page_pud(&cow, cow.vm_start,
					    pud_mkspecial(pud_mkhuge(pfn_pud(other, PAGE_SHARED)))),
			 pfn_to_page(other));
	/* PTE and PMD levels still use their special bits. */
	ck_assert_ptr_null(
		vm_normal_page(&cow, cow.vm_start, pte_mkspecial(pfn_pte(other, PAGE_SHARED))));
	ck_assert_ptr_null(vm_normal_page_pmd(
		&cow, cow.vm_start, pmd_mkspecial(pmd_mkhuge(pfn_pmd(other, PAGE_SHARED)))));
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/*
 * Before c0c6ccd9828c the same PUD was judged by the PTE config: special
 * bit clear means normal, and the BAR pfn beyond the memmap is reported as
 * a bad page map.
 */
START_TEST(test_pud_without_special_support_prefix_reports_bad_page_map)
{
	struct vm_area_struct v = fake_vma(SHARED_PFNMAP, 0);
	pud_t bar = pud_mkhuge(pfn_pud(mmio(PUD_SIZE), PAGE_SHARED));
	unsigned long other = ram_pfn();

	ck_assert_ptr_null(vm_normal_page_pud(&v, v.vm_start, bar));
	ck_assert_uint_eq(sim_warn_count(), 1);
	/* And a RAM pfn there would be taken for a normal page. */
	ck_assert_ptr_eq(
		vm_normal_page_pud(&v, v.vm_start, pud_mkhuge(pfn_pud(other, PAGE_SHARED))),
		pfn_to_page(other));
}
END_TEST

/* ---------------- vmf_insert_pfn ---------------- */

START_TEST(test_vmf_insert_pfn_installs_special_pte_once)
{
	struct mm_struct *mm = tm_mm("insert");
	struct test_dev d;
	unsigned long bar = mmio(16 * PAGE_SIZE), a, pfn;
	struct vm_area_struct *vma;
	uint64_t entry;

	test_dev_init(&d, bar, false);
	a = map(mm, &d.file, 0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	vma = vma_at(mm, a);
	mmap_read_lock(mm);
	ck_assert_uint_eq(vmf_insert_pfn(vma, a + PAGE_SIZE, bar + 1), VM_FAULT_NOPAGE);
	/* An existing entry is left as it is. */
	ck_assert_uint_eq(vmf_insert_pfn(vma, a + PAGE_SIZE, bar + 7), VM_FAULT_NOPAGE);
	ck_assert_uint_eq(vmf_insert_pfn(vma, a + 16 * PAGE_SIZE, bar), VM_FAULT_SIGBUS);
	ck_assert_uint_eq(vmf_insert_pfn(vma, a - PAGE_SIZE, bar), VM_FAULT_SIGBUS);
	mmap_read_unlock(mm);
	ck_assert_int_eq(pgtable_lookup(mm, a + PAGE_SIZE, &pfn, &entry), PGTABLE_PTE);
	ck_assert_uint_eq(pfn, bar + 1);
	ck_assert(entry & _PAGE_SPECIAL);
	ck_assert_int_eq(lookup(mm, a, NULL), PGTABLE_NONE);
	mmput(mm);
}
END_TEST

static long insert_into_anon(void *arg)
{
	struct vm_area_struct *vma = arg;

	return vmf_insert_pfn(vma, vma->vm_start, mmio(PAGE_SIZE));
}

START_TEST(test_vmf_insert_pfn_on_non_pfnmap_vma_is_bug)
{
	struct mm_struct *mm = tm_mm("bug");
	unsigned long a =
		map(mm, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0);
	struct oops_record rec;

	ck_assert_int_eq(sim_task_run(insert_into_anon, vma_at(mm, a)), -EOWNERDEAD);
	ck_assert_uint_eq(sim_oops_count(), 1);
	ck_assert(sim_last_oops(&rec));
	ck_assert_str_eq(rec.func, "vmf_insert_pfn");
	ck_assert_int_eq(lookup(mm, a, NULL), PGTABLE_NONE);
}
END_TEST

/* ---------------- remap_pfn_range (seeds/02) ---------------- */

START_TEST(test_remap_cow_mapping_must_cover_whole_vma)
{
	struct mm_struct *mm = tm_mm("remap");
	unsigned long bar = mmio(16 * PAGE_SIZE), a, before = nr_allocated_pages();
	struct test_dev d;

	test_dev_init(&d, bar, true);
	d.remap_pages = 8;
	/* MAP_PRIVATE with VM_MAYWRITE: a COW mapping, half covered. */
	a = vm_mmap(mm, &d.file, 0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	ck_assert_int_eq((long)a, -EINVAL);
	ck_assert_int_eq(d.mmap_calls, 1);
	mmap_read_lock(mm);
	ck_assert_uint_eq(mm->nr_vmas, 0);
	mmap_read_unlock(mm);
	/* Nothing was populated (the check comes first): only the pgd. */
	ck_assert_uint_eq(nr_allocated_pages(), before);

	/* The same on a shared mapping is fine, and vm_pgoff is left alone. */
	a = map(mm, &d.file, 0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 3);
	ck_assert_uint_eq(vma_at(mm, a)->vm_pgoff, 3);
	ck_assert_int_eq(lookup(mm, a + 7 * PAGE_SIZE, NULL), PGTABLE_PTE);
	ck_assert_int_eq(lookup(mm, a + 8 * PAGE_SIZE, NULL), PGTABLE_NONE);
	mmput(mm);
}
END_TEST

START_TEST(test_remap_cow_mapping_sets_vm_pgoff_and_flags)
{
	struct mm_struct *mm = tm_mm("remap");
	unsigned long bar = mmio(16 * PAGE_SIZE), a, pfn;
	struct vm_area_struct *vma;
	struct test_dev d;
	uint64_t entry;

	test_dev_init(&d, bar, true);
	a = map(mm, &d.file, 0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	vma = vma_at(mm, a);
	ck_assert_uint_eq(vma->vm_pgoff, bar);
	ck_assert_uint_eq(vma->vm_flags & (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP),
			  VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(pgtable_lookup(mm, a + i * PAGE_SIZE, &pfn, &entry), PGTABLE_PTE);
		ck_assert_uint_eq(pfn, bar + i);
		ck_assert(entry & _PAGE_SPECIAL);
	}
	mmput(mm);
}
END_TEST

/*
 * Without a special bit, a COW pfnmap of RAM is told apart from its COWed
 * pages by linearity alone: the remapped pfns are special, the page a
 * write fault copied in is normal.
 */
START_TEST(test_legacy_remap_then_cow_tells_pages_apart)
{
	struct mm_struct *mm = tm_mm("cow");
	unsigned long base = ram_range(), a, pfn;
	struct vm_area_struct *vma;
	struct test_dev d;
	pte_t *ptep;
	spinlock_t *ptl;
	struct page *p0, *p1;

	test_dev_init(&d, base, true);
	a = map(mm, &d.file, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	touch(mm, a + PAGE_SIZE, 1); /* COW of the second page */
	ck_assert_int_eq(lookup(mm, a + PAGE_SIZE, &pfn), PGTABLE_PTE);
	ck_assert_uint_ne(pfn, base + 1);

	vma = vma_at(mm, a);
	mmap_read_lock(mm);
	ptep = pte_offset_map_lock(mm, pmd_offset_lockless(pud_at(mm, a), a), a, &ptl);
	p0 = vm_normal_page(vma, a, ptep_get(ptep));
	p1 = vm_normal_page(vma, a + PAGE_SIZE, ptep_get(ptep + 1));
	pte_unmap_unlock(ptep, ptl);
	mmap_read_unlock(mm);
	ck_assert_ptr_null(p0);
	ck_assert_ptr_eq(p1, pfn_to_page(pfn));
	ck_assert_int_eq(folio_type(page_folio(p1)), PGTY_anon);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

/* ---------------- zap (ref §2.6) ---------------- */

/* A pfnmap VMA of @size over a BAR, with nothing inserted; returns its start. */
static unsigned long map_bar(struct mm_struct *mm, struct test_dev *d, unsigned long size)
{
	uint64_t bar_size = PAGE_SIZE;
	unsigned long a;

	while (bar_size < size)
		bar_size <<= 1;
	unsigned long align = size >= PUD_SIZE ? PUD_SIZE : PMD_SIZE, base;

	test_dev_init(d, mmio(bar_size), false);
	/*
	 * An mmap without a hint is only 2M-aligned to the file offset (6.12's
	 * __get_unmapped_area), so reserve an aligned range and map into it
	 * with MAP_FIXED, as QEMU's vfio_region_mmap() does.
	 */
	base = map(mm, NULL, 0, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, 0);
	a = map(mm, &d->file, (base + align - 1) & ~(align - 1), size, PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_FIXED, 0);
	ck_assert_uint_eq(a & (align - 1), 0);
	return a;
}

START_TEST(test_zap_4k_of_special_pud_leaf_removes_whole_leaf)
{
	struct mm_struct *mm = tm_mm("zap_pud");
	struct test_dev d;
	unsigned long a = map_bar(mm, &d, 2 * PUD_SIZE), pfn;
	struct vm_area_struct *vma;
	unsigned long ptes = atomic_load(&mm->nr_ptes);

	ck_assert_uint_eq(insert_huge(mm, a, d.pfn, PUD_ORDER), VM_FAULT_NOPAGE);
	ck_assert_uint_eq(insert_huge(mm, a + PUD_SIZE, d.pfn + HPAGE_PUD_NR, PUD_ORDER),
			  VM_FAULT_NOPAGE);
	ck_assert_int_eq(lookup(mm, a + 12345 * PAGE_SIZE, &pfn), PGTABLE_PUD);
	ck_assert_uint_eq(pfn, d.pfn + 12345);
	ptes = atomic_load(&mm->nr_ptes);

	vma = vma_at(mm, a);
	sched_point_arm(SP_ZAP_BEFORE_CLEAR, NULL, NULL);
	mmap_read_lock(mm);
	zap_page_range_single(vma, a + 4 * PAGE_SIZE, PAGE_SIZE);
	mmap_read_unlock(mm);

	/* Checklist 49: the whole 1G leaf is gone, nothing was put in its place. */
	ck_assert(pud_none(pud_at(mm, a)));
	ck_assert_int_eq(lookup(mm, a, NULL), PGTABLE_NONE);
	ck_assert_int_eq(lookup(mm, a + PUD_SIZE - PAGE_SIZE, NULL), PGTABLE_NONE);
	ck_assert_uint_eq(atomic_load(&mm->nr_ptes), ptes);
	/* The neighbouring leaf is untouched. */
	ck_assert_int_eq(lookup(mm, a + PUD_SIZE, NULL), PGTABLE_PUD);
	ck_assert_uint_eq(sim_warn_count(), 0);
	ck_assert_uint_eq(sim_oops_count(), 0);

	/* A whole-leaf zap (zap_huge_pud) hits the zap point once per leaf. */
	sched_point_arm(SP_ZAP_BEFORE_CLEAR, NULL, NULL);
	mmap_read_lock(mm);
	zap_page_range_single(vma, a + PUD_SIZE, PUD_SIZE);
	mmap_read_unlock(mm);
	ck_assert(pud_none(pud_at(mm, a + PUD_SIZE)));
	ck_assert_uint_eq(sched_point_hits(SP_ZAP_BEFORE_CLEAR), 1);
	mmput(mm);
}
END_TEST

START_TEST(test_zap_4k_of_special_pmd_leaf_removes_whole_leaf)
{
	struct mm_struct *mm = tm_mm("zap_pmd");
	struct test_dev d;
	unsigned long a = map_bar(mm, &d, 4 * PMD_SIZE);
	struct vm_area_struct *vma;
	unsigned long ptes;

	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(
			insert_huge(mm, a + i * PMD_SIZE, d.pfn + i * HPAGE_PMD_NR, PMD_ORDER),
			VM_FAULT_NOPAGE);
	ptes = atomic_load(&mm->nr_ptes);
	vma = vma_at(mm, a);
	mmap_read_lock(mm);
	/* 4K in the second leaf, and a range straddling the third and fourth. */
	zap_page_range_single(vma, a + PMD_SIZE + 100 * PAGE_SIZE, PAGE_SIZE);
	zap_page_range_single(vma, a + 3 * PMD_SIZE - PAGE_SIZE, 2 * PAGE_SIZE);
	mmap_read_unlock(mm);

	ck_assert_int_eq(lookup(mm, a, NULL), PGTABLE_PMD);
	for (int i = 1; i < 4; i++)
		ck_assert(pmd_none(pmd_at(mm, a + i * PMD_SIZE)));
	/* No PTE table was created for the rest of the leaf. */
	ck_assert_uint_eq(atomic_load(&mm->nr_ptes), ptes);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

START_TEST(test_zap_special_ptes_puts_nothing)
{
	struct mm_struct *mm = tm_mm("zap_pte");
	unsigned long base = ram_range(), a, before, tables;
	struct test_dev d;

	test_dev_init(&d, base, true);
	a = map(mm, &d.file, 0, 8 * PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
	ck_assert_int_eq(page_ref_count(pfn_to_page(base)), 1);
	before = nr_allocated_pages();
	tables = atomic_load(&mm->nr_ptes);
	ck_assert_uint_eq(tables, 4);
	ck_assert_int_eq(vm_munmap(mm, a, 8 * PAGE_SIZE), 0);
	/* remap_pfn_range'd RAM is special: the driver's pages keep their ref. */
	ck_assert_int_eq(page_ref_count(pfn_to_page(base)), 1);
	/* Only the page tables go (free_pgtables(): nothing else maps the range). */
	ck_assert_uint_eq(atomic_load(&mm->nr_ptes), 1);
	ck_assert_uint_eq(nr_allocated_pages(), before - (tables - 1));
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

START_TEST(test_zap_anon_pages_frees_them)
{
	struct mm_struct *mm = tm_mm("zap_anon");
	unsigned long a = map(mm, NULL, 0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, 0);
	unsigned long before, pfn[16];
	struct vm_area_struct *vma;

	touch(mm, a, 16);
	before = nr_allocated_pages();
	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(lookup(mm, a + i * PAGE_SIZE, &pfn[i]), PGTABLE_PTE);
		ck_assert_int_eq(page_ref_count(pfn_to_page(pfn[i])), 1);
	}
	vma = vma_at(mm, a);
	mmap_read_lock(mm);
	zap_page_range_single(vma, a + 4 * PAGE_SIZE, 8 * PAGE_SIZE);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(nr_allocated_pages(), before - 8);
	for (int i = 0; i < 16; i++) {
		bool zapped = i >= 4 && i < 12;

		ck_assert_int_eq(lookup(mm, a + i * PAGE_SIZE, NULL),
				 zapped ? PGTABLE_NONE : PGTABLE_PTE);
		ck_assert_int_eq(page_ref_count(pfn_to_page(pfn[i])), zapped ? 0 : 1);
		ck_assert_int_eq(folio_type(page_folio(pfn_to_page(pfn[i]))),
				 zapped ? PGTY_free : PGTY_anon);
	}
	/* A zap past the VMA's end is clipped to it. */
	mmap_read_lock(mm);
	zap_page_range_single(vma, a, 1UL << 40);
	mmap_read_unlock(mm);
	ck_assert_uint_eq(nr_allocated_pages(), before - 16);
	mmput(mm);
}
END_TEST

static void setup_thp_always(void)
{
	tm_defaults(&tm_cfg);
	tm_cfg.thp = THP_ALWAYS;
	tm_setup_with(&tm_cfg);
}

START_TEST(test_zap_whole_anon_thp_frees_it)
{
	struct mm_struct *mm = tm_mm("zap_thp");
	unsigned long a =
		map(mm, NULL, 0, PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0);
	unsigned long before, pfn;
	struct folio *folio;

	touch(mm, a, 1);
	ck_assert_int_eq(lookup(mm, a, &pfn), PGTABLE_PMD);
	folio = page_folio(pfn_to_page(pfn));
	ck_assert_uint_eq(folio_nr_pages(folio), HPAGE_PMD_NR);
	before = nr_allocated_pages();
	mmap_read_lock(mm);
	zap_page_range_single(vma_lookup(mm, a), a, PMD_SIZE);
	mmap_read_unlock(mm);
	ck_assert(pmd_none(pmd_at(mm, a)));
	ck_assert_uint_eq(nr_allocated_pages(), before - HPAGE_PMD_NR);
	ck_assert_int_eq(folio_ref_count(folio), 0);
	mmput(mm);
}
END_TEST

START_TEST(test_zap_part_of_anon_thp_splits_and_zaps_ptes)
{
	struct mm_struct *mm = tm_mm("zap_thp");
	unsigned long a =
		map(mm, NULL, 0, PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0);
	unsigned long pfn;
	struct folio *folio;

	touch(mm, a, 1);
	ck_assert_int_eq(lookup(mm, a, &pfn), PGTABLE_PMD);
	folio = page_folio(pfn_to_page(pfn));
	mmap_read_lock(mm);
	zap_page_range_single(vma_lookup(mm, a), a + 8 * PAGE_SIZE, 2 * PAGE_SIZE);
	mmap_read_unlock(mm);
	/* Split to PTEs (each holding a ref), then two of them zapped. */
	ck_assert_int_eq(lookup(mm, a, NULL), PGTABLE_PTE);
	ck_assert_int_eq(lookup(mm, a + 8 * PAGE_SIZE, NULL), PGTABLE_NONE);
	ck_assert_int_eq(lookup(mm, a + 9 * PAGE_SIZE, NULL), PGTABLE_NONE);
	ck_assert_int_eq(lookup(mm, a + 10 * PAGE_SIZE, NULL), PGTABLE_PTE);
	ck_assert_int_eq(folio_ref_count(folio), HPAGE_PMD_NR - 2);
	/* Zapping the rest drops the last references and frees the folio. */
	mmap_read_lock(mm);
	zap_page_range_single(vma_lookup(mm, a), a, PMD_SIZE);
	mmap_read_unlock(mm);
	ck_assert_int_eq(folio_ref_count(folio), 0);
	ck_assert_int_eq(folio_type(folio), PGTY_free);
	mmput(mm);
}
END_TEST

START_TEST(test_munmap_hugetlb_1g_returns_page_to_pool)
{
	struct mm_struct *mm = tm_mm("zap_huge");
	struct hstate *h = size_to_hstate(PUD_SIZE);
	unsigned long a = map(mm, NULL, 0, PUD_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, 0);
	unsigned long free_before = h->free_huge_pages, pfn;
	struct folio *folio;

	touch(mm, a + 5 * PAGE_SIZE, 1);
	ck_assert_int_eq(lookup(mm, a, &pfn), PGTABLE_PUD);
	folio = page_folio(pfn_to_page(pfn));
	ck_assert_int_eq(folio_ref_count(folio), 1);
	ck_assert_uint_eq(h->free_huge_pages, free_before - 1);
	sched_point_arm(SP_ZAP_BEFORE_CLEAR, NULL, NULL);
	ck_assert_int_eq(vm_munmap(mm, a, PUD_SIZE), 0);
	ck_assert_uint_eq(sched_point_hits(SP_ZAP_BEFORE_CLEAR), 1);
	ck_assert_int_eq(folio_ref_count(folio), 0);
	ck_assert_uint_eq(h->free_huge_pages, free_before);
	/* The leaf is gone, and so is the PUD table that held it (free_pgtables()). */
	ck_assert_int_eq(lookup(mm, a, NULL), PGTABLE_NONE);
	ck_assert(pgd_none(pgdp_get(pgd_offset(mm, a))));
	mmput(mm);
}
END_TEST

START_TEST(test_munmap_hugetlb_2m_zaps_only_its_pages)
{
	struct mm_struct *mm = tm_mm("zap_huge");
	struct hstate *h = size_to_hstate(PMD_SIZE);
	/* Private: a shared mapping's pages stay in its file's page cache. */
	unsigned long a = map(mm, NULL, 0, 4 * PMD_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, 0);
	unsigned long free_before = h->free_huge_pages;

	for (int i = 0; i < 4; i++)
		touch(mm, a + i * PMD_SIZE, 1);
	ck_assert_uint_eq(h->free_huge_pages, free_before - 4);
	ck_assert_int_eq(vm_munmap(mm, a + PMD_SIZE, 2 * PMD_SIZE), 0);
	ck_assert_uint_eq(h->free_huge_pages, free_before - 2);
	ck_assert_int_eq(lookup(mm, a, NULL), PGTABLE_PMD);
	ck_assert_int_eq(lookup(mm, a + PMD_SIZE, NULL), PGTABLE_NONE);
	ck_assert_int_eq(lookup(mm, a + 2 * PMD_SIZE, NULL), PGTABLE_NONE);
	ck_assert_int_eq(lookup(mm, a + 3 * PMD_SIZE, NULL), PGTABLE_PMD);
	mmput(mm);
	ck_assert_uint_eq(h->free_huge_pages, free_before);
}
END_TEST

/* ---------------- unmap_mapping_range ---------------- */

START_TEST(test_unmap_mapping_range_reaches_every_mm)
{
	struct mm_struct *mm1 = tm_mm("proc1"), *mm2;
	unsigned long bar = mmio(16 * PAGE_SIZE), a1, a2;
	struct test_dev d;

	test_dev_init(&d, bar, true);
	a1 = map(mm1, &d.file, 0, 8 * PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
	mm2 = tm_mm("proc2");
	/* The second process maps the file from page 4 on. */
	a2 = map(mm2, &d.file, 0, 8 * PAGE_SIZE, PROT_READ, MAP_SHARED, 4);
	ck_assert_int_eq(lookup(mm2, a2, NULL), PGTABLE_PTE);

	/* File pages 5 and 6: mm1 at index 5, 6; mm2 at index 1, 2. */
	unmap_mapping_range(&d.mapping, 5 * PAGE_SIZE, 2 * PAGE_SIZE, true);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(lookup(mm1, a1 + i * PAGE_SIZE, NULL),
				 (i == 5 || i == 6) ? PGTABLE_NONE : PGTABLE_PTE);
		ck_assert_int_eq(lookup(mm2, a2 + i * PAGE_SIZE, NULL),
				 (i == 1 || i == 2) ? PGTABLE_NONE : PGTABLE_PTE);
	}
	/* holelen 0: to the end of the file, in both. */
	unmap_mapping_range(&d.mapping, 0, 0, true);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(lookup(mm1, a1 + i * PAGE_SIZE, NULL), PGTABLE_NONE);
		ck_assert_int_eq(lookup(mm2, a2 + i * PAGE_SIZE, NULL), PGTABLE_NONE);
	}
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm2);
	set_current(mm1->owner);
	mmput(mm1);
}
END_TEST

START_TEST(test_unmap_mapping_range_removes_huge_leaves_without_mmap_lock)
{
	struct mm_struct *mm = tm_mm("bar");
	struct test_dev d;
	unsigned long a = map_bar(mm, &d, PUD_SIZE + 2 * PMD_SIZE);

	ck_assert_uint_eq(insert_huge(mm, a, d.pfn, PUD_ORDER), VM_FAULT_NOPAGE);
	ck_assert_uint_eq(insert_huge(mm, a + PUD_SIZE, d.pfn + HPAGE_PUD_NR, PMD_ORDER),
			  VM_FAULT_NOPAGE);
	/* vfio_pci_zap_bars(): whole BAR, even_cows, no mmap lock. */
	unmap_mapping_range(&d.mapping, 0, PUD_SIZE + 2 * PMD_SIZE, true);
	ck_assert(pud_none(pud_at(mm, a)));
	ck_assert(pmd_none(pmd_at(mm, a + PUD_SIZE)));
	/* Whole leaves were covered: no split, so no mmap-lock assertion fired. */
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

/* even_cows = false keeps the COWed anonymous pages of a private mapping. */
START_TEST(test_unmap_mapping_range_even_cows)
{
	struct mm_struct *mm = tm_mm("cows");
	unsigned long bar = mmio(4 * PAGE_SIZE), a, pfn;
	struct test_dev d;

	test_dev_init(&d, bar, true);
	a = map(mm, &d.file, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	touch(mm, a + 2 * PAGE_SIZE, 1); /* COW one page */
	ck_assert_int_eq(lookup(mm, a + 2 * PAGE_SIZE, &pfn), PGTABLE_PTE);
	ck_assert(pfn_valid(pfn));

	unmap_mapping_range(&d.mapping, 0, 0, false);
	ck_assert_int_eq(lookup(mm, a, NULL), PGTABLE_NONE);
	ck_assert_int_eq(lookup(mm, a + 2 * PAGE_SIZE, NULL), PGTABLE_PTE);
	ck_assert_int_eq(page_ref_count(pfn_to_page(pfn)), 1);

	unmap_mapping_range(&d.mapping, 0, 0, true);
	ck_assert_int_eq(lookup(mm, a + 2 * PAGE_SIZE, NULL), PGTABLE_NONE);
	ck_assert_int_eq(page_ref_count(pfn_to_page(pfn)), 0);
	mmput(mm);
}
END_TEST


/*
 * unmap_mapping_pages() takes i_mmap_rwsem for read (i_mmap_lock_read(),
 * 6.12.118 and upstream): two zaps of one mapping hold it at once.  Zap A
 * stops at its first clear, holding the lock; zap B runs to the end in the
 * meantime.  With an exclusive lock B would wait for A.
 */
struct zap_pair {
	struct address_space *mapping;
	int seq;
	int done[2];		/* finishing order, 1 = first */
	bool other_holds[2];	/* i_mmap_rwsem still held after this zap */
};

static void zap_half(struct zap_pair *p, int i)
{
	unmap_mapping_range(p->mapping, (uint64_t)i * 8 * PAGE_SIZE, 8 * PAGE_SIZE, true);
	p->done[i] = ++p->seq;
	p->other_holds[i] = rwsem_is_locked(&p->mapping->i_mmap_rwsem);
}

static long zap_first_half(void *arg)
{
	zap_half(arg, 0);
	return 0;
}

static long zap_second_half(void *arg)
{
	zap_half(arg, 1);
	return 0;
}

START_TEST(test_unmap_mapping_range_zaps_share_i_mmap_rwsem)
{
	struct mm_struct *mm = tm_mm("vmm");
	unsigned long bar = mmio(16 * PAGE_SIZE), a;
	struct test_dev d;
	struct zap_pair p = { .mapping = &d.mapping };
	struct sched_thread t[2] = {
		{ .name = "zap-a", .mm = mm, .fn = zap_first_half, .arg = &p },
		{ .name = "zap-b", .mm = mm, .fn = zap_second_half, .arg = &p },
	};
	struct sched_strategy st;
	struct sched_result res;

	test_dev_init(&d, bar, true);
	a = map(mm, &d.file, 0, 16 * PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
	ck_assert_int_eq(lookup(mm, a, NULL), PGTABLE_PTE);

	sched_strategy_init(&st);
	st.kind = SCHED_REPLAY;
	st.schedule = "0.1";	/* A to its first clear (lock held), then B */
	ck_assert_int_eq(sched_run(t, 2, &st, &res), 0);
	ck_assert_msg(res.status == SCHED_DONE, "%s", res.report);
	ck_assert_int_eq(t[0].ret, 0);
	ck_assert_int_eq(t[1].ret, 0);
	/* B got the lock while A held it, and finished first. */
	ck_assert_int_eq(p.done[1], 1);
	ck_assert_int_eq(p.done[0], 2);
	ck_assert(p.other_holds[1]);
	ck_assert(!p.other_holds[0]);
	ck_assert(!rwsem_is_locked(&d.mapping.i_mmap_rwsem));
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(lookup(mm, a + i * PAGE_SIZE, NULL), PGTABLE_NONE);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

/*
 * What sim/inject.c relies on: inside a zap the zapping task is seen
 * holding i_mmap_rwsem (lock_is_held()), for read, not write; mmap's
 * linking still takes it for write.
 */
struct held_probe {
	struct address_space *mapping;
	int hits;
	bool held, held_write;
};

static void probe_i_mmap_at_clear(enum sched_point_id id, struct mm_struct *mm,
				  unsigned long addr, void *priv)
{
	struct held_probe *h = priv;

	if (h->hits++)
		return;
	h->held = lock_is_held(&h->mapping->i_mmap_rwsem);
	h->held_write = lock_is_held_write(&h->mapping->i_mmap_rwsem);
}

START_TEST(test_unmap_mapping_range_holds_i_mmap_rwsem_for_read)
{
	struct mm_struct *mm = tm_mm("vmm");
	unsigned long bar = mmio(4 * PAGE_SIZE);
	struct test_dev d;
	struct held_probe h = { .mapping = &d.mapping };

	test_dev_init(&d, bar, true);
	map(mm, &d.file, 0, 4 * PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
	sched_point_arm(SP_ZAP_BEFORE_CLEAR, probe_i_mmap_at_clear, &h);
	unmap_mapping_range(&d.mapping, 0, 0, true);
	sched_point_disarm(SP_ZAP_BEFORE_CLEAR);
	ck_assert_int_gt(h.hits, 0);
	ck_assert(h.held);
	ck_assert(!h.held_write);
	ck_assert(!rwsem_is_locked(&d.mapping.i_mmap_rwsem));
	ck_assert(!lock_is_held(&d.mapping.i_mmap_rwsem));
	mmput(mm);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("memory");
	TCase *tc;

	tc = tm_tcase(s, "vm_normal_page_special_bit");
	tcase_add_test(tc, test_normal_page_special_pte_in_pfnmap_is_null);
	tcase_add_test(tc, test_normal_page_plain_pte_is_its_page);
	tcase_add_test(tc, test_normal_page_special_bit_outside_pfnmap_is_bad_page_map);
	tcase_add_test(tc, test_normal_page_pfn_beyond_memmap_is_bad_page_map);

	tc = tcase_with(s, "vm_normal_page_legacy", setup_legacy);
	tcase_add_test(tc, test_legacy_noncow_pfnmap_is_always_special);
	tcase_add_test(tc, test_legacy_cow_pfnmap_linearity_rule);
	tcase_add_test(tc, test_legacy_mixedmap_normal_iff_pfn_valid);
	tcase_add_test(tc, test_legacy_ignores_special_bit);
	tcase_add_test(tc, test_legacy_remap_then_cow_tells_pages_apart);

	tc = tcase_with(s, "vm_normal_page_per_level", setup_pud_nospecial_per_level);
	tcase_add_test(tc, test_pud_without_special_support_uses_legacy_rules);
	tc = tcase_with(s, "vm_normal_page_pre_per_level", setup_pud_nospecial_prefix);
	tcase_add_test(tc, test_pud_without_special_support_prefix_reports_bad_page_map);

	tc = tm_tcase(s, "insert_and_remap");
	tcase_add_test(tc, test_vmf_insert_pfn_installs_special_pte_once);
	tcase_add_test(tc, test_vmf_insert_pfn_on_non_pfnmap_vma_is_bug);
	tcase_add_test(tc, test_remap_cow_mapping_must_cover_whole_vma);
	tcase_add_test(tc, test_remap_cow_mapping_sets_vm_pgoff_and_flags);

	tc = tm_tcase(s, "zap");
	tcase_add_test(tc, test_zap_4k_of_special_pud_leaf_removes_whole_leaf);
	tcase_add_test(tc, test_zap_4k_of_special_pmd_leaf_removes_whole_leaf);
	tcase_add_test(tc, test_zap_special_ptes_puts_nothing);
	tcase_add_test(tc, test_zap_anon_pages_frees_them);
	tcase_add_test(tc, test_munmap_hugetlb_1g_returns_page_to_pool);
	tcase_add_test(tc, test_munmap_hugetlb_2m_zaps_only_its_pages);

	tc = tcase_with(s, "zap_thp", setup_thp_always);
	tcase_add_test(tc, test_zap_whole_anon_thp_frees_it);
	tcase_add_test(tc, test_zap_part_of_anon_thp_splits_and_zaps_ptes);

	tc = tm_tcase(s, "unmap_mapping_range");
	tcase_add_test(tc, test_unmap_mapping_range_reaches_every_mm);
	tcase_add_test(tc, test_unmap_mapping_range_removes_huge_leaves_without_mmap_lock);
	tcase_add_test(tc, test_unmap_mapping_range_even_cows);
	tcase_add_test(tc, test_unmap_mapping_range_zaps_share_i_mmap_rwsem);
	tcase_add_test(tc, test_unmap_mapping_range_holds_i_mmap_rwsem_for_read);
	return s;
}
