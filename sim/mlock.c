// SPDX-License-Identifier: GPL-2.0-only
/*
 * mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2) (mm/mlock.c)
 * and the populate they and MAP_LOCKED trigger (mm/gup.c __mm_populate(),
 * populate_vma_page_range()).
 *
 * What is modelled: VM_LOCKED and VM_LOCKONFAULT on VMAs (split and merged
 * by vma_modify_flags() as mlock_fixup() does), mm->locked_vm — the same
 * counter VFIO type1's vfio_lock_acct() charges for pinned pages, so a
 * buffer both mlocked and DMA-mapped counts twice, as in the kernel — the
 * RLIMIT_MEMLOCK / CAP_IPC_LOCK checks of do_mlock() and mlockall(), and
 * mm->def_flags for MCL_FUTURE.
 *
 * Left out: the mlock LRU (unevictable list, folio_mlock(),
 * mlock_pte_range(): nothing is ever reclaimed here, so a locked page and
 * an unlocked one behave the same once faulted in), and the populate of
 * PROT_NONE VMAs (FOLL_FORCE read faults in the kernel, which would map
 * PROT_NONE entries the simulation does not have: see sim/mprotect.c), so
 * populate skips inaccessible VMAs.
 */
#include <errno.h>
#include <sys/mman.h>

#include "machine.h"
#include "mm.h"
#include "vma.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

/* mm/mlock.c can_do_mlock(). */
bool can_do_mlock(void)
{
	if (current && rlimit_memlock(current) != 0)
		return true;
	return capable_ipc_lock();
}

/* mm/mmap.c mlock_future_ok(). */
bool mlock_future_ok(struct mm_struct *mm, vm_flags_t flags, unsigned long bytes)
{
	unsigned long locked_pages, limit_pages;

	if (!(flags & VM_LOCKED) || capable_ipc_lock())
		return true;
	locked_pages = (bytes >> PAGE_SHIFT) + atomic_load(&mm->locked_vm);
	limit_pages = current ? rlimit_memlock(current) >> PAGE_SHIFT : 0;
	return locked_pages <= limit_pages;
}

/* ---------------- populate (mm/gup.c) ---------------- */

/*
 * Fault in one page of @vma as __get_user_pages() would for a populate
 * (no pages asked for): nothing if a leaf is there and good enough.
 * Returns 0, -ENOMEM, -EFAULT, or -EAGAIN when the fault dropped the mmap
 * lock (it is held again then; look the VMA up again).
 */
static int populate_one(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr,
			bool write)
{
	unsigned int flags = FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE;
	uint64_t entry;
	vm_fault_t ret;

	if (pgtable_lookup(mm, addr, NULL, &entry) != PGTABLE_NONE &&
	    (!write || (entry & _PAGE_RW)))
		return 0;
	if (write)
		flags |= FAULT_FLAG_WRITE;
	ret = handle_mm_fault(vma, addr, flags);
	if (ret & VM_FAULT_RETRY) {
		mmap_read_lock(mm);
		return -EAGAIN;
	}
	if (ret & VM_FAULT_ERROR)
		return vm_fault_to_errno(ret, 0);
	return 0;
}

/*
 * populate_vma_page_range(): VM_LOCKONFAULT has nothing to do; private
 * writable memory is faulted for write (breaking COW), the rest for read.
 * Inaccessible VMAs are skipped (see the top of the file).  Returns 0 or
 * -errno; *@addr is where it stopped.
 */
static int populate_vma_page_range(struct mm_struct *mm, struct vm_area_struct *vma,
				   unsigned long *addr, unsigned long end)
{
	bool write = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
	int err;

	if (vma->vm_flags & VM_LOCKONFAULT || !(vma->vm_flags & VM_ACCESS_FLAGS)) {
		*addr = end;
		return 0;
	}
	while (*addr < end) {
		if (current && fatal_signal_pending(current))
			return -EINTR;
		err = populate_one(mm, vma, *addr, write);
		if (err)
			return err;
		*addr += PAGE_SIZE;
		cond_resched();
	}
	return 0;
}

