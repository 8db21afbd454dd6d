// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/memory.c: vm_normal_page{,_pmd,_pud}, vmf_insert_pfn, remap_pfn_range,
 * and the zap paths (zap_page_range_single, unmap_mapping_range) with the
 * huge-leaf zaps that the kernel keeps in mm/huge_memory.c (zap_huge_pmd,
 * zap_huge_pud) and mm/hugetlb.c (__unmap_hugepage_range).
 *
 * fork's copy_page_range() (with vma_needs_copy(), copy_pte_range() and
 * copy_present_page()) is at the end.
 *
 * It also frees page tables as the kernel does at munmap and exit:
 * free_pgtables() -> free_pgd_range() (floor/ceiling rules), with tables
 * freed through the mmu_gather's table batch (sim/pgtable.c).
 *
 * Simplifications, for the whole file:
 *  - The mmu_gather only batches page tables: the simulation has no TLB, so
 *    a zapped page is put as soon as its entry is cleared instead of after
 *    the flush.  Nothing can reach the page through the cleared entry
 *    either way.
 *  - No rmap, mapcount or RSS counters: the simulation does not keep them.
 *    A page mapped by several processes after fork holds one reference per
 *    mapping, and COW decides by PG_anon_exclusive and the refcount
 *    (sim/fault.c), so a zap's put is all the unmapping there is.
 *  - No zero page and no huge zero page: a read fault on anonymous memory
 *    allocates a page.  The zero-pfn cases of vm_normal_page() therefore
 *    never hit and are left out.
 *  - No deposited page tables for anonymous THPs (huge_memory.c does not
 *    deposit), so zap_huge_pmd() has none to free.
 *  - No PAT: pfnmap_setup_cachemode/track_pfn_* are left out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "machine.h"
#include "mm.h"
#include "pgtable.h"
#include "sched_point.h"

/* ------------------------------------------------------------------------ */
/* vm_normal_page family (ref §2.4)                                          */
/* ------------------------------------------------------------------------ */

/*
 * print_bad_page_map(): the kernel prints an alert, dumps the stack and
 * taints; the simulation counts it as a WARN with the same words, so tests
 * can assert it.
 */
static void print_bad_page_map(struct vm_area_struct *vma, unsigned long addr, uint64_t entry,
			       enum pgtable_level level, const char *func)
{
	static const char *const names[] = {"?", "pte", "pmd", "pud"};
	char msg[SIM_MSG_LEN];

	snprintf(msg, sizeof(msg), "BUG: Bad page map: %s:%016llx addr:%lx vm_flags:%lx",
		 names[level], (unsigned long long)entry, addr, vma->vm_flags);
	__sim_warn(__FILE__, __LINE__, func, msg);
}

/*
 * pgtable_level_has_pxx_special() (c0c6ccd9828c): does this level have a
 * usable special bit?  Before that commit every level used the PTE config
 * (CONFIG_ARCH_HAS_PTE_SPECIAL); machine->cfg.special_bit_per_level selects.
 */
static bool level_has_special(enum pgtable_level level)
{
	const struct machine_config *cfg = &machine->cfg;

	if (!cfg->special_bit_per_level || level == PGTABLE_PTE)
		return cfg->arch_has_pte_special;
	if (level == PGTABLE_PMD)
		return cfg->arch_supports_pmd_pfnmap;
	return cfg->arch_supports_pud_pfnmap;
}

/*
 * __vm_normal_page(): the struct page of a "normal" mapping, NULL for a
 * "special" one.  vm_ops->find_normal_page (CONFIG_FIND_NORMAL_PAGE, used by
 * Xen gntdev only) is left out: no simulated driver has one.
 */
static struct page *__vm_normal_page(struct vm_area_struct *vma, unsigned long addr,
				     unsigned long pfn, bool special, uint64_t entry,
				     enum pgtable_level level, const char *func)
{
	if (level_has_special(level)) {
		if (unlikely(special)) {
			if (vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP))
				return NULL;
			/* Zero/huge-zero pfn: no zero page here (see top). */
			print_bad_page_map(vma, addr, entry, level, func);
			return NULL;
		}
		/* Special bit clear: normal. */
	} else if (unlikely(vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP))) {
		/* The legacy scheme, for architectures without the bit. */
		if (vma->vm_flags & VM_MIXEDMAP) {
			/* If it has a struct page, it is normal. */
			if (!pfn_valid(pfn))
				return NULL;
		} else {
			unsigned long off = (addr - vma->vm_start) >> PAGE_SHIFT;

			/*
			 * remap_pfn_range()'s linearity rule: vm_pgoff is the
			 * first pfn of a COW pfnmap, so a pfn on the line is
			 * the raw mapping and anything else a COWed anon page.
			 */
			if (pfn == vma->vm_pgoff + off)
				return NULL;
			if (!is_cow_mapping(vma->vm_flags))
				return NULL;
		}
	}

	/* pfn > highest_memmap_pfn: a corrupted entry (or an MMIO pfn). */
	if (unlikely(!pfn_valid(pfn))) {
		print_bad_page_map(vma, addr, entry, level, func);
		return NULL;
	}
	return pfn_to_page(pfn);
}

struct page *vm_normal_page(struct vm_area_struct *vma, unsigned long addr, pte_t pte)
{
	return __vm_normal_page(vma, addr, pte_pfn(pte), pte_special(pte), pte_val(pte),
				PGTABLE_PTE, __func__);
}

/* The page at the head of the leaf, like the kernel's (callers add the offset). */
struct page *vm_normal_page_pmd(struct vm_area_struct *vma, unsigned long addr, pmd_t pmd)
{
	return __vm_normal_page(vma, addr, pmd_pfn(pmd), pmd_special(pmd), pmd_val(pmd),
				PGTABLE_PMD, __func__);
}

struct page *vm_normal_page_pud(struct vm_area_struct *vma, unsigned long addr, pud_t pud)
{
	return __vm_normal_page(vma, addr, pud_pfn(pud), pud_special(pud), pud_val(pud),
				PGTABLE_PUD, __func__);
}

/* ------------------------------------------------------------------------ */
/* Inserting pfns                                                            */
/* ------------------------------------------------------------------------ */

