/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mm_struct, vm_area_struct, vm_fault and friends (include/linux/mm_types.h,
 * include/linux/mm.h), trimmed to what pinning, faults, zaps and page walks
 * need.
 */
#ifndef SIM_MM_TYPES_H
#define SIM_MM_TYPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pgtable.h"
#include "rwsem.h"
#include "spinlock.h"
#include "task.h"

struct task_struct;
struct hstate;
struct file;
struct vm_fault;

typedef unsigned long vm_flags_t;

/* include/linux/mm.h values */
#define VM_NONE 0x00000000UL
#define VM_READ 0x00000001UL
#define VM_WRITE 0x00000002UL
#define VM_EXEC 0x00000004UL
#define VM_SHARED 0x00000008UL
#define VM_MAYREAD 0x00000010UL
#define VM_MAYWRITE 0x00000020UL
#define VM_MAYEXEC 0x00000040UL
#define VM_MAYSHARE 0x00000080UL
#define VM_GROWSDOWN 0x00000100UL
#define VM_PFNMAP 0x00000400UL
#define VM_LOCKED 0x00002000UL
#define VM_IO 0x00004000UL
#define VM_DONTCOPY 0x00020000UL
#define VM_DONTEXPAND 0x00040000UL
#define VM_LOCKONFAULT 0x00080000UL
#define VM_ACCOUNT 0x00100000UL
#define VM_NORESERVE 0x00200000UL
#define VM_HUGETLB 0x00400000UL
#define VM_WIPEONFORK 0x02000000UL
#define VM_DONTDUMP 0x04000000UL
#define VM_MIXEDMAP 0x10000000UL
#define VM_HUGEPAGE 0x20000000UL
#define VM_NOHUGEPAGE 0x40000000UL
#define VM_LOCKED_MASK (VM_LOCKED | VM_LOCKONFAULT)

static inline bool is_cow_mapping(vm_flags_t flags)
{
	return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
}

/* vm_fault_t (include/linux/mm_types.h) */
typedef unsigned int vm_fault_t;
#define VM_FAULT_OOM 0x000001
#define VM_FAULT_SIGBUS 0x000002
#define VM_FAULT_MAJOR 0x000004
#define VM_FAULT_HWPOISON 0x000010
#define VM_FAULT_SIGSEGV 0x000040
#define VM_FAULT_NOPAGE 0x000100
#define VM_FAULT_LOCKED 0x000200
#define VM_FAULT_RETRY 0x000400
#define VM_FAULT_FALLBACK 0x000800
#define VM_FAULT_DONE_COW 0x001000
#define VM_FAULT_NEEDDSYNC 0x002000
#define VM_FAULT_COMPLETED 0x004000
#define VM_FAULT_ERROR (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON)

/* enum fault_flag */
#define FAULT_FLAG_WRITE (1U << 0)
#define FAULT_FLAG_MKWRITE (1U << 1)
#define FAULT_FLAG_ALLOW_RETRY (1U << 2)
#define FAULT_FLAG_RETRY_NOWAIT (1U << 3)
#define FAULT_FLAG_KILLABLE (1U << 4)
#define FAULT_FLAG_TRIED (1U << 5)
#define FAULT_FLAG_USER (1U << 6)
#define FAULT_FLAG_REMOTE (1U << 7)
#define FAULT_FLAG_INSTRUCTION (1U << 8)
#define FAULT_FLAG_INTERRUPTIBLE (1U << 9)
#define FAULT_FLAG_UNSHARE (1U << 10)

struct vm_area_struct;

struct vm_fault {
	struct vm_area_struct *vma;
	unsigned long address;		/* faulting address, page aligned */
	unsigned long real_address;	/* as given */
	unsigned int flags;		/* FAULT_FLAG_* */
	unsigned long pgoff;		/* vm_pgoff + page index in the VMA */
	pud_t *pud;
	pmd_t *pmd;
	pte_t *pte;
	spinlock_t *ptl;
	/*
	 * The page ->fault returned (with VM_FAULT_LOCKED and a reference)
	 * for the core to map: page-cache files (sim/shmem.c).
	 */
	struct page *page;
};

struct vm_operations_struct {
	void (*open)(struct vm_area_struct *vma);
	void (*close)(struct vm_area_struct *vma);
	vm_fault_t (*fault)(struct vm_fault *vmf);
	vm_fault_t (*huge_fault)(struct vm_fault *vmf, unsigned int order);
	const char *name;
	/*
	 * folio_unlock() of the page ->fault returned VM_FAULT_LOCKED: the
	 * simulation has no page lock; the file's own lock stands for it
	 * (sim/shmem.c) and is released here once the page is mapped.
	 */
	void (*folio_unlock)(struct vm_fault *vmf);
};

