//! The shard's shared state and its block loop.
//!
//! Three kinds of task share one [`Shared`]:
//!
//! ```text
//!  Submit handlers ──push──► mempool ──take ≤ max_block_txs──┐
//!  beacon link ─────admit──► delayed-receipt queue ──take first─┤
//!                                                            ▼
//!                                                      block loop ──► header + batches ──► beacon link
//!                                                            └──────► BlockEvents ──────► Events subscribers
//! ```
//!
//! Only the block loop touches the ledger, so execution needs no locks; the mempool and
//! the inbound queue are the hand-off points, each behind a short-held mutex.
//!
//! **The block loop is a thread, not a task.** Execution, the state commit and the
//! store's fsync are CPU or disk work of milliseconds per block; on an async worker
//! they would stall every gRPC handler and the beacon link sharing it (the runtime has
//! one worker per core). So the loop runs on a blocking thread of its own and talks to
//! the async side through two bounded hand-offs: the [`Doorbell`] (work arrived, a
//! recount is asked for) and each subscriber's bounded events queue.
//!
//! ```text
//!  Submit / beacon link ──Wake::Work──────► doorbell ──► block thread: tick or work ─► block
//!  Status{recount}      ──Wake::Recount──►          └──► between blocks: recount ─► reply
//! ```
//!
//! **Durability.** With a data directory, every block's *inputs* (the receipts and
//! transactions it took, the decisions and beacon height it saw) and its events are
//! written to the shard's store in one transaction before the block is announced.
//! Block production is deterministic, so replaying the stored inputs after a crash
//! ([`BlockProducer::recover`]) rebuilds exactly the state, the chain tip and the
//! channel counters the shard had; what was only in memory — the mempool, the inbound
//! queue — is sent again by its senders (the driver, the beacon).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cross_shard::channel::InboundChannels;
use cross_shard::sync::lock;
use cross_shard::twophase::Decision;
use cross_shard::{
    Hash, Header, Receipt, ReceiptBatch, RejectReason, ShardId, Tx, TxId, merkle, receipt,
};
use prost::Message;
use shardsim_proto::convert::{block_txs_from_wire, decision_from_wire, push_tx, receipts_to_wire};
use shardsim_proto::pb;
use shardsim_proto::store::Log;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use crate::ShardConfig;
use crate::executor::{self, BlockOutput};
use crate::sigverify::SigVerifier;
use crate::state::Ledger;
use crate::two_phase::TwoPhase;
use crate::{Executor, blockstm, parallel};

/// A stream of block events to one subscriber.
pub type EventSender = mpsc::Sender<Result<pb::BlockEvents, tonic::Status>>;

/// Blocks' events queued per subscriber. A reader this far behind is waited for up to
/// [`SLOW_SUBSCRIBER`] (backpressure on block production), then its stream is ended.
pub const EVENTS_QUEUE: usize = 1024;
/// How long the block loop waits for room in a full subscriber's queue before it
/// ends that subscription: a reader that stopped reading must not stop the shard.
pub const SLOW_SUBSCRIBER: Duration = Duration::from_secs(2);
/// Wake-ups queued for the block thread; more would say nothing new.
const DOORBELL_QUEUE: usize = 256;

/// What wakes the block thread.
#[derive(Debug)]
pub enum Wake {
    /// Transactions, receipts or decisions arrived (an `asap` loop builds a block).
    Work,
    /// A `Status` asks for the state to be recounted between two blocks.
    Recount(oneshot::Sender<Recount>),
}

/// The block thread's answer to [`Wake::Recount`]: the counters with
/// [`Counters::recounted`] filled in, and what waits for a block, all as of one
/// moment between two blocks.
#[derive(Debug, Clone)]
pub struct Recount {
    /// The counters, as of the last block.
    pub counters: Counters,
    /// Transactions in the mempool, plus bad signatures waiting to be reported.
    pub waiting: u64,
}

/// The async side's end of the block thread's wake-up queue.
#[derive(Debug)]
pub struct Doorbell {
    tx: SyncSender<Wake>,
    rx: Mutex<Option<Receiver<Wake>>>,
    /// Set once the shard stops; the thread looks at every wake-up.
    stopping: std::sync::atomic::AtomicBool,
}

