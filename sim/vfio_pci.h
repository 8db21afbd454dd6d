/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The vfio-pci BAR provider (drivers/vfio/pci/vfio_pci_core.c, ref §4).
 *
 * A device has up to six BARs placed naturally aligned in MMIO space and
 * backed by host bytes (so device-to-device DMA reads real content).  Its
 * BARs are mapped through a struct file whose mmap sets up a VM_IO|VM_PFNMAP
 * VMA with nothing inserted; entries come from the fault handlers, at the
 * order core mm asks for when alignment allows.  Memory decode
 * (PCI_COMMAND_MEMORY in the virtual config space) gates faults (SIGBUS
 * while off); turning it off, and reset, zap every user mapping of the BARs
 * in every process through the device's own address_space.
 */
#ifndef SIM_VFIO_PCI_H
#define SIM_VFIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm_types.h"
#include "rwsem.h"

#define VFIO_PCI_OFFSET_SHIFT 40
#define VFIO_PCI_OFFSET_TO_INDEX(off) ((off) >> VFIO_PCI_OFFSET_SHIFT)
#define VFIO_PCI_INDEX_TO_OFFSET(index) ((uint64_t)(index) << VFIO_PCI_OFFSET_SHIFT)
#define VFIO_PCI_OFFSET_MASK ((1ULL << VFIO_PCI_OFFSET_SHIFT) - 1)
#define PCI_STD_NUM_BARS 6
#define SIM_PCI_COMMAND 0x04
#define SIM_PCI_COMMAND_MEMORY 0x2
/* pdev->cfg_size of a PCI Express function (PCI_CFG_SPACE_EXP_SIZE). */
#define SIM_PCI_CONFIG_SIZE 4096
/*
 * Where the simulated device keeps its capabilities, in list order:
 * Power Management -> MSI -> PCI Express -> MSI-X (if any).  MSI is
 * 64-bit, with per-vector masking when asked for (24 bytes, else 14).
 */
#define SIM_PCI_PM_CAP 0x40
#define SIM_PCI_MSI_CAP 0x50
#define SIM_PCI_EXP_CAP 0x70
#define SIM_PCI_MSIX_CAP 0xb0

struct vfio_pci_bar {
	uint64_t size;			/* 0: no BAR; else a power of two ≥ 4K */
	unsigned long pfn;		/* pci_resource_start >> PAGE_SHIFT */
	unsigned char *bytes;
	bool mmap_supported;		/* bar_mmap_supported[] */
};

/*
 * What the simulated hardware says about itself: IDs, class and its MSI-X
 * table.  Zero fields take defaults (vfio_pci_device_create_ids()).
 */
struct vfio_pci_device_ids {
	uint16_t vendor_id, device_id;
	uint32_t class_code;		/* 24 bits: base, sub, prog-if */
	uint16_t msix_vectors;		/* 0: no MSI-X capability; else 1..2048 */
	uint8_t msix_bar;		/* the BAR holding table (offset 0) and PBA */
	uint8_t msi_vectors;		/* MSI Multiple Message Capable: 0 = 1; 1..32, 2^n */
	bool msi_maskbit;		/* MSI per-vector masking (Mask/Pending bits) */
};

/*
 * vfio_pci_priv.h struct vfio_pci_irq_ctx, reduced to what is modelled: the
 * trigger is the host eventfd the user passed, held by a dup() of its fd
 * (eventfd_ctx_fdget() takes a reference on the eventfd, so the user may
 * close its fd and the eventfd still fires), -1 for none.
 */
struct vfio_pci_irq_ctx {
	int trigger;
	bool masked;			/* INTx only */
};

