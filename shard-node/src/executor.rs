//! The sequential executor: the reference semantics of a block.
//!
//! A block does two things, in this order (DESIGN §3, steps 3 and 4):
//! 1. **apply inbound receipts** — credit each receipt's recipient, in channel order;
//! 2. **execute transactions** — each transfer of the native coin (`transfer`) or of
//!    a token (`token`), in mempool order:
//!
//! ```text
//!   sender not here? ───────────────► reject WrongShard (or UnknownAccount)
//!   recipient or asset unknown? ────► reject UnknownAccount
//!   nonce ≠ sender's next nonce? ───► reject BadNonce        (nonce not consumed)
//!   asset balance < amount? ────────► reject InsufficientBalance (nonce consumed)
//!   debit sender, nonce += 1
//!   recipient here?  ── yes ────────► credit it: committed (final)
//!                    └─ no ─────────► emit Receipt to its shard: sent_cross
//! ```
//!
//! Receipts are applied before transactions so that value arriving from other shards
//! is spendable in the same block, as on NEAR.

use cross_shard::ids::NATIVE;
use cross_shard::{Receipt, RejectReason, ShardId, Transfer, TxId};

use crate::state::{Accounts, Ledger};

/// Everything a block produced. Its lists move into the block's events and receipt
/// batches once the block is committed.
#[derive(Debug, Default)]
pub struct BlockOutput {
    /// Intra-shard transfers committed (final).
    pub committed: Vec<TxId>,
    /// Cross-shard transfers debited here; final when their receipt is applied.
    pub sent_cross: Vec<TxId>,
    /// Rejected transactions…
    pub rejected: Vec<TxId>,
    /// …and the reason code of each (same length as `rejected`).
    pub rejected_reason: Vec<u32>,
    /// Transactions whose inbound receipt was credited here.
    pub receipts_applied: Vec<TxId>,
    /// Receipts emitted, per destination shard (index = shard id).
    pub outgoing: Vec<Vec<Receipt>>,
    /// Receipts whose recipient is not on this shard (only a faulty source emits
    /// them; they are counted and not credited).
    pub receipts_misplaced: u64,
}

impl BlockOutput {
    /// An empty output for a cluster of `shards` shards.
    pub fn new(shards: u32) -> BlockOutput {
        BlockOutput {
            outgoing: vec![Vec::new(); shards as usize],
            ..BlockOutput::default()
        }
    }

    /// Empties every list for the next block.
    pub fn clear(&mut self) {
        self.committed.clear();
        self.sent_cross.clear();
        self.rejected.clear();
        self.rejected_reason.clear();
        self.receipts_applied.clear();
        self.outgoing.iter_mut().for_each(Vec::clear);
        self.receipts_misplaced = 0;
    }

    /// Records a rejection.
    pub fn reject(&mut self, id: TxId, reason: RejectReason) {
        self.rejected.push(id);
        self.rejected_reason.push(reason.code());
    }
}

/// Step 1: credits each inbound receipt, given with its source shard, and counts it
/// on its channel in `applied[asset][src] = (receipts, value)`.
pub fn apply_receipts(
    ledger: &mut Ledger,
    receipts: &[(ShardId, Receipt)],
    applied: &mut [Vec<(u64, u64)>],
    out: &mut BlockOutput,
) {
    for &(src, r) in receipts {
        let (Some(i), Some(channels)) = (ledger.local(r.to), applied.get_mut(r.asset as usize))
        else {
            // Only a faulty source emits these; its sequence number is used all the same.
            out.receipts_misplaced += 1;
            continue;
        };
        let channel = &mut channels[src as usize];
        let balance = ledger.balance(i, r.asset).saturating_add(r.amount);
        ledger.set_balance(i, r.asset, balance);
        channel.0 += 1;
        channel.1 = channel.1.saturating_add(r.amount);
        out.receipts_applied.push(r.tx);
    }
}

/// What one transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Final here (intra-shard).
    Committed,
    /// Debited here; this receipt goes to shard `dst`.
    SentCross {
        /// Destination shard.
        dst: ShardId,
        /// The credit to apply there.
        receipt: Receipt,
    },
    /// Refused, for this reason.
    Rejected(RejectReason),
}

