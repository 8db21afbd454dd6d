// SPDX-License-Identifier: GPL-2.0-only
/*
 * ktree_vfio_iommu_type1: the kernel tree's own
 * drivers/vfio/vfio_iommu_type1.c (compiled whole by ktree/meson.build,
 * ktree/vfio/) behind the container backend table of
 * lib/vfio_iommu_driver.h, so that lib/vfio_fd.c drives it as it drives
 * pinsim's rewrite (vfio_iommu_type1_rewrite).
 *
 * Per container: the tree's own struct vfio_iommu (its ops->open() data),
 * one simulated iommu_group per group id (created on attach, with its IOMMU
 * unit and one PCI device, freed on detach), and pinsim's statistics.
 *
 * Statistics (struct vfio_type1_stats, lib/vfio.h) come only from the
 * shim's wrappers around what the tree's code calls (ktree_vfio_shim.h),
 * never from edits to it; per-MAP_DMA counters (.last, .total) only while
 * a MAP_DMA runs, as pinsim's type1 counts:
 *   vaddr_get_pfns  its calls, seen at its mmap_read_lock();
 *   gup_calls       pin_user_pages_remote() from vaddr_get_pfns();
 *   follow_failures follow_pfnmap_start() != 0 in follow_fault_pfn();
 *   faults          fixup_user_fault() from follow_fault_pfn();
 *   eagain_loops    vaddr_get_pfns()'s `goto retry` (a second vma_lookup()
 *                   in one call);
 *   iommu_maps      vfio_iommu_map() calls (its iommu_map() of the first
 *                   domain);
 *   pinned_pages, pfnmap_pages  the pages of the runs vfio_iommu_map() is
 *                   asked to map (pinsim's type1 counts a run once
 *                   vfio_pin_pages_remote() has it, before its
 *                   vfio_lock_acct(): the two differ only for a run whose
 *                   accounting then fails, which the tree never maps);
 *   unpin_calls     unpin_user_pages_dirty_lock() and
 *                   unpin_user_page_range_dirty_lock() calls, container
 *                   life (outside MAP_DMA too).
 * Stay 0, and why:
 *   retries         pinsim's retry policies are the rewrite's; the tree's
 *                   retry behaviour is whatever its source does (a patched
 *                   tree that retries shows up in eagain_loops);
 *   acct_steps      one per step of vfio_pin_pages_remote()'s inner loop,
 *                   which calls nothing of its own per step (only static
 *                   helpers shared with other paths, is_invalid_reserved_pfn()
 *                   and vfio_find_vpfn()): not visible without editing the
 *                   file.
 * outcomes[] counts MAP_DMA results as pinsim's type1 does.
 *
 * Checker hook (issue 15): each container is a source of the per-mm
 * locked_vm ledger (lib/locked_vm_ledger.h), its share read from its IOMMU
 * domain (ktree_type1_charged_pages()), and the ledger is checked for the
 * caller's mm after an UNMAP_DMA and for the mappings' owners after the
 * release, as pinsim's type1 does under its lock; the tree's code is not
 * touched.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdlib.h>

#include "bug.h"
#include "checker.h"
#include "iommu.h"
#include "locked_vm_ledger.h"
#include "vfio.h"
#include "vfio_iommu_driver.h"
#include "vfio/include/ktree_vfio_type1.h"

struct ktree_type1_group {
	int id;
	struct iommu_group *group;
	struct ktree_type1_group *next;
};

struct ktree_type1 {
	void *tree; /* the tree's struct vfio_iommu */
	struct ktree_type1_group *groups;
	pthread_mutex_t lock; /* groups and stats */
	struct vfio_type1_stats stats;
	struct locked_vm_source ledger;
};

#define KTREE_LEDGER_OWNERS 8

/* The container's share of an mm's locked_vm: only with its lock free. */
static bool tree_ledger_charged(struct locked_vm_source *src, struct mm_struct *mm, bool held,
				unsigned long *pages)
{
	struct ktree_type1 *t =
		(struct ktree_type1 *)((char *)src - offsetof(struct ktree_type1, ledger));
	struct mutex *lock = ktree_type1_lock(t->tree);
	enum locked_vm_lock how = held ? LVM_PEEKED : locked_vm_ledger_trylock(lock);

	if (how == LVM_BUSY)
		return false;
	*pages = ktree_type1_charged_pages(t->tree, mm);
	locked_vm_ledger_unlock(lock, how);
	return true;
}

/* The owners of the container's mappings, mmgrab()bed, if they can be read. */
static unsigned int ledger_owners(struct ktree_type1 *t, struct mm_struct **owners)
{
	struct mutex *lock = ktree_type1_lock(t->tree);
	enum locked_vm_lock how;
	unsigned int nr;

	if (!dma_checkers_on())
		return 0;
	how = locked_vm_ledger_trylock(lock);
	if (how == LVM_BUSY)
		return 0;
	nr = ktree_type1_dma_owners(t->tree, owners, KTREE_LEDGER_OWNERS);
	locked_vm_ledger_unlock(lock, how);
	return nr;
}

