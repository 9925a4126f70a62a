//! The bridge: how a contract on one shard calls an address on another.
//!
//! A precompile at [`BRIDGE`] (`0x…53484252`, "SHBR"; interface in
//! `contracts/src/Bridge.sol`). A call to it is checked here and recorded as a log of the
//! bridge (so that a call that later reverts takes its message with it, as the journal
//! undoes every log of a reverted frame). After the transaction the executor reads that
//! log back as the [`Effect`] the native programs would have sent — the same receipt,
//! with the same value in flight — and the destination executes it as a call *from*
//! the bridge in its next block (`vm::deliver`):
//!
//! ```text
//!  shard A                                     shard B
//!  EOA ─tx─► ShardToken.transfer(to on B)
//!             burn here, BRIDGE.credit ──log──► Effect::Credit ══receipt══►
//!                                                  BRIDGE ─call─► ShardToken.arrive(to)
//!  EOA ─tx─► BRIDGE.invoke{value}(contract on B) ─► Effect::Invoke ═receipt═►
//!                                                  BRIDGE ─call─► StandIn.invokeFor
//!  EOA ─tx─► BRIDGE.swap{value}(pool on B) ─► Effect::Swap ══════receipt══►
//!                                                  BRIDGE ─call─► Pool.swapArrived
//!                             ◄══receipt══ Effect::Credit ◄─log─ token.transfer(trader)
//!                             ◄══receipt══ Effect::Refund (Slippage) if it reverted
//! ```
//!
//! Messages are the native programs' effects (credit, swap, mint, NFT, vote, stand-in
//! call), not arbitrary calldata: the receipt protocol, its Merkle proofs and the audit
//! of value in flight per asset stay exactly as they are, and a message is checked here
//! against the cluster's world (the asset exists, the object lives on another shard,
//! the value paid matches the amount, a token's message comes from that token's
//! instance).
//!
//! Value sent to the bridge leaves this shard's state; value a bridge call carries on
//! arrival enters it. The bridge's own account is therefore outside the state: its
//! balance reads as the most any call can carry, and writes to it are not kept.

use alloy_sol_types::{SolCall, SolError, SolInterface};
use cross_shard::ids::{NATIVE, Object};
use cross_shard::{Effect, NftId};
use revm::Context;
use revm::context_interface::{Cfg, ContextTr, JournalTr};
use revm::handler::instructions::EthInstructions;
use revm::handler::{
    EthFrame, EthPrecompiles, MainBuilder, MainContext, MainnetContext, PrecompileProvider,
};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult};
use revm::primitives::{Address, AddressSet, Bytes, Log, LogData, U256, address};

use super::abi::IBridge::{self, IBridgeCalls};
use super::addresses::account_id;
use super::addresses::{collection_address, token_address};
use crate::state::World;

/// revm with the shard's precompiles, over `DB`.
pub type BridgedEvm<DB> = revm::context::Evm<
    MainnetContext<DB>,
    (),
    EthInstructions<EthInterpreter, MainnetContext<DB>>,
    Bridge,
    EthFrame<EthInterpreter>,
>;

/// An EVM over `db` for the shard `world` describes (`None`: a lone world).
pub fn evm<DB: revm::Database>(db: DB, world: Option<World>) -> BridgedEvm<DB> {
    Context::mainnet()
        .with_db(db)
        .build_mainnet()
        .with_precompiles(Bridge::new(world))
}

/// The bridge precompile's address.
pub const BRIDGE: Address = address!("0000000000000000000000000000000053484252");

/// Gas of `remote(address)`: a lookup, priced like a warm storage read.
pub const QUERY_GAS: u64 = 100;
/// Gas of sending a message: priced like a storage write and a log.
pub const SEND_GAS: u64 = 10_000;

/// The precompiles of a shard's EVM: Ethereum's, and the bridge.
#[derive(Debug, Clone)]
pub struct Bridge {
    inner: EthPrecompiles,
    warm: AddressSet,
    /// The cluster as this shard sees it; `None` in a world of one shard (the bare
    /// benchmark), where nothing is remote and nothing can be sent.
    world: Option<World>,
}