/// Executes one transaction against `state`: the one definition of what a transfer
/// does, shared by the sequential and the parallel executor (see the module diagram).
pub fn execute_one<A: Accounts>(state: &mut A, tx: &Transfer) -> Outcome {
    let Some(from) = state.local(tx.from) else {
        return Outcome::Rejected(if state.exists(tx.from) {
            RejectReason::WrongShard
        } else {
            RejectReason::UnknownAccount
        });
    };
    if !state.exists(tx.to) || !state.has_asset(tx.asset) {
        return Outcome::Rejected(RejectReason::UnknownAccount);
    }
    let mut sender = state.get(from);
    if tx.nonce != sender.nonce {
        return Outcome::Rejected(RejectReason::BadNonce);
    }
    sender.nonce += 1;
    // The nonce and a native debit are one leaf of the state commitment: update it
    // once (each update costs two leaf hashes).
    let held = if tx.asset == NATIVE {
        sender.balance
    } else {
        state.set(from, sender);
        state.balance(from, tx.asset)
    };
    if held < tx.amount {
        if tx.asset == NATIVE {
            state.set(from, sender);
        }
        return Outcome::Rejected(RejectReason::InsufficientBalance);
    }
    if tx.asset == NATIVE {
        sender.balance -= tx.amount;
        state.set(from, sender);
    } else {
        state.set_balance(from, tx.asset, held - tx.amount);
    }
    let dst = state.placement().shard_of(tx.to);
    if dst != state.shard() {
        return Outcome::SentCross {
            dst,
            receipt: Receipt {
                tx: tx.id,
                to: tx.to,
                amount: tx.amount,
                asset: tx.asset,
            },
        };
    }
    // `to` exists and is placed here, so it is local.
    if let Some(to) = state.local(tx.to) {
        let balance = state.balance(to, tx.asset).saturating_add(tx.amount);
        state.set_balance(to, tx.asset, balance);
    }
    Outcome::Committed
}

impl BlockOutput {
    /// Records one transaction's outcome, in block order.
    pub fn record(&mut self, tx: TxId, outcome: Outcome) {
        match outcome {
            Outcome::Committed => self.committed.push(tx),
            Outcome::SentCross { dst, receipt } => {
                self.outgoing[dst as usize].push(receipt);
                self.sent_cross.push(tx);
            }
            Outcome::Rejected(reason) => self.reject(tx, reason),
        }
    }
}

