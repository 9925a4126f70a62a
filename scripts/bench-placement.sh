#!/usr/bin/env bash
# Times the placement study and trace reading, as docs/benchmarks.md reports them.
#
#   cargo build --release && scripts/bench-placement.sh [RUNS] [all|placement|trace|cluster]
#
# 1. `shardsim placement scenarios/ethereum-like.toml --shards 64` for each strategy
#    alone: 1,000,000 generated transactions, wall time and peak memory per run.
# 2. `shardsim trace stats` over the real sample repeated to ~1,000,000 rows of CSV.gz.
# 3. (`cluster` only, not in `all`: minutes per run) `shardsim run
#    scenarios/ethereum-like.toml` at `rate = "max"`, hash and CLPA interleaved: final
#    TPS, cross-shard share, latency, and CLPA's migration figures.
# Prints one line per run and the median with its range.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
only=${2:-all}
bin=./target/release/shardsim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {printf "median %.2f (min %.2f, max %.2f)", a[int((NR+1)/2)], a[1], a[NR]}'; }

if [ "$only" = cluster ]; then
  for _ in $(seq "$runs"); do
    for strategy in hash clpa; do
      rm -rf "$tmp/run"
      "$bin" run scenarios/ethereum-like.toml --set workload.rate=max --set 'cluster.storage="memory"' \
        --set "placement.strategy=\"$strategy\"" --quiet --out "$tmp/run" > /dev/null
      python3 - "$strategy" "$tmp"/run/ethereum-like/*/summary.json >> "$tmp/$strategy" <<'PY'
import json, sys
s = json.load(open(sys.argv[2]))
t, lat, inv = s["traffic"], s["latency_ms"], s["invariants"]["ok"]
line = (f"{sys.argv[1]}: {s['tps']:.0f} tx/s, {100 * t['cross_shard_share']:.1f}% cross, "
        f"intra p50/p99 {lat['intra']['p50']:.0f}/{lat['intra']['p99']:.0f} ms, "
        f"cross p50/p99 {lat['cross']['p50']:.0f}/{lat['cross']['p99']:.0f} ms, invariants {'hold' if inv else 'FAIL'}")
m = t.get("migration")
if m:
    line += (f"; moved {m['accounts_moved']} accounts, {m['bytes_moved'] / 1e6:.1f} MB, "
             f"unavailable p50/p99 {m['unavailable_p50_ms']:.0f}/{m['unavailable_p99_ms']:.0f} ms, "
             f"genesis {100 * (m['genesis_cross_shard_share'] or 0):.1f}% cross; epochs "
             + ", ".join(f"{e['epoch']}: {e['accounts']} accounts, switch {'never' if e['switch_s'] is None else format(e['switch_s'], '.2f') + ' s'} ({e.get('switch_blocks') or '-'} blocks), {'-' if e['cross_shard_share'] is None else format(100 * e['cross_shard_share'], '.1f')}% cross"
                         for e in m["epochs"]))
print(f"{s['tps']:.0f} {line}")
PY
      tail -1 "$tmp/$strategy" | cut -d' ' -f2-
    done
  done
  for strategy in hash clpa; do
    echo "$strategy final tx/s: $(cut -d' ' -f1 < "$tmp/$strategy" | median)"
  done
  exit 0
fi

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
