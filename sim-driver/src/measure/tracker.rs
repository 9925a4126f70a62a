//! The driver's bookkeeping: every transaction's fate, latency, and throughput per second.
//!
//! **One clock.** Every time here is nanoseconds since the run's start on the driver's
//! monotonic clock. A transaction's latency runs from its *intended* send time — its
//! slot in the open-loop schedule, not the moment it actually left — to the moment the
//! driver learns it is final. Measuring from the actual send would hide the time a
//! transaction spent waiting behind a backed-up sender (coordinated omission).
//!
//! **Finality.** A call whose objects are all on its sender's shard is final when that
//! shard's block commits it. A cross-shard call is final when its *last* receipt takes
//! effect — a credit, an NFT received, a vote counted — or fails for good — a refund
//! credited, a vote refused:
//!
//! ```text
//!  Dispatched ──► Submitted ──committed──────────────────────────────► Final (intra)
//!                    │ ──sent_cross──► Debited ──receipts_applied────► Final (cross)
//!                    │                    └──failed / refunds_applied─► Rejected (cross)
//!                    └──rejected─────────────────────────────────────► Rejected
//! ```
//!
//! Receipts that only pass through a shard (a swap executed on its pool's shard, whose
//! output goes back) are `forwarded`: they count as applied receipts there but decide
//! nothing. The debit and the last receipt come from different shards on different
//! streams, so either may arrive first.
//!
//! A receipt applied for a transaction already final is a double application and is
//! counted in `duplicate_finals`, which breaks the exactly-once invariant.

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;
use shardsim_proto::pb;

/// Where one transaction stands, as the driver has heard (one byte per transaction).
///
/// ```text
///  Submitted ──committed──────────────────────────────► Final
///      │──rejected────────────────────────────────────► Rejected
///      │──sent_cross──► Debited ──receipt applied─────► Final
///      │                   └────refund / refused──────► Rejected
///      │──receipt applied first──► AppliedEarly ──sent_cross──► Final
///      └──failed first──────────► FailedEarly  ──sent_cross──► Rejected
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Fate {
    /// Handed to a submit stream, no news yet.
    Submitted,
    /// Cross-shard: debited on its source shard, receipt not yet applied.
    Debited,
    /// Final: committed intra-shard, or its receipt applied.
    Final,
    /// Rejected by its shard.
    Rejected,
    /// Cross-shard receipt applied before the source's debit event arrived (the two
    /// come on different streams); final once that event comes.
    AppliedEarly,
    /// Cross-shard call failed for good before the source's debit event arrived; its
    /// failure is already counted.
    FailedEarly,
}

/// The programs a transaction can call, by index (`cross_shard::Program`).
pub const PROGRAMS: [&str; 6] = ["transfer", "token", "swap", "nft", "vote", "call"];

/// Highest latency recorded, in microseconds (one hour); anything slower is clamped.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Most gas one transaction is recorded with (far above any call's limit).
const MAX_TX_GAS: u64 = 1 << 30;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .unwrap_or_else(|e| unreachable!("constant histogram bounds are valid: {e}"))
}

/// Counts of one shard in one second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardSecond {
    /// Transactions from this shard that became final (intra and cross).
    pub final_total: u64,
    /// Of which cross-shard.
    pub final_cross: u64,
    /// Transactions this shard rejected.
    pub rejected: u64,
    /// Receipts this shard emitted to other shards.
    pub receipts_emitted: u64,
    /// Receipts this shard applied.
    pub receipts_applied: u64,
    /// Longest delayed-receipt queue after any of its blocks in this second.
    pub delayed_max: u64,
    /// Longest wait of a queued receipt seen after any of its blocks (µs).
    pub oldest_delayed_us: u64,
    /// Two-phase transactions from this shard that ended aborted in this second.
    pub aborts: u64,
    /// Longest mempool after any of its blocks in this second (the shard's backlog).
    pub mempool_max: u64,
    /// Most transactions the driver held for this shard, unsent, at any sample in
    /// this second (the shard was not taking them as fast as they were due).
    pub held_max: u64,
    /// Gas the shard's blocks used in this second (vm = evm).
    pub gas: u64,
    /// Committees: blocks committed in this second, and the sum of their commit
    /// latencies (proposal → commit, µs, as the first validator to report saw it).
    pub commits: u64,
    /// See `commits`.
    pub commit_us: u64,
    /// Accounts whose migration to this shard completed (their `Arrive` applied).
    pub accounts_in: u64,
    /// Two-phase: the most transactions prepared or sent from this shard and not yet
    /// decided, after any of its blocks in this second (its locks and awaited calls).
    pub open_max: u64,
}

