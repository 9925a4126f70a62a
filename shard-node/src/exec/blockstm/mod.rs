//! The Block-STM executor: optimistic parallel execution with no declared access sets.
//!
//! Block-STM (Gelashvili et al., 2022; Aptos) runs every transaction of a block at once,
//! *guessing* that they do not conflict, and repairs the guesses. It rests on three
//! pieces:
//!
//! - a **multi-version memory**: for every key, the value each transaction `j` of the
//!   block wrote (`(j, incarnation) → value`). Transaction `i` reading a key sees the
//!   write of the highest `j < i`, or the ledger when there is none — exactly what it
//!   would see if the block ran in order, *if* those writers are final;
//! - **read-set validation**: after transaction `i` runs, it is validated by reading its
//!   read set again; if any read now resolves to a different version (an earlier
//!   transaction re-ran and wrote something else), `i` is aborted, its writes become
//!   `ESTIMATE` markers, and it runs again as a new *incarnation*;
//! - a **collaborative scheduler**: two counters, the next transaction to execute and the
//!   next to validate, which threads take tasks from; aborting `i` pulls the validation
//!   counter back to `i + 1` so every later transaction is validated again. A reader
//!   that meets an `ESTIMATE` of transaction `j` waits for `j` (it is added to `j`'s
//!   dependencies and resumed when `j` finishes) instead of running on a value that is
//!   about to change.
//!
//! ```text
//!  thread ─► next task ─┬─ execute (i, inc): run i on a view of the MV memory
//!                       │     read hits ESTIMATE of j? ── wait for j, resume later
//!                       │     record reads and writes; finish ─► maybe validate i now
//!                       └─ validate (i, inc): re-read i's reads
//!                             same versions? ─ ok
//!                             changed? ─ abort: writes → ESTIMATE, validation_idx ← i+1,
//!                                        execute (i, inc+1)
//!  done when both counters have passed the block and no task is running
//! ```
//!
//! When the block is done, each key's last write is the sequential result; the writes go
//! into the ledger and are hashed at commit like every executor's. Outcomes come from
//! each transaction's final incarnation, recorded in block order, so Block-STM's blocks
//! equal the sequential executor's (the differential tests check it). The price is the
//! bookkeeping on every read and write, and re-executions under contention, reported as
//! `reexecuted`.

use std::sync::Mutex;
use std::sync::atomic::Ordering::SeqCst;

use cross_shard::{AccountId, Tx};

use crate::exec::{BlockExecutor, BlockOutput, ExecStats, Mismatch, predict};
use crate::programs::{Outcome, execute_one};
use crate::state::{Base, Buffered, Key, Ledger, State, Value, World};
use cross_shard::sync::lock;

mod mvmemory;
mod scheduler;

use mvmemory::{Entry, MvMemory, Read, ReadSet, Version};
use scheduler::{Scheduler, Task};

/// Where an incarnation reads what it has not written: the multi-version memory, each
/// read recorded for validation (the writes are [`Buffered`]'s).
pub struct Versions<'a> {
    base: &'a Ledger,
    mv: &'a MvMemory,
    txn: usize,
    reads: ReadSet,
    /// The first `ESTIMATE` met: this incarnation's result will be thrown away.
    blocked: Option<usize>,
}

/// An incarnation's view: the multi-version memory behind its own buffered writes. A
/// worker thread keeps one for the whole block, reset for each incarnation.
pub type View<'a> = Buffered<Versions<'a>, Vec<(Key, Value)>>;

impl View<'_> {
    /// Ready for an incarnation of transaction `txn`.
    fn reset(&mut self, txn: usize) {
        self.base.txn = txn;
        self.base.reads.clear();
        self.base.blocked = None;
        self.writes.clear();
    }
}

