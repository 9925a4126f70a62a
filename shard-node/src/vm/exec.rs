//! Running a block's calls as EVM transactions over the shard's state (the sequential
//! reference, for the programs the EVM mapping covers so far: `transfer` and `token`
//! between accounts of this shard).
//!
//! Each native call becomes the EVM transaction that means the same — a value transfer,
//! or `ShardToken.transfer` on the token's instance here — and its result becomes the
//! same outcome the native program gives:
//!
//! ```text
//!  sender not here / unknown target ──► Rejected (WrongShard, UnknownAccount): no nonce
//!  wrong nonce                      ──► Rejected (BadNonce): no nonce
//!  value above the balance          ──► Rejected (InsufficientBalance), nonce consumed
//!  call reverts (ERC-20 overdraft)  ──► Rejected (InsufficientBalance), nonce consumed
//!  call succeeds                    ──► Committed; its changes written back (vm::state)
//! ```
//!
//! The nonce is consumed on a failed transfer as natively (docs/architecture.md,
//! departure 5), where Ethereum would not include a transaction whose value exceeds the
//! balance at all. Other programs, and recipients on other shards, are not mapped yet:
//! [`execute`] refuses a block holding one rather than run part of it natively.

use alloy_sol_types::SolCall;
use cross_shard::{Call, RejectReason, Tx};
use revm::context::TxEnv;
use revm::context_interface::ContextTr;
use revm::context_interface::result::ExecutionResult;
use revm::handler::{MainBuilder, MainContext};
use revm::primitives::{TxKind, U256};
use revm::{Context, ExecuteCommitEvm, ExecuteEvm};

use super::abi::IShardToken;
use super::addresses::account;
use super::state::{BlockDb, Layout, LedgerDb, StateBase, StateError, apply, token_address};
use crate::exec::blockstm::Runner;
use crate::exec::{BlockExecutor, BlockOutput, ExecStats, Mismatch};
use crate::programs::Outcome;
use crate::state::{BALANCE, Key, Ledger, NONCE, State};

/// Gas a call may use.
const GAS_LIMIT: u64 = 1_000_000;

/// Why a block cannot run on the EVM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmError {
    /// A call the EVM mapping does not cover yet.
    #[error("transaction {tx}: {what} is not on the EVM yet")]
    Unsupported {
        /// The transaction.
        tx: u64,
        /// What it asks for.
        what: &'static str,
    },
    /// The EVM would not run the transaction (an invalid transaction, not a revert).
    #[error("transaction {tx}: the EVM refused it: {why}")]
    Refused {
        /// The transaction.
        tx: u64,
        /// Why.
        why: String,
    },
    /// The state mapping refused a result.
    #[error("transaction {tx}: {source}")]
    State {
        /// The transaction.
        tx: u64,
        /// Why.
        source: StateError,
    },
}

/// Executes `txs` one after another on the EVM over `ledger`, every outcome into `out`
/// as the native programs would record it; returns the gas each used (0 for a refusal
/// before execution). One EVM serves the block; each call's changes are committed into
/// the ledger before the next one runs ([`BlockDb`]).
pub fn execute(
    ledger: &mut Ledger,
    layout: &Layout,
    txs: &[Tx],
    out: &mut BlockOutput,
) -> Result<Vec<u64>, EvmError> {
    let db = BlockDb {
        ledger,
        layout,
        error: None,
    };
    let mut evm = Context::mainnet().with_db(db).build_mainnet();
    let mut gas = Vec::with_capacity(txs.len());
    for tx in txs {
        let (outcome, used) = match check(evm.ctx.db_mut().ledger, tx)? {
            Ok(env) => {
                let result = evm
                    .transact_commit(env)
                    .map_err(|e| refused(tx, e.to_string()))?;
                if let Some(source) = evm.ctx.db_mut().error.take() {
                    return Err(EvmError::State { tx: tx.id, source });
                }
                outcome(&result)
            }
            Err(refused) => (Outcome::Rejected(refused), 0),
        };
        out.record(tx.id, outcome);
        gas.push(used);
    }
    Ok(gas)
}

