//! The sequential executor: the reference semantics of a block.
//!
//! A block does two things, in this order (DESIGN §3, steps 3 and 4):
//! 1. **apply inbound receipts**, in channel order: each receipt's effect is delivered
//!    here ([`programs::deliver`]) — a credit, a refund, the pool side of a swap, the
//!    collection side of a mint, a vote — and whatever it sends on becomes an outgoing
//!    receipt;
//! 2. **execute transactions**, in mempool order ([`programs::execute_one`]).
//!
//! ```text
//!   receipt ──deliver──► done ─────────────► receipts_applied  (final)
//!                        failed ───────────► failed            (final, failed)
//!                        refund credited ──► refunds_applied   (final, failed)
//!                        sends a receipt ──► forwarded         (not final yet)
//!   tx ──execute_one───► committed / sent_cross / rejected
//! ```
//!
//! Receipts are applied before transactions so that value arriving from other shards is
//! spendable in the same block, as on NEAR. Receipt application is sequential in every
//! executor: it is a small share of a block, and the delayed-receipt queue bounds it.

use cross_shard::{Receipt, RejectReason, ShardId, TxId};

use crate::programs::{self, End, Outcome};
use crate::state::Ledger;

/// Everything a block produced. Its lists move into the block's events and receipt
/// batches once the block is committed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BlockOutput {
    /// Transactions final in this block (every object on this shard).
    pub committed: Vec<TxId>,
    /// Cross-shard transactions whose sender's half ran here.
    pub sent_cross: Vec<TxId>,
    /// Rejected (or failed) transactions…
    pub rejected: Vec<TxId>,
    /// …and the reason code of each (same length as `rejected`).
    pub rejected_reason: Vec<u32>,
    /// Transactions whose receipt took effect here and ended them (final).
    pub receipts_applied: Vec<TxId>,
    /// Transactions whose receipt failed here with nothing to refund (final, failed)…
    pub failed: Vec<TxId>,
    /// …and why.
    pub failed_reason: Vec<u32>,
    /// Transactions whose refund was credited here (final, failed)…
    pub refunds_applied: Vec<TxId>,
    /// …and why they failed.
    pub refund_reason: Vec<u32>,
    /// Transactions whose receipt took effect here and sent another on.
    pub forwarded: Vec<TxId>,
    /// Receipts emitted, per destination shard (index = shard id).
    pub outgoing: Vec<Vec<Receipt>>,
    /// Receipts whose target is not on this shard (only a faulty source emits them;
    /// they are counted and not applied).
    pub receipts_misplaced: u64,
    /// Two-phase: transactions whose commit took effect here (home or participant)…
    pub tp_committed: Vec<TxId>,
    /// …and whose abort did, with why (same length).
    pub tp_aborted: Vec<TxId>,
    /// Reason codes of `tp_aborted`.
    pub tp_abort_reason: Vec<u32>,
    /// Two-phase: how long each prepare voted on here after waiting for a lock waited
    /// (µs).
    pub lock_wait_us: Vec<u64>,
    /// Two-phase: aborts applied here as the home shard (the shard that counts the
    /// transaction rejected).
    pub home_aborts: u64,
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
        let shards = self.outgoing.len() as u32;
        *self = BlockOutput::new(shards);
    }

    /// Records a rejection.
    pub fn reject(&mut self, id: TxId, reason: RejectReason) {
        self.rejected.push(id);
        self.rejected_reason.push(reason.code());
    }

    /// Records a two-phase decision that took effect here.
    pub fn decided(&mut self, tx: TxId, verdict: cross_shard::twophase::Verdict) {
        match verdict {
            cross_shard::twophase::Verdict::Commit { .. } => self.tp_committed.push(tx),
            cross_shard::twophase::Verdict::Abort(why) => {
                self.tp_aborted.push(tx);
                self.tp_abort_reason.push(why.code());
            }
        }
    }

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

