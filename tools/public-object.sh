#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# public-object.sh OBJCOPY IN.a OUT.o CC [CC-ARGS...]
#
# Every object of IN.a (sim/, lib/ and, with -Dkernel_tree, ktree/) linked
# into one relocatable object (`cc -r`, i.e. `ld -r`), in which every symbol
# but the public API is then made local: hidden ones (everything built with
# -fvisibility=hidden, i.e. all but PINSIM_API) by --localize-hidden, and
# whatever else is global and not pinsim_* (the kernel tree's ktree_*
# names) by --keep-global-symbol.  libpinsim.so and libpinsim.a are both
# built from this one object, so a program linking the static archive sees
# the same names as one linking the shared library: pinsim_* only, never
# the simulated kernel's current, down_read, handle_mm_fault, ...
# Undefined references (libc, pthread, jemalloc) stay global.
set -eu
objcopy=$1
in=$2
out=$3
shift 3
"$@" -r -nostdlib -o "$out.tmp" -Wl,--whole-archive "$in" -Wl,--no-whole-archive
"$objcopy" --localize-hidden --wildcard --keep-global-symbol='pinsim_*' "$out.tmp" "$out"
rm -f "$out.tmp"
