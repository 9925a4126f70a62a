#!/usr/bin/env bash
# Two builds of shardsim side by side on the same scenarios, runs interleaved (A, B, A,
# B, …) so that the machine's drifts fall on both alike; prints each run and the
# medians with their ranges: final TPS, intra and cross p50.
#
#   scripts/bench-side-by-side.sh OLD_SHARDSIM NEW_SHARDSIM [RUNS] [SCENARIO...]
#
# SETS, if set, is passed to every run (e.g. SETS="--set workload.rate=max").
# e.g. git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release)
#      scripts/bench-side-by-side.sh /tmp/old/target/release/shardsim target/release/shardsim 3
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2
runs=${3:-3}
shift 3 || true
scenarios=("${@:-bench-max quickstart evm-erc20}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f (%.1f–%.1f)", a[int((NR+1)/2)], a[1], a[NR]}'; }
figure() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); l=s['latency_ms']; print(s['tps'], l['intra']['p50'], l['cross']['p50'], s['invariants']['ok'])" "$1"; }

for s in ${scenarios[@]}; do
  for r in $(seq "$runs"); do
    for side in a b; do
      bin=${!side}
      out="$tmp/$s-$side-$r"
      # shellcheck disable=SC2086
      "$bin" run "scenarios/$s.toml" ${SETS:-} --out "$out" --quiet >/dev/null || true
      read -r tps intra cross ok < <(figure "$(ls -d "$out/$s"/*/)summary.json")
      echo "$s $side run $r: $tps tx/s · intra p50 $intra · cross p50 $cross · invariants $ok" >&2
      echo "$tps" >>"$tmp/$s-$side.tps"; echo "$intra" >>"$tmp/$s-$side.intra"; echo "$cross" >>"$tmp/$s-$side.cross"
    done
  done
  for side in a b; do
    echo "$s $side ($(basename "$(dirname "$(dirname "$(dirname "${!side}")")")")): TPS $(median <"$tmp/$s-$side.tps") · intra p50 $(median <"$tmp/$s-$side.intra") ms · cross p50 $(median <"$tmp/$s-$side.cross") ms"
  done
done
