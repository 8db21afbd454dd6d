// SPDX-License-Identifier: GPL-2.0-only
/*
 * The public edge: machine, processes, memory syscalls and statistics.
 *
 * Every call that acts in a process runs as a simulated task of that
 * process (one per host thread), inside sim_task_run(), so that an oops in
 * the simulated kernel ends the task — and returns -1/EOWNERDEAD here —
 * instead of the host process.  A dead task's later calls get ESRCH.
 */
#include <errno.h>
#include <linux/mman.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pinsim-config.h"
#include "pinsim/pinsim.h"
#include "pinsim_internal.h"

#include "fault_inject.h"
#include "machine.h"
#include "mm.h"
#include "iommu.h"
#include "checker.h"
#include "shmem.h"
#include "kernel_profiles.h"
#include "task_mmu.h"
#include "kimpl.h"
#include "vfio.h"
#include "vfio_iommu_driver.h"
#include "vfio_pci.h"
#include <stdio.h>

#if HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static void pin_unlink(struct pinsim_pin *pin)
{
	struct pinsim_pin **pp;

	pthread_mutex_lock(&pin->proc->sim->lock);
	for (pp = &pin->proc->pins; *pp; pp = &(*pp)->next) {
		if (*pp == pin) {
			*pp = pin->next;
			break;
		}
	}
	pthread_mutex_unlock(&pin->proc->sim->lock);
}

void pinsim_proc_destroy(struct pinsim_proc *p);
struct pinsim_walker;
struct pinsim_walker_result;
void pinsim_walker_stop(struct pinsim_walker *pw, struct pinsim_walker_result *res);

static int fail(int err)
{
	errno = err;
	return -1;
}

static long run_task_work(void *arg)
{
	(void)arg;
	task_work_run();
	return 0;
}

/*
 * Run @fn as the calling thread's task in @p.  The previous current task is
 * restored afterwards, so a thread may act in several processes.
 *
 * The return to user mode comes after the body: kernel/entry/common.c
 * exit_to_user_mode_loop() -> resume_user_mode_work() runs the task_work
 * the syscall queued (the last fput() of a file a munmap or a close put,
 * sim/mmap.c), still as the task and inside its oops pad, with no lock
 * held.  The syscall's result is the body's.  A task that died in its body
 * never gets there (sim_task_run() refuses a dead task).
 */
long in_proc(struct pinsim_proc *p, long (*fn)(void *), void *arg)
{
	struct task_struct *t, *old;
	long ret;

	t = mm_thread_task(p->mm);
	if (!t)
		return -ENOMEM;
	old = set_current(t);
	ret = sim_task_run(fn, arg);
	if (task_work_pending(t))
		sim_task_run(run_task_work, NULL);
	set_current(old);
	return ret;
}

/* ---------------- machine ---------------- */

void pinsim_config_init(struct pinsim_config *cfg)
{
	struct machine_config mc;

	machine_config_init(&mc);
	memset(cfg, 0, sizeof(*cfg));
	cfg->ram_bytes = mc.ram_bytes;
	cfg->thp = PINSIM_THP_MADVISE;
	cfg->arch_has_pte_special = mc.arch_has_pte_special;
	cfg->arch_supports_pmd_pfnmap = mc.arch_supports_pmd_pfnmap;
	cfg->arch_supports_pud_pfnmap = mc.arch_supports_pud_pfnmap;
	cfg->max_bar_fault_order = mc.max_bar_fault_order;
	/* The default kernel is a named one: every version switch from it. */
	pinsim_config_set_kernel(cfg, "upstream");
	cfg->follow_pfnmap_enoent = false;
	cfg->disable_hugepages = false;
	cfg->dma_entry_limit = 65535;
	cfg->retry_policy = PINSIM_RETRY_LEGACY;
	cfg->retry_bound = 8;
	cfg->iommu_pgsize_bitmap = (4ULL << 10) | (2ULL << 20) | (1ULL << 30);
}

/*
 * The type1 backend of a machine running @impl: the tree's
 * drivers/vfio/vfio_iommu_type1.c when the machine runs the tree, pinsim's
 * otherwise.  NULL for a tree whose build has the walker but not (yet) the
 * tree's type1; a build without any tree is refused by machine_create().
 */
static const struct vfio_iommu_backend *vfio_machine_backend(enum pinsim_impl impl)
{
	if (impl != PINSIM_IMPL_TREE || !kimpl_tree_built())
		return &vfio_iommu_type1_rewrite;
	return &ktree_vfio_iommu_type1;
}

static bool pin_ledger_charged(struct locked_vm_source *src, struct mm_struct *mm, bool held,
			       unsigned long *pages);

int pinsim_create(const struct pinsim_config *cfg, struct pinsim **out)
{
	const struct vfio_iommu_backend *backend;
	struct vfio_type1_config vc;
	struct machine_config mc;
	struct pinsim *sim;
	int err;

	if (!cfg || !out)
		return fail(EINVAL);
	machine_config_init(&mc);
	vfio_type1_config_init(&vc);
	kernel_config_apply(cfg, &mc, &vc);
	mc.shared_memory = cfg->shared_memory;

	/*
	 * The simulated IOMMU builds 4K, 2M and 1G leaves (a minimum above 4K
	 * works as the kernel's vfio_update_pgsize_bitmap() makes it work);
	 * any other size, 64K say, is refused here rather than at SET_IOMMU.
	 */
	if (cfg->retry_policy > PINSIM_RETRY_ENOENT || cfg->impl > PINSIM_IMPL_TREE ||
	    !iommu_pgsize_bitmap_supported(cfg->iommu_pgsize_bitmap))
		return fail(EINVAL);
	/*
	 * follow_pfnmap_enoent changes the rewrite's follow_pfnmap_start();
	 * with the tree's, what it returns is the tree's source: the switch
	 * would be silently ignored, so it is refused (apply the change to
	 * the tree instead).
	 */
	if (cfg->impl == PINSIM_IMPL_TREE && cfg->follow_pfnmap_enoent)
		return fail(EINVAL);
	/*
	 * The retry policies are the rewrite's vfio_iommu_type1.c; the
	 * tree's follow_fault_pfn() does what its source does (apply the
	 * patch, e.g. scripts/apply-seeds03-retry.py, to the tree), which its
	 * profile declares (+eagain; kernel_tree_retry_policy()).  Another
	 * policy would be silently ignored: refused like the -ENOENT switch.
	 */
	if (cfg->impl == PINSIM_IMPL_TREE && cfg->retry_policy != kernel_tree_retry_policy())
		return fail(EINVAL);
	backend = vfio_machine_backend(cfg->impl);
	if (!backend)
		return fail(EOPNOTSUPP);
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return fail(ENOMEM);
	sim->vfio_backend = backend;
	pthread_mutex_init(&sim->lock, NULL);
	mutex_init(&sim->vfio_lock, "vfio_lock");
	err = machine_create(&mc, &sim->m);
	if (err) {
		free(sim);
		return fail(-err);
	}
	sim->pin_ledger.charged = pin_ledger_charged;
	locked_vm_ledger_add(&sim->pin_ledger);
	/* The code under study reads its module parameters and versions here. */
	vfio_type1_cfg = vc;
	memset(&iommu_stats, 0, sizeof(iommu_stats));
	/* The DMA checker's discard notes name another machine's frames and mms. */
	iommu_discard_notes_clear();
	*out = sim;
	return 0;
}

