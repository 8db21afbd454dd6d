// SPDX-License-Identifier: GPL-2.0-only
/*
 * static_collide: a program with its own current, down_read and
 * handle_mm_fault (names every kernel-flavoured program may have) links
 * statically against libpinsim.a and runs.  Before the archive was made
 * from one object with only pinsim_* global (tools/public-object.sh) the
 * link failed with "multiple definition of `current'", or worse, the
 * library called the program's down_read().  Public API only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <pinsim/pinsim.h>

/* The program's own objects under the simulated kernel's names. */
int current = 42;
static int down_read_calls, fault_calls;

int down_read(void *sem);
int handle_mm_fault(void *vma, unsigned long addr, unsigned int flags, void *regs);

int down_read(void *sem)
{
	(void)sem;
	return ++down_read_calls;
}

int handle_mm_fault(void *vma, unsigned long addr, unsigned int flags, void *regs)
{
	(void)vma;
	(void)addr;
	(void)flags;
	(void)regs;
	return ++fault_calls;
}

static int fail(const char *what)
{
	fprintf(stderr, "static_collide: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	struct pinsim_config cfg;
	struct pinsim_page_info info;
	struct pinsim_proc *p;
	struct pinsim *m;
	char buf[8] = "";
	uint64_t va;

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 1ULL << 30;
	if (pinsim_create(&cfg, &m))
		return fail("pinsim_create");
	if (pinsim_proc_create(m, &p))
		return fail("pinsim_proc_create");
	/* mmap_lock taken and a page fault handled: the library's own. */
	va = pinsim_mmap(p, 0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (va == PINSIM_MAP_FAILED)
		return fail("pinsim_mmap");
	if (pinsim_access(p, va, "pinned", 7, 1) != 7 || pinsim_access(p, va, buf, 7, 0) != 7)
		return fail("pinsim_access");
	if (pinsim_pagemap(p, va, &info) || info.level != PINSIM_LEVEL_PTE)
		return fail("pinsim_pagemap");
	pinsim_destroy(m);
	printf("read back \"%s\"; the program's current=%d, down_read() %d calls, "
	       "handle_mm_fault() %d calls\n", buf, current, down_read_calls, fault_calls);
	/* The library used its own (now local) functions, never the program's. */
	if (strcmp(buf, "pinned") || current != 42 || down_read_calls || fault_calls) {
		fprintf(stderr, "static_collide: the library reached the program's symbols\n");
		return 1;
	}
	return 0;
}
