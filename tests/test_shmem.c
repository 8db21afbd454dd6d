// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shared memory with a page cache (issue 12): mm/shmem.c (shmem_fault(),
 * shmem_zero_setup(), shmem_setattr(), shmem_fallocate()), mm/memfd.c
 * memfd_create(), fs/hugetlbfs/inode.c (hugetlbfs_file_mmap(),
 * hugetlb_vmtruncate()) with mm/hugetlb.c hugetlb_no_page()'s page-cache
 * path, mm/memory.c do_read_fault()/do_cow_fault()/do_shared_fault() and
 * 6.12's vma_needs_copy() at fork.  Everything through pinsim.h: bytes,
 * pagemap pfns, pins, the device's DMA, the frame counters.
 */
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <sys/resource.h>

#include "vfio_harness.h"

#define IOVA 0x40000000ULL

static uint64_t base_pages, base_2m_free, base_1g_free;
static struct pinsim_proc *child;

static void sh_setup(void)
{
	struct pinsim_stats st;

	vh_setup();
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	base_pages = st.pages_allocated;
	base_2m_free = st.hugetlb_2m_free;
	base_1g_free = st.hugetlb_1g_free;
	child = NULL;
}

static uint64_t map_fd(struct pinsim_proc *p, int fd, uint64_t len, int flags, uint64_t off)
{
	uint64_t va = pinsim_mmap(p, 0, len, RW, flags, fd, off);

	ck_assert_msg(va != PINSIM_MAP_FAILED, "mmap(fd %d, len %#llx): %s", fd,
		      (unsigned long long)len, strerror(errno));
	return va;
}

/* Every frame and pool page is back: the last fd and mapping are gone. */
static void assert_no_leak(void)
{
	struct pinsim_stats st;

	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(st.pages_allocated, base_pages);
	ck_assert_uint_eq(st.hugetlb_2m_free, base_2m_free);
	ck_assert_uint_eq(st.hugetlb_1g_free, base_1g_free);
	vh_assert_clean();
}

/* ---------------- shared anonymous memory ---------------- */

/*
 * MAP_SHARED|MAP_ANONYMOUS is shmem (shmem_zero_setup()): after fork the
 * child's VMA has no entries (vma_needs_copy() false) and refaults the
 * parent's page from the page cache, in both directions.
 */
START_TEST(shared_anon_fork_child_refaults_from_page_cache)
{
	uint64_t va = vh_mmap(2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS);
	struct pinsim_page_info pp, cp;

	vh_put_byte(proc, va, 0x5a);
	ck_assert_int_eq(pinsim_fork(proc, &child), 0);
	cp = vh_page_in(child, va);
	ck_assert_int_eq(cp.level, PINSIM_LEVEL_NONE);	/* not copied at fork */
	ck_assert_uint_eq(vh_get_byte(child, va), 0x5a);
	pp = vh_page_in(proc, va);
	cp = vh_page_in(child, va);
	ck_assert_uint_eq(cp.pfn, pp.pfn);
	vh_put_byte(child, va + PG, 0xc3);			/* a page the parent never touched */
	ck_assert_uint_eq(vh_get_byte(proc, va + PG), 0xc3);
	ck_assert_uint_eq(vh_page_in(proc, va + PG).pfn, vh_page_in(child, va + PG).pfn);
	pinsim_proc_destroy(child);
	ck_assert_uint_eq(vh_get_byte(proc, va), 0x5a);	/* the parent's mapping keeps it */
	ck_assert_int_eq(pinsim_munmap(proc, va, 2 * PG), 0);
	assert_no_leak();
}
END_TEST

/* A read fault of a shared anonymous page maps it writable (shared prot). */
START_TEST(shared_anon_read_fault_maps_page_cache_writable)
{
	uint64_t va = vh_mmap(PG, RW, MAP_SHARED | MAP_ANONYMOUS);
	struct pinsim_page_info pi;

	ck_assert_uint_eq(vh_get_byte(proc, va), 0);
	pi = vh_page_in(proc, va);
	ck_assert_int_eq(pi.level, PINSIM_LEVEL_PTE);
	ck_assert(pi.writable);
	ck_assert_int_eq(pi.refcount, 2);		/* the cache's + the mapping's */
	ck_assert_int_eq(pinsim_munmap(proc, va, PG), 0);
	assert_no_leak();
}
END_TEST

