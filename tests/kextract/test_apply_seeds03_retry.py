#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""scripts/apply-seeds03-retry.py on a fixture shaped like 6.12's
follow_fault_pfn() (fixture-type1-follow-fault.c).  TAP on stdout."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "scripts", "apply-seeds03-retry.py")
FIXTURE = os.path.join(HERE, "fixture-type1-follow-fault.c")
REL = os.path.join("drivers", "vfio", "vfio_iommu_type1.c")
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import taprunner  # noqa: E402


def run(*args):
    return subprocess.run([sys.executable, SCRIPT] + list(args), capture_output=True, text=True)


class Apply(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.d)
        self.tree = os.path.join(self.d, "tree")
        os.makedirs(os.path.join(self.tree, "drivers", "vfio"))
        shutil.copy(FIXTURE, os.path.join(self.tree, REL))
        with open(os.path.join(self.tree, "Makefile"), "w") as f:
            f.write("VERSION = 6\n")
        self.out = os.path.join(self.d, "out")

    def test_only_the_lookup_after_the_fault_returns_eagain(self):
        p = run(self.tree, self.out)
        self.assertEqual((p.returncode, p.stdout), (0, self.out + "\n"), p.stderr)
        with open(os.path.join(self.out, REL)) as f:
            src = f.read()
        with open(FIXTURE) as f:
            orig = f.read()
        fn = src[src.index("static int follow_fault_pfn"):src.index("static int other_lookup")]
        self.assertIn("\t\tret = follow_pfnmap_start(&args);\n\t\tif (ret)\n"
                      "\t\t\treturn -EAGAIN;\n\t}", fn)
        # The first lookup and the fault's error path keep their returns,
        # the other function is untouched: one line differs in all.
        self.assertIn("\t\tif (ret)\n\t\t\treturn ret;\n\n\t\tret = follow_pfnmap_start", fn)
        diff = [(a, b) for a, b in zip(orig.splitlines(), src.splitlines()) if a != b]
        self.assertEqual(diff, [("\t\t\treturn ret;", "\t\t\treturn -EAGAIN;")])
        self.assertTrue(os.path.isfile(os.path.join(self.out, "Makefile")))

    def test_a_patched_tree_is_refused_and_nothing_written(self):
        self.assertEqual(run(self.tree, self.out).returncode, 0)
        again = os.path.join(self.d, "again")
        p = run(self.out, again)
        self.assertEqual(p.returncode, 1)
        self.assertIn("without the patch?", p.stderr)
        self.assertFalse(os.path.exists(again))
        self.assertFalse(os.path.exists(again + ".tmp"))

    def test_missing_file_existing_output_and_usage(self):
        p = run(self.d, self.out)
        self.assertEqual(p.returncode, 1)
        self.assertIn("vfio_iommu_type1.c", p.stderr)
        os.makedirs(self.out)
        p = run(self.tree, self.out)
        self.assertEqual(p.returncode, 1)
        self.assertIn("exists", p.stderr)
        self.assertEqual(run(self.tree).returncode, 2)


if __name__ == "__main__":
    taprunner.main(sys.modules[__name__])
