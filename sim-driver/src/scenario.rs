//! Scenario files: what to run, parsed strictly.
//!
//! A scenario is TOML (DESIGN §5). Every field has a documented default except the
//! ones that define the experiment; unknown fields are errors, so a misspelled knob
//! never silently does nothing. Values are checked while parsing, so an error points at
//! the file, line and column of the offending value and names the field:
//!
//! ```text
//! scenarios/typo.toml:7:1: unknown field `rat`, expected one of `accounts`, `rate`, …
//! ```

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A scenario file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or a value is out of range.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// Values that are fine alone but not together.
    #[error("{path}: {message}")]
    Inconsistent {
        /// The file.
        path: String,
        /// What is wrong, naming the fields.
        message: String,
    },
}

/// A whole scenario.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Names the results folder: `results/<name>/<run-id>/`.
    pub name: String,
    /// Seeds the workload generator; the same seed gives the same transactions.
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// Length of the measured window (after warm-up). Required.
    #[serde(with = "duration")]
    pub duration: Duration,
    /// Load before the measured window, not counted in TPS or latency. Default "2s".
    #[serde(default = "defaults::warmup", with = "duration")]
    pub warmup: Duration,
    /// The cluster's shape.
    #[serde(default)]
    pub cluster: Cluster,
    /// Emulated network delay on every link.
    #[serde(default)]
    pub network: Network,
    /// The offered load.
    pub workload: Workload,
    /// Optional rate schedule: from `at` on, the offered rate becomes `rate`, stepping
    /// at once or ramping linearly over `ramp`. Needs a numeric `workload.rate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// Optional fault injection: processes killed and restarted, links made slow or
    /// lossy. Needs `cluster.storage = "disk"` and the `receipts` protocol.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
}

/// `[[faults]]`: one injected fault — either `kill` (with `restart_after`) or `link`
/// (with any of `delay`, `drop`, `duplicate`, and optionally `duration`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// When the fault starts, counted from the start of the run (warm-up included).
    #[serde(with = "duration")]
    pub at: Duration,
    /// Kill this process with SIGKILL: "beacon" or "shard-<k>".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<Target>,
    /// With `kill`: start the process again this long after, on the same data
    /// directory. Required with `kill`.
    #[serde(default, with = "duration", skip_serializing_if = "Duration::is_zero")]
    pub restart_after: Duration,
    /// Freeze this process with SIGSTOP for the rest of the run: "beacon" or
    /// "shard-<k>". A grey failure — alive, holding its sockets, answering nothing. The
    /// driver notices the silence, names the process, ends the run at its planned time
    /// plus a short drain, and writes results marked partial: the run fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<Target>,
    /// Make the link between this shard and the beacon faulty: "shard-<k>".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Target>,
    /// With `link`: extra delay per message, each way, up to "10s". Default "0ms".
    #[serde(default, with = "duration", skip_serializing_if = "Duration::is_zero")]
    pub delay: Duration,
    /// With `link`: fraction of messages lost, each way, 0 to 0.9. Default 0.
    #[serde(default, deserialize_with = "link_fraction")]
    pub drop: f64,
    /// With `link`: fraction of messages delivered twice, 0 to 0.9. Default 0.
    #[serde(default, deserialize_with = "link_fraction")]
    pub duplicate: f64,
    /// With `link`: how long the link stays faulty; "0s" (the default) means until the
    /// end of the run.
    #[serde(default, with = "duration", skip_serializing_if = "Duration::is_zero")]
    pub duration: Duration,
}

/// A process a fault is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The beacon.
    Beacon,
    /// Shard `k`.
    Shard(u32),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Beacon => f.write_str("beacon"),
            Target::Shard(k) => write!(f, "shard-{k}"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        let s = String::deserialize(d)?;
        if s == "beacon" {
            return Ok(Target::Beacon);
        }
        s.strip_prefix("shard-")
            .and_then(|k| k.parse().ok())
            .map(Target::Shard)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown process {s:?}: write \"beacon\" or \"shard-<k>\" (e.g. \"shard-1\")"
                ))
            })
    }
}

/// `cluster.storage`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    /// Each process keeps its chain in a store in the run folder (`data/<process>/`)
    /// and resumes from it after a crash.
    #[default]
    Disk,
    /// State in memory only: nothing survives a crash (and nothing is written).
    Memory,
}

/// `[[phases]]`: one change of the offered rate.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// When the change starts, counted from the start of the run (warm-up included).
    #[serde(with = "duration")]
    pub at: Duration,
    /// The new offered rate, transactions per second (0 pauses the load).
    #[serde(deserialize_with = "phase_rate")]
    pub rate: u64,
    /// How long the change takes: "0s" (the default) steps at once, a longer ramp
    /// moves the rate linearly from its previous value.
    #[serde(default, with = "duration")]
    pub ramp: Duration,
}

