// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/pid/numa_maps (fs/proc/task_mmu.c show_numa_map(), reference §5,
 * checklist 51 and 53): the rendered counts are the pages really mapped,
 * in the kernel's units and tag order; a BAR VMA counts nothing; a read
 * zaps the BAR's 1G PUD leaves and leaves its 2M PMD leaves alone.
 */
#include <linux/mman.h>
#include <sys/mman.h>
#include <time.h>

#include "harness.h"
#include "kernel_profiles.h"
#include "mm_fixtures.h"
#include "sched_point.h"
#include "scheduler.h"
#include "task_mmu.h"
#include "vfio_pci.h"

#define ANON_VA 0x7e0000000000UL
#define BAR_VA 0x7f0000000000UL		/* 1 GiB aligned */
#define BAR_PMD_VA 0x7f8000200000UL	/* 2 MiB aligned, not 1 GiB */
#define TEXT_LEN 8192

/* ---------------- helpers ---------------- */

static unsigned long map_anon(struct mm_struct *mm, unsigned long addr, unsigned long len,
			      unsigned long flags)
{
	unsigned long a = vm_mmap(mm, NULL, addr, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | flags, 0);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap: %ld", (long)a);
	return a;
}





static char text[TEXT_LEN];

static void read_numa_maps(struct mm_struct *mm)
{
	long n = numa_maps_read(mm, text, sizeof(text));

	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, sizeof(text));
	ck_assert_uint_eq(strlen(text), (size_t)n);
}

/* The line of the VMA starting at @start, without its newline. */
static const char *line_of(unsigned long start)
{
	static char line[512];
	char key[32];
	const char *p = text;

	snprintf(key, sizeof(key), "%08lx ", start);
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (!strncmp(p, key, strlen(key))) {
			ck_assert_uint_lt(n, sizeof(line));
			memcpy(line, p, n);
			line[n] = '\0';
			return line;
		}
		p = eol ? eol + 1 : NULL;
	}
	ck_abort_msg("no numa_maps line for %#lx in:\n%s", start, text);
	return NULL;
}

static unsigned long count_lines(void)
{
	unsigned long n = 0;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

/* ---------------- anonymous memory ---------------- */

START_TEST(test_anon_4k_counts_each_faulted_page)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long va = map_anon(mm, ANON_VA, 64 * PAGE_SIZE, MAP_FIXED);
	unsigned long idle = map_anon(mm, ANON_VA + 128 * PAGE_SIZE, 8 * PAGE_SIZE, MAP_FIXED);

	for (int i = 0; i < 10; i++)
		touch(mm, va + i * 5 * PAGE_SIZE, true);
	read_numa_maps(mm);

	ck_assert_str_eq(line_of(va),
			 "7e0000000000 default anon=10 dirty=10 N0=10 kernelpagesize_kB=4");
	/* Nothing mapped: no counters at all, not even kernelpagesize_kB. */
	ck_assert_str_eq(line_of(idle), "7e0000080000 default");
	ck_assert_uint_eq(count_lines(), 2);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

START_TEST(test_thp_counts_512_small_pages)
{
	struct mm_struct *mm;
	unsigned long va;

	tm_cfg.thp = THP_ALWAYS;
	tm_setup_with(&tm_cfg);
	mm = tm_mm("qemu");
	va = map_anon(mm, ANON_VA, 4 * MiB, MAP_FIXED);
	touch(mm, va, true);
	ck_assert_int_eq(level_at(mm, va), PGTABLE_PMD);

	read_numa_maps(mm);
	/* gather_pte_stats(): one huge PMD = HPAGE_PMD_NR pages, 4K page size. */
	ck_assert_str_eq(line_of(va),
			 "7e0000000000 default anon=512 dirty=512 N0=512 kernelpagesize_kB=4");
	/* A read never splits a THP: no ->pte_entry. */
	ck_assert_int_eq(level_at(mm, va), PGTABLE_PMD);
	mmput(mm);
}
END_TEST

/* ---------------- hugetlb ---------------- */

START_TEST(test_hugetlb_2m_counts_huge_pages)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long va = map_anon(mm, 0, 6 * MiB, MAP_HUGETLB | MAP_HUGE_2MB);
	char want[160];

	touch(mm, va, true);
	touch(mm, va + 4 * MiB, true);
	read_numa_maps(mm);

	/* gather_hugetlb_stats() counts 1 per huge page; the size says 2M. */
	snprintf(want, sizeof(want),
		 "%08lx default file=/anon_hugepage\\040(deleted) huge anon=2 dirty=2 N0=2 "
		 "kernelpagesize_kB=2048", va);
	ck_assert_str_eq(line_of(va), want);
	mmput(mm);
}
END_TEST

