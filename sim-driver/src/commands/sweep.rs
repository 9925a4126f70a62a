//! Sweeps: the same scenario at several shard counts (and parameter values), each point
//! a full multi-process run.
//!
//! The question a sweep answers is *does throughput grow with shards?* It only can if
//! the offered load grows too: a sweep at a fixed rate measures the same load on more
//! processes. `--rate-per-shard N` sets `workload.rate = N × shards` at every point, so
//! each shard is offered the same load; the ideal line on the chart is then linear
//! scaling from the smallest point.
//!
//! ```text
//!  plan:  validate every point first (nothing starts if one is wrong)
//!  run:   point 1 … point n   → <sweep>/points/<name>/<run-id>/   (a normal run each)
//!  write: sweep.json, sweep.csv, throughput-vs-shards.*, latency-vs-shards.*
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, bail};

use crate::charts::plot;
use crate::commands::run::{self, RunOptions};
pub use crate::results::sweep::{Param, SweepPoint, SweepReport};
use crate::scenario::Scenario;

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Shard counts, in order.
    pub shards: Vec<u32>,
    /// Other parameters; every combination is run at every shard count.
    pub params: Vec<Param>,
    /// If set, `workload.rate = rate_per_shard × shards` at each point.
    pub rate_per_shard: Option<u64>,
    /// `--set` overrides applied to every point (before the swept values).
    pub sets: Vec<String>,
    /// Results go to `<out>/<scenario>/sweep-<stamp>/`.
    pub out: PathBuf,
    /// Show progress.
    pub progress: bool,
    /// Ctrl-C: the running point finishes as a partial run and no further point starts.
    pub stop: tokio::sync::watch::Receiver<bool>,
}

/// A point to run: its label, its settings and its validated scenario.
#[derive(Debug, Clone)]
pub struct Planned {
    /// See [`SweepPoint::label`].
    pub label: String,
    /// See [`SweepPoint::params`].
    pub params: BTreeMap<String, String>,
    /// The scenario with this point's values.
    pub scenario: Scenario,
}

