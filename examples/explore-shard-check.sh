#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# race-repro --explore --shard I/N + --merge == one run (issue 15): the
# bounded exhaustive tree of every searched scenario split 3 ways by
# decision prefix, each shard into its own file (as GNU parallel, a Slurm
# array or a Kubernetes indexed Job would), merged; the summary must equal
# the merge of --shard 0/1.  A missing or a duplicated shard, or shards of
# different searches, must make --merge fail with a message.
#   usage: explore-shard-check.sh RACE_REPRO [race-repro options...]
# The summaries must equal line for line (schedules, pruned, outcome
# counts, first schedule of each outcome, coverage, result), with the
# sleep-set reduction as without it (--no-reduce): a shard arrives at its
# own prefixes with the sleep sets of the one run (sim/scheduler.h,
# sharding), so it checks the one run's executions, each exactly once.
set -eu
repro=$1
shift
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
if ! cmp -s "$dir/one.summary" "$dir/three.summary"; then
	echo "FAIL: 3 shards merged differ from one run:"
	diff "$dir/one.summary" "$dir/three.summary" || true
	exit 1
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
echo "ok: 3 explore shards merged == one run${*:+ ($*)}"
