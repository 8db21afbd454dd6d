/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim <linux/highmem.h>: nothing of it is used by mm/pagewalk.c on x86-64
 * (no highmem: pte_offset_map() needs no kmap); maps <linux/mm.h> only.
 */
#include <linux/mm.h>
