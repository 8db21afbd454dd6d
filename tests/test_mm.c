// SPDX-License-Identifier: GPL-2.0-only
/* mm: mmap_lock, tasks, the VMA set, mmap/munmap and locked_vm accounting. */
#include <linux/mman.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

#define MS (1000000ull)

struct locker {
	struct mm_struct *mm;
	bool write;
	uint64_t timeout_ns;
	int ret;
	_Atomic bool done;
};

static void *locker_thread(void *arg)
{
	struct locker *l = arg;

	set_current(mm_thread_task(l->mm));
	if (l->write)
		l->ret = down_write_timeout(&l->mm->mmap_lock, l->timeout_ns);
	else
		l->ret = down_read_timeout(&l->mm->mmap_lock, l->timeout_ns);
	if (!l->ret) {
		if (l->write)
			mmap_write_unlock(l->mm);
		else
			mmap_read_unlock(l->mm);
	}
	atomic_store(&l->done, true);
	return NULL;
}

START_TEST(test_mmap_lock_writer_preference_blocks_new_readers)
{
	struct mm_struct *mm = tm_mm("rw");
	struct locker w = { mm, true, 2000 * MS, 0, false };
	struct locker r = { mm, false, 100 * MS, 0, false };
	pthread_t tw, tr;

	mmap_read_lock(mm);
	pthread_create(&tw, NULL, locker_thread, &w);
	/* Wait until the writer queues. */
	while (!atomic_load(&mm->mmap_lock.waiting_writers))
		usleep(100);
	pthread_create(&tr, NULL, locker_thread, &r);
	pthread_join(tr, NULL);
	ck_assert_int_eq(r.ret, -ETIMEDOUT);	/* queued behind the writer */
	mmap_read_unlock(mm);
	pthread_join(tw, NULL);
	ck_assert_int_eq(w.ret, 0);
}
END_TEST

static void *killable_reader(void *arg)
{
	struct locker *l = arg;

	set_current(mm_thread_task(l->mm));
	l->ret = mmap_read_lock_killable(l->mm);
	atomic_store(&l->done, true);
	return NULL;
}

START_TEST(test_killable_lock_returns_eintr_on_fatal_signal)
{
	struct mm_struct *mm = tm_mm("rw");
	struct locker r = { .mm = mm };
	pthread_t t;

	mmap_write_lock(mm);
	pthread_create(&t, NULL, killable_reader, &r);
	usleep(5000);
	ck_assert(!atomic_load(&r.done));
	send_sig_kill(mm->owner);
	pthread_join(t, NULL);
	ck_assert_int_eq(r.ret, -EINTR);
	mmap_write_unlock(mm);
	ck_assert(!rwsem_is_locked(&mm->mmap_lock));
}
END_TEST

START_TEST(test_mmap_assert_locked_warns_only_without_the_lock)
{
	struct mm_struct *mm = tm_mm("assert");
	unsigned long w = sim_warn_count();

	ck_assert(!mmap_assert_locked(mm));
	ck_assert_uint_eq(sim_warn_count(), w + 1);
	ck_assert(!mmap_assert_write_locked(mm));
	ck_assert_uint_eq(sim_warn_count(), w + 2);
	mmap_read_lock(mm);
	ck_assert(mmap_assert_locked(mm));
	ck_assert(!mmap_assert_write_locked(mm));	/* read is not write */
	ck_assert_uint_eq(sim_warn_count(), w + 3);
	mmap_read_unlock(mm);
	mmap_write_lock(mm);
	ck_assert(mmap_assert_locked(mm));
	ck_assert(mmap_assert_write_locked(mm));
	mmap_write_unlock(mm);
	ck_assert_uint_eq(sim_warn_count(), w + 3);
}
END_TEST

static long die_holding_read_lock(void *arg)
{
	struct mm_struct *mm = arg;

	mmap_read_lock(mm);
	sim_oops(__func__, 0, "test oops while holding mmap_lock");
}

START_TEST(test_lock_held_by_crashed_task_times_out_and_is_reported)
{
	struct mm_struct *mm = tm_mm("victim");
	struct locker w = { mm, true, 50 * MS, 0, false };
	pthread_t t;

	ck_assert_int_eq(sim_task_run(die_holding_read_lock, mm), -EOWNERDEAD);
	set_current(NULL);
	pthread_create(&t, NULL, locker_thread, &w);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.ret, -ETIMEDOUT);
	ck_assert(rwsem_held_by_dead(&mm->mmap_lock));
}
END_TEST

