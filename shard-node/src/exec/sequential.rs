//! The sequential executor: one transaction after another — the reference semantics
//! every other executor must reproduce exactly.

use crate::exec::{BlockExecutor, BlockOutput, ExecStats, Mismatch};
use crate::programs;
use crate::state::Ledger;

/// Step 2, the reference: executes `txs` one after another against `ledger`.
pub fn execute(ledger: &mut Ledger, txs: &[cross_shard::Tx], out: &mut BlockOutput) {
    for tx in txs {
        let outcome = programs::execute_one(ledger, tx);
        out.record(tx.id, outcome);
    }
}

/// [`execute`] as a [`BlockExecutor`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequential;

impl BlockExecutor for Sequential {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[cross_shard::Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        execute(ledger, txs, out);
        // The sequential executor does not schedule, so it learns no dependencies.
        Ok(ExecStats::default())
    }

    fn threads(&self) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::apply_receipts;
    use crate::state::tests::world;
    use crate::state::{BALANCE, Key, NONCE, State};
    use cross_shard::ids::NATIVE;
    use cross_shard::{Call, Effect, Placement, Receipt, RejectReason, Tx};

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
        apply_receipts(
            &mut crate::exec::Sequential,
            &mut l,
            &rs,
            &mut applied,
            &mut out,
        )
        .unwrap();
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
