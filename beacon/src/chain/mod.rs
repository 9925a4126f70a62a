//! The beacon's state machine, free of I/O: accept headers, notarize, route, forget.
//!
//! ```text
//!  accept(submission)                         notarize()  (every beacon_interval)
//!   1. header extends the shard's chain        4. pending crosslinks → beacon block h
//!   2. batches come from that shard, at most   5. each batch → outbox[dst] with its
//!      one per destination, and continue          Merkle path; returned for delivery
//!      each channel's sequence numbers
//!   3. batches hash to the header's            acks (in later submissions of dst)
//!      receipts_root                           6. drop outbox[dst] batches whose
//!   → pending until the next beacon block         receipts dst has applied
//! ```
//!
//! A batch stays in `outbox[dst]` from notarization until `dst` acknowledges it, so a
//! destination that reconnects gets everything it has not applied ([`Chain::backlog`]).
//! The value of those batches is the beacon's view of the receipts in flight.
//!
//! **Resent submissions.** Shards send a submission again until it is notarized (after
//! a reconnect, a beacon restart, or a message lost on the way). A header at or below
//! the shard's head is a **duplicate** and one beyond the next height comes **out of
//! order** (one before it was lost): both are ignored and counted, and the shard's
//! resend of the missing one puts things right. Every beacon interval ends with a
//! [`Chain::tip`] per shard, by which a shard notices a delivery it never got.
//!
//! **Replay.** Given the same accepted submissions between the same beacon blocks, the
//! chain makes the same blocks. The service stores each block's accepted submissions
//! ([`Notarized::accepted`]) and, after a restart, replays them to rebuild everything
//! here: heads, channels, the outbox, the coordinator.
//!
//! Under the `two-phase` protocol the beacon is also the **coordinator**
//! ([`cross_shard::two_phase::Coordinator`]): every receipt it notarizes is a prepare,
//! opened in that beacon block with a deadline; the votes come with the participants'
//! headers; each beacon block carries the decisions made in it. The beacon then makes a
//! block every interval while a transaction is open, headers or not, so that deadlines
//! pass even when every shard is idle. A block with a decision for a shard is kept
//! until that shard's header says it has applied the decisions up to that height
//! (`decided_through`), and is part of the shard's backlog until then:
//!
//! ```text
//!  block b: Decision(tx, home H, participant P) ─► decided[H], decided[P] ∋ b
//!  P crashes; restarts from its store at decisions through b0 < b; resubscribes
//!  backlog(P): the kept blocks, in height order; P reads the decisions of those above b0
//!  P's next header: decided_through ≥ b ─► b leaves decided[P]
//! ```

use std::collections::{BTreeMap, VecDeque};

use cross_shard::two_phase::Coordinator;
use cross_shard::{Hash, ShardId, merkle};
use shardsim_proto::pb;

use crate::error::Result;

mod coordinator;
mod epochs;
mod headers;
mod routing;
#[cfg(test)]
pub(crate) mod tests;
mod view;

/// A notarized batch waiting for its destination's acknowledgement.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    /// The beacon block whose crosslink notarized the source header.
    pub(super) beacon_height: u64,
    /// The source shard of the batch.
    pub(super) src: ShardId,
    /// One past the batch's last sequence number (acks compare against it).
    pub(super) end_seq: u64,
    /// Receipts in the batch.
    pub(super) receipts: u64,
    /// Native-coin value in the batch.
    pub(super) value: u64,
    /// The message delivered to the destination.
    pub(super) delivery: pb::ReceiptDelivery,
}

/// An accepted header waiting for the next beacon block.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) crosslink: pb::Crosslink,
    pub(super) deliveries: Vec<(ShardId, Stored)>,
}

