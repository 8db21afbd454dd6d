// SPDX-License-Identifier: GPL-2.0-only
/*
 * The public edge of the injector (sim/inject.c): pinsim_inject_* rules and
 * the pinsim_injector_* background thread.  This file only translates: a
 * group id to its vfio-pci device, a pinsim_proc to its mm, a pinsim_point
 * to a sched_point_id, and -errno to -1/errno.
 */
#include <errno.h>

#include "fault_inject.h"
#include "inject.h"
#include "machine.h"
#include "pinsim/pinsim.h"
#include "pinsim_internal.h"
#include "vfio_pci.h"

/* The public enums mirror the internal ones, in the same order. */
_Static_assert((int)PINSIM_NR_POINTS == (int)NR_SCHED_POINTS, "pinsim_point != sched_point_id");
_Static_assert((int)PINSIM_SP_WALK_PMD_AFTER_SPLIT == (int)SP_WALK_PMD_AFTER_SPLIT,
	       "pinsim_point order");
_Static_assert((int)PINSIM_SP_PTL == (int)SP_PTL, "pinsim_point order");
_Static_assert((int)PINSIM_NR_INJECT_ACTIONS == (int)NR_INJECT_ACTIONS,
	       "pinsim_inject_action != inject_action");
_Static_assert((int)PINSIM_INJECT_FATAL_SIGNAL == (int)INJECT_FATAL_SIGNAL,
	       "pinsim_inject_action order");

/*
 * A struct pinsim_injector * is a struct injector *: no wrapper to free, so
 * an injector that inject_reset() stops at machine teardown leaves nothing
 * behind.
 */

static int fail(int err)
{
	errno = err;
	return -1;
}

/*
 * The device of @group_id.  One device per group and group id = device id
 * (pinsim_add_device()), so the machine's device list answers it without
 * reaching into the VFIO group table.
 */
static struct vfio_pci_core_device *group_device(struct pinsim *sim, int group_id)
{
	struct machine *m = sim->m;
	struct vfio_pci_core_device *vdev;

	pthread_mutex_lock(&m->devices_lock);
	for (vdev = m->devices; vdev; vdev = vdev->next)
		if (vdev->id == group_id)
			break;
	pthread_mutex_unlock(&m->devices_lock);
	return vdev;
}

/* The internal target of an action; -EINVAL if what it names is missing. */
static int make_target(struct pinsim *sim, enum pinsim_inject_action action, int group_id,
		       struct pinsim_proc *proc, uint64_t addr, struct inject_target *t)
{
	if ((unsigned int)action >= PINSIM_NR_INJECT_ACTIONS)
		return -EINVAL;
	t->action = (enum inject_action)action;
	t->vdev = NULL;
	t->mm = NULL;
	t->addr = addr;
	if (action == PINSIM_INJECT_ZAP_BARS) {
		t->vdev = group_device(sim, group_id);
		return t->vdev ? 0 : -EINVAL;
	}
	if (!proc || proc->sim != sim)
		return -EINVAL;
	t->mm = proc->mm;
	return 0;
}

int pinsim_inject_add(struct pinsim *m, const struct pinsim_inject_rule *rule)
{
	struct inject_rule_spec spec = { 0 };
	int ret;

	if (!m || !rule)
		return fail(EINVAL);
	if ((unsigned int)rule->point >= PINSIM_NR_POINTS)
		return fail(EINVAL);
	ret = make_target(m, rule->action, rule->group_id, rule->proc, rule->addr, &spec.target);
	if (ret)
		return fail(-ret);
	spec.point = (enum sched_point_id)rule->point;
	spec.nth = rule->nth;
	spec.probability = rule->probability;
	spec.max_fires = rule->max_fires;
	spec.seed = rule->seed;
	ret = inject_rule_add(&spec);
	return ret < 0 ? fail(-ret) : ret;
}

int pinsim_inject_clear(struct pinsim *m)
{
	if (!m)
		return fail(EINVAL);
	inject_rules_clear();
	return 0;
}

int pinsim_inject_stats(struct pinsim *m, int rule, unsigned long *hits, unsigned long *fires)
{
	int ret;

	if (!m)
		return fail(EINVAL);
	ret = inject_rule_stats(rule, hits, fires, NULL);
	return ret ? fail(-ret) : 0;
}

int pinsim_injector_start(struct pinsim *m, const struct pinsim_injector_opts *opts,
			  struct pinsim_injector **out)
{
	struct injector_opts o = { 0 };
	struct injector *inj;
	int ret;

	if (!m || !opts || !out)
		return fail(EINVAL);
	ret = make_target(m, opts->action, opts->group_id, opts->proc, opts->addr, &o.target);
	if (ret)
		return fail(-ret);
	o.len = opts->len;
	o.rate_hz = opts->rate_hz;
	o.seed = opts->seed;
	ret = injector_start(&o, &inj);
	if (ret)
		return fail(-ret);
	*out = (struct pinsim_injector *)inj;
	return 0;
}

unsigned long pinsim_injector_stop(struct pinsim_injector *pi)
{
	return injector_stop((struct injector *)pi);
}

/* ---------------- allocation-failure injection ---------------- */

_Static_assert(PINSIM_FAIL_SLAB == FAIL_SLAB && PINSIM_FAIL_PAGE == FAIL_PAGE &&
		       PINSIM_FAIL_PGTABLE == FAIL_PGTABLE &&
		       PINSIM_FAIL_IOMMU_PGTABLE == FAIL_IOMMU_PGTABLE &&
		       PINSIM_FAIL_ALL == FAIL_ALL_KINDS,
	       "pinsim fail kinds != enum fail_kind");

int pinsim_fail_nth(struct pinsim_proc *p, unsigned int nth, unsigned int kinds)
{
	if (!p || (kinds & ~PINSIM_FAIL_ALL))
		return fail(EINVAL);
	fail_nth_set(p->mm, nth, kinds);
	return 0;
}

int pinsim_fail_every(struct pinsim_proc *p, unsigned int kinds)
{
	if (!p || (kinds & ~PINSIM_FAIL_ALL))
		return fail(EINVAL);
	fail_every_set(p->mm, kinds);
	return 0;
}

unsigned int pinsim_fail_nth_read(unsigned long *injected)
{
	if (injected)
		*injected = fail_injected();
	return fail_nth_get();
}