/*
 * __get_locked_pte(): allocate the table path down to the PTE table and
 * return the PTE mapped and locked, or NULL (out of memory, or a PMD leaf
 * in the way).  Like the kernel, a PUD leaf in the way is not checked for:
 * callers come from the PTE fault path, which has already seen a table.
 */
static pte_t *get_locked_pte(struct mm_struct *mm, unsigned long addr, spinlock_t **ptl)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d = p4d_offset(pgd, addr);
	pud_t *pud;
	pmd_t *pmd;

	pud = pud_alloc(mm, p4d, addr);
	if (!pud)
		return NULL;
	pmd = pmd_alloc(mm, pud, addr);
	if (!pmd)
		return NULL;
	if (pmd_none(pmdp_get(pmd)) && __pte_alloc(mm, pmd))
		return NULL;
	return pte_offset_map_lock(mm, pmd, addr, ptl);
}

/*
 * vmf_insert_pfn() → vmf_insert_pfn_prot() → insert_pfn(mkwrite=false):
 * one special PTE, no refcount, an existing entry is left alone.
 */
vm_fault_t vmf_insert_pfn(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn)
{
	vm_flags_t flags = vma->vm_flags;
	spinlock_t *ptl;
	pte_t *pte;

	/* The kernel's sanity checks, BUG_ON (an oops) as there. */
	BUG_ON(!(flags & (VM_PFNMAP | VM_MIXEDMAP)));
	BUG_ON((flags & (VM_PFNMAP | VM_MIXEDMAP)) == (VM_PFNMAP | VM_MIXEDMAP));
	BUG_ON((flags & VM_PFNMAP) && is_cow_mapping(flags));
	BUG_ON((flags & VM_MIXEDMAP) && pfn_valid(pfn));

	if (addr < vma->vm_start || addr >= vma->vm_end)
		return VM_FAULT_SIGBUS;

	pte = get_locked_pte(vma->vm_mm, addr, &ptl);
	if (!pte)
		return VM_FAULT_OOM;
	if (pte_none(ptep_get(pte)))
		set_pte(pte, pte_mkspecial(pfn_pte(pfn, vma->vm_page_prot)));
	pte_unmap_unlock(pte, ptl);
	return VM_FAULT_NOPAGE;
}

/* remap_pte_range(): one PTE table's worth. */
static int remap_pte_range(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, unsigned long end,
			   unsigned long pfn, pgprot_t prot)
{
	spinlock_t *ptl;
	pte_t *pte;
	int err = 0;

	if (pmd_none(pmdp_get(pmd)) && __pte_alloc(mm, pmd))
		return -ENOMEM;
	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		return -ENOMEM;
	for (; addr != end; addr += PAGE_SIZE, pte++, pfn++) {
		/* The kernel's remap_pte_range(): never overwrite. */
		if (!pte_none(ptep_get(pte))) {
			err = -EACCES;
			break;
		}
		set_pte(pte, pte_mkspecial(pfn_pte(pfn, prot)));
	}
	pte_unmap_unlock(pte, ptl);
	return err;
}

/*
 * remap_pmd_range(): @pfn_base is the pfn that address 0 would map, so that
 * address a maps pfn_base + (a >> PAGE_SHIFT) (the kernel's
 * "pfn -= addr >> PAGE_SHIFT" trick).
 */
static int remap_pmd_range(struct mm_struct *mm, pud_t *pud, unsigned long addr, unsigned long end,
			   unsigned long pfn_base, pgprot_t prot)
{
	unsigned long next;
	pmd_t *pmd;
	int err;

	pmd = pmd_alloc(mm, pud, addr);
	if (!pmd)
		return -ENOMEM;
	do {
		next = pmd_addr_end(addr, end);
		err = remap_pte_range(mm, pmd, addr, next, pfn_base + (addr >> PAGE_SHIFT), prot);
		if (err)
			return err;
	} while (pmd++, addr = next, addr != end);
	return 0;
}

/*
 * remap_pfn_range() → remap_pfn_range_notrack() (seeds/02).  @pfn maps
 * @addr; every entry is special.  On failure the kernel zaps what it had
 * populated; so does this.
 */
int remap_pfn_range(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
		    unsigned long size, pgprot_t prot)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long end, next, start = addr, pfn_base;
	pud_t *pud;
	int err = 0;

	size = (size + PAGE_SIZE - 1) & PAGE_MASK;
	end = addr + size;
	if (WARN_ON_ONCE(addr & ~PAGE_MASK))
		return -EINVAL;

	/*
	 * A COW pfnmap must be recognisable without a special bit: the whole
	 * VMA is covered and vm_pgoff names its first pfn, so that
	 * vm_normal_page()'s linearity rule holds (seeds/02).
	 */
	if (is_cow_mapping(vma->vm_flags)) {
		if (addr != vma->vm_start || end != vma->vm_end)
			return -EINVAL;
		vma->vm_pgoff = pfn;
	}
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;

	BUG_ON(addr >= end);
	pfn_base = pfn - (addr >> PAGE_SHIFT);
	for (; addr != end; addr = next) {
		next = pud_addr_end(addr, end);
		pud = pud_alloc(mm, p4d_offset(pgd_offset(mm, addr), addr), addr);
		if (!pud) {
			err = -ENOMEM;
			break;
		}
		err = remap_pmd_range(mm, pud, addr, next, pfn_base, prot);
		if (err)
			break;
	}
	if (err)
		zap_page_range_single(vma, start, size);
	return err;
}

/* ------------------------------------------------------------------------ */
/* Zap (ref §2.6)                                                           */
/* ------------------------------------------------------------------------ */

/* struct zap_details, trimmed to even_cows. */
struct zap_details {
	bool even_cows; /* zap COWed anon pages in file mappings too */
};

/* should_zap_folio(): without even_cows, COWed (anon) pages survive. */
static bool should_zap_folio(const struct zap_details *details, struct folio *folio)
{
	if (!details || details->even_cows)
		return true;
	return folio_type(folio) != PGTY_anon;
}

/*
 * vma_is_special_huge(): a file mapping of raw pfns, whose huge leaves
 * have no page to put.  (DAX, which has pages there, does not exist here.)
 */
static bool vma_is_special_huge(const struct vm_area_struct *vma)
{
	return vma->vm_file && (vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP));
}

