//! The parallel executor: declared access sets, conflict-free waves (Sealevel-style).
//!
//! A transaction declares what it may touch before it runs
//! ([`crate::programs::declared_keys`]): the sender's account, the balances a transfer
//! or swap moves, the pool, collection or proposal when it is on this shard. Two
//! transactions that share no key commute, so they may run at the same time. The block
//! is cut into **waves**:
//!
//! ```text
//!   wave(tx) = 1 + max(wave of the last earlier tx touching each of tx's keys)
//!
//!   txs:   t0(a→b)  t1(c→d)  t2(b→e)  t3(f→g)  t4(a→c)
//!   wave:    0        0        1        0        1        (t2 after t0: b; t4 after t0, t1)
//! ```
//!
//! Within a wave every transaction reads state no other one in the wave writes, so the
//! wave's transactions run on `threads` threads, each against its own overlay that
//! records its writes. The writes are then applied in block order, which is cheap; the
//! expensive part of a write, hashing its leaf, happens once per key at commit, on the
//! same threads ([`Ledger::commit`]). A transaction's result is therefore what it would
//! have been in the sequential order, and outcomes are recorded in block order, so
//! blocks, receipts, events and state roots equal the sequential executor's exactly
//! (checked by the differential property tests below, and on every block with
//! `verify_executor`).
//!
//! A chain of dependent transactions makes one wave per transaction; small waves run
//! directly on the ledger, without threads or overlays, so such blocks cost about what
//! the sequential executor does plus the scheduling.

use cross_shard::{AccountId, Tx, TxId};
use rustc_hash::FxHashMap;

use crate::exec::blockstm::{Runner, Worker};
use crate::exec::{BlockExecutor, BlockOutput, ExecStats, Mismatch, predict};
use crate::programs::{MAX_DECLARED, Outcome, declared_keys, execute_one};
use crate::state::{Base, Buffered, Key, Ledger, State, Value, World};
use cross_shard::threads::in_chunks;

/// Waves smaller than this run inline: spawning threads costs more than they save.
pub const MIN_PARALLEL_WAVE: usize = 256;

/// The block cut into conflict-free waves (indexes into `txs`): each transaction goes
/// one wave after the last earlier transaction that declares one of its keys.
pub fn waves(ledger: &Ledger, txs: &[Tx]) -> Vec<Vec<usize>> {
    let world = *ledger.world();
    let declarations: Vec<Declaration> = txs
        .iter()
        .map(|tx| declared_keys(&world, |id| ledger.local(id), tx))
        .collect();
    waves_of(&declarations)
}

/// The waves of transactions declaring `declarations`, in block order.
fn waves_of(declarations: &[Declaration]) -> Vec<Vec<usize>> {
    let mut last: FxHashMap<Key, usize> = FxHashMap::default();
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (i, keys) in declarations.iter().enumerate() {
        let wave = keys
            .iter()
            .flatten()
            .filter_map(|k| last.get(k))
            .map(|w| w + 1)
            .max()
            .unwrap_or(0);
        for k in keys.iter().flatten() {
            last.insert(*k, wave);
        }
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(i);
    }
    waves
}

/// The block's **dependency ratio**: the fraction of its transactions that touch a key
/// an earlier transaction of the block writes (all but the first wave).
pub fn dependency_ratio(ledger: &Ledger, txs: &[Tx]) -> f64 {
    if txs.is_empty() {
        return 0.0;
    }
    let first = waves(ledger, txs).first().map_or(0, Vec::len);
    (txs.len() - first) as f64 / txs.len() as f64
}

/// One wave's share on one thread: each transaction's outcome and the end of its
/// writes in `writes`.
struct Effects {
    outcomes: Vec<Outcome>,
    ends: Vec<usize>,
    writes: Vec<(Key, Value)>,
}

/// Executes `txs` in conflict-free waves on up to `threads` threads; waves smaller
/// than `min_parallel` run inline. Same results as [`crate::exec::execute`].
/// Returns how many transactions depended on an earlier one (all but the first wave).
pub fn execute(
    ledger: &mut Ledger,
    txs: &[Tx],
    out: &mut BlockOutput,
    threads: usize,
    min_parallel: usize,
) -> usize {
    let waves = waves(ledger, txs);
    let dependent = txs.len() - waves.first().map_or(0, Vec::len);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; txs.len()];
    for wave in &waves {
        if threads < 2 || wave.len() < min_parallel {
            // Too small to share out: run the wave directly on the ledger. Its
            // transactions are independent and everything they depend on is in an
            // earlier wave, so this is still the sequential result.
            for &i in wave {
                outcomes[i] = Some(execute_one(ledger, &txs[i]));
            }
            continue;
        }
        let base: &Ledger = ledger;
        let parts: Vec<Effects> = in_chunks(wave, threads, |part, _| {
            let mut effects = Effects {
                outcomes: Vec::with_capacity(part.len()),
                ends: Vec::with_capacity(part.len()),
                writes: Vec::with_capacity(part.len() * 3),
            };
            let mut buffer = Vec::new();
            for &i in part {
                buffer.clear();
                // The ledger as of the start of the wave, plus the transaction's own
                // writes, in a buffer reused from one transaction to the next.
                let mut view = Buffered::new(base, &mut buffer);
                effects.outcomes.push(execute_one(&mut view, &txs[i]));
                effects.writes.extend_from_slice(&buffer);
                effects.ends.push(effects.writes.len());
            }
            vec![effects]
        });
        // Apply in block order; the wave's writes touch disjoint keys.
        let mut next = wave.iter();
        for part in parts {
            let mut start = 0;
            for (outcome, end) in part.outcomes.into_iter().zip(part.ends) {
                for &(key, value) in &part.writes[start..end] {
                    ledger.write(key, value);
                }
                start = end;
                if let Some(&i) = next.next() {
                    outcomes[i] = Some(outcome);
                }
            }
        }
    }
    for (tx, outcome) in txs.iter().zip(outcomes) {
        if let Some(outcome) = outcome {
            out.record(tx.id, outcome);
        }
    }
    dependent
}

