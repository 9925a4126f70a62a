//! Real traffic and placement in a scenario: `workload.source` with its `[workload.trace]`
//! and `[workload.ethereum_like]` tables, and the `[placement]` section.

use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::fields::duration;

/// `workload.source`: where the transactions come from.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The seeded mix of the five programs, with `cross_shard` as a dial.
    #[default]
    Synthetic,
    /// A real trace replayed (`[workload.trace]`).
    Trace,
    /// The Ethereum-like generator (`[workload.ethereum_like]`).
    EthereumLike,
}

/// `[workload.trace]`: the file replayed and how.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// The trace: an XBlock-ETH transaction CSV, an XBlock ERC-20 transfer CSV (each
    /// `.csv` or `.csv.gz`), a JSON-RPC block (`.json` or `.json.gz`), or a directory of
    /// blocks. Relative to the scenario file's folder. Required.
    pub path: PathBuf,
    /// An ERC-20 transfer CSV whose rows replace the calls of the same transaction
    /// hash in a transaction CSV (token transfers replayed holder to holder). Relative
    /// to the scenario file's folder. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erc20: Option<PathBuf>,
    /// "rate" (the default): the trace is consumed in order at `workload.rate` and the
    /// `[[phases]]`; "original": each block's transactions are offered at its timestamp
    /// divided by `speed`.
    #[serde(default)]
    pub timing: Timing,
    /// With `timing = "original"`: how many times faster than on chain. Default 1.
    #[serde(default = "trace_defaults::speed", deserialize_with = "speed")]
    pub speed: f64,
    /// With `timing = "original"`: a gap between blocks longer than this (after
    /// `speed`) is cut to it, so a sample of scattered blocks replays without idle
    /// hours. Default "1s".
    #[serde(default = "trace_defaults::max_gap", with = "duration")]
    pub max_gap: Duration,
    /// The most gas one replayed transaction costs (`gasUsed` where the trace has it,
    /// else its gas limit), 21,000 to 30,000,000. Default 1,000,000.
    #[serde(default = "trace_defaults::gas_cap", deserialize_with = "gas_cap")]
    pub gas_cap: u64,
}

/// `workload.trace.timing`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Timing {
    /// In order, at the scenario's rate.
    #[default]
    Rate,
    /// At the blocks' own timestamps, sped up.
    Original,
}

mod trace_defaults {
    use std::time::Duration;
    pub fn speed() -> f64 {
        1.0
    }
    pub fn max_gap() -> Duration {
        Duration::from_secs(1)
    }
    pub fn gas_cap() -> u64 {
        1_000_000
    }
}

fn speed<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    super::fields::in_range(d, 0.001, 1e9, "trace.speed")
}

fn gas_cap<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    super::fields::in_range(d, 21_000, 30_000_000, "trace.gas_cap")
}

/// `[placement]`: which shard holds each account, and how often that is reconsidered.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlacementSpec {
    /// "hash" (the default: where the account id hashes, never moved), "clpa"
    /// (constrained label propagation every epoch) or "partition" (METIS over the first
    /// `warmup` epochs, once).
    #[serde(default)]
    pub strategy: StrategyKind,
    /// The span between placement decisions: a duration ("5s") or a count of blocks
    /// (50: that many block intervals). Default "5s".
    #[serde(default = "placement_defaults::epoch")]
    pub epoch: Epoch,
    /// CLPA: epochs of history in the account graph, 1 to 100 (1 forgets everything
    /// each epoch, as BlockEmulator does). Default 4.
    #[serde(default = "placement_defaults::window", deserialize_with = "window")]
    pub window: usize,
    /// CLPA: β, the weight of a shard's load against an account's affinity, 0 to 10.
    /// Default 0.5.
    #[serde(default = "placement_defaults::beta", deserialize_with = "beta")]
    pub beta: f64,
    /// CLPA: τ, the most rounds of label propagation per epoch, 1 to 10,000. Default 100.
    #[serde(default = "placement_defaults::rounds", deserialize_with = "rounds")]
    pub rounds: u32,
    /// CLPA: the most times one account moves in one epoch's propagation, 1 to 10,000.
    /// Default 50.
    #[serde(default = "placement_defaults::max_moves", deserialize_with = "rounds")]
    pub max_moves: u32,
    /// Epochs observed before the partitioner places, 1 to 100; the study scores every
    /// strategy from the epoch after them. Default 2.
    #[serde(default = "placement_defaults::warmup", deserialize_with = "window")]
    pub warmup: usize,
    /// Partition: the busiest shard's load over the mean METIS may leave on the graph
    /// it cuts, 1.001 to 2. Default 1.1.
    #[serde(
        default = "placement_defaults::imbalance",
        deserialize_with = "imbalance"
    )]
    pub imbalance: f64,
}

