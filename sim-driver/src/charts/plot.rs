//! Charts from saved data files, so that any chart can be redrawn (`shardsim plot`) —
//! and `run` and `sweep` draw theirs through these same functions, so a redrawn chart
//! is the chart the run made.
//!
//! - a run folder: `throughput.*` and `cross-shard.*` from `timeseries.csv`, `latency.*` from the
//!   `latency-*.hlog` intervals inside the measured window (from `scenario.toml`);
//! - a sweep folder: `throughput-vs-shards.*` and `latency-vs-shards.*` from `sweep.json`.

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use crate::charts::xy::{Stacked, Xy, XyLine, YAxis};
use crate::charts::{self, Spectrum};
use crate::measure::tracker::ShardSecond;
use crate::measure::tracker::window_bounds;
use crate::results::sweep::SweepReport;
use crate::results::{MEASURED_TAG, TIMESERIES_HEADER};
use crate::scenario::Scenario;

/// Redraws every chart of a run or sweep folder; returns the files' stems.
pub fn plot(dir: &Path) -> anyhow::Result<Vec<String>> {
    if dir.join("sweep.json").exists() {
        let text = std::fs::read_to_string(dir.join("sweep.json")).context("reading sweep.json")?;
        let report: SweepReport = serde_json::from_str(&text).context("parsing sweep.json")?;
        sweep_charts(dir, &report)?;
        Ok(report.chart_stems().to_vec())
    } else if dir.join("timeseries.csv").exists() {
        run_charts(dir)?;
        let committees = Scenario::from_path(&dir.join("scenario.toml"))?
            .cluster
            .validators
            > 1;
        let stems: &[&str] = if committees {
            &["throughput", "cross-shard", "commit-latency", "latency"]
        } else {
            &["throughput", "cross-shard", "latency"]
        };
        Ok(stems.iter().map(|s| s.to_string()).collect())
    } else {
        bail!(
            "{} holds neither a run (timeseries.csv) nor a sweep (sweep.json)",
            dir.display()
        )
    }
}

/// Draws `throughput.*` and `latency.*` of a run folder from its data files.
pub fn run_charts(dir: &Path) -> anyhow::Result<()> {
    let scenario = Scenario::from_path(&dir.join("scenario.toml"))?;
    let window = window_bounds(&scenario);
    let traffic = match scenario.workload.source {
        crate::scenario::Source::Synthetic => {
            format!(
                "{:.0}% cross-shard",
                scenario.effective_cross_shard() * 100.0
            )
        }
        // Real traffic: the share is a result (drawn under the receipts), not a dial.
        _ => format!("{} placement", scenario.placement.strategy.name()),
    };
    let title = format!(
        "{} — {} shards, {traffic}, rate {}",
        scenario.name, scenario.cluster.shards, scenario.workload.rate
    );
    let rows = read_timeseries(
        &dir.join("timeseries.csv"),
        scenario.cluster.shards as usize,
    )?;
    charts::save(
        &charts::Throughput {
            title: format!("Throughput: {title}"),
            per_second: rows
                .iter()
                .map(|r| r.iter().map(|c| c.final_total).collect())
                .collect(),
            window: window.clone(),
            rate_changes: scenario.phases.iter().map(|p| p.at.as_secs_f64()).collect(),
            faults: fault_windows(&scenario),
        },
        dir,
        "throughput",
    )?;
    charts::save(
        &charts::CrossShard::from_rows(format!("Cross-shard receipts: {title}"), &rows)
            .with_epochs(epoch_starts(dir)),
        dir,
        "cross-shard",
    )?;
    if scenario.cluster.validators > 1 {
        // Each second's blocks: the mean from a proposal's first sight to its commit;
        // no point in a second without a commit.
        charts::save(
            &charts::CommitLatency {
                title: format!(
                    "Commit latency, committees of {}: {}",
                    scenario.cluster.validators, scenario.name
                ),
                per_second: rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|c| {
                                (c.commits > 0).then(|| c.commit_us as f64 / c.commits as f64 / 1e3)
                            })
                            .collect()
                    })
                    .collect(),
                window: window.clone(),
            },
            dir,
            "commit-latency",
        )?;
    }
    let intra = read_hlog(&dir.join("latency-intra.hlog"), &window)?;
    let cross = read_hlog(&dir.join("latency-cross.hlog"), &window)?;
    let mut all = intra.clone();
    all.add(&cross)
        .map_err(|e| anyhow::anyhow!("combining latency histograms: {e:?}"))?;
    charts::save(
        &charts::Latency {
            title: format!("Latency by percentile: {title}"),
            classes: vec![
                Spectrum::of("intra-shard", &intra),
                Spectrum::of("cross-shard", &cross),
                Spectrum::of("all", &all),
            ],
        },
        dir,
        "latency",
    )
}

