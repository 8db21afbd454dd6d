// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vfio-pci BAR provider: drivers/vfio/pci/vfio_pci_core.c (mmap, the
 * fault handlers, the zap) and the PCI_COMMAND/power-state gate of
 * drivers/vfio/pci/vfio_pci_config.c, as of 948b71aa81cd (ref §4).
 *
 * What is modelled: BARs as naturally aligned MMIO ranges, the region-offset
 * mmap (index << 40) with the kernel's -EINVAL checks in the kernel's order,
 * lazily faulted VM_IO|VM_PFNMAP entries at the order core mm asks for, the
 * memory_lock that orders faults against decode-off and reset, and the zap
 * through the device's own address_space that reaches every process.
 *
 * Left out, on purpose:
 *  - device-specific regions (vdev->num_regions == 0 here), so any index at or
 *    above VFIO_PCI_NUM_REGIONS is -EINVAL at the first check;
 *  - sub-page BARs (the kernel maps them through a dummy page reservation);
 *    vfio_pci.h only admits power-of-two BARs of at least PAGE_SIZE;
 *  - I/O-port BARs, the ROM, VGA and the config-space virtualisation beyond
 *    PCI_COMMAND's MEMORY bit;
 *  - power states: the device is always D0, so the "current_state <
 *    PCI_D3hot" half of __vfio_pci_memory_enabled() is always true;
 *  - the dma-buf export of BARs and its revoke path.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "machine.h"
#include "mm.h"
#include "sched_point.h"
#include "vfio_pci.h"

/* ------------------------------------------------------------------------ */
/* Config space: PCI_COMMAND                                                */
/* ------------------------------------------------------------------------ */

/* vconfig is little-endian, as PCI config space is. */
static uint16_t vconfig_read_command(const struct vfio_pci_core_device *vdev)
{
	return (uint16_t)(vdev->vconfig[SIM_PCI_COMMAND] |
			  (vdev->vconfig[SIM_PCI_COMMAND + 1] << 8));
}

static void vconfig_write_command(struct vfio_pci_core_device *vdev, uint16_t cmd)
{
	vdev->vconfig[SIM_PCI_COMMAND] = cmd & 0xff;
	vdev->vconfig[SIM_PCI_COMMAND + 1] = cmd >> 8;
}

/*
 * __vfio_pci_memory_enabled() (vfio_pci_config.c): current_state < D3hot
 * and (no_command_memory or PCI_COMMAND_MEMORY in the virtual command
 * register).  The device is always in D0 here and is never a VF with
 * no_command_memory, so only the MEMORY bit decides.  The kernel reads this
 * with memory_lock held (either mode) by its callers; so do ours.
 */
bool __vfio_pci_memory_enabled(struct vfio_pci_core_device *vdev)
{
	return vconfig_read_command(vdev) & SIM_PCI_COMMAND_MEMORY;
}

/*
 * vfio_pci_zap_and_down_write_memory_lock(): memory_lock for write first,
 * then the zap, so that no fault can re-insert an entry between the zap and
 * the state change the caller is about to make.
 */
static void vfio_pci_zap_and_down_write_memory_lock(struct vfio_pci_core_device *vdev)
{
	down_write(&vdev->memory_lock);
	vfio_pci_zap_bars(vdev);
}

/*
 * The PCI_COMMAND part of vfio_basic_config_write(): a write with MEMORY
 * clear zaps every BAR mapping under the write lock (even if decode was
 * already off: the kernel does not look at the old value for this), a write
 * with MEMORY set just takes the write lock, so a fault in progress finishes
 * against the old value before the new one is visible.  Simplification: the
 * whole word is stored in vconfig; the kernel's per-bit virtualisation and
 * the write-through to the physical register are left out.
 */
void vfio_pci_write_command(struct vfio_pci_core_device *vdev, uint16_t cmd)
{
	if (!(cmd & SIM_PCI_COMMAND_MEMORY))
		vfio_pci_zap_and_down_write_memory_lock(vdev);
	else
		down_write(&vdev->memory_lock);
	vconfig_write_command(vdev, cmd);
	up_write(&vdev->memory_lock);
}

