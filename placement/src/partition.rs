//! Offline partitioning: cut the account graph once, as well as a multilevel
//! partitioner can.
//!
//! A multilevel partitioner (METIS; Karypis & Kumar) shrinks the graph by merging
//! heavily connected vertices until it is small, cuts the small graph into `k` parts,
//! then undoes the merges one level at a time, moving boundary vertices to lower the cut
//! while keeping every part's weight within a tolerance of the mean:
//!
//! ```text
//!   G0 ─coarsen─► G1 ─► … ─► Gm   (a few hundred vertices)
//!                             │ initial k-way cut
//!   G0 ◄─refine── G1 ◄─ … ◄───┘   (boundary moves at every level)
//! ```
//!
//! Vertices weigh their transactions (weighted degree), so "balanced" means balanced
//! *load*, which is what a shard feels, not balanced account counts. An account hotter
//! than a shard's fair share cannot be balanced by anyone; METIS then does its best and
//! the imbalance is reported, not hidden.
//!
//! We use METIS itself (the `metis` crate, which compiles the vendored C source with
//! `cc` — no cmake, no system library) rather than writing a partitioner: it is the
//! reference the field compares against, and not this project's core.

use cross_shard::ShardId;

use crate::graph::Csr;

/// Why a graph could not be partitioned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PartitionError {
    /// The graph has more edges or weight than METIS's 32-bit indices hold.
    #[error("the account graph is too large for METIS's 32-bit indices ({what})")]
    TooLarge {
        /// Which quantity overflowed.
        what: &'static str,
    },
    /// METIS itself failed.
    #[error("METIS failed: {0}")]
    Metis(String),
}

/// Partitions `g` into `shards` parts of balanced load, the heaviest part at most
/// `imbalance` times the mean (e.g. 1.03), cutting as little transaction weight as it
/// can. Returns each vertex's part. Deterministic for a given `seed`.
pub fn partition(
    g: &Csr,
    shards: u32,
    imbalance: f64,
    seed: u64,
) -> Result<Vec<ShardId>, PartitionError> {
    let n = g.len();
    if shards <= 1 || n == 0 {
        return Ok(vec![0; n]);
    }
    if (n as u64) < u64::from(shards) {
        // Fewer accounts than shards: one account each, no cut to optimize.
        return Ok((0..n as u32).collect());
    }
    let idx = |x: u64, what: &'static str| {
        i32::try_from(x).map_err(|_| PartitionError::TooLarge { what })
    };
    let xadj = g
        .xadj
        .iter()
        .map(|&x| idx(u64::from(x), "edges"))
        .collect::<Result<Vec<i32>, _>>()?;
    let adjncy: Vec<i32> = g.adj.iter().map(|&u| u as i32).collect();
    let adjwgt =
        g.w.iter()
            .map(|&w| idx(u64::from(w), "edge weight"))
            .collect::<Result<Vec<i32>, _>>()?;
    let vwgt = g
        .degree
        .iter()
        .map(|&d| idx(d.max(1), "account weight"))
        .collect::<Result<Vec<i32>, _>>()?;
    idx(g.degree.iter().sum(), "total weight")?;
    let ufactor = (((imbalance - 1.0) * 1000.0).round() as i32).max(1);
    let mut part = vec![0i32; n];
    metis::Graph::new(1, shards as i32, &xadj, &adjncy)
        .map_err(|e| PartitionError::Metis(format!("{e:?}")))?
        .set_vwgt(&vwgt)
        .set_adjwgt(&adjwgt)
        .set_option(metis::option::UFactor(ufactor))
        .set_option(metis::option::Seed((seed & 0x7fff_ffff) as i32))
        .part_kway(&mut part)
        .map_err(|e| PartitionError::Metis(e.to_string()))?;
    Ok(part.into_iter().map(|p| p as ShardId).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{History, Touch};

    #[test]
    fn cuts_between_communities_with_balanced_parts() {
        // Four rings of 25 accounts, each ring's accounts interleaved in id order, joined
        // by one edge each: the best 4-way cut is the four rings.
        let mut txs = Vec::new();
        for ring in 0..4u64 {
            for i in 0..25u64 {
                let a = i * 4 + ring;
                let b = ((i + 1) % 25) * 4 + ring;
                txs.extend(std::iter::repeat_n(Touch { from: a, to: b }, 3));
            }
            txs.push(Touch {
                from: ring,
                to: (ring + 1) % 4,
            });
        }
        let mut h = History::new(1);
        h.push_epoch(&txs);
        let g = h.snapshot();
        let part = partition(&g, 4, 1.03, 1).unwrap();
        for ring in 0..4usize {
            let first = part[ring];
            assert!(
                (0..25).all(|i| part[i * 4 + ring] == first),
                "ring {ring} split: {part:?}"
            );
        }
        let mut parts: Vec<_> = (0..4).map(|r| part[r]).collect();
        parts.sort_unstable();
        assert_eq!(parts, vec![0, 1, 2, 3], "each ring its own shard");
    }

    #[test]
    fn tiny_graphs_and_one_shard() {
        let mut h = History::new(1);
        h.push_epoch(&[Touch { from: 1, to: 2 }]);
        let g = h.snapshot();
        assert_eq!(partition(&g, 1, 1.03, 1).unwrap(), vec![0, 0]);
        assert_eq!(partition(&g, 8, 1.03, 1).unwrap(), vec![0, 1]);
        assert!(partition(&Csr::default(), 4, 1.03, 1).unwrap().is_empty());
    }
}