/// When each of a scenario's faults begins and ends (s): a kill until its restart, a
/// link fault or a freeze for its duration (or to the end of the run).
fn fault_windows(scenario: &Scenario) -> Vec<(f64, f64)> {
    scenario
        .faults
        .iter()
        .map(|f| {
            let end = if f.kill.is_some() {
                f.at + f.restart_after
            } else if f.duration.is_zero() {
                scenario.warmup + scenario.duration
            } else {
                f.at + f.duration
            };
            (f.at.as_secs_f64(), end.as_secs_f64())
        })
        .collect()
}

/// What `compare --charts` draws of one run.
struct Compared {
    label: String,
    scenario: Scenario,
    rows: Vec<Vec<ShardSecond>>,
    intra: Histogram<u64>,
    cross: Histogram<u64>,
}

impl Compared {
    /// The run in `dir`, labelled by its protocol until told otherwise.
    fn read(dir: &Path) -> anyhow::Result<Compared> {
        let scenario = Scenario::from_path(&dir.join("scenario.toml"))?;
        let window = window_bounds(&scenario);
        Ok(Compared {
            label: scenario.cluster.protocol.name().to_string(),
            rows: read_timeseries(
                &dir.join("timeseries.csv"),
                scenario.cluster.shards as usize,
            )?,
            intra: read_hlog(&dir.join("latency-intra.hlog"), &window)?,
            cross: read_hlog(&dir.join("latency-cross.hlog"), &window)?,
            scenario,
        })
    }

    /// One point per second (at its middle) of `f` summed over the shards.
    fn per_second(&self, f: impl Fn(&ShardSecond) -> u64) -> Vec<(f64, f64)> {
        self.rows
            .iter()
            .enumerate()
            .map(|(sec, r)| (sec as f64 + 0.5, r.iter().map(&f).sum::<u64>() as f64))
            .collect()
    }

    /// Receipts emitted and not yet applied, across the cluster, at each second's end.
    fn in_flight(&self) -> Vec<(f64, f64)> {
        charts::in_flight(&self.rows)
            .into_iter()
            .enumerate()
            .map(|(sec, n)| (sec as f64 + 1.0, n as f64))
            .collect()
    }
}

