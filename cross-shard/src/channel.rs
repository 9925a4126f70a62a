//! The receiving side of the receipt channels: what a destination shard checks before
//! it accepts a delivered batch (steps 4–6 of the crate-level diagram).
//!
//! ```text
//!  beacon block ──► notarize(src, height, receipts_root)     remembered per (src, height)
//!  delivery     ──► admit(src_height, batch, path)
//!                    1. batch.dst is me, batch.src is another shard   else Misrouted
//!                    2. (src, src_height) was notarized               else NotNotarized
//!                    3. path leads from batch.leaf() to that root     else BadProof
//!                    4. sequence numbers against next[src]:
//!                         whole batch below next      → Duplicate (ignored, counted)
//!                         starts above next           → ChannelGap (refused)
//!                         overlaps or starts at next  → Fresh { skip } (apply the rest)
//! ```
//!
//! Step 3 uses the root from the *beacon block*, never one carried beside the batch: a
//! shard that forges receipts cannot also forge the root the beacon notarized. Step 4
//! makes application exactly-once and in order even when the beacon re-delivers
//! batches (after a reconnect) — the beacon keeps every batch until it is acknowledged,
//! so it errs on the side of sending twice.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::ids::{Hash, ShardId};
use crate::merkle;
use crate::receipt::ReceiptBatch;

/// How many notarized roots per source are remembered before the oldest are dropped.
/// A batch always refers to a recent header (the beacon delivers right after
/// notarizing, and re-sends the beacon block on reconnect), so this only bounds memory
/// for sources that never send to us.
const MAX_ROOTS_PER_SOURCE: usize = 4096;

/// The verdict on a delivered batch that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Apply `batch.receipts[skip..]`; the first `skip` were admitted before.
    Fresh {
        /// Receipts at the front of the batch that were already admitted.
        skip: usize,
    },
    /// Every receipt of the batch was admitted before: ignore it.
    Duplicate,
}

/// The receiving ends of all channels into one shard.
#[derive(Debug, Clone)]
pub struct InboundChannels {
    /// The shard these channels lead to.
    me: ShardId,
    /// Number of shards in the cluster (= leaves in every receipts root).
    shards: u32,
    /// Per source shard, the next sequence number to admit.
    next: Vec<u64>,
    /// Per source shard, the receipts roots of its notarized headers, by height.
    roots: Vec<BTreeMap<u64, Hash>>,
}

impl InboundChannels {
    /// Channels into shard `me` of a cluster of `shards` shards, all empty.
    pub fn new(me: ShardId, shards: u32) -> InboundChannels {
        InboundChannels {
            me,
            shards,
            next: vec![0; shards as usize],
            roots: vec![BTreeMap::new(); shards as usize],
        }
    }

    /// Channels into shard `me` that resume after a restart: from each source `src`,
    /// the next receipt to admit is `next[src]` (what the shard's own blocks applied).
    /// Roots are empty: the beacon re-sends the blocks its deliveries need.
    pub fn resume(me: ShardId, shards: u32, next: &[u64]) -> InboundChannels {
        let mut channels = InboundChannels::new(me, shards);
        for (slot, &n) in channels.next.iter_mut().zip(next) {
            *slot = n;
        }
        channels
    }

    /// Records that the beacon notarized header (`src`, `height`) with `receipts_root`.
    /// Crosslinks of unknown shards are ignored.
    pub fn notarize(&mut self, src: ShardId, height: u64, receipts_root: Hash) {
        let Some(roots) = self.roots.get_mut(src as usize) else {
            return;
        };
        roots.insert(height, receipts_root);
        while roots.len() > MAX_ROOTS_PER_SOURCE {
            roots.pop_first();
        }
    }

