// SPDX-License-Identifier: GPL-2.0-only
/*
 * The numa_maps walk of the kernel tree's own fs/proc/task_mmu.c
 * (gather_pte_stats(), gather_hugetlb_stats(), gather_stats() and
 * can_gather_numa_stats{,_pmd}() under the tree's walk_page_vma(), built by
 * ktree/ as ktree_numa_walk_vma()) against pinsim's rewrite in
 * sim/task_mmu.c, on a machine with the switches of the tree's version
 * profile.  For each kind of VMA the rewrite handles, the same VMA is
 * counted by both: the rewrite through numa_maps_read() (its text, parsed),
 * the tree through its struct numa_maps.  What show_numa_map() would print
 * of the tree's counts must be what the rewrite printed, field by field;
 * and every count of the tree's must be the number the scenario mapped,
 * so that both wrong the same way still fails.
 *
 * A field the two disagree on is a fidelity bug of the rewrite: the case
 * then asserts the tree's value, prints a "# DIVERGENCE" TAP comment and
 * is listed in known_divergences[] (empty: none found on 6.12.118).
 */
#include <linux/mman.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "../harness.h"
#include "../mm_fixtures.h"
#include "kernel_profiles.h"
#include "ktree_task_mmu.h"
#include "task_mmu.h"

#define ANON_VA 0x7e0000000000UL	/* 1 GiB aligned */
#define BAR_VA 0x7f0000000000UL		/* 1 GiB aligned */
#define BAR_PMD_VA 0x7f8000200000UL	/* 2 MiB aligned, not 1 GiB */
#define TEXT_LEN 8192

/* ---------------- machine ---------------- */

/* tm_defaults() with the mm switches of the tree's version (as tests/test_numa_maps.c). */
static void setup_tree_kernel(enum thp_mode thp)
{
	struct machine_config mc;
	struct vfio_type1_config vc;

	ck_assert_int_eq(kernel_profile_configs(KTREE_PROFILE, &mc, &vc), 0);
	tm_defaults(&tm_cfg);
	tm_cfg.pagewalk_fixed = mc.pagewalk_fixed;
	tm_cfg.pagewalk_stale_action_fix = mc.pagewalk_stale_action_fix;
	tm_cfg.special_bit_per_level = mc.special_bit_per_level;
	tm_cfg.task_mmu_hugetlb_ptl = mc.task_mmu_hugetlb_ptl;
	tm_cfg.vfio_pci_mmap_align = mc.vfio_pci_mmap_align;
	tm_cfg.thp = thp;
	tm_setup_with(&tm_cfg);
}

static unsigned long map_mem(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot,
			     unsigned long flags)
{
	unsigned long a = vm_mmap(mm, NULL, addr, len, prot, MAP_ANONYMOUS | flags, 0);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap: %ld", (long)a);
	return a;
}

/* ---------------- the two sides ---------------- */

/*
 * What show_numa_map() (fs/proc/task_mmu.c) prints of a VMA's counts, in
 * its order; -1: not printed.  pages is not printed itself: it is mapped=
 * when that is printed, else max(anon, dirty) (mapped= is left out only
 * when pages equals one of them, and neither exceeds pages).
 */
struct numa_text {
	long anon, dirty, mapped, mapmax, swapcache, active, writeback, n0;
	long pages;
};

#define NUMA_TEXT_NONE { -1, -1, -1, -1, -1, -1, -1, -1, 0 }

#define NUMA_TEXT_FIELDS(X)                                                                  \
	X(anon) X(dirty) X(mapped) X(mapmax) X(swapcache) X(active) X(writeback) X(n0) X(pages)

/* show_numa_map()'s conditions, applied to the tree's counts. */
static struct numa_text text_of_counts(const struct ktree_numa_counts *md, bool hugetlb)
{
	struct numa_text t = NUMA_TEXT_NONE;

	if (!md->pages)
		return t;
	t.pages = (long)md->pages;
	if (md->anon)
		t.anon = (long)md->anon;
	if (md->dirty)
		t.dirty = (long)md->dirty;
	if (md->pages != md->anon && md->pages != md->dirty)
		t.mapped = (long)md->pages;
	if (md->mapcount_max > 1)
		t.mapmax = (long)md->mapcount_max;
	if (md->swapcache)
		t.swapcache = (long)md->swapcache;
	if (md->active < md->pages && !hugetlb)
		t.active = (long)md->active;
	if (md->writeback)
		t.writeback = (long)md->writeback;
	if (md->node[0])
		t.n0 = (long)md->node[0];
	return t;
}

