/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A reference model of the VFIO container/group/device fds and the type1
 * IOMMU backend, written from the kernel source and nothing else: plain C,
 * no pinsim internals, no pinsim API.  The differential test
 * (tests/diff_driver.c) runs the same operations against pinsim and this
 * model and compares every result and the observable state after every
 * step.
 *
 * Two kernels are modelled:
 *  RM_KERNEL_6_12      drivers/vfio/{vfio_iommu_type1,container,group,vfio_main}.c
 *                      of Debian's 6.12.118 (exclusive range ends, wrap = -EINVAL,
 *                      VFIO_TYPE1_NESTING_IOMMU still known);
 *  RM_KERNEL_UPSTREAM  the same files after the v6.18-rc4 series "vfio/type1: handle
 *                      DMA map/unmap up to the addressable limit" (6012379ede6a
 *                      check_add_overflow() -> -EOVERFLOW, ef270ec44637 inclusive
 *                      ends) and 35890f85573c (v6.13) "vfio: Remove
 *                      VFIO_TYPE1_NESTING_IOMMU" (CHECK_EXTENSION(6) = 0).
 *
 * What the model knows of the machine is what a kernel would learn from the
 * hardware: the IOMMU page sizes, the aperture and the reserved (MSI)
 * window of every domain, which devices share an IOMMU (same unit = same
 * iommu_ops and coherency, so vfio_iommu_type1_attach_group() reuses the
 * domain), the BAR sizes, the hugetlb pool.  Addresses of mmap() and
 * physical addresses are the environment's: the model takes the address
 * mmap() returned and names physical pages by identity (a frame id), never
 * by address.
 *
 * Memory model (mm/ side, only as far as VFIO depends on it): anonymous
 * private memory of 4K pages every page of which the driver faulted in with
 * a write (no zero page), hugetlb 2M pages, and vfio-pci BAR mappings
 * (VM_IO | VM_PFNMAP, pfns without struct page: never pinned, never
 * accounted).
 */
#ifndef TESTS_REF_MODEL_H
#define TESTS_REF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RM_PAGE_SIZE 4096ULL
#define RM_HPAGE_SIZE (2ULL << 20)
#define RM_MAX_DEVS 4
#define RM_MAX_FILES 512	/* files ever opened in one run; handle = index */
#define RM_MAX_CONTAINERS 256
#define RM_MAX_VMAS 128
#define RM_MAX_DOMAINS RM_MAX_DEVS
#define RM_NO_FRAME (-1)

enum rm_kernel {
	RM_KERNEL_6_12,
	RM_KERNEL_UPSTREAM,
};

struct rm_dev_cfg {
	const char *name;		/* pci_name(), e.g. "0000:01:00.0" */
	uint64_t bar_size[6];		/* 0 = no BAR */
	int unit;			/* IOMMU unit: same unit = compatible domain */
};

struct rm_config {
	enum rm_kernel kernel;
	unsigned int dma_entry_limit;	/* vfio_iommu_type1 module parameter */
	uint64_t iommu_pgsize_bitmap;	/* every domain's pgsize_bitmap */
	uint64_t aperture_start, aperture_end;	/* domain geometry */
	uint64_t resv_start, resv_end;	/* the group's reserved (MSI) region */
	bool iommu_enable_nesting;	/* does iommu_enable_nesting() succeed (x86: no) */
	unsigned long hugetlb_2m_pages;	/* pool size */
	int ndevs;
	struct rm_dev_cfg dev[RM_MAX_DEVS];
};

/* Expected outcome of one call: ret as the syscall returns it, err if ret == -1. */
struct rm_res {
	long ret;
	int err;
};

/* ---------------- state (read-only for the driver) ---------------- */

enum rm_frame_kind {
	RM_FRAME_RAM,
	RM_FRAME_MMIO,
};

/* A physical page, by identity. */
struct rm_frame {
	uint8_t kind;
	bool mapped;		/* a VMA maps it */
	bool live;		/* allocated (RAM) / exists (MMIO) */
	int folio;		/* hugetlb folio index, -1 for an order-0 page */
	int pins;		/* FOLL_PIN references (vfio dmas) on this page */
	int dev, bar;		/* MMIO: which BAR page */
	uint64_t pgoff;
};