/// Step 2, the reference: executes `txs` one after another against `ledger`.
pub fn execute(ledger: &mut Ledger, txs: &[Transfer], out: &mut BlockOutput) {
    for tx in txs {
        let outcome = execute_one(ledger, tx);
        out.record(tx.id, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cross_shard::Placement;

    const ACCOUNTS: u64 = 200;

    /// Shard 0 of 2 with one token, and two of its accounts plus one of shard 1.
    fn setup() -> (Ledger, u64, u64, u64) {
        let p = Placement::new(2).unwrap();
        let ledger = Ledger::genesis(0, p, ACCOUNTS, 1, 100);
        let mine: Vec<u64> = p.accounts_of(0, ACCOUNTS);
        let theirs = p.accounts_of(1, ACCOUNTS)[0];
        (ledger, mine[0], mine[1], theirs)
    }

    fn tx(id: u64, from: u64, to: u64, amount: u64, nonce: u64) -> Transfer {
        Transfer {
            id,
            from,
            to,
            amount,
            nonce,
            asset: NATIVE,
        }
    }

    fn receipt(tx: u64, to: u64, amount: u64, asset: u32) -> Receipt {
        Receipt {
            tx,
            to,
            amount,
            asset,
        }
    }

    #[test]
    fn intra_transfer_moves_value_and_bumps_nonce() {
        let (mut l, a, b, _) = setup();
        let mut out = BlockOutput::new(2);
        execute(&mut l, &[tx(1, a, b, 30, 0)], &mut out);
        assert_eq!(out.committed, vec![1]);
        assert_eq!(l.get(l.local(a).unwrap()).balance, 70);
        assert_eq!(l.get(l.local(a).unwrap()).nonce, 1);
        assert_eq!(l.get(l.local(b).unwrap()).balance, 130);
    }

    #[test]
    fn cross_transfer_debits_and_emits_a_receipt() {
        let (mut l, a, _, z) = setup();
        let total = l.balance_total();
        let mut out = BlockOutput::new(2);
        execute(&mut l, &[tx(1, a, z, 30, 0)], &mut out);
        assert_eq!(out.sent_cross, vec![1]);
        assert_eq!(out.outgoing[1], vec![receipt(1, z, 30, NATIVE)]);
        assert_eq!(l.balance_total(), total - 30);
    }

    #[test]
    fn token_transfers_move_the_token_and_share_the_nonce() {
        let (mut l, a, b, z) = setup();
        let mut out = BlockOutput::new(2);
        let token = |t: Transfer| Transfer { asset: 1, ..t };
        execute(
            &mut l,
            &[
                token(tx(1, a, b, 40, 0)),  // intra token transfer
                tx(2, a, b, 5, 1),          // native, next nonce
                token(tx(3, a, z, 10, 2)),  // cross-shard token transfer
                token(tx(4, a, b, 500, 3)), // more tokens than held
                Transfer {
                    asset: 2,
                    ..tx(5, a, b, 1, 4)
                }, // no such token
            ],
            &mut out,
        );
        let (ia, ib) = (l.local(a).unwrap(), l.local(b).unwrap());
        assert_eq!((l.balance(ia, 1), l.balance(ib, 1)), (50, 140));
        assert_eq!((l.balance(ia, NATIVE), l.balance(ib, NATIVE)), (95, 105));
        assert_eq!(
            l.get(ia).nonce,
            4,
            "the rejected unknown-asset transfer kept nonce 4"
        );
        assert_eq!(out.committed, vec![1, 2]);
        assert_eq!(out.outgoing[1], vec![receipt(3, z, 10, 1)]);
        let reasons: Vec<u32> = out.rejected_reason.clone();
        assert_eq!(
            reasons,
            vec![
                RejectReason::InsufficientBalance.code(),
                RejectReason::UnknownAccount.code()
            ]
        );
        assert_eq!(
            (l.total(1), l.total(NATIVE)),
            (100 * l.len() as u64 - 10, 100 * l.len() as u64)
        );
    }

    #[test]
    fn every_rejection_has_its_reason() {
        let (mut l, a, b, z) = setup();
        let mut out = BlockOutput::new(2);
        execute(
            &mut l,
            &[
                tx(1, z, a, 1, 0),            // sender on shard 1
                tx(2, ACCOUNTS + 5, a, 1, 0), // no such sender
                tx(3, a, ACCOUNTS + 5, 1, 0), // no such recipient
                tx(4, a, b, 1, 7),            // nonce gap
                tx(5, a, b, 1000, 0),         // too poor: consumes nonce 0
                tx(6, a, b, 1, 0),            // so nonce 0 is now stale
                tx(7, a, b, 1, 1),            // and nonce 1 works
            ],
            &mut out,
        );
        let reasons: Vec<_> = out
            .rejected
            .iter()
            .zip(&out.rejected_reason)
            .map(|(&id, &c)| (id, RejectReason::from_code(c).unwrap()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (1, RejectReason::WrongShard),
                (2, RejectReason::UnknownAccount),
                (3, RejectReason::UnknownAccount),
                (4, RejectReason::BadNonce),
                (5, RejectReason::InsufficientBalance),
                (6, RejectReason::BadNonce),
            ]
        );
        assert_eq!(out.committed, vec![7]);
    }

    #[test]
    fn receipts_credit_local_accounts_of_known_assets_only() {
        let (mut l, a, _, z) = setup();
        let (native, token) = (l.balance_total(), l.total(1));
        let mut out = BlockOutput::new(2);
        let rs = [
            (1, receipt(9, a, 5, NATIVE)),
            (1, receipt(10, z, 5, NATIVE)), // not an account of this shard
            (1, receipt(11, a, 7, 1)),
            (1, receipt(12, a, 7, 9)), // no such asset
        ];
        let mut applied = vec![vec![(0, 0); 2]; 2];
        apply_receipts(&mut l, &rs, &mut applied, &mut out);
        assert_eq!(applied, vec![vec![(0, 0), (1, 5)], vec![(0, 0), (1, 7)]]);
        assert_eq!(out.receipts_applied, vec![9, 11]);
        assert_eq!(out.receipts_misplaced, 2);
        assert_eq!((l.balance_total(), l.total(1)), (native + 5, token + 7));
    }
}
