// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated vfio-pci device as a VMM sees it through its device fd,
 * held to 6.12.118: config space virtualized as
 * drivers/vfio/pci/vfio_pci_config.c does it (vfio_config_do_rw(),
 * vfio_basic_config_read/write(), vfio_bar_fixup(), the capability
 * permissions), BAR pread/pwrite as vfio_pci_rdwr.c vfio_pci_bar_rw() and
 * vfio_pci_core.c vfio_pci_rw().  Each case is named after the kernel
 * behaviour it pins; a failing access is followed by the state it must have
 * left alone.  Public API only, as tests/test_vfio_fd.c.
 */
#include <linux/pci_regs.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vfio_harness.h"

#define CFG(off) (((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + (off))
#define BAR(i, off) (((uint64_t)(i) << 40) + (off))
#define PM_CAP 0x40
#define MSI_CAP 0x50
#define EXP_CAP 0x70
#define MSIX_CAP 0xb0

/*
 * dev2: MSI-X with 20 vectors in BAR4 (64 KiB), MSI with 8 vectors and
 * per-vector masking, 8086:1234, class NVMe.
 */
static struct vh_dev dev2 = {
	.name = "0000:03:00.0",
	.bar_size = {[0] = 16 * KiB, [1] = 8 * KiB, [4] = 64 * KiB},
	.iommu_unit = 0,
};

static int dev_container;

static void dev_setup(void)
{
	struct pinsim_device_spec spec = {.name = dev2.name, .iommu_unit = 0};
	struct pinsim_device_pci pci = {.vendor_id = 0x8086,
					.device_id = 0x1234,
					.class_code = 0x010802,
					.msix_vectors = 20,
					.msix_bar = 4,
					.msi_vectors = 8,
					.msi_maskbit = true};

	vh_setup();
	memcpy(spec.bar_size, dev2.bar_size, sizeof(spec.bar_size));
	ck_assert_int_eq(pinsim_add_device_pci(sim, &spec, &pci, &dev2.group_id), 0);
	dev2.group = dev2.dev = -1;
	dev_container = vh_container(VFIO_TYPE1v2_IOMMU);
	vh_attach(&dev2, dev_container);
}

static int rd(struct vh_dev *d, void *buf, size_t len, uint64_t off)
{
	errno = 0;
	return vh_rc((int)pinsim_pread(proc, d->dev, buf, len, off));
}

static int wr(struct vh_dev *d, const void *buf, size_t len, uint64_t off)
{
	errno = 0;
	return vh_rc((int)pinsim_pwrite(proc, d->dev, buf, len, off));
}

static uint32_t cfg32(struct vh_dev *d, int off)
{
	uint32_t v = 0;

	ck_assert_int_eq(rd(d, &v, 4, CFG(off)), 4);
	return v;
}

static uint16_t cfg16(struct vh_dev *d, int off)
{
	uint16_t v = 0;

	ck_assert_int_eq(rd(d, &v, 2, CFG(off)), 2);
	return v;
}

static void cfg_w32(struct vh_dev *d, int off, uint32_t v)
{
	ck_assert_int_eq(wr(d, &v, 4, CFG(off)), 4);
}

/* ---------------- config space ---------------- */

