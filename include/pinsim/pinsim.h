/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pinsim — Linux VFIO type1 DMA pinning over a simulated mm and IOMMU.
 *
 * The public API.  Calls are shaped like the system calls they stand for:
 * they return -1 and set errno on failure, with the errno the kernel gives
 * for the same input.  Simulated addresses are uint64_t, never host
 * pointers.  One machine exists per host process at a time.
 *
 * Threads.  Every host thread that calls into a process acts as a task of
 * it (its own simulated task, created on first use; pinsim_thread_exit()
 * ends it), so calls may run concurrently from any threads, on the same
 * process or different ones, as system calls do: MAP/UNMAP_DMA, mmap,
 * munmap, access, faults, numa_maps reads, DMA, pins, ioctls, stats.  The
 * simulated kernel's own locks (mmap_lock, page-table locks, the VFIO
 * locks) order them, so races are the kernel's races, not data races.
 * Exceptions: pinsim_create() and pinsim_destroy() with no other call in
 * flight on the machine (it stops the processes' numa_maps walkers, not
 * injectors: stop those first); pinsim_proc_destroy() with no other call on that
 * process; pinsim_sched_run() with no other thread calling pinsim while it
 * runs (its threads are the only ones, one at a time); struct
 * pinsim_config and the pinsim_config_*() functions are plain data, the
 * caller's to protect.  Callbacks (log, trace, zap notifier) may run on
 * any thread.
 *
 * Messages.  The library prints little (a WARN with PINSIM_WARN_VERBOSE,
 * an RLIMIT_MEMLOCK refusal, an oops outside any task just before it
 * aborts); it goes to stderr unless the program sets a log function with
 * pinsim_set_log().  Results never depend on it: errors are errno values.
 */
#ifndef PINSIM_PINSIM_H
#define PINSIM_PINSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PINSIM_API __attribute__((visibility("default")))
#define PINSIM_MAP_FAILED ((uint64_t)-1)

enum pinsim_thp {
	PINSIM_THP_NEVER = 0,
	PINSIM_THP_MADVISE,	/* default: madvise(MADV_HUGEPAGE) regions */
	PINSIM_THP_ALWAYS,
};

/* follow_fault_pfn() retry policies (seeds/03); used by the VFIO layer. */
enum pinsim_retry_policy {
	PINSIM_RETRY_LEGACY = 0,	/* return the error: EINVAL reaches userspace */
	PINSIM_RETRY_EAGAIN,		/* 2026-03-17 patch: retry on any failure */
	PINSIM_RETRY_BOUNDED,		/* retry retry_bound times, then EBUSY */
	PINSIM_RETRY_ENOENT,		/* retry on ENOENT only, cond_resched, EINTR */
};

/*
 * Whose code runs the page walker (walk_page_range() and friends), the
 * numa_maps walk callbacks, follow_pfnmap_start()/_end() and VFIO type1
 * (every container's IOMMU backend: drivers/vfio/vfio_iommu_type1.c):
 * pinsim's rewrite, or the kernel tree's own source compiled over the
 * simulated machine (a build configured with -Dkernel_tree=PATH).
 */
enum pinsim_impl {
	PINSIM_IMPL_REWRITE = 0,	/* pinsim's rewrite (default) */
	PINSIM_IMPL_TREE,		/* the -Dkernel_tree tree's own code */
};

struct pinsim_config {
	uint64_t ram_bytes;		/* simulated RAM, multiple of 1 GiB */
	unsigned long hugetlb_2m_pages;	/* hugetlb pool sizes */
	unsigned long hugetlb_1g_pages;
	enum pinsim_thp thp;

	/* arch switches */
	bool arch_has_pte_special;	/* CONFIG_ARCH_HAS_PTE_SPECIAL */
	bool arch_supports_pmd_pfnmap;	/* CONFIG_ARCH_SUPPORTS_PMD_PFNMAP */
	bool arch_supports_pud_pfnmap;	/* CONFIG_ARCH_SUPPORTS_PUD_PFNMAP */
	bool special_bit_per_level;	/* c0c6ccd9828c (2026); profiles set it */
	unsigned int max_bar_fault_order;	/* 0, 9 or 18 */

	/*
	 * Kernel-version switches.  Set them all at once from a named kernel
	 * with pinsim_config_set_kernel(); each is named after the upstream
	 * commit that introduced the behaviour (see lib/kernel_profiles.c and
	 * the README's profile table).  pinsim_config_init() sets the
	 * "upstream" profile.
	 */
	char kernel[32];		/* the profile they were set from */
	bool pagewalk_fixed;		/* 9b25a6e3d243, split vs refault (6.12.85) */
	bool pagewalk_stale_action_fix;	/* walk->action reset first (6.12.115) */
	bool follow_pfnmap_recheck;	/* ffef67b93aa3 (6.12.85) */
	bool vfio_addr_mask_batching;	/* 0fd06844de5d (v6.15) */
	bool vfio_pin_contig_accounting;	/* has_rsvd / batched accounting series */
	bool vfio_pin_cond_resched;	/* cond_resched() in the pin loop (6.12.43) */
	bool vfio_dma_limit_overflow;	/* ef270ec44637: -EOVERFLOW, inclusive ends */
	bool vfio_type1_nesting;	/* VFIO_TYPE1_NESTING_IOMMU still supported */
	bool vfio_fgsp_probe;		/* vfio_test_domain_fgsp() (gone in 07970d048cdd) */
	bool task_mmu_hugetlb_ptl;	/* gather_hugetlb_stats under the PTL */
	bool mmap_thp_anon_only;	/* 34d7cf637c43: no THP placement for device fds */
	bool vfio_pci_mmap_align;	/* vfio-pci get_unmapped_area (not merged) */

	/*
	 * Not a kernel version: the seeds/03 proposal, off in every profile.
	 * A change to the rewrite's follow_pfnmap_start(): with
	 * PINSIM_IMPL_TREE, pinsim_create() refuses it (EINVAL).
	 */
	bool follow_pfnmap_enoent;	/* -ENOENT for non-present (seeds/03) */
	/* vfio_iommu_type1 module parameters and pinsim's retry policies. */
	bool disable_hugepages;		/* vfio_iommu_type1 module parameter */
	unsigned int dma_entry_limit;	/* vfio_iommu_type1 module parameter */
	enum pinsim_retry_policy retry_policy;
	unsigned int retry_bound;
	/*
	 * IOMMU page sizes, default 4K|2M|1G: any non-empty subset of those
	 * (a 2M minimum works as the kernel makes it: MAP/UNMAP must be
	 * 2M-aligned), plus sizes below 4K alongside 4K; others are EINVAL at
	 * pinsim_create().
	 */
	uint64_t iommu_pgsize_bitmap;
	/*
	 * Set with pinsim_config_set_impl().  PINSIM_IMPL_TREE in a build
	 * without a tree, or in one whose tree part does not include the
	 * tree's drivers/vfio/vfio_iommu_type1.c: pinsim_create() fails with
	 * EOPNOTSUPP.  With PINSIM_IMPL_TREE the retry policy is whatever the
	 * tree's source does (apply the patch, e.g. the seeds/03 retry patch
	 * with scripts/apply-seeds03-retry.py, to the tree), which the tree's
	 * profile declares (pinsim_kernel_tree_profile(): "+eagain" for that
	 * patch, LEGACY otherwise): pinsim_create() refuses another
	 * retry_policy with EINVAL, as it refuses follow_pfnmap_enoent.  Everything else (faults, zaps,
	 * the IOMMU) is pinsim's in both, run under the kernel switches
	 * above: set them to the tree's version (pinsim_kernel_tree_version())
	 * for a like-for-like run.  The vfio_* version switches do not change
	 * the tree's type1: its source is what it is.
	 */
	enum pinsim_impl impl;
	/*
	 * Back RAM and every BAR with memfds (MAP_SHARED) rather than private
	 * memory, so that a host process can map a simulated frame itself
	 * (pinsim_phys_fd()) and share its bytes with simulated DMA: what the
	 * preload library (preload/) does with a program's pointers.  Default
	 * false.
	 */
	bool shared_memory;
};