impl Bridge {
    /// The precompiles of shard `world.shard` (or of a lone world, with `None`).
    pub fn new(world: Option<World>) -> Bridge {
        let inner = EthPrecompiles::new(revm::primitives::hardfork::SpecId::default());
        let mut warm = AddressSet::default();
        warm.clone_from(inner.warm_addresses());
        warm.insert(BRIDGE);
        Bridge { inner, warm, world }
    }
}

/// Whether `address` is an account on another shard of `w`.
fn remote(w: &World, address: Address) -> bool {
    account_id(address).is_some_and(|id| w.is_account(id) && w.placement.shard_of(id) != w.shard)
}

/// The message a call to the bridge on shard `w` asks to send, checked; or why it is
/// refused.
fn message(w: &World, caller: Address, value: U256, input: &[u8]) -> Result<Effect, &'static str> {
    let w = *w;
    let call = IBridgeCalls::abi_decode(input).map_err(|_| "not a bridge call")?;
    let fits = |v: U256| u64::try_from(v).map_err(|_| "an amount above 64 bits");
    let local_account = |a: Address| {
        account_id(a)
            .filter(|&id| w.is_account(id) && w.placement.shard_of(id) == w.shard)
            .ok_or("the sender is not an account of this shard")
    };
    let remote_account = |a: Address| {
        account_id(a)
            .filter(|_| remote(&w, a))
            .ok_or("the recipient is not an account on another shard")
    };
    let remote_object = |o: Object| {
        if !w.has_object(o) {
            Err("no such object")
        } else if w.holds(o) {
            Err("the object lives on this shard: call it directly")
        } else {
            Ok(())
        }
    };
    // The native coin is paid as value; a token by its own instance, which burnt it.
    let paid = |asset: u32, amount: u64| match asset {
        NATIVE if value == U256::from(amount) => Ok(()),
        NATIVE => Err("the value paid is not the amount"),
        t if !w.has_asset(t) => Err("no such asset"),
        t if caller == token_address(w.shard, t) && value.is_zero() => Ok(()),
        _ => Err("only a token's instance may send it"),
    };
    Ok(match call {
        IBridgeCalls::remote(_) => return Err("remote is a query, not a message"),
        IBridgeCalls::credit(IBridge::creditCall { asset, to, amount }) => {
            let amount = fits(amount)?;
            paid(asset, amount)?;
            Effect::Credit {
                to: remote_account(to)?,
                asset,
                amount,
            }
        }
        IBridgeCalls::swap(IBridge::swapCall {
            trader,
            pool,
            assetIn,
            amountIn,
            minOut,
        }) => {
            let amount_in = fits(amountIn)?;
            remote_object(Object::Pool(pool))?;
            if !w.pool_trades(pool, assetIn) {
                return Err("the pool does not trade that asset");
            }
            paid(assetIn, amount_in)?;
            let trader_id = local_account(trader)?;
            if assetIn == NATIVE && caller != trader {
                return Err("a trader pays the native coin itself");
            }
            Effect::Swap {
                trader: trader_id,
                pool,
                asset_in: assetIn,
                amount_in,
                min_out: fits(minOut)?,
            }
        }
        IBridgeCalls::mint(IBridge::mintCall { collection, serial }) => {
            remote_object(Object::Collection(collection))?;
            no_value(value)?;
            Effect::Mint {
                minter: local_account(caller)?,
                collection,
                serial,
            }
        }
        IBridgeCalls::nft(IBridge::nftCall { to, collection, id }) => {
            no_value(value)?;
            if !w.has_object(Object::Collection(collection))
                || caller != collection_address(w.shard, collection)
            {
                return Err("only a collection's instance may send its tokens");
            }
            Effect::Nft {
                to: remote_account(to)?,
                nft: nft_id(id).ok_or("not a token id of this cluster")?,
                collection,
            }
        }
        IBridgeCalls::vote(IBridge::voteCall { proposal, yes }) => {
            remote_object(Object::Proposal(proposal))?;
            no_value(value)?;
            Effect::Vote {
                voter: local_account(caller)?,
                proposal,
                yes,
            }
        }
        IBridgeCalls::invoke(IBridge::invokeCall { target, gas }) => Effect::Invoke {
            caller: local_account(caller)?,
            contract: remote_account(target)?,
            value: fits(value)?,
            gas,
        },
    })
}

