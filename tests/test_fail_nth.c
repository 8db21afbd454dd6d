// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allocation-failure injection (pinsim_fail_nth(), sim/fault_inject.h), the
 * way kernel engineers use /proc/self/fail-nth: fail the Nth allocation of
 * one call, for N = 1, 2, ... until the call makes fewer than N allocations
 * (it then succeeds with nothing injected), and check after each failed
 * call that it left the state exactly as it found it.
 *
 * The state (struct snap) is everything a leak or a half-done call could
 * change: every translation of every IOMMU domain of the container (both
 * dev0's and dev1's, which sit behind different IOMMU units and so have a
 * domain each), the level, pfn, refcount and pincount of every page of the
 * buffers the case keeps, locked_vm, dma_avail, nr_dmas, frames in use,
 * page-table pages, VMAs, tasks and free hugetlb pages.
 *
 * Calls swept:
 *  - VFIO_IOMMU_MAP_DMA (drivers/vfio/vfio_iommu_type1.c vfio_dma_do_map())
 *    of every backing: 4K anon, THP, hugetlb 2M and 1G, and a BAR mapped by
 *    PUD, PMD and PTE pfnmaps, into two domains, under each retry policy of
 *    follow_fault_pfn(); prefaulted, and untouched (the faults of
 *    pin_user_pages_remote()/fixup_user_fault() are injection points too,
 *    and what they put in the page tables stays after a failed call, as in
 *    the kernel: a fresh range per N, and its munmap must give it all back);
 *  - VFIO_IOMMU_UNMAP_DMA of each, which never fails for lack of memory:
 *    vfio_unmap_unpin() falls back from unmap_unpin_fast() to
 *    unmap_unpin_slow() when the vfio_regions kzalloc() fails;
 *  - VFIO_GROUP_SET_CONTAINER of a second group behind another IOMMU unit:
 *    vfio_iommu_type1_attach_group() allocates a domain and replays every
 *    mapping into it (vfio_iommu_replay()); a failure leaves the first
 *    domain as it was and the group without a container;
 *  - mmap(2) of anon, hugetlb and a BAR alone, and faults alone (a CPU
 *    access, pinsim_access(); the MMU of a mirroring host, pinsim_touch()).
 * Each test ends by destroying the process: every frame and task is back.
 */
#include <sys/resource.h>

#include "iommu.h"
#include "pinsim_internal.h"
#include "vfio_harness.h"
#include "vfio_iommu_driver.h"

#define IOVA 0x40000000ULL	/* 1 GiB: the swept mapping */
#define IOVA_KEPT 0x200000000ULL	/* 8 GiB: mappings the attach replays */
#define VA_SWEEP 0x500000000000ULL	/* 1 GiB aligned: fixed VAs, PUD-sized leaves */
#define VA_KEPT 0x600000000000ULL

static int c;
static uint64_t base_pages, base_tasks;

/* ---------------- every translation of every domain ---------------- */

/*
 * pinsim_iommu_lookup() answers for one iova; a snapshot of a whole domain
 * needs the domain itself, and its leaf count to know when the walk has
 * seen them all.  The container's backend data is recorded by wrapping the
 * machine's backend's open and release (lib/vfio_iommu_driver.h, as
 * tests/test_vfio_backend.c does); its group_domain op names the domain of
 * a group.
 */
static const struct vfio_iommu_backend *inner;
static struct vfio_iommu_backend recording;
static void *backend_data;

static int rec_open(unsigned long arg, void **data)
{
	int ret = inner->open(arg, data);

	if (!ret)
		backend_data = *data;
	return ret;
}

static void rec_release(void *data)
{
	if (data == backend_data)
		backend_data = NULL;
	inner->release(data);
}

static struct iommu_domain *domain_of(const struct vh_dev *d)
{
	return backend_data ? inner->group_domain(backend_data, d->group_id) : NULL;
}

/* The iova windows the cases map into: a leaf anywhere else is an error. */
#define MAX_WINDOWS 16
static struct {
	uint64_t start, len;
} windows[MAX_WINDOWS];
static unsigned int nr_windows;

static void track_iova(uint64_t iova, uint64_t len)
{
	ck_assert_uint_lt(nr_windows, MAX_WINDOWS);
	windows[nr_windows].start = iova;
	windows[nr_windows++].len = len;
}

/* The buffers whose pages a snapshot records. */
static struct {
	uint64_t va, len;
} kept[MAX_WINDOWS];
static unsigned int nr_kept;

static void track_va(uint64_t va, uint64_t len)
{
	ck_assert_uint_lt(nr_kept, MAX_WINDOWS);
	kept[nr_kept].va = va;
	kept[nr_kept++].len = len;
}

#define MAX_LEAVES 128
#define MAX_PAGES 256

struct leaf {
	uint64_t iova, phys, size;
};

struct dom_snap {
	struct iommu_domain *dom;
	unsigned long nr_leaves;
	unsigned int n;
	struct leaf leaf[MAX_LEAVES];
};

