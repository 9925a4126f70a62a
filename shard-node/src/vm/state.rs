//! revm's view of a shard's state: the EVM reads and writes the same keys as the native
//! programs, so the two VMs share one state and one state root.
//!
//! ```text
//!  EVM                                        shard state (state::Key)
//!  account 0x5348…id: balance, nonce      ──► Account(i) = [balance, nonce]
//!  ShardToken t: _balances[account]       ──► Token(i, t)        slot keccak(addr ‖ 0)
//!                _balances[pool p]        ──► Pool(p)[1]          (the pool's reserve)
//!                _totalSupply (slot 2)    ──► not held (see below)
//!  Pool p: reserveNative (0), its balance ──► Pool(p)[0]
//!          reserveToken (1)               ──► Pool(p)[1]
//!  Collection c: _owners[id] (slot 2)     ──► Nft(minter, serial) = [owner + 1, c]
//!                _balances[account] (3)   ──► Holdings(i)         (of any collection)
//!                minted (slot 6)          ──► Collection(c)[0]    (home shard)
//!  Ballot p: yes (0), no (1)              ──► Proposal(p)
//!            voted[voter] (slot 2)        ──► Ballot(p, voter)
//!  names, symbols, isPool, immutables     ──► constants, from a genesis deployment
//! ```
//!
//! Each shard holds one instance of each token and each collection, for what its own
//! accounts hold, as the native programs keep them; a pool and a ballot live on their
//! object's shard only. A pool's reserves are both its own storage and its balances
//! (its native balance, its `_balances` entry in the token): they map to one key, and a
//! call that left the two disagreeing is refused. `_totalSupply` is not held: a
//! token's supply is the cluster's (the audit's sum over the shards and what is in
//! flight); the slot reads as 2^128, so that the ERC-20's own arithmetic on it never
//! overflows, and its writes are not kept. An ERC-721 `balanceOf` counts the account's
//! tokens of every collection held on its shard (one counter, [`Key::Holdings`]).
//!
//! Slots of a mapping are hashes of their key. Those of accounts and pools are known at
//! genesis; an NFT's or a voter's slot is named by the call itself — the executor
//! passes it as a [`Preimage`], as a transaction declares its keys. A call that would
//! write any slot the mapping does not name (an allowance, say) is refused by
//! [`apply`]: the mapping is the whole state, and nothing is kept outside it.

use std::collections::HashMap;

use cross_shard::ids::{Asset, Object, pool_token};
use cross_shard::{AccountId, NftId};
use revm::bytecode::Bytecode;
use revm::database_interface::{DBErrorMarker, Database, DatabaseCommit};
use revm::primitives::{Address, B256, KECCAK_EMPTY, StorageKey, StorageValue, U256, keccak256};
use revm::state::{AccountInfo, EvmState};
use rustc_hash::FxHashMap;

use super::addresses::{
    account, account_id, ballot_address, collection_address, pool_address, standin_address,
    token_address,
};
use super::artifacts::Contract;
use super::bare::{World, erc20_balance_slot};
use super::bridge::{BRIDGE, token_id};
use crate::state::{BALANCE, Base, Key, Ledger, NONCE, State};

/// `_totalSupply`'s slot in OpenZeppelin's ERC-20.
const SUPPLY_SLOT: u64 = 2;
/// `_owners`'s and `_balances`'s slots in OpenZeppelin's ERC-721.
const ERC721_OWNERS: u64 = 2;
const ERC721_BALANCES: u64 = 3;
/// `minted`'s slot in `Collection`, after ERC-721's six.
const MINTED_SLOT: u64 = 6;
/// `voted`'s slot in `Ballot`, after `yes` and `no`.
const VOTED_SLOT: u64 = 2;
/// `calls`'s slot in `StandIn`.
const CALLS_SLOT: u64 = 0;

/// What `_totalSupply` reads as (see the module notes).
fn supply_reading() -> U256 {
    U256::from(1) << 128
}

/// The slot of `key` in the mapping at `slot`: `keccak256(pad32(key) ‖ pad32(slot))`.
pub fn mapping_slot(key: U256, slot: u64) -> U256 {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&key.to_be_bytes::<32>());
    bytes[56..].copy_from_slice(&slot.to_be_bytes());
    U256::from_be_bytes(keccak256(bytes).0)
}

