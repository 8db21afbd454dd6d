// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mm and its VMAs: creation and teardown, the VMA set, mmap and munmap
 * (mm/mmap.c, mm/vma.c, kernel/fork.c, include/linux/mmap_lock.h), and the
 * file references VMAs hold (fs/file_table.c fput()).
 *
 * The VMA set is a sorted array searched by binary search; the kernel's
 * maple tree gives the same answers.  A new mapping next to a compatible
 * VMA is merged into it as mmap_region() does (vma_merge_new_range()), so
 * the set, and numa_maps' one line per VMA, are the kernel's.  It is protected by mmap_lock like
 * the maple tree is for writers (no RCU readers here: the simulation has no
 * per-VMA locks, so every VMA lookup holds mmap_lock).
 */
#include <errno.h>
#include <linux/mman.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fault_inject.h"
#include "machine.h"
#include "mm.h"
#include "shmem.h"
#include "vfio_pci.h"
#include "vma.h"

/*
 * Top-down from here.  The kernel's mmap_base is only page-aligned and, with
 * ASLR, random; this one is fixed and 1G-aligned, so in a fresh mm the first
 * 2M-aligned placement below it (6.12's THP branch of get_unmapped_area())
 * happens to be 1G-aligned too.  Tests that must see the 6.12 outcome map a
 * page first; a VMM that needs 1G alignment maps MAP_FIXED.
 */
#define MMAP_BASE (TASK_SIZE - (1UL << 40))
#define MMAP_MIN_ADDR 0x10000UL

/* ---------------- file references (fs/file_table.c) ---------------- */

/* ____fput(): the task_work callback, container_of(work, struct file, f_task_work). */
static void ____fput(struct callback_head *work)
{
	struct file *file = (struct file *)((char *)work - offsetof(struct file, f_task_work));

	__fput(file);
}

/*
 * __fput(): what the last reference runs.  Of the kernel's steps only
 * f_op->release is modelled; a file that was allocated is freed by it.
 */
void __fput(struct file *file)
{
	if (file->f_op && file->f_op->release)
		file->f_op->release(file);
}

/*
 * fs/file_table.c fput() (6.12.118; upstream the same through
 * file_ref_put()): the last reference does not release the file here, but
 * queues ____fput() on the current task with task_work_add(TWA_RESUME), so
 * ->release runs when the task goes back to user mode (lib/pinsim.c
 * in_proc()) or exits (exit_task_work()), with no lock of the caller held.
 * That matters for munmap: remove_vma() drops the VMA's reference under
 * mmap_lock, and vfio's release may take mmap_lock itself (unpin
 * accounting).  Without a task (a kernel thread, or a host thread that
 * acts as none), or once the task has run exit_task_work(), the kernel
 * falls back to delayed_fput() on a workqueue; here it runs at once.
 */
void fput(struct file *file)
{
	struct task_struct *t = current;

	if (atomic_fetch_sub(&file->f_count, 1) != 1)
		return;
	/*
	 * A file without ->release has nothing for __fput() to do: it is
	 * embedded in its owner (&vdev->file, a test's device), which frees
	 * it, and may be gone before the task work would run.
	 */
	if (!file->f_op || !file->f_op->release)
		return;
	if (t) {
		file->f_task_work.func = ____fput;
		if (!task_work_add(t, &file->f_task_work))
			return;
	}
	__fput(file);
}

/*
 * __fput_sync(): the release at once, in the caller.  close(2) uses it
 * (fs/open.c SYSCALL_DEFINE1(close) in 6.12.118; fput_close_sync()
 * upstream): the last close of an fd releases the file before the syscall
 * returns, with nothing deferred.
 */
void __fput_sync(struct file *file)
{
	if (atomic_fetch_sub(&file->f_count, 1) == 1)
		__fput(file);
}

/* ---------------- mm lifetime ---------------- */

static struct mm_struct *mm_create_common(void)
{
	struct mm_struct *mm = sim_kzalloc(sizeof(*mm));	/* allocate_mm() */
	struct page *pgd;

	if (!mm)
		return NULL;
	pgd = pgtable_alloc();
	if (!pgd) {
		free(mm);
		return NULL;
	}
	mm->pgd = phys_to_virt(page_to_pfn(pgd));
	atomic_store(&mm->nr_ptes, 1);
	init_rwsem(&mm->mmap_lock, "mmap_lock");
	spin_lock_init(&mm->page_table_lock);
	pthread_mutex_init(&mm->tasks_lock, NULL);
	mm->mmap_base = MMAP_BASE;
	atomic_store(&mm->mm_users, 1);
	atomic_store(&mm->mm_count, 1);	/* the users' */
	return mm;
}

/* kernel/fork.c __mmdrop(): the pgd (pgd_free()) and the struct. */
static void mm_free_common(struct mm_struct *mm)
{
	mm_free_pgd(mm);
	destroy_rwsem(&mm->mmap_lock);
	pthread_mutex_destroy(&mm->tasks_lock);
	free(mm->vmas);
	free(mm);
}

/*
 * A host thread's identity for mm_thread_task(): a token never reused
 * (pthread_self() values are recycled once a thread exits, and a new thread
 * must not inherit an old — possibly dead — task).
 */
static _Atomic unsigned long thread_token_next = 1;
static __sim_tls unsigned long thread_token;

static unsigned long host_thread_token(void)
{
	if (!thread_token)
		thread_token = atomic_fetch_add(&thread_token_next, 1);
	return thread_token;
}

/*
 * The tasks of one host thread, one per process it acted in: the way from
 * (host thread, mm) to the task without scanning the process's tasks, which
 * a program that starts and ends many threads makes long.  On the heap, not
 * in TLS, because a process's teardown unlinks its tasks from other threads'
 * lists (and must not write into a TLS block that ended with its thread).
 *
 * threads_lock covers every thread's list and task->thread, and a thread
 * exit's unlinking from a process's task list (so that __mmput() and
 * mm_thread_exit() never both free one task).  A thread that ends without
 * mm_thread_exit() runs thread_key_destructor(), which only orphans its
 * tasks: pinsim's own threads and tests read their task after the join
 * (the numa_maps walker's result, a test's task probe), so only an explicit
 * exit frees them.
 */
struct sim_thread {
	struct task_struct *tasks;
};

static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static bool thread_key_ok;
static __sim_tls struct sim_thread *this_thread;

/*
 * The lookup without a lock: the last (mm, task) this thread used.  The
 * leader's serial tells a live mm from a freed one at the same address; a
 * cached task is freed only with its mm or by this thread's exit, which
 * clears the cache.
 */
static __sim_tls struct mm_struct *cached_mm;
static __sim_tls uint64_t cached_leader_serial;
static __sim_tls struct task_struct *cached_task;

static void thread_unlink_task(struct task_struct *t)
{
	if (!t->thread)
		return;
	*t->pprev_in_thread = t->next_in_thread;
	if (t->next_in_thread)
		t->next_in_thread->pprev_in_thread = t->pprev_in_thread;
	t->thread = NULL;
	t->next_in_thread = NULL;
	t->pprev_in_thread = NULL;
}

static void thread_key_destructor(void *arg)
{
	struct sim_thread *st = arg;

	pthread_mutex_lock(&threads_lock);
	while (st->tasks)
		thread_unlink_task(st->tasks);
	pthread_mutex_unlock(&threads_lock);
	free(st);
	this_thread = NULL;
	cached_mm = NULL;
	cached_task = NULL;
}

static void thread_key_init(void)
{
	thread_key_ok = !pthread_key_create(&thread_key, thread_key_destructor);
}

static struct sim_thread *this_sim_thread(void)
{
	struct sim_thread *st = this_thread;

	if (st)
		return st;
	pthread_once(&thread_key_once, thread_key_init);
	if (!thread_key_ok)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	if (pthread_setspecific(thread_key, st)) {
		free(st);
		return NULL;
	}
	this_thread = st;
	return st;
}

