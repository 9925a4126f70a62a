#!/usr/bin/env bash
# Times the placement study and trace reading, as docs/benchmarks.md reports them.
#
#   cargo build --release && scripts/bench-placement.sh [RUNS] [all|placement|trace]
#
# 1. `shardsim placement scenarios/ethereum-like.toml --shards 64` for each strategy
#    alone: 1,000,000 generated transactions, wall time and peak memory per run.
# 2. `shardsim trace stats` over the real sample repeated to ~1,000,000 rows of CSV.gz.
# Prints one line per run and the median with its range.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
only=${2:-all}
bin=./target/release/shardsim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {printf "median %.2f (min %.2f, max %.2f)", a[int((NR+1)/2)], a[1], a[NR]}'; }

for strategy in hash clpa partition; do
  [ "$only" = all ] || [ "$only" = placement ] || break
  : > "$tmp/times"
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$bin" placement scenarios/ethereum-like.toml \
      --shards 64 --strategy "$strategy" --quiet --out "$tmp/out" > /dev/null
    read -r secs kb < "$tmp/t"
    echo "placement $strategy 64 shards: ${secs} s, $((kb / 1024)) MiB"
    echo "$secs" >> "$tmp/times"
  done
  echo "placement $strategy 64 shards: $(median < "$tmp/times") s"
done

[ "$only" = placement ] && exit 0
{
  zcat data/ethereum-sample/transactions.csv.gz | head -1 || true  # head closes the pipe early
  for _ in $(seq 53); do zcat data/ethereum-sample/transactions.csv.gz | tail -n +2; done
} | gzip > "$tmp/big.csv.gz"
rows=$(( $(zcat "$tmp/big.csv.gz" | wc -l) - 1 ))
: > "$tmp/rates"
for _ in $(seq "$runs"); do
  /usr/bin/time -f "%e %M" -o "$tmp/t" "$bin" trace stats "$tmp/big.csv.gz" > /dev/null
  read -r secs kb < "$tmp/t"
  rate=$(awk -v r="$rows" -v s="$secs" 'BEGIN {printf "%.0f", r / s}')
  echo "trace stats: $rows rows in ${secs} s = $rate rows/s, $((kb / 1024)) MiB"
  echo "$rate" >> "$tmp/rates"
done
echo "trace stats rows/s: $(median < "$tmp/rates")"
