// SPDX-License-Identifier: GPL-2.0-only
/*
 * The direct map as the kernel has it (sim/page.h, sim/phys.c): RAM is
 * memory; the direct-map address of any other pfn — a BAR's MMIO pfn, a
 * pfn of the gap above RAM — is inaccessible host memory, and a load or
 * store there by a task body is the task's oops (x86's "BUG: unable to
 * handle page fault", seeds/01), whether it comes from pinsim's page-table
 * accessors or from a plain dereference such as the `*pmd` of a kernel
 * tree's mm/pagewalk.c.  The oopsed task keeps its locks; a fault that is
 * not a direct-map access still kills the process.
 *
 * sim_direct_map_fault_count() tells a fault the host MMU took from an
 * oops pinsim's explicit fallback check raised (a pfn beyond the
 * reservation), so each test pins which of the two it was.  Under valgrind
 * there is no reservation (it cannot reserve terabytes) and the tests that
 * dereference a BAR pfn plainly are skipped there, saying so.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "page.h"
#include "pgtable.h"
#include "rwsem.h"

/*
 * A plain load has no accessor to name it: the handler names the function
 * of the faulting instruction from the symbol table (sim/kallsyms.c), as
 * the kernel's oops names RIP's.  noinline so that it is its own function.
 */
#define FAULT_FUNC "plain_access"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

/* A task body's access, described for the body and checked after it. */
struct access {
	struct mm_struct *mm;
	void *p;
	uint64_t val;
	bool write, locked, returned;
};

/* The kernel's `*pmd`: a plain load or store, no accessor names it. */
static __attribute__((noinline)) long plain_access(void *arg)
{
	struct access *a = arg;

	if (a->locked)
		mmap_read_lock(a->mm);
	if (a->write)
		*(volatile uint64_t *)a->p = a->val;
	else
		a->val = *(volatile uint64_t *)a->p;
	a->returned = true;
	if (a->locked)
		mmap_read_unlock(a->mm);
	return 0;
}

/* pinsim's accessors: pmdp_get()/set_pmd() name this function. */
static long accessor_access(void *arg)
{
	struct access *a = arg;

	if (a->locked)
		mmap_read_lock(a->mm);
	if (a->write)
		set_pmd((pmd_t *)a->p, __pmd(a->val));
	else
		a->val = pmd_val(pmdp_get((pmd_t *)a->p));
	a->returned = true;
	if (a->locked)
		mmap_read_unlock(a->mm);
	return 0;
}

static bool need_reservation(void)
{
	if (sim_direct_map_faults())
		return true;
	ck_assert_msg(getenv("PINSIM_VALGRIND"), "direct-map faults not handled: "
		      "no reservation, or a sanitizer keeps SIGSEGV");
	printf("# skip: no direct-map reservation under valgrind\n");
	return false;
}

static unsigned long bar_pfn(uint64_t size)
{
	unsigned char *bytes;
	unsigned long pfn;

	ck_assert_int_eq(mmio_alloc(size, &pfn, &bytes), 0);
	return pfn;
}

/* The record sim_illegal_access() writes, checked field by field. */
static void assert_oops(const char *comm, const char *func, unsigned long pfn, bool write,
			const char *kind)
{
	struct oops_record rec;
	char why[SIM_MSG_LEN];

	ck_assert(sim_last_oops(&rec));
	snprintf(why, sizeof(why),
		 "BUG: unable to handle page fault: illegal %s of %s pfn %#lx as memory",
		 write ? "write" : "read", kind, pfn);
	ck_assert_str_eq(rec.comm, comm);
	ck_assert_str_eq(rec.func, func);
	ck_assert_uint_eq(rec.addr, (uint64_t)pfn << PAGE_SHIFT);
	ck_assert_str_eq(rec.why, why);
	printf("# oops: %s in %s() at %#llx: %s\n", rec.comm, rec.func,
	       (unsigned long long)rec.addr, rec.why);
}