/// The checks a call passes before the EVM runs it, as the native program makes them,
/// and the EVM transaction it becomes; `Ok(Err(reason))` for a call refused here.
fn check<S: State>(ledger: &mut S, tx: &Tx) -> Result<Result<TxEnv, RejectReason>, EvmError> {
    let w = *ledger.world();
    let Some(from) = ledger.local(tx.from) else {
        return Ok(Err(if w.is_account(tx.from) {
            RejectReason::WrongShard
        } else {
            RejectReason::UnknownAccount
        }));
    };
    let Call::Transfer { to, asset, amount } = tx.call else {
        return Err(EvmError::Unsupported {
            tx: tx.id,
            what: "this program",
        });
    };
    if !(w.is_account(to) && w.has_asset(asset)) {
        return Ok(Err(RejectReason::UnknownAccount));
    }
    let sender = ledger.read(Key::Account(from));
    if tx.nonce != sender[NONCE] {
        return Ok(Err(RejectReason::BadNonce));
    }
    if ledger.local(to).is_none() {
        return Err(EvmError::Unsupported {
            tx: tx.id,
            what: "a recipient on another shard",
        });
    }
    if asset == 0 && sender[BALANCE] < amount {
        // The EVM would refuse the transaction outright; natively the nonce is used.
        ledger.write(Key::Account(from), [sender[BALANCE], sender[NONCE] + 1]);
        return Ok(Err(RejectReason::InsufficientBalance));
    }
    let (target, value, data) = if asset == 0 {
        (account(to), amount, Vec::new())
    } else {
        let call = IShardToken::transferCall {
            to: account(to),
            value: U256::from(amount),
        };
        (token_address(w.shard, asset), 0, call.abi_encode())
    };
    let env = TxEnv::builder()
        .caller(account(tx.from))
        .kind(TxKind::Call(target))
        .value(U256::from(value))
        .data(data.into())
        .nonce(tx.nonce)
        .gas_limit(GAS_LIMIT)
        .gas_price(0)
        .build()
        .map_err(|e| refused(tx, format!("{e:?}")))?;
    Ok(Ok(env))
}

/// One call on the EVM against any view of the state — a Block-STM incarnation's, whose
/// reads are recorded: the native checks, then revm over the view, then the changes
/// written to the view. A revm per call (a parallel executor's views do not outlive
/// the call); the sequential [`execute`] keeps one per block.
fn run_one<S: State>(s: &mut S, layout: &Layout, tx: &Tx) -> Result<(Outcome, u64), EvmError> {
    let env = match check(s, tx)? {
        Ok(env) => env,
        Err(refused) => return Ok((Outcome::Rejected(refused), 0)),
    };
    let result = {
        let db = LedgerDb {
            base: StateBase(&mut *s),
            layout,
        };
        let mut evm = Context::mainnet().with_db(db).build_mainnet();
        evm.transact(env).map_err(|e| refused(tx, e.to_string()))?
    };
    apply(s, layout, &result.state).map_err(|source| EvmError::State { tx: tx.id, source })?;
    Ok(outcome(&result.result))
}

/// A call's outcome and gas from what the EVM did with it.
fn outcome(result: &ExecutionResult) -> (Outcome, u64) {
    let used = result.tx_gas_used();
    if result.is_success() {
        (Outcome::Committed, used)
    } else {
        // The only revert a transfer between two accounts of this shard can meet.
        (Outcome::Rejected(RejectReason::InsufficientBalance), used)
    }
}

/// The EVM would not run `tx` at all.
fn refused(tx: &Tx, why: String) -> EvmError {
    EvmError::Refused { tx: tx.id, why }
}

/// The EVM as Block-STM's [`Runner`]: the same calls, the same outcomes, run in
/// parallel over the multi-version memory (every read of revm goes through it).
#[derive(Debug, Clone, Copy)]
pub struct EvmRunner<'a> {
    /// The shard's EVM layout.
    pub layout: &'a Layout,
}

