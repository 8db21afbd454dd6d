// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shared memory files (mm/shmem.c), trimmed to what mapping, pinning and
 * truncating shared memory need (issue 12), and the names of /dev/shm and
 * the hugetlbfs mounts (fs/namei.c, only as deep as one directory).
 *
 * The page cache (i_pages) is a two-level table of folio pointers by page
 * index: SHMEM_CHUNK slots per chunk, chunks allocated on first use, so a
 * 1 TiB file costs 512K pointers at most.  The cache holds one reference
 * per folio (filemap_add_folio()); each mapping PTE one more; a pin its
 * own.  Truncation puts the cache's reference and zaps the mappings, so a
 * page a device still has pinned lives on until the unpin.
 *
 * Left out, and why:
 *  - swap, writeback, LRU, shmem_inode_info's accounting (no swap exists:
 *    every folio stays in memory while the cache holds it);
 *  - large folios in shmem (shmem_enabled=never, the default: every shmem
 *    fault is order 0, so no shmem THP and no PMD mappings of shmem);
 *  - seals beyond F_SEAL_SEAL (memfd_create() without MFD_ALLOW_SEALING);
 *  - the page lock: the inode's lock stands for it, held by shmem_fault()
 *    until the core has mapped the page (vm_ops->folio_unlock), which is
 *    what keeps a fault from mapping a page truncation is removing
 *    (the kernel's folio lock + the i_size re-check in shmem_get_folio_gfp()).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_inject.h"
#include "machine.h"
#include "mm.h"
#include "pgtable.h"
#include "shmem.h"

/* ---------------- the mounts' names ---------------- */

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shmem_inode *names;

static const struct {
	const char *dir;
	size_t len;
} mounts[] = {
	[SHMEM_MNT_SHM] = { "/dev/shm/", 9 },
	[SHMEM_MNT_HUGE_2M] = { "/dev/hugepages/", 15 },
	[SHMEM_MNT_HUGE_1G] = { "/dev/hugepages1G/", 17 },
};

/* The mount @path is in and its last component, or SHMEM_MNT_NONE. */
static enum shmem_mount path_mount(const char *path, const char **name)
{
	for (int i = 0; i < (int)(sizeof(mounts) / sizeof(mounts[0])); i++) {
		if (strncmp(path, mounts[i].dir, mounts[i].len))
			continue;
		*name = path + mounts[i].len;
		return (enum shmem_mount)i;
	}
	return SHMEM_MNT_NONE;
}

bool shmem_path_is_mounted(const char *path)
{
	const char *name;

	return path && path_mount(path, &name) != SHMEM_MNT_NONE;
}

static struct hstate *mount_hstate(enum shmem_mount mnt)
{
	if (mnt == SHMEM_MNT_HUGE_2M)
		return size_to_hstate(PMD_SIZE);
	if (mnt == SHMEM_MNT_HUGE_1G)
		return size_to_hstate(PUD_SIZE);
	return NULL;
}

/* names_lock held. */
static struct shmem_inode *name_lookup(enum shmem_mount mnt, const char *name)
{
	for (struct shmem_inode *i = names; i; i = i->ns_next)
		if (i->owner == machine && i->mnt == mnt && !strcmp(i->name, name))
			return i;
	return NULL;
}

static void name_unlink(struct shmem_inode *inode)
{
	struct shmem_inode **pp;

	for (pp = &names; *pp; pp = &(*pp)->ns_next) {
		if (*pp == inode) {
			*pp = inode->ns_next;
			break;
		}
	}
	inode->nlink = false;
}

/* ---------------- inodes and the page cache ---------------- */

struct folio **shmem_pcache_slot(struct shmem_inode *inode, unsigned long index, bool alloc)
{
	unsigned long c = index / SHMEM_CHUNK;

	if (c >= inode->nr_chunks) {
		struct folio ***n;

		if (!alloc)
			return NULL;
		n = realloc(inode->chunks, (c + 1) * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + inode->nr_chunks, 0, (c + 1 - inode->nr_chunks) * sizeof(*n));
		inode->chunks = n;
		inode->nr_chunks = c + 1;
	}
	if (!inode->chunks[c]) {
		if (!alloc)
			return NULL;
		inode->chunks[c] = sim_kzalloc(SHMEM_CHUNK * sizeof(struct folio *));
		if (!inode->chunks[c])
			return NULL;
	}
	return &inode->chunks[c][index % SHMEM_CHUNK];
}

static struct shmem_inode *shmem_get_inode(const char *name, struct hstate *h)
{
	struct shmem_inode *inode = sim_kzalloc(sizeof(*inode));

	if (!inode)
		return NULL;
	pthread_mutex_init(&inode->lock, NULL);
	init_rwsem(&inode->mapping.i_mmap_rwsem, "i_mmap_rwsem");
	snprintf(inode->name, sizeof(inode->name), "%s", name);
	inode->h = h;
	inode->mnt = SHMEM_MNT_NONE;
	inode->owner = machine;
	atomic_init(&inode->i_count, 1);
	return inode;
}

/*
 * shmem_undo_range() / truncate_inode_pages_range() for shmem: every folio
 * from @start on leaves the cache and its reference goes.  i_lock held.
 */
static void shmem_remove_pages(struct shmem_inode *inode, unsigned long start)
{
	for (unsigned long c = start / SHMEM_CHUNK; c < inode->nr_chunks; c++) {
		if (!inode->chunks[c])
			continue;
		for (unsigned long s = 0; s < SHMEM_CHUNK; s++) {
			struct folio *folio = inode->chunks[c][s];

			if (c * SHMEM_CHUNK + s < start || !folio)
				continue;
			inode->chunks[c][s] = NULL;
			inode->nr_folios--;
			folio_put(folio);
		}
	}
}

/* evict(): shmem_evict_inode() / hugetlbfs_evict_inode(). */
static void shmem_evict_inode(struct shmem_inode *inode)
{
	pthread_mutex_lock(&inode->lock);
	if (inode->h)
		hugetlbfs_remove_pages(inode, 0, ~0UL);
	else
		shmem_remove_pages(inode, 0);
	pthread_mutex_unlock(&inode->lock);
	for (unsigned long c = 0; c < inode->nr_chunks; c++)
		free(inode->chunks[c]);
	free(inode->chunks);
	pthread_mutex_destroy(&inode->lock);
	free(inode);
}

static void iput(struct shmem_inode *inode)
{
	if (atomic_fetch_sub(&inode->i_count, 1) == 1)
		shmem_evict_inode(inode);
}

/* ---------------- files ---------------- */

static int shmem_mmap(struct file *file, struct vm_area_struct *vma);

static const struct file_operations shmem_file_operations = {
	.mmap = shmem_mmap,
	.release = shmem_release,
};

bool file_is_shmem(const struct file *file)
{
	return file && (file->f_op == &shmem_file_operations ||
			file->f_op == &hugetlbfs_file_operations);
}

struct hstate *hugetlbfs_file_hstate(const struct file *file)
{
	if (!file || file->f_op != &hugetlbfs_file_operations)
		return NULL;
	return ((const struct shmem_file *)file)->inode->h;
}

/* alloc_file_pseudo(): a file on @inode, taking over the caller's inode reference. */
static struct file *shmem_alloc_file(struct shmem_inode *inode, int f_flags)
{
	struct shmem_file *sf = sim_kzalloc(sizeof(*sf));

	if (!sf)
		return NULL;
	sf->file.f_op = inode->h ? &hugetlbfs_file_operations : &shmem_file_operations;
	sf->file.f_mapping = &inode->mapping;
	sf->file.private_data = inode;
	atomic_init(&sf->file.f_count, 1);
	sf->inode = inode;
	sf->f_flags = f_flags;
	return &sf->file;
}

/* __fput() -> ->release, and the file's inode reference (dput/iput). */
int shmem_release(struct file *file)
{
	struct shmem_file *sf = (struct shmem_file *)file;

	iput(sf->inode);
	free(sf);
	return 0;
}

struct file *shmem_new_file(const char *name, uint64_t size, struct hstate *h, int *err)
{
	struct shmem_inode *inode;
	struct file *file;

	/* shmem_file_setup(): MAX_LFS_FILESIZE; hugetlb: whole pages. */
	if ((int64_t)size < 0 || (h && (size & (huge_page_size(h) - 1)))) {
		*err = -EINVAL;
		return NULL;
	}
	inode = shmem_get_inode(name, h);
	if (!inode) {
		*err = -ENOMEM;
		return NULL;
	}
	inode->i_size = size;
	file = shmem_alloc_file(inode, O_RDWR);
	if (!file) {
		iput(inode);
		*err = -ENOMEM;
	}
	return file;
}

int shmem_open_path(const char *path, int oflags, struct file **filep)
{
	struct shmem_inode *inode;
	enum shmem_mount mnt;
	const char *name;
	struct file *file;
	int err = 0;

	mnt = path ? path_mount(path, &name) : SHMEM_MNT_NONE;
	if (mnt == SHMEM_MNT_NONE)
		return -ENOENT;
	/* One directory level: no subdirectories exist in the mounts. */
	if (!*name || strchr(name, '/'))
		return *name ? -ENOENT : -EISDIR;
	if (strlen(name) >= SHMEM_NAME_MAX)
		return -ENAMETOOLONG;
	if ((mnt == SHMEM_MNT_HUGE_1G || mnt == SHMEM_MNT_HUGE_2M) && !mount_hstate(mnt))
		return -ENOENT;

	pthread_mutex_lock(&names_lock);
	inode = name_lookup(mnt, name);
	if (inode && (oflags & O_CREAT) && (oflags & O_EXCL)) {
		err = -EEXIST;
		goto out;
	}
	if (!inode) {
		if (!(oflags & O_CREAT)) {
			err = -ENOENT;
			goto out;
		}
		inode = shmem_get_inode(name, mount_hstate(mnt));
		if (!inode) {
			err = -ENOMEM;
			goto out;
		}
		/* The name's reference is the one shmem_get_inode() made. */
		inode->mnt = mnt;
		inode->nlink = true;
		inode->ns_next = names;
		names = inode;
	}
	atomic_fetch_add(&inode->i_count, 1);
	file = shmem_alloc_file(inode, oflags);
	if (!file) {
		atomic_fetch_sub(&inode->i_count, 1);	/* the name still holds it */
		err = -ENOMEM;
		goto out;
	}
	pthread_mutex_unlock(&names_lock);
	/* do_truncate() of O_TRUNC, for a writable open. */
	if ((oflags & O_TRUNC) && (oflags & O_ACCMODE) != O_RDONLY)
		shmem_file_truncate(file, 0);
	*filep = file;
	return 0;
out:
	pthread_mutex_unlock(&names_lock);
	return err;
}

int shmem_unlink_path(const char *path)
{
	struct shmem_inode *inode;
	enum shmem_mount mnt;
	const char *name;

	mnt = path ? path_mount(path, &name) : SHMEM_MNT_NONE;
	if (mnt == SHMEM_MNT_NONE)
		return -ENOENT;
	pthread_mutex_lock(&names_lock);
	inode = name_lookup(mnt, name);
	if (inode)
		name_unlink(inode);
	pthread_mutex_unlock(&names_lock);
	if (!inode)
		return -ENOENT;
	iput(inode);		/* the name's reference: drop_nlink() */
	return 0;
}

void shmem_names_release(void)
{
	for (;;) {
		struct shmem_inode *inode;

		pthread_mutex_lock(&names_lock);
		for (inode = names; inode && inode->owner != machine; inode = inode->ns_next)
			;
		if (inode)
			name_unlink(inode);
		pthread_mutex_unlock(&names_lock);
		if (!inode)
			return;
		iput(inode);
	}
}

/* ---------------- faults ---------------- */

static void shmem_folio_unlock(struct vm_fault *vmf)
{
	struct shmem_inode *inode = file_shmem_inode(vmf->vma->vm_file);

	pthread_mutex_unlock(&inode->lock);
}

/*
 * shmem_fault() -> shmem_get_folio_gfp(SGP_CACHE): the folio at the
 * faulting index, allocated zeroed and added to the cache if there is none
 * (shmem_alloc_and_add_folio()), returned with a reference for the
 * mapping and "locked" (the inode's lock, released by shmem_folio_unlock()
 * once the core has mapped it).  An index at or past i_size is SIGBUS.
 * No swap, so never VM_FAULT_MAJOR; no huge page (shmem_enabled=never).
 */
static vm_fault_t shmem_fault(struct vm_fault *vmf)
{
	struct shmem_inode *inode = file_shmem_inode(vmf->vma->vm_file);
	struct folio **slot, *folio;

	pthread_mutex_lock(&inode->lock);
	if (vmf->pgoff >= (inode->i_size + PAGE_SIZE - 1) >> PAGE_SHIFT)
		goto sigbus;
	slot = shmem_pcache_slot(inode, vmf->pgoff, true);
	if (!slot)
		goto oom;
	folio = *slot;
	if (!folio) {
		folio = folio_alloc(0, PGTY_shmem);
		if (!folio)
			goto oom;
		*slot = folio;		/* the cache's reference */
		inode->nr_folios++;
	}
	folio_get(folio);		/* the mapping's */
	vmf->page = &folio->page;
	return VM_FAULT_LOCKED;
sigbus:
	pthread_mutex_unlock(&inode->lock);
	return VM_FAULT_SIGBUS;
oom:
	pthread_mutex_unlock(&inode->lock);
	return VM_FAULT_OOM;
}

static const struct vm_operations_struct shmem_vm_ops = {
	.fault = shmem_fault,
	.folio_unlock = shmem_folio_unlock,
	.name = "shmem",
};

/*
 * shmem_mmap(): file_accessed() and the vm_ops.  do_mmap()'s
 * "MAP_SHARED with PROT_WRITE needs FMODE_WRITE" (-EACCES) is checked here,
 * where the open flags are known; and F_SEAL_WRITE does not exist here.
 */
static int shmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct shmem_file *sf = (struct shmem_file *)file;

	if ((vma->vm_flags & VM_SHARED) && (vma->vm_flags & VM_WRITE) &&
	    (sf->f_flags & O_ACCMODE) == O_RDONLY)
		return -EACCES;
	vma->vm_ops = &shmem_vm_ops;
	return 0;
}

