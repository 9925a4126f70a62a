//! From a native call to the EVM transaction that means the same, and from what the EVM
//! did back to the outcome the native program gives.
//!
//! The checks the native program makes before it runs are made here, in its order,
//! and refuse as it refuses; then the call becomes a transaction to the contract that
//! holds its object — or to the bridge, when the object lives on another shard:
//!
//! ```text
//!  transfer  native, to here   ──► value to the account
//!            native, to there  ──► BRIDGE.credit{value}(0, to, amount)
//!            token             ──► ShardToken.transfer(to, amount)  (routes itself)
//!  swap      pool here         ──► Pool.swapNativeForToken{value} / swapTokenForNative
//!            pool there        ──► BRIDGE.swap{value}(…) / ShardToken.swapAt(pool, …)
//!  mint      collection here   ──► Collection.mint(serial = nonce)
//!            collection there  ──► BRIDGE.mint(collection, serial)
//!  send NFT                    ──► Collection.send(to, id)          (routes itself)
//!  vote      proposal here     ──► Ballot.vote(yes)
//!            proposal there    ──► BRIDGE.vote(proposal, yes)
//!  stand-in  contract here     ──► StandIn.invoke{value}(contract)  (burns its gas)
//!            contract there    ──► BRIDGE.invoke{value}(contract, gas)
//! ```
//!
//! and its result becomes the outcome:
//!
//! ```text
//!  sender not here / unknown target ──► Rejected (WrongShard, UnknownAccount, …)
//!  wrong nonce                      ──► Rejected (BadNonce): no nonce
//!  value above the balance          ──► Rejected (InsufficientBalance), nonce consumed
//!  reverted                         ──► Rejected (the revert's reason), nonce consumed
//!  succeeded, sent nothing          ──► Committed; its changes written back (vm::state)
//!  succeeded, sent one message      ──► SentCross with that effect as the receipt
//! ```
//!
//! The nonce is consumed on a failed transfer as natively (docs/architecture.md,
//! departure 5), where Ethereum would not include a transaction whose value exceeds the
//! balance at all.

use alloy_sol_types::{SolCall, SolError};
use cross_shard::ids::{NATIVE, Object};
use cross_shard::{Call, Effect, Receipt, RejectReason, Tx};
use revm::context::TxEnv;
use revm::context_interface::result::ExecutionResult;
use revm::primitives::{Address, TxKind, U256};

use super::abi::{IBallot, IBridge, ICollection, IPool, IShardToken, IStandIn};
use super::addresses::{
    account, ballot_address, collection_address, pool_address, standin_address, token_address,
};
use super::bridge::{self, BRIDGE, token_id};
use super::state::{Preimage, StateError};
use crate::programs::{self, Outcome};
use crate::state::{BALANCE, Key, NONCE, State, World};

/// The gas limit of each kind of call: what it may burn, and what a block's gas limit
/// (`max_block_gas`) counts for it before it runs, as Ethereum counts a transaction's
/// gas limit. A plain value transfer burns exactly 21,000; the others are about twice
/// the most any call of the kind used in the differential tests (a call that ran out
/// would fail those tests, as an unexpected halt).
pub fn gas_limit(w: &World, tx: &Tx) -> u64 {
    match tx.call {
        Call::Transfer {
            to, asset: NATIVE, ..
        } if w.placement.shard_of(to) == w.shard => 21_000,
        Call::Transfer { .. } => 80_000,
        Call::Swap { .. } => 120_000,
        Call::Mint { .. } => 150_000,
        Call::SendNft { .. } => 100_000,
        Call::Vote { .. } => 120_000,
        // Here the stand-in burns the trace's own figure; on another shard the call
        // here is only the bridge's message (and the gas is burnt there).
        Call::Invoke { contract, gas, .. } if w.placement.shard_of(contract) == w.shard => {
            standin_gas(gas)
        }
        Call::Invoke { .. } => 80_000,
    }
}

/// The least gas a stand-in call is given: what its own work costs (the transaction,
/// a new slot, a value transfer that may create the contract's account) with room to
/// spare; a trace's call that used less is charged this.
pub const STANDIN_MIN_GAS: u64 = 100_000;

