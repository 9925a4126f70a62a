#!/usr/bin/env bash
# Restart time against the length of the chain, as docs/benchmarks.md reports it.
#
#   cargo build --release && scripts/bench-restart.sh [RUNS] [SNAPSHOT_EVERY]
#
# Each run starts the cluster below, kills shard-1 with SIGKILL after 10 s of load —
# and, in a second run, after 120 s — and restarts it 1 s later. The restart time is
# from starting the process
# again until the driver has resumed its load — the process opened its store, installed
# its latest snapshot, replayed the blocks after it (or, with SNAPSHOT_EVERY = 0, every
# block since genesis), served, and the driver read its stored events
# (`faults[0].resumed_at_s - restarted_at_s` in summary.json). Short and long runs
# alternate; prints each and the medians with ranges.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
every=${2:-100}
bin=./target/release/shardsim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {printf "median %.3f s (min %.3f, max %.3f)", a[int((NR+1)/2)], a[1], a[NR]}'; }

scenario() { # kill time (s)
  cat <<TOML
name = "bench-restart"
seed = 3
duration = "$(( $1 + 3 ))s"
warmup = "1s"
[cluster]
shards = 2
block_interval = "100ms"
snapshot_every = $every
[workload]
accounts = 200_000
rate = 20_000
cross_shard = 0.3
[[faults]]
at = "${1}s"
kill = "shard-1"
restart_after = "1s"
TOML
}

for _ in $(seq "$runs"); do
  for at in 10 120; do
    scenario "$at" > "$tmp/s.toml"
    rm -rf "$tmp/run"
    "$bin" run "$tmp/s.toml" --quiet --out "$tmp/run" > /dev/null
    python3 - "$at" "$tmp"/run/bench-restart/*/ >> "$tmp/after-$at" <<'PY'
import glob, json, re, sys
at, d = sys.argv[1], sys.argv[2]
s = json.load(open(d + "summary.json"))
f = s["faults"][0]
took = f["resumed_at_s"] - f["restarted_at_s"]
log = re.sub(r"\x1b\[[0-9;]*m", "", open(d + "shard-1.log").read())
m = re.search(r"resumed from a snapshot.*? snapshot=(\d+) replayed=(\d+)", log)
h = re.search(r"resumed from the store height=(\d+)", log)
how = f"snapshot {m.group(1)} + {m.group(2)} blocks" if m else f"{h.group(1) if h else '?'} blocks from genesis"
ok = "hold" if s["invariants"]["ok"] else "FAIL"
print(f"{took:.3f} after {at} s: {how}, invariants {ok}")
PY
    tail -n 1 "$tmp/after-$at"
  done
done
for at in 10 120; do
  echo "restart after $at s: $(cut -d' ' -f1 "$tmp/after-$at" | median)"
done
