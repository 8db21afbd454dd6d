// SPDX-License-Identifier: GPL-2.0-only
/*
 * Creating and destroying the simulated machine: its configuration, RAM,
 * hugetlb pools, MMIO window and kernel mm.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "checker.h"
#include "inject.h"
#include "kimpl.h"
#include "machine.h"
#include "page.h"
#include "rwsem.h"
#include "sched_point.h"
#include "vfio_pci.h"
#include "scheduler.h"

struct machine *machine;

/* The defaults are the "upstream" profile's (lib/kernel_profiles.c). */
void machine_config_init(struct machine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ram_bytes = 64ULL << 30;
	cfg->thp = THP_MADVISE;
	cfg->arch_has_pte_special = true;
	cfg->arch_supports_pmd_pfnmap = true;
	cfg->arch_supports_pud_pfnmap = true;
	cfg->special_bit_per_level = true;
	cfg->max_bar_fault_order = PUD_ORDER;
	cfg->pagewalk_fixed = true;
	cfg->pagewalk_stale_action_fix = true;
	cfg->task_mmu_hugetlb_ptl = true;
	cfg->vfio_pci_mmap_align = false;
	cfg->mmap_thp_anon_only = true;
}

static int config_check(const struct machine_config *cfg)
{
	uint64_t huge;

	if (!cfg->ram_bytes || cfg->ram_bytes & ((1ULL << 30) - 1))
		return -EINVAL;
	/* struct page.next_free is a 32-bit pfn: 16 TiB of RAM at most. */
	if ((cfg->ram_bytes >> PAGE_SHIFT) > UINT32_MAX)
		return -EINVAL;
	if (cfg->max_bar_fault_order != 0 && cfg->max_bar_fault_order != PMD_ORDER &&
	    cfg->max_bar_fault_order != PUD_ORDER)
		return -EINVAL;
	if (cfg->thp > THP_ALWAYS)
		return -EINVAL;
	/* The tree's code exists only in a -Dkernel_tree build. */
	if (cfg->impl > MACHINE_IMPL_TREE)
		return -EINVAL;
	if (cfg->impl == MACHINE_IMPL_TREE && !kimpl_tree_built())
		return -EOPNOTSUPP;
	huge = cfg->hugetlb_2m_pages * (2ULL << 20) + cfg->hugetlb_1g_pages * (1ULL << 30);
	if (huge > cfg->ram_bytes - (1ULL << 30))
		return -ENOMEM;
	return 0;
}

static void hstate_init(struct hstate *h, unsigned int order)
{
	memset(h, 0, sizeof(*h));
	h->order = order;
	pthread_mutex_init(&h->lock, NULL);
}

int machine_create(const struct machine_config *cfg, struct machine **out)
{
	struct machine *m;
	int err;

	if (machine)
		return -EBUSY;
	err = config_check(cfg);
	if (err)
		return err;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	pthread_mutex_init(&m->alloc_lock, NULL);
	pthread_mutex_init(&m->mmio_lock, NULL);
	pthread_mutex_init(&m->bug_lock, NULL);
	pthread_mutex_init(&m->tasks_lock, NULL);
	pthread_mutex_init(&m->devices_lock, NULL);
	pthread_mutex_init(&m->mms_lock, NULL);
	atomic_store(&m->next_tid, 1);
	hstate_init(&m->hstate_2m, PMD_ORDER);
	hstate_init(&m->hstate_1g, PUD_ORDER);

	err = phys_init(m);
	if (err)
		goto free_m;
	sched_forget_cut_short();	/* another machine's last run */
	machine = m;
	/* phys_init() placed the MMIO window, inside the direct map's reservation. */
	m->mmio_next_pfn = mmio_base_pfn;

	err = -ENOMEM;
	if (hugetlb_pool_init(&m->hstate_1g, cfg->hugetlb_1g_pages) != cfg->hugetlb_1g_pages)
		goto unwind;
	if (hugetlb_pool_init(&m->hstate_2m, cfg->hugetlb_2m_pages) != cfg->hugetlb_2m_pages)
		goto unwind;
	m->init_mm = init_mm_create();
	if (!m->init_mm)
		goto unwind;
	*out = m;
	return 0;
unwind:
	machine = NULL;
	phys_exit(m);
free_m:
	free(m);
	return err;
}

