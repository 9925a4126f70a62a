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

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use cross_shard::{AccountId, Tx};
use dashmap::DashMap;
use rustc_hash::FxBuildHasher;

use crate::exec::{BlockExecutor, BlockOutput, ExecStats, Mismatch};
use crate::programs::{Outcome, execute_one};
use crate::state::{Key, Ledger, State, Value, World, buffer, buffered};
use cross_shard::sync::lock;

/// A write's version: (transaction index in the block, incarnation).
type Version = (usize, u32);

/// An incarnation's read set: each key read, and the version it saw (`None`: the
/// ledger's value).
type ReadSet = Vec<(Key, Option<Version>)>;

/// One transaction's entry for one key in the multi-version memory.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// Written by this incarnation.
    Written(u32, Value),
    /// Written by an incarnation that was aborted: likely to be written again.
    Estimate,
}

/// What a read found.
enum Read {
    /// The write of an earlier transaction of the block.
    Version(Version, Value),
    /// No earlier write: the ledger's value.
    Storage,
    /// An `ESTIMATE` of this earlier transaction.
    Blocked(usize),
}

/// The multi-version memory.
struct MvMemory {
    data: DashMap<Key, BTreeMap<usize, Entry>, FxBuildHasher>,
    /// Keys each transaction's last incarnation wrote.
    writes: Vec<Mutex<Vec<Key>>>,
    /// What each transaction's last incarnation read, and which version.
    reads: Vec<Mutex<ReadSet>>,
}

impl MvMemory {
    fn new(n: usize) -> MvMemory {
        MvMemory {
            data: DashMap::with_hasher(FxBuildHasher),
            writes: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
            reads: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// `key` as transaction `txn` sees it.
    fn read(&self, key: Key, txn: usize) -> Read {
        let Some(versions) = self.data.get(&key) else {
            return Read::Storage;
        };
        match versions.range(..txn).next_back() {
            None => Read::Storage,
            Some((&j, Entry::Estimate)) => Read::Blocked(j),
            Some((&j, &Entry::Written(inc, value))) => Read::Version((j, inc), value),
        }
    }

    /// Stores an incarnation's writes and reads (taking `reads`' contents, leaving it
    /// an empty buffer to reuse). Returns whether it wrote a key the previous
    /// incarnation did not, which obliges later transactions to be validated again.
    fn record(&self, (txn, inc): Version, reads: &mut ReadSet, writes: &[(Key, Value)]) -> bool {
        for &(key, value) in writes {
            self.data
                .entry(key)
                .or_default()
                .insert(txn, Entry::Written(inc, value));
        }
        let mut last = lock(&self.writes[txn]);
        for old in last.iter() {
            if !writes.iter().any(|(k, _)| k == old) {
                if let Some(mut versions) = self.data.get_mut(old) {
                    versions.remove(&txn);
                }
            }
        }
        let wrote_new = writes.iter().any(|(k, _)| !last.contains(k));
        last.clear();
        last.extend(writes.iter().map(|&(k, _)| k));
        drop(last);
        let mut stored = lock(&self.reads[txn]);
        std::mem::swap(&mut *stored, reads);
        reads.clear();
        wrote_new
    }

    /// Marks an aborted incarnation's writes as estimates.
    fn convert_writes_to_estimates(&self, txn: usize) {
        for key in lock(&self.writes[txn]).iter() {
            if let Some(mut versions) = self.data.get_mut(key) {
                versions.insert(txn, Entry::Estimate);
            }
        }
    }

    /// Whether every read of `txn`'s last incarnation would still see the same version.
    fn validate_read_set(&self, txn: usize) -> bool {
        lock(&self.reads[txn])
            .iter()
            .all(|&(key, seen)| match self.read(key, txn) {
                Read::Version(v, _) => seen == Some(v),
                Read::Storage => seen.is_none(),
                Read::Blocked(_) => false,
            })
    }
}

/// A transaction's state during a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    ReadyToExecute,
    Executing,
    Executed,
    Aborting,
}

/// A unit of work for a thread.
#[derive(Debug, Clone, Copy)]
enum Task {
    Execute(Version),
    Validate(Version),
}

/// The collaborative scheduler (the paper's Algorithms 4 and 5). Every task a thread
/// holds counts once in `active`; a task handed on to its follow-up keeps its count.
struct Scheduler {
    n: usize,
    execution_idx: AtomicUsize,
    validation_idx: AtomicUsize,
    decrease_cnt: AtomicUsize,
    active: AtomicUsize,
    done: AtomicBool,
    /// Transactions waiting for each transaction to finish executing.
    dependencies: Vec<Mutex<Vec<usize>>>,
    /// (incarnation, status) of each transaction.
    status: Vec<Mutex<(u32, Status)>>,
}

impl Scheduler {
    fn new(n: usize) -> Scheduler {
        Scheduler {
            n,
            execution_idx: AtomicUsize::new(0),
            validation_idx: AtomicUsize::new(0),
            decrease_cnt: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            done: AtomicBool::new(n == 0),
            dependencies: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
            status: (0..n)
                .map(|_| Mutex::new((0, Status::ReadyToExecute)))
                .collect(),
        }
    }

