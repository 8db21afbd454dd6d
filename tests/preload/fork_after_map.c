// SPDX-License-Identifier: GPL-2.0-only
/*
 * fork() after MAP_DMA, the way the kernel defines it: the child's memory
 * is a copy-on-write copy of the parent's, except that a page pinned for
 * DMA stays with the parent (the child gets a copy at fork); the child
 * inherits the container and device fds (the same open files: its
 * UNMAP_DMA removes the parent's mapping); MADV_DONTFORK memory is not in
 * the child at all; a zap of the device's BAR by the parent (memory
 * decode off) reaches the child's mapping before the parent's config
 * write returns.  The device is the loopback DMA engine in BAR0 (a
 * 32-byte descriptor pwrite: source iova, destination iova, length, 1).
 * An ordinary program: system headers only.
 */
#include <linux/pci_regs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"
#define LEN (64UL << 10)
#define IOVA_A 0x10000000ULL /* buf: pinned, the pattern the device must see */
#define IOVA_B 0x20000000ULL /* small: the child unmaps it */
#define IOVA_DST 0x30000000ULL

static struct vfio_region_info bar0 = {.argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX};
static struct vfio_region_info cfg = {.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX};
static sigjmp_buf env;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(env, 1);
}

/* The grandchild's SIGSEGV, whoever else (a sanitizer) would handle it. */
static void on_sigsegv(int sig)
{
	(void)sig;
	_exit(11);
}

/* 1 if reading *p raised SIGBUS. */
static int read_sigbus(volatile unsigned char *p)
{
	struct sigaction sa = {.sa_handler = on_sigbus};

	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGBUS, &sa, NULL), "sigaction SIGBUS");
	if (sigsetjmp(env, 1))
		return 1;
	(void)*p;
	return 0;
}

static void set_decode(int device, bool on)
{
	uint16_t cmd;

	CHECK(pread(device, &cmd, 2, (off_t)(cfg.offset + PCI_COMMAND)) == 2, "read PCI_COMMAND");
	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
	CHECK(pwrite(device, &cmd, 2, (off_t)(cfg.offset + PCI_COMMAND)) == 2, "PCI_COMMAND");
}

static int dma_copy(int device, uint64_t src, uint64_t dst, uint64_t len)
{
	uint64_t desc[4] = {src, dst, len, 1};

	return pwrite(device, desc, sizeof(desc), (off_t)bar0.offset) == sizeof(desc) ? 0 : -1;
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 13 + seed);
}

static int check(const unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(i * 13 + seed))
			return 0;
	return 1;
}

static void *anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED, "mmap %zu", len);
	return p;
}

static int wait_for(pid_t pid)
{
	int st;

	CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
	return st;
}

/* Before any VFIO use or mapping: a plain fork, the child's memory its own. */
static void early_fork(void)
{
	static unsigned char p[8192];
	pid_t pid;
	int st;

	fill(p, 8192, 40);
	pid = fork();
	CHECK(pid >= 0, "early fork");
	if (!pid) {
		unsigned char *q = anon(4096);

		fill(q, 4096, 41);
		_exit(check(p, 8192, 40) && check(q, 4096, 41) ? 0 : 1);
	}
	st = wait_for(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "early child status %#x", st);
	printf("early fork (no VFIO yet): child ran, exit 0\n");
}

/* The child: what it sees of the parent's memory, and what it may do. */
static void child(struct vfio_dev *d, unsigned char *buf, unsigned char *cow, unsigned char *df,
		  volatile unsigned char *bar, int go, int back)
{
	char c;
	pid_t pid;
	int st;

	/* COW shares the fork-time bytes, even those of a pinned page. */
	CHECK(check(buf, LEN, 1), "child reads the parent's pinned buffer");
	CHECK(read(go, &c, 1) == 1, "wait for the parent's write");
	CHECK(check(cow, 8192, 7), "child still sees the fork-time bytes after the parent wrote");
	printf("child: reads the patterns of the parent as of fork: ok\n");

	fill(buf, LEN, 2);
	fill(cow, 8192, 9);
	CHECK(check(buf, LEN, 2) && check(cow, 8192, 9), "child reads back its writes");
	/* Through the inherited device fd: the device reads the parent's page. */
	CHECK(!dma_copy(d->device, IOVA_A, IOVA_DST, LEN), "child-driven DMA A -> DST");
	printf("child: wrote its own pattern, DMA through the inherited device fd: ok\n");

	CHECK(dma_unmap(d->container, IOVA_B, 16384) == 16384, "child UNMAP_DMA B");
	printf("child: UNMAP_DMA of iova B through the inherited container: 16384 bytes\n");

	/* The BAR is a shared mapping: both see each other's bytes. */
	CHECK(bar[0x1000] == 0xa1, "child reads the BAR byte of the parent");
	bar[0x1004] = 0xc4;
	CHECK(write(back, "t", 1) == 1 && read(go, &c, 1) == 1, "decode off handshake");
	/* The parent turned decode off: the zap reached this mapping already. */
	CHECK(read_sigbus(bar + 0x1000), "child BAR touch after decode off: no SIGBUS");
	printf("child: BAR zapped by decode off in the parent: SIGBUS\n");

	/* A grandchild: a fork of a fork sees the child's bytes, has no DONTFORK memory. */
	pid = fork();
	CHECK(pid >= 0, "fork grandchild");
	if (!pid) {
		if (!check(buf, LEN, 2) || !check(cow, 8192, 9))
			_exit(3);
		/* Not in this process: SIGSEGV. */
		signal(SIGSEGV, on_sigsegv);
		*(volatile unsigned char *)df = 1;
		_exit(4);
	}
	st = wait_for(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 11, "grandchild status %#x", st);
	printf("child: grandchild saw the bytes of the child; MADV_DONTFORK memory: SIGSEGV\n");
	exit(0);
}

