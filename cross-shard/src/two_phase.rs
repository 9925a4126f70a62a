//! Two-phase commit across shards (the `two-phase` protocol), as two pure state
//! machines: the beacon's [`Coordinator`] and each shard's [`Participant`] lock table.
//!
//! Under `receipts`, a cross-shard call is *eventually* atomic: the sender's shard
//! debits at once, and if the far side fails, a refund comes back later. Under
//! `two-phase`, nothing is final anywhere until the beacon has decided:
//!
//! ```text
//!  home shard H (sender)        beacon (coordinator)             participant D (object)
//!  ─────────────────────        ────────────────────             ──────────────────────
//!  block h: check, debit,
//!  prepare receipt ──header──►  notarize at b: open tx,
//!  (H's yes: it prepared)       deadline = b + N ───delivery───► block: keys free?
//!                                                                  no → wait (FIFO)
//!                                                                  yes → evaluate, lock
//!                               ◄──────────────── vote in header ─ vote yes(output) / no(why)
//!                               block b' ≤ b + N: all yes → Commit
//!                               a no → Abort(why); no vote by b + N → Abort(timeout)
//!  ◄────────────── beacon block b' carries the decision ──────────►
//!  Commit: take the output      (a vote after its tx is decided     Commit: apply, unlock
//!  Abort: refund the debit       is refused and counted)            Abort: give value back, unlock
//! ```
//!
//! **Why a lock never outlives its deadline.** The coordinator decides every transaction
//! in a beacon block no later than its deadline, and a participant reads beacon blocks in
//! height order. So once a participant has read block `b + N`, it has read the decision:
//! [`Participant::advance`] then finds nothing left to expire — and would release it if
//! it did. The same argument settles a prepare that reaches a congested participant only
//! after its deadline: it cannot have been committed (commit needs this participant's
//! vote), so it is aborted on the spot.
//!
//! **Wait, not abort, on a locked key.** A prepare whose keys are locked waits in a FIFO
//! queue until they are free or its deadline passes. Waiting lets a moderately contended
//! object serve one transaction after another without spurious aborts; the deadline
//! bounds the wait, and since every transaction locks keys on one participant only,
//! waits cannot form a cycle (no deadlock). On a very hot object most waiters time out:
//! that is the lesson of `scenarios/hot-pool.toml`.
//!
//! Each call of the native programs touches one remote shard, so an instance here has
//! one voting participant; the home shard's yes is its prepare.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;

use crate::ids::{ShardId, TxId};
use crate::tx::RejectReason;

/// Beacon blocks past its deadline a decided transaction is remembered, so that a late
/// vote is told from a forged one.
pub const REMEMBER_DECIDED: u64 = 64;

/// A participant's vote on one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// Ready to commit; `output` is what the commit will produce (a swap's output; 0
    /// when the call produces nothing).
    Yes {
        /// The output the home shard receives on commit.
        output: u64,
    },
    /// Cannot commit, for this reason.
    No(RejectReason),
}

/// The coordinator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every participant voted yes in time.
    Commit {
        /// The participant's output (see [`Vote::Yes`]).
        output: u64,
    },
    /// A participant voted no, or the deadline passed first.
    Abort(RejectReason),
}

/// One decision, for the home shard and the participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The transaction.
    pub tx: TxId,
    /// Its sender's shard.
    pub home: ShardId,
    /// The shard that voted.
    pub participant: ShardId,
    /// What happens.
    pub verdict: Verdict,
}

/// Why the coordinator refused a vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VoteRefused {
    /// No such transaction was ever prepared (or it was decided long ago).
    #[error("vote for a transaction that was never prepared")]
    Unknown,
    /// The voter is not the transaction's participant.
    #[error("vote from a shard that is not the transaction's participant")]
    NotParticipant,
    /// The transaction was already decided (its deadline passed, or it was voted on).
    #[error("vote after the transaction was decided")]
    Late,
    /// The participant already voted.
    #[error("second vote on the same transaction")]
    Duplicate,
}

#[derive(Debug, Clone, Copy)]
struct Instance {
    home: ShardId,
    participant: ShardId,
    vote: Option<Vote>,
}

