// SPDX-License-Identifier: GPL-2.0-only
/*
 * The seeds/01 race, both sides of 9b25a6e3d243 ("mm/pagewalk: fix race
 * between concurrent split and refault"), issue 3 "Scenarios that must be
 * tests":
 *
 *  1. pre-fix walker, BAR on a 1G PUD leaf: split → refault → descend oopses
 *     (illegal read of the MMIO pfn), the reader dies holding mmap_lock for
 *     read, and munmap plus a later numa_maps read hang behind it;
 *  2. the same interleaving with the fixed walker: ACTION_AGAIN, converges;
 *  3. the BAR at PMD level: no oops with either walker, because
 *     pte_offset_map_lock() re-checks the PMD under its lock;
 *  4. numa_maps of a process with 4K, THP, hugetlb 2M/1G and a BAR.
 *
 * How the interleaving is forced: the schedule-point callback runs on the
 * walker's thread, at the point where the walker (T1) has just split the
 * PUD and holds mmap_lock for read.  The callback then does what the pinning
 * thread (T2: VFIO_IOMMU_MAP_DMA → vaddr_get_pfns → follow_fault_pfn →
 * fixup_user_fault) does in seeds/01, under its own mmap read lock.  Since a
 * read lock is shared, "T2 takes the read lock and faults" and "T1 holding
 * the read lock calls the fault path" are the same state transition: the
 * refault runs exactly between T1's split and T1's descent, which is the
 * window the kernel race needs.  Every test prints the schedule it used.
 */
#include <linux/mman.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <time.h>

#include "harness.h"
#include "mm_fixtures.h"
#include "pagewalk.h"
#include "sched_point.h"
#include "task_mmu.h"
#include "vfio_pci.h"

#define BAR_VA 0x7f0000000000UL		/* 1 GiB aligned */
#define BAR_PMD_VA 0x7f8000200000UL	/* 2 MiB aligned, not 1 GiB */
#define HANG_WRITER_NS (2000ULL * 1000 * 1000)
#define HANG_READER_NS (100ULL * 1000 * 1000)

/* ---------------- helpers ---------------- */


static unsigned long map_anon(struct mm_struct *mm, unsigned long addr, unsigned long len,
			      unsigned long flags)
{
	unsigned long a = vm_mmap(mm, NULL, addr, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | flags, 0);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap: %ld", (long)a);
	ck_assert_uint_eq(a, addr);
	return a;
}




static const char *level_name(enum pgtable_level l)
{
	static const char *const names[] = { "none", "PTE", "PMD leaf", "PUD leaf" };

	return names[l];
}

/* Wait (bounded) for the walker thread to finish on its own. */
static void wait_walker_done(struct numa_maps_walker *w)
{
	struct timespec ts = { .tv_nsec = 1000000 };

	for (int i = 0; i < 20000 && !numa_maps_walker_done(w); i++)
		nanosleep(&ts, NULL);
	ck_assert_msg(numa_maps_walker_done(w), "walker did not finish");
}

/* ---------------- the scripted T2 ---------------- */

struct race {
	struct mm_struct *mm;
	unsigned long lo, hi;		/* the BAR VMA */
	enum sched_point_id refault_at;	/* the split point T2 refaults at */
	int refaults_left;		/* T2 refaults at this many splits */
	unsigned long pud_splits, pmd_splits, refaults;
	unsigned long descents, descents_on_non_table;
	char schedule[1024];
	size_t len;
};