struct page_snap {
	uint64_t va, pfn;
	enum pinsim_level level;
	int refcount, pincount;
};

struct snap {
	uint64_t locked_vm, nr_dmas, dma_avail;
	uint64_t pages_allocated, pgtable_pages, nr_vmas, tasks;
	uint64_t hugetlb_2m_free, hugetlb_1g_free;
	struct dom_snap dom[2];
	unsigned int npages;
	struct page_snap page[MAX_PAGES];
};

/*
 * Walk the windows leaf by leaf (4K steps where nothing is mapped) until
 * the domain's every leaf is found; the windows are listed with the
 * always-mapped ones first, so an empty swept window is not walked at all.
 */
static void dom_take(struct dom_snap *s, const struct vh_dev *d)
{
	s->dom = domain_of(d);
	s->n = 0;
	s->nr_leaves = s->dom ? iommu_nr_leaves(s->dom) : 0;
	for (unsigned int w = 0; w < nr_windows && s->n < s->nr_leaves; w++) {
		uint64_t iova = windows[w].start, end = iova + windows[w].len;

		while (iova < end && s->n < s->nr_leaves) {
			uint64_t size = iommu_leaf_size(s->dom, iova);

			if (!size) {
				iova += PG;
				continue;
			}
			ck_assert_uint_lt(s->n, MAX_LEAVES);
			s->leaf[s->n++] = (struct leaf){
				.iova = iova,
				.phys = iommu_iova_to_phys(s->dom, iova),
				.size = size,
			};
			iova += size;
		}
	}
	ck_assert_msg(s->n == s->nr_leaves, "group %d: %lu IOMMU leaves, %u in the windows",
		      d->group_id, s->nr_leaves, s->n);
}

static void snap_take(struct snap *s)
{
	struct pinsim_vfio_stats vs = vh_stats(c);
	struct pinsim_stats st = vh_sim_stats();
	struct pinsim_proc_stats ps;

	ck_assert_int_eq(pinsim_proc_stats(proc, &ps), 0);
	s->locked_vm = ps.locked_vm;
	s->pgtable_pages = ps.pgtable_pages;
	s->nr_vmas = ps.nr_vmas;
	s->nr_dmas = vs.nr_dmas;
	s->dma_avail = vs.dma_avail;
	s->pages_allocated = st.pages_allocated;
	s->tasks = st.tasks;
	s->hugetlb_2m_free = st.hugetlb_2m_free;
	s->hugetlb_1g_free = st.hugetlb_1g_free;
	dom_take(&s->dom[0], &dev0);
	dom_take(&s->dom[1], &dev1);
	s->npages = 0;
	for (unsigned int k = 0; k < nr_kept; k++) {
		for (uint64_t a = kept[k].va; a < kept[k].va + kept[k].len;) {
			struct pinsim_page_info pi = vh_page(a);
			uint64_t step = vh_level_size(pi.level);

			ck_assert_uint_lt(s->npages, MAX_PAGES);
			s->page[s->npages++] = (struct page_snap){
				.va = a, .pfn = pi.pfn, .level = pi.level,
				.refcount = pi.refcount, .pincount = pi.pincount,
			};
			a = (a & ~(step - 1)) + step;
		}
	}
}

enum snap_scope {
	SNAP_ALL,
	/*
	 * Right after a call that faulted memory in: what the faults built
	 * (pages, tables, the fresh VMA) stays until the range goes; the
	 * rest must already be as before.
	 */
	SNAP_NOT_MEMORY,
};

#define SNAP_EQ(field)                                                                         \
	ck_assert_msg(now->field == was->field, "%s N=%u: " #field " %llu, was %llu", what, n, \
		      (unsigned long long)now->field, (unsigned long long)was->field)

static void dom_assert(const struct dom_snap *was, const struct dom_snap *now, const char *who,
		       const char *what, unsigned int n)
{
	ck_assert_msg(now->dom == was->dom, "%s N=%u: %s domain %p, was %p", what, n, who,
		      (void *)now->dom, (void *)was->dom);
	ck_assert_msg(now->n == was->n, "%s N=%u: %s domain has %u leaves, had %u", what, n, who,
		      now->n, was->n);
	for (unsigned int i = 0; i < now->n; i++)
		ck_assert_msg(!memcmp(&now->leaf[i], &was->leaf[i], sizeof(now->leaf[i])),
			      "%s N=%u: %s leaf %u: iova %#llx phys %#llx size %#llx, was "
			      "iova %#llx phys %#llx size %#llx",
			      what, n, who, i, (unsigned long long)now->leaf[i].iova,
			      (unsigned long long)now->leaf[i].phys,
			      (unsigned long long)now->leaf[i].size,
			      (unsigned long long)was->leaf[i].iova,
			      (unsigned long long)was->leaf[i].phys,
			      (unsigned long long)was->leaf[i].size);
}

