#!/usr/bin/env bash
# Virtual time, as docs/benchmarks.md reports it.
#
#   cargo build --release && scripts/bench-virtual.sh [RUNS] [SCENARIO...]
#
# 1. The SCENARIOs (default: virtual-64 virtual-1024, from scenarios/), RUNS times each: wall
#    seconds, peak memory (GNU time's maximum resident set) and simulated events per
#    second, as medians with their range. What the runs measure in virtual time (TPS,
#    latency) is the same every run: printed once.
# 2. The quickstart swept in virtual time: over 1–256 shards with its load fixed (50k tx/s),
#    then over 1–64 with the load growing (12.5k tx/s per shard, as the quickstart's 4).
# Results stay in a temporary folder, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
scenarios=("${@:-virtual-64 virtual-1024}")
bin=./target/release/shardsim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {printf "median %.1f (min %.1f, max %.1f)", a[int((NR+1)/2)], a[1], a[NR]}'; }

for s in ${scenarios[@]}; do
  : >"$tmp/$s.wall"; : >"$tmp/$s.rss"; : >"$tmp/$s.eps"
  for r in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$tmp/time" "$bin" run "scenarios/$s.toml" --out "$tmp/out-$r" --quiet >"$tmp/table"
    read -r wall rss <"$tmp/time"
    echo "$wall" >>"$tmp/$s.wall"
    echo "$rss" | awk '{print $1 / 1048576}' >>"$tmp/$s.rss"
    summary=$(ls -d "$tmp/out-$r/$s"/*/)summary.json
    python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['simulator']['wall']['events_per_s'])" "$summary" >>"$tmp/$s.eps"
    echo "$s run $r: ${wall} s wall, $(tail -1 "$tmp/$s.rss") GiB" >&2
  done
  echo "== $s"
  grep -E "throughput|intra-shard|cross-shard  |simulator|invariants" "$tmp/table"
  echo "wall seconds: $(median <"$tmp/$s.wall")"
  echo "peak memory GiB: $(median <"$tmp/$s.rss")"
  echo "events per wall second: $(median <"$tmp/$s.eps")"
done

echo "== the quickstart in virtual time, load fixed"
"$bin" sweep scenarios/quickstart.toml --virtual --shards 1,4,16,64,256 --out "$tmp/sweep" --quiet | tail -n +2
echo "== the quickstart in virtual time, 12,500 tx/s per shard"
"$bin" sweep scenarios/quickstart.toml --virtual --shards 1,4,16,64 --rate-per-shard 12500 --out "$tmp/sweep-grow" --quiet | tail -n +2