static void sched_log(struct race *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sched_log(struct race *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->len >= sizeof(r->schedule))
		return;
	if (r->len) {
		n = snprintf(r->schedule + r->len, sizeof(r->schedule) - r->len, ", ");
		r->len += n > 0 ? (size_t)n : 0;
	}
	va_start(ap, fmt);
	n = vsnprintf(r->schedule + r->len, sizeof(r->schedule) - r->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->len += (size_t)n;
	if (r->len > sizeof(r->schedule) - 1)
		r->len = sizeof(r->schedule) - 1;
}

/* T2: fixup_user_fault() of follow_fault_pfn(), under the shared read lock. */
static void t2_refault(struct race *r, unsigned long addr)
{
	int err;

	r->refaults_left--;
	err = fixup_user_fault(r->mm, addr, 0, NULL);
	r->refaults++;
	sched_log(r, "T2 refault@%#lx=%d (%s)", addr, err, level_name(level_at(r->mm, addr)));
}

static void on_pud_after_split(enum sched_point_id id, struct mm_struct *mm,
			       unsigned long addr, void *priv)
{
	struct race *r = priv;

	if (mm != r->mm || addr < r->lo || addr >= r->hi)
		return;
	r->pud_splits++;
	sched_log(r, "T1 split@%#lx (%s)", addr, level_name(level_at(mm, addr)));
	if (r->refault_at == id && r->refaults_left > 0)
		t2_refault(r, addr);
}

static void on_pmd_entry(enum sched_point_id id, struct mm_struct *mm, unsigned long addr,
			 void *priv)
{
	struct race *r = priv;
	pgd_t *pgd = pgd_offset(mm, addr);
	pud_t pud;

	if (mm != r->mm || addr < r->lo || addr >= r->hi)
		return;
	pud = pudp_get(pud_offset(p4d_offset(pgd, addr), addr));
	r->descents++;
	/* Anything but a PUD table: none after the split, or a leaf again. */
	if (!pud_present(pud) || pud_leaf(pud))
		r->descents_on_non_table++;
	sched_log(r, "T1 descend@%#lx (PUD %s)", addr,
		  !pud_present(pud) ? "none" : pud_leaf(pud) ? "leaf" : "table");
}

static void on_pmd_after_split(enum sched_point_id id, struct mm_struct *mm,
			       unsigned long addr, void *priv)
{
	struct race *r = priv;

	if (mm != r->mm || addr < r->lo || addr >= r->hi)
		return;
	r->pmd_splits++;
	sched_log(r, "T1 pmd-split@%#lx (%s)", addr, level_name(level_at(mm, addr)));
	if (r->refault_at == id && r->refaults_left > 0)
		t2_refault(r, addr);
}

static void race_arm(struct race *r, struct mm_struct *mm, unsigned long lo, unsigned long hi,
		     enum sched_point_id refault_at, int refaults)
{
	memset(r, 0, sizeof(*r));
	r->mm = mm;
	r->refault_at = refault_at;
	r->lo = lo;
	r->hi = hi;
	r->refaults_left = refaults;
	sched_point_arm(SP_WALK_PUD_AFTER_SPLIT, on_pud_after_split, r);
	sched_point_arm(SP_WALK_PMD_ENTRY, on_pmd_entry, r);
	sched_point_arm(SP_WALK_PMD_AFTER_SPLIT, on_pmd_after_split, r);
}

static void race_print(const char *name, struct race *r)
{
	printf("# %s: walker %s, schedule: %s\n", name,
	       machine->cfg.pagewalk_fixed ? "fixed (9b25a6e3d243)" : "pre-fix",
	       r->schedule);
	fflush(stdout);
}

/* ---------------- the hang probes (threads with timed waits only) ---------------- */

struct lock_probe {
	struct mm_struct *mm;
	bool write;
	uint64_t ns;
	int ret;
};

/* A thread that is a task of @mm, like munmap's caller or a /proc reader. */
static void *lock_probe_fn(void *arg)
{
	struct lock_probe *p = arg;
	struct task_struct *t = mm_thread_task(p->mm);

	set_current(t);
	p->ret = p->write ? down_write_timeout(&p->mm->mmap_lock, p->ns)
			  : down_read_timeout(&p->mm->mmap_lock, p->ns);
	if (!p->ret) {
		if (p->write)
			up_write(&p->mm->mmap_lock);
		else
			up_read(&p->mm->mmap_lock);
	}
	/* This host thread is gone: do not let a reused pthread id find t. */
	pthread_mutex_lock(&p->mm->tasks_lock);
	t->host_thread = 0;
	pthread_mutex_unlock(&p->mm->tasks_lock);
	set_current(NULL);
	return NULL;
}

static int waiting_writers(struct rw_semaphore *sem)
{
	return atomic_load(&sem->waiting_writers);
}

/* ---------------- scenario 1 ---------------- */

START_TEST(test_prefix_walker_descends_into_refaulted_pud_leaf_and_oopses)
{
	struct vfio_pci_core_device *vdev;
	const struct numa_maps_walker_opts opts = { .max_iterations = 1, .comm = "numa_reader" };
	struct numa_maps_walker_result res;
	struct lock_probe munmap_probe, reader_probe;
	struct numa_maps_walker *w;
	pthread_t munmap_thr, reader_thr;
	struct oops_record rec;
	struct mm_struct *mm;
	static struct race r;

	tm_cfg.pagewalk_fixed = false;
	tm_setup_with(&tm_cfg);
	mm = tm_mm("qemu");
	vdev = make_bar(GiB);
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PUD);

	race_arm(&r, mm, BAR_VA, BAR_VA + GiB, SP_WALK_PUD_AFTER_SPLIT, 1);
	w = numa_maps_walker_start(mm, &opts);
	ck_assert_ptr_nonnull(w);
	wait_walker_done(w);
	race_print("scenario 1", &r);

	/* T1 split (PUD none), T2 refault (PUD leaf), T1 descend: oops. */
	ck_assert_uint_eq(r.pud_splits, 1);
	ck_assert_uint_eq(r.refaults, 1);
	ck_assert_uint_eq(r.descents, 1);
	ck_assert_uint_eq(r.descents_on_non_table, 1);
	ck_assert_uint_eq(sim_oops_count(), 1);
	ck_assert(sim_last_oops(&rec));
	ck_assert_str_eq(rec.comm, "numa_reader");
	ck_assert_str_eq(rec.func, "walk_pmd_range");
	ck_assert_msg(strstr(rec.why, "illegal read") && strstr(rec.why, "MMIO"), "%s", rec.why);
	/* pmd_offset() took the BAR's first pfn for a PMD table. */
	ck_assert_uint_eq(rec.addr, (uint64_t)vdev->bar[0].pfn << PAGE_SHIFT);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PUD);
	printf("# oops: %s in %s() at %#llx: %s\n", rec.comm, rec.func,
	       (unsigned long long)rec.addr, rec.why);

	/* The reader task is dead and still holds mmap_lock for read. */
	ck_assert(rwsem_held_by_dead(&mm->mmap_lock));
	ck_assert(rwsem_is_locked(&mm->mmap_lock));

	/*
	 * munmap (mmap write lock) waits for the dead reader; a numa_maps read
	 * that arrives meanwhile queues behind the writer (writer preference).
	 */
	munmap_probe = (struct lock_probe){ .mm = mm, .write = true, .ns = HANG_WRITER_NS };
	reader_probe = (struct lock_probe){ .mm = mm, .write = false, .ns = HANG_READER_NS };
	ck_assert_int_eq(pthread_create(&munmap_thr, NULL, lock_probe_fn, &munmap_probe), 0);
	for (int i = 0; i < 10000 && !waiting_writers(&mm->mmap_lock); i++) {
		struct timespec ts = { .tv_nsec = 100000 };

		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(waiting_writers(&mm->mmap_lock), 1);
	ck_assert_int_eq(pthread_create(&reader_thr, NULL, lock_probe_fn, &reader_probe), 0);
	pthread_join(reader_thr, NULL);
	pthread_join(munmap_thr, NULL);
	ck_assert_int_eq(reader_probe.ret, -ETIMEDOUT);
	ck_assert_int_eq(munmap_probe.ret, -ETIMEDOUT);
	ck_assert(rwsem_held_by_dead(&mm->mmap_lock));
	printf("# hang: munmap gave up after %llu ms on mmap_lock held by dead task \"%s\"; "
	       "a numa_maps read queued behind it gave up after %llu ms\n",
	       HANG_WRITER_NS / 1000000, rec.comm, HANG_READER_NS / 1000000);

	numa_maps_walker_stop(w, &res);
	ck_assert(res.oopsed);
	ck_assert_uint_eq(res.reads, 0);
	ck_assert_str_eq(res.oops.func, "walk_pmd_range");
	ck_assert_uint_eq(sim_warn_count(), 0);
	/* No mmput(): the machine teardown handles an mm whose lock a dead task holds. */
}
END_TEST

