// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sysfs paths a VMM looks a device's IOMMU group up with, for the
 * configured devices (PINSIM_DEVICES):
 *   /sys/bus/pci/devices/<BDF>                   a directory
 *   /sys/bus/pci/devices/<BDF>/iommu_group       -> ../../../kernel/iommu_groups/<N>
 *   /sys/kernel/iommu_groups/<N>                 a directory
 *   /sys/kernel/iommu_groups/<N>/devices/<BDF>   -> ../../../../devices/pci0000:00/<BDF>
 * as QEMU's vfio_device_get_group() (readlink + basename) and libvfio-user
 * style code (realpath, stat, access) read them.
 *
 * Interposes readlink, realpath, stat, stat64, lstat, lstat64 and access for
 * those paths only; every other path goes to libc untouched.
 *
 * Directory listings (opendir, fdopendir, readdir, readdir64, rewinddir,
 * dirfd, closedir), as QEMU/libvfio list a group's devices and tools list
 * the PCI bus:
 *   /sys/bus/pci/devices                  the simulated devices (DT_LNK)
 *   /sys/kernel/iommu_groups              their groups (DT_DIR)
 *   /sys/kernel/iommu_groups/<N>/devices  the devices of group N (DT_LNK)
 * each with "." and "..", in configuration order.  The host's own entries of
 * /sys/bus/pci/devices are not listed: the program sees the simulated
 * machine's bus.  fdopendir() of an fd opened on one of these paths works
 * too (the fd's /proc/self/fd link names it).
 *
 * hugetlbfs (statfs, statfs64, fstatfs, fstatfs64): /dev/hugepages is the
 * simulated 2M pool's mount and /dev/hugepages1G the 1G pool's, as
 * systemd's default mount and a pagesize=1G mount look to libhugetlbfs and
 * QEMU (-mem-path: statfs of the directory, fstatfs of the file made in
 * it): f_type HUGETLBFS_MAGIC, f_bsize the page size, f_blocks/f_bfree the
 * pool's total and free pages.  A path below a mount point, or an fd of a
 * file there, is reported so only if the host's statfs of it succeeds (the
 * file exists); the mount points themselves always.
 *
 * Not interposed: fstatat, statx, scandir (glibc calls its own opendir),
 * open of files under these directories, telldir/seekdir of a listing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "preload.h"
#include "shmem.h"

int preload_group_of(const char *bdf, size_t len)
{
	for (int i = 0; i < preload.nr_dev; i++)
		if (strlen(preload.dev[i].bdf) == len && !strncmp(preload.dev[i].bdf, bdf, len))
			return preload.dev[i].group;
	return -1;
}

enum sysfs_kind { SYSFS_NONE, SYSFS_DIR, SYSFS_LINK };

/*
 * What @path is: a directory or a link (target in @target, absolute
 * resolution in @real), or SYSFS_NONE for a path that is not ours.
 */
static enum sysfs_kind sysfs_lookup(const char *path, char *target, char *real)
{
	static const char pci[] = "/sys/bus/pci/devices/", grp[] = "/sys/kernel/iommu_groups/";
	const char *s;
	int g;

	if (!preload.ready || preload_in_sim || !path)
		return SYSFS_NONE;
	if (!strncmp(path, pci, sizeof(pci) - 1)) {
		s = path + sizeof(pci) - 1;
		size_t n = strcspn(s, "/");

		g = preload_group_of(s, n);
		if (g < 0)
			return SYSFS_NONE;
		if (!s[n] || !strcmp(s + n, "/"))
			return SYSFS_DIR;
		if (strcmp(s + n, "/iommu_group"))
			return SYSFS_NONE;
		snprintf(target, PATH_MAX, "../../../kernel/iommu_groups/%d", g);
		snprintf(real, PATH_MAX, "%s%d", grp, g);
		return SYSFS_LINK;
	}
	if (strncmp(path, grp, sizeof(grp) - 1))
		return SYSFS_NONE;
	s = path + sizeof(grp) - 1;
	{
		char *end;
		long n = strtol(s, &end, 10);

		if (end == s || n < 0 || n > INT_MAX)
			return SYSFS_NONE;
		for (int i = 0; i < preload.nr_dev; i++) {
			const char *bdf = preload.dev[i].bdf;

			if (preload.dev[i].group != n)
				continue;
			if (!*end || !strcmp(end, "/") || !strcmp(end, "/devices") ||
			    !strcmp(end, "/devices/"))
				return SYSFS_DIR;
			if (strncmp(end, "/devices/", 9) || strcmp(end + 9, bdf))
				continue;
			snprintf(target, PATH_MAX, "../../../../devices/pci0000:00/%s", bdf);
			snprintf(real, PATH_MAX, "/sys/devices/pci0000:00/%s", bdf);
			return SYSFS_LINK;
		}
	}
	return SYSFS_NONE;
}

