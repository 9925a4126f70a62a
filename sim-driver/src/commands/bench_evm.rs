//! `shardsim bench-exec --vm evm`: real contract execution, timed in-process.
//!
//! One block of 20,000 calls per workload, run by the shard's EVM executors over its
//! state (`shard_node::vm::exec`: sequential, parallel and Block-STM at 1 and 2 threads)
//! and, for the two workloads it can run, by **bare revm** (the contracts in an
//! in-memory database, one call after another, no shard state), so that the cost of our
//! state layer shows. Before a figure is kept the results are compared with the native
//! programs' on the same calls: every executor's outputs and state root must be the
//! native sequential executor's (one state, two VMs), bare revm's every balance.
//!
//! ```text
//!  workload:  transfer   value transfers between random accounts (no contract)
//!             erc20      ShardToken.transfer between random accounts
//!             swap       Pool swaps by random traders in 64 pools, both directions
//!             hot-pool   the same in one pool: every swap depends on the one before
//!             dependent  ERC-20 transfers in a chain: each spends what the last paid
//!             mixed      the five programs: transfers, tokens, swaps, mints, votes
//!  per run:   the genesis ─► time [ execute the block, commit ] ─► compare with native
//! ```

use std::time::Instant;

use alloy_sol_types::SolCall;
use anyhow::Context;
use cross_shard::amm::POOL_RESERVE;
use cross_shard::{Call, Placement, Tx};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use shard_node::exec::{self, BlockExecutor, BlockOutput};
use shard_node::state::{Key, Ledger, State, World as NativeWorld};
use shard_node::vm::abi::IShardToken;
use shard_node::vm::addresses::account;
use shard_node::vm::bare::{Outcome, World};
use shard_node::vm::exec::{EvmBlockStm, EvmParallel, EvmSequential};
use shard_node::vm::state::Layout;

use super::bench_exec::{Plan, Rate};

/// Accounts of the EVM benchmark for a block of `calls`: five per call, between 1,000
/// and 100,000 (revm's in-memory database holds each one; 100,000 at the default block).
fn accounts(calls: usize) -> u64 {
    (calls as u64 * 5).clamp(1_000, 100_000)
}
/// Every account's genesis balance, in the native coin and in the token.
const BALANCE: u64 = 1_000_000_000;
/// The EVM workloads, in table order.
pub const WORKLOADS: [&str; 6] = [
    "transfer",
    "erc20",
    "swap",
    "hot-pool",
    "dependent",
    "mixed",
];
/// The workloads bare revm runs too (no pools, collections or ballots in its world).
const BARE: [&str; 2] = ["transfer", "erc20"];
/// The shard executors, their threads and whether they predict
/// (`shard_node::exec::predict::evm_pays`), in table order: each algorithm forced on
/// every block at 1 and 2 threads, then the two parallel ones at 2 threads as a shard
/// runs them by default, predicting.
const EXECUTORS: [(&str, usize, bool); 7] = [
    ("sequential", 1, false),
    ("parallel", 1, false),
    ("parallel", 2, false),
    ("block-stm", 1, false),
    ("block-stm", 2, false),
    ("parallel", 2, true),
    ("block-stm", 2, true),
];

/// One EVM cell, as written to `bench-exec.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvmRow {
    /// `evm`.
    pub vm: String,
    /// One of [`WORKLOADS`].
    pub workload: String,
    /// `bare-revm`, `sequential`, `parallel` or `block-stm`.
    pub executor: String,
    /// Threads.
    pub threads: usize,
    /// Calls per second.
    pub tps: Rate,
    /// Millions of gas per second.
    pub mgas_per_s: Rate,
    /// Gas per call (the same in every run).
    pub gas_per_tx: u64,
    /// Median rate over the shard's sequential EVM executor's on the same workload.
    #[serde(default)]
    pub speedup: f64,
    /// Block-STM: re-executions in the median run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reexecuted: Option<usize>,
    /// Parallel: runs that fell back to sequential for an undeclared key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undeclared: Option<usize>,
    /// Whether the executor predicted (ran a block it would lose on sequentially)…
    #[serde(default)]
    pub predict: bool,
    /// …and in how many runs it did.
    #[serde(default)]
    pub fell_back: usize,
}

