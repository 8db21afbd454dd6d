// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel tree's own drivers/vfio/vfio_iommu_type1.c (ktree/, the table
 * ktree_vfio_iommu_type1) against pinsim's rewrite (lib/vfio_iommu_type1.c,
 * vfio_iommu_type1_rewrite), under the tree's profile (KTREE_PROFILE), on
 * one machine: two processes with identical mappings at the same
 * addresses (the same BAR mapped in both), one container each, the same
 * calls made by each in turn.  After every call the return value, what
 * was copied back to the caller, and the observable state must be equal:
 * the number of vfio_dma and dma_avail, the process's locked_vm, every
 * group's domain (leaf count; at each probed iova, the leaf size and that
 * it translates to the page the process has at the vaddr), the pin and
 * reference counts of the process's pages at the probes, the frames the
 * call allocated.  Each scenario also asserts what the state must be, so
 * two implementations wrong the same way still fail.
 */
#include <linux/mman.h>
#include <linux/vfio.h>
#include <sys/mman.h>

#include "../harness.h"
#include "../mm_fixtures.h"
#include "iommu.h"
#include "kernel_profiles.h"
#include "sched_point.h"
#include "vfio.h"
#include "vfio_iommu_driver.h"
#include "vfio_pci.h"

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)

#define VA_4K 0x10000000UL /* 16 pages, no THP */
#define VA_THP 0x20000000UL /* 4 MiB, VM_HUGEPAGE */
#define VA_2M 0x40000000UL /* 4 MiB hugetlb 2M */
#define VA_1G 0x80000000UL /* 1 GiB hugetlb 1G */
#define VA_BAR 0x7f0000000000UL /* 2 GiB BAR, 1 GiB aligned */
#define BAR_SIZE (2 * GiB)

#define RD_WR (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

enum { RW_SIDE, TREE_SIDE, NSIDES };

struct side {
	const char *name;
	const struct vfio_iommu_backend *be;
	struct mm_struct *mm;
	void *data;
};

static struct side sides[NSIDES];
static struct vfio_pci_core_device *vdev;

/* ---------------- machine and processes ---------------- */

static void map_fixed(struct mm_struct *mm, unsigned long addr, unsigned long len, int flags)
{
	unsigned long a = vm_mmap(mm, NULL, addr, len, RW, flags, 0);

	ck_assert_msg(!IS_ERR_VALUE(a), "mmap %#lx: %ld", addr, (long)a);
	ck_assert_uint_eq(a, addr);
}

static void populate(struct mm_struct *mm, unsigned long addr, unsigned long len,
		     unsigned long step)
{
	for (unsigned long a = addr; a < addr + len; a += step)
		touch(mm, a, true);
}

/* The same mappings in each process, faulted in the same way. */
static struct mm_struct *make_process(const char *comm)
{
	struct mm_struct *mm = tm_mm(comm);

	map_fixed(mm, VA_4K, 16 * PAGE_SIZE, ANON);
	map_fixed(mm, VA_THP, 4 * MiB, ANON);
	mmap_write_lock(mm);
	vma_lookup(mm, VA_THP)->vm_flags |= VM_HUGEPAGE;
	mmap_write_unlock(mm);
	map_fixed(mm, VA_2M, 4 * MiB, ANON | MAP_HUGETLB | MAP_HUGE_2MB);
	map_fixed(mm, VA_1G, GiB, ANON | MAP_HUGETLB | MAP_HUGE_1GB);
	map_bar(mm, vdev, VA_BAR, BAR_SIZE);
	populate(mm, VA_4K, 16 * PAGE_SIZE, PAGE_SIZE);
	populate(mm, VA_THP, 4 * MiB, PMD_SIZE);
	populate(mm, VA_2M, 4 * MiB, PMD_SIZE);
	populate(mm, VA_1G, GiB, GiB);
	atomic_store(&mm->owner->signal->rlim_memlock, SIM_RLIM_INFINITY);
	atomic_store(&mm->owner->signal->cap_ipc_lock, false);
	return mm;
}

static void use(struct side *s)
{
	set_current(s->mm->owner);
}

static void setup(void)
{
	struct machine_config mc;
	struct vfio_type1_config vc;

	ck_assert_int_eq(kernel_profile_configs(KTREE_PROFILE, &mc, &vc), 0);
	mc.ram_bytes = 8 * GiB;
	mc.hugetlb_2m_pages = 16;
	mc.hugetlb_1g_pages = 4;
	tm_setup_with(&mc);
	vfio_type1_cfg = vc;
	ck_assert_ptr_nonnull(&ktree_vfio_iommu_type1);
	vdev = make_bar(BAR_SIZE);
	sides[RW_SIDE] = (struct side){"rewrite", &vfio_iommu_type1_rewrite, NULL, NULL};
	sides[TREE_SIDE] = (struct side){"tree", &ktree_vfio_iommu_type1, NULL, NULL};
	sides[RW_SIDE].mm = make_process("vmm-rewrite");
	sides[TREE_SIDE].mm = make_process("vmm-tree");
}

