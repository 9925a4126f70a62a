//! # A validator of a shard's committee
//!
//! With `--committees` and `--validator`, a shard is not one process but `n` validators, each its own
//! process with its own ledger and store, that agree on every block by Tendermint
//! ([`consensus::machine`]) before anyone hears of it. Every validator executes every
//! block and votes for the state root it computed; a block is the chain's once a
//! quorum (`n − f`) precommitted it, and that quorum's signatures are the certificate
//! the beacon checks before it notarizes the header.
//!
//! ```text
//!   driver ──Submit (each batch to every validator)──► mempool of each validator
//!
//!   validator p = proposer(h, r)                    the other validators
//!   gather (copy) → execute → Proposal ──────────►  execute the record; same header?
//!                                      ◄──────────  Prevote(header hash, my root)
//!   quorum of prevotes → lock → Precommit ◄──────►  Precommit
//!   quorum of precommits = certificate: every validator commits on its own:
//!     store the block, publish its events (the driver takes the first copy),
//!     send header + certificate to the beacon (it keeps the first copy), drop the
//!     block's transactions and receipts from its queues.
//! ```
//!
//! The block thread runs the machine ([`run`]): peers' messages arrive as wake-ups
//! on the doorbell (decoded and checked here, [`wire`]); the machine's outputs go to
//! the peers' queues ([`crate::io::peers`]); its timeouts are the thread's
//! deadlines. [`app`] is the block pipeline as the machine's `App`, with its one
//! speculative candidate; [`block`] is what the committee agrees on; [`inputs`] what
//! a validator checks of a peer's proposal; [`sync`] how a validator far behind takes
//! a snapshot from its peers before its machine starts.
//!
//! **Transactions.** The driver sends every batch to every validator, in the same
//! order, so their mempools hold the same sequence; a proposer *copies* what it
//! proposes, and every validator drops a block's transactions when it commits it
//! (whoever proposed). A copy that arrives after its block is recognised for 256
//! blocks ([`crate::io::RecentIds`]).
//!
//! **Pacing.** A proposer proposes at most once per block interval, as a shard alone
//! makes at most one block per interval, and only when there is work: an idle
//! committee is quiet.
//!
//! **Inputs carry their evidence.** A proposal's receipts travel with their Merkle
//! paths and certified source headers, its transactions with their signatures; every
//! validator checks them before it votes ([`inputs`]), so a faulty proposer cannot
//! mint value or forge a sender.
//!
//! **Simplifications** (see docs/architecture.md): the beacon's link and every
//! validator's are emulated with the same latency and jitter.

pub mod app;
pub mod block;
pub mod inputs;
pub mod sync;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use consensus::machine::{Fault, Machine, Output, SignedState, Timeouts};
use cross_shard::sync::lock;
use prost::Message as _;
use shardsim_proto::pb;
use shardsim_proto::pb::consensus_message::Kind;
use std::sync::mpsc::{Receiver, RecvTimeoutError};

use crate::block::BlockProducer;
use crate::config::CommitteeConfig;
use crate::io::{SIGNED, Shared, Wake};
use app::Validator;
use block::CommitteeBlock;

/// The step timeouts for a committee whose links take `link` one way and whose
/// proposers wait `interval` between blocks: long enough for a healthy round —
/// a proposer's execution, two message delays, the others' execution — so that
/// timeouts fire only when a validator is slow, silent or faulty.
pub fn timeouts(interval: Option<Duration>, link: Duration) -> Timeouts {
    let rtt = 2 * link;
    Timeouts {
        propose: interval.unwrap_or_default() + Duration::from_millis(500) + 2 * rtt,
        prevote: Duration::from_millis(250) + rtt,
        precommit: Duration::from_millis(250) + rtt,
        delta: Duration::from_millis(250),
        retransmit: Duration::from_secs(1) + 2 * rtt,
    }
}

/// The longest the loop goes without telling the machine whether work waits.
const IDLE_LOOK: Duration = Duration::from_millis(100);

/// Figures of this validator's consensus, for `Status`.
#[derive(Debug, Default)]
struct Figures {
    view_changes: u64,
    timeouts: u64,
    equivocations: u64,
    wrong_roots: u64,
    bad_signatures: u64,
    refused: u64,
    synced: sync::Synced,
}

