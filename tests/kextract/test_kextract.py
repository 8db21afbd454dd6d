#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""tools/kextract.py on tests/kextract/fixture.c (pinsim's own code in the
kernel's layout): which lines each definition takes, and that what it
takes compiles.  TAP on stdout.  KEXTRACT_CC (set by meson to its C
compiler) enables the compile checks."""

import os
import re
import shlex
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEXTRACT = os.path.join(ROOT, "tools", "kextract.py")
FIXTURE = os.path.join(HERE, "fixture.c")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import taprunner  # noqa: E402

with open(FIXTURE) as _f:
    FIXTURE_LINES = _f.read().splitlines()


def run(*args):
    p = subprocess.run([sys.executable, KEXTRACT] + list(args),
                       capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def extract(*names, opts=()):
    rc, out, err = run(*opts, FIXTURE, *names)
    assert rc == 0, "kextract %s: rc %d: %s" % (names, rc, err)
    return out


def chunks(out):
    """[(cond or None, first line number, [lines])] of kextract output."""
    res = []
    cond = None
    cur = None
    for ln in out.splitlines():
        m = re.match(r'^#line (\d+) "(.*)"$', ln)
        if m:
            cur = (cond, int(m.group(1)), [])
            res.append(cur)
            continue
        if cur is None and ln.startswith("#if "):
            cond = ln[4:]
            continue
        if ln == "#endif" and cond is not None and cur is not None and \
                not _inside_open_if(cur[2]):
            cond = None
            cur = None
            continue
        assert cur is not None, "text before any #line: %r" % ln
        cur[2].append(ln)
    return res


def _inside_open_if(lines):
    depth = 0
    for ln in lines:
        s = ln.strip()
        if re.match(r"#\s*if", s):
            depth += 1
        elif re.match(r"#\s*endif", s):
            depth -= 1
    return depth > 0


class Extract(unittest.TestCase):
    def one(self, name, **kw):
        cs = chunks(extract(name, **kw))
        self.assertEqual(len(cs), 1, cs)
        return cs[0]

    def assert_maps_to_fixture(self, chunk):
        _, first, lines = chunk
        for k, ln in enumerate(lines):
            self.assertEqual(ln, FIXTURE_LINES[first - 1 + k],
                             "line %d of the chunk is not fixture line %d" % (k, first + k))

    def test_list_names_every_top_level_definition(self):
        rc, out, _ = run("--list", FIXTURE)
        self.assertEqual(rc, 0)
        names = {ln.split("\t")[1] for ln in out.splitlines()}
        for n in ("FIXTURE_SWAP", "struct fixture_pair", "struct fixture_ops",
                  "fixture_limit", "fixture_strings", "fixture_split_type",
                  "fixture_inline_attr", "fixture_exported", "fixture_cond_body",
                  "fixture_two_defs", "fixture_split_head", "fixture_get_a",
                  "fixture_ops", "fixture_last"):
            self.assertIn(n, names)

    def test_braces_quotes_in_literals_and_comments_do_not_count(self):
        c = self.one("fixture_strings")
        self.assert_maps_to_fixture(c)
        self.assertEqual(c[2][0], "/**", "the kernel-doc comment above comes along")
        self.assertEqual(c[2][-1], "}")
        self.assertIn("\treturn n;", c[2])
        self.assertNotIn("static int fixture_split_type(", "\n".join(c[2]))

    def test_forward_declaration_is_not_the_definition(self):
        c = self.one("fixture_strings", opts=("--no-comment",))
        self.assertEqual(c[2][0], "static int fixture_strings(const char *s)")
        self.assertEqual(c[2][1], "{")

    def test_return_type_on_its_own_line_and_multi_line_signature(self):
        c = self.one("fixture_split_type")
        self.assert_maps_to_fixture(c)
        self.assertEqual(c[2][0], "static int")
        self.assertEqual(c[2][-1], "}")

    def test_static_inline_and_attribute_line_before(self):
        c = self.one("fixture_inline_attr")
        self.assert_maps_to_fixture(c)
        self.assertEqual(c[2][0], "static inline __attribute__((unused))")

    def test_export_symbol_after_is_included(self):
        c = self.one("fixture_exported")
        self.assert_maps_to_fixture(c)
        self.assertEqual(c[2][-1], "EXPORT_SYMBOL_GPL(fixture_exported);")
        self.assertEqual(c[2][-2], "}")

    def test_ifdef_inside_body_kept_and_unbalanced_branches_counted_once(self):
        c = self.one("fixture_cond_body")
        self.assert_maps_to_fixture(c)
        text = "\n".join(c[2])
        for want in ("#ifdef FIXTURE_OPT", "\tif (a > b) {", "#else", "\tif (a < b) {",
                     "#if 0", "\treturn r;"):
            self.assertIn(want, text)
        self.assertEqual(c[2][-1], "}")
        self.assertEqual(c[0], None)

    def test_definitions_under_ifdef_and_else_each_keep_their_condition(self):
        cs = chunks(extract("fixture_two_defs"))
        self.assertEqual(len(cs), 2)
        self.assertEqual(cs[0][0], "(defined(FIXTURE_OPT))")
        self.assertEqual(cs[1][0], "!(defined(FIXTURE_OPT))")
        self.assertIn("\treturn a + 1;", cs[0][2])
        self.assertIn("\treturn a - 1;", cs[1][2])
        for c in cs:
            self.assert_maps_to_fixture(c)

    def test_no_cond_leaves_conditions_out(self):
        out = extract("fixture_two_defs", opts=("--no-cond",))
        self.assertNotIn("#if", out)
        self.assertEqual(out.count("#line"), 2)

    def test_head_split_by_ifdef_starts_at_the_if(self):
        c = self.one("fixture_split_head")
        self.assert_maps_to_fixture(c)
        self.assertEqual(c[2][0], "#ifdef FIXTURE_OPT")
        self.assertEqual(c[2][-1], "}")

    def test_initializer_split_by_ifdef_ends_at_the_endif(self):
        c = self.one("fixture_limit")
        self.assert_maps_to_fixture(c)
        self.assertEqual(c[2][0], "int fixture_limit __fixture_attr =")
        self.assertEqual(c[2][-1], "#endif")

    def test_struct_by_tag_with_its_comment(self):
        c = self.one("struct fixture_pair")
        self.assert_maps_to_fixture(c)
        self.assertEqual(c[2][0], "/*")
        self.assertEqual(c[2][-1], "};")

    def test_variable_and_macro(self):
        c = self.one("fixture_ops")
        self.assertEqual(c[2][0], "static const struct fixture_ops fixture_ops = {")
        self.assertEqual(c[2][-1], "};")
        m = self.one("FIXTURE_SWAP")
        self.assertEqual(m[2][0], "#define FIXTURE_SWAP(a, b)\t\t\t\\")
        self.assertEqual(m[2][-1], "\t} while (0)")

    def test_chunks_in_file_order_whatever_the_argument_order(self):
        cs = chunks(extract("fixture_last", "fixture_strings"))
        self.assertEqual([c[1] < cs[-1][1] for c in cs], [True, False])

    def test_missing_names_exit_2_and_are_all_named(self):
        rc, out, err = run(FIXTURE, "fixture_strings", "no_such_fn", "struct no_such")
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("no_such_fn", err)
        self.assertIn("struct no_such", err)

    def test_a_prototype_alone_is_missing(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "proto.c")
            with open(p, "w") as f:
                f.write("int only_declared(int a);\n")
            rc, _, err = run(p, "only_declared")
        self.assertEqual(rc, 2)
        self.assertIn("only_declared", err)

    def test_output_file_same_as_stdout(self):
        with tempfile.TemporaryDirectory() as d:
            o = os.path.join(d, "out.c")
            rc, out, _ = run("-o", o, FIXTURE, "fixture_strings", "fixture_two_defs")
            self.assertEqual((rc, out), (0, ""))
            with open(o) as f:
                self.assertEqual(f.read(), extract("fixture_strings", "fixture_two_defs"))

    def test_line_path_override(self):
        out = extract("fixture_get_a", opts=("--line-path", "mm/x.c"))
        want = next(i + 1 for i, ln in enumerate(FIXTURE_LINES)
                    if ln.startswith("static int fixture_get_a("))
        self.assertTrue(out.startswith('#line %d "mm/x.c"\n' % want), out)

    def test_unterminated_definition_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "cut.c")
            with open(p, "w") as f:
                f.write("int cut(void)\n{\n\treturn 0;\n")
            rc, _, err = run(p, "cut")
        self.assertEqual(rc, 1)
        self.assertIn("past the end", err)

    def test_include_guard_is_not_a_condition(self):
        src = ("#ifndef G_H\n#define G_H\n"
               "struct g {\n\tint x;\n};\n"
               "#ifdef CONFIG_A\nstatic inline int g_on(void)\n{\n\treturn 1;\n}\n#endif\n"
               "#endif /* G_H */\n")
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "g.h")
            with open(p, "w") as f:
                f.write(src)
            rc, out, err = run(p, "g_on", "struct g")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("G_H", out)
        self.assertIn("#if (defined(CONFIG_A))\n#line 7 ", out)
        self.assertIn("#line 3 ", out)


class Compile(unittest.TestCase):
    """What kextract takes compiles on its own, and a compiler error in it
    points at the fixture's line."""

    def setUp(self):
        cc = os.environ.get("KEXTRACT_CC")
        if not cc:
            self.skipTest("KEXTRACT_CC not set")
        self.cc = shlex.split(cc)

    def compile(self, src, *flags):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.c")
            with open(p, "w") as f:
                f.write(src)
            return subprocess.run(self.cc + ["-fsyntax-only", "-Wall", "-Werror",
                                             "-I", HERE] + list(flags) + [p],
                                  capture_output=True, text=True)

    def test_extracted_definitions_compile_both_ways(self):
        body = extract("struct fixture_pair", "struct fixture_ops", "fixture_limit",
                       "fixture_strings", "fixture_split_type", "fixture_inline_attr",
                       "fixture_exported", "fixture_cond_body", "fixture_two_defs",
                       "fixture_split_head", "fixture_get_a", "fixture_ops", "fixture_last",
                       opts=("--no-comment",))
        src = '#include "fixture_prelude.h"\n' + body + \
              "int use(void);\nint use(void)\n{\n\treturn fixture_split_type(1, 2) + " \
              "fixture_cond_body(1, 2) + fixture_two_defs(1) + fixture_split_head(1" \
              "\n#ifdef FIXTURE_OPT\n, 2\n#endif\n) + fixture_exported(1) + fixture_last();\n}\n"
        for flags in ((), ("-DFIXTURE_OPT", "-DFIXTURE_BIG")):
            p = self.compile(src, *flags)
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_compiler_error_points_into_the_fixture(self):
        body = extract("fixture_get_a", opts=("--no-comment",))
        # No prelude: struct fixture_pair is unknown; the error is on the
        # fixture's own line of fixture_get_a.
        p = self.compile(body)
        self.assertNotEqual(p.returncode, 0)
        want = next(i + 1 for i, ln in enumerate(FIXTURE_LINES)
                    if ln.startswith("static int fixture_get_a("))
        self.assertRegex(p.stderr, r"fixture\.c:(%d|%d):" % (want, want + 2))


if __name__ == "__main__":
    taprunner.main(sys.modules[__name__])