void pinsim_destroy(struct pinsim *sim)
{
	if (!sim)
		return;
	/*
	 * Host-level teardown, not a kernel operation: nothing of the machine
	 * runs again, and a dead task's locks (mmap_lock, a container's
	 * group_lock, iommu->lock, vfio_lock...) would never be released.
	 * Give them back first, so that every exit and close below takes its
	 * locks as usual instead of waiting for ever.
	 */
	sim->m->shutting_down = true;
	rwsem_release_dead(NULL);
	while (sim->procs)
		pinsim_proc_destroy(sim->procs);
	shmem_names_release();	/* /dev/shm and hugetlbfs names left behind */
	vfio_groups_release(sim);
	iommu_discard_notes_clear();
	locked_vm_ledger_del(&sim->pin_ledger);
	/*
	 * Every container is closed now: no pin may be left.  Checked here with
	 * CHECKER_ALWAYS; in the other modes but OFF machine_destroy() checks
	 * (sim/iommu.c dma_check_pins_at_teardown(), not twice).
	 */
	if (atomic_load_explicit(&checker_mode, memory_order_relaxed) == CHECKER_ALWAYS)
		dma_check_pins_released();
	machine_destroy(sim->m);
	mutex_destroy(&sim->vfio_lock);
	pthread_mutex_destroy(&sim->lock);
	free(sim);
}

int pinsim_set_retry_policy(struct pinsim *sim, enum pinsim_retry_policy policy,
			    unsigned int bound)
{
	if (!sim || policy > PINSIM_RETRY_ENOENT)
		return fail(EINVAL);
	/* The tree's type1 has no policy switch (see pinsim_create()). */
	if (sim->m->cfg.impl == MACHINE_IMPL_TREE && policy != kernel_tree_retry_policy())
		return fail(EINVAL);
	/* Read by pinning threads: relaxed atomics, like a module parameter. */
	__atomic_store_n(&vfio_type1_cfg.retry_bound, bound, __ATOMIC_RELAXED);
	__atomic_store_n(&vfio_type1_cfg.retry_policy, (enum vfio_retry_policy)policy,
			 __ATOMIC_RELAXED);
	return 0;
}

int pinsim_add_device(struct pinsim *sim, const struct pinsim_device_spec *d, int *group_id)
{
	return pinsim_add_device_pci(sim, d, NULL, group_id);
}

int pinsim_add_device_pci(struct pinsim *sim, const struct pinsim_device_spec *d,
			  const struct pinsim_device_pci *pci, int *group_id)
{
	struct vfio_pci_core_device *vdev;
	int err;

	if (!sim || !d)
		return fail(EINVAL);
	if (d->iommu_unit < 0)
		return fail(EINVAL);
	{
		struct vfio_pci_device_ids ids = { 0 };

		if (pci) {
			ids.vendor_id = pci->vendor_id;
			ids.device_id = pci->device_id;
			ids.class_code = pci->class_code;
			ids.msix_vectors = pci->msix_vectors;
			ids.msix_bar = pci->msix_bar;
			ids.msi_vectors = pci->msi_vectors;
			ids.msi_maskbit = pci->msi_maskbit;
		}

		err = vfio_pci_device_create_ids(d->name ? d->name : "pci", d->bar_size, &ids,
						 &vdev);
	}
	if (err)
		return fail(-err);
	err = vfio_group_register(sim, vdev, d->iommu_unit);
	if (err) {
		vfio_pci_device_destroy(vdev);
		return fail(-err);
	}
	if (group_id)
		*group_id = vdev->id;
	return 0;
}

/* ---------------- processes ---------------- */

int pinsim_proc_create(struct pinsim *sim, struct pinsim_proc **out)
{
	struct pinsim_proc *p;

	if (!sim || !out)
		return fail(EINVAL);
	p = calloc(1, sizeof(*p));
	if (!p)
		return fail(ENOMEM);
	p->sim = sim;
	p->mm = mm_alloc("vmm");
	if (!p->mm) {
		free(p);
		return fail(ENOMEM);
	}
	pthread_mutex_lock(&sim->lock);
	p->next = sim->procs;
	sim->procs = p;
	pthread_mutex_unlock(&sim->lock);
	*out = p;
	return 0;
}

static long exit_mm_body(void *arg)
{
	exit_mmap(arg);
	return 0;
}

static void zap_notifier_release(struct pinsim_proc *p);

void pinsim_proc_destroy(struct pinsim_proc *p)
{
	struct task_struct *old;

	struct pinsim_proc **pp;

	if (!p)
		return;
	/*
	 * The process's dead tasks go with it (mmput() below): the locks they
	 * kept go with them, as teardown must not wait for a holder that will
	 * never run (rwsem_release_dead()).  Another process's dead task keeps
	 * its own until that process goes.
	 */
	rwsem_release_dead(p->mm);
	/*
	 * kernel/exit.c do_exit(): exit_mm() (every VMA goes, and with it the
	 * references BAR mappings hold on device files), exit_files() (every
	 * fd), and exit_task_work(), which runs the releases those last
	 * fput()s queued: in_proc() runs them after each step, which ends in
	 * the same state (the file references order the releases, not the
	 * steps).  The VMAs go first as in the kernel; the mm itself stays
	 * until mmput() below, after walkers and pins, as the type1 backend's
	 * unpin accounting needs it.
	 */
	zap_notifier_release(p);
	in_proc(p, exit_mm_body, p->mm);
	vfio_fd_table_release(p);
	while (p->walkers)
		pinsim_walker_stop(p->walkers, NULL);
	while (p->pins)
		pinsim_unpin_user_pages(p->pins);
	pthread_mutex_lock(&p->sim->lock);
	for (pp = &p->sim->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&p->sim->lock);
	old = set_current(p->mm->owner);
	mmput(p->mm);
	set_current(old && old->mm != p->mm ? old : NULL);
	free(p);
}

void pinsim_thread_exit(void)
{
	mm_thread_exit();
}

