//! Results: `summary.json`, `timeseries.csv`, `latency-*.hlog`, and the summary table.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use anyhow::Context;
use base64::Engine;
use cross_shard::RejectReason;
use cross_shard::audit::Audit;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::metrics::{Second, Tracker};
use crate::scenario::Scenario;

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

/// The invariants of DESIGN §4 checked at the end of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Invariants {
    /// Σ balances + Σ value in flight = genesis supply.
    pub supply_conserved: bool,
    /// No receipt applied twice; at quiescence every emitted receipt applied.
    pub exactly_once: bool,
    /// Every submitted transaction is committed, rejected or pending (`lost = 0`), and
    /// the driver's counts agree with the shards' own.
    pub all_accounted: bool,
    /// After the drain every transaction is final or rejected: nothing is stuck in a
    /// mempool, in a receipt on its way, in an open two-phase transaction, or held by
    /// the driver for a shard that stopped taking transactions.
    #[serde(default = "yes")]
    pub all_final: bool,
    /// Two-phase only: no transaction committed on one shard and aborted on the other,
    /// and no shard refused a decision as contradicting its vote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomic: Option<bool>,
    /// All of the above.
    pub ok: bool,
    /// What failed, one line each.
    pub violations: Vec<String>,
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
    /// Where the CPU time went.
    #[serde(default)]
    pub cpu_seconds: CpuSeconds,
    /// The faults injected (`[[faults]]`), when, and how the run recovered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::faults::FaultReport>,
    /// What the processes did to recover from crashes and faulty links.
    #[serde(default)]
    pub recovery: Recovery,
    /// Transactions waiting to be taken into blocks: how large the backlog grew.
    #[serde(default)]
    pub backlog: Backlog,
    /// The invariants.
    pub invariants: Invariants,
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

/// What the shards and the beacon reported at the end.
#[derive(Debug, Clone)]
pub struct FinalStatus {
    /// Each shard's status, index = shard id (all zero for a shard that did not
    /// answer: see `silent`).
    pub shards: Vec<shardsim_proto::pb::ShardStatus>,
    /// The beacon's status (all zero if it did not answer).
    pub beacon: shardsim_proto::pb::BeaconStatus,
    /// Processes that did not answer the final Status request: nothing they hold can
    /// be checked, so every invariant that needs them fails.
    pub silent: Vec<String>,
    /// Per shard, (sent, accepted): transactions the driver sent on the submit stream
    /// and the shard said it accepted; `None` when the stream did not end normally.
    pub submitted: Vec<Option<(u64, u64)>>,
    /// Per shard, transactions the driver still held for it, never sent (the shard
    /// had stopped reading).
    pub held: Vec<u64>,
    /// Whether nothing was left anywhere.
    pub quiescent: bool,
}

/// How the run ended, as the driver saw it.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// The window measured, ns since start: [warm-up end, planned end), or shorter
    /// when the load stopped early.
    pub window: (u64, u64),
    /// Why the run could not finish (a process died or went silent, a stream broke).
    pub failures: Vec<String>,
    /// Per shard, the backlog (mempool + held by the driver) when the load stopped.
    pub backlog_at_load_end: Vec<u64>,
    /// Seconds from the end of the load until nothing was unresolved (`None`: never).
    pub drain_s: Option<f64>,
}

/// Default of fields added to summary.json later: older runs did not check them.
fn yes() -> bool {
    true
}