/* vfio_pci_ioctl_get_region_info(): the config region is cfg_size (4096 for PCIe), r/w. */
START_TEST(test_config_region_is_cfg_size_of_a_pcie_function)
{
	struct vfio_region_info ri = {.argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX};

	ck_assert_int_eq(pinsim_ioctl(proc, dev2.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	ck_assert_uint_eq(ri.size, PCI_CFG_SPACE_EXP_SIZE);
	ck_assert_uint_eq(ri.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
}
END_TEST

/*
 * vfio_pci_ioctl_get_region_info() + msix_mmappable_cap(): the MSI-X BAR
 * carries VFIO_REGION_INFO_CAP_MSIX_MAPPABLE; a short argsz gets FLAG_CAPS,
 * the argsz it needs and cap_offset 0; a long one the header right after
 * the struct.  Another BAR has no chain.
 */
START_TEST(test_msix_bar_region_info_has_msix_mappable_cap)
{
	struct {
		struct vfio_region_info ri;
		struct vfio_info_cap_header cap;
	} big = {.ri = {.argsz = sizeof(big), .index = VFIO_PCI_BAR4_REGION_INDEX}};
	struct vfio_region_info ri = {.argsz = sizeof(ri), .index = VFIO_PCI_BAR4_REGION_INDEX,
				      .cap_offset = 77};

	ck_assert_int_eq(pinsim_ioctl(proc, dev2.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	ck_assert(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
	ck_assert(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	ck_assert_uint_eq(ri.argsz, sizeof(ri) + sizeof(struct vfio_info_cap_header));
	ck_assert_uint_eq(ri.cap_offset, 0);

	ck_assert_int_eq(pinsim_ioctl(proc, dev2.dev, VFIO_DEVICE_GET_REGION_INFO, &big), 0);
	ck_assert(big.ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
	ck_assert_uint_eq(big.ri.cap_offset, sizeof(struct vfio_region_info));
	ck_assert_uint_eq(big.cap.id, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	ck_assert_uint_eq(big.cap.version, 1);
	ck_assert_uint_eq(big.cap.next, 0);

	ri = (struct vfio_region_info){.argsz = sizeof(ri), .index = VFIO_PCI_BAR0_REGION_INDEX,
				       .cap_offset = 77};
	ck_assert_int_eq(pinsim_ioctl(proc, dev2.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	ck_assert(!(ri.flags & VFIO_REGION_INFO_FLAG_CAPS));
	ck_assert_uint_eq(ri.cap_offset, 77);
}
END_TEST

/* IDs and class come from the device; the defaults for pinsim_add_device(). */
START_TEST(test_config_ids_class_and_header)
{
	ck_assert_uint_eq(cfg16(&dev2, PCI_VENDOR_ID), 0x8086);
	ck_assert_uint_eq(cfg16(&dev2, PCI_DEVICE_ID), 0x1234);
	ck_assert_uint_eq(cfg32(&dev2, PCI_CLASS_REVISION) >> 8, 0x010802);
	ck_assert_uint_eq(cfg32(&dev0, PCI_VENDOR_ID), 0x00051b36);
	ck_assert_uint_eq(cfg32(&dev0, PCI_CLASS_REVISION) >> 8, 0xff0000);
	ck_assert(cfg16(&dev2, PCI_STATUS) & PCI_STATUS_CAP_LIST);
	ck_assert_uint_eq(cfg32(&dev2, PCI_CACHE_LINE_SIZE) >> 16 & 0xff, 0); /* header type 0 */
}
END_TEST

/* init_pci_cap_basic_perm(): vendor/device are virtual and not writable. */
START_TEST(test_config_vendor_device_writes_are_dropped)
{
	uint32_t v = 0xdeadbeef;

	ck_assert_int_eq(wr(&dev2, &v, 4, CFG(PCI_VENDOR_ID)), 4);
	ck_assert_uint_eq(cfg32(&dev2, PCI_VENDOR_ID), 0x12348086);
}
END_TEST

/*
 * vfio_bar_fixup(): all-ones written to a BAR reads back the size mask with
 * the BAR's flags; a 64-bit BAR's upper dword the upper mask; an absent BAR
 * and the ROM read 0.
 */
START_TEST(test_config_bar_sizing_reads_back_size_mask)
{
	uint32_t lo, hi;

	/* dev0 BAR0: 2 GiB, 64-bit prefetchable (BAR1 free). */
	cfg_w32(&dev0, PCI_BASE_ADDRESS_0, ~0U);
	cfg_w32(&dev0, PCI_BASE_ADDRESS_1, ~0U);
	lo = cfg32(&dev0, PCI_BASE_ADDRESS_0);
	hi = cfg32(&dev0, PCI_BASE_ADDRESS_1);
	ck_assert_uint_eq(lo, 0x80000000U | PCI_BASE_ADDRESS_MEM_TYPE_64 |
				      PCI_BASE_ADDRESS_MEM_PREFETCH);
	ck_assert_uint_eq(hi, 0xffffffffU);
	/* dev2 BAR0 16 KiB with BAR1 present: 32-bit, not prefetchable. */
	cfg_w32(&dev2, PCI_BASE_ADDRESS_0, ~0U);
	ck_assert_uint_eq(cfg32(&dev2, PCI_BASE_ADDRESS_0), ~(16U * 1024 - 1));
	cfg_w32(&dev2, PCI_BASE_ADDRESS_1, ~0U);
	ck_assert_uint_eq(cfg32(&dev2, PCI_BASE_ADDRESS_1), ~(8U * 1024 - 1));
	/* absent BAR, ROM */
	cfg_w32(&dev2, PCI_BASE_ADDRESS_2, ~0U);
	ck_assert_uint_eq(cfg32(&dev2, PCI_BASE_ADDRESS_2), 0);
	cfg_w32(&dev2, PCI_ROM_ADDRESS, ~0U);
	ck_assert_uint_eq(cfg32(&dev2, PCI_ROM_ADDRESS), 0);
	/* An address written back reads back, aligned to the size. */
	cfg_w32(&dev2, PCI_BASE_ADDRESS_0, 0xfe001234);
	ck_assert_uint_eq(cfg32(&dev2, PCI_BASE_ADDRESS_0), 0xfe000000);
}
END_TEST

/*
 * Walk the capability list as a VMM does (QEMU vfio_add_std_cap(): status
 * CAP_LIST, then PCI_CAPABILITY_LIST and each next pointer, one byte
 * pread each), at most 48 hops; *@n the count, ids and positions stored.
 */
static void walk_caps(struct vh_dev *d, uint8_t *ids, uint8_t *pos, int *n)
{
	uint8_t p = 0, hdr[2];

	*n = 0;
	ck_assert(cfg16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST);
	ck_assert_int_eq(rd(d, &p, 1, CFG(PCI_CAPABILITY_LIST)), 1);
	while (p && *n < 48) {
		ck_assert_uint_ge(p, PCI_STD_HEADER_SIZEOF);
		ck_assert_uint_eq(p & 3, 0);
		ck_assert_int_eq(rd(d, hdr, 2, CFG(p)), 2);
		ids[*n] = hdr[0];
		pos[*n] = p;
		(*n)++;
		p = hdr[1];
	}
	ck_assert_uint_eq(p, 0);
}

/*
 * vfio_cap_init(): the user walks the device's chain, PM -> MSI -> PCI
 * Express -> MSI-X, with the IDs and next pointers the function has; no
 * MSI-X on dev0 (the chain ends at PCI Express); MSI-X's table size and
 * BIR/offset; vfio_ecap_init() with no extended capability: 0 at 0x100.
 */
START_TEST(test_config_capability_list_walk_pm_msi_pcie_msix)
{
	static const uint8_t want_id[] = {PCI_CAP_ID_PM, PCI_CAP_ID_MSI, PCI_CAP_ID_EXP,
					  PCI_CAP_ID_MSIX};
	static const uint8_t want_pos[] = {PM_CAP, MSI_CAP, EXP_CAP, MSIX_CAP};
	uint8_t ids[48], pos[48];
	uint16_t flags;
	int n;

	walk_caps(&dev2, ids, pos, &n);
	ck_assert_int_eq(n, 4);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(ids[i], want_id[i]);
		ck_assert_uint_eq(pos[i], want_pos[i]);
	}
	walk_caps(&dev0, ids, pos, &n);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(ids[2], PCI_CAP_ID_EXP);
	flags = cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS);
	ck_assert_uint_eq((flags & PCI_MSIX_FLAGS_QSIZE) + 1, 20);
	ck_assert_uint_eq(cfg32(&dev2, MSIX_CAP + PCI_MSIX_TABLE), 4); /* BIR 4, offset 0 */
	ck_assert_uint_eq(cfg32(&dev2, MSIX_CAP + PCI_MSIX_PBA), 20 * 16 | 4); /* after it */
	ck_assert(cfg32(&dev2, EXP_CAP + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
	ck_assert_uint_eq(cfg32(&dev2, PCI_CFG_SPACE_SIZE), 0);
}
END_TEST

/*
 * The PCI Express fields a VMM reads (QEMU vfio_setup_pcie_cap(): flags
 * version and type, DEVCAP, LNKCAP/LNKSTA): a v2 endpoint, MPS 256, an
 * 8 GT/s x4 link trained at 8 GT/s x4.  Writes to read-only registers are
 * dropped (no write permission); DEVCTL2 is writable and reaches the
 * device but ARI (init_pci_cap_exp_perm()).
 */
START_TEST(test_config_pcie_endpoint_link_and_devcap)
{
	uint16_t f = cfg16(&dev2, EXP_CAP + PCI_EXP_FLAGS), v;
	uint32_t lnkcap = cfg32(&dev2, EXP_CAP + PCI_EXP_LNKCAP), x = 0;

	ck_assert_uint_eq(f & PCI_EXP_FLAGS_VERS, 2);
	ck_assert_uint_eq((f & PCI_EXP_FLAGS_TYPE) >> 4, PCI_EXP_TYPE_ENDPOINT);
	ck_assert_uint_eq(cfg32(&dev2, EXP_CAP + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_PAYLOAD, 1);
	ck_assert_uint_eq(lnkcap & PCI_EXP_LNKCAP_SLS, PCI_EXP_LNKCAP_SLS_8_0GB);
	ck_assert_uint_eq((lnkcap & PCI_EXP_LNKCAP_MLW) >> 4, 4);
	v = cfg16(&dev2, EXP_CAP + PCI_EXP_LNKSTA);
	ck_assert_uint_eq(v & PCI_EXP_LNKSTA_CLS, PCI_EXP_LNKSTA_CLS_8_0GB);
	ck_assert_uint_eq((v & PCI_EXP_LNKSTA_NLW) >> PCI_EXP_LNKSTA_NLW_SHIFT, 4);
	ck_assert(cfg32(&dev2, EXP_CAP + PCI_EXP_LNKCAP2) & PCI_EXP_LNKCAP2_SLS_8_0GB);
	cfg_w32(&dev2, EXP_CAP + PCI_EXP_LNKCAP, x);
	ck_assert_uint_eq(cfg32(&dev2, EXP_CAP + PCI_EXP_LNKCAP), lnkcap);
	v = 0xffff;
	ck_assert_int_eq(wr(&dev2, &v, 2, CFG(EXP_CAP + PCI_EXP_DEVCTL2)), 2);
	ck_assert_uint_eq(cfg16(&dev2, EXP_CAP + PCI_EXP_DEVCTL2), 0xffff & ~PCI_EXP_DEVCTL2_ARI);
}
END_TEST

/*
 * init_pci_cap_pm_perm() + vfio_update_pm_vconfig_bytes(): PME_Support
 * reads 0 (the function has PME from D0 and D3hot); PME_En is virtual and
 * not writable: it reads 0 whatever is written.  vfio_pm_config_write():
 * the state the user writes is set by vfio: D3hot turns memory decode off
 * (BAR read -EIO) and D0 back on; a function reset wakes it to D0.
 */
START_TEST(test_config_pm_state_write_sets_power_state)
{
	uint16_t ctl, pmc = cfg16(&dev2, PM_CAP + PCI_PM_PMC);
	uint32_t b = 0;

	ck_assert_uint_eq(pmc & PCI_PM_CAP_PME_MASK, 0);
	ck_assert_uint_eq(pmc & PCI_PM_CAP_VER_MASK, 3);
	ctl = cfg16(&dev2, PM_CAP + PCI_PM_CTRL);
	ck_assert_uint_eq(ctl & PCI_PM_CTRL_STATE_MASK, 0);
	ck_assert(ctl & PCI_PM_CTRL_NO_SOFT_RESET);
	ctl |= 3 | PCI_PM_CTRL_PME_ENABLE;
	ck_assert_int_eq(wr(&dev2, &ctl, 2, CFG(PM_CAP + PCI_PM_CTRL)), 2);
	ck_assert_uint_eq(cfg16(&dev2, PM_CAP + PCI_PM_CTRL), ctl & ~PCI_PM_CTRL_PME_ENABLE);
	ck_assert_int_eq(rd(&dev2, &b, 4, BAR(0, 0)), -EIO);
	ck_assert(cfg16(&dev2, PCI_COMMAND) & PCI_COMMAND_MEMORY); /* decode bit untouched */
	ctl &= ~PCI_PM_CTRL_STATE_MASK;
	ck_assert_int_eq(wr(&dev2, &ctl, 2, CFG(PM_CAP + PCI_PM_CTRL)), 2);
	ck_assert_int_eq(rd(&dev2, &b, 4, BAR(0, 0)), 4);
	ctl |= 3;
	ck_assert_int_eq(wr(&dev2, &ctl, 2, CFG(PM_CAP + PCI_PM_CTRL)), 2);
	ck_assert_int_eq(pinsim_ioctl(proc, dev2.dev, VFIO_DEVICE_RESET, NULL), 0);
	ck_assert_uint_eq(cfg16(&dev2, PM_CAP + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK, 0);
	ck_assert_int_eq(rd(&dev2, &b, 4, BAR(0, 0)), 4);
}
END_TEST

/*
 * init_pci_cap_msi_perm() + vfio_msi_config_read/write(): 64-bit with
 * per-vector masking (the flags' upper byte comes from the device);
 * Multiple Message Capable reads 0 until vfio_msi_enable() sets msi_qmax,
 * while GET_IRQ_INFO says the device's 8; address and data are virtual and
 * read back; MSI Enable written before SET_IRQS reads 0 ("MSI is enabled
 * via ioctl").
 */
START_TEST(test_config_msi_flags_virtualized_before_set_irqs)
{
	struct vfio_irq_info info = {.argsz = sizeof(info), .index = VFIO_PCI_MSI_IRQ_INDEX};
	uint16_t f = cfg16(&dev2, MSI_CAP + PCI_MSI_FLAGS);
	uint32_t addr = 0xfee00000, data = 0x4041;

	ck_assert(f & PCI_MSI_FLAGS_64BIT);
	ck_assert(f & PCI_MSI_FLAGS_MASKBIT);
	ck_assert_uint_eq(f & PCI_MSI_FLAGS_QMASK, 0);
	ck_assert_uint_eq(f & PCI_MSI_FLAGS_ENABLE, 0);
	ck_assert_int_eq(pinsim_ioctl(proc, dev2.dev, VFIO_DEVICE_GET_IRQ_INFO, &info), 0);
	ck_assert_uint_eq(info.count, 8);
	cfg_w32(&dev2, MSI_CAP + PCI_MSI_ADDRESS_LO, addr);
	ck_assert_int_eq(wr(&dev2, &data, 2, CFG(MSI_CAP + PCI_MSI_DATA_64)), 2);
	ck_assert_uint_eq(cfg32(&dev2, MSI_CAP + PCI_MSI_ADDRESS_LO), addr);
	ck_assert_uint_eq(cfg16(&dev2, MSI_CAP + PCI_MSI_DATA_64), data);
	f |= PCI_MSI_FLAGS_ENABLE | 3 << 4;
	ck_assert_int_eq(wr(&dev2, &f, 2, CFG(MSI_CAP + PCI_MSI_FLAGS)), 2);
	f = cfg16(&dev2, MSI_CAP + PCI_MSI_FLAGS);
	ck_assert_uint_eq(f & PCI_MSI_FLAGS_ENABLE, 0);
	ck_assert_uint_eq(f & PCI_MSI_FLAGS_QSIZE, 0); /* capped at msi_qmax 0 */
	/* dev0: the default MSI, one vector */
	info.argsz = sizeof(info);
	ck_assert_int_eq(pinsim_ioctl(proc, dev0.dev, VFIO_DEVICE_GET_IRQ_INFO, &info), 0);
	ck_assert_uint_eq(info.count, 1);
	ck_assert_uint_eq(cfg16(&dev0, MSI_CAP + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_MASKBIT, 0);
}
END_TEST


/* cap_perms[PCI_CAP_ID_MSIX] has no writefn: the write is counted done and dropped. */
START_TEST(test_config_msix_capability_is_read_only)
{
	uint16_t before = cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS);
	uint16_t v = before | PCI_MSIX_FLAGS_ENABLE;

	ck_assert_int_eq(wr(&dev2, &v, 2, CFG(MSIX_CAP + PCI_MSIX_FLAGS)), 2);
	ck_assert_uint_eq(cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS), before);
}
END_TEST

/* vfio_config_do_rw(): past cfg_size, or ending past it, is -EFAULT (no truncation). */
START_TEST(test_config_access_past_cfg_size_is_efault)
{
	uint8_t buf[8] = {0};
	uint32_t v = 0x11223344;

	ck_assert_int_eq(rd(&dev2, buf, 8, CFG(PCI_CFG_SPACE_EXP_SIZE - 4)), -EFAULT);
	ck_assert_int_eq(rd(&dev2, buf, 1, CFG(PCI_CFG_SPACE_EXP_SIZE)), -EFAULT);
	ck_assert_int_eq(wr(&dev2, &v, 4, CFG(PCI_CFG_SPACE_EXP_SIZE)), -EFAULT);
	ck_assert_int_eq(rd(&dev2, buf, 4, CFG(PCI_CFG_SPACE_EXP_SIZE - 4)), 4);
	/* a whole-space read works and starts with the IDs */
	{
		static uint8_t all[PCI_CFG_SPACE_EXP_SIZE];

		ck_assert_int_eq(rd(&dev2, all, sizeof(all), CFG(0)), (int)sizeof(all));
		ck_assert_uint_eq(all[0] | all[1] << 8, 0x8086);
		ck_assert_uint_eq(all[EXP_CAP], PCI_CAP_ID_EXP);
	}
}
END_TEST

/*
 * vfio_basic_config_write(): bus master reaches the device and reads back;
 * MEMORY off makes BAR reads -EIO; INTX_DISABLE is virtual and reads back.
 */
START_TEST(test_config_command_bits_read_back)
{
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;

	ck_assert_int_eq(wr(&dev2, &cmd, 2, CFG(PCI_COMMAND)), 2);
	ck_assert_uint_eq(cfg16(&dev2, PCI_COMMAND), cmd);
	cmd = 0xffff; /* reserved bits 11-15 are not the device's */
	ck_assert_int_eq(wr(&dev2, &cmd, 2, CFG(PCI_COMMAND)), 2);
	ck_assert_uint_eq(cfg16(&dev2, PCI_COMMAND), 0x07ff);
}
END_TEST

/*
 * vfio_exp_config_write(): the FLR bit reads 0 after the write, and the
 * function was reset (pci_try_reset_function(), under the zap).
 */
START_TEST(test_config_pcie_flr_bit_reads_zero)
{
	uint16_t ctl = cfg16(&dev2, EXP_CAP + PCI_EXP_DEVCTL) | PCI_EXP_DEVCTL_BCR_FLR;

	ck_assert_int_eq(wr(&dev2, &ctl, 2, CFG(EXP_CAP + PCI_EXP_DEVCTL)), 2);
	ck_assert_uint_eq(cfg16(&dev2, EXP_CAP + PCI_EXP_DEVCTL) & PCI_EXP_DEVCTL_BCR_FLR, 0);
	/* READRQ is virtual and writable: it reads back */
	ctl = (ctl & ~PCI_EXP_DEVCTL_READRQ & ~PCI_EXP_DEVCTL_BCR_FLR) |
	      PCI_EXP_DEVCTL_READRQ_4096B;
	ck_assert_int_eq(wr(&dev2, &ctl, 2, CFG(EXP_CAP + PCI_EXP_DEVCTL)), 2);
	ck_assert_uint_eq(cfg16(&dev2, EXP_CAP + PCI_EXP_DEVCTL) & PCI_EXP_DEVCTL_READRQ,
			  PCI_EXP_DEVCTL_READRQ_4096B);
}
END_TEST

/* ---------------- BARs ---------------- */

/* vfio_pci_bar_rw(): what is written through the fd reads back, at any alignment. */
START_TEST(test_bar_rw_round_trips_any_width)
{
	uint8_t out[23], in[23];

	for (unsigned int i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 1);
	ck_assert_int_eq(wr(&dev0, out, sizeof(out), BAR(2, 3)), (int)sizeof(out));
	memset(in, 0, sizeof(in));
	ck_assert_int_eq(rd(&dev0, in, sizeof(in), BAR(2, 3)), (int)sizeof(in));
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
}
END_TEST

/* The count is cut at the BAR's end; at or past the end, -EINVAL. */
START_TEST(test_bar_rw_truncates_at_end_and_einval_past_it)
{
	uint8_t buf[16];
	uint64_t end = dev0.bar_size[4];

	ck_assert_int_eq(rd(&dev0, buf, sizeof(buf), BAR(4, end - 4)), 4);
	ck_assert_int_eq(rd(&dev0, buf, sizeof(buf), BAR(4, end)), -EINVAL);
	ck_assert_int_eq(wr(&dev0, buf, 1, BAR(4, end + 100)), -EINVAL);
}
END_TEST

/* An absent BAR, the ROM (none), a ROM write, VGA and past the regions: -EINVAL. */
START_TEST(test_bar_rw_absent_regions_are_einval)
{
	uint8_t buf[4] = {0};

	ck_assert_int_eq(rd(&dev0, buf, 4, BAR(1, 0)), -EINVAL);
	ck_assert_int_eq(rd(&dev0, buf, 4, BAR(VFIO_PCI_ROM_REGION_INDEX, 0)), -EINVAL);
	ck_assert_int_eq(wr(&dev0, buf, 4, BAR(VFIO_PCI_ROM_REGION_INDEX, 0)), -EINVAL);
	ck_assert_int_eq(rd(&dev0, buf, 4, BAR(VFIO_PCI_VGA_REGION_INDEX, 0)), -EINVAL);
	ck_assert_int_eq(rd(&dev0, buf, 4, BAR(VFIO_PCI_NUM_REGIONS, 0)), -EINVAL);
	/* count 0 is 0 before any check (vfio_pci_core_read()) */
	ck_assert_int_eq(rd(&dev0, buf, 0, BAR(VFIO_PCI_NUM_REGIONS + 5, 0)), 0);
}
END_TEST

/* vfio_pci_core_ioread/iowrite with decode off: -EIO, nothing written. */
START_TEST(test_bar_rw_with_decode_off_is_eio)
{
	uint32_t v = 0xa5a5a5a5, r = 0;

	ck_assert_int_eq(wr(&dev0, &v, 4, BAR(2, 64)), 4);
	vh_memory_decode(&dev0, false);
	r = 0x12345678;
	ck_assert_int_eq(wr(&dev0, &r, 4, BAR(2, 64)), -EIO);
	ck_assert_int_eq(rd(&dev0, &r, 4, BAR(2, 64)), -EIO);
	vh_memory_decode(&dev0, true);
	r = 0;
	ck_assert_int_eq(rd(&dev0, &r, 4, BAR(2, 64)), 4);
	ck_assert_uint_eq(r, v);
}
END_TEST

/* The MSI-X table is excluded: reads fill with 0xff, writes are dropped. */
START_TEST(test_bar_rw_msix_table_reads_ff_drops_writes)
{
	uint8_t buf[32];
	uint32_t v = 0x01020304, r = 0;

	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(wr(&dev2, buf, sizeof(buf), BAR(4, 0)), (int)sizeof(buf));
	ck_assert_int_eq(rd(&dev2, buf, sizeof(buf), BAR(4, 0)), (int)sizeof(buf));
	for (unsigned int i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0xff);
	/* right after the table (20 * 16 bytes): the PBA, a real access */
	ck_assert_int_eq(wr(&dev2, &v, 4, BAR(4, 20 * 16)), 4);
	ck_assert_int_eq(rd(&dev2, &r, 4, BAR(4, 20 * 16)), 4);
	ck_assert_uint_eq(r, v);
}
END_TEST

/* BAR r/w and a BAR mmap see the same bytes. */
START_TEST(test_bar_rw_and_mmap_share_bytes)
{
	uint64_t va = vh_bar_mmap(&dev0, 4, 0, dev0.bar_size[4], RW, 0);
	uint32_t v = 0xcafef00d, r = 0;

	ck_assert_int_eq(wr(&dev0, &v, 4, BAR(4, 128)), 4);
	ck_assert_int_eq(pinsim_access(proc, va + 128, &r, 4, 0), 4);
	ck_assert_uint_eq(r, v);
}
END_TEST

/* ---------------- interrupts ---------------- */

static int irq_info(struct vh_dev *d, struct vfio_irq_info *info)
{
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, d->dev, VFIO_DEVICE_GET_IRQ_INFO, info));
}

/*
 * vfio_pci_ioctl_get_irq_info() + vfio_pci_get_irq_count(): INTx 1
 * (eventfd, maskable, automasked), MSI 1 << Multiple Message Capable
 * (8), MSI-X the capability's table size (eventfd, noresize), ERR 1 on
 * PCIe, REQ 1.
 */
START_TEST(test_irq_info_counts_and_flags_as_vfio_pci_get_irq_count)
{
	static const struct {
		uint32_t index, count, flags;
	} want[] = {
		{VFIO_PCI_INTX_IRQ_INDEX, 1,
		 VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED},
		{VFIO_PCI_MSI_IRQ_INDEX, 8, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE},
		{VFIO_PCI_MSIX_IRQ_INDEX, 20, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE},
		{VFIO_PCI_ERR_IRQ_INDEX, 1, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE},
		{VFIO_PCI_REQ_IRQ_INDEX, 1, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE},
	};

	for (unsigned int i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct vfio_irq_info info = {.argsz = sizeof(info), .index = want[i].index};

		ck_assert_int_eq(irq_info(&dev2, &info), 0);
		ck_assert_uint_eq(info.count, want[i].count);
		ck_assert_uint_eq(info.flags, want[i].flags);
	}
	{
		struct vfio_irq_info info = {.argsz = sizeof(info),
					     .index = VFIO_PCI_MSIX_IRQ_INDEX};

		ck_assert_int_eq(irq_info(&dev0, &info), 0);
		ck_assert_uint_eq(info.count, 0); /* dev0 has no MSI-X */
	}
}
END_TEST

/* argsz below minsz, or an index past VFIO_PCI_NUM_IRQS: -EINVAL, struct untouched. */
START_TEST(test_irq_info_bad_argsz_or_index_is_einval)
{
	struct vfio_irq_info info = {.argsz = 12, .index = 0, .flags = 0x55, .count = 77};

	ck_assert_int_eq(irq_info(&dev2, &info), -EINVAL);
	ck_assert_uint_eq(info.flags, 0x55);
	ck_assert_uint_eq(info.count, 77);
	info.argsz = sizeof(info);
	info.index = VFIO_PCI_NUM_IRQS;
	ck_assert_int_eq(irq_info(&dev2, &info), -EINVAL);
	ck_assert_uint_eq(info.count, 77);
	ck_assert_int_eq(irq_info(&dev2, NULL), -EFAULT);
}
END_TEST

/* ---------------- interrupts: VFIO_DEVICE_SET_IRQS and the device's raise ---------------- */

#define TRIG VFIO_IRQ_SET_ACTION_TRIGGER
#define D_NONE VFIO_IRQ_SET_DATA_NONE
#define D_BOOL VFIO_IRQ_SET_DATA_BOOL
#define D_EFD VFIO_IRQ_SET_DATA_EVENTFD

/* VFIO_DEVICE_SET_IRQS with up to 32 int32 fds (or bools in the same bytes). */
static int set_irqs(struct vh_dev *d, uint32_t flags, uint32_t index, uint32_t start,
		    uint32_t count, const void *data, size_t data_len)
{
	struct {
		struct vfio_irq_set hdr;
		int32_t data[32];
	} s = {.hdr = {.argsz = sizeof(s.hdr) + data_len,
		       .flags = flags,
		       .index = index,
		       .start = start,
		       .count = count}};

	ck_assert_uint_le(data_len, sizeof(s.data));
	if (data_len)
		memcpy(s.data, data, data_len);
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, d->dev, VFIO_DEVICE_SET_IRQS, &s));
}

static int set_efds(struct vh_dev *d, uint32_t index, uint32_t start, uint32_t count,
		    const int32_t *fds)
{
	return set_irqs(d, D_EFD | TRIG, index, start, count, fds, count * sizeof(int32_t));
}

static int raise_irq(struct vh_dev *d, unsigned int index, unsigned int vector)
{
	errno = 0;
	return vh_rc(pinsim_device_raise_irq(sim, d->group_id, index, vector));
}

static int new_efd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* The eventfd's counter, read (and so reset); 0 when nothing was signalled. */
static uint64_t efd_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v)) {
		ck_assert_int_eq(errno, EAGAIN);
		return 0;
	}
	return v;
}

static void cmd_set(struct vh_dev *d, uint16_t set, uint16_t clear)
{
	uint16_t cmd = cfg16(d, PCI_COMMAND);

	cmd = (cmd | set) & ~clear;
	ck_assert_int_eq(wr(d, &cmd, 2, CFG(PCI_COMMAND)), 2);
}

/*
 * vfio_set_irqs_validate_and_prepare(): each bad header is -EINVAL
 * (argsz, index, flags, two data types, start/count past the index's
 * count, count overflowing start, argsz short of the data, an MSI block
 * past its 8 vectors); vfio_pci_set_irqs_ioctl(): an action the index
 * has no handler for is -ENOTTY.  Nothing gets enabled.
 */
START_TEST(test_set_irqs_validation_as_vfio_set_irqs_validate_and_prepare)
{
	int efd = new_efd();
	int32_t fds[2] = {efd, efd};
	struct vfio_irq_set hdr = {.argsz = sizeof(hdr) - 1, .flags = D_NONE | TRIG};

	ck_assert_int_eq(vh_rc(pinsim_ioctl(proc, dev2.dev, VFIO_DEVICE_SET_IRQS, &hdr)), -EINVAL);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_NUM_IRQS, 0, 1, NULL, 0), -EINVAL);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG | 0x100, 0, 0, 1, NULL, 0), -EINVAL);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | D_BOOL | TRIG, 0, 0, 1, fds, 1), -EINVAL);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 2, fds), -EINVAL);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 1, 1, fds), -EINVAL);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 19, 2, fds), -EINVAL);
	ck_assert_int_eq(
		set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 1, UINT32_MAX - 1, NULL, 0),
		-EINVAL);
	/* argsz covers 4 of the 8 bytes two fds need */
	ck_assert_int_eq(set_irqs(&dev2, D_EFD | TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, fds, 4),
			 -EINVAL);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 7, 2, fds), -EINVAL);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 8, 1, fds), -EINVAL);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_MSIX_IRQ_INDEX,
				  0, 1, NULL, 0),
			 -ENOTTY);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_ERR_IRQ_INDEX, 0, 1, NULL, 0),
			 -ENOTTY);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0), -ENOTTY);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG | VFIO_IRQ_SET_ACTION_MASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
			 -ENOTTY);
	/* INTx not on: loopback and mask are -EINVAL; nothing is enabled */
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_INTX_IRQ_INDEX,
				  0, 1, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 0);
	ck_assert_uint_eq(cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE, 0);
	ck_assert_uint_eq(efd_count(efd), 0);
	/* the raise's own bad arguments */
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_NUM_IRQS, 0), -EINVAL);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 20), -EINVAL);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 1), -EINVAL);
	ck_assert_int_eq(pinsim_device_raise_irq(sim, 999, 0, 0), -1);
	ck_assert_int_eq(errno, ENODEV);
	close(efd);
}
END_TEST

