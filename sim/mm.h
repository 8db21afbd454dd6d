/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The simulated mm's functions, grouped by the kernel file they mirror.
 * Inside sim/ and lib/: 0 or -errno, VM_FAULT_* for faults.
 */
#ifndef SIM_MM_H
#define SIM_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm_types.h"
#include "task.h"

/* ---------------- sim/mmap.c (mm/mmap.c, mm/vma.c, kernel/fork.c) -------- */

/* A new mm with an empty pgd and its leader task named @comm. */
struct mm_struct *mm_alloc(const char *comm);
/*
 * kernel/fork.c mmput(): drop a user; the last one (the process's exit,
 * unless an mmget_not_zero() caller still holds one) tears down: the mm
 * leaves the machine's list, every VMA is unmapped, the tasks' queued works
 * run (the last fputs, as exit_task_work()), the page tables below the pgd
 * and the tasks go, then the users' mm_count reference (mmdrop()).
 */
void mmput(struct mm_struct *mm);
/* mmget_not_zero(): a user, unless the last mmput() has happened. */
bool mmget_not_zero(struct mm_struct *mm);
/*
 * mmgrab()/mmdrop(): a reference to the struct alone (mm_count); the last
 * mmdrop() frees the pgd and the struct (__mmdrop()).  What an exited mm
 * still offers its grabber: its mmap_lock, locked_vm and the pointer's
 * identity.
 */
void mmgrab(struct mm_struct *mm);
void mmdrop(struct mm_struct *mm);
/*
 * exit_mmap()'s VMA part (mm/mmap.c): remove every VMA, as the exiting
 * task does in exit_mm() before exit_files(); the mm and its tasks stay
 * until mmput().  The VMAs' file references are fput() on current.
 */
void exit_mmap(struct mm_struct *mm);
/*
 * Machine shutdown: mmput() every mm still alive.  A lock left held by a
 * crashed task is broken (after a timed wait): nothing else runs any more.
 */
void mm_teardown_all(void);

/* The task of @mm for the calling host thread (created on first use). */
struct task_struct *mm_thread_task(struct mm_struct *mm);

static inline void mmap_read_lock(struct mm_struct *mm)
{
	down_read(&mm->mmap_lock);
}
static inline int mmap_read_lock_killable(struct mm_struct *mm)
{
	return down_read_killable(&mm->mmap_lock);
}
static inline void mmap_read_unlock(struct mm_struct *mm)
{
	up_read(&mm->mmap_lock);
}
static inline void mmap_write_lock(struct mm_struct *mm)
{
	down_write(&mm->mmap_lock);
}
static inline int mmap_write_lock_killable(struct mm_struct *mm)
{
	return down_write_killable(&mm->mmap_lock);
}
static inline void mmap_write_unlock(struct mm_struct *mm)
{
	up_write(&mm->mmap_lock);
}

/*
 * include/linux/mmap_lock.h: lockdep + VM_BUG_ON_MM in the kernel.  Here a
 * failed assertion is a WARN (counted, so tests can check it fired) and
 * returns false, so the caller can go on the way a kernel without
 * CONFIG_DEBUG_VM would.
 */
bool mmap_assert_locked(struct mm_struct *mm);
bool mmap_assert_write_locked(struct mm_struct *mm);

/* Lookups; the mmap lock must be held. */
struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr);
struct vm_area_struct *vma_lookup(struct mm_struct *mm, unsigned long addr);
/* First VMA intersecting [start, end), or NULL. */
struct vm_area_struct *find_vma_intersection(struct mm_struct *mm,
					     unsigned long start,
					     unsigned long end);

/* mmap(2) flag values (the real <sys/mman.h> ones) used by do_mmap(). */
#define SIM_MAP_HUGE_SHIFT 26
/*
 * do_mmap() with the mmap lock held for write.  Anonymous private or
 * shared memory, MAP_HUGETLB with MAP_HUGE_2MB / MAP_HUGE_1GB, or a file
 * (whose f_op->mmap sets the VMA up).  Returns the address, or -errno
 * (cast to unsigned long; IS_ERR_VALUE()).  Checks in mm/mmap.c's order.
 */
unsigned long do_mmap(struct mm_struct *mm, struct file *file, unsigned long addr,
		      unsigned long len, unsigned long prot, unsigned long flags,
		      unsigned long pgoff);
/* do_munmap()/do_vmi_munmap(): mmap lock held for write. */
int do_munmap(struct mm_struct *mm, unsigned long start, size_t len);
/* vm_mmap()/vm_munmap(): take the lock themselves. */
unsigned long vm_mmap(struct mm_struct *mm, struct file *file, unsigned long addr,
		      unsigned long len, unsigned long prot, unsigned long flags,
		      unsigned long pgoff);