int __mm_populate(struct mm_struct *mm, unsigned long start, unsigned long len,
		  bool ignore_errors)
{
	unsigned long end = start + len, nstart = start;
	int err = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	while (nstart < end) {
		struct vm_area_struct *vma = find_vma_intersection(mm, nstart, end);
		unsigned long nend;

		if (!vma)
			break;
		nend = vma->vm_end < end ? vma->vm_end : end;
		if (nstart < vma->vm_start)
			nstart = vma->vm_start;
		if (vma->vm_flags & (VM_IO | VM_PFNMAP)) {
			nstart = nend;
			continue;
		}
		err = populate_vma_page_range(mm, vma, &nstart, nend);
		if (err == -EAGAIN) {	/* the lock was dropped: look again */
			err = 0;
			continue;
		}
		if (err) {
			if (!ignore_errors)
				break;
			err = 0;
			nstart += PAGE_SIZE;	/* continue at next page */
		}
	}
	mmap_read_unlock(mm);
	return err;
}

/* __mlock_posix_error_return(): what mlock(2) says when populate fails. */
static int mlock_posix_error_return(int err)
{
	if (err == -EFAULT)
		return -ENOMEM;
	if (err == -ENOMEM)
		return -EAGAIN;
	return err;
}

/* ---------------- VM_LOCKED on VMAs ---------------- */

/*
 * mlock_fixup(): VM_SPECIAL and hugetlb VMAs keep their flags and are not
 * counted; otherwise vma_modify_flags() isolates [start, end) (merging it
 * with compatible neighbours), locked_vm moves by its pages, and the new
 * flags are set.  mlock_vma_pages_range() (the LRU side) is not modelled.
 * *@next_start: where the VMA now holding the range ends.
 */
static int mlock_fixup(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
		       unsigned long end, vm_flags_t newflags, unsigned long *next_start)
{
	vm_flags_t oldflags = vma->vm_flags;
	long nr_pages;
	int err = 0;

	*next_start = vma->vm_end;
	if (newflags == oldflags || (oldflags & VM_SPECIAL) || is_vm_hugetlb_page(vma))
		return 0;
	vma = vma_modify_flags(mm, vma, start, end, newflags, &err);
	if (!vma)
		return err;
	*next_start = vma->vm_end;	/* vma_iter_end(): past a merge */
	nr_pages = (long)((end - start) >> PAGE_SHIFT);
	if (!(newflags & VM_LOCKED))
		nr_pages = -nr_pages;
	else if (oldflags & VM_LOCKED)
		nr_pages = 0;
	atomic_fetch_add(&mm->locked_vm, nr_pages);
	vma->vm_flags = newflags;
	return 0;
}

/*
 * apply_vma_lock_flags(): [start, end) must start in a VMA (else -ENOMEM,
 * nothing changed); VMAs are changed in order and a hole later on is
 * -ENOMEM with the earlier ones already changed, as in the kernel.
 */
static int apply_vma_lock_flags(struct mm_struct *mm, unsigned long start, size_t len,
				vm_flags_t flags)
{
	unsigned long end = start + len, nstart = start, tmp;
	struct vm_area_struct *vma;

	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	vma = vma_lookup(mm, start);
	if (!vma)
		return -ENOMEM;
	tmp = vma->vm_start;
	while (vma && vma->vm_start < end) {
		vm_flags_t newflags;
		int err;

		if (vma->vm_start != tmp)
			return -ENOMEM;
		newflags = (vma->vm_flags & ~VM_LOCKED_MASK) | flags;
		tmp = vma->vm_end < end ? vma->vm_end : end;
		err = mlock_fixup(mm, vma, nstart, tmp, newflags, &tmp);
		if (err)
			return err;
		nstart = tmp;
		vma = find_vma(mm, tmp);
	}
	if (tmp < end)
		return -ENOMEM;
	return 0;
}

/*
 * The pages of [start, start + len) already in VM_LOCKED VMAs
 * (count_mm_mlocked_page_nr()): a re-mlock of locked memory is not charged
 * twice against the limit.
 */
static unsigned long count_mm_mlocked_page_nr(struct mm_struct *mm, unsigned long start,
					      size_t len)
{
	unsigned long end = start + len, count = 0;
	struct vm_area_struct *vma;

	for (vma = find_vma_intersection(mm, start, end); vma && vma->vm_start < end;
	     vma = find_vma(mm, vma->vm_end)) {
		unsigned long s = vma->vm_start > start ? vma->vm_start : start;
		unsigned long e = vma->vm_end < end ? vma->vm_end : end;

		if (vma->vm_flags & VM_LOCKED)
			count += (e - s) >> PAGE_SHIFT;
	}
	return count;
}

/*
 * do_mlock(): EPERM without the right to lock (can_do_mlock()), then the
 * request plus locked_vm (less what is already locked in the range) against
 * RLIMIT_MEMLOCK unless CAP_IPC_LOCK (-ENOMEM, nothing changed), then the
 * flags, then __mm_populate() (errors in mlock(2)'s terms).
 */
