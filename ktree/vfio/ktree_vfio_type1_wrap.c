// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tree's drivers/vfio/vfio_iommu_type1.c, whole: the build-dir copy
 * ktree/meson.build makes of it (with a #line marker back into the tree)
 * is #included here, so that what follows can reach its static structs
 * (struct vfio_iommu, vfio_dma, vfio_domain) and its module parameters.
 * Exported (ktree/vfio/include/ktree_vfio_type1.h): the driver ops the
 * file's module_init registers, called with this thread's container noted
 * for the shim's wrappers, and the observations pinsim's tests need.
 * Nothing here changes what the tree's code does.
 */
#include "vfio_iommu_type1.inc"

/* ---- uapi: what the file uses of the host's <linux/vfio.h> is 6.12's ---- */
_Static_assert(VFIO_TYPE1_IOMMU == 1 && VFIO_TYPE1v2_IOMMU == 3 && VFIO_TYPE1_NESTING_IOMMU == 6 &&
		       VFIO_UNMAP_ALL == 9 && VFIO_UPDATE_VADDR == 10 && VFIO_DMA_CC_IOMMU == 4,
	       "extension numbers");
_Static_assert(VFIO_IOMMU_GET_INFO == 0x3b70 && VFIO_IOMMU_MAP_DMA == 0x3b71 &&
		       VFIO_IOMMU_UNMAP_DMA == 0x3b72 && VFIO_IOMMU_DIRTY_PAGES == 0x3b75 &&
		       VFIO_CHECK_EXTENSION == 0x3b65,
	       "ioctl numbers");
_Static_assert(sizeof(struct vfio_iommu_type1_info) == 24 &&
		       offsetof(struct vfio_iommu_type1_info, cap_offset) == 16,
	       "struct vfio_iommu_type1_info");
_Static_assert(sizeof(struct vfio_iommu_type1_dma_map) == 32 &&
		       sizeof(struct vfio_iommu_type1_dma_unmap) == 24 &&
		       sizeof(struct vfio_bitmap) == 24 &&
		       sizeof(struct vfio_iommu_type1_dirty_bitmap) == 8 &&
		       sizeof(struct vfio_iommu_type1_dirty_bitmap_get) == 40,
	       "map/unmap/dirty structs");
_Static_assert(sizeof(struct vfio_iommu_type1_info_cap_iova_range) == 16 &&
		       sizeof(struct vfio_iova_range) == 16 &&
		       sizeof(struct vfio_iommu_type1_info_cap_migration) == 32 &&
		       sizeof(struct vfio_iommu_type1_info_dma_avail) == 12,
	       "capabilities");
_Static_assert(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE == 1 &&
		       VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION == 2 &&
		       VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL == 3 && VFIO_DMA_UNMAP_FLAG_ALL == 2 &&
		       VFIO_DMA_UNMAP_FLAG_VADDR == 4 && VFIO_DMA_MAP_FLAG_VADDR == 4,
	       "capability ids and flags");

const struct vfio_iommu_driver_ops *ktree_vfio_iommu_driver;
__sim_tls bool ktree_vaddr_get_pfns_looked_up;
uint64_t ktree_iommu_pgsize_bitmap = IOMMU_DEFAULT_PGSIZES;
uint64_t ktree_iommu_aperture_end = (1ULL << 48) - 1;

/* The container whose call runs on this thread (the adapter sets it). */
static __sim_tls struct vfio_iommu *ktree_cur;

void ktree_type1_set_current(void *data)
{
	ktree_cur = data;
}

int ktree_vfio_type1_module_init(void);

static int ktree_module_init_ret;

static void ktree_module_init_once(void)
{
	ktree_module_init_ret = ktree_vfio_type1_module_init();
}

/* The file's module_init, once: vfio_iommu_type1_init() registers its ops. */
bool ktree_type1_registered(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, ktree_module_init_once);
	return !ktree_module_init_ret && ktree_vfio_iommu_driver;
}

void ktree_type1_set_params(unsigned int limit, bool no_huge, bool unsafe_interrupts)
{
	dma_entry_limit = limit;
	disable_hugepages = no_huge;
	allow_unsafe_interrupts = unsafe_interrupts;
}

int ktree_type1_open(unsigned long arg, void **data)
{
	void *d;

	if (!ktree_type1_registered())
		return -ENODEV;
	d = ktree_vfio_iommu_driver->open(arg);
	if (IS_ERR(d))
		return (int)PTR_ERR(d);
	*data = d;
	return 0;
}

void ktree_type1_release(void *data)
{
	ktree_vfio_iommu_driver->release(data);
}

long ktree_type1_ioctl(void *data, unsigned int cmd, unsigned long arg)
{
	return ktree_vfio_iommu_driver->ioctl(data, cmd, arg);
}

int ktree_type1_attach_group(void *data, struct iommu_group *group, bool emulated)
{
	return ktree_vfio_iommu_driver->attach_group(data, group,
						     emulated ? VFIO_EMULATED_IOMMU : VFIO_IOMMU);
}

void ktree_type1_detach_group(void *data, struct iommu_group *group)
{
	ktree_vfio_iommu_driver->detach_group(data, group);
}

struct iommu_domain *ktree_type1_group_domain(void *data, struct iommu_group *group)
{
	struct iommu_domain *d = ktree_vfio_iommu_driver->group_iommu_domain(data, group);

	return IS_ERR(d) ? NULL : d;
}