/// The beacon's side: open transactions, their votes and deadlines (in beacon heights).
#[derive(Debug, Clone)]
pub struct Coordinator {
    /// Beacon blocks a transaction has to collect its votes.
    deadline_blocks: u64,
    open: HashMap<TxId, Instance>,
    /// Open transactions by deadline, for the timeouts.
    by_deadline: BTreeMap<u64, Vec<TxId>>,
    /// Transactions voted on since the last block.
    voted: Vec<TxId>,
    /// Decided transactions, remembered for `deadline_blocks + REMEMBER_DECIDED` blocks
    /// so that a late vote is told apart from a forged one.
    closed: HashMap<TxId, u64>,
    closed_order: VecDeque<(u64, TxId)>,
}

impl Coordinator {
    /// A coordinator giving each transaction `deadline_blocks` beacon blocks (≥ 1).
    pub fn new(deadline_blocks: u64) -> Coordinator {
        Coordinator {
            deadline_blocks: deadline_blocks.max(1),
            open: HashMap::new(),
            by_deadline: BTreeMap::new(),
            voted: Vec::new(),
            closed: HashMap::new(),
            closed_order: VecDeque::new(),
        }
    }

    /// The deadline of a transaction opened at beacon height `height`.
    pub fn deadline(&self, height: u64) -> u64 {
        height + self.deadline_blocks
    }

    /// Opens `tx` (prepared by `home`, to be voted on by `participant`) in beacon block
    /// `height`. A transaction already open or decided is not opened again (`false`).
    pub fn open(&mut self, tx: TxId, home: ShardId, participant: ShardId, height: u64) -> bool {
        if self.closed.contains_key(&tx) {
            return false;
        }
        let deadline = self.deadline(height);
        match self.open.entry(tx) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(Instance {
                    home,
                    participant,
                    vote: None,
                });
                self.by_deadline.entry(deadline).or_default().push(tx);
                true
            }
        }
    }

    /// Records `from`'s vote on `tx`, counted in the next block.
    pub fn vote(&mut self, from: ShardId, tx: TxId, vote: Vote) -> Result<(), VoteRefused> {
        let Some(instance) = self.open.get_mut(&tx) else {
            return Err(if self.closed.contains_key(&tx) {
                VoteRefused::Late
            } else {
                VoteRefused::Unknown
            });
        };
        if instance.participant != from {
            return Err(VoteRefused::NotParticipant);
        }
        if instance.vote.is_some() {
            return Err(VoteRefused::Duplicate);
        }
        instance.vote = Some(vote);
        self.voted.push(tx);
        Ok(())
    }

    /// The decisions of beacon block `height`: every transaction voted on since the last
    /// block, then every one whose deadline is `height` or earlier without a vote.
    pub fn decide(&mut self, height: u64) -> Vec<Decision> {
        let mut out = Vec::with_capacity(self.voted.len());
        for tx in std::mem::take(&mut self.voted) {
            if let Some(i) = self.open.remove(&tx) {
                let verdict = match i.vote {
                    Some(Vote::Yes { output }) => Verdict::Commit { output },
                    Some(Vote::No(why)) => Verdict::Abort(why),
                    None => continue,
                };
                out.push(self.close(tx, i, verdict, height));
            }
        }
        let due: Vec<u64> = self.by_deadline.range(..=height).map(|(&d, _)| d).collect();
        for d in due {
            for tx in self.by_deadline.remove(&d).unwrap_or_default() {
                if let Some(i) = self.open.remove(&tx) {
                    out.push(self.close(tx, i, Verdict::Abort(RejectReason::Timeout), height));
                }
            }
        }
        // Forget old decisions: a vote that late is just unknown.
        while let Some(&(at, tx)) = self.closed_order.front() {
            if at + self.deadline_blocks + REMEMBER_DECIDED >= height {
                break;
            }
            self.closed_order.pop_front();
            self.closed.remove(&tx);
        }
        out
    }

    fn close(&mut self, tx: TxId, i: Instance, verdict: Verdict, height: u64) -> Decision {
        self.closed.insert(tx, height);
        self.closed_order.push_back((height, tx));
        Decision {
            tx,
            home: i.home,
            participant: i.participant,
            verdict,
        }
    }

    /// Transactions open (prepared, not decided).
    pub fn open_count(&self) -> usize {
        self.open.len()
    }
}

