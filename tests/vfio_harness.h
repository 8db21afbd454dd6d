/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared scaffolding of the VFIO type1 suites (test_conformance.c,
 * test_selftests.c, test_datapath.c): a machine with two vfio-pci devices,
 * QEMU-shaped container/group setup through the public API with the real
 * <linux/vfio.h> requests, MAP/UNMAP/GET_INFO wrappers returning 0/-errno,
 * and the "nothing changed" assertions every failing request is followed by
 * (no pin, no IOMMU entry, locked_vm and dma_avail as before).
 *
 * Everything goes through include/pinsim/pinsim.h: these suites see the
 * simulation the way a VMM sees the kernel.
 *
 * The implementation under test is a parameter (tests/meson.build):
 *  - PINSIM_TEST_IMPL=tree runs every machine on the -Dkernel_tree tree's
 *    own code, its drivers/vfio/vfio_iommu_type1.c included, under the
 *    tree's profile (pinsim_kernel_tree_profile()); unset or "rewrite",
 *    pinsim's rewrite under "upstream";
 *  - PINSIM_TEST_KERNEL=NAME takes another profile (the rewrite under the
 *    tree's profile is what the tree run is compared with).
 * Cases read the version switches from vh_cfg where the versions differ,
 * and a case about a rewrite-only switch (retry policies, the -ENOENT
 * proposal, version switches a tree's source cannot take) says
 * VH_SKIP_ON_TREE("why") first.
 */
#ifndef TESTS_VFIO_HARNESS_H
#define TESTS_VFIO_HARNESS_H

#include <fcntl.h>
#include <linux/mman.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <sys/mman.h>

#include "harness.h"
#include "pinsim/pinsim.h"

#define PG 4096ULL
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define RW (PROT_READ | PROT_WRITE)
#define HUGE_2M (ANON | MAP_HUGETLB | MAP_HUGE_2MB)
#define HUGE_1G (ANON | MAP_HUGETLB | MAP_HUGE_1GB)
#define DMA_RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* x86 IOVA layout once a group is attached: the MSI window is reserved. */
#define IOVA_HOLE_START 0xfee00000ULL
#define IOVA_HOLE_END 0xfeefffffULL
#define IOVA_LAST ((1ULL << 48) - 1)

/* GET_INFO with every cap: 24 + MIGRATION 32 + DMA_AVAIL 16 + IOVA_RANGE 48. */
#define INFO_FULL_ARGSZ 120

static struct pinsim *sim;
static struct pinsim_proc *proc;
static struct pinsim_config vh_cfg;

struct vh_dev {
	const char *name;
	int group_id;
	int group;		/* group fd, -1 if not open */
	int dev;		/* device fd, -1 if not open */
	uint64_t bar_size[6];
	int iommu_unit;
};

/*
 * dev0: BAR0 2 GiB (two PUD leaves), BAR2 2 MiB, BAR4 64 KiB, IOMMU unit 0.
 * dev1: BAR0 1 GiB, BAR2 16 KiB, IOMMU unit 1 (its own domain).
 */
static struct vh_dev dev0 = {
	.name = "0000:01:00.0",
	.bar_size = { [0] = 2 * GiB, [2] = 2 * MiB, [4] = 64 * KiB },
	.iommu_unit = 0,
};
static struct vh_dev dev1 = {
	.name = "0000:02:00.0",
	.bar_size = { [0] = 1 * GiB, [2] = 16 * KiB },
	.iommu_unit = 1,
};

/* PINSIM_TEST_IMPL=tree: the machines run the kernel tree's code. */
static inline bool vh_impl_tree(void)
{
	const char *impl = getenv("PINSIM_TEST_IMPL");

	return impl && !strcmp(impl, "tree");
}

/*
 * A case that tests a switch only pinsim's rewrite has: under the tree it
 * passes without running, and says why (a TAP comment).
 */
#define VH_SKIP_ON_TREE(why)                                          \
	do {                                                          \
		if (vh_impl_tree()) {                                 \
			printf("# skip: %s: %s\n", __func__, (why));  \
			fflush(stdout);                               \
			return;                                       \
		}                                                     \
	} while (0)

static inline void vh_defaults(struct pinsim_config *cfg)
{
	const char *kernel = getenv("PINSIM_TEST_KERNEL");

	if (kernel && !*kernel)
		kernel = NULL;

	pinsim_config_init(cfg);
	cfg->ram_bytes = 8 * GiB;
	cfg->hugetlb_2m_pages = 16;
	cfg->hugetlb_1g_pages = 4;
	if (vh_impl_tree()) {
		ck_assert_msg(!pinsim_config_set_impl(cfg, "tree"),
			      "PINSIM_TEST_IMPL=tree in a build without -Dkernel_tree");
		if (!kernel)
			kernel = pinsim_kernel_tree_profile();
	}
	if (kernel)
		ck_assert_msg(!pinsim_config_set_kernel(cfg, kernel), "unknown kernel %s", kernel);
	/*
	 * Under the tree the profile's policy (LEGACY, or EAGAIN for a tree
	 * declared +eagain) is the tree's source's: pinsim_create() accepts
	 * only that one, and set_kernel() has just set it.
	 */
}

static inline void vh_add_device(struct vh_dev *d)
{
	struct pinsim_device_spec spec = { .name = d->name, .iommu_unit = d->iommu_unit };

	memcpy(spec.bar_size, d->bar_size, sizeof(spec.bar_size));
	ck_assert_int_eq(pinsim_add_device(sim, &spec, &d->group_id), 0);
	d->group = -1;
	d->dev = -1;
}

/*
 * The machine of @cfg with both devices and one process.  RLIMIT_MEMLOCK is
 * raised to 4 GiB (as libvirt does for a VM) so that accounting is on but
 * does not get in the way; tests of the limit lower it.
 */
static inline void vh_setup_with(const struct pinsim_config *cfg)
{
	struct rlimit rl = { 4 * GiB, 4 * GiB };

	ck_assert_int_eq(pinsim_create(cfg, &sim), 0);
	ck_assert_int_eq(pinsim_proc_create(sim, &proc), 0);
	ck_assert_int_eq(pinsim_setrlimit(proc, RLIMIT_MEMLOCK, &rl), 0);
	vh_add_device(&dev0);
	vh_add_device(&dev1);
}

static inline void vh_setup(void)
{
	vh_defaults(&vh_cfg);
	vh_setup_with(&vh_cfg);
}

static inline void vh_teardown(void)
{
	pinsim_destroy(sim);	/* closes every fd, unpins, frees the machine */
	sim = NULL;
	proc = NULL;
}

static inline TCase *vh_tcase(Suite *s, const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup ? setup : vh_setup, vh_teardown);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return tc;
}

/* ---------------- fds ---------------- */

static inline int vh_open_container(void)
{
	int c = pinsim_open(proc, "/dev/vfio/vfio", O_RDWR);

	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_GET_API_VERSION, NULL), VFIO_API_VERSION);
	return c;
}

