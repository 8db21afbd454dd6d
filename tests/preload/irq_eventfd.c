// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupts through eventfds, as a VMM or a userspace driver sets them up:
 * VFIO_DEVICE_GET_IRQ_INFO for INTx, MSI and MSI-X, VFIO_DEVICE_SET_IRQS
 * with eventfds (DATA_EVENTFD | ACTION_TRIGGER), the device made to raise
 * them, the eventfds polled and read, INTx unmasked (ACTION_UNMASK) after
 * its automask, each type disabled (count 0), and the errnos the kernel
 * gives for bad SET_IRQS (vfio_set_irqs_validate_and_prepare(),
 * vfio_pci_set_irqs_ioctl()).
 *
 * The device is a test device with QEMU edu's interrupt registers in BAR0
 * (docs/specs/edu.rst): 0x24 interrupt status, 0x60 raise (edu sends MSI
 * if enabled, else INTx), 0x64 acknowledge, plus 0x68 "raise vector N" for
 * a device with several vectors.  An ordinary program: system headers
 * only; the device is expected at 0000:01:00.0 with MSI and MSI-X.
 */
#include <linux/pci_regs.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_IRQ_VECTOR 0x68
#define MAXV 32

static int device;
static uint64_t cfg_off, bar0_off;

static const char *ename(int e)
{
	return e == EINVAL ? "EINVAL" : e == EBADF ? "EBADF" : e == ENOTTY ? "ENOTTY" :
	       e == EIO    ? "EIO" :
	       e == 0	   ? "ok" :
				"other";
}

/* VFIO_DEVICE_SET_IRQS; the errno, 0 on success. */
static int set_irqs(uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		    const void *data, size_t data_len)
{
	struct {
		struct vfio_irq_set hdr;
		int32_t data[MAXV];
	} s = {.hdr = {.argsz = (uint32_t)(sizeof(s.hdr) + data_len),
		       .flags = flags,
		       .index = index,
		       .start = start,
		       .count = count}};

	if (data_len)
		memcpy(s.data, data, data_len);
	return ioctl(device, VFIO_DEVICE_SET_IRQS, &s) ? errno : 0;
}

static int set_efds(uint32_t index, uint32_t start, uint32_t count, const int32_t *fds)
{
	return set_irqs(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, start,
			count, fds, count * sizeof(int32_t));
}

static int disable(uint32_t index)
{
	return set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0, NULL,
			0);
}

/* The eventfd's count if it is readable now (poll, then read), else 0. */
static uint64_t efd_take(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint64_t v = 0;
	int n = poll(&pfd, 1, 0);

	CHECK(n >= 0, "poll");
	if (!n)
		return 0;
	CHECK(pfd.revents & POLLIN, "poll revents %#x", pfd.revents);
	CHECK(read(fd, &v, sizeof(v)) == sizeof(v), "read eventfd");
	return v;
}

static void bar0_write32(uint64_t reg, uint32_t v)
{
	CHECK(pwrite(device, &v, 4, (off_t)(bar0_off + reg)) == 4, "pwrite BAR0 %#llx",
	      (unsigned long long)reg);
}

static uint32_t bar0_read32(uint64_t reg)
{
	uint32_t v = 0;

	CHECK(pread(device, &v, 4, (off_t)(bar0_off + reg)) == 4, "pread BAR0");
	return v;
}

static uint16_t cfg16(int off)
{
	uint16_t v = 0;

	CHECK(pread(device, &v, 2, (off_t)(cfg_off + off)) == 2, "pread config %#x", off);
	return v;
}

static void cfg_w16(int off, uint16_t v)
{
	CHECK(pwrite(device, &v, 2, (off_t)(cfg_off + off)) == 2, "pwrite config %#x", off);
}

/* The capability @id's offset, walked from PCI_CAPABILITY_LIST; 0 if absent. */
static int find_cap(int id)
{
	uint8_t pos = 0, hdr[2];
	int hops = 48;

	CHECK(pread(device, &pos, 1, (off_t)(cfg_off + PCI_CAPABILITY_LIST)) == 1, "cap list");
	while (pos && hops--) {
		CHECK(pread(device, hdr, 2, (off_t)(cfg_off + pos)) == 2, "cap header");
		if (hdr[0] == id)
			return pos;
		pos = hdr[1];
	}
	return 0;
}

static uint32_t irq_count(uint32_t index, uint32_t *flags)
{
	struct vfio_irq_info info = {.argsz = sizeof(info), .index = index};

	CHECK(!ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, &info), "GET_IRQ_INFO %u", index);
	*flags = info.flags;
	return info.count;
}

