#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# pc_uninstalled.sh BUILD_ROOT SOURCE.c OUT [CC...]
#
# A program built from the build tree as a user of the uninstalled library
# would build it: flags from `pkg-config --cflags --libs pinsim` with
# PKG_CONFIG_PATH=BUILD_ROOT/meson-uninstalled (pkg-config prefers
# pinsim-uninstalled.pc there), then run.  Its Cflags must reach
# <pinsim/pinsim.h> under include/ of the source tree.
set -eu
build=$1
src=$2
out=$3
shift 3
if ! command -v pkg-config >/dev/null 2>&1; then
	echo "# skip: pkg-config not installed"
	exit 77
fi
export PKG_CONFIG_PATH="$build/meson-uninstalled"
flags=$(pkg-config --cflags --libs pinsim)
echo "# pkg-config --cflags --libs pinsim: $flags"
# shellcheck disable=SC2086 # the flags are words
"$@" -o "$out" "$src" $flags -Wl,-rpath,"$build"
"$out"