/* ---------------- memfd ---------------- */

/*
 * Two mappings of one memfd map the same page-cache pages; MAP_DMA of one
 * pins them (FOLL_LONGTERM on shmem is allowed); what the device writes is
 * read through the other mapping.
 */
START_TEST(memfd_map_dma_pins_page_cache_seen_through_second_mapping)
{
	const uint64_t len = 8 * PG;
	unsigned char out[8 * PG], in[8 * PG];
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	int fd = pinsim_memfd_create(proc, "guest-ram", MFD_CLOEXEC);
	uint64_t a, b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pinsim_ftruncate(proc, fd, len), 0);
	a = map_fd(proc, fd, len, MAP_SHARED, 0);
	b = map_fd(proc, fd, len, MAP_SHARED, 0);
	ck_assert_uint_ne(a, b);
	vh_map_ok(c, a, IOVA, len);
	vh_assert_pinned(a, len, 1);
	for (uint64_t off = 0; off < len; off += PG) {
		ck_assert_uint_eq(vh_get_byte(proc, b + off), 0);	/* b refaults the cache */
		ck_assert_uint_eq(vh_page_in(proc, a + off).pfn, vh_page_in(proc, b + off).pfn);
	}
	vh_pattern(out, len, 3);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA, out, len, 1), (ssize_t)len);
	ck_assert_int_eq(pinsim_access(proc, b, in, len, 0), (ssize_t)len);
	ck_assert_mem_eq(in, out, len);
	/* And the other way: the CPU's bytes through b reach the device. */
	vh_pattern(out, len, 4);
	ck_assert_int_eq(pinsim_access(proc, b, out, len, 1), (ssize_t)len);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA, in, len, 0), (ssize_t)len);
	ck_assert_mem_eq(in, out, len);

	vh_unmap_ok(c, IOVA, len);
	vh_assert_unpinned(a, len);
	ck_assert_int_eq(pinsim_munmap(proc, a, len), 0);
	ck_assert_int_eq(pinsim_munmap(proc, b, len), 0);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	assert_no_leak();
}
END_TEST

/* The pages live while a mapping holds the file, though its fd is closed. */
START_TEST(memfd_pages_live_while_mapping_holds_file)
{
	int fd = pinsim_memfd_create(proc, "x", 0);
	uint64_t a;

	ck_assert_int_eq(pinsim_ftruncate(proc, fd, 2 * PG), 0);
	a = map_fd(proc, fd, 2 * PG, MAP_SHARED, 0);
	vh_put_byte(proc, a + PG, 0x77);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	ck_assert_uint_eq(vh_get_byte(proc, a + PG), 0x77);
	ck_assert_int_eq(pinsim_munmap(proc, a, PG), 0);	/* half: the file stays */
	ck_assert_uint_eq(vh_get_byte(proc, a + PG), 0x77);
	ck_assert_int_eq(pinsim_munmap(proc, a + PG, PG), 0);
	assert_no_leak();
}
END_TEST

/*
 * A private mapping of a memfd reads the page cache (do_read_fault(),
 * read-only) and copies on write (do_cow_fault() / do_wp_page()): the file
 * and its shared mappings never see the private bytes.
 */
START_TEST(memfd_private_mapping_cows_from_page_cache)
{
	int fd = pinsim_memfd_create(proc, "x", 0);
	uint64_t sh, pr;
	struct pinsim_page_info pi;

	ck_assert_int_eq(pinsim_ftruncate(proc, fd, 2 * PG), 0);
	sh = map_fd(proc, fd, 2 * PG, MAP_SHARED, 0);
	pr = map_fd(proc, fd, 2 * PG, MAP_PRIVATE, 0);
	vh_put_byte(proc, sh, 0x11);
	vh_put_byte(proc, sh + PG, 0x22);
	ck_assert_uint_eq(vh_get_byte(proc, pr), 0x11);	/* read: the cache page */
	pi = vh_page_in(proc, pr);
	ck_assert_uint_eq(pi.pfn, vh_page_in(proc, sh).pfn);
	ck_assert(!pi.writable);
	vh_put_byte(proc, pr, 0x99);			/* do_wp_page(): a copy */
	ck_assert_uint_ne(vh_page_in(proc, pr).pfn, vh_page_in(proc, sh).pfn);
	vh_put_byte(proc, pr + PG, 0x98);			/* do_cow_fault(): a copy at once */
	ck_assert_uint_ne(vh_page_in(proc, pr + PG).pfn, vh_page_in(proc, sh + PG).pfn);
	ck_assert_uint_eq(vh_get_byte(proc, sh), 0x11);
	ck_assert_uint_eq(vh_get_byte(proc, sh + PG), 0x22);
	ck_assert_uint_eq(vh_get_byte(proc, pr + PG), 0x98);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	ck_assert_int_eq(pinsim_munmap(proc, sh, 2 * PG), 0);
	ck_assert_int_eq(pinsim_munmap(proc, pr, 2 * PG), 0);
	assert_no_leak();
}
END_TEST

