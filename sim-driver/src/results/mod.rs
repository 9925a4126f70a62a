//! # Results: what a run leaves behind
//!
//! - [`summary`]: `summary.json`'s types and how the figures are put together.
//! - [`consensus`]: its `consensus` section, for committees.
//! - [`files`]: writing and reading `summary.json`, `timeseries.csv`, `latency-*.hlog`.
//! - [`tables`]: the summary printed as a table; two runs compared.
//! - [`sweep`]: a sweep's report (one row per point).
//!
//! May use what was measured ([`crate::measure`]); draws nothing.

pub mod consensus;
pub mod files;
pub mod summary;
pub mod sweep;
pub mod tables;

pub use consensus::{CommitteeSummary, ConsensusSummary};
pub use files::*;
pub use summary::*;
pub use tables::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::settle::FinalStatus;
    use crate::measure::tracker::Tracker;
    use crate::scenario::Scenario;
    use cross_shard::audit::Audit;
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
        let held = cross_shard::placement::digests_by_shard(
            &cross_shard::Placement::new(2).unwrap(),
            scenario.workload.accounts,
        );
        let shard = |shard: u32, n: u64, committed: u64, rejected: u64| pb::ShardStatus {
            shard,
            admitted: n,
            entered: n,
            committed,
            rejected,
            accounts_held: Some(held[shard as usize].0),
            accounts_digest: held[shard as usize].1.0.to_vec(),
            ..Default::default()
        };
        let status = FinalStatus {
            shards: vec![shard(0, 2, 2, 0), shard(1, 1, 0, 1)],
            validators: Vec::new(),
            names: vec!["shard-0".into(), "shard-1".into()],
            beacon: pb::BeaconStatus::default(),
            silent: Vec::new(),
            tolerated: Vec::new(),
            submitted: vec![Some((2, 2)), Some((1, 1))],
            held: vec![0, 0],
            quiescent: true,
        };
        let end = RunEnd {
            window: (0, 3_000_000_000),
            failures: Vec::new(),
            backlog_at_load_end: vec![0, 0],
            drain_s: Some(0.1),
            placement: cross_shard::Placement::new(2).unwrap(),
            migrations: Vec::new(),
            observed: Vec::new(),
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

    /// A committee member whose silence was ridden out may leave its submit stream
    /// unfinished: that is its fault, observed, not a failure of the run — unless the
    /// silence was not tolerated. Either way the table names it.
    #[test]
    fn a_tolerated_silence_is_named_not_failed() {
        let (sc, t, mut s, mut end) = agreeing();
        s.submitted[1] = None;
        let observed = crate::measure::observed::FaultObserved {
            who: "shard-1".into(),
            silent_since_s: 1.0,
            noticed_s: 4.0,
            how: "no events".into(),
            tolerated: true,
            back_s: None,
        };
        end.observed = vec![observed.clone()];
        let all = summarize(&sc, "r", &t, &s, &audit_ok(), &end);
        assert!(all.invariants.ok, "{:?}", all.invariants.violations);
        assert!(super::tables::table(&all).contains("fault observed"));
        end.observed = vec![crate::measure::observed::FaultObserved {
            tolerated: false,
            ..observed
        }];
        let inv = summary(&t, &s, &end, &sc);
        assert!(!inv.all_accounted, "an untolerated silence still fails");
    }

    /// An account on the wrong shard — or one shard missing an account — is named,
    /// however the two shards' totals look.
    #[test]
    fn an_account_where_the_placement_does_not_put_it_is_named() {
        let (sc, t, mut s, mut end) = agreeing();
        // Shard 1 reports the set of accounts shard 0 should hold.
        s.shards[1].accounts_digest = s.shards[0].accounts_digest.clone();
        let inv = summary(&t, &s, &end, &sc);
        assert!(!inv.one_shard_per_account && !inv.ok);
        assert!(
            inv.violations
                .iter()
                .any(|v| v.starts_with("shard 1 holds")),
            "{:?}",
            inv.violations
        );
        // A driver that places by a table the shards were not given: every shard is off.
        let (_, _, s, _) = agreeing();
        end.placement = cross_shard::Placement::with_table(2, vec![1; 500]).unwrap();
        let inv = summary(&t, &s, &end, &sc);
        assert!(!inv.one_shard_per_account, "{:?}", inv.violations);
        // A shard that does not say what it holds cannot pass.
        let (_, _, mut s, end) = agreeing();
        s.shards[0].accounts_held = None;
        assert!(!summary(&t, &s, &end, &sc).one_shard_per_account);
        // Holdings that agree at the end, but a move the shards reported wrong.
        let (_, _, s, mut end) = agreeing();
        end.migrations =
            vec!["epoch 1: account 3 (shard 0 → 1): let go by [], imported by [(1, 4)]".into()];
        let inv = summary(&t, &s, &end, &sc);
        assert!(!inv.one_shard_per_account && !inv.ok);
        assert!(
            inv.violations
                .iter()
                .any(|v| v.starts_with("migration: epoch 1"))
        );
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
