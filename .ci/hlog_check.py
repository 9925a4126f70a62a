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


def value_at_rank(h, rank):
    """The value of the `rank`-th smallest recorded latency (1-based), as both libraries
    report it: the highest value equivalent to its bucket."""
    seen = 0
    for item in h.get_recorded_iterator():
        seen += item.count_added_in_this_iter_step
        if seen >= rank:
            return h.get_highest_equivalent_value(item.value_iterated_to)
    return h.get_max_value()


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
        n = got["count"]
        for key, value in got.items():
            if key in ("count", "max"):
                # Exact.
                if abs(value - want[key]) > 1e-9:
                    sys.exit(f"{run_dir} {kind} {key}: log {value}, summary {want[key]}")
                continue
            # The two libraries turn a percentile into a rank differently (Python to
            # the nearest count, Rust up); at a sparse tail the next rank can be a far
            # value. So the summary's percentile must be the value at one of the
            # candidate ranks, read from the log by this independent decoder.
            q = {"p50": 50, "p99": 99}[key] / 100 * n
            ranks = {max(1, int(q)), max(1, round(q)), max(1, -int(-q // 1))}
            candidates = [value_at_rank(h, r) / 1000 for r in sorted(ranks)]
            if n > 0 and not any(abs(c - want[key]) < 1e-6 for c in candidates):
                sys.exit(
                    f"{run_dir} {kind} {key}: summary {want[key]}, log at ranks {sorted(ranks)}: {candidates}"
                )
        print(f"hlog {kind}: {got} matches summary.json")


if __name__ == "__main__":
    main(sys.argv[1])
