//! The block pipeline as consensus's [`App`]: what a validator proposes, executes,
//! commits and hands to a validator catching up.
//!
//! ```text
//!  propose(h)  : gather (copying: the mempool keeps it) → execute → candidate
//!  execute(h,b): b is the candidate? its root : roll back, execute b's record → candidate
//!  commit(h,b) : b is not the candidate? roll back, execute it; keep the ledger;
//!                store, count, publish events, hand the header + certificate to the
//!                beacon link, drop b's transactions and receipts from the queues
//! ```
//!
//! **One candidate at a time.** The ledger holds at most one executed, undecided
//! block: its writes are kept since a [`crate::state::Ledger::checkpoint`], with the
//! few fields of the producer that a block moves (height, tip, channel counters).
//! Another block at the same height first rolls that back. In a healthy round the
//! proposer's block is the candidate of every validator and is committed as it stands,
//! so speculation costs nothing but the undo copies.
//!
//! **What a vote says.** `execute` returns the state root this validator computed when
//! its whole header equals the proposer's; the root it computed when the roots differ
//! (its vote then names another root, and the others report [`consensus::Fault::WrongRoot`]);
//! and nothing — the block is invalid — when the roots agree but something else in the
//! header does not (so that no vote certifies a receipts root its voter did not
//! compute).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use consensus::machine::App;
use consensus::{Block as _, QuorumCert, ValidatorId};
use cross_shard::sync::lock;
use cross_shard::{Hash, Header};
use prost::Message as _;
use rustc_hash::FxHashSet;
use shardsim_proto::convert::cert_to_wire;
use shardsim_proto::pb;

use super::block::CommitteeBlock;
use super::inputs;
use crate::block::BlockProducer;
use crate::block::events::{Work, publish_events};
use crate::block::producer::Built;
use crate::io::{CERTIFIED, EVENTS, RECORDS, Shared};

/// Decided blocks kept in memory for validators catching up (older ones are read from
/// the store, when there is one).
const DECIDED_KEPT: usize = 32;
/// Committed blocks listed in `Status` (what `consensus_safe` compares).
const RECENT_KEPT: usize = 64;

/// What [`Validator::execute_candidate`] executes.
enum Input<'a> {
    /// A block with its header: a peer's proposal, or a decided block.
    Block(&'a CommitteeBlock),
    /// This validator's own record, proposing, with its encoding.
    Own(Box<pb::BlockRecord>, Vec<u8>),
}

/// What a block moves besides the ledger, saved before executing a candidate.
#[derive(Debug)]
struct Saved {
    height: u64,
    last_hash: Hash,
    out_seq: Vec<u64>,
    applied_seq: Vec<u64>,
    acked: Vec<u64>,
}

impl Saved {
    /// What `p` holds now (after its last committed block).
    fn of(p: &BlockProducer) -> Saved {
        Saved {
            height: p.height,
            last_hash: p.last_hash,
            out_seq: p.out_seq.clone(),
            applied_seq: p.applied_seq.clone(),
            acked: p.acked.clone(),
        }
    }

    /// Puts `p` back where it was, its ledger rolled back to the checkpoint.
    fn restore(self, p: &mut BlockProducer) {
        p.ledger.rollback();
        p.height = self.height;
        p.last_hash = self.last_hash;
        p.out_seq = self.out_seq;
        p.applied_seq = self.applied_seq;
        p.acked = self.acked;
    }
}

/// The root a validator votes for a block it executed (`mine`, its own header for the
/// block's record, against the `proposed` one): its root when the headers agree, or
/// when only the roots differ (its vote then names another root, which the others
/// report); nothing when the roots agree but something else does not, so that no vote
/// certifies a receipts root its voter did not compute.
fn vote_root(mine: &Header, proposed: &Header) -> Option<Hash> {
    (mine == proposed || mine.state_root != proposed.state_root).then_some(mine.state_root)
}

/// What a validator that forges receipts ([`consensus::Behaviour::ForgeReceipts`])
/// does to the receipts it proposes: raises every amount it applies, minting value.
fn forge(proven: &mut [pb::ProvenReceipts]) {
    for p in proven {
        let range = p.skip as usize..p.skip as usize + p.take as usize;
        if let Some(batch) = p.delivery.as_mut().and_then(|d| d.batch.as_mut()) {
            for a in batch.amount.get_mut(range).into_iter().flatten() {
                *a = a.saturating_add(1_000_000);
            }
        }
    }
}

