#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# fetch-kernel-tree.sh [VERSION]
#
# Puts the kernel files pinsim needs (scripts/kernel-tree-files.txt) from
# Debian's linux-source-6.12 package into a cache folder outside git and
# prints that folder (the tree root: TREE/Makefile, TREE/mm/pagewalk.c, ...)
# on stdout.  Progress and errors go to stderr.
#
# VERSION: a Debian version of linux-source-6.12 ("6.12.118-1~deb12u1") or
# its upstream part ("6.12.118", the newest Debian revision of it); default:
# the newest version apt knows (`apt-cache policy linux-source-6.12`).
#
# Environment:
#   PINSIM_KERNEL_CACHE  folder holding the trees (default
#                        ${XDG_CACHE_HOME:-$HOME/.cache}/pinsim); the tree is
#                        $PINSIM_KERNEL_CACHE/linux-<upstream version>
#   PINSIM_KERNEL_DEB    use this linux-source-6.12_*.deb instead of
#                        downloading one (its version wins; VERSION, if
#                        given, must match it)
#
# Idempotent: when the tree already holds every listed file, nothing is
# downloaded or extracted.  The tree is built in a temporary folder next to
# it and moved into place, so an interrupted run leaves no half tree.
set -euo pipefail

pkg=linux-source-6.12
here=$(cd "$(dirname "$0")" && pwd)
files_list=${PINSIM_KERNEL_FILES:-$here/kernel-tree-files.txt}
cache=${PINSIM_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pinsim}
# The .deb is ~150 MB and the extraction streams it; keep a margin.
need_mb=${PINSIM_KERNEL_NEED_MB:-400}

die() {
	echo "fetch-kernel-tree: error: $*" >&2
	exit 1
}
say() {
	echo "fetch-kernel-tree: $*" >&2
}