/* Drop the mapping's reference on the folio of a cleared huge leaf. */
static void zap_put_leaf_folio(struct vm_area_struct *vma, unsigned long pfn, unsigned long addr)
{
	/* A leaf without a struct page in a mapping that should have one. */
	if (WARN_ON_ONCE(!pfn_valid(pfn)))
		return;
	folio_put(page_folio(pfn_to_page(pfn)));
}

/*
 * zap_huge_pud() (mm/huge_memory.c): clear a whole PUD leaf under the PUD
 * lock (__pud_trans_huge_lock re-checks it is still a leaf).  Returns
 * false if it was no longer one, and the caller goes on to the table.
 */
static bool zap_huge_pud(struct vm_area_struct *vma, pud_t *pud, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	spinlock_t *ptl;
	pud_t orig;

	sched_point(SP_ZAP_BEFORE_CLEAR, mm, addr);
	ptl = pud_lock(mm, pud);
	if (!pud_trans_huge(pudp_get(pud))) {
		spin_unlock(ptl);
		return false;
	}
	orig = pudp_huge_get_and_clear(pud);
	spin_unlock(ptl);
	/* Special (pfnmap) leaves: nothing to put.  Otherwise the mapping's ref. */
	if (!vma_is_special_huge(vma))
		zap_put_leaf_folio(vma, pud_pfn(orig), addr);
	return true;
}

/* zap_huge_pmd() (mm/huge_memory.c): the PMD-level twin of zap_huge_pud(). */
static bool zap_huge_pmd(struct vm_area_struct *vma, pmd_t *pmd, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	spinlock_t *ptl;
	pmd_t orig;

	sched_point(SP_ZAP_BEFORE_CLEAR, mm, addr);
	ptl = pmd_lock(mm, pmd);
	if (!pmd_trans_huge(pmdp_get(pmd))) {
		spin_unlock(ptl);
		return false;
	}
	orig = pmdp_huge_get_and_clear(pmd);
	spin_unlock(ptl);
	if (!vma_is_special_huge(vma))
		zap_put_leaf_folio(vma, pmd_pfn(orig), addr);
	return true;
}

/*
 * Puts for a run of PTEs mapping consecutive pages of one folio, in one
 * step (the kernel batches them through folio_pte_batch() and the
 * mmu_gather).  Flushed when the folio changes and at the end.
 */
struct zap_batch {
	struct folio *folio;
	int nr;
};

static void zap_batch_flush(struct zap_batch *b)
{
	if (b->nr)
		folio_put_refs(b->folio, b->nr);
	b->folio = NULL;
	b->nr = 0;
}

static void zap_batch_add(struct zap_batch *b, struct folio *folio)
{
	if (b->folio != folio)
		zap_batch_flush(b);
	b->folio = folio;
	b->nr++;
}

/*
 * zap_pte_range(): clear the PTEs of [addr, end) under the PTE lock and put
 * the normal pages.  Returns @end, or @addr if the PMD no longer points to
 * a PTE table (a huge leaf raced in), so that the caller looks again.
 */
static unsigned long zap_pte_range(struct vm_area_struct *vma, pmd_t *pmd, unsigned long addr,
				   unsigned long end, const struct zap_details *details)
{
	struct mm_struct *mm = vma->vm_mm;
	struct zap_batch batch = {0};
	spinlock_t *ptl;
	pte_t *start_pte, *pte;

	sched_point(SP_ZAP_BEFORE_CLEAR, mm, addr);
	start_pte = pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		return addr;
	for (; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t ptent = ptep_get(pte);
		struct page *page;
		struct folio *folio = NULL;

		if (pte_none(ptent))
			continue;
		/*
		 * Simplification: no swap or migration entries exist, so a
		 * non-none entry is present.
		 */
		page = vm_normal_page(vma, addr, ptent);
		if (page) {
			folio = page_folio(page);
			if (!should_zap_folio(details, folio))
				continue;
		}
		(void)ptep_get_and_clear(pte);
		if (folio)
			zap_batch_add(&batch, folio);
	}
	pte_unmap_unlock(start_pte, ptl);
	/* After the unlock, like the kernel's tlb_finish_mmu(). */
	zap_batch_flush(&batch);
	return end;
}

/*
 * @pudval is a PUD table entry, and the snapshot stays good for the whole
 * range: the PMD table is freed only by free_pgtables(), which a zap under
 * mmap_lock excludes (munmap holds it for write), and which a zap from
 * unmap_mapping_range() (i_mmap_rwsem only) cannot meet: the VMA being
 * zapped is still on the file's i_mmap, so it is not being freed, and a
 * table it spans is never inside another munmap's [floor, ceiling).
 */
static void zap_pmd_range(struct vm_area_struct *vma, pud_t pudval, unsigned long addr,
			  unsigned long end, const struct zap_details *details)
{
	unsigned long next;
	pmd_t *pmd = pmd_offset_lockless(pudval, addr);
	pmd_t pmdval;

	do {
		next = pmd_addr_end(addr, end);
		pmdval = pmdp_get(pmd);
		if (pmd_trans_huge(pmdval)) {
			if (next - addr != PMD_SIZE) {
				/* Special: just cleared; anon THP: PTEs. */
				sched_point(SP_ZAP_BEFORE_CLEAR, vma->vm_mm, addr);
				split_huge_pmd(vma, pmd, addr);
			} else if (zap_huge_pmd(vma, pmd, addr)) {
				goto next;
			}
			/* Fall through: whatever is there now. */
		}
		/* pmd_none_or_clear_bad(): nothing (there are no swap PMDs here). */
		if (!pmd_present(pmdp_get(pmd)))
			goto next;
		if (zap_pte_range(vma, pmd, addr, next, details) != next)
			/* A leaf replaced the table: look at this PMD again. */
			continue;
next:
		pmd++;
		addr = next;
		cond_resched();
	} while (addr != end);
}

/*
 * pud_none_or_clear_bad() after a split: on x86 pud_bad() is true for a
 * leaf (it has _PAGE_PSE), so a huge entry that a concurrent fault
 * re-inserted between the split and this check is reported ("bad pud",
 * pr_err there, a counted WARN here) and cleared without further
 * accounting.  Only special leaves can race in like this (no anonymous
 * PUD THPs), so there is nothing to put.
 */