static void check_bad_set_irqs(uint32_t nmsix)
{
	int32_t fds[2] = {eventfd(0, EFD_CLOEXEC), -1};
	int pipefd[2], e[8];
	uint8_t one = 1;

	CHECK(fds[0] >= 0 && !pipe(pipefd), "eventfd/pipe");
	fds[1] = fds[0];
	e[0] = set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_NUM_IRQS, 0,
			1, NULL, 0);
	e[1] = set_efds(VFIO_PCI_MSIX_IRQ_INDEX, nmsix - 1, 2, fds);
	e[2] = set_efds(VFIO_PCI_INTX_IRQ_INDEX, 0, 2, fds);
	e[3] = set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL |
				VFIO_IRQ_SET_ACTION_TRIGGER,
			VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &one, 1);
	e[4] = set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_MSI_IRQ_INDEX,
			0, 1, NULL, 0);
	fds[1] = pipefd[0];
	e[5] = set_efds(VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fds[1]);
	close(pipefd[0]);
	close(pipefd[1]);
	e[6] = set_efds(VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fds[1]);
	e[7] = set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0);
	printf("bad set_irqs: index %s, start+count %s, intx count 2 %s, two data types %s, "
	       "msi mask %s, not an eventfd %s, closed fd %s, unmask without intx %s\n",
	       ename(e[0]), ename(e[1]), ename(e[2]), ename(e[3]), ename(e[4]), ename(e[5]),
	       ename(e[6]), ename(e[7]));
	CHECK(e[0] == EINVAL && e[1] == EINVAL && e[2] == EINVAL && e[3] == EINVAL &&
		      e[4] == ENOTTY && e[5] == EINVAL && e[6] == EBADF && e[7] == EINVAL,
	      "bad SET_IRQS errnos");
	close(fds[0]);
}

/*
 * INTx: the raise signals and automasks; a raise on the masked line stays
 * pending (PCI_STATUS_INTERRUPT) and ACTION_UNMASK delivers it; an unmask
 * with nothing pending re-arms; disabled, a raise reaches nobody.
 */
static void check_intx(void)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int32_t fd = efd;
	uint64_t a, b, c, d, f;

	CHECK(efd >= 0, "eventfd");
	CHECK(!set_efds(VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), "SET_IRQS INTx");
	bar0_write32(EDU_IRQ_RAISE, 0x1);
	a = efd_take(efd);
	CHECK(bar0_read32(EDU_IRQ_STATUS) == 0x1, "status after raise");
	bar0_write32(EDU_IRQ_RAISE, 0x2);
	b = efd_take(efd);
	CHECK(cfg16(PCI_STATUS) & PCI_STATUS_INTERRUPT, "INTx pending in PCI_STATUS");
	CHECK(!set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
	      "UNMASK");
	c = efd_take(efd);
	bar0_write32(EDU_IRQ_ACK, 0x3);
	CHECK(bar0_read32(EDU_IRQ_STATUS) == 0, "status after ack");
	CHECK(!set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0),
	      "UNMASK");
	bar0_write32(EDU_IRQ_RAISE, 0x1);
	d = efd_take(efd);
	CHECK(!disable(VFIO_PCI_INTX_IRQ_INDEX), "disable INTx");
	CHECK(set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
		       VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0) == EINVAL,
	      "UNMASK after disable: EINVAL");
	bar0_write32(EDU_IRQ_RAISE, 0x1);
	f = efd_take(efd);
	printf("intx: raise %llu, raise while masked %llu, unmask delivers %llu, re-armed %llu, "
	       "disabled %llu\n",
	       (unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
	       (unsigned long long)d, (unsigned long long)f);
	CHECK(a == 1 && b == 0 && c == 1 && d == 1 && f == 0, "INTx sequence");
	bar0_write32(EDU_IRQ_ACK, ~0U);
	close(efd);
}

/*
 * MSI or MSI-X with @n vectors: each vector's own eventfd fires once when
 * the device raises it; the edu raise register sends vector 0; a vector
 * cleared with fd -1 stays silent; after disable nothing fires.
 */