/// `[cluster]`: processes and block production.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Number of shard processes, 1 to 64. Default 4.
    #[serde(default = "defaults::shards", deserialize_with = "shard_count")]
    pub shards: u32,
    /// Time between a shard's blocks, or "asap" (a block as soon as there is work).
    /// Default "100ms".
    #[serde(default = "defaults::interval", with = "interval")]
    pub block_interval: Option<Duration>,
    /// Time between beacon blocks. Default "100ms".
    #[serde(default = "defaults::beacon_interval", with = "duration")]
    pub beacon_interval: Duration,
    /// Most transactions per shard block, 1 to 200,000. Default 10,000.
    #[serde(default = "defaults::max_block_txs", deserialize_with = "block_txs")]
    pub max_block_txs: usize,
    /// Sign every transaction with ed25519 and check it on admission. Default false.
    #[serde(default)]
    pub signatures: bool,
    /// Threads each shard verifies signatures and executes with, 1 to 16. Default 1.
    #[serde(default = "defaults::threads", deserialize_with = "thread_count")]
    pub threads_per_shard: u32,
    /// Executor: "sequential" (the reference), "parallel" (conflict-free waves by
    /// declared access sets) or "block-stm" (optimistic, multi-version, re-executed on
    /// conflict). Default "sequential".
    #[serde(default)]
    pub executor: ExecutorKind,
    /// Run the sequential executor beside the chosen one on every block; a difference
    /// stops the shard (and fails the run). Default false.
    #[serde(default)]
    pub verify_executor: bool,
    /// Make this shard Byzantine: every fourth block it also sends a forged receipt
    /// batch and replays one it sent before. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byzantine_shard: Option<u32>,
    /// Cross-shard protocol: "receipts" (asynchronous receipts, refunds on failure) or
    /// "two-phase" (the beacon coordinates an atomic commit; participants lock).
    /// Default "receipts".
    #[serde(default)]
    pub protocol: Protocol,
    /// Two-phase: beacon blocks a transaction has to collect its vote before it aborts
    /// (`timeout`), 1 to 1,000. Default 10.
    #[serde(default = "defaults::deadline")]
    pub deadline: u64,
    /// Where processes keep their chains: "disk" (a store per process in the run
    /// folder, resumed after a crash) or "memory". Default "disk".
    #[serde(default)]
    pub storage: Storage,
}

/// `cluster.protocol`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Asynchronous receipts.
    #[default]
    Receipts,
    /// Two-phase commit coordinated by the beacon.
    TwoPhase,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            shards: defaults::shards(),
            block_interval: defaults::interval(),
            beacon_interval: defaults::beacon_interval(),
            max_block_txs: defaults::max_block_txs(),
            signatures: false,
            threads_per_shard: defaults::threads(),
            executor: ExecutorKind::default(),
            verify_executor: false,
            byzantine_shard: None,
            protocol: Protocol::default(),
            deadline: defaults::deadline(),
            storage: Storage::default(),
        }
    }
}

/// `cluster.executor`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutorKind {
    /// One transaction after another.
    #[default]
    Sequential,
    /// Conflict-free waves on `threads_per_shard` threads.
    Parallel,
    /// Block-STM on `threads_per_shard` threads.
    BlockStm,
}

impl ExecutorKind {
    /// The name the shard's `--executor` flag takes.
    pub fn flag(self) -> &'static str {
        match self {
            ExecutorKind::Sequential => "sequential",
            ExecutorKind::Parallel => "parallel",
            ExecutorKind::BlockStm => "block-stm",
        }
    }
}

/// `[network]`: delay injected on every link (driver↔shards, shards↔beacon), each
/// message, each direction.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// One-way delay added to every message. Default "0ms"; at most "10s".
    #[serde(default, with = "duration")]
    pub latency: Duration,
    /// Up to this much more per message, uniformly at random; links stay in order.
    /// Default "0ms"; at most "10s".
    #[serde(default, with = "duration")]
    pub jitter: Duration,
}

/// `[workload]`: the transactions the driver offers.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Accounts in the cluster, at least 2 per shard. Default 100,000.
    #[serde(default = "defaults::accounts")]
    pub accounts: u64,
    /// Offered transactions per second (open loop), or "max" (as fast as the cluster
    /// accepts). Required.
    pub rate: Rate,
    /// Fraction of transfers whose recipient lives on another shard, 0 to 1.
    /// Default 0.2. With 1 shard there is no other shard, and it is 0.
    #[serde(default = "defaults::cross_shard", deserialize_with = "fraction")]
    pub cross_shard: f64,
    /// Zipf exponent for choosing senders; 0 is uniform, 1 is strongly skewed toward a
    /// few hot accounts. Default 0.
    #[serde(default, deserialize_with = "skew")]
    pub skew: f64,
    /// Fungible tokens created at genesis (every account holds the same balance of
    /// each), for the `token` program. Default 0; at most 64.
    #[serde(default, deserialize_with = "token_count")]
    pub tokens: u32,
    /// AMM pools created at genesis (pool `p` trades the native coin against token
    /// `1 + p % tokens`, so there are none without tokens). Default 8; at most 4096.
    #[serde(default = "defaults::objects", deserialize_with = "object_count")]
    pub pools: u32,
    /// NFT collections created at genesis. Default 8; at most 4096.
    #[serde(default = "defaults::objects", deserialize_with = "object_count")]
    pub collections: u32,
    /// DAO proposals open at genesis. Default 8; at most 4096.
    #[serde(default = "defaults::objects", deserialize_with = "object_count")]
    pub proposals: u32,
    /// How far below the quoted output a swap's `min_out` is set, 0 to 1: the quote
    /// is the pool's genesis price, so when the price has moved further than this
    /// against the trader the swap fails (`slippage`) and is refunded. Default 0.01.
    #[serde(default = "defaults::slippage", deserialize_with = "fraction")]
    pub slippage: f64,
    /// Relative weights of the programs in the workload. Default all `transfer`.
    #[serde(default)]
    pub mix: Mix,
    /// A hot set of recipients: contention as a knob. Default none.
    #[serde(default)]
    pub hot: Hot,
}

/// `workload.hot`: a fraction of calls aimed at a small set of hot recipients.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hot {
    /// Fraction of calls whose recipient is drawn from the hot set, 0 to 1. Their
    /// recipient's shard, not `cross_shard`, decides whether they cross shards.
    /// Default 0.
    #[serde(default, deserialize_with = "fraction")]
    pub fraction: f64,
    /// The hot set: accounts `0..accounts`. Default 1.
    #[serde(default = "defaults::hot_accounts")]
    pub accounts: u64,
    /// The hot set of pools, collections and proposals: objects `0..objects` of each
    /// kind. Default 1.
    #[serde(default = "defaults::hot_objects")]
    pub objects: u32,
}