/// A block-long overlay of the ledger: each wave reads the ledger plus what earlier
/// waves wrote, and nothing reaches the ledger until the whole block is known good.
struct Overlay<'a> {
    ledger: &'a Ledger,
    writes: &'a FxHashMap<Key, Value>,
}

impl Base for Overlay<'_> {
    fn world(&self) -> &World {
        State::world(self.ledger)
    }
    fn local(&self, id: AccountId) -> Option<u32> {
        State::local(self.ledger, id)
    }
    fn get(&mut self, key: Key) -> Value {
        match self.writes.get(&key) {
            Some(&v) => v,
            None => self.ledger.get(key),
        }
    }
}

/// A base that records every key read through it.
struct Recording<B> {
    base: B,
    read: Vec<Key>,
}

impl<B: Base> Base for Recording<B> {
    fn world(&self) -> &World {
        self.base.world()
    }
    fn local(&self, id: AccountId) -> Option<u32> {
        self.base.local(id)
    }
    fn get(&mut self, key: Key) -> Value {
        self.read.push(key);
        self.base.get(key)
    }
}

/// A transaction touched a key it had not declared, so the block's waves cannot be
/// trusted: the caller runs the block sequentially instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undeclared {
    /// The first such transaction found.
    pub tx: TxId,
}

/// The keys a transaction declares.
pub type Declaration = [Option<Key>; MAX_DECLARED];

/// What the waves take a transaction's keys from.
pub type Declare = fn(&World, &dyn Fn(AccountId) -> Option<u32>, &Tx) -> Declaration;

/// The native declaration ([`declared_keys`]).
pub fn declared(w: &World, local: &dyn Fn(AccountId) -> Option<u32>, tx: &Tx) -> Declaration {
    declared_keys(w, local, tx)
}

/// One wave's transaction, run: its index, outcome, gas and writes, and whether it kept
/// to its declaration.
type Ran = (usize, (Outcome, u64), Vec<(Key, Value)>, bool);

/// Executes `txs` in conflict-free waves by `declare`'s keys on `threads` threads, each
/// call run by `runner` — for callers that cannot trust a declaration (the EVM: its
/// contracts, not the declaration, decide what a call touches). Every key a call reads
/// or writes is checked against what it declared; one that is not makes the whole
/// block `Undeclared` and leaves the ledger as it was (the waves run over a block-long
/// overlay, written to the ledger only at the end). Otherwise the same results as
/// running `runner` over the block in order; returns how many transactions depended on
/// an earlier one (all but the first wave).
pub fn execute_checked<R: Runner>(
    runner: &R,
    declare: Declare,
    ledger: &mut Ledger,
    txs: &[Tx],
    out: &mut BlockOutput,
    threads: usize,
) -> Result<usize, Undeclared> {
    let world = *State::world(ledger);
    let base: &Ledger = ledger;
    let local = |id| State::local(base, id);
    let declarations: Vec<Declaration> = txs.iter().map(|tx| declare(&world, &local, tx)).collect();
    let waves = waves_of(&declarations);
    let dependent = txs.len() - waves.first().map_or(0, Vec::len);
    let mut overlay: FxHashMap<Key, Value> = FxHashMap::default();
    let mut outcomes: Vec<Option<(Outcome, u64)>> = vec![None; txs.len()];
    for wave in &waves {
        let writes = &overlay;
        let declarations = &declarations;
        let parts: Vec<Vec<Ran>> = in_chunks(wave, threads.max(1), |part, _| {
            // One worker for this thread's share of the wave, its view reset per call.
            let view = Buffered::new(
                Recording {
                    base: Overlay {
                        ledger: base,
                        writes,
                    },
                    read: Vec::new(),
                },
                Vec::new(),
            );
            let mut worker = runner.worker(view);
            let ran = part
                .iter()
                .map(|&i| {
                    let view = worker.view();
                    view.base.read.clear();
                    view.writes.clear();
                    let done = worker.run(&txs[i]);
                    let view = worker.view();
                    let declared = &declarations[i];
                    let kept = view
                        .base
                        .read
                        .iter()
                        .chain(view.writes.iter().map(|(k, _)| k))
                        .all(|&k| declared.contains(&Some(k)));
                    (i, done, std::mem::take(&mut view.writes), kept)
                })
                .collect();
            vec![ran]
        });
        let mut ran: Vec<Ran> = parts.into_iter().flatten().collect();
        if let Some(&(i, ..)) = ran.iter().find(|r| !r.3) {
            return Err(Undeclared { tx: txs[i].id });
        }
        // Apply in block order; the wave's writes touch disjoint keys.
        ran.sort_unstable_by_key(|r| r.0);
        for (i, done, buffer, _) in ran {
            overlay.extend(buffer);
            outcomes[i] = Some(done);
        }
    }
    for (key, value) in overlay {
        ledger.write(key, value);
    }
    for (tx, done) in txs.iter().zip(outcomes) {
        if let Some((outcome, used)) = done {
            out.record(tx.id, outcome);
            if runner.meters_gas() {
                out.gas.push((tx.id, used));
            }
        }
    }
    Ok(dependent)
}

