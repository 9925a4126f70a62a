//! A shard's part in two-phase commit (`cross_shard::two_phase` has the protocol).
//!
//! A shard plays two roles, often in the same block:
//!
//! ```text
//!  as HOME (the sender's shard)             as PARTICIPANT (the object's shard)
//!  ────────────────────────────             ───────────────────────────────────
//!  execute: sender's half (debit, nonce);   prepare receipt arrives (its value is
//!  the rest of the call leaves as a         now held here, in no balance):
//!  prepare receipt; remember (sender,       keys free? dry-run the call on a scratch
//!  effect) until the decision               view → vote yes(output) / no(why); a yes
//!                                           locks the keys it decided on
//!  decision arrives (beacon block):         decision arrives:
//!   Commit → apply the call's return         Commit → apply the call for real (the
//!            (a swap's output, a minted               locks kept its inputs unchanged)
//!            NFT), if any                     Abort  → release; the held value goes
//!   Abort  → refund the debit / the NFT               back home
//! ```
//!
//! **Locks.** The participant locks the keys its vote depends on: a swap's pool (the
//! output and the slippage check read its reserves) and a voter's ballot (whether the
//! vote is a second one). Credits, received NFTs and mints cannot fail once prepared —
//! a credit commutes with every other credit, a mint's serial is its transaction's
//! nonce — so they lock nothing and a hot recipient does not serialize.
//!
//! **Value.** What settles between the two shards after the decision (a swap's output
//! going home, a refund) is counted on the channel as a receipt emitted by the
//! participant and applied by the home shard, from the same [`back`] effect on both
//! sides, so the audit's `emitted − applied` is the value between them in flight.
//! Value held by undecided prepares is reported as `locked`.

use std::collections::HashMap;
use std::time::Duration;

use cross_shard::two_phase::{Decision, Offered, Participant, Verdict, Vote};
use cross_shard::{AccountId, Effect, NftId, Receipt, ShardId, TxId};

use crate::exec::{BlockExecutor, BlockOutput, Mismatch};
use crate::programs::{self, End};
use crate::state::{Key, Ledger, State, World};

/// A prepare held by the participant until its decision.
#[derive(Debug, Clone, Copy)]
pub struct Prepared {
    /// The home shard.
    pub src: ShardId,
    /// The transaction and the rest of its call.
    pub receipt: Receipt,
    /// When it was admitted (on the shard's clock), for the lock wait.
    pub arrived: Duration,
}

/// Per asset, per peer shard: (receipts, value) — the channel counters of a block.
pub type ChannelCounts = [Vec<(u64, u64)>];

/// The two-phase state of one shard.
#[derive(Debug)]
pub struct TwoPhase {
    /// Beacon blocks a transaction has, from the block that notarized its prepare.
    deadline: u64,
    /// The participant's lock table and held prepares.
    participant: Participant<Key, Prepared>,
    /// As the home shard: prepared transactions awaiting their decision, with their
    /// sender and the effect sent.
    awaiting: HashMap<TxId, (AccountId, Effect)>,
    /// Votes for the next header.
    votes: Vec<(TxId, Vote)>,
    /// Decisions that contradict this shard's vote, refused (never, with an honest
    /// beacon).
    pub decisions_refused: u64,
}

/// The effect the home shard applies when `verdict` ends the call whose rest was
/// `effect`, sent by `from`: a swap's output or a minted NFT on commit; on abort, the
/// value or the NFT the sender's half took. `None`: nothing goes home.
pub fn back(world: &World, from: AccountId, effect: Effect, verdict: Verdict) -> Option<Effect> {
    match (verdict, effect) {
        (
            Verdict::Commit { output },
            Effect::Swap {
                trader,
                pool,
                asset_in,
                ..
            },
        ) => {
            let (a, b) = world.pool_assets(pool);
            let asset = if asset_in == a { b } else { a };
            Some(Effect::Credit {
                to: trader,
                asset,
                amount: output,
            })
        }
        (
            Verdict::Commit { .. },
            Effect::Mint {
                minter,
                collection,
                serial,
            },
        ) => Some(Effect::Nft {
            to: minter,
            nft: NftId { minter, serial },
            collection,
        }),
        (Verdict::Abort(reason), Effect::Credit { asset, amount, .. }) => Some(Effect::Refund {
            to: from,
            asset,
            amount,
            reason,
        }),
        (
            Verdict::Abort(reason),
            Effect::Swap {
                trader,
                asset_in,
                amount_in,
                ..
            },
        ) => Some(Effect::Refund {
            to: trader,
            asset: asset_in,
            amount: amount_in,
            reason,
        }),
        (
            Verdict::Abort(_),
            Effect::Nft {
                nft, collection, ..
            },
        ) => Some(Effect::Nft {
            to: from,
            nft,
            collection,
        }),
        _ => None,
    }
}

