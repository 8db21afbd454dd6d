#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# check_symbols.sh NM LIB: fail if LIB defines a global symbol not named ktree_*.
set -eu
nm="$1"
lib="$2"
defs=$("$nm" --defined-only --extern-only "$lib" | awk 'NF == 3 { print $3 }')
[ -n "$defs" ] || { echo "no global symbols in $lib"; exit 1; }
bad=$(printf '%s\n' "$defs" | grep -v '^ktree_' || true)
if [ -n "$bad" ]; then
	echo "globals without the ktree_ prefix (add them to ktree/ktree_rename.h):"
	echo "$bad"
	exit 1
fi
echo "$defs"
