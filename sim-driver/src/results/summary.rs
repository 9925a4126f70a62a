//! `summary.json`: the figures of a run, put together from what was measured.

use std::collections::BTreeMap;

use cross_shard::RejectReason;
use cross_shard::audit::Audit;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::measure::tracker::{Tracker, window_seconds};
use crate::scenario::Scenario;

use super::consensus::{ConsensusSummary, consensus_summary, honest_validators};
use crate::measure::settle::FinalStatus;
pub use crate::measure::verdict::{Invariants, RunEnd};

/// Gas, in the field's units.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct GasSummary {
    /// Gas used by every block of the run.
    pub used: u64,
    /// Millions of gas per second over the measured window.
    pub mgas_per_s: f64,
    /// Gas per final transaction, over the whole run.
    pub per_tx: f64,
    /// Of `used`, the receipts' (their calls from the bridge on the destination); the
    /// rest is the transactions' own, by program in `programs`.
    #[serde(default)]
    pub receipts: u64,
    /// Gas one transaction burnt (of those that ran): the median…
    #[serde(default)]
    pub tx_p50: u64,
    /// …the 99th percentile…
    #[serde(default)]
    pub tx_p99: u64,
    /// …and the most.
    #[serde(default)]
    pub tx_max: u64,
}

/// Latency percentiles of one class of transactions, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct Percentiles {
    /// Transactions measured.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
}

impl Percentiles {
    /// From a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// Latency of intra-shard, cross-shard and all transactions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    /// Intra-shard transfers.
    pub intra: Percentiles,
    /// Cross-shard transfers (until the receipt is applied).
    pub cross: Percentiles,
    /// Both.
    pub all: Percentiles,
}

/// The report name of a reason code.
fn reason_name(code: u32) -> String {
    RejectReason::from_code(code).map_or_else(|| format!("code_{code}"), |r| r.name().to_string())
}

/// One program's transactions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProgramCounts {
    /// Sent.
    pub submitted: u64,
    /// Final.
    pub committed: u64,
    /// Rejected or failed.
    pub rejected: u64,
    /// Rejections and failures by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reasons: BTreeMap<String, u64>,
    /// vm = evm: gas the program's transactions used (receipts not included)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas: Option<u64>,
    /// …and per submitted transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_per_tx: Option<f64>,
}

/// Cross-shard figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CrossShard {
    /// Cross-shard transfers final (receipt applied).
    pub committed: u64,
    /// Receipts emitted by all shards.
    pub receipts_emitted: u64,
    /// Receipts applied by all shards.
    pub receipts_applied: u64,
    /// Deliveries refused by the destination (bad proof, gap, unnotarized header).
    pub deliveries_rejected: u64,
    /// Deliveries received again and ignored.
    pub duplicates_ignored: u64,
}

/// One shard's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardSummary {
    /// Shard id.
    pub shard: u32,
    /// Transactions sent from this shard that became final.
    pub committed: u64,
    /// Of which cross-shard.
    pub cross_committed: u64,
    /// Transactions this shard rejected.
    pub rejected: u64,
    /// Final transactions per second from this shard over the measured window.
    pub tps: f64,
    /// Blocks made.
    pub height: u64,
    /// State root after the last block (hex).
    pub state_root: String,
    /// Longest delayed-receipt queue seen after any block.
    pub delayed_receipts_max: u64,
    /// Longest time a receipt waited in that queue, ms.
    pub oldest_delayed_ms: f64,
    /// Fraction of executed transactions that depended on an earlier one in their
    /// block (reported by the parallel and block-stm executors; absent with the
    /// sequential one).
    pub dependency_ratio: Option<f64>,
    /// block-stm only: re-executions (incarnations beyond each transaction's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reexecuted: Option<u64>,
    /// Blocks the executor ran sequentially because it predicted a loss
    /// (`cluster.predict_executor`); 0 for the sequential executor.
    #[serde(default)]
    pub fell_back_blocks: u64,
    /// parallel under vm = evm: blocks run sequentially because a call touched a key it
    /// had not declared.
    #[serde(default)]
    pub undeclared_blocks: u64,
}

