//! Steps 1–3 of the chapter: accepting a shard's header submission — the header
//! extends the shard's chain, its committee's quorum certificate covers it, its leaves hash to the receipts root, and each batch is
//! one the header committed to and next on its channel (forged and replayed batches are
//! dropped and counted; the honest rest of the submission stands).

use cross_shard::two_phase::Vote;
use cross_shard::{
    Error as ProtocolError, Hash, Header, ReceiptBatch, ShardId, TxId, merkle, receipt,
};
use shardsim_proto::convert::{cert_from_wire, path_to_wire, vote_from_wire};
use shardsim_proto::pb;

use crate::error::{Error, Result};

use super::{Chain, Outcome, Pending, Stored};

impl Chain {
    /// Checks that `cert` is a quorum certificate of `header.shard`'s committee for
    /// exactly this header: its hash and its state root, at its height.
    fn check_certified(&self, header: &Header, cert: Option<&pb::QuorumCert>) -> Result<()> {
        let refuse = |why: String| Error::Uncertified {
            shard: header.shard,
            height: header.height,
            why,
        };
        let cert = cert_from_wire(cert.ok_or_else(|| refuse("no quorum certificate".into()))?)?;
        cert.certifies(header, &self.committees[header.shard as usize])
            .map_err(|e| refuse(e.to_string()))
    }

    pub(super) fn try_accept(
        &mut self,
        submission: &pb::HeaderSubmission,
    ) -> Result<(ShardId, Outcome)> {
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
        // Step 1b: the shard's committee certified this very header — whoever delivers
        // it. A sender's claim to be the shard counts for nothing.
        self.check_certified(&header, submission.cert.as_ref())?;

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
        // Step 3: the leaves are what the header committed to — those sent, and the
        // empty one for every other destination.
        let sent: Vec<Hash> = submission
            .leaves
            .iter()
            .map(|l| Hash::from_slice(l))
            .collect::<Option<_>>()
            .ok_or(Error::Malformed(
                "every receipt leaf must be 32 bytes".into(),
            ))?;
        let dsts = &submission.leaf_dsts;
        let malformed = || {
            Error::Malformed(
                "leaf destinations must be as many as the leaves, increasing and within the cluster"
                    .into(),
            )
        };
        if dsts.len() != sent.len() {
            return Err(malformed());
        }
        let shards = self.shards;
        let empty = self.empty_trees[src as usize]
            .get_or_insert_with(|| merkle::Tree::new(&receipt::empty_leaves(src, shards)));
        let changes: Vec<(usize, Hash)> = dsts.iter().map(|&d| d as usize).zip(sent).collect();
        let tree = empty.patched(&changes).ok_or_else(malformed)?;
        if tree.root() != header.receipts_root {
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
                || tree.leaf(d) != Some(b.leaf())
            {
                forged += n;
            } else {
                seen[d] = true;
                batches.push(b);
            }
        }
        // Every destination the header committed receipts to must get them: a withheld
        // batch would stall its channel for good.
        if let Some(&d) = dsts.iter().find(|&&d| !seen[d as usize]) {
            return Err(ProtocolError::Misrouted {
                src,
                dst: d,
                why: "the header commits to receipts for this destination but no valid batch came with it",
            }
            .into());
        }
        self.receipts_forged += forged;
        self.receipts_replayed += replayed;

        // Accepted: advance the chain and the channels, keep it for the next block.
        self.heads[src as usize] = (header.height, header.hash());
        // Each delivery carries the certified header, for committees' proposals.
        let source = pb::CertifiedHeader {
            header: submission.header.clone(),
            cert: submission.cert.clone(),
        };
        let deliveries = batches
            .iter()
            .map(|b| {
                self.next_seq[src as usize][b.dst as usize] = b.end_seq();
                let proof = tree.proof(b.dst as usize).unwrap_or_default();
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
                        source: Some(source.clone()),
                    },
                };
                (b.dst, stored)
            })
            .collect();
        self.count_votes(src, votes);
        // Acks from this shard (as a destination), step 6.
        self.forget_acknowledged(src, &submission.acks, submission.decided_through);
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
}
