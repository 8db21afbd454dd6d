// SPDX-License-Identifier: GPL-2.0-only
/*
 * The front end (lib/vfio_fd.c) reaches the container's IOMMU backend only
 * through its table (lib/vfio_iommu_driver.h), as drivers/vfio/container.c
 * reaches a driver only through container->iommu_driver->ops.  A counting
 * backend wrapping the machine's own (pinsim's type1 here, the tree's on a
 * machine running it) is installed with pinsim_set_vfio_backend(); a
 * scripted sequence of syscalls must reach it in the kernel's order:
 *  - container.c vfio_container_ioctl_check_extension(): without a driver
 *    every registered one is polled with no data, with one only it, with
 *    its data;
 *  - vfio_ioctl_set_iommu(): CHECK_EXTENSION, open, then
 *    __vfio_container_attach_groups() newest group first; a failed attach
 *    detaches what was attached and releases;
 *  - vfio_container_attach_group() on a container with a driver attaches
 *    the new group; vfio_group_detach_container() detaches it, and the last
 *    one releases the driver's data (container deprivileged);
 *  - vfio_fops_unl_ioctl() passes every other request to the driver's
 *    ioctl with its data.
 * pinsim's observation points (group_domain, get_stats, nr_dmas,
 * dma_avail) go through the table too.
 */
#include "pinsim_internal.h"
#include "vfio_harness.h"
#include "vfio_iommu_driver.h"

enum {
	OP_OPEN,
	OP_RELEASE,
	OP_IOCTL,
	OP_ATTACH,
	OP_DETACH,
	OP_DOMAIN,
	OP_STATS,
	OP_NR_DMAS,
	OP_DMA_AVAIL,
	NR_OPS
};

static const char *const op_name[NR_OPS] = {
	"open", "release", "ioctl", "attach", "detach", "domain", "stats", "nr_dmas", "dma_avail",
};

/* What the counting backend saw. */
static struct {
	const struct vfio_iommu_backend *inner;
	unsigned int calls[NR_OPS];
	/* The calls that change the container's shape, in order: "open", "attach 3", ... */
	char log[512];
	/* ioctl by request, NULL-data ones (polls) separately */
	unsigned int ioctls[4], polls;
	void *data; /* what open returned; every later call must pass it */
	bool wrong_data;
	int fail_attach_of; /* group id whose attach fails (-EBUSY), -1 none */
	bool offer_nothing; /* CHECK_EXTENSION answers 0 to everything */
} cb;

/* Append "@what" or "@what @id" (@id >= 0) to the log. */
static void cb_log(const char *what, int id)
{
	size_t n = strlen(cb.log);

	if (id >= 0)
		snprintf(cb.log + n, sizeof(cb.log) - n, "%s%s %d", n ? " " : "", what, id);
	else
		snprintf(cb.log + n, sizeof(cb.log) - n, "%s%s", n ? " " : "", what);
}

static void cb_check(void *data)
{
	if (data != cb.data)
		cb.wrong_data = true;
}

static int ioctl_slot(unsigned int cmd)
{
	switch (cmd) {
	case VFIO_CHECK_EXTENSION:
		return 0;
	case VFIO_IOMMU_MAP_DMA:
		return 1;
	case VFIO_IOMMU_UNMAP_DMA:
		return 2;
	default:
		return 3;
	}
}

static int cb_open(unsigned long arg, void **data)
{
	int ret;

	cb.calls[OP_OPEN]++;
	ret = cb.inner->open(arg, data);
	if (!ret)
		cb.data = *data;
	cb_log("open", (int)arg);
	return ret;
}

static void cb_release(void *data)
{
	cb.calls[OP_RELEASE]++;
	cb_check(data);
	cb_log("release", -1);
	cb.inner->release(data);
	cb.data = NULL;
}