/// What a new beacon block asks the service to send: to each shard, its view of the
/// block and then its deliveries, in one message ([`Notarized::into_messages`]).
#[derive(Debug, Clone)]
pub struct Notarized {
    /// The block, whole.
    pub block: pb::BeaconBlock,
    /// Deliveries by destination shard, each in routing order.
    pub deliveries: BTreeMap<ShardId, Vec<pb::ReceiptDelivery>>,
    /// The submissions accepted into this block, in order (kept only when the chain
    /// records its inputs): replaying them rebuilds the block.
    pub accepted: Vec<pb::HeaderSubmission>,
    /// The epoch change the block announced (stored with it, for the replay).
    pub epoch: Option<pb::EpochChange>,
}

impl Notarized {
    /// Receipt batches the block routes, to all destinations.
    pub fn delivery_count(&self) -> usize {
        self.deliveries.values().map(Vec::len).sum()
    }

    /// What each of the cluster's `shards` shards is sent, in shard order: its view of
    /// the block ([`view`]) and the deliveries to it (none for most shards).
    pub fn into_parts(
        self,
        shards: u32,
    ) -> impl Iterator<Item = (ShardId, pb::BeaconBlock, Vec<pb::ReceiptDelivery>)> {
        let index = view::Index::of(&self.block);
        let (block, mut deliveries) = (self.block, self.deliveries);
        (0..shards).map(move |dst| {
            let to = deliveries.remove(&dst).unwrap_or_default();
            let view = index.view(&block, dst, to.iter().filter_map(view::source));
            (dst, view, to)
        })
    }

    /// [`Notarized::into_parts`] as the messages each shard is sent, in order.
    pub fn into_messages(self, shards: u32) -> impl Iterator<Item = (ShardId, Vec<pb::Inbound>)> {
        self.into_parts(shards)
            .map(|(dst, v, to)| (dst, view::messages(v, to).collect()))
    }
}

/// What became of a submission that was not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It extends the shard's chain: accepted.
    Fresh,
    /// The beacon has it already (at or below the shard's head): ignored.
    Duplicate,
    /// It skips a height (one before it was lost): ignored until the gap is filled.
    OutOfOrder,
}

/// The beacon chain and the receipts it routes.
#[derive(Debug)]
pub struct Chain {
    /// Shards in the cluster.
    pub(super) shards: u32,
    /// Each shard's committee, known from genesis: a header counts only with a quorum
    /// certificate of its shard's committee.
    pub(super) committees: Vec<consensus::Committee>,
    /// Per shard: height and hash of its last accepted header.
    pub(super) heads: Vec<(u64, Hash)>,
    /// Per shard: the receipts-root tree of its blocks that send nothing, made at its
    /// first header; each header's root is checked by patching it with the leaves sent
    /// (see [`cross_shard::receipt::empty_leaves`]).
    pub(super) empty_trees: Vec<Option<merkle::Tree>>,
    /// Per (src, dst): the next sequence number a batch must start at.
    pub(super) next_seq: Vec<Vec<u64>>,
    /// Per (src, dst): one past the last sequence number notarized.
    pub(super) routed: Vec<Vec<u64>>,
    /// Per shard: the height of its last notarized header.
    pub(super) notarized: Vec<u64>,
    /// Keep each block's accepted submissions (for a store).
    pub(super) record_inputs: bool,
    /// Submissions accepted since the last block, when recording.
    pub(super) accepted: Vec<pb::HeaderSubmission>,
    /// Headers accepted since the last beacon block.
    pub(super) pending: Vec<Pending>,
    /// Height of the last beacon block.
    pub(super) height: u64,
    /// Beacon blocks still referenced by some outbox entry, for re-sending.
    pub(super) blocks: BTreeMap<u64, pb::BeaconBlock>,
    /// Per destination: notarized batches not yet acknowledged, in order.
    pub(super) outbox: Vec<VecDeque<Stored>>,
    /// Per shard (two-phase): the beacon blocks carrying a decision for it — as home or
    /// participant — that it has not yet said it applied, in height order. A shard
    /// that resubscribes gets them again, so a restarted one learns what it missed.
    pub(super) decided: Vec<VecDeque<u64>>,
    /// Submissions refused.
    pub headers_rejected: u64,
    /// Receipts dropped from accepted submissions: not committed to by their header.
    pub receipts_forged: u64,
    /// Receipts dropped from accepted submissions: already routed before.
    pub receipts_replayed: u64,
    /// Submissions ignored: already accepted.
    pub headers_duplicate: u64,
    /// Submissions ignored: a height before them is missing.
    pub headers_out_of_order: u64,
    /// The two-phase coordinator, when the cluster runs that protocol.
    pub(super) coordinator: Option<Coordinator>,
    /// Two-phase figures: decisions, and votes refused.
    pub two_phase: TwoPhaseCounters,
    /// Placement: every epoch change announced, with the beacon block that did.
    pub(super) epochs: Vec<(u64, pb::EpochChange)>,
    /// The epoch change waiting for the next block.
    pub(super) next_epoch: Option<pb::EpochChange>,
}

