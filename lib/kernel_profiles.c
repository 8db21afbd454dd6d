// SPDX-License-Identifier: GPL-2.0-only
/*
 * Named kernels: which version of each behaviour a given kernel runs.
 *
 * Every kernel-version switch of struct pinsim_config is named after the
 * upstream change that introduced the behaviour.  A profile sets all of
 * them from what that kernel's source does; the boundaries come from the
 * sources themselves (Debian's linux-source-6.12 packages, 6.12.107 to
 * 6.12.118, and upstream torvalds/linux) and from the Debian changelog
 * (/usr/share/doc/linux-source-6.12/changelog.Debian.gz), which says which
 * 6.12 stable release picked up which upstream fix:
 *
 *   6.12.43  vfio/type1: conditional rescheduling while pinning
 *   6.12.85  mm/pagewalk: fix race between concurrent split and refault
 *            mm/memory: fix PMD/PUD checks in follow_pfnmap_start()
 *   6.12.115 mm/pagewalk: fix stale walk->action escaping walk_pmd_range()
 *
 * Nothing else modelled here changed in 6.12 stable between 6.12.29 (the
 * vfio-pci huge-fault alignment, "vfio/pci: Align huge faults to order")
 * and 6.12.118: drivers/vfio/vfio_iommu_type1.c, container.c, group.c and
 * fs/proc/task_mmu.c's numa_maps code are identical from 6.12.107 to
 * 6.12.118, and the mm/memory.c changes of that span (generic_access_phys,
 * remote COW faults on PFN mappings, unmap_mapping_range's pgoff casts) are
 * outside the paths pinsim runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_profiles.h"

/* The switches, in the order they are printed and documented. */
struct kernel_switch {
	const char *name;
	size_t off;		/* offsetof(struct pinsim_config, bool field) */
	const char *commit;	/* upstream commit and subject */
};

#define SW(field, commit) { #field, __builtin_offsetof(struct pinsim_config, field), commit }

static const struct kernel_switch kernel_switches[] = {
	SW(pagewalk_fixed,
	   "9b25a6e3d243 mm/pagewalk: fix race between concurrent split and refault"),
	SW(pagewalk_stale_action_fix,
	   "mm/pagewalk: fix stale walk->action escaping walk_pmd_range()"),
	SW(follow_pfnmap_recheck,
	   "ffef67b93aa3 mm/memory: fix PMD/PUD checks in follow_pfnmap_start()"),
	SW(special_bit_per_level,
	   "c0c6ccd9828c per-level special bits in vm_normal_page_pmd/pud"),
	SW(vfio_addr_mask_batching,
	   "0fd06844de5d vfio/type1: Use mapping page mask for pfnmaps"),
	SW(vfio_pin_contig_accounting,
	   "vfio/type1: optimize vfio_pin_pages_remote() (has_rsvd series)"),
	SW(vfio_pin_cond_resched,
	   "vfio/type1: conditional rescheduling while pinning"),
	SW(vfio_dma_limit_overflow,
	   "ef270ec44637 vfio: handle DMA map/unmap up to the addressable limit"),
	SW(vfio_type1_nesting,
	   "VFIO_TYPE1_NESTING_IOMMU (removed upstream in v6.13)"),
	SW(task_mmu_hugetlb_ptl,
	   "fs/proc/task_mmu: gather_hugetlb_stats() under the PTL"),
	SW(vfio_pci_mmap_align,
	   "vfio/pci: get_unmapped_area aligned to the huge-fault order"),
};

#define NR_SWITCHES (sizeof(kernel_switches) / sizeof(kernel_switches[0]))

/* One bit per kernel_switches[] entry. */
#define B(field) (1u << (field))
enum {
	S_PAGEWALK_FIXED,
	S_STALE_ACTION,
	S_PFNMAP_RECHECK,
	S_SPECIAL_PER_LEVEL,
	S_ADDR_MASK,
	S_CONTIG_ACCT,
	S_COND_RESCHED,
	S_LIMIT_OVERFLOW,
	S_NESTING,
	S_HUGETLB_PTL,
	S_MMAP_ALIGN,
};

/* The 6.12 stable line at release 6.12.@n (n >= 29). */
static unsigned int stable_612_bits(unsigned int n)
{
	unsigned int bits = B(S_NESTING);

	if (n >= 43)
		bits |= B(S_COND_RESCHED);
	if (n >= 85)
		bits |= B(S_PAGEWALK_FIXED) | B(S_PFNMAP_RECHECK);
	if (n >= 115)
		bits |= B(S_STALE_ACTION);
	return bits;
}

#define UPSTREAM_7_0_BITS                                                                    \
	(B(S_PAGEWALK_FIXED) | B(S_PFNMAP_RECHECK) | B(S_ADDR_MASK) | B(S_CONTIG_ACCT) |    \
	 B(S_COND_RESCHED) | B(S_LIMIT_OVERFLOW))
#define UPSTREAM_BITS                                                                        \
	(UPSTREAM_7_0_BITS | B(S_STALE_ACTION) | B(S_SPECIAL_PER_LEVEL) | B(S_HUGETLB_PTL) | \
	 B(S_MMAP_ALIGN))

