//! The simulated cluster and its driver on one clock: the event loop.
//!
//! ```text
//!  queue.pop() ─► (t, event) ─► clock.set(t) ─► handle:
//!    Load          the generator's round (schedule, source) ─► batches on the network
//!    Arrive(n, m)  a message reaches node n: a batch waits on the Submit stream, a
//!                  header or a beacon message waits for its node's CPU
//!    Admit         a checked batch enters the mempool              (Shared::admit)
//!    Tick          a shard's block loop turns                      (BlockProducer::produce)
//!    BlockDone     the block's CPU time is over: header ─► beacon, events ─► driver
//!    Take          a shard takes a beacon message                  (beacon_session::take)
//!    Accept        the beacon takes a header                       (Chain::accept)
//!    BeaconTick    the beacon notarizes                            (Chain::notarize)
//!    BeaconDone    its block, deliveries and tips go out
//!    Sample        the driver's bookkeeping every 250 ms, and whether the run is over
//! ```
//!
//! Every node's CPU is a timeline (`busy_until`): work that arrives while it is busy
//! starts when it is free, and takes what the cost model charges.

use std::sync::Arc;
use std::time::Duration;

use cross_shard::clock::Clock;
use cross_shard::sync::lock;
use shard_node::io::beacon_session::{self, HEADER_QUEUE};
use shardsim_proto::pb;

use super::cost::CostModel;
use super::network::{Network, Node};
use super::nodes::{BeaconNode, Role, ShardNode};
use super::queue::EventQueue;
use crate::load::generator::{MAX_CHUNK, TICK, TICK_CAP, fill_round};
use crate::load::schedule::Schedule;
use crate::load::workload::Source;
use crate::measure::tracker::Tracker;
use beacon::chain::Outcome;
use shard_node::block::events::Work;
use shard_node::io::{Admission, Wake};

/// How often the driver samples its figures and looks whether the run is over.
pub const SAMPLE: Duration = Duration::from_millis(250);

/// What happens next.
pub enum Event {
    /// The generator's next round.
    Load,
    /// A message (of so many bytes on the wire) reaches a node.
    Arrive(Node, Msg, usize),
    /// A shard's CPU has checked a batch: it enters the mempool.
    Admit(u32, Box<Admission>),
    /// A shard's block loop turns.
    Tick(u32),
    /// A validator turns: on a wake-up (a peer's message, work), or on its deadline.
    Turn(u32, Option<Wake>),
    /// A shard's CPU has finished a block: its header and events go out.
    BlockDone(u32, Box<pb::HeaderSubmission>, Box<pb::BlockEvents>),
    /// A shard's CPU takes a message from the beacon.
    Take(u32, Arc<pb::Inbound>),
    /// The beacon's CPU takes a header from shard process `.0`.
    Accept(u32, Box<pb::HeaderSubmission>),
    /// The beacon's notarization is due.
    BeaconTick,
    /// The beacon's CPU has made its block (if any): it and the tips go out.
    BeaconDone(Option<Box<beacon::chain::Notarized>>),
    /// The driver samples its figures and looks whether the run is over.
    Sample,
}

/// A message on the simulated network.
pub enum Msg {
    /// Transactions, driver → shard (Submit).
    Batch(Box<pb::TxBatch>),
    /// A header with its receipts, from shard process `.0` to the beacon (SubmitHeaders).
    Header(u32, Box<pb::HeaderSubmission>),
    /// A beacon block, delivery or tip, beacon → shard (Subscribe); shared by the
    /// copies sent to many subscribers.
    Inbound(Arc<pb::Inbound>),
    /// A block's events, shard → driver (Events).
    Events(Box<pb::BlockEvents>),
    /// A consensus message from validator `.0` of the same committee (Consensus).
    Consensus(u16, Box<pb::ConsensusMessage>),
}

/// The load as the generator drives it.
pub struct Load {
    /// The transactions.
    pub source: Source,
    /// When each is due (`None`: `rate = "max"`).
    pub schedule: Option<Schedule>,
    /// The load ends at this time since start.
    pub end: Duration,
    /// The last round was sent (or the load was stopped).
    pub done: bool,
    /// Per shard process (slot), transactions on the wire to it.
    pub on_wire: Vec<u64>,
}