/// What the coordinator decided and refused, cumulatively.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TwoPhaseCounters {
    /// Transactions committed.
    pub commits: u64,
    /// Transactions aborted.
    pub aborts: u64,
    /// Votes on a transaction already decided.
    pub votes_late: u64,
    /// Votes on a transaction never prepared, or by a shard that is not its participant.
    pub votes_forged: u64,
    /// Second votes on one transaction.
    pub votes_duplicate: u64,
}

impl Chain {
    /// An empty beacon chain for one shard per committee (index = shard id); with
    /// `two_phase = Some(deadline)`, it coordinates two-phase commit, giving each
    /// transaction `deadline` beacon blocks.
    pub fn new(committees: Vec<consensus::Committee>, two_phase: Option<u64>) -> Chain {
        let n = committees.len();
        Chain {
            shards: n as u32,
            committees,
            heads: vec![(0, Hash::ZERO); n],
            empty_trees: vec![None; n],
            next_seq: vec![vec![0; n]; n],
            routed: vec![vec![0; n]; n],
            notarized: vec![0; n],
            record_inputs: false,
            accepted: Vec::new(),
            pending: Vec::new(),
            height: 0,
            blocks: BTreeMap::new(),
            outbox: vec![VecDeque::new(); n],
            decided: vec![VecDeque::new(); n],
            headers_rejected: 0,
            receipts_forged: 0,
            receipts_replayed: 0,
            headers_duplicate: 0,
            headers_out_of_order: 0,
            coordinator: two_phase.map(Coordinator::new),
            two_phase: TwoPhaseCounters::default(),
            epochs: Vec::new(),
            next_epoch: None,
        }
    }

    /// From now on, keep each block's accepted submissions in [`Notarized::accepted`].
    pub fn record_inputs(&mut self) {
        self.record_inputs = true;
    }

    /// Steps 1–3 and 6: checks a shard's submission and records it, ignores it (a
    /// duplicate, or out of order), or refuses it whole (counted in
    /// `headers_rejected`).
    pub fn accept(&mut self, submission: &pb::HeaderSubmission) -> Result<(ShardId, Outcome)> {
        let result = self.try_accept(submission);
        match result {
            Err(_) => self.headers_rejected += 1,
            Ok((_, Outcome::Duplicate)) => self.headers_duplicate += 1,
            Ok((_, Outcome::OutOfOrder)) => self.headers_out_of_order += 1,
            Ok((_, Outcome::Fresh)) if self.record_inputs => {
                self.accepted.push(submission.clone());
            }
            Ok((_, Outcome::Fresh)) => {}
        }
        result
    }

    /// Per shard, the height of its last notarized header.
    pub fn notarized_heights(&self) -> Vec<u64> {
        self.notarized.clone()
    }

    /// Two-phase transactions open (prepared, not decided).
    pub fn two_phase_open(&self) -> u64 {
        self.coordinator
            .as_ref()
            .map_or(0, |c| c.open_count() as u64)
    }

    /// Height of the last beacon block.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// Shards in the cluster.
    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// Per shard, the height of its last accepted header.
    pub fn shard_heights(&self) -> Vec<u64> {
        self.heads.iter().map(|h| h.0).collect()
    }
}