static long cb_ioctl(void *data, unsigned int cmd, void *arg)
{
	cb.calls[OP_IOCTL]++;
	if (!data) {
		cb.polls++;
		if (cmd != VFIO_CHECK_EXTENSION)
			cb.wrong_data = true; /* only CHECK_EXTENSION polls */
	} else {
		cb_check(data);
		cb.ioctls[ioctl_slot(cmd)]++;
	}
	if (cmd == VFIO_CHECK_EXTENSION && cb.offer_nothing)
		return 0;
	return cb.inner->ioctl(data, cmd, arg);
}

static int cb_attach_group(void *data, int group_id, int iommu_unit, bool emulated)
{
	cb.calls[OP_ATTACH]++;
	cb_check(data);
	cb_log("attach", group_id);
	if (group_id == cb.fail_attach_of)
		return -EBUSY;
	return cb.inner->attach_group(data, group_id, iommu_unit, emulated);
}

static void cb_detach_group(void *data, int group_id)
{
	cb.calls[OP_DETACH]++;
	cb_check(data);
	cb_log("detach", group_id);
	cb.inner->detach_group(data, group_id);
}

static struct iommu_domain *cb_group_domain(void *data, int group_id)
{
	cb.calls[OP_DOMAIN]++;
	cb_check(data);
	return cb.inner->group_domain(data, group_id);
}

static void cb_get_stats(void *data, struct vfio_type1_stats *st)
{
	cb.calls[OP_STATS]++;
	cb_check(data);
	cb.inner->get_stats(data, st);
}

static unsigned int cb_nr_dmas(void *data)
{
	cb.calls[OP_NR_DMAS]++;
	cb_check(data);
	return cb.inner->nr_dmas(data);
}

static unsigned int cb_dma_avail(void *data)
{
	cb.calls[OP_DMA_AVAIL]++;
	cb_check(data);
	return cb.inner->dma_avail(data);
}

static const struct vfio_iommu_backend counting_backend = {
	.name = "counting",
	.open = cb_open,
	.release = cb_release,
	.ioctl = cb_ioctl,
	.attach_group = cb_attach_group,
	.detach_group = cb_detach_group,
	.group_domain = cb_group_domain,
	.get_stats = cb_get_stats,
	.nr_dmas = cb_nr_dmas,
	.dma_avail = cb_dma_avail,
};

/* The machine of vfio_harness.h with the counting backend around its own. */
static void counting_setup(void)
{
	vh_setup();
	memset(&cb, 0, sizeof(cb));
	cb.fail_attach_of = -1;
	cb.inner = sim->vfio_backend;
	ck_assert_ptr_nonnull(cb.inner);
	pinsim_set_vfio_backend(sim, &counting_backend);
}

static void assert_calls(const unsigned int want[NR_OPS])
{
	for (int i = 0; i < NR_OPS; i++)
		ck_assert_msg(cb.calls[i] == want[i], "%s: %u calls, expected %u (log: %s)",
			      op_name[i], cb.calls[i], want[i], cb.log);
	ck_assert_msg(!cb.wrong_data, "a call passed data other than open's");
}

START_TEST(test_machine_backend_is_the_rewrite_unless_the_machine_runs_the_tree)
{
	const struct vfio_iommu_backend *want = &vfio_iommu_type1_rewrite;

	if (vh_cfg.impl == PINSIM_IMPL_TREE)
		want = &ktree_vfio_iommu_type1;
	ck_assert_ptr_eq(cb.inner, want);
	ck_assert_ptr_nonnull(cb.inner->name);
}
END_TEST

/*
 * The scripted sequence: every container, group and DMA syscall a VMM
 * makes, with the backend calls each one must cause.
 */
