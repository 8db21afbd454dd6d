// SPDX-License-Identifier: GPL-2.0-only
/*
 * The code under study from the inside: follow_pfnmap_start() in its
 * versions (checklist 45-47) and follow_fault_pfn()'s retry policies, with
 * the zap injected at the schedule point between fixup_user_fault() and the
 * second follow_pfnmap_start() — the window of seeds/01 and seeds/03.
 */
#include <linux/vfio.h>
#include <sys/mman.h>

#include "harness.h"
#include "iommu.h"
#include "sched_point.h"
#include "vfio.h"
#include "vfio_pci.h"

#define BAR_SIZE (2 * GiB)
#define BAR_VA 0x7f0000000000UL
#define BAR_IOVA 0x20000000000UL

static struct vfio_pci_core_device *vdev;
static struct mm_struct *mm;
static struct vfio_iommu *iommu;

static void bar_setup(void)
{
	uint64_t bars[PCI_STD_NUM_BARS] = { BAR_SIZE };
	unsigned long va;

	tm_setup();
	vfio_type1_config_init(&vfio_type1_cfg);
	memset(&iommu_stats, 0, sizeof(iommu_stats));
	ck_assert_int_eq(vfio_pci_device_create("gpu", bars, &vdev), 0);
	mm = tm_mm("vmm");
	atomic_store(&mm->owner->signal->cap_ipc_lock, true);
	va = vm_mmap(mm, &vdev->file, BAR_VA, BAR_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_FIXED, VFIO_PCI_INDEX_TO_OFFSET(0) >> PAGE_SHIFT);
	ck_assert_uint_eq(va, BAR_VA);
	ck_assert_int_eq(vfio_iommu_type1_open(VFIO_TYPE1v2_IOMMU, &iommu), 0);
	ck_assert_int_eq(vfio_iommu_type1_attach_group(iommu, vdev->id, 0, false), 0);
}

static void bar_teardown(void)
{
	sched_point_disarm_all();
	if (iommu)
		vfio_iommu_type1_release(iommu);
	iommu = NULL;
	tm_teardown();
}

static long map_bar(uint64_t size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = BAR_VA,
		.iova = BAR_IOVA,
		.size = size,
	};

	return vfio_iommu_type1_ioctl(iommu, VFIO_IOMMU_MAP_DMA, &map);
}

static struct vfio_type1_stats stats(void)
{
	struct vfio_type1_stats st;

	vfio_iommu_type1_get_stats(iommu, &st);
	return st;
}

/* Nothing of a failed MAP_DMA remains: no dma, no IOMMU leaf, avail restored. */
static void assert_no_trace(void)
{
	ck_assert_uint_eq(vfio_iommu_nr_dmas(iommu), 0);
	ck_assert_uint_eq(vfio_iommu_dma_avail(iommu), vfio_type1_cfg.dma_entry_limit);
	ck_assert_ptr_nonnull(vfio_iommu_group_domain(iommu, vdev->id));
	ck_assert_uint_eq(iommu_nr_leaves(vfio_iommu_group_domain(iommu, vdev->id)), 0);
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 0);
	ck_assert_uint_eq(sim_oops_count(), 0);
}

/* ---------------- follow_pfnmap_start() ---------------- */

static void fault_in(unsigned long addr)
{
	bool unlocked = false;

	mmap_read_lock(mm);
	ck_assert_int_eq(fixup_user_fault(mm, addr, 0, &unlocked), 0);
	mmap_read_unlock(mm);
}