/// The executed, undecided block.
struct Candidate {
    block: CommitteeBlock,
    /// The header this validator computed from the block's record.
    mine: Header,
    built: Built,
    saved: Saved,
    /// When this validator first had the block (proposed it, or executed it), on the
    /// shard's clock.
    seen: Duration,
}

/// A validator's chain, as consensus drives it.
pub struct Validator {
    pub(super) producer: BlockProducer,
    pub(super) shared: Arc<Shared>,
    me: ValidatorId,
    candidate: Option<Candidate>,
    decided: VecDeque<(CommitteeBlock, QuorumCert)>,
    /// A failure that must stop the validator (its store, or its execution diverging
    /// from a certified block); the loop returns it.
    pub(super) error: Option<crate::Error>,
    /// When this validator first had the last committed block (proposed or executed
    /// it): proposals are paced one block interval apart from there, so that a
    /// committee under load makes a block per interval as a shard alone does, the
    /// consensus rounds inside the interval rather than added to it. `None`: no wait.
    last_start: Option<Duration>,
    /// Committed blocks this validator proposed.
    pub(super) proposed_committed: u64,
    /// Peers' proposals refused for their inputs ([`inputs::check`]).
    pub(super) inputs_refused: u64,
    /// The last committed blocks' (height, hash, state root), for `Status`.
    pub(super) recent: VecDeque<(u64, Hash, Hash)>,
    /// Every block this validator executed, summed (see [`Work`]).
    pub work: Work,
}

impl Validator {
    /// Validator `me` over `producer`, which holds the committed chain.
    pub fn new(producer: BlockProducer, shared: Arc<Shared>, me: ValidatorId) -> Validator {
        // After a restart, the chain this validator stored is what it reports.
        let mut recent = VecDeque::new();
        if let Some(store) = &shared.store {
            let from = producer.height.saturating_sub(RECENT_KEPT as u64);
            let _ = store.try_for_each(CERTIFIED, from, |height, c: pb::CertifiedHeader| {
                if let Some(h) = c.header.as_ref().and_then(|h| Header::try_from(h).ok()) {
                    recent.push_back((height, h.hash(), h.state_root));
                }
                Ok::<_, shardsim_proto::store::StoreError>(())
            });
        }
        let last_start = Some(shared.clock.now());
        Validator {
            producer,
            shared,
            me,
            candidate: None,
            decided: VecDeque::new(),
            error: None,
            last_start,
            proposed_committed: 0,
            inputs_refused: 0,
            recent,
            work: Work::default(),
        }
    }

    fn behaviour(&self) -> consensus::Behaviour {
        self.shared
            .config
            .committee
            .as_ref()
            .map_or(consensus::Behaviour::Honest, |c| c.behaviour)
    }

    /// The height of the last committed block.
    pub fn committed_height(&self) -> u64 {
        self.candidate
            .as_ref()
            .map_or(self.producer.height, |c| c.saved.height)
    }

    /// When this validator may next propose (one block interval after the last block
    /// began), if it must wait at all.
    pub fn may_propose_at(&self) -> Option<Duration> {
        let interval = self.shared.config.block_interval?;
        self.last_start.map(|at| at + interval)
    }

    /// Whether anything waits for a block: transactions, receipts, bad signatures, an
    /// epoch to switch to, accounts let go and not yet exported.
    pub fn has_work(&self) -> bool {
        let ledger = &self.producer.ledger;
        let inbound_work = || {
            let inbound = lock(&self.shared.inbound);
            !inbound.queue.is_empty() || inbound.next_epoch(ledger.epoch()).is_some()
        };
        !lock(&self.shared.mempool).is_empty()
            || inbound_work()
            || !lock(&self.shared.bad_signatures).is_empty()
            || ledger.exporting() > 0
    }

    /// Returns the ledger and the producer to the committed chain, as between two
    /// blocks (a commit of the candidate set aside executes it again).
    pub fn set_aside(&mut self) {
        if let Some(c) = self.candidate.take() {
            c.saved.restore(&mut self.producer);
        }
    }