/* Another task of @mm tries the mmap lock for write: the dead reader holds it. */
static void assert_mmap_lock_kept_by_dead_task(struct mm_struct *mm)
{
	struct task_struct *old = current;
	struct task_struct *t = task_create(mm, mm->owner, "munmap");

	ck_assert(rwsem_is_locked(&mm->mmap_lock));
	ck_assert(rwsem_held_by_dead(&mm->mmap_lock));
	ck_assert_ptr_nonnull(t);
	set_current(t);
	ck_assert_int_eq(down_write_timeout(&mm->mmap_lock, 20 * 1000 * 1000), -ETIMEDOUT);
	set_current(old);
}

static bool sigsegv_blocked(void)
{
	sigset_t set;

	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &set), 0);
	return sigismember(&set, SIGSEGV);
}

START_TEST(test_reservation_covers_ram_gap_and_mmio_window)
{
	unsigned long pfn;

	if (!need_reservation())
		return;
	ck_assert_uint_eq(direct_map_bytes, (uint64_t)mmio_end_pfn << PAGE_SHIFT);
	ck_assert_uint_gt(mmio_base_pfn, max_pfn);
	/* 64 GiB at least above the gap (TSan's smallest window, phys.c). */
	ck_assert_uint_ge(mmio_end_pfn - mmio_base_pfn, (64 * GiB) >> PAGE_SHIFT);
	pfn = bar_pfn(GiB);
	ck_assert_uint_ge(pfn, mmio_base_pfn);
	ck_assert_uint_le(pfn + (GiB >> PAGE_SHIFT), mmio_end_pfn);
	printf("# direct map: %llu GiB reserved, MMIO window [%#lx, %#lx)\n",
	       (unsigned long long)(direct_map_bytes >> 30), mmio_base_pfn, mmio_end_pfn);
}
END_TEST

START_TEST(test_plain_read_of_mmio_pfn_oopses_task_keeping_mmap_lock)
{
	struct mm_struct *mm = tm_mm("reader");
	unsigned long faults = sim_direct_map_fault_count();
	unsigned long pfn;
	struct access a;

	if (!need_reservation())
		return;
	pfn = bar_pfn(GiB) + 3;
	/* An entry in the middle of the "table": the record names its page. */
	a = (struct access){ .mm = mm, .p = (char *)phys_to_virt(pfn) + 0x18, .locked = true };
	ck_assert_int_eq(sim_task_run(plain_access, &a), -EOWNERDEAD);
	ck_assert(!a.returned);
	ck_assert(atomic_load(&mm->owner->dead));
	ck_assert_uint_eq(sim_oops_count(), 1);
	ck_assert_uint_eq(sim_direct_map_fault_count(), faults + 1);
	assert_oops("reader", FAULT_FUNC, pfn, false, "MMIO");
	ck_assert(!sigsegv_blocked());
	assert_mmap_lock_kept_by_dead_task(mm);
}
END_TEST

START_TEST(test_accessor_read_of_mmio_pfn_faults_in_its_caller)
{
	struct mm_struct *mm = tm_mm("reader");
	unsigned long faults = sim_direct_map_fault_count();
	unsigned long pfn;
	struct access a;

	if (!need_reservation())
		return;
	pfn = bar_pfn(2 * MiB);
	a = (struct access){ .mm = mm, .p = phys_to_virt(pfn), .locked = true };
	ck_assert_int_eq(sim_task_run(accessor_access, &a), -EOWNERDEAD);
	ck_assert(!a.returned);
	ck_assert_uint_eq(sim_direct_map_fault_count(), faults + 1);
	assert_oops("reader", "accessor_access", pfn, false, "MMIO");
	/* The name was the access's only: cleared on the way out. */
	ck_assert_ptr_null(sim_direct_map_func);
	assert_mmap_lock_kept_by_dead_task(mm);
}
END_TEST

START_TEST(test_plain_write_of_mmio_pfn_oopses_as_a_write)
{
	struct mm_struct *mm = tm_mm("writer");
	unsigned long faults = sim_direct_map_fault_count();
	unsigned char *bytes;
	unsigned long pfn;
	struct access a;

	if (!need_reservation())
		return;
	ck_assert_int_eq(mmio_alloc(64 * KiB, &pfn, &bytes), 0);
	a = (struct access){ .mm = mm, .p = phys_to_virt(pfn + 1), .val = 0x5a5a, .write = true,
			     .locked = true };
	ck_assert_int_eq(sim_task_run(plain_access, &a), -EOWNERDEAD);
	ck_assert(!a.returned);
	ck_assert_uint_eq(sim_direct_map_fault_count(), faults + 1);
	assert_oops("writer", FAULT_FUNC, pfn + 1, true, "MMIO");
	/* The store went nowhere: the device's bytes are untouched. */
	ck_assert_uint_eq(*(uint64_t *)(bytes + PAGE_SIZE), 0);
	assert_mmap_lock_kept_by_dead_task(mm);
}
END_TEST