START_TEST(test_follow_pfnmap_pud_leaf_holds_page_table_lock_exact_pfn)
{
	unsigned long addr = BAR_VA + 5 * PAGE_SIZE + 123;
	struct follow_pfnmap_args args = { .address = addr };

	fault_in(addr);
	mmap_read_lock(mm);
	args.vma = vma_lookup(mm, addr);
	ck_assert_int_eq(follow_pfnmap_start(&args), 0);
	ck_assert_ptr_eq(args.lock, &mm->page_table_lock);
	ck_assert(spin_is_held_by_me(&mm->page_table_lock));
	ck_assert_ptr_null(args.ptep);
	ck_assert_uint_eq(args.addr_mask, PUD_MASK);
	ck_assert_uint_eq(args.pfn, vdev->bar[0].pfn + 5);
	ck_assert(args.special);
	/* write=false at insert; writable from vm_page_prot of a shared RW VMA (ref §4.2) */
	ck_assert(args.writable);
	follow_pfnmap_end(&args);
	ck_assert(!spin_is_locked(&mm->page_table_lock));
	mmap_read_unlock(mm);
}
END_TEST

START_TEST(test_follow_pfnmap_pmd_and_pte_leaves_hold_their_level_lock)
{
	struct follow_pfnmap_args args = { 0 };
	unsigned long addr = BAR_VA + PUD_SIZE + PMD_SIZE + 3 * PAGE_SIZE;
	pmd_t *pmd;

	tm->cfg.max_bar_fault_order = PMD_ORDER;
	fault_in(addr);
	mmap_read_lock(mm);
	args.vma = vma_lookup(mm, addr);
	args.address = addr;
	ck_assert_int_eq(follow_pfnmap_start(&args), 0);
	ck_assert_uint_eq(args.addr_mask, PMD_MASK);
	pmd = pmd_offset(pud_offset(pgd_offset(mm, addr), addr), addr);
	ck_assert_ptr_eq(args.lock, pmd_lockptr(mm, pmd));
	ck_assert(spin_is_held_by_me(args.lock));
	ck_assert_uint_eq(args.pfn, vdev->bar[0].pfn + ((PUD_SIZE + PMD_SIZE) >> PAGE_SHIFT) + 3);
	follow_pfnmap_end(&args);
	ck_assert(!spin_is_locked(pmd_lockptr(mm, pmd)));
	mmap_read_unlock(mm);

	tm->cfg.max_bar_fault_order = 0;
	addr += PMD_SIZE;
	fault_in(addr);
	mmap_read_lock(mm);
	args = (struct follow_pfnmap_args){ .vma = vma_lookup(mm, addr), .address = addr };
	ck_assert_int_eq(follow_pfnmap_start(&args), 0);
	ck_assert_uint_eq(args.addr_mask, PAGE_MASK);
	ck_assert_ptr_nonnull(args.ptep);
	ck_assert(spin_is_held_by_me(args.lock));
	ck_assert(!spin_is_locked(&mm->page_table_lock));
	follow_pfnmap_end(&args);
	ck_assert(!spin_is_locked(args.lock));
	mmap_read_unlock(mm);
}
END_TEST

