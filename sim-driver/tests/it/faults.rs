//! Injected faults in a real cluster: processes killed with SIGKILL and restarted from
//! their stores, and lossy, duplicating links — and nothing lost or applied twice.

use crate::run::run_json;

/// Asserts the invariants that faults must not break.
fn assert_nothing_lost(summary: &serde_json::Value) {
    let n = |k: &str| {
        summary[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k}: {summary:#}"))
    };
    assert_eq!(n("lost"), 0, "{summary:#}");
    assert_eq!(n("pending"), 0, "{summary:#}");
    assert_eq!(
        n("submitted"),
        n("committed") + n("rejected"),
        "{summary:#}"
    );
    for k in ["supply_conserved", "exactly_once", "all_accounted", "ok"] {
        assert_eq!(summary["invariants"][k], true, "{k}: {summary:#}");
    }
    let cross = &summary["cross_shard"];
    assert_eq!(
        cross["receipts_emitted"], cross["receipts_applied"],
        "{summary:#}"
    );
}

/// Runs a 2-shard, half cross-shard scenario of this `duration` with these faults,
/// and these lines added to its `[cluster]`.
fn run_faulty(
    name: &str,
    duration: &str,
    faults: &str,
    cluster: Option<&str>,
) -> serde_json::Value {
    let head = format!(
        "name = \"{name}\"\nseed = 21\nduration = \"{duration}\"\nwarmup = \"500ms\"\n[cluster]\n{}\n",
        cluster.unwrap_or_default()
    );
    run_json(
        name,
        &(head
            + r#"shards = 2
block_interval = "50ms"
beacon_interval = "50ms"
[workload]
accounts = 4000
rate = 3000
cross_shard = 0.5
"# + faults),
    )
}

/// Shard 1 killed at 1.5 s and the beacon at 3.5 s, each back 0.7 s later.
const KILL_SHARD_1_THEN_BEACON: &str = r#"
[[faults]]
at = "1500ms"
kill = "shard-1"
restart_after = "700ms"
[[faults]]
at = "3500ms"
kill = "beacon"
restart_after = "700ms"
"#;

#[test]
fn kill_9_of_a_shard_then_the_beacon_loses_nothing_and_applies_nothing_twice() {
    let summary = run_faulty("it-crash", "5s", KILL_SHARD_1_THEN_BEACON, None);
    assert_nothing_lost(&summary);
    // No transaction was refused for a nonce: the driver resent the lost mempool in
    // order, and nothing it resent had been applied already.
    assert_eq!(summary["rejected"], 0, "{summary:#}");
    let faults = summary["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 2);
    assert_eq!(faults[0]["fault"], "kill shard-1");
    assert!(
        faults[0]["resubmitted"].as_u64().unwrap() > 0,
        "{summary:#}"
    );
    for f in faults {
        assert!(
            f["ready_at_s"].as_f64() >= f["restarted_at_s"].as_f64(),
            "{f}"
        );
    }
    assert_eq!(summary["recovery"]["restarts"], 2);
    assert!(summary["recovery"]["link_retries"].as_u64().unwrap() > 0);
    // Both shards made blocks after the restarts: the chain went on from the store
    // (a shard that restarted from genesis would have been refused by the beacon).
    assert_eq!(summary["security"]["headers_rejected"], 0, "{summary:#}");
}

#[test]
fn a_lossy_duplicating_link_keeps_every_invariant() {
    let summary = run_faulty(
        "it-lossy",
        "4s",
        r#"
[[faults]]
at = "500ms"
link = "shard-1"
drop = 0.2
duplicate = 0.2
delay = "5ms"
duration = "3s"
"#,
        None,
    );
    assert_nothing_lost(&summary);
    let recovery = &summary["recovery"];
    let n = |k: &str| recovery[k].as_u64().unwrap();
    assert!(
        n("link_retries") > 0,
        "lost deliveries were noticed: {recovery}"
    );
    assert!(
        n("headers_duplicate") + n("headers_out_of_order") > 0,
        "the beacon saw duplicated or gapped headers: {recovery}"
    );
    assert!(
        summary["cross_shard"]["duplicates_ignored"]
            .as_u64()
            .unwrap()
            > 0,
        "duplicated deliveries were ignored: {summary:#}"
    );
    assert_eq!(
        summary["security"]["deliveries_rejected"], 0,
        "a lost message is not an attack"
    );
}

#[test]
fn two_phase_commit_survives_a_participant_crash_and_a_coordinator_crash() {
    // Shard 1 — the participant of half the cross-shard calls — dies and comes back,
    // then the beacon, the coordinator, does. Every lock, vote and decision is in a
    // store: the participant rebuilds its locks and reads the decisions it missed, the
    // coordinator its open transactions and their votes.
    let summary = run_faulty(
        "it-two-phase-crash",
        "5s",
        KILL_SHARD_1_THEN_BEACON,
        Some("protocol = \"two-phase\"\ndeadline = 4"),
    );
    assert_nothing_lost(&summary);
    assert_eq!(summary["invariants"]["atomic"], true, "{summary:#}");
    let tp = &summary["two_phase"];
    // While shard 1 was down, prepares sent to it could not be voted on: the
    // coordinator aborted them at their deadline, and their senders were refunded.
    assert!(
        tp["aborts_by_reason"]["timeout"].as_u64().unwrap() > 0,
        "{tp:#}"
    );
    assert!(tp["commits"].as_u64().unwrap() > 0, "{tp:#}");
    // The beacon's decisions are the shards' (each decided once on both sides).
    assert_eq!(tp["beacon_commits"], tp["commits"], "{tp:#}");
    assert_eq!(tp["beacon_aborts"], tp["aborts"], "{tp:#}");
    assert_eq!(summary["recovery"]["restarts"], 2);
    assert_eq!(summary["security"]["headers_rejected"], 0, "{summary:#}");
}
