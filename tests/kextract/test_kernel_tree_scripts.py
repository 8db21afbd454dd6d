#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""scripts/kernel-tree-version.sh on fixture trees, and
scripts/fetch-kernel-tree.sh on a small .deb built here (no network, no
real apt: apt-cache/apt-get are stand-ins first on PATH).  TAP on stdout."""

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VERSION_SH = os.path.join(ROOT, "scripts", "kernel-tree-version.sh")
FETCH_SH = os.path.join(ROOT, "scripts", "fetch-kernel-tree.sh")
FILES_TXT = os.path.join(ROOT, "scripts", "kernel-tree-files.txt")
MAKEFILE = os.path.join(HERE, "fixture-Makefile")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import taprunner  # noqa: E402


def listed_files():
    out = []
    with open(FILES_TXT) as f:
        for ln in f:
            ln = ln.split("#", 1)[0].strip()
            if ln:
                out.append(ln)
    return out


def make_tree(root, skip=()):
    for rel in listed_files():
        if rel in skip:
            continue
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if rel == "Makefile":
            shutil.copy(MAKEFILE, p)
        else:
            with open(p, "w") as f:
                f.write("/* fixture %s */\n" % rel)


def sh(args, env=None, cwd=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(["bash"] + args, capture_output=True, text=True, env=e, cwd=cwd)


class Version(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.d)

    def test_prints_version_patchlevel_sublevel(self):
        make_tree(self.d)
        p = sh([VERSION_SH, self.d])
        self.assertEqual((p.returncode, p.stdout), (0, "6.12.5\n"), p.stderr)

    def test_missing_listed_file_is_named(self):
        make_tree(self.d, skip=("mm/pagewalk.c",))
        p = sh([VERSION_SH, self.d])
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stdout, "")
        self.assertIn("mm/pagewalk.c", p.stderr)

    def test_missing_makefile(self):
        make_tree(self.d, skip=("Makefile",))
        p = sh([VERSION_SH, self.d])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Makefile", p.stderr)

    def test_makefile_without_sublevel(self):
        make_tree(self.d)
        mk = os.path.join(self.d, "Makefile")
        with open(mk) as f:
            text = f.read().replace("SUBLEVEL = 5\n", "")
        with open(mk, "w") as f:
            f.write(text)
        p = sh([VERSION_SH, self.d])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("SUBLEVEL", p.stderr)

    def test_usage(self):
        p = sh([VERSION_SH])
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage", p.stderr)


FAKE_APT_CACHE = """#!/bin/sh
echo "$0 $*" >>"$FAKE_APT_LOG"
cat <<POLICY
linux-source-6.12:
  Installed: (none)
  Candidate: 6.12.5-2~test1
  Version table:
     6.12.5-2~test1 500
        500 http://example.invalid/debian test/main amd64 Packages
     6.12.4-1~test1 500
        500 http://example.invalid/debian test/main amd64 Packages