ssize_t readlink(const char *path, char *buf, size_t size)
{
	char target[PATH_MAX], real[PATH_MAX];
	size_t n;

	switch (sysfs_lookup(path, target, real)) {
	case SYSFS_NONE:
		return REAL(readlink)(path, buf, size);
	case SYSFS_DIR:
		errno = EINVAL;
		return -1;
	case SYSFS_LINK:
		break;
	}
	n = strlen(target);
	if (n > size)
		n = size;
	memcpy(buf, target, n);
	preload_trace("readlink %s = %s", path, target);
	return (ssize_t)n;
}

char *realpath(const char *path, char *resolved)
{
	char target[PATH_MAX], real[PATH_MAX];

	switch (sysfs_lookup(path, target, real)) {
	case SYSFS_NONE:
		return REAL(realpath)(path, resolved);
	case SYSFS_DIR:
		snprintf(real, sizeof(real), "%s", path);
		if (real[1] && real[strlen(real) - 1] == '/')
			real[strlen(real) - 1] = 0;
		break;
	case SYSFS_LINK:
		break;
	}
	if (!resolved)
		return strdup(real);
	return strcpy(resolved, real);
}

static int fake_stat(const char *path, struct stat *st, bool follow)
{
	char target[PATH_MAX], real[PATH_MAX];
	enum sysfs_kind k = sysfs_lookup(path, target, real);

	if (k == SYSFS_NONE)
		return 1;
	memset(st, 0, sizeof(*st));
	st->st_mode = k == SYSFS_LINK && !follow ? S_IFLNK | 0777 : S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_blksize = 4096;
	return 0;
}

int stat(const char *path, struct stat *st)
{
	int r = fake_stat(path, st, true);

	return r <= 0 ? r : REAL(stat)(path, st);
}
int stat64(const char *path, struct stat64 *st)
{
	int r = fake_stat(path, (struct stat *)st, true);

	return r <= 0 ? r : REAL(stat64)(path, st);
}
int lstat(const char *path, struct stat *st)
{
	int r = fake_stat(path, st, false);

	return r <= 0 ? r : REAL(lstat)(path, st);
}
int lstat64(const char *path, struct stat64 *st)
{
	int r = fake_stat(path, (struct stat *)st, false);

	return r <= 0 ? r : REAL(lstat64)(path, st);
}

int access(const char *path, int mode)
{
	char target[PATH_MAX], real[PATH_MAX];

	if (sysfs_lookup(path, target, real) == SYSFS_NONE)
		return REAL(access)(path, mode);
	if (mode & W_OK) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

/* ---- directory listings ---- */

#define SYSFS_DIR_MAGIC 0x70696e73 /* "pins" */
#define SYSFS_DIR_MAX (PRELOAD_MAX_DEVICES + 2)

/*
 * A listing of ours, handed out as a DIR *.  Every DIR * the program passes
 * to readdir & co is looked up in the list of ours first; anything else is
 * glibc's.
 */
struct sysfs_dir {
	unsigned int magic;
	int fd;				/* dirfd(): a real fd (of "/" or the fdopendir one) */
	int n, pos;
	struct {
		char name[32];
		unsigned char type;
	} ent[SYSFS_DIR_MAX];
	struct dirent de;
	struct dirent64 de64;
	struct sysfs_dir *next;
};

static pthread_mutex_t dirs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sysfs_dir *dirs;

static bool sysfs_dir_ours(void *d)
{
	struct sysfs_dir *s;

	pthread_mutex_lock(&dirs_lock);
	for (s = dirs; s && (void *)s != d; s = s->next)
		;
	pthread_mutex_unlock(&dirs_lock);
	return s != NULL;
}

static void dir_add(struct sysfs_dir *d, const char *name, unsigned char type)
{
	if (d->n == SYSFS_DIR_MAX)
		return;
	snprintf(d->ent[d->n].name, sizeof(d->ent[0].name), "%s", name);
	d->ent[d->n++].type = type;
}

/* @path without trailing slashes into @buf; false if too long. */
static bool trim_path(const char *path, char *buf, size_t size)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= size)
		return false;
	memcpy(buf, path, n);
	buf[n] = 0;
	return true;
}

