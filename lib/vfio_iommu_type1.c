// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO type1 IOMMU backend (drivers/vfio/vfio_iommu_type1.c, ref §1), over
 * the simulated mm and IOMMU.  The checks are the kernel's, in the kernel's
 * order, with its errno.
 *
 * Left out, on purpose:
 *  - mdev/emulated external pinning (vfio_iommu_type1_pin_pages, pfn_list,
 *    vfio_pfn): pfn_list is always empty, so vpfn_pages() is 0 and the
 *    "notify and retry" path of unmap never runs.  Emulated groups can be
 *    attached (no domain), which is what the no-domain MAP and the
 *    UPDATE_VADDR -EBUSY rules need.
 *  - dirty page tracking (§1.14): VFIO_IOMMU_DIRTY_PAGES is not offered,
 *    and GET_DIRTY_BITMAP on unmap fails as "tracking is off" does.
 *  - mmgrab/mmget: the owning mm outlives its containers (the front end
 *    releases containers before the process's mm), so -ESRCH never occurs.
 *  - The vfio_dma rb-tree is a sorted array with binary search: the same
 *    answers; O(n) insertion, which is O(1) for QEMU's ascending layout.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "mutex.h"
#include "sched_point.h"
#include "vfio.h"

#define VFIO_BATCH_MAX_CAPACITY (PAGE_SIZE / sizeof(struct page *))
#define VFIO_IOMMU_TLB_SYNC_MAX 512
#define DIRTY_BITMAP_PAGES_MAX ((uint64_t)INT32_MAX)

struct vfio_type1_config vfio_type1_cfg;

void vfio_type1_config_init(struct vfio_type1_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->follow_pfnmap_recheck = true;
	cfg->follow_pfnmap_enoent = false;
	cfg->addr_mask_batching = true;
	cfg->pin_contig_accounting = true;
	cfg->pin_cond_resched = true;
	cfg->dma_limit_overflow = true;
	cfg->type1_nesting = false;
	cfg->disable_hugepages = false;
	cfg->dma_entry_limit = UINT16_MAX;
	cfg->retry_policy = VFIO_RETRY_LEGACY;
	cfg->retry_bound = 8;
	cfg->iommu_pgsize_bitmap = IOMMU_DEFAULT_PGSIZES;
	cfg->iova_aperture_end = (1ULL << 48) - 1;
}

struct vfio_domain {
	struct iommu_domain *domain;
	int iommu_unit;
	int nr_groups;
	struct vfio_domain *next;
};

struct vfio_iommu_group {
	int group_id;
	struct vfio_domain *domain;	/* NULL: emulated */
	struct vfio_iommu_group *next;
};

struct vfio_iova {
	dma_addr_t start, end;		/* inclusive */
};

struct vfio_dma {
	dma_addr_t iova;
	unsigned long vaddr;
	size_t size;
	int prot;
	bool iommu_mapped;
	bool lock_cap;
	bool vaddr_invalid;
	bool has_rsvd;
	struct task_struct *task;	/* group leader */
	struct mm_struct *mm;
	long locked_vm;
};

/*
 * The kernel gets the batch's page array from __get_free_page(); here it is
 * part of the batch, on the stack of vfio_pin_map_dma()/replay, so that a
 * task ended mid-MAP_DMA (an oops, the scheduler's livelock watchdog)
 * leaks no host memory.  No allocation can fail, so the single-slot
 * fallback is used only when asked for (disable_hugepages, single).
 */
struct vfio_batch {
	struct page **pages;
	struct page *fallback_page;
	int capacity;
	int size;
	int offset;
	struct page *page_array[VFIO_BATCH_MAX_CAPACITY];
};

struct vfio_iommu {
	struct mutex lock;
	struct vfio_domain *domain_list;
	struct vfio_iommu_group *groups;
	struct vfio_iova iova_list[2];	/* aperture minus the x86 MSI window */
	int nr_iovas;
	struct vfio_dma **dmas;		/* sorted by iova */
	unsigned int nr_dmas, dmas_cap;
	unsigned int dma_avail;
	unsigned int vaddr_invalid_count;
	uint64_t pgsize_bitmap;
	int num_emulated_groups;
	bool v2;
	bool dirty_page_tracking;	/* never set: §1.14 not modelled */
	struct vfio_type1_stats stats;
};

/*
 * The pinning statistics of the MAP_DMA (or replay) running on this thread;
 * NULL outside one.  Counting happens per call and per run, never per page.
 */
static __sim_tls struct vfio_pin_stats *pin_stats;
#define STAT_INC(field)                                                     \
	do {                                                                \
		if (pin_stats)                                              \
			pin_stats->field++;                                 \
	} while (0)
#define STAT_ADD(field, n)                                                  \
	do {                                                                \
		if (pin_stats)                                              \
			pin_stats->field += (n);                            \
	} while (0)

/* ---------------- helpers (ref §1.2) ---------------- */

static bool is_invalid_reserved_pfn(unsigned long pfn)
{
	if (!pfn_valid(pfn))
		return true;
	return PageReserved(pfn_to_page(pfn));
}

static int put_pfn(unsigned long pfn, int prot)
{
	if (!is_invalid_reserved_pfn(pfn)) {
		struct page *page = pfn_to_page(pfn);

		unpin_user_pages_dirty_lock(&page, 1, prot & IOMMU_WRITE);
		return 1;
	}
	return 0;
}

static void put_valid_unreserved_pfns(unsigned long start_pfn, unsigned long npage, int prot)
{
	unpin_user_page_range_dirty_lock(pfn_to_page(start_pfn), npage, prot & IOMMU_WRITE);
}

static unsigned long __ffs64(uint64_t x)
{
	return (unsigned long)__builtin_ctzll(x);
}

static uint64_t iommu_pgsize(struct vfio_iommu *iommu)
{
	return 1ULL << __ffs64(iommu->pgsize_bitmap);
}

/* ---------------- the vfio_dma set ---------------- */

/* Index of the first dma whose last byte is >= @iova. */
static unsigned int dma_index(struct vfio_iommu *iommu, dma_addr_t iova)
{
	unsigned int lo = 0, hi = iommu->nr_dmas;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		struct vfio_dma *d = iommu->dmas[mid];

		if (d->iova + d->size - 1 >= iova && d->size)
			hi = mid;
		else if (!d->size && d->iova >= iova)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* vfio_find_dma(): any dma overlapping [start, start + size). */
static struct vfio_dma *vfio_find_dma(struct vfio_iommu *iommu, dma_addr_t start, size_t size)
{
	unsigned int i = dma_index(iommu, start);

	for (; i < iommu->nr_dmas; i++) {
		struct vfio_dma *d = iommu->dmas[i];

		if (d->iova > start + size - 1)
			return NULL;
		if (start + size - 1 >= d->iova && (!d->size || d->iova + d->size - 1 >= start))
			return d;
	}
	return NULL;
}

static int vfio_link_dma(struct vfio_iommu *iommu, struct vfio_dma *new)
{
	unsigned int i;

	if (iommu->nr_dmas == iommu->dmas_cap) {
		unsigned int cap = iommu->dmas_cap ? iommu->dmas_cap * 2 : 64;
		struct vfio_dma **n = realloc(iommu->dmas, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		iommu->dmas = n;
		iommu->dmas_cap = cap;
	}
	/* Insertion point by iova (sizes may still be 0 while pinning). */
	for (i = iommu->nr_dmas; i > 0 && iommu->dmas[i - 1]->iova > new->iova; i--)
		;
	memmove(&iommu->dmas[i + 1], &iommu->dmas[i], (iommu->nr_dmas - i) * sizeof(new));
	iommu->dmas[i] = new;
	iommu->nr_dmas++;
	return 0;
}

static void vfio_unlink_dma(struct vfio_iommu *iommu, struct vfio_dma *old)
{
	unsigned int i;

	for (i = iommu->nr_dmas; i-- > 0;) {
		if (iommu->dmas[i] == old) {
			memmove(&iommu->dmas[i], &iommu->dmas[i + 1],
				(iommu->nr_dmas - i - 1) * sizeof(old));
			iommu->nr_dmas--;
			return;
		}
	}
	WARN_ON(1);
}

/* ---------------- locked_vm accounting ---------------- */

static int mm_lock_acct(struct task_struct *task, struct mm_struct *mm, bool lock_cap, long npage)
{
	int ret = mmap_write_lock_killable(mm);

	if (ret)
		return ret;
	ret = __account_locked_vm(mm, labs(npage), npage > 0, task, lock_cap);
	mmap_write_unlock(mm);
	return ret;
}

static int vfio_lock_acct(struct vfio_dma *dma, long npage, bool async)
{
	int ret;

	if (!npage)
		return 0;
	/* async: mmget_not_zero() would give -ESRCH for an exited mm (not modelled). */
	(void)async;
	ret = mm_lock_acct(dma->task, dma->mm, dma->lock_cap, npage);
	if (!ret)
		dma->locked_vm += npage;
	return ret;
}

/* No externally pinned pages (no mdev): nothing to exclude. */
static long vpfn_pages(struct vfio_dma *dma, dma_addr_t iova, unsigned long npage)
{
	return 0;
}

/* ---------------- batch ---------------- */

static void vfio_batch_init(struct vfio_batch *batch, bool single)
{
	batch->size = 0;
	batch->offset = 0;
	if (single || vfio_type1_cfg.disable_hugepages)
		goto fallback;
	batch->pages = batch->page_array;
	batch->capacity = VFIO_BATCH_MAX_CAPACITY;
	return;
fallback:
	batch->pages = &batch->fallback_page;
	batch->capacity = 1;
}

static void vfio_batch_unpin(struct vfio_batch *batch, struct vfio_dma *dma)
{
	while (batch->size) {
		unsigned long pfn = page_to_pfn(batch->pages[batch->offset]);

		put_pfn(pfn, dma->prot);
		batch->offset++;
		batch->size--;
	}
}

static void vfio_batch_fini(struct vfio_batch *batch)
{
	/* Nothing to free: see struct vfio_batch. */
	batch->size = 0;
}

/* ---------------- follow_fault_pfn and the retry policies ---------------- */

/*
 * What to do when follow_pfnmap_start() still fails after a successful
 * fixup_user_fault() (the seeds/03 debate).  @round counts such failures
 * within one vaddr_get_pfns() call.  -EAGAIN sends vaddr_get_pfns() back to
 * vma_lookup(); anything else is the result.  Only the slow path gets here.
 */
static int retry_legacy(int err, unsigned int round)
{
	return err;
}

static int retry_eagain(int err, unsigned int round)
{
	/* The 2026-03-17 patch: any failure is taken as "zapped, retry". */
	return -EAGAIN;
}

static int retry_bounded(int err, unsigned int round)
{
	return round < __atomic_load_n(&vfio_type1_cfg.retry_bound, __ATOMIC_RELAXED) ? -EAGAIN
										      : -EBUSY;
}

static int retry_enoent(int err, unsigned int round)
{
	/* Only "no present entry" is resolvable by faulting again. */
	if (err != -ENOENT)
		return err;
	cond_resched();
	if (fatal_signal_pending(current))
		return -EINTR;
	return -EAGAIN;
}

static int (*const retry_policies[NR_VFIO_RETRY_POLICIES])(int, unsigned int) = {
	[VFIO_RETRY_LEGACY] = retry_legacy,
	[VFIO_RETRY_EAGAIN] = retry_eagain,
	[VFIO_RETRY_BOUNDED] = retry_bounded,
	[VFIO_RETRY_ENOENT] = retry_enoent,
};

static int follow_fault_pfn(struct vm_area_struct *vma, struct mm_struct *mm,
			    unsigned long vaddr, unsigned long *pfn, unsigned long *addr_mask,
			    bool write_fault, unsigned int *round)
{
	struct follow_pfnmap_args args = { .vma = vma, .address = vaddr };
	int ret;

	ret = follow_pfnmap_start(&args);
	if (ret) {
		bool unlocked = false;

		STAT_INC(follow_failures);
		STAT_INC(faults);
		ret = fixup_user_fault(mm, vaddr,
				       FAULT_FLAG_REMOTE | (write_fault ? FAULT_FLAG_WRITE : 0),
				       &unlocked);
		if (unlocked)
			return -EAGAIN;
		if (ret)
			return ret;

		sched_point(SP_FOLLOW_FAULT_AFTER_FIXUP, mm, vaddr);
		ret = follow_pfnmap_start(&args);
		if (ret) {
			STAT_INC(follow_failures);
			ret = retry_policies[__atomic_load_n(&vfio_type1_cfg.retry_policy,
							     __ATOMIC_RELAXED)](ret, (*round)++);
			if (ret == -EAGAIN)
				STAT_INC(retries);
			return ret;
		}
	}

	if (write_fault && !args.writable) {
		ret = -EFAULT;
		goto out;
	}
	*pfn = args.pfn;
	/* Before 0fd06844de5d (v6.15) every pfn was looked up on its own. */
	*addr_mask = vfio_type1_cfg.addr_mask_batching ? args.addr_mask : PAGE_MASK;
out:
	follow_pfnmap_end(&args);
	return ret;
}

/* ---------------- vaddr_get_pfns (ref §1.4) ---------------- */

static long vaddr_get_pfns(struct mm_struct *mm, unsigned long vaddr, unsigned long npages,
			   int prot, unsigned long *pfn, struct vfio_batch *batch)
{
	unsigned long capacity = (unsigned long)batch->capacity;
	unsigned long pin_pages = npages < capacity ? npages : capacity;
	struct vm_area_struct *vma;
	unsigned int flags = 0, round = 0;
	long ret;

	STAT_INC(vaddr_get_pfns);
	if (prot & IOMMU_WRITE)
		flags |= FOLL_WRITE;

	mmap_read_lock(mm);
	STAT_INC(gup_calls);
	ret = pin_user_pages_remote(mm, vaddr, pin_pages, flags | FOLL_LONGTERM, batch->pages,
				    NULL);
	if (ret > 0) {
		*pfn = page_to_pfn(batch->pages[0]);
		batch->size = (int)ret;
		batch->offset = 0;
		goto done;
	} else if (!ret) {
		ret = -EFAULT;
	}

	/* untagged_addr_remote(): no tagged addresses on the simulated x86. */
retry:
	vma = vma_lookup(mm, vaddr);

	if (vma && vma->vm_flags & VM_PFNMAP) {
		unsigned long addr_mask = PAGE_MASK;

		ret = follow_fault_pfn(vma, mm, vaddr, pfn, &addr_mask, prot & IOMMU_WRITE,
				       &round);
		if (ret == -EAGAIN) {
			STAT_INC(eagain_loops);
			goto retry;
		}

		if (!ret) {
			if (is_invalid_reserved_pfn(*pfn)) {
				unsigned long epfn;

				epfn = (*pfn | (~addr_mask >> PAGE_SHIFT)) + 1;
				ret = (long)(epfn - *pfn < npages ? epfn - *pfn : npages);
			} else {
				ret = -EFAULT;
			}
		}
	}
done:
	mmap_read_unlock(mm);
	return ret;
}

/* ---------------- vfio_pin_pages_remote (ref §1.5) ---------------- */

/* mm/internal.h num_pages_contiguous(): pages[i] == pages[0] + i. */
static unsigned long num_pages_contiguous(struct page **pages, unsigned long n)
{
	unsigned long i;

	for (i = 1; i < n; i++)
		if (pages[i] != pages[0] + i)
			break;
	return i;
}

static long vfio_pin_pages_remote(struct vfio_dma *dma, unsigned long vaddr, long npage,
				  unsigned long *pfn_base, unsigned long limit,
				  struct vfio_batch *batch)
{
	struct mm_struct *mm = current->mm;
	long ret, pinned = 0, lock_acct = 0;
	bool rsvd;
	dma_addr_t iova = vaddr - dma->vaddr + dma->iova;
	unsigned long pfn = 0;

	if (!mm)
		return -ENODEV;

	if (batch->size) {
		/* Leftover pages in batch from an earlier call. */
		*pfn_base = page_to_pfn(batch->pages[batch->offset]);
		pfn = *pfn_base;
		rsvd = is_invalid_reserved_pfn(*pfn_base);
	} else {
		*pfn_base = 0;
		rsvd = false;
	}

	if (vfio_type1_cfg.disable_hugepages)
		npage = 1;

	while (npage) {
		if (!batch->size) {
			/* Empty batch, so refill it. */
			cond_resched();
			ret = vaddr_get_pfns(mm, vaddr, npage, dma->prot, &pfn, batch);
			if (ret < 0)
				goto unpin_out;

			if (!*pfn_base) {
				*pfn_base = pfn;
				rsvd = is_invalid_reserved_pfn(*pfn_base);
			}

			/* Handle pfnmap */
			if (!batch->size) {
				if (pfn != *pfn_base + pinned || !rsvd)
					goto out;

				pinned += ret;
				npage -= ret;
				vaddr += (unsigned long)ret << PAGE_SHIFT;
				iova += (unsigned long)ret << PAGE_SHIFT;
				STAT_ADD(pfnmap_pages, ret);
				continue;
			}
		}

		/*
		 * pfn is preset for the first iteration of this inner loop
		 * because vaddr_get_pfns() has already pinned the pages.
		 */
		while (true) {
			long nr_pages, acct_pages = 0;

			if (pfn != *pfn_base + pinned || rsvd != is_invalid_reserved_pfn(pfn))
				goto out;

			nr_pages = (long)num_pages_contiguous(&batch->pages[batch->offset],
							      batch->size);
			if (!rsvd) {
				acct_pages = nr_pages;
				acct_pages -= vpfn_pages(dma, iova, nr_pages);
			}

			/* Reserved pages are not counted against the limit. */
			if (acct_pages) {
				if (!dma->lock_cap &&
				    atomic_load(&mm->locked_vm) + lock_acct + acct_pages >
					    (long)limit) {
					fprintf(stderr,
						"pinsim: vfio_pin_pages_remote: RLIMIT_MEMLOCK (%lu) exceeded\n",
						limit << PAGE_SHIFT);
					ret = -ENOMEM;
					goto unpin_out;
				}
				lock_acct += acct_pages;
			}

			pinned += nr_pages;
			npage -= nr_pages;
			vaddr += (unsigned long)nr_pages << PAGE_SHIFT;
			iova += (unsigned long)nr_pages << PAGE_SHIFT;
			batch->offset += (int)nr_pages;
			batch->size -= (int)nr_pages;

			if (!batch->size)
				break;

			pfn = page_to_pfn(batch->pages[batch->offset]);
		}
	}

out:
	dma->has_rsvd |= rsvd;
	if (!rsvd)
		STAT_ADD(pinned_pages, pinned);
	ret = vfio_lock_acct(dma, lock_acct, false);

unpin_out:
	if (ret < 0) {
		if (pinned && !rsvd) {
			for (pfn = *pfn_base; pinned; pfn++, pinned--)
				put_pfn(pfn, dma->prot);
		}
		vfio_batch_unpin(batch, dma);
		return ret;
	}
	return pinned;
}

/* ---------------- unpin (ref §1.6) ---------------- */

static long vfio_unpin_pages_remote(struct vfio_dma *dma, dma_addr_t iova, unsigned long pfn,
				    unsigned long npage, bool do_accounting)
{
	long unlocked = 0, locked = vpfn_pages(dma, iova, npage);

	if (dma->has_rsvd) {
		for (unsigned long i = 0; i < npage; i++)
			unlocked += put_pfn(pfn + i, dma->prot);
	} else {
		put_valid_unreserved_pfns(pfn, npage, dma->prot);
		unlocked = (long)npage;
	}
	if (do_accounting)
		vfio_lock_acct(dma, locked - unlocked, true);
	return unlocked;
}

/* ---------------- IOMMU map/unmap (ref §1.7, §1.9) ---------------- */

static int vfio_iommu_map(struct vfio_iommu *iommu, dma_addr_t iova, unsigned long pfn,
			  long npage, int prot)
{
	struct vfio_domain *d, *e;
	int ret = 0;

	STAT_INC(iommu_maps);
	for (d = iommu->domain_list; d; d = d->next) {
		ret = iommu_map(d->domain, iova, (phys_addr_t)pfn << PAGE_SHIFT,
				(size_t)npage << PAGE_SHIFT, prot | IOMMU_CACHE);
		if (ret)
			goto unwind;
		cond_resched();
	}
	return 0;

unwind:
	/* The kernel walks the list backwards from d; order does not matter here. */
	for (e = iommu->domain_list; e != d; e = e->next)
		iommu_unmap(e->domain, iova, (size_t)npage << PAGE_SHIFT);
	return ret;
}

struct vfio_regions {
	dma_addr_t iova;
	phys_addr_t phys;
	size_t len;
};

struct unmap_gather {
	struct vfio_regions entry[VFIO_IOMMU_TLB_SYNC_MAX];
	int n;
};

/* The IOTLB is synced before any page of the queued regions is unpinned. */
static long vfio_sync_unpin(struct vfio_dma *dma, struct vfio_domain *domain,
			    struct unmap_gather *g)
{
	long unlocked = 0;

	iommu_iotlb_sync(domain->domain);
	for (int i = 0; i < g->n; i++)
		unlocked += vfio_unpin_pages_remote(dma, g->entry[i].iova,
						    g->entry[i].phys >> PAGE_SHIFT,
						    g->entry[i].len >> PAGE_SHIFT, false);
	g->n = 0;
	return unlocked;
}

static size_t unmap_unpin_fast(struct vfio_domain *domain, struct vfio_dma *dma,
			       dma_addr_t iova, size_t len, phys_addr_t phys, long *unlocked,
			       struct unmap_gather *g)
{
	size_t unmapped = iommu_unmap_fast(domain->domain, iova, len);

	if (!unmapped)
		return 0;
	g->entry[g->n++] = (struct vfio_regions){ iova, phys, unmapped };
	/* Sync and unpin once VFIO_IOMMU_TLB_SYNC_MAX regions are queued. */
	if (g->n >= VFIO_IOMMU_TLB_SYNC_MAX)
		*unlocked += vfio_sync_unpin(dma, domain, g);
	return unmapped;
}

static size_t unmap_unpin_slow(struct vfio_domain *domain, struct vfio_dma *dma,
			       dma_addr_t iova, size_t len, phys_addr_t phys, long *unlocked)
{
	size_t unmapped = iommu_unmap(domain->domain, iova, len);

	if (unmapped) {
		*unlocked += vfio_unpin_pages_remote(dma, iova, phys >> PAGE_SHIFT,
						     unmapped >> PAGE_SHIFT, false);
		cond_resched();
	}
	return unmapped;
}

static long vfio_unmap_unpin(struct vfio_iommu *iommu, struct vfio_dma *dma, bool do_accounting)
{
	struct vfio_domain *domain, *d;
	struct unmap_gather *g;
	long unlocked = 0;
	size_t pos = 0;

	if (!dma->size)
		return 0;
	if (!iommu->domain_list)
		return 0;
	g = malloc(sizeof(*g));
	if (!g)
		abort();	/* a bookkeeping allocation, not a simulated failure */
	g->n = 0;

	/*
	 * Every domain but the first is unmapped wholesale; the first gives the
	 * physical addresses to unpin.
	 */
	domain = d = iommu->domain_list;
	for (d = d->next; d; d = d->next) {
		iommu_unmap(d->domain, dma->iova, dma->size);
		cond_resched();
	}

	while (pos < dma->size) {
		size_t unmapped, len;
		phys_addr_t phys;
		dma_addr_t iova = dma->iova + pos;

		/*
		 * The kernel probes iommu_iova_to_phys() page by page to find the
		 * largest physically contiguous chunk; the simulated IOMMU gives
		 * the same chunk in one walk (8M probes for a 32 GiB BAR otherwise).
		 */
		len = iommu_iova_contig_len(domain->domain, iova, dma->size - pos, &phys);
		if (WARN_ON(!len || !phys)) {
			pos += PAGE_SIZE;
			continue;
		}
		unmapped = unmap_unpin_fast(domain, dma, iova, len, phys, &unlocked, g);
		if (!unmapped) {
			unmapped = unmap_unpin_slow(domain, dma, iova, len, phys, &unlocked);
			if (WARN_ON(!unmapped))
				break;
		}
		pos += unmapped;
	}

	dma->iommu_mapped = false;
	if (g->n)
		unlocked += vfio_sync_unpin(dma, domain, g);
	free(g);

	if (do_accounting) {
		vfio_lock_acct(dma, -unlocked, true);
		return 0;
	}
	return unlocked;
}

static void vfio_remove_dma(struct vfio_iommu *iommu, struct vfio_dma *dma)
{
	vfio_unmap_unpin(iommu, dma, true);
	vfio_unlink_dma(iommu, dma);
	if (dma->vaddr_invalid)
		iommu->vaddr_invalid_count--;
	free(dma);
	iommu->dma_avail++;
}

/* ---------------- MAP_DMA (ref §1.8, §1.10) ---------------- */

static int vfio_pin_map_dma(struct vfio_iommu *iommu, struct vfio_dma *dma, size_t map_size)
{
	dma_addr_t iova = dma->iova;
	unsigned long vaddr = dma->vaddr;
	struct vfio_batch batch;
	size_t size = map_size;
	long npage;
	unsigned long pfn, limit = rlimit_memlock(current) >> PAGE_SHIFT;
	int ret = 0;

	vfio_batch_init(&batch, false);

	while (size) {
		/* Pin a contiguous chunk of memory */
		npage = vfio_pin_pages_remote(dma, vaddr + dma->size, (long)(size >> PAGE_SHIFT),
					      &pfn, limit, &batch);
		if (npage <= 0) {
			WARN_ON(!npage);
			ret = (int)npage;
			break;
		}

		/* Map it! */
		ret = vfio_iommu_map(iommu, iova + dma->size, pfn, npage, dma->prot);
		if (ret) {
			vfio_unpin_pages_remote(dma, iova + dma->size, pfn, (unsigned long)npage,
						true);
			vfio_batch_unpin(&batch, dma);
			break;
		}

		size -= (size_t)npage << PAGE_SHIFT;
		dma->size += (size_t)npage << PAGE_SHIFT;
		sched_point(SP_PIN_BETWEEN_RUNS, dma->mm, vaddr + dma->size);
	}

	vfio_batch_fini(&batch);
	dma->iommu_mapped = true;

	if (ret)
		vfio_remove_dma(iommu, dma);
	return ret;
}

static bool vfio_iommu_iova_dma_valid(struct vfio_iommu *iommu, dma_addr_t start, dma_addr_t end)
{
	if (!iommu->nr_iovas)
		return true;
	for (int i = 0; i < iommu->nr_iovas; i++)
		if (start >= iommu->iova_list[i].start && end <= iommu->iova_list[i].end)
			return true;
	return false;
}

static int vfio_dma_do_map(struct vfio_iommu *iommu, struct vfio_iommu_type1_dma_map *map)
{
	bool set_vaddr = map->flags & VFIO_DMA_MAP_FLAG_VADDR;
	dma_addr_t iova = map->iova, iova_end;
	unsigned long vaddr = map->vaddr, vaddr_end;
	size_t size = map->size;
	struct vfio_dma *dma;
	uint64_t pgsize;
	int ret = 0, prot = 0;

	/* u64 fields fit size_t/unsigned long/dma_addr_t on a 64-bit host. */
	if (map->size != size || map->vaddr != vaddr || map->iova != iova)
		return -EOVERFLOW;

	if (!size)
		return -EINVAL;

	if (__builtin_add_overflow(iova, size - 1, &iova_end) ||
	    __builtin_add_overflow(vaddr, size - 1, &vaddr_end))
		return -EOVERFLOW;

	/* READ/WRITE from device perspective */
	if (map->flags & VFIO_DMA_MAP_FLAG_WRITE)
		prot |= IOMMU_WRITE;
	if (map->flags & VFIO_DMA_MAP_FLAG_READ)
		prot |= IOMMU_READ;

	if ((prot && set_vaddr) || (!prot && !set_vaddr))
		return -EINVAL;

	mutex_lock(&iommu->lock);

	pgsize = iommu_pgsize(iommu);
	if ((size | iova | vaddr) & (pgsize - 1)) {
		ret = -EINVAL;
		goto out_unlock;
	}

	dma = vfio_find_dma(iommu, iova, size);
	if (set_vaddr) {
		if (!dma) {
			ret = -ENOENT;
		} else if (!dma->vaddr_invalid || dma->iova != iova || dma->size != size) {
			ret = -EINVAL;
		} else {
			/* vfio_change_dma_owner(): same process here, no charge to move. */
			if (dma->mm != current->mm) {
				ret = -EINVAL;	/* cross-process VADDR update: not modelled */
				goto out_unlock;
			}
			dma->vaddr = vaddr;
			dma->vaddr_invalid = false;
			iommu->vaddr_invalid_count--;
		}
		goto out_unlock;
	} else if (dma) {
		ret = -EEXIST;
		goto out_unlock;
	}

	if (!iommu->dma_avail) {
		ret = -ENOSPC;
		goto out_unlock;
	}

	if (!vfio_iommu_iova_dma_valid(iommu, iova, iova_end)) {
		ret = -EINVAL;
		goto out_unlock;
	}

	dma = calloc(1, sizeof(*dma));
	if (!dma) {
		ret = -ENOMEM;
		goto out_unlock;
	}

	iommu->dma_avail--;
	dma->iova = iova;
	dma->vaddr = vaddr;
	dma->prot = prot;
	dma->task = current->group_leader;
	dma->lock_cap = capable_ipc_lock();
	dma->mm = current->mm;

	/* Insert zero-sized and grow as we map chunks of it */
	ret = vfio_link_dma(iommu, dma);
	if (ret) {
		free(dma);
		iommu->dma_avail++;
		goto out_unlock;
	}

	/* Don't pin and map if container doesn't contain IOMMU capable domain */
	if (!iommu->domain_list)
		dma->size = size;
	else
		ret = vfio_pin_map_dma(iommu, dma, size);

out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

static enum vfio_map_outcome map_outcome(int ret)
{
	switch (ret) {
	case 0:
		return VFIO_MAP_OK;
	case -EINVAL:
		return VFIO_MAP_EINVAL;
	case -EFAULT:
		return VFIO_MAP_EFAULT;
	case -ENOMEM:
		return VFIO_MAP_ENOMEM;
	case -EBUSY:
		return VFIO_MAP_EBUSY;
	case -EINTR:
		return VFIO_MAP_EINTR;
	case -EAGAIN:
		return VFIO_MAP_EAGAIN;
	case -ENOENT:
		return VFIO_MAP_ENOENT;
	default:
		return VFIO_MAP_OTHER;
	}
}

static void stats_accumulate(struct vfio_pin_stats *t, const struct vfio_pin_stats *s)
{
	t->vaddr_get_pfns += s->vaddr_get_pfns;
	t->gup_calls += s->gup_calls;
	t->follow_failures += s->follow_failures;
	t->faults += s->faults;
	t->retries += s->retries;
	t->eagain_loops += s->eagain_loops;
	t->iommu_maps += s->iommu_maps;
	t->pinned_pages += s->pinned_pages;
	t->pfnmap_pages += s->pfnmap_pages;
}

static long vfio_iommu_type1_map_dma(struct vfio_iommu *iommu, void *arg)
{
	struct vfio_iommu_type1_dma_map *map = arg;
	const uint32_t minsz = offsetof(struct vfio_iommu_type1_dma_map, size) + sizeof(map->size);
	const uint32_t mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE |
			      VFIO_DMA_MAP_FLAG_VADDR;
	struct vfio_pin_stats st = { 0 };
	int ret;

	if (map->argsz < minsz || map->flags & ~mask)
		return -EINVAL;

	pin_stats = &st;
	ret = vfio_dma_do_map(iommu, map);
	pin_stats = NULL;

	mutex_lock(&iommu->lock);
	iommu->stats.last = st;
	stats_accumulate(&iommu->stats.total, &st);
	iommu->stats.outcomes[map_outcome(ret)]++;
	mutex_unlock(&iommu->lock);
	return ret;
}

/* ---------------- UNMAP_DMA (ref §1.11) ---------------- */

static struct vfio_dma *dma_containing(struct vfio_iommu *iommu, dma_addr_t iova)
{
	struct vfio_dma *d = vfio_find_dma(iommu, iova, 1);

	return d;
}

static int vfio_dma_do_unmap(struct vfio_iommu *iommu, struct vfio_iommu_type1_dma_unmap *unmap)
{
	struct vfio_dma *dma;
	size_t unmapped = 0, size;
	dma_addr_t iova = unmap->iova, iova_end;
	uint64_t pgsize;
	int ret = -EINVAL;
	unsigned int i, first_n;
	bool unmap_all = unmap->flags & VFIO_DMA_UNMAP_FLAG_ALL;
	bool invalidate_vaddr = unmap->flags & VFIO_DMA_UNMAP_FLAG_VADDR;

	mutex_lock(&iommu->lock);

	/* Cannot update vaddr if mdev is present. */
	if (invalidate_vaddr && iommu->num_emulated_groups) {
		ret = -EBUSY;
		goto unlock;
	}

	size = unmap->size;
	if (size != unmap->size || iova != unmap->iova) {
		ret = -EOVERFLOW;
		goto unlock;
	}

	pgsize = iommu_pgsize(iommu);
	if (iova & (pgsize - 1))
		goto unlock;

	if (unmap_all) {
		if (iova || size)
			goto unlock;
		iova_end = ~(dma_addr_t)0;
	} else {
		if (!size || size & (pgsize - 1))
			goto unlock;
		if (__builtin_add_overflow(iova, size - 1, &iova_end)) {
			ret = -EOVERFLOW;
			goto unlock;
		}
	}

	/* When dirty tracking is enabled, allow only min supported pgsize */
	if ((unmap->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) && !iommu->dirty_page_tracking)
		goto unlock;

	ret = 0;
	/*
	 * v2: a request that bisects a mapping at either end is refused.
	 * (The "again:" label of the kernel serves the mdev notify path,
	 * which cannot happen here: pfn_list is always empty.)
	 */
	if (iommu->v2 && !unmap_all) {
		dma = dma_containing(iommu, iova);
		if (dma && dma->iova != iova) {
			ret = -EINVAL;
			goto unlock;
		}
		dma = dma_containing(iommu, iova_end);
		if (dma && dma->iova + dma->size - 1 != iova_end) {
			ret = -EINVAL;
			goto unlock;
		}
	}

	i = first_n = dma_index(iommu, iova);
	while (i < iommu->nr_dmas && iommu->dmas[i]->iova <= iova_end) {
		dma = iommu->dmas[i];

		if (!iommu->v2 && iova > dma->iova)
			break;

		if (invalidate_vaddr) {
			if (dma->vaddr_invalid) {
				/* Undo the invalidations made by this call. */
				for (unsigned int j = first_n; j < i; j++) {
					iommu->dmas[j]->vaddr_invalid = false;
					iommu->vaddr_invalid_count--;
				}
				ret = -EINVAL;
				unmapped = 0;
				break;
			}
			dma->vaddr_invalid = true;
			iommu->vaddr_invalid_count++;
			unmapped += dma->size;
			i++;
			continue;
		}

		unmapped += dma->size;
		vfio_remove_dma(iommu, dma);	/* the array shifts down: i stays */
	}

unlock:
	mutex_unlock(&iommu->lock);

	/* Report how much was unmapped */
	if (!ret)
		unmap->size = unmapped;
	return ret;
}

static long vfio_iommu_type1_unmap_dma(struct vfio_iommu *iommu, void *arg)
{
	struct vfio_iommu_type1_dma_unmap *unmap = arg;
	const uint32_t minsz = offsetof(struct vfio_iommu_type1_dma_unmap, size) +
			       sizeof(unmap->size);
	const uint32_t mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR |
			      VFIO_DMA_UNMAP_FLAG_ALL;

	if (unmap->argsz < minsz || unmap->flags & ~mask)
		return -EINVAL;

	/* GET_DIRTY_BITMAP and UNMAP_ALL/VADDR are mutually exclusive */
	if ((unmap->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    (unmap->flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)))
		return -EINVAL;

	if (unmap->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
		struct vfio_bitmap bitmap;

		if (unmap->argsz < minsz + sizeof(bitmap))
			return -EINVAL;
		memcpy(&bitmap, unmap->data, sizeof(bitmap));
		/* access_ok() and verify_bitmap_size() */
		if (!bitmap.pgsize || !bitmap.size || bitmap.size > (1ULL << 28) ||
		    (unmap->size >> __ffs64(bitmap.pgsize)) == 0 ||
		    bitmap.size < (((unmap->size >> __ffs64(bitmap.pgsize)) + 63) / 64) * 8)
			return -EINVAL;
	}
	return vfio_dma_do_unmap(iommu, unmap);
}

/* ---------------- GET_INFO (ref §1.13) ---------------- */

struct caps {
	unsigned char buf[512];
	size_t size;
	size_t last;		/* offset of the last header + 1, 0 if none */
};

/* vfio_info_cap_add(): each capability is padded to a multiple of 8 bytes. */
static void *cap_add(struct caps *c, size_t len, uint16_t id, uint16_t version)
{
	struct vfio_info_cap_header *h;

	len = (len + 7) & ~(size_t)7;
	if (c->size + len > sizeof(c->buf))
		return NULL;
	h = (void *)(c->buf + c->size);
	memset(h, 0, len);
	h->id = id;
	h->version = version;
	/* Chain: the previous header's next is this offset (shifted later). */
	if (c->last)
		((struct vfio_info_cap_header *)(c->buf + c->last - 1))->next = (uint32_t)c->size;
	c->last = c->size + 1;
	c->size += len;
	return h;
}

static long vfio_iommu_type1_get_info(struct vfio_iommu *iommu, void *arg)
{
	struct vfio_iommu_type1_info *user = arg, info;
	const uint32_t minsz = offsetof(struct vfio_iommu_type1_info, iova_pgsizes) +
			       sizeof(info.iova_pgsizes);
	struct vfio_iommu_type1_info_cap_migration *mig;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *range;
	struct caps caps = { .size = 0 };

	uint32_t user_argsz;

	/* Zeroed first, as the kernel does since a881b496941f: no stack bytes leak. */
	memset(&info, 0, sizeof(info));
	memcpy(&info, user, minsz);
	if (info.argsz < minsz)
		return -EINVAL;
	user_argsz = info.argsz;

	mutex_lock(&iommu->lock);
	info.flags = VFIO_IOMMU_INFO_PGSIZES;
	info.iova_pgsizes = iommu->pgsize_bitmap;

	mig = cap_add(&caps, sizeof(*mig), VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 1);
	mig->flags = 0;
	mig->pgsize_bitmap = iommu_pgsize(iommu);
	mig->max_dirty_bitmap_size = 1ULL << 28;

	avail = cap_add(&caps, sizeof(*avail), VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1);
	avail->avail = iommu->dma_avail;

	if (iommu->nr_iovas) {
		range = cap_add(&caps, sizeof(*range) + iommu->nr_iovas * sizeof(range->iova_ranges[0]),
				VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1);
		range->nr_iovas = iommu->nr_iovas;
		for (int i = 0; i < iommu->nr_iovas; i++) {
			range->iova_ranges[i].start = iommu->iova_list[i].start;
			range->iova_ranges[i].end = iommu->iova_list[i].end;
		}
	}
	mutex_unlock(&iommu->lock);

	info.flags |= VFIO_IOMMU_INFO_CAPS;
	info.cap_offset = 0;
	if (info.argsz < sizeof(info) + caps.size) {
		info.argsz = (uint32_t)(sizeof(info) + caps.size);
	} else {
		/* vfio_info_cap_shift(): offsets become relative to the info struct. */
		size_t off = 0;

		while (1) {
			struct vfio_info_cap_header *h = (void *)(caps.buf + off);
			size_t next = h->next;

			if (next)
				h->next = (uint32_t)(next + sizeof(info));
			if (!next)
				break;
			off = next;
		}
		memcpy((unsigned char *)user + sizeof(info), caps.buf, caps.size);
		info.cap_offset = sizeof(info);
	}
	/* copy_to_user(arg, &info, minsz): only what the caller said it has. */
	memcpy(user, &info, user_argsz < sizeof(info) ? minsz : sizeof(info));
	return 0;
}

/* ---------------- extensions, ioctl ---------------- */

static long vfio_iommu_type1_check_extension(struct vfio_iommu *iommu, unsigned long arg)
{
	switch (arg) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	case VFIO_UPDATE_VADDR:
		/* Disable this feature if mdevs are present. */
		return iommu && !iommu->num_emulated_groups;
	case VFIO_DMA_CC_IOMMU:
		return iommu && iommu->domain_list;	/* simulated domains are coherent */
	default:
		return 0;
	}
}

long vfio_iommu_type1_ioctl(struct vfio_iommu *iommu, unsigned int cmd, void *arg)
{
	switch (cmd) {
	case VFIO_CHECK_EXTENSION:
		return vfio_iommu_type1_check_extension(iommu, (unsigned long)arg);
	case VFIO_IOMMU_GET_INFO:
		return vfio_iommu_type1_get_info(iommu, arg);
	case VFIO_IOMMU_MAP_DMA:
		return vfio_iommu_type1_map_dma(iommu, arg);
	case VFIO_IOMMU_UNMAP_DMA:
		return vfio_iommu_type1_unmap_dma(iommu, arg);
	default:
		return -ENOTTY;
	}
}

/* ---------------- open / release / attach ---------------- */

int vfio_iommu_type1_open(unsigned long arg, struct vfio_iommu **out)
{
	struct vfio_iommu *iommu;

	switch (arg) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_TYPE1_NESTING_IOMMU:
		break;
	default:
		return -EINVAL;
	}
	iommu = calloc(1, sizeof(*iommu));
	if (!iommu)
		return -ENOMEM;
	iommu->v2 = arg != VFIO_TYPE1_IOMMU;
	mutex_init(&iommu->lock, "vfio_iommu");
	iommu->dma_avail = vfio_type1_cfg.dma_entry_limit;
	/* PAGE_MASK as a u64 bitmap: every size >= PAGE_SIZE, until a domain exists. */
	iommu->pgsize_bitmap = ~(uint64_t)(PAGE_SIZE - 1);
	*out = iommu;
	return 0;
}

void vfio_iommu_type1_release(struct vfio_iommu *iommu)
{
	bool locked;

	if (!iommu)
		return;
	/*
	 * A MAP_DMA whose task died (an oops, or the scheduler's livelock
	 * watchdog ending the EAGAIN loop) never unlocks: in the kernel the
	 * container could then never be released.  The simulation lets the
	 * release take over from the dead owner so that the world can be torn
	 * down; pages its batch still held stay pinned, as they would.
	 */
	locked = mutex_trylock(&iommu->lock);
	if (!locked && !mutex_held_by_dead(&iommu->lock)) {
		mutex_lock(&iommu->lock);
		locked = true;
	}
	while (iommu->nr_dmas)
		vfio_remove_dma(iommu, iommu->dmas[iommu->nr_dmas - 1]);
	if (locked)
		mutex_unlock(&iommu->lock);
	while (iommu->domain_list) {
		struct vfio_domain *d = iommu->domain_list;

		iommu->domain_list = d->next;
		iommu_domain_free(d->domain);
		free(d);
	}
	while (iommu->groups) {
		struct vfio_iommu_group *g = iommu->groups;

		iommu->groups = g->next;
		free(g);
	}
	free(iommu->dmas);
	mutex_destroy(&iommu->lock);
	free(iommu);
}

static void vfio_update_pgsize_bitmap(struct vfio_iommu *iommu)
{
	uint64_t bitmap = ~(uint64_t)0;

	for (struct vfio_domain *d = iommu->domain_list; d; d = d->next)
		bitmap &= iommu_domain_pgsize_bitmap(d->domain);
	if (!iommu->domain_list)
		bitmap = ~(uint64_t)(PAGE_SIZE - 1);
	/* Sub-PAGE_SIZE support folds into PAGE_SIZE. */
	if (bitmap & (PAGE_SIZE - 1)) {
		bitmap &= ~(uint64_t)(PAGE_SIZE - 1);
		bitmap |= PAGE_SIZE;
	}
	iommu->pgsize_bitmap = bitmap;
}

/*
 * vfio_iommu_aper_resize() + vfio_iommu_resv_exclude(): the domain's
 * aperture, with the x86 MSI window reserved.
 */
static void vfio_iommu_init_iova_list(struct vfio_iommu *iommu, struct iommu_domain *domain)
{
	const struct iommu_domain_geometry *geo = iommu_domain_geometry(domain);
	const dma_addr_t msi_start = 0xfee00000, msi_end = 0xfeefffff;
	dma_addr_t end = geo->aperture_end;

	if (end > vfio_type1_cfg.iova_aperture_end)
		end = vfio_type1_cfg.iova_aperture_end;
	iommu->iova_list[0] = (struct vfio_iova){ geo->aperture_start, msi_start - 1 };
	iommu->iova_list[1] = (struct vfio_iova){ msi_end + 1, end };
	iommu->nr_iovas = 2;
}

/* vfio_iommu_replay(): bring a new domain up to date with every mapping. */
static int vfio_iommu_replay(struct vfio_iommu *iommu, struct vfio_domain *domain)
{
	struct vfio_domain *d = iommu->domain_list;	/* an existing domain, if any */
	struct vfio_batch batch;
	unsigned long limit = rlimit_memlock(current) >> PAGE_SHIFT;
	int ret = 0;

	vfio_batch_init(&batch, false);
	for (unsigned int n = 0; n < iommu->nr_dmas && !ret; n++) {
		struct vfio_dma *dma = iommu->dmas[n];
		dma_addr_t iova = dma->iova;

		while (iova < dma->iova + dma->size) {
			phys_addr_t phys;
			size_t size;

			if (dma->iommu_mapped) {
				if (WARN_ON(!d)) {
					ret = -EINVAL;
					break;
				}
				/* The physically contiguous chunk (page-by-page probes upstream). */
				size = iommu_iova_contig_len(d->domain, iova,
							     dma->iova + dma->size - iova, &phys);
				if (WARN_ON(!size || !phys)) {
					iova += PAGE_SIZE;
					continue;
				}
			} else {
				unsigned long pfn;
				unsigned long vaddr = dma->vaddr + (iova - dma->iova);
				size_t n = dma->iova + dma->size - iova;
				long npage;

				npage = vfio_pin_pages_remote(dma, vaddr, (long)(n >> PAGE_SHIFT), &pfn,
							      limit, &batch);
				if (npage <= 0) {
					WARN_ON(!npage);
					ret = (int)npage;
					break;
				}
				phys = (phys_addr_t)pfn << PAGE_SHIFT;
				size = (size_t)npage << PAGE_SHIFT;
			}
			ret = iommu_map(domain->domain, iova, phys, size, dma->prot | IOMMU_CACHE);
			if (ret) {
				if (!dma->iommu_mapped) {
					vfio_unpin_pages_remote(dma, iova, phys >> PAGE_SHIFT,
								size >> PAGE_SHIFT, true);
					vfio_batch_unpin(&batch, dma);
				}
				break;
			}
			iova += size;
		}
	}
	vfio_batch_fini(&batch);

	if (!ret) {
		/* All dmas are now mapped; defer to the first domain for future unmaps. */
		for (unsigned int n = 0; n < iommu->nr_dmas; n++)
			iommu->dmas[n]->iommu_mapped = true;
		return 0;
	}

	/* Unwind: unmap the new domain; unpin what this replay pinned. */
	for (unsigned int n = 0; n < iommu->nr_dmas; n++) {
		struct vfio_dma *dma = iommu->dmas[n];
		dma_addr_t iova = dma->iova;

		while (iova < dma->iova + dma->size) {
			phys_addr_t phys = iommu_iova_to_phys(domain->domain, iova);
			size_t size;

			if (!phys) {
				iova += PAGE_SIZE;
				continue;
			}
			size = iommu_unmap(domain->domain, iova, PAGE_SIZE);
			if (!size)
				break;
			if (!dma->iommu_mapped)
				vfio_unpin_pages_remote(dma, iova, phys >> PAGE_SHIFT,
							size >> PAGE_SHIFT, true);
			iova += size;
		}
	}
	return ret;
}

int vfio_iommu_type1_attach_group(struct vfio_iommu *iommu, int group_id, int iommu_unit,
				  bool emulated)
{
	struct vfio_iommu_group *g;
	struct vfio_domain *d;
	int ret = 0;

	mutex_lock(&iommu->lock);
	for (g = iommu->groups; g; g = g->next) {
		if (g->group_id == group_id) {
			ret = -EINVAL;
			goto out;
		}
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		ret = -ENOMEM;
		goto out;
	}
	g->group_id = group_id;
	if (emulated) {
		iommu->num_emulated_groups++;
		goto link;
	}
	for (d = iommu->domain_list; d; d = d->next)
		if (d->iommu_unit == iommu_unit)
			break;
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d) {
			ret = -ENOMEM;
			goto free_group;
		}
		d->iommu_unit = iommu_unit;
		d->domain = iommu_domain_alloc(vfio_type1_cfg.iommu_pgsize_bitmap);
		if (!d->domain) {
			free(d);
			ret = -ENOMEM;
			goto free_group;
		}
		if (!iommu->nr_iovas)
			vfio_iommu_init_iova_list(iommu, d->domain);
		ret = vfio_iommu_replay(iommu, d);
		if (ret) {
			iommu_domain_free(d->domain);
			free(d);
			goto free_group;
		}
		/* New domains go to the tail: the first stays the unpin reference. */
		{
			struct vfio_domain **pp = &iommu->domain_list;

			while (*pp)
				pp = &(*pp)->next;
			*pp = d;
		}
		vfio_update_pgsize_bitmap(iommu);
	}
	d->nr_groups++;
	g->domain = d;
link:
	g->next = iommu->groups;
	iommu->groups = g;
	goto out;
free_group:
	free(g);
out:
	mutex_unlock(&iommu->lock);
	return ret;
}