struct rm_folio {
	int first_frame, nr;
	bool mapped, live;
	int pins;		/* folio->_pincount: sum over its pages */
};

enum rm_vma_kind {
	RM_VMA_ANON,
	RM_VMA_HUGE,
	RM_VMA_BAR,
};

struct rm_vma {
	uint64_t start, end;
	enum rm_vma_kind kind;
	int *frames;		/* ANON/HUGE: frame per 4K page */
	int file;		/* BAR: the device file the VMA holds */
	int dev, bar;
	uint64_t pgoff;		/* BAR: page index in the BAR of vm_start */
};

enum rm_file_type {
	RM_FILE_CONTAINER,
	RM_FILE_GROUP,
	RM_FILE_DEVICE,
};

struct rm_file {
	enum rm_file_type type;
	int obj;		/* container index, or device index for group/device */
	bool fd_open;
	int refs;		/* fd + group-file refs of devices + VMAs */
};

struct rm_dma {
	uint64_t iova, size, vaddr;
	int prot;		/* IOMMU_READ 1 | IOMMU_WRITE 2 */
	bool vaddr_invalid, lock_cap;
	int *frames;		/* frame per 4K page of the mapping */
	uint64_t *bitmap;	/* dirty tracking on: the kernel's dma->bitmap, word for word */
	int bitmap_words;
};

struct rm_domain {
	bool live;
	int unit;
	int ngroups;
};

struct rm_iommu {
	bool v2, nesting;
	struct rm_domain dom[RM_MAX_DOMAINS];
	struct rm_dma *dmas;	/* sorted by iova: the rb-tree's in-order */
	int ndmas, cap;
	unsigned int dma_avail, vaddr_invalid_count;
	uint64_t pgsize_bitmap;
	bool iova_list;		/* non-empty: the aperture minus the resv region */
	bool dirty_page_tracking;
	unsigned int num_non_pinned_groups;	/* IOMMU-backed groups attached */
};

struct rm_container {
	bool alive;
	int refs;		/* file + groups */
	int groups[RM_MAX_DEVS];	/* container->group_list, head first */
	int ngroups;
	bool has_iommu;		/* container->iommu_driver (type1) */
	struct rm_iommu iommu;
};

struct rm_group {
	int opened_file;	/* -1 or the file */
	int container;		/* -1 or index */
	int container_users;
	int domain;		/* index into its iommu's dom[], -1 */
	int open_count;		/* of its (only) device */
};

