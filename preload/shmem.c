// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shared memory of an unmodified program (issue 12): the files QEMU's
 * memory backends use — memory-backend-memfd (memfd_create(), with
 * MFD_HUGETLB too), memory-backend-file on /dev/shm (shm_open()) and on
 * hugetlbfs (-mem-path /dev/hugepages: open(O_CREAT) of a file there) —
 * are pinsim files (sim/shmem.c, sim/hugetlbfs.c: a page cache shared by
 * every mapping, fork children included).  The program holds a host
 * placeholder fd (a memfd with no contents, as for VFIO fds: preload.c's
 * table, so close/dup/fcntl/fork treat them alike); ftruncate()/
 * fallocate() go to the simulated file; mmap() of the fd (mirror.c) is
 * mirrored as a device region is: placed by the simulated kernel, faulted
 * in page by page from the machine's memfd frames.  MAP_SHARED|
 * MAP_ANONYMOUS memory is mirrored the same way (mirror.c), a shmem file
 * in the simulation.
 *
 * Paths: only absolute ones, in /dev/shm, /dev/hugepages (2M pool) and
 * /dev/hugepages1G (1G pool), one level deep, as sysfs.c's statfs() of the
 * mounts.  Not modelled (the host answers, the summary does not list
 * them): read/write/pread/fstat/fstatfs of these fds (fstatfs of a
 * hugetlbfs file answers tmpfs: sysfs.c knows fds by their
 * /proc/self/fd link), seals, mkstemp() in a mount (glibc opens
 * internally), a relative path with openat().
 *
 * Whatever else the program maps from a file stays the host's (a disk
 * file): a MAP_DMA of it fails EFAULT in the simulation, where the kernel
 * would pin the page cache; that is counted in the summary as not
 * modelled, with a trace line (preload_shmem_map_dma_failed()).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/memfd.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "preload.h"
#include "shmem.h"

static const char *const shmem_dirs[] = { "/dev/shm/", "/dev/hugepages/", "/dev/hugepages1G/" };

bool preload_shmem_path(const char *path)
{
	if (!path || preload_in_sim)
		return false;
	for (size_t i = 0; i < sizeof(shmem_dirs) / sizeof(shmem_dirs[0]); i++)
		if (!strncmp(path, shmem_dirs[i], strlen(shmem_dirs[i])))
			return true;
	return false;
}

/* The calls into pinsim (preload_sim(): here, or a forked child's in the machine host). */
static long memfd_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		     int nfds)
{
	(void)fds;
	(void)nfds;
	return pinsim_memfd_create(p, buf, (unsigned int)a[0]);
}

static long open_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds, int nfds)
{
	(void)fds;
	(void)nfds;
	return pinsim_open(p, buf, (int)a[0]);
}

static long unlink_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		      int nfds)
{
	(void)a;
	(void)fds;
	(void)nfds;
	return pinsim_unlink(p, buf);
}

static long ftruncate_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
			 int nfds)
{
	(void)buf;
	(void)fds;
	(void)nfds;
	return pinsim_ftruncate(p, (int)a[0], (int64_t)a[1]);
}

static long fallocate_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
			 int nfds)
{
	(void)buf;
	(void)fds;
	(void)nfds;
	return pinsim_fallocate(p, (int)a[0], (int)a[1], (int64_t)a[2], (int64_t)a[3]);
}

/* A pinsim call with a string argument; then the host placeholder. */
/* The page shift of a hugetlbfs file made by open of @path or memfd_create(@flags). */
static int hugetlb_shift(preload_sim_fn *fn, const char *path, uint64_t flags);

static int sim_file_call(preload_sim_fn *fn, const char *str, uint64_t arg, bool cloexec,
			 const char *what)
{
	int pfd, fd, err;

	preload_mm_enter();
	pfd = (int)preload_sim(&(struct preload_call){
		.fn = fn, .a = { arg }, .buf = (void *)str, .in_len = strlen(str) + 1 });
	err = errno;
	fd = pfd < 0 ? -1 : preload_vfd_install_shmem(pfd, cloexec, hugetlb_shift(fn, str, arg));
	if (fd < 0 && pfd >= 0)
		err = errno;
	preload_mm_exit();
	preload_trace("%s %s = %d%s%s", what, str, fd, fd < 0 ? " " : "", fd < 0 ? strerror(err) : "");
	errno = err;
	return fd;
}