impl Default for Hot {
    fn default() -> Self {
        Hot {
            fraction: 0.0,
            accounts: defaults::hot_accounts(),
            objects: defaults::hot_objects(),
        }
    }
}

/// `workload.mix`: how often each program is called (weights, normalized).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Native-coin transfers. Default 1.
    #[serde(default = "defaults::one", deserialize_with = "weight")]
    pub transfer: f64,
    /// Token transfers (ERC-20-like): a random one of `workload.tokens`. Default 0.
    #[serde(default, deserialize_with = "weight")]
    pub token: f64,
    /// AMM swaps: native coin for a pool's token or back. Default 0.
    #[serde(default, deserialize_with = "weight")]
    pub swap: f64,
    /// NFT calls: half mint into a collection, half send an NFT minted earlier. Default 0.
    #[serde(default, deserialize_with = "weight")]
    pub nft: f64,
    /// DAO votes on a proposal. Default 0.
    #[serde(default, deserialize_with = "weight")]
    pub vote: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            transfer: 1.0,
            token: 0.0,
            swap: 0.0,
            nft: 0.0,
            vote: 0.0,
        }
    }
}

impl Mix {
    /// The weights in program order (`cross_shard::Program::ALL`).
    pub fn weights(&self) -> [f64; 5] {
        [self.transfer, self.token, self.swap, self.nft, self.vote]
    }

    /// The fraction of calls that are token transfers.
    pub fn token_fraction(&self) -> f64 {
        self.token / self.weights().iter().sum::<f64>()
    }
}

/// Offered load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Open loop at this many transactions per second.
    PerSecond(u64),
    /// Closed loop: as fast as the cluster takes them.
    Max,
}

/// The largest offered rate accepted.
const MAX_RATE: u64 = 10_000_000;

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::PerSecond(r) => write!(f, "{r} tx/s"),
            Rate::Max => f.write_str("max"),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Rate::PerSecond(r) => s.serialize_u64(*r),
            Rate::Max => s.serialize_str("max"),
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a rate in transactions per second (1 to {MAX_RATE}) or \"max\""
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
                match u64::try_from(v) {
                    Ok(r) if (1..=MAX_RATE).contains(&r) => Ok(Rate::PerSecond(r)),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                match v {
                    "max" => Ok(Rate::Max),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

mod defaults {
    use std::time::Duration;
    pub fn seed() -> u64 {
        1
    }
    pub fn warmup() -> Duration {
        Duration::from_secs(2)
    }
    pub fn shards() -> u32 {
        4
    }
    pub fn deadline() -> u64 {
        10
    }
    pub fn interval() -> Option<Duration> {
        Some(Duration::from_millis(100))
    }
    pub fn beacon_interval() -> Duration {
        Duration::from_millis(100)
    }
    pub fn max_block_txs() -> usize {
        10_000
    }
    pub fn threads() -> u32 {
        1
    }
    pub fn accounts() -> u64 {
        100_000
    }
    pub fn cross_shard() -> f64 {
        0.2
    }
    pub fn one() -> f64 {
        1.0
    }
    pub fn objects() -> u32 {
        8
    }
    pub fn slippage() -> f64 {
        0.01
    }
    pub fn hot_objects() -> u32 {
        1
    }
    pub fn hot_accounts() -> u64 {
        1
    }
}

/// Durations as humantime strings ("100ms", "10s").
mod duration {
    use super::*;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            de::Error::custom(format!(
                "invalid duration {s:?}: {e} (write e.g. \"100ms\" or \"10s\")"
            ))
        })
    }
}

/// A block interval: a positive duration or "asap" (`None`).
mod interval {
    use super::*;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => duration::serialize(d, s),
            None => s.serialize_str("asap"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        if s == "asap" {
            return Ok(None);
        }
        match humantime::parse_duration(&s) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            Ok(_) => Err(de::Error::custom(
                "a block interval of 0 is not allowed; write \"asap\"",
            )),
            Err(e) => Err(de::Error::custom(format!(
                "invalid interval {s:?}: {e} (write e.g. \"100ms\", or \"asap\")"
            ))),
        }
    }
}

fn in_range<'de, D: Deserializer<'de>, T>(d: D, lo: T, hi: T, what: &str) -> Result<T, D::Error>
where
    T: Deserialize<'de> + PartialOrd + fmt::Display + Copy,
{
    let v = T::deserialize(d)?;
    if v < lo || v > hi {
        return Err(de::Error::custom(format!(
            "{what} must be in {lo}..={hi}, got {v}"
        )));
    }
    Ok(v)
}

fn shard_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, 1, 64, "shards")
}

fn thread_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, 1, 16, "threads_per_shard")
}

fn block_txs<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    in_range(d, 1, shardsim_proto::MAX_BLOCK_TXS, "max_block_txs")
}

fn fraction<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    in_range(d, 0.0, 1.0, "cross_shard")
}

fn skew<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    in_range(d, 0.0, 10.0, "skew")
}

fn token_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, 0, 64, "tokens")
}

fn object_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, 0, 4096, "an object count")
}

fn weight<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    in_range(d, 0.0, 1e9, "a mix weight")
}

fn link_fraction<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    in_range(d, 0.0, 0.9, "drop and duplicate")
}

fn phase_rate<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    in_range(d, 0, MAX_RATE, "phase rate")
}

impl Scenario {
    /// The pools the cluster has: `workload.pools`, or none without tokens (a pool
    /// trades the native coin against a token).
    pub fn pools(&self) -> u32 {
        if self.workload.tokens == 0 {
            0
        } else {
            self.workload.pools
        }
    }