void vfio_iommu_type1_detach_group(struct vfio_iommu *iommu, int group_id)
{
	struct vfio_iommu_group **pp, *g = NULL;

	mutex_lock(&iommu->lock);
	for (pp = &iommu->groups; *pp; pp = &(*pp)->next) {
		if ((*pp)->group_id == group_id) {
			g = *pp;
			*pp = g->next;
			break;
		}
	}
	if (!g)
		goto out;
	if (!g->domain) {
		iommu->num_emulated_groups--;
	} else if (!--g->domain->nr_groups) {
		struct vfio_domain **dp;

		/*
		 * The last group of the last IOMMU domain leaves: without emulated
		 * groups every mapping goes away (vfio_iommu_unmap_unpin_all());
		 * with them the mappings stay for the emulated devices, unmapped
		 * and unpinned (vfio_iommu_unmap_unpin_reaccount(); with no
		 * external pins here, nothing is re-charged).
		 */
		if (iommu->domain_list == g->domain && !g->domain->next) {
			if (!iommu->num_emulated_groups) {
				while (iommu->nr_dmas)
					vfio_remove_dma(iommu, iommu->dmas[iommu->nr_dmas - 1]);
			} else {
				for (unsigned int n = 0; n < iommu->nr_dmas; n++)
					vfio_unmap_unpin(iommu, iommu->dmas[n], true);
			}
		}
		for (dp = &iommu->domain_list; *dp; dp = &(*dp)->next) {
			if (*dp == g->domain) {
				*dp = g->domain->next;
				break;
			}
		}
		iommu_domain_free(g->domain->domain);
		free(g->domain);
		vfio_update_pgsize_bitmap(iommu);
	}
	free(g);
out:
	mutex_unlock(&iommu->lock);
}

struct iommu_domain *vfio_iommu_group_domain(struct vfio_iommu *iommu, int group_id)
{
	struct iommu_domain *dom = NULL;

	mutex_lock(&iommu->lock);
	for (struct vfio_iommu_group *g = iommu->groups; g; g = g->next)
		if (g->group_id == group_id && g->domain)
			dom = g->domain->domain;
	mutex_unlock(&iommu->lock);
	return dom;
}

void vfio_iommu_type1_get_stats(struct vfio_iommu *iommu, struct vfio_type1_stats *st)
{
	mutex_lock(&iommu->lock);
	*st = iommu->stats;
	mutex_unlock(&iommu->lock);
}

unsigned int vfio_iommu_nr_dmas(struct vfio_iommu *iommu)
{
	return iommu->nr_dmas;
}

unsigned int vfio_iommu_dma_avail(struct vfio_iommu *iommu)
{
	return iommu->dma_avail;
}