struct pinsim;
struct pinsim_proc;
struct pinsim_pin;

/*
 * A vfio-pci device, alone in its IOMMU group (group id = the id returned
 * by pinsim_add_device(), path /dev/vfio/<id>).  Groups on the same
 * iommu_unit share an IOMMU domain in a container; a group on another unit
 * gets its own domain and existing mappings are replayed into it.
 */
struct pinsim_device_spec {
	const char *name;		/* VFIO_GROUP_GET_DEVICE_FD name, e.g. "0000:01:00.0" */
	uint64_t bar_size[6];		/* 0 = no BAR; else a power of two >= 4 KiB */
	int iommu_unit;
};

/*
 * The defaults, a machine like the x86-64 servers of the seeds
 * (docs/seeds.md) running mainline:
 *   ram_bytes 64 GiB (host MAP_NORESERVE memory: only what is touched
 *   costs), no hugetlb pages (hugetlb_2m_pages = hugetlb_1g_pages = 0),
 *   thp PINSIM_THP_MADVISE;
 *   arch_has_pte_special, arch_supports_pmd_pfnmap, arch_supports_pud_pfnmap
 *   true and max_bar_fault_order 18 (BAR faults insert 1 GiB, 2 MiB or 4 KiB
 *   leaves, the largest that fits);
 *   every kernel-version switch as the "upstream" profile sets it (kernel =
 *   "upstream": mainline as of v7.2, every fix in; special_bit_per_level
 *   is one of them): the same as pinsim_config_set_kernel(cfg, "upstream");
 *   follow_pfnmap_enoent false, retry_policy PINSIM_RETRY_LEGACY (what
 *   every released kernel does), retry_bound 8 (for BOUNDED);
 *   vfio_iommu_type1's module parameters at the kernel's defaults:
 *   disable_hugepages false, dma_entry_limit 65535 (U16_MAX);
 *   iommu_pgsize_bitmap 4K|2M|1G, impl PINSIM_IMPL_REWRITE, shared_memory
 *   false.
 * A process starts with RLIMIT_MEMLOCK 8 MiB and no CAP_IPC_LOCK (see
 * pinsim_setrlimit()).
 */
void pinsim_config_init(struct pinsim_config *cfg) PINSIM_API;

/*
 * Named kernels.  pinsim_config_set_kernel() sets every kernel-version
 * switch of @cfg (and cfg->kernel) to what kernel @version does, leaving
 * sizing, arch, module-parameter and retry-policy fields alone.  @version
 * is a profile name ("6.12.74", "6.12.113", "6.12.118", "7.0", "upstream")
 * or any 6.12 stable release "6.12.N" from 6.12.29 to 6.12.118, which gets the
 * switches of the Debian changelog's fixes up to N (cfg->kernel then reads
 * "6.12.N").  Unknown names: -1/EINVAL, @cfg unchanged.
 *
 * A name may be followed by commits reverted or applied, each "-COMMIT" or
 * "+COMMIT" with COMMIT the 12-digit (at least 7) id a switch is named
 * after (pinsim_kernel_describe() lists them): "6.12.118-3b89863c3fa4" is
 * Debian's 6.12.118 with the March 2026 walker fix reverted, the profile a
 * tree with `git revert 3b89863c3fa4` matches.  They apply in order (the
 * last one about a switch wins); a commit no switch is named after is
 * -1/EINVAL.
 *
 * "+eagain" names a patch no kernel has: the 2026-03-17 VFIO retry patch
 * ("vfio/type1: Retry follow_pfnmap_start() when PFNMAP is zapped"), and
 * sets retry_policy to PINSIM_RETRY_EAGAIN ("-eagain": LEGACY), so that a
 * tree carrying it can say so (-Dkernel_tree_profile=6.12.118+eagain).
 */
int pinsim_config_set_kernel(struct pinsim_config *cfg, const char *version) PINSIM_API;

/*
 * "rewrite" or "tree" -> cfg->impl.  -1/EINVAL for another name, -1/EOPNOTSUPP
 * for "tree" in a build without -Dkernel_tree.  Leaves the kernel switches
 * alone.
 */
int pinsim_config_set_impl(struct pinsim_config *cfg, const char *name) PINSIM_API;
/* "rewrite" or "tree" (NULL for an unknown value). */
const char *pinsim_impl_name(enum pinsim_impl impl) PINSIM_API;
/*
 * The kernel tree compiled in (its Makefile's VERSION.PATCHLEVEL.SUBLEVEL,
 * "6.12.118"), or NULL in a build without -Dkernel_tree; its path as the
 * build saw it in *path if @path is not NULL.
 */
const char *pinsim_kernel_tree_version(const char **path) PINSIM_API;
/*
 * The kernel profile that describes the compiled-in tree, for
 * pinsim_config_set_kernel(): the tree's version, or what the build was told
 * with -Dkernel_tree_profile ("6.12.118-3b89863c3fa4" for a tree with the
 * walker fix reverted).  NULL without a tree.
 */
const char *pinsim_kernel_tree_profile(void) PINSIM_API;

struct pinsim_kernel_profile {
	const char *name;		/* what pinsim_config_set_kernel() takes */
	const char *summary;		/* one line: which kernel, which fixes */
};
/* The named profiles: the count, and *@out set to a static table. */
size_t pinsim_kernel_profiles(const struct pinsim_kernel_profile **out) PINSIM_API;
/*
 * What @cfg's kernel switches are, one "name=0|1  commit subject" line per
 * switch, into @buf (truncated, NUL-terminated).  Returns the full length.
 */
size_t pinsim_kernel_describe(const struct pinsim_config *cfg, char *buf, size_t len) PINSIM_API;
int pinsim_create(const struct pinsim_config *cfg, struct pinsim **out) PINSIM_API;
void pinsim_destroy(struct pinsim *m) PINSIM_API;
/*
 * Change follow_fault_pfn()'s retry policy at run time (like writing a
 * module parameter in sysfs); takes effect for the next MAP_DMA.  On a
 * machine running the tree (PINSIM_IMPL_TREE) anything but the policy its
 * profile declares (LEGACY, or EAGAIN for "+eagain") is -1/EINVAL.
 */
int pinsim_set_retry_policy(struct pinsim *m, enum pinsim_retry_policy policy,
			    unsigned int bound) PINSIM_API;
int pinsim_add_device(struct pinsim *m, const struct pinsim_device_spec *d,
		      int *group_id) PINSIM_API;
