//! Durability by input logs: every block's inputs and events go to the shard's store
//! before the block is announced, and a restarted shard replays them through the same
//! deterministic pipeline to the same state, tip and counters.

use std::time::Duration;

use crate::state::State;
use cross_shard::ReceiptBatch;
use cross_shard::channel::InboundChannels;
use cross_shard::sync::lock;
use shardsim_proto::convert::{
    block_txs_from_wire, decision_from_wire, epoch_from_wire, push_tx, receipts_to_wire,
};
use shardsim_proto::pb;

use super::producer::{BlockProducer, Built, Inputs, Proofs};
use crate::io::{CERTIFIED, RECORDS, SNAPSHOT_HEADERS, SNAPSHOTS, Shared};

/// The hash of a block's inputs — its encoded [`pb::BlockRecord`] — as a committee's
/// header names them ([`cross_shard::Header::inputs`]).
pub fn inputs_hash(record: &[u8]) -> cross_shard::Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"shardsim/inputs/v1");
    h.update(record);
    h.finalize().into()
}

/// The batch of a record's [`pb::ProvenReceipts`] and the range of it the block
/// applies, or what is malformed.
pub(crate) fn proven_slice(
    p: &pb::ProvenReceipts,
) -> Result<(ReceiptBatch, std::ops::Range<usize>), String> {
    let batch = p
        .delivery
        .as_ref()
        .and_then(|d| d.batch.as_ref())
        .ok_or("proven receipts without their batch")?;
    let batch = ReceiptBatch::try_from(batch).map_err(|e| e.to_string())?;
    let (skip, take) = (p.skip as usize, p.take as usize);
    if take == 0 || skip + take > batch.receipts.len() {
        return Err(format!(
            "proven receipts {skip}..{} of a batch of {}",
            skip + take,
            batch.receipts.len()
        ));
    }
    Ok((batch, skip..skip + take))
}

impl BlockProducer {
    /// The stored form of a block's inputs.
    pub(crate) fn record(&self, inputs: &Inputs) -> pb::BlockRecord {
        let mut txs = pb::TxBatch::default();
        for t in &self.txs {
            push_tx(&mut txs, t);
        }
        txs.signatures = inputs.proofs.signatures.clone();
        // A committee's receipts travel proven, in place of the columns.
        let proven = !inputs.proofs.receipts.is_empty();
        let column = |on: bool| if on { &[][..] } else { &self.receipts[..] };
        pb::BlockRecord {
            beacon_height: inputs.beacon_height,
            decisions: inputs.decisions.iter().map(pb::Decision::from).collect(),
            receipt_src: column(proven).iter().map(|r| r.0).collect(),
            receipt_notarized: self.receipt_meta.iter().map(|m| m.0).collect(),
            receipts: Some(receipts_to_wire(column(proven).iter().map(|r| &r.1))),
            txs: Some(txs),
            bad_signatures: inputs.bad_signatures.clone(),
            proven: inputs.proofs.receipts.clone(),
            bad_txs: inputs.proofs.bad.clone(),
            epoch: inputs.epoch.as_ref().map(pb::EpochChange::from),
        }
    }

    /// Re-executes a stored block (see [`BlockProducer::recover`]): the same inputs
    /// through the same code give the same state, counters and submission.
    pub fn replay(
        &mut self,
        shared: &Shared,
        height: u64,
        record: &pb::BlockRecord,
    ) -> crate::Result<pb::HeaderSubmission> {
        let built = self.execute_record(shared, height, record, None)?;
        self.count(shared, &built.delta);
        Ok(built.submission)
    }

