/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small world for the seeds/01 and seeds/03 races, rebuilt from scratch
 * for every controlled execution, running a named kernel profile: a machine, a vfio-pci device whose BAR0
 * is mmapped 1 GiB-aligned in a VMM process (faulted in, so the walker has
 * a leaf to split), and a type1v2 container with the device's group.
 *
 * Threads: a numa_maps reader (T0, "numa_maps") and a VFIO MAP_DMA of the
 * BAR (T1, "vfio"); optionally a munmap (T2) and a second reader (T3) that
 * come after the race and show the hang of seeds/01.
 */
#ifndef TESTS_RACE_WORLD_H
#define TESTS_RACE_WORLD_H

#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "kernel_profiles.h"
#include "machine.h"
#include "scheduler.h"
#include "task_mmu.h"
#include "vfio.h"
#include "vfio_iommu_driver.h"
#include "vfio_pci.h"

#define RW_BAR_VA 0x7f0000000000UL
#define RW_BAR_IOVA 0x20000000000UL

struct race_world_cfg {
	const char *kernel;		/* a pinsim_config_set_kernel() name; NULL = upstream */
	unsigned int bar_fault_order;	/* PUD_ORDER or PMD_ORDER */
	uint64_t bar_size;
	enum vfio_retry_policy policy;
	bool enoent;
	bool hang_threads;		/* add the munmap and the late reader */
	/*
	 * MAP_DMA only the first @map_size bytes of the BAR (0: all of it).
	 * The fault still installs a 1G leaf (the VMA decides the order), so
	 * the race is the same; a small map keeps 6.12's one
	 * follow_fault_pfn() per 4K page (no addr_mask, 0fd06844de5d) to a
	 * few schedule points instead of 262144 per GiB.
	 */
	uint64_t map_size;
	/*
	 * Run the kernel tree's walker, numa_maps callbacks and
	 * follow_pfnmap_start() (MACHINE_IMPL_TREE; -Dkernel_tree builds only).
	 */
	bool tree;
	/*
	 * The container runs the tree's drivers/vfio/vfio_iommu_type1.c
	 * (ktree_vfio_iommu_type1) instead of pinsim's: its retry behaviour
	 * is its source's, and @policy/@enoent (the rewrite's switches) do
	 * not change it.
	 */
	bool tree_type1;
};

struct race_world {
	struct race_world_cfg cfg;
	struct machine *m;
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	const struct vfio_iommu_backend *type1;	/* the rewrite's or the tree's */
	void *iommu;				/* its container data */
	char buf[4096], buf2[4096];
};

static inline long rw_numa_maps(void *arg)
{
	struct race_world *w = arg;

	return numa_maps_read(w->mm, w->buf, sizeof(w->buf));
}

static inline long rw_numa_maps_late(void *arg)
{
	struct race_world *w = arg;

	/*
	 * Comes after the race (never chosen before the others by default).
	 * A start point names nothing: numa_maps_read() reaches its
	 * mmap_lock point before it touches anything shared.
	 */
	sched_point(SP_THREAD_START, w->mm, 0);
	return numa_maps_read(w->mm, w->buf2, sizeof(w->buf2));
}

static inline long rw_map_bar(void *arg)
{
	struct race_world *w = arg;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = RW_BAR_VA,
		.iova = RW_BAR_IOVA,
		.size = w->cfg.map_size ? w->cfg.map_size : w->cfg.bar_size,
	};

	return w->type1->ioctl(w->iommu, VFIO_IOMMU_MAP_DMA, &map);
}

static inline long rw_munmap(void *arg)
{
	struct race_world *w = arg;

	/* Delays the munmap; vm_munmap() takes mmap_lock (its point) first. */
	sched_point(SP_THREAD_START, w->mm, 0);
	return vm_munmap(w->mm, RW_BAR_VA, w->cfg.bar_size);
}