/// The gas limit of a stand-in call that cost `gas` in the trace: that, at least
/// [`STANDIN_MIN_GAS`]. The stand-in burns all of it but a margin.
pub fn standin_gas(gas: u64) -> u64 {
    gas.max(STANDIN_MIN_GAS)
}

/// How many of `txs`, from the front, a block with gas limit `budget` takes: as many as
/// their gas limits fit, in order (a call that does not fit waits for the next block,
/// and so does everything behind it, keeping each sender's nonces in order).
pub fn within_gas<'a>(w: &World, txs: impl Iterator<Item = &'a Tx>, budget: u64) -> usize {
    let mut used = 0u64;
    txs.take_while(|tx| {
        used += gas_limit(w, tx);
        used <= budget
    })
    .count()
}

/// The gas limit of a receipt's call from the bridge (about twice the most any used in
/// the differential tests). Receipts run before the block's transactions and outside
/// its gas limit, as Ethereum's system calls do.
pub const RECEIPT_GAS_LIMIT: u64 = 150_000;

/// The largest gas limit of any call of the five programs: a block's gas limit must
/// fit one (a stand-in call's is its trace's gas: the scenario checks its cap).
pub const MAX_CALL_GAS: u64 = 150_000;

/// Why a call cannot run on the EVM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmError {
    /// The EVM would not run the transaction (an invalid transaction, not a revert).
    #[error("transaction {tx}: the EVM refused it: {why}")]
    Refused {
        /// The transaction (or receipt).
        tx: u64,
        /// Why.
        why: String,
    },
    /// The call ended in a way no native program can (a halt, a revert the mapping
    /// does not know, more than one message): the mapping and the contracts disagree.
    #[error("transaction {tx}: {why}")]
    Unexpected {
        /// The transaction (or receipt).
        tx: u64,
        /// What happened.
        why: String,
    },
    /// The state mapping refused a result.
    #[error("transaction {tx}: {source}")]
    State {
        /// The transaction (or receipt).
        tx: u64,
        /// Why.
        source: StateError,
    },
}

/// Something that runs EVM transactions over a shard's state and keeps their changes:
/// one revm over the ledger for a whole block, or a revm per call over a view.
pub trait Machine {
    /// The state it runs over.
    type S: State;
    /// That state, for the checks made before the EVM runs.
    fn state(&mut self) -> &mut Self::S;
    /// Runs `env`, naming slot `pre`, and writes its changes into the state.
    fn run(&mut self, id: u64, env: TxEnv, pre: Preimage) -> Result<ExecutionResult, EvmError>;
}

/// A transaction from `from` to `to` with `value` and calldata `data`, burning at most
/// `gas_limit`.
pub fn env(
    from: Address,
    nonce: u64,
    (to, value, data): (Address, u64, Vec<u8>),
    gas_limit: u64,
) -> TxEnv {
    TxEnv {
        caller: from,
        nonce,
        kind: TxKind::Call(to),
        value: U256::from(value),
        data: data.into(),
        gas_limit,
        gas_price: 0,
        ..TxEnv::default()
    }
}

