//! The EVM's executors: a block's calls and receipts run as EVM transactions over the
//! shard's state, with the native programs' outcomes ([`super::calls`],
//! [`super::deliver`]).
//!
//! ```text
//!  EvmSequential   one revm for the whole block over the ledger; each call's changes
//!                  committed into it before the next runs (the reference)
//!  EvmBlockStm     Block-STM (crate::exec::blockstm) with the EVM as its runner: every
//!                  read of revm goes through the multi-version memory, writes come
//!                  from revm's state diff
//!  EvmParallel     conflict-free waves by declared keys (crate::exec::parallel), each
//!                  key a call touches checked against its declaration: one undeclared
//!                  key, and the block runs sequentially instead (counted)
//! ```
//!
//! Receipts are delivered by the sequential rule in all three (step 1 of a block is
//! sequential in every executor).

use cross_shard::{Effect, Tx, TxId};
use revm::context::TxEnv;
use revm::context_interface::ContextTr;
use revm::context_interface::result::ExecutionResult;
use revm::{ExecuteCommitEvm, ExecuteEvm};

use super::bridge::{self, BridgedEvm};
use super::calls::{self, Machine};
pub use super::calls::{EvmError, MAX_CALL_GAS, gas_limit, standin_gas, within_gas};
use super::deliver;
use super::state::{BlockDb, Layout, LedgerDb, Owned, Preimage, apply};
use crate::exec::blockstm::{Runner, Worker};
use crate::exec::{BlockExecutor, BlockOutput, ExecStats, Mismatch, predict};
use crate::programs::{End, Outcome};
use crate::state::{Ledger, State};

/// One revm for a whole block, over the ledger.
struct BlockEvm<'a> {
    evm: BridgedEvm<BlockDb<'a>>,
}

impl<'a> BlockEvm<'a> {
    fn new(ledger: &'a mut Ledger, layout: &'a Layout) -> BlockEvm<'a> {
        let world = *ledger.world();
        let db = BlockDb {
            ledger,
            layout,
            pre: Preimage::None,
            error: None,
        };
        BlockEvm {
            evm: bridge::evm(db, Some(world)),
        }
    }
}

impl Machine for BlockEvm<'_> {
    type S = Ledger;

    fn state(&mut self) -> &mut Ledger {
        self.evm.ctx.db_mut().ledger
    }

    fn run(&mut self, id: u64, env: TxEnv, pre: Preimage) -> Result<ExecutionResult, EvmError> {
        self.evm.ctx.db_mut().pre = pre;
        let result = self
            .evm
            .transact_commit(env)
            .map_err(|e| refused(id, e.to_string()))?;
        if let Some(source) = self.evm.ctx.db_mut().error.take() {
            return Err(EvmError::State { tx: id, source });
        }
        Ok(result)
    }
}

fn refused(tx: u64, why: String) -> EvmError {
    EvmError::Refused { tx, why }
}

/// Executes `txs` one after another on the EVM over `ledger`, every outcome into `out`
/// as the native programs would record it, with the gas each used (0 for a refusal
/// before execution). One EVM serves the block.
pub fn execute(
    ledger: &mut Ledger,
    layout: &Layout,
    txs: &[Tx],
    out: &mut BlockOutput,
) -> Result<(), EvmError> {
    let mut m = BlockEvm::new(ledger, layout);
    for tx in txs {
        let (outcome, used) = calls::call(&mut m, tx)?;
        out.record(tx.id, outcome);
        out.gas.push((tx.id, used));
    }
    Ok(())
}

/// Delivers receipts' `effects` on the EVM over `ledger`, one after another with one
/// revm, pushing how each ended and its gas onto `ends`.
pub fn deliver(
    ledger: &mut Ledger,
    layout: &Layout,
    effects: &[(TxId, Effect)],
    ends: &mut Vec<(End, u64)>,
) -> Result<(), EvmError> {
    if effects.is_empty() {
        return Ok(());
    }
    let mut m = BlockEvm::new(ledger, layout);
    for &(tx, effect) in effects {
        ends.push(deliver::deliver(&mut m, tx, effect)?);
    }
    Ok(())
}

