// SPDX-License-Identifier: GPL-2.0-only
/*
 * The public API (include/pinsim/pinsim.h) as a user sees it: -1/errno,
 * data integrity, pin state and accounting, and nothing changed on error.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/mman.h>
#include <linux/vfio.h>
#include <sys/mman.h>

#include "harness.h"
#include "pinsim/pinsim.h"

static struct pinsim *sim;
static struct pinsim_proc *proc;

static void api_setup(void)
{
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 8ULL << 30;
	cfg.hugetlb_2m_pages = 8;
	cfg.hugetlb_1g_pages = 2;
	ck_assert_int_eq(pinsim_create(&cfg, &sim), 0);
	ck_assert_int_eq(pinsim_proc_create(sim, &proc), 0);
}

static void api_teardown(void)
{
	pinsim_destroy(sim);	/* also destroys proc and any pins */
	sim = NULL;
	proc = NULL;
}

static uint64_t map(uint64_t len, int flags)
{
	uint64_t va = pinsim_mmap(proc, 0, len, PROT_READ | PROT_WRITE, flags, -1, 0);

	ck_assert_uint_ne(va, PINSIM_MAP_FAILED);
	return va;
}

#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* Write a pattern spanning page boundaries, read it back, compare. */
static void roundtrip(uint64_t va, uint64_t len)
{
	static unsigned char out[3 * 4096 + 123], in[sizeof(out)];
	uint64_t offs[] = { 0, len / 2 - 4101, len - sizeof(out) };	/* disjoint */

	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (unsigned char)(i * 31 + k);
		ck_assert_int_eq(pinsim_access(proc, va + offs[k], out, sizeof(out), 1),
				 sizeof(out));
	}
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (unsigned char)(i * 31 + k);
		memset(in, 0, sizeof(in));
		ck_assert_int_eq(pinsim_access(proc, va + offs[k], in, sizeof(in), 0), sizeof(in));
		ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
	}
}

static enum pinsim_level level_at(uint64_t va)
{
	struct pinsim_page_info pi;

	ck_assert_int_eq(pinsim_pagemap(proc, va, &pi), 0);
	return pi.level;
}

START_TEST(test_data_roundtrip_4k_anon_at_pte_level)
{
	uint64_t va = map(1 << 20, ANON);

	ck_assert_int_eq(level_at(va), PINSIM_LEVEL_NONE);
	roundtrip(va, 1 << 20);
	ck_assert_int_eq(level_at(va), PINSIM_LEVEL_PTE);
}
END_TEST

START_TEST(test_data_roundtrip_thp_at_pmd_level)
{
	uint64_t va = map(8 << 20, ANON);

	ck_assert_int_eq(pinsim_madvise(proc, va, 8 << 20, MADV_HUGEPAGE), 0);
	roundtrip(va, 8 << 20);
	ck_assert_int_eq(level_at(va), PINSIM_LEVEL_PMD);
}
END_TEST

START_TEST(test_data_roundtrip_hugetlb_2m_and_1g)
{
	uint64_t a = map(4 << 20, ANON | MAP_HUGETLB | MAP_HUGE_2MB);
	uint64_t b = map(1ULL << 30, ANON | MAP_HUGETLB | MAP_HUGE_1GB);

	roundtrip(a, 4 << 20);
	roundtrip(b, 1ULL << 30);
	ck_assert_int_eq(level_at(a), PINSIM_LEVEL_PMD);
	ck_assert_int_eq(level_at(b), PINSIM_LEVEL_PUD);
}
END_TEST

