//! `shardsim placement`: what placing accounts well buys, without running a cluster.
//!
//! The scenario's real traffic (a trace or the Ethereum-like generator) is cut into
//! epochs and replayed through each strategy at each shard count, each placing from
//! what it has seen and scored on the epoch that follows (`placement::study`). The
//! figures — cross-shard share, load imbalance, accounts moved, the time a strategy
//! takes per epoch — go to `placement.json` and `placement.csv`, with charts.
//!
//! Epochs: `placement.epoch` (a duration, or blocks × `cluster.block_interval`) times
//! `workload.rate` transactions each; under `trace.timing = "original"`, the span of
//! offered time instead; `--epoch-txs` sets the count directly. The first
//! `placement.warmup` epochs are placed by hash for every strategy (none has seen
//! anything yet; the partitioner is still watching), so totals count the epochs after
//! them, the same epochs for every strategy.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use placement::study::{EpochScore, imbalance};
use placement::{ClpaParams, Strategy, Totals, Touch, study};
use serde::Serialize;

use crate::charts::save;
use crate::charts::xy::{Stacked, Xy, XyLine, YAxis};
use crate::load::real;
use crate::load::trace::Accounting;
use crate::scenario::{Rate, Scenario, Source, StrategyKind, Timing};

/// What to study.
#[derive(Debug, Clone)]
pub struct Options {
    /// Shard counts (default: the scenario's).
    pub shards: Vec<u32>,
    /// Strategies (default: all three).
    pub strategies: Vec<StrategyKind>,
    /// At most this many transactions (default: a trace's every row; the generator's
    /// `(warmup + duration) × rate`).
    pub txs: Option<u64>,
    /// Transactions per epoch, overriding `placement.epoch`.
    pub epoch_txs: Option<u64>,
    /// Results go to `<out>/<scenario>/placement/<stamp>-seed<seed>/`.
    pub out: PathBuf,
    /// A line on stderr per strategy and shard count as it finishes.
    pub progress: bool,
}

/// One epoch of one study, as written.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRow {
    /// The epoch.
    pub epoch: usize,
    /// Transactions.
    pub txs: u64,
    /// Cross-shard share under the epoch's directory.
    pub cross_share: f64,
    /// Busiest shard's load over the mean.
    pub imbalance: f64,
    /// Accounts moved after the epoch.
    pub moved: u64,
    /// Seconds spent placing after the epoch.
    pub place_seconds: f64,
    /// Each shard's load.
    pub load: Vec<u64>,
}

impl From<&EpochScore> for EpochRow {
    fn from(e: &EpochScore) -> EpochRow {
        EpochRow {
            epoch: e.epoch,
            txs: e.txs,
            cross_share: e.cross_share(),
            imbalance: imbalance(&e.load).0,
            moved: e.moved,
            place_seconds: e.place_seconds,
            load: e.load.clone(),
        }
    }
}

/// One strategy at one shard count.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The strategy with its parameters.
    pub strategy: Strategy,
    /// Shards.
    pub shards: u32,
    /// Over the scored epochs.
    pub totals: Totals,
    /// Every epoch.
    pub epochs: Vec<EpochRow>,
}

/// `placement.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// Its seed.
    pub seed: u64,
    /// The traffic's source.
    pub source: Source,
    /// Transactions replayed.
    pub transactions: u64,
    /// Accounts they touch (distinct objects).
    pub accounts: u64,
    /// Epochs.
    pub epochs: usize,
    /// How the epochs were cut, in words.
    pub epoch_rule: String,
    /// Totals count epochs from this one on.
    pub scored_from: usize,
    /// The trace's rows and what became of them (a trace only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Accounting>,
    /// Every strategy at every shard count.
    pub results: Vec<Entry>,
}

/// The traffic cut into epochs, and how.
struct Epochs {
    epochs: Vec<Vec<Touch>>,
    rule: String,
    trace: Option<Accounting>,
    accounts: u64,
}