/* ---------------- scenario 2 ---------------- */

START_TEST(test_fixed_walker_retries_refaulted_pud_and_converges)
{
	const struct numa_maps_walker_opts opts = { .max_iterations = 1, .comm = "numa_reader" };
	/* _i = number of consecutive refaults the pinning side manages. */
	const int refaults = _i;
	struct vfio_pci_core_device *vdev;
	struct numa_maps_walker_result res;
	struct numa_maps_walker *w;
	struct mm_struct *mm;
	static struct race r;
	char text[512], want[128];

	tm_cfg.pagewalk_fixed = true;
	tm_setup_with(&tm_cfg);
	mm = tm_mm("qemu");
	vdev = make_bar(GiB);
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);

	race_arm(&r, mm, BAR_VA, BAR_VA + GiB, SP_WALK_PUD_AFTER_SPLIT, refaults);
	w = numa_maps_walker_start(mm, &opts);
	ck_assert_ptr_nonnull(w);
	wait_walker_done(w);
	numa_maps_walker_stop(w, &res);
	race_print("scenario 2", &r);

	ck_assert(!res.oopsed);
	ck_assert_uint_eq(res.reads, 1);
	ck_assert_int_eq(res.last_errno, 0);
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_uint_eq(sim_warn_count(), 0);
	/*
	 * Each refault costs one ACTION_AGAIN round: walk_pmd_range() sees the
	 * leaf, refuses it, and walk_pud_range() splits again.  The last round
	 * sees the PUD none (AGAIN once more), then reports the hole.
	 */
	ck_assert_uint_eq(r.refaults, refaults);
	ck_assert_uint_eq(r.pud_splits, refaults + 1);
	ck_assert_uint_eq(r.descents, refaults + 1);
	ck_assert_uint_eq(r.descents_on_non_table, refaults + 1);
	printf("# scenario 2: %d refault(s) -> %lu ACTION_AGAIN round(s)\n", refaults,
	       r.descents_on_non_table);

	/* Consistent afterwards: lock free, PUD none, BAR refaults at PUD order. */
	sched_point_disarm_all();
	ck_assert(!rwsem_is_locked(&mm->mmap_lock));
	ck_assert(!rwsem_held_by_dead(&mm->mmap_lock));
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_NONE);
	ck_assert_int_gt(numa_maps_read(mm, text, sizeof(text)), 0);
	snprintf(want, sizeof(want), "%08lx default file=anon_inode:[vfio-device]\n", BAR_VA);
	ck_assert_str_eq(text, want);
	touch(mm, BAR_VA, true);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PUD);
	ck_assert_int_eq(vm_munmap(mm, BAR_VA, GiB), 0);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_NONE);
	mmput(mm);
}
END_TEST

