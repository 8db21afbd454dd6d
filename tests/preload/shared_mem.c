// SPDX-License-Identifier: GPL-2.0-only
/*
 * QEMU's memory backends, the way QEMU sets them up, DMA-mapped for a
 * device and checked both ways through the loopback DMA engine in BAR0 (a
 * 32-byte descriptor pwrite: source iova, destination iova, length, 1 =
 * copy): memory-backend-memfd (memfd_create + ftruncate + MAP_SHARED,
 * mapped a second time), memory-backend-file on /dev/shm (shm_open),
 * -mem-path on hugetlbfs (statfs of the mount, open(O_CREAT) of a file
 * there, ftruncate, unlink), and MAP_SHARED anonymous memory; a forked
 * child sees the parent's writes in shared memory and the parent the
 * child's; a disk file's mapping cannot be DMA-mapped (EFAULT here, where
 * the kernel would pin its page cache).  An ordinary program: system
 * headers only.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"
#define HUGETLBFS_MAGIC_ 0x958458f6
#define LEN (256UL << 10)

static struct vfio_region_info bar0 = {.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX};

static void dma_copy(int device, uint64_t src, uint64_t dst, uint64_t len)
{
	uint64_t desc[4] = {src, dst, len, 1};

	CHECK(pwrite(device, desc, sizeof(desc), (off_t)bar0.offset) == sizeof(desc),
	      "DMA %#llx -> %#llx", (unsigned long long)src, (unsigned long long)dst);
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 13 + seed + (i >> 12));
}

static int same(const unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(i * 13 + seed + (i >> 12)))
			return 0;
	return 1;
}

/*
 * The CPU writes the first half through @p, the device copies it to the
 * second half (reading and writing guest memory through its IOMMU), and
 * the copy is read through @q (another mapping of the same memory, or p).
 */
static void dma_round_trip(struct vfio_dev *d, unsigned char *p, unsigned char *q, size_t len,
			   uint64_t iova, unsigned int seed, const char *what)
{
	CHECK(!dma_map(d->container, p, iova, len), "%s: MAP_DMA", what);
	fill(p, len / 2, seed);
	memset(p + len / 2, 0, len / 2);
	dma_copy(d->device, iova, iova + len / 2, len / 2);
	CHECK(same(q + len / 2, len / 2, seed), "%s: DMA copy read back", what);
	CHECK(dma_unmap(d->container, iova, len) == (long long)len, "%s: UNMAP_DMA", what);
}

static void memfd_backend(struct vfio_dev *d)
{
	int fd = memfd_create("pc.ram", MFD_CLOEXEC);
	unsigned char *p, *q;

	CHECK(fd >= 0, "memfd_create");
	CHECK(!ftruncate(fd, LEN), "ftruncate memfd");
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	q = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED && q != MAP_FAILED && p != q, "mmap memfd twice");
	dma_round_trip(d, p, q, LEN, 0x100000000ULL, 1, "memfd");
	printf("memfd: cpu write -> dma copy -> read through a second mapping: ok\n");
	{
		unsigned char c;

		/* read(2) of the file is not modelled: EINVAL, listed in the summary. */
		CHECK(read(fd, &c, 1) < 0 && errno == EINVAL, "read of a memfd");
	}
	CHECK(!munmap(q, LEN), "munmap second mapping");
	CHECK(!munmap(p, LEN), "munmap memfd");
	CHECK(!close(fd), "close memfd");
}

static void shm_backend(struct vfio_dev *d)
{
	int fd = shm_open("/pinsim-shared-mem", O_CREAT | O_EXCL | O_RDWR, 0600), fd2;
	unsigned char *p, *q;

	CHECK(fd >= 0, "shm_open");
	CHECK(shm_open("/pinsim-shared-mem", O_CREAT | O_EXCL | O_RDWR, 0600) < 0 && errno == EEXIST,
	      "shm_open O_EXCL of an existing name");
	CHECK(!ftruncate(fd, LEN), "ftruncate shm");
	fd2 = shm_open("/pinsim-shared-mem", O_RDWR, 0);
	CHECK(fd2 >= 0, "shm_open existing");
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	q = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	CHECK(p != MAP_FAILED && q != MAP_FAILED, "mmap shm");
	dma_round_trip(d, p, q, LEN, 0x140000000ULL, 2, "shm");
	CHECK(!shm_unlink("/pinsim-shared-mem"), "shm_unlink");
	CHECK(shm_open("/pinsim-shared-mem", O_RDWR, 0) < 0 && errno == ENOENT, "unlinked name");
	printf("shm_open: two fds, dma copy seen through the other, shm_unlink: ok\n");
	CHECK(!munmap(p, LEN) && !munmap(q, LEN), "munmap shm");
	CHECK(!close(fd) && !close(fd2), "close shm");
}