/*
 * vfio_intx_handler(): the first assertion masks and signals; one on the
 * masked line stays pending (PCI_STATUS_INTERRUPT) and is sent at the
 * unmask, which then leaves the line masked (pci_check_and_unmask_intx()
 * failed); an unmask with nothing pending re-arms.
 */
START_TEST(test_intx_automask_pending_and_unmask_rearm)
{
	int efd = new_efd();
	int32_t fd = efd;

	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 0); /* auto-masked */
	ck_assert_uint_eq(efd_count(efd), 0);
	ck_assert(cfg16(&dev2, PCI_STATUS) & PCI_STATUS_INTERRUPT);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
			 0);
	ck_assert_uint_eq(efd_count(efd), 1); /* the pending one */
	ck_assert(!(cfg16(&dev2, PCI_STATUS) & PCI_STATUS_INTERRUPT));
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 0); /* still masked */
	ck_assert_uint_eq(efd_count(efd), 0);
	/* BOOL 0 unmasks nothing; BOOL 1 sends the pending one again */
	ck_assert_int_eq(set_irqs(&dev2, D_BOOL | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, (uint8_t[]){0}, 1),
			 0);
	ck_assert_uint_eq(efd_count(efd), 0);
	ck_assert_int_eq(set_irqs(&dev2, D_BOOL | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, (uint8_t[]){1}, 1),
			 0);
	ck_assert_uint_eq(efd_count(efd), 1);
	/* nothing pending now: the unmask re-arms */
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
			 0);
	ck_assert_uint_eq(efd_count(efd), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	close(efd);
}
END_TEST

