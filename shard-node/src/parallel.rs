//! The parallel executor: declared access sets, conflict-free waves (Sealevel-style).
//!
//! A transfer declares what it touches before it runs: the sender's native leaf (its
//! nonce changes even when it fails), the sender's balance of the asset, and the
//! recipient's balance of it when the recipient is on this shard. Two transactions
//! that touch no common leaf commute, so they may run at the same time. The block is cut
//! into **waves**:
//!
//! ```text
//!   wave(tx) = 1 + max(wave of the last earlier tx touching each of tx's leaves)
//!
//!   txs:   t0(a→b)  t1(c→d)  t2(b→e)  t3(f→g)  t4(a→c)
//!   wave:    0        0        1        0        1        (t2 after t0: b; t4 after t0, t1)
//! ```
//!
//! Within a wave every transaction reads state no other one in the wave writes, so the
//! wave's transactions run on `threads` threads, each against its own overlay that
//! records its writes and computes the new leaves' hashes — the expensive part. The
//! writes are then applied in block order, which is cheap. A transaction's result is
//! therefore what it would have been in the sequential order, and outcomes are recorded
//! in block order, so blocks, receipts, events and state roots equal the sequential
//! executor's exactly (checked by the differential property tests below, and on every
//! block with `verify_executor`).
//!
//! A chain of dependent transactions makes one wave per transaction; small waves run
//! directly on the ledger, without threads or overlays, so such blocks cost about what
//! the sequential executor does plus the scheduling.

use cross_shard::ids::{Asset, NATIVE};
use cross_shard::state_hash::{Leaf, leaf};
use cross_shard::{AccountId, Placement, ShardId, Transfer};
use rustc_hash::FxHashMap;

use crate::executor::{BlockOutput, Outcome, execute_one};
use crate::state::{Account, Accounts, Ledger};
use crate::threads::in_chunks;

/// Waves smaller than this run inline: spawning threads costs more than they save.
pub const MIN_PARALLEL_WAVE: usize = 256;

/// Most leaves one transfer writes: the sender's native leaf, the sender's token
/// balance, the recipient's balance.
const MAX_WRITES: usize = 3;

/// One leaf written by a transaction.
#[derive(Debug, Clone, Copy, Default)]
struct Write {
    index: u32,
    asset: Asset,
    balance: u64,
    nonce: u64,
}

/// A transaction's view: the ledger as of the start of its wave, plus its own writes
/// (kept inline: no allocation per transaction).
struct Overlay<'a> {
    base: &'a Ledger,
    writes: [Write; MAX_WRITES],
    len: usize,
}

impl Overlay<'_> {
    fn written(&self, index: u32, asset: Asset) -> Option<&Write> {
        self.writes[..self.len]
            .iter()
            .find(|w| w.index == index && w.asset == asset)
    }

    fn write(&mut self, w: Write) {
        let len = self.len;
        match self.writes[..len]
            .iter_mut()
            .find(|x| x.index == w.index && x.asset == w.asset)
        {
            Some(x) => *x = w,
            None => {
                // A transfer's access set has at most MAX_WRITES leaves.
                self.writes[len] = w;
                self.len += 1;
            }
        }
    }
}

impl Accounts for Overlay<'_> {
    fn shard(&self) -> ShardId {
        self.base.shard()
    }
    fn placement(&self) -> Placement {
        self.base.placement()
    }
    fn exists(&self, id: AccountId) -> bool {
        self.base.exists(id)
    }
    fn has_asset(&self, asset: Asset) -> bool {
        self.base.has_asset(asset)
    }
    fn local(&self, id: AccountId) -> Option<u32> {
        self.base.local(id)
    }
    fn get(&self, index: u32) -> Account {
        match self.written(index, NATIVE) {
            Some(w) => Account {
                balance: w.balance,
                nonce: w.nonce,
            },
            None => self.base.get(index),
        }
    }
    fn balance(&self, index: u32, asset: Asset) -> u64 {
        match self.written(index, asset) {
            Some(w) => w.balance,
            None => self.base.balance(index, asset),
        }
    }
    fn set(&mut self, index: u32, new: Account) {
        self.write(Write {
            index,
            asset: NATIVE,
            balance: new.balance,
            nonce: new.nonce,
        });
    }
    fn set_balance(&mut self, index: u32, asset: Asset, balance: u64) {
        let nonce = if asset == NATIVE {
            self.get(index).nonce
        } else {
            0
        };
        self.write(Write {
            index,
            asset,
            balance,
            nonce,
        });
    }
}