static struct mm_struct *mm_with_lock(void)
{
	return tm_mm("vmm");
}

START_TEST(test_vma_lookup_and_find_vma)
{
	struct mm_struct *mm = mm_with_lock();
	unsigned long a = vm_mmap(mm, NULL, 0, 64 * KiB, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, 0);
	unsigned long b = vm_mmap(mm, NULL, 0, 16 * KiB, PROT_READ,
				  MAP_PRIVATE | MAP_ANONYMOUS, 0);
	struct vm_area_struct *vma;

	ck_assert(!IS_ERR_VALUE(a) && !IS_ERR_VALUE(b));
	mmap_read_lock(mm);
	vma = vma_lookup(mm, a + 4096);
	ck_assert_ptr_nonnull(vma);
	ck_assert_uint_eq(vma->vm_start, a);
	ck_assert_uint_eq(vma->vm_end, a + 64 * KiB);
	ck_assert(vma->vm_flags & VM_WRITE);
	ck_assert_ptr_null(vma_lookup(mm, a + 64 * KiB + (a + 64 * KiB == b ? 16 * KiB : 0)));
	ck_assert_ptr_nonnull(find_vma(mm, 0));
	ck_assert_ptr_eq(vma_lookup(mm, b), find_vma(mm, b));
	ck_assert(!(vma_lookup(mm, b)->vm_flags & VM_WRITE));
	mmap_read_unlock(mm);
}
END_TEST

START_TEST(test_munmap_middle_splits_vma_in_two)
{
	struct mm_struct *mm = mm_with_lock();
	unsigned long a = vm_mmap(mm, NULL, 0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, 0);

	ck_assert_int_eq(vm_munmap(mm, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE), 0);
	mmap_read_lock(mm);
	ck_assert_uint_eq(mm->nr_vmas, 2);
	ck_assert_uint_eq(vma_lookup(mm, a)->vm_end, a + 4 * PAGE_SIZE);
	ck_assert_ptr_null(vma_lookup(mm, a + 4 * PAGE_SIZE));
	ck_assert_uint_eq(vma_lookup(mm, a + 8 * PAGE_SIZE)->vm_start, a + 8 * PAGE_SIZE);
	mmap_read_unlock(mm);
	/* Unmapping nothing is fine; unaligned start is not. */
	ck_assert_int_eq(vm_munmap(mm, a + 4 * PAGE_SIZE, PAGE_SIZE), 0);
	ck_assert_int_eq(vm_munmap(mm, a + 1, PAGE_SIZE), -EINVAL);
	ck_assert_int_eq(vm_munmap(mm, a, 0), -EINVAL);
	ck_assert_uint_eq(mm->nr_vmas, 2);
}
END_TEST

START_TEST(test_mmap_bad_arguments_get_kernel_errno_and_change_nothing)
{
	struct mm_struct *mm = mm_with_lock();
	unsigned long alloc = nr_allocated_pages();
	unsigned long free2m = tm->hstate_2m.free_huge_pages - tm->hstate_2m.resv_huge_pages;

	ck_assert_int_eq((long)vm_mmap(mm, NULL, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0),
			 -EINVAL);
	ck_assert_int_eq((long)vm_mmap(mm, NULL, 0, 4096, PROT_READ, MAP_ANONYMOUS, 0), -EINVAL);
	ck_assert_int_eq((long)vm_mmap(mm, NULL, 0x1001, 4096, PROT_READ,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0),
			 -EINVAL);
	ck_assert_int_eq((long)vm_mmap(mm, NULL, TASK_SIZE - 4096, 8192, PROT_READ,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0),
			 -ENOMEM);
	ck_assert_int_eq((long)vm_mmap(mm, NULL, 0, ~0UL - 100, PROT_READ,
				       MAP_PRIVATE | MAP_ANONYMOUS, 0),
			 -ENOMEM);
	/* A huge page size the machine does not have (64K). */
	ck_assert_int_eq((long)vm_mmap(mm, NULL, 0, 2 * MiB, PROT_READ,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
					       (16U << MAP_HUGE_SHIFT),
				       0),
			 -EINVAL);
	/* More 2M pages than the pool has: ENOMEM at mmap, reservations intact. */
	ck_assert_int_eq((long)vm_mmap(mm, NULL, 0, 64 * MiB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, 0),
			 -ENOMEM);
	ck_assert_uint_eq(mm->nr_vmas, 0);
	ck_assert_uint_eq(nr_allocated_pages(), alloc);
	ck_assert_uint_eq(tm->hstate_2m.free_huge_pages - tm->hstate_2m.resv_huge_pages, free2m);
}
END_TEST