/*
 * What a device's config space says (0 = default): vendor/device
 * 1b36:0005, class 0xff0000.  Every device has Power Management, MSI
 * (64-bit) and PCI Express capabilities; msi_vectors (1, 2, 4, ..., 32; 0 =
 * 1) is MSI's Multiple Message Capable (VFIO_PCI_MSI_IRQ_INDEX count),
 * msi_maskbit adds per-vector masking.  msix_vectors 1..2048 adds an MSI-X
 * capability (VFIO_PCI_MSIX_IRQ_INDEX count) whose table (offset 0) and PBA
 * sit in BAR msix_bar; 0 = no MSI-X.  pinsim_add_device() gives defaults.
 */
struct pinsim_device_pci {
	uint16_t vendor_id, device_id;
	uint32_t class_code;
	uint16_t msix_vectors;
	uint8_t msix_bar;
	uint8_t msi_vectors;
	bool msi_maskbit;
};
int pinsim_add_device_pci(struct pinsim *m, const struct pinsim_device_spec *d,
			  const struct pinsim_device_pci *pci, int *group_id) PINSIM_API;

int pinsim_proc_create(struct pinsim *m, struct pinsim_proc **out) PINSIM_API;
void pinsim_proc_destroy(struct pinsim_proc *p) PINSIM_API;
/*
 * The calling host thread ends (kernel/exit.c do_exit() for a thread): its
 * task in each process it acted in runs its queued task_work, leaves the
 * thread group and is freed.  A process's first task (its leader) and a
 * task that oopsed stay until the process goes.  Call it before a thread
 * that used pinsim returns; without it the thread's tasks stay until their
 * process is destroyed.  The thread may use pinsim again afterwards, as a
 * new thread.
 */
void pinsim_thread_exit(void) PINSIM_API;
/*
 * setrlimit(2) for RLIMIT_MEMLOCK (the only resource simulated; anything
 * else: -1/EINVAL, as is rlim_cur > rlim_max).  A new process starts with
 * 8 MiB (the kernel's MLOCK_LIMIT, Debian's default ulimit -l) and no
 * CAP_IPC_LOCK; a child of pinsim_fork() inherits both.  VFIO type1
 * charges every pinned RAM page to mm->locked_vm (pinsim_proc_stats()) and
 * fails MAP_DMA past the limit with -1/ENOMEM, so a VMM's guest RAM needs
 * the limit raised first, as QEMU's user does with ulimit -l or
 * LimitMEMLOCK=:
 *   struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };  (or a byte count)
 *   pinsim_setrlimit(p, RLIMIT_MEMLOCK, &rl);
 * or the process gets pinsim_set_cap_ipc_lock(p, true), which bypasses it.
 * No CAP_SYS_RESOURCE check: raising the hard limit is allowed.  A lower
 * limit applies to the next pin; pages already pinned stay.
 */
int pinsim_setrlimit(struct pinsim_proc *p, int resource, const struct rlimit *rl) PINSIM_API;
/* Grant or drop CAP_IPC_LOCK for the process. */
int pinsim_set_cap_ipc_lock(struct pinsim_proc *p, bool on) PINSIM_API;
/* SIGKILL the process: its tasks see a pending fatal signal. */
int pinsim_kill(struct pinsim_proc *p) PINSIM_API;

/*
 * The VFIO character devices: open(2) of /dev/vfio/vfio (a container) and
 * /dev/vfio/<group>; ioctl(2) with the requests and structs of
 * <linux/vfio.h>; close(2).  Device fds come from VFIO_GROUP_GET_DEVICE_FD.
 * Closing the last reference to a container removes every mapping and
 * unpins every page.  Unknown requests: -1/ENOTTY.
 *
 * The requests supported, by fd:
 *   container: VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU,
 *     and once an IOMMU is set VFIO_IOMMU_GET_INFO (with its capability
 *     chain), VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA (flags GET_DIRTY_BITMAP,
 *     ALL, VADDR), VFIO_IOMMU_DIRTY_PAGES; extensions answered:
 *     VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL,
 *     VFIO_UPDATE_VADDR, VFIO_DMA_CC_IOMMU, VFIO_TYPE1_NESTING_IOMMU (only
 *     under a kernel with vfio_type1_nesting);
 *   group: VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER,
 *     VFIO_GROUP_UNSET_CONTAINER, VFIO_GROUP_GET_DEVICE_FD;
 *   device: VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO,
 *     VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET,
 *     VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, VFIO_DEVICE_PCI_HOT_RESET,
 *     VFIO_DEVICE_FEATURE (validated; no feature is supported: ENOTTY).
 * Not there: iommufd and the device cdev, VFIO_DEVICE_IOEVENTFD, migration
 * and the SPAPR/noiommu backends.
 *
 * Arguments are passed as ioctl(2) passes them.  A struct request takes a
 * pointer to the struct (argsz set).  VFIO_CHECK_EXTENSION and
 * VFIO_SET_IOMMU take the integer itself, not a pointer to it, cast:
 *   pinsim_ioctl(p, container, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
 *   pinsim_ioctl(p, container, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1_IOMMU);
 * VFIO_GROUP_SET_CONTAINER takes a pointer to an int holding the container
 * fd (int fd = container; ... &fd), as in the kernel.  Return values are
 * ioctl(2)'s: a new fd for GET_DEVICE_FD, the API version or extension
 * answer, else 0; -1 and errno on failure.
 */
int pinsim_open(struct pinsim_proc *p, const char *path, int flags) PINSIM_API;
int pinsim_close(struct pinsim_proc *p, int fd) PINSIM_API;
int pinsim_ioctl(struct pinsim_proc *p, int fd, unsigned long req, void *arg) PINSIM_API;
/* pread(2)/pwrite(2) of a device fd: the config region and the BARs. */
ssize_t pinsim_pread(struct pinsim_proc *p, int fd, void *buf, size_t len,
		     uint64_t off) PINSIM_API;
ssize_t pinsim_pwrite(struct pinsim_proc *p, int fd, const void *buf, size_t len,
		      uint64_t off) PINSIM_API;
/*
 * The device of @group_id raises interrupt @vector of IRQ index @index
 * (VFIO_PCI_INTX_IRQ_INDEX, _MSIX_, _ERR_, _REQ_ of <linux/vfio.h>), as the
 * hardware would: what the user set with VFIO_DEVICE_SET_IRQS decides.
 * Returns 1 if an eventfd was signalled (write(2) of 1, eventfd_signal()),
 * 0 if not: INTx masked (it stays pending, PCI_STATUS_INTERRUPT set, and
 * is sent at the unmask), virtually disabled (PCI_COMMAND_INTX_DISABLE) or
 * not enabled; an MSI-X vector not enabled, without a trigger, or Bus
 * Master off in PCI_COMMAND; no ERR/REQ trigger.  -1/EINVAL for an index
 * or vector the device does not have, -1/ENODEV for no such group.
 */
int pinsim_device_raise_irq(struct pinsim *m, int group_id, unsigned int index,
			    unsigned int vector) PINSIM_API;
/*
 * The device of @group_id sends interrupt @vector the way its own config
 * registers say, as hardware picks: MSI-X when its MSI-X Enable is set,
 * else MSI when MSI Enable is set, else INTx (vector 0).  What happens
 * then, and the result, are pinsim_device_raise_irq()'s for that index
 * (an MSI vector masked by its per-vector Mask bit is held pending and
 * sent when unmasked).  -1/EINVAL for a vector past that type's count.
 */
int pinsim_device_interrupt(struct pinsim *m, int group_id, unsigned int vector) PINSIM_API;