/* Branches of the source the model went through (coverage of a run). */
enum rm_cov {
	RM_COV_MAP_OK,
	RM_COV_MAP_BAR_PAGES,		/* a mapping with VM_PFNMAP (reserved) pages */
	RM_COV_MAP_HUGETLB_PAGES,	/* a mapping of hugetlb pages */
	RM_COV_MAP_SHARED_PAGE,		/* a page pinned by two mappings at once */
	RM_COV_MAP_LOCK_CAP,		/* succeeded over RLIMIT_MEMLOCK thanks to CAP_IPC_LOCK */
	RM_COV_MAP_EFAULT,
	RM_COV_MAP_ENOMEM,
	RM_COV_MAP_EEXIST,
	RM_COV_MAP_ENOSPC,
	RM_COV_MAP_IOVA_RANGE,		/* !vfio_iommu_iova_dma_valid() */
	RM_COV_MAP_WRAP,		/* 6.12 wrap -EINVAL / upstream -EOVERFLOW */
	RM_COV_MAP_TOP_OF_SPACE,	/* iova + size == 2^64 got past the wrap check */
	RM_COV_MAP_VADDR_OK,
	RM_COV_MAP_VADDR_ENOENT,
	RM_COV_MAP_VADDR_EINVAL,
	RM_COV_UNMAP_ONE,
	RM_COV_UNMAP_MANY,		/* more than one mapping in one call */
	RM_COV_UNMAP_NOTHING,		/* success, size 0 */
	RM_COV_UNMAP_V2_BISECT,		/* v2: -EINVAL, a mapping bisected */
	RM_COV_UNMAP_V1_OFFSET,		/* v1: starts inside a mapping: success, 0 */
	RM_COV_UNMAP_V1_PAST_END,	/* v1: a mapping removed whole past the range end */
	RM_COV_UNMAP_ALL,
	RM_COV_UNMAP_VADDR,
	RM_COV_UNMAP_VADDR_REVERT,	/* an already invalid vaddr: undo and -EINVAL */
	RM_COV_UNMAP_DIRTY,
	RM_COV_UNMAP_WRAP,
	RM_COV_UNMAP_TOP_OF_SPACE,	/* iova + size == 2^64 */
	RM_COV_UNMAP_TOP_MISSED,	/* 6.12: such a range left mappings it covers */
	RM_COV_ATTACH_VADDR_EBUSY,
	RM_COV_ATTACH_REPLAY,		/* a new domain with mappings to replay */
	RM_COV_ATTACH_SHARED_DOMAIN,
	RM_COV_DETACH_UNMAP_ALL,	/* the last domain took mappings with it */
	RM_COV_DETACH_DOMAIN_GONE,	/* a domain went, the mappings stayed */
	RM_COV_SET_IOMMU_ATTACH_FAIL,	/* nesting on x86 */
	RM_COV_GROUP_HELD_BY_DEVICE,	/* group fd closed, a device keeps the group */
	RM_COV_DEVICE_HELD_BY_VMA,	/* device fd closed, a BAR VMA keeps the device */
	RM_COV_PINNED_PAGE_UNMAPPED,	/* munmap() of a page a mapping pins (per page) */
	RM_COV_NAME_MATCH_EINVAL,	/* vfio_pci_core_match() < 0 */
	RM_COV_DIRTY_START,
	RM_COV_DIRTY_STOP,
	RM_COV_DIRTY_GET,		/* GET_BITMAP wrote the user's bitmap */
	RM_COV_DIRTY_GET_SHIFTED,	/* ... for a mapping not at a word boundary */
	RM_COV_DIRTY_STALE_BITS,	/* dma->bitmap kept bits past bitmap_clear() */
	RM_COV_DIRTY_UNMAP,		/* unmap wrote the user's bitmap */
	RM_COV_DIRTY_EINVAL,		/* GET_BITMAP refused */
	RM_COV_NR,
};

struct rm_model {
	struct rm_config cfg;
	struct rm_file files[RM_MAX_FILES];
	int nfiles;
	struct rm_container cont[RM_MAX_CONTAINERS];
	int ncont;
	struct rm_group group[RM_MAX_DEVS];
	struct rm_frame *frames;
	int nframes, frames_cap;
	struct rm_folio *folios;
	int nfolios, folios_cap;
	struct rm_vma vma[RM_MAX_VMAS];
	int nvmas;
	int *mmio[RM_MAX_DEVS][6];	/* frame of each BAR page, -1 until faulted */
	/* the process */
	uint64_t locked_vm;	/* pages */
	uint64_t rlim_memlock;	/* bytes, RLIM_INFINITY = ~0 */
	bool cap_ipc_lock;
	unsigned long huge_free;
	/* what the last call removed, for the driver's "not mapped any more" checks */
	uint64_t removed_iova[64], removed_size[64];
	int removed_cont[64];
	int nremoved;
	unsigned long cov[RM_COV_NR];
	unsigned long warnings;	/* WARN_ON()s the kernel takes on this path */
};

const char *rm_cov_name(enum rm_cov c);

void rm_init(struct rm_model *m, const struct rm_config *cfg);
void rm_fini(struct rm_model *m);

/* ---------------- fds ---------------- */

/* open("/dev/vfio/vfio"): ret = the new handle (>= 0). */
struct rm_res rm_open_container(struct rm_model *m);
/* open("/dev/vfio/<dev's group>"); dev < 0 or >= ndevs: no such node. */
struct rm_res rm_open_group(struct rm_model *m, int dev);
struct rm_res rm_close(struct rm_model *m, int h);

/* ---------------- ioctls; h = the handle the fd belongs to, -1 = a bad fd ---------------- */

struct rm_res rm_get_api_version(struct rm_model *m, int h);
struct rm_res rm_check_extension(struct rm_model *m, int h, unsigned long arg);
struct rm_res rm_set_iommu(struct rm_model *m, int h, unsigned long arg);
/* VFIO_GROUP_SET_CONTAINER with *arg = the fd of handle @ch (-1: an fd that is not open). */
struct rm_res rm_group_set_container(struct rm_model *m, int h, int ch);
struct rm_res rm_group_unset_container(struct rm_model *m, int h);
/* *flags = status flags on success. */
struct rm_res rm_group_get_status(struct rm_model *m, int h, uint32_t argsz, uint32_t *flags);
struct rm_res rm_group_get_device_fd(struct rm_model *m, int h, const char *name);
struct rm_res rm_map_dma(struct rm_model *m, int h, uint32_t argsz, uint32_t flags,
			 uint64_t vaddr, uint64_t iova, uint64_t size);
