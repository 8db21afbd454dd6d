// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exit summary (issue 12, observability): what the program did.
 */
#include <stdatomic.h>

#include "preload.h"

static _Atomic uint64_t nr_zaps;

void preload_count_zap(void)
{
	atomic_fetch_add_explicit(&nr_zaps, 1, memory_order_relaxed);
}

static _Atomic uint64_t nr_thread_exits;

void preload_count_thread_exit(void)
{
	atomic_fetch_add_explicit(&nr_thread_exits, 1, memory_order_relaxed);
}
