// SPDX-License-Identifier: GPL-2.0-only
/*
 * The /dev/vfio fd front end held to drivers/vfio/container.c, group.c and
 * vfio_main.c (6.12.118; upstream does the same on every path here) and to
 * the vfio-pci ioctls they dispatch to: every ioctl's order of checks and
 * errno, and the lifetime of container, group and device files.  Each test
 * is named after the kernel behaviour it pins and cites the function; a
 * failing request is followed by the state it must have left alone (group
 * status, container membership, mappings, pins, locked_vm, fd numbers).
 *
 * Through the public API, except test_check_extension_*: it compares the
 * container's answer with the type1 backend's own (lib/vfio.h), whose
 * VFIO_TYPE1_NESTING_IOMMU answer depends on the kernel profile.
 */
#include "pinsim_internal.h"
#include "vfio_harness.h"
#include "vfio.h"
#include "vfio_iommu_driver.h"

#define IOVA_A 0x100000ULL
/* The mmap offset of vfio-pci region @i (vfio_pci_core.c VFIO_PCI_INDEX_TO_OFFSET). */
#define REGION_OFFSET(i) ((uint64_t)(i) << 40)

static int c;				/* v2_setup's container: dev0 attached, device open */

static void v2_setup(void)
{
	vh_setup();
	c = vh_container(VFIO_TYPE1v2_IOMMU);
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, fd, req, arg));
}

/* open("/dev/vfio/<group>"): the fd, or -errno. */
static int open_group(struct vh_dev *d)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id);
	errno = 0;
	return vh_rc(pinsim_open(proc, path, O_RDWR));
}

static int open_path(const char *path)
{
	errno = 0;
	return vh_rc(pinsim_open(proc, path, O_RDWR));
}

static uint32_t group_flags(int g)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };

	ck_assert_int_eq(xioctl(g, VFIO_GROUP_GET_STATUS, &st), 0);
	return st.flags;
}

static int set_container(int g, int k)
{
	return xioctl(g, VFIO_GROUP_SET_CONTAINER, &k);
}

static int set_iommu(int k, unsigned long type)
{
	return xioctl(k, VFIO_SET_IOMMU, (void *)type);
}

static int get_device(int g, const char *name)
{
	return xioctl(g, VFIO_GROUP_GET_DEVICE_FD, (void *)name);
}

/* The next fd open() would return: opened and closed again. */
static int next_fd(void)
{
	int fd = open_path("/dev/vfio/vfio");

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pinsim_close(proc, fd), 0);
	return fd;
}

static uint64_t anon(unsigned long n)
{
	uint64_t va = vh_mmap(n * PG, RW, ANON);

	vh_touch(va, n * PG, PG);
	return va;
}

/* @n pages at @va mapped at IOVA_A in @d's domain, pinned once, readable by the device. */
static void assert_mapped(struct vh_dev *d, uint64_t va, unsigned long n, const void *pattern,
			  size_t len)
{
	unsigned char in[256];

	ck_assert_uint_le(len, sizeof(in));
	vh_assert_pinned(va, n * PG, 1);
	ck_assert_uint_eq(vh_iommu_leaf(d, IOVA_A, NULL), PG);
	ck_assert_int_eq(pinsim_dma(sim, d->group_id, IOVA_A, in, len, 0), (ssize_t)len);
	ck_assert_int_eq(memcmp(in, pattern, len), 0);
}

/* Nothing of @d's old mappings is left: no pin, no accounting, DMA faults. */
static void assert_released(struct vh_dev *d, uint64_t va, unsigned long n)
{
	unsigned char in[16];

	vh_assert_unpinned(va, n * PG);
	ck_assert_uint_eq(vh_locked_vm(), 0);
	errno = 0;
	ck_assert_int_eq(pinsim_dma(sim, d->group_id, IOVA_A, in, sizeof(in), 0), -1);
	ck_assert_int_eq(errno, EFAULT);
}

/* ---------------- read/write of the config region ---------------- */

/*
 * vfio_pci_config_rw() with count 0 copies nothing: a NULL buffer with
 * length 0 is 0, not a memcpy() from NULL (UBSan caught that), and changes
 * nothing; NULL with a length is -EFAULT.
 */
START_TEST(test_config_rw_of_length_0_with_null_buffer_is_0)
{
	uint16_t cmd_before, cmd_after;
	uint64_t cmd;

	vh_container(VFIO_TYPE1v2_IOMMU);
	cmd = vh_region_offset(&dev0, VFIO_PCI_CONFIG_REGION_INDEX) + PCI_COMMAND;
	ck_assert_int_eq(pinsim_pread(proc, dev0.dev, &cmd_before, 2, cmd), 2);
	ck_assert_int_eq(pinsim_pread(proc, dev0.dev, NULL, 0, cmd), 0);
	ck_assert_int_eq(pinsim_pwrite(proc, dev0.dev, NULL, 0, cmd), 0);
	errno = 0;
	ck_assert_int_eq(pinsim_pread(proc, dev0.dev, NULL, 2, cmd), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_int_eq(pinsim_pread(proc, dev0.dev, &cmd_after, 2, cmd), 2);
	ck_assert_uint_eq(cmd_after, cmd_before);
	vh_assert_clean();
}
END_TEST

/* ---------------- VFIO_GROUP_SET_CONTAINER ---------------- */

/* group.c vfio_group_ioctl_set_container(): neither container nor iommufd -> -EBADFD. */
START_TEST(test_set_container_with_a_non_container_fd_is_ebadfd)
{
	int k = vh_open_container();
	int g0 = open_group(&dev0), g1 = open_group(&dev1);
	int d;

	ck_assert_int_ge(g0, 0);
	ck_assert_int_ge(g1, 0);
	ck_assert_int_eq(set_container(g0, g1), -EBADFD);	/* another group */
	ck_assert_int_eq(set_container(g0, g0), -EBADFD);	/* itself */
	ck_assert_uint_eq(group_flags(g0), VFIO_GROUP_FLAGS_VIABLE);
	/* Not attached anywhere: UNSET has nothing to undo, the container has no group. */
	ck_assert_int_eq(xioctl(g0, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1v2_IOMMU), -EINVAL);
	/* A device fd is not a container either. */
	ck_assert_int_eq(set_container(g0, k), 0);
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1v2_IOMMU), 0);
	d = get_device(g0, dev0.name);
	ck_assert_int_ge(d, 0);
	ck_assert_int_eq(set_container(g1, d), -EBADFD);
	ck_assert_uint_eq(group_flags(g1), VFIO_GROUP_FLAGS_VIABLE);
	ck_assert_uint_eq(group_flags(g0), VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	/* And g1 can still join the container. */
	ck_assert_int_eq(set_container(g1, k), 0);
	vh_assert_clean();
}
END_TEST

/*
 * vfio_group_ioctl_set_container(): get_user (-EFAULT), fdget (-EBADF), then
 * under the group lock an already set group (-EINVAL) before the fd's type.
 */
START_TEST(test_set_container_checks_get_user_then_fdget_then_group_state_then_fd_type)
{
	int k = vh_open_container(), k2 = vh_open_container();
	int g0 = open_group(&dev0), g1 = open_group(&dev1);

	ck_assert_int_eq(xioctl(g0, VFIO_GROUP_SET_CONTAINER, NULL), -EFAULT);
	ck_assert_int_eq(set_container(g0, 999), -EBADF);
	ck_assert_int_eq(set_container(g0, k), 0);
	ck_assert_int_eq(set_container(g0, 999), -EBADF);	/* fdget before the group lock */
	ck_assert_int_eq(set_container(g0, g1), -EINVAL);	/* set before the fd type */
	ck_assert_int_eq(set_container(g0, k), -EINVAL);
	ck_assert_int_eq(set_container(g0, k2), -EINVAL);
	/* Still in k only: k2 has no group, k takes a backend. */
	ck_assert_int_eq(set_iommu(k2, VFIO_TYPE1v2_IOMMU), -EINVAL);
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1v2_IOMMU), 0);
	ck_assert_uint_eq(group_flags(g0), VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	vh_assert_clean();
}
END_TEST

