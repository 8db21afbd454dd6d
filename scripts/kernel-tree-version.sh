#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# kernel-tree-version.sh TREE
#
# Prints VERSION.PATCHLEVEL.SUBLEVEL of the kernel tree TREE, read from
# TREE/Makefile, after checking that every file of
# scripts/kernel-tree-files.txt is present.  Exits 1 with a message naming
# what is missing otherwise, 2 on a usage error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
files_list=${PINSIM_KERNEL_FILES:-$here/kernel-tree-files.txt}

die() {
	echo "kernel-tree-version: $*" >&2
	exit 1
}

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: kernel-tree-version.sh TREE" >&2
	exit 2
fi
tree=$1

[ -d "$tree" ] || die "$tree: no such directory"
[ -f "$tree/Makefile" ] || die "$tree/Makefile: missing (not a kernel tree?)"
[ -r "$files_list" ] || die "$files_list: cannot read the file list"

missing=()
while IFS= read -r f || [ -n "$f" ]; do
	f=${f%%#*}
	f=$(printf '%s' "$f" | tr -d '[:space:]')
	[ -n "$f" ] || continue
	[ -f "$tree/$f" ] || missing+=("$f")
done <"$files_list"
if [ ${#missing[@]} -gt 0 ]; then
	die "$tree: missing ${missing[*]} (re-run scripts/fetch-kernel-tree.sh)"
fi

# The kernel's Makefile starts with "VERSION = 6", "PATCHLEVEL = 12",
# "SUBLEVEL = 118" (and EXTRAVERSION, not part of the answer).
field() {
	local v
	# sed quits at the first match itself: no "| head" that could make it
	# die of SIGPIPE under pipefail.
	v=$(sed -n "/^$1[[:space:]]*=[[:space:]]*\([0-9][0-9]*\)[[:space:]]*\$/{s//\1/p;q}" \
		"$tree/Makefile")
	[ -n "$v" ] || die "$tree/Makefile: no numeric '$1 =' line"
	printf '%s' "$v"
}

version=$(field VERSION)
patchlevel=$(field PATCHLEVEL)
sublevel=$(field SUBLEVEL)
echo "$version.$patchlevel.$sublevel"