START_TEST(test_accessor_write_of_mmio_pfn_oopses_as_a_write)
{
	struct mm_struct *mm = tm_mm("writer");
	unsigned long faults = sim_direct_map_fault_count();
	unsigned long pfn;
	struct access a;

	if (!need_reservation())
		return;
	pfn = bar_pfn(2 * MiB);
	a = (struct access){ .mm = mm, .p = phys_to_virt(pfn), .val = 1, .write = true };
	ck_assert_int_eq(sim_task_run(accessor_access, &a), -EOWNERDEAD);
	ck_assert(!a.returned);
	/* TSan builds refuse the accessors' writes before the store (page.h). */
	ck_assert_uint_eq(sim_direct_map_fault_count(), faults + SIM_DIRECT_MAP_WRITES_FAULT);
	assert_oops("writer", "accessor_access", pfn, true, "MMIO");
}
END_TEST

START_TEST(test_ram_reads_and_writes_through_direct_map_are_memory)
{
	struct mm_struct *mm = tm_mm("reader");
	struct folio *f = folio_alloc(0, PGTY_kernel);
	unsigned long faults = sim_direct_map_fault_count();
	uint64_t *word;
	struct access a;

	ck_assert_ptr_nonnull(f);
	word = (uint64_t *)page_address(&f->page) + 7;
	*word = 0x1234abcd;
	folio_mark_data(f);
	a = (struct access){ .mm = mm, .p = (uint64_t *)phys_to_virt(folio_pfn(f)) + 7,
			     .locked = true };
	ck_assert_int_eq(sim_task_run(plain_access, &a), 0);
	ck_assert(a.returned);
	ck_assert_uint_eq(a.val, 0x1234abcd);
	a = (struct access){ .mm = mm, .p = word, .val = 77, .write = true };
	ck_assert_int_eq(sim_task_run(accessor_access, &a), 0);
	ck_assert_uint_eq(*word, 77);
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_uint_eq(sim_direct_map_fault_count(), faults);
	ck_assert(!rwsem_is_locked(&mm->mmap_lock));
	folio_put(f);
}
END_TEST

START_TEST(test_second_fault_after_first_is_caught_too)
{
	struct mm_struct *one = tm_mm("first");
	struct mm_struct *two = mm_alloc("second");
	unsigned long faults = sim_direct_map_fault_count();
	unsigned long pfn, gap;
	struct access a;

	if (!need_reservation())
		return;
	ck_assert_ptr_nonnull(two);
	pfn = bar_pfn(GiB);
	a = (struct access){ .mm = one, .p = phys_to_virt(pfn) };
	ck_assert_int_eq(sim_task_run(plain_access, &a), -EOWNERDEAD);
	assert_oops("first", FAULT_FUNC, pfn, false, "MMIO");
	/* The handler gave this thread its signal mask back. */
	ck_assert(!sigsegv_blocked());

	/* Same host thread, another task; a pfn of the gap above RAM this time. */
	set_current(two->owner);
	gap = max_pfn + 5;
	ck_assert_uint_lt(gap, mmio_base_pfn);
	a = (struct access){ .mm = two, .p = phys_to_virt(gap) };
	ck_assert_int_eq(sim_task_run(plain_access, &a), -EOWNERDEAD);
	assert_oops("second", FAULT_FUNC, gap, false, "non-RAM");
	ck_assert_uint_eq(sim_oops_count(), 2);
	ck_assert_uint_eq(sim_direct_map_fault_count(), faults + 2);
	ck_assert(!sigsegv_blocked());
}
END_TEST