START_TEST(test_every_front_end_call_reaches_the_container_backend)
{
	unsigned int want[NR_OPS] = {0};
	struct pinsim_vfio_stats st;
	uint64_t buf[512 / 8] = {0};
	unsigned char b = 0x5a;
	uint64_t va, unmapped = 0, phys = 0;
	char expect[128];
	int c;

	/* GET_API_VERSION is the core's; CHECK_EXTENSION with no driver polls it. */
	c = vh_open_container();
	assert_calls(want);
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_CHECK_EXTENSION, (void *)VFIO_TYPE1v2_IOMMU),
			 1);
	want[OP_IOCTL] = 1;
	assert_calls(want);
	ck_assert_uint_eq(cb.polls, 1);

	/* SET_IOMMU: poll, open, attach the groups newest first. */
	vh_group_set_container(&dev0, c);
	vh_group_set_container(&dev1, c);
	assert_calls(want);
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), 0);
	want[OP_IOCTL] = 2;
	want[OP_OPEN] = 1;
	want[OP_ATTACH] = 2;
	assert_calls(want);
	ck_assert_uint_eq(cb.polls, 2);
	snprintf(expect, sizeof(expect), "open %d attach %d attach %d", VFIO_TYPE1v2_IOMMU,
		 dev1.group_id, dev0.group_id);
	ck_assert_str_eq(cb.log, expect);
	ck_assert_ptr_nonnull(cb.data);

	/* With a driver, CHECK_EXTENSION asks it with its data. */
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_CHECK_EXTENSION, (void *)VFIO_UNMAP_ALL), 1);
	want[OP_IOCTL]++;
	assert_calls(want);
	ck_assert_uint_eq(cb.polls, 2);
	ck_assert_uint_eq(cb.ioctls[0], 1);

	/* GET_INFO, MAP and UNMAP: passed through with the driver's data. */
	vh_get_device(&dev0);
	vh_get_device(&dev1);
	va = vh_mmap(4 * PG, RW, ANON);
	vh_touch(va, 4 * PG, PG);
	ck_assert_int_eq(vh_get_info(c, buf, sizeof(buf)), 0);
	vh_map_ok(c, va, 0x100000, 4 * PG);
	want[OP_IOCTL] += 2;
	assert_calls(want);
	ck_assert_uint_eq(cb.ioctls[1], 1);
	ck_assert_uint_eq(cb.ioctls[3], 1);

	/* Device DMA and IOMMU lookups ask the driver for the group's domain. */
	ck_assert_int_eq(pinsim_dma(sim, dev0.group_id, 0x100000, &b, 1, 1), 1);
	ck_assert_int_eq(pinsim_iommu_lookup(sim, dev1.group_id, 0x100000, &phys, NULL), 0);
	ck_assert_uint_ne(phys, 0);
	ck_assert_uint_eq(cb.calls[OP_DOMAIN], 2);
	want[OP_DOMAIN] = 2;

	/* Statistics: get_stats, nr_dmas, dma_avail, each once. */
	ck_assert_int_eq(pinsim_vfio_stats(proc, c, &st), 0);
	ck_assert_uint_eq(st.nr_dmas, 1);
	want[OP_STATS] = want[OP_NR_DMAS] = want[OP_DMA_AVAIL] = 1;
	assert_calls(want);

	ck_assert_int_eq(vh_unmap(c, 0x100000, 4 * PG, &unmapped), 0);
	ck_assert_uint_eq(unmapped, 4 * PG);
	want[OP_IOCTL]++;
	ck_assert_uint_eq(cb.ioctls[2], 1);
	/* A request the driver does not know still reaches it (-ENOTTY from it). */
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(proc, c, _IO(VFIO_TYPE, VFIO_BASE + 99), buf), -1);
	ck_assert_int_eq(errno, ENOTTY);
	want[OP_IOCTL]++;
	assert_calls(want);

	/* Groups leave: each detaches, the last releases the driver's data. */
	ck_assert_int_eq(pinsim_close(proc, dev1.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev1.group), 0);
	want[OP_DETACH] = 1;
	assert_calls(want);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	want[OP_DETACH] = 2;
	want[OP_RELEASE] = 1;
	assert_calls(want);
	snprintf(expect, sizeof(expect), "open %d attach %d attach %d detach %d detach %d release",
		 VFIO_TYPE1v2_IOMMU, dev1.group_id, dev0.group_id, dev1.group_id, dev0.group_id);
	ck_assert_str_eq(cb.log, expect);
	ck_assert_ptr_null(cb.data);

	/* The deprivileged container has no driver: its ioctls stop at the core. */
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_IOMMU_GET_INFO, buf), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	assert_calls(want);
	vh_assert_unpinned(va, 4 * PG);
	vh_assert_clean();
}
END_TEST

