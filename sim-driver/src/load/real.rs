//! Real traffic — a trace or the Ethereum-like generator — as one stream, and as a
//! cluster's transactions.
//!
//! ```text
//!  source = "trace"          ──► trace::read ─┐
//!                                             ├─► for_each: (Row, offered at), in order
//!  source = "ethereum-like"  ──► EthereumLike ┘        │
//!                      ┌───────────────────────────────┼──────────────────────────┐
//!                      ▼                               ▼                          ▼
//!      survey: genesis (accounts, tokens,   prepare: + a partition's   RealTraffic: each row a
//!      value units, a trace's own times)    table from the warm-up     call of its sender, with
//!                                           prefix (not replayed)      its next nonce
//! ```
//!
//! The offered time is what a run would use, in seconds from the start of the load:
//! the `i`-th transaction at `i / rate` (the `[[phases]]` are not replayed here), or,
//! under `trace.timing = "original"`, its block's timestamp less the first block's,
//! with each gap between blocks cut to `max_gap` and then divided by `speed`.
//!
//! Each row becomes one call: a value transfer a native `transfer`, a token transfer a
//! `token` transfer of that token's asset, any other contract call — and a creation,
//! which calls its new contract's account — a stand-in call (`Call::Invoke`).

use anyhow::Context;
use cross_shard::ids::NATIVE;
use cross_shard::{AccountId, Call, Placement, ShardId, Tx, TxId};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use super::ethereum_like::EthereumLike;
use super::trace::{self, Accounting, Kind, Row, TraceFiles};
use crate::scenario::{Rate, Scenario, Source, StrategyKind, Timing};

/// The transactions of `scenario`'s real-traffic source, at most `limit` (default: a
/// trace's every row; the generator's `(warmup + duration) × rate`), each handed to
/// `each` with its offered time (`None` under `rate = "max"`, where no schedule
/// exists). Returns the trace's accounting, for a trace.
pub fn for_each(
    scenario: &Scenario,
    limit: Option<u64>,
    mut each: impl FnMut(Row, Option<f64>),
) -> anyhow::Result<Option<Accounting>> {
    let rate = match scenario.workload.rate {
        Rate::PerSecond(r) => Some(r as f64),
        Rate::Max => None,
    };
    let w = &scenario.workload;
    match w.source {
        Source::Synthetic => anyhow::bail!(
            "workload.source is \"synthetic\": its cross-shard share is a dial \
             (workload.cross_shard), not a consequence of who transacts with whom; \
             use source = \"trace\" or \"ethereum-like\""
        ),
        Source::EthereumLike => {
            let total = match (limit, rate) {
                (Some(n), _) => n,
                (None, Some(r)) => ((scenario.warmup + scenario.duration).as_secs_f64() * r) as u64,
                (None, None) => anyhow::bail!(
                    "workload.rate = \"max\" sets no length for the generated traffic: give a count of transactions"
                ),
            };
            let mut g = EthereumLike::new(w.ethereum_like, w.accounts, scenario.seed);
            for i in 0..total {
                each(g.next_row(), rate.map(|r| i as f64 / r));
            }
            Ok(None)
        }
        Source::Trace => {
            let spec = w
                .trace
                .as_ref()
                .context("workload.source = \"trace\" without [workload.trace]")?;
            let files = TraceFiles {
                path: spec.path.clone(),
                erc20: spec.erc20.clone(),
                gas_cap: spec.gas_cap,
            };
            let mut i = 0u64;
            let mut clock = OriginalClock::new(spec.max_gap.as_secs_f64(), spec.speed);
            let original = spec.timing == Timing::Original;
            // A trace cannot be stopped midway from inside the reader's callback; rows
            // past the limit are read and not handed on (and still accounted for).
            let acct = trace::read(&files, |row| {
                if limit.is_some_and(|n| i >= n) {
                    return;
                }
                let at = if original {
                    Some(clock.at(row.timestamp))
                } else {
                    rate.map(|r| i as f64 / r)
                };
                i += 1;
                each(row, at);
            })
            .with_context(|| format!("reading the trace {}", spec.path.display()))?;
            Ok(Some(acct))
        }
    }
}