static char text[TEXT_LEN];

/* The rewrite's numa_maps line of the VMA starting at @start (no newline). */
static const char *rewrite_line(struct mm_struct *mm, unsigned long start)
{
	static char line[512];
	char key[32];
	long n = numa_maps_read(mm, text, sizeof(text));
	const char *p = text;

	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, sizeof(text));
	snprintf(key, sizeof(key), "%08lx ", start);
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (!strncmp(p, key, strlen(key))) {
			ck_assert_uint_lt(len, sizeof(line));
			memcpy(line, p, len);
			line[len] = '\0';
			return line;
		}
		p = eol ? eol + 1 : NULL;
	}
	ck_abort_msg("no numa_maps line for %#lx in:\n%s", start, text);
	return NULL;
}

/* The counters of a numa_maps line; anything else on it is not a counter. */
static struct numa_text text_of_line(const char *line)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
#define NUMA_KEY(f, k) { k "=", offsetof(struct numa_text, f) },
		NUMA_KEY(anon, "anon") NUMA_KEY(dirty, "dirty") NUMA_KEY(mapped, "mapped")
		NUMA_KEY(mapmax, "mapmax") NUMA_KEY(swapcache, "swapcache")
		NUMA_KEY(active, "active") NUMA_KEY(writeback, "writeback") NUMA_KEY(n0, "N0")
#undef NUMA_KEY
	};
	struct numa_text t = NUMA_TEXT_NONE;
	char buf[512];
	char *save, *tok;

	ck_assert_uint_lt(strlen(line), sizeof(buf));
	strcpy(buf, line);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t kl = strlen(keys[i].key);
			char *end;
			long v;

			if (strncmp(tok, keys[i].key, kl))
				continue;
			v = strtol(tok + kl, &end, 10);
			ck_assert_msg(*end == '\0' && v > 0, "bad counter '%s' in: %s", tok, line);
			*(long *)((char *)&t + keys[i].off) = v;
		}
	}
	if (t.mapped > 0)
		t.pages = t.mapped;
	else if (t.anon > 0 || t.dirty > 0)
		t.pages = t.anon > t.dirty ? t.anon : t.dirty;
	return t;
}

/* The tree's counts of the VMA at @start, under the mmap read lock as m_start(). */
static void tree_counts(struct mm_struct *mm, unsigned long start, struct ktree_numa_counts *md)
{
	struct vm_area_struct *vma;

	memset(md, 0, sizeof(*md));
	mmap_read_lock(mm);
	vma = vma_lookup(mm, start);
	ck_assert_ptr_nonnull(vma);
	ck_assert_uint_eq(vma->vm_start, start);
	ck_assert_int_eq(ktree_numa_walk_vma(vma, md), 0);
	mmap_read_unlock(mm);
}

/*
 * Fields where the tree and the rewrite are known to differ: the case
 * prints "# DIVERGENCE" and goes on with the tree's value (asserted
 * absolutely by the caller).  None on 6.12.118.
 */
static const struct {
	const char *kind;
	const char *field;
} known_divergences[] = {
	{ NULL, NULL },
};

static bool known_divergence(const char *kind, const char *field)
{
	for (size_t i = 0; i < sizeof(known_divergences) / sizeof(known_divergences[0]); i++)
		if (known_divergences[i].kind && !strcmp(known_divergences[i].kind, kind) &&
		    !strcmp(known_divergences[i].field, field))
			return true;
	return false;
}

static void compare_field(const char *kind, const char *field, long tree, long rewrite,
			  const char *line)
{
	if (tree == rewrite)
		return;
	if (known_divergence(kind, field)) {
		printf("# DIVERGENCE %s: %s: tree (fs/proc/task_mmu.c) %ld, rewrite "
		       "(sim/task_mmu.c) %ld (-1: not printed); rewrite's line: %s\n",
		       kind, field, tree, rewrite, line);
		fflush(stdout);
		return;
	}
	ck_abort_msg("%s: %s: tree %ld, rewrite %ld (-1: not printed); rewrite's line: %s", kind,
		     field, tree, rewrite, line);
}

