//! Scenario files: what to run, parsed strictly.
//!
//! **Owns** the scenario file. **May not** depend on anything else in the driver: every
//! other room reads a checked [`Scenario`].
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
    /// `[virtual]`: how a virtual run (`cluster.mode = "virtual"`) simulates.
    #[serde(
        default,
        rename = "virtual",
        skip_serializing_if = "VirtualSpec::is_default"
    )]
    pub simulation: VirtualSpec,
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
    /// Which shard holds each account, and how often that is reconsidered. Default:
    /// hash placement.
    #[serde(default)]
    pub placement: PlacementSpec,
}

/// `[[faults]]`: one injected fault — either `kill` (with `restart_after`) or `link`
/// (with any of `delay`, `drop`, `duplicate`, and optionally `duration`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// When the fault starts, counted from the start of the run (warm-up included).
    #[serde(with = "duration")]
    pub at: Duration,
    /// Kill this process with SIGKILL: `"beacon"` or `"shard-<k>"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<Target>,
    /// With `kill`: start the process again this long after, on the same data
    /// directory. Required with `kill`.
    #[serde(default, with = "duration", skip_serializing_if = "Duration::is_zero")]
    pub restart_after: Duration,
    /// With `kill` of a committee's validator: it comes back with an empty data
    /// directory (a new disk), and takes the shard's state from its peers' latest
    /// snapshot (state sync). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wipe: bool,
    /// Freeze this process with SIGSTOP for the rest of the run: "beacon" or
    /// `"shard-<k>"`. A grey failure — alive, holding its sockets, answering nothing. The
    /// driver notices the silence, names the process, ends the run at its planned time
    /// plus a short drain, and writes results marked partial: the run fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<Target>,
    /// Make the link between this shard and the beacon faulty: `"shard-<k>"`.
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
    /// Shard `k` (a shard that proposes alone).
    Shard(u32),
    /// Validator `v` of shard `k`'s committee.
    Validator(u32, u32),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Beacon => f.write_str("beacon"),
            Target::Shard(k) => write!(f, "shard-{k}"),
            Target::Validator(k, v) => write!(f, "shard-{k}/validator-{v}"),
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
        let parsed = s
            .strip_prefix("shard-")
            .and_then(|rest| match rest.split_once('/') {
                None => rest.parse().ok().map(Target::Shard),
                Some((k, v)) => Some(Target::Validator(
                    k.parse().ok()?,
                    v.strip_prefix("validator-")?.parse().ok()?,
                )),
            });
        parsed.ok_or_else(|| {
            de::Error::custom(format!(
                "unknown process {s:?}: write \"beacon\", \"shard-<k>\" (e.g. \"shard-1\") or, with committees, \"shard-<k>/validator-<i>\" (e.g. \"shard-1/validator-2\")"
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
    /// Under `vm = "evm"`, each shard block's gas limit: its transactions' gas limits
    /// sum to at most this, as on Ethereum (receipts' calls from the bridge run outside
    /// it). At least 150,000 (the largest call's limit). Default: none.
    #[serde(default)]
    pub max_block_gas: Option<u64>,
    /// Sign every transaction with ed25519 and check it on admission. Default false.
    #[serde(default)]
    pub signatures: bool,
    /// Run every link over mutual TLS, as a cluster across hosts must: the driver
    /// makes a CA for the run and a certificate per process naming its role (beacon,
    /// shard k / validator i, driver); each process knows its callers by their
    /// certificates, and only the driver may submit or inject faults. Default false
    /// (loopback needs no credentials).
    #[serde(default)]
    pub tls: bool,
    /// Threads each shard verifies signatures and executes with, 1 to 16. Default 1.
    #[serde(default = "defaults::threads", deserialize_with = "thread_count")]
    pub threads_per_shard: u32,
    /// Executor: "sequential" (the reference), "parallel" (conflict-free waves by
    /// declared access sets) or "block-stm" (optimistic, multi-version, re-executed on
    /// conflict). Default "sequential".
    #[serde(default)]
    pub executor: ExecutorKind,
    /// The machine that runs the programs: "native" (the native functions) or "evm"
    /// (their Solidity contracts on revm, `contracts/`; cross-shard calls through the
    /// bridge precompile). "evm" runs on every executor, under the receipts protocol,
    /// with honest shards. Default "native".
    #[serde(default)]
    pub vm: VmKind,
    /// Run the sequential executor beside the chosen one on every block; a difference
    /// stops the shard (and fails the run). Default false.
    #[serde(default)]
    pub verify_executor: bool,
    /// Let "parallel" and "block-stm" run a block sequentially when they predict they
    /// would lose to the sequential executor (too cheap, too dependent, one core); false
    /// runs their algorithm on every block. Default true.
    #[serde(default = "defaults::yes")]
    pub predict_executor: bool,
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
    /// Every shard process snapshots its state every this many blocks (with storage
    /// "disk"): a restart replays only the blocks after its latest snapshot, and a
    /// committee's validator far behind (or restarted empty) takes one from its
    /// peers. 0: never. Default 100.
    #[serde(default = "defaults::snapshot_every")]
    pub snapshot_every: u64,
    /// Validators per shard, 1 to 16: each its own process, agreeing on every block by
    /// Tendermint and certifying it for the beacon with a quorum of signatures; 1 is a
    /// single proposer with no consensus (for speed studies). Tolerates
    /// f = ⌊(validators − 1)/3⌋ faulty validators per shard. Default 1.
    #[serde(default = "defaults::validators")]
    pub validators: u32,
    /// Make one validator Byzantine: `{ shard = 1, validator = 2, behaviour =
    /// "equivocate" }`, with behaviour "equivocate", "silent", "wrong-root",
    /// "withhold-votes" or "forge-receipts". Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byzantine_validator: Option<ByzantineValidator>,
    /// How the cluster runs: "process" (a process per beacon and validator, real time,
    /// real network) or "virtual" (the same protocol code in one process, on one
    /// virtual clock, with the network and every node's CPU simulated: up to 1,024
    /// shards, and the same seed gives the same run). Default "process".
    #[serde(default)]
    pub mode: Mode,
}

/// `[virtual]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct VirtualSpec {
    /// "real": every signature is made and checked, as in a process run; "modelled":
    /// transaction signatures (`cluster.signatures`) are charged to the shards' CPUs
    /// as if checked, but neither made nor checked — for runs too large to sign.
    /// Default "real".
    #[serde(default)]
    pub crypto: Crypto,
    /// A cost model file (`shardsim calibrate` writes one), relative to the scenario's
    /// folder. Default: the model built in (docs/benchmarks.md's figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_model: Option<std::path::PathBuf>,
}

impl VirtualSpec {
    /// Whether every field has its default (the table is then not echoed).
    pub fn is_default(&self) -> bool {
        *self == VirtualSpec::default()
    }
}

/// `virtual.crypto`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Crypto {
    /// Signatures made and checked.
    #[default]
    Real,
    /// Charged as time, neither made nor checked.
    Modelled,
}

/// `cluster.mode`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Real processes in real time.
    #[default]
    Process,
    /// The deterministic simulator (`crate::simulate`).
    Virtual,
}