fn no_value(value: U256) -> Result<(), &'static str> {
    if value.is_zero() {
        Ok(())
    } else {
        Err("this message carries no value")
    }
}

/// The NFT behind ERC-721 token id `minter << 64 | serial`.
pub fn nft_id(id: U256) -> Option<NftId> {
    let minter = u64::try_from(id >> 64).ok()?;
    let serial = u64::try_from(id & U256::from(u64::MAX)).ok()?;
    Some(NftId { minter, serial })
}

/// ERC-721 token id of `nft`.
pub fn token_id(nft: NftId) -> U256 {
    (U256::from(nft.minter) << 64) | U256::from(nft.serial)
}

/// The log recording a message: the caller and the value, then the call.
fn record(caller: Address, value: U256, input: &[u8]) -> Log {
    let mut data = Vec::with_capacity(52 + input.len());
    data.extend_from_slice(caller.as_slice());
    data.extend_from_slice(&value.to_be_bytes::<32>());
    data.extend_from_slice(input);
    Log {
        address: BRIDGE,
        data: LogData::new_unchecked(Vec::new(), data.into()),
    }
}

/// The messages a finished transaction sent: its bridge logs, read back as effects.
pub fn sent(w: &World, logs: &[Log]) -> Result<Vec<Effect>, &'static str> {
    logs.iter()
        .filter(|l| l.address == BRIDGE)
        .map(|l| {
            let d = &l.data.data;
            if d.len() < 52 {
                return Err("a bridge log too short");
            }
            let caller = Address::from_slice(&d[..20]);
            let value = U256::from_be_slice(&d[20..52]);
            message(w, caller, value, &d[52..])
        })
        .collect()
}

/// A reverted call's output: Solidity's `Error(string)` with `why`.
fn revert(why: &str, gas: Gas) -> InterpreterResult {
    let data = alloy_sol_types::Revert::from(why).abi_encode();
    InterpreterResult::new(InstructionResult::Revert, data.into(), gas)
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for Bridge {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.inner, spec);
        self.warm.clone_from(self.inner.warm_addresses());
        self.warm.insert(BRIDGE);
        changed
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        if inputs.bytecode_address != BRIDGE {
            return <EthPrecompiles as PrecompileProvider<CTX>>::run(
                &mut self.inner,
                context,
                inputs,
            );
        }
        let input = inputs.input.bytes(context);
        let mut gas = Gas::new(inputs.gas_limit);
        if let Some(IBridge::remoteCall { account: a }) = input
            .get(..4)
            .filter(|s| *s == IBridge::remoteCall::SELECTOR)
            .and_then(|_| IBridge::remoteCall::abi_decode(&input).ok())
        {
            if !gas.record_regular_cost(QUERY_GAS) {
                return Ok(Some(InterpreterResult::new(
                    InstructionResult::PrecompileOOG,
                    Bytes::new(),
                    Gas::new_spent_with_reservoir(inputs.gas_limit, inputs.reservoir),
                )));
            }
            let far = self.world.is_some_and(|w| remote(&w, a));
            let out = alloy_sol_types::SolValue::abi_encode(&far);
            return Ok(Some(InterpreterResult::new(
                InstructionResult::Return,
                out.into(),
                gas,
            )));
        }
        if inputs.is_static {
            return Ok(Some(revert("a message cannot be sent from a view", gas)));
        }
        if !gas.record_regular_cost(SEND_GAS) {
            return Ok(Some(InterpreterResult::new(
                InstructionResult::PrecompileOOG,
                Bytes::new(),
                Gas::new_spent_with_reservoir(inputs.gas_limit, inputs.reservoir),
            )));
        }
        let value = inputs.value.get();
        let sent = match &self.world {
            Some(w) => message(w, inputs.caller, value, &input),
            None => Err("a lone shard has nowhere to send"),
        };
        match sent {
            Ok(_) => {
                context
                    .journal_mut()
                    .log(record(inputs.caller, value, &input));
                let sent = alloy_sol_types::SolValue::abi_encode(&true);
                Ok(Some(InterpreterResult::new(
                    InstructionResult::Return,
                    sent.into(),
                    gas,
                )))
            }
            Err(why) => Ok(Some(revert(why, gas))),
        }
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }
}

