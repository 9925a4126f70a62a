//! The block pipeline and the thread that runs it: gather → execute → commit → header
//! → record → events, on every tick (or as soon as there is work).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use cross_shard::migration::EpochChange;
use cross_shard::sync::lock;
use cross_shard::two_phase::Decision;
use cross_shard::two_phase::Vote;
use cross_shard::{
    Hash, Header, Receipt, ReceiptBatch, RejectReason, ShardId, Tx, TxId, merkle, receipt,
};
use prost::Message;
use shardsim_proto::convert::{push_tx, vote_to_wire};
use shardsim_proto::pb;
use std::sync::mpsc::{Receiver, RecvTimeoutError};

use super::events::publish_events;
use crate::ShardConfig;
use crate::exec::{self, BlockExecutor, BlockOutput, ExecStats};
use crate::io::{EVENTS, RECORDS};
use crate::io::{Recount, Shared, Wake};
use crate::protocol::two_phase::TwoPhase;
use crate::state::{Ledger, State};

/// What a block is made from, besides the receipts and transactions in the
/// producer's buffers.
pub(crate) struct Inputs {
    /// The epoch change this block switches to (see `cross_shard::migration`).
    pub(super) epoch: Option<EpochChange>,
    pub(super) decisions: Vec<Decision>,
    pub(super) beacon_height: u64,
    pub(super) bad_signatures: Vec<TxId>,
    /// A committee's proposal: what lets the other validators check its inputs —
    /// the receipts with their proofs, and (with signatures) every transaction's
    /// signature and the bad-signature transactions themselves.
    pub(crate) proofs: Proofs,
    /// Congestion figures for the events (not inputs: 0 on replay).
    pub(super) delayed: u64,
    pub(super) oldest: Duration,
}

/// What a committee's record carries so that every validator can check its inputs
/// (see [`crate::validator::inputs`]); empty for a shard that proposes alone.
#[derive(Debug, Default)]
pub(crate) struct Proofs {
    /// The block's receipts, proven ([`pb::BlockRecord::proven`]).
    pub(crate) receipts: Vec<pb::ProvenReceipts>,
    /// The signatures of the block's transactions, 64 bytes each, in order.
    pub(crate) signatures: Vec<u8>,
    /// The bad-signature transactions with their signatures.
    pub(crate) bad: Option<pb::TxBatch>,
}

/// A block's figures for its events and the counters, besides its outcome lists.
pub(super) struct Figures {
    /// Receipts left in the delayed queue, and how long the oldest has waited.
    pub(super) delayed: u64,
    pub(super) oldest: Duration,
    /// What the executor learned.
    pub(super) stats: ExecStats,
    /// Transactions the block took in (see [`crate::io::Counters::entered`]).
    pub(super) entered: u64,
    /// Receipt batches it sent (paths patched in its receipts root).
    pub(super) batches: usize,
}

/// What executing a block produced, for sealing it.
pub(super) struct Executed {
    /// Receipts applied and emitted, per asset and channel: (count, value).
    pub(super) applied: Vec<Vec<(u64, u64)>>,
    pub(super) emitted: Vec<Vec<(u64, u64)>>,
    /// Transactions sent back to wait behind two-phase locks.
    pub(super) deferred: Vec<Tx>,
    /// What the executor learned.
    pub(super) stats: ExecStats,
    /// Transactions the block took in.
    pub(super) entered: u64,
}

/// What building a block produced.
pub struct Built {
    pub(crate) submission: pb::HeaderSubmission,
    pub(crate) events: pb::BlockEvents,
    /// Transactions taken but sent back to wait behind two-phase locks.
    pub(super) deferred: Vec<Tx>,
    /// What the block adds to the counters, once it is the chain's.
    pub(crate) delta: Delta,
}

/// What one block adds to the [`crate::io::Counters`]: applied when the block is the
/// chain's — at once for a shard that proposes alone, at the commit for a committee's
/// validator (which may execute a block that is then not decided).
#[derive(Debug, Clone)]
pub(crate) struct Delta {
    pub(crate) height: u64,
    pub(super) state_root: Hash,
    pub(super) entered: u64,
    pub(super) committed: u64,
    pub(super) sent_cross: u64,
    pub(super) rejected: u64,
    pub(super) applied: Vec<Vec<(u64, u64)>>,
    pub(super) emitted: Vec<Vec<(u64, u64)>>,
}

