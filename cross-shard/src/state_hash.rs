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
/// expensive part of an update, so a shard computes the leaves of a block's touched keys
/// on its threads and only adds them up ([`StateHash::replace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf([u64; 4]);

impl Leaf {
    /// The leaf of an absent piece of state: adds nothing, so a key whose value is all
    /// zero (an empty balance, an NFT not held here) is simply not in the set.
    pub const EMPTY: Leaf = Leaf([0; 4]);

    /// The leaf of one piece of state, given its canonical bytes (key and value; see
    /// the shard's `Ledger`).
    pub fn of(bytes: &[u8]) -> Leaf {
        let h = blake3::hash(bytes);
        let b = h.as_bytes();
        Leaf(std::array::from_fn(|i| {
            let mut lane = [0u8; 8];
            lane.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(lane)
        }))
    }
}

impl StateHash {
    /// Adds a leaf.
    pub fn add(&mut self, leaf: Leaf) {
        for (acc, x) in self.lanes.iter_mut().zip(leaf.0) {
            *acc = acc.wrapping_add(x);
        }
    }

    /// Adds every leaf of `other` (multiset union).
    pub fn merge(&mut self, other: &StateHash) {
        for (acc, x) in self.lanes.iter_mut().zip(other.lanes) {
            *acc = acc.wrapping_add(x);
        }
    }

    /// Removes every leaf of `other`, which must all be in the set.
    pub fn subtract(&mut self, other: &StateHash) {
        for (acc, x) in self.lanes.iter_mut().zip(other.lanes) {
            *acc = acc.wrapping_sub(x);
        }
    }

    /// Replaces leaf `old` by leaf `new`.
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
        let (a1, a2, a3) = (Leaf::of(b"a=1"), Leaf::of(b"b=2"), Leaf::of(b"a=9"));
        let mut a = StateHash::default();
        a.add(a1);
        a.add(a2);
        let mut b = StateHash::default();
        b.add(a2);
        b.add(a1);
        assert_eq!(a.root(), b.root());
        a.replace(a1, a3);
        assert_ne!(a.root(), b.root());
        a.replace(a3, a1);
        assert_eq!(a.root(), b.root());
        let mut c = StateHash::default();
        c.add(a2);
        a.subtract(&c);
        a.merge(&c);
        assert_eq!(a.root(), b.root());
        a.subtract(&c);
        assert_ne!(a.root(), b.root());
    }

    #[test]
    fn empty_leaves_add_nothing() {
        let mut a = StateHash::default();
        let before = a.root();
        a.add(Leaf::EMPTY);
        assert_eq!(a.root(), before);
        a.replace(Leaf::EMPTY, Leaf::of(b"x"));
        assert_ne!(a.root(), before);
        a.replace(Leaf::of(b"x"), Leaf::EMPTY);
        assert_eq!(a.root(), before);
    }
}