/*
 * A device of @group_id reads (write = 0) or writes (write = 1) memory at
 * @iova through its IOMMU domain.  Returns @len, or -1/EFAULT on an IOMMU
 * fault (unmapped iova or missing permission; recorded in the stats).
 *
 * Peer-to-peer: an iova mapped to another device's BAR (MAP_DMA of a BAR
 * mmap) reads and writes that BAR's bytes.  Memory decode is NOT checked
 * on this path: with the target's PCI_COMMAND_MEMORY off (a guest sizing
 * BARs, D3hot, a reset in progress), and after the BAR's CPU mappings were
 * zapped for it, the DMA still reaches the BAR and succeeds, because the
 * IOMMU mapping stands: vfio type1 keeps a pfnmap's IOMMU mapping until
 * UNMAP_DMA, a zap does not touch it, as in the kernel.  Real hardware
 * differs at the target: a device with decode off does not claim the
 * request, which ends as an Unsupported Request (master abort): posted
 * writes are dropped, reads complete with all-ones data or an error the
 * requester's driver sees, possibly an AER report.  Do not draw
 * conclusions about such DMAs from pinsim; CPU access through the BAR
 * mmap is modelled (SIGBUS, pinsim_touch() -1/EIO, pread/pwrite -1/EIO).
 */
ssize_t pinsim_dma(struct pinsim *m, int group_id, uint64_t iova, void *buf, size_t len,
		   int write) PINSIM_API;
/* The IOMMU translation of @iova for @group_id: phys and leaf size (4K/2M/1G). */
int pinsim_iommu_lookup(struct pinsim *m, int group_id, uint64_t iova, uint64_t *phys,
			uint64_t *leaf_size) PINSIM_API;

/* VFIO type1 pinning statistics of a container. */
struct pinsim_pin_counters {
	uint64_t vaddr_get_pfns;	/* vaddr_get_pfns() calls */
	uint64_t gup_calls;		/* pin_user_pages_remote() calls */
	uint64_t follow_failures;	/* follow_pfnmap_start() failures */
	uint64_t faults;		/* fixup_user_fault() calls */
	uint64_t retries;		/* retry-policy rounds */
	uint64_t eagain_loops;		/* vaddr_get_pfns() -EAGAIN loops */
	uint64_t iommu_maps;		/* vfio_iommu_map() calls (one per run) */
	uint64_t pinned_pages;		/* RAM pages pinned */
	uint64_t pfnmap_pages;		/* MMIO pfns mapped (not pinned) */
};
struct pinsim_vfio_stats {
	struct pinsim_pin_counters total, last;	/* all MAP_DMAs; the last one */
	uint64_t map_ok, map_einval, map_efault, map_enomem, map_ebusy, map_eintr,
		map_other;			/* MAP_DMA outcomes */
	uint64_t nr_dmas, dma_avail;
};
int pinsim_vfio_stats(struct pinsim_proc *p, int container_fd,
		      struct pinsim_vfio_stats *st) PINSIM_API;

/*
 * mmap(2)/munmap(2): anonymous and hugetlb memory (MAP_HUGETLB|MAP_HUGE_2MB/
 * 1GB), device fds at a region offset (index << 40, MAP_SHARED), and shared
 * memory fds (pinsim_memfd_create(), pinsim_open() of /dev/shm and
 * hugetlbfs paths) MAP_SHARED or MAP_PRIVATE.  MAP_SHARED|MAP_ANONYMOUS
 * memory is a shmem file of its own, as in the kernel (shared with a
 * pinsim_fork() child through the page cache).
 */
uint64_t pinsim_mmap(struct pinsim_proc *p, uint64_t addr, uint64_t len, int prot,
		     int flags, int fd, uint64_t off) PINSIM_API;
int pinsim_munmap(struct pinsim_proc *p, uint64_t addr, uint64_t len) PINSIM_API;
/*
 * Shared memory files (mm/shmem.c, fs/hugetlbfs, mm/memfd.c), fds in the
 * same table as the VFIO fds:
 *  - pinsim_memfd_create(): memfd_create(2) with MFD_CLOEXEC,
 *    MFD_ALLOW_SEALING (accepted, no seals modelled), MFD_HUGETLB with
 *    MFD_HUGE_2MB/MFD_HUGE_1GB (a hugetlbfs file; another size ENODEV);
 *    EINVAL for other flags or a name over 249 bytes.  Size 0.
 *  - pinsim_open() of "/dev/shm/NAME" (shm_open(3)), "/dev/hugepages/NAME"
 *    (2M) or "/dev/hugepages1G/NAME" (1G): O_CREAT, O_EXCL, O_TRUNC and
 *    O_ACCMODE honoured; pinsim_unlink() removes the name (shm_unlink(3),
 *    unlink(2)); the file lives while an fd or a mapping holds it.
 *  - pinsim_ftruncate(): the size (hugetlbfs: whole huge pages, else
 *    EINVAL); shrinking zaps every mapping's pages past the end (a later
 *    access there: SIGBUS, a MAP_DMA: EFAULT) and frees them, except
 *    pages a device has pinned, which live until the unmap.
 *  - pinsim_fallocate(): mode 0, FALLOC_FL_KEEP_SIZE, and
 *    FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE.
 * A VFIO fd is EINVAL for ftruncate and ENODEV for fallocate, as an anon
 * inode is.  Not modelled: read/write/pread of these fds, seals, fstat.
 */
int pinsim_memfd_create(struct pinsim_proc *p, const char *name, unsigned int flags) PINSIM_API;
int pinsim_ftruncate(struct pinsim_proc *p, int fd, int64_t length) PINSIM_API;
int pinsim_fallocate(struct pinsim_proc *p, int fd, int mode, int64_t offset,
		     int64_t len) PINSIM_API;
int pinsim_unlink(struct pinsim_proc *p, const char *path) PINSIM_API;
/*
 * madvise(2): MADV_HUGEPAGE, MADV_NOHUGEPAGE, and for fork MADV_DONTFORK,
 * MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK (mm/madvise.c).
 *
 * And the discard, MADV_DONTNEED (MADV_DONTNEED_LOCKED also takes VM_LOCKED
 * memory), as 6.12's madvise_dontneed_free(): under the mmap READ lock, so
 * concurrently with faults, walks and pinning; anonymous, THP (a huge page
 * the range covers only partly is split, its pages in the range dropped)
 * and hugetlb memory (whole huge pages: the start must be aligned, -1
 * EINVAL otherwise, and the end is rounded down); VM_PFNMAP (device BARs)
 * and, for MADV_DONTNEED, VM_LOCKED ranges are -1 EINVAL; an unmapped
 * hole is -1 ENOMEM after the mapped parts were discarded.  The mapping's
 * reference is dropped and nothing else: a page pinned for DMA stays
 * pinned with its contents, and the next CPU touch of the address reads a
 * fresh zero page.  A device DMA to such a page afterwards is reported by
 * the DMA checker as a coherency violation (pinsim_checker_reports(),
 * kind "dma-coherency").
 */
int pinsim_madvise(struct pinsim_proc *p, uint64_t addr, uint64_t len, int advice) PINSIM_API;
/*
 * mprotect(2) (mm/mprotect.c do_mprotect_pkey()): PROT_READ/WRITE/EXEC/NONE
 * on whole VMAs or split ones; -1 with the kernel's errno (EINVAL unaligned
 * or bad flags, ENOMEM unmapped hole, EACCES beyond VM_MAY*).
 */