    /// Reads and checks a scenario file.
    pub fn from_path(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        Scenario::from_toml(&text, &shown)
    }

    /// Parses and checks scenario text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        if text.len() > MAX_SCENARIO_BYTES {
            return Err(ScenarioError::Inconsistent {
                path: origin.to_string(),
                message: format!(
                    "the file is {} bytes; a scenario may be at most {MAX_SCENARIO_BYTES}",
                    text.len()
                ),
            });
        }
        let parse_error = |e: &toml::de::Error, field: Option<String>| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            let message = with_suggestion(e.message());
            // serde names the field in its own "unknown field" and "missing field"
            // messages; a type error ("invalid type: string, expected u32") does not,
            // so the path the value was found at is put in front.
            let message = match field {
                Some(f) if !message.contains(f.as_str()) => {
                    format!("{f}: {message}")
                }
                _ => message,
            };
            ScenarioError::Parse {
                path: origin.to_string(),
                line,
                column,
                message,
            }
        };
        let de = toml::Deserializer::parse(text).map_err(|e| parse_error(&e, None))?;
        let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = (path != "." && !path.is_empty()).then_some(path);
            parse_error(e.inner(), field)
        })?;
        scenario.check(origin)?;
        Ok(scenario)
    }

    /// Reads a scenario file and applies `--set key=value` overrides (which win over
    /// the file). An error in the file itself is reported at its line; an error that
    /// only the overrides cause names them.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        if overrides.is_empty() {
            return Scenario::from_toml(&text, &shown);
        }
        let mut table: toml::Table = match toml::from_str(&text) {
            Ok(t) => t,
            // Not even TOML: the file's own error, with its location.
            Err(_) => return Scenario::from_toml(&text, &shown),
        };
        for o in overrides {
            apply_override(&mut table, o).map_err(|message| ScenarioError::Inconsistent {
                path: shown.clone(),
                message,
            })?;
        }
        let merged = toml::to_string(&table).unwrap_or_default();
        let origin = format!("{shown} with --set {}", overrides.join(" --set "));
        Scenario::from_toml(&merged, &origin).map_err(|e| match e {
            // Locations in the merged text mean nothing to the user: name the overrides.
            ScenarioError::Parse { path, message, .. } => {
                ScenarioError::Inconsistent { path, message }
            }
            other => other,
        })
    }

    fn check(&self, origin: &str) -> Result<(), ScenarioError> {
        let fail = |message: String| {
            Err(ScenarioError::Inconsistent {
                path: origin.to_string(),
                message,
            })
        };
        if self.name.len() > MAX_NAME_LEN {
            return fail(format!(
                "name is {} characters long; it names a folder and may have at most {MAX_NAME_LEN}",
                self.name.len()
            ));
        }
        // A plain path component: `..` or `.` would put results outside `--out`, and a
        // leading dot would hide them.
        if self.name.is_empty()
            || self.name.starts_with('.')
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return fail(format!(
                "name {:?} must be non-empty, must not start with '.', and may use only letters, digits, '-', '_' and '.' (it names a folder)",
                self.name
            ));
        }
        if self.duration.is_zero() {
            return fail("duration must be above 0".into());
        }
        let min_accounts = 2 * u64::from(self.cluster.shards);
        if self.workload.accounts < min_accounts || self.workload.accounts > 100_000_000 {
            return fail(format!(
                "workload.accounts = {} must be between 2 per shard ({min_accounts} for cluster.shards = {}) and 100000000",
                self.workload.accounts, self.cluster.shards
            ));
        }
        if let Some(empty) = empty_shard(self.cluster.shards, self.workload.accounts) {
            return fail(format!(
                "workload.accounts = {} leaves shard {empty} of {} without an account (accounts are placed by hash): use more accounts",
                self.workload.accounts, self.cluster.shards
            ));
        }
        let hot = &self.workload.hot;
        if hot.accounts == 0 || hot.accounts > self.workload.accounts {
            return fail(format!(
                "workload.hot.accounts = {} must be between 1 and workload.accounts ({})",
                hot.accounts, self.workload.accounts
            ));
        }
        let w = &self.workload;
        if hot.objects == 0 {
            return fail("workload.hot.objects must be at least 1".into());
        }
        let mix = &w.mix;
        if mix.weights().iter().sum::<f64>() <= 0.0 {
            return fail("workload.mix needs at least one program with a weight above 0".into());
        }
        if mix.token > 0.0 && w.tokens == 0 {
            return fail(
                "workload.mix.token > 0 needs workload.tokens ≥ 1 (tokens to transfer)".into(),
            );
        }
        if mix.swap > 0.0 && (w.tokens == 0 || w.pools == 0) {
            return fail(
                "workload.mix.swap > 0 needs workload.tokens ≥ 1 and workload.pools ≥ 1 (each pool trades the native coin against a token)".into(),
            );
        }
        if mix.nft > 0.0 && w.collections == 0 {
            return fail("workload.mix.nft > 0 needs workload.collections ≥ 1".into());
        }
        if mix.vote > 0.0 && w.proposals == 0 {
            return fail("workload.mix.vote > 0 needs workload.proposals ≥ 1".into());
        }
        if !(1..=1000).contains(&self.cluster.deadline) {
            return fail(format!(
                "cluster.deadline = {} must be 1 to 1000 beacon blocks",
                self.cluster.deadline
            ));
        }
        if let Some(b) = self.cluster.byzantine_shard {
            if b >= self.cluster.shards || self.cluster.shards < 2 {
                return fail(format!(
                    "cluster.byzantine_shard = {b} must name one of 2 or more shards (0..{})",
                    self.cluster.shards
                ));
            }
        }
        if self.cluster.signatures && self.workload.rate == Rate::Max {
            return fail(
                "cluster.signatures = true needs a numeric workload.rate: the driver signs every transaction before the load starts, so it must know how many".into(),
            );
        }
        let limit = Duration::from_secs(10);
        if self.network.latency > limit || self.network.jitter > limit {
            return fail("network.latency and network.jitter must be at most 10s".into());
        }
        let total = self.warmup + self.duration;
        let mut last_end = None;
        for (i, p) in self.phases.iter().enumerate() {
            let n = i + 1;
            if self.workload.rate == Rate::Max {
                return fail(format!(
                    "phases need a numeric workload.rate to start from, not \"max\" (phase {n})"
                ));
            }
            if p.at >= total {
                return fail(format!(
                    "phase {n} starts at {} but the run ends at {} (warmup + duration)",
                    humantime::format_duration(p.at),
                    humantime::format_duration(total)
                ));
            }
            if last_end.is_some_and(|end| p.at < end) {
                return fail(format!(
                    "phase {n} starts before phase {} has finished (phases must be in time order and not overlap)",
                    n - 1
                ));
            }
            last_end = Some(p.at + p.ramp);
        }
        for (i, f) in self.faults.iter().enumerate() {
            self.check_fault(i + 1, f, total).or_else(fail)?;
        }
        Ok(())
    }

    fn check_fault(&self, n: usize, f: &Fault, total: Duration) -> Result<(), String> {
        if self.cluster.protocol == Protocol::TwoPhase && f.freeze.is_none() {
            return Err(format!(
                "fault {n}: kill and link faults need cluster.protocol = \"receipts\" (a restarted two-phase shard would not get the decisions it had read but not applied)"
            ));
        }
        if f.at >= total {
            return Err(format!(
                "fault {n} starts at {} but the run ends at {} (warmup + duration)",
                humantime::format_duration(f.at),
                humantime::format_duration(total)
            ));
        }
        let shard_ok = |t: &Target| match t {
            Target::Shard(k) => *k < self.cluster.shards,
            Target::Beacon => true,
        };
        let link_settings =
            f.delay > Duration::ZERO || f.drop > 0.0 || f.duplicate > 0.0 || !f.duration.is_zero();
        match (&f.kill, &f.link, &f.freeze) {
            (None, None, Some(t)) => {
                if !shard_ok(t) {
                    return Err(format!(
                        "fault {n}: freeze = \"{t}\" but the cluster has shards 0..{}",
                        self.cluster.shards
                    ));
                }
                if link_settings || !f.restart_after.is_zero() {
                    return Err(format!(
                        "fault {n}: a freeze lasts to the end of the run and takes no restart_after, delay, drop, duplicate or duration"
                    ));
                }
            }
            (Some(t), None, None) => {
                if !shard_ok(t) {
                    return Err(format!(
                        "fault {n}: kill = \"{t}\" but the cluster has shards 0..{}",
                        self.cluster.shards
                    ));
                }
                if f.restart_after.is_zero() {
                    return Err(format!(
                        "fault {n}: kill needs restart_after (e.g. \"2s\"): a process that never comes back leaves its transactions pending"
                    ));
                }
                if self.cluster.storage != Storage::Disk {
                    return Err(format!(
                        "fault {n}: kill needs cluster.storage = \"disk\": a process must resume from its store"
                    ));
                }
                if link_settings {
                    return Err(format!(
                        "fault {n}: delay, drop, duplicate and duration go with link, not kill"
                    ));
                }
            }
            (None, Some(t), None) => {
                if !matches!(t, Target::Shard(_)) || !shard_ok(t) {
                    return Err(format!(
                        "fault {n}: link = \"{t}\" must name a shard of the cluster (the link is the one between that shard and the beacon)"
                    ));
                }
                if !f.restart_after.is_zero() {
                    return Err(format!("fault {n}: restart_after goes with kill, not link"));
                }
                if f.delay > Duration::from_secs(10) {
                    return Err(format!("fault {n}: delay must be at most 10s"));
                }
                if f.delay.is_zero() && f.drop == 0.0 && f.duplicate == 0.0 {
                    return Err(format!(
                        "fault {n}: a link fault needs some delay, drop or duplicate"
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "fault {n} needs exactly one of kill = \"<process>\", freeze = \"<process>\" or link = \"shard-<k>\""
                ));
            }
        }
        Ok(())
    }

    /// The cross-shard fraction actually used: 0 on a single shard.
    pub fn effective_cross_shard(&self) -> f64 {
        if self.cluster.shards > 1 {
            self.workload.cross_shard
        } else {
            0.0
        }
    }
}