/// What a committee's blocks said about how they were decided (committees only).
#[derive(Debug, Clone)]
pub struct CommitteeTrack {
    /// Commit latency, proposal → commit, µs, per block.
    pub commit: Histogram<u64>,
    /// Blocks decided in a round above 0 (after at least one view change).
    pub late_rounds: u64,
    /// Blocks committed, by the validator that proposed them.
    pub leaders: BTreeMap<u32, u64>,
}

/// One second of the run.
#[derive(Debug, Clone)]
pub struct Second {
    /// Per shard.
    pub shards: Vec<ShardSecond>,
    /// Latencies (µs) of intra-shard transactions that became final in this second.
    pub intra: Histogram<u64>,
    /// Same for cross-shard ones.
    pub cross: Histogram<u64>,
}

/// Latency histograms (µs) over the measured window.
#[derive(Debug, Clone)]
pub struct Latencies {
    /// Intra-shard transactions.
    pub intra: Histogram<u64>,
    /// Cross-shard transactions.
    pub cross: Histogram<u64>,
}

impl Latencies {
    /// Both kinds together.
    pub fn all(&self) -> Histogram<u64> {
        let mut all = self.intra.clone();
        // Same bounds, so adding cannot fail.
        let _ = all.add(&self.cross);
        all
    }
}