START_TEST(test_follow_pfnmap_invalid_and_not_present_errors_hold_nothing)
{
	unsigned long anon = vm_mmap(mm, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	struct follow_pfnmap_args args = { 0 };

	mmap_read_lock(mm);
	/* Not VM_IO|VM_PFNMAP: -EINVAL in both versions. */
	args = (struct follow_pfnmap_args){ .vma = vma_lookup(mm, anon), .address = anon };
	ck_assert_int_eq(follow_pfnmap_start(&args), -EINVAL);
	/* Outside the VMA. */
	args = (struct follow_pfnmap_args){ .vma = vma_lookup(mm, BAR_VA), .address = anon };
	ck_assert_int_eq(follow_pfnmap_start(&args), -EINVAL);
	/* Not present: -EINVAL (upstream) or -ENOENT (seeds/03 proposal). */
	args = (struct follow_pfnmap_args){ .vma = vma_lookup(mm, BAR_VA), .address = BAR_VA };
	ck_assert_int_eq(follow_pfnmap_start(&args), -EINVAL);
	vfio_type1_cfg.follow_pfnmap_enoent = true;
	ck_assert_int_eq(follow_pfnmap_start(&args), -ENOENT);
	args = (struct follow_pfnmap_args){ .vma = vma_lookup(mm, anon), .address = anon };
	ck_assert_int_eq(follow_pfnmap_start(&args), -EINVAL);
	ck_assert(!spin_is_locked(&mm->page_table_lock));
	ck_assert_int_eq(current->nr_held, 1);	/* only mmap_lock */
	mmap_read_unlock(mm);
}
END_TEST

/* Zap the BAR (as a decode toggle would) between the lockless read and the lock. */
static void zap_bar(enum sched_point_id id, struct mm_struct *m, unsigned long addr, void *priv)
{
	int *left = priv;

	if (*left == 0)
		return;
	if (*left > 0)
		(*left)--;
	vfio_pci_zap_bars(vdev);
}

START_TEST(test_follow_pfnmap_recheck_catches_leaf_zapped_before_lock)
{
	struct follow_pfnmap_args args = { 0 };
	int once = 1;

	fault_in(BAR_VA);
	mmap_read_lock(mm);
	args = (struct follow_pfnmap_args){ .vma = vma_lookup(mm, BAR_VA), .address = BAR_VA };
	sched_point_arm(SP_FOLLOW_PFNMAP_LOCKLESS, zap_bar, &once);
	ck_assert_int_eq(follow_pfnmap_start(&args), -EINVAL);
	ck_assert(!spin_is_locked(&mm->page_table_lock));
	mmap_read_unlock(mm);
}
END_TEST

START_TEST(test_follow_pfnmap_without_recheck_reports_a_zapped_leaf)
{
	struct follow_pfnmap_args args = { 0 };
	int once = 1;

	vfio_type1_cfg.follow_pfnmap_recheck = false;	/* before ffef67b93aa3 */
	fault_in(BAR_VA);
	mmap_read_lock(mm);
	args = (struct follow_pfnmap_args){ .vma = vma_lookup(mm, BAR_VA), .address = BAR_VA };
	sched_point_arm(SP_FOLLOW_PFNMAP_LOCKLESS, zap_bar, &once);
	/* The stale lockless value is trusted: success for an entry that is gone. */
	ck_assert_int_eq(follow_pfnmap_start(&args), 0);
	ck_assert_uint_eq(args.pfn, vdev->bar[0].pfn);
	ck_assert_int_eq(pgtable_lookup(mm, BAR_VA, NULL, NULL), PGTABLE_NONE);
	follow_pfnmap_end(&args);
	mmap_read_unlock(mm);
}
END_TEST

/* ---------------- the retry policies ---------------- */

START_TEST(test_fast_path_bar_map_one_call_per_pud_leaf_no_failures)
{
	struct vfio_type1_stats st;

	fault_in(BAR_VA);
	fault_in(BAR_VA + PUD_SIZE);
	ck_assert_int_eq(map_bar(BAR_SIZE), 0);
	st = stats();
	ck_assert_uint_eq(st.last.vaddr_get_pfns, 2);
	ck_assert_uint_eq(st.last.follow_failures, 0);
	ck_assert_uint_eq(st.last.faults, 0);
	ck_assert_uint_eq(st.last.iommu_maps, 1);
	ck_assert_uint_eq(st.last.pfnmap_pages, BAR_SIZE >> PAGE_SHIFT);
	ck_assert_uint_eq(st.last.pinned_pages, 0);
	ck_assert_uint_eq(iommu_leaf_size(vfio_iommu_group_domain(iommu, vdev->id), BAR_IOVA),
			  PUD_SIZE);
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 0);	/* MMIO is never charged */
}
END_TEST

START_TEST(test_legacy_policy_zap_after_fault_is_einval_with_nothing_left)
{
	int once = 1;

	sched_point_arm(SP_FOLLOW_FAULT_AFTER_FIXUP, zap_bar, &once);
	ck_assert_int_eq(map_bar(BAR_SIZE), -EINVAL);
	ck_assert_uint_eq(stats().last.retries, 0);
	ck_assert_uint_eq(stats().outcomes[VFIO_MAP_EINVAL], 1);
	assert_no_trace();
}
END_TEST