/// An address as a mapping key.
fn address_key(a: Address) -> U256 {
    U256::from_be_slice(a.as_slice())
}

/// Which contract lives at an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instance {
    /// Token `t`'s instance here.
    Token(Asset),
    /// A pool of this shard.
    Pool(u32),
    /// Collection `c`'s instance here.
    Collection(u32),
    /// A ballot of this shard.
    Ballot(u32),
    /// This shard's stand-in instance: the slots of the contracts placed here.
    StandIn,
}

/// Who holds an ERC-20 balance slot: an account (of the cluster, by id: accounts move
/// between shards, so its local row is looked up when it is read) or a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    Account(AccountId),
    Pool(u32),
}

/// The slot a call names that no genesis table holds, with what it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preimage {
    /// None.
    #[default]
    None,
    /// `_owners[id]` of this NFT, in every collection.
    Nft(U256, NftId),
    /// `voted[voter]` in every ballot.
    Voter(U256, AccountId),
    /// `calls[contract][caller]` in the stand-in instance.
    Slot(U256, AccountId, AccountId),
}

impl Preimage {
    /// The `_owners` slot of `nft`.
    pub fn nft(nft: NftId) -> Preimage {
        Preimage::Nft(mapping_slot(token_id(nft), ERC721_OWNERS), nft)
    }

    /// The `voted` slot of `voter`.
    pub fn voter(voter: AccountId) -> Preimage {
        Preimage::Voter(mapping_slot(address_key(account(voter)), VOTED_SLOT), voter)
    }

    /// The stand-in's slot of `caller`'s calls of `contract`:
    /// `keccak(caller ‖ keccak(contract ‖ 0))`, a mapping of mappings.
    pub fn slot(contract: AccountId, caller: AccountId) -> Preimage {
        let inner = mapping_slot(address_key(account(contract)), CALLS_SLOT);
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&address_key(account(caller)).to_be_bytes::<32>());
        bytes[32..].copy_from_slice(&inner.to_be_bytes::<32>());
        Preimage::Slot(U256::from_be_bytes(keccak256(bytes).0), contract, caller)
    }
}

/// A contract's code and its hash.
#[derive(Debug, Clone)]
struct Code {
    code: Bytecode,
    hash: B256,
}

/// What is fixed about a shard's EVM at genesis: its contract instances, their code and
/// the storage no call changes, and the slots of its accounts.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Address → instance, code, constant slots.
    contracts: FxHashMap<Address, (Instance, Code, HashMap<U256, U256>)>,
    /// ERC-20 `_balances` slot → its holder: every account of the cluster (any may
    /// move here) and this shard's pools.
    erc20: FxHashMap<U256, Holder>,
    /// ERC-721 `_balances` slot → the account (of the cluster).
    erc721: FxHashMap<U256, AccountId>,
}

/// The EVM refused or could not be given a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A value does not fit the shard's 64-bit balances.
    #[error("{what} = {value} does not fit in 64 bits")]
    TooLarge {
        /// Which value.
        what: &'static str,
        /// The value.
        value: U256,
    },
    /// A write outside the mapped state.
    #[error("a call wrote slot {slot} of {address}, which the shard's state does not hold")]
    Unmapped {
        /// The contract.
        address: Address,
        /// The slot.
        slot: U256,
    },
    /// An account outside the mapped state changed.
    #[error("a call changed {0}, which is not an account or contract of this shard")]
    Outside(Address),
    /// A pool's reserve and its balance were left different.
    #[error("pool {0}'s reserve and its balance disagree after a call")]
    Reserves(u32),
    /// Genesis could not be built.
    #[error("genesis: {0}")]
    Genesis(String),
}

impl DBErrorMarker for StateError {}

/// Deploys `contract` in the genesis world and takes its runtime code and storage.
fn deployed(
    w: &mut World,
    deploy: impl FnOnce(&mut World) -> Result<Address, super::bare::Refused>,
) -> Result<(Code, Vec<(U256, U256)>), StateError> {
    let at = deploy(w).map_err(|e| StateError::Genesis(e.to_string()))?;
    let (slots, code) = w.contract(at);
    let code = code.unwrap_or_default();
    Ok((
        Code {
            hash: code.hash_slow(),
            code,
        },
        slots,
    ))
}

