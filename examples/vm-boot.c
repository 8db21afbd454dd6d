// SPDX-License-Identifier: GPL-2.0-only
/*
 * vm-boot: what QEMU does with VFIO when it boots a guest with assigned
 * devices, against the simulated kernel, through the public API only.
 *
 * Per boot (one VMM process per boot; the host machine and its devices stay):
 *  1. open /dev/vfio/vfio and each device's group, VFIO_GROUP_SET_CONTAINER,
 *     VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU), VFIO_IOMMU_GET_INFO: the guest
 *     layout must fit the IOVA_RANGE capability (QEMU's
 *     vfio_get_info_iova_range());
 *  2. mmap guest RAM (4K, THP, hugetlb 2M or 1G) and map it for DMA in the
 *     layout of a PC machine: [0, min(RAM, 3 GiB)) at IOVA 0, the rest at
 *     4 GiB.  The 32-bit hole [3 GiB, 4 GiB) holds the x86 MSI window
 *     0xfee00000-0xfeefffff, which the IOMMU reserves;
 *  3. per device: VFIO_GROUP_GET_DEVICE_FD, VFIO_DEVICE_GET_INFO,
 *     VFIO_DEVICE_GET_REGION_INFO per BAR, mmap of each mmap-able BAR through
 *     the device fd, VFIO_DEVICE_RESET (QEMU's reset at machine start);
 *  4. map every BAR for DMA at its guest-physical address, as QEMU's memory
 *     listener does for RAM-device regions (peer-to-peer): a GPU's large
 *     prefetchable BAR at 2 TiB (the 0x020000000000 of seeds/01), the other
 *     BARs upwards from 1 TiB in a 64-bit MMIO window;
 *  5. guest PCI enumeration: per device, several times, memory decode off
 *     (a PCI_COMMAND write without MEMORY through the config region, which
 *     zaps the BAR mappings: vfio_pci_zap_bars()), VFIO_IOMMU_UNMAP_DMA of
 *     the BARs, decode on, VFIO_IOMMU_MAP_DMA again, which faults the BARs
 *     back in — QEMU's vfio_pci_write_config() order: the device first,
 *     then pci_update_mappings();
 *  6. the guest runs for a while with its BARs mapped; then a monitoring
 *     task reads the VMM's numa_maps once itself;
 *     with --balloon MIB, first a virtio-balloon inflation: the VMM discards
 *     that much guest RAM with madvise(MADV_DONTNEED) while it is mapped for
 *     DMA, the guest deflates and writes it again, a device DMA-writes into
 *     it, and the guest reads it back: the device wrote the old pages, still
 *     pinned, the guest sees new zero pages.  The DMA checker reports each
 *     such write as a coherency violation.  This is why QEMU refuses
 *     discards while VFIO holds guest RAM: vfio_connect_container() (6.x:
 *     hw/vfio/common.c; 8.2+: hw/vfio/container.c) calls
 *     ram_block_discard_disable(true), and virtio-balloon then does not
 *     discard (virtio_balloon_inhibited() / ram_block_discard_is_disabled()
 *     in hw/virtio/virtio-balloon.c);
 *  7. teardown: device fds, VFIO_GROUP_UNSET_CONTAINER, group and container
 *     fds (the last container reference removes every mapping), munmap.
 *
 * A numa_maps reader (the seeds/01 monitoring thread) reads the VMM's
 * /proc/<pid>/numa_maps the whole time; a zap/refault injector can fire in
 * the background.  With the pre-fix walker the reader can die in a read
 * (the seeds/01 oops) and keep the VMM's mmap_lock; with the fixed walker
 * and LEGACY policy a BAR MAP_DMA can fail with EINVAL (seeds/03).  Free
 * threads hit those windows rarely; --zap-after-fixup and
 * --refault-after-split put a seeded injector rule in each window, so that
 * a run reproduces the race on demand.  The reader stops before the
 * teardown (stop_reader() says why).
 *
 * Simplifications, against QEMU: no legacy holes below 1 MiB (VGA, option
 * ROMs) in the RAM layout, no MSI-X table trapping (the whole BAR is mapped),
 * BARs are programmed at fixed addresses instead of by guest firmware, and
 * 64-bit BARs take one BAR index (the simulated device has no upper halves).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/mman.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <pinsim/pinsim.h>

static const char *prog = "vm-boot";

#include "example_util.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

#define LOWMEM_END (3 * GiB)		/* RAM below the 32-bit PCI hole */
#define HIGHMEM_START (4 * GiB)
#define MMIO64_BASE (1 * TiB)		/* small 64-bit BARs */
#define GPU_BAR_BASE (2 * TiB)		/* large GPU BARs (seeds/01: 0x020000000000) */
#define MAX_DEVS 8
#define NR_BARS 6
#define MAX_ERRNO 256

enum backing { BACK_4K, BACK_THP, BACK_2M, BACK_1G };
static const char *const backing_name[] = { "4k", "thp", "2m", "1g" };
static const char *const backing_desc[] = { "4K anonymous", "THP (madvise)", "hugetlb 2M",
					    "hugetlb 1G" };
static const uint64_t backing_page[] = { 4 * KiB, 2 * MiB, 2 * MiB, GiB };

enum dev_kind { DEV_GPU, DEV_NIC };

static const char *const policy_name[] = { "legacy", "eagain", "bounded", "enoent" };

struct options {
	uint64_t ram;
	enum backing backing;
	uint64_t gpu_bar, gpu_regs, nic_bar, nic_msix;
	enum dev_kind kinds[MAX_DEVS];
	int nr_devs;
	char devices_arg[64];
	enum pinsim_retry_policy policy;
	unsigned int retry_bound;
	char kernel[32];		/* --kernel */
	bool kernel_set;		/* --kernel given */
	enum pinsim_impl impl;		/* --impl */
	int walker_fixed;		/* --walker: -1 the profile's, else the override */
	bool reader;
	unsigned int reader_interval_us;
	unsigned long boots;
	unsigned int toggles;
	unsigned int guest_run_ms;
	uint64_t seed;
	double injector_rate;
	double zap_after_fixup, refault_after_split;	/* rule probabilities */
	bool json, quiet;
	const char *json_path;		/* --json[=FILE]: "-" is stdout */
	unsigned int watchdog_s;	/* 0: the default, scaled with --ram */
	bool teardown_after_oops;
	uint64_t balloon;		/* --balloon: bytes of guest RAM to discard */
};

/* A device of the host, and what one boot's VMM holds of it. */
struct device {
	enum dev_kind kind;
	char name[32];			/* PCI address, the GET_DEVICE_FD name */
	uint64_t bar_size[NR_BARS];
	uint64_t gpa[NR_BARS];		/* guest-physical BAR address = IOVA */
	int group_id;
	/* per boot */
	int group_fd, device_fd;
	uint64_t bar_va[NR_BARS];	/* 0: not mmapped */
	uint64_t bar_len[NR_BARS];
};

struct totals {
	unsigned long boots, boots_ok, boots_failed;
	unsigned long mappings, map_failures, unmaps;
	unsigned long by_errno[MAX_ERRNO];
	uint64_t map_ns, unmap_ns, max_boot_map_ns;
	uint64_t retries, follow_failures, faults;
	unsigned long walker_reads;
	unsigned long injector_fires;
	unsigned long zaps_after_fixup, refaults_after_split;
	uint64_t oopses;
	char oops[512];
	bool hung;
	char first_failure[160];
	char reason[1536];
	int exit_status;
	bool watchdog_fired;
	struct ex_stall_info stall;	/* the watchdog's verdict */
	uint64_t balloon_discarded;	/* bytes MADV_DONTNEED'd by --balloon */
	unsigned long balloon_dma_writes, balloon_lost;	/* writes the guest did not see */
	unsigned long coherency_violations;	/* the DMA checker's reports */
	char first_violation[512];
	char stall_loop[512];		/* a livelock's retry loop and counters */
};

/* One boot: the VMM process and its VFIO state. */
struct boot {
	unsigned long n;
	struct pinsim_proc *p;
	int container;
	uint64_t ram_va;
	uint64_t map_ns;
	bool failed;		/* a MAP_DMA failed: the guest would not work */
	bool fatal;		/* an oops, a hang, or a setup error: stop booting */
	struct pinsim_walker *walker;
	struct pinsim_injector *inj[2];
	int nr_inj;
	int zap_rule[MAX_DEVS], refault_rule;	/* -1: none */
};

static struct options opt;
static struct device devs[MAX_DEVS];
static struct totals tot;
static struct pinsim *sim;
static struct pinsim_config hostcfg;	/* what the machine was created with */
static FILE *vmlog;		/* the QEMU-style log: stdout, or stderr with --json */
static FILE *json_out;		/* --json's output, opened before any work */

static void wd_watch(struct pinsim_proc *p, const int *zap_rules);

static const char *errno_name(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "E?";
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;

	if (opt.quiet)
		return;
	va_start(ap, fmt);
	vfprintf(vmlog, fmt, ap);
	va_end(ap);
}