static void check_msi(uint32_t index, uint32_t n, const char *name)
{
	int efd[MAXV], cap = find_cap(index == VFIO_PCI_MSI_IRQ_INDEX ? PCI_CAP_ID_MSI :
									  PCI_CAP_ID_MSIX);
	int32_t fds[MAXV], none = -1;
	unsigned int fired = 0, after = 0;
	uint64_t zero;

	CHECK(cap, "%s capability", name);
	for (uint32_t i = 0; i < n; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		CHECK(efd[i] >= 0, "eventfd");
		fds[i] = efd[i];
	}
	CHECK(!set_efds(index, 0, n, fds), "SET_IRQS %s", name);
	for (uint32_t i = 0; i < n; i++)
		bar0_write32(EDU_IRQ_VECTOR, i);
	for (uint32_t i = 0; i < n; i++)
		fired += efd_take(efd[i]) == 1;
	bar0_write32(EDU_IRQ_RAISE, 0x100);
	zero = efd_take(efd[0]);
	CHECK(!set_efds(index, 1, 1, &none), "clear vector 1");
	bar0_write32(EDU_IRQ_VECTOR, 1);
	CHECK(efd_take(efd[1]) == 0, "a cleared vector fired");
	if (index == VFIO_PCI_MSIX_IRQ_INDEX)
		CHECK(cfg16(cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE, "MSI-X Enable");
	else
		CHECK((uint32_t)((cfg16(cap + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_QMASK) >> 1) ==
			      (uint32_t)__builtin_ctz(n),
		      "MSI Multiple Message Capable after enable");
	CHECK(!disable(index), "disable %s", name);
	for (uint32_t i = 0; i < n; i++) {
		bar0_write32(EDU_IRQ_VECTOR, i);
		after += efd_take(efd[i]) != 0;
		close(efd[i]);
	}
	printf("%s: %u of %u vectors fired once, raise register -> vector 0 %llu, cleared vector "
	       "silent, disabled %u\n",
	       name, fired, n, (unsigned long long)zero, after);
	CHECK(fired == n && zero == 1 && after == 0, "%s sequence", name);
	bar0_write32(EDU_IRQ_ACK, ~0U);
}

int main(void)
{
	struct vfio_region_info cfg = {.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX};
	struct vfio_region_info bar0 = {.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX};
	uint32_t fi, fm, fx, ni, nm, nx;
	struct vfio_dev d;
	uint32_t v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (vfio_setup(BDF, &d))
		return 2;
	device = d.device;
	CHECK(!ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &cfg), "config region");
	CHECK(!ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &bar0) && bar0.size >= 4096, "BAR0");
	cfg_off = cfg.offset;
	bar0_off = bar0.offset;

	ni = irq_count(VFIO_PCI_INTX_IRQ_INDEX, &fi);
	nm = irq_count(VFIO_PCI_MSI_IRQ_INDEX, &fm);
	nx = irq_count(VFIO_PCI_MSIX_IRQ_INDEX, &fx);
	printf("irq info: intx %u%s%s, msi %u, msix %u%s\n", ni,
	       fi & VFIO_IRQ_INFO_MASKABLE ? " maskable" : "",
	       fi & VFIO_IRQ_INFO_AUTOMASKED ? " automasked" : "", nm, nx,
	       fx & VFIO_IRQ_INFO_NORESIZE ? " noresize" : "");
	CHECK(ni == 1 && (fi & VFIO_IRQ_INFO_EVENTFD) && nm >= 1 && nm <= MAXV && nx >= 2 &&
		      nx <= MAXV,
	      "IRQ counts (want MSI and MSI-X of at most %d vectors)", MAXV);

	check_bad_set_irqs(nx);
	check_intx();
	/* MSI and MSI-X are memory writes of the device: Bus Master on. */
	cfg_w16(PCI_COMMAND, cfg16(PCI_COMMAND) | PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
	check_msi(VFIO_PCI_MSI_IRQ_INDEX, nm, "msi");
	check_msi(VFIO_PCI_MSIX_IRQ_INDEX, nx, "msix");

	/* Memory decode off: the doorbell write itself fails, nothing raised. */
	cfg_w16(PCI_COMMAND, cfg16(PCI_COMMAND) & ~PCI_COMMAND_MEMORY);
	v = 1;
	errno = 0;
	CHECK(pwrite(device, &v, 4, (off_t)(bar0_off + EDU_IRQ_RAISE)) == -1 && errno == EIO,
	      "doorbell with decode off");
	printf("decode off: doorbell pwrite %s\n", ename(errno));
	cfg_w16(PCI_COMMAND, cfg16(PCI_COMMAND) | PCI_COMMAND_MEMORY);

	vfio_teardown(&d);
	printf("RESULT: ok\n");
	return 0;
}