/* Open @d's group and add it to container @c (QEMU's vfio_connect_container order). */
static inline void vh_group_set_container(struct vh_dev *d, int c)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];

	snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id);
	d->group = pinsim_open(proc, path, O_RDWR);
	ck_assert_int_ge(d->group, 0);
	ck_assert_int_eq(pinsim_ioctl(proc, d->group, VFIO_GROUP_GET_STATUS, &st), 0);
	ck_assert(st.flags & VFIO_GROUP_FLAGS_VIABLE);
	ck_assert(!(st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET));
	ck_assert_int_eq(pinsim_ioctl(proc, d->group, VFIO_GROUP_SET_CONTAINER, &c), 0);
}

static inline void vh_get_device(struct vh_dev *d)
{
	d->dev = pinsim_ioctl(proc, d->group, VFIO_GROUP_GET_DEVICE_FD, (void *)d->name);
	ck_assert_int_ge(d->dev, 0);
}

/*
 * A container of IOMMU @type (VFIO_TYPE1_IOMMU or VFIO_TYPE1v2_IOMMU) with
 * dev0's group attached and dev0's device fd open.
 */
static inline int vh_container(unsigned long type)
{
	int c = vh_open_container();

	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_CHECK_EXTENSION, (void *)type), 1);
	vh_group_set_container(&dev0, c);
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_SET_IOMMU, (void *)type), 0);
	vh_get_device(&dev0);
	return c;
}

