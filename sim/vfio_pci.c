// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vfio-pci BAR provider: drivers/vfio/pci/vfio_pci_core.c (mmap, the
 * fault handlers, the zap) and the PCI_COMMAND/power-state gate of
 * drivers/vfio/pci/vfio_pci_config.c, as of 948b71aa81cd (ref §4).
 *
 * What is modelled: BARs as naturally aligned MMIO ranges, the region-offset
 * mmap (index << 40) with the kernel's -EINVAL checks in the kernel's order,
 * lazily faulted VM_IO|VM_PFNMAP entries at the order core mm asks for, the
 * memory_lock that orders faults against decode-off and reset, and the zap
 * through the device's own address_space that reaches every process.
 *
 * Left out, on purpose:
 *  - device-specific regions (vdev->num_regions == 0 here), so any index at or
 *    above VFIO_PCI_NUM_REGIONS is -EINVAL at the first check;
 *  - sub-page BARs (the kernel maps them through a dummy page reservation);
 *    vfio_pci.h only admits power-of-two BARs of at least PAGE_SIZE;
 *  - I/O-port BARs, the ROM, VGA, extended capabilities, and capabilities
 *    other than PM, MSI, PCI Express and MSI-X;
 *  - power states beyond D0..D3hot through PM_CTRL (no D3cold, runtime PM,
 *    PME, or the low-power feature ioctls);
 *  - the dma-buf export of BARs and its revoke path;
 *  - interrupts: dynamic MSI-X (NORESIZE),
 *    the unmask/mask irqfds (VFIO_IRQ_SET_ACTION_UNMASK with an eventfd is
 *    -EOPNOTSUPP here, the kernel's vfio_virqfd_enable() would poll it),
 *    irq bypass, the MSI-X table and PBA (host-owned, no per-vector mask),
 *    nointx/pci_2_3 quirks (every device has DisINTx), VFIO_DEVICE_IOEVENTFD;
 *  - slot resets: no hotplug slots, so a hot reset is always a bus reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bug.h"
#include "machine.h"
#include "mm.h"
#include "sched_point.h"
#include "vfio_pci.h"

/* ------------------------------------------------------------------------ */
/* Config space (drivers/vfio/pci/vfio_pci_config.c)                        */
/* ------------------------------------------------------------------------ */

/* pci_config_map values for bytes outside every capability. */
#define PCI_CAP_ID_INVALID 0xFF
#define PCI_CAP_ID_INVALID_VIRT 0xFE
#define PCI_CAP_ID_BASIC 0

/* fls(): the 1-based index of the highest set bit, 0 for 0. */
static unsigned int fls_u(unsigned int x)
{
	return x ? 32 - (unsigned int)__builtin_clz(x) : 0;
}

/* Little-endian accessors of a config byte array (count 1, 2 or 4). */
static uint32_t cfg_get(const uint8_t *a, int pos, int count)
{
	uint32_t v = 0;

	for (int i = 0; i < count; i++)
		v |= (uint32_t)a[pos + i] << (8 * i);
	return v;
}

static void cfg_put(uint8_t *a, int pos, int count, uint32_t v)
{
	for (int i = 0; i < count; i++)
		a[pos + i] = (uint8_t)(v >> (8 * i));
}

/* vconfig is little-endian, as PCI config space is. */
static uint16_t vconfig_read_command(const struct vfio_pci_core_device *vdev)
{
	return (uint16_t)cfg_get(vdev->vconfig, PCI_COMMAND, 2);
}

/*
 * pci_user_read_config_*() / pci_user_write_config_*() on the simulated
 * function: its registers, where only the bits of hw_wmask take a write
 * (read-only and unimplemented bits keep their value, as in hardware).
 */
static uint32_t hw_config_read(const struct vfio_pci_core_device *vdev, int pos, int count)
{
	return cfg_get(vdev->config, pos, count);
}

static void hw_config_write(struct vfio_pci_core_device *vdev, int pos, int count, uint32_t val)
{
	uint32_t wm = cfg_get(vdev->hw_wmask, pos, count);
	uint32_t old = cfg_get(vdev->config, pos, count);

	cfg_put(vdev->config, pos, count, (old & ~wm) | (val & wm));
}

/* p_setb()/p_setw()/p_setd() at an absolute config position. */
static void p_set(struct vfio_pci_core_device *vdev, int pos, int count, uint32_t virt,
		  uint32_t write)
{
	cfg_put(vdev->perm_virt, pos, count, virt);
	cfg_put(vdev->perm_write, pos, count, write);
}

/*
 * __vfio_pci_memory_enabled() (vfio_pci_config.c): current_state < D3hot
 * and (no_command_memory or PCI_COMMAND_MEMORY in the virtual command
 * register).  The power state is what the user set through PM_CTRL
 * (vfio_pm_config_write()); the device is never a VF with
 * no_command_memory.  The kernel reads this with memory_lock held (either
 * mode) by its callers; so do ours.
 */
bool __vfio_pci_memory_enabled(struct vfio_pci_core_device *vdev)
{
	return vdev->power_state < 3 && (vconfig_read_command(vdev) & SIM_PCI_COMMAND_MEMORY);
}

/*
 * vfio_pci_zap_and_down_write_memory_lock(): memory_lock for write first,
 * then the zap, so that no fault can re-insert an entry between the zap and
 * the state change the caller is about to make.
 */
static void vfio_pci_zap_and_down_write_memory_lock(struct vfio_pci_core_device *vdev)
{
	down_write(&vdev->memory_lock);
	vfio_pci_zap_bars(vdev);
}

/*
 * vfio_default_config_read(): the virtualized bits from vconfig, the rest
 * from the device.
 */
static int vfio_default_config_read(struct vfio_pci_core_device *vdev, int pos, int count,
				    uint32_t *val)
{
	uint32_t virt = cfg_get(vdev->perm_virt, pos, count);

	*val = cfg_get(vdev->vconfig, pos, count);
	if (virt != (~0U >> (32 - count * 8)))
		*val = (hw_config_read(vdev, pos, count) & ~virt) | (*val & virt);
	return count;
}

/*
 * vfio_default_config_write(): no writable bit drops the write; writable
 * virtualized bits go to vconfig, writable others to the device.
 */
static int vfio_default_config_write(struct vfio_pci_core_device *vdev, int pos, int count,
				     uint32_t val)
{
	uint32_t write = cfg_get(vdev->perm_write, pos, count);
	uint32_t virt = cfg_get(vdev->perm_virt, pos, count);

	if (!write)
		return count;
	if (write & virt) {
		uint32_t v = cfg_get(vdev->vconfig, pos, count);

		cfg_put(vdev->vconfig, pos, count, (v & ~(write & virt)) | (val & write & virt));
	}
	if (write & ~virt) {
		uint32_t p = hw_config_read(vdev, pos, count);

		hw_config_write(vdev, pos, count, (p & ~(write & ~virt)) | (val & write & ~virt));
	}
	return count;
}

/*
 * vfio_direct_config_read(): the device's bytes, except a standard
 * capability's ID/next bytes, which come from vconfig (the chain vfio may
 * have rewritten).  Extended capabilities are not modelled.
 */
static int vfio_direct_config_read(struct vfio_pci_core_device *vdev, int pos, int count,
				   int offset, uint32_t *val)
{
	*val = hw_config_read(vdev, pos, count);
	if (pos >= PCI_STD_HEADER_SIZEOF && pos < PCI_CFG_SPACE_SIZE) {
		if (offset == PCI_CAP_LIST_ID && count > 1) {
			int n = count < PCI_CAP_FLAGS ? count : PCI_CAP_FLAGS;

			*val = (*val & ~(0xffffffffU >> (32 - 8 * n))) |
			       cfg_get(vdev->vconfig, pos, n);
		} else if (offset == PCI_CAP_LIST_NEXT) {
			*val = (*val & ~0xffU) | vdev->vconfig[pos];
		}
	}
	return count;
}

/* is_bar() of vfio_pci_config.c: the six BARs and the ROM BAR. */
static bool is_bar(int offset)
{
	return (offset >= PCI_BASE_ADDRESS_0 && offset < PCI_BASE_ADDRESS_5 + 4) ||
	       (offset >= PCI_ROM_ADDRESS && offset < PCI_ROM_ADDRESS + 4);
}

/*
 * A BAR is 64-bit when the slot above it is free (then it takes both, as
 * pci_resource_flags() IORESOURCE_MEM_64 would say), else 32-bit; 64-bit
 * BARs are prefetchable, 32-bit ones not.  No I/O-port BARs.
 */
static bool bar_is_64(const struct vfio_pci_core_device *vdev, int i)
{
	return vdev->bar[i].size && i + 1 < PCI_STD_NUM_BARS && !(i & 1) &&
	       !vdev->bar[i + 1].size;
}

/* vfio_generate_bar_flags(). */
static uint32_t vfio_generate_bar_flags(const struct vfio_pci_core_device *vdev, int i)
{
	uint32_t val = PCI_BASE_ADDRESS_SPACE_MEMORY;

	if (bar_is_64(vdev, i))
		val |= PCI_BASE_ADDRESS_MEM_PREFETCH | PCI_BASE_ADDRESS_MEM_TYPE_64;
	return val;
}

/*
 * vfio_bar_fixup(): after a BAR write, the virtual BARs keep only the bits
 * above the BAR's size and get the BAR's flags back, so writing all-ones and
 * reading back gives the size mask (BAR sizing); an absent BAR reads 0, and
 * so does the ROM BAR (no ROM, no shadow ROM).
 */
static void vfio_bar_fixup(struct vfio_pci_core_device *vdev)
{
	if (!vdev->bardirty)
		return;
	for (int i = 0; i < PCI_STD_NUM_BARS; i++) {
		int pos = PCI_BASE_ADDRESS_0 + 4 * i;
		uint64_t mask;
		uint32_t v;

		if (!vdev->bar[i].size) {
			cfg_put(vdev->vconfig, pos, 4, 0);
			continue;
		}
		mask = ~(vdev->bar[i].size - 1);
		v = cfg_get(vdev->vconfig, pos, 4) & (uint32_t)mask;
		cfg_put(vdev->vconfig, pos, 4, v | vfio_generate_bar_flags(vdev, i));
		if (bar_is_64(vdev, i)) {
			v = cfg_get(vdev->vconfig, pos + 4, 4) & (uint32_t)(mask >> 32);
			cfg_put(vdev->vconfig, pos + 4, 4, v);
			i++;
		}
	}
	cfg_put(vdev->vconfig, PCI_ROM_ADDRESS, 4, 0);
	vdev->bardirty = false;
}

/* vfio_basic_config_read(): BAR reads see the fixed-up virtual BARs. */
static int vfio_basic_config_read(struct vfio_pci_core_device *vdev, int pos, int count,
				  uint32_t *val)
{
	if (is_bar(pos))
		vfio_bar_fixup(vdev);
	return vfio_default_config_read(vdev, pos, count, val);
}

static void vfio_pci_intx_virq(struct vfio_pci_core_device *vdev);
static void intx_set_pending(struct vfio_pci_core_device *vdev, bool pending);

/*
 * vfio_basic_config_write().  A write of PCI_COMMAND with MEMORY clear zaps
 * every BAR mapping under the write lock (even if decode was already off:
 * the kernel does not look at the old value for this); with MEMORY set it
 * just takes the write lock, so a fault in progress finishes against the
 * old value before the new one is visible.  The bits go through the
 * permissions (only INTX_DISABLE is virtual, the rest reaches the device),
 * then the MEMORY and IO bits written are saved in vconfig, which is what
 * __vfio_pci_memory_enabled() reads.  Left out: vfio_bar_restore() (the
 * simulated function never loses its BARs behind vfio's back).
 */
static int vfio_basic_config_write(struct vfio_pci_core_device *vdev, int pos, int count,
				   uint32_t val)
{
	uint16_t new_cmd = 0;

	if (pos == PCI_COMMAND) {
		new_cmd = (uint16_t)val;
		if (!(new_cmd & PCI_COMMAND_MEMORY))
			vfio_pci_zap_and_down_write_memory_lock(vdev);
		else
			down_write(&vdev->memory_lock);
	}
	count = vfio_default_config_write(vdev, pos, count, val);
	if (pos == PCI_COMMAND) {
		uint16_t mask = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
		uint16_t v = vconfig_read_command(vdev);

		cfg_put(vdev->vconfig, PCI_COMMAND, 2, (v & ~mask) | (new_cmd & mask));
		up_write(&vdev->memory_lock);
	}
	/* Emulate INTx disable. */
	if (pos >= PCI_COMMAND && pos <= PCI_COMMAND + 1)
		vfio_pci_intx_virq(vdev);
	if (is_bar(pos))
		vdev->bardirty = true;
	return count;
}

static void vfio_pci_do_reset(struct vfio_pci_core_device *vdev);

/*
 * vfio_exp_config_write(): the default write, then the virtual FLR bit:
 * cleared (it always reads 0) and, if DEVCAP says the function can FLR,
 * a function reset under the zap and memory_lock.  The MRRS write-through
 * (pcie_set_readrq()) is left out: READRQ is virtual, so the user cannot
 * see the device's value.
 */
static int vfio_exp_config_write(struct vfio_pci_core_device *vdev, int pos, int count,
				 int offset, uint32_t val)
{
	int ctrl = pos - offset + PCI_EXP_DEVCTL;
	uint16_t c;

	count = vfio_default_config_write(vdev, pos, count, val);
	c = (uint16_t)cfg_get(vdev->vconfig, ctrl, 2);
	if (c & PCI_EXP_DEVCTL_BCR_FLR) {
		cfg_put(vdev->vconfig, ctrl, 2, c & ~PCI_EXP_DEVCTL_BCR_FLR);
		if (hw_config_read(vdev, pos - offset + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR) {
			vfio_pci_zap_and_down_write_memory_lock(vdev);
			vfio_pci_do_reset(vdev);
			up_write(&vdev->memory_lock);
		}
	}
	return count;
}

static int vfio_find_cap_start(struct vfio_pci_core_device *vdev, int pos);
static void msi_send_unmasked_pending(struct vfio_pci_core_device *vdev);

/*
 * vfio_pm_config_write(): the default write, then, for a write at
 * PCI_PM_CTRL, the power state the value names, set by vfio itself
 * (vfio_lock_and_set_power_state(): D3hot zaps the BARs under the write
 * lock, anything else takes the lock; vfio_pci_set_power_state() ->
 * pci_set_power_state() writes the state bits of the function).  The
 * function has No_Soft_Reset, so D3hot -> D0 restores nothing.  D3hot turns
 * memory decode off (__vfio_pci_memory_enabled()), so BAR faults get
 * SIGBUS and BAR reads/writes -EIO until D0.
 */
static int vfio_pm_config_write(struct vfio_pci_core_device *vdev, int pos, int count,
				int offset, uint32_t val)
{
	int ctrl = pos - offset + PCI_PM_CTRL;
	unsigned int state;
	uint32_t hw;

	count = vfio_default_config_write(vdev, pos, count, val);
	if (offset != PCI_PM_CTRL)
		return count;
	state = val & PCI_PM_CTRL_STATE_MASK;
	if (state >= 3)
		vfio_pci_zap_and_down_write_memory_lock(vdev);
	else
		down_write(&vdev->memory_lock);
	vdev->power_state = state;
	hw = hw_config_read(vdev, ctrl, 2);
	cfg_put(vdev->config, ctrl, 2, (hw & ~PCI_PM_CTRL_STATE_MASK) | state);
	up_write(&vdev->memory_lock);
	return count;
}

/*
 * vfio_msi_config_read(): a read that covers the flags first puts
 * Multiple Message Capable in vconfig from msi_qmax, which only
 * vfio_msi_enable() sets (log2 of the vectors the user enabled; 0, one
 * vector, before any): what the user sees is what vfio allocated, not what
 * the device can do (VFIO_DEVICE_GET_IRQ_INFO says that).
 */
static int vfio_msi_config_read(struct vfio_pci_core_device *vdev, int pos, int count,
				int offset, uint32_t *val)
{
	if (offset <= PCI_MSI_FLAGS && offset + count >= PCI_MSI_FLAGS) {
		int start = vfio_find_cap_start(vdev, pos);
		uint16_t flags = (uint16_t)cfg_get(vdev->vconfig, start + PCI_MSI_FLAGS, 2);

		flags = (uint16_t)((flags & ~PCI_MSI_FLAGS_QMASK) | vdev->msi_qmax << 1);
		cfg_put(vdev->vconfig, start + PCI_MSI_FLAGS, 2, flags);
	}
	return vfio_default_config_read(vdev, pos, count, val);
}

/*
 * vfio_msi_config_write(): the default write (flags' low byte, address and
 * data to vconfig, Mask/Pending to the device), then for a write covering
 * the flags: MSI Enable survives only while MSI is on through
 * VFIO_DEVICE_SET_IRQS ("MSI is enabled via ioctl"), Multiple Message
 * Enable is capped at msi_qmax, and the result goes to vconfig and to the
 * device's flags.  A write of the Mask bits that unmasks a pending vector
 * makes the device send it (PCI Local Bus 3.0 §6.8.1.7).
 */
static int vfio_msi_config_write(struct vfio_pci_core_device *vdev, int pos, int count,
				 int offset, uint32_t val)
{
	int start = vfio_find_cap_start(vdev, pos);

	count = vfio_default_config_write(vdev, pos, count, val);
	if (offset <= PCI_MSI_FLAGS && offset + count >= PCI_MSI_FLAGS) {
		uint16_t flags = (uint16_t)cfg_get(vdev->vconfig, start + PCI_MSI_FLAGS, 2);

		pthread_mutex_lock(&vdev->igate);
		if (vdev->irq_type != VFIO_PCI_MSI_IRQ_INDEX)
			flags &= ~PCI_MSI_FLAGS_ENABLE;
		pthread_mutex_unlock(&vdev->igate);
		if ((flags & PCI_MSI_FLAGS_QSIZE) >> 4 > vdev->msi_qmax)
			flags = (uint16_t)((flags & ~PCI_MSI_FLAGS_QSIZE) | vdev->msi_qmax << 4);
		cfg_put(vdev->vconfig, start + PCI_MSI_FLAGS, 2, flags);
		hw_config_write(vdev, start + PCI_MSI_FLAGS, 2, flags);
	}
	if (offset < PCI_MSI_MASK_64 + 4 && offset + count > PCI_MSI_MASK_64)
		msi_send_unmasked_pending(vdev);
	return count;
}

/* vfio_pci_cap_remaining_dword(): bytes left in this dword and capability. */
static size_t vfio_pci_cap_remaining_dword(struct vfio_pci_core_device *vdev, int pos)
{
	uint8_t cap = vdev->config_map[pos];
	size_t i;

	for (i = 1; (pos + i) % 4 && vdev->config_map[pos + i] == cap; i++)
		;
	return i;
}

/* vfio_find_cap_start(): back to the first byte of the capability. */
static int vfio_find_cap_start(struct vfio_pci_core_device *vdev, int pos)
{
	uint8_t cap = vdev->config_map[pos];

	while (pos > 0 && vdev->config_map[pos - 1] == cap)
		pos--;
	return pos;
}

/*
 * vfio_config_do_rw(): an access wholly inside cfg_size (else -EFAULT),
 * chopped into an aligned 4/2/1-byte chunk inside one capability, then the
 * capability's read or write function.  Unassigned bytes are raw device
 * accesses; the MSI-X capability is read-only with no write function (the
 * write is dropped and counted done); PCI Express has the default read and
 * vfio_exp_config_write().
 */
static long vfio_config_do_rw(struct vfio_pci_core_device *vdev, uint8_t *buf, size_t count,
			      uint64_t pos, bool iswrite)
{
	uint32_t val = 0;
	uint8_t cap_id;
	int p = (int)pos, cap_start, offset;

	if (pos >= SIM_PCI_CONFIG_SIZE || pos + count > SIM_PCI_CONFIG_SIZE)
		return -EFAULT;
	count = count < vfio_pci_cap_remaining_dword(vdev, p) ?
			count : vfio_pci_cap_remaining_dword(vdev, p);
	if (count >= 4 && !(pos % 4))
		count = 4;
	else if (count >= 2 && !(pos % 2))
		count = 2;
	else
		count = 1;
	cap_id = vdev->config_map[p];
	cap_start = cap_id == PCI_CAP_ID_BASIC ? 0 : vfio_find_cap_start(vdev, p);
	offset = p - cap_start;

	if (iswrite) {
		memcpy(&val, buf, count);	/* copy_from_user(), little-endian host */
		switch (cap_id) {
		case PCI_CAP_ID_BASIC:
			return vfio_basic_config_write(vdev, p, (int)count, val);
		case PCI_CAP_ID_EXP:
			return vfio_exp_config_write(vdev, p, (int)count, offset, val);
		case PCI_CAP_ID_PM:
			return vfio_pm_config_write(vdev, p, (int)count, offset, val);
		case PCI_CAP_ID_MSI:
			return vfio_msi_config_write(vdev, p, (int)count, offset, val);
		case PCI_CAP_ID_INVALID:	/* vfio_raw_config_write() */
			hw_config_write(vdev, p, (int)count, val);
			return (long)count;
		default:			/* no writefn: dropped */
			return (long)count;
		}
	}
	switch (cap_id) {
	case PCI_CAP_ID_BASIC:
		vfio_basic_config_read(vdev, p, (int)count, &val);
		break;
	case PCI_CAP_ID_EXP:
	case PCI_CAP_ID_PM:
		vfio_default_config_read(vdev, p, (int)count, &val);
		break;
	case PCI_CAP_ID_MSI:
		vfio_msi_config_read(vdev, p, (int)count, offset, &val);
		break;
	case PCI_CAP_ID_INVALID:		/* vfio_raw_config_read() */
		val = hw_config_read(vdev, p, (int)count);
		break;
	default:
		vfio_direct_config_read(vdev, p, (int)count, offset, &val);
		break;
	}
	memcpy(buf, &val, count);		/* copy_to_user() */
	return (long)count;
}

/*
 * vfio_pci_config_rw(): chunk after chunk until @count is done; an error
 * returns it (chunks already written stay written, as in the kernel).
 */
static long vfio_pci_config_rw(struct vfio_pci_core_device *vdev, uint8_t *buf, size_t count,
			       uint64_t pos, bool iswrite)
{
	long done = 0, ret;

	while (count) {
		ret = vfio_config_do_rw(vdev, buf, count, pos, iswrite);
		if (ret < 0)
			return ret;
		count -= (size_t)ret;
		done += ret;
		buf += ret;
		pos += (uint64_t)ret;
	}
	return done;
}

/*
 * The PCI_COMMAND write of a config-space access (as a 2-byte pwrite at
 * PCI_COMMAND goes), for callers inside the simulation.
 */
void vfio_pci_write_command(struct vfio_pci_core_device *vdev, uint16_t cmd)
{
	uint8_t b[2] = { cmd & 0xff, cmd >> 8 };

	vfio_pci_config_rw(vdev, b, 2, PCI_COMMAND, true);
}

/*
 * The simulated function's registers: a PCI Express endpoint (type 0
 * header, cfg_size 4096, no extended capabilities), its BARs at their MMIO
 * addresses, INTA, and the capability list Power Management -> MSI -> PCI
 * Express -> MSI-X (if any), each dword aligned (PCI Local Bus 3.0 §6.7).
 * hw_wmask says which bits software can change, as the function's
 * hardware would.
 */
static void init_hw_pm(uint8_t *c, uint8_t *w, int pm, int next)
{
	c[pm + PCI_CAP_LIST_ID] = PCI_CAP_ID_PM;
	c[pm + PCI_CAP_LIST_NEXT] = (uint8_t)next;
	/* PM 1.2 (version 3), PME from D0 and D3hot */
	cfg_put(c, pm + PCI_PM_PMC, 2, 3 | PCI_PM_CAP_PME_D0 | PCI_PM_CAP_PME_D3hot);
	/* D3hot -> D0 keeps the function's state: no soft reset, nothing to restore */
	cfg_put(c, pm + PCI_PM_CTRL, 4, PCI_PM_CTRL_NO_SOFT_RESET);
	cfg_put(w, pm + PCI_PM_CTRL, 2, PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_ENABLE);
}

/* MSI, 64-bit; Multiple Message Capable = log2(vectors). */
static void init_hw_msi(struct vfio_pci_core_device *vdev, bool maskbit, int msi, int next)
{
	uint8_t *c = vdev->config, *w = vdev->hw_wmask;
	uint16_t flags = PCI_MSI_FLAGS_64BIT;

	flags |= (uint16_t)((__builtin_ctz(vdev->msi_vectors)) << 1);
	if (maskbit)
		flags |= PCI_MSI_FLAGS_MASKBIT;
	c[msi + PCI_CAP_LIST_ID] = PCI_CAP_ID_MSI;
	c[msi + PCI_CAP_LIST_NEXT] = (uint8_t)next;
	cfg_put(c, msi + PCI_MSI_FLAGS, 2, flags);
	cfg_put(w, msi + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
	cfg_put(w, msi + PCI_MSI_ADDRESS_LO, 4, ~3U);
	cfg_put(w, msi + PCI_MSI_ADDRESS_HI, 4, ~0U);
	cfg_put(w, msi + PCI_MSI_DATA_64, 2, 0xffff);
	if (maskbit)	/* one Mask bit per vector capable; Pending is read-only */
		cfg_put(w, msi + PCI_MSI_MASK_64, 4, (uint32_t)((1ULL << vdev->msi_vectors) - 1));
}

/*
 * PCI Express 2.0 endpoint: FLR, MPS 256, an 8 GT/s x4 link trained at
 * 8 GT/s x4 (LNKCAP/LNKSTA, LNKCAP2's speed vector, LNKCTL2's target),
 * completion timeout ranges A-D in DEVCAP2.
 */
static void init_hw_exp(uint8_t *c, uint8_t *w, int exp, int next)
{
	c[exp + PCI_CAP_LIST_ID] = PCI_CAP_ID_EXP;
	c[exp + PCI_CAP_LIST_NEXT] = (uint8_t)next;
	cfg_put(c, exp + PCI_EXP_FLAGS, 2, 2 | PCI_EXP_TYPE_ENDPOINT << 4);
	cfg_put(c, exp + PCI_EXP_DEVCAP, 4,
		PCI_EXP_DEVCAP_FLR | PCI_EXP_DEVCAP_RBER | 1 /* MPS 256 */);
	cfg_put(c, exp + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN |
						    PCI_EXP_DEVCTL_READRQ_512B);
	cfg_put(c, exp + PCI_EXP_LNKCAP, 4,
		PCI_EXP_LNKCAP_SLS_8_0GB | 4 << 4 /* MLW x4 */ | PCI_EXP_LNKCAP_ASPM_L1);
	cfg_put(c, exp + PCI_EXP_LNKSTA, 2, PCI_EXP_LNKSTA_CLS_8_0GB | 4 << PCI_EXP_LNKSTA_NLW_SHIFT);
	cfg_put(c, exp + PCI_EXP_DEVCAP2, 4, PCI_EXP_DEVCAP2_COMP_TMOUT_DIS | 0xf);
	cfg_put(c, exp + PCI_EXP_LNKCAP2, 4,
		PCI_EXP_LNKCAP2_SLS_2_5GB | PCI_EXP_LNKCAP2_SLS_5_0GB | PCI_EXP_LNKCAP2_SLS_8_0GB);
	cfg_put(c, exp + PCI_EXP_LNKCTL2, 2, PCI_EXP_LNKCTL2_TLS_8_0GT);
	cfg_put(w, exp + PCI_EXP_DEVCTL, 2, 0xffff & ~PCI_EXP_DEVCTL_BCR_FLR);
	cfg_put(w, exp + PCI_EXP_LNKCTL, 2, PCI_EXP_LNKCTL_ASPMC | PCI_EXP_LNKCTL_RCB);
	cfg_put(w, exp + PCI_EXP_DEVCTL2, 2, 0xffff);
	cfg_put(w, exp + PCI_EXP_LNKCTL2, 2, PCI_EXP_LNKCTL2_TLS);
}

/* MSI-X: table size, table at msix_offset and PBA after it, both in msix_bar. */
static void init_hw_msix(struct vfio_pci_core_device *vdev, int msix)
{
	uint8_t *c = vdev->config, *w = vdev->hw_wmask;

	c[msix + PCI_CAP_LIST_ID] = PCI_CAP_ID_MSIX;
	c[msix + PCI_CAP_LIST_NEXT] = 0;
	cfg_put(c, msix + PCI_MSIX_FLAGS, 2, vdev->msix_vectors - 1);
	cfg_put(c, msix + PCI_MSIX_TABLE, 4, (uint32_t)vdev->msix_offset | (uint32_t)vdev->msix_bar);
	cfg_put(c, msix + PCI_MSIX_PBA, 4,
		(uint32_t)(vdev->msix_offset + vdev->msix_size) | (uint32_t)vdev->msix_bar);
	cfg_put(w, msix + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
}

static void vfio_pci_init_hw_config(struct vfio_pci_core_device *vdev,
				    const struct vfio_pci_device_ids *ids)
{
	uint8_t *c = vdev->config, *w = vdev->hw_wmask;

	cfg_put(c, PCI_VENDOR_ID, 2, ids->vendor_id);
	cfg_put(c, PCI_DEVICE_ID, 2, ids->device_id);
	cfg_put(c, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cfg_put(c, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	cfg_put(c, PCI_CLASS_REVISION, 4, ids->class_code << 8 | 0x01);
	for (int i = 0; i < PCI_STD_NUM_BARS; i++) {
		uint64_t addr = (uint64_t)vdev->bar[i].pfn << PAGE_SHIFT;

		if (!vdev->bar[i].size)
			continue;
		cfg_put(c, PCI_BASE_ADDRESS_0 + 4 * i, 4,
			(uint32_t)addr | vfio_generate_bar_flags(vdev, i));
		if (bar_is_64(vdev, i))
			cfg_put(c, PCI_BASE_ADDRESS_0 + 4 * i + 4, 4, (uint32_t)(addr >> 32));
	}
	c[PCI_CAPABILITY_LIST] = SIM_PCI_PM_CAP;
	c[PCI_INTERRUPT_LINE] = 0xff;
	c[PCI_INTERRUPT_PIN] = 1;
	/* What software can change in the device: command, cache line, latency. */
	cfg_put(w, PCI_COMMAND, 2, 0x07ff);
	w[PCI_CACHE_LINE_SIZE] = 0xff;
	w[PCI_LATENCY_TIMER] = 0xff;

	init_hw_pm(c, w, SIM_PCI_PM_CAP, SIM_PCI_MSI_CAP);
	init_hw_msi(vdev, ids->msi_maskbit, SIM_PCI_MSI_CAP, SIM_PCI_EXP_CAP);
	init_hw_exp(c, w, SIM_PCI_EXP_CAP, vdev->msix_bar >= 0 ? SIM_PCI_MSIX_CAP : 0);
	if (vdev->msix_bar >= 0)
		init_hw_msix(vdev, SIM_PCI_MSIX_CAP);
}

/* init_pci_cap_basic_perm() */
static void init_pci_cap_basic_perm(struct vfio_pci_core_device *vdev)
{
	p_set(vdev, PCI_VENDOR_ID, 2, 0xffff, 0);
	p_set(vdev, PCI_DEVICE_ID, 2, 0xffff, 0);
	p_set(vdev, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE, 0xffff);
	p_set(vdev, PCI_STATUS, 2, PCI_STATUS_CAP_LIST, 0);
	p_set(vdev, PCI_CACHE_LINE_SIZE, 1, 0, 0xff);
	p_set(vdev, PCI_LATENCY_TIMER, 1, 0, 0xff);
	p_set(vdev, PCI_BIST, 1, 0, 0xff);
	for (int pos = PCI_BASE_ADDRESS_0; pos <= PCI_BASE_ADDRESS_5; pos += 4)
		p_set(vdev, pos, 4, ~0U, ~0U);
	p_set(vdev, PCI_ROM_ADDRESS, 4, ~0U, ~0U);
	p_set(vdev, PCI_CAPABILITY_LIST, 1, 0xff, 0);
	p_set(vdev, PCI_INTERRUPT_LINE, 1, 0xff, 0xff);
	p_set(vdev, PCI_INTERRUPT_PIN, 1, 0xff, 0);
}

/*
 * init_pci_cap_pm_perm(): next virtual; PME_Support virtual (and cleared
 * in vconfig by vfio_update_pm_vconfig_bytes(): the user cannot take PME);
 * PM_CTRL writable except the power state (vfio_pm_config_write() sets it
 * itself) and PME_En/PME_Status, which are virtual.
 */
static void init_pci_cap_pm_perm(struct vfio_pci_core_device *vdev, int pm)
{
	p_set(vdev, pm + PCI_CAP_LIST_NEXT, 1, 0xff, 0);
	p_set(vdev, pm + PCI_PM_PMC, 2, PCI_PM_CAP_PME_MASK, 0);
	p_set(vdev, pm + PCI_PM_CTRL, 4, PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS,
	      ~(uint32_t)(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS |
			  PCI_PM_CTRL_STATE_MASK));
}

/* vfio_update_pm_vconfig_bytes(): PME_Support, PME_Status, PME_En read 0. */
static void vfio_update_pm_vconfig_bytes(struct vfio_pci_core_device *vdev, int pm)
{
	uint16_t pmc = (uint16_t)cfg_get(vdev->vconfig, pm + PCI_PM_PMC, 2);
	uint16_t ctrl = (uint16_t)cfg_get(vdev->vconfig, pm + PCI_PM_CTRL, 2);

	cfg_put(vdev->vconfig, pm + PCI_PM_PMC, 2, pmc & ~PCI_PM_CAP_PME_MASK);
	cfg_put(vdev->vconfig, pm + PCI_PM_CTRL, 2,
		ctrl & ~(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS));
}

/*
 * vfio_msi_cap_len() + init_pci_cap_msi_perm(): 10 bytes, +4 for 64-bit,
 * +10 for per-vector masking.  The low byte of the flags, the address and
 * the data are virtual and writable (the user's MSI programming is vfio's
 * to translate, never the device's); Mask and Pending are writable and
 * reach the device.  The flags' upper byte (MASKBIT) reads from it.
 */
static int init_pci_cap_msi_perm(struct vfio_pci_core_device *vdev, int msi)
{
	uint16_t flags = (uint16_t)hw_config_read(vdev, msi + PCI_MSI_FLAGS, 2);
	int len = 10;

	if (flags & PCI_MSI_FLAGS_64BIT)
		len += 4;
	if (flags & PCI_MSI_FLAGS_MASKBIT)
		len += 10;
	p_set(vdev, msi + PCI_CAP_LIST_NEXT, 1, 0xff, 0);
	p_set(vdev, msi + PCI_MSI_FLAGS, 1, 0xff, 0xff);
	p_set(vdev, msi + PCI_MSI_ADDRESS_LO, 4, ~0U, ~0U);
	if (flags & PCI_MSI_FLAGS_64BIT) {
		p_set(vdev, msi + PCI_MSI_ADDRESS_HI, 4, ~0U, ~0U);
		p_set(vdev, msi + PCI_MSI_DATA_64, 2, 0xffff, 0xffff);
		if (flags & PCI_MSI_FLAGS_MASKBIT) {
			p_set(vdev, msi + PCI_MSI_MASK_64, 4, 0, ~0U);
			p_set(vdev, msi + PCI_MSI_PENDING_64, 4, 0, ~0U);
		}
	} else {
		p_set(vdev, msi + PCI_MSI_DATA_32, 2, 0xffff, 0xffff);
		if (flags & PCI_MSI_FLAGS_MASKBIT) {
			p_set(vdev, msi + PCI_MSI_MASK_32, 4, 0, ~0U);
			p_set(vdev, msi + PCI_MSI_PENDING_32, 4, 0, ~0U);
		}
	}
	return len;
}

/*
 * init_pci_cap_exp_perm(): next virtual; DEVCTL writable but Phantom
 * Functions, with FLR, MPS and MRRS virtual; DEVCTL2 writable but ARI.
 * Everything else (DEVCAP, LNKCAP, LNKSTA, LNKCTL, the "2" registers but
 * DEVCTL2) reads from the device and takes no write.
 */
static void init_pci_cap_exp_perm(struct vfio_pci_core_device *vdev, int exp)
{
	p_set(vdev, exp + PCI_CAP_LIST_NEXT, 1, 0xff, 0);
	p_set(vdev, exp + PCI_EXP_DEVCTL, 2,
	      PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_READRQ,
	      0xffff & ~PCI_EXP_DEVCTL_PHANTOM);
	p_set(vdev, exp + PCI_EXP_DEVCTL2, 2, 0, 0xffff & ~PCI_EXP_DEVCTL2_ARI);
}

/*
 * vfio_config_init(): the map, vconfig from the device, the virtual BARs
 * dirty, then vfio_cap_init(): walk the device's list from
 * PCI_CAPABILITY_LIST, each capability's bytes mapped to its ID over the
 * length vfio_cap_len() gives (PCI_PM_SIZEOF; vfio_msi_cap_len(); the v2
 * endpoint length for PCI Express; PCI_CAP_MSIX_SIZEOF), copied into
 * vconfig (vfio_fill_vconfig_bytes()), PM's PME bits cleared.  Nothing is
 * hidden, so the user's chain is the device's.  No extended capabilities:
 * vfio_ecap_init() zeroes the header at 0x100 and the rest is unassigned.
 */
static void vfio_config_init(struct vfio_pci_core_device *vdev)
{
	int pos, loops = (PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / PCI_CAP_SIZEOF;

	memset(vdev->config_map, PCI_CAP_ID_BASIC, PCI_STD_HEADER_SIZEOF);
	memset(vdev->config_map + PCI_STD_HEADER_SIZEOF, PCI_CAP_ID_INVALID,
	       SIM_PCI_CONFIG_SIZE - PCI_STD_HEADER_SIZEOF);
	memcpy(vdev->vconfig, vdev->config, PCI_STD_HEADER_SIZEOF);
	init_pci_cap_basic_perm(vdev);
	vdev->bardirty = true;

	for (pos = vdev->config[PCI_CAPABILITY_LIST]; pos && loops--;
	     pos = vdev->config[pos + PCI_CAP_LIST_NEXT]) {
		uint8_t cap = vdev->config[pos];
		int len = 0;

		switch (cap) {
		case PCI_CAP_ID_PM:
			init_pci_cap_pm_perm(vdev, pos);
			len = PCI_PM_SIZEOF;
			break;
		case PCI_CAP_ID_MSI:
			len = init_pci_cap_msi_perm(vdev, pos);
			break;
		case PCI_CAP_ID_EXP:
			init_pci_cap_exp_perm(vdev, pos);
			len = PCI_CAP_EXP_ENDPOINT_SIZEOF_V2;
			break;
		case PCI_CAP_ID_MSIX:	/* cap_perms[] default: direct read, no write */
			len = PCI_CAP_MSIX_SIZEOF;
			break;
		}
		if (WARN_ON_ONCE(!len))
			break;
		memset(vdev->config_map + pos, cap, (size_t)len);
		memcpy(vdev->vconfig + pos, vdev->config + pos, (size_t)len);
		if (cap == PCI_CAP_ID_PM)
			vfio_update_pm_vconfig_bytes(vdev, pos);
	}
	cfg_put(vdev->vconfig, PCI_CFG_SPACE_SIZE, 4, 0);
}

/* ------------------------------------------------------------------------ */
/* Region read/write (vfio_pci_core.c vfio_pci_rw, vfio_pci_rdwr.c)          */
/* ------------------------------------------------------------------------ */

/*
 * vfio_pci_core_ioread/iowrite##size() with test_mem: under memory_lock
 * for read, decode off is -EIO, else one access of @width bytes.
 */
static int vfio_pci_iordwr(struct vfio_pci_core_device *vdev, struct vfio_pci_bar *bar,
			   uint8_t *buf, uint64_t off, size_t width, bool iswrite)
{
	down_read(&vdev->memory_lock);
	if (!__vfio_pci_memory_enabled(vdev)) {
		up_read(&vdev->memory_lock);
		return -EIO;
	}
	if (iswrite)
		memcpy(bar->bytes + off, buf, width);
	else
		memcpy(buf, bar->bytes + off, width);
	up_read(&vdev->memory_lock);
	return 0;
}

/*
 * vfio_pci_core_do_io_rw(): the widest aligned access that fits (8, 4, 2,
 * 1), outside the excluded range [x_start, x_end) (the MSI-X table): there
 * reads fill with 0xff and writes are dropped.  An error returns it, with
 * what was done before it left done.
 */
static long vfio_pci_core_do_io_rw(struct vfio_pci_core_device *vdev, struct vfio_pci_bar *bar,
				   uint8_t *buf, uint64_t off, size_t count, uint64_t x_start,
				   uint64_t x_end, bool iswrite)
{
	long done = 0;

	while (count) {
		size_t fillable, filled;
		int ret;

		if (off < x_start)
			fillable = count < x_start - off ? count : (size_t)(x_start - off);
		else if (off >= x_end)
			fillable = count;
		else
			fillable = 0;

		if (fillable) {
			filled = fillable >= 8 && !(off % 8) ? 8 :
				 fillable >= 4 && !(off % 4) ? 4 :
				 fillable >= 2 && !(off % 2) ? 2 : 1;
			ret = vfio_pci_iordwr(vdev, bar, buf, off, filled, iswrite);
			if (ret)
				return ret;
		} else {
			filled = count < x_end - off ? count : (size_t)(x_end - off);
			if (!iswrite)
				memset(buf, 0xff, filled);
		}
		count -= filled;
		done += (long)filled;
		off += filled;
		buf += filled;
	}
	return done;
}

/*
 * vfio_pci_bar_rw(): an absent BAR (and the ROM: none here, no shadow ROM)
 * is -EINVAL, so is a position at or past the BAR's end; the count is cut
 * at the end.  Every BAR is a memory BAR, so every access tests decode
 * (-EIO while PCI_COMMAND_MEMORY is off).
 */
static long vfio_pci_bar_rw(struct vfio_pci_core_device *vdev, uint8_t *buf, size_t count,
			    uint64_t off, bool iswrite)
{
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(off);
	uint64_t pos = off & VFIO_PCI_OFFSET_MASK, x_start = 0, x_end = 0;
	struct vfio_pci_bar *bar;

	if (index >= PCI_STD_NUM_BARS || !vdev->bar[index].size)
		return -EINVAL;
	bar = &vdev->bar[index];
	if (pos >= bar->size)
		return -EINVAL;
	if (count > bar->size - pos)
		count = bar->size - pos;
	if ((int)index == vdev->msix_bar) {
		x_start = vdev->msix_offset;
		x_end = vdev->msix_offset + vdev->msix_size;
	}
	return vfio_pci_core_do_io_rw(vdev, bar, buf, pos, count, x_start, x_end, iswrite);
}

/*
 * vfio_pci_rw() (and vfio_pci_core_read/write(): count 0 is 0 before
 * anything): an index past the regions is -EINVAL, the ROM cannot be
 * written, VGA is absent (vfio_pci_vga_rw(): -EINVAL without has_vga).
 * Runtime PM is not modelled, so pm_runtime_resume_and_get() never fails.
 */
long vfio_pci_rw(struct vfio_pci_core_device *vdev, void *buf, size_t count, uint64_t off,
		 bool iswrite)
{
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(off);

	if (!count)
		return 0;
	if (index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		return vfio_pci_config_rw(vdev, buf, count, off & VFIO_PCI_OFFSET_MASK, iswrite);
	case VFIO_PCI_ROM_REGION_INDEX:
		return iswrite ? -EINVAL : vfio_pci_bar_rw(vdev, buf, count, off, false);
	case VFIO_PCI_BAR0_REGION_INDEX ... VFIO_PCI_BAR5_REGION_INDEX:
		return vfio_pci_bar_rw(vdev, buf, count, off, iswrite);
	default:
		return -EINVAL;
	}
}

/* ------------------------------------------------------------------------ */
/* Zap and reset                                                            */
/* ------------------------------------------------------------------------ */

/*
 * vfio_pci_zap_bars(): every user mapping of BAR0..BAR5, in every process,
 * through the device inode's address_space.  The ROM/config/VGA offsets are
 * not mappable, so the range stops at the ROM region's offset.
 */
void vfio_pci_zap_bars(struct vfio_pci_core_device *vdev)
{
	uint64_t start = VFIO_PCI_INDEX_TO_OFFSET(VFIO_PCI_BAR0_REGION_INDEX);
	uint64_t end = VFIO_PCI_INDEX_TO_OFFSET(VFIO_PCI_ROM_REGION_INDEX);

	unmap_mapping_range(&vdev->mapping, start, end - start, true);
	atomic_fetch_add_explicit(&vdev->nr_zaps, 1, memory_order_relaxed);
}

/*
 * VFIO_DEVICE_RESET (vfio_pci_ioctl_reset): zap and take memory_lock for
 * write, pci_try_reset_function(), unlock.
 *
 * Decode after the reset: the kernel's function reset saves config space
 * before and restores it after (pci_dev_save_and_disable/pci_dev_restore),
 * and the ioctl does not touch vconfig, so the virtual PCI_COMMAND the user
 * sees is what it was before the reset.  We therefore leave vconfig as it
 * is: with decode on, the next access refaults at PUD/PMD/PTE order; with
 * decode off it keeps getting SIGBUS.  The reset itself cannot fail here
 * (no reset_works == false devices, no dev_set locking to contend), so the
 * result is 0.
 */
int vfio_pci_core_reset(struct vfio_pci_core_device *vdev)
{
	vfio_pci_zap_and_down_write_memory_lock(vdev);
	vfio_pci_do_reset(vdev);
	up_write(&vdev->memory_lock);
	return 0;
}

/*
 * pci_try_reset_function(): pci_dev_save_and_disable(), the reset,
 * pci_dev_restore(); the saved state is the device's config space, so its
 * registers read afterwards what they read before.  Counted, so that tests
 * can see a reset happened (FLR through the PCIe capability, RESET, hot
 * reset).
 */
static void vfio_pci_do_reset(struct vfio_pci_core_device *vdev)
{
	atomic_fetch_add_explicit(&vdev->nr_resets, 1, memory_order_relaxed);
	/*
	 * pci_dev_save_and_disable() wakes the function to D0 first ("PM
	 * registers default to D0 after reset"), and the restore does not
	 * put a low-power state back.
	 */
	vdev->power_state = 0;
	cfg_put(vdev->config, SIM_PCI_PM_CAP + PCI_PM_CTRL, 2,
		hw_config_read(vdev, SIM_PCI_PM_CAP + PCI_PM_CTRL, 2) & ~PCI_PM_CTRL_STATE_MASK);
	/*
	 * The reset de-asserts INTx.  vfio's interrupt set-up survives it:
	 * neither vfio_pci_ioctl_reset() nor vfio_pci_dev_set_hot_reset()
	 * touches irq_type or the triggers, and pci_restore_state() puts the
	 * MSI-X state back (pci_restore_msi_state()).
	 */
	pthread_mutex_lock(&vdev->igate);
	intx_set_pending(vdev, false);
	pthread_mutex_unlock(&vdev->igate);
}

/*
 * vfio_pci_dev_set_resettable()/vfio_pci_for_each_slot_or_bus(): every
 * function on the bus is a vfio-pci device here, so the dev_set is the bus.
 */
int vfio_pci_dev_set(struct vfio_pci_core_device *vdev, struct vfio_pci_core_device **out,
		     int max)
{
	struct vfio_pci_core_device *d;
	int n = 0;

	if (!vdev->bus_reset)
		return -ENODEV;
	pthread_mutex_lock(&machine->devices_lock);
	for (d = machine->devices; d; d = d->next) {
		int i;

		if (!d->bus_reset || d->segment != vdev->segment || d->bus != vdev->bus)
			continue;
		/* insertion by devfn, as pci_walk_bus() visits bus->devices */
		for (i = n < max ? n : max; i > 0 && out[i - 1]->devfn > d->devfn; i--)
			if (i < max)
				out[i] = out[i - 1];
		if (i < max)
			out[i] = d;
		n++;
	}
	pthread_mutex_unlock(&machine->devices_lock);
	return n;
}

/*
 * vfio_pci_dev_set_hot_reset() after the ownership test: memory_lock of
 * each device by trylock, in order (-EBUSY and unwind on contention, as the
 * kernel does to avoid lock-order deadlocks), BARs zapped, pci_reset_bus(),
 * the locks released in reverse.  pci_reset_bus() saves and restores every
 * function's config space (pci_bus_save_and_disable_locked()/
 * pci_bus_restore_locked()), so vconfig and registers stay as they were.
 */
int vfio_pci_dev_set_hot_reset(struct vfio_pci_core_device **set, int n)
{
	int i, ret = 0;

	for (i = 0; i < n; i++) {
		if (!down_write_trylock(&set[i]->memory_lock)) {
			ret = -EBUSY;
			break;
		}
		vfio_pci_zap_bars(set[i]);
	}
	if (!ret)
		for (int j = 0; j < n; j++)
			vfio_pci_do_reset(set[j]);
	while (i-- > 0)
		up_write(&set[i]->memory_lock);
	return ret;
}

/*
 * The function's place from its name, "DDDD:BB:DD.F" as pci_name() prints
 * it.  Anything else, or bus 0, has no bus reset (see vfio_pci.h).
 */
static void vfio_pci_parse_address(struct vfio_pci_core_device *vdev)
{
	unsigned int seg, bus, dev, fn;
	char end;

	vdev->bus_reset = false;
	if (sscanf(vdev->name, "%4x:%2x:%2x.%1x%c", &seg, &bus, &dev, &fn, &end) != 4 ||
	    dev > 31 || fn > 7 || strlen(vdev->name) != 12)
		return;
	vdev->segment = (uint16_t)seg;
	vdev->bus = (uint8_t)bus;
	vdev->devfn = (uint8_t)(dev << 3 | fn);
	vdev->bus_reset = bus != 0;
}

/* ------------------------------------------------------------------------ */
/* Faults                                                                   */
/* ------------------------------------------------------------------------ */

/* The low bits of vm_pgoff are the page offset within the region. */
#define VFIO_PCI_PGOFF_MASK ((1UL << (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT)) - 1)

static unsigned int vma_to_index(const struct vm_area_struct *vma)
{
	return vma->vm_pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
}

/* vma_to_pfn(): pci_resource_start(bar) >> PAGE_SHIFT, plus the region offset. */
static unsigned long vma_to_pfn(struct vm_area_struct *vma)
{
	struct vfio_pci_core_device *vdev = vma->vm_private_data;

	return vdev->bar[vma_to_index(vma)].pfn + (vma->vm_pgoff & VFIO_PCI_PGOFF_MASK);
}

/*
 * is_aligned_for_order() (include/linux/vfio_pci_core.h): order 0 always
 * fits; a huge order needs the aligned-down range inside the VMA and a pfn
 * aligned to the order, else core mm falls back to the next order.
 */
static bool is_aligned_for_order(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
				 unsigned int order)
{
	return !order || (addr >= vma->vm_start && addr + (PAGE_SIZE << order) <= vma->vm_end &&
			  !(pfn & ((1UL << order) - 1)));
}

/*
 * The arch switches stand for CONFIG_ARCH_SUPPORTS_{PMD,PUD}_PFNMAP, whose
 * absence compiles the case out (so the order falls back); the machine's
 * max_bar_fault_order does the same for the "#if 0" debugging patches posted
 * on the list to disable 1G or 2M BAR mappings while chasing a guest that
 * failed with huge pfnmaps of a large GPU BAR 0.
 */
static bool bar_fault_order_enabled(unsigned int order)
{
	const struct machine_config *cfg = &machine->cfg;

	if (order > cfg->max_bar_fault_order)
		return false;
	if (order == PMD_ORDER)
		return cfg->arch_supports_pmd_pfnmap;
	if (order == PUD_ORDER)
		return cfg->arch_supports_pud_pfnmap;
	return order == 0;
}

/*
 * vfio_pci_vmf_insert_pfn(): the insert proper, memory_lock held for read.
 * Decode off or runtime PM engaged is SIGBUS (before the order is looked
 * at, as in the kernel).  Every insert passes write=false: writability comes
 * from vm_page_prot, and a write fault does not mark the entry dirty.
 */
static vm_fault_t vfio_pci_vmf_insert_pfn(struct vfio_pci_core_device *vdev, struct vm_fault *vmf,
					  unsigned long pfn, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;

	/* lockdep_assert_held_read(&vdev->memory_lock) */
	WARN_ON_ONCE(!rwsem_held_by_current(&vdev->memory_lock) ||
		     rwsem_write_held_by_current(&vdev->memory_lock));

	if (vdev->pm_runtime_engaged || !__vfio_pci_memory_enabled(vdev))
		return VM_FAULT_SIGBUS;

	/* The switch's default: an order this build cannot map falls back. */
	if (!bar_fault_order_enabled(order))
		return VM_FAULT_FALLBACK;

	/* The race seam: a zap or a split can only come after we unlock. */
	sched_point(SP_FAULT_BEFORE_INSERT, vma->vm_mm, vmf->address & ~((PAGE_SIZE << order) - 1));

	switch (order) {
	case 0:
		return vmf_insert_pfn(vma, vmf->address, pfn);
	case PMD_ORDER:
		return vmf_insert_pfn_pmd(vmf, pfn, false);
	case PUD_ORDER:
		return vmf_insert_pfn_pud(vmf, pfn, false);
	default:
		return VM_FAULT_FALLBACK;
	}
}

/*
 * vfio_pci_mmap_huge_fault(): align the address down to the order, find the
 * pfn linearly from the VMA start, and insert only if both line up.  The
 * kernel's dev_dbg_ratelimited() trace of every fault is left out.
 */
vm_fault_t vfio_pci_mmap_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vfio_pci_core_device *vdev = vma->vm_private_data;
	unsigned long addr = vmf->address & ~((PAGE_SIZE << order) - 1);
	unsigned long pgoff = (addr - vma->vm_start) >> PAGE_SHIFT;
	unsigned long pfn = vma_to_pfn(vma) + pgoff;
	vm_fault_t ret = VM_FAULT_FALLBACK;

	if (is_aligned_for_order(vma, addr, pfn, order)) {
		down_read(&vdev->memory_lock);
		ret = vfio_pci_vmf_insert_pfn(vdev, vmf, pfn, order);
		up_read(&vdev->memory_lock);
	}
	return ret;
}

vm_fault_t vfio_pci_mmap_page_fault(struct vm_fault *vmf)
{
	return vfio_pci_mmap_huge_fault(vmf, 0);
}

/*
 * vfio_pci_mmap_ops.  The kernel sets .huge_fault only with
 * CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP; here it is always set and the arch
 * switches are looked at per order (bar_fault_order_enabled()), which gives
 * the same fallbacks.
 */
static const struct vm_operations_struct vfio_pci_mmap_ops = {
	.fault = vfio_pci_mmap_page_fault,
	.huge_fault = vfio_pci_mmap_huge_fault,
	.name = "vfio-pci",
};

/* ------------------------------------------------------------------------ */
/* mmap                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * vfio_pci_core_mmap(): the -EINVAL checks in the kernel's order, then the
 * VMA set-up.  Nothing is inserted here; every entry comes from a fault.
 * Bad input leaves the VMA untouched.
 *
 * Left out: vfio_pci_core_setup_barmap() (request_mem_region + pci_iomap;
 * the BAR's host bytes exist from device creation, so it cannot fail),
 * pgprot_decrypted() (no memory encryption) and VM_ALLOW_ANY_UNCACHED
 * (VM_NONE on x86).
 */
int vfio_pci_core_mmap(struct vfio_pci_core_device *vdev, struct vm_area_struct *vma)
{
	unsigned int index = vma_to_index(vma);
	uint64_t phys_len, req_len, req_start;
	struct vfio_pci_bar *bar;

	/* No device-specific regions: NUM_REGIONS + vdev->num_regions(0). */
	if (index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	if (vma->vm_end < vma->vm_start)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* ROM, config and VGA are not mappable. */
	if (index >= VFIO_PCI_ROM_REGION_INDEX)
		return -EINVAL;
	bar = &vdev->bar[index];
	/* bar_mmap_supported[] is false for an absent BAR. */
	if (!bar->mmap_supported)
		return -EINVAL;

	phys_len = (bar->size + PAGE_SIZE - 1) & PAGE_MASK; /* PAGE_ALIGN */
	req_len = vma->vm_end - vma->vm_start;
	req_start = (uint64_t)(vma->vm_pgoff & VFIO_PCI_PGOFF_MASK) << PAGE_SHIFT;
	if (req_start + req_len > phys_len)
		return -EINVAL;

	vma->vm_private_data = vdev;
	/* pgprot_noncached() on x86: cache mode UC- is _PAGE_PCD. */
	vma->vm_page_prot = __pgprot(pgprot_val(vma->vm_page_prot) | _PAGE_PCD);
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_ops = &vfio_pci_mmap_ops;

	/*
	 * Linking into vdev->mapping.i_mmap is core mm's job, as in the kernel
	 * (vma_link_file() after f_op->mmap and the VMA insert succeed, so a
	 * failed mmap never leaves a dangling VMA on the list): sim/mmap.c
	 * does it, and unlinks at munmap.
	 */
	return 0;
}

/* f_op->mmap of the device fd: vfio_device_fops_mmap → ops->mmap. */
static int vfio_pci_fops_mmap(struct file *file, struct vm_area_struct *vma)
{
	return vfio_pci_core_mmap(file->private_data, vma);
}

static const struct file_operations vfio_pci_fops = {
	.mmap = vfio_pci_fops_mmap,
};

/*
 * vfio_pci_core_get_mapping_order() of Peter Xu's unmerged "vfio-pci:
 * Best-effort huge pfnmaps with !MAP_FIXED mappings" (v2, Dec 2025): the
 * largest pfnmap order a mapping of @len bytes at @pgoff can use, from the
 * part of the BAR left after the offset.  Only BARs 0-5; an offset past the
 * BAR gives 0 (the mmap will fail anyway).  It assumes, as the patch does,
 * that the BAR's physical address is aligned like its offset in the device
 * fd (a BAR is naturally aligned, and its region offset is index << 40).
 */
static int vfio_pci_core_get_mapping_order(struct vfio_pci_core_device *vdev,
					   unsigned long pgoff, unsigned long len)
{
	unsigned int index = pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
	uint64_t req_start, phys_len;

	if (index >= VFIO_PCI_ROM_REGION_INDEX)
		return 0;
	req_start = ((uint64_t)pgoff << PAGE_SHIFT) & VFIO_PCI_OFFSET_MASK;
	phys_len = (vdev->bar[index].size + PAGE_SIZE - 1) & PAGE_MASK;
	if (req_start >= phys_len)
		return 0;
	phys_len -= req_start;
	if (len < phys_len)
		phys_len = len;
	if (machine->cfg.arch_supports_pud_pfnmap && phys_len >= PUD_SIZE)
		return PUD_ORDER;
	if (machine->cfg.arch_supports_pmd_pfnmap && phys_len >= PMD_SIZE)
		return PMD_ORDER;
	return 0;
}

int vfio_pci_file_mapping_order(struct file *file, unsigned long pgoff, unsigned long len)
{
	if (!file || file->f_op != &vfio_pci_fops)
		return -1;
	return vfio_pci_core_get_mapping_order(file->private_data, pgoff, len);
}

/* ------------------------------------------------------------------------ */
/* Interrupts (drivers/vfio/pci/vfio_pci_intrs.c)                           */
/* ------------------------------------------------------------------------ */

/*
 * vfio_pci_get_irq_count(): INTx 1 if the virtual interrupt pin is set,
 * MSI 1 << Multiple Message Capable and MSI-X the table size, both read
 * from the device's capability (pci_read_config_word(), not the user's
 * view), ERR 1 for a PCIe function, REQ 1.
 */
int vfio_pci_get_irq_count(struct vfio_pci_core_device *vdev, unsigned int index)
{
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return vdev->vconfig[PCI_INTERRUPT_PIN] ? 1 : 0;
	case VFIO_PCI_MSI_IRQ_INDEX:
		return 1 << ((hw_config_read(vdev, SIM_PCI_MSI_CAP + PCI_MSI_FLAGS, 2) &
			      PCI_MSI_FLAGS_QMASK) >> 1);
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (vdev->msix_bar < 0)
			return 0;
		return (hw_config_read(vdev, SIM_PCI_MSIX_CAP + PCI_MSIX_FLAGS, 2) &
			PCI_MSIX_FLAGS_QSIZE) + 1;
	case VFIO_PCI_ERR_IRQ_INDEX:
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	default:
		return 0;
	}
}

/*
 * eventfd_ctx_fdget(): the program's fd must be open (-EBADF, from fdget())
 * and an eventfd (-EINVAL, from eventfd_ctx_fileget()).  The reference the
 * kernel takes on the eventfd is a dup() here, checked after the dup so
 * that the fd cannot change between the check and the reference.  The
 * reference is the library's own: it is made, written and closed by raw
 * system calls, never through libc symbols an LD_PRELOAD shim (preload/)
 * interposes on while it may be inside one of its own calls.
 */
static int eventfd_ctx_fdget(int fd)
{
	char path[64], link[64];
	ssize_t n;
	int ref;

	if (fd < 0)
		return -EBADF;
	ref = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
	if (ref < 0)
		return errno == EBADF ? -EBADF : -ENOMEM;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ref);
	n = syscall(SYS_readlinkat, AT_FDCWD, path, link, sizeof(link) - 1);
	if (n < 0 || (link[n] = '\0', strcmp(link, "anon_inode:[eventfd]"))) {
		syscall(SYS_close, ref);
		return -EINVAL;
	}
	return ref;
}

static void eventfd_ctx_put(int *trigger)
{
	if (*trigger >= 0)
		syscall(SYS_close, *trigger);
	*trigger = -1;
}

/*
 * eventfd_signal(): add 1 to the counter.  The kernel's never blocks (it
 * saturates); a write(2) to a full counter would, so a counter that cannot
 * take one more is left as it is.
 */
static bool eventfd_signal(int trigger)
{
	struct pollfd pfd = { .fd = trigger, .events = POLLOUT };
	uint64_t one = 1;

	struct timespec zero = { 0 };

	if (trigger < 0 || syscall(SYS_ppoll, &pfd, 1, &zero, NULL, 0) != 1 ||
	    !(pfd.revents & POLLOUT))
		return false;
	return syscall(SYS_write, trigger, &one, sizeof(one)) == sizeof(one);
}

static bool is_intx(const struct vfio_pci_core_device *vdev)
{
	return vdev->irq_type == VFIO_PCI_INTX_IRQ_INDEX;
}

static bool is_irq_none(const struct vfio_pci_core_device *vdev)
{
	return vdev->irq_type == VFIO_PCI_NUM_IRQS;
}

/*
 * PCI_STATUS_INTERRUPT of the function's registers follows the pending
 * INTx (the status bit is not virtualized, so the user sees it).
 */
static void intx_set_pending(struct vfio_pci_core_device *vdev, bool pending)
{
	uint16_t st = (uint16_t)hw_config_read(vdev, PCI_STATUS, 2);

	vdev->intx_pending = pending;
	st = pending ? st | PCI_STATUS_INTERRUPT : st & ~PCI_STATUS_INTERRUPT;
	cfg_put(vdev->config, PCI_STATUS, 2, st);
}

/* vfio_send_intx_eventfd(): only while INTx is on and not virtually disabled. */
static bool vfio_send_intx_eventfd(struct vfio_pci_core_device *vdev)
{
	return is_intx(vdev) && !vdev->virq_disabled && eventfd_signal(vdev->intx.trigger);
}

/* __vfio_pci_intx_mask(): mask unconditionally (no effect without INTx). */
static void __vfio_pci_intx_mask(struct vfio_pci_core_device *vdev)
{
	if (is_intx(vdev))
		vdev->intx.masked = true;
}

/*
 * vfio_pci_intx_unmask_handler() + __vfio_pci_intx_unmask(): a masked line
 * that is not virtually disabled unmasks, unless the device asserted INTx
 * meanwhile (pci_check_and_unmask_intx() fails): then it stays masked and
 * the pending interrupt goes to the user now.
 */
static void __vfio_pci_intx_unmask(struct vfio_pci_core_device *vdev)
{
	if (!is_intx(vdev) || !vdev->intx.masked || vdev->virq_disabled)
		return;
	if (vdev->intx_pending) {
		intx_set_pending(vdev, false);
		vfio_send_intx_eventfd(vdev);
		return;
	}
	vdev->intx.masked = false;
}

/*
 * The "Emulate INTx disable" tail of vfio_basic_config_write(): a change of
 * PCI_COMMAND_INTX_DISABLE in vconfig masks (vfio_pci_intx_mask()) or
 * unmasks (vfio_pci_intx_unmask()) INTx.
 */
static void vfio_pci_intx_virq(struct vfio_pci_core_device *vdev)
{
	bool dis = vconfig_read_command(vdev) & PCI_COMMAND_INTX_DISABLE;

	pthread_mutex_lock(&vdev->igate);
	if (dis && !vdev->virq_disabled) {
		vdev->virq_disabled = true;
		__vfio_pci_intx_mask(vdev);
	} else if (!dis && vdev->virq_disabled) {
		vdev->virq_disabled = false;
		__vfio_pci_intx_unmask(vdev);
	}
	pthread_mutex_unlock(&vdev->igate);
}

/*
 * vfio_intx_enable(): only from no interrupts (-EINVAL); the initial mask
 * is virq_disabled.  The device has an INTx pin wired (pdev->irq), so
 * request_irq() cannot fail.
 */
static int vfio_intx_enable(struct vfio_pci_core_device *vdev, int trigger)
{
	if (!is_irq_none(vdev))
		return -EINVAL;
	vdev->intx.trigger = trigger;
	vdev->intx.masked = vdev->virq_disabled;
	intx_set_pending(vdev, false);
	vdev->irq_type = VFIO_PCI_INTX_IRQ_INDEX;
	return 0;
}

/* vfio_intx_set_signal(): swap the trigger, put the old one. */
static void vfio_intx_set_signal(struct vfio_pci_core_device *vdev, int trigger)
{
	eventfd_ctx_put(&vdev->intx.trigger);
	vdev->intx.trigger = trigger;
}

/* vfio_intx_disable() (the unmask virqfd is not modelled: no irqfd). */
static void vfio_intx_disable(struct vfio_pci_core_device *vdev)
{
	eventfd_ctx_put(&vdev->intx.trigger);
	vdev->intx.masked = false;
	intx_set_pending(vdev, false);
	vdev->irq_type = VFIO_PCI_NUM_IRQS;
}

/*
 * The enable bits in the function's capabilities, as pci_alloc_irq_vectors()
 * sets and pci_free_irq_vectors() clears them: MSI-X Enable (the user reads
 * it directly, the MSI-X capability is not virtualized); MSI Enable with
 * Multiple Message Enable = log2 of @nvec rounded up to a power of two
 * (msi_capability_init()) and the device's Mask bits cleared — the user's
 * view of the MSI flags is vconfig, which this does not touch.
 */
static void msi_hw_enable(struct vfio_pci_core_device *vdev, unsigned int index, bool on,
			  unsigned int nvec)
{
	int pos = index == VFIO_PCI_MSIX_IRQ_INDEX ? SIM_PCI_MSIX_CAP + PCI_MSIX_FLAGS :
						     SIM_PCI_MSI_CAP + PCI_MSI_FLAGS;
	uint16_t f = (uint16_t)hw_config_read(vdev, pos, 2);

	if (index == VFIO_PCI_MSIX_IRQ_INDEX) {
		f = on ? f | PCI_MSIX_FLAGS_ENABLE : f & ~PCI_MSIX_FLAGS_ENABLE;
	} else {
		f &= ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
		if (on)
			f |= PCI_MSI_FLAGS_ENABLE | (fls_u(nvec * 2 - 1) - 1) << 4;
		cfg_put(vdev->config, SIM_PCI_MSI_CAP + PCI_MSI_MASK_64, 4, 0);
		cfg_put(vdev->config, SIM_PCI_MSI_CAP + PCI_MSI_PENDING_64, 4, 0);
	}
	cfg_put(vdev->config, pos, 2, f);
}

/*
 * vfio_msi_enable(): only from no interrupts (-EINVAL), @nvec vectors
 * allocated (never more than the capability has, which the validation
 * already ensured); for MSI, msi_qmax becomes log2 of @nvec rounded up
 * (fls(nvec * 2 - 1) - 1), what the user's flags read as Multiple Message
 * Capable from now on.  MSI Enable in the user's flags is not set here:
 * the user writes it (vfio_msi_config_write()).
 */
static int vfio_msi_enable(struct vfio_pci_core_device *vdev, unsigned int nvec,
			   unsigned int index)
{
	if (!is_irq_none(vdev))
		return -EINVAL;
	vdev->nvec = nvec;
	msi_hw_enable(vdev, index, true, nvec);
	vdev->irq_type = index;
	if (index == VFIO_PCI_MSI_IRQ_INDEX)
		vdev->msi_qmax = (uint8_t)(fls_u(nvec * 2 - 1) - 1);
	return 0;
}

/*
 * vfio_msi_set_vector_signal(): the old trigger goes first; fd < 0 stops
 * there.  A vector past the allocated ones has no Linux IRQ and, without
 * dynamic MSI-X (GET_IRQ_INFO says NORESIZE), vfio_msi_alloc_irq() gives
 * -EINVAL.  Then eventfd_ctx_fdget()'s error, if any.
 */
static int vfio_msi_set_vector_signal(struct vfio_pci_core_device *vdev, unsigned int vector,
				      int fd)
{
	int trigger;

	eventfd_ctx_put(&vdev->ctx[vector].trigger);
	if (fd < 0)
		return 0;
	if (vector >= vdev->nvec)
		return -EINVAL;
	trigger = eventfd_ctx_fdget(fd);
	if (trigger < 0)
		return trigger;
	vdev->ctx[vector].trigger = trigger;
	return 0;
}

/* vfio_msi_set_block(): on error, every vector of the block up to it is cleared. */
static int vfio_msi_set_block(struct vfio_pci_core_device *vdev, unsigned int start,
			      unsigned int count, const int32_t *fds)
{
	unsigned int i, j;
	int ret = 0;

	for (i = 0, j = start; i < count && !ret; i++, j++)
		ret = vfio_msi_set_vector_signal(vdev, j, fds ? fds[i] : -1);
	if (ret)
		for (i = start; i < j; i++)
			vfio_msi_set_vector_signal(vdev, i, -1);
	return ret;
}

/*
 * vfio_msi_disable(): every trigger put, the vectors freed (the device's
 * enable bit cleared).  msi_qmax stays: the kernel does not reset it.
 */
static void vfio_msi_disable(struct vfio_pci_core_device *vdev)
{
	for (unsigned int i = 0; i < vdev->nr_ctx; i++)
		eventfd_ctx_put(&vdev->ctx[i].trigger);
	vdev->nvec = 0;
	msi_hw_enable(vdev, vdev->irq_type, false, 0);
	vdev->irq_type = VFIO_PCI_NUM_IRQS;
}

/*
 * What vfio_pci_set_intx_unmask() and vfio_pci_set_intx_mask() share: INTx
 * only, start 0 and count 1; DATA_NONE or a true DATA_BOOL does @op now;
 * DATA_EVENTFD answers @eventfd_err.
 */
static int vfio_pci_intx_mask_op(struct vfio_pci_core_device *vdev, unsigned int start,
				 unsigned int count, uint32_t flags, const void *data,
				 void (*op)(struct vfio_pci_core_device *vdev), int eventfd_err)
{
	if (!is_intx(vdev) || start != 0 || count != 1)
		return -EINVAL;
	if ((flags & VFIO_IRQ_SET_DATA_NONE) ||
	    ((flags & VFIO_IRQ_SET_DATA_BOOL) && *(const uint8_t *)data))
		op(vdev);
	else if (flags & VFIO_IRQ_SET_DATA_EVENTFD)
		return eventfd_err;
	return 0;
}

/* vfio_pci_set_intx_unmask(): EVENTFD would set up an unmask irqfd, not modelled. */
static int vfio_pci_set_intx_unmask(struct vfio_pci_core_device *vdev, unsigned int start,
				    unsigned int count, uint32_t flags, const void *data)
{
	return vfio_pci_intx_mask_op(vdev, start, count, flags, data, __vfio_pci_intx_unmask,
				     -EOPNOTSUPP);
}

/* vfio_pci_set_intx_mask(): EVENTFD is -ENOTTY in the kernel too ("XXX implement me"). */
static int vfio_pci_set_intx_mask(struct vfio_pci_core_device *vdev, unsigned int start,
				  unsigned int count, uint32_t flags, const void *data)
{
	return vfio_pci_intx_mask_op(vdev, start, count, flags, data, __vfio_pci_intx_mask,
				     -ENOTTY);
}

/*
 * vfio_pci_set_intx_trigger(): count 0 + DATA_NONE disables; otherwise
 * INTx must be on or nothing be on, start 0 and count 1.  EVENTFD enables
 * or swaps the trigger (fd -1: no trigger); NONE/BOOL fire it (loopback).
 */
static int vfio_pci_set_intx_trigger(struct vfio_pci_core_device *vdev, unsigned int start,
				     unsigned int count, uint32_t flags, const void *data)
{
	if (is_intx(vdev) && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
		vfio_intx_disable(vdev);
		return 0;
	}
	if (!(is_intx(vdev) || is_irq_none(vdev)) || start != 0 || count != 1)
		return -EINVAL;
	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		int32_t fd = *(const int32_t *)data;
		int trigger = -1;

		if (fd >= 0) {
			trigger = eventfd_ctx_fdget(fd);
			if (trigger < 0)
				return trigger;
		}
		if (is_intx(vdev)) {
			vfio_intx_set_signal(vdev, trigger);
			return 0;
		}
		return vfio_intx_enable(vdev, trigger);
	}
	if (!is_intx(vdev))
		return -EINVAL;
	if ((flags & VFIO_IRQ_SET_DATA_NONE) ||
	    ((flags & VFIO_IRQ_SET_DATA_BOOL) && *(const uint8_t *)data))
		vfio_send_intx_eventfd(vdev);
	return 0;
}

/*
 * vfio_pci_set_msi_trigger() for MSI and MSI-X: count 0 + DATA_NONE disables;
 * another type active is -EINVAL; EVENTFD sets the block (enabling start +
 * count vectors first if MSI-X is off, disabled again if the block fails);
 * NONE/BOOL fire the vectors that have a trigger.
 */
static int vfio_pci_set_msi_trigger(struct vfio_pci_core_device *vdev, unsigned int index,
				    unsigned int start, unsigned int count, uint32_t flags,
				    const void *data)
{
	int ret;

	if (vdev->irq_type == index && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
		vfio_msi_disable(vdev);
		return 0;
	}
	if (!(vdev->irq_type == index || is_irq_none(vdev)))
		return -EINVAL;
	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		if (vdev->irq_type == index)
			return vfio_msi_set_block(vdev, start, count, data);
		ret = vfio_msi_enable(vdev, start + count, index);
		if (ret)
			return ret;
		ret = vfio_msi_set_block(vdev, start, count, data);
		if (ret)
			vfio_msi_disable(vdev);
		return ret;
	}
	if (vdev->irq_type != index)
		return -EINVAL;
	for (unsigned int i = start; i < start + count; i++) {
		if (vdev->ctx[i].trigger < 0)
			continue;
		if ((flags & VFIO_IRQ_SET_DATA_NONE) ||
		    ((flags & VFIO_IRQ_SET_DATA_BOOL) && ((const uint8_t *)data)[i - start]))
			eventfd_signal(vdev->ctx[i].trigger);
	}
	return 0;
}

/*
 * vfio_pci_set_ctx_trigger_single() for ERR and REQ: NONE fires (count 1)
 * or releases (count 0) the trigger, -EINVAL without one; BOOL fires;
 * EVENTFD sets (fd ≥ 0) or releases (-1) it; any other fd is -EINVAL.
 */
static int vfio_pci_set_ctx_trigger_single(int *trigger, unsigned int count, uint32_t flags,
					   const void *data)
{
	if (flags & VFIO_IRQ_SET_DATA_NONE) {
		if (*trigger < 0)
			return -EINVAL;
		if (count)
			eventfd_signal(*trigger);
		else
			eventfd_ctx_put(trigger);
		return 0;
	}
	if (flags & VFIO_IRQ_SET_DATA_BOOL) {
		if (!count)
			return -EINVAL;
		if (*(const uint8_t *)data && *trigger >= 0)
			eventfd_signal(*trigger);
		return 0;
	}
	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		int32_t fd;
		int t;

		if (!count)
			return -EINVAL;
		fd = *(const int32_t *)data;
		if (fd == -1) {
			eventfd_ctx_put(trigger);
			return 0;
		}
		if (fd >= 0) {
			t = eventfd_ctx_fdget(fd);
			if (t < 0)
				return t;
			eventfd_ctx_put(trigger);
			*trigger = t;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * vfio_pci_set_irqs_ioctl(): the dispatch by index and action; an action
 * an index has no handler for is -ENOTTY (MSI/MSI-X MASK and UNMASK, ERR
 * and REQ other than TRIGGER).  ERR needs a PCIe function (always here).
 * Runs under igate, as vfio_pci_ioctl_set_irqs() holds it.
 */
int vfio_pci_set_irqs_ioctl(struct vfio_pci_core_device *vdev, uint32_t flags, unsigned int index,
			    unsigned int start, unsigned int count, const void *data)
{
	uint32_t action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	int ret = -ENOTTY;

	pthread_mutex_lock(&vdev->igate);
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_MASK)
			ret = vfio_pci_set_intx_mask(vdev, start, count, flags, data);
		else if (action == VFIO_IRQ_SET_ACTION_UNMASK)
			ret = vfio_pci_set_intx_unmask(vdev, start, count, flags, data);
		else if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			ret = vfio_pci_set_intx_trigger(vdev, start, count, flags, data);
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			ret = vfio_pci_set_msi_trigger(vdev, index, start, count, flags, data);
		break;
	case VFIO_PCI_ERR_IRQ_INDEX:
	case VFIO_PCI_REQ_IRQ_INDEX:
		/* vfio_pci_set_err_trigger()/vfio_pci_set_req_trigger() */
		if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
			break;
		if (start != 0 || count > 1)
			ret = -EINVAL;
		else
			ret = vfio_pci_set_ctx_trigger_single(index == VFIO_PCI_ERR_IRQ_INDEX ?
								      &vdev->err_trigger :
								      &vdev->req_trigger,
							      count, flags, data);
		break;
	}
	pthread_mutex_unlock(&vdev->igate);
	return ret;
}

/*
 * The device's side.  INTx: vfio_intx_handler() masks and sends, and a
 * device asserting INTx on a masked line stays pending until the unmask
 * (pci_check_and_unmask_intx() then finds it); without INTx enabled there
 * is no handler and the assertion is lost.  The simulated INTx is an
 * assertion that ends when it is delivered (no separate de-assert).
 * MSI and MSI-X: a memory write of the device, so it needs Bus Master
 * Enable in the function's command register (PCI Local Bus spec; the
 * kernel does not look), the enable bit in the function's capability, an
 * allocated vector and a trigger (vfio_msihandler()).  An MSI vector whose
 * Mask bit is set is not sent: its Pending bit is set, and the write that
 * clears the Mask bit sends it (msi_send_unmasked_pending()).  ERR/REQ are
 * the kernel's (AER, unbind request): fired if a trigger is set.
 */
static int vfio_pci_raise_irq_locked(struct vfio_pci_core_device *vdev, unsigned int index,
				     unsigned int vector);

/* The enable bit of MSI or MSI-X in the function's own capability. */
static bool msi_hw_enabled(const struct vfio_pci_core_device *vdev, unsigned int index)
{
	if (index == VFIO_PCI_MSIX_IRQ_INDEX)
		return vdev->msix_bar >= 0 &&
		       (hw_config_read(vdev, SIM_PCI_MSIX_CAP + PCI_MSIX_FLAGS, 2) &
			PCI_MSIX_FLAGS_ENABLE);
	return hw_config_read(vdev, SIM_PCI_MSI_CAP + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE;
}

static bool msi_has_maskbit(const struct vfio_pci_core_device *vdev)
{
	return hw_config_read(vdev, SIM_PCI_MSI_CAP + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_MASKBIT;
}

/* An MSI vector masked in the device: not sent, its Pending bit set instead. */
static bool msi_hw_masked(struct vfio_pci_core_device *vdev, unsigned int vector)
{
	int mask = SIM_PCI_MSI_CAP + PCI_MSI_MASK_64, pend = SIM_PCI_MSI_CAP + PCI_MSI_PENDING_64;

	if (!msi_has_maskbit(vdev) || !(hw_config_read(vdev, mask, 4) & (1U << vector)))
		return false;
	cfg_put(vdev->config, pend, 4, hw_config_read(vdev, pend, 4) | 1U << vector);
	return true;
}

/*
 * After a write of the MSI Mask bits: each vector pending and no longer
 * masked is sent now and its Pending bit cleared (as the device would).
 */
static void msi_send_unmasked_pending(struct vfio_pci_core_device *vdev)
{
	int mask = SIM_PCI_MSI_CAP + PCI_MSI_MASK_64, pend = SIM_PCI_MSI_CAP + PCI_MSI_PENDING_64;
	uint32_t ready;

	if (!msi_has_maskbit(vdev))
		return;
	pthread_mutex_lock(&vdev->igate);
	ready = hw_config_read(vdev, pend, 4) & ~hw_config_read(vdev, mask, 4);
	cfg_put(vdev->config, pend, 4, hw_config_read(vdev, pend, 4) & ~ready);
	for (unsigned int v = 0; ready && v < 32; v++)
		if (ready & (1U << v))
			vfio_pci_raise_irq_locked(vdev, VFIO_PCI_MSI_IRQ_INDEX, v);
	pthread_mutex_unlock(&vdev->igate);
}

/*
 * The device picks the type from its own registers: MSI-X Enable, then
 * MSI Enable, else its INTx pin (PCI Local Bus 3.0 §6.8: a function with
 * MSI or MSI-X enabled does not assert INTx).
 */
int vfio_pci_device_interrupt(struct vfio_pci_core_device *vdev, unsigned int vector)
{
	unsigned int index = VFIO_PCI_INTX_IRQ_INDEX;
	int ret;

	pthread_mutex_lock(&vdev->igate);
	if (msi_hw_enabled(vdev, VFIO_PCI_MSIX_IRQ_INDEX))
		index = VFIO_PCI_MSIX_IRQ_INDEX;
	else if (msi_hw_enabled(vdev, VFIO_PCI_MSI_IRQ_INDEX))
		index = VFIO_PCI_MSI_IRQ_INDEX;
	if ((int)vector >= vfio_pci_get_irq_count(vdev, index))
		ret = -EINVAL;
	else
		ret = vfio_pci_raise_irq_locked(vdev, index, vector);
	pthread_mutex_unlock(&vdev->igate);
	return ret;
}

int vfio_pci_raise_irq(struct vfio_pci_core_device *vdev, unsigned int index, unsigned int vector)
{
	int ret;

	if (index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	pthread_mutex_lock(&vdev->igate);
	if ((int)vector >= vfio_pci_get_irq_count(vdev, index))
		ret = -EINVAL;
	else
		ret = vfio_pci_raise_irq_locked(vdev, index, vector);
	pthread_mutex_unlock(&vdev->igate);
	return ret;
}

static int vfio_pci_raise_irq_locked(struct vfio_pci_core_device *vdev, unsigned int index,
				     unsigned int vector)
{
	int ret = 0;

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		if (!is_intx(vdev))
			break;
		if (vdev->intx.masked) {
			intx_set_pending(vdev, true);
			break;
		}
		vdev->intx.masked = true;
		ret = vfio_send_intx_eventfd(vdev);
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (vdev->irq_type != index || vector >= vdev->nvec || !msi_hw_enabled(vdev, index) ||
		    !(hw_config_read(vdev, PCI_COMMAND, 2) & PCI_COMMAND_MASTER))
			break;
		if (index == VFIO_PCI_MSI_IRQ_INDEX && msi_hw_masked(vdev, vector))
			break;
		ret = eventfd_signal(vdev->ctx[vector].trigger);
		break;
	case VFIO_PCI_ERR_IRQ_INDEX:
		ret = eventfd_signal(vdev->err_trigger);
		break;
	case VFIO_PCI_REQ_IRQ_INDEX:
		ret = eventfd_signal(vdev->req_trigger);
		break;
	}
	return ret;
}

/*
 * vfio_pci_core_disable(): vfio_pci_set_irqs_ioctl(DATA_NONE | TRIGGER,
 * irq_type, 0, 0) turns the active type off; vfio_pci_core_close_device()
 * puts the ERR and REQ triggers.  virq_disabled is not cleared: the kernel
 * rebuilds vconfig (INTX_DISABLE included) at the next open, the simulated
 * vconfig persists, and virq_disabled follows it.
 */
void vfio_pci_core_disable_irqs(struct vfio_pci_core_device *vdev)
{
	if (!is_irq_none(vdev))
		vfio_pci_set_irqs_ioctl(vdev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
					vdev->irq_type, 0, 0, NULL);
	pthread_mutex_lock(&vdev->igate);
	eventfd_ctx_put(&vdev->err_trigger);
	eventfd_ctx_put(&vdev->req_trigger);
	pthread_mutex_unlock(&vdev->igate);
}

/* No interrupts on, no triggers; ctx for every MSI-X table entry. */
static int vfio_pci_irq_init(struct vfio_pci_core_device *vdev)
{
	pthread_mutex_init(&vdev->igate, NULL);
	vdev->irq_type = VFIO_PCI_NUM_IRQS;
	vdev->intx.trigger = vdev->err_trigger = vdev->req_trigger = -1;
	vdev->nr_ctx = vdev->msix_vectors > vdev->msi_vectors ? vdev->msix_vectors :
								 vdev->msi_vectors;
	vdev->ctx = calloc(vdev->nr_ctx, sizeof(*vdev->ctx));
	if (!vdev->ctx)
		return -ENOMEM;
	for (unsigned int i = 0; i < vdev->nr_ctx; i++)
		vdev->ctx[i].trigger = -1;
	return 0;
}

static void vfio_pci_irq_exit(struct vfio_pci_core_device *vdev)
{
	vfio_pci_core_disable_irqs(vdev);
	free(vdev->ctx);
	pthread_mutex_destroy(&vdev->igate);
}

/* ------------------------------------------------------------------------ */
/* Device lifetime                                                          */
/* ------------------------------------------------------------------------ */

static bool bar_size_valid(uint64_t size)
{
	return !size || (size >= PAGE_SIZE && !(size & (size - 1)));
}

/* Lowest id not in use, so ids stay small and stable while devices live. */
static int vfio_pci_next_id_locked(void)
{
	struct vfio_pci_core_device *d;
	int id = 0;

again:
	for (d = machine->devices; d; d = d->next) {
		if (d->id == id) {
			id++;
			goto again;
		}
	}
	return id;
}

/*
 * Create a device: validate every size first (bad input changes nothing),
 * then place each BAR in MMIO space.  MMIO ranges cannot be given back
 * (mmio_alloc() has no free); they are released with the machine, so a
 * failure half way, or a destroyed device, leaves its ranges unused until
 * then, like address space a hot-removed device leaves in a bridge window.
 */
int vfio_pci_device_create(const char *name, const uint64_t bar_size[PCI_STD_NUM_BARS],
			   struct vfio_pci_core_device **out)
{
	return vfio_pci_device_create_ids(name, bar_size, NULL, out);
}

/*
 * Defaults: 1b36:0005 (QEMU's "pci-testdev" IDs, a device no host driver
 * claims), class 0xff0000 (unassigned), MSI with one vector and no
 * per-vector masking, no MSI-X.  MSI takes 1, 2, 4, 8, 16 or 32 vectors.  MSI-X needs 1..2048
 * vectors (PCI_MSIX_FLAGS_QSIZE + 1) and a present BAR big enough for the
 * table (16 bytes a vector, at offset 0) and the PBA right after it.
 */
static int vfio_pci_ids_resolve(const uint64_t bar_size[PCI_STD_NUM_BARS],
				const struct vfio_pci_device_ids *in,
				struct vfio_pci_device_ids *ids)
{
	static const struct vfio_pci_device_ids none;

	*ids = in ? *in : none;
	if (!ids->vendor_id)
		ids->vendor_id = 0x1b36;
	if (!ids->device_id)
		ids->device_id = 0x0005;
	if (!ids->class_code)
		ids->class_code = 0xff0000;
	if (ids->class_code > 0xffffff || ids->vendor_id == 0xffff)
		return -EINVAL;
	if (!ids->msi_vectors)
		ids->msi_vectors = 1;
	if (ids->msi_vectors > 32 || (ids->msi_vectors & (ids->msi_vectors - 1)))
		return -EINVAL;
	if (!ids->msix_vectors)
		return 0;
	if (ids->msix_vectors > 2048 || ids->msix_bar >= PCI_STD_NUM_BARS ||
	    !bar_size[ids->msix_bar] ||
	    ids->msix_vectors * 16ULL + (ids->msix_vectors + 63) / 64 * 8 > bar_size[ids->msix_bar])
		return -EINVAL;
	return 0;
}

int vfio_pci_device_create_ids(const char *name, const uint64_t bar_size[PCI_STD_NUM_BARS],
			       const struct vfio_pci_device_ids *in,
			       struct vfio_pci_core_device **out)
{
	struct vfio_pci_device_ids ids;
	struct vfio_pci_core_device *vdev;
	int i, err;

	if (WARN_ON_ONCE(!machine))
		return -ENODEV;
	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (!bar_size_valid(bar_size[i]))
			return -EINVAL;
	err = vfio_pci_ids_resolve(bar_size, in, &ids);
	if (err)
		return err;

	vdev = calloc(1, sizeof(*vdev));
	if (!vdev)
		return -ENOMEM;
	snprintf(vdev->name, sizeof(vdev->name), "%s", name ? name : "vfio-pci");

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct vfio_pci_bar *bar = &vdev->bar[i];

		if (!bar_size[i])
			continue;
		err = mmio_alloc(bar_size[i], &bar->pfn, &bar->bytes);
		if (err)
			goto err_free;
		bar->size = bar_size[i];
		/* vfio_pci_probe_mmaps(): a memory BAR of at least a page. */
		bar->mmap_supported = bar->size >= PAGE_SIZE;
	}

	vdev->msix_bar = ids.msix_vectors ? ids.msix_bar : -1;
	vdev->msix_vectors = ids.msix_vectors;
	vdev->msix_offset = 0;
	vdev->msix_size = ids.msix_vectors * 16ULL;
	vdev->msi_vectors = ids.msi_vectors;
	/* Decode starts on: the device's COMMAND has MEMORY, and vconfig copies it. */
	vfio_pci_init_hw_config(vdev, &ids);
	vfio_config_init(vdev);
	vfio_pci_parse_address(vdev);
	err = vfio_pci_irq_init(vdev);
	if (err)
		goto err_free;
	init_rwsem(&vdev->memory_lock, "memory_lock");
	init_rwsem(&vdev->mapping.i_mmap_rwsem, "i_mmap_rwsem");
	vdev->mapping.i_mmap = NULL;
	vdev->file.f_op = &vfio_pci_fops;
	vdev->file.f_mapping = &vdev->mapping;
	vdev->file.private_data = vdev;
	atomic_init(&vdev->file.f_count, 1);
	atomic_init(&vdev->nr_zaps, 0);

	pthread_mutex_lock(&machine->devices_lock);
	vdev->id = vfio_pci_next_id_locked();
	vdev->next = machine->devices;
	machine->devices = vdev;
	machine->nr_devices++;
	pthread_mutex_unlock(&machine->devices_lock);

	*out = vdev;
	return 0;

err_free:
	free(vdev);
	return err;
}

/*
 * Unregister and free.  Every mapping must be gone first (munmap or mm
 * teardown unlinks it): a VMA still on the list would point at freed
 * memory through vm_private_data and vm_file, so that is a WARN and the
 * device is leaked rather than freed.
 */
void vfio_pci_device_destroy(struct vfio_pci_core_device *vdev)
{
	struct vfio_pci_core_device **pp;
	bool mapped;

	if (!vdev)
		return;

	i_mmap_lock_write(&vdev->mapping);
	mapped = vdev->mapping.i_mmap != NULL;
	i_mmap_unlock_write(&vdev->mapping);

	pthread_mutex_lock(&machine->devices_lock);
	for (pp = &machine->devices; *pp; pp = &(*pp)->next) {
		if (*pp == vdev) {
			*pp = vdev->next;
			machine->nr_devices--;
			break;
		}
	}
	pthread_mutex_unlock(&machine->devices_lock);

	if (WARN_ON_ONCE(mapped))
		return;

	vfio_pci_irq_exit(vdev);
	destroy_rwsem(&vdev->memory_lock);
	destroy_rwsem(&vdev->mapping.i_mmap_rwsem);
	free(vdev);
}