/* A reason for a non-zero exit; the first one wins, later ones are appended. */
static void fail_reason(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_reason(int status, const char *fmt, ...)
{
	size_t len = strlen(tot.reason);
	va_list ap;

	if (tot.exit_status < status)
		tot.exit_status = status;
	if (len && len < sizeof(tot.reason) - 3) {
		strcat(tot.reason, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(tot.reason + len, sizeof(tot.reason) - len, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* Argument parsing                                                       */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: vm-boot [options]\n"
"Boots a VM with VFIO device assignment against the simulated kernel, the way\n"
"QEMU does: container and groups, type1v2 IOMMU, guest RAM and device BARs\n"
"mapped for DMA, guest PCI enumeration toggling memory decode, teardown.\n"
"\n"
"  --ram SIZE            guest RAM (default 16G); SIZE takes K, M, G, T suffixes\n"
"  --backing KIND        4k | thp | 2m | 1g (hugetlb; default 1g); the host's\n"
"                        hugetlb pool is sized to the RAM\n"
"  --devices LIST        comma-separated gpu, nic (default gpu,nic), or none\n"
"  --gpu-bar SIZE        the GPU's prefetchable BAR1 (default 32G), at IOVA 2 TiB\n"
"  --gpu-regs SIZE       the GPU's register BAR0 (default 16M)\n"
"  --nic-bar SIZE        the NIC's BAR0 (default 128K; BAR3, MSI-X, is 16K)\n"
"  --policy P            follow_fault_pfn() retry policy: legacy | eagain |\n"
"                        bounded | enoent (default legacy, today's kernel)\n"
"  --retry-bound N       bounded: rounds before EBUSY (default 8)\n");
	ex_kernel_help(f, 24, NULL);
	ex_impl_help(f, 24);
	fprintf(f,
"  --walker W            page walker: fixed (9b25a6e3d243) | prefix (before the\n"
"                        March 2026 fix); default: the --kernel profile's.  An\n"
"                        override of its pagewalk_fixed switch, applied after\n"
"                        --kernel whatever the order (the kernel line then says\n"
"                        'modified')\n"
"  --reader-interval US  pause of the numa_maps reader between reads (default\n"
"                        10000, a monitoring agent at 100 Hz; 0 = back to back)\n"
"  --no-reader           no numa_maps reader\n"
"  --boots N             boots in a row, each a new VMM process (default 1)\n"
"  --toggles N           memory decode toggles per device (default 3)\n"
"  --guest-run MS        the guest runs this long after enumeration, BARs mapped\n"
"                        (default 20); then the monitor reads numa_maps once more\n"
"  --seed S              seed of the injector (default 1)\n"
"  --injector-rate HZ    background ZAP_BARS and REFAULT injectors on the first\n"
"                        device's largest BAR, HZ firings per second each\n"
"                        (default 0: none)\n"
"  --zap-after-fixup P   race on demand (seeds/03): each time follow_fault_pfn()\n"
"                        has faulted a BAR in, zap the device's BARs before it\n"
"                        looks again, with probability P (seeded; 1 = lockstep)\n"
"  --refault-after-split P\n"
"                        race on demand (seeds/01): each time the reader's walk\n"
"                        has split a PUD, fault the address back in before it\n"
"                        descends, with probability P (seeded; with the fixed\n"
"                        walker use P < 1: at 1 its retry never ends)\n"
"  --watchdog SECONDS    stop after this long without progress (a MAP_DMA,\n"
"                        UNMAP_DMA or boot step done, pages pinned); default\n"
"                        60 + 1 per GiB of --ram.  It tells a livelock (CPU busy\n"
"                        in a retry loop: exit 4) from a task blocked on a lock\n"
"                        (who holds it: exit 3), then prints the summary and the\n"
"                        JSON of what completed.  --timeout is the same option\n"
"  --balloon MIB         after the devices are mapped, inflate a virtio-balloon of\n"
"                        MIB MiB: MADV_DONTNEED of mapped guest RAM (QEMU refuses\n"
"                        this with VFIO: ram_block_discard_disable()); the guest\n"
"                        deflates, a device DMA-writes there, the guest reads:\n"
"                        the DMA checker reports the coherency violations\n"
"  --teardown-after-oops after a task died holding the VMM's locks, tear the VMM\n"
"                        down anyway, as QEMU does at exit: its munmap blocks on\n"
"                        the dead task's mmap_lock (seeds/01) and the watchdog\n"
"                        reports who holds it\n"
"  --quiet               no per-mapping log (failures are still printed)\n"
"  --json[=FILE]         the JSON summary (version, kernel and its switches,\n"
"                        every option) to FILE, or stdout (then the log goes to\n"
"                        stderr) without FILE or with '-'\n"
"  --version             the program's and the library's version\n"
"  --help                this text\n"
"\n"
"Log: 'dma_map iova=0x... size=0x... vaddr=0x...' per mapping and\n"
"'dma_map FAILED iova=0x...: [Errno N] <strerror>' per failure (seeds/01, 03).\n"
"Exit status: 0 every boot succeeded; 1 a boot failed (a MAP_DMA error) or setup\n"
"failed; 2 bad arguments; 3 a simulated task oopsed or a task stayed blocked\n"
"(watchdog); 4 a livelock: a MAP_DMA retried without end (watchdog).\n");
}

static double parse_probability(const char *what, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 1))
		bad_arg("%s: '%s' is not a probability from 0 to 1", what, s);
	return v;
}

static int lookup(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static void parse_devices(const char *arg)
{
	char buf[sizeof(opt.devices_arg)], *save, *tok;

	if (strlen(arg) >= sizeof(buf))
		bad_arg("--devices: list too long");
	memcpy(opt.devices_arg, arg, strlen(arg) + 1);
	opt.nr_devs = 0;
	if (!strcmp(arg, "none"))
		return;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (opt.nr_devs == MAX_DEVS)
			bad_arg("--devices: at most %d devices", MAX_DEVS);
		if (!strcmp(tok, "gpu"))
			opt.kinds[opt.nr_devs++] = DEV_GPU;
		else if (!strcmp(tok, "nic"))
			opt.kinds[opt.nr_devs++] = DEV_NIC;
		else
			bad_arg("--devices: unknown device '%s' (gpu, nic, or none)", tok);
	}
	if (!opt.nr_devs)
		bad_arg("--devices: empty list (use 'none' for no device)");
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static void check_bar(const char *what, uint64_t v, uint64_t max)
{
	if (!is_pow2(v) || v < 4 * KiB || v > max)
		bad_arg("%s must be a power of two from 4K to %" PRIu64 "G", what, max >> 30);
}

static void parse_args(int argc, char **argv)
{
	enum { O_RAM = 256, O_BACKING, O_DEVICES, O_GPU_BAR, O_GPU_REGS, O_NIC_BAR, O_POLICY,
	       O_BOUND, O_KERNEL, O_IMPL, O_WALKER, O_READER_INT, O_NO_READER, O_BOOTS, O_TOGGLES, O_RUN,
	       O_SEED, O_RATE, O_ZAP_FIXUP, O_REFAULT_SPLIT, O_TIMEOUT, O_QUIET, O_JSON, O_VERSION, O_TEARDOWN_OOPS, O_BALLOON };
	static const struct option lopts[] = {
		{ "ram", required_argument, NULL, O_RAM },
		{ "backing", required_argument, NULL, O_BACKING },
		{ "devices", required_argument, NULL, O_DEVICES },
		{ "gpu-bar", required_argument, NULL, O_GPU_BAR },
		{ "gpu-regs", required_argument, NULL, O_GPU_REGS },
		{ "nic-bar", required_argument, NULL, O_NIC_BAR },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "retry-bound", required_argument, NULL, O_BOUND },
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "impl", required_argument, NULL, O_IMPL },
		{ "walker", required_argument, NULL, O_WALKER },
		{ "reader-interval", required_argument, NULL, O_READER_INT },
		{ "no-reader", no_argument, NULL, O_NO_READER },
		{ "boots", required_argument, NULL, O_BOOTS },
		{ "toggles", required_argument, NULL, O_TOGGLES },
		{ "guest-run", required_argument, NULL, O_RUN },
		{ "seed", required_argument, NULL, O_SEED },
		{ "injector-rate", required_argument, NULL, O_RATE },
		{ "zap-after-fixup", required_argument, NULL, O_ZAP_FIXUP },
		{ "refault-after-split", required_argument, NULL, O_REFAULT_SPLIT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "watchdog", required_argument, NULL, O_TIMEOUT },
		{ "teardown-after-oops", no_argument, NULL, O_TEARDOWN_OOPS },
		{ "balloon", required_argument, NULL, O_BALLOON },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "json", optional_argument, NULL, O_JSON },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long v;
	char *end;
	int c, i;

	opt = (struct options){
		.ram = 16 * GiB, .backing = BACK_1G,
		.gpu_bar = 32 * GiB, .gpu_regs = 16 * MiB, .nic_bar = 128 * KiB,
		.nic_msix = 16 * KiB,
		.policy = PINSIM_RETRY_LEGACY, .retry_bound = 8, .kernel = EX_KERNEL_DEFAULT,
		.walker_fixed = -1,
		.reader = true, .reader_interval_us = 10000, .boots = 1, .toggles = 3,
		.guest_run_ms = 20,
		.seed = 1,
	};
	parse_devices("gpu,nic");
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		ex_check_value(lopts, c, argv);
		switch (c) {
		case O_RAM:
			if (!parse_size(optarg, &opt.ram))
				bad_arg("--ram: '%s' is not a size (e.g. 16G)", optarg);
			break;
		case O_BACKING:
			i = lookup(optarg, backing_name, 4);
			if (i < 0)
				bad_arg("--backing: '%s' is not one of 4k, thp, 2m, 1g", optarg);
			opt.backing = (enum backing)i;
			break;
		case O_DEVICES:
			parse_devices(optarg);
			break;
		case O_GPU_BAR:
			if (!parse_size(optarg, &opt.gpu_bar))
				bad_arg("--gpu-bar: '%s' is not a size", optarg);
			break;
		case O_GPU_REGS:
			if (!parse_size(optarg, &opt.gpu_regs))
				bad_arg("--gpu-regs: '%s' is not a size", optarg);
			break;
		case O_NIC_BAR:
			if (!parse_size(optarg, &opt.nic_bar))
				bad_arg("--nic-bar: '%s' is not a size", optarg);
			break;
		case O_POLICY:
			i = lookup(optarg, policy_name, 4);
			if (i < 0)
				bad_arg("--policy: '%s' is not one of legacy, eagain, "
					"bounded, enoent", optarg);
			opt.policy = (enum pinsim_retry_policy)i;
			break;
		case O_BOUND:
			if (!parse_ulong(optarg, 1000000, &v) || !v)
				bad_arg("--retry-bound: '%s' is not a number from 1 to 1000000",
					optarg);
			opt.retry_bound = (unsigned int)v;
			break;
		case O_KERNEL:
			ex_kernel_arg(optarg, opt.kernel, sizeof(opt.kernel));
			opt.kernel_set = true;
			break;
		case O_IMPL:
			opt.impl = ex_impl_arg(optarg);
			break;
		case O_WALKER:
			if (!strcmp(optarg, "fixed"))
				opt.walker_fixed = 1;
			else if (!strcmp(optarg, "prefix") || !strcmp(optarg, "pre-fix"))
				opt.walker_fixed = 0;
			else
				bad_arg("--walker: '%s' is not one of fixed, prefix", optarg);
			break;
		case O_READER_INT:
			if (!parse_ulong(optarg, 10000000, &v))
				bad_arg("--reader-interval: '%s' is not a number of microseconds "
					"up to 10000000", optarg);
			opt.reader_interval_us = (unsigned int)v;
			break;
		case O_NO_READER:
			opt.reader = false;
			break;
		case O_BOOTS:
			if (!parse_ulong(optarg, 100000000, &opt.boots) || !opt.boots)
				bad_arg("--boots: '%s' is not a number from 1", optarg);
			break;
		case O_TOGGLES:
			if (!parse_ulong(optarg, 1000, &v))
				bad_arg("--toggles: '%s' is not a number from 0 to 1000", optarg);
			opt.toggles = (unsigned int)v;
			break;
		case O_RUN:
			if (!parse_ulong(optarg, 3600000, &v))
				bad_arg("--guest-run: '%s' is not a number of ms", optarg);
			opt.guest_run_ms = (unsigned int)v;
			break;
		case O_SEED:
			errno = 0;
			opt.seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || *optarg == '-')
				bad_arg("--seed: '%s' is not an unsigned number", optarg);
			break;
		case O_RATE:
			errno = 0;
			opt.injector_rate = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt.injector_rate >= 0) ||
			    opt.injector_rate > 1e7)
				bad_arg("--injector-rate: '%s' is not a rate from 0 to 1e7 Hz",
					optarg);
			break;
		case O_ZAP_FIXUP:
			opt.zap_after_fixup = parse_probability("--zap-after-fixup", optarg);
			break;
		case O_REFAULT_SPLIT:
			opt.refault_after_split = parse_probability("--refault-after-split",
								    optarg);
			break;
		case O_TIMEOUT:
			if (!parse_ulong(optarg, 864000, &v) || !v)
				bad_arg("--watchdog: '%s' is not a number of seconds from 1",
					optarg);
			opt.watchdog_s = (unsigned int)v;
			break;
		case O_BALLOON:
			if (!parse_ulong(optarg, 1UL << 24, &v) || !v)
				bad_arg("--balloon: '%s' is not a number of MiB from 1", optarg);
			opt.balloon = (uint64_t)v * MiB;
			break;
		case O_TEARDOWN_OOPS:
			opt.teardown_after_oops = true;
			break;
		case O_VERSION:
			ex_version();
		case O_QUIET:
			opt.quiet = true;
			break;
		case O_JSON:
			opt.json = true;
			opt.json_path = optarg ? optarg : "-";
			if (!*opt.json_path)
				bad_arg("option --json= needs a file name (or '-')");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			ex_getopt_error(c, argv);
		}
	}
	if (optind < argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	ex_impl_policy_check(opt.impl, opt.policy == PINSIM_RETRY_LEGACY ? NULL :
				       policy_name[opt.policy]);
	/* The tree's retry is its source's, as its profile declares it. */
	if (opt.impl == PINSIM_IMPL_TREE)
		opt.policy = ex_impl_tree_policy();
	if (!opt.kernel_set && ex_impl_kernel(opt.impl))
		snprintf(opt.kernel, sizeof(opt.kernel), "%s", ex_impl_kernel(opt.impl));

	if (opt.ram < backing_page[opt.backing] || opt.ram % backing_page[opt.backing])
		bad_arg("--ram must be a non-zero multiple of the backing page size (%" PRIu64
			" KiB for --backing %s)", backing_page[opt.backing] >> 10,
			backing_name[opt.backing]);
	if (opt.ram > 512 * GiB)
		bad_arg("--ram: at most 512G");
	check_bar("--gpu-bar", opt.gpu_bar, TiB);
	check_bar("--gpu-regs", opt.gpu_regs, 64 * GiB);
	check_bar("--nic-bar", opt.nic_bar, 64 * GiB);
	if (opt.balloon && !opt.nr_devs)
		bad_arg("--balloon needs a device (--devices): the device's DMA is the point");
	if (opt.balloon % backing_page[opt.backing])
		bad_arg("--balloon must be a multiple of the backing page size (%" PRIu64
			" KiB for --backing %s): MADV_DONTNEED of hugetlb memory takes whole "
			"huge pages", backing_page[opt.backing] >> 10, backing_name[opt.backing]);
	if (opt.balloon && opt.balloon > (opt.ram < LOWMEM_END ? opt.ram : LOWMEM_END) / 2)
		bad_arg("--balloon: at most half of the guest's low RAM (below 3 GiB)");
	if ((opt.injector_rate > 0 || opt.zap_after_fixup > 0) && !opt.nr_devs)
		bad_arg("--injector-rate and --zap-after-fixup need a device (--devices)");
	if (opt.refault_after_split > 0 && !opt.reader)
		bad_arg("--refault-after-split needs the numa_maps reader (no --no-reader)");
	/* Pinning and freeing scale with the RAM: so does the default limit. */
	if (!opt.watchdog_s)
		opt.watchdog_s = 60 + (unsigned int)(opt.ram >> 30);
}

