//! The block's side of a migration (`cross_shard::migration`): the switch at the
//! start of the first block built after the beacon announced an epoch change, the
//! paced export of the accounts let go, and the calls of senders that have left.
//!
//! ```text
//!  build(inputs with epoch e)
//!   1. ledger.switch(e): leaving accounts let go (reported: `exported`)
//!   2. every block while any wait: ledger.export(budget) → Move… MoveSlot… Arrive
//!      receipts, queued on the channels to the new shards (sent with the block's own)
//!   3. receipts: Move/MoveSlot/Arrive applied here; credits for accounts that left
//!      sent on to their new shards
//!   4. transactions: a sender that left is refused and handed back (`moved`)
//! ```

use cross_shard::Tx;
use cross_shard::migration::EpochChange;
use prost::Message as _;
use shardsim_proto::convert::receipts_to_wire;

use super::producer::BlockProducer;
use crate::state::{Ledger, State};

/// The most migration receipts one block sends (it goes on to finish an account it
/// has begun): an epoch that moves thousands of accounts would otherwise make one
/// block of tens of thousands of receipts, which every validator of the committee
/// and every destination must take at once. About what a busy block sends anyway.
pub const EXPORT_PER_BLOCK: usize = 8_192;

impl BlockProducer {
    /// Step 1: switches the ledger to `change`, noting the accounts it let go.
    pub(super) fn switch(&mut self, change: &EpochChange) {
        self.out.exported = self.ledger.switch(change);
        self.out.switched_epoch = Some(change.epoch);
        tracing::info!(
            epoch = change.epoch,
            left = self.out.exported.len(),
            "switched to a new placement epoch"
        );
    }

    /// Step 2: exports the next accounts let go, queued for their new shards, noting
    /// how many bytes carry them.
    pub(super) fn export(&mut self) {
        if self.ledger.exporting() == 0 {
            return;
        }
        let leaving = self.ledger.export(EXPORT_PER_BLOCK);
        self.out.exported_bytes =
            receipts_to_wire(leaving.iter().map(|l| &l.1)).encoded_len() as u64;
        for (dst, r) in leaving {
            self.out.outgoing[dst as usize].push(r);
        }
    }
}