/*
 * ftruncate() shrinking a memfd while a device has it pinned: every
 * mapping loses the pages past the end (an access there SIGBUSes: -1/EFAULT
 * here, and a new MAP_DMA of them is EFAULT), the page cache drops them,
 * but the pins keep them (refcount), so the device still reaches its
 * bytes until UNMAP_DMA; then everything is freed.
 */
START_TEST(memfd_ftruncate_shrink_while_pinned)
{
	const uint64_t len = 4 * PG;
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	int fd = pinsim_memfd_create(proc, "x", 0);
	struct pinsim_stats st;
	unsigned char b = 0;
	uint64_t a, before;

	ck_assert_int_eq(pinsim_ftruncate(proc, fd, len), 0);
	a = map_fd(proc, fd, len, MAP_SHARED, 0);
	vh_put_byte(proc, a + 3 * PG, 0x42);
	vh_map_ok(c, a, IOVA, len);
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	before = st.pages_allocated;

	ck_assert_int_eq(pinsim_ftruncate(proc, fd, PG), 0);
	ck_assert_int_eq(vh_page_in(proc, a + 3 * PG).level, PINSIM_LEVEL_NONE);
	errno = 0;
	ck_assert_int_eq(pinsim_access(proc, a + 3 * PG, &b, 1, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_int_eq(vh_map(c, a + PG, IOVA + 16 * PG, PG), -EFAULT);
	ck_assert_uint_eq(vh_get_byte(proc, a), 0);		/* below EOF: still there */
	/* The pins hold the three pages: nothing was freed yet. */
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(st.pages_allocated, before);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA + 3 * PG, &b, 1, 0), 1);
	ck_assert_uint_eq(b, 0x42);

	vh_unmap_ok(c, IOVA, len);
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(st.pages_allocated, before - 3);
	/* Growing again gives zero pages, not the old ones. */
	ck_assert_int_eq(pinsim_ftruncate(proc, fd, len), 0);
	ck_assert_uint_eq(vh_get_byte(proc, a + 3 * PG), 0);
	ck_assert_int_eq(pinsim_munmap(proc, a, len), 0);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	assert_no_leak();
}
END_TEST