/* Add @d to an already set-up container (its domain is attached now). */
static inline void vh_attach(struct vh_dev *d, int c)
{
	vh_group_set_container(d, c);
	vh_get_device(d);
}

/* ---------------- MAP / UNMAP / GET_INFO, 0 or -errno ---------------- */

static inline int vh_rc(int ret)
{
	return ret < 0 ? -errno : ret;
}

static inline int vh_map_flags(int c, uint64_t vaddr, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = flags, .vaddr = vaddr, .iova = iova, .size = size,
	};

	errno = 0;
	return vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_MAP_DMA, &map));
}

static inline int vh_map(int c, uint64_t vaddr, uint64_t iova, uint64_t size)
{
	return vh_map_flags(c, vaddr, iova, size, DMA_RW);
}

/* UNMAP; *@unmapped gets the size field afterwards (written back only on success). */
static inline int vh_unmap_flags(int c, uint64_t iova, uint64_t size, uint32_t flags,
				 uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .flags = flags, .iova = iova, .size = size,
	};
	int ret;

	errno = 0;
	ret = vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_UNMAP_DMA, &unmap));
	if (unmapped)
		*unmapped = unmap.size;
	return ret;
}

static inline int vh_unmap(int c, uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	return vh_unmap_flags(c, iova, size, 0, unmapped);
}

/* Map and expect success. */
static inline void vh_map_ok(int c, uint64_t vaddr, uint64_t iova, uint64_t size)
{
	int ret = vh_map(c, vaddr, iova, size);

	ck_assert_msg(ret == 0, "MAP_DMA(vaddr %#llx, iova %#llx, size %#llx) = %d",
		      (unsigned long long)vaddr, (unsigned long long)iova,
		      (unsigned long long)size, ret);
}

/* Unmap exactly one mapping of @size and expect it reported whole. */
static inline void vh_unmap_ok(int c, uint64_t iova, uint64_t size)
{
	uint64_t unmapped = 0;

	ck_assert_int_eq(vh_unmap(c, iova, size, &unmapped), 0);
	ck_assert_uint_eq(unmapped, size);
}

/* GET_INFO into @buf with @argsz; the struct is first filled from @buf. */
static inline int vh_get_info(int c, void *buf, uint32_t argsz)
{
	struct vfio_iommu_type1_info *info = buf;

	info->argsz = argsz;
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, c, VFIO_IOMMU_GET_INFO, buf));
}

/* The capability @id in a GET_INFO answer, or NULL. */
static inline struct vfio_info_cap_header *vh_info_cap(void *buf, uint16_t id)
{
	struct vfio_iommu_type1_info *info = buf;
	uint32_t off = info->cap_offset;
	int guard = 0;

	if (!(info->flags & VFIO_IOMMU_INFO_CAPS))
		return NULL;
	while (off && guard++ < 16) {
		struct vfio_info_cap_header *h = (void *)((char *)buf + off);

		ck_assert_uint_lt(off, info->argsz);
		if (h->id == id)
			return h;
		off = h->next;
	}
	return NULL;
}