START_TEST(test_hugetlb_1g_counts_huge_pages)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long va = map_anon(mm, 0, 2 * GiB, MAP_HUGETLB | MAP_HUGE_1GB);
	char want[160];

	touch(mm, va + GiB + 12345, true);
	ck_assert_int_eq(level_at(mm, va + GiB), PGTABLE_PUD);
	read_numa_maps(mm);

	snprintf(want, sizeof(want),
		 "%08lx default file=/anon_hugepage\\040(deleted) huge anon=1 dirty=1 N0=1 "
		 "kernelpagesize_kB=1048576", va);
	ck_assert_str_eq(line_of(va), want);
	/* hugetlb PUDs are walked by ->hugetlb_entry, never split. */
	ck_assert_int_eq(level_at(mm, va + GiB), PGTABLE_PUD);
	mmput(mm);
}
END_TEST

/* ---------------- the BAR: checklist 51 and 53 ---------------- */

START_TEST(test_bar_counts_nothing_and_loses_pud_leaves_keeps_pmd_leaves)
{
	struct mm_struct *mm = tm_mm("qemu");
	struct vfio_pci_core_device *vdev = make_bar(2 * GiB);
	unsigned long pud_va = map_bar(mm, vdev, BAR_VA, 2 * GiB);
	unsigned long pmd_va = map_bar(mm, vdev, BAR_PMD_VA, 4 * MiB);

	touch(mm, pud_va, false);
	touch(mm, pud_va + GiB, true);
	touch(mm, pmd_va, false);
	touch(mm, pmd_va + 2 * MiB, true);
	ck_assert_int_eq(level_at(mm, pud_va), PGTABLE_PUD);
	ck_assert_int_eq(level_at(mm, pud_va + GiB), PGTABLE_PUD);
	ck_assert_int_eq(level_at(mm, pmd_va), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, pmd_va + 2 * MiB), PGTABLE_PMD);

	read_numa_maps(mm);
	/* vm_normal_page*() is NULL for special entries: no counters. */
	ck_assert_str_eq(line_of(pud_va), "7f0000000000 default file=anon_inode:[vfio-device]");
	ck_assert_str_eq(line_of(pmd_va), "7f8000200000 default file=anon_inode:[vfio-device]");
	/* No ->pud_entry: every PUD leaf was split, i.e. zapped ... */
	ck_assert_int_eq(level_at(mm, pud_va), PGTABLE_NONE);
	ck_assert_int_eq(level_at(mm, pud_va + GiB), PGTABLE_NONE);
	/* ... but no ->pte_entry: the PMD leaves stay. */
	ck_assert_int_eq(level_at(mm, pmd_va), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, pmd_va + 2 * MiB), PGTABLE_PMD);
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_uint_eq(sim_warn_count(), 0);

	/* The next access refaults at PUD order. */
	touch(mm, pud_va, false);
	ck_assert_int_eq(level_at(mm, pud_va), PGTABLE_PUD);
	mmput(mm);
}
END_TEST

/* ---------------- tags and the read interface ---------------- */

START_TEST(test_heap_and_stack_tags_follow_mm_brk_and_start_stack)
{
	struct mm_struct *mm = tm_mm("qemu");
	unsigned long heap = map_anon(mm, 0x10000000UL, 16 * PAGE_SIZE, MAP_FIXED);
	unsigned long stack = map_anon(mm, 0x7ff000000000UL, 16 * PAGE_SIZE,
				       MAP_FIXED | MAP_GROWSDOWN);

	mm->start_brk = heap;
	mm->brk = heap + 8 * PAGE_SIZE;
	mm->start_stack = stack + 15 * PAGE_SIZE;
	touch(mm, stack + 15 * PAGE_SIZE, true);
	read_numa_maps(mm);

	ck_assert_str_eq(line_of(heap), "10000000 default heap");
	ck_assert_str_eq(line_of(stack),
			 "7ff000000000 default stack anon=1 dirty=1 N0=1 kernelpagesize_kB=4");
	mmput(mm);
}
END_TEST