/// Offered times under `timing = "original"`.
#[derive(Debug, Clone)]
pub struct OriginalClock {
    max_gap: f64,
    speed: f64,
    last: Option<u64>,
    now: f64,
}

impl OriginalClock {
    /// A clock cutting gaps to `max_gap` seconds (after `speed`).
    pub fn new(max_gap: f64, speed: f64) -> OriginalClock {
        OriginalClock {
            max_gap,
            speed,
            last: None,
            now: 0.0,
        }
    }

    /// The offered time of a transaction of a block stamped `timestamp`.
    pub fn at(&mut self, timestamp: u64) -> f64 {
        if let Some(last) = self.last {
            let gap = timestamp.saturating_sub(last) as f64 / self.speed;
            self.now += gap.min(self.max_gap);
        }
        self.last = Some(timestamp);
        self.now
    }
}

/// What a cluster replaying real traffic is made of, surveyed before it starts: the
/// accounts and tokens the transactions touch, and the units their values replay in.
///
/// **Genesis funding.** Every account starts with the cluster's genesis balance
/// (`cluster::INITIAL_BALANCE` units) of the native coin and of every token, as in any
/// scenario. A trace's values are in wei (and tokens' own base units), far beyond
/// 64 bits, and an account may send more over the trace than any genesis could hold
/// in wei. So values replay in **units** of `10^k` wei: the smallest power of ten for
/// which every account's total outflow, each value rounded *up* (a non-zero value
/// never becomes free), fits its genesis balance. No replayed call then fails for want
/// of balance, whatever order receipts arrive in — a real account had its funds
/// before the trace began — and values keep their proportions. Each token gets a unit
/// of its own the same way (tokens have their own decimals, and one absurd transfer of
/// one token must not flatten every other token's amounts).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Genesis {
    /// Account ids in use: `0..accounts`.
    pub accounts: u64,
    /// Token contracts, in order of first appearance: token contract `tokens[i]` is
    /// asset `i + 1`.
    pub tokens: Vec<AccountId>,
    /// Wei per replayed native unit.
    pub native_unit: u128,
    /// Per token (`token_units[i]` for asset `i + 1`), its base units per replayed unit.
    pub token_units: Vec<u128>,
    /// Replayable transactions (at most the limit asked for).
    pub transactions: u64,
    /// Under `trace.timing = "original"`, each transaction's due time in ns from the
    /// start of the load (sped up, long gaps cut); `None` when the rate sets them.
    #[serde(skip)]
    pub times: Option<std::sync::Arc<[u64]>>,
    /// A trace's rows and what became of them; `None` for the generator.
    pub trace: Option<Accounting>,
}

