//! The hand-off points between the async side (the gRPC handlers and the beacon
//! session) and the block thread: the mempool, the inbound queue, the counters that
//! `Status` serves, the open events streams, and the doorbell that wakes the thread.
//! Each is behind a short-held mutex; nothing here runs a block.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cross_shard::channel::InboundChannels;
use cross_shard::clock::Clock;
use cross_shard::signing::{SIGNATURE_LEN, Verdict};
use cross_shard::sync::lock;
use cross_shard::{Hash, Tx, TxId};
use rustc_hash::FxHashMap;
use shardsim_proto::pb;
use shardsim_proto::store::Log;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use crate::ShardConfig;
use crate::io::peers::PeerLinks;
use crate::io::sigverify::SigVerifier;
use crate::protocol::{Inbound, Outgoing};
use crate::state::Ledger;

/// The store's table of block inputs ([`pb::BlockRecord`]), by height.
pub const RECORDS: &str = "blocks";
/// The store's table of block events ([`pb::BlockEvents`]), by height.
pub const EVENTS: &str = "events";
/// A committee validator's table holding, at key 0, its [`pb::SignedState`].
pub const SIGNED: &str = "signed";
/// A committee validator's table of committed headers with their certificates
/// ([`pb::CertifiedHeader`]), by height.
pub const CERTIFIED: &str = "certified";
/// The store's table of snapshots ([`pb::Snapshot`], the latest only), by height.
pub const SNAPSHOTS: &str = "snapshots";
/// The certified header ([`pb::CertifiedHeader`]) of each stored snapshot's height.
pub const SNAPSHOT_HEADERS: &str = "snapshot_headers";

/// A stream of block events to one subscriber.
pub type EventSender = mpsc::Sender<Result<pb::BlockEvents, tonic::Status>>;

/// Blocks' events queued per subscriber. A reader this far behind is waited for up to
/// [`SLOW_SUBSCRIBER`] (backpressure on block production), then its stream is ended.
pub const EVENTS_QUEUE: usize = 1024;
/// How long the block loop waits for room in a full subscriber's queue before it
/// ends that subscription: a reader that stopped reading must not stop the shard.
pub const SLOW_SUBSCRIBER: Duration = Duration::from_secs(2);
/// Wake-ups queued for the block thread (room for a committee's consensus messages,
/// which are wake-ups too); more work wake-ups would say nothing new.
const DOORBELL_QUEUE: usize = 4096;

/// What wakes the block thread.
#[derive(Debug)]
pub enum Wake {
    /// Transactions, receipts or decisions arrived (an `asap` loop builds a block).
    Work,
    /// A `Status` asks for the state to be recounted between two blocks.
    Recount(oneshot::Sender<Recount>),
    /// A consensus message from validator `.0` of the committee (undecoded).
    Peer(u16, Box<pb::ConsensusMessage>),
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

    /// Hands a peer's consensus message to the block thread. Never waits: on a full
    /// queue the message is dropped (consensus sends again what matters).
    pub fn deliver(&self, from: u16, m: pb::ConsensusMessage) {
        let _ = self.tx.try_send(Wake::Peer(from, Box::new(m)));
    }

    /// Tells the block thread to stop after the block in hand. Never waits: a full
    /// queue means the thread wakes soon anyway.
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.ring();
    }

    /// Whether [`Doorbell::stop`] was called.
    pub fn stopped(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The thread's end; `None` once taken.
    pub fn take_receiver(&self) -> Option<Receiver<Wake>> {
        lock(&self.rx).take()
    }
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
    /// With a recount: the accounts the ledger holds, counted and hashed.
    pub holdings: Option<(u64, cross_shard::Hash)>,
}