/// The EVM as Block-STM's [`Runner`]: the same calls, the same outcomes, run in
/// parallel over the multi-version memory.
struct EvmRunner<'a> {
    layout: &'a Layout,
    /// The error of each transaction's latest incarnation, if it failed…
    failed: std::sync::Mutex<rustc_hash::FxHashMap<TxId, EvmError>>,
    /// …and whether any ever did: calls that succeed take the lock only then.
    any_failed: std::sync::atomic::AtomicBool,
}

impl<'a> EvmRunner<'a> {
    fn new(layout: &'a Layout) -> EvmRunner<'a> {
        EvmRunner {
            layout,
            failed: Default::default(),
            any_failed: Default::default(),
        }
    }

    /// The error of a transaction whose final incarnation failed, if one did.
    fn first_failure(self) -> Option<EvmError> {
        let failed = self.failed.into_inner().unwrap_or_else(|p| p.into_inner());
        failed.into_values().next()
    }

    /// What a call's result becomes: its outcome, its error kept for the end of the block.
    fn settle(&self, tx: &Tx, result: Result<(Outcome, u64), EvmError>) -> (Outcome, u64) {
        use std::sync::atomic::Ordering::SeqCst;
        match result {
            Ok(done) => {
                if self.any_failed.load(SeqCst) {
                    cross_shard::sync::lock(&self.failed).remove(&tx.id);
                }
                done
            }
            Err(e) => {
                // An incarnation may read a state no sequential run reaches, and
                // Block-STM then validates it away and runs it again; only a failure of
                // the final incarnation is an error (`blockstm`).
                let mut failed = cross_shard::sync::lock(&self.failed);
                self.any_failed.store(true, SeqCst);
                failed.insert(tx.id, e);
                (
                    Outcome::Rejected(cross_shard::RejectReason::UnknownObject),
                    0,
                )
            }
        }
    }
}

/// A worker thread's EVM (Block-STM's, or the parallel executor's for its share of a
/// wave): one revm, its database the worker's view, reset by the executor between
/// calls — not a revm per call.
pub struct EvmWorker<'a, V: State> {
    runner: &'a EvmRunner<'a>,
    evm: BridgedEvm<LedgerDb<'a, Owned<V>>>,
}

/// [`Machine`] over a worker's revm and its view.
struct WorkerMachine<'w, 'a, V: State>(&'w mut EvmWorker<'a, V>);

impl<V: State> Machine for WorkerMachine<'_, '_, V> {
    type S = V;

    fn state(&mut self) -> &mut V {
        &mut self.0.evm.ctx.journaled_state.database.base.0
    }

    fn run(&mut self, id: u64, env: TxEnv, pre: Preimage) -> Result<ExecutionResult, EvmError> {
        let layout = self.0.runner.layout;
        let evm = &mut self.0.evm;
        evm.ctx.journaled_state.database.pre = pre;
        let result = evm.transact(env).map_err(|e| refused(id, e.to_string()))?;
        let view = &mut evm.ctx.journaled_state.database.base.0;
        apply(view, layout, pre, &result.state)
            .map_err(|source| EvmError::State { tx: id, source })?;
        Ok(result.result)
    }
}

impl<V: State> Worker<V> for EvmWorker<'_, V> {
    fn view(&mut self) -> &mut V {
        &mut self.evm.ctx.journaled_state.database.base.0
    }

    fn run(&mut self, tx: &Tx) -> (Outcome, u64) {
        let result = calls::call(&mut WorkerMachine(self), tx);
        self.runner.settle(tx, result)
    }
}

impl<'r> Runner for EvmRunner<'r> {
    type Worker<'a, V: State + 'a>
        = EvmWorker<'a, V>
    where
        Self: 'a;

    fn meters_gas(&self) -> bool {
        true
    }

