//! # Executors: how a block's transactions run
//!
//! Every executor runs the same programs ([`crate::programs`]) and must produce the
//! same [`BlockOutput`] and the same state as the sequential one, the reference.
//!
//! A block does two things, in this order (DESIGN §3, steps 3 and 4):
//! 1. **apply inbound receipts**, in channel order: each receipt's effect is delivered
//!    here ([`crate::programs::deliver`]) — a credit, a refund, the pool side of a swap, the
//!    collection side of a mint, a vote — and whatever it sends on becomes an outgoing
//!    receipt;
//! 2. **execute transactions**, in mempool order ([`crate::programs::execute_one`]).
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

//!
//! ```text
//!   trait BlockExecutor
//!     ├── Sequential          one after another (the reference)
//!     ├── Parallel            conflict-free waves by declared keys, on threads
//!     ├── BlockStm            optimistic, multi-version memory, re-execution
//!     └── Verified<E>         E beside Sequential on a copy; any difference is an error
//! ```
//!
//! An executor is chosen once, at start-up, from [`crate::Executor`] ([`for_config`]);
//! the block pipeline only sees the trait. This module may not touch I/O, the wire
//! format or the block pipeline; it reads and writes a [`Ledger`] and nothing else.

pub mod blockstm;
#[cfg(test)]
mod differential;
mod output;
pub mod parallel;
pub mod predict;
mod receipts;
mod sequential;
mod verify;

use cross_shard::{Effect, Tx, TxId};

pub use output::BlockOutput;
pub use receipts::apply_receipts;
pub use sequential::{Sequential, execute};
pub use verify::Verified;

use crate::Executor;
use crate::programs::End;
use crate::state::Ledger;

/// What an executor learned while running a block, for the block's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Transactions that depended on an earlier one in the block (parallel executors).
    pub dependent: Option<usize>,
    /// Incarnations beyond each transaction's first (Block-STM).
    pub reexecuted: Option<usize>,
    /// The executor predicted a loss and ran the block sequentially ([`predict`]).
    pub fell_back: bool,
    /// A call touched a key it had not declared, so the parallel executor ran the block
    /// sequentially (under the EVM, where contracts decide what a call touches).
    pub undeclared: bool,
}

/// A [`Verified`] executor disagreed with the sequential reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the executor's block differs from the sequential executor's")]
pub struct Mismatch;

/// Runs step 2 of a block: `txs` against `ledger`, every outcome into `out` in block
/// order. The state is left with pending writes; the caller commits it.
pub trait BlockExecutor: Send {
    /// Executes the block's transactions.
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch>;
    /// Threads it uses (the state commit after it uses as many).
    fn threads(&self) -> usize;
    /// Delivers inbound receipts' effects (step 1), one after another in the order given,
    /// pushing how each ended and the gas it burnt onto `ends`: the native programs'
    /// [`crate::programs::deliver`] (no gas), unless the executor runs another VM (which
    /// then serves the whole batch with one machine).
    fn deliver(
        &mut self,
        ledger: &mut Ledger,
        effects: &[(TxId, Effect)],
        ends: &mut Vec<(End, u64)>,
    ) -> Result<(), Mismatch> {
        for &(_, effect) in effects {
            ends.push((crate::programs::deliver(ledger, effect), 0));
        }
        Ok(())
    }
    /// How delivering `effect` here would end, dry-run on a view of `ledger` whose writes
    /// are thrown away (a two-phase participant's vote), by the executor's rule.
    fn dry_deliver(&self, ledger: &Ledger, tx: TxId, effect: Effect) -> End {
        let _ = tx;
        let mut writes = Vec::new();
        let mut scratch = crate::state::Buffered::new(ledger, &mut writes);
        crate::programs::deliver(&mut scratch, effect)
    }
}

/// The executor a shard was configured with: `predict` lets a parallel executor run a
/// block sequentially when it predicts a loss ([`predict`]); `verify` wraps it in
/// [`Verified`] (the sequential executor needs no check against itself).
pub fn for_config(
    executor: Executor,
    threads: usize,
    verify: bool,
    predict: bool,
) -> Box<dyn BlockExecutor> {
    let threads = threads.max(1);
    let parallel = parallel::Parallel {
        predict,
        ..parallel::Parallel::new(threads)
    };
    let blockstm = blockstm::BlockStm { threads, predict };
    match (executor, verify) {
        (Executor::Sequential, _) => Box::new(Sequential),
        (Executor::Parallel, false) => Box::new(parallel),
        (Executor::Parallel, true) => Box::new(Verified::new(parallel)),
        (Executor::BlockStm, false) => Box::new(blockstm),
        (Executor::BlockStm, true) => Box::new(Verified::new(blockstm)),
    }
}