    /// Executes a block from its record — a stored one, or a committee's proposal —
    /// up to its submission, events and counter delta (applied by the caller, or not).
    /// `encoded`: the record's bytes, when the caller has them (a committee's header
    /// names their hash). A record that cannot be a block at `height` is
    /// [`crate::Error::Corrupt`].
    pub fn execute_record(
        &mut self,
        shared: &Shared,
        height: u64,
        record: &pb::BlockRecord,
        encoded: Option<&[u8]>,
    ) -> crate::Result<Built> {
        let corrupt = |why: String| crate::Error::Corrupt { height, why };
        if height != self.height + 1 {
            return Err(corrupt(format!("expected block {}", self.height + 1)));
        }
        let receipts = record
            .receipts
            .as_ref()
            .map(ReceiptBatch::try_from)
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?
            .map(|b| b.receipts)
            .unwrap_or_default();
        let notarized = &record.receipt_notarized;
        if record.receipt_src.len() != receipts.len()
            || !(notarized.is_empty() || notarized.len() == receipts.len())
        {
            return Err(corrupt("receipt columns differ in length".into()));
        }
        if !record.proven.is_empty() && !receipts.is_empty() {
            return Err(corrupt("receipts both proven and in columns".into()));
        }
        self.receipts.clear();
        self.receipts
            .extend(record.receipt_src.iter().copied().zip(receipts));
        for p in &record.proven {
            let (batch, range) = proven_slice(p).map_err(corrupt)?;
            self.receipts
                .extend(batch.receipts[range].iter().map(|&r| (batch.src, r)));
        }
        self.receipt_meta.clear();
        if self.two_phase.is_some() {
            let now = shared.clock.now();
            self.receipt_meta.extend(
                (0..self.receipts.len()).map(|i| (notarized.get(i).copied().unwrap_or(0), now)),
            );
        }
        self.txs.clear();
        if let Some(txs) = &record.txs {
            block_txs_from_wire(txs, &mut self.txs).map_err(|e| corrupt(e.to_string()))?;
        }
        let decisions = record
            .decisions
            .iter()
            .map(decision_from_wire)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt(e.to_string()))?;
        let epoch = record
            .epoch
            .as_ref()
            .map(epoch_from_wire)
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?;
        if let Some(e) = &epoch {
            if e.epoch != self.ledger.epoch() + 1 {
                return Err(corrupt(format!(
                    "switches to epoch {} from epoch {}",
                    e.epoch,
                    self.ledger.epoch()
                )));
            }
            e.check(
                &self.ledger.placement(),
                State::world(&self.ledger).accounts,
            )
            .map_err(corrupt)?;
        }
        let inputs = Inputs {
            epoch,
            decisions,
            beacon_height: record.beacon_height,
            bad_signatures: record.bad_signatures.clone(),
            proofs: Proofs::default(),
            delayed: 0,
            oldest: Duration::ZERO,
        };
        self.inputs_hash = match (shared.config.committee.is_some(), encoded) {
            (false, _) => cross_shard::Hash::ZERO,
            (true, Some(bytes)) => inputs_hash(bytes),
            (true, None) => {
                use prost::Message as _;
                inputs_hash(&record.encode_to_vec())
            }
        };
        self.build(shared, inputs)
    }

    /// Installs the latest snapshot in the store, if there is one and it checks out
    /// against its certified header; returns its height (0: none, replay from genesis).
    fn restore_snapshot(&mut self, shared: &Shared) -> crate::Result<u64> {
        let Some(store) = &shared.store else {
            return Ok(0);
        };
        let Some(height) = store.last(SNAPSHOTS)? else {
            return Ok(0);
        };
        let snapshot: Option<pb::Snapshot> = store.get(SNAPSHOTS, height)?;
        let certified: Option<pb::CertifiedHeader> = store.get(SNAPSHOT_HEADERS, height)?;
        let header = certified
            .and_then(|c| c.header)
            .and_then(|h| cross_shard::Header::try_from(&h).ok());
        let (Some(snapshot), Some(header)) = (snapshot, header) else {
            return Ok(0);
        };
        match self.install(shared, snapshot, &header) {
            Ok(()) => Ok(height),
            Err(why) => {
                // A damaged snapshot costs time, not state: the chain is replayed.
                tracing::warn!(%why, "the stored snapshot is refused; replaying the whole store");
                Ok(0)
            }
        }
    }

    /// Rebuilds the shard from its store: every stored block is replayed in order, so
    /// the ledger, the chain tip, the channel counters and the two-phase state are what
    /// they were after the last block committed before the crash (two-phase: with its
    /// locks, votes and awaited decisions, all rebuilt from the inputs). Submissions above
    /// `notarized` (the beacon's last notarized height for this shard) are kept to be
    /// sent again. Returns the height resumed at (0 without a store).
    pub fn recover(&mut self, shared: &Shared, notarized: u64) -> crate::Result<u64> {
        let Some(store) = &shared.store else {
            return Ok(0);
        };
        let from = self.restore_snapshot(shared)?;
        if from == 0 && store.last(RECORDS)?.is_none() {
            return Ok(0);
        }
        let committee = shared.config.committee.is_some();
        let mut beacon_height = 0;
        store.try_for_each(RECORDS, from, |height, record: pb::BlockRecord| {
            beacon_height = record.beacon_height;
            let mut submission = self.replay(shared, height, &record)?;
            if committee {
                // A committee's block leaves with its quorum's certificate, kept beside
                // it; a late copy of one of its transactions is not new.
                let certified: Option<pb::CertifiedHeader> = store.get(CERTIFIED, height)?;
                submission.cert = certified.and_then(|c| c.cert);
                let ids = record.txs.as_ref().map_or(&[][..], |t| &t.id[..]);
                let events: Option<pb::BlockEvents> = store.get(crate::io::EVENTS, height)?;
                let moved = events
                    .and_then(|e| e.moved)
                    .map(|m| m.id)
                    .unwrap_or_default();
                let epoch = self.ledger.epoch();
                let mut recent = lock(&shared.recent);
                recent.push(ids, &moved, epoch);
                recent.push(&record.bad_signatures, &[], epoch);
            }
            if height > notarized {
                lock(&shared.outgoing).push(height, submission);
            }
            Ok::<_, crate::Error>(())
        })?;
        let cfg = &shared.config;
        let mut inbound = lock(&shared.inbound);
        inbound.channels = InboundChannels::resume(cfg.shard, cfg.shards, &self.applied_seq);
        // Two-phase: the stored blocks applied every decision up to this beacon height.
        // The beacon sends again each block with a decision for us that we have not
        // acknowledged; only the decisions of blocks above it are new (exactly once).
        inbound.beacon_height = beacon_height;
        drop(inbound);
        if from > 0 {
            tracing::info!(
                snapshot = from,
                replayed = self.height - from,
                "resumed from a snapshot and the blocks after it"
            );
        }
        let mut c = lock(&shared.counters);
        c.recovered_height = self.height;
        // The mempool did not survive: what it held is sent again and counted again.
        c.admitted = c.entered;
        drop(c);
        Ok(self.height)
    }
}