/// Reads the scenario's real traffic once, start to end (at most `limit`
/// transactions), for its [`Genesis`].
pub fn survey(
    scenario: &Scenario,
    limit: Option<u64>,
    genesis_balance: u64,
) -> anyhow::Result<Genesis> {
    let mut max_id = 0u64;
    let mut native: Vec<(u128, u64)> = Vec::new();
    let mut token_out: FxHashMap<(AccountId, AccountId), (u128, u64)> = FxHashMap::default();
    let mut tokens: Vec<AccountId> = Vec::new();
    let mut token_seen: FxHashSet<AccountId> = FxHashSet::default();
    let mut transactions = 0u64;
    let original = scenario
        .workload
        .trace
        .as_ref()
        .is_some_and(|t| t.timing == Timing::Original);
    let mut times: Vec<u64> = Vec::new();
    let trace = for_each(scenario, limit, |row, at| {
        transactions += 1;
        if original {
            times.push((at.unwrap_or(0.0) * 1e9) as u64);
        }
        max_id = max_id.max(row.from).max(row.to);
        match row.token {
            Some(t) => {
                max_id = max_id.max(t);
                if token_seen.insert(t) {
                    tokens.push(t);
                }
                let e = token_out.entry((row.from, t)).or_default();
                *e = (e.0.saturating_add(row.value), e.1 + 1);
            }
            None => {
                let i = row.from as usize;
                if native.len() <= i {
                    native.resize(i + 1, (0, 0));
                }
                native[i] = (native[i].0.saturating_add(row.value), native[i].1 + 1);
            }
        }
    })?;
    let native_unit = unit_for(native.iter().copied(), genesis_balance)
        .context("an account sends more transactions than its genesis balance has units")?;
    let mut by_token: FxHashMap<AccountId, Vec<(u128, u64)>> = FxHashMap::default();
    for (&(_, t), &out) in &token_out {
        by_token.entry(t).or_default().push(out);
    }
    let token_units = tokens
        .iter()
        .map(|t| {
            let outflows = by_token.get(t).map_or(&[][..], Vec::as_slice);
            unit_for(outflows.iter().copied(), genesis_balance)
        })
        .collect::<Option<Vec<u128>>>()
        .context("a holder sends more token transfers than its genesis balance has units")?;
    Ok(Genesis {
        accounts: max_id + 1,
        tokens,
        native_unit,
        token_units,
        transactions,
        times: original.then(|| times.into()),
        trace,
    })
}

/// The smallest `10^k` such that for every `(total, count)`, `total / 10^k + count`
/// (the total with each of its `count` values rounded up) is at most `balance`.
fn unit_for(outflows: impl Iterator<Item = (u128, u64)>, balance: u64) -> Option<u128> {
    let mut k = 0u32;
    for (total, count) in outflows {
        let room = u128::from(balance.checked_sub(count)?);
        while total / 10u128.pow(k) > room {
            k += 1;
            if k > 38 {
                return None;
            }
        }
    }
    Some(10u128.pow(k))
}

/// `value` in units of `unit`, rounded up.
fn units(value: u128, unit: u128) -> u64 {
    u64::try_from(value.div_ceil(unit)).unwrap_or(u64::MAX)
}

/// A real-traffic scenario made ready for a cluster: its genesis surveyed, and the
/// scenario's derived fields set from it.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The scenario the cluster runs: `workload.accounts` and `workload.tokens` are the
    /// traffic's, and no pools, collections or proposals (real traffic calls none).
    pub scenario: Scenario,
    /// The scenario as written, which the traffic is made from (the generator lays its
    /// communities over the written `workload.accounts`).
    pub written: Scenario,
    /// What the survey found (the warm-up prefix included).
    pub genesis: Genesis,
    /// The most transactions replayed (`None`: a trace's every row).
    pub limit: Option<u64>,
    /// With `placement.strategy = "partition"`: the first transactions of the traffic,
    /// which the partitioner placed from before genesis and the cluster does not
    /// replay (its warm-up prefix, `placement.warmup` epochs).
    pub prefix: u64,
    /// Where the accounts live: by hash, or — with `placement.strategy = "partition"` —
    /// by the genesis table made from the prefix (`Placement::table`), built once and
    /// shared by the driver's routing, the cluster's table file and the verdict.
    pub placement: Placement,
}

/// Under `rate = "max"`, an epoch (the partitioner's warm-up is counted in epochs)
/// holds this many transactions per second of `placement.epoch`.
const MAX_MODE_EPOCH_RATE: u64 = 100_000;

/// Most tokens a replayed trace may hold (each is a balance per account in every
/// shard's ledger).
pub const MAX_TRACE_TOKENS: usize = 1024;

/// Under `rate = "max"` the generator has no schedule to say how many transactions a
/// run offers: it is surveyed for this many per second of run, above what two cores
/// (or many more) can finish.
const MAX_MODE_SURVEY_RATE: u64 = 1_000_000;