/*
 * Count the VMA at @start with both, the tree first; @prepare (if any)
 * runs before each, for walks that change what they walk (the BAR's PUD
 * leaves).  The tree's counts must be @want exactly and the rewrite's
 * printed counters the tree's.
 */
static void check_vma(struct mm_struct *mm, const char *kind, unsigned long start, bool hugetlb,
		      const struct ktree_numa_counts *want, void (*prepare)(void *), void *arg)
{
	struct ktree_numa_counts md;
	struct numa_text tr, rw;
	const char *line;

	if (prepare)
		prepare(arg);
	tree_counts(mm, start, &md);
	tr = text_of_counts(&md, hugetlb);
	if (prepare)
		prepare(arg);
	line = rewrite_line(mm, start);
	rw = text_of_line(line);
#define COMPARE(f) compare_field(kind, #f, tr.f, rw.f, line);
	NUMA_TEXT_FIELDS(COMPARE)
#undef COMPARE

	ck_assert_uint_eq(md.pages, want->pages);
	ck_assert_uint_eq(md.anon, want->anon);
	ck_assert_uint_eq(md.active, want->active);
	ck_assert_uint_eq(md.writeback, want->writeback);
	ck_assert_uint_eq(md.mapcount_max, want->mapcount_max);
	ck_assert_uint_eq(md.dirty, want->dirty);
	ck_assert_uint_eq(md.swapcache, want->swapcache);
	ck_assert_uint_eq(md.node[0], want->node[0]);
	ck_assert_uint_eq(sim_oops_count(), 0);
	ck_assert_uint_eq(sim_warn_count(), 0);
}

/*
 * The counts of @pages pages the simulated machine mapped, @anon and
 * @dirty of them so: every page active (no LRU), mapped once (no rmap, no
 * fork), on node 0, none in swap cache or under writeback.
 */
static struct ktree_numa_counts counts(unsigned long pages, unsigned long anon,
				       unsigned long dirty)
{
	return (struct ktree_numa_counts){
		.pages = pages, .anon = anon, .active = pages, .mapcount_max = pages ? 1 : 0,
		.dirty = dirty, .node = { pages },
	};
}

/* ---------------- anonymous 4K pages ---------------- */

START_TEST(test_anon_4k_written_and_read_pages_count_anon_dirty)
{
	struct mm_struct *mm;
	unsigned long va;
	struct ktree_numa_counts want = counts(10, 10, 10);

	setup_tree_kernel(THP_NEVER);
	mm = tm_mm("qemu");
	va = map_mem(mm, ANON_VA, 64 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED);
	/*
	 * do_anonymous_page() in pinsim maps a writable VMA's page dirty on a
	 * read fault too (no zero page): 10 pages, all dirty.
	 */
	for (int i = 0; i < 5; i++)
		touch(mm, va + i * 5 * PAGE_SIZE, true);
	for (int i = 5; i < 10; i++)
		touch(mm, va + i * 5 * PAGE_SIZE, false);
	check_vma(mm, "anon 4K rw", va, false, &want, NULL, NULL);
	mmput(mm);
}
END_TEST

START_TEST(test_anon_4k_read_only_pages_count_anon_clean)
{
	struct mm_struct *mm;
	unsigned long va;
	struct ktree_numa_counts want = counts(3, 3, 0);

	setup_tree_kernel(THP_NEVER);
	mm = tm_mm("qemu");
	va = map_mem(mm, ANON_VA, 16 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_FIXED);
	for (int i = 0; i < 3; i++)
		touch(mm, va + i * 4 * PAGE_SIZE, false);
	check_vma(mm, "anon 4K ro", va, false, &want, NULL, NULL);
	mmput(mm);
}
END_TEST

/*
 * Shared anonymous memory is shmem (sim/shmem.c): its pages are page cache,
 * not anonymous; only the written ones are dirty (a read fault maps the
 * page clean, do_read_fault()).
 */
