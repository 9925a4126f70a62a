//! The account graph: who transacts with whom, and how often.
//!
//! Every transaction touches two objects — a sender and a recipient, a caller and the
//! contract it calls — and becomes one unit of weight on the edge between them. A
//! transaction whose two ends are the same object touches one shard whatever the
//! placement, so it adds no edge (it still counts as load, see [`crate::study`]).
//!
//! The graph is kept **per epoch**, and a strategy sees the union of the last `window`
//! epochs ([`History`]). A window of 1 is BlockEmulator's CLPA, which forgets the graph
//! after every epoch; a longer window remembers pairs that transact only now and then,
//! at the cost of following a drifting community more slowly.
//!
//! For the algorithms the window is frozen into a compressed adjacency ([`Csr`]): the
//! accounts renumbered `0..n` in increasing id order, each undirected edge stored in both
//! directions, neighbours sorted, so every strategy walks the same graph in the same
//! order and its result does not depend on a hash map's iteration order.

use std::collections::VecDeque;

use cross_shard::AccountId;
use rustc_hash::FxHashMap;

/// One transaction as placement sees it: the two objects it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Touch {
    /// The sender (or caller).
    pub from: AccountId,
    /// The recipient, the contract called, or the contract created.
    pub to: AccountId,
}

/// The edges of one epoch: unordered pair (smaller id first) → transactions.
type EpochEdges = FxHashMap<(AccountId, AccountId), u32>;

/// The graph of the last `window` epochs.
#[derive(Debug, Clone)]
pub struct History {
    /// How many epochs are remembered, at least 1.
    window: usize,
    /// The remembered epochs, oldest first.
    epochs: VecDeque<EpochEdges>,
}

impl History {
    /// A history remembering `window` epochs (at least 1).
    pub fn new(window: usize) -> History {
        History {
            window: window.max(1),
            epochs: VecDeque::new(),
        }
    }

    /// Adds one epoch's transactions, forgetting the oldest epoch beyond the window.
    pub fn push_epoch(&mut self, txs: &[Touch]) {
        let mut edges = EpochEdges::default();
        for t in txs {
            if t.from != t.to {
                let key = (t.from.min(t.to), t.from.max(t.to));
                *edges.entry(key).or_insert(0) += 1;
            }
        }
        self.epochs.push_back(edges);
        while self.epochs.len() > self.window {
            self.epochs.pop_front();
        }
    }

    /// The window's graph, frozen.
    pub fn snapshot(&self) -> Csr {
        if self.epochs.len() == 1 {
            return Csr::from_edges(self.epochs[0].iter().map(|(&k, &w)| (k, w)));
        }
        let mut union = EpochEdges::default();
        for epoch in &self.epochs {
            for (&k, &w) in epoch {
                *union.entry(k).or_insert(0) += w;
            }
        }
        Csr::from_edges(union.into_iter())
    }
}

/// An undirected weighted graph in compressed sparse row form.
///
/// ```text
///  ids:   [a0, a1, a2]            local vertex i is account ids[i]
///  xadj:  [0, 2, 3, 4]            neighbours of i are adj[xadj[i]..xadj[i+1]]
///  adj:   [1, 2, 0, 0]            (each edge stored in both directions)
///  w:     [3, 1, 3, 1]            its weight: transactions between the two
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Csr {
    /// Local vertex → account, increasing.
    pub ids: Vec<AccountId>,
    /// Row offsets into `adj` and `w`, `ids.len() + 1` of them.
    pub xadj: Vec<u32>,
    /// Neighbours (local indices), sorted within each row.
    pub adj: Vec<u32>,
    /// Edge weights, beside `adj`.
    pub w: Vec<u32>,
    /// Each vertex's weighted degree: the transactions it took part in (self-loops aside).
    pub degree: Vec<u64>,
}