/*
 * The user's dirty bitmap: struct vfio_bitmap's pgsize and size, and the
 * memory bitmap.data points to (@words u64s, what the kernel may write).
 */
struct rm_ubitmap {
	uint64_t pgsize, size;
	uint64_t *data;
	size_t words;
};

/*
 * VFIO_IOMMU_UNMAP_DMA; *size_out = what the kernel writes back into
 * unmap.size (the input size when nothing is written back).  @bm: the
 * struct vfio_bitmap after the unmap struct (argsz permitting); with
 * GET_DIRTY_BITMAP and tracking on, the model writes bm->data as the
 * kernel writes the user's bitmap.
 */
struct rm_res rm_unmap_dma(struct rm_model *m, int h, uint32_t argsz, uint32_t flags,
			   uint64_t iova, uint64_t size, const struct rm_ubitmap *bm,
			   uint64_t *size_out);
/*
 * VFIO_IOMMU_DIRTY_PAGES: START, STOP, or GET_BITMAP of [iova, iova + size)
 * into @bm (struct vfio_iommu_type1_dirty_bitmap_get after the header,
 * argsz permitting).
 */
struct rm_res rm_dirty_pages(struct rm_model *m, int h, uint32_t argsz, uint32_t flags,
			     uint64_t iova, uint64_t size, const struct rm_ubitmap *bm);
/* VFIO_IOMMU_GET_INFO into @buf (@len bytes, argsz already at the head). */
struct rm_res rm_get_info(struct rm_model *m, int h, void *buf, size_t len);
/* An ioctl number nobody knows (VFIO_BASE + 60). */
struct rm_res rm_unknown_ioctl(struct rm_model *m, int h);

/* ---------------- memory ---------------- */

/*
 * mmap(): @addr is what the environment returned (or the MAP_FIXED
 * address); the model checks what mmap() must do and records the VMA.
 * The caller faults every page in with a write right after (anon, huge).
 */
struct rm_res rm_mmap_anon(struct rm_model *m, uint64_t addr, uint64_t len, bool fixed);
struct rm_res rm_mmap_huge(struct rm_model *m, uint64_t addr, uint64_t len);
/* @h: device file handle; @off within the BAR (region offset bar << 40 + off). */
struct rm_res rm_mmap_bar(struct rm_model *m, uint64_t addr, int h, int bar, uint64_t off,
			  uint64_t len);
struct rm_res rm_munmap(struct rm_model *m, uint64_t addr, uint64_t len);
/* What mmap() will say before it is called (errno or 0). */
int rm_mmap_bar_check(struct rm_model *m, int h, int bar, uint64_t off, uint64_t len);
int rm_mmap_huge_check(struct rm_model *m, uint64_t len);

/* setrlimit(RLIMIT_MEMLOCK, {cur, RLIM_INFINITY}) and capset(CAP_IPC_LOCK). */
struct rm_res rm_setrlimit_memlock(struct rm_model *m, uint64_t cur);
struct rm_res rm_set_cap_ipc_lock(struct rm_model *m, bool on);

/* ---------------- observation ---------------- */

/* The VMA mapping @addr, or NULL. */
const struct rm_vma *rm_find_vma(const struct rm_model *m, uint64_t addr);
/*
 * What @dev's IOMMU domain translates @iova to: the frame, RM_NO_FRAME
 * when not mapped, or -2 when the group has no domain.
 */
int rm_iova_frame(const struct rm_model *m, int dev, uint64_t iova);
/* The container (index) @dev's group is in, -1. */
int rm_group_container(const struct rm_model *m, int dev);
/* The container of handle @h if it is a container file, -1. */
int rm_handle_container(const struct rm_model *m, int h);
/* Folio pincount as /proc/kpagecount would show it for frame @f. */
int rm_frame_pincount(const struct rm_model *m, int f);

const char *rm_kernel_name(enum rm_kernel k);

#endif /* TESTS_REF_MODEL_H */