/// The block loop's private state: the ledger and the chain tip.
pub struct BlockProducer {
    /// Runs each block's transactions (step 4).
    pub(super) executor: Box<dyn BlockExecutor>,
    /// The shard's accounts; only the block loop touches them.
    pub(crate) ledger: Ledger,
    /// Height of the last block.
    pub(crate) height: u64,
    /// Hash of the last header.
    pub(crate) last_hash: Hash,
    /// Next sequence number per outbound channel (index = destination).
    pub(crate) out_seq: Vec<u64>,
    /// The receipts-root tree of a block that sends nothing (leaf = destination): each
    /// block's root patches it with the destinations it sends to.
    empty_tree: merkle::Tree,
    /// Next unapplied sequence number per inbound channel (index = source): the acks.
    pub(crate) applied_seq: Vec<u64>,
    /// `applied_seq` as the previous block's submission acknowledged it: a submission
    /// acks only the channels that moved since (an ack per shard in every header made
    /// the beacon's work grow with the square of the shard count). A restart replays
    /// its blocks, and so rebuilds it; it starts at zero, so the first block after a
    /// state sync acks every channel the snapshot had applied from. A candidate set
    /// aside restores it (`validator::app`'s `Saved`).
    pub(crate) acked: Vec<u64>,
    /// The previous block's batches (a Byzantine shard replays them).
    pub(super) last_batches: Vec<ReceiptBatch>,
    /// Two-phase commit state, when the cluster runs that protocol.
    pub(super) two_phase: Option<TwoPhase>,
    /// A Byzantine shard's withheld votes, with the height of the block that sends them
    /// (too late).
    pub(super) withheld: VecDeque<(u64, Vec<(TxId, Vote)>)>,
    /// Reused buffers.
    pub(super) txs: Vec<Tx>,
    pub(super) receipts: Vec<(ShardId, Receipt)>,
    /// Two-phase: each taken receipt's beacon height and arrival.
    pub(super) receipt_meta: Vec<(u64, Duration)>,
    pub(super) out: BlockOutput,
    /// The `inputs` of the next header (see [`Header::inputs`]).
    pub(crate) inputs_hash: Hash,
}

impl BlockProducer {
    /// A producer starting from `ledger` at genesis, with the executor and protocol
    /// `config` names.
    pub fn new(ledger: Ledger, config: &ShardConfig) -> crate::Result<BlockProducer> {
        let shards = ledger.placement().shards();
        let executor: Box<dyn BlockExecutor> = match config.vm {
            crate::Vm::Native => exec::for_config(
                config.executor,
                config.threads,
                config.verify_executor,
                config.predict_executor,
            ),
            crate::Vm::Evm => {
                let layout = crate::vm::state::Layout::new(State::world(&ledger))
                    .map_err(|e| crate::Error::Config(format!("the EVM genesis: {e}")))?;
                crate::vm::exec::for_config(
                    config.executor,
                    config.threads,
                    (config.verify_executor, config.predict_executor),
                    layout,
                )
            }
        };
        Ok(BlockProducer {
            executor,
            two_phase: config.two_phase.map(TwoPhase::new),
            withheld: VecDeque::new(),
            receipt_meta: Vec::new(),
            ledger,
            height: 0,
            last_hash: Hash::ZERO,
            out_seq: vec![0; shards as usize],
            empty_tree: merkle::Tree::new(&receipt::empty_leaves(config.shard, shards)),
            applied_seq: vec![0; shards as usize],
            acked: vec![0; shards as usize],
            last_batches: Vec::new(),
            txs: Vec::new(),
            receipts: Vec::new(),
            out: BlockOutput::new(shards),
            inputs_hash: Hash::ZERO,
        })
    }

