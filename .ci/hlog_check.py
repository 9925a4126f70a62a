"""Reads a run's latency-*.hlog files with HdrHistogram's Python package (an
implementation independent of shardsim's writer and of the Rust crate) and checks that
the interval tagged `measured` reproduces summary.json's latency percentiles."""
import json
import sys

from hdrh.log import HistogramLogReader
from hdrh.histogram import HdrHistogram


def measured(path):
    template = HdrHistogram(1, 3_600_000_000, 3)
    reader = HistogramLogReader(path, template)
    found = None
    while True:
        h = reader.get_next_interval_histogram()
        if h is None:
            break
        if h.get_tag() == "measured":
            found = h
    reader.close()
    if found is None:
        sys.exit(f"{path}: no interval tagged measured")
    return found


def main(run_dir):
    summary = json.load(open(f"{run_dir}/summary.json"))
    for kind in ("intra", "cross"):
        h = measured(f"{run_dir}/latency-{kind}.hlog")
        want = summary["latency_ms"][kind]
        got = {
            "count": h.get_total_count(),
            "p50": h.get_value_at_percentile(50) / 1000,
            "p99": h.get_value_at_percentile(99) / 1000,
            "max": h.get_max_value() / 1000,
        }
        for key, value in got.items():
            # Count and max are exact. The two libraries round a percentile's rank
            # differently (the Python one to the nearest count, the Rust one up), which
            # can move it by a bucket or two of the 3-significant-digit histogram.
            tolerance = 0 if key in ("count", "max") else abs(want[key]) * 5e-3
            if abs(value - want[key]) > max(tolerance, 1e-9):
                sys.exit(f"{run_dir} {kind} {key}: log {value}, summary {want[key]}")
        print(f"hlog {kind}: {got} matches summary.json")


if __name__ == "__main__":
    main(sys.argv[1])