/* Build the world; fills @t and returns the number of threads. */
static inline int race_world_setup(struct race_world *w, struct sched_thread *t)
{
	uint64_t bars[PCI_STD_NUM_BARS] = { w->cfg.bar_size };
	struct machine_config mc;
	unsigned long va;
	int n = 2;

	/* The named kernel's switches: walker, follow_pfnmap_start, type1. */
	if (kernel_profile_configs(w->cfg.kernel ? w->cfg.kernel : "upstream", &mc,
				   &vfio_type1_cfg))
		abort();
	mc.ram_bytes = 4ULL << 30;
	mc.max_bar_fault_order = w->cfg.bar_fault_order;
	mc.impl = w->cfg.tree ? MACHINE_IMPL_TREE : MACHINE_IMPL_REWRITE;
	if (machine_create(&mc, &w->m))
		abort();
	vfio_type1_cfg.retry_policy = w->cfg.policy;
	vfio_type1_cfg.follow_pfnmap_enoent = w->cfg.enoent;
	if (vfio_pci_device_create("gpu", bars, &w->vdev))
		abort();
	w->mm = mm_alloc("vmm");
	set_current(w->mm->owner);
	va = vm_mmap(w->mm, &w->vdev->file, RW_BAR_VA, w->cfg.bar_size, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_FIXED, 0);
	if (va != RW_BAR_VA)
		abort();
	/* A vCPU touched the BAR: the leaves exist before the race. */
	for (unsigned long a = RW_BAR_VA; a < RW_BAR_VA + w->cfg.bar_size;
	     a += PAGE_SIZE << w->cfg.bar_fault_order) {
		bool unlocked = false;

		mmap_read_lock(w->mm);
		if (fixup_user_fault(w->mm, a, 0, &unlocked))
			abort();
		mmap_read_unlock(w->mm);
	}
	w->type1 = w->cfg.tree_type1 ? &ktree_vfio_iommu_type1 : &vfio_iommu_type1_rewrite;
	if (!w->type1)
		abort();	/* tree_type1 in a build without the tree's type1 */
	if (w->type1->open(VFIO_TYPE1v2_IOMMU, &w->iommu) ||
	    w->type1->attach_group(w->iommu, w->vdev->id, 0, false))
		abort();
	set_current(NULL);

	t[0] = (struct sched_thread){ .name = "numa_maps", .mm = w->mm, .fn = rw_numa_maps, .arg = w };
	t[1] = (struct sched_thread){ .name = "vfio", .mm = w->mm, .fn = rw_map_bar, .arg = w };
	if (w->cfg.hang_threads) {
		t[2] = (struct sched_thread){ .name = "munmap", .mm = w->mm, .fn = rw_munmap, .arg = w };
		t[3] = (struct sched_thread){ .name = "numa_maps2", .mm = w->mm,
					      .fn = rw_numa_maps_late, .arg = w };
		n = 4;
	}
	return n;
}

static inline void race_world_teardown(struct race_world *w)
{
	set_current(w->mm->owner);
	/* BAR mappings charge nothing: releasing needs no mmap_lock (no hang). */
	w->type1->release(w->iommu);
	set_current(NULL);
	machine_destroy(w->m);
	w->m = NULL;
}

/* Did the IOMMU map what MAP_DMA asked for at its iova, pfn for pfn? */
static inline bool race_world_bar_mapped(struct race_world *w)
{
	struct iommu_domain *d = w->type1->group_domain(w->iommu, w->vdev->id);
	phys_addr_t base = (phys_addr_t)w->vdev->bar[0].pfn << PAGE_SHIFT;
	uint64_t size = w->cfg.map_size ? w->cfg.map_size : w->cfg.bar_size;
	uint64_t step = size >= (1ULL << 30) ? 1ULL << 29 : PAGE_SIZE;

	for (uint64_t off = 0; off < size; off += step)
		if (iommu_iova_to_phys(d, RW_BAR_IOVA + off) != base + off)
			return false;
	return true;
}

/* The container's backend, whichever it is. */
static inline long race_world_ioctl(struct race_world *w, unsigned int cmd, void *arg)
{
	return w->type1->ioctl(w->iommu, cmd, arg);
}

static inline unsigned int race_world_nr_dmas(struct race_world *w)
{
	return w->type1->nr_dmas(w->iommu);
}

static inline unsigned int race_world_dma_avail(struct race_world *w)
{
	return w->type1->dma_avail(w->iommu);
}

static inline struct iommu_domain *race_world_domain(struct race_world *w)
{
	return w->type1->group_domain(w->iommu, w->vdev->id);
}

static inline void race_world_stats(struct race_world *w, struct vfio_type1_stats *st)
{
	w->type1->get_stats(w->iommu, st);
}

/*
 * Replay @schedule on the threads a setup just built (@t, @n) at the race
 * points, then tear the world down: the oopses the execution caused, or
 * -1 if the scheduler refused the run (a schedule that does not fit).
 */
static inline long race_world_replay(struct race_world *w, struct sched_thread *t, int n,
				     const char *schedule)
{
	struct sched_strategy s;
	struct sched_result r;
	unsigned long oopses;
	int err;

	sched_strategy_init(&s);
	s.kind = SCHED_REPLAY;
	s.schedule = schedule;
	s.points = SCHED_RACE_POINTS;
	s.step_budget = 100000;
	err = sched_run(t, n, &s, &r);
	oopses = sim_oops_count();
	race_world_teardown(w);
	return err ? -1 : (long)oopses;
}

#endif /* TESTS_RACE_WORLD_H */
