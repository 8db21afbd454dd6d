/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The simulated machine: its configuration (kernel-version and arch
 * switches included), its RAM and MMIO, and the records of oopses and WARNs.
 *
 * There is one machine per host process at a time, like one kernel per
 * machine: the direct map, mem_map and the allocator are globals, so the
 * hot paths (pfn_to_page, phys_to_virt) cost what they cost in the kernel.
 * machine_create() fails with -EBUSY while another machine exists.
 */
#ifndef SIM_MACHINE_H
#define SIM_MACHINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bug.h"
#include "mm.h"

enum thp_mode {
	THP_NEVER = 0,
	THP_MADVISE,		/* VM_HUGEPAGE VMAs only (the default) */
	THP_ALWAYS,
};

enum machine_impl {
	MACHINE_IMPL_REWRITE = 0,	/* pinsim's rewrite (the default) */
	MACHINE_IMPL_TREE,		/* the -Dkernel_tree tree's own code */
};

struct machine_config {
	uint64_t ram_bytes;			/* multiple of 1 GiB */
	unsigned long hugetlb_2m_pages;		/* pool sizes */
	unsigned long hugetlb_1g_pages;
	enum thp_mode thp;

	/* arch: CONFIG_ARCH_HAS_PTE_SPECIAL, _SUPPORTS_PMD_PFNMAP, _PUD_PFNMAP */
	bool arch_has_pte_special;
	bool arch_supports_pmd_pfnmap;
	bool arch_supports_pud_pfnmap;
	/*
	 * c0c6ccd9828c: vm_normal_page_{pmd,pud} look at their own level's
	 * special-bit support.  false = before it, every level uses the PTE
	 * config.
	 */
	bool special_bit_per_level;
	/* Largest order vfio-pci's huge_fault will insert (0, 9 or 18). */
	unsigned int max_bar_fault_order;
	/* mm/pagewalk.c with 9b25a6e3d243 (default true). */
	bool pagewalk_fixed;
	/*
	 * mm/pagewalk.c "fix stale walk->action escaping walk_pmd_range()"
	 * (6.12.115): ACTION_SUBTREE is set before the none checks.
	 */
	bool pagewalk_stale_action_fix;
	/* fs/proc/task_mmu.c gather_hugetlb_stats() under huge_pte_lock(). */
	bool task_mmu_hugetlb_ptl;
	/*
	 * vfio-pci's get_unmapped_area aligns a BAR mmap by its length to the
	 * largest huge-fault order; without it (6.12) the mmap gets what the
	 * generic placement gives.
	 */
	bool vfio_pci_mmap_align;
	/*
	 * 34d7cf637c43 "mm: don't try THP alignment for FS without
	 * get_unmapped_area" (v6.13): __get_unmapped_area()'s THP branch only
	 * for anonymous memory, so a device fd (no get_unmapped_area) gets a
	 * page-aligned address.  false = 6.12, where ed48e87c7df3 sent every
	 * file through thp_get_unmapped_area_vmflags().
	 */
	bool mmap_thp_anon_only;
	/*
	 * Whose code runs the walker, the numa_maps callbacks and
	 * follow_pfnmap_start(): pinsim's rewrite, or the kernel tree's own
	 * (sim/kimpl.h; only in a -Dkernel_tree build).
	 */
	enum machine_impl impl;
	/*
	 * RAM and every BAR backed by memfds (MAP_SHARED) instead of private
	 * anonymous memory, so that a host process can map a simulated frame
	 * itself and share its bytes (preload/: the program's pointers and
	 * simulated DMA see the same bytes).  Default false.
	 */
	bool shared_memory;
};

void machine_config_init(struct machine_config *cfg);

struct mmio_range {
	unsigned long start_pfn, nr_pages;
	unsigned char *bytes;			/* host backing, NORESERVE */
	int fd;					/* its memfd (shared_memory), else -1 */
};

#define SIM_MAX_MMIO_RANGES 64

struct machine {
	struct machine_config cfg;

	/* page allocator (phys.c) */
	pthread_mutex_t alloc_lock;
	unsigned long bump_pfn;			/* never handed out yet from here */
	uint32_t free_list[PUD_ORDER + 1];	/* per order; 0 = empty */
	_Atomic unsigned long nr_allocated;
	size_t memmap_bytes, data_bytes;

	struct hstate hstate_2m, hstate_1g;

	/* MMIO space (BARs) */
	pthread_mutex_t mmio_lock;
	unsigned long mmio_next_pfn;
	struct mmio_range mmio[SIM_MAX_MMIO_RANGES];
	_Atomic unsigned int nr_mmio;

	/* oopses and WARNs (bug.c) */
	pthread_mutex_t bug_lock;
	_Atomic unsigned long nr_oops, nr_warn;
	struct oops_record last_oops;
	char last_warn[SIM_MSG_LEN];

	/* every task, for "held by a crashed task" (task.c) */
	pthread_mutex_t tasks_lock;
	struct task_struct **tasks;
	unsigned int nr_tasks, tasks_cap;
	_Atomic uint32_t next_tid;

	/* vfio-pci devices (vfio_pci.c) */
	pthread_mutex_t devices_lock;
	struct vfio_pci_core_device *devices;
	int nr_devices;

	struct mm_struct *init_mm;		/* kernel page tables */
	bool shutting_down;			/* machine_destroy() is tearing down */

	/* every user mm, so that machine_destroy() can tear leftovers down */
	pthread_mutex_t mms_lock;
	struct mm_struct *mms;
};

extern struct machine *machine;

int machine_create(const struct machine_config *cfg, struct machine **out);
void machine_destroy(struct machine *m);

/* phys.c: mem_map and RAM data mappings; mmap.c: the kernel's init_mm. */
int phys_init(struct machine *m);
void phys_exit(struct machine *m);
struct mm_struct *init_mm_create(void);
void init_mm_destroy(struct mm_struct *mm);

/* A naturally aligned MMIO range of @size bytes (a power of two ≥ 4K). */
int mmio_alloc(uint64_t size, unsigned long *pfn, unsigned char **bytes);
/* The host bytes of an MMIO pfn, or NULL if no device decodes it. */
unsigned char *mmio_virt(unsigned long pfn);
/*
 * shared_memory: the memfd holding @pfn's bytes (RAM or a BAR) and the
 * offset of the frame in it; -ENODEV for a pfn with nothing behind it or a
 * machine without shared_memory.
 */
int sim_phys_fd(unsigned long pfn, uint64_t *off);
/* The RAM memfd (phys.c), -1 without shared_memory. */
extern int ram_fd;
/*
 * Give host bytes of RAM back so that they read as zero: MADV_DONTNEED on
 * private memory, MADV_REMOVE (a hole punched in the memfd) on shared.
 */
void sim_phys_discard(void *addr, size_t len);

#endif /* SIM_MACHINE_H */
