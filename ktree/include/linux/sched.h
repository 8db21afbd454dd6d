/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim <linux/sched.h>: mm/pagewalk.c uses none of its names directly
 * (the mmap lock assertions find the current task themselves, in
 * sim/rwsem.c); maps <linux/mm.h> only.
 */
#include <linux/mm.h>
