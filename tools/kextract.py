#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Extract named top-level definitions from a kernel C file.

    kextract.py [-o OUT] [--no-comment] [--no-cond] [--line-path P] FILE NAME...
    kextract.py --list FILE

A NAME is a function ("follow_pte"), a variable or typedef ("walk_ops"), a
macro defined at top level ("#define NAME", found by the plain NAME) or a
tag ("struct mm_walk", "union x", "enum y").  Every definition of NAME is
taken (a function defined once under #ifdef and once under #else gives two
chunks, each inside its own condition), in file order.

How a definition is found relies on the kernel's formatting, not on a C
parser: top-level code starts in column 0; a function is a top-level
statement whose head (the text before its first '{') has NAME( outside
parentheses, and it ends at the '}' that brings the brace depth back to 0
(column 0 in kernel style).  Braces, quotes and comment markers inside
strings, character literals and comments do not count; braces inside
preprocessor lines do not count either.  Preprocessor lines inside a
definition are kept as they are.  A chunk also takes:
  - the comment block right above it (unless --no-comment),
  - the EXPORT_SYMBOL*(NAME); line right after it,
  - the #if/#ifdef/#else lines it sits under, as one "#if EXPR" ... "#endif"
    around the chunk (unless --no-cond); an include guard is not a condition.
    A head split by #ifdef/#else (two signatures, one body) is taken whole,
    from its opening #if line.
Each chunk starts with '#line N "FILE"' so that a compiler's messages point
into the kernel tree.

Exit status: 0 ok; 2 a NAME has no definition in FILE (each missing NAME is
named on stderr) or a usage error; 1 FILE unreadable or a definition runs
past the end of the file.
"""

import argparse
import re
import sys

IDENT = re.compile(r"[A-Za-z_]\w*")
TAG_QUERY = re.compile(r"^\s*(struct|union|enum)\s+([A-Za-z_]\w*)\s*$")


class Line:
    __slots__ = ("raw", "code", "directive", "cont", "has_comment", "depth")

    def __init__(self, raw):
        self.raw = raw  # text with its newline
        self.code = ""  # comments and string/char contents blanked
        self.directive = False  # first line of a preprocessor directive
        self.cont = False  # continuation line of a directive
        self.has_comment = False
        self.depth = 0  # brace depth at the start of the line


def scan(text):
    """Split TEXT into Lines whose .code has comments and literal contents
    replaced by spaces, so that braces and ';' in .code are real ones."""
    lines = []
    code = []
    line = None
    state = "code"  # code, block, linec, str, chr
    in_directive = False
    at_line_start = True
    i, n = 0, len(text)
    cur_raw_start = 0

    def finish(end):
        nonlocal line, code
        line.raw = text[cur_raw_start:end]
        line.code = "".join(code)
        lines.append(line)
        code = []

    line = Line("")
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if at_line_start:
            at_line_start = False
            if in_directive:
                line.cont = True
            elif state == "code":
                stripped = text[i:text.find("\n", i) if text.find("\n", i) >= 0 else n]
                if stripped.lstrip().startswith("#"):
                    line.directive = True
                    in_directive = True
        if c == "\n":
            # A directive goes on past a line ending in a backslash.
            if in_directive:
                body = text[cur_raw_start:i].rstrip("\r")
                if not body.endswith("\\"):
                    in_directive = False
            if state == "linec" and not text[cur_raw_start:i].rstrip("\r").endswith("\\"):
                state = "code"
            elif state in ("str", "chr"):
                state = "code"  # unterminated literal: recover at end of line
            finish(i + 1)
            cur_raw_start = i + 1
            line = Line("")
            at_line_start = True
            i += 1
            continue
        if state == "code":
            if c == "/" and nxt == "*":
                state = "block"
                line.has_comment = True
                code.append("  ")
                i += 2
                continue
            if c == "/" and nxt == "/":
                state = "linec"
                line.has_comment = True
                code.append("  ")
                i += 2
                continue
            if c == '"':
                state = "str"
            elif c == "'":
                state = "chr"
            code.append(c)
            i += 1
            continue
        if state == "block":
            line.has_comment = True
            if c == "*" and nxt == "/":
                state = "code"
                code.append("  ")
                i += 2
                continue
            code.append(" ")
            i += 1
            continue
        if state == "linec":
            line.has_comment = True
            code.append(" ")
            i += 1
            continue
        # string or character literal
        if c == "\\" and nxt and nxt != "\n":
            code.append("  ")
            i += 2
            continue
        if (state == "str" and c == '"') or (state == "chr" and c == "'"):
            state = "code"
            code.append(c)
        else:
            code.append(" ")
        i += 1
    if cur_raw_start < n or not lines:
        finish(n)
    return lines


class Frame:
    """One top-level #if ... #endif; branches are condition texts (None
    for #else)."""

    def __init__(self, line, expr):
        self.line = line
        self.branches = [expr]
        self.guard = None  # macro name if this is an include guard
        self.guard_ok = False
        self.end = None  # line of its #endif


def snapshot(stack):
    return tuple((f, len(f.branches) - 1) for f in stack)


def cond_expr(snap):
    parts = []
    for frame, idx in snap:
        if frame.guard_ok:
            continue
        for prev in frame.branches[:idx]:
            parts.append("!(%s)" % prev)
        cur = frame.branches[idx]
        if cur is not None:
            parts.append("(%s)" % cur)
    return " && ".join(parts)


class Item:
    def __init__(self, kind, names, start, end, start_snap, end_snap):
        self.kind = kind  # function, type, decl, proto, macro
        self.names = names
        self.start = start
        self.end = end
        self.start_snap = start_snap
        self.end_snap = end_snap
        self.unterminated = False


def top_level(head):
    """HEAD with everything inside parentheses/brackets removed."""
    out, depth = [], 0
    for c in head:
        if c in "([":
            if depth == 0:
                out.append(c)
            depth += 1
        elif c in ")]":
            depth -= 1
            if depth == 0:
                out.append(c)
        elif depth == 0:
            out.append(c)
    return "".join(out)


STRUCT_HEAD = re.compile(
    r"^\s*(?:typedef\s+)?(?:(?:static|const|extern|volatile|__\w+)\s+)*"
    r"(struct|union|enum)(?:\s+([A-Za-z_]\w*))?\s*$")


def classify(head, ended_by):
    """Kind and names of a top-level statement from its HEAD (code before
    its first '{', or the whole statement if it has none)."""
    flat = " ".join(head.split())
    top = top_level(flat)
    if ended_by == "{":
        m = STRUCT_HEAD.match(flat)
        if m:
            names = ["%s %s" % (m.group(1), m.group(2))] if m.group(2) else []
            return "type", names
        if "=" not in top and "(" in top:
            return "function", [m.group(0) for m in re.finditer(r"[A-Za-z_]\w*(?=\s*\()", top)]
    # A declaration: an initialised variable ("... name = {" / "... name = x;"),
    # a plain one or a typedef ("... name;"), or a prototype ("f(...);").
    before_eq = top.split("=", 1)[0]
    if "=" not in top and "(" in top:
        return "proto", [m.group(0) for m in re.finditer(r"[A-Za-z_]\w*(?=\s*\()", top)]
    if STRUCT_HEAD.match(flat):
        return "tagdecl", []  # "struct foo;"
    names = []
    for part in before_eq.split(","):
        ids = IDENT.findall(part.split("[")[0])
        # "int x __read_mostly = 1": the name is not the attribute.
        plain = [x for x in ids if not x.startswith("__")]
        if ids:
            names.append((plain or ids)[-1])
    return "decl", names


def directive_text(lines, i):
    """The code of the directive starting at line I, continuations joined,
    and the index of its last line."""
    parts = [lines[i].code]
    j = i
    while parts[-1].rstrip().endswith("\\") and j + 1 < len(lines):
        parts[-1] = parts[-1].rstrip()[:-1]
        j += 1
        parts.append(lines[j].code)
    return " ".join(" ".join(parts).split()), j


DIRECTIVE = re.compile(r"^#\s*(\w+)\s*(.*)$")


def segment(lines):
    """Top-level items of the file."""
    items = []
    stack = []
    # Brace depth at each open #if, and at the end of its first branch:
    # "#ifdef A\n\tif (a) {\n#else\n\tif (b) {\n#endif" opens one block,
    # so every branch starts from the depth at #if and the first one counts.
    bstack = []
    depth = 0
    skip = 0  # nesting inside an "#if 0" branch, whose text is not C
    stmt = None  # dict while inside a top-level statement
    last_directive = None
    i = 0
    while i < len(lines):
        ln = lines[i]
        ln.depth = depth
        if ln.directive:
            text, last = directive_text(lines, i)
            for k in range(i + 1, last + 1):
                lines[k].depth = depth
            m = DIRECTIVE.match(text)
            word, rest = (m.group(1), m.group(2).strip()) if m else ("", "")
            if skip:
                if word in ("if", "ifdef", "ifndef"):
                    skip += 1
                elif word == "endif" or (skip == 1 and word in ("elif", "else")):
                    skip -= 1
                if skip:
                    i = last + 1
                    continue
            elif word == "if" and rest == "0":
                skip = 1
            if word in ("if", "ifdef", "ifndef"):
                bstack.append([depth, None])
            elif word in ("elif", "elifdef", "elifndef", "else") and bstack:
                if bstack[-1][1] is None:
                    bstack[-1][1] = depth
                depth = bstack[-1][0]
            elif word == "endif" and bstack:
                opened, first = bstack.pop()
                if first is not None:
                    depth = first
            if depth == 0:
                if word in ("if", "ifdef", "ifndef"):
                    if word == "ifdef":
                        expr = "defined(%s)" % rest
                    elif word == "ifndef":
                        expr = "!defined(%s)" % rest
                    else:
                        expr = rest
                    f = Frame(i, expr)
                    if word == "ifndef" and IDENT.fullmatch(rest) and stmt is None:
                        f.guard = rest
                    stack.append(f)
                elif word in ("elif", "elifdef", "elifndef", "else") and stack:
                    if word == "elifdef":
                        rest = "defined(%s)" % rest
                    elif word == "elifndef":
                        rest = "!defined(%s)" % rest
                    stack[-1].branches.append(rest if word != "else" else None)
                    stack[-1].guard = None
                elif word == "endif" and stack:
                    f = stack.pop()
                    f.end = last
                    if f.guard and f.guard_ok and stmt is None:
                        # An include guard holds the rest of the file.
                        rest_code = "".join(x.code for x in lines[last + 1:])
                        if rest_code.strip():
                            f.guard_ok = False
                elif word == "define" and stmt is None:
                    mname = IDENT.match(rest)
                    if (mname and stack and stack[-1].guard == mname.group(0)
                            and last_directive == ("ifndef", mname.group(0))):
                        stack[-1].guard_ok = True
                    if mname:
                        snap = snapshot(stack)
                        items.append(Item("macro", [mname.group(0)], i, last, snap, snap))
                last_directive = (word, rest)
            i = last + 1
            continue
        if skip:
            i += 1
            continue
        for c in ln.code + "\n":
            if stmt is None:
                if c.isspace():
                    continue
                stmt = {"start": i, "snap": snapshot(stack), "head": [], "kind": None,
                        "names": None}
            if stmt["kind"] is None:
                if c == "{" or (c == ";" and depth == 0):
                    stmt["kind"], stmt["names"] = classify("".join(stmt["head"]), c)
                else:
                    stmt["head"].append(c)
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth < 0:
                    depth = 0
                if depth == 0 and stmt["kind"] == "function":
                    items.append(Item("function", stmt["names"], stmt["start"], i,
                                      stmt["snap"], snapshot(stack)))
                    stmt = None
            elif c == ";" and depth == 0:
                items.append(Item(stmt["kind"], stmt["names"], stmt["start"], i,
                                  stmt["snap"], snapshot(stack)))
                stmt = None
        i += 1
    if stmt is not None:
        kind, names = stmt["kind"], stmt["names"]
        if kind is None:
            kind, names = classify("".join(stmt["head"]), ";")
        it = Item(kind, names, stmt["start"], len(lines) - 1, stmt["snap"], snapshot(stack))
        it.unterminated = True
        items.append(it)
    return items


def comment_only(ln):
    return ln.has_comment and not ln.code.strip() and not ln.directive and not ln.cont


def chunk_of(lines, item, name, with_comment):
    start, snap = item.start, item.start_snap
    # A statement that began inside an #if whose #endif came before its end
    # (a head split by #ifdef/#else): start at that #if, under what is left.
    common = 0
    while (common < len(item.start_snap) and common < len(item.end_snap)
           and item.start_snap[common][0] is item.end_snap[common][0]):
        common += 1
    if common < len(item.start_snap):
        start = item.start_snap[common][0].line
        snap = tuple((f, idx) for f, idx in item.start_snap[:common])
    end = item.end
    # One that ended inside an #if opened after its start
    # ("int x =\n#ifdef A\n 1;\n#else\n 2;\n#endif"): end at its #endif.
    if common < len(item.end_snap):
        frame = item.end_snap[common][0]
        if frame.end is None:
            return None
        end = frame.end
    if with_comment:
        while start > 0 and comment_only(lines[start - 1]) and lines[start - 1].depth == 0:
            start -= 1
    exp = re.compile(r"^EXPORT_SYMBOL\w*\s*\(\s*%s\s*\)\s*;" % re.escape(name))
    if end + 1 < len(lines) and exp.match(lines[end + 1].code.strip()):
        end += 1
    return start, end, snap


def find(items, query):
    tag = TAG_QUERY.match(query)
    if tag:
        want = "%s %s" % (tag.group(1), tag.group(2))
        return [it for it in items if it.kind == "type" and want in it.names]
    return [it for it in items
            if it.kind in ("function", "decl", "macro") and query in it.names]


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="kextract.py",
        description="Extract named top-level definitions from a kernel C file.")
    ap.add_argument("file")
    ap.add_argument("names", nargs="*", metavar="NAME")
    ap.add_argument("-o", "--output", help="write here instead of stdout")
    ap.add_argument("--no-comment", action="store_true",
                    help="leave out the comment block above each definition")
    ap.add_argument("--no-cond", action="store_true",
                    help="do not wrap definitions in their #if conditions")
    ap.add_argument("--line-path", help="path to put in #line (default: FILE)")
    ap.add_argument("--list", action="store_true",
                    help="list the top-level definitions of FILE and exit")
    args = ap.parse_args(argv)

    try:
        with open(args.file, encoding="utf-8", errors="surrogateescape", newline="") as f:
            text = f.read()
    except OSError as e:
        print("kextract: %s: %s" % (args.file, e.strerror), file=sys.stderr)
        return 1
    lines = scan(text)
    items = segment(lines)

    if args.list:
        for it in items:
            if it.kind == "proto":
                continue
            for nm in it.names:
                print("%s\t%s\t%d-%d" % (it.kind, nm, it.start + 1, it.end + 1))
        return 0
    if not args.names:
        ap.error("no NAME given (or --list)")

    missing = []
    chunks = {}
    for name in args.names:
        found = find(items, name)
        if not found:
            missing.append(name)
            continue
        for it in found:
            if it.unterminated:
                print("kextract: %s:%d: %s runs past the end of the file" %
                      (args.file, it.start + 1, name), file=sys.stderr)
                return 1
            chunk = chunk_of(lines, it, name, not args.no_comment)
            if chunk is None:
                print("kextract: %s:%d: %s: #if without #endif" %
                      (args.file, it.start + 1, name), file=sys.stderr)
                return 1
            chunks.setdefault(chunk[:2], chunk[2])
    if missing:
        for name in missing:
            print("kextract: %s: no definition of %s" % (args.file, name), file=sys.stderr)
        return 2

    # File order; a chunk inside another one is not repeated.
    kept = []
    for start, end in sorted(chunks, key=lambda k: (k[0], -k[1])):
        if kept and start <= kept[-1][1]:
            kept[-1][1] = max(kept[-1][1], end)
            continue
        kept.append([start, end, chunks[(start, end)]])

    path = args.line_path if args.line_path is not None else args.file
    out = []
    for start, end, snap in kept:
        cond = "" if args.no_cond else cond_expr(snap)
        if cond:
            out.append("#if %s\n" % cond)
        out.append("#line %d %s\n" % (start + 1, c_string(path)))
        for ln in lines[start:end + 1]:
            out.append(ln.raw if ln.raw.endswith("\n") else ln.raw + "\n")
        if cond:
            out.append("#endif\n")
    data = "".join(out)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(data)
        except OSError as e:
            print("kextract: %s: %s" % (args.output, e.strerror), file=sys.stderr)
            return 1
    else:
        sys.stdout.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