/// Misbehaviour detected and refused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Security {
    /// Receipts the beacon refused: forged (not committed to by their header) plus
    /// replayed (already routed).
    pub receipts_rejected: u64,
    /// Of which forged.
    pub receipts_forged: u64,
    /// Of which replayed.
    pub receipts_replayed: u64,
    /// Header submissions the beacon refused whole.
    pub headers_rejected: u64,
    /// Deliveries the destination shards refused (bad proof, gap, unnotarized header).
    pub deliveries_rejected: u64,
    /// Two-phase votes the coordinator refused: late + forged + duplicate.
    #[serde(default)]
    pub votes_rejected: u64,
    /// Of which cast after their transaction was decided (past its deadline).
    #[serde(default)]
    pub votes_late: u64,
    /// Of which on a transaction never prepared, or by a shard not its participant.
    #[serde(default)]
    pub votes_forged: u64,
    /// Of which second votes.
    #[serde(default)]
    pub votes_duplicate: u64,
    /// Committees: times an honest validator caught another signing two proposals or
    /// two votes for one step (equivocation).
    #[serde(default)]
    pub equivocations_detected: u64,
    /// Committees: votes an honest validator found naming another state root than the
    /// one it computed for the same block.
    #[serde(default)]
    pub wrong_roots_detected: u64,
    /// Committees: proposals an honest validator refused for inputs the proposer made
    /// up (unproven receipts, unsigned transactions).
    #[serde(default)]
    pub forged_inputs_detected: u64,
}

/// Two-phase commit figures (`protocol = "two-phase"`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TwoPhaseSummary {
    /// Transactions committed on both shards.
    pub commits: u64,
    /// Transactions aborted on both shards.
    pub aborts: u64,
    /// Aborts by reason (`timeout`: no vote before the deadline).
    pub aborts_by_reason: BTreeMap<String, u64>,
    /// aborts / (commits + aborts).
    pub abort_rate: f64,
    /// How long prepares that found a key locked waited for it (ms); `count` is how
    /// many waited.
    pub lock_wait_ms: Percentiles,
    /// The beacon's count of decisions (commits, aborts): each matches the driver's
    /// once the run has drained.
    pub beacon_commits: u64,
    /// See `beacon_commits`.
    pub beacon_aborts: u64,
}

/// The beacon's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BeaconSummary {
    /// Beacon blocks made.
    pub height: u64,
    /// Header submissions refused.
    pub headers_rejected: u64,
    /// Receipts notarized and not yet acknowledged at the end.
    pub inflight_receipts: u64,
}

/// CPU time each process used over the run (user + system seconds): where the time
/// went. All processes share the machine's cores, so their sum over the wall time is
/// how many cores the run kept busy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CpuSeconds {
    /// Wall-clock seconds from the start of the load to the end of the drain.
    pub wall: f64,
    /// The driver (workload generation, encoding, event tracking).
    pub driver: f64,
    /// The beacon.
    pub beacon: f64,
    /// Each shard, index = shard id.
    pub shards: Vec<f64>,
}

impl CpuSeconds {
    /// Whether nothing was measured (a virtual run has no processes).
    pub fn is_empty(&self) -> bool {
        *self == CpuSeconds::default()
    }
}

/// Runs written before `mode` existed ran processes.
fn process_mode() -> String {
    "process".into()
}

/// summary.json's `simulator`: a virtual run's own figures. Everything but `wall` is
/// the same for the same scenario and seed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SimulatorSummary {
    /// Events the simulator handled.
    pub events: u64,
    /// Messages the simulated network carried.
    pub messages: u64,
    /// Their bytes, as encoded on the wire.
    pub bytes: u64,
    /// Virtual seconds simulated, load and drain.
    pub virtual_s: f64,
    /// Where the cost model's figures come from.
    pub cost_model: String,
    /// Transaction signatures: `"none"` (the cluster signs none), `"real"` (made and
    /// checked) or `"modelled"` (charged as CPU time, neither made nor checked).
    #[serde(default)]
    pub crypto: String,
    /// What it took on this machine (wall clock: differs run to run).
    pub wall: SimulatorWall,
}