    /// Executes a block after the committed chain and makes it the candidate: a
    /// peer's (or a decided) block, or this validator's own record, whose header is
    /// still to be made. Returns the header this validator computed, or `None` when
    /// the record cannot be a block there (a faulty proposer's).
    fn execute_candidate(&mut self, input: Input<'_>) -> Option<Header> {
        // With the bytes the header's `inputs` hashes.
        let (record, bytes) = match &input {
            Input::Block(b) => (b.record(), b.record_bytes()),
            Input::Own(r, bytes) => (&**r, bytes.as_slice()),
        };
        self.set_aside();
        let p = &mut self.producer;
        let saved = Saved::of(p);
        p.ledger.checkpoint();
        let height = p.height + 1;
        let built = match p.execute_record(&self.shared, height, record, Some(bytes)) {
            Ok(built) => built,
            Err(e) => {
                saved.restore(p);
                match e {
                    crate::Error::Corrupt { why, .. } => {
                        tracing::warn!(height, %why, "a proposed block cannot be executed");
                    }
                    other => self.fail(other),
                }
                return None;
            }
        };
        self.work += Work::of(&built.events);
        let mine = built
            .submission
            .header
            .as_ref()
            .and_then(|h| Header::try_from(h).ok())?;
        let block = match input {
            Input::Block(b) => b.clone(),
            Input::Own(record, bytes) => CommitteeBlock::made(bytes, *record, mine),
        };
        self.candidate = Some(Candidate {
            block,
            mine,
            built,
            saved,
            seen: self.shared.clock.now(),
        });
        Some(mine)
    }

    fn fail(&mut self, e: crate::Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// The candidate, if it is `block`.
    fn candidate_of(&self, block: &CommitteeBlock) -> Option<&Candidate> {
        self.candidate
            .as_ref()
            .filter(|c| c.block.hash() == block.hash())
    }

    /// After a commit: the block's transactions, bad signatures and receipts leave the
    /// queues of this validator (whoever proposed them), and its transactions are
    /// remembered so that a late copy is not admitted again (`moved`: those handed back
    /// because their sender had left, remembered for this placement epoch only).
    fn retire(&mut self, block: &CommitteeBlock, moved: &[cross_shard::TxId]) {
        let shared = &self.shared;
        let epoch = self.producer.ledger.epoch();
        let txs = block.record().txs.as_ref().map_or(&[][..], |t| &t.id[..]);
        let bad: FxHashSet<_> = block.record().bad_signatures.iter().copied().collect();
        {
            // Under the mempool's lock, as Submit checks a copy against `recent`.
            let mut mempool = lock(&shared.mempool);
            let before = mempool.len();
            // The mempools of a committee hold the same sequence, so a block is almost
            // always the front of this one: then it is cut off, else sought by id.
            let front =
                txs.len() <= mempool.len() && mempool.iter().zip(txs).all(|(t, &id)| t.id == id);
            if front {
                mempool.drain(..txs.len());
            } else {
                let ids: FxHashSet<_> = txs.iter().copied().collect();
                mempool.retain(|t| !ids.contains(&t.id));
            }
            shared.space.add_permits(before - mempool.len());
            let mut recent = lock(&shared.recent);
            recent.push(txs, moved, epoch);
            recent.push(&block.record().bad_signatures, &[], epoch);
            drop(recent);
            lock(&shared.bad_signatures).retain(|id| !bad.contains(id));
            let mut signed = lock(&shared.signed);
            if !signed.is_empty() {
                for id in txs.iter().chain(&block.record().bad_signatures) {
                    signed.remove(id);
                }
            }
        }
        // Receipts: per source, the block applied everything below `applied_seq`, so
        // those go from the queue, and a delivery of them still on its way is a
        // duplicate.
        let mut inbound = lock(&shared.inbound);
        let applied = &self.producer.applied_seq;
        inbound.queue.retain(|q| {
            applied
                .get(q.src as usize)
                .is_none_or(|&next| q.seq >= next)
        });
        for (src, &next) in self.producer.applied_seq.iter().enumerate() {
            inbound.channels.skip_to(src as u32, next);
            inbound.applied(src as u32, next);
        }
    }
}

impl App<CommitteeBlock> for Validator {
    fn execute(&mut self, height: u64, block: &CommitteeBlock) -> Option<Hash> {
        if let Some(c) = self.candidate_of(block) {
            return vote_root(&c.mine, block.header());
        }
        if self.error.is_some() || height != self.committed_height() + 1 {
            return None;
        }
        let h = block.header();
        if h.shard != self.shared.config.shard || h.height != height {
            return None;
        }
        // Against the committed chain's channels, not a candidate's.
        let applied = self
            .candidate
            .as_ref()
            .map_or(&self.producer.applied_seq, |c| &c.saved.applied_seq);
        if let Err(why) = inputs::check(&self.shared, applied, block.record()) {
            tracing::warn!(height, %why, "a proposal's inputs refused");
            self.inputs_refused += 1;
            return None;
        }
        let mine = self.execute_candidate(Input::Block(block))?;
        vote_root(&mine, h)
    }

