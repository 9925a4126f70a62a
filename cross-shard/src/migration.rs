//! Migration: accounts moving between running shards when placement changes.
//!
//! Placement by a graph (`placement::clpa`) changes every epoch: the driver computes
//! epoch `e + 1`'s directory from the transactions it has seen and hands the
//! changes — which account goes to which shard — to the beacon, which announces them
//! in one of its blocks. Every shard switches to the new directory in the first block
//! it builds after it has seen that beacon block (the block's recorded beacon
//! height says which), so the switch is a deterministic input of the block, replayed
//! from the store after a crash and checked by a committee like any other input.
//!
//! An account's state travels as **receipts** on the ordinary receipt channel, so it
//! is committed in the source's block, proven against its header, notarized by the
//! beacon, delivered once, in order, and acknowledged — everything receipts already
//! guarantee, with nothing new to trust:
//!
//! ```text
//!  driver             beacon                source shard A           destination B
//!  CLPA → moves ──Announce──► block H: epoch e
//!                              │  (every shard sees H)
//!                              ├──────────► switch block: each account
//!                              │            leaving A let go (B's now);
//!                              │            from it on, each block
//!                              │            exports a budget of them:
//!                              │            Move(asset, balance)…
//!                              │            MoveSlot(caller, calls)…  switch block:
//!                              │            Arrive(nonce), state      placeholder
//!                              │            removed                   (credits land)
//!                              ◄── header + batch (A → B) ──┘
//!                    notarize, deliver with Merkle path ────────────► apply: balances
//!                                                                     added, nonce set
//!                                                                     at Arrive: open
//!  holds the account's calls ◄────────────── events: imported ──────┘
//!  from announce to Arrive, then sends them to B
//! ```
//!
//! - **Value is never in two places.** A's block that exports an account takes each
//!   balance out of its state and emits it as a [`Effect::Move`](crate::Effect::Move),
//!   which counts as value in flight on the channel A → B exactly as a credit does; B
//!   adds it when it applies the receipt. Until then the balance stays in A's state
//!   (A's switch block only lets the account go). The supply audit therefore covers
//!   migrations unchanged.
//! - **Exports are paced.** Each block exports a budget of receipts' worth of the
//!   accounts let go, in order, so that an epoch that moves thousands of accounts
//!   makes no block far larger than the rest: the switch block is as light as any.
//! - **Credits follow the account.** A receipt that reaches A for an account A has let
//!   go (emitted under the old directory) is re-emitted by A toward the account's new
//!   shard, with the same transaction id: it is *forwarded*, like a swap's output.
//! - **Calls are held by the driver**, not by the shards: from the announcement until
//!   B has applied the `Arrive` and A has answered every call it was sent, the
//!   account's new calls wait in the driver, and A refuses (and hands back) any call of
//!   an account it has let go. The nonce order is then never broken, and a shard never
//!   has to buffer calls it cannot yet run.
//! - **One move at a time.** An account is not moved again before its previous move
//!   has arrived (the driver announces epoch `e + 1` only once epoch `e` is complete),
//!   so a move never chases a move.

use crate::ids::{AccountId, ShardId, TxId};
use crate::placement::Placement;

/// The transaction id migration receipts carry: they belong to no transaction.
pub const MIGRATION: TxId = TxId::MAX;

/// The directory changes of one epoch: who moves where.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EpochChange {
    /// The epoch these changes begin (1 for the first change after genesis).
    pub epoch: u32,
    /// Each moving account with its new shard, in increasing account order.
    pub moves: Vec<(AccountId, ShardId)>,
}

impl EpochChange {
    /// What is wrong with this change for a cluster of `accounts` accounts on
    /// `placement` (the directory it changes), if anything: an account that does not
    /// exist or appears twice, a shard that does not exist, or a move to the shard
    /// the account is already on.
    pub fn check(&self, placement: &Placement, accounts: u64) -> Result<(), String> {
        let mut last = None;
        for &(account, to) in &self.moves {
            if account >= accounts {
                return Err(format!(
                    "epoch {}: account {account} does not exist",
                    self.epoch
                ));
            }
            if last.is_some_and(|l| l >= account) {
                return Err(format!(
                    "epoch {}: moves are not in increasing account order at account {account}",
                    self.epoch
                ));
            }
            last = Some(account);
            if to >= placement.shards() {
                return Err(format!(
                    "epoch {}: account {account} moves to shard {to}, the cluster has {}",
                    self.epoch,
                    placement.shards()
                ));
            }
            if placement.shard_of(account) == to {
                return Err(format!(
                    "epoch {}: account {account} is already on shard {to}",
                    self.epoch
                ));
            }
        }
        Ok(())
    }

    /// The directory after this change: `placement` with every move applied, as a
    /// table over accounts `0..accounts`.
    pub fn apply(&self, placement: &Placement, accounts: u64) -> Placement {
        let mut table: Vec<u16> = match placement.table() {
            Some(t) if t.len() as u64 >= accounts => t.to_vec(),
            _ => (0..accounts)
                .map(|a| placement.shard_of(a) as u16)
                .collect(),
        };
        for &(account, to) in &self.moves {
            table[account as usize] = to as u16;
        }
        Placement::with_table(placement.shards(), table)
            .expect("checked moves name shards of the cluster")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_moves_exactly_its_accounts() {
        let p = Placement::new(4).unwrap();
        let a = (0..100).find(|&a| p.shard_of(a) == 0).unwrap();
        let change = EpochChange {
            epoch: 1,
            moves: vec![(a, 3)],
        };
        change.check(&p, 100).unwrap();
        let q = change.apply(&p, 100);
        assert_eq!(q.shard_of(a), 3);
        for b in (0..100).filter(|&b| b != a) {
            assert_eq!(q.shard_of(b), p.shard_of(b), "account {b} did not move");
        }
    }

    #[test]
    fn impossible_changes_are_named() {
        let p = Placement::new(4).unwrap();
        let home = p.shard_of(5);
        let bad = |moves: Vec<(u64, u32)>| EpochChange { epoch: 2, moves }.check(&p, 10);
        assert!(bad(vec![(10, 0)]).unwrap_err().contains("does not exist"));
        assert!(bad(vec![(5, 4)]).unwrap_err().contains("the cluster has 4"));
        assert!(bad(vec![(5, home)]).unwrap_err().contains("already on"));
        let other = (home + 1) % 4;
        assert!(
            bad(vec![(5, other), (5, other)])
                .unwrap_err()
                .contains("increasing")
        );
    }
}