static void pud_clear_bad(struct vm_area_struct *vma, pud_t *pud, unsigned long addr)
{
	char msg[SIM_MSG_LEN];

	snprintf(msg, sizeof(msg), "bad pud %016llx at %lx",
		 (unsigned long long)pud_val(pudp_get(pud)), addr);
	__sim_warn(__FILE__, __LINE__, __func__, msg);
	(void)pudp_huge_get_and_clear(pud);
}

static void zap_pud_range(struct vm_area_struct *vma, p4d_t *p4d, unsigned long addr,
			  unsigned long end, const struct zap_details *details)
{
	unsigned long next;
	pud_t *pud = pud_offset(p4d, addr);
	pud_t pudval;

	do {
		next = pud_addr_end(addr, end);
		pudval = pudp_get(pud);
		if (pud_trans_huge(pudval)) {
			if (next - addr != PUD_SIZE) {
				/* The kernel asserts it here (zap_pud_range). */
				mmap_assert_locked(vma->vm_mm);
				/* A special PUD leaf is simply cleared (§2.7). */
				sched_point(SP_ZAP_BEFORE_CLEAR, vma->vm_mm, addr);
				split_huge_pud(vma, pud, addr);
			} else if (zap_huge_pud(vma, pud, addr)) {
				goto next;
			}
		}
		pudval = pudp_get(pud);
		if (pud_none(pudval))
			goto next;
		if (unlikely(pud_leaf(pudval) || pud_bad(pudval))) {
			pud_clear_bad(vma, pud, addr);
			goto next;
		}
		zap_pmd_range(vma, pudval, addr, next, details);
next:
		cond_resched();
	} while (pud++, addr = next, addr != end);
}

/* unmap_page_range(): the pgd level (p4d folded). */
static void unmap_page_range(struct vm_area_struct *vma, unsigned long addr, unsigned long end,
			     const struct zap_details *details)
{
	unsigned long next;
	pgd_t *pgd = pgd_offset(vma->vm_mm, addr);

	do {
		next = pgd_addr_end(addr, end);
		if (pgd_none(pgdp_get(pgd)) || pgd_bad(pgdp_get(pgd)))
			continue;
		zap_pud_range(vma, p4d_offset(pgd, addr), addr, next, details);
	} while (pgd++, addr = next, addr != end);
}

/*
 * __unmap_hugepage_range() (mm/hugetlb.c): hugetlb VMAs are zapped a whole
 * huge page at a time, each leaf cleared under its lock and its folio put
 * (which returns it to the pool at refcount 0).  The kernel BUG_ONs on an
 * unaligned range; mmap.c enforces the alignment on munmap, so this WARNs
 * and zaps only the whole huge pages inside.
 */
static void unmap_hugepage_range(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	struct hstate *h = vma->vm_hstate;
	unsigned long sz, addr;

	if (WARN_ON_ONCE(!h))
		return;
	sz = huge_page_size(h);
	WARN_ON_ONCE((start | end) & (sz - 1));
	start = (start + sz - 1) & ~(sz - 1);
	end &= ~(sz - 1);

	for (addr = start; addr < end; addr += sz) {
		pgd_t *pgd = pgd_offset(mm, addr);
		spinlock_t *ptl;
		pud_t *pud;
		pmd_t *pmd;
		uint64_t old;

		if (!pgd_present(pgdp_get(pgd)))
			continue;
		pud = pud_offset(p4d_offset(pgd, addr), addr);
		if (h->order == PUD_ORDER) {
			if (!pud_present(pudp_get(pud)))
				continue;
			sched_point(SP_ZAP_BEFORE_CLEAR, mm, addr);
			ptl = pud_lock(mm, pud);
			old = pud_val(pudp_huge_get_and_clear(pud));
		} else {
			if (!pud_present(pudp_get(pud)) || pud_leaf(pudp_get(pud)))
				continue;
			pmd = pmd_offset(pud, addr);
			if (!pmd_present(pmdp_get(pmd)))
				continue;
			sched_point(SP_ZAP_BEFORE_CLEAR, mm, addr);
			ptl = pmd_lock(mm, pmd);
			old = pmd_val(pmdp_huge_get_and_clear(pmd));
		}
		spin_unlock(ptl);
		if (old & _PAGE_PRESENT)
			zap_put_leaf_folio(vma, pte_pfn(__pte(old)), addr);
		cond_resched();
	}
}

/*
 * unmap_single_vma(): clip to the VMA and zap.  The kernel skips hugetlb
 * VMAs without a vm_file (mmap_region's error path); here MAP_HUGETLB
 * mappings have no hugetlbfs file, so vm_file is not looked at.
 */
static void unmap_single_vma(struct vm_area_struct *vma, unsigned long start_addr,
			     unsigned long end_addr, const struct zap_details *details)
{
	unsigned long start = start_addr > vma->vm_start ? start_addr : vma->vm_start;
	unsigned long end = end_addr < vma->vm_end ? end_addr : vma->vm_end;

	if (start >= end)
		return;
	if (is_vm_hugetlb_page(vma))
		unmap_hugepage_range(vma, start, end);
	else
		unmap_page_range(vma, start, end, details);
	/* zap_page_range_single()/unmap_vmas(): mmu_notifier_invalidate_range_end(). */
	mm_notify_zap(vma->vm_mm, start, end);
}

static void zap_page_range_single_batched(struct vm_area_struct *vma, unsigned long addr,
					  unsigned long size, const struct zap_details *details)
{
	unsigned long end = addr + size;

	if (end < addr) /* wrapped: to the end of the VMA */
		end = vma->vm_end;
	unmap_single_vma(vma, addr, end, details);
}

void zap_page_range_single(struct vm_area_struct *vma, unsigned long addr, unsigned long size)
{
	zap_page_range_single_batched(vma, addr, size, NULL);
}

/*
 * unmap_mapping_range() → unmap_mapping_pages() → unmap_mapping_range_tree():
 * for every VMA of the mapping (any mm) intersecting the page range, zap
 * the intersecting addresses, under the mapping's i_mmap lock and without
 * any mmap lock.  holelen == 0 means "to the end of the file".
 *
 * The i_mmap lock is taken for read (i_mmap_lock_read() in
 * unmap_mapping_pages(), 6.12.118 and upstream alike, since "mm/memory.c:
 * share the i_mmap_rwsem", 3.19): the tree is only walked, and two zaps of
 * one device (a decode-off config write and a reset, say) run at the same
 * time, serialised only by the page-table locks, as in the kernel.  Only
 * mmap and munmap (vma_link_file(), unlink) exclude them.
 */