    /// Runs blocks on the calling (blocking) thread: on every `block_interval` tick, or
    /// as soon as there is work when the interval is `asap`; between two blocks it
    /// answers recounts. Submissions wait in `shared.outgoing` for the beacon link.
    /// Returns `Ok` once told to stop, an error only when fatal: `verify_executor`
    /// catching the executors disagreeing, or the store failing.
    pub fn run(mut self, shared: &Shared, wakes: Receiver<Wake>) -> crate::Result<()> {
        let interval = shared.config.block_interval;
        // Like a tokio interval with `MissedTickBehavior::Delay`: a late tick pushes the
        // next one back rather than bunching blocks up.
        let mut next_tick = interval.map(|d| Instant::now() + d);
        let mut last_log = Instant::now();
        loop {
            let wake = match next_tick {
                Some(at) => {
                    match wakes.recv_timeout(at.saturating_duration_since(Instant::now())) {
                        Ok(w) => Some(w),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return Ok(()),
                    }
                }
                None => match wakes.recv() {
                    Ok(w) => Some(w),
                    Err(_) => return Ok(()),
                },
            };
            if shared.doorbell.stopped() {
                return Ok(());
            }
            match wake {
                Some(Wake::Recount(reply)) => {
                    let _ = reply.send(self.recount(shared));
                    continue;
                }
                // Alone, a shard has no peers to hear from.
                Some(Wake::Peer(..)) => continue,
                // With a ticker, work waits for the next tick.
                Some(Wake::Work) if next_tick.is_some() => continue,
                Some(Wake::Work) | None => {}
            }
            if let (Some(at), Some(d)) = (next_tick.as_mut(), interval) {
                *at = (*at).max(Instant::now()) + d;
            }
            // In asap mode one wake-up may stand for more work than one block takes.
            loop {
                if let Some(submission) = self.produce(shared)? {
                    lock(&shared.outgoing).push(self.height, submission);
                    shared.outgoing_ready.notify_one();
                } else {
                    break;
                }
                if next_tick.is_some() {
                    break;
                }
            }
            if last_log.elapsed() >= Duration::from_secs(5) {
                last_log = Instant::now();
                // The mempool's lock before the counters', as everywhere (see `Shared`):
                // holding the counters while asking for the mempool deadlocked against
                // a Submit handing over a batch.
                let mempool = lock(&shared.mempool).len();
                let c = lock(&shared.counters).clone();
                tracing::info!(
                    height = c.height,
                    committed = c.committed,
                    sent_cross = c.sent_cross,
                    rejected = c.rejected,
                    mempool,
                    "progress"
                );
            }
        }
    }

    /// The counters with every asset recounted from the ledger, and what waits for a
    /// block — taken together between two blocks, so the figures describe one state.
    pub fn recount(&self, shared: &Shared) -> Recount {
        // Mempool before counters, as Submit takes them: an admission is either in both
        // figures or in neither.
        let mempool = lock(&shared.mempool);
        let waiting = mempool.len() as u64 + lock(&shared.bad_signatures).len() as u64;
        let mut counters = lock(&shared.counters).clone();
        drop(mempool);
        counters.recounted = (0..=self.ledger.tokens())
            .map(|asset| self.ledger.recount(asset))
            .collect();
        counters.holdings = Some(self.ledger.holdings());
        Recount { counters, waiting }
    }

    /// Produces one block from what is waiting, or `None` when nothing is (an idle
    /// shard makes no empty blocks).
    ///
    /// A block has room for `max_block_txs` units of work. Inbound receipts take it
    /// first, oldest first — value already debited elsewhere must not wait behind new
    /// transactions, as on NEAR — and transactions get what is left. Receipts beyond
    /// the block's room stay in the delayed-receipt queue for the next block.
    pub fn produce(&mut self, shared: &Shared) -> crate::Result<Option<pb::HeaderSubmission>> {
        let Some(inputs) = self.gather(shared, true) else {
            return Ok(None);
        };
        // The record is the block's inputs as gathered, before anything is deferred.
        let record = shared.store.as_ref().map(|_| self.record(&inputs));
        let built = self.build(shared, inputs)?;
        self.count(shared, &built.delta);
        if !built.deferred.is_empty() {
            let mut mempool = lock(&shared.mempool);
            for tx in built.deferred.into_iter().rev() {
                mempool.push_front(tx);
            }
        }
        // The mempool slots of the transactions this block took (and keeps) are free.
        shared.space.add_permits(self.txs.len());
        // Durable before anyone hears of it: a block the driver or the beacon has seen
        // is a block the shard still has after a crash.
        if let (Some(store), Some(record)) = (&shared.store, record) {
            store.append(
                self.height,
                &[
                    (RECORDS, &record.encode_to_vec()),
                    (EVENTS, &built.events.encode_to_vec()),
                ],
            )?;
            let certified = pb::CertifiedHeader {
                header: built.submission.header.clone(),
                cert: built.submission.cert.clone(),
            };
            self.snapshot_if_due(shared, &certified)?;
        }
        publish_events(shared, &built.events);
        Ok(Some(built.submission))
    }