/// Everything the driver knows about the run's transactions.
#[derive(Debug)]
pub struct Tracker {
    /// Shards in the cluster.
    shards: usize,
    /// The measured window, ns since start: [start, end).
    window: (u64, u64),
    /// Intended send time of each transaction, by id.
    intended: Vec<u64>,
    /// Fate of each transaction, by id (see [`state`]).
    fate: Vec<Fate>,
    /// Source shard of each transaction, learnt from its first event.
    source: Vec<u16>,
    /// Program of each transaction (index into [`PROGRAMS`]).
    program: Vec<u8>,
    /// Per program: (submitted, committed, rejected).
    pub per_program: [(u64, u64, u64); PROGRAMS.len()],
    /// Per program: rejections (and failures) by reason code.
    pub program_reasons: [BTreeMap<u32, u64>; PROGRAMS.len()],
    /// Per program: gas its transactions used (vm = evm), receipts not included.
    pub program_gas: [u64; PROGRAMS.len()],
    /// Gas each transaction burnt (vm = evm).
    pub tx_gas: Histogram<u64>,
    /// Per-second counts and histograms, by second since start.
    pub seconds: Vec<Second>,
    /// Latencies of transactions intended inside the window.
    pub latency: Latencies,
    /// Final intra-shard transactions (whole run).
    pub final_intra: u64,
    /// Final cross-shard transactions (whole run).
    pub final_cross: u64,
    /// Final transactions whose finality fell in the window, and of those cross-shard.
    pub window_final: (u64, u64),
    /// Rejections by reason code.
    pub rejected: BTreeMap<u32, u64>,
    /// Events naming a transaction already final or rejected, or unknown ids.
    pub duplicate_finals: u64,
    /// Per shard: transactions executed in blocks that reported dependencies, and how
    /// many of those depended on an earlier one in their block.
    pub dependencies: Vec<(u64, u64)>,
    /// Per shard: Block-STM re-executions, when reported.
    pub reexecuted: Vec<Option<u64>>,
    /// Per shard: blocks its parallel executor ran sequentially, predicting a loss.
    pub fell_back: Vec<u64>,
    /// Per shard: blocks the parallel executor ran sequentially because a call touched
    /// a key it had not declared (vm = evm).
    pub undeclared: Vec<u64>,
    /// Per shard, with committees: how its blocks were decided.
    pub committees: Vec<CommitteeTrack>,
    /// Two-phase: the first shard's report of each decided transaction (`None` =
    /// commit, `Some(reason)` = abort), until the other shard's report.
    first_report: HashMap<u64, Option<u32>>,
    /// Two-phase: transactions committed, and aborted by reason (counted once both
    /// shards applied the decision).
    pub tp_commits: u64,
    /// See `tp_commits`.
    pub tp_aborts: BTreeMap<u32, u64>,
    /// Two-phase: transactions one shard committed and the other aborted. Must be 0.
    pub atomic_violations: u64,
    /// Two-phase: how long prepares that found a key locked waited (µs).
    pub lock_wait: Histogram<u64>,
    /// Per shard: the height of the last block whose events were applied. Events of a
    /// block come again when the driver resumes a restarted shard's stream from its
    /// store; those are recognised by height and skipped.
    last_height: Vec<u64>,
    /// Per tenth of a second since start, per source shard: transactions that became
    /// final (the finer timeline that recovery times are measured on).
    pub finals_tenths: Vec<Vec<u32>>,
    /// Per shard: its mempool after its last block reported.
    mempool: Vec<u64>,
    /// Per shard: outcomes its events gave transactions that entered its blocks
    /// (committed, sent cross-shard, rejected), every report counted. The shard counts
    /// the same transactions from its blocks' inputs (`ShardStatus.entered`).
    pub home_outcomes: Vec<u64>,
}

/// The timeline resolution of [`Tracker::finals_tenths`], ns.
pub const TENTH: u64 = 100_000_000;

impl Tracker {
    /// A tracker for `shards` shards measuring the window [start, end) (ns).
    pub fn new(shards: u32, window: (u64, u64)) -> Tracker {
        Tracker {
            shards: shards as usize,
            window,
            intended: Vec::new(),
            fate: Vec::new(),
            source: Vec::new(),
            program: Vec::new(),
            per_program: [(0, 0, 0); PROGRAMS.len()],
            program_gas: [0; PROGRAMS.len()],
            tx_gas: Histogram::new_with_bounds(1, MAX_TX_GAS, 3)
                .unwrap_or_else(|e| unreachable!("constant histogram bounds are valid: {e}")),
            program_reasons: Default::default(),
            seconds: Vec::new(),
            latency: Latencies {
                intra: histogram(),
                cross: histogram(),
            },
            final_intra: 0,
            final_cross: 0,
            window_final: (0, 0),
            rejected: BTreeMap::new(),
            duplicate_finals: 0,
            dependencies: vec![(0, 0); shards as usize],
            reexecuted: vec![None; shards as usize],
            fell_back: vec![0; shards as usize],
            undeclared: vec![0; shards as usize],
            committees: (0..shards)
                .map(|_| CommitteeTrack {
                    commit: histogram(),
                    late_rounds: 0,
                    leaders: BTreeMap::new(),
                })
                .collect(),
            first_report: HashMap::new(),
            tp_commits: 0,
            tp_aborts: BTreeMap::new(),
            atomic_violations: 0,
            lock_wait: histogram(),
            last_height: vec![0; shards as usize],
            finals_tenths: Vec::new(),
            mempool: vec![0; shards as usize],
            home_outcomes: vec![0; shards as usize],
        }
    }