/// A transaction's result, ready to apply: its outcome and its writes with their old
/// and new leaf hashes.
struct Effect {
    outcome: Outcome,
    writes: [(Write, Leaf, Leaf); MAX_WRITES],
    len: usize,
}

/// Runs one transaction on an overlay of `base` and hashes its writes.
fn effect(base: &Ledger, tx: &Transfer) -> Effect {
    let mut view = Overlay {
        base,
        writes: [Write::default(); MAX_WRITES],
        len: 0,
    };
    let outcome = execute_one(&mut view, tx);
    let none = leaf(0, 0, 0, 0);
    let mut writes = [(Write::default(), none, none); MAX_WRITES];
    for (slot, w) in writes.iter_mut().zip(&view.writes[..view.len]) {
        let id = base.id(w.index);
        let old_nonce = if w.asset == NATIVE {
            base.get(w.index).nonce
        } else {
            0
        };
        let old = leaf(id, w.asset, base.balance(w.index, w.asset), old_nonce);
        *slot = (*w, old, leaf(id, w.asset, w.balance, w.nonce));
    }
    Effect {
        outcome,
        writes,
        len: view.len,
    }
}

/// The leaves a transaction declares it may write: (local index, asset).
fn access_set(ledger: &Ledger, tx: &Transfer) -> [Option<(u32, Asset)>; 3] {
    let Some(from) = ledger.local(tx.from) else {
        return [None; 3]; // rejected without touching anything
    };
    let asset = tx.asset;
    [
        Some((from, NATIVE)),
        (asset != NATIVE).then_some((from, asset)),
        ledger.local(tx.to).map(|to| (to, asset)),
    ]
}