static void teardown(void)
{
	for (int i = 0; i < NSIDES; i++) {
		if (sides[i].data) {
			use(&sides[i]);
			sides[i].be->release(sides[i].data);
		}
		sides[i].data = NULL;
	}
	tm_teardown();
}

/* ---------------- one call by each, compared ---------------- */

struct probe {
	uint64_t iova;
	unsigned long vaddr;
};

#define MAX_PROBES 16
#define MAX_GROUPS 4

struct state {
	long ret;
	unsigned char out[256]; /* the caller's struct after the call */
	unsigned int nr_dmas, dma_avail;
	long locked_vm;
	long allocated; /* frames the call allocated (net) */
	struct iommu_domain *dom[MAX_GROUPS];
	unsigned long leaves[MAX_GROUPS];
	size_t leaf[MAX_GROUPS][MAX_PROBES];
	bool translates[MAX_GROUPS][MAX_PROBES]; /* to the process's page */
	int refs[MAX_PROBES], pins[MAX_PROBES];
};

static struct probe probes[MAX_PROBES];
static int nprobes;
static int groups[MAX_GROUPS];
static int ngroups;

static void set_probes(const struct probe *p, int n)
{
	memcpy(probes, p, sizeof(*p) * (size_t)n);
	nprobes = n;
}

static void observe(struct side *s, struct state *st)
{
	st->nr_dmas = s->be->nr_dmas(s->data);
	st->dma_avail = s->be->dma_avail(s->data);
	st->locked_vm = atomic_load(&s->mm->locked_vm);
	for (int g = 0; g < ngroups; g++) {
		struct iommu_domain *d = s->be->group_domain(s->data, groups[g]);

		st->dom[g] = d;
		st->leaves[g] = d ? iommu_nr_leaves(d) : 0;
		for (int i = 0; d && i < nprobes; i++) {
			unsigned long pfn = 0;
			phys_addr_t pa = iommu_iova_to_phys(d, probes[i].iova);

			st->leaf[g][i] = iommu_leaf_size(d, probes[i].iova);
			unsigned int idx = pgtable_lockless_begin();

			pgtable_lookup(s->mm, probes[i].vaddr, &pfn, NULL);
			pgtable_lockless_end(idx);
			st->translates[g][i] = pa && pa == (phys_addr_t)pfn << PAGE_SHIFT;
		}
	}
	for (int i = 0; i < nprobes; i++) {
		unsigned long pfn = 0;
		unsigned int idx = pgtable_lockless_begin();

		pgtable_lookup(s->mm, probes[i].vaddr, &pfn, NULL);
		pgtable_lockless_end(idx);
		st->refs[i] = pfn_valid(pfn) ? page_ref_count(pfn_to_page(pfn)) : -1;
		st->pins[i] = pfn_valid(pfn) ? folio_pincount(page_folio(pfn_to_page(pfn))) : -1;
	}
}

static struct state last[NSIDES];
static void compare_states(void);

/*
 * @cmd with a copy of @arg (@len bytes; NULL: NULL) by each side; the
 * copies afterwards, the return values and the states must be equal.
 * Returns the (common) return value.
 */
static long both_ioctl(unsigned int cmd, const void *arg, size_t len)
{
	for (int i = 0; i < NSIDES; i++) {
		struct side *s = &sides[i];
		struct state *st = &last[i];
		unsigned char buf[256];
		long before;

		memset(st, 0, sizeof(*st));
		ck_assert_uint_le(len, sizeof(buf));
		if (arg)
			memcpy(buf, arg, len);
		use(s);
		before = (long)nr_allocated_pages();
		st->ret = s->be->ioctl(s->data, cmd, arg ? buf : NULL);
		st->allocated = (long)nr_allocated_pages() - before;
		if (arg)
			memcpy(st->out, buf, len);
		observe(s, st);
	}
	ck_assert_msg(last[0].ret == last[1].ret, "cmd %#x: rewrite %ld, tree %ld", cmd,
		      last[0].ret, last[1].ret);
	ck_assert_msg(!memcmp(last[0].out, last[1].out, len), "cmd %#x: copied-out structs differ",
		      cmd);
	compare_states();
	return last[0].ret;
}

/* The state of each side now, compared. */
static void both_observe(void)
{
	for (int i = 0; i < NSIDES; i++) {
		memset(&last[i], 0, sizeof(last[i]));
		use(&sides[i]);
		observe(&sides[i], &last[i]);
	}
	compare_states();
}

static void compare_states(void)
{
	ck_assert_uint_eq(last[0].nr_dmas, last[1].nr_dmas);
	ck_assert_uint_eq(last[0].dma_avail, last[1].dma_avail);
	ck_assert_int_eq(last[0].locked_vm, last[1].locked_vm);
	ck_assert_int_eq(last[0].allocated, last[1].allocated);
	for (int g = 0; g < ngroups; g++) {
		ck_assert_msg(!last[0].dom[g] == !last[1].dom[g], "group %d domain", groups[g]);
		ck_assert_uint_eq(last[0].leaves[g], last[1].leaves[g]);
		for (int i = 0; i < nprobes; i++) {
			ck_assert_msg(last[0].leaf[g][i] == last[1].leaf[g][i],
				      "group %d iova %#lx: leaf %zu vs %zu", groups[g],
				      (unsigned long)probes[i].iova, last[0].leaf[g][i],
				      last[1].leaf[g][i]);
			ck_assert(last[0].translates[g][i] == last[1].translates[g][i]);
		}
	}
	for (int i = 0; i < nprobes; i++) {
		ck_assert_int_eq(last[0].refs[i], last[1].refs[i]);
		ck_assert_int_eq(last[0].pins[i], last[1].pins[i]);
	}
}

