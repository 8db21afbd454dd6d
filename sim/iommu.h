/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The simulated IOMMU (drivers/iommu/iommu.c core + a generic IO page
 * table) and the DMA engine devices use to reach memory through it.
 *
 * A domain has a pgsize_bitmap (default 4K|2M|1G; any non-empty subset of
 * 4K|2M|1G, so a 2M-minimum domain too, plus sub-4K sizes when 4K is there)
 * and a 4-level IO page
 * table, built of host memory (not simulated RAM: it is the IOMMU's own).
 * iommu_map() splits a range into the largest page sizes that iova, paddr
 * and remaining length allow, exactly as __iommu_map() does.  An IOTLB
 * caches translations: iommu_unmap() clears the page table and queues the
 * range; the IOTLB keeps serving the stale translation until
 * iommu_iotlb_sync().  A DMA through a stale entry that reaches a RAM frame
 * no longer pinned is a violation — the check that vfio unmaps, syncs and
 * only then unpins.
 */
#ifndef SIM_IOMMU_H
#define SIM_IOMMU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IOMMU_READ (1 << 0)
#define IOMMU_WRITE (1 << 1)
#define IOMMU_CACHE (1 << 2)
#define IOMMU_NOEXEC (1 << 3)
#define IOMMU_MMIO (1 << 4)

#define SZ_4K (1ULL << 12)
#define SZ_2M (1ULL << 21)
#define SZ_1G (1ULL << 30)
#define IOMMU_DEFAULT_PGSIZES (SZ_4K | SZ_2M | SZ_1G)

typedef uint64_t dma_addr_t;
typedef uint64_t phys_addr_t;

struct iommu_domain;
struct iommu_group;

/*
 * include/linux/iommu.h struct iommu_domain_geometry: the IOVA aperture a
 * domain translates, which vfio_iommu_type1_attach_group() intersects with
 * the container's iova ranges.  The IO page table has 4 levels, so the
 * aperture is [0, 2^48 - 1]; iommu_map() beyond it fails with -ERANGE.
 */
struct iommu_domain_geometry {
	dma_addr_t aperture_start;
	dma_addr_t aperture_end;	/* last iova */
	bool force_aperture;
};

/*
 * include/linux/iommu.h struct iommu_domain_ops, the one member vfio reads:
 * enforce_cache_coherency (intel_iommu_enforce_cache_coherency(): the
 * simulated IOMMU has snoop control, so true).  Every simulated domain has
 * the same ops: one IOMMU driver, as on an x86 machine.
 */
struct iommu_domain_ops {
	bool (*enforce_cache_coherency)(struct iommu_domain *domain);
};

/*
 * include/linux/iommu.h struct iommu_iotlb_gather: the IOVA range unmapped
 * by iommu_unmap_fast_gather() and not yet invalidated in the IOTLB; the
 * caller keeps it (on its stack, as vfio_unmap_unpin() does) until
 * iommu_iotlb_sync_gather().  Empty when start > end.
 */
struct iommu_iotlb_gather {
	dma_addr_t start, end;	/* inclusive */
};

static inline void iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather)
{
	gather->start = UINT64_MAX;
	gather->end = 0;
}

/*
 * IOTLB: direct-mapped, one entry per leaf (a 2M or 1G leaf is one entry,
 * as superpage IOTLB entries are).  shift == 0 marks an invalid entry.
 * sim/iommu.c's own.
 */
#define IOTLB_ENTRIES 64

struct iotlb_entry {
	dma_addr_t iova;	/* leaf base */
	phys_addr_t paddr;	/* leaf base */
	unsigned int shift;	/* leaf size = 1 << shift */
	int prot;
};

struct io_table;
struct iopt_chunk;

/*
 * A domain.  The first members are the kernel's (include/linux/iommu.h),
 * read as fields by kernel code compiled over the simulation (ktree/): ops,
 * pgsize_bitmap, geometry.  The rest is sim/iommu.c's: callers use the
 * functions below.
 */
struct iommu_domain {
	const struct iommu_domain_ops *ops;
	uint64_t pgsize_bitmap;
	struct iommu_domain_geometry geometry;

	/*
	 * The IOMMU unit (hardware instance) the domain was allocated for, by
	 * iommu_domain_alloc_unit(); -1 for iommu_domain_alloc(), which any
	 * group can attach to.
	 */
	int iommu_unit;
	pthread_mutex_t lock;
	struct io_table *root;
	struct iopt_chunk *chunks;	/* newest first; tables are carved from it */
	struct io_table *free_tables;	/* linked through pte[0] */
	unsigned long nr_leaves;
	/*
	 * What iommu_unmap_fast() queued for iommu_iotlb_sync(), the callers
	 * without a gather of their own (iommu_unmap_fast_gather() takes one).
	 */
	struct iommu_iotlb_gather gather;
	struct iotlb_entry iotlb[IOTLB_ENTRIES];
};

