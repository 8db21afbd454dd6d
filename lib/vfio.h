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
	/*
	 * The v6.15 series ending in 0fd06844de5d "vfio/type1: Use mapping
	 * page mask for pfnmaps" (afe84f3b7a26 catch zero from GUP,
	 * eb996eec783c vfio_batch for vaddr_get_pfns, 62fb8adc43af addr_mask).
	 * false = the 6.12 vaddr_get_pfns()/vfio_pin_pages_remote() loop: a 0
	 * from pin_user_pages_remote() passed through, one pfn per call for
	 * pfnmaps, a fresh batch of one that does not continue the run put
	 * back (and looked up again by the next call), disable_hugepages
	 * breaking out after the first batch.
	 */
	bool addr_mask_batching;
	/*
	 * The v6.18 series f6c84a52cc41 "optimize vfio_pin_pages_remote()",
	 * d10872050ffe, 089722e8939e (has_rsvd), d14de5b92578 "optimize
	 * vfio_unpin_pages_remote()": accounting and unpinning by contiguous
	 * run.  false = the 6.12 shape: one accounting step (vfio_find_vpfn()
	 * and the RLIMIT check) per page, put_pfn() page by page, no has_rsvd.
	 */
	bool pin_contig_accounting;
	bool pin_cond_resched;		/* "conditional rescheduling while pinning" (6.12.43) */
	/*
	 * The v6.18-rc4 series: 6012379ede60 "vfio/type1: sanitize for overflow
	 * using check_*_overflow()" (-EOVERFLOW for ranges that do not fit or
	 * wrap), 1196f1f897d4 and ef270ec44637 "vfio/type1: handle DMA
	 * map/unmap up to the addressable limit" (inclusive-end range tests).
	 * false = 6.12: -EINVAL, exclusive ends (iova + size, which is 0 for a
	 * range ending at 2^64).
	 */
	bool dma_limit_overflow;
	bool type1_nesting;		/* VFIO_TYPE1_NESTING_IOMMU (6.12; removed in v6.13) */
	/*
	 * vfio_test_domain_fgsp() of 6.12 (removed by 07970d048cdd, v6.16):
	 * probe a new domain with a two-page map and a one-page unmap.  No
	 * pinsim_config switch sets it yet; it only changes iommu_stats.
	 */
	bool fgsp_probe;
	bool disable_hugepages;		/* module parameter */
	unsigned int dma_entry_limit;	/* module parameter, default U16_MAX */
	enum vfio_retry_policy retry_policy;
	unsigned int retry_bound;	/* BOUNDED */
	uint64_t iommu_pgsize_bitmap;	/* of every new domain */
	uint64_t iova_aperture_end;	/* inclusive; clips each domain's geometry */
	/*
	 * Fault injection for tests: this many allocations of a struct
	 * vfio_regions in unmap_unpin_fast() fail (the kzalloc() that sends the
	 * kernel to unmap_unpin_slow()).
	 */
	unsigned int fail_region_allocs;
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
	/*
	 * Steps of vfio_pin_pages_remote()'s inner loop, each one accounting
	 * decision: one per page before f6c84a52cc41, one per contiguous run
	 * after it.
	 */
	unsigned long acct_steps;
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
	/*
	 * Calls into mm's unpin functions (unpin_user_pages_dirty_lock() per
	 * page, unpin_user_page_range_dirty_lock() per run) by
	 * vfio_unpin_pages_remote() and the batch, over the container's life.
	 */
	unsigned long unpin_calls;
};

/* A MAP_DMA return value's outcome; and @s's counts added to @t. */
enum vfio_map_outcome vfio_map_outcome_of(long ret);
void vfio_pin_stats_add(struct vfio_pin_stats *t, const struct vfio_pin_stats *s);

/* ---------------- the container's IOMMU backend ------------------------ */

struct vfio_iommu;

/*
 * The driver's open for VFIO_SET_IOMMU: VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU
 * and VFIO_TYPE1_NESTING_IOMMU (nesting with type1_nesting, a plain v2
 * upstream), else -EINVAL.  The front end asks CHECK_EXTENSION first.
 */
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
 * VFIO_CHECK_EXTENSION, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA,
 * VFIO_IOMMU_UNMAP_DMA and VFIO_IOMMU_DIRTY_PAGES.  @arg points to the
 * caller's struct, which stands for user memory: it is copied in and out
 * here as copy_from_user()/copy_to_user() would (a dirty bitmap's data
 * pointer too; NULL faults).  Returns >= 0 or -errno; -ENOTTY for anything
 * else.
 */
long vfio_iommu_type1_ioctl(struct vfio_iommu *iommu, unsigned int cmd, void *arg);
void vfio_iommu_type1_get_stats(struct vfio_iommu *iommu, struct vfio_type1_stats *st);
/* For tests: number of vfio_dma, and dma_avail. */
unsigned int vfio_iommu_nr_dmas(struct vfio_iommu *iommu);
unsigned int vfio_iommu_dma_avail(struct vfio_iommu *iommu);

#endif /* LIB_VFIO_H */