impl Base for Versions<'_> {
    fn world(&self) -> &World {
        self.base.world()
    }
    fn local(&self, id: AccountId) -> Option<u32> {
        self.base.local(id)
    }
    fn get(&mut self, key: Key) -> Value {
        if self.blocked.is_some() {
            // The result is discarded; any value will do.
            return self.base.get(key);
        }
        match self.mv.read(key, self.txn) {
            Read::Version(version, value) => {
                self.reads.push((key, Some(version)));
                value
            }
            Read::Storage => {
                self.reads.push((key, None));
                self.base.get(key)
            }
            Read::Blocked(j) => {
                self.blocked = Some(j);
                self.base.get(key)
            }
        }
    }
}

/// What runs one transaction against a view of the state: the native programs, or
/// their contracts on the EVM (`crate::vm::exec::blockstm`). Block-STM only needs a
/// transaction's reads and writes to go through the view it is given.
///
/// Each worker thread (Block-STM's, or the parallel executor's for a wave) asks for a
/// [`Worker`] once, holding the view it will run on: what a runner builds per call (the
/// EVM: a whole revm) it builds once per thread instead, and every transaction that
/// thread runs reuses it.
pub trait Runner: Sync {
    /// A worker over views of type `V`.
    type Worker<'a, V: State + 'a>: Worker<V>
    where
        Self: 'a;
    /// The worker for a thread, over `view`.
    fn worker<'a, V: State + 'a>(&'a self, view: V) -> Self::Worker<'a, V>;
    /// Whether its calls burn gas (each transaction's is then recorded in the output).
    fn meters_gas(&self) -> bool {
        false
    }
}

/// One worker thread's runner: its view, and what runs a transaction on it.
pub trait Worker<V> {
    /// The view the next transaction runs on (the caller resets it between runs).
    fn view(&mut self) -> &mut V;
    /// Runs `tx` on the view, its outcome and gas returned, its effects written to it.
    fn run(&mut self, tx: &Tx) -> (Outcome, u64);
}

/// The native programs ([`crate::programs`]).
#[derive(Debug, Clone, Copy)]
pub struct Native;

/// The native programs' worker: just the view.
pub struct NativeWorker<V>(V);

impl<V: State> Worker<V> for NativeWorker<V> {
    fn view(&mut self) -> &mut V {
        &mut self.0
    }
    fn run(&mut self, tx: &Tx) -> (Outcome, u64) {
        (execute_one(&mut self.0, tx), 0)
    }
}

impl Runner for Native {
    type Worker<'a, V: State + 'a> = NativeWorker<V>;
    fn worker<'a, V: State + 'a>(&'a self, view: V) -> NativeWorker<V> {
        NativeWorker(view)
    }
}

/// Written keys from which a block's multi-version memory is freed on a thread of its
/// own (below, spawning one costs more than freeing).
const BACKGROUND_FREE: usize = 4096;

/// One block's shared run state.
struct Run<'a, R> {
    runner: &'a R,
    base: &'a Ledger,
    txs: &'a [Tx],
    mv: MvMemory,
    scheduler: Scheduler,
    outcomes: Vec<Mutex<Option<(Outcome, u64)>>>,
}

impl<R: Runner> Run<'_, R> {
    /// A thread's loop: take tasks until the block is done.
    fn work(&self) {
        let view = Buffered::new(
            Versions {
                base: self.base,
                mv: &self.mv,
                txn: 0,
                reads: Vec::new(),
                blocked: None,
            },
            Vec::new(),
        );
        let mut worker = self.runner.worker(view);
        let mut task = None;
        while !self.scheduler.done.load(SeqCst) {
            task = match task {
                Some(Task::Execute(version)) => self.execute(version, &mut worker),
                Some(Task::Validate(version)) => self.validate(version),
                None => {
                    let next = self.scheduler.next_task();
                    if next.is_none() {
                        std::thread::yield_now();
                    }
                    next
                }
            };
        }
    }

    fn execute<'w>(
        &'w self,
        (txn, inc): Version,
        worker: &mut R::Worker<'w, View<'w>>,
    ) -> Option<Task> {
        loop {
            worker.view().reset(txn);
            let outcome = worker.run(&self.txs[txn]);
            let view = worker.view();
            if let Some(blocking) = view.base.blocked {
                if self.scheduler.add_dependency(txn, blocking) {
                    return None;
                }
                continue; // `blocking` finished meanwhile: run again
            }
            *lock(&self.outcomes[txn]) = Some(outcome);
            let wrote_new = self
                .mv
                .record((txn, inc), &mut view.base.reads, &view.writes);
            return self.scheduler.finish_execution(txn, inc, wrote_new);
        }
    }

    fn validate(&self, (txn, inc): Version) -> Option<Task> {
        let valid = self.mv.validate_read_set(txn);
        let aborted = !valid && self.scheduler.try_validation_abort(txn, inc);
        if aborted {
            self.mv.convert_writes_to_estimates(txn);
        }
        self.scheduler.finish_validation(txn, aborted)
    }
}

