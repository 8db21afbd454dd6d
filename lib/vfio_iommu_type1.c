// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO type1 IOMMU backend (drivers/vfio/vfio_iommu_type1.c, ref §1), over
 * the simulated mm and IOMMU.  The checks are the kernel's, in the kernel's
 * order, with its errno, function by function, in two shapes selected by
 * the kernel-version switches of vfio_type1_cfg (lib/vfio.h):
 *
 *  - 6.12 (Debian 6.12.107..118, identical there): addr_mask_batching,
 *    pin_contig_accounting and dma_limit_overflow off, type1_nesting on;
 *    pin_cond_resched from 6.12.43.
 *  - upstream (late 2025 to 7.0): the v6.15 pfnmap series ending in
 *    0fd06844de5d, the v6.18 pinning series f6c84a52cc41..d14de5b92578,
 *    the overflow series 6012379ede60..ef270ec44637 (v6.18-rc4), NESTING
 *    reserved (v6.13).
 *
 * The vfio_dma set is a red-black tree with the kernel's rebalancing
 * (lib/rbtree.c: the same insert and erase cases, the successor taking an
 * erased node's place), so every rb-tree descent of the kernel
 * (vfio_find_dma(), vfio_find_dma_first_node(), vfio_link_dma()) visits
 * the same nodes and answers the same: that matters where 6.12's
 * exclusive-end comparisons wrap at the top of the IOVA space, when the
 * answer depends on the tree's shape.
 *
 * Left out, on purpose:
 *  - mdev/emulated external pinning (vfio_iommu_type1_pin_pages, pfn_list,
 *    vfio_pfn, vfio_dma_rw): pfn_list is always empty, so vfio_find_vpfn()
 *    finds nothing, vpfn_pages() is 0 and the "notify and retry" path of
 *    unmap never runs.  Emulated groups can be attached (no domain), which
 *    is what the no-domain MAP, the UPDATE_VADDR -EBUSY and the dirty
 *    scope rules need.
 *  - Interrupt remapping is always present (no -EPERM without
 *    allow_unsafe_interrupts) and every simulated domain enforces cache
 *    coherency (VT-d snoop control), so VFIO_DMA_CC_IOMMU is 1.
 *  - Dirty tracking is the kernel's (vfio_iommu_type1_dirty_pages()): pinned
 *    pages are reported dirty, as with no dirty-capable IOMMU.
 *
 * A vfio_dma holds its owner as the kernel's does: mmgrab() of the mm and
 * get_task_struct() of the group leader (vfio_dma_do_map()), dropped by
 * vfio_remove_dma().  A container inherited by fork() outlives the process
 * that mapped: the child's unmap or last close then finds the owner's mm
 * exited, vfio_lock_acct()'s mmget_not_zero() fails with -ESRCH and the
 * unaccounting is skipped (nothing is charged to anyone any more).
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "fault_inject.h"
#include "locked_vm_ledger.h"
#include "machine.h"
#include "mutex.h"
#include "printk.h"
#include "sched_point.h"
#include "vfio.h"
#include "vfio_iommu_driver.h"

#define VFIO_BATCH_MAX_CAPACITY (PAGE_SIZE / sizeof(struct page *))
#define VFIO_IOMMU_TLB_SYNC_MAX 512
#define DIRTY_BITMAP_BYTES(n) ((((uint64_t)(n) + 63) / 64) * 8)
#define DIRTY_BITMAP_PAGES_MAX ((uint64_t)INT32_MAX)
#define DIRTY_BITMAP_SIZE_MAX DIRTY_BITMAP_BYTES(DIRTY_BITMAP_PAGES_MAX)
#define VFIO_IOVA_MAX 8
#define VFIO_RESV_MAX 4

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
	cfg->fgsp_probe = false;
	cfg->disable_hugepages = false;
	cfg->dma_entry_limit = UINT16_MAX;
	cfg->retry_policy = VFIO_RETRY_LEGACY;
	cfg->retry_bound = 8;
	cfg->iommu_pgsize_bitmap = IOMMU_DEFAULT_PGSIZES;
	cfg->iova_aperture_end = (1ULL << 48) - 1;
	cfg->fail_region_allocs = 0;
}

/* ---------------- a red-black tree (lib/rbtree.c's algorithm) ---------------- */

struct rb_node {
	struct rb_node *parent, *left, *right;
	bool black;
};

struct rb_root {
	struct rb_node *node;
};

static bool rb_is_red(const struct rb_node *n)
{
	return n && !n->black;
}

/* __rb_change_child(): @new replaces @old under @parent (or as the root). */
static void rb_change_child(struct rb_root *root, struct rb_node *parent, struct rb_node *old,
			    struct rb_node *new)
{
	if (!parent)
		root->node = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

static void rb_rotate_left(struct rb_root *root, struct rb_node *x)
{
	struct rb_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	y->parent = x->parent;
	rb_change_child(root, x->parent, x, y);
	y->left = x;
	x->parent = y;
}

static void rb_rotate_right(struct rb_root *root, struct rb_node *x)
{
	struct rb_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	y->parent = x->parent;
	rb_change_child(root, x->parent, x, y);
	y->right = x;
	x->parent = y;
}

/*
 * __rb_insert(): @z was linked red as a leaf.  A red uncle recolours and
 * moves up; otherwise at most two rotations (an inner child is first
 * rotated to the outside), and the rebalancing ends.
 */
static void rb_insert_color(struct rb_root *root, struct rb_node *z)
{
	struct rb_node *p, *g, *u;

	while ((p = z->parent) && !p->black) {
		g = p->parent;
		if (p == g->left) {
			u = g->right;
			if (rb_is_red(u)) {
				p->black = u->black = true;
				g->black = false;
				z = g;
				continue;
			}
			if (z == p->right) {
				rb_rotate_left(root, p);
				z = p;
				p = z->parent;
			}
			p->black = true;
			g->black = false;
			rb_rotate_right(root, g);
		} else {
			u = g->left;
			if (rb_is_red(u)) {
				p->black = u->black = true;
				g->black = false;
				z = g;
				continue;
			}
			if (z == p->left) {
				rb_rotate_right(root, p);
				z = p;
				p = z->parent;
			}
			p->black = true;
			g->black = false;
			rb_rotate_left(root, g);
		}
		break;
	}
	root->node->black = true;
}

/* ____rb_erase_color(): @x (maybe NULL) under @parent lost a black. */
static void rb_erase_color(struct rb_root *root, struct rb_node *x, struct rb_node *parent)
{
	struct rb_node *w;

	while (x != root->node && !rb_is_red(x)) {
		if (x == parent->left) {
			w = parent->right;
			if (rb_is_red(w)) {
				w->black = true;
				parent->black = false;
				rb_rotate_left(root, parent);
				w = parent->right;
			}
			if (!rb_is_red(w->left) && !rb_is_red(w->right)) {
				w->black = false;
				x = parent;
				parent = x->parent;
				continue;
			}
			if (!rb_is_red(w->right)) {
				w->left->black = true;
				w->black = false;
				rb_rotate_right(root, w);
				w = parent->right;
			}
			w->black = parent->black;
			parent->black = true;
			w->right->black = true;
			rb_rotate_left(root, parent);
		} else {
			w = parent->left;
			if (rb_is_red(w)) {
				w->black = true;
				parent->black = false;
				rb_rotate_right(root, parent);
				w = parent->left;
			}
			if (!rb_is_red(w->left) && !rb_is_red(w->right)) {
				w->black = false;
				x = parent;
				parent = x->parent;
				continue;
			}
			if (!rb_is_red(w->left)) {
				w->right->black = true;
				w->black = false;
				rb_rotate_left(root, w);
				w = parent->left;
			}
			w->black = parent->black;
			parent->black = true;
			w->left->black = true;
			rb_rotate_right(root, parent);
		}
		x = root->node;
		break;
	}
	if (x)
		x->black = true;
}

/*
 * rb_erase(): a node with one child at most is replaced by it; a node with
 * two by its successor (the leftmost of its right subtree), which takes
 * its colour.  Rebalance when a black node left the tree.
 */
static void rb_erase(struct rb_root *root, struct rb_node *z)
{
	struct rb_node *x, *parent, *y;
	bool lost_black;

	if (!z->left || !z->right) {
		x = z->left ? z->left : z->right;
		parent = z->parent;
		lost_black = z->black;
		rb_change_child(root, parent, z, x);
		if (x)
			x->parent = parent;
	} else {
		y = z->right;
		while (y->left)
			y = y->left;
		lost_black = y->black;
		x = y->right;
		if (y->parent == z) {
			parent = y;
		} else {
			parent = y->parent;
			parent->left = x;
			if (x)
				x->parent = parent;
			y->right = z->right;
			y->right->parent = y;
		}
		rb_change_child(root, z->parent, z, y);
		y->parent = z->parent;
		y->left = z->left;
		y->left->parent = y;
		y->black = z->black;
	}
	if (lost_black)
		rb_erase_color(root, x, parent);
}

static struct rb_node *rb_first(const struct rb_root *root)
{
	struct rb_node *n = root->node;

	while (n && n->left)
		n = n->left;
	return n;
}

static struct rb_node *rb_next(const struct rb_node *n)
{
	const struct rb_node *p;

	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return (struct rb_node *)n;
	}
	while ((p = n->parent) && n == p->right)
		n = p;
	return (struct rb_node *)p;
}

static struct rb_node *rb_prev(const struct rb_node *n)
{
	const struct rb_node *p;

	if (n->left) {
		n = n->left;
		while (n->right)
			n = n->right;
		return (struct rb_node *)n;
	}
	while ((p = n->parent) && n == p->left)
		n = p;
	return (struct rb_node *)p;
}

/* ---------------- structures ---------------- */

struct vfio_domain {
	struct iommu_domain *domain;
	int iommu_unit;
	int nr_groups;
	bool fgsp;			/* 6.12: fine-grained super pages */
	bool enforce_cache_coherency;
	struct vfio_domain *next;
};

struct vfio_iommu_group {
	int group_id;
	struct vfio_domain *domain;	/* NULL: emulated */
	bool pinned_page_dirty_scope;
	struct vfio_iommu_group *next;
};

struct vfio_iova {
	dma_addr_t start, end;		/* inclusive */
};

/* The iommu->iova_list of the kernel, sorted, as an array. */
struct vfio_iova_list {
	struct vfio_iova r[VFIO_IOVA_MAX];
	int n;
};

struct vfio_iommu;

struct vfio_dma {
	struct rb_node node;
	dma_addr_t iova;
	unsigned long vaddr;
	size_t size;
	int prot;
	bool iommu_mapped;
	bool lock_cap;
	bool vaddr_invalid;
	bool has_rsvd;			/* 089722e8939e */
	struct task_struct *task;	/* group leader */
	struct mm_struct *mm;
	uint64_t *bitmap;		/* dirty, one bit per smallest IOMMU page */
	uint64_t bitmap_bits;		/* what it was allocated for (not the kernel's) */
	long locked_vm;
	struct vfio_iommu *iommu;	/* for its statistics */
};

/*
 * The kernel gets the batch's page array from __get_free_page(); here it is
 * part of the batch, on the stack of vfio_pin_map_dma()/replay, so that a
 * task ended mid-MAP_DMA (an oops, the scheduler's livelock watchdog)
 * leaks no host memory.  No allocation can fail, so the single-slot
 * fallback is used only when asked for (disable_hugepages).
 */
struct vfio_batch {
	struct page **pages;
	struct page *fallback_page;
	int capacity;
	int size;
	int offset;
	struct page *page_array[VFIO_BATCH_MAX_CAPACITY];
};

struct vfio_regions {
	dma_addr_t iova;
	phys_addr_t phys;
	size_t len;
};

/*
 * vfio_unmap_unpin()'s unmapped_region_list: allocated once per container
 * (it is used under iommu->lock only), so that unmapping allocates nothing.
 */
struct unmap_gather {
	struct vfio_regions entry[VFIO_IOMMU_TLB_SYNC_MAX];
	int n;
};