/// `shardsim compare A B --charts DIR`: two runs over time in `compare.*` — cross-shard
/// transactions final and rejected per second above, what waits on another shard below
/// (receipts in flight; two-phase transactions open, each holding its locks) — with every
/// fault of either run marked, and their latency by percentile in `compare-latency.*`.
/// `labels` name the runs (by default their protocols when those differ, else A and
/// B). Returns the chart stems written.
pub fn compare_charts(
    a: &Path,
    b: &Path,
    labels: Option<[String; 2]>,
    out: &Path,
) -> anyhow::Result<Vec<String>> {
    // A run's summary.json names its folder.
    let folder = |p: &Path| match p.parent() {
        Some(parent) if p.is_file() => parent.to_path_buf(),
        _ => p.to_path_buf(),
    };
    let mut runs = [Compared::read(&folder(a))?, Compared::read(&folder(b))?];
    let labels = match labels {
        Some(l) => Some(l),
        None if runs[0].label == runs[1].label => Some(["A".into(), "B".into()]),
        None => None,
    };
    for (run, label) in runs.iter_mut().zip(labels.into_iter().flatten()) {
        run.label = label;
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let marks: Vec<f64> = runs
        .iter()
        .flat_map(|r| fault_windows(&r.scenario))
        .flat_map(|(at, end)| [at, end])
        .collect();
    let line = |label: String, points, dashed| XyLine {
        label,
        points,
        dashed,
    };
    let time = "time since start (s); grey: a fault begins or ends";
    let finals = Xy {
        title: format!(
            "{} against {}: cross-shard calls",
            runs[0].label, runs[1].label
        ),
        x_desc: time.into(),
        y_desc: "transactions per second".into(),
        y_axis: YAxis::Count,
        x_ticks: None,
        marks: marks.clone(),
        lines: runs
            .iter()
            .flat_map(|r| {
                [
                    line(
                        format!("{}: cross-shard final", r.label),
                        r.per_second(|c| c.final_cross),
                        false,
                    ),
                    line(
                        format!("{}: rejected (aborted, refunded)", r.label),
                        r.per_second(|c| c.rejected),
                        true,
                    ),
                ]
            })
            .collect(),
    };
    let waiting = Xy {
        title: "waiting on another shard".into(),
        x_desc: time.into(),
        y_desc: "transactions".into(),
        y_axis: YAxis::Count,
        x_ticks: None,
        marks,
        lines: runs
            .iter()
            .flat_map(|r| {
                let open = r.per_second(|c| c.open_max);
                // A dashed line follows its run's solid one; a receipts run has none.
                let two_phase = open.iter().any(|p| p.1 > 0.0);
                [
                    Some(line(
                        format!("{}: receipts in flight", r.label),
                        r.in_flight(),
                        false,
                    )),
                    two_phase.then(|| {
                        line(
                            format!("{}: two-phase undecided (home or participant)", r.label),
                            open,
                            true,
                        )
                    }),
                ]
                .into_iter()
                .flatten()
            })
            .collect(),
    };
    charts::save(&Stacked(finals, waiting), out, "compare")?;
    charts::save(
        &charts::Latency {
            title: format!(
                "Latency by percentile: {} against {}",
                runs[0].label, runs[1].label
            ),
            classes: runs
                .iter()
                .map(|r| Spectrum::of(&format!("{}: cross-shard", r.label), &r.cross))
                .chain(
                    runs.iter()
                        .map(|r| Spectrum::of(&format!("{}: intra-shard", r.label), &r.intra)),
                )
                .collect(),
        },
        out,
        "compare-latency",
    )?;
    Ok(vec!["compare".into(), "compare-latency".into()])
}

/// When each placement epoch of a CLPA run began (s), from its `summary.json`; none
/// for other runs (or a summary that does not say).
fn epoch_starts(dir: &Path) -> Vec<f64> {
    let Ok(text) = std::fs::read_to_string(dir.join("summary.json")) else {
        return Vec::new();
    };
    let Ok(summary) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    summary["traffic"]["migration"]["epochs"]
        .as_array()
        .map(|epochs| {
            epochs
                .iter()
                .filter_map(|e| e["began_s"].as_f64())
                .collect()
        })
        .unwrap_or_default()
}

/// Per second, per shard: the counts of `timeseries.csv`.
fn read_timeseries(path: &Path, shards: usize) -> anyhow::Result<Vec<Vec<ShardSecond>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    // Older runs have the same columns but the last ones: before `tp_open_max`, before
    // `accounts_in`, before the commit columns, before `gas`, before the backlog
    // columns, and before `aborts`.
    let header = lines.next();
    let before_open = TIMESERIES_HEADER.strip_suffix(",tp_open_max");
    let before_moves = before_open.and_then(|h| h.strip_suffix(",accounts_in"));
    let before_commits = before_moves.and_then(|h| h.strip_suffix(",commits,commit_us"));
    let before_gas = before_commits.and_then(|h| h.strip_suffix(",gas"));
    let before_backlog = before_gas.and_then(|h| h.strip_suffix(",mempool_max,driver_held_max"));
    let old_header = before_backlog.and_then(|h| h.strip_suffix(",aborts"));
    if header != Some(TIMESERIES_HEADER)
        && header != before_open
        && header != before_moves
        && header != before_commits
        && header != before_gas
        && header != old_header
        && header != before_backlog
    {
        bail!(
            "{}: the header is not `{TIMESERIES_HEADER}`",
            path.display()
        );
    }
    let mut rows: Vec<Vec<ShardSecond>> = Vec::new();
    for (n, line) in lines.enumerate() {
        let at = || format!("{}:{}", path.display(), n + 2);
        let fields: Vec<u64> = line
            .split(',')
            .map(|f| f.parse::<u64>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}: expected whole numbers", at()))?;
        let columns = if header == old_header {
            9
        } else if header == before_backlog {
            10
        } else if header == before_gas {
            12
        } else if header == before_commits {
            13
        } else if header == before_moves {
            15
        } else if header == before_open {
            16
        } else {
            17
        };
        let (
            &[
                second,
                shard,
                final_total,
                final_cross,
                rejected,
                emitted,
                applied,
                delayed,
                oldest,
            ],
            aborts,
        ) = (
            fields.get(..9).unwrap_or_default(),
            fields.get(9).copied().unwrap_or(0),
        )
        else {
            bail!(
                "{}: expected {columns} columns, found {}",
                at(),
                fields.len()
            );
        };
        if fields.len() != columns {
            bail!(
                "{}: expected {columns} columns, found {}",
                at(),
                fields.len()
            );
        }
        if second > MAX_SECONDS {
            bail!(
                "{}: second {second} is past any run this tool makes (at most {MAX_SECONDS})",
                at()
            );
        }
        let (second, shard) = (second as usize, shard as usize);
        if shard >= shards {
            bail!("{}: shard {shard} but the run had {shards}", at());
        }
        if rows.len() <= second {
            rows.resize(second + 1, vec![ShardSecond::default(); shards]);
        }
        rows[second][shard] = ShardSecond {
            final_total,
            final_cross,
            rejected,
            receipts_emitted: emitted,
            receipts_applied: applied,
            delayed_max: delayed,
            oldest_delayed_us: oldest,
            aborts,
            mempool_max: fields.get(10).copied().unwrap_or(0),
            held_max: fields.get(11).copied().unwrap_or(0),
            gas: fields.get(12).copied().unwrap_or(0),
            commits: fields.get(13).copied().unwrap_or(0),
            commit_us: fields.get(14).copied().unwrap_or(0),
            accounts_in: fields.get(15).copied().unwrap_or(0),
            open_max: fields.get(16).copied().unwrap_or(0),
        };
    }
    Ok(rows)
}