struct vfio_pci_core_device {
	char name[32];
	int id;
	struct vfio_pci_bar bar[PCI_STD_NUM_BARS];
	/*
	 * Config space, three views of it as vfio_pci_config.c has them: the
	 * device's own registers (what pci_user_read_config_*() reads; hw_wmask
	 * the bits its hardware lets software change), vfio's virtual copy
	 * (vdev->vconfig), and per byte the capability it belongs to
	 * (vdev->pci_config_map) with vfio's virt/write permission bits.
	 */
	uint8_t config[SIM_PCI_CONFIG_SIZE];
	uint8_t hw_wmask[SIM_PCI_CONFIG_SIZE];
	uint8_t vconfig[SIM_PCI_CONFIG_SIZE];	/* virtual config space */
	uint8_t config_map[SIM_PCI_CONFIG_SIZE];
	uint8_t perm_virt[SIM_PCI_CONFIG_SIZE];
	uint8_t perm_write[SIM_PCI_CONFIG_SIZE];
	bool bardirty;
	int msix_bar;			/* -1: no MSI-X */
	uint64_t msix_offset, msix_size;	/* the table, excluded from BAR r/w */
	unsigned int msix_vectors;
	unsigned int msi_vectors;	/* 1 << Multiple Message Capable */
	uint8_t msi_qmax;		/* vdev->msi_qmax: log2 of the vectors enabled */
	_Atomic unsigned long nr_resets;	/* pci_try_reset_function() calls */
	bool pm_runtime_engaged;
	/* pdev->current_state: 0 (D0) .. 3 (D3hot), set through PM_CTRL */
	unsigned int power_state;
	struct rw_semaphore memory_lock;
	struct address_space mapping;	/* vdev->inode->i_mapping */
	struct file file;		/* the device fd's file */
	_Atomic unsigned long nr_zaps;
	/*
	 * Interrupts (vfio_pci_intrs.c).  igate is vdev->igate and irqlock in
	 * one: a host mutex, held for short sections with no schedule point,
	 * taken by SET_IRQS, the INTx-disable config write and the device's
	 * own raise (pinsim_device_raise_irq()).
	 */
	pthread_mutex_t igate;
	unsigned int irq_type;		/* VFIO_PCI_*_IRQ_INDEX; NUM_IRQS = none */
	bool virq_disabled;		/* PCI_COMMAND_INTX_DISABLE in vconfig */
	bool intx_pending;		/* asserted while masked, not yet delivered */
	struct vfio_pci_irq_ctx intx;
	/* vdev->ctx of MSI or MSI-X, whichever is on: nr_ctx entries */
	struct vfio_pci_irq_ctx *ctx;
	unsigned int nr_ctx;		/* max(msi_vectors, msix_vectors) */
	unsigned int nvec;		/* pci_alloc_irq_vectors() count, 0 = none */
	int err_trigger, req_trigger;	/* -1: none */
	/*
	 * Where the function sits: the name parsed as a PCI address
	 * ("DDDD:BB:DD.F").  A function on a bus other than 0 can be reset
	 * with its bus (devices with the same domain and bus form the dev_set
	 * of vfio_pci_core_register_device()); on bus 0 (a root bus) or with a
	 * name that is no address, there is no bus reset (pci_probe_reset_bus()
	 * is -ENOTTY on a root bus).
	 */
	uint16_t segment;
	uint8_t bus, devfn;
	bool bus_reset;
	struct vfio_pci_core_device *next;
};

/*
 * Create a device with the given BAR sizes (0 = absent), registered with
 * the machine.  Memory decode starts enabled.  -EINVAL for a size that is
 * not a power of two ≥ PAGE_SIZE, -ENOMEM when MMIO space runs out.
 */
int vfio_pci_device_create(const char *name, const uint64_t bar_size[PCI_STD_NUM_BARS],
			   struct vfio_pci_core_device **out);
/* The same with IDs and MSI-X (@ids NULL: defaults; -EINVAL for a bad MSI-X). */
int vfio_pci_device_create_ids(const char *name, const uint64_t bar_size[PCI_STD_NUM_BARS],
			       const struct vfio_pci_device_ids *ids,
			       struct vfio_pci_core_device **out);
void vfio_pci_device_destroy(struct vfio_pci_core_device *vdev);

/*
 * vfio_pci_core.c vfio_pci_rw(): read or write @count bytes at the device
 * fd offset @off (region index << 40 | position).  Returns the bytes done
 * or -errno; @buf is the caller's (not NULL when @count is not 0).
 */
long vfio_pci_rw(struct vfio_pci_core_device *vdev, void *buf, size_t count, uint64_t off,
		 bool iswrite);

