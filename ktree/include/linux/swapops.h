/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim <linux/swap.h> and <linux/swapops.h> (swap.h includes this) for the
 * tree's mm/pagewalk.c, used only by folio_walk_start().
 *
 * Mapped: swp_entry_t (include/linux/mm_types.h), as a one-word struct.
 * Stubbed, and why: pinsim has no swap and no page migration, so no
 *   non-present, non-none entry is ever written: pte_to_swp_entry and
 *   pmd_to_swp_entry give the zero entry; is_migration_entry and
 *   is_pmd_migration_entry are false; pfn_swap_entry_to_page (unreachable
 *   behind them) is NULL.
 */
#ifndef KTREE_LINUX_SWAPOPS_H
#define KTREE_LINUX_SWAPOPS_H

#include <linux/mm.h>

typedef struct {
	unsigned long val;
} swp_entry_t;

static inline swp_entry_t pte_to_swp_entry(pte_t pte) { (void)pte; return (swp_entry_t){ 0 }; }
static inline swp_entry_t pmd_to_swp_entry(pmd_t pmd) { (void)pmd; return (swp_entry_t){ 0 }; }
static inline bool is_migration_entry(swp_entry_t e) { (void)e; return false; }
static inline bool is_pmd_migration_entry(pmd_t pmd) { (void)pmd; return false; }
static inline struct page *pfn_swap_entry_to_page(swp_entry_t e) { (void)e; return NULL; }

#endif /* KTREE_LINUX_SWAPOPS_H */
