#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# plot_check.sh EXAMPLE_CHECK PIN_BENCH PNG
#
# pin-bench --plot, decided when the test runs rather than when meson was
# configured (installing or removing gnuplot afterwards must not break
# `meson test`): with gnuplot on PATH the plot is drawn ("plot: PNG"),
# without it pin-bench exits 1 and says gnuplot is missing.
set -eu
check=$1
bench=$2
png=$3
if command -v gnuplot >/dev/null 2>&1; then
	echo "# gnuplot found: $(command -v gnuplot)"
	exec "$check" --grep 'plot: ' -- "$bench" --backing thp --contention none \
		--size 32M --runs 2 --quiet --plot "$png"
fi
echo "# gnuplot not on PATH: pin-bench --plot must refuse"
exec "$check" --exit 1 --stderr-grep 'gnuplot' -- "$bench" --plot "$png"
