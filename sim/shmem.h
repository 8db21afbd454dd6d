/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal page cache for shared memory (issue 12): shmem files
 * (mm/shmem.c: MAP_SHARED|MAP_ANONYMOUS, memfd_create(), /dev/shm) and
 * hugetlbfs files (fs/hugetlbfs/inode.c: /dev/hugepages*, MFD_HUGETLB,
 * MAP_SHARED|MAP_HUGETLB), in sim/shmem.c and sim/hugetlbfs.c.
 *
 * One struct shmem_inode per file system object, with the address_space
 * every VMA mapping it is linked on (i_mmap) and the folios of its page
 * cache by index (i_pages): order-0 PGTY_shmem folios for shmem, pool
 * folios (PGTY_hugetlb) for hugetlbfs, indexed in huge pages there.  Open
 * files (struct shmem_file) hold the inode; VMAs hold a file; a name in
 * /dev/shm or a hugetlbfs mount holds the inode too (i_nlink).  The last
 * reference evicts the inode, which truncates its page cache: every page
 * goes back unless a pin still holds it (and then at the unpin).
 */
#ifndef SIM_SHMEM_H
#define SIM_SHMEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm_types.h"

#define SHMEM_NAME_MAX 256

/*
 * The mount points a name may live in, as the kernel's super blocks:
 * /dev/shm (tmpfs), /dev/hugepages (hugetlbfs, 2M) and /dev/hugepages1G
 * (hugetlbfs, pagesize=1G; preload/sysfs.c reports the same mounts).
 */
enum shmem_mount {
	SHMEM_MNT_NONE = -1,	/* unlinked: shmem_file_setup(), memfd */
	SHMEM_MNT_SHM = 0,
	SHMEM_MNT_HUGE_2M,
	SHMEM_MNT_HUGE_1G,
};

struct shmem_inode {
	struct address_space mapping;	/* first: mapping -> inode */
	/*
	 * i_rwsem, the i_pages lock and the page lock in one: held across a
	 * fault's lookup and its finish_fault() (see shmem_fault()), and
	 * across a truncation, so a fault cannot map a page the truncation
	 * is taking out of the cache.
	 */
	pthread_mutex_t lock;
	struct folio ***chunks;		/* i_pages: chunks of SHMEM_CHUNK slots */
	unsigned long nr_chunks;
	unsigned long nr_folios;	/* folios in the cache (info->alloced) */
	uint64_t i_size;
	struct hstate *h;		/* hugetlbfs: the page size; NULL: shmem */
	_Atomic long i_count;		/* open files + the name */
	bool nlink;			/* linked in its mount */
	enum shmem_mount mnt;
	char name[SHMEM_NAME_MAX];
	struct machine *owner;		/* the machine whose RAM it holds */
	struct shmem_inode *ns_next;	/* the mounts' names */
};

/* An open file of an inode (f_op shmem/hugetlbfs_file_operations). */
struct shmem_file {
	struct file file;
	struct shmem_inode *inode;
	int f_flags;			/* O_ACCMODE and friends */
};

#define SHMEM_CHUNK 512UL

bool file_is_shmem(const struct file *file);	/* shmem or hugetlbfs */
static inline struct shmem_inode *file_shmem_inode(struct file *file)
{
	return file_is_shmem(file) ? ((struct shmem_file *)file)->inode : NULL;
}

/* is_file_hugepages() + hstate_file(): the page size, or NULL. */
struct hstate *hugetlbfs_file_hstate(const struct file *file);

/* ---- sim/shmem.c ---- */
/* ->release of both kinds: the file's inode reference (iput()). */
int shmem_release(struct file *file);
/*
 * shmem_file_setup() / hugetlb_file_setup(): an unlinked file of @size
 * bytes (a struct file with f_count 1), or NULL with *err.  @h NULL: shmem.
 */
struct file *shmem_new_file(const char *name, uint64_t size, struct hstate *h, int *err);
/*
 * shmem_zero_setup() (mm/shmem.c): a MAP_SHARED|MAP_ANONYMOUS VMA gets a
 * shmem file of its own ("dev/zero") as vm_file, and shmem_vm_ops.
 */
int shmem_zero_setup(struct vm_area_struct *vma);
/*
 * open(2) of a path in one of the mounts: O_CREAT, O_EXCL, O_TRUNC; a new
 * file reference in *filep.  -ENOENT for a path in no mount, as the caller
 * then tries other files.
 */
int shmem_open_path(const char *path, int oflags, struct file **filep);
/* unlink(2) / shm_unlink(3) of a name: 0 or -ENOENT. */
int shmem_unlink_path(const char *path);
/* Is @path in one of the mounts (whether or not it exists)? */
bool shmem_path_is_mounted(const char *path);
/* ftruncate(2): shmem_setattr() / hugetlbfs_setattr(). */
int shmem_file_truncate(struct file *file, int64_t length);
/* fallocate(2): mode 0 / FALLOC_FL_KEEP_SIZE / PUNCH_HOLE|KEEP_SIZE. */
int shmem_file_fallocate(struct file *file, int mode, int64_t offset, int64_t len);
/* The d_path numa_maps prints for a mapping of @file, in @buf; NULL if not shmem. */
const char *shmem_file_path(struct file *file, char *buf, size_t len);
/* The machine is going: drop every name it still has (their inodes go). */
void shmem_names_release(void);

/* i_pages: the slot of @index, allocated on demand if @alloc; NULL if none. */
struct folio **shmem_pcache_slot(struct shmem_inode *inode, unsigned long index, bool alloc);

/* ---- sim/hugetlbfs.c ---- */
extern const struct file_operations hugetlbfs_file_operations;
/*
 * The hugetlbfs reservation marker in a page-cache slot: the inode's
 * resv_map region for that index (a page reserved, not yet faulted).
 */
#define HUGETLB_RESV_SLOT ((struct folio *)1)
/*
 * hugetlb_no_page() for a hugetlbfs VMA: the folio of the page cache at
 * @idx (shared mappings add a new one; private ones map it read-only or
 * take an anonymous page when there is none).  Called by sim/hugetlb.c
 * with the level lock held.
 */
struct folio *hugetlbfs_fault_folio(struct vm_area_struct *vma, unsigned long idx,
				    bool *in_cache, vm_fault_t *ret);
/* remove_inode_hugepages() of [start, end) (huge page indexes), i_lock held. */
void hugetlbfs_remove_pages(struct shmem_inode *inode, unsigned long start, unsigned long end);
/* hugetlbfs_setattr() of a whole-page size; hugetlbfs_fallocate() of [offset, end). */
int hugetlbfs_setattr_size(struct shmem_inode *inode, uint64_t size);
int hugetlbfs_fallocate(struct shmem_inode *inode, int mode, uint64_t offset, uint64_t end);

#endif /* SIM_SHMEM_H */