static void both_open(unsigned long type)
{
	for (int i = 0; i < NSIDES; i++) {
		use(&sides[i]);
		ck_assert_int_eq(sides[i].be->open(type, &sides[i].data), 0);
	}
}

static int both_attach(int group, int unit)
{
	int ret[NSIDES];

	for (int i = 0; i < NSIDES; i++) {
		use(&sides[i]);
		ret[i] = sides[i].be->attach_group(sides[i].data, group, unit, false);
	}
	ck_assert_int_eq(ret[0], ret[1]);
	if (!ret[0] && ngroups < MAX_GROUPS)
		groups[ngroups++] = group;
	return ret[0];
}

static void both_detach(int group)
{
	for (int i = 0; i < NSIDES; i++) {
		use(&sides[i]);
		sides[i].be->detach_group(sides[i].data, group);
	}
}

static long map_dma(uint64_t iova, unsigned long vaddr, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = flags,
		.vaddr = vaddr,
		.iova = iova,
		.size = size,
	};

	return both_ioctl(VFIO_IOMMU_MAP_DMA, &m, sizeof(m));
}

/* UNMAP_DMA; the size each reported unmapped in *@unmapped. */
static long unmap_dma(uint64_t iova, uint64_t size, uint32_t flags, uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	long ret = both_ioctl(VFIO_IOMMU_UNMAP_DMA, &u, sizeof(u));

	if (unmapped)
		memcpy(unmapped, last[0].out + offsetof(struct vfio_iommu_type1_dma_unmap, size),
		       sizeof(*unmapped));
	return ret;
}

/* One container each, v2, group 1 on IOMMU unit 0. */
static void v2_with_group(void)
{
	both_open(VFIO_TYPE1v2_IOMMU);
	ck_assert_int_eq(both_attach(1, 0), 0);
}

/* ---------------- CHECK_EXTENSION, GET_INFO ---------------- */

static long both_check(void *data_rw, void *data_tree, unsigned long ext)
{
	long r0, r1;

	use(&sides[0]);
	r0 = sides[0].be->ioctl(data_rw, VFIO_CHECK_EXTENSION, (void *)ext);
	use(&sides[1]);
	r1 = sides[1].be->ioctl(data_tree, VFIO_CHECK_EXTENSION, (void *)ext);
	ck_assert_msg(r0 == r1, "extension %lu: rewrite %ld, tree %ld", ext, r0, r1);
	return r0;
}

START_TEST(test_check_extension_answers_as_6_12)
{
	/* Polled with no container (the core, before VFIO_SET_IOMMU). */
	ck_assert_int_eq(both_check(NULL, NULL, VFIO_TYPE1_IOMMU), 1);
	ck_assert_int_eq(both_check(NULL, NULL, VFIO_TYPE1v2_IOMMU), 1);
	ck_assert_int_eq(both_check(NULL, NULL, VFIO_TYPE1_NESTING_IOMMU), 1);
	ck_assert_int_eq(both_check(NULL, NULL, VFIO_UNMAP_ALL), 1);
	ck_assert_int_eq(both_check(NULL, NULL, VFIO_UPDATE_VADDR), 0);
	ck_assert_int_eq(both_check(NULL, NULL, VFIO_DMA_CC_IOMMU), 0);
	ck_assert_int_eq(both_check(NULL, NULL, 1000), 0);
	v2_with_group();
	ck_assert_int_eq(both_check(sides[0].data, sides[1].data, VFIO_UPDATE_VADDR), 1);
	/* Every simulated domain enforces coherency (snoop control). */
	ck_assert_int_eq(both_check(sides[0].data, sides[1].data, VFIO_DMA_CC_IOMMU), 1);
	ck_assert_int_eq(both_check(sides[0].data, sides[1].data, VFIO_SPAPR_TCE_IOMMU), 0);
	/* An unknown ioctl. */
	ck_assert_int_eq(both_ioctl(VFIO_GET_API_VERSION, NULL, 0), -ENOTTY);
}
END_TEST

