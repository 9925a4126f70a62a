//! What a block produced: every outcome, reason and outgoing receipt, in block order —
//! the one structure every executor fills and every executor is compared on.

use cross_shard::{Receipt, RejectReason, TxId};

use crate::programs::Outcome;

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
    /// Two-phase: settlements applied here as the home shard after a decision (see
    /// `protocol::two_phase::back`).
    pub settlements_applied: u64,
    /// Under the EVM, each transaction's gas, in block order (0 for one refused before
    /// it ran); empty for the native programs, which burn none.
    pub gas: Vec<(TxId, u64)>,
    /// Under the EVM, the gas the block's receipts (their calls from the bridge) burnt.
    pub receipt_gas: u64,
    /// Migration: transactions refused because their sender has moved to another
    /// shard (handed back whole, for the driver to send there).
    pub moved: Vec<cross_shard::Tx>,
    /// Migration: the accounts this block let go (its switch), each with its new
    /// shard…
    pub exported: Vec<(cross_shard::AccountId, cross_shard::ShardId)>,
    /// …and the bytes of the migration receipts it emitted (its share of the export).
    pub exported_bytes: u64,
    /// Migration: the accounts whose move completed here (their `Arrive` applied).
    pub imported: Vec<cross_shard::AccountId>,
    /// The epoch this block switched to, if it did.
    pub switched_epoch: Option<u32>,
    /// The beacon height the block saw.
    pub beacon_height: u64,
    /// Migration receipts applied (no transaction's).
    pub migration_applied: u64,
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
    pub fn decided(&mut self, tx: TxId, verdict: cross_shard::two_phase::Verdict) {
        match verdict {
            cross_shard::two_phase::Verdict::Commit { .. } => self.tp_committed.push(tx),
            cross_shard::two_phase::Verdict::Abort(why) => {
                self.tp_aborted.push(tx);
                self.tp_abort_reason.push(why.code());
            }
        }
    }

    /// The output without its gas: what the native programs, which burn none, are
    /// compared on.
    pub fn without_gas(&self) -> BlockOutput {
        BlockOutput {
            gas: Vec::new(),
            receipt_gas: 0,
            ..self.clone()
        }
    }

    /// Gas the block burnt: its transactions' and its receipts'.
    pub fn gas_used(&self) -> u64 {
        self.receipt_gas + self.gas.iter().map(|g| g.1).sum::<u64>()
    }

    /// The transactions' gas by program ([`cross_shard::Program`] order); `txs` are the
    /// block's transactions in the order they ran, with any that did not run among them
    /// (a moved sender's calls, handed back): gas is recorded in that order, so each
    /// entry's transaction is found by walking on.
    pub fn gas_by_program(
        &self,
        txs: &[cross_shard::Tx],
    ) -> [u64; cross_shard::Program::ALL.len()] {
        let mut by = [0u64; cross_shard::Program::ALL.len()];
        let mut txs = txs.iter();
        for &(id, g) in &self.gas {
            let tx = txs.find(|t| t.id == id);
            debug_assert!(tx.is_some(), "gas is recorded in block order");
            if let Some(tx) = tx {
                by[tx.call.program() as usize] += g;
            }
        }
        by
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

#[cfg(test)]
mod tests {
    use super::*;
    use cross_shard::{Call, Program, Tx};

    /// A moved sender's call is in the block's list but never ran: the gas of the calls
    /// after it still goes to their own programs.
    #[test]
    fn gas_by_program_walks_past_calls_that_did_not_run() {
        let tx = |id, call| Tx {
            id,
            from: id,
            nonce: 0,
            call,
        };
        let transfer = Call::Transfer {
            to: 9,
            asset: 0,
            amount: 1,
        };
        let invoke = Call::Invoke {
            contract: 9,
            value: 0,
            gas: 500_000,
        };
        let txs = [tx(1, transfer), tx(2, transfer), tx(3, invoke)];
        let mut out = BlockOutput::new(1);
        out.gas = vec![(1, 21_000), (3, 500_000)];
        let by = out.gas_by_program(&txs);
        assert_eq!(by[Program::Transfer as usize], 21_000);
        assert_eq!(by[Program::Call as usize], 500_000);
    }
}