int pinsim_mprotect(struct pinsim_proc *p, uint64_t addr, uint64_t len, int prot) PINSIM_API;
/*
 * mremap(2) (mm/mremap.c): MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP.
 * The new address, or (uint64_t)-1 with errno set.
 */
uint64_t pinsim_mremap(struct pinsim_proc *p, uint64_t old_addr, uint64_t old_len,
		       uint64_t new_len, int flags, uint64_t new_addr) PINSIM_API;
/*
 * mlock(2)/mlock2(2) (@flags 0 or MLOCK_ONFAULT), munlock(2), mlockall(2),
 * munlockall(2) (mm/mlock.c): VM_LOCKED and mm->locked_vm, the counter
 * VFIO type1 also charges, checked against RLIMIT_MEMLOCK unless
 * CAP_IPC_LOCK.
 */
int pinsim_mlock(struct pinsim_proc *p, uint64_t addr, uint64_t len, int flags) PINSIM_API;
int pinsim_munlock(struct pinsim_proc *p, uint64_t addr, uint64_t len) PINSIM_API;
int pinsim_mlockall(struct pinsim_proc *p, int flags) PINSIM_API;
int pinsim_munlockall(struct pinsim_proc *p) PINSIM_API;
/*
 * fork(2) of a simulated process (kernel/fork.c copy_process() without
 * CLONE_VM/CLONE_FILES): a new process in the same machine whose mm is
 * dup_mmap()'s copy of @parent's (VM_DONTCOPY VMAs skipped, VM_WIPEONFORK
 * ones empty, private anonymous memory copy-on-write, pinned anonymous
 * pages copied at fork as copy_present_page() does, shared mappings and
 * pfnmaps shared) and whose fd table refers to the same open files (a VFIO
 * container or device fd inherited by the child is the same file).  Child
 * in *@child; -1/ENOMEM changes nothing.
 */
int pinsim_fork(struct pinsim_proc *parent, struct pinsim_proc **child) PINSIM_API;
/*
 * The process's CPU touching its memory: faults pages in, then copies.
 * Returns bytes copied; a fault on the first page is -1/EFAULT, a later one
 * a short count.
 */
ssize_t pinsim_access(struct pinsim_proc *p, uint64_t addr, void *buf, size_t len,
		      int write) PINSIM_API;

/*
 * A long-term pin of a user range, the way a driver registering a buffer
 * does it (pin_user_pages(FOLL_PIN|FOLL_LONGTERM) plus locked_vm
 * accounting against RLIMIT_MEMLOCK, CAP_IPC_LOCK bypassing the limit).
 */
int pinsim_pin_user_pages(struct pinsim_proc *p, uint64_t addr, uint64_t len, int write,
			  struct pinsim_pin **out) PINSIM_API;
int pinsim_unpin_user_pages(struct pinsim_pin *pin) PINSIM_API;

/* ---- for a host process mirroring the simulated one (preload/) ---- */

struct pinsim_page_info;
/*
 * The process's CPU touching @addr (a read, or a write if @write), as the
 * MMU would: fault the page in if it is not mapped (or not writable for a
 * write), copy nothing, then report what maps it in @info (as
 * pinsim_pagemap()).  -1/EFAULT where the CPU would get SIGSEGV (no VMA,
 * or the VMA does not allow the access), -1/EIO where it would get SIGBUS
 * (a fault handler's VM_FAULT_SIGBUS, e.g. a BAR with memory decode off).
 */
int pinsim_touch(struct pinsim_proc *p, uint64_t addr, int write,
		 struct pinsim_page_info *info) PINSIM_API;
/*
 * On a machine created with cfg.shared_memory: the memfd holding frame
 * @pfn's bytes (RAM or a BAR; owned by the machine, valid until
 * pinsim_destroy()) and the frame's offset in it in *@off.  mmap(2) of
 * that range MAP_SHARED shares the frame's bytes with the simulated
 * machine.  -1/ENODEV for a pfn with nothing behind it or a machine
 * without shared_memory.
 */
int pinsim_phys_fd(struct pinsim *m, uint64_t pfn, uint64_t *off) PINSIM_API;
/*
 * A secondary MMU's notifier (mm/mmu_notifier.c, trimmed to one subscriber
 * and the end of an invalidation): @fn runs after the simulated kernel
 * cleared leaves of [start, end) in @p (a zap: munmap, a device's BAR zap,
 * a reset, the injector; a split that clears a huge leaf).  It may run on
 * any thread, with simulated locks held: it must not call pinsim.  A host
 * mirror drops [start, end) there, so that the next CPU touch faults in
 * through pinsim_touch() again.  Set once per process (again: EBUSY; NULL:
 * nothing), since a zap on another thread may be running it; it stops when
 * pinsim_proc_destroy() starts (exit_mmap()'s mmu_notifier_release()).
 */
typedef void pinsim_zap_fn(void *data, uint64_t start, uint64_t end);
int pinsim_set_zap_notifier(struct pinsim_proc *p, pinsim_zap_fn *fn, void *data) PINSIM_API;

/* What maps one address, like /proc/pid/pagemap + /proc/kpagecount. */
enum pinsim_level {
	PINSIM_LEVEL_NONE = 0,
	PINSIM_LEVEL_PTE = 1,
	PINSIM_LEVEL_PMD = 2,
	PINSIM_LEVEL_PUD = 3,
};
struct pinsim_page_info {
	enum pinsim_level level;
	uint64_t pfn;
	bool writable, special, mmio;
	unsigned int folio_order;	/* RAM only */
	/*
	 * Of the folio, RAM only.  FOLL_PIN is counted as the kernel counts it
	 * (mm/gup.c try_grab_folio()): a large folio (THP, hugetlb) keeps an
	 * exact pincount beside refcount += 1 per pin; a small (4 KiB, order-0)
	 * folio has no pincount field, each pin adds GUP_PIN_COUNTING_BIAS
	 * (1024) to its refcount.  For a small folio pincount is therefore
	 * refcount / 1024, the kernel's folio_maybe_dma_pinned() estimate: 1024
	 * plain references would read as one pin.  refcount includes the pins.
	 */
	int refcount, pincount;
};
int pinsim_pagemap(struct pinsim_proc *p, uint64_t addr, struct pinsim_page_info *info) PINSIM_API;

struct pinsim_proc_stats {
	uint64_t locked_vm;		/* pages */
	uint64_t faults_pte, faults_pmd, faults_pud;
	uint64_t fault_fallbacks, fault_retries;
	uint64_t nr_vmas, pgtable_pages;
};
int pinsim_proc_stats(struct pinsim_proc *p, struct pinsim_proc_stats *st) PINSIM_API;

struct pinsim_stats {
	uint64_t ram_bytes;
	uint64_t pages_allocated;	/* RAM frames in use, page tables included */
	uint64_t hugetlb_2m_total, hugetlb_2m_free;
	uint64_t hugetlb_1g_total, hugetlb_1g_free;
	uint64_t bytes_per_frame;	/* struct page size */
	uint64_t oopses, warnings;
	uint64_t tasks;			/* simulated tasks alive, every process */
	char last_oops[256];
	/* the simulated IOMMU */
	uint64_t iommu_map_calls, iommu_unmap_calls, iotlb_syncs;
	uint64_t iommu_leaves_4k, iommu_leaves_2m, iommu_leaves_1g;	/* installed */
	uint64_t dma_faults;		/* unmapped iova or missing permission */
	uint64_t dma_violations;	/* a DMA reached a RAM frame no longer pinned */
	bool jemalloc;			/* statistics below are valid */
	uint64_t jemalloc_allocated, jemalloc_resident;
};
int pinsim_stats(struct pinsim *m, struct pinsim_stats *st) PINSIM_API;

