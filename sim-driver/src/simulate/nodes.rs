//! The simulated nodes: a shard process and the beacon, each the real protocol code
//! ([`BlockProducer`] with its [`Shared`] hand-off points; the beacon's [`Chain`])
//! wrapped with what the process around it did — the Submit stream, the beacon link,
//! the block loop's ticks — and a CPU that is busy for what the cost model charges.
//!
//! ```text
//!   ShardNode                                     BeaconNode
//!   Submit batch ──► stream (waits for room) ──┐   header ──► Chain::accept
//!                    signatures checked ───────┤   tick   ──► Chain::notarize ──► block,
//!                    Shared::admit ──► mempool │                    deliveries, tips
//!   tick ──► BlockProducer::produce ──► header + events, released when the CPU is done
//!   beacon message ──► beacon_session::take ──► inbound queue, decisions, epochs
//! ```

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use beacon::chain::Chain;
use cross_shard::Tx;
use cross_shard::clock::Clock;
use cross_shard::signing::SIGNATURE_LEN;
use cross_shard::sync::lock;
use shard_node::block::BlockProducer;
use shard_node::block::events::Work;
use shard_node::io::{Admission, Shared, Wake};
use shard_node::validator::Core;
use shard_node::validator::sync::Synced;
use shard_node::{Error as ShardError, ShardConfig};
use shardsim_proto::convert::{signatures_from_wire, txs_from_wire};
use shardsim_proto::pb;
use tokio::sync::mpsc;

use super::cost::{self, CostModel};

/// How a shard process makes its blocks.
pub enum Role {
    /// Alone: its block loop ticks and produces.
    Alone(Box<BlockProducer>),
    /// One validator of a committee: consensus turns, on messages and deadlines.
    Member(Box<Core>),
}

/// What one turn of a validator did.
pub struct Turn {
    /// The blocks it executed, to charge its CPU for.
    pub work: Work,
    /// Consensus messages for its peers: (validator index, message).
    pub messages: Vec<(u16, pb::ConsensusMessage)>,
    /// The events of the blocks it committed.
    pub events: Vec<pb::BlockEvents>,
}

/// A shard process: its pipeline, its hand-off points, and its CPU.
pub struct ShardNode {
    /// The hand-off points the process's tasks share (mempool, inbound queue, counters).
    pub shared: Arc<Shared>,
    /// Its block pipeline, alone or under consensus.
    pub role: Role,
    /// Its events subscription, read after every block.
    events: mpsc::Receiver<Result<pb::BlockEvents, tonic::Status>>,
    /// When its CPU is next free.
    pub busy_until: Duration,
    /// When the block loop's next tick is due (interval mode).
    pub next_tick: Duration,
    /// An `asap` tick is scheduled.
    pub tick_pending: bool,
    /// A validator: the earliest turn scheduled without a wake-up (`Duration::MAX`: none).
    pub timer: Duration,
    /// Header submissions due but not yet sent: the beacon link's window is full.
    pub pump: VecDeque<pb::HeaderSubmission>,
    /// Header submissions sent and not yet taken by the beacon.
    pub headers_in_flight: usize,
    /// Batches read off the Submit stream's wire but not yet admitted: the handler waits
    /// for mempool room, in order, and reads nothing more meanwhile.
    pub stream: VecDeque<pb::TxBatch>,
    /// Transactions in `stream`.
    pub stream_txs: u64,
    /// Transactions the driver sent on the Submit stream.
    pub sent: u64,
    /// Transactions the handler read off it.
    pub accepted: u64,
    /// How its blocks are charged.
    pub cost: cost::Node,
    /// Why it stopped, if it did (a fatal error of its block loop).
    pub stopped: Option<String>,
    /// `virtual.crypto = "modelled"`: every transaction admitted is charged a
    /// signature check that is not made.
    pub modelled_signatures: bool,
}

impl ShardNode {
    /// A node from `config` at genesis, on the simulator's `clock`.
    pub fn new(config: ShardConfig, clock: Clock, cost: cost::Node) -> anyhow::Result<ShardNode> {
        config.validate()?;
        let mut ledger = Shared::genesis(&config)
            .ok_or_else(|| anyhow::anyhow!("shard {}: no shards", config.shard))?;
        let shared = Arc::new(Shared::new(config, &mut ledger, None).on_clock(clock));
        let producer = BlockProducer::new(ledger, &shared.config)?;
        let (tx, events) = mpsc::channel(shard_node::io::EVENTS_QUEUE);
        lock(&shared.subscribers).push(tx);
        let role = match shared.config.committee.clone() {
            Some(committee) => Role::Member(Box::new(Core::start(
                producer,
                shared.clone(),
                &committee,
                Synced::default(),
            )?)),
            None => Role::Alone(Box::new(producer)),
        };
        Ok(ShardNode {
            shared,
            role,
            events,
            busy_until: Duration::ZERO,
            next_tick: Duration::ZERO,
            tick_pending: false,
            timer: Duration::MAX,
            pump: VecDeque::new(),
            headers_in_flight: 0,
            stream: VecDeque::new(),
            stream_txs: 0,
            sent: 0,
            accepted: 0,
            cost,
            stopped: None,
            modelled_signatures: false,
        })
    }