/* Fill @d with the listing of @path if it is one of ours; false if not. */
static bool sysfs_dir_fill(const char *path, struct sysfs_dir *d)
{
	static const char grp[] = "/sys/kernel/iommu_groups";
	char p[PATH_MAX], *end;
	long g;

	if (!preload.ready || preload_in_sim || !path || !trim_path(path, p, sizeof(p)))
		return false;
	d->n = 0;
	dir_add(d, ".", DT_DIR);
	dir_add(d, "..", DT_DIR);
	if (!strcmp(p, "/sys/bus/pci/devices")) {
		for (int i = 0; i < preload.nr_dev; i++)
			dir_add(d, preload.dev[i].bdf, DT_LNK);
		return true;
	}
	if (!strcmp(p, grp)) {
		for (int i = 0; i < preload.nr_dev; i++) {
			char name[16];
			bool seen = false;

			for (int j = 0; j < i; j++)
				seen |= preload.dev[j].group == preload.dev[i].group;
			if (seen)
				continue;
			snprintf(name, sizeof(name), "%d", preload.dev[i].group);
			dir_add(d, name, DT_DIR);
		}
		return true;
	}
	if (strncmp(p, grp, sizeof(grp) - 1) || p[sizeof(grp) - 1] != '/')
		return false;
	g = strtol(p + sizeof(grp), &end, 10);
	if (end == p + sizeof(grp) || strcmp(end, "/devices"))
		return false;
	for (int i = 0; i < preload.nr_dev; i++)
		if (preload.dev[i].group == g)
			dir_add(d, preload.dev[i].bdf, DT_LNK);
	return d->n > 2;
}

