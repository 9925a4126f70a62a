//! The receiving half of the receipts protocol inside a shard: receipts verified
//! against a notarized root and admitted in channel order wait here — the
//! **delayed-receipt queue** — until a block has room for them (oldest first).

use std::collections::VecDeque;
use std::time::Instant;

use cross_shard::channel::InboundChannels;
use cross_shard::two_phase::Decision;
use cross_shard::{Receipt, ShardId};

/// An admitted receipt waiting to be applied.
#[derive(Debug, Clone, Copy)]
pub struct QueuedReceipt {
    /// The shard that sent it.
    pub src: ShardId,
    /// What to apply.
    pub receipt: Receipt,
    /// When it was admitted, for the congestion figures.
    pub arrived: Instant,
    /// The beacon block that delivered it (two-phase deadlines count from there).
    pub notarized: u64,
}

/// Verified receipts waiting for a block, and the channel bookkeeping.
#[derive(Debug)]
pub struct Inbound {
    /// Sequence tracking and notarized roots (see `cross_shard::channel`).
    pub channels: InboundChannels,
    /// Admitted receipts in arrival order: the **delayed-receipt queue**. A block
    /// applies them first-in first-out, at most its capacity; the rest wait here.
    pub queue: VecDeque<QueuedReceipt>,
    /// Deliveries refused: bad proof, unknown header, gap, malformed.
    pub rejected: u64,
    /// Receipts delivered again after admission, ignored.
    pub duplicates: u64,
    /// Deliveries that came before their beacon block or after a gap: a message lost
    /// on the way; the link resubscribes and the beacon sends them again.
    pub out_of_order: u64,
    /// Height of the last beacon block read.
    pub beacon_height: u64,
    /// Two-phase decisions for this shard read from beacon blocks, in order.
    pub decisions: Vec<Decision>,
    /// Admitted receipts still to drop unapplied ([`crate::ShardConfig::lose_receipts`]).
    pub to_lose: u64,
}
