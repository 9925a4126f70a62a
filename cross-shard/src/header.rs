//! Shard block headers.

use crate::error::{Error, Result};
use crate::ids::{Hash, ShardId};

/// The summary of one shard block that the beacon notarizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The shard that produced the block.
    pub shard: ShardId,
    /// The block's height; the first block is 1 (0 is genesis, which has no header).
    pub height: u64,
    /// Hash of the previous header of the same shard ([`Hash::ZERO`] for height 1).
    pub prev_hash: Hash,
    /// Commitment to the shard's accounts after the block ([`crate::state_hash`]).
    pub state_root: Hash,
    /// Merkle root over the block's per-destination receipt batches ([`crate::receipt`]).
    pub receipts_root: Hash,
    /// Number of transactions the block executed (committed or rejected).
    pub tx_count: u32,
    /// Hash of the block's inputs, when a committee re-executes them (so that a
    /// certificate for the header covers what went in, not only what came out);
    /// [`Hash::ZERO`] for a shard that proposes alone.
    pub inputs: Hash,
}

impl Header {
    /// The header's hash: blake3 over its fields in a fixed layout.
    pub fn hash(&self) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(b"shardsim/header/v1");
        h.update(&self.shard.to_le_bytes());
        h.update(&self.height.to_le_bytes());
        h.update(&self.prev_hash.0);
        h.update(&self.state_root.0);
        h.update(&self.receipts_root.0);
        h.update(&self.tx_count.to_le_bytes());
        h.update(&self.inputs.0);
        h.finalize().into()
    }

    /// Checks that `self` directly extends a chain whose last header has height
    /// `last_height` and hash `last_hash` (height 0 and [`Hash::ZERO`] for an empty chain).
    pub fn check_extends(&self, last_height: u64, last_hash: &Hash) -> Result<()> {
        if self.height != last_height + 1 {
            return Err(Error::BadHeader {
                shard: self.shard,
                height: self.height,
                why: "height is not the next one",
            });
        }
        if self.prev_hash != *last_hash {
            return Err(Error::BadHeader {
                shard: self.shard,
                height: self.height,
                why: "prev_hash is not the hash of the last header",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(height: u64, prev_hash: Hash) -> Header {
        Header {
            shard: 1,
            height,
            prev_hash,
            state_root: Hash([1; 32]),
            receipts_root: Hash([2; 32]),
            tx_count: 3,
            inputs: Hash::ZERO,
        }
    }

    #[test]
    fn chain_links_by_height_and_hash() {
        let h1 = header(1, Hash::ZERO);
        assert!(h1.check_extends(0, &Hash::ZERO).is_ok());
        let h2 = header(2, h1.hash());
        assert!(h2.check_extends(1, &h1.hash()).is_ok());
        assert!(h2.check_extends(0, &Hash::ZERO).is_err(), "skipped height");
        assert!(
            header(2, Hash([9; 32]))
                .check_extends(1, &h1.hash())
                .is_err(),
            "wrong prev"
        );
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = header(5, Hash([3; 32]));
        let variants = [
            Header { shard: 2, ..base },
            Header { height: 6, ..base },
            Header {
                prev_hash: Hash([4; 32]),
                ..base
            },
            Header {
                state_root: Hash([4; 32]),
                ..base
            },
            Header {
                receipts_root: Hash([4; 32]),
                ..base
            },
            Header {
                tx_count: 4,
                ..base
            },
            Header {
                inputs: Hash([4; 32]),
                ..base
            },
        ];
        for v in variants {
            assert_ne!(v.hash(), base.hash(), "{v:?}");
        }
    }
}