    /// Height of the last block of `shard` whose events were applied.
    pub fn last_height(&self, shard: usize) -> u64 {
        self.last_height.get(shard).copied().unwrap_or(0)
    }

    /// Records that at `at` (ns since start) the driver held `held` transactions for
    /// `shard` that it could not yet send.
    pub fn held(&mut self, at: u64, shard: usize, held: u64) {
        if let Some(c) = self.second(at).shards.get_mut(shard) {
            c.held_max = c.held_max.max(held);
        }
    }

    /// Per shard, its mempool as of its last block.
    pub fn mempools(&self) -> &[u64] {
        &self.mempool
    }

    /// The measured window, ns since start: [start, end).
    pub fn window(&self) -> (u64, u64) {
        self.window
    }

    /// Ends the measured window at `at` (ns since start) if it would end later: the
    /// load stopped early (Ctrl-C, a failure), so throughput and latency are measured
    /// over what really ran. Counted finals all lie before `at` already.
    pub fn close_window(&mut self, at: u64) {
        self.window.1 = self.window.1.min(at);
        self.window.0 = self.window.0.min(self.window.1);
    }

    /// Whether its shard has said nothing yet of transaction `id` (neither in a block
    /// nor rejected): after a crash of that shard, it must be sent again. An id not yet
    /// dispatched here (its batch overtook the news) awaits too.
    pub fn awaiting(&self, id: u64) -> bool {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.fate.get(i))
            .is_none_or(|&f| f == Fate::Submitted)
    }

    /// Records that transactions `first..first + intended.len()` were handed to the
    /// submit streams with these intended send times, calling these programs (indexes
    /// into [`PROGRAMS`]; empty: all `transfer`). Ids arrive densely, in order.
    pub fn dispatched(&mut self, first: u64, intended: &[u64], programs: &[u8]) {
        debug_assert_eq!(first as usize, self.intended.len());
        self.intended.extend_from_slice(intended);
        self.fate.resize(self.intended.len(), Fate::Submitted);
        self.source.resize(self.intended.len(), 0);
        if programs.is_empty() {
            self.program.resize(self.intended.len(), 0);
        } else {
            self.program.extend_from_slice(programs);
        }
        for &p in &self.program[first as usize..] {
            self.per_program[usize::from(p)].0 += 1;
        }
    }

    /// Transactions dispatched so far.
    pub fn submitted(&self) -> u64 {
        self.intended.len() as u64
    }

    /// Final transactions so far.
    pub fn finals(&self) -> u64 {
        self.final_intra + self.final_cross
    }

    /// Rejected transactions so far.
    pub fn rejections(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Transactions with no final outcome yet.
    pub fn unresolved(&self) -> u64 {
        self.submitted() - self.finals() - self.rejections()
    }

    fn second(&mut self, at: u64) -> &mut Second {
        let s = (at / 1_000_000_000) as usize;
        while self.seconds.len() <= s {
            self.seconds.push(Second {
                shards: vec![ShardSecond::default(); self.shards],
                intra: histogram(),
                cross: histogram(),
            });
        }
        &mut self.seconds[s]
    }

    /// Looks a transaction id up; unknown ids are counted and skipped.
    fn index(&mut self, id: u64) -> Option<usize> {
        let i = usize::try_from(id).ok().filter(|&i| i < self.fate.len());
        if i.is_none() {
            self.duplicate_finals += 1;
        }
        i
    }

    /// The per-second slot of transaction `i`: its source shard.
    fn slot(&self, i: usize) -> usize {
        usize::from(self.source[i]).min(self.shards.saturating_sub(1))
    }

    fn finalize(&mut self, i: usize, at: u64, cross: bool) {
        self.fate[i] = Fate::Final;
        self.per_program[usize::from(self.program[i])].1 += 1;
        let shard = self.slot(i);
        let latency_us = (at.saturating_sub(self.intended[i]) / 1000).clamp(1, MAX_LATENCY_US);
        let in_window = (self.window.0..self.window.1).contains(&self.intended[i]);
        let final_in_window = (self.window.0..self.window.1).contains(&at);
        let tenth = (at / TENTH) as usize;
        if self.finals_tenths.len() <= tenth {
            self.finals_tenths.resize(tenth + 1, vec![0; self.shards]);
        }
        self.finals_tenths[tenth][shard] += 1;
        let sec = self.second(at);
        let counts = &mut sec.shards[shard];
        counts.final_total += 1;
        if cross {
            counts.final_cross += 1;
            sec.cross.saturating_record(latency_us);
            self.final_cross += 1;
            if in_window {
                self.latency.cross.saturating_record(latency_us);
            }
        } else {
            sec.intra.saturating_record(latency_us);
            self.final_intra += 1;
            if in_window {
                self.latency.intra.saturating_record(latency_us);
            }
        }
        if final_in_window {
            self.window_final.0 += 1;
            self.window_final.1 += u64::from(cross);
        }
    }

    /// Counts transaction `i` as rejected (or failed) for `reason`, on its source shard.
    fn reject(&mut self, i: usize, at: u64, reason: u32) {
        let program = usize::from(self.program[i]);
        self.per_program[program].2 += 1;
        *self.program_reasons[program].entry(reason).or_default() += 1;
        *self.rejected.entry(reason).or_default() += 1;
        let slot = self.slot(i);
        self.second(at).shards[slot].rejected += 1;
    }

    /// A cross-shard call's last receipt failed (a refund credited, a vote refused).
    fn fail_cross(&mut self, id: u64, at: u64, reason: u32) {
        let Some(i) = self.index(id) else { return };
        match self.fate[i] {
            Fate::Debited => {
                self.fate[i] = Fate::Rejected;
                self.reject(i, at, reason);
            }
            Fate::Submitted => {
                self.fate[i] = Fate::FailedEarly;
                self.reject(i, at, reason);
            }
            _ => self.duplicate_finals += 1,
        }
    }

    /// A shard applied the two-phase decision on `id` (`abort = None`: a commit). The
    /// home shard and the participant each report it; the second report makes the
    /// transaction final — by then the home shard's `sent_cross` has come, since it
    /// precedes the home shard's report on the same stream. Reports that disagree break
    /// atomicity.
    fn two_phase_report(&mut self, id: u64, at: u64, abort: Option<u32>) {
        let Some(i) = self.index(id) else { return };
        let Some(first) = self.first_report.remove(&id) else {
            self.first_report.insert(id, abort);
            return;
        };
        if first.is_some() != abort.is_some() {
            self.atomic_violations += 1;
        }
        if self.fate[i] != Fate::Debited {
            self.duplicate_finals += 1;
            return;
        }
        match abort.or(first) {
            None => {
                self.tp_commits += 1;
                self.finalize(i, at, true);
            }
            Some(reason) => {
                *self.tp_aborts.entry(reason).or_default() += 1;
                self.fate[i] = Fate::Rejected;
                self.reject(i, at, reason);
                let slot = self.slot(i);
                self.second(at).shards[slot].aborts += 1;
            }
        }
    }

    /// Transactions decided on one shard whose other report has not come.
    pub fn half_decided(&self) -> usize {
        self.first_report.len()
    }

    /// Applies one block's events, received at `at` (ns since start).
    pub fn events(&mut self, at: u64, ev: &pb::BlockEvents) {
        let shard = ev.shard as u16;
        let slot = usize::from(shard).min(self.shards.saturating_sub(1));
        if ev.height <= self.last_height[slot] {
            return;
        }
        self.last_height[slot] = ev.height;
        self.mempool[slot] = ev.mempool_len;
        // A call handed back because its sender moved away is answered too (it is
        // sent again to the sender's new shard).
        self.home_outcomes[slot] += (ev.committed.len() + ev.sent_cross.len() + ev.rejected.len())
            as u64
            + ev.moved.as_ref().map_or(0, |m| m.id.len() as u64);
        let congestion = &mut self.second(at).shards[slot];
        congestion.receipts_emitted += ev.receipts_emitted;
        congestion.receipts_applied += (ev.receipts_applied.len()
            + ev.failed.len()
            + ev.refunds_applied.len()
            + ev.forwarded.len()) as u64
            + ev.prepares_taken
            + ev.settlements_applied
            + ev.migration_receipts_applied;
        congestion.delayed_max = congestion.delayed_max.max(ev.delayed_receipts);
        congestion.mempool_max = congestion.mempool_max.max(ev.mempool_len);
        congestion.oldest_delayed_us = congestion.oldest_delayed_us.max(ev.oldest_delayed_us);
        congestion.gas += ev.gas_used;
        congestion.accounts_in += ev.imported.len() as u64;
        congestion.open_max = congestion.open_max.max(ev.tp_open);
        if let Some(c) = &ev.consensus {
            congestion.commits += 1;
            congestion.commit_us += c.commit_us;
            if let Some(t) = self.committees.get_mut(slot) {
                t.commit.saturating_record(c.commit_us.max(1));
                t.late_rounds += u64::from(c.round > 0);
                *t.leaders.entry(c.proposer).or_default() += 1;
            }
        }
        for (total, &g) in self.program_gas.iter_mut().zip(&ev.gas_by_program) {
            *total += g;
        }
        for &g in &ev.gas_tx_used {
            // A call refused before it ran burnt nothing; the histogram holds the rest.
            if g > 0 {
                self.tx_gas.saturating_record(g);
            }
        }
        if let (Some(dependent), Some(d)) = (ev.dependent, self.dependencies.get_mut(slot)) {
            d.0 += u64::from(ev.executed);
            d.1 += u64::from(dependent);
        }
        if let Some(n) = self.fell_back.get_mut(slot) {
            *n += u64::from(ev.fell_back);
        }
        if let Some(n) = self.undeclared.get_mut(slot) {
            *n += u64::from(ev.undeclared);
        }
        if let (Some(re), Some(total)) = (ev.reexecuted, self.reexecuted.get_mut(slot)) {
            *total = Some(total.unwrap_or(0) + u64::from(re));
        }
        for &id in &ev.committed {
            let Some(i) = self.index(id) else { continue };
            if self.fate[i] != Fate::Submitted {
                self.duplicate_finals += 1;
                continue;
            }
            self.source[i] = shard;
            self.finalize(i, at, false);
        }
        for &id in &ev.sent_cross {
            let Some(i) = self.index(id) else { continue };
            self.source[i] = shard;
            match self.fate[i] {
                Fate::Submitted => self.fate[i] = Fate::Debited,
                Fate::AppliedEarly => self.finalize(i, at, true),
                Fate::FailedEarly => self.fate[i] = Fate::Rejected,
                _ => self.duplicate_finals += 1,
            }
        }
        for (&id, &reason) in ev.rejected.iter().zip(&ev.rejected_reason) {
            let Some(i) = self.index(id) else { continue };
            if self.fate[i] != Fate::Submitted {
                self.duplicate_finals += 1;
                continue;
            }
            self.fate[i] = Fate::Rejected;
            self.source[i] = shard;
            self.reject(i, at, reason);
        }
        let failures = ev.failed.iter().zip(&ev.failed_reason);
        let refunds = ev.refunds_applied.iter().zip(&ev.refund_reason);
        for (&id, &reason) in failures.chain(refunds) {
            self.fail_cross(id, at, reason);
        }
        for &id in &ev.receipts_applied {
            let Some(i) = self.index(id) else { continue };
            match self.fate[i] {
                Fate::Debited => self.finalize(i, at, true),
                Fate::Submitted => self.fate[i] = Fate::AppliedEarly,
                _ => self.duplicate_finals += 1,
            }
        }
        for &id in &ev.tp_committed {
            self.two_phase_report(id, at, None);
        }
        for (&id, &reason) in ev.tp_aborted.iter().zip(&ev.tp_abort_reason) {
            self.two_phase_report(id, at, Some(reason));
        }
        for &us in &ev.lock_wait_us {
            self.lock_wait
                .saturating_record(us.clamp(1, MAX_LATENCY_US));
        }
    }
}