START_TEST(test_shared_anon_4k_pages_are_shmem_not_anon)
{
	struct mm_struct *mm;
	unsigned long va;
	struct ktree_numa_counts want = counts(4, 0, 2);

	setup_tree_kernel(THP_NEVER);
	mm = tm_mm("qemu");
	va = map_mem(mm, ANON_VA, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED);
	for (int i = 0; i < 4; i++)
		touch(mm, va + i * PAGE_SIZE, i & 1);
	check_vma(mm, "shared anon 4K", va, false, &want, NULL, NULL);
	mmput(mm);
}
END_TEST

START_TEST(test_untouched_vma_counts_nothing)
{
	struct mm_struct *mm;
	unsigned long va;
	struct ktree_numa_counts want = counts(0, 0, 0);

	setup_tree_kernel(THP_NEVER);
	mm = tm_mm("qemu");
	va = map_mem(mm, ANON_VA, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED);
	ck_assert_str_eq(rewrite_line(mm, va), "7e0000000000 default");
	check_vma(mm, "untouched anon", va, false, &want, NULL, NULL);
	mmput(mm);
}
END_TEST

/* ---------------- THP ---------------- */

/*
 * gather_pte_stats(): a huge PMD is HPAGE_PMD_SIZE / PAGE_SIZE pages under
 * pmd_trans_huge_lock(); the 4K tail past the last 2M boundary goes
 * through the PTE table.
 */
START_TEST(test_thp_pmd_counts_512_pages_and_tail_ptes_one_each)
{
	struct mm_struct *mm;
	unsigned long va;
	struct ktree_numa_counts want = counts(2 * HPAGE_PMD_NR + 2, 2 * HPAGE_PMD_NR + 2,
					       2 * HPAGE_PMD_NR + 2);

	setup_tree_kernel(THP_ALWAYS);
	mm = tm_mm("qemu");
	va = map_mem(mm, ANON_VA, 4 * MiB + 16 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_FIXED);
	touch(mm, va, true);
	touch(mm, va + 2 * MiB + 12345, false);
	touch(mm, va + 4 * MiB, true);
	touch(mm, va + 4 * MiB + 15 * PAGE_SIZE, false);
	ck_assert_int_eq(level_at(mm, va), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, va + 2 * MiB), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, va + 4 * MiB), PGTABLE_PTE);
	check_vma(mm, "THP", va, false, &want, NULL, NULL);
	/* No ->pte_entry: neither walk split the THPs. */
	ck_assert_int_eq(level_at(mm, va), PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, va + 2 * MiB), PGTABLE_PMD);
	mmput(mm);
}
END_TEST

/* ---------------- hugetlb ---------------- */

static const struct {
	const char *kind;
	bool gigantic;
	bool shared;
} hugetlb_cases[] = {
	{ "hugetlb 2M private", false, false },
	{ "hugetlb 2M shared", false, true },
	{ "hugetlb 1G private", true, false },
	{ "hugetlb 1G shared", true, true },
};

/*
 * gather_hugetlb_stats(): 1 per huge page, whatever its size.  A private
 * page is anon (hugetlb_add_new_anon_rmap()) and dirty only once written
 * (hugetlb_no_page() maps a read fault read-only and clean); a shared one
 * is page cache, mapped writable and dirty at once in a writable mapping.
 */
