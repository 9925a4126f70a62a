//! An incremental commitment to a shard's accounts.
//!
//! Every block header carries a `state_root` so that two executions of the same block
//! can be compared by one hash. Rebuilding a Merkle tree over every account each block
//! would cost O(accounts) per block; instead the state is committed as a **multiset
//! hash**: the lane-wise wrapping sum (four 64-bit lanes) of `blake3(leaf)` over all
//! accounts. Changing an account subtracts its old leaf hash and adds its new one, so a
//! block costs O(accounts touched), and the order of updates does not matter — which is
//! what lets a parallel executor produce the same root as the sequential one.
//!
//! What a real chain does instead: a Merkle Patricia trie (Ethereum, NEAR) or a sparse
//! Merkle tree, which also gives inclusion proofs for single accounts. This simulator
//! never proves single accounts, so the cheaper commitment is enough.

use crate::ids::Hash;

/// The running multiset hash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateHash {
    /// Lane-wise wrapping sum of the leaf hashes currently in the set.
    lanes: [u64; 4],
}

/// The hash of one leaf, as the four lanes the multiset sum adds. Computing it is the
/// expensive part of an update, so a parallel executor computes leaves on its threads
/// and only adds them up in order ([`StateHash::replace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf([u64; 4]);

/// Hash of one leaf: an account's holding of one asset, (id, asset, balance, nonce)
/// (tokens carry nonce 0: the account's nonce lives with its native balance).
pub fn leaf(id: u64, asset: u32, balance: u64, nonce: u64) -> Leaf {
    Leaf(leaf_lanes(id, asset, balance, nonce))
}

fn leaf_lanes(id: u64, asset: u32, balance: u64, nonce: u64) -> [u64; 4] {
    let mut bytes = [0u8; 28];
    bytes[..8].copy_from_slice(&id.to_le_bytes());
    bytes[8..12].copy_from_slice(&asset.to_le_bytes());
    bytes[12..20].copy_from_slice(&balance.to_le_bytes());
    bytes[20..].copy_from_slice(&nonce.to_le_bytes());
    let h = blake3::hash(&bytes);
    let b = h.as_bytes();
    std::array::from_fn(|i| {
        let mut lane = [0u8; 8];
        lane.copy_from_slice(&b[i * 8..i * 8 + 8]);
        u64::from_le_bytes(lane)
    })
}

impl StateHash {
    /// Adds a leaf.
    pub fn insert(&mut self, id: u64, asset: u32, balance: u64, nonce: u64) {
        let l = leaf_lanes(id, asset, balance, nonce);
        for (acc, x) in self.lanes.iter_mut().zip(l) {
            *acc = acc.wrapping_add(x);
        }
    }

    /// Removes a leaf (it must have been inserted).
    pub fn remove(&mut self, id: u64, asset: u32, balance: u64, nonce: u64) {
        let l = leaf_lanes(id, asset, balance, nonce);
        for (acc, x) in self.lanes.iter_mut().zip(l) {
            *acc = acc.wrapping_sub(x);
        }
    }

    /// Replaces leaf `old` by leaf `new` (hashes computed beforehand).
    pub fn replace(&mut self, old: Leaf, new: Leaf) {
        for ((acc, o), n) in self.lanes.iter_mut().zip(old.0).zip(new.0) {
            *acc = acc.wrapping_sub(o).wrapping_add(n);
        }
    }

    /// The root to put in a header: blake3 over the lanes.
    pub fn root(&self) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(b"shardsim/state/v1");
        for lane in self.lanes {
            h.update(&lane.to_le_bytes());
        }
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_reversible() {
        let mut a = StateHash::default();
        a.insert(1, 0, 10, 0);
        a.insert(2, 0, 20, 0);
        let mut b = StateHash::default();
        b.insert(2, 0, 20, 0);
        b.insert(1, 0, 10, 0);
        assert_eq!(a.root(), b.root());
        // Update account 1 and undo it.
        a.remove(1, 0, 10, 0);
        a.insert(1, 0, 9, 1);
        assert_ne!(a.root(), b.root());
        a.remove(1, 0, 9, 1);
        a.insert(1, 0, 10, 0);
        assert_eq!(a.root(), b.root());
    }

    #[test]
    fn assets_are_distinct_leaves() {
        let mut a = StateHash::default();
        a.insert(1, 0, 10, 0);
        let mut b = StateHash::default();
        b.insert(1, 1, 10, 0);
        assert_ne!(a.root(), b.root());
    }

    #[test]
    fn balance_and_nonce_are_committed() {
        let mut a = StateHash::default();
        a.insert(1, 0, 10, 0);
        let mut b = StateHash::default();
        b.insert(1, 0, 10, 1);
        let mut c = StateHash::default();
        c.insert(1, 0, 11, 0);
        assert_ne!(a.root(), b.root());
        assert_ne!(a.root(), c.root());
    }
}