fn cut_epochs(scenario: &Scenario, opts: &Options) -> anyhow::Result<Epochs> {
    let p = &scenario.placement;
    let original = scenario.workload.source == Source::Trace
        && scenario
            .workload
            .trace
            .as_ref()
            .is_some_and(|t| t.timing == Timing::Original);
    let length = p.epoch.length(scenario.cluster.block_interval);
    enum Cut {
        Count(u64),
        Time(f64),
    }
    let (cut, rule) = match (opts.epoch_txs, original, length, scenario.workload.rate) {
        (Some(n), ..) => (Cut::Count(n), format!("{n} transactions (--epoch-txs)")),
        (None, _, None, _) => anyhow::bail!(
            "placement.epoch is a count of blocks and cluster.block_interval is \"asap\": an epoch has no length; write it as a duration, or give --epoch-txs"
        ),
        (None, true, Some(d), _) => (
            Cut::Time(d.as_secs_f64()),
            format!(
                "{} of offered time (the trace's own timing)",
                humantime::format_duration(d)
            ),
        ),
        (None, false, Some(d), Rate::PerSecond(r)) => {
            let n = ((d.as_secs_f64() * r as f64).round() as u64).max(1);
            (
                Cut::Count(n),
                format!(
                    "{n} transactions ({} at {r} tx/s)",
                    humantime::format_duration(d)
                ),
            )
        }
        (None, false, Some(_), Rate::Max) => anyhow::bail!(
            "workload.rate = \"max\" gives an epoch no number of transactions: give --epoch-txs"
        ),
    };
    let mut epochs: Vec<Vec<Touch>> = vec![Vec::new()];
    let mut i = 0u64;
    let trace = real::for_each(scenario, opts.txs, |row, at| {
        let e = match cut {
            Cut::Count(n) => (i / n) as usize,
            Cut::Time(len) => (at.unwrap_or(0.0) / len) as usize,
        };
        i += 1;
        if epochs.len() <= e {
            epochs.resize_with(e + 1, Vec::new);
        }
        epochs[e].push(Touch {
            from: row.from,
            to: row.to,
        });
    })?;
    let mut accounts = rustc_hash::FxHashSet::default();
    for t in epochs.iter().flatten() {
        accounts.insert(t.from);
        accounts.insert(t.to);
    }
    Ok(Epochs {
        epochs,
        rule,
        trace,
        accounts: accounts.len() as u64,
    })
}

/// The strategy a scenario's `[placement]` describes, by kind.
pub fn strategy(scenario: &Scenario, kind: StrategyKind) -> Strategy {
    let p = &scenario.placement;
    match kind {
        StrategyKind::Hash => Strategy::Hash,
        StrategyKind::Clpa => Strategy::Clpa {
            params: ClpaParams {
                beta: p.beta,
                rounds: p.rounds,
                max_moves: p.max_moves,
            },
            window: p.window,
        },
        StrategyKind::Partition => Strategy::Partition {
            warmup: p.warmup,
            imbalance: p.imbalance,
            seed: scenario.seed,
        },
    }
}

/// Runs the study and writes its files; returns the folder and the report.
pub fn run(scenario: &Scenario, opts: &Options) -> anyhow::Result<(PathBuf, Report)> {
    let shards = if opts.shards.is_empty() {
        vec![scenario.cluster.shards]
    } else {
        opts.shards.clone()
    };
    if let Some(&bad) = shards.iter().find(|&&k| !(1..=1024).contains(&k)) {
        anyhow::bail!("--shards {bad}: a shard count is 1 to 1024");
    }
    let strategies = if opts.strategies.is_empty() {
        StrategyKind::ALL.to_vec()
    } else {
        opts.strategies.clone()
    };
    let cut = cut_epochs(scenario, opts)?;
    let scored_from = scenario.placement.warmup;
    if cut.epochs.len() <= scored_from {
        anyhow::bail!(
            "the traffic makes {} epoch(s) of {}; scoring needs more than placement.warmup = {scored_from}: use a shorter placement.epoch, --epoch-txs, or more transactions",
            cut.epochs.len(),
            cut.rule
        );
    }
    let transactions: u64 = cut.epochs.iter().map(|e| e.len() as u64).sum();
    if opts.progress {
        eprintln!(
            "placement: {transactions} transactions over {} accounts, {} epochs of {}",
            cut.accounts,
            cut.epochs.len(),
            cut.rule
        );
    }
    let mut results = Vec::new();
    for &kind in &strategies {
        let s = strategy(scenario, kind);
        for &k in &shards {
            let r = study(&s, k, &cut.epochs, scored_from)
                .with_context(|| format!("{} at {k} shards", kind.name()))?;
            let totals = r.totals();
            if opts.progress {
                eprintln!(
                    "  {:<9} {k:>4} shards: cross-shard {:5.1}%, imbalance {:.2}, moved {}, {:.3} s/epoch",
                    kind.name(),
                    totals.cross_share * 100.0,
                    totals.imbalance,
                    totals.moved,
                    totals.place_seconds_mean
                );
            }
            results.push(Entry {
                strategy: s.clone(),
                shards: k,
                totals,
                epochs: r.epochs.iter().map(EpochRow::from).collect(),
            });
        }
    }
    let report = Report {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        source: scenario.workload.source,
        transactions,
        accounts: cut.accounts,
        epochs: cut.epochs.len(),
        epoch_rule: cut.rule,
        scored_from,
        trace: cut.trace,
        results,
    };
    let (_, dir) = crate::results::results_dir(
        &opts.out.join(&scenario.name),
        "placement",
        scenario.seed,
        SystemTime::now(),
    )?;
    write(&dir, &report, scenario.cluster.shards)?;
    Ok((dir, report))
}