/*
 * vfio_pci_set_intx_mask(): MASK masks (EVENTFD is -ENOTTY, "XXX implement
 * me"); vfio_pci_set_intx_trigger() NONE/BOOL fire the trigger whatever the
 * mask (loopback); count 0 + NONE disables, after which the device's INTx
 * goes nowhere and INTx can be enabled again.
 */
START_TEST(test_intx_mask_loopback_and_disable)
{
	int efd = new_efd();
	int32_t fd = efd;

	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_INTX_IRQ_INDEX,
				  0, 1, NULL, 0),
			 0);
	ck_assert_int_eq(set_irqs(&dev2, D_EFD | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_INTX_IRQ_INDEX,
				  0, 1, &fd, 4),
			 -ENOTTY);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 0);
	ck_assert_uint_eq(efd_count(efd), 0);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0), 0);
	ck_assert_uint_eq(efd_count(efd), 1);
	ck_assert_int_eq(
		set_irqs(&dev2, D_BOOL | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, (uint8_t[]){0}, 1),
		0);
	ck_assert_uint_eq(efd_count(efd), 0);
	/* enabling again while on swaps the trigger (vfio_intx_set_signal()) */
	{
		int efd2 = new_efd();
		int32_t fd2 = efd2;

		ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd2), 0);
		ck_assert_int_eq(set_irqs(&dev2, D_BOOL | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
					  (uint8_t[]){1}, 1),
				 0);
		ck_assert_uint_eq(efd_count(efd2), 1);
		ck_assert_uint_eq(efd_count(efd), 0);
		close(efd2);
	}
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 0);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	close(efd);
}
END_TEST