/// The checks `tx` passes before the EVM runs it, as the native program makes them,
/// and the EVM transaction it becomes; `Err(reason)` for a call refused here.
fn prepare<S: State>(s: &mut S, tx: &Tx) -> Result<(TxEnv, Preimage), RejectReason> {
    let w = *s.world();
    let Some(from) = s.local(tx.from) else {
        return Err(if w.is_account(tx.from) {
            RejectReason::WrongShard
        } else {
            RejectReason::UnknownAccount
        });
    };
    programs::check(&w, &tx.call)?;
    let sender = s.read(Key::Account(from));
    if tx.nonce != sender[NONCE] {
        return Err(RejectReason::BadNonce);
    }
    // Refused after the nonce check: natively the nonce is used.
    let mut refuse = |s: &mut S, reason| -> Result<(), RejectReason> {
        s.write(Key::Account(from), [sender[BALANCE], sender[NONCE] + 1]);
        Err(reason)
    };
    // Value above the balance: the EVM would refuse the transaction outright.
    let pays =
        |s: &mut S,
         amount: u64,
         refuse: &mut dyn FnMut(&mut S, RejectReason) -> Result<(), RejectReason>| {
            if sender[BALANCE] < amount {
                refuse(s, RejectReason::InsufficientBalance)
            } else {
                Ok(())
            }
        };
    let me = account(tx.from);
    let (to, value, data, pre) = match tx.call {
        Call::Invoke {
            contract,
            value,
            gas,
        } => {
            pays(s, value, &mut refuse)?;
            if w.placement.shard_of(contract) == w.shard {
                let call = IStandIn::invokeCall {
                    target: account(contract),
                };
                let pre = Preimage::slot(contract, tx.from);
                (standin_address(w.shard), value, call.abi_encode(), pre)
            } else {
                let call = IBridge::invokeCall {
                    target: account(contract),
                    gas,
                };
                (BRIDGE, value, call.abi_encode(), Preimage::None)
            }
        }
        Call::Transfer {
            to,
            asset: NATIVE,
            amount,
        } => {
            pays(s, amount, &mut refuse)?;
            if w.placement.shard_of(to) == w.shard {
                (account(to), amount, Vec::new(), Preimage::None)
            } else {
                let call = IBridge::creditCall {
                    asset: NATIVE,
                    to: account(to),
                    amount: U256::from(amount),
                };
                (BRIDGE, amount, call.abi_encode(), Preimage::None)
            }
        }
        Call::Transfer { to, asset, amount } => {
            let call = IShardToken::transferCall {
                to: account(to),
                value: U256::from(amount),
            };
            (
                token_address(w.shard, asset),
                0,
                call.abi_encode(),
                Preimage::None,
            )
        }
        Call::Swap {
            pool,
            asset_in,
            amount_in,
            min_out,
        } => {
            let (amount, min) = (U256::from(amount_in), U256::from(min_out));
            let here = w.holds(Object::Pool(pool));
            if asset_in == NATIVE {
                pays(s, amount_in, &mut refuse)?;
                if here {
                    let call = IPool::swapNativeForTokenCall { minOut: min };
                    (
                        pool_address(pool),
                        amount_in,
                        call.abi_encode(),
                        Preimage::None,
                    )
                } else {
                    let call = IBridge::swapCall {
                        trader: me,
                        pool,
                        assetIn: NATIVE,
                        amountIn: amount,
                        minOut: min,
                    };
                    (BRIDGE, amount_in, call.abi_encode(), Preimage::None)
                }
            } else if here {
                let call = IPool::swapTokenForNativeCall {
                    amountIn: amount,
                    minOut: min,
                };
                (pool_address(pool), 0, call.abi_encode(), Preimage::None)
            } else {
                let call = IShardToken::swapAtCall {
                    pool,
                    amountIn: amount,
                    minOut: min,
                };
                (
                    token_address(w.shard, asset_in),
                    0,
                    call.abi_encode(),
                    Preimage::None,
                )
            }
        }
        Call::Mint { collection } => {
            let nft = cross_shard::NftId {
                minter: tx.from,
                serial: tx.nonce,
            };
            if w.holds(Object::Collection(collection)) {
                let call = ICollection::mintCall { serial: tx.nonce };
                let at = collection_address(w.shard, collection);
                (at, 0, call.abi_encode(), Preimage::nft(nft))
            } else {
                let call = IBridge::mintCall {
                    collection,
                    serial: tx.nonce,
                };
                (BRIDGE, 0, call.abi_encode(), Preimage::None)
            }
        }
        Call::SendNft { nft, to } => {
            // The instance of the collection the sender holds it in; any, when it does
            // not hold it (the collection's `send` refuses it there).
            let held = s.read(Key::Nft(nft));
            if w.collections == 0 {
                refuse(s, RejectReason::NotOwner)?; // no collection to hold it in
            }
            let collection = if held[0] != 0 { held[1] as u32 } else { 0 };
            let call = ICollection::sendCall {
                to: account(to),
                id: token_id(nft),
            };
            let at = collection_address(w.shard, collection);
            (at, 0, call.abi_encode(), Preimage::nft(nft))
        }
        Call::Vote { proposal, yes } => {
            if w.holds(Object::Proposal(proposal)) {
                let call = IBallot::voteCall { inFavour: yes };
                let at = ballot_address(proposal);
                (at, 0, call.abi_encode(), Preimage::voter(tx.from))
            } else {
                let call = IBridge::voteCall { proposal, yes };
                (BRIDGE, 0, call.abi_encode(), Preimage::None)
            }
        }
    };
    Ok((env(me, tx.nonce, (to, value, data), gas_limit(&w, tx)), pre))
}