    /// The next batch on the stream, read and checked, if the mempool has room for it
    /// (its permits are taken); `None` when the stream is empty or the room is not
    /// there yet. The CPU time it took is returned with it. A batch the process would
    /// refuse ends the stream: the error names it.
    pub fn read_batch(
        &mut self,
        model: &CostModel,
    ) -> Option<Result<(Admission, Duration), String>> {
        // Room first, by the batch's rows (a transaction each): a batch that waits for
        // it is decoded once, when it goes in.
        let rows = self.stream.front()?.id.len();
        if rows > 0 {
            let permit = self.shared.space.try_acquire_many(rows as u32).ok()?;
            permit.forget();
        }
        let batch = self.stream.pop_front()?;
        let mut txs: Vec<Tx> = Vec::with_capacity(rows);
        if let Err(e) = txs_from_wire(&batch, &mut txs) {
            self.shared.space.add_permits(rows);
            return Some(Err(format!("a Submit batch was refused: {e}")));
        }
        self.stream_txs -= rows as u64;
        self.accepted += rows as u64;
        let mut took = model.message(prost::Message::encoded_len(&batch));
        let admission = match &self.shared.verifier {
            Some(verifier) => {
                let mut sigs: Vec<[u8; SIGNATURE_LEN]> = Vec::new();
                if let Err(e) = signatures_from_wire(&batch, &mut sigs) {
                    return Some(Err(format!("a Submit batch was refused: {e}")));
                }
                let verdicts = verifier.verify(&txs, &sigs);
                took += model.signatures(sigs.len(), self.cost.threads);
                Admission::checked(txs, sigs, &verdicts, self.shared.peers.is_some())
            }
            None => {
                if self.modelled_signatures {
                    took += model.signatures(txs.len(), self.cost.threads);
                }
                Admission {
                    admitted: txs,
                    ..Admission::default()
                }
            }
        };
        Some(Ok((admission, took)))
    }

    /// One turn of the block loop at the clock's time: a block if there is work, with
    /// its events; `Err` when the loop stops (the executors disagreed).
    pub fn produce(
        &mut self,
    ) -> Result<Option<(pb::HeaderSubmission, pb::BlockEvents)>, ShardError> {
        let Role::Alone(producer) = &mut self.role else {
            return Err(ShardError::Config(
                "a validator has no block loop of its own".into(),
            ));
        };
        let Some(submission) = producer.produce(&self.shared)? else {
            return Ok(None);
        };
        let events = match self.events.try_recv() {
            Ok(Ok(events)) => events,
            // Every block publishes its events to this subscriber, whose queue is read
            // after each block: never full, never closed.
            _ => {
                return Err(ShardError::Config(
                    "a block's events were not published".into(),
                ));
            }
        };
        Ok(Some((submission, events)))
    }

    /// One turn of a validator at the clock's time (see [`Core::turn`]); `Err` when it
    /// stops.
    pub fn turn(&mut self, wake: Option<Wake>) -> Result<Turn, ShardError> {
        let Role::Member(core) = &mut self.role else {
            return Err(ShardError::Config("a shard alone has no consensus".into()));
        };
        let before = core.app.work;
        core.turn(wake)?;
        let work = core.app.work.since(&before);
        let mut events = Vec::new();
        while let Ok(Ok(e)) = self.events.try_recv() {
            events.push(e);
        }
        let mut messages = Vec::new();
        if let Some(links) = &self.shared.peers {
            let n = self
                .shared
                .config
                .committee
                .as_ref()
                .map_or(0, |c| c.committee.len());
            for peer in 0..n as u16 {
                messages.extend(links.take_queued(peer).into_iter().map(|m| (peer, m)));
            }
        }
        Ok(Turn {
            work,
            messages,
            events,
        })
    }

    /// A validator: when its next turn is due without a wake-up.
    pub fn next_turn(&self) -> Option<Duration> {
        match &self.role {
            Role::Member(core) => Some(core.next_turn()),
            Role::Alone(_) => None,
        }
    }

    /// The header submissions due on the beacon link now (new ones, or all of them
    /// again when the oldest waited too long), as the link's pump sends them.
    pub fn due(&self) -> Vec<pb::HeaderSubmission> {
        let (due, resent) = lock(&self.shared.outgoing).due(self.shared.clock.now());
        if resent > 0 {
            lock(&self.shared.counters).headers_retransmitted += resent;
        }
        due
    }

    /// The Status answer with a recount, as the driver asks at the end.
    pub fn status(&mut self) -> pb::ShardStatus {
        let r = match &mut self.role {
            Role::Alone(producer) => producer.recount(&self.shared),
            Role::Member(core) => core.recount(),
        };
        self.shared.status(r.counters, r.waiting)
    }

    /// Whether nothing waits here: no transaction, no receipt, no batch on the stream.
    pub fn idle(&self) -> bool {
        self.stream.is_empty()
            && lock(&self.shared.mempool).is_empty()
            && lock(&self.shared.bad_signatures).is_empty()
            && lock(&self.shared.inbound).queue.is_empty()
    }
}

/// The beacon: its chain and its CPU.
pub struct BeaconNode {
    /// The chain, as the service holds it (its Status answer included).
    pub state: beacon::service::State,
    /// When its CPU is next free.
    pub busy_until: Duration,
    /// When its next notarization is due.
    pub next_tick: Duration,
}

impl BeaconNode {
    /// A beacon over these committees, coordinating two-phase commit with `two_phase`,
    /// started at `start`.
    pub fn new(
        committees: Vec<consensus::Committee>,
        two_phase: Option<u64>,
        start: Duration,
    ) -> BeaconNode {
        let shards = committees.len();
        BeaconNode {
            state: beacon::service::State {
                chain: Chain::new(committees, two_phase),
                subscribers: vec![Vec::new(); shards],
                recovered_height: 0,
            },
            busy_until: Duration::ZERO,
            next_tick: start,
        }
    }
}
