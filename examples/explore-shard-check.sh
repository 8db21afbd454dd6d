#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# race-repro --explore --shard I/N + --merge == one run (issue 15): the
# bounded exhaustive tree of every searched scenario split 3 ways by
# decision prefix, each shard into its own file (as GNU parallel, a Slurm
# array or a Kubernetes indexed Job would), merged; the summary must equal
# the merge of --shard 0/1.  A missing or a duplicated shard, or shards of
# different searches, must make --merge fail with a message.
#   usage: explore-shard-check.sh RACE_REPRO MODE [race-repro options...]
# MODE exact: the summaries equal line for line (schedules, pruned,
# outcome counts, first schedule of each outcome, coverage, result).
# MODE outcomes: per scenario the same outcomes, first schedules, result
# and completeness; the schedule counts are printed, not compared (the
# reduced search's sharding is not yet execution for execution: see
# sim/scheduler.h, sharding).
set -eu
repro=$1
mode=$2
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

t0=$(date +%s.%N)
"$repro" --explore --shard 0/1 "$@" > "$dir/one.jsonl"
t1=$(date +%s.%N)
"$repro" --merge "$dir/one.jsonl" > "$dir/one.summary"
for i in 0 1 2; do
	"$repro" --explore --shard "$i/3" "$@" > "$dir/shard$i.jsonl"
done
t2=$(date +%s.%N)
"$repro" --merge "$dir/shard0.jsonl" "$dir/shard1.jsonl" "$dir/shard2.jsonl" > "$dir/three.summary"
cat "$dir/three.summary"
echo "one run $(echo "$t1 - $t0" | bc) s, 3 shards one after another $(echo "$t2 - $t1" | bc) s"
# The fields compared in mode outcomes: counts removed.
strip() {
	sed -e 's/"schedules": [0-9]*, "pruned": [0-9]*, //' \
	    -e 's/"coverage_pairs": [0-9]*, //' -e 's/"count": [0-9]*, //g' "$1"
}
if [ "$mode" = exact ]; then
	if ! cmp -s "$dir/one.summary" "$dir/three.summary"; then
		echo "FAIL: 3 shards merged differ from one run:"
		diff "$dir/one.summary" "$dir/three.summary" || true
		exit 1
	fi
else
	strip "$dir/one.summary" > "$dir/one.s"
	strip "$dir/three.summary" > "$dir/three.s"
	if ! cmp -s "$dir/one.s" "$dir/three.s"; then
		echo "FAIL: 3 shards merged find other outcomes than one run:"
		diff "$dir/one.summary" "$dir/three.summary" || true
		exit 1
	fi
	grep -o '"scenario": "[^"]*"\|"schedules": [0-9]*' "$dir/one.summary" | paste - - |
		sed 's/^/one run:  /'
	grep -o '"scenario": "[^"]*"\|"schedules": [0-9]*' "$dir/three.summary" | paste - - |
		sed 's/^/3 shards: /'
fi
test "$(wc -l < "$dir/one.summary")" -ge 3 || { echo "FAIL: fewer than 3 scenarios searched"; exit 1; }
grep -q '"complete": false' "$dir/one.summary" && { echo "FAIL: a search incomplete"; exit 1; }
grep -q '"EINVAL": {' "$dir/one.summary" || { echo "FAIL: fixed-legacy's EINVAL not found"; exit 1; }
grep -q '"oops+deadlock": {' "$dir/one.summary" || { echo "FAIL: prefix-pud's oops not found"; exit 1; }
if "$repro" --merge "$dir/shard0.jsonl" "$dir/shard2.jsonl" > /dev/null 2> "$dir/err"; then
	echo "FAIL: --merge accepted 2 of 3 shards"
	exit 1
fi
grep -q 'of 3 explore shards given' "$dir/err" || { echo "FAIL: no message for a missing shard:"; cat "$dir/err"; exit 1; }
if "$repro" --merge "$dir/shard0.jsonl" "$dir/shard1.jsonl" "$dir/shard1.jsonl" \
	"$dir/shard2.jsonl" > /dev/null 2> "$dir/err"; then
	echo "FAIL: --merge accepted a shard twice"
	exit 1
fi
grep -q 'given twice' "$dir/err" || { echo "FAIL: no message for a duplicated shard:"; cat "$dir/err"; exit 1; }
if "$repro" --merge "$dir/shard0.jsonl" "$dir/shard1.jsonl" "$dir/one.jsonl" > /dev/null 2> "$dir/err"; then
	echo "FAIL: --merge accepted shards of different searches"
	exit 1
fi
grep -q 'shards of different searches' "$dir/err" || { echo "FAIL: no message for mixed searches:"; cat "$dir/err"; exit 1; }
echo "ok: 3 explore shards merged == one run ($mode${*:+, $*})"
