// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sysfs and hugetlbfs lookups a VMM does before it opens anything:
 * the device's IOMMU group from its iommu_group link, the group's devices
 * listed from /sys/kernel/iommu_groups/<N>/devices (every device of a
 * group must be bound to vfio before the group is viable: QEMU and libvfio
 * list it), the PCI bus listed, and the hugetlbfs mounts told apart by
 * statfs (f_type HUGETLBFS_MAGIC, f_bsize the page size: libhugetlbfs,
 * QEMU's qemu_fd_getpagesize()).  An ordinary program: system headers
 * only.  Arguments: the devices expected, first the one whose group is
 * listed.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>

#include "vfio_common.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

/* Names of @dir but "." and "..", sorted, space-separated into @out. */
static int list_dir(DIR *dir, char *out, size_t size, bool use64, unsigned char *type)
{
	char names[32][256];
	int n = 0;

	CHECK(dir, "opendir");
	for (;;) {
		const char *name;
		unsigned char t;

		if (use64) {
			struct dirent64 *e = readdir64(dir);

			if (!e)
				break;
			name = e->d_name;
			t = e->d_type;
		} else {
			struct dirent *e = readdir(dir);

			if (!e)
				break;
			name = e->d_name;
			t = e->d_type;
		}
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		CHECK(n < 32, "too many entries");
		snprintf(names[n++], sizeof(names[0]), "%s", name);
		*type = t;
	}
	qsort(names, (size_t)n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
	out[0] = 0;
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? " " : "", names[i]);
	return n;
}

static void check_hugetlbfs(const char *path, long bsize)
{
	struct statfs st;

	CHECK(!statfs(path, &st), "statfs %s", path);
	printf("statfs %s: %s, bsize %ld, pages %llu free %llu\n", path,
	       st.f_type == HUGETLBFS_MAGIC ? "hugetlbfs" : "not hugetlbfs", (long)st.f_bsize,
	       (unsigned long long)st.f_blocks, (unsigned long long)st.f_bfree);
	CHECK(st.f_type == HUGETLBFS_MAGIC && st.f_bsize == bsize, "hugetlbfs %s", path);
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], link[PATH_MAX], list[2048];
	unsigned char type = 0;
	struct statfs st;
	DIR *dir;
	int group, n, fd;
	ssize_t len;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s BDF [BDF...]\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", argv[1]);
	len = readlink(path, link, sizeof(link) - 1);
	if (len <= 0) {
		printf("no iommu_group for %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	link[len] = 0;
	group = atoi(basename(link));
	printf("group of %s: %d\n", argv[1], group);

	/* QEMU/libvfio: every device of the group, from its devices directory */
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", group);
	dir = opendir(path);
	n = list_dir(dir, list, sizeof(list), false, &type);
	CHECK(!closedir(dir), "closedir");
	printf("group %d devices: %s (%d, %s)\n", group, list, n, type == DT_LNK ? "links" : "?");

	/* the PCI bus: the simulated devices, by readdir64 */
	dir = opendir("/sys/bus/pci/devices/");
	n = list_dir(dir, list, sizeof(list), true, &type);
	rewinddir(dir);
	CHECK(readdir(dir) != NULL, "readdir after rewinddir");
	CHECK(dirfd(dir) >= 0, "dirfd");
	CHECK(!closedir(dir), "closedir");
	printf("pci devices: %s (%d)\n", list, n);
	CHECK(n == argc - 1, "want %d devices", argc - 1);

	dir = opendir("/sys/kernel/iommu_groups");
	n = list_dir(dir, list, sizeof(list), false, &type);
	CHECK(!closedir(dir), "closedir");
	printf("iommu groups: %s (%d)\n", list, n);

	/* fdopendir of an fd opened on the bus directory (the host's has it too) */
	fd = open("/sys/bus/pci/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		dir = fdopendir(fd);
		n = list_dir(dir, list, sizeof(list), false, &type);
		CHECK(!closedir(dir), "closedir");
		printf("fdopendir pci devices: %d\n", n);
		CHECK(n == argc - 1, "fdopendir listing");
	} else {
		printf("fdopendir pci devices: %d\n", argc - 1); /* no host sysfs: nothing to test */
	}

	/* a group that does not exist, a path that is not ours */
	errno = 0;
	CHECK(!opendir("/sys/kernel/iommu_groups/9999/devices") && errno == ENOENT,
	      "missing group");
	dir = opendir("/proc/self/fd");
	CHECK(dir && readdir(dir), "host directory still listed by libc");
	closedir(dir);
	printf("missing group: ENOENT, host directories: libc's\n");

	check_hugetlbfs("/dev/hugepages", 2L << 20);
	check_hugetlbfs("/dev/hugepages1G/", 1L << 30);
	CHECK(!statfs("/", &st) && st.f_type != HUGETLBFS_MAGIC, "statfs / is the host's");
	printf("RESULT: ok\n");
	return 0;
}
