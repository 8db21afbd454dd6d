// SPDX-License-Identifier: GPL-2.0-only
/*
 * Named kernels: which version of each behaviour a given kernel runs.
 *
 * Every kernel-version switch of struct pinsim_config is named after the
 * upstream change that introduced the behaviour.  A profile sets all of
 * them from what that kernel's source does.  Where the boundaries come from:
 *
 * - the 6.12 stable line: Debian's linux-source-6.12 packages (6.12.107 to
 *   6.12.118 read), and the Debian changelog
 *   (/usr/share/doc/linux-source-6.12/changelog.Debian.gz), whose per-release
 *   sections give the stable release that picked up each fix:
 *
 *     6.12.43  b1779e4f209c vfio/type1: conditional rescheduling while pinning
 *     6.12.81  ffef67b93aa3 mm/memory: fix PMD/PUD checks in follow_pfnmap_start()
 *     6.12.84  3b89863c3fa4 mm/pagewalk: fix race between concurrent split and refault
 *              (Debian took 6.12.81-84 together as 6.12.85-1; 6.12.74 is the last
 *              Debian 6.12 without them)
 *     6.12.115 aedf2efd1897 mm/pagewalk: fix stale walk->action escaping walk_pmd_range()
 *
 *   drivers/vfio/vfio_iommu_type1.c, container.c, group.c and task_mmu.c's
 *   numa_maps code are identical from 6.12.107 to 6.12.118; the mm/memory.c
 *   changes of that span (generic_access_phys, remote COW faults on PFN
 *   mappings, unmap_mapping_range's pgoff casts) are outside what pinsim runs.
 *
 * - upstream: merge and pull-request records (the stable "commit X upstream"
 *   lines, mm-hotfixes merges, VFIO pull requests):
 *
 *     v6.13-rc1 35890f85573c vfio: Remove VFIO_TYPE1_NESTING_IOMMU
 *     v6.13     34d7cf637c43 mm: don't try THP alignment for FS without
 *               get_unmapped_area (never in 6.12 stable): a device-fd mmap
 *               without a hint is page-aligned, not 2M-relative as in 6.12
 *     v6.15-rc1 afe84f3b7a26, eb996eec783c, 62fb8adc43af, 0fd06844de5d: the
 *               pfnmap series (addr_mask, batching by leaf, no batch of one
 *               put back, disable_hugepages not breaking the loop)
 *     v6.16     07970d048cdd vfio/type1: Remove Fine Grained Superpages detection
 *     v6.17-rc1 b1779e4f209c cond_resched while pinning
 *     v6.17-rc2 aa5a10b07069 fs/proc/task_mmu: hold PTL in pagemap_hugetlb_range
 *               and gather_hugetlb_stats
 *     v6.18-rc1 929bf010e059..d14de5b92578 has_rsvd, batched accounting/unpin
 *     v6.18-rc4 6012379ede6a, 1196f1f897d4, ef270ec44637 DMA map/unmap up to the
 *               addressable limit (-EOVERFLOW, inclusive ends)
 *     v7.0-rc6  3b89863c3fa4, ffef67b93aa3 (the March 2026 fixes; 9b25a6e3d243 and
 *               26e7888a0c89 are the same patches again in 7.1-rc1)
 *     v7.1      c0c6ccd9828c __vm_normal_page() per-level special bits
 *     v7.2      aedf2efd1897 stale walk->action
 *
 *   "upstream" is mainline as of v7.2 (August 2026), the newest pinsim was
 *   checked against.  Not merged anywhere, so off in every profile: Peter
 *   Xu's vfio-pci get_unmapped_area series (vfio_pci_mmap_align) and the
 *   seeds/03 -ENOENT / retry proposals (follow_pfnmap_enoent, retry policies).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_profiles.h"
#include "kimpl.h"

/* The switches, in the order they are printed and documented. */
struct kernel_switch {
	const char *name;
	size_t off; /* offsetof(struct pinsim_config, bool field) */
	const char *commit; /* upstream commit and subject */
};

/*
 * Switches whose commit takes a behaviour away (1 = the commit is not
 * there): applying it clears the switch, reverting it sets it.
 */
static bool switch_is_removal(const char *name)
{
	return !strcmp(name, "vfio_type1_nesting") || !strcmp(name, "vfio_fgsp_probe");
}