/// The latest second a `timeseries.csv` row may name (a week): rows are allocated up
/// to it, so an absurd index must be an error, not an allocation.
const MAX_SECONDS: u64 = 7 * 24 * 3600;

/// The latency population of the summary from an HdrHistogram log: its interval
/// tagged `measured`, or — in logs written before that tag existed — the sum of the
/// untagged intervals whose second lies in `window`.
pub fn read_hlog(path: &Path, window: &std::ops::Range<u64>) -> anyhow::Result<Histogram<u64>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut total: Option<Histogram<u64>> = None;
    let mut deserializer = Deserializer::new();
    let entries: Vec<_> = IntervalLogIterator::new(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
    let tagged = entries.iter().any(|e| {
        matches!(e, LogEntry::Interval(i) if i.tag().is_some_and(|t| t.as_str() == MEASURED_TAG))
    });
    for entry in entries {
        let LogEntry::Interval(interval) = entry else {
            continue;
        };
        let wanted = if tagged {
            interval.tag().is_some_and(|t| t.as_str() == MEASURED_TAG)
        } else {
            window.contains(&interval.start_timestamp().as_secs())
        };
        if !wanted {
            continue;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .with_context(|| format!("{}: bad base64 in an interval", path.display()))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut raw.as_slice())
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
        match &mut total {
            Some(t) => t
                .add(&h)
                .map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?,
            None => total = Some(h),
        }
    }
    total.map_or_else(
        || Histogram::new_with_bounds(1, 3_600_000_000, 3).map_err(|e| anyhow::anyhow!("{e:?}")),
        Ok,
    )
}