int pinsim_setrlimit(struct pinsim_proc *p, int resource, const struct rlimit *rl)
{
	if (!p || !rl)
		return fail(EFAULT);
	if (resource != RLIMIT_MEMLOCK)
		return fail(EINVAL);
	if (rl->rlim_cur > rl->rlim_max)
		return fail(EINVAL);
	atomic_store(&p->mm->owner->signal->rlim_memlock, rl->rlim_cur);
	return 0;
}

int pinsim_set_cap_ipc_lock(struct pinsim_proc *p, bool on)
{
	if (!p)
		return fail(EINVAL);
	atomic_store(&p->mm->owner->signal->cap_ipc_lock, on);
	return 0;
}

int pinsim_kill(struct pinsim_proc *p)
{
	if (!p)
		return fail(ESRCH);
	send_sig_kill(p->mm->owner);
	return 0;
}

/* ---------------- mmap, munmap, madvise ---------------- */

struct mmap_args {
	struct pinsim_proc *p;
	uint64_t addr, len, off;
	int prot, flags, fd;
};

static long mmap_body(void *arg)
{
	struct mmap_args *a = arg;

	struct file *file = NULL;
	long ret;

	/* ksys_mmap_pgoff() and the x86 mmap syscall, in their order. */
	if (a->off & ~PAGE_MASK)
		return -EINVAL;
	if (!(a->flags & MAP_ANONYMOUS)) {
		ret = vfio_fd_mmap_file(a->p, a->fd, &file);	/* fget() */
		if (ret)
			return ret;
	}
	if (a->prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		ret = -EINVAL;
	else
		ret = (long)vm_mmap(a->p->mm, file, a->addr, a->len, a->prot, a->flags,
				    a->off >> PAGE_SHIFT);
	if (file)
		fput(file);	/* ksys_mmap_pgoff(): out_fput */
	return ret;
}

uint64_t pinsim_mmap(struct pinsim_proc *p, uint64_t addr, uint64_t len, int prot, int flags,
		     int fd, uint64_t off)
{
	struct mmap_args a = { p, addr, len, off, prot, flags, fd };
	long ret;

	if (!p) {
		errno = EINVAL;
		return PINSIM_MAP_FAILED;
	}
	ret = in_proc(p, mmap_body, &a);
	if (IS_ERR_VALUE(ret)) {
		errno = (int)-ret;
		return PINSIM_MAP_FAILED;
	}
	return (uint64_t)ret;
}

static long munmap_body(void *arg)
{
	struct mmap_args *a = arg;

	return vm_munmap(a->p->mm, a->addr, a->len);
}

int pinsim_munmap(struct pinsim_proc *p, uint64_t addr, uint64_t len)
{
	struct mmap_args a = { .p = p, .addr = addr, .len = len };

	if (!p)
		return fail(EINVAL);
	return (int)ret_errno(in_proc(p, munmap_body, &a));
}

/* madvise(2): the VMA-flag advices and the discards of mm/madvise.c (sim/madvise.c). */
static long madvise_body(void *arg)
{
	struct mmap_args *a = arg;

	return do_madvise(a->p->mm, a->addr, a->len, a->flags);
}

int pinsim_madvise(struct pinsim_proc *p, uint64_t addr, uint64_t len, int advice)
{
	struct mmap_args a = { .p = p, .addr = addr, .len = len, .flags = advice };

	if (!p)
		return fail(EINVAL);
	return (int)ret_errno(in_proc(p, madvise_body, &a));
}

/* ---------------- CPU access ---------------- */

struct access_args {
	struct pinsim_proc *p;
	uint64_t addr;
	unsigned char *buf;
	size_t len;
	int write;
};

/*
 * Find the byte behind @addr for a CPU access, faulting it in as the MMU
 * would.  Called with the mmap read lock held; may drop and re-take it on
 * VM_FAULT_RETRY.  NULL with *err set on failure.
 */
static unsigned char *cpu_translate(struct mm_struct *mm, uint64_t addr, bool write, int *err)
{
	for (int tries = 0; tries < 16; tries++) {
		struct vm_area_struct *vma = vma_lookup(mm, addr);
		enum pgtable_level lvl;
		unsigned long pfn;
		uint64_t entry;
		vm_fault_t ret;

		if (!vma || !(vma->vm_flags & (write ? VM_WRITE : VM_READ))) {
			*err = -EFAULT;	/* SIGSEGV */
			return NULL;
		}
		lvl = pgtable_lookup(mm, addr, &pfn, &entry);
		if (lvl != PGTABLE_NONE && (!write || (entry & _PAGE_RW))) {
			unsigned char *base;

			if (pfn_valid(pfn)) {
				if (write)
					folio_mark_data(page_folio(pfn_to_page(pfn)));
				base = phys_to_virt(pfn);
			} else {
				base = mmio_virt(pfn);
			}
			if (!base) {
				*err = -EFAULT;
				return NULL;
			}
			return base + (addr & ~PAGE_MASK);
		}
		ret = handle_mm_fault(vma, addr,
				      FAULT_FLAG_USER | FAULT_FLAG_ALLOW_RETRY |
					      FAULT_FLAG_KILLABLE | (write ? FAULT_FLAG_WRITE : 0));
		if (ret & VM_FAULT_RETRY) {
			mmap_read_lock(mm);
			continue;
		}
		if (ret & VM_FAULT_ERROR) {
			*err = -EFAULT;	/* SIGBUS / SIGSEGV delivered to the task */
			return NULL;
		}
		/* A write to a PFNMAP entry inserted read-only: the kernel's
		 * fault path marks it writable via vm_page_prot; done by the
		 * provider's insert on a write fault. */
	}
	*err = -EFAULT;
	return NULL;
}

static long access_body(void *arg)
{
	struct access_args *a = arg;
	struct mm_struct *mm = a->p->mm;
	size_t done = 0;
	int err = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	while (done < a->len) {
		uint64_t addr = a->addr + done;
		size_t chunk = PAGE_SIZE - (addr & ~PAGE_MASK);
		unsigned char *p;

		if (chunk > a->len - done)
			chunk = a->len - done;
		p = cpu_translate(mm, addr, a->write, &err);
		if (!p)
			break;
		if (a->write)
			memcpy(p, a->buf + done, chunk);
		else
			memcpy(a->buf + done, p, chunk);
		done += chunk;
	}
	mmap_read_unlock(mm);
	return done ? (long)done : err;
}

ssize_t pinsim_access(struct pinsim_proc *p, uint64_t addr, void *buf, size_t len, int write)
{
	struct access_args a = { p, addr, buf, len, write };

	if (!p || (!buf && len))
		return fail(EFAULT);
	if (!len)
		return 0;
	if (addr + len < addr)
		return fail(EFAULT);
	return ret_errno(in_proc(p, access_body, &a));
}

/* ---------------- a host process mirroring this one (preload/) ---------------- */

struct touch_args {
	struct pinsim_proc *p;
	uint64_t addr;
	int write;
};

/* cpu_translate()'s fault loop, telling SIGBUS (-EIO) from SIGSEGV (-EFAULT). */
static long touch_body(void *arg)
{
	struct touch_args *a = arg;
	struct mm_struct *mm = a->p->mm;
	long err = -EFAULT;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for (int tries = 0; tries < 16; tries++) {
		struct vm_area_struct *vma = vma_lookup(mm, a->addr);
		unsigned long pfn;
		uint64_t entry;
		vm_fault_t ret;

		if (!vma || !(vma->vm_flags & (a->write ? VM_WRITE : VM_READ)))
			break;
		if (pgtable_lookup(mm, a->addr, &pfn, &entry) != PGTABLE_NONE &&
		    (!a->write || (entry & _PAGE_RW))) {
			/* The host writes it behind the simulation's back. */
			if (a->write && pfn_valid(pfn))
				folio_mark_data(page_folio(pfn_to_page(pfn)));
			err = 0;
			break;
		}
		ret = handle_mm_fault(vma, a->addr,
				      FAULT_FLAG_USER | FAULT_FLAG_ALLOW_RETRY |
					      FAULT_FLAG_KILLABLE | (a->write ? FAULT_FLAG_WRITE : 0));
		if (ret & VM_FAULT_RETRY) {
			mmap_read_lock(mm);
			continue;
		}
		if (ret & VM_FAULT_ERROR) {
			err = ret & VM_FAULT_SIGBUS ? -EIO : -EFAULT;
			break;
		}
	}
	mmap_read_unlock(mm);
	return err;
}

int pinsim_touch(struct pinsim_proc *p, uint64_t addr, int write, struct pinsim_page_info *info)
{
	struct touch_args a = { p, addr & PAGE_MASK, write };
	long ret;

	if (!p || !info)
		return fail(EINVAL);
	if (addr >= TASK_SIZE)
		return fail(EFAULT);
	ret = in_proc(p, touch_body, &a);
	if (ret)
		return (int)ret_errno(ret);
	return pinsim_pagemap(p, addr, info);
}

int pinsim_phys_fd(struct pinsim *sim, uint64_t pfn, uint64_t *off)
{
	int fd;

	if (!sim || !off)
		return fail(EINVAL);
	fd = sim_phys_fd((unsigned long)pfn, off);
	return fd < 0 ? fail(-fd) : fd;
}

/* The sim's notifier has unsigned long bounds; the API's are uint64_t. */
struct zap_notifier {
	pinsim_zap_fn *fn;
	void *data;
};

static void zap_notify_thunk(void *data, unsigned long start, unsigned long end)
{
	struct zap_notifier *zn = data;

	zn->fn(zn->data, start, end);
}

int pinsim_set_zap_notifier(struct pinsim_proc *p, pinsim_zap_fn *fn, void *data)
{
	struct zap_notifier *zn;

	if (!p || p->mm->zap_notify)
		return fail(p ? EBUSY : EINVAL);
	if (!fn)
		return 0;
	zn = malloc(sizeof(*zn));
	if (!zn)
		return fail(ENOMEM);
	*zn = (struct zap_notifier){fn, data};
	p->mm->zap_notify_data = zn;
	atomic_store_explicit(&p->mm->zap_notify, zap_notify_thunk, memory_order_release);
	return 0;
}

/* exit_mmap(): mmu_notifier_release() first; the subscriber hears no more. */
static void zap_notifier_release(struct pinsim_proc *p)
{
	void *zn = p->mm->zap_notify_data;

	atomic_store(&p->mm->zap_notify, NULL);
	p->mm->zap_notify_data = NULL;
	free(zn);
}

/* ---------------- long-term pins ---------------- */

/*
 * mm/util.c account_locked_vm() for @p's pins, with the charge published
 * to the per-mm locked_vm ledger under the same mmap write lock: a check
 * (locked_vm_ledger_check(), which skips while the lock is write-held)
 * sees both or neither.
 */
static int pin_acct(struct pinsim_proc *p, unsigned long nr, bool inc)
{
	struct mm_struct *mm = p->mm;
	int ret;

	if (!nr)
		return 0;
	mmap_write_lock(mm);
	ret = __account_locked_vm(mm, nr, inc, current, capable_ipc_lock());
	if (!ret) {
		if (inc)
			atomic_fetch_add(&p->pin_locked, nr);
		else
			atomic_fetch_sub(&p->pin_locked, nr);
	}
	mmap_write_unlock(mm);
	return ret;
}

/*
 * The ledger's source for the pin API: what the pins of @mm's processes
 * charged.  The process list's lock is a host mutex held only around list
 * changes; busy means "not exact now" (the check is skipped).
 */
static bool pin_ledger_charged(struct locked_vm_source *src, struct mm_struct *mm, bool held,
			       unsigned long *pages)
{
	struct pinsim *sim = (struct pinsim *)((char *)src - offsetof(struct pinsim, pin_ledger));

	(void)held;
	if (pthread_mutex_trylock(&sim->lock))
		return false;
	for (struct pinsim_proc *p = sim->procs; p; p = p->next)
		if (p->mm == mm)
			*pages += atomic_load(&p->pin_locked);
	pthread_mutex_unlock(&sim->lock);
	return true;
}

struct pin_args {
	struct pinsim_proc *p;
	uint64_t addr, len;
	int write;
	struct pinsim_pin *pin;
};

static long pin_body(void *arg)
{
	struct pin_args *a = arg;
	struct mm_struct *mm = a->p->mm;
	unsigned long nr = a->len >> PAGE_SHIFT, done = 0;
	unsigned int flags = FOLL_LONGTERM | (a->write ? FOLL_WRITE : 0);
	struct page **pages;
	long ret;

	if ((a->addr | a->len) & ~PAGE_MASK || !a->len || a->addr + a->len < a->addr)
		return -EINVAL;
	/*
	 * Charge first, as drivers/fpga/dfl-afu-dma-region.c
	 * afu_dma_pin_pages() charges its FOLL_LONGTERM pins to locked_vm:
	 * the rlimit is checked up front.  (ib_umem_get() and io_uring charge
	 * mm->pinned_vm instead, which pinsim does not model.)
	 */
	ret = pin_acct(a->p, nr, true);
	if (ret)
		return ret;
	pages = sim_kmalloc(nr * sizeof(*pages));
	if (!pages) {
		ret = -ENOMEM;
		goto uncharge;
	}
	if (mmap_read_lock_killable(mm)) {
		ret = -EINTR;
		goto free_pages;
	}
	while (done < nr) {
		ret = pin_user_pages_remote(mm, a->addr + (done << PAGE_SHIFT), nr - done, flags,
					    pages + done, NULL);
		if (ret <= 0)
			break;
		done += ret;
	}
	mmap_read_unlock(mm);
	if (done < nr) {
		unpin_user_pages(pages, done);
		ret = ret < 0 ? ret : -EFAULT;
		goto free_pages;
	}
	a->pin->proc = a->p;
	a->pin->nr_pages = nr;
	a->pin->pages = pages;
	return 0;

free_pages:
	free(pages);
uncharge:
	pin_acct(a->p, nr, false);
	return ret;
}

int pinsim_pin_user_pages(struct pinsim_proc *p, uint64_t addr, uint64_t len, int write,
			  struct pinsim_pin **out)
{
	struct pin_args a = { p, addr, len, write, NULL };
	long ret;

	if (!p || !out)
		return fail(EINVAL);
	a.pin = calloc(1, sizeof(*a.pin));
	if (!a.pin)
		return fail(ENOMEM);
	ret = in_proc(p, pin_body, &a);
	if (ret) {
		free(a.pin);
		return (int)ret_errno(ret);
	}
	pthread_mutex_lock(&p->sim->lock);
	a.pin->next = p->pins;
	p->pins = a.pin;
	pthread_mutex_unlock(&p->sim->lock);
	*out = a.pin;
	return 0;
}

static long unpin_body(void *arg)
{
	struct pinsim_pin *pin = arg;

	unpin_user_pages_dirty_lock(pin->pages, pin->nr_pages, true);
	return pin_acct(pin->proc, pin->nr_pages, false);
}

int pinsim_unpin_user_pages(struct pinsim_pin *pin)
{
	long ret;

	if (!pin)
		return fail(EINVAL);
	pin_unlink(pin);
	ret = in_proc(pin->proc, unpin_body, pin);
	free(pin->pages);
	free(pin);
	return (int)ret_errno(ret);
}

/* ---------------- queries ---------------- */

int pinsim_pagemap(struct pinsim_proc *p, uint64_t addr, struct pinsim_page_info *info)
{
	unsigned long pfn;
	uint64_t entry;
	enum pgtable_level lvl;

	if (!p || !info)
		return fail(EINVAL);
	if (addr >= TASK_SIZE)
		return fail(EINVAL);
	memset(info, 0, sizeof(*info));
	lvl = pgtable_lookup(p->mm, addr, &pfn, &entry);
	info->level = (enum pinsim_level)lvl;
	if (lvl == PGTABLE_NONE)
		return 0;
	info->pfn = pfn;
	info->writable = entry & _PAGE_RW;
	info->special = entry & _PAGE_SPECIAL;
	info->mmio = !pfn_valid(pfn);
	if (!info->mmio) {
		struct folio *folio = page_folio(pfn_to_page(pfn));

		info->folio_order = folio_order(folio);
		info->refcount = folio_ref_count(folio);
		info->pincount = folio_test_large(folio) ? folio_pincount(folio)
			       : folio_ref_count(folio) / (int)GUP_PIN_COUNTING_BIAS;
	}
	return 0;
}

int pinsim_proc_stats(struct pinsim_proc *p, struct pinsim_proc_stats *st)
{
	struct mm_struct *mm;

	if (!p || !st)
		return fail(EINVAL);
	mm = p->mm;
	memset(st, 0, sizeof(*st));
	st->locked_vm = atomic_load(&mm->locked_vm);
	st->faults_pte = atomic_load(&mm->fault_stats.pte);
	st->faults_pmd = atomic_load(&mm->fault_stats.pmd);
	st->faults_pud = atomic_load(&mm->fault_stats.pud);
	st->fault_fallbacks = atomic_load(&mm->fault_stats.fallback);
	st->fault_retries = atomic_load(&mm->fault_stats.retry);
	st->nr_vmas = mm->nr_vmas;
	st->pgtable_pages = atomic_load(&mm->nr_ptes);
	return 0;
}

int pinsim_stats(struct pinsim *sim, struct pinsim_stats *st)
{
	struct machine *m;
	struct oops_record rec;

	if (!sim || !st)
		return fail(EINVAL);
	m = sim->m;
	memset(st, 0, sizeof(*st));
	st->ram_bytes = m->cfg.ram_bytes;
	st->pages_allocated = nr_allocated_pages();
	st->hugetlb_2m_total = m->hstate_2m.nr_huge_pages;
	st->hugetlb_2m_free = m->hstate_2m.free_huge_pages;
	st->hugetlb_1g_total = m->hstate_1g.nr_huge_pages;
	st->hugetlb_1g_free = m->hstate_1g.free_huge_pages;
	st->bytes_per_frame = sizeof(struct page);
	st->iommu_map_calls = atomic_load(&iommu_stats.map_calls);
	st->iommu_unmap_calls = atomic_load(&iommu_stats.unmap_calls);
	st->iotlb_syncs = atomic_load(&iommu_stats.iotlb_syncs);
	st->iommu_leaves_4k = atomic_load(&iommu_stats.leaves_4k);
	st->iommu_leaves_2m = atomic_load(&iommu_stats.leaves_2m);
	st->iommu_leaves_1g = atomic_load(&iommu_stats.leaves_1g);
	st->dma_faults = atomic_load(&iommu_stats.dma_faults);
	st->dma_violations = atomic_load(&iommu_stats.dma_violations);
	st->oopses = sim_oops_count();
	st->warnings = sim_warn_count();
	pthread_mutex_lock(&m->tasks_lock);
	st->tasks = m->nr_tasks;
	pthread_mutex_unlock(&m->tasks_lock);
	if (sim_last_oops(&rec))
		snprintf(st->last_oops, sizeof(st->last_oops), "%s: %s at %#llx in %s()", rec.comm,
			 rec.why, (unsigned long long)rec.addr, rec.func);
#if HAVE_JEMALLOC
	{
		uint64_t epoch = 1;
		size_t sz = sizeof(epoch), v;

		st->jemalloc = true;
		mallctl("epoch", &epoch, &sz, &epoch, sz);
		sz = sizeof(v);
		if (!mallctl("stats.allocated", &v, &sz, NULL, 0))
			st->jemalloc_allocated = v;
		sz = sizeof(v);
		if (!mallctl("stats.resident", &v, &sz, NULL, 0))
			st->jemalloc_resident = v;
	}
#endif
	return 0;
}

/* ---------------- numa_maps ---------------- */

struct numa_args {
	struct pinsim_proc *p;
	char *buf;
	size_t len;
};

static long numa_body(void *arg)
{
	struct numa_args *a = arg;

	return numa_maps_read(a->p->mm, a->buf, a->len);
}

ssize_t pinsim_read_numa_maps(struct pinsim_proc *p, char *buf, size_t len)
{
	struct numa_args a = { p, buf, len };

	if (!p || (!buf && len))
		return fail(EFAULT);
	return ret_errno(in_proc(p, numa_body, &a));
}


int pinsim_walker_start(struct pinsim_proc *p, const struct pinsim_walker_opts *opts,
			struct pinsim_walker **out)
{
	struct numa_maps_walker_opts o = { 0 };
	struct pinsim_walker *pw;

	if (!p || !out)
		return fail(EINVAL);
	if (opts) {
		o.interval_us = opts->interval_us;
		o.max_iterations = opts->max_iterations;
	}
	o.comm = "numa_maps";
	pw = calloc(1, sizeof(*pw));
	if (!pw)
		return fail(ENOMEM);
	pw->w = numa_maps_walker_start(p->mm, &o);
	if (!pw->w) {
		free(pw);
		return fail(ENOMEM);
	}
	pw->proc = p;
	pthread_mutex_lock(&p->sim->lock);
	pw->next = p->walkers;
	p->walkers = pw;
	pthread_mutex_unlock(&p->sim->lock);
	*out = pw;
	return 0;
}

void pinsim_walker_stop(struct pinsim_walker *pw, struct pinsim_walker_result *res)
{
	struct numa_maps_walker_result r;

	struct pinsim_walker **pp;

	if (!pw)
		return;
	pthread_mutex_lock(&pw->proc->sim->lock);
	for (pp = &pw->proc->walkers; *pp; pp = &(*pp)->next) {
		if (*pp == pw) {
			*pp = pw->next;
			break;
		}
	}
	pthread_mutex_unlock(&pw->proc->sim->lock);
	numa_maps_walker_stop(pw->w, &r);
	if (res) {
		memset(res, 0, sizeof(*res));
		res->reads = r.reads;
		res->oopsed = r.oopsed;
		res->hung = r.hung;
		res->last_errno = -r.last_errno;
		if (r.oopsed)
			snprintf(res->oops, sizeof(res->oops), "%s: %s at %#llx in %s()",
				 r.oops.comm, r.oops.why, (unsigned long long)r.oops.addr,
				 r.oops.func);
	}
	free(pw);
}

/* ---------------- fork (F1) ---------------- */

struct fork_args {
	struct pinsim_proc *parent, *child;
};

/*
 * kernel/fork.c copy_process() without CLONE_VM/CLONE_FILES, as the
 * parent's task: copy_files() (dup_fd()), then copy_mm() (dup_mm()); the
 * child's rlimit and capability come with copy_signal()/copy_creds().  A
 * failure undoes what was done: the child's fds are closed
 * (bad_fork_cleanup_files) and its mm is gone already (dup_mm()).
 */
static long fork_body(void *arg)
{
	struct fork_args *a = arg;
	struct signal_struct *psig = a->parent->mm->owner->signal, *csig;
	struct mm_struct *mm;
	int err;

	err = vfio_fd_table_dup(a->parent, a->child);
	if (err)
		return err;
	mm = dup_mm(a->parent->mm, a->parent->mm->owner->comm, &err);
	if (!mm) {
		vfio_fd_table_drop(a->child);
		return err;
	}
	csig = mm->owner->signal;
	atomic_store(&csig->rlim_memlock, atomic_load(&psig->rlim_memlock));
	atomic_store(&csig->cap_ipc_lock, atomic_load(&psig->cap_ipc_lock));
	a->child->mm = mm;
	return 0;
}

int pinsim_fork(struct pinsim_proc *parent, struct pinsim_proc **child)
{
	struct fork_args a = { parent, NULL };
	struct pinsim_proc *p;
	long ret;

	if (!parent || !child)
		return fail(EINVAL);
	p = calloc(1, sizeof(*p));
	if (!p)
		return fail(ENOMEM);
	p->sim = parent->sim;
	a.child = p;
	ret = in_proc(parent, fork_body, &a);
	if (ret) {
		free(p);
		return (int)ret_errno(ret);
	}
	pthread_mutex_lock(&p->sim->lock);
	p->next = p->sim->procs;
	p->sim->procs = p;
	pthread_mutex_unlock(&p->sim->lock);
	*child = p;
	return 0;
}

/* ---------------- mprotect, mremap, mlock (issue 12) ---------------- */

#include "vma.h"

struct mem_args {
	struct pinsim_proc *p;
	uint64_t addr, len, new_len, new_addr;
	int prot, flags;
};

static long mprotect_body(void *arg)
{
	struct mem_args *a = arg;

	return do_mprotect_pkey(a->p->mm, a->addr, a->len, (unsigned long)(unsigned int)a->prot,
				-1);
}

int pinsim_mprotect(struct pinsim_proc *p, uint64_t addr, uint64_t len, int prot)
{
	struct mem_args a = { .p = p, .addr = addr, .len = len, .prot = prot };

	if (!p)
		return fail(EINVAL);
	return (int)ret_errno(in_proc(p, mprotect_body, &a));
}

static long mremap_body(void *arg)
{
	struct mem_args *a = arg;

	return (long)do_mremap(a->p->mm, a->addr, a->len, a->new_len,
			       (unsigned long)(unsigned int)a->flags, a->new_addr);
}

uint64_t pinsim_mremap(struct pinsim_proc *p, uint64_t old_addr, uint64_t old_len,
		       uint64_t new_len, int flags, uint64_t new_addr)
{
	struct mem_args a = {
		.p = p, .addr = old_addr, .len = old_len, .new_len = new_len, .flags = flags,
		.new_addr = new_addr,
	};
	long ret;

	if (!p) {
		errno = EINVAL;
		return PINSIM_MAP_FAILED;
	}
	ret = in_proc(p, mremap_body, &a);
	if (IS_ERR_VALUE(ret)) {
		errno = (int)-ret;
		return PINSIM_MAP_FAILED;
	}
	return (uint64_t)ret;
}

/* mlock2(2): MLOCK_ONFAULT or nothing (-EINVAL), then do_mlock(). */
static long mlock_body(void *arg)
{
	struct mem_args *a = arg;
	vm_flags_t vm_flags = VM_LOCKED;

	if (a->flags & ~MLOCK_ONFAULT)
		return -EINVAL;
	if (a->flags & MLOCK_ONFAULT)
		vm_flags |= VM_LOCKONFAULT;
	return do_mlock(a->p->mm, a->addr, a->len, vm_flags);
}

int pinsim_mlock(struct pinsim_proc *p, uint64_t addr, uint64_t len, int flags)
{
	struct mem_args a = { .p = p, .addr = addr, .len = len, .flags = flags };

	if (!p)
		return fail(EINVAL);
	return (int)ret_errno(in_proc(p, mlock_body, &a));
}

static long munlock_body(void *arg)
{
	struct mem_args *a = arg;

	return do_munlock(a->p->mm, a->addr, a->len);
}

int pinsim_munlock(struct pinsim_proc *p, uint64_t addr, uint64_t len)
{
	struct mem_args a = { .p = p, .addr = addr, .len = len };

	if (!p)
		return fail(EINVAL);
	return (int)ret_errno(in_proc(p, munlock_body, &a));
}

static long mlockall_body(void *arg)
{
	struct mem_args *a = arg;

	return a->flags < 0 ? do_munlockall(a->p->mm) : do_mlockall(a->p->mm, a->flags);
}

int pinsim_mlockall(struct pinsim_proc *p, int flags)
{
	struct mem_args a = { .p = p, .flags = flags < 0 ? 0 : flags };

	if (!p)
		return fail(EINVAL);
	return (int)ret_errno(in_proc(p, mlockall_body, &a));
}

int pinsim_munlockall(struct pinsim_proc *p)
{
	struct mem_args a = { .p = p, .flags = -1 };

	if (!p)
		return fail(EINVAL);
	return (int)ret_errno(in_proc(p, mlockall_body, &a));
}

/* ---------------------------------------------------------------------- */
/* Version (issue 14)                                                     */
/* ---------------------------------------------------------------------- */

const char *pinsim_version(void)
{
	return PINSIM_VERSION;
}

/* ---------------------------------------------------------------------- */
/* Who holds what (issue 14: the example programs' watchdogs)             */
/* ---------------------------------------------------------------------- */

#include <stdarg.h>

struct lock_report {
	char *buf;
	size_t len, at;
};

static void lock_report_add(struct lock_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void lock_report_add(struct lock_report *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(r->at < r->len ? r->buf + r->at : NULL, r->at < r->len ? r->len - r->at : 0,
		      fmt, ap);
	va_end(ap);
	if (n > 0)
		r->at += (size_t)n;
}

/* "mmap_lock of vmm (pid 1)" when @lock is a process's mmap_lock, else its rwsem name. */
static void lock_report_name(struct lock_report *r, struct machine *m, const void *lock)
{
	for (struct mm_struct *mm = m->mms; mm; mm = mm->next_mm) {
		if (lock == (const void *)&mm->mmap_lock) {
			lock_report_add(r, "mmap_lock of %s (pid %u)", mm->owner->comm,
					mm->owner->tid);
			return;
		}
	}
	/* Only rw_semaphores (and mutexes, built on them) enter held lists. */
	lock_report_add(r, "%s", ((const struct rw_semaphore *)lock)->name);
}

/* ", among them task numa_maps (tid 2, dead)": @sem's holders that died. */
static void lock_report_dead_holders(struct lock_report *r, struct machine *m,
				     const struct rw_semaphore *sem)
{
	int n = 0;

	pthread_mutex_lock(&m->tasks_lock);
	for (unsigned int i = 0; i < m->nr_tasks; i++) {
		struct task_struct *t = m->tasks[i];

		if (!atomic_load(&t->dead))
			continue;
		for (int j = 0; j < t->nr_held; j++)
			if (t->held[j].lock == (const void *)sem)
				lock_report_add(r, "%s task %s (tid %u, dead)",
						n++ ? "," : ", among them", t->comm, t->tid);
	}
	pthread_mutex_unlock(&m->tasks_lock);
}

/*
 * The mmap_locks from their atomics (kernel/locking/rwsem.c's count and
 * owner), the dead tasks' held lists under tasks_lock: a dead task never
 * changes its list again (lock_held_by_dead_task()), a live one's is its
 * own and is not read.
 */
size_t pinsim_lock_report(struct pinsim *sim, char *buf, size_t len)
{
	struct lock_report r = { .buf = buf, .len = len };
	struct machine *m;

	if (buf && len)
		buf[0] = '\0';
	if (!sim)
		return 0;
	m = sim->m;
	pthread_mutex_lock(&m->mms_lock);
	for (struct mm_struct *mm = m->mms; mm; mm = mm->next_mm) {
		struct rw_semaphore *sem = &mm->mmap_lock;
		long count = atomic_load(&sem->count);
		int ww = atomic_load(&sem->waiting_writers), wr = atomic_load(&sem->waiting_readers);
		long readers = count & (RWSEM_WRITER - 1);
		struct task_struct *w = atomic_load(&sem->writer);

		if (!count && !ww && !wr)
			continue;
		lock_report_add(&r, "mmap_lock of process %s (pid %u): ", mm->owner->comm,
				mm->owner->tid);
		if (count & RWSEM_WRITER)
			lock_report_add(&r, "held for write by task %s (tid %u)",
					w ? w->comm : "?", w ? w->tid : 0);
		else if (readers)
			lock_report_add(&r, "held for read by %ld task%s", readers,
					readers == 1 ? "" : "s");
		else
			lock_report_add(&r, "free");
		lock_report_dead_holders(&r, m, sem);
		lock_report_add(&r, "; %d writer%s and %d reader%s waiting\n", ww, ww == 1 ? "" : "s",
				wr, wr == 1 ? "" : "s");
	}
	pthread_mutex_lock(&m->tasks_lock);
	for (unsigned int i = 0; i < m->nr_tasks; i++) {
		struct task_struct *t = m->tasks[i];

		if (!atomic_load(&t->dead))
			continue;
		for (int j = 0; j < t->nr_held; j++) {
			lock_report_add(&r, "task %s (tid %u) of process %s is dead (oopsed, or "
					"ended by the scheduler) and holds ", t->comm, t->tid,
					t->mm ? t->mm->owner->comm : "none");
			lock_report_name(&r, m, t->held[j].lock);
			lock_report_add(&r, " (%s)\n", t->held[j].write ? "write" : "read");
		}
	}
	pthread_mutex_unlock(&m->tasks_lock);
	pthread_mutex_unlock(&m->mms_lock);
	return r.at;
}

/* ---------------- shared memory files (issue 12, sim/shmem.c) ---------------- */

/* include/uapi/linux/memfd.h */
#define PINSIM_MFD_CLOEXEC 0x0001U
#define PINSIM_MFD_ALLOW_SEALING 0x0002U
#define PINSIM_MFD_HUGETLB 0x0004U
#define PINSIM_MFD_NOEXEC_SEAL 0x0008U
#define PINSIM_MFD_EXEC 0x0010U
#define PINSIM_MFD_HUGE_SHIFT 26
#define PINSIM_MFD_HUGE_MASK 0x3fU
#define PINSIM_MFD_NAME_MAX_LEN 249	/* NAME_MAX - strlen("memfd:") */

struct shmem_args {
	struct pinsim_proc *p;
	const char *name;
	unsigned int flags;
	int fd, mode;
	int64_t off, len;
};

/*
 * mm/memfd.c memfd_create(): the flags check (sanitize_flags()), the name
 * ("memfd:" + name), then shmem_file_setup() or, for MFD_HUGETLB,
 * hugetlb_file_setup() with the size from the MFD_HUGE_* bits (-ENODEV for
 * a size no pool has), and the fd.
 */
static long memfd_body(void *arg)
{
	const unsigned int known = PINSIM_MFD_CLOEXEC | PINSIM_MFD_ALLOW_SEALING |
				   PINSIM_MFD_HUGETLB | PINSIM_MFD_NOEXEC_SEAL | PINSIM_MFD_EXEC;
	struct shmem_args *a = arg;
	unsigned int huge = (a->flags >> PINSIM_MFD_HUGE_SHIFT) & PINSIM_MFD_HUGE_MASK;
	struct hstate *h = NULL;
	char name[SHMEM_NAME_MAX];
	struct file *file;
	int err;

	if (a->flags & PINSIM_MFD_HUGETLB) {
		if (a->flags & ~(known | (PINSIM_MFD_HUGE_MASK << PINSIM_MFD_HUGE_SHIFT)))
			return -EINVAL;
	} else if (a->flags & ~known) {
		return -EINVAL;
	}
	if ((a->flags & PINSIM_MFD_NOEXEC_SEAL) && (a->flags & PINSIM_MFD_EXEC))
		return -EINVAL;
	if (strnlen(a->name, PINSIM_MFD_NAME_MAX_LEN + 1) > PINSIM_MFD_NAME_MAX_LEN)
		return -EINVAL;
	if (a->flags & PINSIM_MFD_HUGETLB) {
		h = size_to_hstate(huge ? 1UL << huge : PMD_SIZE);
		if (!h)
			return -ENODEV;
	}
	snprintf(name, sizeof(name), "memfd:%s", a->name);
	file = shmem_new_file(name, 0, h, &err);
	if (!file)
		return err;
	return vfio_fd_install_file(a->p, file);
}

int pinsim_memfd_create(struct pinsim_proc *p, const char *name, unsigned int flags)
{
	struct shmem_args a = { .p = p, .name = name, .flags = flags };

	if (!p)
		return fail(EINVAL);
	if (!name)
		return fail(EFAULT);
	return (int)ret_errno(in_proc(p, memfd_body, &a));
}

/* do_sys_ftruncate(): a shmem/hugetlbfs fd, else EINVAL (no regular file). */
static long ftruncate_body(void *arg)
{
	struct shmem_args *a = arg;
	struct file *file;
	long ret = vfio_fd_shmem_file(a->p, a->fd, &file);

	if (ret == -ENODEV)
		return -EINVAL;
	if (ret)
		return ret;
	ret = shmem_file_truncate(file, a->len);
	fput(file);
	return ret;
}

int pinsim_ftruncate(struct pinsim_proc *p, int fd, int64_t length)
{
	struct shmem_args a = { .p = p, .fd = fd, .len = length };

	if (!p)
		return fail(EBADF);
	return (int)ret_errno(in_proc(p, ftruncate_body, &a));
}

/* vfs_fallocate(): ENODEV for what is not a regular file. */
static long fallocate_body(void *arg)
{
	struct shmem_args *a = arg;
	struct file *file;
	long ret = vfio_fd_shmem_file(a->p, a->fd, &file);

	if (ret)
		return ret;
	ret = shmem_file_fallocate(file, a->mode, a->off, a->len);
	fput(file);
	return ret;
}

int pinsim_fallocate(struct pinsim_proc *p, int fd, int mode, int64_t offset, int64_t len)
{
	struct shmem_args a = { .p = p, .fd = fd, .mode = mode, .off = offset, .len = len };

	if (!p)
		return fail(EBADF);
	return (int)ret_errno(in_proc(p, fallocate_body, &a));
}

static long unlink_body(void *arg)
{
	struct shmem_args *a = arg;

	return shmem_unlink_path(a->name);
}

int pinsim_unlink(struct pinsim_proc *p, const char *path)
{
	struct shmem_args a = { .p = p, .name = path };

	if (!p)
		return fail(EINVAL);
	if (!path)
		return fail(EFAULT);
	return (int)ret_errno(in_proc(p, unlink_body, &a));
}

/* ---------------- checkers (issue 15): lock order, sim/lockdep.c ---------------- */

#include "checker.h"
#include "lockdep.h"

int pinsim_set_checkers(struct pinsim *m, enum pinsim_checkers mode)
{
	static const enum lockdep_mode map[] = {
		[PINSIM_CHECKERS_CONTROLLED] = LOCKDEP_SCHED,
		[PINSIM_CHECKERS_OFF] = LOCKDEP_OFF,
		[PINSIM_CHECKERS_ALWAYS] = LOCKDEP_ALWAYS,
	};

	if (!m || (unsigned int)mode > PINSIM_CHECKERS_ALWAYS) {
		errno = EINVAL;
		return -1;
	}
	lockdep_set_mode(map[mode]);
	/* The walker and DMA checkers (sim/checker.h) follow the same switch. */
	checker_set_mode(mode == PINSIM_CHECKERS_OFF	   ? CHECKER_OFF
			 : mode == PINSIM_CHECKERS_ALWAYS ? CHECKER_ALWAYS
							   : CHECKER_SCHED);
	return 0;
}

int pinsim_checker_reports(struct pinsim *m, struct pinsim_checker_report *out,
			   unsigned int max)
{
	unsigned long n;
	unsigned int i = 0;
	enum checker_kind ck;

	if (!m) {
		errno = EINVAL;
		return -1;
	}
	n = lockdep_nr_reports();
	for (; out && i < n && i < max; i++) {
		enum lockdep_report_kind kind;

		if (!lockdep_report(i, &kind, out[i].text, sizeof(out[i].text), out[i].schedule,
				    sizeof(out[i].schedule)))
			break;
		snprintf(out[i].kind, sizeof(out[i].kind), "%s", lockdep_kind_name(kind));
	}
	/* Then the walker and DMA checkers' (sim/checker.h), after lockdep's kept ones. */
	for (unsigned int k = 0; out && i < max; k++, i++) {
		if (!checker_report_get(k, &ck, out[i].text, sizeof(out[i].text), out[i].schedule,
					sizeof(out[i].schedule)))
			break;
		snprintf(out[i].kind, sizeof(out[i].kind), "%s", checker_name(ck));
	}
	n += checker_total();
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int pinsim_checker_reset(struct pinsim *m)
{
	if (!m) {
		errno = EINVAL;
		return -1;
	}
	lockdep_reset();
	checker_reset();
	return 0;
}