/// [`execute`] as a [`BlockExecutor`].
#[derive(Debug, Clone, Copy)]
pub struct BlockStm {
    /// Worker threads.
    pub threads: usize,
    /// Run a block sequentially when optimism is predicted not to pay
    /// ([`crate::exec::predict::blockstm_pays`]).
    pub predict: bool,
}

impl BlockExecutor for BlockStm {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        if self.predict && !predict::blockstm_pays(txs, predict::cores(self.threads)) {
            crate::exec::execute(ledger, txs, out);
            return Ok(ExecStats {
                fell_back: true,
                ..ExecStats::default()
            });
        }
        let stats = execute(ledger, txs, out, self.threads);
        Ok(ExecStats {
            dependent: Some(stats.dependent),
            reexecuted: Some(stats.reexecuted),
            fell_back: false,
            ..ExecStats::default()
        })
    }

    fn threads(&self) -> usize {
        self.threads
    }
}

/// What a Block-STM block reports beside its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Transactions that read a value an earlier transaction of the block wrote.
    pub dependent: usize,
    /// Incarnations beyond each transaction's first.
    pub reexecuted: usize,
}

/// Executes `txs` with Block-STM on `threads` threads. Same results as
/// [`crate::exec::execute`].
pub fn execute(ledger: &mut Ledger, txs: &[Tx], out: &mut BlockOutput, threads: usize) -> Stats {
    execute_with(&Native, ledger, txs, out, threads)
}

/// Executes `txs` with Block-STM on `threads` threads, each transaction run by
/// `runner`. Same results as running them one after another with `runner`.
pub fn execute_with<R: Runner>(
    runner: &R,
    ledger: &mut Ledger,
    txs: &[Tx],
    out: &mut BlockOutput,
    threads: usize,
) -> Stats {
    let n = txs.len();
    let run = Run {
        runner,
        base: ledger,
        txs,
        mv: MvMemory::new(n),
        scheduler: Scheduler::new(n),
        outcomes: (0..n).map(|_| Mutex::new(None)).collect(),
    };
    if threads < 2 {
        run.work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| run.work());
            }
        });
    }
    let Run {
        mv,
        scheduler,
        outcomes,
        ..
    } = run;
    let stats = Stats {
        dependent: mv
            .reads
            .iter()
            .filter(|r| lock(r).iter().any(|(_, seen)| seen.is_some()))
            .count(),
        reexecuted: scheduler.status.iter().map(|s| lock(s).0 as usize).sum(),
    };
    // Each key's last write is the block's result for it.
    for entry in mv.data.iter() {
        if let Some(&Entry::Written(_, value)) = entry.value().last() {
            ledger.write(*entry.key(), value);
        }
    }
    // Freeing a block's versions (a map per key written) costs as much as writing them
    // back: a big block frees them off the block's path.
    if mv.data.len() >= BACKGROUND_FREE {
        std::thread::spawn(move || drop(mv));
    }
    for (tx, outcome) in txs.iter().zip(outcomes) {
        let outcome = outcome.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some((outcome, gas)) = outcome {
            out.record(tx.id, outcome);
            if runner.meters_gas() {
                out.gas.push((tx.id, gas));
            }
        }
    }
    stats
}