static void snap_assert(const struct snap *was, enum snap_scope scope, const char *what,
			unsigned int n)
{
	static struct snap now_s;
	const struct snap *now = &now_s;

	snap_take(&now_s);
	SNAP_EQ(locked_vm);
	SNAP_EQ(nr_dmas);
	SNAP_EQ(dma_avail);
	SNAP_EQ(tasks);
	dom_assert(&was->dom[0], &now->dom[0], "dev0", what, n);
	dom_assert(&was->dom[1], &now->dom[1], "dev1", what, n);
	SNAP_EQ(npages);
	for (unsigned int i = 0; i < now->npages; i++) {
		const struct page_snap *a = &now->page[i], *b = &was->page[i];

		ck_assert_msg(a->va == b->va && a->pfn == b->pfn && a->level == b->level &&
				      a->refcount == b->refcount && a->pincount == b->pincount,
			      "%s N=%u: page %#llx: level %d pfn %#llx ref %d pin %d, was "
			      "level %d pfn %#llx ref %d pin %d",
			      what, n, (unsigned long long)a->va, a->level,
			      (unsigned long long)a->pfn, a->refcount, a->pincount, b->level,
			      (unsigned long long)b->pfn, b->refcount, b->pincount);
	}
	if (scope == SNAP_NOT_MEMORY)
		return;
	SNAP_EQ(pages_allocated);
	SNAP_EQ(pgtable_pages);
	SNAP_EQ(nr_vmas);
	SNAP_EQ(hugetlb_2m_free);
	SNAP_EQ(hugetlb_1g_free);
}

/* ---------------- the machine, per retry policy ---------------- */

static const char *const policy_name[] = {
	[PINSIM_RETRY_LEGACY] = "legacy",
	[PINSIM_RETRY_EAGAIN] = "eagain",
	[PINSIM_RETRY_BOUNDED] = "bounded",
	[PINSIM_RETRY_ENOENT] = "enoent",
};

/*
 * Both devices' groups in one type1v2 container: dev0 behind IOMMU unit 0,
 * dev1 behind unit 1, so two domains (unless @second is false: dev1's
 * group stays out, for the attach sweep).
 */
static void machine_with(enum pinsim_retry_policy policy, bool second)
{
	struct rlimit rl = { 4 * GiB, 4 * GiB };
	struct pinsim_stats st;

	vh_defaults(&vh_cfg);
	/*
	 * Under the tree the policy is its source's (vh_defaults() set the
	 * profile's): the policy-independent sweeps run under that one.
	 */
	if (!vh_impl_tree())
		vh_cfg.retry_policy = policy;
	vh_cfg.retry_bound = 2;
	/* The -ENOENT policy is the seeds/03 proposal's other half. */
	vh_cfg.follow_pfnmap_enoent = vh_cfg.retry_policy == PINSIM_RETRY_ENOENT;
	ck_assert_int_eq(pinsim_create(&vh_cfg, &sim), 0);
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	base_pages = st.pages_allocated;
	base_tasks = st.tasks;
	ck_assert_int_eq(pinsim_proc_create(sim, &proc), 0);
	ck_assert_int_eq(pinsim_setrlimit(proc, RLIMIT_MEMLOCK, &rl), 0);
	vh_add_device(&dev0);
	vh_add_device(&dev1);
	inner = sim->vfio_backend;
	recording = *inner;
	recording.open = rec_open;
	recording.release = rec_release;
	pinsim_set_vfio_backend(sim, &recording);
	backend_data = NULL;
	nr_windows = 0;
	nr_kept = 0;
	c = vh_container(VFIO_TYPE1v2_IOMMU);
	ck_assert_ptr_nonnull(backend_data);
	if (second)
		vh_attach(&dev1, c);
	ck_assert_ptr_nonnull(domain_of(&dev0));
	ck_assert(!second || domain_of(&dev1) != domain_of(&dev0));
}

static void fn_setup(void)
{
	machine_with(PINSIM_RETRY_LEGACY, true);
}

/* Process exit returns every frame and task the process had. */
static void assert_no_leak(void)
{
	struct pinsim_stats st;

	ck_assert_int_eq(pinsim_fail_nth(proc, 0, 0), 0);
	pinsim_proc_destroy(proc);
	proc = NULL;
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(st.pages_allocated, base_pages);
	ck_assert_uint_eq(st.tasks, base_tasks);
	ck_assert_uint_eq(st.hugetlb_2m_free, st.hugetlb_2m_total);
	ck_assert_uint_eq(st.hugetlb_1g_free, st.hugetlb_1g_total);
}

/* ---------------- backings ---------------- */

enum backing {
	B_ANON_4K,
	B_THP,
	B_HUGETLB_2M,
	B_HUGETLB_1G,
	B_BAR_PUD,
	B_BAR_PMD,
	B_BAR_PTE,
	NR_BACKINGS,
};

