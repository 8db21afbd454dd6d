/* SPDX-License-Identifier: GPL-2.0-only */
/* mm fixtures shared by the page-walk, numa_maps and walker-race suites. */
#ifndef TESTS_MM_FIXTURES_H
#define TESTS_MM_FIXTURES_H

#include <sys/mman.h>

#include "harness.h"
#include "vfio_pci.h"

static inline unsigned long map_bar(struct mm_struct *mm, struct vfio_pci_core_device *vdev,
			     unsigned long addr, unsigned long len)
{
	unsigned long a = vm_mmap(mm, &vdev->file, addr, len, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_FIXED,
				  VFIO_PCI_INDEX_TO_OFFSET(0) >> PAGE_SHIFT);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap BAR: %ld", (long)a);
	ck_assert_uint_eq(a, addr);
	return a;
}

static inline struct vfio_pci_core_device *make_bar(uint64_t size)
{
	uint64_t bars[PCI_STD_NUM_BARS] = { size };
	struct vfio_pci_core_device *vdev;

	ck_assert_int_eq(vfio_pci_device_create("gpu", bars, &vdev), 0);
	return vdev;
}

static inline void touch(struct mm_struct *mm, unsigned long addr, bool write)
{
	mmap_read_lock(mm);
	ck_assert_int_eq(fixup_user_fault(mm, addr, write ? FAULT_FLAG_WRITE : 0, NULL), 0);
	mmap_read_unlock(mm);
}

static inline enum pgtable_level level_at(struct mm_struct *mm, unsigned long addr)
{
	return pgtable_lookup(mm, addr, NULL, NULL);
}

#endif /* TESTS_MM_FIXTURES_H */