/// Surveys a real-traffic scenario (`None` for the synthetic workload) and derives the
/// scenario its cluster runs; `genesis_balance` is what every account starts with.
/// The traffic's length: what the schedule offers in `warmup + duration`; a trace at
/// its own timing, or a trace under `rate = "max"`, whole (rows a run does not reach
/// are reported); the generator under `rate = "max"`, a ceiling (below).
pub fn prepare(scenario: &Scenario, genesis_balance: u64) -> anyhow::Result<Option<Prepared>> {
    let total = scenario.warmup + scenario.duration;
    let original = scenario
        .workload
        .trace
        .as_ref()
        .is_some_and(|t| t.timing == Timing::Original);
    let limit = match (scenario.workload.source, scenario.workload.rate) {
        (Source::Synthetic, _) => return Ok(None),
        // The trace's own timing decides how much of it a run reaches.
        (Source::Trace, _) if original => None,
        (_, Rate::PerSecond(_)) => {
            crate::load::schedule::Schedule::of(scenario).map(|s| s.due_before(total))
        }
        (Source::EthereumLike, Rate::Max) => {
            Some((total.as_secs_f64() * MAX_MODE_SURVEY_RATE as f64).ceil() as u64)
        }
        (Source::Trace, Rate::Max) => None,
    };
    let partition = scenario.placement.strategy == StrategyKind::Partition;
    let epoch = || {
        scenario
            .placement
            .epoch
            .length(scenario.cluster.block_interval)
            .context("placement.epoch in blocks needs a block interval (not \"asap\")")
    };
    // The partitioner's warm-up prefix, `placement.warmup` epochs: counted at the rate,
    // or — under a trace's own timing — the rows offered before that much time.
    let warmup = scenario.placement.warmup as u64;
    let prefix = match (partition, original) {
        (false, _) => 0,
        (true, false) => {
            let rate = match scenario.workload.rate {
                Rate::PerSecond(r) => r,
                Rate::Max => MAX_MODE_EPOCH_RATE,
            };
            warmup * (epoch()?.as_secs_f64() * rate as f64).round() as u64
        }
        (true, true) => 0, // found from the times below
    };
    let mut genesis = survey(scenario, limit.map(|l| l + prefix), genesis_balance)?;
    let prefix = match (&mut genesis.times, partition) {
        (Some(times), true) => {
            let span = (epoch()? * warmup as u32).as_nanos() as u64;
            let prefix = times.partition_point(|&t| t < span);
            // The run starts where the prefix ends: its times from there, from zero.
            let start = times.get(prefix).copied().unwrap_or(0);
            *times = times[prefix..].iter().map(|t| t - start).collect();
            prefix as u64
        }
        _ => prefix,
    };
    if partition && genesis.transactions <= prefix {
        anyhow::bail!(
            "the traffic ({} transactions) ends within the partitioner's warm-up prefix of {prefix}: use fewer placement.warmup epochs or a shorter placement.epoch",
            genesis.transactions
        );
    }
    if genesis.tokens.len() > MAX_TRACE_TOKENS {
        anyhow::bail!(
            "the traffic transfers {} different tokens; a cluster holds at most {MAX_TRACE_TOKENS}",
            genesis.tokens.len()
        );
    }
    let mut derived = scenario.clone();
    // Every shard holds an account (a tiny trace might leave one without): ids past
    // the traffic's are accounts nobody uses.
    let mut accounts = genesis.accounts.max(2 * u64::from(scenario.cluster.shards));
    while crate::scenario::empty_shard(scenario.cluster.shards, accounts).is_some() {
        accounts += 1;
    }
    derived.workload.accounts = accounts;
    derived.workload.tokens = genesis.tokens.len() as u32;
    derived.workload.pools = 0;
    derived.workload.collections = 0;
    derived.workload.proposals = 0;
    let shards = scenario.cluster.shards;
    let placement = if partition {
        let mut touches = Vec::with_capacity(prefix as usize);
        for_each(scenario, Some(prefix), |row, _| {
            touches.push(placement::Touch {
                from: row.from,
                to: row.to,
            });
        })?;
        let dir = placement::partition_directory(
            &touches,
            shards,
            scenario.placement.imbalance,
            scenario.seed,
        )
        .context("partitioning the warm-up prefix")?;
        let table = (0..accounts).map(|a| dir.shard_of(a) as u16).collect();
        Placement::with_table(shards, table)
    } else {
        Placement::new(shards)
    }
    .context("a placement over the cluster's shards")?;
    Ok(Some(Prepared {
        scenario: derived,
        written: scenario.clone(),
        genesis,
        limit,
        prefix,
        placement,
    }))
}