START_TEST(test_access_unmapped_or_readonly_is_efault_and_partial_counts)
{
	uint64_t va = map(2 * 4096, ANON);
	uint64_t ro = pinsim_mmap(proc, 0, 4096, PROT_READ, ANON, -1, 0);
	unsigned char buf[8192] = { 1 };

	ck_assert_int_eq(pinsim_munmap(proc, va + 4096, 4096), 0);
	errno = 0;
	ck_assert_int_eq(pinsim_access(proc, va + 4096, buf, 16, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	/* A fault after the first page gives the short count. */
	ck_assert_int_eq(pinsim_access(proc, va, buf, sizeof(buf), 1), 4096);
	ck_assert_int_eq(pinsim_access(proc, ro, buf, 16, 1), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_int_eq(pinsim_access(proc, ro, buf, 16, 0), 16);
}
END_TEST

START_TEST(test_bad_mmap_arguments_kernel_errno_nothing_changed)
{
	struct pinsim_proc_stats before, after;
	struct pinsim_stats sb, sa;

	pinsim_proc_stats(proc, &before);
	pinsim_stats(sim, &sb);
	errno = 0;
	ck_assert_uint_eq(pinsim_mmap(proc, 0, 0, PROT_READ, ANON, -1, 0), PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(pinsim_mmap(proc, 0, 4096, PROT_READ, ANON, -1, 1), PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);	/* unaligned offset */
	ck_assert_uint_eq(pinsim_mmap(proc, 0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);	/* neither private nor shared */
	ck_assert_uint_eq(pinsim_mmap(proc, 0x1234, 4096, PROT_READ, ANON | MAP_FIXED, -1, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(pinsim_mmap(proc, 0, 4096, PROT_READ, MAP_SHARED, 7, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EBADF);
	/* Any int is an fd argument: INT_MIN is EBADF, no overflow (fuzz regress-fd-int-min-overflow). */
	ck_assert_uint_eq(pinsim_mmap(proc, 0, 4096, PROT_READ, MAP_SHARED, INT_MIN, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(pinsim_close(proc, INT_MIN), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_uint_eq(pinsim_mmap(proc, 0, 3ULL << 30, PROT_READ,
				      ANON | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, ENOMEM);	/* pool has 2 x 1G */
	ck_assert_int_eq(pinsim_munmap(proc, 0x1001, 4096), -1);
	ck_assert_int_eq(errno, EINVAL);
	pinsim_proc_stats(proc, &after);
	pinsim_stats(sim, &sa);
	ck_assert_uint_eq(after.nr_vmas, before.nr_vmas);
	ck_assert_uint_eq(sa.pages_allocated, sb.pages_allocated);
	ck_assert_uint_eq(sa.hugetlb_1g_free, sb.hugetlb_1g_free);
	ck_assert_uint_eq(sa.warnings, 0);
}
END_TEST

START_TEST(test_pin_counts_exact_for_4k_thp_and_1g_and_unpin_restores)
{
	uint64_t a = map(16 * 4096, ANON);
	uint64_t t = map(2 << 20, ANON);
	uint64_t g = map(1ULL << 30, ANON | MAP_HUGETLB | MAP_HUGE_1GB);
	struct pinsim_pin *pa, *pt, *pg;
	struct pinsim_page_info pi;
	struct pinsim_proc_stats ps;

	ck_assert_int_eq(pinsim_set_cap_ipc_lock(proc, true), 0);
	ck_assert_int_eq(pinsim_madvise(proc, t, 2 << 20, MADV_HUGEPAGE), 0);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, a, 16 * 4096, 1, &pa), 0);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, t, 2 << 20, 1, &pt), 0);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, g, 1000 * 4096, 1, &pg), 0);
	pinsim_pagemap(proc, a + 4096, &pi);
	ck_assert_int_eq(pi.refcount, 1 + 1024);
	pinsim_pagemap(proc, t, &pi);
	ck_assert_int_eq(pi.folio_order, 9);
	ck_assert_int_eq(pi.refcount, 1 + 512);
	ck_assert_int_eq(pi.pincount, 512);
	pinsim_pagemap(proc, g, &pi);
	ck_assert_int_eq(pi.refcount, 1 + 1000);
	ck_assert_int_eq(pi.pincount, 1000);
	pinsim_proc_stats(proc, &ps);
	ck_assert_uint_eq(ps.locked_vm, 16 + 512 + 1000);
	ck_assert_int_eq(pinsim_unpin_user_pages(pa), 0);
	ck_assert_int_eq(pinsim_unpin_user_pages(pt), 0);
	ck_assert_int_eq(pinsim_unpin_user_pages(pg), 0);
	pinsim_pagemap(proc, a + 4096, &pi);
	ck_assert_int_eq(pi.refcount, 1);
	pinsim_pagemap(proc, t, &pi);
	ck_assert_int_eq(pi.refcount, 1);
	ck_assert_int_eq(pi.pincount, 0);
	pinsim_pagemap(proc, g, &pi);
	ck_assert_int_eq(pi.refcount, 1);
	ck_assert_int_eq(pi.pincount, 0);
	pinsim_proc_stats(proc, &ps);
	ck_assert_uint_eq(ps.locked_vm, 0);
}
END_TEST

START_TEST(test_pin_beyond_rlimit_memlock_is_enomem_and_changes_nothing)
{
	struct rlimit rl = { 8 * 4096, 8 * 4096 };
	uint64_t va = map(16 * 4096, ANON);
	struct pinsim_page_info pi;
	struct pinsim_proc_stats ps;
	struct pinsim_pin *pin;

	ck_assert_int_eq(pinsim_setrlimit(proc, RLIMIT_MEMLOCK, &rl), 0);
	ck_assert_int_eq(pinsim_access(proc, va, "x", 1, 1), 1);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, va, 16 * 4096, 1, &pin), -1);
	ck_assert_int_eq(errno, ENOMEM);
	pinsim_proc_stats(proc, &ps);
	ck_assert_uint_eq(ps.locked_vm, 0);
	pinsim_pagemap(proc, va, &pi);
	ck_assert_int_eq(pi.refcount, 1);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, va, 8 * 4096, 1, &pin), 0);
	ck_assert_int_eq(pinsim_unpin_user_pages(pin), 0);
	ck_assert_int_eq(pinsim_set_cap_ipc_lock(proc, true), 0);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, va, 16 * 4096, 1, &pin), 0);
	pinsim_proc_stats(proc, &ps);
	ck_assert_uint_eq(ps.locked_vm, 16);	/* CAP_IPC_LOCK: charged, not limited */
	/* Left pinned on purpose: pinsim_destroy() releases it. */
}
END_TEST