void unmap_mapping_range(struct address_space *mapping, uint64_t holebegin, uint64_t holelen,
			 bool even_cows)
{
	struct zap_details details = {.even_cows = even_cows};
	unsigned long first = holebegin >> PAGE_SHIFT;
	/* A length that overflows the page count means "to the end". */
	unsigned long nr = holelen > ~0UL - PAGE_SIZE ? 0 : (holelen + PAGE_SIZE - 1) >> PAGE_SHIFT;
	unsigned long last = first + nr - 1;
	struct vm_area_struct *vma;

	if (nr == 0 || last < first)
		last = ~0UL;

	i_mmap_lock_read(mapping);
	for (vma = mapping->i_mmap; vma; vma = vma->vm_mapping_next) {
		unsigned long vba = vma->vm_pgoff;
		unsigned long vea = vba + ((vma->vm_end - vma->vm_start) >> PAGE_SHIFT) - 1;
		unsigned long zba, zea;

		if (vea < first || vba > last)
			continue;
		zba = first > vba ? first : vba;
		zea = last < vea ? last : vea;
		zap_page_range_single_batched(vma, vma->vm_start + ((zba - vba) << PAGE_SHIFT),
					      (zea - zba + 1) << PAGE_SHIFT, &details);
	}
	i_mmap_unlock_read(mapping);
}

/* ------------------------------------------------------------------------ */
/* Freeing page tables (mm/memory.c free_pgtables(), free_pgd_range())      */
/* ------------------------------------------------------------------------ */

/*
 * p?d_none_or_clear_bad() with x86's p?d_bad(): an entry that is not a table
 * entry (not present, or a leaf: _PAGE_PSE) is bad.  Every leaf of the range
 * was zapped before, so one here is reported ("bad pmd", pr_err there, a
 * counted WARN here) and cleared, never freed as if it were a table.
 */
static bool none_or_clear_bad(void *entry, const char *level, unsigned long addr)
{
	uint64_t v = __entry_load(entry, __func__);
	char msg[SIM_MSG_LEN];

	if (!v)
		return true;
	if (likely((v & _PAGE_PRESENT) && !(v & _PAGE_PSE)))
		return false;
	snprintf(msg, sizeof(msg), "bad %s %016llx at %lx", level, (unsigned long long)v, addr);
	__sim_warn(__FILE__, __LINE__, __func__, msg);
	__entry_store(entry, 0, __func__);
	return true;
}

/* mm_dec_nr_ptes()/mm_dec_nr_pmds()/mm_dec_nr_puds(): one count for all levels here. */
static void mm_dec_nr_tables(struct mm_struct *mm)
{
	atomic_fetch_sub_explicit(&mm->nr_ptes, 1, memory_order_relaxed);
}

/*
 * May the table of the level above [start, end) go, the one whose span is
 * @mask-aligned?  Only if no address outside [floor, ceiling) uses it: its
 * aligned start is not below @floor, and @end does not pass @ceiling
 * rounded down to the span.  0 means the bottom for start and floor but the
 * top for end and ceiling, hence the "- 1" comparison, and a non-zero
 * ceiling that rounds down to 0 keeps the table (free_pmd_range() and
 * free_pud_range()'s tail in mm/memory.c).
 */
static bool table_span_unused(unsigned long start, unsigned long end, unsigned long floor,
			      unsigned long ceiling, unsigned long mask)
{
	start &= mask;
	if (start < floor)
		return false;
	if (ceiling) {
		ceiling &= mask;
		if (!ceiling)
			return false;
	}
	return end - 1 <= ceiling - 1;
}

/*
 * free_pte_range(): the whole PTE table goes; free_pgd_range() only gets
 * here for tables whose 2M lies inside [floor, ceiling).  No PTE lock, as
 * in the kernel: nobody who could take it can reach the table (see the top
 * of pgtable.h).
 */
static void free_pte_range(struct mmu_gather *tlb, pmd_t *pmd)
{
	struct page *table = pfn_to_page(pmd_pfn(pmdp_get(pmd)));

	set_pmd(pmd, __pmd(0));			/* pmd_clear() */
	tlb_remove_table(tlb, table);		/* pte_free_tlb() */
	mm_dec_nr_tables(tlb->mm);
}

static void free_pmd_range(struct mmu_gather *tlb, pud_t *pud, unsigned long addr,
			   unsigned long end, unsigned long floor, unsigned long ceiling)
{
	unsigned long start = addr, next;
	pmd_t *pmd = pmd_offset(pud, addr);
	struct page *table;

	do {
		next = pmd_addr_end(addr, end);
		if (!none_or_clear_bad(pmd, "pmd", addr))
			free_pte_range(tlb, pmd);
	} while (pmd++, addr = next, addr != end);

	if (!table_span_unused(start, end, floor, ceiling, PUD_MASK))
		return;
	table = pfn_to_page(pud_pfn(pudp_get(pud)));
	set_pud(pud, __pud(0));			/* pud_clear() */
	tlb_remove_table(tlb, table);		/* pmd_free_tlb() */
	mm_dec_nr_tables(tlb->mm);
}

/*
 * free_pud_range() under free_p4d_range(): with the p4d folded (4-level
 * x86-64), the p4d entry is the pgd entry and P4D_MASK is PGDIR_MASK, so
 * the PUD table goes with its 512G span and free_p4d_range() has nothing of
 * its own to free.
 */
static void free_pud_range(struct mmu_gather *tlb, pgd_t *pgd, unsigned long addr,
			   unsigned long end, unsigned long floor, unsigned long ceiling)
{
	unsigned long start = addr, next;
	pud_t *pud = pud_offset(p4d_offset(pgd, addr), addr);
	struct page *table;

	do {
		next = pud_addr_end(addr, end);
		if (!none_or_clear_bad(pud, "pud", addr))
			free_pmd_range(tlb, pud, addr, next, floor, ceiling);
	} while (pud++, addr = next, addr != end);

	if (!table_span_unused(start, end, floor, ceiling, PGDIR_MASK))
		return;
	table = pfn_to_page(pgd_pfn(pgdp_get(pgd)));
	set_pgd(pgd, __pgd(0));			/* p4d_clear() */
	tlb_remove_table(tlb, table);		/* pud_free_tlb() */
	mm_dec_nr_tables(tlb->mm);
}