/// Runs validator `committee.me` on the calling (blocking) thread, from the chain
/// `producer` holds — or from a snapshot of its peers', when the beacon has notarized
/// the shard's chain far beyond it (`notarized`, [`sync`]) — until told to stop; an
/// error only when fatal (the store, or this validator's execution diverging from a
/// certified block). The loop only waits: each turn is [`Core::turn`].
pub fn run(
    producer: BlockProducer,
    shared: Arc<Shared>,
    (committee, notarized): (&CommitteeConfig, u64),
    wakes: Receiver<Wake>,
) -> crate::Result<()> {
    let mut producer = producer;
    let synced = sync::catch_up(&mut producer, &shared, (committee, notarized), &wakes)?;
    let mut core = Core::start(producer, shared.clone(), committee, synced)?;
    loop {
        let wait = core.next_turn().saturating_sub(shared.clock.now());
        let wake = match wakes.recv_timeout(wait) {
            Ok(w) => Some(w),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        if shared.doorbell.stopped() {
            return Ok(());
        }
        core.turn(wake)?;
    }
}

/// A validator between two turns: its chain ([`Validator`]) and its consensus
/// ([`Machine`]), with what the loop around them keeps. Both drivers run it the same
/// way — the process's block thread on wake-ups and deadlines, the simulator on its
/// events — and read the time from the shard's clock; what it sends goes to the peer
/// links' queues ([`crate::io::peers::PeerLinks`]).
///
/// ```text
///   turn(wake):  a peer's message ─► machine.on_message      (decoded, checked: wire)
///                work arrived     ─► look again whether work waits
///                a recount asked  ─► set the candidate aside, count, reply
///                always           ─► machine.tick: deadlines passed fire
///                look due         ─► machine.work_pending(has_work)
///                outputs          ─► signed state stored, then sent to the peers
///   next_turn(): the machine's next deadline, or the next look
/// ```
pub struct Core {
    /// The chain, as consensus drives it.
    pub app: Validator,
    machine: Machine<CommitteeBlock>,
    links: Arc<crate::io::peers::PeerLinks>,
    committee: CommitteeConfig,
    figures: Figures,
    /// The signed state last stored.
    kept: Option<SignedState>,
    /// Look at once whether work waits (a work wake-up came).
    look: bool,
    /// When to look next in any case.
    next_look: Duration,
    height_seen: u64,
    /// (height, when) the consensus figures were last published.
    reported: (u64, Duration),
}

impl Core {
    /// Validator `committee.me` from the chain `producer` holds, resuming where it last
    /// signed if its store says so, its machine started.
    pub fn start(
        producer: BlockProducer,
        shared: Arc<Shared>,
        committee: &CommitteeConfig,
        synced: sync::Synced,
    ) -> crate::Result<Core> {
        let cfg = &shared.config;
        let link = cfg.beacon_link.latency + cfg.beacon_link.jitter;
        let height = producer.height + 1;
        let mut machine: Machine<CommitteeBlock> = Machine::new(
            committee.committee.clone(),
            (committee.me, cfg.validator_key.clone()),
            timeouts(cfg.block_interval, link),
            committee.behaviour,
            height,
        );
        let links = shared
            .peers
            .clone()
            .ok_or_else(|| crate::Error::Config("a validator without peer links".into()))?;
        let mut kept = None;
        if let Some(store) = &shared.store
            && let Some(state) = store.get::<pb::SignedState>(SIGNED, 0)?
        {
            let state = signed_from_wire(&state);
            if state.height == height {
                tracing::info!(
                    height,
                    round = state.round,
                    locked = state.locked.is_some(),
                    "resuming consensus where this validator last signed"
                );
            }
            machine.resume(state);
            kept = Some(state);
        }
        // The machine's times and the turns' deadlines are the shard's clock's.
        let now = shared.clock.now();
        let mut app = Validator::new(producer, shared, committee.me);
        machine.start(now, &mut app);
        // When to tell the machine next whether work waits: on every work wake-up, at
        // the moment the block interval lets this validator propose, and at the latest
        // every IDLE_LOOK (a wake-up lost to a full doorbell). No polling otherwise:
        // sixteen validators on two cores must not spend them waking up.
        let height_seen = app.committed_height();
        let mut core = Core {
            app,
            machine,
            links,
            committee: committee.clone(),
            figures: Figures {
                synced,
                ..Figures::default()
            },
            kept,
            look: true,
            next_look: now,
            height_seen,
            reported: (u64::MAX, now),
        };
        core.send_outputs()?;
        Ok(core)
    }

    /// When the next turn is due without a wake-up: the machine's next deadline, or the
    /// next look whether work waits.
    pub fn next_turn(&self) -> Duration {
        self.machine.next_deadline().min(self.next_look)
    }

    /// One turn: `wake` (if any) handled, passed deadlines fired, whether work waits
    /// told, the outputs sent. An error only when fatal.
    pub fn turn(&mut self, wake: Option<Wake>) -> crate::Result<()> {
        let clock = self.app.shared.clock.clone();
        let now = clock.now();
        match wake {
            // A state-sync reply that came after state sync gave up on it.
            Some(Wake::Peer(_, m))
                if matches!(m.kind, Some(Kind::Manifest(_) | Kind::Chunk(_))) => {}
            Some(Wake::Peer(from, m)) => match wire::from_wire(*m) {
                Ok(m) => self.machine.on_message(now, from, m, &mut self.app),
                Err(why) => {
                    self.figures.refused += 1;
                    tracing::warn!(from, %why, "a malformed consensus message was refused");
                }
            },
            Some(Wake::Recount(reply)) => {
                let _ = reply.send(self.recount());
            }
            Some(Wake::Work) => self.look = true,
            None => {}
        }
        self.machine.tick(now, &mut self.app);
        if self.look || clock.now() >= self.next_look {
            self.look = false;
            let work = self.app.has_work();
            self.machine.work_pending(now, work, &mut self.app);
            self.next_look = clock.now() + IDLE_LOOK;
        }
        // A new height: look again the moment its proposer may propose.
        if self.app.committed_height() != self.height_seen {
            self.height_seen = self.app.committed_height();
            match self.app.may_propose_at() {
                Some(at) if at > clock.now() => self.next_look = self.next_look.min(at),
                _ => self.next_look = clock.now(),
            }
        }
        self.send_outputs()?;
        if let Some(e) = self.app.error.take() {
            return Err(e);
        }
        let height = self.app.committed_height();
        if height != self.reported.0
            || clock.now().saturating_sub(self.reported.1) >= Duration::from_millis(250)
        {
            self.reported = (height, clock.now());
            *lock(&self.app.shared.consensus) = Some(status(
                &self.app,
                &self.committee,
                &self.links,
                &self.figures,
            ));
        }
        Ok(())
    }

    /// The counters with the state recounted, between two blocks: the candidate, if
    /// any, is set aside (a commit executes it again).
    pub fn recount(&mut self) -> crate::io::Recount {
        self.app.set_aside();
        self.app.producer.recount(&self.app.shared)
    }

    /// The machine's outputs: durable before anything signed in this state leaves
    /// (see `SignedState`), then to the peers' queues.
    fn send_outputs(&mut self) -> crate::Result<()> {
        let outputs = self.machine.take_outputs();
        let state = self.machine.signed_state();
        if !outputs.is_empty()
            && self.kept != Some(state)
            && let Some(store) = &self.app.shared.store
        {
            store.append(0, &[(SIGNED, &signed_to_wire(state).encode_to_vec())])?;
            self.kept = Some(state);
        }
        for output in outputs {
            route(&self.links, &self.committee, output, &mut self.figures);
        }
        Ok(())
    }
}

fn signed_to_wire(s: SignedState) -> pb::SignedState {
    pb::SignedState {
        height: s.height,
        round: s.round,
        locked_round: s.locked.map(|l| l.0),
        locked_block: s.locked.map(|l| l.1.0.to_vec()).unwrap_or_default(),
    }
}

/// The kept state; a lock whose hash is not 32 bytes is dropped (the store is ours, so
/// this does not happen but must not panic).
fn signed_from_wire(s: &pb::SignedState) -> SignedState {
    let locked = s.locked_round.and_then(|r| {
        let h: [u8; 32] = s.locked_block.as_slice().try_into().ok()?;
        Some((r, cross_shard::Hash(h)))
    });
    SignedState {
        height: s.height,
        round: s.round,
        locked,
    }
}

/// Sends a machine output to its peers, or counts it.
fn route(
    links: &crate::io::peers::PeerLinks,
    committee: &CommitteeConfig,
    output: Output<CommitteeBlock>,
    figures: &mut Figures,
) {
    match output {
        Output::Broadcast(m) => {
            let wire = wire::to_wire(&m);
            for peer in 0..committee.committee.len() as u16 {
                if peer != committee.me {
                    links.send(peer, wire.clone());
                }
            }
        }
        Output::Send(to, m) => links.send(to, wire::to_wire(&m)),
        Output::Fault(f) => {
            tracing::warn!(?f, "misbehaviour seen");
            match f {
                Fault::Equivocation { .. } => figures.equivocations += 1,
                Fault::WrongRoot { .. } => figures.wrong_roots += 1,
                Fault::BadSignature { .. } => figures.bad_signatures += 1,
            }
        }
        Output::Round { round, .. } => {
            if round > 0 {
                figures.view_changes += 1;
            }
        }
        Output::TimedOut { .. } => figures.timeouts += 1,
    }
}

fn status(
    app: &Validator,
    committee: &CommitteeConfig,
    links: &crate::io::peers::PeerLinks,
    f: &Figures,
) -> pb::ConsensusStatus {
    pb::ConsensusStatus {
        validator: u32::from(committee.me),
        validators: committee.committee.len() as u32,
        recent: app
            .recent
            .iter()
            .map(|&(height, hash, root)| pb::CommittedHeader {
                height,
                hash: hash.0.to_vec(),
                state_root: root.0.to_vec(),
            })
            .collect(),
        view_changes: f.view_changes,
        timeouts: f.timeouts,
        messages_sent: links.sent.load(Ordering::Relaxed),
        bytes_sent: links.bytes.load(Ordering::Relaxed),
        equivocations: f.equivocations,
        wrong_roots: f.wrong_roots,
        bad_signatures: f.bad_signatures + f.refused,
        proposed_committed: app.proposed_committed,
        inputs_refused: app.inputs_refused,
        synced_height: f.synced.height,
        snapshot_chunks_refused: f.synced.chunks_refused,
    }
}