START_TEST(test_pin_with_fatal_signal_is_eintr_and_changes_nothing)
{
	uint64_t va = map(16 * 4096, ANON);
	struct pinsim_proc_stats ps;
	struct pinsim_pin *pin;

	ck_assert_int_eq(pinsim_set_cap_ipc_lock(proc, true), 0);
	ck_assert_int_eq(pinsim_kill(proc), 0);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, va, 16 * 4096, 1, &pin), -1);
	ck_assert_int_eq(errno, EINTR);
	pinsim_proc_stats(proc, &ps);
	ck_assert_uint_eq(ps.locked_vm, 0);
	ck_assert_int_eq(level_at(va), PINSIM_LEVEL_NONE);
}
END_TEST

START_TEST(test_pin_of_unmapped_range_is_efault_with_no_pins_left)
{
	uint64_t va = map(8 * 4096, ANON);
	struct pinsim_page_info pi;
	struct pinsim_proc_stats ps;
	struct pinsim_pin *pin;

	ck_assert_int_eq(pinsim_set_cap_ipc_lock(proc, true), 0);
	ck_assert_int_eq(pinsim_munmap(proc, va + 4 * 4096, 4096), 0);
	ck_assert_int_eq(pinsim_pin_user_pages(proc, va, 8 * 4096, 1, &pin), -1);
	ck_assert_int_eq(errno, EFAULT);
	pinsim_pagemap(proc, va, &pi);
	ck_assert_int_eq(pi.refcount, 1);	/* faulted in by GUP, then unpinned */
	pinsim_proc_stats(proc, &ps);
	ck_assert_uint_eq(ps.locked_vm, 0);
}
END_TEST

