//! Receipts on the EVM: each arriving effect is executed as a call *from the bridge*
//! (a system call: the bridge's account carries what arrives, `vm::bridge`) on the
//! contract that holds its target, and what that call sends on becomes the next
//! effect — exactly the chain `programs::deliver` follows natively:
//!
//! ```text
//!  credit / refund  native ──► value from the bridge to the account
//!                   token  ──► ShardToken.arrive(to, amount)           (mints here)
//!  swap                    ──► Pool.swapArrived{value}(trader, …)
//!                                ok: its payout to the trader leaves as a credit
//!                                Slippage: Refund(trader, input)  ──► delivered on
//!  mint                    ──► Collection.mintFor(minter, serial)
//!                                the new token leaves for the minter as an NFT effect
//!  NFT                     ──► Collection.arrive(to, id)                (mints here)
//!  vote                    ──► Ballot.voteFor(voter, yes)
//!                                AlreadyVoted: failed, nothing to give back
//!  stand-in call           ──► StandIn.invokeFor{value}(contract, caller), burning
//!                                the call's gas here, where the contract runs
//!  move, move-slot, arrive ──► written natively (see below)
//! ```
//!
//! A migration's receipts (`cross_shard::migration`) are not calls of a program: they
//! carry an account's state — balances, the slots of a moving contract, its nonce —
//! into the keys the native programs and the EVM share (`vm::state`), so they are
//! applied by the native rule on both VMs, and cost no gas.
//!
//! An effect whose target is not on this shard (only a faulty source sends one), or a
//! collection that does not exist, is [`End::Misplaced`] and not applied, as natively.

use alloy_sol_types::SolCall;
use cross_shard::ids::{NATIVE, Object};
use cross_shard::{Effect, RejectReason};
use revm::primitives::U256;

use super::abi::{IBallot, ICollection, IPool, IShardToken, IStandIn};
use super::addresses::{
    account, ballot_address, collection_address, pool_address, standin_address, token_address,
};
use super::bridge::{BRIDGE, token_id};
use super::calls::{Ended, EvmError, Machine, RECEIPT_GAS_LIMIT, ended, env, standin_gas};
use super::state::Preimage;
use crate::programs::End;
use crate::state::State;

/// Delivers `effect` (of receipt `tx`) on `m`, and whatever follows from it, until the
/// chain ends or leaves the shard; returns how it ended and the gas it used.
pub fn deliver<M: Machine>(m: &mut M, tx: u64, mut effect: Effect) -> Result<(End, u64), EvmError> {
    let mut gas = 0;
    loop {
        let w = *m.state().world();
        let dst = effect.shard(&w.placement);
        if dst != w.shard {
            return Ok((End::Remote { dst, effect }, gas));
        }
        let local = |to| lives_here(&w, to);
        // The call that applies the effect here, and what a success ends in.
        let (to, value, data, pre, done) = match effect {
            Effect::Credit { to, asset, amount }
            | Effect::Refund {
                to, asset, amount, ..
            } => {
                if !(local(to) && w.has_asset(asset)) {
                    return Ok((End::Misplaced, gas));
                }
                let done = match effect {
                    Effect::Refund { reason, .. } => End::Refunded(reason),
                    _ => End::Done,
                };
                if asset == NATIVE {
                    (account(to), amount, Vec::new(), Preimage::None, done)
                } else {
                    let call = IShardToken::arriveCall {
                        to: account(to),
                        value: U256::from(amount),
                    };
                    let at = token_address(w.shard, asset);
                    (at, 0, call.abi_encode(), Preimage::None, done)
                }
            }
            Effect::Swap {
                trader,
                pool,
                asset_in,
                amount_in,
                min_out,
            } => {
                if !(w.holds(Object::Pool(pool)) && w.pool_trades(pool, asset_in)) {
                    return Ok((End::Misplaced, gas));
                }
                let call = IPool::swapArrivedCall {
                    trader: account(trader),
                    tokenIn: asset_in != NATIVE,
                    amountIn: U256::from(amount_in),
                    minOut: U256::from(min_out),
                };
                let value = if asset_in == NATIVE { amount_in } else { 0 };
                (
                    pool_address(pool),
                    value,
                    call.abi_encode(),
                    Preimage::None,
                    End::Done,
                )
            }
            Effect::Mint {
                minter,
                collection,
                serial,
            } => {
                if !w.holds(Object::Collection(collection)) {
                    return Ok((End::Misplaced, gas));
                }
                let call = ICollection::mintForCall {
                    minter: account(minter),
                    serial,
                };
                let nft = cross_shard::NftId { minter, serial };
                let at = collection_address(w.shard, collection);
                (at, 0, call.abi_encode(), Preimage::nft(nft), End::Done)
            }
            Effect::Nft {
                to,
                nft,
                collection,
            } => {
                if !(local(to) && w.has_object(Object::Collection(collection))) {
                    return Ok((End::Misplaced, gas));
                }
                let call = ICollection::arriveCall {
                    to: account(to),
                    id: token_id(nft),
                };
                let at = collection_address(w.shard, collection);
                (at, 0, call.abi_encode(), Preimage::nft(nft), End::Done)
            }
            Effect::Vote {
                voter,
                proposal,
                yes,
            } => {
                if !w.holds(Object::Proposal(proposal)) {
                    return Ok((End::Misplaced, gas));
                }
                let call = IBallot::voteForCall {
                    voter: account(voter),
                    inFavour: yes,
                };
                let at = ballot_address(proposal);
                (at, 0, call.abi_encode(), Preimage::voter(voter), End::Done)
            }
            Effect::Invoke {
                caller,
                contract,
                value,
                ..
            } => {
                if !local(contract) {
                    return Ok((End::Misplaced, gas));
                }
                let call = IStandIn::invokeForCall {
                    target: account(contract),
                    caller: account(caller),
                };
                let at = standin_address(w.shard);
                let pre = Preimage::slot(contract, caller);
                (at, value, call.abi_encode(), pre, End::Done)
            }
            Effect::Move { .. } | Effect::MoveSlot { .. } | Effect::Arrive { .. } => {
                return Ok((crate::programs::deliver(m.state(), effect), gas));
            }
        };
        let limit = match effect {
            Effect::Invoke { gas: burn, .. } => standin_gas(burn),
            _ => RECEIPT_GAS_LIMIT,
        };
        // The bridge's nonce is never kept (its account is outside the state): 0.
        let call = env(BRIDGE, 0, (to, value, data), limit);
        let result = m.run(tx, call, pre)?;
        gas += result.tx_gas_used();
        match (ended(&w, tx, &result)?, effect) {
            (Ended::Succeeded(None), _) => return Ok((done, gas)),
            (Ended::Succeeded(Some(next)), _) => effect = next,
            (
                Ended::Reverted(RejectReason::Slippage),
                Effect::Swap {
                    trader,
                    asset_in,
                    amount_in,
                    ..
                },
            ) => {
                effect = Effect::Refund {
                    to: trader,
                    asset: asset_in,
                    amount: amount_in,
                    reason: RejectReason::Slippage,
                };
            }
            (Ended::Reverted(reason), _) => return Ok((End::Failed(reason), gas)),
        }
    }
}

/// Whether account `id` lives on this shard.
fn lives_here(w: &crate::state::World, id: cross_shard::AccountId) -> bool {
    w.is_account(id) && w.placement.shard_of(id) == w.shard
}