/// Largest scenario file read, bytes: a scenario is a page of settings.
const MAX_SCENARIO_BYTES: usize = 1 << 20;
/// Longest `name`: it becomes a folder name, and is printed in every summary.
const MAX_NAME_LEN: usize = 100;

/// The first shard of `shards` that placement leaves without any of `0..accounts`
/// (every shard needs senders and recipients), or `None`. Stops as soon as every shard
/// has been seen, which for realistic sizes is after a few accounts per shard.
fn empty_shard(shards: u32, accounts: u64) -> Option<u32> {
    let placement = cross_shard::placement::Placement::new(shards)?;
    let mut seen = vec![false; shards as usize];
    let mut missing = shards;
    for a in 0..accounts {
        let s = placement.shard_of(a) as usize;
        if !seen[s] {
            seen[s] = true;
            missing -= 1;
            if missing == 0 {
                return None;
            }
        }
    }
    seen.iter().position(|&s| !s).map(|s| s as u32)
}

/// Sets `key=value` in `table`: `key` is a dotted path (`cluster.shards`), `value` is
/// TOML (`8`, `0.5`, `"100ms"`) or, failing that, a bare string (`max`, `asap`, `10s`).
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let (key, raw) = assignment.split_once('=').ok_or_else(|| {
        format!("--set {assignment:?}: expected key=value, e.g. cluster.shards=8")
    })?;
    let (key, raw) = (key.trim(), raw.trim());
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts
        .pop()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| format!("--set {assignment:?}: empty key"))?;
    let mut node = table;
    for part in parts {
        let entry = node
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| format!("--set {assignment:?}: `{part}` is not a table"))?;
    }
    node.insert(last.to_string(), value);
    Ok(())
}