    fn propose(&mut self, height: u64) -> Option<CommitteeBlock> {
        if self.error.is_some() || height != self.committed_height() + 1 {
            return None;
        }
        // Paced like a shard alone: at most one block per interval.
        if self
            .may_propose_at()
            .is_some_and(|at| self.shared.clock.now() < at)
        {
            return None;
        }
        self.set_aside();
        let mut inputs = self.producer.gather(&self.shared, false)?;
        if self.behaviour() == consensus::Behaviour::ForgeReceipts {
            forge(&mut inputs.proofs.receipts);
        }
        let record = self.producer.record(&inputs);
        let bytes = record.encode_to_vec();
        self.execute_candidate(Input::Own(Box::new(record), bytes))?;
        self.candidate.as_ref().map(|c| c.block.clone())
    }

    fn conflicting(&mut self, height: u64, block: &CommitteeBlock) -> Option<CommitteeBlock> {
        // Another block with the same inputs but the last transaction: as valid as the
        // first, so that only equivocation can tell them apart.
        let mut record = block.record().clone();
        let txs = record.txs.as_mut()?;
        let n = txs.id.len().checked_sub(1)?;
        let mut batch = pb::TxBatch::default();
        let mut all = Vec::new();
        shardsim_proto::convert::block_txs_from_wire(txs, &mut all).ok()?;
        for t in &all[..n] {
            shardsim_proto::convert::push_tx(&mut batch, t);
        }
        let width = cross_shard::signing::SIGNATURE_LEN;
        batch.signatures = txs.signatures[..txs.signatures.len().min(n * width)].to_vec();
        *txs = batch;
        if height != self.committed_height() + 1 {
            return None;
        }
        let bytes = record.encode_to_vec();
        self.execute_candidate(Input::Own(Box::new(record), bytes))?;
        self.candidate.as_ref().map(|c| c.block.clone())
    }

    fn commit(&mut self, height: u64, block: &CommitteeBlock, cert: &QuorumCert) {
        if self.error.is_some() || height != self.committed_height() + 1 {
            return;
        }
        if self.candidate_of(block).is_none() {
            self.execute_candidate(Input::Block(block));
        }
        let Some(c) = self
            .candidate
            .take()
            .filter(|c| c.block.hash() == block.hash())
        else {
            self.fail(crate::Error::Corrupt {
                height,
                why: "the committee decided a block this validator cannot execute".into(),
            });
            return;
        };
        if c.mine != *block.header() {
            let mine = c.mine.hash();
            // Nothing of it is kept: the validator stops on the committed chain.
            self.candidate = Some(c);
            self.set_aside();
            self.fail(crate::Error::Diverged {
                height,
                certified: block.hash(),
                mine,
            });
            return;
        }
        self.producer.ledger.keep();
        let Candidate { built, seen, .. } = c;
        let proposer = self
            .shared
            .config
            .committee
            .as_ref()
            .map_or(0, |k| k.committee.proposer(height, cert.round));
        if proposer == self.me {
            self.proposed_committed += 1;
        }
        let mut events = built.events;
        events.consensus = Some(pb::BlockConsensus {
            round: cert.round,
            proposer: u32::from(proposer),
            commit_us: self.shared.clock.now().saturating_sub(seen).as_micros() as u64,
            validator: u32::from(self.me),
        });
        self.retire(block, events.moved.as_ref().map_or(&[][..], |m| &m.id[..]));
        {
            let now = self.shared.clock.now();
            let inbound = lock(&self.shared.inbound);
            events.delayed_receipts = inbound.queue.len() as u64;
            events.oldest_delayed_us = inbound
                .queue
                .front()
                .map_or(0, |q| now.saturating_sub(q.arrived).as_micros() as u64);
        }
        events.mempool_len = lock(&self.shared.mempool).len() as u64;
        self.producer.count(&self.shared, &built.delta);
        if let Some(store) = &self.shared.store {
            let certified = pb::CertifiedHeader {
                header: Some(pb::Header::from(block.header())),
                cert: Some(cert_to_wire(cert)),
            };
            let written = store.append(
                height,
                &[
                    (RECORDS, block.record_bytes()),
                    (EVENTS, &events.encode_to_vec()),
                    (CERTIFIED, &certified.encode_to_vec()),
                ],
            );
            if let Err(e) = written
                .map_err(crate::Error::from)
                .and_then(|()| self.producer.snapshot_if_due(&self.shared, &certified))
            {
                self.fail(e);
                return;
            }
        }
        publish_events(&self.shared, &events);
        let mut submission = built.submission;
        submission.cert = Some(cert_to_wire(cert));
        lock(&self.shared.outgoing).push(height, submission);
        self.shared.outgoing_ready.notify_one();
        self.decided.push_back((block.clone(), cert.clone()));
        if self.decided.len() > DECIDED_KEPT {
            self.decided.pop_front();
        }
        self.recent
            .push_back((height, block.hash(), block.header().state_root));
        if self.recent.len() > RECENT_KEPT {
            self.recent.pop_front();
        }
        self.last_start = Some(seen);
    }

