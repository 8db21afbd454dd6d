// SPDX-License-Identifier: GPL-2.0-only
/*
 * fork(2)'s mm half (kernel/fork.c dup_mm(), dup_mmap() in 6.12): a new mm
 * whose VMAs are copies of the parent's and whose page tables
 * copy_page_range() (sim/memory.c) fills: private memory shared
 * copy-on-write, pinned anonymous pages copied for the child at once,
 * pfnmaps mapped as they are; shared memory (shmem and hugetlbfs files)
 * is not copied: the child refaults it from the page cache (6.12's
 * vma_needs_copy()).
 *
 * Left out, and why it does not change what the two processes see:
 *  - anon_vma_fork(), vma_dup_policy(), dup_userfaultfd(), uprobes, KSM and
 *    khugepaged registration, arch_dup_mmap(), VM_ACCOUNT charges
 *    (security_vm_enough_memory_mm()): the simulation has no rmap, NUMA
 *    policies, userfaultfd, uprobes, KSM, khugepaged or overcommit.
 *  - __mt_dup(): the VMA set is a sorted array (sim/mmap.c), filled VMA by
 *    VMA; a failure part way leaves the child with the VMAs copied so far,
 *    as the kernel's XA_ZERO_ENTRY marker does, and the child is torn down
 *    by mmput() (exit_mmap()).
 *  - MMF_HAS_PINNED is not inherited (mmf_init_flags()); locked_vm and
 *    pinned_vm start at 0 (mm_init()).
 */
#include <errno.h>
#include <stdlib.h>

#include "fault_inject.h"
#include "mm.h"
#include "task.h"

/*
 * vm_area_dup(): the parent's VMA, for the child's mm; not on any list.
 * VM_LOCKED_MASK is cleared (mlock is not inherited, vm_flags_clear() in
 * dup_mmap()); a hugetlb VMA owns no reservations in the child.
 */
static struct vm_area_struct *vm_area_dup(struct vm_area_struct *orig, struct mm_struct *mm)
{
	struct vm_area_struct *new = sim_kmalloc(sizeof(*new));

	if (!new)
		return NULL;
	*new = *orig;
	new->vm_mm = mm;
	new->vm_mapping_next = NULL;
	new->vm_flags &= ~VM_LOCKED_MASK;
	if (is_vm_hugetlb_page(new))
		hugetlb_dup_vma_private(new);
	return new;
}

/*
 * dup_mmap() (kernel/fork.c in 6.12): the parent's mmap lock for write
 * (killable), the child's nested (nobody else can see it yet).  Each VMA
 * but VM_DONTCOPY ones is duplicated and linked — into the set, through
 * ->open, onto its file's i_mmap with a file reference (so that
 * unmap_mapping_range() of a BAR reaches the child too) — and, unless
 * VM_WIPEONFORK (a clean slate: the child faults in zero pages), its
 * entries are copied.  A fatal signal stops the copy with -EINTR.
 */
static int dup_mmap(struct mm_struct *mm, struct mm_struct *oldmm)
{
	int retval = 0;

	if (mmap_write_lock_killable(oldmm))
		return -EINTR;
	mmap_write_lock(mm);

	for (unsigned int i = 0; i < oldmm->nr_vmas; i++) {
		struct vm_area_struct *mpnt = oldmm->vmas[i], *tmp;

		if (mpnt->vm_flags & VM_DONTCOPY)
			continue;
		/* Don't duplicate many VMAs if we've been oom-killed. */
		if (fatal_signal_pending(current)) {
			retval = -EINTR;
			break;
		}
		tmp = vm_area_dup(mpnt, mm);
		if (!tmp) {
			retval = -ENOMEM;
			break;
		}
		retval = mm_vma_insert(mm, tmp);
		if (retval) {
			free(tmp);
			break;
		}
		if (tmp->vm_ops && tmp->vm_ops->open)
			tmp->vm_ops->open(tmp);
		if (tmp->vm_file) {
			get_file(tmp->vm_file);
			vma_link_file(tmp);
		}
		if (!(tmp->vm_flags & VM_WIPEONFORK))
			retval = copy_page_range(tmp, mpnt);
		if (retval)
			break;
	}
	mmap_write_unlock(mm);
	mmap_write_unlock(oldmm);
	return retval;
}

/*
 * dup_mm(): allocate the mm (mm_alloc() with its leader task, as
 * allocate_mm() + mm_init() + the new task of copy_process()), take over
 * the parent's layout fields, and dup_mmap().  On failure the half-built
 * child is torn down by mmput() (exit_mmap() drops every reference its
 * entries took) and copy_mm() reports -ENOMEM.
 */
struct mm_struct *dup_mm(struct mm_struct *oldmm, const char *comm, int *err)
{
	struct mm_struct *mm = mm_alloc(comm);

	if (!mm) {
		*err = -ENOMEM;
		return NULL;
	}
	mm->mmap_base = oldmm->mmap_base;
	mm->start_brk = oldmm->start_brk;
	mm->brk = oldmm->brk;
	mm->start_stack = oldmm->start_stack;
	*err = dup_mmap(mm, oldmm);
	if (*err) {
		mmput(mm);
		return NULL;
	}
	return mm;
}
