//! The log a process keeps on disk: records by height, in an embedded store.
//!
//! A shard and the beacon each own one file in their data directory (redb: an embedded,
//! transactional key-value store — no server). A [`Log`] has named tables of
//! protobuf-encoded records keyed by height; [`Log::append`] writes one height's
//! records to every table in **one transaction**, so after a crash (even `kill -9`)
//! either all of a block's records are there or none are:
//!
//! ```text
//!   block h built ──► append(h, [record, events]) ──commit (fsync)──► then, and only
//!                                                                     then, tell anyone
//! ```
//!
//! Every commit is made with redb's *quick repair*: it saves the allocator state and
//! commits in two phases, so that opening the file after a crash is almost instant. The
//! default repair walks the whole file to rebuild that state, which made a restart's
//! time grow with the chain even with snapshots (docs/benchmarks.md).
//!
//! The file also remembers whom it belongs to (an identity string: which shard, which
//! cluster shape), so a process pointed at another process's directory is refused
//! instead of resuming someone else's chain.

use std::path::{Path, PathBuf};

use prost::Message;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

/// Identity record, in its own table.
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or created.
    #[error("opening the store {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What redb said.
        source: redb::DatabaseError,
    },
    /// A read or write failed.
    #[error("store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What redb said.
        source: redb::Error,
    },
    /// A stored record does not decode: the file is damaged or from another version.
    #[error("store {path}: record {height} of `{table}` is unreadable: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The record's height.
        height: u64,
        /// What prost said.
        source: prost::DecodeError,
    },
    /// The file belongs to another process or another cluster shape.
    #[error("store {path} belongs to {stored:?}, not {expected:?}; use an empty data directory")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Whom the file belongs to.
        stored: String,
        /// Whom it was opened for.
        expected: String,
    },
}

/// An append-only log of records by height, in one redb file.
pub struct Log {
    db: redb::Database,
    path: PathBuf,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("path", &self.path).finish()
    }
}

fn table(name: &str) -> TableDefinition<'_, u64, &'static [u8]> {
    TableDefinition::new(name)
}

