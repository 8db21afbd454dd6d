#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""readme_snippet.py README.md MARKER OUT.c

Copies the fenced ```c block that follows the line MARKER in README.md to
OUT.c, exactly as the README shows it, with a #line directive so that a
compiler error names the README's own line.  The build compiles OUT.c
against the library and the test runs it (tests/meson.build), so the
README's library snippet is the program a user would copy.

Without the marker or the block, OUT.c is a program that says so and
fails: the test fails, the rest of the build does not.
"""
import sys


def extract(lines, marker):
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == marker)
    except StopIteration:
        return None, 'no line "%s" in the README' % marker
    i = start + 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or lines[i].strip() != '```c':
        return None, 'no ```c block right after "%s"' % marker
    body = []
    for j in range(i + 1, len(lines)):
        if lines[j].strip() == '```':
            return (i + 2, body), None
        body.append(lines[j])
    return None, 'the ```c block after "%s" is not closed' % marker


def main():
    readme, marker, out = sys.argv[1:4]
    with open(readme, encoding='utf-8') as f:
        lines = f.read().split('\n')
    found, err = extract(lines, marker)
    with open(out, 'w', encoding='utf-8') as f:
        if err:
            msg = ('%s: %s' % (readme, err)).replace('\\', '\\\\').replace('"', '\\"')
            f.write('#include <stdio.h>\nint main(void)\n{\n'
                    '\tfputs("readme_snippet: %s\\n", stderr);\n\treturn 1;\n}\n' % msg)
            return 0
        first, body = found
        f.write('#line %d "%s"\n' % (first, readme))
        f.write('\n'.join(body) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