/* ---------------- scenario 3 ---------------- */

static int count_pte(pte_t *pte, unsigned long addr, unsigned long next, struct mm_walk *walk)
{
	(*(unsigned long *)walk->private)++;
	return 0;
}

static long walk_with_pte_entry(void *arg)
{
	struct mm_struct *mm = arg;
	const struct mm_walk_ops ops = { .pte_entry = count_pte, .walk_lock = PGWALK_RDLOCK };
	unsigned long ptes = 0;
	long ret;

	mmap_read_lock(mm);
	ret = walk_page_vma(vma_lookup(mm, BAR_VA), &ops, &ptes);
	mmap_read_unlock(mm);
	return ret ? ret : (long)ptes;
}

START_TEST(test_pmd_level_bar_survives_split_refault_descend)
{
	const struct numa_maps_walker_opts opts = { .max_iterations = 1, .comm = "numa_reader" };
	struct vfio_pci_core_device *vdev;
	struct numa_maps_walker_result res;
	struct numa_maps_walker *w;
	struct mm_struct *mm;
	static struct race r;
	long ret;

	tm_cfg.pagewalk_fixed = _i;	/* both versions */
	tm_cfg.max_bar_fault_order = PMD_ORDER;
	tm_setup_with(&tm_cfg);
	mm = tm_mm("qemu");
	vdev = make_bar(GiB);
	map_bar(mm, vdev, BAR_VA, GiB);
	touch(mm, BAR_VA, false);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PMD);

	/*
	 * The PMD twin of seeds/01: a walker with ->pte_entry splits (zaps) the
	 * PMD leaf, T2 refaults it, the walker descends.  pte_offset_map_lock()
	 * sees a leaf and returns NULL: ACTION_AGAIN, split again, hole.
	 */
	race_arm(&r, mm, BAR_VA, BAR_VA + GiB, SP_WALK_PMD_AFTER_SPLIT, 1);
	ret = sim_task_run(walk_with_pte_entry, mm);
	race_print("scenario 3 (pte walker)", &r);
	ck_assert_int_eq(ret, 0);		/* no PTE table ever appeared */
	ck_assert_uint_eq(r.refaults, 1);
	ck_assert_uint_eq(r.pmd_splits, 2);
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_NONE);

	/*
	 * numa_maps over the same PMD-level BAR, T2 refaulting at the PUD
	 * split point: the PUD is a table, nothing is zapped at any level.
	 */
	touch(mm, BAR_VA, false);
	race_arm(&r, mm, BAR_VA, BAR_VA + GiB, SP_WALK_PUD_AFTER_SPLIT, 1);
	w = numa_maps_walker_start(mm, &opts);
	ck_assert_ptr_nonnull(w);
	wait_walker_done(w);
	numa_maps_walker_stop(w, &res);
	race_print("scenario 3 (numa_maps)", &r);
	ck_assert(!res.oopsed);
	ck_assert_uint_eq(res.reads, 1);
	ck_assert_uint_eq(r.descents_on_non_table, 0);
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_PMD);
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_uint_eq(sim_warn_count(), 0);
	ck_assert(!rwsem_is_locked(&mm->mmap_lock));
	sched_point_disarm_all();
	mmput(mm);
}
END_TEST

