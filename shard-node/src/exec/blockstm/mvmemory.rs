//! Block-STM's multi-version memory: for every key, the value each transaction of the
//! block last wrote (or an `ESTIMATE` where an aborted incarnation wrote), so that a
//! read by transaction `j` sees the latest write by any `i < j`.

use std::sync::Mutex;

use cross_shard::sync::lock;
use dashmap::DashMap;
use rustc_hash::FxBuildHasher;

use crate::state::{Key, Value};

/// A write's version: (transaction index in the block, incarnation).
pub(super) type Version = (usize, u32);

/// An incarnation's read set: each key read, and the version it saw (`None`: the
/// ledger's value).
pub(super) type ReadSet = Vec<(Key, Option<Version>)>;

/// One transaction's entry for one key in the multi-version memory.
#[derive(Debug, Clone, Copy)]
pub(super) enum Entry {
    /// Written by this incarnation.
    Written(u32, Value),
    /// Written by an incarnation that was aborted: likely to be written again.
    Estimate,
}

/// What a read found.
pub(super) enum Read {
    /// The write of an earlier transaction of the block.
    Version(Version, Value),
    /// No earlier write: the ledger's value.
    Storage,
    /// An `ESTIMATE` of this earlier transaction.
    Blocked(usize),
}

/// One key's versions, by writing transaction, in order. A list: most keys are written
/// by one or two transactions of a block, and a sorted list of a few entries costs one
/// small allocation where a tree costs a node of eleven.
#[derive(Debug, Default)]
pub(super) struct Versions(Vec<(usize, Entry)>);

impl Versions {
    /// The write of the highest transaction below `txn`.
    fn below(&self, txn: usize) -> Option<&(usize, Entry)> {
        let at = self.0.partition_point(|&(j, _)| j < txn);
        at.checked_sub(1).map(|i| &self.0[i])
    }

    /// Sets transaction `txn`'s entry.
    fn insert(&mut self, txn: usize, entry: Entry) {
        match self.0.binary_search_by_key(&txn, |&(j, _)| j) {
            Ok(i) => self.0[i].1 = entry,
            Err(i) => self.0.insert(i, (txn, entry)),
        }
    }

    /// Removes transaction `txn`'s entry.
    fn remove(&mut self, txn: usize) {
        if let Ok(i) = self.0.binary_search_by_key(&txn, |&(j, _)| j) {
            self.0.remove(i);
        }
    }

    /// The last transaction's entry: the block's result for the key.
    pub(super) fn last(&self) -> Option<&Entry> {
        self.0.last().map(|(_, e)| e)
    }
}

/// The multi-version memory.
pub(super) struct MvMemory {
    pub(super) data: DashMap<Key, Versions, FxBuildHasher>,
    /// Keys each transaction's last incarnation wrote.
    pub(super) writes: Vec<Mutex<Vec<Key>>>,
    /// What each transaction's last incarnation read, and which version.
    pub(super) reads: Vec<Mutex<ReadSet>>,
}

impl MvMemory {
    pub(super) fn new(n: usize) -> MvMemory {
        MvMemory {
            data: DashMap::with_hasher(FxBuildHasher),
            writes: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
            reads: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// `key` as transaction `txn` sees it.
    pub(super) fn read(&self, key: Key, txn: usize) -> Read {
        let Some(versions) = self.data.get(&key) else {
            return Read::Storage;
        };
        match versions.below(txn) {
            None => Read::Storage,
            Some(&(j, Entry::Estimate)) => Read::Blocked(j),
            Some(&(j, Entry::Written(inc, value))) => Read::Version((j, inc), value),
        }
    }

    /// Stores an incarnation's writes and reads (taking `reads`' contents, leaving it
    /// an empty buffer to reuse). Returns whether it wrote a key the previous
    /// incarnation did not, which obliges later transactions to be validated again.
    pub(super) fn record(
        &self,
        (txn, inc): Version,
        reads: &mut ReadSet,
        writes: &[(Key, Value)],
    ) -> bool {
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
                    versions.remove(txn);
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
    pub(super) fn convert_writes_to_estimates(&self, txn: usize) {
        for key in lock(&self.writes[txn]).iter() {
            if let Some(mut versions) = self.data.get_mut(key) {
                versions.insert(txn, Entry::Estimate);
            }
        }
    }

    /// Whether every read of `txn`'s last incarnation would still see the same version.
    pub(super) fn validate_read_set(&self, txn: usize) -> bool {
        lock(&self.reads[txn])
            .iter()
            .all(|&(key, seen)| match self.read(key, txn) {
                Read::Version(v, _) => seen == Some(v),
                Read::Storage => seen.is_none(),
                Read::Blocked(_) => false,
            })
    }
}