/* DMA_AVAIL as userspace reads it, cross-checked with pinsim_vfio_stats(). */
static inline uint32_t vh_dma_avail(int c)
{
	uint64_t buf[512 / 8] = { 0 };
	struct vfio_iommu_type1_info_dma_avail *cap;
	struct pinsim_vfio_stats st;

	ck_assert_int_eq(vh_get_info(c, buf, sizeof(buf)), 0);
	cap = (void *)vh_info_cap(buf, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ck_assert_ptr_nonnull(cap);
	ck_assert_int_eq(pinsim_vfio_stats(proc, c, &st), 0);
	ck_assert_uint_eq(st.dma_avail, cap->avail);
	return cap->avail;
}

static inline struct pinsim_vfio_stats vh_stats(int c)
{
	struct pinsim_vfio_stats st;

	ck_assert_int_eq(pinsim_vfio_stats(proc, c, &st), 0);
	return st;
}

static inline struct pinsim_stats vh_sim_stats(void)
{
	struct pinsim_stats st;

	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	return st;
}

static inline uint64_t vh_locked_vm(void)
{
	struct pinsim_proc_stats st;

	ck_assert_int_eq(pinsim_proc_stats(proc, &st), 0);
	return st.locked_vm;
}

/* ---------------- memory ---------------- */

static inline uint64_t vh_mmap(uint64_t len, int prot, int flags)
{
	uint64_t va = pinsim_mmap(proc, 0, len, prot, flags, -1, 0);

	ck_assert_msg(va != PINSIM_MAP_FAILED, "mmap(len %#llx, flags %#x) failed: %s",
		      (unsigned long long)len, flags, strerror(errno));
	return va;
}

/* Touch every page of [va, va + len) with a write (fault them in). */
static inline void vh_touch(uint64_t va, uint64_t len, uint64_t step)
{
	for (uint64_t off = 0; off < len; off += step) {
		unsigned char b = (unsigned char)(off >> 12);

		ck_assert_int_eq(pinsim_access(proc, va + off, &b, 1, 1), 1);
	}
}

/* The mmap offset of region @index of a vfio-pci device fd (REGION_INFO). */
static inline uint64_t vh_region_offset(struct vh_dev *d, uint32_t index)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };

	ck_assert_int_eq(pinsim_ioctl(proc, d->dev, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	ck_assert_uint_eq(ri.offset, (uint64_t)index << 40);
	return ri.offset;
}

/* mmap @len bytes of BAR @index at @off (MAP_SHARED; MAP_FIXED if @addr). */
static inline uint64_t vh_bar_mmap(struct vh_dev *d, uint32_t index, uint64_t addr, uint64_t len,
				   int prot, uint64_t off)
{
	int flags = MAP_SHARED | (addr ? MAP_FIXED : 0);
	uint64_t va = pinsim_mmap(proc, addr, len, prot, flags, d->dev,
				  vh_region_offset(d, index) + off);

	ck_assert_msg(va != PINSIM_MAP_FAILED, "BAR%u mmap failed: %s", index, strerror(errno));
	return va;
}

/* PCI_COMMAND memory decode on or off through the config region. */
static inline void vh_memory_decode(struct vh_dev *d, bool on)
{
	uint64_t cfg = vh_region_offset(d, VFIO_PCI_CONFIG_REGION_INDEX);
	uint16_t cmd = 0;

	ck_assert_int_eq(pinsim_pread(proc, d->dev, &cmd, 2, cfg + PCI_COMMAND), 2);
	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
	ck_assert_int_eq(pinsim_pwrite(proc, d->dev, &cmd, 2, cfg + PCI_COMMAND), 2);
}

/* What maps @va in @p (pinsim_pagemap()), asserted to succeed. */
static inline struct pinsim_page_info vh_page_in(struct pinsim_proc *p, uint64_t va)
{
	struct pinsim_page_info pi;

	ck_assert_int_eq(pinsim_pagemap(p, va, &pi), 0);
	return pi;
}

static inline struct pinsim_page_info vh_page(uint64_t va)
{
	return vh_page_in(proc, va);
}

/* A CPU store / load of one byte in @p, faulting as the MMU would. */
static inline void vh_put_byte(struct pinsim_proc *p, uint64_t va, unsigned char b)
{
	ck_assert_int_eq(pinsim_access(p, va, &b, 1, 1), 1);
}

static inline unsigned char vh_get_byte(struct pinsim_proc *p, uint64_t va)
{
	unsigned char b = 0xee;

	ck_assert_int_eq(pinsim_access(p, va, &b, 1, 0), 1);
	return b;
}

static inline uint64_t vh_level_size(enum pinsim_level l)
{
	return l == PINSIM_LEVEL_PUD ? GiB : l == PINSIM_LEVEL_PMD ? 2 * MiB : PG;
}

/* No RAM page of [va, va + len) is pinned (FOLL_PIN count 0). */
static inline void vh_assert_unpinned(uint64_t va, uint64_t len)
{
	uint64_t a = va;

	while (a < va + len) {
		struct pinsim_page_info pi = vh_page(a);
		uint64_t step = vh_level_size(pi.level);

		if (pi.level != PINSIM_LEVEL_NONE && !pi.mmio)
			ck_assert_msg(pi.pincount == 0, "page %#llx still pinned: pincount %d",
				      (unsigned long long)a, pi.pincount);
		a = (a & ~(step - 1)) + step;
	}
}

/* Every RAM page of [va, va + len) is mapped and pinned exactly @pins times. */
static inline void vh_assert_pinned(uint64_t va, uint64_t len, int pins)
{
	for (uint64_t a = va; a < va + len;) {
		struct pinsim_page_info pi = vh_page(a);
		uint64_t step = vh_level_size(pi.level);

		ck_assert_int_ne(pi.level, PINSIM_LEVEL_NONE);
		if (pi.folio_order)
			ck_assert_int_ge(pi.pincount, pins);	/* per page of the folio */
		else
			ck_assert_int_eq(pi.pincount, pins);
		a = (a & ~(step - 1)) + step;
	}
}

/* No IOMMU translation for any page of [iova, iova + len) in @d's domain. */
static inline void vh_assert_no_iommu(struct vh_dev *d, uint64_t iova, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += PG) {
		errno = 0;
		ck_assert_msg(pinsim_iommu_lookup(sim, d->group_id, iova + off, NULL, NULL) == -1,
			      "iova %#llx still translated", (unsigned long long)(iova + off));
	}
}