/*
 * /proc/<pid>/numa_maps of the process, read by a task of that process:
 * the kernel's format, one line per VMA.  Like the kernel's reader, it walks
 * BAR VMAs with a pmd_entry and no pud_entry, so it zaps (splits) every 1G
 * pfnmap PUD leaf it meets.  Returns the length (the text is truncated to
 * @len - 1 and NUL-terminated), or -1/EINTR if killed while waiting for
 * mmap_lock, -1/EOWNERDEAD if the reading task oopsed.
 */
ssize_t pinsim_read_numa_maps(struct pinsim_proc *p, char *buf, size_t len) PINSIM_API;

/* A thread reading the process's numa_maps in a loop (the seeds/01 reader). */
struct pinsim_walker;
struct pinsim_walker_opts {
	unsigned int interval_us;	/* pause between two reads */
	unsigned long max_iterations;	/* 0 = until stopped */
};
struct pinsim_walker_result {
	unsigned long reads;		/* reads completed */
	bool oopsed;			/* the reader task died in a read */
	bool hung;			/* still blocked on mmap_lock when stopped */
	int last_errno;			/* 0, or the last errno a read gave */
	char oops[256];			/* what it died of */
};
int pinsim_walker_start(struct pinsim_proc *p, const struct pinsim_walker_opts *opts,
			struct pinsim_walker **out) PINSIM_API;
void pinsim_walker_stop(struct pinsim_walker *w, struct pinsim_walker_result *res) PINSIM_API;

/*
 * Races on demand: the zap/refault injector.
 *
 * A rule fires an action at a named schedule point of the simulated kernel:
 * on the nth hit, with a probability drawn from a seeded generator, or on
 * every hit (probability 1.0: the lockstep adversary of seeds/03).
 */
enum pinsim_point {
	PINSIM_SP_WALK_PUD_AFTER_SPLIT,		/* walk_pud_range, after split_huge_pud */
	PINSIM_SP_WALK_PMD_ENTRY,		/* walk_pmd_range entry */
	PINSIM_SP_FOLLOW_PFNMAP_LOCKLESS,	/* follow_pfnmap_start: read → lock */
	PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP,	/* follow_fault_pfn, after fixup_user_fault */
	PINSIM_SP_FAULT_BEFORE_INSERT,		/* a pfnmap fault, before it inserts */
	PINSIM_SP_ZAP_BEFORE_CLEAR,		/* a zap, before it clears an entry */
	PINSIM_SP_PIN_BETWEEN_RUNS,		/* vfio_pin_map_dma, between two runs */
	PINSIM_SP_MMAP_LOCK,			/* before taking mmap_lock */
	PINSIM_SP_PTL,				/* before taking a page-table lock */
	PINSIM_SP_WALK_PMD_AFTER_SPLIT,		/* walk_pmd_range, after split_huge_pmd */
	PINSIM_SP_MADV_DONTNEED_ZAP,		/* MADV_DONTNEED, before each VMA's zap */
	PINSIM_SP_THREAD_START,			/* a controlled thread's start (tests' late threads) */
	PINSIM_NR_POINTS,
};

enum pinsim_inject_action {
	PINSIM_INJECT_ZAP_BARS,		/* vfio_pci_zap_bars(): decode toggle / reset */
	PINSIM_INJECT_REFAULT,		/* fault @addr in, as a vCPU touching the BAR */
	PINSIM_INJECT_SPLIT_PUD,	/* split_huge_pud() at @addr, as a walker would */
	PINSIM_INJECT_FAULT_RETRY,	/* the next fault drops and retakes mmap_lock */
	PINSIM_INJECT_FATAL_SIGNAL,	/* SIGKILL the process */
	PINSIM_NR_INJECT_ACTIONS,
};

struct pinsim_inject_rule {
	enum pinsim_point point;
	enum pinsim_inject_action action;
	int group_id;			/* ZAP_BARS: the device */
	struct pinsim_proc *proc;	/* the other actions: the target process */
	uint64_t addr;			/* REFAULT / SPLIT_PUD; 0 = the point's address */
	unsigned long nth;		/* fire on the nth hit (1-based); 0 = by probability */
	double probability;		/* nth == 0: per hit, 1.0 = every hit (lockstep) */
	unsigned long max_fires;	/* 0 = unlimited */
	uint64_t seed;			/* for probability */
};

/* Add a rule (returns its id >= 0), clear all rules, read a rule's counters. */
int pinsim_inject_add(struct pinsim *m, const struct pinsim_inject_rule *rule) PINSIM_API;
int pinsim_inject_clear(struct pinsim *m) PINSIM_API;
int pinsim_inject_stats(struct pinsim *m, int rule, unsigned long *hits,
			unsigned long *fires) PINSIM_API;

/*
 * Allocation-failure injection, as the kernel's fault-injection framework
 * (failslab, fail_page_alloc, /proc/self/fail-nth; sim/fault_inject.h).
 * Kinds of simulated allocation:
 *   PINSIM_FAIL_SLAB          kmalloc() of kernel objects: struct vfio_dma,
 *                             vfio_iommu, vfio_domain, vfio_iommu_group,
 *                             vfio_regions, dirty bitmaps, VMAs, tasks, IOMMU
 *                             domains
 *   PINSIM_FAIL_PAGE          folio allocations: anon 4K and THP folios, the
 *                             mmu_gather batch page
 *   PINSIM_FAIL_PGTABLE       CPU page-table pages
 *   PINSIM_FAIL_IOMMU_PGTABLE IOMMU page-table pages
 * A failed allocation is the -ENOMEM of that kernel path (or its fallback:
 * a THP fault falls back to 4K, VFIO_IOMMU_UNMAP_DMA to the slow unmap),
 * never a host abort.
 *
 * pinsim_fail_nth(): arm the CALLING host thread, for process @p only
 * (allocations it makes while acting as a task of @p): the @nth allocation
 * of one of @kinds from now fails, the ones before it succeed, and the
 * counter is then off.  So the next pinsim_* call on @p from this thread
 * that makes >= @nth such allocations fails its @nth; a call that makes
 * fewer leaves the counter at @nth minus the number made.  @nth == 0 or
 * @kinds == 0 disarms (also an armed pinsim_fail_every()).
 * pinsim_fail_every(): every allocation of @kinds by this thread for @p
 * fails until disarmed (@kinds == 0).
 * pinsim_fail_nth_read(): the counter, as a read of /proc/self/fail-nth: 0
 * once the failure was injected (or when off), > 0 when the calls since
 * arming made fewer allocations than @nth.  @injected (may be NULL): the
 * failures injected since the thread was last armed.
 * Errors: EINVAL (NULL @p, unknown bits in @kinds).  One machine per host
 * process; the counter is per thread, other threads allocate normally.
 */