impl Runner for EvmRunner<'_> {
    fn run<S: State>(&self, s: &mut S, tx: &Tx) -> Outcome {
        match run_one(s, self.layout, tx) {
            Ok((outcome, _)) => outcome,
            Err(e) => {
                // Admission keeps such calls out of every block; should one come,
                // it is refused rather than half-run (the differential tests compare
                // every outcome with the sequential EVM executor's).
                tracing::error!("EVM call refused: {e}");
                Outcome::Rejected(RejectReason::UnknownObject)
            }
        }
    }
}

/// [`execute`] as the shard's [`BlockExecutor`] under `vm = "evm"`.
#[derive(Debug)]
pub struct EvmSequential {
    /// The shard's EVM layout, built at start-up.
    pub layout: Layout,
}

impl BlockExecutor for EvmSequential {
    fn execute(
        &mut self,
        ledger: &mut Ledger,
        txs: &[Tx],
        out: &mut BlockOutput,
    ) -> Result<ExecStats, Mismatch> {
        // Admission refuses what the EVM does not run yet (`admissible`), so an error
        // here is a shard fault: it stops the shard, as a mismatch would.
        let gas = execute(ledger, &self.layout, txs, out).map_err(|e| {
            tracing::error!("EVM block failed: {e}");
            Mismatch
        })?;
        Ok(ExecStats {
            gas: gas.iter().sum(),
            ..ExecStats::default()
        })
    }

    fn threads(&self) -> usize {
        1
    }
}

/// Whether a call may enter an EVM shard's mempool: a `transfer` or `token` call whose
/// recipient lives on this shard. Anything else is refused on admission, naming why.
pub fn admissible(tx: &Tx, shard: u32, placement: &cross_shard::Placement) -> Result<(), String> {
    match tx.call {
        Call::Transfer { to, .. } if placement.shard_of(to) == shard => Ok(()),
        Call::Transfer { .. } => Err(format!(
            "transaction {}: a recipient on another shard is not on the EVM yet (vm = evm runs calls within one shard)",
            tx.id
        )),
        _ => Err(format!(
            "transaction {}: only transfer and token calls run on the EVM so far",
            tx.id
        )),
    }
}

#[cfg(test)]
mod tests {
    //! The differential test across VMs: random blocks of transfers and token transfers
    //! among one shard's accounts — wrong nonces, overdrafts, unknown recipients among
    //! them — natively and on the EVM, from the same genesis: the same outcomes with the
    //! same reasons, and the same state root.

    use super::*;
    use crate::exec;
    use crate::state::tests::world;
    use proptest::prelude::*;

    const ACCOUNTS: u64 = 12;

    fn genesis() -> (Ledger, Layout) {
        let mut w = world(0, 1, ACCOUNTS, 1);
        w.pools = 0;
        let ledger = Ledger::genesis(w, 100);
        let local: Vec<u64> = (0..ledger.len() as u32).map(|i| ledger.id(i)).collect();
        let layout = Layout::new(0, 1, &local).unwrap();
        (ledger, layout)
    }

    /// (sender, recipient (≥ ACCOUNTS: unknown), asset, amount, wrong nonce)
    type Pick = (u64, u64, u32, u64, bool);