struct iommu_stats {
	_Atomic unsigned long map_calls;	/* iommu_map() calls */
	_Atomic unsigned long unmap_calls;
	_Atomic unsigned long leaves_4k, leaves_2m, leaves_1g;	/* installed */
	_Atomic unsigned long iotlb_syncs;
	_Atomic unsigned long dma_faults;	/* unmapped iova / permission */
	_Atomic unsigned long dma_violations;	/* reached an unpinned RAM frame */
};

/* Global counters over every domain of the machine (reset by tests). */
extern struct iommu_stats iommu_stats;

/*
 * Whether the IO page table can serve @pgsize_bitmap: its sizes of 4K and
 * above are among 4K/2M/1G (the table's leaf levels) and there is one, and
 * sizes below 4K come with 4K (they are advertised, as a driver with
 * sub-page support would, but every mapping vfio makes is 4K-aligned, so
 * leaves are never smaller than 4K).
 */
bool iommu_pgsize_bitmap_supported(uint64_t pgsize_bitmap);
/*
 * @pgsize_bitmap: supported page sizes (iommu_pgsize_bitmap_supported()).
 * NULL for an unsupported bitmap or on allocation failure.
 */
struct iommu_domain *iommu_domain_alloc(uint64_t pgsize_bitmap);
/*
 * A domain for the IOMMU unit @iommu_unit: what iommu_paging_domain_alloc()
 * of a device behind that unit returns.  Groups of other units cannot
 * attach to it (iommu_attach_group()).
 */
struct iommu_domain *iommu_domain_alloc_unit(uint64_t pgsize_bitmap, int iommu_unit);
void iommu_domain_free(struct iommu_domain *domain);
uint64_t iommu_domain_pgsize_bitmap(const struct iommu_domain *domain);

/*
 * iommu_map(): 0 or -errno (-EINVAL for a size/iova/paddr not aligned to
 * the smallest page size, -EEXIST if any part is already mapped — the range
 * is then left unmapped, -ENOMEM).  @prot is IOMMU_READ|IOMMU_WRITE|...
 */
int iommu_map(struct iommu_domain *domain, dma_addr_t iova, phys_addr_t paddr, size_t size,
	      int prot);
/*
 * iommu_unmap(): unmaps whole leaves starting at @iova until @size bytes are
 * covered; returns the bytes unmapped (a leaf larger than the remaining
 * size is unmapped whole, as the kernel's page-table code does), 0 if
 * @iova is not mapped.  Queues the range for the IOTLB and syncs it.
 */
size_t iommu_unmap(struct iommu_domain *domain, dma_addr_t iova, size_t size);
/* iommu_unmap_fast(): the same, but the IOTLB is not synced until iommu_iotlb_sync(). */
size_t iommu_unmap_fast(struct iommu_domain *domain, dma_addr_t iova, size_t size);
void iommu_iotlb_sync(struct iommu_domain *domain);
/*
 * The kernel's shapes: iommu_unmap_fast(domain, iova, size, gather) adds
 * what it unmapped to the caller's @gather; iommu_iotlb_sync(domain,
 * gather) invalidates that range and empties it.
 */
size_t iommu_unmap_fast_gather(struct iommu_domain *domain, dma_addr_t iova, size_t size,
			       struct iommu_iotlb_gather *gather);
void iommu_iotlb_sync_gather(struct iommu_domain *domain, struct iommu_iotlb_gather *gather);
/* 0 if @iova is not mapped. */
phys_addr_t iommu_iova_to_phys(struct iommu_domain *domain, dma_addr_t iova);
/*
 * The length of the mapped, physically contiguous range at @iova (at most
 * @max; 0 if @iova is unmapped) and its physical start: what a caller
 * probing iommu_iova_to_phys() page by page would find, in one walk.
 */
size_t iommu_iova_contig_len(struct iommu_domain *domain, dma_addr_t iova, size_t max,
			     phys_addr_t *phys);
/* The page size of the leaf translating @iova (0 if none), for tests. */
size_t iommu_leaf_size(struct iommu_domain *domain, dma_addr_t iova);
/* Number of leaves currently installed. */
unsigned long iommu_nr_leaves(struct iommu_domain *domain);

