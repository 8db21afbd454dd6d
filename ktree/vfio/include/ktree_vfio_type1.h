/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Between the two halves of the tree's type1 (no kernel names here, so that
 * both can include it):
 *  - ktree/vfio/ktree_vfio_type1_wrap.c #includes the tree's
 *    drivers/vfio/vfio_iommu_type1.c (its static functions and structs are
 *    visible only there) and exports its driver ops and the observations
 *    that need its structs (number of vfio_dma, dma_avail, the vfio_dma of
 *    an iova);
 *  - ktree/ktree_vfio_type1.c is the backend table of
 *    lib/vfio_iommu_driver.h (it includes lib/vfio.h, whose
 *    vfio_iommu_type1_* prototypes clash with the tree's static functions
 *    of the same names), keeps the statistics and the groups.
 * The shim's wrappers (ktree_vfio_shim.h) count into the statistics of the
 * call in progress through ktree_type1_count().
 */
#ifndef KTREE_VFIO_TYPE1_H
#define KTREE_VFIO_TYPE1_H

#include <stdbool.h>
#include <stdint.h>

struct iommu_group;
struct iommu_domain;
struct mm_struct;
struct mutex;

/* ---- the tree's driver, from the wrapper TU ---- */

/* vfio_iommu_type1_init() (the file's module_init) ran and registered its ops. */
bool ktree_type1_registered(void);
/* The tree's ops->open(): 0 with *data set, or -errno (IS_ERR). */
int ktree_type1_open(unsigned long arg, void **data);
void ktree_type1_release(void *data);
long ktree_type1_ioctl(void *data, unsigned int cmd, unsigned long arg);
int ktree_type1_attach_group(void *data, struct iommu_group *group, bool emulated);
void ktree_type1_detach_group(void *data, struct iommu_group *group);
/* ops->group_iommu_domain(): NULL for its ERR_PTR(-ENODEV). */
struct iommu_domain *ktree_type1_group_domain(void *data, struct iommu_group *group);
unsigned int ktree_type1_nr_dmas(void *data);
unsigned int ktree_type1_dma_avail(void *data);
/*
 * A group object the tree's iommu_group_for_each_dev() finds one device
 * of the PCI bus in (the shim's struct device), behind @iommu_unit.
 */
struct iommu_group *ktree_type1_group_alloc(int id, int iommu_unit);
void ktree_type1_group_free(struct iommu_group *group);
/*
 * What the shim's iommu_paging_domain_alloc() gives a new domain: page
 * sizes, and the last iova of its geometry (pinsim's configuration).
 */
extern uint64_t ktree_iommu_pgsize_bitmap;
extern uint64_t ktree_iommu_aperture_end;
/* The module parameters of the file (its static variables). */
void ktree_type1_set_params(unsigned int dma_entry_limit, bool disable_hugepages,
			    bool allow_unsafe_interrupts);

/* ---- statistics of the call in progress, from the adapter ---- */

enum ktree_type1_counter {
	KTREE_VADDR_GET_PFNS,	/* vaddr_get_pfns() entries (its mmap_read_lock()) */
	KTREE_GUP_CALLS,	/* pin_user_pages_remote() from vaddr_get_pfns() */
	KTREE_FOLLOW_FAILURES,	/* follow_pfnmap_start() != 0 in follow_fault_pfn() */
	KTREE_FAULTS,		/* fixup_user_fault() from follow_fault_pfn() */
	KTREE_EAGAIN_LOOPS,	/* vaddr_get_pfns()'s goto retry (a second vma_lookup()) */
	KTREE_IOMMU_MAPS,	/* vfio_iommu_map() calls (its first iommu_map()) */
	KTREE_PINNED_PAGES,	/* RAM pages of the runs vfio_iommu_map() maps */
	KTREE_PFNMAP_PAGES,	/* reserved/MMIO pfns of those runs */
	KTREE_UNPIN_CALLS,	/* unpin_user_pages_dirty_lock() / _range_ calls */
};

/*
 * Count @n into the container whose call is running on this thread (the
 * adapter sets it around every call into the tree's ops); per-MAP_DMA
 * counters only during a MAP_DMA, as pinsim's type1 counts.
 */
void ktree_type1_count(enum ktree_type1_counter c, unsigned long n);

/*
 * SP_PIN_BETWEEN_RUNS for the run [iova, iova + size) vfio_iommu_map() has
 * just mapped into the last domain of the container in progress (the
 * wrapper TU finds the vfio_dma and its vaddr).
 */
void ktree_type1_between_runs(uint64_t iova, uint64_t size);
/* The tree's container (ops->open() data) whose call runs on this thread. */
void ktree_type1_set_current(void *data);

/*
 * ---- the per-mm locked_vm ledger (lib/locked_vm_ledger.h), checker only ----
 * The pages the live mappings of the container owned by @mm are charged
 * for, from its IOMMU domain (the caller holds or has checked the lock);
 * the container's lock; its mappings' owners, mmgrab()bed (at release).
 */
unsigned long ktree_type1_charged_pages(void *data, struct mm_struct *mm);
struct mutex *ktree_type1_lock(void *data);
unsigned int ktree_type1_dma_owners(void *data, struct mm_struct **mms, unsigned int max);
/* lib/vfio_iommu_type1.c (declared in lib/locked_vm_ledger.h too). */
unsigned long locked_vm_iommu_pages(struct iommu_domain *domain, uint64_t iova, uint64_t size);
unsigned int locked_vm_ledger_add_owner(struct mm_struct **mms, unsigned int nr,
					struct mm_struct *mm);

#endif /* KTREE_VFIO_TYPE1_H */
