// SPDX-License-Identifier: GPL-2.0-only
/*
 * dup/dup2/dup3/fcntl(F_DUPFD[_CLOEXEC]) of VFIO fds: the new fd names the
 * same open file (struct file), so closing one fd leaves the other working,
 * and the file is released only with its last fd: while a dup of the device
 * fd is open, VFIO_GROUP_UNSET_CONTAINER is EBUSY.  dup2 over a VFIO fd
 * closes it.  An ordinary program: system headers only.
 */
#include <sys/mman.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"

int main(void)
{
	struct vfio_group_status st = {.argsz = sizeof(st)};
	struct vfio_region_info ri = {.argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX};
	struct vfio_iommu_type1_info info = {.argsz = sizeof(info)};
	int c2, d2, g2, g3, devnull;
	struct vfio_dev d;
	unsigned char *buf;
	unsigned short vendor;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (vfio_setup(BDF, &d))
		return 2;
	buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED, "mmap");

	/* dup of the container: map through one, close it, unmap through the other. */
	c2 = dup(d.container);
	CHECK(c2 >= 0 && c2 != d.container, "dup container");
	CHECK(!dma_map(c2, buf, 0x100000, 1 << 20), "MAP_DMA through the dup");
	CHECK(!close(d.container), "close the original container fd");
	CHECK(!ioctl(c2, VFIO_IOMMU_GET_INFO, &info), "GET_INFO through the dup after close");
	CHECK(dma_unmap(c2, 0x100000, 1 << 20) == 1 << 20, "UNMAP through the dup");
	printf("dup container: map, close original, unmap: ok\n");

	/* fcntl(F_DUPFD_CLOEXEC) of the device, at or above 100. */
	d2 = fcntl(d.device, F_DUPFD_CLOEXEC, 100);
	CHECK(d2 >= 100, "F_DUPFD_CLOEXEC device");
	CHECK(fcntl(d2, F_GETFD) == FD_CLOEXEC, "FD_CLOEXEC on the dup");
	CHECK(!close(d.device), "close the original device fd");
	CHECK(!ioctl(d2, VFIO_DEVICE_GET_REGION_INFO, &ri), "REGION_INFO through the dup");
	CHECK(pread(d2, &vendor, 2, (off_t)ri.offset) == 2 && vendor != 0xffff && vendor,
	      "config read through the dup");
	printf("fcntl F_DUPFD_CLOEXEC device: works after the original is closed\n");

	/*
	 * read(2)/write(2) of a device fd go from the file position (offset 0
	 * is BAR0's region), shared by dups; VFIO files cannot lseek (no
	 * .llseek: ESPIPE); a container has no .read (EINVAL).
	 */
	{
		unsigned char pat[8] = {1, 2, 3, 4, 5, 6, 7, 8}, got[4];
		int d3 = dup(d2);

		CHECK(d3 >= 0, "dup device");
		CHECK(pwrite(d2, pat, 8, 0) == 8, "pwrite BAR0");
		CHECK(lseek(d2, 0, SEEK_SET) < 0 && errno == ESPIPE, "lseek of a device fd");
		CHECK(read(d2, got, 4) == 4 && got[0] == 1 && got[3] == 4, "read from position 0");
		CHECK(read(d3, got, 4) == 4 && got[0] == 5 && got[3] == 8,
		      "read through a dup goes on from the shared position");
		CHECK(write(d3, pat, 4) == 4, "write at position 8");
		CHECK(pread(d2, got, 4, 8) == 4 && got[0] == 1 && got[3] == 4, "the write landed at 8");
		CHECK(read(c2, got, 4) < 0 && errno == EINVAL, "read of a container");
		CHECK(!close(d3), "close the dup");
		printf("read/write of a device fd: shared position, lseek ESPIPE, container EINVAL\n");
	}

	/* dup2 of the group onto a chosen fd. */
	g2 = dup2(d.group, 200);
	CHECK(g2 == 200, "dup2 group");
	CHECK(dup2(g2, g2) == g2, "dup2 onto itself");
	CHECK(!close(d.group), "close the original group fd");
	CHECK(!ioctl(g2, VFIO_GROUP_GET_STATUS, &st), "GROUP_GET_STATUS through the dup");
	CHECK(st.flags == (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET),
	      "group flags %#x", st.flags);
	/* dup3, then dup2 of /dev/null over it: that fd is no VFIO fd any more. */
	g3 = dup3(g2, 201, O_CLOEXEC);
	CHECK(g3 == 201, "dup3 group");
	CHECK(dup3(g3, g3, 0) < 0 && errno == EINVAL, "dup3 onto itself is EINVAL");
	devnull = open("/dev/null", O_RDWR);
	CHECK(devnull >= 0, "open /dev/null");
	CHECK(dup2(devnull, g3) == g3, "dup2 /dev/null over a group dup");
	CHECK(ioctl(g3, VFIO_GROUP_GET_STATUS, &st) < 0 && errno == ENOTTY,
	      "the overwritten fd is /dev/null");
	CHECK(!ioctl(g2, VFIO_GROUP_GET_STATUS, &st), "the other dup still works");
	printf("dup2/dup3 group: ok, dup2 over a dup closes it\n");

	/* The device file is open while any of its fds is. */
	CHECK(ioctl(g2, VFIO_GROUP_UNSET_CONTAINER) < 0 && errno == EBUSY,
	      "UNSET_CONTAINER with the device's dup open");
	CHECK(!close(d2), "close the device's last fd");
	CHECK(!ioctl(g2, VFIO_GROUP_UNSET_CONTAINER), "UNSET_CONTAINER after the last close");
	printf("release at the last close: UNSET_CONTAINER EBUSY, then ok\n");
	CHECK(!close(g2) && !close(g3) && !close(c2) && !close(devnull), "close");
	printf("RESULT: ok\n");
	return 0;
}
