//! The audit of every asset: each shard's recounted balances and channel counters
//! against the genesis supply (see `cross_shard::audit`), the native coin and each
//! token separately, folded into one verdict whose lines name the asset.

use cross_shard::audit::{self, Audit, ChannelCount, ShardLedger};
use cross_shard::ids::pool_token;
use shardsim_proto::pb;

use crate::cluster::INITIAL_BALANCE;
use crate::measure::settle::FinalStatus;
use crate::scenario::Scenario;

/// Audits the native coin and every token separately (each has its own supply and
/// its own receipt value), and folds the verdicts into one: violations name the asset.
pub fn audit_every_asset(scenario: &Scenario, status: &FinalStatus) -> Audit {
    if !status.silent.is_empty() {
        // A silent process's balances and channel counters are unknown: neither
        // invariant can be checked, so both fail (the summary names the process)
        // rather than being judged from figures that were never reported.
        return Audit::default();
    }
    // Every account's balance, plus each pool's reserve of the asset: every pool holds
    // the native coin, and token t in the pools that trade it.
    let accounts = u128::from(scenario.workload.accounts) * u128::from(INITIAL_BALANCE);
    let reserve = u128::from(cross_shard::amm::POOL_RESERVE);
    let genesis_of = |asset: u32| {
        let pools = (0..scenario.pools())
            .filter(|&p| asset == 0 || pool_token(p, scenario.workload.tokens) == asset)
            .count();
        accounts + reserve * pools as u128
    };
    let genesis = genesis_of(0);
    let counts = |v: &[pb::ChannelCounters]| {
        v.iter()
            .map(|c| ChannelCount {
                peer: c.peer,
                receipts: c.receipts,
                value: c.value,
            })
            .collect()
    };
    // Supply is judged from each shard's recount of its state, and the running total
    // it keeps per write must agree with it: two sources for every balance figure.
    let mut disagreements = Vec::new();
    let mut recounted = |shard: u32, asset: u32, running: u64, recount: Option<u64>| {
        let label = if asset == 0 {
            format!("shard {shard}")
        } else {
            format!("token {asset}: shard {shard}")
        };
        match recount {
            Some(r) if r == running => {}
            Some(r) => disagreements.push(format!(
                "{label}: its running balance total is {running}, a recount of its state gives {r}"
            )),
            None => disagreements.push(format!("{label}: sent no recount of its state")),
        }
        recount.unwrap_or(running)
    };
    let native: Vec<ShardLedger> = status
        .shards
        .iter()
        .map(|s| ShardLedger {
            shard: s.shard,
            balance_total: recounted(s.shard, 0, s.balance_total, s.balance_recount),
            locked: s.locked,
            outbound: counts(&s.outbound),
            inbound: counts(&s.inbound),
        })
        .collect();
    // The run is over: a receipt not applied by now is stuck or lost, whether or not
    // the cluster went quiet.
    let mut total = audit::audit(genesis, &native, true);
    for token in 1..=scenario.workload.tokens {
        let ledgers: Vec<ShardLedger> = status
            .shards
            .iter()
            .map(|s| {
                let t = s.tokens.iter().find(|t| t.asset == token);
                ShardLedger {
                    shard: s.shard,
                    balance_total: recounted(
                        s.shard,
                        token,
                        t.map_or(0, |t| t.balance_total),
                        t.and_then(|t| t.balance_recount),
                    ),
                    locked: t.map_or(0, |t| t.locked),
                    outbound: t.map_or_else(Vec::new, |t| counts(&t.outbound)),
                    inbound: t.map_or_else(Vec::new, |t| counts(&t.inbound)),
                }
            })
            .collect();
        let a = audit::audit(genesis_of(token), &ledgers, true);
        total.supply_conserved &= a.supply_conserved;
        total.exactly_once &= a.exactly_once;
        total.in_flight_receipts += a.in_flight_receipts;
        total.in_flight_channels.extend(a.in_flight_channels);
        total.violations.extend(
            a.violations
                .into_iter()
                .map(|v| format!("token {token}: {v}")),
        );
    }
    if !disagreements.is_empty() {
        total.supply_conserved = false;
        total.violations.extend(disagreements);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two shards of 10 accounts each at genesis, with the recount `recount` on shard 0.
    fn status(recount: Option<u64>) -> (Scenario, FinalStatus) {
        let scenario = Scenario::from_toml(
            "name = \"t\"\nduration = \"1s\"\n[cluster]\nshards = 2\n[workload]\naccounts = 20\nrate = \"max\"\n",
            "t.toml",
        )
        .unwrap();
        let each = 10 * INITIAL_BALANCE;
        let shard = |shard: u32, recount: Option<u64>| pb::ShardStatus {
            shard,
            balance_total: each,
            balance_recount: recount,
            ..Default::default()
        };
        let status = FinalStatus {
            shards: vec![shard(0, recount), shard(1, Some(each))],
            validators: Vec::new(),
            names: vec!["shard-0".into(), "shard-1".into()],
            beacon: pb::BeaconStatus::default(),
            silent: Vec::new(),
            tolerated: Vec::new(),
            submitted: vec![None, None],
            held: vec![0, 0],
            quiescent: true,
        };
        (scenario, status)
    }

    #[test]
    fn supply_holds_when_the_recount_agrees_with_the_running_total() {
        let (scenario, s) = status(Some(10 * INITIAL_BALANCE));
        let a = audit_every_asset(&scenario, &s);
        assert!(
            a.supply_conserved && a.violations.is_empty(),
            "{:?}",
            a.violations
        );
    }

    /// The running totals still sum to the genesis supply, but shard 0's state holds
    /// one coin more: only the recount shows it, and the audit names it.
    #[test]
    fn a_state_that_disagrees_with_its_running_total_fails_supply() {
        let (scenario, s) = status(Some(10 * INITIAL_BALANCE + 1));
        let a = audit_every_asset(&scenario, &s);
        assert!(!a.supply_conserved);
        let expected = format!(
            "shard 0: its running balance total is {}, a recount of its state gives {}",
            10 * INITIAL_BALANCE,
            10 * INITIAL_BALANCE + 1
        );
        assert!(a.violations.contains(&expected), "{:?}", a.violations);
        let (scenario, s) = status(None);
        let a = audit_every_asset(&scenario, &s);
        assert!(!a.supply_conserved);
        assert!(
            a.violations
                .contains(&"shard 0: sent no recount of its state".to_string())
        );
    }
}