/* A group joining a container that has a driver is attached by it at once. */
START_TEST(test_group_joining_a_set_container_is_attached_and_the_fd_close_releases)
{
	unsigned int want[NR_OPS] = {0};
	char expect[128];
	int c = vh_container(VFIO_TYPE1v2_IOMMU);

	want[OP_IOCTL] = 2; /* vh_container()'s CHECK_EXTENSION, SET_IOMMU's */
	want[OP_OPEN] = want[OP_ATTACH] = 1;
	assert_calls(want);
	vh_attach(&dev1, c);
	want[OP_ATTACH] = 2;
	assert_calls(want);
	/*
	 * Closing the container fd releases nothing while groups hold it; the
	 * process's exit closes the rest, which releases the driver once.
	 */
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	assert_calls(want);
	pinsim_proc_destroy(proc);
	proc = NULL;
	want[OP_DETACH] = 2;
	want[OP_RELEASE] = 1;
	assert_calls(want);
	snprintf(expect, sizeof(expect), "open %d attach %d attach %d", VFIO_TYPE1v2_IOMMU,
		 dev0.group_id, dev1.group_id);
	ck_assert_int_eq(strncmp(cb.log, expect, strlen(expect)), 0);
}
END_TEST

/* vfio_ioctl_set_iommu(): an attach failure unwinds through the driver. */
START_TEST(test_set_iommu_attach_failure_detaches_what_was_attached_and_releases)
{
	unsigned int want[NR_OPS] = {0};
	char expect[128];
	int c = vh_open_container();

	vh_group_set_container(&dev0, c);
	vh_group_set_container(&dev1, c);
	cb.fail_attach_of = dev0.group_id; /* the second attached (oldest) */
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), -1);
	ck_assert_int_eq(errno, EBUSY);
	want[OP_IOCTL] = want[OP_OPEN] = want[OP_RELEASE] = want[OP_DETACH] = 1;
	want[OP_ATTACH] = 2;
	assert_calls(want);
	snprintf(expect, sizeof(expect), "open %d attach %d attach %d detach %d release",
		 VFIO_TYPE1v2_IOMMU, dev1.group_id, dev0.group_id, dev1.group_id);
	ck_assert_str_eq(cb.log, expect);
	/* Nothing recorded: the container still has no driver, and a retry works. */
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_IOMMU_GET_INFO, &(uint64_t[8]){0}), -1);
	ck_assert_int_eq(errno, EINVAL);
	cb.fail_attach_of = -1;
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), 0);
	ck_assert_uint_eq(cb.calls[OP_OPEN], 2);
}
END_TEST

/*
 * The driver's answers are the answers: one that offers nothing makes
 * CHECK_EXTENSION 0 and SET_IOMMU -ENODEV, without an open.
 */
START_TEST(test_check_extension_and_set_iommu_take_the_backends_answer)
{
	int c = vh_open_container();

	cb.offer_nothing = true;
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_CHECK_EXTENSION, (void *)VFIO_TYPE1v2_IOMMU),
			 0);
	vh_group_set_container(&dev0, c);
	errno = 0;
	ck_assert_int_eq(pinsim_ioctl(proc, c, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), -1);
	ck_assert_int_eq(errno, ENODEV);
	ck_assert_uint_eq(cb.calls[OP_OPEN], 0);
	ck_assert_uint_eq(cb.polls, 2);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("vfio_backend");
	TCase *tc = vh_tcase(s, "dispatch", counting_setup);

	tcase_add_test(tc, test_machine_backend_is_the_rewrite_unless_the_machine_runs_the_tree);
	tcase_add_test(tc, test_every_front_end_call_reaches_the_container_backend);
	tcase_add_test(tc,
		       test_group_joining_a_set_container_is_attached_and_the_fd_close_releases);
	tcase_add_test(tc, test_set_iommu_attach_failure_detaches_what_was_attached_and_releases);
	tcase_add_test(tc, test_check_extension_and_set_iommu_take_the_backends_answer);
	return s;
}
