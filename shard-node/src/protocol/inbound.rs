//! The receiving half of the receipts protocol inside a shard: receipts verified
//! against a notarized root and admitted in channel order wait here — the
//! **delayed-receipt queue** — until a block has room for them (oldest first).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use cross_shard::channel::InboundChannels;
use cross_shard::two_phase::Decision;
use cross_shard::{Receipt, ShardId};
use shardsim_proto::pb;

/// An admitted receipt waiting to be applied.
#[derive(Debug, Clone, Copy)]
pub struct QueuedReceipt {
    /// The shard that sent it.
    pub src: ShardId,
    /// Its sequence number on the channel from `src`.
    pub seq: u64,
    /// What to apply.
    pub receipt: Receipt,
    /// When it was admitted (on the shard's clock), for the congestion figures.
    pub arrived: Duration,
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
    /// Placement epoch changes read from beacon blocks, by epoch, with the height of
    /// the block that announced each (see `cross_shard::migration`).
    pub epochs: std::collections::BTreeMap<u32, (u64, cross_shard::migration::EpochChange)>,
    /// The last epoch change read from the beacon since the process started (the
    /// block loop drops the ones it has applied from `epochs`; this stays).
    pub epoch_read: u32,
    /// Admitted receipts still to drop unapplied ([`crate::ShardConfig::lose_receipts`]).
    pub to_lose: u64,
    /// A committee's validator, per source (index = src): the deliveries whose
    /// receipts are still queued, in channel order — the proofs its proposals carry
    /// ([`HeldProof`]). Empty for a shard that proposes alone.
    pub proofs: Vec<VecDeque<HeldProof>>,
}

/// A delivery kept as the proof of its queued receipts, sequence numbers
/// `first_seq..end_seq` on its channel: its batch, Merkle path and certified source
/// header, which let any validator check them.
#[derive(Debug, Clone)]
pub struct HeldProof {
    /// The batch's first sequence number.
    pub first_seq: u64,
    /// One past its last.
    pub end_seq: u64,
    /// The delivery as the beacon sent it (with its `source`).
    pub delivery: Arc<pb::ReceiptDelivery>,
}

impl Inbound {
    /// The change of the epoch after `applied`, once the beacon block announcing it
    /// has been read: what the next block switches to.
    pub fn next_epoch(&self, applied: u32) -> Option<&cross_shard::migration::EpochChange> {
        self.epochs
            .get(&(applied + 1))
            .filter(|(height, _)| *height <= self.beacon_height)
            .map(|(_, change)| change)
    }

    /// The proofs of `taken` — receipts at the queue's front, in order — as a block's
    /// record carries them: one [`pb::ProvenReceipts`] per run of receipts from one
    /// delivery. `None` when one of them has no proof held (it cannot be proposed).
    pub fn proofs_of(&self, taken: &[QueuedReceipt]) -> Option<Vec<pb::ProvenReceipts>> {
        let mut out: Vec<pb::ProvenReceipts> = Vec::new();
        // The last run: its source, the next sequence number it continues with, and
        // one past its delivery's last.
        let mut run: Option<(ShardId, u64, u64)> = None;
        for q in taken {
            match (&mut run, out.last_mut()) {
                (Some((src, next, end)), Some(last))
                    if *src == q.src && *next == q.seq && q.seq < *end =>
                {
                    last.take += 1;
                    *next += 1;
                }
                _ => {
                    let held = self.held(q.src, q.seq)?;
                    out.push(pb::ProvenReceipts {
                        delivery: Some((*held.delivery).clone()),
                        skip: (q.seq - held.first_seq) as u32,
                        take: 1,
                    });
                    run = Some((q.src, q.seq + 1, held.end_seq));
                }
            }
        }
        Some(out)
    }

    /// The held delivery holding receipt `seq` from `src`.
    fn held(&self, src: ShardId, seq: u64) -> Option<&HeldProof> {
        self.proofs
            .get(src as usize)?
            .iter()
            .find(|h| h.first_seq <= seq && seq < h.end_seq)
    }

    /// Forgets the proofs of receipts from `src` below `next` (applied).
    pub fn applied(&mut self, src: ShardId, next: u64) {
        if let Some(p) = self.proofs.get_mut(src as usize) {
            while p.front().is_some_and(|h| h.end_seq <= next) {
                p.pop_front();
            }
        }
    }
}