START_TEST(test_eagain_policy_retries_and_maps_the_bar)
{
	struct vfio_type1_stats st;
	int once = 1;

	vfio_type1_cfg.retry_policy = VFIO_RETRY_EAGAIN;
	sched_point_arm(SP_FOLLOW_FAULT_AFTER_FIXUP, zap_bar, &once);
	ck_assert_int_eq(map_bar(BAR_SIZE), 0);
	st = stats();
	ck_assert_uint_eq(st.last.retries, 1);
	ck_assert_uint_eq(st.last.eagain_loops, 1);
	ck_assert_uint_eq(iommu_iova_to_phys(vfio_iommu_group_domain(iommu, vdev->id),
					     BAR_IOVA + PUD_SIZE + 8192),
			  ((uint64_t)vdev->bar[0].pfn << PAGE_SHIFT) + PUD_SIZE + 8192);
}
END_TEST

START_TEST(test_eagain_policy_is_unbounded_under_a_long_adversary)
{
	int rounds = 200;

	vfio_type1_cfg.retry_policy = VFIO_RETRY_EAGAIN;
	sched_point_arm(SP_FOLLOW_FAULT_AFTER_FIXUP, zap_bar, &rounds);
	ck_assert_int_eq(map_bar(PUD_SIZE), 0);
	ck_assert_uint_eq(stats().last.retries, 200);
}
END_TEST

START_TEST(test_bounded_policy_gives_ebusy_after_n_rounds_with_nothing_left)
{
	int forever = -1;

	vfio_type1_cfg.retry_policy = VFIO_RETRY_BOUNDED;
	vfio_type1_cfg.retry_bound = 3;
	sched_point_arm(SP_FOLLOW_FAULT_AFTER_FIXUP, zap_bar, &forever);
	ck_assert_int_eq(map_bar(BAR_SIZE), -EBUSY);
	ck_assert_uint_eq(stats().last.retries, 3);
	ck_assert_uint_eq(stats().last.follow_failures, 8);	/* 4 rounds x (first + second) */
	assert_no_trace();
}
END_TEST

START_TEST(test_enoent_policy_retries_only_enoent_and_maps)
{
	int once = 1;

	vfio_type1_cfg.retry_policy = VFIO_RETRY_ENOENT;
	vfio_type1_cfg.follow_pfnmap_enoent = true;
	sched_point_arm(SP_FOLLOW_FAULT_AFTER_FIXUP, zap_bar, &once);
	ck_assert_int_eq(map_bar(BAR_SIZE), 0);
	ck_assert_uint_eq(stats().last.retries, 1);
}
END_TEST

START_TEST(test_enoent_policy_with_single_error_kernel_is_legacy)
{
	int once = 1;

	vfio_type1_cfg.retry_policy = VFIO_RETRY_ENOENT;
	vfio_type1_cfg.follow_pfnmap_enoent = false;	/* -EINVAL for everything */
	sched_point_arm(SP_FOLLOW_FAULT_AFTER_FIXUP, zap_bar, &once);
	ck_assert_int_eq(map_bar(BAR_SIZE), -EINVAL);
	assert_no_trace();
}
END_TEST

struct kill_after {
	int zaps;
	struct task_struct *victim;
};

static void zap_then_kill(enum sched_point_id id, struct mm_struct *m, unsigned long addr,
			  void *priv)
{
	struct kill_after *k = priv;

	vfio_pci_zap_bars(vdev);
	if (--k->zaps == 0)
		send_sig_kill(k->victim);
}

START_TEST(test_enoent_policy_lockstep_adversary_ends_with_eintr_when_killed)
{
	struct kill_after k = { 50, NULL };
	unsigned long resched;

	k.victim = current;
	vfio_type1_cfg.retry_policy = VFIO_RETRY_ENOENT;
	vfio_type1_cfg.follow_pfnmap_enoent = true;
	sched_point_arm(SP_FOLLOW_FAULT_AFTER_FIXUP, zap_then_kill, &k);
	resched = current->nr_resched;
	ck_assert_int_eq(map_bar(BAR_SIZE), -EINTR);
	ck_assert_uint_eq(stats().last.retries, 49);
	ck_assert_uint_ge(current->nr_resched - resched, 50);	/* one per round at least */
	assert_no_trace();
}
END_TEST

