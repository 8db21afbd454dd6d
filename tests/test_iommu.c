// SPDX-License-Identifier: GPL-2.0-only
#include "harness.h"
Suite *make_suite(void) { return suite_create("iommu"); }