/* ---------------------------------------------------------------------- */
/* The host: machine and devices                                          */
/* ---------------------------------------------------------------------- */

/*
 * Guest-physical BAR addresses, as firmware would assign them: each GPU's
 * large BAR in its own naturally aligned slot from 2 TiB, every other BAR
 * packed upwards from 1 TiB, largest first so each is naturally aligned.
 */
static void assign_gpas(void)
{
	uint64_t next = MMIO64_BASE;
	int gpus = 0;

	for (int i = 0; i < opt.nr_devs; i++)
		if (devs[i].kind == DEV_GPU)
			devs[i].gpa[1] = GPU_BAR_BASE + (uint64_t)gpus++ * opt.gpu_bar;
	for (;;) {
		uint64_t best = 0;
		int bd = -1, bb = -1;

		for (int i = 0; i < opt.nr_devs; i++)
			for (int b = 0; b < NR_BARS; b++)
				if (devs[i].bar_size[b] > best && !devs[i].gpa[b]) {
					best = devs[i].bar_size[b];
					bd = i;
					bb = b;
				}
		if (bd < 0)
			break;
		next = (next + best - 1) & ~(best - 1);
		devs[bd].gpa[bb] = next;
		next += best;
	}
}

static int setup_host(void)
{
	struct pinsim_config cfg;

	pinsim_config_init(&cfg);
	ex_kernel_set(&cfg, opt.kernel);
	cfg.impl = opt.impl;
	/* Overrides of a profile's switches come after it. */
	if (opt.walker_fixed >= 0)
		cfg.pagewalk_fixed = opt.walker_fixed;
	/* Guest RAM plus 2 GiB for the host and the VMM's page tables. */
	cfg.ram_bytes = ((opt.ram + GiB - 1) & ~(GiB - 1)) + 2 * GiB;
	/*
	 * --balloon: the discarded pages stay pinned and the guest faults new
	 * ones in, so as much again (hugetlb: pool pages too).
	 */
	cfg.ram_bytes += (opt.balloon + GiB - 1) & ~(GiB - 1);
	if (opt.backing == BACK_2M)
		cfg.hugetlb_2m_pages = (opt.ram + opt.balloon) / (2 * MiB);
	if (opt.backing == BACK_1G)
		cfg.hugetlb_1g_pages = (opt.ram + opt.balloon) / GiB;
	cfg.retry_policy = opt.policy;
	/* The ENOENT policy comes with its follow_pfnmap_start() half (seeds/03). */
	cfg.follow_pfnmap_enoent = opt.policy == PINSIM_RETRY_ENOENT;
	cfg.retry_bound = opt.retry_bound;
	hostcfg = cfg;
	if (pinsim_create(&cfg, &sim)) {
		fprintf(stderr, "%s: pinsim_create: %s\n", prog, strerror(errno));
		return -1;
	}
	for (int i = 0; i < opt.nr_devs; i++) {
		struct device *d = &devs[i];
		struct pinsim_device_spec spec = { .iommu_unit = 0 };

		memset(d, 0, sizeof(*d));
		d->kind = opt.kinds[i];
		snprintf(d->name, sizeof(d->name), "0000:%02x:00.0", (unsigned int)(i + 1) & 0xff);
		if (d->kind == DEV_GPU) {
			/* Like NVIDIA GPUs: BAR0 registers, BAR1 the VRAM aperture. */
			d->bar_size[0] = opt.gpu_regs;
			d->bar_size[1] = opt.gpu_bar;
		} else {
			/* Like an Intel igb NIC: BAR0 registers, BAR3 the MSI-X table. */
			d->bar_size[0] = opt.nic_bar;
			d->bar_size[3] = opt.nic_msix;
		}
		spec.name = d->name;
		memcpy(spec.bar_size, d->bar_size, sizeof(spec.bar_size));
		if (pinsim_add_device(sim, &spec, &d->group_id)) {
			fprintf(stderr, "%s: pinsim_add_device %s: %s\n", prog, d->name,
				strerror(errno));
			return -1;
		}
	}
	assign_gpas();
	return 0;
}