/// Step 1: applies each inbound receipt, given with its source shard, and counts it on
/// its channel in `applied[asset][src] = (receipts, value)` (receipts that carry no
/// value count under the native coin with value 0).
pub fn apply_receipts(
    ledger: &mut Ledger,
    receipts: &[(ShardId, Receipt)],
    applied: &mut [Vec<(u64, u64)>],
    out: &mut BlockOutput,
) {
    let me = ledger.shard();
    let placement = ledger.placement();
    for &(src, r) in receipts {
        let (asset, value) = r.effect.value().unwrap_or_default();
        let end = if (asset as usize) < applied.len() && r.effect.shard(&placement) == me {
            programs::deliver(ledger, r.effect)
        } else {
            End::Misplaced
        };
        match end {
            End::Misplaced => {
                // Only a faulty source emits these; its sequence number is used all the
                // same, and its value stays counted as in flight (the audit flags it).
                out.receipts_misplaced += 1;
                continue;
            }
            End::Done => out.receipts_applied.push(r.tx),
            End::Failed(reason) => {
                out.failed.push(r.tx);
                out.failed_reason.push(reason.code());
            }
            End::Refunded(reason) => {
                out.refunds_applied.push(r.tx);
                out.refund_reason.push(reason.code());
            }
            End::Remote { dst, effect } => {
                out.forwarded.push(r.tx);
                out.outgoing[dst as usize].push(Receipt { tx: r.tx, effect });
            }
        }
        let channel = &mut applied[asset as usize][src as usize];
        channel.0 += 1;
        channel.1 = channel.1.saturating_add(value);
    }
}

