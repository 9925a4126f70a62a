//! Predicting whether a parallel executor will pay for a block — before running it.
//!
//! A parallel executor costs something per transaction that the sequential one does
//! not (Block-STM's versions, read sets and validation; the parallel executor's waves
//! and overlays), and gains at most the number of cores. On a cheap or a fully
//! dependent block it loses: measured with `shardsim bench-exec` on native transfers,
//! Block-STM at 2 threads ran at 0.40–0.53× sequential and the parallel executor at
//! 0.86× on a chained block (docs/benchmarks.md). So each runs a block sequentially when
//! it predicts a loss, and says so (`ExecStats::fell_back`):
//!
//! ```text
//!  cores = min(threads, the machine's cores)
//!  Block-STM: work per transaction w, its overhead per transaction o:
//!             parallel time ≈ (w + o)/cores  <  w   ⇔   w·(cores − 1) > o
//!  parallel:  cores ≥ 2, and in a sample of the block's first transactions at most
//!             2 in 5 depend on an earlier one (a chain gains nothing from waves)
//! ```
//!
//! The per-transaction costs are measured constants, not guesses made at run time: a
//! native program is ~1 µs of work ([`NATIVE_WORK_NS`]) and Block-STM's bookkeeping
//! ~1.2 µs ([`BLOCKSTM_OVERHEAD_NS`]), so on native programs Block-STM pays only from
//! three cores on. Prediction can be turned off (`cluster.predict_executor = false`) to
//! run an executor's algorithm on every block, as the differential tests do.

use cross_shard::Tx;

use crate::state::Ledger;

/// Work of one native program call, ns: `bench-exec`'s sequential executor ran 0.8–2.3 M
/// native transfers per second (0.4–1.2 µs each).
pub const NATIVE_WORK_NS: u64 = 1_000;
/// Block-STM's own cost per transaction, ns (its multi-version memory, read set and
/// validation): on one thread it ran native transfers at 0.42–0.53× sequential.
pub const BLOCKSTM_OVERHEAD_NS: u64 = 1_200;
/// Transactions the parallel executor's prediction looks at.
pub const SAMPLE: usize = 512;
/// Most dependent share of the sample at which waves still pay: at 2 threads the
/// parallel executor gained 1.1–1.2× on native transfers with 4–13% dependent and broke
/// even (0.8–1.1× over runs) at 51% (docs/benchmarks.md).
pub const MAX_DEPENDENT_SHARE: f64 = 0.4;

/// Under the EVM a call costs what its contract does: a plain value transfer ~1.5 µs,
/// a contract call ~5 µs (`bench-exec --vm evm`, sequential: 0.66–0.77 M value transfers
/// and 0.18–0.22 M ERC-20 transfers per second).
pub const EVM_TRANSFER_WORK_NS: u64 = 1_500;
/// See [`EVM_TRANSFER_WORK_NS`].
pub const EVM_CALL_WORK_NS: u64 = 5_000;
/// The EVM executors' own cost per call, ns (their views, versions or waves, the revm
/// each worker keeps): on one thread Block-STM ran ERC-20 transfers at 0.73–0.84× and
/// the parallel executor at 0.90× sequential, about 1–2 µs a call; on plain value
/// transfers the parallel executor lost at 2 threads (0.84×), so at least 1.5 µs.
pub const EVM_OVERHEAD_NS: u64 = 2_000;

/// Least parallelism — calls per step of the sample's longest chain of dependent calls
/// (its number of waves) — at which an EVM executor still pays: two calls per core at
/// 2 cores. Swaps in 64 pools are each a chain, but 64 chains side by side
/// (Block-STM gained 1.27×); one hot pool or one chain has a parallelism of 1 (both
/// executors lost, 0.7×).
pub const MIN_EVM_PARALLELISM: usize = 4;

/// Whether an EVM executor on `cores` cores should beat the sequential EVM on `txs`: the
/// calls' work must outweigh the overhead (`w·(cores − 1) > o`, `w` the sample's mean
/// work by call kind), and the calls must not form a few long chains (a hot pool or a
/// chain runs one call at a time whatever the executor, and only pays its overhead).
pub fn evm_pays(ledger: &Ledger, txs: &[Tx], cores: usize) -> bool {
    if cores < 2 || txs.is_empty() {
        return false;
    }
    let sample = &txs[..txs.len().min(SAMPLE)];
    let work: u64 = sample
        .iter()
        .map(|tx| match tx.call {
            cross_shard::Call::Transfer { asset: 0, .. } => EVM_TRANSFER_WORK_NS,
            _ => EVM_CALL_WORK_NS,
        })
        .sum::<u64>()
        / sample.len() as u64;
    let chain = super::parallel::waves(ledger, sample).len().max(1);
    work.saturating_mul(cores as u64 - 1) > EVM_OVERHEAD_NS
        && sample.len() / chain >= MIN_EVM_PARALLELISM.max(cores)
}