static void print_config(void)
{
	logmsg("vm-boot: %" PRIu64 " MiB guest RAM on %s pages, %s walker, policy %s",
	       opt.ram >> 20, backing_desc[opt.backing],
	       hostcfg.pagewalk_fixed ? "fixed" : "pre-fix", policy_name[opt.policy]);
	if (opt.reader)
		logmsg(", numa_maps reader every %u us", opt.reader_interval_us);
	if (opt.injector_rate > 0)
		logmsg(", injector %.0f Hz seed %" PRIu64, opt.injector_rate, opt.seed);
	if (opt.zap_after_fixup > 0)
		logmsg(", zap after fixup p=%g", opt.zap_after_fixup);
	if (opt.refault_after_split > 0)
		logmsg(", refault after split p=%g", opt.refault_after_split);
	logmsg("\n");
	if (!opt.quiet)
		ex_kernel_print(vmlog, "", &hostcfg);
	for (int i = 0; i < opt.nr_devs; i++) {
		logmsg("  %s %s (group %d):", devs[i].name, devs[i].kind == DEV_GPU ? "gpu" : "nic",
		       devs[i].group_id);
		for (int b = 0; b < NR_BARS; b++)
			if (devs[i].bar_size[b])
				logmsg(" BAR%d %" PRIu64 " KiB at 0x%" PRIx64, b,
				       devs[i].bar_size[b] >> 10, devs[i].gpa[b]);
		logmsg("\n");
	}
}

/* ---------------------------------------------------------------------- */
/* One boot                                                               */
/* ---------------------------------------------------------------------- */

/* What lies at guest-physical @iova: "guest RAM" or "gpu 0000:01:00.0 BAR1". */
static const char *what_at(uint64_t iova)
{
	static char buf[64];

	for (int i = 0; i < opt.nr_devs; i++)
		for (int bar = 0; bar < NR_BARS; bar++)
			if (devs[i].bar_size[bar] && iova == devs[i].gpa[bar]) {
				snprintf(buf, sizeof(buf), "%s %s BAR%d",
					 devs[i].kind == DEV_GPU ? "gpu" : "nic", devs[i].name,
					 bar);
				return buf;
			}
	return "guest RAM";
}

static int vmm_err(struct boot *b, const char *what)
{
	int err = errno;

	fail_reason(err == EOWNERDEAD ? 3 : 1, "boot %lu: %s: %s", b->n, what, strerror(err));
	fprintf(stderr, "%s: boot %lu: %s: %s\n", prog, b->n, what, strerror(err));
	b->fatal = true;
	return -1;
}

static int dma_map(struct boot *b, uint64_t iova, uint64_t size, uint64_t vaddr)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = vaddr,
		.iova = iova,
		.size = size,
	};
	uint64_t t0 = now_ns(), dt;
	int ret, err;

	ex_wd_doing("boot %lu: VFIO_IOMMU_MAP_DMA iova=0x%012" PRIx64 " size=0x%012" PRIx64
		    " (%s)", b->n, iova, size, what_at(iova));
	ret = pinsim_ioctl(b->p, b->container, VFIO_IOMMU_MAP_DMA, &map);
	err = errno;
	dt = now_ns() - t0;
	b->map_ns += dt;
	tot.map_ns += dt;
	if (!ret) {
		tot.mappings++;
		/* The seeds' format: 12 hex digits of IOVA and size, 16 of vaddr. */
		logmsg("dma_map iova=0x%012" PRIx64 " size=0x%012" PRIx64
		       " vaddr=0x%016" PRIx64 "\n", iova, size, vaddr);
		return 0;
	}
	/* Failures are printed even with --quiet: they are the result. */
	fprintf(vmlog, "dma_map FAILED iova=0x%012" PRIx64 ": [Errno %d] %s\n", iova, err,
		strerror(err));
	if (!tot.first_failure[0])
		snprintf(tot.first_failure, sizeof(tot.first_failure),
			 "boot %lu: dma_map FAILED iova=0x%012" PRIx64 ": [Errno %d] %s",
			 b->n, iova, err, strerror(err));
	tot.map_failures++;
	if (err > 0 && err < MAX_ERRNO)
		tot.by_errno[err]++;
	b->failed = true;
	if (err == EOWNERDEAD) {
		/* The VMM's own task died in the ioctl, holding what it held. */
		fail_reason(3, "boot %lu: the VMM task oopsed in VFIO_IOMMU_MAP_DMA", b->n);
		b->fatal = true;
	}
	errno = err;
	return -1;
}

static int dma_unmap(struct boot *b, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = iova, .size = size,
	};
	uint64_t t0;
	int ret;

	ex_wd_doing("boot %lu: VFIO_IOMMU_UNMAP_DMA iova=0x%012" PRIx64 " (%s)", b->n, iova,
		    what_at(iova));
	t0 = now_ns();
	ret = pinsim_ioctl(b->p, b->container, VFIO_IOMMU_UNMAP_DMA, &unmap);

	tot.unmap_ns += now_ns() - t0;
	if (ret)
		return vmm_err(b, "VFIO_IOMMU_UNMAP_DMA");
	tot.unmaps++;
	/* A BAR whose MAP_DMA failed has nothing mapped: QEMU unmaps it anyway. */
	logmsg("dma_unmap iova=0x%012" PRIx64 " size=0x%012" PRIx64 "\n", iova,
	       (uint64_t)unmap.size);
	return 0;
}

/* Does [iova, iova + size) lie inside one of the IOMMU's IOVA ranges? */
static bool iova_ok(const struct vfio_iommu_type1_info_cap_iova_range *r, uint64_t iova,
		    uint64_t size)
{
	for (uint32_t i = 0; i < r->nr_iovas; i++)
		if (iova >= r->iova_ranges[i].start && iova + size - 1 <= r->iova_ranges[i].end)
			return true;
	return false;
}

/*
 * VFIO_IOMMU_GET_INFO as QEMU's vfio_get_iommu_info() does it: ask once to
 * learn argsz, again with room for the capability chain, then walk the
 * chain for IOVA_RANGE and check the whole guest layout against it.
 */
static int get_iommu_info(struct boot *b)
{
	const struct vfio_iommu_type1_info_cap_iova_range *range = NULL;
	struct vfio_iommu_type1_info *info;
	uint32_t off, argsz = sizeof(*info);
	uint64_t low = opt.ram < LOWMEM_END ? opt.ram : LOWMEM_END;
	int ret = -1;

	info = calloc(1, argsz);
	if (!info)
		return vmm_err(b, "calloc");
	info->argsz = argsz;
	if (pinsim_ioctl(b->p, b->container, VFIO_IOMMU_GET_INFO, info))
		goto err;
	if (info->argsz > argsz) {
		argsz = info->argsz;
		free(info);
		info = calloc(1, argsz);
		if (!info)
			return vmm_err(b, "calloc");
		info->argsz = argsz;
		if (pinsim_ioctl(b->p, b->container, VFIO_IOMMU_GET_INFO, info))
			goto err;
	}
	if (!(info->flags & VFIO_IOMMU_INFO_PGSIZES) || !(info->iova_pgsizes & (4 * KiB))) {
		fail_reason(1, "boot %lu: the IOMMU does not support 4 KiB pages", b->n);
		b->fatal = true;
		goto out;
	}
	for (off = (info->flags & VFIO_IOMMU_INFO_CAPS) ? info->cap_offset : 0;
	     off && off + sizeof(struct vfio_info_cap_header) <= argsz;) {
		const struct vfio_info_cap_header *h = (const void *)((char *)info + off);

		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
			range = (const void *)h;
		if (h->next <= off)
			break;
		off = h->next;
	}
	if (b->n == 1) {
		logmsg("iommu: VFIO_TYPE1v2_IOMMU, iova_pgsizes 0x%" PRIx64 ", iova ranges",
		       (uint64_t)info->iova_pgsizes);
		for (uint32_t i = 0; range && i < range->nr_iovas; i++)
			logmsg(" [0x%" PRIx64 "-0x%" PRIx64 "]",
			       (uint64_t)range->iova_ranges[i].start,
			       (uint64_t)range->iova_ranges[i].end);
		logmsg("\n");
	}
	if (!range) {
		/* Old kernels have no capability: QEMU then assumes the full 64 bits. */
		ret = 0;
		goto out;
	}
	if (!iova_ok(range, 0, low) ||
	    (opt.ram > low && !iova_ok(range, HIGHMEM_START, opt.ram - low))) {
		fail_reason(1, "boot %lu: guest RAM does not fit the IOMMU's IOVA ranges", b->n);
		b->fatal = true;
		goto out;
	}
	for (int i = 0; i < opt.nr_devs; i++)
		for (int bar = 0; bar < NR_BARS; bar++)
			if (devs[i].bar_size[bar] &&
			    !iova_ok(range, devs[i].gpa[bar], devs[i].bar_size[bar])) {
				fail_reason(1, "boot %lu: %s BAR%d at 0x%" PRIx64 " is outside the "
					    "IOMMU's IOVA ranges", b->n, devs[i].name, bar,
					    devs[i].gpa[bar]);
				b->fatal = true;
				goto out;
			}
	ret = 0;
	goto out;
err:
	vmm_err(b, "VFIO_IOMMU_GET_INFO");
out:
	free(info);
	return ret;
}

static int open_vfio(struct boot *b)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[32];

	b->container = pinsim_open(b->p, "/dev/vfio/vfio", O_RDWR);
	if (b->container < 0)
		return vmm_err(b, "open /dev/vfio/vfio");
	if (pinsim_ioctl(b->p, b->container, VFIO_GET_API_VERSION, NULL) != VFIO_API_VERSION)
		return vmm_err(b, "VFIO_GET_API_VERSION");
	if (pinsim_ioctl(b->p, b->container, VFIO_CHECK_EXTENSION,
			 (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU) != 1) {
		errno = ENOTSUP;
		return vmm_err(b, "VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)");
	}
	for (int i = 0; i < opt.nr_devs; i++) {
		struct device *d = &devs[i];

		snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id);
		d->group_fd = pinsim_open(b->p, path, O_RDWR);
		if (d->group_fd < 0)
			return vmm_err(b, "open group");
		if (pinsim_ioctl(b->p, d->group_fd, VFIO_GROUP_GET_STATUS, &st))
			return vmm_err(b, "VFIO_GROUP_GET_STATUS");
		if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
			errno = EPERM;
			return vmm_err(b, "group not viable");
		}
		if (pinsim_ioctl(b->p, d->group_fd, VFIO_GROUP_SET_CONTAINER, &b->container))
			return vmm_err(b, "VFIO_GROUP_SET_CONTAINER");
		/* QEMU sets the IOMMU model once the first group is in the container. */
		if (i == 0 && pinsim_ioctl(b->p, b->container, VFIO_SET_IOMMU,
					   (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU))
			return vmm_err(b, "VFIO_SET_IOMMU");
	}
	if (!opt.nr_devs)
		return 0;	/* no group: no IOMMU model, nothing to map */
	return get_iommu_info(b);
}