    fn decided(&self, height: u64) -> Option<(CommitteeBlock, QuorumCert)> {
        if let Some(d) = self.decided.iter().find(|d| d.1.height == height) {
            return Some(d.clone());
        }
        let store = self.shared.store.as_ref()?;
        let record: pb::BlockRecord = store.get(RECORDS, height).ok()??;
        let certified: pb::CertifiedHeader = store.get(CERTIFIED, height).ok()??;
        let header = Header::try_from(certified.header.as_ref()?).ok()?;
        let cert = shardsim_proto::convert::cert_from_wire(certified.cert.as_ref()?).ok()?;
        Some((CommitteeBlock::of_record(&record, header).ok()?, cert))
    }
}

#[cfg(test)]
mod tests {

    use consensus::machine::App;
    use consensus::{Block as _, QuorumCert};
    use cross_shard::sync::lock;
    use cross_shard::{Hash, Header, Tx};

    use super::*;
    use crate::io::Shared;
    use crate::protocol::{HeldProof, QueuedReceipt};

    /// Validator `me` of shard 0's committee of four, with `txs` in its mempool.
    fn validator(me: u16, txs: &[Tx]) -> Validator {
        let config = inputs::tests::config(me, false);
        let mut ledger = Shared::genesis(&config).unwrap();
        let shared = Arc::new(Shared::new(config, &mut ledger, None));
        lock(&shared.mempool).extend(txs.iter().copied());
        let producer = BlockProducer::new(ledger, &shared.config).unwrap();
        let mut v = Validator::new(producer, shared, me);
        v.last_start = None;
        v
    }

    fn transfers() -> Vec<Tx> {
        let p = cross_shard::Placement::new(2).unwrap();
        let mine = p.accounts_of(0, 100);
        (0..4)
            .map(|i| Tx {
                id: i,
                from: mine[i as usize],
                nonce: 0,
                call: cross_shard::Call::Transfer {
                    to: mine[i as usize + 4],
                    asset: 0,
                    amount: 5,
                },
            })
            .collect()
    }

    /// A certificate for `block` (unsigned: the app does not check it, the machine has).
    fn cert(block: &CommitteeBlock) -> QuorumCert {
        QuorumCert {
            height: block.header().height,
            round: 0,
            value: consensus::Value::of_header(block.header()),
            signatures: Vec::new(),
        }
    }

    /// `block` with its header changed by `f` (and its hash with it).
    fn tampered(block: &CommitteeBlock, f: impl Fn(&mut Header)) -> CommitteeBlock {
        let mut h = *block.header();
        f(&mut h);
        CommitteeBlock::new(block.record_bytes().to_vec(), h).unwrap()
    }

