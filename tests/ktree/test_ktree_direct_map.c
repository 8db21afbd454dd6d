// SPDX-License-Identifier: GPL-2.0-only
/*
 * The direct map's rule for code that dereferences page-table entries
 * itself, as the tree's mm/pagewalk.c does (`*pmd`, `pmd_offset(pud, addr)`
 * re-reading the PUD): resolving a BAR's PUD leaf as a PMD table and
 * reading it is the task's oops, recorded as pinsim's own accessors record
 * it (seeds/01), not a host SIGSEGV that ends the test process.
 *
 * What runs: the tree's walker (ktree_walk_page_vma(), the tree's
 * walk_page_vma() -> walk_pud_range()) over a VFIO BAR mapped by a 1 GiB
 * PUD leaf, under the mmap read lock, calling a ->pud_entry() that does
 * what walk_pmd_range() did with that PUD before 9b25a6e3d243:
 * pmd_offset(pud, addr), then pmd_none(*pmd) — the plain load of the
 * kernel's code, no pinsim accessor around it.  The 6.12.118 tree's own
 * walk_pmd_range() snapshots the PUD and returns ACTION_AGAIN on a leaf,
 * so no schedule makes the tree's code itself do that load (its explore
 * suite shows it); and pmd_offset() there re-reads *pud after the
 * snapshot, but a PUD table cannot become a leaf under the mmap read lock.
 * So the load is the callback's, the PUD pointer, the stack below it and
 * the lock handling are the tree's, and the rule pinned is the one that
 * matters for tree code: a plain C load of a BAR pfn's direct-map address
 * in a task body is the oops, whichever translation unit issues it (the
 * host MMU takes the fault, not a check in the code).
 *
 * The same callback is also run by pinsim's walker, and through pinsim's
 * accessor (pmdp_get()) instead of the plain load: the same record each
 * time: an accessor names its caller, and a plain load is named by the
 * fault handler from the faulting instruction's symbol (sim/kallsyms.c),
 * as the kernel's oops names RIP's function.
 */
#include <linux/mman.h>
#include <sys/mman.h>

#include "../harness.h"
#include "../mm_fixtures.h"
#include "kernel_profiles.h"
#include "ktree_pagewalk.h"
#include "pagewalk.h"
#include "rwsem.h"

KTREE_ASSERT_WALK_ABI();

#define BAR_VA 0x7f0000000000UL		/* 1 GiB aligned */

struct descend {
	struct mm_struct *mm;
	bool tree;		/* the tree's walker, else pinsim's */
	bool accessor;		/* pmdp_get() instead of the plain load */
	unsigned long pud_calls, leaves;
	bool walk_returned;
	int ret;
};

/*
 * Pre-9b25a6e3d243 walk_pmd_range() on the PUD walk_pud_range() hands to
 * ->pud_entry(): no check that it is a table.  Returns 1 (ends the walk) if
 * the "first PMD" read as something: it never should get that far.
 */
static int descend_pud(pud_t *pud, unsigned long addr, unsigned long next,
		       struct mm_walk *walk)
{
	struct descend *d = walk->private;
	pmd_t *pmd;

	d->pud_calls++;
	if (!pud_leaf(pudp_get(pud)))
		return 0;
	d->leaves++;
	pmd = pmd_offset(pud, addr);
	if (d->accessor)
		return !pmd_none(pmdp_get(pmd));
	return !pmd_none(*pmd);
}

/* ->pud_entry() only: neither walker splits or descends on its own. */
static const struct mm_walk_ops descend_ops = {
	.pud_entry = descend_pud, .walk_lock = PGWALK_RDLOCK,
};

static long walk_body(void *arg)
{
	struct descend *d = arg;
	struct vm_area_struct *vma;

	mmap_read_lock(d->mm);
	vma = find_vma(d->mm, BAR_VA);
	ck_assert_ptr_nonnull(vma);
	d->ret = d->tree ? ktree_walk_page_vma(vma, &descend_ops, d)
			 : walk_page_vma(vma, &descend_ops, d);
	d->walk_returned = true;
	mmap_read_unlock(d->mm);
	return 0;
}