/* clang-format off */
#define SW(field, commit) { #field, __builtin_offsetof(struct pinsim_config, field), commit }
/* clang-format on */

static const struct kernel_switch kernel_switches[] = {
	SW(pagewalk_fixed,
	   "3b89863c3fa4 mm/pagewalk: fix race between concurrent split and refault"),
	SW(pagewalk_stale_action_fix,
	   "aedf2efd1897 mm/pagewalk: fix stale walk->action escaping walk_pmd_range()"),
	SW(follow_pfnmap_recheck,
	   "ffef67b93aa3 mm/memory: fix PMD/PUD checks in follow_pfnmap_start()"),
	SW(special_bit_per_level, "c0c6ccd9828c mm: fix __vm_normal_page() to handle missing "
				  "support for pmd_special()/pud_special()"),
	SW(vfio_addr_mask_batching, "0fd06844de5d vfio/type1: Use mapping page mask for pfnmaps (and afe84f3b7a26, eb996eec783c, 62fb8adc43af)"),
	SW(vfio_pin_contig_accounting, "f6c84a52cc41 vfio/type1: optimize vfio_pin_pages_remote() "
				       "(and 089722e8939e, d10872050ffe, d14de5b92578): "
				       "accounting and unpin by run, has_rsvd"),
	SW(vfio_pin_cond_resched,
	   "b1779e4f209c vfio/type1: conditional rescheduling while pinning"),
	SW(vfio_dma_limit_overflow, "6012379ede6a vfio/type1: sanitize for overflow (-EOVERFLOW) and "
				    "ef270ec44637 handle DMA map/unmap up to the addressable limit "
				    "(inclusive ends)"),
	SW(vfio_type1_nesting,
	   "35890f85573c vfio: Remove VFIO_TYPE1_NESTING_IOMMU (1 = still there)"),
	SW(vfio_fgsp_probe,
	   "07970d048cdd vfio/type1: Remove Fine Grained Superpages detection (1 = still probing)"),
	SW(task_mmu_hugetlb_ptl, "aa5a10b07069 fs/proc/task_mmu: hold PTL in pagemap_hugetlb_range "
				 "and gather_hugetlb_stats"),
	SW(mmap_thp_anon_only,
	   "34d7cf637c43 mm: don't try THP alignment for FS without get_unmapped_area"),
	SW(vfio_pci_mmap_align,
	   "(not merged) vfio-pci: Best-effort huge pfnmaps with !MAP_FIXED mappings"),
};

#define NR_SWITCHES (sizeof(kernel_switches) / sizeof(kernel_switches[0]))

/* One bit per kernel_switches[] entry. */
#define B(bit) (1u << (bit))
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
	S_FGSP_PROBE,
	S_HUGETLB_PTL,
	S_THP_ANON_ONLY,
	S_MMAP_ALIGN,
	NR_S			/* one per kernel_switches[] entry, same order */
};
_Static_assert(NR_S == NR_SWITCHES, "kernel_switches[] and the S_ bits differ");

/*
 * The 6.12 stable line at release 6.12.@n (n >= 29).  6.12 has no
 * __vm_normal_page(): its vm_normal_page_pmd() returns NULL for a special
 * PMD (pmd_special() is constant false where the arch has no PMD special
 * bit) and then applies the legacy VM_PFNMAP rules, which decides every
 * case pinsim models the way the per-level scheme of c0c6ccd9828c does.
 */
static unsigned int stable_612_bits(unsigned int n)
{
	unsigned int bits = B(S_NESTING) | B(S_FGSP_PROBE) | B(S_SPECIAL_PER_LEVEL);

	if (n >= 43)
		bits |= B(S_COND_RESCHED);
	if (n >= 81)
		bits |= B(S_PFNMAP_RECHECK);
	if (n >= 84)
		bits |= B(S_PAGEWALK_FIXED);
	if (n >= 115)
		bits |= B(S_STALE_ACTION);
	return bits;
}

/*
 * v7.0 has af38538801c6's __vm_normal_page() without c0c6ccd9828c: every
 * level uses the PTE special-bit config.
 */