/*
 * vfio_basic_config_write() "Emulate INTx disable": setting
 * PCI_COMMAND_INTX_DISABLE masks INTx (the assertion stays pending, and
 * loopback sends nothing: vfio_send_intx_eventfd() checks virq_disabled),
 * clearing it unmasks and so delivers the pending one; INTx enabled while
 * the bit is set starts masked (vfio_intx_enable()).
 */
START_TEST(test_intx_disable_command_bit_masks_intx)
{
	int efd = new_efd();
	int32_t fd = efd;

	cmd_set(&dev2, PCI_COMMAND_INTX_DISABLE, 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 0);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0), 0);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
			 0);
	ck_assert_uint_eq(efd_count(efd), 0);
	ck_assert(cfg16(&dev2, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
	cmd_set(&dev2, 0, PCI_COMMAND_INTX_DISABLE);
	ck_assert_uint_eq(efd_count(efd), 1);
	/* masked after delivering it; an unmask re-arms, then the bit again */
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
			 0);
	cmd_set(&dev2, PCI_COMMAND_INTX_DISABLE, 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 0);
	ck_assert_uint_eq(efd_count(efd), 0);
	close(efd);
}
END_TEST

/*
 * vfio_pci_set_msi_trigger() for MSI-X: EVENTFD on start..start+count
 * enables start + count vectors (MSI-X ENABLE in the capability), each
 * vector fires its own eventfd; fd -1 clears one vector; a vector past the
 * allocated ones is -EINVAL (no dynamic MSI-X) and only that block is
 * undone; count 0 + NONE disables.  MSI-X is a memory write: Bus Master
 * off, nothing is sent.
 */