struct vfio_iommu {
	struct mutex lock;
	struct vfio_domain *domain_list;
	struct vfio_iommu_group *groups;
	struct vfio_iova_list iova_list;
	struct rb_root dma_list;
	unsigned int nr_dmas;
	unsigned int dma_avail;
	unsigned int vaddr_invalid_count;
	uint64_t pgsize_bitmap;
	uint64_t num_non_pinned_groups;
	int num_emulated_groups;
	bool v2;
	bool nesting;
	bool dirty_page_tracking;
	struct unmap_gather gather;
	struct vfio_type1_stats stats;
	/*
	 * Issue 15: the pages type1 charged to locked_vm for this container's
	 * mappings, net of what it uncharged (vfio_lock_acct()) and of the
	 * charges that died with their process: its own ledger, not
	 * mm->locked_vm, which mlock() shares (vfio_check_locked_vm()).
	 */
	long acct_charged;
	/* Its part of the per-mm ledger (locked_vm_ledger.h). */
	struct locked_vm_source ledger;
};

static struct vfio_dma *rb_dma(const struct rb_node *n)
{
	return n ? (struct vfio_dma *)((char *)n - offsetof(struct vfio_dma, node)) : NULL;
}

/*
 * The pinning statistics of the MAP_DMA (or replay) running on this thread;
 * NULL outside one.  Counting happens per call and per step, never per page
 * on the fast path.
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

/* put_pfn() for @dma, counted in its container's statistics. */
static int dma_put_pfn(struct vfio_dma *dma, unsigned long pfn)
{
	int ret = put_pfn(pfn, dma->prot);

	dma->iommu->stats.unpin_calls += ret;
	return ret;
}

static void put_valid_unreserved_pfns(struct vfio_dma *dma, unsigned long start_pfn,
				      unsigned long npage)
{
	unpin_user_page_range_dirty_lock(pfn_to_page(start_pfn), npage, dma->prot & IOMMU_WRITE);
	dma->iommu->stats.unpin_calls++;
}

static unsigned long __ffs64(uint64_t x)
{
	return (unsigned long)__builtin_ctzll(x);
}

static uint64_t iommu_pgsize(struct vfio_iommu *iommu)
{
	return 1ULL << __ffs64(iommu->pgsize_bitmap);
}

/*
 * The "still inside the dma" test of the loops over a dma (vfio_unmap_unpin,
 * vfio_iommu_replay).  6.12 compares an iova against dma->iova + dma->size,
 * which is 0 for a dma ending at 2^64, so those loops never run for it;
 * upstream counts an offset up to dma->size (ef270ec44637).
 */
static bool dma_pos_in(const struct vfio_dma *dma, size_t pos)
{
	if (vfio_type1_cfg.dma_limit_overflow)
		return pos < dma->size;
	return dma->iova + pos < dma->iova + dma->size;
}

/*
 * access_ok(): below x86-64's TASK_SIZE_MAX and not wrapping.  Host
 * pointers of the caller's process pass; a bogus one is refused as the
 * kernel would, before anything is written through it.
 */
#define TASK_SIZE_MAX 0x00007ffffffff000ULL
static bool access_ok(const void *p, uint64_t size)
{
	uintptr_t a = (uintptr_t)p;

	return a <= TASK_SIZE_MAX && size <= TASK_SIZE_MAX - a;
}

/* copy_to_user()/copy_from_user() on the caller's memory; NULL faults. */
static int copy_to_user(void *to, const void *from, size_t n)
{
	if (!to)
		return -EFAULT;
	memcpy(to, from, n);
	return 0;
}

static int copy_from_user(void *to, const void *from, size_t n)
{
	if (!from)
		return -EFAULT;
	memcpy(to, from, n);
	return 0;
}

/* ---------------- the vfio_dma set ---------------- */

/*
 * vfio_find_dma(): a dma overlapping [start, start + size).  6.12 compares
 * exclusive ends (start + size is 0 for a range ending at 2^64: every node
 * then sends the search left, and a dma ending at 2^64 sends it right);
 * upstream compares inclusive ends.
 */
static struct vfio_dma *vfio_find_dma(struct vfio_iommu *iommu, dma_addr_t start, size_t size)
{
	const bool incl = vfio_type1_cfg.dma_limit_overflow;
	struct rb_node *node = iommu->dma_list.node;

	if (incl)
		WARN_ON(!size);
	while (node) {
		struct vfio_dma *dma = rb_dma(node);

		if (incl ? start + size - 1 < dma->iova : start + size <= dma->iova)
			node = node->left;
		else if (incl ? start > dma->iova + dma->size - 1 : start >= dma->iova + dma->size)
			node = node->right;
		else
			return dma;
	}
	return NULL;
}

/*
 * vfio_find_dma_first_node(): the lowest dma overlapping the range.  6.12
 * takes a size (0: no upper bound) and ends with "res->iova >= start +
 * size", always true when the range ends at 2^64; upstream takes the
 * inclusive end.
 */
static struct rb_node *vfio_find_dma_first_node(struct vfio_iommu *iommu, dma_addr_t start,
						uint64_t size, dma_addr_t end)
{
	const bool incl = vfio_type1_cfg.dma_limit_overflow;
	struct rb_node *res = NULL, *node = iommu->dma_list.node;
	struct vfio_dma *dma_res = NULL;

	if (incl)
		WARN_ON(end < start);
	while (node) {
		struct vfio_dma *dma = rb_dma(node);

		if (incl ? start <= dma->iova + dma->size - 1 : start < dma->iova + dma->size) {
			res = node;
			dma_res = dma;
			if (start >= dma->iova)
				break;
			node = node->left;
		} else {
			node = node->right;
		}
	}
	if (incl) {
		if (res && dma_res->iova > end)
			res = NULL;
	} else if (res && size && dma_res->iova >= start + size) {
		res = NULL;
	}
	return res;
}

/* vfio_link_dma(): a new dma is always linked zero-sized. */
static void vfio_link_dma(struct vfio_iommu *iommu, struct vfio_dma *new)
{
	const bool incl = vfio_type1_cfg.dma_limit_overflow;
	struct rb_node **link = &iommu->dma_list.node, *parent = NULL;

	if (incl)
		WARN_ON(new->size != 0);
	while (*link) {
		struct vfio_dma *dma = rb_dma(*link);

		parent = *link;
		if (incl ? new->iova <= dma->iova : new->iova + new->size <= dma->iova)
			link = &parent->left;
		else
			link = &parent->right;
	}
	new->node = (struct rb_node){ .parent = parent };
	*link = &new->node;
	rb_insert_color(&iommu->dma_list, &new->node);
	iommu->nr_dmas++;
}

static void vfio_unlink_dma(struct vfio_iommu *iommu, struct vfio_dma *old)
{
	rb_erase(&iommu->dma_list, &old->node);
	iommu->nr_dmas--;
}

/* ---------------- dirty bitmaps (§1.14) ---------------- */

static void bitmap_set_range(uint64_t *map, uint64_t start, uint64_t nbits)
{
	for (uint64_t b = start; b < start + nbits; b++)
		map[b / 64] |= 1ULL << (b % 64);
}

/*
 * bitmap_clear(map, 0, nbits) (lib/bitmap.c __bitmap_clear()): exactly
 * @nbits bits.  Bits above them in the last word stay: after
 * update_user_bitmap()'s whole-word bitmap_or() they can hold the user's
 * bits, and the kernel reports them again next time.
 */
static void bitmap_clear_bits(uint64_t *map, uint64_t nbits)
{
	memset(map, 0, (nbits / 64) * sizeof(*map));
	if (nbits % 64)
		map[nbits / 64] &= ~((1ULL << (nbits % 64)) - 1);
}

/* __bitmap_shift_left(): whole words, the last one unmasked. */
static void bitmap_shift_left(uint64_t *map, unsigned int shift, uint64_t nbits)
{
	uint64_t lim = (nbits + 63) / 64;

	for (uint64_t k = lim; k-- > 0;) {
		uint64_t lower = shift && k ? map[k - 1] >> (64 - shift) : 0;

		map[k] = lower | (map[k] << shift);
	}
}

static int vfio_dma_bitmap_alloc(struct vfio_dma *dma, size_t pgsize)
{
	uint64_t npages = dma->size / pgsize;

	if (npages > DIRTY_BITMAP_PAGES_MAX)
		return -EINVAL;
	/* One more u64 for bitmap_shift_left() in update_user_bitmap(). */
	dma->bitmap = sim_kzalloc(DIRTY_BITMAP_BYTES(npages) + sizeof(uint64_t));
	if (!dma->bitmap)
		return -ENOMEM;
	dma->bitmap_bits = DIRTY_BITMAP_BYTES(npages) * 8 + 64;
	return 0;
}

static void vfio_dma_bitmap_free(struct vfio_dma *dma)
{
	free(dma->bitmap);
	dma->bitmap = NULL;
}

/* vfio_dma_populate_bitmap(): the bits of pfn_list, which is always empty. */
static void vfio_dma_populate_bitmap(struct vfio_dma *dma, size_t pgsize)
{
	(void)dma;
	(void)pgsize;
}

static void vfio_iommu_populate_bitmap_full(struct vfio_iommu *iommu)
{
	unsigned long pgshift = __ffs64(iommu->pgsize_bitmap);

	for (struct rb_node *n = rb_first(&iommu->dma_list); n; n = rb_next(n)) {
		struct vfio_dma *dma = rb_dma(n);

		uint64_t nbits = dma->size >> pgshift;

		/*
		 * The bitmap was sized for the page size of its allocation; when
		 * the last real domain left and the minimum page shrank, the
		 * kernel overruns it (a latent 6.12 bug).  pinsim WARNs and sets
		 * what fits rather than overrun the host's heap.
		 */
		if (WARN_ON(nbits > dma->bitmap_bits))
			nbits = dma->bitmap_bits;
		bitmap_set_range(dma->bitmap, 0, nbits);
	}
}

static int vfio_dma_bitmap_alloc_all(struct vfio_iommu *iommu, size_t pgsize)
{
	for (struct rb_node *n = rb_first(&iommu->dma_list); n; n = rb_next(n)) {
		struct vfio_dma *dma = rb_dma(n);
		int ret = vfio_dma_bitmap_alloc(dma, pgsize);

		if (ret) {
			for (struct rb_node *p = rb_prev(n); p; p = rb_prev(p))
				vfio_dma_bitmap_free(rb_dma(p));
			return ret;
		}
		vfio_dma_populate_bitmap(dma, pgsize);
	}
	return 0;
}