START_TEST(test_hugetlb_mmap_reserves_and_munmap_must_be_huge_aligned)
{
	struct mm_struct *mm = mm_with_lock();
	struct hstate *h = &tm->hstate_1g;
	unsigned long a = vm_mmap(mm, NULL, 0, 2 * GiB, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, 0);

	ck_assert(!IS_ERR_VALUE(a));
	ck_assert_uint_eq(a & (GiB - 1), 0);
	ck_assert_uint_eq(h->resv_huge_pages, 2);
	ck_assert(vma_lookup(mm, a)->vm_flags & VM_HUGETLB);
	ck_assert_int_eq(vm_munmap(mm, a + 2 * MiB, 2 * MiB), -EINVAL);
	ck_assert_uint_eq(mm->nr_vmas, 1);
	ck_assert_int_eq(vm_munmap(mm, a + GiB, GiB), 0);
	ck_assert_uint_eq(h->resv_huge_pages, 1);
	ck_assert_int_eq(vm_munmap(mm, a, GiB), 0);
	ck_assert_uint_eq(h->resv_huge_pages, 0);
	ck_assert_uint_eq(mm->nr_vmas, 0);
}
END_TEST

START_TEST(test_map_fixed_replaces_and_noreplace_refuses)
{
	struct mm_struct *mm = mm_with_lock();
	unsigned long a = vm_mmap(mm, NULL, 0, 8 * PAGE_SIZE, PROT_READ,
				  MAP_PRIVATE | MAP_ANONYMOUS, 0);
	unsigned long b;

	b = vm_mmap(mm, NULL, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0);
	ck_assert_uint_eq(b, a + 2 * PAGE_SIZE);
	ck_assert_uint_eq(mm->nr_vmas, 3);
	ck_assert(vma_lookup(mm, b)->vm_flags & VM_WRITE);
	ck_assert_int_eq((long)vm_mmap(mm, NULL, a, PAGE_SIZE, PROT_READ,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, 0),
			 -EEXIST);
	ck_assert_uint_eq(mm->nr_vmas, 3);
}
END_TEST

START_TEST(test_locked_vm_is_charged_against_rlimit_memlock)
{
	struct mm_struct *mm = mm_with_lock();
	struct task_struct *t = mm->owner;
	unsigned long w = sim_warn_count();

	atomic_store(&t->signal->rlim_memlock, 16 * PAGE_SIZE);
	ck_assert_int_eq(account_locked_vm(mm, 10, true), 0);
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 10);
	ck_assert_int_eq(account_locked_vm(mm, 7, true), -ENOMEM);
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 10);	/* unchanged */
	ck_assert_int_eq(account_locked_vm(mm, 6, true), 0);	/* exactly at the limit */
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 16);
	atomic_store(&t->signal->cap_ipc_lock, true);
	ck_assert_int_eq(account_locked_vm(mm, 100, true), 0);	/* CAP_IPC_LOCK bypasses */
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 116);
	ck_assert_int_eq(account_locked_vm(mm, 116, false), 0);
	ck_assert_int_eq(atomic_load(&mm->locked_vm), 0);
	ck_assert_uint_eq(sim_warn_count(), w);
	mmap_write_lock(mm);
	ck_assert_int_eq(__account_locked_vm(mm, 1, false, t, false), 0);	/* underflow */
	mmap_write_unlock(mm);
	ck_assert_uint_eq(sim_warn_count(), w + 1);
}
END_TEST

static void *thread_task_probe(void *arg)
{
	struct mm_struct *mm = arg;

	return mm_thread_task(mm);
}

START_TEST(test_each_host_thread_gets_its_own_task_in_the_group)
{
	struct mm_struct *mm = mm_with_lock();
	struct task_struct *t2;
	pthread_t th;

	ck_assert_ptr_eq(mm_thread_task(mm), mm->owner);
	pthread_create(&th, NULL, thread_task_probe, mm);
	pthread_join(th, (void **)&t2);
	ck_assert_ptr_nonnull(t2);
	ck_assert_ptr_ne(t2, mm->owner);
	ck_assert_ptr_eq(t2->group_leader, mm->owner);
	ck_assert_ptr_eq(t2->signal, mm->owner->signal);
	ck_assert_uint_ne(t2->tid, mm->owner->tid);
	send_sig_kill(t2);	/* SIGKILL reaches the whole group */
	ck_assert(fatal_signal_pending(mm->owner));
}
END_TEST

/* ---------------- file references: fput() and task_work ---------------- */