/* After the tree's call: one check per owner, unless the call drew a report. */
static void ledger_check_owners(struct mm_struct **owners, unsigned int nr,
				unsigned long reports_before, const char *where)
{
	while (nr--) {
		if (checker_count(CHECK_LOCKED_VM) == reports_before)
			locked_vm_ledger_check(owners[nr], NULL, where);
		mmdrop(owners[nr]);
	}
}

/* The call in progress on this thread: where the wrappers count. */
static __sim_tls struct ktree_type1 *cur;
static __sim_tls struct vfio_pin_stats *cur_pin; /* during a MAP_DMA only */

void ktree_type1_count(enum ktree_type1_counter c, unsigned long n)
{
	struct vfio_pin_stats *s = cur_pin;

	if (c == KTREE_UNPIN_CALLS) {
		if (cur) {
			pthread_mutex_lock(&cur->lock);
			cur->stats.unpin_calls += n;
			pthread_mutex_unlock(&cur->lock);
		}
		return;
	}
	if (!s)
		return;
	switch (c) {
	case KTREE_VADDR_GET_PFNS:
		s->vaddr_get_pfns += n;
		break;
	case KTREE_GUP_CALLS:
		s->gup_calls += n;
		break;
	case KTREE_FOLLOW_FAILURES:
		s->follow_failures += n;
		break;
	case KTREE_FAULTS:
		s->faults += n;
		break;
	case KTREE_EAGAIN_LOOPS:
		s->eagain_loops += n;
		break;
	case KTREE_IOMMU_MAPS:
		s->iommu_maps += n;
		break;
	case KTREE_PINNED_PAGES:
		s->pinned_pages += n;
		break;
	case KTREE_PFNMAP_PAGES:
		s->pfnmap_pages += n;
		break;
	case KTREE_UNPIN_CALLS:
		break;
	}
}

/*
 * The file's module parameters and the IOMMU's page sizes and aperture
 * from pinsim's configuration, as pinsim's type1 reads them: the tree's
 * dma_entry_limit and disable_hugepages are module-wide statics, so they
 * are set before every call (a machine's configuration is fixed while it
 * runs).  Interrupt remapping is always present (no allow_unsafe_interrupts).
 */
static void enter(struct ktree_type1 *t)
{
	ktree_type1_set_params(vfio_type1_cfg.dma_entry_limit, vfio_type1_cfg.disable_hugepages,
			       false);
	ktree_iommu_pgsize_bitmap = vfio_type1_cfg.iommu_pgsize_bitmap;
	ktree_iommu_aperture_end = vfio_type1_cfg.iova_aperture_end;
	cur = t;
	ktree_type1_set_current(t ? t->tree : NULL);
}

static void leave(void)
{
	cur = NULL;
	cur_pin = NULL;
	ktree_type1_set_current(NULL);
}