/* ---------------- VFIO_GROUP_GET_DEVICE_FD ---------------- */

/*
 * vfio_group_ioctl_get_device_fd(): strndup_user, then
 * vfio_device_get_from_name() (-ENODEV), and only then the container checks
 * of vfio_df_group_open() / vfio_group_use_container() (-EINVAL).
 */
START_TEST(test_get_device_fd_looks_up_the_name_before_the_container_checks)
{
	int g0 = open_group(&dev0), k, free_fd;

	ck_assert_int_ge(g0, 0);
	ck_assert_int_eq(get_device(g0, NULL), -EFAULT);
	/* No container. */
	ck_assert_int_eq(get_device(g0, dev1.name), -ENODEV);
	ck_assert_int_eq(get_device(g0, "0000:09:00.0"), -ENODEV);
	ck_assert_int_eq(get_device(g0, dev0.name), -EINVAL);
	/* A container without a backend. */
	k = vh_open_container();
	ck_assert_int_eq(set_container(g0, k), 0);
	free_fd = next_fd();
	ck_assert_int_eq(get_device(g0, dev1.name), -ENODEV);
	ck_assert_int_eq(get_device(g0, dev0.name), -EINVAL);
	/* Nothing was left open: no fd, no container user (UNSET is the 1 -> 0 step). */
	ck_assert_int_eq(next_fd(), free_fd);
	ck_assert_int_eq(xioctl(g0, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	ck_assert_uint_eq(group_flags(g0), VFIO_GROUP_FLAGS_VIABLE);
	vh_assert_clean();
}
END_TEST

/* strndup_user(arg, PAGE_SIZE): no NUL in the first PAGE_SIZE bytes -> -EINVAL. */
START_TEST(test_get_device_fd_name_without_a_nul_in_its_first_page_is_einval)
{
	static char name[PG + 1];
	int k = vh_open_container();

	vh_group_set_container(&dev0, k);
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1v2_IOMMU), 0);
	memset(name, 'a', PG);
	name[PG] = '\0';
	ck_assert_int_eq(get_device(dev0.group, name), -EINVAL);
	name[PG - 1] = '\0';				/* PAGE_SIZE bytes with the NUL */
	ck_assert_int_eq(get_device(dev0.group, name), -ENODEV);
	/* A name of the device, padded past the page: still the length error first. */
	memset(name, ' ', PG);
	memcpy(name, dev0.name, strlen(dev0.name));
	name[PG] = '\0';
	ck_assert_int_eq(get_device(dev0.group, name), -EINVAL);
	/* Nothing opened: the group can leave. */
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	vh_assert_clean();
}
END_TEST

/*
 * vfio_pci_core_match(): the name, then only ' '-separated options; a VF
 * token on a device that is neither PF nor VF is -EINVAL
 * (vfio_pci_validate_vf_token()), an unknown option -EINVAL, anything glued
 * to the name no match.
 */
START_TEST(test_get_device_fd_name_matching_is_vfio_pci_core_match)
{
	char buf[128];
	int k = vh_open_container(), d;

	vh_group_set_container(&dev0, k);
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1v2_IOMMU), 0);
	snprintf(buf, sizeof(buf), "%s vf_token=2ab74924-c335-45f4-9b16-8569e5b08258", dev0.name);
	ck_assert_int_eq(get_device(dev0.group, buf), -EINVAL);
	snprintf(buf, sizeof(buf), "%s vf_token=short", dev0.name);
	ck_assert_int_eq(get_device(dev0.group, buf), -EINVAL);
	snprintf(buf, sizeof(buf), "%s junk", dev0.name);
	ck_assert_int_eq(get_device(dev0.group, buf), -EINVAL);
	snprintf(buf, sizeof(buf), "%sx", dev0.name);
	ck_assert_int_eq(get_device(dev0.group, buf), -ENODEV);
	ck_assert_int_eq(get_device(dev0.group, "0000:01:00"), -ENODEV);	/* a prefix */
	ck_assert_int_eq(get_device(dev0.group, ""), -ENODEV);
	/* None of them opened the device: UNSET would be -EBUSY otherwise. */
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	ck_assert_int_eq(set_container(dev0.group, k), 0);
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1v2_IOMMU), 0);
	/* Trailing spaces are skipped: a match. */
	snprintf(buf, sizeof(buf), "%s   ", dev0.name);
	d = get_device(dev0.group, buf);
	ck_assert_int_ge(d, 0);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
	ck_assert_int_eq(pinsim_close(proc, d), 0);
	vh_assert_clean();
}
END_TEST

/* ---------------- file lifetimes ---------------- */

/*
 * container.c vfio_group_use_container(): the first device open takes a
 * reference on the group file, so closing the group fd does not run
 * vfio_group_fops_release(): the group stays in its container, the
 * mappings stay, the device keeps working, and the group cannot be opened
 * again (group->opened_file).  The last device close releases it.
 */
START_TEST(test_device_fd_holds_the_group_file_closing_the_group_fd_keeps_the_container)
{
	uint64_t a = anon(8), b = anon(2);
	unsigned char out[64];
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vh_state s;
	int g;

	vh_map_ok(c, a, IOVA_A, 8 * PG);
	vh_pattern(out, sizeof(out), 5);
	ck_assert_int_eq(pinsim_access(proc, a, out, sizeof(out), 1), sizeof(out));
	s = vh_snap(c);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	vh_assert_state(c, &s);
	assert_mapped(&dev0, a, 8, out, sizeof(out));
	/* The container keeps its backend: new mappings reach the group's domain. */
	vh_map_ok(c, b, IOVA_A + 64 * PG, 2 * PG);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A + 64 * PG, NULL), PG);
	vh_unmap_ok(c, IOVA_A + 64 * PG, 2 * PG);
	/* The device fd works. */
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_GET_INFO, &di), 0);
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_RESET, NULL), 0);
	/* vfio_group_fops_open(): the file is still open. */
	ck_assert_int_eq(open_group(&dev0), -EBUSY);
	vh_assert_state(c, &s);

	/* The last device close puts the group file: the group leaves, the backend goes. */
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	assert_released(&dev0, a, 8);
	errno = 0;
	ck_assert_int_eq(pinsim_vfio_stats(proc, c, &(struct pinsim_vfio_stats){ 0 }), -1);
	ck_assert_int_eq(errno, EINVAL);		/* no backend */
	g = open_group(&dev0);
	ck_assert_int_ge(g, 0);
	ck_assert_uint_eq(group_flags(g), VFIO_GROUP_FLAGS_VIABLE);
	ck_assert_int_eq(set_iommu(c, VFIO_TYPE1v2_IOMMU), -EINVAL);	/* no group left */
	vh_assert_clean();
}
END_TEST

/*
 * vfio_df_open()/vfio_df_close(): only the first open and the last close of
 * the device touch the container; several device fds share the one group
 * file reference.
 */