/// The whole seconds (since start) inside the measured window of a scenario.
pub fn window_bounds(scenario: &crate::scenario::Scenario) -> std::ops::Range<u64> {
    window_seconds((
        scenario.warmup.as_nanos() as u64,
        (scenario.warmup + scenario.duration).as_nanos() as u64,
    ))
}

/// The whole seconds inside the window [start, end) ns (at least one).
pub fn window_seconds((start, end): (u64, u64)) -> std::ops::Range<u64> {
    let start = start.div_ceil(1_000_000_000);
    let end = end / 1_000_000_000;
    start..end.max(start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn events(
        shard: u32,
        committed: &[u64],
        sent_cross: &[u64],
        applied: &[u64],
    ) -> pb::BlockEvents {
        // Every block of a test is a new one: heights only grow.
        static HEIGHT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        pb::BlockEvents {
            shard,
            height: HEIGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            committed: committed.to_vec(),
            sent_cross: sent_cross.to_vec(),
            receipts_applied: applied.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn a_block_seen_again_is_skipped_and_only_unreported_transactions_await() {
        let mut t = Tracker::new(2, (0, 10 * S));
        t.dispatched(0, &[0, 0, 0], &[]);
        let block = events(0, &[0], &[1], &[]);
        t.events(S / 10, &block);
        t.events(S / 5, &block);
        assert_eq!((t.final_intra, t.duplicate_finals), (1, 0));
        assert_eq!(t.last_height(0), block.height);
        assert_eq!(
            (0..4).map(|id| t.awaiting(id)).collect::<Vec<_>>(),
            vec![false, false, true, true]
        );
        assert_eq!(t.finals_tenths[1][0], 1);
    }

    #[test]
    fn intra_and_cross_finality_and_latency() {
        let mut t = Tracker::new(2, (0, 10 * S));
        t.dispatched(0, &[0, 0, 0], &[0, 1, 0]);
        t.events(S / 10, &events(0, &[0], &[1], &[]));
        assert_eq!((t.final_intra, t.final_cross, t.unresolved()), (1, 0, 2));
        t.events(S / 2, &events(1, &[], &[], &[1]));
        assert_eq!(t.final_cross, 1);
        // Cross latency: 0.5 s from the intended time 0, within HDR precision.
        let p = t.latency.cross.value_at_quantile(0.5);
        assert!((499_000..=501_000).contains(&p), "{p}");
        assert_eq!(
            t.seconds[0].shards[0].final_total, 2,
            "attributed to the source"
        );
        assert_eq!(t.window_final, (2, 1));
        assert_eq!(
            t.per_program,
            [
                (2, 1, 0),
                (1, 1, 0),
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0)
            ],
            "per program: submitted, final, rejected"
        );
    }

    #[test]
    fn receipt_before_debit_event_still_finalizes_once() {
        let mut t = Tracker::new(2, (0, 10 * S));
        t.dispatched(0, &[0], &[]);
        t.events(S, &events(1, &[], &[], &[0]));
        assert_eq!(t.finals(), 0);
        t.events(S, &events(0, &[], &[0], &[]));
        assert_eq!(t.final_cross, 1);
        assert_eq!(t.duplicate_finals, 0);
    }

    #[test]
    fn cross_failures_finish_once_whichever_event_comes_first() {
        let mut t = Tracker::new(2, (0, 10 * S));
        t.dispatched(0, &[0, 0], &[2, 4]);
        // tx 0: a swap refunded after its debit; tx 1: a vote refused before it.
        t.events(S, &events(0, &[], &[0], &[]));
        let mut ev = events(0, &[], &[], &[]);
        ev.refunds_applied = vec![0];
        ev.refund_reason = vec![6];
        ev.forwarded = vec![5];
        t.events(S, &ev);
        let mut ev = events(1, &[], &[], &[]);
        ev.failed = vec![1];
        ev.failed_reason = vec![8];
        t.events(S, &ev);
        assert_eq!(t.unresolved(), 0);
        t.events(S, &events(0, &[], &[1], &[]));
        assert_eq!((t.finals(), t.rejections(), t.duplicate_finals), (0, 2, 0));
        assert_eq!(t.per_program[2], (1, 0, 1));
        assert_eq!(t.program_reasons[4].get(&8), Some(&1));
        assert_eq!(
            t.seconds[1].shards[0].receipts_applied, 2,
            "the refund and the forwarded receipt"
        );
    }

    #[test]
    fn two_phase_is_final_on_the_second_report_and_split_decisions_are_counted() {
        let mut t = Tracker::new(2, (0, 10 * S));
        t.dispatched(0, &[0, 0, 0], &[0, 2, 0]);
        t.events(S, &events(0, &[], &[0, 1, 2], &[]));
        // tx 0 commits (participant first), tx 1 aborts on slippage, tx 2 is split.
        let mut d = events(1, &[], &[], &[]);
        d.tp_committed = vec![0, 2];
        d.tp_aborted = vec![1];
        d.tp_abort_reason = vec![6];
        d.lock_wait_us = vec![1500];
        t.events(S, &d);
        assert_eq!((t.finals(), t.rejections(), t.half_decided()), (0, 0, 3));
        let mut h = events(0, &[], &[], &[]);
        h.tp_committed = vec![0];
        h.tp_aborted = vec![1, 2];
        h.tp_abort_reason = vec![6, 10];
        // The home shard applies the two refunds that came back.
        h.settlements_applied = 2;
        t.events(2 * S, &h);
        assert_eq!(
            t.seconds[2].shards[0].receipts_applied, 2,
            "what came home is applied on the channel"
        );
        assert_eq!((t.final_cross, t.tp_commits), (1, 1));
        assert_eq!(t.tp_aborts.get(&6), Some(&1));
        assert_eq!(
            t.atomic_violations, 1,
            "tx 2 committed on one shard, aborted on the other"
        );
        assert_eq!(t.seconds[2].shards[0].aborts, 2);
        assert_eq!(t.lock_wait.len(), 1);
        assert_eq!(t.unresolved(), 0);
    }

    #[test]
    fn double_application_and_unknown_ids_are_counted() {
        let mut t = Tracker::new(2, (0, 10 * S));
        t.dispatched(0, &[0], &[]);
        t.events(S, &events(0, &[], &[0], &[]));
        t.events(S, &events(1, &[], &[], &[0]));
        t.events(S, &events(1, &[], &[], &[0]));
        t.events(S, &events(1, &[99], &[], &[]));
        assert_eq!(t.duplicate_finals, 2);
        assert_eq!(t.final_cross, 1);
    }

    #[test]
    fn rejections_by_reason_and_window_bounds() {
        let mut t = Tracker::new(1, (S, 2 * S));
        t.dispatched(0, &[0, S + 1], &[]);
        let mut ev = events(0, &[1], &[], &[]);
        ev.rejected = vec![0];
        ev.rejected_reason = vec![3];
        t.events(S + S / 2, &ev);
        assert_eq!(t.rejected.get(&3), Some(&1));
        assert_eq!(t.unresolved(), 0);
        assert_eq!(t.latency.intra.len(), 1, "intended inside the window");
        assert_eq!(t.seconds[1].shards[0].rejected, 1);
    }
}
