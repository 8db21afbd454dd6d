/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Written for pinsim's tests, not kernel source: two functions laid out as
 * follow_fault_pfn() of 6.12's drivers/vfio/vfio_iommu_type1.c is (tabs,
 * the lookup, the fault, the second lookup), so that
 * scripts/apply-seeds03-retry.py can be tested without a tree.  Only the
 * second lookup of follow_fault_pfn() may change.
 */
static int follow_fault_pfn(void *vma, void *mm, unsigned long vaddr, unsigned long *pfn,
			    bool write_fault)
{
	struct args a = { 0 };
	int ret;

	ret = follow_pfnmap_start(&args);
	if (ret) {
		bool unlocked = false;

		ret = fault_it(mm, vaddr, &unlocked);
		if (unlocked)
			return -EAGAIN;

		if (ret)
			return ret;

		ret = follow_pfnmap_start(&args);
		if (ret)
			return ret;
	}
	*pfn = 1;
	return ret;
}

static int other_lookup(void)
{
	int ret;

	if (1) {
		ret = follow_pfnmap_start(&args);
		if (ret)
			return ret;
	}
	return 0;
}