/*
 * The i_mmap side of a file: every VMA that maps it, in every mm, so that
 * unmap_mapping_range() reaches all of them (vfio-pci's per-device inode).
 */
struct address_space {
	struct rw_semaphore i_mmap_rwsem;	/* used for write only here */
	struct vm_area_struct *i_mmap;	/* singly linked via vm_mapping_next */
};

struct file_operations {
	int (*mmap)(struct file *file, struct vm_area_struct *vma);
	/*
	 * __fput() calls it once the last reference is gone (fs/file_table.c);
	 * here it also frees a file that was allocated (file_free()).
	 */
	int (*release)(struct file *file);
	/*
	 * The pfnmap order an mmap of @len bytes at @pgoff can use, or -1
	 * (Peter Xu's unmerged get_mapping_order; sim/mmap.c reads it only
	 * with machine->cfg.vfio_pci_mmap_align).
	 */
	int (*get_mapping_order)(struct file *file, unsigned long pgoff, unsigned long len);
};

/*
 * f_count: the fd table's reference, one per VMA mapping the file
 * (vma->vm_file), one per syscall using it (fget).  The last fput() releases
 * it (sim/mmap.c).
 */
struct file {
	const struct file_operations *f_op;
	struct address_space *f_mapping;
	void *private_data;
	_Atomic long f_count;
	struct callback_head f_task_work;	/* the deferred __fput() */
};

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;		/* exclusive */
	struct mm_struct *vm_mm;
	vm_flags_t vm_flags;
	pgprot_t vm_page_prot;
	unsigned long vm_pgoff;		/* in PAGE_SIZE units */
	const struct vm_operations_struct *vm_ops;
	void *vm_private_data;
	struct file *vm_file;
	struct hstate *vm_hstate;	/* VM_HUGETLB: the page size */
	long hugetlb_resv;		/* huge pages reserved at mmap, unused */
	struct vm_area_struct *vm_mapping_next;	/* address_space list */
};

static inline bool vma_is_anonymous(const struct vm_area_struct *vma)
{
	return !vma->vm_ops;
}

static inline bool is_vm_hugetlb_page(const struct vm_area_struct *vma)
{
	return vma->vm_flags & VM_HUGETLB;
}

static inline unsigned long linear_page_index(const struct vm_area_struct *vma,
					      unsigned long addr)
{
	return ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
}

/* Faults served, by the level of the entry installed. */
struct mm_fault_stats {
	_Atomic unsigned long pte, pmd, pud;
	_Atomic unsigned long fallback;	/* huge_fault said VM_FAULT_FALLBACK */
	_Atomic unsigned long retry;	/* VM_FAULT_RETRY returned */
	_Atomic unsigned long sigbus;
};

#define MMF_HAS_PINNED (1UL << 0)

struct mm_struct {
	pgd_t *pgd;
	struct rw_semaphore mmap_lock;
	spinlock_t page_table_lock;	/* PUD level, and table population */

	/* VMAs sorted by vm_start; protected by mmap_lock. */
	struct vm_area_struct **vmas;
	unsigned int nr_vmas, vmas_cap;
	unsigned long mmap_base;	/* top-down search starts here */

	_Atomic long locked_vm;		/* pages, mm/util.c accounting */
	_Atomic long pinned_vm;
	vm_flags_t def_flags;		/* mlockall(MCL_FUTURE): VM_LOCKED[ONFAULT] of new VMAs */
	_Atomic unsigned long flags;	/* MMF_* */
	/*
	 * kernel/fork.c: mm_users counts the users of the address space (the
	 * process, mmget_not_zero() callers); the last mmput() runs
	 * exit_mmap() and the teardown.  mm_count counts references to the
	 * struct itself (mmgrab(): a VFIO DMA mapping's owner), all users
	 * together holding one; the last mmdrop() frees the pgd and the struct
	 * (__mmdrop()).  An mm kept only by mmgrab() after its process exited
	 * has no VMAs, tables, tasks or owner, and is on no machine list.
	 */
	_Atomic int mm_users;
	_Atomic int mm_count;
	_Atomic unsigned long nr_ptes;	/* page-table pages of this mm */

	struct task_struct *owner;	/* the thread group leader */
	pthread_mutex_t tasks_lock;
	struct task_struct *tasks;	/* every task of the process */

	struct mm_fault_stats fault_stats;
	/*
	 * Fault injection: while positive, a fault that may retry
	 * (FAULT_FLAG_ALLOW_RETRY) drops the mmap lock and returns
	 * VM_FAULT_RETRY, as one waiting on a page lock would.
	 */
	_Atomic int inject_fault_retry;
	bool is_init_mm;
	/*
	 * The initial heap and stack (mm->start_brk/brk/start_stack), for the
	 * "heap"/"stack" tags of numa_maps.  0 = none (no exec here); tests
	 * set them.
	 */
	unsigned long start_brk, brk, start_stack;
	struct mm_struct *next_mm;	/* machine->mms */
	/*
	 * A secondary MMU's invalidation (mm/mmu_notifier.c, trimmed to one
	 * subscriber and to the end of a range): called after leaves of
	 * [start, end) were cleared (memory.c unmap_single_vma(), huge_memory.c
	 * splits that clear).  NULL = off.  Set once, data before the function
	 * (mm_set_zap_notifier()).
	 */
	void (*_Atomic zap_notify)(void *data, unsigned long start, unsigned long end);
	void *zap_notify_data;
};