/// The wall-clock side of a virtual run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SimulatorWall {
    /// Seconds the simulation took.
    pub seconds: f64,
    /// Events handled per wall second.
    pub events_per_s: f64,
    /// Virtual seconds per wall second (above 1: faster than real time).
    pub speed: f64,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Workload seed.
    pub seed: u64,
    /// This run's folder name.
    pub run_id: String,
    /// Shards in the cluster.
    pub shards: u32,
    /// The scenario as run (every field, defaults filled in).
    pub config: serde_json::Value,
    /// Transactions handed to the shards.
    pub submitted: u64,
    /// Transactions final (intra-shard committed, or cross-shard receipt applied).
    pub committed: u64,
    /// Transactions rejected by a shard.
    pub rejected: u64,
    /// Rejections by reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Transactions still in a mempool or a receipt at the end.
    pub pending: u64,
    /// Transactions neither final, rejected nor pending. Must be 0.
    pub lost: u64,
    /// Final transactions per second over the measured window.
    pub tps: f64,
    /// Length of the measured window, seconds.
    pub measured_window_s: f64,
    /// Whether the cluster drained completely before the end (nothing left in flight).
    pub drained: bool,
    /// Whether the run was interrupted (Ctrl-C) or failed (a process died or stopped
    /// answering) before it could finish: the figures cover only the part that ran.
    #[serde(default)]
    pub partial: bool,
    /// Why the run could not finish, one line each (empty: it did).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// Processes the driver stopped hearing from (frozen, whether scripted or not, or
    /// starved of CPU): who, since when, how it was noticed, whether its committee
    /// kept a quorum (then the run went on), and when it answered again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults_observed: Vec<crate::measure::observed::FaultObserved>,
    /// Cross-shard figures.
    pub cross_shard: CrossShard,
    /// Per program called: submitted, committed (final), rejected.
    #[serde(default)]
    pub programs: BTreeMap<String, ProgramCounts>,
    /// Latency percentiles (ms), over transactions sent in the measured window.
    pub latency_ms: LatencySummary,
    /// Per shard.
    pub per_shard: Vec<ShardSummary>,
    /// The beacon.
    pub beacon: BeaconSummary,
    /// Misbehaviour refused.
    #[serde(default)]
    pub security: Security,
    /// Two-phase commit figures, when the run used that protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_phase: Option<TwoPhaseSummary>,
    /// Consensus inside the shards, when they are committees (`cluster.validators`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusSummary>,
    /// How the cluster ran: `"process"` (real processes, real time) or `"virtual"` (the
    /// simulator, `cluster.mode`).
    #[serde(default = "process_mode")]
    pub mode: String,
    /// A virtual run: what the simulator did (in place of the processes' CPU time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulator: Option<SimulatorSummary>,
    /// Where the CPU time went (a process run).
    #[serde(default, skip_serializing_if = "CpuSeconds::is_empty")]
    pub cpu_seconds: CpuSeconds,
    /// The faults injected (`[[faults]]`), when, and how the run recovered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::measure::recovery::FaultReport>,
    /// What the processes did to recover from crashes and faulty links.
    #[serde(default)]
    pub recovery: Recovery,
    /// Transactions waiting to be taken into blocks: how large the backlog grew.
    #[serde(default)]
    pub backlog: Backlog,
    /// Gas the calls used, when they ran on the EVM (`cluster.vm = "evm"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas: Option<GasSummary>,
    /// Real traffic (`workload.source = "trace"` or `"ethereum-like"`): what genesis
    /// held, what the cross-shard share came out as, and what became of every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficSummary>,
    /// The invariants.
    pub invariants: Invariants,
}