/*
 * free_pgd_range() (mm/memory.c): free the tables of [addr, end) that
 * nothing in [floor, ceiling) shares.  The PTE level is trimmed here: a
 * PTE table holding @floor (the previous VMA's end) or reaching @ceiling
 * (the next VMA's start) stays, and the upper levels decide with their own
 * spans on the way back up.  The pgd itself is never freed here.
 */
void free_pgd_range(struct mmu_gather *tlb, unsigned long addr, unsigned long end,
		    unsigned long floor, unsigned long ceiling)
{
	unsigned long next;
	pgd_t *pgd;

	addr &= PMD_MASK;
	if (addr < floor) {
		addr += PMD_SIZE;
		if (!addr)
			return;
	}
	if (ceiling) {
		ceiling &= PMD_MASK;
		if (!ceiling)
			return;
	}
	if (end - 1 > ceiling - 1)
		end -= PMD_SIZE;
	if (addr > end - 1)
		return;

	pgd = pgd_offset(tlb->mm, addr);
	do {
		next = pgd_addr_end(addr, end);
		if (!none_or_clear_bad(pgd, "pgd", addr))
			free_pud_range(tlb, pgd, addr, next, floor, ceiling);
	} while (pgd++, addr = next, addr != end);
}

/*
 * hugetlb_free_pgd_range(): x86 has no __HAVE_ARCH_HUGETLB_FREE_PGD_RANGE,
 * so include/asm-generic/hugetlb.h's plain free_pgd_range() it is (no
 * shared PMDs here: huge_pmd_share() is not modelled).
 */
static void hugetlb_free_pgd_range(struct mmu_gather *tlb, unsigned long addr, unsigned long end,
				   unsigned long floor, unsigned long ceiling)
{
	free_pgd_range(tlb, addr, end, floor, ceiling);
}

/*
 * free_pgtables() (mm/memory.c): @vmas are the VMAs being removed, in
 * address order (the detached VMAs of a munmap, or every VMA at exit), all
 * zapped already.  Each is hidden from rmap walkers first — unlinked from
 * its file's i_mmap under i_mmap_lock_write() (unlink_file_vma_batch_*();
 * there are no anon_vmas here, so unlink_anon_vmas() has nothing to do) —
 * and only then are its tables freed, so that unmap_mapping_range(), which
 * walks i_mmap under i_mmap_rwsem without mmap_lock, can never reach a
 * table being freed.  Neighbouring non-hugetlb VMAs less than PMD_SIZE
 * apart go down in one free_pgd_range() call; the ceiling of each call is
 * the next VMA of the list, or @ceiling after the last.  The caller holds
 * the mmap write lock.
 */
void free_pgtables(struct mmu_gather *tlb, struct vm_area_struct **vmas, unsigned int nr,
		   unsigned long floor, unsigned long ceiling)
{
	unsigned int i = 0;

	while (i < nr) {
		struct vm_area_struct *vma = vmas[i++];
		struct vm_area_struct *next = i < nr ? vmas[i] : NULL;
		unsigned long addr = vma->vm_start;

		unlink_file_vma(vma);
		if (is_vm_hugetlb_page(vma)) {
			hugetlb_free_pgd_range(tlb, addr, vma->vm_end, floor,
					       next ? next->vm_start : ceiling);
			continue;
		}
		while (next && next->vm_start <= vma->vm_end + PMD_SIZE &&
		       !is_vm_hugetlb_page(next)) {
			vma = next;
			next = ++i < nr ? vmas[i] : NULL;
			unlink_file_vma(vma);
		}
		free_pgd_range(tlb, addr, vma->vm_end, floor, next ? next->vm_start : ceiling);
	}
}

/*
 * unmap_vmas() (mm/memory.c): zap [start, end) of each of @vmas, clipped
 * to it; hugetlb VMAs a huge page at a time.  mmap_lock held.
 */
void unmap_vmas(struct vm_area_struct **vmas, unsigned int nr, unsigned long start,
		unsigned long end)
{
	for (unsigned int i = 0; i < nr; i++)
		unmap_single_vma(vmas[i], start, end, NULL);
}

/* ------------------------------------------------------------------------ */
/* fork: copy_page_range() (mm/memory.c)                                     */
/* ------------------------------------------------------------------------ */

/*
 * folio_needs_cow_for_dma() (include/linux/mm.h): only a process that ever
 * pinned (MMF_HAS_PINNED) can have pinned pages worth copying at fork.
 */
static bool folio_needs_cow_for_dma(struct vm_area_struct *vma, struct folio *folio)
{
	if (!(atomic_load_explicit(&vma->vm_mm->flags, memory_order_relaxed) & MMF_HAS_PINNED))
		return false;
	return folio_maybe_dma_pinned(folio);
}

/*
 * __folio_try_dup_anon_rmap() (include/linux/rmap.h) for one PTE or one
 * PMD: a page that may be pinned and is still exclusive cannot be shared
 * with the child (-EBUSY: copy it, or split the PMD); otherwise it stops
 * being exclusive.  There is no mapcount to raise (see the top).
 */
int folio_try_dup_anon_rmap(struct folio *folio, struct page *page,
			    struct vm_area_struct *src_vma)
{
	if (PageAnonExclusive(page) && folio_needs_cow_for_dma(src_vma, folio))
		return -EBUSY;
	if (PageAnonExclusive(page))
		ClearPageAnonExclusive(page);
	return 0;
}

/*
 * The bytes of one page into another: copy_mc_user_highpage() /
 * copy_user_large_folio().  The destination is marked written so that it
 * is zeroed before reuse (page.h).
 */
void sim_copy_folio_data(struct folio *dst, struct page *src, unsigned long nr)
{
	memcpy(page_address(&dst->page), page_address(src), nr << PAGE_SHIFT);
	folio_mark_data(dst);
}