/// Everything a virtual run holds.
pub struct World {
    /// The clock every node reads.
    pub clock: Clock,
    /// What happens next.
    pub queue: EventQueue<Event>,
    /// The links' delays.
    pub net: Network,
    /// The CPU costs.
    pub model: CostModel,
    /// The shard processes, by slot.
    pub shards: Vec<ShardNode>,
    /// The beacon.
    pub beacon: BeaconNode,
    /// Validators per shard (slot = shard · validators + validator).
    pub validators: u32,
    /// `cluster.block_interval` (`None`: asap).
    pub block_interval: Option<Duration>,
    /// `cluster.beacon_interval`.
    pub beacon_interval: Duration,
    /// The load.
    pub load: Load,
    /// The driver's per-transaction tracking.
    pub tracker: Tracker,
    /// Why the run cannot finish, one line each.
    pub failures: Vec<String>,
}

impl World {
    /// Starts the clocks: the first load round, every block loop's and the beacon's
    /// first tick, the first sample.
    pub fn start(&mut self) {
        self.queue.at(Duration::ZERO, Event::Load);
        for (s, node) in self.shards.iter_mut().enumerate() {
            match (node.next_turn(), self.block_interval) {
                (Some(at), _) => {
                    node.timer = at;
                    self.queue.at(at, Event::Turn(s as u32, None));
                }
                (None, Some(interval)) => {
                    // The loop's first tick: one interval after the process started.
                    node.next_tick += interval;
                    self.queue.at(node.next_tick, Event::Tick(s as u32));
                }
                (None, None) => {}
            }
        }
        self.beacon.next_tick += self.beacon_interval;
        self.queue.at(self.beacon.next_tick, Event::BeaconTick);
        self.queue.at(SAMPLE, Event::Sample);
    }

    /// Takes the next event; `None` when none is left.
    pub fn step(&mut self) -> Option<Event> {
        let (at, event) = self.queue.pop()?;
        self.clock.set(at);
        Some(event)
    }

    fn now(&self) -> Duration {
        self.queue.now()
    }

    fn send(&mut self, from: Node, to: Node, msg: Msg) {
        self.send_at(self.now(), from, to, msg);
    }

    /// Sends `msg` at `at` (when the sender's CPU has made it).
    fn send_at(&mut self, at: Duration, from: Node, to: Node, msg: Msg) {
        let bytes = match &msg {
            Msg::Batch(b) => prost::Message::encoded_len(b.as_ref()),
            Msg::Header(_, h) => prost::Message::encoded_len(h.as_ref()),
            Msg::Inbound(m) => prost::Message::encoded_len(m.as_ref()),
            Msg::Events(e) => prost::Message::encoded_len(e.as_ref()),
            Msg::Consensus(_, m) => prost::Message::encoded_len(m.as_ref()),
        };
        self.send_sized(at, from, to, msg, bytes);
    }

    /// Sends `msg`, `bytes` long: the sender's CPU encodes it when it is free (the
    /// driver's is not simulated), then the network carries it.
    fn send_sized(&mut self, at: Duration, from: Node, to: Node, msg: Msg, bytes: usize) {
        let took = self.model.message(bytes);
        let leaves = match from {
            Node::Driver => at,
            Node::Beacon => Self::charge(at, &mut self.beacon.busy_until, took),
            Node::Shard(s) => Self::charge(at, &mut self.shards[s as usize].busy_until, took),
        };
        let arrives = self.net.send(leaves, from, to, bytes);
        self.queue.at(arrives, Event::Arrive(to, msg, bytes));
    }

    /// Sends one beacon message to each of `to`, encoded once per subscriber.
    fn broadcast(&mut self, to: std::ops::Range<u32>, msg: pb::Inbound) {
        let bytes = prost::Message::encoded_len(&msg);
        let msg = Arc::new(msg);
        let now = self.now();
        for s in to {
            self.send_sized(
                now,
                Node::Beacon,
                Node::Shard(s),
                Msg::Inbound(msg.clone()),
                bytes,
            );
        }
    }

    /// Work `took` on a CPU free from `busy`: when it is done.
    fn charge(now: Duration, busy: &mut Duration, took: Duration) -> Duration {
        *busy = (*busy).max(now) + took;
        *busy
    }