/// Puts the run's figures together and checks the invariants.
pub fn summarize(
    scenario: &Scenario,
    run_id: &str,
    tracker: &Tracker,
    status: &FinalStatus,
    audit: &Audit,
    end: &RunEnd,
) -> Summary {
    let window_s = end.window.1.saturating_sub(end.window.0) as f64 / 1e9;
    let mut violations: Vec<String> = end.failures.clone();
    for p in &status.silent {
        violations.push(format!(
            "{p} did not answer the final Status request: its balances, receipts and counters cannot be checked"
        ));
    }
    violations.extend(audit.violations.iter().cloned());

    // All accounted: unresolved transactions must be visibly pending somewhere, and the
    // driver's view must match each shard's own counters.
    let unresolved = tracker.unresolved();
    let in_system: u64 = status
        .shards
        .iter()
        .map(|s| s.mempool_len + s.inbound_queued)
        .sum::<u64>()
        + u64::try_from(audit.in_flight_receipts).unwrap_or(u64::MAX)
        + status.beacon.tp_open
        + tracker.half_decided() as u64;
    let held: u64 = status.held.iter().sum();
    // With a silent process what it holds is unknown: nothing can be called lost, and
    // the comparisons with its counters below are skipped (the silence itself already
    // fails the run and is named above).
    let heard_all = status.silent.is_empty();
    let pending = if heard_all {
        unresolved.min(in_system + held)
    } else {
        unresolved
    };
    let lost = unresolved - pending;
    let all_final = unresolved == 0;
    if !all_final {
        violations.push(stuck(unresolved, status, audit, tracker, held));
    }
    // What `all_accounted` found, apart from the other invariants' lines.
    let mut accounting = Vec::new();
    if lost > 0 {
        accounting.push(format!(
            "{lost} transactions are neither final, rejected nor pending"
        ));
    }
    let sum =
        |f: fn(&shardsim_proto::pb::ShardStatus) -> u64| status.shards.iter().map(f).sum::<u64>();
    let shard_committed = sum(|s| s.committed);
    let shard_rejected = sum(|s| s.rejected);
    if heard_all && shard_committed != tracker.final_intra {
        accounting.push(format!(
            "shards committed {shard_committed} intra-shard transfers, the driver saw {}",
            tracker.final_intra
        ));
    }
    if heard_all && shard_rejected != tracker.rejections() {
        accounting.push(format!(
            "shards rejected {shard_rejected} transactions, the driver saw {}",
            tracker.rejections()
        ));
    }
    if tracker.duplicate_finals > 0 {
        accounting.push(format!(
            "{} events named a transaction already final or unknown",
            tracker.duplicate_finals
        ));
    }
    // Inside each shard, from two of its own sources: the stream handler's count of
    // what it read, against what its blocks took in and what still waits. And the
    // outcomes its events gave the driver, against what its blocks took in.
    for (k, s) in status.shards.iter().enumerate() {
        if !heard_all {
            break;
        }
        if s.admitted != s.entered + s.mempool_len {
            accounting.push(format!(
                "shard {k} read {} transactions off its submit streams, but {} entered its blocks and {} wait for one",
                s.admitted, s.entered, s.mempool_len
            ));
        }
        let reported = tracker.home_outcomes.get(k).copied().unwrap_or(0);
        if reported != s.entered {
            accounting.push(format!(
                "shard {k}'s blocks took in {} transactions, but its events reported an outcome for {reported}",
                s.entered
            ));
        }
    }
    for (shard, submitted) in status.submitted.iter().enumerate() {
        match submitted {
            Some((sent, accepted)) if sent != accepted => accounting.push(format!(
                "shard {shard} accepted {accepted} of the {sent} transactions sent to it"
            )),
            Some(_) => {}
            None => accounting.push(format!(
                "the submit stream of shard {shard} did not end normally: what it accepted is unknown"
            )),
        }
    }
    let all_accounted = accounting.is_empty() && heard_all && end.failures.is_empty();
    violations.extend(accounting);
    let two_phase = scenario.cluster.protocol == crate::scenario::Protocol::TwoPhase;
    let refused = sum(|s| s.decisions_refused);
    let atomic = two_phase.then_some(tracker.atomic_violations == 0 && refused == 0);
    if atomic == Some(false) {
        violations.push(format!(
            "atomicity: {} transactions committed on one shard and aborted on the other; {refused} decisions refused by shards",
            tracker.atomic_violations
        ));
    }
    let exactly_once = audit.exactly_once && tracker.duplicate_finals == 0 && heard_all;
    let supply_conserved = audit.supply_conserved && heard_all;

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
        programs: crate::metrics::PROGRAMS
            .iter()
            .zip(tracker.per_program.iter().zip(&tracker.program_reasons))
            .filter(|(_, ((submitted, _, _), _))| *submitted > 0)
            .map(|(name, (&(submitted, committed, rejected), reasons))| {
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
                    },
                )
            })
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
        },
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
        cpu_seconds: CpuSeconds::default(),
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
        invariants: Invariants {
            supply_conserved,
            exactly_once,
            all_accounted,
            all_final,
            atomic,
            ok: supply_conserved
                && exactly_once
                && all_accounted
                && all_final
                && atomic != Some(false)
                && end.failures.is_empty()
                && violations.is_empty(),
            violations,
        },
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