int vm_munmap(struct mm_struct *mm, unsigned long start, size_t len);

#define IS_ERR_VALUE(x) ((unsigned long)(x) >= (unsigned long)-4095)

/*
 * File references (fs/file_table.c, include/linux/fs.h), in sim/mmap.c
 * with the VMAs that hold them.  fput(): the last reference queues
 * __fput() on current as task_work (run by task_work_run() when the
 * syscall returns, or at exit); without a task it runs at once.
 * __fput_sync(): the last reference releases at once (close(2)).
 * __fput(): f_op->release.
 */
static inline struct file *get_file(struct file *f)
{
	atomic_fetch_add(&f->f_count, 1);
	return f;
}
void fput(struct file *file);
void __fput_sync(struct file *file);
void __fput(struct file *file);

/*
 * i_mmap_lock_write()/i_mmap_unlock_write() and the read side
 * (include/linux/fs.h).  Readers walk i_mmap (unmap_mapping_range());
 * linking and unlinking VMAs takes it for write.
 */
void i_mmap_lock_write(struct address_space *mapping);
void i_mmap_unlock_write(struct address_space *mapping);
void i_mmap_lock_read(struct address_space *mapping);
void i_mmap_unlock_read(struct address_space *mapping);
/*
 * unlink_file_vma() (mm/mmap.c): take a file VMA off its mapping's i_mmap
 * under i_mmap_lock_write(); nothing for anonymous VMAs.  free_pgtables()
 * calls it before it frees the VMA's tables.
 */
void unlink_file_vma(struct vm_area_struct *vma);

/* ---------------- sim/util.c (mm/util.c) -------------------------------- */

/*
 * __account_locked_vm(): on increase, unless @bypass_rlim, -ENOMEM when
 * locked_vm + pages exceeds the task's RLIMIT_MEMLOCK in pages; on decrease
 * WARN if pages > locked_vm.  The caller holds the mmap write lock.
 */
int __account_locked_vm(struct mm_struct *mm, unsigned long pages, bool inc,
			struct task_struct *task, bool bypass_rlim);
/* account_locked_vm(): takes the mmap write lock, CAP_IPC_LOCK bypasses. */
int account_locked_vm(struct mm_struct *mm, unsigned long pages, bool inc);

/* ---------------- sim/fault.c (mm/memory.c fault path, mm/gup.c) --------- */

/* __handle_mm_fault order selection: PUD, then PMD, then PTE (ref §2.3). */
vm_fault_t handle_mm_fault(struct vm_area_struct *vma, unsigned long address,
			   unsigned int flags);
/*
 * fixup_user_fault() (ref §2.2): mmap read lock held on entry and on
 * return; *unlocked set if it was dropped and re-taken meanwhile.
 */
int fixup_user_fault(struct mm_struct *mm, unsigned long address,
		     unsigned int fault_flags, bool *unlocked);
/* mm/gup.c: vm_fault_to_errno() */
int vm_fault_to_errno(vm_fault_t vm_fault, int foll_flags);

/* ---------------- sim/memory.c (mm/memory.c) ----------------------------- */

/* vmf_insert_pfn(): a special PTE, VM_FAULT_NOPAGE (or SIGBUS/OOM). */
vm_fault_t vmf_insert_pfn(struct vm_area_struct *vma, unsigned long addr,
			  unsigned long pfn);
/*
 * remap_pfn_range(): populate [addr, addr+size) with special PTEs for pfn..,
 * VM_IO|VM_PFNMAP|VM_DONTEXPAND|VM_DONTDUMP, vm_pgoff = pfn for COW
 * mappings, and -EINVAL for a COW mapping not covering the whole VMA
 * (seeds/02).  mmap write lock held (called from f_op->mmap).
 */
int remap_pfn_range(struct vm_area_struct *vma, unsigned long addr,
		    unsigned long pfn, unsigned long size, pgprot_t prot);

/* vm_normal_page{,_pmd,_pud} (ref §2.4), honouring the arch config. */
struct page *vm_normal_page(struct vm_area_struct *vma, unsigned long addr, pte_t pte);
struct page *vm_normal_page_pmd(struct vm_area_struct *vma, unsigned long addr, pmd_t pmd);
struct page *vm_normal_page_pud(struct vm_area_struct *vma, unsigned long addr, pud_t pud);

/*
 * Zap (ref §2.6): remove the mappings of [addr, addr+size) in @vma, freeing
 * anonymous pages.  Any part of a huge leaf removes the whole leaf for
 * special (pfnmap) mappings; an anonymous THP partially covered is split to
 * PTEs first.  Caller holds the mmap lock (or the mapping's i_mmap lock).
 */
