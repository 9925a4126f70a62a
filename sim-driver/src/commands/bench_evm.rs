//! `shardsim bench-exec --vm evm`: real contract execution, timed in-process.
//!
//! The first EVM figures of issue #14: the same kind of block as the native benchmark
//! — 20,000 valid calls by random senders to random recipients — run by **bare revm**
//! (the contracts in an in-memory database, one call after another, no shard state),
//! and by the shard's own **sequential EVM executor** over its state
//! (`shard_node::vm::exec`), so that the cost of our state layer shows. Before a figure
//! is kept the results are compared with the native sequential executor's on the same
//! calls: bare revm's every balance, the shard executor's state root.
//!
//! ```text
//!  workload:  transfer   value transfers between accounts (no contract)
//!             erc20      ShardToken.transfer between accounts (OpenZeppelin ERC-20)
//!  per run:   fork the genesis world ─► time [ every call ] ─► compare with native
//! ```

use std::time::Instant;

use alloy_sol_types::SolCall;
use anyhow::Context;
use cross_shard::amm::POOL_RESERVE;
use cross_shard::{Call, Placement, Tx};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use shard_node::exec::{self, BlockOutput};
use shard_node::state::{Key, Ledger, State, World as NativeWorld};
use shard_node::vm::abi::IShardToken;
use shard_node::vm::addresses::account;
use shard_node::vm::bare::{Outcome, World};

use super::bench_exec::{Plan, Rate};

/// Accounts of the EVM benchmark (revm's in-memory database holds each one).
const ACCOUNTS: u64 = 100_000;
/// Every account's genesis balance, in the native coin and in the token.
const BALANCE: u64 = 1_000_000_000;
/// The EVM workloads, in table order.
pub const WORKLOADS: [&str; 2] = ["transfer", "erc20"];

/// One EVM cell, as written to `bench-exec.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvmRow {
    /// `evm`.
    pub vm: String,
    /// `transfer` or `erc20`.
    pub workload: String,
    /// `bare-revm`.
    pub executor: String,
    /// Threads.
    pub threads: usize,
    /// Calls per second.
    pub tps: Rate,
    /// Millions of gas per second.
    pub mgas_per_s: Rate,
    /// Gas per call (the same in every run).
    pub gas_per_tx: u64,
}

/// The block of a workload: `(from, to, amount)` per call, nonces in order.
fn calls(block: usize, seed: u64) -> Vec<(u64, u64, u64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..block)
        .map(|_| {
            let from = rng.random_range(0..ACCOUNTS);
            let to = rng.random_range(0..ACCOUNTS);
            (from, to, rng.random_range(1..=100))
        })
        .collect()
}

/// The genesis world: every account funded; for `erc20`, one token with every account
/// holding `BALANCE`.
fn genesis(workload: &str) -> anyhow::Result<(World, Option<revm::primitives::Address>)> {
    let mut w = World::new((0..ACCOUNTS).map(account), BALANCE);
    if workload != "erc20" {
        return Ok((w, None));
    }
    let token = w.deploy_token(1, &[], 0, &[], 0)?;
    for a in 0..ACCOUNTS {
        w.set_token_balance(token, account(a), BALANCE);
    }
    Ok((w, Some(token)))
}

