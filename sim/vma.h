/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The VMA-set operations that mprotect, mremap and mlock share with mmap
 * (mm/vma.h, mm/internal.h in the kernel): sim/mmap.c implements them,
 * sim/mprotect.c, sim/mremap.c and sim/mlock.c use them.  Every function
 * here wants the mmap lock held for write.
 */
#ifndef SIM_VMA_H
#define SIM_VMA_H

#include "mm.h"

/* include/linux/mm.h; also in mm_types.h once fork lands there. */
#ifndef VM_LOCKONFAULT
#define VM_LOCKONFAULT 0x00080000UL
#endif
#ifndef VM_LOCKED_MASK
#define VM_LOCKED_MASK (VM_LOCKED | VM_LOCKONFAULT)
#endif
/* include/linux/mm.h VM_SPECIAL: never merged, never mlocked. */
#ifndef VM_SPECIAL
#define VM_SPECIAL (VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP)
#endif
#define VM_ACCESS_FLAGS (VM_READ | VM_WRITE | VM_EXEC)

/* vm_get_page_prot() (x86 protection_map) and vma_set_page_prot(). */
pgprot_t vm_get_page_prot(vm_flags_t vm_flags);
void vma_set_page_prot(struct vm_area_struct *vma);

/* __split_vma(): the new VMA takes [addr, vm_end); 0 or -ENOMEM. */
int split_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr);

/*
 * mm/vma.c vma_modify_flags(): [start, end) of @vma (inside it) is to get
 * @newflags.  vma_merge_existing_range() first (the range joins prev or
 * next, or both, when they are compatible with @newflags), else the VMA is
 * split at start and end.  Returns the VMA that now covers exactly
 * [start, end) (its vm_flags not yet changed unless merged), or NULL with
 * *err set (-ENOMEM; a first split that succeeded stays, as in the kernel).
 */
struct vm_area_struct *vma_modify_flags(struct mm_struct *mm, struct vm_area_struct *vma,
					unsigned long start, unsigned long end,
					vm_flags_t newflags, int *err);

/*
 * mm/vma.c vma_merge_extend() for mremap's grow in place: @vma grows by
 * @delta (free above it) and merges with the next VMA if compatible.
 * Returns the VMA covering the grown range.
 */
struct vm_area_struct *vma_merge_extend(struct mm_struct *mm, struct vm_area_struct *vma,
					unsigned long delta);

/*
 * mm/vma.c copy_vma() for mremap: a VMA like @src for [addr, addr + len)
 * at file offset @pgoff, in a free range: merged into a compatible
 * neighbour (vma_merge_new_range()) or a new VMA (file reference, i_mmap
 * link, ->open).  NULL on -ENOMEM.
 */
struct vm_area_struct *copy_vma(struct vm_area_struct *src, unsigned long addr,
				unsigned long len, unsigned long pgoff);

/*
 * __get_unmapped_area() for mremap: placement of @len bytes of @file at
 * @pgoff (@h: the hugetlb page size, or NULL), hint @addr, MAP_FIXED and
 * MAP_SHARED in @flags.  An address or -errno.
 */
unsigned long sim_get_unmapped_area(struct mm_struct *mm, struct file *file,
				    unsigned long addr, unsigned long len,
				    unsigned long pgoff, unsigned long flags, struct hstate *h);

/* mm->total_vm: pages of every VMA (mlockall()'s MCL_CURRENT check). */
unsigned long mm_total_vm(struct mm_struct *mm);

/* ---------------- sim/mlock.c (mm/mlock.c, mm/gup.c populate) ---------- */

/* can_do_mlock(): RLIMIT_MEMLOCK not 0, or CAP_IPC_LOCK. */
bool can_do_mlock(void);
/*
 * mlock_future_ok() (mm/mmap.c): may @bytes more of VM_LOCKED memory be
 * mapped (mmap with MAP_LOCKED or mlockall(MCL_FUTURE), mremap growth)?
 */
bool mlock_future_ok(struct mm_struct *mm, vm_flags_t flags, unsigned long bytes);
/*
 * __mm_populate(start, len, ignore_errors) (mm/gup.c): fault in the VMAs
 * of the range except VM_IO/VM_PFNMAP ones, VM_LOCKONFAULT ones and
 * inaccessible ones; a write fault for private writable memory
 * (populate_vma_page_range()).  Takes the mmap read lock itself.  0 or
 * -errno (-ENOMEM for a hole, -EFAULT, -ENOMEM).
 */
int __mm_populate(struct mm_struct *mm, unsigned long start, unsigned long len,
		  bool ignore_errors);

/* The system calls (mmap lock taken inside; 0 or -errno). */
int do_mlock(struct mm_struct *mm, unsigned long start, size_t len, vm_flags_t flags);
int do_munlock(struct mm_struct *mm, unsigned long start, size_t len);
int do_mlockall(struct mm_struct *mm, int flags);
int do_munlockall(struct mm_struct *mm);

/* ---------------- sim/mprotect.c (mm/mprotect.c) ----------------------- */

int do_mprotect_pkey(struct mm_struct *mm, unsigned long start, size_t len,
		     unsigned long prot, int pkey);

/* ---------------- sim/mremap.c (mm/mremap.c) --------------------------- */

/* The new address, or -errno cast (IS_ERR_VALUE()). */
unsigned long do_mremap(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
			unsigned long new_len, unsigned long flags, unsigned long new_addr);

#endif /* SIM_VMA_H */