/// summary.json's `traffic`: a replayed trace or the Ethereum-like generator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TrafficSummary {
    /// `"trace"` or `"ethereum-like"`.
    pub source: String,
    /// Transactions the traffic holds for this run: a trace's replayable rows; for the
    /// generator, what the run sent (it makes as many as the run takes).
    pub transactions: u64,
    /// Of those, sent to the cluster.
    pub submitted: u64,
    /// Of those, not sent: the run ended first.
    pub not_reached: u64,
    /// Final cross-shard transactions over all final ones: a result of who transacts
    /// with whom and where accounts are placed, not a setting.
    pub cross_shard_share: f64,
    /// How accounts were placed: `"hash"`, `"partition"` (METIS over a warm-up
    /// prefix, before genesis) or `"clpa"` (every epoch, accounts moving).
    pub placement: String,
    /// Load imbalance: the busiest shard's committed transactions over the mean.
    #[serde(default)]
    pub load_imbalance: f64,
    /// With a partition: the transactions of the warm-up prefix it placed from, which
    /// the cluster did not replay.
    pub placed_from: u64,
    /// With a partition: accounts it put elsewhere than their hash shard.
    pub accounts_off_hash: u64,
    /// Accounts genesis created (the ids the traffic touches).
    pub accounts: u64,
    /// Tokens genesis created (one per token contract of the traffic).
    pub tokens: u64,
    /// What every account starts with, of the native coin and of each token, in units.
    pub genesis_balance: u64,
    /// Wei per replayed native unit (see `load::real::Genesis`).
    pub native_unit_wei: String,
    /// Per token, its base units per replayed unit: the smallest and the largest.
    pub token_units: [String; 2],
    /// A trace's rows: read, replayable by kind, dropped by reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceRows>,
    /// With CLPA: the accounts moved between running shards, epoch by epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<MigrationSummary>,
}

/// What moving accounts between running shards cost (`cross_shard::migration`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct MigrationSummary {
    /// Accounts moved, over every epoch.
    pub accounts_moved: u64,
    /// Bytes of account state the shards sent (receipt rows on the wire).
    pub bytes_moved: u64,
    /// Each moved account's unavailability — its calls held by the driver from the
    /// announcement until its new shard had imported it and its old shard had
    /// answered every call it was sent (ms): median and 99th percentile.
    pub unavailable_p50_ms: f64,
    /// …
    pub unavailable_p99_ms: f64,
    /// Calls an old shard refused because their sender had left, sent again to the new.
    pub calls_refused: u64,
    /// Receipts an old shard sent on to an account's new shard.
    pub receipts_forwarded: u64,
    /// The cross-shard share of transactions final before the first epoch began (the
    /// genesis placement's), for comparison with each epoch's (absent: none final).
    pub genesis_cross_shard_share: Option<f64>,
    /// Epoch by epoch.
    pub epochs: Vec<EpochSummary>,
}

/// One epoch of live placement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct EpochSummary {
    /// The epoch (1 = the first change after genesis).
    pub epoch: u32,
    /// Seconds into the run when CLPA's moves were handed to the beacon.
    pub began_s: f64,
    /// The beacon block that announced them.
    pub beacon_height: u64,
    /// Accounts moved.
    pub accounts: u64,
    /// Bytes of their state.
    pub bytes: u64,
    /// Seconds from the beacon's answer that its block announced the epoch to the
    /// driver hearing of the last shard's switch block: the epoch switch across the
    /// cluster. Absent if some shard never switched.
    pub switch_s: Option<f64>,
    /// The same counted in blocks: the most blocks any shard committed from the
    /// beacon's answer to its switch block, that block included (1: it switched in
    /// the first block heard of after the announcement). A block interval is the
    /// shard's own pace, which a loaded machine stretches past `block_interval`.
    #[serde(default)]
    pub switch_blocks: Option<u32>,
    /// Unavailability of this epoch's accounts (ms): median and 99th percentile.
    pub unavailable_p50_ms: f64,
    /// …
    pub unavailable_p99_ms: f64,
    /// Accounts still held when the run ended (their move incomplete).
    pub still_moving: u64,
    /// Calls refused by an old shard, and receipts sent on, during the epoch.
    pub calls_refused: u64,
    /// …
    pub receipts_forwarded: u64,
    /// Seconds CLPA took to place.
    pub clpa_s: f64,
    /// Cross-shard share of the transactions that became final from this epoch's
    /// beginning to the next's (to the end of the load for the last), whole seconds;
    /// absent when none became final in that span (an epoch begun as the load ended).
    pub cross_shard_share: Option<f64>,
    /// The busiest shard's final transactions over the mean, over the same span.
    pub load_imbalance: Option<f64>,
}