    /// Handles every event but `Sample` (the driver's, see `run`).
    pub fn handle(&mut self, event: Event) {
        let now = self.now();
        match event {
            Event::Load => self.load_round(),
            Event::Arrive(to, msg, bytes) => self.arrive(to, msg, bytes),
            Event::Admit(s, mut admission) => {
                self.shards[s as usize].shared.admit(&mut admission);
                self.work_arrived(s);
            }
            Event::Tick(s) => self.tick(s),
            Event::Turn(s, wake) => self.turn(s, wake),
            Event::BlockDone(s, submission, events) => {
                let node = &self.shards[s as usize];
                lock(&node.shared.outgoing).push(events.height, *submission);
                self.pump_headers(s, now);
                self.send(Node::Shard(s), Node::Driver, Msg::Events(events));
            }
            Event::Take(s, msg) => {
                let node = &self.shards[s as usize];
                if let Some(lost) = beacon_session::take(&node.shared, &msg) {
                    // The simulated links lose nothing: a gap is a bug, not a fault.
                    self.failures.push(format!(
                        "shard-{s}: {lost} lost on a simulated link that drops nothing"
                    ));
                }
                self.work_arrived(s);
            }
            Event::Accept(s, submission) => {
                // The link's window has room again: the shard's pump sends on.
                self.shards[s as usize].headers_in_flight -= 1;
                self.pump_headers(s, now);
                // A refused header is counted by the chain (headers_rejected). A copy
                // it has already (another validator's) is known by its height before
                // any check; the others cost the checks, their certificate's
                // signatures first.
                let outcome = self.beacon.state.chain.accept(&submission);
                if !matches!(outcome, Ok((_, Outcome::Duplicate | Outcome::OutOfOrder))) {
                    let signatures = submission.cert.as_ref().map_or(0, |c| c.signatures.len());
                    let shards = self.beacon.state.chain.shards();
                    let batches = submission.leaf_dsts.len();
                    let took = self.model.header(signatures, batches, shards);
                    Self::charge(now, &mut self.beacon.busy_until, took);
                }
            }
            Event::BeaconTick => {
                let b = &mut self.beacon;
                if now < b.busy_until {
                    self.queue.at(b.busy_until, Event::BeaconTick);
                    return;
                }
                b.next_tick = b.next_tick.max(now) + self.beacon_interval;
                self.queue.at(b.next_tick, Event::BeaconTick);
                let notarized = b.state.chain.notarize();
                let took = match &notarized {
                    Some(n) => self.model.beacon_block(n.delivery_count()),
                    None => Duration::ZERO,
                };
                let done = Self::charge(now, &mut b.busy_until, took);
                self.queue
                    .at(done, Event::BeaconDone(notarized.map(Box::new)));
            }
            Event::BeaconDone(notarized) => {
                // Every validator of a shard subscribes, and gets every message: its
                // shard's view of the block and its deliveries, then the tips.
                let slots = self.shards.len() as u32;
                let n = self.validators;
                if let Some(notarized) = notarized {
                    for (dst, messages) in notarized.into_messages(slots / n) {
                        for m in messages {
                            self.broadcast(dst * n..(dst + 1) * n, m);
                        }
                    }
                }
                for k in 0..slots / n {
                    let tip = pb::Inbound {
                        kind: Some(pb::inbound::Kind::Tip(self.beacon.state.chain.tip(k))),
                    };
                    self.broadcast(k * n..(k + 1) * n, tip);
                }
            }
            Event::Sample => unreachable!("the run loop handles samples"),
        }
    }

    /// A message reaches its node.
    fn arrive(&mut self, to: Node, msg: Msg, bytes: usize) {
        let now = self.now();
        match (to, msg) {
            (Node::Shard(s), Msg::Batch(batch)) => {
                let rows = batch.id.len() as u64;
                self.load.on_wire[s as usize] -= rows;
                let node = &mut self.shards[s as usize];
                node.stream_txs += rows;
                node.stream.push_back(*batch);
                self.read_stream(s);
            }
            (Node::Shard(s), Msg::Inbound(m)) => {
                let took = self.model.message(bytes);
                let node = &mut self.shards[s as usize];
                let done = Self::charge(now, &mut node.busy_until, took);
                self.queue.at(done, Event::Take(s, m));
            }
            (Node::Beacon, Msg::Header(s, h)) => {
                let took = self.model.message(bytes);
                let done = Self::charge(now, &mut self.beacon.busy_until, took);
                self.queue.at(done, Event::Accept(s, h));
            }
            (Node::Shard(s), Msg::Consensus(from, m)) => {
                let took = self.model.message(bytes);
                let node = &mut self.shards[s as usize];
                let done = Self::charge(now, &mut node.busy_until, took);
                self.queue
                    .at(done, Event::Turn(s, Some(Wake::Peer(from, m))));
            }
            (Node::Driver, Msg::Events(events)) => {
                self.tracker.events(now.as_nanos() as u64, &events);
            }
            (to, _) => self.failures.push(format!("a message no {to:?} takes")),
        }
    }