/// The block cut into conflict-free waves (indexes into `txs`): each transaction goes
/// one wave after the last earlier transaction that touches one of its leaves.
pub fn waves(ledger: &Ledger, txs: &[Transfer]) -> Vec<Vec<usize>> {
    let mut last: FxHashMap<(u32, Asset), usize> = FxHashMap::default();
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (i, tx) in txs.iter().enumerate() {
        let keys = access_set(ledger, tx);
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

/// The block's **dependency ratio**: the fraction of its transactions that touch a leaf
/// an earlier transaction of the block writes (all but the first wave).
pub fn dependency_ratio(ledger: &Ledger, txs: &[Transfer]) -> f64 {
    if txs.is_empty() {
        return 0.0;
    }
    let first = waves(ledger, txs).first().map_or(0, Vec::len);
    (txs.len() - first) as f64 / txs.len() as f64
}

/// Executes `txs` in conflict-free waves on up to `threads` threads; waves smaller
/// than `min_parallel` run inline. Same results as [`crate::executor::execute`].
/// Returns how many transactions depended on an earlier one (all but the first wave).
pub fn execute(
    ledger: &mut Ledger,
    txs: &[Transfer],
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
        let effects: Vec<Effect> = in_chunks(wave, threads, |part, _| {
            part.iter().map(|&i| effect(base, &txs[i])).collect()
        });
        // Apply in block order; the wave's writes touch disjoint leaves.
        for (&i, e) in wave.iter().zip(effects) {
            for &(w, old, new) in &e.writes[..e.len] {
                ledger.write_hashed(w.index, w.asset, w.balance, w.nonce, old, new);
            }
            outcomes[i] = Some(e.outcome);
        }
    }
    for (tx, outcome) in txs.iter().zip(outcomes) {
        if let Some(outcome) = outcome {
            out.record(tx.id, outcome);
        }
    }
    dependent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor;
    use proptest::prelude::*;

    const ACCOUNTS: u64 = 40;

    /// Shard 0 of 2 with two tokens and small balances, so that some transfers fail.
    fn ledger() -> Ledger {
        Ledger::genesis(0, Placement::new(2).unwrap(), ACCOUNTS, 2, 500)
    }

    /// Everything a block's execution is judged by.
    fn run(
        txs: &[Transfer],
        parallel: Option<usize>,
    ) -> (cross_shard::Hash, Vec<u64>, BlockOutput) {
        let mut l = ledger();
        let mut out = BlockOutput::new(2);
        match parallel {
            None => executor::execute(&mut l, txs, &mut out),
            Some(threads) => {
                execute(&mut l, txs, &mut out, threads, 1);
            }
        }
        let totals = (0..=2).map(|a| l.total(a)).collect();
        (l.state_root(), totals, out)
    }

    fn assert_same(txs: &[Transfer]) -> Result<(), TestCaseError> {
        let (root, totals, out) = run(txs, None);
        for threads in [1, 2, 4] {
            let (p_root, p_totals, p_out) = run(txs, Some(threads));
            prop_assert_eq!(p_root, root, "state root, {} threads", threads);
            prop_assert_eq!(&p_totals, &totals);
            prop_assert_eq!(&p_out.committed, &out.committed);
            prop_assert_eq!(&p_out.sent_cross, &out.sent_cross);
            prop_assert_eq!(&p_out.rejected, &out.rejected);
            prop_assert_eq!(&p_out.rejected_reason, &out.rejected_reason);
            prop_assert_eq!(&p_out.outgoing, &out.outgoing);
        }
        Ok(())
    }

    /// Transfers among `senders`; nonces follow each sender's count, with some wrong,
    /// and amounts large enough that some fail.
    fn block(picks: Vec<(u64, u64, u64, u32, bool)>) -> Vec<Transfer> {
        let mut nonces = [0u64; ACCOUNTS as usize];
        picks
            .into_iter()
            .enumerate()
            .map(|(i, (from, to, amount, asset, bad_nonce))| {
                let n = &mut nonces[from as usize];
                let nonce = if bad_nonce { *n + 3 } else { *n };
                if !bad_nonce {
                    *n += 1;
                }
                Transfer {
                    id: i as u64,
                    from,
                    to,
                    amount,
                    nonce,
                    asset,
                }
            })
            .collect()
    }

    fn pick(
        senders: u64,
        recipients: std::ops::Range<u64>,
    ) -> impl Strategy<Value = (u64, u64, u64, u32, bool)> {
        (
            0..senders,
            recipients,
            1u64..400,
            0u32..4,
            proptest::bool::weighted(0.1),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn uniform_blocks_equal_sequential(picks in proptest::collection::vec(pick(ACCOUNTS, 0..ACCOUNTS + 2), 0..300)) {
            assert_same(&block(picks))?;
        }

        #[test]
        fn one_hot_recipient_equals_sequential(picks in proptest::collection::vec(pick(ACCOUNTS, 0..1), 0..300)) {
            assert_same(&block(picks))?;
        }

        #[test]
        fn one_sender_many_nonces_equals_sequential(picks in proptest::collection::vec(pick(1, 0..ACCOUNTS), 0..200)) {
            assert_same(&block(picks))?;
        }

        #[test]
        fn chained_blocks_equal_sequential(len in 0usize..200, asset in 0u32..3) {
            // tx i pays the sender of tx i + 1.
            let picks = (0..len).map(|i| ((i as u64) % ACCOUNTS, ((i as u64) + 1) % ACCOUNTS, 50, asset, false)).collect();
            assert_same(&block(picks))?;
        }
    }

    #[test]
    fn empty_and_single_transaction_blocks() {
        assert_same(&[]).unwrap();
        assert_same(&block(vec![(3, 5, 10, 0, false)])).unwrap();
    }

    #[test]
    fn dependency_ratio_counts_later_waves() {
        let l = ledger();
        let mine = l.placement().accounts_of(0, ACCOUNTS);
        let t = |id, from, to, nonce| Transfer {
            id,
            from,
            to,
            amount: 1,
            nonce,
            asset: NATIVE,
        };
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
    fn waves_follow_conflicts() {
        // Independent transfers make one wave; a dependent chain makes one per link.
        let l = ledger();
        let mine = l.placement().accounts_of(0, ACCOUNTS);
        let t = |id, from, to| Transfer {
            id,
            from,
            to,
            amount: 1,
            nonce: 0,
            asset: NATIVE,
        };
        let keys = |tx: &Transfer| access_set(&l, tx);
        assert!(keys(&t(0, mine[0], mine[1])).iter().flatten().count() == 2);
        assert!(
            keys(&t(0, ACCOUNTS * 9, mine[1]))
                .iter()
                .all(Option::is_none)
        );
    }
}