/*
 * A file with a ->release that counts and records what it saw; allocated
 * by the test (the "fd" reference is the initial f_count of 1).
 */
struct counted_file {
	struct file file;
	struct address_space as;
	struct mm_struct *mm;
	int mmap_ret;
	int releases;
	int order;			/* when it was released, from release_clock */
	bool mmap_lock_held;		/* by the releasing task */
	struct counted_file *put_on_release;	/* a reference it holds on another */
};

static int release_clock;

static int counted_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct counted_file *cf = file->private_data;

	(void)vma;
	return cf->mmap_ret;
}

static int counted_release(struct file *file)
{
	struct counted_file *cf = file->private_data;

	cf->releases++;
	cf->order = ++release_clock;
	cf->mmap_lock_held = cf->mm && lock_is_held(&cf->mm->mmap_lock);
	if (cf->put_on_release)
		fput(&cf->put_on_release->file);
	return 0;
}

static const struct file_operations counted_fops = {
	.mmap = counted_mmap,
	.release = counted_release,
};

static void counted_init(struct counted_file *cf, struct mm_struct *mm)
{
	memset(cf, 0, sizeof(*cf));
	init_rwsem(&cf->as.i_mmap_rwsem, "i_mmap_rwsem");
	cf->file.f_op = &counted_fops;
	cf->file.f_mapping = &cf->as;
	cf->file.private_data = cf;
	atomic_store(&cf->file.f_count, 1);
	cf->mm = mm;
}