/// State shared by the service handlers, the beacon link and the block loop.
///
/// **Lock order.** Where two of these locks are held at once, `mempool` is taken
/// first, then `counters`, `recent`, `signed` or `bad_signatures` (a Submit handing over a
/// batch, a recount, a validator's commit); no code holds one of those while taking
/// another lock.
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
    /// Faults injected on the link with the beacon, and a validator's links to its
    /// peers (`InjectFault`).
    pub link_faults: shardsim_host::netem::FaultHandle,
    /// A committee's validator: its links to the other validators.
    pub peers: Option<Arc<PeerLinks>>,
    /// A committee's validator: the transactions of its last committed blocks, which
    /// a late copy (from a client, after the block) must not bring back.
    pub recent: Mutex<RecentIds>,
    /// A committee's validator, with signatures: every transaction it admitted and
    /// has not yet seen committed (those refused for a bad signature too), as signed.
    /// Its proposals carry the signatures; a peer's proposal whose transaction is here
    /// as it is there needs no second check ([`crate::validator::inputs`]).
    pub signed: Mutex<FxHashMap<TxId, (Tx, [u8; SIGNATURE_LEN])>>,
    /// The state root at genesis (for `Status`: what an attaching driver checks).
    pub genesis_root: Hash,
    /// A committee's validator: its consensus figures for `Status`.
    pub consensus: Mutex<Option<pb::ConsensusStatus>>,
    /// Where the pipeline and the links read the time: the machine's clock in a shard
    /// process, the simulator's in a virtual run ([`cross_shard::clock`]).
    pub clock: Clock,
}

/// The ids of the last transactions committed: between [`RecentIds::GENERATION`] and
/// twice that many, in two generations — the older is dropped whole when the newer
/// fills, so forgetting costs nothing per id. And the calls handed back in this
/// placement epoch (their sender had moved away): a late copy of one is not new, but
/// once a later epoch has begun the same call may come back for good — its sender
/// moved back here — and is admitted.
#[derive(Debug, Default)]
pub struct RecentIds {
    newer: rustc_hash::FxHashSet<TxId>,
    older: rustc_hash::FxHashSet<TxId>,
    handed_back: rustc_hash::FxHashSet<TxId>,
    epoch: u32,
}

impl RecentIds {
    /// Ids per generation: at the quickstart's 12,500 tx/s per shard, a copy up to
    /// 40 s late is recognised; at a million tx/s over four shards, 2 s.
    pub const GENERATION: usize = 1 << 19;

    /// Remembers a committed block's transactions (`ids`), of which `moved` were
    /// handed back, the ledger being in placement epoch `epoch` after it.
    pub fn push(&mut self, ids: &[TxId], moved: &[TxId], epoch: u32) {
        if epoch != self.epoch {
            self.handed_back.clear();
            self.epoch = epoch;
        }
        if moved.is_empty() {
            self.newer.extend(ids.iter().copied());
        } else {
            let moved: rustc_hash::FxHashSet<TxId> = moved.iter().copied().collect();
            self.newer
                .extend(ids.iter().copied().filter(|id| !moved.contains(id)));
            self.handed_back.extend(moved);
        }
        if self.newer.len() >= Self::GENERATION {
            self.older = std::mem::take(&mut self.newer);
        }
    }

    /// Every id remembered, sorted, and of those the calls handed back in this epoch,
    /// sorted: what a snapshot keeps of this filter.
    pub fn ids(&self) -> (Vec<TxId>, Vec<TxId>) {
        let mut ids: Vec<TxId> = self.newer.union(&self.older).copied().collect();
        let mut back: Vec<TxId> = self.handed_back.iter().copied().collect();
        ids.sort_unstable();
        back.sort_unstable();
        (ids, back)
    }

    /// The filter a snapshot kept ([`RecentIds::ids`]), in placement epoch `epoch`.
    pub fn restored(ids: &[TxId], handed_back: &[TxId], epoch: u32) -> RecentIds {
        RecentIds {
            newer: ids.iter().copied().collect(),
            older: Default::default(),
            handed_back: handed_back.iter().copied().collect(),
            epoch,
        }
    }

    /// Whether `id` is among the remembered.
    pub fn contains(&self, id: TxId) -> bool {
        self.newer.contains(&id) || self.older.contains(&id) || self.handed_back.contains(&id)
    }
}

/// A batch's transactions after the signature check (if the cluster signs), ready
/// for [`Shared::admit`].
#[derive(Debug, Default)]
pub struct Admission {
    /// Those that may enter the mempool.
    pub admitted: Vec<Tx>,
    /// The ids of those with a bad signature, to be reported rejected by the next block.
    pub bad: Vec<TxId>,
    /// A committee's validator: all of them with their signatures.
    pub signed: Vec<(Tx, [u8; SIGNATURE_LEN])>,
}