impl Layout {
    /// The layout of the shard `world` describes. Its account slots name every account
    /// of the cluster, not only those placed here at genesis: placement may move any of
    /// them here later (one map entry per account, about 56 bytes, per shard).
    pub fn new(world: &crate::state::World) -> Result<Layout, StateError> {
        let shard = world.shard;
        let mut w = World::new([], 0);
        let mut contracts = FxHashMap::default();
        let here = |o| world.holds(o);
        let pools: Vec<u32> = (0..world.pools)
            .filter(|&p| here(Object::Pool(p)))
            .collect();
        let mut erc20: FxHashMap<U256, Holder> = (0..world.accounts)
            .map(|id| (erc20_balance_slot(account(id)), Holder::Account(id)))
            .collect();
        for &p in &pools {
            erc20.insert(erc20_balance_slot(pool_address(p)), Holder::Pool(p));
        }
        for t in 1..=world.tokens {
            let traded: Vec<Address> = pools
                .iter()
                .filter(|&&p| pool_token(p, world.tokens) == t)
                .map(|&p| pool_address(p))
                .collect();
            let (code, slots) = deployed(&mut w, |w| w.deploy_token(t, &traded, 0, &[], 0))?;
            let constants = slots
                .into_iter()
                .filter(|(k, _)| *k != U256::from(SUPPLY_SLOT) && !erc20.contains_key(k))
                .collect();
            contracts.insert(
                token_address(shard, t),
                (Instance::Token(t), code, constants),
            );
        }
        for &p in &pools {
            let token = token_address(shard, pool_token(p, world.tokens));
            let (code, _) = deployed(&mut w, |w| {
                w.deploy(
                    Contract::Pool,
                    &alloy_sol_types::SolValue::abi_encode(&token),
                )
            })?;
            contracts.insert(pool_address(p), (Instance::Pool(p), code, HashMap::new()));
        }
        for c in 0..world.collections {
            let (code, slots) = deployed(&mut w, |w| w.deploy_collection(c))?;
            contracts.insert(
                collection_address(shard, c),
                (Instance::Collection(c), code, slots.into_iter().collect()),
            );
        }
        for p in (0..world.proposals).filter(|&p| here(Object::Proposal(p))) {
            let (code, _) = deployed(&mut w, |w| w.deploy(Contract::Ballot, &[]))?;
            contracts.insert(
                ballot_address(p),
                (Instance::Ballot(p), code, HashMap::new()),
            );
        }
        let (code, _) = deployed(&mut w, |w| w.deploy(Contract::StandIn, &[]))?;
        contracts.insert(
            standin_address(shard),
            (Instance::StandIn, code, HashMap::new()),
        );
        let erc721 = if world.collections == 0 {
            FxHashMap::default()
        } else {
            (0..world.accounts)
                .map(|id| (mapping_slot(address_key(account(id)), ERC721_BALANCES), id))
                .collect()
        };
        Ok(Layout {
            contracts,
            erc20,
            erc721,
        })
    }

    /// The contract at `address`, if there is one on this shard.
    pub fn instance(&self, address: Address) -> Option<Instance> {
        self.contracts.get(&address).map(|c| c.0)
    }
}

/// Any view of the state as a [`Base`], owned: a worker's view (Block-STM's, the
/// parallel executor's), kept inside its revm and read through it, so that every read
/// is recorded and versioned.
pub struct Owned<S>(pub S);

impl<S: State> Base for Owned<S> {
    fn world(&self) -> &crate::state::World {
        self.0.world()
    }
    fn local(&self, id: AccountId) -> Option<u32> {
        self.0.local(id)
    }
    fn get(&mut self, key: Key) -> crate::state::Value {
        self.0.read(key)
    }
}

/// revm's database over a shard's state `base` (the ledger, or a transaction's view).
pub struct LedgerDb<'a, B> {
    /// Where values come from.
    pub base: B,
    /// The shard's EVM layout.
    pub layout: &'a Layout,
    /// The slot the running call names (see [`Preimage`]).
    pub pre: Preimage,
}