START_TEST(test_device_fds_share_one_group_reference_released_by_the_last_close)
{
	uint64_t a = anon(4);
	unsigned char out[32];
	int d2 = get_device(dev0.group, dev0.name);

	ck_assert_int_ge(d2, 0);
	vh_map_ok(c, a, IOVA_A, 4 * PG);
	vh_pattern(out, sizeof(out), 7);
	ck_assert_int_eq(pinsim_access(proc, a, out, sizeof(out), 1), sizeof(out));
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	assert_mapped(&dev0, a, 4, out, sizeof(out));
	ck_assert_uint_eq(vh_locked_vm(), 4);
	ck_assert_int_eq(open_group(&dev0), -EBUSY);
	ck_assert_int_eq(pinsim_close(proc, d2), 0);
	assert_released(&dev0, a, 4);
	ck_assert_int_ge(open_group(&dev0), 0);
	vh_assert_clean();
}
END_TEST

/*
 * vfio_group_ioctl_unset_container(): only the 1 -> 0 transition of
 * container_users; an open device is a second user, however many fds it has.
 */
START_TEST(test_unset_container_while_a_device_is_open_is_ebusy_and_changes_nothing)
{
	uint64_t a = anon(4);
	unsigned char out[32];
	struct vh_state s;
	int d2;

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	vh_pattern(out, sizeof(out), 9);
	ck_assert_int_eq(pinsim_access(proc, a, out, sizeof(out), 1), sizeof(out));
	s = vh_snap(c);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
	d2 = get_device(dev0.group, dev0.name);
	ck_assert_int_ge(d2, 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
	vh_assert_state(c, &s);
	assert_mapped(&dev0, a, 4, out, sizeof(out));
	ck_assert_uint_eq(group_flags(dev0.group),
			  VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	ck_assert_int_eq(pinsim_close(proc, d2), 0);
	/* No device open: the group file was never released (its fd is open). */
	assert_mapped(&dev0, a, 4, out, sizeof(out));
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_released(&dev0, a, 4);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);
	vh_assert_clean();
}
END_TEST

/*
 * container.c: "Must support container/group/device being closed in any
 * order": the container fd, then the group fd, go without a release; the
 * device fd's close ends the group file and with it the container.
 */
START_TEST(test_close_order_container_group_device_releases_at_the_device_close)
{
	uint64_t a = anon(4);
	unsigned char out[32];
	int d2;

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	vh_pattern(out, sizeof(out), 11);
	ck_assert_int_eq(pinsim_access(proc, a, out, sizeof(out), 1), sizeof(out));
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	/* The group keeps the container: another device open works. */
	d2 = get_device(dev0.group, dev0.name);
	ck_assert_int_ge(d2, 0);
	ck_assert_int_eq(pinsim_close(proc, d2), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	assert_mapped(&dev0, a, 4, out, sizeof(out));
	ck_assert_uint_eq(vh_locked_vm(), 4);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	assert_released(&dev0, a, 4);
	vh_assert_clean();
}
END_TEST

/* exit_files() -> every fput(): a device fd alone still ends the container. */
START_TEST(test_process_exit_with_only_a_device_fd_left_releases_everything)
{
	uint64_t g = vh_mmap(GiB, RW, HUGE_1G);
	struct pinsim_stats st;

	vh_map_ok(c, g, IOVA_A, GiB);
	ck_assert_int_eq(pinsim_close(proc, c), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	st = vh_sim_stats();
	ck_assert_uint_eq(st.hugetlb_1g_free, st.hugetlb_1g_total - 1);
	vh_assert_pinned(g, GiB, 1);
	pinsim_proc_destroy(proc);
	proc = NULL;
	st = vh_sim_stats();
	ck_assert_uint_eq(st.hugetlb_1g_free, st.hugetlb_1g_total);
	vh_assert_clean();
}
END_TEST

/* ---------------- BAR mappings hold the device file ---------------- */

/*
 * mm/mmap.c mmap_region(): the BAR's VMA holds the device file
 * (vma->vm_file = get_file(file)), so close() of the device fd is not the
 * last reference and vfio_main.c vfio_device_fops_release() ->
 * group.c vfio_df_group_close() does not run: the device stays open with
 * its container user and its reference on the group file.  With the group
 * fd closed as well, the group can still not be opened again
 * (vfio_group_fops_open(): group->opened_file), and it stays in its
 * container with every mapping, pin and page of locked_vm.  munmap() puts
 * the last reference (mm/vma.c remove_vma()); fs/file_table.c fput()
 * queues the release as task work, run before munmap returns.
 */
START_TEST(test_closing_the_device_fd_with_a_bar_mapped_keeps_it_open_until_munmap)
{
	uint64_t a = anon(8), b = anon(1), bar;
	unsigned char out[64], bar_out[8] = "barbyte", bar_in[8] = { 0 };
	struct vh_state s;
	int g;

	vh_map_ok(c, a, IOVA_A, 8 * PG);
	vh_pattern(out, sizeof(out), 13);
	ck_assert_int_eq(pinsim_access(proc, a, out, sizeof(out), 1), sizeof(out));
	bar = vh_bar_mmap(&dev0, VFIO_PCI_BAR4_REGION_INDEX, 0, 64 * KiB, RW, 0);
	s = vh_snap(c);
	ck_assert_int_eq(pinsim_close(proc, dev0.group), 0);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	vh_assert_state(c, &s);
	assert_mapped(&dev0, a, 8, out, sizeof(out));
	ck_assert_uint_eq(vh_locked_vm(), 8);
	ck_assert_int_eq(open_group(&dev0), -EBUSY);
	/* The device is open: its BAR answers through the mapping. */
	ck_assert_int_eq(pinsim_access(proc, bar, bar_out, sizeof(bar_out), 1), sizeof(bar_out));
	ck_assert_int_eq(pinsim_access(proc, bar, bar_in, sizeof(bar_in), 0), sizeof(bar_in));
	ck_assert_int_eq(memcmp(bar_in, bar_out, sizeof(bar_in)), 0);
	/* The container keeps its backend: new mappings reach the group's domain. */
	vh_map_ok(c, b, IOVA_A + 64 * PG, PG);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A + 64 * PG, NULL), PG);
	vh_unmap_ok(c, IOVA_A + 64 * PG, PG);
	vh_assert_state(c, &s);

	/* The last reference: the device closes, the group file goes, then the backend. */
	ck_assert_int_eq(pinsim_munmap(proc, bar, 64 * KiB), 0);
	assert_released(&dev0, a, 8);
	errno = 0;
	ck_assert_int_eq(pinsim_vfio_stats(proc, c, &(struct pinsim_vfio_stats){ 0 }), -1);
	ck_assert_int_eq(errno, EINVAL);		/* no backend */
	g = open_group(&dev0);
	ck_assert_int_ge(g, 0);
	ck_assert_uint_eq(group_flags(g), VFIO_GROUP_FLAGS_VIABLE);
	vh_assert_clean();
}
END_TEST

/*
 * group.c vfio_group_ioctl_unset_container(): container_users is still 2
 * while a BAR mapping keeps the device open, whatever happened to its fd:
 * -EBUSY, nothing changed.  After the munmap the device's user is gone and
 * UNSET detaches (the last group: every mapping and pin goes).
 */
START_TEST(test_unset_container_is_ebusy_while_a_bar_mapping_keeps_the_device_open)
{
	uint64_t a = anon(4), bar;
	unsigned char out[32];
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	vh_pattern(out, sizeof(out), 17);
	ck_assert_int_eq(pinsim_access(proc, a, out, sizeof(out), 1), sizeof(out));
	bar = vh_bar_mmap(&dev0, VFIO_PCI_BAR2_REGION_INDEX, 0, 2 * MiB, RW, 0);
	vh_touch(bar, 2 * MiB, 2 * MiB);
	s = vh_snap(c);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
	vh_assert_state(c, &s);
	assert_mapped(&dev0, a, 4, out, sizeof(out));
	ck_assert_uint_eq(group_flags(dev0.group),
			  VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	ck_assert_int_eq(pinsim_munmap(proc, bar, 2 * MiB), 0);
	/* The device closed; the group file is still open through its fd. */
	assert_mapped(&dev0, a, 4, out, sizeof(out));
	ck_assert_int_eq(open_group(&dev0), -EBUSY);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_released(&dev0, a, 4);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);
	vh_assert_clean();
}
END_TEST

/*
 * Each VMA holds its own reference: two mmaps of the fd, and the pieces a
 * partial munmap leaves (mm/vma.c __split_vma(): get_file()).  The release
 * comes with the last one, here a MAP_FIXED mmap over it (mmap_region()
 * unmaps what it replaces: remove_vma() -> fput()).
 */
START_TEST(test_device_file_is_released_with_the_last_of_several_bar_mappings)
{
	uint64_t a = anon(4), b4, b4_again, b2;
	unsigned char out[32];
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	vh_pattern(out, sizeof(out), 19);
	ck_assert_int_eq(pinsim_access(proc, a, out, sizeof(out), 1), sizeof(out));
	b4 = vh_bar_mmap(&dev0, VFIO_PCI_BAR4_REGION_INDEX, 0, 64 * KiB, RW, 0);
	b4_again = vh_bar_mmap(&dev0, VFIO_PCI_BAR4_REGION_INDEX, 0, 64 * KiB, RW, 0);
	b2 = vh_bar_mmap(&dev0, VFIO_PCI_BAR2_REGION_INDEX, 0, 2 * MiB, RW, 0);
	s = vh_snap(c);
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	/* Cut a hole in the BAR2 mapping: two VMAs remain. */
	ck_assert_int_eq(pinsim_munmap(proc, b2 + 64 * KiB, 64 * KiB), 0);
	ck_assert_int_eq(pinsim_munmap(proc, b4, 64 * KiB), 0);
	ck_assert_int_eq(pinsim_munmap(proc, b4_again, 64 * KiB), 0);
	ck_assert_int_eq(pinsim_munmap(proc, b2, 64 * KiB), 0);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
	vh_assert_state(c, &s);
	assert_mapped(&dev0, a, 4, out, sizeof(out));
	/* The last piece goes under a MAP_FIXED anonymous mapping. */
	ck_assert_uint_eq(pinsim_mmap(proc, b2 + 128 * KiB, 2 * MiB - 128 * KiB, RW,
				      ANON | MAP_FIXED, -1, 0),
			  b2 + 128 * KiB);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_released(&dev0, a, 4);
	vh_assert_clean();
}
END_TEST

/*
 * A failed mmap of the device fd gives back every reference it took:
 * ksys_mmap_pgoff()'s fget() and the VMA's (mmap_region()
 * unmap_and_free_file_vma when vfio_pci_core_mmap() refuses).  The close
 * is then the last reference and releases the device at once.
 */
START_TEST(test_failed_bar_mmaps_leave_no_reference_on_the_device_file)
{
	uint64_t a = anon(4), bar4 = REGION_OFFSET(VFIO_PCI_BAR4_REGION_INDEX);
	uint64_t used = vh_mmap(PG, RW, ANON);
	unsigned char out[32];

	vh_map_ok(c, a, IOVA_A, 4 * PG);
	vh_pattern(out, sizeof(out), 23);
	ck_assert_int_eq(pinsim_access(proc, a, out, sizeof(out), 1), sizeof(out));
	/* vfio_pci_core_mmap(): not shared, past the BAR, the ROM, an absent BAR. */
	errno = 0;
	ck_assert_uint_eq(pinsim_mmap(proc, 0, 64 * KiB, RW, MAP_PRIVATE, dev0.dev, bar4),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(pinsim_mmap(proc, 0, 2 * 64 * KiB, RW, MAP_SHARED, dev0.dev, bar4),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(pinsim_mmap(proc, 0, PG, RW, MAP_SHARED, dev0.dev,
				      REGION_OFFSET(VFIO_PCI_ROM_REGION_INDEX)),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(pinsim_mmap(proc, 0, PG, RW, MAP_SHARED, dev0.dev,
				      REGION_OFFSET(VFIO_PCI_BAR1_REGION_INDEX)),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	/* Refused after the fget(): a bad prot, an occupied MAP_FIXED_NOREPLACE range. */
	ck_assert_uint_eq(pinsim_mmap(proc, 0, PG, 0x40, MAP_SHARED, dev0.dev, bar4),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(pinsim_mmap(proc, used, PG, RW, MAP_SHARED | MAP_FIXED_NOREPLACE,
				      dev0.dev, bar4),
			  PINSIM_MAP_FAILED);
	ck_assert_int_eq(errno, EEXIST);
	/* The fd was the only reference: its close ends the device, UNSET detaches. */
	ck_assert_int_eq(pinsim_close(proc, dev0.dev), 0);
	assert_mapped(&dev0, a, 4, out, sizeof(out));
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_released(&dev0, a, 4);
	vh_assert_clean();
}
END_TEST

struct bar_race {
	uint64_t bar, bar2;
	long munmap_ret, close_ret;
};

static long race_munmap(void *arg)
{
	struct bar_race *r = arg;

	r->munmap_ret = vh_rc(pinsim_munmap(proc, r->bar, 64 * KiB));
	return 0;
}

static long race_close(void *arg)
{
	struct bar_race *r = arg;

	r->close_ret = vh_rc(pinsim_close(proc, dev0.dev));
	return 0;
}

static long race_mmap(void *arg)
{
	struct bar_race *r = arg;

	r->bar2 = pinsim_mmap(proc, 0, 64 * KiB, RW, MAP_SHARED, dev0.dev,
			      REGION_OFFSET(VFIO_PCI_BAR4_REGION_INDEX));
	return r->bar2 == PINSIM_MAP_FAILED ? -errno : 0;
}

/*
 * The references order the release whatever the interleaving: munmap of
 * one BAR mapping, close() of the fd and a second mmap of it (fget() in
 * ksys_mmap_pgoff(), or -EBADF once the fd is gone) race; the device is
 * released exactly once, by whichever drops the last reference, and only
 * if the second mmap did not get in first does UNSET find it closed.
 */
START_TEST(test_munmap_close_and_mmap_racing_release_the_device_once)
{
	uint64_t a = anon(4);
	unsigned char out[32];

	vh_pattern(out, sizeof(out), 29);
	ck_assert_int_eq(pinsim_access(proc, a, out, sizeof(out), 1), sizeof(out));
	for (uint64_t seed = 1; seed <= 24; seed++) {
		struct bar_race r = { 0 };
		struct pinsim_thread t[3] = {
			{ .name = "munmap", .proc = proc, .fn = race_munmap, .arg = &r },
			{ .name = "close", .proc = proc, .fn = race_close, .arg = &r },
			{ .name = "mmap", .proc = proc, .fn = race_mmap, .arg = &r },
		};
		struct pinsim_sched_opts o = { .seed = seed, .pct_steps = 16 };
		struct pinsim_sched_result res;

		if (dev0.dev < 0)
			vh_get_device(&dev0);
		vh_map_ok(c, a, IOVA_A, 4 * PG);
		r.bar = vh_bar_mmap(&dev0, VFIO_PCI_BAR4_REGION_INDEX, 0, 64 * KiB, RW, 0);
		ck_assert_int_eq(pinsim_sched_run(sim, t, 3, &o, &res), 0);
		ck_assert_int_eq(res.status, PINSIM_SCHED_DONE);
		ck_assert_int_eq(r.munmap_ret, 0);
		ck_assert_int_eq(r.close_ret, 0);
		ck_assert(t[2].ret == 0 || t[2].ret == -EBADF);
		dev0.dev = -1;
		if (!t[2].ret) {
			/* The second mapping holds the device: still a container user. */
			ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
			assert_mapped(&dev0, a, 4, out, sizeof(out));
			ck_assert_int_eq(pinsim_munmap(proc, r.bar2, 64 * KiB), 0);
		}
		ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
		assert_released(&dev0, a, 4);
		ck_assert_int_eq(set_container(dev0.group, c), 0);
		ck_assert_int_eq(set_iommu(c, VFIO_TYPE1v2_IOMMU), 0);
		vh_assert_clean();
	}
}
END_TEST

/*
 * kernel/exit.c do_exit(): exit_mm() puts the BAR mappings' references,
 * exit_files() the fds' (if any are left), exit_task_work() runs the
 * releases.  A process that closed every fd but still had a BAR mapped
 * keeps its container alive to the end, and its exit releases all of it:
 * the pages the machine had before the process existed, every hugetlb page
 * back in the pool, no translation left, the group free to open.  The same
 * with the fds left open.
 */
START_TEST(test_process_exit_with_a_bar_mapped_releases_everything)
{
	struct pinsim_proc *mine = proc;
	struct rlimit rl = { 4 * GiB, 4 * GiB };

	for (int close_fds = 1; close_fds >= 0; close_fds--) {
		struct pinsim_stats st0 = vh_sim_stats(), st;
		struct pinsim_proc *other;
		uint64_t a, h, bar;
		int k, g;

		ck_assert_int_eq(pinsim_proc_create(sim, &other), 0);
		proc = other;
		ck_assert_int_eq(pinsim_setrlimit(proc, RLIMIT_MEMLOCK, &rl), 0);
		k = vh_open_container();
		vh_group_set_container(&dev1, k);
		ck_assert_int_eq(set_iommu(k, VFIO_TYPE1v2_IOMMU), 0);
		vh_get_device(&dev1);
		a = anon(16);
		h = vh_mmap(2 * MiB, RW, HUGE_2M);
		vh_touch(h, 2 * MiB, 2 * MiB);
		vh_map_ok(k, a, IOVA_A, 16 * PG);
		vh_map_ok(k, h, 2 * MiB, 2 * MiB);
		bar = vh_bar_mmap(&dev1, VFIO_PCI_BAR2_REGION_INDEX, 0, 16 * KiB, RW, 0);
		vh_touch(bar, 16 * KiB, PG);
		if (close_fds) {
			ck_assert_int_eq(pinsim_close(proc, k), 0);
			ck_assert_int_eq(pinsim_close(proc, dev1.group), 0);
			ck_assert_int_eq(pinsim_close(proc, dev1.dev), 0);
		}
		ck_assert_uint_eq(vh_iommu_leaf(&dev1, IOVA_A, NULL), PG);
		ck_assert_uint_eq(vh_iommu_leaf(&dev1, 2 * MiB, NULL), 2 * MiB);
		ck_assert_uint_eq(vh_locked_vm(), 16 + 512);
		st = vh_sim_stats();
		ck_assert_uint_eq(st.hugetlb_2m_free, st0.hugetlb_2m_free - 1);

		pinsim_proc_destroy(other);
		proc = mine;
		st = vh_sim_stats();
		ck_assert_uint_eq(st.pages_allocated, st0.pages_allocated);
		ck_assert_uint_eq(st.hugetlb_2m_free, st0.hugetlb_2m_free);
		errno = 0;
		ck_assert_int_eq(pinsim_iommu_lookup(sim, dev1.group_id, IOVA_A, NULL, NULL), -1);
		ck_assert_int_eq(errno, ENODEV);
		g = open_group(&dev1);
		ck_assert_int_ge(g, 0);
		ck_assert_uint_eq(group_flags(g), VFIO_GROUP_FLAGS_VIABLE);
		ck_assert_int_eq(pinsim_close(proc, g), 0);
	}
	vh_assert_clean();
}
END_TEST

/* vfio_group_fops_open(): one open file per group, whichever process asks. */
START_TEST(test_group_open_twice_is_ebusy_also_from_another_process)
{
	struct pinsim_proc *other;
	char path[64];
	int g = open_group(&dev0);

	ck_assert_int_ge(g, 0);
	ck_assert_int_eq(open_group(&dev0), -EBUSY);
	ck_assert_int_eq(pinsim_proc_create(sim, &other), 0);
	snprintf(path, sizeof(path), "/dev/vfio/%d", dev0.group_id);
	errno = 0;
	ck_assert_int_eq(pinsim_open(other, path, O_RDWR), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(pinsim_close(proc, g), 0);
	g = pinsim_open(other, path, O_RDWR);
	ck_assert_int_ge(g, 0);
	ck_assert_int_eq(open_group(&dev0), -EBUSY);
	pinsim_proc_destroy(other);
	ck_assert_int_ge(open_group(&dev0), 0);
	vh_assert_clean();
}
END_TEST

/* ---------------- argsz ---------------- */

/* vfio_group_ioctl_get_status(): minsz is the whole struct (8 bytes). */
START_TEST(test_group_get_status_minsz_is_the_whole_struct)
{
	struct vfio_group_status st = { .argsz = 7, .flags = 0xdead };
	int g = open_group(&dev1);

	ck_assert_int_eq(xioctl(g, VFIO_GROUP_GET_STATUS, NULL), -EFAULT);
	ck_assert_int_eq(xioctl(g, VFIO_GROUP_GET_STATUS, &st), -EINVAL);
	ck_assert_uint_eq(st.flags, 0xdead);
	st.argsz = 8;
	ck_assert_int_eq(xioctl(g, VFIO_GROUP_GET_STATUS, &st), 0);
	ck_assert_uint_eq(st.flags, VFIO_GROUP_FLAGS_VIABLE);
	st.argsz = 4096;
	ck_assert_int_eq(xioctl(g, VFIO_GROUP_GET_STATUS, &st), 0);
	ck_assert_uint_eq(st.argsz, 4096);
	vh_assert_clean();
}
END_TEST

/*
 * vfio_pci_ioctl_get_info(): info starts zeroed, 16 bytes come in, and
 * min(argsz, sizeof(info)) go back: 6.12's struct has cap_offset and pad
 * (24 bytes), which read 0 exactly when argsz covers them.
 */
START_TEST(test_device_get_info_writes_back_min_of_argsz_and_the_24_byte_struct)
{
	uint32_t buf[16];

	for (uint32_t argsz = 12; argsz <= 64; argsz += 4) {
		memset(buf, 0xa5, sizeof(buf));
		buf[0] = argsz;
		if (argsz < 16) {
			ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_GET_INFO, buf), -EINVAL);
			ck_assert_uint_eq(buf[1], 0xa5a5a5a5);
			continue;
		}
		ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_GET_INFO, buf), 0);
		ck_assert_uint_eq(buf[0], argsz);
		ck_assert_uint_eq(buf[1], VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
		ck_assert_uint_eq(buf[2], VFIO_PCI_NUM_REGIONS);
		ck_assert_uint_eq(buf[3], VFIO_PCI_NUM_IRQS);
		ck_assert_uint_eq(buf[4], argsz >= 20 ? 0 : 0xa5a5a5a5);	/* cap_offset */
		ck_assert_uint_eq(buf[5], argsz >= 24 ? 0 : 0xa5a5a5a5);	/* pad */
		for (int i = 6; i < 16; i++)
			ck_assert_uint_eq(buf[i], 0xa5a5a5a5);
	}
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_GET_INFO, NULL), -EFAULT);
	vh_assert_clean();
}
END_TEST

/*
 * vfio_pci_ioctl_get_region_info(): the whole 32-byte struct is minsz and
 * goes back as read; cap_offset is only written with capabilities, which
 * these regions have none of.
 */
START_TEST(test_region_info_without_caps_reads_back_the_callers_cap_offset)
{
	struct vfio_region_info ri = {
		.argsz = 31, .index = VFIO_PCI_BAR2_REGION_INDEX, .cap_offset = 0x5a5a,
		.size = 77, .offset = 88,
	};

	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), -EINVAL);
	ck_assert_uint_eq(ri.size, 77);
	ck_assert_uint_eq(ri.offset, 88);
	ri.argsz = 32;
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	ck_assert_uint_eq(ri.size, 2 * MiB);
	ck_assert_uint_eq(ri.offset, (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40);
	ck_assert_uint_eq(ri.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
				    VFIO_REGION_INFO_FLAG_MMAP);
	ck_assert_uint_eq(ri.cap_offset, 0x5a5a);
	ck_assert_uint_eq(ri.argsz, 32);
	ri.index = VFIO_PCI_ROM_REGION_INDEX;
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	ck_assert_uint_eq(ri.size, 0);
	ck_assert_uint_eq(ri.flags, 0);
	ck_assert_uint_eq(ri.cap_offset, 0x5a5a);
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_GET_REGION_INFO, NULL), -EFAULT);
	vh_assert_clean();
}
END_TEST