/// The native reason behind a contract's revert, by its error's selector.
pub fn revert_reason(data: &[u8]) -> Option<RejectReason> {
    let selector: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(match selector {
        IShardToken::ERC20InsufficientBalance::SELECTOR => RejectReason::InsufficientBalance,
        IPool::Slippage::SELECTOR => RejectReason::Slippage,
        ICollection::NotOwner::SELECTOR => RejectReason::NotOwner,
        IBallot::AlreadyVoted::SELECTOR => RejectReason::AlreadyVoted,
        _ => return None,
    })
}

/// How a finished EVM transaction ended, as the native programs see it.
pub enum Ended {
    /// Succeeded; the message it sent, if any.
    Succeeded(Option<Effect>),
    /// Reverted for this reason.
    Reverted(RejectReason),
}

/// What `result` (of transaction or receipt `id`) means.
pub fn ended(w: &World, id: u64, result: &ExecutionResult) -> Result<Ended, EvmError> {
    let unexpected = |why: String| EvmError::Unexpected { tx: id, why };
    match result {
        ExecutionResult::Success { logs, .. } => {
            let mut sent = bridge::sent(w, logs).map_err(|e| unexpected(e.to_string()))?;
            if sent.len() > 1 {
                return Err(unexpected(format!(
                    "{} cross-shard messages from one call (at most one is carried)",
                    sent.len()
                )));
            }
            Ok(Ended::Succeeded(sent.pop()))
        }
        ExecutionResult::Revert { output, .. } => revert_reason(output)
            .map(Ended::Reverted)
            .ok_or_else(|| unexpected(format!("reverted with 0x{}", hex(output)))),
        ExecutionResult::Halt { reason, .. } => Err(unexpected(format!("halted: {reason:?}"))),
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs one transaction on `m`: the native checks, the EVM, its outcome and gas.
pub fn call<M: Machine>(m: &mut M, tx: &Tx) -> Result<(Outcome, u64), EvmError> {
    let (env, pre) = match prepare(m.state(), tx) {
        Ok(p) => p,
        Err(reason) => return Ok((Outcome::Rejected(reason), 0)),
    };
    let result = m.run(tx.id, env, pre)?;
    let gas = result.tx_gas_used();
    let w = *m.state().world();
    let outcome = match ended(&w, tx.id, &result)? {
        Ended::Succeeded(None) => Outcome::Committed,
        Ended::Succeeded(Some(effect)) => Outcome::SentCross {
            dst: effect.shard(&w.placement),
            receipt: Receipt { tx: tx.id, effect },
        },
        Ended::Reverted(reason) => Outcome::Rejected(reason),
    };
    Ok((outcome, gas))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::world;

    #[test]
    fn a_block_takes_the_calls_whose_gas_limits_fit_in_order() {
        let w = world(0, 1, 10, 1);
        let transfer = |asset| Tx {
            id: 0,
            from: 1,
            nonce: 0,
            call: Call::Transfer {
                to: 2,
                asset,
                amount: 1,
            },
        };
        // 21,000 for a value transfer, 80,000 for a token transfer.
        let txs = [transfer(0), transfer(0), transfer(1), transfer(0)];
        assert_eq!(within_gas(&w, txs.iter(), 42_000), 2);
        assert_eq!(
            within_gas(&w, txs.iter(), 121_999),
            2,
            "the token call does not fit"
        );
        assert_eq!(
            within_gas(&w, txs.iter(), 122_000),
            3,
            "nor does anything behind it"
        );
        assert_eq!(within_gas(&w, txs.iter(), 143_000), 4);
        assert_eq!(within_gas(&w, txs.iter(), 20_999), 0);
    }
}