/// Counts one settlement of `effect` on a channel end.
fn count(counts: &mut ChannelCounts, peer: ShardId, effect: &Effect) {
    let (asset, value) = effect.value().unwrap_or_default();
    if let Some(c) = counts
        .get_mut(asset as usize)
        .and_then(|a| a.get_mut(peer as usize))
    {
        c.0 += 1;
        c.1 = c.1.saturating_add(value);
    }
}

/// The keys a prepare's vote depends on (see the module notes).
fn lock_keys(effect: &Effect) -> Vec<Key> {
    match *effect {
        Effect::Swap { pool, .. } => vec![Key::Pool(pool)],
        Effect::Vote {
            voter, proposal, ..
        } => vec![Key::Ballot(proposal, voter)],
        _ => Vec::new(),
    }
}

/// Delivers one decided effect by the executor's rule.
fn deliver_one(
    executor: &mut dyn BlockExecutor,
    ledger: &mut Ledger,
    tx: TxId,
    effect: Effect,
) -> Result<(), Mismatch> {
    executor.deliver(ledger, &[(tx, effect)], &mut Vec::with_capacity(1))
}

/// The vote on a prepare: what delivering it here would do, dry-run by the executor's
/// rule (the programs' own code, or their contracts) on a view of the ledger whose
/// writes are thrown away.
fn evaluate(executor: &dyn BlockExecutor, ledger: &Ledger, p: &Prepared) -> Vote {
    match executor.dry_deliver(ledger, p.receipt.tx, p.receipt.effect) {
        End::Done => Vote::Yes { output: 0 },
        End::Remote {
            effect: Effect::Credit { amount, .. },
            ..
        } => Vote::Yes { output: amount },
        End::Remote {
            effect: Effect::Refund { reason, .. },
            ..
        }
        | End::Failed(reason)
        | End::Refunded(reason) => Vote::No(reason),
        End::Remote { .. } => Vote::Yes { output: 0 },
        End::Misplaced => Vote::No(cross_shard::RejectReason::UnknownObject),
    }
}

impl TwoPhase {
    /// A shard's two-phase state at genesis.
    pub fn new(deadline: u64) -> TwoPhase {
        TwoPhase {
            deadline,
            participant: Participant::new(),
            awaiting: HashMap::new(),
            votes: Vec::new(),
            decisions_refused: 0,
        }
    }

    /// Applies the decisions of the beacon blocks read up to `height` (as home shard or
    /// participant), then retries the prepares waiting for locks. `applied` and
    /// `emitted` count the settlements on their channels.
    pub fn decide(
        &mut self,
        executor: &mut dyn BlockExecutor,
        ledger: &mut Ledger,
        decisions: &[Decision],
        (height, now): (u64, Duration),
        (applied, emitted): (&mut ChannelCounts, &mut ChannelCounts),
        out: &mut BlockOutput,
    ) -> Result<(), Mismatch> {
        let me = ledger.shard();
        for d in decisions {
            if d.participant == me {
                match self.participant.decide(d.tx, d.verdict) {
                    Ok(Some(p)) => {
                        self.settle_participant(executor, ledger, p, d.verdict, emitted, out)?
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.decisions_refused += 1;
                        tracing::warn!("decision refused: {e}");
                    }
                }
            }
            if d.home == me {
                if let Some((from, effect)) = self.awaiting.remove(&d.tx) {
                    if let Some(effect) = back(ledger.world(), from, effect, d.verdict) {
                        deliver_one(executor, ledger, d.tx, effect)?;
                        count(applied, d.participant, &effect);
                        out.settlements_applied += 1;
                    }
                    out.decided(d.tx, d.verdict);
                    if let Verdict::Abort(_) = d.verdict {
                        out.home_aborts += 1;
                    }
                }
            }
        }
        let (expired, votes) = self
            .participant
            .advance(height, |p| evaluate(&*executor, &*ledger, p));
        for (_, p) in expired {
            let timeout = Verdict::Abort(cross_shard::RejectReason::Timeout);
            self.settle_participant(executor, ledger, p, timeout, emitted, out)?;
        }
        // Every vote from the waiting line waited for a lock: report how long.
        for (tx, vote) in votes {
            if let Some(p) = self.participant.payload(tx) {
                let waited = now.saturating_sub(p.arrived);
                out.lock_wait_us.push(waited.as_micros() as u64);
            }
            self.votes.push((tx, vote));
        }
        Ok(())
    }