/*
 * The text is cut at @len - 1 and NUL-terminated, as pinsim.h promises
 * (snprintf-like; the fuzzer's regress-numa-maps-no-nul: it filled all @len
 * bytes with no NUL), and nothing past @len is written.
 */
START_TEST(test_short_buffer_truncates_to_len_minus_1_and_nul_terminates)
{
	const char *expect = "7e0000000000 default\n7e0000002000 default\n";
	struct mm_struct *mm = tm_mm("qemu");
	char small[64];
	long full, n;

	map_anon(mm, ANON_VA, PAGE_SIZE, MAP_FIXED);
	map_anon(mm, ANON_VA + 2 * PAGE_SIZE, PAGE_SIZE, MAP_FIXED);
	full = numa_maps_read(mm, text, sizeof(text));
	ck_assert_int_eq(full, strlen(expect));

	memset(small, 'X', sizeof(small));
	n = numa_maps_read(mm, small, 10);
	ck_assert_int_eq(n, 9);
	ck_assert(!memcmp(small, "7e0000000", 9));
	ck_assert_int_eq(small[9], '\0');
	ck_assert_int_eq(small[10], 'X');	/* nothing past @len */

	/* Exactly the text's length: its last byte gives way to the NUL. */
	memset(small, 'X', sizeof(small));
	n = numa_maps_read(mm, small, (size_t)full);
	ck_assert_int_eq(n, full - 1);
	ck_assert(!memcmp(small, expect, (size_t)full - 1));
	ck_assert_int_eq(small[full - 1], '\0');
	ck_assert_int_eq(small[full], 'X');

	/* One more byte: the whole text and its NUL. */
	n = numa_maps_read(mm, small, (size_t)full + 1);
	ck_assert_int_eq(n, full);
	ck_assert_str_eq(small, expect);

	/* One byte: only the NUL; none: nothing written at all. */
	memset(small, 'X', sizeof(small));
	ck_assert_int_eq(numa_maps_read(mm, small, 1), 0);
	ck_assert_int_eq(small[0], '\0');
	ck_assert_int_eq(small[1], 'X');
	memset(small, 'X', sizeof(small));
	ck_assert_int_eq(numa_maps_read(mm, small, 0), 0);
	ck_assert_int_eq(small[0], 'X');
	mmput(mm);
}
END_TEST

START_TEST(test_read_blocked_on_mmap_lock_returns_eintr_when_killed)
{
	struct mm_struct *mm = tm_mm("qemu");

	map_anon(mm, ANON_VA, PAGE_SIZE, MAP_FIXED);
	mmap_write_lock(mm);
	send_sig_kill(current);
	/* mmap_read_lock_killable() of m_start(): contended and killed. */
	ck_assert_int_eq(numa_maps_read(mm, text, sizeof(text)), -EINTR);
	mmap_write_unlock(mm);
	ck_assert(!rwsem_is_locked(&mm->mmap_lock));
	mmput(mm);
}
END_TEST

START_TEST(test_walker_thread_completes_its_reads)
{
	struct mm_struct *mm = tm_mm("qemu");
	const struct numa_maps_walker_opts opts = {
		.interval_us = 100, .max_iterations = 5, .comm = "numastat",
	};
	struct numa_maps_walker_result res;
	struct numa_maps_walker *w;
	struct timespec ts = { .tv_nsec = 1000000 };

	map_anon(mm, ANON_VA, 4 * MiB, MAP_FIXED);
	touch(mm, ANON_VA, true);
	w = numa_maps_walker_start(mm, &opts);
	ck_assert_ptr_nonnull(w);
	for (int i = 0; i < 10000 && !numa_maps_walker_done(w); i++)
		nanosleep(&ts, NULL);
	ck_assert(numa_maps_walker_done(w));
	numa_maps_walker_stop(w, &res);
	ck_assert_uint_eq(res.reads, 5);
	ck_assert(!res.oopsed);
	ck_assert(!res.hung);
	ck_assert_int_eq(res.last_errno, 0);
	ck_assert(!rwsem_is_locked(&mm->mmap_lock));
	mmput(mm);
}
END_TEST