    /// Checks a delivered batch (see the module diagram) and, when fresh, advances the
    /// channel past it.
    pub fn admit(
        &mut self,
        src_height: u64,
        batch: &ReceiptBatch,
        path: &[Hash],
    ) -> Result<Admitted> {
        let (src, dst) = (batch.src, batch.dst);
        if dst != self.me {
            return Err(Error::Misrouted {
                src,
                dst,
                why: "destination is another shard",
            });
        }
        if src == self.me || src >= self.shards {
            return Err(Error::Misrouted {
                src,
                dst,
                why: "source is not another shard of the cluster",
            });
        }
        let s = src as usize;
        let root = self.roots[s].get(&src_height).ok_or(Error::NotNotarized {
            src,
            height: src_height,
        })?;
        if !merkle::verify(
            root,
            &batch.leaf(),
            dst as usize,
            self.shards as usize,
            path,
        ) {
            return Err(Error::BadProof {
                src,
                dst,
                height: src_height,
            });
        }
        let next = self.next[s];
        if batch.end_seq() <= next {
            return Ok(Admitted::Duplicate);
        }
        if batch.first_seq > next {
            return Err(Error::ChannelGap {
                src,
                dst,
                expected: next,
                got: batch.first_seq,
            });
        }
        self.next[s] = batch.end_seq();
        // Headers up to this one are done with: batches come in height order.
        self.roots[s] = self.roots[s].split_off(&(src_height + 1));
        Ok(Admitted::Fresh {
            skip: (next - batch.first_seq) as usize,
        })
    }

    /// Moves the channel from `src` on to `next` if it is behind: a committee's
    /// validator whose block applied receipts it had not been delivered yet treats
    /// their later delivery as a duplicate.
    pub fn skip_to(&mut self, src: ShardId, next: u64) {
        if let Some(slot) = self.next.get_mut(src as usize) {
            *slot = (*slot).max(next);
        }
    }

