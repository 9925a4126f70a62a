//! Binary Merkle trees over blake3, with inclusion proofs.
//!
//! A shard's header commits to the receipts it sends with one root over `shards`
//! leaves, leaf `d` being the hash of the batch for destination `d`. The destination
//! then needs only its own batch and `⌈log2 shards⌉` sibling hashes to check it against
//! the notarized root — not the other shards' batches.
//!
//! ```text
//!              root
//!            /      \
//!        n01          n23          node = H(0x01 ‖ left ‖ right)
//!       /   \        /   \
//!     L0     L1    L2     L3       leaf = the batch hash (already domain-separated)
//! ```
//!
//! Leaves and inner nodes are hashed differently (the 0x01 prefix here, a distinct
//! prefix in [`crate::receipt`] for leaves), so an inner node can never pass for a leaf.
//! A level with an odd number of nodes carries its last node up unchanged instead of
//! pairing it with itself: duplicating it (as Bitcoin does) lets two different leaf
//! lists share a root (CVE-2012-2459).

use crate::ids::Hash;

/// Hash of an inner node.
fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[0x01]);
    h.update(&left.0);
    h.update(&right.0);
    h.finalize().into()
}

/// The next level up: pairs hashed, an odd last node carried up.
fn level_up(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => node(l, r),
            [only] => *only,
            _ => unreachable!("chunks(2) yields one or two items"),
        })
        .collect()
}

/// The root over `leaves`; the root of no leaves is [`Hash::ZERO`].
pub fn root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::ZERO;
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level_up(&level);
    }
    level[0]
}

/// The sibling hashes on the path from leaf `index` to the root, bottom first; a level
/// where the node was carried up contributes no sibling. `None` if `index` is out of range.
/// For several proofs over the same leaves, build one [`Tree`].
pub fn proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    Tree::new(leaves).proof(index)
}

/// A tree kept whole, level by level, so that many proofs over the same leaves cost
/// one pass of hashing: the beacon proves every batch of a header against one tree
/// (with a proof per batch rebuilt from the leaves, a 1,024-shard cluster spent most
/// of its time hashing the same inner nodes again).
#[derive(Debug, Clone)]
pub struct Tree {
    /// The leaves first, the root's level (one node) last; empty for no leaves.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The tree over `leaves`.
    pub fn new(leaves: &[Hash]) -> Tree {
        let mut levels = Vec::new();
        if !leaves.is_empty() {
            levels.push(leaves.to_vec());
            while let Some(top) = levels.last().filter(|l| l.len() > 1) {
                let up = level_up(top);
                levels.push(up);
            }
        }
        Tree { levels }
    }

    /// Its root ([`Hash::ZERO`] for no leaves), as [`root`] computes it.
    pub fn root(&self) -> Hash {
        self.levels.last().map_or(Hash::ZERO, |top| top[0])
    }

    /// Leaves of the tree.
    fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// This tree with some leaves replaced — `changes`, as (index, leaf), in increasing
    /// index order — hashing only the paths above them: about `changes × log2(len)`
    /// nodes, not `len`. A block's receipts root is one over a leaf per shard of which
    /// most are the same empty leaves every block: its shard and the beacon keep that
    /// tree and patch it with the destinations the block sends to. `None` if an index
    /// is out of range or the order is not increasing.
    pub fn patched(&self, changes: &[(usize, Hash)]) -> Option<Patched<'_>> {
        if changes.windows(2).any(|w| w[0].0 >= w[1].0)
            || changes.last().is_some_and(|c| c.0 >= self.len())
        {
            return None;
        }
        let mut levels = vec![changes.to_vec()];
        let inner = self.levels.len().saturating_sub(1);
        for (depth, level) in self.levels.iter().enumerate().take(inner) {
            let below = &levels[depth];
            let mut up: Vec<(usize, Hash)> = Vec::with_capacity(below.len());
            for &(i, _) in below {
                let parent = i / 2;
                if up.last().is_some_and(|u| u.0 == parent) {
                    continue;
                }
                let at = |j: usize| {
                    below
                        .binary_search_by_key(&j, |c| c.0)
                        .map_or_else(|_| level[j], |k| below[k].1)
                };
                let (left, right) = (parent * 2, parent * 2 + 1);
                let hash = if right < level.len() {
                    node(&at(left), &at(right))
                } else {
                    at(left)
                };
                up.push((parent, hash));
            }
            levels.push(up);
        }
        Some(Patched { base: self, levels })
    }

    /// The path of leaf `index`, as [`proof`] gives it; `None` if out of range.
    pub fn proof(&self, index: usize) -> Option<Vec<Hash>> {
        self.patched(&[])?.proof(index)
    }
}