START_TEST(test_walker_thread_runs_until_stopped)
{
	struct mm_struct *mm = tm_mm("qemu");
	const struct numa_maps_walker_opts opts = { .interval_us = 50 };
	struct numa_maps_walker_result res;
	struct numa_maps_walker *w;
	struct timespec ts = { .tv_nsec = 1000000 };

	map_anon(mm, ANON_VA, PAGE_SIZE, MAP_FIXED);
	w = numa_maps_walker_start(mm, &opts);
	ck_assert_ptr_nonnull(w);
	for (int i = 0; i < 10000 && numa_maps_walker_reads(w) < 3; i++)
		nanosleep(&ts, NULL);
	/* No iteration limit: it only stops when told to. */
	ck_assert(!numa_maps_walker_done(w));
	numa_maps_walker_stop(w, &res);
	ck_assert_uint_ge(res.reads, 3);
	ck_assert(!res.oopsed);
	ck_assert(!res.hung);
	mmput(mm);
}
END_TEST

/*
 * A reader stuck behind the mmap lock does not come back by itself; stop
 * reports it as hung and ends it with a fatal signal (killable wait).
 */
START_TEST(test_walker_stop_reports_blocked_reader_as_hung)
{
	struct mm_struct *mm = tm_mm("qemu");
	const struct numa_maps_walker_opts opts = { .comm = "numastat" };
	struct numa_maps_walker_result res;
	struct timespec ts = { .tv_nsec = 1000000 };
	struct numa_maps_walker *w;

	map_anon(mm, ANON_VA, PAGE_SIZE, MAP_FIXED);
	mmap_write_lock(mm);
	w = numa_maps_walker_start(mm, &opts);
	ck_assert_ptr_nonnull(w);
	/* In a read and blocked: the write lock is ours. */
	for (int i = 0; i < 10000 && !numa_maps_walker_in_read(w); i++)
		nanosleep(&ts, NULL);
	ck_assert(numa_maps_walker_in_read(w));
	numa_maps_walker_stop(w, &res);
	ck_assert(res.hung);
	ck_assert(!res.oopsed);
	ck_assert_uint_eq(res.reads, 0);
	ck_assert_int_eq(res.last_errno, -EINTR);
	ck_assert(fatal_signal_pending(current));	/* the whole group got it */
	mmap_write_unlock(mm);
	ck_assert(!rwsem_is_locked(&mm->mmap_lock));
	mmput(mm);
}
END_TEST


/* ---------------- kernel versions ---------------- */

/* The mm-side switches of a named kernel on the test machine. */
static void setup_kernel(const char *version)
{
	struct machine_config mc;
	struct vfio_type1_config vc;

	ck_assert_int_eq(kernel_profile_configs(version, &mc, &vc), 0);
	tm_cfg.pagewalk_fixed = mc.pagewalk_fixed;
	tm_cfg.pagewalk_stale_action_fix = mc.pagewalk_stale_action_fix;
	tm_cfg.special_bit_per_level = mc.special_bit_per_level;
	tm_cfg.task_mmu_hugetlb_ptl = mc.task_mmu_hugetlb_ptl;
	tm_cfg.vfio_pci_mmap_align = mc.vfio_pci_mmap_align;
	tm_setup_with(&tm_cfg);
}

/* The PMD entry that maps @addr (its PUD must be a table). */
static pmd_t *pmd_of(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	pud_t *pud;

	ck_assert(pgd_present(pgdp_get(pgd)));
	pud = pud_offset(p4d_offset(pgd, addr), addr);
	ck_assert(pud_present(pudp_get(pud)) && !pud_leaf(pudp_get(pud)));
	return pmd_offset(pud, addr);
}

/*
 * "fs/proc/task_mmu: hold PTL in pagemap_hugetlb_range and
 * gather_hugetlb_stats" (v6.17-rc2; not in 6.12.118).  A task holds the
 * huge PTE lock of a hugetlb page and ends; a numa_maps read follows, both
 * under the deterministic scheduler.  6.12 reads the entry without the lock
 * and finishes; upstream waits for the lock, which nobody will release: the
 * scheduler reports the deadlock instead of hanging.
 */
static const struct {
	const char *kernel;
	bool takes_ptl;
	bool gigantic;
} hugetlb_ptl_cases[] = {
	{ "6.12.118", false, false },
	{ "6.12.118", false, true },
	{ "7.0", true, false },
	{ "upstream", true, false },
	{ "upstream", true, true },
};

struct ptl_holder {
	struct mm_struct *mm;
	spinlock_t *ptl;
	long nread;
};

static long hold_ptl_and_end(void *arg)
{
	spin_lock(((struct ptl_holder *)arg)->ptl);
	return 0;
}