/// A prepared transaction a participant holds until its decision.
#[derive(Debug, Clone)]
struct Held<K, P> {
    keys: Vec<K>,
    deadline: u64,
    payload: P,
    yes: bool,
}

/// What became of a prepare offered to a [`Participant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offered<P> {
    /// Voted (the keys were free, and locked on a yes).
    Voted(Vote),
    /// Waits for locked keys.
    Waiting,
    /// Arrived after its deadline: certainly aborted; settle it now.
    Expired(P),
}

/// What [`Participant::advance`] returns: the transactions past their deadline (with
/// their payloads), and the votes of waiting prepares that got their keys.
pub type Advanced<P> = (Vec<(TxId, P)>, Vec<(TxId, Vote)>);

/// A decision that cannot be applied: the coordinator committed a transaction this
/// participant did not vote yes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("commit of transaction {0} without this participant's yes vote")]
pub struct SplitDecision(pub TxId);

/// A shard's side: the lock table, the prepared transactions (with a payload `P` each
/// — what to apply or give back on the decision), and the prepares waiting for locks.
#[derive(Debug, Clone)]
pub struct Participant<K, P> {
    /// Last beacon height whose decisions have been applied.
    height: u64,
    locks: HashMap<K, TxId>,
    held: HashMap<TxId, Held<K, P>>,
    waiting: VecDeque<(TxId, Held<K, P>)>,
}

impl<K: Copy + Eq + Hash, P> Default for Participant<K, P> {
    fn default() -> Self {
        Participant {
            height: 0,
            locks: HashMap::new(),
            held: HashMap::new(),
            waiting: VecDeque::new(),
        }
    }
}

impl<K: Copy + Eq + Hash, P> Participant<K, P> {
    /// An empty participant at beacon height 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers a prepare for `tx` that touches `keys` and must be decided by `deadline`.
    /// When the keys are free, `evaluate` decides the vote now (a yes locks the keys);
    /// otherwise the prepare waits behind the lock holders.
    pub fn offer(
        &mut self,
        tx: TxId,
        keys: Vec<K>,
        deadline: u64,
        payload: P,
        evaluate: impl FnOnce(&P) -> Vote,
    ) -> Offered<P> {
        if deadline <= self.height {
            return Offered::Expired(payload);
        }
        let held = Held {
            keys,
            deadline,
            payload,
            yes: false,
        };
        if self.free(&held.keys) {
            Offered::Voted(self.vote(tx, held, evaluate))
        } else {
            self.waiting.push_back((tx, held));
            Offered::Waiting
        }
    }

    fn free(&self, keys: &[K]) -> bool {
        keys.iter().all(|k| !self.locks.contains_key(k))
    }

    fn vote(&mut self, tx: TxId, mut held: Held<K, P>, evaluate: impl FnOnce(&P) -> Vote) -> Vote {
        let vote = evaluate(&held.payload);
        held.yes = matches!(vote, Vote::Yes { .. });
        if held.yes {
            for &k in &held.keys {
                self.locks.insert(k, tx);
            }
        }
        self.held.insert(tx, held);
        vote
    }

    /// Applies a decision read in a beacon block: releases what `tx` held and returns
    /// its payload to settle. A decision for a transaction not held here (a duplicate,
    /// or an abort whose prepare has not arrived) returns `None`.
    pub fn decide(&mut self, tx: TxId, verdict: Verdict) -> Result<Option<P>, SplitDecision> {
        if let Some(held) = self.held.get(&tx) {
            if matches!(verdict, Verdict::Commit { .. }) && !held.yes {
                return Err(SplitDecision(tx));
            }
            let held = self.held.remove(&tx).map(|h| self.unlock(tx, h));
            return Ok(held);
        }
        if let Some(at) = self.waiting.iter().position(|w| w.0 == tx) {
            if matches!(verdict, Verdict::Commit { .. }) {
                return Err(SplitDecision(tx));
            }
            return Ok(self.waiting.remove(at).map(|(_, h)| h.payload));
        }
        Ok(None)
    }

    fn unlock(&mut self, tx: TxId, held: Held<K, P>) -> P {
        if held.yes {
            for k in &held.keys {
                if self.locks.get(k) == Some(&tx) {
                    self.locks.remove(k);
                }
            }
        }
        held.payload
    }