/// `placement.csv`: one line per strategy and shard count.
pub fn csv(report: &Report) -> String {
    let mut out = String::from(
        "strategy,shards,txs_scored,cross_share,imbalance,load_cv,moved,place_seconds_mean,place_seconds_max\n",
    );
    for e in &report.results {
        let t = &e.totals;
        out.push_str(&format!(
            "{},{},{},{:.4},{:.3},{:.3},{},{:.4},{:.4}\n",
            e.strategy.name(),
            e.shards,
            t.txs,
            t.cross_share,
            t.imbalance,
            t.load_cv,
            t.moved,
            t.place_seconds_mean,
            t.place_seconds_max
        ));
    }
    out
}

fn write(dir: &Path, report: &Report, own_shards: u32) -> anyhow::Result<()> {
    let json = dir.join("placement.json");
    std::fs::write(&json, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let path = dir.join("placement.csv");
    std::fs::write(&path, csv(report)).with_context(|| format!("writing {}", path.display()))?;
    charts(dir, report, own_shards)
}

/// The study's charts: cross-shard share and imbalance against shards (log scale),
/// and per epoch at the scenario's own shard count (or the first studied).
pub fn charts(dir: &Path, report: &Report, own_shards: u32) -> anyhow::Result<()> {
    let mut shard_counts: Vec<u32> = report.results.iter().map(|e| e.shards).collect();
    shard_counts.sort_unstable();
    shard_counts.dedup();
    let ticks: Vec<(f64, String)> = shard_counts
        .iter()
        .map(|&k| (f64::from(k).log2(), k.to_string()))
        .collect();
    let names: Vec<&'static str> = {
        let mut n: Vec<&'static str> = Vec::new();
        for e in &report.results {
            if !n.contains(&e.strategy.name()) {
                n.push(e.strategy.name());
            }
        }
        n
    };
    let vs = |f: &dyn Fn(&Totals) -> f64| -> Vec<XyLine> {
        names
            .iter()
            .map(|&name| XyLine {
                label: name.to_string(),
                points: report
                    .results
                    .iter()
                    .filter(|e| e.strategy.name() == name)
                    .map(|e| (f64::from(e.shards).log2(), f(&e.totals)))
                    .collect(),
                dashed: false,
            })
            .collect()
    };
    if shard_counts.len() > 1 {
        save(
            &Xy {
                title: format!("{}: cross-shard share on unseen epochs", report.scenario),
                x_desc: "shards".into(),
                y_desc: "cross-shard transactions".into(),
                y_axis: YAxis::Percent,
                x_ticks: Some(ticks.clone()),
                marks: Vec::new(),
                lines: vs(&|t| t.cross_share),
            },
            dir,
            "cross-shard-vs-shards",
        )?;
        // Each strategy's busiest-over-mean (solid) and coefficient of variation
        // (dashed, its colour) of the shards' loads.
        let lines = vs(&|t| t.imbalance)
            .into_iter()
            .zip(vs(&|t| t.load_cv))
            .flat_map(|(max, cv)| {
                let cv = XyLine {
                    label: format!("{} (coefficient of variation)", cv.label),
                    dashed: true,
                    ..cv
                };
                let max = XyLine {
                    label: format!("{} (max / mean)", max.label),
                    ..max
                };
                [max, cv]
            })
            .collect();
        save(
            &Xy {
                title: format!("{}: load imbalance across shards", report.scenario),
                x_desc: "shards".into(),
                y_desc: "max / mean, and CV, of shard loads".into(),
                y_axis: YAxis::Ratio,
                x_ticks: Some(ticks),
                marks: Vec::new(),
                lines,
            },
            dir,
            "imbalance-vs-shards",
        )?;
    }
    let k = if shard_counts.contains(&own_shards) {
        own_shards
    } else {
        shard_counts.first().copied().unwrap_or(own_shards)
    };
    let at_k: Vec<&Entry> = report.results.iter().filter(|e| e.shards == k).collect();
    let per_epoch = |f: &dyn Fn(&EpochRow) -> f64| -> Vec<XyLine> {
        at_k.iter()
            .map(|e| XyLine {
                label: e.strategy.name().to_string(),
                points: e.epochs.iter().map(|r| (r.epoch as f64, f(r))).collect(),
                dashed: false,
            })
            .collect()
    };
    let marks = vec![report.scored_from as f64 - 0.5];
    save(
        &Stacked(
            Xy {
                title: format!(
                    "{} at {k} shards: cross-shard share per epoch (scored right of the grey line)",
                    report.scenario
                ),
                x_desc: "epoch".into(),
                y_desc: "cross-shard".into(),
                y_axis: YAxis::Percent,
                x_ticks: None,
                marks: marks.clone(),
                lines: per_epoch(&|r| r.cross_share),
            },
            Xy {
                title: "accounts moved after each epoch".into(),
                x_desc: "epoch".into(),
                y_desc: "accounts moved".into(),
                y_axis: YAxis::Count,
                x_ticks: None,
                marks,
                lines: per_epoch(&|r| r.moved as f64),
            },
        ),
        dir,
        "placement-epochs",
    )
}