impl Doorbell {
    fn new() -> Doorbell {
        let (tx, rx) = std::sync::mpsc::sync_channel(DOORBELL_QUEUE);
        Doorbell {
            tx,
            rx: Mutex::new(Some(rx)),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Says that there is work. Never waits: a full queue already holds wake-ups.
    pub fn ring(&self) {
        let _ = self.tx.try_send(Wake::Work);
    }

    /// Asks the block thread for a recount; `None` when its queue is full or it has
    /// stopped.
    pub fn recount(&self) -> Option<oneshot::Receiver<Recount>> {
        let (reply, answer) = oneshot::channel();
        match self.tx.try_send(Wake::Recount(reply)) {
            Ok(()) => Some(answer),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => None,
        }
    }

    /// Tells the block thread to stop after the block in hand. Never waits: a full
    /// queue means the thread wakes soon anyway.
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.ring();
    }

    /// Whether [`Doorbell::stop`] was called.
    fn stopped(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The thread's end; `None` once taken.
    pub fn take_receiver(&self) -> Option<Receiver<Wake>> {
        lock(&self.rx).take()
    }
}

/// An admitted receipt waiting to be applied.
#[derive(Debug, Clone, Copy)]
pub struct QueuedReceipt {
    /// The shard that sent it.
    pub src: ShardId,
    /// What to apply.
    pub receipt: Receipt,
    /// When it was admitted, for the congestion figures.
    pub arrived: Instant,
    /// The beacon block that delivered it (two-phase deadlines count from there).
    pub notarized: u64,
}

/// The store's table of block inputs ([`pb::BlockRecord`]), by height.
pub const RECORDS: &str = "blocks";
/// The store's table of block events ([`pb::BlockEvents`]), by height.
pub const EVENTS: &str = "events";

/// What a block is made from, besides the receipts and transactions in the
/// producer's buffers.
struct Inputs {
    decisions: Vec<Decision>,
    beacon_height: u64,
    bad_signatures: Vec<TxId>,
    /// Congestion figures for the events (not inputs: 0 on replay).
    delayed: u64,
    oldest: Duration,
}

/// A block's figures for its events and the counters, besides its outcome lists.
struct Figures {
    /// Receipts left in the delayed queue, and how long the oldest has waited.
    delayed: u64,
    oldest: Duration,
    /// From the parallel executors' schedules (see [`pb::BlockEvents`]).
    dependent: Option<usize>,
    reexecuted: Option<usize>,
    /// Transactions the block took in (see [`Counters::entered`]).
    entered: u64,
}

/// What building a block produced.
struct Built {
    submission: pb::HeaderSubmission,
    events: pb::BlockEvents,
    /// Transactions taken but sent back to wait behind two-phase locks.
    deferred: Vec<Tx>,
}

/// Header submissions the beacon has not notarized yet: the link sends each, and sends
/// them again if the beacon is slow to notarize the oldest (a lost message, a restarted
/// beacon). Notarization, seen in a beacon block's crosslinks, forgets them.
///
/// Resends are **paced**: the first comes [`RETRANSMIT`] after the oldest was sent,
/// and each further one without progress waits twice as long, up to
/// [`MAX_RETRANSMIT`]; a notarization starts the pace again. A beacon that is merely
/// slow (long beacon blocks, a loaded host) is not flooded with copies of what it has.
#[derive(Debug)]
pub struct Outgoing {
    /// Oldest first: (height, submission, when last sent).
    pub retained: VecDeque<(u64, pb::HeaderSubmission, Option<Instant>)>,
    /// How long the oldest may wait before everything is sent again.
    patience: Duration,
}

/// The first resend's wait for notarization.
pub const RETRANSMIT: Duration = Duration::from_secs(1);
/// The longest wait between resends.
pub const MAX_RETRANSMIT: Duration = Duration::from_secs(8);

impl Default for Outgoing {
    fn default() -> Outgoing {
        Outgoing {
            retained: VecDeque::new(),
            patience: RETRANSMIT,
        }
    }
}

impl Outgoing {
    /// Keeps a new block's submission, not yet sent.
    pub fn push(&mut self, height: u64, submission: pb::HeaderSubmission) {
        self.retained.push_back((height, submission, None));
    }

    /// Forgets the submissions up to `height`: the beacon notarized them.
    pub fn notarized(&mut self, height: u64) {
        let before = self.retained.len();
        while self.retained.front().is_some_and(|r| r.0 <= height) {
            self.retained.pop_front();
        }
        if self.retained.len() < before {
            self.patience = RETRANSMIT;
        }
    }

    /// Marks everything unsent (a new session starts from scratch).
    pub fn resend_all(&mut self) {
        self.retained.iter_mut().for_each(|r| r.2 = None);
    }

    /// What to send at `now`, marked sent: the submissions never sent, or all of them
    /// when the oldest has waited past the current patience (which then doubles). The
    /// count is how many of them are resends.
    ///
    /// Why all and not just the oldest: the beacon ignores a submission that comes
    /// after a gap in a shard's chain, so if the oldest was lost, so were (in effect)
    /// the ones after it.
    pub fn due(&mut self, now: Instant) -> (Vec<pb::HeaderSubmission>, u64) {
        let stale = self
            .retained
            .front()
            .and_then(|r| r.2)
            .is_some_and(|sent| now.saturating_duration_since(sent) >= self.patience);
        let mut resent = 0;
        if stale {
            resent = self.retained.iter().filter(|r| r.2.is_some()).count() as u64;
            self.resend_all();
            self.patience = (self.patience * 2).min(MAX_RETRANSMIT);
        }
        let due = self
            .retained
            .iter_mut()
            .filter(|r| r.2.is_none())
            .map(|r| {
                r.2 = Some(now);
                r.1.clone()
            })
            .collect();
        (due, resent)
    }
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
    /// Admitted receipts still to drop unapplied ([`ShardConfig::lose_receipts`]).
    pub to_lose: u64,
}

/// Cumulative figures served by `Status`, updated after every block.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Last committed height.
    pub height: u64,
    /// State root after the last block.
    pub state_root: Hash,
    /// Intra-shard transfers committed.
    pub committed: u64,
    /// Cross-shard transfers debited here.
    pub sent_cross: u64,
    /// Transactions rejected here, or whose cross-shard call ended failed here.
    pub rejected: u64,
    /// Σ balances.
    pub balance_totals: Vec<u64>,
    /// Σ balances at genesis.
    pub genesis_balance_totals: Vec<u64>,
    /// Per asset, per destination: (receipts emitted, value).
    pub outbound: Vec<Vec<(u64, u64)>>,
    /// Per asset, per source: (receipts applied, value credited).
    pub inbound: Vec<Vec<(u64, u64)>>,
    /// Two-phase: value held by undecided prepares, per asset.
    pub locked: Vec<u64>,
    /// Two-phase: transactions prepared here or sent from here, undecided.
    pub tp_open: u64,
    /// Two-phase: decisions refused as contradicting this shard's vote.
    pub decisions_refused: u64,
    /// Height resumed from the store at start (0: a fresh start).
    pub recovered_height: u64,
    /// Times the beacon link was re-established.
    pub link_retries: u64,
    /// Header submissions sent again.
    pub headers_retransmitted: u64,
    /// Transactions read off Submit streams (the stream handler's own count).
    pub admitted: u64,
    /// Transactions that entered a block, counted from the blocks' inputs.
    pub entered: u64,
    /// Per asset, Σ balances and pool reserves recounted from the state, as of
    /// `height`; empty unless a Status asked for a recount.
    pub recounted: Vec<u64>,
}

/// State shared by the service handlers, the beacon link and the block loop.
#[derive(Debug)]
pub struct Shared {
    /// How this shard was started.
    pub config: ShardConfig,
    /// Transactions accepted and not yet in a block, in arrival order.
    pub mempool: Mutex<VecDeque<Tx>>,
    /// One permit per free mempool slot: Submit waits here when the mempool is full,
    /// which stops it reading its stream and so pushes back on the sender.
    pub space: Semaphore,
    /// Wakes the block thread: work arrived, or a recount is asked for.
    pub doorbell: Doorbell,
    /// Receipts delivered by the beacon.
    pub inbound: Mutex<Inbound>,
    /// Figures for `Status`.
    pub counters: Mutex<Counters>,
    /// Open `Events` streams.
    pub subscribers: Mutex<Vec<EventSender>>,
    /// Public keys and threads for signature checks, when the cluster signs.
    pub verifier: Option<Arc<SigVerifier>>,
    /// Transactions refused on admission for a bad signature, reported (rejected) by
    /// the next block.
    pub bad_signatures: Mutex<Vec<TxId>>,
    /// The shard's store, with a data directory.
    pub store: Option<Log>,
    /// Submissions for the beacon not yet notarized.
    pub outgoing: Mutex<Outgoing>,
    /// Wakes the link when a submission is added.
    pub outgoing_ready: Notify,
    /// Faults injected on the link with the beacon (`InjectFault`).
    pub link_faults: shardsim_host::netem::FaultHandle,
}

impl Shared {
    /// Fresh shared state for a shard at genesis, keeping its blocks in `store` if
    /// given.
    pub fn new(config: ShardConfig, genesis: &mut Ledger, store: Option<Log>) -> Shared {
        let shards = config.shards as usize;
        let assets = 0..=genesis.tokens();
        Shared {
            mempool: Mutex::new(VecDeque::new()),
            space: Semaphore::new(config.mempool_capacity),
            doorbell: Doorbell::new(),
            inbound: Mutex::new(Inbound {
                channels: InboundChannels::new(config.shard, config.shards),
                queue: VecDeque::new(),
                rejected: 0,
                duplicates: 0,
                out_of_order: 0,
                beacon_height: 0,
                decisions: Vec::new(),
                to_lose: config.lose_receipts,
            }),
            counters: Mutex::new(Counters {
                state_root: genesis.state_root(),
                balance_totals: assets.clone().map(|a| genesis.total(a)).collect(),
                genesis_balance_totals: assets.clone().map(|a| genesis.total(a)).collect(),
                outbound: assets.clone().map(|_| vec![(0, 0); shards]).collect(),
                inbound: assets.clone().map(|_| vec![(0, 0); shards]).collect(),
                locked: assets.map(|_| 0).collect(),
                ..Counters::default()
            }),
            subscribers: Mutex::new(Vec::new()),
            verifier: config.signatures.then(|| {
                let mine = genesis
                    .placement()
                    .accounts_of(config.shard, config.accounts);
                Arc::new(SigVerifier::new(&mine, config.threads))
            }),
            bad_signatures: Mutex::new(Vec::new()),
            store,
            outgoing: Mutex::new(Outgoing::default()),
            outgoing_ready: Notify::new(),
            link_faults: shardsim_host::netem::FaultHandle::default(),
            config,
        }
    }