/// A [`Tree`] with some leaves replaced ([`Tree::patched`]): the changed nodes per
/// level, every other node read from the tree below.
#[derive(Debug)]
pub struct Patched<'a> {
    /// The tree patched.
    base: &'a Tree,
    /// Per level (leaves first), the changed nodes in increasing index order.
    levels: Vec<Vec<(usize, Hash)>>,
}

impl Patched<'_> {
    /// Node `index` of level `depth`, patched or not.
    fn at(&self, depth: usize, index: usize) -> Option<Hash> {
        let changed = self.levels.get(depth)?;
        match changed.binary_search_by_key(&index, |c| c.0) {
            Ok(k) => Some(changed[k].1),
            Err(_) => self.base.levels.get(depth)?.get(index).copied(),
        }
    }

    /// Leaf `index`, patched or not.
    pub fn leaf(&self, index: usize) -> Option<Hash> {
        self.at(0, index)
    }

    /// The root of the patched leaves (what [`root`] of them gives).
    pub fn root(&self) -> Hash {
        let top = self.base.levels.len().saturating_sub(1);
        self.at(top, 0).unwrap_or(Hash::ZERO)
    }

    /// The path of leaf `index` (what [`proof`] over the patched leaves gives); `None`
    /// if out of range.
    pub fn proof(&self, index: usize) -> Option<Vec<Hash>> {
        if index >= self.base.len() {
            return None;
        }
        let mut i = index;
        let mut path = Vec::with_capacity(self.levels.len());
        for depth in 0..self.base.levels.len() - 1 {
            if let Some(sibling) = self.at(depth, i ^ 1) {
                path.push(sibling);
            }
            i /= 2;
        }
        Some(path)
    }

    /// Inner nodes hashed to patch the tree (what the cost model charges).
    pub fn hashed(&self) -> usize {
        self.levels[1..].iter().map(Vec::len).sum()
    }
}