POLICY
"""

FAKE_APT_GET = """#!/bin/sh
echo "$0 $*" >>"$FAKE_APT_LOG"
[ "$1" = download ] || exit 100
for a; do v=${a#linux-source-6.12=}; done
[ -f "$FAKE_DEB_DIR/linux-source-6.12_${v}_all.deb" ] || { echo "E: no $v" >&2; exit 100; }
cp "$FAKE_DEB_DIR/linux-source-6.12_${v}_all.deb" .
"""


@unittest.skipUnless(shutil.which("dpkg-deb") and shutil.which("xz"), "needs dpkg-deb and xz")
class Fetch(unittest.TestCase):
    debs = None

    @classmethod
    def setUpClass(cls):
        cls.top = tempfile.mkdtemp()
        cls.debs = os.path.join(cls.top, "debs")
        os.makedirs(cls.debs)
        for ver, skip in (("6.12.5-2~test1", ()), ("6.12.4-1~test1", ("mm/memory.c",))):
            cls.build_deb(ver, skip)
        cls.bin = os.path.join(cls.top, "bin")
        os.makedirs(cls.bin)
        for name, text in (("apt-cache", FAKE_APT_CACHE), ("apt-get", FAKE_APT_GET)):
            p = os.path.join(cls.bin, name)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.top)

    @classmethod
    def build_deb(cls, ver, skip):
        pkg = os.path.join(cls.top, "pkg-" + ver)
        tree = os.path.join(pkg, "t", "linux-source-6.12")
        make_tree(tree, skip)
        with open(os.path.join(tree, "NOT-LISTED"), "w") as f:
            f.write("must not be extracted\n")
        src = os.path.join(pkg, "root", "usr", "src")
        os.makedirs(src)
        with tarfile.open(os.path.join(src, "linux-source-6.12.tar.xz"), "w:xz") as t:
            t.add(tree, arcname="linux-source-6.12")
        os.makedirs(os.path.join(pkg, "root", "DEBIAN"))
        with open(os.path.join(pkg, "root", "DEBIAN", "control"), "w") as f:
            f.write("Package: linux-source-6.12\nVersion: %s\nArchitecture: all\n"
                    "Maintainer: pinsim tests <none@example.invalid>\n"
                    "Description: fixture\n" % ver)
        deb = os.path.join(cls.debs, "linux-source-6.12_%s_all.deb" % ver)
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build",
                        os.path.join(pkg, "root"), deb], check=True, capture_output=True)

    def setUp(self):
        self.cache = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.cache)
        self.log = os.path.join(self.cache, "..", os.path.basename(self.cache) + ".apt.log")
        self.addCleanup(lambda: os.path.exists(self.log) and os.remove(self.log))

    def fetch(self, *args, deb=None):
        env = {"PINSIM_KERNEL_CACHE": self.cache, "PINSIM_KERNEL_NEED_MB": "1",
               "PATH": self.bin + os.pathsep + os.environ["PATH"],
               "FAKE_APT_LOG": self.log, "FAKE_DEB_DIR": self.debs}
        if deb:
            env["PINSIM_KERNEL_DEB"] = os.path.join(self.debs, "linux-source-6.12_%s_all.deb" % deb)
        else:
            env.pop("PINSIM_KERNEL_DEB", None)
        e = dict(os.environ)
        e.pop("PINSIM_KERNEL_DEB", None)
        e.update(env)
        return subprocess.run(["bash", FETCH_SH] + list(args), capture_output=True,
                              text=True, env=e, cwd=self.cache)

    def apt_calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [ln.split()[1] for ln in f]

    def test_local_deb_extracts_only_listed_files_and_prints_tree(self):
        p = self.fetch(deb="6.12.5-2~test1")
        self.assertEqual(p.returncode, 0, p.stderr)
        tree = os.path.join(self.cache, "linux-6.12.5")
        self.assertEqual(p.stdout, tree + "\n")
        for rel in listed_files():
            self.assertTrue(os.path.isfile(os.path.join(tree, rel)), rel)
        self.assertFalse(os.path.exists(os.path.join(tree, "NOT-LISTED")))
        self.assertEqual(sh([VERSION_SH, tree]).stdout, "6.12.5\n")
        self.assertEqual(self.apt_calls(), [])
        self.assertEqual(sorted(os.listdir(self.cache)), ["linux-6.12.5"], "no temporaries left")

    def test_second_run_uses_the_cache(self):
        self.assertEqual(self.fetch(deb="6.12.5-2~test1").returncode, 0)
        marker = os.path.join(self.cache, "linux-6.12.5", "marker")
        open(marker, "w").close()
        p = self.fetch(deb="6.12.5-2~test1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("cached", p.stderr)
        self.assertTrue(os.path.exists(marker), "the tree was extracted again")
        # Asking for the upstream version needs neither apt nor the .deb.
        p = self.fetch("6.12.5")
        self.assertEqual((p.returncode, p.stdout), (0, os.path.dirname(marker) + "\n"), p.stderr)
        self.assertEqual(self.apt_calls(), [])

    def test_apt_default_is_the_newest_version(self):
        p = self.fetch()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, os.path.join(self.cache, "linux-6.12.5") + "\n")
        self.assertEqual(self.apt_calls(), ["policy", "download"])

    def test_apt_version_not_found_lists_known_ones(self):
        p = self.fetch("6.12.9")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertIn("6.12.9 not found", p.stderr)
        self.assertIn("6.12.4-1~test1", p.stderr)
        self.assertNotIn("download", self.apt_calls())

    def test_deb_missing_a_listed_file_fails_and_leaves_no_tree(self):
        p = self.fetch("6.12.4-1~test1")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertIn("error", p.stderr)
        self.assertEqual(os.listdir(self.cache), [])

    def test_local_deb_of_another_version_is_refused(self):
        p = self.fetch("6.12.4", deb="6.12.5-2~test1")
        self.assertEqual(p.returncode, 1)
        self.assertIn("not 6.12.4", p.stderr)

    def test_not_enough_disk_is_reported(self):
        e = dict(os.environ)
        e.update({"PINSIM_KERNEL_CACHE": self.cache, "PINSIM_KERNEL_NEED_MB": str(1 << 40),
                  "PINSIM_KERNEL_DEB": os.path.join(self.debs,
                                                    "linux-source-6.12_6.12.5-2~test1_all.deb")})
        p = subprocess.run(["bash", FETCH_SH], capture_output=True, text=True, env=e)
        self.assertEqual(p.returncode, 1)
        self.assertIn("MB free", p.stderr)
        self.assertEqual(os.listdir(self.cache), [])


if __name__ == "__main__":
    taprunner.main(sys.modules[__name__])
