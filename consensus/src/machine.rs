//! Tendermint's consensus algorithm for one validator, as a pure state machine.
//!
//! This is Algorithm 1 of Buchman, Kwon and Milosevic, *The latest gossip on BFT
//! consensus* (2018, arXiv:1807.04938); the `L..` numbers in comments are its lines.
//! Inputs are messages, the passing of time and the work waiting; outputs are
//! messages to send and what was observed. The machine reads no clock, draws no random
//! number and does no I/O: the caller passes `now` in and carries the outputs out, and
//! [`App`] executes, proposes and commits blocks. The same code runs in a validator
//! process and, thousands of times, under the simulated network of [`crate::sim`].
//!
//! ```text
//!   one height, round r (proposer = (height + r) mod n):
//!
//!   Propose ──proposal valid, not against my lock──► Prevote(id)  ──┐
//!      │   └─timeout / invalid──────────────────────► Prevote(nil) ─┤
//!      │                                                            ▼
//!      │        quorum prevotes id: lock on it ────────► Precommit(id) ──┐
//!      │        quorum prevotes nil / timeout ─────────► Precommit(nil) ─┤
//!      │                                                                 ▼
//!      │        quorum precommits id (any round) ─────────────────► DECIDE → height+1, round 0
//!      └──────  quorum precommits, no decision, timeout ──────────► round r+1 (a view change)
//!               f+1 messages from a later round ──────────────────► jump to that round
//! ```
//!
//! **Why these rules are safe.** A validator that precommits a value *locks* on it and
//! prevotes for nothing else in later rounds unless it sees a quorum of prevotes for
//! another value in a round after its lock (L22, L28). A decision needs a quorum of
//! precommits; since quorums overlap in an honest validator, any later quorum of
//! prevotes — the only way to a precommit — is for the decided value. Without the lock,
//! a value precommitted by some and decided by one could be replaced in the next round
//! (the mutation tests show exactly that).
//!
//! **Votes name the state.** Here a value's id is the block's hash *and the state root
//! the voter computed*: every validator executes the block before prevoting, so a
//! quorum certifies the resulting state, and a validator whose root differs is
//! reported ([`Fault::WrongRoot`]) and counts towards no quorum.
//!
//! **Catching up.** The paper assumes gossip delivers every message eventually. Over
//! lossy links the machine provides that itself: when a height makes no progress for
//! `retransmit`, a validator sends again its votes and the round's proposal; a
//! validator that sees messages from heights ahead of its own asks the sender
//! (`Behind`), which answers with the block it decided and its certificate.
//!
//! **When there is nothing to do.** A real chain makes empty blocks; this simulator
//! does not, so in round 0 the proposer waits for work ([`App::propose`] returns
//! `None`) and the others start the propose timeout only once they know of work
//! ([`Machine::work_pending`]): an idle shard is quiet, not a storm of view changes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use cross_shard::Hash;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};

use crate::committee::{Committee, ValidatorId};
use crate::vote::{Kind, QuorumCert, SIGNATURE_LEN, Value, Vote, proposal_message};

/// A block as consensus sees it: something with a hash that commits to all of it.
pub trait Block: Clone + fmt::Debug {
    /// The block's hash.
    fn hash(&self) -> Hash;
}

/// What the machine asks of the chain it runs.
pub trait App<B> {
    /// Executes `block` as the block at `height`, on top of what has been committed;
    /// returns the state root after it, or `None` when the block is invalid. May be
    /// asked for several blocks at one height (a later round's proposal): each is
    /// executed from the committed state, not from another candidate's.
    fn execute(&mut self, height: u64, block: &B) -> Option<Hash>;
    /// A new block for `height`, or `None` when there is nothing to propose yet.
    fn propose(&mut self, height: u64) -> Option<B>;
    /// A block for `height` other than `block` (only a Byzantine proposer asks).
    fn conflicting(&mut self, height: u64, block: &B) -> Option<B>;
    /// `block` is decided at `height` with `cert`: make it the chain's.
    fn commit(&mut self, height: u64, block: &B, cert: &QuorumCert);
    /// What was decided at `height`, for a validator catching up, if still kept.
    fn decided(&self, height: u64) -> Option<(B, QuorumCert)>;
}

/// A proposer's block for one round, signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal<B> {
    /// The height proposed for.
    pub height: u64,
    /// The round proposed in.
    pub round: u32,
    /// The round in which a quorum prevoted this block, when re-proposing it (L16).
    pub valid_round: Option<u32>,
    /// The block.
    pub block: B,
    /// The proposer's signature over [`proposal_message`].
    pub signature: [u8; SIGNATURE_LEN],
}

