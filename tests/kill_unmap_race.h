/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A SIGKILLed process unmaps while a numa_maps reader holds its mmap_lock
 * (test_checkers, test_locked_vm): the reader takes mmap_lock and stops at
 * its first walk point (schedule 0.0.1), then the UNMAP_DMA runs to its
 * end.  6.12 vfio_unmap_unpin() unpins, vfio_lock_acct()'s
 * mmap_write_lock_killable() fails and the unmap ignores it: the pages stay
 * charged to the live process's locked_vm with no mapping accounting for
 * them.  Needs tests/vfio_harness.h (sim, proc, vh_*).
 */
#ifndef TESTS_KILL_UNMAP_RACE_H
#define TESTS_KILL_UNMAP_RACE_H

struct kill_race {
	int c;
	uint64_t iova, unmapped;
	char buf[4096];
};

static long kill_race_reader(void *arg)
{
	struct kill_race *k = arg;

	return pinsim_read_numa_maps(proc, k->buf, sizeof(k->buf));
}

static long kill_race_unmap(void *arg)
{
	struct kill_race *k = arg;

	return vh_unmap(k->c, k->iova, 4 * PG, &k->unmapped);
}

/*
 * Map 4 touched anonymous pages at @iova in a new type1v2 container,
 * SIGKILL the process and run the race into @res: the whole range was
 * unmapped, the 4 pages are still charged, and the run drew one report.
 */
static inline void kill_unmap_race_run(struct kill_race *k, uint64_t iova,
				       struct pinsim_sched_result *res)
{
	uint64_t va = vh_mmap(4 * PG, RW, ANON), before = vh_locked_vm();
	struct pinsim_thread t[2] = {
		{ .name = "reader", .proc = proc, .fn = kill_race_reader, .arg = k },
		{ .name = "unmap", .proc = proc, .fn = kill_race_unmap, .arg = k },
	};
	const struct pinsim_sched_opts o = {
		.schedule = "0.0.1",
		.points = 1u << PINSIM_SP_PTL | 1u << PINSIM_SP_MMAP_LOCK |
			  1u << PINSIM_SP_WALK_PMD_ENTRY,
	};

	k->c = vh_container(VFIO_TYPE1v2_IOMMU);
	k->iova = iova;
	vh_touch(va, 4 * PG, PG);
	vh_map_ok(k->c, va, iova, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before + 4);
	ck_assert_int_eq(pinsim_kill(proc), 0);
	ck_assert_int_eq(pinsim_sched_run(sim, t, 2, &o, res), 0);
	printf("# schedule %s (asked %s)\n", res->schedule, o.schedule);
	ck_assert_uint_eq(k->unmapped, 4 * PG);
	ck_assert_uint_eq(vh_locked_vm(), before + 4);	/* still charged */
	ck_assert_uint_eq(res->checker_reports, 1);
}

#endif /* TESTS_KILL_UNMAP_RACE_H */