    /// The genesis ledger this configuration describes.
    pub fn genesis(config: &ShardConfig) -> Option<Ledger> {
        Some(Ledger::genesis(config.world()?, config.initial_balance))
    }
}

/// Hands a block's events to every subscriber. A full queue is waited on for up to
/// [`SLOW_SUBSCRIBER`] — backpressure, the block loop slows to its slowest reader —
/// and then that subscription ends with an error; a closed one is forgotten.
fn publish_events(shared: &Shared, events: &pb::BlockEvents) {
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

/// The block loop's private state: the ledger and the chain tip.
pub struct BlockProducer {
    /// The shard's accounts; only the block loop touches them.
    ledger: Ledger,
    /// Height of the last block.
    height: u64,
    /// Hash of the last header.
    last_hash: Hash,
    /// Next sequence number per outbound channel (index = destination).
    out_seq: Vec<u64>,
    /// Next unapplied sequence number per inbound channel (index = source): the acks.
    applied_seq: Vec<u64>,
    /// The previous block's batches (a Byzantine shard replays them).
    last_batches: Vec<ReceiptBatch>,
    /// Two-phase commit state, when the cluster runs that protocol.
    two_phase: Option<TwoPhase>,
    /// A Byzantine shard's withheld votes, with the height of the block that sends them
    /// (too late).
    withheld: VecDeque<(u64, Vec<pb::Vote>)>,
    /// Reused buffers.
    txs: Vec<Tx>,
    receipts: Vec<(ShardId, Receipt)>,
    /// Two-phase: each taken receipt's beacon height and arrival.
    receipt_meta: Vec<(u64, Instant)>,
    out: BlockOutput,
}

impl BlockProducer {
    /// A producer starting from `ledger` at genesis; `two_phase` is the deadline when
    /// the cluster runs two-phase commit.
    pub fn new(ledger: Ledger, two_phase: Option<u64>) -> BlockProducer {
        let shards = ledger.placement().shards();
        BlockProducer {
            two_phase: two_phase.map(TwoPhase::new),
            withheld: VecDeque::new(),
            receipt_meta: Vec::new(),
            ledger,
            height: 0,
            last_hash: Hash::ZERO,
            out_seq: vec![0; shards as usize],
            applied_seq: vec![0; shards as usize],
            last_batches: Vec::new(),
            txs: Vec::new(),
            receipts: Vec::new(),
            out: BlockOutput::new(shards),
        }
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
                let c = lock(&shared.counters);
                tracing::info!(
                    height = c.height,
                    committed = c.committed,
                    sent_cross = c.sent_cross,
                    rejected = c.rejected,
                    mempool = lock(&shared.mempool).len(),
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
        let Some(inputs) = self.gather(shared) else {
            return Ok(None);
        };
        // The record is the block's inputs as gathered, before anything is deferred.
        let record = shared.store.as_ref().map(|_| self.record(&inputs));
        let built = self.build(shared, inputs)?;
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
        }
        publish_events(shared, &built.events);
        Ok(Some(built.submission))
    }

    /// Re-executes a stored block (see [`BlockProducer::recover`]): the same inputs
    /// through the same code give the same state, counters and submission.
    pub fn replay(
        &mut self,
        shared: &Shared,
        height: u64,
        record: &pb::BlockRecord,
    ) -> crate::Result<pb::HeaderSubmission> {
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
        self.receipts.clear();
        self.receipts
            .extend(record.receipt_src.iter().copied().zip(receipts));
        self.receipt_meta.clear();
        if self.two_phase.is_some() {
            let now = Instant::now();
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
        let inputs = Inputs {
            decisions,
            beacon_height: record.beacon_height,
            bad_signatures: record.bad_signatures.clone(),
            delayed: 0,
            oldest: Duration::ZERO,
        };
        Ok(self.build(shared, inputs)?.submission)
    }

    /// Rebuilds the shard from its store: every stored block is replayed in order, so
    /// the ledger, the chain tip, the channel counters and the two-phase state are what
    /// they were after the last block committed before the crash. Submissions above
    /// `notarized` (the beacon's last notarized height for this shard) are kept to be
    /// sent again. Returns the height resumed at (0 without a store).
    pub fn recover(&mut self, shared: &Shared, notarized: u64) -> crate::Result<u64> {
        let Some(store) = &shared.store else {
            return Ok(0);
        };
        if store.last(RECORDS)?.is_none() {
            return Ok(0);
        }
        if shared.config.two_phase.is_some() {
            return Err(crate::Error::Config(
                "resuming a two-phase shard from its store is not supported: the decisions it had read but not applied are not sent again (use an empty data directory)".into(),
            ));
        }
        store.try_for_each(RECORDS, 0, |height, record: pb::BlockRecord| {
            let submission = self.replay(shared, height, &record)?;
            if height > notarized {
                lock(&shared.outgoing).push(height, submission);
            }
            Ok::<_, crate::Error>(())
        })?;
        let cfg = &shared.config;
        lock(&shared.inbound).channels =
            InboundChannels::resume(cfg.shard, cfg.shards, &self.applied_seq);
        let mut c = lock(&shared.counters);
        c.recovered_height = self.height;
        // The mempool did not survive: what it held is sent again and counted again.
        c.admitted = c.entered;
        drop(c);
        Ok(self.height)
    }

    /// Takes what is waiting into this block's buffers (receipts and transactions), or
    /// returns `None` when nothing is (an idle shard makes no empty blocks).
    fn gather(&mut self, shared: &Shared) -> Option<Inputs> {
        let cfg = &shared.config;
        let (delayed, oldest, decisions, beacon_height) = {
            let mut inbound = lock(&shared.inbound);
            let n = inbound.queue.len().min(cfg.max_block_txs);
            self.receipts.clear();
            self.receipt_meta.clear();
            for q in inbound.queue.drain(..n) {
                self.receipts.push((q.src, q.receipt));
                if self.two_phase.is_some() {
                    self.receipt_meta.push((q.notarized, q.arrived));
                }
            }
            let oldest = inbound.queue.front().map(|q| q.arrived.elapsed());
            (
                inbound.queue.len() as u64,
                oldest.unwrap_or_default(),
                std::mem::take(&mut inbound.decisions),
                inbound.beacon_height,
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
            let n = mempool.len().min(room);
            self.txs.clear();
            self.txs.extend(mempool.drain(..n));
        }
        let bad_signatures = std::mem::take(&mut *lock(&shared.bad_signatures));
        if self.txs.is_empty()
            && self.receipts.is_empty()
            && bad_signatures.is_empty()
            && !two_phase_work
        {
            return None;
        }
        Some(Inputs {
            decisions,
            beacon_height,
            bad_signatures,
            delayed,
            oldest,
        })
    }

    /// The stored form of a block's inputs.
    fn record(&self, inputs: &Inputs) -> pb::BlockRecord {
        let mut txs = pb::TxBatch::default();
        for t in &self.txs {
            push_tx(&mut txs, t);
        }
        pb::BlockRecord {
            beacon_height: inputs.beacon_height,
            decisions: inputs.decisions.iter().map(pb::Decision::from).collect(),
            receipt_src: self.receipts.iter().map(|r| r.0).collect(),
            receipt_notarized: self.receipt_meta.iter().map(|m| m.0).collect(),
            receipts: Some(receipts_to_wire(self.receipts.iter().map(|r| &r.1))),
            txs: Some(txs),
            bad_signatures: inputs.bad_signatures.clone(),
        }
    }

    /// Executes a block from its gathered inputs: steps 3–6, up to the submission for
    /// the beacon and the events for subscribers (which the caller sends, or not).
    fn build(&mut self, shared: &Shared, inputs: Inputs) -> crate::Result<Built> {
        let cfg = &shared.config;
        let Inputs {
            decisions,
            beacon_height,
            bad_signatures,
            delayed,
            oldest,
        } = inputs;
        // Steps 3 and 4 of DESIGN §3: receipts first, then transactions.
        self.out.clear();
        let assets = self.ledger.tokens() as usize + 1;
        let mut applied = vec![vec![(0u64, 0u64); cfg.shards as usize]; assets];
        let mut emitted = vec![vec![(0u64, 0u64); cfg.shards as usize]; assets];
        match self.two_phase.as_mut() {
            None => executor::apply_receipts(
                &mut self.ledger,
                &self.receipts,
                &mut applied,
                &mut self.out,
            ),
            Some(tp) => {
                // Decisions first (they release locks), then the new prepares.
                tp.decide(
                    &mut self.ledger,
                    &decisions,
                    beacon_height,
                    (&mut applied, &mut emitted),
                    &mut self.out,
                );
                tp.prepare(
                    &mut self.ledger,
                    &self.receipts,
                    &self.receipt_meta,
                    &mut applied,
                    &mut emitted,
                    &mut self.out,
                );
            }
        }
        // After this block's decisions and votes have set the locks: transactions that
        // would touch a locked key go back to the mempool's head and wait.
        let deferred = self
            .two_phase
            .as_ref()
            .map(|tp| tp.defer_locked(&self.ledger, &mut self.txs))
            .unwrap_or_default();
        // With verify_executor, the sequential reference runs beside the chosen executor
        // on a copy of the state, and any difference stops the shard.
        let reference = (cfg.verify_executor && cfg.executor != Executor::Sequential).then(|| {
            let mut ledger = self.ledger.clone();
            let mut out = self.out.clone();
            executor::execute(&mut ledger, &self.txs, &mut out);
            (ledger.state_root(), out)
        });
        // The parallel executors learn the dependency ratio from their schedules for
        // free; the sequential one does not schedule, and does not report it.
        let (dependent, reexecuted) = match cfg.executor {
            Executor::Sequential => {
                executor::execute(&mut self.ledger, &self.txs, &mut self.out);
                (None, None)
            }
            Executor::Parallel => {
                let dependent = parallel::execute(
                    &mut self.ledger,
                    &self.txs,
                    &mut self.out,
                    cfg.threads,
                    parallel::MIN_PARALLEL_WAVE,
                );
                (Some(dependent), None)
            }
            Executor::BlockStm => {
                let stats =
                    blockstm::execute(&mut self.ledger, &self.txs, &mut self.out, cfg.threads);
                (Some(stats.dependent), Some(stats.reexecuted))
            }
        };
        if let Some(tp) = self.two_phase.as_mut() {
            tp.sent(&self.txs, &self.out.sent_cross, &self.out.outgoing);
        }
        // Step 5 begins: hash the touched keys into the state root, on the executor's
        // threads.
        self.ledger.commit(cfg.threads);
        if let Some((root, out)) = reference {
            // Every receipt, outcome and reason, and the state root.
            if root != self.ledger.state_root() || out != self.out {
                return Err(crate::Error::ExecutorMismatch {
                    executor: cfg.executor,
                    height: self.height + 1,
                });
            }
        }
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
        let leaves = receipt::leaves(me, cfg.shards, &batches);
        let header = Header {
            shard: me,
            height: self.height + 1,
            prev_hash: self.last_hash,
            state_root: self.ledger.state_root(),
            receipts_root: merkle::root(&leaves),
            tx_count: self.txs.len() as u32,
        };
        self.height = header.height;
        self.last_hash = header.hash();

        let events = self.publish(
            shared,
            &header,
            &applied,
            &emitted,
            Figures {
                delayed,
                oldest,
                dependent,
                reexecuted,
                entered,
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
        self.last_batches = batches;
        let submission = pb::HeaderSubmission {
            header: Some(pb::Header::from(&header)),
            leaves: leaves.iter().map(|l| l.0.to_vec()).collect(),
            batches: wire,
            votes,
            acks: self
                .applied_seq
                .iter()
                .enumerate()
                .filter(|&(src, _)| src as ShardId != me)
                .map(|(src, &next_seq)| pb::ChannelAck {
                    src: src as ShardId,
                    next_seq,
                })
                .collect(),
        };
        Ok(Built {
            submission,
            events,
            deferred,
        })
    }

    /// A Byzantine shard's extra batches, on every fourth block: one that its header
    /// does not commit to (a forged credit to another shard), and a replay of receipts
    /// it already sent. Honest receipts are untouched, so the run can go on; the beacon
    /// must drop both and count them (`security` in summary.json).
    fn misbehave(&self, wire: &mut Vec<pb::ReceiptBatch>) {
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
    fn misvote(&mut self, votes: &mut Vec<pb::Vote>, deadline: u64) {
        if self.height % 4 == 0 && !votes.is_empty() {
            // With shard blocks no faster than beacon blocks, the deadline plus a margin
            // is past it (and well within the beacon's memory of decided transactions).
            let late = self.height + deadline + 4;
            self.withheld.push_back((late, std::mem::take(votes)));
            votes.push(pb::Vote {
                tx: u64::MAX - self.height,
                yes: true,
                reason: 0,
                output: 0,
            });
        }
        while self.withheld.front().is_some_and(|w| w.0 <= self.height) {
            votes.extend(self.withheld.pop_front().into_iter().flat_map(|w| w.1));
        }
    }

    /// Updates the counters and returns the block's events. The block's id lists move
    /// into the events (the next block starts them afresh).
    fn publish(
        &mut self,
        shared: &Shared,
        header: &Header,
        applied: &[Vec<(u64, u64)>],
        emitted: &[Vec<(u64, u64)>],
        figures: Figures,
    ) -> pb::BlockEvents {
        let Figures {
            delayed,
            oldest,
            dependent,
            reexecuted,
            entered,
        } = figures;
        {
            let mut c = lock(&shared.counters);
            c.height = header.height;
            c.entered += entered;
            c.state_root = header.state_root;
            c.committed += self.out.committed.len() as u64;
            c.sent_cross += self.out.sent_cross.len() as u64;
            // Failures of cross-shard calls end here too (a refused vote, a refund).
            c.rejected += (self.out.rejected.len()
                + self.out.failed.len()
                + self.out.refunds_applied.len()) as u64
                + self.out.home_aborts;
            let c = &mut *c;
            for (asset, total) in c.balance_totals.iter_mut().enumerate() {
                *total = self.ledger.total(asset as u32);
            }
            if let Some(tp) = &self.two_phase {
                c.locked = tp.locked(c.balance_totals.len());
                c.tp_open = tp.open();
                c.decisions_refused = tp.decisions_refused;
            }
            let sums = c.inbound.iter_mut().flatten().zip(applied.iter().flatten());
            let emits = c
                .outbound
                .iter_mut()
                .flatten()
                .zip(emitted.iter().flatten());
            for (total, block) in sums.chain(emits) {
                total.0 += block.0;
                total.1 = total.1.saturating_add(block.1);
            }
        }
        let out = &mut self.out;
        pb::BlockEvents {
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
            mempool_len: lock(&shared.mempool).len() as u64,
            delayed_receipts: delayed,
            oldest_delayed_us: oldest.as_micros() as u64,
            executed: header.tx_count,
            dependent: dependent.map(|d| d as u32),
            reexecuted: reexecuted.map(|r| r as u32),
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(shard: ShardId) -> ShardConfig {
        ShardConfig {
            shard,
            shards: 2,
            accounts: 100,
            initial_balance: 1000,
            tokens: 0,
            pools: 0,
            collections: 0,
            proposals: 0,
            block_interval: None,
            max_block_txs: 3,
            mempool_capacity: 1000,
            beacon_link: shardsim_host::netem::LinkDelay::default(),
            signatures: false,
            threads: 1,
            byzantine: false,
            lose_receipts: 0,
            executor: crate::Executor::Sequential,
            verify_executor: false,
            two_phase: None,
            data_dir: None,
        }
    }

    /// A transfer of 1 coin.
    fn transfer(id: u64, from: u64, to: u64, nonce: u64) -> Tx {
        Tx {
            id,
            from,
            nonce,
            call: cross_shard::Call::Transfer {
                to,
                asset: 0,
                amount: 1,
            },
        }
    }

    #[test]
    fn blocks_chain_and_take_at_most_max_block_txs() {
        let cfg = config(0);
        let mut ledger = Shared::genesis(&cfg).unwrap();
        let from = ledger.placement().accounts_of(0, 100)[0];
        let shared = Shared::new(cfg, &mut ledger, None);
        let mut producer = BlockProducer::new(ledger, None);
        assert!(
            producer.produce(&shared).unwrap().is_none(),
            "no empty blocks"
        );
        lock(&shared.mempool).extend((0..5).map(|n| transfer(n, from, from, n)));
        let b1 = producer.produce(&shared).unwrap().unwrap();
        let h1 = Header::try_from(b1.header.as_ref().unwrap()).unwrap();
        assert_eq!((h1.height, h1.tx_count, h1.prev_hash), (1, 3, Hash::ZERO));
        let b2 = producer.produce(&shared).unwrap().unwrap();
        let h2 = Header::try_from(b2.header.as_ref().unwrap()).unwrap();
        assert_eq!((h2.height, h2.tx_count, h2.prev_hash), (2, 2, h1.hash()));
        assert_eq!(lock(&shared.counters).committed, 5);
    }

    /// The block thread builds blocks on its own, answers a recount between two blocks
    /// with figures of one moment, and stops when told.
    #[test]
    fn the_block_thread_recounts_between_blocks_and_stops_when_told() {
        let cfg = config(0);
        let mut ledger = Shared::genesis(&cfg).unwrap();
        let from = ledger.placement().accounts_of(0, 100)[0];
        let shared = Arc::new(Shared::new(cfg, &mut ledger, None));
        let producer = BlockProducer::new(ledger, None);
        let wakes = shared.doorbell.take_receiver().unwrap();
        assert!(shared.doorbell.take_receiver().is_none(), "one thread only");
        let thread = std::thread::spawn({
            let shared = shared.clone();
            move || producer.run(&shared, wakes)
        });
        // As Submit hands them over: mempool and `admitted` under the mempool's lock.
        {
            let mut mempool = lock(&shared.mempool);
            mempool.extend((0..5).map(|n| transfer(n, from, from, n)));
            lock(&shared.counters).admitted += 5;
        }
        shared.doorbell.ring();
        let recount = loop {
            let r = shared.doorbell.recount().unwrap().blocking_recv().unwrap();
            if r.counters.entered == 5 {
                break r;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let c = &recount.counters;
        assert_eq!((c.committed, c.admitted, recount.waiting), (5, 5, 0));
        assert_eq!(c.recounted, c.balance_totals, "recounted from the ledger");
        shared.doorbell.stop();
        thread.join().unwrap().unwrap();
        assert!(
            shared.doorbell.recount().is_none(),
            "a stopped thread takes nothing"
        );
    }

    /// A subscriber that reads nothing slows the block loop by at most
    /// [`SLOW_SUBSCRIBER`] and then loses its stream; the others keep theirs.
    #[test]
    fn a_subscriber_that_stops_reading_is_dropped_not_waited_for_forever() {
        let cfg = config(0);
        let mut ledger = Shared::genesis(&cfg).unwrap();
        let from = ledger.placement().accounts_of(0, 100)[0];
        let shared = Shared::new(cfg, &mut ledger, None);
        let mut producer = BlockProducer::new(ledger, None);
        let (stuck, _never_read) = mpsc::channel(1);
        let (reader, mut read) = mpsc::channel(EVENTS_QUEUE);
        lock(&shared.subscribers).extend([stuck, reader]);
        lock(&shared.mempool).extend((0..9).map(|n| transfer(n, from, from, n)));
        producer.produce(&shared).unwrap().unwrap();
        let began = Instant::now();
        producer.produce(&shared).unwrap().unwrap();
        assert!(
            began.elapsed() >= SLOW_SUBSCRIBER,
            "waited for the slow reader"
        );
        assert_eq!(lock(&shared.subscribers).len(), 1, "then dropped it");
        assert_eq!(read.try_recv().unwrap().unwrap().height, 1);
        assert_eq!(read.try_recv().unwrap().unwrap().height, 2);
        let began = Instant::now();
        producer.produce(&shared).unwrap().unwrap();
        assert!(began.elapsed() < SLOW_SUBSCRIBER, "and waits no more");
    }

    #[test]
    fn resends_wait_longer_each_time_until_a_notarization() {
        let sub = |h: u64| pb::HeaderSubmission {
            acks: vec![pb::ChannelAck {
                src: 0,
                next_seq: h,
            }],
            ..Default::default()
        };
        let mut out = Outgoing::default();
        let t0 = Instant::now();
        out.push(1, sub(1));
        out.push(2, sub(2));
        assert_eq!(out.due(t0), (vec![sub(1), sub(2)], 0), "new: sent at once");
        assert_eq!(out.due(t0 + RETRANSMIT / 2).0.len(), 0, "not yet stale");
        out.push(3, sub(3));
        let (due, resent) = out.due(t0 + RETRANSMIT);
        assert_eq!((due.len(), resent), (3, 2), "stale: all of them, two again");
        // The next resend waits twice as long…
        let t1 = t0 + RETRANSMIT;
        assert!(out.due(t1 + RETRANSMIT).0.is_empty());
        assert_eq!(out.due(t1 + 2 * RETRANSMIT).1, 3);
        // …and so on up to the cap.
        let mut t = t1 + 2 * RETRANSMIT;
        for _ in 0..5 {
            t += MAX_RETRANSMIT;
            assert_eq!(out.due(t).1, 3, "at most MAX_RETRANSMIT apart");
        }
        // Progress starts the pace again.
        out.notarized(1);
        assert_eq!(out.due(t + RETRANSMIT).1, 2);
    }

    #[test]
    fn receipts_fill_the_block_first_and_wait_in_order() {
        let cfg = config(1); // max_block_txs = 3
        let mut ledger = Shared::genesis(&cfg).unwrap();
        let p = ledger.placement();
        let mine = p.accounts_of(1, 100);
        let shared = Shared::new(cfg, &mut ledger, None);
        let mut producer = BlockProducer::new(ledger, None);
        let now = Instant::now();
        lock(&shared.inbound)
            .queue
            .extend((0..5).map(|i| QueuedReceipt {
                src: 0,
                receipt: Receipt::credit(100 + i, mine[0], 1, 0),
                arrived: now,
                notarized: 0,
            }));
        lock(&shared.mempool).push_back(transfer(1, mine[1], mine[2], 0));
        let (tx, mut rx) = mpsc::channel(EVENTS_QUEUE);
        lock(&shared.subscribers).push(tx);

        producer.produce(&shared).unwrap().unwrap();
        let ev = rx.try_recv().unwrap().unwrap();
        assert_eq!(
            ev.receipts_applied,
            vec![100, 101, 102],
            "oldest first, block full"
        );
        assert!(ev.committed.is_empty(), "no room left for the transaction");
        assert_eq!(ev.delayed_receipts, 2);
        assert_eq!(lock(&shared.mempool).len(), 1);

        producer.produce(&shared).unwrap().unwrap();
        let ev = rx.try_recv().unwrap().unwrap();
        assert_eq!(ev.receipts_applied, vec![103, 104]);
        assert_eq!(ev.committed, vec![1], "the transaction takes the room left");
        assert_eq!((ev.delayed_receipts, ev.oldest_delayed_us), (0, 0));
        assert_eq!(lock(&shared.counters).inbound[0][0], (5, 5));
    }

    #[test]
    fn cross_shard_block_carries_a_provable_batch() {
        let cfg = config(0);
        let mut ledger = Shared::genesis(&cfg).unwrap();
        let p = ledger.placement();
        let from = p.accounts_of(0, 100)[0];
        let to = p.accounts_of(1, 100)[0];
        let shared = Shared::new(cfg, &mut ledger, None);
        let mut producer = BlockProducer::new(ledger, None);
        let mut tx = transfer(1, from, to, 0);
        tx.call = cross_shard::Call::Transfer {
            to,
            asset: 0,
            amount: 10,
        };
        lock(&shared.mempool).push_back(tx);
        let sub = producer.produce(&shared).unwrap().unwrap();
        let header = Header::try_from(sub.header.as_ref().unwrap()).unwrap();
        let batch = ReceiptBatch::try_from(&sub.batches[0]).unwrap();
        assert_eq!((batch.dst, batch.first_seq, batch.value_of(0)), (1, 0, 10));
        assert_eq!(header.receipts_root, receipt::receipts_root(0, 2, &[batch]));
        assert_eq!(lock(&shared.counters).outbound[0][1], (1, 10));
    }

    #[test]
    fn a_restarted_shard_replays_its_store_to_the_same_state_and_keeps_unnotarized_submissions() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(0);
        cfg.data_dir = Some(dir.path().to_path_buf());
        let open = |cfg: &ShardConfig| {
            let mut ledger = Shared::genesis(cfg).unwrap();
            let store = Log::open(&dir.path().join("shard.redb"), &cfg.identity()).unwrap();
            let shared = Shared::new(cfg.clone(), &mut ledger, Some(store));
            (shared, BlockProducer::new(ledger, None))
        };
        let (shared, mut producer) = open(&cfg);
        let p = producer.ledger.placement();
        let (from, to) = (p.accounts_of(0, 100)[0], p.accounts_of(1, 100)[0]);
        let mut cross = transfer(9, from, to, 3);
        cross.call = cross_shard::Call::Transfer {
            to,
            asset: 0,
            amount: 10,
        };
        lock(&shared.mempool).extend((0..3).map(|n| transfer(n, from, from, n)));
        lock(&shared.mempool).push_back(cross);
        let now = Instant::now();
        let receipt = |id| QueuedReceipt {
            src: 1,
            receipt: Receipt::credit(id, from, 5, 0),
            arrived: now,
            notarized: 0,
        };
        lock(&shared.inbound)
            .queue
            .extend([receipt(100), receipt(101)]);
        let mut submissions = Vec::new();
        while let Some(s) = producer.produce(&shared).unwrap() {
            submissions.push(s);
        }
        assert_eq!(producer.height, 2);
        let before = lock(&shared.counters).clone();
        drop(shared); // the "crash": the store closes with the process

        // "Crash": a fresh process on the same directory; the beacon notarized block 1.
        let (again, mut resumed) = open(&cfg);
        assert_eq!(resumed.recover(&again, 1).unwrap(), 2);
        assert_eq!(resumed.ledger.state_root(), producer.ledger.state_root());
        assert_eq!(
            (resumed.last_hash, resumed.out_seq.clone()),
            (producer.last_hash, producer.out_seq.clone())
        );
        let after = lock(&again.counters).clone();
        assert_eq!(
            (
                after.committed,
                after.sent_cross,
                after.inbound.clone(),
                after.outbound.clone()
            ),
            (
                before.committed,
                before.sent_cross,
                before.inbound.clone(),
                before.outbound.clone()
            )
        );
        assert_eq!(after.recovered_height, 2);
        let kept: Vec<_> = lock(&again.outgoing)
            .retained
            .iter()
            .map(|r| r.1.clone())
            .collect();
        assert_eq!(
            kept,
            submissions[1..],
            "block 2's submission, exactly as first sent"
        );
        // Receipts from shard 1 resume after the two applied.
        assert_eq!(lock(&again.inbound).channels.next_seq(1), 2);
        // The stored events are the ones published.
        let mut heights = Vec::new();
        again
            .store
            .as_ref()
            .unwrap()
            .try_for_each(EVENTS, 1, |h, e: pb::BlockEvents| {
                heights.push((h, e.height));
                Ok::<_, crate::Error>(())
            })
            .unwrap();
        assert_eq!(heights, vec![(2, 2)]);

        // The store is refused to a shard of another shape.
        drop(again);
        let mut other = cfg.clone();
        other.accounts = 200;
        let err = Log::open(&dir.path().join("shard.redb"), &other.identity()).unwrap_err();
        assert!(err.to_string().contains("belongs to"), "{err}");
    }

    proptest::proptest! {
        /// A damaged store — any bytes as a block record — is refused with an error,
        /// never a panic.
        #[test]
        fn arbitrary_stored_records_never_panic(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..400)) {
            let cfg = config(0);
            let mut ledger = Shared::genesis(&cfg).unwrap();
            let shared = Shared::new(cfg, &mut ledger, None);
            let mut producer = BlockProducer::new(ledger, None);
            if let Ok(record) = pb::BlockRecord::decode(bytes.as_slice()) {
                let _ = producer.replay(&shared, 1, &record);
            }
        }
    }
}