    #[test]
    fn a_validator_votes_its_own_root_refuses_a_header_it_did_not_compute_and_commits_from_its_queues()
     {
        let txs = transfers();
        let mut proposer = validator(1, &txs);
        let block = proposer.propose(1).expect("work waits");
        assert!(
            lock(&proposer.shared.mempool).len() == txs.len(),
            "proposing copies: the mempool keeps its transactions until the commit"
        );
        let root = block.header().state_root;
        assert_eq!(
            proposer.execute(1, &block),
            Some(root),
            "its own, not executed again"
        );

        let mut other = validator(2, &txs);
        assert_eq!(
            other.execute(1, &block),
            Some(root),
            "same inputs, same root"
        );
        // Another receipts root under the same state root: no vote for it.
        let receipts = tampered(&block, |h| h.receipts_root = Hash([7; 32]));
        assert_eq!(other.execute(1, &receipts), None);
        // Another state root: this validator votes for the root *it* computed.
        let wrong = tampered(&block, |h| h.state_root = Hash([7; 32]));
        assert_eq!(other.execute(1, &wrong), Some(root));
        // Executing the others rolled the ledger back each time: the honest block
        // still gives the same root, and commits.
        assert_eq!(other.execute(1, &block), Some(root));
        other.commit(1, &block, &cert(&block));
        assert!(other.error.is_none(), "{:?}", other.error);
        assert_eq!(other.committed_height(), 1);
        assert!(
            lock(&other.shared.mempool).is_empty(),
            "committed: gone from the mempool"
        );
        assert!(lock(&other.shared.recent).contains(txs[0].id));
        let out = lock(&other.shared.outgoing);
        let (height, submission, _) = out.unnotarized.front().unwrap();
        assert_eq!(*height, 1);
        assert!(
            submission.cert.is_some(),
            "the header leaves with its certificate"
        );
        drop(out);
        assert_eq!(lock(&other.shared.counters).committed, txs.len() as u64);
        // A late copy of a committed transaction is not proposed again.
        assert_eq!(other.decided(1).map(|d| d.0.hash()), Some(block.hash()));
        assert!(other.propose(2).is_none(), "nothing left to propose");
    }

    #[test]
    fn a_commit_of_a_block_this_validator_computed_otherwise_stops_it() {
        let txs = transfers();
        let mut proposer = validator(1, &txs);
        let block = proposer.propose(1).unwrap();
        let wrong = tampered(&block, |h| h.state_root = Hash([7; 32]));
        let mut other = validator(2, &txs);
        other.commit(1, &wrong, &cert(&wrong));
        assert!(
            matches!(other.error, Some(crate::Error::Diverged { height: 1, .. })),
            "{:?}",
            other.error
        );
        assert_eq!(other.committed_height(), 0, "nothing of it was kept");
    }

    /// `v` admits `d` as its beacon link would (the link's own checks passed).
    fn admit(v: &Validator, d: &pb::ReceiptDelivery) {
        let batch = cross_shard::ReceiptBatch::try_from(d.batch.as_ref().unwrap()).unwrap();
        let mut inbound = lock(&v.shared.inbound);
        for (&receipt, seq) in batch.receipts.iter().zip(batch.first_seq..) {
            inbound.queue.push_back(QueuedReceipt {
                src: batch.src,
                seq,
                receipt,
                arrived: v.shared.clock.now(),
                notarized: 1,
            });
        }
        inbound.proofs[batch.src as usize].push_back(HeldProof {
            first_seq: batch.first_seq,
            end_seq: batch.end_seq(),
            delivery: Arc::new(d.clone()),
        });
    }

    #[test]
    fn a_proposal_of_receipts_is_voted_for_by_proof_and_one_with_made_up_receipts_is_not() {
        let to = cross_shard::Placement::new(2).unwrap().accounts_of(0, 100)[5];
        let delivery = inputs::tests::delivery(0, 3, to);
        let mut proposer = validator(1, &[]);
        admit(&proposer, &delivery);
        let block = proposer.propose(1).expect("receipts wait");
        assert_eq!(block.record().proven.len(), 1, "proven, not in columns");
        // A validator that never received the delivery checks it from the proposal.
        let mut other = validator(2, &[]);
        let root = other
            .execute(1, &block)
            .expect("proven receipts are voted for");
        other.commit(1, &block, &cert(&block));
        assert!(other.error.is_none(), "{:?}", other.error);
        assert_eq!(root, block.header().state_root);
        // One that holds its own candidate (the same receipts and a transaction, from
        // an earlier round) checks against its committed channels, not the candidate's.
        let mut third = validator(0, &transfers()[..1]);
        admit(&third, &delivery);
        let own = third.propose(1).unwrap();
        assert_ne!(own.hash(), block.hash());
        assert_eq!(
            third.execute(1, &block),
            Some(root),
            "a later round's proposal"
        );

        // A faulty proposer mints: the amounts raised after the source committed.
        let mut minted = delivery.clone();
        for a in &mut minted.batch.as_mut().unwrap().amount {
            *a = 1_000_000;
        }
        let mut liar = validator(3, &[]);
        admit(&liar, &minted);
        let forged = liar.propose(1).expect("it trusts its own queue");
        let mut honest = validator(0, &[]);
        assert_eq!(
            honest.execute(1, &forged),
            None,
            "no vote for made-up receipts"
        );
        assert_eq!(honest.committed_height(), 0);
    }
}