/* ------------------------------------------------------------------------ */
/* Zap and reset                                                            */
/* ------------------------------------------------------------------------ */

/*
 * vfio_pci_zap_bars(): every user mapping of BAR0..BAR5, in every process,
 * through the device inode's address_space.  The ROM/config/VGA offsets are
 * not mappable, so the range stops at the ROM region's offset.
 */
void vfio_pci_zap_bars(struct vfio_pci_core_device *vdev)
{
	uint64_t start = VFIO_PCI_INDEX_TO_OFFSET(VFIO_PCI_BAR0_REGION_INDEX);
	uint64_t end = VFIO_PCI_INDEX_TO_OFFSET(VFIO_PCI_ROM_REGION_INDEX);

	unmap_mapping_range(&vdev->mapping, start, end - start, true);
	atomic_fetch_add_explicit(&vdev->nr_zaps, 1, memory_order_relaxed);
}

/*
 * VFIO_DEVICE_RESET (vfio_pci_ioctl_reset): zap and take memory_lock for
 * write, pci_try_reset_function(), unlock.
 *
 * Decode after the reset: the kernel's function reset saves config space
 * before and restores it after (pci_dev_save_and_disable/pci_dev_restore),
 * and the ioctl does not touch vconfig, so the virtual PCI_COMMAND the user
 * sees is what it was before the reset.  We therefore leave vconfig as it
 * is: with decode on, the next access refaults at PUD/PMD/PTE order; with
 * decode off it keeps getting SIGBUS.  The reset itself cannot fail here
 * (no reset_works == false devices, no dev_set locking to contend), so the
 * result is 0.
 */