/// Adds "did you mean `x`?" to serde's "unknown field `y`, expected one of …" messages.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let nearest = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|candidate| (strsim::levenshtein(unknown, candidate), candidate))
        .min();
    match nearest {
        Some((distance, candidate)) if distance <= unknown.len().max(3) / 2 => {
            format!("{message}; did you mean `{candidate}`?")
        }
        _ => message.to_string(),
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
seed = 7
duration = "3s"

[cluster]
shards = 2
block_interval = "asap"

[workload]
accounts = 1000
rate = "max"
"#;

    fn error(text: &str) -> String {
        Scenario::from_toml(text, "s.toml").unwrap_err().to_string()
    }

    #[test]
    fn parses_with_defaults() {
        let s = Scenario::from_toml(GOOD, "s.toml").unwrap();
        assert_eq!(s.seed, 7);
        assert_eq!(s.duration, Duration::from_secs(3));
        assert_eq!(s.warmup, Duration::from_secs(2));
        assert_eq!(s.cluster.block_interval, None);
        assert_eq!(s.cluster.beacon_interval, Duration::from_millis(100));
        assert_eq!(s.cluster.max_block_txs, 10_000);
        assert_eq!(s.workload.rate, Rate::Max);
        assert_eq!(s.workload.cross_shard, 0.2);
        assert_eq!(s.workload.skew, 0.0);
        assert_eq!(s.network, Network::default());
        assert!(s.phases.is_empty());
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let e = error(&GOOD.replace("rate = \"max\"", "rat = 5"));
        assert!(e.starts_with("s.toml:12:1:"), "{e}");
        assert!(e.contains("unknown field `rat`"), "{e}");
    }

    #[test]
    fn bad_values_name_the_field_and_line() {
        let e = error(&GOOD.replace("shards = 2", "shards = 0"));
        assert!(e.starts_with("s.toml:7:"), "{e}");
        assert!(e.contains("shards must be in 1..=64"), "{e}");
        let e = error(&GOOD.replace("\"3s\"", "\"3 parsecs\""));
        assert!(
            e.starts_with("s.toml:4:") && e.contains("invalid duration"),
            "{e}"
        );
        let e = error(&GOOD.replace("rate = \"max\"", "rate = \"fast\""));
        assert!(e.starts_with("s.toml:12:") && e.contains("\"max\""), "{e}");
        let e = error(&GOOD.replace("rate = \"max\"", "rate = 0"));
        assert!(e.contains("rate in transactions per second"), "{e}");
        let e = error(&GOOD.replace("rate = \"max\"", "rate = 10\ncross_shard = 1.5"));
        assert!(
            e.starts_with("s.toml:13:") && e.contains("cross_shard"),
            "{e}"
        );
        let e = error(&GOOD.replace("\"asap\"", "\"0ms\""));
        assert!(e.contains("asap"), "{e}");
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = error(&GOOD.replace("shards = 2", "shards = \"four\""));
        assert!(
            e.starts_with("s.toml:7:") && e.contains("cluster.shards"),
            "{e}"
        );
        let e = error(&GOOD.replace("\"3s\"", "\"forever\""));
        assert!(e.starts_with("s.toml:4:") && e.contains("duration"), "{e}");
        let e = error(&GOOD.replace("rate = \"max\"", "rate = -5"));
        assert!(
            e.starts_with("s.toml:12:") && e.contains("workload.rate"),
            "{e}"
        );
    }

    #[test]
    fn names_are_plain_short_path_components() {
        for bad in ["..", ".", ".hidden", "a/b", ""] {
            let e = error(&GOOD.replace("name = \"t\"", &format!("name = {bad:?}")));
            assert!(e.contains("must not start with '.'"), "{bad}: {e}");
        }
        let long = "x".repeat(MAX_NAME_LEN + 1);
        let e = error(&GOOD.replace("name = \"t\"", &format!("name = {long:?}")));
        assert!(e.contains("at most 100") && e.len() < 300, "{e}");
        let huge = format!("{GOOD}\n# {}\n", "y".repeat(MAX_SCENARIO_BYTES));
        assert!(error(&huge).contains("at most"));
    }

    #[test]
    fn shards_without_accounts_are_refused() {
        // 5 shards, 10 accounts: placement by hash leaves a shard empty.
        assert!(empty_shard(5, 10).is_some());
        assert_eq!(empty_shard(5, 10_000), None);
        let e = error(
            &GOOD
                .replace("shards = 2", "shards = 5")
                .replace("accounts = 1000", "accounts = 10"),
        );
        assert!(e.contains("without an account"), "{e}");
    }

    #[test]
    fn missing_required_field_is_named() {
        let e = error(&GOOD.replace("duration = \"3s\"\n", ""));
        assert!(e.contains("duration"), "{e}");
    }

    #[test]
    fn inconsistent_values_are_refused() {
        let e = error(&GOOD.replace("accounts = 1000", "accounts = 3"));
        assert!(
            e.contains("workload.accounts = 3") && e.contains("cluster.shards = 2"),
            "{e}"
        );
        let e = error(&GOOD.replace("name = \"t\"", "name = \"../x\""));
        assert!(e.contains("name"), "{e}");
    }

    #[test]
    fn faults_are_checked_against_the_cluster() {
        let with = |fault: &str| format!("{GOOD}[[faults]]\n{fault}\n");
        let ok = Scenario::from_toml(
            &with("at = \"1s\"\nkill = \"beacon\"\nrestart_after = \"1s\""),
            "f",
        )
        .unwrap();
        assert_eq!(ok.faults[0].kill, Some(Target::Beacon));
        for (fault, expect) in [
            (
                "at = \"1s\"\nkill = \"shard-2\"\nrestart_after = \"1s\"",
                "shards 0..2",
            ),
            ("at = \"1s\"\nkill = \"shard-1\"", "needs restart_after"),
            (
                "at = \"1s\"\nkill = \"node-1\"\nrestart_after = \"1s\"",
                "unknown process \"node-1\"",
            ),
            (
                "at = \"1s\"\nlink = \"beacon\"\ndrop = 0.1",
                "must name a shard",
            ),
            (
                "at = \"1s\"\nlink = \"shard-0\"",
                "needs some delay, drop or duplicate",
            ),
            (
                "at = \"1s\"\nlink = \"shard-0\"\ndrop = 0.95",
                "drop and duplicate must be in",
            ),
            ("at = \"1s\"", "exactly one of kill"),
            (
                "at = \"1h\"\nkill = \"beacon\"\nrestart_after = \"1s\"",
                "but the run ends",
            ),
        ] {
            let e = error(&with(fault));
            assert!(e.contains(expect), "{fault}: {e}");
        }
        let memory = with("at = \"1s\"\nkill = \"beacon\"\nrestart_after = \"1s\"")
            .replace("shards = 2", "shards = 2\nstorage = \"memory\"");
        assert!(error(&memory).contains("storage = \"disk\""));
        let two_phase = with("at = \"1s\"\nlink = \"shard-0\"\ndrop = 0.1")
            .replace("shards = 2", "shards = 2\nprotocol = \"two-phase\"");
        assert!(error(&two_phase).contains("protocol = \"receipts\""));
    }

    #[test]
    fn echo_round_trips() {
        let s = Scenario::from_toml(GOOD, "s.toml").unwrap();
        let text = toml::to_string(&s).unwrap();
        assert_eq!(Scenario::from_toml(&text, "echo").unwrap(), s);
    }

    #[test]
    fn misspelled_field_gets_a_suggestion() {
        let e = error(&GOOD.replace("rate = \"max\"", "rat = 5"));
        assert!(e.contains("did you mean `rate`?"), "{e}");
        let e = error(&GOOD.replace("shards = 2", "shrads = 2"));
        assert!(e.contains("did you mean `shards`?"), "{e}");
        let e = error(&GOOD.replace("rate = \"max\"", "rate = 1\nzzzzzzzz = 5"));
        assert!(!e.contains("did you mean"), "nothing close: {e}");
    }

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn overrides_win_over_the_file_and_defaults() {
        let (_d, path) = write(GOOD);
        let sets = [
            "cluster.shards=8".to_string(),
            "workload.rate=2500".to_string(),
            "cluster.block_interval=50ms".to_string(),
            "warmup=\"0s\"".to_string(),
        ];
        let s = Scenario::load(&path, &sets).unwrap();
        assert_eq!(s.cluster.shards, 8);
        assert_eq!(s.workload.rate, Rate::PerSecond(2500));
        assert_eq!(s.cluster.block_interval, Some(Duration::from_millis(50)));
        assert_eq!(s.warmup, Duration::ZERO);
        assert_eq!(
            s.workload.accounts, 1000,
            "untouched fields keep the file's value"
        );
        // The later of two overrides of the same key wins.
        let s = Scenario::load(
            &path,
            &["workload.rate=5".into(), "workload.rate=max".into()],
        )
        .unwrap();
        assert_eq!(s.workload.rate, Rate::Max);
    }

    #[test]
    fn override_errors_name_the_override() {
        let (_d, path) = write(GOOD);
        let e = Scenario::load(&path, &["workload.rat=5".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--set workload.rat=5") && e.contains("did you mean `rate`?"),
            "{e}"
        );
        let e = Scenario::load(&path, &["cluster.shards=0".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("shards must be in 1..=64"), "{e}");
        let e = Scenario::load(&path, &["noequals".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("key=value"), "{e}");
        // An error in the file itself still points at its line.
        let (_d, bad) = write(&GOOD.replace("seed = 7", "seed = 7 7"));
        let e = Scenario::load(&bad, &["cluster.shards=3".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.toml:3:"), "{e}");
    }

    #[test]
    fn mix_weights_are_checked() {
        let with = |extra: &str| GOOD.replace("rate = \"max\"", &format!("rate = 10\n{extra}"));
        let s = Scenario::from_toml(&with("tokens = 3\nmix = { transfer = 3, token = 1 }"), "s")
            .unwrap();
        assert_eq!(s.workload.mix.token_fraction(), 0.25);
        let e = error(&with("mix = { token = 1 }"));
        assert!(e.contains("workload.tokens"), "{e}");
        let e = error(&with("mix = { transfer = 0 }"));
        assert!(e.contains("at least one program"), "{e}");
        let e = error(&with("mix = { swap = 1 }"));
        assert!(e.contains("workload.tokens ≥ 1 and workload.pools"), "{e}");
        let e = error(&with("tokens = 1\npools = 0\nmix = { swap = 1 }"));
        assert!(e.contains("workload.pools"), "{e}");
        let e = error(&with("collections = 0\nmix = { nft = 1 }"));
        assert!(e.contains("workload.collections"), "{e}");
        let e = error(&with("proposals = 0\nmix = { vote = 1 }"));
        assert!(e.contains("workload.proposals"), "{e}");
        let e = error(&with("mix = { swapp = 1 }"));
        assert!(
            e.contains("unknown field `swapp`") && e.contains("`swap`"),
            "{e}"
        );
        let s = Scenario::from_toml(
            &with("tokens = 1\nmix = { swap = 1, nft = 1, vote = 2 }"),
            "s",
        )
        .unwrap();
        assert_eq!((s.pools(), s.workload.collections), (8, 8));
        assert_eq!(s.workload.mix.weights(), [1.0, 0.0, 1.0, 1.0, 2.0]);
        let s = Scenario::from_toml(&with(""), "s").unwrap();
        assert_eq!(s.pools(), 0, "no pools without tokens");
    }

    #[test]
    fn phases_are_checked() {
        let with = |phases: &str| GOOD.replace("rate = \"max\"", "rate = 100") + phases;
        let ok = Scenario::from_toml(
            &with("[[phases]]\nat = \"1s\"\nrate = 200\nramp = \"1s\"\n[[phases]]\nat = \"2s\"\nrate = 0\n"),
            "s.toml",
        )
        .unwrap();
        assert_eq!(ok.phases.len(), 2);
        assert_eq!(ok.phases[0].ramp, Duration::from_secs(1));
        assert_eq!(ok.phases[1].ramp, Duration::ZERO);
        let e = error(&with(
            "[[phases]]\nat = \"1s\"\nrate = 2\nramp = \"2s\"\n[[phases]]\nat = \"2s\"\nrate = 1\n",
        ));
        assert!(e.contains("phase 2 starts before phase 1"), "{e}");
        let e = error(&with("[[phases]]\nat = \"9s\"\nrate = 2\n"));
        assert!(e.contains("run ends at 5s"), "{e}");
        let e = error(&(GOOD.to_string() + "[[phases]]\nat = \"1s\"\nrate = 2\n"));
        assert!(e.contains("numeric workload.rate"), "{e}");
        let e = error(&with("[[phases]]\nat = \"1s\"\nrate = 2\nspeed = 3\n"));
        assert!(e.contains("unknown field `speed`"), "{e}");
    }

    /// Every dotted key of a value: `a`, `a.b`; arrays of tables contribute `a` and `a.b`.
    fn keys(prefix: &str, v: &toml::Value, out: &mut std::collections::BTreeSet<String>) {
        let tables: Vec<&toml::Table> = match v {
            toml::Value::Table(t) => vec![t],
            toml::Value::Array(a) => a.iter().filter_map(toml::Value::as_table).collect(),
            _ => return,
        };
        for t in tables {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                // Sections (`[cluster]`) are not fields; tables inside them are.
                if !prefix.is_empty() || !matches!(v, toml::Value::Table(_)) {
                    out.insert(key.clone());
                }
                keys(&key, v, out);
            }
        }
    }

    #[test]
    fn scenario_reference_lists_every_field() {
        let doc = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario-reference.md"),
        )
        .unwrap();
        // A scenario with every optional part present.
        let full = GOOD
            .replace(
                "rate = \"max\"",
                "rate = 10\ntokens = 2\nmix = { transfer = 1, token = 1 }",
            )
            .replace(
                "shards = 2",
                "shards = 2\nbyzantine_shard = 1\nexecutor = \"parallel\"",
            )
            + "[network]\nlatency = \"1ms\"\n[[phases]]\nat = \"1s\"\nrate = 5\n"
            + "[[faults]]\nat = \"1s\"\nkill = \"shard-1\"\nrestart_after = \"1s\"\n"
            + "[[faults]]\nat = \"1s\"\nlink = \"shard-0\"\ndelay = \"1ms\"\ndrop = 0.1\nduplicate = 0.1\nduration = \"1s\"\n"
            + "[[faults]]\nat = \"1s\"\nfreeze = \"shard-1\"\n";
        let s = Scenario::from_toml(&full, "full").unwrap();
        let mut in_code = std::collections::BTreeSet::new();
        keys("", &toml::Value::try_from(&s).unwrap(), &mut in_code);
        let in_doc: std::collections::BTreeSet<String> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_string)
            .collect();
        assert_eq!(
            in_doc, in_code,
            "docs/scenario-reference.md and the code disagree"
        );
        // The example in the reference is a valid scenario.
        let example = doc
            .split("```toml\n")
            .nth(1)
            .unwrap()
            .split("```")
            .next()
            .unwrap();
        Scenario::from_toml(example, "docs/scenario-reference.md").unwrap();
    }

    proptest::proptest! {
        /// Any text at all gets a verdict, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = Scenario::from_toml(&text, "fuzz");
        }

        /// A valid scenario with one line replaced by arbitrary TOML-ish text: an error
        /// names a line inside the file, never a panic.
        #[test]
        fn mutated_scenarios_never_panic(line in 0usize..13, text in "[a-z_]{0,12} ?=? ?(\"[a-z0-9]{0,6}\"|-?[0-9]{1,22}|[0-9]\\.[0-9]+|max|asap|\\[|\\{)?") {
            let mut lines: Vec<&str> = GOOD.lines().collect();
            let i = line.min(lines.len() - 1);
            lines[i] = &text;
            let mutated = lines.join("\n");
            if let Err(ScenarioError::Parse { line, .. }) = Scenario::from_toml(&mutated, "fuzz") {
                proptest::prop_assert!(line >= 1 && line <= lines.len() + 1);
            }
        }
    }

    #[test]
    fn shipped_scenarios_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Scenario::from_path(&path).unwrap();
                seen += 1;
            }
        }
        assert!(seen >= 2);
    }
}