/*
 * vfio_main.c vfio_ioctl_device_feature(): copy_from_user (-EFAULT), argsz
 * below the header, unknown flags, GET with SET without PROBE (-EINVAL),
 * before any feature answers; a plain vfio-pci device has no migration or
 * logging ops and no VF token (-ENOTTY).
 */
START_TEST(test_device_feature_header_checks_come_before_enotty)
{
	struct vfio_device_feature f = { .argsz = 7, .flags = VFIO_DEVICE_FEATURE_PROBE };
	const uint32_t get = VFIO_DEVICE_FEATURE_GET, set = VFIO_DEVICE_FEATURE_SET;
	const uint32_t probe = VFIO_DEVICE_FEATURE_PROBE;

	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_FEATURE, NULL), -EFAULT);
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_FEATURE, &f), -EINVAL);
	f.argsz = sizeof(f);
	f.flags = get | (1u << 19) | VFIO_DEVICE_FEATURE_MIGRATION;
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_FEATURE, &f), -EINVAL);
	f.flags = get | set | VFIO_DEVICE_FEATURE_MIGRATION;
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_FEATURE, &f), -EINVAL);
	f.flags = get | set | probe | VFIO_DEVICE_FEATURE_MIGRATION;
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_FEATURE, &f), -ENOTTY);
	f.flags = probe | set | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN;
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_FEATURE, &f), -ENOTTY);
	f.flags = get | 0xfff0;
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_FEATURE, &f), -ENOTTY);
	vh_assert_clean();
}
END_TEST

