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
//! pass even when every shard is idle.

use std::collections::{BTreeMap, VecDeque};

use cross_shard::two_phase::{Coordinator, Verdict, Vote, VoteRefused};
use cross_shard::{
    Error as ProtocolError, Hash, Header, ReceiptBatch, ShardId, TxId, merkle, receipt,
};
use shardsim_proto::convert::{path_to_wire, vote_from_wire};
use shardsim_proto::pb;

use crate::error::{Error, Result};

/// A notarized batch waiting for its destination's acknowledgement.
#[derive(Debug, Clone)]
struct Stored {
    /// The beacon block whose crosslink notarized the source header.
    beacon_height: u64,
    /// The source shard of the batch.
    src: ShardId,
    /// One past the batch's last sequence number (acks compare against it).
    end_seq: u64,
    /// Receipts in the batch.
    receipts: u64,
    /// Native-coin value in the batch.
    value: u64,
    /// The message delivered to the destination.
    delivery: pb::ReceiptDelivery,
}

/// An accepted header waiting for the next beacon block.
#[derive(Debug, Clone)]
struct Pending {
    crosslink: pb::Crosslink,
    deliveries: Vec<(ShardId, Stored)>,
}

/// What a new beacon block asks the service to send.
#[derive(Debug, Clone)]
pub struct Notarized {
    /// The block, for every subscriber.
    pub block: pb::BeaconBlock,
    /// Deliveries, each for the subscriber of its destination shard.
    pub deliveries: Vec<(ShardId, pb::ReceiptDelivery)>,
    /// The submissions accepted into this block, in order (kept only when the chain
    /// records its inputs): replaying them rebuilds the block.
    pub accepted: Vec<pb::HeaderSubmission>,
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
    shards: u32,
    /// Per shard: height and hash of its last accepted header.
    heads: Vec<(u64, Hash)>,
    /// Per (src, dst): the next sequence number a batch must start at.
    next_seq: Vec<Vec<u64>>,
    /// Per (src, dst): one past the last sequence number notarized.
    routed: Vec<Vec<u64>>,
    /// Per shard: the height of its last notarized header.
    notarized: Vec<u64>,
    /// Keep each block's accepted submissions (for a store).
    record_inputs: bool,
    /// Submissions accepted since the last block, when recording.
    accepted: Vec<pb::HeaderSubmission>,
    /// Headers accepted since the last beacon block.
    pending: Vec<Pending>,
    /// Height of the last beacon block.
    height: u64,
    /// Beacon blocks still referenced by some outbox entry, for re-sending.
    blocks: BTreeMap<u64, pb::BeaconBlock>,
    /// Per destination: notarized batches not yet acknowledged, in order.
    outbox: Vec<VecDeque<Stored>>,
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
    coordinator: Option<Coordinator>,
    /// Two-phase figures: decisions, and votes refused.
    pub two_phase: TwoPhaseCounters,
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
    /// An empty beacon chain for `shards` shards; with `two_phase = Some(deadline)`, it
    /// coordinates two-phase commit, giving each transaction `deadline` beacon blocks.
    pub fn new(shards: u32, two_phase: Option<u64>) -> Chain {
        let n = shards as usize;
        Chain {
            shards,
            heads: vec![(0, Hash::ZERO); n],
            next_seq: vec![vec![0; n]; n],
            routed: vec![vec![0; n]; n],
            notarized: vec![0; n],
            record_inputs: false,
            accepted: Vec::new(),
            pending: Vec::new(),
            height: 0,
            blocks: BTreeMap::new(),
            outbox: vec![VecDeque::new(); n],
            headers_rejected: 0,
            receipts_forged: 0,
            receipts_replayed: 0,
            headers_duplicate: 0,
            headers_out_of_order: 0,
            coordinator: two_phase.map(Coordinator::new),
            two_phase: TwoPhaseCounters::default(),
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

    fn try_accept(&mut self, submission: &pb::HeaderSubmission) -> Result<(ShardId, Outcome)> {
        let header = Header::try_from(
            submission
                .header
                .as_ref()
                .ok_or(Error::Malformed("submission without a header".into()))?,
        )?;
        let src = header.shard;
        if src >= self.shards {
            return Err(Error::UnknownShard {
                shard: src,
                shards: self.shards,
            });
        }
        let (last_height, last_hash) = self.heads[src as usize];
        if header.height < last_height
            || (header.height == last_height && header.hash() == last_hash)
        {
            return Ok((src, Outcome::Duplicate));
        }
        if header.height > last_height + 1 {
            return Ok((src, Outcome::OutOfOrder));
        }
        // The next height (or a different header at the head: refused as not extending).
        header.check_extends(last_height, &last_hash)?;

        // Every batch must at least be well formed.
        let received: Vec<ReceiptBatch> = submission
            .batches
            .iter()
            .map(ReceiptBatch::try_from)
            .collect::<std::result::Result<_, _>>()?;
        // Votes must be well formed, and only a two-phase beacon takes them.
        let votes: Vec<(TxId, Vote)> = submission
            .votes
            .iter()
            .map(vote_from_wire)
            .collect::<std::result::Result<_, _>>()?;
        if !votes.is_empty() && self.coordinator.is_none() {
            return Err(Error::Malformed(
                "votes sent to a beacon that does not run two-phase commit".into(),
            ));
        }
        // Step 3: the leaves are what the header committed to.
        let leaves: Vec<Hash> = submission
            .leaves
            .iter()
            .map(|l| Hash::from_slice(l))
            .collect::<Option<_>>()
            .ok_or(Error::Malformed(
                "every receipt leaf must be 32 bytes".into(),
            ))?;
        if leaves.len() != self.shards as usize || merkle::root(&leaves) != header.receipts_root {
            return Err(ProtocolError::BadProof {
                src,
                dst: src,
                height: header.height,
            }
            .into());
        }

        // Step 2: each batch must be one the header committed to, and next on its
        // channel. A batch that is not (forged) or whose receipts were routed before
        // (replayed) is dropped and counted; the rest of the submission stands.
        let mut batches: Vec<ReceiptBatch> = Vec::with_capacity(submission.batches.len());
        let mut seen = vec![false; self.shards as usize];
        let (mut forged, mut replayed) = (0u64, 0u64);
        for b in received {
            if b.src != src || b.dst >= self.shards || b.dst == src {
                return Err(ProtocolError::Misrouted {
                    src: b.src,
                    dst: b.dst,
                    why: "source is not the header's shard, or destination out of range or the source itself",
                }
                .into());
            }
            let d = b.dst as usize;
            let n = b.receipts.len() as u64;
            if n > 0 && b.end_seq() <= self.next_seq[src as usize][d] {
                replayed += n;
            } else if seen[d]
                || n == 0
                || b.first_seq != self.next_seq[src as usize][d]
                || b.leaf() != leaves[d]
            {
                forged += n;
            } else {
                seen[d] = true;
                batches.push(b);
            }
        }
        // Every destination the header committed receipts to must get them: a withheld
        // batch would stall its channel for good.
        if let Some(d) = (0..self.shards)
            .find(|&d| !seen[d as usize] && leaves[d as usize] != receipt::empty_leaf(src, d))
        {
            return Err(ProtocolError::Misrouted {
                src,
                dst: d,
                why: "the header commits to receipts for this destination but no valid batch came with it",
            }
            .into());
        }
        self.receipts_forged += forged;
        self.receipts_replayed += replayed;
        if let Some(c) = self.coordinator.as_mut() {
            for (tx, vote) in votes {
                match c.vote(src, tx, vote) {
                    Ok(()) => {}
                    Err(VoteRefused::Late) => self.two_phase.votes_late += 1,
                    Err(VoteRefused::Unknown | VoteRefused::NotParticipant) => {
                        self.two_phase.votes_forged += 1;
                    }
                    Err(VoteRefused::Duplicate) => self.two_phase.votes_duplicate += 1,
                }
            }
        }

        // Acks from this shard (as a destination), step 6.
        for ack in &submission.acks {
            if let Some(outbox) = self.outbox.get_mut(src as usize) {
                outbox.retain(|s| !(s.src == ack.src && s.end_seq <= ack.next_seq));
            }
        }

        // Accepted: advance the chain and the channels, keep it for the next block.
        self.heads[src as usize] = (header.height, header.hash());
        let deliveries = batches
            .iter()
            .map(|b| {
                self.next_seq[src as usize][b.dst as usize] = b.end_seq();
                let proof = merkle::proof(&leaves, b.dst as usize).unwrap_or_default();
                let stored = Stored {
                    beacon_height: 0,
                    src,
                    end_seq: b.end_seq(),
                    receipts: b.receipts.len() as u64,
                    value: b.value_of(cross_shard::ids::NATIVE),
                    delivery: pb::ReceiptDelivery {
                        src_height: header.height,
                        batch: Some(pb::ReceiptBatch::from(b)),
                        proof: path_to_wire(&proof),
                    },
                };
                (b.dst, stored)
            })
            .collect();
        self.pending.push(Pending {
            crosslink: pb::Crosslink {
                shard: src,
                height: header.height,
                header_hash: header.hash().0.to_vec(),
                receipts_root: header.receipts_root.0.to_vec(),
            },
            deliveries,
        });
        Ok((src, Outcome::Fresh))
    }

    /// Steps 4–5: turns the pending headers into a beacon block, or `None` when there
    /// are none (the beacon makes no empty blocks, unless two-phase transactions are
    /// open: their deadlines count in blocks).
    pub fn notarize(&mut self) -> Option<Notarized> {
        let open = self.coordinator.as_ref().map_or(0, Coordinator::open_count);
        if self.pending.is_empty() && open == 0 {
            return None;
        }
        self.height += 1;
        let mut block = pb::BeaconBlock {
            height: self.height,
            crosslinks: Vec::with_capacity(self.pending.len()),
            decisions: Vec::new(),
        };
        let mut deliveries = Vec::new();
        for p in self.pending.drain(..) {
            self.notarized[p.crosslink.shard as usize] = p.crosslink.height;
            block.crosslinks.push(p.crosslink);
            for (dst, mut stored) in p.deliveries {
                stored.beacon_height = self.height;
                self.routed[stored.src as usize][dst as usize] = stored.end_seq;
                if let (Some(c), Some(batch)) =
                    (self.coordinator.as_mut(), stored.delivery.batch.as_ref())
                {
                    // Every receipt is a prepare: open it, to be decided by
                    // this block's height + the deadline.
                    for &tx in &batch.tx_id {
                        c.open(tx, stored.src, dst, self.height);
                    }
                }
                deliveries.push((dst, stored.delivery.clone()));
                self.outbox[dst as usize].push_back(stored);
            }
        }
        // Keep only the blocks that an unacknowledged batch still refers to.
        let oldest = self
            .outbox
            .iter()
            .filter_map(|o| o.front().map(|s| s.beacon_height))
            .min()
            .unwrap_or(self.height);
        self.blocks = self.blocks.split_off(&oldest);
        if let Some(c) = self.coordinator.as_mut() {
            for d in c.decide(self.height) {
                match d.verdict {
                    Verdict::Commit { .. } => self.two_phase.commits += 1,
                    Verdict::Abort(_) => self.two_phase.aborts += 1,
                }
                block.decisions.push(pb::Decision::from(&d));
            }
        }
        if !deliveries.is_empty() {
            self.blocks.insert(self.height, block.clone());
        }
        Some(Notarized {
            block,
            deliveries,
            accepted: std::mem::take(&mut self.accepted),
        })
    }

    /// What shard `dst` should have received by now (sent after each interval's block
    /// and deliveries, and after a backlog).
    pub fn tip(&self, dst: ShardId) -> pb::Tip {
        pb::Tip {
            height: self.height,
            routed: self.routed.iter().map(|r| r[dst as usize]).collect(),
        }
    }

    /// Per shard, the height of its last notarized header.
    pub fn notarized_heights(&self) -> Vec<u64> {
        self.notarized.clone()
    }

    /// What a (re)subscribing shard `dst` must receive to catch up: the beacon blocks
    /// that notarized its unacknowledged batches, each followed by those batches.
    pub fn backlog(&self, dst: ShardId) -> Vec<pb::Inbound> {
        let mut out = Vec::new();
        let Some(outbox) = self.outbox.get(dst as usize) else {
            return out;
        };
        let mut last_block = None;
        for s in outbox {
            if last_block != Some(s.beacon_height) {
                if let Some(block) = self.blocks.get(&s.beacon_height) {
                    out.push(pb::Inbound {
                        kind: Some(pb::inbound::Kind::Block(block.clone())),
                    });
                }
                last_block = Some(s.beacon_height);
            }
            out.push(pb::Inbound {
                kind: Some(pb::inbound::Kind::Delivery(s.delivery.clone())),
            });
        }
        out.push(pb::Inbound {
            kind: Some(pb::inbound::Kind::Tip(self.tip(dst))),
        });
        out
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

    /// Receipts and value notarized or pending and not yet acknowledged.
    pub fn in_flight(&self) -> (u64, u64) {
        let stored = self.outbox.iter().flatten().chain(
            self.pending
                .iter()
                .flat_map(|p| p.deliveries.iter().map(|d| &d.1)),
        );
        stored.fold((0, 0), |(n, v), s| {
            (n + s.receipts, v.saturating_add(s.value))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cross_shard::Receipt;

    /// Builds shard `src`'s submission at `height` after `prev`, with one batch per
    /// (dst, first_seq, count).
    fn submission(
        src: u32,
        height: u64,
        prev: Hash,
        batches: &[(u32, u64, u64)],
        acks: &[(u32, u64)],
    ) -> (pb::HeaderSubmission, Header) {
        let batches: Vec<ReceiptBatch> = batches
            .iter()
            .map(|&(dst, first_seq, n)| ReceiptBatch {
                src,
                dst,
                first_seq,
                receipts: (0..n).map(|i| Receipt::credit(i, 1, 10, 0)).collect(),
            })
            .collect();
        let header = Header {
            shard: src,
            height,
            prev_hash: prev,
            state_root: Hash::ZERO,
            receipts_root: receipt::receipts_root(src, 3, &batches),
            tx_count: 0,
        };
        let sub = pb::HeaderSubmission {
            header: Some(pb::Header::from(&header)),
            batches: batches.iter().map(pb::ReceiptBatch::from).collect(),
            acks: acks
                .iter()
                .map(|&(src, next_seq)| pb::ChannelAck { src, next_seq })
                .collect(),
            leaves: receipt::leaves(src, 3, &batches)
                .iter()
                .map(|l| l.0.to_vec())
                .collect(),
            votes: Vec::new(),
        };
        (sub, header)
    }

    #[test]
    fn notarizes_routes_and_forgets_on_ack() {
        let mut chain = Chain::new(3, None);
        let (s, h1) = submission(0, 1, Hash::ZERO, &[(1, 0, 2), (2, 0, 1)], &[]);
        chain.accept(&s).unwrap();
        assert_eq!(chain.in_flight(), (3, 30), "pending counts as in flight");
        let n = chain.notarize().unwrap();
        assert_eq!(n.block.crosslinks.len(), 1);
        assert_eq!(
            n.deliveries.iter().map(|d| d.0).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(chain.notarize().is_none(), "no empty beacon blocks");
        assert_eq!(chain.backlog(1).len(), 3, "block + delivery + tip");
        // Shard 1 acks both receipts from shard 0.
        let (ack, _) = submission(1, 1, Hash::ZERO, &[], &[(0, 2)]);
        chain.accept(&ack).unwrap();
        assert_eq!(chain.backlog(1).len(), 1, "the tip alone");
        assert_eq!(chain.in_flight(), (1, 10));
        // Shard 0 continues its chain and its channels.
        let (s2, _) = submission(0, 2, h1.hash(), &[(1, 2, 1)], &[]);
        chain.accept(&s2).unwrap();
        assert_eq!(chain.shard_heights(), vec![2, 1, 0]);
    }

    proptest::proptest! {
        /// Arbitrary submissions (wrong shards, heights, hash lengths, columns, acks)
        /// are refused or accepted, never a panic; nothing refused changes the chain.
        #[test]
        fn arbitrary_submissions_never_panic(
            subs in proptest::collection::vec(
                (0u32..5, 0u64..4, 0usize..40, proptest::collection::vec((0u32..5, 0u32..5, 0u64..3, 0usize..4, 0usize..4), 0..4), proptest::collection::vec((0u32..5, proptest::num::u64::ANY), 0..3)),
                1..12,
            )
        ) {
            let mut chain = Chain::new(3, Some(2));
            for (shard, height, hash_len, batches, acks) in subs {
                let sub = pb::HeaderSubmission {
                    header: Some(pb::Header {
                        shard,
                        height,
                        prev_hash: vec![0; hash_len],
                        state_root: vec![0; 32],
                        receipts_root: vec![0; 32],
                        tx_count: 0,
                    }),
                    batches: batches
                        .into_iter()
                        .map(|(src, dst, first_seq, n, m)| pb::ReceiptBatch {
                            src,
                            dst,
                            first_seq,
                            tx_id: vec![1; n],
                            to: vec![2; m],
                            amount: vec![u64::MAX; n],
                            asset: vec![1; m % 3],
                            kind: vec![(m % 7) as u32; m % 2],
                            ..Default::default()
                        })
                        .collect(),
                    acks: acks.into_iter().map(|(src, next_seq)| pb::ChannelAck { src, next_seq }).collect(),
                    leaves: vec![vec![0; 32]; shard as usize % 4],
                    votes: vec![pb::Vote { tx: height, yes: hash_len % 2 == 0, reason: hash_len as u32 % 12, output: 0 }],
                };
                let before = (chain.shard_heights(), chain.in_flight());
                if chain.accept(&sub).is_err() {
                    proptest::prop_assert_eq!(before, (chain.shard_heights(), chain.in_flight()));
                }
                let _ = chain.notarize();
                let _ = chain.backlog(shard);
            }
        }
    }

    #[test]
    fn forged_and_replayed_batches_are_dropped_and_counted_withheld_ones_refused() {
        let mut chain = Chain::new(3, None);
        let (s1, h1) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
        chain.accept(&s1).unwrap();
        // Block 2 honestly sends to shard 2, and also slips in a batch to shard 1 that
        // its header does not commit to, and replays block 1's batch.
        let (mut s2, h2) = submission(0, 2, h1.hash(), &[(2, 0, 1)], &[]);
        let mut forged = s1.batches[0].clone();
        forged.first_seq = 2;
        forged.amount = vec![1_000_000; 2];
        s2.batches.push(forged);
        s2.batches.push(s1.batches[0].clone());
        chain.accept(&s2).unwrap();
        assert_eq!((chain.receipts_forged, chain.receipts_replayed), (2, 2));
        assert_eq!(
            chain.in_flight(),
            (3, 30),
            "only the honest receipts are routed"
        );
        // A header committing to receipts it does not send is refused whole.
        let (mut s3, _) = submission(0, 3, h2.hash(), &[(1, 2, 1)], &[]);
        s3.batches.clear();
        assert!(chain.accept(&s3).is_err());
        assert_eq!(chain.shard_heights()[0], 2);
    }

    #[test]
    fn two_phase_opens_prepares_counts_votes_and_decides_by_the_deadline() {
        use shardsim_proto::convert::vote_to_wire;
        let mut chain = Chain::new(3, Some(2));
        // Shard 0 prepares txs 0 and 1 on shard 1 (credit receipts, ids 0 and 1).
        let (s, _) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
        chain.accept(&s).unwrap();
        let n = chain.notarize().unwrap();
        assert!(n.block.decisions.is_empty());
        assert_eq!(chain.two_phase_open(), 2);
        // Shard 1 votes yes on tx 0, and also on tx 7 (never prepared); shard 2 votes
        // on tx 1, which is not its to vote on.
        let (mut v1, h1) = submission(1, 1, Hash::ZERO, &[], &[(0, 2)]);
        v1.votes = vec![
            vote_to_wire(0, Vote::Yes { output: 0 }),
            vote_to_wire(7, Vote::Yes { output: 0 }),
        ];
        chain.accept(&v1).unwrap();
        let (mut v2, _) = submission(2, 1, Hash::ZERO, &[], &[]);
        v2.votes = vec![vote_to_wire(1, Vote::Yes { output: 0 })];
        chain.accept(&v2).unwrap();
        let n = chain.notarize().unwrap();
        let decided: Vec<_> = n.block.decisions.iter().map(|d| (d.tx, d.commit)).collect();
        assert_eq!(decided, vec![(0, true)]);
        // No header is pending, but tx 1 is open: the beacon keeps making blocks until
        // its deadline (block 1 + 2) aborts it.
        let n = chain.notarize().unwrap();
        assert_eq!(n.block.height, 3);
        let d = shardsim_proto::convert::decision_from_wire(&n.block.decisions[0]).unwrap();
        assert_eq!(
            (d.tx, d.home, d.participant, d.verdict),
            (1, 0, 1, Verdict::Abort(cross_shard::RejectReason::Timeout))
        );
        assert!(chain.notarize().is_none(), "nothing open, nothing pending");
        // Shard 1's vote on tx 1 now comes too late.
        let (mut late, _) = submission(1, 2, h1.hash(), &[], &[]);
        late.votes = vec![vote_to_wire(1, Vote::Yes { output: 0 })];
        chain.accept(&late).unwrap();
        assert_eq!(
            chain.two_phase,
            TwoPhaseCounters {
                commits: 1,
                aborts: 1,
                votes_late: 1,
                votes_forged: 2,
                votes_duplicate: 0
            }
        );
        // A receipts-only beacon refuses votes.
        let mut plain = Chain::new(3, None);
        let (mut v, _) = submission(1, 1, Hash::ZERO, &[], &[]);
        v.votes = vec![vote_to_wire(0, Vote::Yes { output: 0 })];
        assert!(plain.accept(&v).is_err());
    }

    #[test]
    fn resent_and_out_of_order_submissions_are_ignored_and_tips_show_what_was_routed() {
        let mut chain = Chain::new(3, None);
        chain.record_inputs();
        let (s1, h1) = submission(0, 1, Hash::ZERO, &[(1, 0, 2)], &[]);
        let (s2, _) = submission(0, 2, h1.hash(), &[(1, 2, 1)], &[]);
        assert_eq!(chain.accept(&s2).unwrap(), (0, Outcome::OutOfOrder));
        assert_eq!(chain.accept(&s1).unwrap(), (0, Outcome::Fresh));
        assert_eq!(chain.accept(&s1).unwrap(), (0, Outcome::Duplicate));
        assert_eq!(chain.tip(1).routed, vec![0, 0, 0], "pending is not routed");
        let n = chain.notarize().unwrap();
        assert_eq!(
            n.accepted,
            vec![s1.clone()],
            "only the fresh one is an input"
        );
        assert_eq!(
            chain.tip(1),
            pb::Tip {
                height: 1,
                routed: vec![2, 0, 0]
            }
        );
        assert_eq!(chain.notarized_heights(), vec![1, 0, 0]);
        assert_eq!(chain.accept(&s2).unwrap(), (0, Outcome::Fresh));
        assert_eq!(chain.accept(&s1).unwrap(), (0, Outcome::Duplicate));
        assert_eq!(
            (chain.headers_duplicate, chain.headers_out_of_order),
            (2, 1)
        );
        assert_eq!(chain.headers_rejected, 0);
        // The backlog ends with the tip.
        let backlog = chain.backlog(1);
        assert!(matches!(
            backlog.last().unwrap().kind,
            Some(pb::inbound::Kind::Tip(_))
        ));
        // Replaying the recorded inputs rebuilds the same chain.
        let mut again = Chain::new(3, None);
        for s in &n.accepted {
            again.accept(s).unwrap();
        }
        assert_eq!(again.notarize().unwrap().block, n.block);
    }

    #[test]
    fn broken_chain_forged_root_and_channel_gap_are_refused() {
        let mut chain = Chain::new(3, None);
        let (mut s, _) = submission(0, 1, Hash::ZERO, &[], &[]);
        s.header.as_mut().unwrap().prev_hash = vec![1; 32];
        assert!(chain.accept(&s).is_err(), "prev_hash is not genesis");
        let (mut s, _) = submission(0, 1, Hash::ZERO, &[(1, 0, 1)], &[]);
        s.batches[0].amount[0] = 1_000_000;
        assert!(chain.accept(&s).is_err(), "batch does not match the root");
        let (s, _) = submission(0, 1, Hash::ZERO, &[(1, 5, 1)], &[]);
        assert!(chain.accept(&s).is_err(), "channel starts at 5");
        let (s, _) = submission(0, 1, Hash::ZERO, &[(0, 0, 1)], &[]);
        assert!(chain.accept(&s).is_err(), "batch to itself");
        let (s, _) = submission(7, 1, Hash::ZERO, &[], &[]);
        assert!(chain.accept(&s).is_err(), "unknown shard");
        assert_eq!(chain.headers_rejected, 5);
        assert_eq!(chain.in_flight(), (0, 0));
        assert_eq!(chain.shard_heights(), vec![0, 0, 0]);
    }
}