impl Admission {
    /// A checked batch: `txs` with their signatures `sigs` and the check's
    /// `verdicts`; `keep_signed` for a committee's validator, which proposes with them.
    pub fn checked(
        txs: Vec<Tx>,
        sigs: Vec<[u8; SIGNATURE_LEN]>,
        verdicts: &[Verdict],
        keep_signed: bool,
    ) -> Admission {
        let mut admitted = Vec::with_capacity(txs.len());
        let mut bad = Vec::new();
        for (tx, verdict) in txs.iter().zip(verdicts) {
            match verdict {
                Verdict::Invalid => bad.push(tx.id),
                // An unknown sender is the executor's to reject (wrong shard, unknown account).
                Verdict::Valid | Verdict::UnknownSender => admitted.push(*tx),
            }
        }
        let signed = if keep_signed {
            txs.into_iter().zip(sigs).collect()
        } else {
            Vec::new()
        };
        Admission {
            admitted,
            bad,
            signed,
        }
    }
}

impl Shared {
    /// What this shard was started as, for `Status`.
    pub fn genesis_facts(&self) -> pb::Genesis {
        let c = &self.config;
        pb::Genesis {
            shards: c.shards,
            accounts: c.accounts,
            initial_balance: c.initial_balance,
            tokens: c.tokens,
            pools: c.pools,
            collections: c.collections,
            proposals: c.proposals,
            vm: match c.vm {
                crate::Vm::Native => "native",
                crate::Vm::Evm => "evm",
            }
            .into(),
            two_phase_deadline: c.two_phase,
            signatures: c.signatures,
            validators: c.committee.as_ref().map_or(1, |k| k.committee.len() as u32),
            state_root: self.genesis_root.0.to_vec(),
        }
    }

    /// Hands a batch to the block pipeline: its transactions into the mempool, its bad
    /// signatures to the next block's rejections. The caller holds one [`Shared::space`]
    /// permit per admitted transaction (given back here for the copies a committee
    /// already committed). What the Submit handler does, and what a simulated client's
    /// batch does on arrival. `batch` is left empty, its buffers for the next one.
    pub fn admit(&self, batch: &mut Admission) {
        let Admission {
            admitted: txs,
            bad,
            signed,
        } = batch;
        // Counted where they are handed over, under the mempool's lock (which a
        // recount takes first): an admission is in both figures or in neither.
        let mut mempool = lock(&self.mempool);
        let read = (txs.len() + bad.len()) as u64;
        if self.peers.is_some() {
            // A committee's client sends to every validator; a copy that reaches
            // this one after a block holding it was committed here is not new. Under
            // the mempool's lock, as the commit that records those blocks: a copy is
            // either seen as committed here or removed by the commit.
            let recent = lock(&self.recent);
            let queued = txs.len();
            txs.retain(|t| !recent.contains(t.id));
            bad.retain(|id| !recent.contains(*id));
            signed.retain(|(t, _)| !recent.contains(t.id));
            drop(recent);
            self.space.add_permits(queued - txs.len());
            lock(&self.signed).extend(signed.drain(..).map(|(t, s)| (t.id, (t, s))));
        }
        // Every row read counts, a late copy too: its block entered it here.
        lock(&self.counters).admitted += read;
        mempool.extend(txs.drain(..));
        lock(&self.bad_signatures).extend(bad.drain(..));
        drop(mempool);
        self.doorbell.ring();
    }