/* A mapping past EOF exists, but touching it SIGBUSes (shmem_fault()). */
START_TEST(memfd_access_past_eof_sigbus)
{
	int fd = pinsim_memfd_create(proc, "x", 0);
	unsigned char b;
	uint64_t a;

	a = map_fd(proc, fd, 2 * PG, MAP_SHARED, 0);	/* size 0 */
	errno = 0;
	ck_assert_int_eq(pinsim_access(proc, a, &b, 1, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_int_eq(pinsim_fallocate(proc, fd, 0, 0, PG), 0);	/* grows i_size */
	ck_assert_uint_eq(vh_get_byte(proc, a), 0);
	ck_assert_int_eq(pinsim_access(proc, a + PG, &b, 1, 0), -1);
	vh_put_byte(proc, a, 1);
	/* PUNCH_HOLE frees the page; the mapping refaults a zero one. */
	ck_assert_int_eq(pinsim_fallocate(proc, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					  0, PG), 0);
	ck_assert_int_eq(vh_page_in(proc, a).level, PINSIM_LEVEL_NONE);
	ck_assert_uint_eq(vh_get_byte(proc, a), 0);
	ck_assert_int_eq(pinsim_munmap(proc, a, 2 * PG), 0);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	assert_no_leak();
}
END_TEST

/* memfd_create()'s, ftruncate()'s and fallocate()'s errors. */
START_TEST(memfd_and_truncate_errors)
{
	char longname[300];
	int c = vh_open_container();
	int fd;

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	errno = 0;
	ck_assert_int_eq(pinsim_memfd_create(proc, "x", 0x100), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_memfd_create(proc, longname, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_memfd_create(proc, "x", MFD_HUGETLB | (16U << 26)), -1);
	ck_assert_int_eq(errno, ENODEV);	/* 64K: no such pool */
	ck_assert_int_eq(pinsim_ftruncate(proc, c, PG), -1);
	ck_assert_int_eq(errno, EINVAL);	/* an anon inode */
	ck_assert_int_eq(pinsim_fallocate(proc, c, 0, 0, PG), -1);
	ck_assert_int_eq(errno, ENODEV);
	ck_assert_int_eq(pinsim_ftruncate(proc, 999, PG), -1);
	ck_assert_int_eq(errno, EBADF);
	fd = pinsim_memfd_create(proc, "h", MFD_HUGETLB | MFD_HUGE_2MB);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pinsim_ftruncate(proc, fd, PG), -1);
	ck_assert_int_eq(errno, EINVAL);	/* not whole huge pages */
	ck_assert_int_eq(pinsim_ftruncate(proc, fd, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_ioctl(proc, fd, VFIO_GET_API_VERSION, NULL), -1);
	ck_assert_int_eq(errno, ENOTTY);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	assert_no_leak();
}
END_TEST

/* ---------------- /dev/shm ---------------- */

/*
 * shm_open() is open(2) of /dev/shm/NAME: O_CREAT|O_EXCL, a second open of
 * the name reaches the same pages, shm_unlink() removes the name and the
 * pages go with the last fd/mapping.
 */
START_TEST(shm_open_names_and_unlink)
{
	int fd1, fd2, ro;
	uint64_t a, b;

	fd1 = pinsim_open(proc, "/dev/shm/vm0", O_RDWR | O_CREAT | O_EXCL);
	ck_assert_int_ge(fd1, 0);
	errno = 0;
	ck_assert_int_eq(pinsim_open(proc, "/dev/shm/vm0", O_RDWR | O_CREAT | O_EXCL), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(pinsim_open(proc, "/dev/shm/none", O_RDWR), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(pinsim_ftruncate(proc, fd1, PG), 0);
	fd2 = pinsim_open(proc, "/dev/shm/vm0", O_RDWR);
	ck_assert_int_ge(fd2, 0);
	a = map_fd(proc, fd1, PG, MAP_SHARED, 0);
	b = map_fd(proc, fd2, PG, MAP_SHARED, 0);
	vh_put_byte(proc, a, 0x31);
	ck_assert_uint_eq(vh_get_byte(proc, b), 0x31);
	ck_assert_int_eq(pinsim_unlink(proc, "/dev/shm/vm0"), 0);
	ck_assert_int_eq(pinsim_unlink(proc, "/dev/shm/vm0"), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(pinsim_open(proc, "/dev/shm/vm0", O_RDWR), -1);
	ck_assert_uint_eq(vh_get_byte(proc, b), 0x31);	/* fds and mappings keep it */
	/* A read-only fd cannot back a shared writable mapping. */
	ro = pinsim_open(proc, "/dev/shm/ro", O_RDONLY | O_CREAT);
	ck_assert_int_ge(ro, 0);
	ck_assert(pinsim_mmap(proc, 0, PG, RW, MAP_SHARED, ro, 0) == PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(pinsim_close(proc, ro), 0);
	ck_assert_int_eq(pinsim_unlink(proc, "/dev/shm/ro"), 0);
	ck_assert_int_eq(pinsim_munmap(proc, a, PG), 0);
	ck_assert_int_eq(pinsim_close(proc, fd1), 0);
	ck_assert_uint_eq(vh_get_byte(proc, b), 0x31);
	ck_assert_int_eq(pinsim_munmap(proc, b, PG), 0);
	ck_assert_int_eq(pinsim_close(proc, fd2), 0);
	assert_no_leak();
}
END_TEST

/* ---------------- hugetlbfs ---------------- */

/*
 * A hugetlbfs file mapped twice shares its pool folios (hugetlb_no_page()
 * for VM_MAYSHARE adds to and finds in the page cache): one pool page per
 * huge page, however many mappings; MAP_DMA pins them at the hstate's
 * level; the pages go back to the pool with the last reference.
 */
static void hugetlbfs_shared_twice(const char *path, uint64_t hsz, enum pinsim_level level,
				   bool via_memfd)
{
	const uint64_t len = 2 * hsz;
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	struct pinsim_stats st;
	unsigned char out[256], in[256];
	int fd;
	uint64_t a, b;

	if (via_memfd)
		fd = pinsim_memfd_create(proc, "huge",
					 MFD_HUGETLB | (hsz == GiB ? MFD_HUGE_1GB : MFD_HUGE_2MB));
	else
		fd = pinsim_open(proc, path, O_RDWR | O_CREAT);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pinsim_ftruncate(proc, fd, len), 0);
	a = map_fd(proc, fd, len, MAP_SHARED, 0);
	b = map_fd(proc, fd, len, MAP_SHARED, 0);
	ck_assert_uint_eq(a & (hsz - 1), 0);
	vh_put_byte(proc, a + hsz + 5, 0xab);
	ck_assert_uint_eq(vh_get_byte(proc, b + hsz + 5), 0xab);
	ck_assert_int_eq(vh_page_in(proc, b + hsz).level, level);
	ck_assert_uint_eq(vh_page_in(proc, a + hsz).pfn, vh_page_in(proc, b + hsz).pfn);
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(hsz == GiB ? st.hugetlb_1g_free : st.hugetlb_2m_free,
			  (hsz == GiB ? base_1g_free : base_2m_free) - 1);

	vh_map_ok(c, b, IOVA, len);
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(hsz == GiB ? st.hugetlb_1g_free : st.hugetlb_2m_free,
			  (hsz == GiB ? base_1g_free : base_2m_free) - 2);	/* not 4 */
	vh_assert_pinned(b, len, 1);
	vh_pattern(out, sizeof(out), 9);
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA + 3 * PG, out, sizeof(out), 1),
			 (ssize_t)sizeof(out));
	ck_assert_int_eq(pinsim_access(proc, a + 3 * PG, in, sizeof(in), 0), (ssize_t)sizeof(in));
	ck_assert_mem_eq(in, out, sizeof(out));
	vh_unmap_ok(c, IOVA, len);

	ck_assert_int_eq(pinsim_munmap(proc, a, len), 0);
	ck_assert_int_eq(pinsim_munmap(proc, b, len), 0);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	if (!via_memfd) {
		/* The name still holds the pages: a new open finds the bytes. */
		fd = pinsim_open(proc, path, O_RDWR);
		ck_assert_int_ge(fd, 0);
		a = map_fd(proc, fd, len, MAP_SHARED, 0);
		ck_assert_uint_eq(vh_get_byte(proc, a + hsz + 5), 0xab);
		ck_assert_int_eq(pinsim_munmap(proc, a, len), 0);
		ck_assert_int_eq(pinsim_close(proc, fd), 0);
		ck_assert_int_eq(pinsim_unlink(proc, path), 0);
	}
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	assert_no_leak();
}

START_TEST(hugetlbfs_2m_file_mapped_twice_shares_folios)
{
	hugetlbfs_shared_twice("/dev/hugepages/ram", 2 * MiB, PINSIM_LEVEL_PMD, false);
}
END_TEST

START_TEST(hugetlbfs_1g_file_mapped_twice_shares_folios)
{
	hugetlbfs_shared_twice("/dev/hugepages1G/ram", GiB, PINSIM_LEVEL_PUD, false);
}
END_TEST

START_TEST(memfd_hugetlb_2m_mapped_twice_shares_folios)
{
	hugetlbfs_shared_twice(NULL, 2 * MiB, PINSIM_LEVEL_PMD, true);
}
END_TEST

/*
 * A shared hugetlbfs mapping reserves in the inode (one reservation per
 * index, whatever the number of mappings); a size the pool cannot cover is
 * -ENOMEM at mmap (hugetlb_reserve_pages()).
 */
START_TEST(hugetlbfs_reservations_per_file)
{
	int fd = pinsim_open(proc, "/dev/hugepages/r", O_RDWR | O_CREAT);
	uint64_t a, b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pinsim_ftruncate(proc, fd, 16 * 2 * MiB), 0);
	a = map_fd(proc, fd, 16 * 2 * MiB, MAP_SHARED, 0);	/* all 16 pool pages */
	b = map_fd(proc, fd, 16 * 2 * MiB, MAP_SHARED, 0);	/* the same reservations */
	errno = 0;
	ck_assert(pinsim_mmap(proc, 0, 2 * MiB, RW, HUGE_2M, -1, 0) == PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, ENOMEM);
	vh_put_byte(proc, b + 15 * 2 * MiB, 1);
	ck_assert_int_eq(pinsim_munmap(proc, a, 16 * 2 * MiB), 0);
	ck_assert_int_eq(pinsim_munmap(proc, b, 16 * 2 * MiB), 0);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	ck_assert_int_eq(pinsim_unlink(proc, "/dev/hugepages/r"), 0);
	assert_no_leak();
	/* Every reservation went back with the inode. */
	a = pinsim_mmap(proc, 0, 16 * 2 * MiB, RW, HUGE_2M, -1, 0);
	ck_assert(a != PINSIM_MAP_FAILED);
	ck_assert_int_eq(pinsim_munmap(proc, a, 16 * 2 * MiB), 0);
}
END_TEST

/*
 * A private mapping of a hugetlbfs file maps the cached folio read-only and
 * copies it on a write (hugetlb_no_page() -> hugetlb_wp()); the file keeps
 * its bytes.
 */
START_TEST(hugetlbfs_private_mapping_cows_cached_folio)
{
	int fd = pinsim_open(proc, "/dev/hugepages/p", O_RDWR | O_CREAT);
	uint64_t sh, pr;

	ck_assert_int_eq(pinsim_ftruncate(proc, fd, 2 * MiB), 0);
	sh = map_fd(proc, fd, 2 * MiB, MAP_SHARED, 0);
	pr = map_fd(proc, fd, 2 * MiB, MAP_PRIVATE, 0);
	vh_put_byte(proc, sh + 7, 0x44);
	ck_assert_uint_eq(vh_get_byte(proc, pr + 7), 0x44);
	ck_assert_uint_eq(vh_page_in(proc, pr).pfn, vh_page_in(proc, sh).pfn);
	ck_assert(!vh_page_in(proc, pr).writable);
	vh_put_byte(proc, pr + 7, 0x55);
	ck_assert_uint_ne(vh_page_in(proc, pr).pfn, vh_page_in(proc, sh).pfn);
	ck_assert_uint_eq(vh_get_byte(proc, sh + 7), 0x44);
	ck_assert_uint_eq(vh_get_byte(proc, pr + 7), 0x55);
	ck_assert_int_eq(pinsim_munmap(proc, sh, 2 * MiB), 0);
	ck_assert_int_eq(pinsim_munmap(proc, pr, 2 * MiB), 0);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	ck_assert_int_eq(pinsim_unlink(proc, "/dev/hugepages/p"), 0);
	assert_no_leak();
}
END_TEST

/*
 * hugetlbfs truncation while pinned (hugetlb_vmtruncate()): the mapping
 * loses the huge page past EOF, the pool gets it back only at the unpin.
 */
START_TEST(hugetlbfs_ftruncate_shrink_while_pinned)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	int fd = pinsim_memfd_create(proc, "h", MFD_HUGETLB | MFD_HUGE_2MB);
	struct pinsim_stats st;
	unsigned char b = 0;
	uint64_t a;

	ck_assert_int_eq(pinsim_ftruncate(proc, fd, 4 * MiB), 0);
	a = map_fd(proc, fd, 4 * MiB, MAP_SHARED, 0);
	vh_put_byte(proc, a + 2 * MiB, 0x66);
	vh_map_ok(c, a, IOVA, 4 * MiB);
	ck_assert_int_eq(pinsim_ftruncate(proc, fd, 2 * MiB), 0);
	ck_assert_int_eq(vh_page_in(proc, a + 2 * MiB).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(pinsim_access(proc, a + 2 * MiB, &b, 1, 0), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(st.hugetlb_2m_free, base_2m_free - 2);	/* pinned */
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA + 2 * MiB, &b, 1, 0), 1);
	ck_assert_uint_eq(b, 0x66);
	vh_unmap_ok(c, IOVA, 4 * MiB);
	ck_assert_int_eq(pinsim_stats(sim, &st), 0);
	ck_assert_uint_eq(st.hugetlb_2m_free, base_2m_free - 1);
	ck_assert_int_eq(pinsim_munmap(proc, a, 4 * MiB), 0);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	assert_no_leak();
}
END_TEST

/*
 * MAP_SHARED|MAP_HUGETLB memory is an unlinked hugetlbfs file: a fork child
 * refaults the parent's folio from its page cache (no copy at fork), and a
 * pinned shared page is never copied for the child either.
 */
START_TEST(shared_hugetlb_fork_child_refaults_same_folio)
{
	int c = vh_container(VFIO_TYPE1v2_IOMMU);
	uint64_t va = vh_mmap(2 * MiB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB);

	vh_put_byte(proc, va + 9, 0x17);
	vh_map_ok(c, va, IOVA, 2 * MiB);
	ck_assert_int_eq(pinsim_fork(proc, &child), 0);
	ck_assert_int_eq(vh_page_in(child, va).level, PINSIM_LEVEL_NONE);
	ck_assert_uint_eq(vh_get_byte(child, va + 9), 0x17);
	ck_assert_uint_eq(vh_page_in(child, va).pfn, vh_page_in(proc, va).pfn);
	vh_put_byte(child, va + 10, 0x18);
	{
		unsigned char b = 0;

		ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, IOVA + 10, &b, 1, 0), 1);
		ck_assert_uint_eq(b, 0x18);	/* the child's write reaches the device */
	}
	pinsim_proc_destroy(child);
	vh_unmap_ok(c, IOVA, 2 * MiB);
	ck_assert_int_eq(pinsim_munmap(proc, va, 2 * MiB), 0);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	assert_no_leak();
}
END_TEST