START_TEST(test_second_machine_is_ebusy_and_bad_config_einval)
{
	struct pinsim_config cfg;
	struct pinsim *other;
	struct rlimit rl = { 1, 1 };

	pinsim_config_init(&cfg);
	ck_assert_int_eq(pinsim_create(&cfg, &other), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(pinsim_setrlimit(proc, RLIMIT_NOFILE, &rl), -1);
	ck_assert_int_eq(errno, EINVAL);
	pinsim_destroy(sim);
	sim = NULL;
	cfg.ram_bytes = 12345;
	ck_assert_int_eq(pinsim_create(&cfg, &other), -1);
	ck_assert_int_eq(errno, EINVAL);
	api_setup();
}
END_TEST

START_TEST(test_stats_report_frame_metadata_and_no_oops)
{
	struct pinsim_stats st;

	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(st.bytes_per_frame, 16);
	ck_assert_uint_eq(st.ram_bytes, 8ULL << 30);
	ck_assert_uint_eq(st.hugetlb_1g_total, 2);
	ck_assert_uint_eq(st.hugetlb_2m_free, 8);
	ck_assert_uint_eq(st.oopses, 0);
}
END_TEST

/* ---- MAP_DMA racing the last group leaving its container ---- */

#define RACE_LEN (4ULL << 20)	/* 1024 pages, below the 8 MiB RLIMIT_MEMLOCK */

struct race_fds {
	int container, group, device;
	uint64_t bar;
	long map_ret, unset_ret;
};

static long race_map(void *arg)
{
	struct race_fds *r = arg;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = r->bar, .iova = 1ULL << 40, .size = RACE_LEN,
	};

	r->map_ret = pinsim_ioctl(proc, r->container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
	return 0;
}

static long race_unset(void *arg)
{
	struct race_fds *r = arg;

	r->unset_ret = pinsim_ioctl(proc, r->group, VFIO_GROUP_UNSET_CONTAINER, NULL) ? -errno : 0;
	return 0;
}

START_TEST(test_map_dma_racing_group_unset_never_uses_a_released_backend)
{
	struct pinsim_device_spec gpu = { "0000:01:00.0", { 2ULL << 30 }, 0 };
	struct pinsim_vfio_stats vs;
	struct pinsim_proc_stats ps;
	struct pinsim_stats st;
	int gid;

	ck_assert_int_eq(pinsim_add_device(sim, &gpu, &gid), 0);
	for (uint64_t seed = 1; seed <= 30; seed++) {
		struct race_fds r = { 0 };
		struct pinsim_thread t[2] = {
			{ .name = "vfio", .proc = proc, .fn = race_map, .arg = &r },
			{ .name = "qemu", .proc = proc, .fn = race_unset, .arg = &r },
		};
		struct pinsim_sched_opts o = { .seed = seed, .pct_steps = 8 };
		struct pinsim_sched_result res;
		char path[32];

		snprintf(path, sizeof(path), "/dev/vfio/%d", gid);
		r.container = pinsim_open(proc, "/dev/vfio/vfio", 2);
		r.group = pinsim_open(proc, path, 2);
		ck_assert_int_eq(pinsim_ioctl(proc, r.group, VFIO_GROUP_SET_CONTAINER, &r.container), 0);
		ck_assert_int_eq(pinsim_ioctl(proc, r.container, VFIO_SET_IOMMU,
					      (void *)VFIO_TYPE1v2_IOMMU), 0);
		r.device = pinsim_ioctl(proc, r.group, VFIO_GROUP_GET_DEVICE_FD, (void *)gpu.name);
		ck_assert_int_ge(r.device, 0);
		/*
		 * A BAR mapping would keep the device open after its close
		 * (mmap_region() get_file()), and the group in the container:
		 * the MAP pins anonymous memory instead.
		 */
		r.bar = pinsim_mmap(proc, 0, RACE_LEN, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert_uint_ne(r.bar, PINSIM_MAP_FAILED);
		ck_assert_int_eq(pinsim_close(proc, r.device), 0);

		ck_assert_int_eq(pinsim_sched_run(sim, t, 2, &o, &res), 0);
		ck_assert_int_eq(res.status, PINSIM_SCHED_DONE);
		/* Either order is legal; a MAP after the unset finds no backend. */
		ck_assert_int_eq(r.unset_ret, 0);
		ck_assert(r.map_ret == 0 || r.map_ret == -EINVAL);
		/* The backend went with the group: nothing mapped or pinned remains. */
		ck_assert_int_eq(pinsim_vfio_stats(proc, r.container, &vs), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_int_eq(pinsim_proc_stats(proc, &ps), 0);
		ck_assert_uint_eq(ps.locked_vm, 0);
		pinsim_stats(sim, &st);
		ck_assert_uint_eq(st.oopses, 0);
		ck_assert_uint_eq(st.warnings, 0);
		pinsim_close(proc, r.group);
		pinsim_close(proc, r.container);
		pinsim_munmap(proc, r.bar, RACE_LEN);
	}
}
END_TEST

/*
 * ---- pinsim_explore(): the bounded exhaustive search (issue 15) ----
 *
 * The seeds/01 world on 6.12.118's fixed walker with LEGACY's
 * follow_fault_pfn(): a numa_maps reader and a VFIO_IOMMU_MAP_DMA of the
 * first 16 KiB of a 1 GiB BAR (mmapped 1 GiB-aligned, faulted in), built
 * afresh for every execution.  Its outcomes: MAP_DMA maps, or fails with
 * EINVAL when the reader's split lands between fixup_user_fault() and the
 * recheck.
 */
#define EX_BAR_VA (1ULL << 40)
#define EX_MAX_OUTCOMES 16

struct ex_search {
	struct pinsim *m;
	struct pinsim_proc *p;
	int container;
	long map_ret, numa_ret;
	char numa[4096];
	unsigned long setups, checks;
	unsigned int nr;
	char outcomes[EX_MAX_OUTCOMES][48];
};

static long ex_numa_maps(void *arg)
{
	struct ex_search *x = arg;

	x->numa_ret = pinsim_read_numa_maps(x->p, x->numa, sizeof(x->numa));
	return 0;
}

static long ex_map_dma(void *arg)
{
	struct ex_search *x = arg;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = EX_BAR_VA, .iova = 1ULL << 41, .size = 16 << 10,
	};

	x->map_ret = pinsim_ioctl(x->p, x->container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
	return 0;
}

/*
 * The seeds' world through the public API: kernel @kernel, LEGACY, a GPU
 * whose 1 GiB BAR0 is mmapped at EX_BAR_VA with 1 GiB leaves and touched
 * (the leaf exists before the race), a type1v2 container with its group.
 */
static void ex_bar_world(const char *kernel, struct pinsim **m, struct pinsim_proc **p,
			 int *container)
{
	struct pinsim_device_spec gpu = { "0000:01:00.0", { 1ULL << 30 }, 0 };
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct pinsim_config cfg;
	int gid, group, device;
	char path[32], byte;

	pinsim_config_init(&cfg);
	ck_assert_int_eq(pinsim_config_set_kernel(&cfg, kernel), 0);
	cfg.ram_bytes = 1ULL << 30;
	cfg.max_bar_fault_order = 18;
	cfg.retry_policy = PINSIM_RETRY_LEGACY;
	ck_assert_int_eq(pinsim_create(&cfg, m), 0);
	ck_assert_int_eq(pinsim_proc_create(*m, p), 0);
	ck_assert_int_eq(pinsim_add_device(*m, &gpu, &gid), 0);
	snprintf(path, sizeof(path), "/dev/vfio/%d", gid);
	*container = pinsim_open(*p, "/dev/vfio/vfio", O_RDWR);
	group = pinsim_open(*p, path, O_RDWR);
	ck_assert_int_eq(pinsim_ioctl(*p, group, VFIO_GROUP_SET_CONTAINER, container), 0);
	ck_assert_int_eq(pinsim_ioctl(*p, *container, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU),
			 0);
	device = pinsim_ioctl(*p, group, VFIO_GROUP_GET_DEVICE_FD, (void *)gpu.name);
	ck_assert_int_ge(device, 0);
	ck_assert_int_eq(pinsim_ioctl(*p, device, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	ck_assert_uint_eq(pinsim_mmap(*p, EX_BAR_VA, ri.size, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_FIXED, device, ri.offset), EX_BAR_VA);
	/* A vCPU touched the BAR: its 1 GiB leaf exists before the race. */
	ck_assert_int_eq(pinsim_access(*p, EX_BAR_VA, &byte, 1, 0), 1);
}

static int ex_setup(void *ctx, struct pinsim_thread *t)
{
	struct ex_search *x = ctx;

	x->setups++;
	x->map_ret = x->numa_ret = 1;
	ex_bar_world("6.12.118", &x->m, &x->p, &x->container);
	t[0] = (struct pinsim_thread){ .name = "numa_maps", .proc = x->p, .fn = ex_numa_maps,
				       .arg = x };
	t[1] = (struct pinsim_thread){ .name = "vfio", .proc = x->p, .fn = ex_map_dma, .arg = x };
	return 2;
}

/* The outcome: how the run ended, MAP_DMA's result, whether the reader got its text. */
static bool ex_check(void *ctx, struct pinsim_thread *t, int n,
		     const struct pinsim_sched_result *res)
{
	struct ex_search *x = ctx;
	unsigned long prefix, index;
	char key[48];

	x->checks++;
	ck_assert_int_eq(n, 2);
	ck_assert(!t[0].died && !t[1].died);
	ck_assert_int_eq(pinsim_explore_position(&prefix, &index), 0);
	snprintf(key, sizeof(key), "st=%d map=%ld numa=%d", res->status, x->map_ret,
		 x->numa_ret > 0);
	for (unsigned int i = 0; i < x->nr; i++)
		if (!strcmp(x->outcomes[i], key))
			return true;
	ck_assert_uint_lt(x->nr, EX_MAX_OUTCOMES);
	snprintf(x->outcomes[x->nr++], sizeof(x->outcomes[0]), "%s", key);
	return true;
}

static void ex_teardown(void *ctx)
{
	struct ex_search *x = ctx;

	x->m = NULL;	/* pinsim_explore() destroys it */
	x->p = NULL;
}

static const struct pinsim_explore_ops ex_ops = { ex_setup, ex_check, ex_teardown };

static bool ex_has(const struct ex_search *x, const char *key)
{
	for (unsigned int i = 0; i < x->nr; i++)
		if (!strcmp(x->outcomes[i], key))
			return true;
	return false;
}

static void ex_run(struct ex_search *x, const struct pinsim_explore_opts *o,
		   struct pinsim_explore_stats *st)
{
	ck_assert_int_eq(pinsim_explore(&ex_ops, x, o, st), 0);
	printf("# explore reduce=%d shard %u/%u: %lu schedules, %lu pruned, %lu probes, "
	       "%u outcomes, %s\n", o->reduce, o->shard, o->nr_shards,
	       st->schedules, st->pruned, st->probes, x->nr,
	       st->complete ? "complete" : "INCOMPLETE");
}

START_TEST(test_explore_reduction_keeps_the_outcome_set_mapped_and_einval)
{
	struct pinsim_explore_opts o = { .preemption_bound = 2 };
	static struct ex_search plain, red;
	struct pinsim_explore_stats pst, st;

	ex_run(&plain, &o, &pst);
	o.reduce = true;
	ex_run(&red, &o, &st);
	ck_assert(pst.complete && st.complete);
	ck_assert(!pst.stopped && !pst.checker_report);
	/* Every execution checked once, every world built once per execution. */
	ck_assert_uint_eq(plain.checks, pst.schedules);
	ck_assert_uint_eq(plain.setups, pst.schedules + pst.pruned);
	ck_assert_uint_eq(red.setups, st.schedules + st.pruned);
	/* LEGACY's two outcomes, found by both. */
	ck_assert(ex_has(&plain, "st=0 map=0 numa=1"));
	ck_assert(ex_has(&plain, "st=0 map=-22 numa=1"));
	ck_assert_uint_eq(red.nr, plain.nr);
	for (unsigned int i = 0; i < plain.nr; i++)
		ck_assert_msg(ex_has(&red, plain.outcomes[i]), "lost by the reduction: %s",
			      plain.outcomes[i]);
	ck_assert_uint_le(st.schedules + st.pruned, pst.schedules);
	ck_assert_uint_gt(pst.coverage_pairs, 0);
	/* The machines were destroyed: none is left. */
	ck_assert_ptr_null(machine);
}
END_TEST

START_TEST(test_explore_three_shards_sum_to_one_run_and_unite_its_outcomes)
{
	struct pinsim_explore_opts o = { .preemption_bound = 2, .shard_depth = 3 };
	static struct ex_search one, sh[3];
	struct pinsim_explore_stats st1, st;
	unsigned long sum = 0, own = 0;
	uint32_t order[PINSIM_NR_POINTS] = { 0 };

	ex_run(&one, &o, &st1);
	ck_assert(st1.complete);
	for (unsigned int i = 0; i < 3; i++) {
		o.shard = i;
		o.nr_shards = 3;
		ex_run(&sh[i], &o, &st);
		ck_assert(st.complete);
		ck_assert_uint_eq(st.prefixes, st1.prefixes);
		sum += st.schedules;
		own += st.own_prefixes;
		for (int p = 0; p < PINSIM_NR_POINTS; p++)
			order[p] |= st.order[p];
		for (unsigned int k = 0; k < sh[i].nr; k++)
			ck_assert_msg(ex_has(&one, sh[i].outcomes[k]), "shard %u: %s not in one run",
				      i, sh[i].outcomes[k]);
	}
	ck_assert_uint_eq(sum, st1.schedules);
	ck_assert_uint_eq(own, st1.prefixes);
	for (unsigned int k = 0; k < one.nr; k++)
		ck_assert_msg(ex_has(&sh[0], one.outcomes[k]) || ex_has(&sh[1], one.outcomes[k]) ||
			      ex_has(&sh[2], one.outcomes[k]), "no shard found %s", one.outcomes[k]);
	ck_assert_mem_eq(order, st1.order, sizeof(order));
}
END_TEST

START_TEST(test_explore_bad_options_einval_and_no_world_built)
{
	static struct ex_search x;
	struct pinsim_explore_opts bad[] = {
		{ .shard = 3, .nr_shards = 3 },
		{ .shard = 1, .nr_shards = 1 },
		{ .shard = 1 },
		{ .nr_shards = 10001 },
		{ .shard_depth = 65 },
		{ .points = 1u << PINSIM_NR_POINTS },
	};
	struct pinsim_explore_ops no_check = { ex_setup, NULL, ex_teardown };
	struct pinsim_explore_opts ok = { .preemption_bound = 1 };
	struct pinsim_explore_stats st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_int_eq(pinsim_explore(&ex_ops, &x, &bad[i], &st), -1);
		ck_assert_int_eq(errno, EINVAL);
	}
	errno = 0;
	ck_assert_int_eq(pinsim_explore(&no_check, &x, &ok, &st), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_explore(NULL, &x, &ok, &st), -1);
	ck_assert_int_eq(pinsim_explore(&ex_ops, &x, NULL, &st), -1);
	ck_assert_int_eq(pinsim_explore(&ex_ops, &x, &ok, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(x.setups, 0);
	/* Outside a check there is no position. */
	ck_assert_int_eq(pinsim_explore_position(&st.prefixes, &st.probes), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* Nothing was left behind: a machine can be created. */
	{
		struct pinsim_config cfg;
		struct pinsim *m;

		pinsim_config_init(&cfg);
		cfg.ram_bytes = 1ULL << 30;
		ck_assert_int_eq(pinsim_create(&cfg, &m), 0);
		pinsim_destroy(m);
	}
}
END_TEST

/* A setup that fails ends the search with its errno, nothing checked. */
static int ex_setup_fails(void *ctx, struct pinsim_thread *t)
{
	struct ex_search *x = ctx;

	(void)t;
	x->setups++;
	errno = ENOMEM;
	return -1;
}

START_TEST(test_explore_failing_setup_ends_the_search_with_its_errno)
{
	static struct ex_search x;
	struct pinsim_explore_ops ops = { ex_setup_fails, ex_check, ex_teardown };
	struct pinsim_explore_opts o = { .preemption_bound = 2 };
	struct pinsim_explore_stats st;

	ck_assert_int_eq(pinsim_explore(&ops, &x, &o, &st), -1);
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_uint_eq(x.setups, 1);
	ck_assert_uint_eq(x.checks, 0);
	ck_assert_uint_eq(st.schedules, 0);
}
END_TEST

/*
 * A checker report stops the search (issue 15): a device DMA racing an
 * MADV_DONTNEED of its pinned buffer.  When the discard comes first the
 * DMA reaches a pinned page the process no longer maps: "dma-coherency".
 */
struct ex_discard {
	struct pinsim *m;
	struct pinsim_proc *p;
	int gid;
	uint64_t va;
	unsigned long checks, reported;
};

#define EX_IOVA (1ULL << 32)

static long ex_t_discard(void *arg)
{
	struct ex_discard *x = arg;

	return pinsim_madvise(x->p, x->va, 4 * 4096, MADV_DONTNEED);
}

static long ex_t_dma(void *arg)
{
	struct ex_discard *x = arg;
	unsigned char b;

	return pinsim_dma(x->m, x->gid, EX_IOVA, &b, 1, 0);
}

static int ex_discard_setup(void *ctx, struct pinsim_thread *t)
{
	struct ex_discard *x = ctx;
	struct pinsim_device_spec nic = { "0000:02:00.0", { 1ULL << 20 }, 0 };
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.iova = EX_IOVA, .size = 4 * 4096,
	};
	struct pinsim_config cfg;
	int container, group;
	char path[32];

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 1ULL << 30;
	ck_assert_int_eq(pinsim_create(&cfg, &x->m), 0);
	ck_assert_int_eq(pinsim_proc_create(x->m, &x->p), 0);
	ck_assert_int_eq(pinsim_add_device(x->m, &nic, &x->gid), 0);
	snprintf(path, sizeof(path), "/dev/vfio/%d", x->gid);
	container = pinsim_open(x->p, "/dev/vfio/vfio", O_RDWR);
	group = pinsim_open(x->p, path, O_RDWR);
	ck_assert_int_eq(pinsim_ioctl(x->p, group, VFIO_GROUP_SET_CONTAINER, &container), 0);
	ck_assert_int_eq(pinsim_ioctl(x->p, container, VFIO_SET_IOMMU,
				      (void *)VFIO_TYPE1v2_IOMMU), 0);
	x->va = pinsim_mmap(x->p, 0, 4 * 4096, PROT_READ | PROT_WRITE, ANON, -1, 0);
	ck_assert_uint_ne(x->va, PINSIM_MAP_FAILED);
	map.vaddr = x->va;
	ck_assert_int_eq(pinsim_ioctl(x->p, container, VFIO_IOMMU_MAP_DMA, &map), 0);
	t[0] = (struct pinsim_thread){ .name = "balloon", .proc = x->p, .fn = ex_t_discard,
				       .arg = x };
	t[1] = (struct pinsim_thread){ .name = "device", .proc = x->p, .fn = ex_t_dma, .arg = x };
	return 2;
}

static bool ex_discard_check(void *ctx, struct pinsim_thread *t, int n,
			     const struct pinsim_sched_result *res)
{
	struct ex_discard *x = ctx;

	x->checks++;
	x->reported += res->checker_reports > 0;
	return true;
}

static void ex_discard_teardown(void *ctx)
{
	((struct ex_discard *)ctx)->m = NULL;
}

START_TEST(test_explore_stops_at_the_first_checker_report_unless_collecting)
{
	static const struct pinsim_explore_ops ops = { ex_discard_setup, ex_discard_check,
						       ex_discard_teardown };
	struct pinsim_explore_opts o = { .points = (1u << PINSIM_NR_POINTS) - 1,
					 .preemption_bound = 2 };
	static struct ex_discard first, all;
	static struct pinsim_checker_report r;
	struct pinsim_explore_stats st, ast;
	struct pinsim_config cfg;
	struct pinsim *m;

	ck_assert_int_eq(pinsim_explore(&ops, &first, &o, &st), 0);
	printf("# discard x DMA: stopped after %lu schedules, report schedule '%s'\n",
	       st.schedules, st.bug.schedule);
	ck_assert(st.checker_report);
	ck_assert_uint_eq(st.checker_reports, 1);
	ck_assert(!st.complete && !st.stopped);
	ck_assert_uint_eq(first.reported, 1);
	ck_assert_uint_eq(first.checks, st.schedules);	/* the last one checked made it */
	ck_assert_uint_gt(st.bug.checker_reports, 0);
	o.collect_reports = true;
	ck_assert_int_eq(pinsim_explore(&ops, &all, &o, &ast), 0);
	printf("# discard x DMA, collecting: %lu schedules, %lu with a report\n", ast.schedules,
	       ast.checker_reports);
	ck_assert(ast.complete);
	ck_assert_uint_eq(ast.checker_reports, all.reported);
	ck_assert_uint_ge(ast.checker_reports, 1);
	ck_assert_uint_lt(ast.checker_reports, ast.schedules);	/* DMA first: nothing wrong */
	ck_assert_str_eq(ast.bug.schedule, st.bug.schedule);
	/* The report names the race, and replays with the first search's schedule. */
	pinsim_config_init(&cfg);
	cfg.ram_bytes = 1ULL << 30;
	ck_assert_int_eq(pinsim_create(&cfg, &m), 0);
	ck_assert_int_ge(pinsim_checker_reports(m, &r, 1), 1);
	ck_assert_str_eq(r.kind, "dma-coherency");
	pinsim_checker_reset(m);
	pinsim_destroy(m);
}
END_TEST


/*
 * Teardown after a death (seeds/01): the pre-fix walker oopses on a 1 GiB
 * BAR leaf that MAP_DMA's fault put back under it, holding mmap_lock for
 * read; munmap then waits for the write side, MAP_DMA behind it (writer
 * preference), and the scheduler ends both.  The dead tasks keep their
 * locks for good (sim/task.h): mmap_lock, and MAP_DMA's container
 * group_lock and iommu->lock.  pinsim_destroy() must not wait for them.
 */
struct dead_world {
	struct pinsim *m;
	struct pinsim_proc *p;
	int container;
	unsigned long setups, checks, dead_worlds;
	char schedule[8193];	/* the first oops + deadlock */
};

static long dw_numa_maps(void *arg)
{
	struct dead_world *x = arg;
	static char buf[4096];

	return pinsim_read_numa_maps(x->p, buf, sizeof(buf));
}

static long dw_map_dma(void *arg)
{
	struct dead_world *x = arg;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = EX_BAR_VA, .iova = 1ULL << 41, .size = 16 << 10,
	};

	return pinsim_ioctl(x->p, x->container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

static long dw_munmap(void *arg)
{
	struct dead_world *x = arg;

	return pinsim_munmap(x->p, EX_BAR_VA, 1ULL << 30);
}

/* race-repro's prefix-pud world: 6.12.74's walker, LEGACY, 1 GiB BAR leaves. */
static int dw_setup(void *ctx, struct pinsim_thread *t)
{
	struct dead_world *x = ctx;

	x->setups++;
	ex_bar_world("6.12.74", &x->m, &x->p, &x->container);
	t[0] = (struct pinsim_thread){ .name = "numa_maps", .proc = x->p, .fn = dw_numa_maps,
				       .arg = x };
	t[1] = (struct pinsim_thread){ .name = "vfio", .proc = x->p, .fn = dw_map_dma, .arg = x };
	t[2] = (struct pinsim_thread){ .name = "munmap", .proc = x->p, .fn = dw_munmap, .arg = x };
	return 3;
}

static bool dw_check(void *ctx, struct pinsim_thread *t, int n,
		     const struct pinsim_sched_result *res)
{
	struct dead_world *x = ctx;
	struct pinsim_stats st;
	bool died = false;

	x->checks++;
	ck_assert_int_eq(pinsim_stats(x->m, &st), 0);
	for (int i = 0; i < n; i++)
		died |= t[i].died;
	x->dead_worlds += died || st.oopses;
	/* The reader oopsed, munmap and MAP_DMA were ended waiting for mmap_lock. */
	if (!x->schedule[0] && st.oopses && res->status == PINSIM_SCHED_DEADLOCK && t[1].died)
		snprintf(x->schedule, sizeof(x->schedule), "%s", res->schedule);
	return true;
}

static void dw_teardown(void *ctx)
{
	struct dead_world *x = ctx;

	x->m = NULL;	/* pinsim_explore() destroys it */
	x->p = NULL;
}

/*
 * Every world of the search is destroyed, the ones whose tasks died
 * holding locks included (no machine left over, nothing for ASan's leak
 * check); then one of them, replayed, ends in pinsim_destroy() with the
 * harness's frame count back where it was after pinsim_create().
 */
START_TEST(test_destroy_after_a_death_holding_mmap_lock_and_vfio_locks_frees_everything)
{
	static const struct pinsim_explore_ops ops = { dw_setup, dw_check, dw_teardown };
	struct pinsim_explore_opts o = { .preemption_bound = 2, .reduce = true };
	static struct dead_world x;
	struct pinsim_explore_stats st;
	struct pinsim_sched_result res;
	struct pinsim_thread t[3];
	struct pinsim_sched_opts so = { 0 };
	static char report[4096];
	struct pinsim_stats ps;

	ck_assert_int_eq(pinsim_explore(&ops, &x, &o, &st), 0);
	printf("# prefix-pud explore: %lu schedules (%lu pruned), %lu with a death, first oops "
	       "+ deadlock with MAP_DMA ended '%s'\n", st.schedules, st.pruned, x.dead_worlds,
	       x.schedule);
	ck_assert(st.complete);
	ck_assert_uint_eq(x.checks, st.schedules);
	ck_assert_uint_eq(x.setups, st.schedules + st.pruned);
	ck_assert_uint_gt(x.dead_worlds, 0);
	ck_assert(x.schedule[0]);
	ck_assert_ptr_null(machine);
	/* The replay: the reader oopsed, MAP_DMA and munmap were ended waiting. */
	ck_assert_int_eq(dw_setup(&x, t), 3);
	so.schedule = x.schedule;
	ck_assert_int_eq(pinsim_sched_run(x.m, t, 3, &so, &res), 0);
	ck_assert_int_eq(res.status, PINSIM_SCHED_DEADLOCK);
	ck_assert_int_eq(pinsim_stats(x.m, &ps), 0);
	ck_assert_uint_eq(ps.oopses, 1);
	ck_assert(t[1].died);	/* -ECANCELED */
	ck_assert(rwsem_held_by_dead(&x.p->mm->mmap_lock));
	ck_assert_int_eq(atomic_load(&x.p->mm->mmap_lock.waiting_writers), 1);	/* munmap's */
	pinsim_lock_report(x.m, report, sizeof(report));
	ck_assert_ptr_nonnull(strstr(report, "holds container_group_lock (read)"));
	ck_assert_ptr_nonnull(strstr(report, "holds vfio_iommu (write)"));
	pinsim_destroy(x.m);	/* harness.h: the frames back to their count at creation */
	ck_assert_ptr_null(machine);
	/* Nothing of it is left in the way of the next machine. */
	ck_assert_int_eq(dw_setup(&x, t), 3);
	ck_assert_int_eq(pinsim_read_numa_maps(x.p, report, sizeof(report)) > 0, 1);
	pinsim_destroy(x.m);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("api");

	tcase_add_checked_fixture(tc, api_setup, api_teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_data_roundtrip_4k_anon_at_pte_level);
	tcase_add_test(tc, test_data_roundtrip_thp_at_pmd_level);
	tcase_add_test(tc, test_data_roundtrip_hugetlb_2m_and_1g);
	tcase_add_test(tc, test_access_unmapped_or_readonly_is_efault_and_partial_counts);
	tcase_add_test(tc, test_bad_mmap_arguments_kernel_errno_nothing_changed);
	tcase_add_test(tc, test_pin_counts_exact_for_4k_thp_and_1g_and_unpin_restores);
	tcase_add_test(tc, test_pin_beyond_rlimit_memlock_is_enomem_and_changes_nothing);
	tcase_add_test(tc, test_pin_with_fatal_signal_is_eintr_and_changes_nothing);
	tcase_add_test(tc, test_pin_of_unmapped_range_is_efault_with_no_pins_left);
	tcase_add_test(tc, test_second_machine_is_ebusy_and_bad_config_einval);
	tcase_add_test(tc, test_stats_report_frame_metadata_and_no_oops);
	tcase_add_test(tc, test_map_dma_racing_group_unset_never_uses_a_released_backend);
	/* pinsim_explore(): each execution builds its own machine, no fixture. */
	tc = tcase_create("explore");
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_explore_reduction_keeps_the_outcome_set_mapped_and_einval);
	tcase_add_test(tc, test_explore_three_shards_sum_to_one_run_and_unite_its_outcomes);
	tcase_add_test(tc, test_explore_bad_options_einval_and_no_world_built);
	tcase_add_test(tc, test_explore_failing_setup_ends_the_search_with_its_errno);
	tcase_add_test(tc, test_explore_stops_at_the_first_checker_report_unless_collecting);
	tcase_add_test(tc, test_destroy_after_a_death_holding_mmap_lock_and_vfio_locks_frees_everything);
	return s;
}