START_TEST(test_fixup_dropping_mmap_lock_restarts_from_vma_lookup)
{
	atomic_store(&mm->inject_fault_retry, 1);
	ck_assert_int_eq(map_bar(PUD_SIZE), 0);
	ck_assert_uint_eq(stats().last.eagain_loops, 1);	/* *unlocked → -EAGAIN */
	ck_assert_uint_eq(stats().last.retries, 0);		/* not a policy retry */
}
END_TEST

START_TEST(test_pre_615_per_page_lookup_without_addr_mask_batching)
{
	vfio_type1_cfg.addr_mask_batching = false;
	ck_assert_int_eq(map_bar(4 * MiB), 0);
	ck_assert_uint_eq(stats().last.vaddr_get_pfns, 1024);
	ck_assert_uint_eq(stats().last.iommu_maps, 1);	/* still one contiguous run */
}
END_TEST

START_TEST(test_decode_off_bar_map_is_efault)
{
	vfio_pci_write_command(vdev, 0);
	ck_assert_int_eq(map_bar(BAR_SIZE), -EFAULT);
	ck_assert_uint_eq(stats().outcomes[VFIO_MAP_EFAULT], 1);
	assert_no_trace();
}
END_TEST

/* ---- checklist items only an internal test can reach ---- */

static int remap_ram_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long pfn = *(unsigned long *)file->private_data;

	return remap_pfn_range(vma, vma->vm_start, pfn, vma->vm_end - vma->vm_start,
			       vma->vm_page_prot);
}

START_TEST(test_item19_pfnmap_of_valid_ram_is_efault)
{
	static const struct file_operations fops = { .mmap = remap_ram_mmap };
	struct folio *folio = folio_alloc(0, PGTY_kernel);
	unsigned long pfn = folio_pfn(folio), va;
	struct address_space as = { 0 };
	struct file f = { .f_op = &fops, .f_mapping = &as, .private_data = &pfn };
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ, .iova = 0, .size = PAGE_SIZE,
	};

	init_rwsem(&as.i_mmap_rwsem, "i_mmap_rwsem");
	/* A driver remapping an ordinary RAM page into user space (VM_PFNMAP). */
	va = vm_mmap(mm, &f, 0, PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
	ck_assert(!IS_ERR_VALUE(va));
	map.vaddr = va;
	ck_assert_int_eq(vfio_iommu_type1_ioctl(iommu, VFIO_IOMMU_MAP_DMA, &map), -EFAULT);
	ck_assert_int_eq(folio_ref_count(folio), 1);	/* never pinned */
	assert_no_trace();
	ck_assert_int_eq(vm_munmap(mm, va, PAGE_SIZE), 0);
}
END_TEST

START_TEST(test_item26_map_without_iommu_domain_records_full_size_pins_nothing)
{
	struct vfio_iommu *emu;
	unsigned long va = vm_mmap(mm, NULL, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, 0);
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = va, .iova = 0, .size = 4 * PAGE_SIZE,
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = 0, .size = 4 * PAGE_SIZE,
	};

	ck_assert_int_eq(vfio_iommu_type1_open(VFIO_TYPE1v2_IOMMU, &emu), 0);
	ck_assert_int_eq(vfio_iommu_type1_attach_group(emu, 99, 0, true), 0);
	ck_assert_int_eq(vfio_iommu_type1_ioctl(emu, VFIO_IOMMU_MAP_DMA, &map), 0);
	ck_assert_uint_eq(vfio_iommu_nr_dmas(emu), 1);
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 0);
	ck_assert_int_eq(pgtable_lookup(mm, va, NULL, NULL), PGTABLE_NONE);	/* not even faulted */
	ck_assert_int_eq(vfio_iommu_type1_ioctl(emu, VFIO_IOMMU_UNMAP_DMA, &unmap), 0);
	ck_assert_uint_eq(unmap.size, 4 * PAGE_SIZE);	/* the full size was recorded */
	vfio_iommu_type1_release(emu);
}
END_TEST

