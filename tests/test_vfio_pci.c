// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vfio-pci BAR provider (ref §4, checklist 21, 54, 55): device creation,
 * the region-offset mmap and its -EINVAL cases, fault order selection by
 * alignment (§2.3, done by core mm, asked of huge_fault), SIGBUS while
 * memory decode is off, and the zap on decode-off and reset reaching every
 * process that maps the BAR.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "kernel_profiles.h"
#include "pgtable.h"
#include "sched_point.h"
#include "vfio_pci.h"

#include <linux/vfio.h>

#define VA_1G (64 * GiB)		/* 1G-aligned user addresses */
#define VA_1G_B (128 * GiB)
#define BAR0_SIZE (2 * GiB)
#define BAR2_SIZE (16 * MiB)

static struct vfio_pci_core_device *vdev;

static struct vfio_pci_core_device *make_dev(const char *name)
{
	uint64_t sizes[PCI_STD_NUM_BARS] = { [0] = BAR0_SIZE, [2] = BAR2_SIZE };
	struct vfio_pci_core_device *d = NULL;

	ck_assert_int_eq(vfio_pci_device_create(name, sizes, &d), 0);
	ck_assert_ptr_nonnull(d);
	return d;
}

/* The file offset (in pages) of @off bytes into region @index. */
static unsigned long region_pgoff(unsigned int index, uint64_t off)
{
	return (VFIO_PCI_INDEX_TO_OFFSET(index) + off) >> PAGE_SHIFT;
}

static long map_region_flags(struct mm_struct *mm, struct vfio_pci_core_device *d,
			     uint64_t addr, uint64_t len, unsigned int index, uint64_t off,
			     unsigned long flags)
{
	set_current(mm->owner);
	return (long)vm_mmap(mm, &d->file, addr, len, PROT_READ | PROT_WRITE,
			     flags | MAP_FIXED, region_pgoff(index, off));
}

/* A shared mapping of BAR @index at @addr; asserts it succeeded. */
static void map_bar(struct mm_struct *mm, struct vfio_pci_core_device *d, uint64_t addr,
		    uint64_t len, unsigned int index, uint64_t off)
{
	long ret = map_region_flags(mm, d, addr, len, index, off, MAP_SHARED);

	ck_assert_msg(!IS_ERR_VALUE(ret), "vm_mmap failed: %ld", ret);
	ck_assert_uint_eq((unsigned long)ret, addr);
}

static vm_fault_t fault_at(struct mm_struct *mm, uint64_t addr, unsigned int flags)
{
	struct vm_area_struct *vma;
	vm_fault_t ret;

	set_current(mm->owner);
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	ck_assert_ptr_nonnull(vma);
	ret = handle_mm_fault(vma, addr, flags);
	mmap_read_unlock(mm);
	return ret;
}

static int fixup_at(struct mm_struct *mm, uint64_t addr, unsigned int flags)
{
	int ret;

	set_current(mm->owner);
	mmap_read_lock(mm);
	ret = fixup_user_fault(mm, addr, flags, NULL);
	mmap_read_unlock(mm);
	return ret;
}

