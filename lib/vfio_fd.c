// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VFIO character devices, syscall-shaped (drivers/vfio/vfio_main.c,
 * group.c, container.c, pci/vfio_pci_core.c ioctls): a per-process fd
 * table, containers, groups and device fds, with the real request codes and
 * structs of <linux/vfio.h>.
 *
 * Reference counting follows the kernel's shape: a container lives while
 * its fd is open or a group is attached to it; the IOMMU backend is
 * released (every mapping removed, every page unpinned) when the last group
 * leaves it.  A group can be open once (-EBUSY), and leaves its container
 * when its fd is closed.
 * Simplifications: one device per group; no noiommu, no cdev/iommufd, no
 * interrupts; the config region is the virtual config space (PCI_COMMAND
 * memory decode is what matters); BAR regions are mmap-only.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu.h"
#include "pinsim_internal.h"
#include "vfio.h"
#include "vfio_pci.h"

enum vfio_fd_type {
	VFIO_FD_FREE = 0,
	VFIO_FD_CONTAINER,
	VFIO_FD_GROUP,
	VFIO_FD_DEVICE,
};

struct vfio_container {
	_Atomic int refs;		/* its fd + attached groups + ioctls in flight */
	struct mutex lock;		/* groups and iommu pointer */
	/*
	 * Held for read across a backend ioctl and for write while a group
	 * leaves (which may release the backend), as vfio.c's group_lock was
	 * before the container code moved to container.c: a MAP_DMA never
	 * runs on a released backend.  A simulated rwsem, so the scheduler
	 * sees it.
	 */
	struct rw_semaphore group_lock;
	struct vfio_iommu *iommu;	/* after VFIO_SET_IOMMU */
	int nr_groups;
};

struct vfio_group {
	int id;
	int iommu_unit;
	struct vfio_pci_core_device *vdev;
	struct vfio_container *container;
	bool opened;
	int device_fds;
};

struct vfio_fd {
	enum vfio_fd_type type;
	union {
		struct vfio_container *container;
		struct vfio_group *group;
	};
};

#define VFIO_FD_BASE 3			/* 0, 1, 2 are stdio */

struct vfio_fd_table {
	struct vfio_fd *fds;
	int nr;
};

/* ---------------- containers ---------------- */

static struct vfio_container *container_get(struct vfio_container *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

static void container_put(struct vfio_container *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	/* The last reference: no group is attached any more. */
	vfio_iommu_type1_release(c->iommu);
	mutex_destroy(&c->lock);
	destroy_rwsem(&c->group_lock);
	free(c);
}

/* __vfio_group_unset_container(); caller holds sim->vfio_lock. */
static void group_unset_container(struct vfio_group *g)
{
	struct vfio_container *c = g->container;

	down_write(&c->group_lock);
	mutex_lock(&c->lock);
	if (c->iommu)
		vfio_iommu_type1_detach_group(c->iommu, g->id);
	/* The last group: the backend goes with it (the kernel's driver release). */
	if (!--c->nr_groups && c->iommu) {
		vfio_iommu_type1_release(c->iommu);
		c->iommu = NULL;
	}
	mutex_unlock(&c->lock);
	up_write(&c->group_lock);
	g->container = NULL;
	container_put(c);
}

/* ---------------- fd table ---------------- */

static struct vfio_fd_table *fd_table(struct pinsim_proc *p)
{
	if (!p->fds)
		p->fds = calloc(1, sizeof(*p->fds));
	return p->fds;
}

/* Returns the new fd or -EMFILE/-ENOMEM; caller holds sim->vfio_lock. */
static int fd_install(struct pinsim_proc *p, struct vfio_fd f)
{
	struct vfio_fd_table *t = fd_table(p);
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < t->nr; i++)
		if (t->fds[i].type == VFIO_FD_FREE)
			break;
	if (i == t->nr) {
		struct vfio_fd *n;

		if (t->nr >= 1024)
			return -EMFILE;
		n = realloc(t->fds, (t->nr + 16) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + t->nr, 0, 16 * sizeof(*n));
		t->fds = n;
		t->nr += 16;
	}
	t->fds[i] = f;
	return i + VFIO_FD_BASE;
}

/* The entry for @fd, or NULL (-EBADF); caller holds sim->vfio_lock. */
static struct vfio_fd *fd_lookup(struct pinsim_proc *p, int fd)
{
	struct vfio_fd_table *t = p->fds;
	int i = fd - VFIO_FD_BASE;