/* A listing of @path, or NULL (not ours); @fd the fd it owns, -1 for none. */
static DIR *sysfs_dir_open(const char *path, int fd)
{
	struct sysfs_dir *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (!sysfs_dir_fill(path, d)) {
		free(d);
		return NULL;
	}
	d->magic = SYSFS_DIR_MAGIC;
	d->fd = fd >= 0 ? fd : REAL(open)("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pthread_mutex_lock(&dirs_lock);
	d->next = dirs;
	dirs = d;
	pthread_mutex_unlock(&dirs_lock);
	preload_trace("opendir %s: %d entries", path, d->n);
	return (DIR *)d;
}

DIR *opendir(const char *path)
{
	DIR *d = sysfs_dir_open(path, -1);

	return d ? d : REAL(opendir)(path);
}

DIR *fdopendir(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;
	DIR *d = NULL;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = fd >= 0 ? REAL(readlink)(link, path, sizeof(path) - 1) : -1;
	if (n > 0) {
		path[n] = 0;
		d = sysfs_dir_open(path, fd);
	}
	return d ? d : REAL(fdopendir)(fd);
}

static struct sysfs_dir *dir_next(DIR *dir)
{
	struct sysfs_dir *d = (struct sysfs_dir *)dir;

	return d->pos < d->n ? d : NULL;
}

struct dirent *readdir(DIR *dir)
{
	struct sysfs_dir *d;
	int i;

	if (!sysfs_dir_ours(dir))
		return REAL(readdir)(dir);
	d = dir_next(dir);
	if (!d)
		return NULL;
	i = d->pos++;
	memset(&d->de, 0, sizeof(d->de));
	d->de.d_ino = (ino_t)(i + 1);
	d->de.d_off = i + 1;
	d->de.d_reclen = sizeof(d->de);
	d->de.d_type = d->ent[i].type;
	snprintf(d->de.d_name, sizeof(d->de.d_name), "%s", d->ent[i].name);
	return &d->de;
}

struct dirent64 *readdir64(DIR *dir)
{
	struct sysfs_dir *d;
	int i;

	if (!sysfs_dir_ours(dir))
		return REAL(readdir64)(dir);
	d = dir_next(dir);
	if (!d)
		return NULL;
	i = d->pos++;
	memset(&d->de64, 0, sizeof(d->de64));
	d->de64.d_ino = (ino64_t)(i + 1);
	d->de64.d_off = i + 1;
	d->de64.d_reclen = sizeof(d->de64);
	d->de64.d_type = d->ent[i].type;
	snprintf(d->de64.d_name, sizeof(d->de64.d_name), "%s", d->ent[i].name);
	return &d->de64;
}

void rewinddir(DIR *dir)
{
	if (!sysfs_dir_ours(dir)) {
		REAL(rewinddir)(dir);
		return;
	}
	((struct sysfs_dir *)dir)->pos = 0;
}

int dirfd(DIR *dir)
{
	if (!sysfs_dir_ours(dir))
		return REAL(dirfd)(dir);
	return ((struct sysfs_dir *)dir)->fd;
}

int closedir(DIR *dir)
{
	struct sysfs_dir **pp, *d = NULL;

	pthread_mutex_lock(&dirs_lock);
	for (pp = &dirs; *pp; pp = &(*pp)->next) {
		if ((void *)*pp == (void *)dir) {
			d = *pp;
			*pp = d->next;
			break;
		}
	}
	pthread_mutex_unlock(&dirs_lock);
	if (!d)
		return REAL(closedir)(dir);
	if (d->fd >= 0)
		REAL(close)(d->fd);
	d->magic = 0;
	free(d);
	return 0;
}

/* ---- hugetlbfs mounts ---- */

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

/*
 * The pool a path is on: 21 (2M) for /dev/hugepages[/...], 30 (1G) for
 * /dev/hugepages1G[/...], 0 for others; *@top whether it is the mount point.
 */
static int hugetlbfs_shift(const char *path, bool *top)
{
	static const struct {
		const char *dir;
		int shift;
	} mnt[] = {{"/dev/hugepages1G", 30}, {"/dev/hugepages", 21}};
	char p[PATH_MAX];

	if (!preload.ready || preload_in_sim || !path || !trim_path(path, p, sizeof(p)))
		return 0;
	for (size_t i = 0; i < sizeof(mnt) / sizeof(mnt[0]); i++) {
		size_t n = strlen(mnt[i].dir);

		if (strncmp(p, mnt[i].dir, n) || (p[n] && p[n] != '/'))
			continue;
		*top = !p[n];
		return mnt[i].shift;
	}
	return 0;
}

/* What the kernel's hugetlbfs_statfs() says for the pool of @shift. */
static void hugetlbfs_fill(struct statfs *st, int shift)
{
	struct pinsim_stats ps;
	uint64_t total = 0, free_pages = 0;

	memset(st, 0, sizeof(*st));
	if (preload.m) {
		sim_enter();
		if (!pinsim_stats(preload.m, &ps)) {
			total = shift == 30 ? ps.hugetlb_1g_total : ps.hugetlb_2m_total;
			free_pages = shift == 30 ? ps.hugetlb_1g_free : ps.hugetlb_2m_free;
		}
		sim_exit();
	} else {
		const char *v = getenv(shift == 30 ? "PINSIM_HUGETLB_1G" : "PINSIM_HUGETLB_2M");

		total = free_pages = v ? strtoull(v, NULL, 0) : 0;
	}
	st->f_type = HUGETLBFS_MAGIC;
	st->f_bsize = 1L << shift;
	st->f_frsize = 1L << shift;
	st->f_blocks = total;
	st->f_bfree = st->f_bavail = free_pages;
	st->f_namelen = NAME_MAX;
}

/* 0 and @st filled if @path is on a simulated mount, 1 if not ours, -1 errno. */
static int hugetlbfs_statfs(const char *path, struct statfs *st)
{
	bool top = false;
	int shift = hugetlbfs_shift(path, &top);

	if (!shift)
		return 1;
	if (!top && REAL(statfs)(path, st))
		return -1;
	hugetlbfs_fill(st, shift);
	preload_trace("statfs %s: hugetlbfs, %ld-byte pages", path, (long)st->f_bsize);
	return 0;
}

static int hugetlbfs_fstatfs(int fd, struct statfs *st)
{
	char link[64], path[PATH_MAX];
	ssize_t n;
	bool top = false;
	int shift;

	if (!preload.ready || preload_in_sim || fd < 0)
		return 1;
	/* A simulated hugetlbfs file (shmem.c): its host fd is a placeholder. */
	shift = preload_shmem_hugetlb_shift(fd);
	if (shift) {
		hugetlbfs_fill(st, shift);
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = REAL(readlink)(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 1;
	path[n] = 0;
	shift = hugetlbfs_shift(path, &top);
	if (!shift)
		return 1;
	hugetlbfs_fill(st, shift);
	return 0;
}

int statfs(const char *path, struct statfs *st)
{
	int r = hugetlbfs_statfs(path, st);

	return r <= 0 ? r : REAL(statfs)(path, st);
}
int statfs64(const char *path, struct statfs64 *st)
{
	int r = hugetlbfs_statfs(path, (struct statfs *)st);

	return r <= 0 ? r : REAL(statfs64)(path, st);
}
int fstatfs(int fd, struct statfs *st)
{
	int r = hugetlbfs_fstatfs(fd, st);

	return r <= 0 ? r : REAL(fstatfs)(fd, st);
}
int fstatfs64(int fd, struct statfs64 *st)
{
	int r = hugetlbfs_fstatfs(fd, (struct statfs *)st);

	return r <= 0 ? r : REAL(fstatfs64)(fd, st);
}
