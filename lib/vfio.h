/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The code under study: VFIO type1 (drivers/vfio/vfio_iommu_type1.c) and
 * follow_pfnmap_start() (mm/memory.c), with the kernel-version switches and
 * retry policies pinsim compares.  Internal to lib/; the fd front end
 * (vfio_fd.c) and tests use it.
 */
#ifndef LIB_VFIO_H
#define LIB_VFIO_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu.h"
#include "mm.h"

/* ---------------- configuration (set from struct pinsim_config) -------- */

enum vfio_retry_policy {
	VFIO_RETRY_LEGACY = 0,	/* return the error: -EINVAL reaches userspace */
	VFIO_RETRY_EAGAIN,	/* 2026-03-17 patch: -EAGAIN on any failure, unbounded */
	VFIO_RETRY_BOUNDED,	/* -EAGAIN up to retry_bound times, then -EBUSY */
	VFIO_RETRY_ENOENT,	/* retry on -ENOENT only; cond_resched, -EINTR if killed */
	NR_VFIO_RETRY_POLICIES,
};

struct vfio_type1_config {
	bool follow_pfnmap_recheck;	/* ffef67b93aa3: re-read PUD/PMD under the PTL */
	bool follow_pfnmap_enoent;	/* -ENOENT for "no present entry" (seeds/03) */
	bool addr_mask_batching;	/* 0fd06844de5d (v6.15): pfns to the leaf's end */
	/*
	 * The has_rsvd / vpfn_pages / num_pages_contiguous series: accounting
	 * and unpinning by contiguous range.  false = the 6.12 shape:
	 * per-page accounting, a batch of one put back and re-looked-up,
	 * disable_hugepages breaking after one page.
	 */
	bool pin_contig_accounting;
	bool pin_cond_resched;		/* "conditional rescheduling while pinning" */
	/*
	 * ef270ec44637 series: -EOVERFLOW for ranges that do not fit or wrap,
	 * inclusive-end overlap tests.  false = 6.12: -EINVAL, exclusive ends.
	 */
	bool dma_limit_overflow;
	bool type1_nesting;		/* VFIO_TYPE1_NESTING_IOMMU (6.12) */
	bool disable_hugepages;		/* module parameter */
	unsigned int dma_entry_limit;	/* module parameter, default U16_MAX */
	enum vfio_retry_policy retry_policy;
	unsigned int retry_bound;	/* BOUNDED */
	uint64_t iommu_pgsize_bitmap;	/* of every new domain */
	uint64_t iova_aperture_end;	/* inclusive; default 2^48 - 1 */
};

extern struct vfio_type1_config vfio_type1_cfg;
void vfio_type1_config_init(struct vfio_type1_config *cfg);

/* ---------------- follow_pfnmap_start() (lib/follow_pfnmap.c) ---------- */

struct follow_pfnmap_args {
	/* inputs */
	struct vm_area_struct *vma;
	unsigned long address;
	/* internals */
	spinlock_t *lock;
	pte_t *ptep;
	/* outputs */
	unsigned long pfn;		/* for @address itself */
	unsigned long addr_mask;	/* PAGE_MASK, PMD_MASK or PUD_MASK */
	pgprot_t pgprot;
	bool writable;
	bool special;
};

/*
 * 0 with the lock of the leaf's level held, or -EINVAL (and, with
 * follow_pfnmap_enoent, -ENOENT for a non-present entry) with nothing held.
 */
int follow_pfnmap_start(struct follow_pfnmap_args *args);
void follow_pfnmap_end(struct follow_pfnmap_args *args);

/* ---------------- statistics ------------------------------------------ */

struct vfio_pin_stats {
	unsigned long vaddr_get_pfns;	/* calls */
	unsigned long gup_calls;	/* pin_user_pages_remote() calls */
	unsigned long follow_failures;	/* follow_pfnmap_start() != 0 */
	unsigned long faults;		/* fixup_user_fault() calls */
	unsigned long retries;		/* policy asked to retry */
	unsigned long eagain_loops;	/* vaddr_get_pfns goto retry */
	unsigned long iommu_maps;	/* vfio_iommu_map() calls (runs) */
	unsigned long pinned_pages;	/* RAM pages pinned */
	unsigned long pfnmap_pages;	/* reserved/MMIO pfns mapped */
};

enum vfio_map_outcome {
	VFIO_MAP_OK,
	VFIO_MAP_EINVAL,
	VFIO_MAP_EFAULT,
	VFIO_MAP_ENOMEM,
	VFIO_MAP_EBUSY,
	VFIO_MAP_EINTR,
	VFIO_MAP_EAGAIN,
	VFIO_MAP_ENOENT,
	VFIO_MAP_OTHER,
	NR_VFIO_MAP_OUTCOMES,
};

struct vfio_type1_stats {
	struct vfio_pin_stats total;
	struct vfio_pin_stats last;	/* of the last MAP_DMA */
	unsigned long outcomes[NR_VFIO_MAP_OUTCOMES];	/* MAP_DMA results */
};

/* ---------------- the container's IOMMU backend ------------------------ */

struct vfio_iommu;

/* VFIO_SET_IOMMU: @arg is VFIO_TYPE1_IOMMU or VFIO_TYPE1v2_IOMMU (else -EINVAL). */
int vfio_iommu_type1_open(unsigned long arg, struct vfio_iommu **out);
/* Container release: remove every dma (unmap, unpin, unaccount), free domains. */
void vfio_iommu_type1_release(struct vfio_iommu *iommu);
/*
 * Attach a group.  Groups behind the same IOMMU unit share a domain (as
 * iommu_attach_group() onto an existing compatible domain does); a new unit
 * gets a new domain and every existing mapping is replayed into it.
 * @emulated: an mdev-like group without an IOMMU (no domain).
 */
int vfio_iommu_type1_attach_group(struct vfio_iommu *iommu, int group_id, int iommu_unit,
				  bool emulated);
void vfio_iommu_type1_detach_group(struct vfio_iommu *iommu, int group_id);
/* The domain a group's DMA goes through; NULL if none. */
struct iommu_domain *vfio_iommu_group_domain(struct vfio_iommu *iommu, int group_id);
/*
 * VFIO_CHECK_EXTENSION, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA and
 * VFIO_IOMMU_UNMAP_DMA.  @arg points to the caller's struct (the
 * copy_from_user/copy_to_user boundary is at the front end).  Returns >= 0
 * or -errno; -ENOTTY for anything else.
 */
long vfio_iommu_type1_ioctl(struct vfio_iommu *iommu, unsigned int cmd, void *arg);
void vfio_iommu_type1_get_stats(struct vfio_iommu *iommu, struct vfio_type1_stats *st);
/* For tests: number of vfio_dma, and dma_avail. */
unsigned int vfio_iommu_nr_dmas(struct vfio_iommu *iommu);
unsigned int vfio_iommu_dma_avail(struct vfio_iommu *iommu);

#endif /* LIB_VFIO_H */
