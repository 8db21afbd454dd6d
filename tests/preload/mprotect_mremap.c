// SPDX-License-Identifier: GPL-2.0-only
/*
 * mprotect(2), mremap(2) and mlock(2) on memory a VFIO program DMA-maps,
 * with the errnos Linux gives: a page made read-only cannot be DMA-mapped
 * for write (EFAULT, pin_user_pages), an unaligned mprotect is EINVAL, a
 * mapped buffer moved by mremap keeps its bytes and its DMA mapping (the
 * UNMAP_DMA of the old iova range unmaps the whole size), mlock, munlock,
 * mlock2 with a bad flag (EINVAL), mlockall(MCL_FUTURE) and munlockall.
 * An ordinary program: system headers only.
 */
#include <sys/mman.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"
#define MB (1UL << 20)

int main(void)
{
	unsigned char *buf, *nb;
	struct vfio_dev d;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (vfio_setup(BDF, &d))
		return 2;
	buf = mmap(NULL, MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED, "mmap");
	for (unsigned long i = 0; i < MB; i += 4096)
		buf[i] = (unsigned char)(i >> 12);

	CHECK(!mlock(buf, MB), "mlock");
	CHECK(mlock2(buf, MB, 0x80) < 0 && errno == EINVAL, "mlock2 bad flags");

	CHECK(!mprotect(buf + 4096, 4096, PROT_READ), "mprotect read-only");
	CHECK(buf[4096] == 1, "read after mprotect");
	CHECK(dma_map(d.container, buf, 0x100000, MB) < 0 && errno == EFAULT,
	      "MAP_DMA write of a read-only page");
	CHECK(mprotect(buf + 1, 4096, PROT_READ) < 0 && errno == EINVAL, "mprotect unaligned");
	CHECK(mprotect(buf, MB, PROT_READ | 0x100) < 0 && errno == EINVAL, "mprotect bad prot");
	CHECK(!mprotect(buf, MB, PROT_READ | PROT_WRITE), "mprotect read-write");
	buf[4096] = 0x55;
	printf("mprotect: read-only page, MAP_DMA write EFAULT, unaligned EINVAL: ok\n");

	CHECK(!dma_map(d.container, buf, 0x100000, MB), "MAP_DMA");
	nb = mremap(buf, MB, 2 * MB, MREMAP_MAYMOVE);
	CHECK(nb != MAP_FAILED, "mremap grow");
	CHECK(nb[4096] == 0x55 && nb[MB - 4096] == (unsigned char)((MB - 4096) >> 12),
	      "bytes kept by mremap");
	nb[MB + 5] = 7;	/* the grown part */
	CHECK(mremap(nb + 1, MB, MB, 0) == MAP_FAILED && errno == EINVAL, "mremap unaligned");
	CHECK(mremap(nb, MB, MB, MREMAP_DONTUNMAP) == MAP_FAILED && errno == EINVAL,
	      "mremap DONTUNMAP without MAYMOVE");
	CHECK(dma_unmap(d.container, 0x100000, MB) == MB, "UNMAP_DMA after the move");
	CHECK(mremap(nb, 2 * MB, MB, 0) == nb, "mremap shrink");
	nb[MB - 1] = 1;
	printf("mremap: moved with bytes and DMA mapping, shrink in place: ok\n");

	CHECK(!munlock(nb, MB), "munlock");
	CHECK(!mlockall(MCL_FUTURE), "mlockall(MCL_FUTURE)");
	CHECK(!munlockall(), "munlockall");
	printf("mlock: mlock, mlock2 EINVAL, munlock, mlockall, munlockall: ok\n");
	CHECK(!munmap(nb, MB), "munmap");
	vfio_teardown(&d);
	printf("RESULT: ok\n");
	return 0;
}