static const struct {
	const char *name;
	uint64_t len;
	enum pinsim_level level;	/* once touched */
	bool bar;
} backings[NR_BACKINGS] = {
	[B_ANON_4K] = { "4K anon", 16 * PG, PINSIM_LEVEL_PTE },
	[B_THP] = { "THP", 2 * MiB, PINSIM_LEVEL_PMD },
	[B_HUGETLB_2M] = { "hugetlb 2M", 2 * MiB, PINSIM_LEVEL_PMD },
	[B_HUGETLB_1G] = { "hugetlb 1G", GiB, PINSIM_LEVEL_PUD },
	[B_BAR_PUD] = { "BAR PUD pfnmap", GiB, PINSIM_LEVEL_PUD, true },
	[B_BAR_PMD] = { "BAR PMD pfnmap", 2 * MiB, PINSIM_LEVEL_PMD, true },
	[B_BAR_PTE] = { "BAR PTE pfnmap", 64 * KiB, PINSIM_LEVEL_PTE, true },
};

/*
 * mmap @b at the fixed, 1 GiB aligned @va, unarmed: 0 or -errno.  dev0's
 * BAR0 (2 GiB) maps by PUD leaves, BAR2 (2 MiB) by a PMD leaf, BAR4
 * (64 KiB) by PTEs.
 */
static int backing_mmap(enum backing b, uint64_t va)
{
	uint64_t len = backings[b].len, got;
	int fixed = MAP_FIXED;

	switch (b) {
	case B_ANON_4K:
		got = pinsim_mmap(proc, va, len, RW, ANON | fixed, -1, 0);
		break;
	case B_THP:
		got = pinsim_mmap(proc, va, len, RW, ANON | fixed, -1, 0);
		if (got != PINSIM_MAP_FAILED)
			ck_assert_int_eq(pinsim_madvise(proc, va, len, MADV_HUGEPAGE), 0);
		break;
	case B_HUGETLB_2M:
		got = pinsim_mmap(proc, va, len, RW, HUGE_2M | fixed, -1, 0);
		break;
	case B_HUGETLB_1G:
		got = pinsim_mmap(proc, va, len, RW, HUGE_1G | fixed, -1, 0);
		break;
	case B_BAR_PUD:
	case B_BAR_PMD:
	case B_BAR_PTE: {
		uint32_t index = b == B_BAR_PUD ? 0 : b == B_BAR_PMD ? 2 : 4;

		got = pinsim_mmap(proc, va, len, RW, MAP_SHARED | fixed, dev0.dev,
				  vh_region_offset(&dev0, index));
		break;
	}
	default:
		ck_abort();
	}
	if (got == PINSIM_MAP_FAILED)
		return -errno;
	ck_assert_uint_eq(got, va);
	return 0;
}

static void backing_touch(enum backing b, uint64_t va)
{
	vh_touch(va, backings[b].len, vh_level_size(backings[b].level));
	ck_assert_int_eq(vh_page(va).level, backings[b].level);
}

/* ---------------- the sweep ---------------- */

struct op {
	const char *what;
	void (*prepare)(struct op *o);		/* unarmed, before each N */
	int (*call)(struct op *o);		/* armed: 0 or -errno */
	void (*undo)(struct op *o);		/* unarmed, after a success */
	void (*failed)(struct op *o);		/* unarmed, after a failure */
	void (*finish)(struct op *o);		/* unarmed, after each N */
	int err;				/* what a failure returns */
	bool never_fails;			/* UNMAP_DMA */
	bool faults;				/* memory faulted in stays until finish() */
	enum backing b;
	uint64_t va, len, iova;
	unsigned int failures, successes;
};

/*
 * N = 1, 2, ...: arm, call, disarm.  A call that made fewer than N
 * allocations ends the sweep; it must have succeeded.  A fired failure is
 * the call's -ENOMEM (or its fallback's success).  Returns the number of
 * injection points (allocations of the successful call).
 */
static unsigned int sweep(struct op *o)
{
	static struct snap before;
	unsigned int n;

	snap_take(&before);
	for (n = 1; n < 100000; n++) {
		unsigned long injected = 0;
		unsigned int left;
		int ret;

		if (o->prepare)
			o->prepare(o);
		ck_assert_int_eq(pinsim_fail_nth(proc, n, PINSIM_FAIL_ALL), 0);
		ret = o->call(o);
		left = pinsim_fail_nth_read(&injected);
		ck_assert_int_eq(pinsim_fail_nth(proc, 0, 0), 0);
		if (left) {
			ck_assert_uint_eq(injected, 0);
			ck_assert_msg(ret == 0, "%s: %d without an injected failure", o->what, ret);
		} else {
			ck_assert_uint_eq(injected, 1);
		}
		if (ret == 0) {
			o->successes++;
			if (o->undo)
				o->undo(o);
		} else {
			o->failures++;
			ck_assert_msg(!o->never_fails, "%s N=%u: failed (%d): it must fall back",
				      o->what, n, ret);
			ck_assert_msg(ret == o->err, "%s N=%u: %d, not %d", o->what, n, ret, o->err);
			snap_assert(&before, o->faults ? SNAP_NOT_MEMORY : SNAP_ALL, o->what, n);
			if (o->failed)
				o->failed(o);
		}
		if (o->finish)
			o->finish(o);
		snap_assert(&before, SNAP_ALL, o->what, n);
		if (left)
			break;
	}
	printf("# %s: %u injection points, %u failed, %u absorbed by a fallback\n", o->what,
	       n - 1, o->failures, o->successes - 1);
	fflush(stdout);
	return n - 1;
}

