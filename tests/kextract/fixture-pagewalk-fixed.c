/* A stand-in for mm/pagewalk.c with 3b89863c3fa4 applied: the shape
 * scripts/revert-walker-fix.py matches (written for the test; not kernel
 * code, it does not compile). */
static int walk_pte_range(pud_t *pud)
{
	pud_t pudval = pudp_get(pud);
	return 0;
}

static int walk_pmd_range(pud_t *pud, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	pud_t pudval = pudp_get(pud);
	pmd_t *pmd;

	/*
	 * Why the snapshot.
	 */
	if (!pud_present(pudval) || pud_leaf(pudval)) {
		walk->action = ACTION_AGAIN;
		return 0;
	}

	pmd = pmd_offset(pud, addr);
	return 0;
}

static int walk_pud_range(p4d_t *p4d, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	do {
again:
		if (walk->vma)
			split_huge_pud(walk->vma, pud, addr);

		err = walk_pmd_range(pud, addr, next, walk);
		if (err)
			break;

		if (walk->action == ACTION_AGAIN)
			goto again;
	} while (pud++, addr = next, addr != end);
	return err;
}