/// Draws `throughput-vs-shards.*` and `latency-vs-shards.*` of a sweep — or, for a
/// sweep of one whole-numbered parameter at one shard count, the same against that
/// parameter (`throughput-vs-validators.*`).
pub fn sweep_charts(dir: &Path, report: &SweepReport) -> anyhow::Result<()> {
    if let Some(key) = report.axis() {
        return param_charts(dir, report, key);
    }
    let series = report.series();
    charts::save(
        &charts::VsShards {
            x_desc: "shards".into(),
            title: format!("Throughput vs shards: {}", report.scenario),
            y_desc: "final transactions per second".into(),
            lines: series
                .iter()
                .flat_map(|(label, points)| {
                    let measured = charts::Line {
                        label: if label.is_empty() {
                            "measured".to_string()
                        } else {
                            label.clone()
                        },
                        points: points.iter().map(|p| (p.shards, p.summary.tps)).collect(),
                        dashed: false,
                    };
                    // Ideal: linear from the smallest shard count measured.
                    let ideal = points.first().map(|base| charts::Line {
                        label: format!(
                            "{}ideal (linear from {} shard{})",
                            if label.is_empty() {
                                String::new()
                            } else {
                                format!("{label} ")
                            },
                            base.shards,
                            if base.shards == 1 { "" } else { "s" }
                        ),
                        points: points
                            .iter()
                            .map(|p| {
                                (
                                    p.shards,
                                    base.summary.tps * f64::from(p.shards) / f64::from(base.shards),
                                )
                            })
                            .collect(),
                        dashed: true,
                    });
                    std::iter::once(measured).chain(ideal)
                })
                .collect(),
        },
        dir,
        "throughput-vs-shards",
    )?;
    charts::save(
        &charts::VsShards {
            x_desc: "shards".into(),
            title: format!("Latency vs shards: {}", report.scenario),
            y_desc: "latency (ms)".into(),
            lines: series
                .iter()
                .flat_map(|(label, points)| {
                    let prefix = if label.is_empty() {
                        String::new()
                    } else {
                        format!("{label}: ")
                    };
                    [
                        ("intra p50", false, 0),
                        ("intra p99", true, 0),
                        ("cross p50", false, 1),
                        ("cross p99", true, 1),
                    ]
                    .map(|(name, p99, class)| charts::Line {
                        label: format!("{prefix}{name}"),
                        // A point with no transaction of the class (cross-shard on one
                        // shard) has no latency to show.
                        points: points
                            .iter()
                            .filter_map(|p| {
                                let l = if class == 0 {
                                    &p.summary.latency_ms.intra
                                } else {
                                    &p.summary.latency_ms.cross
                                };
                                (l.count > 0).then_some((p.shards, if p99 { l.p99 } else { l.p50 }))
                            })
                            .collect(),
                        dashed: p99,
                    })
                })
                .collect(),
        },
        dir,
        "latency-vs-shards",
    )
}