void zap_page_range_single(struct vm_area_struct *vma, unsigned long addr,
			   unsigned long size);
/*
 * unmap_mapping_range(): zap [holebegin, holebegin+holelen) — file offsets
 * in bytes — in every VMA of every mm that maps @mapping.
 */
void unmap_mapping_range(struct address_space *mapping, uint64_t holebegin,
			 uint64_t holelen, bool even_cows);

/* FIRST_USER_ADDRESS and USER_PGTABLES_CEILING on x86: the whole user range. */
#define FIRST_USER_ADDRESS 0UL
#define USER_PGTABLES_CEILING 0UL
/*
 * unmap_vmas(): zap [start, end) of each of @vmas (clipped to each).
 * free_pgtables(): @vmas (address order, zapped, off the mm's VMA set) are
 * unlinked from their files' i_mmap, then the tables of their ranges that
 * nothing outside [floor, ceiling) shares are unhooked into @tlb;
 * tlb_finish_mmu() frees them.  free_pgd_range(): the tables of
 * [addr, end) within [floor, ceiling).  mmap write lock held.  floor 0 is
 * the bottom of the address space, ceiling 0 the top.
 */
void unmap_vmas(struct vm_area_struct **vmas, unsigned int nr, unsigned long start,
		unsigned long end);
void free_pgtables(struct mmu_gather *tlb, struct vm_area_struct **vmas, unsigned int nr,
		   unsigned long floor, unsigned long ceiling);
void free_pgd_range(struct mmu_gather *tlb, unsigned long addr, unsigned long end,
		    unsigned long floor, unsigned long ceiling);
/*
 * fork (F1): copy_page_range() copies @src_vma's entries into @dst_vma's
 * mm (both mmap locks held for write): 0 or -ENOMEM.  folio_try_dup_anon_rmap():
 * -EBUSY for a maybe-pinned exclusive page, else it stops being exclusive.
 * sim_copy_folio_data(): @nr pages of bytes from @src into @dst.
 */
int copy_page_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma);
int folio_try_dup_anon_rmap(struct folio *folio, struct page *page,
			    struct vm_area_struct *src_vma);
void sim_copy_folio_data(struct folio *dst, struct page *src, unsigned long nr);

/* ---------------- sim/huge_memory.c (mm/huge_memory.c) ------------------- */

vm_fault_t vmf_insert_pfn_pmd(struct vm_fault *vmf, unsigned long pfn, bool write);
vm_fault_t vmf_insert_pfn_pud(struct vm_fault *vmf, unsigned long pfn, bool write);
/* split_huge_pud()/split_huge_pmd() macros: split only if trans huge. */
void split_huge_pud(struct vm_area_struct *vma, pud_t *pud, unsigned long addr);
void split_huge_pmd(struct vm_area_struct *vma, pmd_t *pmd, unsigned long addr);
/* Anonymous THP fault at PMD order (do_huge_pmd_anonymous_page). */
vm_fault_t do_huge_pmd_anonymous_page(struct vm_fault *vmf);
/* Is a THP allowed for this VMA at this fault (config thp mode + VM_HUGEPAGE)? */
bool thp_vma_allowable_order(struct vm_area_struct *vma, unsigned int order);
/*
 * Fault-path helpers of __handle_mm_fault() (added by the fault issue):
 * mark an existing leaf young (and dirty on a write) if it is still @orig;
 * a write fault on a read-only anonymous THP (reused: no fork, always
 * exclusive).
 */
void huge_pud_set_accessed(struct vm_fault *vmf, pud_t orig);
void huge_pmd_set_accessed(struct vm_fault *vmf, pmd_t orig);
vm_fault_t do_huge_pmd_wp_page(struct vm_fault *vmf, pmd_t orig);
/*
 * fork and COW (F1): __split_huge_pmd() with the PTE table an anonymous
 * split uses (the kernel's deposit; consumed or freed); copy_huge_pmd()/
 * copy_huge_pud(): 0, -EAGAIN (copy the PTEs instead) or -ENOMEM.
 */
void __split_huge_pmd(struct vm_area_struct *vma, pmd_t *pmd, unsigned long addr,
		      struct page *table);
int copy_huge_pmd(struct mm_struct *dst_mm, struct mm_struct *src_mm, pmd_t *dst_pmd,
		  pmd_t *src_pmd, unsigned long addr, struct vm_area_struct *dst_vma,
		  struct vm_area_struct *src_vma);
int copy_huge_pud(struct mm_struct *dst_mm, struct mm_struct *src_mm, pud_t *dst_pud,
		  pud_t *src_pud, unsigned long addr, struct vm_area_struct *vma);

/* ---------------- sim/gup.c (mm/gup.c) ----------------------------------- */