static int map_ram(struct boot *b)
{
	static const int hflags[] = {
		[BACK_2M] = MAP_HUGETLB | MAP_HUGE_2MB,
		[BACK_1G] = MAP_HUGETLB | MAP_HUGE_1GB,
	};
	uint64_t low = opt.ram < LOWMEM_END ? opt.ram : LOWMEM_END;

	/* The kernel aligns hugetlb and large anonymous mappings (THP) itself. */
	b->ram_va = pinsim_mmap(b->p, 0, opt.ram, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | hflags[opt.backing], -1, 0);
	if (b->ram_va == PINSIM_MAP_FAILED) {
		b->ram_va = 0;
		return vmm_err(b, "mmap guest RAM");
	}
	/* QEMU madvises guest RAM MADV_HUGEPAGE; "4k" is a guest without it. */
	if (opt.backing == BACK_THP && pinsim_madvise(b->p, b->ram_va, opt.ram, MADV_HUGEPAGE))
		return vmm_err(b, "madvise(MADV_HUGEPAGE)");
	if (!opt.nr_devs)
		return 0;
	logmsg("[dma_map]\n");
	/* A RAM mapping failure is fatal for QEMU (vfio_listener_region_add). */
	if (dma_map(b, 0, low, b->ram_va))
		return -1;
	if (opt.ram > low && dma_map(b, HIGHMEM_START, opt.ram - low, b->ram_va + low))
		return -1;
	return 0;
}

static int open_devices(struct boot *b)
{
	for (int i = 0; i < opt.nr_devs; i++) {
		struct vfio_device_info info = { .argsz = sizeof(info) };
		struct device *d = &devs[i];

		d->device_fd = pinsim_ioctl(b->p, d->group_fd, VFIO_GROUP_GET_DEVICE_FD, d->name);
		if (d->device_fd < 0)
			return vmm_err(b, "VFIO_GROUP_GET_DEVICE_FD");
		if (pinsim_ioctl(b->p, d->device_fd, VFIO_DEVICE_GET_INFO, &info))
			return vmm_err(b, "VFIO_DEVICE_GET_INFO");
		if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) ||
		    info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
			errno = ENODEV;
			return vmm_err(b, "not a vfio-pci device");
		}
		for (int bar = 0; bar < NR_BARS; bar++) {
			struct vfio_region_info ri = { .argsz = sizeof(ri), .index = bar };

			if (pinsim_ioctl(b->p, d->device_fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
				return vmm_err(b, "VFIO_DEVICE_GET_REGION_INFO");
			if (!ri.size || !(ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
				continue;
			/* Aligned by QEMU for huge pfnmaps, whatever the kernel does. */
			d->bar_va[bar] = ex_mmap_region(b->p, ri.size, PROT_READ | PROT_WRITE,
							d->device_fd, ri.offset);
			if (d->bar_va[bar] == PINSIM_MAP_FAILED) {
				d->bar_va[bar] = 0;
				return vmm_err(b, "mmap BAR");
			}
			d->bar_len[bar] = ri.size;
		}
		if (pinsim_ioctl(b->p, d->device_fd, VFIO_DEVICE_RESET, NULL))
			return vmm_err(b, "VFIO_DEVICE_RESET");
	}
	return 0;
}

/*
 * Peer-to-peer: QEMU maps RAM-device regions too, and a failure there is
 * not fatal (vfio_listener_region_add() only warns for them), so the boot
 * goes on and is counted as failed.
 */
static int map_bars(struct boot *b, struct device *d)
{
	for (int bar = 0; bar < NR_BARS; bar++) {
		if (!d->bar_va[bar])
			continue;
		dma_map(b, d->gpa[bar], d->bar_len[bar], d->bar_va[bar]);
		if (b->fatal)
			return -1;
	}
	return 0;
}

static int unmap_bars(struct boot *b, struct device *d)
{
	for (int bar = 0; bar < NR_BARS; bar++)
		if (d->bar_va[bar] && dma_unmap(b, d->gpa[bar], d->bar_len[bar]))
			return -1;
	return 0;
}

static int write_command(struct boot *b, struct device *d, uint16_t cmd)
{
	uint64_t off = ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + PCI_COMMAND;

	if (pinsim_pwrite(b->p, d->device_fd, &cmd, sizeof(cmd), off) != sizeof(cmd))
		return vmm_err(b, "pwrite PCI_COMMAND");
	return 0;
}

/* The guest's BAR sizing: decode off, BARs gone, decode on, BARs back. */
static int enumerate(struct boot *b)
{
	uint64_t off = ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + PCI_COMMAND;

	if (opt.toggles && opt.nr_devs)
		logmsg("[enumeration]\n");
	for (int i = 0; i < opt.nr_devs; i++) {
		struct device *d = &devs[i];

		for (unsigned int t = 0; t < opt.toggles; t++) {
			uint16_t cmd;

			if (pinsim_pread(b->p, d->device_fd, &cmd, sizeof(cmd), off) != sizeof(cmd))
				return vmm_err(b, "pread PCI_COMMAND");
			ex_wd_doing("boot %lu: %s memory decode off (toggle %u)", b->n, d->name,
				    t + 1);
			logmsg("%s: memory decode off\n", d->name);
			if (write_command(b, d, cmd & ~PCI_COMMAND_MEMORY) || unmap_bars(b, d))
				return -1;
			logmsg("%s: memory decode on\n", d->name);
			if (write_command(b, d, cmd | PCI_COMMAND_MEMORY) || map_bars(b, d))
				return -1;
		}
	}
	return 0;
}

/*
 * The guest is up: its BARs stay mapped while the reader and the injectors
 * go on.  Then the monitor reads numa_maps once itself, synchronously, so
 * that every boot has at least one read of the final layout whatever the
 * reader thread's timing (a race rule at the split point then decides the
 * outcome by its seed alone).  The monitor is a task of the VMM process,
 * as pinsim's numa_maps readers are.
 */
static int guest_run(struct boot *b)
{
	static char buf[1 << 16];
	uint64_t end = now_ns() + opt.guest_run_ms * 1000000ull, t;

	/* The guest running is progress: a tick per slice of its run. */
	while ((t = now_ns()) < end) {
		uint64_t left = end - t < 100000000ull ? end - t : 100000000ull;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)left };

		ex_wd_doing("boot %lu: the guest runs (%u ms)", b->n, opt.guest_run_ms);
		nanosleep(&ts, NULL);
	}
	if (!opt.reader)
		return 0;
	ex_wd_doing("boot %lu: the monitor reads /proc/<vmm>/numa_maps", b->n);
	if (pinsim_read_numa_maps(b->p, buf, sizeof(buf)) < 0) {
		int err = errno;

		if (err == EOWNERDEAD)
			fprintf(vmlog, "oops: the monitor's numa_maps read died; it holds "
				       "the VMM's mmap_lock (read) for good\n");
		errno = err;
		return vmm_err(b, "read /proc/<vmm>/numa_maps");
	}
	return 0;
}

/*
 * --balloon: a virtio-balloon inflation and deflation with a device's DMA
 * in the middle.  The balloon takes the top @opt.balloon bytes of low RAM
 * (GPA = IOVA there).  QEMU's balloon_inflate_page() discards each page
 * the guest gives up with ram_block_discard_range(), madvise(MADV_DONTNEED)
 * for anonymous RAM: here one call for the range.  QEMU itself never gets
 * here with VFIO (ram_block_discard_disable(), see the top of the file).
 * The guest then deflates and uses the pages again: a CPU write faults in
 * fresh pages; the device DMA-writes a pattern at the same GPAs, which the
 * IOMMU still translates to the old, still pinned, pages; the guest reads
 * zeros where the device wrote.  Probes: the first 64 bytes of every 4 KiB
 * (at most 512 of them, spread over the range).
 */
#define BALLOON_PROBES 512

static uint64_t balloon_probe(uint64_t i)
{
	uint64_t pages = opt.balloon / (4 * KiB);
	uint64_t step = pages > BALLOON_PROBES ? pages / BALLOON_PROBES : 1;

	return i * step * 4 * KiB;
}