	if (!t || i < 0 || i >= t->nr || t->fds[i].type == VFIO_FD_FREE)
		return NULL;
	return &t->fds[i];
}

static void fd_release(struct vfio_fd *f)
{
	switch (f->type) {
	case VFIO_FD_CONTAINER:
		container_put(f->container);
		break;
	case VFIO_FD_GROUP:
		/* vfio_group_fops_release(): the group leaves its container. */
		if (f->group->container)
			group_unset_container(f->group);
		f->group->opened = false;
		break;
	case VFIO_FD_DEVICE:
		f->group->device_fds--;
		break;
	default:
		break;
	}
	f->type = VFIO_FD_FREE;
}

static long fd_table_release_body(void *arg);

/* At process exit: every fd closed, as the exiting task. */
void vfio_fd_table_release(struct pinsim_proc *p)
{
	if (p->fds)
		in_proc(p, fd_table_release_body, p);
}

static long fd_table_release_body(void *arg)
{
	struct pinsim_proc *p = arg;
	struct vfio_fd_table *t = p->fds;

	mutex_lock(&p->sim->vfio_lock);
	/* Device fds first, then groups, then containers: no EBUSY on the way. */
	for (int type = VFIO_FD_DEVICE; type >= VFIO_FD_CONTAINER; type--)
		for (int i = 0; i < t->nr; i++)
			if ((int)t->fds[i].type == type)
				fd_release(&t->fds[i]);
	mutex_unlock(&p->sim->vfio_lock);
	free(t->fds);
	free(t);
	p->fds = NULL;
	return 0;
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

void vfio_groups_release(struct pinsim *sim)
{
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

static int parse_group_path(const char *path)
{
	const char *prefix = "/dev/vfio/";
	char *end;
	long id;

	if (strncmp(path, prefix, strlen(prefix)))
		return -1;
	path += strlen(prefix);
	if (*path < '0' || *path > '9')
		return -1;
	id = strtol(path, &end, 10);
	if (*end || id > 1 << 20)
		return -1;
	return (int)id;
}

int pinsim_open(struct pinsim_proc *p, const char *path, int flags)
{
	struct pinsim *sim;
	struct vfio_fd f = { 0 };
	struct vfio_group *g;
	int ret, id;

	if (!p || !path) {
		errno = EFAULT;
		return -1;
	}
	sim = p->sim;
	if (!strcmp(path, "/dev/vfio/vfio")) {
		struct vfio_container *c = calloc(1, sizeof(*c));

		if (!c) {
			errno = ENOMEM;
			return -1;
		}
		atomic_store(&c->refs, 1);
		mutex_init(&c->lock, "vfio_container");
		init_rwsem(&c->group_lock, "container_group_lock");
		f.type = VFIO_FD_CONTAINER;
		f.container = c;
		mutex_lock(&sim->vfio_lock);
		ret = fd_install(p, f);
		mutex_unlock(&sim->vfio_lock);
		if (ret < 0) {
			container_put(c);
			errno = -ret;
			return -1;
		}
		return ret;
	}
	id = parse_group_path(path);
	mutex_lock(&sim->vfio_lock);
	g = id < 0 ? NULL : group_by_id(sim, id);
	if (!g) {
		ret = -ENOENT;
	} else if (g->opened) {
		ret = -EBUSY;	/* vfio_group_fops_open(): one open file per group */
	} else {
		f.type = VFIO_FD_GROUP;
		f.group = g;
		ret = fd_install(p, f);
		if (ret >= 0)
			g->opened = true;
	}
	mutex_unlock(&sim->vfio_lock);
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

/* As a system call: the release work (unpinning) runs as the caller's task. */
static long close_body(void *arg)
{
	struct close_args *a = arg;
	struct vfio_fd *f;

	mutex_lock(&a->p->sim->vfio_lock);
	f = fd_lookup(a->p, a->fd);
	if (f)
		fd_release(f);
	mutex_unlock(&a->p->sim->vfio_lock);
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

long vfio_fd_mmap_file(struct pinsim_proc *p, int fd, struct file **filep)
{
	struct vfio_fd *f;
	long ret = 0;

	mutex_lock(&p->sim->vfio_lock);
	f = fd_lookup(p, fd);
	if (!f)
		ret = -EBADF;
	else if (f->type != VFIO_FD_DEVICE)
		ret = -ENODEV;	/* containers and groups have no mmap */
	else
		*filep = &f->group->vdev->file;
	mutex_unlock(&p->sim->vfio_lock);
	return ret;
}

/* ---------------- container ioctls (vfio_fops_unl_ioctl) ---------------- */

static long container_set_iommu(struct pinsim_proc *p, struct vfio_container *c,
				unsigned long arg)
{
	struct vfio_iommu *iommu;
	long ret;

	/* Called with sim->vfio_lock held: the group set is stable. */
	mutex_lock(&c->lock);
	/* vfio_ioctl_set_iommu(): only a container with groups and no backend. */
	if (!c->nr_groups || c->iommu) {
		ret = -EINVAL;
		goto out;
	}
	/* The one driver is asked whether it offers @arg, as in the kernel's loop. */
	if (vfio_iommu_type1_ioctl(NULL, VFIO_CHECK_EXTENSION, (void *)arg) <= 0) {
		ret = -ENODEV;
		goto out;
	}
	ret = vfio_iommu_type1_open(arg, &iommu);
	if (ret)
		goto out;
	for (int i = 0; i < p->sim->nr_groups; i++) {
		struct vfio_group *g = p->sim->groups[i];

		if (!g || g->container != c)
			continue;
		ret = vfio_iommu_type1_attach_group(iommu, g->id, g->iommu_unit, false);
		if (ret) {
			vfio_iommu_type1_release(iommu);
			goto out;
		}
	}
	c->iommu = iommu;
out:
	mutex_unlock(&c->lock);
	return ret;
}

static long container_ioctl(struct pinsim_proc *p, struct vfio_container *c, unsigned long req,
			    void *arg)
{
	struct vfio_iommu *iommu;
	long ret;

	switch (req) {
	case VFIO_GET_API_VERSION:
		mutex_unlock(&p->sim->vfio_lock);
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		mutex_lock(&c->lock);
		ret = vfio_iommu_type1_ioctl(c->iommu, VFIO_CHECK_EXTENSION, arg);
		mutex_unlock(&c->lock);
		mutex_unlock(&p->sim->vfio_lock);
		return ret;
	case VFIO_SET_IOMMU:
		ret = container_set_iommu(p, c, (unsigned long)arg);
		mutex_unlock(&p->sim->vfio_lock);
		return ret;
	}
	/*
	 * MAP/UNMAP run without the front-end lock (they pin and fault): the
	 * container reference keeps the container, group_lock the backend.
	 */
	container_get(c);
	mutex_unlock(&p->sim->vfio_lock);
	down_read(&c->group_lock);
	mutex_lock(&c->lock);
	iommu = c->iommu;
	mutex_unlock(&c->lock);
	if (!iommu)
		ret = -EINVAL;	/* vfio_fops_unl_ioctl(): no driver to pass it to */
	else if ((req == VFIO_IOMMU_MAP_DMA || req == VFIO_IOMMU_UNMAP_DMA ||
		  req == VFIO_IOMMU_GET_INFO) && !arg)
		ret = -EFAULT;	/* copy_from_user() */
	else
		ret = vfio_iommu_type1_ioctl(iommu, (unsigned int)req, arg);
	up_read(&c->group_lock);
	mutex_lock(&p->sim->vfio_lock);
	container_put(c);
	mutex_unlock(&p->sim->vfio_lock);
	return ret;
}

/* ---------------- group ioctls ---------------- */

static long group_ioctl(struct pinsim_proc *p, struct vfio_group *g, unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_GROUP_GET_STATUS: {
		struct vfio_group_status *st = arg;

		if (!st)
			return -EFAULT;
		if (st->argsz < sizeof(*st))
			return -EINVAL;
		st->flags = VFIO_GROUP_FLAGS_VIABLE;
		if (g->container)
			st->flags |= VFIO_GROUP_FLAGS_CONTAINER_SET;
		return 0;
	}
	case VFIO_GROUP_SET_CONTAINER: {
		struct vfio_container *c;
		struct vfio_fd *cf;
		long ret = 0;

		if (!arg)
			return -EFAULT;
		cf = fd_lookup(p, *(int *)arg);
		if (!cf)
			return -EBADF;
		if (cf->type != VFIO_FD_CONTAINER)
			return -EINVAL;
		if (g->container)
			return -EINVAL;
		c = cf->container;
		mutex_lock(&c->lock);
		if (c->iommu)
			ret = vfio_iommu_type1_attach_group(c->iommu, g->id, g->iommu_unit, false);
		if (!ret)
			c->nr_groups++;
		mutex_unlock(&c->lock);
		if (ret)
			return ret;
		g->container = container_get(c);
		return 0;
	}
	case VFIO_GROUP_UNSET_CONTAINER:
		if (!g->container)
			return -EINVAL;
		if (g->device_fds)
			return -EBUSY;
		group_unset_container(g);
		return 0;
	case VFIO_GROUP_GET_DEVICE_FD: {
		struct vfio_fd f = { .type = VFIO_FD_DEVICE, .group = g };
		const char *name = arg;
		int fd;

		if (!name)
			return -EFAULT;
		/* vfio_group_has_iommu(): a container with a backend set. */
		if (!g->container || !g->container->iommu)
			return -EINVAL;
		if (strncmp(name, g->vdev->name, sizeof(g->vdev->name)))
			return -ENODEV;
		fd = fd_install(p, f);
		if (fd >= 0)
			g->device_fds++;
		return fd;
	}
	default:
		return -ENOTTY;
	}
}

/* ---------------- device ioctls (vfio_pci_core_ioctl) ---------------- */

static long device_get_region_info(struct vfio_pci_core_device *vdev,
				   struct vfio_region_info *info)
{
	const uint32_t minsz = offsetof(struct vfio_region_info, offset) + sizeof(info->offset);

	if (info->argsz < minsz)
		return -EINVAL;
	info->cap_offset = 0;
	switch (info->index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info->offset = VFIO_PCI_INDEX_TO_OFFSET(info->index);
		info->size = SIM_PCI_CONFIG_SIZE;
		info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX ... VFIO_PCI_BAR5_REGION_INDEX:
		info->offset = VFIO_PCI_INDEX_TO_OFFSET(info->index);
		info->size = vdev->bar[info->index].size;
		if (!info->size) {
			info->flags = 0;
			break;
		}
		info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		if (vdev->bar[info->index].mmap_supported)
			info->flags |= VFIO_REGION_INFO_FLAG_MMAP;
		break;
	case VFIO_PCI_ROM_REGION_INDEX:
		info->offset = VFIO_PCI_INDEX_TO_OFFSET(info->index);
		info->size = 0;		/* no option ROM */
		info->flags = 0;
		break;
	default:
		return -EINVAL;	/* VGA absent; no device-specific regions */
	}
	return 0;
}

static long device_ioctl(struct pinsim_proc *p, struct vfio_group *g, unsigned long req,
			 void *arg)
{
	struct vfio_pci_core_device *vdev = g->vdev;

	switch (req) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *info = arg;
		const uint32_t minsz = offsetof(struct vfio_device_info, num_irqs) +
				       sizeof(info->num_irqs);

		if (!info)
			return -EFAULT;
		if (info->argsz < minsz)
			return -EINVAL;
		info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
		info->num_regions = VFIO_PCI_NUM_REGIONS;
		info->num_irqs = VFIO_PCI_NUM_IRQS;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO:
		if (!arg)
			return -EFAULT;
		return device_get_region_info(vdev, arg);
	case VFIO_DEVICE_RESET:
		return vfio_pci_core_reset(vdev);
	default:
		return -ENOTTY;
	}
}

struct ioctl_args {
	struct pinsim_proc *p;
	int fd;
	unsigned long req;
	void *arg;
};

/* The whole ioctl runs as the caller's task, as a system call does. */
static long ioctl_body(void *arg)
{
	struct ioctl_args *a = arg;
	struct pinsim_proc *p = a->p;
	unsigned long req = a->req;
	struct vfio_fd *f;
	long ret;

	mutex_lock(&p->sim->vfio_lock);
	f = fd_lookup(p, a->fd);
	if (!f) {
		ret = -EBADF;
	} else if (f->type == VFIO_FD_CONTAINER) {
		/* Drops vfio_lock itself: MAP_DMA must not run under it. */
		return container_ioctl(p, f->container, req, a->arg);
	} else if (f->type == VFIO_FD_GROUP) {
		ret = group_ioctl(p, f->group, req, a->arg);
	} else {
		ret = device_ioctl(p, f->group, req, a->arg);
	}
	mutex_unlock(&p->sim->vfio_lock);
	return ret;
}

int pinsim_ioctl(struct pinsim_proc *p, int fd, unsigned long req, void *arg)
{
	struct ioctl_args a = { p, fd, req, arg };
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

/* ---------------- config space through pread/pwrite ---------------- */

static long config_rw(struct pinsim_proc *p, int fd, void *buf, size_t len, uint64_t off,
		      bool write)
{
	struct vfio_pci_core_device *vdev;
	struct vfio_fd *f;
	uint64_t index = VFIO_PCI_OFFSET_TO_INDEX(off), pos = off & VFIO_PCI_OFFSET_MASK;
	long ret;

	mutex_lock(&p->sim->vfio_lock);
	f = fd_lookup(p, fd);
	if (!f) {
		ret = -EBADF;
		goto out;
	}
	if (f->type != VFIO_FD_DEVICE) {
		ret = -EINVAL;
		goto out;
	}
	vdev = f->group->vdev;
	if (index != VFIO_PCI_CONFIG_REGION_INDEX || pos >= SIM_PCI_CONFIG_SIZE) {
		ret = -EINVAL;	/* BARs are mmap-only here */
		goto out;
	}
	if (len > SIM_PCI_CONFIG_SIZE - pos)
		len = SIM_PCI_CONFIG_SIZE - pos;
	if (!write) {
		memcpy(buf, vdev->vconfig + pos, len);
	} else if (pos <= SIM_PCI_COMMAND + 1 && pos + len > SIM_PCI_COMMAND) {
		/* A write touching PCI_COMMAND goes through the decode logic. */
		uint8_t cmd[2] = { vdev->vconfig[SIM_PCI_COMMAND],
				   vdev->vconfig[SIM_PCI_COMMAND + 1] };

		for (size_t i = 0; i < len; i++) {
			uint64_t at = pos + i;

			if (at == SIM_PCI_COMMAND || at == SIM_PCI_COMMAND + 1)
				cmd[at - SIM_PCI_COMMAND] = ((uint8_t *)buf)[i];
			else
				vdev->vconfig[at] = ((uint8_t *)buf)[i];
		}
		vfio_pci_write_command(vdev, (uint16_t)(cmd[0] | cmd[1] << 8));
	} else {
		memcpy(vdev->vconfig + pos, buf, len);
	}
	ret = (long)len;
out:
	mutex_unlock(&p->sim->vfio_lock);
	return ret;
}

ssize_t pinsim_pread(struct pinsim_proc *p, int fd, void *buf, size_t len, uint64_t off)
{
	long ret;

	if (!p || (!buf && len)) {
		errno = EFAULT;
		return -1;
	}
	ret = config_rw(p, fd, buf, len, off, false);
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
	ret = config_rw(p, fd, (void *)buf, len, off, true);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

/* ---------------- device DMA, IOMMU queries, stats ---------------- */

/* The domain of @group_id's container, under sim->vfio_lock. */
static struct iommu_domain *group_domain(struct pinsim *sim, int group_id)
{
	struct vfio_group *g = group_by_id(sim, group_id);
	struct iommu_domain *d = NULL;

	if (g && g->container) {
		mutex_lock(&g->container->lock);
		if (g->container->iommu)
			d = vfio_iommu_group_domain(g->container->iommu, group_id);
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
	struct vfio_iommu *iommu = NULL;
	struct vfio_fd *f;

	if (!p || !st) {
		errno = EINVAL;
		return -1;
	}
	mutex_lock(&p->sim->vfio_lock);
	f = fd_lookup(p, container_fd);
	if (f && f->type == VFIO_FD_CONTAINER) {
		mutex_lock(&f->container->lock);
		iommu = f->container->iommu;
		if (iommu) {
			vfio_iommu_type1_get_stats(iommu, &s);
			st->nr_dmas = vfio_iommu_nr_dmas(iommu);
			st->dma_avail = vfio_iommu_dma_avail(iommu);
		}
		mutex_unlock(&f->container->lock);
	}
	mutex_unlock(&p->sim->vfio_lock);
	if (!f || f->type != VFIO_FD_CONTAINER) {
		errno = EBADF;
		return -1;
	}
	if (!iommu) {
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