    /// The `Status` answer from counters `c` (recounted or not) and `mempool_len`
    /// transactions waiting.
    pub fn status(&self, c: Counters, mempool_len: u64) -> pb::ShardStatus {
        let (inbound_queued, deliveries_rejected, duplicates_ignored, out_of_order) = {
            let i = lock(&self.inbound);
            (
                i.queue.len() as u64,
                i.rejected,
                i.duplicates,
                i.out_of_order,
            )
        };
        let channels = |v: &[(u64, u64)]| {
            v.iter()
                .enumerate()
                .filter(|&(peer, _)| peer as u32 != self.config.shard)
                .map(|(peer, &(receipts, value))| pb::ChannelCounters {
                    peer: peer as u32,
                    receipts,
                    value,
                })
                .collect()
        };
        pb::ShardStatus {
            shard: self.config.shard,
            height: c.height,
            state_root: c.state_root.0.to_vec(),
            mempool_len,
            committed: c.committed,
            sent_cross: c.sent_cross,
            rejected: c.rejected,
            balance_total: c.balance_totals[0],
            outbound: channels(&c.outbound[0]),
            inbound: channels(&c.inbound[0]),
            inbound_queued,
            deliveries_rejected,
            duplicates_ignored,
            genesis_balance_total: c.genesis_balance_totals[0],
            tokens: (1..c.balance_totals.len())
                .map(|asset| pb::AssetTotals {
                    asset: asset as u32,
                    balance_total: c.balance_totals[asset],
                    outbound: channels(&c.outbound[asset]),
                    inbound: channels(&c.inbound[asset]),
                    locked: c.locked[asset],
                    balance_recount: c.recounted.get(asset).copied(),
                })
                .collect(),
            locked: c.locked[0],
            tp_open: c.tp_open,
            decisions_refused: c.decisions_refused,
            recovered_height: c.recovered_height,
            link_retries: c.link_retries,
            headers_retransmitted: c.headers_retransmitted,
            deliveries_out_of_order: out_of_order,
            balance_recount: c.recounted.first().copied(),
            admitted: c.admitted,
            entered: c.entered,
            consensus: lock(&self.consensus).clone(),
            genesis: Some(self.genesis_facts()),
            accounts_held: c.holdings.map(|h| h.0),
            accounts_digest: c.holdings.map_or(Vec::new(), |h| h.1.0.to_vec()),
        }
    }

    /// The same shared state on another clock (a simulator's).
    pub fn on_clock(self, clock: Clock) -> Shared {
        Shared { clock, ..self }
    }

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
                epochs: Default::default(),
                epoch_read: 0,
                to_lose: config.lose_receipts,
                proofs: vec![VecDeque::new(); shards],
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
            peers: config
                .committee
                .as_ref()
                .map(|c| Arc::new(PeerLinks::new(c.me, c.committee.len()))),
            recent: Mutex::new(RecentIds::default()),
            signed: Mutex::new(FxHashMap::default()),
            genesis_root: genesis.state_root(),
            consensus: Mutex::new(None),
            clock: Clock::real(),
            config,
        }
    }

    /// The genesis ledger this configuration describes.
    pub fn genesis(config: &ShardConfig) -> Option<Ledger> {
        Some(Ledger::genesis(config.world()?, config.initial_balance))
    }

    /// The state root at genesis of shard `shard` of a cluster of these `facts` — the
    /// root its validators report ([`Shared::genesis_facts`]), which a driver attaching
    /// to a running cluster computes to compare. `None` with no shards.
    pub fn genesis_root_of(facts: &pb::Genesis, shard: u32) -> Option<Hash> {
        let world = crate::state::World {
            shard,
            placement: cross_shard::Placement::new(facts.shards)?,
            accounts: facts.accounts,
            tokens: facts.tokens,
            pools: facts.pools,
            collections: facts.collections,
            proposals: facts.proposals,
            pool_reserve: cross_shard::amm::POOL_RESERVE,
        };
        Some(Ledger::genesis(world, facts.initial_balance).state_root())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_genesis_a_shard_reports_is_the_one_its_facts_make() {
        for shard in 0..2 {
            let config = ShardConfig {
                tokens: 2,
                pools: 1,
                collections: 3,
                ..ShardConfig::for_tests(shard)
            };
            let mut ledger = Shared::genesis(&config).unwrap();
            let facts = Shared::new(config, &mut ledger, None).genesis_facts();
            let root = Shared::genesis_root_of(&facts, shard).unwrap();
            assert_eq!(facts.state_root, root.0.to_vec(), "shard {shard}");
            let other = pb::Genesis {
                initial_balance: facts.initial_balance + 1,
                ..facts.clone()
            };
            assert_ne!(Shared::genesis_root_of(&other, shard), Some(root));
        }
    }

    /// A call handed back is a late copy only within its epoch: when its sender comes
    /// back in a later one, the driver sends it here again, and it must be admitted.
    #[test]
    fn a_handed_back_call_is_new_again_in_a_later_epoch() {
        let mut r = RecentIds::default();
        r.push(&[1, 2, 3], &[2], 1);
        assert!(r.contains(1) && r.contains(2) && r.contains(3));
        r.push(&[4], &[], 1);
        assert!(r.contains(2), "the same epoch: a late copy");
        r.push(&[5], &[], 2);
        assert!(!r.contains(2), "a later epoch: sent again for good");
        assert!(r.contains(1) && r.contains(3), "committed ones stay");
    }
}