    /// The Submit handler reads what the mempool has room for, in order.
    fn read_stream(&mut self, s: u32) {
        let now = self.now();
        loop {
            let node = &mut self.shards[s as usize];
            match node.read_batch(&self.model) {
                None => return,
                Some(Err(why)) => {
                    self.failures.push(format!("shard-{s}: {why}"));
                    node.stream.clear();
                    node.stream_txs = 0;
                    return;
                }
                Some(Ok((admission, took))) => {
                    let done = Self::charge(now, &mut node.busy_until, took);
                    self.queue.at(done, Event::Admit(s, Box::new(admission)));
                }
            }
        }
    }

    /// Work arrived at shard process `s`: a validator turns (it looks whether work
    /// waits), an `asap` block loop turns as soon as it can.
    fn work_arrived(&mut self, s: u32) {
        let node = &mut self.shards[s as usize];
        if node.stopped.is_some() {
            return;
        }
        if let Role::Member(_) = node.role {
            self.queue.at(self.now(), Event::Turn(s, Some(Wake::Work)));
        } else if self.block_interval.is_none() && !node.tick_pending {
            node.tick_pending = true;
            self.queue.at(self.now(), Event::Tick(s));
        }
    }

    /// Validator `s` turns (see `shard_node::validator::Core::turn`) when its CPU is
    /// free: what it executed is charged, and what it sends leaves when that is done.
    fn turn(&mut self, s: u32, wake: Option<Wake>) {
        let now = self.now();
        let node = &mut self.shards[s as usize];
        if node.stopped.is_some() {
            return;
        }
        if wake.is_none() {
            if now < node.timer {
                // An earlier deadline's turn, superseded: a later one is scheduled.
                return;
            }
            node.timer = Duration::MAX;
        }
        if now < node.busy_until {
            match wake {
                Some(w) => self.queue.at(node.busy_until, Event::Turn(s, Some(w))),
                None => {
                    node.timer = node.busy_until;
                    self.queue.at(node.busy_until, Event::Turn(s, None));
                }
            }
            return;
        }
        let turn = match node.turn(wake) {
            Ok(turn) => turn,
            Err(e) => {
                let why = format!("{} stopped: {e}", self.name(s));
                self.shards[s as usize].stopped = Some(why.clone());
                self.failures.push(why);
                return;
            }
        };
        let took = self.model.work(node.cost, &turn.work);
        let done = Self::charge(now, &mut node.busy_until, took);
        if let Some(next) = node.next_turn() {
            let next = next.max(done);
            if next < node.timer {
                node.timer = next;
                self.queue.at(next, Event::Turn(s, None));
            }
        }
        let n = self.validators;
        let me = (s % n) as u16;
        let first = s - s % n;
        for (peer, m) in turn.messages {
            let to = Node::Shard(first + u32::from(peer));
            self.send_at(done, Node::Shard(s), to, Msg::Consensus(me, Box::new(m)));
        }
        for e in turn.events {
            self.send_at(done, Node::Shard(s), Node::Driver, Msg::Events(Box::new(e)));
        }
        self.pump_headers(s, done);
        // A commit took transactions: room for what waits on the stream.
        self.read_stream(s);
    }

    /// Transactions waiting for shard `k` on no process's mempool yet: the least any of
    /// its validators' Submit streams holds (as the process driver counts what it holds).
    pub fn held(&self, k: usize) -> u64 {
        let n = self.validators as usize;
        self.shards[k * n..(k + 1) * n]
            .iter()
            .map(|node| node.stream_txs)
            .min()
            .unwrap_or(0)
    }

    /// Shard process `s`'s header pump (`beacon_session`'s, with HTTP/2's flow
    /// control): the submissions due go out while fewer than [`HEADER_QUEUE`] wait for
    /// the beacon to take them; the rest wait in the pump, and what is due is asked
    /// again only once all of those are out — so resends do not pile up behind a
    /// beacon that cannot keep up.
    fn pump_headers(&mut self, s: u32, at: Duration) {
        let node = &mut self.shards[s as usize];
        if node.pump.is_empty() {
            let due = node.due();
            node.pump.extend(due);
        }
        loop {
            let node = &mut self.shards[s as usize];
            if node.headers_in_flight >= HEADER_QUEUE {
                break;
            }
            let Some(h) = node.pump.pop_front() else {
                break;
            };
            node.headers_in_flight += 1;
            self.send_at(
                at,
                Node::Shard(s),
                Node::Beacon,
                Msg::Header(s, Box::new(h)),
            );
        }
    }