#define PINSIM_FAIL_SLAB		(1u << 0)
#define PINSIM_FAIL_PAGE		(1u << 1)
#define PINSIM_FAIL_PGTABLE		(1u << 2)
#define PINSIM_FAIL_IOMMU_PGTABLE	(1u << 3)
#define PINSIM_FAIL_ALL			((1u << 4) - 1)
int pinsim_fail_nth(struct pinsim_proc *p, unsigned int nth, unsigned int kinds) PINSIM_API;
int pinsim_fail_every(struct pinsim_proc *p, unsigned int kinds) PINSIM_API;
unsigned int pinsim_fail_nth_read(unsigned long *injected) PINSIM_API;

/* A background thread firing an action at a rate, like a guest toggling decode. */
struct pinsim_injector;
struct pinsim_injector_opts {
	enum pinsim_inject_action action;
	int group_id;
	struct pinsim_proc *proc;
	uint64_t addr;
	uint64_t len;			/* REFAULT: a random page in [addr, addr+len) */
	double rate_hz;			/* mean firings per second (exponential gaps) */
	uint64_t seed;
};
int pinsim_injector_start(struct pinsim *m, const struct pinsim_injector_opts *opts,
			  struct pinsim_injector **out) PINSIM_API;
/* Stop and join; returns the number of firings. */
unsigned long pinsim_injector_stop(struct pinsim_injector *inj) PINSIM_API;

/*
 * Controlled executions: the deterministic scheduler.  The threads run one
 * at a time and switch only at schedule points (by default the race points:
 * every PINSIM_SP_* but PINSIM_SP_MMAP_LOCK and PINSIM_SP_PTL), when one
 * would block on a simulated lock, and when one ends.  The schedule string
 * of the result replays the run exactly (also through PINSIM_SCHEDULE in
 * the environment).  A deadlock (every live thread blocked, for instance on
 * mmap_lock held by a task that oopsed) or a livelock (the step budget ran
 * out) ends the run with a report instead of hanging.
 */
struct pinsim_thread {
	const char *name;
	struct pinsim_proc *proc;	/* the thread is a task of this process */
	long (*fn)(void *arg);		/* calls pinsim_* functions */
	void *arg;
	long ret;			/* out: fn's return value */
	bool died;			/* out: the task oopsed or was ended */
};

enum pinsim_sched_status {
	PINSIM_SCHED_DONE,
	PINSIM_SCHED_DEADLOCK,
	PINSIM_SCHED_LIVELOCK,
};

struct pinsim_sched_opts {
	const char *schedule;		/* replay this; NULL: see seed */
	uint64_t seed;			/* 0: run each thread until it blocks; else PCT */
	unsigned int pct_depth;		/* PCT bug depth (default 2) */
	unsigned int pct_steps;		/* PCT: expected decisions (default 64) */
	uint32_t points;		/* bit per enum pinsim_point; 0 = the race points */
	unsigned long step_budget;	/* 0 = 100000 */
};

struct pinsim_sched_result {
	enum pinsim_sched_status status;
	unsigned long steps;
	unsigned int decisions, preemptions;
	char schedule[8193];
	char report[256];
	/*
	 * Checker reports (pinsim_checker_reports(): lock order, walker, DMA,
	 * numa_maps and locked_vm checks) made during this run, so that a
	 * search stops on one without diffing counters; 0 when none.  The
	 * reports themselves carry @schedule's prefix up to each.
	 */
	unsigned int checker_reports;
};

int pinsim_sched_run(struct pinsim *m, struct pinsim_thread *threads, int n,
		     const struct pinsim_sched_opts *opts,
		     struct pinsim_sched_result *res) PINSIM_API;

/*
 * Bounded exhaustive search (issue 15): every schedule of a few threads
 * with at most @preemption_bound preemptions at the @points decision
 * points (CHESS-style preemption bounding, stateless re-execution), each
 * execution in a world built afresh.  Deterministic: the same world, the
 * same options give the same executions in the same order, schedule for
 * schedule, in every process and on every machine.
 *
 * For each execution, @setup builds the world — pinsim_create() a machine,
 * its processes, files, mappings — and fills @threads (each a task of a
 * process of that one machine), returning their number (1 to
 * PINSIM_EXPLORE_MAX_THREADS), or -1 having created nothing (the search
 * ends: -1 with setup's errno, or EINVAL).  The threads then run under the
 * scheduler; @check judges the execution (@res: status, the schedule that
 * replays it with pinsim_sched_run() or PINSIM_SCHEDULE, this run's
 * checker reports; @threads' ret and died) and returns false to stop the
 * search (a bug: @st->bug holds it).  @teardown (may be NULL) frees what
 * setup allocated outside pinsim, without calling pinsim on the world:
 * pinsim_explore() pinsim_destroy()s the machine itself, after teardown,
 * every one of them — also when a task oopsed, or a thread the search
 * ended (a deadlock, a livelock, a run cut short by the reduction or by
 * sharding) keeps its locks for good: the teardown does not wait for them.
 *
 * @reduce: sleep sets (partial-order reduction): two steps that touch
 * disjoint objects (different locks, page-table entries, mms) are not tried
 * in both orders.  It reaches every outcome the plain search reaches, in
 * fewer executions; some executions it starts are cut short ("pruned",
 * never checked).  It sees only what the simulated kernel's schedule points
 * and locks name: a thread's start names nothing, and a thread's own code
 * between pinsim calls is invisible to it.  So a thread function must touch
 * nothing another thread of the execution touches except through pinsim
 * calls — its code before its first call in particular (it may fill its own
 * results, read data setup wrote, and keep per-thread state).  Threads that
 * share data of their own (a flag one sets and another reads) need @reduce
 * off: with it, orders of that data would be lost.
 *
 * Checker reports (pinsim_checker_reports()) stop the search after the
 * execution that made the first one is checked, as a failed check does;
 * with @collect_reports the search goes on and counts them.
 *
 * Sharding: the distinct decision prefixes of length @shard_depth (0: 1),
 * numbered in the search's order, belong to shard (number mod @nr_shards).
 * Shard @shard runs the executions that reach a new prefix up to that depth
 * ("probes": cut short, never checked) and explores and checks only its own
 * prefixes' subtrees: over the @nr_shards shards, the checked executions
 * are the unsharded search's, each exactly once.  Their schedules sum to
 * the unsharded count when every shard is complete.
 */
#define PINSIM_EXPLORE_MAX_THREADS 8

struct pinsim_explore_ops {
	int (*setup)(void *ctx, struct pinsim_thread *threads);
	bool (*check)(void *ctx, struct pinsim_thread *threads, int n,
		      const struct pinsim_sched_result *res);
	void (*teardown)(void *ctx);
};

struct pinsim_explore_opts {
	uint32_t points;		/* bit per enum pinsim_point; 0 = the race points */
	unsigned int preemption_bound;
	unsigned long max_schedules;	/* checked executions; 0 = no limit */
	unsigned long step_budget;	/* per execution; 0 = 100000 */
	bool reduce;			/* sleep-set reduction */
	bool collect_reports;		/* checker reports do not stop the search */
	unsigned int shard, nr_shards;	/* nr_shards 0 or 1: one search; at most 10000 */
	unsigned int shard_depth;	/* 0 = 1; at most 64 */
};

