/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * race.c: the race machinery from the environment (issue 12,
 * observability): PINSIM_INJECT, PINSIM_NUMA_MAPS, PINSIM_POLICY,
 * PINSIM_IMPL.  See race.c and pinsim-run --help.
 */
#ifndef PINSIM_PRELOAD_RACE_H
#define PINSIM_PRELOAD_RACE_H

#include <stdbool.h>
#include <stddef.h>

#include "pinsim/pinsim.h"

/*
 * Before pinsim_create(): PINSIM_IMPL and PINSIM_POLICY into @cfg, the
 * syntax of PINSIM_INJECT and PINSIM_NUMA_MAPS checked.  -1 with
 * preload.error set on a bad value (the program's VFIO opens then fail).
 */
int race_config(struct pinsim_config *cfg);
/*
 * After the process exists: the rules armed, the numa_maps reader started.
 * Returns race_config()'s verdict style: 0, or -1 with preload.error set.
 */
int race_start(void);
/* Stop the numa_maps reader (waits for PINSIM_NUMA_MAPS's count of reads). */
void race_stop(void);
/*
 * What the race machinery did, for the exit summary (not from a signal
 * handler: it reads the injector's counters): text lines "  race: ..."
 * ending in '\n', or a JSON member `"race": {...}` with no separator;
 * "" when none of the variables was set.  Stops the reader first.  The
 * length written (truncated to @len - 1, NUL-terminated).  Once called,
 * race.c's own fallback report at exit stays off.
 */
size_t race_report(char *buf, size_t len, bool json);

#endif /* PINSIM_PRELOAD_RACE_H */