#define UPSTREAM_7_0_BITS                                                                \
	(B(S_PAGEWALK_FIXED) | B(S_PFNMAP_RECHECK) | B(S_ADDR_MASK) | B(S_CONTIG_ACCT) | \
	 B(S_COND_RESCHED) | B(S_LIMIT_OVERFLOW) | B(S_HUGETLB_PTL) | B(S_THP_ANON_ONLY))
#define UPSTREAM_BITS (UPSTREAM_7_0_BITS | B(S_STALE_ACTION) | B(S_SPECIAL_PER_LEVEL))

static const struct pinsim_kernel_profile profiles[] = {
	{"6.12.74", "6.12 stable before the March 2026 walker fix (the seeds/01 reporter's "
		    "kernel): the PUD split/refault oops"},
	{"6.12.113", "6.12 stable with the walker and follow_pfnmap_start fixes "
		     "(6.12.81/84), without the stale walk->action fix"},
	{"6.12.118", "Debian's current 6.12: both walker fixes, 6.12 VFIO type1 (per-page "
		     "accounting, -EINVAL on wrap, NESTING)"},
	{"7.0", "v7.0: upstream with the March 2026 fixes (7.0-rc6)"},
	{"upstream", "mainline as of v7.2 (Aug 2026), the newest pinsim was checked against; "
		     "the default"},
};

/* The switches of the non-6.12 profiles (6.12.N come from stable_612_bits()). */
static unsigned int named_bits(const char *name)
{
	return strcmp(name, "7.0") ? UPSTREAM_BITS : UPSTREAM_7_0_BITS;
}

#define NR_PROFILES (sizeof(profiles) / sizeof(profiles[0]))

/* The newest 6.12 stable whose source the profiles were checked against. */
#define LATEST_612 118

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

static int resolve_base(const char *version, unsigned int *bits)
{
	long n = parse_612(version);

	/*
	 * Any 6.12 stable, the named ones included.  Before 6.12.29 vfio-pci's
	 * huge faults were not aligned to their order (c1d9dac0db16): not
	 * modelled.  After 6.12.118 nobody has read the source yet: no profile.
	 */
	if (n >= 0) {
		if (n < 29 || n > LATEST_612)
			return -EINVAL;
		*bits = stable_612_bits((unsigned int)n);
		return 0;
	}
	if (strcmp(version, "7.0") && strcmp(version, "upstream"))
		return -EINVAL;
	*bits = named_bits(version);
	return 0;
}

/* The switch named after @commit (7 to 12 hex digits), or -1. */
static int switch_of_commit(const char *commit, size_t len)
{
	size_t i, k;

	if (len < 7 || len > 12)
		return -1;
	for (k = 0; k < len; k++)
		if (!((commit[k] >= '0' && commit[k] <= '9') || (commit[k] >= 'a' && commit[k] <= 'f')))
			return -1;
	for (i = 0; i < NR_SWITCHES; i++)
		if (!strncmp(kernel_switches[i].commit, commit, len))
			return (int)i;
	return -1;
}

/*
 * Patches on the list that no profile has, named so that a tree carrying
 * one can say so (-Dkernel_tree_profile=6.12.118+eagain) and pinsim
 * expects what its source does.  They are VFIO retry policies: applying
 * one sets pinsim_config.retry_policy, reverting it sets LEGACY (what
 * every released kernel does).
 */
static const struct {
	const char *name;
	enum pinsim_retry_policy policy;
} proposals[] = {
	/*
	 * "vfio/type1: Retry follow_pfnmap_start() when PFNMAP is zapped"
	 * (2026-03-17, seeds/03): follow_fault_pfn() returns -EAGAIN when
	 * follow_pfnmap_start() fails after a successful fault; unbounded.
	 * scripts/apply-seeds03-retry.py makes that edit in a tree.
	 */
	{ "eagain", PINSIM_RETRY_EAGAIN },
};

static int proposal_of(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(proposals) / sizeof(proposals[0]); i++)
		if (strlen(proposals[i].name) == len && !strncmp(proposals[i].name, name, len))
			return (int)i;
	return -1;
}

/*
 * "BASE[{-|+}COMMIT]...": a profile, then commits reverted ('-') or
 * applied ('+') in order, a later one winning over an earlier one of the
 * same switch (so a modifier can be appended to any profile name), or a
 * proposal of proposals[] by name (*policy: its policy, or LEGACY when
 * reverted; -1 when none is named).  6.12.N and the named profiles contain
 * neither character, so the first one ends the base.
 */