/* vfio_pci_core_mmap(): f_op->mmap of the device file (ref §4.1). */
int vfio_pci_core_mmap(struct vfio_pci_core_device *vdev, struct vm_area_struct *vma);
/*
 * The mapping-order hint of a vfio-pci device file (the unmerged
 * f_op->get_mapping_order of Peter Xu's series; sim/mmap.c uses it when
 * machine->cfg.vfio_pci_mmap_align is set): the largest pfnmap order for an
 * mmap of @len bytes at @pgoff, or -1 if @file is not a vfio-pci device.
 */
int vfio_pci_file_mapping_order(struct file *file, unsigned long pgoff, unsigned long len);

/* vfio_pci_zap_bars(): unmap_mapping_range over BAR0..BAR5, every process. */
void vfio_pci_zap_bars(struct vfio_pci_core_device *vdev);
/*
 * A config-space write of PCI_COMMAND: clearing MEMORY takes memory_lock
 * for write and zaps (vfio_pci_zap_and_down_write_memory_lock), setting it
 * re-enables faults.
 */
void vfio_pci_write_command(struct vfio_pci_core_device *vdev, uint16_t cmd);
bool __vfio_pci_memory_enabled(struct vfio_pci_core_device *vdev);
/* vfio_pci_get_irq_count(): the count VFIO_DEVICE_GET_IRQ_INFO reports. */
int vfio_pci_get_irq_count(struct vfio_pci_core_device *vdev, unsigned int index);
/* VFIO_DEVICE_RESET: zap under memory_lock. */
int vfio_pci_core_reset(struct vfio_pci_core_device *vdev);

/*
 * vfio_pci_intrs.c vfio_pci_set_irqs_ioctl(), after vfio_main.c
 * vfio_set_irqs_validate_and_prepare() has checked the header against
 * vfio_pci_get_irq_count() (the caller's job, as vfio_pci_ioctl_set_irqs()
 * does it): @data holds count bools or count int32 fds, or is NULL.
 */
int vfio_pci_set_irqs_ioctl(struct vfio_pci_core_device *vdev, uint32_t flags, unsigned int index,
			    unsigned int start, unsigned int count, const void *data);
/*
 * The simulated function raises interrupt @vector of @index: 1 if an
 * eventfd was signalled, 0 if the interrupt was masked, disabled or had no
 * trigger (an INTx that finds the line masked stays pending), -EINVAL for
 * an index or vector the device does not have.
 */
int vfio_pci_raise_irq(struct vfio_pci_core_device *vdev, unsigned int index, unsigned int vector);
/*
 * The function signals interrupt @vector the way its own registers say, as
 * hardware does: MSI-X when MSI-X Enable is set in its capability, else MSI
 * when MSI Enable is set (vector below the enabled count), else INTx
 * (vector 0).  Returns as vfio_pci_raise_irq(); -EINVAL for a vector the
 * chosen type does not have.
 */
int vfio_pci_device_interrupt(struct vfio_pci_core_device *vdev, unsigned int vector);
/*
 * vfio_pci_core_disable()'s part for interrupts, at the last close of the
 * device: the active type disabled, ERR and REQ triggers released.
 */
void vfio_pci_core_disable_irqs(struct vfio_pci_core_device *vdev);

/*
 * The dev_set of @vdev for a bus reset: the devices on its bus, @vdev
 * included, ordered by devfn as pci_walk_bus() finds them; at most @max
 * stored in @out.  Returns how many there are, or -ENODEV when the bus
 * cannot be reset (vfio_pci_ioctl_get_pci_hot_reset_info()).
 */
int vfio_pci_dev_set(struct vfio_pci_core_device *vdev, struct vfio_pci_core_device **out,
		     int max);
/*
 * vfio_pci_dev_set_hot_reset() over the @n devices of a dev_set the caller
 * has checked are owned: each memory_lock for write by trylock (-EBUSY,
 * unwound, on contention) and its BARs zapped, then pci_reset_bus().
 */
int vfio_pci_dev_set_hot_reset(struct vfio_pci_core_device **set, int n);

/* The fault handlers (exposed for tests). */
vm_fault_t vfio_pci_mmap_huge_fault(struct vm_fault *vmf, unsigned int order);
vm_fault_t vfio_pci_mmap_page_fault(struct vm_fault *vmf);

#endif /* SIM_VFIO_PCI_H */