START_TEST(test_get_info_pgsizes_and_capability_chain)
{
	struct {
		struct vfio_iommu_type1_info info;
		unsigned char caps[200];
	} buf = {.info.argsz = sizeof(buf)};
	struct vfio_iommu_type1_info small = {.argsz = sizeof(small)};
	const struct vfio_iommu_type1_info *out;
	const struct vfio_info_cap_header *h;
	unsigned int seen = 0;
	size_t off;

	v2_with_group();
	ck_assert_int_eq(map_dma(0x100000, VA_4K, 4 * PAGE_SIZE, RD_WR), 0);
	ck_assert_int_eq(both_ioctl(VFIO_IOMMU_GET_INFO, &buf, sizeof(buf)), 0);
	out = (const void *)last[0].out;
	ck_assert_uint_eq(out->flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
	ck_assert_uint_eq(out->iova_pgsizes, IOMMU_DEFAULT_PGSIZES);
	ck_assert_uint_eq(out->cap_offset, sizeof(struct vfio_iommu_type1_info));
	for (off = out->cap_offset; off; off = h->next) {
		h = (const void *)((const char *)out + off);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
			const struct vfio_iommu_type1_info_cap_migration *m = (const void *)h;

			ck_assert_uint_eq(m->pgsize_bitmap, PAGE_SIZE);
			ck_assert_uint_eq(m->max_dirty_bitmap_size,
					  (((uint64_t)INT32_MAX + 63) / 64) * 8);
		} else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			ck_assert_uint_eq(
				((const struct vfio_iommu_type1_info_dma_avail *)h)->avail,
				vfio_type1_cfg.dma_entry_limit - 1);
		} else if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			const struct vfio_iommu_type1_info_cap_iova_range *r = (const void *)h;

			/* The aperture minus the interrupt window (IOMMU_RESV_MSI). */
			ck_assert_uint_eq(r->nr_iovas, 2);
			ck_assert_uint_eq(r->iova_ranges[0].start, 0);
			ck_assert_uint_eq(r->iova_ranges[0].end, 0xfedfffff);
			ck_assert_uint_eq(r->iova_ranges[1].start, 0xfef00000);
			ck_assert_uint_eq(r->iova_ranges[1].end, vfio_type1_cfg.iova_aperture_end);
		}
		seen |= 1u << h->id;
	}
	ck_assert_uint_eq(seen, 1u << 1 | 1u << 2 | 1u << 3);

	/* Too small for the chain: argsz grows, no cap_offset. */
	ck_assert_int_eq(both_ioctl(VFIO_IOMMU_GET_INFO, &small, sizeof(small)), 0);
	out = (const void *)last[0].out;
	ck_assert_uint_gt(out->argsz, sizeof(small));
	ck_assert_uint_eq(out->cap_offset, 0);
	ck_assert_uint_eq(out->flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);

	small.argsz = 8;
	ck_assert_int_eq(both_ioctl(VFIO_IOMMU_GET_INFO, &small, sizeof(small)), -EINVAL);
	ck_assert_int_eq(both_ioctl(VFIO_IOMMU_GET_INFO, NULL, 0), -EFAULT);
}
END_TEST

/* ---------------- MAP/UNMAP of RAM and of a BAR ---------------- */

static void map_unmap_ram(uint64_t iova, unsigned long va, uint64_t size, size_t leaf)
{
	const struct probe p[] = {
		{iova, va},
		{iova + size / 2, va + size / 2},
		{iova + size - PAGE_SIZE, va + size - PAGE_SIZE},
	};
	uint64_t unmapped = 0;

	v2_with_group();
	set_probes(p, 3);
	ck_assert_int_eq(map_dma(iova, va, size, RD_WR), 0);
	ck_assert_uint_eq(last[0].nr_dmas, 1);
	ck_assert_int_eq(last[0].locked_vm, (long)(size >> PAGE_SHIFT));
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(last[0].leaf[0][i], leaf);
		ck_assert(last[0].translates[0][i]);
		ck_assert_int_gt(last[0].pins[i] > 0 ? last[0].pins[i] : last[0].refs[i], 1);
	}
	ck_assert_uint_eq(last[0].leaves[0], size / leaf);

	ck_assert_int_eq(unmap_dma(iova, size, 0, &unmapped), 0);
	ck_assert_uint_eq(unmapped, size);
	ck_assert_uint_eq(last[0].nr_dmas, 0);
	ck_assert_int_eq(last[0].locked_vm, 0);
	ck_assert_uint_eq(last[0].leaves[0], 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(last[0].pins[i], 0);
		ck_assert_int_lt(last[0].refs[i], GUP_PIN_COUNTING_BIAS);
	}
}

START_TEST(test_map_unmap_4k_pages)
{
	map_unmap_ram(0x100000, VA_4K, 16 * PAGE_SIZE, PAGE_SIZE);
}
END_TEST

START_TEST(test_map_unmap_thp)
{
	map_unmap_ram(0x40000000, VA_THP, 4 * MiB, PMD_SIZE);
}
END_TEST

START_TEST(test_map_unmap_hugetlb_2m)
{
	map_unmap_ram(0x40000000, VA_2M, 4 * MiB, PMD_SIZE);
}
END_TEST

START_TEST(test_map_unmap_hugetlb_1g)
{
	map_unmap_ram(0x40000000, VA_1G, GiB, PUD_SIZE);
}
END_TEST