impl Default for PlacementSpec {
    fn default() -> Self {
        PlacementSpec {
            strategy: StrategyKind::default(),
            epoch: placement_defaults::epoch(),
            window: placement_defaults::window(),
            beta: placement_defaults::beta(),
            rounds: placement_defaults::rounds(),
            max_moves: placement_defaults::max_moves(),
            warmup: placement_defaults::warmup(),
            imbalance: placement_defaults::imbalance(),
        }
    }
}

mod placement_defaults {
    use super::Epoch;
    use std::time::Duration;
    pub fn epoch() -> Epoch {
        Epoch::Time(Duration::from_secs(5))
    }
    pub fn window() -> usize {
        4
    }
    pub fn beta() -> f64 {
        0.5
    }
    pub fn rounds() -> u32 {
        100
    }
    pub fn max_moves() -> u32 {
        50
    }
    pub fn warmup() -> usize {
        2
    }
    pub fn imbalance() -> f64 {
        1.1
    }
}

fn window<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    super::fields::in_range(d, 1, 100, "placement.window and placement.warmup")
}

fn beta<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    super::fields::in_range(d, 0.0, 10.0, "placement.beta")
}

fn rounds<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    super::fields::in_range(d, 1, 10_000, "placement.rounds and placement.max_moves")
}

fn imbalance<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    super::fields::in_range(d, 1.001, 2.0, "placement.imbalance")
}

/// `placement.strategy`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Hash placement: the baseline.
    #[default]
    Hash,
    /// CLPA every epoch.
    Clpa,
    /// METIS once, after a warm-up.
    Partition,
}

impl StrategyKind {
    /// Every strategy, in the order results list them.
    pub const ALL: [StrategyKind; 3] = [
        StrategyKind::Hash,
        StrategyKind::Clpa,
        StrategyKind::Partition,
    ];

    /// The name scenarios and results use.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Hash => "hash",
            StrategyKind::Clpa => "clpa",
            StrategyKind::Partition => "partition",
        }
    }
}

impl std::str::FromStr for StrategyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StrategyKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown strategy {s:?}: write hash, clpa or partition"))
    }
}

/// `placement.epoch`: a duration, or a count of blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epoch {
    /// This long.
    Time(Duration),
    /// This many block intervals.
    Blocks(u64),
}

impl Epoch {
    /// The epoch's length in time, given the block interval (`None`: "asap", where a
    /// count of blocks has no fixed length).
    pub fn length(self, block_interval: Option<Duration>) -> Option<Duration> {
        match self {
            Epoch::Time(d) => Some(d),
            Epoch::Blocks(n) => block_interval.map(|b| b * n as u32),
        }
    }
}