    fn decrease_execution_idx(&self, target: usize) {
        self.execution_idx.fetch_min(target, SeqCst);
        self.decrease_cnt.fetch_add(1, SeqCst);
    }

    fn decrease_validation_idx(&self, target: usize) {
        self.validation_idx.fetch_min(target, SeqCst);
        self.decrease_cnt.fetch_add(1, SeqCst);
    }

    /// Done when both counters are past the block, no task is running, and no counter
    /// was pulled back meanwhile.
    fn check_done(&self) {
        let observed = self.decrease_cnt.load(SeqCst);
        let idx = self
            .execution_idx
            .load(SeqCst)
            .min(self.validation_idx.load(SeqCst));
        if idx >= self.n
            && self.active.load(SeqCst) == 0
            && observed == self.decrease_cnt.load(SeqCst)
        {
            self.done.store(true, SeqCst);
        }
    }

    /// Moves a ready transaction to executing, returning its version.
    fn try_incarnate(&self, txn: usize) -> Option<Version> {
        if txn >= self.n {
            return None;
        }
        let mut s = lock(&self.status[txn]);
        (s.1 == Status::ReadyToExecute).then(|| {
            s.1 = Status::Executing;
            (txn, s.0)
        })
    }

    fn next_version_to_execute(&self) -> Option<Version> {
        if self.execution_idx.load(SeqCst) >= self.n {
            self.check_done();
            return None;
        }
        self.active.fetch_add(1, SeqCst);
        let txn = self.execution_idx.fetch_add(1, SeqCst);
        let version = self.try_incarnate(txn);
        if version.is_none() {
            self.active.fetch_sub(1, SeqCst);
        }
        version
    }

    fn next_version_to_validate(&self) -> Option<Version> {
        if self.validation_idx.load(SeqCst) >= self.n {
            self.check_done();
            return None;
        }
        self.active.fetch_add(1, SeqCst);
        let txn = self.validation_idx.fetch_add(1, SeqCst);
        if txn < self.n {
            let s = lock(&self.status[txn]);
            if s.1 == Status::Executed {
                return Some((txn, s.0));
            }
        }
        self.active.fetch_sub(1, SeqCst);
        None
    }

    fn next_task(&self) -> Option<Task> {
        if self.validation_idx.load(SeqCst) < self.execution_idx.load(SeqCst) {
            self.next_version_to_validate().map(Task::Validate)
        } else {
            self.next_version_to_execute().map(Task::Execute)
        }
    }

    /// Makes `txn` wait for `blocking`; false when `blocking` has already finished
    /// (then `txn` simply runs again).
    fn add_dependency(&self, txn: usize, blocking: usize) -> bool {
        let mut deps = lock(&self.dependencies[blocking]);
        if lock(&self.status[blocking]).1 == Status::Executed {
            return false;
        }
        lock(&self.status[txn]).1 = Status::Aborting;
        deps.push(txn);
        drop(deps);
        self.active.fetch_sub(1, SeqCst);
        true
    }

    fn set_ready_status(&self, txn: usize) {
        let mut s = lock(&self.status[txn]);
        *s = (s.0 + 1, Status::ReadyToExecute);
    }