START_TEST(test_hugetlb_counts_one_per_huge_page)
{
	const bool gigantic = hugetlb_cases[_i].gigantic;
	const bool shared = hugetlb_cases[_i].shared;
	const unsigned long size = gigantic ? GiB : 2 * MiB;
	struct mm_struct *mm;
	unsigned long va;
	struct ktree_numa_counts want = counts(2, shared ? 0 : 2, shared ? 2 : 1);

	setup_tree_kernel(THP_NEVER);
	mm = tm_mm("qemu");
	va = map_mem(mm, 0, 3 * size, PROT_READ | PROT_WRITE,
		     (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_HUGETLB |
		     (gigantic ? MAP_HUGE_1GB : MAP_HUGE_2MB));
	touch(mm, va + 123, true);
	touch(mm, va + 2 * size + 4567, false);
	ck_assert_int_eq(level_at(mm, va), gigantic ? PGTABLE_PUD : PGTABLE_PMD);
	ck_assert_int_eq(level_at(mm, va + 2 * size), gigantic ? PGTABLE_PUD : PGTABLE_PMD);
	check_vma(mm, hugetlb_cases[_i].kind, va, true, &want, NULL, NULL);
	/* ->hugetlb_entry: hugetlb leaves are never split. */
	ck_assert_int_eq(level_at(mm, va), gigantic ? PGTABLE_PUD : PGTABLE_PMD);
	mmput(mm);
}
END_TEST

/* ---------------- the BAR (VM_PFNMAP, the only file mapping) ---------------- */

struct bar_ctx {
	struct mm_struct *mm;
	unsigned long pud_va, pmd_va;
};

/* Fault the BAR's leaves back in: two 1G PUD leaves, two 2M PMD leaves. */
static void refault_bar(void *arg)
{
	struct bar_ctx *c = arg;

	touch(c->mm, c->pud_va, false);
	touch(c->mm, c->pud_va + GiB, true);
	touch(c->mm, c->pmd_va, false);
	touch(c->mm, c->pmd_va + 2 * MiB, true);
	ck_assert_int_eq(level_at(c->mm, c->pud_va), PGTABLE_PUD);
	ck_assert_int_eq(level_at(c->mm, c->pud_va + GiB), PGTABLE_PUD);
	ck_assert_int_eq(level_at(c->mm, c->pmd_va), PGTABLE_PMD);
	ck_assert_int_eq(level_at(c->mm, c->pmd_va + 2 * MiB), PGTABLE_PMD);
}

/* No ->pud_entry: the PUD leaves are split, i.e. zapped; no ->pte_entry: PMD leaves stay. */
static void assert_bar_after_walk(const struct bar_ctx *c)
{
	ck_assert_int_eq(level_at(c->mm, c->pud_va), PGTABLE_NONE);
	ck_assert_int_eq(level_at(c->mm, c->pud_va + GiB), PGTABLE_NONE);
	ck_assert_int_eq(level_at(c->mm, c->pmd_va), PGTABLE_PMD);
	ck_assert_int_eq(level_at(c->mm, c->pmd_va + 2 * MiB), PGTABLE_PMD);
}

/*
 * vm_normal_page{,_pmd}() is NULL for special entries: nothing is counted,
 * by either side, over freshly faulted leaves.  The tree's walk of each VMA
 * alone first, for the page-table state it leaves.
 */
START_TEST(test_bar_pud_and_pmd_leaves_count_nothing)
{
	struct ktree_numa_counts want = counts(0, 0, 0);
	struct ktree_numa_counts md;
	struct vfio_pci_core_device *vdev;
	struct bar_ctx c;

	setup_tree_kernel(THP_NEVER);
	c.mm = tm_mm("qemu");
	vdev = make_bar(2 * GiB);
	c.pud_va = map_bar(c.mm, vdev, BAR_VA, 2 * GiB);
	c.pmd_va = map_bar(c.mm, vdev, BAR_PMD_VA, 4 * MiB);

	refault_bar(&c);
	tree_counts(c.mm, c.pud_va, &md);
	ck_assert_uint_eq(md.pages, 0);
	tree_counts(c.mm, c.pmd_va, &md);
	ck_assert_uint_eq(md.pages, 0);
	assert_bar_after_walk(&c);

	check_vma(c.mm, "BAR PUD leaves", c.pud_va, false, &want, refault_bar, &c);
	assert_bar_after_walk(&c);
	check_vma(c.mm, "BAR PMD leaves", c.pmd_va, false, &want, refault_bar, &c);
	assert_bar_after_walk(&c);
	mmput(c.mm);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("ktree_numa_maps");
	TCase *tc = tcase_create("tree_vs_rewrite");

	tcase_add_checked_fixture(tc, NULL, tm_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_anon_4k_written_and_read_pages_count_anon_dirty);
	tcase_add_test(tc, test_anon_4k_read_only_pages_count_anon_clean);
	tcase_add_test(tc, test_shared_anon_4k_pages_are_shmem_not_anon);
	tcase_add_test(tc, test_untouched_vma_counts_nothing);
	tcase_add_test(tc, test_thp_pmd_counts_512_pages_and_tail_ptes_one_each);
	tcase_add_loop_test(tc, test_hugetlb_counts_one_per_huge_page, 0,
			    (int)(sizeof(hugetlb_cases) / sizeof(hugetlb_cases[0])));
	tcase_add_test(tc, test_bar_pud_and_pmd_leaves_count_nothing);
	return s;
}
