// SPDX-License-Identifier: GPL-2.0-only
/*
 * A VMM mapping a GPU's 1 GiB BAR for peer-to-peer DMA, as QEMU does: the
 * BAR mmapped 1 GiB-aligned (a PROT_NONE reservation, the BAR MAP_FIXED in
 * it), then VFIO_IOMMU_MAP_DMA of all of it, with nothing touched first, so
 * that type1 faults the BAR in itself (follow_fault_pfn() ->
 * fixup_user_fault()).  It maps and unmaps the BAR ROUNDS times and says
 * what each MAP_DMA gave; EINVAL is the seeds/03 report ("dma_map FAILED
 * iova=0x020000000000: [Errno 22] Invalid argument"), anything else fails
 * the program.  Then a CPU write through the mapping must reach the BAR.
 * An ordinary program: system headers only; what races with its MAP_DMA
 * is set from outside (the preload's PINSIM_INJECT, PINSIM_NUMA_MAPS).
 *
 * Usage: bar_race [ROUNDS]   (default 6)
 */
#include <stdint.h>
#include <sys/mman.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"
#define GiB (1ULL << 30)
#define BAR_IOVA 0x020000000000ULL

/* The BAR at a 1 GiB boundary, as QEMU aligns it: PUD leaves. */
static unsigned char *map_bar_aligned(int device, const struct vfio_region_info *ri)
{
	uint64_t align = ri->size < GiB ? ri->size : GiB;
	unsigned char *res, *bar, *at;

	res = mmap(NULL, ri->size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	CHECK(res != MAP_FAILED, "reserve %#llx", (unsigned long long)(ri->size + align));
	at = (unsigned char *)(((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1));
	bar = mmap(at, ri->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, device,
		   (off_t)ri->offset);
	CHECK(bar == at, "mmap BAR0 at %p", (void *)at);
	if (at > res)
		CHECK(!munmap(res, (size_t)(at - res)), "trim the reservation's head");
	if (at + ri->size < res + ri->size + align)
		CHECK(!munmap(at + ri->size, (size_t)(res + align - at)),
		      "trim the reservation's tail");
	return bar;
}

int main(int argc, char **argv)
{
	struct vfio_region_info bar0 = {.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX};
	int rounds = argc > 1 ? atoi(argv[1]) : 6, ok = 0, einval = 0, first_ok = 0;
	struct vfio_dev d;
	unsigned char *bar;
	uint32_t word;

	setvbuf(stdout, NULL, _IONBF, 0);
	CHECK(rounds > 0 && rounds <= 100000, "ROUNDS in 1..100000");
	if (vfio_setup(BDF, &d))
		return 2;
	CHECK(!ioctl(d.device, VFIO_DEVICE_GET_REGION_INFO, &bar0), "REGION_INFO BAR0");
	CHECK(bar0.size == GiB, "BAR0 of 1G (size %#llx)", (unsigned long long)bar0.size);
	bar = map_bar_aligned(d.device, &bar0);
	printf("bar0: 1G mmapped at a 1G boundary: %s\n",
	       ((uintptr_t)bar & (GiB - 1)) ? "no" : "yes");

	for (int r = 1; r <= rounds; r++) {
		if (!dma_map(d.container, bar, BAR_IOVA, GiB)) {
			printf("map_dma %d: ok\n", r);
			ok++;
			first_ok = first_ok ? first_ok : r;
			CHECK(dma_unmap(d.container, BAR_IOVA, GiB) == (long long)GiB,
			      "UNMAP_DMA of the BAR");
		} else {
			CHECK(errno == EINVAL, "map_dma %d: not ok and not EINVAL", r);
			printf("map_dma %d: FAILED [Errno %d] %s\n", r, errno, strerror(errno));
			einval++;
		}
	}
	printf("map_dma of the 1G BAR: %d rounds, %d ok, %d EINVAL, first ok at %d\n", rounds, ok,
	       einval, first_ok);

	/* Whatever zapped the BAR in between, the CPU's view is the BAR's. */
	bar[GiB - 4096] = 0x5a;
	CHECK(pread(d.device, &word, 4, (off_t)(bar0.offset + GiB - 4096)) == 4 &&
		      (word & 0xff) == 0x5a,
	      "BAR pread after the races sees the CPU's write (%#x)", word);
	printf("cpu write after the races: BAR pread agrees\n");
	CHECK(!munmap(bar, bar0.size), "munmap BAR0");
	vfio_teardown(&d);
	printf("RESULT: ok\n");
	return 0;
}
