#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Make a copy of a kernel tree with the 2026-03-17 VFIO retry patch applied.

    apply-seeds03-retry.py TREE OUT

"[PATCH] vfio/type1: Retry follow_pfnmap_start() when PFNMAP is zapped"
(Max Boone, 2026-03-17, the thread at
https://lore.kernel.org/all/?q=s%3A%22vfio%2Ftype1%3A+Retry+follow_pfnmap_start%22)
changes one line of follow_fault_pfn() in
drivers/vfio/vfio_iommu_type1.c: when follow_pfnmap_start() fails again
after a successful fixup_user_fault(), return -EAGAIN (vaddr_get_pfns()
then looks the VMA up and faults again) instead of its error, -EINVAL.
With a git tree, apply the mail itself (`b4 am`, or `git am` of the raw
message); this script is for a tree from Debian's tarball in places with no
network (pinsim's CI): it makes that one edit, found by the code around it,
and writes nothing if the code is not as 6.12 has it.

Build the result with the profile that describes it,
  meson setup B -Dkernel_tree=OUT -Dkernel_tree_profile=VERSION+eagain
so that pinsim expects what the patched source does (the seeds/01 + seeds/03
race then maps instead of failing with EINVAL).

TREE is copied to OUT (OUT must not exist).  Exit status 1 with the reason
when the edit does not match exactly once (a tree that already has it, or
whose follow_fault_pfn() changed); 2: usage.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tree_edit import edit_tree, function_span, sub_once  # noqa: E402


def apply(src):
    s, e = function_span(src, "follow_fault_pfn")
    body = src[s:e]
    # The second follow_pfnmap_start(), the one after the fault: its error
    # becomes -EAGAIN.  The first one (before the fault) is left alone.
    body = sub_once(r"^(\t\tret = follow_pfnmap_start\(&args\);\n"
                    r"\t\tif \(ret\)\n\t\t\treturn )ret;\n",
                    r"\1-EAGAIN;\n", body,
                    "follow_fault_pfn(): the follow_pfnmap_start() after fixup_user_fault()")
    return src[:s] + body + src[e:]


def main(argv):
    return edit_tree("apply-seeds03-retry", argv,
                     os.path.join("drivers", "vfio", "vfio_iommu_type1.c"), apply,
                     "is this follow_fault_pfn() the 6.12 one, without the patch?")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