/*
 * copy_present_page(): the parent's page may be pinned, so the child gets
 * a copy of its own now (writable if the VMA is, dirty, exclusive) and the
 * parent keeps its page, its PTE untouched and still writable.  The copy
 * comes from *@prealloc, allocated by the caller with the locks dropped;
 * without one, -EAGAIN asks for it.
 */
static int copy_present_page(struct vm_area_struct *dst_vma, pte_t *dst_pte, pte_t src,
			     struct folio **prealloc, struct page *page)
{
	struct folio *new_folio = *prealloc;
	pte_t pte;

	if (!new_folio)
		return -EAGAIN;
	*prealloc = NULL;
	sim_copy_folio_data(new_folio, page, 1);
	SetPageFlag(&new_folio->page, PG_anon_exclusive);	/* RMAP_EXCLUSIVE */
	/*
	 * mk_pte(vm_page_prot): the parent's protection bits, not
	 * vm_page_prot, because the simulation keeps the leaves of a
	 * PROT_NONE VMA present (sim/mprotect.c) where PAGE_NONE has no
	 * present bit; for any other VMA they are vm_page_prot's.
	 */
	pte = pte_mkdirty(pfn_pte(folio_pfn(new_folio), pte_pgprot(src)));
	if (dst_vma->vm_flags & VM_WRITE)	/* maybe_mkwrite() */
		pte = pte_mkwrite(pte);
	set_pte(dst_pte, pte);
	return 0;
}

/*
 * __copy_present_ptes() for one entry: in a COW mapping a writable entry
 * is write-protected in both processes; in a shared one the child's is
 * clean; the child's is old.
 */
static void __copy_present_pte(struct vm_area_struct *src_vma, pte_t *dst_pte,
			       pte_t *src_pte, pte_t pte)
{
	if (is_cow_mapping(src_vma->vm_flags) && pte_write(pte)) {
		set_pte(src_pte, pte_wrprotect(ptep_get(src_pte)));	/* wrprotect_ptes() */
		pte = pte_wrprotect(pte);
	}
	if (src_vma->vm_flags & VM_SHARED)
		pte = pte_mkclean(pte);
	set_pte(dst_pte, pte_mkold(pte));
}

/*
 * copy_present_ptes() without folio_pte_batch(): one PTE at a time, which
 * takes the same references and makes the same entries (the batch only
 * saves work; with a pinned page the kernel falls back to one PTE too).
 * A page without struct page (pfnmap) is just copied; a normal page gets
 * the child's reference; an anonymous one must also pass
 * folio_try_dup_anon_rmap(), else the child gets a copy.
 */
static int copy_present_pte(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma,
			    pte_t *dst_pte, pte_t *src_pte, pte_t pte, unsigned long addr,
			    struct folio **prealloc)
{
	struct page *page = vm_normal_page(src_vma, addr, pte);
	struct folio *folio;

	if (!page)
		goto copy_pte;
	folio = page_folio(page);
	folio_get(folio);
	if (folio_test_anon_in(folio, src_vma) &&
	    folio_try_dup_anon_rmap(folio, page, src_vma)) {
		/* Page may be pinned: copy it for the child now. */
		folio_put(folio);
		return copy_present_page(dst_vma, dst_pte, pte, prealloc, page);
	}
copy_pte:
	__copy_present_pte(src_vma, dst_pte, src_pte, pte);
	return 0;
}

/*
 * copy_pte_range(): both PTE tables locked (the child's allocated first),
 * each present entry copied.  A pinned page needs a new folio, allocated
 * with the locks dropped (folio_prealloc()), after which the walk resumes
 * where it stopped.  -ENOMEM when a table or the folio cannot be had.
 * No swap, migration or device entries exist here: a non-none PTE is
 * present (copy_nonpresent_pte() has nothing to do).
 */
static int copy_pte_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma,
			  pmd_t *dst_pmd, pmd_t *src_pmd, unsigned long addr, unsigned long end)
{
	struct mm_struct *dst_mm = dst_vma->vm_mm;
	struct mm_struct *src_mm = src_vma->vm_mm;
	struct folio *prealloc = NULL;
	spinlock_t *src_ptl, *dst_ptl;
	pte_t *src_pte, *dst_pte, *orig_dst_pte;
	int ret;

again:
	ret = 0;
	if (pmd_none(pmdp_get(dst_pmd)) && __pte_alloc(dst_mm, dst_pmd)) {
		ret = -ENOMEM;
		goto out;
	}
	dst_pte = pte_offset_map_lock(dst_mm, dst_pmd, addr, &dst_ptl);
	if (!dst_pte) {
		ret = -ENOMEM;
		goto out;
	}
	src_pte = pte_offset_map(src_pmd, addr, NULL);
	if (!src_pte) {
		pte_unmap_unlock(dst_pte, dst_ptl);
		goto out;
	}
	src_ptl = pte_lockptr(src_mm, pmdp_get(src_pmd));
	spin_lock(src_ptl);
	orig_dst_pte = dst_pte;
	do {
		pte_t ptent = ptep_get(src_pte);

		if (pte_none(ptent))
			continue;
		ret = copy_present_pte(dst_vma, src_vma, dst_pte, src_pte, ptent, addr,
				       &prealloc);
		if (unlikely(ret == -EAGAIN))
			break;
		if (unlikely(prealloc)) {
			/* Not used (the pinned PTE changed): not kept for the next. */
			folio_put(prealloc);
			prealloc = NULL;
		}
	} while (dst_pte++, src_pte++, addr += PAGE_SIZE, addr != end);
	spin_unlock(src_ptl);
	pte_unmap_unlock(orig_dst_pte, dst_ptl);
	cond_resched();

	if (ret == -EAGAIN) {
		prealloc = folio_alloc(0, PGTY_anon);	/* folio_prealloc() */
		if (!prealloc)
			return -ENOMEM;
		ret = 0;
	}
	if (addr != end)
		goto again;
out:
	if (unlikely(prealloc))
		folio_put(prealloc);
	return ret;
}

/*
 * copy_pmd_range(): a PMD leaf goes to copy_huge_pmd(), which may split
 * it (a pinned THP: -EAGAIN) and let the PTE copy below take the pieces.
 * The leaf must cover the whole PMD (VM_BUG_ON_VMA there; split VMAs
 * split their THPs, vma_adjust_trans_huge()): here a WARN and a split.
 */