/// Every point of the sweep, validated: an error names the point.
pub fn plan(path: &Path, opts: &SweepOptions) -> anyhow::Result<Vec<Planned>> {
    // Without --shards, the scenario's own shard count (a sweep of the other params).
    let own;
    let shard_counts = if opts.shards.is_empty() {
        if opts.params.is_empty() {
            bail!("a sweep needs --shards, --param or both: there is nothing to vary");
        }
        own = vec![Scenario::load(path, &opts.sets)?.cluster.shards];
        &own
    } else {
        &opts.shards
    };
    if opts.rate_per_shard.is_some() && opts.params.iter().any(|p| p.key == "workload.rate") {
        bail!("--rate-per-shard and --param workload.rate=… both set the rate; use one");
    }
    // Cartesian product of the parameter values.
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for p in &opts.params {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                p.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((p.key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut planned = Vec::new();
    for combo in &combos {
        let label = combo
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        for &shards in shard_counts {
            let mut point: Vec<(String, String)> = combo.clone();
            point.push(("cluster.shards".into(), shards.to_string()));
            if let Some(r) = opts.rate_per_shard {
                point.push(("workload.rate".into(), (r * u64::from(shards)).to_string()));
            }
            let sets: Vec<String> = opts
                .sets
                .iter()
                .cloned()
                .chain(point.iter().map(|(k, v)| format!("{k}={v}")))
                .collect();
            let scenario = Scenario::load(path, &sets).with_context(|| {
                format!(
                    "sweep point {}",
                    point
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            })?;
            planned.push(Planned {
                label: label.clone(),
                params: point.into_iter().collect(),
                scenario,
            });
        }
    }
    Ok(planned)
}

/// Runs every point and writes the sweep's files; returns its folder and report.
pub async fn sweep(path: &Path, opts: &SweepOptions) -> anyhow::Result<(PathBuf, SweepReport)> {
    let planned = plan(path, opts)?;
    let (name, seed) = (planned[0].scenario.name.clone(), planned[0].scenario.seed);
    let stamp: String = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let dir = opts.out.join(&name).join(format!("sweep-{stamp}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let points_dir = dir.join("points");

    let mut points = Vec::new();
    let n = planned.len();
    for (i, p) in planned.into_iter().enumerate() {
        if *opts.stop.borrow() {
            break;
        }
        if opts.progress {
            let what: Vec<String> = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            eprintln!("shardsim sweep: point {}/{n}: {}", i + 1, what.join(" "));
        }
        let outcome = run::run(
            &p.scenario,
            &RunOptions {
                out: points_dir.clone(),
                progress: opts.progress,
                stop: opts.stop.clone(),
                cluster: None,
            },
        )
        .await
        .with_context(|| format!("sweep point {}/{n}", i + 1))?;
        points.push(SweepPoint {
            label: p.label,
            shards: p.scenario.cluster.shards,
            params: p.params,
            run_dir: outcome
                .dir
                .strip_prefix(&dir)
                .unwrap_or(&outcome.dir)
                .display()
                .to_string(),
            summary: outcome.summary,
        });
    }
    let report = SweepReport {
        scenario: name,
        seed,
        shards: if opts.shards.is_empty() {
            points.first().map(|p| vec![p.shards]).unwrap_or_default()
        } else {
            opts.shards.clone()
        },
        params: opts.params.clone(),
        rate_per_shard: opts.rate_per_shard,
        ok: points.iter().all(|p| p.summary.invariants.ok),
        // Interrupted (Ctrl-C); a point that failed is not ok, and says why.
        partial: points.len() < n
            || points
                .iter()
                .any(|p| p.summary.partial && p.summary.failures.is_empty()),
        points,
    };
    std::fs::write(
        dir.join("sweep.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )
    .context("writing sweep.json")?;
    std::fs::write(dir.join("sweep.csv"), csv(&report)).context("writing sweep.csv")?;
    plot::sweep_charts(&dir, &report)?;
    Ok((dir, report))
}

/// `sweep.csv`: one row per point.
pub fn csv(report: &SweepReport) -> String {
    let keys: Vec<&str> = report.params.iter().map(|p| p.key.as_str()).collect();
    let mut out = String::from("shards");
    for k in &keys {
        out.push_str(&format!(",{k}"));
    }
    out.push_str(",offered_rate,tps,committed,cross_committed,rejected,lost,intra_p50_ms,intra_p99_ms,cross_p50_ms,cross_p99_ms,invariants_ok\n");
    for p in &report.points {
        let s = &p.summary;
        out.push_str(&p.shards.to_string());
        for k in &keys {
            out.push_str(&format!(",{}", p.params.get(*k).map_or("", String::as_str)));
        }
        let rate = s.config["workload"]["rate"].to_string().replace('"', "");
        out.push_str(&format!(
            ",{rate},{:.1},{},{},{},{},{:.3},{:.3},{:.3},{:.3},{}\n",
            s.tps,
            s.committed,
            s.cross_shard.committed,
            s.rejected,
            s.lost,
            s.latency_ms.intra.p50,
            s.latency_ms.intra.p99,
            s.latency_ms.cross.p50,
            s.latency_ms.cross.p99,
            s.invariants.ok
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str =
        "name = \"sw\"\nduration = \"1s\"\n[workload]\naccounts = 1000\nrate = 100\n";

    fn opts(shards: Vec<u32>, params: Vec<Param>, rate_per_shard: Option<u64>) -> SweepOptions {
        SweepOptions {
            shards,
            params,
            rate_per_shard,
            sets: vec!["warmup=0s".into()],
            out: PathBuf::from("unused"),
            progress: false,
            stop: crate::commands::run::never_stop(),
        }
    }

    #[test]
    fn plan_is_the_product_of_params_and_shards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, SCENARIO).unwrap();
        let p: Param = "workload.cross_shard=0.1,0.5".parse().unwrap();
        let planned = plan(&path, &opts(vec![1, 2, 4], vec![p], Some(1000))).unwrap();
        assert_eq!(planned.len(), 6);
        assert_eq!(planned[2].scenario.cluster.shards, 4);
        assert_eq!(
            planned[2].scenario.workload.rate,
            crate::scenario::Rate::PerSecond(4000)
        );
        assert_eq!(planned[4].scenario.workload.cross_shard, 0.5);
        assert_eq!(planned[4].label, "workload.cross_shard=0.5");
        assert_eq!(
            planned[0].scenario.warmup,
            std::time::Duration::ZERO,
            "--set applies to every point"
        );
    }

    #[test]
    fn a_bad_point_fails_the_plan_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, SCENARIO).unwrap();
        let e = plan(&path, &opts(vec![1, 100], vec![], None)).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("cluster.shards=100") && msg.contains("at most 64"),
            "{msg}"
        );
        let e = plan(&path, &opts(vec![1, 2000], vec![], None)).unwrap_err();
        assert!(format!("{e:#}").contains("1..=1024"), "{e:#}");
        assert!("no-equals".parse::<Param>().is_err());
        let both = opts(vec![1], vec!["workload.rate=5,6".parse().unwrap()], Some(5));
        assert!(plan(&path, &both).is_err());
    }
}