int shmem_zero_setup(struct vm_area_struct *vma)
{
	uint64_t size = vma->vm_end - vma->vm_start;
	struct file *file;
	int err;

	file = shmem_new_file("dev/zero", size, NULL, &err);
	if (!file)
		return err;
	/* The VMA's reference is the file's first (fput() at remove_vma()). */
	vma->vm_file = file;
	vma->vm_pgoff = 0;
	vma->vm_ops = &shmem_vm_ops;
	return 0;
}

/* ---------------- size ---------------- */

/*
 * truncate_inode_partial_folio()'s part that matters here: the bytes of
 * the last page past the new size read as zero.
 */
static void shmem_zero_tail(struct shmem_inode *inode, uint64_t size)
{
	struct folio **slot;

	if (!(size & ~PAGE_MASK))
		return;
	slot = shmem_pcache_slot(inode, size >> PAGE_SHIFT, false);
	if (slot && *slot)
		memset((char *)page_address(&(*slot)->page) + (size & ~PAGE_MASK), 0,
		       PAGE_SIZE - (size & ~PAGE_MASK));
}

/*
 * shmem_setattr(ATTR_SIZE): the new size, and for a shrink
 * unmap_mapping_range(even_cows) of what lies past it in every mapping,
 * then shmem_truncate_range() (the cache's references go: a pinned page
 * keeps its pin's), then the second unmap_mapping_range() the kernel makes
 * for COWs that raced in (none can here: the inode lock excludes faults).
 */