impl Mode {
    /// Its name in a scenario file and in summary.json.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Process => "process",
            Mode::Virtual => "virtual",
        }
    }
}

/// `cluster.byzantine_validator`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ByzantineValidator {
    /// The shard.
    pub shard: u32,
    /// The validator's index in its committee.
    pub validator: u32,
    /// What it does: "equivocate", "silent", "wrong-root", "withhold-votes" or
    /// "forge-receipts".
    pub behaviour: String,
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

impl Protocol {
    /// Its name in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Receipts => "receipts",
            Protocol::TwoPhase => "two-phase",
        }
    }
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            shards: defaults::shards(),
            block_interval: defaults::interval(),
            beacon_interval: defaults::beacon_interval(),
            max_block_txs: defaults::max_block_txs(),
            max_block_gas: None,
            signatures: false,
            tls: false,
            threads_per_shard: defaults::threads(),
            executor: ExecutorKind::default(),
            vm: VmKind::default(),
            verify_executor: false,
            predict_executor: true,
            byzantine_shard: None,
            protocol: Protocol::default(),
            deadline: defaults::deadline(),
            snapshot_every: defaults::snapshot_every(),
            storage: Storage::default(),
            validators: defaults::validators(),
            byzantine_validator: None,
            mode: Mode::default(),
        }
    }
}

/// `cluster.vm`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VmKind {
    /// The native programs.
    #[default]
    Native,
    /// The Solidity contracts on revm.
    Evm,
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
    /// Where the processes run: "loopback" (default: all on 127.0.0.1), or "netns" —
    /// each on a host of its own, a Linux network namespace joined to the others by a
    /// bridge, over mutual TLS (root only; see `cluster::hosts`).
    #[serde(default)]
    pub hosts: HostKind,
    /// With `hosts = "netns"`: what each host may send, shaped by the kernel ("100mbit",
    /// "1gbit"). Default: unlimited.
    #[serde(default, with = "bandwidth", skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u64>,
}

/// `network.hosts`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HostKind {
    /// Every process on 127.0.0.1.
    #[default]
    Loopback,
    /// A network namespace per process.
    Netns,
}

/// `[workload]`: the transactions the driver offers.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Where the transactions come from: "synthetic" (the `mix` of the five programs,
    /// `cross_shard` a dial), "trace" (a real trace, `[workload.trace]`) or
    /// "ethereum-like" (the generator, `[workload.ethereum_like]`). With the last two
    /// the cross-shard share is a result of who transacts with whom, and `cross_shard`,
    /// `skew`, `mix` and `hot` do not apply. Default "synthetic".
    #[serde(default)]
    pub source: Source,
    /// With `source = "trace"`: the trace and how it is replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceSpec>,
    /// With `source = "ethereum-like"`: the generator's knobs (every one has a default).
    #[serde(default)]
    pub ethereum_like: EthereumLikeParams,
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

mod fields;
mod parse;
#[cfg(test)]
mod tests;
mod traffic;
mod validate;

use fields::*;
pub use traffic::{
    CREATE_GAS, Epoch, EthereumLikeParams, PlacementSpec, Source, StrategyKind, Timing, TraceSpec,
};
pub(crate) use validate::empty_shard;

impl Scenario {
    /// The cross-shard fraction actually used: 0 on a single shard.
    pub fn effective_cross_shard(&self) -> f64 {
        if self.cluster.shards > 1 {
            self.workload.cross_shard
        } else {
            0.0
        }
    }
}