struct pinsim_explore_stats {
	unsigned long schedules;	/* executions run and checked */
	unsigned long deadlocks, livelocks;	/* of those */
	unsigned long pruned;		/* cut short by the reduction */
	unsigned long sleep_skips;	/* choices the reduction did not try */
	unsigned long probes;		/* sharding: runs into other shards' prefixes */
	unsigned long prefixes, own_prefixes;	/* sharding: numbered, this shard's */
	bool complete;			/* the whole bounded space (this shard's) was explored */
	bool stopped;			/* check() returned false */
	bool checker_report;		/* an execution made a checker report */
	unsigned long checker_reports;	/* executions that made one */
	/*
	 * Coverage: bit b of @order[a] is set when an execution passed point b
	 * on one thread while another stood at point a (a seen before b);
	 * @coverage_pairs counts the pairs seen in both orders.  The union over
	 * shards (OR) is the unsharded search's.
	 */
	uint32_t order[PINSIM_NR_POINTS];
	unsigned int coverage_pairs;
	/* The first execution that made a checker report or failed check(). */
	struct pinsim_sched_result bug;
};

/*
 * 0, or -1 with errno: EINVAL for a NULL or bad argument (a shard not
 * below @nr_shards, too many shards, a point that does not exist; nothing
 * is run, setup is not called), a bad thread from setup; setup's errno;
 * EBUSY when called from inside a controlled execution.  @st is filled
 * either way for what ran.  No other thread may call pinsim meanwhile.
 */
int pinsim_explore(const struct pinsim_explore_ops *ops, void *ctx,
		   const struct pinsim_explore_opts *opts,
		   struct pinsim_explore_stats *st) PINSIM_API;

/*
 * Inside @check: where the execution stands in the search's order, the
 * same in every shard as in the unsharded search (same world, points,
 * bound, reduction, shard_depth): *@prefix is the number of its decision
 * prefix of length shard_depth (0 for the first), *@index its rank among
 * the checked executions of that prefix.  Executions sort by (prefix,
 * index) in the unsharded search's order, so the first of something over
 * all shards is the one a single search meets first.  -1 and EINVAL
 * outside a check.
 */
int pinsim_explore_position(unsigned long *prefix, unsigned long *index) PINSIM_API;

/*
 * A trace of what the simulated kernel does at its schedule points, and of
 * oopses: @who is the task's name, @what the event ("walk_pud_range:after_split",
 * "oops: ...", "switch"), @addr the address concerned.  NULL turns it off.
 */
typedef void (*pinsim_trace_fn)(const char *who, const char *what, uint64_t addr, void *priv);
int pinsim_set_trace(struct pinsim *m, pinsim_trace_fn fn, void *priv) PINSIM_API;

/*
 * Where the library's messages go (see "Messages" at the top): @fn(@data,
 * line) for each, one line without its newline, starting "pinsim: ".  NULL
 * restores the default, the line on stderr; a function that does nothing
 * silences them.  Process-wide, usable before pinsim_create() and after
 * pinsim_destroy(); calls of @fn are serialized (never two at once), may
 * come from any thread, and must not call pinsim.
 */
typedef void pinsim_log_fn(void *data, const char *line);
void pinsim_set_log(pinsim_log_fn *fn, void *data) PINSIM_API;

/*
 * The library's version, "MAJOR.MINOR.PATCH" (meson.build's project
 * version): what a program prints for --version and records in its JSON.
 */
const char *pinsim_version(void) PINSIM_API;

/*
 * Who holds what, for a watchdog that found a program blocked: a line for
 * each process whose mmap_lock is held or awaited ("mmap_lock of process
 * vmm (pid 1): held for read by 1 task, 1 writer waiting"), then one for
 * each lock that a task which oopsed (or that the scheduler ended) still
 * holds ("task numa_maps (tid 3) of process vmm oopsed holding mmap_lock
 * of vmm (read)").  Names are task and lock names, never addresses.  Does
 * not take the simulated locks, so it answers while a task is stuck on
 * one.  Returns the length of the whole report, like snprintf(): @buf gets
 * at most @len - 1 bytes and a NUL; "" when nothing is held.
 */
size_t pinsim_lock_report(struct pinsim *m, char *buf, size_t len) PINSIM_API;

/*
 * Checkers (issue 15).  Lock order, after the kernel's lockdep: every
 * simulated lock (mmap_lock, the page-table locks, i_mmap_rwsem, memory_lock,
 * vfio's mutexes and iommu->lock) has a class (its name); the order in which
 * classes are taken is recorded across every run of the host process, and a
 * cycle is reported with the two acquisitions that make it (function names
 * and schedule point) even when no run deadlocked.  Also reported: a
 * sleeping lock (rwsem, mutex) taken under a page-table spinlock, and the
 * release of a lock the task does not hold.
 *
 * Also (sim/checker.h): page walks (a range handed to a callback twice
 * without ACTION_AGAIN, "walk-repeat"), DMA ("dma-unpinned": an IOMMU
 * mapping or a device access reaching a RAM frame that is not pinned;
 * "dma-coherency": a device access to a pinned page that MADV_DONTNEED
 * took from its address), and pins left when everything is closed
 * ("pin-leak").  The DMA checks on a device access run in every mode but
 * OFF (they cost a branch until an MADV_DONTNEED of mapped memory).
 * PINSIM_CHECKERS=1 in the environment is PINSIM_CHECKERS_ALWAYS for the
 * walker, DMA and pin checkers, 0 is OFF.
 *
 * By default (PINSIM_CHECKERS_CONTROLLED) the checks run in every
 * controlled execution (pinsim_sched_run(), the explore search) and cost
 * nothing else; PINSIM_CHECKERS_ALWAYS runs them everywhere, _OFF never.
 * Process-wide: @m is checked but the setting and the reports are shared
 * by every machine of the process (the lock-order graph spans them).
 */
enum pinsim_checkers {
	PINSIM_CHECKERS_CONTROLLED,
	PINSIM_CHECKERS_OFF,
	PINSIM_CHECKERS_ALWAYS,
};
int pinsim_set_checkers(struct pinsim *m, enum pinsim_checkers mode) PINSIM_API;

struct pinsim_checker_report {
	/*
	 * "lock-order", "sleep-in-atomic", "bad-unlock", "lock-depth"; and
	 * "dma-unpinned" (a DMA reached a RAM frame that is not pinned),
	 * "dma-coherency" (a DMA reached a pinned frame that MADV_DONTNEED
	 * took from the address it was pinned for: the process sees another
	 * page there), "walk-repeat" (a page walk handed one range to a
	 * callback twice without ACTION_AGAIN for it), "pin-leak" (pages
	 * still pinned at pinsim_destroy() once every process and container
	 * is gone; checked with PINSIM_CHECKERS_ALWAYS only: it scans memory),
	 * "numa-maps-count" (a numa_maps line counting more pages than its VMA
	 * spans), "locked-vm" (VFIO type1's locked_vm charges out of step with
	 * its live mappings, at UNMAP_DMA and container release).
	 */
	char kind[32];
	char text[1536];	/* what, with the functions; no host addresses */
	char schedule[8193];	/* replays it (PINSIM_SCHEDULE=...); "" outside a run */
};

/*
 * The reports so far: returns how many were made (even past those kept);
 * the first min(that, @max, 32) are copied to @out (may be NULL).  -1 and
 * EINVAL without @m.
 */
int pinsim_checker_reports(struct pinsim *m, struct pinsim_checker_report *out,
			   unsigned int max) PINSIM_API;
/* Forget the reports and the recorded lock order. */
int pinsim_checker_reset(struct pinsim *m) PINSIM_API;

#ifdef __cplusplus
}
#endif

#endif /* PINSIM_PINSIM_H */
