#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""scripts/revert-walker-fix.py on a fixture shaped like mm/pagewalk.c with
3b89863c3fa4 (fixture-pagewalk-fixed.c).  TAP on stdout."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "scripts", "revert-walker-fix.py")
FIXTURE = os.path.join(HERE, "fixture-pagewalk-fixed.c")
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import taprunner  # noqa: E402


def run(*args):
    return subprocess.run([sys.executable, SCRIPT] + list(args), capture_output=True, text=True)


class Revert(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.d)
        self.tree = os.path.join(self.d, "tree")
        os.makedirs(os.path.join(self.tree, "mm"))
        shutil.copy(FIXTURE, os.path.join(self.tree, "mm", "pagewalk.c"))
        with open(os.path.join(self.tree, "Makefile"), "w") as f:
            f.write("VERSION = 6\n")
        self.out = os.path.join(self.d, "out")

    def read_out(self):
        with open(os.path.join(self.out, "mm", "pagewalk.c")) as f:
            return f.read()

    def test_reverts_the_three_edits_and_copies_the_rest(self):
        p = run(self.tree, self.out)
        self.assertEqual((p.returncode, p.stdout), (0, self.out + "\n"), p.stderr)
        src = self.read_out()
        pmd = src[src.index("static int walk_pmd_range"):src.index("static int walk_pud_range")]
        pud = src[src.index("static int walk_pud_range"):]
        self.assertNotIn("pudval", pmd)
        self.assertNotIn("Why the snapshot", pmd)
        self.assertIn("pmd = pmd_offset(pud, addr);", pmd)
        self.assertIn("split_huge_pud(walk->vma, pud, addr);\n"
                      "\t\tif (pud_none(*pud))\n\t\t\tgoto again;\n", pud)
        self.assertNotIn("ACTION_AGAIN", pud)
        # Only those two functions change: the other one keeps its snapshot.
        self.assertIn("static int walk_pte_range(pud_t *pud)\n{\n\tpud_t pudval", src)
        self.assertTrue(os.path.isfile(os.path.join(self.out, "Makefile")))
        with open(FIXTURE) as f:
            self.assertIn("pudval", f.read())  # the input is untouched

    def test_a_tree_without_the_fix_is_refused_and_nothing_written(self):
        self.assertEqual(run(self.tree, self.out).returncode, 0)
        again = os.path.join(self.d, "again")
        p = run(self.out, again)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is 3b89863c3fa4 in this tree?", p.stderr)
        self.assertFalse(os.path.exists(again))
        self.assertFalse(os.path.exists(again + ".tmp"))

    def test_existing_output_is_refused(self):
        os.makedirs(self.out)
        p = run(self.tree, self.out)
        self.assertEqual(p.returncode, 1)
        self.assertIn("exists", p.stderr)
        self.assertEqual(os.listdir(self.out), [])

    def test_missing_pagewalk_and_usage(self):
        p = run(self.d, self.out)
        self.assertEqual(p.returncode, 1)
        self.assertIn("pagewalk.c", p.stderr)
        self.assertEqual(run(self.tree).returncode, 2)


if __name__ == "__main__":
    taprunner.main(sys.modules[__name__])
