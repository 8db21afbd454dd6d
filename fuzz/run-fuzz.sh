#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The `fuzz` run target: fuzz_api for FUZZ_SECONDS (default 120) on a copy
# of the committed corpus in the build dir (BUILD/fuzz/corpus, which keeps
# the new inputs between runs), crash files in BUILD/fuzz/artifacts.  Exits
# non-zero if an input crashed, trapped (an invariant), leaked or hung.
#   FUZZ_SECONDS=3600 ninja -C build-z fuzz
#   FUZZ_ARGS='-jobs=2 -workers=2' ...   extra libFuzzer flags
set -eu
exe=$1
seeds=$2
work=$3
secs=${FUZZ_SECONDS:-120}

mkdir -p "$work/corpus" "$work/artifacts"
cp -n "$seeds"/* "$work/corpus/" 2>/dev/null || true
echo "fuzz_api: ${secs}s on $work/corpus ($(ls "$work/corpus" | wc -l) inputs), artifacts in $work/artifacts/"
# -timeout: one input may take seconds (a 1 GiB pin under ASan), never 30.
# -rss_limit_mb: the 2 GiB simulated RAM is touched lazily; 4 GiB is plenty.
# shellcheck disable=SC2086
exec "$exe" -max_total_time="$secs" -max_len=4096 -timeout=30 -rss_limit_mb=4096 \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" ${FUZZ_ARGS:-} "$work/corpus"
