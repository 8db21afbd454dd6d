# SPDX-License-Identifier: GPL-2.0-only
"""Shared by the scripts that make an edited copy of a kernel tree
(revert-walker-fix.py, apply-seeds03-retry.py): find a function, make an
edit that must match exactly once, and write TREE's copy OUT with one file
replaced.  An edit that does not match is refused (Refused), so a tree whose
code is not the one expected is never half-edited."""

import os
import re
import shutil
import sys


class Refused(Exception):
    pass


def function_span(src, name, ret="int"):
    """[start, end) of the top-level `static RET NAME(` definition."""
    m = re.search(r"^static %s %s\(" % (re.escape(ret), re.escape(name)), src, re.M)
    if not m:
        raise Refused("no definition of %s()" % name)
    end = src.find("\n}\n", m.start())
    if end < 0:
        raise Refused("%s() has no closing brace in column 0" % name)
    return m.start(), end + 3


def sub_once(pattern, repl, text, what):
    new, n = re.subn(pattern, repl, text, flags=re.M)
    if n != 1:
        raise Refused("%s: expected 1 match, found %d" % (what, n))
    return new


def edit_tree(prog, argv, relpath, edit, hint):
    """The main() of such a script: `prog TREE OUT`, OUT = TREE with
    RELPATH replaced by edit(its text).  Prints OUT; exit 1 with the reason
    (and HINT) if refused, 2 on usage."""
    if len(argv) != 3:
        print("usage: %s TREE OUT" % prog, file=sys.stderr)
        return 2
    tree, out = argv[1], argv[2]
    path = os.path.join(tree, relpath)
    try:
        with open(path) as f:
            src = f.read()
    except OSError as e:
        print("%s: %s: %s" % (prog, path, e.strerror), file=sys.stderr)
        return 1
    if os.path.exists(out):
        print("%s: %s exists; give a new folder" % (prog, out), file=sys.stderr)
        return 1
    try:
        new = edit(src)
    except Refused as e:
        print("%s: %s: %s: %s" % (prog, path, e, hint), file=sys.stderr)
        return 1
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(tree, tmp, symlinks=False)
    with open(os.path.join(tmp, relpath), "w") as f:
        f.write(new)
    os.rename(tmp, out)
    print(out)
    return 0