static const struct pinsim_kernel_profile profiles[] = {
	{ "6.12.74", "6.12 stable before the March 2026 walker fix (the seeds/01 reporter's "
		     "kernel): the PUD split/refault oops" },
	{ "6.12.113", "6.12 stable with the walker and follow_pfnmap_start fixes (6.12.85), "
		      "without the stale walk->action fix" },
	{ "6.12.118", "Debian's current 6.12: both walker fixes, 6.12 VFIO type1 (per-page "
		      "accounting, -EINVAL on wrap, NESTING)" },
	{ "7.0", "upstream at the March 2026 fixes" },
	{ "upstream", "the newest upstream pinsim was checked against (the default)" },
};

/* The switches of the non-6.12 profiles (6.12.N come from stable_612_bits()). */
static unsigned int named_bits(const char *name)
{
	return strcmp(name, "7.0") ? UPSTREAM_BITS : UPSTREAM_7_0_BITS;
}

#define NR_PROFILES (sizeof(profiles) / sizeof(profiles[0]))

/* "6.12.N" with N a decimal number: N, else -1. */
static long parse_612(const char *v)
{
	char *end;
	unsigned long n;

	if (strncmp(v, "6.12.", 5) || v[5] < '0' || v[5] > '9')
		return -1;
	n = strtoul(v + 5, &end, 10);
	if (*end || n > 100000)
		return -1;
	return (long)n;
}

static int resolve(const char *version, unsigned int *bits)
{
	long n;
	size_t i;

	for (i = 0; i < NR_PROFILES; i++) {
		if (!strcmp(version, profiles[i].name)) {
			n = parse_612(version);
			*bits = n >= 0 ? stable_612_bits((unsigned int)n) : named_bits(version);
			return 0;
		}
	}
	n = parse_612(version);
	/* Before 6.12.29 vfio-pci's huge faults were not aligned: not modelled. */
	if (n < 29)
		return -EINVAL;
	*bits = stable_612_bits((unsigned int)n);
	return 0;
}

int pinsim_config_set_kernel(struct pinsim_config *cfg, const char *version)
{
	unsigned int bits;
	size_t i;

	if (!cfg || !version || strlen(version) >= sizeof(cfg->kernel) ||
	    resolve(version, &bits)) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < NR_SWITCHES; i++)
		*(bool *)((char *)cfg + kernel_switches[i].off) = bits & (1u << i);
	strcpy(cfg->kernel, version);
	return 0;
}

size_t pinsim_kernel_profiles(const struct pinsim_kernel_profile **out)
{
	if (out)
		*out = profiles;
	return NR_PROFILES;
}

size_t pinsim_kernel_describe(const struct pinsim_config *cfg, char *buf, size_t len)
{
	size_t i, total = 0;
	int n;

	if (!cfg)
		return 0;
	if (buf && len)
		buf[0] = '\0';
	for (i = 0; i < NR_SWITCHES; i++) {
		const struct kernel_switch *s = &kernel_switches[i];
		bool on = *(const bool *)((const char *)cfg + s->off);

		n = snprintf(buf && total < len ? buf + total : NULL,
			     buf && total < len ? len - total : 0, "%-28s %d  %s\n", s->name, on,
			     s->commit);
		if (n > 0)
			total += (size_t)n;
	}
	return total;
}

void kernel_config_apply(const struct pinsim_config *cfg, struct machine_config *mc,
			 struct vfio_type1_config *vc)
{
	mc->ram_bytes = cfg->ram_bytes;
	mc->hugetlb_2m_pages = cfg->hugetlb_2m_pages;
	mc->hugetlb_1g_pages = cfg->hugetlb_1g_pages;
	mc->thp = (enum thp_mode)cfg->thp;
	mc->arch_has_pte_special = cfg->arch_has_pte_special;
	mc->arch_supports_pmd_pfnmap = cfg->arch_supports_pmd_pfnmap;
	mc->arch_supports_pud_pfnmap = cfg->arch_supports_pud_pfnmap;
	mc->special_bit_per_level = cfg->special_bit_per_level;
	mc->max_bar_fault_order = cfg->max_bar_fault_order;
	mc->pagewalk_fixed = cfg->pagewalk_fixed;
	mc->pagewalk_stale_action_fix = cfg->pagewalk_stale_action_fix;
	mc->task_mmu_hugetlb_ptl = cfg->task_mmu_hugetlb_ptl;
	mc->vfio_pci_mmap_align = cfg->vfio_pci_mmap_align;

	vc->follow_pfnmap_recheck = cfg->follow_pfnmap_recheck;
	vc->follow_pfnmap_enoent = cfg->follow_pfnmap_enoent;
	vc->addr_mask_batching = cfg->vfio_addr_mask_batching;
	vc->pin_contig_accounting = cfg->vfio_pin_contig_accounting;
	vc->pin_cond_resched = cfg->vfio_pin_cond_resched;
	vc->dma_limit_overflow = cfg->vfio_dma_limit_overflow;
	vc->type1_nesting = cfg->vfio_type1_nesting;
	vc->disable_hugepages = cfg->disable_hugepages;
	vc->dma_entry_limit = cfg->dma_entry_limit;
	vc->retry_policy = (enum vfio_retry_policy)cfg->retry_policy;
	vc->retry_bound = cfg->retry_bound;
	vc->iommu_pgsize_bitmap = cfg->iommu_pgsize_bitmap;
}

int kernel_profile_configs(const char *version, struct machine_config *mc,
			   struct vfio_type1_config *vc)
{
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	if (pinsim_config_set_kernel(&cfg, version))
		return -EINVAL;
	machine_config_init(mc);
	vfio_type1_config_init(vc);
	kernel_config_apply(&cfg, mc, vc);
	return 0;
}