START_TEST(test_msix_vectors_clear_one_and_disable)
{
	int e[3] = {new_efd(), new_efd(), new_efd()};
	int32_t fds[3] = {e[0], e[1], e[2]}, none = -1;

	cmd_set(&dev2, PCI_COMMAND_MASTER, 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0, 3, fds), 0);
	ck_assert(cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, i), 1);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(efd_count(e[i]), 1);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 5), 0); /* not allocated */
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, &none), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 1), 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 3, 1, fds), -EINVAL);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0), 1); /* untouched */
	ck_assert_uint_eq(efd_count(e[0]), 1);
	/* loopback: BOOL per vector of the block */
	ck_assert_int_eq(set_irqs(&dev2, D_BOOL | TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 3,
				  (uint8_t[]){0, 1, 1}, 3),
			 0);
	ck_assert_uint_eq(efd_count(e[0]), 0);
	ck_assert_uint_eq(efd_count(e[1]), 0); /* cleared vector */
	ck_assert_uint_eq(efd_count(e[2]), 1);
	cmd_set(&dev2, 0, PCI_COMMAND_MASTER);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0), 0);
	ck_assert_uint_eq(efd_count(e[0]), 0);
	cmd_set(&dev2, PCI_COMMAND_MASTER, 0);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE, 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0), 0);
	ck_assert_uint_eq(efd_count(e[0]), 0);
	for (int i = 0; i < 3; i++)
		close(e[i]);
}
END_TEST

static uint16_t msi_flags(struct vh_dev *d)
{
	return cfg16(d, MSI_CAP + PCI_MSI_FLAGS);
}

static void msi_flags_write(struct vh_dev *d, uint16_t f)
{
	ck_assert_int_eq(wr(d, &f, 2, CFG(MSI_CAP + PCI_MSI_FLAGS)), 2);
}

/*
 * vfio_msi_enable() for MSI: 3 vectors make msi_qmax fls(5) - 1 = 2, so
 * Multiple Message Capable reads 2 (4 vectors) from then on; the user's
 * MSI Enable is not set by the ioctl, a write of it now sticks, and a
 * Multiple Message Enable above msi_qmax is capped.  After disable the
 * enable written is cleared again, msi_qmax stays (the kernel keeps it).
 */
START_TEST(test_msi_enable_sets_qmax_and_the_enable_bit_is_the_users)
{
	int e[3] = {new_efd(), new_efd(), new_efd()};
	int32_t fds[3] = {e[0], e[1], e[2]};
	uint16_t f;

	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 0, 3, fds), 0);
	f = msi_flags(&dev2);
	ck_assert_uint_eq((f & PCI_MSI_FLAGS_QMASK) >> 1, 2);
	ck_assert_uint_eq(f & PCI_MSI_FLAGS_ENABLE, 0);
	msi_flags_write(&dev2, f | PCI_MSI_FLAGS_ENABLE | 5 << 4);
	f = msi_flags(&dev2);
	ck_assert(f & PCI_MSI_FLAGS_ENABLE);
	ck_assert_uint_eq((f & PCI_MSI_FLAGS_QSIZE) >> 4, 2);
	/* MSI-X and INTx cannot come while MSI is on */
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, fds), -EINVAL);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, fds), -EINVAL);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL, 0), 0);
	msi_flags_write(&dev2, f | PCI_MSI_FLAGS_ENABLE);
	f = msi_flags(&dev2);
	ck_assert_uint_eq(f & PCI_MSI_FLAGS_ENABLE, 0);
	ck_assert_uint_eq((f & PCI_MSI_FLAGS_QMASK) >> 1, 2);
	for (int i = 0; i < 3; i++)
		close(e[i]);
}
END_TEST

/*
 * vfio_msihandler() per MSI vector: each enabled vector fires its own
 * eventfd (Bus Master on), one past the enabled ones does nothing and one
 * past the capability is -EINVAL.  A vector whose Mask bit the user set
 * (the bits reach the device: no virtualization) is held: Pending reads
 * set, and the write clearing the Mask bit sends it.  Loopback with BOOL.
 */
START_TEST(test_msi_vectors_fire_and_a_masked_vector_stays_pending)
{
	int e[2] = {new_efd(), new_efd()};
	int32_t fds[2] = {e[0], e[1]};
	uint32_t mask = 2;

	cmd_set(&dev2, PCI_COMMAND_MASTER, 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 0, 2, fds), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 0), 1);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 1), 1);
	ck_assert_uint_eq(efd_count(e[0]), 1);
	ck_assert_uint_eq(efd_count(e[1]), 1);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 2), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 8), -EINVAL);
	cfg_w32(&dev2, MSI_CAP + PCI_MSI_MASK_64, mask);
	ck_assert_uint_eq(cfg32(&dev2, MSI_CAP + PCI_MSI_MASK_64), mask);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 1), 0);
	ck_assert_uint_eq(efd_count(e[1]), 0);
	ck_assert_uint_eq(cfg32(&dev2, MSI_CAP + PCI_MSI_PENDING_64), 2);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 0), 1);
	cfg_w32(&dev2, MSI_CAP + PCI_MSI_MASK_64, 0);
	ck_assert_uint_eq(efd_count(e[1]), 1);
	ck_assert_uint_eq(cfg32(&dev2, MSI_CAP + PCI_MSI_PENDING_64), 0);
	ck_assert_uint_eq(efd_count(e[0]), 1);
	ck_assert_int_eq(set_irqs(&dev2, D_BOOL | TRIG, VFIO_PCI_MSI_IRQ_INDEX, 0, 2,
				  (uint8_t[]){0, 1}, 2),
			 0);
	ck_assert_uint_eq(efd_count(e[0]), 0);
	ck_assert_uint_eq(efd_count(e[1]), 1);
	cmd_set(&dev2, 0, PCI_COMMAND_MASTER);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 0), 0);
	cmd_set(&dev2, PCI_COMMAND_MASTER, 0);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 0), 0);
	ck_assert_uint_eq(efd_count(e[0]), 0);
	close(e[0]);
	close(e[1]);
}
END_TEST

/*
 * pinsim_device_interrupt(): the device picks from its own registers —
 * MSI-X when MSI-X Enable is set, else MSI when MSI Enable is, else INTx
 * (vector 0 only: -EINVAL past it).
 */
START_TEST(test_device_interrupt_follows_the_enabled_type)
{
	int efd = new_efd();
	int32_t fd = efd;

	cmd_set(&dev2, PCI_COMMAND_MASTER, 0);
	ck_assert_int_eq(pinsim_device_interrupt(sim, dev2.group_id, 0), 0); /* nothing on */
	ck_assert_int_eq(pinsim_device_interrupt(sim, dev2.group_id, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(pinsim_device_interrupt(sim, dev2.group_id, 0), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSI_IRQ_INDEX, 3, 1, &fd), 0);
	ck_assert_int_eq(pinsim_device_interrupt(sim, dev2.group_id, 3), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	ck_assert_int_eq(pinsim_device_interrupt(sim, dev2.group_id, 8), -1);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 12, 1, &fd), 0);
	ck_assert_int_eq(pinsim_device_interrupt(sim, dev2.group_id, 12), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	ck_assert_int_eq(pinsim_device_interrupt(sim, dev2.group_id, 20), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pinsim_device_interrupt(sim, 999, 0), -1);
	ck_assert_int_eq(errno, ENODEV);
	close(efd);
}
END_TEST

/*
 * One type at a time (vfio_intx_enable()/vfio_msi_enable() need
 * is_irq_none(), vfio_pci_set_msi_trigger()'s "another type" check):
 * -EINVAL, and the active one keeps working; after disabling it, the
 * other enables.
 */
START_TEST(test_intx_and_msix_exclude_each_other)
{
	int efd = new_efd();
	int32_t fd = efd;

	cmd_set(&dev2, PCI_COMMAND_MASTER, 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &fd), -EINVAL);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL, 0),
			 -EINVAL);
	ck_assert_uint_eq(cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE, 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), -EINVAL);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	close(efd);
}
END_TEST

