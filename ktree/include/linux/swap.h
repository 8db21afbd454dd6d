/* SPDX-License-Identifier: GPL-2.0-only */
/* Shim <linux/swap.h>: maps nothing itself; see <linux/swapops.h>. */
#include <linux/swapops.h>
