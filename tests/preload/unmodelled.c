// SPDX-License-Identifier: GPL-2.0-only
/*
 * Calls a VMM may make that the simulated process cannot model: each must
 * fail with the errno of a missing feature (ENOTTY for an unknown ioctl;
 * mprotect/mremap/mlock, once ENOSYS here, are modelled now), never
 * succeed silently, and the library's exit summary lists them.  "unmodelled sigint" ends by raising SIGINT
 * (the summary is printed on the way).  An ordinary program: system
 * headers only.
 */
#include <signal.h>
#include <sys/mman.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"

int main(int argc, char **argv)
{
	struct vfio_dev d;
	unsigned char *buf;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (vfio_setup(BDF, &d))
		return 2;
	buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED, "mmap");
	buf[0] = 1;
	CHECK(!dma_map(d.container, buf, 0x100000, 1 << 20), "MAP_DMA");
	CHECK(dma_map(d.container, buf, 0x100000, 1 << 20) < 0 && errno == EEXIST, "MAP_DMA again");
	if (argc > 1 && !strcmp(argv[1], "sigint")) {
		printf("raising SIGINT\n");
		raise(SIGINT);
		printf("FAIL: survived SIGINT\n");
		return 1;
	}
	CHECK(ioctl(d.container, _IO(VFIO_TYPE, VFIO_BASE + 99)) < 0 && errno == ENOTTY,
	      "unknown VFIO ioctl");
	printf("not modelled: unknown ioctl ENOTTY\n");
	buf[1] = 2; /* still mapped read-write: nothing changed */
	CHECK(dma_unmap(d.container, 0x100000, 1 << 20) == 1 << 20, "UNMAP_DMA");
	vfio_teardown(&d);
	printf("RESULT: ok\n");
	return 0;
}