    /// Takes what is waiting into this block's buffers (receipts and transactions), or
    /// returns `None` when nothing is (an idle shard makes no empty blocks). With
    /// `take = false` (a committee's proposer) the mempool and the queues keep what was
    /// copied: it leaves them only when a block holding it is committed.
    pub(crate) fn gather(&mut self, shared: &Shared, take: bool) -> Option<Inputs> {
        let cfg = &shared.config;
        let mut proofs = Proofs::default();
        let (delayed, oldest, decisions, beacon_height, epoch) = {
            let mut inbound = lock(&shared.inbound);
            // The next epoch's change, once the beacon block announcing it is seen.
            let applied = self.ledger.epoch();
            inbound.epochs.retain(|&e, _| e > applied);
            let epoch = inbound.next_epoch(applied).cloned();
            // An announcement that does not fit this directory (an account that does
            // not exist or is already where it would go, a shard that does not) is
            // refused by name, once, and never applied: the driver then sees this shard
            // never switch, and the run names the moves that did not complete.
            let world = State::world(&self.ledger);
            let epoch = match epoch.map(|e| (e.check(&world.placement, world.accounts), e)) {
                Some((Err(why), e)) => {
                    tracing::error!("the beacon's epoch change is refused: {why}");
                    inbound.epochs.remove(&e.epoch);
                    None
                }
                other => other.map(|(_, e)| e),
            };
            let n = inbound.queue.len().min(cfg.max_block_txs);
            if cfg.committee.is_some() {
                inbound.queue.make_contiguous();
                let taken = &inbound.queue.as_slices().0[..n];
                let Some(proven) = inbound.proofs_of(taken) else {
                    // Every admitted delivery is held until applied (`deliver`).
                    tracing::error!("a queued receipt has no proof held: not proposing");
                    return None;
                };
                proofs.receipts = proven;
            }
            self.receipts.clear();
            self.receipt_meta.clear();
            for q in inbound.queue.iter().take(n) {
                self.receipts.push((q.src, q.receipt));
                if self.two_phase.is_some() {
                    self.receipt_meta.push((q.notarized, q.arrived));
                }
            }
            if take {
                inbound.queue.drain(..n);
            }
            let now = shared.clock.now();
            let oldest = inbound.queue.front().map(|q| now.saturating_sub(q.arrived));
            let decisions = if take {
                std::mem::take(&mut inbound.decisions)
            } else {
                inbound.decisions.clone()
            };
            (
                inbound.queue.len() as u64,
                oldest.unwrap_or_default(),
                decisions,
                inbound.beacon_height,
                epoch,
            )
        };
        // Two-phase work needs a block even without transactions: decisions to apply,
        // deadlines passed, votes to send.
        let two_phase_work = !decisions.is_empty()
            || self
                .two_phase
                .as_ref()
                .is_some_and(|t| t.open() > 0 && t.height() < beacon_height)
            || self
                .withheld
                .front()
                .is_some_and(|w| w.0 <= self.height + 1);
        {
            let mut mempool = lock(&shared.mempool);
            let room = cfg.max_block_txs - self.receipts.len();
            let n = match cfg.max_block_gas {
                // Ethereum's rule: the transactions' gas limits fit the block's.
                Some(budget) => crate::vm::exec::within_gas(
                    State::world(&self.ledger),
                    mempool.iter().take(room),
                    budget,
                ),
                None => mempool.len().min(room),
            };
            self.txs.clear();
            if take {
                self.txs.extend(mempool.drain(..n));
            } else {
                self.txs.extend(mempool.iter().take(n));
            }
        }
        let bad_signatures = if take {
            std::mem::take(&mut *lock(&shared.bad_signatures))
        } else {
            lock(&shared.bad_signatures).clone()
        };
        if self.txs.is_empty()
            && self.receipts.is_empty()
            && bad_signatures.is_empty()
            && !two_phase_work
            && epoch.is_none()
            && self.ledger.exporting() == 0
        {
            return None;
        }
        if cfg.committee.is_some() && cfg.signatures {
            let signed = lock(&shared.signed);
            let Some(sigs) = self
                .txs
                .iter()
                .map(|t| signed.get(&t.id).map(|s| s.1))
                .collect::<Option<Vec<_>>>()
            else {
                // Submit keeps every admitted transaction's signature (see `signed`).
                tracing::error!("a transaction without its signature: not proposing");
                return None;
            };
            proofs.signatures = sigs.concat();
            let mut bad = pb::TxBatch::default();
            for id in &bad_signatures {
                let (t, sig) = signed.get(id)?;
                push_tx(&mut bad, t);
                bad.signatures.extend_from_slice(sig);
            }
            proofs.bad = Some(bad);
        }
        Some(Inputs {
            epoch,
            decisions,
            beacon_height,
            bad_signatures,
            proofs,
            delayed,
            oldest,
        })
    }

