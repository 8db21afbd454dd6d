/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim <linux/mm.h> for the tree's mm/pagewalk.c and for the functions
 * ktree/meson.build extracts from its mm/memory.c (follow_pfnmap_start/_end,
 * which get this header forced in, -include, since the extract has no
 * #include lines): the kernel names they and the tree's <linux/pagewalk.h>
 * use, mapped onto the simulated machine.  No kernel code here; each item
 * is pinsim's own.
 *
 * Mapped onto sim/ (same name, same meaning, nothing to add):
 *   page-table types and accessors, p?d_offset, p?d_addr_end, pgd_index,
 *   PTRS_PER_*, TASK_SIZE, pte_offset_kernel, pte_offset_map_lock,
 *   pte_unmap{,_unlock}, pudp_get, pmdp_get{,_lockless}, ptep_get,
 *   p?d_none/present/leaf/special/pfn, pud_lock, pmd_lock (sim/pgtable.h);
 *   struct mm_struct, vm_area_struct, address_space, VM_* flags,
 *   is_vm_hugetlb_page (sim/mm_types.h); find_vma, mmap_assert_locked,
 *   mmap_assert_write_locked, split_huge_pud, split_huge_pmd,
 *   vm_normal_page, vm_normal_page_pmd (sim/mm.h); struct page/folio,
 *   pfn_to_page, page_folio, PAGE_SIZE/SHIFT (sim/page.h); spinlock_t,
 *   spin_unlock (sim/spinlock.h); WARN_ON_ONCE, likely (sim/bug.h).
 * Adapted:
 *   struct follow_pfnmap_args -> struct ktree_follow_pfnmap_args of
 *                       ktree/ktree_memory.h (tag renamed by ktree_rename.h),
 *                       the 6.12.y layout of the tree's include/linux/mm.h,
 *                       declared by hand: see that header for why;
 *   pud/pmd/pte_pgprot, _write, _special, p4d_bad, pte_unmap -> sim's, as
 *                       they are (sim/pgtable.h);
 *   init_mm          -> *machine->init_mm (the simulated kernel's mm);
 *   pte_offset_map(pmd, addr) -> sim's three-argument form, no pmdval out;
 *   PTRS_PER_P4D, p4d_addr_end -> the folded level of sim/pgtable.h, as
 *                       include/asm-generic/pgtable-nop4d.h folds it;
 *   pud_page         -> pfn_to_page(pud_pfn()), as x86's pgtable.h;
 *   pgd/p4d_none_or_clear_bad -> none, or bad: WARN (pgd_ERROR) and clear,
 *                       as include/linux/pgtable.h + mm/pgtable-generic.c;
 *   vma_interval_tree_foreach -> pinsim's address_space keeps its VMAs in
 *                       a list, not an interval tree: same VMAs (those whose
 *                       pgoff range meets [start, last]), list order rather
 *                       than pgoff order;
 *   lockdep_assert_held -> WARN unless the calling task holds the rwsem
 *                       (walk_page_mapping() asserts i_mmap_rwsem only);
 *   VM_WARN_ON_ONCE  -> WARN_ON_ONCE: evaluated, as with CONFIG_DEBUG_VM
 *                       (Debian builds without it; the conditions read
 *                       only local copies, so evaluating them is harmless).
 * Instrumented (pinsim's scheduler, not kernel behaviour):
 *   split_huge_pud, split_huge_pmd -> sim's, then sched_point(
 *                       SP_WALK_PUD_AFTER_SPLIT / SP_WALK_PMD_AFTER_SPLIT),
 *                       the points sim/pagewalk.c has right after the same
 *                       calls, so that the explorer can preempt the tree's
 *                       walker in the seeds/01 window.  The other points the
 *                       rewrite calls directly are added by
 *                       ktree/include/ktree_sched_hooks.h, forced into one
 *                       compilation each because they wrap primitives with
 *                       other users: pudp_get/pmd_offset in mm/pagewalk.c
 *                       (SP_WALK_PMD_ENTRY at walk_pmd_range() entry, before
 *                       its first read of the PUD), pud_lock/pmd_lock in
 *                       the mm/memory.c extract (SP_FOLLOW_PFNMAP_LOCKLESS
 *                       between follow_pfnmap_start()'s lockless read of a
 *                       leaf and its lock).  SP_PTL and SP_MMAP_LOCK come
 *                       from sim's locks.  With them, a bounded search of
 *                       the tree's code makes the same decisions, at the
 *                       same points, as one of the rewrite
 *                       (tests/ktree/test_ktree_explore_diff.c).
 * Stubbed, and why:
 *   EXPORT_SYMBOL_GPL -> nothing (a file-scope static assertion, to eat the
 *                       `;`): the simulation has no modules;
 *   CONFIG_LOCKDEP   -> left undefined, as Debian's 6.12 config does, so
 *                       pfnmap_lockdep_assert() is empty in the tree's code
 *                       (pinsim's lib/follow_pfnmap.c asserts the mmap lock;
 *                       the tests hold it for both);
 *   vma_pgtable_walk_begin/end -> nothing: they take the hugetlb VMA lock
 *                       against PMD unsharing, and pinsim has no PMD sharing;
 *   pud_devmap       -> false: no ZONE_DEVICE memory in the simulation;
 *   is_huge_zero_pmd, is_zero_pfn -> false: no (huge) zero page in the
 *                       simulation (sim/fault.c allocates on read faults);
 *   IS_ENABLED(x)    -> (x), with only the CONFIG_ names used in #if / IS_ENABLED
 *                       defined: CONFIG_HUGETLB_PAGE and
 *                       CONFIG_PGTABLE_HAS_HUGE_LEAVES as x86-64 Debian sets
 *                       them; CONFIG_PER_VMA_LOCK left undefined because
 *                       pinsim has no per-VMA locks (the rewrite models them
 *                       on the mmap lock), so process_vma_walk_lock() is empty.
 *
 * Direct dereferences: the kernel code reads entries as *pmd / *pud, not
 * through sim's checked accessors.  They need no shim: sim/phys.c reserves
 * the whole simulated physical space in the host (RAM readable, the gap
 * and the MMIO window PROT_NONE), so a BAR leaf descended into as if it
 * were a table (seeds/01) is a host SIGSEGV, which the direct map's fault
 * handler (direct_map_fault() in sim/phys.c) turns into the same oops
 * record as sim's accessors make, the task leaving through its landing pad
 * with its locks held; the function is named from the faulting instruction
 * (sim/kallsyms.c), as the kernel's oops names RIP's.  Not caught under
 * valgrind or ASan with handle_segv=2 (their own handlers run first): there
 * the test process crashes instead.
 */
#ifndef KTREE_LINUX_MM_H
#define KTREE_LINUX_MM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "bug.h"
#include "machine.h"
#include "mm.h"
#include "mm_types.h"
#include "page.h"
#include "pgtable.h"
#include "rwsem.h"
#include "sched_point.h"
#include "spinlock.h"

#include "ktree_memory.h"

/* ---- include/linux/{types,compiler,bits,minmax,kconfig}.h vocabulary ---- */
typedef unsigned long pgoff_t;
#define __bitwise
#define __force
#ifndef BIT
#define BIT(nr) (1UL << (nr))
#endif
#define min(a, b) ({ __typeof__(a) __a = (a); __typeof__(b) __b = (b); __a < __b ? __a : __b; })
#define max(a, b) ({ __typeof__(a) __a = (a); __typeof__(b) __b = (b); __a > __b ? __a : __b; })

#define CONFIG_HUGETLB_PAGE 1
#define CONFIG_PGTABLE_HAS_HUGE_LEAVES 1
#define IS_ENABLED(option) (option)

#define VM_WARN_ON_ONCE(cond) ((void)WARN_ON_ONCE(cond))
#define lockdep_assert_held(sem) ((void)WARN_ON(!rwsem_held_by_current(sem)))

#define EXPORT_SYMBOL_GPL(sym) _Static_assert(1, "EXPORT_SYMBOL_GPL")

/* ---- the kernel's mm ---- */
#define init_mm (*machine->init_mm)

/* ---- page tables ---- */
#define pte_offset_map(pmd, addr) pte_offset_map((pmd), (addr), NULL)
#define PTRS_PER_P4D 1
#define p4d_addr_end(addr, end) ((void)(addr), (end))
#define pud_page(pud) pfn_to_page(pud_pfn(pud))

static inline int pgd_none_or_clear_bad(pgd_t *pgd)
{
	pgd_t v = pgdp_get(pgd);

	if (pgd_none(v))
		return 1;
	if (unlikely(pgd_bad(v))) {
		WARN_ON(pgd_bad(v));
		set_pgd(pgd, __pgd(0));
		return 1;
	}
	return 0;
}
#define p4d_none_or_clear_bad(p4d) pgd_none_or_clear_bad(p4d)	/* folded */

static inline bool pud_devmap(pud_t pud) { (void)pud; return false; }
static inline bool is_huge_zero_pmd(pmd_t pmd) { (void)pmd; return false; }
static inline bool is_zero_pfn(unsigned long pfn) { (void)pfn; return false; }

/* mem_map is one array in the simulation (no SPARSEMEM sections). */
#define nth_page(page, n) ((page) + (n))

#define split_huge_pud(vma, pud, addr)                                         \
	do {                                                                    \
		split_huge_pud((vma), (pud), (addr));                           \
		sched_point(SP_WALK_PUD_AFTER_SPLIT, (vma)->vm_mm, (addr));     \
	} while (0)
#define split_huge_pmd(vma, pmd, addr)                                         \
	do {                                                                    \
		split_huge_pmd((vma), (pmd), (addr));                           \
		sched_point(SP_WALK_PMD_AFTER_SPLIT, (vma)->vm_mm, (addr));     \
	} while (0)

/* ---- VMAs ---- */
static inline unsigned long vma_pages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}

static inline void vma_pgtable_walk_begin(struct vm_area_struct *vma) { (void)vma; }
static inline void vma_pgtable_walk_end(struct vm_area_struct *vma) { (void)vma; }

static inline bool ktree_vma_meets_pgoff(const struct vm_area_struct *vma, pgoff_t first,
					 pgoff_t last)
{
	return vma->vm_pgoff <= last && vma->vm_pgoff + vma_pages(vma) - 1 >= first;
}
#define vma_interval_tree_foreach(vma, root, start, last)                          \
	for ((vma) = *(root); (vma); (vma) = (vma)->vm_mapping_next)              \
		if (!ktree_vma_meets_pgoff((vma), (start), (last))) {             \
		} else

#endif /* KTREE_LINUX_MM_H */