START_TEST(test_item30_unmap_vaddr_with_emulated_group_is_ebusy)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .flags = VFIO_DMA_UNMAP_FLAG_VADDR,
		.iova = BAR_IOVA, .size = PUD_SIZE,
	};

	ck_assert_int_eq(map_bar(PUD_SIZE), 0);
	ck_assert_int_eq(vfio_iommu_type1_ioctl(iommu, VFIO_CHECK_EXTENSION,
						(void *)VFIO_UPDATE_VADDR), 1);
	ck_assert_int_eq(vfio_iommu_type1_attach_group(iommu, 99, 0, true), 0);
	ck_assert_int_eq(vfio_iommu_type1_ioctl(iommu, VFIO_CHECK_EXTENSION,
						(void *)VFIO_UPDATE_VADDR), 0);
	ck_assert_int_eq(vfio_iommu_type1_ioctl(iommu, VFIO_IOMMU_UNMAP_DMA, &unmap), -EBUSY);
	ck_assert_uint_eq(vfio_iommu_nr_dmas(iommu), 1);	/* nothing invalidated */
	vfio_iommu_type1_detach_group(iommu, 99);
	ck_assert_int_eq(vfio_iommu_type1_ioctl(iommu, VFIO_IOMMU_UNMAP_DMA, &unmap), 0);
	ck_assert_uint_eq(unmap.size, PUD_SIZE);
}
END_TEST

START_TEST(test_last_group_leaving_removes_every_mapping_and_unpins)
{
	unsigned long va = vm_mmap(mm, NULL, 0, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, 0), pfn;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = va, .iova = 0, .size = 8 * PAGE_SIZE,
	};

	ck_assert_int_eq(vfio_iommu_type1_ioctl(iommu, VFIO_IOMMU_MAP_DMA, &map), 0);
	ck_assert_int_eq(map_bar(PUD_SIZE), 0);
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 8);
	ck_assert_int_eq(pgtable_lookup(mm, va, &pfn, NULL), PGTABLE_PTE);
	ck_assert_int_eq(page_ref_count(pfn_to_page(pfn)), 1 + GUP_PIN_COUNTING_BIAS);
	/* vfio_iommu_unmap_unpin_all(): the dmas go, not only their IOMMU entries. */
	vfio_iommu_type1_detach_group(iommu, vdev->id);
	ck_assert_uint_eq(vfio_iommu_nr_dmas(iommu), 0);
	ck_assert_uint_eq(vfio_iommu_dma_avail(iommu), vfio_type1_cfg.dma_entry_limit);
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 0);
	ck_assert_int_eq(page_ref_count(pfn_to_page(pfn)), 1);
	ck_assert_ptr_null(vfio_iommu_group_domain(iommu, vdev->id));
}
END_TEST

/*
 * The vfio_dma set is a red-black tree (rebalanced on every insert and
 * erase): thousands of maps and unmaps in a random order, checked against
 * a shadow of which slots are mapped.  Unmaps of ranges of slots exercise
 * vfio_find_dma_first_node() and rb_next() across removals; single-slot
 * MAPs onto mapped slots exercise vfio_find_dma() (-EEXIST).
 */