/// The account of a local index as revm sees it.
fn eoa(v: crate::state::Value) -> AccountInfo {
    AccountInfo {
        balance: U256::from(v[BALANCE]),
        nonce: v[NONCE],
        code_hash: KECCAK_EMPTY,
        code: None,
        ..AccountInfo::default()
    }
}

impl<B: Base> LedgerDb<'_, B> {
    fn basic(&mut self, address: Address) -> Option<AccountInfo> {
        if let Some(i) = account_id(address).and_then(|id| self.base.local(id)) {
            return Some(eoa(self.base.get(Key::Account(i))));
        }
        if address == BRIDGE {
            // What arrives from other shards comes from here (module notes of vm::bridge).
            return Some(AccountInfo {
                balance: U256::from(u64::MAX),
                ..AccountInfo::default()
            });
        }
        let (instance, code, _) = self.layout.contracts.get(&address)?;
        let balance = match *instance {
            Instance::Pool(p) => self.base.get(Key::Pool(p))[0],
            _ => 0,
        };
        Some(AccountInfo {
            balance: U256::from(balance),
            nonce: 1,
            code_hash: code.hash,
            code: Some(code.code.clone()),
            ..AccountInfo::default()
        })
    }

    fn storage(&mut self, address: Address, slot: U256) -> U256 {
        let Some((instance, _, constants)) = self.layout.contracts.get(&address) else {
            return U256::ZERO;
        };
        let word = |v: u64| U256::from(v);
        match *instance {
            Instance::Token(t) => match self.layout.erc20.get(&slot) {
                Some(&Holder::Account(id)) => match self.base.local(id) {
                    Some(i) => word(self.base.get(Key::Token(i, t))[BALANCE]),
                    None => U256::ZERO,
                },
                Some(&Holder::Pool(p)) if pool_token(p, self.base.world().tokens) == t => {
                    word(self.base.get(Key::Pool(p))[1])
                }
                Some(&Holder::Pool(_)) => U256::ZERO,
                None if slot == U256::from(SUPPLY_SLOT) => supply_reading(),
                None => constants.get(&slot).copied().unwrap_or_default(),
            },
            Instance::Pool(p) if slot < U256::from(2) => {
                word(self.base.get(Key::Pool(p))[slot.to::<usize>()])
            }
            Instance::Pool(_) => U256::ZERO,
            Instance::Collection(c) => match self.pre {
                Preimage::Nft(s, nft) if s == slot => {
                    let v = self.base.get(Key::Nft(nft));
                    if v[0] != 0 && v[1] == u64::from(c) {
                        address_key(account(v[0] - 1))
                    } else {
                        U256::ZERO
                    }
                }
                _ => match self.layout.erc721.get(&slot) {
                    Some(&id) => match self.base.local(id) {
                        Some(i) => word(self.base.get(Key::Holdings(i))[0]),
                        None => U256::ZERO,
                    },
                    None if slot == U256::from(MINTED_SLOT) => {
                        word(self.base.get(Key::Collection(c))[0])
                    }
                    None => constants.get(&slot).copied().unwrap_or_default(),
                },
            },
            Instance::Ballot(p) => match self.pre {
                Preimage::Voter(s, voter) if s == slot => {
                    word(self.base.get(Key::Ballot(p, voter))[0])
                }
                _ if slot < U256::from(2) => {
                    word(self.base.get(Key::Proposal(p))[slot.to::<usize>()])
                }
                _ => U256::ZERO,
            },
            Instance::StandIn => match self.pre {
                Preimage::Slot(s, contract, caller) if s == slot => {
                    match self.base.local(contract) {
                        Some(c) => word(self.base.get(Key::Slot(c, caller))[0]),
                        None => U256::ZERO,
                    }
                }
                _ => U256::ZERO,
            },
        }
    }
}

impl<B: Base> Database for LedgerDb<'_, B> {
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        Ok(LedgerDb::basic(self, address))
    }

    fn code_by_hash(&mut self, hash: B256) -> Result<Bytecode, StateError> {
        // Every account with code carries it in `basic`; this is only asked for a hash
        // revm did not get with its account.
        Ok(self
            .layout
            .contracts
            .values()
            .find(|(_, c, _)| c.hash == hash)
            .map(|(_, c, _)| c.code.clone())
            .unwrap_or_default())
    }

    fn storage(&mut self, address: Address, slot: StorageKey) -> Result<StorageValue, StateError> {
        Ok(LedgerDb::storage(self, address, slot))
    }

    fn block_hash(&mut self, _number: u64) -> Result<B256, StateError> {
        Ok(B256::ZERO)
    }
}