/* ---------------- MAP_DMA and UNMAP_DMA ---------------- */

static int call_map(struct op *o)
{
	return vh_map(c, o->va, o->iova, o->len);
}

static void undo_map(struct op *o)
{
	vh_unmap_ok(c, o->iova, o->len);
}

/*
 * The snapshot's domains say no leaf was added anywhere; the lookup that
 * DMA goes through says it too, at both ends of the range.
 */
static void map_failed(struct op *o)
{
	vh_assert_no_iommu(&dev0, o->iova, PG);
	vh_assert_no_iommu(&dev1, o->iova + o->len - PG, PG);
}

static void prepare_fresh(struct op *o)
{
	ck_assert_int_eq(backing_mmap(o->b, o->va), 0);
}

static void finish_fresh(struct op *o)
{
	ck_assert_int_eq(pinsim_munmap(proc, o->va, o->len), 0);
}

static int call_unmap(struct op *o)
{
	uint64_t unmapped = 0;
	int ret = vh_unmap(c, o->iova, o->len, &unmapped);

	if (!ret)
		ck_assert_uint_eq(unmapped, o->len);
	return ret;
}

static void prepare_unmap(struct op *o)
{
	vh_map_ok(c, o->va, o->iova, o->len);
}

/*
 * MAP_DMA and UNMAP_DMA of @b, prefaulted, then MAP_DMA of it untouched:
 * returns the injection points of the prefaulted MAP_DMA.
 */
static unsigned int sweep_backing(enum backing b, const char *policy)
{
	char what[96];
	struct op o = {
		.what = what, .call = call_map, .undo = undo_map, .failed = map_failed,
		.err = -ENOMEM, .b = b, .va = VA_SWEEP, .len = backings[b].len, .iova = IOVA,
	};
	unsigned int points;

	nr_windows = nr_kept = 0;
	track_iova(IOVA, o.len);
	/* Prefaulted: MAP_DMA pins what is there. */
	ck_assert_int_eq(backing_mmap(b, VA_SWEEP), 0);
	backing_touch(b, VA_SWEEP);
	track_va(VA_SWEEP, o.len);
	snprintf(what, sizeof(what), "%s, %s: MAP_DMA of %llu KiB", backings[b].name, policy,
		 (unsigned long long)(o.len >> 10));
	points = sweep(&o);
	/* vfio_dma and IOMMU tables at least. */
	ck_assert_uint_ge(points, 2);

	snprintf(what, sizeof(what), "%s, %s: UNMAP_DMA", backings[b].name, policy);
	o = (struct op){
		.what = what, .prepare = prepare_unmap, .call = call_unmap, .err = -ENOMEM,
		.never_fails = true, .va = VA_SWEEP, .len = backings[b].len, .iova = IOVA,
	};
	/* The vfio_regions allocation: at least one. */
	ck_assert_uint_ge(sweep(&o), 1);
	ck_assert_int_eq(pinsim_munmap(proc, VA_SWEEP, backings[b].len), 0);
	nr_kept = 0;

	/*
	 * Untouched: the faults (anon, THP and hugetlb folios, page tables,
	 * a BAR's pfnmap leaves) are injection points too.  A fresh range per
	 * N: its munmap takes back what the faults made.
	 */
	snprintf(what, sizeof(what), "%s, %s: MAP_DMA untouched", backings[b].name, policy);
	o = (struct op){
		.what = what, .prepare = prepare_fresh, .call = call_map, .undo = undo_map,
		.failed = map_failed, .finish = finish_fresh, .err = -ENOMEM, .faults = true,
		.b = b, .va = VA_SWEEP, .len = backings[b].len, .iova = IOVA,
	};
	ck_assert_uint_gt(sweep(&o), points);
	return points;
}

/* Every backing, under the retry policy of the loop index. */
START_TEST(map_unmap_dma_every_backing_fail_nth_leaves_no_state)
{
	enum pinsim_retry_policy policy = (enum pinsim_retry_policy)_i;

	/*
	 * Under PINSIM_TEST_IMPL=tree the policy is the tree source's (the
	 * profile's): the kernel's own error paths are swept under that one.
	 */
	if (vh_impl_tree()) {
		vh_defaults(&vh_cfg);
		if (vh_cfg.retry_policy != policy) {
			printf("# skip: %s policy: the tree's source has %s\n", policy_name[policy],
			       policy_name[vh_cfg.retry_policy]);
			return;
		}
	}
	machine_with(policy, true);
	for (int b = 0; b < NR_BACKINGS; b++)
		sweep_backing((enum backing)b, policy_name[policy]);
	assert_no_leak();
}
END_TEST

