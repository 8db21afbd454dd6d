#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Make a copy of a kernel tree with the March 2026 walker fix reverted.

    revert-walker-fix.py TREE OUT

3b89863c3fa4 ("mm/pagewalk: fix race between concurrent split and refault",
6.12.84 in the 6.12 stable line) changed two functions of mm/pagewalk.c:
walk_pmd_range() snapshots the PUD and sends the walk back with
ACTION_AGAIN when it is not a table, and walk_pud_range() honours that
ACTION_AGAIN instead of its old re-check (pud_none() right after
split_huge_pud(), which lets a refaulted leaf through: seeds/01).  In a git
tree, `git revert 3b89863c3fa4` (or the stable backport's id) does this.  A
tree from Debian's linux-source tarball has no history, so this script
undoes the same three edits by matching the code the fix left:

  walk_pmd_range(): the `pudval` snapshot and the `if (!pud_present(pudval)
                    || pud_leaf(pudval))` early return (with the comment
                    above it) are removed;
  walk_pud_range(): `if (pud_none(*pud)) goto again;` is put back right after
                    the split_huge_pud() call, and the ACTION_AGAIN check after
                    walk_pmd_range() is removed.

Everything else (aedf2efd1897's walk->action reset at the top of the loops,
in 6.12.115 on) stays as the tree has it: the result is the tree minus that
one commit, which pinsim's profile TREE_VERSION-3b89863c3fa4 describes.
Build it with
  meson setup B -Dkernel_tree=OUT -Dkernel_tree_profile=VERSION-3b89863c3fa4

TREE is copied to OUT file by file (only regular files under TREE; OUT must
not exist).  Each edit must match exactly once, or nothing is written and the
exit status is 1 with the reason: a tree without the fix, or whose code moved,
is refused rather than half-reverted.  Exit status 2: usage.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tree_edit import Refused, edit_tree, function_span, sub_once  # noqa: E402


def revert(src):
    s, e = function_span(src, "walk_pmd_range")
    body = src[s:e]
    body = sub_once(r"^\tpud_t pudval = pudp_get\(pud\);\n", "", body,
                    "walk_pmd_range(): the pudval snapshot")
    # The early return, and the comment block right above it if any.
    body = sub_once(r"(?:^\t/\*(?:(?!\*/)[\s\S])*?\*/\n)?"
                    r"^\tif \(!pud_present\(pudval\) \|\| pud_leaf\(pudval\)\) \{\n"
                    r"^\t\twalk->action = ACTION_AGAIN;\n"
                    r"^\t\treturn 0;\n"
                    r"^\t\}\n\n?", "", body,
                    "walk_pmd_range(): the non-table PUD early return")
    if "pudval" in body:
        raise Refused("walk_pmd_range() still uses pudval after the edit")
    src = src[:s] + body + src[e:]

    s, e = function_span(src, "walk_pud_range")
    body = src[s:e]
    body = sub_once(r"^(\t\tif \(walk->vma\)\n\t\t\tsplit_huge_pud\(walk->vma, pud, addr\);\n)",
                    r"\1\t\tif (pud_none(*pud))\n\t\t\tgoto again;\n", body,
                    "walk_pud_range(): the split_huge_pud() call")
    body = sub_once(r"^(\t\terr = walk_pmd_range\(pud, addr, next, walk\);\n"
                    r"\t\tif \(err\)\n\t\t\tbreak;\n)"
                    r"\n\t\tif \(walk->action == ACTION_AGAIN\)\n\t\t\tgoto again;\n",
                    r"\1", body, "walk_pud_range(): the ACTION_AGAIN check after walk_pmd_range()")
    return src[:s] + body + src[e:]


def main(argv):
    return edit_tree("revert-walker-fix", argv, os.path.join("mm", "pagewalk.c"), revert,
                     "is 3b89863c3fa4 in this tree?")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
