#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Copy a kernel C file whole, for compiling it where its quoted includes
resolve to shims (a file's own directory is searched first for
`#include "x.h"`, so it is compiled from a copy elsewhere).

    kcopy.py -o OUT [--require NAME]... [--require-line TEXT]... FILE

The copy starts with '#line 1 "FILE"', so that a compiler's messages and a
debugger point into the kernel tree, and is otherwise the file as it is.
Before writing, each --require NAME must be a top-level definition of FILE
(a function, variable, macro or "struct x", as tools/kextract.py finds
them) and each --require-line TEXT must be a line of FILE (stripped): the
names the code compiled around the copy relies on.  A missing one is
named on stderr and nothing is written (exit 2).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kextract  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(prog="kcopy.py")
    ap.add_argument("file")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--require", action="append", default=[], metavar="NAME")
    ap.add_argument("--require-line", action="append", default=[], metavar="TEXT")
    args = ap.parse_args(argv)

    try:
        with open(args.file, encoding="utf-8", errors="surrogateescape", newline="") as f:
            text = f.read()
    except OSError as e:
        print("kcopy: %s: %s" % (args.file, e.strerror), file=sys.stderr)
        return 1

    items = kextract.segment(kextract.scan(text))
    missing = [n for n in args.require if not kextract.find(items, n)]
    lines = {ln.strip() for ln in text.splitlines()}
    missing += [t for t in args.require_line if t not in lines]
    if missing:
        for name in missing:
            print("kcopy: %s: no %s (pinsim's shim relies on it; see ktree/vfio/)" %
                  (args.file, name), file=sys.stderr)
        return 2

    try:
        with open(args.output, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("#line 1 %s\n" % kextract.c_string(args.file))
            f.write(text)
    except OSError as e:
        print("kcopy: %s: %s" % (args.output, e.strerror), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