/*
 * eventfd_ctx_fdget(): a closed fd is -EBADF, an fd that is no eventfd
 * -EINVAL.  INTx stays off; a failed MSI-X enable is disabled again
 * (vfio_pci_set_msi_trigger()), so INTx can still be enabled.  The
 * reference is the kernel's own: closing the program's fd after SET_IRQS
 * leaves the eventfd firing (read here through a second fd of it).
 */
START_TEST(test_bad_eventfd_is_ebadf_or_einval_and_the_reference_outlives_the_fd)
{
	int pipefd[2], efd = new_efd(), keep;
	int32_t fds[2];

	ck_assert_int_eq(pipe(pipefd), 0);
	fds[0] = efd;
	fds[1] = 1000; /* not open */
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fds[1]), -EBADF);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &pipefd[0]), -EINVAL);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
			 -EINVAL); /* INTx is not on */
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, fds), -EBADF);
	ck_assert_uint_eq(cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE, 0);
	ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL, 0),
			 -EINVAL); /* MSI-X is not on either */
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &pipefd[1]), -EINVAL);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_ERR_IRQ_INDEX, 0), 0);

	keep = dup(efd);
	ck_assert_int_ge(keep, 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fds[0]), 0);
	close(efd);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 1);
	ck_assert_uint_eq(efd_count(keep), 1);
	close(keep);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

/*
 * vfio_pci_set_ctx_trigger_single() for ERR and REQ: EVENTFD sets, NONE
 * with count 1 fires and with count 0 releases, NONE without a trigger is
 * -EINVAL, BOOL with count 0 is -EINVAL, start 1 -EINVAL; the kernel's
 * own error/request raise fires the trigger.
 */
START_TEST(test_err_and_req_triggers)
{
	int efd = new_efd();
	int32_t fd = efd;

	for (uint32_t idx = VFIO_PCI_ERR_IRQ_INDEX; idx <= VFIO_PCI_REQ_IRQ_INDEX; idx++) {
		ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, idx, 0, 1, NULL, 0), -EINVAL);
		ck_assert_int_eq(set_efds(&dev2, idx, 0, 1, &fd), 0);
		ck_assert_int_eq(raise_irq(&dev2, idx, 0), 1);
		ck_assert_uint_eq(efd_count(efd), 1);
		ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, idx, 0, 1, NULL, 0), 0);
		ck_assert_uint_eq(efd_count(efd), 1);
		ck_assert_int_eq(set_irqs(&dev2, D_BOOL | TRIG, idx, 0, 0, NULL, 0), -EINVAL);
		ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, idx, 0, 0, NULL, 0), 0);
		ck_assert_int_eq(raise_irq(&dev2, idx, 0), 0);
		ck_assert_uint_eq(efd_count(efd), 0);
		ck_assert_int_eq(set_irqs(&dev2, D_NONE | TRIG, idx, 0, 1, NULL, 0), -EINVAL);
	}
	close(efd);
}
END_TEST

/*
 * vfio_pci_core_disable() at the last close of the device: the active type
 * is disabled (MSI-X ENABLE clear) and ERR/REQ released; a reopened device
 * starts with no interrupts.
 */
START_TEST(test_last_close_disables_interrupts)
{
	int efd = new_efd();
	int32_t fd = efd;

	cmd_set(&dev2, PCI_COMMAND_MASTER, 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(pinsim_close(proc, dev2.dev), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_REQ_IRQ_INDEX, 0), 0);
	ck_assert_uint_eq(efd_count(efd), 0);
	vh_get_device(&dev2);
	ck_assert_uint_eq(cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE, 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_INTX_IRQ_INDEX, 0), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	close(efd);
}
END_TEST

/* ---------------- resets ---------------- */

/*
 * dev3 shares dev2's bus (0000:03:00.1), dev4 sits on bus 0 (a root bus:
 * no bus reset).  Both in their own groups, attached to dev0's container.
 */
static struct vh_dev dev3 = {
	.name = "0000:03:00.1",
	.bar_size = {[0] = 16 * KiB},
	.iommu_unit = 0,
};
static struct vh_dev dev4 = {
	.name = "0000:00:05.0",
	.bar_size = {[0] = 16 * KiB},
	.iommu_unit = 0,
};

static void bus_setup(void)
{
	dev_setup();
	vh_add_device(&dev3);
	vh_add_device(&dev4);
	vh_attach(&dev3, dev_container);
	vh_attach(&dev4, dev_container);
}

struct hot_reset_info {
	struct vfio_pci_hot_reset_info hdr;
	struct vfio_pci_dependent_device dev[4];
};

static int hot_reset_info(struct vh_dev *d, struct hot_reset_info *info, uint32_t argsz)
{
	memset(info, 0x5a, sizeof(*info));
	info->hdr.argsz = argsz;
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, d->dev, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info));
}

/*
 * vfio_pci_ioctl_get_pci_hot_reset_info(): the functions on the bus, with
 * their address and group; -ENOSPC with count (and flags 0) when argsz
 * has no room for them all, the devices untouched; -EINVAL below the
 * header; -ENODEV on a root bus (pci_probe_reset_bus()).
 */
START_TEST(test_hot_reset_info_lists_the_bus)
{
	struct hot_reset_info info;

	ck_assert_int_eq(hot_reset_info(&dev2, &info, sizeof(info.hdr) + 8), -ENOSPC);
	ck_assert_uint_eq(info.hdr.count, 2);
	ck_assert_uint_eq(info.hdr.flags, 0);
	ck_assert_uint_eq(info.dev[0].group_id, 0x5a5a5a5a);
	ck_assert_int_eq(hot_reset_info(&dev2, &info, sizeof(info.hdr) - 1), -EINVAL);
	ck_assert_uint_eq(info.hdr.count, 0x5a5a5a5a);
	ck_assert_int_eq(hot_reset_info(&dev3, &info, sizeof(info)), 0);
	ck_assert_uint_eq(info.hdr.count, 2);
	ck_assert_uint_eq(info.hdr.flags, 0);
	ck_assert_uint_eq(info.dev[0].group_id, (uint32_t)dev2.group_id);
	ck_assert_uint_eq(info.dev[0].segment, 0);
	ck_assert_uint_eq(info.dev[0].bus, 3);
	ck_assert_uint_eq(info.dev[0].devfn, 0);
	ck_assert_uint_eq(info.dev[1].group_id, (uint32_t)dev3.group_id);
	ck_assert_uint_eq(info.dev[1].bus, 3);
	ck_assert_uint_eq(info.dev[1].devfn, 1);
	ck_assert_uint_eq(info.dev[2].group_id, 0x5a5a5a5a);
	ck_assert_int_eq(hot_reset_info(&dev0, &info, sizeof(info)), 0);
	ck_assert_uint_eq(info.hdr.count, 1);
	ck_assert_uint_eq(info.dev[0].group_id, (uint32_t)dev0.group_id);
	ck_assert_uint_eq(info.dev[0].bus, 1);
	ck_assert_int_eq(hot_reset_info(&dev4, &info, sizeof(info)), -ENODEV);
}
END_TEST

static int hot_reset(struct vh_dev *d, uint32_t flags, uint32_t count, const int32_t *fds)
{
	struct {
		struct vfio_pci_hot_reset hdr;
		int32_t fds[4];
	} r = {.hdr = {.argsz = sizeof(r), .flags = flags, .count = count}};

	memcpy(r.fds, fds, count * sizeof(*fds));
	errno = 0;
	return vh_rc(pinsim_ioctl(proc, d->dev, VFIO_DEVICE_PCI_HOT_RESET, &r));
}

/*
 * vfio_pci_ioctl_pci_hot_reset(): flags or an empty array (cdev only) are
 * -EINVAL, more fds than affected devices -EINVAL, a closed fd -EBADF, a
 * device fd -EINVAL, a group missing -EINVAL, a root bus -ENODEV; each
 * failure leaves the BAR mappings in place.  With both groups, both
 * functions' BARs are zapped (vfio_pci_dev_set_hot_reset()), config space
 * survives (pci_reset_bus() saves and restores it), and so do vfio's
 * interrupts (nothing in the reset path tears them down), minus the
 * pending INTx, which the reset de-asserts.
 */