static int balloon(struct boot *b)
{
	uint64_t low = opt.ram < LOWMEM_END ? opt.ram : LOWMEM_END;
	uint64_t gpa = (low - opt.balloon) & ~(backing_page[opt.backing] - 1);
	uint64_t pages = opt.balloon / (4 * KiB);
	uint64_t nprobes = pages < BALLOON_PROBES ? pages : BALLOON_PROBES;
	unsigned char pat[64], back[64], zero = 0;
	int n0, n;

	if (!opt.balloon)
		return 0;
	logmsg("[balloon]\n");
	n0 = pinsim_checker_reports(sim, NULL, 0);
	ex_wd_doing("boot %lu: balloon: MADV_DONTNEED of %" PRIu64 " MiB of mapped guest RAM",
		    b->n, opt.balloon >> 20);
	if (pinsim_madvise(b->p, b->ram_va + gpa, opt.balloon, MADV_DONTNEED))
		return vmm_err(b, "madvise(MADV_DONTNEED) of the balloon");
	tot.balloon_discarded += opt.balloon;
	logmsg("balloon inflate gpa=0x%012" PRIx64 " size=0x%" PRIx64 " (MADV_DONTNEED)\n", gpa,
	       opt.balloon);
	ex_wd_doing("boot %lu: balloon: the guest deflates, a device DMA-writes there", b->n);
	for (uint64_t i = 0; i < nprobes; i++) {
		uint64_t off = balloon_probe(i);

		/* Deflate: the guest touches the page again (a new zero page). */
		if (pinsim_access(b->p, b->ram_va + gpa + off, &zero, 1, 1) != 1)
			return vmm_err(b, "guest write after deflate");
		memset(pat, 0x80 | (int)(i & 0x7f), sizeof(pat));	/* never zero */
		if (pinsim_dma(sim, devs[0].group_id, gpa + off, pat, sizeof(pat), 1) !=
		    (ssize_t)sizeof(pat))
			return vmm_err(b, "device DMA write into the deflated balloon");
		tot.balloon_dma_writes++;
		if (pinsim_access(b->p, b->ram_va + gpa + off, back, sizeof(back), 0) !=
		    (ssize_t)sizeof(back))
			return vmm_err(b, "guest read of the device's write");
		if (memcmp(back, pat, sizeof(pat)))
			tot.balloon_lost++;
	}
	n = pinsim_checker_reports(sim, NULL, 0);
	if (n > n0)
		tot.coherency_violations += (unsigned long)(n - n0);
	logmsg("balloon deflate: %" PRIu64 " device writes, %lu not seen by the guest, %d "
	       "checker report%s\n", nprobes, tot.balloon_lost, n - n0, n - n0 == 1 ? "" : "s");
	if (tot.balloon_lost) {
		b->failed = true;
		fail_reason(1, "boot %lu: %lu device DMA writes into discarded guest RAM landed in "
			       "the old pinned pages, the guest read zeros (MADV_DONTNEED while "
			       "mapped for DMA; QEMU disables discard with VFIO)", b->n,
			    tot.balloon_lost);
	}
	if (n > n0 && !tot.first_violation[0]) {
		/* Each report is 10 KiB (its schedule): from the heap. */
		struct pinsim_checker_report *all = calloc(32, sizeof(*all));
		int got = all ? pinsim_checker_reports(sim, all, 32) : 0;

		for (int i = n0; i < got && i < 32; i++) {
			if (!strcmp(all[i].kind, "dma-coherency")) {
				size_t len = strnlen(all[i].text, sizeof(tot.first_violation) - 1);

				memcpy(tot.first_violation, all[i].text, len);
				tot.first_violation[len] = '\0';
				break;
			}
		}
		free(all);
		if (tot.first_violation[0])
			fprintf(vmlog, "checker: %s\n", tot.first_violation);
	}
	return 0;
}

/* The first device's largest BAR: what the injectors aim at. */
static int target_bar(const struct device *d)
{
	int best = -1;

	for (int bar = 0; bar < NR_BARS; bar++)
		if (d->bar_va[bar] && (best < 0 || d->bar_len[bar] > d->bar_len[best]))
			best = bar;
	return best;
}

static int start_injectors(struct boot *b)
{
	struct device *d = &devs[0];
	int bar = target_bar(d);
	struct pinsim_injector_opts io = {
		.action = PINSIM_INJECT_ZAP_BARS,
		.group_id = d->group_id,
		.proc = b->p,
		.rate_hz = opt.injector_rate,
		.seed = opt.seed + 2 * (b->n - 1),
	};

	if (opt.injector_rate <= 0 || bar < 0)
		return 0;
	/* A guest toggling decode or resetting the device ... */
	if (pinsim_injector_start(sim, &io, &b->inj[b->nr_inj]))
		return vmm_err(b, "pinsim_injector_start(ZAP_BARS)");
	b->nr_inj++;
	/* ... and a vCPU touching the BAR, which faults it back in. */
	io.action = PINSIM_INJECT_REFAULT;
	io.addr = d->bar_va[bar];
	io.len = d->bar_len[bar];
	io.seed++;
	if (pinsim_injector_start(sim, &io, &b->inj[b->nr_inj]))
		return vmm_err(b, "pinsim_injector_start(REFAULT)");
	b->nr_inj++;
	return 0;
}

static void stop_injectors(struct boot *b)
{
	while (b->nr_inj)
		tot.injector_fires += pinsim_injector_stop(b->inj[--b->nr_inj]);
}

/*
 * Races on demand: rules at the schedule points of the two race windows,
 * seeded per boot.  A zap rule per device, as the fixup may be for any of
 * them; the refault rule acts in the VMM's mm at the split address.
 */
static int add_race_rules(struct boot *b)
{
	struct pinsim_inject_rule r = { 0 };
	uint64_t seed = opt.seed * 1000003 + b->n;

	b->refault_rule = -1;
	for (int i = 0; i < MAX_DEVS; i++)
		b->zap_rule[i] = -1;
	for (int i = 0; opt.zap_after_fixup > 0 && i < opt.nr_devs; i++) {
		r = (struct pinsim_inject_rule){
			.point = PINSIM_SP_FOLLOW_FAULT_AFTER_FIXUP,
			.action = PINSIM_INJECT_ZAP_BARS,
			.group_id = devs[i].group_id,
			.probability = opt.zap_after_fixup,
			.seed = seed + 101 * (uint64_t)i,
		};
		b->zap_rule[i] = pinsim_inject_add(sim, &r);
		if (b->zap_rule[i] < 0)
			return vmm_err(b, "pinsim_inject_add(ZAP_BARS after fixup)");
	}
	if (opt.refault_after_split > 0) {
		r = (struct pinsim_inject_rule){
			.point = PINSIM_SP_WALK_PUD_AFTER_SPLIT,
			.action = PINSIM_INJECT_REFAULT,
			.proc = b->p,
			.probability = opt.refault_after_split,
			.seed = seed + 7,
		};
		b->refault_rule = pinsim_inject_add(sim, &r);
		if (b->refault_rule < 0)
			return vmm_err(b, "pinsim_inject_add(REFAULT after split)");
	}
	return 0;
}

static void clear_race_rules(struct boot *b)
{
	unsigned long hits, fires;

	if (opt.zap_after_fixup <= 0 && opt.refault_after_split <= 0)
		return;
	for (int i = 0; i < opt.nr_devs; i++)
		if (b->zap_rule[i] >= 0 && !pinsim_inject_stats(sim, b->zap_rule[i], &hits, &fires))
			tot.zaps_after_fixup += fires;
	if (b->refault_rule >= 0 && !pinsim_inject_stats(sim, b->refault_rule, &hits, &fires))
		tot.refaults_after_split += fires;
	pinsim_inject_clear(sim);
}

/*
 * Stop the reader and judge the boot.  The reader is stopped before the
 * teardown on purpose: a reader that died in a read keeps the VMM's
 * mmap_lock, and the teardown's munmap (mmap_write_lock) would then block
 * forever, as the real VMM does in seeds/01.
 */
static void stop_reader(struct boot *b, uint64_t oopses_before)
{
	struct pinsim_walker_result res;
	struct pinsim_stats st;

	if (b->walker) {
		pinsim_walker_stop(b->walker, &res);
		b->walker = NULL;
		tot.walker_reads += res.reads;
		if (res.oopsed) {
			fprintf(vmlog, "oops: numa_maps reader died in a read: %s\n", res.oops);
			fprintf(vmlog, "oops: it holds the VMM's mmap_lock (read) for good: the "
				      "VMM's next mmap/munmap blocks forever\n");
			fail_reason(3, "boot %lu: the numa_maps reader oopsed: %s", b->n, res.oops);
			snprintf(tot.oops, sizeof(tot.oops), "%s", res.oops);
			b->fatal = true;
		}
		if (res.hung) {
			fprintf(vmlog, "hang: numa_maps reader blocked on the VMM's mmap_lock\n");
			fail_reason(3, "boot %lu: the numa_maps reader hung on mmap_lock", b->n);
			tot.hung = true;
			b->fatal = true;
		}
	}
	if (!pinsim_stats(sim, &st) && st.oopses > oopses_before) {
		tot.oopses += st.oopses - oopses_before;
		if (!tot.oops[0])
			snprintf(tot.oops, sizeof(tot.oops), "%s", st.last_oops);
		if (!b->fatal) {
			fail_reason(3, "boot %lu: a task oopsed: %s", b->n, st.last_oops);
			b->fatal = true;
		}
	}
}

static void collect_vfio_stats(struct boot *b)
{
	struct pinsim_vfio_stats vs;

	if (b->container >= 0 && opt.nr_devs && !pinsim_vfio_stats(b->p, b->container, &vs)) {
		tot.retries += vs.total.retries;
		tot.follow_failures += vs.total.follow_failures;
		tot.faults += vs.total.faults;
	}
}

/* QEMU's exit path, spelled out: devices, groups, container, then memory. */
static void teardown(struct boot *b)
{
	ex_wd_doing("boot %lu: teardown: closing the VFIO device, group and container fds",
		    b->n);
	for (int i = 0; i < opt.nr_devs; i++) {
		struct device *d = &devs[i];

		if (d->device_fd >= 0)
			pinsim_close(b->p, d->device_fd);
		if (d->group_fd >= 0) {
			pinsim_ioctl(b->p, d->group_fd, VFIO_GROUP_UNSET_CONTAINER, NULL);
			pinsim_close(b->p, d->group_fd);
		}
	}
	if (b->container >= 0)
		pinsim_close(b->p, b->container);
	for (int i = 0; i < opt.nr_devs; i++)
		for (int bar = 0; bar < NR_BARS; bar++)
			if (devs[i].bar_va[bar]) {
				ex_wd_doing("boot %lu: teardown: munmap of %s %s BAR%d", b->n,
					    devs[i].kind == DEV_GPU ? "gpu" : "nic", devs[i].name,
					    bar);
				pinsim_munmap(b->p, devs[i].bar_va[bar], devs[i].bar_len[bar]);
			}
	ex_wd_doing("boot %lu: teardown: munmap of guest RAM", b->n);
	if (b->ram_va)
		pinsim_munmap(b->p, b->ram_va, opt.ram);
	wd_watch(NULL, NULL);
	pinsim_proc_destroy(b->p);
	b->p = NULL;
}

