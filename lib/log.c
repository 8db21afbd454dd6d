// SPDX-License-Identifier: GPL-2.0-only
/*
 * pinsim_set_log(): where the library's messages go (the simulated
 * kernel's console, sim/printk.c).
 */
#include "pinsim/pinsim.h"

#include "printk.h"

void pinsim_set_log(pinsim_log_fn *fn, void *data)
{
	sim_set_console(fn, data);
}