/* -mem-path /dev/hugepages: QEMU statfs()es the mount for the page size. */
static void hugetlbfs_backend(struct vfio_dev *d)
{
	const char *path = "/dev/hugepages/pinsim-ram";
	struct statfs st;
	unsigned char *p, *q;
	size_t hsz, len;
	int fd;

	CHECK(!statfs("/dev/hugepages", &st) && st.f_type == HUGETLBFS_MAGIC_, "statfs hugetlbfs");
	hsz = (size_t)st.f_bsize;
	len = 2 * hsz;
	fd = open(path, O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0, "open %s", path);
	CHECK(ftruncate(fd, 4096) < 0 && errno == EINVAL, "ftruncate not a huge page multiple");
	CHECK(!ftruncate(fd, (off_t)len), "ftruncate hugetlbfs file");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED && q != MAP_FAILED, "mmap hugetlbfs file");
	CHECK(!((uintptr_t)p & (hsz - 1)) && !((uintptr_t)q & (hsz - 1)), "huge page aligned");
	CHECK(!unlink(path), "unlink %s", path);
	CHECK(!fstatfs(fd, &st) && st.f_type == HUGETLBFS_MAGIC_ && (size_t)st.f_bsize == hsz,
	      "fstatfs of the hugetlbfs file");
	dma_round_trip(d, q, p, len, 0x200000000ULL, 3, "hugetlbfs");
	printf("hugetlbfs: %zu-byte pages, file mapped twice, dma copy seen through both: ok\n", hsz);
	CHECK(!munmap(p, len) && !munmap(q, len), "munmap hugetlbfs");
	CHECK(!close(fd), "close hugetlbfs file");
}

static unsigned char *shared_anon(struct vfio_dev *d)
{
	unsigned char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED, "mmap MAP_SHARED|MAP_ANONYMOUS");
	dma_round_trip(d, p, p, LEN, 0x240000000ULL, 4, "shared anon");
	printf("MAP_SHARED|MAP_ANONYMOUS: dma copy: ok\n");
	return p;
}

/* The child sees what the parent wrote, and the parent what the child wrote. */
static void fork_shared(unsigned char *anon, struct vfio_dev *d)
{
	int fd = memfd_create("fork.ram", 0), status;
	unsigned char *m;
	pid_t pid;

	CHECK(fd >= 0 && !ftruncate(fd, LEN), "memfd for fork");
	m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED, "mmap memfd for fork");
	CHECK(!dma_map(d->container, m, 0x300000000ULL, LEN), "MAP_DMA before fork");
	fill(anon, LEN, 5);
	fill(m, LEN, 6);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		if (!same(anon, LEN, 5) || !same(m, LEN, 6))
			_exit(3);
		fill(anon, LEN / 2, 7);
		fill(m + LEN / 2, LEN / 2, 8);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	CHECK(same(anon, LEN / 2, 7) && same(m + LEN / 2, LEN / 2, 8), "the child's writes");
	/* The device reads the child's bytes through the parent's DMA mapping. */
	dma_copy(d->device, 0x300000000ULL + LEN / 2, 0x300000000ULL, LEN / 2);
	CHECK(same(m, LEN / 2, 8), "DMA of the child's bytes");
	printf("fork: child saw the writes of the parent, parent and device see those of the child: ok\n");
	CHECK(dma_unmap(d->container, 0x300000000ULL, LEN) == (long long)LEN, "UNMAP_DMA");
	CHECK(!munmap(m, LEN) && !close(fd), "memfd for fork gone");
}

/*
 * -mem-path DIR: QEMU makes its file with mkstemp() in the mount
 * (file_ram_open()) and fstatfs()es it for the page size.
 */
static void hugetlbfs_mkstemp(struct vfio_dev *d)
{
	char path[] = "/dev/hugepages/qemu_back_mem.pc.ram.XXXXXX";
	struct statfs st;
	unsigned char *p;
	int fd = mkstemp(path);

	CHECK(fd >= 0 && strcmp(path + strlen(path) - 6, "XXXXXX"), "mkstemp in hugetlbfs");
	CHECK(!unlink(path), "unlink %s", path);
	CHECK(!fstatfs(fd, &st) && st.f_type == HUGETLBFS_MAGIC_, "fstatfs of the mkstemp file");
	CHECK(!ftruncate(fd, (off_t)st.f_bsize), "ftruncate");
	p = mmap(NULL, (size_t)st.f_bsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap the mkstemp file");
	dma_round_trip(d, p, p, (size_t)st.f_bsize, 0x280000000ULL, 9, "hugetlbfs mkstemp");
	printf("hugetlbfs mkstemp: fstatfs %ld-byte pages, dma copy: ok\n", (long)st.f_bsize);
	CHECK(!munmap(p, (size_t)st.f_bsize) && !close(fd), "mkstemp file gone");
	/* do_ftruncate(): a VFIO fd is no regular file. */
	CHECK(ftruncate(d->container, 4096) < 0 && errno == EINVAL, "ftruncate of a VFIO fd");
}

/* A disk file is the host's: MAP_DMA of it fails EFAULT (not modelled). */
static void disk_file(struct vfio_dev *d)
{
	char path[] = "/tmp/pinsim-shared-mem-XXXXXX";
	int fd = mkstemp(path);
	void *p;

	CHECK(fd >= 0 && !unlink(path) && !ftruncate(fd, 4096), "disk file");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap disk file");
	((char *)p)[0] = 1;
	CHECK(dma_map(d->container, p, 0x380000000ULL, 4096) < 0 && errno == EFAULT,
	      "MAP_DMA of a disk file");
	printf("disk file: MAP_DMA EFAULT\n");
	CHECK(!munmap(p, 4096) && !close(fd), "disk file gone");
}

int main(void)
{
	struct vfio_dev d;
	unsigned char *anon;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (vfio_setup(BDF, &d))
		return 2;
	CHECK(!ioctl(d.device, VFIO_DEVICE_GET_REGION_INFO, &bar0), "REGION_INFO BAR0");
	memfd_backend(&d);
	shm_backend(&d);
	hugetlbfs_backend(&d);
	hugetlbfs_mkstemp(&d);
	anon = shared_anon(&d);
	fork_shared(anon, &d);
	disk_file(&d);
	CHECK(!munmap(anon, LEN), "munmap shared anon");
	vfio_teardown(&d);
	printf("RESULT: ok\n");
	return 0;
}
