//! The pipeline's last step: the block's counters and its events, handed to every
//! subscriber through a bounded queue.

use std::time::{Duration, Instant};

use cross_shard::Header;
use cross_shard::sync::lock;
use shardsim_proto::pb;
use tokio::sync::mpsc;

use super::producer::{BlockProducer, Delta, Figures};
use crate::io::{EVENTS_QUEUE, SLOW_SUBSCRIBER, Shared};
use crate::protocol::two_phase::TwoPhase;

/// Hands a block's events to every subscriber. A full queue is waited on for up to
/// [`SLOW_SUBSCRIBER`] — backpressure, the block loop slows to its slowest reader —
/// and then that subscription ends with an error; a closed one is forgotten.
pub(crate) fn publish_events(shared: &Shared, events: &pb::BlockEvents) {
    let mut subs = lock(&shared.subscribers);
    subs.retain(|s| {
        let mut item = Ok(events.clone());
        let deadline = Instant::now() + SLOW_SUBSCRIBER;
        loop {
            match s.try_send(item) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
                Err(mpsc::error::TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        tracing::warn!(
                            height = events.height,
                            "an events subscriber read nothing for {SLOW_SUBSCRIBER:?} with {EVENTS_QUEUE} blocks queued: its stream is ended"
                        );
                        // Its queue is full, so no error fits: the stream just ends,
                        // and the reader sees it end.
                        return false;
                    }
                    item = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    });
}

impl BlockProducer {
    /// Adds a block's [`Delta`] to the counters, with the totals of the ledger as it
    /// is now (after that block).
    pub(crate) fn count(&self, shared: &Shared, delta: &Delta) {
        let mut c = lock(&shared.counters);
        c.height = delta.height;
        c.entered += delta.entered;
        c.state_root = delta.state_root;
        c.committed += delta.committed;
        c.sent_cross += delta.sent_cross;
        c.rejected += delta.rejected;
        let c = &mut *c;
        for (asset, total) in c.balance_totals.iter_mut().enumerate() {
            *total = self.ledger.total(asset as u32);
        }
        if let Some(tp) = &self.two_phase {
            c.locked = tp.locked(c.balance_totals.len());
            c.tp_open = tp.open();
            c.decisions_refused = tp.decisions_refused;
        }
        let sums = c
            .inbound
            .iter_mut()
            .flatten()
            .zip(delta.applied.iter().flatten());
        let emits = c
            .outbound
            .iter_mut()
            .flatten()
            .zip(delta.emitted.iter().flatten());
        for (total, block) in sums.chain(emits) {
            total.0 += block.0;
            total.1 = total.1.saturating_add(block.1);
        }
    }

    /// The block's events and what it adds to the counters. The block's id lists move
    /// into the events (the next block starts them afresh).
    pub(super) fn publish(
        &mut self,
        shared: &Shared,
        header: &Header,
        applied: Vec<Vec<(u64, u64)>>,
        emitted: Vec<Vec<(u64, u64)>>,
        figures: Figures,
    ) -> (pb::BlockEvents, Delta) {
        let Figures {
            delayed,
            oldest,
            stats,
            entered,
            batches,
        } = figures;
        let out = &mut self.out;
        let delta = Delta {
            height: header.height,
            state_root: header.state_root,
            entered,
            committed: out.committed.len() as u64,
            sent_cross: out.sent_cross.len() as u64,
            // Failures of cross-shard calls end here too (a refused vote, a refund).
            rejected: (out.rejected.len() + out.failed.len() + out.refunds_applied.len()) as u64
                + out.home_aborts,
            applied,
            emitted,
        };
        let emitted = &delta.emitted;
        let events = pb::BlockEvents {
            shard: header.shard,
            height: header.height,
            committed: std::mem::take(&mut out.committed),
            sent_cross: std::mem::take(&mut out.sent_cross),
            rejected: std::mem::take(&mut out.rejected),
            rejected_reason: std::mem::take(&mut out.rejected_reason),
            receipts_applied: std::mem::take(&mut out.receipts_applied),
            failed: std::mem::take(&mut out.failed),
            failed_reason: std::mem::take(&mut out.failed_reason),
            refunds_applied: std::mem::take(&mut out.refunds_applied),
            refund_reason: std::mem::take(&mut out.refund_reason),
            forwarded: std::mem::take(&mut out.forwarded),
            receipts_emitted: emitted.iter().flatten().map(|e| e.0).sum(),
            batches_sent: batches as u32,
            mempool_len: lock(&shared.mempool).len() as u64,
            fell_back: stats.fell_back,
            undeclared: stats.undeclared,
            gas_tx_used: out.gas.iter().map(|g| g.1).collect(),
            gas_by_program: if out.gas.is_empty() {
                Vec::new()
            } else {
                out.gas_by_program(&self.txs).to_vec()
            },
            gas_used: out.gas_used(),
            delayed_receipts: delayed,
            oldest_delayed_us: oldest.as_micros() as u64,
            executed: header.tx_count,
            dependent: stats.dependent.map(|d| d as u32),
            reexecuted: stats.reexecuted.map(|r| r as u32),
            tp_committed: std::mem::take(&mut out.tp_committed),
            tp_aborted: std::mem::take(&mut out.tp_aborted),
            tp_abort_reason: std::mem::take(&mut out.tp_abort_reason),
            lock_wait_us: std::mem::take(&mut out.lock_wait_us),
            tp_open: self.two_phase.as_ref().map_or(0, TwoPhase::open),
            prepares_taken: if self.two_phase.is_some() {
                self.receipts.len() as u64
            } else {
                0
            },
            consensus: None,
            switched_epoch: out.switched_epoch.take(),
            beacon_height: out.beacon_height,
            settlements_applied: out.settlements_applied,
            migration_receipts_applied: std::mem::take(&mut out.migration_applied),
            exported_to: out.exported.iter().map(|e| e.1).collect(),
            exported: std::mem::take(&mut out.exported)
                .into_iter()
                .map(|e| e.0)
                .collect(),
            exported_bytes: std::mem::take(&mut out.exported_bytes),
            imported: std::mem::take(&mut out.imported),
            moved: (!out.moved.is_empty()).then(|| {
                let mut batch = pb::TxBatch::default();
                for t in out.moved.drain(..) {
                    shardsim_proto::convert::push_tx(&mut batch, &t);
                }
                batch
            }),
        };
        (events, delta)
    }
}

/// What executing blocks did, summed from their events: the work a simulator charges a
/// node's CPU for (sim-driver's cost model). A committee's validator adds every block
/// it executes — its own proposals, its peers', candidates that are then not decided —
/// so that its total is the work it really did, not the chain's.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Blocks executed.
    pub blocks: u64,
    /// Calls executed.
    pub calls: u64,
    /// Of those, calls that depended on an earlier one of their block (parallel
    /// executors), in blocks run in parallel.
    pub dependent: u64,
    /// Block-STM's incarnations beyond each call's first.
    pub reexecuted: u64,
    /// Calls in blocks run sequentially after a predicted loss.
    pub fell_back: u64,
    /// Receipts, prepares and decisions applied.
    pub receipts: u64,
    /// Gas the calls burnt, and the receipts' calls (the EVM).
    pub call_gas: u64,
    /// Gas the receipts' calls burnt.
    pub receipt_gas: u64,
    /// Receipt batches sent (paths patched in the blocks' receipts roots).
    pub batches: u64,
}