/* A BAR: pfnmap pfns, not pinned, not accounted; PUD and PMD leaves. */
START_TEST(test_map_unmap_bar_pud_and_pmd_leaves)
{
	const struct probe p[] = {
		{0x8000000000ULL, VA_BAR},
		{0x8000000000ULL + GiB + 5 * PAGE_SIZE, VA_BAR + GiB + 5 * PAGE_SIZE},
	};
	uint64_t unmapped;
	struct vfio_type1_stats st[NSIDES];

	v2_with_group();
	set_probes(p, 2);
	/* The first GiB faults in as a PUD leaf, the second as PMD leaves. */
	ck_assert_int_eq(map_dma(0x8000000000ULL, VA_BAR, GiB, RD_WR), 0);
	tm->cfg.max_bar_fault_order = PMD_ORDER;
	ck_assert_int_eq(map_dma(0x8000000000ULL + GiB, VA_BAR + GiB, GiB, RD_WR), 0);
	ck_assert_uint_eq(last[0].nr_dmas, 2);
	ck_assert_int_eq(last[0].locked_vm, 0);
	ck_assert(last[0].translates[0][0] && last[0].translates[0][1]);
	/* 6.12 maps a pfnmap one pfn per lookup: runs of 4K, merged by the IO page table. */
	ck_assert_uint_eq(last[0].leaf[0][0], last[1].leaf[0][0]);
	for (int i = 0; i < NSIDES; i++)
		sides[i].be->get_stats(sides[i].data, &st[i]);
	/* What each could count the same way (see ktree/ktree_vfio_type1.c). */
	ck_assert_uint_eq(st[0].total.pfnmap_pages, st[1].total.pfnmap_pages);
	ck_assert_uint_eq(st[0].total.pfnmap_pages, 2 * GiB / PAGE_SIZE);
	ck_assert_uint_eq(st[0].total.pinned_pages, st[1].total.pinned_pages);
	ck_assert_uint_eq(st[0].total.iommu_maps, st[1].total.iommu_maps);
	ck_assert_uint_eq(st[0].total.gup_calls, st[1].total.gup_calls);
	ck_assert_uint_eq(st[0].total.vaddr_get_pfns, st[1].total.vaddr_get_pfns);
	ck_assert_uint_eq(st[0].total.faults, st[1].total.faults);
	ck_assert_uint_eq(st[0].total.follow_failures, st[1].total.follow_failures);
	ck_assert_uint_eq(st[0].outcomes[VFIO_MAP_OK], 2);
	ck_assert_uint_eq(st[1].outcomes[VFIO_MAP_OK], 2);

	ck_assert_int_eq(unmap_dma(0x8000000000ULL, 2 * GiB, 0, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 2 * GiB);
	ck_assert_uint_eq(last[0].leaves[0], 0);
}
END_TEST

/* ---------------- bad input ---------------- */

START_TEST(test_map_unmap_bad_input_errnos)
{
	struct vfio_iommu_type1_dma_map bad_flags = {
		.argsz = sizeof(bad_flags),
		.flags = 1u << 7 | RD_WR,
		.vaddr = VA_4K,
		.iova = 0x100000,
		.size = PAGE_SIZE,
	};
	uint64_t unmapped;

	v2_with_group();
	ck_assert_int_eq(map_dma(0x100800, VA_4K, PAGE_SIZE, RD_WR), -EINVAL); /* iova */
	ck_assert_int_eq(map_dma(0x100000, VA_4K + 8, PAGE_SIZE, RD_WR), -EINVAL); /* vaddr */
	ck_assert_int_eq(map_dma(0x100000, VA_4K, PAGE_SIZE + 1, RD_WR), -EINVAL); /* size */
	ck_assert_int_eq(map_dma(0x100000, VA_4K, 0, RD_WR), -EINVAL);
	ck_assert_int_eq(map_dma(0x100000, VA_4K, PAGE_SIZE, 0), -EINVAL); /* no READ/WRITE */
	ck_assert_int_eq(map_dma(~0ULL - PAGE_SIZE + 1, VA_4K, 2 * PAGE_SIZE, RD_WR), -EINVAL);
	ck_assert_int_eq(map_dma(0xfee00000, VA_4K, PAGE_SIZE, RD_WR), -EINVAL); /* MSI window */
	ck_assert_int_eq(both_ioctl(VFIO_IOMMU_MAP_DMA, &bad_flags, sizeof(bad_flags)), -EINVAL);
	ck_assert_int_eq(both_ioctl(VFIO_IOMMU_MAP_DMA, NULL, 0), -EFAULT);
	ck_assert_int_eq(both_ioctl(VFIO_IOMMU_UNMAP_DMA, NULL, 0), -EFAULT);
	/* Not mapped in the process: GUP and the pfnmap path both fail. */
	ck_assert_int_eq(map_dma(0x100000, 0x30000000UL, PAGE_SIZE, RD_WR), -EFAULT);
	ck_assert_uint_eq(last[0].nr_dmas, 0);
	ck_assert_uint_eq(last[0].dma_avail, vfio_type1_cfg.dma_entry_limit);

	ck_assert_int_eq(map_dma(0x100000, VA_4K, 8 * PAGE_SIZE, RD_WR), 0);
	ck_assert_int_eq(map_dma(0x100000 + PAGE_SIZE, VA_4K, PAGE_SIZE, RD_WR), -EEXIST);
	ck_assert_int_eq(map_dma(0x100000 - PAGE_SIZE, VA_4K, 2 * PAGE_SIZE, RD_WR), -EEXIST);
	/* v2: an unmap that bisects a mapping. */
	ck_assert_int_eq(unmap_dma(0x100000, PAGE_SIZE, 0, &unmapped), -EINVAL);
	ck_assert_int_eq(unmap_dma(0x100000 + PAGE_SIZE, 7 * PAGE_SIZE, 0, &unmapped), -EINVAL);
	ck_assert_int_eq(unmap_dma(0x100000, 0, 0, &unmapped), -EINVAL);
	ck_assert_int_eq(unmap_dma(0x100001, PAGE_SIZE, 0, &unmapped), -EINVAL);
	/* ALL with a range, and an unknown flag. */
	ck_assert_int_eq(unmap_dma(0x100000, 8 * PAGE_SIZE, VFIO_DMA_UNMAP_FLAG_ALL, NULL),
			 -EINVAL);
	ck_assert_int_eq(unmap_dma(0, 0, 1u << 9, NULL), -EINVAL);
	ck_assert_uint_eq(last[0].nr_dmas, 1);
	ck_assert_int_eq(last[0].locked_vm, 8);
	/* Nothing there: success, 0 unmapped. */
	ck_assert_int_eq(unmap_dma(0x10000000, PAGE_SIZE, 0, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 0);
}
END_TEST

START_TEST(test_unmap_all)
{
	uint64_t unmapped;

	v2_with_group();
	ck_assert_int_eq(map_dma(0x100000, VA_4K, 4 * PAGE_SIZE, RD_WR), 0);
	ck_assert_int_eq(map_dma(0x200000, VA_4K + 4 * PAGE_SIZE, 4 * PAGE_SIZE, RD_WR), 0);
	ck_assert_int_eq(map_dma(0x40000000, VA_2M, 4 * MiB, RD_WR), 0);
	ck_assert_uint_eq(last[0].nr_dmas, 3);
	ck_assert_int_eq(unmap_dma(0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 8 * PAGE_SIZE + 4 * MiB);
	ck_assert_uint_eq(last[0].nr_dmas, 0);
	ck_assert_int_eq(last[0].locked_vm, 0);
	ck_assert_uint_eq(last[0].leaves[0], 0);
}
END_TEST

/* v1: an unmap inside a mapping unmaps nothing; one covering its first iova, all of it. */
START_TEST(test_v1_partial_unmap_differs_from_v2)
{
	uint64_t unmapped;

	both_open(VFIO_TYPE1_IOMMU);
	ck_assert_int_eq(both_attach(1, 0), 0);
	ck_assert_int_eq(map_dma(0x100000, VA_4K, 8 * PAGE_SIZE, RD_WR), 0);
	ck_assert_int_eq(unmap_dma(0x100000 + PAGE_SIZE, PAGE_SIZE, 0, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 0);
	ck_assert_uint_eq(last[0].nr_dmas, 1);
	ck_assert_int_eq(unmap_dma(0x100000, PAGE_SIZE, 0, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 8 * PAGE_SIZE);
	ck_assert_uint_eq(last[0].nr_dmas, 0);
	ck_assert_int_eq(last[0].locked_vm, 0);
}
END_TEST

START_TEST(test_dma_entry_limit_enospc)
{
	vfio_type1_cfg.dma_entry_limit = 2;
	v2_with_group();
	ck_assert_int_eq(map_dma(0x100000, VA_4K, PAGE_SIZE, RD_WR), 0);
	ck_assert_int_eq(map_dma(0x200000, VA_4K + PAGE_SIZE, PAGE_SIZE, RD_WR), 0);
	ck_assert_uint_eq(last[0].dma_avail, 0);
	ck_assert_int_eq(map_dma(0x300000, VA_4K + 2 * PAGE_SIZE, PAGE_SIZE, RD_WR), -ENOSPC);
	ck_assert_uint_eq(last[0].nr_dmas, 2);
	ck_assert_int_eq(unmap_dma(0x100000, PAGE_SIZE, 0, NULL), 0);
	ck_assert_uint_eq(last[0].dma_avail, 1);
}
END_TEST

/* locked_vm is charged per pinned page; past RLIMIT_MEMLOCK -ENOMEM, nothing kept. */
START_TEST(test_locked_vm_and_rlimit_memlock)
{
	for (int i = 0; i < NSIDES; i++)
		atomic_store(&sides[i].mm->owner->signal->rlim_memlock, 6 * PAGE_SIZE);
	v2_with_group();
	ck_assert_int_eq(map_dma(0x100000, VA_4K, 4 * PAGE_SIZE, RD_WR), 0);
	ck_assert_int_eq(last[0].locked_vm, 4);
	ck_assert_int_eq(map_dma(0x200000, VA_4K + 4 * PAGE_SIZE, 4 * PAGE_SIZE, RD_WR), -ENOMEM);
	ck_assert_int_eq(last[0].locked_vm, 4);
	ck_assert_uint_eq(last[0].nr_dmas, 1);
	/* CAP_IPC_LOCK: pinned past the limit, and still charged. */
	for (int i = 0; i < NSIDES; i++)
		atomic_store(&sides[i].mm->owner->signal->cap_ipc_lock, true);
	ck_assert_int_eq(map_dma(0x200000, VA_4K + 4 * PAGE_SIZE, 4 * PAGE_SIZE, RD_WR), 0);
	ck_assert_int_eq(last[0].locked_vm, 8);
}
END_TEST

/* ---------------- groups ---------------- */

/*
 * A group behind another IOMMU unit cannot join the first domain: a new
 * domain, every mapping replayed into it.  One behind the first unit joins
 * the first domain.  Detaching the last group unmaps and unpins everything.
 */
START_TEST(test_second_unit_gets_new_domain_with_replayed_mappings)
{
	const struct probe p[] = {
		{0x100000, VA_4K},
		{0x40000000, VA_2M},
		{0x8000000000ULL, VA_BAR},
	};

	set_probes(p, 3);
	v2_with_group();
	ck_assert_int_eq(map_dma(0x100000, VA_4K, 16 * PAGE_SIZE, RD_WR), 0);
	ck_assert_int_eq(map_dma(0x40000000, VA_2M, 4 * MiB, RD_WR), 0);
	ck_assert_int_eq(map_dma(0x8000000000ULL, VA_BAR, GiB, RD_WR), 0);
	ck_assert_int_eq(both_attach(2, 1), 0);
	ck_assert_int_eq(both_attach(3, 0), 0);
	ck_assert_int_eq(both_attach(3, 0), -EINVAL); /* already attached */
	both_observe();
	for (int i = 0; i < NSIDES; i++) {
		ck_assert_ptr_nonnull(last[i].dom[1]);
		ck_assert_ptr_ne(last[i].dom[0], last[i].dom[1]);
		ck_assert_ptr_eq(last[i].dom[0], last[i].dom[2]);
		ck_assert_uint_eq(last[i].leaves[1], last[i].leaves[0]);
		for (int k = 0; k < 3; k++)
			ck_assert(last[i].translates[1][k]);
	}
	ck_assert_int_eq(last[0].locked_vm, 16 + 2 * 512);

	both_detach(2);
	both_detach(3);
	ngroups = 1;
	both_observe();
	ck_assert_uint_eq(last[0].nr_dmas, 3);
	both_detach(1);
	ngroups = 0;
	both_observe();
	ck_assert_uint_eq(last[0].nr_dmas, 0);
	ck_assert_int_eq(last[0].locked_vm, 0);
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(last[0].pins[k], 0);
		ck_assert_int_lt(last[0].refs[k], GUP_PIN_COUNTING_BIAS);
	}
}
END_TEST

/* ---------------- statistics and schedule points ---------------- */

#define MAX_HITS 64

struct hit_log {
	int n;
	enum sched_point_id id[MAX_HITS];
	unsigned long addr[MAX_HITS];
	bool own_mm[MAX_HITS]; /* the point named the caller's mm */
};

static struct hit_log hit_logs[NSIDES];
static int hit_side;

static void record_hit(enum sched_point_id id, struct mm_struct *mm, unsigned long addr, void *priv)
{
	struct hit_log *l = &hit_logs[hit_side];

	(void)priv;
	if (l->n < MAX_HITS) {
		l->id[l->n] = id;
		l->addr[l->n] = addr;
		l->own_mm[l->n] = mm == sides[hit_side].mm;
	}
	l->n++;
}

/*
 * The tree's points come from the shim's wrappers (ktree_vfio_shim.h), the
 * rewrite's from its own calls: the same points, in the same order, with
 * the same addresses and the caller's mm.  A 4K run, then a BAR never
 * touched (follow_pfnmap_start() fails, fixup_user_fault() faults it in:
 * SP_FOLLOW_FAULT_AFTER_FIXUP for its first pfn; 6.12 looks pfnmaps up one
 * pfn at a time, so each further pfn is found without a fault).
 */
START_TEST(test_schedule_points_and_statistics_match)
{
	struct vfio_type1_stats st[NSIDES];
	uint64_t unmapped;

	v2_with_group();
	sched_point_arm(SP_PIN_BETWEEN_RUNS, record_hit, NULL);
	sched_point_arm(SP_FOLLOW_FAULT_AFTER_FIXUP, record_hit, NULL);
	for (int i = 0; i < NSIDES; i++) {
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m),
			.flags = RD_WR,
			.vaddr = VA_4K,
			.iova = 0x100000,
			.size = 16 * PAGE_SIZE,
		};
		struct vfio_iommu_type1_dma_map b = {
			.argsz = sizeof(b),
			.flags = RD_WR,
			.vaddr = VA_BAR + 8 * PAGE_SIZE,
			.iova = 0x8000000000ULL,
			.size = 4 * PAGE_SIZE,
		};

		hit_side = i;
		use(&sides[i]);
		ck_assert_int_eq(sides[i].be->ioctl(sides[i].data, VFIO_IOMMU_MAP_DMA, &m), 0);
		ck_assert_int_eq(sides[i].be->ioctl(sides[i].data, VFIO_IOMMU_MAP_DMA, &b), 0);
	}
	sched_point_disarm_all();
	for (int i = 0; i < NSIDES; i++)
		printf("# %s: %d schedule points\n", sides[i].name, hit_logs[i].n);
	ck_assert_int_eq(hit_logs[0].n, hit_logs[1].n);
	ck_assert_int_ge(hit_logs[0].n, 3);
	for (int k = 0; k < hit_logs[0].n && k < MAX_HITS; k++) {
		ck_assert_int_eq(hit_logs[0].id[k], hit_logs[1].id[k]);
		ck_assert_uint_eq(hit_logs[0].addr[k], hit_logs[1].addr[k]);
		ck_assert(hit_logs[0].own_mm[k] && hit_logs[1].own_mm[k]);
	}
	for (int k = 0; k < hit_logs[1].n && k < MAX_HITS; k++)
		printf("#  %s %#lx\n", sched_point_name(hit_logs[1].id[k]), hit_logs[1].addr[k]);
	/* The first BAR pfn faulted: the point right after fixup_user_fault(), once. */
	for (int k = 0, n = 0; k < hit_logs[1].n; k++) {
		if (hit_logs[1].id[k] != SP_FOLLOW_FAULT_AFTER_FIXUP)
			continue;
		ck_assert_int_eq(n++, 0);
		ck_assert_uint_eq(hit_logs[1].addr[k], VA_BAR + 8 * PAGE_SIZE);
	}
	/* The last run ends the mapping: the vaddr after it. */
	ck_assert_int_eq(hit_logs[1].id[hit_logs[1].n - 1], SP_PIN_BETWEEN_RUNS);
	ck_assert_uint_eq(hit_logs[1].addr[hit_logs[1].n - 1], VA_BAR + 12 * PAGE_SIZE);

	ck_assert_int_eq(unmap_dma(0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped), 0);
	for (int i = 0; i < NSIDES; i++)
		sides[i].be->get_stats(sides[i].data, &st[i]);
	ck_assert_uint_eq(st[1].total.vaddr_get_pfns, st[0].total.vaddr_get_pfns);
	ck_assert_uint_eq(st[1].total.gup_calls, st[0].total.gup_calls);
	ck_assert_uint_eq(st[1].total.follow_failures, st[0].total.follow_failures);
	ck_assert_uint_eq(st[1].total.faults, st[0].total.faults);
	ck_assert_uint_eq(st[1].total.eagain_loops, st[0].total.eagain_loops);
	ck_assert_uint_eq(st[1].total.iommu_maps, st[0].total.iommu_maps);
	ck_assert_uint_eq(st[1].total.pinned_pages, st[0].total.pinned_pages);
	ck_assert_uint_eq(st[1].total.pfnmap_pages, st[0].total.pfnmap_pages);
	ck_assert_uint_eq(st[1].unpin_calls, st[0].unpin_calls);
	ck_assert_uint_eq(st[1].total.pinned_pages, 16);
	ck_assert_uint_eq(st[1].total.pfnmap_pages, 4);
	ck_assert_uint_eq(st[1].total.faults, 1);
	ck_assert_uint_eq(st[1].unpin_calls, 16);
	ck_assert_uint_eq(st[1].last.pfnmap_pages, 4); /* the BAR's MAP_DMA */
	ck_assert_uint_eq(st[1].outcomes[VFIO_MAP_OK], 2);
	/* Not visible in the tree (ktree/ktree_vfio_type1.c): 0 there. */
	ck_assert_uint_eq(st[1].total.retries, 0);
	ck_assert_uint_eq(st[1].total.acct_steps, 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("ktree_vfio_type1");
	TCase *tc = tcase_create("tree_vs_rewrite");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_check_extension_answers_as_6_12);
	tcase_add_test(tc, test_get_info_pgsizes_and_capability_chain);
	tcase_add_test(tc, test_map_unmap_4k_pages);
	tcase_add_test(tc, test_map_unmap_thp);
	tcase_add_test(tc, test_map_unmap_hugetlb_2m);
	tcase_add_test(tc, test_map_unmap_hugetlb_1g);
	tcase_add_test(tc, test_map_unmap_bar_pud_and_pmd_leaves);
	tcase_add_test(tc, test_map_unmap_bad_input_errnos);
	tcase_add_test(tc, test_unmap_all);
	tcase_add_test(tc, test_v1_partial_unmap_differs_from_v2);
	tcase_add_test(tc, test_dma_entry_limit_enospc);
	tcase_add_test(tc, test_locked_vm_and_rlimit_memlock);
	tcase_add_test(tc, test_second_unit_gets_new_domain_with_replayed_mappings);
	tcase_add_test(tc, test_schedule_points_and_statistics_match);
	suite_add_tcase(s, tc);
	return s;
}