START_TEST(test_pfn_beyond_reservation_is_caught_by_the_accessors_check)
{
	struct mm_struct *mm = tm_mm("reader");
	unsigned long faults = sim_direct_map_fault_count();
	/* The largest pfn an entry can hold: past any host reservation. */
	unsigned long pfn = (1UL << 40) - 1;
	struct access a = { .mm = mm, .p = phys_to_virt(pfn) };

	ck_assert_uint_ge((uint64_t)pfn << PAGE_SHIFT, direct_map_bytes);
	ck_assert_int_eq(sim_task_run(accessor_access, &a), -EOWNERDEAD);
	ck_assert(!a.returned);
	ck_assert_uint_eq(sim_direct_map_fault_count(), faults);
	assert_oops("reader", "accessor_access", pfn, false, "MMIO");
}
END_TEST

/*
 * Run @fn in a child process; returns its wait status.  What the child
 * wrote to stderr (or "returned" if @fn came back) is left in @out.
 */
static int in_child(void (*fn)(void *), void *arg, char *out, size_t len)
{
	int fds[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		fn(arg);
		(void)!write(STDERR_FILENO, "returned", 8);
		_exit(0);
	}
	close(fds[1]);
	while (got < (ssize_t)len - 1 && (n = read(fds[0], out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* Died of the fault: SIGSEGV, or the sanitizer's report of it (abort, exit 66). */
static void assert_died_of_segv(int status, const char *out)
{
	ck_assert_ptr_null(strstr(out, "returned"));
#ifdef UNDER_SANITIZER
	ck_assert_msg(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0),
		      "child exited 0");
	ck_assert_msg(WIFEXITED(status) || WTERMSIG(status) == SIGSEGV ||
			      WTERMSIG(status) == SIGABRT,
		      "child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_ptr_nonnull(strstr(out, "SEGV"));
#else
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		      "child status %#x, not SIGSEGV", status);
#endif
}

static void fault_outside_reservation(void *arg)
{
	struct access *a = arg;

	sim_task_run(plain_access, a);
}

START_TEST(test_fault_outside_reservation_still_kills_the_process)
{
	struct mm_struct *mm = tm_mm("reader");
	void *guard = mmap(NULL, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct access a = { .mm = mm, .p = guard };
	char out[4096];
	int status;

	ck_assert_ptr_ne(guard, MAP_FAILED);
	ck_assert_uint_ge((uintptr_t)guard - (uintptr_t)ram_data, direct_map_bytes);
	status = in_child(fault_outside_reservation, &a, out, sizeof(out));
	assert_died_of_segv(status, out);
	munmap(guard, PAGE_SIZE);
}
END_TEST

static void fault_without_landing_pad(void *arg)
{
	plain_access(arg);
}

START_TEST(test_mmio_fault_outside_a_task_body_kills_the_process)
{
	struct mm_struct *mm = tm_mm("reader");
	struct access a = { .mm = mm };
	char out[4096];
	int status;

	if (!need_reservation())
		return;
	a.p = phys_to_virt(bar_pfn(GiB));
	status = in_child(fault_without_landing_pad, &a, out, sizeof(out));
	assert_died_of_segv(status, out);
	ck_assert_msg(strstr(out, "pinsim: oops outside a task body: reader in " FAULT_FUNC),
		      "stderr: %s", out);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("direct_map");
	TCase *tc = tm_tcase(s, "direct_map");

	tcase_add_test(tc, test_reservation_covers_ram_gap_and_mmio_window);
	tcase_add_test(tc, test_plain_read_of_mmio_pfn_oopses_task_keeping_mmap_lock);
	tcase_add_test(tc, test_accessor_read_of_mmio_pfn_faults_in_its_caller);
	tcase_add_test(tc, test_plain_write_of_mmio_pfn_oopses_as_a_write);
	tcase_add_test(tc, test_accessor_write_of_mmio_pfn_oopses_as_a_write);
	tcase_add_test(tc, test_ram_reads_and_writes_through_direct_map_are_memory);
	tcase_add_test(tc, test_second_fault_after_first_is_caught_too);
	tcase_add_test(tc, test_pfn_beyond_reservation_is_caught_by_the_accessors_check);
	tcase_add_test(tc, test_fault_outside_reservation_still_kills_the_process);
	tcase_add_test(tc, test_mmio_fault_outside_a_task_body_kills_the_process);
	return s;
}