static int tree_open(unsigned long arg, void **data)
{
	struct ktree_type1 *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	enter(NULL);
	ret = ktree_type1_open(arg, &t->tree);
	leave();
	if (ret) {
		free(t);
		return ret;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->ledger.charged = tree_ledger_charged;
	locked_vm_ledger_add(&t->ledger);
	*data = t;
	return 0;
}

static void tree_release(void *data)
{
	struct ktree_type1 *t = data;
	struct ktree_type1_group *g, *next;
	unsigned long reports_before = checker_count(CHECK_LOCKED_VM);
	struct mm_struct *owners[KTREE_LEDGER_OWNERS];
	unsigned int nr_owners = ledger_owners(t, owners);

	/* Its mappings go away unlocked: the ledger stops reading them now. */
	locked_vm_ledger_releasing(&t->ledger);
	enter(t);
	ktree_type1_release(t->tree);
	leave();
	locked_vm_ledger_del(&t->ledger);
	ledger_check_owners(owners, nr_owners, reports_before, "container release");
	for (g = t->groups; g; g = next) {
		next = g->next;
		ktree_type1_group_free(g->group);
		free(g);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* @arg: the caller's struct (user memory), or CHECK_EXTENSION's number. */
static long tree_ioctl(void *data, unsigned int cmd, void *arg)
{
	struct ktree_type1 *t = data;
	struct vfio_pin_stats st = {0};
	unsigned long reports_before;
	long ret;

	if (!t) {
		/* The core polls drivers before one is set: CHECK_EXTENSION only. */
		if (cmd != VFIO_CHECK_EXTENSION || !ktree_type1_registered())
			return cmd == VFIO_CHECK_EXTENSION ? 0 : -ENOTTY;
		enter(NULL);
		ret = ktree_type1_ioctl(NULL, cmd, (unsigned long)arg);
		leave();
		return ret;
	}
	reports_before = checker_count(CHECK_LOCKED_VM);
	enter(t);
	if (cmd == VFIO_IOMMU_MAP_DMA)
		cur_pin = &st;
	ret = ktree_type1_ioctl(t->tree, cmd, (unsigned long)arg);
	leave();
	/* After the tree's vfio_dma_do_unmap() has dropped iommu->lock. */
	if (cmd == VFIO_IOMMU_UNMAP_DMA && current && checkers_on() &&
	    checker_count(CHECK_LOCKED_VM) == reports_before)
		locked_vm_ledger_check(current->mm, NULL, "VFIO_IOMMU_UNMAP_DMA");
	if (cmd == VFIO_IOMMU_MAP_DMA) {
		pthread_mutex_lock(&t->lock);
		t->stats.last = st;
		vfio_pin_stats_add(&t->stats.total, &st);
		t->stats.outcomes[vfio_map_outcome_of(ret)]++;
		pthread_mutex_unlock(&t->lock);
	}
	return ret;
}

static struct ktree_type1_group *group_find(struct ktree_type1 *t, int group_id)
{
	struct ktree_type1_group *g;

	for (g = t->groups; g; g = g->next)
		if (g->id == group_id)
			return g;
	return NULL;
}

/*
 * A group id already attached is passed as the same iommu_group: the
 * tree's duplicate check answers (-EINVAL).
 */
static int tree_attach_group(void *data, int group_id, int iommu_unit, bool emulated)
{
	struct ktree_type1 *t = data;
	struct ktree_type1_group *g;
	int ret;

	pthread_mutex_lock(&t->lock);
	g = group_find(t, group_id);
	pthread_mutex_unlock(&t->lock);
	if (g) {
		enter(t);
		ret = ktree_type1_attach_group(t->tree, g->group, emulated);
		leave();
		return ret;
	}

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->id = group_id;
	g->group = ktree_type1_group_alloc(group_id, iommu_unit);
	if (!g->group) {
		free(g);
		return -ENOMEM;
	}
	enter(t);
	ret = ktree_type1_attach_group(t->tree, g->group, emulated);
	leave();
	if (ret) {
		ktree_type1_group_free(g->group);
		free(g);
		return ret;
	}
	pthread_mutex_lock(&t->lock);
	g->next = t->groups;
	t->groups = g;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static void tree_detach_group(void *data, int group_id)
{
	struct ktree_type1 *t = data;
	struct ktree_type1_group **pp, *g = NULL;
	unsigned long reports_before = checker_count(CHECK_LOCKED_VM);
	struct mm_struct *owners[KTREE_LEDGER_OWNERS];
	unsigned int nr_owners;

	pthread_mutex_lock(&t->lock);
	for (pp = &t->groups; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == group_id) {
			g = *pp;
			*pp = g->next;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (!g)
		return;
	/* The last group's detach takes the mappings: check their owners after. */
	nr_owners = ledger_owners(t, owners);
	enter(t);
	ktree_type1_detach_group(t->tree, g->group);
	leave();
	ledger_check_owners(owners, nr_owners, reports_before, "group detach");
	ktree_type1_group_free(g->group);
	free(g);
}

static struct iommu_domain *tree_group_domain(void *data, int group_id)
{
	struct ktree_type1 *t = data;
	struct ktree_type1_group *g;
	struct iommu_domain *d;

	pthread_mutex_lock(&t->lock);
	g = group_find(t, group_id);
	pthread_mutex_unlock(&t->lock);
	if (!g)
		return NULL;
	enter(t);
	d = ktree_type1_group_domain(t->tree, g->group);
	leave();
	return d;
}

static void tree_get_stats(void *data, struct vfio_type1_stats *st)
{
	struct ktree_type1 *t = data;

	pthread_mutex_lock(&t->lock);
	*st = t->stats;
	pthread_mutex_unlock(&t->lock);
}

static unsigned int tree_nr_dmas(void *data)
{
	return ktree_type1_nr_dmas(((struct ktree_type1 *)data)->tree);
}

static unsigned int tree_dma_avail(void *data)
{
	return ktree_type1_dma_avail(((struct ktree_type1 *)data)->tree);
}

const struct vfio_iommu_backend ktree_vfio_iommu_type1 = {
	.name = "vfio-iommu-type1 (kernel tree " KTREE_VERSION ")",
	.open = tree_open,
	.release = tree_release,
	.ioctl = tree_ioctl,
	.attach_group = tree_attach_group,
	.detach_group = tree_detach_group,
	.group_domain = tree_group_domain,
	.get_stats = tree_get_stats,
	.nr_dmas = tree_nr_dmas,
	.dma_avail = tree_dma_avail,
};