static void vfio_dma_bitmap_free_all(struct vfio_iommu *iommu)
{
	for (struct rb_node *n = rb_first(&iommu->dma_list); n; n = rb_next(n))
		vfio_dma_bitmap_free(rb_dma(n));
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

/*
 * vfio_lock_acct(): @async is an unpin from another context (unmap, a
 * container's release), where the owner may have exited: its mm is kept by
 * mmgrab() only, so the accounting is skipped with -ESRCH, which those
 * callers ignore.  A MAP_DMA (!@async) runs in the owner itself.
 */
static int vfio_lock_acct(struct vfio_dma *dma, long npage, bool async)
{
	struct mm_struct *mm;
	int ret;

	if (!npage)
		return 0;

	mm = dma->mm;
	if (async && !mmget_not_zero(mm))
		return -ESRCH; /* process exited */

	ret = mm_lock_acct(dma->task, mm, dma->lock_cap, npage);
	if (!ret) {
		dma->locked_vm += npage;
		dma->iommu->acct_charged += npage;
	}

	if (async)
		mmput(mm);

	return ret;
}

/* No externally pinned pages (no mdev): nothing in pfn_list to find. */
static bool vfio_find_vpfn(struct vfio_dma *dma, dma_addr_t iova)
{
	(void)dma;
	(void)iova;
	return false;
}

static long vpfn_pages(struct vfio_dma *dma, dma_addr_t iova, unsigned long npage)
{
	(void)dma;
	(void)iova;
	(void)npage;
	return 0;
}

/* ---------------- batch ---------------- */

static void vfio_batch_init(struct vfio_batch *batch)
{
	batch->size = 0;
	batch->offset = 0;
	if (vfio_type1_cfg.disable_hugepages)
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

		dma_put_pfn(dma, pfn);
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
	(void)round;
	return err;
}

static int retry_eagain(int err, unsigned int round)
{
	(void)err;
	(void)round;
	/* The 2026-03-17 patch: any failure is taken as "zapped, retry". */
	return -EAGAIN;
}

static int retry_bounded(int err, unsigned int round)
{
	(void)err;
	return round < __atomic_load_n(&vfio_type1_cfg.retry_bound, __ATOMIC_RELAXED) ? -EAGAIN
										      : -EBUSY;
}

static int retry_enoent(int err, unsigned int round)
{
	(void)round;
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
	/* 62fb8adc43af/0fd06844de5d (v6.15): the leaf's mask; before, one pfn per lookup. */
	*addr_mask = vfio_type1_cfg.addr_mask_batching ? args.addr_mask : PAGE_MASK;
out:
	follow_pfnmap_end(&args);
	return ret;
}

/* ---------------- vaddr_get_pfns (ref §1.4) ---------------- */

/*
 * The positive number of pfns obtained, the first in *@pfn, or -errno.
 * Upstream (eb996eec783c) fills the batch itself for page-backed pfns and
 * leaves batch->size 0 for a pfnmap, whose pfns run to the end of the leaf
 * (0fd06844de5d); a 0 from GUP is -EFAULT (afe84f3b7a26).  6.12 only pins
 * into batch->pages (the caller sets the batch's size from the return),
 * returns 1 for a pfnmap, and passes a 0 from pin_user_pages_remote()
 * through when the VMA is not a pfnmap (GUP gives 0 only for arguments
 * vfio never passes).
 */
static long vaddr_get_pfns(struct mm_struct *mm, unsigned long vaddr, unsigned long npages,
			   int prot, unsigned long *pfn, struct vfio_batch *batch)
{
	const bool v615 = vfio_type1_cfg.addr_mask_batching;
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
		if (v615) {
			batch->size = (int)ret;
			batch->offset = 0;
		}
		goto done;
	} else if (!ret && v615) {
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
				ret = v615 ? (long)(epfn - *pfn < npages ? epfn - *pfn : npages) : 1;
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

/*
 * Pin the first page and every following page with a consecutive pfn and
 * the same reservedness; charge them to locked_vm.  Two switches:
 *
 *  addr_mask_batching (v6.15, eb996eec783c..0fd06844de5d): a pfnmap answer
 *  leaves the batch empty and is consumed at once; disable_hugepages asks
 *  for one page.  Before (6.12): a pfnmap pfn sits in the batch as a batch
 *  of one with no page behind it, the inner loop consumes it, and a fresh
 *  batch of one that does not continue the run is put back at the end
 *  ("May be a VM_PFNMAP pfn, which the batch can't remember"): the next
 *  call looks it up again.  disable_hugepages stops after one batch.
 *
 *  pin_contig_accounting (v6.18, f6c84a52cc41): one step per contiguous run
 *  of the batch (num_pages_contiguous(), vpfn_pages(), one RLIMIT check),
 *  and dma->has_rsvd.  Before (6.12): one step per page, each page checked
 *  for contiguity and reservedness, vfio_find_vpfn() and a +1 RLIMIT check
 *  per page.  A run mixing reserved and ordinary pages is one run upstream
 *  (GUP "will not return ... reserved pages") and splits in 6.12.
 */
static long vfio_pin_pages_remote(struct vfio_dma *dma, unsigned long vaddr, long npage,
				  unsigned long *pfn_base, unsigned long limit,
				  struct vfio_batch *batch)
{
	const bool v615 = vfio_type1_cfg.addr_mask_batching;
	const bool contig = vfio_type1_cfg.pin_contig_accounting;
	struct mm_struct *mm = current->mm;
	long ret = 0, pinned = 0, lock_acct = 0;
	bool rsvd = false;
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
	}

	if (v615 && vfio_type1_cfg.disable_hugepages)
		npage = 1;

	while (npage) {
		if (!batch->size) {
			/* 6.12.43 "conditional rescheduling while pinning" */
			if (vfio_type1_cfg.pin_cond_resched)
				cond_resched();

			/* Empty batch, so refill it. */
			ret = vaddr_get_pfns(mm, vaddr, (unsigned long)npage, dma->prot, &pfn, batch);
			if (ret < 0)
				goto unpin_out;

			if (!v615) {
				/*
				 * 6.12 takes a 0 as an empty batch and reads on
				 * (an uninitialised pfn, then past the batch):
				 * undefined, and unreachable (see
				 * vaddr_get_pfns()).  Stop with what is pinned.
				 */
				if (WARN_ON(!ret))
					goto out;
				batch->size = (int)ret;
				batch->offset = 0;
			}

			if (!*pfn_base) {
				*pfn_base = pfn;
				rsvd = is_invalid_reserved_pfn(*pfn_base);
			}

			/* Handle pfnmap */
			if (v615 && !batch->size) {
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
		 * because vaddr_get_pfns() has already pinned the pages (in
		 * 6.12 also for a pfnmap pfn, whose batch has no page: the
		 * batch is touched only when more than one pfn is in it).
		 */
		while (true) {
			long nr_pages, acct_pages = 0;

			if (pfn != *pfn_base + pinned || rsvd != is_invalid_reserved_pfn(pfn))
				goto out;

			STAT_INC(acct_steps);
			if (contig) {
				nr_pages = (long)num_pages_contiguous(&batch->pages[batch->offset],
								      (unsigned long)batch->size);
				if (!rsvd) {
					acct_pages = nr_pages;
					acct_pages -= vpfn_pages(dma, iova, (unsigned long)nr_pages);
				}
			} else {
				nr_pages = 1;
				if (!rsvd && !vfio_find_vpfn(dma, iova))
					acct_pages = 1;
			}

			/* Reserved pages aren't counted against the limit. */
			if (acct_pages) {
				if (!dma->lock_cap &&
				    atomic_load(&mm->locked_vm) + lock_acct + acct_pages >
					    (long)limit) {
					sim_printk(
						"pinsim: vfio_pin_pages_remote: RLIMIT_MEMLOCK (%lu) exceeded\n",
						limit << PAGE_SHIFT);
					ret = -ENOMEM;
					goto unpin_out;
				}
				lock_acct += acct_pages;
			}

			if (rsvd)
				STAT_ADD(pfnmap_pages, nr_pages);
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

		if (!v615 && vfio_type1_cfg.disable_hugepages)
			break;
	}

out:
	if (contig)
		dma->has_rsvd |= rsvd;
	if (!rsvd)
		STAT_ADD(pinned_pages, pinned);
	ret = vfio_lock_acct(dma, lock_acct, false);

unpin_out:
	if (!v615 && batch->size == 1 && !batch->offset) {
		/* May be a VM_PFNMAP pfn, which the batch can't remember. */
		dma_put_pfn(dma, pfn);
		batch->size = 0;
	}

	if (ret < 0) {
		if (pinned && !rsvd) {
			for (pfn = *pfn_base; pinned; pfn++, pinned--)
				dma_put_pfn(dma, pfn);
		}
		vfio_batch_unpin(batch, dma);
		return ret;
	}
	return pinned;
}

/* ---------------- unpin (ref §1.6) ---------------- */

/*
 * Upstream (d10872050ffe, d14de5b92578): vpfn_pages() once, and a dma
 * without reserved pfns unpins the run with one
 * unpin_user_page_range_dirty_lock().  6.12: put_pfn() page by page, a
 * reserved pfn skipped, vfio_find_vpfn() for each page unpinned.
 */
static long vfio_unpin_pages_remote(struct vfio_dma *dma, dma_addr_t iova, unsigned long pfn,
				    unsigned long npage, bool do_accounting)
{
	long unlocked = 0, locked = 0;

	if (!vfio_type1_cfg.pin_contig_accounting) {
		for (unsigned long i = 0; i < npage; i++, iova += PAGE_SIZE) {
			if (dma_put_pfn(dma, pfn++)) {
				unlocked++;
				if (vfio_find_vpfn(dma, iova))
					locked++;
			}
		}
	} else {
		locked = vpfn_pages(dma, iova, npage);
		if (dma->has_rsvd) {
			for (unsigned long i = 0; i < npage; i++)
				unlocked += dma_put_pfn(dma, pfn + i);
		} else {
			put_valid_unreserved_pfns(dma, pfn, npage);
			unlocked = (long)npage;
		}
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
	/* The kernel walks the list backwards from d; the order does not show. */
	for (e = iommu->domain_list; e != d; e = e->next) {
		iommu_unmap(e->domain, iova, (size_t)npage << PAGE_SHIFT);
		cond_resched();
	}
	return ret;
}

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
	cond_resched();
	return unlocked;
}

/* The kzalloc() of a struct vfio_regions: fails only when a test asks. */
static bool vfio_region_alloc(void)
{
	unsigned int left = __atomic_load_n(&vfio_type1_cfg.fail_region_allocs, __ATOMIC_RELAXED);

	if (should_fail_alloc(FAIL_SLAB))
		return false;
	while (left) {
		if (__atomic_compare_exchange_n(&vfio_type1_cfg.fail_region_allocs, &left, left - 1,
						false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return false;
	}
	return true;
}

/*
 * unmap_unpin_fast(): unmap without syncing and queue the region.  Sync
 * and unpin when VFIO_IOMMU_TLB_SYNC_MAX regions are queued "or in case of
 * errors": a failed fast unmap (or region allocation) first flushes what
 * is queued, then the caller falls back to unmap_unpin_slow().
 */
static size_t unmap_unpin_fast(struct vfio_domain *domain, struct vfio_dma *dma,
			       dma_addr_t iova, size_t len, phys_addr_t phys, long *unlocked,
			       struct unmap_gather *g)
{
	size_t unmapped = 0;

	if (vfio_region_alloc()) {
		unmapped = iommu_unmap_fast(domain->domain, iova, len);
		if (unmapped)
			g->entry[g->n++] = (struct vfio_regions){ iova, phys, unmapped };
	}
	if (g->n >= VFIO_IOMMU_TLB_SYNC_MAX || !unmapped)
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
	struct unmap_gather *g = &iommu->gather;
	long unlocked = 0;
	size_t pos = 0;

	if (!dma->size)
		return 0;
	if (!iommu->domain_list)
		return 0;

	/*
	 * Every domain but the first is unmapped wholesale; the first gives the
	 * physical addresses to unpin.
	 */
	domain = d = iommu->domain_list;
	for (d = d->next; d; d = d->next) {
		iommu_unmap(d->domain, dma->iova, dma->size);
		cond_resched();
	}

	g->n = 0;	/* iommu_iotlb_gather_init() */
	while (dma_pos_in(dma, pos)) {
		size_t unmapped, len;
		phys_addr_t phys;
		dma_addr_t iova = dma->iova + pos;

		/*
		 * The kernel probes iommu_iova_to_phys() page by page to find the
		 * largest physically contiguous chunk (6.12: a page at a time on
		 * an fgsp domain); the simulated IOMMU gives the same chunk in one
		 * walk (8M probes for a 32 GiB BAR otherwise).
		 */
		if (domain->fgsp) {
			phys = iommu_iova_to_phys(domain->domain, iova);
			len = phys ? PAGE_SIZE : 0;
		} else {
			len = iommu_iova_contig_len(domain->domain, iova, dma->size - pos, &phys);
		}
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

	if (do_accounting) {
		vfio_lock_acct(dma, -unlocked, true);
		return 0;
	}
	return unlocked;
}

/*
 * Issue 15, the locked_vm invariant at a mapping's end: once
 * vfio_unmap_unpin() unpinned it, nothing of @dma may stay charged to a
 * live process's locked_vm (dma->locked_vm counts its charges).  An exited
 * owner's charge died with its mm (vfio_lock_acct()'s -ESRCH): not a leak.
 * A live one's is: e.g. vfio_lock_acct() could not take mmap_lock
 * (killable, a SIGKILLed caller) and the unmap path ignores it, as the
 * kernel's vfio_unmap_unpin() does.  Either way the charge leaves the
 * ledger with the mapping.
 */
static void vfio_check_removed_dma(struct vfio_iommu *iommu, struct vfio_dma *dma)
{
	if (!dma->locked_vm || !dma_checkers_on())
		goto out;
	if (mmget_not_zero(dma->mm)) {
		checker_report(CHECK_LOCKED_VM,
			       "vfio_remove_dma(): IOVA [0x%llx, 0x%llx) unpinned but %ld pages "
			       "still charged to the locked_vm of its live owner (vfio_lock_acct() "
			       "failed in vfio_unmap_unpin())",
			       (unsigned long long)dma->iova,
			       (unsigned long long)(dma->iova + dma->size), dma->locked_vm);
		mmput(dma->mm);
	}
out:
	iommu->acct_charged -= dma->locked_vm;
}

/* ---------------- the per-mm locked_vm ledger (locked_vm_ledger.h) ---------------- */

static struct {
	pthread_mutex_t lock;	/* host lock: held across no schedule point */
	struct locked_vm_source *sources;
	struct locked_vm_ledger_stats stats;
} ledger = { .lock = PTHREAD_MUTEX_INITIALIZER };

void locked_vm_ledger_add(struct locked_vm_source *src)
{
	pthread_mutex_lock(&ledger.lock);
	src->releasing = false;
	src->next = ledger.sources;
	ledger.sources = src;
	pthread_mutex_unlock(&ledger.lock);
}

void locked_vm_ledger_releasing(struct locked_vm_source *src)
{
	pthread_mutex_lock(&ledger.lock);
	src->releasing = true;
	pthread_mutex_unlock(&ledger.lock);
}

void locked_vm_ledger_del(struct locked_vm_source *src)
{
	pthread_mutex_lock(&ledger.lock);
	for (struct locked_vm_source **pp = &ledger.sources; *pp; pp = &(*pp)->next) {
		if (*pp == src) {
			*pp = src->next;
			break;
		}
	}
	pthread_mutex_unlock(&ledger.lock);
}

unsigned int locked_vm_ledger_add_owner(struct mm_struct **mms, unsigned int nr,
					struct mm_struct *mm)
{
	for (unsigned int i = 0; i < nr; i++)
		if (mms[i] == mm)
			return nr;
	mmgrab(mm);
	mms[nr] = mm;
	return nr + 1;
}

void locked_vm_ledger_get_stats(struct locked_vm_ledger_stats *st)
{
	pthread_mutex_lock(&ledger.lock);
	*st = ledger.stats;
	pthread_mutex_unlock(&ledger.lock);
}

/*
 * In a controlled run the checking thread is the only one running until
 * its next schedule point, and the check has none: a free lock is enough,
 * and taking it would add lock operations (footprints, lockdep) that the
 * run without checkers does not have.
 */
enum locked_vm_lock locked_vm_ledger_trylock(struct mutex *lock)
{
	if (atomic_load_explicit(&sched_active, memory_order_relaxed))
		return mutex_is_locked(lock) ? LVM_BUSY : LVM_PEEKED;
	return mutex_trylock(lock) ? LVM_LOCKED : LVM_BUSY;
}

void locked_vm_ledger_unlock(struct mutex *lock, enum locked_vm_lock how)
{
	if (how == LVM_LOCKED)
		mutex_unlock(lock);
}

/* The mmap_lock side: not write-held (mlock_fixup() and munmap update there). */
static enum locked_vm_lock ledger_mm_read(struct mm_struct *mm)
{
	if (atomic_load_explicit(&sched_active, memory_order_relaxed))
		return atomic_load(&mm->mmap_lock.count) & RWSEM_WRITER ? LVM_BUSY : LVM_PEEKED;
	return down_read_trylock(&mm->mmap_lock) ? LVM_LOCKED : LVM_BUSY;
}

/* Frames [pfn, pfn + nr) that are RAM and not PG_reserved, a folio at a time. */
static unsigned long ledger_ram_pages(unsigned long pfn, unsigned long nr)
{
	unsigned long end = pfn + nr, n = 0;

	while (pfn < end && pfn_valid(pfn)) {
		struct folio *folio = page_folio(pfn_to_page(pfn));
		unsigned long next = folio_pfn(folio) + folio_nr_pages(folio);

		if (next > end)
			next = end;
		/* "any driver that sets the reserved bit in head page" sets all. */
		if (!PageReserved(&folio->page))
			n += next - pfn;
		pfn = next;
	}
	return n;	/* MMIO (above max_pfn) is never charged */
}

unsigned long locked_vm_iommu_pages(struct iommu_domain *domain, uint64_t iova, uint64_t size)
{
	unsigned long n = 0;
	uint64_t pos = 0;

	while (pos < size) {
		phys_addr_t phys;
		size_t len = iommu_iova_contig_len(domain, iova + pos, size - pos, &phys);

		if (!len) {
			pos += PAGE_SIZE;	/* a hole: nothing pinned there */
			continue;
		}
		n += ledger_ram_pages(phys >> PAGE_SHIFT, len >> PAGE_SHIFT);
		pos += len;
	}
	return n;
}

/* The mlock share: mlock_fixup(), mmap_region(), munmap and mremap keep it so. */
static unsigned long ledger_vm_locked_pages(struct mm_struct *mm)
{
	unsigned long n = 0;

	for (unsigned int i = 0; i < mm->nr_vmas; i++) {
		const struct vm_area_struct *vma = mm->vmas[i];

		if (vma->vm_flags & VM_LOCKED)
			n += (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
	}
	return n;
}

void locked_vm_ledger_check(struct mm_struct *mm, struct locked_vm_source *self,
			    const char *where)
{
	unsigned long mlocked = 0, dma = 0, pages;
	unsigned int containers = 0;
	enum locked_vm_lock how;
	bool exact = true;
	long locked = 0;

	if (!mm || !dma_checkers_on() || !mmget_not_zero(mm))
		return;
	how = ledger_mm_read(mm);
	/*
	 * No VMA at all: the process has exited.  exit_mmap() leaves
	 * locked_vm as it was (its VM_LOCKED VMAs go uncounted); in the kernel
	 * it runs after the last mmput(), and vfio_lock_acct()'s
	 * mmget_not_zero() fails from then on, but pinsim_proc_destroy() keeps
	 * a user until the containers are gone (lib/pinsim.c).  Not comparable.
	 */
	if (how != LVM_BUSY && !mm->nr_vmas) {
		if (how == LVM_LOCKED)
			mmap_read_unlock(mm);
		how = LVM_BUSY;
	}
	if (how != LVM_BUSY) {
		mlocked = ledger_vm_locked_pages(mm);
		locked = atomic_load(&mm->locked_vm);
	}
	pthread_mutex_lock(&ledger.lock);
	for (struct locked_vm_source *s = ledger.sources; s && how != LVM_BUSY && exact;
	     s = s->next) {
		pages = 0;
		exact = !s->releasing && s->charged(s, mm, s == self, &pages);
		dma += pages;
		containers += pages != 0;
	}
	if (how == LVM_BUSY || !exact)
		ledger.stats.skipped++;
	else
		ledger.stats.checked++;
	pthread_mutex_unlock(&ledger.lock);
	if (how == LVM_LOCKED)
		mmap_read_unlock(mm);
	if (how != LVM_BUSY && exact && locked != (long)(mlocked + dma))
		checker_report(CHECK_LOCKED_VM,
			       "%s: locked_vm of %s (pid %u) is %ld pages, its live charges "
			       "account %lu: VM_LOCKED VMAs %lu, pinned pages of its DMA mappings "
			       "and long-term pins %lu (in %u containers)",
			       where, mm->owner ? mm->owner->comm : "?",
			       mm->owner ? mm->owner->tid : 0, locked, mlocked + dma, mlocked, dma,
			       containers);
	mmput(mm);
}

/* This container's share: under its lock, or read in passing (@held false). */
static bool vfio_ledger_charged(struct locked_vm_source *src, struct mm_struct *mm, bool held,
				unsigned long *pages)
{
	struct vfio_iommu *iommu =
		(struct vfio_iommu *)((char *)src - offsetof(struct vfio_iommu, ledger));
	enum locked_vm_lock how = held ? LVM_PEEKED : locked_vm_ledger_trylock(&iommu->lock);

	*pages = 0;
	if (how == LVM_BUSY)
		return false;
	/* No domain: vfio_dma_do_map() pinned nothing (emulated groups only). */
	for (struct rb_node *n = rb_first(&iommu->dma_list); n && iommu->domain_list;
	     n = rb_next(n)) {
		struct vfio_dma *dma = rb_dma(n);

		if (dma->mm == mm)
			*pages += locked_vm_iommu_pages(iommu->domain_list->domain, dma->iova,
							dma->size);
	}
	locked_vm_ledger_unlock(&iommu->lock, how);
	return true;
}

/*
 * Issue 15, at UNMAP_DMA and container release (iommu->lock held): the
 * pages type1 charged and did not give back equal those its live mappings
 * account (the sum of dma->locked_vm over the tree): type1's own ledger,
 * cheap, in every mode but OFF.  Then, unless this call has already drawn
 * a locked-vm report (one report per fault: vfio_check_removed_dma() says
 * more than a sum can), the per-mm invariant of locked_vm_ledger.h, for
 * each of @mms (the caller's mm; at release the mappings' owners).
 */
static void vfio_check_locked_vm(struct vfio_iommu *iommu, const char *where,
				 unsigned long reports_before, struct mm_struct *const *mms,
				 unsigned int nr)
{
	long live = 0;

	if (!dma_checkers_on())
		return;
	for (struct rb_node *n = rb_first(&iommu->dma_list); n; n = rb_next(n))
		live += rb_dma(n)->locked_vm;
	if (live != iommu->acct_charged) {
		checker_report(CHECK_LOCKED_VM,
			       "%s: type1 charged %ld pages to locked_vm net, its %u live mappings "
			       "account %ld",
			       where, iommu->acct_charged, iommu->nr_dmas, live);
		iommu->acct_charged = live;	/* one report per divergence */
	}
	for (unsigned int i = 0; i < nr; i++)
		if (checker_count(CHECK_LOCKED_VM) == reports_before)
			locked_vm_ledger_check(mms[i], &iommu->ledger, where);
}

#define LEDGER_OWNERS 8

/*
 * The owners of the container's mappings, held (mmgrab()) across their
 * removal so that the ledger can be checked for them after it; the first
 * LEDGER_OWNERS, unless the checkers are OFF (once per detach or release).
 */
static unsigned int vfio_ledger_owners(struct vfio_iommu *iommu, struct mm_struct **mms)
{
	unsigned int nr = 0;

	for (struct rb_node *n = rb_first(&iommu->dma_list); n && dma_checkers_on() &&
							     nr < LEDGER_OWNERS;
	     n = rb_next(n))
		nr = locked_vm_ledger_add_owner(mms, nr, rb_dma(n)->mm);
	return nr;
}

static void vfio_remove_dma(struct vfio_iommu *iommu, struct vfio_dma *dma)
{
	vfio_unmap_unpin(iommu, dma, true);
	vfio_check_removed_dma(iommu, dma);
	vfio_unlink_dma(iommu, dma);
	/* The owner's references: the last mmdrop() frees an exited mm's pgd. */
	put_task_struct(dma->task);
	mmdrop(dma->mm);
	vfio_dma_bitmap_free(dma);
	if (dma->vaddr_invalid)
		iommu->vaddr_invalid_count--;
	free(dma);
	iommu->dma_avail++;
}

/* vfio_iommu_unmap_unpin_all() */
static void vfio_iommu_unmap_unpin_all(struct vfio_iommu *iommu)
{
	struct rb_node *node;

	while ((node = rb_first(&iommu->dma_list)))
		vfio_remove_dma(iommu, rb_dma(node));
}

static void vfio_update_pgsize_bitmap(struct vfio_iommu *iommu)
{
	iommu->pgsize_bitmap = ~(uint64_t)0;
	for (struct vfio_domain *d = iommu->domain_list; d; d = d->next)
		iommu->pgsize_bitmap &= iommu_domain_pgsize_bitmap(d->domain);
	/* Sub-PAGE_SIZE support is hidden: PAGE_SIZE is pretended instead. */
	if (iommu->pgsize_bitmap & (PAGE_SIZE - 1)) {
		iommu->pgsize_bitmap &= ~(uint64_t)(PAGE_SIZE - 1);
		iommu->pgsize_bitmap |= PAGE_SIZE;
	}
}

/* ---------------- dirty bitmap to user ---------------- */

/*
 * update_user_bitmap().  @ubitmap_bytes is the size the user gave (the
 * kernel does not pass it down): where the kernel would write past the
 * user's bitmap or read past dma->bitmap — a mapping that 6.12's range
 * checks miss (one ending at 2^64), a bitmap sized for a larger page —
 * pinsim WARNs and gives -EFAULT instead of writing into host memory.
 */
static int update_user_bitmap(uint64_t *ubitmap, uint64_t ubitmap_bytes,
			      struct vfio_iommu *iommu, struct vfio_dma *dma,
			      dma_addr_t base_iova, size_t pgsize)
{
	unsigned long pgshift = __ffs64(pgsize);
	uint64_t nbits = dma->size >> pgshift;
	uint64_t bit_offset = (dma->iova - base_iova) >> pgshift;
	uint64_t copy_offset = bit_offset / 64;
	unsigned int shift = (unsigned int)(bit_offset % 64);
	uint64_t leftover;

	if (WARN_ON(nbits + shift > dma->bitmap_bits ||
		    copy_offset > ubitmap_bytes / 8 ||
		    DIRTY_BITMAP_BYTES(nbits + shift) > ubitmap_bytes - copy_offset * 8))
		return -EFAULT;

	/*
	 * Mark all pages dirty if any IOMMU capable device is not able to
	 * report dirty pages and all pages are pinned and mapped.
	 */
	if (iommu->num_non_pinned_groups && dma->iommu_mapped)
		bitmap_set_range(dma->bitmap, 0, nbits);

	if (shift) {
		bitmap_shift_left(dma->bitmap, shift, nbits + shift);
		if (copy_from_user(&leftover, ubitmap ? ubitmap + copy_offset : NULL,
				   sizeof(leftover)))
			return -EFAULT;
		/* bitmap_or() over @shift bits: the whole first word. */
		dma->bitmap[0] |= leftover;
	}
	if (copy_to_user(ubitmap ? ubitmap + copy_offset : NULL, dma->bitmap,
			 DIRTY_BITMAP_BYTES(nbits + shift)))
		return -EFAULT;
	return 0;
}

/*
 * vfio_iova_dirty_bitmap(): the range may not bisect a mapping.  6.12 asks
 * vfio_find_dma(iova + size - 1, 0) and compares exclusive ends; upstream
 * the inclusive end.
 */
static int vfio_iova_dirty_bitmap(uint64_t *ubitmap, uint64_t ubitmap_bytes,
				  struct vfio_iommu *iommu, dma_addr_t iova, uint64_t size,
				  dma_addr_t iova_end, size_t pgsize)
{
	const bool incl = vfio_type1_cfg.dma_limit_overflow;
	unsigned long pgshift = __ffs64(pgsize);
	struct vfio_dma *dma;
	int ret;

	dma = vfio_find_dma(iommu, iova, 1);
	if (dma && dma->iova != iova)
		return -EINVAL;
	if (incl) {
		dma = vfio_find_dma(iommu, iova_end, 1);
		if (dma && dma->iova + dma->size - 1 != iova_end)
			return -EINVAL;
	} else {
		dma = vfio_find_dma(iommu, iova + size - 1, 0);
		if (dma && dma->iova + dma->size != iova + size)
			return -EINVAL;
	}

	for (struct rb_node *n = rb_first(&iommu->dma_list); n; n = rb_next(n)) {
		dma = rb_dma(n);
		if (dma->iova < iova)
			continue;
		if (incl ? dma->iova > iova_end : dma->iova > iova + size - 1)
			break;
		ret = update_user_bitmap(ubitmap, ubitmap_bytes, iommu, dma, iova, pgsize);
		if (ret)
			return ret;
		/*
		 * Re-populate bitmap to include all pinned pages which are
		 * considered as dirty but exclude pages which are unpinned.
		 */
		bitmap_clear_bits(dma->bitmap, dma->size >> pgshift);
		vfio_dma_populate_bitmap(dma, pgsize);
	}
	return 0;
}

/*
 * verify_bitmap_size().  A pgsize of 0 reaches the kernel's __ffs(0),
 * undefined; every continuation ends in -EINVAL (pgsize differs from the
 * IOMMU's), which is answered here.
 */
static int verify_bitmap_size(uint64_t size, uint64_t pgsize, uint64_t bitmap_size)
{
	uint64_t npages;

	if (!pgsize)
		return -EINVAL;
	npages = size >> __ffs64(pgsize);
	if (!npages || !bitmap_size || bitmap_size > DIRTY_BITMAP_SIZE_MAX ||
	    bitmap_size < DIRTY_BITMAP_BYTES(npages))
		return -EINVAL;
	return 0;
}

/* ---------------- UNMAP_DMA (ref §1.11) ---------------- */

/*
 * vfio_dma_do_unmap().  6.12: every range error is -EINVAL (the wrap test
 * inside the size check), UNMAP_ALL is size U64_MAX, ends are exclusive:
 * a range ending at 2^64 finds nothing to unmap.  Upstream: a wrap is
 * -EOVERFLOW (6012379ede60), UNMAP_ALL is the end ~0, ends are inclusive
 * (ef270ec44637).  unmap->size
 * is the amount unmapped even on failure (the ioctl copies it out only
 * on success).
 */
static int vfio_dma_do_unmap(struct vfio_iommu *iommu, struct vfio_iommu_type1_dma_unmap *unmap,
			     struct vfio_bitmap *bitmap)
{
	const bool ovf = vfio_type1_cfg.dma_limit_overflow;
	bool unmap_all = unmap->flags & VFIO_DMA_UNMAP_FLAG_ALL;
	bool invalidate_vaddr = unmap->flags & VFIO_DMA_UNMAP_FLAG_VADDR;
	dma_addr_t iova = unmap->iova, iova_end = 0;
	uint64_t size = unmap->size;
	struct rb_node *n, *first_n;
	size_t unmapped = 0, pgsize;
	struct vfio_dma *dma;
	int ret = -EINVAL;
	unsigned long reports_before = checker_count(CHECK_LOCKED_VM);

	mutex_lock(&iommu->lock);

	/* Cannot update vaddr if mdev is present. */
	if (invalidate_vaddr && iommu->num_emulated_groups) {
		ret = -EBUSY;
		goto unlock;
	}

	/* Upstream's field-fit test (-EOVERFLOW): u64 fits a 64-bit size_t. */
	pgsize = iommu_pgsize(iommu);
	if (iova & (pgsize - 1))
		goto unlock;

	if (unmap_all) {
		if (iova || size)
			goto unlock;
		if (ovf)
			iova_end = ~(dma_addr_t)0;
		else
			size = UINT64_MAX;
	} else if (ovf) {
		if (!size || size & (pgsize - 1))
			goto unlock;
		if (__builtin_add_overflow(iova, size - 1, &iova_end)) {
			ret = -EOVERFLOW;
			goto unlock;
		}
	} else if (!size || size & (pgsize - 1) || iova + size - 1 < iova || size > SIZE_MAX) {
		goto unlock;
	}

	/* When dirty tracking is enabled, allow only min supported pgsize */
	if ((unmap->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    (!iommu->dirty_page_tracking || bitmap->pgsize != pgsize))
		goto unlock;

	/* The kernel expects no IOMMU page above PAGE_SIZE: a 2M minimum WARNs. */
	WARN_ON((pgsize - 1) & ~(uint64_t)(PAGE_SIZE - 1));

	/*
	 * v2: a request that bisects a mapping at either end is refused.
	 * (The "again:" label of the kernel serves the mdev notify path,
	 * which cannot happen here: pfn_list is always empty.)
	 */
	if (iommu->v2 && !unmap_all) {
		dma = vfio_find_dma(iommu, iova, 1);
		if (dma && dma->iova != iova)
			goto unlock;
		if (ovf) {
			dma = vfio_find_dma(iommu, iova_end, 1);
			if (dma && dma->iova + dma->size - 1 != iova_end)
				goto unlock;
		} else {
			dma = vfio_find_dma(iommu, iova + size - 1, 0);
			if (dma && dma->iova + dma->size != iova + size)
				goto unlock;
		}
	}

	ret = 0;
	n = first_n = vfio_find_dma_first_node(iommu, iova, size, iova_end);

	while (n) {
		dma = rb_dma(n);
		if (ovf ? dma->iova > iova_end : dma->iova >= iova + size)
			break;

		if (!iommu->v2 && iova > dma->iova)
			break;

		if (invalidate_vaddr) {
			if (dma->vaddr_invalid) {
				struct rb_node *last_n = n;

				/* Undo the invalidations made by this call. */
				for (n = first_n; n != last_n; n = rb_next(n)) {
					rb_dma(n)->vaddr_invalid = false;
					iommu->vaddr_invalid_count--;
				}
				ret = -EINVAL;
				unmapped = 0;
				break;
			}
			dma->vaddr_invalid = true;
			iommu->vaddr_invalid_count++;
			unmapped += dma->size;
			n = rb_next(n);
			continue;
		}

		if (unmap->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
			ret = update_user_bitmap((uint64_t *)bitmap->data, bitmap->size, iommu, dma,
						 iova, pgsize);
			if (ret)
				break;
		}

		unmapped += dma->size;
		n = rb_next(n);
		vfio_remove_dma(iommu, dma);
	}
	/* Per UNMAP_DMA it reads every mapping of the mm: only with the costly checkers. */
	vfio_check_locked_vm(iommu, "VFIO_IOMMU_UNMAP_DMA", reports_before,
			     current ? &current->mm : NULL, current && checkers_on() ? 1 : 0);

unlock:
	mutex_unlock(&iommu->lock);

	/* Report how much was unmapped */
	unmap->size = unmapped;
	return ret;
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

	vfio_batch_init(&batch);

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
	for (int i = 0; i < iommu->iova_list.n; i++)
		if (start >= iommu->iova_list.r[i].start && end <= iommu->iova_list.r[i].end)
			return true;
	/* A container with only emulated groups has an empty list. */
	return !iommu->iova_list.n;
}

/*
 * vfio_change_dma_owner(): a VADDR update from another process moves the
 * charge, and the references, to it.  The old owner may have exited (a
 * forked child updating the parent's mapping): then there is nothing to
 * unaccount.
 */
static int vfio_change_dma_owner(struct vfio_dma *dma)
{
	struct task_struct *task = current->group_leader;
	struct mm_struct *mm = current->mm;
	long npage = dma->locked_vm;
	bool lock_cap;
	int ret;

	if (mm == dma->mm)
		return 0;

	lock_cap = capable_ipc_lock();
	ret = mm_lock_acct(task, mm, lock_cap, npage);
	if (ret)
		return ret;

	if (mmget_not_zero(dma->mm)) {
		mm_lock_acct(dma->task, dma->mm, dma->lock_cap, -npage);
		mmput(dma->mm);
	}

	if (dma->task != task) {
		put_task_struct(dma->task);
		dma->task = get_task_struct(task);
	}
	mmdrop(dma->mm);
	dma->mm = mm;
	mmgrab(dma->mm);
	dma->lock_cap = lock_cap;
	return 0;
}

/*
 * vfio_dma_do_map().  6.12: a field that does not fit is -EINVAL, prot and
 * VADDR are checked next, then under the lock size 0 and the alignment
 * (one test), then wrap (-EINVAL).  Upstream (6012379ede60): field fit
 * and wrap are -EOVERFLOW, size 0 -EINVAL, all before prot.
 */
static int vfio_dma_do_map(struct vfio_iommu *iommu, struct vfio_iommu_type1_dma_map *map)
{
	const bool ovf = vfio_type1_cfg.dma_limit_overflow;
	bool set_vaddr = map->flags & VFIO_DMA_MAP_FLAG_VADDR;
	dma_addr_t iova = map->iova, iova_end = 0;
	unsigned long vaddr = map->vaddr, vaddr_end;
	size_t size = map->size;
	struct vfio_dma *dma;
	uint64_t pgsize;
	int ret = 0, prot = 0;

	/* Verify that none of our __u64 fields overflow: 64-bit, they fit. */
	if (map->size != size || map->vaddr != vaddr || map->iova != iova)
		return ovf ? -EOVERFLOW : -EINVAL;

	if (ovf) {
		if (!size)
			return -EINVAL;
		if (__builtin_add_overflow(iova, size - 1, &iova_end) ||
		    __builtin_add_overflow(vaddr, size - 1, &vaddr_end))
			return -EOVERFLOW;
	}

	/* READ/WRITE from device perspective */
	if (map->flags & VFIO_DMA_MAP_FLAG_WRITE)
		prot |= IOMMU_WRITE;
	if (map->flags & VFIO_DMA_MAP_FLAG_READ)
		prot |= IOMMU_READ;

	if ((prot && set_vaddr) || (!prot && !set_vaddr))
		return -EINVAL;

	mutex_lock(&iommu->lock);

	pgsize = iommu_pgsize(iommu);
	/* (pgsize - 1) & PAGE_MASK: a minimum IOMMU page above PAGE_SIZE WARNs. */
	WARN_ON((pgsize - 1) & ~(uint64_t)(PAGE_SIZE - 1));

	if ((!ovf && !size) || (size | iova | vaddr) & (pgsize - 1)) {
		ret = -EINVAL;
		goto out_unlock;
	}

	/* 6.12: don't allow IOVA or virtual address wrap */
	if (!ovf) {
		if (iova + size - 1 < iova || vaddr + size - 1 < vaddr) {
			ret = -EINVAL;
			goto out_unlock;
		}
		iova_end = iova + size - 1;
	}

	dma = vfio_find_dma(iommu, iova, size);
	if (set_vaddr) {
		if (!dma) {
			ret = -ENOENT;
		} else if (!dma->vaddr_invalid || dma->iova != iova || dma->size != size) {
			ret = -EINVAL;
		} else {
			ret = vfio_change_dma_owner(dma);
			if (ret)
				goto out_unlock;
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

	dma = sim_kzalloc(sizeof(*dma));
	if (!dma) {
		ret = -ENOMEM;
		goto out_unlock;
	}

	iommu->dma_avail--;
	dma->iova = iova;
	dma->vaddr = vaddr;
	dma->prot = prot;
	/*
	 * The owner's references (vfio_dma_do_map()): the dma outlives the
	 * process when a forked child keeps the container.
	 */
	get_task_struct(current->group_leader);
	dma->task = current->group_leader;
	dma->lock_cap = capable_ipc_lock();
	dma->mm = current->mm;
	mmgrab(dma->mm);
	dma->iommu = iommu;

	/* Insert zero-sized and grow as we map chunks of it */
	vfio_link_dma(iommu, dma);

	/* Don't pin and map if container doesn't contain IOMMU capable domain */
	if (!iommu->domain_list)
		dma->size = size;
	else
		ret = vfio_pin_map_dma(iommu, dma, size);

	if (!ret && iommu->dirty_page_tracking) {
		ret = vfio_dma_bitmap_alloc(dma, pgsize);
		if (ret)
			vfio_remove_dma(iommu, dma);
	}

out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

enum vfio_map_outcome vfio_map_outcome_of(long ret)
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

void vfio_pin_stats_add(struct vfio_pin_stats *t, const struct vfio_pin_stats *s)
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
	t->acct_steps += s->acct_steps;
}

/* ---------------- the ioctls' user copies (vfio_iommu_type1_*_dma) ---------------- */

static long vfio_iommu_type1_map_dma(struct vfio_iommu *iommu, void *arg)
{
	struct vfio_iommu_type1_dma_map map;
	const size_t minsz = offsetof(struct vfio_iommu_type1_dma_map, size) + sizeof(map.size);
	const uint32_t mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE |
			      VFIO_DMA_MAP_FLAG_VADDR;
	struct vfio_pin_stats st = { 0 };
	int ret;

	if (copy_from_user(&map, arg, minsz))
		return -EFAULT;
	if (map.argsz < minsz || map.flags & ~mask)
		return -EINVAL;

	pin_stats = &st;
	ret = vfio_dma_do_map(iommu, &map);
	pin_stats = NULL;

	mutex_lock(&iommu->lock);
	iommu->stats.last = st;
	vfio_pin_stats_add(&iommu->stats.total, &st);
	iommu->stats.outcomes[vfio_map_outcome_of(ret)]++;
	mutex_unlock(&iommu->lock);
	return ret;
}

static long vfio_iommu_type1_unmap_dma(struct vfio_iommu *iommu, void *arg)
{
	struct vfio_iommu_type1_dma_unmap unmap;
	struct vfio_bitmap bitmap = { 0 };
	const size_t minsz = offsetof(struct vfio_iommu_type1_dma_unmap, size) +
			     sizeof(unmap.size);
	const uint32_t mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR |
			      VFIO_DMA_UNMAP_FLAG_ALL;
	int ret;

	if (copy_from_user(&unmap, arg, minsz))
		return -EFAULT;
	if (unmap.argsz < minsz || unmap.flags & ~mask)
		return -EINVAL;

	/* GET_DIRTY_BITMAP and UNMAP_ALL/VADDR are mutually exclusive */
	if ((unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    (unmap.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)))
		return -EINVAL;

	if (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
		if (unmap.argsz < minsz + sizeof(bitmap))
			return -EINVAL;
		if (copy_from_user(&bitmap, (char *)arg + minsz, sizeof(bitmap)))
			return -EFAULT;
		if (!access_ok(bitmap.data, bitmap.size))
			return -EINVAL;
		ret = verify_bitmap_size(unmap.size, bitmap.pgsize, bitmap.size);
		if (ret)
			return ret;
	}

	ret = vfio_dma_do_unmap(iommu, &unmap, &bitmap);
	if (ret)
		return ret;
	return copy_to_user(arg, &unmap, minsz);
}

/* ---------------- DIRTY_PAGES (ref §1.14) ---------------- */

static long vfio_iommu_type1_dirty_pages(struct vfio_iommu *iommu, void *arg)
{
	const bool ovf = vfio_type1_cfg.dma_limit_overflow;
	struct vfio_iommu_type1_dirty_bitmap dirty;
	const uint32_t mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
			      VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	const size_t minsz = offsetof(struct vfio_iommu_type1_dirty_bitmap, flags) +
			     sizeof(dirty.flags);
	int ret = 0;

	if (!iommu->v2)
		return -EACCES;

	if (copy_from_user(&dirty, arg, minsz))
		return -EFAULT;
	if (dirty.argsz < minsz || dirty.flags & ~mask)
		return -EINVAL;

	/* only one flag should be set at a time (__ffs == __fls; __ffs(0) is undefined) */
	if (!dirty.flags || (dirty.flags & (dirty.flags - 1)))
		return -EINVAL;

	if (dirty.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
		mutex_lock(&iommu->lock);
		if (!iommu->dirty_page_tracking) {
			ret = vfio_dma_bitmap_alloc_all(iommu, iommu_pgsize(iommu));
			if (!ret)
				iommu->dirty_page_tracking = true;
		}
		mutex_unlock(&iommu->lock);
		return ret;
	} else if (dirty.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
		mutex_lock(&iommu->lock);
		if (iommu->dirty_page_tracking) {
			iommu->dirty_page_tracking = false;
			vfio_dma_bitmap_free_all(iommu);
		}
		mutex_unlock(&iommu->lock);
		return 0;
	} else {
		struct vfio_iommu_type1_dirty_bitmap_get range;
		size_t data_size = dirty.argsz - minsz;
		dma_addr_t iova, iova_end = 0;
		uint64_t size, iommu_pgsize_;

		if (!data_size || data_size < sizeof(range))
			return -EINVAL;
		if (copy_from_user(&range, (char *)arg + minsz, sizeof(range)))
			return -EFAULT;

		iova = range.iova;
		size = range.size;
		if (ovf) {
			/* field fit: 64-bit, always */
			if (!size)
				return -EINVAL;
			if (__builtin_add_overflow(iova, size - 1, &iova_end))
				return -EOVERFLOW;
		} else if (range.iova + range.size < range.iova) {
			return -EINVAL;
		}
		if (!access_ok(range.bitmap.data, range.bitmap.size))
			return -EINVAL;
		ret = verify_bitmap_size(size, range.bitmap.pgsize, range.bitmap.size);
		if (ret)
			return ret;

		mutex_lock(&iommu->lock);
		iommu_pgsize_ = iommu_pgsize(iommu);
		/* allow only smallest supported pgsize */
		if (range.bitmap.pgsize != iommu_pgsize_ || iova & (iommu_pgsize_ - 1) ||
		    ((!ovf && !size) || size & (iommu_pgsize_ - 1))) {
			ret = -EINVAL;
			goto out_unlock;
		}
		if (iommu->dirty_page_tracking)
			ret = vfio_iova_dirty_bitmap((uint64_t *)range.bitmap.data,
						     range.bitmap.size, iommu, iova, size,
						     iova_end, range.bitmap.pgsize);
		else
			ret = -EINVAL;
out_unlock:
		mutex_unlock(&iommu->lock);
		return ret;
	}
}

/* ---------------- GET_INFO (ref §1.13) ---------------- */

struct caps {
	unsigned char buf[512];
	size_t size;
};

/*
 * vfio_info_cap_add() (vfio_main.c): each capability is padded to 8 bytes
 * and chained from the previous one by its offset in the buffer.
 */
static void *cap_add(struct caps *c, size_t len, uint16_t id, uint16_t version)
{
	struct vfio_info_cap_header *h, *tmp;

	len = (len + 7) & ~(size_t)7;
	if (c->size + len > sizeof(c->buf))
		return NULL;
	h = (void *)(c->buf + c->size);
	memset(h, 0, len);
	h->id = id;
	h->version = version;
	for (tmp = (void *)c->buf; tmp->next; tmp = (void *)(c->buf + tmp->next))
		;
	tmp->next = (uint32_t)c->size;
	c->size += len;
	return h;
}

/* vfio_info_cap_shift(): offsets become relative to the info struct. */
static void cap_shift(struct caps *c, size_t offset)
{
	struct vfio_info_cap_header *tmp;

	for (tmp = (void *)c->buf; tmp->next; tmp = (void *)(c->buf + tmp->next - offset))
		tmp->next += (uint32_t)offset;
}

static long vfio_iommu_type1_get_info(struct vfio_iommu *iommu, void *arg)
{
	struct vfio_iommu_type1_info info;
	size_t minsz = offsetof(struct vfio_iommu_type1_info, iova_pgsizes) +
		       sizeof(info.iova_pgsizes);
	struct vfio_iommu_type1_info_cap_migration *mig;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_iova_range *range;
	struct caps caps = { .size = 0 };

	/* struct vfio_iommu_type1_info info = {} (a881b496941f): no stack bytes leak. */
	memset(&info, 0, sizeof(info));
	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	/* What goes back: as much of the struct as the caller said it has. */
	minsz = info.argsz < sizeof(info) ? info.argsz : sizeof(info);

	mutex_lock(&iommu->lock);
	info.flags = VFIO_IOMMU_INFO_PGSIZES;
	info.iova_pgsizes = iommu->pgsize_bitmap;

	/* vfio_iommu_migration_build_caps(): the minimum page size */
	mig = cap_add(&caps, sizeof(*mig), VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 1);
	mig->flags = 0;
	mig->pgsize_bitmap = iommu_pgsize(iommu);
	mig->max_dirty_bitmap_size = DIRTY_BITMAP_SIZE_MAX;

	avail = cap_add(&caps, sizeof(*avail), VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1);
	avail->avail = iommu->dma_avail;

	/* vfio_iommu_iova_build_caps(): none for an empty list */
	if (iommu->iova_list.n) {
		range = cap_add(&caps,
				sizeof(*range) + iommu->iova_list.n * sizeof(range->iova_ranges[0]),
				VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1);
		range->nr_iovas = (uint32_t)iommu->iova_list.n;
		for (int i = 0; i < iommu->iova_list.n; i++) {
			range->iova_ranges[i].start = iommu->iova_list.r[i].start;
			range->iova_ranges[i].end = iommu->iova_list.r[i].end;
		}
	}
	mutex_unlock(&iommu->lock);

	if (caps.size) {
		info.flags |= VFIO_IOMMU_INFO_CAPS;
		if (info.argsz < sizeof(info) + caps.size) {
			info.argsz = (uint32_t)(sizeof(info) + caps.size);
		} else {
			cap_shift(&caps, sizeof(info));
			if (copy_to_user((unsigned char *)arg + sizeof(info), caps.buf, caps.size))
				return -EFAULT;
			info.cap_offset = sizeof(info);
		}
	}
	return copy_to_user(arg, &info, minsz);
}

/* ---------------- extensions, ioctl ---------------- */

static long vfio_iommu_type1_check_extension(struct vfio_iommu *iommu, unsigned long arg)
{
	switch (arg) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	case VFIO_TYPE1_NESTING_IOMMU:
		/* Advertised until v6.13; upstream the value is reserved. */
		return vfio_type1_cfg.type1_nesting;
	case VFIO_UPDATE_VADDR:
		/* Disable this feature if mdevs are present. */
		return iommu && !iommu->num_emulated_groups;
	case VFIO_DMA_CC_IOMMU:
		/*
		 * vfio_domains_have_enforce_cache_coherency(): 1 unless a domain
		 * cannot enforce; every simulated domain can (and none is 1).
		 */
		return iommu ? 1 : 0;
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
	case VFIO_IOMMU_DIRTY_PAGES:
		return vfio_iommu_type1_dirty_pages(iommu, arg);
	default:
		return -ENOTTY;
	}
}

/* ---------------- replay (attach of a new domain) ---------------- */

/*
 * vfio_iommu_replay(): bring a new domain up to date with every mapping.
 * A failure unwinds from the failing dma back to the first: an already
 * mapped dma is unmapped from the new domain, one pinned here is unmapped
 * and unpinned chunk by chunk.
 */
static int vfio_iommu_replay(struct vfio_iommu *iommu, struct vfio_domain *domain)
{
	struct vfio_domain *d = iommu->domain_list;	/* the first, for lookups */
	struct vfio_batch batch;
	unsigned long limit = rlimit_memlock(current) >> PAGE_SHIFT;
	struct rb_node *n;
	int ret = 0;

	vfio_batch_init(&batch);

	for (n = rb_first(&iommu->dma_list); n; n = rb_next(n)) {
		struct vfio_dma *dma = rb_dma(n);
		size_t pos = 0;

		while (dma_pos_in(dma, pos)) {
			dma_addr_t iova = dma->iova + pos;
			phys_addr_t phys;
			size_t size;

			if (dma->iommu_mapped) {
				if (WARN_ON(!d)) {	/* mapped w/o a domain?! */
					ret = -EINVAL;
					goto unwind;
				}
				/* The physically contiguous chunk (page-by-page probes upstream). */
				size = iommu_iova_contig_len(d->domain, iova, dma->size - pos, &phys);
				if (WARN_ON(!size || !phys)) {
					pos += PAGE_SIZE;
					continue;
				}
			} else {
				unsigned long pfn;
				long npage;

				npage = vfio_pin_pages_remote(dma, dma->vaddr + pos,
							      (long)((dma->size - pos) >> PAGE_SHIFT),
							      &pfn, limit, &batch);
				if (npage <= 0) {
					WARN_ON(!npage);
					ret = (int)npage;
					goto unwind;
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
				goto unwind;
			}
			pos += size;
		}
	}

	/* All dmas are now mapped, defer to second tree walk for unwind */
	for (n = rb_first(&iommu->dma_list); n; n = rb_next(n))
		rb_dma(n)->iommu_mapped = true;
	vfio_batch_fini(&batch);
	return 0;

unwind:
	for (; n; n = rb_prev(n)) {
		struct vfio_dma *dma = rb_dma(n);
		size_t pos = 0;

		if (dma->iommu_mapped) {
			iommu_unmap(domain->domain, dma->iova, dma->size);
			continue;
		}
		while (dma_pos_in(dma, pos)) {
			dma_addr_t iova = dma->iova + pos;
			phys_addr_t phys;
			size_t size = iommu_iova_contig_len(domain->domain, iova, dma->size - pos,
							    &phys);

			if (!size || !phys) {
				pos += PAGE_SIZE;
				continue;
			}
			iommu_unmap(domain->domain, iova, size);
			vfio_unpin_pages_remote(dma, iova, phys >> PAGE_SHIFT, size >> PAGE_SHIFT,
						true);
			/* The kernel re-probes the unmapped chunk page by page; same end. */
			pos += size;
		}
	}
	vfio_batch_fini(&batch);
	return ret;
}

/*
 * vfio_test_domain_fgsp() (6.12, removed by 07970d048cdd): map two pages at
 * the first 8K-aligned iova of the list, unmap one; a domain that unmaps
 * both has fine-grained super pages.  The simulated table maps 8K as two 4K
 * leaves, as VT-d does: fgsp stays false.  The pages are never touched by
 * a device, so the reserved frames at physical 0 stand for the kernel's
 * alloc_pages().
 */
static void vfio_test_domain_fgsp(struct vfio_domain *domain, const struct vfio_iova_list *l)
{
	for (int i = 0; i < l->n; i++) {
		dma_addr_t start = (l->r[i].start + 2 * PAGE_SIZE - 1) & ~(2 * PAGE_SIZE - 1);

		if (start >= l->r[i].end || l->r[i].end - start < 2 * PAGE_SIZE)
			continue;
		if (!iommu_map(domain->domain, start, 0, 2 * PAGE_SIZE,
			       IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE)) {
			size_t unmapped = iommu_unmap(domain->domain, start, PAGE_SIZE);

			if (unmapped == PAGE_SIZE)
				iommu_unmap(domain->domain, start + PAGE_SIZE, PAGE_SIZE);
			else
				domain->fgsp = true;
		}
		break;
	}
}

/* ---------------- the iova list (aperture minus reserved regions) ---------------- */

static int iova_insert(struct vfio_iova_list *l, int at, dma_addr_t start, dma_addr_t end)
{
	if (l->n == VFIO_IOVA_MAX)
		return -ENOMEM;	/* the kmalloc() of vfio_iommu_iova_insert() */
	memmove(&l->r[at + 1], &l->r[at], (size_t)(l->n - at) * sizeof(l->r[0]));
	l->r[at] = (struct vfio_iova){ start, end };
	l->n++;
	return 0;
}

static void iova_del(struct vfio_iova_list *l, int at)
{
	memmove(&l->r[at], &l->r[at + 1], (size_t)(l->n - at - 1) * sizeof(l->r[0]));
	l->n--;
}

/* The domain's geometry, clipped by the configured aperture. */
static void vfio_domain_aperture(struct iommu_domain *domain, dma_addr_t *start, dma_addr_t *end)
{
	const struct iommu_domain_geometry *geo = iommu_domain_geometry(domain);

	*start = geo->aperture_start;
	*end = geo->aperture_end < vfio_type1_cfg.iova_aperture_end
		       ? geo->aperture_end
		       : vfio_type1_cfg.iova_aperture_end;
}

/*
 * vfio_iommu_aper_conflict(): the new aperture is disjoint from the list,
 * or leaves out an existing mapping.
 */
static bool vfio_iommu_aper_conflict(struct vfio_iommu *iommu, dma_addr_t start, dma_addr_t end)
{
	const struct vfio_iova_list *l = &iommu->iova_list;
	const struct vfio_iova *first, *last;

	if (!l->n)
		return false;
	first = &l->r[0];
	last = &l->r[l->n - 1];
	if (start > last->end || end < first->start)
		return true;
	if (start > first->start && vfio_find_dma(iommu, first->start, start - first->start))
		return true;
	if (end < last->end && vfio_find_dma(iommu, end + 1, last->end - end))
		return true;
	return false;
}

/* vfio_iommu_aper_resize(), with the kernel's strict "start < node->end". */
static int vfio_iommu_aper_resize(struct vfio_iova_list *l, dma_addr_t start, dma_addr_t end)
{
	int i;

	if (!l->n)
		return iova_insert(l, 0, start, end);

	for (i = 0; i < l->n;) {
		if (start < l->r[i].start)
			break;
		if (start >= l->r[i].start && start < l->r[i].end) {
			l->r[i].start = start;
			break;
		}
		iova_del(l, i);		/* nodes before the new start */
	}
	for (i = 0; i < l->n;) {
		if (end > l->r[i].end) {
			i++;
			continue;
		}
		if (end > l->r[i].start && end <= l->r[i].end) {
			l->r[i].end = end;
			i++;
			continue;
		}
		iova_del(l, i);		/* nodes after the new end */
	}
	return 0;
}

static bool vfio_iommu_resv_conflict(struct vfio_iommu *iommu,
				     const struct iommu_resv_region *resv, int nr)
{
	for (int i = 0; i < nr; i++) {
		if (resv[i].type == IOMMU_RESV_DIRECT_RELAXABLE)
			continue;
		if (vfio_find_dma(iommu, resv[i].start, resv[i].length))
			return true;
	}
	return false;
}

static int vfio_iommu_resv_exclude(struct vfio_iova_list *l, const struct iommu_resv_region *resv,
				   int nr)
{
	for (int k = 0; k < nr; k++) {
		dma_addr_t start, end;

		if (resv[k].type == IOMMU_RESV_DIRECT_RELAXABLE)
			continue;
		start = resv[k].start;
		end = resv[k].start + resv[k].length - 1;

		for (int i = 0; i < l->n;) {
			struct vfio_iova n = l->r[i];
			int ret = 0, at = i;

			if (start > n.end || end < n.start) {
				i++;
				continue;
			}
			/* New nodes go before the overlapped one, which is deleted. */
			if (start > n.start)
				ret = iova_insert(l, at++, n.start, start - 1);
			if (!ret && end < n.end)
				ret = iova_insert(l, at++, end + 1, n.end);
			if (ret)
				return ret;
			iova_del(l, at);
			i = at;
		}
	}
	if (!l->n)
		return -EINVAL;
	return 0;
}

/* vfio_iommu_aper_expand(): after a domain left, the widest common aperture. */
static void vfio_iommu_aper_expand(struct vfio_iommu *iommu, struct vfio_iova_list *l)
{
	dma_addr_t start = 0, end = ~(dma_addr_t)0;

	if (!l->n)
		return;
	for (struct vfio_domain *d = iommu->domain_list; d; d = d->next) {
		dma_addr_t s, e;

		vfio_domain_aperture(d->domain, &s, &e);
		if (s > start)
			start = s;
		if (e < end)
			end = e;
	}
	l->r[0].start = start;
	l->r[l->n - 1].end = end;
}

/* vfio_iommu_resv_refresh(): the list rebuilt from the remaining groups' regions. */
static int vfio_iommu_resv_refresh(struct vfio_iommu *iommu, struct vfio_iova_list *l)
{
	struct iommu_resv_region resv[VFIO_RESV_MAX];
	dma_addr_t start, end;
	int nr = 0, ret;

	if (!l->n)
		return -EINVAL;
	/*
	 * Every group behind the simulated IOMMU reports the same regions;
	 * the kernel collects them once per group, and excluding a region
	 * twice changes nothing, so once for all groups is the same list.
	 */
	for (struct vfio_iommu_group *g = iommu->groups; g; g = g->next) {
		if (g->domain) {
			nr = iommu_get_group_resv_regions(resv, VFIO_RESV_MAX);
			break;
		}
	}
	start = l->r[0].start;
	end = l->r[l->n - 1].end;
	l->n = 0;
	ret = vfio_iommu_aper_resize(l, start, end);
	if (ret)
		return ret;
	return vfio_iommu_resv_exclude(l, resv, nr);
}

/* ---------------- open / release / attach / detach ---------------- */

int vfio_iommu_type1_open(unsigned long arg, struct vfio_iommu **out)
{
	struct vfio_iommu *iommu = sim_kzalloc(sizeof(*iommu));

	if (!iommu)
		return -ENOMEM;
	switch (arg) {
	case VFIO_TYPE1_IOMMU:
		break;
	case VFIO_TYPE1_NESTING_IOMMU:
		/*
		 * 6.12: nesting, which implies v2.  Upstream the value is
		 * __VFIO_RESERVED_TYPE1_NESTING_IOMMU and still opens, as a
		 * plain v2 (CHECK_EXTENSION no longer offers it, so SET_IOMMU
		 * never gets here).
		 */
		iommu->nesting = vfio_type1_cfg.type1_nesting;
		iommu->v2 = true;
		break;
	case VFIO_TYPE1v2_IOMMU:
		iommu->v2 = true;
		break;
	default:
		free(iommu);
		return -EINVAL;
	}
	mutex_init(&iommu->lock, "vfio_iommu");
	iommu->dma_avail = vfio_type1_cfg.dma_entry_limit;
	/* PAGE_MASK: every size >= PAGE_SIZE, until a domain exists. */
	iommu->pgsize_bitmap = ~(uint64_t)(PAGE_SIZE - 1);
	iommu->ledger.charged = vfio_ledger_charged;
	locked_vm_ledger_add(&iommu->ledger);
	*out = iommu;
	return 0;
}

void vfio_iommu_type1_release(struct vfio_iommu *iommu)
{
	unsigned long reports_before = checker_count(CHECK_LOCKED_VM);
	struct mm_struct *owners[LEDGER_OWNERS];
	unsigned int nr_owners;
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
	nr_owners = vfio_ledger_owners(iommu, owners);
	vfio_iommu_unmap_unpin_all(iommu);
	vfio_check_locked_vm(iommu, "container release", reports_before, owners, nr_owners);
	locked_vm_ledger_del(&iommu->ledger);
	while (nr_owners)
		mmdrop(owners[--nr_owners]);
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
	mutex_destroy(&iommu->lock);
	free(iommu);
}

static struct vfio_iommu_group *vfio_iommu_find_iommu_group(struct vfio_iommu *iommu,
							    int group_id)
{
	for (struct vfio_iommu_group *g = iommu->groups; g; g = g->next)
		if (g->group_id == group_id)
			return g;
	return NULL;
}

/*
 * vfio_iommu_type1_attach_group().  Groups behind the same IOMMU unit share
 * a domain: that is the simulation's "same iommu_ops and cache coherency,
 * and iommu_attach_group() onto the existing domain succeeds".  As in the
 * kernel a domain is allocated (and 6.12 enables nesting on it) before an
 * existing one is matched.
 */
int vfio_iommu_type1_attach_group(struct vfio_iommu *iommu, int group_id, int iommu_unit,
				  bool emulated)
{
	struct iommu_resv_region resv[VFIO_RESV_MAX];
	struct vfio_iova_list iova_copy;
	struct vfio_iommu_group *group;
	struct vfio_domain *domain, *d;
	dma_addr_t aper_start, aper_end;
	int nr_resv, ret = -EBUSY;

	mutex_lock(&iommu->lock);

	/* Attach could require pinning, so disallow while vaddr is invalid. */
	if (iommu->vaddr_invalid_count)
		goto out_unlock;

	/* Check for duplicates */
	ret = -EINVAL;
	if (vfio_iommu_find_iommu_group(iommu, group_id))
		goto out_unlock;

	ret = -ENOMEM;
	group = sim_kzalloc(sizeof(*group));
	if (!group)
		goto out_unlock;
	group->group_id = group_id;

	if (emulated) {
		/* An emulated group dirties memory only through the pin interface. */
		group->pinned_page_dirty_scope = true;
		iommu->num_emulated_groups++;
		group->next = iommu->groups;
		iommu->groups = group;
		ret = 0;
		goto out_unlock;
	}

	ret = -ENOMEM;
	domain = sim_kzalloc(sizeof(*domain));
	if (!domain)
		goto out_free_group;
	domain->iommu_unit = iommu_unit;
	domain->domain = iommu_domain_alloc(vfio_type1_cfg.iommu_pgsize_bitmap);
	if (!domain->domain)
		goto out_free_domain;

	if (iommu->nesting) {
		ret = iommu_enable_nesting(domain->domain);
		if (ret)
			goto out_domain;
	}

	/* iommu_attach_group(): a simulated group always attaches. */
	vfio_domain_aperture(domain->domain, &aper_start, &aper_end);
	if (vfio_iommu_aper_conflict(iommu, aper_start, aper_end)) {
		ret = -EINVAL;
		goto out_domain;
	}

	nr_resv = iommu_get_group_resv_regions(resv, VFIO_RESV_MAX);
	if (vfio_iommu_resv_conflict(iommu, resv, nr_resv)) {
		ret = -EINVAL;
		goto out_domain;
	}

	/* A copy: the list stays as it was if anything below fails. */
	iova_copy = iommu->iova_list;
	ret = vfio_iommu_aper_resize(&iova_copy, aper_start, aper_end);
	if (ret)
		goto out_domain;
	ret = vfio_iommu_resv_exclude(&iova_copy, resv, nr_resv);
	if (ret)
		goto out_domain;

	/* Interrupt remapping: isolated MSI.  Snoop control: coherency enforced. */
	domain->enforce_cache_coherency = true;

	for (d = iommu->domain_list; d; d = d->next) {
		if (d->iommu_unit == domain->iommu_unit &&
		    d->enforce_cache_coherency == domain->enforce_cache_coherency) {
			iommu_domain_free(domain->domain);
			free(domain);
			domain = d;
			goto done;
		}
	}

	if (vfio_type1_cfg.fgsp_probe)
		vfio_test_domain_fgsp(domain, &iova_copy);

	/* replay mappings on new domains */
	ret = vfio_iommu_replay(iommu, domain);
	if (ret)
		goto out_domain;

	/* x86 reports IOMMU_RESV_MSI, not SW_MSI: no MSI cookie. */

	domain->next = iommu->domain_list;	/* list_add(): the new domain is first */
	iommu->domain_list = domain;
	vfio_update_pgsize_bitmap(iommu);
done:
	domain->nr_groups++;
	group->domain = domain;
	group->next = iommu->groups;
	iommu->groups = group;
	iommu->iova_list = iova_copy;
	/* An iommu backed group can dirty memory directly. */
	iommu->num_non_pinned_groups++;
	mutex_unlock(&iommu->lock);
	return 0;

out_domain:
	iommu_domain_free(domain->domain);
out_free_domain:
	free(domain);
out_free_group:
	free(group);
out_unlock:
	mutex_unlock(&iommu->lock);
	return ret;
}

/* vfio_iommu_unmap_unpin_reaccount(): with no external pins, nothing stays charged. */
static void vfio_iommu_unmap_unpin_reaccount(struct vfio_iommu *iommu)
{
	for (struct rb_node *n = rb_first(&iommu->dma_list); n; n = rb_next(n)) {
		struct vfio_dma *dma = rb_dma(n);
		long locked = 0, unlocked = vfio_unmap_unpin(iommu, dma, false);

		vfio_lock_acct(dma, locked - unlocked, true);
	}
}

void vfio_iommu_type1_detach_group(struct vfio_iommu *iommu, int group_id)
{
	struct vfio_iommu_group **pp, *g = NULL;
	struct vfio_iova_list iova_copy;
	bool update_dirty_scope = false;
	struct vfio_domain *domain;
	unsigned long reports_before = checker_count(CHECK_LOCKED_VM);
	struct mm_struct *owners[LEDGER_OWNERS];
	unsigned int nr_owners;

	mutex_lock(&iommu->lock);
	/* The last group's detach takes the mappings: check their owners after. */
	nr_owners = vfio_ledger_owners(iommu, owners);
	for (pp = &iommu->groups; *pp; pp = &(*pp)->next) {
		if ((*pp)->group_id == group_id) {
			g = *pp;
			break;
		}
	}
	if (!g)
		goto out;

	if (!g->domain) {
		update_dirty_scope = !g->pinned_page_dirty_scope;
		*pp = g->next;
		free(g);
		if (!--iommu->num_emulated_groups && !iommu->domain_list)
			vfio_iommu_unmap_unpin_all(iommu);
		goto detach_group_done;
	}

	/* A copy of the iova list, put in place only if its refresh works. */
	iova_copy = iommu->iova_list;

	domain = g->domain;
	update_dirty_scope = !g->pinned_page_dirty_scope;
	*pp = g->next;
	free(g);
	/*
	 * Group ownership provides privilege: without groups the domain goes.
	 * The last domain takes the mappings with it, unless emulated groups
	 * remain (then they are unmapped and unpinned, and re-accounted).
	 */
	if (!--domain->nr_groups) {
		struct vfio_domain **dp;

		if (iommu->domain_list == domain && !domain->next) {
			if (!iommu->num_emulated_groups)
				vfio_iommu_unmap_unpin_all(iommu);
			else
				vfio_iommu_unmap_unpin_reaccount(iommu);
		}
		iommu_domain_free(domain->domain);
		for (dp = &iommu->domain_list; *dp; dp = &(*dp)->next) {
			if (*dp == domain) {
				*dp = domain->next;
				break;
			}
		}
		free(domain);
		vfio_iommu_aper_expand(iommu, &iova_copy);
		vfio_update_pgsize_bitmap(iommu);
	}

	if (!vfio_iommu_resv_refresh(iommu, &iova_copy))
		iommu->iova_list = iova_copy;

detach_group_done:
	/* Removal of a group without dirty tracking may promote the scope. */
	if (update_dirty_scope) {
		iommu->num_non_pinned_groups--;
		if (iommu->dirty_page_tracking)
			vfio_iommu_populate_bitmap_full(iommu);
	}
out:
	vfio_check_locked_vm(iommu, "group detach", reports_before, owners, nr_owners);
	while (nr_owners)
		mmdrop(owners[--nr_owners]);
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

/*
 * nr_dmas and dma_avail change under iommu->lock (vfio_link_dma(),
 * vfio_dma_do_map(), vfio_remove_dma()); a reader takes it too, as
 * vfio_iommu_type1_get_info() does for dma_avail, so that a MAP_DMA on
 * another thread is seen whole (pinsim_vfio_stats() samples these while
 * the preload's VMM maps).
 */
unsigned int vfio_iommu_nr_dmas(struct vfio_iommu *iommu)
{
	unsigned int n;

	mutex_lock(&iommu->lock);
	n = iommu->nr_dmas;
	mutex_unlock(&iommu->lock);
	return n;
}

unsigned int vfio_iommu_dma_avail(struct vfio_iommu *iommu)
{
	unsigned int n;

	mutex_lock(&iommu->lock);
	n = iommu->dma_avail;
	mutex_unlock(&iommu->lock);
	return n;
}

/* ---------------- the backend table (lib/vfio_iommu_driver.h) ---------------- */

/*
 * vfio_iommu_driver_ops_type1 of vfio_iommu_type1.c: the front end
 * (lib/vfio_fd.c) reaches the rewrite only through this table, as
 * container.c reaches a driver only through its ops.
 */
static int type1_open(unsigned long arg, void **data)
{
	struct vfio_iommu *iommu;
	int ret = vfio_iommu_type1_open(arg, &iommu);

	if (!ret)
		*data = iommu;
	return ret;
}

static void type1_release(void *data)
{
	vfio_iommu_type1_release(data);
}

static long type1_ioctl(void *data, unsigned int cmd, void *arg)
{
	return vfio_iommu_type1_ioctl(data, cmd, arg);
}

static int type1_attach_group(void *data, int group_id, int iommu_unit, bool emulated)
{
	return vfio_iommu_type1_attach_group(data, group_id, iommu_unit, emulated);
}

static void type1_detach_group(void *data, int group_id)
{
	vfio_iommu_type1_detach_group(data, group_id);
}

static struct iommu_domain *type1_group_domain(void *data, int group_id)
{
	return vfio_iommu_group_domain(data, group_id);
}

static void type1_get_stats(void *data, struct vfio_type1_stats *st)
{
	vfio_iommu_type1_get_stats(data, st);
}

static unsigned int type1_nr_dmas(void *data)
{
	return vfio_iommu_nr_dmas(data);
}

static unsigned int type1_dma_avail(void *data)
{
	return vfio_iommu_dma_avail(data);
}

const struct vfio_iommu_backend vfio_iommu_type1_rewrite = {
	.name = "vfio-iommu-type1 (pinsim)",
	.open = type1_open,
	.release = type1_release,
	.ioctl = type1_ioctl,
	.attach_group = type1_attach_group,
	.detach_group = type1_detach_group,
	.group_domain = type1_group_domain,
	.get_stats = type1_get_stats,
	.nr_dmas = type1_nr_dmas,
	.dma_avail = type1_dma_avail,
};