    fn worker<'a, V: State + 'a>(&'a self, view: V) -> EvmWorker<'a, V> {
        let world = *view.world();
        let db = LedgerDb {
            base: Owned(view),
            layout: self.layout,
            pre: Preimage::None,
        };
        EvmWorker {
            runner: self,
            evm: bridge::evm(db, Some(world)),
        }
    }
}

/// Executes `txs` with Block-STM over the EVM on `threads` threads: the same outcomes
/// and state as [`execute`]. A call whose final incarnation failed is an error, never a
/// silent outcome.
pub fn blockstm(
    ledger: &mut Ledger,
    layout: &Layout,
    txs: &[Tx],
    out: &mut BlockOutput,
    threads: usize,
) -> Result<crate::exec::blockstm::Stats, EvmError> {
    let runner = EvmRunner::new(layout);
    let stats = crate::exec::blockstm::execute_with(&runner, ledger, txs, out, threads);
    match runner.first_failure() {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

/// Receipt delivery on the EVM, shared by the EVM executors: an error is a shard
/// fault (the mapping and the contracts disagree), stopping it as a mismatch would.
fn deliver_or_stop(
    ledger: &mut Ledger,
    layout: &Layout,
    effects: &[(TxId, Effect)],
    ends: &mut Vec<(End, u64)>,
) -> Result<(), Mismatch> {
    deliver(ledger, layout, effects, ends).map_err(|e| {
        tracing::error!("EVM receipt failed: {e}");
        Mismatch
    })
}

/// [`execute`] as the shard's [`BlockExecutor`] under `vm = "evm"`.
#[derive(Debug)]
pub struct EvmSequential {
    /// The shard's EVM layout, built at start-up.
    pub layout: Layout,
}

impl EvmSequential {
    /// The sequential EVM executor over `layout`.
    pub fn new(layout: Layout) -> EvmSequential {
        EvmSequential { layout }
    }
}

impl BlockExecutor for EvmSequential {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        sequential(ledger, &self.layout, txs, out)
    }

    fn threads(&self) -> usize {
        1
    }

    fn deliver(
        &mut self,
        ledger: &mut Ledger,
        effects: &[(TxId, Effect)],
        ends: &mut Vec<(End, u64)>,
    ) -> Result<(), Mismatch> {
        deliver_or_stop(ledger, &self.layout, effects, ends)
    }

    fn dry_deliver(&self, ledger: &Ledger, tx: TxId, effect: Effect) -> End {
        dry_deliver(ledger, &self.layout, tx, effect)
    }
}

/// Block-STM over the EVM as the shard's [`BlockExecutor`].
#[derive(Debug)]
pub struct EvmBlockStm {
    /// The shard's EVM layout.
    pub layout: Layout,
    /// Worker threads.
    pub threads: usize,
    /// Run a block sequentially when Block-STM is predicted not to pay
    /// ([`predict::evm_pays`]).
    pub predict: bool,
}

impl EvmBlockStm {
    /// Block-STM over `layout` on `threads` threads, predicting.
    pub fn new(layout: Layout, threads: usize) -> EvmBlockStm {
        EvmBlockStm {
            layout,
            threads: threads.max(1),
            predict: true,
        }
    }
}

/// A two-phase participant's dry run of `effect` on the EVM, over a view of `ledger`
/// whose writes are thrown away. A call the mapping refuses is a vote against (the
/// real delivery, should it come, stops the shard as every EVM error does).
fn dry_deliver(ledger: &Ledger, layout: &Layout, tx: TxId, effect: Effect) -> End {
    let runner = EvmRunner::new(layout);
    let mut worker = runner.worker(crate::state::Buffered::new(ledger, Vec::new()));
    match deliver::deliver(&mut WorkerMachine(&mut worker), tx, effect) {
        Ok((end, _)) => end,
        Err(e) => {
            tracing::error!("EVM dry run of a prepare failed: {e}");
            End::Misplaced
        }
    }
}

/// [`execute`] as an executor's block: an error is a shard fault (the mapping and the
/// contracts disagree), stopping the shard as a mismatch would.
fn sequential(
    ledger: &mut Ledger,
    layout: &Layout,
    txs: &[Tx],
    out: &mut BlockOutput,
) -> Result<ExecStats, Mismatch> {
    execute(ledger, layout, txs, out).map_err(|e| {
        tracing::error!("EVM block failed: {e}");
        Mismatch
    })?;
    Ok(ExecStats::default())
}

/// The sequential EVM for a block an executor predicted it would lose on.
fn fall_back(
    ledger: &mut Ledger,
    layout: &Layout,
    txs: &[Tx],
    out: &mut BlockOutput,
) -> Result<ExecStats, Mismatch> {
    Ok(ExecStats {
        fell_back: true,
        ..sequential(ledger, layout, txs, out)?
    })
}

impl BlockExecutor for EvmBlockStm {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        if self.predict && !predict::evm_pays(ledger, txs, predict::cores(self.threads)) {
            return fall_back(ledger, &self.layout, txs, out);
        }
        let stats = blockstm(ledger, &self.layout, txs, out, self.threads).map_err(|e| {
            tracing::error!("EVM block failed: {e}");
            Mismatch
        })?;
        Ok(ExecStats {
            dependent: Some(stats.dependent),
            reexecuted: Some(stats.reexecuted),
            fell_back: false,
            undeclared: false,
        })
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn deliver(
        &mut self,
        ledger: &mut Ledger,
        effects: &[(TxId, Effect)],
        ends: &mut Vec<(End, u64)>,
    ) -> Result<(), Mismatch> {
        deliver_or_stop(ledger, &self.layout, effects, ends)
    }

    fn dry_deliver(&self, ledger: &Ledger, tx: TxId, effect: Effect) -> End {
        dry_deliver(ledger, &self.layout, tx, effect)
    }
}

/// The parallel executor over the EVM: conflict-free waves by each call's declared
/// keys (the keys its fields name, as an EIP-2930 access list names slots), every key a
/// call touches checked against them. A call that touches one it did not declare makes
/// the block run sequentially instead (`ExecStats::undeclared`, counted per shard): the
/// contracts, not the declaration, decide what a call touches.
#[derive(Debug)]
pub struct EvmParallel {
    /// The shard's EVM layout.
    pub layout: Layout,
    /// Threads a wave is shared out on.
    pub threads: usize,
    /// What each call declares ([`crate::exec::parallel::declared`]; a test passes one
    /// that leaves a key out).
    pub declare: crate::exec::parallel::Declare,
    /// Run a block sequentially when waves are predicted not to pay
    /// ([`predict::evm_pays`]).
    pub predict: bool,
}

impl EvmParallel {
    /// The parallel EVM executor over `layout` on `threads` threads, predicting.
    pub fn new(layout: Layout, threads: usize) -> EvmParallel {
        EvmParallel {
            layout,
            threads: threads.max(1),
            declare: crate::exec::parallel::declared,
            predict: true,
        }
    }
}

impl BlockExecutor for EvmParallel {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        if self.predict && !predict::evm_pays(ledger, txs, predict::cores(self.threads)) {
            return fall_back(ledger, &self.layout, txs, out);
        }
        let stop = |e: EvmError| {
            tracing::error!("EVM block failed: {e}");
            Mismatch
        };
        let runner = EvmRunner::new(&self.layout);
        let checked = crate::exec::parallel::execute_checked(
            &runner,
            self.declare,
            ledger,
            txs,
            out,
            self.threads,
        );
        match checked {
            Ok(dependent) => {
                if let Some(e) = runner.first_failure() {
                    return Err(stop(e));
                }
                Ok(ExecStats {
                    dependent: Some(dependent),
                    ..ExecStats::default()
                })
            }
            Err(undeclared) => {
                tracing::debug!(
                    tx = undeclared.tx,
                    "an undeclared key: the block runs sequentially"
                );
                Ok(ExecStats {
                    undeclared: true,
                    ..sequential(ledger, &self.layout, txs, out)?
                })
            }
        }
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn deliver(
        &mut self,
        ledger: &mut Ledger,
        effects: &[(TxId, Effect)],
        ends: &mut Vec<(End, u64)>,
    ) -> Result<(), Mismatch> {
        deliver_or_stop(ledger, &self.layout, effects, ends)
    }

    fn dry_deliver(&self, ledger: &Ledger, tx: TxId, effect: Effect) -> End {
        dry_deliver(ledger, &self.layout, tx, effect)
    }
}

/// The EVM executor a shard was configured with (`verify` checks it against the
/// sequential EVM on every block).
pub fn for_config(
    executor: crate::Executor,
    threads: usize,
    (verify, predict): (bool, bool),
    layout: Layout,
) -> Box<dyn BlockExecutor> {
    let reference = || EvmSequential::new(layout.clone());
    let blockstm = |layout| EvmBlockStm {
        predict,
        ..EvmBlockStm::new(layout, threads)
    };
    let parallel = |layout| EvmParallel {
        predict,
        ..EvmParallel::new(layout, threads)
    };
    match (executor, verify) {
        (crate::Executor::Sequential, _) => Box::new(reference()),
        (crate::Executor::BlockStm, false) => Box::new(blockstm(layout)),
        (crate::Executor::BlockStm, true) => Box::new(crate::exec::Verified::against(
            blockstm(layout.clone()),
            reference(),
        )),
        (crate::Executor::Parallel, false) => Box::new(parallel(layout)),
        (crate::Executor::Parallel, true) => Box::new(crate::exec::Verified::against(
            parallel(layout.clone()),
            reference(),
        )),
    }
}

#[cfg(test)]
mod tests {
    //! The differential test across VMs: random blocks of transfers and token transfers
    //! among one shard's accounts — wrong nonces, overdrafts, unknown recipients among
    //! them — natively and on the EVM, from the same genesis: the same outcomes with the
    //! same reasons, and the same state root.

    use super::*;
    use crate::exec;
    use crate::state::tests::world;
    use cross_shard::Call;
    use proptest::prelude::*;

    const ACCOUNTS: u64 = 12;

    fn genesis() -> (Ledger, Layout) {
        let mut w = world(0, 1, ACCOUNTS, 1);
        w.pools = 0;
        let ledger = Ledger::genesis(w, 100);
        let layout = Layout::new(ledger.world()).unwrap();
        (ledger, layout)
    }

    /// (sender, recipient (≥ ACCOUNTS: unknown), asset, amount, wrong nonce)
    type Pick = (u64, u64, u32, u64, bool);

    fn block(picks: &[Pick]) -> Vec<Tx> {
        let mut nonces = [0u64; ACCOUNTS as usize];
        picks
            .iter()
            .enumerate()
            .map(|(i, &(from, to, asset, amount, bad))| {
                let n = &mut nonces[from as usize];
                let nonce = if bad { *n + 5 } else { *n };
                // Every call that passes the nonce check consumes it.
                let known = to < ACCOUNTS;
                if !bad && known {
                    *n += 1;
                }
                Tx {
                    id: i as u64,
                    from,
                    nonce,
                    call: Call::Transfer { to, asset, amount },
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn the_evm_and_the_native_programs_agree_on_every_block(
            picks in proptest::collection::vec(
                (0..ACCOUNTS, 0..ACCOUNTS + 2, 0u32..2, 1u64..150, proptest::bool::weighted(0.1)),
                1..40,
            )
        ) {
            let (genesis, layout) = genesis();
            let txs = block(&picks);
            let mut native = genesis.clone();
            let mut n_out = BlockOutput::new(1);
            exec::execute(&mut native, &txs, &mut n_out);
            let mut evm = genesis.clone();
            let mut e_out = BlockOutput::new(1);
            execute(&mut evm, &layout, &txs, &mut e_out).unwrap();
            prop_assert_eq!(&e_out.without_gas(), &n_out, "outcomes and reasons");
            prop_assert_eq!(e_out.gas.len(), txs.len(), "every transaction's gas");
            prop_assert_eq!(evm.state_root(), native.state_root(), "state root");
            prop_assert_eq!(evm.total(1), genesis.total(1), "token supply");
            for &(tx, g) in &e_out.gas {
                if e_out.committed.contains(&tx) {
                    prop_assert!(g >= 21_000, "a committed call burned gas");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Block-STM running the EVM (every read of revm through its multi-version
        /// memory, writes from revm's state diff) equals the sequential EVM executor
        /// at 1, 2 and 4 threads: outcomes, reasons, state root — on a dozen accounts,
        /// so calls conflict and re-execute.
        #[test]
        fn blockstm_on_the_evm_equals_the_sequential_evm(
            picks in proptest::collection::vec(
                (0..ACCOUNTS, 0..ACCOUNTS, 0u32..2, 1u64..150, proptest::bool::weighted(0.05)),
                1..40,
            )
        ) {
            let (genesis, layout) = genesis();
            let txs = block(&picks);
            let mut seq = genesis.clone();
            let mut s_out = BlockOutput::new(1);
            execute(&mut seq, &layout, &txs, &mut s_out).unwrap();
            for threads in [1, 2, 4] {
                let mut par = genesis.clone();
                let mut p_out = BlockOutput::new(1);
                blockstm(&mut par, &layout, &txs, &mut p_out, threads).unwrap();
                prop_assert_eq!(&p_out, &s_out, "outcomes at {} threads", threads);
                prop_assert_eq!(par.state_root(), seq.state_root(), "state root at {} threads", threads);
            }
        }
    }

    /// A stand-in call burns its trace's gas, all but the contract's margin of 2,000;
    /// a call that cost less in its trace is charged the stand-in's least.
    #[test]
    fn a_stand_in_call_burns_its_traces_gas() {
        let (genesis, layout) = genesis();
        let invoke = |id, gas| Tx {
            id,
            from: 1,
            nonce: id,
            call: Call::Invoke {
                contract: 2,
                value: 5,
                gas,
            },
        };
        let txs = [invoke(0, 300_000), invoke(1, 30_000)];
        let mut out = BlockOutput::new(1);
        execute(&mut genesis.clone(), &layout, &txs, &mut out).unwrap();
        assert_eq!(out.committed, vec![0, 1]);
        let used: Vec<u64> = out.gas.iter().map(|g| g.1).collect();
        assert!((297_000..=300_000).contains(&used[0]), "{used:?}");
        let least = super::super::calls::STANDIN_MIN_GAS;
        assert!((least - 3_000..=least).contains(&used[1]), "{used:?}");
    }

    /// A call that fails on the final state is an error in both executors, not an
    /// outcome: here the layout is built for a cluster of 3 accounts, so it leaves out
    /// account 3's token slot, and a transfer to it writes a slot the mapping does not
    /// hold.
    #[test]
    fn a_call_the_mapping_refuses_fails_the_block_in_both_executors() {
        let mut w = world(0, 1, ACCOUNTS, 1);
        w.pools = 0;
        let genesis = Ledger::genesis(w, 100);
        let layout = Layout::new(&crate::state::World { accounts: 3, ..w }).unwrap();
        let txs = block(&[(1, 3, 1, 5, false)]);
        let mut out = BlockOutput::new(1);
        let e = execute(&mut genesis.clone(), &layout, &txs, &mut out).unwrap_err();
        assert!(matches!(e, EvmError::State { tx: 0, .. }), "{e}");
        let mut out = BlockOutput::new(1);
        let e = blockstm(&mut genesis.clone(), &layout, &txs, &mut out, 2).unwrap_err();
        assert!(matches!(e, EvmError::State { tx: 0, .. }), "{e}");
    }
}
