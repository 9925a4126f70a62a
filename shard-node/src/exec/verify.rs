//! `verify_executor`: an executor checked against the reference on every block.
//!
//! ```text
//!   ledger ──clone──► Sequential ──► (root, output)  ─┐
//!      └────────────► inner E    ──► (root, output)  ─┴─ equal? else Mismatch
//! ```
//!
//! Every receipt, outcome and reason, and the state root, must be equal. A wrapper,
//! so the pipeline needs no `if verify` of its own. The reference is the native
//! [`Sequential`] executor, or under `vm = "evm"` the sequential EVM
//! (`crate::vm::exec::EvmSequential`).

use cross_shard::{Effect, Tx, TxId};

use crate::programs::End;

use crate::exec::{BlockExecutor, BlockOutput, ExecStats, Mismatch, Sequential};
use crate::state::Ledger;

/// `inner`, with the sequential executor `R` run beside it on a copy of the state.
#[derive(Debug, Clone)]
pub struct Verified<E, R = Sequential> {
    inner: E,
    reference: R,
}

impl<E> Verified<E> {
    /// Wraps `inner`, checked against the native sequential executor.
    pub fn new(inner: E) -> Verified<E> {
        Verified {
            inner,
            reference: Sequential,
        }
    }
}

impl<E, R> Verified<E, R> {
    /// Wraps `inner`, checked against `reference`.
    pub fn against(inner: E, reference: R) -> Verified<E, R> {
        Verified { inner, reference }
    }
}

impl<E: BlockExecutor, R: BlockExecutor> BlockExecutor for Verified<E, R> {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        let mut reference = ledger.clone();
        let mut expected = out.clone();
        self.reference.execute(&mut reference, txs, &mut expected)?;
        let stats = self.inner.execute(ledger, txs, out)?;
        ledger.commit(self.inner.threads());
        if reference.state_root() != ledger.state_root() || expected != *out {
            return Err(Mismatch);
        }
        Ok(stats)
    }

    fn threads(&self) -> usize {
        self.inner.threads()
    }

    fn deliver(
        &mut self,
        ledger: &mut Ledger,
        effects: &[(TxId, Effect)],
        ends: &mut Vec<(End, u64)>,
    ) -> Result<(), Mismatch> {
        // Receipts are applied the same way by every executor: by the reference's rule.
        self.reference.deliver(ledger, effects, ends)
    }

    fn dry_deliver(&self, ledger: &Ledger, tx: TxId, effect: Effect) -> End {
        self.reference.dry_deliver(ledger, tx, effect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::execute;
    use crate::state::tests::world;

    /// An executor that runs the reference and then loses the last outcome.
    struct Forgetful;

    impl BlockExecutor for Forgetful {
        fn execute(
            &mut self,
            ledger: &mut Ledger,
            txs: &[Tx],
            out: &mut BlockOutput,
        ) -> Result<ExecStats, Mismatch> {
            execute(ledger, txs, out);
            out.committed.pop();
            Ok(ExecStats::default())
        }

        fn threads(&self) -> usize {
            1
        }
    }

    #[test]
    fn a_disagreeing_executor_is_caught_and_an_agreeing_one_passes() {
        let genesis = Ledger::genesis(world(0, 1, 10, 1), 100);
        let txs: Vec<Tx> = (0..3)
            .map(|i| Tx {
                id: i,
                from: i,
                nonce: 0,
                call: cross_shard::Call::Transfer {
                    to: 9,
                    asset: 0,
                    amount: 1,
                },
            })
            .collect();
        let mut l = genesis.clone();
        let mut out = BlockOutput::new(1);
        assert_eq!(
            Verified::new(Forgetful).execute(&mut l, &txs, &mut out),
            Err(Mismatch)
        );
        let mut l = genesis.clone();
        let mut out = BlockOutput::new(1);
        let parallel = crate::exec::parallel::Parallel::new(2);
        assert!(
            Verified::new(parallel)
                .execute(&mut l, &txs, &mut out)
                .is_ok()
        );
        assert_eq!(out.committed, vec![0, 1, 2]);
    }
}
