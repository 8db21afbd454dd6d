/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shim <linux/pagewalk.h>: the tree's own include/linux/pagewalk.h, by
 * absolute path (KTREE_PAGEWALK_H, set by ktree/meson.build), so that its
 * own includes (<linux/mm.h>) resolve to the shim and nothing else of the
 * tree's include/ is seen.  It compiles over the shim unmodified: nothing
 * is mapped or stubbed here.  KTREE_ASSERT_WALK_ABI() then checks that its
 * structs are laid out as pinsim's sim/pagewalk.h ones, which the tests
 * pass across (ktree/ktree_pagewalk.h).
 */
#ifndef KTREE_LINUX_PAGEWALK_H
#define KTREE_LINUX_PAGEWALK_H

#include <linux/mm.h>

#include KTREE_PAGEWALK_H

#include "ktree_pagewalk.h"

KTREE_ASSERT_WALK_ABI();

#endif /* KTREE_LINUX_PAGEWALK_H */