/* Into the group's list (O(1) unlink by pprev) and the calling thread's. */
static int mm_add_task(struct mm_struct *mm, struct task_struct *t)
{
	struct sim_thread *st = this_sim_thread();

	if (!st)
		return -ENOMEM;
	t->host_thread = host_thread_token();
	pthread_mutex_lock(&threads_lock);
	pthread_mutex_lock(&mm->tasks_lock);
	t->next_in_group = mm->tasks;
	if (mm->tasks)
		mm->tasks->pprev_in_group = &t->next_in_group;
	t->pprev_in_group = &mm->tasks;
	mm->tasks = t;
	pthread_mutex_unlock(&mm->tasks_lock);
	t->thread = st;
	t->next_in_thread = st->tasks;
	if (st->tasks)
		st->tasks->pprev_in_thread = &t->next_in_thread;
	t->pprev_in_thread = &st->tasks;
	st->tasks = t;
	pthread_mutex_unlock(&threads_lock);
	return 0;
}

struct mm_struct *mm_alloc(const char *comm)
{
	struct mm_struct *mm = mm_create_common();

	if (!mm)
		return NULL;
	mm->owner = task_create(mm, NULL, comm);
	if (!mm->owner)
		goto free_mm;
	if (mm_add_task(mm, mm->owner))
		goto free_owner;
	pthread_mutex_lock(&machine->mms_lock);
	mm->next_mm = machine->mms;
	machine->mms = mm;
	pthread_mutex_unlock(&machine->mms_lock);
	return mm;

free_owner:
	task_free(mm->owner);
free_mm:
	mm_free_common(mm);
	return NULL;
}

static void mm_unregister(struct mm_struct *mm)
{
	struct mm_struct **pp;

	pthread_mutex_lock(&machine->mms_lock);
	for (pp = &machine->mms; *pp; pp = &(*pp)->next_mm) {
		if (*pp == mm) {
			*pp = mm->next_mm;
			break;
		}
	}
	pthread_mutex_unlock(&machine->mms_lock);
}

/*
 * The calling host thread's task in @mm, created on first use (a thread
 * of the process, in @mm->owner's group).  O(1) in the number of the
 * process's threads: current, then the cache, then this thread's own list
 * (as long as the number of processes it acts in).
 */
struct task_struct *mm_thread_task(struct mm_struct *mm)
{
	unsigned long self = host_thread_token();
	struct sim_thread *st;
	struct task_struct *t;

	if (current && current->mm == mm && current->host_thread == self)
		return current;
	if (cached_mm == mm && cached_task && mm->owner->serial == cached_leader_serial)
		return cached_task;
	st = this_sim_thread();
	if (!st)
		return NULL;
	pthread_mutex_lock(&threads_lock);
	for (t = st->tasks; t; t = t->next_in_thread)
		if (t->mm == mm)
			break;
	pthread_mutex_unlock(&threads_lock);
	if (!t) {
		t = task_create(mm, mm->owner, mm->owner->comm);
		if (!t)
			return NULL;
		if (mm_add_task(mm, t)) {
			task_free(t);
			return NULL;
		}
	}
	cached_mm = mm;
	cached_leader_serial = mm->owner->serial;
	cached_task = t;
	return t;
}

static long exit_task_work_body(void *arg)
{
	exit_task_work(arg);
	return 0;
}

/* Off its process's task list; the caller holds threads_lock. */
static void mm_unlink_task(struct task_struct *t)
{
	struct mm_struct *mm = t->mm;

	pthread_mutex_lock(&mm->tasks_lock);
	*t->pprev_in_group = t->next_in_group;
	if (t->next_in_group)
		t->next_in_group->pprev_in_group = t->pprev_in_group;
	t->next_in_group = NULL;
	t->pprev_in_group = NULL;
	pthread_mutex_unlock(&mm->tasks_lock);
}

void mm_thread_exit(void)
{
	struct sim_thread *st = this_thread;
	struct task_struct *old = current;

	cached_mm = NULL;
	cached_task = NULL;
	if (!st)
		return;
	for (;;) {
		struct task_struct *t;
		bool stays;

		pthread_mutex_lock(&threads_lock);
		t = st->tasks;
		if (t) {
			thread_unlink_task(t);
			stays = t == t->mm->owner || atomic_load(&t->dead);
			if (!stays)
				mm_unlink_task(t);
		}
		pthread_mutex_unlock(&threads_lock);
		if (!t)
			break;
		if (stays)
			continue;
		/* do_exit(): exit_task_work() as the task, inside its oops pad. */
		set_current(t);
		sim_task_run(exit_task_work_body, t);
		set_current(old == t ? NULL : old);
		if (old == t)
			old = NULL;
		task_free(t);
	}
}

static void unmap_all_vmas(struct mm_struct *mm, bool force);

/*
 * kernel/exit.c do_exit(): exit_mm() and exit_files() queue the last
 * fput()s, exit_task_work() runs them.  A task of @mm may still have works
 * queued when the mm goes (the VMAs' fputs of unmap_all_vmas() land on
 * current): they run before the tasks are freed.  Not for a dead task,
 * which never runs again and keeps its locks, and not while a dead task
 * holds mmap_lock (a release that accounts locked_vm would wait on it for
 * ever): their works stay queued, and are lost with the task.
 */
static void mm_exit_task_work(struct mm_struct *mm)
{
	struct task_struct *old = current;
	bool stuck = rwsem_held_by_dead(&mm->mmap_lock);

	for (struct task_struct *t = mm->tasks; t; t = t->next_in_group) {
		if (!t->task_works || atomic_load(&t->dead) || stuck)
			continue;
		set_current(t);
		exit_task_work(t);
	}
	set_current(old);
}

static void __mmput(struct mm_struct *mm, bool force)
{
	struct task_struct *t, *next;

	mm_unregister(mm);
	/*
	 * No thread finds or ends a task of @mm from here on: off every
	 * thread's list under threads_lock, after which mm_thread_exit()
	 * cannot reach them (it takes a task off its thread's list before
	 * anything else, under the same lock).
	 */
	pthread_mutex_lock(&threads_lock);
	for (t = mm->tasks; t; t = t->next_in_group)
		thread_unlink_task(t);
	pthread_mutex_unlock(&threads_lock);
	/* exit_mmap(): tear everything down as the last user. */
	unmap_all_vmas(mm, force);
	mm_exit_task_work(mm);
	for (t = mm->tasks; t; t = next) {
		next = t->next_in_group;
		if (t != mm->owner)
			task_free(t);
	}
	task_free(mm->owner);
	/*
	 * A grabbed mm outlives this (a VFIO DMA mapping's, while a forked
	 * child keeps the container): nothing in it may point at what went.
	 */
	mm->owner = NULL;
	mm->tasks = NULL;
	mmdrop(mm);
}

void mmput(struct mm_struct *mm)
{
	/*
	 * A task of this process that oopsed (or that the scheduler ended)
	 * may hold mmap_lock for ever; exit does not wait on it then.
	 */
	if (mm && atomic_fetch_sub(&mm->mm_users, 1) == 1)
		__mmput(mm, rwsem_held_by_dead(&mm->mmap_lock));
}

bool mmget_not_zero(struct mm_struct *mm)
{
	int users = atomic_load(&mm->mm_users);

	while (users > 0)
		if (atomic_compare_exchange_weak(&mm->mm_users, &users, users + 1))
			return true;
	return false;
}

void mmgrab(struct mm_struct *mm)
{
	atomic_fetch_add(&mm->mm_count, 1);
}

void mmdrop(struct mm_struct *mm)
{
	if (atomic_fetch_sub(&mm->mm_count, 1) == 1)
		mm_free_common(mm);
}

void mm_teardown_all(void)
{
	while (machine->mms) {
		struct mm_struct *mm = machine->mms;

		current = mm->owner;
		/* Shutdown: every user is gone, whoever still counts. */
		atomic_store(&mm->mm_users, 0);
		__mmput(mm, true);
	}
	/* Every task is gone with its mm: the caller's current may have been one. */
	current = NULL;
}

struct mm_struct *init_mm_create(void)
{
	struct mm_struct *mm = mm_create_common();

	if (mm)
		mm->is_init_mm = true;
	return mm;
}

void init_mm_destroy(struct mm_struct *mm)
{
	mm_free_common(mm);
}

/* ---------------- lock assertions ---------------- */

bool mmap_assert_locked(struct mm_struct *mm)
{
	return !WARN_ON(!rwsem_held_by_current(&mm->mmap_lock));
}

bool mmap_assert_write_locked(struct mm_struct *mm)
{
	return !WARN_ON(!rwsem_write_held_by_current(&mm->mmap_lock));
}