/* --teardown-after-oops: the teardown on a live thread of the VMM. */
static void *teardown_thread(void *arg)
{
	teardown(arg);
	pinsim_thread_exit();
	return NULL;
}

/* After a clean teardown every pin is gone: the hugetlb pool is whole again. */
static void check_released(struct boot *b)
{
	struct pinsim_stats st;

	if (pinsim_stats(sim, &st))
		return;
	if (st.hugetlb_1g_free != st.hugetlb_1g_total ||
	    st.hugetlb_2m_free != st.hugetlb_2m_total) {
		fail_reason(1, "boot %lu: hugetlb pages still in use after teardown "
			    "(1G %" PRIu64 "/%" PRIu64 " free, 2M %" PRIu64 "/%" PRIu64 ")", b->n,
			    st.hugetlb_1g_free, st.hugetlb_1g_total, st.hugetlb_2m_free,
			    st.hugetlb_2m_total);
		b->fatal = true;
	}
	if (st.warnings) {
		fail_reason(1, "boot %lu: the simulated kernel warned (%" PRIu64 " WARNs)", b->n,
			    st.warnings);
		b->fatal = true;
	}
}

static void run_boot(struct boot *b)
{
	struct pinsim_walker_opts wo = { .interval_us = opt.reader_interval_us };
	struct rlimit rl;
	struct pinsim_stats st;
	uint64_t oopses_before = 0;

	if (!pinsim_stats(sim, &st))
		oopses_before = st.oopses;
	for (int i = 0; i < opt.nr_devs; i++) {
		devs[i].group_fd = devs[i].device_fd = -1;
		memset(devs[i].bar_va, 0, sizeof(devs[i].bar_va));
	}
	b->container = -1;
	ex_wd_doing("boot %lu: creating the VMM process", b->n);
	if (pinsim_proc_create(sim, &b->p)) {
		vmm_err(b, "pinsim_proc_create");
		return;
	}
	/* libvirt's memlock limit for VFIO guests: RAM + 1 GiB. */
	rl.rlim_cur = rl.rlim_max = opt.ram + GiB;
	if (pinsim_setrlimit(b->p, RLIMIT_MEMLOCK, &rl)) {
		vmm_err(b, "setrlimit(RLIMIT_MEMLOCK)");
		return;
	}
	if (add_race_rules(b))
		goto judge;
	wd_watch(b->p, b->zap_rule);
	if (opt.reader && pinsim_walker_start(b->p, &wo, &b->walker)) {
		vmm_err(b, "pinsim_walker_start");
		goto judge;
	}
	if (opt.nr_devs && open_vfio(b))
		goto judge;
	if (map_ram(b))
		goto judge;
	if (open_devices(b) || start_injectors(b))
		goto judge;
	for (int i = 0; i < opt.nr_devs && !b->fatal; i++)
		map_bars(b, &devs[i]);
	if (!b->fatal && !enumerate(b) && !balloon(b))
		guest_run(b);
judge:
	ex_wd_doing("boot %lu: stopping the injectors and the numa_maps reader", b->n);
	stop_injectors(b);
	stop_reader(b, oopses_before);
	wd_watch(b->p, NULL);
	clear_race_rules(b);
	collect_vfio_stats(b);
	if (b->fatal && tot.exit_status == 3 && !opt.teardown_after_oops) {
		fprintf(stderr, "%s: boot %lu: a simulated task is dead with its locks held: "
				"not tearing the VMM down (it would block; --teardown-after-oops "
				"does it)\n", prog, b->n);
		wd_watch(NULL, NULL);
		return;
	}
	logmsg("[teardown]\n");
	if (b->fatal && tot.exit_status == 3) {
		pthread_t th;

		/*
		 * The task that oopsed may be this thread's own (the monitor's
		 * read): it never runs again, as an oopsed task is killed.  QEMU's
		 * exit path runs on a thread still alive, and blocks there.
		 */
		if (!pthread_create(&th, NULL, teardown_thread, b)) {
			pthread_join(th, NULL);
			return;
		}
	}
	teardown(b);
	check_released(b);
}

/* ---------------------------------------------------------------------- */
/* Summary                                                                */
/* ---------------------------------------------------------------------- */

static void print_json(FILE *f, uint64_t wall_ns)
{
	bool first = true;

	fprintf(f, "{\n  ");
	ex_version_json(f);
	fprintf(f, ",\n  \"boots\": %lu,\n  \"boots_ok\": %lu,\n  \"boots_failed\": %lu,\n",
	       tot.boots, tot.boots_ok, tot.boots_failed);
	fprintf(f, "  \"mappings\": %lu,\n  \"map_failures\": %lu,\n  \"unmaps\": %lu,\n"
		"  \"failures_by_errno\": {", tot.mappings, tot.map_failures, tot.unmaps);
	for (int e = 0; e < MAX_ERRNO; e++) {
		if (!tot.by_errno[e])
			continue;
		fprintf(f, "%s\"%s\": %lu", first ? "" : ", ", errno_name(e), tot.by_errno[e]);
		first = false;
	}
	fprintf(f, "},\n  \"oopses\": %" PRIu64 ",\n  \"oops\": ", tot.oopses);
	if (tot.oops[0])
		ex_json_string(f, tot.oops);
	else
		fprintf(f, "null");
	fprintf(f, ",\n  \"reader_hung\": %s,\n  \"walker_reads\": %lu,\n",
	       tot.hung ? "true" : "false", tot.walker_reads);
	fprintf(f, "  \"retries\": %" PRIu64 ",\n  \"follow_failures\": %" PRIu64 ",\n"
		"  \"fixup_user_fault_calls\": %" PRIu64 ",\n", tot.retries, tot.follow_failures,
		tot.faults);
	fprintf(f, "  \"injector_fires\": %lu,\n", tot.injector_fires);
	fprintf(f, "  \"zaps_after_fixup\": %lu,\n  \"refaults_after_split\": %lu,\n",
	       tot.zaps_after_fixup, tot.refaults_after_split);
	fprintf(f, "  \"map_dma_ns\": %" PRIu64 ",\n  \"map_dma_ns_per_boot\": %" PRIu64 ",\n",
	       tot.map_ns, tot.boots ? tot.map_ns / tot.boots : 0);
	fprintf(f, "  \"map_dma_ns_max_boot\": %" PRIu64 ",\n  \"unmap_dma_ns\": %" PRIu64 ",\n",
	       tot.max_boot_map_ns, tot.unmap_ns);
	fprintf(f, "  \"balloon_bytes\": %" PRIu64 ",\n  \"balloon_dma_writes\": %lu,\n"
		"  \"balloon_lost_writes\": %lu,\n  \"coherency_violations\": %lu,\n"
		"  \"first_coherency_violation\": ", tot.balloon_discarded, tot.balloon_dma_writes,
		tot.balloon_lost, tot.coherency_violations);
	if (tot.first_violation[0])
		ex_json_string(f, tot.first_violation);
	else
		fprintf(f, "null");
	fprintf(f, ",\n");
	fprintf(f, "  \"wall_ns\": %" PRIu64 ",\n  ", wall_ns);
	ex_kernel_json(f, &hostcfg);
	fprintf(f, ",\n");
	/* Every option's value: the run can be repeated from the JSON alone. */
	fprintf(f, "  \"config\": {\"ram_bytes\": %" PRIu64 ", \"backing\": \"%s\", "
		"\"devices\": \"%s\", \"gpu_bar_bytes\": %" PRIu64 ", \"gpu_regs_bytes\": %"
		PRIu64 ", \"nic_bar_bytes\": %" PRIu64 ", \"nic_msix_bytes\": %" PRIu64 ", "
		"\"policy\": \"%s\", \"retry_bound\": %u, \"walker\": \"%s\", \"reader\": %s, "
		"\"reader_interval_us\": %u, \"boots\": %lu, \"toggles\": %u, "
		"\"guest_run_ms\": %u, \"seed\": %" PRIu64 ", \"injector_rate_hz\": %g, "
		"\"zap_after_fixup\": %g, \"refault_after_split\": %g, \"watchdog_s\": %u, "
		"\"teardown_after_oops\": %s, \"balloon_bytes\": %" PRIu64 ", \"quiet\": %s},\n",
		opt.ram, backing_name[opt.backing], opt.devices_arg, opt.gpu_bar, opt.gpu_regs,
		opt.nic_bar, opt.nic_msix, policy_name[opt.policy], opt.retry_bound,
		hostcfg.pagewalk_fixed ? "fixed" : "prefix", opt.reader ? "true" : "false",
		opt.reader_interval_us, opt.boots, opt.toggles, opt.guest_run_ms, opt.seed,
		opt.injector_rate, opt.zap_after_fixup, opt.refault_after_split, opt.watchdog_s,
		opt.teardown_after_oops ? "true" : "false", opt.balloon,
		opt.quiet ? "true" : "false");
	fprintf(f, "  \"watchdog\": ");
	ex_wd_json(f, tot.watchdog_fired ? &tot.stall : NULL, tot.stall_loop);
	fprintf(f, ",\n");
	fprintf(f, "  \"exit_status\": %d,\n  \"reason\": ", tot.exit_status);
	ex_json_string(f, tot.exit_status ? tot.reason : "every boot succeeded");
	fprintf(f, "\n}\n");
}