impl Work {
    /// One block's work, from its events.
    pub fn of(e: &pb::BlockEvents) -> Work {
        let calls = u64::from(e.executed);
        let call_gas: u64 = e.gas_tx_used.iter().sum();
        Work {
            blocks: 1,
            calls,
            dependent: if e.fell_back {
                0
            } else {
                u64::from(e.dependent.unwrap_or(0)).min(calls)
            },
            reexecuted: u64::from(e.reexecuted.unwrap_or(0)),
            fell_back: if e.fell_back { calls } else { 0 },
            receipts: (e.receipts_applied.len()
                + e.refunds_applied.len()
                + e.forwarded.len()
                + e.failed.len()
                + e.tp_committed.len()
                + e.tp_aborted.len()) as u64
                + e.prepares_taken,
            call_gas,
            receipt_gas: e.gas_used.saturating_sub(call_gas),
            batches: u64::from(e.batches_sent),
        }
    }

    /// The work done since `before` (an earlier total of the same counter).
    pub fn since(&self, before: &Work) -> Work {
        Work {
            blocks: self.blocks - before.blocks,
            calls: self.calls - before.calls,
            dependent: self.dependent - before.dependent,
            reexecuted: self.reexecuted - before.reexecuted,
            fell_back: self.fell_back - before.fell_back,
            receipts: self.receipts - before.receipts,
            call_gas: self.call_gas - before.call_gas,
            receipt_gas: self.receipt_gas - before.receipt_gas,
            batches: self.batches - before.batches,
        }
    }
}

impl std::ops::AddAssign for Work {
    fn add_assign(&mut self, o: Work) {
        self.blocks += o.blocks;
        self.calls += o.calls;
        self.dependent += o.dependent;
        self.reexecuted += o.reexecuted;
        self.fell_back += o.fell_back;
        self.receipts += o.receipts;
        self.call_gas += o.call_gas;
        self.receipt_gas += o.receipt_gas;
        self.batches += o.batches;
    }
}