    fn finish_execution(&self, txn: usize, inc: u32, wrote_new: bool) -> Option<Task> {
        lock(&self.status[txn]).1 = Status::Executed;
        let deps = std::mem::take(&mut *lock(&self.dependencies[txn]));
        for &d in &deps {
            self.set_ready_status(d);
        }
        if let Some(&first) = deps.iter().min() {
            self.decrease_execution_idx(first);
        }
        if self.validation_idx.load(SeqCst) > txn {
            if !wrote_new {
                // Only this transaction needs validating: do it now.
                return Some(Task::Validate((txn, inc)));
            }
            self.decrease_validation_idx(txn);
        }
        self.active.fetch_sub(1, SeqCst);
        None
    }

    fn try_validation_abort(&self, txn: usize, inc: u32) -> bool {
        let mut s = lock(&self.status[txn]);
        if *s == (inc, Status::Executed) {
            s.1 = Status::Aborting;
            return true;
        }
        false
    }

    fn finish_validation(&self, txn: usize, aborted: bool) -> Option<Task> {
        if aborted {
            self.set_ready_status(txn);
            self.decrease_validation_idx(txn + 1);
            if self.execution_idx.load(SeqCst) > txn {
                if let Some(version) = self.try_incarnate(txn) {
                    return Some(Task::Execute(version));
                }
            }
        }
        self.active.fetch_sub(1, SeqCst);
        None
    }
}

/// A transaction's view during one incarnation: reads go through the multi-version
/// memory (and are recorded), writes are buffered.
struct View<'a> {
    base: &'a Ledger,
    mv: &'a MvMemory,
    txn: usize,
    reads: &'a mut ReadSet,
    writes: &'a mut Vec<(Key, Value)>,
    /// The first `ESTIMATE` met: this incarnation's result will be thrown away.
    blocked: Option<usize>,
}

impl State for View<'_> {
    fn world(&self) -> &World {
        self.base.world()
    }
    fn local(&self, id: AccountId) -> Option<u32> {
        self.base.local(id)
    }
    fn read(&mut self, key: Key) -> Value {
        if let Some(v) = buffered(self.writes, key) {
            return v;
        }
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
    fn write(&mut self, key: Key, value: Value) {
        buffer(self.writes, key, value);
    }
}

/// One block's shared run state.
struct Run<'a> {
    base: &'a Ledger,
    txs: &'a [Tx],
    mv: MvMemory,
    scheduler: Scheduler,
    outcomes: Vec<Mutex<Option<Outcome>>>,
}

impl Run<'_> {
    /// A thread's loop: take tasks until the block is done.
    fn work(&self) {
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        let mut task = None;
        while !self.scheduler.done.load(SeqCst) {
            task = match task {
                Some(Task::Execute(version)) => self.execute(version, &mut reads, &mut writes),
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

    fn execute(
        &self,
        (txn, inc): Version,
        reads: &mut ReadSet,
        writes: &mut Vec<(Key, Value)>,
    ) -> Option<Task> {
        loop {
            reads.clear();
            writes.clear();
            let mut view = View {
                base: self.base,
                mv: &self.mv,
                txn,
                reads,
                writes,
                blocked: None,
            };
            let outcome = execute_one(&mut view, &self.txs[txn]);
            if let Some(blocking) = view.blocked {
                if self.scheduler.add_dependency(txn, blocking) {
                    return None;
                }
                continue; // `blocking` finished meanwhile: run again
            }
            *lock(&self.outcomes[txn]) = Some(outcome);
            let wrote_new = self.mv.record((txn, inc), reads, writes);
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
}

impl BlockExecutor for BlockStm {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        let stats = execute(ledger, txs, out, self.threads);
        Ok(ExecStats {
            dependent: Some(stats.dependent),
            reexecuted: Some(stats.reexecuted),
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
    let n = txs.len();
    let run = Run {
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
    for (key, versions) in mv.data {
        if let Some((_, &Entry::Written(_, value))) = versions.iter().next_back() {
            ledger.write(key, value);
        }
    }
    for (tx, outcome) in txs.iter().zip(outcomes) {
        let outcome = outcome.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(outcome) = outcome {
            out.record(tx.id, outcome);
        }
    }
    stats
}
