// SPDX-License-Identifier: GPL-2.0-only
/*
 * Issue 15, "locked_vm equals the pages accounted by live mappings", per mm
 * (lib/locked_vm_ledger.h): a process's locked_vm must be the pages of its
 * VM_LOCKED VMAs (mm/mlock.c mlock_fixup() charges a VMA's size) plus, over
 * every container of the machine, the RAM pages (not PG_reserved) the
 * IOMMU maps for the live DMA mappings it owns (6.12
 * vfio_pin_pages_remote() charges each pinned page that is not
 * is_invalid_reserved_pfn() with vfio_lock_acct()).  Checked at UNMAP_DMA
 * and container release, from machine state, so the same cases run on the
 * kernel tree's own type1 (PINSIM_TEST_IMPL=tree).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vfio_harness.h"
#include "kill_unmap_race.h"

#include "checker.h"
#include "locked_vm_ledger.h"
#include "mm.h"
#include "pinsim_internal.h"
#include "task.h"

#define IOVA 0x100000000ULL

static unsigned long nr_reports(const char *kind, struct pinsim_checker_report *first)
{
	struct pinsim_checker_report r[8];
	int n = pinsim_checker_reports(sim, r, 8);
	unsigned long hits = 0;

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n && i < 8; i++) {
		if (strcmp(r[i].kind, kind))
			continue;
		if (!hits++ && first)
			*first = r[i];
	}
	return hits;
}

static unsigned long ledger_checked(void)
{
	struct locked_vm_ledger_stats st;

	locked_vm_ledger_get_stats(&st);
	return st.checked;
}

/* Every checker, outside controlled runs too (the ledger reads all mappings). */
static void lv_setup(void)
{
	vh_setup();
	ck_assert_int_eq(pinsim_set_checkers(sim, PINSIM_CHECKERS_ALWAYS), 0);
	ck_assert_int_eq(pinsim_checker_reset(sim), 0);
}

/* A second container with dev1's group, as QEMU makes one per IOMMU group. */
static int second_container(void)
{
	int c = vh_open_container();

	vh_group_set_container(&dev1, c);
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), 0);
	vh_get_device(&dev1);
	return c;
}

/*
 * Two containers of one process and an mlock()ed range add up: container A
 * maps 4 pages, container B 4 pages of which 2 are A's too (pinned and
 * charged twice, once per vfio_dma, as in the kernel) and the 3 mlocked
 * pages (charged by mlock and again by B).  Each UNMAP_DMA and each
 * release compares, and nothing is reported.
 */
START_TEST(test_two_containers_and_mlock_of_one_mm_add_up)
{
	int a = vh_container(VFIO_TYPE1v2_IOMMU), b = second_container();
	uint64_t va = vh_mmap(8 * PG, RW, ANON), lk = vh_mmap(3 * PG, RW, ANON);
	uint64_t before = vh_locked_vm();
	unsigned long checked = ledger_checked();

	vh_touch(va, 8 * PG, PG);
	vh_touch(lk, 3 * PG, PG);
	ck_assert_int_eq(pinsim_mlock(proc, lk, 3 * PG, 0), 0);
	vh_map_ok(a, va, IOVA, 4 * PG);
	vh_map_ok(b, va + 2 * PG, IOVA, 4 * PG);
	vh_map_ok(b, lk, IOVA + 16 * PG, 3 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before + 3 + 4 + 4 + 3);

	vh_unmap_ok(a, IOVA, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before + 3 + 4 + 3);
	ck_assert_uint_eq(ledger_checked(), checked + 1);
	vh_unmap_ok(b, IOVA + 16 * PG, 3 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before + 3 + 4);
	ck_assert_uint_eq(ledger_checked(), checked + 2);
	/* B's last mapping goes with its container: checked for its owner. */
	ck_assert_int_eq(pinsim_close(proc, dev1.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev1.group), 0);
	ck_assert_int_eq(pinsim_close(proc, b), 0);
	ck_assert_uint_eq(vh_locked_vm(), before + 3);
	ck_assert_uint_eq(ledger_checked(), checked + 3);
	ck_assert_int_eq(pinsim_munlock(proc, lk, 3 * PG), 0);
	ck_assert_uint_eq(vh_locked_vm(), before);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
}
END_TEST

/*
 * Long-term pins of the pin API (pinsim_pin_user_pages(): charged to
 * locked_vm as drivers/fpga/dfl-afu-dma-region.c afu_dma_pin_pages() does)
 * next to a DMA mapping of the same pages: each charges, the ledger
 * counts both, the UNMAP_DMA compares and reports nothing; after the
 * unpin locked_vm is back where it was.  Before the pins were a source of
 * the ledger this unmap drew a false locked-vm report.
 */
START_TEST(test_long_term_pins_and_a_dma_mapping_add_up)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	uint64_t before = vh_locked_vm();
	unsigned long checked = ledger_checked();
	struct pinsim_pin *pin;

	vh_touch(va, 4 * PG, PG);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, va, 2 * PG, 1, &pin), 0);
	ck_assert_uint_eq(vh_locked_vm(), before + 2);
	vh_map_ok(c, va, IOVA, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before + 2 + 4);
	vh_unmap_ok(c, IOVA, 4 * PG);
	ck_assert_uint_eq(ledger_checked(), checked + 1);
	ck_assert_uint_eq(vh_locked_vm(), before + 2);
	ck_assert_int_eq(pinsim_unpin_user_pages(pin), 0);
	ck_assert_uint_eq(vh_locked_vm(), before);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
}
END_TEST

