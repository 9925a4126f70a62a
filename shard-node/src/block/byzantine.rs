//! The Byzantine shard of `cluster.byzantine_shard`: the same pipeline, plus receipts
//! its header does not commit to, replays, withheld and forged votes — so that the
//! beacon's checks can be seen to catch them. Honest work is never touched.

use cross_shard::{Receipt, ReceiptBatch};
use shardsim_proto::pb;

use cross_shard::TxId;
use cross_shard::two_phase::Vote;

use super::producer::BlockProducer;

impl BlockProducer {
    /// A Byzantine shard's extra batches, on every fourth block: one that its header
    /// does not commit to (a forged credit to another shard), and a replay of receipts
    /// it already sent. Honest receipts are untouched, so the run can go on; the beacon
    /// must drop both and count them (`security` in summary.json).
    pub(super) fn misbehave(&self, wire: &mut Vec<pb::ReceiptBatch>) {
        if self.height % 4 != 0 {
            return;
        }
        let me = self.ledger.shard();
        let shards = self.ledger.placement().shards();
        let dst = (me + 1) % shards;
        wire.push(pb::ReceiptBatch::from(&ReceiptBatch {
            src: me,
            dst,
            first_seq: self.out_seq[dst as usize],
            receipts: vec![Receipt::credit(
                u64::MAX - self.height,
                u64::from(dst),
                1_000_000,
                cross_shard::ids::NATIVE,
            )],
        }));
        wire.extend(self.last_batches.iter().take(1).map(pb::ReceiptBatch::from));
    }

    /// A Byzantine participant's votes: on every fourth block it withholds its votes and
    /// sends them only once their deadline has surely passed (the coordinator has
    /// aborted those transactions and must refuse the late yes), and adds a vote on a
    /// transaction nobody prepared.
    pub(super) fn misvote(&mut self, votes: &mut Vec<(TxId, Vote)>, deadline: u64) {
        if self.height % 4 == 0 && !votes.is_empty() {
            // With shard blocks no faster than beacon blocks, the deadline plus a margin
            // is past it (and well within the beacon's memory of decided transactions).
            let late = self.height + deadline + 4;
            self.withheld.push_back((late, std::mem::take(votes)));
            votes.push((u64::MAX - self.height, Vote::Yes { output: 0 }));
        }
        while self.withheld.front().is_some_and(|w| w.0 <= self.height) {
            votes.extend(self.withheld.pop_front().into_iter().flat_map(|w| w.1));
        }
    }
}