static void print_summary(uint64_t wall_ns)
{
	bool any = false;

	printf("summary: %lu boot%s, %lu ok, %lu failed\n", tot.boots, tot.boots == 1 ? "" : "s",
	       tot.boots_ok, tot.boots_failed);
	ex_kernel_print(stdout, "  ", &hostcfg);
	printf("  mappings: %lu MAP_DMA ok, %lu failed, %lu UNMAP_DMA\n", tot.mappings,
	       tot.map_failures, tot.unmaps);
	printf("  failures by errno:");
	for (int e = 0; e < MAX_ERRNO; e++) {
		if (!tot.by_errno[e])
			continue;
		printf(" %s (%d) x%lu", errno_name(e), e, tot.by_errno[e]);
		any = true;
	}
	printf("%s\n", any ? "" : " none");
	printf("  oopses: %" PRIu64 "%s%s%s\n", tot.oopses, tot.oops[0] ? " (" : "", tot.oops,
	       tot.oops[0] ? ")" : "");
	printf("  retries: %" PRIu64 " (policy %s), follow_pfnmap_start failures %" PRIu64
	       ", fixup_user_fault calls %" PRIu64 "\n", tot.retries, policy_name[opt.policy],
	       tot.follow_failures, tot.faults);
	if (opt.reader)
		printf("  numa_maps reader: %lu reads (%s walker)%s\n", tot.walker_reads,
		       hostcfg.pagewalk_fixed ? "fixed" : "pre-fix", tot.hung ? ", hung" : "");
	if (opt.injector_rate > 0)
		printf("  injector: %lu firings (%.0f Hz, seed %" PRIu64 ")\n", tot.injector_fires,
		       opt.injector_rate, opt.seed);
	if (opt.zap_after_fixup > 0 || opt.refault_after_split > 0)
		printf("  races on demand: %lu zaps after fixup, %lu refaults after split "
		       "(seed %" PRIu64 ")\n", tot.zaps_after_fixup, tot.refaults_after_split,
		       opt.seed);
	printf("  MAP_DMA time: %.3f ms total, %.3f ms per boot (max %.3f ms); UNMAP_DMA %.3f "
	       "ms total\n", tot.map_ns / 1e6, tot.boots ? tot.map_ns / 1e6 / tot.boots : 0.0,
	       tot.max_boot_map_ns / 1e6, tot.unmap_ns / 1e6);
	if (opt.balloon)
		printf("  balloon: %" PRIu64 " MiB discarded while mapped for DMA; %lu device "
		       "writes, %lu not seen by the guest; %lu DMA coherency violation%s "
		       "reported%s\n", tot.balloon_discarded >> 20, tot.balloon_dma_writes,
		       tot.balloon_lost, tot.coherency_violations,
		       tot.coherency_violations == 1 ? "" : "s",
		       tot.coherency_violations ? " (QEMU disables discard with VFIO: "
						  "ram_block_discard_disable())" : "");
	printf("  wall time: %.3f s\n", wall_ns / 1e9);
	if (tot.watchdog_fired)
		printf("  watchdog: %s after %.1f s without progress while %s\n",
		       tot.stall.kind == EX_STALL_LIVELOCK ? "livelock" : "blocked",
		       tot.stall.stalled_s, tot.stall.doing);
	if (tot.exit_status)
		printf("result: FAILED: %s\n", tot.reason);
	else
		printf("result: ok\n");
}

/* ---------------------------------------------------------------------- */
/* The watchdog's view of a boot                                          */
/* ---------------------------------------------------------------------- */

/* What the watchdog thread samples, under ex_wd.lock. */
static struct pinsim_proc *wd_proc;
static int wd_zap_rules[MAX_DEVS];
static bool wd_have_rules;
static uint64_t wd_faults, wd_zap_hits, wd_zap_fires;	/* at the last sample */
static uint64_t wd_t0;

/* The boot's VMM process and zap rules to sample (NULL: none, it goes away). */
static void wd_watch(struct pinsim_proc *p, const int *zap_rules)
{
	pthread_mutex_lock(&ex_wd.lock);
	wd_proc = p;
	wd_have_rules = zap_rules != NULL;
	if (zap_rules)
		memcpy(wd_zap_rules, zap_rules, sizeof(wd_zap_rules));
	pthread_mutex_unlock(&ex_wd.lock);
}

/*
 * Progress: pages pinned (locked_vm moves inside a long MAP_DMA of RAM).
 * Activity: the VMM's page faults (fixup_user_fault() in follow_fault_pfn()
 * faults the BAR in once per round of the retry loop) and the hits of the
 * zap-after-fixup rules: they move in a livelock, not in a blocked task.
 */
static void wd_sample(uint64_t *progress, uint64_t *activity)
{
	struct pinsim_proc_stats ps;
	unsigned long hits, fires;

	if (!wd_proc || pinsim_proc_stats(wd_proc, &ps))
		return;
	wd_faults = ps.faults_pte + ps.faults_pmd + ps.faults_pud + ps.fault_retries;
	*progress += ps.locked_vm;
	*activity += wd_faults;
	wd_zap_hits = wd_zap_fires = 0;
	for (int i = 0; wd_have_rules && i < opt.nr_devs; i++)
		if (wd_zap_rules[i] >= 0 &&
		    !pinsim_inject_stats(sim, wd_zap_rules[i], &hits, &fires)) {
			wd_zap_hits += hits;
			wd_zap_fires += fires;
		}
	*activity += wd_zap_hits;
}

/* A livelock's retry loop, named, with its counters. */
static void wd_describe_loop(char *buf, size_t len)
{
	size_t at;

	at = (size_t)snprintf(buf, len,
			      "vfio_pin_pages_remote() -> vaddr_get_pfns() -> follow_fault_pfn() "
			      "retry loop: %" PRIu64 " page faults of the VMM so far "
			      "(fixup_user_fault() faults the BAR in each round)",
			      wd_faults);
	if (wd_have_rules && at < len)
		at += (size_t)snprintf(buf + at, len - at,
				       ", %" PRIu64 " passes after fixup, %" PRIu64 " zaps there "
				       "(--zap-after-fixup %g): follow_pfnmap_start() finds the "
				       "entry gone every time", wd_zap_hits, wd_zap_fires,
				       opt.zap_after_fixup);
	if (at >= len)
		return;
	if (opt.policy == PINSIM_RETRY_EAGAIN)
		snprintf(buf + at, len - at,
			 "; policy eagain returns -EAGAIN and vaddr_get_pfns() retries without "
			 "bound (the seeds/03 lockstep livelock): --policy bounded gives EBUSY after "
			 "--retry-bound rounds, --policy enoent gives EINTR once the task is killed");
	else
		snprintf(buf + at, len - at, "; policy %s", policy_name[opt.policy]);
}

/* The watchdog fired: the verdict, the summary and the JSON of what completed. */
static void wd_fire(const struct ex_stall_info *in)
{
	int status = in->kind == EX_STALL_LIVELOCK ? 4 : 3;
	char first[256];

	pthread_mutex_lock(&ex_wd.lock);
	wd_describe_loop(tot.stall_loop, sizeof(tot.stall_loop));
	pthread_mutex_unlock(&ex_wd.lock);
	tot.stall = *in;
	tot.watchdog_fired = true;
	ex_wd_print(stderr, in, tot.stall_loop);
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(in->locks, "\n"), in->locks);
	if (in->kind == EX_STALL_LIVELOCK)
		fail_reason(status, "livelock: no progress for %.0f s while %s: %s",
			    in->stalled_s, in->doing, tot.stall_loop);
	else
		fail_reason(status, "blocked for %.0f s while %s%s%s", in->stalled_s, in->doing,
			    first[0] ? ": " : "", first);
	/* The boot in progress did not complete. */
	tot.boots++;
	tot.boots_failed++;
	if (opt.json)
		print_json(json_out, now_ns() - wd_t0);
	if (!opt.json || json_out != stdout)
		print_summary(now_ns() - wd_t0);
	fflush(stdout);
	if (json_out)
		fflush(json_out);
	_exit(status);
}

static void progress(unsigned long n, bool force)
{
	static uint64_t last;
	uint64_t t = now_ns();

	if (opt.boots < 10 || (!force && t - last < 1000000000ull && n % (opt.boots / 10 ?: 1)))
		return;
	last = t;
	fprintf(stderr, "%s: boot %lu/%lu: %lu ok, %lu failed, %" PRIu64 " oopses\n", prog, n,
		opt.boots, tot.boots_ok, tot.boots_failed, tot.oopses);
}

int main(int argc, char **argv)
{
	uint64_t t0, wall;

	parse_args(argc, argv);
	/* Outputs first: a bad path fails before any work. */
	if (opt.json)
		json_out = ex_open_out("--json", opt.json_path);
	vmlog = json_out == stdout ? stderr : stdout;
	/* Line-buffered: the log and the progress lines on stderr interleave. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup_host())
		return 1;
	print_config();
	t0 = wd_t0 = now_ns();
	ex_wd_set_sim(sim);
	ex_wd_start(opt.watchdog_s, wd_sample, wd_fire);
	for (unsigned long n = 1; n <= opt.boots; n++) {
		struct boot b = { .n = n };

		if (opt.boots > 1)
			logmsg("[boot %lu]\n", n);
		run_boot(&b);
		tot.boots++;
		if (b.map_ns > tot.max_boot_map_ns)
			tot.max_boot_map_ns = b.map_ns;
		if (b.failed || b.fatal)
			tot.boots_failed++;
		else
			tot.boots_ok++;
		progress(n, b.fatal || n == opt.boots);
		if (b.fatal)
			break;
	}
	wall = now_ns() - t0;
	if (tot.map_failures)
		fail_reason(1, "%lu of %lu boots had a failed MAP_DMA, the first: %s",
			    tot.boots_failed, tot.boots, tot.first_failure);
	if (opt.json) {
		print_json(json_out, wall);
		if (!ex_close_out(json_out))
			fail_reason(1, "writing the JSON to %s failed", opt.json_path);
	}
	if (!opt.json || json_out != stdout)
		print_summary(wall);
	/*
	 * After an oops the dead task's locks are held and the VMM could not
	 * be torn down: leave as a process would that cannot exit cleanly,
	 * without the exit-time machinery (and its leak report) running.
	 */
	if (tot.exit_status == 3) {
		fflush(stdout);
		fflush(stderr);
		_exit(3);
	}
	ex_wd_doing("destroying the machine");
	ex_wd_set_sim(NULL);
	pinsim_destroy(sim);
	return tot.exit_status;
}
