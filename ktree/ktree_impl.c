// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel tree's implementation as sim/kimpl.h sees it: the entry points
 * of the tree's mm/pagewalk.c, of the numa_maps callbacks of its
 * fs/proc/task_mmu.c (when built) and of follow_pfnmap_start()/_end() cut
 * out of its mm/memory.c, behind the table a machine running
 * MACHINE_IMPL_TREE dispatches to.  Defining ktree_kimpl is what makes
 * pinsim_config_set_impl(cfg, "tree") work in this build.
 */
#include "kimpl.h"
#include "ktree_memory.h"
#include "ktree_pagewalk.h"
#include "pagewalk.h"
#include "vfio.h"

KTREE_ASSERT_WALK_ABI();

/*
 * lib/vfio.h's arguments (upstream layout, with addr_mask) to the tree's
 * 6.12.y layout and back.  The 6.12 tree has no addr_mask output
 * (62fb8adc43af, v6.15): its callers step one page at a time, which is
 * what pinsim's type1 does under every 6.12 profile
 * (vfio_addr_mask_batching off).  PAGE_MASK is that granularity; a
 * profile with batching on would read it as "this leaf is 4K".
 */
static int tree_follow_pfnmap_start(struct follow_pfnmap_args *args)
{
	struct ktree_follow_pfnmap_args ka = {
		.vma = args->vma,
		.address = args->address,
	};
	int ret = ktree_follow_pfnmap_start(&ka);

	if (ret)
		return ret;
	args->lock = ka.lock;
	args->ptep = ka.ptep;
	args->pfn = ka.pfn;
	args->addr_mask = PAGE_MASK;
	args->pgprot = ka.pgprot;
	args->writable = ka.writable;
	args->special = ka.special;
	return 0;
}

static void tree_follow_pfnmap_end(struct follow_pfnmap_args *args)
{
	struct ktree_follow_pfnmap_args ka = {
		.vma = args->vma,
		.address = args->address,
		.lock = args->lock,
		.ptep = args->ptep,
	};

	ktree_follow_pfnmap_end(&ka);
}

#ifdef KTREE_HAVE_TASK_MMU
#include "ktree_task_mmu.h"

static int tree_numa_walk_vma(struct vm_area_struct *vma, void *md)
{
	return ktree_numa_walk_vma(vma, md);
}
#define KTREE_NUMA_WALK tree_numa_walk_vma
#else
#define KTREE_NUMA_WALK NULL
#endif

const struct kimpl_ops ktree_kimpl = {
	.tree_version = KTREE_VERSION,
	.tree_path = KTREE_PATH,
	.tree_profile = KTREE_PROFILE,
	.walk_page_range = ktree_walk_page_range,
	.walk_page_range_vma = ktree_walk_page_range_vma,
	.walk_page_vma = ktree_walk_page_vma,
	.numa_walk_vma = KTREE_NUMA_WALK,
	.follow_pfnmap_start = tree_follow_pfnmap_start,
	.follow_pfnmap_end = tree_follow_pfnmap_end,
};