/// Step 2, the reference: executes `txs` one after another against `ledger`.
pub fn execute(ledger: &mut Ledger, txs: &[cross_shard::Tx], out: &mut BlockOutput) {
    for tx in txs {
        let outcome = programs::execute_one(ledger, tx);
        out.record(tx.id, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::world;
    use crate::state::{BALANCE, Key, NONCE, State};
    use cross_shard::ids::NATIVE;
    use cross_shard::{Call, Effect, Placement, Tx};

    const ACCOUNTS: u64 = 200;

    /// Shard 0 of 2 with one token, and two of its accounts plus one of shard 1.
    fn setup() -> (Ledger, u64, u64, u64) {
        let p = Placement::new(2).unwrap();
        let ledger = Ledger::genesis(world(0, 2, ACCOUNTS, 1), 100);
        let mine: Vec<u64> = p.accounts_of(0, ACCOUNTS);
        let theirs = p.accounts_of(1, ACCOUNTS)[0];
        (ledger, mine[0], mine[1], theirs)
    }

    fn tx(id: u64, from: u64, to: u64, amount: u64, nonce: u64) -> Tx {
        Tx {
            id,
            from,
            nonce,
            call: Call::Transfer {
                to,
                asset: NATIVE,
                amount,
            },
        }
    }

    fn token(t: Tx, asset: u32) -> Tx {
        let Call::Transfer { to, amount, .. } = t.call else {
            unreachable!()
        };
        Tx {
            call: Call::Transfer { to, asset, amount },
            ..t
        }
    }

    fn balance(l: &Ledger, id: u64, asset: u32) -> u64 {
        let i = l.local(id).unwrap();
        let key = if asset == NATIVE {
            Key::Account(i)
        } else {
            Key::Token(i, asset)
        };
        l.get(key)[BALANCE]
    }

    #[test]
    fn intra_transfer_moves_value_and_bumps_nonce() {
        let (mut l, a, b, _) = setup();
        let mut out = BlockOutput::new(2);
        execute(&mut l, &[tx(1, a, b, 30, 0)], &mut out);
        assert_eq!(out.committed, vec![1]);
        assert_eq!(balance(&l, a, NATIVE), 70);
        assert_eq!(l.get(Key::Account(l.local(a).unwrap()))[NONCE], 1);
        assert_eq!(balance(&l, b, NATIVE), 130);
    }

    #[test]
    fn cross_transfer_debits_and_emits_a_receipt() {
        let (mut l, a, _, z) = setup();
        let total = l.balance_total();
        let mut out = BlockOutput::new(2);
        execute(&mut l, &[tx(1, a, z, 30, 0)], &mut out);
        assert_eq!(out.sent_cross, vec![1]);
        assert_eq!(out.outgoing[1], vec![Receipt::credit(1, z, 30, NATIVE)]);
        assert_eq!(l.balance_total(), total - 30);
    }

    #[test]
    fn token_transfers_move_the_token_and_share_the_nonce() {
        let (mut l, a, b, z) = setup();
        let (native, tokens) = (l.total(NATIVE), l.total(1));
        let mut out = BlockOutput::new(2);
        execute(
            &mut l,
            &[
                token(tx(1, a, b, 40, 0), 1),  // intra token transfer
                tx(2, a, b, 5, 1),             // native, next nonce
                token(tx(3, a, z, 10, 2), 1),  // cross-shard token transfer
                token(tx(4, a, b, 500, 3), 1), // more tokens than held
                token(tx(5, a, b, 1, 4), 2),   // no such token
            ],
            &mut out,
        );
        assert_eq!((balance(&l, a, 1), balance(&l, b, 1)), (50, 140));
        assert_eq!((balance(&l, a, NATIVE), balance(&l, b, NATIVE)), (95, 105));
        assert_eq!(
            l.get(Key::Account(l.local(a).unwrap()))[NONCE],
            4,
            "the rejected unknown-asset transfer kept nonce 4"
        );
        assert_eq!(out.committed, vec![1, 2]);
        assert_eq!(out.outgoing[1], vec![Receipt::credit(3, z, 10, 1)]);
        assert_eq!(
            out.rejected_reason,
            vec![
                RejectReason::InsufficientBalance.code(),
                RejectReason::UnknownAccount.code()
            ]
        );
        assert_eq!((l.total(1), l.total(NATIVE)), (tokens - 10, native));
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
    fn receipts_apply_forward_refund_or_fail_and_count_on_their_channel() {
        let (mut l, a, _, z) = setup();
        let p = l.placement();
        let native = l.balance_total();
        let pool = (0..4)
            .find(|&i| p.shard_of_object(cross_shard::Object::Pool(i)) == 0)
            .unwrap();
        let proposal = (0..4)
            .find(|&i| p.shard_of_object(cross_shard::Object::Proposal(i)) == 0)
            .unwrap();
        let r = |tx, effect| (1, Receipt { tx, effect });
        let rs = [
            (1, Receipt::credit(9, a, 5, NATIVE)),
            (1, Receipt::credit(10, z, 5, NATIVE)), // not an account of this shard
            (1, Receipt::credit(11, a, 7, 1)),
            (1, Receipt::credit(12, a, 7, 9)), // no such asset
            r(
                13,
                Effect::Swap {
                    trader: z,
                    pool,
                    asset_in: NATIVE,
                    amount_in: 50,
                    min_out: 1,
                },
            ),
            r(
                14,
                Effect::Refund {
                    to: a,
                    asset: NATIVE,
                    amount: 3,
                    reason: RejectReason::Slippage,
                },
            ),
            r(
                15,
                Effect::Vote {
                    voter: z,
                    proposal,
                    yes: true,
                },
            ),
            r(
                16,
                Effect::Vote {
                    voter: z,
                    proposal,
                    yes: true,
                },
            ),
        ];
        let mut applied = vec![vec![(0, 0); 2]; 2];
        let mut out = BlockOutput::new(2);
        apply_receipts(&mut l, &rs, &mut applied, &mut out);
        assert_eq!(applied, vec![vec![(0, 0), (5, 58)], vec![(0, 0), (1, 7)]]);
        assert_eq!(out.receipts_applied, vec![9, 11, 15]);
        assert_eq!(out.receipts_misplaced, 2);
        assert_eq!(out.forwarded, vec![13]);
        assert_eq!(out.refunds_applied, vec![14]);
        assert_eq!(out.failed, vec![16]);
        assert_eq!(out.failed_reason, vec![RejectReason::AlreadyVoted.code()]);
        let Effect::Credit { to, asset, .. } = out.outgoing[1][0].effect else {
            panic!("the swap's output goes back to the trader");
        };
        assert_eq!((to, asset), (z, 1));
        assert_eq!(l.balance_total(), native + 5 + 50 + 3);
    }
}