/// The database of one block's EVM: reads from the shard's ledger and commits each
/// call's changes back into it ([`apply`]), so that one EVM serves the whole block. A
/// commit that [`apply`] refuses is kept in `error` (revm's commit cannot fail) and
/// ends the block.
pub struct BlockDb<'a> {
    /// The shard's state.
    pub ledger: &'a mut Ledger,
    /// The shard's EVM layout.
    pub layout: &'a Layout,
    /// The slot the running call names.
    pub pre: Preimage,
    /// The first refused commit.
    pub error: Option<StateError>,
}

impl BlockDb<'_> {
    fn db(&self) -> LedgerDb<'_, &Ledger> {
        LedgerDb {
            base: &*self.ledger,
            layout: self.layout,
            pre: self.pre,
        }
    }
}

impl Database for BlockDb<'_> {
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        Ok(self.db().basic(address))
    }

    fn code_by_hash(&mut self, hash: B256) -> Result<Bytecode, StateError> {
        self.db().code_by_hash(hash)
    }

    fn storage(&mut self, address: Address, slot: StorageKey) -> Result<StorageValue, StateError> {
        Ok(self.db().storage(address, slot))
    }

    fn block_hash(&mut self, _number: u64) -> Result<B256, StateError> {
        Ok(B256::ZERO)
    }
}

impl DatabaseCommit for BlockDb<'_> {
    fn commit(&mut self, changes: EvmState) {
        if let Err(e) = apply(self.ledger, self.layout, self.pre, &changes) {
            self.error.get_or_insert(e);
        }
    }
}

/// A pool's two reserves as one call left them, each side written at most once by
/// value (its storage and its balance must agree).
#[derive(Default)]
struct Reserves([Option<u64>; 2]);

impl Reserves {
    fn set(&mut self, pool: u32, side: usize, v: u64) -> Result<(), StateError> {
        match self.0[side] {
            Some(old) if old != v => Err(StateError::Reserves(pool)),
            _ => {
                self.0[side] = Some(v);
                Ok(())
            }
        }
    }
}

