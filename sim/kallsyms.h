/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kallsyms for the simulated kernel (kernel/kallsyms.c kallsyms_lookup()):
 * the name of the function a code address is in, so that an oops taken by
 * a plain load (a kernel tree's `*pmd`, caught by the direct map's fault
 * handler) names its function as the kernel's oops names RIP's.
 *
 * The simulated kernel is host code: its symbols are in the ELF symbol
 * table (.symtab, static functions included) of the executable or shared
 * object the address is mapped from, found through /proc/self/maps.  No
 * .symtab (a stripped binary): the dynamic symbols, which have no static
 * functions; none found: false.  The address itself is never reported.
 */
#ifndef SIM_KALLSYMS_H
#define SIM_KALLSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The function containing code address @ip, into @name (NUL-terminated,
 * truncated to @len).  False when it cannot tell.  Not async-signal-safe
 * (stdio reads /proc/self/maps): the direct-map fault handler may call it
 * only because its fault is synchronous, raised by simulated kernel code
 * and never inside libc (see direct_map_fault() in sim/phys.c).
 */
bool kallsyms_lookup(uintptr_t ip, char *name, size_t len);

#endif /* SIM_KALLSYMS_H */