/// [`execute`] as a [`BlockExecutor`].
#[derive(Debug, Clone, Copy)]
pub struct Parallel {
    /// Threads a wave is shared out on.
    pub threads: usize,
    /// Waves smaller than this run inline.
    pub min_wave: usize,
    /// Run a block sequentially when waves are predicted not to pay
    /// ([`crate::exec::predict::waves_pay`]).
    pub predict: bool,
}

impl Parallel {
    /// On `threads` threads, with the default [`MIN_PARALLEL_WAVE`], predicting.
    pub fn new(threads: usize) -> Parallel {
        Parallel {
            threads,
            min_wave: MIN_PARALLEL_WAVE,
            predict: true,
        }
    }
}

impl BlockExecutor for Parallel {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        if self.predict && !predict::waves_pay(ledger, txs, predict::cores(self.threads)) {
            crate::exec::execute(ledger, txs, out);
            return Ok(ExecStats {
                fell_back: true,
                ..ExecStats::default()
            });
        }
        let dependent = execute(ledger, txs, out, self.threads, self.min_wave);
        Ok(ExecStats {
            dependent: Some(dependent),
            reexecuted: None,
            fell_back: false,
            ..ExecStats::default()
        })
    }

    fn threads(&self) -> usize {
        self.threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::world;
    use cross_shard::Call;
    use cross_shard::ids::NATIVE;

    const ACCOUNTS: u64 = 40;

    fn ledger() -> Ledger {
        Ledger::genesis(world(0, 2, ACCOUNTS, 2), 500)
    }

    fn t(id: u64, from: u64, to: u64, nonce: u64) -> Tx {
        Tx {
            id,
            from,
            nonce,
            call: Call::Transfer {
                to,
                asset: NATIVE,
                amount: 1,
            },
        }
    }

    #[test]
    fn dependency_ratio_counts_later_waves() {
        let l = ledger();
        let mine = l.placement().accounts_of(0, ACCOUNTS);
        let independent = [t(0, mine[0], mine[1], 0), t(1, mine[2], mine[3], 0)];
        assert_eq!(dependency_ratio(&l, &independent), 0.0);
        let chained = [
            t(0, mine[0], mine[1], 0),
            t(1, mine[1], mine[2], 0),
            t(2, mine[2], mine[3], 0),
            t(3, mine[4], mine[5], 0),
        ];
        assert_eq!(dependency_ratio(&l, &chained), 0.5);
        assert_eq!(waves(&l, &chained), vec![vec![0, 3], vec![1], vec![2]]);
        assert_eq!(dependency_ratio(&l, &[]), 0.0);
    }

    #[test]
    fn calls_on_one_object_fall_into_successive_waves() {
        let l = ledger();
        let mine = l.placement().accounts_of(0, ACCOUNTS);
        let pool = (0..4)
            .find(|&p| l.world().holds(cross_shard::Object::Pool(p)))
            .unwrap();
        let swap = |id, from| Tx {
            id,
            from,
            nonce: 0,
            call: Call::Swap {
                pool,
                asset_in: NATIVE,
                amount_in: 1,
                min_out: 0,
            },
        };
        // Different senders, one pool: each swap waits for the one before.
        let block = [
            swap(0, mine[0]),
            swap(1, mine[1]),
            t(2, mine[2], mine[3], 0),
        ];
        assert_eq!(waves(&l, &block), vec![vec![0, 2], vec![1]]);
        // A sender on another shard touches nothing here.
        let theirs = l.placement().accounts_of(1, ACCOUNTS)[0];
        assert_eq!(
            waves(&l, &[swap(0, theirs), swap(1, theirs)]),
            vec![vec![0, 1]]
        );
    }
}
