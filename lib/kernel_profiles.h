/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Named kernels (lib/kernel_profiles.c): the bridge from the public
 * struct pinsim_config to the switches sim/ and lib/ read, so that tests
 * which build a machine from internals run the same kernel a profile names.
 */
#ifndef LIB_KERNEL_PROFILES_H
#define LIB_KERNEL_PROFILES_H

#include "machine.h"
#include "pinsim/pinsim.h"
#include "vfio.h"

/*
 * Copy @cfg's machine fields into @mc and its VFIO fields (version
 * switches, module parameters, retry policy) into @vc.  @mc and @vc start
 * from machine_config_init() / vfio_type1_config_init().
 */
void kernel_config_apply(const struct pinsim_config *cfg, struct machine_config *mc,
			 struct vfio_type1_config *vc);

/* The switches of @version on top of the defaults; -EINVAL if unknown. */
int kernel_profile_configs(const char *version, struct machine_config *mc,
			   struct vfio_type1_config *vc);

/*
 * The retry policy the built kernel tree's source has, as its profile
 * declares it (-Dkernel_tree_profile=6.12.118+eagain: EAGAIN; every
 * released kernel: LEGACY).  LEGACY without a tree.
 */
enum pinsim_retry_policy kernel_tree_retry_policy(void);

#endif /* LIB_KERNEL_PROFILES_H */