static int shmem_setattr_size(struct shmem_inode *inode, uint64_t size)
{
	uint64_t old;

	pthread_mutex_lock(&inode->lock);
	old = inode->i_size;
	inode->i_size = size;
	if (size < old) {
		uint64_t holebegin = (size + PAGE_SIZE - 1) & PAGE_MASK;

		if (old > holebegin)
			unmap_mapping_range(&inode->mapping, holebegin, 0, true);
		shmem_zero_tail(inode, size);
		shmem_remove_pages(inode, holebegin >> PAGE_SHIFT);
	}
	pthread_mutex_unlock(&inode->lock);
	return 0;
}

/* do_sys_ftruncate() checks, then ->setattr. */
int shmem_file_truncate(struct file *file, int64_t length)
{
	struct shmem_file *sf = (struct shmem_file *)file;
	struct shmem_inode *inode = sf->inode;

	if (length < 0)
		return -EINVAL;
	if ((sf->f_flags & O_ACCMODE) == O_RDONLY)
		return -EINVAL;		/* !(f.file->f_mode & FMODE_WRITE) */
	if (inode->h) {
		/* hugetlbfs_setattr(): the size must be whole huge pages. */
		if (length & (huge_page_size(inode->h) - 1))
			return -EINVAL;
		return hugetlbfs_setattr_size(inode, (uint64_t)length);
	}
	return shmem_setattr_size(inode, (uint64_t)length);
}