/// A trace's rows and what became of them (`load::trace::Accounting`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TraceRows {
    /// Data rows read, every file.
    pub rows_read: u64,
    /// Replayable, by kind (`transfer`, `token`, `call`, `create`).
    pub replayable: BTreeMap<String, u64>,
    /// Not replayed, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// ERC-20 rows that replaced their transaction's contract call.
    pub erc20_joined: u64,
    /// Values above 2¹²⁸ − 1, replayed as that.
    pub values_saturated: u64,
}

/// The backlog: transactions in shard mempools plus those the driver held back for a
/// shard that was not taking them. A backlog that is still large when the load stops
/// means the offered load was above what the cluster could take: the drain then
/// absorbs it, so `pending` alone would not show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Backlog {
    /// Largest backlog of any one second (summed over shards).
    pub max: u64,
    /// The backlog when the load stopped.
    pub at_load_end: u64,
    /// Seconds from the end of the load until every transaction was final or
    /// rejected; absent if that never happened.
    pub drain_s: Option<f64>,
    /// Some shard's backlog at the end of the load exceeded two full blocks
    /// (2 × `cluster.max_block_txs`): it was offered more than it could take. Never
    /// set for `rate = "max"`, whose closed loop keeps the mempools full on purpose.
    pub exceeded_capacity: bool,
}

/// Recovery work, as the processes counted it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Recovery {
    /// Processes killed and started again (resuming from their stores).
    pub restarts: u64,
    /// Transactions the driver sent again to restarted shards.
    pub resubmitted: u64,
    /// Shard↔beacon link sessions started again (a lost connection or message).
    pub link_retries: u64,
    /// Header submissions shards sent again (not notarized in time).
    pub headers_retransmitted: u64,
    /// Submissions the beacon ignored: already had them.
    pub headers_duplicate: u64,
    /// Submissions the beacon ignored: one before them was missing.
    pub headers_out_of_order: u64,
    /// Deliveries that came out of order (a message before them lost) and were sent
    /// again.
    pub deliveries_out_of_order: u64,
}