    /// Executes a block from its gathered inputs: steps 3–6, up to the submission for
    /// the beacon and the events for subscribers (which the caller sends, or not).
    pub(super) fn build(&mut self, shared: &Shared, inputs: Inputs) -> crate::Result<Built> {
        let Inputs {
            epoch,
            decisions,
            beacon_height,
            bad_signatures,
            delayed,
            oldest,
            ..
        } = inputs;
        self.out.clear();
        self.out.beacon_height = beacon_height;
        // The switch block only lets go: as light as any block, so that every shard
        // switches promptly; the export begins with the next block.
        match epoch {
            Some(change) => self.switch(&change),
            None => self.export(),
        }
        let executed = self.execute(shared, &decisions, beacon_height, bad_signatures)?;
        Ok(self.seal(shared, executed, (delayed, oldest)))
    }

    /// Steps 3–4 and the state commit: receipts (or two-phase decisions and prepares),
    /// then the transactions by the configured executor, then the new state root.
    fn execute(
        &mut self,
        shared: &Shared,
        decisions: &[Decision],
        beacon_height: u64,
        bad_signatures: Vec<TxId>,
    ) -> crate::Result<Executed> {
        let cfg = &shared.config;
        // Steps 3 and 4 of DESIGN §3: receipts first, then transactions (the output
        // was cleared by `build`, and holds the epoch switch's receipts if any).
        let assets = self.ledger.tokens() as usize + 1;
        let mut applied = vec![vec![(0u64, 0u64); cfg.shards as usize]; assets];
        let mut emitted = vec![vec![(0u64, 0u64); cfg.shards as usize]; assets];
        match self.two_phase.as_mut() {
            None => {
                exec::apply_receipts(
                    &mut *self.executor,
                    &mut self.ledger,
                    &self.receipts,
                    &mut applied,
                    &mut self.out,
                )
                .map_err(|_| crate::Error::ExecutorMismatch {
                    executor: cfg.executor,
                    height: self.height + 1,
                })?;
            }
            Some(tp) => {
                // Decisions first (they release locks), then the new prepares.
                let height = self.height + 1;
                let mismatch = |_| crate::Error::ExecutorMismatch {
                    executor: cfg.executor,
                    height,
                };
                tp.decide(
                    &mut *self.executor,
                    &mut self.ledger,
                    decisions,
                    (beacon_height, shared.clock.now()),
                    (&mut applied, &mut emitted),
                    &mut self.out,
                )
                .map_err(mismatch)?;
                tp.prepare(
                    (&mut *self.executor, &mut self.ledger),
                    &self.receipts,
                    &self.receipt_meta,
                    &mut applied,
                    &mut emitted,
                    &mut self.out,
                )
                .map_err(mismatch)?;
            }
        }
        // After this block's decisions and votes have set the locks: transactions that
        // would touch a locked key go back to the mempool's head and wait.
        let deferred = self
            .two_phase
            .as_ref()
            .map(|tp| tp.defer_locked(&self.ledger, &mut self.txs))
            .unwrap_or_default();
        // Step 4: the transactions, by the configured executor (with verify_executor,
        // checked against the sequential one: any difference stops the shard).
        // Calls of senders that have moved away are handed back, not run.
        let kept = super::migrate::refuse_moved(&self.ledger, &self.txs, &mut self.out.moved);
        let stats = self
            .executor
            .execute(
                &mut self.ledger,
                kept.as_deref().unwrap_or(&self.txs),
                &mut self.out,
            )
            .map_err(|_| crate::Error::ExecutorMismatch {
                executor: cfg.executor,
                height: self.height + 1,
            })?;
        if let Some(tp) = self.two_phase.as_mut() {
            tp.sent(&self.txs, &self.out.sent_cross, &self.out.outgoing);
        }
        // Step 5 begins: hash the touched keys into the state root, on the executor's
        // threads.
        self.ledger.commit(self.executor.threads());
        // Counted from the block's inputs — what it took from the mempool and the
        // signature check — not from its outcome lists, so that the driver can hold the
        // lists it receives against an independent count.
        let entered = (self.txs.len() + bad_signatures.len()) as u64;
        for id in bad_signatures {
            self.out.rejected.push(id);
            self.out
                .rejected_reason
                .push(RejectReason::BadSignature.code());
        }
        if self.out.receipts_misplaced > 0 {
            tracing::warn!(
                count = self.out.receipts_misplaced,
                "receipts for accounts not on this shard were not credited"
            );
        }
        Ok(Executed {
            applied,
            emitted,
            deferred,
            stats,
            entered,
        })
    }

