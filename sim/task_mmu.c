// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/<pid>/numa_maps: fs/proc/task_mmu.c show_numa_map() and its walk
 * callbacks at d9d1c2d81797 (reference §5), plus a thread that reads it in a
 * loop (the numa_maps reader of seeds/01).
 *
 * Checked against Debian's 6.12.107 to 6.12.118 (identical there) and
 * upstream: show_numa_map(), show_numa_ops, gather_pte_stats(),
 * can_gather_numa_stats(_pmd) and gather_stats() are the same in both; the
 * one difference is the page-table lock of gather_hugetlb_stats()
 * (machine->cfg.task_mmu_hugetlb_ptl, see there).  Before 6.12.115 a
 * gather_pte_stats() whose pte_offset_map_lock() fails can make the walker
 * run it again for PMDs already counted (sim/pagewalk.c, stale
 * walk->action): numa_maps then over-counts.
 *
 * The walk is walk_page_vma() with only ->pmd_entry and ->hugetlb_entry, so
 * it has no ->pud_entry and no ->pte_entry.  Consequences the tests pin:
 *  - every 1G pfnmap PUD leaf is split, i.e. zapped (has_handler is true at
 *    the PUD level), and this is the write that races with the refault;
 *  - PMD leaves are never split (no ->pte_entry), only looked at under the
 *    PMD lock;
 *  - special entries count nothing: vm_normal_page*() returns NULL.
 *
 * Simplified, and why:
 *  - the policy is always "default": pinsim has no mempolicy;
 *  - one node, N0;
 *  - mapcount is 1 for every page (pinsim has no rmap and no fork), so
 *    mapmax= never prints;
 *  - no swap cache, no writeback, and no LRU: every page counts as active,
 *    so swapcache=, writeback= and active= never print (the kernel prints
 *    active= only when some pages are inactive);
 *  - the whole file is produced under one mmap read lock; the kernel's
 *    seq_file drops and re-takes the lock between read() calls, which only
 *    widens the windows studied here, it does not open new ones.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checker.h"
#include "shmem.h"
#include "kimpl.h"
#include "machine.h"
#include "mm.h"
#include "pagewalk.h"
#include "task.h"
#include "task_mmu.h"

#define NUMA_LINE_MAX 512

/*
 * fs/proc/task_mmu.c's struct numa_maps, same members in the same order:
 * a machine running a kernel tree's code has the tree's gather_*_stats()
 * fill it (sim/kimpl.h; ktree/ktree_task_mmu.c asserts the layout).
 */
struct numa_maps {
	unsigned long pages;
	unsigned long anon;
	unsigned long active;
	unsigned long writeback;
	unsigned long mapcount_max;
	unsigned long dirty;
	unsigned long swapcache;
	unsigned long node[1];		/* MAX_NUMNODES: one node here */
};

/* A seq_file-like sink: whole text counted, stored up to len. */
struct numa_seq {
	char *buf;
	size_t len;
	size_t pos;			/* bytes stored */
	char line[NUMA_LINE_MAX];	/* the record being built */
	size_t line_pos;
};

