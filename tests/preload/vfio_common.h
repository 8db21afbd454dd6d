/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every test program here does first, the way a VMM does it: a
 * container, the device's group found through sysfs, type1v2, the device
 * fd.  System headers only: these programs know nothing of pinsim.
 */
#ifndef TESTS_PRELOAD_VFIO_COMMON_H
#define TESTS_PRELOAD_VFIO_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct vfio_dev {
	int container, group, device, group_id;
};

#define CHECK(cond, ...)                                            \
	do {                                                        \
		if (!(cond)) {                                      \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);                        \
			printf(" (errno %s)\n", strerror(errno));   \
			exit(1);                                    \
		}                                                   \
	} while (0)

static inline int vfio_setup(const char *bdf, struct vfio_dev *d)
{
	struct vfio_group_status status = {.argsz = sizeof(status)};
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0) {
		printf("no /dev/vfio/vfio: %s\n", strerror(errno));
		return -1;
	}
	CHECK(ioctl(d->container, VFIO_GET_API_VERSION) == VFIO_API_VERSION, "API version");
	CHECK(ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1, "type1v2");
	printf("container: api %d type1v2 yes\n", VFIO_API_VERSION);

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	CHECK(n > 0, "readlink %s", path);
	link[n] = 0;
	d->group_id = atoi(basename(link));
	printf("group: %s -> %s (group %d)\n", path, link, d->group_id);
	snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	CHECK(d->group >= 0, "open %s", path);
	CHECK(!ioctl(d->group, VFIO_GROUP_GET_STATUS, &status), "GROUP_GET_STATUS");
	CHECK(status.flags & VFIO_GROUP_FLAGS_VIABLE, "group viable");
	CHECK(!ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container), "SET_CONTAINER");
	CHECK(!ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), "SET_IOMMU");
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	CHECK(d->device >= 0, "GET_DEVICE_FD %s", bdf);
	printf("device: %s fd ok\n", bdf);
	return 0;
}

static inline void vfio_teardown(struct vfio_dev *d)
{
	CHECK(!close(d->device), "close device");
	CHECK(!ioctl(d->group, VFIO_GROUP_UNSET_CONTAINER), "UNSET_CONTAINER");
	CHECK(!close(d->group), "close group");
	CHECK(!close(d->container), "close container");
}

static inline int dma_map(int container, void *vaddr, unsigned long long iova,
			  unsigned long long size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (unsigned long long)(unsigned long)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &m);
}

static inline long long dma_unmap(int container, unsigned long long iova, unsigned long long size)
{
	struct vfio_iommu_type1_dma_unmap u = {.argsz = sizeof(u), .iova = iova, .size = size};

	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u))
		return -1;
	return (long long)u.size;
}

#endif
