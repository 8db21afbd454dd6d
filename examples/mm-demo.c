// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm-demo: a tour of the simulated machine through the public API only.
 *
 * Creates a machine, maps 4K anonymous memory, a THP region and a 1G
 * hugetlb page in one process, writes and reads them back, and shows which
 * page-table level each was faulted in at and what a long-term pin does to
 * refcounts, pincounts and locked_vm, on the kernel --kernel names.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <pinsim/pinsim.h>

static const char *prog = "mm-demo";

#include "example_util.h"

struct region {
	const char *name;
	uint64_t len;
	int flags;
	bool thp;
	uint64_t addr;
	struct pinsim_pin *pin;
};

static const char *level_name(enum pinsim_level l)
{
	static const char *const n[] = { "none", "PTE (4K)", "PMD (2M)", "PUD (1G)" };

	return n[l];
}

static int die(const char *what)
{
	fprintf(stderr, "mm-demo: %s: %s\n", what, strerror(errno));
	return 1;
}

static void show(struct pinsim_proc *p, struct region *r, const char *when)
{
	struct pinsim_page_info pi;

	if (pinsim_pagemap(p, r->addr, &pi))
		return;
	printf("  %-12s %-7s level=%-9s pfn=%#-10llx order=%-2u refcount=%-6d pincount=%d\n",
	       r->name, when, level_name(pi.level), (unsigned long long)pi.pfn, pi.folio_order,
	       pi.refcount, pi.pincount);
}

static int check_data(struct pinsim_proc *p, struct region *r)
{
	unsigned char out[4096], in[4096];

	/* A pattern at the start, the middle and the last page. */
	for (uint64_t off = 0; off < r->len; off += r->len / 2 - 4096) {
		uint64_t at = off + 4096 > r->len ? r->len - 4096 : off;

		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (unsigned char)(i ^ (at >> 12) ^ 0x5a);
		if (pinsim_access(p, r->addr + at, out, sizeof(out), 1) != sizeof(out))
			return die("write");
		if (pinsim_access(p, r->addr + at, in, sizeof(in), 0) != sizeof(in))
			return die("read");
		if (memcmp(in, out, sizeof(in))) {
			fprintf(stderr, "mm-demo: %s: data mismatch at +%#llx\n", r->name,
				(unsigned long long)at);
			return 1;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mm-demo [--ram GIB] [--kernel VERSION] [--impl rewrite|tree]\n"
		   "Maps 4K, THP and 1G hugetlb memory in a simulated process, writes and\n"
		   "reads it back, and prints fault levels and pin accounting.\n\n"
		   "  --ram GIB           simulated RAM in GiB, 4 to 4096 (default 16)\n");
	ex_kernel_help(f, 22, NULL);
	ex_impl_help(f, 22);
	fprintf(f, "  --version           the program's and the library's version\n"
		   "  --help              this text\n"
		   "Exit status: 0 ok, 1 an error or a simulated oops or warning, 2 bad "
		   "arguments.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ram", required_argument, NULL, 'r' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "impl", required_argument, NULL, 'i' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct region regions[] = {
		{ "anon-4k", 1ULL << 20, MAP_PRIVATE | MAP_ANONYMOUS, false, 0, NULL },
		{ "anon-thp", 8ULL << 20, MAP_PRIVATE | MAP_ANONYMOUS, true, 0, NULL },
		{ "hugetlb-1g", 1ULL << 30,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, false, 0, NULL },
	};
	struct pinsim_config cfg;
	struct pinsim_proc_stats ps;
	struct pinsim_stats st;
	struct pinsim_proc *p;
	struct pinsim *m;
	char kernel[32] = "";
	enum pinsim_impl impl = PINSIM_IMPL_REWRITE;
	unsigned long ram = 16;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		ex_check_value(opts, c, argv);
		switch (c) {
		case 'r':
			if (!parse_ulong(optarg, 4096, &ram) || ram < 4)
				bad_arg("--ram: '%s' is not a number of GiB from 4 to 4096",
					optarg);
			break;
		case 'k':
			ex_kernel_arg(optarg, kernel, sizeof(kernel));
			break;
		case 'i':
			impl = ex_impl_arg(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			ex_version();
		default:
			ex_getopt_error(c, argv);
		}
	}
	if (optind < argc)
		bad_arg("unexpected argument '%s'", argv[optind]);

	if (!kernel[0])
		snprintf(kernel, sizeof(kernel), "%s",
			 ex_impl_kernel(impl) ? ex_impl_kernel(impl) : EX_KERNEL_DEFAULT);
	pinsim_config_init(&cfg);
	ex_kernel_set(&cfg, kernel);
	cfg.impl = impl;
	cfg.ram_bytes = (uint64_t)ram << 30;
	cfg.hugetlb_1g_pages = 2;
	cfg.hugetlb_2m_pages = 8;
	if (pinsim_create(&cfg, &m))
		return die("pinsim_create");
	if (pinsim_proc_create(m, &p))
		return die("pinsim_proc_create");
	ex_kernel_print(stdout, "", &cfg);
	printf("machine: %lu GiB RAM, hugetlb 2x1G + 8x2M; process created\n", ram);

	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		struct region *r = &regions[i];

		r->addr = pinsim_mmap(p, 0, r->len, PROT_READ | PROT_WRITE, r->flags, -1, 0);
		if (r->addr == PINSIM_MAP_FAILED)
			return die(r->name);
		if (r->thp && pinsim_madvise(p, r->addr, r->len, MADV_HUGEPAGE))
			return die("madvise");
		printf("mmap %-12s at %#llx, %llu KiB\n", r->name, (unsigned long long)r->addr,
		       (unsigned long long)(r->len >> 10));
	}
	printf("\nwrite + read back:\n");
	for (size_t i = 0; i < 3; i++) {
		if (check_data(p, &regions[i]))
			return 1;
		show(p, &regions[i], "faulted");
	}
	printf("\nlong-term pin (FOLL_PIN|FOLL_LONGTERM, charged to locked_vm):\n");
	if (pinsim_set_cap_ipc_lock(p, true))
		return die("cap");
	for (size_t i = 0; i < 3; i++) {
		if (pinsim_pin_user_pages(p, regions[i].addr, regions[i].len, 1, &regions[i].pin))
			return die("pin");
		show(p, &regions[i], "pinned");
	}
	pinsim_proc_stats(p, &ps);
	printf("  locked_vm = %llu pages\n", (unsigned long long)ps.locked_vm);
	for (size_t i = 0; i < 3; i++) {
		if (pinsim_unpin_user_pages(regions[i].pin))
			return die("unpin");
		show(p, &regions[i], "unpinned");
	}
	pinsim_proc_stats(p, &ps);
	printf("  locked_vm = %llu pages\n", (unsigned long long)ps.locked_vm);
	printf("\nfaults: pte=%llu pmd=%llu pud=%llu, page-table pages=%llu\n",
	       (unsigned long long)ps.faults_pte, (unsigned long long)ps.faults_pmd,
	       (unsigned long long)ps.faults_pud, (unsigned long long)ps.pgtable_pages);
	pinsim_stats(m, &st);
	printf("machine: %llu frames in use, %llu bytes of struct page per 4 KiB frame, "
	       "oopses=%llu warnings=%llu\n",
	       (unsigned long long)st.pages_allocated, (unsigned long long)st.bytes_per_frame,
	       (unsigned long long)st.oopses, (unsigned long long)st.warnings);
	pinsim_proc_destroy(p);
	pinsim_destroy(m);
	return st.oopses || st.warnings ? 1 : 0;
}