static long read_numa_maps_task(void *arg)
{
	return numa_maps_read(((struct ptl_holder *)arg)->mm, text, sizeof(text));
}

START_TEST(test_gather_hugetlb_stats_huge_pte_lock_by_kernel)
{
	const char *kernel = hugetlb_ptl_cases[_i].kernel;
	const bool takes_ptl = hugetlb_ptl_cases[_i].takes_ptl;
	const bool gigantic = hugetlb_ptl_cases[_i].gigantic;
	struct ptl_holder hold = { 0 };
	struct sched_thread t[2] = {
		{ .name = "holder", .fn = hold_ptl_and_end, .arg = &hold },
		{ .name = "numa_maps", .fn = read_numa_maps_task, .arg = &hold },
	};
	struct sched_strategy st;
	struct sched_result res;
	struct mm_struct *mm;
	unsigned long va;
	char want[160];

	setup_kernel(kernel);
	mm = tm_mm("qemu");
	va = map_anon(mm, 0, gigantic ? GiB : 2 * MiB,
		      MAP_HUGETLB | (gigantic ? MAP_HUGE_1GB : MAP_HUGE_2MB));
	touch(mm, va, true);
	/* huge_pte_lock(): page_table_lock for 1G, the PMD table's lock for 2M. */
	hold.mm = mm;
	hold.ptl = gigantic ? &mm->page_table_lock : pmd_lockptr(mm, pmd_of(mm, va));
	snprintf(want, sizeof(want),
		 "%08lx default file=/anon_hugepage\\040(deleted) huge anon=1 dirty=1 N0=1 "
		 "kernelpagesize_kB=%lu", va, gigantic ? 1048576UL : 2048UL);

	t[0].mm = t[1].mm = mm;
	sched_strategy_init(&st);	/* SCHED_DEFAULT: the holder, then the reader */
	ck_assert_int_eq(sched_run(t, 2, &st, &res), 0);
	ck_assert_int_eq(t[0].ret, 0);
	if (takes_ptl) {
		ck_assert_msg(res.status == SCHED_DEADLOCK, "%s: status %d", kernel, res.status);
		ck_assert_int_eq(t[1].ret, -ECANCELED);
	} else {
		ck_assert_msg(res.status == SCHED_DONE, "%s: status %d (%s)", kernel, res.status,
			      res.report);
		ck_assert_int_gt(t[1].ret, 0);
		ck_assert_str_eq(line_of(va), want);
	}
	/* The lock is still the ended holder's in both versions. */
	ck_assert(spin_is_locked(hold.ptl));
	ck_assert(!spin_is_held_by_me(hold.ptl));
	/*
	 * Nobody can release it: its holder is gone, and a spin_unlock() by
	 * this task would be an unlock of a lock it does not hold (lockdep's
	 * bad unlock balance).  The test frees it as a reboot would, by
	 * initialising it again.
	 */
	spin_lock_init(hold.ptl);

	/* With the lock free a read gives the same line everywhere. */
	read_numa_maps(mm);
	ck_assert_str_eq(line_of(va), want);
	ck_assert_uint_eq(sim_oops_count(), 0);
	mmput(mm);
}
END_TEST

/*
 * numa_maps under "mm/pagewalk: fix stale walk->action escaping
 * walk_pmd_range()" (6.12.115).  The second PTE table of the VMA goes away
 * just before gather_pte_stats() locks it (a concurrent page-table retract,
 * at the SP_PTL point of pte_offset_map_lock()), so gather_pte_stats() asks
 * for ACTION_AGAIN and the retry finds the PMD none.  On 6.12.84..6.12.114 and 7.0
 * that ACTION_AGAIN escapes to walk_pud_range(), which walks the VMA again:
 * the first table's pages are counted twice.
 */
static const struct {
	const char *kernel;
	bool double_counts;
} stale_numa_cases[] = {
	{ "6.12.74", false },
	{ "6.12.113", true },
	{ "6.12.115", false },
	{ "6.12.118", false },
	{ "7.0", true },
	{ "upstream", false },
};

struct vanish_ctx {
	struct mm_struct *mm;
	unsigned long addr;
	pmd_t *pmd;
	pmd_t saved;
	bool done;
};