/// The benchmark's one-shard genesis ledger, and its block as native transactions.
fn ledger_and_txs(workload: &str, calls: &[(u64, u64, u64)]) -> anyhow::Result<(Ledger, Vec<Tx>)> {
    let world = NativeWorld {
        shard: 0,
        placement: Placement::new(1).context("one shard")?,
        accounts: ACCOUNTS,
        tokens: 1,
        pools: 0,
        collections: 0,
        proposals: 0,
        pool_reserve: POOL_RESERVE,
    };
    let ledger = Ledger::genesis(world, BALANCE);
    let asset = u32::from(workload == "erc20");
    let mut nonces = vec![0u64; ACCOUNTS as usize];
    let txs: Vec<Tx> = calls
        .iter()
        .enumerate()
        .map(|(i, &(from, to, amount))| {
            let nonce = nonces[from as usize];
            nonces[from as usize] += 1;
            Tx {
                id: i as u64,
                from,
                nonce,
                call: Call::Transfer { to, asset, amount },
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
    let balances = (0..ACCOUNTS)
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

/// The shard's own sequential EVM executor (`shard_node::vm::exec`) over its state, on
/// the same calls: its rate and gas rate per run, the state root checked against the
/// native programs'.
fn shard_evm(
    workload: &str,
    (genesis, txs, layout): (&Ledger, &[Tx], &shard_node::vm::state::Layout),
    root: cross_shard::Hash,
    runs: usize,
    blockstm_threads: Option<usize>,
) -> anyhow::Result<(Vec<f64>, Vec<f64>, u64)> {
    let (mut rates, mut gas_rates, mut per_tx) = (Vec::new(), Vec::new(), 0);
    // Each call's gas, from an untimed sequential run: Block-STM does not total it.
    let sequential_gas = {
        let mut l = genesis.clone();
        let mut o = BlockOutput::new(1);
        shard_node::vm::exec::execute(&mut l, layout, txs, &mut o)?
    };
    for _ in 0..runs {
        let mut ledger = genesis.clone();
        let mut out = BlockOutput::new(1);
        let start = Instant::now();
        let gas = match blockstm_threads {
            None => shard_node::vm::exec::execute(&mut ledger, layout, txs, &mut out)?,
            Some(threads) => {
                shard_node::vm::exec::blockstm(&mut ledger, layout, txs, &mut out, threads)?;
                // Every call uses the gas it uses sequentially.
                sequential_gas.clone()
            }
        };
        ledger.commit(blockstm_threads.unwrap_or(1));
        let elapsed = start.elapsed().as_secs_f64();
        anyhow::ensure!(
            out.rejected.is_empty() && ledger.state_root() == root,
            "{workload}: the shard's EVM executor did not reach the native state root; no figure is reported"
        );
        let total: u64 = gas.iter().sum();
        rates.push(txs.len() as f64 / elapsed);
        gas_rates.push(total as f64 / elapsed / 1e6);
        per_tx = total / txs.len().max(1) as u64;
    }
    Ok((rates, gas_rates, per_tx))
}

/// Runs the EVM matrix.
pub fn run(plan: Plan, progress: bool) -> anyhow::Result<Vec<EvmRow>> {
    let mut rows = Vec::new();
    for workload in WORKLOADS {
        let block = calls(plan.block, 11);
        let (expected, root) = native(workload, &block)?;
        let (genesis, token) = genesis(workload)?;
        let mut rates = Vec::with_capacity(plan.runs);
        let mut gas_rates = Vec::with_capacity(plan.runs);
        let mut gas_per_tx = 0;
        for _ in 0..plan.runs {
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
        rows.push(EvmRow {
            vm: "evm".into(),
            workload: workload.into(),
            executor: "bare-revm".into(),
            threads: 1,
            tps,
            mgas_per_s,
            gas_per_tx,
        });
        let (ledger, txs) = ledger_and_txs(workload, &block)?;
        let local: Vec<u64> = (0..ledger.len() as u32).map(|i| ledger.id(i)).collect();
        let layout =
            shard_node::vm::state::Layout::new(shard_node::state::State::world(&ledger), &local)?;
        for (executor, threads) in [
            ("sequential", None),
            ("block-stm", Some(1)),
            ("block-stm", Some(2)),
        ] {
            let (rates, gas_rates, gas_per_tx) =
                shard_evm(workload, (&ledger, &txs, &layout), root, plan.runs, threads)?;
            let tps = Rate::of(rates).context("no runs")?;
            let mgas_per_s = Rate::of(gas_rates).context("no runs")?;
            if progress {
                eprintln!(
                    "{executor:>10} {workload:>8} {:>12.0} tx/s {:>8.1} Mgas/s ({gas_per_tx} gas per call)",
                    tps.median, mgas_per_s.median
                );
            }
            rows.push(EvmRow {
                vm: "evm".into(),
                workload: workload.into(),
                executor: executor.into(),
                threads: threads.unwrap_or(1),
                tps,
                mgas_per_s,
                gas_per_tx,
            });
        }
    }
    Ok(rows)
}

/// The EVM rows as a table.
pub fn table(rows: &[EvmRow], runs: usize, block: usize) -> String {
    let mut out = format!(
        "\nEVM (revm), {block} calls per block, median of {runs} runs (min–max); balances checked against the native programs\n"
    );
    out.push_str(&format!(
        "{:<10} {:>7} {:<9} {:>12} {:>25} {:>8} {:>9}\n",
        "executor", "threads", "workload", "tx/s", "min–max", "Mgas/s", "gas/call"
    ));
    for r in rows {
        out.push_str(&format!(
            "{:<10} {:>7} {:<9} {:>12.0} {:>25} {:>8.1} {:>9}\n",
            r.executor,
            r.threads,
            r.workload,
            r.tps.median,
            format!("{:.0}–{:.0}", r.tps.min, r.tps.max),
            r.mgas_per_s.median,
            r.gas_per_tx
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small block of each workload runs, and the native comparison passes.
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
        // Per workload: bare revm, the shard's sequential EVM executor, Block-STM at 1
        // and 2 threads (each run's state root checked against the native programs').
        assert_eq!(rows.len(), 4 * WORKLOADS.len(), "{rows:?}");
        assert_eq!(rows[0].gas_per_tx, 21_000, "a plain value transfer");
        assert_eq!(
            rows[1].gas_per_tx, 21_000,
            "the same through the shard's state"
        );
        assert!(
            rows[4].gas_per_tx > 21_000,
            "an ERC-20 transfer runs bytecode"
        );
        assert!(
            rows[4..].iter().all(|r| r.gas_per_tx == rows[4].gas_per_tx),
            "{rows:?}"
        );
    }

    /// The comparison can fail: a native result that differs by one coin is caught.
    #[test]
    fn a_balance_that_differs_from_native_is_caught() {
        let block = calls(10, 11);
        let (mut expected, _) = native("transfer", &block).unwrap();
        let (genesis, _) = genesis("transfer").unwrap();
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
}