/// What validators send each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<B> {
    /// The round's block, from its proposer (or relayed by a retransmission).
    Proposal(Proposal<B>),
    /// A prevote or precommit.
    Vote(Vote),
    /// A decided block with its certificate, for a validator behind.
    Decided {
        /// The block.
        block: B,
        /// Its certificate.
        cert: QuorumCert,
    },
    /// "I am at this height: send me what you decided there."
    Behind {
        /// The sender's height.
        height: u64,
    },
    /// A proposal as its receiver saw it, without its block: sent when others vote for
    /// a block other than the one this validator was proposed, so that a proposer who
    /// signed two blocks for one round is caught.
    Seen {
        /// The height of the proposal.
        height: u64,
        /// Its round.
        round: u32,
        /// Its valid round.
        valid_round: Option<u32>,
        /// The hash of the block it carried.
        block: Hash,
        /// The proposer's signature.
        signature: [u8; SIGNATURE_LEN],
    },
}

impl<B: Block> Message<B> {
    /// The height the message is about.
    pub fn height(&self) -> u64 {
        match self {
            Message::Proposal(p) => p.height,
            Message::Vote(v) => v.height,
            Message::Decided { cert, .. } => cert.height,
            Message::Behind { height } | Message::Seen { height, .. } => *height,
        }
    }
}

/// See [`Machine::signed_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedState {
    /// The height being decided.
    pub height: u64,
    /// Its current round.
    pub round: u32,
    /// The lock: the round and hash of the value last precommitted at this height.
    pub locked: Option<(u32, Hash)>,
}

/// A step within a round (L5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Waiting for the round's proposal.
    Propose,
    /// Prevoted; waiting for a quorum of prevotes.
    Prevote,
    /// Precommitted; waiting for a quorum of precommits.
    Precommit,
}

/// Misbehaviour a validator saw, with whom to blame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Two different signed proposals, or two different votes of one kind, for one
    /// height and round.
    Equivocation {
        /// Who signed both.
        validator: ValidatorId,
        /// Where.
        height: u64,
        /// Which round.
        round: u32,
    },
    /// A vote for a block this validator executed, naming another state root.
    WrongRoot {
        /// Who voted so.
        validator: ValidatorId,
        /// Where.
        height: u64,
    },
    /// A message whose signature does not verify (or that names no member).
    BadSignature {
        /// Whom the transport says sent it.
        from: ValidatorId,
    },
}

/// What the machine asks its caller to do, or tells it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<B> {
    /// Send to every other validator.
    Broadcast(Message<B>),
    /// Send to one validator.
    Send(ValidatorId, Message<B>),
    /// Misbehaviour seen.
    Fault(Fault),
    /// A round began; a round above 0 is a view change.
    Round {
        /// The height.
        height: u64,
        /// The new round.
        round: u32,
    },
    /// A timeout expired with effect (the round had not moved on by itself).
    TimedOut {
        /// The height.
        height: u64,
        /// The round.
        round: u32,
        /// The step it ended.
        step: Step,
    },
}

/// How long each step waits, growing by `delta` with every round so that a round is
/// eventually long enough for any network (the paper's partial synchrony).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Waiting for a proposal.
    pub propose: Duration,
    /// Waiting for prevotes once a quorum of any prevotes arrived.
    pub prevote: Duration,
    /// Waiting for precommits once a quorum of any precommits arrived.
    pub precommit: Duration,
    /// Added per round.
    pub delta: Duration,
    /// A height without progress this long sends its messages again.
    pub retransmit: Duration,
}

impl Timeouts {
    fn after(&self, base: Duration, round: u32) -> Duration {
        base + self.delta * round.min(1_000)
    }
}

/// How a validator behaves: honestly, or in one of the ways a Byzantine one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// Proposes two blocks for one round, half the committee each; votes one way to
    /// half the committee and the other way to the rest.
    Equivocate,
    /// Sends nothing.
    Silent,
    /// Votes with a state root other than the one its execution computed.
    WrongRoot,
    /// Proposes, but sends no votes.
    WithholdVotes,
    /// Proposes inputs it made up (receipts whose amounts it raised, minting value).
    /// A fault of the application's, not of the protocol: the machine follows the
    /// protocol, the app forges (`App::propose`), and honest validators, checking the
    /// inputs' evidence, give such a block no vote.
    ForgeReceipts,
}

impl std::str::FromStr for Behaviour {
    type Err = crate::Error;

    /// The names scenarios and command lines use: `honest`, `equivocate`, `silent`,
    /// `wrong-root`, `withhold-votes`, `forge-receipts`.
    fn from_str(s: &str) -> crate::Result<Behaviour> {
        Ok(match s {
            "honest" => Behaviour::Honest,
            "equivocate" => Behaviour::Equivocate,
            "silent" => Behaviour::Silent,
            "wrong-root" => Behaviour::WrongRoot,
            "withhold-votes" => Behaviour::WithholdVotes,
            "forge-receipts" => Behaviour::ForgeReceipts,
            other => return Err(crate::Error::UnknownBehaviour(other.to_string())),
        })
    }
}

/// Which of a round's once-only rules have fired ("for the first time" in the paper).
#[derive(Debug, Default, Clone, Copy)]
struct Fired {
    prevote_timer: bool,
    locked: bool,
    precommit_timer: bool,
}

