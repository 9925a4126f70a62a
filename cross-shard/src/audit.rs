//! The end-of-run audit: supply conservation and exactly-once receipts, computed from
//! each shard's own cumulative counters.
//!
//! Each shard counts, per channel, the receipts (and value) it *emitted* to every
//! destination and *applied* from every source. From those alone:
//!
//! ```text
//!   in flight on s→d   = emitted(s→d) − applied(s→d)            (never negative)
//!   supply conserved  ⇔  Σ balances + Σ locked + Σ in flight = genesis supply
//!   exactly once      ⇔  applied(s→d) ≤ emitted(s→d) on every channel, and once
//!                        the run is over (load stopped, drain ended) applied = emitted
//! ```
//!
//! Applying a receipt twice shows up as `applied > emitted`, or as a balance sum above
//! genesis; dropping one shows up, once the run is over, as `applied < emitted`. The
//! end-of-run check does not wait for the cluster to become quiescent: a receipt still
//! on its way when the drain has ended is as much a failure as one dropped — otherwise
//! a receipt that is never delivered would pass forever as "in flight".

use crate::ids::ShardId;

/// Cumulative receipt counters of one channel end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelCount {
    /// The other shard of the channel.
    pub peer: ShardId,
    /// Receipts emitted (outbound) or applied (inbound).
    pub receipts: u64,
    /// Their total value.
    pub value: u64,
}

/// What one shard reports for the audit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShardLedger {
    /// The reporting shard.
    pub shard: ShardId,
    /// Sum of its balances.
    pub balance_total: u64,
    /// Value held by undecided two-phase prepares (in no balance).
    pub locked: u64,
    /// Emitted, per destination.
    pub outbound: Vec<ChannelCount>,
    /// Applied, per source.
    pub inbound: Vec<ChannelCount>,
}

/// The audit's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audit {
    /// Σ balances + Σ in flight = genesis supply.
    pub supply_conserved: bool,
    /// No receipt applied twice; once the run is over, none missing.
    pub exactly_once: bool,
    /// Supply created at genesis.
    pub genesis_supply: u128,
    /// Σ balances over all shards.
    pub balances: u128,
    /// Σ value locked by undecided two-phase transactions.
    pub locked: u128,
    /// Receipts emitted and not yet applied.
    pub in_flight_receipts: u128,
    /// Their value.
    pub in_flight_value: u128,
    /// The channels with receipts emitted and not applied: (source, destination, how
    /// many).
    pub in_flight_channels: Vec<(ShardId, ShardId, u128)>,
    /// One line per violation, naming the channel or the sums.
    pub violations: Vec<String>,
}

/// Audits the cluster. `finished` says the run is over (the load stopped and the drain
/// ended), so that every emitted receipt must have been applied; mid-run, receipts in
/// flight are expected and only over-application is a violation.
pub fn audit(genesis_supply: u128, shards: &[ShardLedger], finished: bool) -> Audit {
    let mut violations = Vec::new();
    let count = |ledger: &[ChannelCount], peer: ShardId| {
        ledger
            .iter()
            .filter(|c| c.peer == peer)
            .fold((0u128, 0u128), |(n, v), c| {
                (n + u128::from(c.receipts), v + u128::from(c.value))
            })
    };
    let (mut in_flight_receipts, mut in_flight_value) = (0u128, 0u128);
    let mut in_flight_channels = Vec::new();
    let mut over_applied = false;
    for src in shards {
        for dst in shards {
            if src.shard == dst.shard {
                continue;
            }
            let (emitted_n, emitted_v) = count(&src.outbound, dst.shard);
            let (applied_n, applied_v) = count(&dst.inbound, src.shard);
            let channel = format!("channel {}→{}", src.shard, dst.shard);
            if applied_n > emitted_n || applied_v > emitted_v {
                over_applied = true;
                violations.push(format!(
                    "{channel}: applied {applied_n} receipts ({applied_v} value) but only {emitted_n} ({emitted_v}) were emitted"
                ));
                continue;
            }
            if finished && (applied_n, applied_v) != (emitted_n, emitted_v) {
                violations.push(format!(
                    "{channel}: {} receipts emitted but never applied by the end of the drain",
                    emitted_n - applied_n
                ));
            }
            if emitted_n > applied_n {
                in_flight_channels.push((src.shard, dst.shard, emitted_n - applied_n));
            }
            in_flight_receipts += emitted_n - applied_n;
            in_flight_value += emitted_v - applied_v;
        }
    }
    let exactly_once = violations.is_empty();
    let balances: u128 = shards.iter().map(|s| u128::from(s.balance_total)).sum();
    let locked: u128 = shards.iter().map(|s| u128::from(s.locked)).sum();
    let supply_conserved = !over_applied && balances + locked + in_flight_value == genesis_supply;
    if !supply_conserved {
        violations.push(format!(
            "supply: balances {balances} + locked {locked} + in flight {in_flight_value} ≠ genesis {genesis_supply}"
        ));
    }
    Audit {
        supply_conserved,
        exactly_once,
        genesis_supply,
        balances,
        locked,
        in_flight_receipts,
        in_flight_value,
        in_flight_channels,
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(peer: ShardId, receipts: u64, value: u64) -> ChannelCount {
        ChannelCount {
            peer,
            receipts,
            value,
        }
    }

    /// Shard 0 sent 3 receipts worth 30 to shard 1, which applied `applied` of them
    /// (10 each). Genesis: 500 on each shard.
    fn cluster(applied: u64) -> Vec<ShardLedger> {
        vec![
            ShardLedger {
                shard: 0,
                balance_total: 470,
                locked: 0,
                outbound: vec![ch(1, 3, 30)],
                inbound: vec![ch(1, 0, 0)],
            },
            ShardLedger {
                shard: 1,
                balance_total: 500 + 10 * applied,
                locked: 0,
                outbound: vec![ch(0, 0, 0)],
                inbound: vec![ch(0, applied, 10 * applied)],
            },
        ]
    }

    #[test]
    fn in_flight_value_counts_toward_supply() {
        let a = audit(1000, &cluster(1), false);
        assert!(a.supply_conserved && a.exactly_once, "{a:?}");
        assert_eq!((a.in_flight_receipts, a.in_flight_value), (2, 20));
    }

    #[test]
    fn missing_receipt_at_the_end_breaks_exactly_once() {
        let a = audit(1000, &cluster(2), true);
        assert!(!a.exactly_once);
        assert!(
            a.supply_conserved,
            "the value is still accounted as in flight"
        );
        assert!(
            a.violations[0].contains("channel 0→1"),
            "{:?}",
            a.violations
        );
        assert_eq!(a.in_flight_channels, vec![(0, 1, 1)]);
        assert!(audit(1000, &cluster(3), true).exactly_once);
    }

    #[test]
    fn double_application_breaks_both() {
        let a = audit(1000, &cluster(4), false);
        assert!(!a.exactly_once);
        assert!(!a.supply_conserved);
    }

    #[test]
    fn locked_value_counts_toward_supply() {
        let mut c = cluster(3);
        c[1].balance_total -= 10;
        c[1].locked = 10;
        assert!(audit(1000, &c, true).supply_conserved);
        c[1].locked = 0;
        assert!(!audit(1000, &c, true).supply_conserved);
    }

    #[test]
    fn minted_coins_break_supply() {
        let mut c = cluster(3);
        c[0].balance_total += 1;
        let a = audit(1000, &c, true);
        assert!(!a.supply_conserved);
        assert!(a.exactly_once);
    }
}