#[cfg(test)]
mod tests {
    //! The bridge refuses every message it cannot stand behind: a receipt it sends is
    //! value created on another shard, so a contract must not be able to forge one.

    use super::*;
    use crate::state::tests::world;
    use crate::vm::addresses::account;

    /// Shard 0 of 2, an account here and one there, a pool there.
    fn setup() -> (World, u64, u64, u32) {
        let w = world(0, 2, 100, 1);
        let here = (0..100).find(|&a| w.placement.shard_of(a) == 0).unwrap();
        let there = (0..100).find(|&a| w.placement.shard_of(a) == 1).unwrap();
        let pool = (0..w.pools).find(|&p| !w.holds(Object::Pool(p))).unwrap();
        (w, here, there, pool)
    }

    fn credit(asset: u32, to: u64, amount: u64) -> Vec<u8> {
        IBridge::creditCall {
            asset,
            to: account(to),
            amount: U256::from(amount),
        }
        .abi_encode()
    }

    #[test]
    fn a_paid_credit_to_another_shard_is_the_native_effect() {
        let (w, here, there, _) = setup();
        let sent = message(&w, account(here), U256::from(5), &credit(0, there, 5));
        assert_eq!(
            sent,
            Ok(Effect::Credit {
                to: there,
                asset: 0,
                amount: 5
            })
        );
        let token = token_address(0, 1);
        assert!(message(&w, token, U256::ZERO, &credit(1, there, 5)).is_ok());
    }

    #[test]
    fn forged_or_misdirected_messages_are_refused() {
        let (w, here, there, pool) = setup();
        let me = account(here);
        let refused = |caller, value: u64, input: &[u8]| {
            message(&w, caller, U256::from(value), input).is_err()
        };
        assert!(
            refused(me, 4, &credit(0, there, 5)),
            "value short of the amount"
        );
        assert!(
            refused(me, 0, &credit(1, there, 5)),
            "a token not burnt by its instance"
        );
        assert!(
            refused(token_address(1, 1), 0, &credit(1, there, 5)),
            "another shard's instance"
        );
        assert!(
            refused(me, 5, &credit(0, here, 5)),
            "a recipient on this shard"
        );
        assert!(refused(me, 5, &credit(7, there, 5)), "no such asset");
        let swap = |trader: u64, pool: u32| {
            IBridge::swapCall {
                trader: account(trader),
                pool,
                assetIn: 0,
                amountIn: U256::from(5),
                minOut: U256::ZERO,
            }
            .abi_encode()
        };
        assert!(message(&w, me, U256::from(5), &swap(here, pool)).is_ok());
        assert!(
            refused(account(there), 5, &swap(here, pool)),
            "paid for someone else"
        );
        let local_pool = (0..w.pools).find(|&p| w.holds(Object::Pool(p))).unwrap();
        assert!(
            refused(me, 5, &swap(here, local_pool)),
            "a pool on this shard"
        );
        let nft = IBridge::nftCall {
            to: account(there),
            collection: 0,
            id: U256::from(1),
        }
        .abi_encode();
        assert!(
            refused(me, 0, &nft),
            "an NFT not given up by its collection"
        );
        assert!(message(&w, collection_address(0, 0), U256::ZERO, &nft).is_ok());
        assert!(refused(me, 0, b"not a call"), "garbage");
    }
}