START_TEST(test_hot_reset_needs_every_group_of_the_bus)
{
	int32_t both[3] = {dev2.group, dev3.group, dev2.group}, bad[2];
	uint64_t va2 = vh_bar_mmap(&dev2, 0, 0, 16 * KiB, PROT_READ | PROT_WRITE, 0);
	uint64_t va3 = vh_bar_mmap(&dev3, 0, 0, 16 * KiB, PROT_READ | PROT_WRITE, 0);
	struct pinsim_page_info pi;
	int efd = new_efd();
	int32_t fd = efd;

	ck_assert_int_eq(pinsim_touch(proc, va2, 1, &pi), 0);
	ck_assert_int_eq(pinsim_touch(proc, va3, 1, &pi), 0);
	cmd_set(&dev2, PCI_COMMAND_MASTER, 0);
	ck_assert_int_eq(set_efds(&dev3, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(raise_irq(&dev3, VFIO_PCI_INTX_IRQ_INDEX, 0), 1);
	ck_assert_int_eq(raise_irq(&dev3, VFIO_PCI_INTX_IRQ_INDEX, 0), 0); /* pending */
	ck_assert_uint_eq(efd_count(efd), 1);

	ck_assert_int_eq(hot_reset(&dev2, 1, 2, both), -EINVAL);
	ck_assert_int_eq(hot_reset(&dev2, 0, 0, both), -EINVAL);
	ck_assert_int_eq(hot_reset(&dev2, 0, 3, both), -EINVAL);
	ck_assert_int_eq(hot_reset(&dev2, 0, 1, both), -EINVAL); /* dev3's group missing */
	bad[0] = dev2.group;
	bad[1] = 1000;
	ck_assert_int_eq(hot_reset(&dev2, 0, 2, bad), -EBADF);
	bad[1] = dev3.dev;
	ck_assert_int_eq(hot_reset(&dev2, 0, 2, bad), -EINVAL);
	bad[0] = dev4.group;
	ck_assert_int_eq(hot_reset(&dev4, 0, 1, bad), -ENODEV);
	ck_assert_int_eq(vh_page(va2).level, PINSIM_LEVEL_PTE);
	ck_assert_int_eq(vh_page(va3).level, PINSIM_LEVEL_PTE);
	ck_assert(cfg16(&dev3, PCI_STATUS) & PCI_STATUS_INTERRUPT);

	ck_assert_int_eq(hot_reset(&dev3, 0, 2, both), 0);
	ck_assert_int_eq(vh_page(va2).level, PINSIM_LEVEL_NONE);
	ck_assert_int_eq(vh_page(va3).level, PINSIM_LEVEL_NONE);
	ck_assert(cfg16(&dev2, PCI_COMMAND) & PCI_COMMAND_MASTER);
	ck_assert(!(cfg16(&dev3, PCI_STATUS) & PCI_STATUS_INTERRUPT));
	/* INTx still on, still masked: the unmask re-arms, then it fires */
	ck_assert_int_eq(set_irqs(&dev3, D_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
			 0);
	ck_assert_uint_eq(efd_count(efd), 0);
	ck_assert_int_eq(raise_irq(&dev3, VFIO_PCI_INTX_IRQ_INDEX, 0), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	ck_assert_int_eq(pinsim_touch(proc, va2, 0, &pi), 0); /* refaults */
	ck_assert_int_eq(pinsim_munmap(proc, va2, 16 * KiB), 0);
	ck_assert_int_eq(pinsim_munmap(proc, va3, 16 * KiB), 0);
	close(efd);
}
END_TEST

/*
 * vfio_pci_ioctl_reset(): the BARs zapped, vfio's MSI-X set-up kept
 * (pci_try_reset_function() restores the MSI-X state), MSI-X ENABLE
 * still reads set.
 */
START_TEST(test_device_reset_keeps_msix_setup)
{
	uint64_t va = vh_bar_mmap(&dev2, 0, 0, 16 * KiB, PROT_READ, 0);
	struct pinsim_page_info pi;
	int efd = new_efd();
	int32_t fd = efd;

	cmd_set(&dev2, PCI_COMMAND_MASTER, 0);
	ck_assert_int_eq(set_efds(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &fd), 0);
	ck_assert_int_eq(pinsim_touch(proc, va, 0, &pi), 0);
	ck_assert_int_eq(pinsim_ioctl(proc, dev2.dev, VFIO_DEVICE_RESET, NULL), 0);
	ck_assert_int_eq(vh_page(va).level, PINSIM_LEVEL_NONE);
	ck_assert(cfg16(&dev2, MSIX_CAP + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(raise_irq(&dev2, VFIO_PCI_MSIX_IRQ_INDEX, 0), 1);
	ck_assert_uint_eq(efd_count(efd), 1);
	ck_assert_int_eq(pinsim_munmap(proc, va, 16 * KiB), 0);
	close(efd);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("vfio_pci_device");
	TCase *tc = vh_tcase(s, "config", dev_setup);

	tcase_add_test(tc, test_config_region_is_cfg_size_of_a_pcie_function);
	tcase_add_test(tc, test_msix_bar_region_info_has_msix_mappable_cap);
	tcase_add_test(tc, test_config_ids_class_and_header);
	tcase_add_test(tc, test_config_vendor_device_writes_are_dropped);
	tcase_add_test(tc, test_config_bar_sizing_reads_back_size_mask);
	tcase_add_test(tc, test_config_capability_list_walk_pm_msi_pcie_msix);
	tcase_add_test(tc, test_config_pcie_endpoint_link_and_devcap);
	tcase_add_test(tc, test_config_pm_state_write_sets_power_state);
	tcase_add_test(tc, test_config_msi_flags_virtualized_before_set_irqs);
	tcase_add_test(tc, test_config_msix_capability_is_read_only);
	tcase_add_test(tc, test_config_access_past_cfg_size_is_efault);
	tcase_add_test(tc, test_config_command_bits_read_back);
	tcase_add_test(tc, test_config_pcie_flr_bit_reads_zero);
	tc = vh_tcase(s, "bar_rw", dev_setup);
	tcase_add_test(tc, test_bar_rw_round_trips_any_width);
	tcase_add_test(tc, test_bar_rw_truncates_at_end_and_einval_past_it);
	tcase_add_test(tc, test_bar_rw_absent_regions_are_einval);
	tcase_add_test(tc, test_bar_rw_with_decode_off_is_eio);
	tcase_add_test(tc, test_bar_rw_msix_table_reads_ff_drops_writes);
	tcase_add_test(tc, test_bar_rw_and_mmap_share_bytes);
	tc = vh_tcase(s, "irq", dev_setup);
	tcase_add_test(tc, test_irq_info_counts_and_flags_as_vfio_pci_get_irq_count);
	tcase_add_test(tc, test_irq_info_bad_argsz_or_index_is_einval);
	tc = vh_tcase(s, "set_irqs", dev_setup);
	tcase_add_test(tc, test_set_irqs_validation_as_vfio_set_irqs_validate_and_prepare);
	tcase_add_test(tc, test_intx_automask_pending_and_unmask_rearm);
	tcase_add_test(tc, test_intx_mask_loopback_and_disable);
	tcase_add_test(tc, test_intx_disable_command_bit_masks_intx);
	tcase_add_test(tc, test_msix_vectors_clear_one_and_disable);
	tcase_add_test(tc, test_intx_and_msix_exclude_each_other);
	tcase_add_test(tc, test_msi_enable_sets_qmax_and_the_enable_bit_is_the_users);
	tcase_add_test(tc, test_msi_vectors_fire_and_a_masked_vector_stays_pending);
	tcase_add_test(tc, test_device_interrupt_follows_the_enabled_type);
	tcase_add_test(tc, test_bad_eventfd_is_ebadf_or_einval_and_the_reference_outlives_the_fd);
	tcase_add_test(tc, test_err_and_req_triggers);
	tcase_add_test(tc, test_last_close_disables_interrupts);
	tc = vh_tcase(s, "reset", bus_setup);
	tcase_add_test(tc, test_hot_reset_info_lists_the_bus);
	tcase_add_test(tc, test_hot_reset_needs_every_group_of_the_bus);
	tcase_add_test(tc, test_device_reset_keeps_msix_setup);
	return s;
}
