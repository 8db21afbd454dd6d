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
 * those paths only; every other path goes to libc untouched.  Not
 * interposed in this slice: opendir/readdir, fstatat, statx, open of files
 * under these directories.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload.h"

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