#define FOLL_WRITE (1U << 0)
#define FOLL_GET (1U << 2)
#define FOLL_DUMP (1U << 3)
#define FOLL_FORCE (1U << 4)
#define FOLL_NOWAIT (1U << 5)
#define FOLL_NOFAULT (1U << 6)
#define FOLL_HWPOISON (1U << 7)
#define FOLL_ANON (1U << 8)
#define FOLL_LONGTERM (1U << 9)
#define FOLL_SPLIT_PMD (1U << 10)
#define FOLL_PCI_P2PDMA (1U << 11)
#define FOLL_INTERRUPTIBLE (1U << 12)
#define FOLL_HONOR_NUMA_FAULT (1U << 13)
/* internal */
#define FOLL_TOUCH (1U << 16)
#define FOLL_TRIED (1U << 17)
#define FOLL_REMOTE (1U << 18)
#define FOLL_PIN (1U << 19)
#define FOLL_FAST_ONLY (1U << 20)
#define FOLL_UNLOCKABLE (1U << 21)
#define FOLL_MADV_POPULATE (1U << 22)

/*
 * pin_user_pages_remote() (ref §6): the mmap read lock is held by the
 * caller; with @locked == NULL it is never dropped.  Returns the number of
 * pages pinned (a partial count wins over an error) or -errno.
 */
long pin_user_pages_remote(struct mm_struct *mm, unsigned long start,
			   unsigned long nr_pages, unsigned int gup_flags,
			   struct page **pages, int *locked);
void unpin_user_page(struct page *page);
void unpin_user_pages(struct page **pages, unsigned long npages);
void unpin_user_pages_dirty_lock(struct page **pages, unsigned long npages,
				 bool make_dirty);
/* Pages pfn(page)..+npages, as one contiguous range (vfio's put path). */
void unpin_user_page_range_dirty_lock(struct page *page, unsigned long npages,
				      bool make_dirty);

/* ---------------- sim/hugetlb.c (mm/hugetlb.c) --------------------------- */

struct hstate {
	unsigned int order;		/* PMD_ORDER or PUD_ORDER */
	unsigned long nr_huge_pages;
	unsigned long free_huge_pages;
	unsigned long resv_huge_pages;	/* reserved by mappings, not faulted */
	uint32_t free_list;		/* pfn of the first free page, 0 = none */
	pthread_mutex_t lock;
};

/* The hstate for a huge page size in bytes, or NULL. */
struct hstate *size_to_hstate(unsigned long size);
static inline unsigned long huge_page_size(const struct hstate *h)
{
	return PAGE_SIZE << h->order;
}
/* Fill the pool at machine creation; returns the number of pages made. */
unsigned long hugetlb_pool_init(struct hstate *h, unsigned long nr);
/* Reserve/unreserve @nr pages for a mapping: 0 or -ENOMEM. */
int hugetlb_reserve_pages(struct hstate *h, long nr);
void hugetlb_unreserve_pages(struct hstate *h, long nr);
/* Take a reserved page (refcount 1, PGTY_hugetlb); NULL if none. */
struct folio *alloc_hugetlb_folio(struct hstate *h, bool reserved);
/* folio_put() of a hugetlb folio lands here: back to the pool. */
void free_huge_folio(struct folio *folio);
/* hugetlb_fault(): a PMD or PUD leaf for the VMA's page size. */
vm_fault_t hugetlb_fault(struct mm_struct *mm, struct vm_area_struct *vma,
			 unsigned long address, unsigned int flags);
/* fork (F1): the child's VMA owns no reservations; the leaves' copy. */
void hugetlb_dup_vma_private(struct vm_area_struct *vma);
int copy_hugetlb_page_range(struct mm_struct *dst, struct mm_struct *src,
			    struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma);

/* ---------------- sim/fork.c (kernel/fork.c), sim/madvise.c (F1) --------- */

/*
 * dup_mm(): a new mm (leader task named @comm) that is dup_mmap()'s copy of
 * @oldmm; NULL with *@err (-ENOMEM, -EINTR) and nothing changed but the
 * write protection the kernel leaves too.  Runs as a task of @oldmm.
 */
struct mm_struct *dup_mm(struct mm_struct *oldmm, const char *comm, int *err);
/* do_madvise() for the VMA-flag advices (mm/madvise.c): 0 or -errno. */
int do_madvise(struct mm_struct *mm, unsigned long start, size_t len_in, int behavior);

/* sim/mmap.c, exported for fork (F1); madvise uses sim/vma.h */
int mm_vma_insert(struct mm_struct *mm, struct vm_area_struct *vma);
void vma_link_file(struct vm_area_struct *vma);

#endif /* SIM_MM_H */