/// A sweep's charts against its one parameter `key` (see [`SweepReport::axis`]).
fn param_charts(dir: &Path, report: &SweepReport, key: &str) -> anyhow::Result<()> {
    let mut points: Vec<(u32, &crate::results::Summary)> = report
        .points
        .iter()
        .filter_map(|p| Some((p.params.get(key)?.parse().ok()?, &p.summary)))
        .collect();
    points.sort_by_key(|p| p.0);
    let [throughput, latency] = report.chart_stems();
    let shards = report.shards.first().copied().unwrap_or(0);
    charts::save(
        &charts::VsShards {
            x_desc: key.into(),
            title: format!("Throughput vs {key}: {} ({shards} shards)", report.scenario),
            y_desc: "final transactions per second".into(),
            lines: vec![charts::Line {
                label: "measured".into(),
                points: points.iter().map(|(x, s)| (*x, s.tps)).collect(),
                dashed: false,
            }],
        },
        dir,
        &throughput,
    )?;
    // A point with no transaction of the class (cross-shard on one shard) is skipped.
    let line = |label: &str, cross: bool, p99: bool| {
        let pick = |s: &crate::results::Summary| {
            let l = if cross {
                &s.latency_ms.cross
            } else {
                &s.latency_ms.intra
            };
            (l.count > 0).then_some(if p99 { l.p99 } else { l.p50 })
        };
        charts::Line {
            label: label.into(),
            points: points
                .iter()
                .filter_map(|(x, s)| Some((*x, pick(s)?)))
                .collect(),
            dashed: p99,
        }
    };
    charts::save(
        &charts::VsShards {
            x_desc: key.into(),
            title: format!("Latency vs {key}: {} ({shards} shards)", report.scenario),
            y_desc: "latency (ms)".into(),
            lines: vec![
                line("intra p50", false, false),
                line("intra p99", false, true),
                line("cross p50", true, false),
                line("cross p99", true, true),
            ],
        },
        dir,
        &latency,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeseries_with_and_without_the_aborts_and_backlog_columns_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeseries.csv");
        std::fs::write(
            &path,
            format!("{TIMESERIES_HEADER}\n0,0,5,1,0,2,2,0,0,3,70,80,90000,4,2000,7,11\n"),
        )
        .unwrap();
        let row = read_timeseries(&path, 1).unwrap()[0][0];
        assert_eq!(
            (row.aborts, row.mempool_max, row.held_max, row.gas),
            (3, 70, 80, 90000)
        );
        assert_eq!(
            (row.commits, row.commit_us, row.accounts_in, row.open_max),
            (4, 2000, 7, 11)
        );
        let no_open = TIMESERIES_HEADER.strip_suffix(",tp_open_max").unwrap();
        std::fs::write(
            &path,
            format!("{no_open}\n0,0,5,1,0,2,2,0,0,3,70,80,90000,4,2000,7\n"),
        )
        .unwrap();
        let row = read_timeseries(&path, 1).unwrap()[0][0];
        assert_eq!((row.accounts_in, row.open_max), (7, 0));
        let no_moves = no_open.strip_suffix(",accounts_in").unwrap();
        std::fs::write(
            &path,
            format!("{no_moves}\n0,0,5,1,0,2,2,0,0,3,70,80,90000,4,2000\n"),
        )
        .unwrap();
        let row = read_timeseries(&path, 1).unwrap()[0][0];
        assert_eq!((row.commits, row.accounts_in), (4, 0));
        let no_commits = no_moves.strip_suffix(",commits,commit_us").unwrap();
        std::fs::write(
            &path,
            format!("{no_commits}\n0,0,5,1,0,2,2,0,0,3,70,80,90000\n"),
        )
        .unwrap();
        let row = read_timeseries(&path, 1).unwrap()[0][0];
        assert_eq!((row.gas, row.commits), (90000, 0));
        let no_gas = no_commits.strip_suffix(",gas").unwrap();
        std::fs::write(&path, format!("{no_gas}\n0,0,5,1,0,2,2,0,0,3,70,80\n")).unwrap();
        let row = read_timeseries(&path, 1).unwrap()[0][0];
        assert_eq!((row.held_max, row.gas), (80, 0));
        let no_backlog = no_gas.strip_suffix(",mempool_max,driver_held_max").unwrap();
        std::fs::write(&path, format!("{no_backlog}\n0,0,5,1,0,2,2,0,0,3\n")).unwrap();
        assert_eq!(read_timeseries(&path, 1).unwrap()[0][0].aborts, 3);
        let old = no_backlog.strip_suffix(",aborts").unwrap();
        std::fs::write(&path, format!("{old}\n0,0,5,1,0,2,2,0,0\n")).unwrap();
        let rows = read_timeseries(&path, 1).unwrap();
        assert_eq!((rows[0][0].final_total, rows[0][0].aborts), (5, 0));
        std::fs::write(&path, format!("{old}\n0,0,5,1,0,2,2,0,0,3\n")).unwrap();
        assert!(
            read_timeseries(&path, 1).is_err(),
            "ten columns under the old header"
        );
    }

    #[test]
    fn an_absurd_second_is_refused_not_allocated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeseries.csv");
        let row = format!("{},0,5,1,0,2,2,0,0,3,0,0,0,0,0,0,0", u64::MAX / 2);
        std::fs::write(&path, format!("{TIMESERIES_HEADER}\n{row}\n")).unwrap();
        let e = read_timeseries(&path, 1).unwrap_err().to_string();
        assert!(e.contains("past any run"), "{e}");
    }
}