/// The whole seconds (since start) inside the measured window of a scenario.
pub fn window_bounds(scenario: &Scenario) -> std::ops::Range<u64> {
    window_seconds((
        scenario.warmup.as_nanos() as u64,
        (scenario.warmup + scenario.duration).as_nanos() as u64,
    ))
}

/// The whole seconds inside the window [start, end) ns (at least one).
pub fn window_seconds((start, end): (u64, u64)) -> std::ops::Range<u64> {
    let start = start.div_ceil(1_000_000_000);
    let end = end / 1_000_000_000;
    start..end.max(start + 1)
}

/// Where the transactions that are not final after the drain are: the line of the
/// `all_final` violation.
fn stuck(
    unresolved: u64,
    status: &FinalStatus,
    audit: &Audit,
    tracker: &Tracker,
    held: u64,
) -> String {
    let mut places = Vec::new();
    let mempools: Vec<String> = status
        .shards
        .iter()
        .filter(|s| s.mempool_len > 0)
        .map(|s| format!("shard {}: {}", s.shard, s.mempool_len))
        .collect();
    if !mempools.is_empty() {
        places.push(format!("in mempools ({})", mempools.join(", ")));
    }
    let queued: u64 = status.shards.iter().map(|s| s.inbound_queued).sum();
    if queued > 0 {
        places.push(format!("{queued} receipts verified and queued"));
    }
    if !audit.in_flight_channels.is_empty() {
        places.push(format!(
            "receipts in flight ({})",
            audit
                .in_flight_channels
                .iter()
                .map(|(src, dst, n)| format!("{src}→{dst}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let open = status.beacon.tp_open + tracker.half_decided() as u64;
    if open > 0 {
        places.push(format!(
            "{open} two-phase transactions undecided or half-applied"
        ));
    }
    if held > 0 {
        let per: Vec<String> = status
            .held
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(k, n)| format!("shard {k}: {n}"))
            .collect();
        places.push(format!(
            "held by the driver, never sent ({})",
            per.join(", ")
        ));
    }
    if !status.silent.is_empty() {
        places.push(format!("unknown at {}", status.silent.join(", ")));
    }
    if places.is_empty() {
        places.push("nowhere the processes report: lost".into());
    }
    format!(
        "all final: {unresolved} transactions are neither final nor rejected after the drain: {}",
        places.join("; ")
    )
}

/// Writes `summary.json`.
pub fn write_summary(dir: &Path, summary: &Summary) -> anyhow::Result<()> {
    let path = dir.join("summary.json");
    let text = serde_json::to_string_pretty(summary)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// The header of `timeseries.csv`.
pub const TIMESERIES_HEADER: &str = "second,shard,final,final_cross,rejected,receipts_emitted,receipts_applied,delayed_receipts_max,oldest_delayed_us,aborts,mempool_max,driver_held_max";

/// Writes `timeseries.csv`: one row per second and shard.
pub fn write_timeseries(dir: &Path, seconds: &[Second]) -> anyhow::Result<()> {
    let path = dir.join("timeseries.csv");
    let mut out = format!("{TIMESERIES_HEADER}\n");
    for (sec, s) in seconds.iter().enumerate() {
        for (shard, c) in s.shards.iter().enumerate() {
            out.push_str(&format!(
                "{sec},{shard},{},{},{},{},{},{},{},{},{},{}\n",
                c.final_total,
                c.final_cross,
                c.rejected,
                c.receipts_emitted,
                c.receipts_applied,
                c.delayed_max,
                c.oldest_delayed_us,
                c.aborts,
                c.mempool_max,
                c.held_max
            ));
        }
    }
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))
}

/// The tag of the interval that holds exactly the summary's latency population.
pub const MEASURED_TAG: &str = "measured";

/// Writes `latency-intra.hlog` and `latency-cross.hlog` in the HdrHistogram interval
/// log format (version 1.3, as HdrHistogram's own writers and readers use it):
///
/// ```text
///  #[Histogram log format version 1.3]
///  #[StartTime: 1764600278.000 (seconds since epoch), 2026-12-01T14:44:38Z]
///  #[BaseTime: 1764600278.000 (seconds since epoch)]
///  "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
///  0.000,1.000,12.345,HISTFAAA…                 one untagged interval per second:
///  1.000,1.000,11.002,HISTFAAA…                 every transaction final in it
///  Tag=measured,2.000,10.000,48.100,HISTFAAA…   the summary's population: every
///                                               transaction *sent* in the window
/// ```
///
/// Values are microseconds; `Interval_Max` is in milliseconds (µs / 1000), as the
/// `MaxValueDivisor` comment says. Readers that process untagged intervals by default
/// (HdrHistogram's `HistogramLogProcessor`) see the run second by second; the
/// `measured` interval reproduces `summary.json`'s `latency_ms` exactly.
pub fn write_hlogs(dir: &Path, started: SystemTime, tracker: &Tracker) -> anyhow::Result<()> {
    type Pick = fn(&Second) -> &Histogram<u64>;
    let epoch = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let date = humantime::format_rfc3339_seconds(started);
    let (w0, w1) = tracker.window();
    let ns_s = |ns: u64| ns as f64 / 1e9;
    for (kind, pick, measured) in [
        (
            "intra",
            (|s: &Second| &s.intra) as Pick,
            &tracker.latency.intra,
        ),
        (
            "cross",
            (|s: &Second| &s.cross) as Pick,
            &tracker.latency.cross,
        ),
    ] {
        let path = dir.join(format!("latency-{kind}.hlog"));
        let mut out = format!(
            "#[{kind}-shard latency in microseconds, written by shardsim {}]\n\
             #[Untagged intervals: one per second, the transactions final in it. Tag={MEASURED_TAG}: the measured window, by intended send time, as in summary.json]\n\
             #[Histogram log format version 1.3]\n\
             #[StartTime: {epoch:.3} (seconds since epoch), {date}]\n\
             #[BaseTime: {epoch:.3} (seconds since epoch)]\n\
             #[MaxValueDivisor: 1000.000]\n\
             \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
            env!("CARGO_PKG_VERSION")
        );
        let mut line = |tag: Option<&str>, start: f64, length: f64, h: &Histogram<u64>| {
            let encoded =
                encode(h).map_err(|e| anyhow::anyhow!("encoding {}: {e}", path.display()))?;
            if let Some(tag) = tag {
                out.push_str(&format!("Tag={tag},"));
            }
            out.push_str(&format!(
                "{start:.3},{length:.3},{:.3},{encoded}\n",
                h.max() as f64 / 1000.0
            ));
            anyhow::Ok(())
        };
        for (sec, s) in tracker.seconds.iter().enumerate() {
            line(None, sec as f64, 1.0, pick(s))?;
        }
        line(
            Some(MEASURED_TAG),
            ns_s(w0),
            ns_s(w1.saturating_sub(w0)),
            measured,
        )?;
        std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// One histogram as the log stores it: V2 with DEFLATE, in base64.
fn encode(h: &Histogram<u64>) -> Result<String, String> {
    let mut raw = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut raw)
        .map_err(|e| format!("{e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(raw))
}

/// The summary as a table for the terminal.
pub fn table(s: &Summary) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("  {k:<22} {v}\n"));
    line(
        &mut out,
        "scenario",
        format!("{} (seed {}, {} shards)", s.scenario, s.seed, s.shards),
    );
    if s.partial {
        line(
            &mut out,
            "PARTIAL",
            if s.failures.is_empty() {
                "interrupted before the planned end; the figures cover what ran".into()
            } else {
                "the run could not finish; the figures cover what ran".into()
            },
        );
    }
    for f in &s.failures {
        line(&mut out, "FAILURE", f.clone());
    }
    line(
        &mut out,
        "throughput",
        format!("{:.0} tx/s final over {:.1} s", s.tps, s.measured_window_s),
    );
    line(
        &mut out,
        "transactions",
        format!(
            "{} submitted · {} final ({} cross-shard) · {} rejected · {} pending · {} lost",
            s.submitted, s.committed, s.cross_shard.committed, s.rejected, s.pending, s.lost
        ),
    );
    out.push_str(&format!(
        "  {:<22} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "latency (ms)", "p50", "p90", "p99", "p99.9", "max"
    ));
    for (k, p) in [
        ("  intra-shard", &s.latency_ms.intra),
        ("  cross-shard", &s.latency_ms.cross),
        ("  all", &s.latency_ms.all),
    ] {
        out.push_str(&format!(
            "  {k:<22} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}\n",
            p.p50, p.p90, p.p99, p.p999, p.max
        ));
    }
    for sh in &s.per_shard {
        line(
            &mut out,
            &format!("shard {}", sh.shard),
            format!(
                "{:.0} tx/s · {} blocks · {} rejected",
                sh.tps, sh.height, sh.rejected
            ),
        );
    }
    if let Some(tp) = &s.two_phase {
        let reasons: Vec<String> = tp
            .aborts_by_reason
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        line(
            &mut out,
            "two-phase",
            format!(
                "{} commits · {} aborts ({:.1}%{}) · lock wait p50 {:.0} ms, p99 {:.0} ms ({} waited)",
                tp.commits,
                tp.aborts,
                tp.abort_rate * 100.0,
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(": {}", reasons.join(", "))
                },
                tp.lock_wait_ms.p50,
                tp.lock_wait_ms.p99,
                tp.lock_wait_ms.count
            ),
        );
    }
    let sec = &s.security;
    if sec.votes_rejected > 0 {
        line(
            &mut out,
            "votes refused",
            format!(
                "{} late · {} forged · {} duplicate",
                sec.votes_late, sec.votes_forged, sec.votes_duplicate
            ),
        );
    }
    if sec.receipts_rejected + sec.headers_rejected + sec.deliveries_rejected > 0 {
        line(
            &mut out,
            "refused",
            format!(
                "{} forged + {} replayed receipts · {} headers · {} deliveries",
                sec.receipts_forged,
                sec.receipts_replayed,
                sec.headers_rejected,
                sec.deliveries_rejected
            ),
        );
    }
    let b = &s.backlog;
    if b.exceeded_capacity {
        line(
            &mut out,
            "backlog",
            format!(
                "offered load exceeded capacity: {} transactions waiting when the load stopped (largest {}), drained in {}",
                b.at_load_end,
                b.max,
                b.drain_s
                    .map_or_else(|| "— never".to_string(), |d| format!("{d:.1} s"))
            ),
        );
    }
    for f in &s.faults {
        let mut what = format!("{} at {:.1} s", f.fault, f.at_s);
        if let Some(n) = f.resubmitted {
            what.push_str(&format!(" · {n} resent"));
        }
        match (f.restarted_at_s, f.recovery_s) {
            (Some(_), Some(r)) => what.push_str(&format!(" · recovered {r:.1} s after restart")),
            (Some(_), None) => what.push_str(" · throughput not back within 10% before the end"),
            (None, _) => {}
        }
        line(&mut out, "fault", what);
    }
    let r = &s.recovery;
    if !s.faults.is_empty() {
        line(
            &mut out,
            "recovery",
            format!(
                "{} restarts · {} link retries · {} headers resent ({} duplicate, {} out of order at the beacon) · {} deliveries out of order",
                r.restarts,
                r.link_retries,
                r.headers_retransmitted,
                r.headers_duplicate,
                r.headers_out_of_order,
                r.deliveries_out_of_order
            ),
        );
    }
    let cpu = &s.cpu_seconds;
    if cpu.wall > 0.0 {
        line(
            &mut out,
            "cpu (s)",
            format!(
                "driver {:.1} · beacon {:.1} · shards {:.1} over {:.1} s wall",
                cpu.driver,
                cpu.beacon,
                cpu.shards.iter().sum::<f64>(),
                cpu.wall
            ),
        );
    }
    let verdict = |b: bool| if b { "ok" } else { "FAILED" };
    line(
        &mut out,
        "invariants",
        format!(
            "supply {} · exactly-once {} · accounted {} · all final {}",
            verdict(s.invariants.supply_conserved),
            verdict(s.invariants.exactly_once),
            verdict(s.invariants.all_accounted),
            verdict(s.invariants.all_final)
        ),
    );
    for v in &s.invariants.violations {
        out.push_str(&format!("    ✗ {v}\n"));
    }
    out
}

/// Two summaries side by side, with the change from `a` to `b`.
pub fn compare_table(a: &Summary, b: &Summary, a_name: &str, b_name: &str) -> String {
    let mut out = format!(
        "  {:<24} {:>14} {:>14} {:>10}\n",
        "", a_name, b_name, "change"
    );
    let mut row = |k: &str, x: f64, y: f64, decimals: usize| {
        let change = if x == 0.0 {
            if y == 0.0 {
                "=".to_string()
            } else {
                "new".to_string()
            }
        } else {
            format!("{:+.1}%", (y - x) / x * 100.0)
        };
        out.push_str(&format!(
            "  {k:<24} {x:>14.decimals$} {y:>14.decimals$} {change:>10}\n"
        ));
    };
    row("shards", f64::from(a.shards), f64::from(b.shards), 0);
    row("throughput (tx/s)", a.tps, b.tps, 0);
    row("committed", a.committed as f64, b.committed as f64, 0);
    row(
        "cross-shard committed",
        a.cross_shard.committed as f64,
        b.cross_shard.committed as f64,
        0,
    );
    row("rejected", a.rejected as f64, b.rejected as f64, 0);
    row("lost", a.lost as f64, b.lost as f64, 0);
    for (class, pa, pb) in [
        ("intra", &a.latency_ms.intra, &b.latency_ms.intra),
        ("cross", &a.latency_ms.cross, &b.latency_ms.cross),
        ("all", &a.latency_ms.all, &b.latency_ms.all),
    ] {
        row(&format!("{class} p50 (ms)"), pa.p50, pb.p50, 1);
        row(&format!("{class} p99 (ms)"), pa.p99, pb.p99, 1);
        row(&format!("{class} p99.9 (ms)"), pa.p999, pb.p999, 1);
    }
    let ok = |s: &Summary| if s.invariants.ok { "ok" } else { "FAILED" };
    out.push_str(&format!(
        "  {:<24} {:>14} {:>14}\n",
        "invariants",
        ok(a),
        ok(b)
    ));
    out
}

/// Reads a run's `summary.json` (given the run folder or the file itself).
pub fn read_summary(path: &Path) -> anyhow::Result<Summary> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardsim_proto::pb;

    const SCENARIO: &str = r#"
name = "t"
duration = "3s"

[cluster]
shards = 2

[workload]
accounts = 1000
rate = "max"
"#;

    /// A finished 2-shard run in which shard 0 committed transactions 0 and 1 and
    /// shard 1 rejected transaction 2: every figure agrees.
    fn agreeing() -> (Scenario, Tracker, FinalStatus, RunEnd) {
        let scenario = Scenario::from_toml(SCENARIO, "t.toml").unwrap();
        let mut tracker = Tracker::new(2, (0, 3_000_000_000));
        tracker.dispatched(0, &[0, 0, 0], &[]);
        tracker.events(
            1_000,
            &pb::BlockEvents {
                shard: 0,
                height: 1,
                committed: vec![0, 1],
                ..Default::default()
            },
        );
        tracker.events(
            1_000,
            &pb::BlockEvents {
                shard: 1,
                height: 1,
                rejected: vec![2],
                rejected_reason: vec![cross_shard::RejectReason::BadNonce.code()],
                ..Default::default()
            },
        );
        let shard = |shard: u32, n: u64, committed: u64, rejected: u64| pb::ShardStatus {
            shard,
            admitted: n,
            entered: n,
            committed,
            rejected,
            ..Default::default()
        };
        let status = FinalStatus {
            shards: vec![shard(0, 2, 2, 0), shard(1, 1, 0, 1)],
            beacon: pb::BeaconStatus::default(),
            silent: Vec::new(),
            submitted: vec![Some((2, 2)), Some((1, 1))],
            held: vec![0, 0],
            quiescent: true,
        };
        let end = RunEnd {
            window: (0, 3_000_000_000),
            failures: Vec::new(),
            backlog_at_load_end: vec![0, 0],
            drain_s: Some(0.1),
        };
        (scenario, tracker, status, end)
    }

    fn audit_ok() -> Audit {
        Audit {
            supply_conserved: true,
            exactly_once: true,
            ..Audit::default()
        }
    }

    fn summary(t: &Tracker, s: &FinalStatus, end: &RunEnd, sc: &Scenario) -> Invariants {
        summarize(sc, "r", t, s, &audit_ok(), end).invariants
    }

    #[test]
    fn agreeing_sources_pass() {
        let (sc, t, s, end) = agreeing();
        let inv = summary(&t, &s, &end, &sc);
        assert!(inv.ok && inv.all_accounted, "{:?}", inv.violations);
    }

    /// A shard whose blocks took in a transaction its events never reported (its
    /// counters agree with its events; only the count from the block inputs does not).
    #[test]
    fn an_outcome_missing_from_the_events_is_named() {
        let (sc, t, mut s, end) = agreeing();
        s.shards[0].admitted = 3;
        s.shards[0].entered = 3;
        let inv = summary(&t, &s, &end, &sc);
        assert!(!inv.all_accounted && !inv.ok);
        assert!(
            inv.violations.iter().any(|v| v
                == "shard 0's blocks took in 3 transactions, but its events reported an outcome for 2"),
            "{:?}",
            inv.violations
        );
    }

    /// A shard that read a transaction off its stream that neither entered a block nor
    /// waits for one: lost inside the shard.
    #[test]
    fn a_transaction_lost_inside_a_shard_is_named() {
        let (sc, t, mut s, end) = agreeing();
        s.shards[1].admitted = 2;
        let inv = summary(&t, &s, &end, &sc);
        assert!(!inv.all_accounted);
        assert!(
            inv.violations.iter().any(|v| v
                == "shard 1 read 2 transactions off its submit streams, but 1 entered its blocks and 0 wait for one"),
            "{:?}",
            inv.violations
        );
    }
}
