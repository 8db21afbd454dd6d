#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# check_exports.sh NM LIBPINSIM.a LIBPINSIM.so
#
# The library, static or shared, defines no global symbol but the public
# API: `nm -g --defined-only` lists pinsim_* only (and the shared library's
# dynamic table the same).  A kernel name left global in libpinsim.a
# (current, down_read, handle_mm_fault, ...) would collide with a program
# that defines its own.
set -eu
nm=$1
a=$2
so=$3
fail=0
check() {
	what=$1
	shift
	defs=$("$nm" "$@" | awk 'NF == 3 { print $3 }')
	n=$(printf '%s\n' "$defs" | grep -c '^pinsim_' || true)
	bad=$(printf '%s\n' "$defs" | grep -v '^pinsim_' | grep -v '^$' || true)
	echo "$what: $n pinsim_* symbols"
	if [ "$n" -lt 10 ]; then
		echo "$what: expected the public API (pinsim_create, ...), found $n"
		fail=1
	fi
	if [ -n "$bad" ]; then
		echo "$what: global symbols outside the public API:"
		printf '%s\n' "$bad" | head -40
		fail=1
	fi
}
check "$a" -g --defined-only "$a"
check "$so (dynamic)" -D --defined-only "$so"
for sym in pinsim_create pinsim_mmap pinsim_ioctl pinsim_dma; do
	"$nm" -g --defined-only "$a" | grep -q " T $sym\$" || {
		echo "$a: $sym missing"
		fail=1
	}
done
exit $fail
