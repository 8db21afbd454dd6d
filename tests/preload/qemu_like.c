// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VFIO sequence of a QEMU-like VMM: container, group via sysfs, type1v2,
 * device, region info, guest RAM in two DMA ranges around the 4 GiB hole
 * (one host block, as QEMU maps pc.ram), BAR0 mmap'd and DMA-mapped for
 * peer-to-peer, unmap, close.  An ordinary program: system headers only.
 * Exit 0 = every step gave the kernel's answer; 2 = no VFIO here.
 */
#include <sys/mman.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"
#define RAM_LOW (2UL << 20)
#define RAM_HIGH (2UL << 20)
#define HOLE_END (4ULL << 30)

int main(void)
{
	struct vfio_device_info info = {.argsz = sizeof(info)};
	struct vfio_region_info bar0 = {.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX};
	struct vfio_iommu_type1_info iinfo = {.argsz = sizeof(iinfo)};
	struct vfio_dev d;
	unsigned char *ram;
	volatile unsigned int *bar;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (vfio_setup(BDF, &d))
		return 2;
	CHECK(!ioctl(d.container, VFIO_IOMMU_GET_INFO, &iinfo), "IOMMU_GET_INFO");
	printf("iommu: pgsizes %#llx\n", (unsigned long long)iinfo.iova_pgsizes);
	CHECK(!ioctl(d.device, VFIO_DEVICE_GET_INFO, &info), "DEVICE_GET_INFO");
	printf("device: regions %u irqs %u pci %s\n", info.num_regions, info.num_irqs,
	       info.flags & VFIO_DEVICE_FLAGS_PCI ? "yes" : "no");
	CHECK(!ioctl(d.device, VFIO_DEVICE_GET_REGION_INFO, &bar0), "REGION_INFO BAR0");
	printf("bar0: size %#llx mmap %s\n", (unsigned long long)bar0.size,
	       bar0.flags & VFIO_REGION_INFO_FLAG_MMAP ? "yes" : "no");

	ram = mmap(NULL, RAM_LOW + RAM_HIGH, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(ram != MAP_FAILED, "mmap guest RAM");
	CHECK(!madvise(ram, RAM_LOW + RAM_HIGH, MADV_HUGEPAGE), "MADV_HUGEPAGE");
	memset(ram, 0x5a, 4096); /* the guest boots: some RAM touched first */
	CHECK(!dma_map(d.container, ram, 0, RAM_LOW), "MAP_DMA low RAM");
	CHECK(!dma_map(d.container, ram + RAM_LOW, HOLE_END, RAM_HIGH), "MAP_DMA high RAM");
	printf("map_dma: ram iova 0x0 size %#lx ok\n", RAM_LOW);
	printf("map_dma: ram iova %#llx size %#lx ok\n", HOLE_END, RAM_HIGH);
	CHECK(ram[0] == 0x5a && ram[RAM_LOW + 4096] == 0, "guest RAM reads back");

	bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.device,
		   (off_t)bar0.offset);
	CHECK(bar != MAP_FAILED, "mmap BAR0");
	bar[0] = 0xcafef00d; /* a vCPU's MMIO write */
	CHECK(bar[0] == 0xcafef00d, "BAR0 reads back");
	printf("bar0: mmap ok, cpu write/read ok\n");
	CHECK(!dma_map(d.container, (void *)bar, 0x8000000000ULL, bar0.size), "MAP_DMA BAR0 (p2p)");
	printf("map_dma: bar0 iova 0x8000000000 size %#llx ok\n", (unsigned long long)bar0.size);
	/* A misaligned and an overlapping map give the kernel's errors. */
	CHECK(dma_map(d.container, ram + 1, 0x100000, 4096) && errno == EINVAL,
	      "misaligned EINVAL");
	CHECK(dma_map(d.container, ram, 0, 4096) && errno == EEXIST, "overlap EEXIST");
	printf("map_dma: misaligned EINVAL, overlap EEXIST\n");

	CHECK(dma_unmap(d.container, 0x8000000000ULL, bar0.size) == (long long)bar0.size,
	      "UNMAP BAR0");
	CHECK(dma_unmap(d.container, HOLE_END, RAM_HIGH) == (long long)RAM_HIGH, "UNMAP high");
	CHECK(dma_unmap(d.container, 0, RAM_LOW) == (long long)RAM_LOW, "UNMAP low");
	printf("unmap_dma: 3 ranges ok\n");
	CHECK(!munmap((void *)bar, bar0.size), "munmap BAR0");
	CHECK(!munmap(ram, RAM_LOW + RAM_HIGH), "munmap RAM");
	vfio_teardown(&d);
	printf("RESULT: ok\n");
	return 0;
}