    /// Marks beacon block `height` as read (every decision in it applied). Returns the
    /// transactions whose deadline has passed — to settle as aborted, since a decision
    /// can no longer be coming — and the votes of waiting prepares whose keys are now
    /// free, in arrival order.
    pub fn advance(&mut self, height: u64, mut evaluate: impl FnMut(&P) -> Vote) -> Advanced<P> {
        self.height = self.height.max(height);
        let h = self.height;
        let mut expired: Vec<(TxId, P)> = Vec::new();
        let due: Vec<TxId> = self
            .held
            .iter()
            .filter(|(_, held)| held.deadline <= h)
            .map(|(&tx, _)| tx)
            .collect();
        for tx in due {
            if let Some(held) = self.held.remove(&tx) {
                expired.push((tx, self.unlock(tx, held)));
            }
        }
        let mut votes = Vec::new();
        for (tx, held) in std::mem::take(&mut self.waiting) {
            if held.deadline <= h {
                expired.push((tx, held.payload));
            } else if self.free(&held.keys) {
                let vote = self.vote(tx, held, &mut evaluate);
                votes.push((tx, vote));
            } else {
                self.waiting.push_back((tx, held));
            }
        }
        (expired, votes)
    }

    /// Transactions held (voted, undecided) and waiting.
    pub fn open_count(&self) -> usize {
        self.held.len() + self.waiting.len()
    }

    /// Whether `key` is locked now.
    pub fn is_locked(&self, key: &K) -> bool {
        self.locks.contains_key(key)
    }

    /// Keys locked now.
    pub fn locked_keys(&self) -> usize {
        self.locks.len()
    }

    /// The payloads of every transaction held or waiting (for the value they lock).
    pub fn payloads(&self) -> impl Iterator<Item = &P> {
        self.held
            .values()
            .map(|h| &h.payload)
            .chain(self.waiting.iter().map(|w| &w.1.payload))
    }

    /// The payload of a transaction held here (voted, undecided).
    pub fn payload(&self, tx: TxId) -> Option<&P> {
        self.held.get(&tx).map(|h| &h.payload)
    }