int do_mlock(struct mm_struct *mm, unsigned long start, size_t len, vm_flags_t flags)
{
	unsigned long locked, lock_limit;
	int err = -ENOMEM;

	if (!can_do_mlock())
		return -EPERM;
	len = (len + (start & ~PAGE_MASK) + PAGE_SIZE - 1) & PAGE_MASK;
	start &= PAGE_MASK;
	lock_limit = rlimit_memlock(current) >> PAGE_SHIFT;
	locked = len >> PAGE_SHIFT;

	if (mmap_write_lock_killable(mm))
		return -EINTR;
	locked += atomic_load(&mm->locked_vm);
	if (locked > lock_limit && !capable_ipc_lock())
		locked -= count_mm_mlocked_page_nr(mm, start, len);
	if (locked <= lock_limit || capable_ipc_lock())
		err = apply_vma_lock_flags(mm, start, len, flags);
	mmap_write_unlock(mm);
	if (err)
		return err;
	err = __mm_populate(mm, start, len, false);
	return err ? mlock_posix_error_return(err) : 0;
}

/* SYSCALL munlock: page-align, then clear VM_LOCKED[ONFAULT]. */
int do_munlock(struct mm_struct *mm, unsigned long start, size_t len)
{
	int ret;

	len = (len + (start & ~PAGE_MASK) + PAGE_SIZE - 1) & PAGE_MASK;
	start &= PAGE_MASK;
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	ret = apply_vma_lock_flags(mm, start, len, 0);
	mmap_write_unlock(mm);
	return ret;
}

/*
 * apply_mlockall_flags(): MCL_FUTURE sets mm->def_flags (VM_LOCKED, with
 * VM_LOCKONFAULT for MCL_ONFAULT), MCL_CURRENT every VMA's flags; per-VMA
 * errors are ignored, as the kernel does.  @flags 0 is munlockall().
 */
static void apply_mlockall_flags(struct mm_struct *mm, int flags)
{
	vm_flags_t to_add = 0;

	mm->def_flags &= ~VM_LOCKED_MASK;
	if (flags & MCL_FUTURE) {
		mm->def_flags |= VM_LOCKED;
		if (flags & MCL_ONFAULT)
			mm->def_flags |= VM_LOCKONFAULT;
		if (!(flags & MCL_CURRENT))
			return;
	}
	if (flags & MCL_CURRENT) {
		to_add |= VM_LOCKED;
		if (flags & MCL_ONFAULT)
			to_add |= VM_LOCKONFAULT;
	}
	for (unsigned int i = 0; i < mm->nr_vmas;) {
		struct vm_area_struct *vma = mm->vmas[i];
		unsigned long end = vma->vm_end;

		mlock_fixup(mm, vma, vma->vm_start, vma->vm_end,
			    (vma->vm_flags & ~VM_LOCKED_MASK) | to_add, &end);
		/* A merge may have removed entries: go on after the range. */
		while (i < mm->nr_vmas && mm->vmas[i]->vm_start < end)
			i++;
		cond_resched();
	}
}

/*
 * SYSCALL mlockall: EINVAL for no flag, unknown flags or MCL_ONFAULT
 * alone; EPERM without the right to lock; ENOMEM for MCL_CURRENT when the
 * whole address space (total_vm) is over RLIMIT_MEMLOCK without
 * CAP_IPC_LOCK; then mm_populate() of everything for MCL_CURRENT.
 */
int do_mlockall(struct mm_struct *mm, int flags)
{
	unsigned long lock_limit;
	int ret = -ENOMEM;

	if (!flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags == MCL_ONFAULT)
		return -EINVAL;
	if (!can_do_mlock())
		return -EPERM;
	lock_limit = rlimit_memlock(current) >> PAGE_SHIFT;
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	if (!(flags & MCL_CURRENT) || mm_total_vm(mm) <= lock_limit || capable_ipc_lock()) {
		apply_mlockall_flags(mm, flags);
		ret = 0;
	}
	mmap_write_unlock(mm);
	if (!ret && (flags & MCL_CURRENT))
		__mm_populate(mm, 0, TASK_SIZE, true);
	return ret;
}

int do_munlockall(struct mm_struct *mm)
{
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	apply_mlockall_flags(mm, 0);
	mmap_write_unlock(mm);
	return 0;
}