/* tm_defaults() with the mm-side switches of the tree's version. */
static void setup_tree_kernel(void)
{
	struct machine_config profile;
	struct vfio_type1_config vc;

	ck_assert_int_eq(kernel_profile_configs(KTREE_PROFILE, &profile, &vc), 0);
	tm_defaults(&tm_cfg);
	tm_cfg.pagewalk_fixed = profile.pagewalk_fixed;
	tm_cfg.pagewalk_stale_action_fix = profile.pagewalk_stale_action_fix;
	tm_cfg.special_bit_per_level = profile.special_bit_per_level;
	tm_cfg.vfio_pci_mmap_align = profile.vfio_pci_mmap_align;
	tm_cfg.max_bar_fault_order = PUD_ORDER;
	tm_setup_with(&tm_cfg);
}

/* _i: bit 0 the tree's walker, bit 1 the accessor instead of `*pmd`. */
START_TEST(test_bar_pud_leaf_read_as_pmd_table_oopses_reader_keeping_mmap_lock)
{
	struct descend d = { .tree = _i & 1, .accessor = _i & 2 };
	unsigned long faults, pfn;
	struct vfio_pci_core_device *vdev;
	struct mm_struct *vmm, *mon;
	struct task_struct *writer;
	struct oops_record rec;
	char why[SIM_MSG_LEN];

	setup_tree_kernel();
	if (!sim_direct_map_faults() && !d.accessor) {
		ck_assert_msg(getenv("PINSIM_VALGRIND"), "direct-map faults not handled: "
			      "no reservation, or a sanitizer keeps SIGSEGV");
		printf("# skip: no direct-map reservation under valgrind\n");
		return;
	}
	vmm = tm_mm("qemu");
	vdev = make_bar(GiB);
	map_bar(vmm, vdev, BAR_VA, GiB);
	touch(vmm, BAR_VA, false);
	ck_assert_int_eq(level_at(vmm, BAR_VA), PGTABLE_PUD);
	pfn = vdev->bar[0].pfn;

	/* The numa_maps reader of seeds/01: another process, the VMM's lock. */
	mon = mm_alloc("numa_reader");
	ck_assert_ptr_nonnull(mon);
	set_current(mon->owner);
	d.mm = vmm;
	faults = sim_direct_map_fault_count();
	ck_assert_int_eq(sim_task_run(walk_body, &d), -EOWNERDEAD);
	printf("# %s walker, %s: ", d.tree ? "tree's" : "pinsim's",
	       d.accessor ? "pmdp_get()" : "*pmd");

	/* walk_pud_range() called us on the leaf, and the walk never came back. */
	ck_assert_uint_eq(d.pud_calls, 1);
	ck_assert_uint_eq(d.leaves, 1);
	ck_assert(!d.walk_returned);
	ck_assert(atomic_load(&mon->owner->dead));
	/* The host MMU refused the load (the BAR is inside the reservation). */
	ck_assert_uint_eq(sim_direct_map_fault_count(), faults + sim_direct_map_faults());

	ck_assert_uint_eq(sim_oops_count(), 1);
	ck_assert(sim_last_oops(&rec));
	printf("oops: %s in %s() at %#llx: %s\n", rec.comm, rec.func,
	       (unsigned long long)rec.addr, rec.why);
	ck_assert_str_eq(rec.comm, "numa_reader");
	ck_assert_str_eq(rec.func, "descend_pud");
	/* pmd_offset() took the BAR's first pfn for a PMD table. */
	ck_assert_uint_eq(rec.addr, (uint64_t)pfn << PAGE_SHIFT);
	snprintf(why, sizeof(why),
		 "BUG: unable to handle page fault: illegal read of MMIO pfn %#lx as memory", pfn);
	ck_assert_str_eq(rec.why, why);

	/* The reader died holding the VMM's mmap lock: munmap would wait for ever. */
	ck_assert(rwsem_held_by_dead(&vmm->mmap_lock));
	writer = task_create(vmm, vmm->owner, "munmap");
	ck_assert_ptr_nonnull(writer);
	set_current(writer);
	ck_assert_int_eq(down_write_timeout(&vmm->mmap_lock, 20 * 1000 * 1000), -ETIMEDOUT);
	/* Nothing was changed: the leaf is still there. */
	ck_assert_int_eq(level_at(vmm, BAR_VA), PGTABLE_PUD);
	ck_assert_uint_eq(sim_warn_count(), 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("ktree_direct_map");
	TCase *tc = tcase_create("ktree_direct_map");

	/* Each case sets its machine up with the tree's profile. */
	tcase_add_checked_fixture(tc, NULL, tm_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tc, test_bar_pud_leaf_read_as_pmd_table_oopses_reader_keeping_mmap_lock,
			    0, 4);
	return s;
}