int main(void)
{
	unsigned char *buf, *small, *dst, *cow, *df;
	volatile unsigned char *bar;
	struct vfio_dev d;
	int go[2], back[2], st;
	char c;
	pid_t pid;

	setvbuf(stdout, NULL, _IONBF, 0);
	early_fork();
	if (vfio_setup(BDF, &d))
		return 2;
	CHECK(!ioctl(d.device, VFIO_DEVICE_GET_REGION_INFO, &bar0), "REGION_INFO BAR0");
	CHECK(!ioctl(d.device, VFIO_DEVICE_GET_REGION_INFO, &cfg), "REGION_INFO config");
	bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.device,
		   (off_t)bar0.offset);
	CHECK(bar != MAP_FAILED, "mmap BAR0");
	bar[0x1000] = 0xa1;
	buf = anon(LEN);
	small = anon(16384);
	dst = anon(LEN);
	cow = anon(8192);
	df = anon(4096);
	fill(buf, LEN, 1);
	fill(cow, 8192, 7);
	fill(df, 4096, 5);
	CHECK(!dma_map(d.container, buf, IOVA_A, LEN), "MAP_DMA buf");
	CHECK(!dma_map(d.container, small, IOVA_B, 16384), "MAP_DMA small");
	CHECK(!dma_map(d.container, dst, IOVA_DST, LEN), "MAP_DMA dst");
	CHECK(!madvise(df, 4096, MADV_DONTFORK), "MADV_DONTFORK");
	CHECK(!pipe(go) && !pipe(back), "pipe");

	pid = fork();
	CHECK(pid >= 0, "fork");
	if (!pid) {
		close(go[1]);
		close(back[0]);
		child(&d, buf, cow, df, bar, go[0], back[1]);
	}
	close(go[0]);
	close(back[1]);
	/* After the fork: the parent's write is its own (COW broken here). */
	fill(cow, 8192, 8);
	CHECK(write(go[1], "g", 1) == 1, "release the child");
	CHECK(read(back[0], &c, 1) == 1, "child touched the BAR");
	CHECK(bar[0x1004] == 0xc4, "parent sees the BAR byte the child wrote");
	set_decode(d.device, false);
	CHECK(write(go[1], "o", 1) == 1, "decode is off");
	st = wait_for(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	set_decode(d.device, true);
	CHECK(bar[0x1000] == 0xa1 && bar[0x1004] == 0xc4, "BAR bytes after decode on");
	printf("parent: BAR shared with the child, decode back on: bytes kept\n");

	CHECK(check(buf, LEN, 1) && check(cow, 8192, 8), "parent's bytes after the child wrote");
	CHECK(check(dst, LEN, 1), "the device read the PARENT's bytes of the pinned page");
	printf("parent: writes of the child not seen; the device saw the bytes of the parent: ok\n");

	/* The pinned page is still the parent's: its new bytes reach the device. */
	fill(buf, LEN, 3);
	CHECK(!dma_copy(d.device, IOVA_A, IOVA_DST, LEN), "parent DMA A -> DST");
	CHECK(check(dst, LEN, 3), "parent write after fork reaches the device");
	printf("parent: writes to the pinned page after fork reach the device: ok\n");

	CHECK(dma_copy(d.device, IOVA_B, IOVA_DST, 4096) < 0 && errno == EIO, "DMA to iova B");
	CHECK(dma_unmap(d.container, IOVA_B, 16384) == 0, "iova B already unmapped");
	printf("parent: UNMAP_DMA by the child is seen: iova B faults, nothing left to unmap\n");
	CHECK(check(df, 4096, 5), "DONTFORK memory intact in the parent");
	printf("parent: MADV_DONTFORK memory kept: ok\n");

	CHECK(!munmap((void *)bar, bar0.size), "munmap BAR0");
	CHECK(dma_unmap(d.container, IOVA_A, LEN) == (long long)LEN, "UNMAP A");
	CHECK(dma_unmap(d.container, IOVA_DST, LEN) == (long long)LEN, "UNMAP DST");
	vfio_teardown(&d);
	printf("RESULT: ok\n");
	return 0;
}