    /// The next sequence number to admit from `src`.
    pub fn next_seq(&self, src: ShardId) -> u64 {
        self.next.get(src as usize).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::{self, Receipt};

    const SHARDS: u32 = 3;

    fn batch(first_seq: u64, n: u64) -> ReceiptBatch {
        ReceiptBatch {
            src: 0,
            dst: 1,
            first_seq,
            receipts: (first_seq..first_seq + n)
                .map(|i| Receipt::credit(i, 7, 1, 0))
                .collect(),
        }
    }

    /// Notarizes a source block at `height` carrying `b`, returns the path for it.
    fn notarized(ch: &mut InboundChannels, height: u64, b: &ReceiptBatch) -> Vec<Hash> {
        let batches = vec![b.clone()];
        ch.notarize(0, height, receipt::receipts_root(0, SHARDS, &batches));
        merkle::proof(&receipt::leaves(0, SHARDS, &batches), 1).unwrap()
    }

    #[test]
    fn in_order_batches_are_fresh() {
        let mut ch = InboundChannels::new(1, SHARDS);
        let b1 = batch(0, 3);
        let p1 = notarized(&mut ch, 1, &b1);
        assert_eq!(ch.admit(1, &b1, &p1), Ok(Admitted::Fresh { skip: 0 }));
        let b2 = batch(3, 2);
        let p2 = notarized(&mut ch, 2, &b2);
        assert_eq!(ch.admit(2, &b2, &p2), Ok(Admitted::Fresh { skip: 0 }));
        assert_eq!(ch.next_seq(0), 5);
    }

    #[test]
    fn a_resumed_channel_skips_what_its_blocks_applied_before_the_restart() {
        let mut ch = InboundChannels::resume(1, SHARDS, &[3, 0, 0]);
        let b = batch(0, 5);
        let p = notarized(&mut ch, 1, &b);
        assert_eq!(ch.admit(1, &b, &p), Ok(Admitted::Fresh { skip: 3 }));
        assert_eq!(ch.next_seq(0), 5);
        let mut ch = InboundChannels::resume(1, SHARDS, &[5, 0, 0]);
        let p = notarized(&mut ch, 1, &b);
        assert_eq!(ch.admit(1, &b, &p), Ok(Admitted::Duplicate));
    }

    #[test]
    fn replay_is_a_duplicate_and_gap_is_refused() {
        let mut ch = InboundChannels::new(1, SHARDS);
        let b1 = batch(0, 3);
        let p1 = notarized(&mut ch, 1, &b1);
        ch.admit(1, &b1, &p1).unwrap();
        // Replay of the same batch: its root was pruned, re-notarize as on reconnect.
        let p1 = notarized(&mut ch, 1, &b1);
        assert_eq!(ch.admit(1, &b1, &p1), Ok(Admitted::Duplicate));
        let b3 = batch(5, 1);
        let p3 = notarized(&mut ch, 3, &b3);
        assert!(matches!(
            ch.admit(3, &b3, &p3),
            Err(Error::ChannelGap {
                expected: 3,
                got: 5,
                ..
            })
        ));
        assert_eq!(
            ch.next_seq(0),
            3,
            "a refused batch does not advance the channel"
        );
    }

    #[test]
    fn overlapping_batch_skips_the_admitted_prefix() {
        let mut ch = InboundChannels::new(1, SHARDS);
        let b1 = batch(0, 3);
        let p1 = notarized(&mut ch, 1, &b1);
        ch.admit(1, &b1, &p1).unwrap();
        let b2 = batch(1, 4);
        let p2 = notarized(&mut ch, 2, &b2);
        assert_eq!(ch.admit(2, &b2, &p2), Ok(Admitted::Fresh { skip: 2 }));
        assert_eq!(ch.next_seq(0), 5);
    }

    #[test]
    fn forged_batch_or_unnotarized_header_is_refused() {
        let mut ch = InboundChannels::new(1, SHARDS);
        let honest = batch(0, 2);
        let path = notarized(&mut ch, 1, &honest);
        let mut forged = honest.clone();
        forged.receipts[0] = Receipt::credit(0, 7, 1_000_000, 0);
        assert!(matches!(
            ch.admit(1, &forged, &path),
            Err(Error::BadProof { .. })
        ));
        assert!(matches!(
            ch.admit(2, &honest, &path),
            Err(Error::NotNotarized { height: 2, .. })
        ));
        assert_eq!(ch.next_seq(0), 0);
        assert_eq!(ch.admit(1, &honest, &path), Ok(Admitted::Fresh { skip: 0 }));
    }

    proptest::proptest! {
        /// Arbitrary deliveries (any ends, heights, sequence numbers, paths) are
        /// verdicts, never panics; a refused one never moves the channel.
        #[test]
        fn arbitrary_deliveries_never_panic(
            deliveries in proptest::collection::vec(
                (0u32..5, 0u32..5, 0u64..4, proptest::num::u64::ANY, 0u64..5, proptest::collection::vec(proptest::array::uniform32(0u8..3), 0..4)),
                1..20,
            )
        ) {
            let mut ch = InboundChannels::new(1, SHARDS);
            ch.notarize(0, 1, Hash([1; 32]));
            ch.notarize(2, 2, Hash([2; 32]));
            for (src, dst, height, first_seq, n, path) in deliveries {
                let b = ReceiptBatch {
                    src,
                    dst,
                    first_seq,
                    receipts: (0..n).map(|i| Receipt::credit(i, i, u64::MAX, 0)).collect(),
                };
                let path: Vec<Hash> = path.into_iter().map(Hash).collect();
                let before = (ch.next_seq(0), ch.next_seq(2));
                if ch.admit(height, &b, &path).is_err() {
                    proptest::prop_assert_eq!(before, (ch.next_seq(0), ch.next_seq(2)));
                }
            }
        }
    }

    #[test]
    fn misrouted_batches_are_refused() {
        let mut ch = InboundChannels::new(1, SHARDS);
        let mut b = batch(0, 1);
        b.dst = 2;
        assert!(matches!(ch.admit(1, &b, &[]), Err(Error::Misrouted { .. })));
        let mut b = batch(0, 1);
        b.src = 1;
        assert!(matches!(ch.admit(1, &b, &[]), Err(Error::Misrouted { .. })));
        let mut b = batch(0, 1);
        b.src = 9;
        assert!(matches!(ch.admit(1, &b, &[]), Err(Error::Misrouted { .. })));
    }
}
