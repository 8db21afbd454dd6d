// SPDX-License-Identifier: GPL-2.0-only
/*
 * Data both ways between the program's pointers and the device's DMA.  The
 * device is a DMA engine in BAR0 (a 32-byte descriptor pwrite at BAR0's
 * region offset: source iova, destination iova, length, 1 = copy), as the
 * loopback device of the environment it runs in provides.  An ordinary
 * program: system headers only.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"
#define LEN (64UL << 10)
#define SRC_IOVA 0x10000000ULL
#define DST_IOVA 0x20000000ULL
#define THP_IOVA 0x40000000ULL
#define BAR_IOVA 0x8000000000ULL

static struct vfio_region_info bar0 = {.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX};

static void dma_copy(int device, uint64_t src, uint64_t dst, uint64_t len)
{
	uint64_t desc[4] = {src, dst, len, 1};

	CHECK(pwrite(device, desc, sizeof(desc), (off_t)bar0.offset) == sizeof(desc),
	      "DMA %#llx -> %#llx", (unsigned long long)src, (unsigned long long)dst);
}

static int check_pattern(const unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(i * 7 + seed))
			return 0;
	return 1;
}

static void fill_pattern(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + seed);
}

int main(void)
{
	unsigned char *src, *dst, *thp, *bar;
	struct vfio_dev d;
	uint64_t desc[4] = {SRC_IOVA, 0x7000000000ULL, 4096, 1};

	setvbuf(stdout, NULL, _IONBF, 0);
	if (vfio_setup(BDF, &d))
		return 2;
	CHECK(!ioctl(d.device, VFIO_DEVICE_GET_REGION_INFO, &bar0), "REGION_INFO BAR0");
	src = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(src != MAP_FAILED && dst != MAP_FAILED, "mmap buffers");

	/* 1. CPU writes, then DMA: the device reads what the pointer wrote. */
	fill_pattern(src, LEN, 3);
	CHECK(!dma_map(d.container, src, SRC_IOVA, LEN), "MAP_DMA src");
	/* dst is never touched by the CPU before the device writes it. */
	CHECK(!dma_map(d.container, dst, DST_IOVA, LEN), "MAP_DMA dst");
	dma_copy(d.device, SRC_IOVA, DST_IOVA, LEN);
	CHECK(check_pattern(dst, LEN, 3), "DMA write of a page the CPU never touched");
	printf("pattern 1: cpu write -> dma read -> dma write -> cpu read: ok\n");

	/* 2. Both already mapped on both sides: new bytes flow at once. */
	fill_pattern(src, LEN, 11);
	dma_copy(d.device, SRC_IOVA, DST_IOVA, LEN);
	CHECK(check_pattern(dst, LEN, 11), "DMA write seen through a mapped pointer");
	printf("pattern 2: after MAP_DMA, both directions: ok\n");

	/* 3. THP-advised guest RAM, DMA into the device's own BAR (p2p). */
	thp = mmap(NULL, 4UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(thp != MAP_FAILED, "mmap thp");
	thp = (unsigned char *)(((uintptr_t)thp + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	CHECK(!madvise(thp, 2UL << 20, MADV_HUGEPAGE), "MADV_HUGEPAGE");
	fill_pattern(thp, 2UL << 20, 5);
	CHECK(!dma_map(d.container, thp, THP_IOVA, 2UL << 20), "MAP_DMA thp");
	bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.device,
		   (off_t)bar0.offset);
	CHECK(bar != MAP_FAILED, "mmap BAR0");
	CHECK(!dma_map(d.container, bar, BAR_IOVA, bar0.size), "MAP_DMA BAR0");
	dma_copy(d.device, THP_IOVA + 4096, BAR_IOVA + 0x10000, 8192);
	CHECK(check_pattern(bar + 0x10000, 8192, (4096 * 7 + 5) & 0xff),
	      "p2p DMA into BAR0 seen via mmap");
	fill_pattern(bar + 0x20000, 4096, 9); /* CPU MMIO writes, device reads */
	dma_copy(d.device, BAR_IOVA + 0x20000, SRC_IOVA, 4096);
	CHECK(check_pattern(src, 4096, 9), "DMA from BAR bytes the CPU wrote");
	printf("pattern 3: thp ram -> bar0, bar0 cpu write -> dma -> ram: ok\n");

	/* 4. An unmapped iova: the device's DMA faults, the write fails. */
	CHECK(pwrite(d.device, desc, sizeof(desc), (off_t)bar0.offset) < 0 && errno == EIO,
	      "DMA to an unmapped iova");
	printf("pattern 4: iommu fault on unmapped iova: EIO\n");

	/* 5. After UNMAP_DMA the device cannot reach the buffer any more. */
	CHECK(dma_unmap(d.container, DST_IOVA, LEN) == (long long)LEN, "UNMAP dst");
	desc[1] = DST_IOVA;
	CHECK(pwrite(d.device, desc, sizeof(desc), (off_t)bar0.offset) < 0 && errno == EIO,
	      "DMA after unmap");
	printf("pattern 5: dma after unmap faults: ok\n");
	/* The BAR mapping holds the device file open: UNSET_CONTAINER would be EBUSY. */
	CHECK(!munmap(bar, bar0.size), "munmap BAR0");
	vfio_teardown(&d);
	printf("RESULT: ok\n");
	return 0;
}