static unsigned long map_counted(struct mm_struct *mm, struct counted_file *cf, unsigned long len)
{
	return vm_mmap(mm, &cf->file, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
}

/*
 * mm/mmap.c mmap_region() get_file(), mm/vma.c __split_vma() get_file() and
 * remove_vma() fput(); fs/file_table.c fput(): every VMA holds the file,
 * closing the "fd" releases nothing while one is left, and the last
 * munmap's fput() only queues ____fput() on the task: ->release runs at
 * task_work_run() (the return to user mode), outside mmap_lock.
 */
START_TEST(test_vmas_hold_the_file_and_the_last_munmap_queues_its_release)
{
	struct mm_struct *mm = mm_with_lock();
	struct counted_file cf;
	unsigned long a;

	counted_init(&cf, mm);
	a = map_counted(mm, &cf, 8 * PAGE_SIZE);
	ck_assert(!IS_ERR_VALUE(a));
	ck_assert_int_eq(atomic_load(&cf.file.f_count), 2);
	/* A hole in the middle: two VMAs, two references. */
	ck_assert_int_eq(vm_munmap(mm, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
	ck_assert_uint_eq(mm->nr_vmas, 2);
	ck_assert_int_eq(atomic_load(&cf.file.f_count), 3);
	fput(&cf.file);			/* close(fd) */
	ck_assert_int_eq(atomic_load(&cf.file.f_count), 2);
	ck_assert_int_eq(cf.releases, 0);
	ck_assert(!task_work_pending(current));
	ck_assert_int_eq(vm_munmap(mm, a, 2 * PAGE_SIZE), 0);
	ck_assert_int_eq(atomic_load(&cf.file.f_count), 1);
	ck_assert_int_eq(cf.releases, 0);
	ck_assert(!task_work_pending(current));
	ck_assert_int_eq(vm_munmap(mm, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE), 0);
	ck_assert_int_eq(atomic_load(&cf.file.f_count), 0);
	ck_assert_int_eq(cf.releases, 0);	/* queued, not run */
	ck_assert(task_work_pending(current));
	task_work_run();
	ck_assert_int_eq(cf.releases, 1);
	ck_assert(!cf.mmap_lock_held);
	ck_assert(!task_work_pending(current));
	task_work_run();
	ck_assert_int_eq(cf.releases, 1);
}
END_TEST

/*
 * mmap_region() unmap_and_free_file_vma: a failing ->mmap gives the VMA's
 * reference back (fput(vma->vm_file)); the caller's stays, nothing is
 * queued, and the later last put releases once.
 */
START_TEST(test_failed_mmap_gives_the_vmas_file_reference_back)
{
	struct mm_struct *mm = mm_with_lock();
	struct counted_file cf;

	counted_init(&cf, mm);
	cf.mmap_ret = -EINVAL;
	ck_assert_int_eq((long)map_counted(mm, &cf, 4 * PAGE_SIZE), -EINVAL);
	cf.mmap_ret = -ENODEV;
	ck_assert_int_eq((long)vm_mmap(mm, &cf.file, 0x40000000, 4 * PAGE_SIZE, PROT_READ,
				       MAP_SHARED | MAP_FIXED, 0),
			 -ENODEV);
	ck_assert_uint_eq(mm->nr_vmas, 0);
	ck_assert_int_eq(atomic_load(&cf.file.f_count), 1);
	ck_assert(!task_work_pending(current));
	ck_assert_int_eq(cf.releases, 0);
	fput(&cf.file);
	task_work_run();
	ck_assert_int_eq(cf.releases, 1);
}
END_TEST

/*
 * kernel/exit.c do_exit(): exit_mm() puts the VMAs' references and
 * exit_task_work() runs what they queued: a file the process only had
 * mapped is released by the mm's teardown, before the tasks go.
 */
START_TEST(test_exit_releases_a_file_only_a_vma_still_held)
{
	struct mm_struct *mm = mm_with_lock();
	struct counted_file cf;

	counted_init(&cf, mm);
	ck_assert(!IS_ERR_VALUE(map_counted(mm, &cf, 4 * PAGE_SIZE)));
	ck_assert(!IS_ERR_VALUE(map_counted(mm, &cf, 4 * PAGE_SIZE)));
	fput(&cf.file);
	ck_assert_int_eq(atomic_load(&cf.file.f_count), 2);
	cf.mm = NULL;		/* the mm is freed before the check below */
	mmput(mm);
	ck_assert_int_eq(atomic_load(&cf.file.f_count), 0);
	ck_assert_int_eq(cf.releases, 1);
}
END_TEST

/*
 * kernel/task_work.c task_work_run(): newest first, and a work that
 * queues another (a release putting the last reference of a second file)
 * is run in the same call.  fput() without a task releases at once (the
 * kernel's delayed_fput() fallback), and so does __fput_sync() (close(2)).
 */
START_TEST(test_task_work_runs_newest_first_and_picks_up_works_it_queues)
{
	struct mm_struct *mm = mm_with_lock();
	struct counted_file a, b, c, d;
	struct task_struct *t = current;

	counted_init(&a, mm);
	counted_init(&b, mm);
	counted_init(&c, mm);
	counted_init(&d, mm);
	release_clock = 0;
	get_file(&c.file);
	a.put_on_release = &c;		/* a holds the last-but-one reference on c */
	fput(&a.file);
	fput(&b.file);
	ck_assert_int_eq(a.releases + b.releases, 0);
	fput(&c.file);			/* c still held by a */
	task_work_run();
	ck_assert_int_eq(b.order, 1);
	ck_assert_int_eq(a.order, 2);
	ck_assert_int_eq(c.order, 3);	/* queued by a's release, run by the same call */
	ck_assert(!task_work_pending(t));
	/* No task: nothing to queue on. */
	set_current(NULL);
	fput(&d.file);
	set_current(t);
	ck_assert_int_eq(d.releases, 1);
	counted_init(&d, mm);
	__fput_sync(&d.file);
	ck_assert_int_eq(d.releases, 1);
	ck_assert(!task_work_pending(t));
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("mm");
	TCase *tc = tm_tcase(s, "mm");

	tcase_add_test(tc, test_mmap_lock_writer_preference_blocks_new_readers);
	tcase_add_test(tc, test_killable_lock_returns_eintr_on_fatal_signal);
	tcase_add_test(tc, test_mmap_assert_locked_warns_only_without_the_lock);
	tcase_add_test(tc, test_lock_held_by_crashed_task_times_out_and_is_reported);
	tcase_add_test(tc, test_vma_lookup_and_find_vma);
	tcase_add_test(tc, test_munmap_middle_splits_vma_in_two);
	tcase_add_test(tc, test_mmap_bad_arguments_get_kernel_errno_and_change_nothing);
	tcase_add_test(tc, test_hugetlb_mmap_reserves_and_munmap_must_be_huge_aligned);
	tcase_add_test(tc, test_map_fixed_replaces_and_noreplace_refuses);
	tcase_add_test(tc, test_locked_vm_is_charged_against_rlimit_memlock);
	tcase_add_test(tc, test_each_host_thread_gets_its_own_task_in_the_group);
	tcase_add_test(tc, test_vmas_hold_the_file_and_the_last_munmap_queues_its_release);
	tcase_add_test(tc, test_failed_mmap_gives_the_vmas_file_reference_back);
	tcase_add_test(tc, test_exit_releases_a_file_only_a_vma_still_held);
	tcase_add_test(tc, test_task_work_runs_newest_first_and_picks_up_works_it_queues);
	return s;
}