int vfio_pci_core_reset(struct vfio_pci_core_device *vdev)
{
	vfio_pci_zap_and_down_write_memory_lock(vdev);
	/* pci_try_reset_function(): nothing observable to do for the model. */
	up_write(&vdev->memory_lock);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Faults                                                                   */
/* ------------------------------------------------------------------------ */

/* The low bits of vm_pgoff are the page offset within the region. */
#define VFIO_PCI_PGOFF_MASK ((1UL << (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT)) - 1)

static unsigned int vma_to_index(const struct vm_area_struct *vma)
{
	return vma->vm_pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
}

/* vma_to_pfn(): pci_resource_start(bar) >> PAGE_SHIFT, plus the region offset. */
static unsigned long vma_to_pfn(struct vm_area_struct *vma)
{
	struct vfio_pci_core_device *vdev = vma->vm_private_data;

	return vdev->bar[vma_to_index(vma)].pfn + (vma->vm_pgoff & VFIO_PCI_PGOFF_MASK);
}

/*
 * is_aligned_for_order() (include/linux/vfio_pci_core.h): order 0 always
 * fits; a huge order needs the aligned-down range inside the VMA and a pfn
 * aligned to the order, else core mm falls back to the next order.
 */
static bool is_aligned_for_order(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
				 unsigned int order)
{
	return !order || (addr >= vma->vm_start && addr + (PAGE_SIZE << order) <= vma->vm_end &&
			  !(pfn & ((1UL << order) - 1)));
}

/*
 * The arch switches stand for CONFIG_ARCH_SUPPORTS_{PMD,PUD}_PFNMAP, whose
 * absence compiles the case out (so the order falls back); the machine's
 * max_bar_fault_order does the same for the "#if 0" debugging patches posted
 * on the list to disable 1G or 2M BAR mappings while chasing a guest that
 * failed with huge pfnmaps of a large GPU BAR 0.
 */
static bool bar_fault_order_enabled(unsigned int order)
{
	const struct machine_config *cfg = &machine->cfg;

	if (order > cfg->max_bar_fault_order)
		return false;
	if (order == PMD_ORDER)
		return cfg->arch_supports_pmd_pfnmap;
	if (order == PUD_ORDER)
		return cfg->arch_supports_pud_pfnmap;
	return order == 0;
}

/*
 * vfio_pci_vmf_insert_pfn(): the insert proper, memory_lock held for read.
 * Decode off or runtime PM engaged is SIGBUS (before the order is looked
 * at, as in the kernel).  Every insert passes write=false: writability comes
 * from vm_page_prot, and a write fault does not mark the entry dirty.
 */
static vm_fault_t vfio_pci_vmf_insert_pfn(struct vfio_pci_core_device *vdev, struct vm_fault *vmf,
					  unsigned long pfn, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;

	/* lockdep_assert_held_read(&vdev->memory_lock) */
	WARN_ON_ONCE(!rwsem_held_by_current(&vdev->memory_lock) ||
		     rwsem_write_held_by_current(&vdev->memory_lock));

	if (vdev->pm_runtime_engaged || !__vfio_pci_memory_enabled(vdev))
		return VM_FAULT_SIGBUS;

	/* The switch's default: an order this build cannot map falls back. */
	if (!bar_fault_order_enabled(order))
		return VM_FAULT_FALLBACK;

	/* The race seam: a zap or a split can only come after we unlock. */
	sched_point(SP_FAULT_BEFORE_INSERT, vma->vm_mm, vmf->address & ~((PAGE_SIZE << order) - 1));

	switch (order) {
	case 0:
		return vmf_insert_pfn(vma, vmf->address, pfn);
	case PMD_ORDER:
		return vmf_insert_pfn_pmd(vmf, pfn, false);
	case PUD_ORDER:
		return vmf_insert_pfn_pud(vmf, pfn, false);
	default:
		return VM_FAULT_FALLBACK;
	}
}

/*
 * vfio_pci_mmap_huge_fault(): align the address down to the order, find the
 * pfn linearly from the VMA start, and insert only if both line up.  The
 * kernel's dev_dbg_ratelimited() trace of every fault is left out.
 */
vm_fault_t vfio_pci_mmap_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vfio_pci_core_device *vdev = vma->vm_private_data;
	unsigned long addr = vmf->address & ~((PAGE_SIZE << order) - 1);
	unsigned long pgoff = (addr - vma->vm_start) >> PAGE_SHIFT;
	unsigned long pfn = vma_to_pfn(vma) + pgoff;
	vm_fault_t ret = VM_FAULT_FALLBACK;

	if (is_aligned_for_order(vma, addr, pfn, order)) {
		down_read(&vdev->memory_lock);
		ret = vfio_pci_vmf_insert_pfn(vdev, vmf, pfn, order);
		up_read(&vdev->memory_lock);
	}
	return ret;
}

vm_fault_t vfio_pci_mmap_page_fault(struct vm_fault *vmf)
{
	return vfio_pci_mmap_huge_fault(vmf, 0);
}

/*
 * vfio_pci_mmap_ops.  The kernel sets .huge_fault only with
 * CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP; here it is always set and the arch
 * switches are looked at per order (bar_fault_order_enabled()), which gives
 * the same fallbacks.
 */
static const struct vm_operations_struct vfio_pci_mmap_ops = {
	.fault = vfio_pci_mmap_page_fault,
	.huge_fault = vfio_pci_mmap_huge_fault,
	.name = "vfio-pci",
};

/* ------------------------------------------------------------------------ */
/* mmap                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * vfio_pci_core_mmap(): the -EINVAL checks in the kernel's order, then the
 * VMA set-up.  Nothing is inserted here; every entry comes from a fault.
 * Bad input leaves the VMA untouched.
 *
 * Left out: vfio_pci_core_setup_barmap() (request_mem_region + pci_iomap;
 * the BAR's host bytes exist from device creation, so it cannot fail),
 * pgprot_decrypted() (no memory encryption) and VM_ALLOW_ANY_UNCACHED
 * (VM_NONE on x86).
 */