static void seq_printf(struct numa_seq *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void seq_printf(struct numa_seq *m, const char *fmt, ...)
{
	size_t room = sizeof(m->line) - m->line_pos;
	va_list ap;
	int n;

	if (!room)
		return;
	va_start(ap, fmt);
	n = vsnprintf(m->line + m->line_pos, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		m->line_pos += (size_t)n < room ? (size_t)n : room - 1;
}

static void seq_puts(struct numa_seq *m, const char *s)
{
	seq_printf(m, "%s", s);
}

/* End of a record: copy what fits of it into the caller's buffer. */
static void seq_end_record(struct numa_seq *m)
{
	size_t n = m->line_pos;

	if (m->pos < m->len) {
		if (n > m->len - m->pos)
			n = m->len - m->pos;
		memcpy(m->buf + m->pos, m->line, n);
		m->pos += n;
	}
	m->line_pos = 0;
}

/*
 * seq_path()/mangle_path(): characters of @esc become a backslash and three
 * octal digits, so "/anon_hugepage (deleted)" prints as
 * "/anon_hugepage\040(deleted)".
 */
static void seq_path(struct numa_seq *m, const char *path, const char *esc)
{
	for (const char *p = path; *p; p++) {
		if (strchr(esc, *p))
			seq_printf(m, "\\%03o", (unsigned char)*p);
		else
			seq_printf(m, "%c", *p);
	}
}

/*
 * The d_path of a mapped file.  Every file pinsim maps is a vfio device fd,
 * which VFIO_GROUP_GET_DEVICE_FD makes with anon_inode_getfile("[vfio-device]")
 * (the BAR's own address_space is a separate inode, not the file's path).
 * Anonymous MAP_HUGETLB memory is backed in the kernel by an unlinked
 * hugetlbfs file, "/anon_hugepage (deleted)"; pinsim's hugetlb VMAs have no
 * struct file, so the name is supplied here.
 */
static const char *vma_file_path(struct vm_area_struct *vma)
{
	static __thread char shmem_path[SHMEM_NAME_MAX + 32];

	/* Shared memory files (sim/shmem.c) name themselves. */
	if (file_is_shmem(vma->vm_file))
		return shmem_file_path(vma->vm_file, shmem_path, sizeof(shmem_path));
	if (vma->vm_file)
		return "anon_inode:[vfio-device]";
	if (is_vm_hugetlb_page(vma))
		return "/anon_hugepage (deleted)";
	return NULL;
}

/* include/linux/mm.h */
static bool vma_is_initial_heap(const struct vm_area_struct *vma)
{
	return vma->vm_start < vma->vm_mm->brk && vma->vm_end > vma->vm_mm->start_brk;
}

static bool vma_is_initial_stack(const struct vm_area_struct *vma)
{
	return vma->vm_start <= vma->vm_mm->start_stack &&
	       vma->vm_end >= vma->vm_mm->start_stack;
}

static unsigned long vma_kernel_pagesize(const struct vm_area_struct *vma)
{
	return is_vm_hugetlb_page(vma) ? huge_page_size(vma->vm_hstate) : PAGE_SIZE;
}

/*
 * folio_test_anon(): anonymous folios, and hugetlb folios of private
 * mappings (hugetlb_add_new_anon_rmap()); shared hugetlb folios live in the
 * hugetlbfs page cache.
 */
static bool numa_folio_anon(struct folio *folio, struct vm_area_struct *vma)
{
	switch (folio_type(folio)) {
	case PGTY_anon:
		return true;
	case PGTY_hugetlb:
		return !(vma->vm_flags & VM_MAYSHARE);
	default:
		return false;
	}
}

static void gather_stats(struct page *page, struct numa_maps *md, struct vm_area_struct *vma,
			 bool pte_dirty, unsigned long nr_pages)
{
	struct folio *folio = page_folio(page);
	unsigned long count = 1;	/* folio_mapcount(): no rmap, see top */

	md->pages += nr_pages;
	if (pte_dirty || (page_flags(&folio->page) & PG_dirty))
		md->dirty += nr_pages;
	md->active += nr_pages;		/* no LRU, see top */
	if (numa_folio_anon(folio, vma))
		md->anon += nr_pages;
	if (count > md->mapcount_max)
		md->mapcount_max = count;
	md->node[0] += nr_pages;
}

static struct page *can_gather_numa_stats(pte_t pte, struct vm_area_struct *vma,
					  unsigned long addr)
{
	struct page *page;

	if (!pte_present(pte))
		return NULL;
	page = vm_normal_page(vma, addr, pte);
	if (!page || PageReserved(page))
		return NULL;
	return page;
}

static struct page *can_gather_numa_stats_pmd(pmd_t pmd, struct vm_area_struct *vma,
					      unsigned long addr)
{
	struct page *page;

	if (!pmd_present(pmd))
		return NULL;
	page = vm_normal_page_pmd(vma, addr, pmd);
	if (!page || PageReserved(page))
		return NULL;
	return page;
}

/*
 * pmd_trans_huge_lock() (include/linux/huge_mm.h): the PMD lock, held, if
 * the PMD is a huge leaf once locked; NULL otherwise.
 */
static spinlock_t *pmd_trans_huge_lock(pmd_t *pmd, struct vm_area_struct *vma)
{
	spinlock_t *ptl;

	if (!pmd_trans_huge(pmdp_get(pmd)))
		return NULL;
	ptl = pmd_lock(vma->vm_mm, pmd);
	if (likely(pmd_trans_huge(pmdp_get(pmd))))
		return ptl;
	spin_unlock(ptl);
	return NULL;
}

/* ->pmd_entry: a huge PMD under its lock, else the PTE table under its lock. */
static int gather_pte_stats(pmd_t *pmd, unsigned long addr, unsigned long end,
			    struct mm_walk *walk)
{
	struct numa_maps *md = walk->private;
	struct vm_area_struct *vma = walk->vma;
	pte_t *orig_pte, *pte;
	spinlock_t *ptl;

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		pmd_t pmdval = pmdp_get(pmd);
		struct page *page = can_gather_numa_stats_pmd(pmdval, vma, addr);

		if (page)
			gather_stats(page, md, vma, pmd_dirty(pmdval), HPAGE_PMD_NR);
		spin_unlock(ptl);
		return 0;
	}

	orig_pte = pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	do {
		pte_t ptent = ptep_get(pte);
		struct page *page = can_gather_numa_stats(ptent, vma, addr);

		if (!page)
			continue;
		gather_stats(page, md, vma, pte_dirty(ptent), 1);
	} while (pte++, addr += PAGE_SIZE, addr != end);
	pte_unmap_unlock(orig_pte, ptl);
	cond_resched();
	return 0;
}

/* huge_pte_lock(): the PMD table's lock for 2M, page_table_lock for 1G. */
static spinlock_t *huge_pte_lock(struct hstate *h, struct mm_struct *mm, pte_t *pte)
{
	spinlock_t *ptl;

	if (h->order == PMD_ORDER)
		ptl = pmd_lockptr(mm, (pmd_t *)pte);
	else
		ptl = &mm->page_table_lock;
	spin_lock(ptl);
	return ptl;
}

/*
 * ->hugetlb_entry: one count per huge page (nr_pages = 1), as in every
 * version.  The lock is machine->cfg.task_mmu_hugetlb_ptl: upstream's
 * "fs/proc/task_mmu: hold PTL in pagemap_hugetlb_range and
 * gather_hugetlb_stats" (Jinjiang Tu, v6.17-rc) reads the entry and uses its
 * page under huge_pte_lock(), as gather_pte_stats() does for a PMD, so that
 * a concurrent unmap or migration cannot free the page in between.  6.12
 * (6.12.118 included: it was not backported) reads the entry with
 * huge_ptep_get() and counts its page with no lock at all.
 */
static int gather_hugetlb_stats(pte_t *pte, unsigned long hmask, unsigned long addr,
				unsigned long end, struct mm_walk *walk)
{
	struct numa_maps *md = walk->private;
	spinlock_t *ptl = NULL;
	pte_t huge_pte;

	if (machine->cfg.task_mmu_hugetlb_ptl)
		ptl = huge_pte_lock(walk->vma->vm_hstate, walk->mm, pte);
	huge_pte = ptep_get(pte);	/* huge_ptep_get() */
	if (!pte_present(huge_pte))
		goto out;
	gather_stats(pfn_to_page(pte_pfn(huge_pte)), md, walk->vma, pte_dirty(huge_pte), 1);
out:
	if (ptl)
		spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops show_numa_ops = {
	.hugetlb_entry = gather_hugetlb_stats,
	.pmd_entry = gather_pte_stats,
	.walk_lock = PGWALK_RDLOCK,
};

/*
 * Issue 15: the counts the walk gathered, pinsim's or a kernel tree's
 * (ktree/ktree_task_mmu.c fills this same struct through the tree's own
 * walker and callbacks: checked here, at the glue, the tree's code
 * untouched), never exceed the pages the VMA spans (sim/checker.h).
 * mapmax is a mapcount, not a page count: not checked.
 */
static void numa_counts_check(struct vm_area_struct *vma, const struct numa_maps *md)
{
	static const char *const names[] = { "mapped", "anon", "active", "writeback",
					     "dirty", "swapcache", "N0" };
	const unsigned long counts[] = { md->pages, md->anon, md->active, md->writeback,
					 md->dirty, md->swapcache, md->node[0] };

	checker_numa_counts(vma->vm_start, (vma->vm_end - vma->vm_start) >> PAGE_SHIFT, names,
			    counts, sizeof(counts) / sizeof(counts[0]));
}

/* One line of numa_maps, in the kernel's order and under its conditions. */
static void show_numa_map(struct numa_seq *m, struct vm_area_struct *vma)
{
	const struct kimpl_ops *tree = kimpl_tree();
	struct numa_maps md = { 0 };
	const char *path = vma_file_path(vma);

	seq_printf(m, "%08lx %s", vma->vm_start, "default");
	if (path) {
		seq_puts(m, " file=");
		seq_path(m, path, "\n\t= ");
	} else if (vma_is_initial_heap(vma)) {
		seq_puts(m, " heap");
	} else if (vma_is_initial_stack(vma)) {
		seq_puts(m, " stack");
	}
	if (is_vm_hugetlb_page(vma))
		seq_puts(m, " huge");

	/*
	 * mmap_lock is held by the caller (m_start() in the kernel).  A machine
	 * running a kernel tree's code walks with the tree's walker and its
	 * fs/proc/task_mmu.c callbacks (sim/kimpl.h); walk_page_vma() alone
	 * would give the tree's walker with pinsim's callbacks.
	 */
	if (tree && tree->numa_walk_vma)
		tree->numa_walk_vma(vma, &md);
	else
		walk_page_vma(vma, &show_numa_ops, &md);
	numa_counts_check(vma, &md);

	if (!md.pages)
		goto out;
	if (md.anon)
		seq_printf(m, " anon=%lu", md.anon);
	if (md.dirty)
		seq_printf(m, " dirty=%lu", md.dirty);
	if (md.pages != md.anon && md.pages != md.dirty)
		seq_printf(m, " mapped=%lu", md.pages);
	if (md.mapcount_max > 1)
		seq_printf(m, " mapmax=%lu", md.mapcount_max);
	if (md.swapcache)
		seq_printf(m, " swapcache=%lu", md.swapcache);
	if (md.active < md.pages && !is_vm_hugetlb_page(vma))
		seq_printf(m, " active=%lu", md.active);
	if (md.writeback)
		seq_printf(m, " writeback=%lu", md.writeback);
	if (md.node[0])
		seq_printf(m, " N%d=%lu", 0, md.node[0]);
	seq_printf(m, " kernelpagesize_kB=%lu", vma_kernel_pagesize(vma) >> 10);
out:
	seq_puts(m, "\n");
	seq_end_record(m);
}

/*
 * The record buffer lives on the stack: a read may oops half way (seeds/01)
 * and never come back, and nothing must be left allocated when it does.
 */
long numa_maps_read(struct mm_struct *mm, char *buf, size_t len)
{
	/* Room for the NUL: the text is cut at @len - 1 (pinsim.h). */
	struct numa_seq m = { .buf = buf, .len = len ? len - 1 : 0 };
	struct vm_area_struct *vma;
	int err;

	/*
	 * lock_vma_range(): smaps and numa_maps walk page tables, so they take
	 * the mmap lock (killable), not per-VMA locks as /proc/pid/maps does.
	 */
	err = mmap_read_lock_killable(mm);
	if (err)
		return err;
	for (vma = find_vma(mm, 0); vma; vma = find_vma(mm, vma->vm_end))
		show_numa_map(&m, vma);
	mmap_read_unlock(mm);

	if (len)
		buf[m.pos] = '\0';
	return (long)m.pos;
}

/* ---------------------------------------------------------------------- */
/* The walker thread                                                       */
/* ---------------------------------------------------------------------- */

#define WALKER_BUF_SIZE (64 * 1024)
#define WALKER_STOP_GRACE_NS (2ULL * 1000 * 1000 * 1000)

struct numa_maps_walker {
	pthread_t thread;
	struct mm_struct *mm;
	struct numa_maps_walker_opts opts;
	char comm[16];
	char *buf;

	_Atomic bool stop;
	_Atomic bool done;
	_Atomic bool in_read;
	struct task_struct *_Atomic task;

	_Atomic unsigned long reads;
	/* written by the walker thread, read after join */
	bool oopsed;
	struct oops_record oops;
	int last_errno;
};

static long walker_read_body(void *arg)
{
	struct numa_maps_walker *w = arg;

	return numa_maps_read(w->mm, w->buf, WALKER_BUF_SIZE);
}

static bool walker_should_stop(struct numa_maps_walker *w)
{
	if (atomic_load(&w->stop))
		return true;
	return w->opts.max_iterations && atomic_load(&w->reads) >= w->opts.max_iterations;
}

/* Sleep @us in slices, so that a stop request is seen within a millisecond. */
static void walker_pause(struct numa_maps_walker *w, unsigned int us)
{
	while (us && !atomic_load(&w->stop)) {
		unsigned int slice = us < 1000 ? us : 1000;
		struct timespec ts = { .tv_nsec = (long)slice * 1000 };

		nanosleep(&ts, NULL);
		us -= slice;
	}
}

static void *numa_maps_walker_fn(void *arg)
{
	struct numa_maps_walker *w = arg;
	struct task_struct *t = mm_thread_task(w->mm);

	if (!t) {
		w->last_errno = -ENOMEM;
		goto out;
	}
	snprintf(t->comm, sizeof(t->comm), "%s", w->comm);
	set_current(t);
	atomic_store(&w->task, t);

	while (!walker_should_stop(w)) {
		long ret;

		atomic_store(&w->in_read, true);
		ret = sim_task_run(walker_read_body, w);
		atomic_store(&w->in_read, false);
		if (ret == -EOWNERDEAD) {
			/* The oops ended the task; its mmap_lock stays held. */
			w->oopsed = true;
			sim_last_oops(&w->oops);
			break;
		}
		if (ret < 0) {
			w->last_errno = (int)ret;
			if (ret == -EINTR || ret == -ESRCH)
				break;	/* killed: the reader exits */
			continue;
		}
		atomic_fetch_add(&w->reads, 1);
		walker_pause(w, w->opts.interval_us);
	}
	set_current(NULL);
out:
	atomic_store(&w->done, true);
	return NULL;
}

struct numa_maps_walker *numa_maps_walker_start(struct mm_struct *mm,
						const struct numa_maps_walker_opts *opts)
{
	struct numa_maps_walker *w;

	if (!mm)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->buf = malloc(WALKER_BUF_SIZE);
	if (!w->buf)
		goto free_w;
	w->mm = mm;
	if (opts)
		w->opts = *opts;
	snprintf(w->comm, sizeof(w->comm), "%s",
		 opts && opts->comm ? opts->comm : "numa_maps");
	if (pthread_create(&w->thread, NULL, numa_maps_walker_fn, w))
		goto free_buf;
	return w;

free_buf:
	free(w->buf);
free_w:
	free(w);
	return NULL;
}

bool numa_maps_walker_done(struct numa_maps_walker *w)
{
	return atomic_load(&w->done);
}

bool numa_maps_walker_in_read(struct numa_maps_walker *w)
{
	return atomic_load(&w->in_read);
}

unsigned long numa_maps_walker_reads(struct numa_maps_walker *w)
{
	return atomic_load(&w->reads);
}

static void deadline_after_ns(struct timespec *ts, unsigned long long ns)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ns / 1000000000ULL);
	ts->tv_nsec += (long)(ns % 1000000000ULL);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * A walker blocked in mmap_read_lock_killable() behind a dead holder never
 * comes back by itself: that is the seeds/01 hang.  After a grace period it
 * is reported as hung and killed the only way a killable wait can be left,
 * with a fatal signal.  The walker is a thread of the target's group here
 * (mm_thread_task()), so the signal reaches that whole group, as a kill of
 * a reader thread does in the kernel.
 */
void numa_maps_walker_stop(struct numa_maps_walker *w, struct numa_maps_walker_result *res)
{
	struct timespec ts;
	bool hung = false;

	if (!w)
		return;
	atomic_store(&w->stop, true);
	deadline_after_ns(&ts, WALKER_STOP_GRACE_NS);
	if (pthread_timedjoin_np(w->thread, NULL, &ts)) {
		struct task_struct *t = atomic_load(&w->task);

		hung = atomic_load(&w->in_read);
		if (t)
			send_sig_kill(t);
		pthread_join(w->thread, NULL);
	}
	if (res) {
		memset(res, 0, sizeof(*res));
		res->reads = atomic_load(&w->reads);
		res->oopsed = w->oopsed;
		if (w->oopsed)
			res->oops = w->oops;
		res->hung = hung;
		res->last_errno = w->last_errno;
	}
	free(w->buf);
	free(w);
}
