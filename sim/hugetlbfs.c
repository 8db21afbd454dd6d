// SPDX-License-Identifier: GPL-2.0-only
/*
 * hugetlbfs files (fs/hugetlbfs/inode.c) over the shmem inode of
 * sim/shmem.h: the page cache holds pool folios (PGTY_hugetlb) by huge
 * page index, so every shared mapping of the file, in any process, maps
 * the same folios (hugetlb_no_page() for VM_MAYSHARE adds to or finds in
 * the cache: hugetlbfs_fault_folio() below, called by sim/hugetlb.c).
 *
 * Reservations follow the kernel's split: a shared mapping reserves in
 * the inode's resv_map (hugetlb_reserve_pages() with VM_MAYSHARE:
 * region_chg() counts the indexes not reserved yet), modelled by a marker
 * in the page-cache slot (HUGETLB_RESV_SLOT) that a fault turns into the
 * folio, consuming the reservation; truncation and eviction give back the
 * markers left (hugetlb_unreserve_pages() of region_del() - freed).  A
 * private mapping reserves for itself (vma->hugetlb_resv, sim/hugetlb.c).
 *
 * Left out: subpools (size=/min_size= mount options), quota, the
 * hugetlb_fault_mutex table (the inode's lock stands for it, taken by
 * hugetlb_fault() before the page-table lock), PMD sharing.
 */
#include <errno.h>
#include <linux/falloc.h>
#include <string.h>

#include "machine.h"
#include "mm.h"
#include "pgtable.h"
#include "shmem.h"

static unsigned int huge_shift(const struct hstate *h)
{
	return PAGE_SHIFT + h->order;
}

void hugetlbfs_remove_pages(struct shmem_inode *inode, unsigned long start, unsigned long end)
{
	long unreserve = 0;

	for (unsigned long c = start / SHMEM_CHUNK; c < inode->nr_chunks; c++) {
		if (!inode->chunks[c])
			continue;
		for (unsigned long s = 0; s < SHMEM_CHUNK; s++) {
			unsigned long idx = c * SHMEM_CHUNK + s;
			struct folio *folio = inode->chunks[c][s];

			if (idx < start || idx >= end || !folio)
				continue;
			inode->chunks[c][s] = NULL;
			if (folio == HUGETLB_RESV_SLOT) {
				unreserve++;
				continue;
			}
			inode->nr_folios--;
			/* A pinned folio goes back to the pool at its unpin. */
			folio_put(folio);
		}
	}
	if (unreserve)
		hugetlb_unreserve_pages(inode->h, unreserve);
}

/*
 * hugetlb_vmtruncate(): the new size, hugetlb_vmdelete_list() (every
 * mapping's leaves past it, private COW copies included), then
 * remove_inode_hugepages().
 */
int hugetlbfs_setattr_size(struct shmem_inode *inode, uint64_t size)
{
	pthread_mutex_lock(&inode->lock);
	if (size < inode->i_size) {
		unmap_mapping_range(&inode->mapping, size, 0, true);
		hugetlbfs_remove_pages(inode, size >> huge_shift(inode->h), ~0UL);
	}
	inode->i_size = size;
	pthread_mutex_unlock(&inode->lock);
	return 0;
}

/*
 * hugetlbfs_fallocate(): PUNCH_HOLE (hugetlbfs_punch_hole()) frees the
 * whole huge pages inside the range; otherwise every page of the range is
 * allocated into the cache (consuming a reservation where one is), -ENOSPC
 * when the pool is dry.
 */
int hugetlbfs_fallocate(struct shmem_inode *inode, int mode, uint64_t offset, uint64_t end)
{
	unsigned int shift = huge_shift(inode->h);
	uint64_t sz = huge_page_size(inode->h);
	int err = 0;

	pthread_mutex_lock(&inode->lock);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		uint64_t hs = (offset + sz - 1) & ~(sz - 1), he = end & ~(sz - 1);

		if (hs < he) {
			unmap_mapping_range(&inode->mapping, hs, he - hs, false);
			hugetlbfs_remove_pages(inode, hs >> shift, he >> shift);
		}
		goto out;
	}
	for (uint64_t idx = offset >> shift; idx < (end + sz - 1) >> shift; idx++) {
		struct folio **slot = shmem_pcache_slot(inode, idx, true);
		struct folio *folio;

		if (!slot) {
			err = -ENOMEM;
			break;
		}
		if (*slot && *slot != HUGETLB_RESV_SLOT)
			continue;
		folio = alloc_hugetlb_folio(inode->h, *slot == HUGETLB_RESV_SLOT);
		if (!folio) {
			err = -ENOSPC;
			break;
		}
		*slot = folio;
		inode->nr_folios++;
	}
	if (!err && !(mode & FALLOC_FL_KEEP_SIZE) && end > inode->i_size)
		inode->i_size = end;