    /// Last beacon height read.
    pub fn height(&self) -> u64 {
        self.height
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const YES: Vote = Vote::Yes { output: 7 };

    #[test]
    fn all_yes_commits_a_no_aborts_silence_times_out() {
        let mut c = Coordinator::new(3);
        assert!(c.open(1, 0, 1, 10));
        assert!(c.open(2, 0, 1, 10));
        assert!(c.open(3, 0, 2, 10));
        assert!(!c.open(1, 0, 1, 11), "open once");
        c.vote(1, 1, YES).unwrap();
        c.vote(1, 2, Vote::No(RejectReason::Slippage)).unwrap();
        assert_eq!(c.vote(1, 1, YES), Err(VoteRefused::Duplicate));
        assert_eq!(c.vote(2, 2, YES), Err(VoteRefused::NotParticipant));
        assert_eq!(c.vote(1, 99, YES), Err(VoteRefused::Unknown));
        let d = c.decide(11);
        assert_eq!(d[0].verdict, Verdict::Commit { output: 7 });
        assert_eq!(d[1].verdict, Verdict::Abort(RejectReason::Slippage));
        assert_eq!(d.len(), 2);
        assert!(c.decide(12).is_empty(), "tx 3 has until block 13");
        let d = c.decide(13);
        assert_eq!(d[0].verdict, Verdict::Abort(RejectReason::Timeout));
        assert_eq!(c.vote(2, 3, YES), Err(VoteRefused::Late));
        assert_eq!(c.open_count(), 0);
    }

    #[test]
    fn participant_waits_for_a_lock_then_votes() {
        let mut p: Participant<u32, &str> = Participant::new();
        assert_eq!(p.offer(1, vec![9], 5, "a", |_| YES), Offered::Voted(YES));
        assert_eq!(p.offer(2, vec![9], 5, "b", |_| YES), Offered::Waiting);
        let no = Vote::No(RejectReason::AlreadyVoted);
        assert_eq!(p.offer(3, vec![8], 5, "c", |_| no), Offered::Voted(no));
        assert_eq!(p.locked_keys(), 1, "a no locks nothing");
        assert_eq!(p.decide(1, Verdict::Commit { output: 0 }), Ok(Some("a")));
        assert_eq!(
            p.decide(1, Verdict::Commit { output: 0 }),
            Ok(None),
            "idempotent"
        );
        assert_eq!(
            p.decide(3, Verdict::Commit { output: 0 }),
            Err(SplitDecision(3))
        );
        let (expired, votes) = p.advance(1, |_| YES);
        assert!(expired.is_empty());
        assert_eq!(votes, vec![(2, YES)]);
        let (expired, _) = p.advance(5, |_| YES);
        assert_eq!(expired.len(), 2, "the deadline releases whatever is left");
        assert_eq!((p.open_count(), p.locked_keys()), (0, 0));
        assert_eq!(p.offer(4, vec![9], 5, "d", |_| YES), Offered::Expired("d"));
    }

    /// One step of the simulated network.
    #[derive(Debug, Clone)]
    enum Step {
        /// The next prepare on a participant's channel arrives (the channel's sequence
        /// numbers make it in order and exactly once, however the network behaves).
        Prepare(usize),
        /// A vote in flight is delivered; kept for another delivery if `dup`.
        Vote(usize, bool),
        /// A vote in flight is lost.
        LoseVote(usize),
        /// The beacon makes a block.
        Block,
        /// A participant reads a beacon block: the next one, or an old one again.
        Read(usize, bool),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0usize..3).prop_map(Step::Prepare),
            3 => (0usize..8, any::<bool>()).prop_map(|(i, d)| Step::Vote(i, d)),
            1 => (0usize..8).prop_map(Step::LoseVote),
            2 => Just(Step::Block),
            3 => (0usize..3, any::<bool>()).prop_map(|(p, d)| Step::Read(p, d)),
        ]
    }

    /// A participant of the model: its state machine, its channel of prepares, how far
    /// it has read the beacon chain, and what it applied.
    struct Node {
        sm: Participant<u8, TxId>,
        channel: VecDeque<(TxId, Vec<u8>, u64)>,
        read: usize,
        applied: HashMap<TxId, Verdict>,
        voted_yes: BTreeSet<TxId>,
    }

    proptest! {
        /// Under lost, duplicated and reordered votes, beacon blocks read late or twice,
        /// and prepares arriving after their deadline: every transaction is decided once,
        /// committed only on a yes vote, applied by its participant exactly as decided,
        /// and at the end no lock is held and nothing waits.
        #[test]
        fn no_split_decision_no_lost_commit_locks_released(
            txs in proptest::collection::vec((0usize..3, proptest::collection::vec(0u8..4, 0..3), any::<bool>()), 1..24),
            steps in proptest::collection::vec(step(), 0..200),
            deadline in 1u64..5,
        ) {
            let mut c = Coordinator::new(deadline);
            let mut chain: Vec<Vec<Decision>> = Vec::new(); // chain[h - 1] = block h
            let mut nodes: Vec<Node> = (0..3).map(|_| Node {
                sm: Participant::new(),
                channel: VecDeque::new(),
                read: 0,
                applied: HashMap::new(),
                voted_yes: BTreeSet::new(),
            }).collect();
            let yes_of: HashMap<TxId, bool> = txs.iter().enumerate().map(|(i, t)| (i as TxId, t.2)).collect();
            // Every prepare is notarized (opened) in block 0; the participant learns
            // the deadline with the delivery.
            for (i, (p, keys, _)) in txs.iter().enumerate() {
                c.open(i as TxId, 9, *p as ShardId, 0);
                nodes[*p].channel.push_back((i as TxId, keys.clone(), c.deadline(0)));
            }
            let mut votes: Vec<(ShardId, TxId, Vote)> = Vec::new();
            let mut decided: HashMap<TxId, Verdict> = HashMap::new();
            let eval = |yes_of: &HashMap<TxId, bool>, tx: &TxId| {
                if yes_of[tx] { Vote::Yes { output: *tx } } else { Vote::No(RejectReason::Slippage) }
            };
            // Reads block `read + 1` (or re-reads an old one) on node `p`.
            let read = |n: &mut Node, chain: &[Vec<Decision>], again: bool, votes: &mut Vec<(ShardId, TxId, Vote)>, p: usize| -> Result<(), TestCaseError> {
                let h = if again && n.read > 0 { n.read } else if n.read < chain.len() { n.read + 1 } else { return Ok(()) };
                for d in chain[h - 1].iter().filter(|d| d.participant as usize == p) {
                    match n.sm.decide(d.tx, d.verdict) {
                        Err(e) => return Err(TestCaseError::fail(e.to_string())),
                        Ok(Some(_)) => {
                            prop_assert!(n.applied.insert(d.tx, d.verdict).is_none(), "applied twice");
                        }
                        Ok(None) => {}
                    }
                }
                n.read = n.read.max(h);
                let (expired, fresh) = n.sm.advance(h as u64, |tx| eval(&yes_of, tx));
                // Reading in order, a decision always comes first: nothing may expire.
                prop_assert!(expired.is_empty(), "outlived their deadline: {:?}", expired);
                for (tx, v) in fresh {
                    if matches!(v, Vote::Yes { .. }) { n.voted_yes.insert(tx); }
                    votes.push((p as ShardId, tx, v));
                }
                Ok(())
            };
            for s in steps {
                match s {
                    Step::Prepare(p) => {
                        let n = &mut nodes[p];
                        if let Some((tx, keys, d)) = n.channel.pop_front() {
                            match n.sm.offer(tx, keys, d, tx, |tx| eval(&yes_of, tx)) {
                                Offered::Voted(v) => {
                                    if matches!(v, Vote::Yes { .. }) { n.voted_yes.insert(tx); }
                                    votes.push((p as ShardId, tx, v));
                                }
                                Offered::Waiting => {}
                                Offered::Expired(_) => {
                                    prop_assert!(n.applied.insert(tx, Verdict::Abort(RejectReason::Timeout)).is_none());
                                }
                            }
                        }
                    }
                    Step::Vote(i, dup) if !votes.is_empty() => {
                        let i = i % votes.len();
                        let (from, tx, v) = if dup { votes[i] } else { votes.swap_remove(i) };
                        let _ = c.vote(from, tx, v);
                    }
                    Step::LoseVote(i) if !votes.is_empty() => {
                        let i = i % votes.len();
                        votes.swap_remove(i);
                    }
                    Step::Block => {
                        let h = chain.len() as u64 + 1;
                        let ds = c.decide(h);
                        for d in &ds {
                            prop_assert!(decided.insert(d.tx, d.verdict).is_none(), "decided twice");
                        }
                        chain.push(ds);
                    }
                    Step::Read(p, again) => read(&mut nodes[p], &chain, again, &mut votes, p)?,
                    _ => {}
                }
            }
            // Quiesce: blocks until every deadline has passed, every block read,
            // every prepare delivered (late ones expire on arrival).
            while (chain.len() as u64) < c.deadline(0) {
                let h = chain.len() as u64 + 1;
                let ds = c.decide(h);
                for d in &ds {
                    prop_assert!(decided.insert(d.tx, d.verdict).is_none(), "decided twice");
                }
                chain.push(ds);
            }
            for (p, n) in nodes.iter_mut().enumerate() {
                while n.read < chain.len() {
                    read(n, &chain, false, &mut votes, p)?;
                }
                while let Some((tx, keys, d)) = n.channel.pop_front() {
                    let offered = n.sm.offer(tx, keys, d, tx, |tx| eval(&yes_of, tx));
                    prop_assert!(matches!(offered, Offered::Expired(_)));
                    n.applied.insert(tx, Verdict::Abort(RejectReason::Timeout));
                }
            }
            prop_assert_eq!(c.open_count(), 0);
            for (i, (p, _, _)) in txs.iter().enumerate() {
                let tx = i as TxId;
                let verdict = decided[&tx];
                if let Verdict::Commit { output } = verdict {
                    prop_assert!(nodes[*p].voted_yes.contains(&tx), "commit without a yes");
                    prop_assert_eq!(output, tx);
                }
                // No lost commit, no split decision: the participant applied exactly the
                // coordinator's verdict.
                prop_assert_eq!(nodes[*p].applied.get(&tx), Some(&verdict), "tx {}", tx);
            }
            for n in &nodes {
                prop_assert_eq!((n.sm.open_count(), n.sm.locked_keys()), (0, 0));
            }
        }
    }
}