/* numa_maps names the files as the kernel's d_path() does. */
START_TEST(numa_maps_names_shared_memory_files)
{
	int fd = pinsim_memfd_create(proc, "ram0", 0);
	char buf[4096];
	uint64_t a, z;

	ck_assert_int_eq(pinsim_ftruncate(proc, fd, PG), 0);
	a = map_fd(proc, fd, PG, MAP_SHARED, 0);
	z = vh_mmap(PG, RW, MAP_SHARED | MAP_ANONYMOUS);
	vh_put_byte(proc, a, 1);
	vh_put_byte(proc, z, 1);
	ck_assert_int_gt(pinsim_read_numa_maps(proc, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "file=/memfd:ram0\\040(deleted)"));
	ck_assert_ptr_nonnull(strstr(buf, "file=/dev/zero\\040(deleted)"));
	ck_assert_ptr_null(strstr(buf, " anon="));	/* shmem pages are not anonymous */
	ck_assert_int_eq(pinsim_munmap(proc, a, PG), 0);
	ck_assert_int_eq(pinsim_munmap(proc, z, PG), 0);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	assert_no_leak();
}
END_TEST

static void sh_teardown(void)
{
	vh_teardown();
}

Suite *make_suite(void)
{
	Suite *s = suite_create("shmem");
	TCase *tc = tcase_create("shmem");

	tcase_add_checked_fixture(tc, sh_setup, sh_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, shared_anon_fork_child_refaults_from_page_cache);
	tcase_add_test(tc, shared_anon_read_fault_maps_page_cache_writable);
	tcase_add_test(tc, memfd_map_dma_pins_page_cache_seen_through_second_mapping);
	tcase_add_test(tc, memfd_pages_live_while_mapping_holds_file);
	tcase_add_test(tc, memfd_private_mapping_cows_from_page_cache);
	tcase_add_test(tc, memfd_ftruncate_shrink_while_pinned);
	tcase_add_test(tc, memfd_access_past_eof_sigbus);
	tcase_add_test(tc, memfd_and_truncate_errors);
	tcase_add_test(tc, shm_open_names_and_unlink);
	tcase_add_test(tc, hugetlbfs_2m_file_mapped_twice_shares_folios);
	tcase_add_test(tc, hugetlbfs_1g_file_mapped_twice_shares_folios);
	tcase_add_test(tc, memfd_hugetlb_2m_mapped_twice_shares_folios);
	tcase_add_test(tc, hugetlbfs_reservations_per_file);
	tcase_add_test(tc, hugetlbfs_private_mapping_cows_cached_folio);
	tcase_add_test(tc, hugetlbfs_ftruncate_shrink_while_pinned);
	tcase_add_test(tc, shared_hugetlb_fork_child_refaults_same_folio);
	tcase_add_test(tc, numa_maps_names_shared_memory_files);
	suite_add_tcase(s, tc);
	return s;
}