/* ---------------- attach: a second domain, replayed ---------------- */

static int call_set_container(struct op *o)
{
	(void)o;
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, dev1.group, VFIO_GROUP_SET_CONTAINER, &c));
}

static void undo_set_container(struct op *o)
{
	(void)o;
	/* The replay made the same translations as dev0's domain has. */
	ck_assert_ptr_nonnull(domain_of(&dev1));
	ck_assert_ptr_ne(domain_of(&dev1), domain_of(&dev0));
	for (unsigned int w = 0; w < nr_windows; w++)
		for (uint64_t iova = windows[w].start; iova < windows[w].start + windows[w].len;
		     iova += 2 * MiB) {
			uint64_t p0 = 0, p1 = 0;

			vh_iommu_leaf(&dev0, iova, &p0);
			vh_iommu_leaf(&dev1, iova, &p1);
			ck_assert_uint_eq(p0, p1);
		}
	ck_assert_int_eq(pinsim_ioctl(proc, dev1.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
}

static void set_container_failed(struct op *o)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };

	(void)o;
	ck_assert_int_eq(pinsim_ioctl(proc, dev1.group, VFIO_GROUP_GET_STATUS, &st), 0);
	ck_assert(!(st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET));
	ck_assert_ptr_null(domain_of(&dev1));
}

/*
 * vfio_iommu_type1_attach_group() of dev1's group (IOMMU unit 1) into a
 * container whose domain (unit 0) maps 4K anon, THP, hugetlb 2M and a BAR
 * PMD: the new domain, its tables and the replay of every mapping
 * (vfio_iommu_replay()) are injection points; a failure frees the new
 * domain and leaves the old one and every pin as they were.
 */
