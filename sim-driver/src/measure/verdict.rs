//! The verdict: every invariant of a run decided in one place, from the sources
//! docs/architecture.md names — the tracker, the final statuses (with each shard's
//! recount), the audit of the channels, and how the run ended.

use cross_shard::audit::Audit;
use serde::{Deserialize, Serialize};

use crate::measure::settle::FinalStatus;
use crate::measure::tracker::Tracker;
use crate::scenario::Scenario;

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
    /// Committees only: at the end, the honest validators of each shard hold the same
    /// committed chain (height → block hash and state root), each from its own
    /// Status ([`crate::measure::agreement`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus_safe: Option<bool>,
    /// Every account lives on exactly one shard: each shard's ledger holds exactly the
    /// accounts the driver's placement puts there, counted and hashed by the shard
    /// from its own ledger and by the driver from its placement.
    #[serde(default = "yes")]
    pub one_shard_per_account: bool,
    /// All of the above.
    pub ok: bool,
    /// What failed, one line each.
    pub violations: Vec<String>,
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
    /// Where the driver placed the accounts (hash, a partition's table, or CLPA's last
    /// directory).
    pub placement: cross_shard::Placement,
    /// Under CLPA: what the shards' reports of each move show wrong
    /// ([`crate::load::moving::Moving::audit`]); empty otherwise.
    pub migrations: Vec<String>,
    /// Silences observed during the run and at its end (`measure::observed`): those
    /// tolerated are named, not failed.
    pub observed: Vec<crate::measure::observed::FaultObserved>,
}

/// Default of fields added to summary.json later: older runs did not check them.
fn yes() -> bool {
    true
}

/// The invariants, and the counts the summary shows beside them.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Every invariant, with what failed.
    pub invariants: Invariants,
    /// Unresolved transactions visibly somewhere in the system.
    pub pending: u64,
    /// Unresolved transactions nowhere to be found.
    pub lost: u64,
}

/// Decides every invariant of a finished (or failed) run.
pub fn judge(
    scenario: &Scenario,
    tracker: &Tracker,
    status: &FinalStatus,
    audit: &Audit,
    end: &RunEnd,
) -> Verdict {
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
    // A committee member silent in a tolerated fault may not have read its stream to
    // the end: its committee's answers stand for it.
    let tolerated = |name: &str| {
        status.tolerated.iter().any(|t| t == name)
            || crate::measure::observed::rode_out(&end.observed, name)
    };
    for (slot, submitted) in status.submitted.iter().enumerate() {
        let name = status.names.get(slot).map_or("?", String::as_str);
        match submitted {
            None if tolerated(name) => {}
            Some((sent, accepted)) if sent != accepted => accounting.push(format!(
                "{name} accepted {accepted} of the {sent} transactions sent to it"
            )),
            Some(_) => {}
            None => accounting.push(format!(
                "the submit stream of {name} did not end normally: what it accepted is unknown"
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
    let committees = scenario.cluster.validators as usize;
    let consensus_safe = (committees > 1).then(|| {
        let found =
            crate::measure::agreement::disagreements(&status.validators, &status.names, committees);
        let safe = found.is_empty() && heard_all;
        violations.extend(found.into_iter().map(|f| format!("consensus: {f}")));
        safe
    });
    let placed = placed_as_planned(scenario, status, &end.placement);
    let one_shard_per_account = placed.is_empty() && end.migrations.is_empty() && heard_all;
    violations.extend(placed);
    violations.extend(end.migrations.iter().map(|m| format!("migration: {m}")));
    let exactly_once = audit.exactly_once && tracker.duplicate_finals == 0 && heard_all;
    let supply_conserved = audit.supply_conserved && heard_all;
    let invariants = Invariants {
        supply_conserved,
        exactly_once,
        all_accounted,
        all_final,
        atomic,
        consensus_safe,
        one_shard_per_account,
        ok: supply_conserved
            && one_shard_per_account
            && exactly_once
            && all_accounted
            && all_final
            && atomic != Some(false)
            && consensus_safe != Some(false)
            && end.failures.is_empty()
            && violations.is_empty(),
        violations,
    };
    Verdict {
        invariants,
        pending,
        lost,
    }
}

/// `one_shard_per_account`: each shard's own count and hash of the accounts its ledger
/// holds, against the driver's placement of `0..accounts` — so an account on two
/// shards, on none, or on another than the driver sends its transactions to is named.
fn placed_as_planned(
    scenario: &Scenario,
    status: &FinalStatus,
    placement: &cross_shard::Placement,
) -> Vec<String> {
    let planned = cross_shard::placement::digests_by_shard(placement, scenario.workload.accounts);
    let mut found = Vec::new();
    for (k, s) in status.shards.iter().enumerate() {
        let Some(&(count, digest)) = planned.get(k) else {
            continue;
        };
        match s.accounts_held {
            None => found.push(format!(
                "shard {k} did not report the accounts it holds: where accounts live is unchecked"
            )),
            Some(held) if held != count || s.accounts_digest != digest.0 => found.push(format!(
                "shard {k} holds {held} accounts, the placement puts {count} there{}",
                if held == count {
                    " (the same number, not the same accounts)"
                } else {
                    ""
                }
            )),
            Some(_) => {}
        }
    }
    found
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
