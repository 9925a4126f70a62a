//! Receipts and their commitment in a block header.
//!
//! All the receipts one block sends to one destination form a [`ReceiptBatch`]; their
//! sequence numbers on the (src, dst) channel are consecutive, so the batch stores only
//! the first. The header's `receipts_root` is the Merkle root over one leaf per
//! destination shard — [`ReceiptBatch::leaf`], or [`empty_leaf`] when the block sends
//! nothing there — so a destination can check its batch alone ([`crate::merkle`]).

use crate::ids::{AccountId, Asset, Hash, ShardId, TxId};
use crate::merkle;

/// One credit to apply on the destination shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction that emitted it, so the destination can report it final.
    pub tx: TxId,
    /// The account to credit (lives on the destination shard).
    pub to: AccountId,
    /// The value carried.
    pub amount: u64,
    /// Of which asset.
    pub asset: Asset,
}

/// The receipts from `src` to `dst` emitted by one block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiptBatch {
    /// The emitting shard.
    pub src: ShardId,
    /// The shard that applies them.
    pub dst: ShardId,
    /// Channel sequence number of `receipts[0]`; receipt `i` has `first_seq + i`.
    pub first_seq: u64,
    /// The receipts, in channel order.
    pub receipts: Vec<Receipt>,
}

impl ReceiptBatch {
    /// The batch's Merkle leaf: blake3 over a domain tag and every field.
    pub fn leaf(&self) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(b"shardsim/receipts/v1");
        h.update(&self.src.to_le_bytes());
        h.update(&self.dst.to_le_bytes());
        h.update(&self.first_seq.to_le_bytes());
        h.update(&(self.receipts.len() as u64).to_le_bytes());
        for r in &self.receipts {
            let mut row = [0u8; 28];
            row[..8].copy_from_slice(&r.tx.to_le_bytes());
            row[8..16].copy_from_slice(&r.to.to_le_bytes());
            row[16..24].copy_from_slice(&r.amount.to_le_bytes());
            row[24..].copy_from_slice(&r.asset.to_le_bytes());
            h.update(&row);
        }
        h.finalize().into()
    }

    /// Sequence number one past the batch's last receipt.
    pub fn end_seq(&self) -> u64 {
        self.first_seq.saturating_add(self.receipts.len() as u64)
    }

    /// Total value of `asset` carried by the batch (saturating: a hostile batch cannot
    /// overflow it).
    pub fn value_of(&self, asset: Asset) -> u64 {
        self.receipts
            .iter()
            .filter(|r| r.asset == asset)
            .fold(0u64, |sum, r| sum.saturating_add(r.amount))
    }
}

/// The leaf for a destination the block sends nothing to.
pub fn empty_leaf(src: ShardId, dst: ShardId) -> Hash {
    ReceiptBatch {
        src,
        dst,
        first_seq: 0,
        receipts: Vec::new(),
    }
    .leaf()
}

/// The per-destination leaves of a block of shard `src` in a cluster of `shards`
/// shards, given its non-empty batches (at most one per destination).
pub fn leaves(src: ShardId, shards: u32, batches: &[ReceiptBatch]) -> Vec<Hash> {
    let mut leaves: Vec<Hash> = (0..shards).map(|d| empty_leaf(src, d)).collect();
    for b in batches {
        if let Some(slot) = leaves.get_mut(b.dst as usize) {
            *slot = b.leaf();
        }
    }
    leaves
}

/// The `receipts_root` of a block of shard `src` with these batches.
pub fn receipts_root(src: ShardId, shards: u32, batches: &[ReceiptBatch]) -> Hash {
    merkle::root(&leaves(src, shards, batches))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(dst: ShardId, first_seq: u64, n: u64) -> ReceiptBatch {
        ReceiptBatch {
            src: 0,
            dst,
            first_seq,
            receipts: (0..n)
                .map(|i| Receipt {
                    tx: i,
                    to: 100 + i,
                    amount: 10,
                    asset: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn empty_leaf_differs_per_destination_and_from_batches() {
        assert_ne!(empty_leaf(0, 1), empty_leaf(0, 2));
        assert_ne!(empty_leaf(0, 1), batch(1, 0, 1).leaf());
    }

    #[test]
    fn leaf_covers_every_field() {
        let b = batch(1, 5, 3);
        let mut c = b.clone();
        c.receipts[2].amount += 1;
        assert_ne!(b.leaf(), c.leaf());
        let mut c = b.clone();
        c.first_seq += 1;
        assert_ne!(b.leaf(), c.leaf());
        let mut c = b.clone();
        c.receipts.pop();
        assert_ne!(b.leaf(), c.leaf());
    }

    #[test]
    fn batch_proves_against_block_root() {
        let batches = vec![batch(1, 0, 2), batch(3, 7, 1)];
        let root = receipts_root(0, 4, &batches);
        let ls = leaves(0, 4, &batches);
        let path = merkle::proof(&ls, 3).unwrap();
        assert!(merkle::verify(&root, &batches[1].leaf(), 3, 4, &path));
        assert_eq!(batches[1].end_seq(), 8);
        assert_eq!(batches[0].value_of(0), 20);
        assert_eq!(batches[0].value_of(1), 0);
    }
}