/// Whether `path` proves that `leaf` is leaf `index` of a tree of `leaf_count` leaves
/// with root `root`. The path must have exactly the expected length.
pub fn verify(root: &Hash, leaf: &Hash, index: usize, leaf_count: usize, path: &[Hash]) -> bool {
    if index >= leaf_count {
        return false;
    }
    let mut acc = *leaf;
    let mut i = index;
    let mut width = leaf_count;
    let mut siblings = path.iter();
    while width > 1 {
        let sibling = i ^ 1;
        if sibling < width {
            let Some(s) = siblings.next() else {
                return false;
            };
            acc = if i % 2 == 0 {
                node(&acc, s)
            } else {
                node(s, &acc)
            };
        }
        i /= 2;
        width = width.div_ceil(2);
    }
    siblings.next().is_none() && acc == *root
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| blake3::hash(&(i as u64).to_le_bytes()).into())
            .collect()
    }

    #[test]
    fn every_leaf_proves_for_every_width() {
        for n in 1..=17 {
            let ls = leaves(n);
            let r = root(&ls);
            for (i, leaf) in ls.iter().enumerate() {
                let p = proof(&ls, i).unwrap();
                assert!(verify(&r, leaf, i, n, &p), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn a_patch_out_of_order_or_out_of_range_is_refused() {
        let tree = Tree::new(&leaves(5));
        let h = Hash::ZERO;
        assert!(tree.patched(&[(3, h), (1, h)]).is_none());
        assert!(tree.patched(&[(1, h), (1, h)]).is_none());
        assert!(tree.patched(&[(5, h)]).is_none());
        assert_eq!(tree.patched(&[]).unwrap().root(), tree.root());
        let none = Tree::new(&[]);
        assert_eq!(none.patched(&[]).unwrap().root(), Hash::ZERO);
        assert!(none.patched(&[(0, h)]).is_none());
    }

    #[test]
    fn a_kept_tree_has_the_root_of_its_leaves() {
        for n in 0..=17 {
            assert_eq!(Tree::new(&leaves(n)).root(), root(&leaves(n)), "n={n}");
        }
    }

    #[test]
    fn forged_root_leaf_index_or_path_is_rejected() {
        let ls = leaves(5);
        let r = root(&ls);
        let p = proof(&ls, 2).unwrap();
        let forged: Hash = blake3::hash(b"forged").into();
        assert!(!verify(&forged, &ls[2], 2, 5, &p), "forged root");
        assert!(!verify(&r, &forged, 2, 5, &p), "forged leaf");
        assert!(!verify(&r, &ls[2], 3, 5, &p), "wrong index");
        assert!(!verify(&r, &ls[2], 7, 5, &p), "index out of range");
        let mut bad = p.clone();
        bad[0] = forged;
        assert!(!verify(&r, &ls[2], 2, 5, &bad), "forged sibling");
        let mut long = p.clone();
        long.push(forged);
        assert!(!verify(&r, &ls[2], 2, 5, &long), "extra sibling");
        assert!(!verify(&r, &ls[2], 2, 5, &p[..p.len() - 1]), "short path");
    }

    #[test]
    fn odd_last_node_is_not_duplicated() {
        // [a, b, c] and [a, b, c, c] must not share a root.
        let ls = leaves(3);
        let mut dup = ls.clone();
        dup.push(ls[2]);
        assert_ne!(root(&ls), root(&dup));
    }

    #[test]
    fn proof_out_of_range_is_none() {
        assert!(proof(&leaves(4), 4).is_none());
        assert_eq!(root(&[]), Hash::ZERO);
    }

    proptest! {
        #[test]
        fn a_patched_tree_is_the_tree_of_the_patched_leaves(
            n in 1usize..70,
            picks in proptest::collection::btree_set(0usize..70, 0..12),
        ) {
            let base = leaves(n);
            let tree = Tree::new(&base);
            let changes: Vec<(usize, Hash)> = picks
                .into_iter()
                .filter(|&i| i < n)
                .map(|i| (i, blake3::hash(&[i as u8, 0xAB]).into()))
                .collect();
            let mut patched_leaves = base.clone();
            for &(i, h) in &changes {
                patched_leaves[i] = h;
            }
            let patched = tree.patched(&changes).unwrap();
            let whole = Tree::new(&patched_leaves);
            prop_assert_eq!(patched.root(), whole.root());
            for i in 0..n {
                prop_assert_eq!(patched.proof(i), whole.proof(i));
            }
            prop_assert!(patched.hashed() <= changes.len() * (usize::BITS - n.leading_zeros()) as usize);
        }

        #[test]
        fn random_trees_verify_only_their_own_leaves(n in 1usize..40, i in 0usize..40, j in 0usize..40) {
            let ls = leaves(n);
            let i = i % n;
            let j = j % n;
            let r = root(&ls);
            let p = proof(&ls, i).unwrap();
            prop_assert!(verify(&r, &ls[i], i, n, &p));
            if i != j {
                prop_assert!(!verify(&r, &ls[j], i, n, &p));
            }
        }
    }
}