/* The leaf level at @addr, its pfn for @addr and the raw entry. */
static enum pgtable_level leaf(struct mm_struct *mm, uint64_t addr, unsigned long *pfn,
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

/*
 * Fault @addr and check that the entry is a special leaf at @want for the
 * BAR pfn @want_pfn of that address, installed with write=false.
 */
static void assert_fault_leaf(struct mm_struct *mm, uint64_t addr, unsigned int flags,
			      enum pgtable_level want, unsigned long want_pfn)
{
	unsigned long pfn;
	uint64_t e;

	ck_assert_uint_eq(fault_at(mm, addr, flags), VM_FAULT_NOPAGE);
	ck_assert_int_eq(leaf(mm, addr, &pfn, &e), want);
	ck_assert_uint_eq(pfn, want_pfn);
	ck_assert_msg(e & _PAGE_SPECIAL, "BAR entry not special: %#llx", (unsigned long long)e);
	ck_assert_msg(e & _PAGE_PCD, "BAR entry not uncached: %#llx", (unsigned long long)e);
	/* write=false: never dirtied by the fault, even a write fault. */
	ck_assert_msg(!(e & _PAGE_DIRTY), "BAR entry dirtied by fault: %#llx",
		      (unsigned long long)e);
	if (want != PGTABLE_PTE)
		ck_assert(e & _PAGE_PSE);
}

static bool mapping_has(struct vfio_pci_core_device *d, struct vm_area_struct *vma)
{
	struct vm_area_struct *v;
	bool found = false;

	i_mmap_lock_write(&d->mapping);
	for (v = d->mapping.i_mmap; v; v = v->vm_mapping_next)
		found |= v == vma;
	i_mmap_unlock_write(&d->mapping);
	return found;
}

static void dev_setup(void)
{
	tm_setup();
	vdev = make_dev("dev0");
}

static void dev_teardown(void)
{
	vdev = NULL;
	tm_teardown();
}

static TCase *dev_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, dev_setup, dev_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

/* ---------------------------------------------------------------- device */

START_TEST(test_create_places_bars_naturally_aligned_in_mmio)
{
	struct vfio_pci_core_device *d = make_dev("gpu");

	ck_assert_uint_eq(d->bar[0].size, BAR0_SIZE);
	ck_assert_uint_eq(d->bar[2].size, BAR2_SIZE);
	ck_assert_uint_eq(d->bar[0].pfn & ((BAR0_SIZE >> PAGE_SHIFT) - 1), 0);
	ck_assert_uint_eq(d->bar[2].pfn & ((BAR2_SIZE >> PAGE_SHIFT) - 1), 0);
	for (int i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct vfio_pci_bar *bar = &d->bar[i];

		ck_assert_int_eq(bar->mmap_supported, bar->size != 0);
		if (!bar->size)
			continue;
		/* MMIO: no struct page, host bytes behind it. */
		ck_assert(bar->pfn >= mmio_base_pfn);
		ck_assert(!pfn_valid(bar->pfn));
		ck_assert_ptr_eq(mmio_virt(bar->pfn), bar->bytes);
		ck_assert_ptr_eq(mmio_virt(bar->pfn + (bar->size >> PAGE_SHIFT) - 1),
				 bar->bytes + bar->size - PAGE_SIZE);
	}
	/* BAR0 and BAR2 do not overlap. */
	ck_assert(d->bar[2].pfn >= d->bar[0].pfn + (BAR0_SIZE >> PAGE_SHIFT) ||
		  d->bar[0].pfn >= d->bar[2].pfn + (BAR2_SIZE >> PAGE_SHIFT));
	ck_assert_ptr_null(d->bar[1].bytes);

	/* Decode starts on, in the little-endian virtual PCI_COMMAND. */
	ck_assert(__vfio_pci_memory_enabled(d));
	ck_assert_uint_eq(d->vconfig[SIM_PCI_COMMAND] & SIM_PCI_COMMAND_MEMORY,
			  SIM_PCI_COMMAND_MEMORY);

	ck_assert_ptr_eq(d->file.private_data, d);
	ck_assert_ptr_eq(d->file.f_mapping, &d->mapping);
	ck_assert_ptr_nonnull(d->file.f_op);
	ck_assert_ptr_nonnull(d->file.f_op->mmap);
	ck_assert_ptr_null(d->mapping.i_mmap);
	ck_assert_uint_eq(d->nr_zaps, 0);

	ck_assert_ptr_eq(tm->devices, d);
	ck_assert_int_eq(tm->nr_devices, 1);
	ck_assert_str_eq(d->name, "gpu");
}
END_TEST

START_TEST(test_create_rejects_bad_bar_size_and_changes_nothing)
{
	static const uint64_t bad[] = { 3 * PAGE_SIZE, PAGE_SIZE / 2, 2 * GiB + PAGE_SIZE, 1 };

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* A good BAR0 first: validation must come before any placement. */
		uint64_t sizes[PCI_STD_NUM_BARS] = { [0] = 2 * MiB, [4] = bad[i] };
		struct vfio_pci_core_device *d = (void *)0x1;

		ck_assert_int_eq(vfio_pci_device_create("bad", sizes, &d), -EINVAL);
		ck_assert_ptr_eq(d, (void *)0x1);
		ck_assert_uint_eq(tm->nr_mmio, 0);
		ck_assert_int_eq(tm->nr_devices, 0);
		ck_assert_ptr_null(tm->devices);
	}
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

START_TEST(test_devices_get_distinct_ids_and_destroy_unregisters)
{
	struct vfio_pci_core_device *a = make_dev("a"), *b = make_dev("b");

	ck_assert_int_ne(a->id, b->id);
	ck_assert_int_eq(tm->nr_devices, 2);
	vfio_pci_device_destroy(a);
	ck_assert_int_eq(tm->nr_devices, 1);
	ck_assert_ptr_eq(tm->devices, b);
	ck_assert_ptr_null(b->next);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* ------------------------------------------------------------------ mmap */

START_TEST(test_mmap_bar_sets_up_pfnmap_vma_and_inserts_nothing)
{
	struct mm_struct *mm = tm_mm("qemu");
	struct vm_area_struct *vma;

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);

	mmap_read_lock(mm);
	vma = vma_lookup(mm, VA_1G);
	ck_assert_ptr_nonnull(vma);
	ck_assert_uint_eq(vma->vm_start, VA_1G);
	ck_assert_uint_eq(vma->vm_end, VA_1G + BAR0_SIZE);
	ck_assert_uint_eq(vma->vm_flags & (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP |
					   VM_SHARED),
			  VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_SHARED);
	ck_assert(!is_cow_mapping(vma->vm_flags));
	ck_assert(pgprot_val(vma->vm_page_prot) & _PAGE_PCD);
	ck_assert_ptr_eq(vma->vm_private_data, vdev);
	ck_assert_ptr_eq(vma->vm_file, &vdev->file);
	ck_assert_uint_eq(vma->vm_pgoff, region_pgoff(VFIO_PCI_BAR0_REGION_INDEX, 0));
	ck_assert_ptr_nonnull(vma->vm_ops);
	ck_assert_ptr_eq(vma->vm_ops->fault, vfio_pci_mmap_page_fault);
	ck_assert_ptr_eq(vma->vm_ops->huge_fault, vfio_pci_mmap_huge_fault);
	ck_assert(mapping_has(vdev, vma));
	mmap_read_unlock(mm);

	/* Lazily faulted: nothing at any level yet. */
	ck_assert_int_eq(leaf(mm, VA_1G, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(leaf(mm, VA_1G + GiB + 12 * PAGE_SIZE, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(leaf(mm, VA_1G + BAR0_SIZE - PAGE_SIZE, NULL, NULL), PGTABLE_NONE);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* A failed mmap leaves no VMA and nothing on the device's i_mmap list. */
static void assert_mmap_einval(struct mm_struct *mm, uint64_t addr, uint64_t len,
			       unsigned int index, uint64_t off, unsigned long flags)
{
	long ret = map_region_flags(mm, vdev, addr, len, index, off, flags);

	ck_assert_msg(ret == -EINVAL, "index %u off %#llx len %#llx: %ld, want -EINVAL", index,
		      (unsigned long long)off, (unsigned long long)len, ret);
	mmap_read_lock(mm);
	ck_assert_ptr_null(find_vma_intersection(mm, addr, addr + len));
	mmap_read_unlock(mm);
	ck_assert_ptr_null(vdev->mapping.i_mmap);
}

START_TEST(test_mmap_private_bar_is_einval)
{
	struct mm_struct *mm = tm_mm("qemu");

	assert_mmap_einval(mm, VA_1G, BAR2_SIZE, VFIO_PCI_BAR2_REGION_INDEX, 0, MAP_PRIVATE);
}
END_TEST

START_TEST(test_mmap_rom_config_vga_and_unknown_regions_are_einval)
{
	static const unsigned int idx[] = {
		VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX,
		VFIO_PCI_VGA_REGION_INDEX, VFIO_PCI_NUM_REGIONS, VFIO_PCI_NUM_REGIONS + 3,
	};
	struct mm_struct *mm = tm_mm("qemu");

	for (unsigned int i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		assert_mmap_einval(mm, VA_1G, PAGE_SIZE, idx[i], 0, MAP_SHARED);
}
END_TEST

START_TEST(test_mmap_beyond_bar_size_is_einval_and_exact_fit_works)
{
	struct mm_struct *mm = tm_mm("qemu");

	assert_mmap_einval(mm, VA_1G, BAR2_SIZE + PAGE_SIZE, VFIO_PCI_BAR2_REGION_INDEX, 0,
			   MAP_SHARED);
	assert_mmap_einval(mm, VA_1G, BAR2_SIZE, VFIO_PCI_BAR2_REGION_INDEX, PAGE_SIZE,
			   MAP_SHARED);
	assert_mmap_einval(mm, VA_1G, PAGE_SIZE, VFIO_PCI_BAR2_REGION_INDEX, BAR2_SIZE,
			   MAP_SHARED);
	/* req_start + req_len == PAGE_ALIGN(bar size) is allowed. */
	map_bar(mm, vdev, VA_1G, BAR2_SIZE / 2, VFIO_PCI_BAR2_REGION_INDEX, BAR2_SIZE / 2);
}
END_TEST

START_TEST(test_mmap_absent_bar_is_einval)
{
	struct mm_struct *mm = tm_mm("qemu");

	assert_mmap_einval(mm, VA_1G, PAGE_SIZE, VFIO_PCI_BAR1_REGION_INDEX, 0, MAP_SHARED);
	assert_mmap_einval(mm, VA_1G, PAGE_SIZE, VFIO_PCI_BAR5_REGION_INDEX, 0, MAP_SHARED);
}
END_TEST

/*
 * Direct calls of f_op->mmap with hand-made VMAs: every -EINVAL case,
 * including vm_end < vm_start which do_mmap() cannot produce, leaves the VMA
 * as it was.
 */
START_TEST(test_core_mmap_einval_leaves_vma_untouched)
{
	struct {
		unsigned long start, end, pgoff;
		vm_flags_t flags;
	} bad[] = {
		{ VA_1G, VA_1G + PAGE_SIZE, region_pgoff(VFIO_PCI_NUM_REGIONS, 0), 0 },
		{ VA_1G + PAGE_SIZE, VA_1G, region_pgoff(0, 0), VM_SHARED },
		{ VA_1G, VA_1G + PAGE_SIZE, region_pgoff(0, 0), VM_MAYSHARE },
		{ VA_1G, VA_1G + PAGE_SIZE, region_pgoff(VFIO_PCI_ROM_REGION_INDEX, 0), VM_SHARED },
		{ VA_1G, VA_1G + PAGE_SIZE, region_pgoff(3, 0), VM_SHARED },
		{ VA_1G, VA_1G + 2 * PAGE_SIZE, region_pgoff(2, BAR2_SIZE - PAGE_SIZE), VM_SHARED },
	};
	struct mm_struct *mm = tm_mm("qemu");

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_area_struct vma = {
			.vm_start = bad[i].start,
			.vm_end = bad[i].end,
			.vm_mm = mm,
			.vm_flags = bad[i].flags | VM_READ | VM_WRITE,
			.vm_page_prot = PAGE_SHARED,
			.vm_pgoff = bad[i].pgoff,
			.vm_file = &vdev->file,
		};

		ck_assert_int_eq(vfio_pci_core_mmap(vdev, &vma), -EINVAL);
		ck_assert_uint_eq(vma.vm_flags, bad[i].flags | VM_READ | VM_WRITE);
		ck_assert_uint_eq(pgprot_val(vma.vm_page_prot), pgprot_val(PAGE_SHARED));
		ck_assert_ptr_null(vma.vm_ops);
		ck_assert_ptr_null(vma.vm_private_data);
		ck_assert_ptr_null(vdev->mapping.i_mmap);
	}
}
END_TEST

START_TEST(test_munmap_unlinks_vma_from_device_mapping)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long zaps;

	map_bar(mm, vdev, VA_1G, BAR2_SIZE, VFIO_PCI_BAR2_REGION_INDEX, 0);
	ck_assert_ptr_nonnull(vdev->mapping.i_mmap);
	ck_assert_uint_eq(fault_at(mm, VA_1G, 0), VM_FAULT_NOPAGE);
	ck_assert_int_eq(vm_munmap(mm, VA_1G, BAR2_SIZE), 0);
	ck_assert_ptr_null(vdev->mapping.i_mmap);
	/* A later zap must not reach the freed VMA. */
	zaps = vdev->nr_zaps;
	vfio_pci_zap_bars(vdev);
	ck_assert_uint_eq(vdev->nr_zaps, zaps + 1);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* ---------------------------------------------------------- fault order */

/* Checklist 54 / §2.3: a 1G-aligned VA and pfn get a PUD leaf first. */
START_TEST(test_fault_at_1g_aligned_va_installs_special_pud_leaf)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long bar = vdev->bar[0].pfn;
	uint64_t e;

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, VA_1G + 5 * PAGE_SIZE + 123, 0, PGTABLE_PUD, bar + 5);
	/* The whole first GiB is now one leaf; the second is still empty. */
	ck_assert_int_eq(leaf(mm, VA_1G + GiB - PAGE_SIZE, NULL, &e), PGTABLE_PUD);
	ck_assert_uint_eq((e & PTE_PFN_MASK) >> PAGE_SHIFT, bar);
	ck_assert_int_eq(leaf(mm, VA_1G + GiB, NULL, NULL), PGTABLE_NONE);
	assert_fault_leaf(mm, VA_1G + GiB + 7 * MiB, 0, PGTABLE_PUD,
			  bar + ((GiB + 7 * MiB) >> PAGE_SHIFT));
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* write=false: a write fault on a shared writable BAR still installs a clean entry. */
START_TEST(test_write_fault_inserts_with_write_false)
{
	struct mm_struct *mm = tm_mm("qemu");
	struct vm_area_struct *vma;
	uint64_t e;

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, VA_1G, FAULT_FLAG_WRITE, PGTABLE_PUD, vdev->bar[0].pfn);
	/* Writability comes from vm_page_prot, not from the fault. */
	mmap_read_lock(mm);
	vma = vma_lookup(mm, VA_1G);
	ck_assert_int_eq(leaf(mm, VA_1G, NULL, &e), PGTABLE_PUD);
	ck_assert_uint_eq(e & _PAGE_RW, pgprot_val(vma->vm_page_prot) & _PAGE_RW);
	mmap_read_unlock(mm);
}
END_TEST

START_TEST(test_fault_at_2m_aligned_va_not_1g_aligned_installs_pmd_leaf)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long bar = vdev->bar[0].pfn;

	/* VA 1G+2M and BAR offset 2M: congruent mod 2M, never mod 1G. */
	map_bar(mm, vdev, VA_1G + 2 * MiB, 64 * MiB, VFIO_PCI_BAR0_REGION_INDEX, 2 * MiB);
	assert_fault_leaf(mm, VA_1G + 2 * MiB, 0, PGTABLE_PMD, bar + 512);
	assert_fault_leaf(mm, VA_1G + 8 * MiB + PAGE_SIZE, 0, PGTABLE_PMD,
			  bar + ((8 * MiB + PAGE_SIZE) >> PAGE_SHIFT));
	ck_assert_int_eq(leaf(mm, VA_1G + 4 * MiB, NULL, NULL), PGTABLE_NONE);
}
END_TEST

START_TEST(test_fault_4k_off_1g_boundary_installs_ptes_only)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long bar = vdev->bar[0].pfn;

	/* VA 1G+4K maps BAR offset 0: VA and pfn never agree mod 2M. */
	map_bar(mm, vdev, VA_1G + PAGE_SIZE, 64 * MiB, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, VA_1G + PAGE_SIZE, 0, PGTABLE_PTE, bar);
	assert_fault_leaf(mm, VA_1G + 2 * MiB, 0, PGTABLE_PTE, bar + 511);
	assert_fault_leaf(mm, VA_1G + 40 * MiB + 3 * PAGE_SIZE, 0, PGTABLE_PTE,
			  bar + ((40 * MiB + 2 * PAGE_SIZE) >> PAGE_SHIFT));
	/* One page at a time: the neighbour was not populated. */
	ck_assert_int_eq(leaf(mm, VA_1G + 2 * MiB + PAGE_SIZE, NULL, NULL), PGTABLE_NONE);
}
END_TEST

/* An aligned VA is not enough: the pfn must be aligned to the order too. */
START_TEST(test_fault_with_misaligned_pfn_falls_back_to_pte)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long bar = vdev->bar[0].pfn;

	map_bar(mm, vdev, VA_1G, 64 * MiB, VFIO_PCI_BAR0_REGION_INDEX, PAGE_SIZE);
	assert_fault_leaf(mm, VA_1G, 0, PGTABLE_PTE, bar + 1);
	assert_fault_leaf(mm, VA_1G + 4 * MiB, 0, PGTABLE_PTE, bar + 1 + 1024);
}
END_TEST

/* A VMA shorter than 1G cannot take a PUD leaf even at an aligned VA. */
START_TEST(test_fault_in_vma_shorter_than_1g_installs_pmd_leaf)
{
	struct mm_struct *mm = tm_mm("qemu");

	map_bar(mm, vdev, VA_1G, GiB - 2 * MiB, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, VA_1G, 0, PGTABLE_PMD, vdev->bar[0].pfn);
	/* And the last 2M of the VMA is a PMD too, it fits exactly. */
	assert_fault_leaf(mm, VA_1G + GiB - 3 * MiB, 0, PGTABLE_PMD,
			  vdev->bar[0].pfn + ((GiB - 4 * MiB) >> PAGE_SHIFT) + 256);
}
END_TEST

/* Checklist 55: inserting onto a present leaf with write=false changes nothing. */
START_TEST(test_huge_fault_onto_present_pud_leaf_is_nopage_and_no_change)
{
	struct mm_struct *mm = tm_mm("qemu");
	struct vm_area_struct *vma;
	struct vm_fault vmf = { 0 };
	pud_t *pudp, before;

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	ck_assert_uint_eq(fault_at(mm, VA_1G, 0), VM_FAULT_NOPAGE);

	mmap_read_lock(mm);
	vma = vma_lookup(mm, VA_1G);
	pudp = pud_offset(p4d_offset(pgd_offset(mm, VA_1G), VA_1G), VA_1G);
	before = pudp_get(pudp);
	ck_assert(pud_leaf(before));
	vmf.vma = vma;
	vmf.address = VA_1G + 3 * MiB;
	vmf.real_address = vmf.address;
	vmf.flags = FAULT_FLAG_WRITE;
	vmf.pgoff = linear_page_index(vma, vmf.address);
	vmf.pud = pudp;
	ck_assert_uint_eq(vfio_pci_mmap_huge_fault(&vmf, PUD_ORDER), VM_FAULT_NOPAGE);
	ck_assert_uint_eq(pud_val(pudp_get(pudp)), pud_val(before));
	mmap_read_unlock(mm);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/*
 * The alignment check comes before memory_lock and the decode check: with
 * decode off, a misaligned order falls back (core mm tries the next one)
 * while an aligned one is SIGBUS.  Hand-made VMA, no page tables touched.
 */
START_TEST(test_huge_fault_checks_alignment_before_decode)
{
	struct mm_struct *mm = tm_mm("qemu");
	struct vm_area_struct vma = {
		.vm_start = VA_1G + PAGE_SIZE,
		.vm_end = VA_1G + PAGE_SIZE + 64 * MiB,
		.vm_mm = mm,
		.vm_flags = VM_READ | VM_WRITE | VM_SHARED | VM_MAYSHARE,
		.vm_page_prot = PAGE_SHARED,
		.vm_pgoff = region_pgoff(0, 0),
		.vm_file = &vdev->file,
	};
	struct vm_fault vmf = { .vma = &vma };

	ck_assert_int_eq(vfio_pci_core_mmap(vdev, &vma), 0);
	vfio_pci_write_command(vdev, 0);
	ck_assert(!__vfio_pci_memory_enabled(vdev));

	/* Aligned-down address below vm_start. */
	vmf.address = VA_1G + PAGE_SIZE;
	ck_assert_uint_eq(vfio_pci_mmap_huge_fault(&vmf, PMD_ORDER), VM_FAULT_FALLBACK);
	ck_assert_uint_eq(vfio_pci_mmap_huge_fault(&vmf, PUD_ORDER), VM_FAULT_FALLBACK);
	/* Inside the VMA, aligned VA, but pfn bar+511 is not 2M-aligned. */
	vmf.address = VA_1G + 2 * MiB;
	ck_assert_uint_eq(vfio_pci_mmap_huge_fault(&vmf, PMD_ORDER), VM_FAULT_FALLBACK);
	/* Order 0 always "fits": decode off is SIGBUS. */
	ck_assert_uint_eq(vfio_pci_mmap_huge_fault(&vmf, 0), VM_FAULT_SIGBUS);
	ck_assert_uint_eq(vfio_pci_mmap_page_fault(&vmf), VM_FAULT_SIGBUS);

	/* Re-place the VMA so that VA and pfn agree mod 2M: now SIGBUS. */
	vma.vm_pgoff = region_pgoff(0, PAGE_SIZE);
	ck_assert_uint_eq(vfio_pci_mmap_huge_fault(&vmf, PMD_ORDER), VM_FAULT_SIGBUS);
	/* ... but not past vm_end. */
	vmf.address = vma.vm_end - PAGE_SIZE;
	ck_assert_uint_eq(vfio_pci_mmap_huge_fault(&vmf, PMD_ORDER), VM_FAULT_FALLBACK);
	/* Decode on, an aligned order the provider has no case for: fall back. */
	vfio_pci_write_command(vdev, SIM_PCI_COMMAND_MEMORY);
	vmf.address = VA_1G + 2 * MiB;
	ck_assert_uint_eq(vfio_pci_mmap_huge_fault(&vmf, 3), VM_FAULT_FALLBACK);
	/* f_op->mmap itself links nothing: core mm does, after the insert. */
	ck_assert_ptr_null(vdev->mapping.i_mmap);
}
END_TEST

START_TEST(test_runtime_pm_engaged_fault_is_sigbus)
{
	struct mm_struct *mm = tm_mm("qemu");

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	vdev->pm_runtime_engaged = true;
	ck_assert_uint_eq(fault_at(mm, VA_1G, 0), VM_FAULT_SIGBUS);
	ck_assert_int_eq(leaf(mm, VA_1G, NULL, NULL), PGTABLE_NONE);
	vdev->pm_runtime_engaged = false;
	assert_fault_leaf(mm, VA_1G, 0, PGTABLE_PUD, vdev->bar[0].pfn);
}
END_TEST

struct insert_probe {
	struct vfio_pci_core_device *vdev;
	unsigned long calls, addr;
	bool read_held, write_held, writer_excluded;
};

static void probe_before_insert(enum sched_point_id id, struct mm_struct *mm,
				unsigned long addr, void *priv)
{
	struct insert_probe *p = priv;

	p->calls++;
	p->addr = addr;
	p->read_held = rwsem_held_by_current(&p->vdev->memory_lock);
	p->write_held = rwsem_write_held_by_current(&p->vdev->memory_lock);
	/* Decode-off and reset need the write side: they cannot get in now. */
	p->writer_excluded = !down_write_trylock(&p->vdev->memory_lock);
	if (!p->writer_excluded)
		up_write(&p->vdev->memory_lock);
}

/* The insert happens under memory_lock held for read, so no zap can interleave. */
START_TEST(test_fault_inserts_under_memory_lock_read)
{
	struct mm_struct *mm = tm_mm("qemu");
	struct insert_probe p = { .vdev = vdev };

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	sched_point_arm(SP_FAULT_BEFORE_INSERT, probe_before_insert, &p);
	assert_fault_leaf(mm, VA_1G + 5 * MiB, 0, PGTABLE_PUD, vdev->bar[0].pfn + 1280);
	ck_assert_uint_eq(p.calls, 1);
	ck_assert_uint_eq(p.addr, VA_1G);
	ck_assert(p.read_held);
	ck_assert(!p.write_held);
	ck_assert(p.writer_excluded);
	ck_assert(!rwsem_is_locked(&vdev->memory_lock));

	/* Decode off: SIGBUS before any insert is attempted. */
	vfio_pci_write_command(vdev, 0);
	ck_assert_uint_eq(fault_at(mm, VA_1G + GiB, 0), VM_FAULT_SIGBUS);
	ck_assert_uint_eq(p.calls, 1);
	sched_point_disarm(SP_FAULT_BEFORE_INSERT);
}
END_TEST

/* ------------------------------------------------------ fault config knobs */

static void cfg_setup(unsigned int max_order, bool pmd, bool pud)
{
	tm_defaults(&tm_cfg);
	tm_cfg.max_bar_fault_order = max_order;
	tm_cfg.arch_supports_pmd_pfnmap = pmd;
	tm_cfg.arch_supports_pud_pfnmap = pud;
	tm_setup_with(&tm_cfg);
	vdev = make_dev("dev0");
}

static void max_order_9_setup(void)
{
	cfg_setup(PMD_ORDER, true, true);
}

static void no_pud_pfnmap_setup(void)
{
	cfg_setup(PUD_ORDER, true, false);
}

static void max_order_0_setup(void)
{
	cfg_setup(0, true, true);
}

START_TEST(test_max_bar_fault_order_9_caps_aligned_fault_at_pmd)
{
	struct mm_struct *mm = tm_mm("qemu");

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, VA_1G + 3 * MiB, 0, PGTABLE_PMD, vdev->bar[0].pfn + 768);
	ck_assert_int_eq(leaf(mm, VA_1G + 4 * MiB, NULL, NULL), PGTABLE_NONE);
}
END_TEST

START_TEST(test_no_arch_pud_pfnmap_gets_pmd_at_1g_aligned_va)
{
	struct mm_struct *mm = tm_mm("qemu");

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, VA_1G, 0, PGTABLE_PMD, vdev->bar[0].pfn);
}
END_TEST