[ $# -le 1 ] || { echo "usage: fetch-kernel-tree.sh [VERSION]" >&2; exit 2; }
want=${1:-}

[ -r "$files_list" ] || die "$files_list: cannot read the file list"
files=()
while IFS= read -r f || [ -n "$f" ]; do
	f=${f%%#*}
	f=$(printf '%s' "$f" | tr -d '[:space:]')
	[ -n "$f" ] && files+=("$f")
done <"$files_list"
[ ${#files[@]} -gt 0 ] || die "$files_list: no files listed"

# "6.12.118-1~deb12u1" -> "6.12.118"
upstream_of() {
	printf '%s' "${1%%-*}"
}

tree_complete() {
	local f
	[ -d "$1" ] || return 1
	for f in "${files[@]}"; do
		[ -f "$1/$f" ] || return 1
	done
}

# Debian versions apt knows, newest first.
apt_versions() {
	command -v apt-cache >/dev/null 2>&1 ||
		die "apt-cache not found: this needs a Debian-based system with apt" \
			"(or set PINSIM_KERNEL_DEB=/path/to/${pkg}_VERSION_all.deb)"
	apt-cache policy "$pkg" 2>/dev/null |
		sed -n '/Version table:/,$p' |
		sed -n 's/^[[:space:]]*\(\*\*\*[[:space:]]*\)\{0,1\}\([0-9][^[:space:]]*\)[[:space:]][[:space:]]*[0-9][0-9]*$/\2/p' |
		sort -V -r -u
}

deb=${PINSIM_KERNEL_DEB:-}
if [ -n "$deb" ]; then
	[ -f "$deb" ] || die "PINSIM_KERNEL_DEB=$deb: no such file"
	command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found (package dpkg)"
	debver=$(dpkg-deb -f "$deb" Version 2>/dev/null) ||
		die "$deb: not a .deb (dpkg-deb -f failed)"
	debpkg=$(dpkg-deb -f "$deb" Package)
	[ "$debpkg" = "$pkg" ] || die "$deb: package $debpkg, expected $pkg"
	if [ -n "$want" ] && [ "$want" != "$debver" ] &&
		[ "$want" != "$(upstream_of "$debver")" ]; then
		die "$deb is version $debver, not $want"
	fi
else
	if [ -n "$want" ]; then
		case $want in
		*-*) match=$want ;;
		*) match= ;;
		esac
		# A cache already holding the asked upstream version needs no apt.
		if [ -z "$match" ] && tree_complete "$cache/linux-$want"; then
			echo "$cache/linux-$want"
			exit 0
		fi
		versions=$(apt_versions)
		[ -n "$versions" ] ||
			die "apt knows no $pkg (run apt-get update; Debian bookworm-security or trixie)"
		if [ -n "$match" ]; then
			debver=$(printf '%s\n' "$versions" | grep -Fx -- "$match" || true)
		else
			debver=$(printf '%s\n' "$versions" | grep -F -- "$want-" |
				awk -F- -v u="$want" '$1 == u' | head -n 1 || true)
		fi
		[ -n "$debver" ] ||
			die "$pkg version $want not found; apt knows:" $versions
	else
		versions=$(apt_versions)
		[ -n "$versions" ] ||
			die "apt knows no $pkg (run apt-get update; Debian bookworm-security or trixie)"
		# The first line without a pipe: under pipefail, printf | head can
		# die of SIGPIPE (exit 141) when head has already gone.
		debver=${versions%%$'\n'*}
	fi
fi

version=$(upstream_of "$debver")
tree=$cache/linux-$version

# Two Debian revisions of one upstream version share the folder; the stamp
# says which one is there.
stamp=$(cat "$tree/.pinsim-debian-version" 2>/dev/null || true)
if tree_complete "$tree" && [ "$stamp" = "$debver" ]; then
	say "cached: $tree ($debver)"
	echo "$tree"
	exit 0
fi

mkdir -p "$cache" || die "$cache: cannot create the cache folder"
avail_kb=$(df -Pk "$cache" | awk 'NR == 2 { print $4 }')
if [ -n "$avail_kb" ] && [ "$avail_kb" -lt $((need_mb * 1024)) ]; then
	die "$cache: only $((avail_kb / 1024)) MB free, need ${need_mb} MB" \
		"(set PINSIM_KERNEL_CACHE to a folder on a larger disk)"
fi

work=$(mktemp -d "$cache/.linux-$version.tmp.XXXXXX") ||
	die "$cache: cannot create a temporary folder"
trap 'rm -rf "$work"' EXIT

if [ -z "$deb" ]; then
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found"
	say "downloading $pkg=$debver (~150 MB) ..."
	(cd "$work" && apt-get download -q "$pkg=$debver" >&2) ||
		die "apt-get download $pkg=$debver failed"
	deb=$(ls "$work"/"${pkg}"_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || die "apt-get download left no .deb in $work"
fi

command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found (package dpkg)"
command -v xz >/dev/null 2>&1 || die "xz not found (package xz-utils)"

members=()
for f in "${files[@]}"; do
	members+=("linux-source-6.12/$f")
done

say "extracting ${#files[@]} files from $(basename "$deb") ..."
mkdir "$work/tree"
# The .deb holds ./usr/src/linux-source-6.12.tar.xz; stream it out instead of
# writing it to disk, then take only the listed members from it.
set +e
dpkg-deb --fsys-tarfile "$deb" |
	tar -xO ./usr/src/linux-source-6.12.tar.xz |
	tar -xJf - -C "$work/tree" --strip-components=1 "${members[@]}"
rcs=("${PIPESTATUS[@]}")
set -e
[ "${rcs[0]}" -eq 0 ] || die "dpkg-deb --fsys-tarfile $deb failed"
[ "${rcs[1]}" -eq 0 ] || die "$deb holds no ./usr/src/linux-source-6.12.tar.xz"
[ "${rcs[2]}" -eq 0 ] ||
	die "extracting from linux-source-6.12.tar.xz failed (listed file not in the tarball, or disk full?)"
tree_complete "$work/tree" || die "extraction incomplete in $work/tree"
printf '%s\n' "$debver" >"$work/tree/.pinsim-debian-version"

# Replace an incomplete tree (e.g. the file list grew) atomically enough.
if [ -e "$tree" ]; then
	mv "$tree" "$work/old"
fi
mv "$work/tree" "$tree" || die "cannot move the tree to $tree"
say "done: $tree ($debver)"
echo "$tree"