/// Threads that can really run at once: the configured ones, at most the machine's
/// cores.
pub fn cores(threads: usize) -> usize {
    let machine = std::thread::available_parallelism().map_or(1, usize::from);
    threads.min(machine).max(1)
}

/// Whether Block-STM on `cores` cores should beat the sequential executor on `txs`.
pub fn blockstm_pays(txs: &[Tx], cores: usize) -> bool {
    // Every call of the native programs costs about the same; the EVM's will not, and
    // will bring their own estimate (their gas).
    let work = NATIVE_WORK_NS;
    !txs.is_empty() && work.saturating_mul(cores.saturating_sub(1) as u64) > BLOCKSTM_OVERHEAD_NS
}

/// Whether the parallel executor on `cores` cores should beat the sequential one.
pub fn waves_pay(ledger: &Ledger, txs: &[Tx], cores: usize) -> bool {
    if cores < 2 || txs.is_empty() {
        return false;
    }
    let sample = &txs[..txs.len().min(SAMPLE)];
    super::parallel::dependency_ratio(ledger, sample) <= MAX_DEPENDENT_SHARE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::world;
    use cross_shard::Call;

    fn transfer(id: u64, from: u64, to: u64) -> Tx {
        Tx {
            id,
            from,
            nonce: 0,
            call: Call::Transfer {
                to,
                asset: 0,
                amount: 1,
            },
        }
    }

    #[test]
    fn blockstm_pays_on_native_programs_only_from_three_cores() {
        let txs = vec![transfer(0, 1, 2)];
        assert!(!blockstm_pays(&txs, 1));
        assert!(!blockstm_pays(&txs, 2));
        assert!(blockstm_pays(&txs, 3));
        assert!(!blockstm_pays(&[], 8), "nothing to run");
    }

    #[test]
    fn waves_pay_on_independent_blocks_and_not_on_chains_or_one_core() {
        let ledger = Ledger::genesis(world(0, 1, 2_000, 1), 100);
        let independent: Vec<Tx> = (0..600).map(|i| transfer(i, i, 1_999 - i)).collect();
        let chained: Vec<Tx> = (0..600).map(|i| transfer(i, i, i + 1)).collect();
        assert!(waves_pay(&ledger, &independent, 2));
        assert!(
            !waves_pay(&ledger, &independent, 1),
            "one core: waves only cost"
        );
        assert!(
            !waves_pay(&ledger, &chained, 2),
            "each depends on the one before"
        );
    }

    #[test]
    fn evm_executors_pay_on_independent_contract_calls_only() {
        let ledger = crate::state::Ledger::genesis(world(0, 1, 1000, 1), 100);
        let token = |id, from, to| Tx {
            call: Call::Transfer {
                to,
                asset: 1,
                amount: 1,
            },
            ..transfer(id, from, to)
        };
        let independent: Vec<Tx> = (0..100).map(|i| token(i, 2 * i, 2 * i + 1)).collect();
        assert!(evm_pays(&ledger, &independent, 2));
        assert!(!evm_pays(&ledger, &independent, 1), "one core");
        let cheap: Vec<Tx> = (0..100).map(|i| transfer(i, 2 * i, 2 * i + 1)).collect();
        assert!(
            !evm_pays(&ledger, &cheap, 2),
            "plain value transfers are too cheap"
        );
        let chain: Vec<Tx> = (0..100).map(|i| token(i, i, i + 1)).collect();
        assert!(!evm_pays(&ledger, &chain, 2), "a chain");
        // Ten chains of ten side by side: parallel enough.
        let chains: Vec<Tx> = (0..100)
            .map(|i| token(i, 20 * (i % 10) + i / 10, 20 * (i % 10) + i / 10 + 1))
            .collect();
        assert!(evm_pays(&ledger, &chains, 2), "ten chains");
    }
}