START_TEST(test_max_bar_fault_order_0_maps_ptes_only)
{
	struct mm_struct *mm = tm_mm("qemu");

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, VA_1G, 0, PGTABLE_PTE, vdev->bar[0].pfn);
	ck_assert_int_eq(leaf(mm, VA_1G + PAGE_SIZE, NULL, NULL), PGTABLE_NONE);
}
END_TEST

/* ------------------------------------------------------- decode and zap */

/* Checklist 21: decode off → the fault is SIGBUS → fixup_user_fault -EFAULT. */
START_TEST(test_decode_off_fault_is_sigbus_and_fixup_efault)
{
	struct mm_struct *mm = tm_mm("qemu");

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	vfio_pci_write_command(vdev, 0);
	ck_assert(!__vfio_pci_memory_enabled(vdev));
	ck_assert_uint_eq(fault_at(mm, VA_1G, 0), VM_FAULT_SIGBUS);
	ck_assert_uint_eq(fault_at(mm, VA_1G + PAGE_SIZE, FAULT_FLAG_WRITE), VM_FAULT_SIGBUS);
	ck_assert_int_eq(fixup_at(mm, VA_1G + 5 * PAGE_SIZE, 0), -EFAULT);
	ck_assert_int_eq(fixup_at(mm, VA_1G + 5 * PAGE_SIZE, FAULT_FLAG_WRITE), -EFAULT);
	ck_assert_int_eq(leaf(mm, VA_1G, NULL, NULL), PGTABLE_NONE);
	ck_assert(!rwsem_is_locked(&vdev->memory_lock));

	/* Decode back on: the same fault now succeeds. */
	vfio_pci_write_command(vdev, SIM_PCI_COMMAND_MEMORY);
	ck_assert_int_eq(fixup_at(mm, VA_1G + 5 * PAGE_SIZE, 0), 0);
	ck_assert_int_eq(leaf(mm, VA_1G, NULL, NULL), PGTABLE_PUD);
}
END_TEST