out:
	pthread_mutex_unlock(&inode->lock);
	return err;
}

/*
 * hugetlb_reserve_pages(inode, from, to, vma, vm_flags), i_lock held:
 * VM_NORESERVE reserves nothing; a shared mapping reserves the indexes of
 * [from, to) that have neither a reservation nor a page yet, a private one
 * to - from pages for the VMA.  -ENOMEM when the pool cannot cover them.
 */
static int hugetlbfs_reserve(struct shmem_inode *inode, struct vm_area_struct *vma,
			     unsigned long from, unsigned long to)
{
	long chg = 0;
	int err;

	if (vma->vm_flags & VM_NORESERVE)
		return 0;
	if (!(vma->vm_flags & VM_MAYSHARE)) {
		err = hugetlb_reserve_pages(inode->h, (long)(to - from));
		if (!err)
			vma->hugetlb_resv = (long)(to - from);
		return err;
	}
	for (unsigned long idx = from; idx < to; idx++) {
		struct folio **slot = shmem_pcache_slot(inode, idx, true);

		if (!slot)
			return -ENOMEM;
		if (!*slot)
			chg++;
	}
	err = hugetlb_reserve_pages(inode->h, chg);
	if (err)
		return err;
	for (unsigned long idx = from; idx < to; idx++) {
		struct folio **slot = shmem_pcache_slot(inode, idx, false);

		if (!*slot)
			*slot = HUGETLB_RESV_SLOT;
	}
	return 0;
}

/* hugetlb_vm_ops: the core never calls ->fault of a hugetlb VMA. */
static const struct vm_operations_struct hugetlb_vm_ops = {
	.name = "hugetlb",
};

/*
 * hugetlbfs_file_mmap(): VM_HUGETLB|VM_DONTEXPAND (do_mmap() set them with
 * the hstate), a pgoff that is whole huge pages (-EINVAL), the
 * reservations, and i_size grown to the end of a writable mapping.
 */
static int hugetlbfs_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct shmem_inode *inode = file_shmem_inode(file);
	struct hstate *h = inode->h;
	unsigned long pages_per = 1UL << h->order;
	uint64_t len;
	int err;

	if (vma->vm_pgoff & (pages_per - 1))
		return -EINVAL;
	if ((vma->vm_flags & VM_SHARED) && (vma->vm_flags & VM_WRITE) &&
	    (((struct shmem_file *)file)->f_flags & 3) == 0 /* O_RDONLY */)
		return -EACCES;
	len = (uint64_t)(vma->vm_end - vma->vm_start) + ((uint64_t)vma->vm_pgoff << PAGE_SHIFT);
	vma->vm_flags |= VM_HUGETLB | VM_DONTEXPAND;
	vma->vm_hstate = h;
	vma->vm_ops = &hugetlb_vm_ops;
	pthread_mutex_lock(&inode->lock);
	err = hugetlbfs_reserve(inode, vma, vma->vm_pgoff >> h->order, len >> huge_shift(h));
	if (!err && (vma->vm_flags & VM_WRITE) && inode->i_size < len)
		inode->i_size = len;
	pthread_mutex_unlock(&inode->lock);
	return err;
}

const struct file_operations hugetlbfs_file_operations = {
	.mmap = hugetlbfs_file_mmap,
	.release = shmem_release,	/* the inode reference, as shmem's */
};

struct folio *hugetlbfs_fault_folio(struct vm_area_struct *vma, unsigned long idx,
				    bool *in_cache, vm_fault_t *ret)
{
	struct shmem_inode *inode = file_shmem_inode(vma->vm_file);
	bool shared = vma->vm_flags & VM_MAYSHARE;
	struct folio **slot, *folio;

	*in_cache = false;
	/* hugetlb_no_page(): past i_size is SIGBUS. */
	if (idx >= inode->i_size >> huge_shift(inode->h)) {
		*ret = VM_FAULT_SIGBUS;
		return NULL;
	}
	slot = shmem_pcache_slot(inode, idx, shared);
	if (slot && *slot && *slot != HUGETLB_RESV_SLOT) {
		folio = *slot;
		folio_get(folio);	/* the mapping's */
		*in_cache = true;
		return folio;
	}
	if (!shared)
		return NULL;	/* private, not cached: an anonymous page */
	if (!slot) {
		*ret = VM_FAULT_OOM;
		return NULL;
	}
	/* alloc_hugetlb_folio(); -ENOSPC is VM_FAULT_SIGBUS (vmf_error()). */
	folio = alloc_hugetlb_folio(inode->h, *slot == HUGETLB_RESV_SLOT);
	if (!folio) {
		*ret = VM_FAULT_SIGBUS;
		return NULL;
	}
	*slot = folio;			/* hugetlb_add_to_page_cache(): the cache's */
	inode->nr_folios++;
	folio_get(folio);		/* the mapping's */
	*in_cache = true;
	return folio;
}
