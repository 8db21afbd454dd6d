// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VFIO character devices, syscall-shaped (drivers/vfio/container.c,
 * group.c, vfio_main.c and the pci/vfio_pci_core.c ioctls): a per-process
 * fd table, containers, groups and device fds, with the real request codes
 * and structs of <linux/vfio.h>.  Checked against 6.12.118 (the three
 * front-end files are identical from 6.12.107 on) and upstream: nothing on
 * the paths modelled here differs between them (the group.c CLASS(fd) and
 * vfio_main.c get_region_info_caps conversions change no result); the one
 * version-dependent answer, VFIO_TYPE1_NESTING_IOMMU, is the type1
 * backend's (vfio_type1_cfg.type1_nesting), which this file asks.
 *
 * The backend is reached only through its table (lib/vfio_iommu_driver.h),
 * as container.c reaches a driver only through container->iommu_driver:
 * the machine's (sim->vfio_backend: pinsim's type1, or the kernel tree's
 * own vfio_iommu_type1.c on a machine that runs the tree), recorded in the
 * container at VFIO_SET_IOMMU.
 *
 * File lifetimes follow the kernel's references:
 *  - a container lives while its fd is open or a group is attached to it
 *    (kref); its IOMMU backend is released (every mapping removed, every
 *    page unpinned) when the last group leaves it;
 *  - the group file lives while its fd is open or a device of the group is
 *    open: the first device open takes a reference on it
 *    (vfio_group_use_container(): get_file(group->opened_file)), the last
 *    device close drops it.  Only the last reference releases the group
 *    (vfio_group_fops_release()), which detaches it from its container, and
 *    until then a second open of the group is -EBUSY;
 *  - a device fd is one open of the device (device->open_count) and a
 *    struct file of its own (group.c vfio_device_open_file():
 *    anon_inode_getfile() per VFIO_GROUP_GET_DEVICE_FD, f_mapping the
 *    device inode's, shared by all of them).  Every VMA that maps a BAR
 *    holds a reference on that file (mm/mmap.c mmap_region(): get_file()),
 *    so closing the fd while a BAR is mapped closes nothing: the device
 *    stays open, with its container user and its group file reference,
 *    until the last munmap (or the process's exit) puts the file and
 *    vfio_main.c vfio_device_fops_release() runs (sim/mmap.c fput(): as
 *    task work, when the syscall returns).
 * The syscall layer truncates the request to unsigned int (fs/ioctl.c
 * SYSCALL_DEFINE3(ioctl), file_operations.unlocked_ioctl) before any fd's
 * handler sees it.
 *
 * Simplifications: one device per group, no SR-IOV (so no VF token); no
 * noiommu, no cdev/iommufd (so PCI_HOT_RESET always takes group fds and
 * hot-reset info never has the DEV_ID flags); regions are read and written through
 * sim/vfio_pci.c (config space virtualized as vfio_pci_config.c does, BARs
 * as vfio_pci_rdwr.c); fds 0-2 are taken by stdio and are not vfio files.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_inject.h"
#include "iommu.h"
#include "mm.h"
#include "shmem.h"
#include "pinsim_internal.h"
#include "vfio.h"
#include "vfio_iommu_driver.h"
#include "vfio_pci.h"

enum vfio_fd_type {
	VFIO_FD_FREE = 0,
	VFIO_FD_CONTAINER,
	VFIO_FD_GROUP,
	VFIO_FD_DEVICE,
	VFIO_FD_FILE,		/* a shared memory file (sim/shmem.c): memfd, /dev/shm, hugetlbfs */
};

struct vfio_container {
	_Atomic int refs;		/* its fd + attached groups + ioctls in flight */
	struct mutex lock;		/* group_list and iommu pointer */
	/*
	 * Held for read across a backend ioctl and for write while a group
	 * leaves (which may release the backend): a MAP_DMA never runs on a
	 * released backend.  6.12's vfio_fops_unl_ioctl() passes the ioctl
	 * through without this lock (see the report in container_ioctl()).
	 * A simulated rwsem, so the scheduler sees it.
	 */
	struct rw_semaphore group_lock;
	/* container->iommu_driver and iommu_data: both set by VFIO_SET_IOMMU */
	const struct vfio_iommu_backend *iommu_driver;
	void *iommu_data;
	struct vfio_group *group_list;	/* newest first, as list_add() */
	/* live_containers, under sim->vfio_lock: what teardown may have to end */
	struct vfio_container *next, **pprev;
};

struct vfio_group {
	int id;
	int iommu_unit;
	struct vfio_pci_core_device *vdev;
	struct vfio_container *container;
	struct vfio_group *container_next;
	/* 1 while attached, +1 while the device is open (vfio_group_use_container) */
	unsigned int container_users;
	/* References on group->opened_file: its fd + one for an open device; 0 = not open */
	unsigned int opened_file_refs;
	unsigned int open_count;	/* device->open_count: device fds of the one device */
};

/*
 * vfio_main.c struct vfio_device_file with the struct file that
 * anon_inode_getfile() makes for it: f_op is vfio_device_fops below,
 * private_data the df.  Freed by the release.
 */
struct vfio_device_file {
	struct file file;
	struct pinsim *sim;
	struct vfio_group *group;
};

struct vfio_fd {
	enum vfio_fd_type type;
	union {
		struct vfio_container *container;
		struct vfio_group *group;	/* group and device fds */
	};
	struct vfio_device_file *df;		/* device fds */
	struct file *file;			/* VFIO_FD_FILE: the fd's reference */
};

#define VFIO_FD_BASE 3			/* 0, 1, 2 are stdio */
#define VFIO_NR_OPEN 1024		/* RLIMIT_NOFILE's default soft limit */

struct vfio_fd_table {
	struct vfio_fd *fds;
	int nr;
};

/* ---------------- containers (container.c) ---------------- */

/*
 * Every container of the machine (one machine at a time), under
 * sim->vfio_lock like every container_alloc() and container_put().
 */
static struct vfio_container *live_containers;

static struct vfio_container *container_get(struct vfio_container *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

static void container_free(struct vfio_container *c)
{
	if (c->iommu_data)
		c->iommu_driver->release(c->iommu_data);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	mutex_destroy(&c->lock);
	destroy_rwsem(&c->group_lock);
	free(c);
}

static void container_put(struct vfio_container *c)
{
	/* The last reference: no group is attached any more. */
	if (atomic_fetch_sub(&c->refs, 1) == 1)
		container_free(c);
}

static struct vfio_container *container_alloc(void)
{
	struct vfio_container *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	atomic_store(&c->refs, 1);
	mutex_init(&c->lock, "vfio_container");
	init_rwsem(&c->group_lock, "container_group_lock");
	c->next = live_containers;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &live_containers;
	live_containers = c;
	return c;
}

/*
 * container.c vfio_container_attach_group(), sim->vfio_lock held (the group
 * lock).  Claiming DMA ownership cannot fail here: no kernel driver or
 * other user owns a simulated group.
 */
static long vfio_container_attach_group(struct vfio_container *c, struct vfio_group *g)
{
	long ret = 0;

	mutex_lock(&c->lock);
	if (c->iommu_data)
		ret = c->iommu_driver->attach_group(c->iommu_data, g->id, g->iommu_unit, false);
	if (!ret) {
		g->container = container_get(c);
		g->container_users = 1;
		g->container_next = c->group_list;
		c->group_list = g;
	}
	mutex_unlock(&c->lock);
	return ret;
}

static void container_unlink_group(struct vfio_container *c, struct vfio_group *g)
{
	for (struct vfio_group **pp = &c->group_list; *pp; pp = &(*pp)->container_next) {
		if (*pp == g) {
			*pp = g->container_next;
			break;
		}
	}
	g->container_next = NULL;
}

/* container.c vfio_group_detach_container(); sim->vfio_lock held. */
static void vfio_group_detach_container(struct vfio_group *g)
{
	struct vfio_container *c = g->container;

	WARN_ON(g->container_users != 1);
	down_write(&c->group_lock);
	mutex_lock(&c->lock);
	if (c->iommu_data)
		c->iommu_driver->detach_group(c->iommu_data, g->id);
	g->container = NULL;
	g->container_users = 0;
	container_unlink_group(c, g);
	/* Detaching the last group deprivileges the container: the backend goes. */
	if (!c->group_list && c->iommu_data) {
		c->iommu_driver->release(c->iommu_data);
		c->iommu_data = NULL;
		c->iommu_driver = NULL;
	}
	mutex_unlock(&c->lock);
	up_write(&c->group_lock);
	container_put(c);
}

/* ---------------- the group file and device opens (group.c, vfio_main.c) ---------------- */

/* group.c vfio_group_fops_release(): only when the last file reference goes. */
static void vfio_group_fops_release(struct vfio_group *g)
{
	if (g->container)
		vfio_group_detach_container(g);
}

/* fput() of group->opened_file. */
static void group_file_put(struct vfio_group *g)
{
	if (WARN_ON(!g->opened_file_refs))
		return;
	if (!--g->opened_file_refs)
		vfio_group_fops_release(g);
}

/*
 * group.c vfio_df_group_open() and vfio_main.c vfio_df_open(): the group
 * must have a container; the first open of the device also needs the
 * container's backend (container.c vfio_group_use_container()), and takes a
 * container user and a reference on the group file.  Later opens take
 * neither.  sim->vfio_lock held.
 */
static long vfio_df_group_open(struct vfio_group *g)
{
	long ret = 0;

	if (!g->container)
		return -EINVAL;	/* !vfio_group_has_iommu() */
	g->open_count++;
	if (g->open_count == 1) {
		mutex_lock(&g->container->lock);
		if (!g->container->iommu_data)
			ret = -EINVAL;	/* SET_CONTAINER done, SET_IOMMU not yet */
		mutex_unlock(&g->container->lock);
		if (ret) {
			g->open_count--;
			return ret;
		}
		g->opened_file_refs++;		/* get_file(group->opened_file) */
		g->container_users++;
	}
	return 0;
}

/*
 * vfio_main.c vfio_device_fops_release() -> group.c vfio_df_group_close()
 * -> vfio_df_close(): the last close gives back the container user and the
 * group file reference (container.c vfio_group_unuse_container()).  The
 * kernel's fput() of the group file is deferred to task work like any
 * other; here it follows the bookkeeping, still under sim->vfio_lock (the
 * difference cannot be seen: both end before the syscall returns).
 */
static void vfio_df_group_close(struct vfio_group *g)
{
	bool last;

	if (WARN_ON(!g->open_count))	/* vfio_assert_device_open() */
		return;
	last = g->open_count == 1;
	if (last) {
		WARN_ON(g->container_users <= 1);
		g->container_users--;
	}
	g->open_count--;
	if (last) {
		/* vfio_pci_core_close_device() -> vfio_pci_core_disable(): IRQs off */
		vfio_pci_core_disable_irqs(g->vdev);
		group_file_put(g);
	}
}

/* ---------------- the device file (vfio_main.c vfio_device_fops) ---------------- */

/*
 * vfio_device_fops_release(): the last reference to this device file, its
 * fd's or a VMA's, is gone (sim/mmap.c fput() / __fput_sync()).  Runs with
 * no lock held: as task work after a munmap or at exit, or inside close(2).
 */
static int vfio_device_fops_release(struct file *file)
{
	struct vfio_device_file *df = file->private_data;
	struct pinsim *sim = df->sim;

	mutex_lock(&sim->vfio_lock);	/* group->group_lock */
	vfio_df_group_close(df->group);
	mutex_unlock(&sim->vfio_lock);
	free(df);
	return 0;
}

/*
 * vfio_device_fops_mmap() -> device->ops->mmap, vfio_pci_core_mmap().
 * df->access_granted is always set for a group-opened fd
 * (vfio_df_group_open() grants it before the file exists).  The group and
 * its device live as long as the machine, so no lock is needed.
 */
static int vfio_device_fops_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vfio_device_file *df = file->private_data;

	return vfio_pci_core_mmap(df->group->vdev, vma);
}

/* Peter Xu's unmerged series forwards the hint to the driver the same way. */
static int vfio_device_fops_get_mapping_order(struct file *file, unsigned long pgoff,
					      unsigned long len)
{
	struct vfio_device_file *df = file->private_data;

	return vfio_pci_file_mapping_order(&df->group->vdev->file, pgoff, len);
}

static const struct file_operations vfio_device_fops = {
	.mmap = vfio_device_fops_mmap,
	.release = vfio_device_fops_release,
	.get_mapping_order = vfio_device_fops_get_mapping_order,
};

/* ---------------- fd table ---------------- */

static struct vfio_fd_table *fd_table(struct pinsim_proc *p)
{
	if (!p->fds)
		p->fds = calloc(1, sizeof(*p->fds));
	return p->fds;
}

/*
 * get_unused_fd_flags(): the lowest free slot, below RLIMIT_NOFILE
 * (-EMFILE), or -ENOMEM.  The slot is taken by fd_install(); in between the
 * caller keeps sim->vfio_lock, so nobody else can take it.
 */
static int fd_get_unused(struct pinsim_proc *p)
{
	struct vfio_fd_table *t = fd_table(p);
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < t->nr; i++)
		if (t->fds[i].type == VFIO_FD_FREE)
			return i;
	if (i + VFIO_FD_BASE >= VFIO_NR_OPEN)
		return -EMFILE;
	{
		int grow = 16;
		struct vfio_fd *n;

		if (t->nr + grow + VFIO_FD_BASE > VFIO_NR_OPEN)
			grow = VFIO_NR_OPEN - VFIO_FD_BASE - t->nr;
		n = realloc(t->fds, (t->nr + grow) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + t->nr, 0, grow * sizeof(*n));
		t->fds = n;
		t->nr += grow;
	}
	return i;
}

/* fd_install(): returns the fd number. */
static int fd_install(struct pinsim_proc *p, int slot, struct vfio_fd f)
{
	p->fds->fds[slot] = f;
	return slot + VFIO_FD_BASE;
}

/* The entry for @fd, or NULL (-EBADF); caller holds sim->vfio_lock. */
static struct vfio_fd *fd_lookup(struct pinsim_proc *p, int fd)
{
	struct vfio_fd_table *t = p->fds;
	int i;

	/* Any int is a valid argument: INT_MIN - VFIO_FD_BASE must not overflow. */
	if (!t || fd < VFIO_FD_BASE)
		return NULL;
	i = fd - VFIO_FD_BASE;
	if (i >= t->nr || t->fds[i].type == VFIO_FD_FREE)
		return NULL;
	return &t->fds[i];
}

/*
 * A container or group fd goes: its file's ->release when the fd was the
 * last reference.  sim->vfio_lock held.  Device fds are real files and go
 * through fput() (fd_take_device()).
 */
static void fd_release(struct vfio_fd *f)
{
	switch (f->type) {
	case VFIO_FD_CONTAINER:
		container_put(f->container);	/* vfio_fops_release() */
		break;
	case VFIO_FD_GROUP:
		group_file_put(f->group);
		break;
	default:
		WARN_ON(f->type != VFIO_FD_FREE);
		break;
	}
	f->type = VFIO_FD_FREE;
}

/*
 * file_close_fd() of a device fd: the slot is freed and the fd's reference
 * handed to the caller, who puts it once sim->vfio_lock is dropped (the
 * release takes it).
 */
static struct file *fd_take_device(struct vfio_fd *f)
{
	struct file *file = f->type == VFIO_FD_FILE ? f->file : &f->df->file;

	f->type = VFIO_FD_FREE;
	f->df = NULL;
	f->file = NULL;
	return file;
}

/* Device fds and shared memory fds are struct files, put with fput(). */
static bool fd_is_file(const struct vfio_fd *f)
{
	return f->type == VFIO_FD_DEVICE || f->type == VFIO_FD_FILE;
}

static long fd_table_release_body(void *arg);

/* At process exit: every fd closed, as the exiting task. */
void vfio_fd_table_release(struct pinsim_proc *p)
{
	if (p->fds)
		in_proc(p, fd_table_release_body, p);
}

/*
 * close_files() -> filp_close() -> fput() of every fd: the references make
 * the order irrelevant.  Device files are put after sim->vfio_lock is
 * dropped; their release is task work (in_proc() runs it when this body
 * returns), and a file a VMA still maps is not released at all: the VMAs
 * went first (do_exit(): exit_mm() before exit_files()), or the mm's
 * teardown puts them.
 */
static long fd_table_release_body(void *arg)
{
	struct pinsim_proc *p = arg;
	struct vfio_fd_table *t = p->fds;

	mutex_lock(&p->sim->vfio_lock);
	for (int i = 0; i < t->nr; i++)
		if (t->fds[i].type != VFIO_FD_FREE && !fd_is_file(&t->fds[i]))
			fd_release(&t->fds[i]);
	mutex_unlock(&p->sim->vfio_lock);
	for (int i = 0; i < t->nr; i++)
		if (fd_is_file(&t->fds[i]))
			fput(fd_take_device(&t->fds[i]));
	free(t->fds);
	free(t);
	p->fds = NULL;
	return 0;
}

/* ---------------- fork: dup_fd() (F1) ---------------- */

/*
 * fs/file.c dup_fd() for a fork without CLONE_FILES: the child's table has
 * the parent's fds at the same numbers, each naming the same open file
 * with a reference of its own (get_file()), exactly as dup(2) across two
 * tables would: a container fd another reference on the container, a group
 * fd one on the group's file, a device fd one on the device file.  Closing
 * the last of them anywhere releases the file (the container's mappings
 * and pins go with it).  -ENOMEM (the table's allocation, failslab) leaves
 * the child without a table.  Runs as a task of the parent.
 */
int vfio_fd_table_dup(struct pinsim_proc *parent, struct pinsim_proc *child)
{
	struct vfio_fd_table *old, *t;
	int ret = 0;

	mutex_lock(&parent->sim->vfio_lock);
	old = parent->fds;
	if (!old || !old->nr)
		goto out;
	t = sim_kzalloc(sizeof(*t));
	if (!t) {
		ret = -ENOMEM;
		goto out;
	}
	t->fds = sim_kmalloc(old->nr * sizeof(*t->fds));
	if (!t->fds) {
		free(t);
		ret = -ENOMEM;
		goto out;
	}
	memcpy(t->fds, old->fds, old->nr * sizeof(*t->fds));
	t->nr = old->nr;
	for (int i = 0; i < t->nr; i++) {
		struct vfio_fd *f = &t->fds[i];

		switch (f->type) {
		case VFIO_FD_CONTAINER:
			container_get(f->container);
			break;
		case VFIO_FD_GROUP:
			f->group->opened_file_refs++;	/* get_file(group file) */
			break;
		case VFIO_FD_DEVICE:
			get_file(&f->df->file);
			break;
		case VFIO_FD_FILE:
			get_file(f->file);
			break;
		default:
			break;
		}
	}
	child->fds = t;
out:
	mutex_unlock(&parent->sim->vfio_lock);
	return ret;
}

/*
 * exit_files() of a child whose fork failed later (copy_process()'s
 * bad_fork_cleanup_files): every fd closed as the current task.
 */
void vfio_fd_table_drop(struct pinsim_proc *p)
{
	if (p->fds)
		fd_table_release_body(p);
}

/* ---------------- groups ---------------- */

int vfio_group_register(struct pinsim *sim, struct vfio_pci_core_device *vdev, int iommu_unit)
{
	struct vfio_group *g = calloc(1, sizeof(*g));
	int id = vdev->id;

	if (!g)
		return -ENOMEM;
	g->id = id;
	g->vdev = vdev;
	g->iommu_unit = iommu_unit;
	mutex_lock(&sim->vfio_lock);
	if (id >= sim->nr_groups) {
		struct vfio_group **n = realloc(sim->groups, (id + 1) * sizeof(*n));

		if (!n) {
			mutex_unlock(&sim->vfio_lock);
			free(g);
			return -ENOMEM;
		}
		memset(n + sim->nr_groups, 0, (id + 1 - sim->nr_groups) * sizeof(*n));
		sim->groups = n;
		sim->nr_groups = id + 1;
	}
	sim->groups[id] = g;
	mutex_unlock(&sim->vfio_lock);
	return 0;
}

/*
 * pinsim_destroy(), every process gone: every fd is closed and every group
 * detached, so a container still here is kept only by a reference that a
 * dead task took for an ioctl in flight (container_ioctl()) and will never
 * put.  Teardown is not a kernel operation and does not wait for it: the
 * container goes, with its backend if it still has one.
 */
void vfio_groups_release(struct pinsim *sim)
{
	mutex_lock(&sim->vfio_lock);
	while (live_containers) {
		WARN_ON(live_containers->group_list);
		container_free(live_containers);
	}
	mutex_unlock(&sim->vfio_lock);
	for (int i = 0; i < sim->nr_groups; i++)
		free(sim->groups[i]);
	free(sim->groups);
	sim->groups = NULL;
	sim->nr_groups = 0;
}

static struct vfio_group *group_by_id(struct pinsim *sim, int id)
{
	return id >= 0 && id < sim->nr_groups ? sim->groups[id] : NULL;
}

/* ---------------- open / close ---------------- */

/*
 * /dev/vfio/<id>: the nodes are named "%d" of the iommu group id
 * (group.c vfio_create_group()), so "07" or "+7" name nothing.
 */
static int parse_group_path(const char *path)
{
	const char *prefix = "/dev/vfio/";
	long id = 0;

	if (strncmp(path, prefix, strlen(prefix)))
		return -1;
	path += strlen(prefix);
	if (*path < '0' || *path > '9' || (path[0] == '0' && path[1]))
		return -1;
	for (; *path; path++) {
		if (*path < '0' || *path > '9' || id > 1 << 20)
			return -1;
		id = id * 10 + (*path - '0');
	}
	return (int)id;
}

/* vfio_fops_open() or vfio_group_fops_open() into the reserved @slot. */
static int open_locked(struct pinsim_proc *p, const char *path, int flags, int slot)
{
	struct vfio_fd f = { 0 };
	struct vfio_group *g;
	int id, err;

	/* A file in /dev/shm or a hugetlbfs mount (sim/shmem.c). */
	if (shmem_path_is_mounted(path)) {
		err = shmem_open_path(path, flags, &f.file);
		if (err)
			return err;
		f.type = VFIO_FD_FILE;
		return fd_install(p, slot, f);
	}
	if (!strcmp(path, "/dev/vfio/vfio")) {
		f.type = VFIO_FD_CONTAINER;
		f.container = container_alloc();
		if (!f.container)
			return -ENOMEM;
		return fd_install(p, slot, f);
	}
	id = parse_group_path(path);
	g = id < 0 ? NULL : group_by_id(p->sim, id);
	if (!g)
		return -ENOENT;
	/* vfio_group_fops_open(): one open file per group, however it is held. */
	if (g->opened_file_refs)
		return -EBUSY;
	g->opened_file_refs = 1;
	f.type = VFIO_FD_GROUP;
	f.group = g;
	return fd_install(p, slot, f);
}

int pinsim_open(struct pinsim_proc *p, const char *path, int flags)
{
	int ret;

	if (!p || !path) {
		errno = EFAULT;	/* getname() */
		return -1;
	}
	if (!*path) {
		errno = ENOENT;	/* getname(): an empty name, before any fd is taken */
		return -1;
	}
	mutex_lock(&p->sim->vfio_lock);
	/* do_sys_openat2(): the fd is reserved before the lookup and ->open. */
	ret = fd_get_unused(p);
	if (ret >= 0)
		ret = open_locked(p, path, flags, ret);
	mutex_unlock(&p->sim->vfio_lock);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

struct close_args {
	struct pinsim_proc *p;
	int fd;
};

/*
 * As a system call: the release work (unpinning) runs as the caller's task.
 * fs/open.c SYSCALL_DEFINE1(close): file_close_fd() frees the slot, then
 * __fput_sync() puts the fd's reference and, if it was the last, releases
 * the file before returning.  A device file that a VMA still maps keeps
 * the device open.
 */
static long close_body(void *arg)
{
	struct close_args *a = arg;
	struct file *file = NULL;
	struct vfio_fd *f;

	mutex_lock(&a->p->sim->vfio_lock);
	f = fd_lookup(a->p, a->fd);
	if (f && fd_is_file(f))
		file = fd_take_device(f);
	else if (f)
		fd_release(f);
	mutex_unlock(&a->p->sim->vfio_lock);
	if (file)
		__fput_sync(file);
	return f ? 0 : -EBADF;
}

int pinsim_close(struct pinsim_proc *p, int fd)
{
	struct close_args a = { p, fd };
	long ret;

	if (!p) {
		errno = EBADF;
		return -1;
	}
	ret = in_proc(p, close_body, &a);
	if (ret) {
		errno = (int)-ret;
		return -1;
	}
	return 0;
}

/*
 * ksys_mmap_pgoff()'s fget(fd): a reference the caller fput()s after the
 * mmap, so a close() racing with the mmap cannot free the file under it.
 */
long vfio_fd_mmap_file(struct pinsim_proc *p, int fd, struct file **filep)
{
	struct vfio_fd *f;
	long ret = 0;

	mutex_lock(&p->sim->vfio_lock);
	f = fd_lookup(p, fd);
	if (!f)
		ret = -EBADF;
	else if (f->type == VFIO_FD_FILE)
		*filep = get_file(f->file);
	else if (f->type != VFIO_FD_DEVICE)
		ret = -ENODEV;	/* containers and groups have no mmap */
	else
		*filep = get_file(&f->df->file);
	mutex_unlock(&p->sim->vfio_lock);
	return ret;
}

/* ---------------- container ioctls (container.c vfio_fops_unl_ioctl) ---------------- */

/*
 * vfio_container_ioctl_check_extension(): with no backend set, every
 * registered driver is polled with no data and the first positive answer
 * wins; with one set, only it is asked, with its data.  The drivers: the
 * machine's type1 (@drv: the rewrite's or the tree's), and noiommu, which
 * answers 0 unless enable_unsafe_noiommu_mode is set (never here), so
 * polling @drv is the whole loop.
 */
static long container_check_extension(struct vfio_container *c,
				      const struct vfio_iommu_backend *drv, unsigned long arg)
{
	long ret;

	mutex_lock(&c->lock);
	if (c->iommu_data)
		ret = c->iommu_driver->ioctl(c->iommu_data, VFIO_CHECK_EXTENSION, (void *)arg);
	else
		ret = drv->ioctl(NULL, VFIO_CHECK_EXTENSION, (void *)arg);
	mutex_unlock(&c->lock);
	return ret;
}

/*
 * container.c vfio_ioctl_set_iommu(); sim->vfio_lock held, so the group
 * list is stable.  Only type1 (@drv, the machine's) can claim @arg (noiommu
 * is not allowed for a container of IOMMU groups), so the driver loop is
 * one iteration: ret stays -ENODEV if @drv does not offer @arg.  On
 * success the container records @drv and its data, as the kernel's
 * container->iommu_driver/iommu_data.
 */
static long container_set_iommu(struct vfio_container *c, const struct vfio_iommu_backend *drv,
				unsigned long arg)
{
	struct vfio_group *g;
	void *data;
	long ret;

	mutex_lock(&c->lock);
	/* Only a container with groups and no backend yet. */
	if (!c->group_list || c->iommu_data) {
		ret = -EINVAL;
		goto out;
	}
	if (drv->ioctl(NULL, VFIO_CHECK_EXTENSION, (void *)arg) <= 0) {
		ret = -ENODEV;
		goto out;
	}
	ret = drv->open(arg, &data);
	if (ret)
		goto out;
	/* __vfio_container_attach_groups(): in group_list order, newest first. */
	for (g = c->group_list; g; g = g->container_next) {
		ret = drv->attach_group(data, g->id, g->iommu_unit, false);
		if (ret)
			break;
	}
	if (ret) {
		/* The unwind detaches what was attached; the release frees the rest. */
		for (struct vfio_group *u = c->group_list; u != g; u = u->container_next)
			drv->detach_group(data, u->id);
		drv->release(data);
		goto out;
	}
	c->iommu_driver = drv;
	c->iommu_data = data;
out:
	mutex_unlock(&c->lock);
	return ret;
}

/*
 * The passthrough: every request vfio_iommu_type1_ioctl() handles besides
 * CHECK_EXTENSION starts with copy_from_user() of its struct (-EFAULT for
 * NULL, the only bad pointer pinsim can see; DIRTY_PAGES too, whether or
 * not pinsim's backend models dirty tracking); the backend takes kernel
 * pointers.
 */
static bool type1_ioctl_copies_in(unsigned int cmd)
{
	return cmd == VFIO_IOMMU_MAP_DMA || cmd == VFIO_IOMMU_UNMAP_DMA ||
	       cmd == VFIO_IOMMU_GET_INFO || cmd == VFIO_IOMMU_DIRTY_PAGES;
}

/* Called with sim->vfio_lock held; drops it. */
static long container_ioctl(struct pinsim_proc *p, struct vfio_container *c, unsigned int cmd,
			    void *arg)
{
	const struct vfio_iommu_backend *drv;
	void *data;
	long ret;

	switch (cmd) {
	case VFIO_GET_API_VERSION:
		mutex_unlock(&p->sim->vfio_lock);
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		ret = container_check_extension(c, p->sim->vfio_backend, (unsigned long)arg);
		mutex_unlock(&p->sim->vfio_lock);
		return ret;
	case VFIO_SET_IOMMU:
		ret = container_set_iommu(c, p->sim->vfio_backend, (unsigned long)arg);
		mutex_unlock(&p->sim->vfio_lock);
		return ret;
	}
	/*
	 * MAP/UNMAP run without the front-end lock (they pin and fault): the
	 * container reference keeps the container, group_lock the backend.
	 * 6.12 and upstream read container->iommu_driver/iommu_data here with
	 * no lock at all, so the last group's detach can release the backend
	 * under a MAP_DMA in flight; pinsim keeps the backend alive instead.
	 */
	container_get(c);
	mutex_unlock(&p->sim->vfio_lock);
	down_read(&c->group_lock);
	mutex_lock(&c->lock);
	drv = c->iommu_driver;
	data = c->iommu_data;
	mutex_unlock(&c->lock);
	if (!data)
		ret = -EINVAL;	/* no driver to pass it to: ret stays -EINVAL */
	else if (type1_ioctl_copies_in(cmd) && !arg)
		ret = -EFAULT;
	else
		ret = drv->ioctl(data, cmd, arg);
	up_read(&c->group_lock);
	mutex_lock(&p->sim->vfio_lock);
	container_put(c);
	mutex_unlock(&p->sim->vfio_lock);
	return ret;
}

/* ---------------- group ioctls (group.c vfio_group_fops_unl_ioctl) ---------------- */

/* vfio_group_ioctl_get_status(); the whole struct is minsz. */
static long group_get_status(struct vfio_group *g, struct vfio_group_status *arg)
{
	const size_t minsz = offsetof(struct vfio_group_status, flags) + sizeof(arg->flags);
	struct vfio_group_status status;

	if (!arg)
		return -EFAULT;
	memcpy(&status, arg, minsz);
	if (status.argsz < minsz)
		return -EINVAL;
	/*
	 * With a container the group is viable and set; without one it is
	 * viable unless someone else claimed DMA ownership, which nothing does.
	 */
	status.flags = VFIO_GROUP_FLAGS_VIABLE;
	if (g->container)
		status.flags |= VFIO_GROUP_FLAGS_CONTAINER_SET;
	memcpy(arg, &status, minsz);
	return 0;
}

/*
 * vfio_group_ioctl_set_container(): get_user (-EFAULT), fdget (-EBADF),
 * then under the group lock: already set (-EINVAL), a container
 * (vfio_container_attach_group), an iommufd (none here), else -EBADFD.
 */
static long group_set_container(struct pinsim_proc *p, struct vfio_group *g, int *arg)
{
	struct vfio_fd *cf;
	int fd;

	if (!arg)
		return -EFAULT;
	/* get_user() takes the int at any alignment (fuzz/corpus/regress-unaligned-*). */
	memcpy(&fd, arg, sizeof(fd));
	cf = fd_lookup(p, fd);
	if (!cf)
		return -EBADF;
	if (g->container)
		return -EINVAL;	/* vfio_group_has_iommu() */
	if (cf->type != VFIO_FD_CONTAINER)
		return -EBADFD;	/* the fd passed is not recognized */
	return vfio_container_attach_group(cf->container, g);
}

/*
 * vfio_group_ioctl_unset_container(): only the 1 -> 0 transition of
 * container_users; an open device holds a second user.
 */
static long group_unset_container(struct vfio_group *g)
{
	if (!g->container)
		return -EINVAL;
	if (g->container_users != 1)
		return -EBUSY;
	vfio_group_detach_container(g);
	return 0;
}

/*
 * vfio_pci_core_match(), the ->match op vfio_device_get_from_name() calls:
 * the device name, optionally followed by ' '-separated options of which
 * only "vf_token=<uuid>" exists.  1 match, 0 no match, -errno.  A device
 * that is neither an SR-IOV PF nor a VF (every simulated one) rejects a
 * token, valid or not, with -EINVAL (vfio_pci_validate_vf_token()), and any
 * other option is -EINVAL too; so past "<name> " every non-space is
 * -EINVAL and only trailing spaces still match.
 */
static int vfio_pci_core_match(struct vfio_pci_core_device *vdev, const char *buf)
{
	size_t n = strlen(vdev->name);

	if (strncmp(vdev->name, buf, n))
		return 0;
	buf += n;
	if (!*buf)
		return 1;
	if (*buf != ' ')
		return 0;	/* non-whitespace after the name */
	for (; *buf; buf++)
		if (*buf != ' ')
			return -EINVAL;
	return 1;
}

/*
 * vfio_group_ioctl_get_device_fd(): strndup_user (-EFAULT, -EINVAL for a
 * name without a NUL in its first PAGE_SIZE bytes), the name lookup
 * (-ENODEV, or the match op's error), get_unused_fd_flags (-EMFILE), then
 * vfio_device_open_file(): the device file (-ENOMEM), the container checks
 * (-EINVAL), and the struct file on the device inode's mapping.
 */
static long group_get_device_fd(struct pinsim_proc *p, struct vfio_group *g, const char *name)
{
	struct vfio_fd f = { .type = VFIO_FD_DEVICE, .group = g };
	struct vfio_device_file *df;
	int slot, match;
	long ret;

	if (!name)
		return -EFAULT;
	if (strnlen(name, PAGE_SIZE) == PAGE_SIZE)
		return -EINVAL;
	match = vfio_pci_core_match(g->vdev, name);
	if (match < 0)
		return match;
	if (!match)
		return -ENODEV;
	slot = fd_get_unused(p);
	if (slot < 0)
		return slot;
	df = sim_kzalloc(sizeof(*df));	/* vfio_allocate_device_file() */
	if (!df)
		return -ENOMEM;
	ret = vfio_df_group_open(g);
	if (ret) {
		free(df);
		return ret;
	}
	df->sim = p->sim;
	df->group = g;
	/* anon_inode_getfile("[vfio-device]", &vfio_device_fops, df, O_RDWR) */
	df->file.f_op = &vfio_device_fops;
	df->file.private_data = df;
	atomic_init(&df->file.f_count, 1);
	/* "link all mmaps to the same address space": unmap_mapping_range() reaches them. */
	df->file.f_mapping = &g->vdev->mapping;
	f.df = df;
	return fd_install(p, slot, f);
}

static long group_ioctl(struct pinsim_proc *p, struct vfio_group *g, unsigned int cmd, void *arg)
{
	switch (cmd) {
	case VFIO_GROUP_GET_DEVICE_FD:
		return group_get_device_fd(p, g, arg);
	case VFIO_GROUP_GET_STATUS:
		return group_get_status(g, arg);
	case VFIO_GROUP_SET_CONTAINER:
		return group_set_container(p, g, arg);
	case VFIO_GROUP_UNSET_CONTAINER:
		return group_unset_container(g);
	default:
		return -ENOTTY;
	}
}

/* ---------------- device ioctls (vfio_main.c, vfio_pci_core.c) ---------------- */

/* struct vfio_device_info as 6.12 has it: cap_offset and pad make it 24 bytes. */
struct vfio_device_info_k {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
	uint32_t cap_offset;
	uint32_t pad;
};

/*
 * vfio_pci_ioctl_get_info(): the struct starts zeroed, minsz (16) comes from
 * the user, and min(argsz, sizeof) goes back, so cap_offset and pad read 0
 * when argsz covers them.  No zPCI or AtomicOps capability here.
 */
static long device_get_info(struct vfio_device_info_k *arg)
{
	const size_t minsz = offsetof(struct vfio_device_info_k, num_irqs) + sizeof(uint32_t);
	struct vfio_device_info_k info = { 0 };

	if (!arg)
		return -EFAULT;
	memcpy(&info, arg, minsz);
	if (info.argsz < minsz)
		return -EINVAL;
	info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_PCI_NUM_REGIONS;
	info.num_irqs = VFIO_PCI_NUM_IRQS;
	memcpy(arg, &info, info.argsz < sizeof(info) ? info.argsz : sizeof(info));
	return 0;
}

/*
 * The capability chain of a BAR's region info: 6.12 has one,
 * msix_mmappable_cap() (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, version 1) for
 * an mmap-able BAR holding the MSI-X table, telling userspace the table may
 * be mapped (commit a32295c612c5).  Returns its size (0: none) in @cap.
 */
static size_t region_info_caps(const struct vfio_pci_core_device *vdev, unsigned int index,
			       struct vfio_info_cap_header *cap)
{
	if (index > VFIO_PCI_BAR5_REGION_INDEX || (int)index != vdev->msix_bar ||
	    !vdev->bar[index].mmap_supported)
		return 0;
	*cap = (struct vfio_info_cap_header){.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
					     .version = 1};
	return sizeof(*cap);
}

/*
 * vfio_pci_ioctl_get_region_info(): the whole 32-byte struct is minsz, read
 * and written back.  With capabilities (the MSI-X BAR's), FLAG_CAPS is set
 * and either argsz grows to what they need and cap_offset is 0, or they
 * are copied right after the struct and cap_offset points there
 * (vfio_info_cap_shift()); without, cap_offset reads back what the caller
 * put there.  No device-specific regions.
 */
static long device_get_region_info(struct vfio_pci_core_device *vdev,
				   struct vfio_region_info *arg)
{
	const size_t minsz = offsetof(struct vfio_region_info, offset) + sizeof(arg->offset);
	struct vfio_info_cap_header cap;
	struct vfio_region_info info;
	size_t caps;

	if (!arg)
		return -EFAULT;
	memcpy(&info, arg, minsz);
	if (info.argsz < minsz)
		return -EINVAL;
	switch (info.index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info.offset = VFIO_PCI_INDEX_TO_OFFSET(info.index);
		info.size = SIM_PCI_CONFIG_SIZE;
		info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX ... VFIO_PCI_BAR5_REGION_INDEX:
		info.offset = VFIO_PCI_INDEX_TO_OFFSET(info.index);
		info.size = vdev->bar[info.index].size;
		if (!info.size) {
			info.flags = 0;
			break;
		}
		info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		if (vdev->bar[info.index].mmap_supported)
			info.flags |= VFIO_REGION_INFO_FLAG_MMAP;
		break;
	case VFIO_PCI_ROM_REGION_INDEX:
		info.offset = VFIO_PCI_INDEX_TO_OFFSET(info.index);
		info.size = 0;		/* no option ROM, no shadow ROM */
		info.flags = 0;
		break;
	default:
		return -EINVAL;	/* VGA absent; no device-specific regions */
	}
	caps = info.size ? region_info_caps(vdev, info.index, &cap) : 0;
	if (caps) {
		info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (info.argsz < sizeof(info) + caps) {
			info.argsz = sizeof(info) + caps;
			info.cap_offset = 0;
		} else {
			memcpy((char *)arg + sizeof(info), &cap, caps);
			info.cap_offset = sizeof(info);
		}
	}
	memcpy(arg, &info, minsz);
	return 0;
}

/*
 * vfio_pci_ioctl_get_irq_info(): minsz is up to count; an index past the
 * IRQs, and ERR on a function that is not PCIe (never here), is -EINVAL.
 * Every index signals through an eventfd; INTx is maskable and auto-masked;
 * MSI and MSI-X cannot be resized (no dynamic MSI-X).  The counts are
 * vfio_pci_get_irq_count()'s (sim/vfio_pci.c).
 */
static long device_get_irq_info(struct vfio_pci_core_device *vdev, struct vfio_irq_info *arg)
{
	const size_t minsz = offsetof(struct vfio_irq_info, count) + sizeof(arg->count);
	struct vfio_irq_info info;

	if (!arg)
		return -EFAULT;
	memcpy(&info, arg, minsz);
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	info.flags = VFIO_IRQ_INFO_EVENTFD;
	info.count = vfio_pci_get_irq_count(vdev, info.index);
	if (info.index == VFIO_PCI_INTX_IRQ_INDEX)
		info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		info.flags |= VFIO_IRQ_INFO_NORESIZE;
	memcpy(arg, &info, minsz);
	return 0;
}

/*
 * vfio_main.c vfio_set_irqs_validate_and_prepare(): argsz covers the
 * header, a known index, start + count without u32 overflow, only data and
 * action flag bits; start and start + count within @num_irqs (so nothing
 * is valid on an index with no interrupts); exactly one data type; argsz
 * covering count bools or count int32 fds.
 */
static int vfio_set_irqs_validate_and_prepare(const struct vfio_irq_set *hdr, int num_irqs,
					      int max_irq_type, size_t *data_size)
{
	const size_t minsz = offsetof(struct vfio_irq_set, count) + sizeof(hdr->count);
	size_t size;

	if (hdr->argsz < minsz || hdr->index >= (uint32_t)max_irq_type ||
	    hdr->count >= UINT32_MAX - hdr->start ||
	    (hdr->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
		return -EINVAL;
	*data_size = 0;
	if (hdr->start >= (uint32_t)num_irqs || hdr->start + hdr->count > (uint32_t)num_irqs)
		return -EINVAL;
	switch (hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_NONE:
		size = 0;
		break;
	case VFIO_IRQ_SET_DATA_BOOL:
		size = sizeof(uint8_t);
		break;
	case VFIO_IRQ_SET_DATA_EVENTFD:
		size = sizeof(int32_t);
		break;
	default:
		return -EINVAL;
	}
	if (size && hdr->argsz - minsz < (size_t)hdr->count * size)
		return -EINVAL;
	*data_size = (size_t)hdr->count * size;
	return 0;
}

/*
 * vfio_pci_core.c vfio_pci_ioctl_set_irqs(): the header, validated against
 * the index's count (vfio_pci_get_irq_count()), the data copied
 * (memdup_user()), then vfio_pci_set_irqs_ioctl() under igate
 * (sim/vfio_pci.c).
 */
static long device_set_irqs(struct vfio_pci_core_device *vdev, struct vfio_irq_set *arg)
{
	const size_t minsz = offsetof(struct vfio_irq_set, count) + sizeof(arg->count);
	struct vfio_irq_set hdr;
	size_t data_size = 0;
	void *data = NULL;
	long ret;

	if (!arg)
		return -EFAULT;
	memcpy(&hdr, arg, minsz);
	ret = vfio_set_irqs_validate_and_prepare(&hdr, vfio_pci_get_irq_count(vdev, hdr.index),
						 VFIO_PCI_NUM_IRQS, &data_size);
	if (ret)
		return ret;
	if (data_size) {
		data = malloc(data_size);
		if (!data)
			return -ENOMEM;
		/* arg->data, at whatever alignment the caller's buffer has */
		memcpy(data, (const char *)arg + offsetof(struct vfio_irq_set, data), data_size);
	}
	ret = vfio_pci_set_irqs_ioctl(vdev, hdr.flags, hdr.index, hdr.start, hdr.count, data);
	free(data);
	return ret;
}

/*
 * The dev_set of a bus reset (sim/vfio_pci.c vfio_pci_dev_set(): the
 * functions named on the same domain and bus, none on bus 0), allocated;
 * *np its size.  -ENODEV without a bus reset.
 */
static long hot_reset_set(struct vfio_pci_core_device *vdev, struct vfio_pci_core_device ***out,
			  int *np)
{
	int n = vfio_pci_dev_set(vdev, NULL, 0);

	if (n < 0)
		return n;
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	/* Devices live as long as the machine; one added meanwhile is left out. */
	*np = vfio_pci_dev_set(vdev, *out, n);
	if (*np > n)
		*np = n;
	return 0;
}

/*
 * vfio_pci_ioctl_get_pci_hot_reset_info(): argsz covering the header
 * (-EINVAL); no slot reset and no bus reset is -ENODEV; too small for every
 * affected device is -ENOSPC with count filled in (and flags 0) in the
 * header; else each device's segment, bus, devfn and group id (a
 * group-opened device: no DEV_ID flags).
 */
static long device_get_hot_reset_info(struct vfio_pci_core_device *vdev,
				      struct vfio_pci_hot_reset_info *arg)
{
	const size_t minsz = offsetof(struct vfio_pci_hot_reset_info, count) + sizeof(arg->count);
	struct vfio_pci_core_device **set;
	struct vfio_pci_hot_reset_info hdr;
	long ret;
	int n;

	if (!arg)
		return -EFAULT;
	memcpy(&hdr, arg, minsz);
	if (hdr.argsz < minsz)
		return -EINVAL;
	hdr.flags = 0;
	ret = hot_reset_set(vdev, &set, &n);
	if (ret)
		return ret;
	if ((size_t)n > (hdr.argsz - sizeof(hdr)) / sizeof(arg->devices[0])) {
		hdr.count = (uint32_t)n;
		ret = -ENOSPC;
	} else {
		for (int i = 0; i < n; i++) {
			struct vfio_pci_dependent_device dd = {
				.group_id = (uint32_t)set[i]->id,
				.segment = set[i]->segment,
				.bus = set[i]->bus,
				.devfn = set[i]->devfn,
			};

			/* copy_to_user(): the caller's buffer may be unaligned */
			memcpy((char *)arg + offsetof(struct vfio_pci_hot_reset_info, devices) +
				       (size_t)i * sizeof(dd),
			       &dd, sizeof(dd));
		}
		hdr.count = (uint32_t)n;
	}
	memcpy(arg, &hdr, minsz);
	free(set);
	return ret;
}

/* group_fds[@i] of the caller's struct, as copy_from_user() reads it: any alignment. */
static int32_t hot_reset_group_fd(const struct vfio_pci_hot_reset *arg, uint32_t i)
{
	int32_t fd;

	memcpy(&fd, (const char *)arg + offsetof(struct vfio_pci_hot_reset, group_fds) +
			    (size_t)i * sizeof(fd),
	       sizeof(fd));
	return fd;
}

/*
 * vfio_pci_ioctl_pci_hot_reset() with a group-opened device: argsz and
 * flags 0 (-EINVAL), a non-empty array (the empty one is for cdev-opened
 * devices: -EINVAL), a bus reset (-ENODEV); then
 * vfio_pci_ioctl_pci_hot_reset_groups(): no more fds than affected devices
 * (-EINVAL), each an open fd (-EBADF) of a group (-EINVAL); and
 * vfio_pci_dev_set_hot_reset(): every affected device in one of the groups
 * (vfio_dev_in_groups(), else -EINVAL), then the reset.
 */
static long device_pci_hot_reset(struct pinsim_proc *p, struct vfio_pci_core_device *vdev,
				 struct vfio_pci_hot_reset *arg)
{
	const size_t minsz = offsetof(struct vfio_pci_hot_reset, count) + sizeof(arg->count);
	struct vfio_pci_core_device **set;
	struct vfio_pci_hot_reset hdr;
	struct vfio_fd *f;
	long ret;
	int n;

	if (!arg)
		return -EFAULT;
	memcpy(&hdr, arg, minsz);
	if (hdr.argsz < minsz || hdr.flags || !hdr.count)
		return -EINVAL;
	ret = hot_reset_set(vdev, &set, &n);
	if (ret)
		return ret;
	if (hdr.count > (uint32_t)n) {
		ret = -EINVAL;
		goto out;
	}
	for (uint32_t i = 0; i < hdr.count; i++) {
		f = fd_lookup(p, hot_reset_group_fd(arg, i));
		if (!f) {
			ret = -EBADF;
			goto out;
		}
		if (f->type != VFIO_FD_GROUP) {
			ret = -EINVAL;
			goto out;
		}
	}
	for (int d = 0; d < n; d++) {
		bool owned = false;

		for (uint32_t i = 0; i < hdr.count && !owned; i++)
			owned = fd_lookup(p, hot_reset_group_fd(arg, i))->group->vdev == set[d];
		if (!owned) {
			ret = -EINVAL;
			goto out;
		}
	}
	ret = vfio_pci_dev_set_hot_reset(set, n);
out:
	free(set);
	return ret;
}

/*
 * vfio_main.c vfio_ioctl_device_feature(): the header checks, then the
 * feature.  The core's migration and dirty-logging features need
 * mig_ops/log_ops, which plain vfio-pci does not have (-ENOTTY); of
 * vfio_pci_core_ioctl_feature()'s, the VF token needs an SR-IOV PF
 * (-ENOTTY) and the low-power ones are not modelled (-ENOTTY as well).
 */
static long device_feature(struct vfio_device_feature *arg)
{
	const size_t minsz = offsetof(struct vfio_device_feature, flags) + sizeof(arg->flags);
	struct vfio_device_feature feature;

	if (!arg)
		return -EFAULT;
	memcpy(&feature, arg, minsz);
	if (feature.argsz < minsz)
		return -EINVAL;
	if (feature.flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET |
			      VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE))
		return -EINVAL;
	/* GET and SET are mutually exclusive except with PROBE. */
	if (!(feature.flags & VFIO_DEVICE_FEATURE_PROBE) &&
	    (feature.flags & VFIO_DEVICE_FEATURE_SET) && (feature.flags & VFIO_DEVICE_FEATURE_GET))
		return -EINVAL;
	return -ENOTTY;
}

/*
 * vfio_device_fops_unl_ioctl(): BIND_IOMMUFD is the cdev's (-ENOTTY without
 * CONFIG_VFIO_DEVICE_CDEV, and falls to the driver's default here); a
 * group-opened fd always has access; VFIO_DEVICE_FEATURE is the core's;
 * the rest is vfio_pci_core_ioctl() (no VFIO_DEVICE_IOEVENTFD: -ENOTTY).
 */
static long device_ioctl(struct pinsim_proc *p, struct vfio_group *g, unsigned int cmd, void *arg)
{
	struct vfio_pci_core_device *vdev = g->vdev;

	switch (cmd) {
	case VFIO_DEVICE_FEATURE:
		return device_feature(arg);
	case VFIO_DEVICE_GET_INFO:
		return device_get_info(arg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return device_get_region_info(vdev, arg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return device_get_irq_info(vdev, arg);
	case VFIO_DEVICE_SET_IRQS:
		return device_set_irqs(vdev, arg);
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
		return device_get_hot_reset_info(vdev, arg);
	case VFIO_DEVICE_PCI_HOT_RESET:
		return device_pci_hot_reset(p, vdev, arg);
	case VFIO_DEVICE_RESET:
		return vfio_pci_core_reset(vdev);
	default:
		return -ENOTTY;
	}
}

struct ioctl_args {
	struct pinsim_proc *p;
	int fd;
	unsigned int cmd;
	void *arg;
};

/* The whole ioctl runs as the caller's task, as a system call does. */
static long ioctl_body(void *arg)
{
	struct ioctl_args *a = arg;
	struct pinsim_proc *p = a->p;
	struct vfio_fd *f;
	long ret;

	mutex_lock(&p->sim->vfio_lock);
	f = fd_lookup(p, a->fd);
	if (!f) {
		ret = -EBADF;
	} else if (f->type == VFIO_FD_CONTAINER) {
		/* Drops vfio_lock itself: MAP_DMA must not run under it. */
		return container_ioctl(p, f->container, a->cmd, a->arg);
	} else if (f->type == VFIO_FD_GROUP) {
		ret = group_ioctl(p, f->group, a->cmd, a->arg);
	} else if (f->type == VFIO_FD_FILE) {
		ret = -ENOTTY;	/* shmem/hugetlbfs: no ioctls modelled */
	} else {
		ret = device_ioctl(p, f->group, a->cmd, a->arg);
	}
	mutex_unlock(&p->sim->vfio_lock);
	return ret;
}

/*
 * ioctl(2) takes an unsigned int request (fs/ioctl.c SYSCALL_DEFINE3(ioctl),
 * and every ->unlocked_ioctl): whatever the caller put above bit 31 never
 * reaches a handler.  Not modelled: do_vfs_ioctl()'s generic requests
 * (FIOCLEX, FIONBIO, FIOASYNC, FIGETBSZ, ...), which the kernel answers
 * before the file's handler; here they reach it and get its answer.
 */
int pinsim_ioctl(struct pinsim_proc *p, int fd, unsigned long req, void *arg)
{
	struct ioctl_args a = { p, fd, (unsigned int)req, arg };
	long ret;

	if (!p) {
		errno = EBADF;
		return -1;
	}
	ret = in_proc(p, ioctl_body, &a);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return (int)ret;
}

/* ---------------- region read/write: pread/pwrite of a device fd ---------------- */

/*
 * vfs_read/vfs_write -> vfio_device_fops_read/write -> vfio_pci_core_read/
 * write(): only device fds read and write regions (a container or group
 * fd has no .read/.write: -EINVAL from vfs_read()); the region access is
 * sim/vfio_pci.c vfio_pci_rw().
 */
static long region_rw(struct pinsim_proc *p, int fd, void *buf, size_t len, uint64_t off,
		      bool write)
{
	struct vfio_pci_core_device *vdev = NULL;
	struct vfio_fd *f;
	long ret = 0;

	mutex_lock(&p->sim->vfio_lock);
	f = fd_lookup(p, fd);
	if (!f)
		ret = -EBADF;
	else if (f->type != VFIO_FD_DEVICE)
		ret = -EINVAL;
	else
		vdev = f->group->vdev;
	mutex_unlock(&p->sim->vfio_lock);
	if (!vdev)
		return ret;
	/* The group and its device live as long as the machine. */
	return vfio_pci_rw(vdev, buf, len, off, write);
}

ssize_t pinsim_pread(struct pinsim_proc *p, int fd, void *buf, size_t len, uint64_t off)
{
	long ret;

	if (!p || (!buf && len)) {
		errno = EFAULT;
		return -1;
	}
	ret = region_rw(p, fd, buf, len, off, false);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

ssize_t pinsim_pwrite(struct pinsim_proc *p, int fd, const void *buf, size_t len, uint64_t off)
{
	long ret;

	if (!p || (!buf && len)) {
		errno = EFAULT;
		return -1;
	}
	ret = region_rw(p, fd, (void *)buf, len, off, true);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

/* ---------------- device DMA, IOMMU queries, stats ---------------- */

/*
 * The device of @group_id (ENODEV: none; EINVAL: no machine).  The group
 * and its device live as long as the machine.
 */
static struct vfio_pci_core_device *device_of_group(struct pinsim *sim, int group_id)
{
	struct vfio_group *g;

	if (!sim) {
		errno = EINVAL;
		return NULL;
	}
	mutex_lock(&sim->vfio_lock);
	g = group_by_id(sim, group_id);
	mutex_unlock(&sim->vfio_lock);
	if (!g)
		errno = ENODEV;
	return g ? g->vdev : NULL;
}

int pinsim_device_raise_irq(struct pinsim *sim, int group_id, unsigned int index,
			    unsigned int vector)
{
	struct vfio_pci_core_device *vdev = device_of_group(sim, group_id);

	return vdev ? (int)ret_errno(vfio_pci_raise_irq(vdev, index, vector)) : -1;
}

int pinsim_device_interrupt(struct pinsim *sim, int group_id, unsigned int vector)
{
	struct vfio_pci_core_device *vdev = device_of_group(sim, group_id);

	return vdev ? (int)ret_errno(vfio_pci_device_interrupt(vdev, vector)) : -1;
}

/* The domain of @group_id's container, under sim->vfio_lock. */
static struct iommu_domain *group_domain(struct pinsim *sim, int group_id)
{
	struct vfio_group *g = group_by_id(sim, group_id);
	struct iommu_domain *d = NULL;

	if (g && g->container) {
		mutex_lock(&g->container->lock);
		if (g->container->iommu_data)
			d = g->container->iommu_driver->group_domain(g->container->iommu_data,
								     group_id);
		mutex_unlock(&g->container->lock);
	}
	return d;
}

ssize_t pinsim_dma(struct pinsim *sim, int group_id, uint64_t iova, void *buf, size_t len,
		   int write)
{
	struct iommu_domain *d;
	long ret;

	if (!sim || (!buf && len)) {
		errno = EINVAL;
		return -1;
	}
	mutex_lock(&sim->vfio_lock);
	if (!group_by_id(sim, group_id)) {
		mutex_unlock(&sim->vfio_lock);
		errno = ENODEV;
		return -1;
	}
	d = group_domain(sim, group_id);
	/* No domain: the device sits behind a blocking domain, every DMA faults. */
	ret = d ? iommu_dma_rw(d, iova, buf, len, write) : -EFAULT;
	if (!d)
		atomic_fetch_add(&iommu_stats.dma_faults, 1);
	mutex_unlock(&sim->vfio_lock);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

int pinsim_iommu_lookup(struct pinsim *sim, int group_id, uint64_t iova, uint64_t *phys,
			uint64_t *leaf_size)
{
	struct iommu_domain *d;
	uint64_t pa = 0, sz = 0;

	if (!sim) {
		errno = EINVAL;
		return -1;
	}
	mutex_lock(&sim->vfio_lock);
	d = group_domain(sim, group_id);
	if (d) {
		pa = iommu_iova_to_phys(d, iova);
		sz = iommu_leaf_size(d, iova);
	}
	mutex_unlock(&sim->vfio_lock);
	if (!d || !sz) {
		errno = d ? ENOENT : ENODEV;
		return -1;
	}
	if (phys)
		*phys = pa;
	if (leaf_size)
		*leaf_size = sz;
	return 0;
}

static void copy_counters(struct pinsim_pin_counters *d, const struct vfio_pin_stats *s)
{
	d->vaddr_get_pfns = s->vaddr_get_pfns;
	d->gup_calls = s->gup_calls;
	d->follow_failures = s->follow_failures;
	d->faults = s->faults;
	d->retries = s->retries;
	d->eagain_loops = s->eagain_loops;
	d->iommu_maps = s->iommu_maps;
	d->pinned_pages = s->pinned_pages;
	d->pfnmap_pages = s->pfnmap_pages;
}

int pinsim_vfio_stats(struct pinsim_proc *p, int container_fd, struct pinsim_vfio_stats *st)
{
	struct vfio_type1_stats s;
	const struct vfio_iommu_backend *drv;
	void *data = NULL;
	struct vfio_fd *f;

	if (!p || !st) {
		errno = EINVAL;
		return -1;
	}
	mutex_lock(&p->sim->vfio_lock);
	f = fd_lookup(p, container_fd);
	if (f && f->type == VFIO_FD_CONTAINER) {
		mutex_lock(&f->container->lock);
		drv = f->container->iommu_driver;
		data = f->container->iommu_data;
		if (data) {
			drv->get_stats(data, &s);
			st->nr_dmas = drv->nr_dmas(data);
			st->dma_avail = drv->dma_avail(data);
		}
		mutex_unlock(&f->container->lock);
	}
	mutex_unlock(&p->sim->vfio_lock);
	if (!f || f->type != VFIO_FD_CONTAINER) {
		errno = EBADF;
		return -1;
	}
	if (!data) {
		errno = EINVAL;	/* no backend set yet */
		return -1;
	}
	copy_counters(&st->total, &s.total);
	copy_counters(&st->last, &s.last);
	st->map_ok = s.outcomes[VFIO_MAP_OK];
	st->map_einval = s.outcomes[VFIO_MAP_EINVAL];
	st->map_efault = s.outcomes[VFIO_MAP_EFAULT];
	st->map_enomem = s.outcomes[VFIO_MAP_ENOMEM];
	st->map_ebusy = s.outcomes[VFIO_MAP_EBUSY];
	st->map_eintr = s.outcomes[VFIO_MAP_EINTR];
	st->map_other = s.outcomes[VFIO_MAP_EAGAIN] + s.outcomes[VFIO_MAP_ENOENT] +
			s.outcomes[VFIO_MAP_OTHER];
	return 0;
}

/* ---------------- shared memory files (issue 12, sim/shmem.c) ---------------- */

/*
 * fd_install() of a shared memory file: the lowest free fd takes over
 * the caller's reference (memfd_create()).  -EMFILE/-ENOMEM put it.
 */
int vfio_fd_install_file(struct pinsim_proc *p, struct file *file)
{
	struct vfio_fd f = { .type = VFIO_FD_FILE, .file = file };
	int ret;

	mutex_lock(&p->sim->vfio_lock);
	ret = fd_get_unused(p);
	if (ret >= 0)
		ret = fd_install(p, ret, f);
	mutex_unlock(&p->sim->vfio_lock);
	if (ret < 0)
		fput(file);
	return ret;
}

/*
 * fdget() of a shared memory file: a reference in *@filep, -EBADF for no
 * fd, -ENODEV for an fd that is not one (a VFIO fd: an anon inode).
 */
long vfio_fd_shmem_file(struct pinsim_proc *p, int fd, struct file **filep)
{
	struct vfio_fd *f;
	long ret = 0;

	mutex_lock(&p->sim->vfio_lock);
	f = fd_lookup(p, fd);
	if (!f)
		ret = -EBADF;
	else if (f->type != VFIO_FD_FILE)
		ret = -ENODEV;
	else
		*filep = get_file(f->file);
	mutex_unlock(&p->sim->vfio_lock);
	return ret;
}