    /// Shard process `s`'s name, as a process run names it.
    pub fn name(&self, s: u32) -> String {
        let n = self.validators;
        crate::cluster::process_name(s / n, s % n, n)
    }

    /// Shard `s`'s block loop turns: a block if there is work (like the process's loop:
    /// a tick that finds the CPU busy waits for it, and pushes the next one back).
    fn tick(&mut self, s: u32) {
        let now = self.now();
        let node = &mut self.shards[s as usize];
        if node.stopped.is_some() {
            return;
        }
        if now < node.busy_until {
            self.queue.at(node.busy_until, Event::Tick(s));
            return;
        }
        match self.block_interval {
            Some(interval) => {
                node.next_tick = node.next_tick.max(now) + interval;
                self.queue.at(node.next_tick, Event::Tick(s));
            }
            None => node.tick_pending = false,
        }
        match node.produce() {
            Err(e) => {
                let why = format!("{} stopped: {e}", self.name(s));
                self.shards[s as usize].stopped = Some(why.clone());
                self.failures.push(why);
            }
            Ok(None) => {}
            Ok(Some((submission, events))) => {
                let took = self.model.work(node.cost, &Work::of(&events));
                let done = Self::charge(now, &mut node.busy_until, took);
                self.queue.at(
                    done,
                    Event::BlockDone(s, Box::new(submission), Box::new(events)),
                );
                if self.block_interval.is_none() {
                    node.tick_pending = true;
                    self.queue.at(done, Event::Tick(s));
                }
            }
        }
        // The block took transactions: room for what waits on the stream.
        self.read_stream(s);
    }

    /// One round of the generator (`load::generator::generate`'s, on this clock).
    fn load_round(&mut self) {
        let now = self.now();
        let load = &mut self.load;
        let end = load.end.as_nanos() as u64;
        let at = now.as_nanos() as u64;
        let first = load.source.generated();
        let mut intended = Vec::new();
        let mut finished = match &load.schedule {
            Some(schedule) => {
                let due = schedule.due_before(now.min(load.end));
                let count = due.saturating_sub(first).min(TICK_CAP);
                intended.extend((first..first + count).map(|k| schedule.due_at(k)));
                at >= end && first + count >= due
            }
            None if at >= end => true,
            None => {
                // As fast as the shards take them: a round whenever no shard has more
                // than a round waiting on its stream or its wire.
                let waiting = self
                    .shards
                    .iter()
                    .zip(&load.on_wire)
                    .map(|(n, w)| n.stream_txs + w)
                    .max()
                    .unwrap_or(0);
                if waiting < MAX_CHUNK as u64 {
                    intended.resize(MAX_CHUNK, at);
                }
                false
            }
        };
        let mut batches =
            vec![pb::TxBatch::default(); self.shards.len() / self.validators as usize];
        let mut programs = Vec::new();
        finished |= fill_round(&mut load.source, &mut intended, &mut batches, &mut programs);
        if !intended.is_empty() {
            self.tracker.dispatched(first, &intended, &programs);
        }
        // A committee's client sends every batch to every validator of the shard.
        let n = self.validators;
        for (k, batch) in batches.into_iter().enumerate() {
            if batch.id.is_empty() {
                continue;
            }
            let rows = batch.id.len() as u64;
            for s in k as u32 * n..(k as u32 + 1) * n {
                self.load.on_wire[s as usize] += rows;
                self.shards[s as usize].sent += rows;
                let msg = Msg::Batch(Box::new(batch.clone()));
                self.send(Node::Driver, Node::Shard(s), msg);
            }
        }
        if finished {
            self.load.done = true;
        } else {
            self.queue.after(TICK, Event::Load);
        }
    }

    /// Whether nothing is left anywhere: no transaction or receipt waiting on any
    /// shard, nothing on a wire, nothing in flight at the beacon or undecided.
    pub fn quiet(&self) -> bool {
        let chain = &self.beacon.state.chain;
        self.load.on_wire.iter().all(|&w| w == 0)
            && chain.in_flight().0 == 0
            && chain.two_phase_open() == 0
            && self
                .shards
                .iter()
                .all(|n| n.idle() && lock(&n.shared.counters).tp_open == 0)
    }
}
