//! `sweep.json`: a sweep's points, each a full run's summary, and the parameters that
//! set them apart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::results::Summary;

/// A swept parameter: a scenario key and its values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Param {
    /// Dotted scenario key, e.g. `workload.cross_shard`.
    pub key: String,
    /// Values, as they would be written after `--set key=`.
    pub values: Vec<String>,
}

impl std::str::FromStr for Param {
    type Err = String;
    /// Parses `key=v1,v2,…`.
    fn from_str(s: &str) -> Result<Param, String> {
        let (key, values) = s.split_once('=').ok_or_else(|| {
            format!("{s:?}: expected key=v1,v2,… e.g. workload.cross_shard=0.1,0.5")
        })?;
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        if key.trim().is_empty() || values.iter().any(String::is_empty) {
            return Err(format!("{s:?}: a key and non-empty values are needed"));
        }
        Ok(Param {
            key: key.trim().to_string(),
            values,
        })
    }
}

/// One measured point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SweepPoint {
    /// The parameter combination, `key=value, …` (empty when only shards vary).
    pub label: String,
    /// Shards at this point.
    pub shards: u32,
    /// Every value set for this point, by key (including `cluster.shards`).
    pub params: BTreeMap<String, String>,
    /// The point's run folder, relative to the sweep folder.
    pub run_dir: String,
    /// The point's summary.
    pub summary: Summary,
}

/// `sweep.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SweepReport {
    /// Scenario name.
    pub scenario: String,
    /// Workload seed.
    pub seed: u64,
    /// Shard counts swept.
    pub shards: Vec<u32>,
    /// Other parameters swept.
    pub params: Vec<Param>,
    /// Offered rate per shard, if the load scaled with the shards.
    pub rate_per_shard: Option<u64>,
    /// Whether every point's invariants held.
    pub ok: bool,
    /// Whether the sweep was interrupted: later points were not run.
    #[serde(default)]
    pub partial: bool,
    /// The points, in the order they ran.
    pub points: Vec<SweepPoint>,
}

impl SweepReport {
    /// The one parameter the sweep varied at one shard count, when its values are
    /// whole numbers (e.g. `cluster.validators=1,4,7,10`): its charts are drawn
    /// against it instead of against shards.
    pub fn axis(&self) -> Option<&str> {
        match (self.shards.as_slice(), self.params.as_slice()) {
            ([_], [p]) if p.values.iter().all(|v| v.parse::<u32>().is_ok()) => Some(&p.key),
            _ => None,
        }
    }

    /// The stems of this sweep's charts: against shards, or against its axis.
    pub fn chart_stems(&self) -> [String; 2] {
        let x = self
            .axis()
            .map_or("shards", |k| k.rsplit('.').next().unwrap_or(k));
        [format!("throughput-vs-{x}"), format!("latency-vs-{x}")]
    }

    /// Points grouped by parameter combination (in first-run order), each group in shard order.
    pub fn series(&self) -> Vec<(String, Vec<&SweepPoint>)> {
        let mut groups: Vec<(String, Vec<&SweepPoint>)> = Vec::new();
        for p in &self.points {
            match groups.iter_mut().find(|g| g.0 == p.label) {
                Some(g) => g.1.push(p),
                None => groups.push((p.label.clone(), vec![p])),
            }
        }
        for g in &mut groups {
            g.1.sort_by_key(|p| p.shards);
        }
        groups
    }
}