/* ---------------- container ioctls ---------------- */

/*
 * What the machine's type1 (the rewrite's, or the tree's on a machine
 * running it) answers CHECK_EXTENSION @ext with no data: what the core's
 * poll of registered drivers gets from it.
 */
static long type1_poll(unsigned long ext)
{
	return sim->vfio_backend->ioctl(NULL, VFIO_CHECK_EXTENSION, (void *)ext);
}

/*
 * vfio_container_ioctl_check_extension(): no backend -> every registered
 * driver is asked with no data (type1 is the only one that can say yes);
 * once set, only the backend, with its data.
 */
START_TEST(test_check_extension_without_a_backend_is_type1s_answer_with_no_data)
{
	int k = vh_open_container();

	for (unsigned long ext = 0; ext <= 16; ext++)
		ck_assert_int_eq(xioctl(k, VFIO_CHECK_EXTENSION, (void *)ext),
				 type1_poll(ext));
	vh_group_set_container(&dev0, k);
	for (unsigned long ext = 0; ext <= 16; ext++)
		ck_assert_int_eq(xioctl(k, VFIO_CHECK_EXTENSION, (void *)ext),
				 type1_poll(ext));
	ck_assert_int_eq(xioctl(k, VFIO_CHECK_EXTENSION, (void *)VFIO_DMA_CC_IOMMU), 0);
	ck_assert_int_eq(xioctl(k, VFIO_CHECK_EXTENSION, (void *)VFIO_UPDATE_VADDR), 0);
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1v2_IOMMU), 0);
	/* The backend with its data: a coherent domain, no emulated group. */
	ck_assert_int_eq(xioctl(k, VFIO_CHECK_EXTENSION, (void *)VFIO_DMA_CC_IOMMU), 1);
	ck_assert_int_eq(xioctl(k, VFIO_CHECK_EXTENSION, (void *)VFIO_UPDATE_VADDR), 1);
	ck_assert_int_eq(xioctl(k, VFIO_CHECK_EXTENSION, (void *)VFIO_TYPE1_NESTING_IOMMU),
			 type1_poll(VFIO_TYPE1_NESTING_IOMMU));
	ck_assert_int_eq(xioctl(k, VFIO_CHECK_EXTENSION, (void *)VFIO_SPAPR_TCE_IOMMU), 0);
	vh_assert_clean();
}
END_TEST

