// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPU access to a BAR follows the device's memory decode, as with vfio-pci:
 * clearing PCI_COMMAND_MEMORY through the config region zaps the BAR's
 * mappings (vfio_basic_config_write() -> vfio_pci_zap_bars()), so the next
 * touch faults and gets SIGBUS (vfio_pci_mmap_huge_fault()); setting it
 * again lets the next touch fault the BAR back in, its bytes intact.  A
 * reset zaps too.  An ordinary program: system headers only.
 */
#include <linux/pci_regs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"

static sigjmp_buf env;
static volatile sig_atomic_t sigbus_count;
static void *volatile sigbus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	sigbus_count++;
	sigbus_addr = si->si_addr;
	siglongjmp(env, 1);
}

/* 1 if reading *p raised SIGBUS, else 0 and the byte in *out. */
static int read_faults(volatile unsigned char *p, unsigned char *out)
{
	if (sigsetjmp(env, 1))
		return 1;
	*out = *p;
	return 0;
}

static uint16_t cfg_command(int device, uint64_t cfg_off)
{
	uint16_t cmd;

	CHECK(pread(device, &cmd, 2, (off_t)(cfg_off + PCI_COMMAND)) == 2, "read PCI_COMMAND");
	return cmd;
}

static void cfg_set_command(int device, uint64_t cfg_off, uint16_t cmd)
{
	CHECK(pwrite(device, &cmd, 2, (off_t)(cfg_off + PCI_COMMAND)) == 2, "write PCI_COMMAND");
}

int main(void)
{
	struct vfio_region_info bar0 = {.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX};
	struct vfio_region_info cfg = {.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX};
	static const size_t offs[] = {0, 0x1000, 0x200000, 0x3ff000};
	struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
	unsigned char *bar, byte = 0;
	struct vfio_dev d;
	uint16_t cmd;
	uint32_t word;

	setvbuf(stdout, NULL, _IONBF, 0);
	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGBUS, &sa, NULL), "sigaction SIGBUS");
	if (vfio_setup(BDF, &d))
		return 2;
	CHECK(!ioctl(d.device, VFIO_DEVICE_GET_REGION_INFO, &bar0), "REGION_INFO BAR0");
	CHECK(!ioctl(d.device, VFIO_DEVICE_GET_REGION_INFO, &cfg), "REGION_INFO config");
	CHECK(bar0.size >= (4UL << 20), "BAR0 of at least 4M");
	bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.device,
		   (off_t)bar0.offset);
	CHECK(bar != MAP_FAILED, "mmap BAR0");

	cmd = cfg_command(d.device, cfg.offset);
	CHECK(cmd & PCI_COMMAND_MEMORY, "decode on at start (cmd %#x)", cmd);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		bar[offs[i]] = (unsigned char)(0xa0 + i);
	CHECK(pread(d.device, &word, 4, (off_t)(bar0.offset + 0x1000)) == 4 &&
		      (word & 0xff) == 0xa1,
	      "BAR pread sees the CPU's write (%#x)", word);
	printf("decode on: cpu writes, BAR pread agrees\n");

	/* Decode off: the BAR's mappings are zapped, every touch SIGBUSes. */
	cfg_set_command(d.device, cfg.offset, cmd & ~PCI_COMMAND_MEMORY);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		CHECK(read_faults(bar + offs[i], &byte), "touch at %#zx with decode off: no SIGBUS",
		      offs[i]);
		CHECK(sigbus_addr == bar + offs[i], "SIGBUS address");
	}
	CHECK(pread(d.device, &word, 4, (off_t)bar0.offset) < 0 && errno == EIO,
	      "BAR pread with decode off");
	printf("decode off: %d touches SIGBUS, BAR pread EIO\n", (int)sigbus_count);

	/* Decode on again: the touches fault the BAR back, bytes unchanged. */
	cfg_set_command(d.device, cfg.offset, cmd);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		CHECK(!read_faults(bar + offs[i], &byte), "touch at %#zx with decode on", offs[i]);
		CHECK(byte == 0xa0 + i, "byte at %#zx after refault: %#x", offs[i], byte);
	}
	printf("decode on again: refault, bytes kept\n");

	/* A reset zaps too; the mapping faults back in with decode still on. */
	CHECK(!ioctl(d.device, VFIO_DEVICE_RESET), "VFIO_DEVICE_RESET");
	bar[0x2000] = 0x5a;
	CHECK(pread(d.device, &word, 4, (off_t)(bar0.offset + 0x2000)) == 4 &&
		      (word & 0xff) == 0x5a,
	      "BAR pread after reset sees the CPU's write (%#x)", word);
	printf("reset: refault ok\n");
	CHECK(!munmap(bar, bar0.size), "munmap BAR0");
	vfio_teardown(&d);
	printf("RESULT: ok\n");
	return 0;
}
