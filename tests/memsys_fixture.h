/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fixture of tests/test_mprotect.c, test_mremap.c and test_mlock.c:
 * one machine, one process, one device (BAR0 of 1 GiB) in a type1
 * container, through the public API only, and helpers that read back the
 * state a failed call must not have changed (VMAs, locked_vm, frames in
 * use, pins).
 */
#ifndef TESTS_MEMSYS_FIXTURE_H
#define TESTS_MEMSYS_FIXTURE_H

#include <fcntl.h>
#include <linux/mman.h>
#include <linux/vfio.h>
#include <sys/mman.h>

#include "harness.h"
#include "pinsim/pinsim.h"

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define BAR_SIZE (1ULL << 30)
/* A free, 1G-aligned range of a fresh process (below mmap_base). */
#define FIXED_VA (1ULL << 44)

static struct pinsim *sim;
static struct pinsim_proc *proc;
static int container = -1, group = -1, device = -1;
static int group_id;

static inline void ms_setup(void)
{
	struct pinsim_device_spec dev = { "0000:01:00.0", { BAR_SIZE }, 0 };
	struct pinsim_config cfg;
	char path[32];

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 8ULL << 30;
	cfg.hugetlb_2m_pages = 8;
	cfg.hugetlb_1g_pages = 1;
	ck_assert_int_eq(pinsim_create(&cfg, &sim), 0);
	ck_assert_int_eq(pinsim_proc_create(sim, &proc), 0);
	ck_assert_int_eq(pinsim_add_device(sim, &dev, &group_id), 0);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group_id);
	container = pinsim_open(proc, "/dev/vfio/vfio", O_RDWR);
	ck_assert_int_ge(container, 0);
	group = pinsim_open(proc, path, O_RDWR);
	ck_assert_int_ge(group, 0);
	ck_assert_int_eq(pinsim_ioctl(proc, group, VFIO_GROUP_SET_CONTAINER, &container), 0);
	ck_assert_int_eq(pinsim_ioctl(proc, container, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU),
			 0);
	device = pinsim_ioctl(proc, group, VFIO_GROUP_GET_DEVICE_FD, (void *)dev.name);
	ck_assert_int_ge(device, 0);
}

static inline void ms_teardown(void)
{
	pinsim_destroy(sim);
	sim = NULL;
	proc = NULL;
}

static inline uint64_t ms_map(uint64_t addr, uint64_t len, int prot, int flags)
{
	uint64_t va = pinsim_mmap(proc, addr, len, prot, flags | (addr ? MAP_FIXED_NOREPLACE : 0),
				  -1, 0);

	ck_assert_uint_ne(va, PINSIM_MAP_FAILED);
	return va;
}

static inline uint64_t ms_map_bar(uint64_t addr, uint64_t len, int prot)
{
	uint64_t va = pinsim_mmap(proc, addr, len, prot, MAP_SHARED | (addr ? MAP_FIXED : 0),
				  device, 0);

	ck_assert_uint_ne(va, PINSIM_MAP_FAILED);
	return va;
}

static inline uint64_t nr_vmas(void)
{
	struct pinsim_proc_stats st;

	ck_assert_int_eq(pinsim_proc_stats(proc, &st), 0);
	return st.nr_vmas;
}

static inline uint64_t locked_vm(void)
{
	struct pinsim_proc_stats st;

	ck_assert_int_eq(pinsim_proc_stats(proc, &st), 0);
	return st.locked_vm;
}

static inline uint64_t pages_allocated(void)
{
	struct pinsim_stats st;

	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	return st.pages_allocated;
}

static inline struct pinsim_page_info page_at(uint64_t va)
{
	struct pinsim_page_info pi;

	ck_assert_int_eq(pinsim_pagemap(proc, va, &pi), 0);
	return pi;
}

/* VFIO_IOMMU_MAP_DMA: 0 or -errno. */
static inline int map_dma(uint64_t va, uint64_t iova, uint64_t len, bool write)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | (write ? VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = va, .iova = iova, .size = len,
	};

	return pinsim_ioctl(proc, container, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;
}

static inline void unmap_dma(uint64_t iova, uint64_t len)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = iova, .size = len,
	};

	ck_assert_int_eq(pinsim_ioctl(proc, container, VFIO_IOMMU_UNMAP_DMA, &u), 0);
	ck_assert_uint_eq(u.size, len);
}

static inline void cpu_write(uint64_t va, uint32_t v)
{
	ck_assert_int_eq(pinsim_access(proc, va, &v, sizeof(v), 1), sizeof(v));
}

static inline uint32_t cpu_read(uint64_t va)
{
	uint32_t v = 0;

	ck_assert_int_eq(pinsim_access(proc, va, &v, sizeof(v), 0), sizeof(v));
	return v;
}

static inline uint32_t dma_read(uint64_t iova)
{
	uint32_t v = 0;

	ck_assert_int_eq(pinsim_dma(sim, group_id, iova, &v, sizeof(v), 0), sizeof(v));
	return v;
}

static inline TCase *ms_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, ms_setup, ms_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

#endif /* TESTS_MEMSYS_FIXTURE_H */