/*
 * The DMA engine: a device reads or writes @len bytes at @iova through
 * @domain.  Translation goes through the IOTLB (filled from the page table
 * on a miss), page by page, checks IOMMU_READ (device reads memory) or
 * IOMMU_WRITE (device writes memory), and reaches RAM frames or MMIO bytes
 * of a BAR (peer-to-peer).  Returns @len, or -EFAULT on the first fault
 * (counted in dma_faults; nothing is transferred past it).
 */
long iommu_dma_rw(struct iommu_domain *domain, dma_addr_t iova, void *buf, size_t len,
		  bool write);

/*
 * The DMA coherency checker (issue 15, sim/checker.h CHECK_DMA_COHERENCY).
 * MADV_DONTNEED notes each leaf it is about to zap: @npages frames from
 * @pfn, mapped at @vaddr of @mm (sim/madvise.c).  A later device access to
 * such a frame that is still DMA-pinned is checked against what @vaddr
 * maps now (looked up without faulting): another frame, or nothing, is a
 * coherency violation — the device writes a page the process no longer
 * sees.  Reported once per page and state (what the address maps).  The notes are dropped when the
 * frame is found unpinned, the mm gone, or by iommu_discard_notes_clear().
 */
struct mm_struct;
void iommu_note_discard(struct mm_struct *mm, unsigned long vaddr, unsigned long pfn,
			unsigned long npages);
/*
 * After the zap of [start, end) of @mm: keep only the noted frames that are
 * still the discarded pages (pinned, unmapped); the others were freed, and
 * a frame freed and taken again must not be read as the old page.
 */
void iommu_settle_discard(struct mm_struct *mm, unsigned long start, unsigned long end);
void iommu_discard_notes_clear(void);
/*
 * CHECK_PIN_LEAK: when nothing may hold a DMA pin any more (every process
 * and container gone), report the folios still pinned (one report, with
 * the count and the first).  Scans the memory map: O(RAM pages).
 */
unsigned long dma_check_pins_released(void);
unsigned long iommu_discard_notes(void);

/* domain->geometry (struct iommu_domain_geometry above). */
const struct iommu_domain_geometry *iommu_domain_geometry(const struct iommu_domain *domain);

/*
 * iommu_enable_nesting() (drivers/iommu/iommu.c, 6.12): the domain op
 * enable_nesting, or -EINVAL when the driver has none.  The simulated
 * IOMMU is an x86 one (VT-d/AMD-Vi geometry, the 0xfee00000 MSI window);
 * in 6.12 only arm-smmu and arm-smmu-v3 implement enable_nesting, so this
 * is always -EINVAL (VFIO_TYPE1_NESTING_IOMMU cannot attach on x86).
 */
int iommu_enable_nesting(struct iommu_domain *domain);

/* include/linux/iommu.h enum iommu_resv_type, the types vfio looks at. */
enum iommu_resv_type {
	IOMMU_RESV_DIRECT,
	IOMMU_RESV_DIRECT_RELAXABLE,
	IOMMU_RESV_RESERVED,
	IOMMU_RESV_MSI,
	IOMMU_RESV_SW_MSI,
};

struct iommu_resv_region {
	phys_addr_t start;
	size_t length;
	enum iommu_resv_type type;
};

/*
 * iommu_get_group_resv_regions(): the reserved regions of a group behind
 * the simulated IOMMU, as intel_iommu_get_resv_regions() reports them for a
 * device without RMRRs: the interrupt window 0xfee00000-0xfeefffff as
 * IOMMU_RESV_MSI.  Fills at most @max, returns how many there are.
 */
int iommu_get_group_resv_regions(struct iommu_resv_region *regions, int max);

/*
 * IOMMU groups (drivers/iommu/iommu.c): the unit of isolation a domain is
 * attached to.  A group sits behind one IOMMU unit and is attached to at
 * most one domain at a time (NULL: its default/blocking domain, DMA
 * blocked).  The caller owns the object (iommu_group_init()); the devices
 * in it are the caller's too (the kernel API's struct device is kernel
 * code's, see ktree/).
 */
struct iommu_group {
	int id;
	int iommu_unit;
	struct iommu_domain *domain;
};

void iommu_group_init(struct iommu_group *group, int id, int iommu_unit);
/*
 * iommu_attach_group(): -EBUSY if the group is attached to another domain
 * (__iommu_attach_group()), -EINVAL if @domain belongs to another IOMMU unit
 * (the driver's attach_dev refusing an incompatible domain, as
 * prepare_domain_attach_device() does on VT-d), else 0.
 */
int iommu_attach_group(struct iommu_domain *domain, struct iommu_group *group);
/* iommu_detach_group(): back to blocking DMA (no domain). */
void iommu_detach_group(struct iommu_domain *domain, struct iommu_group *group);

#endif /* SIM_IOMMU_H */
