//! Block-STM's collaborative scheduler: one queue of execution and validation tasks
//! that every thread draws from, in transaction order (the paper's Algorithms 4 and 5).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use cross_shard::sync::lock;

use super::mvmemory::Version;

/// A transaction's state during a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    ReadyToExecute,
    Executing,
    Executed,
    Aborting,
}

/// A unit of work for a thread.
#[derive(Debug, Clone, Copy)]
pub(super) enum Task {
    Execute(Version),
    Validate(Version),
}

/// The collaborative scheduler (the paper's Algorithms 4 and 5). Every task a thread
/// holds counts once in `active`; a task handed on to its follow-up keeps its count.
pub(super) struct Scheduler {
    pub(super) n: usize,
    pub(super) execution_idx: AtomicUsize,
    pub(super) validation_idx: AtomicUsize,
    pub(super) decrease_cnt: AtomicUsize,
    pub(super) active: AtomicUsize,
    pub(super) done: AtomicBool,
    /// Transactions waiting for each transaction to finish executing.
    pub(super) dependencies: Vec<Mutex<Vec<usize>>>,
    /// (incarnation, status) of each transaction.
    pub(super) status: Vec<Mutex<(u32, Status)>>,
}

impl Scheduler {
    pub(super) fn new(n: usize) -> Scheduler {
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

    pub(super) fn decrease_execution_idx(&self, target: usize) {
        self.execution_idx.fetch_min(target, SeqCst);
        self.decrease_cnt.fetch_add(1, SeqCst);
    }

    pub(super) fn decrease_validation_idx(&self, target: usize) {
        self.validation_idx.fetch_min(target, SeqCst);
        self.decrease_cnt.fetch_add(1, SeqCst);
    }

    /// Done when both counters are past the block, no task is running, and no counter
    /// was pulled back meanwhile.
    pub(super) fn check_done(&self) {
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
    pub(super) fn try_incarnate(&self, txn: usize) -> Option<Version> {
        if txn >= self.n {
            return None;
        }
        let mut s = lock(&self.status[txn]);
        (s.1 == Status::ReadyToExecute).then(|| {
            s.1 = Status::Executing;
            (txn, s.0)
        })
    }

    pub(super) fn next_version_to_execute(&self) -> Option<Version> {
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

    pub(super) fn next_version_to_validate(&self) -> Option<Version> {
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

    pub(super) fn next_task(&self) -> Option<Task> {
        if self.validation_idx.load(SeqCst) < self.execution_idx.load(SeqCst) {
            self.next_version_to_validate().map(Task::Validate)
        } else {
            self.next_version_to_execute().map(Task::Execute)
        }
    }

    /// Makes `txn` wait for `blocking`; false when `blocking` has already finished
    /// (then `txn` simply runs again).
    pub(super) fn add_dependency(&self, txn: usize, blocking: usize) -> bool {
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

    pub(super) fn set_ready_status(&self, txn: usize) {
        let mut s = lock(&self.status[txn]);
        *s = (s.0 + 1, Status::ReadyToExecute);
    }

    pub(super) fn finish_execution(&self, txn: usize, inc: u32, wrote_new: bool) -> Option<Task> {
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

    pub(super) fn try_validation_abort(&self, txn: usize, inc: u32) -> bool {
        let mut s = lock(&self.status[txn]);
        if *s == (inc, Status::Executed) {
            s.1 = Status::Aborting;
            return true;
        }
        false
    }

    pub(super) fn finish_validation(&self, txn: usize, aborted: bool) -> Option<Task> {
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
