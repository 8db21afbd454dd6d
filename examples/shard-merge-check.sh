#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# race-repro --shard I/N + --merge == one run (issue 15): the PCT seed search
# of every searching scenario split 3 ways, each shard into its own file (as
# GNU parallel, a Slurm array or a Kubernetes indexed Job would), merged;
# the summary must equal the merge of --shard 0/1, line for line, and a
# missing shard must make --merge fail.
#   usage: shard-merge-check.sh RACE_REPRO SEEDS
set -eu
repro=$1
seeds=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$repro" --shard 0/1 --seeds "$seeds" > "$dir/one.jsonl"
"$repro" --merge "$dir/one.jsonl" > "$dir/one.summary"
for i in 0 1 2; do
	"$repro" --shard "$i/3" --seeds "$seeds" > "$dir/shard$i.jsonl"
done
"$repro" --merge "$dir/shard0.jsonl" "$dir/shard1.jsonl" "$dir/shard2.jsonl" > "$dir/three.summary"
cat "$dir/three.summary"
if ! cmp -s "$dir/one.summary" "$dir/three.summary"; then
	echo "FAIL: 3 shards merged differ from one run:"
	diff "$dir/one.summary" "$dir/three.summary" || true
	exit 1
fi
test "$(wc -l < "$dir/one.summary")" -ge 3 || { echo "FAIL: fewer than 3 scenarios searched"; exit 1; }
grep -q '"result": "found"' "$dir/one.summary" || { echo "FAIL: no race found"; exit 1; }
if "$repro" --merge "$dir/shard0.jsonl" "$dir/shard2.jsonl" > /dev/null 2>&1; then
	echo "FAIL: --merge accepted 2 of 3 shards"
	exit 1
fi
echo "ok: 3 shards merged == one run ($seeds seeds)"