/* Leaf size of the IOMMU translation of @iova (asserts it exists). */
static inline uint64_t vh_iommu_leaf(struct vh_dev *d, uint64_t iova, uint64_t *phys)
{
	uint64_t p = 0, leaf = 0;

	ck_assert_msg(pinsim_iommu_lookup(sim, d->group_id, iova, &p, &leaf) == 0,
		      "iova %#llx not translated: %s", (unsigned long long)iova, strerror(errno));
	if (phys)
		*phys = p;
	return leaf;
}

/* What a failing request must leave as it found it. */
struct vh_state {
	uint64_t locked_vm;
	uint32_t dma_avail;
	uint64_t nr_dmas;
};

static inline struct vh_state vh_snap(int c)
{
	struct pinsim_vfio_stats st = vh_stats(c);
	struct vh_state s = {
		.locked_vm = vh_locked_vm(),
		.dma_avail = vh_dma_avail(c),
		.nr_dmas = st.nr_dmas,
	};
	return s;
}

static inline void vh_assert_state(int c, const struct vh_state *s)
{
	struct vh_state now = vh_snap(c);

	ck_assert_uint_eq(now.locked_vm, s->locked_vm);
	ck_assert_uint_eq(now.dma_avail, s->dma_avail);
	ck_assert_uint_eq(now.nr_dmas, s->nr_dmas);
}

/*
 * After a failed MAP_DMA of [vaddr, vaddr + size) at @iova: nothing pinned,
 * nothing in the IOMMU, accounting and dma_avail as before.
 */
static inline void vh_assert_map_left_nothing(int c, const struct vh_state *s, uint64_t vaddr,
					      uint64_t iova, uint64_t size)
{
	vh_assert_state(c, s);
	vh_assert_unpinned(vaddr, size);
	vh_assert_no_iommu(&dev0, iova, size);
}

/*
 * No oops, no WARN, no DMA reaching an unpinned frame.  (sim_last_warn() is
 * the one internal call here: the public stats count WARNs but do not say
 * which.)
 */
static inline void vh_assert_clean(void)
{
	struct pinsim_stats st = vh_sim_stats();
	char warn[256] = "";

	ck_assert_msg(st.oopses == 0, "oops: %s", st.last_oops);
	sim_last_warn(warn, sizeof(warn));
	ck_assert_msg(st.warnings == 0, "%llu WARN(s), last: %s",
		      (unsigned long long)st.warnings, warn);
	ck_assert_uint_eq(st.dma_violations, 0);
}

/* Fill @buf with a pattern that differs per @seed and per byte position. */
static inline void vh_pattern(unsigned char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 131 + seed * 7 + (i >> 12));
}

#endif /* TESTS_VFIO_HARNESS_H */
