/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-mm locked_vm invariant (issue 15, "DMA and pin invariants:
 * locked_vm equals the pages accounted by live mappings"), checked against
 * machine state rather than against type1's own counters, so that it holds
 * pinsim's rewrite and the kernel tree's drivers/vfio/vfio_iommu_type1.c
 * (ktree/ktree_vfio_type1.c) to the same rule:
 *
 *   mm->locked_vm == pages of the mm's VM_LOCKED VMAs
 *                    + over every container of the machine, the RAM pages
 *                      that are not PG_reserved which the IOMMU domain
 *                      translates for the live DMA mappings the mm owns.
 *
 * Who charges what (Linux 6.12):
 *  - mm/mlock.c mlock_fixup(): nr_pages = (end - start) >> PAGE_SHIFT, added
 *    when VM_LOCKED is set, taken off when cleared, 0 when already locked;
 *    VM_SPECIAL, hugetlb, the gate VMA, DAX, secretmem and VM_DROPPABLE get
 *    no VM_LOCKED and no charge ("don't set VM_LOCKED or VM_LOCKONFAULT and
 *    don't count").  mm/mmap.c mmap_region() charges a new VM_LOCKED VMA's
 *    len (MAP_LOCKED, mlockall(MCL_FUTURE)) after clearing VM_LOCKED_MASK
 *    where mlock would refuse it; do_brk_flags() and acct_stack_growth()
 *    charge growth of a VM_LOCKED VMA; mm/vma.c vms_complete_munmap_vmas()
 *    takes an unmapped VM_LOCKED VMA's pages off; mm/mremap.c move_vma()
 *    charges the new VMA (MREMAP_DONTUNMAP clears VM_LOCKED on the old one
 *    and leaves locked_vm).  So, with mmap_lock not write-held, the mlock
 *    share of locked_vm is the sum of the VM_LOCKED VMAs' pages.
 *  - drivers/vfio/vfio_iommu_type1.c: vfio_pin_pages_remote() counts
 *    lock_acct += 1 for each pinned page whose pfn is not
 *    is_invalid_reserved_pfn() (and not already in pfn_list) and charges it
 *    with vfio_lock_acct(dma, lock_acct, false) before vfio_pin_map_dma()
 *    maps the run with vfio_iommu_map(); vfio_unmap_unpin() unmaps,
 *    put_pfn()s and uncharges what it unpinned with
 *    vfio_lock_acct(dma, -unlocked, true).  vfio_lock_acct() goes through
 *    mm_lock_acct(): mmap_write_lock_killable() then __account_locked_vm()
 *    — so a SIGKILLed caller's unmap leaves the charge (its return value is
 *    ignored there) — and the async (unmap, release) path does nothing when
 *    mmget_not_zero() fails: -ESRCH, the process exited, its mm and charge
 *    are gone.  vfio_pin_page_external()/vfio_unpin_page_external() charge
 *    and uncharge the mdev pins (pfn_list), which pinsim does not model.
 *    So, while no container of the mm is in a MAP_DMA/UNMAP_DMA (their
 *    iommu->lock free), each live vfio_dma of the mm accounts exactly the
 *    RAM frames, not PG_reserved, that its IOVA range maps.
 *
 * The check runs at UNMAP_DMA, at the detach of a group (the last one
 * takes the mappings) and at container release (the rewrite: under
 * iommu->lock; the tree: after its ioctl, detach or release returns, from
 * the bridge), for the caller's mm and, at detach and release, the
 * mappings' owners: at detach and release unless the checkers are OFF
 * (dma_checkers_on(), once per group or container), at UNMAP_DMA only while
 * the costly checkers run (checkers_on(): controlled runs and
 * CHECKER_ALWAYS), since each one reads every mapping of the mm.
 * A call that already drew a locked-vm report (the rewrite's
 * vfio_check_removed_dma() names the mapping) does not check again.  It is
 * skipped, never guessed, when it cannot be exact: the mm's mmap_lock
 * write-held, a container of the machine busy (its lock held by someone
 * else) or being released, or the mm without any VMA (its process exited:
 * exit_mmap() does not touch locked_vm, and pinsim_proc_destroy() keeps the
 * mm's users until its containers are gone, where the kernel's
 * mmget_not_zero() would already fail).  Inside a controlled run nothing else runs while it checks, so
 * it only looks at the locks (no lock operation, no schedule point); in a
 * free run it trylocks them.
 *
 * The pin API's long-term pins (pinsim_pin_user_pages(), lib/pinsim.c)
 * charge locked_vm through account_locked_vm(), as
 * drivers/fpga/dfl-afu-dma-region.c afu_dma_pin_pages() does: the machine
 * is a source too, the pages its processes' pins charged to @mm (published
 * under the same mmap write lock as the charge).
 */
#ifndef LIB_LOCKED_VM_LEDGER_H
#define LIB_LOCKED_VM_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

struct iommu_domain;
struct mm_struct;
struct mutex;

/* A container: what its live DMA mappings charge to an mm. */
struct locked_vm_source {
	/*
	 * The pages the live mappings of this container owned by @mm are
	 * charged for, read from the machine (locked_vm_iommu_pages()); false
	 * when they cannot be read exactly now.  @held: the caller holds the
	 * container's lock.
	 */
	bool (*charged)(struct locked_vm_source *src, struct mm_struct *mm, bool held,
			unsigned long *pages);
	bool releasing;			/* under the ledger's lock */
	struct locked_vm_source *next;
};

void locked_vm_ledger_add(struct locked_vm_source *src);
/* The container is being torn down: its mappings can no longer be read. */
void locked_vm_ledger_releasing(struct locked_vm_source *src);
void locked_vm_ledger_del(struct locked_vm_source *src);

/*
 * A container's lock, for reading its mappings from another context:
 * LVM_PEEKED (a controlled run, the lock is free: nothing runs while we
 * read), LVM_LOCKED (a free run, trylocked; unlock with
 * locked_vm_ledger_unlock()) or LVM_BUSY.
 */
enum locked_vm_lock { LVM_BUSY, LVM_PEEKED, LVM_LOCKED };
enum locked_vm_lock locked_vm_ledger_trylock(struct mutex *lock);
void locked_vm_ledger_unlock(struct mutex *lock, enum locked_vm_lock how);

/*
 * The pages of [iova, iova + size) that @domain translates to RAM frames
 * that are not PG_reserved: what vfio_pin_pages_remote() charged for them
 * (is_invalid_reserved_pfn() is false exactly there).
 */
unsigned long locked_vm_iommu_pages(struct iommu_domain *domain, uint64_t iova, uint64_t size);

/*
 * Check @mm's locked_vm against every live charge (above); @self is the
 * caller's container when the caller holds its lock (NULL otherwise).  One
 * CHECK_LOCKED_VM report when they differ.
 */
void locked_vm_ledger_check(struct mm_struct *mm, struct locked_vm_source *self,
			    const char *where);

/*
 * @mm into the @nr owners of @mms unless there already, mmgrab()bed: the
 * new count (the caller keeps it below its array's size).
 */
unsigned int locked_vm_ledger_add_owner(struct mm_struct **mms, unsigned int nr,
					struct mm_struct *mm);

struct locked_vm_ledger_stats {
	unsigned long checked;	/* comparisons made */
	unsigned long skipped;	/* not exact then: a lock held, a release */
};
void locked_vm_ledger_get_stats(struct locked_vm_ledger_stats *st);

#endif /* LIB_LOCKED_VM_LEDGER_H */