    fn block(picks: &[Pick]) -> Vec<Tx> {
        let mut nonces = [0u64; ACCOUNTS as usize];
        picks
            .iter()
            .enumerate()
            .map(|(i, &(from, to, asset, amount, bad))| {
                let n = &mut nonces[from as usize];
                let nonce = if bad { *n + 5 } else { *n };
                // Every call that passes the nonce check consumes it.
                let known = to < ACCOUNTS;
                if !bad && known {
                    *n += 1;
                }
                Tx {
                    id: i as u64,
                    from,
                    nonce,
                    call: Call::Transfer { to, asset, amount },
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn the_evm_and_the_native_programs_agree_on_every_block(
            picks in proptest::collection::vec(
                (0..ACCOUNTS, 0..ACCOUNTS + 2, 0u32..2, 1u64..150, proptest::bool::weighted(0.1)),
                1..40,
            )
        ) {
            let (genesis, layout) = genesis();
            let txs = block(&picks);
            let mut native = genesis.clone();
            let mut n_out = BlockOutput::new(1);
            exec::execute(&mut native, &txs, &mut n_out);
            let mut evm = genesis.clone();
            let mut e_out = BlockOutput::new(1);
            let gas = execute(&mut evm, &layout, &txs, &mut e_out).unwrap();
            prop_assert_eq!(&e_out, &n_out, "outcomes and reasons");
            prop_assert_eq!(evm.state_root(), native.state_root(), "state root");
            prop_assert_eq!(evm.total(1), genesis.total(1), "token supply");
            for (tx, g) in txs.iter().zip(&gas) {
                if e_out.committed.contains(&tx.id) {
                    prop_assert!(*g >= 21_000, "a committed call burned gas");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Block-STM running the EVM (every read of revm through its multi-version
        /// memory, writes from revm's state diff) equals the sequential EVM executor
        /// at 1, 2 and 4 threads: outcomes, reasons, state root — on a dozen accounts,
        /// so calls conflict and re-execute.
        #[test]
        fn blockstm_on_the_evm_equals_the_sequential_evm(
            picks in proptest::collection::vec(
                (0..ACCOUNTS, 0..ACCOUNTS, 0u32..2, 1u64..150, proptest::bool::weighted(0.05)),
                1..40,
            )
        ) {
            let (genesis, layout) = genesis();
            let txs = block(&picks);
            let mut seq = genesis.clone();
            let mut s_out = BlockOutput::new(1);
            execute(&mut seq, &layout, &txs, &mut s_out).unwrap();
            for threads in [1, 2, 4] {
                let mut par = genesis.clone();
                let mut p_out = BlockOutput::new(1);
                crate::exec::blockstm::execute_with(
                    &EvmRunner { layout: &layout },
                    &mut par,
                    &txs,
                    &mut p_out,
                    threads,
                );
                prop_assert_eq!(&p_out, &s_out, "outcomes at {} threads", threads);
                prop_assert_eq!(par.state_root(), seq.state_root(), "state root at {} threads", threads);
            }
        }
    }

    #[test]
    fn admission_refuses_what_the_evm_does_not_run_yet_by_name() {
        let placement = cross_shard::Placement::new(2).unwrap();
        let here = (0..100).find(|&a| placement.shard_of(a) == 0).unwrap();
        let there = (0..100).find(|&a| placement.shard_of(a) == 1).unwrap();
        let transfer = |to| Tx {
            id: 4,
            from: here,
            nonce: 0,
            call: Call::Transfer {
                to,
                asset: 1,
                amount: 1,
            },
        };
        assert!(admissible(&transfer(here), 0, &placement).is_ok());
        let e = admissible(&transfer(there), 0, &placement).unwrap_err();
        assert!(
            e.contains("transaction 4") && e.contains("another shard"),
            "{e}"
        );
        let vote = Tx {
            call: Call::Vote {
                proposal: 0,
                yes: true,
            },
            ..transfer(here)
        };
        let e = admissible(&vote, 0, &placement).unwrap_err();
        assert!(e.contains("only transfer and token"), "{e}");
    }

    #[test]
    fn programs_not_yet_mapped_are_refused_whole() {
        let (mut l, layout) = genesis();
        let vote = Tx {
            id: 9,
            from: 1,
            nonce: 0,
            call: Call::Vote {
                proposal: 0,
                yes: true,
            },
        };
        let mut out = BlockOutput::new(1);
        let e = execute(&mut l, &layout, &[vote], &mut out).unwrap_err();
        assert_eq!(
            e,
            EvmError::Unsupported {
                tx: 9,
                what: "this program"
            }
        );
    }
}