int vfio_pci_core_mmap(struct vfio_pci_core_device *vdev, struct vm_area_struct *vma)
{
	unsigned int index = vma_to_index(vma);
	uint64_t phys_len, req_len, req_start;
	struct vfio_pci_bar *bar;

	/* No device-specific regions: NUM_REGIONS + vdev->num_regions(0). */
	if (index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	if (vma->vm_end < vma->vm_start)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* ROM, config and VGA are not mappable. */
	if (index >= VFIO_PCI_ROM_REGION_INDEX)
		return -EINVAL;
	bar = &vdev->bar[index];
	/* bar_mmap_supported[] is false for an absent BAR. */
	if (!bar->mmap_supported)
		return -EINVAL;

	phys_len = (bar->size + PAGE_SIZE - 1) & PAGE_MASK; /* PAGE_ALIGN */
	req_len = vma->vm_end - vma->vm_start;
	req_start = (uint64_t)(vma->vm_pgoff & VFIO_PCI_PGOFF_MASK) << PAGE_SHIFT;
	if (req_start + req_len > phys_len)
		return -EINVAL;

	vma->vm_private_data = vdev;
	/* pgprot_noncached() on x86: cache mode UC- is _PAGE_PCD. */
	vma->vm_page_prot = __pgprot(pgprot_val(vma->vm_page_prot) | _PAGE_PCD);
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_ops = &vfio_pci_mmap_ops;

	/*
	 * Linking into vdev->mapping.i_mmap is core mm's job, as in the kernel
	 * (vma_link_file() after f_op->mmap and the VMA insert succeed, so a
	 * failed mmap never leaves a dangling VMA on the list): sim/mmap.c
	 * does it, and unlinks at munmap.
	 */
	return 0;
}

/* f_op->mmap of the device fd: vfio_device_fops_mmap → ops->mmap. */
static int vfio_pci_fops_mmap(struct file *file, struct vm_area_struct *vma)
{
	return vfio_pci_core_mmap(file->private_data, vma);
}

static const struct file_operations vfio_pci_fops = {
	.mmap = vfio_pci_fops_mmap,
};

/*
 * vfio_pci_core_get_mapping_order() of Peter Xu's unmerged "vfio-pci:
 * Best-effort huge pfnmaps with !MAP_FIXED mappings" (v2, Dec 2025): the
 * largest pfnmap order a mapping of @len bytes at @pgoff can use, from the
 * part of the BAR left after the offset.  Only BARs 0-5; an offset past the
 * BAR gives 0 (the mmap will fail anyway).  It assumes, as the patch does,
 * that the BAR's physical address is aligned like its offset in the device
 * fd (a BAR is naturally aligned, and its region offset is index << 40).
 */
static int vfio_pci_core_get_mapping_order(struct vfio_pci_core_device *vdev,
					   unsigned long pgoff, unsigned long len)
{
	unsigned int index = pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
	uint64_t req_start, phys_len;

	if (index >= VFIO_PCI_ROM_REGION_INDEX)
		return 0;
	req_start = ((uint64_t)pgoff << PAGE_SHIFT) & VFIO_PCI_OFFSET_MASK;
	phys_len = (vdev->bar[index].size + PAGE_SIZE - 1) & PAGE_MASK;
	if (req_start >= phys_len)
		return 0;
	phys_len -= req_start;
	if (len < phys_len)
		phys_len = len;
	if (machine->cfg.arch_supports_pud_pfnmap && phys_len >= PUD_SIZE)
		return PUD_ORDER;
	if (machine->cfg.arch_supports_pmd_pfnmap && phys_len >= PMD_SIZE)
		return PMD_ORDER;
	return 0;
}

int vfio_pci_file_mapping_order(struct file *file, unsigned long pgoff, unsigned long len)
{
	if (!file || file->f_op != &vfio_pci_fops)
		return -1;
	return vfio_pci_core_get_mapping_order(file->private_data, pgoff, len);
}

/* ------------------------------------------------------------------------ */
/* Device lifetime                                                          */
/* ------------------------------------------------------------------------ */

static bool bar_size_valid(uint64_t size)
{
	return !size || (size >= PAGE_SIZE && !(size & (size - 1)));
}

/* Lowest id not in use, so ids stay small and stable while devices live. */
static int vfio_pci_next_id_locked(void)
{
	struct vfio_pci_core_device *d;
	int id = 0;

again:
	for (d = machine->devices; d; d = d->next) {
		if (d->id == id) {
			id++;
			goto again;
		}
	}
	return id;
}

/*
 * Create a device: validate every size first (bad input changes nothing),
 * then place each BAR in MMIO space.  MMIO ranges cannot be given back
 * (mmio_alloc() has no free); they are released with the machine, so a
 * failure half way, or a destroyed device, leaves its ranges unused until
 * then, like address space a hot-removed device leaves in a bridge window.
 */
int vfio_pci_device_create(const char *name, const uint64_t bar_size[PCI_STD_NUM_BARS],
			   struct vfio_pci_core_device **out)
{
	struct vfio_pci_core_device *vdev;
	int i, err;

	if (WARN_ON_ONCE(!machine))
		return -ENODEV;
	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (!bar_size_valid(bar_size[i]))
			return -EINVAL;

	vdev = calloc(1, sizeof(*vdev));
	if (!vdev)
		return -ENOMEM;
	snprintf(vdev->name, sizeof(vdev->name), "%s", name ? name : "vfio-pci");

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct vfio_pci_bar *bar = &vdev->bar[i];

		if (!bar_size[i])
			continue;
		err = mmio_alloc(bar_size[i], &bar->pfn, &bar->bytes);
		if (err)
			goto err_free;
		bar->size = bar_size[i];
		/* vfio_pci_probe_mmaps(): a memory BAR of at least a page. */
		bar->mmap_supported = bar->size >= PAGE_SIZE;
	}

	vconfig_write_command(vdev, SIM_PCI_COMMAND_MEMORY);
	init_rwsem(&vdev->memory_lock, "memory_lock");
	init_rwsem(&vdev->mapping.i_mmap_rwsem, "i_mmap_rwsem");
	vdev->mapping.i_mmap = NULL;
	vdev->file.f_op = &vfio_pci_fops;
	vdev->file.f_mapping = &vdev->mapping;
	vdev->file.private_data = vdev;
	atomic_init(&vdev->file.f_count, 1);
	atomic_init(&vdev->nr_zaps, 0);

	pthread_mutex_lock(&machine->devices_lock);
	vdev->id = vfio_pci_next_id_locked();
	vdev->next = machine->devices;
	machine->devices = vdev;
	machine->nr_devices++;
	pthread_mutex_unlock(&machine->devices_lock);

	*out = vdev;
	return 0;

err_free:
	free(vdev);
	return err;
}

/*
 * Unregister and free.  Every mapping must be gone first (munmap or mm
 * teardown unlinks it): a VMA still on the list would point at freed
 * memory through vm_private_data and vm_file, so that is a WARN and the
 * device is leaked rather than freed.
 */
void vfio_pci_device_destroy(struct vfio_pci_core_device *vdev)
{
	struct vfio_pci_core_device **pp;
	bool mapped;

	if (!vdev)
		return;

	i_mmap_lock_write(&vdev->mapping);
	mapped = vdev->mapping.i_mmap != NULL;
	i_mmap_unlock_write(&vdev->mapping);

	pthread_mutex_lock(&machine->devices_lock);
	for (pp = &machine->devices; *pp; pp = &(*pp)->next) {
		if (*pp == vdev) {
			*pp = vdev->next;
			machine->nr_devices--;
			break;
		}
	}
	pthread_mutex_unlock(&machine->devices_lock);

	if (WARN_ON_ONCE(mapped))
		return;

	destroy_rwsem(&vdev->memory_lock);
	destroy_rwsem(&vdev->mapping.i_mmap_rwsem);
	free(vdev);
}