START_TEST(test_dma_set_random_maps_and_unmaps_agree_with_a_shadow)
{
	enum { SLOTS = 3000 };
	static bool mapped[SLOTS];
	struct vfio_iommu *emu;
	unsigned long nr = 0;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	memset(mapped, 0, sizeof(mapped));
	ck_assert_int_eq(vfio_iommu_type1_open(VFIO_TYPE1v2_IOMMU, &emu), 0);
	ck_assert_int_eq(vfio_iommu_type1_attach_group(emu, 99, 0, true), 0);
	for (int op = 0; op < 40000; op++) {
		unsigned int slot, len;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		slot = (unsigned int)(x % SLOTS);
		len = (unsigned int)((x >> 32) % 8) + 1;
		if ((x >> 40) % 3) {
			struct vfio_iommu_type1_dma_map map = {
				.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ,
				.vaddr = 0x100000, .iova = (uint64_t)slot * 2 * PAGE_SIZE,
				.size = PAGE_SIZE,
			};
			long ret = vfio_iommu_type1_ioctl(emu, VFIO_IOMMU_MAP_DMA, &map);

			ck_assert_int_eq(ret, mapped[slot] ? -EEXIST : 0);
			nr += !mapped[slot];
			mapped[slot] = true;
		} else {
			/* Whole slots: [slot, slot + len) never bisects a mapping. */
			struct vfio_iommu_type1_dma_unmap unmap = {
				.argsz = sizeof(unmap), .iova = (uint64_t)slot * 2 * PAGE_SIZE,
				.size = (uint64_t)len * 2 * PAGE_SIZE,
			};
			uint64_t expect = 0;

			for (unsigned int i = slot; i < slot + len && i < SLOTS; i++) {
				expect += mapped[i] ? PAGE_SIZE : 0;
				nr -= mapped[i];
				mapped[i] = false;
			}
			ck_assert_int_eq(vfio_iommu_type1_ioctl(emu, VFIO_IOMMU_UNMAP_DMA, &unmap), 0);
			ck_assert_uint_eq(unmap.size, expect);
		}
		ck_assert_uint_eq(vfio_iommu_nr_dmas(emu), nr);
	}
	vfio_iommu_type1_release(emu);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("vfio_type1");
	TCase *tc = tcase_create("follow_pfnmap");

	tcase_add_checked_fixture(tc, bar_setup, bar_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_follow_pfnmap_pud_leaf_holds_page_table_lock_exact_pfn);
	tcase_add_test(tc, test_follow_pfnmap_pmd_and_pte_leaves_hold_their_level_lock);
	tcase_add_test(tc, test_follow_pfnmap_invalid_and_not_present_errors_hold_nothing);
	tcase_add_test(tc, test_follow_pfnmap_recheck_catches_leaf_zapped_before_lock);
	tcase_add_test(tc, test_follow_pfnmap_without_recheck_reports_a_zapped_leaf);

	tc = tcase_create("retry");
	tcase_add_checked_fixture(tc, bar_setup, bar_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_fast_path_bar_map_one_call_per_pud_leaf_no_failures);
	tcase_add_test(tc, test_legacy_policy_zap_after_fault_is_einval_with_nothing_left);
	tcase_add_test(tc, test_eagain_policy_retries_and_maps_the_bar);
	tcase_add_test(tc, test_eagain_policy_is_unbounded_under_a_long_adversary);
	tcase_add_test(tc, test_bounded_policy_gives_ebusy_after_n_rounds_with_nothing_left);
	tcase_add_test(tc, test_enoent_policy_retries_only_enoent_and_maps);
	tcase_add_test(tc, test_enoent_policy_with_single_error_kernel_is_legacy);
	tcase_add_test(tc, test_enoent_policy_lockstep_adversary_ends_with_eintr_when_killed);
	tcase_add_test(tc, test_fixup_dropping_mmap_lock_restarts_from_vma_lookup);
	tcase_add_test(tc, test_pre_615_per_page_lookup_without_addr_mask_batching);
	tcase_add_test(tc, test_decode_off_bar_map_is_efault);

	tc = tcase_create("checklist");
	tcase_add_checked_fixture(tc, bar_setup, bar_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_item19_pfnmap_of_valid_ram_is_efault);
	tcase_add_test(tc, test_item26_map_without_iommu_domain_records_full_size_pins_nothing);
	tcase_add_test(tc, test_item30_unmap_vaddr_with_emulated_group_is_ebusy);
	tcase_add_test(tc, test_last_group_leaving_removes_every_mapping_and_unpins);
	tcase_add_test(tc, test_dma_set_random_maps_and_unmaps_agree_with_a_shadow);
	return s;
}