static int resolve(const char *version, unsigned int *bits, int *policy)
{
	size_t base_len = strcspn(version, "-+");
	char base[32];
	const char *p;

	if (base_len >= sizeof(base))
		return -EINVAL;
	memcpy(base, version, base_len);
	base[base_len] = '\0';
	if (resolve_base(base, bits))
		return -EINVAL;
	*policy = -1;
	for (p = version + base_len; *p;) {
		bool apply = *p == '+';
		size_t len = strcspn(p + 1, "-+");
		int sw = switch_of_commit(p + 1, len), pr = proposal_of(p + 1, len);

		if (pr >= 0) {
			*policy = apply ? (int)proposals[pr].policy : (int)PINSIM_RETRY_LEGACY;
			p += 1 + len;
			continue;
		}
		if (sw < 0)
			return -EINVAL;
		if (apply != switch_is_removal(kernel_switches[sw].name))
			*bits |= B(sw);
		else
			*bits &= ~B(sw);
		p += 1 + len;
	}
	return 0;
}

int pinsim_config_set_kernel(struct pinsim_config *cfg, const char *version)
{
	unsigned int bits;
	int policy;
	size_t i;

	if (!cfg || !version || strlen(version) >= sizeof(cfg->kernel) ||
	    resolve(version, &bits, &policy)) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < NR_SWITCHES; i++)
		*(bool *)((char *)cfg + kernel_switches[i].off) = bits & (1u << i);
	if (policy >= 0)
		cfg->retry_policy = (enum pinsim_retry_policy)policy;
	strcpy(cfg->kernel, version);
	return 0;
}

int pinsim_config_set_impl(struct pinsim_config *cfg, const char *name)
{
	if (!cfg || !name) {
		errno = EINVAL;
		return -1;
	}
	if (!strcmp(name, "rewrite")) {
		cfg->impl = PINSIM_IMPL_REWRITE;
		return 0;
	}
	if (strcmp(name, "tree")) {
		errno = EINVAL;
		return -1;
	}
	if (!kimpl_tree_built()) {
		errno = EOPNOTSUPP;
		return -1;
	}
	cfg->impl = PINSIM_IMPL_TREE;
	return 0;
}

const char *pinsim_impl_name(enum pinsim_impl impl)
{
	switch (impl) {
	case PINSIM_IMPL_REWRITE:
		return "rewrite";
	case PINSIM_IMPL_TREE:
		return "tree";
	}
	return NULL;
}

const char *pinsim_kernel_tree_version(const char **path)
{
	const struct kimpl_ops *tree = kimpl_tree_built();

	if (path)
		*path = tree ? tree->tree_path : NULL;
	return tree ? tree->tree_version : NULL;
}

const char *pinsim_kernel_tree_profile(void)
{
	const struct kimpl_ops *tree = kimpl_tree_built();

	return tree ? tree->tree_profile : NULL;
}

enum pinsim_retry_policy kernel_tree_retry_policy(void)
{
	const char *profile = pinsim_kernel_tree_profile();
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	cfg.retry_policy = PINSIM_RETRY_LEGACY;
	if (profile)
		pinsim_config_set_kernel(&cfg, profile);	/* checked at build time */
	return cfg.retry_policy;
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
	mc->mmap_thp_anon_only = cfg->mmap_thp_anon_only;
	mc->impl = cfg->impl == PINSIM_IMPL_TREE ? MACHINE_IMPL_TREE : MACHINE_IMPL_REWRITE;

	vc->follow_pfnmap_recheck = cfg->follow_pfnmap_recheck;
	vc->follow_pfnmap_enoent = cfg->follow_pfnmap_enoent;
	vc->addr_mask_batching = cfg->vfio_addr_mask_batching;
	vc->pin_contig_accounting = cfg->vfio_pin_contig_accounting;
	vc->pin_cond_resched = cfg->vfio_pin_cond_resched;
	vc->dma_limit_overflow = cfg->vfio_dma_limit_overflow;
	vc->type1_nesting = cfg->vfio_type1_nesting;
	vc->fgsp_probe = cfg->vfio_fgsp_probe;
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
