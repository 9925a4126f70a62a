//! Steps 4–6: notarizing pending headers into a beacon block, routing each batch to its
//! destination's outbox with its Merkle path, and forgetting what destinations have
//! acknowledged; plus what a (re)subscribing shard must receive to catch up.

use std::collections::BTreeMap;

use cross_shard::ShardId;
use cross_shard::two_phase::{Coordinator, Verdict};
use shardsim_proto::pb;

use super::view::{self, Index};
use super::{Chain, Notarized};

impl Chain {
    /// Steps 4–5: turns the pending headers into a beacon block, or `None` when there
    /// are none (the beacon makes no empty blocks, unless two-phase transactions are
    /// open: their deadlines count in blocks).
    pub fn notarize(&mut self) -> Option<Notarized> {
        let open = self.coordinator.as_ref().map_or(0, Coordinator::open_count);
        if self.pending.is_empty() && open == 0 && !self.epoch_waiting() {
            return None;
        }
        self.height += 1;
        let mut block = pb::BeaconBlock {
            height: self.height,
            crosslinks: Vec::with_capacity(self.pending.len()),
            decisions: Vec::new(),
            epoch: None,
        };
        self.announce_into(&mut block);
        let mut deliveries: BTreeMap<ShardId, Vec<pb::ReceiptDelivery>> = BTreeMap::new();
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
                deliveries
                    .entry(dst)
                    .or_default()
                    .push(stored.delivery.clone());
                self.outbox[dst as usize].push_back(stored);
            }
        }
        // Keep only the blocks that an unacknowledged batch or decision still refers to.
        let oldest = self
            .outbox
            .iter()
            .filter_map(|o| o.front().map(|s| s.beacon_height))
            .chain(self.decided.iter().filter_map(|d| d.front().copied()))
            .min()
            .unwrap_or(self.height);
        self.blocks = self.blocks.split_off(&oldest);
        let height = self.height;
        if let Some(c) = self.coordinator.as_mut() {
            for d in c.decide(height) {
                match d.verdict {
                    Verdict::Commit { .. } => self.two_phase.commits += 1,
                    Verdict::Abort(_) => self.two_phase.aborts += 1,
                }
                for shard in [d.home, d.participant] {
                    if let Some(kept) = self.decided.get_mut(shard as usize) {
                        if kept.back() != Some(&height) {
                            kept.push_back(height);
                        }
                    }
                }
                block.decisions.push(pb::Decision::from(&d));
            }
        }
        if !deliveries.is_empty() || !block.decisions.is_empty() {
            self.blocks.insert(self.height, block.clone());
        }
        let epoch = block.epoch.clone();
        Some(Notarized {
            block,
            deliveries,
            accepted: std::mem::take(&mut self.accepted),
            epoch,
        })
    }

    /// What shard `dst` should have received by now (sent after each interval's block
    /// and deliveries, and after a backlog).
    pub fn tip(&self, dst: ShardId) -> pb::Tip {
        pb::Tip {
            height: self.height,
            routed: self.routed.iter().map(|r| r[dst as usize]).collect(),
            epoch: self.epoch(),
        }
    }

    /// What a (re)subscribing shard `dst` that has epoch changes up to `epoch` must
    /// receive to catch up: the blocks announcing later epochs, then, in height order,
    /// its views of the beacon blocks that notarized its unacknowledged batches, each
    /// followed by those batches in one message, and (two-phase) of those carrying
    /// decisions it has not acknowledged.
    /// Height order matters: a shard reads a block's decisions only if it is above
    /// every block it has read.
    pub fn backlog(&self, dst: ShardId, epoch: u32) -> Vec<pb::Inbound> {
        let mut out: Vec<pb::Inbound> = self.epochs_after(epoch).collect();
        let (Some(outbox), Some(decided)) = (
            self.outbox.get(dst as usize),
            self.decided.get(dst as usize),
        ) else {
            return out;
        };
        let (mut stored, mut decided) = (outbox.iter().peekable(), decided.iter().peekable());
        loop {
            let height = match (stored.peek(), decided.peek()) {
                (Some(s), Some(&&d)) => s.beacon_height.min(d),
                (Some(s), None) => s.beacon_height,
                (None, Some(&&d)) => d,
                (None, None) => break,
            };
            decided.next_if(|&&d| d == height);
            let mut batches = Vec::new();
            while let Some(s) = stored.next_if(|s| s.beacon_height == height) {
                batches.push(s.delivery.clone());
            }
            // Every block an outbox entry or a decision refers to is kept.
            if let Some(block) = self.blocks.get(&height) {
                let sources = batches.iter().filter_map(view::source);
                let v = Index::of(block).view(block, dst, sources);
                out.extend(view::messages(v, batches));
            }
        }
        out.push(pb::Inbound {
            kind: Some(pb::inbound::Kind::Tip(self.tip(dst))),
        });
        out
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

    /// Step 6: drops from `dst`'s outbox every batch `dst` says it has applied, and
    /// (two-phase) the blocks whose decisions it has applied, up to `decided_through`.
    pub(super) fn forget_acknowledged(
        &mut self,
        dst: ShardId,
        acks: &[pb::ChannelAck],
        decided_through: u64,
    ) {
        for ack in acks {
            if let Some(outbox) = self.outbox.get_mut(dst as usize) {
                outbox.retain(|s| !(s.src == ack.src && s.end_seq <= ack.next_seq));
            }
        }
        if let Some(decided) = self.decided.get_mut(dst as usize) {
            while decided.front().is_some_and(|&h| h <= decided_through) {
                decided.pop_front();
            }
        }
    }
}