/// Step 3: the transactions of `txs` whose sender has moved to another shard go to
/// `moved`; returns the rest when any did (`None`: all stay). A sender is *moved* when
/// the ledger has switched at least once, holds no such account, and its directory
/// places it elsewhere; before any switch, a misrouted sender is the executor's
/// `WrongShard` as always.
pub(super) fn refuse_moved(ledger: &Ledger, txs: &[Tx], moved: &mut Vec<Tx>) -> Option<Vec<Tx>> {
    if ledger.epoch() == 0 {
        return None;
    }
    let placement = ledger.placement();
    let me = ledger.shard();
    let gone = |t: &Tx| ledger.local(t.from).is_none() && placement.shard_of(t.from) != me;
    if !txs.iter().any(gone) {
        return None;
    }
    let (away, kept): (Vec<Tx>, Vec<Tx>) = txs.iter().partition(|t| gone(t));
    moved.extend(away);
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programs::{End, deliver};
    use crate::state::tests::world;
    use crate::state::{Key, Ledger};
    use cross_shard::Effect;
    use cross_shard::migration::MIGRATION;

    const ACCOUNTS: u64 = 60;

    /// Shard 0 and shard 1 of a two-shard cluster with one token.
    fn pair() -> [Ledger; 2] {
        [0, 1].map(|k| Ledger::genesis(world(k, 2, ACCOUNTS, 1), 1_000))
    }

    #[test]
    fn an_account_moves_with_its_balances_slots_and_nonce_and_nothing_is_minted() {
        let [mut a, mut b] = pair();
        let mover = a.placement().accounts_of(0, ACCOUNTS)[0];
        let i = a.local(mover).unwrap();
        // The account has spent (nonce 3), called as a contract (a slot), holds tokens.
        a.write(Key::Account(i), [700, 3]);
        a.write(Key::Slot(i, 42), [5, 0]);
        a.write(Key::Token(i, 1), [0, 0]);
        let totals = |l: &Ledger| (l.total(0), l.total(1));
        let (before_a, before_b) = (totals(&a), totals(&b));
        let change = EpochChange {
            epoch: 1,
            moves: vec![(mover, 1)],
        };
        assert_eq!(a.switch(&change), vec![(mover, 1)]);
        assert!(b.switch(&change).is_empty(), "nothing leaves shard 1");
        // Let go, but its state stays here, in the totals, until it is exported.
        assert_eq!(a.local(mover), None, "let go");
        assert_eq!(totals(&a), before_a);
        assert_eq!(a.exporting(), 1);
        let out = a.export(usize::MAX);
        assert_eq!(a.exporting(), 0);
        let effects: Vec<Effect> = out
            .iter()
            .map(|(d, r)| {
                assert_eq!((*d, r.tx), (1, MIGRATION));
                r.effect
            })
            .collect();
        assert_eq!(
            effects,
            vec![
                Effect::Move {
                    account: mover,
                    asset: 0,
                    amount: 700
                },
                Effect::MoveSlot {
                    contract: mover,
                    caller: 42,
                    calls: 5
                },
                Effect::Arrive {
                    account: mover,
                    nonce: 3
                },
            ],
            "a zero token balance is not sent"
        );
        assert_eq!(a.local(mover), None, "let go");
        assert_eq!(totals(&a), (before_a.0 - 700, before_a.1));
        assert_eq!(a.recount(0), a.total(0));
        // A credit sent under the new directory reaches the placeholder first.
        let j = b.local(mover).expect("a placeholder");
        assert_eq!(
            deliver(
                &mut b,
                Effect::Credit {
                    to: mover,
                    asset: 0,
                    amount: 9
                }
            ),
            End::Done
        );
        for e in effects {
            assert_eq!(deliver(&mut b, e), End::Done);
        }
        assert_eq!(
            b.get(Key::Account(j)),
            [709, 3],
            "moved balance + credit, nonce"
        );
        assert_eq!(b.get(Key::Slot(j, 42)), [5, 0]);
        assert_eq!(totals(&b), (before_b.0 + 709, before_b.1));
        assert_eq!(b.recount(0), b.total(0));
        // Where each ledger says the account lives, and what each holds.
        assert_eq!(
            (a.placement().shard_of(mover), b.placement().shard_of(mover)),
            (1, 1)
        );
        let held = |l: &Ledger, k| {
            cross_shard::placement::accounts_digest(
                l.placement().accounts_of(k, ACCOUNTS).into_iter(),
            )
        };
        assert_eq!(a.holdings(), held(&a, 0));
        assert_eq!(b.holdings(), held(&b, 1));
    }

    #[test]
    fn exports_are_paced_by_a_budget_of_receipts_whole_accounts_in_order() {
        let [mut a, _] = pair();
        let movers: Vec<u64> = a.placement().accounts_of(0, ACCOUNTS)[..3].to_vec();
        let change = EpochChange {
            epoch: 1,
            moves: movers.iter().map(|&m| (m, 1)).collect(),
        };
        a.switch(&change);
        // Each account is two receipts (its coin and its token) and its `Arrive`.
        let arrived = |out: &[(u32, cross_shard::Receipt)]| -> Vec<u64> {
            out.iter()
                .filter_map(|(_, r)| match r.effect {
                    Effect::Arrive { account, .. } => Some(account),
                    _ => None,
                })
                .collect()
        };
        // A committee's candidate that exported and was not decided: all back.
        let root = a.state_root();
        a.checkpoint();
        a.export(4);
        a.rollback();
        assert_eq!((a.exporting(), a.state_root()), (3, root));
        let first = a.export(4);
        assert_eq!(first.len(), 6, "a budget of 4 finishes the second account");
        assert_eq!(arrived(&first), movers[..2]);
        assert_eq!(a.exporting(), 1);
        let rest = a.export(1);
        assert_eq!(arrived(&rest), movers[2..], "at least one account");
        assert!(a.export(100).is_empty());
        assert_eq!(a.recount(0), a.total(0));
    }

    #[test]
    fn a_credit_for_an_account_that_left_is_forwarded_to_its_new_shard() {
        let [mut a, _] = pair();
        let mover = a.placement().accounts_of(0, ACCOUNTS)[0];
        a.switch(&EpochChange {
            epoch: 1,
            moves: vec![(mover, 1)],
        });
        let credit = Effect::Credit {
            to: mover,
            asset: 0,
            amount: 4,
        };
        assert_eq!(
            deliver(&mut a, credit),
            End::Remote {
                dst: 1,
                effect: credit
            }
        );
    }

    /// The switch only lets go (the block's recorded epoch says so); the export
    /// empties the rows, and the state root sees it.
    #[test]
    fn a_state_root_sees_the_export() {
        let [mut a, _] = pair();
        let root = a.state_root();
        let mover = a.placement().accounts_of(0, ACCOUNTS)[0];
        a.switch(&EpochChange {
            epoch: 1,
            moves: vec![(mover, 1)],
        });
        assert_eq!(a.state_root(), root);
        a.export(usize::MAX);
        assert_ne!(a.state_root(), root);
    }

    #[test]
    fn a_rolled_back_switch_leaves_the_ledger_as_it_was() {
        // A committee's validator executes a candidate block that switches, and the
        // round fails: everything, the directory and the rows included, goes back.
        let [mut a, _] = pair();
        let mover = a.placement().accounts_of(0, ACCOUNTS)[0];
        let arriving = a.placement().accounts_of(1, ACCOUNTS)[0];
        let (root, held, placement) = (a.state_root(), a.holdings(), a.placement());
        a.checkpoint();
        a.switch(&EpochChange {
            epoch: 1,
            moves: vec![
                (mover.min(arriving), if mover < arriving { 1 } else { 0 }),
                (mover.max(arriving), if mover < arriving { 0 } else { 1 }),
            ],
        });
        assert_ne!(a.holdings(), held);
        assert!(!a.export(1).is_empty());
        a.rollback();
        assert_eq!(a.exporting(), 0, "the export queue as it was");
        assert_eq!(
            (a.state_root(), a.holdings(), a.placement(), a.epoch()),
            (root, held, placement, 0)
        );
        assert!(a.local(mover).is_some() && a.local(arriving).is_none());
    }
}