/// Puts the run's figures together, with the verdict ([`crate::measure::verdict`]).
pub fn summarize(
    scenario: &Scenario,
    run_id: &str,
    tracker: &Tracker,
    status: &FinalStatus,
    audit: &Audit,
    end: &RunEnd,
) -> Summary {
    let window_s = end.window.1.saturating_sub(end.window.0) as f64 / 1e9;
    let verdict = crate::measure::verdict::judge(scenario, tracker, status, audit, end);
    let sum =
        |f: fn(&shardsim_proto::pb::ShardStatus) -> u64| status.shards.iter().map(f).sum::<u64>();
    let two_phase = scenario.cluster.protocol == crate::scenario::Protocol::TwoPhase;
    let (pending, lost) = (verdict.pending, verdict.lost);
    let latency = LatencySummary {
        intra: Percentiles::of(&tracker.latency.intra),
        cross: Percentiles::of(&tracker.latency.cross),
        all: Percentiles::of(&tracker.latency.all()),
    };
    let window = window_seconds(end.window);
    let per_shard = status
        .shards
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut committed = 0;
            let mut cross_committed = 0;
            let mut in_window = 0;
            let mut delayed_receipts_max = 0;
            let mut oldest_delayed_us = 0;
            for (sec, second) in tracker.seconds.iter().enumerate() {
                let c = second.shards[i];
                committed += c.final_total;
                cross_committed += c.final_cross;
                delayed_receipts_max = delayed_receipts_max.max(c.delayed_max);
                oldest_delayed_us = oldest_delayed_us.max(c.oldest_delayed_us);
                if window.contains(&(sec as u64)) {
                    in_window += c.final_total;
                }
            }
            ShardSummary {
                shard: s.shard,
                committed,
                cross_committed,
                rejected: s.rejected,
                tps: in_window as f64 / window.clone().count().max(1) as f64,
                height: s.height,
                state_root: s.state_root.iter().map(|b| format!("{b:02x}")).collect(),
                delayed_receipts_max,
                oldest_delayed_ms: oldest_delayed_us as f64 / 1000.0,
                dependency_ratio: tracker
                    .dependencies
                    .get(i)
                    .filter(|d| d.0 > 0)
                    .map(|&(executed, dependent)| dependent as f64 / executed as f64),
                reexecuted: tracker.reexecuted.get(i).copied().flatten(),
                fell_back_blocks: tracker.fell_back.get(i).copied().unwrap_or(0),
                undeclared_blocks: tracker.undeclared.get(i).copied().unwrap_or(0),
            }
        })
        .collect();

    Summary {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        run_id: run_id.to_string(),
        shards: scenario.cluster.shards,
        config: serde_json::to_value(scenario).unwrap_or(serde_json::Value::Null),
        submitted: tracker.submitted(),
        committed: tracker.finals(),
        rejected: tracker.rejections(),
        rejected_by_reason: tracker
            .rejected
            .iter()
            .map(|(&code, &n)| (reason_name(code), n))
            .collect(),
        pending,
        lost,
        // A run stopped before its warm-up ended measured nothing (and JSON has no NaN).
        tps: if window_s > 0.0 {
            tracker.window_final.0 as f64 / window_s
        } else {
            0.0
        },
        measured_window_s: window_s,
        drained: status.quiescent,
        partial: !end.failures.is_empty(),
        failures: end.failures.clone(),
        faults_observed: end.observed.clone(),
        programs: crate::measure::tracker::PROGRAMS
            .iter()
            .zip(tracker.per_program.iter().zip(&tracker.program_reasons))
            .zip(&tracker.program_gas)
            .filter(|((_, ((submitted, _, _), _)), _)| *submitted > 0)
            .map(
                |((name, (&(submitted, committed, rejected), reasons)), &gas)| {
                    (
                        name.to_string(),
                        ProgramCounts {
                            submitted,
                            committed,
                            rejected,
                            reasons: reasons
                                .iter()
                                .map(|(&code, &n)| (reason_name(code), n))
                                .collect(),
                            gas: (gas > 0).then_some(gas),
                            gas_per_tx: (gas > 0).then(|| gas as f64 / submitted as f64),
                        },
                    )
                },
            )
            .collect(),
        cross_shard: CrossShard {
            committed: tracker.final_cross,
            receipts_emitted: status.shards.iter().map(|s| receipts(s, true)).sum(),
            receipts_applied: status.shards.iter().map(|s| receipts(s, false)).sum(),
            deliveries_rejected: sum(|s| s.deliveries_rejected),
            duplicates_ignored: sum(|s| s.duplicates_ignored),
        },
        latency_ms: latency,
        per_shard,
        beacon: BeaconSummary {
            height: status.beacon.height,
            headers_rejected: status.beacon.headers_rejected,
            inflight_receipts: status.beacon.inflight_receipts,
        },
        security: Security {
            receipts_rejected: status.beacon.receipts_forged + status.beacon.receipts_replayed,
            receipts_forged: status.beacon.receipts_forged,
            receipts_replayed: status.beacon.receipts_replayed,
            headers_rejected: status.beacon.headers_rejected,
            deliveries_rejected: sum(|s| s.deliveries_rejected),
            votes_rejected: status.beacon.votes_late
                + status.beacon.votes_forged
                + status.beacon.votes_duplicate,
            votes_late: status.beacon.votes_late,
            votes_forged: status.beacon.votes_forged,
            votes_duplicate: status.beacon.votes_duplicate,
            equivocations_detected: honest_validators(status).map(|c| c.equivocations).sum(),
            wrong_roots_detected: honest_validators(status).map(|c| c.wrong_roots).sum(),
            forged_inputs_detected: honest_validators(status).map(|c| c.inputs_refused).sum(),
        },
        consensus: consensus_summary(scenario, tracker, status),
        two_phase: two_phase.then(|| {
            let aborts: u64 = tracker.tp_aborts.values().sum();
            TwoPhaseSummary {
                commits: tracker.tp_commits,
                aborts,
                aborts_by_reason: tracker
                    .tp_aborts
                    .iter()
                    .map(|(&code, &n)| (reason_name(code), n))
                    .collect(),
                abort_rate: aborts as f64 / (tracker.tp_commits + aborts).max(1) as f64,
                lock_wait_ms: Percentiles::of(&tracker.lock_wait),
                beacon_commits: status.beacon.tp_commits,
                beacon_aborts: status.beacon.tp_aborts,
            }
        }),
        mode: scenario.cluster.mode.name().into(),
        simulator: None,
        cpu_seconds: CpuSeconds::default(),
        gas: {
            let used: u64 = tracker
                .seconds
                .iter()
                .flat_map(|s| &s.shards)
                .map(|c| c.gas)
                .sum();
            let in_window: u64 = tracker
                .seconds
                .iter()
                .enumerate()
                .filter(|(sec, _)| window.contains(&(*sec as u64)))
                .flat_map(|(_, s)| &s.shards)
                .map(|c| c.gas)
                .sum();
            let finals = tracker.final_intra + tracker.final_cross;
            (used > 0).then(|| GasSummary {
                used,
                mgas_per_s: in_window as f64 / window.clone().count().max(1) as f64 / 1e6,
                per_tx: used as f64 / finals.max(1) as f64,
                receipts: used.saturating_sub(tracker.program_gas.iter().sum()),
                tx_p50: tracker.tx_gas.value_at_quantile(0.5),
                tx_p99: tracker.tx_gas.value_at_quantile(0.99),
                tx_max: tracker.tx_gas.max(),
            })
        },
        backlog: Backlog {
            max: tracker
                .seconds
                .iter()
                .map(|s| {
                    s.shards
                        .iter()
                        .map(|c| c.mempool_max + c.held_max)
                        .sum::<u64>()
                })
                .max()
                .unwrap_or(0),
            at_load_end: end.backlog_at_load_end.iter().sum(),
            drain_s: end.drain_s,
            // Closed loop (`max`) keeps the mempools full by design: not an overload.
            exceeded_capacity: scenario.workload.rate != crate::scenario::Rate::Max
                && end
                    .backlog_at_load_end
                    .iter()
                    .any(|&b| b > 2 * scenario.cluster.max_block_txs as u64),
        },
        faults: Vec::new(),
        recovery: Recovery {
            restarts: 0,
            resubmitted: 0,
            link_retries: sum(|s| s.link_retries),
            headers_retransmitted: sum(|s| s.headers_retransmitted),
            headers_duplicate: status.beacon.headers_duplicate,
            headers_out_of_order: status.beacon.headers_out_of_order,
            deliveries_out_of_order: sum(|s| s.deliveries_out_of_order),
        },
        traffic: None,
        invariants: verdict.invariants,
    }
}

/// Receipts a shard emitted (`outbound`) or applied, every asset together.
fn receipts(s: &shardsim_proto::pb::ShardStatus, outbound: bool) -> u64 {
    let pick = |out: &[shardsim_proto::pb::ChannelCounters],
                inb: &[shardsim_proto::pb::ChannelCounters]| {
        if outbound { out } else { inb }
            .iter()
            .map(|c| c.receipts)
            .sum::<u64>()
    };
    pick(&s.outbound, &s.inbound)
        + s.tokens
            .iter()
            .map(|t| pick(&t.outbound, &t.inbound))
            .sum::<u64>()
}
