/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The public edge's own state (lib/pinsim.c, lib/vfio_fd.c): the machine
 * handle, processes, pins, walkers, and the VFIO groups and fd tables.
 */
#ifndef LIB_PINSIM_INTERNAL_H
#define LIB_PINSIM_INTERNAL_H

#include <errno.h>
#include <pthread.h>

#include "locked_vm_ledger.h"
#include "machine.h"
#include "mutex.h"
#include "pinsim/pinsim.h"

struct vfio_group;
struct vfio_fd_table;
struct vfio_iommu_backend;

/*
 * The machine owns its processes and they own their pins: destroying the
 * machine releases whatever the caller left behind.
 */
struct pinsim {
	struct machine *m;
	pthread_mutex_t lock;
	struct pinsim_proc *procs;
	/* VFIO groups, indexed by group id (= device id) */
	struct mutex vfio_lock;	/* simulated: the scheduler sees who waits */
	struct vfio_group **groups;
	int nr_groups;
	/*
	 * The type1 backend a container of this machine gets at
	 * VFIO_SET_IOMMU (and CHECK_EXTENSION polls before one is set):
	 * vfio_iommu_type1_rewrite, or ktree_vfio_iommu_type1 on a machine
	 * that runs the kernel tree (pinsim_create()).
	 */
	const struct vfio_iommu_backend *vfio_backend;
	/*
	 * pinsim_pin_user_pages()' share of each mm's locked_vm, for the
	 * per-mm locked_vm checker (lib/locked_vm_ledger.h).
	 */
	struct locked_vm_source pin_ledger;
};

struct pinsim_proc {
	struct pinsim *sim;
	struct mm_struct *mm;
	struct pinsim_proc *next;
	struct pinsim_pin *pins;
	/* Pages its pins charged to mm->locked_vm (changed under mmap write lock). */
	_Atomic unsigned long pin_locked;
	struct pinsim_walker *walkers;
	struct vfio_fd_table *fds;
};

struct pinsim_pin {
	struct pinsim_proc *proc;
	unsigned long nr_pages;
	struct page **pages;
	struct pinsim_pin *next;
};

struct pinsim_walker {
	struct numa_maps_walker *w;
	struct pinsim_proc *proc;
	struct pinsim_walker *next;
};


/* lib/pinsim.c: run @fn as the calling thread's task in @p. */
long in_proc(struct pinsim_proc *p, long (*fn)(void *), void *arg);

/*
 * For tests: make @sim's later VFIO_SET_IOMMUs (and backend-less
 * CHECK_EXTENSIONs) use @b, e.g. a wrapper that counts what the front end
 * calls.  Containers already set keep the backend they recorded.
 */
static inline void pinsim_set_vfio_backend(struct pinsim *sim, const struct vfio_iommu_backend *b)
{
	sim->vfio_backend = b;
}

/* lib/vfio_fd.c */
int vfio_group_register(struct pinsim *sim, struct vfio_pci_core_device *vdev, int iommu_unit);
void vfio_groups_release(struct pinsim *sim);
void vfio_fd_table_release(struct pinsim_proc *p);
/* fork (F1): the child's copy of the parent's fd table; its undo. */
int vfio_fd_table_dup(struct pinsim_proc *parent, struct pinsim_proc *child);
void vfio_fd_table_drop(struct pinsim_proc *p);
/* The struct file behind a device fd (for mmap), or an -errno. */
long vfio_fd_mmap_file(struct pinsim_proc *p, int fd, struct file **filep);
/* Shared memory fds (sim/shmem.c): install a file (its reference), get one. */
int vfio_fd_install_file(struct pinsim_proc *p, struct file *file);
long vfio_fd_shmem_file(struct pinsim_proc *p, int fd, struct file **filep);

/* -errno → -1/errno, else the value (the public edge's return convention). */
static inline long ret_errno(long ret)
{
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

#endif /* LIB_PINSIM_INTERNAL_H */