impl Csr {
    /// Builds the graph from unordered pairs with weights (each pair at most once).
    pub fn from_edges(edges: impl Iterator<Item = ((AccountId, AccountId), u32)>) -> Csr {
        let edges: Vec<((AccountId, AccountId), u32)> = edges.collect();
        let mut ids: Vec<AccountId> = edges.iter().flat_map(|&((a, b), _)| [a, b]).collect();
        ids.sort_unstable();
        ids.dedup();
        let local: FxHashMap<AccountId, u32> = ids
            .iter()
            .enumerate()
            .map(|(i, &a)| (a, i as u32))
            .collect();
        let n = ids.len();
        // Count, then fill: two passes over the edges, no per-vertex vectors.
        let mut xadj = vec![0u32; n + 1];
        let ends: Vec<(u32, u32, u32)> = edges
            .iter()
            .map(|&((a, b), w)| (local[&a], local[&b], w))
            .collect();
        for &(a, b, _) in &ends {
            xadj[a as usize + 1] += 1;
            xadj[b as usize + 1] += 1;
        }
        for i in 0..n {
            xadj[i + 1] += xadj[i];
        }
        let mut fill = xadj.clone();
        let mut adj = vec![0u32; xadj[n] as usize];
        let mut w = vec![0u32; xadj[n] as usize];
        for &(a, b, weight) in &ends {
            for (x, y) in [(a, b), (b, a)] {
                let slot = fill[x as usize] as usize;
                adj[slot] = y;
                w[slot] = weight;
                fill[x as usize] += 1;
            }
        }
        let mut degree = vec![0u64; n];
        // One buffer for every row's sort, not one allocation per account.
        let mut row: Vec<(u32, u32)> = Vec::new();
        for v in 0..n {
            let (lo, hi) = (xadj[v] as usize, xadj[v + 1] as usize);
            row.clear();
            row.extend(adj[lo..hi].iter().copied().zip(w[lo..hi].iter().copied()));
            row.sort_unstable();
            for (i, &(u, wt)) in row.iter().enumerate() {
                adj[lo + i] = u;
                w[lo + i] = wt;
                degree[v] += u64::from(wt);
            }
        }
        Csr {
            ids,
            xadj,
            adj,
            w,
            degree,
        }
    }

    /// Number of vertices.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the graph has no vertex.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Vertex `v`'s neighbours with the weights of the edges to them.
    pub fn neighbours(&self, v: usize) -> impl Iterator<Item = (usize, u32)> + '_ {
        let (lo, hi) = (self.xadj[v] as usize, self.xadj[v + 1] as usize);
        self.adj[lo..hi]
            .iter()
            .zip(&self.w[lo..hi])
            .map(|(&u, &w)| (u as usize, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(from: u64, to: u64) -> Touch {
        Touch { from, to }
    }

    #[test]
    fn edges_are_undirected_weighted_and_self_loops_dropped() {
        let mut h = History::new(1);
        h.push_epoch(&[t(5, 9), t(9, 5), t(5, 7), t(7, 7)]);
        let g = h.snapshot();
        assert_eq!(g.ids, vec![5, 7, 9]);
        assert_eq!(g.neighbours(0).collect::<Vec<_>>(), vec![(1, 1), (2, 2)]);
        assert_eq!(g.neighbours(2).collect::<Vec<_>>(), vec![(0, 2)]);
        assert_eq!(g.degree, vec![3, 1, 2]);
    }

    #[test]
    fn the_window_forgets_old_epochs_and_sums_the_rest() {
        let mut h = History::new(2);
        h.push_epoch(&[t(1, 2)]);
        h.push_epoch(&[t(1, 2), t(3, 4)]);
        assert_eq!(h.snapshot().degree, vec![2, 2, 1, 1]);
        h.push_epoch(&[t(3, 4)]);
        let g = h.snapshot();
        assert_eq!(g.ids, vec![1, 2, 3, 4]);
        assert_eq!(g.degree, vec![1, 1, 2, 2], "the first epoch is forgotten");
        h.push_epoch(&[]);
        h.push_epoch(&[]);
        assert!(h.snapshot().is_empty());
    }
}