/* ---------------- scenario 4 ---------------- */

static void print_text(const char *title, const char *text)
{
	char copy[2048], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", text);
	printf("# %s:\n", title);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		printf("#   %s\n", l);
}

START_TEST(test_numa_maps_of_mixed_process_matches_pages_present)
{
	const unsigned long small = 0x7e0000000000UL, thp = 0x7e0000400000UL;
	const unsigned long huge2m = 0x7e0040000000UL, huge1g = 0x7e0080000000UL;
	struct vfio_pci_core_device *vdev;
	struct mm_struct *mm;
	char text[2048];
	const char *want =
		"7e0000000000 default anon=5 dirty=5 N0=5 kernelpagesize_kB=4\n"
		"7e0000400000 default anon=512 dirty=512 N0=512 kernelpagesize_kB=4\n"
		"7e0040000000 default file=/anon_hugepage\\040(deleted) huge anon=2 dirty=2 N0=2 "
		"kernelpagesize_kB=2048\n"
		"7e0080000000 default file=/anon_hugepage\\040(deleted) huge anon=1 dirty=1 N0=1 "
		"kernelpagesize_kB=1048576\n"
		"7f0000000000 default file=anon_inode:[vfio-device]\n"
		"7f8000200000 default file=anon_inode:[vfio-device]\n";

	tm_cfg.thp = THP_ALWAYS;
	tm_setup_with(&tm_cfg);
	mm = tm_mm("qemu");
	vdev = make_bar(2 * GiB);

	map_anon(mm, small, 64 * KiB, 0);
	for (int i = 0; i < 5; i++)
		touch(mm, small + i * 3 * PAGE_SIZE, true);
	map_anon(mm, thp, 4 * MiB, 0);
	touch(mm, thp + 2 * MiB + 5, true);
	map_anon(mm, huge2m, 4 * MiB, MAP_HUGETLB | MAP_HUGE_2MB);
	touch(mm, huge2m, true);
	touch(mm, huge2m + 2 * MiB, true);
	map_anon(mm, huge1g, GiB, MAP_HUGETLB | MAP_HUGE_1GB);
	touch(mm, huge1g, true);
	map_bar(mm, vdev, BAR_VA, 2 * GiB);
	touch(mm, BAR_VA, false);
	touch(mm, BAR_VA + GiB, false);
	map_bar(mm, vdev, BAR_PMD_VA, 4 * MiB);
	touch(mm, BAR_PMD_VA, false);
	touch(mm, BAR_PMD_VA + 2 * MiB, false);

	ck_assert_int_eq(level_at(mm, thp + 2 * MiB), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, thp), PGTABLE_NONE);
	ck_assert_int_eq(level_at(mm, huge1g), PGTABLE_PUD);
	ck_assert_int_eq(level_at(mm, BAR_VA + GiB), PGTABLE_PUD);
	ck_assert_int_eq(level_at(mm, BAR_PMD_VA + 2 * MiB), PGTABLE_PMD);

	ck_assert_int_eq(numa_maps_read(mm, text, sizeof(text)), strlen(want));
	print_text("scenario 4 numa_maps", text);
	ck_assert_str_eq(text, want);

	/* The read zapped the BAR's PUD leaves and nothing else. */
	ck_assert_int_eq(level_at(mm, BAR_VA), PGTABLE_NONE);
	ck_assert_int_eq(level_at(mm, BAR_VA + GiB), PGTABLE_NONE);
	ck_assert_int_eq(level_at(mm, BAR_PMD_VA), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, BAR_PMD_VA + 2 * MiB), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, thp + 2 * MiB), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, huge1g), PGTABLE_PUD);
	ck_assert_int_eq(level_at(mm, huge2m + 2 * MiB), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, small + 3 * PAGE_SIZE), PGTABLE_PTE);

	/* A second read renders the same counts (only the BAR had changed). */
	ck_assert_int_eq(numa_maps_read(mm, text, sizeof(text)), strlen(want));
	ck_assert_str_eq(text, want);
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_uint_eq(sim_warn_count(), 0);
	mmput(mm);
}
END_TEST

static void cfg_setup(void)
{
	tm_defaults(&tm_cfg);
}

static void cfg_teardown(void)
{
	sched_point_disarm_all();
	tm_teardown();
}

Suite *make_suite(void)
{
	Suite *s = suite_create("walker_race");
	TCase *tc = tcase_create("seeds01");

	tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_prefix_walker_descends_into_refaulted_pud_leaf_and_oopses);
	tcase_add_loop_test(tc, test_fixed_walker_retries_refaulted_pud_and_converges, 1, 4);
	tcase_add_loop_test(tc, test_pmd_level_bar_survives_split_refault_descend, 0, 2);
	tcase_add_test(tc, test_numa_maps_of_mixed_process_matches_pages_present);
	suite_add_tcase(s, tc);
	return s;
}