static int hugetlb_shift(preload_sim_fn *fn, const char *path, uint64_t flags)
{
	unsigned int s;

	if (fn == memfd_fn) {
		if (!(flags & MFD_HUGETLB))
			return 0;
		s = (flags >> MFD_HUGE_SHIFT) & MFD_HUGE_MASK;
		return s ? (int)s : 21;
	}
	if (!strncmp(path, "/dev/hugepages1G/", 17))
		return 30;
	return strncmp(path, "/dev/hugepages/", 15) ? 0 : 21;
}

int preload_shmem_open(const char *path, int flags)
{
	if (!preload.ready) {
		errno = ENOENT;
		return -1;
	}
	return sim_file_call(open_fn, path, (uint64_t)flags, flags & O_CLOEXEC, "open");
}

/*
 * memfd_create(2).  preload.c's own placeholders ("pinsim:..." names) and
 * pinsim's own memfds (preload_in_sim) are the host's.
 */
int memfd_create(const char *name, unsigned int flags)
{
	if (preload_in_sim || !preload.ready || !name || !strncmp(name, "pinsim:", 7))
		return REAL(memfd_create)(name, flags);
	return sim_file_call(memfd_fn, name, flags, flags & MFD_CLOEXEC, "memfd_create");
}

/*
 * glibc's shm_open()/shm_unlink() (__shm_get_name()): leading slashes
 * skipped, then a non-empty name without '/' of at most NAME_MAX bytes,
 * else EINVAL; open(O_NOFOLLOW|O_CLOEXEC) of /dev/shm/<name>.
 */
static int shm_path(const char *name, char *path, size_t len)
{
	while (*name == '/')
		name++;
	if (!*name || strchr(name, '/') || strlen(name) > NAME_MAX)
		return -EINVAL;
	snprintf(path, len, "/dev/shm/%s", name);
	return 0;
}

int shm_open(const char *name, int oflag, mode_t mode)
{
	char path[PATH_MAX];
	int err;

	if (preload_in_sim || !preload.ready)
		return REAL(shm_open)(name, oflag, mode);
	err = shm_path(name, path, sizeof(path));
	if (err) {
		errno = -err;
		return -1;
	}
	return preload_shmem_open(path, oflag | O_NOFOLLOW | O_CLOEXEC);
}

static int sim_unlink(const char *path)
{
	int ret, err;

	preload_mm_enter();
	ret = (int)preload_sim(&(struct preload_call){
		.fn = unlink_fn, .buf = (void *)path, .in_len = strlen(path) + 1 });
	err = errno;
	preload_mm_exit();
	preload_trace("unlink %s = %d", path, ret);
	errno = err;
	return ret;
}

int shm_unlink(const char *name)
{
	char path[PATH_MAX];
	int err;

	if (preload_in_sim || !preload.ready)
		return REAL(shm_unlink)(name);
	err = shm_path(name, path, sizeof(path));
	if (err) {
		errno = -err;
		return -1;
	}
	return sim_unlink(path);
}

int unlink(const char *path)
{
	if (!preload.ready || !preload_shmem_path(path))
		return REAL(unlink)(path);
	return sim_unlink(path);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	if (!preload.ready || !preload_shmem_path(path) || (flags & AT_REMOVEDIR))
		return REAL(unlinkat)(dirfd, path, flags);
	return sim_unlink(path);
}

/* ftruncate(2)/fallocate(2) of a shared memory fd: the simulated file's. */
static int sim_ftruncate(int pfd, off_t len)
{
	int ret;

	preload_mm_enter();
	ret = (int)preload_sim(&(struct preload_call){
		.fn = ftruncate_fn, .a = { (uint64_t)pfd, (uint64_t)len } });
	preload_mm_exit();
	return ret;
}

int ftruncate(int fd, off_t len)
{
	int pfd = preload_shmem_pfd(fd), ret;

	/* do_ftruncate(): not a regular file (VFIO's anon inodes) is -EINVAL. */
	if (preload_vfio_fd(fd)) {
		errno = EINVAL;
		return -1;
	}
	if (pfd < 0)
		return REAL(ftruncate)(fd, len);
	ret = sim_ftruncate(pfd, len);
	preload_trace("ftruncate %d %#llx = %d", fd, (unsigned long long)len, ret);
	return ret;
}

int ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

static int sim_fallocate(int pfd, int mode, off_t off, off_t len)
{
	int ret;

	preload_mm_enter();
	ret = (int)preload_sim(&(struct preload_call){
		.fn = fallocate_fn,
		.a = { (uint64_t)pfd, (uint64_t)mode, (uint64_t)off, (uint64_t)len } });
	preload_mm_exit();
	return ret;
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	int pfd = preload_shmem_pfd(fd), ret;

	if (pfd < 0)
		return REAL(fallocate)(fd, mode, off, len);
	ret = sim_fallocate(pfd, mode, off, len);
	preload_trace("fallocate %d mode %#x %#llx+%#llx = %d", fd, mode,
		      (unsigned long long)off, (unsigned long long)len, ret);
	return ret;
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}

/* posix_fallocate(3): fallocate(mode 0), the error returned, not in errno. */
int posix_fallocate(int fd, off_t off, off_t len)
{
	int pfd = preload_shmem_pfd(fd), saved = errno, ret;

	if (pfd < 0)
		return REAL(posix_fallocate)(fd, off, len);
	ret = sim_fallocate(pfd, 0, off, len) ? errno : 0;
	errno = saved;
	return ret;
}

int posix_fallocate64(int fd, off_t off, off_t len)
{
	return posix_fallocate(fd, off, len);
}

void preload_shmem_map_dma_failed(const void *arg, int err)
{
	const struct vfio_iommu_type1_dma_map *map = arg;

	if (err != EFAULT || !map || !map->size || mirror_covers(map->vaddr, map->size))
		return;
	preload_count_not_modelled("MAP_DMA of host file memory", 0, EFAULT);
	preload_trace("MAP_DMA vaddr %#llx+%#llx: not mirrored (a host file mapping?): EFAULT, "
		      "not modelled",
		      (unsigned long long)map->vaddr, (unsigned long long)map->size);
}

/*
 * mkstemp(3) and mkostemp(3) of a template in a simulated mount: QEMU's
 * -mem-path DIR makes its backing file so (file_ram_open()), and glibc
 * opens it with its internal open, which the interposed open() never
 * sees.  The same contract: the trailing "XXXXXX" replaced, O_RDWR |
 * O_CREAT | O_EXCL, 0600, EINVAL for a bad template, EEXIST after the
 * tries run out.
 */
static int shmem_mkostemp(char *tmpl, int flags)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static _Atomic uint64_t seq;
	size_t n = strlen(tmpl);
	char *x = tmpl + n - 6;
	int fd;

	if (n < 6 || strcmp(x, "XXXXXX")) {
		errno = EINVAL;
		return -1;
	}
	for (int tries = 0; tries < 100; tries++) {
		uint64_t v = ((uint64_t)getpid() << 32) ^ atomic_fetch_add(&seq, 1) * 0x9e3779b97f4a7c15ULL;

		for (int i = 0; i < 6; i++, v /= 62)
			x[i] = chars[v % 62];
		fd = preload_shmem_open(tmpl, (flags & ~O_ACCMODE) | O_RDWR | O_CREAT | O_EXCL);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	memcpy(x, "XXXXXX", 6);
	errno = EEXIST;
	return -1;
}

int mkostemp(char *tmpl, int flags)
{
	if (!preload.ready || !preload_shmem_path(tmpl))
		return REAL(mkostemp)(tmpl, flags);
	return shmem_mkostemp(tmpl, flags);
}

int mkostemp64(char *tmpl, int flags)
{
	if (!preload.ready || !preload_shmem_path(tmpl))
		return REAL(mkostemp64)(tmpl, flags);
	return shmem_mkostemp(tmpl, flags);
}

int mkstemp(char *tmpl)
{
	if (!preload.ready || !preload_shmem_path(tmpl))
		return REAL(mkstemp)(tmpl);
	return shmem_mkostemp(tmpl, 0);
}

int mkstemp64(char *tmpl)
{
	if (!preload.ready || !preload_shmem_path(tmpl))
		return REAL(mkstemp64)(tmpl);
	return shmem_mkostemp(tmpl, 0);
}