static void vanish_pte_table_at_ptl(enum sched_point_id id, struct mm_struct *mm,
				    unsigned long addr, void *priv)
{
	struct vanish_ctx *c = priv;
	spinlock_t *ptl;

	if (c->done || mm != c->mm || addr != c->addr)
		return;
	c->done = true;
	c->pmd = pmd_of(mm, addr);
	ptl = pmd_lock(mm, c->pmd);
	c->saved = pmdp_huge_get_and_clear(c->pmd);
	spin_unlock(ptl);
}

START_TEST(test_numa_maps_counts_twice_on_stale_walk_action)
{
	const char *kernel = stale_numa_cases[_i].kernel;
	const bool double_counts = stale_numa_cases[_i].double_counts;
	struct vanish_ctx c = { 0 };
	struct mm_struct *mm;
	spinlock_t *ptl;
	unsigned long va;

	setup_kernel(kernel);
	mm = tm_mm("qemu");
	va = map_anon(mm, ANON_VA, 4 * MiB, MAP_FIXED);
	for (int i = 0; i < 3; i++)
		touch(mm, va + i * PAGE_SIZE, true);
	touch(mm, va + 2 * MiB, true);

	c.mm = mm;
	c.addr = va + 2 * MiB;
	sched_point_arm(SP_PTL, vanish_pte_table_at_ptl, &c);
	read_numa_maps(mm);
	sched_point_disarm(SP_PTL);
	ck_assert(c.done);
	/* The re-walk hands the first PMD to gather_pte_stats() twice: the walker checker's. */
	if (double_counts)
		harness_expect_checker_if_always(CHECK_WALK_REPEAT, 1);

	/* 3 pages in the first table, the second table gone. */
	ck_assert_msg(!strcmp(line_of(va), double_counts ?
			      "7e0000000000 default anon=6 dirty=6 N0=6 kernelpagesize_kB=4" :
			      "7e0000000000 default anon=3 dirty=3 N0=3 kernelpagesize_kB=4"),
		      "%s: %s", kernel, line_of(va));

	ptl = pmd_lock(mm, c.pmd);
	set_pmd(c.pmd, c.saved);
	spin_unlock(ptl);
	read_numa_maps(mm);
	ck_assert_str_eq(line_of(va),
			 "7e0000000000 default anon=4 dirty=4 N0=4 kernelpagesize_kB=4");
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

static void cfg_setup(void)
{
	tm_defaults(&tm_cfg);
}

Suite *make_suite(void)
{
	Suite *s = suite_create("numa_maps");
	TCase *tc = tm_tcase(s, "render");
	TCase *cfg;

	tcase_add_test(tc, test_anon_4k_counts_each_faulted_page);
	tcase_add_test(tc, test_hugetlb_2m_counts_huge_pages);
	tcase_add_test(tc, test_hugetlb_1g_counts_huge_pages);
	tcase_add_test(tc, test_bar_counts_nothing_and_loses_pud_leaves_keeps_pmd_leaves);
	tcase_add_test(tc, test_heap_and_stack_tags_follow_mm_brk_and_start_stack);
	tcase_add_test(tc, test_short_buffer_truncates_to_len_minus_1_and_nul_terminates);
	tcase_add_test(tc, test_read_blocked_on_mmap_lock_returns_eintr_when_killed);

	tc = tm_tcase(s, "walker");
	tcase_add_test(tc, test_walker_thread_completes_its_reads);
	tcase_add_test(tc, test_walker_thread_runs_until_stopped);
	tcase_add_test(tc, test_walker_stop_reports_blocked_reader_as_hung);

	cfg = tcase_create("thp");
	tcase_add_checked_fixture(cfg, cfg_setup, tm_teardown);
	tcase_set_timeout(cfg, 60);
	tcase_add_test(cfg, test_thp_counts_512_small_pages);
	suite_add_tcase(s, cfg);

	cfg = tcase_create("kernels");
	tcase_add_checked_fixture(cfg, cfg_setup, tm_teardown);
	tcase_set_timeout(cfg, 60);
	tcase_add_loop_test(cfg, test_gather_hugetlb_stats_huge_pte_lock_by_kernel, 0,
			    (int)(sizeof(hugetlb_ptl_cases) / sizeof(hugetlb_ptl_cases[0])));
	tcase_add_loop_test(cfg, test_numa_maps_counts_twice_on_stale_walk_action, 0,
			    (int)(sizeof(stale_numa_cases) / sizeof(stale_numa_cases[0])));
	suite_add_tcase(s, cfg);
	return s;
}