/*
 * mmu_notifier_invalidate_range_end(), trimmed: the mm's zap notifier, if
 * any, learns that the leaves of [start, end) are gone.  Off: one load.
 */
static inline void mm_notify_zap(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	void (*fn)(void *, unsigned long, unsigned long) =
		atomic_load_explicit(&mm->zap_notify, memory_order_acquire);

	if (fn)
		fn(mm->zap_notify_data, start, end);
}

/*
 * Entry updates fork and copy-on-write need (arch/x86/include/asm/pgtable.h
 * pte_wrprotect(), pte_mkold(), pte_mkclean() and their PMD/PUD twins).
 * Macros behind #ifndef, so that a definition in pgtable.h wins.
 */
#ifndef pte_wrprotect
#define pte_wrprotect(e) __pte(pte_val(e) & ~(uint64_t)_PAGE_RW)
#endif
#ifndef pmd_wrprotect
#define pmd_wrprotect(e) __pmd(pmd_val(e) & ~(uint64_t)_PAGE_RW)
#endif
#ifndef pud_wrprotect
#define pud_wrprotect(e) __pud(pud_val(e) & ~(uint64_t)_PAGE_RW)
#endif
#ifndef pte_mkold
#define pte_mkold(e) __pte(pte_val(e) & ~(uint64_t)_PAGE_ACCESSED)
#endif
#ifndef pmd_mkold
#define pmd_mkold(e) __pmd(pmd_val(e) & ~(uint64_t)_PAGE_ACCESSED)
#endif
#ifndef pud_mkold
#define pud_mkold(e) __pud(pud_val(e) & ~(uint64_t)_PAGE_ACCESSED)
#endif
#ifndef pte_mkclean
#define pte_mkclean(e) __pte(pte_val(e) & ~(uint64_t)_PAGE_DIRTY)
#endif

/*
 * folio_test_anon() as the kernel would answer it for a folio mapped by
 * @vma.  The simulation types folios by their allocator (PGTY_anon,
 * PGTY_shmem, PGTY_hugetlb).  Shared memory lives in a page cache
 * (sim/shmem.c, sim/hugetlbfs.c): shmem folios are PGTY_shmem, never
 * anonymous; hugetlb folios are PGTY_hugetlb in both roles, so a hugetlb
 * folio counts as anonymous only in a private mapping (hugetlb_add_new_
 * anon_rmap()).  Simplification: a hugetlbfs page-cache folio mapped
 * read-only by a private mapping of the file is counted anonymous too; it
 * is never PG_anon_exclusive and has the cache's reference, so the COW and
 * fork decisions (hugetlb_wp(), folio_try_dup_anon_rmap()) come out as the
 * kernel's; only a short-term read-only pin of it unshares first.
 */
static inline bool folio_test_anon_in(const struct folio *folio,
				      const struct vm_area_struct *vma)
{
	enum page_type t = folio_type(folio);

	return (t == PGTY_anon || t == PGTY_hugetlb) && !(vma->vm_flags & VM_MAYSHARE);
}

/*
 * PageAnonExclusive()/SetPageAnonExclusive()/ClearPageAnonExclusive()
 * (include/linux/page-flags.h).  Simplification: the flag lives on the
 * folio's head page only (page.h: tail pages are never written), so it is
 * per folio where the kernel has it per page.  The kernel sets or clears
 * it for every page of a folio together — at the fault that maps it, at
 * fork (folio_try_dup_anon_rmap_*() over all mapped pages), at a PMD split
 * (each PTE inherits the PMD's) — and reuses a page of a large folio only
 * when it is exclusive (wp_can_reuse_anon_folio() never reuses large
 * folios), so the two differ only for a large folio that fork copied in
 * part (a VM_DONTCOPY VMA covering part of a PTE-mapped THP).
 */
static inline bool PageAnonExclusive(const struct page *page)
{
	return page_flags(&page_folio(page)->page) & PG_anon_exclusive;
}

static inline void SetPageAnonExclusive(struct page *page)
{
	SetPageFlag(&page_folio(page)->page, PG_anon_exclusive);
}

static inline void ClearPageAnonExclusive(struct page *page)
{
	ClearPageFlag(&page_folio(page)->page, PG_anon_exclusive);
}

#endif /* SIM_MM_TYPES_H */
