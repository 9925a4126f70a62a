//! The directory: the one answer to "which shard holds account X" in an epoch.
//!
//! Hash placement is its degenerate case: an empty table, every account where
//! [`cross_shard::Placement`] hashes it. A strategy moves an account by writing it into
//! the table; an account the table does not name — one never seen, or one moved back to
//! its hash shard — is where the hash puts it. So a directory costs memory only for the
//! accounts placement has actually moved, and an account that appears for the first
//! time in a later epoch needs no announcement to be found.

use cross_shard::{AccountId, Placement, ShardId};
use rustc_hash::FxHashMap;

/// Account → shard for one epoch.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Where accounts the table does not name live.
    hash: Placement,
    /// Accounts placed elsewhere than their hash shard.
    moved: FxHashMap<AccountId, ShardId>,
    /// The epoch this directory is for: 0 at genesis, one more per change.
    epoch: u64,
}

impl Directory {
    /// Genesis: every account on its hash shard.
    pub fn hash(hash: Placement) -> Directory {
        Directory {
            hash,
            moved: FxHashMap::default(),
            epoch: 0,
        }
    }

    /// Number of shards.
    pub fn shards(&self) -> u32 {
        self.hash.shards()
    }

    /// The epoch of this directory.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The shard holding `account`.
    #[inline]
    pub fn shard_of(&self, account: AccountId) -> ShardId {
        match self.moved.get(&account) {
            Some(&s) => s,
            None => self.hash.shard_of(account),
        }
    }

    /// Accounts placed off their hash shard.
    pub fn moved_accounts(&self) -> usize {
        self.moved.len()
    }

    /// The next epoch's directory: `changes` applied, each `(account, shard)`. Returns
    /// how many accounts actually change shard (a change to where an account already
    /// is moves nothing).
    pub fn advance(&mut self, changes: impl IntoIterator<Item = (AccountId, ShardId)>) -> usize {
        let mut moved = 0;
        for (account, shard) in changes {
            if self.shard_of(account) == shard {
                continue;
            }
            moved += 1;
            if self.hash.shard_of(account) == shard {
                self.moved.remove(&account);
            } else {
                self.moved.insert(account, shard);
            }
        }
        self.epoch += 1;
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unnamed_accounts_follow_the_hash_and_moves_are_counted_once() {
        let hash = Placement::new(4).unwrap();
        let mut d = Directory::hash(hash);
        assert!((0..100).all(|a| d.shard_of(a) == hash.shard_of(a)));
        let away = (hash.shard_of(7) + 1) % 4;
        let moved = d.advance([(7, away), (8, hash.shard_of(8))]);
        assert_eq!((moved, d.epoch(), d.shard_of(7)), (1, 1, away));
        assert_eq!(d.moved_accounts(), 1);
        // Back home: the table forgets it.
        assert_eq!(d.advance([(7, hash.shard_of(7))]), 1);
        assert_eq!(d.moved_accounts(), 0);
        assert_eq!(d.shard_of(7), hash.shard_of(7));
    }
}