/*
 * vfio_ioctl_set_iommu(): "no groups or a backend already" (-EINVAL) is
 * checked before any driver is asked about @arg; a type no driver offers
 * leaves ret at -ENODEV and the container unset.
 */
START_TEST(test_set_iommu_checks_groups_before_the_type_and_unknown_types_are_enodev)
{
	int k = vh_open_container();
	uint64_t a = anon(1);

	ck_assert_int_eq(set_iommu(k, 0x1234), -EINVAL);
	ck_assert_int_eq(set_iommu(k, VFIO_NOIOMMU_IOMMU), -EINVAL);
	vh_group_set_container(&dev0, k);
	ck_assert_int_eq(set_iommu(k, 0x1234), -ENODEV);
	ck_assert_int_eq(set_iommu(k, VFIO_NOIOMMU_IOMMU), -ENODEV);	/* noiommu: not allowed */
	if (!type1_poll(VFIO_TYPE1_NESTING_IOMMU))
		ck_assert_int_eq(set_iommu(k, VFIO_TYPE1_NESTING_IOMMU), -ENODEV);
	/* Still unset. */
	ck_assert_int_eq(vh_map(k, a, IOVA_A, PG), -EINVAL);
	ck_assert_int_eq(get_device(dev0.group, dev0.name), -EINVAL);
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1_IOMMU), 0);
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1_IOMMU), -EINVAL);
	ck_assert_int_eq(set_iommu(k, 0x1234), -EINVAL);
	vh_assert_unpinned(a, PG);
	vh_assert_clean();
}
END_TEST

/*
 * Each fd type's unlocked_ioctl knows only its own requests: the group's
 * and vfio-pci's default is -ENOTTY; the container passes everything else
 * to its backend (type1: -ENOTTY) or, without one, leaves ret at -EINVAL.
 */