/// Writes what a call changed into the shard's state `s`, through the same keys the
/// native programs write; `pre` is the slot the call named.
pub fn apply<S: State>(
    s: &mut S,
    layout: &Layout,
    pre: Preimage,
    changes: &EvmState,
) -> Result<(), StateError> {
    let fit =
        |what, value: U256| u64::try_from(value).map_err(|_| StateError::TooLarge { what, value });
    let tokens = s.world().tokens;
    let mut pools: FxHashMap<u32, Reserves> = FxHashMap::default();
    for (&address, acct) in changes {
        if !acct.is_touched() || address == BRIDGE {
            continue;
        }
        if let Some(i) = account_id(address).and_then(|id| s.local(id)) {
            let balance = fit("balance", acct.info.balance)?;
            s.write(Key::Account(i), [balance, acct.info.nonce]);
            continue;
        }
        let Some((instance, _, _)) = layout.contracts.get(&address) else {
            if acct.storage.is_empty() && acct.info.balance.is_zero() && acct.info.nonce == 0 {
                continue; // looked at, never given anything
            }
            return Err(StateError::Outside(address));
        };
        match *instance {
            Instance::Pool(p) => {
                let balance = fit("pool balance", acct.info.balance)?;
                pools.entry(p).or_default().set(p, 0, balance)?;
            }
            // It passes every value on: a balance left here would be lost.
            Instance::StandIn if !acct.info.balance.is_zero() => {
                return Err(StateError::Outside(address));
            }
            _ => {}
        }
        for (&slot, value) in &acct.storage {
            if !value.is_changed() {
                continue;
            }
            let v = value.present_value;
            let unmapped = || StateError::Unmapped { address, slot };
            match *instance {
                Instance::Token(t) => match layout.erc20.get(&slot) {
                    Some(&Holder::Account(id)) => {
                        let i = s.local(id).ok_or_else(unmapped)?;
                        s.write(Key::Token(i, t), [fit("token balance", v)?, 0]);
                    }
                    Some(&Holder::Pool(p)) if pool_token(p, tokens) == t => {
                        pools
                            .entry(p)
                            .or_default()
                            .set(p, 1, fit("pool reserve", v)?)?;
                    }
                    None if slot == U256::from(SUPPLY_SLOT) => {}
                    _ => return Err(unmapped()),
                },
                Instance::Pool(p) if slot < U256::from(2) => {
                    let side = slot.to::<usize>();
                    pools
                        .entry(p)
                        .or_default()
                        .set(p, side, fit("pool reserve", v)?)?;
                }
                Instance::Pool(_) => return Err(unmapped()),
                Instance::Collection(c) => match pre {
                    Preimage::Nft(ps, nft) if ps == slot => {
                        let owner = if v.is_zero() {
                            [0, 0]
                        } else {
                            let to = Address::from_slice(&v.to_be_bytes::<32>()[12..]);
                            let id = account_id(to)
                                .filter(|&id| s.local(id).is_some())
                                .ok_or_else(unmapped)?;
                            [id + 1, u64::from(c)]
                        };
                        s.write(Key::Nft(nft), owner);
                    }
                    _ => match layout.erc721.get(&slot) {
                        Some(&id) => {
                            let i = s.local(id).ok_or_else(unmapped)?;
                            s.write(Key::Holdings(i), [fit("NFT count", v)?, 0]);
                        }
                        None if slot == U256::from(MINTED_SLOT)
                            && s.world().holds(Object::Collection(c)) =>
                        {
                            let mut count = s.read(Key::Collection(c));
                            count[0] = fit("mint count", v)?;
                            s.write(Key::Collection(c), count);
                        }
                        None => return Err(unmapped()),
                    },
                },
                Instance::Ballot(p) => match pre {
                    Preimage::Voter(ps, voter) if ps == slot => {
                        s.write(Key::Ballot(p, voter), [fit("ballot", v)?, 0]);
                    }
                    _ if slot < U256::from(2) => {
                        let mut tally = s.read(Key::Proposal(p));
                        tally[slot.to::<usize>()] = fit("tally", v)?;
                        s.write(Key::Proposal(p), tally);
                    }
                    _ => return Err(unmapped()),
                },
                Instance::StandIn => match pre {
                    Preimage::Slot(ps, contract, caller) if ps == slot => {
                        let c = s.local(contract).ok_or_else(unmapped)?;
                        s.write(Key::Slot(c, caller), [fit("call count", v)?, 0]);
                    }
                    _ => return Err(unmapped()),
                },
            }
        }
    }
    for (p, Reserves(sides)) in pools {
        let mut reserves = s.read(Key::Pool(p));
        let before = reserves;
        for (side, v) in sides.iter().enumerate() {
            if let Some(v) = v {
                reserves[side] = *v;
            }
        }
        if reserves != before {
            s.write(Key::Pool(p), reserves);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{self, BlockOutput};
    use crate::state::Ledger;
    use crate::state::tests::world;
    use crate::vm::abi::IShardToken;
    use crate::vm::addresses::token_address;
    use alloy_sol_types::SolCall;
    use cross_shard::{Call, Tx};
    use revm::ExecuteEvm;
    use revm::context::TxEnv;
    use revm::primitives::TxKind;

    /// Shard 0 of 1 with 20 accounts and one token, and its layout.
    fn shard() -> (Ledger, Layout) {
        let mut w = world(0, 1, 20, 1);
        w.pools = 0;
        let ledger = Ledger::genesis(w, 1_000);
        let layout = Layout::new(State::world(&ledger)).unwrap();
        (ledger, layout)
    }

    /// Runs `to.call(data)` with `value` from `from` over the ledger and applies it.
    fn evm_call(
        l: &mut Ledger,
        layout: &Layout,
        from: u64,
        to: Address,
        value: u64,
        data: Vec<u8>,
    ) -> bool {
        let nonce = l.get(Key::Account(l.local(from).unwrap()))[NONCE];
        let world = *State::world(l);
        let db = LedgerDb {
            base: &*l,
            layout,
            pre: Preimage::None,
        };
        let mut evm = crate::vm::bridge::evm(db, Some(world));
        let tx = TxEnv::builder()
            .caller(account(from))
            .kind(TxKind::Call(to))
            .value(U256::from(value))
            .data(data.into())
            .nonce(nonce)
            .gas_limit(1_000_000)
            .gas_price(0)
            .build()
            .unwrap();
        let out = evm.transact(tx).unwrap();
        let ok = out.result.is_success();
        drop(evm);
        apply(l, layout, Preimage::None, &out.state).unwrap();
        ok
    }

    /// The same transfers natively and as EVM calls over the same state: the same state
    /// root, so the same balances, nonces and token balances.
    #[test]
    fn evm_calls_over_the_ledger_reach_the_native_state_root() {
        let (genesis, layout) = shard();
        let mut native = genesis.clone();
        let mut evm = genesis.clone();
        let calls = [
            (3u64, 7u64, 0u32, 25u64),
            (7, 3, 1, 40),
            (3, 9, 1, 5),
            (9, 3, 0, 1),
        ];
        let mut nonces = HashMap::<u64, u64>::new();
        for (n, &(from, to, asset, amount)) in calls.iter().enumerate() {
            let nonce = nonces.entry(from).or_insert(0);
            let tx = Tx {
                id: n as u64,
                from,
                nonce: *nonce,
                call: Call::Transfer { to, asset, amount },
            };
            *nonce += 1;
            let mut out = BlockOutput::new(1);
            exec::execute(&mut native, std::slice::from_ref(&tx), &mut out);
            assert_eq!(out.committed, vec![n as u64]);
            let ok = if asset == 0 {
                evm_call(&mut evm, &layout, from, account(to), amount, Vec::new())
            } else {
                let data = IShardToken::transferCall {
                    to: account(to),
                    value: U256::from(amount),
                }
                .abi_encode();
                evm_call(&mut evm, &layout, from, token_address(0, 1), 0, data)
            };
            assert!(ok, "call {n}");
        }
        assert_eq!(evm.state_root(), native.state_root(), "one state, two VMs");
        assert_eq!(evm.total(1), genesis.total(1), "token supply conserved");
    }

    #[test]
    fn a_reverted_transfer_consumes_the_nonce_and_moves_nothing_as_natively() {
        let (genesis, layout) = shard();
        let mut native = genesis.clone();
        let mut evm = genesis.clone();
        let tx = Tx {
            id: 0,
            from: 4,
            nonce: 0,
            call: Call::Transfer {
                to: 5,
                asset: 1,
                amount: 5_000,
            },
        };
        let mut out = BlockOutput::new(1);
        exec::execute(&mut native, std::slice::from_ref(&tx), &mut out);
        assert_eq!(out.rejected, vec![0], "natively: insufficient balance");
        let data = IShardToken::transferCall {
            to: account(5),
            value: U256::from(5_000),
        }
        .abi_encode();
        assert!(
            !evm_call(&mut evm, &layout, 4, token_address(0, 1), 0, data),
            "the EVM reverts"
        );
        assert_eq!(
            evm.state_root(),
            native.state_root(),
            "nonce consumed on both, nothing else"
        );
    }

    #[test]
    fn a_write_outside_the_mapped_state_is_refused() {
        let (genesis, layout) = shard();
        let mut l = genesis.clone();
        // An ERC-20 approve writes an allowance: not part of the shard's state.
        alloy_sol_types::sol! { function approve(address spender, uint256 value) external returns (bool); }
        let data = approveCall {
            spender: account(2),
            value: U256::from(1),
        }
        .abi_encode();
        let world = *State::world(&l);
        let db = LedgerDb {
            base: &l,
            layout: &layout,
            pre: Preimage::None,
        };
        let mut evm = crate::vm::bridge::evm(db, Some(world));
        let tx = TxEnv::builder()
            .caller(account(1))
            .kind(TxKind::Call(token_address(0, 1)))
            .data(data.into())
            .gas_limit(1_000_000)
            .gas_price(0)
            .build()
            .unwrap();
        let out = evm.transact(tx).unwrap();
        drop(evm);
        assert!(matches!(
            apply(&mut l, &layout, Preimage::None, &out.state),
            Err(StateError::Unmapped { .. })
        ));
    }
}