START_TEST(attach_second_domain_fail_nth_leaves_both_domains)
{
	static const enum backing kept_b[] = { B_ANON_4K, B_THP, B_HUGETLB_2M, B_BAR_PMD };
	struct op o = {
		.what = "SET_CONTAINER of a second IOMMU unit (replay)",
		.call = call_set_container, .undo = undo_set_container,
		.failed = set_container_failed, .err = -ENOMEM,
	};
	char path[64];

	machine_with(PINSIM_RETRY_LEGACY, false);
	for (unsigned int i = 0; i < sizeof(kept_b) / sizeof(kept_b[0]); i++) {
		uint64_t va = VA_KEPT + i * GiB, iova = IOVA_KEPT + i * GiB;
		uint64_t len = backings[kept_b[i]].len;

		ck_assert_int_eq(backing_mmap(kept_b[i], va), 0);
		backing_touch(kept_b[i], va);
		vh_map_ok(c, va, iova, len);
		track_va(va, len);
		track_iova(iova, len);
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", dev1.group_id);
	dev1.group = pinsim_open(proc, path, O_RDWR);
	ck_assert_int_ge(dev1.group, 0);
	/* The domain, the vfio_domain, the group and IOMMU tables at least. */
	ck_assert_uint_ge(sweep(&o), 4);
	assert_no_leak();
}
END_TEST

/* ---------------- mmap alone, faults alone ---------------- */

static int call_mmap(struct op *o)
{
	return backing_mmap(o->b, o->va);
}

static void undo_mmap(struct op *o)
{
	ck_assert_int_eq(pinsim_munmap(proc, o->va, o->len), 0);
}

static void mmap_failed(struct op *o)
{
	ck_assert_int_eq(vh_page(o->va).level, PINSIM_LEVEL_NONE);
	/* Nothing there: a fixed mmap of the range works again. */
	ck_assert_int_eq(pinsim_munmap(proc, o->va, o->len), 0);
}

/*
 * mmap(2) of each backing: the VMA (vm_area_alloc()), a hugetlb mapping's
 * reservation, a BAR's vfio-pci mmap.  A failure leaves no VMA, no
 * reservation (every hugetlb page still free, and the pool still gives
 * all of them to a later mapping).
 */
START_TEST(mmap_every_backing_fail_nth_leaves_no_vma)
{
	fn_setup();
	for (int b = 0; b < NR_BACKINGS; b++) {
		char what[64];
		struct op o = {
			.what = what, .call = call_mmap, .undo = undo_mmap, .failed = mmap_failed,
			.err = -ENOMEM, .b = (enum backing)b, .va = VA_SWEEP,
			.len = backings[b].len,
		};

		snprintf(what, sizeof(what), "%s: mmap", backings[b].name);
		ck_assert_uint_ge(sweep(&o), 1);
	}
	/* No reservation leaked: the whole 2M pool maps and faults in. */
	{
		uint64_t len = vh_cfg.hugetlb_2m_pages * 2 * MiB;

		ck_assert_uint_eq(pinsim_mmap(proc, VA_SWEEP, len, RW, HUGE_2M | MAP_FIXED, -1, 0),
				  VA_SWEEP);
		vh_touch(VA_SWEEP, len, 2 * MiB);
		ck_assert_uint_eq(vh_sim_stats().hugetlb_2m_free, 0);
		ck_assert_int_eq(pinsim_munmap(proc, VA_SWEEP, len), 0);
	}
	assert_no_leak();
}
END_TEST

static int call_access(struct op *o)
{
	unsigned char b = 0x5a;
	ssize_t ret = pinsim_access(proc, o->va, &b, 1, 1);

	return ret == 1 ? 0 : -errno;
}

static int call_touch(struct op *o)
{
	struct pinsim_page_info pi;

	errno = 0;
	return pinsim_touch(proc, o->va, 1, &pi) ? -errno : 0;
}

static void fault_failed(struct op *o)
{
	/* The page is not mapped; only page tables the fault made stay. */
	ck_assert_int_eq(vh_page(o->va).level, PINSIM_LEVEL_NONE);
}

/*
 * A fault alone: a write of the first byte of a fresh mapping of each
 * backing, through pinsim_access() (a CPU access, cpu_translate()) and
 * pinsim_touch() (a mirroring host's MMU).  A failed fault maps nothing
 * and returns -EFAULT (VM_FAULT_OOM; in the kernel a user fault would
 * invoke the OOM killer and retry); a THP folio that cannot be allocated
 * falls back to 4K.  munmap takes back the tables the fault built.
 */
START_TEST(fault_every_backing_fail_nth_maps_nothing)
{
	fn_setup();
	for (int b = 0; b < NR_BACKINGS; b++) {
		for (int touch = 0; touch < 2; touch++) {
			char what[64];
			struct op o = {
				.what = what, .prepare = prepare_fresh,
				.call = touch ? call_touch : call_access, .failed = fault_failed,
				.finish = finish_fresh, .err = -EFAULT, .faults = true,
				.b = (enum backing)b, .va = VA_SWEEP, .len = backings[b].len,
			};

			snprintf(what, sizeof(what), "%s: fault (%s)", backings[b].name,
				 touch ? "pinsim_touch" : "pinsim_access");
			ck_assert_uint_ge(sweep(&o), 1);
		}
	}
	assert_no_leak();
}
END_TEST

/* ---------------- device fds and long-term pins ---------------- */

static int call_get_device_fd(struct op *o)
{
	(void)o;
	dev1.dev = pinsim_ioctl(proc, dev1.group, VFIO_GROUP_GET_DEVICE_FD, (void *)dev1.name);
	return dev1.dev < 0 ? -errno : 0;
}

static void undo_get_device_fd(struct op *o)
{
	(void)o;
	ck_assert_int_eq(pinsim_close(proc, dev1.dev), 0);
}

/*
 * VFIO_GROUP_GET_DEVICE_FD: vfio_allocate_device_file()'s kzalloc() fails
 * before the device is opened: no fd.  After the sweep the group can be
 * unset (EBUSY if a failed call had left the device open).
 */
START_TEST(get_device_fd_fail_nth_opens_nothing)
{
	struct op o = {
		.what = "GET_DEVICE_FD", .call = call_get_device_fd,
		.undo = undo_get_device_fd, .err = -ENOMEM,
	};

	machine_with(PINSIM_RETRY_LEGACY, false);
	vh_group_set_container(&dev1, c);
	ck_assert_uint_ge(sweep(&o), 1);
	ck_assert_int_eq(pinsim_ioctl(proc, dev1.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_no_leak();
}
END_TEST

static struct pinsim_pin *pin;

static int call_pin(struct op *o)
{
	return pinsim_pin_user_pages(proc, o->va, o->len, 1, &pin) ? -errno : 0;
}

static void undo_pin(struct op *o)
{
	(void)o;
	ck_assert_int_eq(pinsim_unpin_user_pages(pin), 0);
}

/*
 * A driver's long-term pin (pin_user_pages(FOLL_LONGTERM) and locked_vm):
 * its page array's kvmalloc() fails after the charge, which is undone.
 */
START_TEST(pin_user_pages_fail_nth_pins_nothing)
{
	fn_setup();
	for (int b = B_ANON_4K; b <= B_HUGETLB_2M; b++) {
		char what[64];
		struct op o = {
			.what = what, .call = call_pin, .undo = undo_pin, .err = -ENOMEM,
			.va = VA_SWEEP, .len = backings[b].len,
		};

		ck_assert_int_eq(backing_mmap((enum backing)b, VA_SWEEP), 0);
		backing_touch((enum backing)b, VA_SWEEP);
		nr_kept = 0;
		track_va(VA_SWEEP, o.len);
		snprintf(what, sizeof(what), "%s: pin_user_pages", backings[b].name);
		ck_assert_uint_ge(sweep(&o), 1);
		nr_kept = 0;
		ck_assert_int_eq(pinsim_munmap(proc, VA_SWEEP, o.len), 0);
	}
	assert_no_leak();
}
END_TEST

/* ---------------- fork ---------------- */

static struct pinsim_proc *child;

static int call_fork(struct op *o)
{
	(void)o;
	return pinsim_fork(proc, &child) ? -errno : 0;
}

static void undo_fork(struct op *o)
{
	(void)o;
	pinsim_proc_destroy(child);
	child = NULL;
}

/*
 * fork(2) (kernel/fork.c copy_process()): the child's task and its
 * signal_struct, mm, VMAs, page tables and copied pinned pages are
 * injection points; -1/ENOMEM changes nothing in the parent.
 */
START_TEST(fork_fail_nth_changes_nothing)
{
	struct op o = {
		.what = "fork", .call = call_fork, .undo = undo_fork, .err = -ENOMEM,
	};

	fn_setup();
	ck_assert_int_eq(backing_mmap(B_ANON_4K, VA_KEPT), 0);
	backing_touch(B_ANON_4K, VA_KEPT);
	vh_map_ok(c, VA_KEPT, IOVA_KEPT, backings[B_ANON_4K].len);	/* pinned: copied at fork */
	ck_assert_int_eq(backing_mmap(B_THP, VA_KEPT + GiB), 0);
	backing_touch(B_THP, VA_KEPT + GiB);
	track_va(VA_KEPT, backings[B_ANON_4K].len);
	track_va(VA_KEPT + GiB, backings[B_THP].len);
	track_iova(IOVA_KEPT, backings[B_ANON_4K].len);
	ck_assert_uint_ge(sweep(&o), 4);
	assert_no_leak();
}
END_TEST

/* ---------------- the counter itself ---------------- */

START_TEST(fail_nth_counts_down_only_for_its_process)
{
	unsigned long injected = 7;

	fn_setup();
	/* Disarmed: reads 0, nothing injected. */
	ck_assert_int_eq(pinsim_fail_nth(proc, 0, PINSIM_FAIL_ALL), 0);
	ck_assert_uint_eq(pinsim_fail_nth_read(&injected), 0);
	ck_assert_uint_eq(injected, 0);
	ck_assert_int_eq(pinsim_fail_nth(NULL, 1, PINSIM_FAIL_ALL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_fail_nth(proc, 1, 1u << 20), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* An mmap of a new range makes one VMA (slab). */
	ck_assert_int_eq(pinsim_fail_nth(proc, 1, PINSIM_FAIL_SLAB), 0);
	errno = 0;
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) == PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(pinsim_fail_nth_read(&injected), 0);
	ck_assert_uint_eq(injected, 1);
	/* Every mode: every allocation of the kind fails until disarmed. */
	ck_assert_int_eq(pinsim_fail_every(proc, PINSIM_FAIL_SLAB), 0);
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) == PINSIM_MAP_FAILED);
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) == PINSIM_MAP_FAILED);
	pinsim_fail_nth_read(&injected);
	ck_assert_uint_eq(injected, 2);
	ck_assert_int_eq(pinsim_fail_every(proc, 0), 0);
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) != PINSIM_MAP_FAILED);
	/* A kind not armed is not counted. */
	ck_assert_int_eq(pinsim_fail_nth(proc, 1, PINSIM_FAIL_IOMMU_PGTABLE), 0);
	ck_assert(pinsim_mmap(proc, 0, PG, RW, ANON, -1, 0) != PINSIM_MAP_FAILED);
	ck_assert_uint_eq(pinsim_fail_nth_read(NULL), 1);
	ck_assert_int_eq(pinsim_fail_nth(proc, 0, 0), 0);
	assert_no_leak();
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("fail_nth");
	TCase *tc = tcase_create("fail_nth");

	/* Each case builds its machine (the retry policy is a create-time switch). */
	tcase_add_checked_fixture(tc, NULL, vh_teardown);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, fail_nth_counts_down_only_for_its_process);
	tcase_add_loop_test(tc, map_unmap_dma_every_backing_fail_nth_leaves_no_state,
			    PINSIM_RETRY_LEGACY, PINSIM_RETRY_ENOENT + 1);
	tcase_add_test(tc, attach_second_domain_fail_nth_leaves_both_domains);
	tcase_add_test(tc, mmap_every_backing_fail_nth_leaves_no_vma);
	tcase_add_test(tc, fault_every_backing_fail_nth_maps_nothing);
	tcase_add_test(tc, get_device_fd_fail_nth_opens_nothing);
	tcase_add_test(tc, pin_user_pages_fail_nth_pins_nothing);
	tcase_add_test(tc, fork_fail_nth_changes_nothing);
	return s;
}
