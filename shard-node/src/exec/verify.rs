//! `verify_executor`: an executor checked against the reference on every block.
//!
//! ```text
//!   ledger ──clone──► Sequential ──► (root, output)  ─┐
//!      └────────────► inner E    ──► (root, output)  ─┴─ equal? else Mismatch
//! ```
//!
//! Every receipt, outcome and reason, and the state root, must be equal. A wrapper,
//! so the pipeline needs no `if verify` of its own.

use cross_shard::Tx;

use crate::exec::{BlockExecutor, BlockOutput, ExecStats, Mismatch, execute};
use crate::state::Ledger;

/// `inner`, with the sequential executor run beside it on a copy of the state.
#[derive(Debug, Clone)]
pub struct Verified<E> {
    inner: E,
}

impl<E> Verified<E> {
    /// Wraps `inner`.
    pub fn new(inner: E) -> Verified<E> {
        Verified { inner }
    }
}

impl<E: BlockExecutor> BlockExecutor for Verified<E> {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        let mut reference = ledger.clone();
        let mut expected = out.clone();
        execute(&mut reference, txs, &mut expected);
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
}

#[cfg(test)]
mod tests {
    use super::*;
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