/* §4.3: the zap goes through the device's address_space, so it reaches every mm. */
START_TEST(test_decode_off_zaps_every_leaf_in_every_process)
{
	struct mm_struct *a = tm_mm("qemu-a"), *b = tm_mm("qemu-b");
	unsigned long bar = vdev->bar[0].pfn, zaps;

	map_bar(a, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	map_bar(b, vdev, VA_1G_B + 2 * MiB, 64 * MiB, VFIO_PCI_BAR0_REGION_INDEX, 2 * MiB);
	map_bar(b, vdev, VA_1G_B + GiB + PAGE_SIZE, 8 * MiB, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(a, VA_1G, 0, PGTABLE_PUD, bar);
	assert_fault_leaf(a, VA_1G + GiB, 0, PGTABLE_PUD, bar + (GiB >> PAGE_SHIFT));
	assert_fault_leaf(b, VA_1G_B + 2 * MiB, 0, PGTABLE_PMD, bar + 512);
	assert_fault_leaf(b, VA_1G_B + 60 * MiB, 0, PGTABLE_PMD, bar + (60 * MiB >> PAGE_SHIFT));
	assert_fault_leaf(b, VA_1G_B + GiB + PAGE_SIZE, 0, PGTABLE_PTE, bar);

	zaps = vdev->nr_zaps;
	vfio_pci_write_command(vdev, 0);
	ck_assert_uint_eq(vdev->nr_zaps, zaps + 1);
	ck_assert_int_eq(leaf(a, VA_1G, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(leaf(a, VA_1G + GiB, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(leaf(b, VA_1G_B + 2 * MiB, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(leaf(b, VA_1G_B + 60 * MiB, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(leaf(b, VA_1G_B + GiB + PAGE_SIZE, NULL, NULL), PGTABLE_NONE);
	/* Both processes see SIGBUS until decode comes back. */
	ck_assert_uint_eq(fault_at(a, VA_1G, 0), VM_FAULT_SIGBUS);
	ck_assert_uint_eq(fault_at(b, VA_1G_B + 2 * MiB, 0), VM_FAULT_SIGBUS);

	/* Setting MEMORY does not zap; the refault re-inserts at the same orders. */
	vfio_pci_write_command(vdev, SIM_PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(vdev->nr_zaps, zaps + 1);
	assert_fault_leaf(a, VA_1G + 9 * MiB, 0, PGTABLE_PUD, bar + (9 * MiB >> PAGE_SHIFT));
	assert_fault_leaf(b, VA_1G_B + 2 * MiB, 0, PGTABLE_PMD, bar + 512);
	assert_fault_leaf(b, VA_1G_B + GiB + PAGE_SIZE, 0, PGTABLE_PTE, bar);
	ck_assert_uint_eq(sim_warn_count(), 0);
	ck_assert_uint_eq(sim_oops_count(), 0);
}
END_TEST

struct decode_race {
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	pthread_t thread;
	bool spawned, done_before_insert;
	_Atomic bool done;
};

static void *decode_off_thread(void *arg)
{
	struct decode_race *r = arg;

	set_current(mm_thread_task(r->mm));
	vfio_pci_write_command(r->vdev, 0);
	atomic_store(&r->done, true);
	return NULL;
}

/*
 * At the first insert, start a decode-off writer and give it ~100 ms to get
 * through.  It must not: the fault holds memory_lock for read.  (Correct code
 * passes however the threads are scheduled; a fault without the lock lets
 * the writer zap an empty range and then inserts behind its back.)
 */
static void spawn_decode_off(enum sched_point_id id, struct mm_struct *mm, unsigned long addr,
			     void *priv)
{
	struct decode_race *r = priv;

	if (r->spawned)
		return;
	r->spawned = true;
	ck_assert_int_eq(pthread_create(&r->thread, NULL, decode_off_thread, r), 0);
	for (int i = 0; i < 1000 && !atomic_load(&r->done); i++)
		usleep(100);
	r->done_before_insert = atomic_load(&r->done);
}

/* §4.3: decode-off during a fault waits for the insert, then zaps the new entry. */
START_TEST(test_decode_off_during_fault_waits_then_zaps_new_entry)
{
	struct mm_struct *mm = tm_mm("qemu");
	struct decode_race r = { .vdev = vdev, .mm = mm };

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	sched_point_arm(SP_FAULT_BEFORE_INSERT, spawn_decode_off, &r);
	ck_assert_uint_eq(fault_at(mm, VA_1G, 0), VM_FAULT_NOPAGE);
	sched_point_disarm(SP_FAULT_BEFORE_INSERT);
	ck_assert(r.spawned);
	ck_assert_int_eq(pthread_join(r.thread, NULL), 0);
	ck_assert(!r.done_before_insert);
	ck_assert(atomic_load(&r.done));
	/* The zap came after the insert, so nothing stale is left mapped. */
	ck_assert_uint_eq(vdev->nr_zaps, 1);
	ck_assert_int_eq(leaf(mm, VA_1G, NULL, NULL), PGTABLE_NONE);
	ck_assert_uint_eq(fault_at(mm, VA_1G, 0), VM_FAULT_SIGBUS);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* Setting decode while it is on neither zaps nor disturbs present entries. */
START_TEST(test_decode_on_write_does_not_zap)
{
	struct mm_struct *mm = tm_mm("qemu");

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, VA_1G, 0, PGTABLE_PUD, vdev->bar[0].pfn);
	vfio_pci_write_command(vdev, SIM_PCI_COMMAND_MEMORY | 0x4 /* bus master */);
	ck_assert_uint_eq(vdev->nr_zaps, 0);
	ck_assert_int_eq(leaf(mm, VA_1G, NULL, NULL), PGTABLE_PUD);
	/*
	 * vfio_basic_config_write(): bus master is not virtualized, it reaches
	 * the device; vconfig keeps only the MEMORY/IO bits written.
	 */
	ck_assert_uint_eq(vdev->vconfig[SIM_PCI_COMMAND], SIM_PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(vdev->config[SIM_PCI_COMMAND], SIM_PCI_COMMAND_MEMORY | 0x4);
}
END_TEST

/* Only this device's mappings are zapped, not another device's. */
START_TEST(test_zap_bars_leaves_other_devices_alone)
{
	struct vfio_pci_core_device *other = make_dev("dev1");
	struct mm_struct *mm = tm_mm("qemu");

	map_bar(mm, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	map_bar(mm, other, VA_1G_B, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, VA_1G, 0, PGTABLE_PUD, vdev->bar[0].pfn);
	assert_fault_leaf(mm, VA_1G_B, 0, PGTABLE_PUD, other->bar[0].pfn);
	vfio_pci_zap_bars(vdev);
	ck_assert_int_eq(leaf(mm, VA_1G, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(leaf(mm, VA_1G_B, NULL, NULL), PGTABLE_PUD);
	ck_assert_uint_eq(other->nr_zaps, 0);
}
END_TEST

/* VFIO_DEVICE_RESET zaps; config space is restored, so decode stays on. */
START_TEST(test_reset_zaps_and_refault_works)
{
	struct mm_struct *a = tm_mm("qemu-a"), *b = tm_mm("qemu-b");
	unsigned long bar2 = vdev->bar[2].pfn;

	map_bar(a, vdev, VA_1G, BAR0_SIZE, VFIO_PCI_BAR0_REGION_INDEX, 0);
	map_bar(b, vdev, VA_1G_B, BAR2_SIZE, VFIO_PCI_BAR2_REGION_INDEX, 0);
	assert_fault_leaf(a, VA_1G, 0, PGTABLE_PUD, vdev->bar[0].pfn);
	assert_fault_leaf(b, VA_1G_B + 2 * MiB, 0, PGTABLE_PMD, bar2 + 512);

	ck_assert_int_eq(vfio_pci_core_reset(vdev), 0);
	ck_assert_uint_eq(vdev->nr_zaps, 1);
	ck_assert_int_eq(leaf(a, VA_1G, NULL, NULL), PGTABLE_NONE);
	ck_assert_int_eq(leaf(b, VA_1G_B + 2 * MiB, NULL, NULL), PGTABLE_NONE);
	ck_assert(!rwsem_is_locked(&vdev->memory_lock));
	ck_assert(__vfio_pci_memory_enabled(vdev));

	assert_fault_leaf(a, VA_1G, 0, PGTABLE_PUD, vdev->bar[0].pfn);
	assert_fault_leaf(b, VA_1G_B + 2 * MiB, 0, PGTABLE_PMD, bar2 + 512);

	/* With decode off before the reset it stays off after it. */
	vfio_pci_write_command(vdev, 0);
	ck_assert_int_eq(vfio_pci_core_reset(vdev), 0);
	ck_assert_uint_eq(vdev->nr_zaps, 3);
	ck_assert_uint_eq(fault_at(a, VA_1G, 0), VM_FAULT_SIGBUS);
}
END_TEST


/* ------------------------------------------------- where an mmap goes */

/*
 * Placement of a BAR mmap without MAP_FIXED (sim/mmap.c get_unmapped_area):
 * 6.12 aligns it to 2M relative to the file offset (no hint, length a
 * multiple of 2M: thp_get_unmapped_area) and never to 1G by design; Peter
 * Xu's unmerged series (vfio_pci_mmap_align, off in every profile) aligns it
 * to the largest pfnmap order the BAR allows.  The leaves a fault installs
 * follow.
 */
static const struct {
	const char *kernel;
	bool mapping_order_hint;	/* force vfio_pci_mmap_align on */
} placement_cases[] = {
	{ "6.12.74", false },
	{ "6.12.118", false },
	{ "7.0", false },
	{ "upstream", false },
	{ "upstream", true },
};

/*
 * 6.12's THP branch for every file (ed48e87c7df3); false from 34d7cf637c43
 * (v6.13) on, where a device fd without get_unmapped_area is page-aligned.
 */
static bool placement_file_thp;

static void placement_setup_case(int i)
{
	struct machine_config mc;
	struct vfio_type1_config vc;

	tm_defaults(&tm_cfg);
	ck_assert_int_eq(kernel_profile_configs(placement_cases[i].kernel, &mc, &vc), 0);
	tm_cfg.pagewalk_fixed = mc.pagewalk_fixed;
	tm_cfg.pagewalk_stale_action_fix = mc.pagewalk_stale_action_fix;
	tm_cfg.special_bit_per_level = mc.special_bit_per_level;
	tm_cfg.task_mmu_hugetlb_ptl = mc.task_mmu_hugetlb_ptl;
	tm_cfg.vfio_pci_mmap_align = mc.vfio_pci_mmap_align ||
				     placement_cases[i].mapping_order_hint;
	tm_cfg.mmap_thp_anon_only = mc.mmap_thp_anon_only;
	placement_file_thp = !mc.mmap_thp_anon_only;
	ck_assert(!mc.vfio_pci_mmap_align);	/* never merged: off in every profile */
	tm_setup_with(&tm_cfg);
	vdev = make_dev("dev0");
}

/*
 * The kernel's mmap_base is page-aligned and, with ASLR, random: a page
 * mapped first puts the top of the free gap off every 2M and 1G boundary,
 * as a random base would almost always do.
 */
static struct mm_struct *placement_mm(void)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long a = vm_mmap(mm, NULL, 0, PAGE_SIZE, PROT_READ,
				  MAP_PRIVATE | MAP_ANONYMOUS, 0);

	ck_assert(!IS_ERR_VALUE(a));
	return mm;
}

static unsigned long mmap_bar_nofixed(struct mm_struct *mm, uint64_t hint, uint64_t len,
				      unsigned int index, uint64_t off)
{
	unsigned long a;

	set_current(mm->owner);
	a = vm_mmap(mm, &vdev->file, hint, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		    region_pgoff(index, off));
	ck_assert_msg(!IS_ERR_VALUE(a), "vm_mmap: %ld", (long)a);
	return a;
}

/* The largest leaf the faults of every 2M of [va, va + len) install. */
static enum pgtable_level fault_every_2m(struct mm_struct *mm, unsigned long va, uint64_t len)
{
	enum pgtable_level max = PGTABLE_NONE, lvl;

	for (uint64_t off = 0; off < len; off += 2 * MiB) {
		/* A PUD leaf faulted in earlier already maps the rest of its 1G. */
		if (leaf(mm, va + off, NULL, NULL) == PGTABLE_NONE)
			ck_assert_uint_eq(fault_at(mm, va + off, 0), VM_FAULT_NOPAGE);
		lvl = leaf(mm, va + off, NULL, NULL);
		if (lvl > max)
			max = lvl;
	}
	return max;
}

START_TEST(test_bar_mmap_without_fixed_gets_1g_leaves_only_with_mapping_order_hint)
{
	const bool hint = placement_cases[_i].mapping_order_hint;
	struct mm_struct *mm;
	unsigned long va;

	placement_setup_case(_i);
	mm = placement_mm();
	va = mmap_bar_nofixed(mm, 0, GiB, VFIO_PCI_BAR0_REGION_INDEX, 0);

	/*
	 * 6.12: 2M-congruent to the offset (0); 6.13+ (34d7cf637c43): page
	 * alignment, off 2M here because the gap's top is; 1G only with the
	 * mapping-order hint.
	 */
	enum pgtable_level want = hint ? PGTABLE_PUD : placement_file_thp ? PGTABLE_PMD : PGTABLE_PTE;

	ck_assert_msg(!(va & (PMD_SIZE - 1)) == (hint || placement_file_thp), "%s: va %#lx",
		      placement_cases[_i].kernel, va);
	ck_assert_msg(!(va & (PUD_SIZE - 1)) == hint, "%s: va %#lx",
		      placement_cases[_i].kernel, va);
	ck_assert_int_eq(fault_every_2m(mm, va, GiB), want);
	if (want != PGTABLE_PTE)	/* PTE faults map only the page they hit */
		ck_assert_int_eq(leaf(mm, va + GiB - PAGE_SIZE, NULL, NULL), want);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

/* __thp_get_unmapped_area(): the address follows the offset modulo 2M. */
START_TEST(test_bar_mmap_without_fixed_is_congruent_to_offset_mod_2m)
{
	const uint64_t off = 5 * PAGE_SIZE;
	struct mm_struct *mm;
	unsigned long va;

	placement_setup_case(_i);
	mm = placement_mm();
	va = mmap_bar_nofixed(mm, 0, 4 * MiB, VFIO_PCI_BAR2_REGION_INDEX, off);
	if (!placement_file_thp && !placement_cases[_i].mapping_order_hint) {
		/* 6.13+ (34d7cf637c43): no THP placement, PTEs only. */
		ck_assert_uint_ne(va & (PMD_SIZE - 1), off);
		assert_fault_leaf(mm, va, 0, PGTABLE_PTE, vdev->bar[2].pfn + 5);
		return;
	}
	ck_assert_uint_eq(va & (PMD_SIZE - 1), off);
	/* BAR offset 2M: a 2M-aligned address over a 2M-aligned pfn. */
	assert_fault_leaf(mm, va + 2 * MiB - off, 0, PGTABLE_PMD, vdev->bar[2].pfn + 512);
	assert_fault_leaf(mm, va, 0, PGTABLE_PTE, vdev->bar[2].pfn + 5);
}
END_TEST

/*
 * A length that is not a multiple of 2M skips 6.12's THP branch: page
 * alignment only.  The mapping-order hint aligns it anyway.
 */
START_TEST(test_bar_mmap_odd_length_is_page_aligned_without_mapping_order_hint)
{
	const bool hint = placement_cases[_i].mapping_order_hint;
	struct mm_struct *mm;
	unsigned long va;

	placement_setup_case(_i);
	mm = placement_mm();
	va = mmap_bar_nofixed(mm, 0, 2 * MiB + PAGE_SIZE, VFIO_PCI_BAR2_REGION_INDEX, 0);
	ck_assert_msg(!(va & (PMD_SIZE - 1)) == hint, "%s: va %#lx",
		      placement_cases[_i].kernel, va);
	assert_fault_leaf(mm, va, 0, hint ? PGTABLE_PMD : PGTABLE_PTE, vdev->bar[2].pfn);
}
END_TEST

/* A free hint is used as it is, in every version: no alignment at all. */
START_TEST(test_bar_mmap_hint_is_taken_as_is)
{
	const unsigned long hint = VA_1G + 3 * PAGE_SIZE;
	struct mm_struct *mm;

	placement_setup_case(_i);
	mm = placement_mm();
	ck_assert_uint_eq(mmap_bar_nofixed(mm, hint, GiB, VFIO_PCI_BAR0_REGION_INDEX, 0), hint);
	assert_fault_leaf(mm, hint, 0, PGTABLE_PTE, vdev->bar[0].pfn);
}
END_TEST

/*
 * What a VMM does to get 1G leaves on any kernel (QEMU's vfio_region_mmap()):
 * reserve size + alignment of anonymous PROT_NONE memory, and map the BAR
 * MAP_FIXED at the aligned address inside it.  This is how the seeds/01 PUD
 * leaves exist on 6.12.74.
 */
START_TEST(test_bar_mmap_fixed_into_aligned_reservation_gets_1g_leaves_everywhere)
{
	struct mm_struct *mm;
	unsigned long base, at;

	placement_setup_case(_i);
	mm = placement_mm();
	base = vm_mmap(mm, NULL, 0, GiB + GiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, 0);
	ck_assert(!IS_ERR_VALUE(base));
	at = (base + GiB - 1) & ~(GiB - 1);
	map_bar(mm, vdev, at, GiB, VFIO_PCI_BAR0_REGION_INDEX, 0);
	assert_fault_leaf(mm, at + 12345, 0, PGTABLE_PUD, vdev->bar[0].pfn + 3);
	ck_assert_int_eq(fault_every_2m(mm, at, GiB), PGTABLE_PUD);
}
END_TEST

static void placement_teardown(void)
{
	dev_teardown();
}

Suite *make_suite(void)
{
	Suite *s = suite_create("vfio_pci");
	TCase *tc;

	tc = tm_tcase(s, "device");
	tcase_add_test(tc, test_create_places_bars_naturally_aligned_in_mmio);
	tcase_add_test(tc, test_create_rejects_bad_bar_size_and_changes_nothing);
	tcase_add_test(tc, test_devices_get_distinct_ids_and_destroy_unregisters);

	tc = dev_tcase(s, "mmap");
	tcase_add_test(tc, test_mmap_bar_sets_up_pfnmap_vma_and_inserts_nothing);
	tcase_add_test(tc, test_mmap_private_bar_is_einval);
	tcase_add_test(tc, test_mmap_rom_config_vga_and_unknown_regions_are_einval);
	tcase_add_test(tc, test_mmap_beyond_bar_size_is_einval_and_exact_fit_works);
	tcase_add_test(tc, test_mmap_absent_bar_is_einval);
	tcase_add_test(tc, test_core_mmap_einval_leaves_vma_untouched);
	tcase_add_test(tc, test_munmap_unlinks_vma_from_device_mapping);

	tc = dev_tcase(s, "fault");
	tcase_add_test(tc, test_fault_at_1g_aligned_va_installs_special_pud_leaf);
	tcase_add_test(tc, test_write_fault_inserts_with_write_false);
	tcase_add_test(tc, test_fault_at_2m_aligned_va_not_1g_aligned_installs_pmd_leaf);
	tcase_add_test(tc, test_fault_4k_off_1g_boundary_installs_ptes_only);
	tcase_add_test(tc, test_fault_with_misaligned_pfn_falls_back_to_pte);
	tcase_add_test(tc, test_fault_in_vma_shorter_than_1g_installs_pmd_leaf);
	tcase_add_test(tc, test_huge_fault_onto_present_pud_leaf_is_nopage_and_no_change);
	tcase_add_test(tc, test_huge_fault_checks_alignment_before_decode);
	tcase_add_test(tc, test_runtime_pm_engaged_fault_is_sigbus);
	tcase_add_test(tc, test_fault_inserts_under_memory_lock_read);

	tc = tcase_create("max_order_9");
	tcase_add_checked_fixture(tc, max_order_9_setup, dev_teardown);
	tcase_add_test(tc, test_max_bar_fault_order_9_caps_aligned_fault_at_pmd);
	suite_add_tcase(s, tc);

	tc = tcase_create("no_pud_pfnmap");
	tcase_add_checked_fixture(tc, no_pud_pfnmap_setup, dev_teardown);
	tcase_add_test(tc, test_no_arch_pud_pfnmap_gets_pmd_at_1g_aligned_va);
	suite_add_tcase(s, tc);

	tc = tcase_create("max_order_0");
	tcase_add_checked_fixture(tc, max_order_0_setup, dev_teardown);
	tcase_add_test(tc, test_max_bar_fault_order_0_maps_ptes_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("placement");
	tcase_add_checked_fixture(tc, NULL, placement_teardown);
	tcase_set_timeout(tc, 60);
#define PLACEMENT_LOOP(fn) \
	tcase_add_loop_test(tc, fn, 0, (int)(sizeof(placement_cases) / sizeof(placement_cases[0])))
	PLACEMENT_LOOP(test_bar_mmap_without_fixed_gets_1g_leaves_only_with_mapping_order_hint);
	PLACEMENT_LOOP(test_bar_mmap_without_fixed_is_congruent_to_offset_mod_2m);
	PLACEMENT_LOOP(test_bar_mmap_odd_length_is_page_aligned_without_mapping_order_hint);
	PLACEMENT_LOOP(test_bar_mmap_hint_is_taken_as_is);
	PLACEMENT_LOOP(test_bar_mmap_fixed_into_aligned_reservation_gets_1g_leaves_everywhere);
#undef PLACEMENT_LOOP
	suite_add_tcase(s, tc);

	tc = dev_tcase(s, "decode");
	tcase_add_test(tc, test_decode_off_fault_is_sigbus_and_fixup_efault);
	tcase_add_test(tc, test_decode_off_zaps_every_leaf_in_every_process);
	tcase_add_test(tc, test_decode_off_during_fault_waits_then_zaps_new_entry);
	tcase_add_test(tc, test_decode_on_write_does_not_zap);
	tcase_add_test(tc, test_zap_bars_leaves_other_devices_alone);
	tcase_add_test(tc, test_reset_zaps_and_refault_works);

	return s;
}