    /// Steps 5–6: the block's receipt batches, its header, its counters and events, and
    /// the submission for the beacon.
    fn seal(
        &mut self,
        shared: &Shared,
        executed: Executed,
        (delayed, oldest): (u64, Duration),
    ) -> Built {
        let cfg = &shared.config;
        let Executed {
            applied,
            mut emitted,
            deferred,
            stats,
            entered,
        } = executed;
        // Step 5: commit — one batch per destination, consecutive channel seqs.
        let me = cfg.shard;
        let mut batches = Vec::new();
        for (dst, receipts) in self.out.outgoing.iter_mut().enumerate() {
            if receipts.is_empty() {
                continue;
            }
            let batch = ReceiptBatch {
                src: me,
                dst: dst as ShardId,
                first_seq: self.out_seq[dst],
                receipts: std::mem::take(receipts),
            };
            self.out_seq[dst] = batch.end_seq();
            for r in &batch.receipts {
                let (asset, value) = r.effect.value().unwrap_or_default();
                let e = &mut emitted[asset as usize][dst];
                e.0 += 1;
                e.1 = e.1.saturating_add(value);
            }
            batches.push(batch);
        }
        // Every receipt taken uses its sequence number, whether it could be credited
        // or not.
        for &(src, _) in &self.receipts {
            self.applied_seq[src as usize] += 1;
        }
        // Batches are made in destination order, each to a destination of the cluster.
        let sent: Vec<(usize, Hash)> = batches.iter().map(|b| (b.dst as usize, b.leaf())).collect();
        let receipts_root = self
            .empty_tree
            .patched(&sent)
            .expect("batches in destination order, within the cluster")
            .root();
        let header = Header {
            shard: me,
            height: self.height + 1,
            prev_hash: self.last_hash,
            state_root: self.ledger.state_root(),
            receipts_root,
            tx_count: self.txs.len() as u32,
            inputs: self.inputs_hash,
        };
        self.height = header.height;
        self.last_hash = header.hash();

        let (events, delta) = self.publish(
            shared,
            &header,
            applied,
            emitted,
            Figures {
                delayed,
                oldest,
                stats,
                entered,
                batches: sent.len(),
            },
        );

        // Step 6: the header and its receipts go to the beacon, with our acks.
        let mut wire: Vec<pb::ReceiptBatch> = batches.iter().map(pb::ReceiptBatch::from).collect();
        let mut votes = self
            .two_phase
            .as_mut()
            .map(TwoPhase::take_votes)
            .unwrap_or_default();
        if cfg.byzantine {
            self.misbehave(&mut wire);
            if let Some(deadline) = cfg.two_phase {
                self.misvote(&mut votes, deadline);
            }
        }
        let leaf_dsts: Vec<ShardId> = sent.iter().map(|s| s.0 as ShardId).collect();
        self.last_batches = batches;
        let submission = pb::HeaderSubmission {
            // Alone, the shard is a committee of one and certifies its header for the
            // beacon; a committee's certificate is its quorum's, added at the commit.
            cert: cfg.committee.is_none().then(|| {
                shardsim_proto::convert::cert_to_wire(&consensus::QuorumCert::of_header(
                    &cfg.validator_key,
                    &header,
                ))
            }),
            header: Some(pb::Header::from(&header)),
            // Only the leaves of destinations sent to: the beacon knows the others.
            leaves: sent.iter().map(|s| s.1.0.to_vec()).collect(),
            leaf_dsts,
            batches: wire,
            votes: votes
                .into_iter()
                .map(|(tx, v)| vote_to_wire(tx, v))
                .collect(),
            acks: self
                .applied_seq
                .iter()
                .zip(&mut self.acked)
                .enumerate()
                .filter(|(src, (next, acked))| *src as ShardId != me && next != acked)
                .map(|(src, (&next_seq, acked))| {
                    *acked = next_seq;
                    pb::ChannelAck {
                        src: src as ShardId,
                        next_seq,
                    }
                })
                .collect(),
            // Every decision read up to this block's beacon height is applied by now.
            decided_through: if cfg.two_phase.is_some() {
                self.out.beacon_height
            } else {
                0
            },
        };
        Built {
            submission,
            events,
            deferred,
            delta,
        }
    }
}