static int copy_pmd_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma,
			  pud_t *dst_pud, pud_t *src_pud, unsigned long addr, unsigned long end)
{
	struct mm_struct *dst_mm = dst_vma->vm_mm;
	struct mm_struct *src_mm = src_vma->vm_mm;
	pmd_t *src_pmd, *dst_pmd;
	unsigned long next;

	dst_pmd = pmd_alloc(dst_mm, dst_pud, addr);
	if (!dst_pmd)
		return -ENOMEM;
	src_pmd = pmd_offset(src_pud, addr);
	do {
		next = pmd_addr_end(addr, end);
		if (pmd_trans_huge(pmdp_get(src_pmd))) {
			int err;

			if (WARN_ON_ONCE(next - addr != PMD_SIZE)) {
				split_huge_pmd(src_vma, src_pmd, addr);
			} else {
				err = copy_huge_pmd(dst_mm, src_mm, dst_pmd, src_pmd, addr, dst_vma,
						    src_vma);
				if (err == -ENOMEM)
					return -ENOMEM;
				if (!err)
					continue;
			}
			/* fall through: a PTE table now, or none */
		}
		if (!pmd_present(pmdp_get(src_pmd)) || pmd_leaf(pmdp_get(src_pmd)))
			continue;	/* pmd_none_or_clear_bad(): none here */
		if (copy_pte_range(dst_vma, src_vma, dst_pmd, src_pmd, addr, next))
			return -ENOMEM;
	} while (dst_pmd++, src_pmd++, addr = next, addr != end);
	return 0;
}

/* copy_pud_range(): PUD leaves (pfnmap) through copy_huge_pud(). */
static int copy_pud_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma,
			  p4d_t *dst_p4d, p4d_t *src_p4d, unsigned long addr, unsigned long end)
{
	struct mm_struct *dst_mm = dst_vma->vm_mm;
	struct mm_struct *src_mm = src_vma->vm_mm;
	pud_t *src_pud, *dst_pud;
	unsigned long next;

	dst_pud = pud_alloc(dst_mm, dst_p4d, addr);
	if (!dst_pud)
		return -ENOMEM;
	src_pud = pud_offset(src_p4d, addr);
	do {
		pud_t pud;

		next = pud_addr_end(addr, end);
		if (pud_trans_huge(pudp_get(src_pud))) {
			int err;

			if (WARN_ON_ONCE(next - addr != PUD_SIZE)) {
				split_huge_pud(src_vma, src_pud, addr);
			} else {
				err = copy_huge_pud(dst_mm, src_mm, dst_pud, src_pud, addr, src_vma);
				if (err == -ENOMEM)
					return -ENOMEM;
				if (!err)
					continue;
			}
		}
		pud = pudp_get(src_pud);
		if (!pud_present(pud) || pud_leaf(pud))
			continue;	/* pud_none_or_clear_bad() */
		if (copy_pmd_range(dst_vma, src_vma, dst_pud, src_pud, addr, next))
			return -ENOMEM;
	} while (dst_pud++, src_pud++, addr = next, addr != end);
	return 0;
}

/*
 * vma_needs_copy() (6.12): always for VM_PFNMAP/VM_MIXEDMAP (the child
 * cannot refault raw pfns) and for VMAs with an anon_vma (anonymous pages
 * exist only there); a VMA without either is left to refault in the child
 * (shared file mappings, untouched private ones).  uffd-wp is not modelled.
 *
 * Without anon_vmas here: a private VMA counts as having one (one that
 * never faulted has no entries, so copying it finds nothing, as skipping
 * it would).  A shared VMA never has one: shared anonymous memory is a
 * shmem file (shmem_zero_setup()), shared hugetlb memory a hugetlbfs file,
 * and the child refaults their pages from the page cache (sim/shmem.c,
 * sim/hugetlbfs.c), so both map the same pages.
 */
static bool vma_needs_copy(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma)
{
	(void)dst_vma;
	if (src_vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP))
		return true;
	return !(src_vma->vm_flags & VM_SHARED);	/* src_vma->anon_vma */
}

/*
 * copy_page_range() (mm/memory.c): both mmap locks held for write
 * (dup_mmap()).  In a COW mapping the parent's writable entries are
 * write-protected, which a secondary MMU must learn:
 * mmu_notifier_invalidate_range_start(MMU_NOTIFY_PROTECTION_PAGE) over the
 * VMA there; here the zap notifier over the same range, once the copy is
 * done (the notifier is an _end(), see mm_notify_zap()), so that a host
 * mirror drops the range and its next write faults through the simulated
 * MMU (do_wp_page()).  track_pfn_copy() (PAT) is not modelled.  On
 * -ENOMEM the parent's entries stay write-protected, as in the kernel:
 * harmless, the next write reuses the page (do_wp_page()).
 */
int copy_page_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma)
{
	struct mm_struct *dst_mm = dst_vma->vm_mm;
	struct mm_struct *src_mm = src_vma->vm_mm;
	unsigned long addr = src_vma->vm_start, end = src_vma->vm_end, next;
	pgd_t *src_pgd, *dst_pgd;
	bool is_cow;
	int ret = 0;

	if (!vma_needs_copy(dst_vma, src_vma))
		return 0;
	if (is_vm_hugetlb_page(src_vma))
		return copy_hugetlb_page_range(dst_mm, src_mm, dst_vma, src_vma);

	is_cow = is_cow_mapping(src_vma->vm_flags);
	dst_pgd = pgd_offset(dst_mm, addr);
	src_pgd = pgd_offset(src_mm, addr);
	do {
		next = pgd_addr_end(addr, end);
		if (pgd_none(pgdp_get(src_pgd)) || pgd_bad(pgdp_get(src_pgd)))
			continue;
		/* copy_p4d_range(): the p4d is folded into the pgd. */
		if (copy_pud_range(dst_vma, src_vma, p4d_offset(dst_pgd, addr),
				   p4d_offset(src_pgd, addr), addr, next)) {
			ret = -ENOMEM;
			break;
		}
	} while (dst_pgd++, src_pgd++, addr = next, addr != end);

	if (is_cow)
		mm_notify_zap(src_mm, src_vma->vm_start, src_vma->vm_end);
	return ret;
}