/// Where replayed rows come from.
enum Rows {
    /// A trace, read on a thread of its own into a bounded queue (streamed: memory
    /// holds the queue, never the trace), and how many rows to skip first (the
    /// partitioner's warm-up prefix).
    Trace(std::sync::mpsc::Receiver<Row>, u64),
    /// The generator, and how many it may still make.
    Generated(Box<EthereumLike>, u64),
}

/// Real traffic as the cluster's transactions: each row a call of its sender, with
/// the sender's next nonce.
pub struct RealTraffic {
    rows: Rows,
    placement: Placement,
    nonces: Vec<u64>,
    token_asset: FxHashMap<AccountId, u32>,
    native_unit: u128,
    token_units: Vec<u128>,
    next_id: TxId,
    /// With CLPA: routing by the live directory, moving accounts' calls held.
    moving: Option<std::sync::Arc<std::sync::Mutex<crate::load::moving::Moving>>>,
}

impl std::fmt::Debug for RealTraffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealTraffic")
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

/// Rows the trace reader may read ahead of the load.
const READ_AHEAD: usize = 1 << 16;

impl RealTraffic {
    /// The traffic `prepared` surveyed, from its start.
    pub fn new(prepared: &Prepared) -> anyhow::Result<RealTraffic> {
        let (scenario, genesis, prefix) = (&prepared.written, &prepared.genesis, prepared.prefix);
        let limit = prepared.limit.map(|l| l + prefix);
        let placement = prepared.placement;
        let rows = match scenario.workload.source {
            Source::EthereumLike => {
                let mut g = EthereumLike::new(
                    scenario.workload.ethereum_like,
                    scenario.workload.accounts,
                    scenario.seed,
                );
                // The prefix was the partitioner's: the replay starts after it.
                for _ in 0..prefix {
                    g.next_row();
                }
                Rows::Generated(Box::new(g), genesis.transactions - prefix)
            }
            _ => {
                let (tx, rx) = std::sync::mpsc::sync_channel(READ_AHEAD);
                let scenario = scenario.clone();
                std::thread::Builder::new()
                    .name("trace-reader".into())
                    .spawn(move || {
                        // A send fails once the load has stopped taking rows: the rest
                        // of the file is read and let go (the survey accounted for it).
                        let _ = for_each(&scenario, limit, |row, _| {
                            let _ = tx.send(row);
                        });
                    })
                    .context("starting the trace reader")?;
                Rows::Trace(rx, prefix)
            }
        };
        Ok(RealTraffic {
            rows,
            placement,
            nonces: vec![0; genesis.accounts as usize],
            token_asset: genesis
                .tokens
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, i as u32 + 1))
                .collect(),
            native_unit: genesis.native_unit,
            token_units: genesis.token_units.clone(),
            next_id: 0,
            moving: None,
        })
    }

    fn next_row(&mut self) -> Option<Row> {
        match &mut self.rows {
            Rows::Trace(rx, skip) => {
                while *skip > 0 {
                    rx.recv().ok()?;
                    *skip -= 1;
                }
                rx.recv().ok()
            }
            Rows::Generated(g, left) => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                Some(g.next_row())
            }
        }
    }

    /// The next transaction and its sender's shard; `None` once the traffic is over.
    pub fn next_tx(&mut self) -> Option<(ShardId, Tx)> {
        let row = self.next_row()?;
        let call = match (row.kind, row.token) {
            (Kind::Token, Some(token)) => {
                let Some(&asset) = self.token_asset.get(&token) else {
                    tracing::error!(
                        token,
                        "a token the survey did not see: the traffic ends here"
                    );
                    return None;
                };
                Call::Transfer {
                    to: row.to,
                    asset,
                    amount: units(row.value, self.token_units[asset as usize - 1]),
                }
            }
            (Kind::Transfer, _) | (Kind::Token, None) => Call::Transfer {
                to: row.to,
                asset: NATIVE,
                amount: units(row.value, self.native_unit),
            },
            // A creation calls its new contract's account (every id exists from
            // genesis here); a call runs the stand-in.
            (Kind::Call | Kind::Create, _) => Call::Invoke {
                contract: row.to,
                value: units(row.value, self.native_unit),
                gas: row.gas,
            },
        };
        let Some(nonce) = self.nonces.get_mut(row.from as usize) else {
            // The survey saw every sender: a row it did not is a bug, and ends the
            // traffic loudly rather than sending something else.
            tracing::error!(
                from = row.from,
                "a sender the survey did not see: the traffic ends here"
            );
            return None;
        };
        let tx = Tx {
            id: self.next_id,
            from: row.from,
            nonce: *nonce,
            call,
        };
        *nonce += 1;
        self.next_id += 1;
        match &self.moving {
            Some(m) => Some((cross_shard::sync::lock(m).route(tx, row.to), tx)),
            None => Some((self.placement.shard_of(row.from), tx)),
        }
    }

    /// Routes by `moving` from now on (accounts move while the run goes on).
    pub fn with_moving(
        mut self,
        moving: std::sync::Arc<std::sync::Mutex<crate::load::moving::Moving>>,
    ) -> RealTraffic {
        self.moving = Some(moving);
        self
    }

    /// At most `limit` calls of moved accounts ready to go again, with their shards.
    pub fn ready(&self, limit: usize) -> Vec<(ShardId, Tx)> {
        self.moving
            .as_ref()
            .map(|m| cross_shard::sync::lock(m).take_ready(limit))
            .unwrap_or_default()
    }

    /// Whether accounts move during this run.
    pub fn moves(&self) -> bool {
        self.moving.is_some()
    }

    /// Transactions taken so far (the id of the next one).
    pub fn generated(&self) -> u64 {
        self.next_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_is_the_smallest_that_funds_every_sender() {
        assert_eq!(unit_for([(500, 3), (0, 0)].into_iter(), 1_000), Some(1));
        // 5,000 wei in 3 values needs units of 10 wei: 500 + 3 ≤ 1,000.
        assert_eq!(unit_for([(5_000, 3)].into_iter(), 1_000), Some(10));
        // Even a saturated value funds: 2^128 / 10^36 = 340.
        assert_eq!(
            unit_for([(u128::MAX, 1)].into_iter(), 1_000),
            Some(10u128.pow(36))
        );
        assert_eq!(
            unit_for([(1, 2_000)].into_iter(), 1_000),
            None,
            "more calls than units"
        );
        assert_eq!(units(0, 10), 0);
        assert_eq!(units(1, 10), 1, "a non-zero value never becomes free");
        assert_eq!(units(20, 10), 2);
    }

    #[test]
    fn original_timing_speeds_up_and_cuts_long_gaps() {
        let mut c = OriginalClock::new(1.0, 4.0);
        assert_eq!(c.at(1_000), 0.0);
        assert_eq!(c.at(1_000), 0.0, "same block, same time");
        assert_eq!(c.at(1_002), 0.5, "2 s on chain at 4×");
        assert_eq!(c.at(90_000), 1.5, "a day's gap cut to max_gap");
    }
}