/// The block of a workload: `(from, to, amount)` per call, nonces in order.
fn calls(block: usize, seed: u64) -> Vec<(u64, u64, u64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..block)
        .map(|_| {
            let from = rng.random_range(0..accounts(block));
            let to = rng.random_range(0..accounts(block));
            (from, to, rng.random_range(1..=100))
        })
        .collect()
}

/// The genesis world: every account funded; for `erc20`, one token with every account
/// holding `BALANCE`.
fn genesis(
    workload: &str,
    calls: usize,
) -> anyhow::Result<(World, Option<revm::primitives::Address>)> {
    let mut w = World::new((0..accounts(calls)).map(account), BALANCE);
    if workload != "erc20" {
        return Ok((w, None));
    }
    let token = w.deploy_token(1, &[], 0, &[], 0)?;
    for a in 0..accounts(calls) {
        w.set_token_balance(token, account(a), BALANCE);
    }
    Ok((w, Some(token)))
}

/// The workload's one-shard genesis ledger, and its block as native transactions: the
/// same `calls` (sender, other party, amount) in every workload, so that bare revm and
/// the shard run the same transfers.
fn ledger_and_txs(workload: &str, calls: &[(u64, u64, u64)]) -> anyhow::Result<(Ledger, Vec<Tx>)> {
    let (pools, collections, proposals) = match workload {
        "swap" | "mixed" => (64, 8, 8),
        "hot-pool" => (1, 0, 0),
        _ => (0, 0, 0),
    };
    let world = NativeWorld {
        shard: 0,
        placement: Placement::new(1).context("one shard")?,
        accounts: accounts(calls.len()),
        tokens: 1,
        pools,
        collections,
        proposals,
        pool_reserve: POOL_RESERVE,
    };
    let ledger = Ledger::genesis(world, BALANCE);
    let mut nonces = vec![0u64; accounts(calls.len()) as usize];
    let mut previous = None;
    let txs: Vec<Tx> = calls
        .iter()
        .enumerate()
        .map(|(i, &(from, to, amount))| {
            // A chain: each call spends from the account the one before paid.
            let from = match workload {
                "dependent" => previous.unwrap_or(from),
                _ => from,
            };
            previous = Some(to);
            let swap = |pools: u32| Call::Swap {
                pool: (to % u64::from(pools)) as u32,
                asset_in: (i % 2) as u32,
                amount_in: amount,
                min_out: 0,
            };
            let call = match (workload, i % 5) {
                ("transfer", _) | ("mixed", 0) => Call::Transfer {
                    to,
                    asset: 0,
                    amount,
                },
                ("erc20" | "dependent", _) | ("mixed", 1) => Call::Transfer {
                    to,
                    asset: 1,
                    amount,
                },
                ("swap" | "hot-pool", _) | ("mixed", 2) => swap(pools),
                ("mixed", 3) => Call::Mint {
                    collection: (to % u64::from(collections)) as u32,
                },
                _ => Call::Vote {
                    proposal: (to % u64::from(proposals)) as u32,
                    yes: amount % 2 == 0,
                },
            };
            let nonce = nonces[from as usize];
            nonces[from as usize] += 1;
            Tx {
                id: i as u64,
                from,
                nonce,
                call,
            }
        })
        .collect();
    Ok((ledger, txs))
}

/// The same calls through the native programs; returns each account's final balance in
/// the workload's asset, and the final state root.
fn native(
    workload: &str,
    calls: &[(u64, u64, u64)],
) -> anyhow::Result<(Vec<u64>, cross_shard::Hash)> {
    let (mut ledger, txs) = ledger_and_txs(workload, calls)?;
    let asset = u32::from(workload == "erc20");
    let mut out = BlockOutput::new(1);
    exec::execute(&mut ledger, &txs, &mut out);
    anyhow::ensure!(
        out.rejected.is_empty(),
        "native: a benchmark call was rejected"
    );
    let balances = (0..accounts(calls.len()))
        .map(|a| {
            let i = ledger.local(a).unwrap_or_default();
            let key = if asset == 0 {
                Key::Account(i)
            } else {
                Key::Token(i, asset)
            };
            ledger.get(key)[0]
        })
        .collect();
    Ok((balances, ledger.state_root()))
}