/* A charge made behind the ledger's back, as a driver that leaks one would. */
static long stray_charge(void *arg)
{
	return account_locked_vm(current->mm, *(unsigned long *)arg, true);
}

/*
 * locked_vm 3 pages above what mlock and the live mappings account: the
 * next UNMAP_DMA reports it once, with both shares, although type1's own
 * bookkeeping (its vfio_dma->locked_vm) is in order.
 */
START_TEST(test_charge_no_mapping_accounts_is_reported_at_unmap)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	uint64_t before = vh_locked_vm();
	unsigned long stray = 3;
	struct pinsim_checker_report r;

	ck_assert_uint_eq(before, 0);
	vh_touch(va, 4 * PG, PG);
	vh_map_ok(c, va, IOVA, 4 * PG);
	ck_assert_int_eq(in_proc(proc, stray_charge, &stray), 0);
	ck_assert_uint_eq(vh_locked_vm(), 4 + 3);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
	vh_unmap_ok(c, IOVA, 4 * PG);
	ck_assert_uint_eq(nr_reports("locked-vm", &r), 1);
	ck_assert_msg(strstr(r.text, "VFIO_IOMMU_UNMAP_DMA: locked_vm of ") &&
			      strstr(r.text, "is 3 pages, its live charges account 0: VM_LOCKED "
					     "VMAs 0, pinned pages of its DMA mappings and long-term pins 0"),
		      "%s", r.text);
	ck_assert_int_eq(pinsim_checker_reset(sim), 0);
}
END_TEST

/* The same stray charge with the checkers off: nothing compares. */
START_TEST(test_charge_no_mapping_accounts_unreported_with_checkers_off)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(4 * PG, RW, ANON);
	unsigned long stray = 3, checked = ledger_checked();

	ck_assert_int_eq(pinsim_set_checkers(sim, PINSIM_CHECKERS_OFF), 0);
	vh_touch(va, 4 * PG, PG);
	vh_map_ok(c, va, IOVA, 4 * PG);
	ck_assert_int_eq(in_proc(proc, stray_charge, &stray), 0);
	vh_unmap_ok(c, IOVA, 4 * PG);
	ck_assert_uint_eq(ledger_checked(), checked);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
	ck_assert_int_eq(pinsim_set_checkers(sim, PINSIM_CHECKERS_ALWAYS), 0);
}
END_TEST

/*
 * A device BAR (MMIO, no struct page: is_invalid_reserved_pfn()) mapped
 * for peer-to-peer DMA charges nothing; next to RAM in the same container
 * the ledger counts only the RAM.
 */
START_TEST(test_bar_mapping_charges_nothing)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(2 * PG, RW, ANON), bar;
	uint64_t before = vh_locked_vm();
	unsigned long checked = ledger_checked();

	bar = vh_bar_mmap(&dev0, 4, 0, 16 * PG, RW, 0);
	vh_touch(va, 2 * PG, PG);
	vh_map_ok(c, bar, IOVA, 16 * PG);
	vh_map_ok(c, va, IOVA + 64 * PG, 2 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before + 2);
	vh_unmap_ok(c, IOVA + 64 * PG, 2 * PG);
	vh_unmap_ok(c, IOVA, 16 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before);
	ck_assert_uint_eq(ledger_checked(), checked + 2);
	ck_assert_int_eq(pinsim_checker_reports(sim, NULL, 0), 0);
}
END_TEST

/*
 * test_checkers.c's SIGKILLed unmap (vfio_lock_acct()'s killable
 * mmap_write_lock fails under a numa_maps reader, vfio_unmap_unpin()
 * ignores it: 4 pages stay charged to the live process), on either type1:
 * one locked-vm report in the run that did it.  The rewrite names the
 * mapping (vfio_check_removed_dma()); the kernel tree's type1 has no such
 * hook, and the per-mm ledger finds it from machine state.
 */
START_TEST(test_killed_unmap_leaving_a_charge_is_reported_on_either_type1)
{
	struct pinsim_sched_result *res = calloc(1, sizeof(*res));
	struct kill_race k = { 0 };
	struct pinsim_checker_report r;

	ck_assert_ptr_nonnull(res);
	kill_unmap_race_run(&k, IOVA, res);
	ck_assert_uint_eq(nr_reports("locked-vm", &r), 1);
	if (vh_impl_tree())
		ck_assert_msg(strstr(r.text, "VFIO_IOMMU_UNMAP_DMA: locked_vm of ") &&
				      strstr(r.text, "is 4 pages, its live charges account 0"),
			      "%s", r.text);
	else
		ck_assert_msg(strstr(r.text, "unpinned but 4 pages still charged"), "%s", r.text);
	ck_assert_int_eq(pinsim_checker_reset(sim), 0);
	free(res);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("locked_vm");
	TCase *tc = vh_tcase(s, "per_mm_ledger", lv_setup);

	tcase_add_test(tc, test_two_containers_and_mlock_of_one_mm_add_up);
	tcase_add_test(tc, test_long_term_pins_and_a_dma_mapping_add_up);
	tcase_add_test(tc, test_charge_no_mapping_accounts_is_reported_at_unmap);
	tcase_add_test(tc, test_charge_no_mapping_accounts_unreported_with_checkers_off);
	tcase_add_test(tc, test_bar_mapping_charges_nothing);
	tcase_add_test(tc, test_killed_unmap_leaving_a_charge_is_reported_on_either_type1);
	return s;
}