    /// Offers newly admitted prepares — each with its source, and in `meta` the beacon
    /// height that delivered it and when it arrived — in channel order; counts their
    /// value as applied on their channel: it is held here now.
    pub fn prepare(
        &mut self,
        (executor, ledger): (&mut dyn BlockExecutor, &mut Ledger),
        prepares: &[(ShardId, Receipt)],
        meta: &[(u64, Duration)],
        applied: &mut ChannelCounts,
        emitted: &mut ChannelCounts,
        out: &mut BlockOutput,
    ) -> Result<(), Mismatch> {
        for (&(src, receipt), &(notarized, arrived)) in prepares.iter().zip(meta) {
            count(applied, src, &receipt.effect);
            let p = Prepared {
                src,
                receipt,
                arrived,
            };
            let keys = lock_keys(&receipt.effect);
            let deadline = notarized + self.deadline;
            match self.participant.offer(receipt.tx, keys, deadline, p, |p| {
                evaluate(&*executor, &*ledger, p)
            }) {
                Offered::Voted(vote) => self.votes.push((receipt.tx, vote)),
                Offered::Waiting => {}
                Offered::Expired(p) => {
                    let timeout = Verdict::Abort(cross_shard::RejectReason::Timeout);
                    self.settle_participant(executor, ledger, p, timeout, emitted, out)?;
                }
            }
        }
        Ok(())
    }

    /// Applies a decision to a prepare held here: the call for real on commit; on both,
    /// counts what goes home.
    fn settle_participant(
        &mut self,
        executor: &mut dyn BlockExecutor,
        ledger: &mut Ledger,
        p: Prepared,
        verdict: Verdict,
        emitted: &mut ChannelCounts,
        out: &mut BlockOutput,
    ) -> Result<(), Mismatch> {
        let effect = p.receipt.effect;
        if let Verdict::Commit { .. } = verdict {
            // What the call sends home is settled by `back` below, from the decision,
            // exactly as the home shard computes it.
            deliver_one(executor, ledger, p.receipt.tx, effect)?;
        }
        if let Some(home) = back(ledger.world(), 0, effect, verdict) {
            count(emitted, p.src, &home);
        }
        out.decided(p.receipt.tx, verdict);
        Ok(())
    }

    /// As the home shard: remembers the prepares this block sent, with their senders.
    /// `sent_cross` lists the senders' transactions in block order (every executor
    /// records outcomes in that order), so one walk over `txs` finds them.
    pub fn sent(
        &mut self,
        txs: &[cross_shard::Tx],
        sent_cross: &[TxId],
        outgoing: &[Vec<Receipt>],
    ) {
        let mut cross = sent_cross.iter().peekable();
        let senders: HashMap<TxId, AccountId> = txs
            .iter()
            .filter(|t| cross.next_if_eq(&&t.id).is_some())
            .map(|t| (t.id, t.from))
            .collect();
        for r in outgoing.iter().flatten() {
            if let Some(&from) = senders.get(&r.tx) {
                self.awaiting.insert(r.tx, (from, r.effect));
            }
        }
    }

    /// Takes out of `txs` the transactions that would touch a key locked here, and every
    /// later one from the same senders (their nonces come after), and returns them in
    /// order: they wait in the mempool for the next block. Local transactions respect
    /// the locks as prepares do — otherwise a local swap could move a pool between a
    /// participant's vote and its commit.
    pub fn defer_locked(
        &self,
        ledger: &Ledger,
        txs: &mut Vec<cross_shard::Tx>,
    ) -> Vec<cross_shard::Tx> {
        if self.participant.locked_keys() == 0 {
            return Vec::new();
        }
        let mut blocked: std::collections::HashSet<AccountId> = std::collections::HashSet::new();
        let mut deferred = Vec::new();
        txs.retain(|tx| {
            let keys = programs::declared_keys(ledger.world(), |id| ledger.local(id), tx);
            let wait = blocked.contains(&tx.from)
                || keys.iter().flatten().any(|k| self.participant.is_locked(k));
            if wait {
                blocked.insert(tx.from);
                deferred.push(*tx);
            }
            !wait
        });
        deferred
    }

    /// The votes for this block's header.
    pub fn take_votes(&mut self) -> Vec<(TxId, Vote)> {
        std::mem::take(&mut self.votes)
    }

    /// Transactions prepared here or sent from here and not yet decided.
    pub fn open(&self) -> u64 {
        (self.participant.open_count() + self.awaiting.len()) as u64
    }

    /// Value held by undecided prepares here, per asset (index = asset).
    pub fn locked(&self, assets: usize) -> Vec<u64> {
        let mut locked = vec![0u64; assets];
        for p in self.participant.payloads() {
            if let Some((asset, value)) = p.receipt.effect.value() {
                if let Some(l) = locked.get_mut(asset as usize) {
                    *l = l.saturating_add(value);
                }
            }
        }
        locked
    }

    /// The beacon height read so far.
    pub fn height(&self) -> u64 {
        self.participant.height()
    }
}