/* ---------------- the VMA set ---------------- */

/* Index of the first VMA with vm_end > addr. */
static unsigned int vma_index(struct mm_struct *mm, unsigned long addr)
{
	unsigned int lo = 0, hi = mm->nr_vmas;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (mm->vmas[mid]->vm_end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr)
{
	unsigned int i = vma_index(mm, addr);

	return i < mm->nr_vmas ? mm->vmas[i] : NULL;
}

struct vm_area_struct *vma_lookup(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

struct vm_area_struct *find_vma_intersection(struct mm_struct *mm, unsigned long start,
					     unsigned long end)
{
	struct vm_area_struct *vma = find_vma(mm, start);

	return vma && vma->vm_start < end ? vma : NULL;
}

static int vma_insert(struct mm_struct *mm, struct vm_area_struct *vma)
{
	unsigned int i;

	if (mm->nr_vmas == mm->vmas_cap) {
		unsigned int cap = mm->vmas_cap ? mm->vmas_cap * 2 : 16;
		/*
		 * The maple tree's node preallocation (vma_iter_prealloc()):
		 * -ENOMEM before anything changed, an injection point.
		 */
		struct vm_area_struct **n = should_fail_alloc(FAIL_SLAB) ?
						    NULL :
						    realloc(mm->vmas, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		mm->vmas = n;
		mm->vmas_cap = cap;
	}
	i = vma_index(mm, vma->vm_start);
	memmove(&mm->vmas[i + 1], &mm->vmas[i], (mm->nr_vmas - i) * sizeof(*mm->vmas));
	mm->vmas[i] = vma;
	mm->nr_vmas++;
	return 0;
}

/* ---------------- file mappings: the i_mmap list ---------------- */

static void mapping_link(struct vm_area_struct *vma)
{
	struct address_space *mapping = vma->vm_file ? vma->vm_file->f_mapping : NULL;

	if (!mapping)
		return;
	i_mmap_lock_write(mapping);
	vma->vm_mapping_next = mapping->i_mmap;
	mapping->i_mmap = vma;
	i_mmap_unlock_write(mapping);
}

/*
 * unlink_file_vma(): off the i_mmap list, so that unmap_mapping_range() no
 * longer finds the VMA; free_pgtables() calls it before it frees the VMA's
 * tables (see the top of pgtable.h).
 */
void unlink_file_vma(struct vm_area_struct *vma)
{
	struct address_space *mapping = vma->vm_file ? vma->vm_file->f_mapping : NULL;
	struct vm_area_struct **pp;

	if (!mapping)
		return;
	i_mmap_lock_write(mapping);
	for (pp = &mapping->i_mmap; *pp; pp = &(*pp)->vm_mapping_next) {
		if (*pp == vma) {
			*pp = vma->vm_mapping_next;
			break;
		}
	}
	i_mmap_unlock_write(mapping);
}

/*
 * At machine shutdown (machine->shutting_down) nothing runs any more, but a
 * task that oopsed or that the scheduler ended may still hold the rwsem:
 * go on without it then, as the forced teardown of mmap_lock does.  One flag
 * per mode: a thread never nests them (mmap and munmap take the write side,
 * zaps the read side, and nothing zaps from inside a link or unlink).
 */
static __sim_tls bool i_mmap_not_taken, i_mmap_read_not_taken;

void i_mmap_lock_write(struct address_space *mapping)
{
	if (machine->shutting_down && !down_write_trylock(&mapping->i_mmap_rwsem)) {
		i_mmap_not_taken = true;
		return;
	}
	if (!machine->shutting_down)
		down_write(&mapping->i_mmap_rwsem);
}

void i_mmap_unlock_write(struct address_space *mapping)
{
	if (i_mmap_not_taken) {
		i_mmap_not_taken = false;
		return;
	}
	up_write(&mapping->i_mmap_rwsem);
}

/*
 * The read side (include/linux/fs.h i_mmap_lock_read()): walkers of the
 * i_mmap tree that do not change it, unmap_mapping_range() first among them.
 * Readers share it; only linking and unlinking VMAs excludes them.
 */
void i_mmap_lock_read(struct address_space *mapping)
{
	if (machine->shutting_down && !down_read_trylock(&mapping->i_mmap_rwsem)) {
		i_mmap_read_not_taken = true;
		return;
	}
	if (!machine->shutting_down)
		down_read(&mapping->i_mmap_rwsem);
}

void i_mmap_unlock_read(struct address_space *mapping)
{
	if (i_mmap_read_not_taken) {
		i_mmap_read_not_taken = false;
		return;
	}
	up_read(&mapping->i_mmap_rwsem);
}

/* ---------------- hugetlb reservations ---------------- */

/* Huge pages of [start, end) in @vma not faulted in yet. */
static long hugetlb_unfaulted(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	unsigned long sz = huge_page_size(vma->vm_hstate);
	long n = 0;

	for (unsigned long a = start; a < end; a += sz)
		if (pgtable_lookup(vma->vm_mm, a, NULL, NULL) == PGTABLE_NONE)
			n++;
	return n;
}

/* ---------------- mmap ---------------- */

static vm_flags_t calc_vm_flags(unsigned long prot, unsigned long flags)
{
	vm_flags_t vm = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;

	if (prot & PROT_READ)
		vm |= VM_READ;
	if (prot & PROT_WRITE)
		vm |= VM_WRITE;
	if (prot & PROT_EXEC)
		vm |= VM_EXEC;
	if ((flags & MAP_TYPE) != MAP_PRIVATE)
		vm |= VM_SHARED | VM_MAYSHARE;
	if (flags & MAP_NORESERVE)
		vm |= VM_NORESERVE;
	if (flags & MAP_LOCKED)
		vm |= VM_LOCKED;
	return vm;
}

pgprot_t vm_get_page_prot(vm_flags_t vm)
{
	uint64_t p = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;

	if (!(vm & (VM_READ | VM_WRITE | VM_EXEC)))
		return PAGE_NONE;
	/*
	 * x86 protection_map: private writable is PAGE_COPY, read-only, so that
	 * the first write to a remap_pfn_range() page COWs (do_wp_page()); the
	 * fault path makes anonymous and hugetlb entries writable itself
	 * (maybe_mkwrite()).
	 */
	if ((vm & VM_WRITE) && (vm & VM_SHARED))
		p |= _PAGE_RW;
	if (!(vm & VM_EXEC))
		p |= _PAGE_NX;
	return __pgprot(p);
}

/*
 * vm_unmapped_area(VM_UNMAPPED_AREA_TOPDOWN): the highest free gap of @len
 * below mmap_base, its start rounded down to @align (hugetlb's align_mask;
 * PAGE_SIZE for everything else).
 */
static unsigned long unmapped_area_topdown(struct mm_struct *mm, unsigned long len,
					   unsigned long align)
{
	unsigned long high = mm->mmap_base;

	for (int i = (int)mm->nr_vmas - 1; i >= -1; i--) {
		unsigned long low = i >= 0 ? mm->vmas[i]->vm_end : MMAP_MIN_ADDR;
		unsigned long top = i + 1 < (int)mm->nr_vmas ? mm->vmas[i + 1]->vm_start : high;
		unsigned long addr;

		if (top > high)
			top = high;
		if (top < low || top - low < len)
			continue;
		addr = (top - len) & ~(align - 1);
		if (addr >= low)
			return addr;
	}
	return -ENOMEM;
}

/*
 * arch_get_unmapped_area_topdown() (arch/x86/kernel/sys_x86_64.c, every mm
 * here is MMF_TOPDOWN): MAP_FIXED is not checked here, a hint is rounded
 * down to a page and used if the range is free, else the top-down search.
 * Nothing beyond a page of alignment comes from here for a file of pinsim's
 * (get_align_mask() is the AMD F15h workaround only).
 */
static unsigned long arch_get_unmapped_area_topdown(struct mm_struct *mm, unsigned long addr,
						    unsigned long len, unsigned long flags)
{
	if (len > TASK_SIZE)
		return -ENOMEM;
	if (flags & MAP_FIXED)
		return addr;
	if (addr) {
		addr &= PAGE_MASK;
		if (addr <= TASK_SIZE - len && !find_vma_intersection(mm, addr, addr + len))
			return addr;
	}
	return unmapped_area_topdown(mm, len, PAGE_SIZE);
}

/*
 * __thp_get_unmapped_area() (mm/huge_memory.c): search @len + @size and
 * move the start up so that the address is congruent to the file offset
 * modulo @size; a top-down result that already is moves up by a whole
 * @size.  0 when no full @size-aligned chunk of the file fits in the range,
 * or the padded search fails: the caller then searches without alignment.
 * A hint that is free is returned as is (ret == addr).
 */
static unsigned long __thp_get_unmapped_area(struct mm_struct *mm, unsigned long addr,
					     unsigned long len, uint64_t off, unsigned long flags,
					     unsigned long size)
{
	uint64_t off_end = off + len;
	uint64_t off_align = (off + size - 1) & ~(uint64_t)(size - 1);
	unsigned long len_pad, ret, off_sub;

	if (off_end <= off_align || off_end - off_align < size)
		return 0;
	len_pad = len + size;
	if (len_pad < len || off + len_pad < off)
		return 0;
	ret = arch_get_unmapped_area_topdown(mm, addr, len_pad, flags);
	if (IS_ERR_VALUE(ret))
		return 0;
	if (ret == addr)
		return addr;
	off_sub = (off - ret) & (size - 1);
	if (!off_sub)		/* test_bit(MMF_TOPDOWN, &mm->flags) */
		return ret + size;
	return ret + off_sub;
}

/*
 * thp_get_unmapped_area_vmflags() with the alignment as an argument (6.12
 * passes PMD_SIZE; Peter Xu's series makes it the mapping-order hint).
 */
static unsigned long thp_get_unmapped_area(struct mm_struct *mm, unsigned long addr,
					   unsigned long len, unsigned long pgoff,
					   unsigned long flags, unsigned long size)
{
	unsigned long ret;

	ret = __thp_get_unmapped_area(mm, addr, len, (uint64_t)pgoff << PAGE_SHIFT, flags, size);
	if (ret)
		return ret;
	return arch_get_unmapped_area_topdown(mm, addr, len, flags);
}

/*
 * hugetlb_get_unmapped_area() (fs/hugetlbfs/inode.c, generic version): a
 * MAP_FIXED address must be huge-page aligned (prepare_hugepage_range()),
 * a hint is aligned up and used if free, else a top-down search aligned to
 * the huge page.
 */
static unsigned long hugetlb_get_unmapped_area(struct mm_struct *mm, struct hstate *h,
					       unsigned long addr, unsigned long len,
					       unsigned long flags)
{
	unsigned long sz = huge_page_size(h);

	if (len & (sz - 1))
		return -EINVAL;
	if (flags & MAP_FIXED) {
		if (addr & (sz - 1))
			return -EINVAL;
		return addr;
	}
	if (addr) {
		addr = (addr + sz - 1) & ~(sz - 1);
		if (addr && addr <= TASK_SIZE - len &&
		    !find_vma_intersection(mm, addr, addr + len))
			return addr;
	}
	return unmapped_area_topdown(mm, len, sz);
}

/*
 * The mapping-order hint of @file: its f_op's (a vfio device fd forwards it
 * to vfio-pci, as Peter Xu's series does through vfio_device_fops), else
 * vfio-pci's own file (sim tests map &vdev->file directly).
 */
static int file_mapping_order(struct file *file, unsigned long pgoff, unsigned long len)
{
	if (file->f_op && file->f_op->get_mapping_order)
		return file->f_op->get_mapping_order(file, pgoff, len);
	return vfio_pci_file_mapping_order(file, pgoff, len);
}

/*
 * __get_unmapped_area() (mm/mmap.c).  Where a mapping goes decides which
 * leaves can map it: a pfnmap fault only inserts a PMD or PUD leaf where the
 * VMA covers the whole aligned range and the pfn is aligned (vfio-pci's
 * huge_fault, "Align huge faults to order"), so placement is what gives a
 * BAR 1G leaves or not.
 *
 * 6.12 (6.12.118): neither vfio_device_fops nor vfio-pci has a
 * get_unmapped_area, so a device fd takes the generic branch meant for
 * anonymous THP: no hint and a length that is a multiple of 2M go through
 * thp_get_unmapped_area_vmflags() -> __thp_get_unmapped_area(PMD_SIZE), which
 * makes the address congruent to the file offset modulo 2M; anything else
 * gets a page-aligned address.  Never 1G by design: a 1G BAR mmapped without
 * MAP_FIXED gets 1G leaves only if the top-down search happens to end on a
 * 1G boundary (with ASLR, one time in 512).  A VMM that wants 1G leaves
 * reserves an aligned range and maps MAP_FIXED into it (QEMU's
 * vfio_region_mmap() does, aligned to the region size capped at 1G).
 *
 * machine->cfg.vfio_pci_mmap_align: Peter Xu's "mm/vfio: huge pfnmaps with
 * !MAP_FIXED mappings" (v2, Dec 2025, not merged): a file that reports a
 * mapping order (f_op->get_mapping_order, vfio-pci's from the BAR size left
 * after the offset) and no hint get PAGE_SIZE << order alignment relative to
 * the file offset, through the same __thp_get_unmapped_area().
 *
 * machine->cfg.mmap_thp_anon_only: 34d7cf637c43 "mm: don't try THP alignment
 * for FS without get_unmapped_area" (v6.13, never in 6.12 stable) puts !file
 * in the THP branch, so from 6.13 on a device fd gets a page-aligned address
 * (the regression "vfio: Request THP-aligned mmap for device fds", June 2026,
 * reports; Alex Williamson's answer points at QEMU's own alignment).
 *
 * Not modelled: MAP_SHARED anonymous memory (shmem_get_unmapped_area()) is
 * placed like private anonymous memory.
 */
static unsigned long get_unmapped_area(struct mm_struct *mm, struct file *file,
				       unsigned long addr, unsigned long len,
				       unsigned long pgoff, unsigned long flags, struct hstate *h)
{
	int order;

	if (len > TASK_SIZE)
		return -ENOMEM;
	if (h) {
		addr = hugetlb_get_unmapped_area(mm, h, addr, len, flags);
	} else {
		if (!file)
			pgoff = 0;	/* always zero for anonymous memory */
		order = file ? file_mapping_order(file, pgoff, len) : -1;
		if (machine->cfg.vfio_pci_mmap_align && !addr && order >= 0)
			addr = thp_get_unmapped_area(mm, addr, len, pgoff, flags,
						     PAGE_SIZE << order);
		else if (!(file && machine->cfg.mmap_thp_anon_only) && !addr &&
			 !(len & (PMD_SIZE - 1)))
			addr = thp_get_unmapped_area(mm, addr, len, pgoff, flags, PMD_SIZE);
		else
			addr = arch_get_unmapped_area_topdown(mm, addr, len, flags);
	}
	if (IS_ERR_VALUE(addr))
		return addr;
	if (addr > TASK_SIZE - len)
		return -ENOMEM;
	if (addr & ~PAGE_MASK)
		return -EINVAL;
	return addr;
}

static void vma_neighbours(struct mm_struct *mm, unsigned long start,
			   struct vm_area_struct **prev, struct vm_area_struct **next);
/* ---------------- merging a new mapping (mm/vma.c) ---------------- */

/* include/linux/mm.h VM_SPECIAL: never merged (vma_merge_new_range()). */
#define VM_SPECIAL (VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP)

/* mm/vma.h struct vma_merge_struct, the fields a new range's merge reads. */
struct vma_merge_struct {
	struct mm_struct *mm;
	struct vm_area_struct *prev, *next;
	unsigned long start, end, pgoff;
	vm_flags_t flags;
	struct file *file;
};

/*
 * mm/vma.c is_mergeable_vma(): same flags (VM_SOFTDIRTY aside: pinsim has
 * none) and the same file.  The mempolicy, userfaultfd context and anon
 * name it also compares are not modelled: every VMA has the default policy,
 * none and none.
 *
 * is_mergeable_anon_vma() is not modelled either: pinsim has no anon_vma.
 * Without fork every anon_vma_chain is singular, so for a new range (whose
 * anon_vma is NULL) the kernel's test is true on either side, as here.  It
 * differs in one case only, are_anon_vmas_compatible(prev, next) when the
 * range fills the whole gap between two VMAs that both had anonymous
 * faults and did not come from one VMA (a split keeps one anon_vma): the
 * kernel merges with prev alone, pinsim all three.  See vma_can_merge_right().
 */
static bool is_mergeable_vma(const struct vma_merge_struct *vmg, const struct vm_area_struct *vma)
{
	return vma->vm_flags == vmg->flags && vma->vm_file == vmg->file;
}

/* mm/vma.c can_vma_merge_left() with can_vma_merge_after(). */
static bool vma_can_merge_left(const struct vma_merge_struct *vmg)
{
	const struct vm_area_struct *prev = vmg->prev;

	return prev && prev->vm_end == vmg->start && is_mergeable_vma(vmg, prev) &&
	       prev->vm_pgoff + ((prev->vm_end - prev->vm_start) >> PAGE_SHIFT) == vmg->pgoff;
}

/*
 * mm/vma.c can_vma_merge_right() with can_vma_merge_before(); the kernel
 * then also asks are_anon_vmas_compatible(prev, next) when it merges left
 * too, which pinsim takes as true (see is_mergeable_vma()).
 */
static bool vma_can_merge_right(const struct vma_merge_struct *vmg)
{
	const struct vm_area_struct *next = vmg->next;

	return next && vmg->end == next->vm_start && is_mergeable_vma(vmg, next) &&
	       next->vm_pgoff == vmg->pgoff + ((vmg->end - vmg->start) >> PAGE_SHIFT);
}

/* mm/vma.c can_merge_remove_vma(): a VMA with ->close is never removed by a merge. */
static bool can_merge_remove_vma(const struct vm_area_struct *vma)
{
	return !vma->vm_ops || !vma->vm_ops->close;
}

static unsigned int vma_slot(struct mm_struct *mm, const struct vm_area_struct *vma)
{
	return vma_index(mm, vma->vm_start);
}

/*
 * mm/vma.c vma_merge_new_range(), called by mm/mmap.c mmap_region() before
 * the VMA is allocated (and again after a file's ->mmap changed the flags):
 * a new range [start, end) in a gap of the VMA set is taken by its
 * neighbour(s) instead of becoming a VMA of its own when they are
 * compatible (same flags, file and contiguous pgoff), never for VM_SPECIAL
 * (a vfio-pci BAR: VM_IO | VM_PFNMAP | VM_DONTEXPAND; hugetlb:
 * VM_DONTEXPAND).  Then vma_expand(): prev grows over the range (and over
 * next, which goes: remove_vma()'s part that a merge does, vma_complete()'s
 * fput() and i_mmap unlink), or next grows down over it.  Returns the VMA
 * that now covers the range, or NULL (no merge; nothing changed).
 *
 * Two kinds of mapping pinsim makes never reach the comparison, as in the
 * kernel where each gets its own file after the merge attempt: MAP_HUGETLB
 * (hugetlb_file_setup() in ksys_mmap_pgoff(); VM_DONTEXPAND here covers
 * it) and MAP_SHARED|MAP_ANONYMOUS (shmem_zero_setup() in mmap_region()).
 */
static struct vm_area_struct *vma_merge_new_range(struct vma_merge_struct *vmg)
{
	struct vm_area_struct *prev = vmg->prev, *next = vmg->next;
	bool left, right;

	mmap_assert_write_locked(vmg->mm);
	if ((vmg->flags & (VM_SPECIAL | VM_HUGETLB)) || (!prev && !next))
		return NULL;
	if (!vmg->file && (vmg->flags & VM_SHARED))
		return NULL;
	left = vma_can_merge_left(vmg);
	right = vma_can_merge_right(vmg);
	if (left && right && !can_merge_remove_vma(next))
		right = false;	/* reduced to merging prev and the range */
	if (left) {
		if (right) {
			unsigned int i = vma_slot(vmg->mm, next);

			prev->vm_end = next->vm_end;
			memmove(&vmg->mm->vmas[i], &vmg->mm->vmas[i + 1],
				(vmg->mm->nr_vmas - i - 1) * sizeof(*vmg->mm->vmas));
			vmg->mm->nr_vmas--;
			unlink_file_vma(next);
			if (next->vm_file)
				fput(next->vm_file);
			free(next);
		} else {
			prev->vm_end = vmg->end;
		}
		return prev;
	}
	if (right) {
		next->vm_start = vmg->start;
		next->vm_pgoff = vmg->pgoff;
		return next;
	}
	return NULL;
}

/* The neighbours of the free range at @start, then vma_merge_new_range(). */
static struct vm_area_struct *mmap_merge(struct mm_struct *mm, unsigned long start,
					 unsigned long end, vm_flags_t flags, struct file *file,
					 unsigned long pgoff)
{
	struct vma_merge_struct vmg = {
		.mm = mm, .start = start, .end = end, .pgoff = pgoff, .flags = flags, .file = file,
	};

	vma_neighbours(mm, start, &vmg.prev, &vmg.next);
	return vma_merge_new_range(&vmg);
}

static void unmap_region(struct mm_struct *mm, struct vm_area_struct *vma);

/*
 * mmap_region()'s end: a VM_LOCKED mapping (MAP_LOCKED, or mlockall()'s
 * MCL_FUTURE through mm->def_flags) counts in mm->locked_vm; VM_SPECIAL and
 * hugetlb ones had VM_LOCKED cleared before.  do_mmap()'s
 * mlock_future_ok() checked the limit.
 */
static void mmap_account_locked(struct mm_struct *mm, vm_flags_t flags, unsigned long len)
{
	if (flags & VM_LOCKED)
		atomic_fetch_add(&mm->locked_vm, (long)(len >> PAGE_SHIFT));
}

static unsigned long __do_mmap(struct mm_struct *mm, struct file *file, unsigned long addr,
			       unsigned long len, unsigned long prot, unsigned long flags,
			       unsigned long pgoff)
{
	struct hstate *h = NULL;
	struct vm_area_struct *vma;
	unsigned long align = PAGE_SIZE;
	long resv = 0;
	int err;

	mmap_assert_write_locked(mm);
	if (!len)
		return -EINVAL;
	switch (flags & MAP_TYPE) {
	case MAP_SHARED:
	case MAP_SHARED_VALIDATE:
	case MAP_PRIVATE:
		break;
	default:
		return -EINVAL;
	}
	if (flags & MAP_FIXED_NOREPLACE)
		flags |= MAP_FIXED;
	if (file && hugetlbfs_file_hstate(file)) {
		/* ksys_mmap_pgoff(): is_file_hugepages() aligns the length. */
		h = hugetlbfs_file_hstate(file);
		align = huge_page_size(h);
		len = (len + align - 1) & ~(align - 1);
	} else if (flags & MAP_HUGETLB) {
		unsigned long shift = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;

		if (file)
			return -EINVAL;
		h = size_to_hstate(shift ? 1UL << shift : PMD_SIZE);
		if (!h)
			return -EINVAL;
		align = huge_page_size(h);
		len = (len + align - 1) & ~(align - 1);
	}
	len = (len + PAGE_SIZE - 1) & PAGE_MASK;
	if (!len)
		return -ENOMEM;
	if (pgoff + (len >> PAGE_SHIFT) < pgoff)
		return -EOVERFLOW;
	addr = get_unmapped_area(mm, file, addr, len, pgoff, flags, h);
	if (IS_ERR_VALUE(addr))
		return addr;
	if ((flags & MAP_FIXED_NOREPLACE) && find_vma_intersection(mm, addr, addr + len))
		return -EEXIST;
	/* do_mmap(): MAP_LOCKED needs mlock rights, VM_LOCKED room under the limit. */
	if ((flags & MAP_LOCKED) && !can_do_mlock())
		return -EPERM;
	if (!mlock_future_ok(mm, calc_vm_flags(prot, flags) | mm->def_flags, len))
		return -EAGAIN;
	if (h && !file) {
		resv = len / huge_page_size(h);
		if (!(flags & MAP_NORESERVE) && hugetlb_reserve_pages(h, resv))
			return -ENOMEM;
		if (flags & MAP_NORESERVE)
			resv = 0;
	}

	vma = sim_kzalloc(sizeof(*vma));	/* vm_area_alloc() */
	if (!vma) {
		err = -ENOMEM;
		goto unreserve;
	}
	vma->vm_mm = mm;
	vma->vm_start = addr;
	vma->vm_end = addr + len;
	/* do_mmap(): mm->def_flags is mlockall(MCL_FUTURE)'s VM_LOCKED[ONFAULT]. */
	vma->vm_flags = calc_vm_flags(prot, flags) | mm->def_flags;
	vma->vm_pgoff = pgoff;
	if (h) {
		/* mmap_region(): hugetlb VMAs are never VM_LOCKED. */
		vma->vm_flags &= ~VM_LOCKED_MASK;
		vma->vm_flags |= VM_HUGETLB | VM_DONTEXPAND;
		vma->vm_hstate = h;
		vma->hugetlb_resv = resv;
	}
	if (!file && !h && (flags & MAP_TYPE) == MAP_PRIVATE)
		vma->vm_pgoff = addr >> PAGE_SHIFT;	/* anonymous: pgoff = vaddr index */

	/* MAP_FIXED replaces whatever was there (mmap_region()). */
	if (flags & MAP_FIXED) {
		err = do_munmap(mm, addr, len);
		if (err)
			goto free_vma;
	}
	/*
	 * mmap_region(): vma_merge_new_range() before a VMA is made; a merged
	 * file mapping never reaches the driver's ->mmap, and takes no file
	 * reference of its own (the VMA it joined holds one).
	 */
	if (mmap_merge(mm, addr, addr + len, vma->vm_flags, file, vma->vm_pgoff)) {
		mmap_account_locked(mm, vma->vm_flags, len);
		free(vma);
		return addr;
	}
	vma->vm_page_prot = vm_get_page_prot(vma->vm_flags);
	/* mmap_region(): shared anonymous memory is a shmem file of its own. */
	if (!file && !h && (vma->vm_flags & VM_SHARED)) {
		err = shmem_zero_setup(vma);
		if (err)
			goto free_vma;
	}
	if (file) {
		vm_flags_t before = vma->vm_flags;

		/* mmap_region(): the VMA holds the file until remove_vma(). */
		vma->vm_file = get_file(file);
		err = file->f_op && file->f_op->mmap ? file->f_op->mmap(file, vma) : -ENODEV;
		if (err)
			goto put_file;
		/*
		 * "If vm_flags changed after mmap_file(), we should try merge
		 * vma again": with the driver's flags (never for vfio-pci's,
		 * which are VM_SPECIAL).
		 */
		if (vma->vm_flags != before &&
		    mmap_merge(mm, addr, addr + len, vma->vm_flags, vma->vm_file, vma->vm_pgoff)) {
			mmap_account_locked(mm, vma->vm_flags, len);
			fput(vma->vm_file);
			free(vma);
			return addr;
		}
		/* mmap_region(): a VM_SPECIAL mapping (a BAR) is never VM_LOCKED. */
		if (vma->vm_flags & VM_SPECIAL)
			vma->vm_flags &= ~VM_LOCKED_MASK;
	}
	/* vma_set_page_prot(): flags may have changed; keep the driver's cache bits. */
	vma->vm_page_prot = __pgprot(pgprot_val(vm_get_page_prot(vma->vm_flags)) |
				     (pgprot_val(vma->vm_page_prot) & _PAGE_PCD));
	err = vma_insert(mm, vma);
	if (err)
		goto put_file;
	/* vma_link_file(): core mm links every file VMA, after ->mmap succeeded. */
	if (vma->vm_file)
		mapping_link(vma);
	mmap_account_locked(mm, vma->vm_flags, len);
	return addr;

put_file:
	/*
	 * mmap_region()'s unmap_and_free_file_vma: fput(vma->vm_file) — the
	 * caller's own reference (its fd, or ksys_mmap_pgoff()'s fget) is
	 * still there, so this is never the last — and unmap_region() for
	 * whatever the driver populated.
	 */
	if (vma->vm_file) {
		if (file && h && vma->hugetlb_resv)	/* hugetlbfs_file_mmap()'s, private */
			hugetlb_unreserve_pages(h, vma->hugetlb_resv);
		fput(vma->vm_file);
		vma->vm_file = NULL;
		unmap_region(mm, vma);
	}
free_vma:
	free(vma);
unreserve:
	if (h && resv)
		hugetlb_unreserve_pages(h, resv);
	return err;
}

/*
 * do_mmap() with ksys_mmap_pgoff()'s MAP_HUGETLB part: shared hugetlb
 * memory without a file gets an unlinked hugetlbfs file
 * (hugetlb_file_setup(HUGETLB_ANON_FILE)), so that its pages live in a
 * page cache a fork child refaults from; the mapping holds it, and the
 * call's own reference goes at the end.  Private MAP_HUGETLB memory keeps
 * no file here: its faults are anonymous either way.
 */
unsigned long do_mmap(struct mm_struct *mm, struct file *file, unsigned long addr,
		      unsigned long len, unsigned long prot, unsigned long flags,
		      unsigned long pgoff)
{
	unsigned long shift = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
	struct file *anon;
	struct hstate *h;
	unsigned long ret;
	int err;

	if (file || !(flags & MAP_HUGETLB) || (flags & MAP_TYPE) == MAP_PRIVATE)
		return __do_mmap(mm, file, addr, len, prot, flags, pgoff);
	h = size_to_hstate(shift ? 1UL << shift : PMD_SIZE);
	if (!h)
		return -EINVAL;
	if (len > TASK_SIZE)
		return -ENOMEM;
	len = (len + huge_page_size(h) - 1) & ~(huge_page_size(h) - 1);
	anon = shmem_new_file("anon_hugepage", len, h, &err);
	if (!anon)
		return err;
	ret = __do_mmap(mm, anon, addr, len, prot, flags, 0);
	fput(anon);
	return ret;
}

/* ---------------- munmap ---------------- */

/*
 * __split_vma(): cut @vma at @addr; the new VMA takes [addr, vm_end).
 * Hugetlb reservations follow the unfaulted pages of each part.
 */
int split_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr)
{
	struct vm_area_struct *new = sim_kmalloc(sizeof(*new));
	int err;

	if (!new)
		return -ENOMEM;
	*new = *vma;
	new->vm_start = addr;
	new->vm_pgoff += (addr - vma->vm_start) >> PAGE_SHIFT;
	new->vm_mapping_next = NULL;
	if (is_vm_hugetlb_page(vma) && vma->hugetlb_resv) {
		long right = hugetlb_unfaulted(vma, addr, vma->vm_end);

		if (right > vma->hugetlb_resv)
			right = vma->hugetlb_resv;
		new->hugetlb_resv = right;
		vma->hugetlb_resv -= right;
	}
	vma->vm_end = addr;
	err = vma_insert(mm, new);
	if (err) {
		vma->vm_end = new->vm_end;
		vma->hugetlb_resv += new->hugetlb_resv;
		free(new);
		return err;
	}
	if (new->vm_file) {
		get_file(new->vm_file);		/* mm/vma.c __split_vma() */
		mapping_link(new);
	}
	if (new->vm_ops && new->vm_ops->open)
		new->vm_ops->open(new);
	return 0;
}

/*
 * mm/vma.c remove_vma(): the VMA is off the mm's VMA set and its file's
 * i_mmap, its range zapped and its tables freed; what is left is
 * vma_close() (hugetlb_vm_op_close() gives back the reservations no fault
 * consumed) and fput(vma->vm_file), which for the last reference only
 * queues the release (see fput()).
 */
static void remove_vma(struct vm_area_struct *vma)
{
	if (is_vm_hugetlb_page(vma) && vma->hugetlb_resv)
		hugetlb_unreserve_pages(vma->vm_hstate, vma->hugetlb_resv);
	if (vma->vm_ops && vma->vm_ops->close)
		vma->vm_ops->close(vma);
	if (vma->vm_file)
		fput(vma->vm_file);
	free(vma);
}

/*
 * The VMAs around a range that no VMA of the set covers: the one before it
 * and the one after it (NULL at either end of the address space).
 */
static void vma_neighbours(struct mm_struct *mm, unsigned long start,
			   struct vm_area_struct **prev, struct vm_area_struct **next)
{
	unsigned int i = vma_index(mm, start);

	*prev = i ? mm->vmas[i - 1] : NULL;
	*next = i < mm->nr_vmas ? mm->vmas[i] : NULL;
}

/*
 * Zap @nr VMAs already off the set and free their page tables between the
 * neighbours' floor and ceiling: vms_clear_ptes() for munmap (floor/ceiling
 * are vms->unmap_start/unmap_end, the previous VMA's end and the next one's
 * start as vms_gather_munmap_vmas() found them), unmap_region() for a VMA
 * whose ->mmap failed.  The mmap write lock is held throughout; the kernel's
 * munmap(2) downgrades it to read before this step (vms_complete_munmap_vmas()),
 * safe there because the VMAs are already detached: pinsim keeps the write
 * lock, which only narrows what may run alongside.
 */
static void clear_ptes(struct mm_struct *mm, struct vm_area_struct **vmas, unsigned int nr,
		       unsigned long start, unsigned long end, struct vm_area_struct *prev,
		       struct vm_area_struct *next)
{
	struct mmu_gather tlb;

	tlb_gather_mmu(&tlb, mm);
	unmap_vmas(vmas, nr, start, end);
	free_pgtables(&tlb, vmas, nr, prev ? prev->vm_end : FIRST_USER_ADDRESS,
		      next ? next->vm_start : USER_PGTABLES_CEILING);
	tlb_finish_mmu(&tlb);
}

/*
 * mmap_region()'s unmap_and_free_file_vma: ->mmap failed, perhaps after the
 * driver populated entries (remap_pfn_range()).  The VMA was never on the
 * set nor on i_mmap; unmap_region() zaps it and frees the tables between
 * its neighbours.
 */
static void unmap_region(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct vm_area_struct *prev, *next;

	vma_neighbours(mm, vma->vm_start, &prev, &next);
	clear_ptes(mm, &vma, 1, vma->vm_start, vma->vm_end, prev, next);
}

/*
 * do_vmi_align_munmap(): vms_gather_munmap_vmas() splits the first and last
 * VMA at the range's ends and detaches every VMA inside from the mm;
 * vms_complete_munmap_vmas() zaps them, frees their page tables
 * (free_pgtables(), which unlinks them from i_mmap first) and removes them
 * (remove_vma()).  A failed split or allocation leaves the VMAs split, as
 * the kernel does, and unmaps nothing.
 */
int do_munmap(struct mm_struct *mm, unsigned long start, size_t len)
{
	struct vm_area_struct *vma, *prev, *next, **detached;
	unsigned int first, nr;
	unsigned long end;
	int err;

	mmap_assert_write_locked(mm);
	if ((start & ~PAGE_MASK) || start > TASK_SIZE || len > TASK_SIZE - start)
		return -EINVAL;
	len = (len + PAGE_SIZE - 1) & PAGE_MASK;
	if (!len)
		return -EINVAL;
	end = start + len;

	/* hugetlb VMAs can only be cut at their page size (hugetlb_split). */
	for (vma = find_vma_intersection(mm, start, end); vma && vma->vm_start < end;
	     vma = find_vma(mm, vma->vm_end)) {
		if (is_vm_hugetlb_page(vma)) {
			unsigned long mask = huge_page_size(vma->vm_hstate) - 1;

			if ((start > vma->vm_start && (start & mask)) ||
			    (end < vma->vm_end && (end & mask)))
				return -EINVAL;
		}
	}

	vma = find_vma_intersection(mm, start, end);
	if (!vma)
		return 0;
	if (vma->vm_start < start) {
		err = split_vma(mm, vma, start);
		if (err)
			return err;
	}
	vma = find_vma(mm, end - 1);
	if (vma && vma->vm_start < end && vma->vm_end > end) {
		err = split_vma(mm, vma, end);
		if (err)
			return err;
	}

	/* Detach [first, first + nr): exactly the VMAs inside [start, end). */
	first = vma_index(mm, start);
	nr = vma_index(mm, end) - first;
	/* vms_gather_munmap_vmas()'s detach tree: -ENOMEM after the splits, as there. */
	detached = sim_kmalloc(nr * sizeof(*detached));
	if (!detached)
		return -ENOMEM;
	memcpy(detached, &mm->vmas[first], nr * sizeof(*detached));
	memmove(&mm->vmas[first], &mm->vmas[first + nr],
		(mm->nr_vmas - first - nr) * sizeof(*mm->vmas));
	mm->nr_vmas -= nr;
	vma_neighbours(mm, start, &prev, &next);

	clear_ptes(mm, detached, nr, start, end, prev, next);
	/*
	 * vms_gather_munmap_vmas() sums the VM_LOCKED VMAs' pages,
	 * vms_complete_munmap_vmas() takes them off mm->locked_vm.
	 */
	for (unsigned int i = 0; i < nr; i++) {
		if (detached[i]->vm_flags & VM_LOCKED)
			atomic_fetch_sub(&mm->locked_vm, (long)((detached[i]->vm_end -
								 detached[i]->vm_start) >>
								PAGE_SHIFT));
		remove_vma(detached[i]);
	}
	free(detached);
	return 0;
}

/* ---------------- existing VMAs: mprotect, mlock, mremap (mm/vma.c) ---------------- */

/* vma_set_page_prot(): keep the driver's cache bits, as do_mmap() does. */
void vma_set_page_prot(struct vm_area_struct *vma)
{
	vma->vm_page_prot = __pgprot(pgprot_val(vm_get_page_prot(vma->vm_flags)) |
				     (pgprot_val(vma->vm_page_prot) & _PAGE_PCD));
}

/*
 * A VMA that a merge made redundant: off the set and its file's i_mmap,
 * its file reference dropped (vma_complete() with vp->remove).  Its page
 * tables stay: the VMA that absorbed its range now maps them.
 */
static void vma_drop_merged(struct mm_struct *mm, struct vm_area_struct *vma)
{
	unsigned int i = vma_slot(mm, vma);

	/* A neighbour may already have grown over vm_start: find the pointer. */
	if (i && mm->vmas[i] != vma)
		i--;
	while (i < mm->nr_vmas && mm->vmas[i] != vma)
		i++;
	if (WARN_ON_ONCE(i == mm->nr_vmas))
		return;

	memmove(&mm->vmas[i], &mm->vmas[i + 1], (mm->nr_vmas - i - 1) * sizeof(*mm->vmas));
	mm->nr_vmas--;
	unlink_file_vma(vma);
	if (vma->vm_file)
		fput(vma->vm_file);
	free(vma);
}

/* The VMA right before / after @vma if it touches it, else NULL. */
static struct vm_area_struct *vma_adjacent_prev(struct mm_struct *mm, struct vm_area_struct *vma)
{
	unsigned int i = vma_slot(mm, vma);

	return i && mm->vmas[i - 1]->vm_end == vma->vm_start ? mm->vmas[i - 1] : NULL;
}

static struct vm_area_struct *vma_adjacent_next(struct mm_struct *mm, struct vm_area_struct *vma)
{
	unsigned int i = vma_slot(mm, vma);

	return i + 1 < mm->nr_vmas && mm->vmas[i + 1]->vm_start == vma->vm_end ?
		       mm->vmas[i + 1] :
		       NULL;
}

/*
 * mm/vma.c vma_merge_existing_range() (6.12): [start, end) of @vma, with
 * @newflags, joins prev when it starts at vma->vm_start, next when it ends
 * at vma->vm_end, both when it is all of @vma.  Never for VM_SPECIAL or
 * hugetlb, never removing a VMA with ->close (can_merge_remove_vma()).
 * The anon_vma compatibility the kernel also asks is not modelled (see
 * is_mergeable_vma()): two anonymous VMAs that were never one and both
 * had faults merge here, not in the kernel.  NULL: no merge, nothing
 * changed.
 */
static struct vm_area_struct *vma_merge_existing_range(struct mm_struct *mm,
							struct vm_area_struct *vma,
							unsigned long start, unsigned long end,
							vm_flags_t newflags)
{
	struct vma_merge_struct vmg = {
		.mm = mm, .start = start, .end = end, .flags = newflags, .file = vma->vm_file,
		.pgoff = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT),
	};
	bool whole = start == vma->vm_start && end == vma->vm_end, left, right;
	struct vm_area_struct *prev, *next;

	if ((newflags & (VM_SPECIAL | VM_HUGETLB)) || (vma->vm_flags & (VM_SPECIAL | VM_HUGETLB)))
		return NULL;
	vmg.prev = start == vma->vm_start ? vma_adjacent_prev(mm, vma) : NULL;
	vmg.next = end == vma->vm_end ? vma_adjacent_next(mm, vma) : NULL;
	prev = vmg.prev;
	next = vmg.next;
	left = prev && vma_can_merge_left(&vmg);
	right = next && vma_can_merge_right(&vmg);
	if (whole && !can_merge_remove_vma(vma))
		return NULL;
	if (left && right && !can_merge_remove_vma(next))
		right = false;
	if (left) {
		if (right) {
			unsigned long new_end = next->vm_end;

			vma_drop_merged(mm, next);
			vma_drop_merged(mm, vma);
			prev->vm_end = new_end;
		} else if (whole) {
			vma_drop_merged(mm, vma);
			prev->vm_end = end;
		} else {
			prev->vm_end = end;
			vma->vm_pgoff += (end - vma->vm_start) >> PAGE_SHIFT;
			vma->vm_start = end;
		}
		return prev;
	}
	if (right) {
		next->vm_start = start;
		next->vm_pgoff = vmg.pgoff;
		if (whole)
			vma_drop_merged(mm, vma);
		else
			vma->vm_end = start;
		return next;
	}
	return NULL;
}

struct vm_area_struct *vma_modify_flags(struct mm_struct *mm, struct vm_area_struct *vma,
					unsigned long start, unsigned long end,
					vm_flags_t newflags, int *err)
{
	struct vm_area_struct *merged;

	mmap_assert_write_locked(mm);
	merged = vma_merge_existing_range(mm, vma, start, end, newflags);
	if (merged)
		return merged;
	/* __split_vma() -> ->may_split(): hugetlb_vm_op_split() wants huge alignment. */
	if (is_vm_hugetlb_page(vma) &&
	    ((start | end) & (huge_page_size(vma->vm_hstate) - 1))) {
		*err = -EINVAL;
		return NULL;
	}
	/* vma_modify(): split at the ends. */
	if (vma->vm_start < start) {
		*err = split_vma(mm, vma, start);
		if (*err)
			return NULL;
		vma = find_vma(mm, start);
	}
	if (vma->vm_end > end) {
		*err = split_vma(mm, vma, end);
		if (*err)
			return NULL;
	}
	return vma;
}

struct vm_area_struct *vma_merge_extend(struct mm_struct *mm, struct vm_area_struct *vma,
					unsigned long delta)
{
	struct vm_area_struct *next;
	struct vma_merge_struct vmg = { .mm = mm, .flags = vma->vm_flags, .file = vma->vm_file };

	mmap_assert_write_locked(mm);
	vma->vm_end += delta;
	next = vma_adjacent_next(mm, vma);
	vmg.start = vma->vm_start;
	vmg.end = vma->vm_end;
	vmg.pgoff = vma->vm_pgoff;
	vmg.next = next;
	if (next && !(vma->vm_flags & (VM_SPECIAL | VM_HUGETLB)) && vma_can_merge_right(&vmg) &&
	    can_merge_remove_vma(next)) {
		unsigned long new_end = next->vm_end;

		vma_drop_merged(mm, next);
		vma->vm_end = new_end;
	}
	return vma;
}

struct vm_area_struct *copy_vma(struct vm_area_struct *src, unsigned long addr,
				unsigned long len, unsigned long pgoff)
{
	struct mm_struct *mm = src->vm_mm;
	struct vm_area_struct *vma;

	vma = mmap_merge(mm, addr, addr + len, src->vm_flags, src->vm_file, pgoff);
	if (vma)
		return vma;
	vma = sim_kmalloc(sizeof(*vma));	/* vm_area_dup() */
	if (!vma)
		return NULL;
	*vma = *src;
	vma->vm_start = addr;
	vma->vm_end = addr + len;
	vma->vm_pgoff = pgoff;
	vma->vm_mapping_next = NULL;
	vma->hugetlb_resv = 0;
	if (vma_insert(mm, vma)) {
		free(vma);
		return NULL;
	}
	if (vma->vm_file) {
		get_file(vma->vm_file);
		mapping_link(vma);
	}
	if (vma->vm_ops && vma->vm_ops->open)
		vma->vm_ops->open(vma);
	return vma;
}

unsigned long sim_get_unmapped_area(struct mm_struct *mm, struct file *file,
				    unsigned long addr, unsigned long len,
				    unsigned long pgoff, unsigned long flags, struct hstate *h)
{
	return get_unmapped_area(mm, file, addr, len, pgoff, flags, h);
}

unsigned long mm_total_vm(struct mm_struct *mm)
{
	unsigned long pages = 0;

	for (unsigned int i = 0; i < mm->nr_vmas; i++)
		pages += (mm->vmas[i]->vm_end - mm->vmas[i]->vm_start) >> PAGE_SHIFT;
	return pages;
}

void exit_mmap(struct mm_struct *mm)
{
	unmap_all_vmas(mm, rwsem_held_by_dead(&mm->mmap_lock));
}

/*
 * exit_mmap() (mm/mmap.c): unmap_vmas() over everything, free_pgtables()
 * from FIRST_USER_ADDRESS to USER_PGTABLES_CEILING (only the pgd is left,
 * freed with the mm), then remove_vma() for each VMA.  The kernel zaps
 * under the read lock and frees tables under the write lock; here the
 * write lock covers both.
 */
static void unmap_all_vmas(struct mm_struct *mm, bool force)
{
	/*
	 * At machine shutdown nothing else runs any more, but a crashed (or
	 * scheduler-ended) task may still hold mmap_lock: go on without it.
	 */
	bool locked = true;
	struct mmu_gather tlb;

	if (!force) {
		down_write(&mm->mmap_lock);
	} else if (!down_write_trylock(&mm->mmap_lock)) {
		locked = false;
		lock_acquired(&mm->mmap_lock, true);	/* for the assertions */
	}
	if (mm->nr_vmas) {
		tlb_gather_mmu(&tlb, mm);
		unmap_vmas(mm->vmas, mm->nr_vmas, 0, ~0UL);
		free_pgtables(&tlb, mm->vmas, mm->nr_vmas, FIRST_USER_ADDRESS,
			      USER_PGTABLES_CEILING);
		tlb_finish_mmu(&tlb);
	}
	while (mm->nr_vmas)
		remove_vma(mm->vmas[--mm->nr_vmas]);
	if (locked)
		up_write(&mm->mmap_lock);
	else
		lock_released(&mm->mmap_lock);
}

unsigned long vm_mmap(struct mm_struct *mm, struct file *file, unsigned long addr,
		      unsigned long len, unsigned long prot, unsigned long flags,
		      unsigned long pgoff)
{
	unsigned long ret;

	bool populate;

	if (mmap_write_lock_killable(mm))
		return -EINTR;
	/* do_mmap()'s *populate: VM_LOCKED without VM_LOCKONFAULT. */
	populate = ((((flags & MAP_LOCKED) ? VM_LOCKED : 0) | mm->def_flags) & VM_LOCKED_MASK) ==
		   VM_LOCKED;
	ret = do_mmap(mm, file, addr, len, prot, flags, pgoff);
	mmap_write_unlock(mm);
	/* vm_mmap_pgoff(): mm_populate(), errors ignored. */
	if (populate && !IS_ERR_VALUE(ret))
		__mm_populate(mm, ret, len, true);
	return ret;
}

int vm_munmap(struct mm_struct *mm, unsigned long start, size_t len)
{
	int ret;

	if (mmap_write_lock_killable(mm))
		return -EINTR;
	ret = do_munmap(mm, start, len);
	mmap_write_unlock(mm);
	return ret;
}

/* exported for fork/madvise (F1) */

/* vma_iter_bulk_store() of dup_mmap(): into the set, in address order. */
int mm_vma_insert(struct mm_struct *mm, struct vm_area_struct *vma)
{
	return vma_insert(mm, vma);
}

/* dup_mmap()'s vma_interval_tree_insert_after(): onto the file's i_mmap. */
void vma_link_file(struct vm_area_struct *vma)
{
	mapping_link(vma);
}