/*
 * shmem_fallocate(): mode 0 or FALLOC_FL_KEEP_SIZE allocates the pages of
 * [offset, offset + len) (growing i_size unless KEEP_SIZE);
 * FALLOC_FL_PUNCH_HOLE|KEEP_SIZE unmaps and frees whole pages inside the
 * range (the partial ends are zeroed).  hugetlbfs_fallocate() likewise in
 * huge pages (sim/hugetlbfs.c).
 */
int shmem_file_fallocate(struct file *file, int mode, int64_t offset, int64_t len)
{
	struct shmem_file *sf = (struct shmem_file *)file;
	struct shmem_inode *inode = sf->inode;
	uint64_t end, first, last;
	int err = 0;

	if (offset < 0 || len <= 0)
		return -EINVAL;
	if ((sf->f_flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (__builtin_add_overflow((uint64_t)offset, (uint64_t)len, &end) || (int64_t)end < 0)
		return -EFBIG;
	if (inode->h)
		return hugetlbfs_fallocate(inode, mode, (uint64_t)offset, end);

	pthread_mutex_lock(&inode->lock);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		first = ((uint64_t)offset + PAGE_SIZE - 1) >> PAGE_SHIFT;
		last = end >> PAGE_SHIFT;	/* exclusive */
		if (last > first) {
			unmap_mapping_range(&inode->mapping, first << PAGE_SHIFT,
					    (last - first) << PAGE_SHIFT, false);
			for (uint64_t i = first; i < last; i++) {
				struct folio **slot = shmem_pcache_slot(inode, i, false);

				if (slot && *slot) {
					folio_put(*slot);
					*slot = NULL;
					inode->nr_folios--;
				}
			}
		}
		goto out;
	}
	for (uint64_t i = (uint64_t)offset >> PAGE_SHIFT; i < (end + PAGE_SIZE - 1) >> PAGE_SHIFT;
	     i++) {
		struct folio **slot = shmem_pcache_slot(inode, i, true);

		if (!slot) {
			err = -ENOMEM;
			break;
		}
		if (*slot)
			continue;
		*slot = folio_alloc(0, PGTY_shmem);
		if (!*slot) {
			err = -ENOSPC;	/* shmem_get_folio(SGP_FALLOC) without memory */
			break;
		}
		inode->nr_folios++;
	}
	/*
	 * The kernel undoes the pages this call allocated on failure; here
	 * they stay in the cache (freed at truncation or eviction).
	 */
	if (!err && !(mode & FALLOC_FL_KEEP_SIZE) && end > inode->i_size)
		inode->i_size = end;
out:
	pthread_mutex_unlock(&inode->lock);
	return err;
}

/* The d_path numa_maps prints for a mapping of @file. */
const char *shmem_file_path(struct file *file, char *buf, size_t len)
{
	struct shmem_inode *inode = file_shmem_inode(file);

	if (!inode)
		return NULL;
	if (inode->mnt == SHMEM_MNT_NONE)
		snprintf(buf, len, "/%s (deleted)", inode->name);
	else
		snprintf(buf, len, "%s%s%s", mounts[inode->mnt].dir, inode->name,
			 inode->nlink ? "" : " (deleted)");
	return buf;
}