/// A shard EVM executor by name.
fn executor(kind: &str, threads: usize, predict: bool, layout: Layout) -> Box<dyn BlockExecutor> {
    match kind {
        "sequential" => Box::new(EvmSequential::new(layout)),
        "parallel" => Box::new(EvmParallel {
            predict,
            ..EvmParallel::new(layout, threads)
        }),
        _ => Box::new(EvmBlockStm {
            predict,
            ..EvmBlockStm::new(layout, threads)
        }),
    }
}

/// What one shard executor did over the runs.
#[derive(Default)]
struct Cell {
    rates: Vec<f64>,
    gas_rates: Vec<f64>,
    gas_per_tx: u64,
    reexecuted: Vec<usize>,
    undeclared: Option<usize>,
    fell_back: usize,
}

/// One run of `kind` on `threads` threads over the shard's state from `genesis`, added
/// to `cell` (`None`: a warm-up, checked but not kept); its outputs and state root
/// checked against `expected` (the native programs').
fn shard_run(
    workload: &str,
    (genesis, txs, layout): (&Ledger, &[Tx], &Layout),
    expected: &(BlockOutput, cross_shard::Hash),
    (kind, threads, predict): (&str, usize, bool),
    cell: Option<&mut Cell>,
) -> anyhow::Result<()> {
    let mut ex = executor(kind, threads, predict, layout.clone());
    let mut ledger = genesis.clone();
    let mut out = BlockOutput::new(1);
    let start = Instant::now();
    let stats = ex
        .execute(&mut ledger, txs, &mut out)
        .map_err(|_| anyhow::anyhow!("{workload}: {kind} failed a block; no figure is reported"))?;
    ledger.commit(threads);
    let elapsed = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.without_gas() == expected.0 && ledger.state_root() == expected.1,
        "{workload}: {kind} ({threads} threads) did not reach the native programs' outputs and state root; no figure is reported"
    );
    let Some(cell) = cell else {
        return Ok(());
    };
    cell.rates.push(txs.len() as f64 / elapsed);
    let gas = out.gas_used();
    cell.gas_rates.push(gas as f64 / elapsed / 1e6);
    cell.gas_per_tx = gas / txs.len().max(1) as u64;
    cell.reexecuted.extend(stats.reexecuted);
    if kind == "parallel" {
        *cell.undeclared.get_or_insert(0) += usize::from(stats.undeclared);
    }
    cell.fell_back += usize::from(stats.fell_back);
    Ok(())
}