/* Under the container's lock, as the tree reads its own state. */
unsigned int ktree_type1_nr_dmas(void *data)
{
	struct vfio_iommu *iommu = data;
	unsigned int n = 0;

	mutex_lock(&iommu->lock);
	for (struct rb_node *p = rb_first(&iommu->dma_list); p; p = rb_next(p))
		n++;
	mutex_unlock(&iommu->lock);
	return n;
}

unsigned int ktree_type1_dma_avail(void *data)
{
	struct vfio_iommu *iommu = data;
	unsigned int n;

	mutex_lock(&iommu->lock);
	n = iommu->dma_avail;
	mutex_unlock(&iommu->lock);
	return n;
}

/* ---- groups: one PCI device each ---- */

static const struct bus_type ktree_pci_bus = {.name = "pci"};

struct ktree_group {
	struct iommu_group group;
	struct device dev;
};

struct iommu_group *ktree_type1_group_alloc(int id, int iommu_unit)
{
	struct ktree_group *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	iommu_group_init(&g->group, id, iommu_unit);
	g->dev.bus = &ktree_pci_bus;
	g->dev.iommu_group = &g->group;
	return &g->group;
}

void ktree_type1_group_free(struct iommu_group *group)
{
	free(container_of(group, struct ktree_group, group));
}

struct device *ktree_iommu_group_dev(struct iommu_group *group)
{
	return &container_of(group, struct ktree_group, group)->dev;
}

/* ---- what the shim's iommu_map() wrapper asks ---- */

static struct vfio_domain *ktree_cur_domain(const struct iommu_domain *domain, bool last)
{
	struct list_head *h;

	if (!ktree_cur || list_empty(&ktree_cur->domain_list))
		return NULL;
	h = last ? ktree_cur->domain_list.prev : ktree_cur->domain_list.next;
	return list_entry(h, struct vfio_domain, next)->domain == domain ?
		       list_entry(h, struct vfio_domain, next) :
		       NULL;
}

bool ktree_type1_domain_first(const struct iommu_domain *domain)
{
	return ktree_cur_domain(domain, false);
}

bool ktree_type1_domain_last(const struct iommu_domain *domain)
{
	return ktree_cur_domain(domain, true);
}

/*
 * lib/vfio_iommu_type1.c's vfio_pin_map_dma() calls
 * sched_point(SP_PIN_BETWEEN_RUNS, dma->mm, vaddr + dma->size) once a run
 * is pinned and mapped into every domain and dma->size has grown by it:
 * the vaddr of the next run.  In the tree's vfio_pin_map_dma() the last
 * thing that run does that another thread can see is the iommu_map() of
 * vfio_iommu_map() into the last domain of the list (then cond_resched(),
 * return 0, and the size updates, container-private under iommu->lock):
 * so the point goes right after that map succeeds, with the same mm and
 * address.  The vfio_dma is the one whose iova starts at or below the run
 * (linked zero-sized and grown run by run; vfio_dma ranges are disjoint).
 */
void ktree_type1_between_runs(uint64_t iova, uint64_t size)
{
	struct rb_node *n = ktree_cur ? ktree_cur->dma_list.rb_node : NULL;
	struct vfio_dma *dma = NULL;

	while (n) {
		struct vfio_dma *d = rb_entry(n, struct vfio_dma, node);

		if (d->iova <= iova) {
			dma = d;
			n = n->rb_right;
		} else {
			n = n->rb_left;
		}
	}
	if (!dma)
		return;
	sched_point(SP_PIN_BETWEEN_RUNS, dma->mm, dma->vaddr + (iova + size - dma->iova));
}

/*
 * ---- the per-mm locked_vm ledger (lib/locked_vm_ledger.h): the tree's share ----
 * Read from the machine, not from the tree's counters: for each live
 * vfio_dma of @mm, the RAM frames that are not PG_reserved which the first
 * domain translates over [iova, iova + size) — what its
 * vfio_pin_pages_remote() charged with vfio_lock_acct() (every domain maps
 * the same, vfio_iommu_replay()).  No domain: vfio_dma_do_map() pinned
 * nothing.  The caller holds or has checked iommu->lock.
 */
unsigned long ktree_type1_charged_pages(void *data, struct mm_struct *mm)
{
	struct vfio_iommu *iommu = data;
	struct vfio_domain *d;
	unsigned long pages = 0;

	if (list_empty(&iommu->domain_list))
		return 0;
	d = list_first_entry(&iommu->domain_list, struct vfio_domain, next);
	for (struct rb_node *p = rb_first(&iommu->dma_list); p; p = rb_next(p)) {
		struct vfio_dma *dma = rb_entry(p, struct vfio_dma, node);

		if (dma->mm == mm)
			pages += locked_vm_iommu_pages(d->domain, dma->iova, dma->size);
	}
	return pages;
}

struct mutex *ktree_type1_lock(void *data)
{
	return &((struct vfio_iommu *)data)->lock;
}

/*
 * The distinct owners of the container's mappings, mmgrab()bed, at most
 * @max: read at the container's last close, when nothing else uses it
 * (the tree's vfio_iommu_type1_release() takes no lock either).
 */
unsigned int ktree_type1_dma_owners(void *data, struct mm_struct **mms, unsigned int max)
{
	struct vfio_iommu *iommu = data;
	unsigned int nr = 0;

	for (struct rb_node *p = rb_first(&iommu->dma_list); p && nr < max; p = rb_next(p))
		nr = locked_vm_ledger_add_owner(mms, nr, rb_entry(p, struct vfio_dma, node)->mm);
	return nr;
}