impl Serialize for Epoch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Epoch::Time(d) => duration::serialize(d, s),
            Epoch::Blocks(n) => s.serialize_u64(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Epoch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Epoch, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Epoch;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an epoch: a duration (\"5s\") or a count of blocks (1 to 100,000)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Epoch, E> {
                match u64::try_from(v) {
                    Ok(n) if (1..=100_000).contains(&n) => Ok(Epoch::Blocks(n)),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Epoch, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Epoch, E> {
                match humantime::parse_duration(v) {
                    Ok(d) if d >= Duration::from_millis(10) => Ok(Epoch::Time(d)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The gas the Ethereum-like generator gives a contract creation: the most of any
/// call it makes.
pub const CREATE_GAS: u64 = 500_000;

/// The generator's knobs (`[workload.ethereum_like]`). Defaults: see
/// `docs/scenario-reference.md`, which shows the sample's figures they come from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EthereumLikeParams {
    /// Accounts in one community, 2 to 100,000. Default 64.
    #[serde(default = "ethereum_like_defaults::community_size")]
    pub community_size: u64,
    /// Share of a sender's transfers and token transfers whose counterparty is in its
    /// own community, 0 to 1. Default 0.9.
    #[serde(default = "ethereum_like_defaults::locality")]
    pub locality: f64,
    /// Zipf exponent of sender activity and of counterparties drawn from outside the
    /// community, 0 to 10 (0: uniform). Default 1.0.
    #[serde(default = "ethereum_like_defaults::activity_skew")]
    pub activity_skew: f64,
    /// Share of transactions that are token transfers. Default 0.12.
    #[serde(default = "ethereum_like_defaults::token_share")]
    pub token_share: f64,
    /// Share of transactions that call a hot contract. Default 0.05.
    #[serde(default = "ethereum_like_defaults::hot_share")]
    pub hot_share: f64,
    /// Hot contracts, 1 to 1,000. Default 10.
    #[serde(default = "ethereum_like_defaults::hot_contracts")]
    pub hot_contracts: u64,
    /// Share of transactions that call the sender's community's contract. Default 0.12.
    #[serde(default = "ethereum_like_defaults::community_call_share")]
    pub community_call_share: f64,
    /// Share of transactions that create a contract. Default 0.0015.
    #[serde(default = "ethereum_like_defaults::create_share")]
    pub create_share: f64,
    /// Share of each community's members that move to the next community per 100,000
    /// transactions, 0 to 1. Default 0.02.
    #[serde(default = "ethereum_like_defaults::drift")]
    pub drift: f64,
    /// Tokens (their contracts are the first hot contracts' neighbours in id space),
    /// 1 to 64. Default 4.
    #[serde(default = "ethereum_like_defaults::tokens")]
    pub tokens: u64,
}

mod ethereum_like_defaults {
    pub fn community_size() -> u64 {
        64
    }
    pub fn locality() -> f64 {
        0.9
    }
    pub fn activity_skew() -> f64 {
        1.0
    }
    pub fn token_share() -> f64 {
        0.12
    }
    pub fn hot_share() -> f64 {
        0.05
    }
    pub fn hot_contracts() -> u64 {
        10
    }
    pub fn community_call_share() -> f64 {
        0.12
    }
    pub fn create_share() -> f64 {
        0.0015
    }
    pub fn drift() -> f64 {
        0.02
    }
    pub fn tokens() -> u64 {
        4
    }
}

impl Default for EthereumLikeParams {
    fn default() -> Self {
        EthereumLikeParams {
            community_size: ethereum_like_defaults::community_size(),
            locality: ethereum_like_defaults::locality(),
            activity_skew: ethereum_like_defaults::activity_skew(),
            token_share: ethereum_like_defaults::token_share(),
            hot_share: ethereum_like_defaults::hot_share(),
            hot_contracts: ethereum_like_defaults::hot_contracts(),
            community_call_share: ethereum_like_defaults::community_call_share(),
            create_share: ethereum_like_defaults::create_share(),
            drift: ethereum_like_defaults::drift(),
            tokens: ethereum_like_defaults::tokens(),
        }
    }
}

impl EthereumLikeParams {
    /// Why these parameters cannot generate traffic over `accounts` accounts, if they
    /// cannot: each message names the field and its range.
    pub fn check(&self, accounts: u64) -> Result<(), String> {
        let f = "workload.ethereum_like";
        let share = |name: &str, x: f64| {
            if (0.0..=1.0).contains(&x) {
                Ok(())
            } else {
                Err(format!("{f}.{name} = {x}: must be between 0 and 1"))
            }
        };
        share("locality", self.locality)?;
        share("token_share", self.token_share)?;
        share("hot_share", self.hot_share)?;
        share("community_call_share", self.community_call_share)?;
        share("create_share", self.create_share)?;
        share("drift", self.drift)?;
        let calls =
            self.token_share + self.hot_share + self.community_call_share + self.create_share;
        if calls > 1.0 {
            return Err(format!(
                "{f}: token_share + hot_share + community_call_share + create_share = {calls}: the shares of contract calls add up to more than 1"
            ));
        }
        if !(2..=100_000).contains(&self.community_size) {
            return Err(format!(
                "{f}.community_size = {}: must be 2 to 100,000",
                self.community_size
            ));
        }
        if accounts < 2 * self.community_size {
            return Err(format!(
                "{f}.community_size = {}: workload.accounts = {accounts} holds fewer than two communities",
                self.community_size
            ));
        }
        if !(0.0..=10.0).contains(&self.activity_skew) {
            return Err(format!(
                "{f}.activity_skew = {}: must be 0 to 10",
                self.activity_skew
            ));
        }
        if !(1..=1000).contains(&self.hot_contracts) {
            return Err(format!(
                "{f}.hot_contracts = {}: must be 1 to 1,000",
                self.hot_contracts
            ));
        }
        if !(1..=64).contains(&self.tokens) {
            return Err(format!("{f}.tokens = {}: must be 1 to 64", self.tokens));
        }
        Ok(())
    }
}