START_TEST(test_requests_of_another_fd_type_are_enotty_or_einval_without_a_backend)
{
	uint64_t a = anon(2);
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = DMA_RW, .vaddr = a, .iova = IOVA_A, .size = 2 * PG,
	};
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	int k0 = vh_open_container();
	struct vh_state s = vh_snap(c);

	/* Container and device requests on a group fd. */
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GET_API_VERSION, NULL), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_CHECK_EXTENSION, (void *)VFIO_TYPE1v2_IOMMU),
			 -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_SET_IOMMU, (void *)VFIO_TYPE1v2_IOMMU), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_IOMMU_MAP_DMA, &map), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_IOMMU_GET_INFO, &info), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_DEVICE_GET_INFO, &di), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_DEVICE_RESET, NULL), -ENOTTY);
	/* Container and group requests on a device fd. */
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_GET_API_VERSION, NULL), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_CHECK_EXTENSION, (void *)VFIO_TYPE1v2_IOMMU),
			 -ENOTTY);
	/*
	 * MAP_DMA's number is VFIO_DEVICE_PCI_HOT_RESET's (VFIO_BASE + 13):
	 * vfio_pci_ioctl_pci_hot_reset() reads the map's flags (DMA_RW) as
	 * the hot reset's, which must be 0: -EINVAL.
	 */
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_IOMMU_MAP_DMA, &map), -EINVAL);
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_GROUP_GET_STATUS, &st), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_GROUP_UNSET_CONTAINER, NULL), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_GROUP_GET_DEVICE_FD, (void *)dev0.name), -ENOTTY);
	/* Group and device requests on a container: its backend's answer. */
	ck_assert_int_eq(xioctl(c, VFIO_GROUP_GET_STATUS, &st), -ENOTTY);
	ck_assert_int_eq(xioctl(c, VFIO_GROUP_UNSET_CONTAINER, NULL), -ENOTTY);
	ck_assert_int_eq(xioctl(c, VFIO_DEVICE_GET_INFO, &di), -ENOTTY);
	ck_assert_int_eq(xioctl(c, VFIO_DEVICE_RESET, NULL), -ENOTTY);
	/* ... and with no backend, ret stays -EINVAL. */
	ck_assert_int_eq(xioctl(k0, VFIO_GROUP_GET_STATUS, &st), -EINVAL);
	ck_assert_int_eq(xioctl(k0, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);
	ck_assert_int_eq(xioctl(k0, VFIO_DEVICE_GET_INFO, &di), -EINVAL);
	ck_assert_int_eq(xioctl(k0, _IO(VFIO_TYPE, VFIO_BASE + 99), NULL), -EINVAL);
	/* Nothing moved: dev0 still in c, nothing mapped. */
	vh_assert_state(c, &s);
	vh_assert_unpinned(a, 2 * PG);
	vh_assert_no_iommu(&dev0, IOVA_A, 2 * PG);
	ck_assert_uint_eq(group_flags(dev0.group),
			  VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	vh_assert_clean();
}
END_TEST

/*
 * fs/ioctl.c SYSCALL_DEFINE3(ioctl, unsigned int fd, unsigned int cmd, ...):
 * the request is 32 bits by the time any fd's unlocked_ioctl sees it, so
 * high bits change nothing, and a NULL MAP_DMA argument is
 * copy_from_user()'s -EFAULT whatever they were.
 */
START_TEST(test_ioctl_request_is_truncated_to_32_bits_as_by_the_syscall)
{
	const unsigned long hi = 1UL << 32, top = 1UL << 63;
	uint64_t a = anon(4);
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = DMA_RW, .vaddr = a, .iova = IOVA_A, .size = 4 * PG,
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = IOVA_A, .size = 4 * PG,
	};
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vh_state s = vh_snap(c);

	ck_assert_int_eq(xioctl(c, VFIO_IOMMU_MAP_DMA | hi, NULL), -EFAULT);
	ck_assert_int_eq(xioctl(c, VFIO_IOMMU_UNMAP_DMA | top, NULL), -EFAULT);
	ck_assert_int_eq(xioctl(c, VFIO_IOMMU_GET_INFO | hi | top, NULL), -EFAULT);
	vh_assert_state(c, &s);
	ck_assert_int_eq(xioctl(c, VFIO_GET_API_VERSION | hi, NULL), VFIO_API_VERSION);
	ck_assert_int_eq(xioctl(c, VFIO_CHECK_EXTENSION | top, (void *)VFIO_TYPE1v2_IOMMU), 1);
	ck_assert_int_eq(xioctl(c, VFIO_IOMMU_MAP_DMA | hi, &map), 0);
	vh_assert_pinned(a, 4 * PG, 1);
	ck_assert_uint_eq(vh_locked_vm(), 4);
	ck_assert_int_eq(xioctl(c, VFIO_IOMMU_UNMAP_DMA | top, &unmap), 0);
	ck_assert_uint_eq(unmap.size, 4 * PG);
	vh_assert_unpinned(a, 4 * PG);
	ck_assert_int_eq(xioctl(dev0.group, VFIO_GROUP_GET_STATUS | hi, &st), 0);
	ck_assert_uint_eq(st.flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	ck_assert_int_eq(xioctl(dev0.dev, VFIO_DEVICE_GET_INFO | (hi << 1), &di), 0);
	ck_assert_uint_eq(di.num_regions, VFIO_PCI_NUM_REGIONS);
	/* Only the high bits: request 0, which nobody knows. */
	ck_assert_int_eq(xioctl(c, hi, NULL), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.group, hi, NULL), -ENOTTY);
	ck_assert_int_eq(xioctl(dev0.dev, top, NULL), -ENOTTY);
	vh_assert_state(c, &s);
	vh_assert_clean();
}
END_TEST

/*
 * vfio_iommu_type1_ioctl(): GET_INFO, MAP_DMA, UNMAP_DMA and DIRTY_PAGES
 * all begin with copy_from_user() of their struct: -EFAULT for NULL, with
 * nothing changed.
 */
START_TEST(test_type1_requests_with_a_struct_are_efault_for_a_null_argument)
{
	uint64_t a = anon(2);
	struct vh_state s;

	vh_map_ok(c, a, IOVA_A, 2 * PG);
	s = vh_snap(c);
	ck_assert_int_eq(xioctl(c, VFIO_IOMMU_GET_INFO, NULL), -EFAULT);
	ck_assert_int_eq(xioctl(c, VFIO_IOMMU_MAP_DMA, NULL), -EFAULT);
	ck_assert_int_eq(xioctl(c, VFIO_IOMMU_UNMAP_DMA, NULL), -EFAULT);
	ck_assert_int_eq(xioctl(c, VFIO_IOMMU_DIRTY_PAGES, NULL), -EFAULT);
	vh_assert_state(c, &s);
	vh_assert_pinned(a, 2 * PG, 1);
	ck_assert_uint_eq(vh_iommu_leaf(&dev0, IOVA_A, NULL), PG);
	vh_assert_clean();
}
END_TEST

/* ---------------- fds ---------------- */

/* Open containers until open(2) fails; the last fd that worked. */
static int fill_fd_table(void)
{
	int fd, last = -1;

	while ((fd = open_path("/dev/vfio/vfio")) >= 0)
		last = fd;
	ck_assert_int_eq(fd, -EMFILE);
	return last;
}

/* alloc_fd(0, rlimit(RLIMIT_NOFILE)): fds 0..1023 at the default limit, then -EMFILE. */
START_TEST(test_fd_numbers_stop_below_rlimit_nofile_1024)
{
	int last = fill_fd_table();

	ck_assert_int_eq(last, 1023);
	ck_assert_int_eq(pinsim_close(proc, 700), 0);
	ck_assert_int_eq(open_path("/dev/vfio/vfio"), 700);	/* the lowest free one */
	ck_assert_int_eq(open_path("/dev/vfio/vfio"), -EMFILE);
	vh_assert_clean();
}
END_TEST

/*
 * open(2) reserves the fd before the path lookup and ->open
 * (do_sys_openat2()), so -EMFILE beats -ENOENT and -EBUSY; only getname()'s
 * empty-name -ENOENT comes first.  GET_DEVICE_FD takes it after the name
 * lookup and before opening the device (vfio_group_ioctl_get_device_fd()).
 */
