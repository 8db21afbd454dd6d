/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel for the tree's drivers/vfio/vfio_iommu_type1.c, compiled whole
 * over the simulated machine (ktree/meson.build).  Forced first into the
 * compilation (-include); the <linux/...> headers the file includes are
 * one-line shims in ktree/vfio/include/linux/ (they include this), except
 * <linux/mm.h> and <linux/highmem.h>, the walker's shims of ktree/include,
 * and <linux/vfio.h>, the host's uapi header (include_next).  Its
 * `#include "vfio.h"` (drivers/vfio/vfio.h) finds ktree/vfio/include/vfio.h.
 * No kernel code here: every item is pinsim's own.
 *
 * Mapped onto sim/ (same name, same meaning):
 *   mutex_lock/unlock (sim/mutex.h; mutex_init takes the lockdep name sim
 *   asks for from its argument's text); current, ->mm, ->group_leader,
 *   ->comm, fatal_signal_pending, cond_resched (sim/task.h); mmap_read_lock,
 *   mmap_read_unlock, mmap_write_lock_killable, mmap_write_unlock,
 *   vma_lookup, VM_PFNMAP, __account_locked_vm, FOLL_*,
 *   FAULT_FLAG_*, fixup_user_fault, pin_user_pages_remote,
 *   unpin_user_pages_dirty_lock, unpin_user_page_range_dirty_lock,
 *   mmgrab, mmdrop, mmget_not_zero, mmput (mm_count/mm_users: the last
 *   mmput() is exit_mmap(), the last mmdrop() frees the pgd and the
 *   struct) (sim/mm.h); get_task_struct, put_task_struct (the task's usage
 *   count: the struct outlives the task's exit while referenced)
 *   (sim/task.h); pfn_valid, pfn_to_page, page_to_pfn, PageReserved,
 *   PAGE_SIZE/SHIFT/MASK (sim/page.h); WARN_ON, BUG_ON (sim/bug.h); struct
 *   iommu_domain (its ops, pgsize_bitmap, geometry), iommu_domain_free,
 *   iommu_unmap, iommu_iova_to_phys, iommu_enable_nesting,
 *   iommu_iotlb_gather_init, iommu_attach_group, iommu_detach_group,
 *   IOMMU_READ/WRITE/CACHE, IOMMU_RESV_* (sim/iommu.h).
 * Adapted (the kernel's shape over sim's):
 *   iommu_map(d, iova, paddr, size, prot, gfp) -> sim's iommu_map() without
 *     gfp (the IO page table is host memory);
 *   iommu_unmap_fast(d, iova, size, gather), iommu_iotlb_sync(d, gather) ->
 *     iommu_unmap_fast_gather(), iommu_iotlb_sync_gather(): the tree's
 *     gather on its stack is what is synced;
 *   iommu_paging_domain_alloc(dev) -> iommu_domain_alloc_unit() of the
 *     device's IOMMU unit, with pinsim's configured page sizes
 *     (vfio_type1_cfg.iommu_pgsize_bitmap, as pinsim's type1 allocates) and
 *     its geometry's end clipped to vfio_type1_cfg.iova_aperture_end (the
 *     aperture pinsim's type1 intersects); ERR_PTR(-ENOMEM) on failure;
 *   iommu_group_for_each_dev(group, data, fn) -> fn on the group's one
 *     device (ktree_type1_group_alloc() makes it);
 *   struct iommu_resv_region (with its list member),
 *     iommu_get_group_resv_regions(group, list) -> sim's regions of the
 *     group (the interrupt window as IOMMU_RESV_MSI), as kmalloc'd list
 *     entries the caller frees (vfio_iommu_resv_free());
 *   struct follow_pfnmap_args, follow_pfnmap_start/end -> the TREE's own
 *     (ktree_follow_pfnmap_start/_end, cut out of its mm/memory.c, 6.12.y
 *     layout of ktree/ktree_memory.h): the tree's type1 runs on the tree's
 *     follow_pfnmap_start, whatever the machine's walker;
 *   rlimit(RLIMIT_MEMLOCK), task_rlimit() -> rlimit_memlock();
 *     capable(CAP_IPC_LOCK) -> capable_ipc_lock(); task_pid_nr -> tid;
 *   copy_from_user/copy_to_user -> memcpy on the caller's host pointer,
 *     which stands for user memory (lib/vfio_iommu_driver.h); an address
 *     in the NULL page or above TASK_SIZE_MAX faults (returns the bytes not
 *     copied, all of them), as the kernel's copy to a bad user address
 *     does; access_ok as x86-64's (below TASK_SIZE_MAX, no wrap);
 *   kzalloc/kmalloc/kfree/kvzalloc/kvfree/krealloc -> calloc/malloc/free/
 *     realloc, each allocation a failslab injection point
 *     (sim/fault_inject.h should_fail_alloc(FAIL_SLAB), pinsim_fail_nth()),
 *     so the tree's own error paths run under the same sweeps; __get_free_page/free_page -> a host page (vfio_batch's
 *     pages array, not simulated RAM);
 *   alloc_pages/__free_pages (vfio_test_domain_fgsp() only) -> the
 *     reserved frames at physical 0, as pinsim's type1 maps for the same
 *     probe: the pages are never touched by a device, and taking simulated
 *     RAM would change the frame counts tests compare;
 *   lists, ERR_PTR, container_of, min_t, abs, ALIGN, struct_size,
 *     offsetofend, BITS_PER_*, __ffs, __fls, bitmap_set/clear/or/
 *     shift_left: pinsim's own, same meaning as include/linux/{list,err,
 *     kernel,math,overflow,stddef,bitops,bitmap}.h;
 *   rbtree -> ktree/vfio/include/ktree_rbtree.h (why: see there);
 *   pr_warn -> stderr, prefixed "ktree: ".
 * Instrumented (statistics and pinsim's scheduler; nothing changes what the
 * code does), each wrapper acting only when __func__ is the tree's caller
 * named, so that a helper of the same primitive elsewhere is not counted:
 *   mmap_read_lock in vaddr_get_pfns -> counts its calls (its first
 *     statement after the flags);
 *   vma_lookup in vaddr_get_pfns -> a second lookup in one call is its
 *     `goto retry` (eagain_loops);
 *   pin_user_pages_remote in vaddr_get_pfns -> gup_calls;
 *   fixup_user_fault in follow_fault_pfn -> faults; then, when it returned
 *     0 without dropping the lock, sched_point(SP_FOLLOW_FAULT_AFTER_FIXUP,
 *     mm, vaddr): the point lib/vfio_iommu_type1.c's follow_fault_pfn()
 *     has after the same call and the same two checks (unlocked, ret),
 *     right before its second follow_pfnmap_start();
 *   follow_pfnmap_start in follow_fault_pfn -> follow_failures when != 0;
 *   iommu_map in vfio_iommu_map -> iommu_maps (at its first domain),
 *     pinned_pages or pfnmap_pages (the run's pages, by its first pfn: a run
 *     is all RAM or all reserved, vfio_pin_pages_remote() breaks it where
 *     that changes), and, after a successful map into the last domain of
 *     the list, SP_PIN_BETWEEN_RUNS (ktree_type1_between_runs());
 *   unpin_user_pages_dirty_lock, unpin_user_page_range_dirty_lock ->
 *     unpin_calls (every call in the file is put_pfn()'s).
 * Stubbed, and why:
 *   module_param_named, MODULE_*, __init/__exit, THIS_MODULE, __read_mostly,
 *     __user -> nothing: no modules; the parameters are the file's statics,
 *     set by the wrapper from vfio_type1_cfg;
 *   module_init(fn) -> a global ktree_vfio_type1_module_init() calling fn
 *     (the wrapper calls it once, to capture the ops);
 *   module_exit(fn) -> a reference to fn, never called (no unload);
 *   kthread_use_mm/kthread_unuse_mm -> WARN: only vfio_iommu_type1_dma_rw()
 *     (an mdev's access) calls them, and the table does not expose it;
 *   untagged_addr_remote -> the address: no tagged addresses on x86-64;
 *   iommu_group_has_isolated_msi -> true: interrupt remapping is present
 *     (pinsim's type1 assumes the same: no -EPERM path);
 *   iommu_get_msi_cookie -> 0: never reached, x86 reports IOMMU_RESV_MSI,
 *     not SW_MSI.
 */
#ifndef KTREE_VFIO_SHIM_H
#define KTREE_VFIO_SHIM_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/mm.h>	/* ktree/include/linux/mm.h: sim's mm, page tables */
#include "fault_inject.h"	/* sim/: failslab for kmalloc() and friends */

#include "iommu.h"
#include "mutex.h"
#include "sched_point.h"
#include "task.h"

#include "ktree_rbtree.h"
#include "ktree_vfio_type1.h"

/* ---- types, attributes, module glue ---- */
#include <linux/types.h>	/* the host's uapi __u64...: u64 is unsigned long long, as in the kernel */
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;

#define __user
#define __init
#define __exit
#define __read_mostly
#define fallthrough __attribute__((__fallthrough__))
#define THIS_MODULE NULL
#define S_IRUGO 0444
#define S_IWUSR 0200
#define module_param_named(name, var, type, perm) _Static_assert(1, "module_param")
#define MODULE_PARM_DESC(name, desc) _Static_assert(1, "MODULE_PARM_DESC")
#define MODULE_VERSION(v) _Static_assert(1, "MODULE_VERSION")
#define MODULE_LICENSE(v) _Static_assert(1, "MODULE_LICENSE")
#define MODULE_AUTHOR(v) _Static_assert(1, "MODULE_AUTHOR")
#define MODULE_DESCRIPTION(v) _Static_assert(1, "MODULE_DESCRIPTION")
#define module_init(fn)                                                        \
	int ktree_vfio_type1_module_init(void);                                 \
	int ktree_vfio_type1_module_init(void)                                  \
	{                                                                       \
		return fn();                                                    \
	}
#define module_exit(fn) static void (*const ktree_module_exit_fn)(void) __attribute__((unused)) = fn

#define U16_MAX ((u16)~0U)
#define U64_MAX ((u64)~0ULL)

/* ---- include/linux/{kernel,math,overflow,stddef,err}.h ---- */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define min_t(type, a, b) min((type)(a), (type)(b))
#define abs(x) ({ __typeof__(x) __x = (x); __x < 0 ? -__x : __x; })
#define ALIGN(x, a) (((x) + ((__typeof__(x))(a) - 1)) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define BITS_PER_BYTE 8
#define BITS_PER_LONG 64
#define BITS_PER_TYPE(t) (sizeof(t) * BITS_PER_BYTE)
#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define struct_size(p, member, n) (sizeof(*(p)) + sizeof(*(p)->member) * (size_t)(n))
#define MAX_ERRNO 4095

static inline void *ERR_PTR(long error)
{
	return (void *)error;
}

static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}

static inline bool IS_ERR(const void *ptr)
{
	return (unsigned long)ptr >= (unsigned long)-MAX_ERRNO;
}

#define WARN_ONCE(cond, ...)                                                    \
	({                                                                      \
		bool __wc = !!(cond);                                           \
		if (__wc)                                                       \
			fprintf(stderr, "ktree: " __VA_ARGS__);                 \
		WARN_ON(__wc);                                                  \
	})
#define pr_warn(...) fprintf(stderr, "ktree: " __VA_ARGS__)

/* ---- include/linux/bitops.h, bitmap.h (unsigned long words) ---- */
/*
 * The kernel leaves __ffs(0)/__fls(0) undefined, yet the tree's type1 calls
 * them on user input (vfio_iommu_type1_dirty_pages() with dirty.flags 0,
 * the unmap bitmap's pgsize 0).  What x86-64 computes is defined here
 * instead of C's undefined __builtin_ctzl(0) (UBSan): 6.12
 * arch/x86/include/asm/bitops.h variable__ffs() is tzcnt, BITS_PER_LONG
 * for 0 on every CPU with BMI1; __fls() is bsr, whose destination a zero
 * source leaves as it was (0 when, as usual, it is the source's register).
 */
static inline unsigned long __ffs(unsigned long w)
{
	return w ? (unsigned long)__builtin_ctzl(w) : BITS_PER_LONG;
}

static inline unsigned long __fls(unsigned long w)
{
	return w ? (unsigned long)(BITS_PER_LONG - 1 - __builtin_clzl(w)) : 0;
}

static inline void bitmap_set(unsigned long *map, unsigned int start, unsigned int nbits)
{
	for (unsigned long i = start; i < (unsigned long)start + nbits; i++)
		map[i / BITS_PER_LONG] |= 1UL << (i % BITS_PER_LONG);
}

static inline void bitmap_clear(unsigned long *map, unsigned int start, unsigned int nbits)
{
	for (unsigned long i = start; i < (unsigned long)start + nbits; i++)
		map[i / BITS_PER_LONG] &= ~(1UL << (i % BITS_PER_LONG));
}

/*
 * dst = src << shift over BITS_TO_LONGS(nbits) whole words, the last one
 * NOT masked to nbits: include/linux/bitmap.h bitmap_shift_left() masks
 * only for a compile-time nbits of one word (small_const_nbits()), and
 * vfio's calls (update_user_bitmap(): nbits + shift) never are, so they
 * reach lib/bitmap.c __bitmap_shift_left(), which leaves the bits above
 * nbits in the last word as the shift made them.  (Masking here made the
 * tree report fewer dirty bits than 6.12 does: the differential found it,
 * tests/ktree/test_ktree_type1_diff.c.)
 */
static inline void bitmap_shift_left(unsigned long *dst, const unsigned long *src,
				     unsigned int shift, unsigned int nbits)
{
	unsigned long words = (nbits + BITS_PER_LONG - 1) / BITS_PER_LONG;
	unsigned long wshift = shift / BITS_PER_LONG, bshift = shift % BITS_PER_LONG;

	for (unsigned long k = words; k-- > 0;) {
		unsigned long hi = k >= wshift ? src[k - wshift] : 0;
		unsigned long lo = bshift && k >= wshift + 1 ? src[k - wshift - 1] : 0;

		dst[k] = bshift ? hi << bshift | lo >> (BITS_PER_LONG - bshift) : hi;
	}
}

static inline void bitmap_or(unsigned long *dst, const unsigned long *a, const unsigned long *b,
			     unsigned int nbits)
{
	for (unsigned long k = 0; k < (nbits + BITS_PER_LONG - 1) / BITS_PER_LONG; k++)
		dst[k] = a[k] | b[k];
}

/* ---- include/linux/list.h ---- */
struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name) { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)

static inline void INIT_LIST_HEAD(struct list_head *l)
{
	l->next = l->prev = l;
}

static inline void __list_link(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

static inline void list_add(struct list_head *n, struct list_head *head)
{
	__list_link(n, head, head->next);
}

static inline void list_add_tail(struct list_head *n, struct list_head *head)
{
	__list_link(n, head->prev, head);
}

static inline void list_del(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
	e->next = e->prev = NULL;
}

static inline bool list_empty(const struct list_head *head)
{
	return head->next == head;
}

static inline bool list_is_singular(const struct list_head *head)
{
	return !list_empty(head) && head->next == head->prev;
}

/* @list's entries go before @head, in order; @list is left stale (not re-initialised). */
static inline void list_splice_tail(struct list_head *list, struct list_head *head)
{
	if (list_empty(list))
		return;
	list->next->prev = head->prev;
	head->prev->next = list->next;
	list->prev->next = head;
	head->prev = list->prev;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(head, type, member) list_entry((head)->next, type, member)
#define list_last_entry(head, type, member) list_entry((head)->prev, type, member)
#define list_next_entry(pos, member) list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_prev_entry(pos, member) list_entry((pos)->member.prev, __typeof__(*(pos)), member)
#define list_entry_is_head(pos, head, member) (&(pos)->member == (head))
#define list_for_each_entry(pos, head, member)                                  \
	for (pos = list_first_entry(head, __typeof__(*pos), member);            \
	     !list_entry_is_head(pos, head, member); pos = list_next_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member)                          \
	for (pos = list_first_entry(head, __typeof__(*pos), member),            \
	    n = list_next_entry(pos, member);                                   \
	     !list_entry_is_head(pos, head, member); pos = n, n = list_next_entry(n, member))
#define list_for_each_entry_continue(pos, head, member)                         \
	for (pos = list_next_entry(pos, member); !list_entry_is_head(pos, head, member); \
	     pos = list_next_entry(pos, member))
#define list_for_each_entry_continue_reverse(pos, head, member)                 \
	for (pos = list_prev_entry(pos, member); !list_entry_is_head(pos, head, member); \
	     pos = list_prev_entry(pos, member))

/* ---- mutexes: sim/mutex.h, with the lockdep name it wants ---- */
#define mutex_init(m) mutex_init((m), #m)

/* ---- slab, pages ---- */
#define GFP_KERNEL 0u
#define GFP_KERNEL_ACCOUNT 0u
#define __GFP_ZERO 0x100u

static inline void *kmalloc(size_t size, unsigned int gfp)
{
	if (should_fail_alloc(FAIL_SLAB))
		return NULL;
	return gfp & __GFP_ZERO ? calloc(1, size) : malloc(size);
}

static inline void *kzalloc(size_t size, unsigned int gfp)
{
	(void)gfp;
	return should_fail_alloc(FAIL_SLAB) ? NULL : calloc(1, size);
}

static inline void *krealloc(void *p, size_t size, unsigned int gfp)
{
	(void)gfp;
	return should_fail_alloc(FAIL_SLAB) ? NULL : realloc(p, size);
}

static inline void kfree(const void *p)
{
	free((void *)p);
}

#define kvzalloc kzalloc
#define kvfree kfree

static inline unsigned long __get_free_page(unsigned int gfp)
{
	(void)gfp;
	return (unsigned long)calloc(1, PAGE_SIZE);
}

static inline void free_page(unsigned long addr)
{
	free((void *)addr);
}

static inline int get_order(unsigned long size)
{
	int order = 0;

	while ((PAGE_SIZE << order) < size)
		order++;
	return order;
}

static inline struct page *alloc_pages(unsigned int gfp, unsigned int order)
{
	(void)gfp;
	(void)order;
	return pfn_to_page(0);	/* see the top of this file */
}

static inline void __free_pages(struct page *page, unsigned int order)
{
	(void)page;
	(void)order;
}

static inline phys_addr_t page_to_phys(const struct page *page)
{
	return (phys_addr_t)page_to_pfn(page) << PAGE_SHIFT;
}

/* ---- uaccess ---- */
#define TASK_SIZE_MAX 0x00007ffffffff000UL

static inline bool access_ok(const void *p, unsigned long size)
{
	unsigned long a = (unsigned long)p;

	return a <= TASK_SIZE_MAX && size <= TASK_SIZE_MAX - a;
}

static inline bool ktree_user_ok(const void *p, unsigned long n)
{
	return (unsigned long)p >= PAGE_SIZE && access_ok(p, n);
}

static inline unsigned long copy_from_user(void *to, const void *from, unsigned long n)
{
	if (!ktree_user_ok(from, n))
		return n;
	memcpy(to, from, n);
	return 0;
}

static inline unsigned long copy_to_user(void *to, const void *from, unsigned long n)
{
	if (!ktree_user_ok(to, n))
		return n;
	memcpy(to, from, n);
	return 0;
}

/* ---- tasks, credentials, limits ---- */
#define RLIMIT_MEMLOCK 8
#define CAP_IPC_LOCK 14

static inline bool capable(int cap)
{
	return cap == CAP_IPC_LOCK && capable_ipc_lock();
}

static inline unsigned long task_rlimit(struct task_struct *t, int which)
{
	(void)which;
	return rlimit_memlock(t);
}

#define rlimit(which) task_rlimit(current, (which))

static inline int task_pid_nr(struct task_struct *t)
{
	return (int)t->tid;
}

/* ---- mm references: sim's mmgrab/mmdrop/mmget_not_zero/mmput (see the top) ---- */

static inline void kthread_use_mm(struct mm_struct *mm)
{
	WARN_ON(mm);	/* not reachable through the table: see the top */
}

static inline void kthread_unuse_mm(struct mm_struct *mm)
{
	WARN_ON(mm);
}

#define untagged_addr_remote(mm, addr) ((void)(mm), (addr))

/* ---- instrumented mm primitives (see the top) ---- */
static inline bool ktree_in(const char *func, const char *name)
{
	return !strcmp(func, name);
}

/* vaddr_get_pfns() has looked its VMA up once already in this call. */
extern __sim_tls bool ktree_vaddr_get_pfns_looked_up;

static inline void ktree_hook_mmap_read_lock(const char *func, struct mm_struct *mm)
{
	if (ktree_in(func, "vaddr_get_pfns")) {
		ktree_type1_count(KTREE_VADDR_GET_PFNS, 1);
		ktree_vaddr_get_pfns_looked_up = false;
	}
	mmap_read_lock(mm);
}
#define mmap_read_lock(mm) ktree_hook_mmap_read_lock(__func__, (mm))

static inline struct vm_area_struct *ktree_hook_vma_lookup(const char *func, struct mm_struct *mm,
							   unsigned long addr)
{
	if (ktree_in(func, "vaddr_get_pfns")) {
		if (ktree_vaddr_get_pfns_looked_up)
			ktree_type1_count(KTREE_EAGAIN_LOOPS, 1);
		ktree_vaddr_get_pfns_looked_up = true;
	}
	return vma_lookup(mm, addr);
}
#define vma_lookup(mm, addr) ktree_hook_vma_lookup(__func__, (mm), (addr))

static inline long ktree_hook_pin_user_pages_remote(const char *func, struct mm_struct *mm,
						    unsigned long start, unsigned long nr,
						    unsigned int flags, struct page **pages,
						    int *locked)
{
	if (ktree_in(func, "vaddr_get_pfns"))
		ktree_type1_count(KTREE_GUP_CALLS, 1);
	return pin_user_pages_remote(mm, start, nr, flags, pages, locked);
}
#define pin_user_pages_remote(mm, start, nr, flags, pages, locked)                    \
	ktree_hook_pin_user_pages_remote(__func__, (mm), (start), (nr), (flags), (pages), \
					 (locked))

static inline int ktree_hook_fixup_user_fault(const char *func, struct mm_struct *mm,
					      unsigned long addr, unsigned int flags,
					      bool *unlocked)
{
	bool in = ktree_in(func, "follow_fault_pfn");
	int ret;

	if (in)
		ktree_type1_count(KTREE_FAULTS, 1);
	ret = fixup_user_fault(mm, addr, flags, unlocked);
	if (in && !ret && !*unlocked)
		sched_point(SP_FOLLOW_FAULT_AFTER_FIXUP, mm, addr);
	return ret;
}
#define fixup_user_fault(mm, addr, flags, unlocked)                                  \
	ktree_hook_fixup_user_fault(__func__, (mm), (addr), (flags), (unlocked))

#define follow_pfnmap_args ktree_follow_pfnmap_args

static inline int ktree_hook_follow_pfnmap_start(const char *func,
						 struct ktree_follow_pfnmap_args *args)
{
	int ret = ktree_follow_pfnmap_start(args);

	if (ret && ktree_in(func, "follow_fault_pfn"))
		ktree_type1_count(KTREE_FOLLOW_FAILURES, 1);
	return ret;
}
#define follow_pfnmap_start(args) ktree_hook_follow_pfnmap_start(__func__, (args))
#define follow_pfnmap_end ktree_follow_pfnmap_end

static inline void ktree_hook_unpin_dirty_lock(struct page **pages, unsigned long n, bool dirty)
{
	ktree_type1_count(KTREE_UNPIN_CALLS, 1);
	unpin_user_pages_dirty_lock(pages, n, dirty);
}
#define unpin_user_pages_dirty_lock ktree_hook_unpin_dirty_lock

static inline void ktree_hook_unpin_range_dirty_lock(struct page *page, unsigned long n,
						     bool dirty)
{
	ktree_type1_count(KTREE_UNPIN_CALLS, 1);
	unpin_user_page_range_dirty_lock(page, n, dirty);
}
#define unpin_user_page_range_dirty_lock ktree_hook_unpin_range_dirty_lock

/* ---- the IOMMU core (include/linux/iommu.h) ---- */

/* struct device: what the IOMMU core reads of one (its group). */
struct bus_type {
	const char *name;
};

struct device {
	const struct bus_type *bus;
	struct iommu_group *iommu_group;
};

/* The group's one device (ktree/vfio/ktree_vfio_type1_wrap.c). */
struct device *ktree_iommu_group_dev(struct iommu_group *group);

static inline int iommu_group_for_each_dev(struct iommu_group *group, void *data,
					   int (*fn)(struct device *, void *))
{
	struct device *dev = ktree_iommu_group_dev(group);

	return dev ? fn(dev, data) : 0;
}

static inline struct iommu_domain *iommu_paging_domain_alloc(struct device *dev)
{
	struct iommu_domain *d = iommu_domain_alloc_unit(ktree_iommu_pgsize_bitmap,
							 dev->iommu_group->iommu_unit);

	if (!d)
		return ERR_PTR(-ENOMEM);
	if (d->geometry.aperture_end > ktree_iommu_aperture_end)
		d->geometry.aperture_end = ktree_iommu_aperture_end;
	return d;
}

static inline bool iommu_group_has_isolated_msi(struct iommu_group *group)
{
	(void)group;
	return true;
}

static inline int iommu_get_msi_cookie(struct iommu_domain *domain, dma_addr_t base)
{
	(void)domain;
	(void)base;
	return 0;
}

static inline int ktree_hook_iommu_map(const char *func, struct iommu_domain *domain,
				       dma_addr_t iova, phys_addr_t paddr, size_t size, int prot,
				       bool first, bool last)
{
	bool in = ktree_in(func, "vfio_iommu_map");
	int ret;

	if (in && first) {
		unsigned long pfn = paddr >> PAGE_SHIFT;
		bool rsvd = !pfn_valid(pfn) || PageReserved(pfn_to_page(pfn));

		ktree_type1_count(KTREE_IOMMU_MAPS, 1);
		ktree_type1_count(rsvd ? KTREE_PFNMAP_PAGES : KTREE_PINNED_PAGES,
				  size >> PAGE_SHIFT);
	}
	ret = iommu_map(domain, iova, paddr, size, prot);
	if (in && last && !ret)
		ktree_type1_between_runs(iova, size);
	return ret;
}

/*
 * Whether the domain is the first/last of the container in progress: read
 * by the wrapper TU, which knows struct vfio_iommu (the macro expands
 * inside the tree's functions, where only vfio_iommu_map()'s d is a
 * vfio_domain of the container's list).
 */
bool ktree_type1_domain_first(const struct iommu_domain *domain);
bool ktree_type1_domain_last(const struct iommu_domain *domain);

#define iommu_map(domain, iova, paddr, size, prot, gfp)                               \
	ktree_hook_iommu_map(__func__, (domain), (iova), (paddr), (size), (prot),       \
			     ktree_type1_domain_first(domain), ktree_type1_domain_last(domain))
#define iommu_unmap_fast(domain, iova, size, gather)                                  \
	iommu_unmap_fast_gather((domain), (iova), (size), (gather))
#define iommu_iotlb_sync(domain, gather) iommu_iotlb_sync_gather((domain), (gather))

/* include/linux/iommu.h struct iommu_resv_region: sim's, on a list. */
struct ktree_iommu_resv_region {
	struct list_head list;
	phys_addr_t start;
	size_t length;
	int prot;
	enum iommu_resv_type type;
};

static inline int ktree_iommu_get_group_resv_regions(struct iommu_group *group,
						     struct list_head *head)
{
	struct iommu_resv_region r[8];
	int n = iommu_get_group_resv_regions(r, 8);

	(void)group;	/* every simulated group has the same regions */
	for (int i = 0; i < n && i < 8; i++) {
		struct ktree_iommu_resv_region *e = calloc(1, sizeof(*e));

		if (!e)
			return -ENOMEM;
		e->start = r[i].start;
		e->length = r[i].length;
		e->type = r[i].type;
		list_add_tail(&e->list, head);
	}
	return 0;
}
#define iommu_resv_region ktree_iommu_resv_region
#define iommu_get_group_resv_regions ktree_iommu_get_group_resv_regions

#endif /* KTREE_VFIO_SHIM_H */