/// Bare revm on `block`: its rate and gas rate, every balance checked against the
/// native programs'.
fn bare(
    workload: &str,
    block: &[(u64, u64, u64)],
    runs: usize,
    progress: bool,
) -> anyhow::Result<EvmRow> {
    let (expected, _) = native(workload, block)?;
    let (genesis, token) = genesis(workload, block.len())?;
    let mut rates = Vec::with_capacity(runs);
    let mut gas_rates = Vec::with_capacity(runs);
    let mut gas_per_tx = 0;
    for _ in 0..runs {
        let mut w = genesis.fork();
        let encoded: Vec<(
            revm::primitives::Address,
            revm::primitives::Address,
            u64,
            Vec<u8>,
        )> = block
            .iter()
            .map(|&(from, to, amount)| match token {
                None => (account(from), account(to), amount, Vec::new()),
                Some(t) => (
                    account(from),
                    t,
                    0,
                    IShardToken::transferCall {
                        to: account(to),
                        value: revm::primitives::U256::from(amount),
                    }
                    .abi_encode(),
                ),
            })
            .collect();
        let mut gas = 0u64;
        let start = Instant::now();
        for (from, to, value, data) in encoded {
            match w.call(from, to, value, data)? {
                Outcome::Success { gas: g, .. } => gas += g,
                other => {
                    anyhow::bail!("{workload}: a benchmark call did not succeed: {other:?}")
                }
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        // The two VMs agree on every account's balance.
        for (a, &want) in expected.iter().enumerate() {
            let got = match token {
                None => w.balance(account(a as u64)),
                Some(t) => {
                    let out = w.view(
                        t,
                        IShardToken::balanceOfCall {
                            account: account(a as u64),
                        }
                        .abi_encode(),
                    )?;
                    IShardToken::balanceOfCall::abi_decode_returns(&out)?
                }
            };
            anyhow::ensure!(
                got == revm::primitives::U256::from(want),
                "{workload}: account {a} holds {got} under the EVM and {want} natively; no figure is reported"
            );
        }
        rates.push(block.len() as f64 / elapsed);
        gas_rates.push(gas as f64 / elapsed / 1e6);
        gas_per_tx = gas / block.len().max(1) as u64;
    }
    let tps = Rate::of(rates).context("no runs")?;
    let mgas_per_s = Rate::of(gas_rates).context("no runs")?;
    if progress {
        eprintln!(
            "{:>10} {workload:>8} {:>12.0} tx/s {:>8.1} Mgas/s ({gas_per_tx} gas per call)",
            "bare-revm", tps.median, mgas_per_s.median
        );
    }
    Ok(EvmRow {
        vm: "evm".into(),
        workload: workload.into(),
        executor: "bare-revm".into(),
        threads: 1,
        tps,
        mgas_per_s,
        gas_per_tx,
        speedup: 0.0,
        reexecuted: None,
        undeclared: None,
        predict: false,
        fell_back: 0,
    })
}

/// Runs the EVM matrix.
pub fn run(plan: Plan, progress: bool) -> anyhow::Result<Vec<EvmRow>> {
    let mut rows = Vec::new();
    for workload in WORKLOADS {
        let block = calls(plan.block, 11);
        if BARE.contains(&workload) {
            rows.push(bare(workload, &block, plan.runs, progress)?);
        }
        let (ledger, txs) = ledger_and_txs(workload, &block)?;
        let layout = Layout::new(State::world(&ledger))?;
        let expected = {
            let mut l = ledger.clone();
            let mut out = BlockOutput::new(1);
            exec::execute(&mut l, &txs, &mut out);
            (out, l.state_root())
        };
        let first = rows.len();
        // One warm-up pass (the allocator and caches), then the runs interleaved, so
        // that no executor is measured alone on a colder or quieter machine.
        let shard = (&ledger, txs.as_slice(), &layout);
        let mut cells: Vec<Cell> = EXECUTORS.iter().map(|_| Cell::default()).collect();
        for e in EXECUTORS {
            shard_run(workload, shard, &expected, e, None)?;
        }
        for _ in 0..plan.runs {
            for (e, cell) in EXECUTORS.into_iter().zip(&mut cells) {
                shard_run(workload, shard, &expected, e, Some(cell))?;
            }
        }
        for ((kind, threads, predict), mut cell) in EXECUTORS.into_iter().zip(cells) {
            let tps = Rate::of(cell.rates).context("no runs")?;
            let mgas_per_s = Rate::of(cell.gas_rates).context("no runs")?;
            if progress {
                eprintln!(
                    "{kind:>10} {threads} {workload:>9} {:>12.0} tx/s {:>8.1} Mgas/s ({} gas per call)",
                    tps.median, mgas_per_s.median, cell.gas_per_tx
                );
            }
            cell.reexecuted.sort_unstable();
            rows.push(EvmRow {
                vm: "evm".into(),
                workload: workload.into(),
                executor: kind.into(),
                threads,
                tps,
                mgas_per_s,
                gas_per_tx: cell.gas_per_tx,
                speedup: 0.0,
                reexecuted: cell
                    .reexecuted
                    .get(cell.reexecuted.len().saturating_sub(1) / 2)
                    .copied(),
                undeclared: cell.undeclared,
                predict,
                fell_back: cell.fell_back,
            });
        }
        // Speedups over the shard's sequential EVM executor on the same workload.
        let sequential = rows
            .iter()
            .skip(first)
            .find(|r| r.executor == "sequential")
            .map_or(1.0, |r| r.tps.median);
        for r in rows.iter_mut().filter(|r| r.workload == workload) {
            r.speedup = r.tps.median / sequential;
        }
    }
    Ok(rows)
}

/// The EVM rows as a table.
pub fn table(rows: &[EvmRow], runs: usize, block: usize) -> String {
    let mut out = format!(
        "\nEVM (revm), {block} calls per block, median of {runs} runs (min–max); every run checked against the native programs\n"
    );
    out.push_str(&format!(
        "{:<10} {:>7} {:>7} {:<9} {:>10} {:>21} {:>8} {:>8} {:>9} {:>9} {:>10} {:>9}\n",
        "executor",
        "threads",
        "predict",
        "workload",
        "tx/s",
        "min–max",
        "Mgas/s",
        "gas/call",
        "speedup",
        "re-exec",
        "undeclared",
        "fell back"
    ));
    for r in rows {
        let or_dash = |v: Option<usize>| v.map_or("-".to_string(), |v| v.to_string());
        out.push_str(&format!(
            "{:<10} {:>7} {:>7} {:<9} {:>10.0} {:>21} {:>8.1} {:>8} {:>8.2}x {:>9} {:>10} {:>9}\n",
            r.executor,
            r.threads,
            if r.predict { "yes" } else { "no" },
            r.workload,
            r.tps.median,
            format!("{:.0}–{:.0}", r.tps.min, r.tps.max),
            r.mgas_per_s.median,
            r.gas_per_tx,
            r.speedup,
            or_dash(r.reexecuted),
            or_dash(r.undeclared.map(|u| u.min(runs))),
            format!("{}/{runs}", r.fell_back),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small block of each workload runs on every executor, and the native comparison
    /// passes.
    #[test]
    fn bare_revm_agrees_with_the_native_programs() {
        let rows = run(
            Plan {
                block: 100,
                runs: 1,
            },
            false,
        )
        .unwrap();
        // Per workload: bare revm (two of them), then every shard executor (each run's
        // outputs and state root checked against the native programs').
        assert_eq!(
            rows.len(),
            BARE.len() + EXECUTORS.len() * WORKLOADS.len(),
            "{rows:?}"
        );
        assert_eq!(rows[0].gas_per_tx, 21_000, "a plain value transfer");
        assert_eq!(
            rows[1].gas_per_tx, 21_000,
            "the same through the shard's state"
        );
        for workload in WORKLOADS {
            let cells: Vec<&EvmRow> = rows
                .iter()
                .filter(|r| r.workload == workload && r.executor != "bare-revm")
                .collect();
            assert!(
                cells.iter().all(|r| r.gas_per_tx == cells[0].gas_per_tx),
                "every executor burns the same gas: {cells:?}"
            );
            assert!(
                cells.iter().all(|r| r.undeclared.unwrap_or(0) == 0),
                "the programs declare what they touch: {cells:?}"
            );
        }
        let erc20 = rows.iter().find(|r| r.workload == "erc20").unwrap();
        assert!(
            erc20.gas_per_tx > 21_000,
            "an ERC-20 transfer runs bytecode"
        );
    }

    /// The comparison can fail: a native result that differs by one coin is caught.
    #[test]
    fn a_balance_that_differs_from_native_is_caught() {
        let block = calls(10, 11);
        let (mut expected, _) = native("transfer", &block).unwrap();
        let (genesis, _) = genesis("transfer", block.len()).unwrap();
        let mut w = genesis.fork();
        for &(from, to, amount) in &block {
            w.call(account(from), account(to), amount, Vec::new())
                .unwrap();
        }
        let a = block[0].0 as usize;
        assert_eq!(
            w.balance(account(a as u64)),
            revm::primitives::U256::from(expected[a])
        );
        expected[a] += 1;
        assert_ne!(
            w.balance(account(a as u64)),
            revm::primitives::U256::from(expected[a])
        );
    }

    /// A shard executor's run that misses the native result is refused, not timed.
    #[test]
    fn a_shard_run_that_differs_from_native_is_refused() {
        let block = calls(100, 11);
        let (ledger, txs) = ledger_and_txs("mixed", &block).unwrap();
        let layout = Layout::new(State::world(&ledger)).unwrap();
        let mut l = ledger.clone();
        let mut out = BlockOutput::new(1);
        exec::execute(&mut l, &txs, &mut out);
        let right = (out.clone(), l.state_root());
        let mut cell = Cell::default();
        let ok = shard_run(
            "mixed",
            (&ledger, &txs, &layout),
            &right,
            ("parallel", 2, false),
            Some(&mut cell),
        );
        assert!(ok.is_ok() && cell.rates.len() == 1);
        out.committed.pop();
        let wrong = (out, right.1);
        let e = shard_run(
            "mixed",
            (&ledger, &txs, &layout),
            &wrong,
            ("block-stm", 2, false),
            None,
        )
        .expect_err("refused");
        assert!(e.to_string().contains("no figure"), "{e}");
    }
}
