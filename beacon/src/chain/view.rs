//! What each shard is sent of a beacon block: its **view**, not the whole block.
//!
//! A beacon block holds a crosslink per shard that submitted a header, and (two-phase)
//! every decision made in it. Sent whole to every shard, its bytes grow with the square
//! of the shard count: at 1,024 shards a block of ~70 KB went to each of 1,024 shards
//! every interval, and each shard remembered the receipts roots of every other shard.
//! A shard reads only three things of a block, so its view holds only those:
//!
//! ```text
//!  block h: crosslinks  [s0 s1 s2 … s1023]        view of h for shard d:
//!           decisions   [(tx, home, part) …]  ─►    crosslinks: d's own (its headers are
//!           epoch change                                notarized: stop resending them)
//!  deliveries of h to d: from sources {a, b}          + a's and b's (the roots its
//!                                                         deliveries are proven against)
//!                                                     decisions: those with d as home or
//!                                                         participant
//!                                                     epoch change: always
//! ```
//!
//! Every shard still receives a view of every block, empty or not: its height moves
//! the shard's two-phase deadlines. The chain keeps the whole block; the same views are
//! cut from it again for a backlog ([`super::Chain::backlog`]).

use std::collections::BTreeMap;

use cross_shard::ShardId;
use shardsim_proto::pb;

/// Where each shard's parts of one block are: built once per block, for cutting every
/// view from it in time proportional to the view (not to the block).
pub(super) struct Index {
    /// Per shard, the positions of its crosslinks (a block can notarize several
    /// headers of one shard, when it made blocks faster than the beacon).
    crosslinks: BTreeMap<ShardId, Vec<usize>>,
    /// Per shard, the positions of the decisions that name it (home or participant).
    decisions: BTreeMap<ShardId, Vec<usize>>,
}

impl Index {
    /// The index of `block`.
    pub(super) fn of(block: &pb::BeaconBlock) -> Index {
        let mut crosslinks: BTreeMap<ShardId, Vec<usize>> = BTreeMap::new();
        for (i, c) in block.crosslinks.iter().enumerate() {
            crosslinks.entry(c.shard).or_default().push(i);
        }
        let mut decisions: BTreeMap<ShardId, Vec<usize>> = BTreeMap::new();
        for (i, d) in block.decisions.iter().enumerate() {
            decisions.entry(d.home).or_default().push(i);
            if d.participant != d.home {
                decisions.entry(d.participant).or_default().push(i);
            }
        }
        Index {
            crosslinks,
            decisions,
        }
    }

    /// Shard `dst`'s view of `block`, for deliveries from `sources` (any order,
    /// repeats allowed).
    pub(super) fn view(
        &self,
        block: &pb::BeaconBlock,
        dst: ShardId,
        sources: impl IntoIterator<Item = ShardId>,
    ) -> pb::BeaconBlock {
        let mut at: Vec<usize> = std::iter::once(dst)
            .chain(sources)
            .filter_map(|s| self.crosslinks.get(&s))
            .flatten()
            .copied()
            .collect();
        at.sort_unstable();
        at.dedup();
        pb::BeaconBlock {
            height: block.height,
            crosslinks: at.iter().map(|&i| block.crosslinks[i].clone()).collect(),
            decisions: self.decisions.get(&dst).map_or_else(Vec::new, |ds| {
                ds.iter().map(|&i| block.decisions[i]).collect()
            }),
            epoch: block.epoch.clone(),
        }
    }
}

/// The source shard of a delivery (one without a batch is never made by the chain).
pub(super) fn source(delivery: &pb::ReceiptDelivery) -> Option<ShardId> {
    delivery.batch.as_ref().map(|b| b.src)
}

/// What a shard is sent for one beacon block: its `view`, then its `deliveries` in one
/// message (none when there are none) — the same after a block and in a backlog.
pub(super) fn messages(
    view: pb::BeaconBlock,
    deliveries: Vec<pb::ReceiptDelivery>,
) -> impl Iterator<Item = pb::Inbound> {
    let block = pb::Inbound {
        kind: Some(pb::inbound::Kind::Block(view)),
    };
    let delivered = (!deliveries.is_empty()).then_some(pb::Inbound {
        kind: Some(pb::inbound::Kind::Deliveries(pb::Deliveries {
            items: deliveries,
        })),
    });
    std::iter::once(block).chain(delivered)
}