START_TEST(test_emfile_comes_after_the_name_and_before_lookup_and_open_errors)
{
	int k = vh_open_container(), g0 = open_group(&dev0), last, d;

	ck_assert_int_eq(set_container(g0, k), 0);
	last = fill_fd_table();
	ck_assert_int_eq(open_path("/dev/vfio/4242"), -EMFILE);		/* before -ENOENT */
	ck_assert_int_eq(open_path("/dev/vfio/bogus"), -EMFILE);
	ck_assert_int_eq(open_group(&dev0), -EMFILE);			/* before -EBUSY */
	ck_assert_int_eq(open_path(""), -ENOENT);			/* getname() first */
	ck_assert_int_eq(get_device(g0, dev1.name), -ENODEV);		/* the name first */
	ck_assert_int_eq(get_device(g0, dev0.name), -EMFILE);		/* before -EINVAL */
	ck_assert_int_eq(pinsim_close(proc, last), 0);
	ck_assert_int_eq(get_device(g0, dev0.name), -EINVAL);		/* no backend */
	ck_assert_int_eq(set_iommu(k, VFIO_TYPE1v2_IOMMU), 0);
	d = get_device(g0, dev0.name);
	ck_assert_int_eq(d, last);
	ck_assert_int_eq(xioctl(g0, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
	ck_assert_int_eq(pinsim_close(proc, d), 0);
	ck_assert_int_eq(open_path("/dev/vfio/4242"), -ENOENT);
	ck_assert_int_eq(xioctl(g0, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	vh_assert_clean();
}
END_TEST

/* The group nodes are /dev/vfio/%d of the group id: nothing else names them. */
START_TEST(test_group_paths_are_the_decimal_group_id_only)
{
	char path[64];
	int g;

	ck_assert_int_eq(dev0.group_id < 10, 1);
	snprintf(path, sizeof(path), "/dev/vfio/0%d", dev0.group_id);
	ck_assert_int_eq(open_path(path), -ENOENT);
	snprintf(path, sizeof(path), "/dev/vfio/+%d", dev0.group_id);
	ck_assert_int_eq(open_path(path), -ENOENT);
	snprintf(path, sizeof(path), "/dev/vfio/%d ", dev0.group_id);
	ck_assert_int_eq(open_path(path), -ENOENT);
	ck_assert_int_eq(open_path("/dev/vfio/"), -ENOENT);
	ck_assert_int_eq(open_path("/dev/vfio/99999999999999999999"), -ENOENT);
	g = open_group(&dev0);
	ck_assert_int_ge(g, 0);
	ck_assert_int_eq(pinsim_close(proc, g), 0);
	vh_assert_clean();
}
END_TEST

static void k612_setup(void)
{
	vh_defaults(&vh_cfg);
	ck_assert_int_eq(pinsim_config_set_kernel(&vh_cfg, "6.12.118"), 0);
	vh_setup_with(&vh_cfg);
}

static void k612_v2_setup(void)
{
	k612_setup();
	c = vh_container(VFIO_TYPE1v2_IOMMU);
}

Suite *make_suite(void)
{
	Suite *s = suite_create("vfio_fd");
	TCase *tc;

	tc = vh_tcase(s, "set_container", vh_setup);
	tcase_add_test(tc, test_config_rw_of_length_0_with_null_buffer_is_0);
	tcase_add_test(tc, test_set_container_with_a_non_container_fd_is_ebadfd);
	tcase_add_test(tc, test_set_container_checks_get_user_then_fdget_then_group_state_then_fd_type);

	tc = vh_tcase(s, "get_device_fd", vh_setup);
	tcase_add_test(tc, test_get_device_fd_looks_up_the_name_before_the_container_checks);
	tcase_add_test(tc, test_get_device_fd_name_without_a_nul_in_its_first_page_is_einval);
	tcase_add_test(tc, test_get_device_fd_name_matching_is_vfio_pci_core_match);

	tc = vh_tcase(s, "lifetimes", v2_setup);
	tcase_add_test(tc, test_device_fd_holds_the_group_file_closing_the_group_fd_keeps_the_container);
	tcase_add_test(tc, test_device_fds_share_one_group_reference_released_by_the_last_close);
	tcase_add_test(tc, test_unset_container_while_a_device_is_open_is_ebusy_and_changes_nothing);
	tcase_add_test(tc, test_close_order_container_group_device_releases_at_the_device_close);
	tcase_add_test(tc, test_process_exit_with_only_a_device_fd_left_releases_everything);
	tc = vh_tcase(s, "bar_lifetimes", v2_setup);
	tcase_add_test(tc, test_closing_the_device_fd_with_a_bar_mapped_keeps_it_open_until_munmap);
	tcase_add_test(tc, test_unset_container_is_ebusy_while_a_bar_mapping_keeps_the_device_open);
	tcase_add_test(tc, test_device_file_is_released_with_the_last_of_several_bar_mappings);
	tcase_add_test(tc, test_failed_bar_mmaps_leave_no_reference_on_the_device_file);
	tcase_add_test(tc, test_process_exit_with_a_bar_mapped_releases_everything);
	tcase_add_test(tc, test_munmap_close_and_mmap_racing_release_the_device_once);
	tc = vh_tcase(s, "bar_lifetimes_6_12_118", k612_v2_setup);
	tcase_add_test(tc, test_closing_the_device_fd_with_a_bar_mapped_keeps_it_open_until_munmap);
	tcase_add_test(tc, test_unset_container_is_ebusy_while_a_bar_mapping_keeps_the_device_open);
	tcase_add_test(tc, test_device_file_is_released_with_the_last_of_several_bar_mappings);
	tcase_add_test(tc, test_failed_bar_mmaps_leave_no_reference_on_the_device_file);
	tcase_add_test(tc, test_process_exit_with_a_bar_mapped_releases_everything);
	tc = vh_tcase(s, "group_open", vh_setup);
	tcase_add_test(tc, test_group_open_twice_is_ebusy_also_from_another_process);

	tc = vh_tcase(s, "argsz", v2_setup);
	tcase_add_test(tc, test_group_get_status_minsz_is_the_whole_struct);
	tcase_add_test(tc, test_device_get_info_writes_back_min_of_argsz_and_the_24_byte_struct);
	tcase_add_test(tc, test_region_info_without_caps_reads_back_the_callers_cap_offset);
	tcase_add_test(tc, test_device_feature_header_checks_come_before_enotty);

	tc = vh_tcase(s, "container_upstream", vh_setup);
	tcase_add_test(tc, test_check_extension_without_a_backend_is_type1s_answer_with_no_data);
	tcase_add_test(tc, test_set_iommu_checks_groups_before_the_type_and_unknown_types_are_enodev);
	tc = vh_tcase(s, "container_6_12_118", k612_setup);
	tcase_add_test(tc, test_check_extension_without_a_backend_is_type1s_answer_with_no_data);
	tcase_add_test(tc, test_set_iommu_checks_groups_before_the_type_and_unknown_types_are_enodev);

	tc = vh_tcase(s, "cross_type", v2_setup);
	tcase_add_test(tc, test_requests_of_another_fd_type_are_enotty_or_einval_without_a_backend);
	tcase_add_test(tc, test_ioctl_request_is_truncated_to_32_bits_as_by_the_syscall);
	tcase_add_test(tc, test_type1_requests_with_a_struct_are_efault_for_a_null_argument);

	tc = vh_tcase(s, "fds", vh_setup);
	tcase_add_test(tc, test_fd_numbers_stop_below_rlimit_nofile_1024);
	tcase_add_test(tc, test_emfile_comes_after_the_name_and_before_lookup_and_open_errors);
	tcase_add_test(tc, test_group_paths_are_the_decimal_group_id_only);
	return s;
}