/// One kind of vote in one round. A validator that signs two values is counted for
/// each (its signatures are real; safety only needs honest validators to sign one
/// value per round), so that a quorum one validator saw can be shown to another.
#[derive(Debug, Default)]
struct Tally {
    /// Each (voter, value) signed, at most [`MAX_VALUES_PER_VOTER`] values per voter.
    votes: BTreeMap<(ValidatorId, Option<Value>), Vote>,
}

/// Most different values kept from one voter in one round: two prove equivocation.
const MAX_VALUES_PER_VOTER: usize = 2;

impl Tally {
    /// Distinct validators that voted anything.
    fn any(&self) -> usize {
        self.voters().len()
    }
    fn voters(&self) -> BTreeSet<ValidatorId> {
        self.votes.keys().map(|k| k.0).collect()
    }
    /// Distinct validators that voted for `value`.
    fn count(&self, value: Option<Value>) -> usize {
        self.votes.keys().filter(|k| k.1 == value).count()
    }
    fn of(&self, voter: ValidatorId) -> impl Iterator<Item = &Vote> {
        self.votes
            .range((voter, None)..)
            .take_while(move |(k, _)| k.0 == voter)
            .map(|e| e.1)
    }
    fn for_value(&self, value: Option<Value>) -> impl Iterator<Item = &Vote> {
        self.votes
            .iter()
            .filter(move |(k, _)| k.1 == value)
            .map(|e| e.1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Propose(u64, u32),
    Prevote(u64, u32),
    Precommit(u64, u32),
}

/// A validator's consensus state: the current height and round and what it has seen
/// in them. See the module chapter.
pub struct Machine<B: Block> {
    /// The committee, with everyone's public keys.
    committee: Committee,
    /// This validator's index and key.
    me: ValidatorId,
    key: SigningKey,
    /// How it behaves.
    behaviour: Behaviour,
    /// Step timeouts.
    timeouts: Timeouts,
    /// The quorum used; only the mutation tests set another than the committee's.
    quorum: usize,
    /// Whether prevotes respect locks; only the mutation tests turn it off.
    locking: bool,
    /// The height being decided, its round and step (L1–L5).
    height: u64,
    round: u32,
    step: Step,
    /// The round and hash of the value precommitted most recently at this height
    /// (L6–L7; the lock is only ever compared, so its block need not be kept).
    locked: Option<(u32, Hash)>,
    /// The value a quorum prevoted most recently at this height, and its round (L8–L9).
    valid: Option<(u32, B)>,
    /// The first correctly signed proposal of each round of this height, with its
    /// block's hash; every one is executed when it is taken in.
    proposals: BTreeMap<u32, (Hash, Proposal<B>)>,
    /// Each executed block of this height: its state root, or `None` when invalid.
    roots: HashMap<Hash, Option<Hash>>,
    /// Prevotes and precommits of this height, by round.
    prevotes: BTreeMap<u32, Tally>,
    precommits: BTreeMap<u32, Tally>,
    /// Once-only rules fired, by round.
    fired: BTreeMap<u32, Fired>,
    /// Armed timeouts, with their deadlines.
    timers: Vec<(Duration, Timer)>,
    /// Whether work waits (round 0's propose timeout waits for it).
    work: bool,
    /// Whether this validator must propose in this round but had nothing yet.
    to_propose: bool,
    /// Messages for the next height, kept until this one is decided.
    future: Vec<(ValidatorId, Message<B>)>,
    /// When the height or round last moved (for retransmission).
    progressed: Duration,
    /// When each peer was last asked to help us catch up.
    asked: HashMap<ValidatorId, Duration>,
    /// Faults already reported, to report each once.
    reported: HashSet<Fault>,
    /// Outputs not yet taken.
    out: Vec<Output<B>>,
}

/// Most messages kept for the next height.
const MAX_FUTURE: usize = 4_096;

impl<B: Block> Machine<B> {
    /// Validator `me` of `committee`, with signing key `key`, starting at `height`
    /// (1 for a new chain; after a restart, one above the last committed block).
    pub fn new(
        committee: Committee,
        (me, key): (ValidatorId, SigningKey),
        timeouts: Timeouts,
        behaviour: Behaviour,
        height: u64,
    ) -> Machine<B> {
        let quorum = committee.quorum();
        Machine {
            committee,
            me,
            key,
            behaviour,
            timeouts,
            quorum,
            locking: true,
            height,
            round: 0,
            step: Step::Propose,
            locked: None,
            valid: None,
            proposals: BTreeMap::new(),
            roots: HashMap::new(),
            prevotes: BTreeMap::new(),
            precommits: BTreeMap::new(),
            fired: BTreeMap::new(),
            timers: Vec::new(),
            work: false,
            to_propose: false,
            future: Vec::new(),
            progressed: Duration::ZERO,
            asked: HashMap::new(),
            reported: HashSet::new(),
            out: Vec::new(),
        }
    }

    /// Breaks the protocol for a mutation test: another quorum size, or no locks.
    #[cfg(test)]
    pub(crate) fn mutate(&mut self, quorum: usize, locking: bool) {
        self.quorum = quorum;
        self.locking = locking;
    }

    /// A one-line picture of the state, for test failures.
    #[cfg(test)]
    pub(crate) fn describe(&self) -> String {
        let tally = |t: &BTreeMap<u32, Tally>| -> Vec<String> {
            t.iter()
                .map(|(r, t)| {
                    let v: Vec<String> = t
                        .votes
                        .values()
                        .map(|v| {
                            format!(
                                "{}:{}",
                                v.voter,
                                v.value.map_or("nil".into(), |x| x.block.to_string())
                            )
                        })
                        .collect();
                    format!("r{r}[{}]", v.join(" "))
                })
                .collect()
        };
        format!(
            "v{} h{} r{} {:?} locked {:?} valid {:?} proposals {:?} prevotes {:?} precommits {:?} timers {:?} future {}",
            self.me,
            self.height,
            self.round,
            self.step,
            self.locked,
            self.valid.as_ref().map(|l| (l.0, l.1.hash())),
            self.proposals
                .iter()
                .map(|(r, (hash, p))| (*r, *hash, p.valid_round))
                .collect::<Vec<_>>(),
            tally(&self.prevotes),
            tally(&self.precommits),
            self.timers,
            self.future.len(),
        )
    }

    /// The height being decided.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The current round.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// The current step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The committee.
    pub fn committee(&self) -> &Committee {
        &self.committee
    }

    /// This validator's index.
    pub fn me(&self) -> ValidatorId {
        self.me
    }

    /// Takes the outputs produced so far.
    pub fn take_outputs(&mut self) -> Vec<Output<B>> {
        std::mem::take(&mut self.out)
    }

    /// The next time [`Machine::tick`] has something to do.
    pub fn next_deadline(&self) -> Duration {
        let retransmit = self.progressed + self.timeouts.retransmit;
        self.timers
            .iter()
            .map(|t| t.0)
            .fold(retransmit, Duration::min)
    }

    /// Starts the first round (L10) — round 0, or the round [`Machine::resume`] set.
    pub fn start(&mut self, now: Duration, app: &mut impl App<B>) {
        self.start_round(now, self.round, app);
        self.progress(now, app);
    }

    /// What a validator must keep on disk before it sends anything it signed, so that
    /// after a crash it neither signs twice in a round nor forgets its lock (the
    /// "amnesia" that would make it as dangerous as a Byzantine validator): the
    /// height, the round, and the lock (round, block hash).
    pub fn signed_state(&self) -> SignedState {
        SignedState {
            height: self.height,
            round: self.round,
            locked: self.locked,
        }
    }

    /// Before [`Machine::start`], after a restart: `state` is what was kept at this
    /// height. The machine takes the lock back and starts in the round after the last
    /// one it may have signed in.
    pub fn resume(&mut self, state: SignedState) {
        if state.height == self.height {
            self.round = state.round.saturating_add(1);
            self.locked = state.locked;
        }
    }

    /// Tells the machine whether work waits (transactions, receipts): the proposer
    /// tries again to propose, the others arm the propose timeout of round 0.
    pub fn work_pending(&mut self, now: Duration, pending: bool, app: &mut impl App<B>) {
        if pending && !self.work && self.step == Step::Propose && !self.to_propose {
            let at = now + self.timeouts.after(self.timeouts.propose, self.round);
            self.timers
                .push((at, Timer::Propose(self.height, self.round)));
        }
        self.work = pending;
        if self.to_propose {
            self.try_propose(app);
        }
        self.progress(now, app);
    }

    /// Lets time pass: expired timeouts fire (L57–L67), a stalled height retransmits.
    pub fn tick(&mut self, now: Duration, app: &mut impl App<B>) {
        let (due, armed): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|t| t.0 <= now);
        self.timers = armed;
        for (_, timer) in due {
            self.fire(now, timer, app);
        }
        if now >= self.progressed + self.timeouts.retransmit {
            self.progressed = now;
            self.retransmit();
        }
        self.progress(now, app);
    }

    /// Handles a message that the transport says came from `from`.
    pub fn on_message(
        &mut self,
        now: Duration,
        from: ValidatorId,
        message: Message<B>,
        app: &mut impl App<B>,
    ) {
        if from == self.me || from as usize >= self.committee.len() {
            return;
        }
        let height = message.height();
        let behind = matches!(message, Message::Behind { .. });
        // A request for help is about the asker's height; everything else is about
        // ours: older messages are moot, the next height's wait, later ones mean we
        // are the one behind.
        if !behind && height < self.height {
            return;
        }
        if !behind && height > self.height {
            if height == self.height + 1
                && !matches!(message, Message::Decided { .. })
                && self.future.len() < MAX_FUTURE
            {
                self.future.push((from, message));
            } else {
                self.ask(now, from);
            }
            return;
        }
        match message {
            Message::Behind { height } => {
                if height < self.height
                    && let Some((block, cert)) = app.decided(height)
                {
                    self.send(Output::Send(from, Message::Decided { block, cert }));
                }
                return;
            }
            Message::Proposal(p) => self.on_proposal(p, from, app),
            Message::Vote(v) => self.on_vote(v, from),
            Message::Decided { block, cert } => self.on_decided(now, from, block, cert, app),
            Message::Seen {
                round,
                valid_round,
                block,
                signature,
                ..
            } => self.on_seen(round, valid_round, block, signature),
        }
        self.progress(now, app);
    }

    // ---- rounds and proposals ---------------------------------------------------

    /// L11–L21.
    fn start_round(&mut self, now: Duration, round: u32, app: &mut impl App<B>) {
        self.round = round;
        self.step = Step::Propose;
        self.progressed = now;
        self.out.push(Output::Round {
            height: self.height,
            round,
        });
        if self.committee.proposer(self.height, round) == self.me {
            self.to_propose = true;
            self.try_propose(app);
        } else {
            self.to_propose = false;
            if round > 0 || self.work {
                let at = now + self.timeouts.after(self.timeouts.propose, round);
                self.timers.push((at, Timer::Propose(self.height, round)));
            }
        }
    }

    /// L14–L19: re-propose the valid value, or ask the app for a new block.
    fn try_propose(&mut self, app: &mut impl App<B>) {
        let (block, valid_round) = match &self.valid {
            Some((r, v)) => (v.clone(), Some(*r)),
            None => match app.propose(self.height) {
                Some(b) => (b, None),
                None => return,
            },
        };
        self.to_propose = false;
        let proposal = self.sign_proposal(self.round, valid_round, block.clone());
        if self.behaviour == Behaviour::Equivocate
            && let Some(other) = app.conflicting(self.height, &block)
        {
            // A fresh block (no valid round), so that validators not locked, or not
            // respecting their locks, may take it.
            let second = self.sign_proposal(self.round, None, other);
            let (n, me) = (self.committee.len() as ValidatorId, self.me);
            for peer in (0..n).filter(|&p| p != me) {
                let p = if peer < n / 2 { &proposal } else { &second };
                self.send(Output::Send(peer, Message::Proposal(p.clone())));
            }
        } else {
            self.send(Output::Broadcast(Message::Proposal(proposal.clone())));
        }
        let hash = proposal.block.hash();
        self.root_of(&proposal.block, app);
        self.proposals.insert(self.round, (hash, proposal));
        // A re-proposal comes with the quorum that made its value valid.
        for v in self.proof_of_lock() {
            self.send(Output::Broadcast(Message::Vote(v)));
        }
    }

    fn sign_proposal(&self, round: u32, valid_round: Option<u32>, block: B) -> Proposal<B> {
        let m = proposal_message(
            self.committee.shard(),
            self.height,
            round,
            valid_round,
            block.hash(),
        );
        Proposal {
            height: self.height,
            round,
            valid_round,
            block,
            signature: self.key.sign(&m).to_bytes(),
        }
    }

    fn proposal_signed(
        &self,
        round: u32,
        valid_round: Option<u32>,
        block: Hash,
        sig: &[u8; 64],
    ) -> bool {
        let proposer = self.committee.proposer(self.height, round);
        let m = proposal_message(
            self.committee.shard(),
            self.height,
            round,
            valid_round,
            block,
        );
        self.committee
            .key(proposer)
            .is_some_and(|k| k.verify(&m, &Signature::from_bytes(sig)).is_ok())
    }

    fn on_proposal(&mut self, p: Proposal<B>, from: ValidatorId, app: &mut impl App<B>) {
        let hash = p.block.hash();
        if !self.proposal_signed(p.round, p.valid_round, hash, &p.signature) {
            self.report(Fault::BadSignature { from });
            return;
        }
        match self.proposals.get(&p.round) {
            Some((held, hp)) if *held != hash || hp.valid_round != p.valid_round => {
                let proposer = self.committee.proposer(self.height, p.round);
                self.report(Fault::Equivocation {
                    validator: proposer,
                    height: self.height,
                    round: p.round,
                });
            }
            Some(_) => {}
            None => {
                self.root_of(&p.block, app);
                self.proposals.insert(p.round, (hash, p));
            }
        }
    }

    fn on_seen(&mut self, round: u32, valid_round: Option<u32>, block: Hash, sig: [u8; 64]) {
        let Some((held, p)) = self.proposals.get(&round) else {
            return;
        };
        let differs = *held != block || p.valid_round != valid_round;
        if differs && self.proposal_signed(round, valid_round, block, &sig) {
            let proposer = self.committee.proposer(self.height, round);
            self.report(Fault::Equivocation {
                validator: proposer,
                height: self.height,
                round,
            });
        }
    }

    /// The value id of the executed block with this hash: the hash and the root *this*
    /// validator computed; `None` when the block is invalid (or not executed).
    fn id(&self, hash: Hash) -> Option<Value> {
        let root = (*self.roots.get(&hash)?)?;
        Some(Value {
            block: hash,
            state_root: root,
        })
    }

    /// The value id of `block` for this validator: its hash and the root *this*
    /// validator computed (executing it the first time it is asked).
    fn root_of(&mut self, block: &B, app: &mut impl App<B>) -> Option<Value> {
        let hash = block.hash();
        let root = match self.roots.get(&hash) {
            Some(r) => *r,
            None => {
                let mut r = app.execute(self.height, block);
                if self.behaviour == Behaviour::WrongRoot {
                    r = r.map(|r| Hash::from(blake3::hash(r.as_bytes())));
                }
                self.roots.insert(hash, r);
                if let Some(root) = r {
                    self.check_roots(hash, root);
                }
                r
            }
        }?;
        Some(Value {
            block: hash,
            state_root: root,
        })
    }

    /// Reports every vote of this height for `block` that names another root.
    fn check_roots(&mut self, block: Hash, root: Hash) {
        let wrong: Vec<ValidatorId> = self
            .prevotes
            .values()
            .chain(self.precommits.values())
            .flat_map(|t| t.votes.values())
            .filter(|v| {
                v.value
                    .is_some_and(|x| x.block == block && x.state_root != root)
            })
            .map(|v| v.voter)
            .collect();
        for validator in wrong {
            self.report(Fault::WrongRoot {
                validator,
                height: self.height,
            });
        }
    }

    // ---- votes --------------------------------------------------------------------

    fn on_vote(&mut self, vote: Vote, from: ValidatorId) {
        if !vote.verify(&self.committee) {
            self.report(Fault::BadSignature { from });
            return;
        }
        self.record(vote);
    }

    /// Adds a verified vote to its tally; a second, different one is equivocation.
    fn record(&mut self, vote: Vote) {
        if let Some(x) = vote.value
            && let Some(Some(root)) = self.roots.get(&x.block)
            && *root != x.state_root
        {
            self.report(Fault::WrongRoot {
                validator: vote.voter,
                height: self.height,
            });
        }
        // Someone voted for a block other than the one we were proposed: show them
        // the proposal we hold, so that a proposer who signed two is caught.
        if vote.kind == Kind::Prevote
            && let (Some(x), Some((held, p))) = (vote.value, self.proposals.get(&vote.round))
            && *held != x.block
            && vote.voter != self.me
        {
            let seen = Message::Seen {
                height: self.height,
                round: vote.round,
                valid_round: p.valid_round,
                block: *held,
                signature: p.signature,
            };
            self.send(Output::Send(vote.voter, seen));
        }
        let tally = match vote.kind {
            Kind::Prevote => &mut self.prevotes,
            Kind::Precommit => &mut self.precommits,
        }
        .entry(vote.round)
        .or_default();
        let held = tally.of(vote.voter).count();
        if tally.votes.contains_key(&(vote.voter, vote.value)) {
            return;
        }
        let (validator, round) = (vote.voter, vote.round);
        if held < MAX_VALUES_PER_VOTER {
            tally.votes.insert((vote.voter, vote.value), vote);
        }
        if held > 0 {
            let height = self.height;
            self.report(Fault::Equivocation {
                validator,
                height,
                round,
            });
        }
    }

    /// Signs, records and sends this validator's vote.
    fn vote(&mut self, kind: Kind, value: Option<Value>) {
        let (h, r) = (self.height, self.round);
        let shard = self.committee.shard();
        let vote = Vote::sign(&self.key, shard, (kind, h, r), value, self.me);
        self.record(vote.clone());
        match self.behaviour {
            Behaviour::WithholdVotes | Behaviour::Silent => {}
            Behaviour::Equivocate => {
                // The honest vote to one half, the opposite to the other.
                let twin = match value {
                    Some(_) => None,
                    None => self.proposals.get(&r).and_then(|(hash, _)| self.id(*hash)),
                };
                let twin = Vote::sign(&self.key, shard, (kind, h, r), twin, self.me);
                let (n, me) = (self.committee.len() as ValidatorId, self.me);
                for peer in (0..n).filter(|&p| p != me) {
                    let v = if peer < n / 2 { &vote } else { &twin };
                    self.out.push(Output::Send(peer, Message::Vote(v.clone())));
                }
            }
            Behaviour::Honest | Behaviour::WrongRoot | Behaviour::ForgeReceipts => {
                self.out.push(Output::Broadcast(Message::Vote(vote)));
            }
        }
    }

    fn on_decided(
        &mut self,
        now: Duration,
        from: ValidatorId,
        block: B,
        cert: QuorumCert,
        app: &mut impl App<B>,
    ) {
        if cert.value.block != block.hash() || cert.verify(&self.committee).is_err() {
            self.report(Fault::BadSignature { from });
            return;
        }
        match self.root_of(&block, app) {
            Some(v) if v == cert.value => {
                self.decide(now, block, cert, app);
                // Still behind, perhaps: ask the same validator for the next one.
                self.asked.remove(&from);
                self.ask(now, from);
            }
            // Our own execution disagrees with a quorum's: this validator's state is
            // not the chain's, and it must not commit a state it did not compute.
            _ => self.report(Fault::WrongRoot {
                validator: self.me,
                height: self.height,
            }),
        }
    }

    // ---- the upon-rules ---------------------------------------------------------------

    /// Applies the upon-rules (L22–L56) until none applies.
    fn progress(&mut self, now: Duration, app: &mut impl App<B>) {
        while self.rule(now, app) {}
    }

    /// Applies one rule that holds, if any; whether it did.
    fn rule(&mut self, now: Duration, app: &mut impl App<B>) -> bool {
        let (h, r, q) = (self.height, self.round, self.quorum);
        let fired = *self.fired.entry(r).or_default();

        // L49: a quorum of precommits for a proposal of any round decides it.
        let decided = self.proposals.iter().find_map(|(&pr, (hash, _))| {
            let id = self.id(*hash)?;
            let tally = self.precommits.get(&pr)?;
            (tally.count(Some(id)) >= q).then_some((pr, id))
        });
        if let Some((pr, id)) = decided {
            // In voter order: the tally is keyed by voter first.
            let signatures = self.precommits[&pr]
                .for_value(Some(id))
                .map(|v| (v.voter, v.signature))
                .collect();
            let cert = QuorumCert {
                height: h,
                round: pr,
                value: id,
                signatures,
            };
            let block = self.proposals[&pr].1.block.clone();
            self.decide(now, block, cert, app);
            return true;
        }

        // L55: f+1 validators are already in a later round: follow them.
        let later = self
            .rounds_seen()
            .into_iter()
            .filter(|&(round, senders)| round > r && senders >= self.committee.honest_one())
            .map(|(round, _)| round)
            .min();
        if let Some(round) = later {
            self.start_round(now, round, app);
            return true;
        }

        let proposal = self
            .proposals
            .get(&r)
            .map(|(hash, p)| (*hash, p.valid_round));
        if let Some((hash, valid_round)) = proposal {
            let id = self.id(hash);
            // L22 and L28: prevote the proposal unless it is invalid or against our
            // lock (a lock gives way only to a quorum of prevotes after it).
            if self.step == Step::Propose {
                let lock = |upto: Option<u32>| match self.locked {
                    None => true,
                    Some((lr, lh)) => {
                        !self.locking || lh == hash || upto.is_some_and(|vr| lr <= vr)
                    }
                };
                let decision = match valid_round {
                    None => Some(id.filter(|_| lock(None))),
                    Some(vr) if vr < r => {
                        let backed = id.is_some_and(|id| {
                            self.prevotes
                                .get(&vr)
                                .is_some_and(|t| t.count(Some(id)) >= q)
                        });
                        backed.then(|| id.filter(|_| lock(Some(vr))))
                    }
                    Some(_) => None,
                };
                if let Some(value) = decision {
                    self.vote(Kind::Prevote, value);
                    self.step = Step::Prevote;
                    return true;
                }
            }
            // L36: a quorum prevoted the proposal: lock on it and precommit.
            if let Some(id) = id
                && self.step >= Step::Prevote
                && !fired.locked
                && self
                    .prevotes
                    .get(&r)
                    .is_some_and(|t| t.count(Some(id)) >= q)
            {
                self.fired.entry(r).or_default().locked = true;
                if self.step == Step::Prevote {
                    self.locked = Some((r, hash));
                    self.vote(Kind::Precommit, Some(id));
                    self.step = Step::Precommit;
                }
                self.valid = Some((r, self.proposals[&r].1.block.clone()));
                return true;
            }
        }

        let prevotes = self.prevotes.get(&r);
        // L44: a quorum prevoted nil.
        if self.step == Step::Prevote && prevotes.is_some_and(|t| t.count(None) >= q) {
            self.vote(Kind::Precommit, None);
            self.step = Step::Precommit;
            return true;
        }
        // L34: a quorum prevoted, not for one value yet: wait a little longer.
        if self.step == Step::Prevote
            && !fired.prevote_timer
            && prevotes.is_some_and(|t| t.any() >= q)
        {
            self.fired.entry(r).or_default().prevote_timer = true;
            let at = now + self.timeouts.after(self.timeouts.prevote, r);
            self.timers.push((at, Timer::Prevote(h, r)));
            return true;
        }
        // L47: a quorum precommitted, not for one value: the round ends on timeout.
        if !fired.precommit_timer && self.precommits.get(&r).is_some_and(|t| t.any() >= q) {
            self.fired.entry(r).or_default().precommit_timer = true;
            let at = now + self.timeouts.after(self.timeouts.precommit, r);
            self.timers.push((at, Timer::Precommit(h, r)));
            return true;
        }
        false
    }

    /// For each round of this height: how many validators sent anything in it.
    fn rounds_seen(&self) -> Vec<(u32, usize)> {
        let mut by_round: BTreeMap<u32, BTreeSet<ValidatorId>> = BTreeMap::new();
        for (r, t) in self.prevotes.iter().chain(self.precommits.iter()) {
            by_round.entry(*r).or_default().extend(t.voters());
        }
        for r in self.proposals.keys() {
            by_round
                .entry(*r)
                .or_default()
                .insert(self.committee.proposer(self.height, *r));
        }
        by_round.into_iter().map(|(r, s)| (r, s.len())).collect()
    }

    /// L49–L54: commits `block` and moves to the next height.
    fn decide(&mut self, now: Duration, block: B, cert: QuorumCert, app: &mut impl App<B>) {
        app.commit(self.height, &block, &cert);
        self.height += 1;
        self.locked = None;
        self.valid = None;
        self.proposals.clear();
        self.roots.clear();
        self.prevotes.clear();
        self.precommits.clear();
        self.fired.clear();
        self.timers.clear();
        self.start_round(now, 0, app);
        for (from, message) in std::mem::take(&mut self.future) {
            self.on_message(now, from, message, app);
        }
    }

    /// L57–L67.
    fn fire(&mut self, now: Duration, timer: Timer, app: &mut impl App<B>) {
        let (h, r) = (self.height, self.round);
        let step = self.step;
        let timed_out = |s| Output::TimedOut {
            height: h,
            round: r,
            step: s,
        };
        match timer {
            Timer::Propose(th, tr) if (th, tr) == (h, r) && step == Step::Propose => {
                self.out.push(timed_out(step));
                self.vote(Kind::Prevote, None);
                self.step = Step::Prevote;
            }
            Timer::Prevote(th, tr) if (th, tr) == (h, r) && step == Step::Prevote => {
                self.out.push(timed_out(step));
                self.vote(Kind::Precommit, None);
                self.step = Step::Precommit;
            }
            Timer::Precommit(th, tr) if (th, tr) == (h, r) => {
                self.out.push(timed_out(step));
                self.start_round(now, r + 1, app);
            }
            _ => {}
        }
    }

    // ---- sending --------------------------------------------------------------------

    /// Sends again what this height needs from us: the round's proposal, and every vote
    /// we cast at this height — a proposal re-proposed with a valid round is accepted
    /// only by validators holding that round's prevotes (L28), so those must reach
    /// everyone too, not just the current round's (Tendermint's gossip does the same);
    /// and asks those ahead of us for their decisions.
    fn retransmit(&mut self) {
        if let Some((_, p)) = self.proposals.get(&self.round) {
            self.send(Output::Broadcast(Message::Proposal(p.clone())));
        }
        let mine: Vec<Vote> = [&self.prevotes, &self.precommits]
            .into_iter()
            .flat_map(|t| t.values())
            .flat_map(|t| t.of(self.me))
            .cloned()
            .collect();
        if !matches!(
            self.behaviour,
            Behaviour::WithholdVotes | Behaviour::Equivocate
        ) {
            for v in mine {
                self.send(Output::Broadcast(Message::Vote(v)));
            }
        }
        for v in self.proof_of_lock() {
            self.send(Output::Broadcast(Message::Vote(v)));
        }
        let ahead: BTreeSet<ValidatorId> = self.future.iter().map(|f| f.0).collect();
        for peer in ahead {
            self.send(Output::Send(
                peer,
                Message::Behind {
                    height: self.height,
                },
            ));
        }
    }

    /// The prevotes behind the current round's proposal when it re-proposes a value
    /// (its valid round's quorum): a validator locked in an earlier round accepts the
    /// proposal only once it holds them (L28), and some may have reached only us.
    fn proof_of_lock(&self) -> Vec<Vote> {
        let Some((hash, p)) = self.proposals.get(&self.round) else {
            return Vec::new();
        };
        let (Some(vr), Some(value)) = (p.valid_round, self.id(*hash)) else {
            return Vec::new();
        };
        self.prevotes
            .get(&vr)
            .map(|t| t.for_value(Some(value)).cloned().collect())
            .unwrap_or_default()
    }

    /// Asks `peer` for what it decided at our height, at most once per retransmit
    /// interval.
    fn ask(&mut self, now: Duration, peer: ValidatorId) {
        let due = self
            .asked
            .get(&peer)
            .is_none_or(|&at| now >= at + self.timeouts.retransmit);
        if due {
            self.asked.insert(peer, now);
            self.send(Output::Send(
                peer,
                Message::Behind {
                    height: self.height,
                },
            ));
        }
    }

    fn send(&mut self, output: Output<B>) {
        if self.behaviour != Behaviour::Silent {
            self.out.push(output);
        }
    }

    fn report(&mut self, fault: Fault) {
        if self.reported.insert(fault) {
            self.out.push(Output::Fault(fault));
        }
    }
}