void machine_destroy(struct machine *m)
{
	if (!m || m != machine)
		return;
	inject_reset();		/* background injectors and rules name processes */
	sched_point_disarm_all();
	sim_set_trace(NULL, NULL);
	m->shutting_down = true;
	rwsem_release_dead(NULL);	/* nothing waits for a dead task's locks */
	mm_teardown_all();
	while (m->devices)
		vfio_pci_device_destroy(m->devices);
	/* No process, container or device left: no pin may be (issue 15). */
	dma_check_pins_at_teardown();
	if (m->init_mm)
		init_mm_destroy(m->init_mm);
	for (unsigned int i = 0; i < m->nr_mmio; i++) {
		munmap(m->mmio[i].bytes, m->mmio[i].nr_pages << PAGE_SHIFT);
		if (m->mmio[i].fd >= 0)
			close(m->mmio[i].fd);
	}
	while (m->nr_tasks)
		task_free(m->tasks[m->nr_tasks - 1]);
	phys_exit(m);
	free(m->tasks);
	rwsem_forget_dead_waits();
	machine = NULL;
	if (current)
		current = NULL;
	free(m);
}

/* A BAR's host bytes: private memory, or a memfd of its own (shared_memory). */
static unsigned char *mmio_backing(uint64_t size, int *fd)
{
	void *b;

	*fd = -1;
	if (!machine->cfg.shared_memory) {
		b = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		return b == MAP_FAILED ? NULL : b;
	}
	*fd = memfd_create("pinsim-bar", MFD_CLOEXEC);
	if (*fd < 0)
		return NULL;
	if (ftruncate(*fd, (off_t)size))
		goto err;
	b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (b == MAP_FAILED)
		goto err;
	return b;
err:
	close(*fd);
	*fd = -1;
	return NULL;
}

int mmio_alloc(uint64_t size, unsigned long *pfn, unsigned char **bytes)
{
	struct machine *m = machine;
	unsigned long nr = size >> PAGE_SHIFT, start;
	struct mmio_range *r;
	unsigned char *b;
	int fd;

	if (size < PAGE_SIZE || (size & (size - 1)))
		return -EINVAL;
	pthread_mutex_lock(&m->mmio_lock);
	if (m->nr_mmio == SIM_MAX_MMIO_RANGES) {
		pthread_mutex_unlock(&m->mmio_lock);
		return -ENOMEM;
	}
	start = (m->mmio_next_pfn + nr - 1) & ~(nr - 1);
	/*
	 * The window ends where the direct map's reservation does, so that
	 * every BAR pfn's direct-map address is inaccessible host memory
	 * (page.h); without a reservation, at the PTE pfn field's 40 bits.
	 */
	if (start + nr > mmio_end_pfn) {
		pthread_mutex_unlock(&m->mmio_lock);
		return -ENOMEM;
	}
	b = mmio_backing(size, &fd);
	if (!b) {
		pthread_mutex_unlock(&m->mmio_lock);
		return -ENOMEM;
	}
	r = &m->mmio[m->nr_mmio];
	r->fd = fd;
	r->start_pfn = start;
	r->nr_pages = nr;
	r->bytes = b;
	atomic_store_explicit(&m->nr_mmio, m->nr_mmio + 1, memory_order_release);
	m->mmio_next_pfn = start + nr;
	pthread_mutex_unlock(&m->mmio_lock);
	*pfn = start;
	*bytes = b;
	return 0;
}

unsigned char *mmio_virt(unsigned long pfn)
{
	unsigned int n = atomic_load_explicit(&machine->nr_mmio, memory_order_acquire);

	for (unsigned int i = 0; i < n; i++) {
		struct mmio_range *r = &machine->mmio[i];

		if (pfn >= r->start_pfn && pfn < r->start_pfn + r->nr_pages)
			return r->bytes + ((pfn - r->start_pfn) << PAGE_SHIFT);
	}
	return NULL;
}

int sim_phys_fd(unsigned long pfn, uint64_t *off)
{
	unsigned int n;

	if (pfn_valid(pfn)) {
		if (ram_fd < 0)
			return -ENODEV;
		*off = (uint64_t)pfn << PAGE_SHIFT;
		return ram_fd;
	}
	n = atomic_load_explicit(&machine->nr_mmio, memory_order_acquire);
	for (unsigned int i = 0; i < n; i++) {
		struct mmio_range *r = &machine->mmio[i];

		if (pfn >= r->start_pfn && pfn < r->start_pfn + r->nr_pages) {
			if (r->fd < 0)
				return -ENODEV;
			*off = (uint64_t)(pfn - r->start_pfn) << PAGE_SHIFT;
			return r->fd;
		}
	}
	return -ENODEV;
}