impl Log {
    /// Opens `path`, creating it (and its directory) if needed, for `identity`. A file
    /// made for another identity is refused.
    pub fn open(path: &Path, identity: &str) -> Result<Log, StoreError> {
        let io = |source: redb::Error| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(redb::Error::Io(e)))?;
        }
        let db = redb::Database::create(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let stored = {
            let read = db.begin_read().map_err(|e| io(e.into()))?;
            match read.open_table(META) {
                Ok(t) => t
                    .get("identity")
                    .map_err(|e| io(e.into()))?
                    .map(|v| v.value().to_string()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(io(e.into())),
            }
        };
        match stored {
            Some(stored) if stored != identity => Err(StoreError::Mismatch {
                path: path.to_path_buf(),
                stored,
                expected: identity.to_string(),
            }),
            Some(_) => Ok(Log {
                db,
                path: path.to_path_buf(),
            }),
            None => {
                let mut write = db.begin_write().map_err(|e| io(e.into()))?;
                write.set_quick_repair(true);
                {
                    let mut t = write.open_table(META).map_err(|e| io(e.into()))?;
                    t.insert("identity", identity).map_err(|e| io(e.into()))?;
                }
                write.commit().map_err(|e| io(e.into()))?;
                Ok(Log {
                    db,
                    path: path.to_path_buf(),
                })
            }
        }
    }

    fn io(&self, source: impl Into<redb::Error>) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source: source.into(),
        }
    }

    /// Writes the records of `height`, one per table, in one durable transaction.
    pub fn append(&self, height: u64, records: &[(&str, &[u8])]) -> Result<(), StoreError> {
        let mut write = self.db.begin_write().map_err(|e| self.io(e))?;
        write.set_quick_repair(true);
        for &(name, bytes) in records {
            let mut t = write.open_table(table(name)).map_err(|e| self.io(e))?;
            t.insert(height, bytes).map_err(|e| self.io(e))?;
        }
        write.commit().map_err(|e| self.io(e))
    }

    /// Writes the records of `height`, one per table, and removes every other record of
    /// those tables, in one durable transaction: tables that keep only their latest.
    pub fn replace(&self, height: u64, records: &[(&str, &[u8])]) -> Result<(), StoreError> {
        let mut write = self.db.begin_write().map_err(|e| self.io(e))?;
        write.set_quick_repair(true);
        for &(name, bytes) in records {
            let mut t = write.open_table(table(name)).map_err(|e| self.io(e))?;
            t.retain(|h, _| h == height).map_err(|e| self.io(e))?;
            t.insert(height, bytes).map_err(|e| self.io(e))?;
        }
        write.commit().map_err(|e| self.io(e))
    }

    /// Calls `f` with every record of `name` above height `after`, in height order,
    /// stopping at the first error (the store's, or `f`'s).
    pub fn try_for_each<M: Message + Default, E: From<StoreError>>(
        &self,
        name: &'static str,
        after: u64,
        mut f: impl FnMut(u64, M) -> Result<(), E>,
    ) -> Result<(), E> {
        let read = self.db.begin_read().map_err(|e| self.io(e))?;
        let t = match read.open_table(table(name)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(self.io(e).into()),
        };
        let Some(start) = after.checked_add(1) else {
            return Ok(());
        };
        for row in t.range(start..).map_err(|e| self.io(e))? {
            let (height, bytes) = row.map_err(|e| self.io(e))?;
            let height = height.value();
            let record = M::decode(bytes.value()).map_err(|source| StoreError::Decode {
                path: self.path.clone(),
                table: name,
                height,
                source,
            })?;
            f(height, record)?;
        }
        Ok(())
    }

    /// What `f` makes of the bytes of `name` at `height`, if stored.
    fn read<R>(
        &self,
        name: &'static str,
        height: u64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, StoreError> {
        let read = self.db.begin_read().map_err(|e| self.io(e))?;
        let t = match read.open_table(table(name)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        Ok(t.get(height).map_err(|e| self.io(e))?.map(|b| f(b.value())))
    }

    /// The record of `name` at `height`, if stored.
    pub fn get<M: Message + Default>(
        &self,
        name: &'static str,
        height: u64,
    ) -> Result<Option<M>, StoreError> {
        self.read(name, height, |bytes| M::decode(bytes))?
            .transpose()
            .map_err(|source| StoreError::Decode {
                path: self.path.clone(),
                table: name,
                height,
                source,
            })
    }

    /// The bytes of `name` at `height`, if stored, as they were written.
    pub fn get_bytes(
        &self,
        name: &'static str,
        height: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(name, height, <[u8]>::to_vec)
    }

    /// The highest height stored in `name`, if any.
    pub fn last(&self, name: &'static str) -> Result<Option<u64>, StoreError> {
        let read = self.db.begin_read().map_err(|e| self.io(e))?;
        match read.open_table(table(name)) {
            Ok(t) => Ok(t.last().map_err(|e| self.io(e))?.map(|(h, _)| h.value())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(self.io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

    #[test]
    fn records_survive_reopening_in_height_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/log.redb");
        {
            let log = Log::open(&path, "shard 0 of 2").unwrap();
            for h in [1u64, 2, 3] {
                let tip = pb::Tip {
                    height: h * 10,
                    routed: vec![h],
                    epoch: 0,
                };
                log.append(h, &[("tips", &tip.encode_to_vec())]).unwrap();
            }
        }
        let log = Log::open(&path, "shard 0 of 2").unwrap();
        assert_eq!(log.last("tips").unwrap(), Some(3));
        assert_eq!(log.last("other").unwrap(), None);
        let mut seen = Vec::new();
        log.try_for_each("tips", 1, |h, t: pb::Tip| {
            seen.push((h, t.height));
            Ok::<_, StoreError>(())
        })
        .unwrap();
        assert_eq!(seen, vec![(2, 20), (3, 30)]);
    }

    #[test]
    fn a_replacing_table_keeps_only_its_latest() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(&dir.path().join("log.redb"), "shard 0 of 2").unwrap();
        log.append(1, &[("blocks", b"one")]).unwrap();
        for h in [10u64, 20] {
            log.replace(h, &[("snapshots", format!("at {h}").as_bytes())])
                .unwrap();
        }
        assert_eq!(log.get_bytes("snapshots", 10).unwrap(), None);
        assert_eq!(
            log.get_bytes("snapshots", 20).unwrap(),
            Some(b"at 20".to_vec())
        );
        assert_eq!(
            log.get_bytes("blocks", 1).unwrap(),
            Some(b"one".to_vec()),
            "other tables kept"
        );
        assert_eq!(log.last("snapshots").unwrap(), Some(20));
    }

    #[test]
    fn another_identity_is_refused_and_garbage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.redb");
        let log = Log::open(&path, "shard 0 of 2").unwrap();
        log.append(1, &[("tips", &[0xff, 0xff][..])]).unwrap();
        let err = log
            .try_for_each("tips", 0, |_, _: pb::Tip| Ok::<_, StoreError>(()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("record 1 of `tips` is unreadable"), "{err}");
        drop(log);
        let err = Log::open(&path, "shard 1 of 2").unwrap_err().to_string();
        assert!(err.contains("belongs to \"shard 0 of 2\""), "{err}");
    }
}
